/*
 * client.c - the asynchronous 9P client on a libuv loop: connecting, the
 * Tversion handshake, tags, framing of replies, Tflush and connection loss.
 * It matches replies to calls and turns error replies into errno values; it
 * never interprets a reply further (cl.c builds file operations on it).
 *
 * Tags.  A call holds its tag from its T-message to its reply.  A flushed
 * call holds it until the Rflush: the server may still answer the original
 * before the Rflush (flush(5)), and only the Rflush says that no answer
 * will follow, so reusing the tag earlier could match a late reply to the
 * wrong call.  A reply to a tag that is not held is a broken server; the
 * connection is dropped, as Linux's trans_fd does.
 *
 * Teardown.  A broken connection closes the stream at once; the pending
 * calls get ECONNRESET from the stream's close callback, the last one it
 * makes.  p9_client_close runs that round itself, before it returns.  The
 * struct lives until p9_client_close, and is freed once the stream is gone
 * and none of our callbacks is on the stack (depth).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "p9.h"

#define DEFAULT_MSIZE ((1u << 20) + P9_IOHDRSZ)
#define NCALLS0 64
#define MAXTAGS 65535u         /* tags 0 .. 65534: P9_NOTAG is never a call's */
#define MAXFIDWORDS (1u << 26) /* 2^32 fid numbers */

enum state {
	VERSIONING, /* Tversion sent, nothing else may be */
	READY,
	DEAD, /* the stream is closed or closing */
};

struct p9_call {
	struct p9_client *c;
	p9_call_cb cb;
	void *arg;
	uint16_t tag;
	uint8_t rtype;           /* the reply expected */
	int answered;            /* cb has run */
	int flushing;            /* a Tflush for it is out */
	struct p9_call *oldcall; /* for our own Tflush: the call it cancels */
};

struct p9_client {
	uv_loop_t *loop;
	struct p9_stream *s; /* NULL once its close callback has run */
	struct p9_client_opts opts;
	uint32_t msize;
	enum p9_dialect dialect;
	enum state state;
	int err;     /* why it died: a positive errno */
	int unversioned; /* eager: READY, but the Rversion is still to come */
	int closing; /* p9_client_close has been called */
	int depth;   /* our callbacks on the stack: do not free yet */
	void (*connect_cb)(void *arg, struct p9_client *c, int err);
	void *connect_arg;
	/* input: rbuf[rstart..rend) is not handled yet; rbuf has one spare
	 * byte past rcap for the codec's NUL */
	uint8_t *rbuf;
	size_t rcap, rstart, rend;
	/* calls[tag]: the call holding the tag */
	struct p9_call **calls;
	uint32_t ncalls, nbusy, nexttag;
	/* fid numbers: a set bit is in use; no free bit below fidhint */
	uint64_t *fidmap;
	uint32_t fidwords, fidhint;
};

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static const char *
peer(struct p9_client *c)
{
	return c->s ? c->s->peer.addr : "?";
}

static void
trace(struct p9_client *c, const char *dir, const struct p9_fcall *f)
{
	char line[512];

	if (!c->opts.trace)
		return;
	p9_fcall_format(f, line, sizeof line);
	p9_log(LOG_INFO, "%s %s %s", peer(c), dir, line);
}

/* ---- teardown ---- */

static void
maybe_free(struct p9_client *c)
{
	if (!c->closing || c->s || c->depth > 0)
		return;
	free(c->calls);
	free(c->rbuf);
	free(c->fidmap);
	free(c);
}

/*
 * The ECONNRESET round: every call not yet answered gets it once.  The
 * table is emptied first, so a callback may call anything (new calls fail
 * with ENOTCONN: the client is DEAD by now).
 */
static void
fail_all(struct p9_client *c)
{
	struct p9_call **calls = c->calls;
	uint32_t i, n = c->ncalls;

	if (c->nbusy == 0)
		return;
	c->calls = NULL;
	c->ncalls = c->nbusy = c->nexttag = 0;
	c->depth++;
	for (i = 0; i < n; i++) {
		struct p9_call *call = calls[i];

		if (!call || call->oldcall || call->answered)
			continue;
		call->answered = 1;
		call->cb(call->arg, ECONNRESET, NULL);
	}
	for (i = 0; i < n; i++)
		free(calls[i]);
	free(calls);
	c->depth--;
}

