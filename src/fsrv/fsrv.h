/*
 * fsrv.h - exports a directory tree over 9P2000.L, 9P2000.u and 9P2000.
 * Every path resolves beneath the export root (openat2 RESOLVE_BENEATH),
 * every request runs with the requesting user's uid, gid and groups
 * (per-thread fsuid/fsgid/groups) on libuv's worker pool, never on the
 * loop.  fsrv decides who a connection is from its peer credentials; it
 * never trusts a user name a client merely claims.
 */
#ifndef UNUM_FSRV_H
#define UNUM_FSRV_H

#include <sys/types.h>

#include "9p/p9.h"

struct fsrv;

struct fsrv_opts {
	const char *root; /* the directory to export */
	int readonly;     /* every change is EROFS */
	int squash;       /* every user is squash_uid/squash_gid */
	uid_t squash_uid;
	gid_t squash_gid;
	uid_t anon_uid; /* peers whose identity is unknown */
	gid_t anon_gid;
};

/* Opens the export root; NULL with *err (-errno) when it cannot. */
struct fsrv *fsrv_new(const struct fsrv_opts *o, int *err);
void fsrv_free(struct fsrv *fs);

/* The handlers; serve them with fs as the tree's aux. */
const struct p9_ops *fsrv_ops(void);

/* Looks a user or group up by name or number; 0 or -1. */
int fsrv_lookup_user(const char *s, uid_t *uid, gid_t *gid);

#endif
