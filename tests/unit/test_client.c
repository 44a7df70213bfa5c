/*
 * test_client.c - the 9P client (client.c, cl.c).
 *
 * Two groups.  "client_diod" runs the blocking and the asynchronous client
 * against a real 9P2000.L server, Debian's diod, started here on a free
 * loopback port and exporting a temporary directory (skipped without
 * diod).  "client_protocol" runs the asynchronous client against a scripted
 * fake server on a socketpair, for what a correct server never does: bad
 * Rversion, unknown tags, oversized frames, Rerror, and Tflush races.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "9p/p9.h"

#define DIOD "/usr/sbin/diod"
#define TIMEOUT 120 /* seconds for the whole program */

/* ---- helpers ---- */

static char tmpdir[64];  /* everything the tests make */
static char expdir[128]; /* what diod exports */
static int have_diod;

/* Every diod started, so that the group teardown and the alarm handler
 * can kill what is left by pid. */
static pid_t diods[8];
static int ndiods;

struct diod {
	pid_t pid;
	int port;
	char log[160];
};

static struct diod shared; /* the group's server */

static void
on_alarm(int sig)
{
	static const char msg[] = "test_client: timed out\n";
	int i;

	for (i = 0; i < ndiods; i++)
		if (diods[i] > 0)
			kill(diods[i], SIGKILL);
	if (write(2, msg, sizeof msg - 1) < 0)
		_exit(2);
	_exit(2);
}

static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof sin;
	int fd, port = -1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &sl) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static int
tcp_dial(int port)
{
	struct sockaddr_in sin;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
show_log(const char *path)
{
	char buf[4096];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0)
		return;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		if (write(2, buf, (size_t)n) < 0)
			break;
	close(fd);
}

/*
 * Starts diod in the foreground, without authentication (-n), exporting
 * dir on 127.0.0.1 with no config file; it runs as root, so an attach with
 * n_uname 0 is root.  Waits until it accepts.  0 or -1.
 */
static int
diod_start(struct diod *d, const char *dir)
{
	char listen[32];
	int try, i, fd, status;
	pid_t pid, parent = getpid();

	for (try = 0; try < 5; try++) {
		if ((d->port = free_port()) < 0)
			return -1;
		snprintf(listen, sizeof listen, "127.0.0.1:%d", d->port);
		snprintf(
		    d->log, sizeof d->log, "%s/diod-%d.log", tmpdir, d->port);
		if ((pid = fork()) < 0)
			return -1;
		if (pid == 0) {
			/* die with the test, even of a crash */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(1);
			fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
			execl(DIOD, "diod", "-f", "-n", "-l", listen, "-e", dir,
			    "-c", "/dev/null", "-L", "stderr", (char *)NULL);
			_exit(127);
		}
		d->pid = pid;
		if (ndiods < (int)(sizeof diods / sizeof diods[0]))
			diods[ndiods++] = pid;
		for (i = 0; i < 500; i++) {
			if ((fd = tcp_dial(d->port)) >= 0) {
				close(fd);
				return 0;
			}
			if (waitpid(pid, &status, WNOHANG) == pid)
				break; /* port taken meanwhile? try another */
			sleep_ms(20);
		}
		if (i == 500) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		}
		d->pid = 0;
		show_log(d->log);
	}
	return -1;
}

