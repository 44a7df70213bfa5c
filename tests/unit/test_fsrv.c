/*
 * test_fsrv.c - fsrv, the directory file server, driven by unum's own
 * blocking client.  The server runs in this process on a loop thread of
 * its own (its work on libuv's worker pool) and listens on a Unix socket
 * in the test's temporary directory, so it sees this process's
 * credentials (root) by SO_PEERCRED.  Each operation is also made directly
 * on a twin directory, or checked with stat(2) and friends, and the
 * results compared.  Then the escapes a client might try, the read-only
 * and squash options, and acting as another user.  Must run as root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "9p/p9.h"
#include "fsrv/fsrv.h"

#define TEST_SECONDS 60 /* for any one test */
#define MSIZE (65536 + P9_IOHDRSZ)
#define MAXCL 4
#define NOBODY 65534

/* ---- the fixture: directories, server, clients ---- */

struct fx {
	char base[64]; /* mkdtemp: everything below is inside */
	char exp[96];  /* exported */
	char twin[96]; /* the same operations, made directly */
	char out[96];  /* outside the export: escapes aim here */
	char sock[96]; /* the server's Unix socket */
	int efd, tfd, ofd;
	struct fsrv *fs;
	struct p9_srv *srv;
	uv_loop_t loop;
	uv_async_t stop;
	pthread_t th;
	int serving;
	struct p9_cl *cl[MAXCL];
	int ncl;
};

static struct fx *cur; /* for the alarm handler */
static gid_t root_groups[64];
static int root_ngroups;

/* A hung test: remove its directory (by rm, fork and exec being safe in
 * a signal handler), say so, and end the program. */
