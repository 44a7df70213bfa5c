/*
 * run.c - "unum run": a program on a node, as if it ran here.  Output is
 * relayed byte for byte, stdin when it is not a terminal (or a terminal
 * in the foreground), every catchable signal is forwarded, and the exit
 * status is the program's (128+N for death by signal N).  unum's own
 * failures exit 255 with one line.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <uv.h>

#include "9p/p9.h"
#include "cluster/cluster.h"
#include "procsrv/procsrv.h"
#include "run.h"


extern char **environ;

static struct termios saved; /* the terminal as it was, before raw mode */
static int raw;

static void
restore_tty(void)
{
	if (raw)
		tcsetattr(0, TCSADRAIN, &saved);
	raw = 0;
}

static void
term_size(unsigned *rows, unsigned *cols)
{
	struct winsize ws;

	*rows = 24;
	*cols = 80;
	if ((ioctl(0, TIOCGWINSZ, &ws) == 0 ||
	        ioctl(1, TIOCGWINSZ, &ws) == 0) &&
	    ws.ws_row && ws.ws_col) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

/* One stream of output (stdout, stderr) relayed to a descriptor here. */
struct out {
	struct run *r;
	uint32_t fid;
	int fd;
	int broken; /* writing to fd failed */
};

/* stdin: a thread reads (a terminal or a pipe may block; libuv would make
 * the descriptor non-blocking for everyone who shares it) and hands each
 * chunk to the loop, which writes it and hands the buffer back. */
struct in {
	struct run *r;
	uint32_t fid;
	uv_async_t wake;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint8_t *buf;
	size_t cap;
	ssize_t len;  /* a chunk for the loop; 0 the end, -1 none */
	size_t first; /* bytes already in buf before the thread starts */
	size_t n, done; /* the chunk being written, and how much of it is */
};

struct run {
	uv_loop_t *loop;
	struct p9_client *c;
	const char *addr; /* as given, for messages */
	struct unum_route rt;
	const char *cmd;  /* the program, for messages */
	char *text;       /* the spawn, one write to ctl */
	char *policy;     /* placement for this run (through the cluster) */
	int tty;          /* -t: the program runs on a terminal */
	int use_stdin;
	uint32_t root, ctl, wait;
	uint32_t iosize;
	struct out out, err;
	struct in in;
	int ended;  /* output streams at their end */
	int status; /* the exit status once known, else -1 */
	/* signals come through a signalfd; those before the spawn was sent
	 * wait in pending */
	int sigfd;
	uv_poll_t sigpoll;
	int spawned;
	sigset_t pending;
	/* unum-ghost: in a program's place (see ghost_local) */
	int ghost;
	char **argv;     /* the program and its arguments */
	uint64_t t0, t1; /* started; its program started (ms) */
	int sig;         /* it died of this signal */
	int learning;    /* its run time is being told */
};

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "unum: ");
	restore_tty();
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(255);
}

/* Appends w to the buffer, rc-quoted. */
static int
put_word(char **buf, size_t *len, size_t *cap, const char *w)
{
	size_t need = 2 * strlen(w) + 4;
	const char *p;
	char *b;

	if (*len + need >= *cap) {
		*cap = (*len + need) * 2;
		if (!(b = realloc(*buf, *cap)))
			return -1;
		*buf = b;
	}
	b = *buf + *len;
	*b++ = ' ';
	*b++ = '\'';
	for (p = w; *p; p++) {
		if (*p == '\'')
			*b++ = '\'';
		*b++ = *p;
	}
	*b++ = '\'';
	*b = '\0';
	*len = (size_t)(b - *buf);
	return 0;
}

static int
put_text(char **buf, size_t *len, size_t *cap, const char *t)
{
	size_t n = strlen(t);
	char *b;

	if (*len + n + 1 >= *cap) {
		*cap = (*len + n + 1) * 2;
		if (!(b = realloc(*buf, *cap)))
			return -1;
		*buf = b;
	}
	memcpy(*buf + *len, t, n + 1);
	*len += n;
	return 0;
}

/* Paths the program sees as they are here, when it runs on another node
 * (ns): the working directory, $HOME, and -i's; --no-import: none. */
static const char *ns_from;
static const char *ghost_argv0; /* --argv0: the name the program sees */
static int ghost_mode;          /* --ghost */
static int noimport_all;
static char *ns_paths[20];
static int ns_n;

/* The signals we were started with ignored */
static sigset_t ignored;

/* Fills `ignored`, before anything of ours changes a disposition: an
 * exec keeps the signals its caller ignores ignored (nohup's HUP, a
 * non-interactive shell's INT and QUIT for its background jobs), and so
 * the program started for us elsewhere starts with them ignored too. */
static void
ignored_now(void)
{
	int sig;

	sigemptyset(&ignored);
	for (sig = 1; sig < SIGRTMIN && sig <= 64; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && unum_was_ignored(sig))
			sigaddset(&ignored, sig);
}

