/*
 * fcall.c - the 9P codec: packs and unpacks every message of 9P2000,
 * 9P2000.u and 9P2000.L, stat records and readdir entries, and names and
 * traces them.  It never allocates and never reads or writes outside the
 * buffer it is given (plus, when unpacking, the one spare byte the contract
 * in p9.h promises).
 *
 * Dialects.  Each message type exists in a set of dialects (table `msgs`).
 * The 9P2000 core (version, auth, attach, flush, walk, read, write, clunk,
 * remove) is in all three.  Open, create, stat, wstat and Rerror exist in
 * 9P2000 and 9P2000.u only: 9P2000.L replaces them with lopen, lcreate,
 * getattr, setattr and Rlerror (diod protocol.md).  Rlerror and the other
 * .L messages exist only in 9P2000.L.  Where .u extends a message (n_uname
 * in Tauth and Tattach), .L carries the .u form, as the Linux kernel's "?"
 * fields do; p9_stat_* treat .L like .u for the same reason.
 *
 * Rerror under 9P2000.L: p9_unpack accepts it, as ename[s] optionally
 * followed by errno[4] (errnum 0 when absent), so that a client fails the
 * one request instead of the whole connection when a server slips.  p9_pack
 * refuses it (-EINVAL): unum always answers a .L peer with Rlerror.
 *
 * Unpacking is strict: one message has exactly one encoding, so a message
 * that unpacks re-packs to the same bytes.  Two fields are optional and
 * break that: Tfsync's datasync[4] (Linux sends it, diod's notes omit it;
 * a Tfsync without it means datasync 0 and re-packs with it), and the errno
 * of a .L Rerror, which is never re-packed in .L at all.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "9p/p9.h"

/* Fixed part of a stat record (size[2] included, the four string lengths
 * too), and what .u adds: extension's length, n_uid, n_gid, n_muid. */
#define STATFIXLEN (2 + 2 + 4 + P9_QIDSZ + 4 + 4 + 4 + 8 + 4 * 2)
#define STATFIXLEN_U (2 + 3 * 4)
#define DIRENTFIXLEN (P9_QIDSZ + 8 + 1 + 2)

/* Most strings in one message: Twalk's; a stat record has five. */
#define MAXSTRINGS P9_MAXWELEM

enum {
	D_9P = 1 << P9_2000,
	D_U = 1 << P9_2000U,
	D_L = 1 << P9_2000L,
	D_ALL = D_9P | D_U | D_L,
	D_CLASSIC = D_9P | D_U, /* the messages 9P2000.L replaced */
};

static const struct {
	const char *name;
	uint8_t dialects;
} msgs[256] = {
    [P9_TLERROR] = {"Tlerror", 0},
    [P9_RLERROR] = {"Rlerror", D_L},
    [P9_TSTATFS] = {"Tstatfs", D_L},
    [P9_RSTATFS] = {"Rstatfs", D_L},
    [P9_TLOPEN] = {"Tlopen", D_L},
    [P9_RLOPEN] = {"Rlopen", D_L},
    [P9_TLCREATE] = {"Tlcreate", D_L},
    [P9_RLCREATE] = {"Rlcreate", D_L},
    [P9_TSYMLINK] = {"Tsymlink", D_L},
    [P9_RSYMLINK] = {"Rsymlink", D_L},
    [P9_TMKNOD] = {"Tmknod", D_L},
    [P9_RMKNOD] = {"Rmknod", D_L},
    [P9_TRENAME] = {"Trename", D_L},
    [P9_RRENAME] = {"Rrename", D_L},
    [P9_TREADLINK] = {"Treadlink", D_L},
    [P9_RREADLINK] = {"Rreadlink", D_L},
    [P9_TGETATTR] = {"Tgetattr", D_L},
    [P9_RGETATTR] = {"Rgetattr", D_L},
    [P9_TSETATTR] = {"Tsetattr", D_L},
    [P9_RSETATTR] = {"Rsetattr", D_L},
    [P9_TXATTRWALK] = {"Txattrwalk", D_L},
    [P9_RXATTRWALK] = {"Rxattrwalk", D_L},
    [P9_TXATTRCREATE] = {"Txattrcreate", D_L},
    [P9_RXATTRCREATE] = {"Rxattrcreate", D_L},
    [P9_TREADDIR] = {"Treaddir", D_L},
    [P9_RREADDIR] = {"Rreaddir", D_L},
    [P9_TFSYNC] = {"Tfsync", D_L},
    [P9_RFSYNC] = {"Rfsync", D_L},
    [P9_TLOCK] = {"Tlock", D_L},
    [P9_RLOCK] = {"Rlock", D_L},
    [P9_TGETLOCK] = {"Tgetlock", D_L},
    [P9_RGETLOCK] = {"Rgetlock", D_L},
    [P9_TLINK] = {"Tlink", D_L},
    [P9_RLINK] = {"Rlink", D_L},
    [P9_TMKDIR] = {"Tmkdir", D_L},
    [P9_RMKDIR] = {"Rmkdir", D_L},
    [P9_TRENAMEAT] = {"Trenameat", D_L},
    [P9_RRENAMEAT] = {"Rrenameat", D_L},
    [P9_TUNLINKAT] = {"Tunlinkat", D_L},
    [P9_RUNLINKAT] = {"Runlinkat", D_L},
    [P9_TVERSION] = {"Tversion", D_ALL},
    [P9_RVERSION] = {"Rversion", D_ALL},
    [P9_TAUTH] = {"Tauth", D_ALL},
    [P9_RAUTH] = {"Rauth", D_ALL},
    [P9_TATTACH] = {"Tattach", D_ALL},
    [P9_RATTACH] = {"Rattach", D_ALL},
    [P9_TERROR] = {"Terror", 0},
    [P9_RERROR] = {"Rerror", D_CLASSIC}, /* and unpack under .L */
    [P9_TFLUSH] = {"Tflush", D_ALL},
    [P9_RFLUSH] = {"Rflush", D_ALL},
    [P9_TWALK] = {"Twalk", D_ALL},
    [P9_RWALK] = {"Rwalk", D_ALL},
    [P9_TOPEN] = {"Topen", D_CLASSIC},
    [P9_ROPEN] = {"Ropen", D_CLASSIC},
    [P9_TCREATE] = {"Tcreate", D_CLASSIC},
    [P9_RCREATE] = {"Rcreate", D_CLASSIC},
    [P9_TREAD] = {"Tread", D_ALL},
    [P9_RREAD] = {"Rread", D_ALL},
    [P9_TWRITE] = {"Twrite", D_ALL},
    [P9_RWRITE] = {"Rwrite", D_ALL},
    [P9_TCLUNK] = {"Tclunk", D_ALL},
    [P9_RCLUNK] = {"Rclunk", D_ALL},
    [P9_TREMOVE] = {"Tremove", D_ALL},
    [P9_RREMOVE] = {"Rremove", D_ALL},
    [P9_TSTAT] = {"Tstat", D_CLASSIC},
    [P9_RSTAT] = {"Rstat", D_CLASSIC},
    [P9_TWSTAT] = {"Twstat", D_CLASSIC},
    [P9_RWSTAT] = {"Rwstat", D_CLASSIC},
};

