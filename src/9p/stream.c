/*
 * stream.c - the plain byte stream: a libuv TCP or pipe handle under a 9P
 * connection.  A TLS stream provides the same struct p9_stream_ops.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "p9.h"

struct uvstream {
	struct p9_stream s; /* first: a p9_stream * is a uvstream * */
	uv_stream_t *h;
	int reading;
	int closing;
	uv_buf_t *held; /* writes held back until the loop is about to wait */
	unsigned nheld, capheld;
	/* Writes made while the loop runs callbacks go out together just
	 * before it waits again (the prepare phase comes before every poll,
	 * whatever phase they were made in): what a batch of requests
	 * answers, or a relay forwards, is one system call, not one each. */
	uv_prepare_t flush; /* active while writes are held */
	int handles;        /* open libuv handles: freed at 0 */
};

/* One write of n buffers, which it owns. */
struct wreq {
	uv_write_t w;
	struct uvstream *us;
	size_t len;
	unsigned n;
	uv_buf_t b[];
};

static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct uvstream *us = h->data;
	uint8_t *p = NULL;
	size_t cap = 0;

	us->s.on_alloc(&us->s, &p, &cap);
	b->base = (char *)p;
	b->len = cap;
}

static void
read_cb(uv_stream_t *h, ssize_t n, const uv_buf_t *b)
{
	struct uvstream *us = h->data;

	if (us->closing)
		return;
	if (n > 0)
		us->s.on_read(&us->s, (size_t)n);
	else if (n == UV_EOF)
		us->s.on_end(&us->s, 0);
	else if (n < 0)
		us->s.on_end(&us->s, (int)n);
}

static void
write_cb(uv_write_t *w, int status)
{
	struct wreq *wr = (struct wreq *)w;
	struct uvstream *us = wr->us;
	unsigned i;

	us->s.queued -= wr->len;
	for (i = 0; i < wr->n; i++)
		free(wr->b[i].base);
	free(wr);
	if (us->closing)
		return;
	if (status < 0) /* EPIPE, ECONNRESET: the peer is gone */
		us->s.on_end(&us->s, status);
	else if (us->s.on_written)
		us->s.on_written(&us->s);
}

static void
free_bufs(uv_buf_t *b, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		free(b[i].base);
}

/* Writes b[0..n) (owned; freed in any case) in one request. */
static int
send_bufs(struct uvstream *us, const uv_buf_t *b, unsigned n)
{
	struct wreq *wr;
	size_t len = 0;
	unsigned i;
	int rc;

	if (!(wr = malloc(sizeof *wr + n * sizeof *b))) {
		free_bufs((uv_buf_t *)b, n);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		len += b[i].len;
	wr->us = us;
	wr->len = len;
	wr->n = n;
	memcpy(wr->b, b, n * sizeof *b);
	us->s.queued += len;
	if ((rc = uv_write(&wr->w, us->h, wr->b, n, write_cb)) < 0) {
		us->s.queued -= len;
		free_bufs(wr->b, n);
		free(wr);
	}
	return rc;
}

/* Writes what is held; -errno if that failed. */
static int
send_held(struct uvstream *us)
{
	size_t len = 0;
	unsigned i, n = us->nheld;

	if (n == 0)
		return 0;
	us->nheld = 0;
	for (i = 0; i < n; i++)
		len += us->held[i].len;
	us->s.queued -= len; /* send_bufs counts them again */
	return send_bufs(us, us->held, n);
}

static void
flush_cb(uv_prepare_t *p)
{
	struct uvstream *us = p->data;

	uv_prepare_stop(p);
	if (!us->closing && send_held(us) < 0 && us->s.on_end)
		us->s.on_end(&us->s, -EPIPE);
}

static int
uv_write_buf(struct p9_stream *s, uint8_t *buf, size_t len)
{
	struct uvstream *us = (struct uvstream *)s;
	uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);

	if (us->closing) {
		free(buf);
		return -EPIPE;
	}
	uv_prepare_start(&us->flush, flush_cb); /* no-op if it is on */
	if (us->nheld == us->capheld) {
		unsigned ncap = us->capheld ? 2 * us->capheld : 16;
		uv_buf_t *nb = realloc(us->held, ncap * sizeof *nb);

		if (!nb) /* no room to hold it: out it goes */
			return send_bufs(us, &b, 1);
		us->held = nb;
		us->capheld = ncap;
	}
	us->held[us->nheld++] = b;
	s->queued += len;
	return 0;
}


static void
uv_set_reading(struct p9_stream *s, int on)
{
	struct uvstream *us = (struct uvstream *)s;

	if (us->closing || us->reading == !!on)
		return;
	us->reading = !!on;
	if (on)
		uv_read_start(us->h, alloc_cb, read_cb);
	else
		uv_read_stop(us->h);
}

static void
close_cb(uv_handle_t *h)
{
	struct uvstream *us = h->data;

	if (--us->handles > 0)
		return;
	if (us->s.on_close)
		us->s.on_close(&us->s);
	free_bufs(us->held, us->nheld);
	free(us->held);
	free(us->h);
	free(us);
}

static void
uv_close_stream(struct p9_stream *s)
{
	struct uvstream *us = (struct uvstream *)s;

	if (us->closing)
		return;
	us->closing = 1;
	/* what was written goes before the close (libuv writes what it can
	 * at once; uv_close cancels the rest) */
	send_held(us);
	uv_close((uv_handle_t *)&us->flush, close_cb);
	uv_close((uv_handle_t *)us->h, close_cb);
}