/* Drops the connection; what is pending fails once the stream is gone. */
static void
conn_fail(struct p9_client *c, int err)
{
	if (c->state == DEAD)
		return;
	c->state = DEAD;
	c->err = err;
	c->s->ops->close(c->s);
}

static void
on_close(struct p9_stream *s)
{
	struct p9_client *c = s->user;
	void (*cb)(void *, struct p9_client *, int) = c->connect_cb;

	c->s = NULL;
	c->depth++;
	fail_all(c);
	if (cb) {
		/* the handshake failed: the caller never saw c */
		c->connect_cb = NULL;
		c->closing = 1;
		cb(c->connect_arg, NULL, -c->err);
	}
	c->depth--;
	maybe_free(c);
}

static void
on_end(struct p9_stream *s, int err)
{
	struct p9_client *c = s->user;

	if (err < 0)
		p9_log(LOG_DEBUG, "%s: %s", peer(c), uv_strerror(err));
	conn_fail(c, err < 0 ? -err : ECONNRESET);
}

/* ---- tags ---- */

static int
tag_alloc(struct p9_client *c, struct p9_call *call)
{
	uint32_t i, t, n;

	if (c->nbusy >= MAXTAGS)
		return -EAGAIN;
	/* grow at 3/4 full, so that the search below stays short */
	if (c->nbusy * 4 >= c->ncalls * 3 && c->ncalls < MAXTAGS) {
		struct p9_call **p;

		n = c->ncalls ? c->ncalls * 2 : NCALLS0;
		if (n > MAXTAGS)
			n = MAXTAGS;
		p = realloc(c->calls, n * sizeof *p);
		if (p) {
			memset(p + c->ncalls, 0, (n - c->ncalls) * sizeof *p);
			c->calls = p;
			c->ncalls = n;
		} else if (c->nbusy >= c->ncalls) {
			return -ENOMEM;
		}
	}
	/* round robin: a freed tag is not reused at once, which keeps
	 * traces readable */
	for (i = 0; i < c->ncalls; i++) {
		t = (c->nexttag + i) % c->ncalls;
		if (!c->calls[t]) {
			c->calls[t] = call;
			call->tag = (uint16_t)t;
			c->nexttag = t + 1;
			c->nbusy++;
			return 0;
		}
	}
	return -EAGAIN;
}

static void
tag_release(struct p9_client *c, uint16_t tag)
{
	c->calls[tag] = NULL;
	c->nbusy--;
}

/* ---- output ---- */

/* Packs t with a fresh tag and writes it.  NULL with *err (positive) on
 * failure; a failed write also drops the connection. */
static struct p9_call *
call_send(struct p9_client *c, const struct p9_fcall *t, p9_call_cb cb,
    void *arg, struct p9_call *oldcall, int *err)
{
	struct p9_fcall m = *t;
	struct p9_call *call;
	uint8_t *buf;
	size_t size;
	ssize_t n;
	int rc;

	size = p9_packed_size(t, c->dialect);
	if (size == 0) {
		*err = EINVAL;
		return NULL;
	}
	if (size > c->msize) {
		*err = EMSGSIZE;
		return NULL;
	}
	call = calloc(1, sizeof *call);
	buf = malloc(size);
	if (!call || !buf) {
		rc = -ENOMEM;
		goto fail;
	}
	call->c = c;
	call->cb = cb;
	call->arg = arg;
	call->rtype = (uint8_t)(t->type + 1);
	call->oldcall = oldcall;
	if ((rc = tag_alloc(c, call)) < 0)
		goto fail;
	m.tag = call->tag;
	if ((n = p9_pack(&m, buf, size, c->dialect)) < 0) {
		rc = (int)n;
		goto fail_tag;
	}
	trace(c, "->", &m);
	rc = c->s->ops->write(c->s, buf, (size_t)n);
	buf = NULL; /* the stream's now */
	if (rc < 0) {
		p9_log(LOG_DEBUG, "%s: write: %s", peer(c), strerror(-rc));
		conn_fail(c, -rc);
		rc = -ENOTCONN;
		goto fail_tag;
	}
	return call;
fail_tag:
	tag_release(c, call->tag);
fail:
	free(buf);
	free(call);
	*err = -rc;
	return NULL;
}

