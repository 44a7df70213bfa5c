/*
 * cl.c - the blocking 9P client: the asynchronous client (client.c) on a
 * loop thread of its own, and file operations built on round trips.  Any
 * thread may call; each call is queued for the loop thread (a list under
 * the mutex, then uv_async_send) and waits on a condition variable of its
 * own, so calls from many threads pipeline on the one connection.  Never
 * call it from the loop thread (from a p9_client callback): it would wait
 * for itself.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "p9.h"

struct p9_cl {
	uv_loop_t loop;
	uv_async_t wake;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* connect done; last caller gone */
	/* used by the loop thread; set and cleared under lock, under which
	 * callers use it for fid numbers (the loop thread never does) */
	struct p9_client *c;
	/* fixed once connected */
	uint32_t msize;
	enum p9_dialect dialect;
	/* under lock */
	struct rpc *queue, **tail; /* for the loop thread to send */
	int connected;             /* the connect callback has run */
	int cerr;
	int stopping;
	unsigned ncallers; /* threads inside rpc_run */
};

/* One round trip, on its caller's stack. */
struct rpc {
	struct rpc *next;
	struct p9_cl *cl;
	const struct p9_fcall *t;
	pthread_cond_t done_cond;
	int done; /* under cl->lock */
	int err;  /* positive errno */
	char etext[200]; /* the server's words for it (Rerror), or "" */
	/* the reply: packed again into a malloc()ed rbuf and unpacked into
	 * *r there; or, for Rread and Rreaddir with data set, its data
	 * copied straight to data[0..datacap) */
	struct p9_fcall *r;
	uint8_t *rbuf;
	void *data;
	size_t datacap;
};

/* The server's words for the calling thread's last failed call. */
static __thread char last_error[200];
static __thread int last_errno;

const char *
p9_cl_last_error(int err)
{
	if (err < 0)
		err = -err;
	return *last_error && err == last_errno ? last_error : NULL;
}

const char *
p9_cl_strerror(int err)
{
	const char *said = p9_cl_last_error(err);

	return said ? said : strerror(err < 0 ? -err : err);
}

/* ---- the loop thread ---- */

static void
rpc_complete(struct rpc *q, int err)
{
	struct p9_cl *cl = q->cl;

	pthread_mutex_lock(&cl->lock);
	q->err = err;
	q->done = 1;
	pthread_cond_signal(&q->done_cond);
	pthread_mutex_unlock(&cl->lock);
}

/* The reply is valid only during the callback: copy it out. */
static int
copy_reply(struct rpc *q, const struct p9_fcall *r)
{
	struct p9_cl *cl = q->cl;
	uint8_t *buf;
	size_t size, n;

	if (q->data && (r->type == P9_RREAD || r->type == P9_RREADDIR)) {
		n = r->u.rread.count;
		if (n > q->datacap) /* more than asked: keep what was */
			n = q->datacap;
		memcpy(q->data, r->u.rread.data, n);
		memset(q->r, 0, sizeof *q->r);
		q->r->type = r->type;
		q->r->tag = r->tag;
		q->r->u.rread.count = (uint32_t)n;
		q->r->u.rread.data = q->data;
		return 0;
	}
	/* the codec re-packs an unpacked message to the same bytes */
	if ((size = p9_packed_size(r, cl->dialect)) == 0)
		return EPROTO;
	if (!(buf = malloc(size + 1)))
		return ENOMEM;
	if (p9_pack(r, buf, size, cl->dialect) < 0 ||
	    p9_unpack(q->r, buf, size, cl->msize, cl->dialect) < 0) {
		free(buf);
		return EPROTO;
	}
	q->rbuf = buf;
	return 0;
}

static void
rpc_cb(void *arg, int err, struct p9_fcall *r)
{
	struct rpc *q = arg;

	if (err == 0)
		err = copy_reply(q, r);
	else if (r && r->type == P9_RERROR && r->u.error.ename)
		snprintf(q->etext, sizeof q->etext, "%s", r->u.error.ename);
	rpc_complete(q, err);
}

