/*
 * test_place.c - placement (place.c): the policy parser and its rejects,
 * format and merge, and clu_place over hand-made members: which node each
 * kind picks, what it never picks, the errno when nothing fits, how
 * spread deals out a burst, and how it keeps work here while a CPU is
 * free.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cluster/cluster.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define NMEM 8
#define T0 1000000 /* a loop time well past zero */

static char err[256];
static struct clu_member mem[NMEM];
static struct clu_member *mp[NMEM];

/* n alive, idle members n1..nN with 4 CPUs, 4 GiB free, x86_64, no
 * labels; n1 is self. */
static unsigned
cluster(unsigned n)
{
	unsigned i;

	memset(mem, 0, sizeof mem);
	for (i = 0; i < n; i++) {
		snprintf(mem[i].name, sizeof mem[i].name, "n%u", i + 1);
		snprintf(
		    mem[i].addr, sizeof mem[i].addr, "10.0.0.%u:564", i + 1);
		mem[i].state = CLU_ALIVE;
		mem[i].m.ncpu = 4;
		mem[i].m.load = 0;
		mem[i].m.memfree = 4 * GiB;
		strcpy(mem[i].m.arch, "x86_64");
		mem[i].self = i == 0;
		mp[i] = &mem[i];
	}
	return n;
}

/* s parsed; the test fails if it does not parse. */
static struct clu_policy
policy(const char *s)
{
	struct clu_policy p;

	memset(&p, 0, sizeof p);
	if (clu_policy_parse(s, &p, err, sizeof err) < 0)
		fail_msg("'%s' does not parse: %s", s, err);
	return p;
}

/* Field by field (padding is not compared). */
static int
same_policy(const struct clu_policy *a, const struct clu_policy *b)
{
	unsigned i;

	if (a->kind != b->kind || strcmp(a->arch, b->arch) ||
	    a->nlabels != b->nlabels || a->minmem != b->minmem)
		return 0;
	if (a->kind == CLU_PINNED && strcmp(a->node, b->node))
		return 0;
	for (i = 0; i < a->nlabels; i++)
		if (strcmp(a->labels[i], b->labels[i]))
			return 0;
	return 1;
}

/* s fails to parse with a one-line message, and *p is left as it was. */
static void
rejected(const char *s)
{
	struct clu_policy p, before;
	int rc;

	p = policy("node keep arch=sparc label=old mem=7");
	before = p;
	memset(err, 0, sizeof err);
	rc = clu_policy_parse(s, &p, err, sizeof err);
	if (rc != -1)
		fail_msg("'%.80s': got %d, want -1", s, rc);
	if (!*err || strchr(err, '\n'))
		fail_msg("'%.80s': error '%s' is not one line", s, err);
	if (!same_policy(&p, &before) || strcmp(p.node, "keep"))
		fail_msg("'%.80s': the policy changed on failure", s);
}

/* The member clu_place chooses for p among the first n, by name, or
 * "errno NAME" when none. */
static const char *
place(unsigned n, const struct clu_policy *p, unsigned *rr, uint64_t now)
{
	static char buf[64];
	struct clu_member *m;

	errno = 0;
	if ((m = clu_place(mp, n, p, rr, now)))
		return m->name;
	snprintf(buf, sizeof buf, "errno %s",
	    errno == ENOENT         ? "ENOENT"
	    : errno == ENODEV       ? "ENODEV"
	    : errno == EHOSTUNREACH ? "EHOSTUNREACH"
	                            : "other");
	return buf;
}

static unsigned
index_of(const char *name)
{
	unsigned i;

	for (i = 0; i < NMEM; i++)
		if (!strcmp(mem[i].name, name))
			return i;
	fail_msg("no member '%s' chosen", name);
	return 0;
}

/* ---- parse ---- */

static void
test_parse_kind_words(void **state)
{
	struct clu_policy p;

	(void)state;
	p = policy("spread");
	assert_int_equal(p.kind, CLU_SPREAD);
	assert_string_equal(p.arch, "");
	assert_int_equal(p.nlabels, 0);
	assert_true(p.minmem == 0);
	assert_int_equal(policy("local").kind, CLU_LOCAL);
	assert_int_equal(policy("roundrobin").kind, CLU_ROUNDROBIN);
	/* no kind word: spread */
	assert_int_equal(policy("").kind, CLU_SPREAD);
	assert_int_equal(policy("  # a comment").kind, CLU_SPREAD);
}

static void
test_parse_node_and_pinned_name_the_node(void **state)
{
	struct clu_policy p;

	(void)state;
	p = policy("node n3");
	assert_int_equal(p.kind, CLU_PINNED);
	assert_string_equal(p.node, "n3");
	p = policy("pinned n3");
	assert_int_equal(p.kind, CLU_PINNED);
	assert_string_equal(p.node, "n3");
}

