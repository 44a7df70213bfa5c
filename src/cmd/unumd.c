/*
 * unumd - the node daemon: serves this node's 9P tree on a local Unix
 * socket and on TCP.  Attach names: "fs", the exported directory (fsrv),
 * when one is configured; "ram", a synthetic tree with /node describing
 * the node.  The empty name is the first of them.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <openssl/crypto.h>

#include "9p/p9.h"
#include "conf/conf.h"
#include "fsrv/fsrv.h"
#include "procsrv/procsrv.h"
#include "ramfs/ramfs.h"

#define UNUM_VERSION "0.1.0"
#define DEFAULT_CONF "/etc/unum/unumd.conf"
#define DEFAULT_SOCKET "/run/unum/unumd.sock"
#define DEFAULT_PORT 5640
#define DEFAULT_KEY "/etc/unum/cluster.key"
#define MAX_LISTEN 8

struct config {
	char name[64];
	char socket[108];
	char *listen[MAX_LISTEN];
	int nlisten;
	int listen_set; /* the command line replaces the file's list */
	unsigned long long msize, max_fids, max_reqs, max_conns, max_peer;
	unsigned long long max_procs; /* per user */
	unsigned long long max_args;  /* argv and env bytes */
	unsigned long long idle;      /* seconds; 0: the default */
	int trace, verbose;
	char exportdir[4096];
	int readonly;
	char squash[64];
	char anon[64];
	unsigned long long workers;
	char key[4096], prevkey[4096];
	/* node certificates: this node's, its key, the CA, revocations */
	char cert[4096], certkey[4096], ca[4096], crl[4096];
	int key_set; /* named (not the default): it must exist */
	char keyid[32], prevkeyid[32]; /* for the log, once serving */
	int squash_remote_root;
	/* plain listeners: "ADDR ANAME..." */
	char *plain[MAX_LISTEN];
	int nplain;
};

static struct p9_srv *srv;
static struct ramfs *fs;
static struct fsrv *fsv;
static struct psrv *psv;
static struct p9_relay *relay;
static struct p9_tree trees[4];
static uv_signal_t sigs[2];

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: unumd [-Dvr] [-c FILE] [-l ADDR]... [-s SOCKET] [-m MSIZE]"
	    " [-n NAME] [-e DIR]\n"
	    "Serves this node's 9P tree.\n"
	    "  -c, --config FILE   configuration (default " DEFAULT_CONF ")\n"
	    "  -l, --listen ADDR   TLS address HOST:PORT (default "
	    "127.0.0.1:%d); repeatable; 'none' for no TCP\n"
	    "  -k, --key FILE      the cluster key (default " DEFAULT_KEY ");\n"
	    "                      without one, TCP is not served\n"
	    "      --previous-key FILE  also accepted, during a rollover\n"
	    "      --cert FILE, --cert-key FILE, --ca FILE [--crl FILE]\n"
	    "                      node certificates signed by the cluster CA\n"
	    "                      (with or instead of the key)\n"
	    "  -P, --plain ADDR=ANAME[,ANAME]  plain 9P (no TLS, everyone is\n"
	    "                      the anonymous user) for these trees only\n"
	    "  -s, --socket PATH   Unix socket (default " DEFAULT_SOCKET ")\n"
	    "  -m, --msize BYTES   largest 9P message (default 1M+24)\n"
	    "  -n, --name NAME     node name (default: the host name)\n"
	    "  -e, --export DIR    serve DIR under attach name 'fs'\n"
	    "  -r, --read-only     refuse every change to the export\n"
	    "      --squash USER   every user of the export acts as USER\n"
	    "      --anon USER     who unidentified peers are (default "
	    "nobody)\n"
	    "      --workers N     threads for file system calls (default 16)\n"
	    "  -D, --trace         trace every 9P message on stderr\n"
	    "  -v, --verbose       log connections and protocol errors\n"
	    "  -h, --help          this help\n"
	    "  -V, --version       print the version\n",
	    DEFAULT_PORT);
}

static int
add_listen(struct config *c, const char *addr, char *err, size_t cap)
{
	if (c->nlisten == MAX_LISTEN) {
		snprintf(err, cap, "more than %d listen addresses", MAX_LISTEN);
		return -1;
	}
	if (!(c->listen[c->nlisten] = strdup(addr)))
		abort();
	c->nlisten++;
	return 0;
}

