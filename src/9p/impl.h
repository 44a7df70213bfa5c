/*
 * impl.h - what the server framework's files share inside src/9p; no other
 * part includes it.
 */
#ifndef UNUM_P9_IMPL_H
#define UNUM_P9_IMPL_H

#include "p9.h"

struct p9_listener {
	uv_stream_t *h; /* uv_tcp_t or uv_pipe_t */
	struct p9_srv *srv;
	struct p9_listen_opts o;
	char path[108]; /* Unix socket to unlink at close */
	struct p9_listener *next;
};

struct p9_srv {
	uv_loop_t *loop;
	struct p9_srv_opts o;
	struct p9_tree *trees; /* copies, at least one */
	unsigned ntrees;
	struct p9_listener *listeners;
	struct p9_conn *conns;
	unsigned nconns;
	unsigned peak; /* most connections since the heap was last trimmed */
	uint64_t last_trim; /* uv_now() then */
	uv_timer_t idle;    /* the sweep for idle connections */
	int idle_on;
	unsigned nlisteners_open;
	int closing;
	void (*done)(void *arg);
	void *done_arg;
};

/* conn.c */
void p9_conn_free_all(struct p9_srv *srv);
/* srv.c: the tree an attach name selects, or NULL */
const struct p9_tree *p9_srv_tree(struct p9_srv *srv, const char *aname);
/* conn.c: closes connections idle (no fid, no request) since before t */
void p9_conn_close_idle(struct p9_srv *srv, uint64_t t);
/* conn.c: connections from this IP address */
unsigned p9_srv_count_peer(struct p9_srv *srv, const char *ip);
/* srv.c: a connection is gone */
void p9_srv_conn_gone(struct p9_srv *srv);

#define P9_RREADHDR 11 /* size[4] type[1] tag[2] count[4] */

static inline void
p9_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t
p9_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

#endif
