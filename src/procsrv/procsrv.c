/*
 * procsrv.c - process slots and their files.
 *
 * A slot is made by opening /clone and lives while any fid names it.  Its
 * ctl takes commands, tokenised with rc quoting, one a line; a write is
 * checked whole before anything changes, so a bad line leaves the slot as
 * it was.  "exec" starts the program: a clone(CLONE_VM | CLONE_VFORK |
 * CLONE_PIDFD) child (clone3, straight into its cgroup, where it can) drops to the user's groups, gid and uid with raw
 * system calls (nothing that takes a lock or allocates: it shares the
 * daemon's memory until it execs), enters its directory and execs.  Its
 * pidfd, stdout and stderr are polled on the loop; a read of stdout or
 * wait that finds nothing is held until something comes.  When the last
 * fid goes, a running program that was not told to persist gets SIGHUP,
 * and SIGKILL after the grace time.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <linux/sched.h>

#include "conf/conf.h"
#include "procsrv.h"
#include "import.h"

#define STREAM_BUF (64 * 1024)
#define MAX_SLOTS 4096
#define CHILD_STACK (64 * 1024)
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

enum kind {
	K_ROOT,
	K_CLONE,
	K_DIR,
	K_CTL,
	K_STATUS,
	K_ARGV,
	K_ENV,
	K_STDIN,
	K_STDOUT,
	K_STDERR,
	K_WAIT,
	NKIND
};

static const char *const kname[NKIND] = {
    [K_CTL] = "ctl",
    [K_STATUS] = "status",
    [K_ARGV] = "argv",
    [K_ENV] = "env",
    [K_STDIN] = "stdin",
    [K_STDOUT] = "stdout",
    [K_STDERR] = "stderr",
    [K_WAIT] = "wait",
};

enum state { S_NEW, S_RUNNING, S_EXITED, S_KILLED };
static const char *const sname[] = {"new", "running", "exited", "killed"};

struct held {
	struct p9_req *r;
	struct held *next;
};

struct slot;

/* stdout or stderr: a pipe read on the loop into a bounded buffer */
struct stream {
	struct slot *s;
	int fd;
	uv_poll_t poll;
	int polling;
	uint8_t buf[STREAM_BUF];
	size_t len;
	int eof;
	struct held *readers;
};

/* What ctl commands set; copied whole, so a failed write changes nothing. */
struct config {
	char **argv; /* NULL-terminated */
	char **env;
	char *dir;
	char *prog; /* the file to exec; NULL: argv[0], searched in PATH */
	struct rlimit rl[RLIM_NLIMITS];
	uint32_t rlset;
	uint64_t ignored; /* bit N-1: signal N starts ignored */
	int persist;
	int tty; /* run on a pseudo-terminal of rows x cols */
	unsigned short rows, cols;
	char origin[64]; /* the node it came from, as the client says */
	char session[64]; /* the session it belongs to, "" if none */
	char *ns_from;   /* ns: that node's unumd (HOST:PORT) */
	char **ns_paths; /* its paths to see here */
};

struct slot {
	struct psrv *ps;
	unsigned id;
	uid_t uid;
	gid_t gid;
	int refs;
	enum state state;
	struct config c;
	pid_t pid;
	int pidfd;
	uv_poll_t pidpoll;
	int infd; /* our end of stdin, -1 once closed */
	uv_poll_t inpoll;
	int inpolling;
	struct held *inwriters; /* writes waiting for room in the pipe */
	int stdin_fids;
	struct stream out, err;
	char wait[256];
	int done;
	int starting; /* exec waits for imports: reads wait too */
	uint64_t cpu_ms; /* once ended: user and system time */
	struct held *waiters;
	uv_timer_t killtimer;
	char cg[1500]; /* its cgroup v2, "" if none */
	int nhandles;  /* open libuv handles: freed when none is left */
	int dead;      /* no fid, and nothing runs: free when handles go */
	struct slot *next;
};

struct psrv {
	uv_loop_t *loop;
	struct psrv_opts o;
	char node[64];
	char cgroot[1400]; /* cgroup v2 directory for the slots, "" if none */
	unsigned nextid;
	unsigned nslots;
	struct slot *slots;
	struct imports *imports; /* NULL: no import_cmd */
};

/* What the fids of one attach share: the slot its clone made last, which
 * the name "last" walks to, so that a client can pipeline a whole spawn
 * and the opens and reads of its streams in one batch (a weak reference:
 * the id, looked up again). */
struct session {
	int refs;
	unsigned last;
};

struct pfid {
	uid_t uid;
	gid_t gid;
	enum kind kind;
	struct slot *s;
	struct session *ses;
	int clone;  /* opened through /clone: reading gives the id */
	int writer; /* holds stdin open for writing */
};

/* ---- slots ---- */

static struct slot *
slot_find(struct psrv *ps, unsigned id)
{
	struct slot *s;

	for (s = ps->slots; s; s = s->next)
		if (s->id == id && !s->dead)
			return s;
	return NULL;
}

static int
may(uid_t who, const struct slot *s)
{
	return who == 0 || who == s->uid;
}

static void
strv_free(char **v)
{
	char **p;

	for (p = v; p && *p; p++)
		free(*p);
	free(v);
}

static char **
strv_dup(char *const *v)
{
	size_t n = 0, i;
	char **d;

	while (v && v[n])
		n++;
	if (!(d = calloc(n + 1, sizeof *d)))
		return NULL;
	for (i = 0; i < n; i++)
		if (!(d[i] = strdup(v[i]))) {
			strv_free(d);
			return NULL;
		}
	return d;
}

static void
config_free(struct config *c)
{
	strv_free(c->argv);
	strv_free(c->env);
	strv_free(c->ns_paths);
	free(c->ns_from);
	free(c->dir);
	free(c->prog);
	memset(c, 0, sizeof *c);
}

static int
config_copy(struct config *d, const struct config *c)
{
	*d = *c;
	d->argv = NULL;
	d->env = NULL;
	d->dir = NULL;
	d->prog = NULL;
	d->ns_from = NULL;
	d->ns_paths = NULL;
	if ((c->argv && !(d->argv = strv_dup(c->argv))) ||
	    (c->env && !(d->env = strv_dup(c->env))) ||
	    (c->dir && !(d->dir = strdup(c->dir))) ||
	    (c->prog && !(d->prog = strdup(c->prog))) ||
	    (c->ns_from && !(d->ns_from = strdup(c->ns_from))) ||
	    (c->ns_paths && !(d->ns_paths = strv_dup(c->ns_paths)))) {
		config_free(d);
		return -ENOMEM;
	}
	return 0;
}

