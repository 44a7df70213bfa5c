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

#include "9p/p9.h"
#include "mount.h"

#define DEFAULT_SOCKET "/run/unum/unumd.sock"
#define DEFAULT_PORT 5640
#define NBUCKETS 4096
#define FH_STREAM (1ull << 32) /* in a file handle: direct I/O */

struct node {
	uint64_t qpath;
	uint32_t fid;
	uint64_t nlookup;
	/* at the last open: page cache kept when these have not changed */
	uint64_t mtime_sec, mtime_nsec, size;
	struct node *next; /* in its hash bucket */
};

struct fs {
	struct p9_cl *cl;
	int dotl;         /* 9P2000.L */
	uint32_t iosize;  /* msize - P9_IOHDRSZ */
	double attr_timeout, entry_timeout;
	struct node root;
	pthread_mutex_t lock; /* the table and nlookup counts */
	char real[PATH_MAX];   /* the mount point */
	pthread_once_t ra_once;
	struct node *table[NBUCKETS];
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

/* A broken connection is an I/O error to the kernel. */
static int
ferr(int rc)
{
	rc = rc < 0 ? -rc : rc;
	return rc == ECONNRESET || rc == ENOTCONN || rc == EPIPE ? EIO : rc;
}

static void
reply_err(fuse_req_t req, int rc)
{
	fuse_reply_err(req, ferr(rc));
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
static int
get_stat(struct fs *fs, uint32_t fid, struct stat *st, struct p9_qid *qid)
{
	memset(st, 0, sizeof *st);
	if (fs->dotl) {
		struct p9_attr a;
		int rc = p9_cl_getattr(fs->cl, fid, P9_GETATTR_BASIC, &a);

		if (rc < 0)
			return rc;
		st->st_mode = a.mode;
		st->st_uid = a.uid;
		st->st_gid = a.gid;
		st->st_nlink = a.nlink;
		st->st_rdev = a.rdev;
		st->st_size = (off_t)a.size;
		st->st_blksize = a.blksize;
		st->st_blocks = (blkcnt_t)a.blocks;
		st->st_atim.tv_sec = (time_t)a.atime_sec;
		st->st_atim.tv_nsec = (long)a.atime_nsec;
		st->st_mtim.tv_sec = (time_t)a.mtime_sec;
		st->st_mtim.tv_nsec = (long)a.mtime_nsec;
		st->st_ctim.tv_sec = (time_t)a.ctime_sec;
		st->st_ctim.tv_nsec = (long)a.ctime_nsec;
		st->st_ino = a.qid.path;
		if (qid)
			*qid = a.qid;
	} else {
		struct p9_stat s;
		uint8_t *buf = NULL;
		int rc = p9_cl_stat(fs->cl, fid, &s, &buf);

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

/* The node for a freshly walked fid (taken over, or clunked when the inode
 * is known already), its lookup count one higher. */
static struct node *
node_get(struct fs *fs, uint32_t fid, uint64_t qpath)
{
	struct node **b = &fs->table[qpath % NBUCKETS], *n;

	pthread_mutex_lock(&fs->lock);
	for (n = *b; n; n = n->next)
		if (n->qpath == qpath)
			break;
	if (n) {
		n->nlookup++;
		pthread_mutex_unlock(&fs->lock);
		p9_cl_clunk(fs->cl, fid);
		return n;
	}
	if (!(n = calloc(1, sizeof *n))) {
		pthread_mutex_unlock(&fs->lock);
		p9_cl_clunk(fs->cl, fid);
		return NULL;
	}
	n->qpath = qpath;
	n->fid = fid;
	n->nlookup = 1;
	n->next = *b;
	*b = n;
	pthread_mutex_unlock(&fs->lock);
	return n;
}

static void
node_forget(struct fs *fs, struct node *n, uint64_t count)
{
	struct node **p;
	int gone = 0;

	if (n == &fs->root)
		return;
	pthread_mutex_lock(&fs->lock);
	n->nlookup = count >= n->nlookup ? 0 : n->nlookup - count;
	if (n->nlookup == 0) {
		for (p = &fs->table[n->qpath % NBUCKETS]; *p; p = &(*p)->next)
			if (*p == n) {
				*p = n->next;
				break;
			}
		gone = 1;
	}
	pthread_mutex_unlock(&fs->lock);
	if (gone) {
		p9_cl_clunk(fs->cl, n->fid);
		free(n);
	}
}

/* Walks parent/name and answers with its entry. */
static int
lookup_entry(struct fs *fs, fuse_ino_t parent, const char *name,
    struct fuse_entry_param *e)
{
	struct node *p = node_of(fs, parent), *n;
	uint32_t fid = p9_cl_fid_new(fs->cl);
	struct p9_qid q;
	int rc;

	memset(e, 0, sizeof *e);
	if (strchr(name, '/'))
		return -EINVAL;
	if ((rc = p9_cl_walk(fs->cl, p->fid, fid, name, NULL)) < 0) {
		p9_cl_fid_free(fs->cl, fid);
		return rc;
	}
	if ((rc = get_stat(fs, fid, &e->attr, &q)) < 0) {
		p9_cl_clunk(fs->cl, fid);
		return rc;
	}
	if (!(n = node_get(fs, fid, q.path)))
		return -ENOMEM;
	e->ino = ino_of(fs, n);
	e->attr_timeout = fs->attr_timeout;
	e->entry_timeout = fs->entry_timeout;
	return 0;
}

static void
reply_entry(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int rc = lookup_entry(fs_of(req), parent, name, &e);

	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_entry(req, &e);
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

static void
op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct stat st;
	int rc = get_stat(fs, node_of(fs, ino)->fid, &st, NULL);

	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, fs->attr_timeout);
}

static void
op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
    struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	uint32_t fid = node_of(fs, ino)->fid;
	struct stat st;
	int rc;

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
		rc = p9_cl_setattr(fs->cl, fid, &a);
	} else {
		struct p9_stat s;
		struct stat cur;

		p9_stat_null(&s);
		if ((to_set & FUSE_SET_ATTR_MODE) &&
		    get_stat(fs, fid, &cur, NULL) == 0)
			/* wstat's mode carries the type bit too */
			s.mode = (attr->st_mode & 0777) |
			         (S_ISDIR(cur.st_mode) ? P9_DMDIR : 0);
		if (to_set & FUSE_SET_ATTR_SIZE)
			s.length = (uint64_t)attr->st_size;
		if (to_set & FUSE_SET_ATTR_MTIME)
			s.mtime = (uint32_t)attr->st_mtim.tv_sec;
		rc = to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)
		         ? -EPERM
		         : p9_cl_wstat(fs->cl, fid, &s);
	}
	if (rc == 0)
		rc = get_stat(fs, fid, &st, NULL);
	if (rc < 0)
		reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, fs->attr_timeout);
}

