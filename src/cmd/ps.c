/*
 * ps.c - "unum ps", "unum kill" and "unum wait": the processes of a node's
 * process server, or with -a (and for ids NODE.N) of the whole cluster
 * through this node's unum-clusterd, listed, signalled and waited on
 * through their /proc tree.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "9p/p9.h"
#include "conf/conf.h"
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

/* A status line, "ID PID STATE UID NODE CPU RSS ORIGIN SESSION COMMAND". */
struct pline {
	char state[16], node[64], origin[64], session[64], cmd[256];
	unsigned id, uid;
	unsigned long long cpu, rss;
	int pid;
};

static int
pline_parse(struct pline *p, const char *line)
{
	memset(p, 0, sizeof *p);
	return sscanf(line, "%u %d %15s %u %63s %llu %llu %63s %63s %255[^\n]",
	           &p->id, &p->pid, p->state, &p->uid, p->node, &p->cpu,
	           &p->rss, p->origin, p->session, p->cmd) < 9
	           ? -1
	           : 0;
}

/* One process as a row or a JSON object; name is what it is called
 * here. */
static void
show(const char *name, const struct pline *p, int json, int all, int *first)
{
	char user[64];

	user_name(p->uid, user, sizeof user);
	if (json) {
		printf("%s{\"id\":", *first ? "" : ",");
		unum_json_str(name);
		printf(",\"pid\":%d,\"user\":", p->pid);
		unum_json_str(user);
		printf(",\"uid\":%u,\"state\":", p->uid);
		unum_json_str(p->state);
		printf(",\"node\":");
		unum_json_str(p->node);
		printf(",\"cpu_ms\":%llu,\"rss_kb\":%llu,\"origin\":", p->cpu,
		    p->rss);
		unum_json_str(p->origin);
		printf(",\"session\":");
		unum_json_str(p->session);
		printf(",\"command\":");
		unum_json_str(p->cmd);
		printf("}");
	} else
		printf("%-*s %7d %-8s %-8s %4llu:%04.1f %8llu %-10s %-10s %-14s "
		       "%s\n",
		    all ? 14 : 6, name, p->pid, user, p->state, p->cpu / 60000,
		    (double)(p->cpu % 60000) / 1000, p->rss, p->node, p->origin,
		    p->session, p->cmd);
	*first = 0;
}

/* Calls each(name, line, arg) for every process of the tree at root that
 * this user may see; -errno if the tree cannot be listed. */
static int
each_proc(struct p9_cl *cl, uint32_t root,
    void (*each)(const char *, const struct pline *, void *), void *arg)
{
	size_t cap = p9_cl_msize(cl);
	uint32_t dir = p9_cl_fid_new(cl);
	uint8_t *buf;
	ssize_t n;
	int rc;

	if ((rc = p9_cl_walk(cl, root, dir, "", NULL)) < 0 ||
	    (rc = p9_cl_open(cl, dir, P9_OREAD, NULL, NULL)) < 0)
		return rc;
	if (!(buf = malloc(cap)))
		abort();
	/* 9P2000.u: a directory read gives stat records */
	for (uint64_t off = 0;;) {
		size_t k = 0;

		n = p9_cl_read(cl, dir, off, buf, cap - P9_IOHDRSZ);
		if (n <= 0)
			break;
		while (k < (size_t)n) {
			struct p9_stat st;
			struct pline p;
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
			if (read_text(cl, root, path, line, sizeof line) < 0 ||
			    pline_parse(&p, line) < 0)
				continue; /* it ended meanwhile */
			each(st.name, &p, arg);
		}
	}
	p9_cl_clunk(cl, dir);
	free(buf);
	return 0;
}

struct listing {
	const char *session; /* only this session's, or NULL */
	int json, all, first;
};

static void
list_one(const char *name, const struct pline *p, void *arg)
{
	struct listing *l = arg;

	if (!l->session || !strcmp(p->session, l->session))
		show(name, p, l->json, l->all, &l->first);
}

