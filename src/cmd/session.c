/*
 * session.c - "unum exec CMD" and "unum sh": a session.  CMD runs here
 * with libunum.so preloaded and the session's variables set (see
 * src/shim/shim.c): every program it starts, and theirs, keeps them, and
 * the programs the policy names (/etc/unum/session.conf, -d; else the
 * compilers) are sent through the process-server connection (unum-clusterd
 * here, or $UNUM_PSC) to the node it chooses, by unum-ghost in their
 * place.
 *
 * A session has a name ($UNUM_SESSION; --session, else HOST-PID-XXXX):
 * what runs of it on other nodes is in a cgroup of that name there, so
 * `unum ps -s` lists it and `unum kill -s` ends it.  unum stays CMD's
 * parent and the session's subreaper: when CMD ends, whatever of the
 * session still runs, here (its orphans come to us) or on any node, is
 * killed, and unum exits as CMD did (or dies of the same signal).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>

#include "cluster/cluster.h"
#include "conf/conf.h"
#include "run.h"

#define DEFAULT_REMOTE "cc:gcc:g++:c++:cc1:cc1plus:clang:clang++:as"
#define DEFAULT_LOCAL                                                          \
	"vi:vim:nvim:emacs:nano:less:more:man:top:htop:ssh:sudo:su:passwd:"   \
	"login:screen:tmux"
#define SESSION_CONF "/etc/unum/session.conf"

/* The shim beside this unum (build/, or ../lib/unum/). */
static int
find_shim(const char *self, char *out, size_t cap)
{
	char dir[4096], *slash;

	snprintf(dir, sizeof dir, "%s", self);
	if (!(slash = strrchr(dir, '/')))
		return -1;
	*slash = '\0';
	snprintf(out, cap, "%s/libunum.so", dir);
	if (access(out, R_OK) == 0)
		return 0;
	snprintf(out, cap, "%s/../lib/unum/libunum.so", dir);
	return access(out, R_OK) == 0 ? 0 : -1;
}

/* A pattern: a basename with '*' for any run; no ':' or '/'. */
static int
pattern_ok(const char *p)
{
	return *p && !strchr(p, ':') && !strchr(p, '/') && strlen(p) < 256;
}

static void
add(char *list, size_t cap, const char *p)
{
	size_t n = strlen(list);

	snprintf(list + n, cap - n, "%s%s", n ? ":" : "", p);
}

struct lists {
	char remote[4096], local[4096];
	int remote_set, local_set;
};

static int
on_conf(void *arg, struct conf_line *l, char *err, size_t cap)
{
	struct lists *ls = arg;
	int i, remote = !strcmp(l->argv[0], "remote");

	if (!remote && strcmp(l->argv[0], "local")) {
		snprintf(err, cap, "%s:%d: unknown setting '%s' (remote, local)",
		    l->file, l->lineno, l->argv[0]);
		return -1;
	}
	for (i = 1; i < l->argc; i++) {
		if (!pattern_ok(l->argv[i])) {
			snprintf(err, cap, "%s:%d: '%s' is not a program name "
			                   "pattern",
			    l->file, l->lineno, l->argv[i]);
			return -1;
		}
		add(remote ? ls->remote : ls->local,
		    sizeof ls->remote, l->argv[i]);
	}
	*(remote ? &ls->remote_set : &ls->local_set) = 1;
	return 0;
}

/* Runs fn in a child, so that a cluster daemon that has gone (and the
 * exit it makes) cannot take the session with it; its output (at most
 * cap - 1 bytes) into out.  0 if it exited 0 within secs. */
static int
in_child(void (*fn)(void *, int), void *arg, char *out, size_t cap,
    unsigned secs)
{
	int p[2], st;
	pid_t pid;
	ssize_t n = 0, k;
	time_t end = time(NULL) + secs;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		fn(arg, p[1]);
		_exit(0);
	}
	close(p[1]);
	while (out && (size_t)n + 1 < cap &&
	       (k = read(p[0], out + n, cap - 1 - (size_t)n)) != 0)
		if (k > 0)
			n += k;
		else if (errno != EINTR)
			break;
	if (out)
		out[n] = '\0';
	close(p[0]);
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (time(NULL) > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(10000);
	}
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* (in a child) this node's unumd as the cluster knows it */
static void
origin_of(void *arg, int fd)
{
	const char *addr = unum_self_addr();

	(void)arg;
	if (addr && write(fd, addr, strlen(addr)) < 0)
		_exit(1);
}

/* (in a child) every process of the session, on every node, killed */
static void
kill_remote(void *arg, int fd)
{
	(void)fd;
	unum_kill_session(NULL, arg, "KILL", 1);
}