/* ---- names ---- */

static int
rpc(struct fs *fs, struct p9_fcall *t, struct p9_fcall *r)
{
	uint8_t *buf = NULL;
	struct p9_fcall dummy;
	int rc = p9_cl_rpc(fs->cl, t, r ? r : &dummy, &buf);

	free(buf); /* callers use no strings of the reply */
	return rc;
}

static void
op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fs *fs = fs_of(req);
	struct p9_fcall t = {.type = P9_TMKDIR};
	int rc;

	if (!fs->dotl) {
		uint32_t fid = p9_cl_fid_new(fs->cl);

		rc = p9_cl_walk(fs->cl, node_of(fs, parent)->fid, fid, "", NULL);
		if (rc < 0) {
			p9_cl_fid_free(fs->cl, fid);
		} else {
			rc = p9_cl_create(fs->cl, fid, name,
			    P9_DMDIR | (mode & 0777), P9_OREAD, NULL);
			p9_cl_clunk(fs->cl, fid);
		}
	} else {
		t.u.mkdir.dfid = node_of(fs, parent)->fid;
		t.u.mkdir.name = (char *)name;
		t.u.mkdir.mode = mode & 07777;
		t.u.mkdir.gid = fuse_req_ctx(req)->gid;
		rc = rpc(fs, &t, NULL);
	}
	if (rc < 0)
		reply_err(req, rc);
	else
		reply_entry(req, parent, name);
}

