/*
 * test_srv.c - the server framework, driven over a socketpair with raw 9P
 * messages: version, protocol checks, limits, dialect mapping, held
 * requests and the order of replies around Tflush.  The server is the
 * ramfs test tree on its own loop thread.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "9p/p9.h"
#include "ramfs/ramfs.h"

struct h {
	int fd;
	pthread_t th;
	uv_loop_t loop;
	uv_async_t stop;
	struct p9_srv *srv;
	struct ramfs *fs;
	struct p9_ops ops;
	enum p9_dialect d;
	uint32_t msize;
	uint8_t *rbuf; /* last reply */
};

static void
srv_gone(void *arg)
{
	struct h *h = arg;

	uv_close((uv_handle_t *)&h->stop, NULL);
}

static void
on_stop(uv_async_t *a)
{
	struct h *h = a->data;

	p9_srv_close(h->srv, srv_gone, h);
}

static void *
loop_main(void *arg)
{
	struct h *h = arg;

	uv_run(&h->loop, UV_RUN_DEFAULT);
	return NULL;
}

static struct h *
start(int noflush, uint32_t max_reqs, uint32_t max_fids)
{
	struct h *h = calloc(1, sizeof *h);
	struct p9_srv_opts o;
	int sv[2];
	static char big[3 << 20];

	assert_non_null(h);
	assert_int_equal(uv_loop_init(&h->loop), 0);
	h->fs = ramfs_new();
	assert_int_equal(
	    ramfs_add(h->fs, "hello", 'f', 0644, "hello, world\n", 13), 0);
	assert_int_equal(ramfs_add(h->fs, "dir", 'd', 0755, NULL, 0), 0);
	assert_int_equal(ramfs_add(h->fs, "dir/a", 'f', 0644, "a", 1), 0);
	assert_int_equal(ramfs_add(h->fs, "fifo", 'p', 0666, NULL, 0), 0);
	memset(big, 'x', sizeof big);
	assert_int_equal(
	    ramfs_add(h->fs, "big", 'f', 0644, big, sizeof big), 0);
	h->ops = *ramfs_ops();
	if (noflush)
		h->ops.flush = NULL;
	memset(&o, 0, sizeof o);
	o.ops = &h->ops;
	o.aux = h->fs;
	o.max_reqs = max_reqs;
	o.max_fids = max_fids;
	h->srv = p9_srv_new(&h->loop, &o);
	assert_non_null(h->srv);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(p9_srv_serve_fd(h->srv, sv[0]), 0);
	h->fd = sv[1];
	h->stop.data = h;
	uv_async_init(&h->loop, &h->stop, on_stop);
	h->d = P9_2000L;
	h->msize = 8192;
	assert_int_equal(pthread_create(&h->th, NULL, loop_main, h), 0);
	return h;
}

static void
stop(struct h *h)
{
	close(h->fd);
	uv_async_send(&h->stop);
	pthread_join(h->th, NULL);
	uv_loop_close(&h->loop);
	ramfs_free(h->fs);
	free(h->rbuf);
	free(h);
}

static void
send_raw(struct h *h, const void *buf, size_t n)
{
	assert_int_equal(write(h->fd, buf, n), (ssize_t)n);
}

static void
tx(struct h *h, struct p9_fcall *t)
{
	uint8_t buf[16384];
	ssize_t n = p9_pack(t, buf, sizeof buf, h->d);

	assert_true(n > 0);
	send_raw(h, buf, (size_t)n);
}

static void
read_full(int fd, uint8_t *p, size_t n)
{
	while (n) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t k;

		assert_int_equal(poll(&pfd, 1, 5000), 1);
		k = read(fd, p, n);
		assert_true(k > 0);
		p += k;
		n -= (size_t)k;
	}
}

/* The next reply; fails the test after 5 s. */
static struct p9_fcall
rx(struct h *h)
{
	uint8_t hdr[4];
	uint32_t size;
	struct p9_fcall r;

	read_full(h->fd, hdr, 4);
	size = (uint32_t)hdr[0] | hdr[1] << 8 | hdr[2] << 16 |
	       (uint32_t)hdr[3] << 24;
	assert_true(size >= 7 && size <= (4u << 20));
	free(h->rbuf);
	h->rbuf = malloc(size + 1);
	memcpy(h->rbuf, hdr, 4);
	read_full(h->fd, h->rbuf + 4, size - 4);
	assert_int_equal(p9_unpack(&r, h->rbuf, size, 4u << 20, h->d), 0);
	return r;
}