/* The processes of session on this node outside the process servers
 * (the session's command, what stayed where it started), found by the
 * UNUM_SESSION in their environment, as far as this user may read it;
 * not the ghosts and unum itself, nor what runs in the session's cgroup
 * here (the process server lists that).  each(pid, line) for each. */
static void
local_session(const char *session,
    void (*each)(int, const struct pline *, void *), void *arg)
{
	char want[100], host[64] = "";
	DIR *d = opendir("/proc");
	struct dirent *e;
	long tck = sysconf(_SC_CLK_TCK), pg = sysconf(_SC_PAGESIZE);

	if (!d)
		return;
	snprintf(want, sizeof want, "UNUM_SESSION=%s", session);
	gethostname(host, sizeof host - 1);
	host[strcspn(host, ".")] = '\0';
	while ((e = readdir(d))) {
		char path[64], buf[8192], stat[1024], cg[100], *rp;
		struct pline p;
		unsigned long long ut, st;
		long rss = 0;
		ssize_t n, k;
		int pid = atoi(e->d_name), fd, found = 0;
		char state;

		if (pid <= 0 || pid == (int)getpid())
			continue;
		snprintf(path, sizeof path, "/proc/%d/environ", pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		for (k = 0; k < n && !found; k += (ssize_t)strlen(buf + k) + 1)
			found = !strcmp(buf + k, want);
		if (!found)
			continue;
		memset(&p, 0, sizeof p);
		snprintf(path, sizeof path, "/proc/%d/stat", pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		n = read(fd, stat, sizeof stat - 1);
		close(fd);
		stat[n > 0 ? n : 0] = '\0';
		if (!(rp = strrchr(stat, ')')) || !strchr(stat, '(') ||
		    sscanf(rp + 2,
		        "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
		        "%*d %*d %*d %*d %*d %*d %*u %*u %ld",
		        &state, &ut, &st, &rss) != 4)
			continue;
		*rp = '\0';
		snprintf(p.cmd, sizeof p.cmd, "%s", strchr(stat, '(') + 1);
		if (!strcmp(p.cmd, "unum") || !strcmp(p.cmd, "unum-ghost"))
			continue; /* a ghost (its program is listed where it
			           * runs), or the session itself */
		snprintf(path, sizeof path, "/proc/%d/cgroup", pid);
		snprintf(cg, sizeof cg, ".%s/", session);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
			n = read(fd, buf, sizeof buf - 1);
			close(fd);
			buf[n > 0 ? n : 0] = '\0';
			if (strstr(buf, cg))
				continue;
		}
		p.pid = pid;
		p.uid = (unsigned)-1;
		{
			struct stat sb;

			snprintf(path, sizeof path, "/proc/%d", pid);
			if (lstat(path, &sb) == 0)
				p.uid = (unsigned)sb.st_uid;
		}
		snprintf(p.state, sizeof p.state, "%s",
		    state == 'T' || state == 't' ? "stopped" : "running");
		snprintf(p.node, sizeof p.node, "%s", *host ? host : "-");
		snprintf(p.origin, sizeof p.origin, "%s", p.node);
		snprintf(p.session, sizeof p.session, "%s", session);
		p.cpu = tck > 0 ? (ut + st) * 1000 / (unsigned long long)tck : 0;
		p.rss = rss > 0 ? (unsigned long long)rss * (unsigned long long)pg /
		                      1024
		                : 0;
		each(pid, &p, arg);
	}
	closedir(d);
}

static void
list_local(int pid, const struct pline *p, void *arg)
{
	struct listing *l = arg;
	char name[96];

	snprintf(name, sizeof name, "%s:%d", p->node, pid);
	show(name, p, l->json, l->all, &l->first);
}

/* Whether -a, -s and -n choose the cluster's tree: when asked for, or
 * for a session when this node runs unum-clusterd; else the node's. */
static int
cluster_wide(int all, const char *session, const char *addr)
{
	return all || (session && !addr && unum_cluster_here());
}

int
unum_session_name(const char *s)
{
	return *s && strlen(s) < 64 && s[0] != '.' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                 "0123456789-_.") == strlen(s);
}