/* The ctl text of a whole spawn: argv, env, dir, ignore, ns, exec. */
static char *
spawn_text(char **argv, int close_stdin, int tty)
{
	size_t len = 0, cap = 1024;
	char *buf = malloc(cap), cwd[4096], **e;
	int i, bad = !buf;

	if (buf)
		buf[0] = '\0';
	bad |= put_text(&buf, &len, &cap, "argv");
	for (i = 0; argv[i] && !bad; i++)
		bad |= put_word(&buf, &len, &cap,
		    i == 0 && ghost_argv0 ? ghost_argv0 : argv[i]);
	bad |= put_text(&buf, &len, &cap, "\n");
	if (ghost_argv0 && !bad) { /* the file, apart from the name it sees */
		bad |= put_text(&buf, &len, &cap, "program");
		bad |= put_word(&buf, &len, &cap, argv[0]);
		bad |= put_text(&buf, &len, &cap, "\n");
	}
	for (e = environ; e && *e && !bad; e++) {
		if (!strchr(*e, '=') || **e == '=' ||
		    !strncmp(*e, "UNUM_ORIGIN=", 12))
			continue; /* not a NAME=VALUE, or our own word */
		bad |= put_text(&buf, &len, &cap, "env");
		bad |= put_word(&buf, &len, &cap, *e);
		bad |= put_text(&buf, &len, &cap, "\n");
	}
	if (getcwd(cwd, sizeof cwd) && !bad) {
		bad |= put_text(&buf, &len, &cap, "dir");
		bad |= put_word(&buf, &len, &cap, cwd);
		bad |= put_text(&buf, &len, &cap, "\n");
	}
	{
		char host[256];

		/* where it came from, for ps -a */
		if (gethostname(host, sizeof host) == 0 && !bad) {
			host[sizeof host - 1] = '\0';
			host[strcspn(host, ".")] = '\0';
			if (*host && strspn(host, "abcdefghijklmnopqrstuvwxyz"
			                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			                          "0123456789-_") == strlen(host) &&
			    strlen(host) < 64) {
				bad |= put_text(&buf, &len, &cap, "origin ");
				bad |= put_text(&buf, &len, &cap, host);
				bad |= put_text(&buf, &len, &cap, "\n");
			}
		}
	}
	{
		const char *ses = getenv("UNUM_SESSION");

		/* its session: its cgroup there is the session's */
		if (ses && unum_session_name(ses) && !bad) {
			bad |= put_text(&buf, &len, &cap, "session ");
			bad |= put_text(&buf, &len, &cap, ses);
			bad |= put_text(&buf, &len, &cap, "\n");
		}
	}
	{
		char line[512] = "ignore";
		size_t at = strlen(line);

		/* by name where it has one: the numbers differ between some
		 * machines */
		for (i = 1; i < SIGRTMIN && at < sizeof line - 16; i++)
			if (sigismember(&ignored, i) == 1)
				at += (size_t)(sigabbrev_np(i)
				        ? snprintf(line + at, sizeof line - at,
				              " %s", sigabbrev_np(i))
				        : snprintf(line + at, sizeof line - at,
				              " %d", i));
		if (at > strlen("ignore") && !bad) {
			bad |= put_text(&buf, &len, &cap, line);
			bad |= put_text(&buf, &len, &cap, "\n");
		}
	}
	if (ns_from && ns_n > 0 && !bad) {
		bad |= put_text(&buf, &len, &cap, "ns");
		bad |= put_word(&buf, &len, &cap, ns_from);
		for (i = 0; i < ns_n && !bad; i++)
			bad |= put_word(&buf, &len, &cap, ns_paths[i]);
		bad |= put_text(&buf, &len, &cap, "\n");
	}
	if (close_stdin)
		bad |= put_text(&buf, &len, &cap, "close stdin\n");
	if (tty) {
		char line[64];
		unsigned rows, cols;

		term_size(&rows, &cols);
		snprintf(line, sizeof line, "tty %u %u\n", rows, cols);
		bad |= put_text(&buf, &len, &cap, line);
	}
	bad |= put_text(&buf, &len, &cap, "exec\n");
	if (bad) {
		free(buf);
		return NULL;
	}
	return buf;
}

static const int forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1,
    SIGUSR2, SIGALRM, SIGTSTP, SIGCONT, SIGWINCH, SIGTTIN, SIGTTOU, SIGVTALRM,
    SIGPROF, SIGXCPU, SIGXFSZ, SIGURG, SIGPWR};

/* What we take and pass on: the forwarded signals we do not ignore (an
 * ignored one stays ignored here, as it would in the program). */
static void
forward_set(sigset_t *set)
{
	size_t i;

	sigemptyset(set);
	for (i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		if (sigismember(&ignored, forwarded[i]) != 1)
			sigaddset(set, forwarded[i]);
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: unum run [-t] [-n NODE|ADDR] [-p POLICY] CMD [ARG...]\n"
	    "       unum run -a | -w LIST | -N COUNT [-b] [-f N] CMD [ARG...]\n"
	    "Runs CMD on a node as if here: output, input, signals and exit "
	    "status.\n"
	    "Where: with unum-clusterd on this node ($UNUM_CLUSTER, else "
	    UNUM_CLUSTER_SOCKET "),\n"
	    "the node its placement policy chooses; else this node.\n"
	    "  -n, --node NODE   a node of the cluster by name, or any node's "
	    "address:\n"
	    "                    unix:PATH, PATH, HOST[:PORT] (default "
	    "$UNUM_ADDR)\n"
	    "  -p, --policy P    placement for this run: local, spread, "
	    "roundrobin,\n"
	    "                    node NAME, and arch=A label=L mem=SIZE\n"
	    "  -i, --import PATH on another node CMD sees this node's PATH "
	    "there too\n"
	    "                    (as it does the working directory and "
	    "$HOME)\n"
	    "      --no-import   it sees that node's files only\n"
	    "      --no-stdin    give CMD an empty stdin (as ssh -n)\n"
	    "  -t, --tty         run CMD on a terminal (for vi, top, shells)\n"
	    "  -a, --all         run CMD on every live node of the cluster "
	    "(not\n"
	    "                    draining ones)\n"
	    "  -w, --nodes LIST  run CMD on each node of LIST at once: names,\n"
	    "                    commas and ranges (n[01-16],10.0.0.[1-4]:5640)\n"
	    "  -N, --copies N    run N copies of CMD, placed by the policy\n"
	    "                    (with -a, -w, -N: each line labelled NODE:; "
	    "stdin\n"
	    "                    not read unless --stdin)\n"
	    "      --stdin       with -a, -w, -N: each run gets all of stdin\n"
	    "  -b, --gather      with -a, -w, -N: each output once, for the "
	    "nodes that\n"
	    "                    printed the same (as clush -b)\n"
	    "  -f, --fanout N    at most N nodes at a time (default 64)\n"
	    "      --tree N      -a, -w over N nodes: launch as a tree, the first\n"
	    "                    of each N starts the others (default 32; 0: never)\n"
	    "  -h, --help        this help\n"
	    "Exit status: CMD's; 128+N if it died of signal N; 255 if unum "
	    "failed (255 also when CMD's node was lost); with -a, -w, -N the "
	    "highest of the runs'.\n");
}

/* TLS for a connection to a: a client context with the cluster key
 * ($UNUM_KEY, else /etc/unum/cluster.key), or NULL for a Unix socket, a
 * plain: address, or no key here.  An unreadable key: one line, exit 255. */
static struct p9_tls_ctx *
unum_tls(const struct p9_addr *a)
{
	static struct p9_tls_ctx *ctx;
	const char *path = getenv("UNUM_KEY");
	uint8_t key[P9_KEY_LEN];
	char err[512];

	if (a->is_unix || a->plain)
		return NULL;
	if (ctx)
		return ctx;
	if (!path || !*path)
		path = "/etc/unum/cluster.key";
	if (access(path, F_OK) < 0 && !getenv("UNUM_KEY"))
		return NULL; /* no key here: plain TCP, for diod and its kind */
	if (p9_key_read(path, key, err, sizeof err) < 0) {
		fprintf(stderr,
		    "unum: %s (a node's TCP port needs the cluster key: run "
		    "as root, or go through the local unumd)\n",
		    err);
		exit(255);
	}
	ctx = p9_tls_ctx_new(0, key, NULL, err, sizeof err);
	memset(key, 0, sizeof key);
	if (!ctx) {
		fprintf(stderr, "unum: %s\n", err);
		exit(255);
	}
	return ctx;
}

/* The node's address: given (NULL: $UNUM_ADDR, else the local socket),
 * parsed into *a.  Returns the address as given, or NULL if it is bad. */