/* Nothing arrives within ms. */
static void
rx_none(struct h *h, int ms)
{
	struct pollfd pfd = {.fd = h->fd, .events = POLLIN};

	assert_int_equal(poll(&pfd, 1, ms), 0);
}

static struct p9_fcall
rpc(struct h *h, struct p9_fcall *t)
{
	tx(h, t);
	return rx(h);
}

static void
expect_err(struct p9_fcall *r, uint16_t tag, int err)
{
	assert_int_equal(r->tag, tag);
	assert_int_equal(r->type, P9_RLERROR);
	assert_int_equal(r->u.lerror.ecode, err);
}

static void
version(struct h *h, const char *v, uint32_t msize)
{
	struct p9_fcall t = {.type = P9_TVERSION, .tag = P9_NOTAG}, r;

	t.u.version.msize = msize;
	t.u.version.version = (char *)v;
	r = rpc(h, &t);
	assert_int_equal(r.type, P9_RVERSION);
	h->msize = r.u.version.msize;
	if (p9_dialect_parse(r.u.version.version) >= 0)
		h->d = (enum p9_dialect)p9_dialect_parse(r.u.version.version);
}

static void
attach(struct h *h, uint32_t fid)
{
	struct p9_fcall t = {.type = P9_TATTACH, .tag = 1}, r;

	t.u.attach.fid = fid;
	t.u.attach.afid = P9_NOFID;
	t.u.attach.uname = "test";
	t.u.attach.aname = "";
	t.u.attach.n_uname = P9_NONUNAME;
	r = rpc(h, &t);
	assert_int_equal(r.type, P9_RATTACH);
	assert_true(r.u.rqid.qid.type & P9_QTDIR);
}

static struct p9_fcall
walk(struct h *h, uint32_t fid, uint32_t newfid, int n, ...)
{
	struct p9_fcall t = {.type = P9_TWALK, .tag = 2};
	va_list ap;
	int i;

	t.u.walk.fid = fid;
	t.u.walk.newfid = newfid;
	t.u.walk.nwname = (uint16_t)n;
	va_start(ap, n);
	for (i = 0; i < n; i++)
		t.u.walk.wname[i] = va_arg(ap, char *);
	va_end(ap);
	return rpc(h, &t);
}

static void
lopen(struct h *h, uint32_t fid, uint32_t flags)
{
	struct p9_fcall t = {.type = P9_TLOPEN, .tag = 3}, r;

	t.u.lopen.fid = fid;
	t.u.lopen.flags = flags;
	r = rpc(h, &t);
	assert_int_equal(r.type, P9_RLOPEN);
}

static struct h *
session(int noflush)
{
	struct h *h = start(noflush, 0, 0);

	version(h, "9P2000.L", 65536);
	attach(h, 0);
	return h;
}

static void
tread(struct h *h, uint16_t tag, uint32_t fid, uint64_t off, uint32_t n)
{
	struct p9_fcall t = {.type = P9_TREAD, .tag = tag};

	t.u.read.fid = fid;
	t.u.read.offset = off;
	t.u.read.count = n;
	tx(h, &t);
}

static void
twrite(struct h *h, uint16_t tag, uint32_t fid, const char *s)
{
	struct p9_fcall t = {.type = P9_TWRITE, .tag = tag};

	t.u.write.fid = fid;
	t.u.write.count = (uint32_t)strlen(s);
	t.u.write.data = (const uint8_t *)s;
	tx(h, &t);
}

static void
tflush(struct h *h, uint16_t tag, uint16_t oldtag)
{
	struct p9_fcall t = {.type = P9_TFLUSH, .tag = tag};

	t.u.flush.oldtag = oldtag;
	tx(h, &t);
}

/* ---- tests ---- */

