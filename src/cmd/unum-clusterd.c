/*
 * unum-clusterd - the cluster daemon, beside unumd on each node that joins
 * a cluster: membership and failure detection over UDP (sealed with a key
 * derived from the cluster key), placement, and the /cluster 9P tree on a
 * local Unix socket.  It reaches unumd only over 9P; if it stops, unumd
 * and its processes go on.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "9p/p9.h"
#include "cluster/cluster.h"
#include "conf/conf.h"

#define UNUM_VERSION "0.1.0"
#define DEFAULT_CONF "/etc/unum/clusterd.conf"
#define DEFAULT_SOCKET "/run/unum/clusterd.sock"
#define DEFAULT_KEY "/etc/unum/cluster.key"
#define MAX_JOIN 16

struct config {
	char name[CLU_NAME_MAX];
	char listen[CLU_ADDR_MAX];
	char nodeaddr[CLU_ADDR_MAX];
	char socket[108];
	char key[4096], prevkey[4096];
	char labels[CLU_LABELS_MAX];
	char policy[512];
	char learn[8]; /* "yes" (default) or "no" */
	char *join[MAX_JOIN];
	int njoin;
	unsigned long long probe_ms, timeout_ms, suspect_ms, gossip_ms;
	int verbose, trace;
	/* the command line wins over the file */
	int set_name, set_listen, set_nodeaddr, set_socket, set_key, set_prev,
	    set_labels, set_policy, set_join, set_learn;
};

static struct p9_srv *srv;
static struct clu_memb *mb;
static struct clu_tree *tree;
static struct p9_relay *relay;
static struct p9_tls_ctx *ctls;
static uv_signal_t sigs[2];

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: unum-clusterd [-v] [-c FILE] [-n NAME] [-l HOST:PORT] "
	    "[-a ADDR] [-j HOST[:PORT]]... [-s SOCKET]\n"
	    "Joins this node to a cluster: membership, health, placement, "
	    "and the /cluster tree.\n"
	    "  -c, --config FILE     configuration (default " DEFAULT_CONF ")\n"
	    "  -n, --name NAME       node name (default: the host name)\n"
	    "  -l, --listen HOST:PORT  membership datagrams (UDP; default "
	    "127.0.0.1:%d); HOST is how others reach this node\n"
	    "  -a, --node-addr ADDR  this node's unumd as others reach it "
	    "(default: HOST:5640)\n"
	    "  -j, --join HOST[:PORT]  a member to join through; repeatable\n"
	    "  -k, --key FILE        the cluster key (default " DEFAULT_KEY ")\n"
	    "      --previous-key FILE  also accepted, during a rollover\n"
	    "  -s, --socket PATH     Unix socket for /cluster (default "
	    DEFAULT_SOCKET ")\n"
	    "  -L, --labels L[,L]    labels placement constraints can ask for\n"
	    "  -p, --policy POLICY   placement (default spread): local, spread,"
	    " roundrobin,\n"
	    "                        node NAME; with arch=, label=, mem=\n"
	    "      --learn yes|no    keep here the programs whose runs are "
	    "shorter than\n"
	    "                        sending them (learnt; default yes)\n"
	    "      --probe-interval MS   one probe each (default 500)\n"
	    "      --probe-timeout MS    then indirect probes (default 200)\n"
	    "      --suspect-timeout MS  suspect, then dead (default 2000)\n"
	    "      --gossip-interval MS  news sent (default 200)\n"
	    "  -D, --trace           trace every 9P message on stderr\n"
	    "  -v, --verbose         log more\n"
	    "  -h, --help            this help\n"
	    "  -V, --version         print the version\n",
	    CLU_PORT);
}

static int
set_str(char *dst, size_t cap, const char *v, const char *what, char *err,
    size_t ecap)
{
	if (strlen(v) >= cap) {
		snprintf(err, ecap, "%s: '%.60s...' is too long", what, v);
		return -1;
	}
	strcpy(dst, v);
	return 0;
}

static int
add_join(struct config *c, const char *v, char *err, size_t cap)
{
	if (c->njoin == MAX_JOIN) {
		snprintf(err, cap, "more than %d members to join through",
		    MAX_JOIN);
		return -1;
	}
	if (!(c->join[c->njoin++] = strdup(v)))
		abort();
	return 0;
}