static const char *
unum_node_addr(const char *given, struct p9_addr *a)
{
	if (!given)
		given = getenv("UNUM_ADDR");
	if (!given || !*given)
		given = UNUM_SOCKET;
	return p9_addr_parse(a, given, UNUM_PORT) < 0 ? NULL : given;
}

int
unum_route(const char *given, const char *tree, struct unum_route *rt)
{
	const char *key = getenv("UNUM_KEY"), *sock = getenv("UNUM_SOCKET");
	struct stat st;

	memset(rt, 0, sizeof *rt);
	if (!(rt->shown = unum_node_addr(given, &rt->a)))
		return -1;
	snprintf(rt->aname, sizeof rt->aname, "%s", tree);
	snprintf(rt->where, sizeof rt->where, "%s", rt->shown);
	if (rt->a.is_unix || rt->a.plain || (key && *key))
		goto direct;
	if (!sock || !*sock)
		sock = UNUM_SOCKET;
	if (stat(sock, &st) < 0 || !S_ISSOCK(st.st_mode))
		goto direct; /* no unumd here: the key, if this user has it */
	/* through this node's unumd, which holds the key and vouches for
	 * the user: ADDR!TREE */
	if ((size_t)snprintf(rt->aname, sizeof rt->aname, "%s!%s", rt->shown,
	        tree) >= sizeof rt->aname ||
	    p9_addr_parse(&rt->a, sock, 0) < 0 || !rt->a.is_unix)
		return -1;
	rt->relayed = 1;
	snprintf(rt->where, sizeof rt->where, "this node's unumd (%s)", sock);
	return 0;
direct:
	rt->tls = unum_tls(&rt->a);
	if (!rt->tls && !rt->a.is_unix && !rt->a.plain)
		snprintf(rt->where, sizeof rt->where,
		    "%s (plain 9P: no unumd at %s to go through, no cluster "
		    "key)",
		    rt->shown, sock && *sock ? sock : UNUM_SOCKET);
	return 0;
}

struct p9_cl *
unum_proc_connect(const char *addr, uint32_t *root, const char **shown)
{
	struct p9_client_opts o;
	struct unum_route rt;
	struct p9_cl *cl;
	char uname[32];
	int e = 0, rc;

	if (unum_route(addr, "proc", &rt) < 0)
		die("bad node address '%s'", addr ? addr : getenv("UNUM_ADDR"));
	addr = *shown = rt.shown;
	memset(&o, 0, sizeof o);
	o.dialect = P9_2000U; /* .u: errors come with their text */
	o.tls = rt.tls;
	if (!(cl = p9_cl_connect(&rt.a, &o, &e)))
		die("cannot reach %s: %s", rt.where, strerror(-e));
	*root = p9_cl_fid_new(cl);
	snprintf(uname, sizeof uname, "%u", (unsigned)geteuid());
	if ((rc = p9_cl_attach(
	         cl, *root, uname, (uint32_t)geteuid(), rt.aname, NULL)) < 0)
		die("%s serves no processes to you: %s", addr,
		    p9_cl_strerror(rc));
	return cl;
}

/* ---- the run, on one loop ----
 *
 * Two steps, the requests of each sent at once (one write, when the
 * client is eager: the second step does not wait for the first's answer):
 *   version;
 *   attach, walk to clone, open it, write the spawn (the slot keeps
 *     what the program writes until it is read), walk to
 *     and open last/stdout, last/stderr, last/wait (and last/stdin), and
 *     read them: stdout and stderr until their end, wait for the status.
 *     "last" is the slot this attach's clone made.
 * It ends when the status is known and both outputs are at their end.
 */

/* The server's text for a failed call, else the errno's. */
static const char *
why(int err, const struct p9_fcall *r)
{
	if (r && r->type == P9_RERROR && r->u.error.ename[0])
		return r->u.error.ename;
	return strerror(err);
}

static void
call(struct run *r, struct p9_fcall *t, p9_call_cb cb, void *arg)
{
	if (!p9_client_call(r->c, t, cb, arg))
		die("%s: %s", r->addr, strerror(errno));
}

static void
walk(struct run *r, uint32_t fid, uint32_t newfid, const char *a,
    const char *b, p9_call_cb cb, void *arg)
{
	struct p9_fcall t = {.type = P9_TWALK};

	t.u.walk.fid = fid;
	t.u.walk.newfid = newfid;
	t.u.walk.wname[t.u.walk.nwname++] = (char *)a;
	if (b)
		t.u.walk.wname[t.u.walk.nwname++] = (char *)b;
	call(r, &t, cb, arg);
}

static void
open_fid(struct run *r, uint32_t fid, uint8_t mode, p9_call_cb cb, void *arg)
{
	struct p9_fcall t = {.type = P9_TOPEN};

	t.u.open.fid = fid;
	t.u.open.mode = mode;
	call(r, &t, cb, arg);
}

static void
read_fid(struct run *r, uint32_t fid, uint32_t count, p9_call_cb cb,
    void *arg)
{
	struct p9_fcall t = {.type = P9_TREAD};

	t.u.read.fid = fid;
	t.u.read.count = count;
	call(r, &t, cb, arg);
}

static void
write_fid(struct run *r, uint32_t fid, const void *data, size_t len,
    p9_call_cb cb, void *arg)
{
	struct p9_fcall t = {.type = P9_TWRITE};

	t.u.write.fid = fid;
	t.u.write.count = (uint32_t)len;
	t.u.write.data = data;
	call(r, &t, cb, arg);
}

static void
clunk_fid(struct run *r, uint32_t fid, p9_call_cb cb, void *arg)
{
	struct p9_fcall t = {.type = P9_TCLUNK};

	t.u.fid.fid = fid;
	call(r, &t, cb, arg);
}

static void
finish(struct run *r)
{
	if (r->status < 0 || r->ended < 2 || r->learning)
		return;
	restore_tty();
	/* the parent sees its child die of that signal, as it did there */
	if (r->ghost && r->sig > 0)
		unum_die_of(r->sig);
	exit(r->status);
}

void
unum_die_of(int sig)
{
	struct rlimit no = {0, 0};
	sigset_t one;

	if (sig <= 0 || sig >= NSIG || sig == SIGSTOP)
		return;
	fflush(NULL);
	setrlimit(RLIMIT_CORE, &no); /* without a core of ours */
	signal(sig, SIG_DFL);
	sigemptyset(&one);
	sigaddset(&one, sig);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	raise(sig);
}

static void
lost(struct run *r, int err, const struct p9_fcall *rep)
{
	die("lost %s on %s: %s", r->cmd, r->addr, why(err, rep));
}