static const struct p9_stream_ops uv_ops = {
    .write = uv_write_buf,
    .set_reading = uv_set_reading,
    .close = uv_close_stream,
};

/*
 * The owner of the other end of a TCP connection made from this network
 * namespace (loopback, or to one of our own addresses), as identd would
 * find it: the kernel's socket table (sock_diag over netlink, one exact
 * lookup) holds the peer's socket, whose local end is the peer and whose
 * remote end is us.  A connection from elsewhere is not found.
 */
static int
tcp_peer_uid(int fd, const struct sockaddr_storage *peer, uid_t *uid)
{
	struct sockaddr_storage self;
	socklen_t sl = sizeof self;
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 r;
	} req;
	char buf[8192];
	struct nlmsghdr *nh;
	struct inet_diag_msg *m;
	struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
	int s, found = -1;
	ssize_t n;

	if (getsockname(fd, (struct sockaddr *)&self, &sl) < 0)
		return -1;
	memset(&req, 0, sizeof req);
	req.nh.nlmsg_len = sizeof req;
	req.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.r.sdiag_family = (uint8_t)peer->ss_family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0u;
	req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] =
	    INET_DIAG_NOCOOKIE;
	if (peer->ss_family == AF_INET) {
		const struct sockaddr_in *p = (const struct sockaddr_in *)peer;
		const struct sockaddr_in *me =
		    (const struct sockaddr_in *)&self;

		req.r.id.idiag_sport = p->sin_port;
		req.r.id.idiag_dport = me->sin_port;
		memcpy(req.r.id.idiag_src, &p->sin_addr, 4);
		memcpy(req.r.id.idiag_dst, &me->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *p =
		    (const struct sockaddr_in6 *)peer;
		const struct sockaddr_in6 *me =
		    (const struct sockaddr_in6 *)&self;

		req.r.id.idiag_sport = p->sin6_port;
		req.r.id.idiag_dport = me->sin6_port;
		memcpy(req.r.id.idiag_src, &p->sin6_addr, 16);
		memcpy(req.r.id.idiag_dst, &me->sin6_addr, 16);
	}
	if ((s = socket(
	         AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)) < 0)
		return -1;
	if (sendto(s, &req, sizeof req, 0, (struct sockaddr *)&nl, sizeof nl) ==
	        (ssize_t)sizeof req &&
	    (n = recv(s, buf, sizeof buf, 0)) > 0)
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n);
		     nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    nh->nlmsg_len < NLMSG_LENGTH(sizeof *m))
				break;
			m = NLMSG_DATA(nh);
			*uid = m->idiag_uid;
			found = 0;
			break;
		}
	close(s);
	return found;
}

static void
fill_peer(struct p9_peer *p, uv_stream_t *h, int identify)
{
	uv_os_fd_t fd;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char host[INET6_ADDRSTRLEN];

	snprintf(p->addr, sizeof p->addr, "?");
	if (uv_fileno((uv_handle_t *)h, &fd) < 0)
		return;
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	if (ss.ss_family == AF_UNIX) {
		struct ucred uc;
		socklen_t ul = sizeof uc;

		snprintf(p->addr, sizeof p->addr, "unix");
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0) {
			p->has_cred = 1;
			p->pid = uc.pid;
			p->uid = uc.uid;
			p->gid = uc.gid;
			snprintf(
			    p->addr, sizeof p->addr, "unix:pid%d", (int)uc.pid);
		}
	} else if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
		snprintf(p->addr, sizeof p->addr, "%s:%u", host,
		    ntohs(in->sin_port));
		if (identify && tcp_peer_uid(fd, &ss, &p->uid) == 0) {
			p->has_cred = 1;
			p->gid = (gid_t)-1;
		}
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		snprintf(p->addr, sizeof p->addr, "[%s]:%u", host,
		    ntohs(in6->sin6_port));
		if (identify && tcp_peer_uid(fd, &ss, &p->uid) == 0) {
			p->has_cred = 1;
			p->gid = (gid_t)-1;
		}
	}
}

/* A peer that vanishes without a word (a cut link, a machine switched
 * off) is noticed in about 11 s by keepalives, and data it leaves
 * unacknowledged fails the connection after 15 s: its fids go, so its
 * processes die (no orphans) and whoever waits on the other side hears
 * of it (nothing hangs). */
static void
tcp_liveness(int fd)
{
	int on = 1, idle = 5, intvl = 2, cnt = 3;
	unsigned ut = 15000;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof ut);
}

struct p9_stream *
p9_stream_uv_new(uv_stream_t *h, int identify)
{
	struct uvstream *us = calloc(1, sizeof *us);

	if (!us)
		return NULL;
	us->s.ops = &uv_ops;
	us->h = h;
	h->data = us;
	uv_prepare_init(h->loop, &us->flush);
	us->flush.data = us;
	us->handles = 2;
	fill_peer(&us->s.peer, h, identify);
	if (h->type == UV_TCP) {
		uv_os_fd_t fd;

		uv_tcp_nodelay((uv_tcp_t *)h, 1);
		if (uv_fileno((uv_handle_t *)h, &fd) == 0)
			tcp_liveness(fd);
	}
	return &us->s;
}
