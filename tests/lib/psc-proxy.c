/*
 * psc-proxy.c - a test intermediary on the process-server connection
 * (UNUM_PSC): it serves the same 9P process API by passing every message
 * on to a real server, and on the way sends all the processes to one place
 * and logs each spawn.
 *
 *	psc-proxy -l LISTEN -u UPSTREAM -a PROC_ANAME -L LOGFILE
 *
 * Each client connection gets its own connection to UPSTREAM (a unumd's
 * Unix socket) and a thread that copies 9P messages both ways.  A Tattach
 * of "proc" goes out as a Tattach of PROC_ANAME ("10.1.2.3:5640!proc":
 * unumd relays it to that node), so whatever the client meant, its
 * processes run there.  A Twrite whose data begins with the command
 * "argv" is a spawn (procsrv takes a whole spawn in one write to a ctl
 * file, and unum run writes argv first; a program's stdin that began so
 * would be counted too): it is logged as "spawn WORDS", the words of that
 * first line.  Every attach is logged as well: "attach proc -> PROC_ANAME",
 * or "attach NAME (as it is)" for another tree, passed on unchanged.
 *
 * Test code: a thread per connection and blocking writes (a client that
 * stops reading stalls its own connection only).  A message this program
 * cannot parse is passed on as it is, for the server to refuse.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#define MAXMSG (8u << 20) /* larger: the peer is not speaking 9P */
#define CHUNK 65536

enum {
	TATTACH = 104,
	TWRITE = 118,
};

static const char *listen_path, *upstream, *proc_aname;
static int logfd = -1;

/* A socket, and what was read from it that is not yet passed on. */
struct side {
	int fd;
	uint8_t *buf;
	size_t len, cap;
};

struct conn {
	struct side c, u; /* the client, upstream */
};

static uint32_t
get16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t
get32(const uint8_t *p)
{
	return get16(p) | get16(p + 2) << 16;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8 & 0xff;
	p[2] = v >> 16 & 0xff;
	p[3] = v >> 24;
}

/* One line to the log, in one write (threads share it; O_APPEND). */
static void
logline(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	if (write(logfd, line, (size_t)n) < 0)
		return; /* nothing better to do */
}

/* p[0..n) up to its first newline, printable: \\, \t, \xNN. */
static void
escape(const uint8_t *p, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (; n > 0 && *p != '\n' && o + 5 < cap; p++, n--) {
		if (*p == '\\')
			o += (size_t)snprintf(out + o, cap - o, "\\\\");
		else if (*p == '\t')
			o += (size_t)snprintf(out + o, cap - o, "\\t");
		else if (*p < 0x20 || *p >= 0x7f)
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", *p);
		else
			out[o++] = (char)*p;
	}
	out[o] = '\0';
}

static int
dial(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof sa.sun_path)
		return -1;
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads what comes (blocking): -1 at the end or on an error. */
static int
fill(struct side *s)
{
	ssize_t r;

	if (s->cap - s->len < CHUNK) {
		size_t cap = s->len + 2 * CHUNK;
		uint8_t *b = realloc(s->buf, cap);

		if (!b)
			return -1;
		s->buf = b;
		s->cap = cap;
	}
	do
		r = read(s->fd, s->buf + s->len, s->cap - s->len);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -1;
	s->len += (size_t)r;
	return 0;
}

/* The size of the whole message at off, 0 if it is not all here yet, -1
 * if its size cannot be (shorter than a header, or over MAXMSG). */
static long
msg_at(const struct side *s, size_t off)
{
	uint32_t n;

	if (s->len - off < 4)
		return 0;
	n = get32(s->buf + off);
	if (n < 7 || n > MAXMSG)
		return -1;
	return s->len - off < n ? 0 : (long)n;
}

/* Tattach: fid[4] afid[4] uname[s] aname[s], then n_uname[4] in .u and
 * .L (copied as it is). */