static int
dialect_ok(enum p9_dialect d)
{
	return (unsigned)d <= P9_2000L;
}

static int
in_dialect(uint8_t type, enum p9_dialect d)
{
	return (msgs[type].dialects & (1u << d)) != 0;
}

/* ---- Unpacking ---- */

/*
 * A cursor over the message being unpacked.  A read that does not fit sets
 * err (the first error sticks) and yields 0 or NULL, so decoders read all
 * fields and check once.  Strings are not terminated while decoding: the
 * byte after a string is the first byte of the next field, so the NULs are
 * only written once every field has been read (nul[]).
 */
struct rd {
	uint8_t *p;
	uint8_t *end;
	int err;
	int nstr;
	uint8_t *nul[MAXSTRINGS];
};

static void
rd_fail(struct rd *r, int err)
{
	if (r->err == 0)
		r->err = err;
}

static int
rd_need(struct rd *r, size_t n)
{
	if (r->err != 0)
		return 0;
	if ((size_t)(r->end - r->p) < n) {
		rd_fail(r, -EPROTO);
		return 0;
	}
	return 1;
}

static uint8_t
get1(struct rd *r)
{
	if (!rd_need(r, 1))
		return 0;
	return *r->p++;
}

static uint16_t
get2(struct rd *r)
{
	uint16_t v;

	if (!rd_need(r, 2))
		return 0;
	v = (uint16_t)(r->p[0] | r->p[1] << 8);
	r->p += 2;
	return v;
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint32_t
get4(struct rd *r)
{
	uint32_t v;

	if (!rd_need(r, 4))
		return 0;
	v = le32(r->p);
	r->p += 4;
	return v;
}

static uint64_t
get8(struct rd *r)
{
	uint64_t v;

	if (!rd_need(r, 8))
		return 0;
	v = (uint64_t)le32(r->p) | (uint64_t)le32(r->p + 4) << 32;
	r->p += 8;
	return v;
}

static void
getqid(struct rd *r, struct p9_qid *q)
{
	q->type = get1(r);
	q->version = get4(r);
	q->path = get8(r);
}

/* A string: n[2] then n bytes, none of them NUL. */
static char *
getstr(struct rd *r)
{
	uint16_t n = get2(r);
	char *s;

	if (!rd_need(r, n))
		return NULL;
	if (memchr(r->p, 0, n) != NULL || r->nstr == MAXSTRINGS) {
		rd_fail(r, -EPROTO);
		return NULL;
	}
	s = (char *)r->p;
	r->p += n;
	r->nul[r->nstr++] = r->p;
	return s;
}

static const uint8_t *
getdata(struct rd *r, uint32_t count)
{
	const uint8_t *data;

	if (!rd_need(r, count))
		return NULL;
	data = r->p;
	r->p += count;
	return data;
}

/* Writes the NULs of the strings read, once all fields are decoded. */
static void
rd_terminate(struct rd *r)
{
	int i;

	for (i = 0; i < r->nstr; i++)
		*r->nul[i] = '\0';
}

/* One stat record, size[2] first; its fields must fill exactly size. */
static void
getstat(struct rd *r, struct p9_stat *st, enum p9_dialect d)
{
	uint16_t size = get2(r);
	uint8_t *end = r->end;

	if (!rd_need(r, size))
		return;
	r->end = r->p + size;
	st->type = get2(r);
	st->dev = get4(r);
	getqid(r, &st->qid);
	st->mode = get4(r);
	st->atime = get4(r);
	st->mtime = get4(r);
	st->length = get8(r);
	st->name = getstr(r);
	st->uid = getstr(r);
	st->gid = getstr(r);
	st->muid = getstr(r);
	if (d == P9_2000) {
		st->extension = NULL;
		st->n_uid = st->n_gid = st->n_muid = P9_NONUNAME;
	} else {
		st->extension = getstr(r);
		st->n_uid = get4(r);
		st->n_gid = get4(r);
		st->n_muid = get4(r);
	}
	if (r->p != r->end)
		rd_fail(r, -EPROTO);
	r->end = end;
}

/* Rstat and Twstat: n[2], then a stat record of exactly n bytes. */
static void
getstatmsg(struct rd *r, struct p9_stat *st, enum p9_dialect d)
{
	uint16_t n = get2(r);
	uint8_t *end = r->end;

	if (!rd_need(r, n))
		return;
	r->end = r->p + n;
	getstat(r, st, d);
	if (r->p != r->end)
		rd_fail(r, -EPROTO);
	r->end = end;
}

static void
getflock(struct rd *r, struct p9_flock *l, int with_flags)
{
	l->type = get1(r);
	l->flags = with_flags ? get4(r) : 0;
	l->start = get8(r);
	l->length = get8(r);
	l->proc_id = get4(r);
	l->client_id = getstr(r);
}

/*
 * The body of f->type.  No message has a data region (Twrite, Rread,
 * Rreaddir data) after a string, so terminating the strings never touches
 * data: a string's NUL lands on the next field's first byte, already
 * decoded, or on the spare byte past the message.
 */
static void
unpack_body(struct rd *r, struct p9_fcall *f, enum p9_dialect d)
{
	uint16_t i;

	switch (f->type) {
	case P9_TVERSION:
	case P9_RVERSION:
		f->u.version.msize = get4(r);
		f->u.version.version = getstr(r);
		break;
	case P9_TAUTH:
		f->u.auth.afid = get4(r);
		f->u.auth.uname = getstr(r);
		f->u.auth.aname = getstr(r);
		f->u.auth.n_uname = d == P9_2000 ? P9_NONUNAME : get4(r);
		break;
	case P9_TATTACH:
		f->u.attach.fid = get4(r);
		f->u.attach.afid = get4(r);
		f->u.attach.uname = getstr(r);
		f->u.attach.aname = getstr(r);
		f->u.attach.n_uname = d == P9_2000 ? P9_NONUNAME : get4(r);
		break;
	case P9_RAUTH:
	case P9_RATTACH:
	case P9_RSYMLINK:
	case P9_RMKNOD:
	case P9_RMKDIR:
		getqid(r, &f->u.rqid.qid);
		break;
	case P9_RERROR:
		f->u.error.ename = getstr(r);
		if (d == P9_2000U || (d == P9_2000L && r->p != r->end))
			f->u.error.errnum = get4(r);
		break;
	case P9_RLERROR:
		f->u.lerror.ecode = get4(r);
		break;
	case P9_TFLUSH:
		f->u.flush.oldtag = get2(r);
		break;
	case P9_TWALK:
		f->u.walk.fid = get4(r);
		f->u.walk.newfid = get4(r);
		f->u.walk.nwname = get2(r);
		if (f->u.walk.nwname > P9_MAXWELEM) {
			rd_fail(r, -E2BIG);
			break;
		}
		for (i = 0; i < f->u.walk.nwname; i++)
			f->u.walk.wname[i] = getstr(r);
		break;
	case P9_RWALK:
		f->u.rwalk.nwqid = get2(r);
		if (f->u.rwalk.nwqid > P9_MAXWELEM) {
			rd_fail(r, -E2BIG);
			break;
		}
		for (i = 0; i < f->u.rwalk.nwqid; i++)
			getqid(r, &f->u.rwalk.wqid[i]);
		break;
	case P9_TOPEN:
		f->u.open.fid = get4(r);
		f->u.open.mode = get1(r);
		break;
	case P9_ROPEN:
	case P9_RCREATE:
	case P9_RLOPEN:
	case P9_RLCREATE:
		getqid(r, &f->u.ropen.qid);
		f->u.ropen.iounit = get4(r);
		break;
	case P9_TCREATE:
		f->u.create.fid = get4(r);
		f->u.create.name = getstr(r);
		f->u.create.perm = get4(r);
		f->u.create.mode = get1(r);
		f->u.create.extension = d == P9_2000 ? NULL : getstr(r);
		break;
	case P9_TREAD:
	case P9_TREADDIR:
		f->u.read.fid = get4(r);
		f->u.read.offset = get8(r);
		f->u.read.count = get4(r);
		break;
	case P9_RREAD:
	case P9_RREADDIR:
		f->u.rread.count = get4(r);
		f->u.rread.data = getdata(r, f->u.rread.count);
		break;
	case P9_TWRITE:
		f->u.write.fid = get4(r);
		f->u.write.offset = get8(r);
		f->u.write.count = get4(r);
		f->u.write.data = getdata(r, f->u.write.count);
		break;
	case P9_RWRITE:
		f->u.rwrite.count = get4(r);
		break;
	case P9_TCLUNK:
	case P9_TREMOVE:
	case P9_TSTAT:
	case P9_TREADLINK:
	case P9_TSTATFS:
		f->u.fid.fid = get4(r);
		break;
	case P9_RSTAT:
		getstatmsg(r, &f->u.rstat.stat, d);
		break;
	case P9_TWSTAT:
		f->u.wstat.fid = get4(r);
		getstatmsg(r, &f->u.wstat.stat, d);
		break;
	case P9_TLOPEN:
		f->u.lopen.fid = get4(r);
		f->u.lopen.flags = get4(r);
		break;
	case P9_TLCREATE:
		f->u.lcreate.fid = get4(r);
		f->u.lcreate.name = getstr(r);
		f->u.lcreate.flags = get4(r);
		f->u.lcreate.mode = get4(r);
		f->u.lcreate.gid = get4(r);
		break;
	case P9_TSYMLINK:
		f->u.symlink.fid = get4(r);
		f->u.symlink.name = getstr(r);
		f->u.symlink.symtgt = getstr(r);
		f->u.symlink.gid = get4(r);
		break;
	case P9_TMKNOD:
		f->u.mknod.dfid = get4(r);
		f->u.mknod.name = getstr(r);
		f->u.mknod.mode = get4(r);
		f->u.mknod.major = get4(r);
		f->u.mknod.minor = get4(r);
		f->u.mknod.gid = get4(r);
		break;
	case P9_TRENAME:
		f->u.rename.fid = get4(r);
		f->u.rename.dfid = get4(r);
		f->u.rename.name = getstr(r);
		break;
	case P9_RREADLINK:
		f->u.rreadlink.target = getstr(r);
		break;
	case P9_TGETATTR:
		f->u.getattr.fid = get4(r);
		f->u.getattr.request_mask = get8(r);
		break;
	case P9_RGETATTR: {
		struct p9_attr *a = &f->u.rgetattr;

		a->valid = get8(r);
		getqid(r, &a->qid);
		a->mode = get4(r);
		a->uid = get4(r);
		a->gid = get4(r);
		a->nlink = get8(r);
		a->rdev = get8(r);
		a->size = get8(r);
		a->blksize = get8(r);
		a->blocks = get8(r);
		a->atime_sec = get8(r);
		a->atime_nsec = get8(r);
		a->mtime_sec = get8(r);
		a->mtime_nsec = get8(r);
		a->ctime_sec = get8(r);
		a->ctime_nsec = get8(r);
		a->btime_sec = get8(r);
		a->btime_nsec = get8(r);
		a->gen = get8(r);
		a->data_version = get8(r);
		break;
	}
	case P9_TSETATTR: {
		struct p9_iattr *a = &f->u.setattr.attr;

		f->u.setattr.fid = get4(r);
		a->valid = get4(r);
		a->mode = get4(r);
		a->uid = get4(r);
		a->gid = get4(r);
		a->size = get8(r);
		a->atime_sec = get8(r);
		a->atime_nsec = get8(r);
		a->mtime_sec = get8(r);
		a->mtime_nsec = get8(r);
		break;
	}
	case P9_TXATTRWALK:
		f->u.xattrwalk.fid = get4(r);
		f->u.xattrwalk.newfid = get4(r);
		f->u.xattrwalk.name = getstr(r);
		break;
	case P9_RXATTRWALK:
		f->u.rxattrwalk.size = get8(r);
		break;
	case P9_TXATTRCREATE:
		f->u.xattrcreate.fid = get4(r);
		f->u.xattrcreate.name = getstr(r);
		f->u.xattrcreate.attr_size = get8(r);
		f->u.xattrcreate.flags = get4(r);
		break;
	case P9_TFSYNC:
		f->u.fsync.fid = get4(r);
		/* Linux sends datasync[4]; diod's notes have fid only. */
		f->u.fsync.datasync = r->p == r->end ? 0 : get4(r);
		break;
	case P9_TLOCK:
	case P9_TGETLOCK:
		f->u.lock.fid = get4(r);
		getflock(r, &f->u.lock.lock, f->type == P9_TLOCK);
		break;
	case P9_RLOCK:
		f->u.rlock.status = get1(r);
		break;
	case P9_RGETLOCK:
		getflock(r, &f->u.rgetlock, 0);
		break;
	case P9_TLINK:
		f->u.link.dfid = get4(r);
		f->u.link.fid = get4(r);
		f->u.link.name = getstr(r);
		break;
	case P9_TMKDIR:
		f->u.mkdir.dfid = get4(r);
		f->u.mkdir.name = getstr(r);
		f->u.mkdir.mode = get4(r);
		f->u.mkdir.gid = get4(r);
		break;
	case P9_TRENAMEAT:
		f->u.renameat.olddirfid = get4(r);
		f->u.renameat.oldname = getstr(r);
		f->u.renameat.newdirfid = get4(r);
		f->u.renameat.newname = getstr(r);
		break;
	case P9_TUNLINKAT:
		f->u.unlinkat.dfid = get4(r);
		f->u.unlinkat.name = getstr(r);
		f->u.unlinkat.flags = get4(r);
		break;
	case P9_RSTATFS: {
		struct p9_statfs *s = &f->u.rstatfs;

		s->type = get4(r);
		s->bsize = get4(r);
		s->blocks = get8(r);
		s->bfree = get8(r);
		s->bavail = get8(r);
		s->files = get8(r);
		s->ffree = get8(r);
		s->fsid = get8(r);
		s->namelen = get4(r);
		break;
	}
	default: /* the replies without a body */
		break;
	}
}

/*
 * On -EBADMSG the size was valid, so f->type and f->tag are set: a server
 * may answer the tag with an error instead of dropping the connection.  On
 * any failure buf is left untouched and the rest of *f is undefined.
 */
int
p9_unpack(struct p9_fcall *f, uint8_t *buf, size_t len, uint32_t msize,
    enum p9_dialect d)
{
	struct rd r = {0};
	uint32_t size;

	if (!dialect_ok(d))
		return -EINVAL;
	if (len < 4)
		return -EPROTO;
	r.p = buf;
	r.end = buf + len;
	size = le32(buf);
	if (size > msize)
		return -EMSGSIZE;
	if (size != len || len < P9_HDRSZ)
		return -EPROTO;
	r.p += 4;
	f->type = get1(&r);
	f->tag = get2(&r);
	if (!in_dialect(f->type, d) && !(f->type == P9_RERROR && d == P9_2000L))
		return -EBADMSG;
	memset(&f->u, 0, sizeof(f->u));
	unpack_body(&r, f, d);
	if (r.p != r.end)
		rd_fail(&r, -EPROTO); /* trailing bytes */
	if (r.err != 0)
		return r.err;
	rd_terminate(&r);
	return 0;
}

ssize_t
p9_stat_unpack(struct p9_stat *st, uint8_t *buf, size_t len, enum p9_dialect d)
{
	struct rd r = {0};

	if (!dialect_ok(d))
		return -EINVAL;
	if (len < 2)
		return -EPROTO;
	r.p = buf;
	r.end = buf + len;
	getstat(&r, st, d);
	if (r.err != 0)
		return r.err;
	rd_terminate(&r);
	return r.p - buf;
}

ssize_t
p9_dirent_unpack(struct p9_dirent *de, const uint8_t *buf, size_t len)
{
	struct rd r = {0};

	if (len < DIRENTFIXLEN)
		return -EPROTO;
	/* Nothing is terminated, so the cursor may point into const memory. */
	r.p = (uint8_t *)buf;
	r.end = r.p + len;
	getqid(&r, &de->qid);
	de->offset = get8(&r);
	de->type = get1(&r);
	de->namelen = get2(&r);
	de->name = (const char *)getdata(&r, de->namelen);
	if (r.err == 0 && memchr(de->name, 0, de->namelen) != NULL)
		r.err = -EPROTO;
	if (r.err != 0)
		return r.err;
	return r.p - buf;
}

/* ---- Packing ---- */

/*
 * A cursor over the buffer being packed.  With buf NULL it only counts, so
 * one encoder both measures and writes; an invalid field sets err.
 */
struct wr {
	uint8_t *buf;
	size_t cap;
	uint64_t n;
	int err;
};

static void
put(struct wr *w, const void *src, size_t n)
{
	if (n == 0)
		return;
	if (w->buf != NULL && w->n + n <= w->cap)
		memcpy(w->buf + w->n, src, n);
	w->n += n;
}

static void
put1(struct wr *w, uint8_t v)
{
	put(w, &v, 1);
}

static void
put2(struct wr *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	put(w, b, sizeof(b));
}

static void
put4(struct wr *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 24)};

	put(w, b, sizeof(b));
}

