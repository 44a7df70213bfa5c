/*
 * ramfs.c - the in-memory tree and its 9P2000 handlers (the framework maps
 * the 9P2000.L requests onto them).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ramfs.h"

struct held {
	struct p9_req *r;
	struct held *next;
};

struct node {
	char *name;
	struct node *parent; /* the root's is itself */
	struct node *child;  /* first child, for directories */
	struct node *sibling;
	struct p9_qid qid;
	uint32_t mode; /* 9P mode, P9_DMDIR for directories */
	uint32_t atime, mtime;
	char *uid;
	uint8_t *data;
	size_t len, cap;
	int ref;      /* fids, held reads, and 1 while in the tree */
	int fifo;     /* reads wait for data and consume it */
	int fifo_eof; /* a zero-length write ended it */
	struct held *readers;
};

struct ramfs {
	struct node *root;
	uint64_t nextpath;
};

/* The server's state of one fid. */
struct rfid {
	struct node *n;
	char *uname;
	struct node **snap; /* directory entries at open time */
	size_t nsnap;
	int rclose; /* ORCLOSE */
};

static struct node *
node_new(struct ramfs *fs, const char *name, uint32_t mode, const char *uid)
{
	struct node *n = calloc(1, sizeof *n);

	if (!n || !(n->name = strdup(name)) || !(n->uid = strdup(uid))) {
		if (n)
			free(n->name);
		free(n);
		return NULL;
	}
	n->mode = mode;
	n->qid.type = (mode & P9_DMDIR) ? P9_QTDIR : P9_QTFILE;
	n->qid.path = ++fs->nextpath;
	n->atime = n->mtime = (uint32_t)time(NULL);
	n->ref = 1;
	return n;
}

static void
node_unref(struct node *n)
{
	if (!n || --n->ref > 0)
		return;
	free(n->name);
	free(n->uid);
	free(n->data);
	free(n);
}