struct p9_call *
p9_client_call(
    struct p9_client *c, const struct p9_fcall *t, p9_call_cb cb, void *arg)
{
	struct p9_call *call;
	int err;

	if (c->state != READY || c->closing) {
		errno = ENOTCONN;
		return NULL;
	}
	/* Tversion would reset the session and Tflush our tags: both are
	 * the client's own business */
	if (!cb || (t->type & 1) || t->type == P9_TVERSION ||
	    t->type == P9_TFLUSH) {
		errno = EINVAL;
		return NULL;
	}
	if (!(call = call_send(c, t, cb, arg, NULL, &err)))
		errno = err;
	return call;
}

void
p9_call_flush(struct p9_call *call)
{
	struct p9_client *c = call->c;
	struct p9_fcall t;
	int err;

	if (call->answered || call->flushing || c->state != READY || c->closing)
		return;
	memset(&t, 0, sizeof t);
	t.type = P9_TFLUSH;
	t.u.flush.oldtag = call->tag;
	/* if Tflush cannot be sent, the call just runs its course */
	if (call_send(c, &t, NULL, NULL, call, &err))
		call->flushing = 1;
}

/* ---- input ---- */

static int
reply_err(struct p9_client *c, const struct p9_fcall *r)
{
	uint32_t e;

	if (r->type == P9_RLERROR) {
		e = r->u.lerror.ecode;
		return e >= 1 && e <= 4095 ? (int)e : EPROTO;
	}
	if (r->type == P9_RERROR) {
		e = r->u.error.errnum;
		if (c->dialect != P9_2000 && e >= 1 && e < 512)
			return (int)e;
		e = (uint32_t)p9_strerrno(r->u.error.ename);
		return e >= 1 && e <= 4095 ? (int)e : EIO;
	}
	return 0;
}

static void
version_reply(struct p9_client *c, const struct p9_fcall *r)
{
	void (*cb)(void *, struct p9_client *, int) = c->connect_cb;
	int d;

	if (r->tag != P9_NOTAG ||
	    (r->type != P9_RVERSION && r->type != P9_RLERROR &&
	        r->type != P9_RERROR)) {
		p9_log(LOG_WARNING, "%s: %s tag %u before Rversion", peer(c),
		    p9_type_name(r->type), r->tag);
		conn_fail(c, EPROTO);
		return;
	}
	if (r->type != P9_RVERSION) {
		conn_fail(c, EPROTONOSUPPORT);
		return;
	}
	d = p9_dialect_parse(r->u.version.version);
	if (d < 0 || d > (int)c->dialect) {
		p9_log(LOG_INFO, "%s: server offers version '%s'", peer(c),
		    r->u.version.version);
		conn_fail(c, EPROTONOSUPPORT);
		return;
	}
	if (r->u.version.msize > c->msize || r->u.version.msize < P9_MINMSIZE) {
		p9_log(LOG_WARNING, "%s: bad msize %u in Rversion (asked %u)",
		    peer(c), r->u.version.msize, c->msize);
		conn_fail(c, EPROTO);
		return;
	}
	if (c->unversioned) {
		/* eager: the calls already sent were packed in the dialect
		 * asked, and are small; only that dialect will do */
		c->unversioned = 0;
		if (d != (int)c->dialect) {
			p9_log(LOG_INFO, "%s: server offers version '%s'",
			    peer(c), r->u.version.version);
			conn_fail(c, EPROTONOSUPPORT);
			return;
		}
		c->msize = r->u.version.msize;
		return;
	}
	c->msize = r->u.version.msize;
	c->dialect = (enum p9_dialect)d;
	c->state = READY;
	c->connect_cb = NULL;
	cb(c->connect_arg, c, 0);
}

