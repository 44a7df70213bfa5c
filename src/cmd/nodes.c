/*
 * nodes.c - "unum nodes", "unum drain", "unum undrain" and "unum join":
 * the cluster as this node's unum-clusterd sees it, through its /cluster
 * tree (members, ctl).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "9p/p9.h"
#include "cluster/cluster.h"
#include "run.h"

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fputs("unum: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(255);
}

const char *
unum_cluster_socket(void)
{
	const char *s = getenv("UNUM_CLUSTER");

	return s && *s ? s : UNUM_CLUSTER_SOCKET;
}

struct p9_cl *
unum_cluster_connect(const char *tree, uint32_t *root)
{
	const char *path = unum_cluster_socket();
	struct p9_client_opts o;
	struct p9_addr a;
	struct p9_cl *cl;
	char uname[32];
	int e = 0, rc;

	if (p9_addr_parse(&a, path, 0) < 0 || !a.is_unix)
		die("$UNUM_CLUSTER: '%s' is not a Unix socket path", path);
	memset(&o, 0, sizeof o);
	o.dialect = P9_2000U; /* errors come with their text */
	o.msize = 64 * 1024;
	if (!(cl = p9_cl_connect(&a, &o, &e)))
		die("cannot reach the cluster daemon at %s: %s (is "
		    "unum-clusterd running on this node?)",
		    a.path, strerror(-e));
	*root = p9_cl_fid_new(cl);
	snprintf(uname, sizeof uname, "%u", (unsigned)geteuid());
	if ((rc = p9_cl_attach(cl, *root, uname, (uint32_t)geteuid(), tree,
	         NULL)) < 0)
		die("the cluster daemon at %s: %s", a.path, p9_cl_strerror(rc));
	return cl;
}

int
unum_read_text(
    struct p9_cl *cl, uint32_t root, const char *path, char **out, size_t *len)
{
	uint32_t fid = p9_cl_fid_new(cl);
	size_t cap = 0;
	ssize_t n;
	int rc;

	*out = NULL;
	*len = 0;
	if ((rc = p9_cl_walk(cl, root, fid, path, NULL)) < 0) {
		p9_cl_fid_free(cl, fid);
		return rc;
	}
	if ((rc = p9_cl_open(cl, fid, P9_OREAD, NULL, NULL)) < 0)
		goto out;
	do {
		if (cap - *len < 65536) {
			cap = cap ? 2 * cap : 65536;
			if (!(*out = realloc(*out, cap + 1)))
				abort();
		}
		n = p9_cl_read(cl, fid, *len, *out + *len, cap - *len);
		if (n > 0)
			*len += (size_t)n;
	} while (n > 0);
	if (n < 0)
		rc = (int)n;
	(*out)[*len] = '\0';
out:
	p9_cl_clunk(cl, fid);
	return rc;
}

/* The value of key in a line of "key=value" words ("" if absent), into v. */
static void
field(const char *line, const char *key, char *v, size_t cap)
{
	size_t k = strlen(key);
	const char *p = line;

	*v = '\0';
	while (*p) {
		const char *end = p + strcspn(p, " \n");

		if ((size_t)(end - p) > k && !strncmp(p, key, k) && p[k] == '=') {
			size_t n = (size_t)(end - p) - k - 1;

			if (n >= cap)
				n = cap - 1;
			memcpy(v, p + k + 1, n);
			v[n] = '\0';
			return;
		}
		p = end + strspn(end, " ");
		if (*p == '\n')
			return;
	}
}

int
unum_cluster_here(void)
{
	struct stat st;

	return stat(unum_cluster_socket(), &st) == 0 && S_ISSOCK(st.st_mode);
}

static enum clu_state
state_of(const char *s)
{
	return !strcmp(s, "alive")     ? CLU_ALIVE
	       : !strcmp(s, "suspect") ? CLU_SUSPECT
	       : !strcmp(s, "left")    ? CLU_LEFT
	                               : CLU_DEAD;
}

