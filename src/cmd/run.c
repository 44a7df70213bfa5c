/*
 * run.c - "unum run": a program on a node, as if it ran here.  Output is
 * relayed byte for byte, stdin when it is not a terminal (or a terminal
 * in the foreground), every catchable signal is forwarded, and the exit
 * status is the program's (128+N for death by signal N).  unum's own
 * failures exit 255 with one line.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "9p/p9.h"
#include "run.h"

#define DEFAULT_SOCKET "/run/unum/unumd.sock"
#define DEFAULT_PORT 5640

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

struct run {
	int tty; /* -t: the program runs on a terminal */
	struct p9_cl *cl;
	const char *addr;
	uint32_t root, ctl;
	char dir[32]; /* the slot: "N" */
	size_t iosize;
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

/* The ctl text of a whole spawn: argv, env, dir, exec. */
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
		bad |= put_word(&buf, &len, &cap, argv[i]);
	bad |= put_text(&buf, &len, &cap, "\n");
	for (e = environ; e && *e && !bad; e++) {
		if (!strchr(*e, '=') || **e == '=')
			continue; /* not a NAME=VALUE */
		bad |= put_text(&buf, &len, &cap, "env");
		bad |= put_word(&buf, &len, &cap, *e);
		bad |= put_text(&buf, &len, &cap, "\n");
	}
	if (getcwd(cwd, sizeof cwd) && !bad) {
		bad |= put_text(&buf, &len, &cap, "dir");
		bad |= put_word(&buf, &len, &cap, cwd);
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

static uint32_t
open_file(struct run *r, const char *name, uint8_t mode)
{
	char path[64];
	uint32_t fid = p9_cl_fid_new(r->cl);
	int rc;

	snprintf(path, sizeof path, "%s/%s", r->dir, name);
	if ((rc = p9_cl_walk(r->cl, r->root, fid, path, NULL)) < 0 ||
	    (rc = p9_cl_open(r->cl, fid, mode, NULL, NULL)) < 0)
		die("%s on %s: %s", path, r->addr, strerror(-rc));
	return fid;
}

struct opening {
	struct run *r;
	const char *name;
	uint8_t mode;
	uint32_t fid;
};

static void *
open_thread(void *arg)
{
	struct opening *o = arg;

	o->fid = open_file(o->r, o->name, o->mode);
	return NULL;
}

struct relay {
	struct run *r;
	uint32_t fid;
	int fd;
};

/* stdout or stderr: read until the end, write everything. */
static void *
relay_out(void *arg)
{
	struct relay *x = arg;
	uint8_t *buf = malloc(x->r->iosize);
	ssize_t n, w;
	size_t off;

	if (!buf)
		return NULL;
	while ((n = p9_cl_read(x->r->cl, x->fid, 0, buf, x->r->iosize)) > 0)
		for (off = 0; off < (size_t)n; off += (size_t)w)
			if ((w = write(x->fd, buf + off, (size_t)n - off)) <= 0)
				goto out; /* our reader went away */
out:
	free(buf);
	return NULL;
}

/* stdin: forward until our end of file, then close the program's. */
static void *
relay_in(void *arg)
{
	struct relay *x = arg;
	uint8_t *buf = malloc(x->r->iosize);
	ssize_t n;

	if (!buf)
		return NULL;
	while ((n = read(0, buf, x->r->iosize)) > 0)
		if (p9_cl_write(x->r->cl, x->fid, 0, buf, (size_t)n) < 0)
			break;
	p9_cl_clunk(x->r->cl, x->fid); /* the last writer's clunk: EOF */
	free(buf);
	return NULL;
}

static const int forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1,
    SIGUSR2, SIGALRM, SIGTSTP, SIGCONT, SIGWINCH, SIGTTIN, SIGTTOU, SIGVTALRM,
    SIGPROF, SIGXCPU, SIGXFSZ, SIGURG, SIGPWR};

static void
forward_set(sigset_t *set)
{
	size_t i;

	sigemptyset(set);
	for (i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		sigaddset(set, forwarded[i]);
}

/* Every catchable signal goes to the program's process group; a stop
 * (^Z) stops the program, then us, as the shell expects. */
static void *
relay_signals(void *arg)
{
	struct run *r = arg;
	sigset_t set;
	char cmd[32];
	int sig;

	forward_set(&set);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGWINCH && r->tty) {
			unsigned rows, cols;

			term_size(&rows, &cols);
			snprintf(
			    cmd, sizeof cmd, "winsize %u %u\n", rows, cols);
			p9_cl_write(r->cl, r->ctl, 0, cmd, strlen(cmd));
			continue;
		}
		snprintf(cmd, sizeof cmd, "signal %d\n", sig);
		p9_cl_write(r->cl, r->ctl, 0, cmd, strlen(cmd));
		if (sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
			restore_tty();
			kill(getpid(), SIGSTOP);
		}
	}
	return NULL;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: unum run [-Nt] [-n NODE|ADDR] CMD [ARG...]\n"
	    "Runs CMD on a node as if here: output, input, signals and exit "
	    "status.\n"
	    "  -n, --node ADDR   the node's address: unix:PATH, PATH, "
	    "HOST[:PORT]\n"
	    "                    (default $UNUM_ADDR, else " DEFAULT_SOCKET
	    ")\n"
	    "  -N, --no-stdin    give CMD an empty stdin (as ssh -n)\n"
	    "  -t, --tty         run CMD on a terminal (for vi, top, shells)\n"
	    "  -h, --help        this help\n"
	    "Exit status: CMD's; 128+N if it died of signal N; 255 if unum "
	    "failed.\n");
}

