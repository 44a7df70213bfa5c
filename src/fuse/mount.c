/*
 * mount.c - "unum mount": a node's 9P tree as a FUSE filesystem.
 *
 * libfuse3's low-level API, multithreaded: each FUSE request runs on one of
 * libfuse's threads and makes its 9P calls through the blocking client,
 * which pipelines the calls of all threads on one connection.
 *
 * Inodes.  An inode is a walked fid (struct node); its FUSE node id is the
 * node's address (the root is FUSE_ROOT_ID).  Nodes are found by qid path,
 * so hard links and a name looked up twice give one inode.  The kernel's
 * lookup count says when an inode's fid may be clunked (forget).
 *
 * Files.  An open is a fid of its own, walked from the inode's and opened;
 * its number is the FUSE file handle.  A file the server gives no size and
 * no version (qid version 0: a synthetic file such as a process's stdout)
 * is direct I/O: reads go to the server each time and return what it
 * gives, when it gives it.  A file whose mtime and size have not changed
 * since it was last opened keeps its page cache.
 *
 * Dialects.  9P2000.L gives the whole of POSIX.  Plain 9P2000 and .u
 * servers (Plan 9-style synthetic trees) get stat, wstat, open, create,
 * read, write, remove and directory reads; links, xattrs and locks are
 * then ENOSYS.
 *
 * Failure.  When the connection breaks every call fails at once
 * (ECONNRESET, given to the kernel as EIO): nothing hangs, and the mount
 * stays until unmounted.
 */
#define FUSE_USE_VERSION 314
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>

#include "9p/p9.h"
#include "cmd/run.h"
#include "mount.h"

#define NBUCKETS 4096

struct node {
	uint64_t qpath;
	struct p9_cl *cl; /* the connection its fid belongs to */
	uint32_t fid;
	uint64_t nlookup;
	/* where it was last found (a lookup held on parent), to walk to it
	 * again on a new connection */
	struct node *parent;
	char *name;
	/* at the last open: page cache kept when these have not changed */
	uint64_t mtime_sec, mtime_nsec, size;
	struct timespec checked; /* when an open last checked them */
	int covered; /* a directory whose changes the server's feed tells:
	              * 1, or -1 not (asked), 0 not known */
	/* a regular file's attributes as a getattr last had them, while
	 * nothing said they changed since (st_ok): where the feed covers
	 * it, a getattr is answered with them (the kernel asks again after
	 * every read, for the atime); agen counts what made them stale
	 * here (writes, setattr) */
	struct stat st;
	int st_ok;
	unsigned agen;
	/* until when it is known to have no security.capability (the kernel
	 * asks before every write) */
	struct timespec nocaps;
	struct node *next; /* in its hash bucket */
};

/* An open file or directory: the FUSE file handle. */
struct ofile {
	struct p9_cl *cl;
	uint32_t fid;
	int flags;  /* as opened, to open it again on a new connection */
	int stream; /* direct I/O: a read returns what comes */
	struct node *node;
};

struct fs {
	struct p9_cl *cl; /* the connection (under lock) */
	uid_t uid;        /* whose name it attaches in */
	int dotl;         /* 9P2000.L */
	uint32_t iosize;  /* msize - P9_IOHDRSZ */
	double attr_timeout, entry_timeout;
	double negative_timeout; /* a name found missing is so long; 0: not */
	double revalidate; /* an open this soon after the last check of the
	                    * file reads it as it was (0: every open asks) */
	/* a walk and what follows on its new fid sent together (unumd
	 * answers in order; not every 9P server does: diod runs them at
	 * once) */
	int pipeline;
	struct node root;
	pthread_mutex_t lock;    /* cl, the table, nodes' fields */
	pthread_mutex_t walking; /* one walk back at a time */
	char real[PATH_MAX];     /* the mount point */
	pthread_once_t ra_once;
	struct node *table[NBUCKETS];
	/* -o reconnect: a thread connects again once a call found the
	 * connection broken; the old ones stay (dead) until unmount, as
	 * a request may still hold one */
	int reconnect;
	pthread_cond_t broken_cv;
	int broken;
	struct p9_cl **dead;
	size_t ndead;
	struct unum_route rt; /* how the server is reached, what attached */
	struct p9_client_opts copts;
	/* -o changes=SECS: the server's feed of changes (fid feed on
	 * feedcl, P9_NOFID if none), read every second and when a sync
	 * asks (want/done: the syncs asked and answered, under slock);
	 * what it covers the kernel may keep this long */
	double changes;
	unsigned fgen; /* the feed's invalidations so far (under lock) */
	uint32_t feed;
	struct p9_cl *feedcl;
	struct fuse_session *se;
	pthread_mutex_t slock;
	pthread_cond_t ask_cv, done_cv;
	unsigned long want, done;
};

static void readahead_once(void);

/* The filesystem of a request.  The first request after INIT sets the
 * mount's read-ahead (INIT's reply resets it, so not before). */
static struct fs *
fs_of(fuse_req_t req)
{
	struct fs *fs = fuse_req_userdata(req);

	pthread_once(&fs->ra_once, readahead_once);
	return fs;
}

static struct node *
node_of(struct fs *fs, fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? &fs->root : (struct node *)(uintptr_t)ino;
}

static fuse_ino_t
ino_of(struct fs *fs, struct node *n)
{
	return n == &fs->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
}

static struct p9_cl *
cur(struct fs *fs)
{
	struct p9_cl *cl;

	pthread_mutex_lock(&fs->lock);
	cl = fs->cl;
	pthread_mutex_unlock(&fs->lock);
	return cl;
}

static int
is_broken(int rc)
{
	rc = rc < 0 ? -rc : rc;
	return rc == ECONNRESET || rc == ENOTCONN || rc == EPIPE;
}

/* A broken connection is an I/O error to the kernel (and, with
 * reconnect, the word to connect again). */
static int
ferr(struct fs *fs, int rc)
{
	rc = rc < 0 ? -rc : rc;
	if (!is_broken(rc))
		return rc;
	if (fs->reconnect) {
		pthread_mutex_lock(&fs->lock);
		fs->broken = 1;
		pthread_cond_signal(&fs->broken_cv);
		pthread_mutex_unlock(&fs->lock);
	}
	return EIO;
}

static void
reply_err(fuse_req_t req, int rc)
{
	fuse_reply_err(req, ferr(fuse_req_userdata(req), rc));
}

/* ---- attributes ---- */

static mode_t
mode_of_9p(uint32_t m)
{
	mode_t t = S_IFREG;

	if (m & P9_DMDIR)
		t = S_IFDIR;
	else if (m & P9_DMSYMLINK)
		t = S_IFLNK;
	else if (m & P9_DMNAMEDPIPE)
		t = S_IFIFO;
	else if (m & P9_DMSOCKET)
		t = S_IFSOCK;
	else if (m & P9_DMDEVICE)
		t = S_IFCHR;
	return t | (m & 0777) | (m & P9_DMSETUID ? S_ISUID : 0) |
	       (m & P9_DMSETGID ? S_ISGID : 0);
}

/* The attributes of fid into *st; 0 or -errno. */
/* A 9P2000.L getattr's answer as a stat. */
static void
attr_stat(struct fs *fs, const struct p9_attr *a, struct stat *st,
    struct p9_qid *qid)
{
	memset(st, 0, sizeof *st);
	st->st_mode = a->mode;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_nlink = a->nlink;
	st->st_rdev = a->rdev;
	st->st_size = (off_t)a->size;
	st->st_blocks = (blkcnt_t)a->blocks;
	st->st_atim.tv_sec = (time_t)a->atime_sec;
	st->st_atim.tv_nsec = (long)a->atime_nsec;
	st->st_mtim.tv_sec = (time_t)a->mtime_sec;
	st->st_mtim.tv_nsec = (long)a->mtime_nsec;
	st->st_ctim.tv_sec = (time_t)a->ctime_sec;
	st->st_ctim.tv_nsec = (long)a->ctime_nsec;
	st->st_ino = a->qid.path;
	/* the unit of I/O is one message: cp and its kind read and write
	 * that much at a time */
	st->st_blksize = fs->iosize;
	if (qid)
		*qid = a->qid;
}

static int
get_stat(struct fs *fs, struct p9_cl *cl, uint32_t fid, struct stat *st,
    struct p9_qid *qid)
{
	memset(st, 0, sizeof *st);
	if (fs->dotl) {
		struct p9_attr a;
		int rc = p9_cl_getattr(cl, fid, P9_GETATTR_BASIC, &a);

		if (rc < 0)
			return rc;
		attr_stat(fs, &a, st, qid);
	} else {
		struct p9_stat s;
		uint8_t *buf = NULL;
		int rc = p9_cl_stat(cl, fid, &s, &buf);

		if (rc < 0)
			return rc;
		st->st_mode = mode_of_9p(s.mode);
		st->st_nlink = 1;
		st->st_uid = s.n_uid != P9_NONUNAME ? s.n_uid : getuid();
		st->st_gid = s.n_gid != P9_NONUNAME ? s.n_gid : getgid();
		st->st_size = (off_t)s.length;
		st->st_blksize = fs->iosize;
		st->st_blocks = (blkcnt_t)((s.length + 511) / 512);
		st->st_atim.tv_sec = s.atime;
		st->st_mtim.tv_sec = st->st_ctim.tv_sec = s.mtime;
		st->st_ino = s.qid.path;
		if (qid)
			*qid = s.qid;
		free(buf);
	}
	return 0;
}

/* ---- inodes ---- */

static void node_forget(struct fs *fs, struct node *n, uint64_t count);

/* Sets where n was found: parent/name, a lookup held on parent (lock
 * held; the old parent, if any, is returned to be forgotten). */
static struct node *
node_place(struct node *n, struct node *parent, const char *name)
{
	struct node *old = n->parent;
	char *nm;

	if (old == parent && n->name && !strcmp(n->name, name))
		return NULL;
	if (!(nm = strdup(name)))
		return NULL; /* it keeps its old place */
	free(n->name);
	n->name = nm;
	n->parent = parent;
	parent->nlookup++;
	return old;
}

/* The node for a freshly walked fid (taken over, or clunked when the inode
 * is known already), its lookup count one higher. */
static struct node *
node_get(struct fs *fs, struct p9_cl *cl, uint32_t fid, uint64_t qpath,
    struct node *parent, const char *name)
{
	struct node **b = &fs->table[qpath % NBUCKETS], *n, *old = NULL;