static void
test_version_negotiates_msize_and_dialect(void **state)
{
	struct h *h = start(0, 0, 0);

	version(h, "9P2000.L", 8u << 20);
	assert_int_equal(h->msize, (1u << 20) + P9_IOHDRSZ);
	assert_int_equal(h->d, P9_2000L);
	version(h, "9P2000.u", 16384);
	assert_int_equal(h->msize, 16384);
	assert_int_equal(h->d, P9_2000U);
	version(h, "9P2000", 16384);
	assert_int_equal(h->d, P9_2000);
	stop(h);
}

static void
test_version_unknown_answers_unknown(void **state)
{
	struct h *h = start(0, 0, 0);
	struct p9_fcall t = {.type = P9_TVERSION, .tag = P9_NOTAG}, r;

	t.u.version.msize = 8192;
	t.u.version.version = "9P3000";
	h->d = P9_2000;
	r = rpc(h, &t);
	assert_int_equal(r.type, P9_RVERSION);
	assert_string_equal(r.u.version.version, "unknown");
	stop(h);
}

static void
test_version_rejects_msize_below_4096(void **state)
{
	struct h *h = start(0, 0, 0);
	struct p9_fcall t = {.type = P9_TVERSION, .tag = P9_NOTAG}, r;

	t.u.version.msize = 512;
	t.u.version.version = "9P2000.L";
	h->d = P9_2000;
	r = rpc(h, &t);
	assert_int_equal(r.type, P9_RERROR);
	stop(h);
}

static void
test_request_before_version_is_an_error(void **state)
{
	struct h *h = start(0, 0, 0);
	struct p9_fcall t = {.type = P9_TCLUNK, .tag = 7}, r;

	h->d = P9_2000;
	t.u.fid.fid = 0;
	r = rpc(h, &t);
	assert_int_equal(r.type, P9_RERROR);
	assert_int_equal(r.tag, 7);
	stop(h);
}

static void
test_version_clunks_every_fid(void **state)
{
	struct h *h = session(0);
	struct p9_fcall t = {.type = P9_TCLUNK, .tag = 9}, r;

	version(h, "9P2000.L", 65536);
	t.u.fid.fid = 0;
	r = rpc(h, &t);
	expect_err(&r, 9, EBADF);
	stop(h);
}

static void
test_walk_rejects_17_elements(void **state)
{
	struct h *h = session(0);
	uint8_t buf[256], *p = buf + 7;
	struct p9_fcall r;
	int i;

	/* packed by hand: the packer refuses it */
	p[0] = 0, p[1] = p[2] = p[3] = 0; /* fid 0 */
	p[4] = 1, p[5] = p[6] = p[7] = 0; /* newfid 1 */
	p[8] = 17, p[9] = 0;              /* nwname */
	p += 10;
	for (i = 0; i < 17; i++) {
		*p++ = 1, *p++ = 0, *p++ = 'a';
	}
	buf[0] = (uint8_t)(p - buf), buf[1] = buf[2] = buf[3] = 0;
	buf[4] = P9_TWALK, buf[5] = 4, buf[6] = 0;
	send_raw(h, buf, (size_t)(p - buf));
	r = rx(h);
	expect_err(&r, 4, EINVAL);
	/* the connection goes on; fid 1 was not made */
	r = walk(h, 0, 1, 1, "hello");
	assert_int_equal(r.type, P9_RWALK);
	stop(h);
}

static void
test_walk_partial_returns_qids_and_binds_nothing(void **state)
{
	struct h *h = session(0);
	struct p9_fcall r, t = {.type = P9_TCLUNK, .tag = 5};

	r = walk(h, 0, 1, 2, "dir", "nothere");
	assert_int_equal(r.type, P9_RWALK);
	assert_int_equal(r.u.rwalk.nwqid, 1);
	t.u.fid.fid = 1;
	r = rpc(h, &t);
	expect_err(&r, 5, EBADF);
	r = walk(h, 0, 1, 1, "nothere");
	expect_err(&r, 2, ENOENT);
	r = walk(h, 0, 1, 2, "dir", "a");
	assert_int_equal(r.type, P9_RWALK);
	assert_int_equal(r.u.rwalk.nwqid, 2);
	stop(h);
}

static void
test_walk_dotdot_at_root_stays_at_root(void **state)
{
	struct h *h = session(0);
	struct p9_fcall r = walk(h, 0, 1, 3, "..", "..", "hello");

	assert_int_equal(r.type, P9_RWALK);
	assert_int_equal(r.u.rwalk.nwqid, 3);
	stop(h);
}

