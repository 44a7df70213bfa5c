/*
 * srv.c - the server object: listeners (TCP, Unix socket), accepting
 * connections within the limit, and an orderly close.
 */
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "impl.h"

static void maybe_done(struct p9_srv *srv);

/* Every half idle time: the connections idle for a whole one go (a fid
 * or a request in flight keeps one). */
static void
idle_sweep(uv_timer_t *t)
{
	struct p9_srv *srv = t->data;
	uint64_t now = uv_now(srv->loop), idle = srv->o.idle_secs * 1000ull;

	if (now > idle)
		p9_conn_close_idle(srv, now - idle);
}

static void
idle_closed(uv_handle_t *h)
{
	struct p9_srv *srv = h->data;

	srv->nlisteners_open--;
	maybe_done(srv);
}

struct p9_srv *
p9_srv_new(uv_loop_t *loop, const struct p9_srv_opts *opts)
{
	struct p9_srv *srv = calloc(1, sizeof *srv);

	if (!srv)
		return NULL;
	srv->loop = loop;
	srv->o = *opts;
	if (!srv->o.msize)
		srv->o.msize = (1u << 20) + P9_IOHDRSZ;
	if (srv->o.msize < P9_MINMSIZE)
		srv->o.msize = P9_MINMSIZE;
	if (srv->o.msize > P9_MAXMSIZE)
		srv->o.msize = P9_MAXMSIZE;
	if (!srv->o.max_fids)
		srv->o.max_fids = 65536;
	if (!srv->o.max_reqs)
		srv->o.max_reqs = 1024;
	if (!srv->o.max_conns)
		srv->o.max_conns = 1024;
	if (!srv->o.max_conns_per_peer)
		srv->o.max_conns_per_peer = 256;
	if (!srv->o.name)
		srv->o.name = "9p";
	srv->ntrees = opts->ntrees ? opts->ntrees : 1;
	if (!(srv->trees = calloc(srv->ntrees, sizeof *srv->trees))) {
		free(srv);
		return NULL;
	}
	if (opts->ntrees)
		memcpy(
		    srv->trees, opts->trees, opts->ntrees * sizeof *srv->trees);
	else {
		srv->trees[0].ops = opts->ops;
		srv->trees[0].aux = opts->aux;
	}
	if (srv->o.idle_secs) {
		uint64_t every = srv->o.idle_secs * 1000ull / 2;

		uv_timer_init(loop, &srv->idle);
		srv->idle.data = srv;
		uv_timer_start(&srv->idle, idle_sweep, every ? every : 1,
		    every ? every : 1);
		uv_unref((uv_handle_t *)&srv->idle); /* keeps no loop alive */
		srv->idle_on = 1;
	}
	return srv;
}

void *
p9_srv_aux(struct p9_srv *srv)
{
	return srv->o.aux;
}

void *
p9_req_aux(struct p9_req *r)
{
	return r->fid && r->fid->tree ? r->fid->tree->aux
	                              : p9_srv_aux(p9_conn_srv(r->conn));
}

const struct p9_tree *
p9_srv_tree(struct p9_srv *srv, const char *aname)
{
	unsigned i;

	for (i = 0; i < srv->ntrees; i++)
		if (srv->trees[i].aname && *srv->trees[i].aname &&
		    (strcmp(srv->trees[i].aname, aname) == 0 ||
		     (!strcmp(srv->trees[i].aname, "!") && strchr(aname, '!'))))
			return &srv->trees[i];
	if (!*aname)
		return &srv->trees[0];
	for (i = 0; i < srv->ntrees; i++)
		if (!srv->trees[i].aname || !*srv->trees[i].aname)
			return &srv->trees[i];
	return NULL;
}

uv_loop_t *
p9_srv_loop(struct p9_srv *srv)
{
	return srv->loop;
}

unsigned
p9_srv_nconns(struct p9_srv *srv)
{
	return srv->nconns;
}

static int
serve_handle(struct p9_srv *srv, uv_stream_t *h, const struct p9_listen_opts *o)
{
	/* a TLS peer is who its key says, not who owns its socket */
	struct p9_stream *s = p9_stream_uv_new(h, !o || !o->tls);

	if (!s)
		return -ENOMEM;
	if (o && o->tls &&
	    !(s = p9_stream_tls_new(srv->loop, s, o->tls)))
		return -ENOMEM;
	if (o) {
		s->peer.anames = o->anames;
		s->peer.anon = o->anon;
		s->peer.squash_root = o->squash_root;
	}
	if (!p9_srv_serve_stream(srv, s))
		return -ENOMEM;
	p9_log(LOG_DEBUG, "%s: connected", s->peer.addr);
	return 0;
}

