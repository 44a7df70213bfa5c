/*
 * procsrv.h - the process server of one node: the file-oriented process
 * API (attach name "proc").  /clone makes a slot; /N/ctl takes commands
 * (argv, env, dir, ns, rlimit, exec, signal, close stdin, persist); stdin,
 * stdout, stderr and wait are the process's streams and end.  Children
 * start as the requesting user with a vfork-style clone, are reaped through
 * pidfds on the loop, and die with their last fid unless told to persist.
 * It knows nothing of other nodes.
 */
#ifndef UNUM_PROCSRV_H
#define UNUM_PROCSRV_H

#include <sys/types.h>

#include "9p/p9.h"

struct psrv;

struct psrv_opts {
	const char *node;  /* this node's name, for status lines */
	unsigned grace_ms; /* SIGHUP, then SIGKILL this much later */
	uid_t anon_uid;    /* peers of unknown identity */
	gid_t anon_gid;
	unsigned max_per_user; /* slots one uid may hold; 0: 1024 (root:
	                        * no limit but the node's, 4096) */
	size_t max_arg_bytes;  /* argv and env together, as the kernel
	                        * counts them; 0: PSRV_MAX_ARG_BYTES */
	/* imports (ns): the unum binary that mounts them, the cluster key
	 * it uses, where mounts go (0: /run/unum/import), and this node's
	 * own addresses (NULL-ended; an ns naming one imports nothing) */
	const char *import_cmd;
	const char *import_key;
	const char *import_dir;
	const char *const *self_addrs;
};

/* Paths one ns command imports at most. */
#define PSRV_MAX_IMPORTS 16

/* What execve takes at most here (a quarter of an 8 MiB stack), and in
 * one argument or environment string (the kernel's MAX_ARG_STRLEN). */
#define PSRV_MAX_ARG_BYTES (2u << 20)
#define PSRV_MAX_ARG_STRLEN (32u * 4096)

/* A process server on loop; NULL with *err (-errno). */
struct psrv *psrv_new(uv_loop_t *loop, const struct psrv_opts *o, int *err);
/* The daemon stops: every process still running is killed (its process
 * group, SIGKILL) and every slot goes once reaped, so the loop can end. */
void psrv_shutdown(struct psrv *ps);
/* Frees ps after the loop has ended. */
void psrv_free(struct psrv *ps);

/* The handlers; serve them with ps as the tree's aux. */
const struct p9_ops *psrv_ops(void);

/* Checks len bytes as one write to a new slot's ctl would be checked
 * (lines, quoting, every command and its arguments), starting nothing
 * and keeping nothing.  0, or -errno with the message that write would
 * fail with in err (errcap bytes). */
int psrv_ctl_check(const char *text, size_t len, char *err, size_t errcap);

#endif