static void
test_walk_name_with_slash_is_einval(void **state)
{
	struct h *h = session(0);
	struct p9_fcall r = walk(h, 0, 1, 1, "dir/a");

	expect_err(&r, 2, EINVAL);
	stop(h);
}

static void
test_fid_in_use_and_unknown_fid(void **state)
{
	struct h *h = session(0);
	struct p9_fcall r, t = {.type = P9_TATTACH, .tag = 1};

	t.u.attach.fid = 0; /* in use */
	t.u.attach.afid = P9_NOFID;
	t.u.attach.uname = "x";
	t.u.attach.aname = "";
	t.u.attach.n_uname = P9_NONUNAME;
	r = rpc(h, &t);
	expect_err(&r, 1, EBADF);
	r = walk(h, 42, 43, 0);
	expect_err(&r, 2, EBADF);
	/* fid 0 still works */
	r = walk(h, 0, 1, 1, "hello");
	assert_int_equal(r.type, P9_RWALK);
	stop(h);
}

static void
test_open_modes_are_enforced(void **state)
{
	struct h *h = session(0);
	struct p9_fcall r, t = {.type = P9_TOPEN, .tag = 3};

	walk(h, 0, 1, 1, "hello");
	lopen(h, 1, P9_L_RDONLY);
	twrite(h, 6, 1, "no");
	r = rx(h);
	expect_err(&r, 6, EBADF);
	/* opening an open fid */
	t.type = P9_TLOPEN;
	t.u.lopen.fid = 1;
	t.u.lopen.flags = 0;
	r = rpc(h, &t);
	expect_err(&r, 3, EBADF);
	/* reading an unopened fid */
	walk(h, 0, 2, 1, "hello");
	tread(h, 7, 2, 0, 100);
	r = rx(h);
	expect_err(&r, 7, EBADF);
	stop(h);
}

static void
test_open_directory_for_writing_is_eisdir(void **state)
{
	struct h *h = start(0, 0, 0);
	struct p9_fcall r, t = {.type = P9_TOPEN, .tag = 3};

	version(h, "9P2000", 65536);
	attach(h, 0);
	walk(h, 0, 1, 1, "dir");
	t.u.open.fid = 1;
	t.u.open.mode = P9_OWRITE;
	r = rpc(h, &t);
	assert_int_equal(r.type, P9_RERROR);
	assert_int_equal(p9_strerrno(r.u.error.ename), EISDIR);
	stop(h);
}

static void
test_dotl_is_mapped_onto_9p2000_ops(void **state)
{
	struct h *h = session(0);
	struct p9_fcall r, t = {.type = P9_TGETATTR, .tag = 4};
	uint8_t *p;
	struct p9_dirent de;
	ssize_t k;
	int names = 0;

	/* getattr */
	walk(h, 0, 1, 1, "hello");
	t.u.getattr.fid = 1;
	t.u.getattr.request_mask = P9_GETATTR_ALL;
	r = rpc(h, &t);
	assert_int_equal(r.type, P9_RGETATTR);
	assert_int_equal(r.u.rgetattr.size, 13);
	assert_int_equal(r.u.rgetattr.mode, 0100644);
	/* readdir */
	walk(h, 0, 2, 0);
	lopen(h, 2, P9_L_RDONLY | P9_L_DIRECTORY);
	t.type = P9_TREADDIR;
	t.u.read.fid = 2;
	t.u.read.offset = 0;
	t.u.read.count = 4096;
	r = rpc(h, &t);
	assert_int_equal(r.type, P9_RREADDIR);
	for (p = (uint8_t *)r.u.rread.data;
	     p < r.u.rread.data + r.u.rread.count; p += k) {
		k = p9_dirent_unpack(
		    &de, p, (size_t)(r.u.rread.data + r.u.rread.count - p));
		assert_true(k > 0);
		names++;
	}
	assert_int_equal(names, 4);
	/* lcreate, write, setattr (truncate), read back */
	walk(h, 0, 3, 1, "dir");
	t.type = P9_TLCREATE;
	t.u.lcreate.fid = 3;
	t.u.lcreate.name = "new";
	t.u.lcreate.flags = P9_L_RDWR | P9_L_CREATE;
	t.u.lcreate.mode = 0600;
	t.u.lcreate.gid = 0;
	r = rpc(h, &t);
	assert_int_equal(r.type, P9_RLCREATE);
	twrite(h, 8, 3, "0123456789");
	r = rx(h);
	assert_int_equal(r.type, P9_RWRITE);
	assert_int_equal(r.u.rwrite.count, 10);
	memset(&t, 0, sizeof t);
	t.type = P9_TSETATTR;
	t.tag = 9;
	t.u.setattr.fid = 3;
	t.u.setattr.attr.valid = P9_SETATTR_SIZE;
	t.u.setattr.attr.size = 4;
	r = rpc(h, &t);
	assert_int_equal(r.type, P9_RSETATTR);
	tread(h, 10, 3, 0, 100);
	r = rx(h);
	assert_int_equal(r.type, P9_RREAD);
	assert_int_equal(r.u.rread.count, 4);
	assert_memory_equal(r.u.rread.data, "0123", 4);
	stop(h);
}