/* A setting, from the file (l != NULL) or the command line. */
static int
setting(struct config *c, const char *k, int argc, char **argv, int cmdline,
    char *err, size_t cap)
{
	unsigned long long *num = NULL, lo = 10, hi = 600000;
	int i;

	if (!strcmp(k, "join")) {
		if (argc < 1) {
			snprintf(err, cap, "join wants HOST[:PORT]...");
			return -1;
		}
		if (c->set_join && !cmdline)
			return 0;
		for (i = 0; i < argc; i++)
			if (add_join(c, argv[i], err, cap) < 0)
				return -1;
		return 0;
	}
	if (argc != 1) {
		snprintf(err, cap, "'%s' wants one value", k);
		return -1;
	}
#define STR(key, field, flag)                                                  \
	if (!strcmp(k, key)) {                                                 \
		if (c->flag && !cmdline)                                       \
			return 0;                                              \
		c->flag |= cmdline;                                            \
		return set_str(c->field, sizeof c->field, argv[0], key, err,   \
		    cap);                                                      \
	}
	STR("name", name, set_name)
	STR("listen", listen, set_listen)
	STR("node-addr", nodeaddr, set_nodeaddr)
	STR("socket", socket, set_socket)
	STR("key", key, set_key)
	STR("previous-key", prevkey, set_prev)
	STR("labels", labels, set_labels)
	STR("policy", policy, set_policy)
	STR("learn", learn, set_learn)
#undef STR
	if (!strcmp(k, "probe-interval"))
		num = &c->probe_ms;
	else if (!strcmp(k, "probe-timeout"))
		num = &c->timeout_ms;
	else if (!strcmp(k, "suspect-timeout"))
		num = &c->suspect_ms;
	else if (!strcmp(k, "gossip-interval"))
		num = &c->gossip_ms;
	if (!num) {
		snprintf(err, cap, "unknown setting '%s'", k);
		return -1;
	}
	if (*num && !cmdline)
		return 0;
	if (conf_number(argv[0], lo, hi, 0, num) < 0) {
		snprintf(err, cap, "%s: '%s' is not a number of ms from %llu to %llu",
		    k, argv[0], lo, hi);
		return -1;
	}
	return 0;
}

static int
on_conf_line(void *arg, struct conf_line *l, char *err, size_t cap)
{
	char e[400];

	if (setting(arg, l->argv[0], l->argc - 1, l->argv + 1, 0, e,
	        sizeof e) < 0) {
		snprintf(err, cap, "%s:%d: %s", l->file, l->lineno, e);
		return -1;
	}
	return 0;
}

static void
closed(void *arg)
{
	int i;

	for (i = 0; i < 2; i++)
		uv_close((uv_handle_t *)&sigs[i], NULL);
	/* no connection uses the relay now: its links go, so the loop ends */
	p9_relay_close(relay);
	relay = NULL;
}

static void
left(void *arg)
{
	mb = NULL;
	p9_srv_close(srv, closed, NULL);
}

static void
on_signal(uv_signal_t *s, int signum)
{
	p9_log(LOG_INFO, "signal %d: leaving the cluster", signum);
	uv_signal_stop(&sigs[0]);
	uv_signal_stop(&sigs[1]);
	clu_memb_leave(mb, left, NULL);
}

