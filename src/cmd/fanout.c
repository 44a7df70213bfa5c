/*
 * fanout.c - "unum run -w LIST", "-a" and "-N COUNT": one command on many
 * nodes at once, as pdsh and clush do.  Each node's run is an "unum run
 * --no-stdin -n NODE" of its own (so
 * every node gets exactly what a single run gives: relayed output, signals,
 * its exit status), at most `width` at a time.  Their lines come out
 * labelled with the node as they arrive, or, with -b, gathered per node
 * and printed once per group of nodes whose output is the same.  The exit
 * status is the highest of the runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include "run.h"

#define MAX_NODES 65536
#define MAX_OUT (16u << 20) /* gathered per node, then cut */

struct out {
	int fd;        /* -1 at its end */
	char *buf;     /* a partial line, or all of it when gathering */
	size_t len, cap;
};

struct job {
	const char *node; /* its label */
	const char *addr; /* for -n */
	char **sub;       /* a subtree: the unum run it starts there (its
	                   * lines come labelled already) */
	pid_t pid;      /* 0: not started or reaped */
	int status;     /* exit status as a shell reports it */
	int done;
	struct out o[2]; /* stdout, stderr */
};

/* ---- node lists: "a,b[1-3],c[01-02,7]" ---- */

static int
add_node(char ***v, size_t *n, const char *s, size_t len)
{
	char **nv;

	if (*n >= MAX_NODES)
		return -1;
	if (!(nv = realloc(*v, (*n + 1) * sizeof *nv)) ||
	    !(nv[*n] = strndup(s, len)))
		abort();
	*v = nv;
	(*n)++;
	return 0;
}