static void
on_alarm(int sig)
{
	static const char msg[] = "test_fsrv: a test took too long\n";
	pid_t pid;

	(void)sig;
	if (write(2, msg, sizeof msg - 1) < 0)
		_exit(2);
	if (cur && cur->base[0]) {
		pid = fork();
		if (pid == 0) {
			execl("/bin/rm", "rm", "-rf", cur->base, (char *)NULL);
			_exit(127);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
	_exit(2);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* This thread's file system identity becomes uid/gid (the raw calls act
 * on the calling thread only), or root again. */
static void
as_user(uid_t uid, gid_t gid)
{
	assert_int_equal(syscall(SYS_setgroups, 1, &gid), 0);
	syscall(SYS_setfsgid, gid);
	syscall(SYS_setfsuid, uid);
	assert_int_equal((uid_t)syscall(SYS_setfsuid, (uid_t)-1), uid);
}

static void
as_root(void)
{
	syscall(SYS_setfsuid, 0);
	syscall(SYS_setfsgid, 0);
	syscall(SYS_setgroups, (size_t)root_ngroups, root_groups);
}

static int
setup(void **state)
{
	struct fx *x = calloc(1, sizeof *x);

	if (!x)
		return -1;
	snprintf(x->base, sizeof x->base, "/tmp/test_fsrv.XXXXXX");
	if (!mkdtemp(x->base)) {
		free(x);
		return -1;
	}
	snprintf(x->exp, sizeof x->exp, "%s/export", x->base);
	snprintf(x->twin, sizeof x->twin, "%s/twin", x->base);
	snprintf(x->out, sizeof x->out, "%s/outside", x->base);
	snprintf(x->sock, sizeof x->sock, "%s/sock", x->base);
	/* others may reach the socket (a test connects as another user) */
	if (chmod(x->base, 0755) < 0 || mkdir(x->exp, 0755) < 0 ||
	    mkdir(x->twin, 0755) < 0 || mkdir(x->out, 0755) < 0 ||
	    (x->efd = open(x->exp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (x->tfd = open(x->twin, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (x->ofd = open(x->out, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		nftw(x->base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		free(x);
		return -1;
	}
	cur = x;
	alarm(TEST_SECONDS);
	*state = x;
	return 0;
}

static void
srv_closed(void *arg)
{
	struct fx *x = arg;

	uv_close((uv_handle_t *)&x->stop, NULL);
}

static void
on_stop(uv_async_t *a)
{
	struct fx *x = a->data;

	p9_srv_close(x->srv, srv_closed, x);
}

static void *
loop_main(void *arg)
{
	struct fx *x = arg;

	uv_run(&x->loop, UV_RUN_DEFAULT);
	return NULL;
}

static int
teardown(void **state)
{
	struct fx *x = *state;
	int i, rc = 0;

	as_root(); /* a test may have failed while acting as another user */
	for (i = 0; i < x->ncl; i++)
		p9_cl_close(x->cl[i]);
	if (x->serving) {
		uv_async_send(&x->stop);
		pthread_join(x->th, NULL);
		if (uv_loop_close(&x->loop) != 0) {
			fprintf(stderr, "test_fsrv: handles left open\n");
			rc = -1;
		}
	}
	fsrv_free(x->fs);
	close(x->efd);
	close(x->tfd);
	close(x->ofd);
	nftw(x->base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if (access(x->base, F_OK) == 0) {
		fprintf(stderr, "test_fsrv: could not remove %s\n", x->base);
		rc = -1;
	}
	alarm(0);
	cur = NULL;
	free(x);
	return rc;
}

/* Serves the export with o's options (NULL: the defaults) on x->sock. */
static void
serve(struct fx *x, const struct fsrv_opts *o)
{
	struct fsrv_opts fo;
	struct p9_srv_opts so;
	struct p9_addr a;
	char addr[128];
	int err = 0;

	memset(&fo, 0, sizeof fo);
	if (o)
		fo = *o;
	fo.root = x->exp;
	fo.anon_uid = fo.anon_gid = NOBODY;
	x->fs = fsrv_new(&fo, &err);
	assert_non_null(x->fs);
	assert_int_equal(uv_loop_init(&x->loop), 0);
	memset(&so, 0, sizeof so);
	so.ops = fsrv_ops();
	so.aux = x->fs;
	so.name = "test_fsrv";
	so.trace = getenv("FSRV_TRACE") != NULL;
	x->srv = p9_srv_new(&x->loop, &so);
	assert_non_null(x->srv);
	snprintf(addr, sizeof addr, "unix:%s", x->sock);
	assert_int_equal(p9_addr_parse(&a, addr, 0), 0);
	assert_int_equal(p9_srv_listen(x->srv, &a, 0666), 0);
	assert_int_equal(uv_async_init(&x->loop, &x->stop, on_stop), 0);
	x->stop.data = x;
	assert_int_equal(pthread_create(&x->th, NULL, loop_main, x), 0);
	x->serving = 1;
}

static struct p9_cl *
connect_cl(struct fx *x, enum p9_dialect d, int *err)
{
	struct p9_client_opts o;
	struct p9_addr a;
	char addr[128];

	memset(&o, 0, sizeof o);
	o.msize = MSIZE;
	o.dialect = d;
	o.trace = getenv("FSRV_TRACE") != NULL;
	snprintf(addr, sizeof addr, "unix:%s", x->sock);
	if (p9_addr_parse(&a, addr, 0) < 0) {
		*err = -EINVAL;
		return NULL;
	}
	return p9_cl_connect(&a, &o, err);
}

static void
keep_cl(struct fx *x, struct p9_cl *cl)
{
	assert_true(x->ncl < MAXCL);
	x->cl[x->ncl++] = cl;
}

/* A client speaking dialect d (the server must agree). */
static struct p9_cl *
dial(struct fx *x, enum p9_dialect d)
{
	int err = 0;
	struct p9_cl *cl = connect_cl(x, d, &err);

	assert_int_equal(err, 0);
	assert_non_null(cl);
	keep_cl(x, cl);
	assert_int_equal(p9_cl_dialect(cl), d);
	return cl;
}

/* Attaches as uid (n_uname; root names itself "root"); the root fid. */
static uint32_t
attach(struct p9_cl *cl, uint32_t uid, struct p9_qid *q)
{
	uint32_t fid = p9_cl_fid_new(cl);

	assert_int_equal(
	    p9_cl_attach(cl, fid, uid == 0 ? "root" : "", uid, "", q), 0);
	return fid;
}

/* ---- 9P helpers ---- */

static int
try_walk(struct p9_cl *cl, uint32_t from, const char *path, uint32_t *nf,
    struct p9_qid *q)
{
	uint32_t f = p9_cl_fid_new(cl);
	int rc = p9_cl_walk(cl, from, f, path, q);

	if (rc < 0) {
		p9_cl_fid_free(cl, f);
		*nf = P9_NOFID;
		return rc;
	}
	*nf = f;
	return 0;
}

static uint32_t
walkto(struct p9_cl *cl, uint32_t from, const char *path, struct p9_qid *q)
{
	uint32_t f;

	assert_int_equal(try_walk(cl, from, path, &f, q), 0);
	return f;
}

/* Walks to path and opens it (Tlopen flags); fails the test otherwise. */
static uint32_t
lopen_path(struct p9_cl *cl, uint32_t root, const char *path, uint32_t flags)
{
	uint32_t f = walkto(cl, root, path, NULL);

	assert_int_equal(p9_cl_lopen(cl, f, flags, NULL, NULL), 0);
	return f;
}

/* Walks to path and tries Tlopen; the fid is clunked again. */
static int
try_lopen(struct p9_cl *cl, uint32_t root, const char *path, uint32_t flags)
{
	uint32_t f;
	int rc = try_walk(cl, root, path, &f, NULL);

	if (rc < 0)
		return rc;
	rc = p9_cl_lopen(cl, f, flags, NULL, NULL);
	p9_cl_clunk(cl, f);
	return rc;
}

/* One round trip whose reply's strings are not needed. */
static int
call(struct p9_cl *cl, struct p9_fcall *t, struct p9_fcall *r)
{
	uint8_t *rbuf = NULL;
	int rc = p9_cl_rpc(cl, t, r, &rbuf);

	free(rbuf);
	return rc;
}

static int
t_mkdir(struct p9_cl *cl, uint32_t dfid, const char *name, uint32_t mode,
    uint32_t gid, struct p9_qid *q)
{
	struct p9_fcall t, r;
	int rc;

	memset(&t, 0, sizeof t);
	t.type = P9_TMKDIR;
	t.u.mkdir.dfid = dfid;
	t.u.mkdir.name = (char *)name;
	t.u.mkdir.mode = mode;
	t.u.mkdir.gid = gid;
	if ((rc = call(cl, &t, &r)) == 0 && q)
		*q = r.u.rqid.qid;
	return rc;
}

static int
t_symlink(struct p9_cl *cl, uint32_t dfid, const char *name, const char *target,
    struct p9_qid *q)
{
	struct p9_fcall t, r;
	int rc;

	memset(&t, 0, sizeof t);
	t.type = P9_TSYMLINK;
	t.u.symlink.fid = dfid;
	t.u.symlink.name = (char *)name;
	t.u.symlink.symtgt = (char *)target;
	t.u.symlink.gid = P9_NONUNAME;
	if ((rc = call(cl, &t, &r)) == 0 && q)
		*q = r.u.rqid.qid;
	return rc;
}

static int
t_mknod(struct p9_cl *cl, uint32_t dfid, const char *name, uint32_t mode,
    uint32_t maj, uint32_t min, struct p9_qid *q)
{
	struct p9_fcall t, r;
	int rc;

	memset(&t, 0, sizeof t);
	t.type = P9_TMKNOD;
	t.u.mknod.dfid = dfid;
	t.u.mknod.name = (char *)name;
	t.u.mknod.mode = mode;
	t.u.mknod.major = maj;
	t.u.mknod.minor = min;
	t.u.mknod.gid = P9_NONUNAME;
	if ((rc = call(cl, &t, &r)) == 0 && q)
		*q = r.u.rqid.qid;
	return rc;
}

static int
t_rename(struct p9_cl *cl, uint32_t fid, uint32_t dfid, const char *name)
{
	struct p9_fcall t, r;

	memset(&t, 0, sizeof t);
	t.type = P9_TRENAME;
	t.u.rename.fid = fid;
	t.u.rename.dfid = dfid;
	t.u.rename.name = (char *)name;
	return call(cl, &t, &r);
}

static int
t_renameat(struct p9_cl *cl, uint32_t ofid, const char *oname, uint32_t nfid,
    const char *nname)
{
	struct p9_fcall t, r;

	memset(&t, 0, sizeof t);
	t.type = P9_TRENAMEAT;
	t.u.renameat.olddirfid = ofid;
	t.u.renameat.oldname = (char *)oname;
	t.u.renameat.newdirfid = nfid;
	t.u.renameat.newname = (char *)nname;
	return call(cl, &t, &r);
}

static int
t_unlinkat(struct p9_cl *cl, uint32_t dfid, const char *name, uint32_t flags)
{
	struct p9_fcall t, r;

	memset(&t, 0, sizeof t);
	t.type = P9_TUNLINKAT;
	t.u.unlinkat.dfid = dfid;
	t.u.unlinkat.name = (char *)name;
	t.u.unlinkat.flags = flags;
	return call(cl, &t, &r);
}

static int
t_link(struct p9_cl *cl, uint32_t dfid, uint32_t fid, const char *name)
{
	struct p9_fcall t, r;

	memset(&t, 0, sizeof t);
	t.type = P9_TLINK;
	t.u.link.dfid = dfid;
	t.u.link.fid = fid;
	t.u.link.name = (char *)name;
	return call(cl, &t, &r);
}

/* Treadlink: the target into buf (NUL-terminated). */
static int
t_readlink(struct p9_cl *cl, uint32_t fid, char *buf, size_t cap)
{
	struct p9_fcall t, r;
	uint8_t *rbuf = NULL;
	int rc;

	memset(&t, 0, sizeof t);
	t.type = P9_TREADLINK;
	t.u.fid.fid = fid;
	if ((rc = p9_cl_rpc(cl, &t, &r, &rbuf)) == 0)
		snprintf(buf, cap, "%s", r.u.rreadlink.target);
	free(rbuf);
	return rc;
}

static int
t_fsync(struct p9_cl *cl, uint32_t fid, uint32_t datasync)
{
	struct p9_fcall t, r;

	memset(&t, 0, sizeof t);
	t.type = P9_TFSYNC;
	t.u.fsync.fid = fid;
	t.u.fsync.datasync = datasync;
	return call(cl, &t, &r);
}

static int
t_statfs(struct p9_cl *cl, uint32_t fid, struct p9_statfs *out)
{
	struct p9_fcall t, r;
	int rc;

	memset(&t, 0, sizeof t);
	t.type = P9_TSTATFS;
	t.u.fid.fid = fid;
	if ((rc = call(cl, &t, &r)) == 0)
		*out = r.u.rstatfs;
	return rc;
}

/* Txattrwalk to a new fid (*nf); *size is the value's (or list's) size. */
static int
t_xattrwalk(struct p9_cl *cl, uint32_t fid, const char *name, uint32_t *nf,
    uint64_t *size)
{
	struct p9_fcall t, r;
	int rc;

	memset(&t, 0, sizeof t);
	t.type = P9_TXATTRWALK;
	t.u.xattrwalk.fid = fid;
	t.u.xattrwalk.newfid = *nf = p9_cl_fid_new(cl);
	t.u.xattrwalk.name = (char *)name;
	if ((rc = call(cl, &t, &r)) < 0) {
		p9_cl_fid_free(cl, *nf);
		*nf = P9_NOFID;
		return rc;
	}
	*size = r.u.rxattrwalk.size;
	return 0;
}

static int
t_xattrcreate(struct p9_cl *cl, uint32_t fid, const char *name, uint64_t size,
    uint32_t flags)
{
	struct p9_fcall t, r;

	memset(&t, 0, sizeof t);
	t.type = P9_TXATTRCREATE;
	t.u.xattrcreate.fid = fid;
	t.u.xattrcreate.name = (char *)name;
	t.u.xattrcreate.attr_size = size;
	t.u.xattrcreate.flags = flags;
	return call(cl, &t, &r);
}

/* Sets (or, with size 0 and XATTR_REPLACE, removes) an xattr of the file
 * fid names, Linux's way: clone, Txattrcreate, Twrite, Tclunk.  The
 * clunk's answer is the result. */
static int
xattr_set(struct p9_cl *cl, uint32_t fid, const char *name, const void *val,
    size_t n, uint32_t flags)
{
	uint32_t xf = walkto(cl, fid, "", NULL);
	int rc;

	if ((rc = t_xattrcreate(cl, xf, name, n, flags)) < 0) {
		p9_cl_clunk(cl, xf);
		return rc;
	}
	if (n)
		assert_int_equal(p9_cl_write(cl, xf, 0, val, n), (ssize_t)n);
	return p9_cl_clunk(cl, xf);
}

/* Reads an xattr (or, name "", the list) by Txattrwalk; its size or
 * -errno. */
static ssize_t
xattr_get(
    struct p9_cl *cl, uint32_t fid, const char *name, void *buf, size_t cap)
{
	uint32_t xf;
	uint64_t size;
	ssize_t n;
	int rc;

	if ((rc = t_xattrwalk(cl, fid, name, &xf, &size)) < 0)
		return rc;
	assert_true(size <= cap);
	n = p9_cl_read(cl, xf, 0, buf, cap);
	assert_int_equal(n, (ssize_t)size);
	assert_int_equal(p9_cl_clunk(cl, xf), 0);
	return n;
}

static int
t_lock(struct p9_cl *cl, uint32_t fid, uint8_t type, uint64_t start,
    uint64_t len, uint8_t *status)
{
	struct p9_fcall t, r;
	int rc;

	memset(&t, 0, sizeof t);
	t.type = P9_TLOCK;
	t.u.lock.fid = fid;
	t.u.lock.lock.type = type;
	t.u.lock.lock.start = start;
	t.u.lock.lock.length = len;
	t.u.lock.lock.proc_id = (uint32_t)getpid();
	t.u.lock.lock.client_id = "test_fsrv";
	if ((rc = call(cl, &t, &r)) == 0)
		*status = r.u.rlock.status;
	return rc;
}

static int
t_getlock(struct p9_cl *cl, uint32_t fid, uint8_t type, uint64_t start,
    uint64_t len, struct p9_flock *out)
{
	struct p9_fcall t, r;
	int rc;

	memset(&t, 0, sizeof t);
	t.type = P9_TGETLOCK;
	t.u.lock.fid = fid;
	t.u.lock.lock.type = type;
	t.u.lock.lock.start = start;
	t.u.lock.lock.length = len;
	t.u.lock.lock.proc_id = (uint32_t)getpid();
	t.u.lock.lock.client_id = "test_fsrv";
	if ((rc = call(cl, &t, &r)) == 0) {
		*out = r.u.rgetlock;
		out->client_id = NULL; /* it pointed into the freed reply */
	}
	return rc;
}

/* Twalk with no names to newfid, and Tclunk, keeping the client's fid
 * numbers as they are (for a number the client already released). */
static int
raw_clone(struct p9_cl *cl, uint32_t fid, uint32_t newfid)
{
	struct p9_fcall t, r;

	memset(&t, 0, sizeof t);
	t.type = P9_TWALK;
	t.u.walk.fid = fid;
	t.u.walk.newfid = newfid;
	return call(cl, &t, &r);
}

static int
raw_clunk(struct p9_cl *cl, uint32_t fid)
{
	struct p9_fcall t, r;

	memset(&t, 0, sizeof t);
	t.type = P9_TCLUNK;
	t.u.fid.fid = fid;
	return call(cl, &t, &r);
}

/* Everything a fid opened for reading holds, read in pieces. */
static uint8_t *
cl_slurp(struct p9_cl *cl, uint32_t fid, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = malloc(cap);
	ssize_t k;

	assert_non_null(buf);
	for (;;) {
		if (cap - n < 8192) {
			buf = realloc(buf, cap *= 2);
			assert_non_null(buf);
		}
		k = p9_cl_read(cl, fid, n, buf + n, cap - n);
		assert_true(k >= 0);
		if (k == 0)
			break;
		n += (size_t)k;
	}
	*len = n;
	return buf;
}

/* ---- direct helpers ---- */

static void
fill(uint8_t *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(((i + seed) * 2654435761u) >> 13);
}

static void
put(int dirfd, const char *name, const void *data, size_t n, mode_t mode)
{
	int fd =
	    openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
put_both(
    struct fx *x, const char *name, const void *data, size_t n, mode_t mode)
{
	put(x->efd, name, data, n, mode);
	put(x->tfd, name, data, n, mode);
}

static void
mkdir_both(struct fx *x, const char *name, mode_t mode)
{
	assert_int_equal(mkdirat(x->efd, name, mode), 0);
	assert_int_equal(mkdirat(x->tfd, name, mode), 0);
	assert_int_equal(fchmodat(x->efd, name, mode, 0), 0);
	assert_int_equal(fchmodat(x->tfd, name, mode, 0), 0);
}

static uint8_t *
slurp(int dirfd, const char *name, size_t *len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(
	    pread(fd, buf, (size_t)st.st_size, 0), (ssize_t)st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static struct stat
lst(int dirfd, const char *name)
{
	struct stat st;

	assert_int_equal(fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	return st;
}

static int
missing(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	       errno == ENOENT;
}

/* 0 or -errno of a direct call that returns -1 on failure. */
static int
rc_of(long rc)
{
	return rc < 0 ? -errno : 0;
}

struct names {
	char **v;
	size_t n, cap;
};

static void
names_add(struct names *ns, const char *s, size_t len)
{
	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? ns->cap * 2 : 64;
		ns->v = realloc(ns->v, ns->cap * sizeof *ns->v);
		assert_non_null(ns->v);
	}
	ns->v[ns->n] = strndup(s, len);
	assert_non_null(ns->v[ns->n]);
	ns->n++;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
names_sort(struct names *ns)
{
	if (ns->n)
		qsort(ns->v, ns->n, sizeof *ns->v, cmpstr);
}

static void
names_free(struct names *ns)
{
	size_t i;

	for (i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	memset(ns, 0, sizeof *ns);
}

static void
assert_names_equal(const struct names *a, const struct names *b)
{
	size_t i;

	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++)
		assert_string_equal(a->v[i], b->v[i]);
}

/* The names readdir(3) gives in sub of dirfd, sorted. */
static void
list_dir(int dirfd, const char *sub, int dots, struct names *ns)
{
	int fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	assert_true(fd >= 0);
	d = fdopendir(fd);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (dots ||
		    (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")))
			names_add(ns, de->d_name, strlen(de->d_name));
	closedir(d);
	names_sort(ns);
}

/*
 * The trees at dir beneath a and b hold the same names, and each the same
 * type, permissions, owner, link count, size, contents, link target and
 * device number (times aside).
 */
static void
assert_same_tree(int a, int b, const char *dir)
{
	struct names na = {0}, nb = {0};
	size_t i;

	list_dir(a, dir, 0, &na);
	list_dir(b, dir, 0, &nb);
	assert_names_equal(&na, &nb);
	for (i = 0; i < na.n; i++) {
		char p[PATH_MAX], ta[PATH_MAX], tb[PATH_MAX];
		struct stat sa, sb;

		snprintf(p, sizeof p, "%s/%s", dir, na.v[i]);
		sa = lst(a, p);
		sb = lst(b, p);
		if (sa.st_mode != sb.st_mode || sa.st_uid != sb.st_uid ||
		    sa.st_gid != sb.st_gid || sa.st_nlink != sb.st_nlink)
			print_message("%s: mode %o/%o uid %u/%u gid %u/%u "
			              "nlink %lu/%lu\n",
			    p, sa.st_mode, sb.st_mode, sa.st_uid, sb.st_uid,
			    sa.st_gid, sb.st_gid, (unsigned long)sa.st_nlink,
			    (unsigned long)sb.st_nlink);
		assert_int_equal(sa.st_mode, sb.st_mode);
		assert_int_equal(sa.st_uid, sb.st_uid);
		assert_int_equal(sa.st_gid, sb.st_gid);
		assert_int_equal(sa.st_nlink, sb.st_nlink);
		if (S_ISREG(sa.st_mode)) {
			size_t la, lb;
			uint8_t *da = slurp(a, p, &la), *db = slurp(b, p, &lb);

			assert_int_equal(la, lb);
			assert_memory_equal(da, db, la);
			free(da);
			free(db);
		} else if (S_ISLNK(sa.st_mode)) {
			ssize_t ka = readlinkat(a, p, ta, sizeof ta - 1);
			ssize_t kb = readlinkat(b, p, tb, sizeof tb - 1);

			assert_true(ka >= 0 && kb >= 0);
			ta[ka] = tb[kb] = '\0';
			assert_string_equal(ta, tb);
		} else if (S_ISCHR(sa.st_mode) || S_ISBLK(sa.st_mode)) {
			assert_int_equal(sa.st_rdev, sb.st_rdev);
		} else if (S_ISDIR(sa.st_mode)) {
			assert_same_tree(a, b, p);
		}
	}
	names_free(&na);
	names_free(&nb);
}

/* Every Treaddir entry of an opened directory, count bytes a call, in
 * the order given; returns the number of calls that gave entries. */
static int
readdir_all(struct p9_cl *cl, uint32_t fid, size_t count, struct names *ns)
{
	uint8_t *buf = malloc(count);
	uint64_t off = 0;
	int rounds = 0;

	assert_non_null(buf);
	for (;;) {
		ssize_t n = p9_cl_readdir(cl, fid, off, buf, count);
		size_t p = 0;

		assert_true(n >= 0);
		if (n == 0)
			break;
		assert_true(++rounds < 100000);
		while (p < (size_t)n) {
			struct p9_dirent de;
			ssize_t k =
			    p9_dirent_unpack(&de, buf + p, (size_t)n - p);

			assert_true(k > 0);
			names_add(ns, de.name, de.namelen);
			off = de.offset;
			p += (size_t)k;
		}
	}
	free(buf);
	return rounds;
}

/* One stat record of a 9P2000 directory read, copied out. */
struct ent {
	char name[NAME_MAX + 1];
	char uid[64];
	char ext[PATH_MAX];
	uint32_t mode;
	uint64_t length;
	struct p9_qid qid;
	uint32_t n_uid, n_gid;
};

static void
ent_of(struct ent *e, const struct p9_stat *st)
{
	memset(e, 0, sizeof *e);
	snprintf(e->name, sizeof e->name, "%s", st->name);
	snprintf(e->uid, sizeof e->uid, "%s", st->uid);
	snprintf(
	    e->ext, sizeof e->ext, "%s", st->extension ? st->extension : "");
	e->mode = st->mode;
	e->length = st->length;
	e->qid = st->qid;
	e->n_uid = st->n_uid;
	e->n_gid = st->n_gid;
}

/* Reads an opened directory to its end with Tread (9P2000, .u), count
 * bytes a call; the stat records into *out.  Returns how many. */
static size_t
dirread_all(struct p9_cl *cl, uint32_t fid, size_t count, enum p9_dialect d,
    struct ent **out)
{
	uint8_t *buf = malloc(count);
	uint64_t off = 0;
	size_t n = 0, cap = 0;
	int rounds = 0;

	assert_non_null(buf);
	*out = NULL;
	for (;;) {
		ssize_t got = p9_cl_read(cl, fid, off, buf, count);
		size_t p = 0;

		assert_true(got >= 0);
		if (got == 0)
			break;
		assert_true(++rounds < 100000);
		off += (uint64_t)got;
		while (p < (size_t)got) {
			struct p9_stat st;
			size_t len;
			uint8_t *rec;

			assert_true((size_t)got - p >= 2);
			len = 2 + (size_t)(buf[p] | buf[p + 1] << 8);
			assert_true(len <= (size_t)got - p);
			rec = malloc(len + 1); /* unpacking needs a spare */
			assert_non_null(rec);
			memcpy(rec, buf + p, len);
			assert_int_equal(
			    p9_stat_unpack(&st, rec, len, d), (ssize_t)len);
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				*out = realloc(*out, cap * sizeof **out);
				assert_non_null(*out);
			}
			ent_of(&(*out)[n++], &st);
			free(rec);
			p += len;
		}
	}
	free(buf);
	return n;
}

static void
assert_attr_is_stat(const struct p9_attr *a, const struct stat *st)
{
	assert_true((a->valid & P9_GETATTR_BASIC) == P9_GETATTR_BASIC);
	assert_int_equal(a->mode, st->st_mode);
	assert_int_equal(a->uid, st->st_uid);
	assert_int_equal(a->gid, st->st_gid);
	assert_int_equal(a->nlink, st->st_nlink);
	assert_int_equal(a->rdev, st->st_rdev);
	assert_int_equal(a->size, st->st_size);
	assert_int_equal(a->blocks, st->st_blocks);
	assert_int_equal(a->mtime_sec, st->st_mtim.tv_sec);
	assert_int_equal(a->mtime_nsec, st->st_mtim.tv_nsec);
	assert_int_equal(a->atime_sec, st->st_atim.tv_sec);
	assert_int_equal(a->atime_nsec, st->st_atim.tv_nsec);
	assert_int_equal(a->ctime_sec, st->st_ctim.tv_sec);
	assert_int_equal(a->ctime_nsec, st->st_ctim.tv_nsec);
	/* the export is one file system: qid.path is the inode number */
	assert_int_equal(a->qid.path, st->st_ino);
}

/* A root session in dialect d: the client, and its root fid in *root. */
static struct p9_cl *
session(struct fx *x, enum p9_dialect d, uint32_t *root, struct p9_qid *rq)
{
	struct p9_cl *cl = dial(x, d);

	*root = attach(cl, 0, rq);
	return cl;
}

/* ---- 9P2000.L: every operation, compared with doing it directly ---- */

static void
test_lopen_read_gives_the_file_contents(void **state)
{
	struct fx *x = *state;
	size_t n = 300000, len, dlen;
	uint8_t *data = malloc(n), *got, *direct, buf[1000], want[1000];
	uint32_t root, f;
	struct p9_qid q;
	struct p9_cl *cl;

	assert_non_null(data);
	fill(data, n, 1);
	put(x->efd, "data", data, n, 0644);
	put(x->efd, "empty", "", 0, 0644);
	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);

	f = walkto(cl, root, "data", &q);
	assert_int_equal(q.type, P9_QTFILE);
	assert_int_equal(p9_cl_lopen(cl, f, P9_L_RDONLY, NULL, NULL), 0);
	got = cl_slurp(cl, f, &len);
	direct = slurp(x->efd, "data", &dlen);
	assert_int_equal(len, dlen);
	assert_memory_equal(got, direct, len);
	/* a read at an odd offset is what pread gives */
	assert_int_equal(
	    p9_cl_read(cl, f, 123457, buf, sizeof buf), (ssize_t)sizeof buf);
	memcpy(want, direct + 123457, sizeof want);
	assert_memory_equal(buf, want, sizeof buf);
	/* at and past the end: nothing */
	assert_int_equal(p9_cl_read(cl, f, n - 10, buf, sizeof buf), 10);
	assert_int_equal(p9_cl_read(cl, f, n, buf, sizeof buf), 0);
	assert_int_equal(p9_cl_read(cl, f, n + 4096, buf, sizeof buf), 0);
	assert_int_equal(p9_cl_clunk(cl, f), 0);
	free(got);

	f = lopen_path(cl, root, "empty", P9_L_RDONLY);
	assert_int_equal(p9_cl_read(cl, f, 0, buf, sizeof buf), 0);
	assert_int_equal(p9_cl_clunk(cl, f), 0);

	/* open(2) of a missing name: ENOENT; so the walk */
	assert_int_equal(try_lopen(cl, root, "nothing", P9_L_RDONLY), -ENOENT);
	free(direct);
	free(data);
}

static void
test_lcreate_and_writes_at_offsets_match_pwrite_in_the_twin(void **state)
{
	static const struct {
		uint64_t off;
		size_t len;
	} w[] = {
	    {0, 1000},
	    {5000, 3000},
	    {10, 20},
	    {100000, 70000}, /* larger than msize: the client splits it */
	    {4990, 20},
	    {1 << 20, 1},
	};
	struct fx *x = *state;
	uint32_t root, d;
	struct p9_qid q;
	struct p9_cl *cl;
	uint8_t *data, *got, *ondisk;
	size_t i, len, dlen;
	struct stat se, st;
	int tfd;

	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);
	d = walkto(cl, root, "", NULL);
	assert_int_equal(p9_cl_lcreate(cl, d, "f",
	                     P9_L_RDWR | P9_L_CREATE | P9_L_EXCL, 0640, 0, &q),
	    0);
	assert_int_equal(q.type, P9_QTFILE);
	tfd = openat(x->tfd, "f", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	assert_true(tfd >= 0);
	for (i = 0; i < sizeof w / sizeof w[0]; i++) {
		data = malloc(w[i].len);
		assert_non_null(data);
		fill(data, w[i].len, (unsigned)i + 7);
		assert_int_equal(p9_cl_write(cl, d, w[i].off, data, w[i].len),
		    (ssize_t)w[i].len);
		assert_int_equal(pwrite(tfd, data, w[i].len, (off_t)w[i].off),
		    (ssize_t)w[i].len);
		free(data);
	}
	close(tfd);
	/* read back over 9P and on disk: what pwrite made in the twin */
	got = cl_slurp(cl, d, &len);
	ondisk = slurp(x->tfd, "f", &dlen);
	assert_int_equal(len, dlen);
	assert_memory_equal(got, ondisk, len);
	free(got);
	free(ondisk);
	assert_same_tree(x->efd, x->tfd, ".");
	se = lst(x->efd, "f");
	st = lst(x->tfd, "f");
	assert_int_equal(se.st_mode, S_IFREG | 0640);
	assert_int_equal(se.st_size, st.st_size);
	assert_int_equal(q.path, se.st_ino);
	assert_int_equal(p9_cl_clunk(cl, d), 0);

	/* an exclusive create of an existing name: EEXIST, as open(2) */
	d = walkto(cl, root, "", NULL);
	assert_int_equal(p9_cl_lcreate(cl, d, "f",
	                     P9_L_RDWR | P9_L_CREATE | P9_L_EXCL, 0640, 0, &q),
	    rc_of(openat(x->tfd, "f", O_RDWR | O_CREAT | O_EXCL, 0640)));
	assert_int_equal(errno, EEXIST);
	assert_int_equal(p9_cl_clunk(cl, d), 0);
}

static void
test_getattr_matches_stat(void **state)
{
	static const char *const names[] = {"f", "f2", "d", "l", "p", "."};
	struct fx *x = *state;
	struct timespec ts[2] = {{1111111111, 222222222}, {1333333333, 444}};
	uint8_t data[1234];
	struct p9_attr a;
	struct p9_cl *cl;
	uint32_t root, f;
	size_t i;

	fill(data, sizeof data, 3);
	put(x->efd, "f", data, sizeof data, 0640);
	assert_int_equal(fchownat(x->efd, "f", 1000, 2000, 0), 0);
	assert_int_equal(utimensat(x->efd, "f", ts, 0), 0);
	assert_int_equal(linkat(x->efd, "f", x->efd, "f2", 0), 0);
	assert_int_equal(mkdirat(x->efd, "d", 0750), 0);
	assert_int_equal(mkdirat(x->efd, "d/sub", 0750), 0);
	assert_int_equal(symlinkat("some/where", x->efd, "l"), 0);
	assert_int_equal(mkfifoat(x->efd, "p", 0600), 0);
	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		struct stat st;
		struct p9_qid q;

		f = walkto(cl, root, names[i], &q);
		memset(&a, 0, sizeof a);
		assert_int_equal(p9_cl_getattr(cl, f, P9_GETATTR_ALL, &a), 0);
		st = lst(x->efd, names[i]);
		assert_attr_is_stat(&a, &st);
		assert_int_equal(a.qid.type, S_ISDIR(st.st_mode) ? P9_QTDIR
		                             : S_ISLNK(st.st_mode)
		                                 ? P9_QTSYMLINK
		                                 : P9_QTFILE);
		if (strcmp(names[i], ".") != 0)
			assert_int_equal(q.path, st.st_ino);
		assert_int_equal(p9_cl_clunk(cl, f), 0);
	}
	/* and the attach fid itself */
	assert_int_equal(p9_cl_getattr(cl, root, P9_GETATTR_BASIC, &a), 0);
	{
		struct stat st;

		assert_int_equal(fstat(x->efd, &st), 0);
		assert_attr_is_stat(&a, &st);
	}
}

/* The same Tsetattr change made directly on the twin's file. */
static void
setattr_direct(struct fx *x, const char *name, const struct p9_iattr *a)
{
	char p[PATH_MAX];

	if (a->valid & P9_SETATTR_MODE)
		assert_int_equal(fchmodat(x->tfd, name, a->mode & 07777, 0), 0);
	if (a->valid & (P9_SETATTR_UID | P9_SETATTR_GID))
		assert_int_equal(
		    fchownat(x->tfd, name,
		        a->valid & P9_SETATTR_UID ? a->uid : (uid_t)-1,
		        a->valid & P9_SETATTR_GID ? a->gid : (gid_t)-1,
		        AT_SYMLINK_NOFOLLOW),
		    0);
	snprintf(p, sizeof p, "%s/%s", x->twin, name);
	if (a->valid & P9_SETATTR_SIZE)
		assert_int_equal(truncate(p, (off_t)a->size), 0);
	if (a->valid & (P9_SETATTR_ATIME | P9_SETATTR_MTIME)) {
		struct timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};

		if (a->valid & P9_SETATTR_ATIME)
			ts[0] = a->valid & P9_SETATTR_ATIME_SET
			            ? (struct timespec){(time_t)a->atime_sec,
			                  (long)a->atime_nsec}
			            : (struct timespec){0, UTIME_NOW};
		if (a->valid & P9_SETATTR_MTIME)
			ts[1] = a->valid & P9_SETATTR_MTIME_SET
			            ? (struct timespec){(time_t)a->mtime_sec,
			                  (long)a->mtime_nsec}
			            : (struct timespec){0, UTIME_NOW};
		assert_int_equal(utimensat(x->tfd, name, ts, 0), 0);
	}
}

static void
assert_same_attrs(struct fx *x, const char *name)
{
	struct stat se = lst(x->efd, name), st = lst(x->tfd, name);

	assert_int_equal(se.st_mode, st.st_mode);
	assert_int_equal(se.st_uid, st.st_uid);
	assert_int_equal(se.st_gid, st.st_gid);
	assert_int_equal(se.st_size, st.st_size);
	assert_int_equal(se.st_nlink, st.st_nlink);
}

static void
test_setattr_matches_the_same_change_made_directly(void **state)
{
	struct fx *x = *state;
	struct p9_iattr a;
	struct timespec t0, t1;
	struct stat se, st;
	uint8_t data[4096];
	struct p9_cl *cl;
	uint32_t root, f, d;

	fill(data, sizeof data, 4);
	put_both(x, "f", data, sizeof data, 0644);
	mkdir_both(x, "d", 0755);
	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);
	f = walkto(cl, root, "f", NULL);

	/* chmod, set-uid bit included */
	memset(&a, 0, sizeof a);
	a.valid = P9_SETATTR_MODE;
	a.mode = 04751;
	assert_int_equal(p9_cl_setattr(cl, f, &a), 0);
	setattr_direct(x, "f", &a);
	assert_same_attrs(x, "f");
	assert_int_equal(lst(x->efd, "f").st_mode, S_IFREG | 04751);

	/* chown to another user and group, as root (clears set-uid) */
	memset(&a, 0, sizeof a);
	a.valid = P9_SETATTR_UID | P9_SETATTR_GID;
	a.uid = 1234;
	a.gid = 5678;
	assert_int_equal(p9_cl_setattr(cl, f, &a), 0);
	setattr_direct(x, "f", &a);
	assert_same_attrs(x, "f");
	assert_int_equal(lst(x->efd, "f").st_uid, 1234);
	assert_int_equal(lst(x->efd, "f").st_gid, 5678);

	/* the group alone */
	memset(&a, 0, sizeof a);
	a.valid = P9_SETATTR_GID;
	a.gid = 4321;
	assert_int_equal(p9_cl_setattr(cl, f, &a), 0);
	setattr_direct(x, "f", &a);
	assert_same_attrs(x, "f");

	/* truncate: grow, then shrink */
	memset(&a, 0, sizeof a);
	a.valid = P9_SETATTR_SIZE;
	a.size = 100000;
	assert_int_equal(p9_cl_setattr(cl, f, &a), 0);
	setattr_direct(x, "f", &a);
	assert_same_attrs(x, "f");
	assert_int_equal(lst(x->efd, "f").st_size, 100000);
	a.size = 10;
	assert_int_equal(p9_cl_setattr(cl, f, &a), 0);
	setattr_direct(x, "f", &a);
	assert_same_attrs(x, "f");
	assert_same_tree(x->efd, x->tfd, ".");

	/* atime and mtime set explicitly, to the nanosecond */
	memset(&a, 0, sizeof a);
	a.valid = P9_SETATTR_ATIME | P9_SETATTR_MTIME | P9_SETATTR_ATIME_SET |
	          P9_SETATTR_MTIME_SET;
	a.atime_sec = 1000000000;
	a.atime_nsec = 123456789;
	a.mtime_sec = 1234567890;
	a.mtime_nsec = 987654321;
	assert_int_equal(p9_cl_setattr(cl, f, &a), 0);
	setattr_direct(x, "f", &a);
	se = lst(x->efd, "f");
	st = lst(x->tfd, "f");
	assert_int_equal(se.st_atim.tv_sec, 1000000000);
	assert_int_equal(se.st_atim.tv_nsec, 123456789);
	assert_int_equal(se.st_mtim.tv_sec, 1234567890);
	assert_int_equal(se.st_mtim.tv_nsec, 987654321);
	assert_int_equal(se.st_atim.tv_sec, st.st_atim.tv_sec);
	assert_int_equal(se.st_atim.tv_nsec, st.st_atim.tv_nsec);
	assert_int_equal(se.st_mtim.tv_sec, st.st_mtim.tv_sec);
	assert_int_equal(se.st_mtim.tv_nsec, st.st_mtim.tv_nsec);

	/* mtime alone: atime is left as it was */
	memset(&a, 0, sizeof a);
	a.valid = P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET;
	a.mtime_sec = 1500000000;
	a.mtime_nsec = 5;
	assert_int_equal(p9_cl_setattr(cl, f, &a), 0);
	setattr_direct(x, "f", &a);
	se = lst(x->efd, "f");
	st = lst(x->tfd, "f");
	assert_int_equal(se.st_mtim.tv_sec, 1500000000);
	assert_int_equal(se.st_mtim.tv_nsec, 5);
	assert_int_equal(se.st_atim.tv_sec, 1000000000);
	assert_int_equal(se.st_atim.tv_nsec, 123456789);
	assert_int_equal(se.st_atim.tv_nsec, st.st_atim.tv_nsec);

	/* both set to now (a time bit without its _SET bit) */
	clock_gettime(CLOCK_REALTIME, &t0);
	memset(&a, 0, sizeof a);
	a.valid = P9_SETATTR_ATIME | P9_SETATTR_MTIME;
	assert_int_equal(p9_cl_setattr(cl, f, &a), 0);
	setattr_direct(x, "f", &a);
	clock_gettime(CLOCK_REALTIME, &t1);
	se = lst(x->efd, "f");
	st = lst(x->tfd, "f");
	/* file times come from the coarse clock: a tick of slack */
	assert_in_range(se.st_atim.tv_sec, t0.tv_sec - 1, t1.tv_sec + 1);
	assert_in_range(se.st_mtim.tv_sec, t0.tv_sec - 1, t1.tv_sec + 1);
	assert_in_range(st.st_mtim.tv_sec, t0.tv_sec - 1, t1.tv_sec + 1);

	/* a directory's mode */
	d = walkto(cl, root, "d", NULL);
	memset(&a, 0, sizeof a);
	a.valid = P9_SETATTR_MODE;
	a.mode = 0710;
	assert_int_equal(p9_cl_setattr(cl, d, &a), 0);
	setattr_direct(x, "d", &a);
	assert_same_attrs(x, "d");
	/* truncating a directory: what truncate(2) says */
	a.valid = P9_SETATTR_SIZE;
	a.size = 0;
	{
		char p[PATH_MAX];

		snprintf(p, sizeof p, "%s/d", x->twin);
		assert_int_equal(
		    p9_cl_setattr(cl, d, &a), rc_of(truncate(p, 0)));
	}
	assert_same_tree(x->efd, x->tfd, ".");
	assert_int_equal(p9_cl_clunk(cl, d), 0);
	assert_int_equal(p9_cl_clunk(cl, f), 0);
}

static void
test_readdir_in_small_rounds_gives_every_name_once(void **state)
{
	struct fx *x = *state;
	struct names small = {0}, big = {0}, direct = {0}, sorted = {0};
	struct p9_cl *cl;
	uint32_t root, d;
	char name[64];
	int i, rounds;
	size_t k;

	assert_int_equal(mkdirat(x->efd, "many", 0755), 0);
	for (i = 0; i < 500; i++) {
		int fd;

		snprintf(name, sizeof name, "many/file-%03d-%.*s", i, i % 40,
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN");
		fd = openat(x->efd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		assert_true(fd >= 0);
		close(fd);
	}
	assert_int_equal(mkdirat(x->efd, "many/subdir", 0755), 0);
	assert_int_equal(symlinkat("file-000-", x->efd, "many/link"), 0);
	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);

	/* 300 bytes a call: about ten entries, so fifty-odd rounds */
	d = lopen_path(cl, root, "many", P9_L_RDONLY | P9_L_DIRECTORY);
	rounds = readdir_all(cl, d, 300, &small);
	assert_true(rounds > 20);
	assert_int_equal(p9_cl_clunk(cl, d), 0);

	/* the names readdir(3) gives, "." and ".." included */
	list_dir(x->efd, "many", 1, &direct);
	assert_int_equal(direct.n, 504);
	for (k = 0; k < small.n; k++)
		names_add(&sorted, small.v[k], strlen(small.v[k]));
	names_sort(&sorted);
	for (k = 1; k < sorted.n; k++)
		if (!strcmp(sorted.v[k - 1], sorted.v[k]))
			fail_msg("%s given twice", sorted.v[k]);
	assert_names_equal(&sorted, &direct);

	/* stable: one big read from a fresh open gives the same sequence */
	d = lopen_path(cl, root, "many", P9_L_RDONLY | P9_L_DIRECTORY);
	assert_true(readdir_all(cl, d, 65536, &big) < rounds);
	assert_names_equal(&small, &big);
	/* and a second pass on the same fid, from 0, the same again */
	names_free(&big);
	readdir_all(cl, d, 777, &big);
	assert_names_equal(&small, &big);
	assert_int_equal(p9_cl_clunk(cl, d), 0);

	names_free(&small);
	names_free(&big);
	names_free(&direct);
	names_free(&sorted);
}

static void
test_mkdir_makes_what_mkdir_makes(void **state)
{
	struct fx *x = *state;
	struct p9_cl *cl;
	struct p9_qid q;
	uint32_t root, d;

	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);
	assert_int_equal(t_mkdir(cl, root, "d", 0750, 0, &q), 0);
	assert_int_equal(mkdirat(x->tfd, "d", 0750), 0);
	assert_int_equal(q.type, P9_QTDIR);
	assert_int_equal(q.path, lst(x->efd, "d").st_ino);
	/* sticky, and a group the client asks for (root may) */
	assert_int_equal(t_mkdir(cl, root, "t", 01777, 4321, NULL), 0);
	assert_int_equal(mkdirat(x->tfd, "t", 01777), 0);
	assert_int_equal(fchownat(x->tfd, "t", (uid_t)-1, 4321, 0), 0);
	/* inside a subdirectory, by its fid */
	d = walkto(cl, root, "d", NULL);
	assert_int_equal(t_mkdir(cl, d, "e", 0700, 0, NULL), 0);
	assert_int_equal(mkdirat(x->tfd, "d/e", 0700), 0);
	/* an existing name: what mkdir(2) says */
	assert_int_equal(t_mkdir(cl, root, "d", 0700, 0, NULL),
	    rc_of(mkdirat(x->tfd, "d", 0700)));
	assert_int_equal(errno, EEXIST);
	assert_same_tree(x->efd, x->tfd, ".");
	assert_int_equal(p9_cl_clunk(cl, d), 0);
}

static void
test_symlink_and_readlink_give_the_target(void **state)
{
	static const char *const targets[] = {
	    "plain",
	    "some/dir/../x",
	    "/etc/passwd",
	    "../../../../outside",
	    "a-target-of-two-hundred-bytes-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	};
	struct fx *x = *state;
	char name[32], got[PATH_MAX], direct[PATH_MAX];
	struct p9_cl *cl;
	struct p9_qid q;
	uint32_t root, f;
	size_t i;
	ssize_t n;

	put_both(x, "plainfile", "x", 1, 0644);
	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);
	for (i = 0; i < sizeof targets / sizeof targets[0]; i++) {
		snprintf(name, sizeof name, "l%zu", i);
		assert_int_equal(t_symlink(cl, root, name, targets[i], &q), 0);
		assert_int_equal(symlinkat(targets[i], x->tfd, name), 0);
		assert_int_equal(q.type, P9_QTSYMLINK);
		assert_int_equal(q.path, lst(x->efd, name).st_ino);
		/* readlink(2) of what fsrv made */
		n = readlinkat(x->efd, name, direct, sizeof direct - 1);
		assert_true(n >= 0);
		direct[n] = '\0';
		assert_string_equal(direct, targets[i]);
		/* Treadlink of the walked link */
		f = walkto(cl, root, name, &q);
		assert_int_equal(q.type, P9_QTSYMLINK);
		assert_int_equal(t_readlink(cl, f, got, sizeof got), 0);
		assert_string_equal(got, targets[i]);
		assert_int_equal(p9_cl_clunk(cl, f), 0);
	}
	/* an existing name: what symlink(2) says */
	assert_int_equal(t_symlink(cl, root, "l0", "again", NULL),
	    rc_of(symlinkat("again", x->tfd, "l0")));
	assert_int_equal(errno, EEXIST);
	/* readlink of a file that is no link: what readlink(2) says */
	f = walkto(cl, root, "plainfile", NULL);
	assert_int_equal(t_readlink(cl, f, got, sizeof got),
	    rc_of(readlinkat(x->tfd, "plainfile", direct, sizeof direct)));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(p9_cl_clunk(cl, f), 0);
	assert_same_tree(x->efd, x->tfd, ".");
}

static void
test_link_gives_the_same_inode_and_nlink_2(void **state)
{
	struct fx *x = *state;
	struct stat s1, s2;
	struct p9_cl *cl;
	uint32_t root, f, d;

	put_both(x, "f", "hello", 5, 0644);
	mkdir_both(x, "d", 0755);
	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);
	f = walkto(cl, root, "f", NULL);
	assert_int_equal(t_link(cl, root, f, "hard"), 0);
	assert_int_equal(linkat(x->tfd, "f", x->tfd, "hard", 0), 0);
	s1 = lst(x->efd, "f");
	s2 = lst(x->efd, "hard");
	assert_int_equal(s1.st_ino, s2.st_ino);
	assert_int_equal(s1.st_nlink, 2);
	/* into another directory, by its fid */
	d = walkto(cl, root, "d", NULL);
	assert_int_equal(t_link(cl, d, f, "third"), 0);
	assert_int_equal(linkat(x->tfd, "f", x->tfd, "d/third", 0), 0);
	assert_int_equal(lst(x->efd, "d/third").st_ino, s1.st_ino);
	assert_int_equal(lst(x->efd, "f").st_nlink, 3);
	/* onto an existing name, and of a directory: what link(2) says */
	assert_int_equal(t_link(cl, root, f, "hard"),
	    rc_of(linkat(x->tfd, "f", x->tfd, "hard", 0)));
	assert_int_equal(errno, EEXIST);
	assert_int_equal(t_link(cl, root, d, "dirlink"),
	    rc_of(linkat(x->tfd, "d", x->tfd, "dirlink", 0)));
	assert_int_equal(errno, EPERM);
	assert_same_tree(x->efd, x->tfd, ".");
	assert_int_equal(p9_cl_clunk(cl, d), 0);
	assert_int_equal(p9_cl_clunk(cl, f), 0);
}

static void
test_mknod_makes_a_fifo_and_a_char_device(void **state)
{
	struct fx *x = *state;
	struct p9_cl *cl;
	struct p9_qid q;
	struct stat st;
	uint32_t root;

	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);
	assert_int_equal(t_mknod(cl, root, "p", S_IFIFO | 0640, 0, 0, &q), 0);
	assert_int_equal(mknodat(x->tfd, "p", S_IFIFO | 0640, 0), 0);
	st = lst(x->efd, "p");
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(q.path, st.st_ino);
	/* as root: /dev/null's numbers */
	assert_int_equal(
	    t_mknod(cl, root, "null", S_IFCHR | 0666, 1, 3, &q), 0);
	assert_int_equal(
	    mknodat(x->tfd, "null", S_IFCHR | 0666, makedev(1, 3)), 0);
	st = lst(x->efd, "null");
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(major(st.st_rdev), 1);
	assert_int_equal(minor(st.st_rdev), 3);
	/* an existing name */
	assert_int_equal(t_mknod(cl, root, "p", S_IFIFO | 0600, 0, 0, NULL),
	    rc_of(mknodat(x->tfd, "p", S_IFIFO | 0600, 0)));
	assert_int_equal(errno, EEXIST);
	assert_same_tree(x->efd, x->tfd, ".");
}

static void
test_rename_moves_the_file_and_the_fid_follows(void **state)
{
	struct fx *x = *state;
	struct p9_attr a;
	struct p9_cl *cl;
	uint32_t root, f, sub, y;
	ino_t ino;

	put_both(x, "a", "AAAA", 4, 0644);
	put_both(x, "x", "XX", 2, 0600);
	put_both(x, "y", "YYYYYY", 6, 0644);
	mkdir_both(x, "sub", 0755);
	ino = lst(x->efd, "a").st_ino;
	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);

	f = walkto(cl, root, "a", NULL);
	sub = walkto(cl, root, "sub", NULL);
	assert_int_equal(t_rename(cl, f, sub, "b"), 0);
	assert_int_equal(renameat(x->tfd, "a", x->tfd, "sub/b"), 0);
	assert_same_tree(x->efd, x->tfd, ".");
	assert_int_equal(lst(x->efd, "sub/b").st_ino, ino);
	/* the fid names the file at its new place: it moves again */
	assert_int_equal(p9_cl_getattr(cl, f, P9_GETATTR_BASIC, &a), 0);
	assert_int_equal(a.qid.path, ino);
	assert_int_equal(t_rename(cl, f, root, "c"), 0);
	assert_int_equal(renameat(x->tfd, "sub/b", x->tfd, "c"), 0);
	assert_same_tree(x->efd, x->tfd, ".");
	assert_int_equal(lst(x->efd, "c").st_ino, ino);
	assert_int_equal(p9_cl_clunk(cl, f), 0);

	/* over an existing file: it is replaced, as by rename(2) */
	f = walkto(cl, root, "x", NULL);
	assert_int_equal(t_rename(cl, f, root, "y"), 0);
	assert_int_equal(renameat(x->tfd, "x", x->tfd, "y"), 0);
	assert_same_tree(x->efd, x->tfd, ".");
	y = lopen_path(cl, root, "y", P9_L_RDONLY);
	{
		char buf[16];

		assert_int_equal(p9_cl_read(cl, y, 0, buf, sizeof buf), 2);
		assert_memory_equal(buf, "XX", 2);
	}
	assert_int_equal(p9_cl_clunk(cl, y), 0);
	assert_int_equal(p9_cl_clunk(cl, f), 0);
	/* a directory over a non-empty one: what rename(2) says */
	assert_int_equal(mkdirat(x->efd, "e", 0755), 0);
	assert_int_equal(mkdirat(x->tfd, "e", 0755), 0);
	put_both(x, "sub/full", "", 0, 0644);
	f = walkto(cl, root, "e", NULL);
	assert_int_equal(t_rename(cl, f, root, "sub"),
	    rc_of(renameat(x->tfd, "e", x->tfd, "sub")));
	assert_true(errno == ENOTEMPTY || errno == EEXIST);
	assert_same_tree(x->efd, x->tfd, ".");
	assert_int_equal(p9_cl_clunk(cl, f), 0);
	assert_int_equal(p9_cl_clunk(cl, sub), 0);
}

static void
test_renameat_moves_names_and_replaces_like_renameat(void **state)
{
	struct fx *x = *state;
	struct p9_cl *cl;
	uint32_t root, sub;

	put_both(x, "a", "AAAA", 4, 0644);
	put_both(x, "x", "XX", 2, 0600);
	put_both(x, "y", "YYYYYY", 6, 0644);
	mkdir_both(x, "sub", 0755);
	mkdir_both(x, "e", 0755);
	mkdir_both(x, "full", 0755);
	put_both(x, "full/f", "", 0, 0644);
	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);
	sub = walkto(cl, root, "sub", NULL);

	assert_int_equal(t_renameat(cl, root, "a", sub, "b"), 0);
	assert_int_equal(renameat(x->tfd, "a", x->tfd, "sub/b"), 0);
	assert_same_tree(x->efd, x->tfd, ".");
	/* back, within one directory fid */
	assert_int_equal(t_renameat(cl, sub, "b", sub, "c"), 0);
	assert_int_equal(renameat(x->tfd, "sub/b", x->tfd, "sub/c"), 0);
	/* over an existing file */
	assert_int_equal(t_renameat(cl, root, "x", root, "y"), 0);
	assert_int_equal(renameat(x->tfd, "x", x->tfd, "y"), 0);
	assert_same_tree(x->efd, x->tfd, ".");
	/* what renameat(2) says: missing, dir over non-empty dir, file over
	 * dir, dir over file */
	assert_int_equal(t_renameat(cl, root, "nothing", root, "z"),
	    rc_of(renameat(x->tfd, "nothing", x->tfd, "z")));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(t_renameat(cl, root, "e", root, "full"),
	    rc_of(renameat(x->tfd, "e", x->tfd, "full")));
	assert_true(errno == ENOTEMPTY || errno == EEXIST);
	assert_int_equal(t_renameat(cl, root, "y", root, "e"),
	    rc_of(renameat(x->tfd, "y", x->tfd, "e")));
	assert_int_equal(errno, EISDIR);
	assert_int_equal(t_renameat(cl, root, "e", root, "y"),
	    rc_of(renameat(x->tfd, "e", x->tfd, "y")));
	assert_int_equal(errno, ENOTDIR);
	assert_same_tree(x->efd, x->tfd, ".");
	assert_int_equal(p9_cl_clunk(cl, sub), 0);
}

static void
test_unlinkat_gives_what_unlinkat_gives(void **state)
{
	static const struct {
		const char *name;
		int removedir;
		int err; /* what Linux says, to be sure of the twin */
	} cases[] = {
	    {"f", 0, 0},
	    {"empty", 1, 0},
	    {"full", 1, ENOTEMPTY},
	    {"dir", 0, EISDIR},
	    {"g", 1, ENOTDIR},
	    {"nothing", 0, ENOENT},
	    {"nothing", 1, ENOENT},
	    {"link", 0, 0},
	};
	struct fx *x = *state;
	struct p9_cl *cl;
	uint32_t root, full;
	size_t i;

	put_both(x, "f", "f", 1, 0644);
	put_both(x, "g", "g", 1, 0644);
	mkdir_both(x, "empty", 0755);
	mkdir_both(x, "full", 0755);
	mkdir_both(x, "dir", 0755);
	put_both(x, "full/x", "x", 1, 0644);
	assert_int_equal(symlinkat("dir", x->efd, "link"), 0);
	assert_int_equal(symlinkat("dir", x->tfd, "link"), 0);
	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int fl = cases[i].removedir ? AT_REMOVEDIR : 0;
		int direct = rc_of(unlinkat(x->tfd, cases[i].name, fl));

		assert_int_equal(direct, -cases[i].err);
		assert_int_equal(t_unlinkat(cl, root, cases[i].name,
		                     cases[i].removedir ? P9_AT_REMOVEDIR : 0),
		    direct);
	}
	assert_true(missing(x->efd, "f"));
	assert_true(missing(x->efd, "empty"));
	/* the link went, not what it points to */
	assert_true(missing(x->efd, "link"));
	assert_true(S_ISDIR(lst(x->efd, "dir").st_mode));
	/* beneath a directory fid */
	full = walkto(cl, root, "full", NULL);
	assert_int_equal(t_unlinkat(cl, full, "x", 0), 0);
	assert_int_equal(unlinkat(x->tfd, "full/x", 0), 0);
	assert_same_tree(x->efd, x->tfd, ".");
	assert_int_equal(p9_cl_clunk(cl, full), 0);
}

static void
test_fsync_of_open_files_and_directories_succeeds(void **state)
{
	struct fx *x = *state;
	struct p9_cl *cl;
	uint32_t root, f, d;

	put(x->efd, "f", "abc", 3, 0644);
	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);
	f = lopen_path(cl, root, "f", P9_L_RDWR);
	assert_int_equal(p9_cl_write(cl, f, 3, "def", 3), 3);
	assert_int_equal(t_fsync(cl, f, 0), 0);
	assert_int_equal(t_fsync(cl, f, 1), 0);
	d = lopen_path(cl, root, "", P9_L_RDONLY | P9_L_DIRECTORY);
	assert_int_equal(t_fsync(cl, d, 0), 0);
	assert_int_equal(lst(x->efd, "f").st_size, 6);
	assert_int_equal(p9_cl_clunk(cl, d), 0);
	assert_int_equal(p9_cl_clunk(cl, f), 0);
}

static void
test_statfs_matches_statfs(void **state)
{
	struct fx *x = *state;
	struct p9_statfs s;
	struct statfs sf;
	struct p9_cl *cl;
	uint32_t root, f;

	put(x->efd, "f", "abc", 3, 0644);
	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);
	assert_int_equal(t_statfs(cl, root, &s), 0);
	assert_int_equal(fstatfs(x->efd, &sf), 0);
	assert_int_equal(s.type, 0x01021997);
	assert_int_equal(s.bsize, sf.f_bsize);
	assert_int_equal(s.blocks, sf.f_blocks);
	assert_int_equal(s.files, sf.f_files);
	assert_int_equal(s.namelen, sf.f_namelen);
	assert_int_equal(
	    s.fsid, (uint64_t)(uint32_t)sf.f_fsid.__val[0] |
	                (uint64_t)(uint32_t)sf.f_fsid.__val[1] << 32);
	/* of a file: the same file system */
	f = walkto(cl, root, "f", NULL);
	assert_int_equal(t_statfs(cl, f, &s), 0);
	assert_int_equal(s.bsize, sf.f_bsize);
	assert_int_equal(s.blocks, sf.f_blocks);
	assert_int_equal(p9_cl_clunk(cl, f), 0);
}

/* The xattr names of a NUL-separated list, sorted. */
static void
xattr_names(const char *list, size_t n, struct names *ns)
{
	size_t p = 0;

	while (p < n) {
		size_t k = strnlen(list + p, n - p);

		names_add(ns, list + p, k);
		p += k + 1;
	}
	names_sort(ns);
}

static void
assert_same_xattrs(struct fx *x, const char *name)
{
	char le[4096], lt[4096], pe[PATH_MAX], pt[PATH_MAX];
	struct names ne = {0}, nt = {0};
	ssize_t ke, kt;
	size_t i;

	snprintf(pe, sizeof pe, "%s/%s", x->exp, name);
	snprintf(pt, sizeof pt, "%s/%s", x->twin, name);
	ke = listxattr(pe, le, sizeof le);
	kt = listxattr(pt, lt, sizeof lt);
	assert_true(ke >= 0 && kt >= 0);
	xattr_names(le, (size_t)ke, &ne);
	xattr_names(lt, (size_t)kt, &nt);
	assert_names_equal(&ne, &nt);
	for (i = 0; i < ne.n; i++) {
		char ve[4096], vt[4096];
		ssize_t a = getxattr(pe, ne.v[i], ve, sizeof ve);
		ssize_t b = getxattr(pt, ne.v[i], vt, sizeof vt);

		assert_int_equal(a, b);
		assert_true(a >= 0);
		assert_memory_equal(ve, vt, (size_t)a);
	}
	names_free(&ne);
	names_free(&nt);
}

static void
test_xattrs_set_read_list_and_remove_like_the_xattr_calls(void **state)
{
	struct fx *x = *state;
	char buf[4096], pe[PATH_MAX], pt[PATH_MAX];
	struct names listed = {0}, direct = {0};
	struct p9_cl *cl;
	uint32_t root, f, xf;
	uint64_t size;
	ssize_t n;

	put_both(x, "f", "data", 4, 0644);
	snprintf(pe, sizeof pe, "%s/f", x->exp);
	snprintf(pt, sizeof pt, "%s/f", x->twin);
	if (setxattr(pt, "user.probe", "1", 1, 0) < 0) {
		print_message("# skipped: %s has no user xattrs (%s)\n",
		    x->twin, strerror(errno));
		skip();
	}
	assert_int_equal(removexattr(pt, "user.probe"), 0);
	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);
	f = walkto(cl, root, "f", NULL);

	/* set: Txattrcreate, Twrite, Tclunk */
	assert_int_equal(xattr_set(cl, f, "user.color", "green", 5, 0), 0);
	assert_int_equal(setxattr(pt, "user.color", "green", 5, 0), 0);
	assert_int_equal(getxattr(pe, "user.color", buf, sizeof buf), 5);
	assert_memory_equal(buf, "green", 5);
	/* a value written in two pieces */
	{
		uint32_t cf = walkto(cl, f, "", NULL);

		assert_int_equal(t_xattrcreate(cl, cf, "user.shape", 6, 0), 0);
		assert_int_equal(p9_cl_write(cl, cf, 3, "are", 3), 3);
		assert_int_equal(p9_cl_write(cl, cf, 0, "squ", 3), 3);
		assert_int_equal(p9_cl_clunk(cl, cf), 0);
		assert_int_equal(setxattr(pt, "user.shape", "square", 6, 0), 0);
	}
	assert_same_xattrs(x, "f");

	/* read back */
	assert_int_equal(xattr_get(cl, f, "user.color", buf, sizeof buf), 5);
	assert_memory_equal(buf, "green", 5);
	/* a missing one: what getxattr(2) says */
	assert_int_equal(xattr_get(cl, f, "user.none", buf, sizeof buf),
	    rc_of(getxattr(pt, "user.none", buf, sizeof buf)));
	assert_int_equal(errno, ENODATA);

	/* the list: the names listxattr(2) gives */
	n = xattr_get(cl, f, "", buf, sizeof buf);
	assert_true(n > 0);
	xattr_names(buf, (size_t)n, &listed);
	n = listxattr(pe, buf, sizeof buf);
	assert_true(n > 0);
	xattr_names(buf, (size_t)n, &direct);
	assert_names_equal(&listed, &direct);
	names_free(&listed);
	names_free(&direct);

	/* XATTR_REPLACE of an existing one; XATTR_CREATE of an existing
	 * one fails at the clunk as setxattr(2) does */
	assert_int_equal(
	    xattr_set(cl, f, "user.color", "red", 3, XATTR_REPLACE), 0);
	assert_int_equal(
	    setxattr(pt, "user.color", "red", 3, XATTR_REPLACE), 0);
	assert_int_equal(
	    xattr_set(cl, f, "user.color", "blue", 4, XATTR_CREATE),
	    rc_of(setxattr(pt, "user.color", "blue", 4, XATTR_CREATE)));
	assert_int_equal(errno, EEXIST);
	assert_same_xattrs(x, "f");

	/* fewer bytes written than announced: nothing is set */
	{
		uint32_t cf = walkto(cl, f, "", NULL);

		assert_int_equal(t_xattrcreate(cl, cf, "user.short", 10, 0), 0);
		assert_int_equal(p9_cl_write(cl, cf, 0, "abc", 3), 3);
		assert_true(p9_cl_clunk(cl, cf) < 0);
		assert_int_equal(
		    getxattr(pe, "user.short", buf, sizeof buf), -1);
		assert_int_equal(errno, ENODATA);
	}

	/* remove: size 0 with XATTR_REPLACE (2) */
	assert_int_equal(xattr_set(cl, f, "user.color", NULL, 0, 2), 0);
	assert_int_equal(removexattr(pt, "user.color"), 0);
	assert_int_equal(getxattr(pe, "user.color", buf, sizeof buf), -1);
	assert_int_equal(errno, ENODATA);
	assert_same_xattrs(x, "f");
	/* removing a missing one: what removexattr(2) says */
	assert_int_equal(xattr_set(cl, f, "user.color", NULL, 0, 2),
	    rc_of(removexattr(pt, "user.color")));
	assert_int_equal(errno, ENODATA);

	/* an xattr fid read far past its end gives nothing */
	assert_int_equal(t_xattrwalk(cl, f, "user.shape", &xf, &size), 0);
	assert_int_equal(size, 6);
	assert_int_equal(p9_cl_read(cl, xf, 7, buf, sizeof buf), 0);
	assert_int_equal(
	    p9_cl_read(cl, xf, 0xffffffffffff0000ull, buf, sizeof buf), 0);
	assert_int_equal(p9_cl_clunk(cl, xf), 0);
	assert_int_equal(p9_cl_clunk(cl, f), 0);
}

/* ---- the feed of changes ---- */

enum { CH_COVERED = 1, CH_UNCOVERED, CH_ENTRY, CH_INODE, CH_ALL, CH_MORE };

struct rec {
	int kind;
	uint64_t q, q2;
	char name[NAME_MAX + 1];
};

/* Everything the feed holds now (read until no CH_MORE): its count. */
static size_t
feed_records(struct p9_cl *cl, uint32_t feed, struct rec *out, size_t max)
{
	static uint8_t buf[MSIZE];
	size_t k = 0, at;
	ssize_t n;
	int more;

	do {
		more = 0;
		n = p9_cl_read(cl, feed, 0, buf, sizeof buf);
		assert_true(n >= 0);
		for (at = 0; at + 19 <= (size_t)n;) {
			size_t nl = buf[at + 17] | (size_t)buf[at + 18] << 8;

			assert_true(at + 19 + nl <= (size_t)n);
			if (buf[at] == CH_MORE)
				more = 1;
			else {
				assert_true(k < max);
				out[k].kind = buf[at];
				memcpy(&out[k].q, buf + at + 1, 8);
				memcpy(&out[k].q2, buf + at + 9, 8);
				memcpy(out[k].name, buf + at + 19, nl);
				out[k].name[nl] = '\0';
				k++;
			}
			at += 19 + nl;
		}
		assert_int_equal(at, (size_t)n);
	} while (more);
	return k;
}

/* How many of r[0..n) are kind, q, q2 (~0: any) and name (NULL: any). */
static size_t
count_recs(const struct rec *r, size_t n, int kind, uint64_t q, uint64_t q2,
    const char *name)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		c += r[i].kind == kind && r[i].q == q &&
		     (q2 == ~0ull || r[i].q2 == q2) &&
		     (!name || !strcmp(r[i].name, name));
	return c;
}

static void
test_changes_feed_tells_what_changed_of_the_names_walked(void **state)
{
	struct fx *x = *state;
	static struct rec r[4096];
	struct p9_qid rq, dq, aq, bq, eq, q;
	struct p9_cl *cl, *cl2;
	uint32_t root, root2, feed, f, d, a, b, e;
	uint64_t size;
	size_t n, i;
	int fd;

	assert_int_equal(mkdirat(x->efd, "d", 0755), 0);
	put(x->efd, "d/a", "1", 1, 0644);
	put(x->efd, "d/b", "2", 1, 0644);
	serve(x, NULL);
	cl = session(x, P9_2000L, &root, &rq);
	assert_int_equal(t_xattrwalk(cl, root, "unum.changes", &feed, &size), 0);
	assert_int_equal(size, 0);
	/* one a connection */
	assert_int_equal(
	    t_xattrwalk(cl, root, "unum.changes", &f, &size), -EBUSY);
	/* nothing walked, nothing told */
	assert_int_equal(feed_records(cl, feed, r, 4096), 0);

	d = walkto(cl, root, "d", &dq);
	a = walkto(cl, d, "a", &aq);
	assert_int_equal(try_walk(cl, d, "missing", &f, NULL), -ENOENT);
	n = feed_records(cl, feed, r, 4096);
	/* the two directories walked in are covered; that is all */
	assert_int_equal(n, 2);
	assert_int_equal(count_recs(r, n, CH_COVERED, rq.path, 0, ""), 1);
	assert_int_equal(count_recs(r, n, CH_COVERED, dq.path, 0, ""), 1);

	/* another connection's walks are not this feed's */
	cl2 = session(x, P9_2000L, &root2, NULL);
	b = walkto(cl2, root2, "d/b", &bq);

	/* changes: a written, missing made, other made (never walked), b
	 * written, d's mode changed */
	fd = openat(x->efd, "d/a", O_WRONLY | O_APPEND | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	put(x->efd, "d/missing", "3", 1, 0644);
	put(x->efd, "d/other", "4", 1, 0644);
	put(x->efd, "d/b", "22", 2, 0644);
	assert_int_equal(fchmodat(x->efd, "d", 0711, 0), 0);
	n = feed_records(cl, feed, r, 4096);
	assert_true(count_recs(r, n, CH_ENTRY, dq.path, aq.path, "a") >= 1);
	assert_true(count_recs(r, n, CH_ENTRY, dq.path, 0, "missing") >= 1);
	assert_true(count_recs(r, n, CH_ENTRY, rq.path, dq.path, "d") >= 1);
	assert_true(count_recs(r, n, CH_INODE, dq.path, 0, "") >= 1);
	for (i = 0; i < n; i++) { /* nothing else */
		assert_true(r[i].kind == CH_ENTRY || r[i].kind == CH_INODE);
		assert_true(!strcmp(r[i].name, "a") ||
		            !strcmp(r[i].name, "missing") ||
		            !strcmp(r[i].name, "d") || !*r[i].name);
	}
	/* read: gone */
	assert_int_equal(feed_records(cl, feed, r, 4096), 0);

	/* a name walked again after it was made: its file is told */
	f = walkto(cl, d, "missing", &q);
	assert_int_equal(unlinkat(x->efd, "d/missing", 0), 0);
	n = feed_records(cl, feed, r, 4096);
	assert_int_equal(count_recs(r, n, CH_ENTRY, dq.path, q.path, "missing"), 1);

	/* the directory removed: not covered any more */
	assert_int_equal(mkdirat(x->efd, "e", 0755), 0);
	e = walkto(cl, root, "e", &eq);
	assert_int_equal(try_walk(cl, e, "none", &b, NULL), -ENOENT);
	n = feed_records(cl, feed, r, 4096);
	assert_int_equal(count_recs(r, n, CH_COVERED, eq.path, 0, ""), 1);
	assert_int_equal(p9_cl_clunk(cl, e), 0);
	assert_int_equal(unlinkat(x->efd, "e", AT_REMOVEDIR), 0);
	n = feed_records(cl, feed, r, 4096);
	assert_int_equal(count_recs(r, n, CH_UNCOVERED, eq.path, 0, ""), 1);
	assert_true(count_recs(r, n, CH_ENTRY, rq.path, eq.path, "e") >= 1);

	/* a clunked feed is gone; walks go on; a new one may be had */
	assert_int_equal(p9_cl_clunk(cl, feed), 0);
	assert_int_equal(p9_cl_clunk(cl, walkto(cl, d, "a", NULL)), 0);
	assert_int_equal(t_xattrwalk(cl, root, "unum.changes", &feed, &size), 0);
	assert_int_equal(feed_records(cl, feed, r, 4096), 0);
	assert_int_equal(p9_cl_clunk(cl, feed), 0);
	assert_int_equal(p9_cl_clunk(cl, f), 0);
	assert_int_equal(p9_cl_clunk(cl, a), 0);
	assert_int_equal(p9_cl_clunk(cl, d), 0);
}

static void
test_xattr_write_at_a_wrapping_offset_is_refused(void **state)
{
	struct fx *x = *state;
	char buf[64], pe[PATH_MAX];
	struct p9_cl *cl;
	uint32_t root, f, cf;

	put(x->efd, "f", "data", 4, 0644);
	snprintf(pe, sizeof pe, "%s/f", x->exp);
	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);
	f = walkto(cl, root, "f", NULL);
	cf = walkto(cl, f, "", NULL);
	assert_int_equal(t_xattrcreate(cl, cf, "user.wrap", 16, 0), 0);
	/* offset + count wraps to 8, inside the announced 16 bytes: a
	 * server that adds before it compares writes before its buffer */
	memset(buf, 'w', sizeof buf);
	assert_true(p9_cl_write(cl, cf, 0xfffffffffffffff8ull, buf, 16) < 0);
	assert_true(p9_cl_write(cl, cf, 17, buf, 1) < 0);
	assert_true(p9_cl_clunk(cl, cf) < 0); /* nothing was written */
	assert_int_equal(getxattr(pe, "user.wrap", buf, sizeof buf), -1);
	assert_int_equal(p9_cl_clunk(cl, f), 0);
}

static void
test_lock_conflict_is_blocked_and_reported_by_getlock(void **state)
{
	struct fx *x = *state;
	struct p9_flock gl;
	struct p9_cl *cl;
	struct flock fl;
	uint32_t root, f1, f2;
	uint8_t status;
	int fd;

	put(x->efd, "lk", "0123456789", 10, 0644);
	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);
	f1 = lopen_path(cl, root, "lk", P9_L_RDWR);
	f2 = lopen_path(cl, root, "lk", P9_L_RDWR);

	assert_int_equal(t_lock(cl, f1, P9_LOCK_TYPE_WRLCK, 0, 0, &status), 0);
	assert_int_equal(status, P9_LOCK_SUCCESS);
	/* the second open: write and read locks are BLOCKED, at once */
	assert_int_equal(t_lock(cl, f2, P9_LOCK_TYPE_WRLCK, 0, 0, &status), 0);
	assert_int_equal(status, P9_LOCK_BLOCKED);
	assert_int_equal(t_lock(cl, f2, P9_LOCK_TYPE_RDLCK, 2, 3, &status), 0);
	assert_int_equal(status, P9_LOCK_BLOCKED);
	/* getlock from the second reports the first's lock */
	assert_int_equal(t_getlock(cl, f2, P9_LOCK_TYPE_WRLCK, 0, 0, &gl), 0);
	assert_int_equal(gl.type, P9_LOCK_TYPE_WRLCK);
	assert_int_equal(gl.start, 0);
	assert_int_equal(gl.length, 0);
	/* the first's own lock does not conflict with itself */
	assert_int_equal(t_getlock(cl, f1, P9_LOCK_TYPE_WRLCK, 0, 0, &gl), 0);
	assert_int_equal(gl.type, P9_LOCK_TYPE_UNLCK);
	/* a real lock: this process, directly, sees it too */
	fd = openat(x->efd, "lk", O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	assert_int_equal(fcntl(fd, F_OFD_GETLK, &fl), 0);
	assert_int_equal(fl.l_type, F_WRLCK);

	/* unlock frees it */
	assert_int_equal(t_lock(cl, f1, P9_LOCK_TYPE_UNLCK, 0, 0, &status), 0);
	assert_int_equal(status, P9_LOCK_SUCCESS);
	assert_int_equal(t_getlock(cl, f2, P9_LOCK_TYPE_WRLCK, 0, 0, &gl), 0);
	assert_int_equal(gl.type, P9_LOCK_TYPE_UNLCK);
	assert_int_equal(t_lock(cl, f2, P9_LOCK_TYPE_WRLCK, 5, 5, &status), 0);
	assert_int_equal(status, P9_LOCK_SUCCESS);
	/* ranges: the first may lock what the second does not hold */
	assert_int_equal(t_lock(cl, f1, P9_LOCK_TYPE_WRLCK, 0, 5, &status), 0);
	assert_int_equal(status, P9_LOCK_SUCCESS);
	assert_int_equal(t_lock(cl, f1, P9_LOCK_TYPE_WRLCK, 0, 6, &status), 0);
	assert_int_equal(status, P9_LOCK_BLOCKED);
	assert_int_equal(t_getlock(cl, f1, P9_LOCK_TYPE_RDLCK, 0, 0, &gl), 0);
	assert_int_equal(gl.type, P9_LOCK_TYPE_WRLCK);
	assert_int_equal(gl.start, 5);
	assert_int_equal(gl.length, 5);
	/* closing the second's open (Tclunk) drops its lock */
	assert_int_equal(p9_cl_clunk(cl, f2), 0);
	assert_int_equal(t_lock(cl, f1, P9_LOCK_TYPE_WRLCK, 0, 0, &status), 0);
	assert_int_equal(status, P9_LOCK_SUCCESS);
	/* unlocked by Tlock, the lock is gone when Rlock arrives (after
	 * Rclunk it may linger a moment: the fid is freed after the reply) */
	assert_int_equal(t_lock(cl, f1, P9_LOCK_TYPE_UNLCK, 0, 0, &status), 0);
	assert_int_equal(status, P9_LOCK_SUCCESS);
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	assert_int_equal(fcntl(fd, F_OFD_GETLK, &fl), 0);
	assert_int_equal(fl.l_type, F_UNLCK);
	close(fd);
	assert_int_equal(p9_cl_clunk(cl, f1), 0);
}

/* ---- 9P2000 and 9P2000.u on the same tree ---- */

static const enum p9_dialect old_dialects[] = {P9_2000, P9_2000U};

static void
test_9p2000_open_and_read_give_the_file_contents(void **state)
{
	struct fx *x = *state;
	size_t n = 200000, len, dlen, i;
	uint8_t *data = malloc(n), *got, *direct;
	uint32_t root, f, iounit;
	struct p9_qid q;
	struct p9_cl *cl;

	assert_non_null(data);
	fill(data, n, 9);
	put_both(x, "data", data, n, 0644);
	put_both(x, "t0", data, 100, 0644);
	put_both(x, "t1", data, 100, 0644);
	serve(x, NULL);
	for (i = 0; i < 2; i++) {
		char t[8];

		cl = session(x, old_dialects[i], &root, NULL);
		f = walkto(cl, root, "data", NULL);
		assert_int_equal(p9_cl_open(cl, f, P9_OREAD, &q, &iounit), 0);
		assert_int_equal(q.type, P9_QTFILE);
		assert_int_equal(q.path, lst(x->efd, "data").st_ino);
		got = cl_slurp(cl, f, &len);
		direct = slurp(x->efd, "data", &dlen);
		assert_int_equal(len, dlen);
		assert_memory_equal(got, direct, len);
		free(got);
		free(direct);
		assert_int_equal(p9_cl_clunk(cl, f), 0);
		/* OWRITE|OTRUNC truncates, as open(O_WRONLY|O_TRUNC) */
		snprintf(t, sizeof t, "t%zu", i);
		f = walkto(cl, root, t, NULL);
		assert_int_equal(
		    p9_cl_open(cl, f, P9_OWRITE | P9_OTRUNC, NULL, NULL), 0);
		close(openat(x->tfd, t, O_WRONLY | O_TRUNC | O_CLOEXEC));
		assert_int_equal(p9_cl_clunk(cl, f), 0);
	}
	assert_same_tree(x->efd, x->tfd, ".");
	free(data);
}

static void
test_9p2000_create_makes_files_and_directories(void **state)
{
	struct fx *x = *state;
	struct p9_cl *cl;
	struct p9_qid q;
	uint32_t root, d;
	uint8_t buf[64];
	size_t i;

	serve(x, NULL);
	for (i = 0; i < 2; i++) {
		char f[16], dir[16];
		int fd;

		snprintf(f, sizeof f, "file%zu", i);
		snprintf(dir, sizeof dir, "dir%zu", i);
		cl = session(x, old_dialects[i], &root, NULL);
		/* a file, opened for reading and writing */
		d = walkto(cl, root, "", NULL);
		assert_int_equal(p9_cl_create(cl, d, f, 0640, P9_ORDWR, &q), 0);
		assert_int_equal(q.type, P9_QTFILE);
		assert_int_equal(p9_cl_write(cl, d, 0, "hello", 5), 5);
		assert_int_equal(p9_cl_read(cl, d, 1, buf, sizeof buf), 4);
		assert_memory_equal(buf, "ello", 4);
		fd = openat(
		    x->tfd, f, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "hello", 5), 5);
		close(fd);
		assert_int_equal(q.path, lst(x->efd, f).st_ino);
		assert_int_equal(p9_cl_clunk(cl, d), 0);
		/* a directory (DMDIR), opened for reading: empty */
		d = walkto(cl, root, "", NULL);
		assert_int_equal(
		    p9_cl_create(cl, d, dir, P9_DMDIR | 0750, P9_OREAD, &q), 0);
		assert_int_equal(q.type, P9_QTDIR);
		assert_int_equal(mkdirat(x->tfd, dir, 0750), 0);
		assert_int_equal(p9_cl_read(cl, d, 0, buf, sizeof buf), 0);
		assert_int_equal(p9_cl_clunk(cl, d), 0);
		/* an existing name: what open(O_CREAT|O_EXCL) says */
		d = walkto(cl, root, "", NULL);
		assert_int_equal(p9_cl_create(cl, d, f, 0640, P9_ORDWR, &q),
		    rc_of(openat(x->tfd, f, O_RDWR | O_CREAT | O_EXCL, 0640)));
		assert_int_equal(errno, EEXIST);
		assert_int_equal(p9_cl_clunk(cl, d), 0);
	}
	assert_same_tree(x->efd, x->tfd, ".");
}

static void
test_9p2000_directory_read_gives_a_stat_record_per_entry(void **state)
{
	struct fx *x = *state;
	struct names direct = {0}, got = {0};
	struct p9_cl *cl;
	struct ent *e;
	uint32_t root, d;
	char name[64];
	size_t i, k, n;

	assert_int_equal(mkdirat(x->efd, "d", 0755), 0);
	for (i = 0; i < 60; i++) {
		uint8_t data[300];

		snprintf(name, sizeof name, "d/entry-%02zu", i);
		put(x->efd, name, data, i * 5, i % 2 ? 0600 : 0644);
	}
	assert_int_equal(mkdirat(x->efd, "d/sub", 0711), 0);
	assert_int_equal(symlinkat("entry-01", x->efd, "d/link"), 0);
	assert_int_equal(mkfifoat(x->efd, "d/fifo", 0640), 0);
	list_dir(x->efd, "d", 0, &direct);
	serve(x, NULL);
	for (i = 0; i < 2; i++) {
		enum p9_dialect dl = old_dialects[i];

		cl = session(x, dl, &root, NULL);
		d = walkto(cl, root, "d", NULL);
		assert_int_equal(p9_cl_open(cl, d, P9_OREAD, NULL, NULL), 0);
		/* 512 bytes a read: several rounds, whole records each */
		n = dirread_all(cl, d, 512, dl, &e);
		assert_int_equal(p9_cl_clunk(cl, d), 0);
		for (k = 0; k < n; k++) {
			char p[PATH_MAX];
			struct stat st;

			names_add(&got, e[k].name, strlen(e[k].name));
			snprintf(p, sizeof p, "d/%s", e[k].name);
			st = lst(x->efd, p);
			assert_int_equal(e[k].mode & 0777, st.st_mode & 0777);
			assert_int_equal(
			    !!(e[k].mode & P9_DMDIR), !!S_ISDIR(st.st_mode));
			assert_int_equal(e[k].length,
			    S_ISDIR(st.st_mode) ? 0 : (uint64_t)st.st_size);
			assert_int_equal(e[k].qid.path, st.st_ino);
			assert_int_equal(e[k].qid.type & P9_QTDIR,
			    S_ISDIR(st.st_mode) ? P9_QTDIR : 0);
			assert_string_equal(e[k].uid, "root");
			if (dl == P9_2000U) {
				assert_int_equal(e[k].n_uid, st.st_uid);
				assert_int_equal(e[k].n_gid, st.st_gid);
				if (S_ISLNK(st.st_mode)) {
					assert_true(e[k].mode & P9_DMSYMLINK);
					assert_string_equal(
					    e[k].ext, "entry-01");
				}
				if (S_ISFIFO(st.st_mode))
					assert_true(e[k].mode & P9_DMNAMEDPIPE);
			}
		}
		names_sort(&got);
		assert_names_equal(&got, &direct);
		names_free(&got);
		free(e);
	}
	names_free(&direct);
}

static void
test_9p2000_stat_fields_match_stat(void **state)
{
	static const char *const names[] = {"", "f", "d", "l", "null"};
	struct fx *x = *state;
	struct p9_cl *cl;
	struct p9_stat s;
	uint8_t *sbuf;
	uint32_t root, f;
	size_t i, k;

	put(x->efd, "f", "0123456789", 10, 0640);
	assert_int_equal(fchownat(x->efd, "f", 1000, 2000, 0), 0);
	assert_int_equal(mkdirat(x->efd, "d", 0750), 0);
	assert_int_equal(symlinkat("f", x->efd, "l"), 0);
	assert_int_equal(
	    mknodat(x->efd, "null", S_IFCHR | 0644, makedev(1, 3)), 0);
	serve(x, NULL);
	for (i = 0; i < 2; i++) {
		enum p9_dialect dl = old_dialects[i];

		cl = session(x, dl, &root, NULL);
		for (k = 0; k < sizeof names / sizeof names[0]; k++) {
			struct stat st;

			f = walkto(cl, root, names[k], NULL);
			assert_int_equal(p9_cl_stat(cl, f, &s, &sbuf), 0);
			if (*names[k])
				st = lst(x->efd, names[k]);
			else
				assert_int_equal(fstat(x->efd, &st), 0);
			assert_string_equal(s.name, *names[k] ? names[k] : "/");
			assert_int_equal(s.mode & 0777, st.st_mode & 0777);
			assert_int_equal(
			    !!(s.mode & P9_DMDIR), !!S_ISDIR(st.st_mode));
			assert_int_equal(
			    !!(s.qid.type & P9_QTDIR), !!S_ISDIR(st.st_mode));
			assert_int_equal(s.length,
			    S_ISDIR(st.st_mode) ? 0 : (uint64_t)st.st_size);
			assert_int_equal(s.mtime, (uint32_t)st.st_mtime);
			assert_int_equal(s.qid.path, st.st_ino);
			if (dl == P9_2000U) {
				assert_int_equal(s.n_uid, st.st_uid);
				assert_int_equal(s.n_gid, st.st_gid);
				if (S_ISLNK(st.st_mode))
					assert_string_equal(s.extension, "f");
				if (S_ISCHR(st.st_mode))
					assert_string_equal(
					    s.extension, "c 1 3");
			}
			free(sbuf);
			assert_int_equal(p9_cl_clunk(cl, f), 0);
		}
	}
}

static void
test_9p2000_wstat_renames_truncates_chmods_and_sets_mtime(void **state)
{
	struct fx *x = *state;
	uint8_t data[1000];
	struct p9_stat s;
	struct p9_cl *cl;
	uint32_t root, f;
	size_t i;

	fill(data, sizeof data, 5);
	put_both(x, "w0", data, sizeof data, 0644);
	put_both(x, "w1", data, sizeof data, 0644);
	serve(x, NULL);
	for (i = 0; i < 2; i++) {
		char w[8], nw[16], p[PATH_MAX];

		snprintf(w, sizeof w, "w%zu", i);
		snprintf(nw, sizeof nw, "renamed%zu", i);
		cl = session(x, old_dialects[i], &root, NULL);
		f = walkto(cl, root, w, NULL);
		/* rename within the directory */
		p9_stat_null(&s);
		s.name = nw;
		assert_int_equal(p9_cl_wstat(cl, f, &s), 0);
		assert_int_equal(renameat(x->tfd, w, x->tfd, nw), 0);
		assert_true(missing(x->efd, w));
		/* truncate via length (the fid follows the rename) */
		p9_stat_null(&s);
		s.length = 10;
		assert_int_equal(p9_cl_wstat(cl, f, &s), 0);
		snprintf(p, sizeof p, "%s/%s", x->twin, nw);
		assert_int_equal(truncate(p, 10), 0);
		/* chmod via mode */
		p9_stat_null(&s);
		s.mode = 0600;
		assert_int_equal(p9_cl_wstat(cl, f, &s), 0);
		assert_int_equal(fchmodat(x->tfd, nw, 0600, 0), 0);
		/* mtime */
		p9_stat_null(&s);
		s.mtime = 1234567890;
		assert_int_equal(p9_cl_wstat(cl, f, &s), 0);
		assert_int_equal(lst(x->efd, nw).st_mtime, 1234567890);
		/* DMDIR on a file: refused, nothing changes */
		p9_stat_null(&s);
		s.mode = P9_DMDIR | 0777;
		assert_true(p9_cl_wstat(cl, f, &s) < 0);
		/* everything "don't touch": a no-op */
		p9_stat_null(&s);
		assert_int_equal(p9_cl_wstat(cl, f, &s), 0);
		assert_int_equal(p9_cl_clunk(cl, f), 0);
	}
	assert_same_tree(x->efd, x->tfd, ".");
}

static void
test_9p2000_remove_deletes_a_file_and_an_empty_directory(void **state)
{
	struct fx *x = *state;
	struct p9_cl *cl;
	uint32_t root, f;
	size_t i;

	serve(x, NULL);
	for (i = 0; i < 2; i++) {
		char file[16], dir[16], full[16], inner[32];

		snprintf(file, sizeof file, "f%zu", i);
		snprintf(dir, sizeof dir, "d%zu", i);
		snprintf(full, sizeof full, "full%zu", i);
		snprintf(inner, sizeof inner, "full%zu/x", i);
		put_both(x, file, "f", 1, 0644);
		mkdir_both(x, dir, 0755);
		mkdir_both(x, full, 0755);
		put_both(x, inner, "x", 1, 0644);
		cl = session(x, old_dialects[i], &root, NULL);
		f = walkto(cl, root, file, NULL);
		assert_int_equal(p9_cl_remove(cl, f), 0);
		assert_int_equal(unlinkat(x->tfd, file, 0), 0);
		f = walkto(cl, root, dir, NULL);
		assert_int_equal(p9_cl_remove(cl, f), 0);
		assert_int_equal(unlinkat(x->tfd, dir, AT_REMOVEDIR), 0);
		/* not empty: what rmdir(2) says, and it stays */
		f = walkto(cl, root, full, NULL);
		assert_int_equal(p9_cl_remove(cl, f),
		    rc_of(unlinkat(x->tfd, full, AT_REMOVEDIR)));
		assert_int_equal(errno, ENOTEMPTY);
		/* the fid went anyway: its number may be bound anew */
		assert_int_equal(raw_clone(cl, root, f), 0);
		assert_int_equal(raw_clunk(cl, f), 0);
	}
	assert_same_tree(x->efd, x->tfd, ".");
}

/* ---- escapes: each fails and touches nothing outside the export ---- */

static struct stat passwd_before;

/*
 * outside/secret, and in the export: etc/passwd ("inside"), sub/in ->
 * ../etc (stays inside), and links leading out: abs -> /etc/passwd, up ->
 * ../../.., absdir -> /etc, outrel -> ../outside, outabs -> the outside
 * directory's absolute path, sec -> ../outside/secret, dangling ->
 * ../outside/new (not there).
 */
static void
escape_tree(struct fx *x)
{
	put(x->ofd, "secret", "outside secret\n", 15, 0644);
	assert_int_equal(mkdirat(x->efd, "etc", 0755), 0);
	put(x->efd, "etc/passwd", "inside\n", 7, 0644);
	put(x->efd, "file", "file\n", 5, 0644);
	assert_int_equal(mkdirat(x->efd, "sub", 0755), 0);
	assert_int_equal(symlinkat("../etc", x->efd, "sub/in"), 0);
	assert_int_equal(symlinkat("/etc/passwd", x->efd, "abs"), 0);
	assert_int_equal(symlinkat("../../..", x->efd, "up"), 0);
	assert_int_equal(symlinkat("/etc", x->efd, "absdir"), 0);
	assert_int_equal(symlinkat("../outside", x->efd, "outrel"), 0);
	assert_int_equal(symlinkat(x->out, x->efd, "outabs"), 0);
	assert_int_equal(symlinkat("../outside/secret", x->efd, "sec"), 0);
	assert_int_equal(symlinkat("../outside/new", x->efd, "dangling"), 0);
	assert_int_equal(stat("/etc/passwd", &passwd_before), 0);
}

static void
assert_outside_untouched(struct fx *x)
{
	struct names ns = {0};
	struct stat st;
	uint8_t *data;
	size_t len;
	char list[256];

	list_dir(AT_FDCWD, x->base, 0, &ns);
	assert_int_equal(ns.n, 4);
	assert_string_equal(ns.v[0], "export");
	assert_string_equal(ns.v[1], "outside");
	assert_string_equal(ns.v[2], "sock");
	assert_string_equal(ns.v[3], "twin");
	names_free(&ns);
	list_dir(x->ofd, ".", 0, &ns);
	assert_int_equal(ns.n, 1);
	assert_string_equal(ns.v[0], "secret");
	names_free(&ns);
	st = lst(x->ofd, "secret");
	assert_int_equal(st.st_mode, S_IFREG | 0644);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_nlink, 1);
	data = slurp(x->ofd, "secret", &len);
	assert_int_equal(len, 15);
	assert_memory_equal(data, "outside secret\n", 15);
	free(data);
	{
		char p[PATH_MAX];

		snprintf(p, sizeof p, "%s/secret", x->out);
		assert_true(listxattr(p, list, sizeof list) <= 0);
	}
	assert_int_equal(stat("/etc/passwd", &st), 0);
	assert_int_equal(st.st_mode, passwd_before.st_mode);
	assert_int_equal(st.st_uid, passwd_before.st_uid);
	assert_int_equal(st.st_nlink, passwd_before.st_nlink);
	assert_int_equal(st.st_size, passwd_before.st_size);
	assert_int_equal(st.st_mtim.tv_sec, passwd_before.st_mtim.tv_sec);
	assert_int_equal(st.st_mtim.tv_nsec, passwd_before.st_mtim.tv_nsec);
}

