/*
 * times.h - the placement table unum-clusterd keeps for the shim: a file
 * beside its socket (SOCKET.times, replaced whole by a rename, so a reader
 * sees one version), read by libunum.so at an exec with plain system
 * calls (open, pread, close) and no allocation.  It says whether any other
 * member could take work at all, and for each program (by basename) how
 * long its runs took elsewhere and what sending them cost, as the ghosts
 * told it: a program whose runs are shorter than their cost stays where
 * it starts.
 */
#ifndef UNUM_CLUSTER_TIMES_H
#define UNUM_CLUSTER_TIMES_H

#include <stdint.h>

#define CLU_TIMES_MAGIC 0x756e7431u /* "unt1" */
#define CLU_TIMES_SLOTS 256         /* open addressing, FNV-1a of the name */
#define CLU_TIMES_PROBE 8           /* a name is within 8 slots of its hash */
#define CLU_TIMES_NAME 40
#define CLU_TIMES_MIN_RUNS 2 /* runs learnt before a program may stay */
#define CLU_TIMES_KEEP_S 600 /* a learnt time holds so long, then is
                              * learnt again */

struct clu_times_head {
	uint32_t magic;
	uint32_t remote; /* another live member takes new work */
	uint32_t slots;  /* CLU_TIMES_SLOTS */
	uint32_t pad;
	int64_t written; /* CLOCK_REALTIME seconds */
};

struct clu_times_ent {
	char name[CLU_TIMES_NAME]; /* "" for an empty slot */
	uint32_t run_ms;           /* its runs elsewhere (moving mean) */
	uint32_t cost_ms;          /* sending one there */
	uint32_t n;                /* runs learnt */
	uint32_t pad;
	int64_t until; /* CLOCK_REALTIME seconds: not trusted after */
};

static inline uint32_t
clu_times_hash(const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	return h % CLU_TIMES_SLOTS;
}

#endif