static void
op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
    dev_t rdev)
{
	struct fs *fs = fs_of(req);
	struct p9_fcall t = {.type = P9_TMKNOD};
	int rc;

	if (!fs->dotl) {
		reply_err(req, ENOSYS);
		return;
	}
	t.u.mknod.dfid = node_of(fs, parent)->fid;
	t.u.mknod.name = (char *)name;
	t.u.mknod.mode = mode;
	t.u.mknod.major = major(rdev);
	t.u.mknod.minor = minor(rdev);
	t.u.mknod.gid = fuse_req_ctx(req)->gid;
	if ((rc = rpc(fs, &t, NULL)) < 0)
		reply_err(req, rc);
	else
		reply_entry(req, parent, name);
}

static void
op_symlink(
    fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct p9_fcall t = {.type = P9_TSYMLINK};
	int rc;

	if (!fs->dotl) {
		reply_err(req, ENOSYS);
		return;
	}
	t.u.symlink.fid = node_of(fs, parent)->fid;
	t.u.symlink.name = (char *)name;
	t.u.symlink.symtgt = (char *)target;
	t.u.symlink.gid = fuse_req_ctx(req)->gid;
	if ((rc = rpc(fs, &t, NULL)) < 0)
		reply_err(req, rc);
	else
		reply_entry(req, parent, name);
}

static void
op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct p9_fcall t = {.type = P9_TLINK};
	int rc;

	if (!fs->dotl) {
		reply_err(req, ENOSYS);
		return;
	}
	t.u.link.dfid = node_of(fs, parent)->fid;
	t.u.link.fid = node_of(fs, ino)->fid;
	t.u.link.name = (char *)name;
	if ((rc = rpc(fs, &t, NULL)) < 0)
		reply_err(req, rc);
	else
		reply_entry(req, parent, name);
}

static void
op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct p9_fcall t = {.type = P9_TREADLINK}, r;
	uint8_t *buf = NULL;
	int rc;

	if (!fs->dotl) {
		reply_err(req, EINVAL);
		return;
	}
	t.u.fid.fid = node_of(fs, ino)->fid;
	if ((rc = p9_cl_rpc(fs->cl, &t, &r, &buf)) < 0)
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
	int rc;

	rc = -EOPNOTSUPP;
	if (fs->dotl) {
		t.u.unlinkat.dfid = node_of(fs, parent)->fid;
		t.u.unlinkat.name = (char *)name;
		t.u.unlinkat.flags = dir ? P9_AT_REMOVEDIR : 0;
		rc = rpc(fs, &t, NULL);
	}
	if (rc == -EOPNOTSUPP) {
		/* plain 9P, or a server without Tunlinkat (diod): Tremove */
		uint32_t fid = p9_cl_fid_new(fs->cl);

		if ((rc = p9_cl_walk(fs->cl, node_of(fs, parent)->fid, fid,
		         name, NULL)) < 0)
			p9_cl_fid_free(fs->cl, fid);
		else
			rc = p9_cl_remove(fs->cl, fid);
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

static void
op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
    fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct fs *fs = fs_of(req);
	struct p9_fcall t = {.type = P9_TRENAMEAT};
	int rc;

	if (flags) { /* RENAME_NOREPLACE, RENAME_EXCHANGE: not in 9P */
		reply_err(req, EINVAL);
		return;
	}
	if (!fs->dotl) {
		/* Plan 9 renames within a directory, by wstat */
		struct p9_stat s;
		uint32_t fid;

		if (parent != newparent) {
			reply_err(req, EXDEV);
			return;
		}
		fid = p9_cl_fid_new(fs->cl);
		if ((rc = p9_cl_walk(fs->cl, node_of(fs, parent)->fid, fid,
		         name, NULL)) < 0) {
			p9_cl_fid_free(fs->cl, fid);
		} else {
			p9_stat_null(&s);
			s.name = (char *)newname;
			rc = p9_cl_wstat(fs->cl, fid, &s);
			p9_cl_clunk(fs->cl, fid);
		}
		reply_err(req, rc);
		return;
	}
	t.u.renameat.olddirfid = node_of(fs, parent)->fid;
	t.u.renameat.oldname = (char *)name;
	t.u.renameat.newdirfid = node_of(fs, newparent)->fid;
	t.u.renameat.newname = (char *)newname;
	if ((rc = rpc(fs, &t, NULL)) == -EOPNOTSUPP) {
		/* a server without Trenameat: Trename of a walked fid */
		uint32_t fid = p9_cl_fid_new(fs->cl);

		if ((rc = p9_cl_walk(fs->cl, node_of(fs, parent)->fid, fid,
		         name, NULL)) < 0) {
			p9_cl_fid_free(fs->cl, fid);
		} else {
			struct p9_fcall m = {.type = P9_TRENAME};

			m.u.rename.fid = fid;
			m.u.rename.dfid = node_of(fs, newparent)->fid;
			m.u.rename.name = (char *)newname;
			rc = rpc(fs, &m, NULL);
			p9_cl_clunk(fs->cl, fid);
		}
	}
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
		fi->nonseekable = 0;
		return;
	}
	pthread_mutex_lock(&fs->lock);
	fi->keep_cache = n->mtime_sec == (uint64_t)st->st_mtim.tv_sec &&
	                 n->mtime_nsec == (uint64_t)st->st_mtim.tv_nsec &&
	                 n->size == (uint64_t)st->st_size;
	n->mtime_sec = (uint64_t)st->st_mtim.tv_sec;
	n->mtime_nsec = (uint64_t)st->st_mtim.tv_nsec;
	n->size = (uint64_t)st->st_size;
	pthread_mutex_unlock(&fs->lock);
}