/* The file setting of that name, also an option of that long name: the
 * key, the previous one, and the node certificate's files.  NULL if it is
 * none of them.  Each holds a path of less than sizeof c->key. */
static char *
path_setting(struct config *c, const char *name)
{
	return !strcmp(name, "key")            ? c->key
	       : !strcmp(name, "previous-key") ? c->prevkey
	       : !strcmp(name, "cert")         ? c->cert
	       : !strcmp(name, "cert-key")     ? c->certkey
	       : !strcmp(name, "ca")           ? c->ca
	       : !strcmp(name, "crl")          ? c->crl
	                                       : NULL;
}

static int
on_conf_line(void *arg, struct conf_line *l, char *err, size_t cap)
{
	struct config *c = arg;
	const char *k = l->argv[0];
	unsigned long long *num = NULL, lo = 1, hi = 1u << 20;
	char *path;
	int units = 0, i;

	if (strcmp(k, "plain-listen") == 0) {
		size_t len = 0;
		char *line;

		if (l->argc < 3) {
			snprintf(err, cap,
			    "%s:%d: plain-listen wants an address and the "
			    "attach names it serves",
			    l->file, l->lineno);
			return -1;
		}
		if (c->nplain == MAX_LISTEN) {
			snprintf(err, cap, "%s:%d: too many plain listeners",
			    l->file, l->lineno);
			return -1;
		}
		for (i = 1; i < l->argc; i++)
			len += strlen(l->argv[i]) + 1;
		if (!(line = malloc(len + 1)))
			abort();
		line[0] = '\0';
		for (i = 1; i < l->argc; i++) {
			strcat(line, l->argv[i]);
			strcat(line, i == 1 ? "=" : ",");
		}
		line[strlen(line) - 1] = '\0';
		c->plain[c->nplain++] = line;
		return 0;
	}
	if (strcmp(k, "listen") == 0) {
		if (l->argc < 2)
			goto want_value;
		if (c->listen_set)
			return 0;
		for (i = 1; i < l->argc; i++)
			if (add_listen(c, l->argv[i], err, cap) < 0)
				return -1;
		return 0;
	}
	if (l->argc != 2)
		goto want_value;
	if (strcmp(k, "name") == 0) {
		snprintf(c->name, sizeof c->name, "%s", l->argv[1]);
		return 0;
	}
	if (strcmp(k, "export") == 0) {
		if (strlen(l->argv[1]) >= sizeof c->exportdir) {
			snprintf(err, cap, "%s:%d: export path too long",
			    l->file, l->lineno);
			return -1;
		}
		if (!*c->exportdir)
			strcpy(c->exportdir, l->argv[1]);
		return 0;
	}
	if (strcmp(k, "read-only") == 0) {
		if (strcmp(l->argv[1], "yes") && strcmp(l->argv[1], "no")) {
			snprintf(err, cap, "%s:%d: read-only wants yes or no",
			    l->file, l->lineno);
			return -1;
		}
		c->readonly |= !strcmp(l->argv[1], "yes");
		return 0;
	}
	if (strcmp(k, "squash") == 0 || strcmp(k, "anon") == 0) {
		char *dst = k[0] == 's' ? c->squash : c->anon;
		uid_t u;
		gid_t g;

		if (fsrv_lookup_user(l->argv[1], &u, &g) < 0) {
			snprintf(err, cap, "%s:%d: %s: no user '%s'", l->file,
			    l->lineno, k, l->argv[1]);
			return -1;
		}
		if (!*dst)
			snprintf(dst, 64, "%s", l->argv[1]);
		return 0;
	}
	if ((path = path_setting(c, k))) {
		if (strlen(l->argv[1]) >= sizeof c->key) {
			snprintf(err, cap, "%s:%d: %s: path too long", l->file,
			    l->lineno, k);
			return -1;
		}
		if (!*path) {
			strcpy(path, l->argv[1]);
			if (!strcmp(k, "key"))
				c->key_set = 1;
		}
		return 0;
	}
	if (strcmp(k, "remote-root") == 0) {
		if (strcmp(l->argv[1], "squash") &&
		    strcmp(l->argv[1], "keep")) {
			snprintf(err, cap,
			    "%s:%d: remote-root wants squash or keep", l->file,
			    l->lineno);
			return -1;
		}
		c->squash_remote_root = !strcmp(l->argv[1], "squash");
		return 0;
	}
	if (strcmp(k, "socket") == 0) {
		if (strlen(l->argv[1]) >= sizeof c->socket) {
			snprintf(err, cap, "%s:%d: socket path too long",
			    l->file, l->lineno);
			return -1;
		}
		strcpy(c->socket, l->argv[1]);
		return 0;
	}
	if (strcmp(k, "msize") == 0) {
		num = &c->msize;
		lo = P9_MINMSIZE;
		hi = P9_MAXMSIZE;
		units = 1;
	} else if (strcmp(k, "max-fids") == 0)
		num = &c->max_fids;
	else if (strcmp(k, "max-requests") == 0)
		num = &c->max_reqs;
	else if (strcmp(k, "max-connections") == 0)
		num = &c->max_conns;
	else if (strcmp(k, "max-connections-per-peer") == 0)
		num = &c->max_peer;
	else if (strcmp(k, "idle-timeout") == 0) {
		num = &c->idle;
		hi = 7 * 86400;
	} else if (strcmp(k, "max-processes-per-user") == 0) {
		num = &c->max_procs;
		hi = 4096;
	} else if (strcmp(k, "max-arg-bytes") == 0) {
		num = &c->max_args;
		lo = 4096;
		hi = PSRV_MAX_ARG_BYTES;
		units = 1;
	} else if (strcmp(k, "workers") == 0) {
		num = &c->workers;
		hi = 1024;
	}
	if (!num) {
		snprintf(err, cap, "%s:%d: unknown setting '%s'", l->file,
		    l->lineno, k);
		return -1;
	}
	if (conf_number(l->argv[1], lo, hi, units, num) < 0) {
		snprintf(err, cap,
		    "%s:%d: %s: '%s' is not a number from %llu"
		    " to %llu",
		    l->file, l->lineno, k, l->argv[1], lo, hi);
		return -1;
	}
	return 0;
want_value:
	snprintf(err, cap, "%s:%d: '%s' wants %s", l->file, l->lineno, k,
	    strcmp(k, "listen") ? "one value" : "one or more addresses");
	return -1;
}