/* What of the session still runs here (orphans came to us: we are its
 * subreaper) gets TERM, then KILL. */
static void
kill_local(void)
{
	int round;

	for (round = 0; round < 2; round++) {
		DIR *d = opendir("/proc");
		struct dirent *e;
		int n = 0, i;

		if (!d)
			return;
		while ((e = readdir(d))) {
			char path[300], buf[512], *rp;
			FILE *f;
			int ppid;
			pid_t pid = (pid_t)atoi(e->d_name);

			if (pid <= 0)
				continue;
			snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
			if (!(f = fopen(path, "re")))
				continue;
			if (fgets(buf, sizeof buf, f) && (rp = strrchr(buf, ')')) &&
			    sscanf(rp + 1, " %*c %d", &ppid) == 1 &&
			    ppid == (int)getpid()) {
				kill(pid, round ? SIGKILL : SIGTERM);
				kill(pid, SIGCONT);
				n++;
			}
			fclose(f);
		}
		closedir(d);
		if (!n)
			return;
		/* reaped as they go; a moment for TERM to work */
		for (i = 0; i < (round ? 50 : 100); i++) {
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			usleep(10000);
			if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
				return;
		}
	}
}

static volatile pid_t the_child;

static void
pass_on(int sig)
{
	if (the_child > 0)
		kill(the_child, sig);
}