static void
wake_cb(uv_async_t *h)
{
	struct p9_cl *cl = h->data;
	struct p9_client *c;
	struct rpc *q, *next;
	int stopping;

	pthread_mutex_lock(&cl->lock);
	q = cl->queue;
	cl->queue = NULL;
	cl->tail = &cl->queue;
	stopping = cl->stopping;
	pthread_mutex_unlock(&cl->lock);

	for (; q; q = next) {
		next = q->next; /* q may be gone once completed */
		if (stopping || !cl->c)
			rpc_complete(q, ECONNRESET);
		else if (!p9_client_call(cl->c, q->t, rpc_cb, q))
			rpc_complete(q, errno == ENOTCONN ? ECONNRESET : errno);
	}
	if (stopping) {
		/* no caller sends once stopping is set: the handle may go */
		pthread_mutex_lock(&cl->lock);
		c = cl->c;
		cl->c = NULL;
		pthread_mutex_unlock(&cl->lock);
		if (c)
			p9_client_close(c);
		uv_close((uv_handle_t *)&cl->wake, NULL);
	}
}

static void
connect_cb(void *arg, struct p9_client *c, int err)
{
	struct p9_cl *cl = arg;

	pthread_mutex_lock(&cl->lock);
	cl->c = c;
	cl->cerr = err;
	if (c) {
		cl->msize = p9_client_msize(c);
		cl->dialect = p9_client_dialect(c);
	}
	cl->connected = 1;
	pthread_cond_broadcast(&cl->cond);
	pthread_mutex_unlock(&cl->lock);
}

static void *
loop_main(void *arg)
{
	struct p9_cl *cl = arg;

	uv_run(&cl->loop, UV_RUN_DEFAULT);
	return NULL;
}

/* ---- callers ---- */

/* Queues q for the loop thread and waits for its end; 0 or -errno. */
static int
rpc_run(struct p9_cl *cl, struct rpc *q)
{
	q->cl = cl;
	pthread_cond_init(&q->done_cond, NULL);
	pthread_mutex_lock(&cl->lock);
	if (cl->stopping) {
		pthread_mutex_unlock(&cl->lock);
		pthread_cond_destroy(&q->done_cond);
		return -ECONNRESET;
	}
	cl->ncallers++;
	q->next = NULL;
	*cl->tail = q;
	cl->tail = &q->next;
	uv_async_send(&cl->wake);
	while (!q->done)
		pthread_cond_wait(&q->done_cond, &cl->lock);
	if (--cl->ncallers == 0 && cl->stopping)
		pthread_cond_broadcast(&cl->cond);
	pthread_mutex_unlock(&cl->lock);
	pthread_cond_destroy(&q->done_cond);
	if (q->err) { /* kept past later successes (a clunk after it) */
		snprintf(last_error, sizeof last_error, "%s", q->etext);
		last_errno = q->err;
	}
	return q->err ? -q->err : 0;
}

int
p9_cl_rpcv(struct p9_cl *cl, const struct p9_fcall *t, struct p9_fcall *r,
    uint8_t **rbuf, int *rc, unsigned n)
{
	struct rpc q[P9_CL_BATCH];
	unsigned i;
	int first = 0;

	if (n == 0 || n > P9_CL_BATCH)
		return -EINVAL;
	memset(q, 0, n * sizeof q[0]);
	pthread_mutex_lock(&cl->lock);
	if (cl->stopping) {
		pthread_mutex_unlock(&cl->lock);
		for (i = 0; i < n; i++) {
			rbuf[i] = NULL;
			rc[i] = -ECONNRESET;
		}
		return -ECONNRESET;
	}
	/* all queued at once: the loop sends them in one turn, in order,
	 * and the server answers them in order (a request on a fid whose
	 * walk is unanswered waits for it) */
	for (i = 0; i < n; i++) {
		q[i].cl = cl;
		q[i].t = &t[i];
		q[i].r = &r[i];
		pthread_cond_init(&q[i].done_cond, NULL);
		q[i].next = NULL;
		*cl->tail = &q[i];
		cl->tail = &q[i].next;
	}
	cl->ncallers++;
	uv_async_send(&cl->wake);
	for (i = 0; i < n; i++)
		while (!q[i].done)
			pthread_cond_wait(&q[i].done_cond, &cl->lock);
	if (--cl->ncallers == 0 && cl->stopping)
		pthread_cond_broadcast(&cl->cond);
	pthread_mutex_unlock(&cl->lock);
	for (i = 0; i < n; i++) {
		pthread_cond_destroy(&q[i].done_cond);
		rbuf[i] = q[i].rbuf;
		rc[i] = q[i].err ? -q[i].err : 0;
		if (q[i].err && !first) {
			snprintf(last_error, sizeof last_error, "%s", q[i].etext);
			last_errno = q[i].err;
			first = rc[i];
		}
	}
	return first;
}