static struct node *
node_child(struct node *d, const char *name)
{
	struct node *c;

	for (c = d->child; c; c = c->sibling)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static void
node_link(struct node *d, struct node *n)
{
	struct node **pp = &d->child;

	while (*pp)
		pp = &(*pp)->sibling;
	*pp = n;
	n->parent = d;
	n->sibling = NULL;
	d->mtime = (uint32_t)time(NULL);
	d->qid.version++;
}

static void
node_unlink(struct node *n)
{
	struct node *d = n->parent, **pp;

	for (pp = &d->child; *pp; pp = &(*pp)->sibling)
		if (*pp == n) {
			*pp = n->sibling;
			break;
		}
	n->sibling = NULL;
	d->mtime = (uint32_t)time(NULL);
	d->qid.version++;
}

/* Frees a detached subtree's tree references. */
static void
node_drop_tree(struct node *n)
{
	struct node *c, *next;

	for (c = n->child; c; c = next) {
		next = c->sibling;
		node_drop_tree(c);
	}
	n->child = NULL;
	node_unref(n);
}

struct ramfs *
ramfs_new(void)
{
	struct ramfs *fs = calloc(1, sizeof *fs);

	if (!fs || !(fs->root = node_new(fs, "/", P9_DMDIR | 0777, "root"))) {
		free(fs);
		return NULL;
	}
	fs->root->parent = fs->root;
	return fs;
}

void
ramfs_free(struct ramfs *fs)
{
	if (!fs)
		return;
	node_drop_tree(fs->root);
	free(fs);
}

static int
data_set(struct node *n, size_t len)
{
	if (len > n->cap) {
		size_t cap = n->cap ? n->cap : 4096;
		uint8_t *p;

		while (cap < len)
			cap *= 2;
		if (!(p = realloc(n->data, cap)))
			return -ENOMEM;
		n->data = p;
		n->cap = cap;
	}
	if (len > n->len)
		memset(n->data + n->len, 0, len - n->len);
	n->len = len;
	return 0;
}

static struct node *
lookup(struct ramfs *fs, const char *path, const char **last)
{
	struct node *n = fs->root;
	char buf[4096], *p, *slash;

	if (strlen(path) >= sizeof buf)
		return NULL;
	strcpy(buf, path);
	p = buf;
	for (;;) {
		while (*p == '/')
			p++;
		if (!(slash = strchr(p, '/')))
			break;
		*slash = '\0';
		if (!(n = node_child(n, p)) || !(n->mode & P9_DMDIR))
			return NULL;
		p = slash + 1;
	}
	*last = path + (p - buf);
	return n;
}

int
ramfs_add(struct ramfs *fs, const char *path, int kind, uint32_t perm,
    const void *data, size_t len)
{
	const char *name;
	struct node *d = lookup(fs, path, &name), *n;

	if (!d)
		return -ENOENT;
	if (!*name)
		return -EINVAL;
	if (node_child(d, name))
		return -EEXIST;
	if (!(n = node_new(fs, name,
	          (perm & 0777) | (kind == 'd' ? P9_DMDIR : 0), "root")))
		return -ENOMEM;
	n->fifo = kind == 'p';
	if (len && data_set(n, len) < 0) {
		node_unref(n);
		return -ENOMEM;
	}
	if (len)
		memcpy(n->data, data, len);
	node_link(d, n);
	return 0;
}

int
ramfs_set(struct ramfs *fs, const char *path, const void *data, size_t len)
{
	const char *name;
	struct node *d = lookup(fs, path, &name), *n;

	if (!d || !(n = node_child(d, name)))
		return -ENOENT;
	if (n->mode & P9_DMDIR)
		return -EISDIR;
	if (data_set(n, len) < 0)
		return -ENOMEM;
	memcpy(n->data, data, len);
	n->qid.version++;
	n->mtime = (uint32_t)time(NULL);
	return 0;
}

/* ---- 9P handlers ---- */

static struct ramfs *
fs_of(struct p9_req *r)
{
	return p9_req_aux(r);
}

static struct rfid *
rfid_new(struct node *n, const char *uname)
{
	struct rfid *f = calloc(1, sizeof *f);

	if (!f || !(f->uname = strdup(uname))) {
		free(f);
		return NULL;
	}
	f->n = n;
	n->ref++;
	return f;
}

static void
snap_free(struct rfid *f)
{
	size_t i;

	for (i = 0; i < f->nsnap; i++)
		node_unref(f->snap[i]);
	free(f->snap);
	f->snap = NULL;
	f->nsnap = 0;
}

static void
rfid_free(struct rfid *f)
{
	if (!f)
		return;
	snap_free(f);
	node_unref(f->n);
	free(f->uname);
	free(f);
}

static void
fs_destroy_fid(struct p9_fid *fid)
{
	rfid_free(fid->aux);
	fid->aux = NULL;
}

static void
fs_attach(struct p9_req *r)
{
	struct ramfs *fs = fs_of(r);
	const char *uname = r->in.u.attach.uname;
	char num[16];

	if (!*uname && r->in.u.attach.n_uname != P9_NONUNAME) {
		snprintf(num, sizeof num, "%u", r->in.u.attach.n_uname);
		uname = num;
	}
	if (!(r->fid->aux = rfid_new(fs->root, *uname ? uname : "none"))) {
		p9_respond_error(r, ENOMEM);
		return;
	}
	r->out.u.rqid.qid = fs->root->qid;
	p9_respond(r);
}

static void
fs_walk(struct p9_req *r)
{
	struct rfid *f = r->fid->aux, *nf;
	struct node *n = f->n, *c;
	int i;

	for (i = 0; i < r->in.u.walk.nwname; i++) {
		const char *name = r->in.u.walk.wname[i];

		if (!(n->mode & P9_DMDIR))
			break;
		if (strcmp(name, "..") == 0)
			c = n->parent;
		else if (strcmp(name, ".") == 0)
			c = n;
		else if (!(c = node_child(n, name)))
			break;
		n = c;
		r->out.u.rwalk.wqid[i] = n->qid;
	}
	r->out.u.rwalk.nwqid = (uint16_t)i;
	if (i == 0 && r->in.u.walk.nwname > 0) {
		p9_respond_error(r, (n->mode & P9_DMDIR) ? ENOENT : ENOTDIR);
		return;
	}
	if (i == r->in.u.walk.nwname) {
		if (!(nf = rfid_new(n, f->uname))) {
			p9_respond_error(r, ENOMEM);
			return;
		}
		if (r->newfid == r->fid)
			rfid_free(f);
		r->newfid->aux = nf;
	}
	p9_respond(r);
}

static void
fs_open(struct p9_req *r)
{
	struct rfid *f = r->fid->aux;
	struct node *n = f->n, *c;
	uint8_t mode = r->in.u.open.mode;
	size_t i = 0;

	if ((mode & P9_OTRUNC) && !(n->mode & P9_DMDIR) && !n->fifo) {
		n->len = 0;
		n->qid.version++;
		n->mtime = (uint32_t)time(NULL);
	}
	if (n->mode & P9_DMDIR) {
		for (c = n->child; c; c = c->sibling)
			i++;
		if (i && !(f->snap = calloc(i, sizeof *f->snap))) {
			p9_respond_error(r, ENOMEM);
			return;
		}
		for (c = n->child; c; c = c->sibling) {
			c->ref++;
			f->snap[f->nsnap++] = c;
		}
	}
	f->rclose = !!(mode & P9_ORCLOSE);
	r->out.u.ropen.qid = n->qid;
	r->out.u.ropen.iounit = 0;
	p9_respond(r);
}

static void
fs_create(struct p9_req *r)
{
	struct ramfs *fs = fs_of(r);
	struct rfid *f = r->fid->aux;
	struct node *d = f->n, *n;
	uint32_t perm = r->in.u.create.perm;

	if (node_child(d, r->in.u.create.name)) {
		p9_respond_error(r, EEXIST);
		return;
	}
	if (perm & ~(P9_DMDIR | 0777)) {
		p9_respond_error(r, EOPNOTSUPP);
		return;
	}
	if (!(n = node_new(fs, r->in.u.create.name, perm, f->uname))) {
		p9_respond_error(r, ENOMEM);
		return;
	}
	node_link(d, n);
	n->ref++; /* the fid's */
	node_unref(d);
	f->n = n;
	f->rclose = !!(r->in.u.create.mode & P9_ORCLOSE);
	r->out.u.ropen.qid = n->qid;
	r->out.u.ropen.iounit = 0;
	p9_respond(r);
}

static void
fs_mkdir(struct p9_req *r)
{
	struct ramfs *fs = fs_of(r);
	struct rfid *f = r->fid->aux;
	struct node *n;

	if (!(f->n->mode & P9_DMDIR)) {
		p9_respond_error(r, ENOTDIR);
		return;
	}
	if (node_child(f->n, r->in.u.mkdir.name)) {
		p9_respond_error(r, EEXIST);
		return;
	}
	n = node_new(fs, r->in.u.mkdir.name,
	    P9_DMDIR | (r->in.u.mkdir.mode & 0777), f->uname);
	if (!n) {
		p9_respond_error(r, ENOMEM);
		return;
	}
	node_link(f->n, n);
	r->out.u.rqid.qid = n->qid;
	p9_respond(r);
}

static void
fill_stat(struct node *n, struct p9_stat *st)
{
	memset(st, 0, sizeof *st);
	st->qid = n->qid;
	st->mode = n->mode;
	st->atime = n->atime;
	st->mtime = n->mtime;
	st->length = (n->mode & P9_DMDIR) || n->fifo ? 0 : n->len;
	st->name = n->parent == n ? "/" : n->name;
	st->uid = st->gid = st->muid = n->uid;
	st->extension = "";
	st->n_uid = st->n_gid = st->n_muid = P9_NONUNAME;
	if (strcmp(n->uid, "root") == 0)
		st->n_uid = st->n_gid = st->n_muid = 0;
}

static int
dirgen(void *arg, uint64_t index, struct p9_stat *st)
{
	struct rfid *f = arg;

	if (index >= f->nsnap)
		return -1;
	fill_stat(f->snap[index], st);
	return 0;
}

static void
fifo_answer(struct node *n)
{
	while (n->readers && (n->len || n->fifo_eof)) {
		struct held *h = n->readers;
		struct p9_req *r = h->r;
		uint32_t cap;
		uint8_t *buf = p9_req_data(r, &cap);
		size_t k = n->len < cap ? n->len : cap;

		n->readers = h->next;
		free(h);
		memcpy(buf, n->data, k);
		memmove(n->data, n->data + k, n->len - k);
		n->len -= k;
		r->out.u.rread.count = (uint32_t)k;
		r->out.u.rread.data = buf;
		p9_respond(r);
	}
}

static void
fs_read(struct p9_req *r)
{
	struct rfid *f = r->fid->aux;
	struct node *n = f->n;

	if (n->mode & P9_DMDIR) {
		p9_respond_dirread(r, dirgen, f);
		return;
	}
	n->atime = (uint32_t)time(NULL);
	if (n->fifo) {
		struct held *h = malloc(sizeof *h), **pp;

		if (!h) {
			p9_respond_error(r, ENOMEM);
			return;
		}
		h->r = r;
		h->next = NULL;
		for (pp = &n->readers; *pp; pp = &(*pp)->next)
			;
		*pp = h;
		r->aux = n;
		fifo_answer(n);
		return;
	}
	p9_respond_bytes(r, n->data, n->len);
}

static void
fs_flush(struct p9_req *old)
{
	struct node *n = old->aux;
	struct held **pp, *h;

	if (!n)
		return; /* not held: it is answered already or soon */
	for (pp = &n->readers; *pp; pp = &(*pp)->next)
		if ((*pp)->r == old) {
			h = *pp;
			*pp = h->next;
			free(h);
			p9_respond_error(old, EINTR);
			return;
		}
}

static void
fs_write(struct p9_req *r)
{
	struct rfid *f = r->fid->aux;
	struct node *n = f->n;
	uint64_t off = r->in.u.write.offset;
	uint32_t count = r->in.u.write.count;

	if (n->fifo) {
		off = n->len;
		if (count == 0)
			n->fifo_eof = 1;
	}
	if (off + count > (64u << 20) + 0ull || off > (64u << 20)) {
		p9_respond_error(r, EFBIG);
		return;
	}
	if (off + count > n->len && data_set(n, off + count) < 0) {
		p9_respond_error(r, ENOMEM);
		return;
	}
	memcpy(n->data + off, r->in.u.write.data, count);
	n->mtime = (uint32_t)time(NULL);
	n->qid.version++;
	r->out.u.rwrite.count = count;
	p9_respond(r);
	if (n->fifo)
		fifo_answer(n);
}

static int
unlink_node(struct node *n)
{
	if (n->parent == n)
		return EBUSY;
	if ((n->mode & P9_DMDIR) && n->child)
		return ENOTEMPTY;
	if (!n->parent)
		return ENOENT;
	node_unlink(n);
	n->parent = NULL;
	node_unref(n); /* the tree's */
	return 0;
}

static void
fs_remove(struct p9_req *r)
{
	struct rfid *f = r->fid->aux;
	int err = unlink_node(f->n);

	if (err)
		p9_respond_error(r, err);
	else
		p9_respond(r);
}

static void
fs_clunk(struct p9_req *r)
{
	struct rfid *f = r->fid->aux;

	if (f && f->rclose)
		unlink_node(f->n);
	p9_respond(r);
}

static void
fs_stat(struct p9_req *r)
{
	struct rfid *f = r->fid->aux;

	fill_stat(f->n, &r->out.u.rstat.stat);
	p9_respond(r);
}

static void
fs_wstat(struct p9_req *r)
{
	struct rfid *f = r->fid->aux;
	struct node *n = f->n;
	struct p9_stat *st = &r->in.u.wstat.stat;

	/* all or nothing: check first */
	if (st->mode != ~0u && (st->mode & P9_DMDIR) != (n->mode & P9_DMDIR)) {
		p9_respond_error(r, EPERM);
		return;
	}
	if (st->length != ~0ull && (n->mode & P9_DMDIR)) {
		p9_respond_error(r, EISDIR);
		return;
	}
	if (st->length != ~0ull && st->length > (64u << 20)) {
		p9_respond_error(r, EFBIG);
		return;
	}
	if (*st->name && (strchr(st->name, '/') || !strcmp(st->name, ".") ||
	                     !strcmp(st->name, ".."))) {
		p9_respond_error(r, EINVAL);
		return;
	}
	if (*st->name && (n->parent == n || !n->parent)) {
		p9_respond_error(r, EPERM);
		return;
	}
	if (*st->name && strcmp(st->name, n->name) &&
	    node_child(n->parent, st->name)) {
		p9_respond_error(r, EEXIST);
		return;
	}
	if (st->length != ~0ull && data_set(n, st->length) < 0) {
		p9_respond_error(r, ENOMEM);
		return;
	}
	if (*st->name && strcmp(st->name, n->name)) {
		char *s = strdup(st->name);

		if (!s) {
			p9_respond_error(r, ENOMEM);
			return;
		}
		free(n->name);
		n->name = s;
	}
	if (st->mode != ~0u)
		n->mode = (n->mode & P9_DMDIR) | (st->mode & 0777);
	if (st->mtime != ~0u)
		n->mtime = st->mtime;
	if (st->atime != ~0u)
		n->atime = st->atime;
	n->qid.version++;
	p9_respond(r);
}

static void
fs_statfs(struct p9_req *r)
{
	memset(&r->out.u.rstatfs, 0, sizeof r->out.u.rstatfs);
	r->out.u.rstatfs.type = 0x01021997; /* V9FS_MAGIC */
	r->out.u.rstatfs.bsize = 4096;
	r->out.u.rstatfs.namelen = 255;
	p9_respond(r);
}

static const struct p9_ops ops = {
    .attach = fs_attach,
    .walk = fs_walk,
    .open = fs_open,
    .create = fs_create,
    .read = fs_read,
    .write = fs_write,
    .clunk = fs_clunk,
    .remove = fs_remove,
    .stat = fs_stat,
    .wstat = fs_wstat,
    .flush = fs_flush,
    .destroy_fid = fs_destroy_fid,
    .statfs = fs_statfs,
    .mkdir = fs_mkdir,
};

const struct p9_ops *
ramfs_ops(void)
{
	return &ops;
}