int
unum_ps(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"node", required_argument, NULL, 'n'},
	    {"all", no_argument, NULL, 'a'},
	    {"session", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *addr = NULL, *usage =
	    "usage: unum ps [-a | -n NODE|ADDR] [-s SESSION] [--json]\n";
	struct listing l = {NULL, 0, 0, 1};
	struct p9_cl *cl;
	uint32_t root;
	int ch, rc, addr_given;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "n:as:jh", lopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			addr = optarg;
			break;
		case 'a':
			l.all = 1;
			break;
		case 's':
			l.session = optarg;
			break;
		case 'j':
			l.json = 1;
			break;
		case 'h':
			printf("%s"
			       "Lists your processes (root: everyone's) on a "
			       "node, or with -a on every\nnode of the cluster "
			       "(through unum-clusterd), named NODE.N.  -s lists "
			       "one\nsession's (`unum exec`, `unum sh`; "
			       "$UNUM_SESSION in it), on every node\nwhen "
			       "unum-clusterd runs here.\n"
			       "Columns: id, pid, user, state, CPU time, RSS "
			       "(KiB), node, origin node,\nsession, command.\n",
			    usage);
			return 0;
		default:
			fprintf(stderr, "%s", usage);
			return 2;
		}
	}
	if (optind != argc || (l.all && addr)) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	if (l.session && !unum_session_name(l.session)) {
		fprintf(stderr, "unum: ps: '%s' is not a session name\n",
		    l.session);
		return 2;
	}
	addr_given = addr != NULL;
	l.all = cluster_wide(l.all, l.session, addr);
	cl = proc_tree(l.all, addr, &root, &addr);
	if (!l.json)
		printf("%-*s %7s %-8s %-8s %9s %8s %-10s %-10s %-14s %s\n",
		    l.all ? 14 : 6, "ID", "PID", "USER", "STATE", "CPU", "RSS",
		    "NODE", "ORIGIN", "SESSION", "COMMAND");
	else
		printf("[");
	if ((rc = each_proc(cl, root, list_one, &l)) < 0) {
		fprintf(stderr, "unum: ps on %s: %s\n", addr, p9_cl_strerror(rc));
		return 1;
	}
	if (l.session && !addr_given)
		local_session(l.session, list_local, &l);
	if (l.json)
		printf("]\n");
	p9_cl_close(cl);
	return 0;
}

/* Parses "[-n NODE|ADDR] [-SIG] [-s SESSION] ID..." for kill (sig, session)
 * or wait (both NULL); returns the index of the first id, or -1 for help,
 * -2 for a bad line. */
static int
id_args(int argc, char **argv, const char **addr, const char **sig,
    const char **session)
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
		} else if (session && !strcmp(argv[i], "-s") && i + 1 < argc)
			*session = argv[++i];
		else if (sig && !strcmp(argv[i], "--signal") && i + 1 < argc)
			*sig = argv[++i];
		else if (sig && argv[i][1] != '-')
			*sig = argv[i] + 1;
		else
			return -2;
	}
	return i == argc && !(session && *session) ? -2 : i;
}

/* Writes "signal SIG" to the ctl of process id; 0 or -errno. */
static int
signal_one(struct p9_cl *cl, uint32_t root, const char *id, const char *sig)
{
	char path[128], cmd[64];
	uint32_t fid = p9_cl_fid_new(cl);
	int rc;

	snprintf(path, sizeof path, "%s/ctl", id);
	snprintf(cmd, sizeof cmd, "signal %s\n", sig);
	if ((rc = p9_cl_walk(cl, root, fid, path, NULL)) < 0) {
		p9_cl_fid_free(cl, fid);
		return rc;
	}
	if ((rc = p9_cl_open(cl, fid, P9_OWRITE, NULL, NULL)) == 0) {
		ssize_t w = p9_cl_write(cl, fid, 0, cmd, strlen(cmd));

		rc = w < 0 ? (int)w : 0;
	}
	p9_cl_clunk(cl, fid);
	return rc;
}

struct session_kill {
	struct p9_cl *cl;
	uint32_t root;
	const char *session, *sig;
	unsigned found, bad;
};