static void
assert_reads(
    struct p9_cl *cl, uint32_t from, const char *path, const char *want)
{
	uint32_t f = lopen_path(cl, from, path, P9_L_RDONLY);
	char buf[256];
	ssize_t n = p9_cl_read(cl, f, 0, buf, sizeof buf);

	assert_int_equal(n, (ssize_t)strlen(want));
	assert_memory_equal(buf, want, (size_t)n);
	assert_int_equal(p9_cl_clunk(cl, f), 0);
}

/* A client may send a walk from a fid right behind the attach that makes
 * it (fsrv attaches on a worker): the walk waits for the attach and is
 * answered after it, never run on a fid not made yet. */
static void
test_walk_pipelined_behind_its_attach_waits_for_it(void **state)
{
	struct fx *x = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint8_t out[1024], in[8192];
	struct p9_fcall t, r;
	size_t n = 0, have = 0;
	int fd, round, got = 0;
	ssize_t k;

	serve(x, NULL);
	assert_int_equal(mkdirat(x->efd, "pipe", 0755), 0);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", x->sock);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	memset(&t, 0, sizeof t);
	t.type = P9_TVERSION;
	t.tag = P9_NOTAG;
	t.u.version.msize = 8192;
	t.u.version.version = "9P2000.L";
	k = p9_pack(&t, out, sizeof out, P9_2000L);
	assert_true(k > 0);
	assert_int_equal(write(fd, out, (size_t)k), k);
	k = read(fd, in, sizeof in);
	assert_true(k > 0);
	/* attach, a walk from it, a clunk of it: one write, many times */
	for (round = 0; round < 20; round++) {
		n = 0;
		memset(&t, 0, sizeof t);
		t.type = P9_TATTACH;
		t.tag = 1;
		t.u.attach.fid = 10;
		t.u.attach.afid = P9_NOFID;
		t.u.attach.uname = "root";
		t.u.attach.aname = "";
		t.u.attach.n_uname = 0;
		n += (size_t)p9_pack(&t, out + n, sizeof out - n, P9_2000L);
		memset(&t, 0, sizeof t);
		t.type = P9_TWALK;
		t.tag = 2;
		t.u.walk.fid = 10;
		t.u.walk.newfid = 11;
		t.u.walk.nwname = 1;
		t.u.walk.wname[0] = "pipe";
		n += (size_t)p9_pack(&t, out + n, sizeof out - n, P9_2000L);
		memset(&t, 0, sizeof t);
		t.type = P9_TCLUNK;
		t.tag = 3;
		t.u.fid.fid = 11;
		n += (size_t)p9_pack(&t, out + n, sizeof out - n, P9_2000L);
		t.tag = 4;
		t.u.fid.fid = 10;
		n += (size_t)p9_pack(&t, out + n, sizeof out - n, P9_2000L);
		assert_int_equal(write(fd, out, n), (ssize_t)n);
		/* four answers, each a success; the walk's after the
		 * attach's, the clunk of the walk's fid after the walk's */
		int pos[5] = {0};

		for (got = 0; got < 4;) {
			uint32_t size;

			if (have >= 4 &&
			    (size = (uint32_t)in[0] | (uint32_t)in[1] << 8 |
			            (uint32_t)in[2] << 16 | (uint32_t)in[3] << 24) <=
			        have) {
				assert_int_equal(
				    p9_unpack(&r, in, size, 8192, P9_2000L), 0);
				assert_true(r.tag >= 1 && r.tag <= 4);
				assert_int_equal(pos[r.tag], 0);
				pos[r.tag] = got + 1;
				assert_true(r.type != P9_RLERROR);
				memmove(in, in + size, have - size);
				have -= size;
				got++;
				continue;
			}
			k = read(fd, in + have, sizeof in - have);
			assert_true(k > 0);
			have += (size_t)k;
		}
		assert_true(pos[1] < pos[2]);
		assert_true(pos[2] < pos[3]);
	}
	close(fd);
}

