/*
 * conn.c - one server connection: framing, the fid and tag tables, the
 * protocol checks made before any handler runs, dialect mapping, replies
 * (now or later), Tflush and connection teardown.
 *
 * Every request is in the connection's in-flight list from its arrival to
 * its reply.  A reply is written at once; Rflush for a request follows that
 * request's own reply (flush(5)).  A flushed request that ends in EINTR is
 * answered by the Rflush alone: it was cancelled.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <dirent.h>
#include <time.h>

#include "impl.h"

#define FID_BUCKETS0 64
#define TAG_BUCKETS 256
#define READ_CHUNK (64 * 1024)
#define STEAL_MIN (16 * 1024)

struct p9_conn {
	struct p9_srv *srv;
	struct p9_stream *st;
	enum p9_dialect dialect;
	uint32_t msize;
	int versioned;
	void *aux;
	/* input */
	uint8_t *ibuf;
	size_t icap, ilen;
	uint64_t skip; /* bytes of an over-long message still to drop */
	int reading;
	/* fids */
	struct p9_fid **fids;
	unsigned nbuckets, nfids;
	struct p9_fid *blocked; /* need_fid's DEFER: the fid being made */
	/* requests in flight */
	struct p9_req *reqs;
	struct p9_req *tags[TAG_BUCKETS];
	unsigned nreqs;
	int closing; /* no more input; gone when nreqs is 0 */
	int closed;  /* stream close called */
	uint64_t active; /* uv_now() at the last message */
	struct p9_conn *next, *prev;
};

/* Private request state kept beside the public struct. */
struct req {
	struct p9_req r;
	struct req *tnext; /* tag bucket chain */
	struct req *wnext; /* waiting on a fid being made */
	int err;           /* error reply, 0 for r.out */
	int aborted;       /* reply dropped: Tversion reset or conn gone */
	int flush_called;
	char *emsg; /* p9_respond_errmsg text */
};

static void conn_maybe_finish(struct p9_conn *c);
static void run_req(struct p9_conn *c, struct req *q);
static void conn_input(struct p9_conn *c);

/* ---- fids ---- */

static unsigned
fid_hash(struct p9_conn *c, uint32_t num)
{
	return (num * 2654435761u) & (c->nbuckets - 1);
}

static struct p9_fid *
fid_lookup(struct p9_conn *c, uint32_t num)
{
	struct p9_fid *f;

	if (num == P9_NOFID)
		return NULL;
	for (f = c->fids[fid_hash(c, num)]; f; f = f->hnext)
		if (f->num == num)
			return f;
	return NULL;
}

static void
fid_grow(struct p9_conn *c)
{
	unsigned i, old = c->nbuckets;
	struct p9_fid **ob = c->fids, *f, *n;
	struct p9_fid **nb = calloc(old * 2, sizeof *nb);

	if (!nb)
		return; /* keep the longer chains */
	c->fids = nb;
	c->nbuckets = old * 2;
	for (i = 0; i < old; i++)
		for (f = ob[i]; f; f = n) {
			unsigned h = fid_hash(c, f->num);

			n = f->hnext;
			f->hnext = nb[h];
			nb[h] = f;
		}
	free(ob);
}

/* A new fid in the table, holding one reference for the table and one for
 * the caller.  NULL with *err set: EBADF (in use / NOFID), EMFILE. */
static struct p9_fid *
fid_new(struct p9_conn *c, uint32_t num, const struct p9_tree *tree, int *err)
{
	struct p9_fid *f;
	unsigned h;

	if (num == P9_NOFID || fid_lookup(c, num)) {
		*err = EBADF;
		return NULL;
	}
	if (c->nfids >= c->srv->o.max_fids) {
		*err = EMFILE;
		return NULL;
	}
	if (!(f = calloc(1, sizeof *f))) {
		*err = ENOMEM;
		return NULL;
	}
	if (c->nfids >= c->nbuckets * 2)
		fid_grow(c);
	f->num = num;
	f->conn = c;
	f->tree = tree;
	f->omode = -1;
	f->ref = 2;
	h = fid_hash(c, num);
	f->hnext = c->fids[h];
	c->fids[h] = f;
	c->nfids++;
	return f;
}

static struct p9_fid *
fid_ref(struct p9_fid *f)
{
	if (f)
		f->ref++;
	return f;
}

static void
fid_unref(struct p9_fid *f)
{
	if (!f || --f->ref > 0)
		return;
	if (f->tree->ops->destroy_fid)
		f->tree->ops->destroy_fid(f);
	free(f);
}

/* Takes f out of the table (dropping the table's reference). */
static void
fid_remove(struct p9_conn *c, struct p9_fid *f)
{
	struct p9_fid **pp = &c->fids[fid_hash(c, f->num)];

	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == f) {
			*pp = f->hnext;
			c->nfids--;
			fid_unref(f);
			return;
		}
}

static void
fid_remove_all(struct p9_conn *c)
{
	unsigned i;

	for (i = 0; i < c->nbuckets; i++)
		while (c->fids[i])
			fid_remove(c, c->fids[i]);
}

/* ---- requests ---- */

static struct req *
tag_lookup(struct p9_conn *c, uint16_t tag)
{
	struct req *q;

	for (q = (struct req *)c->tags[tag % TAG_BUCKETS]; q; q = q->tnext)
		if (q->r.in.tag == tag)
			return q;
	return NULL;
}

static void
req_link(struct p9_conn *c, struct req *q)
{
	struct p9_req *r = &q->r;
	unsigned h = r->in.tag % TAG_BUCKETS;

	r->next = c->reqs;
	r->prev = NULL;
	if (c->reqs)
		c->reqs->prev = r;
	c->reqs = r;
	q->tnext = (struct req *)c->tags[h];
	c->tags[h] = r;
	c->nreqs++;
}