int
unum_session(int argc, char **argv)
{
	static struct lists ls;
	char self[4096], shim[4200], session[64] = "", err[512], origin[300];
	const char *psc = getenv("UNUM_PSC"), *conf = getenv("UNUM_SESSION_CONF");
	const char *given = NULL;
	struct sigaction ign = {.sa_handler = SIG_IGN}, oldint, oldquit;
	struct sigaction pass = {.sa_handler = pass_on};
	ssize_t k;
	int i = 1, sh = !strcmp(argv[0], "sh"), st, keep_fds = 0;
	pid_t child;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: unum exec [-d PATTERN]... [-l PATTERN]... "
			       "[--session NAME] [--keep-fds]\n"
			       "                 CMD [ARG...]\n"
			       "       unum sh [-d PATTERN]... [-l PATTERN]... "
			       "[--session NAME] [--keep-fds]\n"
			       "Runs CMD (or $SHELL) in a session: the programs "
			       "it starts that -d names\n(and " SESSION_CONF
			       "'s remote lines; default the compilers,\n"
			       DEFAULT_REMOTE ")\nrun where the cluster "
			       "places them, as the children they are; -l (and "
			       "local\nlines) keep programs here.  A pattern is "
			       "a program's name, '*' any run.\nThe session "
			       "($UNUM_SESSION) is listed by `unum ps -s NAME`, "
			       "ended by\n`unum kill -s NAME`; when CMD ends, "
			       "what is left of it everywhere is killed.  "
			       "Descriptors beyond 0-2 that unum\ninherited "
			       "are not passed to CMD (--keep-fds: they are, "
			       "and the programs\nthat inherit them stay "
			       "here).\n"
			       "Exit status: CMD's.\n");
			return 0;
		}
		if ((!strcmp(argv[i], "-d") || !strcmp(argv[i], "-l")) &&
		    i + 1 < argc) {
			int d = argv[i][1] == 'd';

			if (!pattern_ok(argv[i + 1])) {
				fprintf(stderr, "unum: %s: '%s' is not a program "
				                "name pattern\n",
				    argv[0], argv[i + 1]);
				return 255;
			}
			add(d ? ls.remote : ls.local, sizeof ls.remote,
			    argv[++i]);
			continue;
		}
		if (!strcmp(argv[i], "--keep-fds")) {
			keep_fds = 1;
			continue;
		}
		if (!strcmp(argv[i], "--session") && i + 1 < argc) {
			given = argv[++i];
			if (!unum_session_name(given)) {
				fprintf(stderr, "unum: %s: '%s' is not a session "
				                "name (letters, digits, - _ .)\n",
				    argv[0], given);
				return 255;
			}
			continue;
		}
		if (!strcmp(argv[i], "--"))
			break;
		fprintf(stderr, "unum: %s: unknown option '%s'\n", argv[0],
		    argv[i]);
		return 255;
	}
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (!sh && i >= argc) {
		fprintf(stderr, "usage: unum exec [-d PATTERN]... CMD [ARG...]\n");
		return 255;
	}
	if (conf_read(conf && *conf ? conf : SESSION_CONF, on_conf, &ls, err,
	        sizeof err) < 0 &&
	    errno != ENOENT) {
		fprintf(stderr, "unum: %s\n", err);
		return 255;
	}
	if (!ls.remote_set)
		add(ls.remote, sizeof ls.remote, DEFAULT_REMOTE);
	if (!ls.local_set)
		add(ls.local, sizeof ls.local, DEFAULT_LOCAL);
	if ((k = readlink("/proc/self/exe", self, sizeof self - 1)) < 0) {
		fprintf(stderr, "unum: cannot find myself: %s\n", strerror(errno));
		return 255;
	}
	self[k] = '\0';
	if (find_shim(self, shim, sizeof shim) < 0) {
		fprintf(stderr, "unum: %s: no libunum.so beside %s\n", argv[0],
		    self);
		return 255;
	}
	if (!psc || !*psc)
		psc = unum_cluster_here() ? unum_cluster_socket() : NULL;
	if (given)
		snprintf(session, sizeof session, "%s", given);
	else {
		char host[64] = "";
		unsigned short r = 0;

		gethostname(host, sizeof host - 1);
		host[strcspn(host, ".")] = '\0';
		host[strspn(host, "abcdefghijklmnopqrstuvwxyz"
		                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")] = '\0';
		host[40] = '\0';
		if (getrandom(&r, sizeof r, 0) != sizeof r)
			r = (unsigned short)time(NULL);
		snprintf(session, sizeof session, "%s%s%d-%04x", host,
		    *host ? "-" : "", (int)getpid(), r);
	}
	/* the ghosts' imports come from this node as the cluster knows it:
	 * asked once here, not by each */
	unsetenv("UNUM_ORIGIN");
	if (psc && unum_cluster_here() &&
	    in_child(origin_of, NULL, origin, sizeof origin, 5) == 0 && *origin)
		setenv("UNUM_ORIGIN", origin, 1);
	setenv("UNUM_SHIM", shim, 1);
	{
		/* unum-ghost beside the shim (unum by that name), else us */
		char ghost[4300], *slash;

		snprintf(ghost, sizeof ghost, "%s", shim);
		if ((slash = strrchr(ghost, '/')))
			snprintf(slash + 1, sizeof ghost - (size_t)(slash + 1 - ghost),
			    "unum-ghost");
		setenv("UNUM_GHOST", slash && access(ghost, X_OK) == 0 ? ghost : self,
		    1);
	}
	setenv("UNUM_REMOTE", ls.remote, 1);
	setenv("UNUM_LOCAL", ls.local, 1);
	setenv("UNUM_SESSION", session, 1);
	if (psc)
		setenv("UNUM_PSC", psc, 1); /* none: all stays here */
	unsetenv("UNUM_PLACED");
	{
		const char *pre = getenv("LD_PRELOAD");
		char *both;

		if (pre && *pre) {
			if (asprintf(&both, "%s:%s", shim, pre) < 0)
				abort();
			setenv("LD_PRELOAD", both, 1);
		} else
			setenv("LD_PRELOAD", shim, 1);
	}

	/* what the session inherited beyond 0-2 is not passed on (as sudo
	 * does): a program of the session that hands a descriptor to its
	 * child (make's jobserver) did so itself, and that child stays here */
	if (!keep_fds)
		unum_fds_beyond_2(1);
	/* what CMD leaves behind comes to us, to be ended with it */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if ((child = fork()) < 0) {
		fprintf(stderr, "unum: %s: cannot fork: %s\n", argv[0],
		    strerror(errno));
		return 255;
	}
	if (child == 0) {
		unum_restore_signals();
		if (sh) {
			const char *shell = getenv("SHELL");

			if (!shell || !*shell)
				shell = "/bin/sh";
			execl(shell, shell, (char *)NULL);
			fprintf(stderr, "unum: sh: %s: %s\n", shell,
			    strerror(errno));
			_exit(127);
		}
		execvp(argv[i], argv + i);
		fprintf(stderr, "unum: exec: %s: %s\n", argv[i], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	/* ^C and ^\ are CMD's (the terminal sends them to it too); a TERM
	 * or HUP for us is CMD's as well, and the session ends after it */
	sigaction(SIGINT, &ign, &oldint);
	sigaction(SIGQUIT, &ign, &oldquit);
	the_child = child;
	sigaction(SIGTERM, &pass, NULL);
	sigaction(SIGHUP, &pass, NULL);
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	unsetenv("LD_PRELOAD");
	kill_local();
	if (psc && unum_cluster_here()) {
		setenv("UNUM_CLUSTER", psc, 1);
		in_child(kill_remote, session, NULL, 0, 10);
	}
	sigaction(SIGINT, &oldint, NULL);
	sigaction(SIGQUIT, &oldquit, NULL);
	if (WIFSIGNALED(st))
		unum_die_of(WTERMSIG(st)); /* as CMD did */
	return WEXITSTATUS(st);
}