/* Plain 9P serves loopback or an address the operator names, never every
 * interface. */
static int
check_listen(const struct p9_addr *a, const char *s)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (a->is_unix)
		return 0;
	if ((inet_pton(AF_INET, a->host, &a4) == 1 &&
	        a4.s_addr == htonl(INADDR_ANY)) ||
	    (inet_pton(AF_INET6, a->host, &a6) == 1 &&
	        IN6_IS_ADDR_UNSPECIFIED(&a6))) {
		fprintf(stderr,
		    "unumd: listen %s: refusing to serve every "
		    "interface without authentication; name one address\n",
		    s);
		return -1;
	}
	return 0;
}

/* The cluster key (and a previous one): TLS contexts for serving nodes
 * (tls) and for reaching them (ctls, the relay's), or NULL with no key.
 * -1 for a key that is there but unusable. */
static int
load_key(struct config *c, struct p9_tls_ctx **tls, struct p9_tls_ctx **ctls)
{
	uint8_t key[P9_KEY_LEN], prev[P9_KEY_LEN];
	char err[512];

	struct p9_tls_certs certs = {c->cert, c->certkey, c->ca,
	    *c->crl ? c->crl : NULL};
	int havekey, havecerts = *c->cert || *c->certkey || *c->ca || *c->crl;

	*tls = *ctls = NULL;
	if (!*c->key)
		snprintf(c->key, sizeof c->key, "%s", DEFAULT_KEY);
	havekey = c->key_set || access(c->key, F_OK) == 0 || errno != ENOENT;
	if (!havekey && !havecerts)
		return 0;
	if (havekey &&
	    (p9_key_read(c->key, key, err, sizeof err) < 0 ||
	        (*c->prevkey &&
	            p9_key_read(c->prevkey, prev, err, sizeof err) < 0))) {
		fprintf(stderr, "unumd: %s\n", err);
		return -1;
	}
	if ((*tls = p9_tls_ctx_new(1, havekey ? key : NULL,
	         *c->prevkey ? prev : NULL, err, sizeof err)) &&
	    !(*ctls = p9_tls_ctx_new(
	          0, havekey ? key : NULL, NULL, err, sizeof err))) {
		p9_tls_ctx_free(*tls);
		*tls = NULL;
	}
	if (havekey) {
		p9_key_id(key, c->keyid);
		if (*c->prevkey)
			p9_key_id(prev, c->prevkeyid);
	} else
		*c->key = '\0'; /* certificates only */
	OPENSSL_cleanse(key, sizeof key);
	OPENSSL_cleanse(prev, sizeof prev);
	if (*tls && havecerts &&
	    (p9_tls_ctx_certs(*tls, &certs, err, sizeof err) < 0 ||
	        p9_tls_ctx_certs(*ctls, &certs, err, sizeof err) < 0)) {
		p9_tls_ctx_free(*tls);
		p9_tls_ctx_free(*ctls);
		*tls = *ctls = NULL;
	}
	if (!*tls) {
		fprintf(stderr, "unumd: %s\n", err);
		return -1;
	}
	return 0;
}