static void
test_parse_constraints(void **state)
{
	struct clu_policy p;

	(void)state;
	p = policy("arch=x86_64 label=gpu label=big mem=512M");
	assert_int_equal(p.kind, CLU_SPREAD);
	assert_string_equal(p.arch, "x86_64");
	assert_int_equal(p.nlabels, 2);
	assert_string_equal(p.labels[0], "gpu");
	assert_string_equal(p.labels[1], "big");
	assert_true(p.minmem == 512 * MiB);
	assert_true(policy("mem=1G").minmem == GiB);
	assert_true(policy("mem=64k").minmem == 64 * 1024);
	assert_true(policy("mem=1000").minmem == 1000);
	/* four labels is the most */
	p = policy("label=a label=b label=c label=d");
	assert_int_equal(p.nlabels, 4);
	assert_string_equal(p.labels[3], "d");
}

static void
test_parse_kind_and_constraints_together(void **state)
{
	struct clu_policy p;

	(void)state;
	p = policy("roundrobin arch=aarch64 label=gpu mem=1G");
	assert_int_equal(p.kind, CLU_ROUNDROBIN);
	assert_string_equal(p.arch, "aarch64");
	assert_int_equal(p.nlabels, 1);
	assert_string_equal(p.labels[0], "gpu");
	assert_true(p.minmem == GiB);
	/* in any order */
	p = policy("label=gpu local");
	assert_int_equal(p.kind, CLU_LOCAL);
	assert_string_equal(p.labels[0], "gpu");
	p = policy("node n3 arch=x86_64 label=big mem=512M");
	assert_int_equal(p.kind, CLU_PINNED);
	assert_string_equal(p.node, "n3");
	assert_string_equal(p.arch, "x86_64");
	assert_string_equal(p.labels[0], "big");
	assert_true(p.minmem == 512 * MiB);
	/* rc quoting, as everywhere else */
	p = policy("'spread' label='gpu'");
	assert_int_equal(p.kind, CLU_SPREAD);
	assert_string_equal(p.labels[0], "gpu");
}

static void
test_parse_rejects_with_one_line_and_policy_unchanged(void **state)
{
	char name[80];

	(void)state;
	rejected("bogus");
	rejected("spread bogus");
	rejected("Spread");
	rejected("node");
	rejected("pinned");
	rejected("label=gpu node");
	rejected("arch=");
	rejected("arch=0123456789abcdef"); /* 16: no room for the NUL */
	rejected("label=");
	rejected("label=a,b");
	rejected("label=a label=b label=c label=d label=e");
	rejected("label=0123456789abcdef0123456789abcdef");
	rejected("mem=lots");
	rejected("mem=");
	rejected("mem=-1");
	rejected("mem=12Q");
	rejected("mem=2000000G"); /* over 2^50 */
	rejected("cpu=3");
	rejected("=x");
	rejected("label='gpu");
	rejected("spread 'x");
	memset(name, 'a', sizeof name);
	memcpy(name, "node ", 5);
	name[5 + CLU_NAME_MAX] = '\0'; /* a 64-byte name */
	rejected(name);
	name[5 + CLU_NAME_MAX - 1] = '\0'; /* 63 fits */
	assert_int_equal(policy(name).kind, CLU_PINNED);
}

/* 511 bytes is the longest a policy may be. */
static void
test_parse_rejects_a_policy_longer_than_511_bytes(void **state)
{
	char s[600];
	struct clu_policy p;

	(void)state;
	memset(s, ' ', sizeof s);
	memcpy(s, "roundrobin", 10);
	s[511] = '\0';
	p = policy(s);
	assert_int_equal(p.kind, CLU_ROUNDROBIN);
	s[511] = ' ';
	s[512] = '\0';
	rejected(s);
	s[599] = '\0';
	rejected(s);
}

static void
test_parse_error_fits_a_small_buffer(void **state)
{
	struct clu_policy p;
	char small[8];

	(void)state;
	memset(small, 'x', sizeof small);
	assert_int_equal(
	    clu_policy_parse("bogus", &p, small, sizeof small), -1);
	assert_true(strlen(small) < sizeof small);
	assert_int_equal(clu_policy_parse("bogus", &p, small, 0), -1);
}

/* ---- format ---- */

static void
test_format_writes_what_parse_reads(void **state)
{
	struct clu_policy p;
	char buf[512];

	(void)state;
	p = policy("node n3 arch=x86_64 label=gpu label=big mem=512M");
	clu_policy_format(&p, buf, sizeof buf);
	assert_string_equal(
	    buf, "node n3 arch=x86_64 label=gpu label=big mem=536870912");
	p = policy("");
	clu_policy_format(&p, buf, sizeof buf);
	assert_string_equal(buf, "spread");
}