	pthread_mutex_lock(&fs->lock);
	for (n = *b; n; n = n->next)
		if (n->qpath == qpath)
			break;
	if (n) {
		n->nlookup++;
		if (n->cl != cl) { /* it had a fid on an old connection */
			n->cl = cl;
			n->fid = fid;
			fid = P9_NOFID;
		}
		old = node_place(n, parent, name);
		pthread_mutex_unlock(&fs->lock);
		if (fid != P9_NOFID)
			p9_cl_clunk(cl, fid);
		if (old)
			node_forget(fs, old, 1);
		return n;
	}
	if (!(n = calloc(1, sizeof *n))) {
		pthread_mutex_unlock(&fs->lock);
		p9_cl_clunk(cl, fid);
		return NULL;
	}
	n->qpath = qpath;
	n->cl = cl;
	n->fid = fid;
	n->nlookup = 1;
	node_place(n, parent, name);
	n->next = *b;
	*b = n;
	pthread_mutex_unlock(&fs->lock);
	return n;
}

static void
node_forget(struct fs *fs, struct node *n, uint64_t count)
{
	struct node **p, *parent = NULL;
	int gone = 0;

	pthread_mutex_lock(&fs->lock);
	n->nlookup = count >= n->nlookup ? 0 : n->nlookup - count;
	if (n->nlookup == 0 && n != &fs->root) {
		for (p = &fs->table[n->qpath % NBUCKETS]; *p; p = &(*p)->next)
			if (*p == n) {
				*p = n->next;
				break;
			}
		gone = 1;
		parent = n->parent;
	}
	pthread_mutex_unlock(&fs->lock);
	if (gone) {
		if (n->cl) /* else walked away from (renamed()) */
			p9_cl_clunk(n->cl, n->fid);
		free(n->name);
		free(n);
		if (parent)
			node_forget(fs, parent, 1);
	}
}

/* Walks to n again on the current connection (after a reconnect): from
 * its parent, by its name, and only if it is still the same file. */
static int
rewalk(struct fs *fs, struct node *n)
{
	struct p9_cl *cl = cur(fs);
	struct node *parent;
	struct stat st;
	struct p9_qid q;
	uint32_t fid;
	char *name;
	int rc;

	pthread_mutex_lock(&fs->lock);
	if (n->cl == cl) {
		pthread_mutex_unlock(&fs->lock);
		return 0;
	}
	parent = n->parent;
	name = n->name ? strdup(n->name) : NULL;
	pthread_mutex_unlock(&fs->lock);
	if (!parent || !name) {
		free(name);
		return -ESTALE;
	}
	if ((rc = rewalk(fs, parent)) < 0) {
		free(name);
		return rc;
	}
	fid = p9_cl_fid_new(cl);
	rc = p9_cl_walk(cl, parent->fid, fid, name, NULL);
	free(name);
	if (rc < 0) {
		p9_cl_fid_free(cl, fid);
		return rc == -ENOENT ? -ESTALE : rc;
	}
	if ((rc = get_stat(fs, cl, fid, &st, &q)) < 0 || q.path != n->qpath) {
		p9_cl_clunk(cl, fid);
		return rc < 0 ? rc : -ESTALE;
	}
	pthread_mutex_lock(&fs->lock);
	n->cl = cl;
	n->fid = fid;
	pthread_mutex_unlock(&fs->lock);
	return 0;
}

/* The connection and fid to use for inode ino. */
static int
nfid(struct fs *fs, fuse_ino_t ino, struct p9_cl **cl, uint32_t *fid)
{
	struct node *n = node_of(fs, ino);
	int rc = 0;

	pthread_mutex_lock(&fs->lock);
	if (n->cl != fs->cl) {
		pthread_mutex_unlock(&fs->lock);
		pthread_mutex_lock(&fs->walking);
		rc = rewalk(fs, n);
		pthread_mutex_unlock(&fs->walking);
		pthread_mutex_lock(&fs->lock);
	}
	*cl = n->cl;
	*fid = n->fid;
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

/* A new fid for ino on the current connection, walked from its own. */
static int
clone_fid(struct fs *fs, fuse_ino_t ino, struct p9_cl **cl, uint32_t *out)
{
	uint32_t nf, fid;
	int rc;

	if ((rc = nfid(fs, ino, cl, &nf)) < 0)
		return rc;
	fid = p9_cl_fid_new(*cl);
	if ((rc = p9_cl_walk(*cl, nf, fid, "", NULL)) < 0) {
		p9_cl_fid_free(*cl, fid);
		return rc;
	}
	*out = fid;
	return 0;
}

/* t as a walk from fid `from` to `fid`: by one name, or a clone (NULL). */
static void
walk_call(struct p9_fcall *t, uint32_t from, uint32_t fid, const char *name)
{
	t->type = P9_TWALK;
	t->u.walk.fid = from;
	t->u.walk.newfid = fid;
	if (name) {
		t->u.walk.nwname = 1;
		t->u.walk.wname[0] = (char *)name;
	}
}

static void
getattr_call(struct p9_fcall *t, uint32_t fid)
{
	t->type = P9_TGETATTR;
	t->u.getattr.fid = fid;
	t->u.getattr.request_mask = P9_GETATTR_BASIC;
}

/* What a batched walk by one name (none: a clone) came to: 0, or -errno;
 * *bound when the new fid was bound all the same (a lax server binds it
 * on a short walk): then it is to be clunked. */
static int
walk_result(int rc, const struct p9_fcall *r, const char *name, int *bound)
{
	*bound = rc == 0;
	if (rc == 0 && name && r->u.rwalk.nwqid != 1)
		return -ENOENT;
	return rc;
}

/* How long the kernel may keep what it learns of n (of a name in n when
 * in_dir): as long as -o changes says where the server's feed covers the
 * directory, else base. */
static double
kept(struct fs *fs, struct node *n, int in_dir, double base)
{
	struct node *dir;
	int c;

	if (fs->changes <= base)
		return base;
	pthread_mutex_lock(&fs->lock);
	dir = in_dir ? n : n->parent;
	c = dir && dir->covered > 0;
	pthread_mutex_unlock(&fs->lock);
	return c ? fs->changes : base;
}

/* Whether a lookup in dir asks if the feed covers it: not known yet,
 * and there is a feed. */
static int
to_ask(struct fs *fs, struct node *dir)
{
	int ask;

	if (fs->changes <= 0)
		return 0;
	pthread_mutex_lock(&fs->lock);
	ask = dir->covered == 0 && fs->feed != P9_NOFID && fs->feedcl == fs->cl;
	pthread_mutex_unlock(&fs->lock);
	return ask;
}

/* Walks parent/name and fills its entry. */
static int
lookup_entry(struct fs *fs, fuse_ino_t parent, const char *name,
    struct fuse_entry_param *e)
{
	struct node *n;
	struct p9_cl *cl;
	struct p9_qid q;
	uint32_t pf, fid;
	int rc;

	memset(e, 0, sizeof *e);
	if (strchr(name, '/'))
		return -EINVAL;
	if ((rc = nfid(fs, parent, &cl, &pf)) < 0)
		return rc;
	fid = p9_cl_fid_new(cl);
	if (fs->dotl && fs->pipeline && strcmp(name, ".") && strcmp(name, "..")) {
		/* the walk and the getattr of what it finds, one round trip;
		 * with a feed of changes, the first time in a directory, also
		 * whether the server watches it for us */
		struct p9_fcall t[3], r[3];
		uint8_t *rb[3];
		int rcs[3], bound, ask = to_ask(fs, node_of(fs, parent));

		memset(t, 0, sizeof t);
		walk_call(&t[0], pf, fid, name);
		getattr_call(&t[1], fid);
		if (ask) {
			getattr_call(&t[2], pf);
			t[2].u.getattr.request_mask |= P9_GETATTR_UNUM_WATCHED;
		}
		p9_cl_rpcv(cl, t, r, rb, rcs, ask ? 3 : 2);
		if (ask) {
			pthread_mutex_lock(&fs->lock);
			node_of(fs, parent)->covered =
			    rcs[2] == 0 && (r[2].u.rgetattr.valid &
			                       P9_GETATTR_UNUM_WATCHED)
			        ? 1
			        : -1;
			pthread_mutex_unlock(&fs->lock);
			free(rb[2]);
		}
		rcs[0] = walk_result(rcs[0], &r[0], name, &bound);
		if (rcs[1] == 0)
			attr_stat(fs, &r[1].u.rgetattr, &e->attr, &q);
		free(rb[0]);
		free(rb[1]);
		if ((rc = rcs[0] < 0 ? rcs[0] : rcs[1]) < 0) {
			if (bound)
				p9_cl_clunk(cl, fid);
			else
				p9_cl_fid_free(cl, fid);
			return rc;
		}
	} else {
		if ((rc = p9_cl_walk(cl, pf, fid, name, NULL)) < 0) {
			p9_cl_fid_free(cl, fid);
			return rc;
		}
		if ((rc = get_stat(fs, cl, fid, &e->attr, &q)) < 0) {
			p9_cl_clunk(cl, fid);
			return rc;
		}
	}
	if (!(n = node_get(fs, cl, fid, q.path, node_of(fs, parent), name)))
		return -ENOMEM;
	e->ino = ino_of(fs, n);
	e->attr_timeout = kept(fs, node_of(fs, parent), 1, fs->attr_timeout);
	e->entry_timeout = kept(fs, node_of(fs, parent), 1, fs->entry_timeout);
	return 0;
}

static void
reply_entry(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	struct fs *fs = fs_of(req);
	int rc = lookup_entry(fs, parent, name, &e);

	if (rc == -ENOENT && fs->negative_timeout > 0) {
		/* "not there", kept as long (ino 0: a negative entry) */
		memset(&e, 0, sizeof e);
		e.entry_timeout =
		    kept(fs, node_of(fs, parent), 1, fs->negative_timeout);
		fuse_reply_entry(req, &e);
	} else if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_entry(req, &e);
}

/* After mkdir, mknod, symlink, link: the new name's entry, or the error. */
static void
reply_made(fuse_req_t req, fuse_ino_t parent, const char *name, int rc)
{
	if (rc < 0)
		reply_err(req, rc);
	else
		reply_entry(req, parent, name);
}

static void
op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_entry(req, parent, name);
}

static void
op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs *fs = fs_of(req);

	node_forget(fs, node_of(fs, ino), nlookup);
	fuse_reply_none(req);
}

static void
op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	struct fs *fs = fs_of(req);
	size_t i;

	for (i = 0; i < count; i++)
		node_forget(fs, node_of(fs, f[i].ino), f[i].nlookup);
	fuse_reply_none(req);
}

/* n's attributes changed here (a write, a setattr): not answered from
 * what the last getattr had. */
static void
attr_stale(struct fs *fs, struct node *n)
{
	pthread_mutex_lock(&fs->lock);
	n->st_ok = 0;
	n->agen++;
	pthread_mutex_unlock(&fs->lock);
}