static void
free_handle_cb(uv_handle_t *h)
{
	free(h);
}

static void
on_connection(uv_stream_t *lh, int status)
{
	struct p9_listener *l = lh->data;
	struct p9_srv *srv = l->srv;
	uv_stream_t *h;

	if (status < 0) {
		p9_log(LOG_WARNING, "accept: %s", uv_strerror(status));
		return;
	}
	if (lh->type == UV_TCP) {
		h = malloc(sizeof(uv_tcp_t));
		if (h)
			uv_tcp_init(srv->loop, (uv_tcp_t *)h);
	} else {
		h = malloc(sizeof(uv_pipe_t));
		if (h)
			uv_pipe_init(srv->loop, (uv_pipe_t *)h, 0);
	}
	if (!h)
		return;
	if (uv_accept(lh, h) < 0) {
		uv_close((uv_handle_t *)h, free_handle_cb);
		return;
	}
	if (lh->type == UV_TCP && !srv->closing) {
		/* one address may not take every slot (a slowloris) */
		struct sockaddr_storage ss;
		char ip[INET6_ADDRSTRLEN] = "";
		int len = sizeof ss;
		unsigned n;

		if (uv_tcp_getpeername((uv_tcp_t *)h, (struct sockaddr *)&ss,
		        &len) == 0)
			uv_ip_name((struct sockaddr *)&ss, ip, sizeof ip);
		if (*ip && (n = p9_srv_count_peer(srv, ip)) >=
		               srv->o.max_conns_per_peer) {
			p9_log(LOG_WARNING,
			    "refusing a connection from %s: %u connections "
			    "from it (limit %u)",
			    ip, n, srv->o.max_conns_per_peer);
			uv_close((uv_handle_t *)h, free_handle_cb);
			return;
		}
	}
	if (srv->closing || srv->nconns >= srv->o.max_conns) {
		p9_log(LOG_WARNING,
		    "refusing a connection: %u connections "
		    "(limit %u)",
		    srv->nconns, srv->o.max_conns);
		uv_close((uv_handle_t *)h, free_handle_cb);
		return;
	}
	if (serve_handle(srv, h, &l->o) < 0)
		p9_log(LOG_ERR, "out of memory for a connection");
}

/* A stale Unix socket (nobody listening) may be replaced; a live one not. */
static int
unlink_stale(const char *path)
{
	struct stat sb;
	struct sockaddr_un sun;
	int fd, rc;

	if (lstat(path, &sb) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(sb.st_mode))
		return -EEXIST;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	rc = connect(fd, (struct sockaddr *)&sun, sizeof sun);
	close(fd);
	if (rc == 0)
		return -EADDRINUSE;
	return unlink(path) < 0 ? -errno : 0;
}

static int
resolve(const struct p9_addr *a, struct sockaddr_storage *ss)
{
	struct addrinfo hints, *res;
	char port[16];
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof port, "%d", a->port);
	if ((rc = getaddrinfo(a->host, port, &hints, &res)) != 0)
		return -EADDRNOTAVAIL;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

int
p9_srv_listen(struct p9_srv *srv, const struct p9_addr *a, int mode)
{
	struct p9_listen_opts o = {.mode = mode};

	return p9_srv_listen_opts(srv, a, &o);
}

int
p9_srv_listen_opts(
    struct p9_srv *srv, const struct p9_addr *a, const struct p9_listen_opts *o)
{
	struct p9_listener *l = calloc(1, sizeof *l);
	int mode = o->mode, rc;