/* Writes all of buf to fd, which may be non-blocking (inherited so). */
static int
write_all(int fd, const uint8_t *buf, size_t len)
{
	ssize_t w;

	while (len > 0) {
		if ((w = write(fd, buf, len)) < 0) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};

			if (errno == EAGAIN)
				poll(&p, 1, -1);
			else if (errno != EINTR)
				return -1;
			continue;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

static void forward(struct run *r, int sig);

static void
out_read(void *arg, int err, struct p9_fcall *rep)
{
	struct out *o = arg;
	struct run *r = o->r;

	if (err)
		lost(r, err, rep);
	if (rep->u.rread.count == 0) {
		r->ended++;
		finish(r);
		return;
	}
	if (!o->broken &&
	    write_all(o->fd, rep->u.rread.data, rep->u.rread.count) < 0) {
		/* our reader went away (yes | head -1): the program gets the
		 * SIGPIPE it would get here, and the rest is dropped */
		o->broken = 1;
		if (errno == EPIPE)
			forward(r, SIGPIPE);
	}
	read_fid(r, o->fid, r->iosize, out_read, o);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
learnt(void *arg, int err, struct p9_fcall *rep)
{
	struct run *r = arg;

	(void)err, (void)rep; /* a server without "learn" teaches nothing */
	if (--r->learning == 0)
		finish(r);
}

/* The ghost tells the cluster daemon how long its program ran there and
 * what sending it cost, so that programs shorter than the cost stay
 * where they start (unum-clusterd's "learn"; see src/shim/shim.c). */
static void
learn(struct run *r)
{
	static char line[128];
	const char *base = strrchr(r->argv[0], '/');
	uint32_t lf;
	uint64_t end = now_ms();

	base = base ? base + 1 : r->argv[0];
	if (!r->t1 || !*base || strlen(base) > 40 || strchr(base, ' ') ||
	    strchr(base, '\'') || strchr(base, '\n'))
		return;
	/* the cost: from the ghost's start to its program's, and one more
	 * exec's worth for the shim and the ghost's own start */
	snprintf(line, sizeof line, "%s %llu %llu\n", base,
	    (unsigned long long)(end - r->t1),
	    (unsigned long long)(r->t1 - r->t0 + 1));
	lf = p9_client_fid_new(r->c);
	r->learning = 4;
	walk(r, r->root, lf, "learn", NULL, learnt, r);
	open_fid(r, lf, P9_OWRITE, learnt, r);
	write_fid(r, lf, line, strlen(line), learnt, r);
	clunk_fid(r, lf, learnt, r);
}

static void
waited(void *arg, int err, struct p9_fcall *rep)
{
	struct run *r = arg;
	char line[256];
	size_t n;
	int code;

	if (err)
		lost(r, err, rep);
	n = rep->u.rread.count < sizeof line ? rep->u.rread.count
	                                     : sizeof line - 1;
	memcpy(line, rep->u.rread.data, n);
	line[n] = '\0';
	if (sscanf(line, "exit %d", &code) == 1)
		r->status = code & 0xff;
	else if (sscanf(line, "signal %d", &code) == 1) {
		r->status = 128 + (code & 0x7f);
		r->sig = code;
	} else
		die("%s on %s: unknown status '%s'", r->cmd, r->addr, line);
	if (r->ghost)
		learn(r);
	finish(r);
}

/* ---- stdin ---- */

/* A chunk of stdin: > 0 bytes, or 0 at its end (an error ends it too). */
static ssize_t
in_read(struct in *x)
{
	struct pollfd p = {.fd = 0, .events = POLLIN};
	ssize_t n;

	for (;;) {
		if ((n = read(0, x->buf, x->cap)) >= 0)
			return n;
		if (errno == EAGAIN) /* inherited non-blocking */
			poll(&p, 1, -1);
		else if (errno != EINTR)
			return 0;
	}
}

static void *
in_thread(void *arg)
{
	struct in *x = arg;
	ssize_t n = (ssize_t)x->first;

	for (;;) {
		if (!x->first)
			n = in_read(x);
		x->first = 0;
		pthread_mutex_lock(&x->lock);
		x->len = n;
		uv_async_send(&x->wake);
		while (x->len >= 0)
			pthread_cond_wait(&x->cond, &x->lock);
		pthread_mutex_unlock(&x->lock);
		if (n == 0)
			return NULL;
	}
}

static void in_wake(uv_async_t *h);

/* Hands the buffer back to the thread. */
static void
in_next(struct in *x)
{
	pthread_mutex_lock(&x->lock);
	x->len = -1;
	pthread_cond_signal(&x->cond);
	pthread_mutex_unlock(&x->lock);
}

static void
in_closed(void *arg, int err, struct p9_fcall *rep)
{
	(void)arg, (void)err, (void)rep; /* its end reached the program */
}

static void
in_written(void *arg, int err, struct p9_fcall *rep)
{
	struct in *x = arg;

	if (err || rep->u.rwrite.count == 0) {
		/* the program no longer reads (its stdin is closed) */
		uv_close((uv_handle_t *)&x->wake, NULL);
		clunk_fid(x->r, x->fid, in_closed, x);
		return;
	}
	/* a write may take less than it was given (the program's pipe had
	 * room for part): the rest goes next, nothing is dropped */
	x->done += rep->u.rwrite.count < x->n - x->done ? rep->u.rwrite.count
	                                                 : x->n - x->done;
	if (x->done < x->n) {
		write_fid(x->r, x->fid, x->buf + x->done, x->n - x->done,
		    in_written, x);
		return;
	}
	in_next(x);
}

static void
in_wake(uv_async_t *h)
{
	struct in *x = h->data;
	ssize_t n;

	pthread_mutex_lock(&x->lock);
	n = x->len;
	pthread_mutex_unlock(&x->lock);
	if (n < 0)
		return;
	if (n == 0) { /* the last writer's clunk is the program's EOF */
		uv_close((uv_handle_t *)&x->wake, NULL);
		clunk_fid(x->r, x->fid, in_closed, x);
		in_next(x);
		return;
	}
	x->n = (size_t)n;
	x->done = 0;
	write_fid(x->r, x->fid, x->buf, (size_t)n, in_written, x);
}

static void
in_start(struct run *r)
{
	struct in *x = &r->in;
	pthread_t t;

	x->r = r;
	x->wake.data = x;
	x->len = -1;
	if (uv_async_init(r->loop, &x->wake, in_wake) < 0 ||
	    pthread_create(&t, NULL, in_thread, x) != 0)
		die("cannot relay stdin: %s", strerror(errno));
	pthread_detach(t);
}

/* stdin that never blocks (a file, /dev/null) is tried before anything is
 * sent: when it is empty the program is told so in the spawn, and no stdin
 * relay is needed. */
static void
in_peek(struct run *r)
{
	struct stat st;
	ssize_t n;

	r->in.cap = 64 * 1024;
	if (!(r->in.buf = malloc(r->in.cap)))
		die("out of memory");
	if (fstat(0, &st) < 0 ||
	    !(S_ISREG(st.st_mode) || (S_ISCHR(st.st_mode) && !isatty(0))) ||
	    (r->ghost && S_ISREG(st.st_mode)))
		return; /* (a ghost may yet run its program here, on it) */
	while ((n = read(0, r->in.buf, r->in.cap)) < 0 && errno == EINTR)
		;
	if (n == 0)
		r->use_stdin = 0;
	else if (n > 0)
		r->in.first = (size_t)n;
}

/* ---- signals ---- */

static void
stopped_after(void *arg, int err, struct p9_fcall *rep)
{
	(void)arg, (void)err, (void)rep;
	restore_tty();
	kill(getpid(), SIGSTOP);
}

static void
sent(void *arg, int err, struct p9_fcall *rep)
{
	(void)arg, (void)err, (void)rep; /* a lost run shows elsewhere */
}

/* Every catchable signal goes to the program's process group; a stop
 * (^Z) stops the program, then us, as the shell expects. */
static void
forward(struct run *r, int sig)
{
	char cmd[32];

	if (!r->spawned) {
		sigaddset(&r->pending, sig);
		return;
	}
	if (sig == SIGWINCH && r->tty) {
		unsigned rows, cols;

		term_size(&rows, &cols);
		snprintf(cmd, sizeof cmd, "winsize %u %u\n", rows, cols);
		write_fid(r, r->ctl, cmd, strlen(cmd), sent, r);
		return;
	}
	snprintf(cmd, sizeof cmd, "signal %d\n", sig);
	write_fid(r, r->ctl, cmd, strlen(cmd),
	    sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU ? stopped_after
	                                                         : sent,
	    r);
}

static void
on_signal(uv_poll_t *p, int status, int events)
{
	struct run *r = p->data;
	struct signalfd_siginfo si;

	(void)status, (void)events;
	while (read(r->sigfd, &si, sizeof si) == (ssize_t)sizeof si)
		forward(r, (int)si.ssi_signo);
}

/* ---- the steps ---- */

struct step {
	struct run *r;
	const char *what;
};

static void
step_done(void *arg, int err, struct p9_fcall *rep)
{
	struct step *s = arg;

	if (err)
		die("%s on %s: %s", s->what, s->r->addr, why(err, rep));
}

static void
stream_open(struct run *r, uint32_t fid, const char *name, uint8_t mode,
    struct step *st)
{
	walk(r, r->root, fid, "last", name, step_done, st);
	open_fid(r, fid, mode, step_done, st);
}

/* Right behind the spawn, in the same batch: open the new slot's files
 * (through "last", the slot this attach made) and read them. */
static void
streams_open(struct run *r)
{
	static struct step s_out, s_err, s_wait, s_in;

	s_out = (struct step){r, "stdout"};
	s_err = (struct step){r, "stderr"};
	s_wait = (struct step){r, "wait"};
	s_in = (struct step){r, "stdin"};
	stream_open(r, r->out.fid, "stdout", P9_OREAD, &s_out);
	stream_open(r, r->err.fid, "stderr", P9_OREAD, &s_err);
	stream_open(r, r->wait, "wait", P9_OREAD, &s_wait);
	if (r->use_stdin)
		stream_open(r, r->in.fid, "stdin", P9_OWRITE, &s_in);
	read_fid(r, r->wait, 255, waited, r);
	read_fid(r, r->out.fid, r->iosize, out_read, &r->out);
	read_fid(r, r->err.fid, r->iosize, out_read, &r->err);
	if (r->use_stdin)
		in_start(r);
}

static void
spawned(void *arg, int err, struct p9_fcall *rep)
{
	struct run *r = arg;

	if (err)
		die("%s on %s: %s", r->cmd, r->addr, why(err, rep));
	r->t1 = now_ms();
	if (r->tty && r->use_stdin && isatty(0) && tcgetattr(0, &saved) == 0) {
		/* keys go to the program's terminal as they are typed */
		struct termios t = saved;

		cfmakeraw(&t);
		raw = tcsetattr(0, TCSADRAIN, &t) == 0;
	}
}

static void
attached(void *arg, int err, struct p9_fcall *rep)
{
	struct run *r = arg;

	if (err)
		die("%s serves no processes to you: %s", r->addr,
		    why(err, rep));
}

static void
cloned(void *arg, int err, struct p9_fcall *rep)
{
	struct run *r = arg;

	if (err)
		die("new process on %s: %s", r->addr, why(err, rep));
}

static void
unanswered(void *arg, int err, struct p9_fcall *rep)
{
}

static void
placed(void *arg, int err, struct p9_fcall *rep)
{
	if (err)
		die("%s", why(err, rep));
}

static void spawn(struct run *r);
static void ghost_local(struct run *r);
static void forward_set(sigset_t *set);

/* Placed here: the program runs as our child, and we wait, with our
 * attach to the cluster daemon open (so it counts the run here while it
 * lasts), pass on the signals sent to us alone (the terminal's reach it
 * too), stop when it stops, and end as it ended. */
static void
ghost_here(struct run *r)
{
	sigset_t set;
	siginfo_t si;
	pid_t pid;
	int sig, st;

	forward_set(&set);
	sigaddset(&set, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if ((pid = fork()) <= 0)
		ghost_local(r); /* the child; or, no child to be had, we in
		                 * its place */
	for (sig = 1; sig < NSIG; sig++)
		if (sigismember(&r->pending, sig) == 1)
			kill(pid, sig);
	for (;;) {
		if ((sig = sigwaitinfo(&set, &si)) < 0)
			continue;
		if (sig != SIGCHLD) {
			if ((si.si_code == SI_USER || si.si_code == SI_QUEUE ||
			        si.si_code == SI_TKILL) &&
			    si.si_pid != pid)
				kill(pid, sig);
			continue;
		}
		while (waitpid(pid, &st, WNOHANG | WUNTRACED) == pid) {
			if (WIFSTOPPED(st)) {
				raise(SIGSTOP); /* as it did: the shell sees a
				                 * stopped job */
				kill(pid, SIGCONT);
				continue;
			}
			if (WIFSIGNALED(st))
				unum_die_of(WTERMSIG(st));
			exit(WIFEXITED(st) ? WEXITSTATUS(st) : 255);
		}
	}
}

/* The cluster's answer to "place": "NODE here" runs the program here;
 * "NODE there" (or a server that does not place) spawns it. */
static void
ghost_placed(void *arg, int err, struct p9_fcall *rep)
{
	struct run *r = arg;
	char text[130];
	size_t n;

	if (!err) {
		n = rep->u.rread.count < sizeof text - 1 ? rep->u.rread.count
		                                         : sizeof text - 1;
		memcpy(text, rep->u.rread.data, n);
		text[n] = '\0';
		if (strstr(text, " here"))
			ghost_here(r);
	}
	spawn(r);
}

static void
connected(void *arg, struct p9_client *c, int err)
{
	struct run *r = arg;
	struct p9_fcall t = {.type = P9_TATTACH};
	char uname[32];

	if (!c)
		die("cannot reach %s: %s", r->rt.where, strerror(-err));
	r->c = c;
	r->iosize = p9_client_msize(c) - P9_IOHDRSZ;
	r->root = p9_client_fid_new(c);
	r->ctl = p9_client_fid_new(c);
	r->out.fid = p9_client_fid_new(c);
	r->err.fid = p9_client_fid_new(c);
	r->wait = p9_client_fid_new(c);
	r->in.fid = p9_client_fid_new(c);

	snprintf(uname, sizeof uname, "%u", (unsigned)geteuid());
	t.u.attach.fid = r->root;
	t.u.attach.afid = P9_NOFID;
	t.u.attach.uname = uname;
	t.u.attach.aname = r->rt.aname;
	t.u.attach.n_uname = (uint32_t)geteuid();
	call(r, &t, attached, r);
	if (r->ghost) {
		/* where first: here means the program itself, in our place */
		uint32_t pf = p9_client_fid_new(c);

		walk(r, r->root, pf, "place", NULL, unanswered, NULL);
		open_fid(r, pf, P9_OREAD, unanswered, NULL);
		read_fid(r, pf, 128, ghost_placed, r);
		clunk_fid(r, pf, unanswered, NULL);
		return;
	}
	spawn(r);
}

/* The spawn and its streams, in one batch behind the attach. */
static void
spawn(struct run *r)
{
	int sig;

	if (r->policy) {
		/* this attach's placement, before its clone: no round trip */
		uint32_t pf = p9_client_fid_new(r->c);

		walk(r, r->root, pf, "policy", NULL, placed, r);
		open_fid(r, pf, P9_OWRITE, placed, r);
		write_fid(r, pf, r->policy, strlen(r->policy), placed, r);
		clunk_fid(r, pf, unanswered, NULL);
	}
	walk(r, r->root, r->ctl, "clone", NULL, cloned, r);
	open_fid(r, r->ctl, P9_ORDWR, cloned, r);
	write_fid(r, r->ctl, r->text, strlen(r->text), spawned, r);
	streams_open(r);
	r->spawned = 1;
	for (sig = 1; sig < NSIG; sig++)
		if (sigismember(&r->pending, sig) == 1)
			forward(r, sig);
}

static const char *cluster_env; /* $UNUM_CLUSTER before the ghost's */

/* The ghost steps aside: the program runs here, in its place (same pid,
 * descriptors, signals), as if the shim had not sent it. */
static void
ghost_local(struct run *r)
{
	sigset_t none;
	int sig;

	if (cluster_env)
		setenv("UNUM_CLUSTER", cluster_env, 1);
	else
		unsetenv("UNUM_CLUSTER");
	unum_restore_signals();
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	for (sig = 1; sig < NSIG; sig++)
		if (sigismember(&r->pending, sig) == 1)
			raise(sig); /* what came meanwhile is the program's */
	{
		char *file = r->argv[0];

		if (ghost_argv0)
			r->argv[0] = (char *)ghost_argv0;
		execv(file, r->argv);
		r->argv[0] = file;
	}
	fprintf(stderr, "unum: %s: %s\n", r->argv[0], strerror(errno));
	exit(errno == ENOENT ? 127 : 126);
}

int
unum_fds_beyond_2(int cloexec)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd <= 2 || fd == dirfd(d))
			continue;
		n++;
		if (cloexec)
			fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
	}
	closedir(d);
	return n;
}