static void
op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct node *n = node_of(fs, ino);
	double keep = kept(fs, n, 0, fs->attr_timeout);
	struct p9_cl *cl;
	struct stat st;
	unsigned agen, fgen;
	uint32_t fid;
	int rc, have;

	pthread_mutex_lock(&fs->lock);
	have = keep > fs->attr_timeout && n->st_ok;
	if (have)
		st = n->st;
	agen = n->agen;
	fgen = fs->fgen;
	pthread_mutex_unlock(&fs->lock);
	if (have) { /* the feed says when they change */
		fuse_reply_attr(req, &st, keep);
		return;
	}
	if ((rc = nfid(fs, ino, &cl, &fid)) == 0)
		rc = get_stat(fs, cl, fid, &st, NULL);
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	if (S_ISREG(st.st_mode) && n->agen == agen && fs->fgen == fgen) {
		n->st = st;
		n->st_ok = 1;
	}
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_attr(req, &st, keep);
}

static void
op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
    struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct p9_cl *cl;
	struct stat st;
	uint32_t fid;
	int rc;

	attr_stale(fs, node_of(fs, ino));

	if ((rc = nfid(fs, ino, &cl, &fid)) < 0) {
		reply_err(req, rc);
		return;
	}
	if (fs->dotl) {
		struct p9_iattr a;

		memset(&a, 0, sizeof a);
		if (to_set & FUSE_SET_ATTR_MODE) {
			a.valid |= P9_SETATTR_MODE;
			a.mode = attr->st_mode & 07777;
		}
		if (to_set & FUSE_SET_ATTR_UID) {
			a.valid |= P9_SETATTR_UID;
			a.uid = attr->st_uid;
		}
		if (to_set & FUSE_SET_ATTR_GID) {
			a.valid |= P9_SETATTR_GID;
			a.gid = attr->st_gid;
		}
		if (to_set & FUSE_SET_ATTR_SIZE) {
			a.valid |= P9_SETATTR_SIZE;
			a.size = (uint64_t)attr->st_size;
		}
		if (to_set & FUSE_SET_ATTR_ATIME_NOW)
			a.valid |= P9_SETATTR_ATIME;
		else if (to_set & FUSE_SET_ATTR_ATIME) {
			a.valid |= P9_SETATTR_ATIME | P9_SETATTR_ATIME_SET;
			a.atime_sec = (uint64_t)attr->st_atim.tv_sec;
			a.atime_nsec = (uint64_t)attr->st_atim.tv_nsec;
		}
		if (to_set & FUSE_SET_ATTR_MTIME_NOW)
			a.valid |= P9_SETATTR_MTIME;
		else if (to_set & FUSE_SET_ATTR_MTIME) {
			a.valid |= P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET;
			a.mtime_sec = (uint64_t)attr->st_mtim.tv_sec;
			a.mtime_nsec = (uint64_t)attr->st_mtim.tv_nsec;
		}
		if (to_set & FUSE_SET_ATTR_CTIME)
			a.valid |= P9_SETATTR_CTIME;
		rc = p9_cl_setattr(cl, fid, &a);
	} else {
		struct p9_stat s;
		struct stat now;

		p9_stat_null(&s);
		if ((to_set & FUSE_SET_ATTR_MODE) &&
		    get_stat(fs, cl, fid, &now, NULL) == 0)
			/* wstat's mode carries the type bit too */
			s.mode = (attr->st_mode & 0777) |
			         (S_ISDIR(now.st_mode) ? P9_DMDIR : 0);
		if (to_set & FUSE_SET_ATTR_SIZE)
			s.length = (uint64_t)attr->st_size;
		if (to_set & FUSE_SET_ATTR_MTIME)
			s.mtime = (uint32_t)attr->st_mtim.tv_sec;
		rc = to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)
		         ? -EPERM
		         : p9_cl_wstat(cl, fid, &s);
	}
	if (rc == 0)
		rc = get_stat(fs, cl, fid, &st, NULL);
	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, fs->attr_timeout);
}

/* ---- names ---- */

static int
rpc(struct p9_cl *cl, struct p9_fcall *t, struct p9_fcall *r)
{
	uint8_t *buf = NULL;
	struct p9_fcall dummy;
	int rc = p9_cl_rpc(cl, t, r ? r : &dummy, &buf);

	free(buf); /* callers use no strings of the reply */
	return rc;
}

static void
op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fs *fs = fs_of(req);
	struct p9_fcall t = {.type = P9_TMKDIR};
	struct p9_cl *cl;
	uint32_t fid;
	int rc;

	if (!fs->dotl) {
		if ((rc = clone_fid(fs, parent, &cl, &fid)) == 0) {
			rc = p9_cl_create(cl, fid, name,
			    P9_DMDIR | (mode & 0777), P9_OREAD, NULL);
			p9_cl_clunk(cl, fid);
		}
	} else if ((rc = nfid(fs, parent, &cl, &fid)) == 0) {
		t.u.mkdir.dfid = fid;
		t.u.mkdir.name = (char *)name;
		t.u.mkdir.mode = mode & 07777;
		t.u.mkdir.gid = fuse_req_ctx(req)->gid;
		rc = rpc(cl, &t, NULL);
	}
	reply_made(req, parent, name, rc);
}

static void
op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
    dev_t rdev)
{
	struct fs *fs = fs_of(req);
	struct p9_fcall t = {.type = P9_TMKNOD};
	struct p9_cl *cl;
	uint32_t fid;
	int rc;

	if (!fs->dotl) {
		reply_err(req, ENOSYS);
		return;
	}
	if ((rc = nfid(fs, parent, &cl, &fid)) == 0) {
		t.u.mknod.dfid = fid;
		t.u.mknod.name = (char *)name;
		t.u.mknod.mode = mode;
		t.u.mknod.major = major(rdev);
		t.u.mknod.minor = minor(rdev);
		t.u.mknod.gid = fuse_req_ctx(req)->gid;
		rc = rpc(cl, &t, NULL);
	}
	reply_made(req, parent, name, rc);
}

static void
op_symlink(
    fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct p9_fcall t = {.type = P9_TSYMLINK};
	struct p9_cl *cl;
	uint32_t fid;
	int rc;

	if (!fs->dotl) {
		reply_err(req, ENOSYS);
		return;
	}
	if ((rc = nfid(fs, parent, &cl, &fid)) == 0) {
		t.u.symlink.fid = fid;
		t.u.symlink.name = (char *)name;
		t.u.symlink.symtgt = (char *)target;
		t.u.symlink.gid = fuse_req_ctx(req)->gid;
		rc = rpc(cl, &t, NULL);
	}
	reply_made(req, parent, name, rc);
}

static void
op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct p9_fcall t = {.type = P9_TLINK};
	struct p9_cl *cl, *cl2;
	uint32_t dfid, fid;
	int rc;

	if (!fs->dotl) {
		reply_err(req, ENOSYS);
		return;
	}
	if ((rc = nfid(fs, parent, &cl, &dfid)) == 0 &&
	    (rc = nfid(fs, ino, &cl2, &fid)) == 0) {
		attr_stale(fs, node_of(fs, ino)); /* its link count */
		t.u.link.dfid = dfid;
		t.u.link.fid = fid;
		t.u.link.name = (char *)name;
		rc = cl == cl2 ? rpc(cl, &t, NULL) : -EIO;
	}
	reply_made(req, parent, name, rc);
}

static void
op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct p9_fcall t = {.type = P9_TREADLINK}, r;
	struct p9_cl *cl;
	uint8_t *buf = NULL;
	uint32_t fid;
	int rc;

	if (!fs->dotl) {
		reply_err(req, EINVAL);
		return;
	}
	if ((rc = nfid(fs, ino, &cl, &fid)) == 0) {
		t.u.fid.fid = fid;
		rc = p9_cl_rpc(cl, &t, &r, &buf);
	}
	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_readlink(req, r.u.rreadlink.target);
	free(buf);
}

/* Removes parent/name (a directory with dir). */
static void
remove_name(fuse_req_t req, fuse_ino_t parent, const char *name, int dir)
{
	struct fs *fs = fs_of(req);
	struct p9_fcall t = {.type = P9_TUNLINKAT};
	struct p9_cl *cl;
	uint32_t pf, fid;
	int rc;

	if ((rc = nfid(fs, parent, &cl, &pf)) < 0) {
		reply_err(req, rc);
		return;
	}
	rc = -EOPNOTSUPP;
	if (fs->dotl) {
		t.u.unlinkat.dfid = pf;
		t.u.unlinkat.name = (char *)name;
		t.u.unlinkat.flags = dir ? P9_AT_REMOVEDIR : 0;
		rc = rpc(cl, &t, NULL);
	}
	if (rc == -EOPNOTSUPP) {
		/* plain 9P, or a server without Tunlinkat (diod): Tremove */
		fid = p9_cl_fid_new(cl);
		if ((rc = p9_cl_walk(cl, pf, fid, name, NULL)) < 0)
			p9_cl_fid_free(cl, fid);
		else
			rc = p9_cl_remove(cl, fid);
	}
	reply_err(req, rc);
}

static void
op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, 0);
}

static void
op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, 1);
}

/* The fid of the inode with qid path qpath on cl, if there is one, else
 * fid. */
static uint32_t
known_fid(struct fs *fs, struct p9_cl *cl, uint64_t qpath, uint32_t fid)
{
	struct node *n;

	pthread_mutex_lock(&fs->lock);
	for (n = fs->table[qpath % NBUCKETS]; n; n = n->next)
		if (n->qpath == qpath && n->cl == cl) {
			fid = n->fid;
			break;
		}
	pthread_mutex_unlock(&fs->lock);
	return fid;
}

/* Is a below (or at) n? (lock held) */
static int
below(const struct node *a, const struct node *n)
{
	for (; a; a = a->parent)
		if (a == n)
			return 1;
	return 0;
}

/* After a rename: the moved inode's place, for walking to it again.  A
 * server that keeps a path in each fid (one without Trenameat, as diod)
 * moved only the fid the rename was done with: the fids of what lies
 * beneath are walked again, from the moved one, when next used. */
