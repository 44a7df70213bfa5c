/*
 * fsrv.c - the 9P handlers on a real directory tree.
 *
 * A fid holds a node: its path beneath the root and an O_PATH descriptor
 * opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) from the
 * root, so no "..", absolute or escaping symlink ever leads outside.  Every
 * later operation works on that descriptor (or on a single name beneath a
 * directory's descriptor, a name the framework has checked holds no '/'),
 * never on a path a client sends.  Where the kernel has no call taking an
 * O_PATH descriptor (open, chmod, truncate, utimes, xattrs, link) fsrv uses
 * /proc/self/fd/N of its own descriptor: the inode it already reached.
 *
 * Handlers run on the loop thread: they take what the work needs (the
 * node, the open descriptor, the user) and queue it on libuv's worker pool;
 * the worker switches its thread's fsuid, fsgid and groups to the user's
 * and makes the system calls; the after-callback, back on the loop, stores
 * results in the fid and answers.  Workers never touch a fid.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "fsrv.h"

#define XATTR_MAX (64 * 1024)

struct fuser {
	uid_t uid;
	gid_t gid;
	int known; /* in the user database; else its gid came with it */
	int ngroups;
	gid_t *groups;
	struct fuser *next;
};

struct fsrv {
	int rootfd;
	dev_t rootdev;
	int local; /* a local file system: attributes never wait on a peer */
	int cached; /* openat2 knows RESOLVE_CACHED (Linux 5.12) */
	int nowait_write; /* RWF_NOWAIT writes: 1 may work, 0 unsupported */
	struct fsrv_opts o;
	char *root;
	pthread_mutex_t ulock;
	struct fuser *users; /* kept until fsrv_free: workers hold pointers */
	struct fuser self;   /* the daemon itself: the loop's identity */
	/* changes (see "changes" below): under flock */
	pthread_mutex_t flock;
	atomic_int nfeeds; /* read without the lock: 0, no walk is noted */
	struct feed *feeds;
	int ifd;           /* inotify, while there are feeds; else -1 */
	struct watch *watches; /* by watch descriptor */
	size_t nwatches;
};

/* What a fid names: immutable once made, shared by clones. */
struct fnode {
	atomic_int ref;
	char *path; /* beneath the root: "." or "a/b" */
	int pfd;    /* O_PATH | O_NOFOLLOW */
};

struct ffid {
	struct fsrv *fs;
	struct fuser *user;
	struct fnode *node;
	int fd;      /* open file or directory, -1 */
	int regular; /* fd is a regular file: I/O may be tried on the loop */
	int rclose;
	char **names; /* a 9P2000 directory read: entries at open */
	size_t nnames;
	/* xattr fids */
	int xmode; /* 0, XREAD, XWRITE */
	char *xname;
	uint8_t *xbuf;
	size_t xlen;
	uint64_t xsize;
	uint32_t xflags;
	struct feed *feed; /* XFEED */
};

enum { XREAD = 1, XWRITE, XFEED };

struct job {
	uv_work_t w;
	struct p9_req *r;
	struct fsrv *fs;
	struct fuser *user;
	struct fnode *node;  /* r->fid's */
	struct fnode *node2; /* the second fid's, or the parent */
	int fd;
	int (*fn)(struct job *);
	void (*done)(struct job *);
	int err;
	/* results */
	struct fnode *newnode;
	int newfd;
	int regular;
	char **names;
	size_t nnames;
	uint8_t *xbuf;
	size_t xlen;
	/* for stat replies: the strings live here */
	char sname[NAME_MAX + 1], suid[32], sgid[32], sext[PATH_MAX + 1];
};

/* ---- users and credentials ---- */

static struct fuser *
user_load(struct fsrv *fs, uid_t uid, gid_t gid_hint)
{
	struct fuser *u;
	struct passwd pw, *pwp = NULL;
	char buf[4096];
	int n = 64;

	if (gid_hint == (gid_t)-1)
		gid_hint = fs->o.anon_gid;
	/* A user the database knows is found by uid; one it does not is
	 * whatever gid the connection gave (two such are not the same). */
	pthread_mutex_lock(&fs->ulock);
	for (u = fs->users; u; u = u->next)
		if (u->uid == uid && (u->known || u->gid == gid_hint))
			break;
	pthread_mutex_unlock(&fs->ulock);
	if (u)
		return u;
	if (!(u = calloc(1, sizeof *u)))
		return NULL;
	u->uid = uid;
	getpwuid_r(uid, &pw, buf, sizeof buf, &pwp);
	if (pwp) {
		u->known = 1;
		u->gid = pw.pw_gid;
		for (;;) {
			gid_t *g = realloc(u->groups, (size_t)n * sizeof *g);
			int want = n;

			if (!g)
				break;
			u->groups = g;
			if (getgrouplist(pw.pw_name, pw.pw_gid, g, &want) >=
			    0) {
				u->ngroups = want;
				break;
			}
			if (want <= n || want > 65536)
				break;
			n = want;
		}
	} else
		u->gid = gid_hint;
	pthread_mutex_lock(&fs->ulock);
	u->next = fs->users;
	fs->users = u;
	pthread_mutex_unlock(&fs->ulock);
	return u;
}

/* Who this worker thread is now (pointer, uid and gid: a user freed with
 * its fsrv may leave its address to another). */
static __thread const struct fuser *thread_user;
static __thread uid_t thread_uid;
static __thread gid_t thread_gid;

/* Makes this thread act as u for the file system.  0 or -errno. */
static int
become(const struct fuser *u)
{
	static uid_t self = (uid_t)-1;

	if (thread_user == u && thread_uid == u->uid && thread_gid == u->gid)
		return 0;
	if (self == (uid_t)-1)
		self = geteuid();
	if (self != 0) /* a daemon that is not root acts as itself only */
		return u->uid == self ? 0 : -EPERM;
	/* the raw calls: glibc's setgroups would change every thread */
	if (syscall(SYS_setgroups, (size_t)u->ngroups, u->groups) < 0)
		return -errno;
	syscall(SYS_setfsgid, u->gid);
	syscall(SYS_setfsuid, u->uid);
	if ((uid_t)syscall(SYS_setfsuid, (uid_t)-1) != u->uid ||
	    (gid_t)syscall(SYS_setfsgid, (gid_t)-1) != u->gid) {
		thread_user = NULL;
		return -EPERM;
	}
	thread_user = u;
	thread_uid = u->uid;
	thread_gid = u->gid;
	return 0;
}

int
fsrv_lookup_user(const char *s, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *pwp = NULL;
	char buf[4096], *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s && !*end) {
		*uid = (uid_t)v;
		getpwuid_r(*uid, &pw, buf, sizeof buf, &pwp);
		*gid = pwp ? pw.pw_gid : (gid_t)v;
		return 0;
	}
	getpwnam_r(s, &pw, buf, sizeof buf, &pwp);
	if (!pwp)
		return -1;
	*uid = pw.pw_uid;
	*gid = pw.pw_gid;
	return 0;
}

/* ---- nodes and paths ---- */

/* Set while a job runs on the loop (run_on_loop): lookups then take only
 * what the kernel's caches hold, and a job that needs more says so. */
static __thread int on_loop;

static int
open_beneath(struct fsrv *fs, const char *path, int flags)
{
	struct open_how how;
	int fd, tries = 0;

	memset(&how, 0, sizeof how);
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	/* on the loop, EAGAIN is a name not in the dentry cache, a
	 * revalidation or a rename racing: a worker does it */
	if (on_loop)
		how.resolve |= RESOLVE_CACHED;
	do /* EAGAIN: a rename raced the lookup */
		fd = (int)syscall(
		    SYS_openat2, fs->rootfd, path, &how, sizeof how);
	while (fd < 0 && errno == EAGAIN && !on_loop && ++tries < 8);
	return fd < 0 ? -errno : fd;
}

static struct fnode *
node_new(char *path, int pfd)
{
	struct fnode *n = malloc(sizeof *n);

	if (!n) {
		free(path);
		close(pfd);
		return NULL;
	}
	atomic_init(&n->ref, 1);
	n->path = path;
	n->pfd = pfd;
	return n;
}

static struct fnode *
node_ref(struct fnode *n)
{
	if (n)
		atomic_fetch_add(&n->ref, 1);
	return n;
}

static void
node_unref(struct fnode *n)
{
	if (!n || atomic_fetch_sub(&n->ref, 1) > 1)
		return;
	close(n->pfd);
	free(n->path);
	free(n);
}

/* The path of name beneath dir, ".." and "." taken lexically (".." of the
 * root is the root).  NULL on out of memory. */
