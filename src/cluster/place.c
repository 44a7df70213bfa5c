/*
 * place.c - where a new process goes: a policy (local, spread, roundrobin,
 * a pinned node) and constraints (arch, labels, free memory), applied to
 * this node's view of the members.  Nothing here asks anyone: a placement
 * costs no round trip.
 *
 * spread scores each member by what a new process would find there, per
 * CPU: what others run there, plus what this node knows runs there of
 * its own placing now (the runs whose attach here is open, and those
 * whose attach went while their process may live on, fading:
 * clu_place_ended).  What others run is the member's load figure
 * (runnable threads, smoothed over seconds) less ours there, smoothed
 * the same way at each sample (clu_place_sample): the load figure holds
 * ours as they ran seconds ago.  Neither a sum (a build's half-second
 * compiles counted twice) nor the larger of the two (this node, its
 * compiles just ended, still busy for seconds while the other has
 * three) deals a build out evenly.  Before any score, spread keeps work
 * here while this node runs fewer of its runs than its CPUs and what
 * others run here leaves a CPU.  Members short of memory (under 256 MiB
 * free) are chosen only when all are.  The lowest score wins, ties to
 * the one with fewer of ours; so a burst of spawns is dealt out, not
 * dropped on the one idle node.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cluster.h"
#include "conf/conf.h"

#define PLACED_HALFLIFE_MS 3000.0

/* A word that names a node, an arch or a label: what format writes
 * bare and parse reads back. */
static int
plain_word(const char *w, size_t cap)
{
	return *w && strlen(w) < cap &&
	       strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                 "0123456789._-") == strlen(w);
}

/* w as it may appear in a one-line message: 64 bytes at most, and no
 * control character (a '?' stands for each). */
static const char *
shown(const char *w, char *buf)
{
	size_t i;

	for (i = 0; w[i] && i < 64; i++)
		buf[i] =
		    (unsigned char)w[i] < 0x20 || w[i] == 0x7f ? '?' : w[i];
	buf[i] = '\0';
	return buf;
}

static int
set_kind(struct clu_policy *p, const char *w)
{
	if (!strcmp(w, "local"))
		p->kind = CLU_LOCAL;
	else if (!strcmp(w, "spread"))
		p->kind = CLU_SPREAD;
	else if (!strcmp(w, "roundrobin"))
		p->kind = CLU_ROUNDROBIN;
	else
		return -1;
	return 0;
}

int
clu_policy_parse(const char *s, struct clu_policy *p, char *err, size_t cap)
{
	char line[512], *w[CONF_MAXARGS], sb[72];
	struct clu_policy q;
	int n, i;

	memset(&q, 0, sizeof q);
	q.kind = CLU_SPREAD;
	if (strlen(s) >= sizeof line) {
		snprintf(err, cap, "policy too long");
		return -1;
	}
	strcpy(line, s);
	if ((n = conf_tokenize(line, w, CONF_MAXARGS)) < 0) {
		snprintf(
		    err, cap, "policy: unbalanced quote or too many words");
		return -1;
	}
	for (i = 0; i < n; i++) {
		char *eq = strchr(w[i], '=');
		unsigned long long v;

		if (!eq) {
			if (!strcmp(w[i], "node") || !strcmp(w[i], "pinned")) {
				if (i + 1 >= n) {
					snprintf(err, cap,
					    "policy: '%s' wants a node name",
					    w[i]);
					return -1;
				}
				i++;
				if (!plain_word(w[i], sizeof q.node)) {
					snprintf(err, cap,
					    "policy: bad node name '%s'",
					    shown(w[i], sb));
					return -1;
				}
				q.kind = CLU_PINNED;
				q.kindset = 1;
				strcpy(q.node, w[i]);
				continue;
			}
			q.kindset = 1;
			if (set_kind(&q, w[i]) < 0) {
				snprintf(err, cap,
				    "policy: unknown '%s' (want local, spread, "
				    "roundrobin, node NAME, arch=, label=, "
				    "mem=)",
				    shown(w[i], sb));
				return -1;
			}
			continue;
		}
		*eq++ = '\0';
		if (!strcmp(w[i], "arch")) {
			if (!plain_word(eq, sizeof q.arch)) {
				snprintf(err, cap, "policy: bad arch '%s'",
				    shown(eq, sb));
				return -1;
			}
			strcpy(q.arch, eq);
		} else if (!strcmp(w[i], "label")) {
			if (!plain_word(eq, sizeof q.labels[0])) {
				snprintf(err, cap, "policy: bad label '%s'",
				    shown(eq, sb));
				return -1;
			}
			if (q.nlabels == 4) {
				snprintf(err, cap, "policy: at most 4 labels");
				return -1;
			}
			strcpy(q.labels[q.nlabels++], eq);
		} else if (!strcmp(w[i], "mem")) {
			if (conf_number(eq, 0, 1ull << 50, 1, &v) < 0) {
				snprintf(err, cap,
				    "policy: mem=%s is not a size (like 512M)",
				    shown(eq, sb));
				return -1;
			}
			q.minmem = v;
		} else {
			snprintf(err, cap,
			    "policy: unknown constraint '%s' (want arch=, "
			    "label=, mem=)",
			    shown(w[i], sb));
			return -1;
		}
	}
	*p = q;
	return 0;
}