static void
renamed(struct fs *fs, fuse_ino_t newparent, const char *newname, int paths)
{
	struct fuse_entry_param e;
	struct node *moved, *n;
	struct stale {
		struct p9_cl *cl;
		uint32_t fid;
	} *gone = NULL, *g;
	size_t i, ngone = 0, cap = 0;

	if ((!fs->reconnect && !paths) ||
	    lookup_entry(fs, newparent, newname, &e) < 0)
		return;
	moved = node_of(fs, e.ino);
	if (paths) {
		pthread_mutex_lock(&fs->lock);
		for (i = 0; i < NBUCKETS; i++)
			for (n = fs->table[i]; n; n = n->next) {
				if (n == moved || !n->cl || !below(n, moved))
					continue;
				if (ngone == cap) {
					size_t ncap = cap ? 2 * cap : 64;

					if (!(g = realloc(gone, ncap * sizeof *g)))
						continue; /* its fid stays */
					gone = g;
					cap = ncap;
				}
				gone[ngone++] = (struct stale){n->cl, n->fid};
				n->cl = NULL;
			}
		pthread_mutex_unlock(&fs->lock);
		/* the fids go once unlocked: a clunk is a round trip */
		for (i = 0; i < ngone; i++)
			p9_cl_clunk(gone[i].cl, gone[i].fid);
		free(gone);
	}
	node_forget(fs, moved, 1);
}

static void
op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
    fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct fs *fs = fs_of(req);
	struct p9_fcall t = {.type = P9_TRENAMEAT};
	struct p9_cl *cl, *cl2;
	uint32_t of, nf, fid;
	int rc, trename = 0;

	if (flags) { /* RENAME_NOREPLACE, RENAME_EXCHANGE: not in 9P */
		reply_err(req, EINVAL);
		return;
	}
	if ((rc = nfid(fs, parent, &cl, &of)) < 0 ||
	    (rc = nfid(fs, newparent, &cl2, &nf)) < 0 ||
	    (rc = cl == cl2 ? 0 : -EIO) < 0) {
		reply_err(req, rc);
		return;
	}
	rc = -EOPNOTSUPP;
	if (fs->dotl) {
		t.u.renameat.olddirfid = of;
		t.u.renameat.oldname = (char *)name;
		t.u.renameat.newdirfid = nf;
		t.u.renameat.newname = (char *)newname;
		rc = rpc(cl, &t, NULL);
	}
	if (rc == -EOPNOTSUPP) {
		/* Trename of a walked fid (a server without Trenameat); plain
		 * 9P renames within a directory, by wstat */
		struct p9_qid q;

		fid = p9_cl_fid_new(cl);
		if ((rc = p9_cl_walk(cl, of, fid, name, &q)) < 0) {
			p9_cl_fid_free(cl, fid);
		} else if (fs->dotl) {
			struct p9_fcall m = {.type = P9_TRENAME};

			/* with the inode's own fid where there is one: a
			 * server that keeps paths in fids (diod) moves that
			 * fid's path along */
			m.u.rename.fid = known_fid(fs, cl, q.path, fid);
			m.u.rename.dfid = nf;
			m.u.rename.name = (char *)newname;
			rc = rpc(cl, &m, NULL);
			p9_cl_clunk(cl, fid);
			trename = 1;
		} else {
			struct p9_stat s;

			p9_stat_null(&s);
			s.name = (char *)newname;
			rc = parent == newparent ? p9_cl_wstat(cl, fid, &s)
			                         : -EXDEV;
			p9_cl_clunk(cl, fid);
		}
	}
	if (rc == 0)
		renamed(fs, newparent, newname, !fs->dotl || trename);
	reply_err(req, rc);
}

/* ---- files ---- */

static uint8_t
omode(int flags)
{
	uint8_t m = (flags & O_ACCMODE) == O_WRONLY  ? P9_OWRITE
	            : (flags & O_ACCMODE) == O_RDWR ? P9_ORDWR
	                                            : P9_OREAD;

	return m | (flags & O_TRUNC ? P9_OTRUNC : 0);
}

static uint32_t
lflags(int flags)
{
	/* Linux's open flags are 9P2000.L's on x86 and arm; creation is
	 * lcreate's business */
	return (uint32_t)flags & ~(uint32_t)(O_CREAT | O_EXCL | O_NOCTTY);
}

/* Sets the file's caching from what the server says of it now. */
static void
cache_mode(struct fs *fs, struct node *n, const struct stat *st,
    const struct p9_qid *q, struct fuse_file_info *fi)
{
	if (S_ISREG(st->st_mode) && st->st_size == 0 && q->version == 0) {
		/* synthetic: no size, no version; a stream */
		fi->direct_io = 1;
		return;
	}
	pthread_mutex_lock(&fs->lock);
	fi->keep_cache = n->mtime_sec == (uint64_t)st->st_mtim.tv_sec &&
	                 n->mtime_nsec == (uint64_t)st->st_mtim.tv_nsec &&
	                 n->size == (uint64_t)st->st_size;
	n->mtime_sec = (uint64_t)st->st_mtim.tv_sec;
	n->mtime_nsec = (uint64_t)st->st_mtim.tv_nsec;
	n->size = (uint64_t)st->st_size;
	if (S_ISREG(st->st_mode))
		clock_gettime(CLOCK_MONOTONIC, &n->checked);
	pthread_mutex_unlock(&fs->lock);
}

/* A new fid for ino, opened with flags. */
static int
open_fid(struct fs *fs, fuse_ino_t ino, int flags, struct p9_cl **cl,
    uint32_t *out, struct p9_qid *q)
{
	uint32_t fid;
	int rc;

	if ((rc = clone_fid(fs, ino, cl, &fid)) < 0)
		return rc;
	rc = fs->dotl ? p9_cl_lopen(*cl, fid, lflags(flags), q, NULL)
	              : p9_cl_open(*cl, fid, omode(flags), q, NULL);
	if (rc < 0) {
		p9_cl_clunk(*cl, fid);
		return rc;
	}
	*out = fid;
	return 0;
}

static struct ofile *
ofile_new(struct fs *fs, fuse_ino_t ino, struct p9_cl *cl, uint32_t fid,
    int flags, int stream)
{
	struct ofile *of = calloc(1, sizeof *of);

	if (!of)
		return NULL;
	of->cl = cl;
	of->fid = fid;
	of->flags = flags & ~(O_TRUNC | O_CREAT | O_EXCL);
	of->stream = stream;
	of->node = node_of(fs, ino);
	pthread_mutex_lock(&fs->lock);
	of->node->nlookup++; /* it names the file while open */
	pthread_mutex_unlock(&fs->lock);
	return of;
}

static void
ofile_free(struct fs *fs, struct ofile *of)
{
	if (of->cl) /* (an open that never needed the server has none) */
		p9_cl_clunk(of->cl, of->fid);
	node_forget(fs, of->node, 1);
	free(of);
}

static struct ofile *
ofile_of(struct fuse_file_info *fi)
{
	return (struct ofile *)(uintptr_t)fi->fh;
}

/* The connection and fid of an open file: opened again, as it was, on a
 * new connection. */
static int
ofid(struct fs *fs, struct ofile *of, struct p9_cl **cl, uint32_t *fid)
{
	struct p9_cl *now = cur(fs);
	struct p9_qid q;
	int rc = 0;

	pthread_mutex_lock(&fs->walking);
	if (of->cl != now) {
		uint32_t nf;

		pthread_mutex_unlock(&fs->walking);
		rc = open_fid(fs, ino_of(fs, of->node), of->flags, &now, &nf,
		    &q);
		pthread_mutex_lock(&fs->walking);
		if (rc == 0) {
			if (of->cl != now) {
				of->cl = now;
				of->fid = nf;
			} else {
				p9_cl_clunk(now, nf);
			}
		}
	}
	*cl = of->cl;
	*fid = of->fid;
	pthread_mutex_unlock(&fs->walking);
	return rc;
}

static void
reply_opened(fuse_req_t req, struct fs *fs, fuse_ino_t ino,
    struct fuse_file_info *fi, struct p9_cl *cl, uint32_t fid, int create,
    struct fuse_entry_param *e)
{
	struct ofile *of = ofile_new(fs, ino, cl, fid, fi->flags, fi->direct_io);

	if (!of) {
		if (cl)
			p9_cl_clunk(cl, fid);
		if (create)
			node_forget(fs, node_of(fs, ino), 1);
		reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)of;
	if ((create ? fuse_reply_create(req, e, fi) : fuse_reply_open(req, fi)) !=
	    0)
		ofile_free(fs, of); /* interrupted */
}

static void
op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct p9_cl *cl;
	struct stat st;
	struct p9_qid q;
	uint32_t fid;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		attr_stale(fs, node_of(fs, ino)); /* it is to change */
	if (fs->revalidate > 0 && (fi->flags & O_ACCMODE) == O_RDONLY &&
	    !(fi->flags & O_TRUNC)) {
		/* checked at an open just before: read as it was then, the
		 * page cache kept; a fid only if a read needs the server */
		struct node *n = node_of(fs, ino);
		struct timespec now;
		double age;

		clock_gettime(CLOCK_MONOTONIC, &now);
		pthread_mutex_lock(&fs->lock);
		age = n->checked.tv_sec
		          ? (double)(now.tv_sec - n->checked.tv_sec) +
		                (double)(now.tv_nsec - n->checked.tv_nsec) / 1e9
		          : 1e9;
		pthread_mutex_unlock(&fs->lock);
		if (age >= 0 && age < kept(fs, n, 0, fs->revalidate)) {
			fi->keep_cache = 1;
			reply_opened(req, fs, ino, fi, NULL, P9_NOFID, 0, NULL);
			return;
		}
	}
	if (fs->dotl && fs->pipeline) {
		/* the clone, the open and the attributes that tell whether
		 * the page cache still holds (close-to-open): one round trip */
		struct p9_fcall t[3], r[3];
		uint8_t *rb[3];
		int rcs[3], i, byname, bound;
		uint32_t nf;
		struct node *n = node_of(fs, ino), *parent;
		char *name;
		struct p9_qid wq = {0};

		/* by its name from its parent, as the kernel found it: if
		 * the name is now another file's (replaced by a rename while
		 * the kernel's entry lasts), ESTALE has the kernel look it up
		 * again and retry (close-to-open, renames included) */
		pthread_mutex_lock(&fs->lock);
		parent = n->parent;
		name = parent && n->name ? strdup(n->name) : NULL;
		pthread_mutex_unlock(&fs->lock);
		if ((rc = nfid(fs, name ? ino_of(fs, parent) : ino, &cl, &nf)) < 0) {
			free(name);
			reply_err(req, rc);
			return;
		}
		fid = p9_cl_fid_new(cl);
		memset(t, 0, sizeof t);
		walk_call(&t[0], nf, fid, name);
		t[1].type = P9_TLOPEN;
		t[1].u.lopen.fid = fid;
		t[1].u.lopen.flags = lflags(fi->flags);
		getattr_call(&t[2], fid);
		p9_cl_rpcv(cl, t, r, rb, rcs, 3);
		byname = name != NULL;
		rcs[0] = walk_result(rcs[0], &r[0], name, &bound);
		free(name);
		if (rcs[0] == 0 && byname)
			wq = r[0].u.rwalk.wqid[0]; /* (what an open answers may
			                            * be another: a clone file) */
		if (rcs[1] == 0)
			q = r[1].u.ropen.qid;
		if (rcs[2] == 0)
			attr_stat(fs, &r[2].u.rgetattr, &st, NULL);
		for (i = 0; i < 3; i++)
			free(rb[i]);
		if (rcs[0] == 0 && byname && wq.path != n->qpath)
			rcs[0] = -ESTALE; /* another file by that name now */
		if (rcs[0] < 0) {
			if (bound)
				p9_cl_clunk(cl, fid);
			else
				p9_cl_fid_free(cl, fid);
			reply_err(req, byname ? -ESTALE : rcs[0]);
			return;
		}
		if (rcs[1] < 0) {
			p9_cl_clunk(cl, fid);
			reply_err(req, rcs[1]);
			return;
		}
		if (rcs[2] == 0)
			cache_mode(fs, node_of(fs, ino), &st, &q, fi);
		else
			fi->direct_io = 1;
		reply_opened(req, fs, ino, fi, cl, fid, 0, NULL);
		return;
	}
	if ((rc = open_fid(fs, ino, fi->flags, &cl, &fid, &q)) < 0) {
		reply_err(req, rc);
		return;
	}
	if (get_stat(fs, cl, fid, &st, NULL) == 0)
		cache_mode(fs, node_of(fs, ino), &st, &q, fi);
	else
		fi->direct_io = 1;
	reply_opened(req, fs, ino, fi, cl, fid, 0, NULL);
}