int
p9_cl_rpc(struct p9_cl *cl, const struct p9_fcall *t, struct p9_fcall *r,
    uint8_t **rbuf)
{
	struct rpc q = {.t = t, .r = r};
	int rc;

	*rbuf = NULL;
	if ((rc = rpc_run(cl, &q)) == 0)
		*rbuf = q.rbuf;
	return rc;
}

/* A round trip whose reply has no strings the caller needs. */
static int
rpc_simple(struct p9_cl *cl, const struct p9_fcall *t, struct p9_fcall *r)
{
	uint8_t *rbuf;
	int rc;

	rc = p9_cl_rpc(cl, t, r, &rbuf);
	free(rbuf);
	return rc;
}

/* Stops the loop thread and frees cl (its client, if any, closed). */
static void
cl_stop(struct p9_cl *cl)
{
	pthread_mutex_lock(&cl->lock);
	cl->stopping = 1;
	uv_async_send(&cl->wake);
	pthread_mutex_unlock(&cl->lock);
	pthread_join(cl->thread, NULL);
	pthread_mutex_lock(&cl->lock);
	while (cl->ncallers > 0)
		pthread_cond_wait(&cl->cond, &cl->lock);
	pthread_mutex_unlock(&cl->lock);
	uv_loop_close(&cl->loop);
	pthread_cond_destroy(&cl->cond);
	pthread_mutex_destroy(&cl->lock);
	free(cl);
}

struct p9_cl *
p9_cl_connect(
    const struct p9_addr *a, const struct p9_client_opts *opts, int *err)
{
	struct p9_cl *cl;
	sigset_t all, old;
	int rc;

	if (!(cl = calloc(1, sizeof *cl))) {
		*err = -ENOMEM;
		return NULL;
	}
	if ((rc = uv_loop_init(&cl->loop)) < 0) {
		free(cl);
		*err = rc;
		return NULL;
	}
	pthread_mutex_init(&cl->lock, NULL);
	pthread_cond_init(&cl->cond, NULL);
	cl->tail = &cl->queue;
	if ((rc = uv_async_init(&cl->loop, &cl->wake, wake_cb)) < 0) {
		uv_loop_close(&cl->loop);
		pthread_cond_destroy(&cl->cond);
		pthread_mutex_destroy(&cl->lock);
		free(cl);
		*err = rc;
		return NULL;
	}
	cl->wake.data = cl;
	/* the loop is not running yet: this thread may still use it */
	rc = p9_client_connect(&cl->loop, a, opts, connect_cb, cl);
	if (rc < 0) {
		cl->connected = 1;
		cl->cerr = rc;
	}
	/* Signals are for the caller's threads.  Blocked here, SIGPIPE from
	 * a write to a dead peer stays pending and the write gets EPIPE. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&cl->thread, NULL, loop_main, cl);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		/* nothing runs the loop: let the handles close here */
		uv_close((uv_handle_t *)&cl->wake, NULL);
		uv_run(&cl->loop, UV_RUN_DEFAULT);
		if (cl->c)
			p9_client_close(cl->c);
		uv_run(&cl->loop, UV_RUN_DEFAULT);
		uv_loop_close(&cl->loop);
		pthread_cond_destroy(&cl->cond);
		pthread_mutex_destroy(&cl->lock);
		free(cl);
		*err = -rc;
		return NULL;
	}
	pthread_mutex_lock(&cl->lock);
	while (!cl->connected)
		pthread_cond_wait(&cl->cond, &cl->lock);
	rc = cl->cerr;
	pthread_mutex_unlock(&cl->lock);
	if (rc < 0) {
		cl_stop(cl);
		*err = rc;
		return NULL;
	}
	*err = 0;
	return cl;
}