static void
req_unlink(struct p9_conn *c, struct req *q)
{
	struct p9_req *r = &q->r;
	struct req **pp = (struct req **)&c->tags[r->in.tag % TAG_BUCKETS];

	for (; *pp; pp = &(*pp)->tnext)
		if (*pp == q) {
			*pp = q->tnext;
			break;
		}
	if (r->prev)
		r->prev->next = r->next;
	else
		c->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	c->nreqs--;
}

static void
req_free(struct req *q)
{
	fid_unref(q->r.fid);
	fid_unref(q->r.fid2);
	if (q->r.newfid != q->r.fid)
		fid_unref(q->r.newfid);
	free(q->r.buf);
	free(q->r.rbuf);
	free(q->emsg);
	free(q);
}

/* ---- output ---- */

static void
trace(struct p9_conn *c, const char *dir, const struct p9_fcall *f)
{
	char line[512];

	if (!c->srv->o.trace)
		return;
	p9_fcall_format(f, line, sizeof line);
	fprintf(stderr, "%s %s %s\n", c->st->peer.addr, dir, line);
}

static void
send_buf(struct p9_conn *c, uint8_t *buf, size_t len)
{
	int rc;

	if (c->closed) {
		free(buf);
		return;
	}
	if ((rc = c->st->ops->write(c->st, buf, len)) < 0) {
		p9_log(LOG_DEBUG, "%s: write: %s", c->st->peer.addr,
		    uv_strerror(rc));
		return;
	}
	/* Backpressure: stop taking requests while replies pile up. */
	if (c->st->queued > 4 * (size_t)c->msize + (8u << 20) && c->reading) {
		c->reading = 0;
		c->st->ops->set_reading(c->st, 0);
	}
}

static void
send_fcall(struct p9_conn *c, struct p9_fcall *f)
{
	size_t n = p9_packed_size(f, c->dialect);
	uint8_t *buf;
	ssize_t k;

	trace(c, "->", f);
	if (!(buf = malloc(n))) {
		p9_log(
		    LOG_ERR, "%s: out of memory for a reply", c->st->peer.addr);
		return;
	}
	if ((k = p9_pack(f, buf, n, c->dialect)) < 0) {
		free(buf);
		p9_log(LOG_ERR, "%s: cannot pack %s: %s", c->st->peer.addr,
		    p9_type_name(f->type), strerror((int)-k));
		return;
	}
	send_buf(c, buf, (size_t)k);
}

static void
send_error(struct p9_conn *c, uint16_t tag, int err, const char *msg)
{
	struct p9_fcall f;

	memset(&f, 0, sizeof f);
	f.tag = tag;
	if (c->dialect == P9_2000L && c->versioned) {
		f.type = P9_RLERROR;
		f.u.lerror.ecode = (uint32_t)err;
	} else {
		f.type = P9_RERROR;
		f.u.error.ename = (char *)(msg ? msg : p9_errstr(err));
		f.u.error.errnum = (uint32_t)err;
	}
	send_fcall(c, &f);
}

/* ---- replies ---- */

static void
attr_from_stat(struct p9_attr *a, const struct p9_stat *st)
{
	memset(a, 0, sizeof *a);
	a->valid = P9_GETATTR_BASIC;
	a->qid = st->qid;
	a->mode = st->mode & 0777;
	if (st->mode & P9_DMDIR)
		a->mode |= 0040000;
	else if (st->mode & P9_DMSYMLINK)
		a->mode |= 0120000;
	else
		a->mode |= 0100000;
	a->uid = st->n_uid != P9_NONUNAME ? st->n_uid : 0;
	a->gid = st->n_gid != P9_NONUNAME ? st->n_gid : 0;
	a->nlink = (st->mode & P9_DMDIR) ? 2 : 1;
	a->size = st->length;
	a->blksize = 4096;
	a->blocks = (st->length + 511) / 512;
	a->atime_sec = st->atime;
	a->mtime_sec = st->mtime;
	a->ctime_sec = st->mtime;
}

/* Bookkeeping a successful reply implies; returns an errno to answer
 * instead (a walk that walked nothing). */
static int
reply_effects(struct p9_conn *c, struct req *q)
{
	struct p9_req *r = &q->r;
	struct p9_stat st;

	switch (r->type) {
	case P9_TATTACH:
		r->fid->qid = r->out.u.rqid.qid;
		break;
	case P9_TAUTH:
		r->fid->qid = r->out.u.rqid.qid;
		break;
	case P9_TWALK: {
		uint16_t want = r->in.u.walk.nwname;
		uint16_t got = r->out.u.rwalk.nwqid;

		if (got > want)
			return EIO;
		if (want > 0 && got == 0)
			return ENOENT;
		if (got == want)
			r->newfid->qid =
			    want ? r->out.u.rwalk.wqid[want - 1] : r->fid->qid;
		else if (r->newfid != r->fid)
			fid_remove(c, r->newfid);
		break;
	}
	case P9_TOPEN:
	case P9_TLOPEN:
	case P9_TCREATE:
	case P9_TLCREATE:
		r->fid->qid = r->out.u.ropen.qid;
		r->fid->omode =
		    (r->in.type == P9_TLOPEN || r->in.type == P9_TLCREATE)
		        ? (int)((r->in.type == P9_TLOPEN
		                        ? r->in.u.lopen.flags
		                        : r->in.u.lcreate.flags) &
		                P9_L_ACCMODE)
		        : (r->in.type == P9_TOPEN ? r->in.u.open.mode
		                                  : r->in.u.create.mode) &
		              3;
		break;
	case P9_TXATTRWALK:
		/* an attribute's value is a file, also a directory's */
		r->newfid->omode = P9_OREAD;
		r->newfid->qid.type = P9_QTFILE;
		break;
	case P9_TXATTRCREATE:
		r->fid->omode = P9_OWRITE;
		r->fid->qid.type = P9_QTFILE;
		break;
	case P9_TGETATTR:
		if (r->mapped) {
			st = r->out.u.rstat.stat;
			attr_from_stat(&r->out.u.rgetattr, &st);
		}
		break;
	}
	return 0;
}