static void
op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
    struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct p9_cl *cl;
	uint32_t fid;
	int rc;

	if ((rc = clone_fid(fs, parent, &cl, &fid)) < 0) {
		reply_err(req, rc);
		return;
	}
	rc = fs->dotl ? p9_cl_lcreate(cl, fid, name, lflags(fi->flags),
	                    mode & 07777, fuse_req_ctx(req)->gid, NULL)
	              : p9_cl_create(cl, fid, name, mode & 0777,
	                    omode(fi->flags), NULL);
	if (rc == 0)
		rc = lookup_entry(fs, parent, name, &e);
	if (rc < 0) {
		p9_cl_clunk(cl, fid);
		reply_err(req, rc);
		return;
	}
	reply_opened(req, fs, e.ino, fi, cl, fid, 1, &e);
}

static void
op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct ofile *of = ofile_of(fi);
	uint8_t *buf = malloc(size ? size : 1);
	struct p9_cl *cl;
	uint32_t fid;
	size_t got = 0;
	ssize_t n;
	int rc;

	rc = -ENOMEM;
	if (!buf || (rc = ofid(fs, of, &cl, &fid)) < 0) {
		reply_err(req, rc);
		free(buf);
		return;
	}
	/* a stream answers with what it has; a file is read in full, as
	 * the page cache takes a short read for the end */
	do {
		size_t want = size - got;

		if (want > fs->iosize)
			want = fs->iosize;
		n = p9_cl_read(cl, fid, (uint64_t)off + got, buf + got, want);
		if (n > 0)
			got += (size_t)n;
	} while (n > 0 && got < size && !of->stream);
	if (n < 0 && got == 0)
		reply_err(req, (int)n);
	else
		fuse_reply_buf(req, (char *)buf, got);
	free(buf);
}

static void
op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
    off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct p9_cl *cl;
	uint32_t fid;
	size_t done = 0;
	ssize_t n = 0;
	int rc;

	if ((rc = ofid(fs, ofile_of(fi), &cl, &fid)) < 0) {
		reply_err(req, rc);
		return;
	}
	attr_stale(fs, node_of(fs, ino));
	while (done < size) {
		size_t want = size - done;

		if (want > fs->iosize)
			want = fs->iosize;
		n = p9_cl_write(cl, fid, (uint64_t)off + done, buf + done,
		    want);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (done == 0 && size > 0)
		reply_err(req, n < 0 ? (int)n : EIO);
	else
		fuse_reply_write(req, done);
}

static void
op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	ofile_free(fs_of(req), ofile_of(fi));
	fuse_reply_err(req, 0);
}

static void
op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
    struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct p9_fcall t = {.type = P9_TFSYNC};
	struct p9_cl *cl;
	uint32_t fid;
	int rc;

	if (!fs->dotl) {
		fuse_reply_err(req, 0);
		return;
	}
	if ((rc = ofid(fs, ofile_of(fi), &cl, &fid)) == 0) {
		t.u.fsync.fid = fid;
		t.u.fsync.datasync = (uint32_t)datasync;
		rc = rpc(cl, &t, NULL);
	}
	reply_err(req, rc);
}

/* ---- directories ---- */

static void
op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	int flags = O_RDONLY | (fs->dotl ? O_DIRECTORY : 0);
	struct p9_cl *cl;
	struct p9_qid q;
	uint32_t fid;
	int rc;

	if ((rc = open_fid(fs, ino, flags, &cl, &fid, &q)) < 0) {
		reply_err(req, rc);
		return;
	}
	fi->flags = flags;
	fi->direct_io = 0;
	reply_opened(req, fs, ino, fi, cl, fid, 0, NULL);
}

static mode_t
dtype_mode(uint8_t type)
{
	return (mode_t)type << 12;
}

static void
op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	size_t cap = size < fs->iosize ? size : fs->iosize, used = 0;
	uint8_t *in = malloc(cap + 1);
	char *out = malloc(size);
	struct p9_cl *cl;
	uint32_t fid;
	ssize_t n = -ENOMEM, pos = 0;
	int rc = -ENOMEM;

	if (!in || !out || (rc = ofid(fs, ofile_of(fi), &cl, &fid)) < 0) {
		free(in);
		free(out);
		reply_err(req, rc);
		return;
	}
	if (fs->dotl) {
		struct p9_dirent de;
		char name[NAME_MAX + 1];
		struct stat st;

		n = p9_cl_readdir(cl, fid, (uint64_t)off, in, cap);
		while (n > 0 && pos < n) {
			ssize_t k = p9_dirent_unpack(&de, in + pos,
			    (size_t)(n - pos));
			size_t need;

			if (k <= 0 || de.namelen > NAME_MAX)
				break;
			memcpy(name, de.name, de.namelen);
			name[de.namelen] = '\0';
			memset(&st, 0, sizeof st);
			st.st_ino = de.qid.path;
			st.st_mode = dtype_mode(de.type);
			need = fuse_add_direntry(req, out + used, size - used,
			    name, &st, (off_t)de.offset);
			if (need > size - used)
				break; /* the next read starts here */
			used += need;
			pos += k;
		}
	} else {
		/* plain 9P: stat records; the offset is the byte offset in
		 * the directory, which must follow the previous read's end */
		struct p9_stat s;
		struct stat st;

		n = p9_cl_read(cl, fid, (uint64_t)off, in, cap);
		while (n > 0 && pos < n) {
			ssize_t k = p9_stat_unpack(&s, in + pos,
			    (size_t)(n - pos), p9_cl_dialect(cl));
			size_t need;

			if (k <= 0)
				break;
			memset(&st, 0, sizeof st);
			st.st_ino = s.qid.path;
			st.st_mode = mode_of_9p(s.mode);
			need = fuse_add_direntry(req, out + used, size - used,
			    s.name, &st, off + pos + k);
			if (need > size - used)
				break;
			used += need;
			pos += k;
		}
	}
	if (n < 0 && used == 0)
		reply_err(req, (int)n);
	else
		fuse_reply_buf(req, out, used);
	free(in);
	free(out);
}

static void
op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct p9_fcall t = {.type = P9_TSTATFS}, r;
	struct statvfs sv;
	struct p9_cl *cl;
	uint32_t fid;
	int rc;

	memset(&sv, 0, sizeof sv);
	sv.f_namemax = NAME_MAX;
	sv.f_bsize = sv.f_frsize = 4096;
	if (fs->dotl) {
		if ((rc = nfid(fs, ino, &cl, &fid)) == 0) {
			t.u.fid.fid = fid;
			rc = rpc(cl, &t, &r);
		}
		if (rc < 0) {
			reply_err(req, rc);
			return;
		}
		sv.f_bsize = sv.f_frsize = r.u.rstatfs.bsize;
		sv.f_blocks = r.u.rstatfs.blocks;
		sv.f_bfree = r.u.rstatfs.bfree;
		sv.f_bavail = r.u.rstatfs.bavail;
		sv.f_files = r.u.rstatfs.files;
		sv.f_ffree = sv.f_favail = r.u.rstatfs.ffree;
		sv.f_fsid = r.u.rstatfs.fsid;
		sv.f_namemax = r.u.rstatfs.namelen;
	}
	fuse_reply_statfs(req, &sv);
}

/* ---- xattrs (9P2000.L) ---- */

/* Whether n is known to have no security.capability (with set: it is
 * known now, for attr_timeout; with set < 0: not known any more). */
static int
nocaps(struct fs *fs, struct node *n, int set)
{
	struct timespec now;
	int known;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&fs->lock);
	if (set > 0) {
		double until = (double)now.tv_sec + now.tv_nsec / 1e9 +
		               fs->attr_timeout;

		n->nocaps.tv_sec = (time_t)until;
		n->nocaps.tv_nsec = (long)((until - (double)n->nocaps.tv_sec) *
		                           1e9);
	} else if (set < 0) {
		n->nocaps.tv_sec = n->nocaps.tv_nsec = 0;
	}
	known = now.tv_sec < n->nocaps.tv_sec ||
	        (now.tv_sec == n->nocaps.tv_sec &&
	            now.tv_nsec < n->nocaps.tv_nsec);
	pthread_mutex_unlock(&fs->lock);
	return known;
}

/* ---- changes ----
 *
 * With -o changes=SECS and a server that has a feed of changes (unumd:
 * Txattrwalk "unum.changes"; see fsrv.c), a thread reads the feed every
 * second, and at once when a sync asks (getxattr "unum.sync" on the
 * mount: unumd asks before it starts a program on imported files), and
 * drops from the kernel's caches what changed.  Names and attributes in
 * a directory the feed covers are then kept SECS instead of the
 * timeouts, and an open of a file there reads from the page cache
 * without asking: the feed says when either is stale. */

enum { CH_COVERED = 1, CH_UNCOVERED, CH_ENTRY, CH_INODE, CH_ALL, CH_MORE };
#define CH_HDR 19

/* The node of a qid path, or NULL (lock held). */
static struct node *
node_by_q(struct fs *fs, uint64_t q)
{
	struct node *n;

	if (q == fs->root.qpath)
		return &fs->root;
	for (n = fs->table[q % NBUCKETS]; n; n = n->next)
		if (n->qpath == q)
			return n;
	return NULL;
}