static void
test_walk_dotdot_from_the_root_stays_at_the_root(void **state)
{
	static const char *const paths[] = {
	    "..",
	    "../..",
	    "../../..",
	    "sub/../..",
	    "sub/../../../..",
	    "etc/../../..",
	    "../../../../../../../../../../../../../../../..", /* 16 */
	    "../../../../../../../../../../../../../../../../../../../..",
	};
	struct fx *x = *state;
	struct p9_qid rq, q;
	struct p9_attr a;
	struct p9_cl *cl;
	struct stat st;
	uint32_t root, f, s;
	char path[PATH_MAX];
	size_t i;

	escape_tree(x);
	assert_int_equal(fstat(x->efd, &st), 0);
	serve(x, NULL);
	cl = session(x, P9_2000L, &root, &rq);
	assert_int_equal(rq.type, P9_QTDIR);
	for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		f = walkto(cl, root, paths[i], &q);
		assert_int_equal(q.type, rq.type);
		assert_int_equal(q.path, rq.path);
		assert_int_equal(p9_cl_getattr(cl, f, P9_GETATTR_BASIC, &a), 0);
		assert_int_equal(a.qid.path, st.st_ino);
		assert_int_equal(p9_cl_clunk(cl, f), 0);
	}
	/* ".." of the root in a walk of its own, in place */
	f = walkto(cl, root, "", NULL);
	assert_int_equal(p9_cl_walk(cl, f, f, "..", &q), 0);
	assert_int_equal(q.path, rq.path);
	assert_int_equal(p9_cl_clunk(cl, f), 0);
	/* "../../etc/passwd" is the export's own etc/passwd */
	assert_reads(cl, root, "../../etc/passwd", "inside\n");
	s = walkto(cl, root, "sub", NULL);
	assert_reads(cl, s, "../../../etc/passwd", "inside\n");
	assert_int_equal(p9_cl_clunk(cl, s), 0);
	/* the directory beside the export is not reached by name */
	assert_true(try_walk(cl, root, "../outside/secret", &f, NULL) < 0);
	snprintf(path, sizeof path, "../../../..%s/secret", x->out);
	assert_true(try_walk(cl, root, path, &f, NULL) < 0);
	assert_outside_untouched(x);
}

