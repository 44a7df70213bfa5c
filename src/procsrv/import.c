/*
 * import.c - another node's files for the processes that came from it.
 *
 * One mount per origin and user: `unum mount -o allow_other,uid=U
 * ORIGIN:fs DIR/ORIGIN-U/mnt`, run as root with the cluster key, so the
 * origin's fsrv serves it with that user's credentials and nobody else's.
 * DIR/ORIGIN-U is root's, mode 0700: no other user reaches the mount; a
 * process sees it only through the binds procsrv makes in its own mount
 * namespace.  The mount stays for the next process of that user from that
 * origin; a failed one is tried again after a few seconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "9p/p9.h"
#include "import.h"

#define RETRY_MS 5000

enum { I_MOUNTING, I_READY, I_FAILED };

struct import_wait {
	struct import *i;
	imp_cb cb;
	void *arg;
	struct import_wait *next;
};

struct import {
	struct imports *im;
	char origin[128];
	uid_t uid;
	int state;
	char mnt[600];
	char why[640];
	uint64_t failed_at;
	uv_process_t proc;
	uv_pipe_t err;
	int nhandles;
	int orphan; /* imports closed: freed with its last handle */
	char errbuf[320];
	size_t errlen;
	struct import_wait *waiting;
	struct import *next;
};

struct imports {
	uv_loop_t *loop;
	char cmd[512], key[512], dir[256];
	struct import *list;
	int closing;
};

struct imports *
imp_new(uv_loop_t *loop, const char *cmd, const char *key, const char *dir)
{
	struct imports *im = calloc(1, sizeof *im);

	if (!im)
		abort();
	im->loop = loop;
	snprintf(im->cmd, sizeof im->cmd, "%s", cmd);
	snprintf(im->key, sizeof im->key, "%s", key ? key : "");
	snprintf(im->dir, sizeof im->dir, "%s", dir);
	return im;
}

static void
finish(struct import *i)
{
	struct import_wait *w;

	while ((w = i->waiting)) {
		i->waiting = w->next;
		w->cb(w->arg, i->state == I_READY ? i->mnt : NULL, i->why);
		free(w);
	}
}

static void
handle_closed(uv_handle_t *h)
{
	struct import *i = h->data;

	if (--i->nhandles == 0 && i->orphan)
		free(i);
}

static void
on_err_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct import *i = h->data;

	b->base = i->errbuf + i->errlen;
	b->len = sizeof i->errbuf - 1 - i->errlen;
}

static void
on_err_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct import *i = s->data;

	if (n > 0)
		i->errlen += (size_t)n;
	if (n < 0 || i->errlen >= sizeof i->errbuf - 1) {
		uv_read_stop(s);
		uv_close((uv_handle_t *)s, handle_closed);
	}
}

static void
on_exit_mount(uv_process_t *p, int64_t status, int sig)
{
	struct import *i = p->data;

	uv_close((uv_handle_t *)p, handle_closed);
	if (i->orphan)
		return;
	if (status == 0 && !sig) {
		i->state = I_READY;
		i->why[0] = '\0';
		p9_log(LOG_INFO, "import: %s's files for uid %u on %s", i->origin,
		    (unsigned)i->uid, i->mnt);
	} else {
		char *nl;

		i->errbuf[i->errlen] = '\0';
		if ((nl = strchr(i->errbuf, '\n')))
			*nl = '\0';
		i->state = I_FAILED;
		i->failed_at = uv_now(i->im->loop);
		snprintf(i->why, sizeof i->why,
		    "cannot import the files of %s: %.300s%s", i->origin,
		    *i->errbuf ? i->errbuf : "the mount failed",
		    strstr(i->errbuf, "attach 'fs'")
		        ? " (it exports none: 'export /' in its unumd.conf; or "
		          "unum run --no-import)"
		        : "");
		p9_log(LOG_WARNING, "%s", i->why);
	}
	finish(i);
}