struct inval {
	fuse_ino_t ino, parent; /* parent 0: no entry to drop */
	char *name;
};

/* Adds an invalidation: inode ino (0: none), the entry name in parent
 * (0: none). */
static void
inval_push(struct inval **v, size_t *nv, size_t *cap, fuse_ino_t ino,
    fuse_ino_t parent, const char *name)
{
	struct inval *x;

	if (*nv == *cap) {
		size_t c = *cap ? *cap * 2 : 64;

		if (!(x = realloc(*v, c * sizeof *x)))
			return;
		*v = x;
		*cap = c;
	}
	x = &(*v)[*nv];
	x->ino = ino;
	x->name = parent && name ? strdup(name) : NULL;
	x->parent = x->name ? parent : 0;
	if (x->ino || x->parent)
		(*nv)++;
	else
		free(x->name);
}

/* Collects n's invalidation (lock held); its next open asks again. */
static void
inval_add(struct fs *fs, struct node *n, int entry, struct inval **v,
    size_t *nv, size_t *cap)
{
	memset(&n->checked, 0, sizeof n->checked);
	n->st_ok = 0;
	inval_push(v, nv, cap, ino_of(fs, n),
	    entry && n->parent ? ino_of(fs, n->parent) : 0, n->name);
}

/* Tells the kernel (no lock held: it may call us back). */
static void
inval_send(struct fs *fs, struct inval *v, size_t nv)
{
	size_t i;

	for (i = 0; i < nv; i++) {
		if (v[i].parent)
			fuse_lowlevel_notify_inval_entry(fs->se, v[i].parent,
			    v[i].name, strlen(v[i].name));
		if (v[i].ino)
			fuse_lowlevel_notify_inval_inode(fs->se, v[i].ino, 0, 0);
		free(v[i].name);
	}
	free(v);
}

/* Everything known is stale (changes lost); uncover: and no directory is
 * covered any more (a new connection). */
static void
inval_all(struct fs *fs, int uncover)
{
	struct inval *v = NULL;
	size_t nv = 0, cap = 0, i;
	struct node *n;

	pthread_mutex_lock(&fs->lock);
	if (uncover)
		fs->root.covered = 0;
	inval_add(fs, &fs->root, 0, &v, &nv, &cap);
	for (i = 0; i < NBUCKETS; i++)
		for (n = fs->table[i]; n; n = n->next) {
			if (uncover)
				n->covered = 0;
			inval_add(fs, n, 1, &v, &nv, &cap);
		}
	pthread_mutex_unlock(&fs->lock);
	inval_send(fs, v, nv);
}

/* Acts on the records in b; 1 if more wait (CH_MORE). */
static int
feed_apply(struct fs *fs, const uint8_t *b, size_t len)
{
	struct inval *v = NULL;
	size_t nv = 0, cap = 0, at = 0, i;
	int more = 0;

	pthread_mutex_lock(&fs->lock);
	if (len)
		fs->fgen++;
	while (at + CH_HDR <= len) {
		size_t nl = (size_t)b[at + 17] | (size_t)b[at + 18] << 8;
		char name[NAME_MAX + 1];
		struct node *n, *c;
		uint64_t q, q2;
		int kind = b[at];

		if (at + CH_HDR + nl > len || nl > NAME_MAX)
			break; /* not ours to read */
		memcpy(&q, b + at + 1, 8);
		memcpy(&q2, b + at + 9, 8);
		memcpy(name, b + at + CH_HDR, nl);
		name[nl] = '\0';
		at += CH_HDR + nl;
		n = node_by_q(fs, q);
		switch (kind) {
		case CH_COVERED:
			if (n)
				n->covered = 1;
			break;
		case CH_UNCOVERED: /* what it told may be stale */
			if (!n)
				break;
			n->covered = 0; /* asked again */
			for (i = 0; i < NBUCKETS; i++)
				for (c = fs->table[i]; c; c = c->next)
					if (c->parent == n)
						inval_add(fs, c, 1, &v, &nv,
						    &cap);
			break;
		case CH_ENTRY:
			if (n && nl && strlen(name) == nl &&
			    !strchr(name, '/'))
				inval_push(&v, &nv, &cap, 0, ino_of(fs, n), name);
			if (q2 && (c = node_by_q(fs, q2)))
				inval_add(fs, c, 0, &v, &nv, &cap);
			break;
		case CH_INODE:
			if (n)
				inval_add(fs, n, 0, &v, &nv, &cap);
			break;
		case CH_ALL:
			pthread_mutex_unlock(&fs->lock);
			inval_all(fs, 0);
			pthread_mutex_lock(&fs->lock);
			break;
		case CH_MORE:
			more = 1;
			break;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	inval_send(fs, v, nv);
	return more;
}

/* Opens the feed on cl (whose root fid is root): its fid, or P9_NOFID
 * when the server has none. */
static uint32_t
feed_open(struct fs *fs, struct p9_cl *cl, uint32_t root)
{
	struct p9_fcall t = {.type = P9_TXATTRWALK}, r;
	uint32_t fid;

	if (fs->changes <= 0 || !fs->dotl)
		return P9_NOFID;
	fid = p9_cl_fid_new(cl);
	t.u.xattrwalk.fid = root;
	t.u.xattrwalk.newfid = fid;
	t.u.xattrwalk.name = "unum.changes";
	if (rpc(cl, &t, &r) < 0) {
		p9_cl_fid_free(cl, fid);
		return P9_NOFID;
	}
	return fid;
}

/* Reads the feed until it has nothing more. */
static void
feed_poll(struct fs *fs)
{
	struct p9_cl *cl;
	uint32_t fid;
	uint8_t *buf;
	ssize_t n;

	pthread_mutex_lock(&fs->lock);
	cl = fs->feedcl;
	fid = fs->feed;
	pthread_mutex_unlock(&fs->lock);
	if (fid == P9_NOFID || !(buf = malloc(fs->iosize)))
		return;
	do
		n = p9_cl_read(cl, fid, 0, buf, fs->iosize);
	while (n >= 0 && feed_apply(fs, buf, (size_t)n));
	free(buf);
	if (n < 0 && is_broken((int)n)) {
		pthread_mutex_lock(&fs->lock);
		if (fs->feedcl == cl)
			fs->feed = P9_NOFID; /* a new one comes with the
			                      * new connection */
		pthread_mutex_unlock(&fs->lock);
		ferr(fs, (int)n);
	}
}

static void *
feeder(void *arg)
{
	struct fs *fs = arg;
	struct timespec until;
	unsigned long asked;

	for (;;) {
		pthread_mutex_lock(&fs->slock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec++;
		while (fs->want == fs->done &&
		       pthread_cond_timedwait(&fs->ask_cv, &fs->slock,
		           &until) != ETIMEDOUT)
			;
		asked = fs->want;
		pthread_mutex_unlock(&fs->slock);
		feed_poll(fs);
		pthread_mutex_lock(&fs->slock);
		fs->done = asked;
		pthread_cond_broadcast(&fs->done_cv);
		pthread_mutex_unlock(&fs->slock);
	}
	return NULL;
}

/* Returns once what changed at the server before now is dropped from the
 * kernel's caches (5 s at most). */
static void
feed_sync(struct fs *fs)
{
	struct timespec until;
	unsigned long mine;

	if (fs->changes <= 0)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&fs->slock);
	mine = ++fs->want;
	pthread_cond_signal(&fs->ask_cv);
	while (fs->done < mine && pthread_cond_timedwait(&fs->done_cv,
	                              &fs->slock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&fs->slock);
}

static void
op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	int caps = !strcmp(name, "security.capability");
	struct fs *fs = fs_of(req);
	struct p9_fcall t = {.type = P9_TXATTRWALK}, r;
	struct p9_cl *cl;
	uint32_t nf, fid;
	uint8_t *buf;
	ssize_t n;
	int rc;

	if (!strcmp(name, "unum.sync")) { /* no attribute: a sync */
		feed_sync(fs);
		reply_err(req, ENODATA);
		return;
	}
	if (!fs->dotl) {
		reply_err(req, ENOTSUP);
		return;
	}
	if (caps && nocaps(fs, node_of(fs, ino), 0)) {
		reply_err(req, ENODATA);
		return;
	}
	if ((rc = nfid(fs, ino, &cl, &nf)) < 0) {
		reply_err(req, rc);
		return;
	}
	fid = p9_cl_fid_new(cl);
	t.u.xattrwalk.fid = nf;
	t.u.xattrwalk.newfid = fid;
	t.u.xattrwalk.name = (char *)name;
	if ((rc = rpc(cl, &t, &r)) < 0) {
		p9_cl_fid_free(cl, fid);
		if (rc == -ENOENT || rc == -ENODATA) {
			rc = -ENODATA;
			if (caps)
				nocaps(fs, node_of(fs, ino), 1);
		}
		reply_err(req, rc);
		return;
	}
	if (size == 0) {
		p9_cl_clunk(cl, fid);
		fuse_reply_xattr(req, (size_t)r.u.rxattrwalk.size);
		return;
	}
	if (r.u.rxattrwalk.size > size) {
		p9_cl_clunk(cl, fid);
		reply_err(req, ERANGE);
		return;
	}
	if (!(buf = malloc(r.u.rxattrwalk.size + 1))) {
		p9_cl_clunk(cl, fid);
		reply_err(req, ENOMEM);
		return;
	}
	n = p9_cl_read(cl, fid, 0, buf, (size_t)r.u.rxattrwalk.size);
	p9_cl_clunk(cl, fid);
	if (n < 0)
		reply_err(req, (int)n);
	else
		fuse_reply_buf(req, (char *)buf, (size_t)n);
	free(buf);
}

static void
op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	op_getxattr(req, ino, "", size);
}

static void
op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
    const char *value, size_t size, int flags)
{
	struct fs *fs = fs_of(req);
	struct p9_fcall t = {.type = P9_TXATTRCREATE};
	struct p9_cl *cl;
	uint32_t fid;
	int rc;

	if (!fs->dotl) {
		reply_err(req, ENOTSUP);
		return;
	}
	if (!strcmp(name, "security.capability"))
		nocaps(fs, node_of(fs, ino), -1);
	if ((rc = clone_fid(fs, ino, &cl, &fid)) < 0) {
		reply_err(req, rc);
		return;
	}
	t.u.xattrcreate.fid = fid;
	t.u.xattrcreate.name = (char *)name;
	t.u.xattrcreate.attr_size = size;
	t.u.xattrcreate.flags = (uint32_t)flags;
	if ((rc = rpc(cl, &t, NULL)) == 0 && size > 0) {
		ssize_t n = p9_cl_write(cl, fid, 0, value, size);

		rc = n < 0 ? (int)n : 0;
	}
	/* the clunk sets it */
	if (rc == 0)
		rc = p9_cl_clunk(cl, fid);
	else
		p9_cl_clunk(cl, fid);
	reply_err(req, rc);
}