static void
test_symlinks_leading_out_cannot_be_opened_or_walked_through(void **state)
{
	static const char *const links[] = {
	    "abs", "up", "absdir", "outrel", "outabs", "sec"};
	static const char *const through[] = {
	    "up/etc/passwd",
	    "up/tmp",
	    "absdir/passwd",
	    "abs/x",
	    "outrel/secret",
	    "outabs/secret",
	    "sec/x",
	    "sub/in/../../outside/secret",
	};
	struct fx *x = *state;
	struct p9_iattr ia;
	struct p9_attr a;
	struct p9_cl *cl;
	struct p9_qid q;
	uint32_t root, f, g;
	size_t i;

	escape_tree(x);
	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);
	for (i = 0; i < sizeof links / sizeof links[0]; i++) {
		/* the walk names the link itself ... */
		f = walkto(cl, root, links[i], &q);
		assert_int_equal(q.type, P9_QTSYMLINK);
		assert_int_equal(p9_cl_getattr(cl, f, P9_GETATTR_BASIC, &a), 0);
		assert_true(S_ISLNK(a.mode));
		assert_int_equal(a.qid.path, lst(x->efd, links[i]).st_ino);
		/* ... which cannot be opened, for reading or writing */
		assert_int_equal(
		    p9_cl_lopen(cl, f, P9_L_RDONLY, NULL, NULL), -ELOOP);
		assert_int_equal(
		    p9_cl_lopen(cl, f, P9_L_RDWR, NULL, NULL), -ELOOP);
		assert_int_equal(p9_cl_lopen(cl, f,
		                     P9_L_RDONLY | P9_L_DIRECTORY, NULL, NULL),
		    -ELOOP);
		/* nor walked through */
		assert_true(try_walk(cl, f, "secret", &g, NULL) < 0);
		assert_true(try_walk(cl, f, "passwd", &g, NULL) < 0);
		assert_int_equal(p9_cl_clunk(cl, f), 0);
	}
	for (i = 0; i < sizeof through / sizeof through[0]; i++)
		if (try_walk(cl, root, through[i], &f, NULL) == 0)
			fail_msg("walked %s", through[i]);
	/* a link that stays inside is followed mid-walk */
	assert_reads(cl, root, "sub/in/passwd", "inside\n");

	/* changes made on a link to an outside file touch only the link */
	f = walkto(cl, root, "sec", NULL);
	memset(&ia, 0, sizeof ia);
	ia.valid = P9_SETATTR_MODE;
	ia.mode = 0777;
	p9_cl_setattr(cl, f, &ia);
	ia.valid = P9_SETATTR_SIZE;
	ia.size = 0;
	assert_true(p9_cl_setattr(cl, f, &ia) < 0);
	ia.valid = P9_SETATTR_UID | P9_SETATTR_GID;
	ia.uid = 1234;
	ia.gid = 1234;
	p9_cl_setattr(cl, f, &ia);
	ia.valid = P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET;
	ia.mtime_sec = 1;
	p9_cl_setattr(cl, f, &ia);
	assert_true(xattr_set(cl, f, "user.x", "v", 1, 0) < 0);
	assert_int_equal(p9_cl_clunk(cl, f), 0);
	assert_outside_untouched(x);
}

