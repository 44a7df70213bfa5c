/*
 * fuzz_server.c - libFuzzer target for the server's dispatch of a byte
 * stream: the input is fed, in pieces whose sizes it also chooses, to a
 * connection of the real framework serving the ramfs tree over a memory
 * stream.  Half the inputs start after a valid Tversion and Tattach, so the
 * fuzzer reaches the handlers and not only the version check.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "9p/p9.h"
#include "ramfs/ramfs.h"

struct memstream {
	struct p9_stream s;
	uv_idle_t idle;
};

static int
mem_write(struct p9_stream *s, uint8_t *buf, size_t len)
{
	free(buf);
	return 0;
}

static void
mem_set_reading(struct p9_stream *s, int on)
{
}

static void
idle_closed(uv_handle_t *h)
{
	free(h->data);
}

static void
on_idle(uv_idle_t *i)
{
	struct memstream *m = i->data;

	uv_idle_stop(i);
	if (m->s.on_close)
		m->s.on_close(&m->s);
	uv_close((uv_handle_t *)i, idle_closed);
}

static void
mem_close(struct p9_stream *s)
{
	struct memstream *m = (struct memstream *)s;

	uv_idle_start(&m->idle, on_idle); /* gone later, as a socket is */
}

static const struct p9_stream_ops mem_ops = {
    .write = mem_write,
    .set_reading = mem_set_reading,
    .close = mem_close,
};

static void
feed(struct p9_stream *s, const uint8_t *data, size_t n)
{
	while (n) {
		uint8_t *buf;
		size_t cap;

		s->on_alloc(s, &buf, &cap);
		if (cap > n)
			cap = n;
		memcpy(buf, data, cap);
		s->on_read(s, cap);
		data += cap;
		n -= cap;
	}
}

static const uint8_t prologue[] = {
    /* Tversion tag ~0 msize 8192 "9P2000.L" */
    21,
    0,
    0,
    0,
    100,
    0xff,
    0xff,
    0,
    0x20,
    0,
    0,
    8,
    0,
    '9',
    'P',
    '2',
    '0',
    '0',
    '0',
    '.',
    'L',
    /* Tattach tag 1 fid 0 afid ~0 uname "u" aname "" n_uname 0 */
    24,
    0,
    0,
    0,
    104,
    1,
    0,
    0,
    0,
    0,
    0,
    0xff,
    0xff,
    0xff,
    0xff,
    1,
    0,
    'u',
    0,
    0,
    0,
    0,
    0,
    0,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uv_loop_t loop;
	static int init;
	struct memstream *m;
	struct ramfs *fs;
	struct p9_srv *srv;
	struct p9_srv_opts o;
	size_t i, chunk;

	if (!init) {
		uv_loop_init(&loop);
		init = 1;
	}
	if (size < 2)
		return 0;
	fs = ramfs_new();
	ramfs_add(fs, "file", 'f', 0644, "contents", 8);
	ramfs_add(fs, "dir", 'd', 0755, NULL, 0);
	ramfs_add(fs, "dir/x", 'f', 0644, "x", 1);
	ramfs_add(fs, "fifo", 'p', 0666, NULL, 0);
	memset(&o, 0, sizeof o);
	o.ops = ramfs_ops();
	o.aux = fs;
	o.msize = 8192;
	o.max_fids = 64;
	o.max_reqs = 32;
	srv = p9_srv_new(&loop, &o);

	m = calloc(1, sizeof *m);
	m->s.ops = &mem_ops;
	snprintf(m->s.peer.addr, sizeof m->s.peer.addr, "fuzz");
	uv_idle_init(&loop, &m->idle);
	m->idle.data = m;
	p9_srv_serve_stream(srv, &m->s);

	if (data[0] & 1)
		feed(&m->s, prologue, sizeof prologue);
	/* the second byte picks the piece size: 1..256 bytes, or all */
	chunk = data[1] ? data[1] : size;
	data += 2;
	size -= 2;
	for (i = 0; i < size; i += chunk)
		feed(&m->s, data + i, size - i < chunk ? size - i : chunk);
	m->s.on_end(&m->s, 0);
	p9_srv_close(srv, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	ramfs_free(fs);
	return 0;
}