static void
op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	/* a zero-sized xattrcreate removes the attribute (as v9fs does) */
	op_setxattr(req, ino, name, NULL, 0, XATTR_REPLACE);
}

/* ---- locks (9P2000.L) ---- */

static void
flock_of(struct p9_flock *l, const struct flock *lock, uint64_t owner)
{
	static char client[] = "unum";

	l->type = lock->l_type == F_RDLCK   ? P9_LOCK_TYPE_RDLCK
	          : lock->l_type == F_WRLCK ? P9_LOCK_TYPE_WRLCK
	                                    : P9_LOCK_TYPE_UNLCK;
	l->start = (uint64_t)lock->l_start;
	l->length = (uint64_t)lock->l_len;
	l->proc_id = (uint32_t)owner;
	l->client_id = client;
}

static void
op_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
    struct flock *lock)
{
	struct fs *fs = fs_of(req);
	struct p9_fcall t = {.type = P9_TGETLOCK}, r;
	struct p9_cl *cl;
	uint32_t fid;
	int rc;

	if (!fs->dotl) {
		reply_err(req, ENOSYS);
		return;
	}
	if ((rc = ofid(fs, ofile_of(fi), &cl, &fid)) == 0) {
		t.u.lock.fid = fid;
		flock_of(&t.u.lock.lock, lock, fi->lock_owner);
		rc = rpc(cl, &t, &r);
	}
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	lock->l_type = r.u.rgetlock.type == P9_LOCK_TYPE_RDLCK   ? F_RDLCK
	               : r.u.rgetlock.type == P9_LOCK_TYPE_WRLCK ? F_WRLCK
	                                                         : F_UNLCK;
	lock->l_start = (off_t)r.u.rgetlock.start;
	lock->l_len = (off_t)r.u.rgetlock.length;
	lock->l_pid = (pid_t)r.u.rgetlock.proc_id;
	fuse_reply_lock(req, lock);
}

static void
op_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
    struct flock *lock, int sleep)
{
	struct fs *fs = fs_of(req);
	struct p9_fcall t = {.type = P9_TLOCK}, r;
	struct p9_cl *cl;
	uint32_t fid;
	int rc, i;

	if (!fs->dotl) {
		reply_err(req, ENOSYS);
		return;
	}
	if ((rc = ofid(fs, ofile_of(fi), &cl, &fid)) < 0) {
		reply_err(req, rc);
		return;
	}
	t.u.lock.fid = fid;
	flock_of(&t.u.lock.lock, lock, fi->lock_owner);
	/* a blocking lock is asked for again until it is had (as v9fs):
	 * every 10 ms, for at most 10 minutes, or until interrupted */
	for (i = 0;; i++) {
		if ((rc = rpc(cl, &t, &r)) < 0)
			break;
		if (r.u.rlock.status != P9_LOCK_BLOCKED || !sleep ||
		    i >= 60000 || fuse_req_interrupted(req))
			break;
		usleep(10000);
	}
	if (rc == 0)
		rc = r.u.rlock.status == P9_LOCK_SUCCESS   ? 0
		     : r.u.rlock.status == P9_LOCK_BLOCKED ? EAGAIN
		                                           : ENOLCK;
	reply_err(req, rc);
}

static void
op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;

	conn->max_write = fs->iosize;
	conn->max_read = fs->iosize; /* as the max_read mount option */
	if (conn->max_readahead > fs->iosize)
		conn->max_readahead = fs->iosize;
	if (fs->dotl && (conn->capable & FUSE_CAP_POSIX_LOCKS))
		conn->want |= FUSE_CAP_POSIX_LOCKS;
	conn->want &= ~FUSE_CAP_FLOCK_LOCKS;
}

static const struct fuse_lowlevel_ops ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .readlink = op_readlink,
    .mknod = op_mknod,
    .mkdir = op_mkdir,
    .unlink = op_unlink,
    .rmdir = op_rmdir,
    .symlink = op_symlink,
    .rename = op_rename,
    .link = op_link,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .release = op_release,
    .fsync = op_fsync,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .releasedir = op_release,
    .statfs = op_statfs,
    .setxattr = op_setxattr,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
    .removexattr = op_removexattr,
    .create = op_create,
    .getlk = op_getlk,
    .setlk = op_setlk,
};

/* ---- reconnecting ---- */

/* Connects and attaches; the client, or NULL with err filled in. */
static struct p9_cl *
attach(struct fs *fs, const char *addr, uint32_t *root, struct p9_qid *q,
    char *err, size_t cap)
{
	struct p9_cl *cl;
	char uname[32];
	int e = 0, rc;

	if (!(cl = p9_cl_connect(&fs->rt.a, &fs->copts, &e))) {
		snprintf(err, cap, "cannot reach %s: %s", fs->rt.where,
		    strerror(-e));
		return NULL;
	}
	*root = p9_cl_fid_new(cl);
	snprintf(uname, sizeof uname, "%u", (unsigned)fs->uid);
	if ((rc = p9_cl_attach(cl, *root, uname, (uint32_t)fs->uid,
	         fs->rt.aname, q)) < 0) {
		snprintf(err, cap, "attach '%s' on %s: %s", fs->rt.aname, addr,
		    p9_cl_strerror(rc));
		p9_cl_close(cl);
		return NULL;
	}
	return cl;
}

/* Waits for a broken connection, then connects again every second until
 * the server is back; what was open is opened again when next used. */
static void *
reconnector(void *arg)
{
	struct fs *fs = arg;
	struct p9_cl *cl, **d;
	struct p9_qid q;
	uint32_t root;
	char err[300];

	for (;;) {
		pthread_mutex_lock(&fs->lock);
		while (!fs->broken)
			pthread_cond_wait(&fs->broken_cv, &fs->lock);
		pthread_mutex_unlock(&fs->lock);
		while (!(cl = attach(fs, "the server", &root, &q, err,
		             sizeof err)) ||
		       q.path != fs->root.qpath) {
			if (cl) /* another tree now: not ours */
				p9_cl_close(cl);
			sleep(1);
		}
		pthread_mutex_lock(&fs->lock);
		if ((d = realloc(fs->dead, (fs->ndead + 1) * sizeof *d))) {
			fs->dead = d;
			fs->dead[fs->ndead++] = fs->cl;
		}
		fs->cl = cl;
		fs->root.cl = cl;
		fs->root.fid = root;
		fs->broken = 0;
		pthread_mutex_unlock(&fs->lock);
		if (fs->changes > 0) {
			/* what changed meanwhile is not known: a new feed,
			 * and everything asks again */
			uint32_t feed = feed_open(fs, cl, root);

			inval_all(fs, 1);
			pthread_mutex_lock(&fs->lock);
			fs->feedcl = cl;
			fs->feed = feed;
			pthread_mutex_unlock(&fs->lock);
		}
	}
	return NULL;
}

/* ---- the command ---- */

struct opts {
	char *addr, *aname, *dir;
	const char *version;
	uint32_t msize;
	double attr_timeout, entry_timeout, negative_timeout, revalidate;
	double changes;
	int foreground, debug, reconnect;
	int pipeline; /* -1: by the server */
	long uid; /* attach in this user's name (root only); -1: ours */
	char fuseopts[4096]; /* what FUSE is told */
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: unum mount [-f] [-o OPT[,OPT...]] ADDR[:ANAME] DIR\n"
	    "       unum umount DIR\n"
	    "Mounts a node's 9P tree (default attach name fs: its exported "
	    "files) on DIR.\n"
	    "  ADDR   unix:PATH, /PATH, HOST[:PORT] (default port %d; TLS\n"
	    "         with the cluster key), plain:HOST:PORT (diod)\n"
	    "  -f     stay in the foreground\n"
	    "  -o     msize=N (default 1 MiB + 24), aname=NAME,\n"
	    "         version=9P2000.L|9P2000.u|9P2000, attr_timeout=SECS,\n"
	    "         entry_timeout=SECS (default 1), negative_timeout=SECS\n"
	    "         (a missing name is remembered; default 0), reconnect, debug,\n"
	    "         revalidate=SECS (an open so soon after the last check of\n"
	    "         a file reads it as it was; default 0: every open asks),\n"
	    "         changes=SECS (where unumd's feed of changes covers a\n"
	    "         directory, its names and files are kept so long and\n"
	    "         dropped when the feed says they changed; default 0: off),\n"
	    "         pipeline|nopipeline (a walk and what follows in one\n"
	    "         round trip; default: with unumd over TLS or relayed),\n"
	    "         uid=N (root: the server sees user N, not root);\n"
	    "         FUSE's own:\n"
	    "         allow_other, default_permissions, ro, ...\n",
	    UNUM_PORT);
}

static int
mfail(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "unum: mount: ");
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	return 1;
}

/* Splits ADDR[:ANAME] (see usage).  A socket path or host:port is the
 * address; one more ':' starts the attach name. */
static void
split_target(char *s, char **addr, char **aname)
{
	char *p = s, *c;

	*addr = s;
	if (!strncmp(p, "unix:", 5))
		p += 5;
	else if (!strncmp(p, "plain:", 6))
		p += 6;
	else if (!strncmp(p, "tcp:", 4))
		p += 4;
	if (*p == '/' || *p == '.') {
		if ((c = strchr(p, ':'))) {
			*c = '\0';
			*aname = c + 1;
		}
		return;
	}
	if (*p == '[' && (c = strchr(p, ']')))
		p = c + 1;
	else if ((c = strchr(p, ':')))
		p = c;
	else
		return;
	/* p at ":PORT[:ANAME]" or ":ANAME" */
	if (*p != ':')
		return;
	if (p[1] >= '0' && p[1] <= '9') {
		if ((c = strchr(p + 1, ':'))) {
			*c = '\0';
			*aname = c + 1;
		}
	} else {
		*p = '\0';
		*aname = p + 1;
	}
}

static int
add_fuseopt(struct opts *o, const char *opt)
{
	size_t len = strlen(o->fuseopts);

	if (len + strlen(opt) + 2 >= sizeof o->fuseopts)
		return -1;
	snprintf(o->fuseopts + len, sizeof o->fuseopts - len, "%s%s",
	    len ? "," : "", opt);
	return 0;
}