void
p9_cl_close(struct p9_cl *cl)
{
	if (cl)
		cl_stop(cl);
}

uint32_t
p9_cl_msize(struct p9_cl *cl)
{
	return cl->msize;
}

enum p9_dialect
p9_cl_dialect(struct p9_cl *cl)
{
	return cl->dialect;
}

/* The loop thread never touches fid numbers: the lock is enough. */
uint32_t
p9_cl_fid_new(struct p9_cl *cl)
{
	uint32_t fid;

	pthread_mutex_lock(&cl->lock);
	if (cl->c) {
		fid = p9_client_fid_new(cl->c);
	} else {
		errno = ENOTCONN;
		fid = P9_NOFID;
	}
	pthread_mutex_unlock(&cl->lock);
	return fid;
}

void
p9_cl_fid_free(struct p9_cl *cl, uint32_t fid)
{
	pthread_mutex_lock(&cl->lock);
	if (cl->c)
		p9_client_fid_free(cl->c, fid);
	pthread_mutex_unlock(&cl->lock);
}

/* ---- file operations ---- */

int
p9_cl_attach(struct p9_cl *cl, uint32_t fid, const char *uname,
    uint32_t n_uname, const char *aname, struct p9_qid *qid)
{
	struct p9_fcall t, r;
	int rc;

	memset(&t, 0, sizeof t);
	t.type = P9_TATTACH;
	t.u.attach.fid = fid;
	t.u.attach.afid = P9_NOFID;
	t.u.attach.uname = (char *)uname;
	t.u.attach.aname = (char *)aname;
	t.u.attach.n_uname = n_uname;
	if ((rc = rpc_simple(cl, &t, &r)) == 0 && qid)
		*qid = r.u.rqid.qid;
	return rc;
}

/* Tclunk without releasing the number, which stays the caller's. */
static void
clunk_quiet(struct p9_cl *cl, uint32_t fid)
{
	struct p9_fcall t, r;

	memset(&t, 0, sizeof t);
	t.type = P9_TCLUNK;
	t.u.fid.fid = fid;
	rpc_simple(cl, &t, &r);
}

/*
 * Walks n names (any number; 0 clones) from fid to newfid, at most 16 a
 * message: the first from fid, the rest from newfid on.  On failure newfid
 * is not bound (unless it is fid, which may then have moved).
 */
static int
walk_names(struct p9_cl *cl, uint32_t fid, uint32_t newfid, char **names,
    size_t n, struct p9_qid *qid)
{
	struct p9_fcall t, r;
	size_t done = 0, k;
	int rc, bound = 0;

	if (qid)
		memset(qid, 0, sizeof *qid);
	do {
		k = n - done < P9_MAXWELEM ? n - done : P9_MAXWELEM;
		memset(&t, 0, sizeof t);
		t.type = P9_TWALK;
		t.u.walk.fid = bound ? newfid : fid;
		t.u.walk.newfid = newfid;
		t.u.walk.nwname = (uint16_t)k;
		if (k > 0)
			memcpy(t.u.walk.wname, names + done, k * sizeof *names);
		if ((rc = rpc_simple(cl, &t, &r)) < 0)
			goto fail;
		if (r.u.rwalk.nwqid != k) {
			/* Short: a name is missing.  walk(5) leaves newfid
			 * alone, but diod binds it anyway: clunk it, as
			 * Linux does (a correct server answers an error). */
			rc = r.u.rwalk.nwqid < k ? -ENOENT : -EPROTO;
			bound = newfid != fid;
			goto fail;
		}
		bound = newfid != fid;
		if (k > 0 && qid)
			*qid = r.u.rwalk.wqid[k - 1];
		done += k;
	} while (done < n);
	return 0;
fail:
	if (bound)
		clunk_quiet(cl, newfid);
	return rc;
}

int
p9_cl_walk(struct p9_cl *cl, uint32_t fid, uint32_t newfid, const char *path,
    struct p9_qid *qid)
{
	char *copy, *p, *name, **names;
	size_t n = 0;
	uint32_t tmp;
	int rc;