static void
test_9p2000_directory_read_gives_stat_records(void **state)
{
	struct h *h = start(0, 0, 0);
	struct p9_fcall r, t = {.type = P9_TOPEN, .tag = 3};
	struct p9_stat st;
	uint8_t *copy;
	uint32_t first;

	version(h, "9P2000.u", 65536);
	attach(h, 0);
	walk(h, 0, 1, 0);
	t.u.open.fid = 1;
	t.u.open.mode = P9_OREAD;
	r = rpc(h, &t);
	assert_int_equal(r.type, P9_ROPEN);
	/* room for about one record at a time */
	tread(h, 4, 1, 0, 80);
	r = rx(h);
	assert_int_equal(r.type, P9_RREAD);
	assert_true(r.u.rread.count > 0);
	first = r.u.rread.count;
	copy = malloc(first + 1);
	memcpy(copy, r.u.rread.data, first);
	assert_int_equal(
	    p9_stat_unpack(&st, copy, first, P9_2000U), (ssize_t)first);
	assert_string_equal(st.name, "hello");
	free(copy);
	/* continuing at the offset reached gives the next one */
	tread(h, 5, 1, first, 80);
	r = rx(h);
	assert_int_equal(r.type, P9_RREAD);
	assert_true(r.u.rread.count > 0);
	/* any other offset is refused */
	tread(h, 6, 1, 3, 80);
	r = rx(h);
	assert_int_equal(r.type, P9_RERROR);
	stop(h);
}

static void
test_large_read_is_bounded_by_msize(void **state)
{
	struct h *h = start(0, 0, 0);
	struct p9_fcall r;

	version(h, "9P2000.L", (1u << 20) + 24);
	attach(h, 0);
	walk(h, 0, 1, 1, "big");
	lopen(h, 1, P9_L_RDONLY);
	tread(h, 4, 1, 0, 4u << 20);
	r = rx(h);
	assert_int_equal(r.type, P9_RREAD);
	assert_int_equal(r.u.rread.count, h->msize - 11);
	assert_int_equal(r.u.rread.data[0], 'x');
	stop(h);
}

static void
test_flush_cancels_a_held_read(void **state)
{
	struct h *h = session(0);
	struct p9_fcall r;

	walk(h, 0, 1, 1, "fifo");
	lopen(h, 1, P9_L_RDONLY);
	walk(h, 0, 2, 1, "fifo");
	lopen(h, 2, P9_L_WRONLY);
	tread(h, 10, 1, 0, 100);
	rx_none(h, 100); /* held */
	tflush(h, 11, 10);
	r = rx(h);
	assert_int_equal(r.type, P9_RFLUSH);
	assert_int_equal(r.tag, 11);
	/* the cancelled read takes no data */
	twrite(h, 12, 2, "data");
	r = rx(h);
	assert_int_equal(r.type, P9_RWRITE);
	tread(h, 13, 1, 0, 100);
	r = rx(h);
	assert_int_equal(r.tag, 13);
	assert_int_equal(r.u.rread.count, 4);
	stop(h);
}