static int
parse_opts(struct opts *o, char *list)
{
	char *opt, *save = NULL, *end;

	for (opt = strtok_r(list, ",", &save); opt;
	     opt = strtok_r(NULL, ",", &save)) {
		if (!strncmp(opt, "msize=", 6)) {
			unsigned long v = strtoul(opt + 6, &end, 10);

			if (*end || v < 4096 || v > (4u << 20) + 24)
				return mfail("bad %s (4096 .. 4 MiB + 24)%s",
				    opt, "");
			o->msize = (uint32_t)v;
		} else if (!strncmp(opt, "aname=", 6)) {
			o->aname = opt + 6;
		} else if (!strncmp(opt, "version=", 8)) {
			o->version = opt + 8;
			if (p9_dialect_parse(o->version) < 0)
				return mfail("unknown 9P version '%s'%s",
				    o->version, "");
		} else if (!strncmp(opt, "attr_timeout=", 13) ||
		           !strncmp(opt, "entry_timeout=", 14) ||
		           !strncmp(opt, "negative_timeout=", 17) ||
		           !strncmp(opt, "revalidate=", 11) ||
		           !strncmp(opt, "changes=", 8)) {
			char *v = strchr(opt, '=') + 1;
			double d = strtod(v, &end);

			if (*end || end == v || d < 0 || d > 86400)
				return mfail("bad %s%s", opt, "");
			if (opt[0] == 'a')
				o->attr_timeout = d;
			else if (opt[0] == 'n')
				o->negative_timeout = d;
			else if (opt[0] == 'r')
				o->revalidate = d;
			else if (opt[0] == 'c')
				o->changes = d;
			else
				o->entry_timeout = d;
		} else if (!strncmp(opt, "uid=", 4)) {
			unsigned long v = strtoul(opt + 4, &end, 10);

			if (*end || end == opt + 4 || v >= P9_NONUNAME)
				return mfail("bad %s%s", opt, "");
			if (geteuid() != 0)
				return mfail("uid= is root's: the mount acts "
				             "for that user%s%s",
				    "", "");
			o->uid = (long)v;
		} else if (!strcmp(opt, "debug")) {
			o->debug = 1;
		} else if (!strcmp(opt, "reconnect")) {
			o->reconnect = 1;
		} else if (!strcmp(opt, "pipeline") || !strcmp(opt, "nopipeline")) {
			o->pipeline = opt[0] == 'p' ? 1 : 0;
		} else if (add_fuseopt(o, opt) < 0) {
			return mfail("too many options%s%s", "", "");
		}
	}
	return 0;
}

/* The kernel reads ahead 128 KiB on a FUSE mount; a read of one msize at a
 * time keeps the connection busy (1 MiB: 1.7 times the throughput).  The
 * mount's device is found in mountinfo (a stat of DIR would wait for us).
 * Only root may set it; for others it stays as it is. */
static void
set_readahead(const char *real, uint32_t bytes)
{
	char line[8192], mnt[PATH_MAX], dev[32], path[128];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int found = 0;

	if (!f)
		return;
	while (!found && fgets(line, sizeof line, f))
		found = sscanf(line, "%*s %*s %31s %*s %4095s", dev, mnt) == 2 &&
		        strcmp(mnt, real) == 0;
	fclose(f);
	if (!found)
		return;
	snprintf(path, sizeof path, "/sys/class/bdi/%s/read_ahead_kb", dev);
	if ((f = fopen(path, "we"))) {
		fprintf(f, "%u\n", bytes / 1024);
		fclose(f);
	}
}

static struct fs *the_fs;

static void
readahead_once(void)
{
	if (geteuid() == 0)
		set_readahead(the_fs->real, the_fs->iosize);
}

/* Connects, attaches and mounts; the session is returned ready to run. */
static struct fuse_session *
setup(struct opts *o, struct fs *fs, char *err, size_t cap)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se;
	struct p9_qid q;
	char fsname[300], real[PATH_MAX];

	fs->uid = o->uid >= 0 ? (uid_t)o->uid : geteuid();
	if (unum_route(o->addr, o->aname, &fs->rt) < 0) {
		snprintf(err, cap, "bad address '%s'", o->addr);
		return NULL;
	}
	fs->copts.msize = o->msize;
	fs->copts.dialect = (enum p9_dialect)p9_dialect_parse(o->version);
	fs->copts.trace = o->debug;
	fs->copts.tls = fs->rt.tls;
	fs->reconnect = o->reconnect;
	/* unumd (TLS, or relayed by the local one) answers in order */
	fs->pipeline = o->pipeline >= 0 ? o->pipeline
	                                : fs->rt.tls != NULL || fs->rt.relayed;
	pthread_mutex_init(&fs->lock, NULL);
	pthread_mutex_init(&fs->walking, NULL);
	pthread_cond_init(&fs->broken_cv, NULL);
	fs->ra_once = (pthread_once_t)PTHREAD_ONCE_INIT;
	the_fs = fs;
	if (!(fs->cl = attach(fs, o->addr, &fs->root.fid, &q, err, cap)))
		return NULL;
	fs->dotl = p9_cl_dialect(fs->cl) == P9_2000L;
	fs->iosize = p9_cl_msize(fs->cl) - P9_IOHDRSZ;
	p9_malloc_for_messages(p9_cl_msize(fs->cl));
	fs->attr_timeout = o->attr_timeout;
	fs->entry_timeout = o->entry_timeout;
	fs->negative_timeout = o->negative_timeout;
	fs->revalidate = o->revalidate;
	fs->changes = o->changes;
	pthread_mutex_init(&fs->slock, NULL);
	pthread_cond_init(&fs->ask_cv, NULL);
	pthread_cond_init(&fs->done_cv, NULL);
	fs->feedcl = fs->cl;
	fs->feed = feed_open(fs, fs->cl, fs->root.fid);
	fs->root.cl = fs->cl;
	fs->root.qpath = q.path;
	fs->root.nlookup = 1;

	snprintf(fsname, sizeof fsname, "fsname=unum:%s:%s,subtype=unum",
	    o->addr, o->aname);
	add_fuseopt(o, fsname);
	{
		char maxr[64];

		snprintf(maxr, sizeof maxr, "max_read=%u", fs->iosize);
		add_fuseopt(o, maxr);
	}
	if (fuse_opt_add_arg(&args, "unum") < 0 ||
	    fuse_opt_add_arg(&args, "-o") < 0 ||
	    fuse_opt_add_arg(&args, o->fuseopts) < 0 ||
	    (o->debug && fuse_opt_add_arg(&args, "-d") < 0)) {
		snprintf(err, cap, "out of memory");
		return NULL;
	}
	if (!(se = fuse_session_new(&args, &ops, sizeof ops, fs))) {
		snprintf(err, cap, "bad FUSE options '%.200s'", o->fuseopts);
		fuse_opt_free_args(&args);
		return NULL;
	}
	fuse_opt_free_args(&args);
	if (!realpath(o->dir, real)) {
		snprintf(err, cap, "%s: %s", o->dir, strerror(errno));
		fuse_session_destroy(se);
		return NULL;
	}
	if (fuse_session_mount(se, real) != 0) {
		snprintf(err, cap, "cannot mount on %s (see above)", o->dir);
		fuse_session_destroy(se);
		return NULL;
	}
	snprintf(fs->real, sizeof fs->real, "%s", real);
	return se;
}

int
unum_mount(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"foreground", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static struct fs fs;
	struct opts o;
	struct fuse_session *se;
	struct fuse_loop_config *lc;
	char err[512] = "", *target;
	int ch, rc, ready[2] = {-1, -1};

	memset(&o, 0, sizeof o);
	o.version = "9P2000.L";
	o.aname = "fs";
	o.attr_timeout = o.entry_timeout = 1.0;
	o.pipeline = -1;
	o.uid = -1;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+fo:h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			o.foreground = 1;
			break;
		case 'o':
			if (parse_opts(&o, optarg) != 0)
				return 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	target = argv[optind];
	o.dir = argv[optind + 1];
	{
		char *aname = NULL;

		split_target(target, &o.addr, &aname);
		if (aname && *aname)
			o.aname = aname;
	}
	if (!o.foreground) {
		/* the filesystem runs in a child; we wait for its word that
		 * the mount is up (or why not), then go */
		pid_t pid;
		ssize_t n;

		if (pipe2(ready, O_CLOEXEC) < 0 || (pid = fork()) < 0)
			return mfail("%s%s", strerror(errno), "");
		if (pid > 0) {
			close(ready[1]);
			n = read(ready[0], err, sizeof err - 1);
			if (n > 0) {
				err[n] = '\0';
				if (strcmp(err, "ok") == 0)
					return 0;
				return mfail("%s%s", err, "");
			}
			waitpid(pid, &rc, 0);
			return mfail("the filesystem process died%s%s", "", "");
		}
		close(ready[0]);
		setsid();
	}
	if (!(se = setup(&o, &fs, err, sizeof err))) {
		if (ready[1] >= 0) {
			if (write(ready[1], err, strlen(err)) < 0)
				_exit(1);
			_exit(1);
		}
		return mfail("%s%s", err, "");
	}
	fuse_set_signal_handlers(se);
	if (ready[1] >= 0) {
		int fd = open("/dev/null", O_RDWR);

		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			if (!o.debug)
				dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
		if (chdir("/") < 0 || write(ready[1], "ok", 2) < 0) {
			/* the parent is gone: run all the same */
		}
		close(ready[1]);
	}
	if (fs.reconnect) {
		pthread_t t;

		if (pthread_create(&t, NULL, reconnector, &fs) == 0)
			pthread_detach(t);
	}
	fs.se = se;
	if (fs.changes > 0) {
		pthread_t t;

		if (pthread_create(&t, NULL, feeder, &fs) == 0)
			pthread_detach(t);
		else
			fs.changes = 0;
	}
	lc = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(lc, 0);
	fuse_loop_cfg_set_max_threads(lc, 16);
	rc = fuse_session_loop_mt(se, lc);
	fuse_loop_cfg_destroy(lc);
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	return rc == 0 ? 0 : 1;
}

int
unum_umount(int argc, char **argv)
{
	const char *dir;
	pid_t pid;
	int st;

	if (argc != 2 || argv[1][0] == '-') {
		if (argc == 2 && (!strcmp(argv[1], "-h") ||
		                     !strcmp(argv[1], "--help"))) {
			usage(stdout);
			return 0;
		}
		usage(stderr);
		return 2;
	}
	dir = argv[1];
	if (geteuid() == 0) {
		if (umount2(dir, 0) == 0)
			return 0;
		if (errno != EBUSY) {
			fprintf(stderr, "unum: umount %s: %s\n", dir,
			    strerror(errno));
			return 1;
		}
		/* in use: gone from the tree now, the rest when released */
		if (umount2(dir, MNT_DETACH) == 0)
			return 0;
		fprintf(stderr, "unum: umount %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if ((pid = fork()) == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-z", "--", dir,
		    (char *)NULL);
		fprintf(stderr, "unum: umount %s: fusermount3: %s\n", dir,
		    strerror(errno));
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return 1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