/* A new fid for ino, opened with flags. */
static int
open_fid(struct fs *fs, fuse_ino_t ino, int flags, uint32_t *out,
    struct p9_qid *q)
{
	uint32_t fid = p9_cl_fid_new(fs->cl);
	int rc;

	if ((rc = p9_cl_walk(fs->cl, node_of(fs, ino)->fid, fid, "", NULL)) <
	    0) {
		p9_cl_fid_free(fs->cl, fid);
		return rc;
	}
	rc = fs->dotl ? p9_cl_lopen(fs->cl, fid, lflags(flags), q, NULL)
	              : p9_cl_open(fs->cl, fid, omode(flags), q, NULL);
	if (rc < 0) {
		p9_cl_clunk(fs->cl, fid);
		return rc;
	}
	*out = fid;
	return 0;
}

static void
op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct stat st;
	struct p9_qid q;
	uint32_t fid;
	int rc;

	if ((rc = open_fid(fs, ino, fi->flags, &fid, &q)) < 0) {
		reply_err(req, rc);
		return;
	}
	if (get_stat(fs, fid, &st, NULL) == 0)
		cache_mode(fs, node_of(fs, ino), &st, &q, fi);
	else
		fi->direct_io = 1;
	/* read is not told the open's direct_io: the handle carries it */
	fi->fh = fid | (fi->direct_io ? FH_STREAM : 0);
	if (fuse_reply_open(req, fi) != 0) /* interrupted */
		p9_cl_clunk(fs->cl, fid);
}

static void
op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
    struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e;
	uint32_t fid = p9_cl_fid_new(fs->cl);
	int rc;

	if ((rc = p9_cl_walk(fs->cl, node_of(fs, parent)->fid, fid, "",
	         NULL)) < 0) {
		p9_cl_fid_free(fs->cl, fid);
		reply_err(req, rc);
		return;
	}
	rc = fs->dotl ? p9_cl_lcreate(fs->cl, fid, name, lflags(fi->flags),
	                    mode & 07777, fuse_req_ctx(req)->gid, NULL)
	              : p9_cl_create(fs->cl, fid, name, mode & 0777,
	                    omode(fi->flags), NULL);
	if (rc == 0)
		rc = lookup_entry(fs, parent, name, &e);
	if (rc < 0) {
		p9_cl_clunk(fs->cl, fid);
		reply_err(req, rc);
		return;
	}
	fi->fh = fid;
	if (fuse_reply_create(req, &e, fi) != 0)
		p9_cl_clunk(fs->cl, fid);
}