/* TLS listeners (with a key) and plain ones (as configured). */
static int
start_tcp(struct config *c, struct p9_tls_ctx *tls)
{
	struct p9_addr a;
	int i, rc;

	for (i = 0; i < c->nplain; i++) {
		struct p9_listen_opts o = {.anon = 1};
		char *eq = strchr(c->plain[i], '='), *save = NULL, *t;
		const char **names = calloc(MAX_LISTEN + 1, sizeof *names);
		int n = 0;

		char shown[256];

		if (!names)
			abort();
		snprintf(shown, sizeof shown, "%s", eq + 1);
		*eq = '\0';
		for (t = strtok_r(eq + 1, ",", &save); t && n < MAX_LISTEN;
		     t = strtok_r(NULL, ",", &save)) {
			if (!strcmp(t, "proc")) {
				fprintf(stderr,
				    "unumd: plain listener %s: the process "
				    "API is never served without TLS\n",
				    c->plain[i]);
				return -1;
			}
			names[n++] = t;
		}
		o.anames = names;
		if (p9_addr_parse(&a, c->plain[i], DEFAULT_PORT) < 0 ||
		    a.is_unix) {
			fprintf(stderr,
			    "unumd: bad plain listen address '%s'\n",
			    c->plain[i]);
			return -1;
		}
		if (check_listen(&a, c->plain[i]) < 0)
			return -1;
		if ((rc = p9_srv_listen_opts(srv, &a, &o)) < 0) {
			fprintf(stderr, "unumd: cannot listen on %s: %s\n",
			    c->plain[i], strerror(-rc));
			return -1;
		}
		p9_log(LOG_WARNING,
		    "serving %s in plain 9P (no TLS; every user is the "
		    "anonymous one) for: %s",
		    c->plain[i], shown);
		*eq = '=';
	}
	if (tls && *c->key)
		p9_log(LOG_INFO, "cluster key %s (id %s)%s%s%s", c->key,
		    c->keyid, *c->prevkeyid ? ", previous key id " : "",
		    c->prevkeyid, *c->prevkeyid ? " still accepted" : "");
	if (tls && *c->cert)
		p9_log(LOG_INFO, "node certificate %s, cluster CA %s%s%s", c->cert,
		    c->ca, *c->crl ? ", revoked nodes in " : "", c->crl);
	if (!tls && !c->nplain && !strcmp(c->socket, "none")) {
		fprintf(stderr,
		    "unumd: nothing to serve: no socket, and TCP needs the "
		    "cluster key (%s; make one with unum keygen)\n",
		    c->key);
		return -1;
	}
	if (!tls && c->nlisten)
		p9_log(LOG_WARNING,
		    "no cluster key (%s): no TCP but the plain listeners; "
		    "make a key with unum keygen",
		    c->key);
	for (i = 0; tls && i < c->nlisten; i++) {
		struct p9_listen_opts o = {
		    .tls = tls, .squash_root = c->squash_remote_root};

		if (p9_addr_parse(&a, c->listen[i], DEFAULT_PORT) < 0 ||
		    a.is_unix) {
			fprintf(stderr,
			    "unumd: bad listen address '%s' (want HOST:PORT)\n",
			    c->listen[i]);
			return -1;
		}
		if ((rc = p9_srv_listen_opts(srv, &a, &o)) < 0) {
			fprintf(stderr, "unumd: cannot listen on %s: %s\n",
			    c->listen[i], strerror(-rc));
			return -1;
		}
		p9_log(LOG_INFO, "serving %s (TLS, cluster key)", c->listen[i]);
	}
	return 0;
}