void
unum_members(struct clu_member **out, size_t *n)
{
	struct p9_cl *cl;
	uint32_t root;
	char *text, *line, *save = NULL;
	size_t len, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	cl = unum_cluster_connect("cluster", &root);
	if ((rc = unum_read_text(cl, root, "members", &text, &len)) < 0)
		die("cannot read the members: %s", p9_cl_strerror(rc));
	p9_cl_close(cl);
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct clu_member *m;
		char v[CLU_LABELS_MAX];

		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			if (!(*out = realloc(*out, cap * sizeof **out)))
				abort();
		}
		m = &(*out)[*n];
		memset(m, 0, sizeof *m);
		field(line, "name", m->name, sizeof m->name);
		if (!*m->name)
			continue;
		field(line, "addr", m->addr, sizeof m->addr);
		field(line, "state", v, sizeof v);
		m->state = state_of(v);
		field(line, "arch", m->m.arch, sizeof m->m.arch);
		field(line, "ncpu", v, sizeof v);
		m->m.ncpu = (uint16_t)strtoul(v, NULL, 10);
		field(line, "load", v, sizeof v);
		m->m.load = (uint32_t)(strtod(v, NULL) * 1000 + 0.5);
		field(line, "memfree", v, sizeof v);
		m->m.memfree = strtoull(v, NULL, 10);
		field(line, "drain", v, sizeof v);
		m->m.drain = !strcmp(v, "1");
		field(line, "labels", m->m.labels, sizeof m->m.labels);
		if (!strcmp(m->m.labels, "-"))
			*m->m.labels = '\0';
		field(line, "self", v, sizeof v);
		m->self = !strcmp(v, "1");
		(*n)++;
	}
	free(text);
}

const char *
unum_self_addr(void)
{
	static char addr[CLU_ADDR_MAX];
	struct clu_member *m;
	size_t n, k;

	unum_members(&m, &n);
	for (k = 0; k < n && !m[k].self; k++)
		;
	if (k < n)
		snprintf(addr, sizeof addr, "%s", m[k].addr);
	free(m);
	return *addr ? addr : NULL;
}

static void
human(unsigned long long b, char *out, size_t cap)
{
	const char *u = "KMGTP";
	double v = (double)b;
	int i = -1;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	if (i < 0)
		snprintf(out, cap, "%lluB", b);
	else
		snprintf(out, cap, "%.1f%c", v, u[i]);
}

static void
usage_nodes(FILE *f)
{
	fprintf(f,
	    "usage: unum nodes [--json]\n"
	    "The members of the cluster as this node sees them: state (alive,\n"
	    "draining, suspect, dead, left), unumd address, arch, CPUs, load\n"
	    "(runnable per CPU), free memory, labels.  '*' marks this node.\n"
	    "Reads $UNUM_CLUSTER, else " UNUM_CLUSTER_SOCKET ".\n");
}

