/*
 * cluster.h - the clustering subsystem that unum-clusterd runs: membership
 * and failure detection among the nodes (member.c, SWIM over UDP datagrams
 * sealed with a key derived from the cluster key), placement of new
 * processes by policy (place.c), and the /cluster 9P tree (tree.c).  It
 * reaches unumd only over 9P and never links procsrv: a node without it is
 * complete, and its crash leaves unumd and its processes running.
 */
#ifndef UNUM_CLUSTER_H
#define UNUM_CLUSTER_H

#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "9p/p9.h"

#define CLU_NAME_MAX 64   /* node names, with the NUL */
#define CLU_ADDR_MAX 64   /* HOST:PORT */
#define CLU_LABELS_MAX 128 /* comma-separated labels */
#define CLU_PORT 5641      /* membership datagrams */

/* ---- Membership (member.c) ---- */

enum clu_state { CLU_ALIVE, CLU_SUSPECT, CLU_DEAD, CLU_LEFT };

/* What a node says of itself, refreshed while it runs. */
struct clu_meta {
	char arch[16];
	uint16_t ncpu;
	uint32_t load;    /* runnable threads per CPU, x1000 (smoothed) */
	uint64_t memfree; /* bytes (MemAvailable) */
	uint8_t drain;    /* no new placements here */
	char labels[CLU_LABELS_MAX];
	char version[16];
};

/* One member as this node sees it (read-only to callers). */
struct clu_member {
	char name[CLU_NAME_MAX];
	char addr[CLU_ADDR_MAX];  /* its unumd, HOST:PORT (TLS) */
	char maddr[CLU_ADDR_MAX]; /* its membership datagrams, HOST:PORT */
	uint64_t inc;             /* incarnation: starts at its start time */
	enum clu_state state;
	uint32_t metaver;
	struct clu_meta m;
	uint64_t since; /* loop time (ms) of the last change of state */
	int self;
	/* placement: this node's runs there whose attach here is open, and
	 * (placed, decaying) those whose attach went but whose process may
	 * live on */
	double placed;
	uint64_t placed_at;
	unsigned running;
	double ours_s; /* what of ours ran there, smoothed as the load
	                * figure is (clu_place_sample) */
	/* private to member.c */
	struct sockaddr_storage sa;
	socklen_t salen;
	uint64_t deadline; /* suspect: dead then */
	unsigned confirms; /* others' words that it is suspect */
	uint64_t confirmer[3]; /* who said so (hashes of names) */
	unsigned tx;       /* times still to gossip its news */
	unsigned probed;   /* probe round it was last probed in */
	uint64_t digest;   /* hash of (name, inc, state) */
};

struct clu_memb;

struct clu_memb_opts {
	const char *name;   /* this node's name */
	const char *addr;   /* its unumd's address, as others reach it */
	const char *listen; /* HOST:PORT for datagrams (a HOST others reach) */
	const uint8_t *key; /* the cluster key, P9_KEY_LEN bytes */
	const uint8_t *prevkey; /* also accepted (a rollover), or NULL */
	const char *labels;     /* comma-separated, or NULL */
	const char *version;
	unsigned probe_ms;    /* one probe each; 0: 500 */
	unsigned timeout_ms;  /* direct probe, then indirect; 0: 200 */
	unsigned suspect_ms;  /* suspect before dead; 0: 2000 */
	unsigned gossip_ms;   /* news to a few members each; 0: 200 */
	unsigned indirect;    /* members asked to probe for us; 0: 3 */
	unsigned fanout;      /* members gossiped to each time; 0: 3 */
	/* tests: datagrams go here (sealed), not out on the socket */
	void (*send)(void *arg, const struct sockaddr *to, const uint8_t *d,
	    size_t n);
	/* a member changed state (old is its state before; -1: new) */
	void (*changed)(void *arg, const struct clu_member *m, int old);
	void *arg;
};

/* Membership on loop, bound to o->listen.  NULL with a line in err. */
struct clu_memb *clu_memb_new(uv_loop_t *loop, const struct clu_memb_opts *o,
    char *err, size_t cap);
/* Asks the member at HOST[:PORT] (default port: ours) to let us in, and
 * again every second until some member answers.  0, or -1 with err. */
int clu_memb_join(struct clu_memb *mb, const char *hostport, char *err,
    size_t cap);
/* Tells the members this node leaves; done(arg) runs a moment later, once
 * the news is out.  The membership is then closed and freed. */
void clu_memb_leave(struct clu_memb *mb, void (*done)(void *), void *arg);
/* The same without a word to anyone (tests). */
void clu_memb_close(struct clu_memb *mb, void (*done)(void *), void *arg);
/* Members, self included, sorted by name: n of them in *out, valid until
 * the loop runs again. */