static char *
path_join(const char *dir, const char *name)
{
	char *p;

	if (!strcmp(name, "."))
		return strdup(dir);
	if (!strcmp(name, "..")) {
		const char *slash = strrchr(dir, '/');

		if (!strcmp(dir, "."))
			return strdup(".");
		return slash ? strndup(dir, (size_t)(slash - dir))
		             : strdup(".");
	}
	if (!strcmp(dir, "."))
		return strdup(name);
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

static const char *
path_base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Whether name in directory dfd is still the file node's descriptor
 * holds: after a rename elsewhere a node's path may name another file.
 * 0, or -ESTALE. */
static int
still_there(int dfd, const char *name, const struct fnode *n)
{
	struct stat a, b;

	if (fstatat(dfd, name, &a, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fstatat(n->pfd, "", &b, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -ESTALE;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino ? 0 : -ESTALE;
}

/* The parent directory of node, opened O_PATH; -errno for the root. */
static int
open_parent(struct fsrv *fs, const struct fnode *n)
{
	char *parent;
	int fd;

	if (!strcmp(n->path, "."))
		return -EBUSY;
	if (!(parent = path_join(n->path, "..")))
		return -ENOMEM;
	fd = open_beneath(fs, parent, O_PATH | O_DIRECTORY);
	free(parent);
	return fd;
}

static void
procpath(char *buf, size_t cap, int fd)
{
	snprintf(buf, cap, "/proc/self/fd/%d", fd);
}

static void
qid_of(struct fsrv *fs, const struct stat *st, struct p9_qid *q)
{
	uint64_t dev =
	    st->st_dev == fs->rootdev
	        ? 0
	        : ((uint64_t)st->st_dev * 0x9E3779B97F4A7C15ull) >> 48;

	q->type = S_ISDIR(st->st_mode)   ? P9_QTDIR
	          : S_ISLNK(st->st_mode) ? P9_QTSYMLINK
	                                 : P9_QTFILE;
	/* st_dev folded in: files of two mounts never share a qid */
	q->path = (st->st_ino & 0xffffffffffffull) | dev << 48;
	q->version = (uint32_t)(st->st_mtim.tv_sec ^ st->st_mtim.tv_nsec ^
	                        ((uint64_t)st->st_size << 8));
}

static int
stat_fd(int fd, struct stat *st)
{
	return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0
	           ? -errno
	           : 0;
}

/* ---- changes ----
 *
 * A client that keeps names and attributes (unum's FUSE import) reads
 * what changed instead of asking again: Txattrwalk of the name
 * "unum.changes" (no real attribute can have it: Linux's have a
 * namespace prefix) gives a fid, a feed, whose reads answer at once with
 * what changed since the last read.  The feed notes every name its
 * connection walks, found or not, and the directory it is in is watched
 * (inotify, as the walking user: only a directory that user may read, on
 * a local file system); a change to a noted name (created, removed,
 * renamed, written, its attributes) or to a watched directory itself is
 * a record.  A read first takes what the kernel has queued, so a read
 * answered after a change was made holds it.  Records:
 *   kind[1] q[8] q2[8] len[2] name[len]
 *   CH_COVERED q        the directory q is watched from now on
 *   CH_UNCOVERED q      it is not any more (removed, or a name could not
 *                       be noted): what is known under it may be stale
 *   CH_ENTRY q q2 name  name in directory q changed; q2 was its file when
 *                       walked (0: it was not there)
 *   CH_INODE q          the watched directory q itself changed
 *   CH_ALL              changes were lost (the kernel's queue overflowed):
 *                       nothing known may be trusted
 *   CH_MORE             the rest did not fit: read again
 * A feed notes at most FEED_NAMES names and keeps FEED_BYTES of records;
 * beyond, a directory is not covered and records give way to CH_ALL.
 */
#define FEED_NAMES (256u * 1024)
#define FEED_BYTES (1u << 20)
#define CH_HDR 19
#define CH_MASK                                                                \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY |     \
	    IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF |       \
	    IN_ONLYDIR)

enum { CH_COVERED = 1, CH_UNCOVERED, CH_ENTRY, CH_INODE, CH_ALL, CH_MORE };

struct watch {
	uint64_t q; /* the directory's qid path */
	int state;  /* 0: free, 1: watched, -1: not trusted (not local) */
};

struct seen { /* a name a feed's connection walked */
	struct seen *next;
	int wd;
	uint64_t q; /* what it was (0: not there) */
	char name[];
};

struct feed {
	struct fsrv *fs;
	struct p9_conn *conn;
	struct seen **tab; /* hashed by wd and name */
	size_t nbuckets, nnames;
	uint8_t *covered; /* by wd: a CH_COVERED was sent */
	size_t ncovered;
	uint8_t *buf; /* records not yet read */
	size_t len, cap, last; /* last: where the last record starts */
	int all;
	struct feed *next;
};

static int is_local(int fd);

static size_t
seen_hash(const struct feed *f, int wd, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)(unsigned)wd;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return (size_t)(h & (f->nbuckets - 1));
}

static struct seen *
seen_find(const struct feed *f, int wd, const char *name)
{
	struct seen *s;

	if (!f->nbuckets)
		return NULL;
	for (s = f->tab[seen_hash(f, wd, name)]; s; s = s->next)
		if (s->wd == wd && !strcmp(s->name, name))
			return s;
	return NULL;
}

/* Appends a record (merged with the last when the same). */
static void
feed_put(struct feed *f, int kind, uint64_t q, uint64_t q2, const char *name)
{
	size_t nl = name ? strlen(name) : 0, need = CH_HDR + nl;
	uint8_t rec[CH_HDR + NAME_MAX + 1], *p = rec;

	if (f->all || nl > NAME_MAX)
		return;
	*p++ = (uint8_t)kind;
	memcpy(p, &q, 8); /* little-endian hosts: the wire's order */
	memcpy(p + 8, &q2, 8);
	p[16] = (uint8_t)nl;
	p[17] = (uint8_t)(nl >> 8);
	if (nl)
		memcpy(p + 18, name, nl);
	if (f->len > f->last && f->len - f->last == need &&
	    !memcmp(f->buf + f->last, rec, need))
		return;
	if (f->len + need > f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 4096;
		uint8_t *b;

		while (cap < f->len + need)
			cap *= 2;
		if (cap > FEED_BYTES || !(b = realloc(f->buf, cap))) {
			f->all = 1; /* what was kept is worth less than ALL */
			f->len = f->last = 0;
			return;
		}
		f->buf = b;
		f->cap = cap;
	}
	f->last = f->len;
	memcpy(f->buf + f->len, rec, need);
	f->len += need;
}

/* Notes name under wd (q: what it is now, 0 not there); -1 if it could
 * not be (the directory is then not covered). */
static int
seen_note(struct feed *f, int wd, const char *name, uint64_t q)
{
	struct seen *s = seen_find(f, wd, name);
	size_t i, h;

	if (s) {
		if (q)
			s->q = q;
		return 0;
	}
	if (f->nnames >= FEED_NAMES)
		return -1;
	if (f->nnames >= f->nbuckets) { /* grow: twice the buckets */
		size_t nb = f->nbuckets ? f->nbuckets * 2 : 1024;
		struct seen **t = calloc(nb, sizeof *t), *n, *next;
		size_t ob = f->nbuckets;

		if (!t)
			return -1;
		f->nbuckets = nb;
		for (i = 0; i < ob; i++)
			for (n = f->tab[i]; n; n = next) {
				next = n->next;
				h = seen_hash(f, n->wd, n->name);
				n->next = t[h];
				t[h] = n;
			}
		free(f->tab);
		f->tab = t;
	}
	if (!(s = malloc(sizeof *s + strlen(name) + 1)))
		return -1;
	s->wd = wd;
	s->q = q;
	strcpy(s->name, name);
	h = seen_hash(f, wd, name);
	s->next = f->tab[h];
	f->tab[h] = s;
	f->nnames++;
	return 0;
}

/* The feed of connection c, or NULL.  Under flock. */
static struct feed *
feed_of(struct fsrv *fs, const struct p9_conn *c)
{
	struct feed *f;

	for (f = fs->feeds; f && f->conn != c; f = f->next)
		;
	return f;
}

/* The watch on the directory dfd for f, announced to it: its descriptor,
 * or -1 when the directory cannot be covered.  Under flock. */
static int
feed_watch(struct feed *f, int dfd)
{
	struct fsrv *fs = f->fs;
	char pp[64];
	struct stat st;
	struct p9_qid q;
	int wd;

	procpath(pp, sizeof pp, dfd);
	/* as the thread's user: only a directory it may read */
	if ((wd = inotify_add_watch(fs->ifd, pp, CH_MASK)) < 0)
		return -1;
	if ((size_t)wd >= fs->nwatches) {
		size_t n = (size_t)wd * 2 + 64;
		struct watch *w = realloc(fs->watches, n * sizeof *w);

		if (!w)
			return -1;
		memset(w + fs->nwatches, 0, (n - fs->nwatches) * sizeof *w);
		fs->watches = w;
		fs->nwatches = n;
	}
	if (fs->watches[wd].state == 0) {
		if (stat_fd(dfd, &st) < 0)
			return -1;
		qid_of(fs, &st, &q);
		fs->watches[wd].q = q.path;
		/* inotify sees what is done through this kernel only */
		fs->watches[wd].state = is_local(dfd) ? 1 : -1;
	}
	if (fs->watches[wd].state < 0)
		return -1;
	if ((size_t)wd >= f->ncovered) {
		size_t n = (size_t)wd * 2 + 64;
		uint8_t *c = realloc(f->covered, n);

		if (!c)
			return -1;
		memset(c + f->ncovered, 0, n - f->ncovered);
		f->covered = c;
		f->ncovered = n;
	}
	if (!f->covered[wd]) {
		if (f->nnames >= FEED_NAMES)
			return -1;
		f->covered[wd] = 1;
		feed_put(f, CH_COVERED, fs->watches[wd].q, 0, NULL);
	}
	return wd;
}

/* A walk on j's connection looks name up in the directory dfd: noted
 * for the connection's feed, if it has one, before the lookup (q 0, wd
 * -1: the directory is watched first), and again with what it found (q,
 * and the wd the first call returned).  The watch's descriptor, or -1. */
static int
note_walk(struct job *j, int dfd, const char *name, uint64_t q, int wd)
{
	struct fsrv *fs = j->fs;
	struct feed *f;

	if (!atomic_load(&fs->nfeeds))
		return -1;
	pthread_mutex_lock(&fs->flock);
	f = feed_of(fs, j->r->conn);
	if (f && wd < 0)
		wd = feed_watch(f, dfd);
	if (f && wd >= 0 && (size_t)wd < f->ncovered && f->covered[wd] &&
	    seen_note(f, wd, name, q) < 0) {
		f->covered[wd] = 0;
		feed_put(f, CH_UNCOVERED, fs->watches[wd].q, 0, NULL);
	}
	pthread_mutex_unlock(&fs->flock);
	return f ? wd : -1;
}

/* One event from the kernel, to every feed it concerns.  Under flock. */
static void
feed_event(struct fsrv *fs, const struct inotify_event *ev)
{
	struct feed *f;
	struct seen *s;
	uint64_t q;

	if (ev->mask & IN_Q_OVERFLOW) {
		for (f = fs->feeds; f; f = f->next) {
			f->all = 1;
			f->len = f->last = 0;
		}
		return;
	}
	if (ev->wd < 0 || (size_t)ev->wd >= fs->nwatches ||
	    fs->watches[ev->wd].state <= 0)
		return;
	q = fs->watches[ev->wd].q;
	for (f = fs->feeds; f; f = f->next) {
		int covered = (size_t)ev->wd < f->ncovered && f->covered[ev->wd];

		if (ev->mask & IN_IGNORED) { /* gone, or unwatched */
			if (covered) {
				f->covered[ev->wd] = 0;
				feed_put(f, CH_UNCOVERED, q, 0, NULL);
			}
		} else if (ev->len && *ev->name) {
			if ((s = seen_find(f, ev->wd, ev->name)))
				feed_put(f, CH_ENTRY, q, s->q, ev->name);
		} else if (covered)
			feed_put(f, CH_INODE, q, 0, NULL);
	}
	if (ev->mask & IN_IGNORED)
		fs->watches[ev->wd].state = 0;
}

/* What the kernel has queued, to the feeds.  Under flock. */
static void
feed_drain(struct fsrv *fs)
{
	char buf[16384]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t n;
	char *p;

	while ((n = read(fs->ifd, buf, sizeof buf)) > 0)
		for (p = buf; p < buf + n; p += sizeof *ev + ev->len) {
			ev = (const struct inotify_event *)(void *)p;
			feed_event(fs, ev);
		}
}

static void
feed_read(struct p9_req *r, struct feed *f)
{
	struct fsrv *fs = f->fs;
	uint32_t cap, out = 0;
	uint8_t *buf = p9_req_data(r, &cap);
	size_t at = 0;

	pthread_mutex_lock(&fs->flock);
	feed_drain(fs);
	if (f->all && cap >= CH_HDR) {
		memset(buf, 0, CH_HDR);
		buf[0] = CH_ALL;
		out = CH_HDR;
		f->all = 0;
	}
	while (at < f->len) {
		size_t rl = CH_HDR + (f->buf[at + 17] | f->buf[at + 18] << 8);

		if (out + rl + CH_HDR > cap) { /* room for CH_MORE kept */
			memset(buf + out, 0, CH_HDR);
			buf[out] = CH_MORE;
			out += CH_HDR;
			break;
		}
		memcpy(buf + out, f->buf + at, rl);
		out += (uint32_t)rl;
		at += rl;
	}
	if (at) /* (no buffer yet: nothing to move) */
		memmove(f->buf, f->buf + at, f->len - at);
	f->len -= at;
	f->last = 0;
	pthread_mutex_unlock(&fs->flock);
	r->out.u.rread.count = out;
	r->out.u.rread.data = buf;
	p9_respond(r);
}

/* A new feed for r's connection: its fid's, or -errno. */
static int
feed_new(struct p9_req *r, struct ffid *nf)
{
	struct fsrv *fs = p9_req_aux(r);
	struct feed *f;
	int rc = 0;

	pthread_mutex_lock(&fs->flock);
	if ((f = feed_of(fs, r->conn)))
		rc = -EBUSY; /* one a connection */
	else if (!(f = calloc(1, sizeof *f)))
		rc = -ENOMEM;
	else if (fs->ifd < 0 &&
	         (fs->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		rc = -errno;
		free(f);
	} else {
		f->fs = fs;
		f->conn = r->conn;
		f->next = fs->feeds;
		fs->feeds = f;
		atomic_fetch_add(&fs->nfeeds, 1);
		nf->xmode = XFEED;
		nf->feed = f;
	}
	pthread_mutex_unlock(&fs->flock);
	return rc;
}

static void
feed_free(struct feed *f)
{
	struct fsrv *fs = f->fs;
	struct feed **pp;
	struct seen *s, *next;
	size_t i;

	pthread_mutex_lock(&fs->flock);
	for (pp = &fs->feeds; *pp && *pp != f; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = f->next;
	atomic_fetch_sub(&fs->nfeeds, 1);
	if (!fs->feeds && fs->ifd >= 0) { /* the last: every watch goes */
		close(fs->ifd);
		fs->ifd = -1;
		free(fs->watches);
		fs->watches = NULL;
		fs->nwatches = 0;
	}
	pthread_mutex_unlock(&fs->flock);
	for (i = 0; i < f->nbuckets; i++)
		for (s = f->tab[i]; s; s = next) {
			next = s->next;
			free(s);
		}
	free(f->tab);
	free(f->covered);
	free(f->buf);
	free(f);
}

/* ---- jobs ---- */

static void
work_cb(uv_work_t *w)
{
	struct job *j = w->data;
	int rc = j->user ? become(j->user) : 0; /* attach: it finds out */

	j->err = rc < 0 ? rc : j->fn(j);
}

static void
ffid_free(struct ffid *f)
{
	size_t i;

	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	node_unref(f->node);
	for (i = 0; i < f->nnames; i++)
		free(f->names[i]);
	free(f->names);
	free(f->xname);
	free(f->xbuf);
	if (f->feed)
		feed_free(f->feed);
	free(f);
}

static struct ffid *
ffid_new(struct fsrv *fs, struct fuser *u, struct fnode *n)
{
	struct ffid *f = calloc(1, sizeof *f);

	if (!f)
		return NULL;
	f->fs = fs;
	f->user = u;
	f->node = n;
	f->fd = -1;
	return f;
}

static void
job_free(struct job *j)
{
	size_t i;

	node_unref(j->node);
	node_unref(j->node2);
	node_unref(j->newnode);
	if (j->newfd >= 0)
		close(j->newfd);
	for (i = 0; i < j->nnames; i++)
		free(j->names[i]);
	free(j->names);
	free(j->xbuf);
	free(j);
}

static void
after_cb(uv_work_t *w, int status)
{
	struct job *j = w->data;
	struct p9_req *r = j->r;

	if (status < 0 && !j->err)
		j->err = -ECANCELED;
	if (!j->err && j->done)
		j->done(j);
	if (j->err)
		p9_respond_error(r, -j->err);
	else
		p9_respond(r);
	job_free(j);
}

static struct job *
job_new(struct p9_req *r, int (*fn)(struct job *), void (*done)(struct job *))
{
	struct job *j = calloc(1, sizeof *j);
	struct ffid *f = r->fid ? r->fid->aux : NULL;

	if (!j)
		return NULL;
	j->r = r;
	j->fs = p9_req_aux(r);
	j->fn = fn;
	j->done = done;
	j->fd = -1;
	j->newfd = -1;
	if (f) {
		j->user = f->user;
		j->node = node_ref(f->node);
		j->fd = f->fd;
	}
	if (r->fid2 && r->fid2->aux)
		j->node2 = node_ref(((struct ffid *)r->fid2->aux)->node);
	j->w.data = j;
	return j;
}

static void
submit(struct job *j)
{
	int rc;

	if (!j) {
		return;
	}
	if ((rc = uv_queue_work(p9_srv_loop(p9_conn_srv(j->r->conn)), &j->w,
	         work_cb, after_cb)) < 0) {
		p9_respond_error(j->r, -rc);
		job_free(j);
	}
}

/* Runs fn in a worker and answers; ENOMEM now if no job can be made. */
static void
run(struct p9_req *r, int (*fn)(struct job *), void (*done)(struct job *))
{
	struct job *j = job_new(r, fn, done);

	if (!j) {
		p9_respond_error(r, ENOMEM);
		return;
	}
	submit(j);
}

/* The same for operations on the fid's open file: EBADF if not open. */
static void
run_open(struct p9_req *r, int (*fn)(struct job *))
{
	struct ffid *f = r->fid->aux;

	if (f->fd < 0)
		p9_respond_error(r, EBADF);
	else
		run(r, fn, NULL);
}

/* A walk or an open on a local file system, done here on the loop, as
 * the fid's user, and answered at once: the kernel's caches answer it in
 * microseconds, where a worker costs two thread switches (most of what a
 * build's stream of lookups and opens cost the daemon). A walk whose names
 * are not all in the dentry cache (it would wait for the disk) goes to a
 * worker after all. */
static void
run_on_loop(
    struct p9_req *r, int (*fn)(struct job *), void (*done)(struct job *))
{
	struct fsrv *fs = p9_req_aux(r);
	struct job *j;
	int rc;

	if (!fs->local || !fs->cached || !r->fid->aux ||
	    !((struct ffid *)r->fid->aux)->user) {
		run(r, fn, done);
		return;
	}
	if (!(j = job_new(r, fn, done))) {
		p9_respond_error(r, ENOMEM);
		return;
	}
	on_loop = 1;
	work_cb(&j->w);
	on_loop = 0;
	if ((rc = become(&fs->self)) < 0) { /* the loop as the daemon */
		p9_log(LOG_ERR, "fsrv: cannot act as uid %u again: %s",
		    (unsigned)fs->self.uid, strerror(-rc));
		abort(); /* never go on as another user */
	}
	if (j->err == -EAGAIN) {
		j->err = 0;
		submit(j);
		return;
	}
	after_cb(&j->w, 0);
}

static int
readonly(struct p9_req *r)
{
	struct fsrv *fs = p9_req_aux(r);

	if (!fs->o.readonly)
		return 0;
	p9_respond_error(r, EROFS);
	return 1;
}

/* ---- attach and walk ---- */

struct attach_job {
	struct job j;
	uid_t uid;
	gid_t gid_hint;
	char *uname; /* root naming a user by name */
};

static int
do_attach(struct job *j)
{
	struct attach_job *a = (struct attach_job *)j;
	struct fsrv *fs = j->fs;
	struct stat st;
	gid_t g;
	int fd, rc;

	if (a->uname) {
		rc = fsrv_lookup_user(a->uname, &a->uid, &g);
		free(a->uname);
		a->uname = NULL;
		if (rc < 0)
			return -EPERM;
	}
	if (!(j->user = user_load(fs, a->uid, a->gid_hint)))
		return -ENOMEM;
	if ((rc = become(j->user)) < 0)
		return rc;
	if ((fd = open_beneath(fs, ".", O_PATH | O_DIRECTORY)) < 0)
		return fd;
	if ((rc = stat_fd(fd, &st)) < 0) {
		close(fd);
		return rc;
	}
	qid_of(fs, &st, &j->r->out.u.rqid.qid);
	if (!(j->newnode = node_new(strdup("."), fd)) || !j->newnode->path)
		return -ENOMEM;
	return 0;
}

static void
attach_done(struct job *j)
{
	struct attach_job *a = (struct attach_job *)j;
	struct ffid *f = ffid_new(j->fs, j->user, j->newnode);

	(void)a;
	if (!f) {
		j->err = -ENOMEM;
		return;
	}
	j->newnode = NULL;
	j->r->fid->aux = f;
}

static void
fs_attach(struct p9_req *r)
{
	struct fsrv *fs = p9_req_aux(r);
	struct attach_job *a = calloc(1, sizeof *a);
	struct p9_ident id;

	if (!a) {
		p9_respond_error(r, ENOMEM);
		return;
	}
	a->gid_hint = (gid_t)-1;
	if (fs->o.squash) {
		a->uid = fs->o.squash_uid;
		a->gid_hint = fs->o.squash_gid;
	} else if (p9_attach_ident(r, fs->o.anon_uid, fs->o.anon_gid, &id) <
	           0) {
		free(a);
		p9_respond_errmsg(r, EPERM, "uid %u may not attach as uid %u",
		    p9_conn_peer(r->conn)->uid, r->in.u.attach.n_uname);
		return;
	} else {
		a->uid = id.uid;
		a->gid_hint = id.gid;
		if (id.name && !(a->uname = strdup(id.name))) {
			free(a);
			p9_respond_error(r, ENOMEM);
			return;
		}
	}
	a->j.r = r;
	a->j.fs = fs;
	a->j.fn = do_attach;
	a->j.done = attach_done;
	a->j.fd = a->j.newfd = -1;
	a->j.w.data = &a->j;
	/* the user is loaded in the worker (name service lookups block) */
	a->j.user = NULL;
	submit(&a->j);
}

static int
do_walk(struct job *j)
{
	struct p9_req *r = j->r;
	struct fsrv *fs = j->fs;
	char *path = strdup(j->node->path);
	int fd = -1, nfd, wd, i, rc = 0;
	struct stat st;

	if (!path)
		return -ENOMEM;
	for (i = 0; i < r->in.u.walk.nwname; i++) {
		const char *name = r->in.u.walk.wname[i];
		char *next = path_join(path, name);
		int dfd = fd >= 0 ? fd : j->node->pfd;

		if (!next) {
			rc = -ENOMEM;
			break;
		}
		free(path);
		path = next;
		/* noted before the lookup: a change after it is a record */
		wd = note_walk(j, dfd, name, 0, -1);
		nfd = open_beneath(fs, path, O_PATH | O_NOFOLLOW);
		if (nfd >= 0 && (rc = stat_fd(nfd, &st)) == 0) {
			qid_of(fs, &st, &r->out.u.rwalk.wqid[i]);
			if (wd >= 0)
				note_walk(j, dfd, name,
				    r->out.u.rwalk.wqid[i].path, wd);
		}
		if (fd >= 0)
			close(fd);
		if ((fd = nfd) < 0) {
			rc = nfd;
			if (rc == -EAGAIN && on_loop) { /* all again, there */
				free(path);
				return -EAGAIN;
			}
			break;
		}
		if (rc < 0)
			break;
	}
	r->out.u.rwalk.nwqid = (uint16_t)i;
	if (i == r->in.u.walk.nwname) {
		if (!(j->newnode = node_new(path, fd)))
			return -ENOMEM;
		return 0;
	}
	if (fd >= 0)
		close(fd);
	free(path);
	/* ENAMETOOLONG, ELOOP, EXDEV (an escape): said only for the first */
	return i == 0 ? rc : 0;
}

static void
walk_done(struct job *j)
{
	struct p9_req *r = j->r;
	struct ffid *f = r->fid->aux, *nf;

	if (!j->newnode)
		return; /* partial: nothing bound */
	if (r->newfid == r->fid) {
		node_unref(f->node);
		f->node = j->newnode;
		j->newnode = NULL;
		return;
	}
	if (!(nf = ffid_new(j->fs, f->user, j->newnode))) {
		j->err = -ENOMEM;
		return;
	}
	j->newnode = NULL;
	r->newfid->aux = nf;
}

static void
fs_walk(struct p9_req *r)
{
	struct ffid *f = r->fid->aux, *nf;

	if (r->in.u.walk.nwname == 0) { /* a clone shares the node */
		if (r->newfid != r->fid) {
			if (!(nf = ffid_new(
			          f->fs, f->user, node_ref(f->node)))) {
				node_unref(f->node);
				p9_respond_error(r, ENOMEM);
				return;
			}
			r->newfid->aux = nf;
		}
		r->out.u.rwalk.nwqid = 0;
		p9_respond(r);
		return;
	}
	run_on_loop(r, do_walk, walk_done);
}

static void
fs_destroy_fid(struct p9_fid *fid)
{
	ffid_free(fid->aux);
	fid->aux = NULL;
}

/* ---- open and create ---- */

static const struct {
	uint32_t p9;
	int o;
} lflags[] = {
    {P9_L_APPEND, O_APPEND},
    {P9_L_NONBLOCK, O_NONBLOCK},
    {P9_L_DSYNC, O_DSYNC},
    {P9_L_DIRECT, O_DIRECT},
    {P9_L_LARGEFILE, O_LARGEFILE},
    {P9_L_DIRECTORY, O_DIRECTORY},
    {P9_L_NOATIME, O_NOATIME},
    {P9_L_SYNC, O_SYNC},
    {P9_L_TRUNC, O_TRUNC},
    {P9_L_EXCL, O_EXCL},
    {P9_L_CREATE, O_CREAT},
};

static int
map_lflags(uint32_t fl)
{
	int o = (int)(fl & P9_L_ACCMODE);
	size_t i;

	for (i = 0; i < sizeof lflags / sizeof lflags[0]; i++)
		if (fl & lflags[i].p9)
			o |= lflags[i].o;
	return o | O_NOCTTY;
}

static int
opened(struct job *j, int fd)
{
	struct stat st;
	int rc;

	if (fd < 0)
		return fd;
	if ((rc = stat_fd(fd, &st)) < 0) {
		close(fd);
		return rc;
	}
	j->newfd = fd;
	j->regular = S_ISREG(st.st_mode);
	qid_of(j->fs, &st, &j->r->out.u.ropen.qid);
	j->r->out.u.ropen.iounit = p9_conn_msize(j->r->conn) - P9_IOHDRSZ;
	return 0;
}

/* Opens what the node names (reached beneath the root already). */
static int
reopen(struct job *j, int flags)
{
	char pp[64];
	int fd;

	procpath(pp, sizeof pp, j->node->pfd);
	fd = open(pp, (flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW)) | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int
list_names(struct job *j, int fd)
{
	DIR *d;
	struct dirent *de;
	int dfd = dup(fd);
	size_t cap = 0;

	if (dfd < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (j->nnames == cap) {
			char **n = realloc(
			    j->names, (cap = cap ? cap * 2 : 64) * sizeof *n);

			if (!n)
				break;
			j->names = n;
		}
		if (!(j->names[j->nnames] = strdup(de->d_name)))
			break;
		j->nnames++;
	}
	closedir(d);
	return 0;
}

static int
do_open(struct job *j)
{
	struct p9_req *r = j->r;
	int flags, rc;

	if (r->in.type == P9_TLOPEN)
		flags = map_lflags(r->in.u.lopen.flags);
	else {
		uint8_t m = r->in.u.open.mode;

		flags = (m & 3) == P9_OEXEC ? O_RDONLY : (m & 3);
		if (m & P9_OTRUNC)
			flags |= O_TRUNC;
	}
	if ((rc = opened(j, reopen(j, flags))) < 0)
		return rc;
	/* a 9P2000 directory read walks the names it had at open */
	if (r->in.type == P9_TOPEN && (r->fid->qid.type & P9_QTDIR))
		return list_names(j, j->newfd);
	return 0;
}

static void
open_done(struct job *j)
{
	struct p9_req *r = j->r;
	struct ffid *f = r->fid->aux;

	f->fd = j->newfd;
	f->regular = j->regular;
	j->newfd = -1;
	f->names = j->names;
	f->nnames = j->nnames;
	j->names = NULL;
	j->nnames = 0;
	if (r->in.type == P9_TOPEN && (r->in.u.open.mode & P9_ORCLOSE))
		f->rclose = 1;
}

static int
wants_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

/* Is the fid a regular file or a directory, whose open for reading
 * waits for nothing (a FIFO's waits for a writer, a device's for its
 * driver)? */
static int
quick_to_open(struct p9_req *r)
{
	struct ffid *f = r->fid->aux;
	struct stat st;

	return f && f->node && stat_fd(f->node->pfd, &st) == 0 &&
	       (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode));
}

static void
fs_open(struct p9_req *r)
{
	int flags = r->in.type == P9_TLOPEN
	                ? map_lflags(r->in.u.lopen.flags)
	                : (r->in.u.open.mode & 3) |
	                      ((r->in.u.open.mode & P9_OTRUNC) ? O_TRUNC : 0);

	if (r->fid->qid.type & P9_QTSYMLINK) {
		p9_respond_error(r, ELOOP);
		return;
	}
	if (r->in.type == P9_TOPEN && (r->in.u.open.mode & 3) == P9_OEXEC)
		flags = O_RDONLY;
	if ((wants_write(flags) ||
	        (r->in.type == P9_TOPEN && (r->in.u.open.mode & P9_ORCLOSE))) &&
	    readonly(r))
		return;
	if (r->in.type == P9_TLOPEN && !wants_write(flags) &&
	    !(flags & O_NONBLOCK) && quick_to_open(r))
		run_on_loop(r, do_open, open_done);
	else
		run(r, do_open, open_done);
}

/* Sets a new entry's group to what the client asked, where it may. */
static void
fix_gid(int dirfd, const char *name, uint32_t gid)
{
	struct stat st;

	if (gid == P9_NONUNAME ||
	    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    st.st_gid == gid)
		return;
	if (fchownat(dirfd, name, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) < 0) {
		/* not a member: the entry keeps the creator's group */
	}
}

/* The node of name just made beneath the job's directory node. */
static int
child_node(struct job *j, const char *name, struct p9_qid *qid)
{
	char *path = path_join(j->node->path, name);
	struct stat st;
	int fd, rc;

	if (!path)
		return -ENOMEM;
	if ((fd = openat(j->node->pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)) <
	    0) {
		free(path);
		return -errno;
	}
	if ((rc = stat_fd(fd, &st)) < 0) {
		close(fd);
		free(path);
		return rc;
	}
	if (qid)
		qid_of(j->fs, &st, qid);
	if (!(j->newnode = node_new(path, fd)))
		return -ENOMEM;
	return 0;
}

static int
do_lcreate(struct job *j)
{
	struct p9_req *r = j->r;
	const char *name = r->in.u.lcreate.name;
	int flags = map_lflags(r->in.u.lcreate.flags) | O_CREAT;
	int fd, rc;

	fd = openat(j->node->pfd, name, flags | O_NOFOLLOW | O_CLOEXEC,
	    r->in.u.lcreate.mode & 07777);
	if (fd < 0)
		return -errno;
	fix_gid(j->node->pfd, name, r->in.u.lcreate.gid);
	if ((rc = opened(j, fd)) < 0)
		return rc;
	return child_node(j, name, NULL);
}

static int
do_create(struct job *j)
{
	struct p9_req *r = j->r;
	const char *name = r->in.u.create.name;
	const char *ext = r->in.u.create.extension;
	uint32_t perm = r->in.u.create.perm;
	uint8_t m = r->in.u.create.mode;
	int dfd = j->node->pfd, fd, rc, flags;

	flags = (m & 3) == P9_OEXEC ? O_RDONLY : (m & 3);
	if (m & P9_OTRUNC)
		flags |= O_TRUNC;
	if (perm & P9_DMDIR) {
		if (mkdirat(dfd, name, perm & 0777) < 0)
			return -errno;
		fd = openat(
		    dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	} else if (perm & (P9_DMSYMLINK | P9_DMNAMEDPIPE | P9_DMDEVICE)) {
		unsigned maj = 0, min = 0;
		char kind = 0;

		if (perm & P9_DMSYMLINK)
			rc = symlinkat(ext ? ext : "", dfd, name);
		else if (perm & P9_DMNAMEDPIPE)
			rc = mknodat(dfd, name, S_IFIFO | (perm & 0777), 0);
		else if (!ext ||
		         sscanf(ext, "%c %u %u", &kind, &maj, &min) != 3 ||
		         (kind != 'c' && kind != 'b'))
			return -EINVAL;
		else
			rc = mknodat(dfd, name,
			    (kind == 'c' ? S_IFCHR : S_IFBLK) | (perm & 0777),
			    makedev(maj, min));
		if (rc < 0)
			return -errno;
		/* such files are not opened: the fid just names them */
		if ((rc = child_node(j, name, &r->out.u.ropen.qid)) < 0)
			return rc;
		r->out.u.ropen.iounit = 0;
		return 0;
	} else
		fd = openat(dfd, name,
		    flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    perm & 0777);
	if (fd < 0)
		return -errno;
	if ((rc = opened(j, fd)) < 0)
		return rc;
	if ((rc = child_node(j, name, NULL)) < 0)
		return rc;
	if (perm & P9_DMDIR)
		return list_names(j, j->newfd);
	return 0;
}

static void
create_done(struct job *j)
{
	struct p9_req *r = j->r;
	struct ffid *f = r->fid->aux;

	node_unref(f->node);
	f->node = j->newnode;
	j->newnode = NULL;
	f->fd = j->newfd;
	f->regular = j->regular;
	j->newfd = -1;
	f->names = j->names;
	f->nnames = j->nnames;
	j->names = NULL;
	j->nnames = 0;
	if (r->in.type == P9_TCREATE && (r->in.u.create.mode & P9_ORCLOSE))
		f->rclose = 1;
}

static void
fs_lcreate(struct p9_req *r)
{
	if (!readonly(r))
		run(r, do_lcreate, create_done);
}

static void
fs_create(struct p9_req *r)
{
	if (!readonly(r))
		run(r, do_create, create_done);
}

/* ---- read, write, directories ---- */

static int
do_read(struct job *j)
{
	struct p9_req *r = j->r;
	uint32_t cap;
	uint8_t *buf = p9_req_data(r, &cap);
	ssize_t n = pread(j->fd, buf, cap, (off_t)r->in.u.read.offset);

	if (n < 0)
		return -errno;
	r->out.u.rread.count = (uint32_t)n;
	r->out.u.rread.data = buf;
	return 0;
}

static void
stat_to_p9(
    struct job *j, const struct stat *st, const char *name, struct p9_stat *out)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	char buf[4096];

	memset(out, 0, sizeof *out);
	qid_of(j->fs, st, &out->qid);
	out->mode = st->st_mode & 0777;
	if (S_ISDIR(st->st_mode))
		out->mode |= P9_DMDIR;
	else if (S_ISLNK(st->st_mode))
		out->mode |= P9_DMSYMLINK;
	else if (S_ISFIFO(st->st_mode))
		out->mode |= P9_DMNAMEDPIPE;
	else if (S_ISSOCK(st->st_mode))
		out->mode |= P9_DMSOCKET;
	else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		out->mode |= P9_DMDEVICE;
	if (st->st_mode & S_ISUID)
		out->mode |= P9_DMSETUID;
	if (st->st_mode & S_ISGID)
		out->mode |= P9_DMSETGID;
	out->atime = (uint32_t)st->st_atime;
	out->mtime = (uint32_t)st->st_mtime;
	out->length = S_ISDIR(st->st_mode) ? 0 : (uint64_t)st->st_size;
	snprintf(j->sname, sizeof j->sname, "%s", name);
	getpwuid_r(st->st_uid, &pw, buf, sizeof buf, &pwp);
	if (pwp)
		snprintf(j->suid, sizeof j->suid, "%s", pw.pw_name);
	else
		snprintf(j->suid, sizeof j->suid, "%u", (unsigned)st->st_uid);
	getgrgid_r(st->st_gid, &gr, buf, sizeof buf, &grp);
	if (grp)
		snprintf(j->sgid, sizeof j->sgid, "%s", gr.gr_name);
	else
		snprintf(j->sgid, sizeof j->sgid, "%u", (unsigned)st->st_gid);
	j->sext[0] = '\0';
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		snprintf(j->sext, sizeof j->sext, "%c %u %u",
		    S_ISCHR(st->st_mode) ? 'c' : 'b', major(st->st_rdev),
		    minor(st->st_rdev));
	out->name = j->sname;
	out->uid = j->suid;
	out->gid = j->sgid;
	out->muid = j->suid;
	out->extension = j->sext;
	out->n_uid = st->st_uid;
	out->n_gid = st->st_gid;
	out->n_muid = st->st_uid;
}

/* A 9P2000 directory read: entry index of the names listed at open. */
static int
dirgen(void *arg, uint64_t index, struct p9_stat *st)
{
	struct job *j = arg;
	struct ffid *f = j->r->fid->aux;
	struct stat sb;

	for (; index < f->nnames; index++) {
		/* an entry gone since open is skipped */
		if (fstatat(j->fd, f->names[index], &sb, AT_SYMLINK_NOFOLLOW) <
		    0)
			continue;
		stat_to_p9(j, &sb, f->names[index], st);
		if (S_ISLNK(sb.st_mode)) {
			ssize_t n = readlinkat(j->fd, f->names[index], j->sext,
			    sizeof j->sext - 1);

			j->sext[n > 0 ? n : 0] = '\0';
		}
		return 0;
	}
	return -1;
}

static int
do_dirread(struct job *j)
{
	int err = p9_dirread(j->r, dirgen, j);

	return -err;
}

static int at_end(int fd, uint64_t off);

/*
 * Tries a read on the loop: from the page cache only (RWF_NOWAIT), which
 * never waits for the disk.  Answers and returns 1 if anything came (a
 * short read is legal; the client asks again for the rest) or at the end
 * of the file; returns 0 to leave it to a worker.  A read of an open file
 * checks no permission, so no credentials are needed.
 */
static int
read_now(struct p9_req *r, int fd)
{
	uint32_t cap;
	uint8_t *buf = p9_req_data(r, &cap);
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	ssize_t n =
	    preadv2(fd, &iov, 1, (off_t)r->in.u.read.offset, RWF_NOWAIT);

	if (n < 0 || (n == 0 && cap > 0 && !at_end(fd, r->in.u.read.offset)))
		return 0;
	r->out.u.rread.count = (uint32_t)n;
	r->out.u.rread.data = buf;
	p9_respond(r);
	return 1;
}

/* Whether off is at or past the end of the regular file fd. */
static int
at_end(int fd, uint64_t off)
{
	struct stat st;

	return fstat(fd, &st) == 0 && off >= (uint64_t)st.st_size;
}

static void
fs_read(struct p9_req *r)
{
	struct ffid *f = r->fid->aux;

	if (f->xmode == XREAD) {
		p9_respond_bytes(r, f->xbuf, f->xlen);
		return;
	}
	if (f->xmode == XFEED) {
		feed_read(r, f->feed);
		return;
	}
	if (f->fd < 0) {
		p9_respond_error(r, EBADF);
		return;
	}
	if (f->regular && read_now(r, f->fd))
		return;
	run(r, (r->fid->qid.type & P9_QTDIR) ? do_dirread : do_read, NULL);
}

static int
do_write(struct job *j)
{
	struct p9_req *r = j->r;
	ssize_t n = pwrite(j->fd, r->in.u.write.data, r->in.u.write.count,
	    (off_t)r->in.u.write.offset);

	if (n < 0)
		return -errno;
	r->out.u.rwrite.count = (uint32_t)n;
	return 0;
}

static void
fs_write(struct p9_req *r)
{
	struct ffid *f = r->fid->aux;

	if (f->xmode == XWRITE) {
		uint64_t off = r->in.u.write.offset;
		uint32_t n = r->in.u.write.count;

		if (off > f->xsize || n > f->xsize - off) { /* no wrap */
			p9_respond_error(r, ENOSPC);
			return;
		}
		if (off + n > f->xlen) {
			memset(f->xbuf + f->xlen, 0, off + n - f->xlen);
			f->xlen = off + n;
		}
		memcpy(f->xbuf + off, r->in.u.write.data, n);
		r->out.u.rwrite.count = n;
		p9_respond(r);
		return;
	}
	if (f->fd < 0) {
		p9_respond_error(r, EBADF);
		return;
	}
	if (f->regular && f->fs->nowait_write) {
		/* into the page cache on the loop if that needs no waiting */
		struct iovec iov = {.iov_base = (void *)r->in.u.write.data,
		    .iov_len = r->in.u.write.count};
		ssize_t n = pwritev2(
		    f->fd, &iov, 1, (off_t)r->in.u.write.offset, RWF_NOWAIT);

		if (n > 0 || (n == 0 && r->in.u.write.count == 0)) {
			r->out.u.rwrite.count = (uint32_t)n;
			p9_respond(r);
			return;
		}
		if (n < 0 && errno == EOPNOTSUPP) /* this file system can't */
			f->fs->nowait_write = 0;
	}
	run(r, do_write, NULL);
}

static int
do_readdir(struct job *j)
{
	struct p9_req *r = j->r;
	uint32_t cap, n = 0;
	uint8_t *out = p9_req_data(r, &cap);
	size_t bufsz = cap < 4096 ? 4096 : cap;
	char *buf = malloc(bufsz);
	struct stat dst;
	ssize_t got, k;
	size_t pos;

	if (!buf)
		return -ENOMEM;
	if (stat_fd(j->fd, &dst) < 0 ||
	    lseek(j->fd, (off_t)r->in.u.read.offset, SEEK_SET) < 0) {
		free(buf);
		return -errno;
	}
	got = syscall(SYS_getdents64, j->fd, buf, bufsz);
	if (got < 0) {
		free(buf);
		return -errno;
	}
	for (pos = 0; pos < (size_t)got;) {
		struct {
			uint64_t d_ino;
			int64_t d_off;
			unsigned short d_reclen;
			unsigned char d_type;
			char d_name[];
		} *d = (void *)(buf + pos);
		struct p9_dirent de;
		struct stat st;

		memset(&st, 0, sizeof st);
		st.st_ino = d->d_ino;
		st.st_dev = dst.st_dev;
		st.st_mode = d->d_type == DT_DIR   ? S_IFDIR
		             : d->d_type == DT_LNK ? S_IFLNK
		                                   : S_IFREG;
		qid_of(j->fs, &st, &de.qid);
		de.qid.version = 0;
		de.offset = (uint64_t)d->d_off;
		de.type = d->d_type;
		de.name = d->d_name;
		de.namelen = (uint16_t)strlen(d->d_name);
		if ((k = p9_dirent_pack(&de, out + n, cap - n)) < 0)
			break; /* the rest next time, from this offset */
		n += (uint32_t)k;
		pos += d->d_reclen;
	}
	free(buf);
	if (n == 0 && got > 0) /* not one entry fits: not the end */
		return -EINVAL;
	r->out.u.rread.count = n;
	r->out.u.rread.data = out;
	return 0;
}

static void
fs_readdir(struct p9_req *r)
{
	run_open(r, do_readdir);
}

/* ---- attributes ---- */

static int
do_getattr(struct job *j)
{
	struct p9_attr *a = &j->r->out.u.rgetattr;
	struct statx sx;
	struct stat st;

	if (statx(j->node->pfd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
	        STATX_BASIC_STATS | STATX_BTIME, &sx) < 0)
		return -errno;
	memset(&st, 0, sizeof st);
	st.st_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	st.st_ino = sx.stx_ino;
	st.st_mode = sx.stx_mode;
	st.st_size = (off_t)sx.stx_size;
	st.st_mtim.tv_sec = sx.stx_mtime.tv_sec;
	st.st_mtim.tv_nsec = sx.stx_mtime.tv_nsec;
	memset(a, 0, sizeof *a);
	qid_of(j->fs, &st, &a->qid);
	a->valid = P9_GETATTR_BASIC;
	a->mode = sx.stx_mode;
	a->uid = sx.stx_uid;
	a->gid = sx.stx_gid;
	a->nlink = sx.stx_nlink;
	a->rdev = makedev(sx.stx_rdev_major, sx.stx_rdev_minor);
	a->size = sx.stx_size;
	a->blksize = sx.stx_blksize;
	a->blocks = sx.stx_blocks;
	a->atime_sec = (uint64_t)sx.stx_atime.tv_sec;
	a->atime_nsec = sx.stx_atime.tv_nsec;
	a->mtime_sec = (uint64_t)sx.stx_mtime.tv_sec;
	a->mtime_nsec = sx.stx_mtime.tv_nsec;
	a->ctime_sec = (uint64_t)sx.stx_ctime.tv_sec;
	a->ctime_nsec = sx.stx_ctime.tv_nsec;
	if (sx.stx_mask & STATX_BTIME) {
		a->valid |= P9_GETATTR_BTIME;
		a->btime_sec = (uint64_t)sx.stx_btime.tv_sec;
		a->btime_nsec = sx.stx_btime.tv_nsec;
	}
	return 0;
}

/* A getattr that asks whether the directory is watched for its
 * connection's feed, as the fid's user (who must be able to read it). */
static int
do_getattr_watched(struct job *j)
{
	struct fsrv *fs = j->fs;
	struct feed *f;
	int rc = do_getattr(j), wd = -1;

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&fs->flock);
	f = feed_of(fs, j->r->conn);
	if (f)
		wd = feed_watch(f, j->node->pfd);
	pthread_mutex_unlock(&fs->flock);
	if (wd >= 0)
		j->r->out.u.rgetattr.valid |= P9_GETATTR_UNUM_WATCHED;
	return 0;
}

static void
fs_getattr(struct p9_req *r)
{
	struct fsrv *fs = p9_req_aux(r);
	struct job j;

	if ((r->in.u.getattr.request_mask & P9_GETATTR_UNUM_WATCHED) &&
	    atomic_load(&fs->nfeeds)) {
		run_on_loop(r, do_getattr_watched, NULL);
		return;
	}

	if (!fs->local) {
		run(r, do_getattr, NULL);
		return;
	}
	/* statx of a descriptor held open checks no permission and, on a
	 * local file system, reads only the inode in memory: no worker */
	memset(&j, 0, sizeof j);
	j.r = r;
	j.fs = fs;
	j.node = ((struct ffid *)r->fid->aux)->node;
	if ((j.err = do_getattr(&j)) < 0)
		p9_respond_error(r, -j.err);
	else
		p9_respond(r);
}

static int
set_times(const char *pp, int aset, const struct timespec *at, int mset,
    const struct timespec *mt)
{
	struct timespec ts[2];

	ts[0] = aset ? *at : (struct timespec){.tv_nsec = UTIME_OMIT};
	ts[1] = mset ? *mt : (struct timespec){.tv_nsec = UTIME_OMIT};
	return utimensat(AT_FDCWD, pp, ts, 0) < 0 ? -errno : 0;
}

static int
do_setattr(struct job *j)
{
	const struct p9_iattr *a = &j->r->in.u.setattr.attr;
	int pfd = j->node->pfd;
	char pp[64];

	procpath(pp, sizeof pp, pfd);
	if ((a->valid & P9_SETATTR_MODE) && chmod(pp, a->mode & 07777) < 0)
		return -errno;
	if (a->valid & (P9_SETATTR_UID | P9_SETATTR_GID)) {
		uid_t u = a->valid & P9_SETATTR_UID ? a->uid : (uid_t)-1;
		gid_t g = a->valid & P9_SETATTR_GID ? a->gid : (gid_t)-1;

		if (fchownat(pfd, "", u, g, AT_EMPTY_PATH) < 0)
			return -errno;
	}
	if ((a->valid & P9_SETATTR_SIZE) && truncate(pp, (off_t)a->size) < 0)
		return -errno;
	if (a->valid & (P9_SETATTR_ATIME | P9_SETATTR_MTIME)) {
		struct timespec at = {.tv_nsec = UTIME_NOW};
		struct timespec mt = {.tv_nsec = UTIME_NOW};

		if (a->valid & P9_SETATTR_ATIME_SET)
			at = (struct timespec){
			    (time_t)a->atime_sec, (long)a->atime_nsec};
		if (a->valid & P9_SETATTR_MTIME_SET)
			mt = (struct timespec){
			    (time_t)a->mtime_sec, (long)a->mtime_nsec};
		return set_times(pp, !!(a->valid & P9_SETATTR_ATIME), &at,
		    !!(a->valid & P9_SETATTR_MTIME), &mt);
	}
	if ((a->valid & P9_SETATTR_CTIME) &&
	    !(a->valid & (P9_SETATTR_MODE | P9_SETATTR_UID | P9_SETATTR_GID |
	                     P9_SETATTR_SIZE)) &&
	    fchownat(pfd, "", (uid_t)-1, (gid_t)-1, AT_EMPTY_PATH) < 0)
		return -errno;
	return 0;
}

static void
fs_setattr(struct p9_req *r)
{
	if (!readonly(r))
		run(r, do_setattr, NULL);
}

static int
do_stat(struct job *j)
{
	struct stat st;
	int rc = stat_fd(j->node->pfd, &st);

	if (rc < 0)
		return rc;
	stat_to_p9(j, &st,
	    strcmp(j->node->path, ".") ? path_base(j->node->path) : "/",
	    &j->r->out.u.rstat.stat);
	if (S_ISLNK(st.st_mode)) {
		ssize_t n =
		    readlinkat(j->node->pfd, "", j->sext, sizeof j->sext - 1);

		j->sext[n > 0 ? n : 0] = '\0';
	}
	return 0;
}

static void
fs_stat(struct p9_req *r)
{
	run(r, do_stat, NULL);
}

static int
do_wstat(struct job *j)
{
	const struct p9_stat *s = &j->r->in.u.wstat.stat;
	int pfd = j->node->pfd, rc;
	char pp[64];
	struct stat st;
	gid_t g = (gid_t)-1;

	if ((rc = stat_fd(pfd, &st)) < 0)
		return rc;
	procpath(pp, sizeof pp, pfd);
	/* check what can be checked before changing anything */
	if (s->mode != ~0u && !!(s->mode & P9_DMDIR) != !!S_ISDIR(st.st_mode))
		return -EINVAL;
	if (s->uid && *s->uid) {
		uid_t u;
		gid_t ug;

		if (fsrv_lookup_user(s->uid, &u, &ug) < 0 || u != st.st_uid)
			return -EPERM; /* no owner change, as in Plan 9 */
	}
	if (s->n_gid != P9_NONUNAME && j->r->in.type == P9_TWSTAT &&
	    p9_conn_dialect(j->r->conn) == P9_2000U)
		g = s->n_gid;
	else if (s->gid && *s->gid) {
		struct group gr, *grp = NULL;
		char buf[4096], *end;
		unsigned long v = strtoul(s->gid, &end, 10);

		if (!*end)
			g = (gid_t)v;
		else if (getgrnam_r(s->gid, &gr, buf, sizeof buf, &grp) == 0 &&
		         grp)
			g = grp->gr_gid;
		else
			return -EINVAL;
	}
	if (s->length != ~0ull && S_ISDIR(st.st_mode))
		return -EISDIR;
	if (s->name && *s->name && strcmp(s->name, path_base(j->node->path))) {
		int dfd = open_parent(j->fs, j->node);
		char *newpath;

		if (strchr(s->name, '/') || !strcmp(s->name, ".") ||
		    !strcmp(s->name, "..")) {
			if (dfd >= 0)
				close(dfd);
			return -EINVAL;
		}
		if (dfd < 0)
			return dfd;
		if ((rc = still_there(dfd, path_base(j->node->path), j->node)) <
		    0) {
			close(dfd);
			return rc;
		}
		rc = renameat(dfd, path_base(j->node->path), dfd, s->name);
		if (rc < 0) {
			rc = -errno;
			close(dfd);
			return rc;
		}
		close(dfd);
		newpath = path_join(j->node->path, "..");
		if (newpath) {
			char *p = path_join(newpath, s->name);
			int fd;

			free(newpath);
			if (p && (fd = open_beneath(
			              j->fs, p, O_PATH | O_NOFOLLOW)) >= 0)
				j->newnode = node_new(p, fd);
			else
				free(p);
		}
	}
	if (s->length != ~0ull && truncate(pp, (off_t)s->length) < 0)
		return -errno;
	if (s->mode != ~0u) {
		mode_t m = s->mode & 0777;

		if (s->mode & P9_DMSETUID)
			m |= S_ISUID;
		if (s->mode & P9_DMSETGID)
			m |= S_ISGID;
		if (chmod(pp, m) < 0)
			return -errno;
	}
	if (g != (gid_t)-1 && g != st.st_gid &&
	    fchownat(pfd, "", (uid_t)-1, g, AT_EMPTY_PATH) < 0)
		return -errno;
	if (s->mtime != ~0u || s->atime != ~0u) {
		struct timespec at = {(time_t)s->atime, 0};
		struct timespec mt = {(time_t)s->mtime, 0};

		return set_times(
		    pp, s->atime != ~0u, &at, s->mtime != ~0u, &mt);
	}
	return 0;
}

static void
node_replace_done(struct job *j)
{
	struct ffid *f = j->r->fid->aux;

	if (!j->newnode)
		return;
	node_unref(f->node);
	f->node = j->newnode;
	j->newnode = NULL;
}

static void
fs_wstat(struct p9_req *r)
{
	if (!readonly(r))
		run(r, do_wstat, node_replace_done);
}

/* ---- names: mkdir, symlink, mknod, link, rename, unlink, remove ---- */

static int
do_mkdir(struct job *j)
{
	struct p9_req *r = j->r;

	if (mkdirat(j->node->pfd, r->in.u.mkdir.name,
	        r->in.u.mkdir.mode & 07777) < 0)
		return -errno;
	fix_gid(j->node->pfd, r->in.u.mkdir.name, r->in.u.mkdir.gid);
	return child_node(j, r->in.u.mkdir.name, &r->out.u.rqid.qid);
}

static int
do_symlink(struct job *j)
{
	struct p9_req *r = j->r;

	if (symlinkat(
	        r->in.u.symlink.symtgt, j->node->pfd, r->in.u.symlink.name) < 0)
		return -errno;
	fix_gid(j->node->pfd, r->in.u.symlink.name, r->in.u.symlink.gid);
	return child_node(j, r->in.u.symlink.name, &r->out.u.rqid.qid);
}

static int
do_mknod(struct job *j)
{
	struct p9_req *r = j->r;

	if (mknodat(j->node->pfd, r->in.u.mknod.name, r->in.u.mknod.mode,
	        makedev(r->in.u.mknod.major, r->in.u.mknod.minor)) < 0)
		return -errno;
	fix_gid(j->node->pfd, r->in.u.mknod.name, r->in.u.mknod.gid);
	return child_node(j, r->in.u.mknod.name, &r->out.u.rqid.qid);
}

static int
do_readlink(struct job *j)
{
	ssize_t n = readlinkat(j->node->pfd, "", j->sext, sizeof j->sext - 1);

	if (n < 0) /* "" names a non-link: ENOENT, where readlink says EINVAL */
		return errno == ENOENT ? -EINVAL : -errno;
	j->sext[n] = '\0';
	j->r->out.u.rreadlink.target = j->sext;
	return 0;
}

static int
do_link(struct job *j)
{
	char pp[64];

	/* Tlink: fid is the directory, fid2 the file */
	procpath(pp, sizeof pp, j->node2->pfd);
	if (linkat(AT_FDCWD, pp, j->node->pfd, j->r->in.u.link.name,
	        AT_SYMLINK_FOLLOW) < 0)
		return -errno;
	return 0;
}

static int
do_rename(struct job *j)
{
	struct p9_req *r = j->r;
	int dfd = open_parent(j->fs, j->node), rc = 0;
	char *p;

	if (dfd < 0)
		return dfd;
	if ((rc = still_there(dfd, path_base(j->node->path), j->node)) < 0) {
		close(dfd);
		return rc;
	}
	if (renameat(dfd, path_base(j->node->path), j->node2->pfd,
	        r->in.u.rename.name) < 0)
		rc = -errno;
	close(dfd);
	if (rc < 0)
		return rc;
	/* the fid now names the new place */
	if ((p = path_join(j->node2->path, r->in.u.rename.name))) {
		int fd = open_beneath(j->fs, p, O_PATH | O_NOFOLLOW);

		if (fd >= 0)
			j->newnode = node_new(p, fd);
		else
			free(p);
	}
	return 0;
}

static int
do_renameat(struct job *j)
{
	struct p9_req *r = j->r;

	if (renameat(j->node->pfd, r->in.u.renameat.oldname, j->node2->pfd,
	        r->in.u.renameat.newname) < 0)
		return -errno;
	return 0;
}

static int
do_unlinkat(struct job *j)
{
	struct p9_req *r = j->r;
	int fl = (r->in.u.unlinkat.flags & P9_AT_REMOVEDIR) ? AT_REMOVEDIR : 0;

	if (unlinkat(j->node->pfd, r->in.u.unlinkat.name, fl) < 0)
		return -errno;
	return 0;
}

static int
do_remove(struct job *j)
{
	struct stat st;
	int dfd, rc;

	if ((rc = stat_fd(j->node->pfd, &st)) < 0)
		return rc;
	if ((dfd = open_parent(j->fs, j->node)) < 0)
		return dfd;
	if ((rc = still_there(dfd, path_base(j->node->path), j->node)) < 0) {
		close(dfd);
		return rc;
	}
	rc = unlinkat(dfd, path_base(j->node->path),
	         S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0
	         ? -errno
	         : 0;
	close(dfd);
	return rc;
}

#define CHANGE(fn_name, work, done)                                            \
	static void fn_name(struct p9_req *r)                                  \
	{                                                                      \
		if (!readonly(r))                                              \
			run(r, work, done);                                    \
	}

CHANGE(fs_mkdir, do_mkdir, NULL)
CHANGE(fs_symlink, do_symlink, NULL)
CHANGE(fs_mknod, do_mknod, NULL)
CHANGE(fs_link, do_link, NULL)
CHANGE(fs_rename, do_rename, node_replace_done)
CHANGE(fs_renameat, do_renameat, NULL)
CHANGE(fs_unlinkat, do_unlinkat, NULL)
CHANGE(fs_remove, do_remove, NULL)

static void
fs_readlink(struct p9_req *r)
{
	run(r, do_readlink, NULL);
}

/* ---- fsync, statfs, locks ---- */

static int
do_fsync(struct job *j)
{
	int rc = j->r->in.u.fsync.datasync ? fdatasync(j->fd) : fsync(j->fd);

	return rc < 0 ? -errno : 0;
}

static void
fs_fsync(struct p9_req *r)
{
	run_open(r, do_fsync);
}

static int
do_statfs(struct job *j)
{
	struct statfs sf;
	struct p9_statfs *o = &j->r->out.u.rstatfs;

	if (fstatfs(j->node->pfd, &sf) < 0)
		return -errno;
	o->type = 0x01021997; /* V9FS_MAGIC, as diod reports it */
	o->bsize = (uint32_t)sf.f_bsize;
	o->blocks = sf.f_blocks;
	o->bfree = sf.f_bfree;
	o->bavail = sf.f_bavail;
	o->files = sf.f_files;
	o->ffree = sf.f_ffree;
	o->fsid = (uint64_t)(uint32_t)sf.f_fsid.__val[0] |
	          (uint64_t)(uint32_t)sf.f_fsid.__val[1] << 32;
	o->namelen = (uint32_t)sf.f_namelen;
	return 0;
}

static void
fs_statfs(struct p9_req *r)
{
	run(r, do_statfs, NULL);
}

static short
lock_type(uint8_t t)
{
	return t == P9_LOCK_TYPE_RDLCK   ? F_RDLCK
	       : t == P9_LOCK_TYPE_WRLCK ? F_WRLCK
	                                 : F_UNLCK;
}

static int
do_lock(struct job *j)
{
	const struct p9_flock *l = &j->r->in.u.lock.lock;
	struct flock fl;

	memset(&fl, 0, sizeof fl);
	fl.l_type = lock_type(l->type);
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)l->start;
	fl.l_len = (off_t)l->length;
	/* open file description locks: each fid's open is its own owner.
	 * Never wait: the client retries on BLOCKED. */
	if (fcntl(j->fd, F_OFD_SETLK, &fl) == 0)
		j->r->out.u.rlock.status = P9_LOCK_SUCCESS;
	else if (errno == EAGAIN || errno == EACCES)
		j->r->out.u.rlock.status = P9_LOCK_BLOCKED;
	else
		j->r->out.u.rlock.status = P9_LOCK_ERROR;
	return 0;
}

static int
do_getlock(struct job *j)
{
	const struct p9_flock *l = &j->r->in.u.lock.lock;
	struct p9_flock *o = &j->r->out.u.rgetlock;
	struct flock fl;

	memset(&fl, 0, sizeof fl);
	fl.l_type = lock_type(l->type);
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)l->start;
	fl.l_len = (off_t)l->length;
	if (fcntl(j->fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	*o = *l;
	o->type = fl.l_type == F_RDLCK   ? P9_LOCK_TYPE_RDLCK
	          : fl.l_type == F_WRLCK ? P9_LOCK_TYPE_WRLCK
	                                 : P9_LOCK_TYPE_UNLCK;
	if (fl.l_type != F_UNLCK) {
		o->start = (uint64_t)fl.l_start;
		o->length = (uint64_t)fl.l_len;
	}
	return 0;
}

static void
fs_lock(struct p9_req *r)
{
	run_open(r, r->in.type == P9_TLOCK ? do_lock : do_getlock);
}

/* ---- xattrs ---- */

static int
do_xattrwalk(struct job *j)
{
	const char *name = j->r->in.u.xattrwalk.name;
	char pp[64];
	ssize_t n;
	int tries;

	procpath(pp, sizeof pp, j->node->pfd);
	for (tries = 0; tries < 4; tries++) {
		n = *name ? getxattr(pp, name, NULL, 0)
		          : listxattr(pp, NULL, 0);
		if (n < 0)
			return -errno;
		if (n > XATTR_MAX * 16)
			return -E2BIG;
		free(j->xbuf);
		if (!(j->xbuf = malloc(n ? (size_t)n : 1)))
			return -ENOMEM;
		n = *name ? getxattr(pp, name, j->xbuf, (size_t)n)
		          : listxattr(pp, (char *)j->xbuf, (size_t)n);
		if (n >= 0) {
			j->xlen = (size_t)n;
			j->r->out.u.rxattrwalk.size = (uint64_t)n;
			return 0;
		}
		if (errno != ERANGE) /* ERANGE: it grew meanwhile */
			return -errno;
	}
	return -ERANGE;
}

static void
xattrwalk_done(struct job *j)
{
	struct p9_req *r = j->r;
	struct ffid *f = r->fid->aux;
	struct ffid *nf = ffid_new(j->fs, f->user, node_ref(f->node));

	if (!nf) {
		node_unref(f->node);
		j->err = -ENOMEM;
		return;
	}
	nf->xmode = XREAD;
	nf->xbuf = j->xbuf;
	nf->xlen = j->xlen;
	j->xbuf = NULL;
	r->newfid->aux = nf;
}

static void
fs_xattrwalk(struct p9_req *r)
{
	struct ffid *f = r->fid->aux, *nf;
	int rc;

	if (strcmp(r->in.u.xattrwalk.name, "unum.changes")) {
		run(r, do_xattrwalk, xattrwalk_done);
		return;
	}
	if (r->newfid == r->fid || f->fd >= 0 || f->xmode) {
		p9_respond_error(r, EINVAL);
		return;
	}
	if (!(nf = ffid_new(f->fs, f->user, node_ref(f->node)))) {
		node_unref(f->node);
		p9_respond_error(r, ENOMEM);
		return;
	}
	if ((rc = feed_new(r, nf)) < 0) {
		ffid_free(nf);
		p9_respond_error(r, -rc);
		return;
	}
	r->newfid->aux = nf;
	r->out.u.rxattrwalk.size = 0;
	p9_respond(r);
}

static void
fs_xattrcreate(struct p9_req *r)
{
	struct ffid *f = r->fid->aux;
	uint64_t size = r->in.u.xattrcreate.attr_size;

	if (readonly(r))
		return;
	if (f->fd >= 0 || f->xmode) {
		p9_respond_error(r, EBADF);
		return;
	}
	if (size > XATTR_MAX) {
		p9_respond_error(r, E2BIG);
		return;
	}
	if (!(f->xname = strdup(r->in.u.xattrcreate.name)) ||
	    !(f->xbuf = malloc(size ? size : 1))) {
		p9_respond_error(r, ENOMEM);
		return;
	}
	f->xmode = XWRITE;
	f->xsize = size;
	f->xflags = r->in.u.xattrcreate.flags;
	p9_respond(r);
}

static int
do_xattr_commit(struct job *j)
{
	struct ffid *f = j->r->fid->aux; /* the fid is ours until answered */
	char pp[64];
	int rc;

	procpath(pp, sizeof pp, j->node->pfd);
	if (f->xlen != f->xsize)
		return -EINVAL;
	if (f->xsize == 0 && (f->xflags & XATTR_REPLACE))
		rc = removexattr(pp, f->xname);
	else
		rc = setxattr(pp, f->xname, f->xbuf, f->xlen,
		    (int)(f->xflags & (XATTR_CREATE | XATTR_REPLACE)));
	return rc < 0 ? -errno : 0;
}

static int
do_rclose(struct job *j)
{
	return do_remove(j);
}

static void
fs_clunk(struct p9_req *r)
{
	struct ffid *f = r->fid->aux;

	if (f && f->xmode == XWRITE)
		run(r, do_xattr_commit, NULL);
	else if (f && f->rclose)
		run(r, do_rclose, NULL);
	else
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
    .destroy_fid = fs_destroy_fid,
    .lopen = fs_open,
    .lcreate = fs_lcreate,
    .getattr = fs_getattr,
    .setattr = fs_setattr,
    .readdir = fs_readdir,
    .mkdir = fs_mkdir,
    .symlink = fs_symlink,
    .mknod = fs_mknod,
    .rename = fs_rename,
    .renameat = fs_renameat,
    .readlink = fs_readlink,
    .link = fs_link,
    .unlinkat = fs_unlinkat,
    .fsync = fs_fsync,
    .statfs = fs_statfs,
    .xattrwalk = fs_xattrwalk,
    .xattrcreate = fs_xattrcreate,
    .lock = fs_lock,
    .getlock = fs_lock,
};

const struct p9_ops *
fsrv_ops(void)
{
	return &ops;
}

/* File systems whose cached attributes are the truth, so that statx of a
 * descriptor fsrv holds never waits for a disk or a server. */
static int
is_local(int fd)
{
	static const unsigned long local[] = {
	    0xEF53,     /* ext2/3/4 */
	    0x58465342, /* xfs */
	    0x9123683E, /* btrfs */
	    0x01021994, /* tmpfs */
	    0x794c7630, /* overlayfs */
	    0xF2F52010, /* f2fs */
	    0x2FC12FC1, /* zfs */
	};
	struct statfs sf;
	size_t i;

	if (fstatfs(fd, &sf) < 0)
		return 0;
	for (i = 0; i < sizeof local / sizeof local[0]; i++)
		if ((unsigned long)sf.f_type == local[i])
			return 1;
	return 0;
}

struct fsrv *
fsrv_new(const struct fsrv_opts *o, int *err)
{
	struct fsrv *fs = calloc(1, sizeof *fs);
	struct stat st;

	if (!fs || !(fs->root = strdup(o->root))) {
		free(fs);
		*err = -ENOMEM;
		return NULL;
	}
	fs->o = *o;
	fs->o.root = fs->root;
	fs->rootfd = open(o->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->rootfd < 0 || fstat(fs->rootfd, &st) < 0) {
		*err = -errno;
		if (fs->rootfd >= 0)
			close(fs->rootfd);
		free(fs->root);
		free(fs);
		return NULL;
	}
	fs->rootdev = st.st_dev;
	fs->local = is_local(fs->rootfd);
	{
		int fd;

		/* the loop's lookup, once: an older kernel says EINVAL
		 * (ENOSYS without openat2) */
		on_loop = 1;
		fd = open_beneath(fs, ".", O_PATH);
		on_loop = 0;
		fs->cached = fd >= 0 || fd == -EAGAIN;
		if (fd >= 0)
			close(fd);
	}
	fs->self.uid = geteuid();
	fs->self.gid = getegid();
	fs->self.known = 1;
	if ((fs->self.ngroups = getgroups(0, NULL)) > 0 &&
	    (fs->self.groups = calloc((size_t)fs->self.ngroups,
	         sizeof *fs->self.groups)))
		fs->self.ngroups =
		    getgroups(fs->self.ngroups, fs->self.groups);
	if (fs->self.ngroups < 0 || !fs->self.groups)
		fs->self.ngroups = 0;
	fs->nowait_write = 1;
	pthread_mutex_init(&fs->ulock, NULL);
	pthread_mutex_init(&fs->flock, NULL);
	fs->ifd = -1;
	return fs;
}

void
fsrv_free(struct fsrv *fs)
{
	struct fuser *u, *next;

	if (!fs)
		return;
	for (u = fs->users; u; u = next) {
		next = u->next;
		free(u->groups);
		free(u);
	}
	free(fs->self.groups);
	close(fs->rootfd);
	if (fs->ifd >= 0)
		close(fs->ifd);
	free(fs->watches);
	pthread_mutex_destroy(&fs->ulock);
	pthread_mutex_destroy(&fs->flock);
	free(fs->root);
	free(fs);
}