static const char *self_addrs[MAX_LISTEN + 1];

/* The unum command that mounts imports: next to this unumd, or in
 * ../bin (sbin/unumd, bin/unum), else NULL (no imports). */
static const char *
unum_command(void)
{
	static char path[4200];
	char self[4096], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

	if (n <= 0)
		return NULL;
	self[n] = '\0';
	if (!(slash = strrchr(self, '/')))
		return NULL;
	*slash = '\0';
	snprintf(path, sizeof path, "%s/unum", self);
	if (access(path, X_OK) == 0)
		return path;
	snprintf(path, sizeof path, "%s/../bin/unum", self);
	return access(path, X_OK) == 0 ? path : NULL;
}

static void
node_file(const struct config *c)
{
	char buf[1024];
	struct utsname u;
	int n;

	uname(&u);
	n = snprintf(buf, sizeof buf,
	    "name %s\narch %s\nncpu %ld\nversion %s\npid %d\n", c->name,
	    u.machine, sysconf(_SC_NPROCESSORS_ONLN), UNUM_VERSION,
	    (int)getpid());
	ramfs_add(fs, "node", 'f', 0444, buf, (size_t)n);
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
on_signal(uv_signal_t *s, int signum)
{
	p9_log(LOG_INFO, "signal %d: shutting down", signum);
	uv_signal_stop(&sigs[0]);
	uv_signal_stop(&sigs[1]);
	p9_srv_close(srv, closed, NULL);
	psrv_shutdown(psv);
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"listen", required_argument, NULL, 'l'},
	    {"socket", required_argument, NULL, 's'},
	    {"msize", required_argument, NULL, 'm'},
	    {"name", required_argument, NULL, 'n'},
	    {"export", required_argument, NULL, 'e'},
	    {"read-only", no_argument, NULL, 'r'},
	    {"squash", required_argument, NULL, 'S'},
	    {"anon", required_argument, NULL, 'A'},
	    {"workers", required_argument, NULL, 'W'},
	    {"key", required_argument, NULL, 'k'},
	    {"previous-key", required_argument, NULL, 'K'},
	    {"cert", required_argument, NULL, 'C'},
	    {"cert-key", required_argument, NULL, 'Y'},
	    {"ca", required_argument, NULL, 'a'},
	    {"crl", required_argument, NULL, 'R'},
	    {"plain", required_argument, NULL, 'P'},
	    {"trace", no_argument, NULL, 'D'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct config c;
	const char *conffile = NULL, *msize_arg = NULL, *workers_arg = NULL;
	char err[512];
	struct p9_srv_opts so;
	struct p9_tls_ctx *tls = NULL, *ctls = NULL;
	struct p9_addr a;
	unsigned ntrees;
	int ch, i, rc;

	memset(&c, 0, sizeof c);
	while ((ch = getopt_long(
	            argc, argv, "c:l:s:m:n:e:rk:P:DvhV", lopts, NULL)) != -1) {
		switch (ch) {
		case 'k':
		case 'K':
		case 'C':
		case 'Y':
		case 'a':
		case 'R': {
			const struct option *lo = lopts;

			while (lo->val != ch)
				lo++;
			if (strlen(optarg) >= sizeof c.key) {
				fprintf(stderr, "unumd: --%s: path too long\n",
				    lo->name);
				return 2;
			}
			strcpy(path_setting(&c, lo->name), optarg);
			if (ch == 'k')
				c.key_set = 1;
			break;
		}
		case 'P':
			if (c.nplain == MAX_LISTEN || !strchr(optarg, '=')) {
				fprintf(stderr, "unumd: --plain wants "
				                "ADDR=ANAME[,ANAME]\n");
				return 2;
			}
			if (!(c.plain[c.nplain++] = strdup(optarg)))
				abort();
			break;
		case 'c':
			conffile = optarg;
			break;
		case 'l':
			c.listen_set = 1;
			if (strcmp(optarg, "none") &&
			    add_listen(&c, optarg, err, sizeof err) < 0) {
				fprintf(stderr, "unumd: %s\n", err);
				return 2;
			}
			break;
		case 's':
			if (strlen(optarg) >= sizeof c.socket) {
				fprintf(
				    stderr, "unumd: socket path too long\n");
				return 2;
			}
			strcpy(c.socket, optarg);
			break;
		case 'm':
			msize_arg = optarg;
			break;
		case 'n':
			snprintf(c.name, sizeof c.name, "%s", optarg);
			break;
		case 'e':
			if (strlen(optarg) >= sizeof c.exportdir) {
				fprintf(
				    stderr, "unumd: export path too long\n");
				return 2;
			}
			strcpy(c.exportdir, optarg);
			break;
		case 'r':
			c.readonly = 1;
			break;
		case 'S':
		case 'A': {
			uid_t u;
			gid_t g;

			if (fsrv_lookup_user(optarg, &u, &g) < 0) {
				fprintf(
				    stderr, "unumd: no user '%s'\n", optarg);
				return 2;
			}
			snprintf(
			    ch == 'S' ? c.squash : c.anon, 64, "%s", optarg);
			break;
		}
		case 'W':
			workers_arg = optarg;
			break;
		case 'D':
			c.trace = 1;
			break;
		case 'v':
			c.verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("unumd %s\n", UNUM_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(
		    stderr, "unumd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	p9_log_init("unumd", c.verbose);
	p9_malloc_for_messages(c.msize);

	/* The file first; the command line wins. */
	{
		char name[64] = "", sock[108] = "";

		snprintf(name, sizeof name, "%s", c.name);
		snprintf(sock, sizeof sock, "%s", c.socket);
		rc = conf_read(conffile ? conffile : DEFAULT_CONF, on_conf_line,
		    &c, err, sizeof err);
		if (rc < 0 && (conffile || errno != ENOENT)) {
			fprintf(stderr, "unumd: %s\n", err);
			return 1;
		}
		if (*name)
			snprintf(c.name, sizeof c.name, "%s", name);
		if (*sock)
			snprintf(c.socket, sizeof c.socket, "%s", sock);
	}
	if (msize_arg &&
	    conf_number(msize_arg, P9_MINMSIZE, P9_MAXMSIZE, 1, &c.msize) < 0) {
		fprintf(stderr,
		    "unumd: --msize: '%s' is not a size from %u "
		    "to %u\n",
		    msize_arg, P9_MINMSIZE, P9_MAXMSIZE);
		return 2;
	}
	if (workers_arg &&
	    conf_number(workers_arg, 1, 1024, 0, &c.workers) < 0) {
		fprintf(stderr,
		    "unumd: --workers: '%s' is not a number from 1 "
		    "to 1024\n",
		    workers_arg);
		return 2;
	}
	if (!*c.name && gethostname(c.name, sizeof c.name - 1) < 0)
		strcpy(c.name, "localhost");
	if (!*c.socket)
		strcpy(c.socket, DEFAULT_SOCKET);
	if (!c.nlisten && !c.listen_set) {
		char def[32];

		snprintf(def, sizeof def, "127.0.0.1:%d", DEFAULT_PORT);
		add_listen(&c, def, err, sizeof err);
	}

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	/* file system calls run on libuv's pool: size it before first use */
	{
		char n[24];

		snprintf(n, sizeof n, "%llu", c.workers ? c.workers : 16);
		setenv("UV_THREADPOOL_SIZE", n, 1);
	}
	if (!(fs = ramfs_new()))
		abort();
	node_file(&c);
	ramfs_add(fs, "tmp", 'd', 0777, NULL, 0);

	ntrees = 0;
	if (*c.exportdir) {
		struct fsrv_opts fo;
		gid_t g;

		memset(&fo, 0, sizeof fo);
		fo.root = c.exportdir;
		fo.readonly = c.readonly;
		fo.anon_uid = fo.anon_gid = 65534;
		if (*c.anon)
			fsrv_lookup_user(c.anon, &fo.anon_uid, &fo.anon_gid);
		else if (fsrv_lookup_user("nobody", &fo.anon_uid, &g) == 0)
			fo.anon_gid = g;
		if (*c.squash) {
			fo.squash = 1;
			fsrv_lookup_user(
			    c.squash, &fo.squash_uid, &fo.squash_gid);
		}
		if (!(fsv = fsrv_new(&fo, &rc))) {
			fprintf(stderr, "unumd: cannot export %s: %s\n",
			    c.exportdir, strerror(-rc));
			return 1;
		}
		trees[ntrees++] = (struct p9_tree){
		    .aname = "fs", .ops = fsrv_ops(), .aux = fsv};
		p9_log(LOG_INFO, "exporting %s%s%s", c.exportdir,
		    c.readonly ? " read-only" : "",
		    *c.squash ? ", users squashed" : "");
	}
	trees[ntrees++] =
	    (struct p9_tree){.aname = "ram", .ops = ramfs_ops(), .aux = fs};
	{
		struct psrv_opts po;
		gid_t g;

		memset(&po, 0, sizeof po);
		po.node = c.name;
		po.grace_ms = 5000;
		po.max_per_user = (unsigned)c.max_procs;
		po.max_arg_bytes = (size_t)c.max_args;
		po.anon_uid = po.anon_gid = 65534;
		if (fsrv_lookup_user(
		        *c.anon ? c.anon : "nobody", &po.anon_uid, &g) == 0)
			po.anon_gid = g;
		/* imports: the unum beside this unumd (or in ../bin), with the
		 * key this node holds; an ns naming one of our addresses is
		 * our own files */
		po.import_cmd = unum_command();
		po.import_key = c.key;
		for (i = 0; i < c.nlisten; i++)
			self_addrs[i] = c.listen[i];
		self_addrs[i] = NULL;
		po.self_addrs = self_addrs;
		if (!(psv = psrv_new(uv_default_loop(), &po, &rc))) {
			fprintf(stderr, "unumd: process server: %s\n",
			    strerror(-rc));
			return 1;
		}
		trees[ntrees++] = (struct p9_tree){
		    .aname = "proc", .ops = psrv_ops(), .aux = psv};
	}
	if (load_key(&c, &tls, &ctls) < 0)
		return 1;
	{
		/* ADDR!TREE: this node's users reach other nodes through it */
		struct p9_relay_opts ro;
		gid_t g;

		memset(&ro, 0, sizeof ro);
		ro.tls = ctls;
		ro.default_port = DEFAULT_PORT;
		ro.anon_uid = ro.anon_gid = 65534;
		if (fsrv_lookup_user(
		        *c.anon ? c.anon : "nobody", &ro.anon_uid, &g) == 0)
			ro.anon_gid = g;
		if (!(relay = p9_relay_new(uv_default_loop(), &ro)))
			abort();
		trees[ntrees++] = (struct p9_tree){.aname = "!",
		    .ops = p9_relay_ops(),
		    .aux = relay,
		    .forward = 1};
	}
	memset(&so, 0, sizeof so);
	so.trees = trees;
	so.ntrees = ntrees;
	so.msize = (uint32_t)c.msize;
	so.max_fids = (uint32_t)c.max_fids;
	so.max_reqs = (uint32_t)c.max_reqs;
	so.max_conns = (uint32_t)c.max_conns;
	so.max_conns_per_peer = (uint32_t)c.max_peer;
	so.idle_secs = c.idle ? (unsigned)c.idle : 600;
	so.trace = c.trace;
	so.name = "unumd";
	if (!(srv = p9_srv_new(uv_default_loop(), &so)))
		abort();

	if (strcmp(c.socket, "none")) {
		if (p9_addr_parse(&a, c.socket, 0) < 0 || !a.is_unix) {
			fprintf(
			    stderr, "unumd: bad socket path '%s'\n", c.socket);
			return 1;
		}
		if ((rc = p9_srv_listen(srv, &a, 0666)) < 0) {
			fprintf(stderr, "unumd: cannot listen on %s: %s\n",
			    c.socket, strerror(-rc));
			return 1;
		}
		p9_log(LOG_INFO, "serving %s", c.socket);
	}
	if (start_tcp(&c, tls) < 0)
		return 1;

	uv_signal_init(uv_default_loop(), &sigs[0]);
	uv_signal_init(uv_default_loop(), &sigs[1]);

	uv_signal_start(&sigs[0], on_signal, SIGTERM);
	uv_signal_start(&sigs[1], on_signal, SIGINT);

	uv_run(uv_default_loop(), UV_RUN_DEFAULT);
	ramfs_free(fs);
	fsrv_free(fsv);
	psrv_free(psv);
	p9_relay_close(relay);
	p9_tls_ctx_free(ctls);
	p9_tls_ctx_free(tls);
	for (i = 0; i < c.nlisten; i++)
		free(c.listen[i]);
	for (i = 0; i < c.nplain; i++)
		free(c.plain[i]);
	uv_loop_close(uv_default_loop());
	return 0;
}