	if (!l)
		return -ENOMEM;
	l->srv = srv;
	l->o = *o;
	if (a->is_unix) {
		uv_pipe_t *p = malloc(sizeof *p);

		if (!p) {
			free(l);
			return -ENOMEM;
		}
		uv_pipe_init(srv->loop, p, 0);
		l->h = (uv_stream_t *)p;
		{
			/* its directory (/run/unum) is made if missing */
			char dir[sizeof a->path], *slash;

			snprintf(dir, sizeof dir, "%s", a->path);
			if ((slash = strrchr(dir, '/')) && slash != dir) {
				*slash = '\0';
				mkdir(dir, 0755);
			}
		}
		if ((rc = unlink_stale(a->path)) < 0)
			goto fail;
		if ((rc = uv_pipe_bind(p, a->path)) < 0)
			goto fail;
		snprintf(l->path, sizeof l->path, "%s", a->path);
		if (chmod(a->path, (mode_t)mode) < 0) {
			rc = -errno;
			goto fail;
		}
	} else {
		uv_tcp_t *t = malloc(sizeof *t);
		struct sockaddr_storage ss;

		if (!t) {
			free(l);
			return -ENOMEM;
		}
		uv_tcp_init(srv->loop, t);
		l->h = (uv_stream_t *)t;
		if ((rc = resolve(a, &ss)) < 0)
			goto fail;
		if ((rc = uv_tcp_bind(t, (struct sockaddr *)&ss, 0)) < 0)
			goto fail;
	}
	l->h->data = l;
	if ((rc = uv_listen(l->h, SOMAXCONN, on_connection)) < 0)
		goto fail;
	l->next = srv->listeners;
	srv->listeners = l;
	srv->nlisteners_open++;
	return 0;
fail:
	if (l->path[0])
		unlink(l->path);
	uv_close((uv_handle_t *)l->h, free_handle_cb);
	free(l);
	return rc;
}

int
p9_srv_serve_fd(struct p9_srv *srv, int fd)
{
	int domain = 0, rc;
	socklen_t len = sizeof domain;
	uv_stream_t *h;

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
		return -errno;
	if (domain == AF_UNIX) {
		h = malloc(sizeof(uv_pipe_t));
		if (!h)
			return -ENOMEM;
		uv_pipe_init(srv->loop, (uv_pipe_t *)h, 0);
		rc = uv_pipe_open((uv_pipe_t *)h, fd);
	} else {
		h = malloc(sizeof(uv_tcp_t));
		if (!h)
			return -ENOMEM;
		uv_tcp_init(srv->loop, (uv_tcp_t *)h);
		rc = uv_tcp_open((uv_tcp_t *)h, fd);
	}
	if (rc < 0) {
		uv_close((uv_handle_t *)h, free_handle_cb);
		return rc;
	}
	return serve_handle(srv, h, NULL);
}

static void
maybe_done(struct p9_srv *srv)
{
	if (!srv->closing || srv->nconns || srv->nlisteners_open)
		return;
	if (srv->done)
		srv->done(srv->done_arg);
	free(srv->trees);
	free(srv);
}

void
p9_srv_conn_gone(struct p9_srv *srv)
{
	/* after a flood (or a busy hour) the heap is returned to the
	 * system once half the connections are gone, or at most once a
	 * second as they go: a daemon's size follows its load, not its
	 * worst moment */
	uint64_t now = uv_now(srv->loop);

	if ((srv->nconns * 2 < srv->peak && srv->peak > 32) ||
	    now - srv->last_trim >= 1000) {
		malloc_trim(0);
		srv->peak = srv->nconns;
		srv->last_trim = now;
	}
	maybe_done(srv);
}

static void
listener_closed(uv_handle_t *h)
{
	struct p9_listener *l = h->data;
	struct p9_srv *srv = l->srv;

	free(h);
	free(l);
	srv->nlisteners_open--;
	maybe_done(srv);
}

void
p9_srv_close(struct p9_srv *srv, void (*done)(void *arg), void *arg)
{
	struct p9_listener *l, *next;

	srv->closing = 1;
	srv->done = done;
	srv->done_arg = arg;
	for (l = srv->listeners; l; l = next) {
		next = l->next;
		if (l->path[0])
			unlink(l->path);
		uv_close((uv_handle_t *)l->h, listener_closed);
	}
	srv->listeners = NULL;
	if (srv->idle_on) {
		srv->idle_on = 0;
		srv->nlisteners_open++; /* one more handle to see closed */
		uv_close((uv_handle_t *)&srv->idle, idle_closed);
	}
	p9_conn_free_all(srv);
	maybe_done(srv);
}

void
p9_malloc_for_messages(uint32_t msize)
{
	size_t m = msize ? msize : (1u << 20) + 24;

	/* glibc maps anything over its threshold (128 KiB, raised only
	 * after such a block is freed, and per process, not per arena) */
	mallopt(M_MMAP_THRESHOLD, (int)(4 * m < (32u << 20) ? 4 * m : 32u << 20));
	mallopt(M_TRIM_THRESHOLD, (int)(32 * m < (256u << 20) ? 32 * m : 256u << 20));
}