/* Undoing what dispatch did for a request that failed. */
static void
error_effects(struct p9_conn *c, struct req *q)
{
	struct p9_req *r = &q->r;

	switch (r->type) {
	case P9_TATTACH:
	case P9_TAUTH:
		if (r->fid)
			fid_remove(c, r->fid);
		break;
	case P9_TWALK:
	case P9_TXATTRWALK:
		if (r->newfid && r->newfid != r->fid)
			fid_remove(c, r->newfid);
		break;
	}
}

static void finish(struct req *q);

static void
answer_flushes(struct req *q)
{
	struct p9_req *fl, *next;

	for (fl = q->r.flushes; fl; fl = next) {
		next = fl->flushes;
		fl->flushes = NULL;
		fl->oldreq = NULL;
		finish((struct req *)fl);
	}
	q->r.flushes = NULL;
}

/* Sends q's reply (unless aborted), answers the flushes waiting on it in
 * order, frees it. */
static void
finish(struct req *q)
{
	struct p9_req *r = &q->r;
	struct p9_conn *c = r->conn;
	int err = q->err;

	struct p9_fid *made = NULL;
	struct req *waiting = NULL, *w;

	/* the fid this request made: made now (or not), and what waited
	 * for it goes on below, once this answer is out */
	if ((r->type == P9_TATTACH || r->type == P9_TAUTH) && r->fid)
		made = r->fid;
	else if ((r->type == P9_TWALK || r->type == P9_TXATTRWALK) &&
	         r->newfid && r->newfid != r->fid)
		made = r->newfid;
	if (made && made->making == q) {
		made->making = NULL;
		waiting = made->waiting;
		made->waiting = NULL;
	}
	if (!err && r->type != P9_TFLUSH)
		err = reply_effects(c, q);
	if (err)
		error_effects(c, q);
	req_unlink(c, q);
	if (r->type == P9_TCLUNK || r->type == P9_TREMOVE) {
		/* the fid is gone before the client hears so: its open file
		 * (and the locks on it) close first */
		fid_unref(r->fid);
		r->fid = NULL;
	}
	if (q->aborted || (r->flushed && err == EINTR)) {
		/* dropped, or cancelled: the Rflush says it all */
	} else if (err) {
		send_error(c, r->in.tag, err, q->emsg);
	} else if (r->rbuf && r->out.u.rread.data == r->rbuf + P9_RREADHDR &&
	           (r->type == P9_TREAD || r->type == P9_TREADDIR)) {
		/* the data is already in place behind its header */
		uint32_t n = r->out.u.rread.count;
		uint8_t *b = r->rbuf;

		r->out.type = r->type + 1;
		r->out.tag = r->in.tag;
		trace(c, "->", &r->out);
		p9_put32(b, P9_RREADHDR + n);
		b[4] = r->out.type;
		b[5] = (uint8_t)r->in.tag;
		b[6] = (uint8_t)(r->in.tag >> 8);
		p9_put32(b + 7, n);
		r->rbuf = NULL;
		send_buf(c, b, P9_RREADHDR + n);
	} else {
		/* by the type that came, so a mapped Tlopen gets Rlopen */
		r->out.type = r->type + 1;
		r->out.tag = r->in.tag;
		send_fcall(c, &r->out);
	}
	answer_flushes(q);
	req_free(q);
	while ((w = waiting)) {
		waiting = w->wnext;
		w->wnext = NULL;
		if (c->closing || w->aborted) {
			w->aborted = 1;
			finish(w);
		} else
			run_req(c, w);
	}
	conn_maybe_finish(c);
}

void
p9_respond(struct p9_req *r)
{
	finish((struct req *)r);
}

void
p9_respond_error(struct p9_req *r, int err)
{
	struct req *q = (struct req *)r;

	q->err = err > 0 ? err : EIO;
	finish(q);
}

void
p9_respond_errmsg(struct p9_req *r, int err, const char *fmt, ...)
{
	struct req *q = (struct req *)r;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&q->emsg, fmt, ap) < 0)
		q->emsg = NULL;
	va_end(ap);
	p9_respond_error(r, err);
}

uint8_t *
p9_req_data(struct p9_req *r, uint32_t *cap)
{
	uint32_t n = r->in.u.read.count;
	uint32_t max = p9_conn_msize(r->conn) - P9_RREADHDR;

	if (n > max)
		n = max;
	if (!r->rbuf || r->rcap < n) {
		free(r->rbuf);
		if (!(r->rbuf = malloc(P9_RREADHDR + (size_t)n)))
			abort(); /* the daemon may abort on OOM */
		r->rcap = n;
	}
	*cap = n;
	return r->rbuf + P9_RREADHDR;
}

void
p9_respond_bytes(struct p9_req *r, const void *data, size_t len)
{
	uint64_t off = r->in.u.read.offset;
	uint32_t cap;
	uint8_t *buf = p9_req_data(r, &cap);
	size_t n = off >= len ? 0 : len - (size_t)off;

	if (n > cap)
		n = cap;
	if (n) /* data + off would point past the end */
		memcpy(buf, (const uint8_t *)data + off, n);
	r->out.u.rread.count = (uint32_t)n;
	r->out.u.rread.data = buf;
	p9_respond(r);
}

static uint8_t
dirent_type(const struct p9_qid *q)
{
	if (q->type & P9_QTDIR)
		return DT_DIR;
	if (q->type & P9_QTSYMLINK)
		return DT_LNK;
	return DT_REG;
}