struct p9_cl *
unum_proc_connect(const char *addr, uint32_t *root, const char **shown)
{
	struct p9_client_opts o;
	struct p9_addr a;
	struct p9_cl *cl;
	char uname[32];
	int e = 0, rc;

	if (!addr)
		addr = getenv("UNUM_ADDR");
	if (!addr || !*addr)
		addr = DEFAULT_SOCKET;
	*shown = addr;
	if (p9_addr_parse(&a, addr, DEFAULT_PORT) < 0)
		die("bad node address '%s'", addr);
	memset(&o, 0, sizeof o);
	o.dialect = P9_2000U; /* .u: errors come with their text */
	if (!(cl = p9_cl_connect(&a, &o, &e)))
		die("cannot reach %s: %s", addr, strerror(-e));
	*root = p9_cl_fid_new(cl);
	snprintf(uname, sizeof uname, "%u", (unsigned)geteuid());
	if ((rc = p9_cl_attach(
	         cl, *root, uname, (uint32_t)geteuid(), "proc", NULL)) < 0)
		die("%s serves no processes to you: %s", addr, strerror(-rc));
	return cl;
}

int
unum_run(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"node", required_argument, NULL, 'n'},
	    {"no-stdin", no_argument, NULL, 'N'},
	    {"tty", no_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct run r;
	struct relay out, err, in;
	pthread_t tout, terr, tin, tsig;
	sigset_t set;
	char idbuf[32], wbuf[256], *text;
	uint32_t wfid;
	int ch, rc, nostdin = 0, use_stdin, code;
	ssize_t n;

	memset(&r, 0, sizeof r);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+n:Nth", lopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			r.addr = optarg;
			break;
		case 'N':
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
	/* stdin: a pipe or file always; a terminal only in the foreground */
	use_stdin = !nostdin && (!isatty(0) || tcgetpgrp(0) == getpgrp());

	/* signals are taken by one thread, from the start */
	forward_set(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	r.cl = unum_proc_connect(r.addr, &r.root, &r.addr);
	r.iosize = p9_cl_msize(r.cl) - P9_IOHDRSZ;
	r.ctl = p9_cl_fid_new(r.cl);
	if ((rc = p9_cl_walk(r.cl, r.root, r.ctl, "clone", NULL)) < 0 ||
	    (rc = p9_cl_open(r.cl, r.ctl, P9_ORDWR, NULL, NULL)) < 0)
		die("new process on %s: %s", r.addr, strerror(-rc));
	if ((n = p9_cl_read(r.cl, r.ctl, 0, idbuf, sizeof idbuf - 1)) <= 0)
		die("new process on %s: no id", r.addr);
	idbuf[n] = '\0';
	snprintf(r.dir, sizeof r.dir, "%u", (unsigned)strtoul(idbuf, NULL, 10));

	/* the streams first, so no output is missed (opened at once: their
	 * round trips overlap on the one connection); then one write starts
	 * it all */
	{
		struct opening o[4] = {
		    {&r, "stdout", P9_OREAD, 0},
		    {&r, "stderr", P9_OREAD, 0},
		    {&r, "wait", P9_OREAD, 0},
		    {&r, "stdin", P9_OWRITE, 0},
		};
		pthread_t t[4];
		int i, k = use_stdin ? 4 : 3;

		for (i = 1; i < k; i++)
			pthread_create(&t[i], NULL, open_thread, &o[i]);
		open_thread(&o[0]);
		for (i = 1; i < k; i++)
			pthread_join(t[i], NULL);
		out = (struct relay){&r, o[0].fid, 1};
		err = (struct relay){&r, o[1].fid, 2};
		wfid = o[2].fid;
		if (use_stdin)
			in = (struct relay){&r, o[3].fid, 0};
	}
	if (!(text = spawn_text(argv + optind, !use_stdin, r.tty)))
		die("out of memory");
	rc = (int)p9_cl_write(r.cl, r.ctl, 0, text, strlen(text));
	free(text);
	if (rc < 0)
		die("%s on %s: %s", argv[optind], r.addr, strerror(-rc));
	if (r.tty && use_stdin && isatty(0) && tcgetattr(0, &saved) == 0) {
		/* keys go to the program's terminal as they are typed */
		struct termios t = saved;

		cfmakeraw(&t);
		raw = tcsetattr(0, TCSADRAIN, &t) == 0;
		atexit(restore_tty);
	}
	pthread_create(&tout, NULL, relay_out, &out);
	pthread_create(&terr, NULL, relay_out, &err);
	pthread_create(&tsig, NULL, relay_signals, &r);
	if (use_stdin) {
		pthread_create(&tin, NULL, relay_in, &in);
		pthread_detach(tin);
	}
	n = p9_cl_read(r.cl, wfid, 0, wbuf, sizeof wbuf - 1);
	if (n <= 0)
		die("lost %s on %s: %s", argv[optind], r.addr,
		    n < 0 ? strerror((int)-n) : "no status");
	wbuf[n] = '\0';
	/* all output, then the status */
	pthread_join(tout, NULL);
	pthread_join(terr, NULL);
	if (sscanf(wbuf, "exit %d", &code) == 1)
		exit(code & 0xff);
	if (sscanf(wbuf, "signal %d", &code) == 1)
		exit(128 + code);
	die("%s on %s: unknown status '%s'", argv[optind], r.addr, wbuf);
	return 255;
}