static void
test_names_with_a_slash_or_dotdot_are_rejected(void **state)
{
	static const char *const bad[] = {
	    "../x", "..", ".", "a/b", "/tmp/x", "../outside/secret", ""};
	struct fx *x = *state;
	struct p9_cl *cl, *old;
	struct p9_stat s;
	uint32_t root, oroot, f, d;
	size_t i;

	escape_tree(x);
	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);
	old = session(x, P9_2000U, &oroot, NULL);
	f = walkto(cl, root, "file", NULL);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *b = bad[i];
		uint32_t of;

		assert_int_equal(
		    t_renameat(cl, root, "file", root, b), -EINVAL);
		assert_int_equal(t_renameat(cl, root, b, root, "y"), -EINVAL);
		assert_int_equal(t_rename(cl, f, root, b), -EINVAL);
		assert_int_equal(t_link(cl, root, f, b), -EINVAL);
		assert_int_equal(t_mkdir(cl, root, b, 0755, 0, NULL), -EINVAL);
		assert_int_equal(t_symlink(cl, root, b, "t", NULL), -EINVAL);
		assert_int_equal(
		    t_mknod(cl, root, b, S_IFIFO | 0644, 0, 0, NULL), -EINVAL);
		assert_int_equal(t_unlinkat(cl, root, b, 0), -EINVAL);
		assert_int_equal(
		    t_unlinkat(cl, root, b, P9_AT_REMOVEDIR), -EINVAL);
		d = walkto(cl, root, "", NULL);
		assert_int_equal(p9_cl_lcreate(cl, d, b,
		                     P9_L_RDWR | P9_L_CREATE, 0644, 0, NULL),
		    -EINVAL);
		assert_int_equal(p9_cl_clunk(cl, d), 0);
		/* 9P2000.u: Tcreate, and renaming by Twstat */
		d = walkto(old, oroot, "", NULL);
		assert_int_equal(
		    p9_cl_create(old, d, b, 0644, P9_ORDWR, NULL), -EINVAL);
		assert_int_equal(p9_cl_clunk(old, d), 0);
		if (*b) { /* an empty name in Twstat means "keep it" */
			of = walkto(old, oroot, "file", NULL);
			p9_stat_null(&s);
			s.name = (char *)b;
			assert_int_equal(p9_cl_wstat(old, of, &s), -EINVAL);
			assert_int_equal(p9_cl_clunk(old, of), 0);
		}
	}
	/* Tlink of "../x" from a subdirectory */
	d = walkto(cl, root, "sub", NULL);
	assert_int_equal(t_link(cl, d, f, "../x"), -EINVAL);
	assert_int_equal(p9_cl_clunk(cl, d), 0);
	assert_int_equal(p9_cl_clunk(cl, f), 0);
	assert_true(S_ISREG(lst(x->efd, "file").st_mode));
	assert_true(missing(x->efd, "x"));
	assert_true(missing(x->efd, "y"));
	assert_outside_untouched(x);
}