static void
kill_one(const char *name, const struct pline *p, void *arg)
{
	struct session_kill *k = arg;
	int rc;

	if (strcmp(p->session, k->session) ||
	    (strcmp(p->state, "running") && strcmp(p->state, "killed")))
		return;
	k->found++;
	if ((rc = signal_one(k->cl, k->root, name, k->sig)) < 0 &&
	    rc != -ENOENT) {
		fprintf(stderr, "unum: kill -%s %s (session %s) on %s: %s\n",
		    k->sig, name, k->session, p->node, p9_cl_strerror(rc));
		k->bad++;
	}
}

static void
kill_local_one(int pid, const struct pline *p, void *arg)
{
	struct session_kill *k = arg;
	int sig = conf_signal(k->sig);

	(void)p;
	if (sig > 0 && kill(pid, sig) == 0)
		k->found++;
}

/* kill -s SESSION: every running process of the session, on every node
 * (through unum-clusterd, when it runs here) or on one; KILL by default
 * also ends what left their process groups (the slots' cgroups). */
int
unum_kill_session(
    const char *addr, const char *session, const char *sig, int quiet)
{
	struct session_kill k = {NULL, 0, session, sig ? sig : "KILL", 0, 0};
	const char *shown;
	int rc;

	if (!unum_session_name(session)) {
		fprintf(stderr, "unum: kill: '%s' is not a session name\n",
		    session);
		return 2;
	}
	if (conf_signal(k.sig) < 0) {
		fprintf(stderr, "unum: kill: '%s' is not a signal\n", k.sig);
		return 2;
	}
	if (!addr)
		local_session(session, kill_local_one, &k);
	k.cl = proc_tree(cluster_wide(0, session, addr), addr, &k.root, &shown);
	if ((rc = each_proc(k.cl, k.root, kill_one, &k)) < 0) {
		fprintf(stderr, "unum: kill -s %s on %s: %s\n", session, shown,
		    p9_cl_strerror(rc));
		return 1;
	}
	p9_cl_close(k.cl);
	if (!k.found) {
		if (!quiet)
			fprintf(stderr, "unum: kill -s %s: no running process of "
			                "that session on %s\n",
			    session, shown);
		return 1;
	}
	return k.bad ? 1 : 0;
}

int
unum_kill(int argc, char **argv)
{
	const char *addr = NULL, *sig = NULL, *shown, *session = NULL;
	struct p9_cl *cl[2] = {NULL, NULL};
	uint32_t root[2];
	int i, rc, bad = 0;

	if ((i = id_args(argc, argv, &addr, &sig, &session)) < 0) {
		printf("usage: unum kill [-n NODE|ADDR] [-SIG] ID...\n"
		       "       unum kill [-n NODE|ADDR] [-SIG] -s SESSION\n");
		if (i == -1)
			printf("Sends SIG (default TERM) to the process group "
			       "of each ID: N on a node, NODE.N\nanywhere in "
			       "the cluster.  -s: to every process of SESSION "
			       "(default KILL,\nwhich also ends what they "
			       "started), on every node when unum-clusterd\n"
			       "runs here.\n");
		return i == -1 ? 0 : 2;
	}
	if (session) {
		if (i < argc) {
			fprintf(stderr, "unum: kill: -s SESSION or IDs, not both\n");
			return 2;
		}
		return unum_kill_session(addr, session, sig, 0);
	}
	if (!sig)
		sig = "TERM";
	for (; i < argc; i++) {
		int c = cluster_id(argv[i]);

		if (!cl[c])
			cl[c] = proc_tree(c, addr, &root[c], &shown);
		shown = c ? "the cluster" : (addr ? addr : "this node");
		if ((rc = signal_one(cl[c], root[c], argv[i], sig)) < 0) {
			if (rc == -ENOENT)
				fprintf(stderr, "unum: kill %s: no such process\n",
				    argv[i]);
			else
				fprintf(stderr, "unum: kill -%s %s on %s: %s\n",
				    sig, argv[i], shown, p9_cl_strerror(rc));
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

	if ((i = id_args(argc, argv, &addr, NULL, NULL)) < 0) {
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