/* Is p under dir (or dir itself)? */
static int
under(const char *p, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return !strncmp(p, dir, n) && (p[n] == '/' || p[n] == '\0');
}

/* The paths the program's arguments name on this node, outside what is
 * imported anyway and outside the system's own directories (the same on
 * every node): "/x", "-I/x", "--opt=/x".  Each is imported (the path, or
 * for one not there yet, such as an output, its directory).  -1 when
 * there are more than can be imported: the program stays here. */
static int
arg_imports(char **argv)
{
	static const char *const system_dirs[] = {"/usr", "/lib", "/lib32",
	    "/lib64", "/libx32", "/bin", "/sbin", "/etc", "/opt", "/proc", "/sys",
	    "/dev", "/run", "/var/lib", "/var/cache"};
	static char paths[PSRV_MAX_IMPORTS][4096];
	int i, k, np = 0;

	for (i = 1; argv[i]; i++) {
		const char *a = argv[i], *eq;
		char path[4096], *slash;
		struct stat st;
		size_t j;

		if (a[0] == '-') {
			if ((eq = strstr(a, "=/")))
				a = eq + 1;
			else if (a[1] && a[1] != '-' && (eq = strchr(a, '/')) &&
			         eq - a <= 3)
				a = eq; /* -I/x, -L/x, -o/x */
			else
				continue;
		}
		if (a[0] != '/' || strlen(a) >= sizeof path || strstr(a, "/../") ||
		    strstr(a, "//"))
			continue;
		snprintf(path, sizeof path, "%s", a);
		if (stat(path, &st) < 0) {
			if (!(slash = strrchr(path, '/')) || slash == path)
				continue;
			*slash = '\0'; /* an output: its directory */
			if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
				continue;
		}
		if (!strcmp(path, "/"))
			continue;
		for (j = 0; j < sizeof system_dirs / sizeof system_dirs[0] &&
		            !under(path, system_dirs[j]);
		     j++)
			;
		if (j < sizeof system_dirs / sizeof system_dirs[0])
			continue;
		for (k = 0; k < ns_n && !under(path, ns_paths[k]); k++)
			;
		if (k < ns_n)
			continue; /* imported already */
		if (ns_n >= PSRV_MAX_IMPORTS || np >= PSRV_MAX_IMPORTS)
			return -1;
		snprintf(paths[np], sizeof paths[np], "%s", path);
		ns_paths[ns_n++] = paths[np++];
	}
	return 0;
}