static void
test_nothing_is_made_through_a_symlink_to_outside(void **state)
{
	static const char *const links[] = {"outrel", "outabs", "up"};
	struct fx *x = *state;
	struct p9_cl *cl, *old;
	uint32_t root, oroot, l, d, f;
	size_t i;

	escape_tree(x);
	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);
	old = session(x, P9_2000U, &oroot, NULL);
	f = walkto(cl, root, "file", NULL);
	for (i = 0; i < sizeof links / sizeof links[0]; i++) {
		uint32_t g;

		l = walkto(cl, root, links[i], NULL);
		d = walkto(cl, l, "", NULL);
		assert_true(p9_cl_lcreate(cl, d, "new", P9_L_RDWR | P9_L_CREATE,
		                0644, 0, NULL) < 0);
		assert_int_equal(p9_cl_clunk(cl, d), 0);
		assert_true(t_mkdir(cl, l, "new", 0755, 0, NULL) < 0);
		assert_true(t_symlink(cl, l, "new", "t", NULL) < 0);
		assert_true(
		    t_mknod(cl, l, "new", S_IFIFO | 0644, 0, 0, NULL) < 0);
		assert_true(t_link(cl, l, f, "new") < 0);
		assert_true(t_renameat(cl, root, "file", l, "new") < 0);
		assert_true(t_rename(cl, f, l, "new") < 0);
		assert_true(t_renameat(cl, l, "secret", root, "stolen") < 0);
		assert_true(t_unlinkat(cl, l, "secret", 0) < 0);
		assert_true(try_walk(cl, l, "new", &g, NULL) < 0);
		assert_int_equal(p9_cl_clunk(cl, l), 0);
		/* 9P2000.u Tcreate on the link */
		l = walkto(old, oroot, links[i], NULL);
		assert_true(
		    p9_cl_create(old, l, "new", 0644, P9_ORDWR, NULL) < 0);
		assert_int_equal(p9_cl_clunk(old, l), 0);
	}
	/* creating a name that is a link leading out neither opens nor
	 * makes anything there (O_CREAT would follow the link) */
	for (i = 0; i < 2; i++) {
		const char *name = i ? "dangling" : "sec";

		d = walkto(cl, root, "", NULL);
		assert_int_equal(
		    p9_cl_lcreate(cl, d, name,
		        P9_L_RDWR | P9_L_CREATE | P9_L_TRUNC, 0644, 0, NULL),
		    -ELOOP);
		assert_int_equal(p9_cl_clunk(cl, d), 0);
		d = walkto(old, oroot, "", NULL);
		assert_true(p9_cl_create(old, d, name, 0644,
		                P9_ORDWR | P9_OTRUNC, NULL) < 0);
		assert_int_equal(p9_cl_clunk(old, d), 0);
		assert_true(
		    t_mknod(cl, root, name, S_IFIFO | 0644, 0, 0, NULL) < 0);
		assert_true(t_mkdir(cl, root, name, 0755, 0, NULL) < 0);
		assert_true(S_ISLNK(lst(x->efd, name).st_mode));
	}
	assert_int_equal(p9_cl_clunk(cl, f), 0);
	assert_true(S_ISREG(lst(x->efd, "file").st_mode));
	assert_true(missing(x->efd, "stolen"));
	assert_outside_untouched(x);
}

static void
test_hard_link_to_a_file_outside_cannot_be_made(void **state)
{
	struct fx *x = *state;
	struct p9_cl *cl;
	uint32_t root, f, s;
	char path[PATH_MAX];
	struct stat st;

	escape_tree(x);
	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);
	/* no walk reaches the outside file, so no fid can name it */
	assert_true(try_walk(cl, root, "../outside/secret", &f, NULL) < 0);
	assert_true(try_walk(cl, root, "outrel/secret", &f, NULL) < 0);
	assert_true(try_walk(cl, root, "outabs/secret", &f, NULL) < 0);
	snprintf(path, sizeof path, "../..%s/secret", x->out);
	assert_true(try_walk(cl, root, path, &f, NULL) < 0);
	/* linking the symlink that points there links the symlink */
	s = walkto(cl, root, "sec", NULL);
	if (t_link(cl, root, s, "hl") == 0) {
		st = lst(x->efd, "hl");
		assert_true(S_ISLNK(st.st_mode));
		assert_int_equal(st.st_ino, lst(x->efd, "sec").st_ino);
		assert_int_equal(
		    try_lopen(cl, root, "hl", P9_L_RDONLY), -ELOOP);
	}
	assert_int_equal(p9_cl_clunk(cl, s), 0);
	assert_outside_untouched(x);
}

/* ---- options ---- */

static void
test_readonly_refuses_every_change_with_erofs(void **state)
{
	struct fx *x = *state;
	struct fsrv_opts o;
	struct p9_cl *cl, *old;
	struct p9_iattr ia;
	struct p9_statfs sf;
	struct p9_attr a;
	struct p9_stat s;
	struct names ns = {0};
	uint32_t root, oroot, f, d;
	char buf[64];

	put_both(x, "f", "content\n", 8, 0644);
	mkdir_both(x, "d", 0755);
	put_both(x, "d/x", "x", 1, 0644);
	assert_int_equal(symlinkat("f", x->efd, "l"), 0);
	assert_int_equal(symlinkat("f", x->tfd, "l"), 0);
	memset(&o, 0, sizeof o);
	o.readonly = 1;
	serve(x, &o);
	cl = session(x, P9_2000L, &root, NULL);

	/* reads work */
	assert_reads(cl, root, "f", "content\n");
	assert_int_equal(p9_cl_getattr(cl, root, P9_GETATTR_BASIC, &a), 0);
	d = lopen_path(cl, root, "", P9_L_RDONLY | P9_L_DIRECTORY);
	readdir_all(cl, d, 4096, &ns);
	assert_int_equal(ns.n, 5); /* . .. f d l */
	names_free(&ns);
	assert_int_equal(p9_cl_clunk(cl, d), 0);
	assert_int_equal(t_statfs(cl, root, &sf), 0);
	f = walkto(cl, root, "l", NULL);
	assert_int_equal(t_readlink(cl, f, buf, sizeof buf), 0);
	assert_string_equal(buf, "f");
	assert_int_equal(p9_cl_clunk(cl, f), 0);
	f = walkto(cl, root, "f", NULL);
	assert_true(xattr_get(cl, f, "", buf, sizeof buf) >= 0);

	/* every change: EROFS */
	assert_int_equal(try_lopen(cl, root, "f", P9_L_WRONLY), -EROFS);
	assert_int_equal(try_lopen(cl, root, "f", P9_L_RDWR), -EROFS);
	assert_int_equal(
	    try_lopen(cl, root, "f", P9_L_RDONLY | P9_L_TRUNC), -EROFS);
	assert_int_equal(
	    try_lopen(cl, root, "f", P9_L_WRONLY | P9_L_APPEND), -EROFS);
	d = walkto(cl, root, "", NULL);
	assert_int_equal(
	    p9_cl_lcreate(cl, d, "new", P9_L_RDWR | P9_L_CREATE, 0644, 0, NULL),
	    -EROFS);
	assert_int_equal(p9_cl_clunk(cl, d), 0);
	assert_int_equal(t_mkdir(cl, root, "new", 0755, 0, NULL), -EROFS);
	assert_int_equal(t_symlink(cl, root, "new", "f", NULL), -EROFS);
	assert_int_equal(
	    t_mknod(cl, root, "new", S_IFIFO | 0644, 0, 0, NULL), -EROFS);
	assert_int_equal(t_link(cl, root, f, "new"), -EROFS);
	assert_int_equal(t_rename(cl, f, root, "new"), -EROFS);
	assert_int_equal(t_renameat(cl, root, "f", root, "new"), -EROFS);
	assert_int_equal(t_unlinkat(cl, root, "f", 0), -EROFS);
	assert_int_equal(t_unlinkat(cl, root, "d", P9_AT_REMOVEDIR), -EROFS);
	memset(&ia, 0, sizeof ia);
	ia.valid = P9_SETATTR_MODE;
	ia.mode = 0600;
	assert_int_equal(p9_cl_setattr(cl, f, &ia), -EROFS);
	ia.valid = P9_SETATTR_SIZE;
	ia.size = 0;
	assert_int_equal(p9_cl_setattr(cl, f, &ia), -EROFS);
	ia.valid = P9_SETATTR_UID;
	ia.uid = 1;
	assert_int_equal(p9_cl_setattr(cl, f, &ia), -EROFS);
	ia.valid = P9_SETATTR_ATIME | P9_SETATTR_MTIME;
	assert_int_equal(p9_cl_setattr(cl, f, &ia), -EROFS);
	assert_int_equal(xattr_set(cl, f, "user.x", "v", 1, 0), -EROFS);
	assert_int_equal(xattr_set(cl, f, "user.x", NULL, 0, 2), -EROFS);
	assert_int_equal(p9_cl_clunk(cl, f), 0);

	/* 9P2000.u: opening to write, create, wstat, remove */
	old = session(x, P9_2000U, &oroot, NULL);
	f = walkto(old, oroot, "f", NULL);
	assert_int_equal(p9_cl_open(old, f, P9_OWRITE, NULL, NULL), -EROFS);
	assert_int_equal(p9_cl_open(old, f, P9_ORDWR, NULL, NULL), -EROFS);
	assert_int_equal(
	    p9_cl_open(old, f, P9_OREAD | P9_OTRUNC, NULL, NULL), -EROFS);
	assert_int_equal(
	    p9_cl_open(old, f, P9_OREAD | P9_ORCLOSE, NULL, NULL), -EROFS);
	p9_stat_null(&s);
	s.name = "new";
	assert_int_equal(p9_cl_wstat(old, f, &s), -EROFS);
	p9_stat_null(&s);
	s.length = 0;
	assert_int_equal(p9_cl_wstat(old, f, &s), -EROFS);
	assert_int_equal(p9_cl_remove(old, f), -EROFS);
	d = walkto(old, oroot, "", NULL);
	assert_int_equal(
	    p9_cl_create(old, d, "new", 0644, P9_ORDWR, NULL), -EROFS);
	assert_int_equal(
	    p9_cl_create(old, d, "new", P9_DMDIR | 0755, P9_OREAD, NULL),
	    -EROFS);
	assert_int_equal(p9_cl_clunk(old, d), 0);
	/* and reading still works there */
	f = walkto(old, oroot, "f", NULL);
	assert_int_equal(p9_cl_open(old, f, P9_OREAD, NULL, NULL), 0);
	assert_int_equal(p9_cl_read(old, f, 0, buf, sizeof buf), 8);
	assert_int_equal(p9_cl_clunk(old, f), 0);

	assert_same_tree(x->efd, x->tfd, ".");
}