	if (!(copy = strdup(path)))
		return -ENOMEM;
	if (!(names = calloc(strlen(path) / 2 + 1, sizeof *names))) {
		free(copy);
		return -ENOMEM;
	}
	/* "a//b/./c" is a/b/c; "" and "/" clone */
	for (p = copy; (name = strsep(&p, "/"));)
		if (*name && strcmp(name, ".") != 0)
			names[n++] = name;
	if (newfid != fid || n <= P9_MAXWELEM) {
		rc = walk_names(cl, fid, newfid, names, n, qid);
		goto out;
	}
	/*
	 * A long walk in place: a failure half way would leave fid moved.
	 * Walk a new fid instead, then move fid there.
	 */
	if ((tmp = p9_cl_fid_new(cl)) == P9_NOFID) {
		rc = -errno;
		goto out;
	}
	if ((rc = walk_names(cl, fid, tmp, names, n, qid)) == 0) {
		clunk_quiet(cl, fid);
		rc = walk_names(cl, tmp, fid, NULL, 0, NULL);
		clunk_quiet(cl, tmp);
	}
	p9_cl_fid_free(cl, tmp);
out:
	free(names);
	free(copy);
	return rc;
}

static int
open_reply(struct p9_cl *cl, const struct p9_fcall *t, struct p9_qid *qid,
    uint32_t *iounit)
{
	struct p9_fcall r;
	int rc;

	if ((rc = rpc_simple(cl, t, &r)) < 0)
		return rc;
	if (qid)
		*qid = r.u.ropen.qid;
	if (iounit)
		*iounit = r.u.ropen.iounit;
	return 0;
}

int
p9_cl_open(struct p9_cl *cl, uint32_t fid, uint8_t mode, struct p9_qid *qid,
    uint32_t *iounit)
{
	struct p9_fcall t;

	memset(&t, 0, sizeof t);
	t.type = P9_TOPEN;
	t.u.open.fid = fid;
	t.u.open.mode = mode;
	return open_reply(cl, &t, qid, iounit);
}

int
p9_cl_lopen(struct p9_cl *cl, uint32_t fid, uint32_t flags, struct p9_qid *qid,
    uint32_t *iounit)
{
	struct p9_fcall t;

	memset(&t, 0, sizeof t);
	t.type = P9_TLOPEN;
	t.u.lopen.fid = fid;
	t.u.lopen.flags = flags;
	return open_reply(cl, &t, qid, iounit);
}

int
p9_cl_create(struct p9_cl *cl, uint32_t fid, const char *name, uint32_t perm,
    uint8_t mode, struct p9_qid *qid)
{
	struct p9_fcall t;

	memset(&t, 0, sizeof t);
	t.type = P9_TCREATE;
	t.u.create.fid = fid;
	t.u.create.name = (char *)name;
	t.u.create.perm = perm;
	t.u.create.mode = mode;
	t.u.create.extension = "";
	return open_reply(cl, &t, qid, NULL);
}

int
p9_cl_lcreate(struct p9_cl *cl, uint32_t fid, const char *name, uint32_t flags,
    uint32_t mode, uint32_t gid, struct p9_qid *qid)
{
	struct p9_fcall t;

	memset(&t, 0, sizeof t);
	t.type = P9_TLCREATE;
	t.u.lcreate.fid = fid;
	t.u.lcreate.name = (char *)name;
	t.u.lcreate.flags = flags;
	t.u.lcreate.mode = mode;
	t.u.lcreate.gid = gid;
	return open_reply(cl, &t, qid, NULL);
}

/* Most data one Tread, Treaddir or Twrite may carry. */
static size_t
io_max(struct p9_cl *cl, size_t n)
{
	size_t max = cl->msize - P9_IOHDRSZ;

	return n < max ? n : max;
}

/* One Tread or Treaddir, its data straight into buf. */
static ssize_t
read_once(struct p9_cl *cl, uint8_t type, uint32_t fid, uint64_t off, void *buf,
    size_t n)
{
	struct p9_fcall t, r;
	struct rpc q = {.t = &t, .r = &r, .data = buf};
	int rc;

	if (n == 0)
		return 0;
	memset(&t, 0, sizeof t);
	t.type = type;
	t.u.read.fid = fid;
	t.u.read.offset = off;
	t.u.read.count = (uint32_t)io_max(cl, n);
	q.datacap = t.u.read.count;
	if ((rc = rpc_run(cl, &q)) < 0)
		return rc;
	free(q.rbuf); /* only if the server answered oddly */
	return r.u.rread.count;
}

