/*
 * import.h - procsrv's imports (import.c): another node's files, mounted
 * here once per origin and user through the fuse module (`unum mount`, in
 * a process of its own, attached in that user's name), for processes that
 * came from there to see at the same paths.  Internal to procsrv.
 */
#ifndef UNUM_PROCSRV_IMPORT_H
#define UNUM_PROCSRV_IMPORT_H

#include <sys/types.h>

#include <uv.h>

struct imports;
struct import_wait;

/* cmd: the unum binary; key: the cluster key file (for TLS to nodes);
 * dir: where mounts go (one directory per origin and uid, mode 0700). */
struct imports *imp_new(
    uv_loop_t *loop, const char *cmd, const char *key, const char *dir);
/* Unmounts every import (their filesystems end with them) and frees im. */
void imp_close(struct imports *im);

/* Called once: mnt is the mount of origin's files for uid (why NULL), or
 * mnt NULL and why says what failed. */
typedef void (*imp_cb)(void *arg, const char *mnt, const char *why);
/* The mount of origin's tree "fs" for uid: ready now (cb before this
 * returns, and NULL is returned) or once mounted (the returned wait can
 * be cancelled; cb is then never called). */
struct import_wait *imp_get(struct imports *im, const char *origin, uid_t uid,
    imp_cb cb, void *arg);
void imp_cancel(struct import_wait *w);

#endif
