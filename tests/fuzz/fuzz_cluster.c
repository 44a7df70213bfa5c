/*
 * fuzz_cluster.c - libFuzzer target for unum-clusterd's input from outside:
 * membership messages (as they are once a datagram's seal opens: what a
 * node holding the key could send) and placement policies (what root
 * writes to /cluster/policy and a user to proc/policy).
 *
 * Messages go to one membership (its datagrams captured, never sent): the
 * decoder must not read past the input, and every datagram it answers
 * with must open under the key and be at most one frame.  The table is
 * started afresh every 256 inputs so it stays small.  A policy that
 * parses must format to text that parses to the same policy; one that
 * does not must leave the policy as it was and say why in one line.  Any
 * breach abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "cluster/cluster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t ck[P9_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
static uint8_t dkey[32];
static struct clu_memb *mb;
static unsigned inputs;

static void
sink(void *arg, const struct sockaddr *to, const uint8_t *d, size_t n)
{
	uint8_t body[2048];

	if (n > 1400 || n < 29 || clu_memb_open(dkey, d, n, body) < 0)
		abort();
}

static void
left(void *arg)
{
	mb = NULL;
}

static void
fresh(void)
{
	struct clu_memb_opts o;
	char err[256], listen[32];
	int port;

	if (mb) {
		clu_memb_close(mb, left, NULL);
		while (mb)
			uv_run(uv_default_loop(), UV_RUN_ONCE);
	}
	memset(&o, 0, sizeof o);
	o.name = "fz";
	o.addr = "127.0.0.1:5640";
	o.key = ck;
	o.version = "0";
	o.send = sink;
	for (port = 41000 + (int)(random() % 2000);; port++) {
		snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
		o.listen = listen;
		if ((mb = clu_memb_new(uv_default_loop(), &o, err, sizeof err)))
			break;
		if (port > 45000)
			abort();
	}
}

static void
policy(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), err[128] = "", text[600];
	struct clu_policy p, q, keep;

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	memset(&p, 0x5a, sizeof p);
	keep = p;
	if (clu_policy_parse(s, &p, err, sizeof err) < 0) {
		if (!*err || strchr(err, '\n') || memcmp(&p, &keep, sizeof p))
			abort();
	} else {
		clu_policy_format(&p, text, sizeof text);
		memset(&q, 0, sizeof q);
		if (clu_policy_parse(text, &q, err, sizeof err) < 0 ||
		    q.kind != p.kind || q.nlabels != p.nlabels ||
		    q.minmem != p.minmem || strcmp(q.arch, p.arch) ||
		    (p.kind == CLU_PINNED && strcmp(q.node, p.node)))
			abort();
	}
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in from = {.sin_family = AF_INET,
	    .sin_port = htons(40999)};
	uint8_t *copy;

	if (!mb) {
		p9_log_init("fuzz_cluster", -1);
		clu_memb_key(ck, dkey);
		fresh();
	}
	if (++inputs % 256 == 0)
		fresh();
	from.sin_addr.s_addr = htonl(0x7f000001);
	copy = malloc(size ? size : 1); /* exact size: ASan sees overreads */
	if (!copy)
		abort();
	memcpy(copy, data, size);
	clu_memb_input(mb, copy, size, (struct sockaddr *)&from);
	free(copy);
	policy(data, size < 600 ? size : 600);
	return 0;
}