static void
op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	uint8_t *buf = malloc(size ? size : 1);
	size_t got = 0;
	ssize_t n;

	if (!buf) {
		reply_err(req, ENOMEM);
		return;
	}
	/* a stream answers with what it has; a file is read in full, as
	 * the page cache takes a short read for the end */
	do {
		size_t want = size - got;

		if (want > fs->iosize)
			want = fs->iosize;
		n = p9_cl_read(fs->cl, (uint32_t)fi->fh,
		    (uint64_t)off + got, buf + got, want);
		if (n > 0)
			got += (size_t)n;
	} while (n > 0 && got < size && !(fi->fh & FH_STREAM));
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
	size_t done = 0;
	ssize_t n = 0;

	while (done < size) {
		size_t want = size - done;

		if (want > fs->iosize)
			want = fs->iosize;
		n = p9_cl_write(fs->cl, (uint32_t)fi->fh,
		    (uint64_t)off + done, buf + done, want);
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
	p9_cl_clunk(fs_of(req)->cl, (uint32_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void
op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
    struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct p9_fcall t = {.type = P9_TFSYNC};

	if (!fs->dotl) {
		fuse_reply_err(req, 0);
		return;
	}
	t.u.fsync.fid = (uint32_t)fi->fh;
	t.u.fsync.datasync = (uint32_t)datasync;
	reply_err(req, rpc(fs, &t, NULL));
}

/* ---- directories ---- */

static void
op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct p9_qid q;
	uint32_t fid;
	int rc;

	if ((rc = open_fid(fs, ino, O_RDONLY | (fs->dotl ? O_DIRECTORY : 0),
	         &fid, &q)) < 0) {
		reply_err(req, rc);
		return;
	}
	fi->fh = fid;
	if (fuse_reply_open(req, fi) != 0)
		p9_cl_clunk(fs->cl, fid);
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
	ssize_t n, pos = 0;

	if (!in || !out) {
		free(in);
		free(out);
		reply_err(req, ENOMEM);
		return;
	}
	if (fs->dotl) {
		struct p9_dirent de;
		char name[NAME_MAX + 1];
		struct stat st;

		n = p9_cl_readdir(fs->cl, (uint32_t)fi->fh, (uint64_t)off, in,
		    cap);
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

		n = p9_cl_read(fs->cl, (uint32_t)fi->fh, (uint64_t)off, in,
		    cap);
		while (n > 0 && pos < n) {
			uint8_t save = in[n];
			ssize_t k = p9_stat_unpack(&s, in + pos,
			    (size_t)(n - pos),
			    p9_cl_dialect(fs->cl));
			size_t need;

			in[n] = save;
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
	int rc;

	memset(&sv, 0, sizeof sv);
	sv.f_namemax = NAME_MAX;
	sv.f_bsize = sv.f_frsize = 4096;
	if (fs->dotl) {
		t.u.fid.fid = node_of(fs, ino)->fid;
		if ((rc = rpc(fs, &t, &r)) < 0) {
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

static void
op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct fs *fs = fs_of(req);
	struct p9_fcall t = {.type = P9_TXATTRWALK}, r;
	uint32_t fid;
	uint8_t *buf;
	ssize_t n;
	int rc;

	if (!fs->dotl) {
		reply_err(req, ENOTSUP);
		return;
	}
	fid = p9_cl_fid_new(fs->cl);
	t.u.xattrwalk.fid = node_of(fs, ino)->fid;
	t.u.xattrwalk.newfid = fid;
	t.u.xattrwalk.name = (char *)name;
	if ((rc = rpc(fs, &t, &r)) < 0) {
		p9_cl_fid_free(fs->cl, fid);
		reply_err(req, rc == -ENOENT ? ENODATA : rc);
		return;
	}
	if (size == 0) {
		p9_cl_clunk(fs->cl, fid);
		fuse_reply_xattr(req, (size_t)r.u.rxattrwalk.size);
		return;
	}
	if (r.u.rxattrwalk.size > size) {
		p9_cl_clunk(fs->cl, fid);
		reply_err(req, ERANGE);
		return;
	}
	if (!(buf = malloc(r.u.rxattrwalk.size + 1))) {
		p9_cl_clunk(fs->cl, fid);
		reply_err(req, ENOMEM);
		return;
	}
	n = p9_cl_read(fs->cl, fid, 0, buf, (size_t)r.u.rxattrwalk.size);
	p9_cl_clunk(fs->cl, fid);
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
	uint32_t fid;
	int rc;

	if (!fs->dotl) {
		reply_err(req, ENOTSUP);
		return;
	}
	fid = p9_cl_fid_new(fs->cl);
	if ((rc = p9_cl_walk(fs->cl, node_of(fs, ino)->fid, fid, "", NULL)) <
	    0) {
		p9_cl_fid_free(fs->cl, fid);
		reply_err(req, rc);
		return;
	}
	t.u.xattrcreate.fid = fid;
	t.u.xattrcreate.name = (char *)name;
	t.u.xattrcreate.attr_size = size;
	t.u.xattrcreate.flags = (uint32_t)flags;
	if ((rc = rpc(fs, &t, NULL)) == 0 && size > 0) {
		ssize_t n = p9_cl_write(fs->cl, fid, 0, value, size);

		rc = n < 0 ? (int)n : 0;
	}
	/* the clunk sets it */
	if (rc == 0)
		rc = p9_cl_clunk(fs->cl, fid);
	else
		p9_cl_clunk(fs->cl, fid);
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
	int rc;

	if (!fs->dotl) {
		reply_err(req, ENOSYS);
		return;
	}
	t.u.lock.fid = (uint32_t)fi->fh;
	flock_of(&t.u.lock.lock, lock, fi->lock_owner);
	if ((rc = rpc(fs, &t, &r)) < 0) {
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
	int rc, i;

	if (!fs->dotl) {
		reply_err(req, ENOSYS);
		return;
	}
	t.u.lock.fid = (uint32_t)fi->fh;
	flock_of(&t.u.lock.lock, lock, fi->lock_owner);
	/* a blocking lock is asked for again until it is had (as v9fs):
	 * every 10 ms, for at most 10 minutes, or until interrupted */
	for (i = 0;; i++) {
		if ((rc = rpc(fs, &t, &r)) < 0)
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

/* ---- the command ---- */

struct opts {
	char *addr, *aname, *dir;
	const char *version;
	uint32_t msize;
	double attr_timeout, entry_timeout;
	int foreground, debug;
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
	    "  ADDR   unix:PATH, /PATH, HOST[:PORT] (default port %d)\n"
	    "  -f     stay in the foreground\n"
	    "  -o     msize=N (default 1 MiB + 24), aname=NAME,\n"
	    "         version=9P2000.L|9P2000.u|9P2000, attr_timeout=SECS,\n"
	    "         entry_timeout=SECS (default 1), debug; FUSE's own:\n"
	    "         allow_other, default_permissions, ro, ...\n",
	    DEFAULT_PORT);
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
		           !strncmp(opt, "entry_timeout=", 14)) {
			char *v = strchr(opt, '=') + 1;
			double d = strtod(v, &end);

			if (*end || end == v || d < 0 || d > 86400)
				return mfail("bad %s%s", opt, "");
			if (opt[0] == 'a')
				o->attr_timeout = d;
			else
				o->entry_timeout = d;
		} else if (!strcmp(opt, "debug")) {
			o->debug = 1;
		} else if (!strcmp(opt, "reconnect")) {
			return mfail("reconnect is not supported yet%s%s",
			    "", "");
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
	struct p9_client_opts co;
	struct p9_addr a;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se;
	struct p9_qid q;
	char uname[32], fsname[300], real[PATH_MAX];
	int e = 0, rc;

	if (p9_addr_parse(&a, o->addr, DEFAULT_PORT) < 0) {
		snprintf(err, cap, "bad address '%s'", o->addr);
		return NULL;
	}
	memset(&co, 0, sizeof co);
	co.msize = o->msize;
	co.dialect = (enum p9_dialect)p9_dialect_parse(o->version);
	co.trace = o->debug;
	if (!(fs->cl = p9_cl_connect(&a, &co, &e))) {
		snprintf(err, cap, "cannot reach %s: %s", o->addr,
		    strerror(-e));
		return NULL;
	}
	fs->dotl = p9_cl_dialect(fs->cl) == P9_2000L;
	fs->iosize = p9_cl_msize(fs->cl) - P9_IOHDRSZ;
	fs->attr_timeout = o->attr_timeout;
	fs->ra_once = (pthread_once_t)PTHREAD_ONCE_INIT;
	the_fs = fs;
	fs->entry_timeout = o->entry_timeout;
	pthread_mutex_init(&fs->lock, NULL);
	fs->root.fid = p9_cl_fid_new(fs->cl);
	snprintf(uname, sizeof uname, "%u", (unsigned)geteuid());
	if ((rc = p9_cl_attach(fs->cl, fs->root.fid, uname,
	         (uint32_t)geteuid(), o->aname, &q)) < 0) {
		snprintf(err, cap, "attach '%s' on %s: %s", o->aname, o->addr,
		    strerror(-rc));
		return NULL;
	}
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