int
p9_dirread(struct p9_req *r, p9_dirgen_fn gen, void *arg)
{
	struct p9_fid *fid = r->fid;
	uint64_t off = r->in.u.read.offset, index;
	uint32_t cap, n = 0;
	uint8_t *buf = p9_req_data(r, &cap);
	struct p9_stat st;
	ssize_t k;

	if (r->type == P9_TREADDIR) {
		struct p9_dirent de;

		for (index = off;; index++) {
			memset(&st, 0, sizeof st);
			if (gen(arg, index, &st) < 0)
				break;
			de.qid = st.qid;
			de.offset = index + 1;
			de.type = dirent_type(&st.qid);
			de.name = st.name;
			de.namelen = (uint16_t)strlen(st.name);
			if ((k = p9_dirent_pack(&de, buf + n, cap - n)) < 0)
				break;
			n += (uint32_t)k;
		}
	} else {
		if (off == 0)
			index = 0;
		else if (off == fid->diroffset)
			index = fid->dirindex;
		else
			return EINVAL;
		for (;; index++) {
			memset(&st, 0, sizeof st);
			st.n_uid = st.n_gid = st.n_muid = P9_NONUNAME;
			if (gen(arg, index, &st) < 0)
				break;
			k = p9_stat_pack(
			    &st, buf + n, cap - n, p9_conn_dialect(r->conn));
			if (k < 0) {
				if (n == 0)
					return EMSGSIZE;
				break;
			}
			n += (uint32_t)k;
		}
		fid->diroffset = off + n;
		fid->dirindex = index;
	}
	r->out.u.rread.count = n;
	r->out.u.rread.data = buf;
	return 0;
}

void
p9_respond_dirread(struct p9_req *r, p9_dirgen_fn gen, void *arg)
{
	int err = p9_dirread(r, gen, arg);

	if (err == EMSGSIZE)
		p9_respond_errmsg(r, EINVAL, "directory read count too small");
	else if (err)
		p9_respond_error(r, err);
	else
		p9_respond(r);
}

/* ---- dispatch ---- */