ssize_t
p9_cl_read(struct p9_cl *cl, uint32_t fid, uint64_t off, void *buf, size_t n)
{
	return read_once(cl, P9_TREAD, fid, off, buf, n);
}

ssize_t
p9_cl_readdir(struct p9_cl *cl, uint32_t fid, uint64_t off, void *buf, size_t n)
{
	return read_once(cl, P9_TREADDIR, fid, off, buf, n);
}

ssize_t
p9_cl_write(
    struct p9_cl *cl, uint32_t fid, uint64_t off, const void *buf, size_t n)
{
	struct p9_fcall t, r;
	size_t done = 0, k, w;
	int rc;

	while (done < n) {
		k = io_max(cl, n - done);
		memset(&t, 0, sizeof t);
		t.type = P9_TWRITE;
		t.u.write.fid = fid;
		t.u.write.offset = off + done;
		t.u.write.count = (uint32_t)k;
		t.u.write.data = (const uint8_t *)buf + done;
		if ((rc = rpc_simple(cl, &t, &r)) < 0)
			return done > 0 ? (ssize_t)done : rc;
		w = r.u.rwrite.count < k ? r.u.rwrite.count : k;
		if (w == 0) /* no progress: do not spin */
			return done > 0 ? (ssize_t)done : -EIO;
		done += w;
	}
	return (ssize_t)done;
}

static int
fid_call(struct p9_cl *cl, uint8_t type, uint32_t fid)
{
	struct p9_fcall t, r;

	memset(&t, 0, sizeof t);
	t.type = type;
	t.u.fid.fid = fid;
	return rpc_simple(cl, &t, &r);
}

/* The fid is gone after either, even on error (clunk(5), remove(5)). */
int
p9_cl_clunk(struct p9_cl *cl, uint32_t fid)
{
	int rc = fid_call(cl, P9_TCLUNK, fid);

	p9_cl_fid_free(cl, fid);
	return rc;
}

int
p9_cl_remove(struct p9_cl *cl, uint32_t fid)
{
	int rc = fid_call(cl, P9_TREMOVE, fid);

	p9_cl_fid_free(cl, fid);
	return rc;
}

int
p9_cl_stat(struct p9_cl *cl, uint32_t fid, struct p9_stat *st, uint8_t **sbuf)
{
	struct p9_fcall t, r;
	int rc;

	memset(&t, 0, sizeof t);
	t.type = P9_TSTAT;
	t.u.fid.fid = fid;
	if ((rc = p9_cl_rpc(cl, &t, &r, sbuf)) == 0)
		*st = r.u.rstat.stat;
	return rc;
}

int
p9_cl_wstat(struct p9_cl *cl, uint32_t fid, const struct p9_stat *st)
{
	struct p9_fcall t, r;

	memset(&t, 0, sizeof t);
	t.type = P9_TWSTAT;
	t.u.wstat.fid = fid;
	t.u.wstat.stat = *st;
	return rpc_simple(cl, &t, &r);
}

int
p9_cl_getattr(
    struct p9_cl *cl, uint32_t fid, uint64_t mask, struct p9_attr *attr)
{
	struct p9_fcall t, r;
	int rc;

	memset(&t, 0, sizeof t);
	t.type = P9_TGETATTR;
	t.u.getattr.fid = fid;
	t.u.getattr.request_mask = mask;
	if ((rc = rpc_simple(cl, &t, &r)) == 0)
		*attr = r.u.rgetattr;
	return rc;
}

int
p9_cl_setattr(struct p9_cl *cl, uint32_t fid, const struct p9_iattr *a)
{
	struct p9_fcall t, r;

	memset(&t, 0, sizeof t);
	t.type = P9_TSETATTR;
	t.u.setattr.fid = fid;
	t.u.setattr.attr = *a;
	return rpc_simple(cl, &t, &r);
}

void
p9_stat_null(struct p9_stat *st)
{
	memset(st, 0xff, sizeof *st);
	st->name = st->uid = st->gid = st->muid = st->extension = "";
}