unsigned clu_memb_list(struct clu_memb *mb, struct clu_member *const **out);
struct clu_member *clu_memb_find(struct clu_memb *mb, const char *name);
struct clu_member *clu_memb_self(struct clu_memb *mb);
/* Drains (on 1) or opens again (0) node name: this one at once; another
 * by asking it (it says so to all).  0, or -1 with errno ENOENT. */
int clu_memb_drain(struct clu_memb *mb, const char *name, int on);
/* Counts for the log and tests: datagrams in and out, refused (bad
 * seal). */
struct clu_memb_stats {
	uint64_t in, out, refused;
};
void clu_memb_stats(struct clu_memb *mb, struct clu_memb_stats *st);
/* Opens datagram d (n bytes) sealed under key (as derived: 32 bytes) into
 * body (n bytes at least); the body's length, or -1 if it does not open. */
ssize_t clu_memb_open(const uint8_t key[32], const uint8_t *d, size_t n,
    uint8_t *body);
/* The key datagrams are sealed with, derived from the cluster key. */
int clu_memb_key(const uint8_t ck[P9_KEY_LEN], uint8_t out[32]);
/* A message as it is once its seal is opened, from `from` (the fuzz
 * target and tests feed the decoder through this). */
void clu_memb_input(struct clu_memb *mb, const uint8_t *body, size_t len,
    const struct sockaddr *from);
const char *clu_state_name(enum clu_state s);

/* ---- Placement (place.c) ---- */

enum clu_policy_kind { CLU_LOCAL, CLU_SPREAD, CLU_ROUNDROBIN, CLU_PINNED };

/* A policy and its constraints, as written: "spread arch=x86_64
 * label=gpu mem=1G", "roundrobin", "local", "node NAME". */
struct clu_policy {
	enum clu_policy_kind kind;
	int kindset;                   /* a kind was written (else spread) */
	char node[CLU_NAME_MAX];       /* CLU_PINNED */
	char arch[16];                 /* "" any */
	char labels[4][32];            /* each one required */
	unsigned nlabels;
	uint64_t minmem;               /* bytes free at least */
};

/* Parses s into *p (names, arches and labels: letters, digits, '.', '_',
 * '-').  0, or -1 with one line in err, *p unchanged. */
int clu_policy_parse(const char *s, struct clu_policy *p, char *err,
    size_t cap);
/* Writes p as clu_policy_parse reads it. */
void clu_policy_format(const struct clu_policy *p, char *buf, size_t cap);
/* Applies over to base: constraints add up (4 labels at most), a kind
 * written in over replaces base's. */
void clu_policy_merge(struct clu_policy *base, const struct clu_policy *over);

/* Chooses the node for one new process among the n members (self among
 * them) under p; *rr is the round-robin cursor; now the loop time in ms.
 * Counts the choice in the member's running (the caller tells
 * clu_place_ended when that run's attach goes).  spread keeps work on
 * this node while it runs fewer than its CPUs of its own placing and
 * what others run leaves a CPU (a build's quick steps stay, its
 * parallel ones spread), else takes the least score.  A pinned node
 * takes work even while draining (it was named).  NULL with errno:
 * EHOSTUNREACH (a pinned node that is not alive), ENOENT (no such node),
 * ENODEV (no member meets the constraints). */
struct clu_member *clu_place(struct clu_member *const *m, unsigned n,
    const struct clu_policy *p, unsigned *rr, uint64_t now);
/* The attach of a run that clu_place placed on m at loop time at went:
 * it is off m's running.  A run known to have ended with it (a ghost's)
 * weighs nothing more; another (its process may live on) goes on
 * weighing what a placement at `at` weighs in placed, fading over
 * seconds as m's load figure comes to show it. */
void clu_place_ended(struct clu_member *m, uint64_t at, uint64_t now,
    int ended);
/* A member's score for spread (lower is better), per CPU: what others
 * run there (the load figure less ours_s) and what of ours runs there
 * now. */
double clu_place_score(const struct clu_member *m, uint64_t now);
/* Samples what of ours runs on m into its ours_s, once for each sample
 * of the load figure, with the load figure's smoothing. */
void clu_place_sample(struct clu_member *m, uint64_t now);

/* ---- The /cluster tree (tree.c) ---- */

struct clu_tree;

/* A tree over mb, placing by policy until root writes another, and
 * reaching nodes over relay's links. */
struct clu_tree *clu_tree_new(uv_loop_t *loop, struct clu_memb *mb,
    struct p9_relay *relay, const struct clu_policy *policy);
void clu_tree_free(struct clu_tree *t);
/* Its handlers (the p9_tree's aux is t). */
const struct p9_ops *clu_tree_ops(void);
const struct clu_policy *clu_tree_policy(struct clu_tree *t);
/* Keeps the placement table for the shim (times.h) at path; with learn
 * 0 it holds no program's times (none is kept here for being short). */
void clu_tree_times(struct clu_tree *t, const char *path, int learn);

#endif