/* Expands one item (at most one bracket group, as pdsh's "n[01-16]"). */
static int
expand(char ***v, size_t *n, const char *item, char *err, size_t cap)
{
	const char *lb = strchr(item, '['), *rb;
	char *list, *save = NULL, *r;

	if (!lb)
		return add_node(v, n, item, strlen(item));
	if (!(rb = strchr(lb, ']')) || strchr(rb + 1, '[') || rb == lb + 1) {
		snprintf(err, cap, "bad node range in '%s'", item);
		return -1;
	}
	list = strndup(lb + 1, (size_t)(rb - lb - 1));
	for (r = strtok_r(list, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(r, '-'), *end;
		unsigned long lo, hi, k;
		int width = (int)(dash ? (size_t)(dash - r) : strlen(r));

		lo = strtoul(r, &end, 10);
		if (end == r || (dash ? end != dash : *end)) {
			snprintf(err, cap, "bad node range '%s' in '%s'", r, item);
			free(list);
			return -1;
		}
		hi = lo;
		if (dash) {
			hi = strtoul(dash + 1, &end, 10);
			if (end == dash + 1 || *end || hi < lo || hi - lo >= MAX_NODES) {
				snprintf(err, cap, "bad node range '%s' in '%s'", r,
				    item);
				free(list);
				return -1;
			}
		}
		for (k = lo; k <= hi; k++) {
			char name[512];
			int len = snprintf(name, sizeof name, "%.*s%0*lu%s",
			    (int)(lb - item), item, width, k, rb + 1);

			if (len < 0 || (size_t)len >= sizeof name ||
			    add_node(v, n, name, (size_t)len) < 0) {
				snprintf(err, cap, "too many nodes in '%s'", item);
				free(list);
				return -1;
			}
		}
	}
	free(list);
	return 0;
}

/* Expands "a,n[01-16],b[1,3-5]" into *nodes (n of them, to free).  -1
 * with one line in err. */
int
unum_nodelist(const char *spec, char ***nodes, size_t *n, char *err, size_t cap)
{
	char *s = strdup(spec), *save = NULL, *item, *p;
	int depth = 0;

	*nodes = NULL;
	*n = 0;
	if (!s)
		abort();
	/* commas inside brackets belong to the range: mark the others */
	for (p = s; *p; p++) {
		if (*p == '[')
			depth++;
		else if (*p == ']')
			depth--;
		else if (*p == ',' && depth == 0)
			*p = '\n';
	}
	for (item = strtok_r(s, "\n", &save); item;
	     item = strtok_r(NULL, "\n", &save))
		if (*item && expand(nodes, n, item, err, cap) < 0) {
			free(s);
			return -1;
		}
	free(s);
	if (*n == 0) {
		snprintf(err, cap, "no nodes in '%s'", spec);
		return -1;
	}
	return 0;
}

/* ---- running ---- */

static void
out_put(struct out *o, const char *p, size_t k)
{
	if (o->len + k + 1 > o->cap) {
		size_t c = o->cap ? o->cap : 4096;

		while (c < o->len + k + 1)
			c *= 2;
		if (!(o->buf = realloc(o->buf, c)))
			abort();
		o->cap = c;
	}
	memcpy(o->buf + o->len, p, k);
	o->len += k;
}

/* Prints the whole lines gathered so far ("NODE: line"); at the end also
 * what is left without a newline. */
static void
out_lines(struct job *j, int which, int end)
{
	struct out *o = &j->o[which];
	FILE *f = which ? stderr : stdout;
	size_t start = 0, i;

	for (i = 0; i < o->len; i++)
		if (o->buf[i] == '\n') {
			fprintf(f, "%s%s%.*s\n", j->sub ? "" : j->node,
			    j->sub ? "" : ": ", (int)(i - start), o->buf + start);
			start = i + 1;
		}
	if (end && start < o->len) {
		fprintf(f, "%s%s%.*s\n", j->sub ? "" : j->node,
		    j->sub ? "" : ": ", (int)(o->len - start), o->buf + start);
		start = o->len;
	}
	memmove(o->buf, o->buf + start, o->len - start);
	o->len -= start;
	fflush(f);
}

/* With --stdin: what came on stdin, kept in a memory file that each run
 * opens afresh (its own offset).  -1: runs get no stdin. */
static int stdin_copy = -1;
/* Options every run gets too (--no-import, -i PATH). */
static char **extra_args;

static int
copy_stdin(void)
{
	char buf[65536];
	ssize_t k;
	int fd = memfd_create("unum-stdin", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((k = read(0, buf, sizeof buf)) > 0)
		if (write(fd, buf, (size_t)k) != k) {
			close(fd);
			return -1;
		}
	if (k < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
job_start(struct job *j, char **cmd, char *self)
{
	int p[2][2], i, n = 0, in = -1, k;
	char **argv;
	pid_t pid;

	if (j->sub) /* a subtree's head: its own run there is the command */
		cmd = j->sub;
	while (cmd[n])
		n++;
	for (i = 0; extra_args && extra_args[i]; i++)
		;
	if (!(argv = calloc((size_t)n + (size_t)i + 8, sizeof *argv)))
		abort();
	k = 0;
	argv[k++] = "unum";
	argv[k++] = "run";
	if (stdin_copy < 0)
		argv[k++] = "--no-stdin";
	for (i = 0; extra_args && extra_args[i]; i++)
		argv[k++] = extra_args[i];
	argv[k++] = "-n";
	argv[k++] = (char *)j->addr;
	argv[k++] = "--";
	memcpy(argv + k, cmd, (size_t)n * sizeof *argv);
	if (stdin_copy >= 0) {
		char path[64];

		snprintf(path, sizeof path, "/proc/self/fd/%d", stdin_copy);
		if ((in = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			free(argv);
			return -1;
		}
	}
	if (pipe2(p[0], O_CLOEXEC) < 0 || pipe2(p[1], O_CLOEXEC) < 0) {
		free(argv);
		if (in >= 0)
			close(in);
		return -1;
	}
	if ((pid = fork()) < 0) {
		free(argv);
		if (in >= 0)
			close(in);
		return -1;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* SIGPIPE as we got it: the run passes on what is ignored */
		unum_restore_signals();
		dup2(p[0][1], 1);
		dup2(p[1][1], 2);
		if (in >= 0)
			dup2(in, 0);
		execv(self, argv);
		_exit(255);
	}
	free(argv);
	if (in >= 0)
		close(in);
	j->pid = pid;
	for (i = 0; i < 2; i++) {
		close(p[i][1]);
		j->o[i].fd = p[i][0];
	}
	return 0;
}

static void
print_groups(struct job *jobs, size_t n)
{
	size_t i, k;
	int *shown = calloc(n, sizeof *shown);

	if (!shown)
		abort();
	for (i = 0; i < n; i++) {
		if (shown[i])
			continue;
		printf("---------------\n%s", jobs[i].node);
		for (k = i + 1; k < n; k++)
			if (!shown[k] && jobs[k].o[0].len == jobs[i].o[0].len &&
			    !memcmp(jobs[k].o[0].buf, jobs[i].o[0].buf,
			        jobs[i].o[0].len)) {
				shown[k] = 1;
				printf(",%s", jobs[k].node);
			}
		printf("\n---------------\n");
		fwrite(jobs[i].o[0].buf, 1, jobs[i].o[0].len, stdout);
		if (jobs[i].o[0].len && jobs[i].o[0].buf[jobs[i].o[0].len - 1] != '\n')
			putchar('\n');
	}
	fflush(stdout);
	free(shown);
}

/* The runs of a subtree's head: this unum on the head, running cmd on
 * the share's nodes (their names, which the head's cluster knows) as a
 * fan-out of its own, lines labelled there. */
static char **
subtree(const char *self, char **labels, size_t n, const char *origin,
    char **cmd)
{
	size_t len = 0, i, k = 0, nc = 0, ne = 0;
	char **v, *list;

	for (i = 0; i < n; i++)
		len += strlen(labels[i]) + 1;
	while (cmd[nc])
		nc++;
	while (extra_args && extra_args[ne])
		ne++;
	if (!(list = malloc(len + 1)) ||
	    !(v = calloc(nc + ne + 12, sizeof *v)))
		abort();
	*list = '\0';
	for (i = 0; i < n; i++) {
		strcat(list, labels[i]);
		if (i + 1 < n)
			strcat(list, ",");
	}
	v[k++] = strdup(self);
	v[k++] = "run";
	v[k++] = "--subtree";
	if (origin) {
		v[k++] = "--origin";
		v[k++] = (char *)origin;
	}
	for (i = 0; i < ne; i++)
		v[k++] = extra_args[i];
	v[k++] = "-w";
	v[k++] = list;
	v[k++] = "--";
	for (i = 0; i < nc; i++)
		v[k++] = cmd[i];
	v[k] = NULL;
	return v;
}

int
unum_fanout(char **labels, char **addrs, size_t n, int gather, int width,
    int broadcast, char **extra, char **cmd)
{
	return unum_fanout_tree(labels, addrs, n, gather, width, broadcast,
	    extra, 0, NULL, cmd);
}

int
unum_fanout_tree(char **labels, char **addrs, size_t n, int gather,
    int width, int broadcast, char **extra, unsigned tree,
    const char *origin, char **cmd)
{
	char self[4096];
	size_t heads = 0;
	size_t i, started = 0, finished = 0;
	struct job *jobs;
	struct pollfd *pf;
	size_t *pj;
	int *pw, status = 0, sfd, progress = gather && isatty(2);
	sigset_t set;
	ssize_t k;

	if ((k = readlink("/proc/self/exe", self, sizeof self - 1)) < 0) {
		fprintf(stderr, "unum: cannot find myself: %s\n", strerror(errno));
		return 255;
	}
	self[k] = '\0';
	extra_args = extra;
	if (broadcast && (stdin_copy = copy_stdin()) < 0) {
		fprintf(stderr, "unum: cannot keep stdin for the runs: %s\n",
		    strerror(errno));
		return 255;
	}
	jobs = calloc(n, sizeof *jobs);
	pf = calloc(2 * n + 1, sizeof *pf);
	pj = calloc(2 * n + 1, sizeof *pj);
	pw = calloc(2 * n + 1, sizeof *pw);
	if (!jobs || !pf || !pj || !pw)
		abort();
	if (tree && n > tree && !gather && !broadcast) {
		/* a tree: a run on the first of every share of `tree` nodes
		 * starts the share's runs there; two rounds, not n / width */
		for (i = 0; i < n; i += tree, heads++) {
			size_t m = n - i < tree ? n - i : tree;

			jobs[heads].node = labels[i];
			jobs[heads].addr = addrs[i];
			jobs[heads].sub = subtree(self, labels + i, m, origin, cmd);
			jobs[heads].o[0].fd = jobs[heads].o[1].fd = -1;
		}
		n = heads;
	} else
		for (i = 0; i < n; i++) {
			jobs[i].node = labels[i];
			jobs[i].addr = addrs[i];
			jobs[i].o[0].fd = jobs[i].o[1].fd = -1;
		}
	/* signals go on to every run, which sends them to its node */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		fprintf(stderr, "unum: cannot take signals: %s\n", strerror(errno));
		return 255;
	}
	while (finished < n) {
		size_t np = 0;

		while (started < n && started - finished < (size_t)width) {
			if (job_start(&jobs[started], cmd, self) < 0) {
				fprintf(stderr, "unum: %s: cannot start: %s\n",
				    jobs[started].node, strerror(errno));
				jobs[started].status = 255;
				jobs[started].done = 1;
				finished++;
			}
			started++;
		}
		pf[np] = (struct pollfd){.fd = sfd, .events = POLLIN};
		pj[np++] = n;
		for (i = 0; i < started; i++) {
			int w;

			for (w = 0; w < 2; w++)
				if (jobs[i].o[w].fd >= 0) {
					pf[np] = (struct pollfd){
					    .fd = jobs[i].o[w].fd, .events = POLLIN};
					pj[np] = i;
					pw[np++] = w;
				}
		}
		if (poll(pf, (nfds_t)np, -1) < 0 && errno != EINTR)
			break;
		for (i = 1; i < np; i++) {
			struct job *j = &jobs[pj[i]];
			struct out *o = &j->o[pw[i]];
			char buf[65536];

			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			k = read(o->fd, buf, sizeof buf);
			if (k > 0) {
				if (!gather || pw[i] == 1 || o->len < MAX_OUT)
					out_put(o, buf, (size_t)k);
				if (!gather || pw[i] == 1)
					out_lines(j, pw[i], 0);
				continue;
			}
			close(o->fd);
			o->fd = -1;
			if (!gather || pw[i] == 1)
				out_lines(j, pw[i], 1);
		}
		if (pf[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
				if (si.ssi_signo != SIGCHLD)
					for (i = 0; i < started; i++)
						if (jobs[i].pid > 0 && !jobs[i].done)
							kill(jobs[i].pid, (int)si.ssi_signo);
		}
		/* reap the runs whose outputs have ended */
		for (i = 0; i < started; i++) {
			struct job *j = &jobs[i];
			int st;

			if (j->done || j->pid <= 0 || j->o[0].fd >= 0 ||
			    j->o[1].fd >= 0)
				continue;
			if (waitpid(j->pid, &st, 0) < 0)
				st = 255 << 8;
			j->status = WIFEXITED(st) ? WEXITSTATUS(st)
			                          : 128 + WTERMSIG(st);
			j->done = 1;
			finished++;
			if (progress && n > 1) {
				fprintf(stderr, "\runum: %zu/%zu nodes done", finished,
				    n);
				if (finished == n)
					fputc('\n', stderr);
			}
		}
	}
	if (gather)
		print_groups(jobs, n);
	for (i = 0; i < n; i++) {
		if (jobs[i].status > status)
			status = jobs[i].status;
		free(jobs[i].o[0].buf);
		free(jobs[i].o[1].buf);
		if (jobs[i].sub) {
			size_t w;

			free(jobs[i].sub[0]);
			for (w = 0; jobs[i].sub[w]; w++)
				if (!strcmp(jobs[i].sub[w], "-w")) {
					free(jobs[i].sub[w + 1]);
					break;
				}
			free(jobs[i].sub);
		}
	}
	free(jobs);
	free(pf);
	free(pj);
	free(pw);
	close(sfd);
	return status;
}