static int
attach(struct conn *k, const uint8_t *m, uint32_t n)
{
	uint32_t a = 15, alen, plen = (uint32_t)strlen(proc_aname);
	uint8_t *r;
	char name[256];
	int rc;

	if (n < a + 2 || n < (a += 2 + get16(m + a)) + 2 ||
	    n < a + 2 + (alen = get16(m + a)))
		return write_all(k->u.fd, m, n); /* malformed: theirs */
	if (alen != 4 || memcmp(m + a + 2, "proc", 4) != 0) {
		escape(m + a + 2, alen, name, sizeof name);
		logline("attach %s (as it is)", name);
		return write_all(k->u.fd, m, n);
	}
	if (!(r = malloc(n - alen + plen)))
		return -1;
	memcpy(r, m, a);
	r[a] = plen & 0xff;
	r[a + 1] = plen >> 8;
	memcpy(r + a + 2, proc_aname, plen);
	memcpy(r + a + 2 + plen, m + a + 2 + alen, n - a - 2 - alen);
	put32(r, n - alen + plen);
	logline("attach proc -> %s", proc_aname);
	rc = write_all(k->u.fd, r, n - alen + plen);
	free(r);
	return rc;
}

/* Twrite: fid[4] offset[8] count[4] data[count]. */
static void
log_spawn(const uint8_t *m, uint32_t n)
{
	char words[512];
	uint32_t count;

	if (n < 23 || (count = get32(m + 19)) > n - 23)
		return;
	if (count >= 5 && !memcmp(m + 23, "argv", 4) &&
	    memchr(" \t\n", m[27], 3)) {
		escape(m + 28, count - 5, words, sizeof words);
		logline("spawn %s", words);
	}
}

/* Reads from one side and passes on the whole messages that came. */
static int
pump(struct conn *k, int from_client)
{
	struct side *s = from_client ? &k->c : &k->u;
	size_t off = 0;
	long n = 0;
	int rc = 0;

	if (fill(s) < 0)
		return -1;
	while (rc == 0 && (n = msg_at(s, off)) > 0) {
		const uint8_t *m = s->buf + off;

		if (!from_client)
			rc = write_all(k->c.fd, m, (size_t)n);
		else if (m[4] == TATTACH)
			rc = attach(k, m, (uint32_t)n);
		else {
			if (m[4] == TWRITE)
				log_spawn(m, (uint32_t)n);
			rc = write_all(k->u.fd, m, (size_t)n);
		}
		off += (size_t)n;
	}
	if (n < 0)
		return -1;
	memmove(s->buf, s->buf + off, s->len - off);
	s->len -= off;
	return rc;
}

static void *
serve(void *arg)
{
	struct conn *k = arg;

	for (;;) {
		struct pollfd p[2] = {
		    {.fd = k->c.fd, .events = POLLIN},
		    {.fd = k->u.fd, .events = POLLIN},
		};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if ((p[0].revents && pump(k, 1) < 0) ||
		    (p[1].revents && pump(k, 0) < 0))
			break;
	}
	close(k->c.fd);
	close(k->u.fd);
	free(k->c.buf);
	free(k->u.buf);
	free(k);
	return NULL;
}

static void
on_term(int sig)
{
	(void)sig;
	unlink(listen_path);
	_exit(0);
}

static void
usage(void)
{
	fprintf(stderr, "usage: psc-proxy -l LISTEN -u UPSTREAM -a PROC_ANAME "
	                "-L LOGFILE\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *logpath = NULL;
	int ch, lfd;

	while ((ch = getopt(argc, argv, "l:u:a:L:")) != -1) {
		switch (ch) {
		case 'l':
			listen_path = optarg;
			break;
		case 'u':
			upstream = optarg;
			break;
		case 'a':
			proc_aname = optarg;
			break;
		case 'L':
			logpath = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !listen_path || !upstream || !proc_aname ||
	    !logpath || strlen(proc_aname) > 65535 ||
	    strlen(listen_path) >= sizeof sa.sun_path)
		usage();
	if ((logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	         0644)) < 0) {
		fprintf(
		    stderr, "psc-proxy: %s: %s\n", logpath, strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN); /* a closed peer: EPIPE, the end of it */
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	strcpy(sa.sun_path, listen_path);
	unlink(listen_path);
	if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    listen(lfd, 64) < 0) {
		fprintf(stderr, "psc-proxy: %s: %s\n", listen_path,
		    strerror(errno));
		return 1;
	}
	for (;;) {
		struct conn *k;
		pthread_t t;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0)
			continue; /* EINTR, or a client gone before accept */
		if (!(k = calloc(1, sizeof *k)) ||
		    (k->u.fd = dial(upstream)) < 0) {
			fprintf(stderr, "psc-proxy: %s: %s\n", upstream,
			    strerror(errno));
			free(k);
			close(fd);
			continue;
		}
		k->c.fd = fd;
		if (pthread_create(&t, NULL, serve, k) != 0) {
			close(k->u.fd);
			close(fd);
			free(k);
			continue;
		}
		pthread_detach(t);
	}
}