static void
put8(struct wr *w, uint64_t v)
{
	put4(w, (uint32_t)v);
	put4(w, (uint32_t)(v >> 32));
}

static void
putqid(struct wr *w, const struct p9_qid *q)
{
	put1(w, q->type);
	put4(w, q->version);
	put8(w, q->path);
}

static size_t
slen(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

/* A C string; NULL packs as "". */
static void
putstr(struct wr *w, const char *s)
{
	size_t n = slen(s);

	if (n > UINT16_MAX) {
		w->err = -EINVAL;
		return;
	}
	put2(w, (uint16_t)n);
	put(w, s, n);
}

static void
putdata(struct wr *w, const uint8_t *data, uint32_t count)
{
	if (count > 0 && data == NULL) {
		w->err = -EINVAL;
		return;
	}
	put(w, data, count);
}

/* A stat record's size field: its length without size[2] itself. */
static uint64_t
stat_body_len(const struct p9_stat *st, enum p9_dialect d)
{
	uint64_t n = STATFIXLEN - 2;

	n += slen(st->name) + slen(st->uid) + slen(st->gid) + slen(st->muid);
	if (d != P9_2000)
		n += STATFIXLEN_U + slen(st->extension);
	return n;
}

/* One stat record, preceded by n[2] in Rstat and Twstat (with_n). */
static void
putstat(struct wr *w, const struct p9_stat *st, enum p9_dialect d, int with_n)
{
	uint64_t size = stat_body_len(st, d);

	if (size + (with_n ? 2 : 0) > UINT16_MAX) {
		w->err = -EINVAL;
		return;
	}
	if (with_n)
		put2(w, (uint16_t)(size + 2));
	put2(w, (uint16_t)size);
	put2(w, st->type);
	put4(w, st->dev);
	putqid(w, &st->qid);
	put4(w, st->mode);
	put4(w, st->atime);
	put4(w, st->mtime);
	put8(w, st->length);
	putstr(w, st->name);
	putstr(w, st->uid);
	putstr(w, st->gid);
	putstr(w, st->muid);
	if (d != P9_2000) {
		putstr(w, st->extension);
		put4(w, st->n_uid);
		put4(w, st->n_gid);
		put4(w, st->n_muid);
	}
}

static void
putflock(struct wr *w, const struct p9_flock *l, int with_flags)
{
	put1(w, l->type);
	if (with_flags)
		put4(w, l->flags);
	put8(w, l->start);
	put8(w, l->length);
	put4(w, l->proc_id);
	putstr(w, l->client_id);
}

static void
pack_body(struct wr *w, const struct p9_fcall *f, enum p9_dialect d)
{
	uint16_t i;

	switch (f->type) {
	case P9_TVERSION:
	case P9_RVERSION:
		put4(w, f->u.version.msize);
		putstr(w, f->u.version.version);
		break;
	case P9_TAUTH:
		put4(w, f->u.auth.afid);
		putstr(w, f->u.auth.uname);
		putstr(w, f->u.auth.aname);
		if (d != P9_2000)
			put4(w, f->u.auth.n_uname);
		break;
	case P9_TATTACH:
		put4(w, f->u.attach.fid);
		put4(w, f->u.attach.afid);
		putstr(w, f->u.attach.uname);
		putstr(w, f->u.attach.aname);
		if (d != P9_2000)
			put4(w, f->u.attach.n_uname);
		break;
	case P9_RAUTH:
	case P9_RATTACH:
	case P9_RSYMLINK:
	case P9_RMKNOD:
	case P9_RMKDIR:
		putqid(w, &f->u.rqid.qid);
		break;
	case P9_RERROR:
		putstr(w, f->u.error.ename);
		if (d == P9_2000U)
			put4(w, f->u.error.errnum);
		break;
	case P9_RLERROR:
		put4(w, f->u.lerror.ecode);
		break;
	case P9_TFLUSH:
		put2(w, f->u.flush.oldtag);
		break;
	case P9_TWALK:
		if (f->u.walk.nwname > P9_MAXWELEM) {
			w->err = -EINVAL;
			break;
		}
		put4(w, f->u.walk.fid);
		put4(w, f->u.walk.newfid);
		put2(w, f->u.walk.nwname);
		for (i = 0; i < f->u.walk.nwname; i++)
			putstr(w, f->u.walk.wname[i]);
		break;
	case P9_RWALK:
		if (f->u.rwalk.nwqid > P9_MAXWELEM) {
			w->err = -EINVAL;
			break;
		}
		put2(w, f->u.rwalk.nwqid);
		for (i = 0; i < f->u.rwalk.nwqid; i++)
			putqid(w, &f->u.rwalk.wqid[i]);
		break;
	case P9_TOPEN:
		put4(w, f->u.open.fid);
		put1(w, f->u.open.mode);
		break;
	case P9_ROPEN:
	case P9_RCREATE:
	case P9_RLOPEN:
	case P9_RLCREATE:
		putqid(w, &f->u.ropen.qid);
		put4(w, f->u.ropen.iounit);
		break;
	case P9_TCREATE:
		put4(w, f->u.create.fid);
		putstr(w, f->u.create.name);
		put4(w, f->u.create.perm);
		put1(w, f->u.create.mode);
		if (d != P9_2000)
			putstr(w, f->u.create.extension);
		break;
	case P9_TREAD:
	case P9_TREADDIR:
		put4(w, f->u.read.fid);
		put8(w, f->u.read.offset);
		put4(w, f->u.read.count);
		break;
	case P9_RREAD:
	case P9_RREADDIR:
		put4(w, f->u.rread.count);
		putdata(w, f->u.rread.data, f->u.rread.count);
		break;
	case P9_TWRITE:
		put4(w, f->u.write.fid);
		put8(w, f->u.write.offset);
		put4(w, f->u.write.count);
		putdata(w, f->u.write.data, f->u.write.count);
		break;
	case P9_RWRITE:
		put4(w, f->u.rwrite.count);
		break;
	case P9_TCLUNK:
	case P9_TREMOVE:
	case P9_TSTAT:
	case P9_TREADLINK:
	case P9_TSTATFS:
		put4(w, f->u.fid.fid);
		break;
	case P9_RSTAT:
		putstat(w, &f->u.rstat.stat, d, 1);
		break;
	case P9_TWSTAT:
		put4(w, f->u.wstat.fid);
		putstat(w, &f->u.wstat.stat, d, 1);
		break;
	case P9_TLOPEN:
		put4(w, f->u.lopen.fid);
		put4(w, f->u.lopen.flags);
		break;
	case P9_TLCREATE:
		put4(w, f->u.lcreate.fid);
		putstr(w, f->u.lcreate.name);
		put4(w, f->u.lcreate.flags);
		put4(w, f->u.lcreate.mode);
		put4(w, f->u.lcreate.gid);
		break;
	case P9_TSYMLINK:
		put4(w, f->u.symlink.fid);
		putstr(w, f->u.symlink.name);
		putstr(w, f->u.symlink.symtgt);
		put4(w, f->u.symlink.gid);
		break;
	case P9_TMKNOD:
		put4(w, f->u.mknod.dfid);
		putstr(w, f->u.mknod.name);
		put4(w, f->u.mknod.mode);
		put4(w, f->u.mknod.major);
		put4(w, f->u.mknod.minor);
		put4(w, f->u.mknod.gid);
		break;
	case P9_TRENAME:
		put4(w, f->u.rename.fid);
		put4(w, f->u.rename.dfid);
		putstr(w, f->u.rename.name);
		break;
	case P9_RREADLINK:
		putstr(w, f->u.rreadlink.target);
		break;
	case P9_TGETATTR:
		put4(w, f->u.getattr.fid);
		put8(w, f->u.getattr.request_mask);
		break;
	case P9_RGETATTR: {
		const struct p9_attr *a = &f->u.rgetattr;

		put8(w, a->valid);
		putqid(w, &a->qid);
		put4(w, a->mode);
		put4(w, a->uid);
		put4(w, a->gid);
		put8(w, a->nlink);
		put8(w, a->rdev);
		put8(w, a->size);
		put8(w, a->blksize);
		put8(w, a->blocks);
		put8(w, a->atime_sec);
		put8(w, a->atime_nsec);
		put8(w, a->mtime_sec);
		put8(w, a->mtime_nsec);
		put8(w, a->ctime_sec);
		put8(w, a->ctime_nsec);
		put8(w, a->btime_sec);
		put8(w, a->btime_nsec);
		put8(w, a->gen);
		put8(w, a->data_version);
		break;
	}
	case P9_TSETATTR: {
		const struct p9_iattr *a = &f->u.setattr.attr;

		put4(w, f->u.setattr.fid);
		put4(w, a->valid);
		put4(w, a->mode);
		put4(w, a->uid);
		put4(w, a->gid);
		put8(w, a->size);
		put8(w, a->atime_sec);
		put8(w, a->atime_nsec);
		put8(w, a->mtime_sec);
		put8(w, a->mtime_nsec);
		break;
	}
	case P9_TXATTRWALK:
		put4(w, f->u.xattrwalk.fid);
		put4(w, f->u.xattrwalk.newfid);
		putstr(w, f->u.xattrwalk.name);
		break;
	case P9_RXATTRWALK:
		put8(w, f->u.rxattrwalk.size);
		break;
	case P9_TXATTRCREATE:
		put4(w, f->u.xattrcreate.fid);
		putstr(w, f->u.xattrcreate.name);
		put8(w, f->u.xattrcreate.attr_size);
		put4(w, f->u.xattrcreate.flags);
		break;
	case P9_TFSYNC:
		put4(w, f->u.fsync.fid);
		put4(w, f->u.fsync.datasync);
		break;
	case P9_TLOCK:
	case P9_TGETLOCK:
		put4(w, f->u.lock.fid);
		putflock(w, &f->u.lock.lock, f->type == P9_TLOCK);
		break;
	case P9_RLOCK:
		put1(w, f->u.rlock.status);
		break;
	case P9_RGETLOCK:
		putflock(w, &f->u.rgetlock, 0);
		break;
	case P9_TLINK:
		put4(w, f->u.link.dfid);
		put4(w, f->u.link.fid);
		putstr(w, f->u.link.name);
		break;
	case P9_TMKDIR:
		put4(w, f->u.mkdir.dfid);
		putstr(w, f->u.mkdir.name);
		put4(w, f->u.mkdir.mode);
		put4(w, f->u.mkdir.gid);
		break;
	case P9_TRENAMEAT:
		put4(w, f->u.renameat.olddirfid);
		putstr(w, f->u.renameat.oldname);
		put4(w, f->u.renameat.newdirfid);
		putstr(w, f->u.renameat.newname);
		break;
	case P9_TUNLINKAT:
		put4(w, f->u.unlinkat.dfid);
		putstr(w, f->u.unlinkat.name);
		put4(w, f->u.unlinkat.flags);
		break;
	case P9_RSTATFS: {
		const struct p9_statfs *s = &f->u.rstatfs;

		put4(w, s->type);
		put4(w, s->bsize);
		put8(w, s->blocks);
		put8(w, s->bfree);
		put8(w, s->bavail);
		put8(w, s->files);
		put8(w, s->ffree);
		put8(w, s->fsid);
		put4(w, s->namelen);
		break;
	}
	default: /* the replies without a body */
		break;
	}
}

static void
pack_msg(struct wr *w, const struct p9_fcall *f, enum p9_dialect d)
{
	put4(w, 0); /* size, patched by p9_pack */
	put1(w, f->type);
	put2(w, f->tag);
	pack_body(w, f, d);
	if (w->n > UINT32_MAX)
		w->err = -EINVAL;
}

/* Measures *f; 0 if it cannot be packed in d. */
static uint64_t
measure(const struct p9_fcall *f, enum p9_dialect d)
{
	struct wr w = {0};

	if (!dialect_ok(d) || !in_dialect(f->type, d))
		return 0;
	pack_msg(&w, f, d);
	return w.err != 0 ? 0 : w.n;
}

/* Returns 0 for a message that cannot be packed in dialect d. */
size_t
p9_packed_size(const struct p9_fcall *f, enum p9_dialect d)
{
	return measure(f, d);
}

ssize_t
p9_pack(const struct p9_fcall *f, uint8_t *buf, size_t cap, enum p9_dialect d)
{
	struct wr w = {.buf = buf, .cap = cap};
	uint64_t n = measure(f, d);

	if (n == 0)
		return -EINVAL;
	if (n > cap)
		return -EMSGSIZE;
	pack_msg(&w, f, d);
	if (w.err != 0 || w.n != n)
		return -EINVAL; /* *f changed under us */
	w.n = 0;
	put4(&w, (uint32_t)n);
	return (ssize_t)n;
}

/* Larger than 65537 for a record that p9_stat_pack refuses. */
size_t
p9_stat_size(const struct p9_stat *st, enum p9_dialect d)
{
	return stat_body_len(st, d) + 2;
}

/* Returns -EINVAL, besides -EMSGSIZE, for a record over 65535 bytes or a
 * string over 65535. */
ssize_t
p9_stat_pack(
    const struct p9_stat *st, uint8_t *buf, size_t cap, enum p9_dialect d)
{
	struct wr w = {.buf = buf, .cap = cap};

	if (!dialect_ok(d))
		return -EINVAL;
	putstat(&w, st, d, 0);
	if (w.err != 0)
		return w.err;
	if (w.n > cap)
		return -EMSGSIZE;
	return (ssize_t)w.n;
}

/* Returns -EINVAL, besides -EMSGSIZE, for a name holding a NUL byte or a
 * NULL name of nonzero length. */
ssize_t
p9_dirent_pack(const struct p9_dirent *de, uint8_t *buf, size_t cap)
{
	struct wr w = {.buf = buf, .cap = cap};
	size_t n = DIRENTFIXLEN + (size_t)de->namelen;

	if (de->namelen > 0 &&
	    (de->name == NULL || memchr(de->name, 0, de->namelen) != NULL))
		return -EINVAL;
	if (n > cap)
		return -EMSGSIZE;
	putqid(&w, &de->qid);
	put8(&w, de->offset);
	put1(&w, de->type);
	put2(&w, de->namelen);
	put(&w, de->name, de->namelen);
	return (ssize_t)n;
}

/* ---- Names ---- */

const char *
p9_type_name(uint8_t type)
{
	return msgs[type].name;
}

static const char *const dialect_names[] = {
    [P9_2000] = "9P2000",
    [P9_2000U] = "9P2000.u",
    [P9_2000L] = "9P2000.L",
};

/*
 * "9P2000.L..." and "9P2000.u..." by prefix, as Linux matches an Rversion;
 * "9P2000" alone or with any other ".suffix" is plain 9P2000, the version
 * a server downgrades such a request to (version(5)).
 */
int
p9_dialect_parse(const char *version)
{
	if (version == NULL || strncmp(version, "9P2000", 6) != 0)
		return -1;
	if (strncmp(version, "9P2000.L", 8) == 0)
		return P9_2000L;
	if (strncmp(version, "9P2000.u", 8) == 0)
		return P9_2000U;
	if (version[6] == '\0' || version[6] == '.')
		return P9_2000;
	return -1;
}

/* NULL for a value that is no dialect. */
const char *
p9_dialect_name(enum p9_dialect d)
{
	return dialect_ok(d) ? dialect_names[d] : NULL;
}

/* ---- Traces ---- */

/* The line being formatted; n counts what would have been written. */
struct out {
	char *buf;
	size_t cap;
	size_t n;
};

static void outf(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	if (o->n < o->cap)
		k = vsnprintf(o->buf + o->n, o->cap - o->n, fmt, ap);
	else
		k = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (k > 0)
		o->n += (size_t)k;
}

/* A peer's string, quoted, with anything unprintable escaped. */
static void
outs(struct out *o, const char *label, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	outf(o, " %s'", label);
	for (; *p != '\0'; p++) {
		if (*p < 0x20 || *p >= 0x7f || *p == '\'' || *p == '\\')
			outf(o, "\\x%02x", *p);
		else
			outf(o, "%c", *p);
	}
	outf(o, "'");
}

static void
outqid(struct out *o, const char *label, const struct p9_qid *q)
{
	static const struct {
		uint8_t bit;
		char c;
	} bits[] = {
	    {P9_QTDIR, 'd'},
	    {P9_QTAPPEND, 'a'},
	    {P9_QTEXCL, 'l'},
	    {P9_QTMOUNT, 'm'},
	    {P9_QTAUTH, 'A'},
	    {P9_QTTMP, 't'},
	    {P9_QTSYMLINK, 'L'},
	};
	char t[sizeof(bits) / sizeof(bits[0]) + 1];
	size_t i, k = 0;

	for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (q->type & bits[i].bit)
			t[k++] = bits[i].c;
	t[k] = '\0';
	outf(o, " %s(%016" PRIx64 " %" PRIu32 " %s)", label, q->path,
	    q->version, t);
}

static void
outstat(struct out *o, const struct p9_stat *st)
{
	outs(o, "stat ", st->name);
	outs(o, "", st->uid);
	outs(o, "", st->gid);
	outs(o, "", st->muid);
	outqid(o, "q ", &st->qid);
	outf(o,
	    " m %#" PRIo32 " at %" PRIu32 " mt %" PRIu32 " l %" PRIu64
	    " t %" PRIu16 " d %" PRIu32,
	    st->mode, st->atime, st->mtime, st->length, st->type, st->dev);
	if (st->extension != NULL) {
		outs(o, "ext ", st->extension);
		outf(o, " n_uid %" PRIu32 " n_gid %" PRIu32 " n_muid %" PRIu32,
		    st->n_uid, st->n_gid, st->n_muid);
	}
}

static void
outflock(struct out *o, const struct p9_flock *l, int with_flags)
{
	outf(o, " type %u", l->type);
	if (with_flags)
		outf(o, " flags %#" PRIx32, l->flags);
	outf(o, " start %" PRIu64 " length %" PRIu64 " proc_id %" PRIu32,
	    l->start, l->length, l->proc_id);
	outs(o, "client_id ", l->client_id);
}

static void
format_body(struct out *o, const struct p9_fcall *f)
{
	const struct p9_attr *a;
	const struct p9_iattr *ia;
	const struct p9_statfs *sf;
	uint16_t i;

	switch (f->type) {
	case P9_TVERSION:
	case P9_RVERSION:
		outf(o, " msize %" PRIu32, f->u.version.msize);
		outs(o, "version ", f->u.version.version);
		break;
	case P9_TAUTH:
		outf(o, " afid %" PRIu32, f->u.auth.afid);
		outs(o, "uname ", f->u.auth.uname);
		outs(o, "aname ", f->u.auth.aname);
		outf(o, " n_uname %" PRIu32, f->u.auth.n_uname);
		break;
	case P9_TATTACH:
		outf(o, " fid %" PRIu32 " afid %" PRIu32, f->u.attach.fid,
		    f->u.attach.afid);
		outs(o, "uname ", f->u.attach.uname);
		outs(o, "aname ", f->u.attach.aname);
		outf(o, " n_uname %" PRIu32, f->u.attach.n_uname);
		break;
	case P9_RAUTH:
	case P9_RATTACH:
	case P9_RSYMLINK:
	case P9_RMKNOD:
	case P9_RMKDIR:
		outqid(o, "qid ", &f->u.rqid.qid);
		break;
	case P9_RERROR:
		outs(o, "ename ", f->u.error.ename);
		outf(o, " errno %" PRIu32, f->u.error.errnum);
		break;
	case P9_RLERROR:
		outf(o, " ecode %" PRIu32, f->u.lerror.ecode);
		break;
	case P9_TFLUSH:
		outf(o, " oldtag %" PRIu16, f->u.flush.oldtag);
		break;
	case P9_TWALK:
		outf(o, " fid %" PRIu32 " newfid %" PRIu32 " nwname %" PRIu16,
		    f->u.walk.fid, f->u.walk.newfid, f->u.walk.nwname);
		for (i = 0; i < f->u.walk.nwname && i < P9_MAXWELEM; i++)
			outs(o, "", f->u.walk.wname[i]);
		break;
	case P9_RWALK:
		outf(o, " nwqid %" PRIu16, f->u.rwalk.nwqid);
		for (i = 0; i < f->u.rwalk.nwqid && i < P9_MAXWELEM; i++)
			outqid(o, "", &f->u.rwalk.wqid[i]);
		break;
	case P9_TOPEN:
		outf(o, " fid %" PRIu32 " mode %#x", f->u.open.fid,
		    f->u.open.mode);
		break;
	case P9_ROPEN:
	case P9_RCREATE:
	case P9_RLOPEN:
	case P9_RLCREATE:
		outqid(o, "qid ", &f->u.ropen.qid);
		outf(o, " iounit %" PRIu32, f->u.ropen.iounit);
		break;
	case P9_TCREATE:
		outf(o, " fid %" PRIu32, f->u.create.fid);
		outs(o, "name ", f->u.create.name);
		outf(o, " perm %#" PRIo32 " mode %#x", f->u.create.perm,
		    f->u.create.mode);
		if (f->u.create.extension != NULL)
			outs(o, "extension ", f->u.create.extension);
		break;
	case P9_TREAD:
	case P9_TREADDIR:
		outf(o, " fid %" PRIu32 " offset %" PRIu64 " count %" PRIu32,
		    f->u.read.fid, f->u.read.offset, f->u.read.count);
		break;
	case P9_RREAD:
	case P9_RREADDIR:
		outf(o, " count %" PRIu32, f->u.rread.count);
		break;
	case P9_TWRITE:
		outf(o, " fid %" PRIu32 " offset %" PRIu64 " count %" PRIu32,
		    f->u.write.fid, f->u.write.offset, f->u.write.count);
		break;
	case P9_RWRITE:
		outf(o, " count %" PRIu32, f->u.rwrite.count);
		break;
	case P9_TCLUNK:
	case P9_TREMOVE:
	case P9_TSTAT:
	case P9_TREADLINK:
	case P9_TSTATFS:
		outf(o, " fid %" PRIu32, f->u.fid.fid);
		break;
	case P9_RSTAT:
		outstat(o, &f->u.rstat.stat);
		break;
	case P9_TWSTAT:
		outf(o, " fid %" PRIu32, f->u.wstat.fid);
		outstat(o, &f->u.wstat.stat);
		break;
	case P9_TLOPEN:
		outf(o, " fid %" PRIu32 " flags %#" PRIo32, f->u.lopen.fid,
		    f->u.lopen.flags);
		break;
	case P9_TLCREATE:
		outf(o, " fid %" PRIu32, f->u.lcreate.fid);
		outs(o, "name ", f->u.lcreate.name);
		outf(o, " flags %#" PRIo32 " mode %#" PRIo32 " gid %" PRIu32,
		    f->u.lcreate.flags, f->u.lcreate.mode, f->u.lcreate.gid);
		break;
	case P9_TSYMLINK:
		outf(o, " fid %" PRIu32, f->u.symlink.fid);
		outs(o, "name ", f->u.symlink.name);
		outs(o, "symtgt ", f->u.symlink.symtgt);
		outf(o, " gid %" PRIu32, f->u.symlink.gid);
		break;
	case P9_TMKNOD:
		outf(o, " dfid %" PRIu32, f->u.mknod.dfid);
		outs(o, "name ", f->u.mknod.name);
		outf(o,
		    " mode %#" PRIo32 " major %" PRIu32 " minor %" PRIu32
		    " gid %" PRIu32,
		    f->u.mknod.mode, f->u.mknod.major, f->u.mknod.minor,
		    f->u.mknod.gid);
		break;
	case P9_TRENAME:
		outf(o, " fid %" PRIu32 " dfid %" PRIu32, f->u.rename.fid,
		    f->u.rename.dfid);
		outs(o, "name ", f->u.rename.name);
		break;
	case P9_RREADLINK:
		outs(o, "target ", f->u.rreadlink.target);
		break;
	case P9_TGETATTR:
		outf(o, " fid %" PRIu32 " request_mask %#" PRIx64,
		    f->u.getattr.fid, f->u.getattr.request_mask);
		break;
	case P9_RGETATTR:
		a = &f->u.rgetattr;
		outf(o, " valid %#" PRIx64, a->valid);
		outqid(o, "qid ", &a->qid);
		outf(o,
		    " mode %#" PRIo32 " uid %" PRIu32 " gid %" PRIu32
		    " nlink %" PRIu64 " rdev %" PRIu64 " size %" PRIu64
		    " blksize %" PRIu64 " blocks %" PRIu64,
		    a->mode, a->uid, a->gid, a->nlink, a->rdev, a->size,
		    a->blksize, a->blocks);
		outf(o,
		    " atime %" PRIu64 ".%09" PRIu64 " mtime %" PRIu64
		    ".%09" PRIu64 " ctime %" PRIu64 ".%09" PRIu64
		    " btime %" PRIu64 ".%09" PRIu64,
		    a->atime_sec, a->atime_nsec, a->mtime_sec, a->mtime_nsec,
		    a->ctime_sec, a->ctime_nsec, a->btime_sec, a->btime_nsec);
		outf(o, " gen %" PRIu64 " data_version %" PRIu64, a->gen,
		    a->data_version);
		break;
	case P9_TSETATTR:
		ia = &f->u.setattr.attr;
		outf(o,
		    " fid %" PRIu32 " valid %#" PRIx32 " mode %#" PRIo32
		    " uid %" PRIu32 " gid %" PRIu32 " size %" PRIu64,
		    f->u.setattr.fid, ia->valid, ia->mode, ia->uid, ia->gid,
		    ia->size);
		outf(o,
		    " atime %" PRIu64 ".%09" PRIu64 " mtime %" PRIu64
		    ".%09" PRIu64,
		    ia->atime_sec, ia->atime_nsec, ia->mtime_sec,
		    ia->mtime_nsec);
		break;
	case P9_TXATTRWALK:
		outf(o, " fid %" PRIu32 " newfid %" PRIu32, f->u.xattrwalk.fid,
		    f->u.xattrwalk.newfid);
		outs(o, "name ", f->u.xattrwalk.name);
		break;
	case P9_RXATTRWALK:
		outf(o, " size %" PRIu64, f->u.rxattrwalk.size);
		break;
	case P9_TXATTRCREATE:
		outf(o, " fid %" PRIu32, f->u.xattrcreate.fid);
		outs(o, "name ", f->u.xattrcreate.name);
		outf(o, " size %" PRIu64 " flags %#" PRIx32,
		    f->u.xattrcreate.attr_size, f->u.xattrcreate.flags);
		break;
	case P9_TFSYNC:
		outf(o, " fid %" PRIu32 " datasync %" PRIu32, f->u.fsync.fid,
		    f->u.fsync.datasync);
		break;
	case P9_TLOCK:
	case P9_TGETLOCK:
		outf(o, " fid %" PRIu32, f->u.lock.fid);
		outflock(o, &f->u.lock.lock, f->type == P9_TLOCK);
		break;
	case P9_RLOCK:
		outf(o, " status %u", f->u.rlock.status);
		break;
	case P9_RGETLOCK:
		outflock(o, &f->u.rgetlock, 0);
		break;
	case P9_TLINK:
		outf(o, " dfid %" PRIu32 " fid %" PRIu32, f->u.link.dfid,
		    f->u.link.fid);
		outs(o, "name ", f->u.link.name);
		break;
	case P9_TMKDIR:
		outf(o, " dfid %" PRIu32, f->u.mkdir.dfid);
		outs(o, "name ", f->u.mkdir.name);
		outf(o, " mode %#" PRIo32 " gid %" PRIu32, f->u.mkdir.mode,
		    f->u.mkdir.gid);
		break;
	case P9_TRENAMEAT:
		outf(o, " olddirfid %" PRIu32, f->u.renameat.olddirfid);
		outs(o, "oldname ", f->u.renameat.oldname);
		outf(o, " newdirfid %" PRIu32, f->u.renameat.newdirfid);
		outs(o, "newname ", f->u.renameat.newname);
		break;
	case P9_TUNLINKAT:
		outf(o, " dfid %" PRIu32, f->u.unlinkat.dfid);
		outs(o, "name ", f->u.unlinkat.name);
		outf(o, " flags %#" PRIx32, f->u.unlinkat.flags);
		break;
	case P9_RSTATFS:
		sf = &f->u.rstatfs;
		outf(o,
		    " type %#" PRIx32 " bsize %" PRIu32 " blocks %" PRIu64
		    " bfree %" PRIu64 " bavail %" PRIu64 " files %" PRIu64
		    " ffree %" PRIu64 " fsid %#" PRIx64 " namelen %" PRIu32,
		    sf->type, sf->bsize, sf->blocks, sf->bfree, sf->bavail,
		    sf->files, sf->ffree, sf->fsid, sf->namelen);
		break;
	default:
		break;
	}
}

/*
 * Like snprintf: returns the length of the whole line and writes as much
 * of it as fits, always NUL-terminated when cap > 0.  Strings are quoted
 * with unprintable bytes escaped; data is shown by its count only.
 */
int
p9_fcall_format(const struct p9_fcall *f, char *out, size_t cap)
{
	struct out o = {.buf = out, .cap = cap};
	const char *name = p9_type_name(f->type);

	if (cap > 0)
		out[0] = '\0';
	if (name == NULL) {
		outf(&o, "unknown type %u tag %" PRIu16, f->type, f->tag);
		return o.n > INT_MAX ? INT_MAX : (int)o.n;
	}
	outf(&o, "%s tag %" PRIu16, name, f->tag);
	format_body(&o, f);
	return o.n > INT_MAX ? INT_MAX : (int)o.n;
}