static void
test_reply_precedes_rflush_when_server_cannot_cancel(void **state)
{
	struct h *h = session(1);
	struct p9_fcall r;

	walk(h, 0, 1, 1, "fifo");
	lopen(h, 1, P9_L_RDONLY);
	walk(h, 0, 2, 1, "fifo");
	lopen(h, 2, P9_L_WRONLY);
	tread(h, 10, 1, 0, 100);
	tflush(h, 11, 10);
	tflush(h, 12, 10);
	rx_none(h, 100); /* Rflush waits for the read */
	twrite(h, 13, 2, "late");
	r = rx(h);
	assert_int_equal(r.tag, 13);
	r = rx(h);
	assert_int_equal(r.type, P9_RREAD);
	assert_int_equal(r.tag, 10);
	assert_int_equal(r.u.rread.count, 4);
	r = rx(h);
	assert_int_equal(r.type, P9_RFLUSH);
	assert_int_equal(r.tag, 11);
	r = rx(h);
	assert_int_equal(r.type, P9_RFLUSH);
	assert_int_equal(r.tag, 12);
	stop(h);
}

static void
test_flush_of_unknown_tag_answers_at_once(void **state)
{
	struct h *h = session(0);
	struct p9_fcall r;

	tflush(h, 20, 999);
	r = rx(h);
	assert_int_equal(r.type, P9_RFLUSH);
	assert_int_equal(r.tag, 20);
	stop(h);
}

static void
test_held_read_answers_when_data_comes(void **state)
{
	struct h *h = session(0);
	struct p9_fcall r;

	walk(h, 0, 1, 1, "fifo");
	lopen(h, 1, P9_L_RDONLY);
	walk(h, 0, 2, 1, "fifo");
	lopen(h, 2, P9_L_WRONLY);
	tread(h, 10, 1, 0, 100);
	tread(h, 11, 1, 0, 100);
	rx_none(h, 100);
	twrite(h, 12, 2, "abc");
	r = rx(h);
	assert_int_equal(r.tag, 12);
	r = rx(h);
	assert_int_equal(r.tag, 10);
	assert_memory_equal(r.u.rread.data, "abc", 3);
	twrite(h, 13, 2, ""); /* end of file */
	r = rx(h);
	assert_int_equal(r.tag, 13);
	r = rx(h);
	assert_int_equal(r.tag, 11);
	assert_int_equal(r.u.rread.count, 0);
	stop(h);
}

static void
test_tag_in_use_is_refused(void **state)
{
	struct h *h = session(0);
	struct p9_fcall r;

	walk(h, 0, 1, 1, "fifo");
	lopen(h, 1, P9_L_RDONLY);
	tread(h, 10, 1, 0, 100);
	tread(h, 10, 1, 0, 100);
	r = rx(h);
	expect_err(&r, 10, EBUSY);
	stop(h);
}

static void
test_too_many_requests_in_flight(void **state)
{
	struct h *h = start(0, 4, 0);
	struct p9_fcall r;
	uint16_t i;

	version(h, "9P2000.L", 65536);
	attach(h, 0);
	walk(h, 0, 1, 1, "fifo");
	lopen(h, 1, P9_L_RDONLY);
	for (i = 0; i < 4; i++)
		tread(h, (uint16_t)(100 + i), 1, 0, 10);
	rx_none(h, 100);
	tread(h, 200, 1, 0, 10);
	r = rx(h);
	expect_err(&r, 200, EAGAIN);
	/* flushes still get through at the limit */
	tflush(h, 201, 100);
	r = rx(h);
	assert_int_equal(r.tag, 201);
	stop(h);
}

static void
test_too_many_fids(void **state)
{
	struct h *h = start(0, 0, 8);
	struct p9_fcall r;
	uint32_t i;

	version(h, "9P2000.L", 65536);
	attach(h, 0);
	for (i = 1; i < 8; i++) {
		r = walk(h, 0, i, 0);
		assert_int_equal(r.type, P9_RWALK);
	}
	r = walk(h, 0, 8, 0);
	expect_err(&r, 2, EMFILE);
	stop(h);
}