static void
diod_stop(struct diod *d)
{
	int i, status;

	if (d->pid <= 0)
		return;
	kill(d->pid, SIGKILL);
	waitpid(d->pid, &status, 0);
	for (i = 0; i < ndiods; i++)
		if (diods[i] == d->pid)
			diods[i] = 0;
	d->pid = 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void
path_in(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", expdir, name);
}

static void
make_file(const char *name, const void *data, size_t n)
{
	char path[512];
	int fd;

	path_in(path, sizeof path, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
}

/* The file's bytes, malloc()ed; *n its length. */
static uint8_t *
slurp(const char *name, size_t *n)
{
	char path[512];
	struct stat st;
	uint8_t *buf;
	int fd;

	path_in(path, sizeof path, name);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*n = (size_t)st.st_size;
	return buf;
}

static void
fill(uint8_t *p, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

static struct p9_addr
diod_addr(const struct diod *d)
{
	struct p9_addr a;
	char s[32];

	snprintf(s, sizeof s, "127.0.0.1:%d", d->port);
	assert_int_equal(p9_addr_parse(&a, s, 564), 0);
	return a;
}

/* A blocking client on the shared diod, attached as root: *root. */
static struct p9_cl *
cl_attach(uint32_t msize, uint32_t *root)
{
	struct p9_client_opts o = {.msize = msize, .dialect = P9_2000L};
	struct p9_addr a = diod_addr(&shared);
	struct p9_qid qid;
	struct p9_cl *cl;
	int err;

	cl = p9_cl_connect(&a, &o, &err);
	assert_non_null(cl);
	assert_int_equal(err, 0);
	*root = p9_cl_fid_new(cl);
	assert_int_equal(p9_cl_attach(cl, *root, "root", 0, expdir, &qid), 0);
	assert_true(qid.type & P9_QTDIR);
	return cl;
}

#define NEED_DIOD()                                                            \
	do {                                                                   \
		if (!have_diod) {                                              \
			print_message("# diod not available, skipped\n");      \
			skip();                                                \
		}                                                              \
	} while (0)

/* ---- blocking client against diod ---- */

/* Learns diod's largest msize with a raw Tversion, no client code. */
static uint32_t
diod_max_msize(void)
{
	struct p9_fcall t, r;
	uint8_t buf[256];
	ssize_t n;
	size_t got = 0;
	int fd;

	memset(&t, 0, sizeof t);
	t.type = P9_TVERSION;
	t.tag = P9_NOTAG;
	t.u.version.msize = P9_MAXMSIZE;
	t.u.version.version = "9P2000.L";
	n = p9_pack(&t, buf, sizeof buf, P9_2000L);
	assert_true(n > 0);
	fd = tcp_dial(shared.port);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, (size_t)n), n);
	while (got < 4 || got < (size_t)(buf[0] | buf[1] << 8)) {
		n = read(fd, buf + got, sizeof buf - 1 - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	close(fd);
	assert_int_equal(p9_unpack(&r, buf, got, P9_MAXMSIZE, P9_2000L), 0);
	assert_int_equal(r.type, P9_RVERSION);
	return r.u.version.msize;
}

static void
test_connect_negotiates_9p2000L_and_smaller_msize(void **state)
{
	struct p9_addr a;
	struct p9_client_opts o = {.dialect = P9_2000L};
	struct p9_cl *cl;
	uint32_t max, ours = (1u << 20) + P9_IOHDRSZ;
	int err;

	NEED_DIOD();
	max = diod_max_msize();
	a = diod_addr(&shared);

	cl = p9_cl_connect(&a, NULL, &err); /* defaults: .L, 1 MiB + 24 */
	assert_non_null(cl);
	assert_int_equal(p9_cl_dialect(cl), P9_2000L);
	assert_int_equal(p9_cl_msize(cl), max < ours ? max : ours);
	p9_cl_close(cl);

	o.msize = 8192;
	cl = p9_cl_connect(&a, &o, &err);
	assert_non_null(cl);
	assert_int_equal(p9_cl_msize(cl), 8192 < max ? 8192 : max);
	p9_cl_close(cl);

	o.msize = P9_MAXMSIZE;
	cl = p9_cl_connect(&a, &o, &err);
	assert_non_null(cl);
	assert_int_equal(p9_cl_msize(cl), max);
	p9_cl_close(cl);
}

static void
test_attach_as_root_gives_directory_qid(void **state)
{
	struct p9_cl *cl;
	struct p9_attr at;
	struct stat st;
	uint32_t root;

	NEED_DIOD();
	cl = cl_attach(0, &root);
	assert_int_equal(p9_cl_getattr(cl, root, P9_GETATTR_BASIC, &at), 0);
	assert_int_equal(stat(expdir, &st), 0);
	assert_int_equal(at.mode, st.st_mode);
	assert_int_equal(at.uid, 0);
	assert_int_equal(p9_cl_clunk(cl, root), 0);
	p9_cl_close(cl);
}

static void
test_lopen_read_returns_file_contents(void **state)
{
	static const char text[] = "hello, 9P world\n";
	struct p9_cl *cl;
	struct p9_qid qid;
	uint32_t root, fid, iounit;
	char buf[256];

	NEED_DIOD();
	make_file("hello.txt", text, sizeof text - 1);
	cl = cl_attach(0, &root);
	fid = p9_cl_fid_new(cl);
	assert_int_equal(p9_cl_walk(cl, root, fid, "hello.txt", &qid), 0);
	assert_int_equal(qid.type, P9_QTFILE);
	assert_int_equal(p9_cl_lopen(cl, fid, P9_L_RDONLY, &qid, &iounit), 0);
	assert_int_equal(
	    p9_cl_read(cl, fid, 0, buf, sizeof buf), sizeof text - 1);
	assert_memory_equal(buf, text, sizeof text - 1);
	/* at and past the end: 0 */
	assert_int_equal(p9_cl_read(cl, fid, sizeof text - 1, buf, 10), 0);
	/* from an offset, short count */
	assert_int_equal(p9_cl_read(cl, fid, 7, buf, 2), 2);
	assert_memory_equal(buf, "9P", 2);
	assert_int_equal(p9_cl_clunk(cl, fid), 0);
	assert_int_equal(p9_cl_clunk(cl, root), 0);
	p9_cl_close(cl);
}

static void
test_lcreate_write_then_read_back(void **state)
{
	static const char text[] = "written through 9P";
	struct p9_cl *cl;
	struct p9_qid qid;
	uint32_t root, fid;
	char buf[64];
	uint8_t *disk;
	size_t n;

	NEED_DIOD();
	cl = cl_attach(0, &root);
	fid = p9_cl_fid_new(cl);
	assert_int_equal(p9_cl_walk(cl, root, fid, "", NULL), 0); /* clone */
	assert_int_equal(
	    p9_cl_lcreate(cl, fid, "made.txt",
	        P9_L_RDWR | P9_L_CREATE | P9_L_EXCL, 0640, 0, &qid),
	    0);
	assert_int_equal(qid.type, P9_QTFILE);
	assert_int_equal(
	    p9_cl_write(cl, fid, 0, text, sizeof text - 1), sizeof text - 1);
	assert_int_equal(
	    p9_cl_read(cl, fid, 0, buf, sizeof buf), sizeof text - 1);
	assert_memory_equal(buf, text, sizeof text - 1);
	assert_int_equal(p9_cl_clunk(cl, fid), 0);
	disk = slurp("made.txt", &n);
	assert_int_equal(n, sizeof text - 1);
	assert_memory_equal(disk, text, n);
	free(disk);
	assert_int_equal(p9_cl_clunk(cl, root), 0);
	p9_cl_close(cl);
}

static void
test_write_of_3mib_is_split_and_lands_whole_on_disk(void **state)
{
	const size_t n = 3u << 20;
	struct p9_cl *cl;
	uint32_t root, fid;
	uint8_t *data, *disk;
	size_t got;

	NEED_DIOD();
	cl = cl_attach(0, &root);
	/* more than one message's worth, so the write must be split */
	assert_true(p9_cl_msize(cl) - P9_IOHDRSZ < n);
	data = malloc(n);
	assert_non_null(data);
	fill(data, n, 42);
	fid = p9_cl_fid_new(cl);
	assert_int_equal(p9_cl_walk(cl, root, fid, "", NULL), 0);
	assert_int_equal(
	    p9_cl_lcreate(cl, fid, "three-mib",
	        P9_L_WRONLY | P9_L_CREATE | P9_L_TRUNC, 0644, 0, NULL),
	    0);
	assert_int_equal(p9_cl_write(cl, fid, 0, data, n), (ssize_t)n);
	assert_int_equal(p9_cl_clunk(cl, fid), 0);
	disk = slurp("three-mib", &got);
	assert_int_equal(got, n);
	assert_memory_equal(disk, data, n);
	free(disk);
	free(data);
	assert_int_equal(p9_cl_clunk(cl, root), 0);
	p9_cl_close(cl);
}

static void
test_readdir_lists_the_names_made(void **state)
{
	static const char *const names[] = {"alpha", "beta", "gamma"};
	int seen[3] = {0}, dots = 0;
	char path[512];
	struct p9_cl *cl;
	struct p9_dirent de;
	uint32_t root, fid;
	uint64_t off = 0;
	uint8_t buf[512]; /* small: several Treaddirs */
	ssize_t n, k, pos;
	size_t i;

	NEED_DIOD();
	path_in(path, sizeof path, "dir");
	assert_int_equal(mkdir(path, 0755), 0);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "dir/%s", names[i]);
		make_file(path, "x", 1);
	}
	cl = cl_attach(0, &root);
	fid = p9_cl_fid_new(cl);
	assert_int_equal(p9_cl_walk(cl, root, fid, "dir", NULL), 0);
	assert_int_equal(
	    p9_cl_lopen(cl, fid, P9_L_RDONLY | P9_L_DIRECTORY, NULL, NULL), 0);
	while ((n = p9_cl_readdir(cl, fid, off, buf, 64)) > 0) {
		for (pos = 0; pos < n; pos += k) {
			k = p9_dirent_unpack(&de, buf + pos, (size_t)(n - pos));
			assert_true(k > 0);
			off = de.offset;
			for (i = 0; i < 3; i++)
				if (de.namelen == strlen(names[i]) &&
				    memcmp(de.name, names[i], de.namelen) == 0)
					seen[i]++;
			if ((de.namelen == 1 && de.name[0] == '.') ||
			    (de.namelen == 2 && memcmp(de.name, "..", 2) == 0))
				dots++;
		}
	}
	assert_int_equal(n, 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(dots, 2);
	assert_int_equal(p9_cl_clunk(cl, fid), 0);
	assert_int_equal(p9_cl_clunk(cl, root), 0);
	p9_cl_close(cl);
}

static void
test_getattr_size_and_mode_match_stat(void **state)
{
	uint8_t data[5000];
	char path[512];
	struct p9_cl *cl;
	struct p9_attr at;
	struct stat st;
	uint32_t root, fid;

	NEED_DIOD();
	fill(data, sizeof data, 7);
	make_file("attr.bin", data, sizeof data);
	path_in(path, sizeof path, "attr.bin");
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(stat(path, &st), 0);
	cl = cl_attach(0, &root);
	fid = p9_cl_fid_new(cl);
	assert_int_equal(p9_cl_walk(cl, root, fid, "attr.bin", NULL), 0);
	assert_int_equal(p9_cl_getattr(cl, fid, P9_GETATTR_ALL, &at), 0);
	assert_true((at.valid & P9_GETATTR_BASIC) == P9_GETATTR_BASIC);
	assert_int_equal(at.size, (uint64_t)st.st_size);
	assert_int_equal(at.mode, st.st_mode);
	assert_int_equal(at.uid, st.st_uid);
	assert_int_equal(at.gid, st.st_gid);
	assert_int_equal(at.nlink, st.st_nlink);
	assert_int_equal(at.mtime_sec, (uint64_t)st.st_mtim.tv_sec);
	assert_int_equal(p9_cl_clunk(cl, fid), 0);
	assert_int_equal(p9_cl_clunk(cl, root), 0);
	p9_cl_close(cl);
}

static void
test_walk_of_missing_name_gives_enoent_and_binds_nothing(void **state)
{
	char path[512];
	struct p9_cl *cl;
	uint32_t root, fid;

	NEED_DIOD();
	path_in(path, sizeof path, "present");
	assert_int_equal(mkdir(path, 0755), 0);
	cl = cl_attach(0, &root);
	fid = p9_cl_fid_new(cl);
	/* the first name fails: Rlerror */
	assert_int_equal(p9_cl_walk(cl, root, fid, "missing", NULL), -ENOENT);
	/* a later one fails: a short Rwalk */
	assert_int_equal(
	    p9_cl_walk(cl, root, fid, "present/missing", NULL), -ENOENT);
	/* fid was never bound: the server does not know it (diod would
	 * let a walk rebind it, so clunk tells) */
	assert_int_not_equal(p9_cl_clunk(cl, fid), 0);
	fid = p9_cl_fid_new(cl);
	assert_int_equal(p9_cl_walk(cl, root, fid, "present", NULL), 0);
	assert_int_equal(p9_cl_clunk(cl, fid), 0);
	assert_int_equal(p9_cl_clunk(cl, root), 0);
	p9_cl_close(cl);
}

static void
test_walk_of_20_names_crosses_the_16_name_limit(void **state)
{
	static const char text[] = "deep down";
	char rel[256] = "", path[512], buf[64];
	struct p9_cl *cl;
	struct p9_qid qid;
	struct p9_attr at;
	struct stat st;
	uint32_t root, fid, fid2;
	int i;

	NEED_DIOD();
	for (i = 0; i < 20; i++) {
		snprintf(rel + strlen(rel), sizeof rel - strlen(rel), "%sn%d",
		    i ? "/" : "", i);
		path_in(path, sizeof path, rel);
		assert_int_equal(mkdir(path, 0755), 0);
	}
	strcat(rel, "/leaf");
	make_file(rel, text, sizeof text - 1);
	path_in(path, sizeof path, rel);
	assert_int_equal(stat(path, &st), 0);

	cl = cl_attach(0, &root);
	fid = p9_cl_fid_new(cl);
	/* 21 names: two Twalks */
	assert_int_equal(p9_cl_walk(cl, root, fid, rel, &qid), 0);
	assert_int_equal(qid.type, P9_QTFILE);
	assert_int_equal(p9_cl_getattr(cl, fid, P9_GETATTR_BASIC, &at), 0);
	assert_int_equal(at.qid.path, st.st_ino); /* diod: path = inode */
	assert_int_equal(p9_cl_lopen(cl, fid, P9_L_RDONLY, NULL, NULL), 0);
	assert_int_equal(
	    p9_cl_read(cl, fid, 0, buf, sizeof buf), sizeof text - 1);
	assert_memory_equal(buf, text, sizeof text - 1);
	assert_int_equal(p9_cl_clunk(cl, fid), 0);

	/* in place, newfid == fid */
	fid = p9_cl_fid_new(cl);
	assert_int_equal(p9_cl_walk(cl, root, fid, "", NULL), 0);
	assert_int_equal(p9_cl_walk(cl, fid, fid, rel, &qid), 0);
	assert_int_equal(p9_cl_getattr(cl, fid, P9_GETATTR_BASIC, &at), 0);
	assert_int_equal(at.qid.path, st.st_ino); /* diod: path = inode */
	assert_int_equal(p9_cl_clunk(cl, fid), 0);

	/* failing in the second Twalk: the fid bound by the first one is
	 * clunked again, so the server no longer knows it */
	fid2 = p9_cl_fid_new(cl);
	strcpy(rel + strlen(rel) - strlen("leaf"), "nothere");
	assert_int_equal(p9_cl_walk(cl, root, fid2, rel, NULL), -ENOENT);
	assert_int_not_equal(p9_cl_clunk(cl, fid2), 0);
	assert_int_equal(p9_cl_clunk(cl, root), 0);
	p9_cl_close(cl);
}

#define NTHREADS 32
#define BIGSIZE (1u << 20)

struct reader {
	struct p9_cl *cl;
	uint32_t root;
	const uint8_t *expect;
	pthread_barrier_t *start;
	int id;
	int bad; /* first failure, for the main thread to report */
};

static void *
reader_main(void *arg)
{
	struct reader *r = arg;
	uint8_t *buf = malloc(65536);
	uint32_t fid = p9_cl_fid_new(r->cl);
	uint64_t off;
	size_t got;
	ssize_t n = 0;
	int i;

	pthread_barrier_wait(r->start);
	if (!buf || p9_cl_walk(r->cl, r->root, fid, "big.bin", NULL) < 0 ||
	    p9_cl_lopen(r->cl, fid, P9_L_RDONLY, NULL, NULL) < 0) {
		r->bad = 1;
		goto out;
	}
	for (i = 0; i < 40 && !r->bad; i++) {
		off = ((uint64_t)(r->id * 40 + i) * 4099) % (BIGSIZE - 65536);
		/* short reads are allowed: read on to the whole 64 KiB */
		for (got = 0; got < 65536; got += (size_t)n) {
			n = p9_cl_read(
			    r->cl, fid, off + got, buf + got, 65536 - got);
			if (n <= 0)
				break;
		}
		if (got != 65536 || memcmp(buf, r->expect + off, 65536) != 0)
			r->bad = 2;
	}
	if (p9_cl_clunk(r->cl, fid) < 0)
		r->bad = 3;
out:
	free(buf);
	return NULL;
}

static void
test_32_threads_reading_at_once_all_get_their_data(void **state)
{
	struct reader rs[NTHREADS];
	pthread_t th[NTHREADS];
	pthread_barrier_t start;
	struct p9_cl *cl;
	uint8_t *big;
	uint32_t root;
	int i;

	NEED_DIOD();
	big = malloc(BIGSIZE);
	assert_non_null(big);
	fill(big, BIGSIZE, 99);
	make_file("big.bin", big, BIGSIZE);
	cl = cl_attach(0, &root);
	pthread_barrier_init(&start, NULL, NTHREADS);
	for (i = 0; i < NTHREADS; i++) {
		rs[i] = (struct reader){cl, root, big, &start, i, 0};
		assert_int_equal(
		    pthread_create(&th[i], NULL, reader_main, &rs[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(rs[i].bad, 0);
	pthread_barrier_destroy(&start);
	assert_int_equal(p9_cl_clunk(cl, root), 0);
	p9_cl_close(cl);
	free(big);
}

static void
test_connect_to_port_without_listener_gives_econnrefused(void **state)
{
	struct p9_addr a;
	char s[32];
	int err = 0;

	snprintf(s, sizeof s, "127.0.0.1:%d", free_port());
	assert_int_equal(p9_addr_parse(&a, s, 564), 0);
	assert_null(p9_cl_connect(&a, NULL, &err));
	assert_int_equal(err, -ECONNREFUSED);
}

static void
test_connect_to_missing_unix_socket_gives_enoent(void **state)
{
	struct p9_addr a;
	char s[160];
	int err = 0;

	snprintf(s, sizeof s, "unix:%s/no-such.sock", tmpdir);
	assert_int_equal(p9_addr_parse(&a, s, 564), 0);
	assert_null(p9_cl_connect(&a, NULL, &err));
	assert_int_equal(err, -ENOENT);
}

static void
test_killed_server_makes_next_call_fail_promptly(void **state)
{
	struct p9_client_opts o = {.dialect = P9_2000L};
	struct diod d = {0};
	struct p9_addr a;
	struct p9_attr at;
	struct p9_cl *cl;
	uint32_t root;
	double t0;
	int err, rc, status;

	NEED_DIOD();
	assert_int_equal(diod_start(&d, expdir), 0);
	a = diod_addr(&d);
	cl = p9_cl_connect(&a, &o, &err);
	assert_non_null(cl);
	root = p9_cl_fid_new(cl);
	assert_int_equal(p9_cl_attach(cl, root, "root", 0, expdir, NULL), 0);
	assert_int_equal(p9_cl_getattr(cl, root, P9_GETATTR_BASIC, &at), 0);

	kill(d.pid, SIGKILL);
	waitpid(d.pid, &status, 0);
	t0 = now();
	rc = p9_cl_getattr(cl, root, P9_GETATTR_BASIC, &at);
	assert_true(rc == -ECONNRESET || rc == -EPIPE);
	/* and it stays so */
	rc = p9_cl_getattr(cl, root, P9_GETATTR_BASIC, &at);
	assert_true(rc == -ECONNRESET || rc == -EPIPE);
	assert_true(now() - t0 < 5.0);
	diod_stop(&d);
	p9_cl_close(cl);
}

/* ---- asynchronous client against diod ---- */

#define NCALLS 100

struct async {
	uv_loop_t loop;
	uv_timer_t timer;
	struct p9_client *c;
	int err;
	uint32_t root;
	int sent, answered, bad, first_reply_sent;
	int eintr, ok;
	int calls[NCALLS]; /* callbacks per call */
	uint16_t tags[NCALLS];
	int closed;
	int after_close; /* callbacks after p9_client_close returned */
	void (*attached)(struct async *);
	void (*all_answered)(struct async *); /* NULL: close */
};

struct slot {
	struct async *as;
	int i;
};
static struct slot slots[NCALLS];

static void
getattr_cb(void *arg, int err, struct p9_fcall *r)
{
	struct slot *sl = arg;
	struct async *as = sl->as;

	if (as->closed)
		as->after_close++;
	if (as->answered == 0)
		as->first_reply_sent = as->sent;
	as->answered++;
	as->calls[sl->i]++;
	if (err == EINTR) {
		as->eintr++;
	} else if (err != 0 || !r || r->type != P9_RGETATTR) {
		as->bad++;
	} else {
		as->ok++;
		as->tags[sl->i] = r->tag;
	}
	if (as->answered == as->sent) {
		if (as->all_answered) {
			as->all_answered(as);
		} else {
			p9_client_close(as->c);
			as->closed = 1;
		}
	}
}

static struct p9_call *
send_getattr(struct async *as, int i, p9_call_cb cb)
{
	struct p9_fcall t;
	struct p9_call *call;

	memset(&t, 0, sizeof t);
	t.type = P9_TGETATTR;
	t.u.getattr.fid = as->root;
	t.u.getattr.request_mask = P9_GETATTR_BASIC;
	slots[i] = (struct slot){as, i};
	call = p9_client_call(as->c, &t, cb, &slots[i]);
	if (call)
		as->sent++;
	return call;
}

static void
attach_cb(void *arg, int err, struct p9_fcall *r)
{
	struct async *as = arg;

	if (err) {
		as->err = -err;
		p9_client_close(as->c);
		return;
	}
	as->attached(as);
}

static void
async_connected(void *arg, struct p9_client *c, int err)
{
	struct async *as = arg;
	struct p9_fcall t;

	as->c = c;
	as->err = err;
	if (!c)
		return;
	as->root = p9_client_fid_new(c);
	memset(&t, 0, sizeof t);
	t.type = P9_TATTACH;
	t.u.attach.fid = as->root;
	t.u.attach.afid = P9_NOFID;
	t.u.attach.uname = "root";
	t.u.attach.aname = expdir;
	t.u.attach.n_uname = 0;
	if (!p9_client_call(c, &t, attach_cb, as)) {
		as->err = -errno;
		p9_client_close(c);
	}
}

/* Connects to the shared diod, attaches, calls attached(), runs the loop
 * until the client is closed and gone. */
static void
async_run(struct async *as, void (*attached)(struct async *))
{
	struct p9_addr a = diod_addr(&shared);

	memset(as, 0, sizeof *as);
	memset(as->tags, 0xff, sizeof as->tags);
	as->attached = attached;
	assert_int_equal(uv_loop_init(&as->loop), 0);
	assert_int_equal(
	    p9_client_connect(&as->loop, &a, NULL, async_connected, as), 0);
	uv_run(&as->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&as->loop), 0);
	assert_int_equal(as->err, 0);
}

static void
send_100(struct async *as)
{
	int i;

	/* all sent from this one callback: none can be answered before the
	 * last is out */
	for (i = 0; i < NCALLS; i++)
		if (!send_getattr(as, i, getattr_cb))
			as->bad++;
}

static void
test_async_100_calls_in_flight_are_all_answered(void **state)
{
	struct async as;
	int i, j;

	NEED_DIOD();
	async_run(&as, send_100);
	assert_int_equal(as.sent, NCALLS);
	assert_int_equal(as.first_reply_sent, NCALLS);
	assert_int_equal(as.bad, 0);
	assert_int_equal(as.ok, NCALLS);
	assert_int_equal(as.after_close, 0);
	for (i = 0; i < NCALLS; i++) {
		assert_int_equal(as.calls[i], 1);
		/* all were in flight at once: distinct tags */
		for (j = 0; j < i; j++)
			assert_int_not_equal(as.tags[i], as.tags[j]);
		assert_int_not_equal(as.tags[i], P9_NOTAG);
	}
}

/* Some time for the Rflushes to come, then one more call. */
static void
one_more_call(uv_timer_t *t)
{
	struct async *as = t->data;

	uv_close((uv_handle_t *)t, NULL);
	if (!send_getattr(as, 20, getattr_cb)) {
		as->bad++;
		p9_client_close(as->c);
	}
}

static void
wait_then_call(struct async *as)
{
	as->all_answered = NULL;
	uv_timer_init(&as->loop, &as->timer);
	as->timer.data = as;
	uv_timer_start(&as->timer, one_more_call, 300, 0);
}

static void
send_and_flush(struct async *as)
{
	struct p9_call *call;
	int i;

	as->all_answered = wait_then_call;
	for (i = 0; i < 20; i++) {
		if (!(call = send_getattr(as, i, getattr_cb))) {
			as->bad++;
			continue;
		}
		p9_call_flush(call);
		p9_call_flush(call); /* a second flush is a no-op */
	}
}

static void
test_flush_of_fast_request_delivers_exactly_one_callback(void **state)
{
	struct async as;
	int i;

	NEED_DIOD();
	async_run(&as, send_and_flush);
	assert_int_equal(as.sent, 21);
	assert_int_equal(as.bad, 0);
	assert_int_equal(as.ok + as.eintr, 21);
	assert_int_equal(as.after_close, 0);
	/* no stray reply killed the connection */
	assert_int_equal(as.calls[20], 1);
	assert_int_not_equal(as.tags[20], 0xffff);
	for (i = 0; i < 20; i++)
		assert_int_equal(as.calls[i], 1);
}

static void
closing_cb(void *arg, int err, struct p9_fcall *r)
{
	struct slot *sl = arg;

	sl->as->calls[sl->i]++;
	if (err != ECONNRESET || r)
		sl->as->bad++;
	if (sl->as->closed)
		sl->as->after_close++;
}

static void
send_then_close(struct async *as)
{
	int i;

	for (i = 0; i < 10; i++)
		if (!send_getattr(as, i, closing_cb))
			as->bad++;
	/* before any reply: every call gets ECONNRESET, here and now */
	p9_client_close(as->c);
	as->closed = 1;
}

static void
test_client_close_fails_pending_calls_with_econnreset_once(void **state)
{
	struct async as;
	int i;

	NEED_DIOD();
	async_run(&as, send_then_close);
	assert_int_equal(as.sent, 10);
	assert_int_equal(as.bad, 0);
	assert_int_equal(as.after_close, 0);
	for (i = 0; i < 10; i++)
		assert_int_equal(as.calls[i], 1);
}

/* ---- asynchronous client against a scripted fake server ---- */

struct fake {
	int fd;
	enum p9_dialect d; /* what the script speaks */
	uint32_t msize;
	void (*script)(struct fake *f);
	pthread_t th;
	char fail[160]; /* the script's first failed check */
	uint8_t buf[65536 + 1];
	int lfd;   /* > 0: accept the client here first */
	int stage; /* how far the script got (atomic) */
};

#define FAKE_CHECK(f, cond)                                                    \
	do {                                                                   \
		if (!(cond)) {                                                 \
			if (!(f)->fail[0])                                     \
				snprintf((f)->fail, sizeof(f)->fail,           \
				    "%s:%d: %s", __func__, __LINE__, #cond);   \
			return;                                                \
		}                                                              \
	} while (0)

static int
readn(int fd, uint8_t *p, size_t n)
{
	ssize_t k;

	while (n > 0) {
		if ((k = read(fd, p, n)) <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* The next T-message; -1 at end of stream or on garbage. */
static int
fake_recv(struct fake *f, struct p9_fcall *m)
{
	uint32_t size;

	if (readn(f->fd, f->buf, 4) < 0)
		return -1;
	size = (uint32_t)f->buf[0] | (uint32_t)f->buf[1] << 8 |
	       (uint32_t)f->buf[2] << 16 | (uint32_t)f->buf[3] << 24;
	if (size < P9_HDRSZ || size > sizeof f->buf - 1 ||
	    readn(f->fd, f->buf + 4, size - 4) < 0)
		return -1;
	return p9_unpack(m, f->buf, size, sizeof f->buf - 1, f->d) < 0 ? -1 : 0;
}

static void
fake_send_bytes(struct fake *f, const void *p, size_t n)
{
	if (send(f->fd, p, n, MSG_NOSIGNAL) != (ssize_t)n)
		snprintf(f->fail, sizeof f->fail, "write failed");
}

static void
fake_send(struct fake *f, const struct p9_fcall *m)
{
	uint8_t buf[4096];
	ssize_t n = p9_pack(m, buf, sizeof buf, f->d);

	if (n < 0) {
		snprintf(
		    f->fail, sizeof f->fail, "cannot pack type %u", m->type);
		return;
	}
	fake_send_bytes(f, buf, (size_t)n);
}

/* Answers Tversion with msize and version. */
static void
fake_version(struct fake *f, uint32_t msize, const char *version)
{
	struct p9_fcall m;

	FAKE_CHECK(f, fake_recv(f, &m) == 0);
	FAKE_CHECK(f, m.type == P9_TVERSION && m.tag == P9_NOTAG);
	f->msize = m.u.version.msize;
	memset(&m, 0, sizeof m);
	m.type = P9_RVERSION;
	m.tag = P9_NOTAG;
	m.u.version.msize = msize;
	m.u.version.version = (char *)version;
	fake_send(f, &m);
}

/* Waits for the client to hang up. */
static void
fake_eof(struct fake *f)
{
	struct p9_fcall m;

	while (fake_recv(f, &m) == 0)
		;
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;

	if (f->lfd > 0) {
		f->fd = accept(f->lfd, NULL, NULL);
		close(f->lfd);
		if (f->fd < 0) {
			snprintf(f->fail, sizeof f->fail, "accept failed");
			return NULL;
		}
	}
	f->script(f);
	if (f->fail[0]) /* hang up, so that the client does not wait on */
		shutdown(f->fd, SHUT_RDWR);
	fake_eof(f);
	close(f->fd);
	return NULL;
}

struct drv {
	uv_loop_t loop;
	uv_timer_t watchdog;
	int timed_out;
	struct fake f;
	struct p9_client *c;
	int err; /* connect: 0 or -errno */
	enum p9_dialect dialect;
	uint32_t msize;
	int ncb, cberr[8], cbtype[8];
	int closed, after_close;
	struct p9_call *call[8];
	void (*connected)(struct drv *v);
};

static int drv_eager; /* p9_client_opts.eager for the next drv_run */

static void
drv_connected(void *arg, struct p9_client *c, int err)
{
	struct drv *v = arg;

	v->c = c;
	v->err = err;
	if (!c)
		return;
	v->dialect = p9_client_dialect(c);
	v->msize = p9_client_msize(c);
	if (v->connected)
		v->connected(v);
	else
		p9_client_close(c);
}

static void
drv_close(struct drv *v)
{
	p9_client_close(v->c);
	v->closed = 1;
}

/* A test gone wrong: hang up, so that the client ends and the test fails
 * rather than hangs. */
static void
drv_timeout(uv_timer_t *t)
{
	struct drv *v = t->data;

	v->timed_out = 1;
	shutdown(v->f.fd, SHUT_RDWR);
}

/*
 * Runs the client (asking d) against script until the client is gone.
 * The client may write to a peer that has hung up: SIGPIPE is the
 * application's to handle, so it is blocked here and discarded after.
 */
static void
drv_run(struct drv *v, enum p9_dialect d, void (*script)(struct fake *),
    void (*connected)(struct drv *))
{
	struct p9_client_opts o = {
	    .msize = 8192, .dialect = d, .eager = drv_eager};
	struct timespec zero = {0, 0};
	struct p9_stream *s;
	sigset_t pipeset, old;
	uv_pipe_t *p;
	int sv[2];

	sigemptyset(&pipeset);
	sigaddset(&pipeset, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipeset, &old);
	memset(v, 0, sizeof *v);
	v->connected = connected;
	v->f.d = d;
	v->f.script = script;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	v->f.fd = sv[1];
	assert_int_equal(pthread_create(&v->f.th, NULL, fake_main, &v->f), 0);
	assert_int_equal(uv_loop_init(&v->loop), 0);
	p = malloc(sizeof *p);
	assert_non_null(p);
	assert_int_equal(uv_pipe_init(&v->loop, p, 0), 0);
	assert_int_equal(uv_pipe_open(p, sv[0]), 0);
	s = p9_stream_uv_new((uv_stream_t *)p, 0);
	assert_non_null(s);
	assert_int_equal(
	    p9_client_connect_stream(&v->loop, s, &o, drv_connected, v), 0);
	uv_timer_init(&v->loop, &v->watchdog);
	v->watchdog.data = v;
	uv_timer_start(&v->watchdog, drv_timeout, 10000, 0);
	uv_unref((uv_handle_t *)&v->watchdog);
	uv_run(&v->loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&v->watchdog, NULL);
	uv_run(&v->loop, UV_RUN_DEFAULT);
	pthread_join(v->f.th, NULL);
	while (sigtimedwait(&pipeset, NULL, &zero) == SIGPIPE)
		;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	assert_int_equal(uv_loop_close(&v->loop), 0);
	assert_false(v->timed_out);
	if (v->f.fail[0])
		fail_msg("fake server: %s", v->f.fail);
}

static void
drv_cb(void *arg, int err, struct p9_fcall *r)
{
	struct drv *v = arg;

	if (v->closed)
		v->after_close++;
	if (v->ncb < 8) {
		v->cberr[v->ncb] = err;
		v->cbtype[v->ncb] = r ? r->type : -1;
	}
	v->ncb++;
}

/* A call whose callback closes the client once it has run. */
static void
drv_last_cb(void *arg, int err, struct p9_fcall *r)
{
	struct drv *v = arg;

	drv_cb(arg, err, r);
	if (!v->closed)
		drv_close(v);
}

static struct p9_call *
drv_call(struct drv *v, uint8_t type, p9_call_cb cb)
{
	struct p9_fcall t;
	struct p9_call *call;

	memset(&t, 0, sizeof t);
	t.type = type;
	t.u.read.fid = 1; /* Tclunk, Tread, Tgetattr all start with fid */
	t.u.read.count = 100;
	call = p9_client_call(v->c, &t, cb, v);
	if (v->ncb < 8 && !call)
		v->cberr[7] = -errno;
	return call;
}

static void
script_msize_too_big(struct fake *f)
{
	fake_version(f, 8193, "9P2000.L");
}

static void
test_rversion_msize_above_ours_fails_with_eproto(void **state)
{
	struct drv v;

	drv_run(&v, P9_2000L, script_msize_too_big, NULL);
	assert_null(v.c);
	assert_int_equal(v.err, -EPROTO);
}

static void
script_msize_too_small(struct fake *f)
{
	fake_version(f, 4095, "9P2000.L");
}

static void
test_rversion_msize_below_4096_fails_with_eproto(void **state)
{
	struct drv v;

	drv_run(&v, P9_2000L, script_msize_too_small, NULL);
	assert_int_equal(v.err, -EPROTO);
}

static void
script_unknown(struct fake *f)
{
	fake_version(f, 8192, "unknown");
}

static void
test_rversion_unknown_fails_with_eprotonosupport(void **state)
{
	struct drv v;

	drv_run(&v, P9_2000L, script_unknown, NULL);
	assert_int_equal(v.err, -EPROTONOSUPPORT);
}

static void
script_offers_L(struct fake *f)
{
	fake_version(f, 8192, "9P2000.L");
}

static void
test_rversion_higher_than_asked_fails_with_eprotonosupport(void **state)
{
	struct drv v;

	drv_run(&v, P9_2000U, script_offers_L, NULL);
	assert_int_equal(v.err, -EPROTONOSUPPORT);
}

static void
script_offers_u(struct fake *f)
{
	fake_version(f, 6000, "9P2000.u");
}

static void
test_rversion_downgrade_to_u_and_smaller_msize_is_accepted(void **state)
{
	struct drv v;

	drv_run(&v, P9_2000L, script_offers_u, NULL);
	assert_int_equal(v.err, 0);
	assert_int_equal(v.dialect, P9_2000U);
	assert_int_equal(v.msize, 6000);
}

static void
script_eof_before_rversion(struct fake *f)
{
	struct p9_fcall m;

	FAKE_CHECK(f, fake_recv(f, &m) == 0);
	shutdown(f->fd, SHUT_WR);
}

static void
test_hangup_before_rversion_fails_connect_with_econnreset(void **state)
{
	struct drv v;

	drv_run(&v, P9_2000L, script_eof_before_rversion, NULL);
	assert_null(v.c);
	assert_int_equal(v.err, -ECONNRESET);
}

/* Eager: the Tclunk comes before the Rversion goes. */
static void
script_clunk_before_rversion(struct fake *f)
{
	struct p9_fcall m, c;

	FAKE_CHECK(f, fake_recv(f, &m) == 0 && m.type == P9_TVERSION);
	FAKE_CHECK(f, fake_recv(f, &c) == 0 && c.type == P9_TCLUNK);
	m.type = P9_RVERSION;
	m.u.version.msize = 6000;
	fake_send(f, &m);
	c.type = P9_RCLUNK;
	fake_send(f, &c);
	fake_eof(f);
}

static void one_call(struct drv *v);

static void
test_eager_calls_go_before_rversion_and_are_answered(void **state)
{
	struct drv v;

	drv_eager = 1;
	drv_run(&v, P9_2000L, script_clunk_before_rversion, one_call);
	drv_eager = 0;
	assert_int_equal(v.err, 0);
	assert_int_equal(v.ncb, 1);
	assert_int_equal(v.cberr[0], 0);
}

/* Eager, but the server speaks another dialect: what was sent is void. */
static void
script_eager_downgrade(struct fake *f)
{
	struct p9_fcall m;

	FAKE_CHECK(f, fake_recv(f, &m) == 0 && m.type == P9_TVERSION);
	m.type = P9_RVERSION;
	m.u.version.version = "9P2000.u";
	fake_send(f, &m);
	fake_eof(f);
}

static void
test_eager_rversion_of_another_dialect_fails_the_calls(void **state)
{
	struct drv v;

	drv_eager = 1;
	drv_run(&v, P9_2000L, script_eager_downgrade, one_call);
	drv_eager = 0;
	assert_int_equal(v.err, 0); /* connected at once */
	assert_int_equal(v.ncb, 1);
	assert_int_equal(v.cberr[0], ECONNRESET);
}

/* Answers one call with the reply's tag + 1. */
static void
script_wrong_tag(struct fake *f)
{
	struct p9_fcall m;

	fake_version(f, 8192, "9P2000.L");
	FAKE_CHECK(f, fake_recv(f, &m) == 0 && m.type == P9_TCLUNK);
	m.type = P9_RCLUNK;
	m.tag++;
	fake_send(f, &m);
}

static void
one_call(struct drv *v)
{
	drv_call(v, P9_TCLUNK, drv_last_cb);
}

static void
test_reply_to_unknown_tag_drops_connection(void **state)
{
	struct drv v;

	drv_run(&v, P9_2000L, script_wrong_tag, one_call);
	assert_int_equal(v.err, 0);
	assert_int_equal(v.ncb, 1);
	assert_int_equal(v.cberr[0], ECONNRESET);
	assert_int_equal(v.after_close, 0);
}

static void
script_oversized(struct fake *f)
{
	struct p9_fcall m;
	uint8_t hdr[7] = {0x01, 0x20, 0, 0, P9_RREAD, 0, 0}; /* 8193 */

	fake_version(f, 8192, "9P2000.L");
	FAKE_CHECK(f, fake_recv(f, &m) == 0 && m.type == P9_TREAD);
	hdr[5] = (uint8_t)m.tag;
	hdr[6] = (uint8_t)(m.tag >> 8);
	fake_send_bytes(f, hdr, sizeof hdr);
}

static void
one_read(struct drv *v)
{
	drv_call(v, P9_TREAD, drv_last_cb);
}

static void
test_reply_larger_than_msize_drops_connection(void **state)
{
	struct drv v;

	drv_run(&v, P9_2000L, script_oversized, one_read);
	assert_int_equal(v.ncb, 1);
	assert_int_equal(v.cberr[0], ECONNRESET);
}

static void
script_undersized(struct fake *f)
{
	struct p9_fcall m;
	uint8_t hdr[7] = {6, 0, 0, 0, P9_RREAD, 0, 0};

	fake_version(f, 8192, "9P2000.L");
	FAKE_CHECK(f, fake_recv(f, &m) == 0 && m.type == P9_TREAD);
	fake_send_bytes(f, hdr, sizeof hdr);
}

static void
test_reply_shorter_than_header_drops_connection(void **state)
{
	struct drv v;

	drv_run(&v, P9_2000L, script_undersized, one_read);
	assert_int_equal(v.ncb, 1);
	assert_int_equal(v.cberr[0], ECONNRESET);
}

/* Three replies: one split across writes byte by byte, two in one. */
static void
script_fragments(struct fake *f)
{
	struct p9_fcall m, t[3];
	uint8_t buf[512];
	ssize_t n, k;
	size_t i, len = 0;

	fake_version(f, 8192, "9P2000.L");
	for (i = 0; i < 3; i++)
		FAKE_CHECK(f, fake_recv(f, &t[i]) == 0);
	for (i = 0; i < 3; i++) {
		memset(&m, 0, sizeof m);
		m.type = P9_RREAD;
		m.tag = t[i].tag;
		m.u.rread.count = 5;
		m.u.rread.data = (const uint8_t *)"abcde";
		n = p9_pack(&m, buf + len, sizeof buf - len, f->d);
		FAKE_CHECK(f, n > 0);
		len += (size_t)n;
	}
	n = (ssize_t)len / 3; /* the first reply */
	for (k = 0; k < n; k++) {
		fake_send_bytes(f, buf + k, 1);
		sleep_ms(1);
	}
	fake_send_bytes(f, buf + n, len - (size_t)n);
}

static void
data_cb(void *arg, int err, struct p9_fcall *r)
{
	struct drv *v = arg;

	if (err || r->u.rread.count != 5 ||
	    memcmp(r->u.rread.data, "abcde", 5) != 0)
		v->cberr[7] = -1;
	drv_cb(arg, err, r);
	if (v->ncb == 3)
		drv_close(v);
}

static void
three_reads(struct drv *v)
{
	int i;

	for (i = 0; i < 3; i++)
		drv_call(v, P9_TREAD, data_cb);
}

static void
test_replies_split_and_joined_in_the_stream_are_framed(void **state)
{
	struct drv v;

	drv_run(&v, P9_2000L, script_fragments, three_reads);
	assert_int_equal(v.ncb, 3);
	assert_int_equal(v.cberr[7], 0);
	assert_int_equal(v.cberr[0], 0);
	assert_int_equal(v.cberr[2], 0);
}

static void
script_rerror(struct fake *f)
{
	struct p9_fcall m;
	uint16_t tag;

	fake_version(f, 8192, f->d == P9_2000 ? "9P2000" : "9P2000.u");
	FAKE_CHECK(f, fake_recv(f, &m) == 0);
	tag = m.tag;
	memset(&m, 0, sizeof m);
	m.type = P9_RERROR;
	m.tag = tag;
	m.u.error.ename = "file does not exist";
	m.u.error.errnum = EACCES; /* .u: the number wins */
	fake_send(f, &m);
}

static void
test_rerror_in_9p2000_maps_the_string_to_errno(void **state)
{
	struct drv v;

	drv_run(&v, P9_2000, script_rerror, one_call);
	assert_int_equal(v.dialect, P9_2000);
	assert_int_equal(v.ncb, 1);
	assert_int_equal(v.cberr[0], ENOENT);
	/* the Rerror itself comes along, for its text */
	assert_int_equal(v.cbtype[0], P9_RERROR);
}

static void
test_rerror_in_9p2000u_uses_its_errno(void **state)
{
	struct drv v;

	drv_run(&v, P9_2000U, script_rerror, one_call);
	assert_int_equal(v.ncb, 1);
	assert_int_equal(v.cberr[0], EACCES);
}

static void
script_rlerror(struct fake *f)
{
	struct p9_fcall m;
	uint16_t tag;

	fake_version(f, 8192, "9P2000.L");
	FAKE_CHECK(f, fake_recv(f, &m) == 0);
	tag = m.tag;
	memset(&m, 0, sizeof m);
	m.type = P9_RLERROR;
	m.tag = tag;
	m.u.lerror.ecode = ENOTDIR;
	fake_send(f, &m);
}

static void
test_rlerror_gives_its_errno(void **state)
{
	struct drv v;

	drv_run(&v, P9_2000L, script_rlerror, one_call);
	assert_int_equal(v.ncb, 1);
	assert_int_equal(v.cberr[0], ENOTDIR);
}

/* Holds the Tread; on Tflush answers Rflush only. */
static void
script_flush_held(struct fake *f)
{
	struct p9_fcall m;
	uint16_t tag;

	fake_version(f, 8192, "9P2000.L");
	FAKE_CHECK(f, fake_recv(f, &m) == 0 && m.type == P9_TREAD);
	tag = m.tag;
	FAKE_CHECK(f, fake_recv(f, &m) == 0 && m.type == P9_TFLUSH);
	FAKE_CHECK(f, m.u.flush.oldtag == tag && m.tag != tag);
	FAKE_CHECK(f, m.tag != P9_NOTAG);
	memset(&m.u, 0, sizeof m.u);
	m.type = P9_RFLUSH;
	fake_send(f, &m);
}

static void
read_and_flush(struct drv *v)
{
	struct p9_call *call = drv_call(v, P9_TREAD, drv_last_cb);

	p9_call_flush(call);
}

static void
test_flush_of_held_request_gives_eintr_after_rflush(void **state)
{
	struct drv v;

	drv_run(&v, P9_2000L, script_flush_held, read_and_flush);
	assert_int_equal(v.ncb, 1);
	assert_int_equal(v.cberr[0], EINTR);
	assert_int_equal(v.after_close, 0);
}

/*
 * The original's reply crosses the Tflush: Rread, then Rflush.  Between
 * the two the read is answered, but its tag (and the Tflush's) must stay
 * held: the client makes 300 calls one after another meanwhile, enough
 * to go round the tag table several times.
 */
#define NSEQ 300

static void
script_flush_crossing(struct fake *f)
{
	struct p9_fcall m;
	uint16_t tag, ftag;
	int i;

	fake_version(f, 8192, "9P2000.L");
	FAKE_CHECK(f, fake_recv(f, &m) == 0 && m.type == P9_TREAD);
	tag = m.tag;
	FAKE_CHECK(f, fake_recv(f, &m) == 0 && m.type == P9_TFLUSH);
	ftag = m.tag;
	memset(&m, 0, sizeof m);
	m.type = P9_RREAD;
	m.tag = tag;
	m.u.rread.count = 3;
	m.u.rread.data = (const uint8_t *)"hey";
	fake_send(f, &m);
	for (i = 0; i < NSEQ; i++) {
		FAKE_CHECK(f, fake_recv(f, &m) == 0 && m.type == P9_TCLUNK);
		FAKE_CHECK(f, m.tag != tag && m.tag != ftag);
		m.type = P9_RCLUNK;
		fake_send(f, &m);
	}
	memset(&m, 0, sizeof m);
	m.type = P9_RFLUSH;
	m.tag = ftag;
	fake_send(f, &m);
	/* the last call, which may have either tag now */
	FAKE_CHECK(f, fake_recv(f, &m) == 0 && m.type == P9_TCLUNK);
	m.type = P9_RCLUNK;
	fake_send(f, &m);
}

static void
clunk_cb(void *arg, int err, struct p9_fcall *r)
{
	struct drv *v = arg;

	if (err)
		v->cberr[6] = err;
	/* one read, then clunks, one at a time */
	if (++v->ncb < 1 + NSEQ)
		drv_call(v, P9_TCLUNK, clunk_cb);
	else
		drv_call(v, P9_TCLUNK, drv_last_cb);
}

static void
crossing_read_cb(void *arg, int err, struct p9_fcall *r)
{
	struct drv *v = arg;

	v->cberr[0] = err;
	v->cbtype[0] = r ? r->type : -1;
	if (r && (r->u.rread.count != 3 || memcmp(r->u.rread.data, "hey", 3)))
		v->cberr[5] = -1;
	v->ncb++;
	drv_call(v, P9_TCLUNK, clunk_cb);
}

static void
read_flush_crossing(struct drv *v)
{
	p9_call_flush(drv_call(v, P9_TREAD, crossing_read_cb));
}

static void
test_flush_crossing_reply_delivers_it_and_holds_tag_till_rflush(void **state)
{
	struct drv v;

	drv_run(&v, P9_2000L, script_flush_crossing, read_flush_crossing);
	assert_int_equal(v.ncb, 1 + NSEQ + 1);
	assert_int_equal(v.cberr[0], 0);
	assert_int_equal(v.cbtype[0], P9_RREAD);
	assert_int_equal(v.cberr[5], 0);
	assert_int_equal(v.cberr[6], 0);
	assert_int_equal(v.after_close, 0);
}

/* After Rflush the old tag is free: a late reply to it is a bug. */
static void
script_reply_after_rflush(struct fake *f)
{
	struct p9_fcall m;
	uint16_t tag, ftag;

	fake_version(f, 8192, "9P2000.L");
	FAKE_CHECK(f, fake_recv(f, &m) == 0 && m.type == P9_TREAD);
	tag = m.tag;
	FAKE_CHECK(f, fake_recv(f, &m) == 0 && m.type == P9_TFLUSH);
	ftag = m.tag;
	FAKE_CHECK(f, fake_recv(f, &m) == 0 && m.type == P9_TCLUNK);
	memset(&m.u, 0, sizeof m.u);
	m.type = P9_RFLUSH;
	m.tag = ftag;
	fake_send(f, &m);
	m.type = P9_RREAD;
	m.tag = tag;
	fake_send(f, &m);
}

static void
flush_then_clunk(struct drv *v)
{
	p9_call_flush(drv_call(v, P9_TREAD, drv_cb));
	drv_call(v, P9_TCLUNK, drv_last_cb);
}

static void
test_reply_after_rflush_drops_connection(void **state)
{
	struct drv v;

	drv_run(&v, P9_2000L, script_reply_after_rflush, flush_then_clunk);
	/* EINTR for the read (Rflush), ECONNRESET for the clunk */
	assert_int_equal(v.ncb, 2);
	assert_int_equal(v.cberr[0], EINTR);
	assert_int_equal(v.cberr[1], ECONNRESET);
}

static void
script_hangup(struct fake *f)
{
	struct p9_fcall m;
	int i;

	fake_version(f, 8192, "9P2000.L");
	for (i = 0; i < 3; i++)
		FAKE_CHECK(f, fake_recv(f, &m) == 0);
	shutdown(f->fd, SHUT_RDWR);
}

static void
three_calls(struct drv *v)
{
	int i;

	for (i = 0; i < 3; i++)
		drv_call(v, P9_TCLUNK, drv_cb);
	/* a flushed call dies with the rest, once */
	p9_call_flush(drv_call(v, P9_TREAD, drv_cb));
}

static void
test_server_hangup_fails_each_pending_call_once(void **state)
{
	struct drv v;
	int i;

	drv_run(&v, P9_2000L, script_hangup, three_calls);
	/* not closed by a callback: the loop ended as the stream went, and
	 * the client waits for p9_client_close */
	assert_int_equal(v.ncb, 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(v.cberr[i], ECONNRESET);
	assert_null(drv_call(&v, P9_TCLUNK, drv_cb));
	assert_int_equal(errno, ENOTCONN);
	p9_client_close(v.c);
}

static void
test_fid_numbers_are_reused_and_never_nofid(void **state)
{
	struct drv v;
	uint32_t a, b, c;

	drv_run(&v, P9_2000L, script_hangup, three_calls);
	a = p9_client_fid_new(v.c);
	b = p9_client_fid_new(v.c);
	assert_int_not_equal(a, b);
	assert_int_not_equal(a, P9_NOFID);
	p9_client_fid_free(v.c, a);
	c = p9_client_fid_new(v.c);
	assert_int_equal(c, a);
	p9_client_fid_free(v.c, c);
	p9_client_fid_free(v.c, c); /* twice: harmless */
	assert_int_equal(p9_client_fid_new(v.c), a);
	assert_int_not_equal(p9_client_fid_new(v.c), a);
	p9_client_close(v.c);
}

/* ---- blocking client against a scripted fake server ---- */

static void
stage_set(struct fake *f, int n)
{
	__atomic_store_n(&f->stage, n, __ATOMIC_SEQ_CST);
}

static void
stage_wait(struct fake *f, int n)
{
	int i;

	for (i = 0;
	     i < 5000 && __atomic_load_n(&f->stage, __ATOMIC_SEQ_CST) < n; i++)
		sleep_ms(2);
}

/* Starts script behind a Unix socket and connects a p9_cl to it. */
static struct p9_cl *
cl_fake(struct fake *f, enum p9_dialect d, void (*script)(struct fake *))
{
	struct p9_client_opts o = {
	    .msize = 8192, .dialect = d, .eager = drv_eager};
	struct sockaddr_un sun;
	struct p9_addr a;
	struct p9_cl *cl;
	static int seq;
	char s[160];
	int err;

	memset(f, 0, sizeof *f);
	f->d = d;
	f->script = script;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(
	    sun.sun_path, sizeof sun.sun_path, "%s/fake%d.sock", tmpdir, seq++);
	f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(f->lfd > 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sun, sizeof sun), 0);
	assert_int_equal(listen(f->lfd, 1), 0);
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
	snprintf(s, sizeof s, "unix:%s", sun.sun_path);
	assert_int_equal(p9_addr_parse(&a, s, 564), 0);
	cl = p9_cl_connect(&a, &o, &err);
	assert_non_null(cl);
	return cl;
}

static void
cl_fake_end(struct fake *f, struct p9_cl *cl)
{
	p9_cl_close(cl);
	pthread_join(f->th, NULL);
	if (f->fail[0])
		fail_msg("fake server: %s", f->fail);
}

#define WSIZE 10000

/* Writes only 1000 bytes of the first Twrite, all of the rest. */
static void
script_short_write(struct fake *f)
{
	struct p9_fcall m;
	uint64_t off = 0;
	uint8_t expect[WSIZE];

	fill(expect, sizeof expect, 5);
	fake_version(f, 8192, "9P2000.L");
	while (off < WSIZE) {
		FAKE_CHECK(f, fake_recv(f, &m) == 0 && m.type == P9_TWRITE);
		FAKE_CHECK(f, m.u.write.offset == off);
		FAKE_CHECK(
		    f, m.u.write.count == (WSIZE - off < 8192 - P9_IOHDRSZ
		                                  ? WSIZE - off
		                                  : 8192 - P9_IOHDRSZ));
		FAKE_CHECK(f,
		    memcmp(m.u.write.data, expect + off, m.u.write.count) == 0);
		m.type = P9_RWRITE;
		m.u.rwrite.count = off == 0 ? 1000 : m.u.write.count;
		off += m.u.rwrite.count;
		fake_send(f, &m);
	}
}

static void
test_cl_write_goes_on_after_a_short_rwrite(void **state)
{
	uint8_t data[WSIZE];
	struct fake f;
	struct p9_cl *cl = cl_fake(&f, P9_2000L, script_short_write);

	fill(data, sizeof data, 5);
	assert_int_equal(p9_cl_write(cl, 1, 0, data, sizeof data), WSIZE);
	cl_fake_end(&f, cl);
}

/* Answers a 10-byte Tread with 100 bytes. */
static void
script_long_rread(struct fake *f)
{
	static uint8_t data[100];
	struct p9_fcall m;

	memset(data, 'x', sizeof data);
	fake_version(f, 8192, "9P2000.L");
	FAKE_CHECK(f, fake_recv(f, &m) == 0 && m.type == P9_TREAD);
	FAKE_CHECK(f, m.u.read.count == 10);
	m.type = P9_RREAD;
	m.u.rread.count = sizeof data;
	m.u.rread.data = data;
	fake_send(f, &m);
}

static void
test_cl_read_keeps_to_the_count_asked_for(void **state)
{
	char buf[11] = "..........!";
	struct fake f;
	struct p9_cl *cl = cl_fake(&f, P9_2000L, script_long_rread);

	assert_int_equal(p9_cl_read(cl, 1, 0, buf, 10), 10);
	assert_memory_equal(buf, "xxxxxxxxxx!", 11);
	cl_fake_end(&f, cl);
}

/* Holds a Tread until the client goes. */
static void
script_hold_read(struct fake *f)
{
	struct p9_fcall m;

	fake_version(f, 8192, "9P2000.L");
	FAKE_CHECK(f, fake_recv(f, &m) == 0 && m.type == P9_TREAD);
	stage_set(f, 1);
}

struct blocked {
	struct p9_cl *cl;
	ssize_t rc;
};

static void *
blocked_read(void *arg)
{
	struct blocked *b = arg;
	char buf[16];

	b->rc = p9_cl_read(b->cl, 1, 0, buf, sizeof buf);
	return NULL;
}

static void
test_cl_close_fails_a_waiting_call_with_econnreset(void **state)
{
	struct fake f;
	struct p9_cl *cl = cl_fake(&f, P9_2000L, script_hold_read);
	struct blocked b = {cl, 1};
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, blocked_read, &b), 0);
	stage_wait(&f, 1);
	assert_int_equal(__atomic_load_n(&f.stage, __ATOMIC_SEQ_CST), 1);
	cl_fake_end(&f, cl); /* p9_cl_close while the read waits */
	pthread_join(th, NULL);
	assert_int_equal(b.rc, -ECONNRESET);
}

/* Stops reading (the client's writes get EPIPE), then hangs up. */
static void
script_stop_reading(struct fake *f)
{
	fake_version(f, 8192, "9P2000.L");
	shutdown(f->fd, SHUT_RD);
	stage_set(f, 1);
	sleep_ms(300);
	shutdown(f->fd, SHUT_WR);
}

static void
test_cl_write_to_peer_not_reading_raises_no_sigpipe(void **state)
{
	struct fake f;
	struct p9_cl *cl = cl_fake(&f, P9_2000L, script_stop_reading);
	struct p9_attr at;
	int rc;

	stage_wait(&f, 1);
	/* SIGPIPE's default would end this program */
	rc = p9_cl_getattr(cl, 1, P9_GETATTR_BASIC, &at);
	assert_true(rc == -ECONNRESET || rc == -EPIPE);
	cl_fake_end(&f, cl);
}

/* 9P2000.u: Topen, Tcreate, Tstat, Twstat of an all don't-touch stat. */
static void
script_u_calls(struct fake *f)
{
	struct p9_fcall m;
	struct p9_stat *st;

	fake_version(f, 8192, "9P2000.u");
	FAKE_CHECK(f, fake_recv(f, &m) == 0 && m.type == P9_TOPEN);
	FAKE_CHECK(f, m.u.open.fid == 3 && m.u.open.mode == P9_ORDWR);
	m.type = P9_ROPEN;
	m.u.ropen.qid = (struct p9_qid){P9_QTFILE, 7, 1234};
	m.u.ropen.iounit = 4000;
	fake_send(f, &m);

	FAKE_CHECK(f, fake_recv(f, &m) == 0 && m.type == P9_TCREATE);
	FAKE_CHECK(f, strcmp(m.u.create.name, "new") == 0);
	FAKE_CHECK(f, m.u.create.perm == 0644 && m.u.create.mode == 1);
	FAKE_CHECK(f, strcmp(m.u.create.extension, "") == 0);
	m.type = P9_RCREATE;
	m.u.ropen.qid = (struct p9_qid){P9_QTFILE, 1, 99};
	m.u.ropen.iounit = 0;
	fake_send(f, &m);

	FAKE_CHECK(f, fake_recv(f, &m) == 0 && m.type == P9_TSTAT);
	m.type = P9_RSTAT;
	st = &m.u.rstat.stat;
	memset(st, 0, sizeof *st);
	st->qid = (struct p9_qid){P9_QTDIR, 0, 42};
	st->mode = P9_DMDIR | 0755;
	st->length = 0;
	st->name = "dir";
	st->uid = st->gid = st->muid = "glenda";
	st->extension = "";
	st->n_uid = st->n_gid = st->n_muid = 1000;
	fake_send(f, &m);

	FAKE_CHECK(f, fake_recv(f, &m) == 0 && m.type == P9_TWSTAT);
	st = &m.u.wstat.stat;
	FAKE_CHECK(f, st->type == 0xffff && st->dev == ~0u);
	FAKE_CHECK(f, st->qid.type == 0xff && st->qid.version == ~0u &&
	                  st->qid.path == ~0ull);
	FAKE_CHECK(f, st->mode == ~0u && st->atime == ~0u && st->mtime == ~0u &&
	                  st->length == ~0ull);
	FAKE_CHECK(f, !*st->name && !*st->uid && !*st->gid && !*st->muid);
	FAKE_CHECK(f, !*st->extension && st->n_uid == ~0u && st->n_gid == ~0u &&
	                  st->n_muid == ~0u);
	memset(&m.u, 0, sizeof m.u);
	m.type = P9_RWSTAT;
	fake_send(f, &m);
}

static void
test_cl_9p2000u_open_create_stat_wstat(void **state)
{
	struct fake f;
	struct p9_cl *cl = cl_fake(&f, P9_2000U, script_u_calls);
	struct p9_stat st;
	struct p9_qid qid;
	uint32_t iounit;
	uint8_t *sbuf;

	assert_int_equal(p9_cl_dialect(cl), P9_2000U);
	assert_int_equal(p9_cl_open(cl, 3, P9_ORDWR, &qid, &iounit), 0);
	assert_int_equal(qid.path, 1234);
	assert_int_equal(qid.version, 7);
	assert_int_equal(iounit, 4000);
	assert_int_equal(p9_cl_create(cl, 3, "new", 0644, P9_OWRITE, &qid), 0);
	assert_int_equal(qid.path, 99);
	assert_int_equal(p9_cl_stat(cl, 3, &st, &sbuf), 0);
	assert_non_null(sbuf);
	assert_string_equal(st.name, "dir");
	assert_string_equal(st.uid, "glenda");
	assert_int_equal(st.mode, P9_DMDIR | 0755);
	assert_int_equal(st.n_uid, 1000);
	assert_int_equal(st.qid.path, 42);
	free(sbuf);
	p9_stat_null(&st);
	assert_int_equal(p9_cl_wstat(cl, 3, &st), 0);
	cl_fake_end(&f, cl);
}

/* ---- groups ---- */

static int
diod_group_setup(void **state)
{
	if (access(DIOD, X_OK) != 0) {
		fprintf(stderr, "# %s missing: diod tests skipped\n", DIOD);
		return 0;
	}
	if (diod_start(&shared, expdir) < 0) {
		fprintf(stderr, "# diod did not start: diod tests skipped\n");
		return 0;
	}
	have_diod = 1;
	return 0;
}

static int
diod_group_teardown(void **state)
{
	int i, status;

	diod_stop(&shared);
	for (i = 0; i < ndiods; i++)
		if (diods[i] > 0) {
			kill(diods[i], SIGKILL);
			waitpid(diods[i], &status, 0);
			diods[i] = 0;
		}
	return 0;
}

int
main(void)
{
	const struct CMUnitTest diod_tests[] = {
	    cmocka_unit_test(test_connect_negotiates_9p2000L_and_smaller_msize),
	    cmocka_unit_test(test_attach_as_root_gives_directory_qid),
	    cmocka_unit_test(test_lopen_read_returns_file_contents),
	    cmocka_unit_test(test_lcreate_write_then_read_back),
	    cmocka_unit_test(
	        test_write_of_3mib_is_split_and_lands_whole_on_disk),
	    cmocka_unit_test(test_readdir_lists_the_names_made),
	    cmocka_unit_test(test_getattr_size_and_mode_match_stat),
	    cmocka_unit_test(
	        test_walk_of_missing_name_gives_enoent_and_binds_nothing),
	    cmocka_unit_test(test_walk_of_20_names_crosses_the_16_name_limit),
	    cmocka_unit_test(
	        test_32_threads_reading_at_once_all_get_their_data),
	    cmocka_unit_test(test_async_100_calls_in_flight_are_all_answered),
	    cmocka_unit_test(
	        test_flush_of_fast_request_delivers_exactly_one_callback),
	    cmocka_unit_test(
	        test_client_close_fails_pending_calls_with_econnreset_once),
	    cmocka_unit_test(
	        test_connect_to_port_without_listener_gives_econnrefused),
	    cmocka_unit_test(test_connect_to_missing_unix_socket_gives_enoent),
	    cmocka_unit_test(test_killed_server_makes_next_call_fail_promptly),
	};
	const struct CMUnitTest protocol_tests[] = {
	    cmocka_unit_test(test_rversion_msize_above_ours_fails_with_eproto),
	    cmocka_unit_test(test_rversion_msize_below_4096_fails_with_eproto),
	    cmocka_unit_test(test_rversion_unknown_fails_with_eprotonosupport),
	    cmocka_unit_test(
	        test_rversion_higher_than_asked_fails_with_eprotonosupport),
	    cmocka_unit_test(
	        test_rversion_downgrade_to_u_and_smaller_msize_is_accepted),
	    cmocka_unit_test(
	        test_eager_calls_go_before_rversion_and_are_answered),
	    cmocka_unit_test(
	        test_eager_rversion_of_another_dialect_fails_the_calls),
	    cmocka_unit_test(
	        test_hangup_before_rversion_fails_connect_with_econnreset),
	    cmocka_unit_test(test_reply_to_unknown_tag_drops_connection),
	    cmocka_unit_test(test_reply_larger_than_msize_drops_connection),
	    cmocka_unit_test(test_reply_shorter_than_header_drops_connection),
	    cmocka_unit_test(
	        test_replies_split_and_joined_in_the_stream_are_framed),
	    cmocka_unit_test(test_rerror_in_9p2000_maps_the_string_to_errno),
	    cmocka_unit_test(test_rerror_in_9p2000u_uses_its_errno),
	    cmocka_unit_test(test_rlerror_gives_its_errno),
	    cmocka_unit_test(
	        test_flush_of_held_request_gives_eintr_after_rflush),
	    cmocka_unit_test(
	        test_flush_crossing_reply_delivers_it_and_holds_tag_till_rflush),
	    cmocka_unit_test(test_reply_after_rflush_drops_connection),
	    cmocka_unit_test(test_server_hangup_fails_each_pending_call_once),
	    cmocka_unit_test(test_fid_numbers_are_reused_and_never_nofid),
	    cmocka_unit_test(test_cl_write_goes_on_after_a_short_rwrite),
	    cmocka_unit_test(test_cl_read_keeps_to_the_count_asked_for),
	    cmocka_unit_test(
	        test_cl_close_fails_a_waiting_call_with_econnreset),
	    cmocka_unit_test(
	        test_cl_write_to_peer_not_reading_raises_no_sigpipe),
	    cmocka_unit_test(test_cl_9p2000u_open_create_stat_wstat),
	};
	int rc;

	signal(SIGALRM, on_alarm);
	alarm(TIMEOUT);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/unum-test-client-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(expdir, sizeof expdir, "%s/export", tmpdir);
	if (mkdir(expdir, 0755) < 0) {
		perror(expdir);
		return 1;
	}
	rc = cmocka_run_group_tests_name(
	    "client_protocol", protocol_tests, NULL, NULL);
	rc += cmocka_run_group_tests_name(
	    "client_diod", diod_tests, diod_group_setup, diod_group_teardown);
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