int
unum_nodes(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch, json = 0, rc, first = 1;
	struct p9_cl *cl;
	uint32_t root;
	char *text, *line, *save = NULL;
	size_t len;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "jh", lopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		case 'h':
			usage_nodes(stdout);
			return 0;
		default:
			fprintf(stderr, "usage: unum nodes [--json]\n");
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: unum nodes [--json]\n");
		return 2;
	}
	cl = unum_cluster_connect("cluster", &root);
	if ((rc = unum_read_text(cl, root, "members", &text, &len)) < 0)
		die("cannot read the members: %s", p9_cl_strerror(rc));
	p9_cl_close(cl);
	if (json)
		putchar('[');
	else
		printf("%-1s%-16s %-8s %-21s %-8s %4s %6s %8s %s\n", "", "NODE",
		    "STATE", "ADDR", "ARCH", "CPUS", "LOAD", "MEMFREE", "LABELS");
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[64], state[16], addr[64], arch[16], ncpu[8], load[16],
		    mem[24], drain[4], labels[128], version[16], since[24],
		    self[4], memh[16];

		field(line, "name", name, sizeof name);
		field(line, "state", state, sizeof state);
		field(line, "addr", addr, sizeof addr);
		field(line, "arch", arch, sizeof arch);
		field(line, "ncpu", ncpu, sizeof ncpu);
		field(line, "load", load, sizeof load);
		field(line, "memfree", mem, sizeof mem);
		field(line, "drain", drain, sizeof drain);
		field(line, "labels", labels, sizeof labels);
		field(line, "version", version, sizeof version);
		field(line, "since", since, sizeof since);
		field(line, "self", self, sizeof self);
		if (!*name)
			continue;
		if (!strcmp(drain, "1") && !strcmp(state, "alive"))
			strcpy(state, "draining");
		if (json) {
			printf("%s{\"node\":", first ? "" : ",");
			unum_json_str(name);
			printf(",\"state\":");
			unum_json_str(state);
			printf(",\"addr\":");
			unum_json_str(addr);
			printf(",\"arch\":");
			unum_json_str(arch);
			printf(",\"ncpu\":%s,\"load\":%s,\"memfree\":%s,"
			       "\"drain\":%s,\"labels\":[",
			    *ncpu ? ncpu : "0", *load ? load : "0",
			    *mem ? mem : "0",
			    !strcmp(drain, "1") ? "true" : "false");
			if (strcmp(labels, "-")) {
				char *l, *s2 = NULL;
				int lf = 1;

				for (l = strtok_r(labels, ",", &s2); l;
				     l = strtok_r(NULL, ",", &s2)) {
					printf("%s", lf ? "" : ",");
					unum_json_str(l);
					lf = 0;
				}
			}
			printf("],\"version\":");
			unum_json_str(version);
			printf(",\"since\":%s,\"self\":%s}", *since ? since : "0",
			    *self ? "true" : "false");
		} else {
			human(strtoull(mem, NULL, 10), memh, sizeof memh);
			printf("%-1s%-16s %-8s %-21s %-8s %4s %6s %8s %s\n",
			    *self ? "*" : "", name, state, addr, arch, ncpu, load,
			    memh, labels);
		}
		first = 0;
	}
	if (json)
		printf("]\n");
	free(text);
	return 0;
}

static void
usage_ctl(FILE *f, const char *cmd)
{
	if (!strcmp(cmd, "join"))
		fprintf(f,
		    "usage: unum join HOST[:PORT]\n"
		    "This node's unum-clusterd joins the cluster of the member "
		    "at HOST\n(its membership port, default 5641).  Root "
		    "only.\n");
	else
		fprintf(f,
		    "usage: unum %s NODE...\n"
		    "%s: %s.  Root only.\n",
		    cmd, cmd,
		    !strcmp(cmd, "drain")
		        ? "no new processes are placed on NODE; what runs "
		          "there finishes"
		        : "NODE takes new processes again");
}

/* unum drain|undrain NODE..., unum join HOST: a line each to ctl. */
int
unum_cluster_ctl(int argc, char **argv)
{
	const char *cmd = argv[0];
	struct p9_cl *cl;
	uint32_t root, fid;
	int i, rc, bad = 0;

	if (argc >= 2 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage_ctl(stdout, cmd);
		return 0;
	}
	if (argc < 2 || (!strcmp(cmd, "join") && argc != 2) ||
	    argv[1][0] == '-') {
		usage_ctl(stderr, cmd);
		return 2;
	}
	cl = unum_cluster_connect("cluster", &root);
	fid = p9_cl_fid_new(cl);
	if ((rc = p9_cl_walk(cl, root, fid, "ctl", NULL)) < 0 ||
	    (rc = p9_cl_open(cl, fid, P9_OWRITE, NULL, NULL)) < 0)
		die("%s: %s", cmd, p9_cl_strerror(rc));
	for (i = 1; i < argc; i++) {
		char line[300];
		ssize_t n;

		if (strpbrk(argv[i], " \t\n'")) {
			fprintf(stderr, "unum: %s: bad name '%s'\n", cmd, argv[i]);
			bad = 1;
			continue;
		}
		snprintf(line, sizeof line, "%s %s\n", cmd, argv[i]);
		n = p9_cl_write(cl, fid, 0, line, strlen(line));
		if (n < 0) {
			fprintf(stderr, "unum: %s\n", p9_cl_strerror((int)n));
			bad = 1;
		}
	}
	p9_cl_clunk(cl, fid);
	p9_cl_close(cl);
	return bad ? 1 : 0;
}