static void
test_oversized_message_is_refused_and_skipped(void **state)
{
	struct h *h = session(0);
	size_t n = h->msize + 100;
	uint8_t *buf = calloc(1, n);
	struct p9_fcall r;

	buf[0] = (uint8_t)n, buf[1] = (uint8_t)(n >> 8);
	buf[2] = (uint8_t)(n >> 16);
	buf[4] = P9_TWRITE, buf[5] = 33;
	send_raw(h, buf, n);
	free(buf);
	r = rx(h);
	expect_err(&r, 33, EMSGSIZE);
	r = walk(h, 0, 1, 1, "hello");
	assert_int_equal(r.type, P9_RWALK);
	stop(h);
}

static void
test_malformed_and_unknown_messages_get_errors(void **state)
{
	struct h *h = session(0);
	/* Tclunk with a 2-byte fid */
	uint8_t bad[] = {9, 0, 0, 0, P9_TCLUNK, 5, 0, 1, 0};
	uint8_t unk[] = {7, 0, 0, 0, 99, 6, 0};
	struct p9_fcall r;

	send_raw(h, bad, sizeof bad);
	r = rx(h);
	expect_err(&r, 5, EPROTO);
	send_raw(h, unk, sizeof unk);
	r = rx(h);
	assert_int_equal(r.tag, 6);
	assert_int_equal(r.type, P9_RLERROR);
	r = walk(h, 0, 1, 1, "hello");
	assert_int_equal(r.type, P9_RWALK);
	stop(h);
}

static void
test_remove_clunks_even_when_it_fails(void **state)
{
	struct h *h = session(0);
	struct p9_fcall r, t = {.type = P9_TREMOVE, .tag = 5};

	walk(h, 0, 1, 0); /* the root: cannot be removed */
	t.u.fid.fid = 1;
	r = rpc(h, &t);
	expect_err(&r, 5, EBUSY);
	t.type = P9_TCLUNK;
	r = rpc(h, &t);
	expect_err(&r, 5, EBADF);
	stop(h);
}

static void
test_hangup_with_held_reads_frees_everything(void **state)
{
	struct h *h = session(0);

	walk(h, 0, 1, 1, "fifo");
	lopen(h, 1, P9_L_RDONLY);
	tread(h, 10, 1, 0, 100);
	tread(h, 11, 1, 0, 100);
	tflush(h, 12, 11);
	/* stop() hangs up; ASan reports anything left */
	stop(h);
}

static void
test_operation_without_handler_is_eopnotsupp(void **state)
{
	struct h *h = session(0);
	struct p9_fcall r, t;

	/* ramfs has no rename, renameat, link or xattrwalk */
	walk(h, 0, 1, 1, "hello");
	memset(&t, 0, sizeof t);
	t.type = P9_TRENAME;
	t.tag = 5;
	t.u.rename.fid = 1;
	t.u.rename.dfid = 0;
	t.u.rename.name = "other";
	r = rpc(h, &t);
	expect_err(&r, 5, EOPNOTSUPP);
	memset(&t, 0, sizeof t);
	t.type = P9_TRENAMEAT;
	t.tag = 6;
	t.u.renameat.oldname = "hello";
	t.u.renameat.newname = "other";
	r = rpc(h, &t);
	expect_err(&r, 6, EOPNOTSUPP);
	memset(&t, 0, sizeof t);
	t.type = P9_TLINK;
	t.tag = 7;
	t.u.link.fid = 1;
	t.u.link.name = "other";
	r = rpc(h, &t);
	expect_err(&r, 7, EOPNOTSUPP);
	memset(&t, 0, sizeof t);
	t.type = P9_TXATTRWALK;
	t.tag = 8;
	t.u.xattrwalk.fid = 1;
	t.u.xattrwalk.newfid = 9;
	t.u.xattrwalk.name = "";
	r = rpc(h, &t);
	expect_err(&r, 8, EOPNOTSUPP);
	/* the xattr fid was not left bound */
	r = walk(h, 0, 9, 0);
	assert_int_equal(r.type, P9_RWALK);
	stop(h);
}

