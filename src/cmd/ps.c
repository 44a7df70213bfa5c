/*
 * ps.c - "unum ps", "unum kill" and "unum wait": the processes of a node's
 * process server, or with -a (and for ids NODE.N) of the whole cluster
 * through this node's unum-clusterd, listed, signalled and waited on
 * through their /proc tree.
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "9p/p9.h"
#include "run.h"

static int
read_text(
    struct p9_cl *cl, uint32_t root, const char *path, char *buf, size_t cap)
{
	char *t;
	size_t len;
	int rc = unum_read_text(cl, root, path, &t, &len);

	if (rc == 0)
		snprintf(buf, cap, "%s", t);
	free(t);
	return rc;
}

/* An id names a process of the cluster (NODE.N), not of one node (N). */
static int
cluster_id(const char *id)
{
	return strchr(id, '.') != NULL;
}

/* The process tree for ids like id: the cluster's (through this node's
 * unum-clusterd) or the node's at addr. */
static struct p9_cl *
proc_tree(int cluster, const char *addr, uint32_t *root, const char **shown)
{
	if (!cluster)
		return unum_proc_connect(addr, root, shown);
	*shown = "the cluster";
	return unum_cluster_connect("proc", root);
}

static void
user_name(unsigned uid, char *out, size_t cap)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(out, cap, "%s", pw->pw_name);
	else
		snprintf(out, cap, "%u", uid);
}

/* One status line ("ID PID STATE UID NODE CPU RSS ORIGIN COMMAND") as a
 * row or a JSON object; name is what the process is called here. */
static int
show(const char *name, const char *line, int json, int all, int *first)
{
	char state[16] = "", node[64] = "", origin[64] = "", cmd[256] = "",
	     user[64];
	unsigned id = 0, uid = 0;
	unsigned long long cpu = 0, rss = 0;
	int pid = 0;

	if (sscanf(line, "%u %d %15s %u %63s %llu %llu %63s %255[^\n]", &id,
	        &pid, state, &uid, node, &cpu, &rss, origin, cmd) < 8)
		return -1;
	user_name(uid, user, sizeof user);
	if (json) {
		printf("%s{\"id\":", *first ? "" : ",");
		unum_json_str(name);
		printf(",\"pid\":%d,\"user\":", pid);
		unum_json_str(user);
		printf(",\"uid\":%u,\"state\":", uid);
		unum_json_str(state);
		printf(",\"node\":");
		unum_json_str(node);
		printf(",\"cpu_ms\":%llu,\"rss_kb\":%llu,\"origin\":", cpu, rss);
		unum_json_str(origin);
		printf(",\"command\":");
		unum_json_str(cmd);
		printf("}");
	} else
		printf("%-*s %7d %-8s %-8s %4llu:%04.1f %8llu %-10s %-10s %s\n",
		    all ? 14 : 6, name, pid, user, state, cpu / 60000,
		    (double)(cpu % 60000) / 1000, rss, node, origin, cmd);
	*first = 0;
	return 0;
}

int
unum_ps(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"node", required_argument, NULL, 'n'},
	    {"all", no_argument, NULL, 'a'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *addr = NULL, *usage =
	    "usage: unum ps [-a | -n NODE|ADDR] [--json]\n";
	struct p9_cl *cl;
	uint32_t root, dir;
	int ch, json = 0, all = 0, rc, first = 1;
	uint8_t *buf;
	size_t cap;
	ssize_t n;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "n:ajh", lopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			addr = optarg;
			break;
		case 'a':
			all = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			printf("%s"
			       "Lists your processes (root: everyone's) on a "
			       "node, or with -a on every\nnode of the cluster "
			       "(through unum-clusterd), named NODE.N.\n"
			       "Columns: id, pid, user, state, CPU time, RSS "
			       "(KiB), node, origin node, command.\n",
			    usage);
			return 0;
		default:
			fprintf(stderr, "%s", usage);
			return 2;
		}
	}
	if (optind != argc || (all && addr)) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	cl = proc_tree(all, addr, &root, &addr);
	cap = p9_cl_msize(cl);
	if (!(buf = malloc(cap)))
		abort();
	dir = p9_cl_fid_new(cl);
	if ((rc = p9_cl_walk(cl, root, dir, "", NULL)) < 0 ||
	    (rc = p9_cl_open(cl, dir, P9_OREAD, NULL, NULL)) < 0) {
		fprintf(stderr, "unum: ps on %s: %s\n", addr,
		    p9_cl_strerror(rc));
		return 1;
	}
	if (json)
		printf("[");
	else
		printf("%-*s %7s %-8s %-8s %9s %8s %-10s %-10s %s\n",
		    all ? 14 : 6, "ID", "PID", "USER", "STATE", "CPU", "RSS",
		    "NODE", "ORIGIN", "COMMAND");
	/* 9P2000.u: a directory read gives stat records */
	for (uint64_t off = 0;;) {
		size_t k = 0;

		n = p9_cl_read(cl, dir, off, buf, cap - P9_IOHDRSZ);
		if (n <= 0)
			break;
		while (k < (size_t)n) {
			struct p9_stat st;
			uint8_t rec[512];
			size_t len = (size_t)n - k;
			ssize_t used;
			char path[128], line[512];

			if (len > sizeof rec - 1)
				len = sizeof rec - 1;
			memcpy(rec, buf + k, len);
			if ((used = p9_stat_unpack(&st, rec, len, P9_2000U)) <
			    0)
				break;
			k += (size_t)used;
			off += (uint64_t)used;
			if (!strcmp(st.name, "clone") || !strcmp(st.name, "policy"))
				continue;
			snprintf(path, sizeof path, "%s/status", st.name);
			if (read_text(cl, root, path, line, sizeof line) < 0)
				continue; /* it ended meanwhile */
			show(st.name, line, json, all, &first);
		}
	}
	if (json)
		printf("]\n");
	free(buf);
	p9_cl_close(cl);
	return 0;
}