/* This node's unumd as the cluster knows it (the fan-out's runs are
 * told in $UNUM_ORIGIN, read once by their parent); NULL if unknown. */
static const char *
origin_addr(void)
{
	static char from[CLU_ADDR_MAX];
	const char *env = getenv("UNUM_ORIGIN");

	if (env && *env && strlen(env) < sizeof from)
		return strcpy(from, env);
	if (ghost_mode)
		return NULL; /* a ghost: the session told it, or none is known */
	return unum_self_addr();
}

/* A node given by name, not address: letters, digits, '-', '_', '.',
 * and not an IPv4 address. */
static int
node_name(const char *s)
{
	struct in_addr a;

	return *s &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                 "0123456789-_.") == strlen(s) &&
	       inet_pton(AF_INET, s, &a) != 1;
}

/* The run goes through this node's unum-clusterd: it runs, no address
 * is set ($UNUM_ADDR), and the node, if any, is a name. */
static int
by_cluster(const char *node, const char *policy)
{
	const char *env = getenv("UNUM_ADDR");

	if (!unum_cluster_here())
		return 0;
	if (node)
		return node_name(node);
	return policy || !env || !*env;
}

/* -a, -w LIST, -N COUNT: the nodes, then the fan-out. */
static int
fan(const char *list, int all, long copies, const char *policy, int gather,
    int width, int broadcast, unsigned tree, char **cmd)
{
	struct clu_member *m = NULL, **mp = NULL;
	char **labels = NULL, **addrs = NULL, err[512];
	size_t nm = 0, n = 0, i, k;
	int rc;

	if (all || copies || (list && unum_cluster_here())) {
		unum_members(&m, &nm);
		/* the runs need not ask again where they come from */
		for (i = 0; i < nm; i++)
			if (m[i].self && *m[i].addr)
				setenv("UNUM_ORIGIN", m[i].addr, 0);
	}
	if (list && unum_nodelist(list, &labels, &n, err, sizeof err) < 0) {
		fprintf(stderr, "unum: %s\n", err);
		return 255;
	}
	if (list) {
		/* names of members go to their unumd's address */
		if (!(addrs = calloc(n, sizeof *addrs)))
			abort();
		for (i = 0; i < n; i++) {
			for (k = 0; k < nm && strcmp(m[k].name, labels[i]); k++)
				;
			addrs[i] = k < nm ? m[k].addr : labels[i];
		}
	} else if (all) {
		if (!(labels = calloc(nm, sizeof *labels)) ||
		    !(addrs = calloc(nm, sizeof *addrs)))
			abort();
		for (i = 0; i < nm; i++)
			if (m[i].state == CLU_ALIVE && !m[i].m.drain) {
				labels[n] = m[i].name;
				addrs[n++] = m[i].addr;
			}
		if (n == 0) {
			fprintf(stderr, "unum: -a: no live node in the cluster\n");
			return 255;
		}
	} else {
		/* COUNT copies placed here, by the cluster's policy and the
		 * members' view, as the daemon would place them one by one */
		struct clu_policy p, over;
		struct p9_cl *cl;
		uint32_t root;
		char *text;
		size_t len;
		unsigned rr = 0;

		cl = unum_cluster_connect("proc", &root);
		if ((rc = unum_read_text(cl, root, "policy", &text, &len)) < 0) {
			fprintf(stderr, "unum: the cluster's policy: %s\n",
			    p9_cl_strerror(rc));
			return 255;
		}
		p9_cl_close(cl);
		text[strcspn(text, "\n")] = '\0';
		if (clu_policy_parse(text, &p, err, sizeof err) < 0 ||
		    (policy && clu_policy_parse(policy, &over, err, sizeof err) < 0)) {
			fprintf(stderr, "unum: %s\n", err);
			return 255;
		}
		free(text);
		if (policy)
			clu_policy_merge(&p, &over);
		if (!(mp = calloc(nm, sizeof *mp)) ||
		    !(labels = calloc((size_t)copies, sizeof *labels)) ||
		    !(addrs = calloc((size_t)copies, sizeof *addrs)))
			abort();
		for (i = 0; i < nm; i++)
			mp[i] = &m[i];
		for (n = 0; n < (size_t)copies; n++) {
			struct clu_member *c =
			    clu_place(mp, (unsigned)nm, &p, &rr, 0);

			if (!c) {
				char ps[300];

				clu_policy_format(&p, ps, sizeof ps);
				fprintf(stderr, "unum: placement '%s': %s\n", ps,
				    errno == ENOENT ? "no such node"
				    : errno == EHOSTUNREACH
				        ? "the node is not alive"
				        : "no live member meets it");
				return 255;
			}
			labels[n] = c->name;
			addrs[n] = c->addr;
		}
	}
	{
		/* what each run needs to know besides: imports */
		static char *extra[2 + 2 * 16 + 1];
		int e = 0, j;

		if (noimport_all)
			extra[e++] = "--no-import";
		for (j = 0; j < ns_n && e < 2 + 2 * 16; j++) {
			extra[e++] = "-i";
			extra[e++] = ns_paths[j];
		}
		extra[e] = NULL;
		/* a tree for many nodes; copies (-N) go out flat: the nodes
		 * are few, the runs many */
		rc = unum_fanout_tree(labels, addrs, n, gather, width, broadcast,
		    extra, copies ? 0 : tree, getenv("UNUM_ORIGIN"), cmd);
	}
	if (list)
		for (i = 0; i < n; i++)
			free(labels[i]);
	free(labels);
	free(addrs);
	free(mp);
	free(m);
	return rc;
}