static void
test_format_then_parse_round_trips(void **state)
{
	static const char *const in[] = {"spread", "local", "roundrobin",
	    "node n3", "pinned n3", "arch=x86_64 label=gpu label=big mem=512M",
	    "roundrobin arch=aarch64 label=gpu mem=1G",
	    "node n3 arch=riscv64 label=a label=b label=c label=d mem=1",
	    "local mem=64k", "'label=x-y.z_1'"};
	struct clu_policy p, q;
	char buf[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof in / sizeof in[0]; i++) {
		p = policy(in[i]);
		clu_policy_format(&p, buf, sizeof buf);
		memset(&q, 0, sizeof q);
		if (clu_policy_parse(buf, &q, err, sizeof err) < 0)
			fail_msg("'%s' formats as '%s', which fails: %s", in[i],
			    buf, err);
		if (!same_policy(&p, &q))
			fail_msg("'%s' formats as '%s', which parses otherwise",
			    in[i], buf);
	}
}

/* Whatever parse accepts, format writes so that parse reads it back: a
 * label or node name with a space, a quote or a leading '#' must come
 * out quoted (or parse must refuse it in the first place).  The cluster's
 * policy file is read back by unum run through clu_policy_parse. */
static void
test_format_round_trips_words_that_need_quotes(void **state)
{
	static const char *const in[] = {"label='a b'", "label='it''s'",
	    "node 'n 3'", "node '#n3'", "arch='x y'"};
	struct clu_policy p, q;
	char buf[512];
	size_t i;
	int bad = 0;

	(void)state;
	for (i = 0; i < sizeof in / sizeof in[0]; i++) {
		memset(&p, 0, sizeof p);
		if (clu_policy_parse(in[i], &p, err, sizeof err) < 0)
			continue; /* refused: also right */
		clu_policy_format(&p, buf, sizeof buf);
		memset(&q, 0, sizeof q);
		if (clu_policy_parse(buf, &q, err, sizeof err) < 0 ||
		    !same_policy(&p, &q)) {
			print_error("'%s' is accepted but formats as '%s'\n",
			    in[i], buf);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

static void
test_format_truncates_within_the_buffer(void **state)
{
	struct clu_policy p;
	char buf[16];

	(void)state;
	p = policy("node n3 arch=x86_64 label=gpu label=big mem=512M");
	memset(buf, 'x', sizeof buf);
	clu_policy_format(&p, buf, 10);
	assert_string_equal(buf, "node n3 a");
	assert_true(buf[10] == 'x');
}

/* ---- merge ---- */

static void
test_merge_adds_constraints(void **state)
{
	struct clu_policy base, over;

	(void)state;
	base = policy("spread arch=x86_64 label=a");
	over = policy("spread label=b mem=1G");
	clu_policy_merge(&base, &over);
	assert_int_equal(base.kind, CLU_SPREAD);
	assert_string_equal(base.arch, "x86_64"); /* over says none */
	assert_int_equal(base.nlabels, 2);
	assert_string_equal(base.labels[0], "a");
	assert_string_equal(base.labels[1], "b");
	assert_true(base.minmem == GiB);
	/* base's mem stays when over has none */
	base = policy("mem=512M");
	over = policy("label=c");
	clu_policy_merge(&base, &over);
	assert_true(base.minmem == 512 * MiB);
	assert_string_equal(base.labels[0], "c");
	/* never more than four labels */
	base = policy("label=a label=b label=c");
	over = policy("label=d label=e");
	clu_policy_merge(&base, &over);
	assert_int_equal(base.nlabels, 4);
	assert_string_equal(base.labels[3], "d");
}

static void
test_merge_kind_in_over_replaces(void **state)
{
	struct clu_policy base, over;

	(void)state;
	base = policy("roundrobin label=a mem=1G");
	over = policy("local");
	clu_policy_merge(&base, &over);
	assert_int_equal(base.kind, CLU_LOCAL);
	assert_int_equal(base.nlabels, 1);
	assert_string_equal(base.labels[0], "a");
	assert_true(base.minmem == GiB);
	base = policy("local");
	over = policy("roundrobin");
	clu_policy_merge(&base, &over);
	assert_int_equal(base.kind, CLU_ROUNDROBIN);
}

static void
test_merge_carries_pinned_node(void **state)
{
	struct clu_policy base, over;
	char buf[512];

	(void)state;
	base = policy("spread label=gpu");
	over = policy("node n3");
	clu_policy_merge(&base, &over);
	assert_int_equal(base.kind, CLU_PINNED);
	assert_string_equal(base.node, "n3");
	assert_string_equal(base.labels[0], "gpu");
	clu_policy_format(&base, buf, sizeof buf);
	assert_string_equal(buf, "node n3 label=gpu");
	/* another pin replaces the first */
	over = policy("pinned n4");
	clu_policy_merge(&base, &over);
	assert_string_equal(base.node, "n4");
}

/* ---- clu_place: local and pinned ---- */

static void
test_local_picks_self(void **state)
{
	struct clu_policy p = policy("local");
	unsigned n = cluster(4), rr = 0;

	(void)state;
	mem[0].self = 0;
	mem[2].self = 1;
	mem[2].m.load = 8000; /* the busiest: local does not care */
	assert_string_equal(place(n, &p, &rr, T0), "n3");
	/* the choice is counted: running there */
	assert_int_equal(mem[2].running, 1);
	assert_int_equal(mem[0].running, 0);
}

static void
test_pinned_picks_the_named_node_even_when_draining(void **state)
{
	struct clu_policy p = policy("node n3"), q = policy("pinned n3");
	unsigned n = cluster(4), rr = 0;

	(void)state;
	mem[2].m.drain = 1;
	mem[2].m.load = 9000;
	assert_string_equal(place(n, &p, &rr, T0), "n3");
	assert_string_equal(place(n, &q, &rr, T0), "n3");
}

static void
test_pinned_to_a_node_not_alive_is_ehostunreach(void **state)
{
	static const enum clu_state st[] = {CLU_DEAD, CLU_SUSPECT, CLU_LEFT};
	struct clu_policy p = policy("node n3");
	unsigned n, rr = 0, i;

	(void)state;
	for (i = 0; i < 3; i++) {
		n = cluster(4);
		mem[2].state = st[i];
		assert_string_equal(
		    place(n, &p, &rr, T0), "errno EHOSTUNREACH");
		assert_true(mem[2].placed == 0);
	}
}

static void
test_pinned_to_an_unknown_node_is_enoent(void **state)
{
	struct clu_policy p = policy("node n9");
	unsigned n = cluster(4), rr = 0;

	(void)state;
	assert_string_equal(place(n, &p, &rr, T0), "errno ENOENT");
	p = policy("node n");
	assert_string_equal(place(n, &p, &rr, T0), "errno ENOENT");
	assert_string_equal(place(0, &p, &rr, T0), "errno ENOENT");
}

/* A named node must still meet the constraints. */
static void
test_pinned_node_that_misses_a_constraint_is_enodev(void **state)
{
	struct clu_policy p = policy("node n3 label=gpu");
	unsigned n = cluster(4), rr = 0;

	(void)state;
	strcpy(mem[0].m.labels, "gpu");
	assert_string_equal(place(n, &p, &rr, T0), "errno ENODEV");
	strcpy(mem[2].m.labels, "gpu");
	assert_string_equal(place(n, &p, &rr, T0), "n3");
}

/* ---- clu_place: constraints ---- */

static void
test_constraints_no_one_meets_are_enodev(void **state)
{
	static const char *const pol[] = {"spread arch=aarch64",
	    "roundrobin arch=aarch64", "spread label=gpu",
	    "roundrobin label=gpu", "spread mem=8G", "roundrobin mem=8G"};
	struct clu_policy p;
	unsigned n, rr = 0;
	const char *got;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof pol / sizeof pol[0]; i++) {
		n = cluster(4);
		strcpy(mem[1].m.labels, "gpus,big");
		strcpy(mem[2].m.labels, "xgpu");
		p = policy(pol[i]);
		got = place(n, &p, &rr, T0);
		if (strcmp(got, "errno ENODEV"))
			fail_msg("'%s' placed on %s", pol[i], got);
	}
	/* each label on some member, both on none */
	n = cluster(4);
	strcpy(mem[1].m.labels, "gpu");
	strcpy(mem[2].m.labels, "big");
	p = policy("spread label=gpu label=big");
	assert_string_equal(place(n, &p, &rr, T0), "errno ENODEV");
	p = policy("roundrobin label=gpu label=big");
	assert_string_equal(place(n, &p, &rr, T0), "errno ENODEV");
	/* no members at all */
	p = policy("spread");
	assert_string_equal(place(0, &p, &rr, T0), "errno ENODEV");
	p = policy("roundrobin");
	assert_string_equal(place(0, &p, &rr, T0), "errno ENODEV");
}

static void
test_constraints_pick_the_member_that_meets_them(void **state)
{
	struct clu_policy p;
	unsigned n = cluster(4), rr = 0;

	(void)state;
	strcpy(mem[3].m.arch, "aarch64");
	mem[3].m.load = 9000;
	p = policy("arch=aarch64");
	assert_string_equal(place(n, &p, &rr, T0), "n4");
	/* arch is matched whole */
	p = policy("arch=x86");
	assert_string_equal(place(n, &p, &rr, T0), "errno ENODEV");
	/* mem= is the least free: equal is enough */
	mem[1].m.memfree = 16 * GiB;
	mem[1].m.load = 9000;
	p = policy("mem=16G");
	assert_string_equal(place(n, &p, &rr, T0), "n2");
	mem[1].m.memfree = 16 * GiB - 1;
	assert_string_equal(place(n, &p, &rr, T0), "errno ENODEV");
	/* every label is required */
	strcpy(mem[0].m.labels, "gpu");
	strcpy(mem[2].m.labels, "big,gpu");
	mem[2].m.load = 9000;
	p = policy("label=gpu label=big");
	assert_string_equal(place(n, &p, &rr, T0), "n3");
}

/* "gpu" matches "a,gpu,b" but not "gpus". */
static void
test_label_constraint_matches_whole_labels(void **state)
{
	static const struct {
		const char *labels;
		int match;
	} c[] = {
	    {"a,gpu,b", 1},
	    {"gpu", 1},
	    {"gpu,b", 1},
	    {"a,gpu", 1},
	    {"gpus,gpu", 1},
	    {"xgpu,gpu", 1},
	    {"gpus", 0},
	    {"xgpu", 0},
	    {"a,gpus,b", 0},
	    {"a,xgpu,gpux", 0},
	    {"gp,pu", 0},
	    {"", 0},
	    {"GPU", 0},
	};
	struct clu_policy p = policy("label=gpu");
	unsigned rr = 0;
	size_t i;
	int got;

	(void)state;
	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		cluster(1);
		strcpy(mem[0].m.labels, c[i].labels);
		got = strcmp(place(1, &p, &rr, T0), "n1") == 0;
		if (got != c[i].match)
			fail_msg("label=gpu on '%s': got %s, want %s",
			    c[i].labels, got ? "a match" : "none",
			    c[i].match ? "a match" : "none");
	}
}

/* ---- clu_place: spread and roundrobin ---- */

/* Dead, suspect, left and draining members take no work, however idle. */
static void
test_spread_and_roundrobin_never_choose_unavailable_members(void **state)
{
	static const char *const pol[] = {"spread", "roundrobin"};
	struct clu_policy p;
	unsigned n, rr, i, k;
	const char *got;

	(void)state;
	for (k = 0; k < 2; k++) {
		p = policy(pol[k]);
		n = cluster(5);
		mem[0].state = CLU_DEAD;
		mem[1].state = CLU_SUSPECT;
		mem[2].state = CLU_LEFT;
		mem[3].m.drain = 1;
		/* the only one left is busy and short of memory */
		mem[4].m.load = 9000;
		mem[4].m.memfree = 10 * MiB;
		rr = 0;
		for (i = 0; i < 100; i++)
			if (strcmp((got = place(n, &p, &rr, T0 + i)), "n5"))
				fail_msg(
				    "%s: placement %u on %s", pol[k], i, got);
		mem[4].state = CLU_DEAD;
		assert_string_equal(place(n, &p, &rr, T0), "errno ENODEV");
		for (i = 0; i < 4; i++)
			assert_true(mem[i].placed == 0);
	}
}

static void
test_roundrobin_cycles_over_fitting_members_in_order(void **state)
{
	static const char *const want[] = {
	    "n1", "n3", "n4", "n1", "n3", "n4", "n1", "n3", "n4", "n1"};
	struct clu_policy p = policy("roundrobin label=gpu");
	unsigned n = cluster(6), rr = 0, i;
	const char *got;

	(void)state;
	strcpy(mem[0].m.labels, "gpu");
	strcpy(mem[1].m.labels, "big"); /* misses the label */
	strcpy(mem[2].m.labels, "big,gpu");
	strcpy(mem[3].m.labels, "gpu");
	strcpy(mem[4].m.labels, "gpu");
	mem[4].state = CLU_DEAD;
	strcpy(mem[5].m.labels, "gpu");
	mem[5].m.drain = 1;
	mem[0].m.load = 9000; /* load does not matter to roundrobin */
	for (i = 0; i < sizeof want / sizeof want[0]; i++)
		if (strcmp((got = place(n, &p, &rr, T0)), want[i]))
			fail_msg(
			    "placement %u on %s, want %s", i, got, want[i]);
	/* a member that comes back joins the cycle in its place */
	mem[4].state = CLU_ALIVE;
	assert_string_equal(place(n, &p, &rr, T0), "n3");
	assert_string_equal(place(n, &p, &rr, T0), "n4");
	assert_string_equal(place(n, &p, &rr, T0), "n5");
	assert_string_equal(place(n, &p, &rr, T0), "n1");
}

static void
test_spread_prefers_the_least_loaded(void **state)
{
	struct clu_policy p = policy("spread");
	unsigned n = cluster(4), rr = 0;

	(void)state;
	mem[0].m.load = 3000;
	mem[1].m.load = 2000;
	mem[2].m.load = 500;
	mem[3].m.load = 1500;
	assert_string_equal(place(n, &p, &rr, T0), "n3");
	/* what was placed there adds to its load figure, which does not
	 * show it yet: n3 0.5 + 1, n4 1.5, a tie, goes to the one placed on
	 * least */
	mem[2].m.ncpu = 1;
	mem[3].m.ncpu = 1;
	assert_string_equal(place(n, &p, &rr, T0), "n4");
	/* n3 1.5, n4 2.5 */
	assert_string_equal(place(n, &p, &rr, T0), "n3");
}

/* 1000 placements on 4 equally loaded idle members, 1 ms apart, land
 * within 15% of even. */
static void
test_spread_deals_a_burst_evenly(void **state)
{
	struct clu_policy p = policy("spread");
	unsigned n = cluster(4), rr = 0, cnt[NMEM] = {0}, i;

	(void)state;
	for (i = 0; i < 1000; i++)
		cnt[index_of(place(n, &p, &rr, T0 + i))]++;
	for (i = 0; i < n; i++)
		if (cnt[i] < 212 || cnt[i] > 288)
			fail_msg("%s got %u of 1000 (%u %u %u %u)", mem[i].name,
			    cnt[i], cnt[0], cnt[1], cnt[2], cnt[3]);
}

/* The same load figure per CPU with four times the CPUs takes about
 * four times the new processes. */
static void
test_spread_gives_more_to_the_member_with_more_cpus(void **state)
{
	struct clu_policy p = policy("spread");
	unsigned n = cluster(2), rr = 0, cnt[NMEM] = {0}, i;

	(void)state;
	mem[0].m.ncpu = 2;
	mem[1].m.ncpu = 8;
	for (i = 0; i < 1000; i++)
		cnt[index_of(place(n, &p, &rr, T0 + i))]++;
	if (cnt[1] < 3 * cnt[0] || cnt[1] > 5 * cnt[0])
		fail_msg("8 CPUs got %u, 2 CPUs got %u: want about 4 to 1",
		    cnt[1], cnt[0]);
}

static void
test_spread_avoids_a_member_short_of_memory(void **state)
{
	struct clu_policy p = policy("spread");
	unsigned n = cluster(3), rr = 0;

	(void)state;
	mem[0].m.memfree = 255 * MiB; /* idle, but short */
	mem[1].m.load = 2000;
	mem[2].m.load = 1000;
	assert_string_equal(place(n, &p, &rr, T0), "n3");
	/* 256 MiB is enough */
	n = cluster(3);
	mem[0].m.memfree = 256 * MiB;
	mem[1].m.load = 2000;
	mem[2].m.load = 1000;
	assert_string_equal(place(n, &p, &rr, T0), "n1");
	/* all short: still placed, on the least loaded */
	n = cluster(3);
	mem[0].m.memfree = 100 * MiB;
	mem[0].m.load = 2000;
	mem[1].m.memfree = 200 * MiB;
	mem[1].m.load = 500;
	mem[2].m.memfree = 0;
	mem[2].m.load = 1000;
	assert_string_equal(place(n, &p, &rr, T0), "n2");
}

/* "Short of memory: only if all are" (clu_place_score): not after a
 * burst on the others, nor when the others are busy. */
static void
test_spread_chooses_a_member_short_of_memory_only_if_all_are(void **state)
{
	struct clu_policy p = policy("spread");
	const char *got;
	unsigned n, rr = 0, i;
	int bad = 0;

	(void)state;
	/* a burst of 10 on two idle 1-CPU members */
	n = cluster(2);
	mem[0].m.memfree = 100 * MiB;
	mem[0].m.ncpu = 1;
	mem[1].m.ncpu = 1;
	for (i = 0; i < 10; i++)
		if (strcmp((got = place(n, &p, &rr, T0)), "n2")) {
			print_error("burst: placement %u on %s (100 MiB free) "
			            "while n2 has 4 GiB\n",
			    i, got);
			bad++;
		}
	/* the other busy: 5 runnable threads per CPU */
	n = cluster(2);
	mem[0].m.memfree = 100 * MiB;
	mem[1].m.load = 5000;
	if (strcmp((got = place(n, &p, &rr, T0)), "n2")) {
		print_error("busy: placed on %s (100 MiB free) while n2 has "
		            "4 GiB\n",
		    got);
		bad++;
	}
	assert_int_equal(bad, 0);
}

/* ---- clu_place_score ---- */

/* The score is what others run there per CPU (the load figure less our
 * runs there, smoothed as the load figure is) plus what of ours runs
 * there now, per CPU: the load figure is smoothed over seconds; it lags
 * a burst, and it holds runs that ended. */
static void
test_score_is_others_load_and_our_runs_now_per_cpu(void **state)
{
	struct clu_member *m;
	unsigned i;

	(void)state;
	cluster(1);
	m = &mem[0];
	m->m.load = 1500;
	m->m.ncpu = 2;
	assert_true(fabs(clu_place_score(m, T0) - 1.5) < 1e-9);
	m->running = 2; /* a burst the load does not show yet */
	assert_true(fabs(clu_place_score(m, T0) - 2.5) < 1e-9);
	/* sampled for as long as the load figure takes to show them: the
	 * load (1.5 per CPU) was theirs (1) and others' (0.5) */
	for (i = 0; i < 40; i++)
		clu_place_sample(m, T0);
	assert_true(fabs(m->ours_s - 2.0) < 1e-3);
	assert_true(fabs(clu_place_score(m, T0) - 1.5) < 1e-3);
	/* they end: off the score at once, though the load shows them */
	m->running = 0;
	assert_true(fabs(clu_place_score(m, T0) - 0.5) < 1e-3);
	/* what others run is never less than nothing */
	m->m.load = 200;
	assert_true(fabs(clu_place_score(m, T0)) < 1e-9);
	/* a run that may live on after its attach fades: halved in 3 s */
	m->m.load = 0;
	m->ours_s = 0;
	m->running = 4;
	m->placed = 2;
	m->placed_at = T0;
	assert_true(fabs(clu_place_score(m, T0) - 3.0) < 1e-9);
	assert_true(fabs(clu_place_score(m, T0 + 3000) - 2.5) < 1e-6);
	assert_true(fabs(clu_place_score(m, T0 + 60000) - 2.0) < 1e-5);
	/* memory is not in the score: clu_place filters on it */
	m->running = 0;
	m->placed = 0;
	m->m.load = 1500;
	m->m.memfree = 255 * MiB;
	assert_true(fabs(clu_place_score(m, T0) - 1.5) < 1e-9);
	/* no CPU count is taken as one */
	m->m.memfree = 4 * GiB;
	m->m.ncpu = 0;
	m->m.load = 0;
	m->running = 3;
	assert_true(fabs(clu_place_score(m, T0) - 3.0) < 1e-9);
}

/* spread keeps work here while this node runs fewer of our runs than it
 * has CPUs and is not loaded; then it deals out to the others; a run
 * that ends frees its CPU here again. */
static void
test_spread_keeps_work_here_while_a_cpu_is_free(void **state)
{
	struct clu_policy p = policy("spread");
	struct clu_member *m;
	unsigned rr = 0, n = cluster(3), i;

	(void)state;
	for (i = 0; i < 4; i++) {
		m = clu_place(mp, n, &p, &rr, T0);
		assert_non_null(m);
		assert_string_equal(m->name, "n1");
	}
	assert_int_equal(mem[0].running, 4);
	m = clu_place(mp, n, &p, &rr, T0);
	assert_non_null(m);
	assert_string_not_equal(m->name, "n1");
	mem[0].running--; /* one of ours ended here */
	m = clu_place(mp, n, &p, &rr, T0);
	assert_string_equal(m->name, "n1");
	/* a loaded node sends work away even with CPUs free of ours */
	cluster(3);
	mem[0].m.load = 1200;
	m = clu_place(mp, n, &p, &rr, T0);
	assert_string_not_equal(m->name, "n1");
	/* and what still runs counts in the score: 2 of ours on n2 */
	cluster(3);
	mem[0].running = 4;
	mem[1].running = 2;
	m = clu_place(mp, n, &p, &rr, T0);
	assert_string_equal(m->name, "n3");
}

/* A ghost's run that ended weighs nothing more where it ran: off running
 * and off placed; a run not known to have ended (its attach went, the
 * process may live on) stays in placed until that fades. */
static void
test_a_ghost_run_that_ended_weighs_nothing(void **state)
{
	struct clu_policy p = policy("spread");
	struct clu_member *m;
	unsigned rr = 0, n = cluster(2), i;

	(void)state;
	mem[0].m.load = 1500; /* (nothing stays here) */
	mem[0].m.ncpu = mem[1].m.ncpu = 1;
	m = clu_place(mp, n, &p, &rr, T0);
	assert_string_equal(m->name, "n2");
	assert_true(fabs(clu_place_score(m, T0) - 1.0) < 1e-9);
	clu_place_ended(m, T0, T0 + 500, 1);
	assert_int_equal(m->running, 0);
	assert_true(fabs(clu_place_score(m, T0 + 500)) < 1e-9);
	/* twenty short runs one after the other: each finds n2 idle (a
	 * placed count that only fades would have sent some to n1) */
	for (i = 0; i < 20; i++) {
		m = clu_place(mp, n, &p, &rr, T0 + 1000 + 100 * i);
		assert_string_equal(m->name, "n2");
		clu_place_ended(m, T0 + 1000 + 100 * i, T0 + 1050 + 100 * i, 1);
	}
	/* not known to have ended: off running, in placed, fading */
	m = clu_place(mp, n, &p, &rr, T0 + 5000);
	clu_place_ended(m, T0 + 5000, T0 + 5000, 0);
	assert_int_equal(m->running, 0);
	assert_true(fabs(clu_place_score(m, T0 + 5000) - 1.0) < 1e-6);
	assert_true(fabs(clu_place_score(m, T0 + 8000) - 0.5) < 1e-6);
}

/* make -j4 over two one-CPU nodes: both compiles here just ended, and
 * this node's load figure (smoothed) still shows them with make's 0.3;
 * the other runs two.  The next two are here, where a CPU is free now
 * (the load figure alone would send both there, three and four on one
 * CPU, this one idle), then there. */
static void
test_spread_sees_runs_that_ended_here_at_once(void **state)
{
	struct clu_policy p = policy("spread");
	unsigned n = cluster(2);
	unsigned rr = 0;

	(void)state;
	mem[0].m.ncpu = mem[1].m.ncpu = 1;
	mem[0].m.load = 2300;
	mem[0].ours_s = 2;
	mem[1].m.load = 2000;
	mem[1].ours_s = 2;
	mem[1].running = 2;
	assert_string_equal(place(n, &p, &rr, T0), "n1"); /* 0.3 < 2 */
	assert_string_equal(place(n, &p, &rr, T0), "n1"); /* 1.3 < 2 */
	assert_string_equal(place(n, &p, &rr, T0), "n2"); /* 2.3 > 2 */
	assert_int_equal(mem[0].running, 2);
	assert_int_equal(mem[1].running, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spread_keeps_work_here_while_a_cpu_is_free),
	    cmocka_unit_test(test_a_ghost_run_that_ended_weighs_nothing),
	    cmocka_unit_test(test_spread_sees_runs_that_ended_here_at_once),
	    cmocka_unit_test(test_parse_kind_words),
	    cmocka_unit_test(test_parse_node_and_pinned_name_the_node),
	    cmocka_unit_test(test_parse_constraints),
	    cmocka_unit_test(test_parse_kind_and_constraints_together),
	    cmocka_unit_test(
	        test_parse_rejects_with_one_line_and_policy_unchanged),
	    cmocka_unit_test(test_parse_rejects_a_policy_longer_than_511_bytes),
	    cmocka_unit_test(test_parse_error_fits_a_small_buffer),
	    cmocka_unit_test(test_format_writes_what_parse_reads),
	    cmocka_unit_test(test_format_then_parse_round_trips),
	    cmocka_unit_test(test_format_round_trips_words_that_need_quotes),
	    cmocka_unit_test(test_format_truncates_within_the_buffer),
	    cmocka_unit_test(test_merge_adds_constraints),
	    cmocka_unit_test(test_merge_kind_in_over_replaces),
	    cmocka_unit_test(test_merge_carries_pinned_node),
	    cmocka_unit_test(test_local_picks_self),
	    cmocka_unit_test(
	        test_pinned_picks_the_named_node_even_when_draining),
	    cmocka_unit_test(test_pinned_to_a_node_not_alive_is_ehostunreach),
	    cmocka_unit_test(test_pinned_to_an_unknown_node_is_enoent),
	    cmocka_unit_test(
	        test_pinned_node_that_misses_a_constraint_is_enodev),
	    cmocka_unit_test(test_constraints_no_one_meets_are_enodev),
	    cmocka_unit_test(test_constraints_pick_the_member_that_meets_them),
	    cmocka_unit_test(test_label_constraint_matches_whole_labels),
	    cmocka_unit_test(
	        test_spread_and_roundrobin_never_choose_unavailable_members),
	    cmocka_unit_test(
	        test_roundrobin_cycles_over_fitting_members_in_order),
	    cmocka_unit_test(test_spread_prefers_the_least_loaded),
	    cmocka_unit_test(test_spread_deals_a_burst_evenly),
	    cmocka_unit_test(
	        test_spread_gives_more_to_the_member_with_more_cpus),
	    cmocka_unit_test(test_spread_avoids_a_member_short_of_memory),
	    cmocka_unit_test(
	        test_spread_chooses_a_member_short_of_memory_only_if_all_are),
	    cmocka_unit_test(test_score_is_others_load_and_our_runs_now_per_cpu),
	};

	return cmocka_run_group_tests_name("place", tests, NULL, NULL);
}