/* mkdir -p, root's and 0755 */
static void
mkdirs(const char *path)
{
	char p[256], *s;

	snprintf(p, sizeof p, "%s", path);
	for (s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	mkdir(p, 0755);
}

/* Starts the mount; 0, or -1 with i->why set. */
static int
start(struct import *i)
{
	struct imports *im = i->im;
	char dir[420], opts[256], target[160], keyenv[600];
	char *args[8], *env[4];
	/* (the key may be empty: then a node reached over TLS refuses) */
	uv_process_options_t po;
	uv_stdio_container_t io[3];
	size_t k;
	int rc;

	/* a directory name of the origin's address: [:/] become '_' */
	snprintf(dir, sizeof dir, "%s/%s-%u", im->dir, i->origin,
	    (unsigned)i->uid);
	for (k = strlen(im->dir) + 1; dir[k]; k++)
		if (dir[k] == '/' || dir[k] == ':' || dir[k] == '[' ||
		    dir[k] == ']')
			dir[k] = '_';
	mkdirs(im->dir);
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) || chmod(dir, 0700) < 0) {
		snprintf(i->why, sizeof i->why, "cannot import: %.300s: %s", dir,
		    strerror(errno));
		return -1;
	}
	snprintf(i->mnt, sizeof i->mnt, "%s/mnt", dir);
	umount2(i->mnt, MNT_DETACH); /* a mount left from before */
	if (mkdir(i->mnt, 0755) < 0 && errno != EEXIST) {
		snprintf(i->why, sizeof i->why, "cannot import: %.300s: %s", i->mnt,
		    strerror(errno));
		return -1;
	}
	/* the kernel keeps names and attributes 5 s, missing names 2 s
	 * (60 s where the origin's feed of changes covers them: it says
	 * when they are stale);
	 * an open asks the origin whether the file changed (or was
	 * replaced: close-to-open), unless an open of it asked less than
	 * 3 s before: a build opens the same headers again and again */
	snprintf(opts, sizeof opts,
	    "allow_other,uid=%u,attr_timeout=5,entry_timeout=5,"
	    "negative_timeout=2,revalidate=3,changes=60",
	    (unsigned)i->uid);
	snprintf(target, sizeof target, "%s:fs", i->origin);
	args[0] = "unum";
	args[1] = "mount";
	args[2] = "-o";
	args[3] = opts;
	args[4] = target;
	args[5] = i->mnt;
	args[6] = NULL;
	snprintf(keyenv, sizeof keyenv, "UNUM_KEY=%s", im->key);
	env[0] = keyenv;
	env[1] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	env[2] = NULL;
	memset(&po, 0, sizeof po);
	po.file = im->cmd;
	po.args = args;
	po.env = env;
	po.exit_cb = on_exit_mount;
	uv_pipe_init(im->loop, &i->err, 0);
	i->err.data = i;
	io[0].flags = UV_IGNORE;
	io[1].flags = UV_IGNORE;
	io[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	io[2].data.stream = (uv_stream_t *)&i->err;
	po.stdio = io;
	po.stdio_count = 3;
	i->proc.data = i;
	i->errlen = 0;
	i->nhandles += 2;
	if ((rc = uv_spawn(im->loop, &i->proc, &po)) < 0) {
		/* both handles are initialised: closed either way */
		uv_close((uv_handle_t *)&i->proc, handle_closed);
		uv_close((uv_handle_t *)&i->err, handle_closed);
		snprintf(i->why, sizeof i->why, "cannot import: %.300s: %s", im->cmd,
		    uv_strerror(rc));
		return -1;
	}
	uv_read_start((uv_stream_t *)&i->err, on_err_alloc, on_err_read);
	i->state = I_MOUNTING;
	return 0;
}

struct import_wait *
imp_get(struct imports *im, const char *origin, uid_t uid, imp_cb cb,
    void *arg)
{
	struct import *i;
	struct import_wait *w;

	for (i = im->list; i; i = i->next)
		if (i->uid == uid && !strcmp(i->origin, origin))
			break;
	if (i && i->state == I_READY) {
		struct stat st;

		/* still mounted (a FUSE process may have died): a stat of
		 * its root answers at once, or with ENOTCONN */
		if (stat(i->mnt, &st) == 0) {
			cb(arg, i->mnt, NULL);
			return NULL;
		}
		umount2(i->mnt, MNT_DETACH);
		i->state = I_FAILED;
		i->failed_at = 0;
	}
	if (i && i->state == I_FAILED &&
	    uv_now(im->loop) - i->failed_at < RETRY_MS) {
		cb(arg, NULL, i->why);
		return NULL;
	}
	if (!i) {
		if (!(i = calloc(1, sizeof *i)))
			abort();
		i->im = im;
		snprintf(i->origin, sizeof i->origin, "%s", origin);
		i->uid = uid;
		i->state = I_FAILED;
		i->next = im->list;
		im->list = i;
	}
	if (i->state == I_FAILED && start(i) < 0) {
		i->state = I_FAILED;
		i->failed_at = uv_now(im->loop);
		cb(arg, NULL, i->why);
		return NULL;
	}
	if (!(w = calloc(1, sizeof *w)))
		abort();
	w->i = i;
	w->cb = cb;
	w->arg = arg;
	w->next = i->waiting;
	i->waiting = w;
	return w;
}

void
imp_cancel(struct import_wait *w)
{
	struct import_wait **pp;

	if (!w)
		return;
	for (pp = &w->i->waiting; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			free(w);
			return;
		}
}

void
imp_close(struct imports *im)
{
	struct import *i, *next;

	if (!im)
		return;
	im->closing = 1;
	for (i = im->list; i; i = next) {
		next = i->next;
		if (i->state == I_READY || i->state == I_MOUNTING)
			umount2(i->mnt, MNT_DETACH);
		i->state = I_FAILED;
		snprintf(i->why, sizeof i->why, "the node is shutting down");
		finish(i);
		i->orphan = 1;
		if (i->nhandles == 0)
			free(i);
	}
	free(im);
}