static int
name_ok(const char *s)
{
	return *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

static void
do_version(struct p9_conn *c, struct req *q)
{
	struct p9_req *r = &q->r;
	struct p9_fcall f;
	struct p9_req *o;
	int d = p9_dialect_parse(r->in.u.version.version);
	uint32_t msize = r->in.u.version.msize;

	/* A new session: abort what is in flight, clunk every fid. */
	for (o = c->reqs; o; o = o->next)
		if (o != r)
			((struct req *)o)->aborted = 1;
	fid_remove_all(c);
	memset(&f, 0, sizeof f);
	f.type = P9_RVERSION;
	f.tag = r->in.tag;
	if (msize > c->srv->o.msize)
		msize = c->srv->o.msize;
	if (d < 0) {
		f.u.version.msize = msize;
		f.u.version.version = "unknown";
		c->versioned = 0;
		c->dialect = P9_2000;
	} else if (msize < P9_MINMSIZE) {
		req_unlink(c, q);
		send_error(c, r->in.tag, EINVAL, "msize too small");
		req_free(q);
		return;
	} else {
		c->dialect = (enum p9_dialect)d;
		c->msize = msize;
		c->versioned = 1;
		f.u.version.msize = msize;
		f.u.version.version = (char *)p9_dialect_name(c->dialect);
	}
	req_unlink(c, q);
	send_fcall(c, &f);
	req_free(q);
}

/* Asks the server, once, to cancel a request it holds. */
static void
call_flush(struct req *q)
{
	const struct p9_ops *ops;

	if (q->flush_called || q->r.type == P9_TFLUSH || !q->r.fid)
		return;
	ops = q->r.fid->tree->ops;
	q->flush_called = 1;
	q->r.flushed = 1;
	if (ops->flush)
		ops->flush(&q->r);
}

static void
do_flush(struct p9_conn *c, struct req *q)
{
	struct p9_req *r = &q->r, *tail;
	struct req *old = tag_lookup(c, r->in.u.flush.oldtag);

	if (!old || old == q || old->aborted) {
		p9_respond(r);
		return;
	}
	r->oldreq = &old->r;
	for (tail = &old->r; tail->flushes; tail = tail->flushes)
		;
	tail->flushes = r;
	old->r.flushed = 1;
	call_flush(old);
}

/* Looks up a fid the request names; EBADF if unknown, DEFER if the
 * request that makes it is not answered yet (c->blocked is then the
 * fid: the request waits for it, as a client that pipelines an attach
 * and a walk from it means).  A forward tree's fids never wait: its
 * server sends requests on in the order they came. */
#define DEFER (-4)
static int
need_fid(struct p9_conn *c, struct p9_fid **slot, uint32_t num)
{
	struct p9_fid *f = fid_lookup(c, num);

	if (!f)
		return EBADF;
	if (f->making && !f->tree->forward) {
		/* (a forward tree's server takes requests in order itself) */
		c->blocked = f;
		return DEFER;
	}
	*slot = fid_ref(f);
	return 0;
}

static int
check_unopened(struct p9_fid *f)
{
	return f->omode >= 0 ? EBADF : 0;
}

/* Maps a .L request onto the 9P2000 operation a server provides. */
static void (*map_dotl(struct p9_req *r, const struct p9_ops *ops))(
    struct p9_req *)
{
	struct p9_fcall *in = &r->in;
	uint32_t fl, mode, fid;
	char *name;

	switch (in->type) {
	case P9_TLOPEN:
		if (ops->lopen || !ops->open)
			return ops->lopen;
		fl = in->u.lopen.flags;
		fid = in->u.lopen.fid;
		in->u.open.fid = fid;
		in->u.open.mode = (uint8_t)((fl & P9_L_ACCMODE) |
		                            (fl & P9_L_TRUNC ? P9_OTRUNC : 0));
		in->type = P9_TOPEN;
		r->mapped = 1;
		return ops->open;
	case P9_TLCREATE:
		if (ops->lcreate || !ops->create)
			return ops->lcreate;
		fl = in->u.lcreate.flags;
		mode = in->u.lcreate.mode;
		name = in->u.lcreate.name;
		fid = in->u.lcreate.fid;
		in->u.create.fid = fid;
		in->u.create.name = name;
		in->u.create.perm = mode & 0777;
		in->u.create.mode = (uint8_t)(fl & P9_L_ACCMODE);
		in->u.create.extension = "";
		in->type = P9_TCREATE;
		r->mapped = 1;
		return ops->create;
	case P9_TGETATTR:
		if (ops->getattr || !ops->stat)
			return ops->getattr;
		in->type = P9_TSTAT;
		r->mapped = 1;
		return ops->stat;
	case P9_TSETATTR: {
		struct p9_iattr a;

		if (ops->setattr || !ops->wstat)
			return ops->setattr;
		a = in->u.setattr.attr;
		fid = in->u.setattr.fid;
		if (a.valid & (P9_SETATTR_UID | P9_SETATTR_GID))
			return NULL;
		memset(&in->u.wstat, 0, sizeof in->u.wstat);
		in->u.wstat.fid = fid;
		p9_stat_null(&in->u.wstat.stat);
		if (a.valid & P9_SETATTR_MODE)
			in->u.wstat.stat.mode =
			    (a.mode & 0777) |
			    (r->fid->qid.type & P9_QTDIR ? P9_DMDIR : 0);
		if (a.valid & P9_SETATTR_SIZE)
			in->u.wstat.stat.length = a.size;
		if (a.valid & P9_SETATTR_MTIME)
			in->u.wstat.stat.mtime = a.valid & P9_SETATTR_MTIME_SET
			                             ? (uint32_t)a.mtime_sec
			                             : (uint32_t)time(NULL);
		if (a.valid & P9_SETATTR_ATIME)
			in->u.wstat.stat.atime = a.valid & P9_SETATTR_ATIME_SET
			                             ? (uint32_t)a.atime_sec
			                             : (uint32_t)time(NULL);
		in->type = P9_TWSTAT;
		r->mapped = 1;
		return ops->wstat;
	}
	case P9_TREADDIR:
		if (ops->readdir || !ops->read)
			return ops->readdir;
		in->type = P9_TREAD;
		r->mapped = 1;
		return ops->read;
	}
	return NULL;
}

static void
mapped_nop(struct p9_req *r)
{
}

int
p9_req_map_dotl(struct p9_req *r)
{
	static const struct p9_ops plain = {.open = mapped_nop,
	    .create = mapped_nop,
	    .stat = mapped_nop,
	    .wstat = mapped_nop,
	    .read = mapped_nop};

	return map_dotl(r, &plain) ? 0 : -1;
}

/* Checks a request and finds its handler; returns an errno to answer with
 * instead.  Fills r->fid, fid2, newfid. */
/* A listener may serve some trees only (a plain one). */
static int
aname_allowed(struct p9_conn *c, const struct p9_tree *tree)
{
	const char *const *a = c->st->peer.anames;

	if (!a)
		return 1;
	for (; *a; a++)
		if (tree->aname && strcmp(*a, tree->aname) == 0)
			return 1;
	return 0;
}

static int
prepare(struct p9_conn *c, struct req *q, void (**fn)(struct p9_req *))
{
	struct p9_req *r = &q->r;
	struct p9_fcall *in = &r->in;
	const struct p9_ops *ops;
	const struct p9_tree *tree;
	uint32_t max = c->msize - P9_RREADHDR;
	int err = 0, i, fwd;

	switch (in->type) {
	case P9_TAUTH:
		if (!(tree = p9_srv_tree(c->srv, in->u.auth.aname)) ||
		    !aname_allowed(c, tree))
			return -3;
		if (!tree->ops->auth)
			return -2; /* as diod and Plan 9 say it */
		if (!(r->fid = fid_new(c, in->u.auth.afid, tree, &err)))
			return err;
		r->fid->making = q;
		r->fid->qid.type = P9_QTAUTH;
		*fn = tree->ops->auth;
		return 0;
	case P9_TATTACH:
		if (!(tree = p9_srv_tree(c->srv, in->u.attach.aname)) ||
		    !aname_allowed(c, tree))
			return -3;
		if (in->u.attach.afid != P9_NOFID &&
		    (err = need_fid(c, &r->fid2, in->u.attach.afid)))
			return err;
		if (!(r->fid = fid_new(c, in->u.attach.fid, tree, &err)))
			return err;
		r->fid->making = q;
		*fn = tree->ops->attach;
		return 0;
	case P9_TWALK:
		if ((err = need_fid(c, &r->fid, in->u.walk.fid))) {
			/* waiting: its new fid is in the table already, so
			 * what comes for it waits in turn */
			if (err == DEFER && !r->newfid &&
			    in->u.walk.newfid != in->u.walk.fid) {
				struct p9_fid *b = c->blocked;
				int e2;

				if ((r->newfid = fid_new(
				         c, in->u.walk.newfid, b->tree, &e2)))
					r->newfid->making = q;
				c->blocked = b;
			}
			return err;
		}
		/* walk(5) forbids walking an open fid; diod's tools walk
		 * from an open directory to a new fid, which harms nothing,
		 * so only walking an open fid in place is refused. */
		if (in->u.walk.newfid == in->u.walk.fid &&
		    !r->fid->tree->forward && (err = check_unopened(r->fid)))
			return err;
		for (i = 0; i < in->u.walk.nwname; i++)
			if (!*in->u.walk.wname[i] ||
			    strchr(in->u.walk.wname[i], '/'))
				return EINVAL;
		if (in->u.walk.newfid == in->u.walk.fid)
			r->newfid = r->fid;
		else if (r->newfid && r->newfid->making == q)
			r->newfid->qid = r->fid->qid; /* made while it waited */
		else if (!(r->newfid = fid_new(
		               c, in->u.walk.newfid, r->fid->tree, &err)))
			return err;
		else {
			r->newfid->qid = r->fid->qid;
			r->newfid->making = q;
		}
		*fn = r->fid->tree->ops->walk;
		return 0;
	case P9_TXATTRWALK:
		if ((err = need_fid(c, &r->fid, in->u.xattrwalk.fid)))
			return err;
		if (!(r->newfid = fid_new(
		          c, in->u.xattrwalk.newfid, r->fid->tree, &err)))
			return err;
		r->newfid->making = q;
		*fn = r->fid->tree->ops->xattrwalk;
		return 0;
	case P9_TCLUNK:
	case P9_TREMOVE:
		if ((err = need_fid(c, &r->fid, in->u.fid.fid)))
			return err;
		fid_remove(c, r->fid);
		ops = r->fid->tree->ops;
		*fn = in->type == P9_TCLUNK ? ops->clunk : ops->remove;
		if (!*fn && in->type == P9_TCLUNK)
			return -1; /* plain success */
		return 0;
	case P9_TRENAME:
		if ((err = need_fid(c, &r->fid, in->u.rename.fid)) ||
		    (err = need_fid(c, &r->fid2, in->u.rename.dfid)))
			return err;
		if (!name_ok(in->u.rename.name))
			return EINVAL;
		if (r->fid->tree != r->fid2->tree)
			return EXDEV;
		*fn = r->fid->tree->ops->rename;
		return 0;
	case P9_TRENAMEAT:
		if ((err = need_fid(c, &r->fid, in->u.renameat.olddirfid)) ||
		    (err = need_fid(c, &r->fid2, in->u.renameat.newdirfid)))
			return err;
		if (!name_ok(in->u.renameat.oldname) ||
		    !name_ok(in->u.renameat.newname))
			return EINVAL;
		if (r->fid->tree != r->fid2->tree)
			return EXDEV;
		*fn = r->fid->tree->ops->renameat;
		return 0;
	case P9_TLINK:
		if ((err = need_fid(c, &r->fid, in->u.link.dfid)) ||
		    (err = need_fid(c, &r->fid2, in->u.link.fid)))
			return err;
		if (!name_ok(in->u.link.name))
			return EINVAL;
		if (r->fid->tree != r->fid2->tree)
			return EXDEV;
		*fn = r->fid->tree->ops->link;
		return 0;
	}

	/* The rest name one fid, at the same place in every message. */
	switch (in->type) {
	case P9_TOPEN:
	case P9_TLOPEN:
	case P9_TCREATE:
	case P9_TLCREATE:
	case P9_TREAD:
	case P9_TREADDIR:
	case P9_TWRITE:
	case P9_TSTAT:
	case P9_TWSTAT:
	case P9_TGETATTR:
	case P9_TSETATTR:
	case P9_TREADLINK:
	case P9_TSTATFS:
	case P9_TFSYNC:
	case P9_TLOCK:
	case P9_TGETLOCK:
	case P9_TXATTRCREATE:
	case P9_TSYMLINK:
	case P9_TMKNOD:
	case P9_TMKDIR:
	case P9_TUNLINKAT:
		/* fid is the first field of each of these bodies */
		if ((err = need_fid(c, &r->fid, in->u.fid.fid)))
			return err;
		ops = r->fid->tree->ops;
		break;
	default:
		return EOPNOTSUPP;
	}

	/* A forwarding tree's server checks the state of its fids itself:
	 * a pipelined read may come before the reply to its open. */
	fwd = r->fid->tree->forward;
	switch (in->type) {
	case P9_TOPEN:
	case P9_TLOPEN:
		if (fwd) {
			*fn = in->type == P9_TOPEN ? ops->open : ops->lopen;
			break;
		}
		if ((err = check_unopened(r->fid)))
			return err;
		if (in->type == P9_TOPEN && (r->fid->qid.type & P9_QTDIR) &&
		    (in->u.open.mode & 3) != P9_OREAD &&
		    (in->u.open.mode & 3) != P9_OEXEC)
			return EISDIR;
		*fn = in->type == P9_TOPEN ? ops->open : map_dotl(r, ops);
		break;
	case P9_TCREATE:
	case P9_TLCREATE:
		if (!fwd && (err = check_unopened(r->fid)))
			return err;
		if (!fwd && !(r->fid->qid.type & P9_QTDIR))
			return ENOTDIR;
		if (!name_ok(in->type == P9_TCREATE ? in->u.create.name
		                                    : in->u.lcreate.name))
			return EINVAL;
		*fn = in->type == P9_TCREATE ? ops->create : map_dotl(r, ops);
		break;
	case P9_TREAD:
	case P9_TREADDIR:
		if (!fwd && r->fid->omode != P9_OREAD &&
		    r->fid->omode != P9_ORDWR && r->fid->omode != P9_OEXEC)
			return EBADF;
		if (!fwd && in->type == P9_TREADDIR &&
		    !(r->fid->qid.type & P9_QTDIR))
			return ENOTDIR;
		if (in->u.read.count > max)
			in->u.read.count = max;
		*fn = in->type == P9_TREAD ? ops->read : map_dotl(r, ops);
		break;
	case P9_TWRITE:
		if (!fwd && r->fid->omode != P9_OWRITE &&
		    r->fid->omode != P9_ORDWR)
			return EBADF;
		if (!fwd && (r->fid->qid.type & P9_QTDIR))
			return EISDIR;
		*fn = ops->write;
		break;
	case P9_TSTAT:
		*fn = ops->stat;
		break;
	case P9_TWSTAT:
		*fn = ops->wstat;
		break;
	case P9_TGETATTR:
	case P9_TSETATTR:
		*fn = map_dotl(r, ops);
		break;
	case P9_TREADLINK:
		*fn = ops->readlink;
		break;
	case P9_TSTATFS:
		*fn = ops->statfs;
		break;
	case P9_TFSYNC:
		*fn = ops->fsync;
		if (!*fn)
			return -1;
		break;
	case P9_TLOCK:
		*fn = ops->lock;
		break;
	case P9_TGETLOCK:
		*fn = ops->getlock;
		break;
	case P9_TXATTRCREATE:
		*fn = ops->xattrcreate;
		break;
	case P9_TSYMLINK:
		if (!name_ok(in->u.symlink.name))
			return EINVAL;
		*fn = ops->symlink;
		break;
	case P9_TMKNOD:
		if (!name_ok(in->u.mknod.name))
			return EINVAL;
		*fn = ops->mknod;
		break;
	case P9_TMKDIR:
		if (!name_ok(in->u.mkdir.name))
			return EINVAL;
		*fn = ops->mkdir;
		break;
	case P9_TUNLINKAT:
		if (!name_ok(in->u.unlinkat.name))
			return EINVAL;
		*fn = ops->unlinkat;
		break;
	}
	return *fn ? 0 : EOPNOTSUPP;
}

static const char *
unpack_error(int rc)
{
	switch (rc) {
	case -EMSGSIZE:
		return "message larger than msize";
	case -EBADMSG:
		return "unknown message type";
	case -E2BIG:
		return "too many names in walk";
	default:
		return "malformed message";
	}
}

/* Takes one whole message (ownership of buf, len + 1 bytes). */
static void
dispatch(struct p9_conn *c, uint8_t *buf, size_t len)
{
	struct req *q = calloc(1, sizeof *q);
	struct p9_req *r;
	uint16_t tag = (uint16_t)(buf[5] | buf[6] << 8);
	uint8_t type = buf[4];
	int rc;

	if (!q) {
		free(buf);
		send_error(c, tag, ENOMEM, NULL);
		return;
	}
	r = &q->r;
	r->buf = buf;
	r->conn = c;
	rc = p9_unpack(&r->in, buf, len, c->msize, c->dialect);
	if (rc < 0) {
		p9_log(LOG_DEBUG, "%s: bad %s (type %u, tag %u): %s",
		    c->st->peer.addr,
		    p9_type_name(type) ? p9_type_name(type) : "message", type,
		    tag, unpack_error(rc));
		send_error(c, tag,
		    rc == -E2BIG ? EINVAL
		                 : (rc == -EBADMSG ? EOPNOTSUPP : EPROTO),
		    unpack_error(rc));
		req_free(q);
		return;
	}
	trace(c, "<-", &r->in);
	r->type = r->in.type;
	if (type == P9_TVERSION) {
		req_link(c, q);
		do_version(c, q);
		return;
	}
	if (!c->versioned) {
		send_error(c, tag, EPROTO, "version not negotiated");
		req_free(q);
		return;
	}
	if (tag_lookup(c, tag)) {
		send_error(c, tag, EBUSY, "tag in use");
		req_free(q);
		return;
	}
	req_link(c, q);
	if (type == P9_TFLUSH) {
		do_flush(c, q);
		return;
	}
	if (c->nreqs > c->srv->o.max_reqs) {
		p9_respond_errmsg(r, EAGAIN,
		    "too many requests in flight (limit %u)",
		    c->srv->o.max_reqs);
		return;
	}
	run_req(c, q);
}

/* Prepares q and hands it to the server, or answers it; a request on a
 * fid still being made waits on that fid. */
static void
run_req(struct p9_conn *c, struct req *q)
{
	struct p9_req *r = &q->r;
	void (*fn)(struct p9_req *) = NULL;
	int err;

	err = prepare(c, q, &fn);
	if (err == DEFER) {
		struct p9_fid *f = c->blocked;
		struct req **pp;

		/* what prepare took goes back; all is taken again later */
		if (r->fid) {
			fid_unref(r->fid);
			r->fid = NULL;
		}
		if (r->fid2) {
			fid_unref(r->fid2);
			r->fid2 = NULL;
		}
		q->wnext = NULL;
		for (pp = (struct req **)&f->waiting; *pp; pp = &(*pp)->wnext)
			;
		*pp = q;
		return;
	}
	if (err == -1) /* nothing for the server to do */
		p9_respond(r);
	else if (err == -2)
		p9_respond_errmsg(r, ENOENT, "authentication not required");
	else if (err == -3)
		p9_respond_errmsg(
		    r, ENOENT, "no tree named '%s'", r->in.u.attach.aname);
	else if (err == EMFILE)
		p9_respond_errmsg(
		    r, err, "too many fids (limit %u)", c->srv->o.max_fids);
	else if (err)
		p9_respond_error(r, err);
	else if (!fn) /* a server without this operation */
		p9_respond_error(r, EOPNOTSUPP);
	else
		fn(r);
}

/* ---- input ---- */

static void
on_alloc(struct p9_stream *s, uint8_t **buf, size_t *cap)
{
	struct p9_conn *c = s->user;
	size_t want = READ_CHUNK;

	if (c->ilen >= 4 && !c->skip) {
		size_t size = p9_get32(c->ibuf);

		if (size <= c->msize && size + READ_CHUNK > want)
			want = size + READ_CHUNK;
	}
	if (c->icap < want + 1 || c->icap - c->ilen < 2) {
		size_t ncap = c->ilen + want + 1;
		uint8_t *nb = realloc(c->ibuf, ncap);

		if (!nb)
			abort();
		c->ibuf = nb;
		c->icap = ncap;
	}
	*buf = c->ibuf + c->ilen;
	*cap = c->icap - c->ilen - 1; /* one spare byte for p9_unpack */
}

static void
on_read(struct p9_stream *s, size_t n)
{
	struct p9_conn *c = s->user;

	c->ilen += n;
	c->active = uv_now(c->srv->loop);
	conn_input(c);
}

static void
conn_input(struct p9_conn *c)
{
	size_t pos = 0;

	while (!c->closing) {
		uint8_t *p = c->ibuf + pos;
		size_t avail = c->ilen - pos, size;
		uint8_t *m;

		if (c->skip) {
			size_t k = avail < c->skip ? avail : (size_t)c->skip;

			c->skip -= k;
			pos += k;
			if (c->skip)
				break;
			continue;
		}
		if (avail < 4)
			break;
		size = p9_get32(p);
		if (size < P9_HDRSZ) {
			p9_log(LOG_INFO, "%s: bad message size %zu, closing",
			    c->st->peer.addr, size);
			p9_conn_close(c);
			return;
		}
		if (size > c->msize) {
			uint16_t tag;

			if (avail < P9_HDRSZ)
				break;
			tag = (uint16_t)(p[5] | p[6] << 8);
			/* the client hears why; the log only with -v, or a
			 * client could fill it one message at a time */
			p9_log(LOG_DEBUG, "%s: message of %zu bytes > msize %u",
			    c->st->peer.addr, size, c->msize);
			send_error(
			    c, tag, EMSGSIZE, "message larger than msize");
			c->skip = size;
			continue;
		}
		if (avail < size)
			break;
		if (pos == 0 && size >= STEAL_MIN && avail - size < STEAL_MIN) {
			/* hand the whole input buffer to the request */
			uint8_t *nb = malloc(READ_CHUNK + 1);

			if (!nb)
				abort();
			m = c->ibuf;
			memcpy(nb, p + size, avail - size);
			c->ibuf = nb;
			c->icap = READ_CHUNK + 1;
			c->ilen = avail - size;
			dispatch(c, m, size);
			continue; /* pos stays 0 */
		}
		if (!(m = malloc(size + 1)))
			abort();
		memcpy(m, p, size);
		pos += size;
		dispatch(c, m, size);
	}
	if (pos) {
		memmove(c->ibuf, c->ibuf + pos, c->ilen - pos);
		c->ilen -= pos;
	}
}

static void
on_end(struct p9_stream *s, int err)
{
	struct p9_conn *c = s->user;

	if (err)
		p9_log(LOG_DEBUG, "%s: %s", s->peer.addr, uv_strerror(err));
	p9_conn_close(c);
}

static void
on_written(struct p9_stream *s)
{
	struct p9_conn *c = s->user;

	if (!c->reading && !c->closing &&
	    s->queued < (size_t)c->msize + (4u << 20)) {
		c->reading = 1;
		s->ops->set_reading(s, 1);
	}
}

static void
on_close(struct p9_stream *s)
{
	struct p9_conn *c = s->user;
	struct p9_srv *srv = c->srv;

	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	free(c->ibuf);
	free(c->fids);
	free(c);
	p9_srv_conn_gone(srv);
}

/* ---- lifetime ---- */

struct p9_conn *
p9_srv_serve_stream(struct p9_srv *srv, struct p9_stream *s)
{
	struct p9_conn *c = calloc(1, sizeof *c);
	unsigned i;

	if (!c || !(c->fids = calloc(FID_BUCKETS0, sizeof *c->fids))) {
		free(c);
		s->on_close = NULL;
		s->ops->close(s);
		return NULL;
	}
	c->srv = srv;
	c->st = s;
	c->nbuckets = FID_BUCKETS0;
	c->msize = srv->o.msize;
	c->dialect = P9_2000; /* until Tversion */
	s->user = c;
	s->on_alloc = on_alloc;
	s->on_read = on_read;
	s->on_end = on_end;
	s->on_written = on_written;
	s->on_close = on_close;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	c->active = uv_now(srv->loop);
	if (srv->nconns > srv->peak)
		srv->peak = srv->nconns;
	for (i = 0; i < srv->ntrees; i++)
		if (srv->trees[i].ops->conn_open)
			srv->trees[i].ops->conn_open(c);
	c->reading = 1;
	s->ops->set_reading(s, 1);
	return c;
}

static void
conn_maybe_finish(struct p9_conn *c)
{
	unsigned i;

	if (!c->closing || c->nreqs || c->closed)
		return;
	c->closed = 1;
	fid_remove_all(c);
	for (i = 0; i < c->srv->ntrees; i++)
		if (c->srv->trees[i].ops->conn_close)
			c->srv->trees[i].ops->conn_close(c);
	c->st->ops->close(c->st);
}

void
p9_conn_close(struct p9_conn *c)
{
	struct p9_req *r;

	if (c->closing)
		return;
	c->closing = 1;
	if (c->reading) {
		c->reading = 0;
		c->st->ops->set_reading(c->st, 0);
	}
	/* Cancel what the server holds.  A flush may answer at once, which
	 * unlinks requests, so rescan from the head each time. */
	for (;;) {
		struct req *q = NULL;

		for (r = c->reqs; r; r = r->next)
			if (!((struct req *)r)->aborted) {
				q = (struct req *)r;
				break;
			}
		if (!q)
			break;
		q->aborted = 1;
		call_flush(q);
	}
	fid_remove_all(c);
	conn_maybe_finish(c);
}

void
p9_conn_free_all(struct p9_srv *srv)
{
	struct p9_conn *c, *next;

	for (c = srv->conns; c; c = next) {
		next = c->next;
		p9_conn_close(c);
	}
}

const struct p9_peer *
p9_conn_peer(struct p9_conn *c)
{
	return &c->st->peer;
}

enum p9_dialect
p9_conn_dialect(struct p9_conn *c)
{
	return c->dialect;
}

uint32_t
p9_conn_msize(struct p9_conn *c)
{
	return c->msize;
}

struct p9_srv *
p9_conn_srv(struct p9_conn *c)
{
	return c->srv;
}

void *
p9_conn_aux(struct p9_conn *c)
{
	return c->aux;
}

void
p9_conn_set_aux(struct p9_conn *c, void *aux)
{
	c->aux = aux;
}

unsigned
p9_srv_count_peer(struct p9_srv *srv, const char *ip)
{
	size_t len = strlen(ip);
	struct p9_conn *c;
	unsigned n = 0;

	for (c = srv->conns; c; c = c->next)
		if (!strncmp(c->st->peer.addr, ip, len) &&
		    c->st->peer.addr[len] == ':')
			n++;
	return n;
}

void
p9_conn_close_idle(struct p9_srv *srv, uint64_t t)
{
	struct p9_conn *c, *next;

	for (c = srv->conns; c; c = next) {
		next = c->next;
		if (!c->closing && !c->nfids && !c->nreqs && c->active < t) {
			p9_log(LOG_INFO, "%s: idle, closing", c->st->peer.addr);
			p9_conn_close(c);
		}
	}
}
