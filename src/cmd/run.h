/*
 * run.h - the "unum run" command (run.c), called by unum's main.
 */
#ifndef UNUM_CMD_RUN_H
#define UNUM_CMD_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "9p/p9.h"

/* Where a node is found when none is named, and its TCP port. */
#define UNUM_SOCKET "/run/unum/unumd.sock"
#define UNUM_PORT 5640

/* Runs argv (argv[0] is "run") and returns or exits with the status. */
int unum_run(int argc, char **argv);
/* Puts back the signal dispositions unum changed at its start, before it
 * execs a program in its place. */
void unum_restore_signals(void);
/* 1 if sig was ignored when unum started (what a program it execs, and so
 * one it starts elsewhere, would start with ignored).  Right for the
 * signals unum has not changed yet; SIGPIPE always. */
int unum_was_ignored(int sig);
/* Dies of sig (unblocked, default action, no core); returns only if it
 * cannot (then the caller exits 128+sig). */
void unum_die_of(int sig);
/* cmd on n nodes at once (fanout.c): each an "unum run -n addrs[i]",
 * at most width at once; lines labelled with labels[i], or with gather
 * (-b) each output once per group of nodes that printed the same; with
 * broadcast each gets all of this stdin, else none; extra (NULL-ended, or
 * NULL) are more options for every run.  Returns the highest exit
 * status. */
int unum_fanout(char **labels, char **addrs, size_t n, int gather, int width,
    int broadcast, char **extra, char **cmd);
/* The same as a tree when there are more than `tree` nodes (0: never):
 * the first node of every share of `tree` starts the share's runs
 * itself (unum run --subtree there), so the rounds grow with log N;
 * origin is this node's unumd, whose files the runs see. */
int unum_fanout_tree(char **labels, char **addrs, size_t n, int gather,
    int width, int broadcast, char **extra, unsigned tree,
    const char *origin, char **cmd);
/* Expands "a,n[01-16],b[1,3-5]" into *nodes (n of them, malloc'd).  -1
 * with one line in err. */
int unum_nodelist(const char *spec, char ***nodes, size_t *n, char *err,
    size_t cap);

/* "unum ps" and "unum kill" (ps.c). */
int unum_ps(int argc, char **argv);
int unum_kill(int argc, char **argv);
int unum_wait(int argc, char **argv);
/* kill -s: SIG (NULL: KILL) to every running process of session, on every
 * node through unum-clusterd when it runs here (else addr's node); 0, or 1
 * if none ran or one failed (said on stderr unless quiet). */
int unum_kill_session(
    const char *addr, const char *session, const char *sig, int quiet);
/* "unum exec [-d PATTERN]... CMD" and "unum sh" (session.c): CMD (or a
 * shell) in a session: the shim loaded, the process-server connection set,
 * programs the policy names sent elsewhere. */
int unum_session(int argc, char **argv);

/* "unum nodes", and "unum drain|undrain|join" (argv[0] names which)
 * (nodes.c), through this node's unum-clusterd: $UNUM_CLUSTER, else
 * UNUM_CLUSTER_SOCKET. */
#define UNUM_CLUSTER_SOCKET "/run/unum/clusterd.sock"
int unum_nodes(int argc, char **argv);
int unum_cluster_ctl(int argc, char **argv);
const char *unum_cluster_socket(void);
/* Attaches tree of the cluster daemon; on failure one line and exit 255. */
struct p9_cl *unum_cluster_connect(const char *tree, uint32_t *root);
/* 1 if this node runs unum-clusterd (its socket is there). */
int unum_cluster_here(void);
/* The members as the cluster daemon sees them (*out malloc'd, n of them);
 * on failure one line and exit 255. */
struct clu_member;
void unum_members(struct clu_member **out, size_t *n);
/* This node's unumd as the cluster knows it (static), or NULL; exits as
 * unum_members does when unum-clusterd cannot be asked. */
const char *unum_self_addr(void);
/* Is s a session's name: 1 to 63 of letters, digits, '-', '_', '.', not
 * starting with '.' (a cgroup's name on every node)? */
int unum_session_name(const char *s);
/* The descriptors beyond 0-2 this process has (-1: cannot tell), each
 * made close-on-exec when cloexec is set. */
int unum_fds_beyond_2(int cloexec);
/* The whole of file path (from root) into *out (malloc'd, NUL-ended). 0
 * or -errno. */
int unum_read_text(
    struct p9_cl *cl, uint32_t root, const char *path, char **out, size_t *len);

/* Prints s as a JSON string (unum.c), for --json output. */
void unum_json_str(const char *s);


/* How a client reaches tree TREE of the node given (NULL: $UNUM_ADDR,
 * else the local socket).  A Unix socket or plain: address, or any node
 * when $UNUM_KEY names a key: directly.  Another node (HOST[:PORT]):
 * through this node's unumd ($UNUM_SOCKET, else UNUM_SOCKET) when one
 * runs, which relays to it (attach name "ADDR!TREE"); else directly, with
 * /etc/unum/cluster.key if there is one.  -1 for a bad address. */
struct unum_route {
	struct p9_addr a;       /* where to connect */
	struct p9_tls_ctx *tls; /* NULL: no TLS */
	char aname[300];        /* what to attach */
	const char *shown;      /* the node as given */
	char where[160];        /* what is connected to, for messages */
	int relayed;
};
int unum_route(const char *given, const char *tree, struct unum_route *rt);


/* Connects to the process server at addr (NULL: $UNUM_ADDR, else the
 * local socket) over 9P2000.u and attaches "proc"; *root is the attached
 * fid, *shown the address as given.  On failure, one line and exit 255. */
struct p9_cl *unum_proc_connect(
    const char *addr, uint32_t *root, const char **shown);

#endif