/* Our Tflush is answered: the old call is over, both tags are free. */
static void
flush_done(struct p9_client *c, struct p9_call *fcall)
{
	struct p9_call *old = fcall->oldcall;

	tag_release(c, fcall->tag);
	free(fcall);
	tag_release(c, old->tag);
	if (!old->answered) {
		old->answered = 1;
		old->cb(old->arg, EINTR, NULL);
	}
	free(old);
}

/* One whole message: msg[0..size), with msg[size] to spare. */
static void
dispatch(struct p9_client *c, uint8_t *msg, size_t size)
{
	struct p9_fcall r;
	struct p9_call *call;
	int rc, err, keep;

	if ((rc = p9_unpack(&r, msg, size, c->msize, c->dialect)) < 0) {
		p9_log(LOG_WARNING, "%s: bad message (type %u): %s", peer(c),
		    msg[4], strerror(-rc));
		conn_fail(c, EPROTO);
		return;
	}
	trace(c, "<-", &r);
	if (c->state == VERSIONING || c->unversioned) {
		version_reply(c, &r);
		return;
	}
	call = r.tag < c->ncalls ? c->calls[r.tag] : NULL;
	if (!call || call->answered) {
		p9_log(LOG_WARNING, "%s: %s for tag %u, not in flight", peer(c),
		    p9_type_name(r.type), r.tag);
		conn_fail(c, EPROTO);
		return;
	}
	if (r.type != call->rtype && r.type != P9_RLERROR &&
	    r.type != P9_RERROR) {
		p9_log(LOG_WARNING, "%s: %s for tag %u, expected %s", peer(c),
		    p9_type_name(r.type), r.tag, p9_type_name(call->rtype));
		conn_fail(c, EPROTO);
		return;
	}
	if (call->oldcall) {
		flush_done(c, call);
		return;
	}
	err = reply_err(c, &r);
	call->answered = 1;
	/* a flushed call keeps its tag (and the table keeps the call) until
	 * the Rflush */
	keep = call->flushing;
	if (!keep)
		tag_release(c, call->tag);
	call->cb(call->arg, err, &r); /* an error: r is Rerror/Rlerror */
	if (!keep)
		free(call);
}

static void
on_alloc(struct p9_stream *s, uint8_t **buf, size_t *cap)
{
	struct p9_client *c = s->user;
	size_t avail = c->rend - c->rstart, need;

	if (c->rstart > 0) {
		need = avail >= 4 ? get32(c->rbuf + c->rstart) : c->rcap;
		if (need > c->rcap)
			need = c->rcap;
		/* move the partial message down unless it fits where it is */
		if (avail < 4 || c->rstart + need > c->rcap) {
			memmove(c->rbuf, c->rbuf + c->rstart, avail);
			c->rstart = 0;
			c->rend = avail;
		}
	}
	if (c->rend == c->rcap) /* only if dead: drop what is left */
		c->rstart = c->rend = 0;
	*buf = c->rbuf + c->rend;
	*cap = c->rcap - c->rend;
}

static void
on_read(struct p9_stream *s, size_t n)
{
	struct p9_client *c = s->user;
	size_t avail, size;
	uint8_t *msg, spare;

	c->rend += n;
	c->depth++;
	while (c->state != DEAD) {
		avail = c->rend - c->rstart;
		if (avail < 4)
			break;
		size = get32(c->rbuf + c->rstart);
		if (size < P9_HDRSZ || size > c->msize) {
			p9_log(LOG_WARNING,
			    "%s: message of %zu bytes (msize %u)", peer(c),
			    size, c->msize);
			conn_fail(c, EPROTO);
			break;
		}
		if (avail < size)
			break;
		msg = c->rbuf + c->rstart;
		c->rstart += size;
		/* the codec may write its NUL on the next message's first
		 * byte: keep it */
		spare = msg[size];
		dispatch(c, msg, size);
		msg[size] = spare;
	}
	if (c->rstart == c->rend)
		c->rstart = c->rend = 0;
	c->depth--;
	maybe_free(c);
}