static void
on_change(void *arg, const struct clu_member *m, int old)
{
	if (old >= 0 && !m->self)
		p9_log(m->state == CLU_ALIVE ? LOG_INFO : LOG_WARNING,
		    "member %s: %s -> %s", m->name,
		    clu_state_name((enum clu_state)old), clu_state_name(m->state));
	if (m->state == CLU_DEAD && !m->self)
		p9_relay_drop(relay, m->addr); /* its runs end now: lost */
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"name", required_argument, NULL, 'n'},
	    {"listen", required_argument, NULL, 'l'},
	    {"node-addr", required_argument, NULL, 'a'},
	    {"join", required_argument, NULL, 'j'},
	    {"key", required_argument, NULL, 'k'},
	    {"previous-key", required_argument, NULL, 'K'},
	    {"socket", required_argument, NULL, 's'},
	    {"labels", required_argument, NULL, 'L'},
	    {"policy", required_argument, NULL, 'p'},
	    {"learn", required_argument, NULL, 5},
	    {"probe-interval", required_argument, NULL, 1},
	    {"probe-timeout", required_argument, NULL, 2},
	    {"suspect-timeout", required_argument, NULL, 3},
	    {"gossip-interval", required_argument, NULL, 4},
	    {"trace", no_argument, NULL, 'D'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct config c;
	const char *conffile = NULL;
	char err[512], host[256];
	uint8_t key[P9_KEY_LEN], prev[P9_KEY_LEN];
	struct clu_memb_opts mo;
	struct clu_policy pol;
	struct p9_srv_opts so;
	struct p9_tree trees[2];
	struct p9_addr a;
	int ch, i, rc;

	memset(&c, 0, sizeof c);
	while ((ch = getopt_long(argc, argv, "c:n:l:a:j:k:s:L:p:DvhV", lopts,
	            NULL)) != -1) {
		const struct option *lo = lopts;
		char *v = optarg;

		switch (ch) {
		case 'c':
			conffile = optarg;
			continue;
		case 'D':
			c.trace = 1;
			continue;
		case 'v':
			c.verbose = 1;
			continue;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("unum-clusterd %s\n", UNUM_VERSION);
			return 0;
		case '?':
			usage(stderr);
			return 2;
		}
		while (lo->name && lo->val != ch)
			lo++;
		if (ch == 'j') {
			c.set_join = 1;
		}
		if (setting(&c, lo->name, 1, &v, 1, err, sizeof err) < 0) {
			fprintf(stderr, "unum-clusterd: --%s\n", err);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "unum-clusterd: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		return 2;
	}
	p9_log_init("unum-clusterd", c.verbose);
	rc = conf_read(conffile ? conffile : DEFAULT_CONF, on_conf_line, &c,
	    err, sizeof err);
	if (rc < 0 && (conffile || errno != ENOENT)) {
		fprintf(stderr, "unum-clusterd: %s\n", err);
		return 1;
	}
	if (!*c.name) {
		if (gethostname(host, sizeof host) < 0 || !*host)
			strcpy(host, "localhost");
		host[strcspn(host, ".")] = '\0';
		snprintf(c.name, sizeof c.name, "%s", host);
	}
	if (!*c.listen)
		snprintf(c.listen, sizeof c.listen, "127.0.0.1:%d", CLU_PORT);
	if (p9_addr_parse(&a, c.listen, CLU_PORT) < 0 || a.is_unix || a.plain) {
		fprintf(stderr, "unum-clusterd: listen '%s': want HOST:PORT\n",
		    c.listen);
		return 1;
	}
	if (!strcmp(a.host, "0.0.0.0") || !strcmp(a.host, "::")) {
		fprintf(stderr,
		    "unum-clusterd: listen %s: name the address other nodes "
		    "reach this one at, not every interface\n",
		    c.listen);
		return 1;
	}
	if (!strchr(c.listen, ':') || c.listen[strlen(c.listen) - 1] == ']')
		snprintf(c.listen, sizeof c.listen, "%.50s:%d", a.host, a.port);
	if (!*c.nodeaddr)
		snprintf(c.nodeaddr, sizeof c.nodeaddr,
		    strchr(a.host, ':') ? "[%.50s]:5640" : "%.50s:5640", a.host);
	if (!*c.socket)
		strcpy(c.socket, DEFAULT_SOCKET);
	if (!*c.key)
		strcpy(c.key, DEFAULT_KEY);
	if (p9_key_read(c.key, key, err, sizeof err) < 0 ||
	    (*c.prevkey && p9_key_read(c.prevkey, prev, err, sizeof err) < 0)) {
		fprintf(stderr,
		    "unum-clusterd: %s (the cluster key seals membership; make "
		    "one with unum keygen)\n",
		    err);
		return 1;
	}
	memset(&pol, 0, sizeof pol);
	pol.kind = CLU_SPREAD;
	if (*c.learn && strcmp(c.learn, "yes") && strcmp(c.learn, "no")) {
		fprintf(stderr, "unum-clusterd: learn: want yes or no, not '%s'\n",
		    c.learn);
		return 2;
	}
	if (*c.policy && clu_policy_parse(c.policy, &pol, err, sizeof err) < 0) {
		fprintf(stderr, "unum-clusterd: %s\n", err);
		return 1;
	}

	memset(&mo, 0, sizeof mo);
	mo.name = c.name;
	mo.addr = c.nodeaddr;
	mo.listen = c.listen;
	mo.key = key;
	mo.prevkey = *c.prevkey ? prev : NULL;
	mo.labels = c.labels;
	mo.version = UNUM_VERSION;
	mo.probe_ms = (unsigned)c.probe_ms;
	mo.timeout_ms = (unsigned)c.timeout_ms;
	mo.suspect_ms = (unsigned)c.suspect_ms;
	mo.gossip_ms = (unsigned)c.gossip_ms;
	mo.changed = on_change;
	mb = clu_memb_new(uv_default_loop(), &mo, err, sizeof err);
	/* nodes are reached as the relay reaches them: TLS, the key */
	if (mb && !(ctls = p9_tls_ctx_new(0, key, NULL, err, sizeof err))) {
		fprintf(stderr, "unum-clusterd: %s\n", err);
		return 1;
	}
	OPENSSL_cleanse(key, sizeof key);
	OPENSSL_cleanse(prev, sizeof prev);
	if (!mb) {
		fprintf(stderr, "unum-clusterd: %s\n", err);
		return 1;
	}
	p9_log(LOG_INFO, "node %s: membership on %s (UDP), unumd at %s",
	    c.name, c.listen, c.nodeaddr);
	for (i = 0; i < c.njoin; i++)
		if (clu_memb_join(mb, c.join[i], err, sizeof err) < 0) {
			fprintf(stderr, "unum-clusterd: %s\n", err);
			return 1;
		}

	{
		struct p9_relay_opts ro = {.tls = ctls, .anon_uid = 65534,
		    .anon_gid = 65534};

		if (!(relay = p9_relay_new(uv_default_loop(), &ro)))
			abort();
	}
	tree = clu_tree_new(uv_default_loop(), mb, relay, &pol);
	trees[0] = (struct p9_tree){.aname = "cluster", .ops = clu_tree_ops(),
	    .aux = tree, .forward = 1};
	trees[1] = (struct p9_tree){.aname = "proc", .ops = clu_tree_ops(),
	    .aux = tree, .forward = 1};
	memset(&so, 0, sizeof so);
	so.trees = trees;
	so.ntrees = 2;
	so.idle_secs = 600;
	so.trace = c.trace;
	so.name = "unum-clusterd";
	if (!(srv = p9_srv_new(uv_default_loop(), &so)))
		abort();
	if (p9_addr_parse(&a, c.socket, 0) < 0 || !a.is_unix) {
		fprintf(stderr, "unum-clusterd: bad socket path '%s'\n", c.socket);
		return 1;
	}
	if ((rc = p9_srv_listen(srv, &a, 0666)) < 0) {
		fprintf(stderr, "unum-clusterd: cannot listen on %s: %s\n",
		    c.socket, strerror(-rc));
		return 1;
	}
	p9_log(LOG_INFO, "serving %s", c.socket);
	{
		/* the shim's placement table, beside the socket */
		char times[4200];

		snprintf(times, sizeof times, "%s.times", c.socket);
		clu_tree_times(tree, times, strcmp(c.learn, "no") != 0);
	}

	uv_signal_init(uv_default_loop(), &sigs[0]);
	uv_signal_init(uv_default_loop(), &sigs[1]);
	uv_signal_start(&sigs[0], on_signal, SIGTERM);
	uv_signal_start(&sigs[1], on_signal, SIGINT);
	signal(SIGPIPE, SIG_IGN);

	uv_run(uv_default_loop(), UV_RUN_DEFAULT);
	clu_tree_free(tree);
	p9_tls_ctx_free(ctls);
	for (i = 0; i < c.njoin; i++)
		free(c.join[i]);
	uv_loop_close(uv_default_loop());
	return 0;
}
