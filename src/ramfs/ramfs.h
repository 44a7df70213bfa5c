/*
 * ramfs.h - a synthetic file tree in memory, served over 9P: the test
 * server of the 9P framework, and what unumd serves under attach name
 * "ram".  It owns its nodes and nothing on disk.  No permission checks:
 * every attached user may do everything, and new files belong to the
 * user who made them.  A fifo file holds reads until data is written.
 */
#ifndef UNUM_RAMFS_H
#define UNUM_RAMFS_H

#include <stddef.h>
#include <stdint.h>

#include "9p/p9.h"

struct ramfs;

/* An empty tree (a root directory).  NULL on out of memory. */
struct ramfs *ramfs_new(void);
void ramfs_free(struct ramfs *fs);

/* The callbacks to serve fs with, with fs as the tree's (or server's) aux. */
const struct p9_ops *ramfs_ops(void);

/*
 * Adds a node at path ("a/b/c"; parents must exist).  kind: 'f' a file
 * with the given contents, 'd' a directory, 'p' a fifo (a read waits for
 * data; bytes read are consumed; a zero-length write is end of file).
 * 0 or -errno (EEXIST, ENOENT, ENOTDIR, ENOMEM).
 */
int ramfs_add(struct ramfs *fs, const char *path, int kind, uint32_t perm,
    const void *data, size_t len);

/* Replaces a file's contents; 0 or -errno. */
int ramfs_set(struct ramfs *fs, const char *path, const void *data, size_t len);

#endif