/* ---- connecting ---- */

static int
check_opts(const struct p9_client_opts *opts, struct p9_client_opts *o)
{
	if (opts) {
		*o = *opts;
	} else {
		memset(o, 0, sizeof *o);
		o->dialect = P9_2000L;
	}
	if (o->msize == 0)
		o->msize = DEFAULT_MSIZE;
	if (o->msize > P9_MAXMSIZE)
		o->msize = P9_MAXMSIZE;
	if (o->msize < P9_MINMSIZE || (unsigned)o->dialect > P9_2000L)
		return -EINVAL;
	return 0;
}

static int
start(uv_loop_t *loop, struct p9_stream *s, const struct p9_client_opts *o,
    void (*cb)(void *arg, struct p9_client *c, int err), void *arg)
{
	struct p9_client *c;
	struct p9_fcall t;
	uint8_t *buf;
	ssize_t n;
	int rc;

	if (!(c = calloc(1, sizeof *c)))
		goto nomem;
	c->rcap = o->msize;
	if (!(c->rbuf = malloc(c->rcap + 1))) {
		free(c);
		goto nomem;
	}
	c->loop = loop;
	c->s = s;
	c->opts = *o;
	c->msize = o->msize;
	c->dialect = o->dialect;
	c->state = VERSIONING;
	c->connect_cb = cb;
	c->connect_arg = arg;
	s->user = c;
	s->on_alloc = on_alloc;
	s->on_read = on_read;
	s->on_end = on_end;
	s->on_written = NULL;
	s->on_close = on_close;

	memset(&t, 0, sizeof t);
	t.type = P9_TVERSION;
	t.tag = P9_NOTAG;
	t.u.version.msize = c->msize;
	t.u.version.version = (char *)p9_dialect_name(c->dialect);
	n = (ssize_t)p9_packed_size(&t, c->dialect);
	if (!(buf = malloc((size_t)n))) {
		conn_fail(c, ENOMEM);
		return 0;
	}
	n = p9_pack(&t, buf, (size_t)n, c->dialect);
	trace(c, "->", &t);
	s->ops->set_reading(s, 1);
	/* a failure is reported through cb, from the stream's close */
	if ((rc = s->ops->write(s, buf, (size_t)n)) < 0) {
		conn_fail(c, -rc);
		return 0;
	}
	if (o->eager) {
		/* calls go out behind the Tversion, without its round trip */
		c->state = READY;
		c->unversioned = 1;
		c->connect_cb = NULL;
		c->depth++;
		cb(arg, c, 0);
		c->depth--;
		maybe_free(c);
	}
	return 0;
nomem:
	s->user = NULL;
	s->on_close = NULL;
	s->ops->close(s);
	return -ENOMEM;
}

int
p9_client_connect_stream(uv_loop_t *loop, struct p9_stream *s,
    const struct p9_client_opts *opts,
    void (*cb)(void *arg, struct p9_client *c, int err), void *arg)
{
	struct p9_client_opts o;
	int rc;

	if ((rc = check_opts(opts, &o)) < 0) {
		s->user = NULL;
		s->on_close = NULL;
		s->ops->close(s);
		return rc;
	}
	return start(loop, s, &o, cb, arg);
}

/* A connect in progress: name lookup, then each address in turn. */
struct connector {
	uv_loop_t *loop;
	struct p9_client_opts opts;
	void (*cb)(void *arg, struct p9_client *c, int err);
	void *arg;
	uv_getaddrinfo_t gai;
	uv_connect_t req;
	uv_timer_t retry;  /* a Unix socket's full backlog: try again */
	int tries;
	const char *path; /* the Unix socket */
	struct addrinfo *res, *ai; /* lookup results, the one tried */
	uv_handle_t *h;            /* uv_tcp_t or uv_pipe_t */
};

static void
free_handle(uv_handle_t *h)
{
	free(h);
}

static void
connector_end(struct connector *k, int err)
{
	if (err < 0)
		k->cb(k->arg, NULL, err);
	if (k->res)
		uv_freeaddrinfo(k->res);
	free((char *)k->path);
	free(k);
}