/* Parses "[-n NODE|ADDR] [-SIG|-s SIG] ID..." for kill (sig) or wait
 * (sig NULL); returns the index of the first id, or -1 for help, -2 for a
 * bad line. */
static int
id_args(int argc, char **argv, const char **addr, const char **sig)
{
	int i;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			*addr = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return -1;
		else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (sig && !strcmp(argv[i], "-s") && i + 1 < argc)
			*sig = argv[++i];
		else if (sig)
			*sig = argv[i] + 1;
		else
			return -2;
	}
	return i == argc ? -2 : i;
}

int
unum_kill(int argc, char **argv)
{
	const char *addr = NULL, *sig = "TERM", *shown;
	struct p9_cl *cl[2] = {NULL, NULL};
	uint32_t root[2], fid;
	char path[128], cmd[64];
	int i, rc, bad = 0;

	if ((i = id_args(argc, argv, &addr, &sig)) < 0) {
		printf("usage: unum kill [-n NODE|ADDR] [-SIG|-s SIG] ID...\n");
		if (i == -1)
			printf("Sends SIG (default TERM) to the process group "
			       "of each ID: N on a node, NODE.N\nanywhere in "
			       "the cluster.\n");
		return i == -1 ? 0 : 2;
	}
	for (; i < argc; i++) {
		int c = cluster_id(argv[i]);

		if (!cl[c])
			cl[c] = proc_tree(c, addr, &root[c], &shown);
		shown = c ? "the cluster" : (addr ? addr : "this node");
		snprintf(path, sizeof path, "%s/ctl", argv[i]);
		snprintf(cmd, sizeof cmd, "signal %s\n", sig);
		fid = p9_cl_fid_new(cl[c]);
		if ((rc = p9_cl_walk(cl[c], root[c], fid, path, NULL)) < 0) {
			p9_cl_fid_free(cl[c], fid);
			fprintf(stderr, "unum: kill %s: %s\n", argv[i],
			    rc == -ENOENT ? "no such process"
			                  : p9_cl_strerror(rc));
			bad = 1;
			continue;
		}
		if ((rc = p9_cl_open(cl[c], fid, P9_OWRITE, NULL, NULL)) == 0) {
			ssize_t w = p9_cl_write(cl[c], fid, 0, cmd, strlen(cmd));

			rc = w < 0 ? (int)w : 0;
		}
		p9_cl_clunk(cl[c], fid);
		if (rc < 0) {
			fprintf(stderr, "unum: kill -%s %s on %s: %s\n", sig,
			    argv[i], shown, p9_cl_strerror(rc));
			bad = 1;
		}
	}
	for (i = 0; i < 2; i++)
		if (cl[i])
			p9_cl_close(cl[i]);
	return bad;
}

/* unum wait ID...: waits for each to end; prints "ID exit N" or "ID
 * signal N" (or "ID lost"), and exits as the last did. */
int
unum_wait(int argc, char **argv)
{
	const char *addr = NULL, *shown;
	struct p9_cl *cl[2] = {NULL, NULL};
	uint32_t root[2];
	char path[128], line[512];
	int i, rc, status = 0;

	if ((i = id_args(argc, argv, &addr, NULL)) < 0) {
		printf("usage: unum wait [-n NODE|ADDR] ID...\n");
		if (i == -1)
			printf("Waits until each process (N on a node, NODE.N "
			       "in the cluster) ends and prints\nhow; exits "
			       "with the last one's status (128+SIG for a "
			       "signal, 255 if lost).\n");
		return i == -1 ? 0 : 2;
	}
	for (; i < argc; i++) {
		int c = cluster_id(argv[i]), code;

		if (!cl[c])
			cl[c] = proc_tree(c, addr, &root[c], &shown);
		snprintf(path, sizeof path, "%s/wait", argv[i]);
		if ((rc = read_text(cl[c], root[c], path, line, sizeof line)) <
		    0) {
			if (rc == -EHOSTDOWN || rc == -ECONNRESET) {
				/* its node is gone: so is the process */
				printf("%s lost\n", argv[i]);
				fprintf(stderr, "unum: wait %s: %s\n", argv[i],
				    p9_cl_strerror(rc));
				status = 255;
				continue;
			}
			fprintf(stderr, "unum: wait %s: %s\n", argv[i],
			    rc == -ENOENT ? "no such process"
			                  : p9_cl_strerror(rc));
			status = 255;
			continue;
		}
		line[strcspn(line, "\n")] = '\0';
		printf("%s %s\n", argv[i], line);
		if (!strncmp(line, "lost", 4)) {
			fprintf(stderr, "unum: wait %s: its node died: the process "
			                "is lost\n",
			    argv[i]);
			status = 255;
		} else if (sscanf(line, "exit %d", &code) == 1)
			status = code;
		else if (sscanf(line, "signal %d", &code) == 1)
			status = 128 + code;
	}
	fflush(stdout);
	for (i = 0; i < 2; i++)
		if (cl[i])
			p9_cl_close(cl[i]);
	return status;
}