int
unum_run(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"node", required_argument, NULL, 'n'},
	    {"no-stdin", no_argument, NULL, 'I'},
	    {"tty", no_argument, NULL, 't'},
	    {"nodes", required_argument, NULL, 'w'},
	    {"all", no_argument, NULL, 'a'},
	    {"copies", required_argument, NULL, 'N'},
	    {"policy", required_argument, NULL, 'p'},
	    {"import", required_argument, NULL, 'i'},
	    {"stdin", no_argument, NULL, 'S'},
	    {"tree", required_argument, NULL, 'T'},
	    {"subtree", no_argument, NULL, 'U'},
	    {"origin", required_argument, NULL, 'O'},
	    {"ghost", no_argument, NULL, 'G'},
	    {"argv0", required_argument, NULL, 'A'},
	    {"no-import", no_argument, NULL, 'X'},
	    {"gather", no_argument, NULL, 'b'},
	    {"fanout", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static struct run r;
	struct p9_client_opts o;
	sigset_t set;
	int ch, nostdin = 0, rc, gather = 0, width = 64, all = 0, noimport = 0;
	int remote = 0, broadcast = 0;
	unsigned tree = 32;
	long copies = 0;
	const char *list = NULL;

	memset(&r, 0, sizeof r);
	r.status = -1;
	ignored_now();
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+n:N:p:i:athw:bf:", lopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'w':
			list = optarg;
			break;
		case 'a':
			all = 1;
			break;
		case 'b':
			gather = 1;
			break;
		case 'f':
		case 'N': {
			char *end;
			long v = strtol(optarg, &end, 10);
			long max = ch == 'f' ? 4096 : 65536;

			if (end == optarg || *end || v < 1 || v > max) {
				fprintf(stderr,
				    "unum: -%c wants a number from 1 to %ld, "
				    "not '%s'\n",
				    ch, max, optarg);
				return 255;
			}
			if (ch == 'f')
				width = (int)v;
			else
				copies = v;
			break;
		}
		case 'n':
			r.addr = optarg;
			break;
		case 'p':
			r.policy = optarg;
			break;
		case 'i':
			if (optarg[0] != '/' || ns_n >= 16) {
				fprintf(stderr, "unum: -i wants an absolute path "
				                "(16 at most)\n");
				return 255;
			}
			ns_paths[ns_n++] = optarg;
			break;
		case 'X':
			noimport = noimport_all = 1;
			break;
		case 'S':
			broadcast = 1;
			break;
		case 'T': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (end == optarg || *end || v < 0 || v > 65536) {
				fprintf(stderr, "unum: --tree wants a number from "
				                "0 to 65536, not '%s'\n",
				    optarg);
				return 255;
			}
			tree = (unsigned)v;
			break;
		}
		case 'U':
			tree = 0; /* a share of a tree: no deeper */
			break;
		case 'G': {
			/* unum-ghost, in a program's place (the shim exec'ed
			 * it): placed through the session's process-server
			 * connection, and its own children stay where it
			 * lands */
			const char *psc = getenv("UNUM_PSC");

			r.ghost = ghost_mode = 1;
			r.t0 = now_ms();
			cluster_env = getenv("UNUM_CLUSTER");
			if (psc && *psc)
				setenv("UNUM_CLUSTER", psc, 1);
			setenv("UNUM_PLACED", "1", 1);
			break;
		}
		case 'A':
			ghost_argv0 = optarg;
			break;
		case 'O':
			/* (a subtree's runs see the first origin's files) */
			if (strlen(optarg) >= CLU_ADDR_MAX) {
				fprintf(stderr, "unum: --origin: too long\n");
				return 255;
			}
			setenv("UNUM_ORIGIN", optarg, 1);
			break;
		case 'I':
			nostdin = 1;
			break;
		case 't':
			r.tty = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 255;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 255;
	}
	if ((!!list + all + !!copies) > 1) {
		fprintf(stderr, "unum: -a, -w and -N: one of them\n");
		return 255;
	}
	if ((list || all || copies) && (r.addr || r.tty)) {
		fprintf(stderr, "unum: -a, -w and -N choose the nodes: not with "
		                "-n or -t\n");
		return 255;
	}
	if (list || all || copies)
		return fan(list, all, copies, r.policy, gather, width,
		    broadcast, tree, argv + optind);
	if (gather) {
		fprintf(stderr, "unum: -b gathers the output of -a, -w or -N\n");
		return 255;
	}
	r.cmd = argv[optind];
	r.argv = argv + optind;
	if ((r.ghost &&
	        (r.addr || r.policy || r.tty || argv[optind][0] != '/')) ||
	    (ghost_argv0 && !r.ghost))
		die("--ghost takes a program's absolute path and its "
		    "arguments only (and --argv0)");
	/* a program with more descriptors than 0-2 (make's jobserver),
	 * or with no cluster to go to, stays here */
	if (r.ghost && (unum_fds_beyond_2(0) != 0 || !by_cluster(NULL, NULL)))
		ghost_local(&r);
	if ((remote = by_cluster(r.addr, r.policy))) {
		/* the cluster places it: pinned by name, or by the policy */
		static char pol[512];

		if (r.addr)
			snprintf(pol, sizeof pol, "node '%s'%s%s", r.addr,
			    r.policy ? " " : "", r.policy ? r.policy : "");
		if (r.addr || r.policy)
			r.policy = pol[0] ? pol : r.policy;
		if (p9_addr_parse(&r.rt.a, unum_cluster_socket(), 0) < 0 ||
		    !r.rt.a.is_unix)
			die("$UNUM_CLUSTER: '%s' is not a Unix socket path",
			    unum_cluster_socket());
		snprintf(r.rt.aname, sizeof r.rt.aname, "proc");
		snprintf(r.rt.where, sizeof r.rt.where,
		    "the cluster daemon (%s)", unum_cluster_socket());
		r.rt.shown = r.addr ? r.addr : "the cluster";
		r.addr = r.rt.shown;
	} else {
		const char *given = r.addr;

		if (r.policy)
			die("-p places through unum-clusterd, and this node "
			    "runs none (%s)",
			    unum_cluster_socket());
		if (unum_route(given, "proc", &r.rt) < 0)
			die("bad node address '%s'",
			    given ? given : getenv("UNUM_ADDR"));
		r.addr = r.rt.shown;
		remote = r.rt.relayed || (!r.rt.a.is_unix && !r.rt.a.plain);
	}
	/* another node sees this one's files at the same paths: the
	 * working directory, $HOME and -i's, from this node's unumd as the
	 * cluster knows it */
	if (!noimport && unum_cluster_here() && remote) {
		static char cwd[4096];
		const char *home = getenv("HOME");

		if ((ns_from = origin_addr())) {
			if (getcwd(cwd, sizeof cwd) && ns_n < 18)
				ns_paths[ns_n++] = cwd;
			if (home && home[0] == '/' && strcmp(home, "/") &&
			    ns_n < 18)
				ns_paths[ns_n++] = (char *)home;
			/* and what its arguments name, or it stays here */
			if (r.ghost && arg_imports(r.argv) < 0)
				ghost_local(&r);
		}
	}
	/* stdin: a pipe or file always; a terminal only in the foreground */
	r.use_stdin = !nostdin && (!isatty(0) || tcgetpgrp(0) == getpgrp());
	if (r.use_stdin)
		in_peek(&r);
	if (!(r.text = spawn_text(argv + optind, !r.use_stdin, r.tty)))
		die("out of memory");
	atexit(restore_tty);

	/* signals are taken from the start, through a signalfd */
	forward_set(&set);
	sigemptyset(&r.pending);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	r.loop = uv_default_loop();
	if ((r.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0 ||
	    uv_poll_init(r.loop, &r.sigpoll, r.sigfd) < 0)
		die("cannot take signals: %s", strerror(errno));
	r.sigpoll.data = &r;
	uv_poll_start(&r.sigpoll, UV_READABLE, on_signal);

	r.out = (struct out){&r, 0, 1, 0};
	r.err = (struct out){&r, 0, 2, 0};
	pthread_mutex_init(&r.in.lock, NULL);
	pthread_cond_init(&r.in.cond, NULL);
	memset(&o, 0, sizeof o);
	o.dialect = P9_2000U; /* .u: errors come with their text */
	o.tls = r.rt.tls;
	/* the spawn goes with the Tversion, when it fits any msize */
	o.eager = strlen(r.text) + P9_IOHDRSZ < P9_MINMSIZE;
	if ((rc = p9_client_connect(r.loop, &r.rt.a, &o, connected, &r)) < 0)
		die("cannot reach %s: %s", r.rt.where, strerror(-rc));
	uv_run(r.loop, UV_RUN_DEFAULT);
	die("lost %s on %s", r.cmd, r.addr);
	return 255;
}