static void
test_attach_name_selects_the_tree(void **state)
{
	struct h *h = calloc(1, sizeof *h);
	struct p9_srv_opts o;
	struct p9_tree trees[2];
	struct ramfs *other = ramfs_new();
	struct p9_fcall r, t = {.type = P9_TATTACH, .tag = 1};
	int sv[2];

	assert_int_equal(uv_loop_init(&h->loop), 0);
	h->fs = ramfs_new();
	ramfs_add(h->fs, "in-a", 'f', 0644, "a", 1);
	ramfs_add(other, "in-b", 'f', 0644, "b", 1);
	trees[0] =
	    (struct p9_tree){.aname = "a", .ops = ramfs_ops(), .aux = h->fs};
	trees[1] =
	    (struct p9_tree){.aname = "b", .ops = ramfs_ops(), .aux = other};
	memset(&o, 0, sizeof o);
	o.trees = trees;
	o.ntrees = 2;
	h->srv = p9_srv_new(&h->loop, &o);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(p9_srv_serve_fd(h->srv, sv[0]), 0);
	h->fd = sv[1];
	h->stop.data = h;
	uv_async_init(&h->loop, &h->stop, on_stop);
	assert_int_equal(pthread_create(&h->th, NULL, loop_main, h), 0);
	version(h, "9P2000.L", 65536);

	t.u.attach.afid = P9_NOFID;
	t.u.attach.uname = "u";
	t.u.attach.n_uname = P9_NONUNAME;
	t.u.attach.fid = 0;
	t.u.attach.aname = "b";
	r = rpc(h, &t);
	assert_int_equal(r.type, P9_RATTACH);
	t.u.attach.fid = 1;
	t.u.attach.aname = ""; /* the first tree */
	r = rpc(h, &t);
	assert_int_equal(r.type, P9_RATTACH);
	t.u.attach.fid = 2;
	t.u.attach.aname = "c";
	r = rpc(h, &t);
	expect_err(&r, 1, ENOENT);
	r = walk(h, 0, 3, 1, "in-b");
	assert_int_equal(r.type, P9_RWALK);
	r = walk(h, 0, 4, 1, "in-a");
	expect_err(&r, 2, ENOENT);
	r = walk(h, 1, 5, 1, "in-a");
	assert_int_equal(r.type, P9_RWALK);
	stop(h);
	ramfs_free(other);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_version_negotiates_msize_and_dialect),
	    cmocka_unit_test(test_version_unknown_answers_unknown),
	    cmocka_unit_test(test_version_rejects_msize_below_4096),
	    cmocka_unit_test(test_request_before_version_is_an_error),
	    cmocka_unit_test(test_version_clunks_every_fid),
	    cmocka_unit_test(test_walk_rejects_17_elements),
	    cmocka_unit_test(test_walk_partial_returns_qids_and_binds_nothing),
	    cmocka_unit_test(test_walk_dotdot_at_root_stays_at_root),
	    cmocka_unit_test(test_walk_name_with_slash_is_einval),
	    cmocka_unit_test(test_fid_in_use_and_unknown_fid),
	    cmocka_unit_test(test_open_modes_are_enforced),
	    cmocka_unit_test(test_open_directory_for_writing_is_eisdir),
	    cmocka_unit_test(test_dotl_is_mapped_onto_9p2000_ops),
	    cmocka_unit_test(test_9p2000_directory_read_gives_stat_records),
	    cmocka_unit_test(test_large_read_is_bounded_by_msize),
	    cmocka_unit_test(test_flush_cancels_a_held_read),
	    cmocka_unit_test(
	        test_reply_precedes_rflush_when_server_cannot_cancel),
	    cmocka_unit_test(test_flush_of_unknown_tag_answers_at_once),
	    cmocka_unit_test(test_held_read_answers_when_data_comes),
	    cmocka_unit_test(test_tag_in_use_is_refused),
	    cmocka_unit_test(test_too_many_requests_in_flight),
	    cmocka_unit_test(test_too_many_fids),
	    cmocka_unit_test(test_oversized_message_is_refused_and_skipped),
	    cmocka_unit_test(test_malformed_and_unknown_messages_get_errors),
	    cmocka_unit_test(test_remove_clunks_even_when_it_fails),
	    cmocka_unit_test(test_hangup_with_held_reads_frees_everything),
	    cmocka_unit_test(test_operation_without_handler_is_eopnotsupp),
	    cmocka_unit_test(test_attach_name_selects_the_tree),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