void
clu_policy_format(const struct clu_policy *p, char *buf, size_t cap)
{
	static const char *const kinds[] = {
	    "local", "spread", "roundrobin", "node"};
	size_t len;
	unsigned i;

	len = (size_t)snprintf(buf, cap, "%s%s%s", kinds[p->kind],
	    p->kind == CLU_PINNED ? " " : "",
	    p->kind == CLU_PINNED ? p->node : "");
	if (*p->arch && len < cap)
		len +=
		    (size_t)snprintf(buf + len, cap - len, " arch=%s", p->arch);
	for (i = 0; i < p->nlabels && len < cap; i++)
		len += (size_t)snprintf(
		    buf + len, cap - len, " label=%s", p->labels[i]);
	if (p->minmem && len < cap)
		snprintf(buf + len, cap - len, " mem=%llu",
		    (unsigned long long)p->minmem);
}

void
clu_policy_merge(struct clu_policy *base, const struct clu_policy *over)
{
	unsigned i;

	if (over->kindset) {
		base->kind = over->kind;
		base->kindset = 1;
	}
	if (over->kindset && over->kind == CLU_PINNED)
		strcpy(base->node, over->node);
	if (*over->arch)
		strcpy(base->arch, over->arch);
	for (i = 0; i < over->nlabels && base->nlabels < 4; i++)
		strcpy(base->labels[base->nlabels++], over->labels[i]);
	if (over->minmem)
		base->minmem = over->minmem;
}