static int
gai_errno(int rc)
{
	switch (rc) {
	case UV_EAI_MEMORY:
		return -ENOMEM;
	case UV_EAI_AGAIN:
		return -EAGAIN;
	case UV_EAI_CANCELED:
		return -ECANCELED;
	case UV_EAI_ADDRFAMILY:
	case UV_EAI_BADFLAGS:
	case UV_EAI_BADHINTS:
	case UV_EAI_FAIL:
	case UV_EAI_FAMILY:
	case UV_EAI_NODATA:
	case UV_EAI_NONAME:
	case UV_EAI_OVERFLOW:
	case UV_EAI_PROTOCOL:
	case UV_EAI_SERVICE:
	case UV_EAI_SOCKTYPE:
		return -EHOSTUNREACH;
	default:
		return rc;
	}
}

static void connected(uv_connect_t *req, int status);

/* Connects to the Unix socket k->path (errors, ENOENT among them, come to
 * connected()). */
static int
pipe_start(struct connector *k)
{
	uv_pipe_t *p = malloc(sizeof *p);
	int rc;

	if (!p)
		return -ENOMEM;
	if ((rc = uv_pipe_init(k->loop, p, 0)) < 0) {
		free(p);
		return rc;
	}
	k->h = (uv_handle_t *)p;
	uv_pipe_connect(&k->req, p, k->path, connected);
	return 0;
}

static void
retry_closed(uv_handle_t *h)
{
	struct connector *k = h->data;

	connector_end(k, k->tries); /* the last error, kept there */
}

static void
retry_cb(uv_timer_t *t)
{
	struct connector *k = t->data;
	int rc;

	if ((rc = pipe_start(k)) < 0) {
		k->tries = rc;
		uv_close((uv_handle_t *)&k->retry, retry_closed);
	}
}

static int
tcp_start(struct connector *k, const struct sockaddr *sa)
{
	uv_tcp_t *h;
	int rc;

	if (!(h = malloc(sizeof *h)))
		return -ENOMEM;
	if ((rc = uv_tcp_init(k->loop, h)) < 0) {
		free(h);
		return rc;
	}
	k->h = (uv_handle_t *)h;
	if ((rc = uv_tcp_connect(&k->req, h, sa, connected)) < 0) {
		uv_close(k->h, free_handle);
		k->h = NULL;
	}
	return rc;
}

/* Tries the addresses from k->ai on; err is the last failure. */
static void
try_next(struct connector *k, int err)
{
	for (; k->ai; k->ai = k->ai->ai_next) {
		if ((err = tcp_start(k, k->ai->ai_addr)) == 0)
			return;
	}
	connector_end(k, err);
}

static void
connected(uv_connect_t *req, int status)
{
	struct connector *k = req->data;
	struct p9_stream *s;
	int rc;

	if (status < 0) {
		uv_close(k->h, free_handle);
		k->h = NULL;
		if (k->path && status == UV_EAGAIN && ++k->tries <= 400) {
			/* the server's backlog is full: it is busy, not gone
			 * (every 5 ms, for up to 2 s) */
			if (k->tries == 1)
				uv_timer_init(k->loop, &k->retry);
			k->retry.data = k;
			uv_timer_start(&k->retry, retry_cb, 5, 0);
			return;
		}
		if (k->path && k->tries > 0) {
			k->tries = status;
			uv_close((uv_handle_t *)&k->retry, retry_closed);
			return;
		}
		if (k->ai) {
			k->ai = k->ai->ai_next;
			try_next(k, status);
		} else {
			connector_end(k, status);
		}
		return;
	}
	if (!(s = p9_stream_uv_new((uv_stream_t *)k->h, 0))) {
		uv_close(k->h, free_handle);
		connector_end(k, -ENOMEM);
		return;
	}
	if (!k->path && k->opts.tls &&
	    !(s = p9_stream_tls_new(k->loop, s, k->opts.tls))) {
		connector_end(k, -ENOMEM);
		return;
	}
	rc = start(k->loop, s, &k->opts, k->cb, k->arg);
	if (k->path && k->tries > 0) {
		if (rc < 0)
			k->cb(k->arg, NULL, rc);
		k->tries = 0;
		uv_close((uv_handle_t *)&k->retry, retry_closed);
		return;
	}
	connector_end(k, rc);
}