static void
slot_unlink_free(struct slot *s)
{
	struct psrv *ps = s->ps;
	struct slot **pp;

	for (pp = &ps->slots; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	ps->nslots--;
	config_free(&s->c);
	free(s);
}

static void
handle_closed(uv_handle_t *h)
{
	struct slot *s = h->data;

	if (--s->nhandles == 0 && s->dead)
		slot_unlink_free(s);
}

static void
close_handle(struct slot *s, uv_handle_t *h)
{
	h->data = s; /* whatever it was, it is the slot's to count now */
	uv_close(h, handle_closed);
}

static void
stream_close(struct stream *st)
{
	if (st->fd < 0)
		return;
	if (st->polling)
		uv_poll_stop(&st->poll);
	st->polling = 0;
	close_handle(st->s, (uv_handle_t *)&st->poll);
	close(st->fd);
	st->fd = -1;
}

static void
stdin_close(struct slot *s)
{
	struct held *h;

	while ((h = s->inwriters)) {
		s->inwriters = h->next;
		p9_respond_error(h->r, EPIPE);
		free(h);
	}
	if (s->infd < 0)
		return;
	if (s->inpolling)
		uv_poll_stop(&s->inpoll);
	s->inpolling = 0;
	close_handle(s, (uv_handle_t *)&s->inpoll);
	close(s->infd);
	s->infd = -1;
}

static int cg_kill(struct slot *s);
static void cg_remove(struct psrv *ps, const char *cg);

/* Frees the slot once no fid names it and nothing of it runs.  A slot
 * told to persist that ends with no fid on it stays, with its output and
 * status, until a fid visits it and goes (from_unref). */
static void
slot_maybe_free(struct slot *s, int from_unref)
{
	if (s->dead || s->refs > 0 || s->pidfd >= 0)
		return;
	if (s->c.persist && !from_unref)
		return;
	s->dead = 1;
	if (*s->cg) {
		/* nothing it started outlives it (unless told to persist):
		 * the cgroup goes too */
		if (!s->c.persist)
			cg_kill(s);
		cg_remove(s->ps, s->cg);
	}
	stdin_close(s);
	stream_close(&s->out);
	stream_close(&s->err);
	uv_timer_stop(&s->killtimer);
	close_handle(s, (uv_handle_t *)&s->killtimer);
}

/* Kills everything in the slot's cgroup, also what left its process group
 * (a daemonised child).  0, or -1 without a cgroup. */
static int
cg_kill(struct slot *s)
{
	char path[1600];
	int fd, rc;

	if (!*s->cg)
		return -1;
	snprintf(path, sizeof path, "%s/cgroup.kill", s->cg);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -1;
	rc = write(fd, "1", 1) == 1 ? 0 : -1;
	close(fd);
	return rc;
}

/* Removes the slot's cgroup once empty; one that is not empty yet (its
 * last processes still dying) is tried again at the next slot's end, and
 * at exit (cg NULL), when it is waited for a little. */
static int
cg_rmdir(struct psrv *ps, const char *cg)
{
	char up[1500], *slash;

	if (rmdir(cg) < 0 && errno != ENOENT)
		return -1;
	/* the last slot of a session here: its cgroup goes too (one still
	 * holding others stays) */
	snprintf(up, sizeof up, "%s", cg);
	if ((slash = strrchr(up, '/'))) {
		*slash = '\0';
		if (strcmp(up, ps->cgroot) && (slash = strrchr(up, '/')) &&
		    slash[1] == 's')
			rmdir(up);
	}
	return 0;
}

static void
cg_remove(struct psrv *ps, const char *cg)
{
	static char pending[16][1500];
	int i, tries;

	for (i = 0; i < 16; i++)
		for (tries = 0; pending[i][0] && tries < (cg ? 1 : 100);
		     tries++) {
			if (cg_rmdir(ps, pending[i]) == 0)
				pending[i][0] = '\0';
			else if (!cg)
				usleep(10000);
		}
	if (!cg)
		return;
	if (!*cg || cg_rmdir(ps, cg) == 0)
		return;
	for (i = 0; i < 16; i++)
		if (!pending[i][0]) {
			snprintf(pending[i], sizeof pending[i], "%s", cg);
			return;
		}
}

static void
on_killtimer(uv_timer_t *t)
{
	struct slot *s = t->data;

	if (s->state == S_RUNNING || s->state == S_KILLED) {
		kill(-s->pid, SIGKILL);
		cg_kill(s);
	}
}

static void
slot_unref(struct slot *s)
{
	if (!s || --s->refs > 0)
		return;
	if (s->state == S_RUNNING && !s->c.persist) {
		/* no one is left to see it: no orphans */
		s->state = S_KILLED;
		kill(-s->pid, SIGHUP);
		kill(-s->pid, SIGCONT);
		uv_timer_start(&s->killtimer, on_killtimer,
		    s->ps->o.grace_ms ? s->ps->o.grace_ms : 5000, 0);
	}
	slot_maybe_free(s, 1);
}

/* The slots uid holds (those of ended programs not yet visited too). */
static unsigned
user_slots(struct psrv *ps, uid_t uid)
{
	struct slot *s;
	unsigned n = 0;

	for (s = ps->slots; s; s = s->next)
		if (s->uid == uid && !s->dead)
			n++;
	return n;
}

static struct slot *
slot_new(struct psrv *ps, uid_t uid, gid_t gid)
{
	struct slot *s;

	if (ps->nslots >= MAX_SLOTS)
		return NULL;
	if (!(s = calloc(1, sizeof *s)))
		return NULL;
	s->ps = ps;
	s->id = ++ps->nextid;
	s->uid = uid;
	s->gid = gid;
	s->pidfd = -1;
	s->infd = -1;
	s->out.fd = s->err.fd = -1;
	s->out.s = s->err.s = s;
	uv_timer_init(ps->loop, &s->killtimer);
	s->killtimer.data = s;
	s->nhandles = 1;
	s->next = ps->slots;
	ps->slots = s;
	ps->nslots++;
	return s;
}

/* ---- text the files show ---- */

/* Appends word to out, quoted rc-style if it needs it. */
static void
quote(char *out, size_t cap, const char *w)
{
	size_t n = strlen(out);
	int plain = *w != '\0';
	const char *p;

	for (p = w; *p; p++)
		if (strchr(" \t\n'#;&|^$`{}()<>=\\\"", *p))
			plain = 0;
	if (plain) {
		snprintf(out + n, cap - n, "%s", w);
		return;
	}
	if (n + 1 < cap)
		out[n++] = '\'';
	for (p = w; *p && n + 2 < cap; p++) {
		if (*p == '\'')
			out[n++] = '\'';
		out[n++] = *p;
	}
	if (n + 1 < cap)
		out[n++] = '\'';
	out[n < cap ? n : cap - 1] = '\0';
}

/* A small file of /proc/PID into buf (cap bytes, NUL-ended); its length. */
static ssize_t
proc_file(pid_t pid, const char *name, char *buf, size_t cap)
{
	char path[64];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, buf, cap - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* CPU time (ms, user and system) and resident memory (KiB) of a running
 * process, from /proc/PID/stat. */
static void
usage_of(pid_t pid, uint64_t *cpu_ms, uint64_t *rss_kb)
{
	char buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	long long rss = 0;
	long tck = sysconf(_SC_CLK_TCK), pg = sysconf(_SC_PAGESIZE);

	*cpu_ms = *rss_kb = 0;
	if (proc_file(pid, "stat", buf, sizeof buf) <= 0 ||
	    !(p = strrchr(buf, ')')))
		return;
	/* after "pid (comm)": state, then fields 4.. ; utime 14, stime 15,
	 * rss 24 */
	if (sscanf(p + 2,
	        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d "
	        "%*d %*d %*d %*d %*u %*u %lld",
	        &ut, &st, &rss) != 3)
		return;
	*cpu_ms = tck > 0 ? (ut + st) * 1000 / (unsigned long long)tck : 0;
	*rss_kb = rss > 0 ? (uint64_t)rss * (uint64_t)pg / 1024 : 0;
}

/* The command: while it runs, the name of what the process is now (after
 * an exec, as ps shows it); before and after, argv[0].  CPU time in ms
 * (so far, or in all once ended), RSS in KiB while it runs. */
static void
status_line(const struct slot *s, char *out, size_t cap)
{
	char cmd[256] = "", comm[64] = "";
	uint64_t cpu = s->cpu_ms, rss = 0;
	ssize_t n = 0;

	if (s->state == S_RUNNING && s->pid > 0) {
		n = proc_file(s->pid, "comm", comm, sizeof comm);
		if (n > 0 && comm[n - 1] == '\n')
			comm[n - 1] = '\0';
		if (!s->done)
			usage_of(s->pid, &cpu, &rss);
	}
	if (*comm)
		quote(cmd, sizeof cmd, comm);
	else if (s->c.argv && s->c.argv[0])
		quote(cmd, sizeof cmd, s->c.argv[0]);
	else
		snprintf(cmd, sizeof cmd, "-");
	snprintf(out, cap, "%u %d %s %u %s %llu %llu %s %s %s\n", s->id,
	    (int)s->pid, sname[s->state], (unsigned)s->uid, s->ps->node,
	    (unsigned long long)cpu, (unsigned long long)rss,
	    *s->c.origin ? s->c.origin : "-",
	    *s->c.session ? s->c.session : "-", cmd);
}

static char *
text_of(const struct pfid *f, size_t *len)
{
	const struct slot *s = f->s;
	size_t cap = 4096, n = 0;
	char *t, **v;

	if (f->kind == K_ARGV || f->kind == K_ENV)
		for (v = f->kind == K_ARGV ? s->c.argv : s->c.env; v && *v; v++)
			cap += 2 * strlen(*v) + 4;
	if (!(t = calloc(1, cap)))
		return NULL;
	switch (f->kind) {
	case K_CTL:
		if (f->clone) {
			snprintf(t, cap, "%u\n", s->id);
			break;
		}
		/* fall through */
	case K_STATUS:
		status_line(s, t, cap);
		break;
	case K_ARGV:
		for (v = s->c.argv; v && *v; v++) {
			if (v != s->c.argv)
				strcat(t, " ");
			quote(t, cap, *v);
		}
		if (s->c.argv)
			strcat(t, "\n");
		break;
	case K_ENV:
		for (v = s->c.env; v && *v; v++) {
			n = strlen(t);
			snprintf(t + n, cap - n, "%s\n", *v);
		}
		break;
	case K_WAIT:
		snprintf(t, cap, "%s", s->wait);
		break;
	default:
		break;
	}
	*len = strlen(t);
	return t;
}

/* ---- ctl ---- */

static const struct {
	const char *name;
	int res;
} rlimits[] = {
    {"as", RLIMIT_AS},
    {"core", RLIMIT_CORE},
    {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},
    {"fsize", RLIMIT_FSIZE},
    {"memlock", RLIMIT_MEMLOCK},
    {"nofile", RLIMIT_NOFILE},
    {"nproc", RLIMIT_NPROC},
    {"stack", RLIMIT_STACK},
};

static int
parse_rlim(const char *s, rlim_t *v)
{
	unsigned long long n;

	if (!strcmp(s, "unlimited")) {
		*v = RLIM_INFINITY;
		return 0;
	}
	if (conf_number(s, 0, ~0ull, 1, &n) < 0)
		return -1;
	*v = (rlim_t)n;
	return 0;
}

/* What one ctl write asks, besides what it sets in the config. */
struct actions {
	int exec;
	int sig; /* 0: none */
	int close_stdin;
	int winsize; /* rows/cols in the config changed on a running tty */
};

static void unhold_all(struct slot *s, const char *why);

/* A spawn waiting for its origin's files (the ctl write is held). */
struct pending_exec {
	struct p9_req *r;
	struct slot *s;
	struct config c;
	struct actions a;
	struct import_wait *w;
};

static int
env_set(char ***envp, const char *kv)
{
	size_t klen = (size_t)(strchr(kv, '=') - kv), n = 0;
	char **e = *envp, **ne, *dup;

	for (; e && e[n]; n++)
		if (!strncmp(e[n], kv, klen) && e[n][klen] == '=') {
			if (!(dup = strdup(kv)))
				return -ENOMEM;
			free(e[n]);
			e[n] = dup;
			return 0;
		}
	if (!(ne = realloc(e, (n + 2) * sizeof *ne)))
		return -ENOMEM;
	if (!(ne[n] = strdup(kv))) {
		*envp = ne;
		return -ENOMEM;
	}
	ne[n + 1] = NULL;
	*envp = ne;
	return 0;
}

/* Applies one ctl line to c and a, for a slot in state st; -errno with a
 * message in err. */
static int
ctl_line(enum state st, char *line, struct config *c, struct actions *a,
    char *err, size_t cap)
{
	size_t words = 2;
	char **w, *p;
	int n, i, rc = 0;

	for (p = line; *p; p++) /* conf_tokenize's separators */
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			words++;
	if (!(w = calloc(words, sizeof *w)))
		return -ENOMEM;
	n = conf_tokenize(line, w, (int)words);
	if (n < 0) {
		snprintf(err, cap, "unterminated quote");
		rc = -EINVAL;
		goto out;
	}
	if (n == 0)
		goto out;
	if (!strcmp(w[0], "argv")) {
		if (n < 2) {
			snprintf(err, cap, "argv: no program");
			rc = -EINVAL;
			goto out;
		}
		strv_free(c->argv);
		if (!(c->argv = strv_dup(w + 1)))
			rc = -ENOMEM;
	} else if (!strcmp(w[0], "env")) {
		for (i = 1; i < n && !rc; i++) {
			if (!strchr(w[i], '=') || w[i][0] == '=') {
				snprintf(err, cap,
				    "env: '%s' is not NAME=VALUE", w[i]);
				rc = -EINVAL;
			} else
				rc = env_set(&c->env, w[i]);
		}
	} else if (!strcmp(w[0], "dir") || !strcmp(w[0], "program")) {
		char **to = w[0][0] == 'd' ? &c->dir : &c->prog;

		if (n != 2 || w[1][0] != '/') {
			snprintf(err, cap, "%s: want one absolute path", w[0]);
			rc = -EINVAL;
			goto out;
		}
		free(*to);
		if (!(*to = strdup(w[1])))
			rc = -ENOMEM;
	} else if (!strcmp(w[0], "rlimit")) {
		size_t k;
		rlim_t soft, hard;

		for (k = 0; n >= 2 && k < sizeof rlimits / sizeof rlimits[0];
		     k++)
			if (!strcmp(w[1], rlimits[k].name))
				break;
		if (n < 3 || n > 4 || k == sizeof rlimits / sizeof rlimits[0] ||
		    parse_rlim(w[2], &soft) < 0 ||
		    parse_rlim(n == 4 ? w[3] : w[2], &hard) < 0 ||
		    (hard != RLIM_INFINITY && soft > hard)) {
			snprintf(err, cap,
			    "rlimit: want NAME SOFT [HARD] "
			    "(as core cpu data fsize memlock nofile nproc "
			    "stack; a number or unlimited)");
			rc = -EINVAL;
			goto out;
		}
		c->rl[rlimits[k].res].rlim_cur = soft;
		c->rl[rlimits[k].res].rlim_max = hard;
		c->rlset |= 1u << rlimits[k].res;
	} else if (!strcmp(w[0], "exec")) {
		if (n != 1 || st != S_NEW || a->exec) {
			snprintf(err, cap, "exec: %s",
			    st != S_NEW ? "already started"
			                : "takes no arguments");
			rc = st != S_NEW ? -EBUSY : -EINVAL;
			goto out;
		}
		a->exec = 1;
	} else if (!strcmp(w[0], "signal")) {
		int sig = n == 2 ? conf_signal(w[1]) : -1;

		if (sig < 0) {
			snprintf(err, cap,
			    "signal: want one signal name or "
			    "number");
			rc = -EINVAL;
		} else
			a->sig = sig;
	} else if (!strcmp(w[0], "ignore")) {
		uint64_t set = 0;
		int sig = -1;

		for (i = 1; i < n; i++) {
			sig = conf_signal(w[i]);
			if (sig <= 0 || sig > 64 || sig == SIGKILL ||
			    sig == SIGSTOP)
				break;
			set |= 1ull << (sig - 1);
		}
		if (n < 2 || i < n) {
			snprintf(err, cap,
			    "ignore: want signal names or numbers (not KILL "
			    "or STOP)");
			rc = -EINVAL;
		} else if (st != S_NEW || a->exec) {
			snprintf(err, cap, "ignore: already started");
			rc = -EBUSY;
		} else
			c->ignored |= set;
	} else if (!strcmp(w[0], "close")) {
		if (n != 2 || strcmp(w[1], "stdin")) {
			snprintf(err, cap, "close: only 'close stdin'");
			rc = -EINVAL;
		} else
			a->close_stdin = 1;
	} else if (!strcmp(w[0], "persist")) {
		c->persist = 1;
	} else if (!strcmp(w[0], "ns")) {
		struct p9_addr na;

		if (n < 3 || n > 2 + PSRV_MAX_IMPORTS ||
		    p9_addr_parse(&na, w[1], 5640) < 0 || na.is_unix ||
		    na.plain) {
			snprintf(err, cap,
			    "ns: want the origin's HOST:PORT and 1 to %d "
			    "absolute paths",
			    PSRV_MAX_IMPORTS);
			rc = -EINVAL;
			goto out;
		}
		for (i = 2; i < n; i++)
			if (w[i][0] != '/' || strstr(w[i], "/../") ||
			    (strlen(w[i]) >= 3 &&
			        !strcmp(w[i] + strlen(w[i]) - 3, "/..")) ||
			    strlen(w[i]) > 1024) {
				snprintf(err, cap,
				    "ns: '%.100s' is not an absolute path "
				    "without ..",
				    w[i]);
				rc = -EINVAL;
				goto out;
			}
		free(c->ns_from);
		strv_free(c->ns_paths);
		c->ns_paths = NULL;
		if (!(c->ns_from = strdup(w[1])) ||
		    !(c->ns_paths = strv_dup(w + 2)))
			rc = -ENOMEM;
	} else if (!strcmp(w[0], "origin") || !strcmp(w[0], "session")) {
		int origin = w[0][0] == 'o';
		char *to = origin ? c->origin : c->session;

		if (n != 2 || strlen(w[1]) >= sizeof c->origin ||
		    strspn(w[1], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                 "0123456789-_.") != strlen(w[1]) ||
		    w[1][0] == '.' || (!origin && st != S_NEW)) {
			snprintf(err, cap, "%s",
			    !origin && st != S_NEW
			        ? "session: already started"
			        : origin ? "origin: want one node name"
			                 : "session: want one name (letters, "
			                   "digits, - _ .)");
			rc = !origin && st != S_NEW ? -EBUSY : -EINVAL;
			goto out;
		}
		strcpy(to, w[1]);
	} else if (!strcmp(w[0], "tty") || !strcmp(w[0], "winsize")) {
		unsigned long long rows, cols;

		if (n != 3 || conf_number(w[1], 1, 9999, 0, &rows) < 0 ||
		    conf_number(w[2], 1, 9999, 0, &cols) < 0) {
			snprintf(err, cap, "%s: want ROWS COLS", w[0]);
			rc = -EINVAL;
			goto out;
		}
		if (w[0][0] == 't' && st != S_NEW) {
			snprintf(err, cap, "tty: already started");
			rc = -EBUSY;
			goto out;
		}
		if (w[0][0] == 'w' && !c->tty) {
			snprintf(err, cap, "winsize: no tty");
			rc = -EINVAL;
			goto out;
		}
		if (w[0][0] == 't')
			c->tty = 1;
		else
			a->winsize = 1;
		c->rows = (unsigned short)rows;
		c->cols = (unsigned short)cols;
	} else {
		snprintf(err, cap, "unknown ctl command '%s'", w[0]);
		rc = -EINVAL;
	}
out:
	free(w);
	return rc;
}

/* ---- spawning ---- */

struct child {
	char **argv, **env;
	const char *dir;
	const char *path; /* PATH to search */
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	int ngroups;
	const struct config *c;
	int fd[3];
	int errfd;
	int setids;          /* switch to uid/gid/groups (a root daemon) */
	int tty;             /* fd[0..2] are a terminal: a session of its own */
	const char *cgprocs; /* cgroup.procs to enter, or NULL */
	/* imported paths: a mount namespace of its own, src bound on dst */
	char **bsrc, **bdst;
	int nbinds;
};

/* The child, sharing the daemon's memory until exec: raw system calls and
 * stack buffers only. */
static int
child_main(void *arg)
{
	struct child *a = arg;
	struct sigaction sa;
	sigset_t none;
	char buf[4096];
	const char *p, *colon;
	int i, e = 0;

	if (a->cgprocs) { /* into the slot's cgroup, while still root */
		int fd = open(a->cgprocs, O_WRONLY | O_CLOEXEC);

		if (fd >= 0) {
			if (write(fd, "0", 1) < 0) {
				/* no cgroup: it runs all the same */
			}
			close(fd);
		}
	}
	memset(&sa, 0, sizeof sa);
	for (i = 1; i < _NSIG; i++)
		if (i != SIGKILL && i != SIGSTOP) {
			/* as an exec would keep them: the client's ignored */
			sa.sa_handler = i <= 64 && (a->c->ignored >> (i - 1) & 1)
			    ? SIG_IGN
			    : SIG_DFL;
			sigaction(i, &sa, NULL);
		}
	if (a->tty) {
		if (syscall(SYS_setsid) < 0 ||
		    ioctl(a->fd[0], TIOCSCTTY, 0) < 0)
			goto fail;
	} else
		syscall(SYS_setpgid, 0, 0);
	for (i = 0; i < 3; i++)
		if (dup2(a->fd[i], i) < 0)
			goto fail;
	if (a->nbinds) {
		/* the origin's paths over ours, seen by this process only */
		if (syscall(SYS_unshare, CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
			goto fail;
		for (i = 0; i < a->nbinds; i++)
			if (mount(a->bsrc[i], a->bdst[i], NULL, MS_BIND | MS_REC,
			        NULL) < 0)
				goto fail;
	}
	for (i = 0; i < RLIM_NLIMITS; i++)
		if ((a->c->rlset & (1u << i)) &&
		    syscall(SYS_prlimit64, 0, i, &a->c->rl[i], NULL) < 0)
			goto fail;
	if (a->setids &&
	    (syscall(SYS_setgroups, (size_t)a->ngroups, a->groups) < 0 ||
	        syscall(SYS_setresgid, a->gid, a->gid, a->gid) < 0 ||
	        syscall(SYS_setresuid, a->uid, a->uid, a->uid) < 0))
		goto fail;
	if (a->dir && chdir(a->dir) < 0)
		goto fail;
	sigemptyset(&none);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, _NSIG / 8);
	if (a->c->prog || strchr(a->argv[0], '/')) {
		execve(a->c->prog ? a->c->prog : a->argv[0], a->argv, a->env);
		goto fail;
	}
	e = ENOENT;
	for (p = a->path; p; p = colon ? colon + 1 : NULL) {
		size_t dl, nl = strlen(a->argv[0]);

		colon = strchr(p, ':');
		dl = colon ? (size_t)(colon - p) : strlen(p);
		if (dl == 0 || dl + nl + 2 > sizeof buf)
			continue;
		memcpy(buf, p, dl);
		buf[dl] = '/';
		memcpy(buf + dl + 1, a->argv[0], nl + 1);
		execve(buf, a->argv, a->env);
		if (errno != ENOENT && errno != ENOTDIR)
			e = errno; /* EACCES: say so, keep looking */
	}
	errno = e;
fail:
	e = errno;
	if (write(a->errfd, &e, sizeof e) < 0) {
		/* the parent will see no error and a status 127 */
	}
	_exit(127);
}

/*
 * Starts the child in its cgroup from its first instruction:
 * clone3(CLONE_INTO_CGROUP) costs nothing there, where moving a running
 * process (a write to cgroup.procs) waits for the cgroup lock's grace
 * period, a tenth of a millisecond and at times many.  clone3 has no
 * wrapper that runs a function on a new stack, and a CLONE_VM child cannot
 * return into C on its parent's stack, so the few instructions that start
 * it are written here (x86-64; elsewhere the caller clones the usual way
 * and the child enters its cgroup itself).  Returns the pid, or -1.
 */
static pid_t
spawn_into_cgroup(struct child *a, char *stack, const char *cg, int *pidfd)
{
#if defined(__x86_64__)
	struct clone_args ca;
	long pid;
	int cgfd;

	if ((cgfd = open(cg, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	memset(&ca, 0, sizeof ca);
	ca.flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_INTO_CGROUP;
	ca.pidfd = (uint64_t)(uintptr_t)pidfd;
	ca.exit_signal = SIGCHLD;
	ca.stack = (uint64_t)(uintptr_t)stack;
	ca.stack_size = CHILD_STACK; /* its top is 16-byte aligned */
	ca.cgroup = (uint64_t)cgfd;
	{
		register void *fn __asm__("r12") = (void *)child_main;
		register void *arg __asm__("r13") = a;

		/* the child: child_main(a) on its own stack, then exit */
		__asm__ volatile("syscall\n\t"
		                 "test %%rax, %%rax\n\t"
		                 "jnz 1f\n\t"
		                 "xor %%ebp, %%ebp\n\t"
		                 "mov %%r13, %%rdi\n\t"
		                 "call *%%r12\n\t"
		                 "mov %%eax, %%edi\n\t"
		                 "mov $231, %%eax\n\t" /* exit_group */
		                 "syscall\n\t"
		                 "hlt\n"
		                 "1:\n\t"
		                 : "=a"(pid)
		                 : "0"((long)SYS_clone3), "D"(&ca),
		                 "S"(sizeof ca), "r"(fn), "r"(arg)
		                 : "rcx", "r11", "memory");
	}
	close(cgfd);
	if (pid < 0) {
		errno = (int)-pid;
		return -1;
	}
	return (pid_t)pid;
#else
	(void)a, (void)stack, (void)cg, (void)pidfd;
	return -1;
#endif
}

static int
lookup_groups(uid_t uid, gid_t *gid, gid_t **groups, int *n)
{
	struct passwd pw, *pwp = NULL;
	char buf[4096];
	int want = 64;

	*groups = NULL;
	*n = 0;
	getpwuid_r(uid, &pw, buf, sizeof buf, &pwp);
	if (!pwp)
		return 0; /* no entry: the gid given, no groups */
	*gid = pw.pw_gid;
	for (;;) {
		gid_t *g = realloc(*groups, (size_t)want * sizeof *g);
		int got = want;

		if (!g)
			return -ENOMEM;
		*groups = g;
		if (getgrouplist(pw.pw_name, pw.pw_gid, g, &got) >= 0) {
			*n = got;
			return 0;
		}
		if (got <= want || got > 65536)
			return 0;
		want = got;
	}
}

/* A pseudo-terminal of the config's size: master and slave. */
static int
open_pty(const struct config *c, int *ptm, int *pts, char *err, size_t cap)
{
	struct winsize ws = {.ws_row = c->rows, .ws_col = c->cols};
	char name[64];

	if ((*ptm = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0 ||
	    grantpt(*ptm) < 0 || unlockpt(*ptm) < 0 ||
	    ptsname_r(*ptm, name, sizeof name) != 0 ||
	    (*pts = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		snprintf(err, cap, "tty: %s", strerror(errno));
		return -1;
	}
	ioctl(*ptm, TIOCSWINSZ, &ws);
	return 0;
}

/* The user database, remembered for a minute per uid: a spawn then reads
 * no /etc/passwd or /etc/group (nor waits for a directory service). */
#define USER_CACHE 32
#define USER_TTL 60

static struct {
	uid_t uid;
	gid_t gid;
	int known; /* a database entry: gid is its, not the caller's */
	gid_t *groups;
	int n;
	time_t when;
} ucache[USER_CACHE];

static int
user_groups(uid_t uid, gid_t *gid, gid_t **groups, int *n)
{
	time_t now = time(NULL);
	int i, slot = 0, rc;
	gid_t g = *gid;

	for (i = 0; i < USER_CACHE; i++) {
		if (ucache[i].when && ucache[i].uid == uid &&
		    now - ucache[i].when < USER_TTL)
			break;
		if (ucache[i].when < ucache[slot].when)
			slot = i; /* the oldest goes */
	}
	if (i == USER_CACHE) {
		gid_t *gs = NULL;
		int gn = 0;

		if ((rc = lookup_groups(uid, &g, &gs, &gn)) < 0)
			return rc;
		free(ucache[slot].groups);
		ucache[slot].uid = uid;
		ucache[slot].known = g != *gid || gs != NULL;
		ucache[slot].gid = g;
		ucache[slot].groups = gs;
		ucache[slot].n = gn;
		ucache[slot].when = now;
		i = slot;
	}
	if (ucache[i].known)
		*gid = ucache[i].gid;
	*n = ucache[i].n;
	*groups = NULL;
	if (*n) {
		if (!(*groups = malloc((size_t)*n * sizeof **groups)))
			return -ENOMEM;
		memcpy(*groups, ucache[i].groups, (size_t)*n * sizeof **groups);
	}
	return 0;
}

static void on_pidfd(uv_poll_t *p, int status, int events);
static void on_stream(uv_poll_t *p, int status, int events);
static void on_stdin(uv_poll_t *p, int status, int events);

/* Makes the directories of path below base (a scratch directory that
 * exists here) as they are missing, mode 0755: a place for a bind.  Each
 * one that is there already must be a directory of root's or uid's (none
 * another user could swap for a symlink before the bind).  0 or -1. */
static int
make_below(const char *base, const char *path, uid_t uid)
{
	char buf[1100], *name, *save = NULL;
	struct stat st;
	int fd, nfd;

	if ((fd = open(base, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	snprintf(buf, sizeof buf, "%s", path + strlen(base));
	for (name = strtok_r(buf, "/", &save); name;
	     name = strtok_r(NULL, "/", &save)) {
		if (mkdirat(fd, name, 0755) < 0 && errno != EEXIST)
			break;
		nfd = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW |
		                           O_CLOEXEC);
		close(fd);
		if ((fd = nfd) < 0 || fstat(fd, &st) < 0 ||
		    (st.st_uid != 0 && st.st_uid != uid))
			break;
	}
	if (fd >= 0)
		close(fd);
	return name ? -1 : 0;
}

/* A node's own scratch directories: a path the origin has beneath one of
 * them gets its own place here (made: make_below), not the origin's whole
 * directory over this node's: /tmp stays this node's, as a compiler's
 * temporary files want (the driver and its passes run here). */
static int
scratch(const char *dir)
{
	return !strcmp(dir, "/tmp") || !strcmp(dir, "/var/tmp");
}

/* The binds that show the origin's paths (mounted at mnt) at the same
 * places: for each path, its deepest part that exists here (a bind needs
 * a place), if the origin has it; never the root itself; below a scratch
 * directory, the path itself, its place made.  Shallow ones first, so
 * deeper ones land on top. */
static int
import_binds(
    const struct config *c, const char *mnt, uid_t uid, struct child *a)
{
	char **p;
	size_t n = 0, k;

	for (p = c->ns_paths; p && *p; p++)
		n++;
	if (!(a->bsrc = calloc(n + 1, sizeof *a->bsrc)) ||
	    !(a->bdst = calloc(n + 1, sizeof *a->bdst)))
		return -ENOMEM;
	for (p = c->ns_paths; p && *p; p++) {
		char dst[1100], src[1700], *slash;
		struct stat st;

		char want[1100];

		snprintf(dst, sizeof dst, "%s", *p);
		while (strlen(dst) > 1 && dst[strlen(dst) - 1] == '/')
			dst[strlen(dst) - 1] = '\0';
		snprintf(want, sizeof want, "%s", dst);
		while (lstat(dst, &st) < 0 && (slash = strrchr(dst, '/')))
			*(slash == dst ? slash + 1 : slash) = '\0';
		if (!strcmp(dst, "/"))
			continue;
		if (strcmp(dst, want) && scratch(dst)) {
			snprintf(src, sizeof src, "%s%s", mnt, want);
			if (stat(src, &st) == 0 && S_ISDIR(st.st_mode) &&
			    make_below(dst, want, uid) == 0)
				snprintf(dst, sizeof dst, "%s", want);
		}
		snprintf(src, sizeof src, "%s%s", mnt, dst);
		if (stat(src, &st) < 0)
			continue; /* not there either */
		for (k = 0; k < (size_t)a->nbinds; k++)
			if (!strcmp(a->bdst[k], dst))
				break;
		if (k < (size_t)a->nbinds)
			continue;
		if (!(a->bsrc[a->nbinds] = strdup(src)) ||
		    !(a->bdst[a->nbinds] = strdup(dst)))
			return -ENOMEM;
		a->nbinds++;
	}
	/* shallow first */
	for (k = 1; k < (size_t)a->nbinds; k++) {
		size_t j = k;

		while (j > 0 && strlen(a->bdst[j - 1]) > strlen(a->bdst[j])) {
			char *t = a->bdst[j];

			a->bdst[j] = a->bdst[j - 1];
			a->bdst[j - 1] = t;
			t = a->bsrc[j];
			a->bsrc[j] = a->bsrc[j - 1];
			a->bsrc[j - 1] = t;
			j--;
		}
	}
	return 0;
}

static void
binds_free(struct child *a)
{
	int i;

	for (i = 0; a->bsrc && a->bsrc[i]; i++)
		free(a->bsrc[i]);
	for (i = 0; a->bdst && a->bdst[i]; i++)
		free(a->bdst[i]);
	free(a->bsrc);
	free(a->bdst);
}

static int
spawn(struct slot *s, const struct config *c, const char *mnt, char *err,
    size_t cap)
{
	struct psrv *ps = s->ps;
	int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
	int ep[2] = {-1, -1}, pidfd = -1, e = 0, rc;
	int ptm = -1, pts = -1;
	char cgprocs[1600];
	struct child a;
	char *stack = NULL;
	sigset_t all, old;
	char **v;
	pid_t pid;
	ssize_t n;

	memset(&a, 0, sizeof a);
	a.setids = geteuid() == 0;
	if (!a.setids && s->uid != geteuid()) {
		/* a daemon that is not root runs programs as itself only */
		snprintf(err, cap,
		    "exec: this node runs programs for uid %u "
		    "only",
		    (unsigned)geteuid());
		return -EPERM;
	}
	a.gid = s->gid == (gid_t)-1 ? ps->o.anon_gid : s->gid;
	/* the import drops what changed at the origin before this spawn
	 * was asked for (its feed, read now; see unum mount's changes=):
	 * the program sees the origin's files as they are */
	if (mnt)
		getxattr(mnt, "unum.sync", NULL, 0);
	if (mnt && a.setids && (rc = import_binds(c, mnt, s->uid, &a)) < 0) {
		binds_free(&a);
		snprintf(err, cap, "exec: %s", strerror(-rc));
		return rc;
	}
	if ((rc = user_groups(s->uid, &a.gid, &a.groups, &a.ngroups)) < 0) {
		binds_free(&a);
		return rc;
	}
	a.path = DEFAULT_PATH;
	for (v = c->env; v && *v; v++)
		if (!strncmp(*v, "PATH=", 5))
			a.path = *v + 5;
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(er, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0 ||
	    !(stack = malloc(CHILD_STACK))) {
		rc = -errno;
		snprintf(err, cap, "exec: %s", strerror(errno));
		goto fail;
	}
	if (c->tty && open_pty(c, &ptm, &pts, err, cap) < 0) {
		rc = -errno;
		goto fail;
	}
	if (*ps->cgroot && a.setids) {
		if (*c->session) {
			/* the session's part on this node: one cgroup a user
			 * and session, the slots in it */
			snprintf(s->cg, sizeof s->cg, "%s/s%u.%s", ps->cgroot,
			    (unsigned)s->uid, c->session);
			if (mkdir(s->cg, 0755) < 0 && errno != EEXIST)
				snprintf(s->cg, sizeof s->cg, "%s", ps->cgroot);
			snprintf(s->cg + strlen(s->cg), sizeof s->cg - strlen(s->cg),
			    "/%u", s->id);
		} else
			snprintf(s->cg, sizeof s->cg, "%s/%u", ps->cgroot, s->id);
		if (mkdir(s->cg, 0755) == 0 || errno == EEXIST) {
			snprintf(
			    cgprocs, sizeof cgprocs, "%s/cgroup.procs", s->cg);
			a.cgprocs = cgprocs;
		} else
			s->cg[0] = '\0';
	}
	a.argv = c->argv;
	a.env = c->env;
	if (!a.env) {
		static char *empty[] = {NULL};

		a.env = empty;
	}
	a.dir = c->dir;
	a.uid = s->uid;
	a.c = c;
	a.fd[0] = c->tty ? pts : in[0];
	a.fd[1] = c->tty ? pts : out[1];
	a.fd[2] = c->tty ? pts : er[1];
	a.tty = c->tty;
	a.errfd = ep[1];
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = -1;
	if (a.cgprocs) {
		/* born in the cgroup: the child, which runs in this memory
		 * before clone3 returns here, must not move itself too */
		const char *procs = a.cgprocs;

		a.cgprocs = NULL;
		if ((pid = spawn_into_cgroup(&a, stack, s->cg, &pidfd)) < 0)
			a.cgprocs = procs; /* no clone3 here: it moves itself */
	}
	if (pid < 0)
		pid = clone(child_main, stack + CHILD_STACK,
		    CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &a, &pidfd);
	e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		rc = -e;
		snprintf(err, cap, "exec: %s", strerror(e));
		goto fail;
	}
	close(ep[1]);
	ep[1] = -1;
	n = read(ep[0], &e, sizeof e);
	if (n == (ssize_t)sizeof e) { /* it did not start */
		siginfo_t si;

		syscall(SYS_waitid, P_PIDFD, pidfd, &si, WEXITED, NULL);
		close(pidfd);
		rc = -e;
		snprintf(
		    err, cap, "cannot run '%s': %s", c->argv[0], strerror(e));
		goto fail;
	}
	close(in[0]);
	close(out[1]);
	close(er[1]);
	close(ep[0]);
	in[0] = out[1] = er[1] = ep[0] = -1;
	s->pid = pid;
	s->pidfd = pidfd;
	if (c->tty) {
		/* one terminal: stdin and stdout are its master; stderr's
		 * pipe has no writer, so it ends at once */
		close(pts);
		pts = -1;
		close(in[1]);
		close(out[0]);
		in[1] = dup(ptm);
		out[0] = ptm;
		ptm = -1;
	}
	s->infd = in[1];
	s->out.fd = out[0];
	s->err.fd = er[0];
	fcntl(s->infd, F_SETFL, O_NONBLOCK);
	fcntl(s->out.fd, F_SETFL, O_NONBLOCK);
	fcntl(s->err.fd, F_SETFL, O_NONBLOCK);
	uv_poll_init(ps->loop, &s->pidpoll, pidfd);
	uv_poll_init(ps->loop, &s->inpoll, s->infd);
	uv_poll_init(ps->loop, &s->out.poll, s->out.fd);
	uv_poll_init(ps->loop, &s->err.poll, s->err.fd);
	s->pidpoll.data = s->inpoll.data = s;
	s->out.poll.data = &s->out;
	s->err.poll.data = &s->err;
	s->nhandles += 4;
	uv_poll_start(&s->pidpoll, UV_READABLE, on_pidfd);
	uv_poll_start(&s->out.poll, UV_READABLE, on_stream);
	uv_poll_start(&s->err.poll, UV_READABLE, on_stream);
	s->out.polling = s->err.polling = 1;
	s->state = S_RUNNING;
	if (s->inwriters) { /* written before the start */
		uv_poll_start(&s->inpoll, UV_WRITABLE, on_stdin);
		s->inpolling = 1;
	}
	free(stack);
	free(a.groups);
	binds_free(&a);
	return 0;
fail:
	for (n = 0; n < 2; n++) {
		if (in[n] >= 0)
			close(in[n]);
		if (out[n] >= 0)
			close(out[n]);
		if (er[n] >= 0)
			close(er[n]);
		if (ep[n] >= 0)
			close(ep[n]);
	}
	if (ptm >= 0)
		close(ptm);
	if (pts >= 0)
		close(pts);
	free(stack);
	free(a.groups);
	binds_free(&a);
	return rc;
}

/* ---- the process's end and streams ---- */

static void
on_pidfd(uv_poll_t *p, int status, int events)
{
	struct slot *s = p->data;
	struct rusage ru;
	siginfo_t si;
	struct held *h;
	char res[128];

	memset(&si, 0, sizeof si);
	memset(&ru, 0, sizeof ru);
	if (syscall(SYS_waitid, P_PIDFD, s->pidfd, &si, WEXITED, &ru) < 0)
		return;
	uv_poll_stop(p);
	close_handle(s, (uv_handle_t *)p);
	close(s->pidfd);
	s->pidfd = -1;
	uv_timer_stop(&s->killtimer);
	s->cpu_ms = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	            (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
	snprintf(res, sizeof res, " utime %ld.%06ld stime %ld.%06ld maxrss %ld",
	    (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
	    (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec, ru.ru_maxrss);
	if (si.si_code == CLD_EXITED)
		snprintf(
		    s->wait, sizeof s->wait, "exit %d%s\n", si.si_status, res);
	else
		snprintf(s->wait, sizeof s->wait, "signal %d%s%s\n",
		    si.si_status, si.si_code == CLD_DUMPED ? " core" : "", res);
	if (s->state == S_RUNNING)
		s->state = S_EXITED;
	s->done = 1;
	while ((h = s->waiters)) {
		s->waiters = h->next;
		p9_respond_bytes(h->r, s->wait, strlen(s->wait));
		free(h);
	}
	slot_maybe_free(s, 0);
}

static void
stream_answer(struct stream *st)
{
	struct held *h;

	while ((h = st->readers) && (st->len || st->eof)) {
		struct p9_req *r = h->r;
		uint32_t cap;
		uint8_t *buf = p9_req_data(r, &cap);
		size_t n = st->len < cap ? st->len : cap;

		st->readers = h->next;
		free(h);
		memcpy(buf, st->buf, n);
		memmove(st->buf, st->buf + n, st->len - n);
		st->len -= n;
		r->out.u.rread.count = (uint32_t)n;
		r->out.u.rread.data = buf;
		p9_respond(r);
	}
	/* room again: read on (the process was held back meanwhile) */
	if (!st->polling && st->fd >= 0 && !st->eof && st->len < STREAM_BUF) {
		uv_poll_start(&st->poll, UV_READABLE, on_stream);
		st->polling = 1;
	}
}

static void
on_stream(uv_poll_t *p, int status, int events)
{
	struct stream *st = p->data;
	ssize_t n = read(st->fd, st->buf + st->len, STREAM_BUF - st->len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) { /* EIO: a terminal whose last user has gone */
		st->eof = 1;
		uv_poll_stop(p);
		st->polling = 0;
	} else
		st->len += (size_t)n;
	if (st->len == STREAM_BUF && st->polling) {
		uv_poll_stop(p); /* backpressure: the pipe fills, the writer
		                    waits */
		st->polling = 0;
	}
	stream_answer(st);
}

static void hold(struct held **list, struct p9_req *r);

static void
on_stdin(uv_poll_t *p, int status, int events)
{
	struct slot *s = p->data;
	struct held *h;

	while ((h = s->inwriters)) {
		struct p9_req *r = h->r;
		ssize_t n =
		    write(s->infd, r->in.u.write.data, r->in.u.write.count);

		if (n < 0 && errno == EAGAIN)
			return;
		s->inwriters = h->next;
		free(h);
		if (n < 0)
			p9_respond_error(r, errno);
		else {
			r->out.u.rwrite.count = (uint32_t)n;
			p9_respond(r);
		}
	}
	uv_poll_stop(p);
	s->inpolling = 0;
}

static void
hold(struct held **list, struct p9_req *r)
{
	struct held *h = malloc(sizeof *h), **pp;

	if (!h) {
		p9_respond_error(r, ENOMEM);
		return;
	}
	h->r = r;
	h->next = NULL;
	for (pp = list; *pp; pp = &(*pp)->next)
		;
	*pp = h;
}

static int
unhold(struct held **list, struct p9_req *r)
{
	struct held **pp, *h;

	for (pp = list; *pp; pp = &(*pp)->next)
		if ((*pp)->r == r) {
			h = *pp;
			*pp = h->next;
			free(h);
			return 1;
		}
	return 0;
}

/* ---- 9P handlers ---- */

static struct psrv *
ps_of(struct p9_req *r)
{
	return p9_req_aux(r);
}

static uint64_t
qpath(const struct pfid *f)
{
	return f->s ? ((uint64_t)f->s->id << 8) | (uint64_t)f->kind
	            : (uint64_t)f->kind;
}

static void
set_qid(struct pfid *f, struct p9_qid *q)
{
	q->type = f->kind == K_ROOT || f->kind == K_DIR ? P9_QTDIR : 0;
	q->version = 0; /* synthetic: never cached */
	q->path = qpath(f);
}

static void
ps_destroy_fid(struct p9_fid *fid)
{
	struct pfid *f = fid->aux;

	if (!f)
		return;
	if (f->writer && f->s && --f->s->stdin_fids == 0)
		stdin_close(f->s); /* the last writer's clunk is EOF */
	slot_unref(f->s);
	if (f->ses && --f->ses->refs == 0)
		free(f->ses);
	free(f);
	fid->aux = NULL;
}

static void
ps_attach(struct p9_req *r)
{
	struct psrv *ps = ps_of(r);
	struct p9_ident id;
	struct pfid *f;

	if (p9_attach_ident(r, ps->o.anon_uid, ps->o.anon_gid, &id) < 0) {
		p9_respond_errmsg(r, EPERM, "you may not act as uid %u",
		    r->in.u.attach.n_uname);
		return;
	}
	if (id.name) {
		struct passwd pw, *pwp = NULL;
		char buf[4096];

		getpwnam_r(id.name, &pw, buf, sizeof buf, &pwp);
		if (!pwp) {
			p9_respond_errmsg(r, EPERM, "no user '%s'", id.name);
			return;
		}
		id.uid = pw.pw_uid;
		id.gid = pw.pw_gid;
	}
	if (!(f = calloc(1, sizeof *f)) || !(f->ses = calloc(1, sizeof *f->ses))) {
		free(f);
		p9_respond_error(r, ENOMEM);
		return;
	}
	f->ses->refs = 1;
	f->uid = id.uid;
	f->gid = id.gid;
	f->kind = K_ROOT;
	r->fid->aux = f;
	set_qid(f, &r->out.u.rqid.qid);
	p9_respond(r);
}

static void
ps_walk(struct p9_req *r)
{
	struct psrv *ps = ps_of(r);
	struct pfid *f = r->fid->aux, cur = *f, *nf;
	int i, err = 0;

	for (i = 0; i < r->in.u.walk.nwname; i++) {
		const char *w = r->in.u.walk.wname[i];

		if (!strcmp(w, "..")) {
			cur.kind = K_ROOT;
			cur.s = NULL;
		} else if (cur.kind == K_ROOT) {
			unsigned long long id;
			struct slot *s;

			if (!strcmp(w, "clone"))
				cur.kind = K_CLONE;
			else if (((!strcmp(w, "last") && (id = cur.ses->last)) ||
			             conf_number(w, 1, ~0u, 0, &id) == 0) &&
			         (s = slot_find(ps, (unsigned)id)) &&
			         may(cur.uid, s)) {
				cur.kind = K_DIR;
				cur.s = s;
			} else {
				err = ENOENT;
				break;
			}
		} else if (cur.kind == K_DIR) {
			int k;

			for (k = K_CTL; k < NKIND; k++)
				if (!strcmp(w, kname[k]))
					break;
			if (k == NKIND) {
				err = ENOENT;
				break;
			}
			cur.kind = (enum kind)k;
		} else {
			err = ENOTDIR;
			break;
		}
		set_qid(&cur, &r->out.u.rwalk.wqid[i]);
	}
	r->out.u.rwalk.nwqid = (uint16_t)i;
	if (i == 0 && r->in.u.walk.nwname > 0) {
		p9_respond_error(r, err);
		return;
	}
	if (i == r->in.u.walk.nwname) {
		if (!(nf = malloc(sizeof *nf))) {
			p9_respond_error(r, ENOMEM);
			return;
		}
		*nf = cur;
		nf->clone = 0;
		nf->writer = 0;
		if (nf->s)
			nf->s->refs++;
		nf->ses->refs++;
		if (r->newfid == r->fid)
			ps_destroy_fid(r->fid);
		r->newfid->aux = nf;
	}
	p9_respond(r);
}

static void
ps_open(struct p9_req *r)
{
	struct psrv *ps = ps_of(r);
	struct pfid *f = r->fid->aux;
	int mode = r->in.u.open.mode & 3;
	int wr = mode == P9_OWRITE || mode == P9_ORDWR;
	int rd = mode != P9_OWRITE;

	if (f->kind == K_CLONE) {
		struct slot *s;
		unsigned mine = user_slots(ps, f->uid);

		if (f->uid != 0 && mine >= ps->o.max_per_user) {
			p9_respond_errmsg(r, EAGAIN,
			    "too many processes for uid %u (limit %u)",
			    (unsigned)f->uid, ps->o.max_per_user);
			return;
		}
		if (!(s = slot_new(ps, f->uid, f->gid))) {
			p9_respond_errmsg(r, EAGAIN,
			    "too many processes "
			    "(limit %d)",
			    MAX_SLOTS);
			return;
		}
		s->refs = 1;
		f->s = s;
		f->kind = K_CTL;
		f->clone = 1;
		f->ses->last = s->id;
	} else if (f->s && !may(f->uid, f->s)) {
		p9_respond_error(r, EACCES);
		return;
	} else if ((wr && f->kind != K_CTL && f->kind != K_STDIN) ||
	           (rd && f->kind == K_STDIN)) {
		p9_respond_error(r, EACCES);
		return;
	}
	if (f->kind == K_STDIN) {
		f->writer = 1;
		f->s->stdin_fids++;
	}
	set_qid(f, &r->out.u.ropen.qid);
	r->out.u.ropen.iounit = 0;
	p9_respond(r);
}

static int
rootgen(void *arg, uint64_t index, struct p9_stat *st)
{
	struct p9_req *r = arg;
	struct psrv *ps = ps_of(r);
	struct pfid *f = r->fid->aux, x = {.uid = f->uid};
	static char name[16];
	struct slot *s;
	uint64_t i = 1;

	st->uid = st->gid = st->muid = "";
	st->extension = "";
	if (index == 0) {
		x.kind = K_CLONE;
		set_qid(&x, &st->qid);
		st->name = "clone";
		st->mode = 0666;
		return 0;
	}
	for (s = ps->slots; s; s = s->next) {
		if (s->dead || !may(f->uid, s))
			continue;
		if (i++ == index) {
			x.kind = K_DIR;
			x.s = s;
			set_qid(&x, &st->qid);
			snprintf(name, sizeof name, "%u", s->id);
			st->name = name;
			st->mode = P9_DMDIR | 0555;
			st->n_uid = s->uid;
			return 0;
		}
	}
	return -1;
}

static int
dirgen(void *arg, uint64_t index, struct p9_stat *st)
{
	struct p9_req *r = arg;
	struct pfid *f = r->fid->aux, x = *f;

	if (index >= NKIND - K_CTL)
		return -1;
	x.kind = (enum kind)(K_CTL + index);
	set_qid(&x, &st->qid);
	st->name = (char *)kname[x.kind];
	st->mode = x.kind == K_CTL ? 0660 : x.kind == K_STDIN ? 0220 : 0440;
	st->uid = st->gid = st->muid = "";
	st->extension = "";
	st->n_uid = f->s->uid;
	return 0;
}

static void
ps_read(struct p9_req *r)
{
	struct pfid *f = r->fid->aux;
	struct slot *s = f->s;
	size_t len;
	char *t;

	switch (f->kind) {
	case K_ROOT:
		p9_respond_dirread(r, rootgen, r);
		return;
	case K_DIR:
		p9_respond_dirread(r, dirgen, r);
		return;
	case K_STDOUT:
	case K_STDERR: {
		struct stream *st = f->kind == K_STDOUT ? &s->out : &s->err;

		if (s->state == S_NEW && !s->starting) {
			p9_respond_errmsg(r, EAGAIN, "not started");
			return;
		}
		r->aux = st;
		hold(&st->readers, r);
		stream_answer(st);
		return;
	}
	case K_WAIT:
		if (!s->done) {
			if (s->state == S_NEW && !s->starting) {
				p9_respond_errmsg(r, EAGAIN, "not started");
				return;
			}
			r->aux = s;
			hold(&s->waiters, r);
			return;
		}
		break;
	default:
		break;
	}
	if (!(t = text_of(f, &len))) {
		p9_respond_error(r, ENOMEM);
		return;
	}
	p9_respond_bytes(r, t, len);
	free(t);
}

static void
ps_flush(struct p9_req *old)
{
	struct pfid *f = old->fid ? old->fid->aux : NULL;
	struct slot *s = f ? f->s : NULL;

	if (!s)
		return;
	if (f->kind == K_CTL && old->aux) {
		/* a spawn waiting for its imports */
		struct pending_exec *pe = old->aux;

		imp_cancel(pe->w);
		config_free(&pe->c);
		s->starting = 0;
		unhold_all(s, "the spawn was cancelled");
		free(pe);
		old->aux = NULL;
		p9_respond_error(old, EINTR);
		return;
	}
	if (unhold(&s->out.readers, old) || unhold(&s->err.readers, old) ||
	    unhold(&s->waiters, old) || unhold(&s->inwriters, old))
		p9_respond_error(old, EINTR);
}

/* Ends the line at p at its first newline outside quotes (a quoted word
 * may hold newlines: sh -c 'two\nlines'); returns the next line or NULL. */
static char *
line_end(char *p)
{
	const char *start = p;
	int quoted = 0;

	for (; *p; p++) {
		if (!quoted && *p == '#' &&
		    (p == start || strchr(" \t\r", p[-1]))) {
			/* a comment, as the tokenizer sees it: its quotes
			 * are words, not quoting */
			while (p[1] && p[1] != '\n')
				p++;
		} else if (*p == '\'')
			quoted = !quoted; /* '' inside quotes toggles twice */
		else if (*p == '\n' && !quoted) {
			*p = '\0';
			return p + 1;
		}
	}
	return NULL;
}

/* A ctl write's bytes as a string in *text (to free): -EINVAL with a
 * message in err for a NUL among them, -ENOMEM with none. */
static int
ctl_text(const void *data, size_t count, char **text, char *err, size_t cap)
{
	if (count == SIZE_MAX || !(*text = malloc(count + 1)))
		return -ENOMEM;
	if (count)
		memcpy(*text, data, count);
	(*text)[count] = '\0';
	if (memchr(*text, '\0', count)) {
		free(*text);
		*text = NULL;
		snprintf(err, cap, "ctl: NUL in command");
		return -EINVAL;
	}
	return 0;
}

/* argv and env within what a program may be given: each string, and all
 * of them with their pointers (as execve counts).  -E2BIG with a message
 * in err. */
static int
args_check(const struct config *c, size_t max, char *err, size_t cap)
{
	char **lists[2] = {c->argv, c->env};
	const char *names[2] = {"argv", "env"};
	size_t total = 0;
	int l, i;

	for (l = 0; l < 2; l++)
		for (i = 0; lists[l] && lists[l][i]; i++) {
			size_t n = strlen(lists[l][i]) + 1;

			if (n > PSRV_MAX_ARG_STRLEN) {
				snprintf(err, cap,
				    "%s: a string of %zu bytes, over the %u a "
				    "program may be given in one",
				    names[l], n, PSRV_MAX_ARG_STRLEN);
				return -E2BIG;
			}
			total += n + sizeof(char *);
		}
	if (total > max) {
		snprintf(err, cap,
		    "argv and env: %zu bytes, over this node's limit of %zu "
		    "(max-arg-bytes)",
		    total, max);
		return -E2BIG;
	}
	return 0;
}

/* Checks a whole ctl write (text, changed in place) for a slot in state
 * st, acting on nothing: c, a copy of the slot's config, gets what the
 * write sets and a what it asks done.  -errno with a message in err (c
 * then half changed: the caller frees it). */
static int
ctl_check(enum state st, char *text, struct config *c, struct actions *a,
    size_t maxargs, char *err, size_t cap)
{
	char *line, *next;
	int rc = 0;

	for (line = text; line && !rc; line = next) {
		next = line_end(line);
		rc = ctl_line(st, line, c, a, err, cap);
	}
	if (!rc)
		rc = args_check(c, maxargs, err, cap);
	if (!rc && a->exec && !c->argv) {
		snprintf(err, cap, "exec: no argv");
		rc = -EINVAL;
	}
	if (!rc && a->sig && st != S_RUNNING && !a->exec) {
		snprintf(err, cap, "signal: not running");
		rc = -ESRCH;
	}
	return rc;
}

int
psrv_ctl_check(const char *data, size_t len, char *err, size_t errcap)
{
	struct config c; /* a new slot's: empty */
	struct actions a = {0};
	char *text;
	int rc;

	if (errcap)
		*err = '\0';
	memset(&c, 0, sizeof c);
	if ((rc = ctl_text(data, len, &text, err, errcap)) < 0)
		goto out;
	rc = ctl_check(S_NEW, text, &c, &a, PSRV_MAX_ARG_BYTES, err, errcap);
	free(text);
	config_free(&c);
out:
	if (rc < 0 && errcap && !*err)
		snprintf(err, errcap, "%s", strerror(-rc));
	return rc;
}

/* The rest of a ctl write once any spawn is done (rc its result): the
 * new config, signals, stdin, the window; then the answer. */
static void
ctl_finish(struct p9_req *r, struct slot *s, struct config *c,
    const struct actions *a, int rc, const char *err)
{
	uint32_t count = r->in.u.write.count;

	if (rc < 0) {
		config_free(c);
		p9_log(LOG_DEBUG, "proc %u: %s", s->id, err);
		p9_respond_errmsg(r, -rc, "%s", *err ? err : strerror(-rc));
		return;
	}
	config_free(&s->c);
	s->c = *c;
	if (a->sig && s->state == S_RUNNING) {
		kill(-s->pid, a->sig);
		if (a->sig == SIGKILL)
			cg_kill(s); /* also what left its process group */
	}
	if (a->close_stdin)
		stdin_close(s);
	if (a->winsize && s->state == S_RUNNING && s->out.fd >= 0) {
		struct winsize ws = {.ws_row = c->rows, .ws_col = c->cols};

		ioctl(s->out.fd, TIOCSWINSZ, &ws); /* SIGWINCH follows */
	}
	r->out.u.rwrite.count = count;
	p9_respond(r);
}

static void
imported(void *arg, const char *mnt, const char *why)
{
	struct pending_exec *pe = arg;
	char err[256] = "";
	int rc;

	pe->r->aux = NULL;
	pe->s->starting = 0;
	if (!mnt) {
		snprintf(err, sizeof err, "%s", why);
		rc = -EHOSTUNREACH;
	} else
		rc = spawn(pe->s, &pe->c, mnt, err, sizeof err);
	if (rc < 0)
		unhold_all(pe->s, err);
	ctl_finish(pe->r, pe->s, &pe->c, &pe->a, rc, err);
	free(pe);
}

/* The reads held for a start that did not happen: answered with why. */
static void
unhold_all(struct slot *s, const char *why)
{
	struct held **lists[3] = {&s->out.readers, &s->err.readers, &s->waiters};
	struct held *h;
	int i;

	for (i = 0; i < 3; i++)
		while ((h = *lists[i])) {
			*lists[i] = h->next;
			p9_respond_errmsg(h->r, EAGAIN, "not started: %s", why);
			free(h);
		}
}

/* An ns naming this node itself imports nothing. */
static int
is_self(const struct psrv *ps, const char *addr)
{
	const char *const *a;

	for (a = ps->o.self_addrs; a && *a; a++)
		if (!strcmp(*a, addr))
			return 1;
	return 0;
}

static void
ps_ctl(struct p9_req *r)
{
	struct psrv *ps = ps_of(r);
	struct pfid *f = r->fid->aux;
	struct slot *s = f->s;
	uint32_t count = r->in.u.write.count;
	char *text;
	struct config c;
	struct actions a = {0};
	char err[256] = "";
	int rc = 0;

	rc = ctl_text(r->in.u.write.data, count, &text, err, sizeof err);
	if (rc < 0) {
		if (*err)
			p9_respond_errmsg(r, -rc, "%s", err);
		else
			p9_respond_error(r, -rc);
		return;
	}
	if ((rc = config_copy(&c, &s->c)) < 0) {
		free(text);
		p9_respond_error(r, -rc);
		return;
	}
	rc = ctl_check(s->state, text, &c, &a, ps->o.max_arg_bytes, err,
	    sizeof err);
	free(text);
	if (!rc && a.exec && c.ns_from && ps->imports &&
	    !is_self(ps, c.ns_from) && geteuid() == 0) {
		/* the origin's files first: the write waits for them */
		struct pending_exec *pe = calloc(1, sizeof *pe);
		struct import_wait *w;

		if (!pe)
			abort();
		pe->r = r;
		pe->s = s;
		pe->c = c;
		pe->a = a;
		r->aux = pe;
		s->starting = 1;
		if ((w = imp_get(ps->imports, c.ns_from, s->uid, imported, pe)))
			pe->w = w; /* else answered already */
		return;
	}
	if (!rc && a.exec)
		rc = spawn(s, &c, NULL, err, sizeof err);
	ctl_finish(r, s, &c, &a, rc, err);
}

static void
ps_write(struct p9_req *r)
{
	struct pfid *f = r->fid->aux;
	struct slot *s = f->s;
	ssize_t n;

	if (f->kind == K_CTL) {
		ps_ctl(r);
		return;
	}
	if (f->kind != K_STDIN) {
		p9_respond_error(r, EACCES);
		return;
	}
	if (s->infd < 0 && s->state == S_NEW && !s->dead) {
		/* before its start (its exec may wait for the origin's
		 * files): the write waits for the pipe */
		hold(&s->inwriters, r);
		return;
	}
	if (s->infd < 0) {
		p9_respond_errmsg(r, EPIPE, "stdin is closed");
		return;
	}
	if (!s->inwriters) {
		n = write(s->infd, r->in.u.write.data, r->in.u.write.count);
		if (n >= 0 || errno != EAGAIN) {
			if (n < 0)
				p9_respond_error(r, errno);
			else {
				r->out.u.rwrite.count = (uint32_t)n;
				p9_respond(r);
			}
			return;
		}
	}
	/* the pipe is full: the write waits, and so does its writer */
	hold(&s->inwriters, r);
	if (!s->inpolling) {
		uv_poll_start(&s->inpoll, UV_WRITABLE, on_stdin);
		s->inpolling = 1;
	}
}

static void
ps_stat(struct p9_req *r)
{
	struct pfid *f = r->fid->aux;
	struct p9_stat *st = &r->out.u.rstat.stat;
	static char name[16];

	memset(st, 0, sizeof *st);
	set_qid(f, &st->qid);
	st->uid = st->gid = st->muid = "";
	st->extension = "";
	st->n_uid = st->n_gid = st->n_muid = f->s ? f->s->uid : 0;
	switch (f->kind) {
	case K_ROOT:
		st->name = "/";
		st->mode = P9_DMDIR | 0555;
		break;
	case K_CLONE:
		st->name = "clone";
		st->mode = 0666;
		break;
	case K_DIR:
		snprintf(name, sizeof name, "%u", f->s->id);
		st->name = name;
		st->mode = P9_DMDIR | 0555;
		break;
	default:
		st->name = (char *)kname[f->kind];
		st->mode = f->kind == K_CTL     ? 0660
		           : f->kind == K_STDIN ? 0220
		                                : 0440;
	}
	st->atime = st->mtime = (uint32_t)time(NULL);
	p9_respond(r);
}

static void
ps_clunk(struct p9_req *r)
{
	p9_respond(r);
}

static const struct p9_ops ops = {
    .attach = ps_attach,
    .walk = ps_walk,
    .open = ps_open,
    .read = ps_read,
    .write = ps_write,
    .clunk = ps_clunk,
    .stat = ps_stat,
    .flush = ps_flush,
    .destroy_fid = ps_destroy_fid,
};

const struct p9_ops *
psrv_ops(void)
{
	return &ops;
}

/* Whether pid is a live unumd (a pid may have been reused since). */
static int
is_unumd(int pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/comm", pid);
	if (!(f = fopen(path, "re")))
		return 0;
	if (!fgets(comm, sizeof comm, f))
		comm[0] = '\0';
	fclose(f);
	return !strcmp(comm, "unumd\n");
}

/* Removes what a daemon that died left: unum-procs-PID directories of
 * processes gone, once empty (their slots' directories first). */
static void
sweep(const char *mnt, const char *self)
{
	char base[1400], path[2400];
	struct dirent *de, *se;
	DIR *d, *sd;

	snprintf(base, sizeof base, "%s%s", mnt, self);
	if (!(d = opendir(base)))
		return;
	while ((de = readdir(d))) {
		int pid;

		if (sscanf(de->d_name, "unum-procs-%d", &pid) != 1 ||
		    is_unumd(pid))
			continue;
		snprintf(path, sizeof path, "%s/%s", base, de->d_name);
		if ((sd = opendir(path))) {
			while ((se = readdir(sd))) {
				char sub[2700];

				if (se->d_type != DT_DIR ||
				    se->d_name[0] == '.')
					continue;
				snprintf(
				    sub, sizeof sub, "%s/%s", path, se->d_name);
				rmdir(sub);
			}
			closedir(sd);
		}
		rmdir(path);
	}
	closedir(d);
}

/* A cgroup v2 directory for the slots, beneath the daemon's own cgroup
 * (where systemd delegates to it).  Without a writable cgroup v2 the
 * slots are process groups only. */
static void
find_cgroup(struct psrv *ps)
{
	char line[1024], mnt[256] = "", self[1024] = "", dir[1400];
	FILE *f;

	if (geteuid() != 0)
		return;
	if ((f = fopen("/proc/self/mounts", "re"))) {
		char dev[256], path[256], type[64];

		while (fgets(line, sizeof line, f))
			if (sscanf(line, "%255s %255s %63s", dev, path, type) ==
			        3 &&
			    !strcmp(type, "cgroup2")) {
				snprintf(mnt, sizeof mnt, "%s", path);
				break;
			}
		fclose(f);
	}
	if ((f = fopen("/proc/self/cgroup", "re"))) {
		while (fgets(line, sizeof line, f))
			if (!strncmp(line, "0::", 3)) {
				line[strcspn(line, "\n")] = '\0';
				snprintf(self, sizeof self, "%s", line + 3);
			}
		fclose(f);
	}
	if (!*mnt)
		return;
	sweep(mnt, strcmp(self, "/") ? self : "");
	snprintf(dir, sizeof dir, "%s%s/unum-procs-%d", mnt,
	    strcmp(self, "/") ? self : "", (int)getpid());
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		p9_log(LOG_INFO,
		    "no cgroup for processes (%s: %s): process "
		    "groups only",
		    dir, strerror(errno));
		return;
	}
	snprintf(ps->cgroot, sizeof ps->cgroot, "%s", dir);
}

struct psrv *
psrv_new(uv_loop_t *loop, const struct psrv_opts *o, int *err)
{
	struct psrv *ps = calloc(1, sizeof *ps);

	if (!ps) {
		*err = -ENOMEM;
		return NULL;
	}
	ps->loop = loop;
	ps->o = *o;
	if (!ps->o.max_per_user)
		ps->o.max_per_user = 1024;
	if (!ps->o.max_arg_bytes)
		ps->o.max_arg_bytes = PSRV_MAX_ARG_BYTES;
	snprintf(ps->node, sizeof ps->node, "%s", o->node ? o->node : "-");
	ps->o.node = ps->node;
	find_cgroup(ps);
	if (o->import_cmd && *o->import_cmd)
		ps->imports = imp_new(loop, o->import_cmd, o->import_key,
		    o->import_dir ? o->import_dir : "/run/unum/import");
	return ps;
}

void
psrv_shutdown(struct psrv *ps)
{
	struct slot *s, *next;

	for (s = ps->slots; s; s = next) {
		next = s->next;
		s->c.persist = 0;
		if (s->pidfd >= 0)
			kill(-s->pid,
			    SIGKILL); /* reaped on the loop, then freed */
		else
			slot_maybe_free(s, 1);
	}
	imp_close(ps->imports);
	ps->imports = NULL;
}

void
psrv_free(struct psrv *ps)
{
	struct slot *s, *next;

	if (!ps)
		return;
	for (s = ps->slots; s; s = next) {
		next = s->next;
		if (s->pid > 0 && s->pidfd >= 0)
			kill(-s->pid, SIGKILL);
	}
	/* slots are freed as their handles close, on the loop's last run;
	 * what remains is the daemon's exit */
	cg_remove(ps, NULL);
	if (*ps->cgroot)
		rmdir(ps->cgroot);
	free(ps);
}