static int
has_label(const char *labels, const char *l)
{
	size_t n = strlen(l);
	const char *p = labels;

	if (n == 0)
		return 0;
	while ((p = strstr(p, l))) {
		if ((p == labels || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return 1;
		p += n;
	}
	return 0;
}

/* m meets p's constraints (and takes new work, unless named). */
static int
fits(const struct clu_member *m, const struct clu_policy *p, int named)
{
	unsigned i;

	if (m->state != CLU_ALIVE || (m->m.drain && !named))
		return 0;
	if (*p->arch && strcmp(p->arch, m->m.arch))
		return 0;
	for (i = 0; i < p->nlabels; i++)
		if (!has_label(m->m.labels, p->labels[i]))
			return 0;
	return !p->minmem || m->m.memfree >= p->minmem;
}

/* What one placement at loop time `at` still weighs at `now`. */
static double
fade(uint64_t at, uint64_t now)
{
	return exp2(-(now > at ? (double)(now - at) : 0) / PLACED_HALFLIFE_MS);
}

static double
placed_now(const struct clu_member *m, uint64_t now)
{
	return m->placed * fade(m->placed_at, now);
}

/* The member's CPUs (one when it did not say). */
static unsigned
cpus_of(const struct clu_member *m)
{
	return m->m.ncpu ? m->m.ncpu : 1;
}

/* What this node knows still runs there of its placing: the runs whose
 * attach is open, and those whose attach went but whose process may
 * live on, fading as the member's load figure comes to show them. */
static double
ours(const struct clu_member *m, uint64_t now)
{
	return m->running + placed_now(m, now);
}

void
clu_place_sample(struct clu_member *m, uint64_t now)
{
	m->ours_s = 0.8 * m->ours_s + 0.2 * ours(m, now);
}

/* What others run there per CPU: the load figure, smoothed over
 * seconds, holds ours as they ran then; less that. */
static double
others(const struct clu_member *m)
{
	double o = m->m.load / 1000.0 - m->ours_s / cpus_of(m);

	return o > 0 ? o : 0;
}

double
clu_place_score(const struct clu_member *m, uint64_t now)
{
	return others(m) + ours(m, now) / cpus_of(m);
}

/* Less than this free: chosen by spread only if every member is. */
static int
short_of_memory(const struct clu_member *m)
{
	return m->m.memfree < (256ull << 20);
}

static void
count(struct clu_member *m)
{
	m->running++;
}

void
clu_place_ended(struct clu_member *m, uint64_t at, uint64_t now, int ended)
{
	if (m->running > 0)
		m->running--;
	if (!ended) {
		/* its process may live on: it weighs what a placement at `at`
		 * still weighs, fading */
		m->placed = placed_now(m, now) + fade(at, now);
		m->placed_at = now;
	}
}

struct clu_member *
clu_place(struct clu_member *const *m, unsigned n, const struct clu_policy *p,
    unsigned *rr, uint64_t now)
{
	struct clu_member *best = NULL;
	double bs = 0;
	unsigned i, k;

	if (p->kind == CLU_PINNED || p->kind == CLU_LOCAL) {
		for (i = 0; i < n; i++)
			if (p->kind == CLU_PINNED ? !strcmp(m[i]->name, p->node)
			                          : m[i]->self)
				break;
		if (i == n) {
			errno = ENOENT;
			return NULL;
		}
		/* a named node is where the user wants it, draining or not;
		 * the constraints still hold */
		if (m[i]->state != CLU_ALIVE) {
			errno = EHOSTUNREACH;
			return NULL;
		}
		if (!fits(m[i], p, 1)) {
			errno = ENODEV;
			return NULL;
		}
		count(m[i]);
		return m[i];
	}
	if (p->kind == CLU_ROUNDROBIN) {
		for (k = 0; k < n; k++) {
			i = (*rr + k) % n;
			if (fits(m[i], p, 0)) {
				*rr = i + 1;
				count(m[i]);
				return m[i];
			}
		}
		errno = ENODEV;
		return NULL;
	}
	/* spread: here while a CPU here is free of our runs and others'
	 * (no round trip, the files at hand) */
	for (i = 0; i < n; i++)
		if (m[i]->self && fits(m[i], p, 0) && !short_of_memory(m[i]) &&
		    m[i]->running < cpus_of(m[i]) && others(m[i]) < 1) {
			count(m[i]);
			return m[i];
		}
	/* else among those with memory to spare, if any */
	for (i = 0, k = 0; i < n; i++)
		k += fits(m[i], p, 0) && !short_of_memory(m[i]);
	for (i = 0; i < n; i++) {
		double s;

		if (!fits(m[i], p, 0) || (k > 0 && short_of_memory(m[i])))
			continue;
		s = clu_place_score(m[i], now);
		if (!best || s < bs - 1e-9 ||
		    (fabs(s - bs) <= 1e-9 && ours(m[i], now) < ours(best, now))) {
			best = m[i];
			bs = s;
		}
	}
	if (!best) {
		errno = ENODEV;
		return NULL;
	}
	count(best);
	return best;
}