static void
test_squash_makes_every_user_the_squash_uid(void **state)
{
	struct fx *x = *state;
	struct fsrv_opts o;
	struct p9_attr a;
	struct p9_cl *cl;
	struct stat st;
	uint32_t root, root2, d;

	assert_int_equal(fchmod(x->efd, 0777), 0);
	put(x->efd, "secret", "s", 1, 0600);
	memset(&o, 0, sizeof o);
	o.squash = 1;
	o.squash_uid = 4242;
	o.squash_gid = 4243;
	serve(x, &o);
	cl = session(x, P9_2000L, &root, NULL); /* root asks to be root */
	d = walkto(cl, root, "", NULL);
	assert_int_equal(p9_cl_lcreate(cl, d, "made", P9_L_RDWR | P9_L_CREATE,
	                     0644, P9_NONUNAME, NULL),
	    0);
	assert_int_equal(p9_cl_write(cl, d, 0, "m", 1), 1);
	assert_int_equal(p9_cl_getattr(cl, d, P9_GETATTR_BASIC, &a), 0);
	assert_int_equal(a.uid, 4242);
	assert_int_equal(a.gid, 4243);
	assert_int_equal(p9_cl_clunk(cl, d), 0);
	st = lst(x->efd, "made");
	assert_int_equal(st.st_uid, 4242);
	assert_int_equal(st.st_gid, 4243);
	assert_int_equal(t_mkdir(cl, root, "dir", 0755, P9_NONUNAME, NULL), 0);
	st = lst(x->efd, "dir");
	assert_int_equal(st.st_uid, 4242);
	assert_int_equal(st.st_gid, 4243);
	/* the squashed user is not root: root's 0600 file is closed */
	assert_int_equal(try_lopen(cl, root, "secret", P9_L_RDONLY), -EACCES);
	/* whatever uid an attach names */
	root2 = attach(cl, NOBODY, NULL);
	assert_int_equal(
	    t_mkdir(cl, root2, "dir2", 0755, P9_NONUNAME, NULL), 0);
	assert_int_equal(lst(x->efd, "dir2").st_uid, 4242);
	assert_int_equal(p9_cl_clunk(cl, root2), 0);
}

/* ---- permissions: acting as another user ---- */

/* The tests below act as "nobody", uid and gid 65534, as Debian has it. */
static void
need_nobody(void)
{
	struct passwd *pw = getpwuid(NOBODY);

	if (!pw || pw->pw_gid != NOBODY || strcmp(pw->pw_name, "nobody")) {
		print_message(
		    "# skipped: no user nobody with uid and gid %d\n", NOBODY);
		skip();
	}
}

/* open(2) of name beneath dirfd: 0 or -errno (closed again). */
static int
direct_open(int dirfd, const char *name, int flags)
{
	int fd = openat(dirfd, name, flags | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static void
test_root_acting_as_uid_65534_gets_that_users_permissions(void **state)
{
	struct fx *x = *state;
	struct p9_iattr ia;
	struct p9_cl *cl;
	struct stat st;
	uint32_t root, f, d, byname;
	char p[PATH_MAX];
	int want_secret, want_wr, want_rw, want_inner, want_chmod, want_trunc,
	    want_mknod, want_chown;

	need_nobody();
	assert_int_equal(fchmod(x->efd, 0777), 0);
	assert_int_equal(fchmod(x->tfd, 0777), 0);
	put_both(x, "secret", "top secret\n", 11, 0600);
	put_both(x, "pub", "public\n", 7, 0644);
	mkdir_both(x, "rootdir", 0700);
	put_both(x, "rootdir/f", "f", 1, 0644);

	/* what the kernel says to uid 65534 directly, on the twin */
	as_user(NOBODY, NOBODY);
	want_secret = direct_open(x->tfd, "secret", O_RDONLY);
	want_wr = direct_open(x->tfd, "pub", O_WRONLY);
	want_rw = direct_open(x->tfd, "pub", O_RDWR);
	want_inner = direct_open(x->tfd, "rootdir/f", O_RDONLY);
	want_chmod = rc_of(fchmodat(x->tfd, "pub", 0666, 0));
	snprintf(p, sizeof p, "%s/pub", x->twin);
	want_trunc = rc_of(truncate(p, 0));
	want_mknod =
	    rc_of(mknodat(x->tfd, "null", S_IFCHR | 0666, makedev(1, 3)));
	assert_int_equal(
	    direct_open(x->tfd, "mine", O_RDWR | O_CREAT | O_EXCL), 0);
	assert_int_equal(mkdirat(x->tfd, "mydir", 0755), 0);
	want_chown = rc_of(fchownat(x->tfd, "mine", 0, 0, 0));
	as_root();
	assert_int_equal(want_secret, -EACCES);
	assert_int_equal(want_wr, -EACCES);
	assert_int_equal(want_mknod, -EPERM);

	serve(x, NULL);
	cl = dial(x, P9_2000L);
	root = attach(cl, NOBODY, NULL);
	assert_int_equal(
	    try_lopen(cl, root, "secret", P9_L_RDONLY), want_secret);
	assert_int_equal(try_lopen(cl, root, "pub", P9_L_WRONLY), want_wr);
	assert_int_equal(try_lopen(cl, root, "pub", P9_L_RDWR), want_rw);
	assert_reads(cl, root, "pub", "public\n");
	d = walkto(cl, root, "rootdir", NULL);
	assert_int_equal(try_walk(cl, d, "f", &f, NULL), want_inner);
	assert_int_equal(p9_cl_clunk(cl, d), 0);
	f = walkto(cl, root, "pub", NULL);
	memset(&ia, 0, sizeof ia);
	ia.valid = P9_SETATTR_MODE;
	ia.mode = 0666;
	assert_int_equal(p9_cl_setattr(cl, f, &ia), want_chmod);
	ia.valid = P9_SETATTR_SIZE;
	ia.size = 0;
	assert_int_equal(p9_cl_setattr(cl, f, &ia), want_trunc);
	assert_int_equal(p9_cl_clunk(cl, f), 0);
	assert_int_equal(
	    t_mknod(cl, root, "null", S_IFCHR | 0666, 1, 3, NULL), want_mknod);
	/* what this user makes is this user's */
	d = walkto(cl, root, "", NULL);
	assert_int_equal(
	    p9_cl_lcreate(cl, d, "mine", P9_L_RDWR | P9_L_CREATE | P9_L_EXCL,
	        0644, NOBODY, NULL),
	    0);
	assert_int_equal(p9_cl_clunk(cl, d), 0);
	st = lst(x->efd, "mine");
	assert_int_equal(st.st_uid, NOBODY);
	assert_int_equal(st.st_gid, NOBODY);
	assert_int_equal(
	    t_mkdir(cl, root, "mydir", 0755, P9_NONUNAME, NULL), 0);
	assert_int_equal(lst(x->efd, "mydir").st_uid, NOBODY);
	/* and may not be given away */
	f = walkto(cl, root, "mine", NULL);
	ia.valid = P9_SETATTR_UID | P9_SETATTR_GID;
	ia.uid = 0;
	ia.gid = 0;
	assert_int_equal(p9_cl_setattr(cl, f, &ia), want_chown);
	assert_int_equal(want_chown, -EPERM);
	assert_int_equal(p9_cl_clunk(cl, f), 0);
	assert_same_tree(x->efd, x->tfd, ".");

	/* root naming the user by name (no n_uname) */
	byname = p9_cl_fid_new(cl);
	assert_int_equal(
	    p9_cl_attach(cl, byname, "nobody", P9_NONUNAME, "", NULL), 0);
	assert_int_equal(
	    t_mkdir(cl, byname, "named", 0755, P9_NONUNAME, NULL), 0);
	assert_int_equal(lst(x->efd, "named").st_uid, NOBODY);
	assert_int_equal(try_lopen(cl, byname, "secret", P9_L_RDONLY), -EACCES);
	assert_int_equal(p9_cl_clunk(cl, byname), 0);
}

/* Walks and opens run on the server's loop, which acts as each fid's user
 * in turn and as the daemon again after: one connection with a fid of
 * nobody's and one of root's, taking turns, each gets its own
 * permissions.  And a walk through names the kernel no longer caches
 * (dropped) is finished by a worker: the files are still found. */
static void
test_loop_acts_as_each_user_in_turn_and_misses_go_to_a_worker(void **state)
{
	struct fx *x = *state;
	struct p9_cl *cl;
	uint32_t nob, root;
	int i, fd;

	need_nobody();
	assert_int_equal(fchmod(x->efd, 0777), 0);
	put_both(x, "secret", "top secret\n", 11, 0600);
	mkdir_both(x, "a", 0755);
	mkdir_both(x, "a/b", 0755);
	put_both(x, "a/b/deep", "deep\n", 5, 0644);
	serve(x, NULL);
	cl = dial(x, P9_2000L);
	nob = attach(cl, NOBODY, NULL);
	root = attach(cl, 0, NULL);
	for (i = 0; i < 3; i++) {
		assert_int_equal(
		    try_lopen(cl, nob, "secret", P9_L_RDONLY), -EACCES);
		assert_reads(cl, root, "secret", "top secret\n");
	}
	/* unused dentries and inodes dropped: RESOLVE_CACHED misses */
	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "2", 1), 1);
	close(fd);
	assert_reads(cl, nob, "a/b/deep", "deep\n");
	assert_int_equal(try_lopen(cl, nob, "secret", P9_L_RDONLY), -EACCES);
	assert_reads(cl, root, "a/b/deep", "deep\n");
}

struct dialer {
	struct fx *x;
	uid_t uid;
	gid_t gid;
	struct p9_cl *cl;
	int err;
};

/* Connects from a thread that has become uid/gid for good (the raw
 * calls change this thread's credentials only), so the socket's peer is
 * that user. */
static void *
dialer_main(void *arg)
{
	struct dialer *d = arg;
	gid_t g = d->gid;

	if (syscall(SYS_setgroups, 1, &g) < 0 ||
	    syscall(SYS_setresgid, g, g, g) < 0 ||
	    syscall(SYS_setresuid, d->uid, d->uid, d->uid) < 0) {
		d->err = -errno;
		return NULL;
	}
	d->cl = connect_cl(d->x, P9_2000L, &d->err);
	return NULL;
}

static void
test_nonroot_peer_is_itself_and_cannot_claim_another_uid(void **state)
{
	struct fx *x = *state;
	struct dialer dl = {.x = x, .uid = NOBODY, .gid = NOBODY};
	struct p9_cl *cl;
	pthread_t th;
	uint32_t fid, root, d;

	need_nobody();
	assert_int_equal(fchmod(x->efd, 0777), 0);
	put(x->efd, "secret", "s", 1, 0600);
	serve(x, NULL);
	assert_int_equal(pthread_create(&th, NULL, dialer_main, &dl), 0);
	pthread_join(th, NULL);
	assert_int_equal(dl.err, 0);
	assert_non_null(dl.cl);
	cl = dl.cl;
	keep_cl(x, cl);
	/* another uid, root's included: refused */
	fid = p9_cl_fid_new(cl);
	assert_int_equal(p9_cl_attach(cl, fid, "root", 0, "", NULL), -EPERM);
	assert_int_equal(p9_cl_attach(cl, fid, "", 1000, "", NULL), -EPERM);
	/* a name alone claims nothing: the peer is itself */
	assert_int_equal(
	    p9_cl_attach(cl, fid, "root", P9_NONUNAME, "", NULL), 0);
	root = fid;
	d = walkto(cl, root, "", NULL);
	assert_int_equal(p9_cl_lcreate(cl, d, "peer", P9_L_RDWR | P9_L_CREATE,
	                     0644, P9_NONUNAME, NULL),
	    0);
	assert_int_equal(p9_cl_clunk(cl, d), 0);
	assert_int_equal(lst(x->efd, "peer").st_uid, NOBODY);
	assert_int_equal(try_lopen(cl, root, "secret", P9_L_RDONLY), -EACCES);
	/* its own uid, named: fine */
	fid = attach(cl, NOBODY, NULL);
	assert_int_equal(t_mkdir(cl, fid, "own", 0755, P9_NONUNAME, NULL), 0);
	assert_int_equal(lst(x->efd, "own").st_uid, NOBODY);
	assert_int_equal(p9_cl_clunk(cl, fid), 0);
}

/* After the directory above a fid is renamed away and a new file takes the
 * old name, removing through the fid must not delete the newcomer. */
static void
test_remove_through_a_stale_path_is_estale(void **state)
{
	struct fx *x = *state;
	struct p9_cl *cl;
	uint32_t root, a;

	assert_int_equal(mkdirat(x->efd, "d", 0755), 0);
	put(x->efd, "d/f", "old", 3, 0644);
	serve(x, NULL);
	cl = session(x, P9_2000L, &root, NULL);
	a = walkto(cl, root, "d/f", NULL);
	assert_int_equal(t_renameat(cl, root, "d", root, "e"), 0);
	assert_int_equal(mkdirat(x->efd, "d", 0755), 0);
	assert_int_equal(mkdirat(x->efd, "d/f", 0755), 0);
	assert_int_equal(p9_cl_remove(cl, a), -ESTALE);
	assert_int_equal(lst(x->efd, "d/f").st_mode & S_IFMT, S_IFDIR);
	assert_int_equal(lst(x->efd, "e/f").st_size, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_lopen_read_gives_the_file_contents, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_loop_acts_as_each_user_in_turn_and_misses_go_to_a_worker,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_lcreate_and_writes_at_offsets_match_pwrite_in_the_twin,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_getattr_matches_stat, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_setattr_matches_the_same_change_made_directly, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_readdir_in_small_rounds_gives_every_name_once, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_mkdir_makes_what_mkdir_makes, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_symlink_and_readlink_give_the_target, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_link_gives_the_same_inode_and_nlink_2, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_mknod_makes_a_fifo_and_a_char_device, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_rename_moves_the_file_and_the_fid_follows, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_remove_through_a_stale_path_is_estale, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_renameat_moves_names_and_replaces_like_renameat, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_unlinkat_gives_what_unlinkat_gives, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_fsync_of_open_files_and_directories_succeeds, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_statfs_matches_statfs, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_xattrs_set_read_list_and_remove_like_the_xattr_calls,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_xattr_write_at_a_wrapping_offset_is_refused, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_changes_feed_tells_what_changed_of_the_names_walked,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_lock_conflict_is_blocked_and_reported_by_getlock, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_9p2000_open_and_read_give_the_file_contents, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_9p2000_create_makes_files_and_directories, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_9p2000_directory_read_gives_a_stat_record_per_entry, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_9p2000_stat_fields_match_stat, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_9p2000_wstat_renames_truncates_chmods_and_sets_mtime,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_9p2000_remove_deletes_a_file_and_an_empty_directory, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_walk_pipelined_behind_its_attach_waits_for_it, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_walk_dotdot_from_the_root_stays_at_the_root, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_symlinks_leading_out_cannot_be_opened_or_walked_through,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_names_with_a_slash_or_dotdot_are_rejected, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_nothing_is_made_through_a_symlink_to_outside, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_hard_link_to_a_file_outside_cannot_be_made, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_readonly_refuses_every_change_with_erofs, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_squash_makes_every_user_the_squash_uid, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_root_acting_as_uid_65534_gets_that_users_permissions,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_nonroot_peer_is_itself_and_cannot_claim_another_uid, setup,
	        teardown),
	};

	if (geteuid() != 0) {
		printf("1..0 # SKIP test_fsrv must run as root\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	umask(022);
	root_ngroups = getgroups(64, root_groups);
	if (root_ngroups < 0)
		root_ngroups = 0;
	return cmocka_run_group_tests_name("fsrv", tests, NULL, NULL);
}