static void
resolved(uv_getaddrinfo_t *gai, int status, struct addrinfo *res)
{
	struct connector *k = gai->data;

	if (status < 0) {
		connector_end(k, gai_errno(status));
		return;
	}
	k->res = k->ai = res;
	try_next(k, -EHOSTUNREACH);
}

int
p9_client_connect(uv_loop_t *loop, const struct p9_addr *a,
    const struct p9_client_opts *opts,
    void (*cb)(void *arg, struct p9_client *c, int err), void *arg)
{
	struct connector *k;
	struct sockaddr_storage ss;
	struct addrinfo hints;
	char port[16];
	int rc;

	if (!(k = calloc(1, sizeof *k)))
		return -ENOMEM;
	if ((rc = check_opts(opts, &k->opts)) < 0)
		goto fail;
	k->loop = loop;
	k->cb = cb;
	k->arg = arg;
	k->req.data = k;
	k->gai.data = k;
	if (a->is_unix) {
		if (!(k->path = strdup(a->path))) {
			rc = -ENOMEM;
			goto fail;
		}
		if ((rc = pipe_start(k)) < 0) {
			free((char *)k->path);
			goto fail;
		}
		return 0;
	}
	/* a numeric address needs no lookup */
	if (uv_ip4_addr(a->host, a->port, (struct sockaddr_in *)&ss) == 0 ||
	    uv_ip6_addr(a->host, a->port, (struct sockaddr_in6 *)&ss) == 0) {
		if ((rc = tcp_start(k, (struct sockaddr *)&ss)) < 0)
			goto fail;
		return 0;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof port, "%d", a->port);
	if ((rc = uv_getaddrinfo(
	         loop, &k->gai, resolved, a->host, port, &hints)) < 0) {
		rc = gai_errno(rc);
		goto fail;
	}
	return 0;
fail:
	free(k);
	return rc;
}

/* ---- the rest ---- */

uint32_t
p9_client_msize(struct p9_client *c)
{
	return c->msize;
}

enum p9_dialect
p9_client_dialect(struct p9_client *c)
{
	return c->dialect;
}

uint32_t
p9_client_fid_new(struct p9_client *c)
{
	uint32_t w, n, fid;
	uint64_t *p;
	int bit;

	for (w = c->fidhint; w < c->fidwords; w++)
		if (c->fidmap[w] != ~0ull)
			break;
	if (w == c->fidwords) {
		if (c->fidwords == MAXFIDWORDS) {
			errno = EMFILE;
			return P9_NOFID;
		}
		n = c->fidwords ? c->fidwords * 2 : 4;
		if (!(p = realloc(c->fidmap, n * sizeof *p))) {
			errno = ENOMEM;
			return P9_NOFID;
		}
		memset(p + c->fidwords, 0, (n - c->fidwords) * sizeof *p);
		c->fidmap = p;
		c->fidwords = n;
	}
	bit = __builtin_ctzll(~c->fidmap[w]);
	fid = w * 64 + (uint32_t)bit;
	if (fid == P9_NOFID) {
		errno = EMFILE;
		return P9_NOFID;
	}
	c->fidmap[w] |= 1ull << bit;
	c->fidhint = w;
	return fid;
}

void
p9_client_fid_free(struct p9_client *c, uint32_t fid)
{
	uint32_t w = fid / 64;

	if (w >= c->fidwords)
		return;
	c->fidmap[w] &= ~(1ull << (fid % 64));
	if (w < c->fidhint)
		c->fidhint = w;
}

int
p9_client_alive(struct p9_client *c)
{
	return c->state == READY;
}

void
p9_client_close(struct p9_client *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	if (c->state != DEAD) {
		c->state = DEAD;
		c->err = ECONNRESET;
		c->s->ops->close(c->s);
	}
	c->depth++;
	fail_all(c);
	c->depth--;
	maybe_free(c);
}
