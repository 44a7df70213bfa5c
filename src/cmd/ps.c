/*
 * ps.c - "unum ps" and "unum kill": the processes of a node's process
 * server, listed and signalled through its /proc tree.
 */
#include <errno.h>
#include <getopt.h>
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
	uint32_t fid = p9_cl_fid_new(cl);
	ssize_t n = -1;
	int rc;

	if ((rc = p9_cl_walk(cl, root, fid, path, NULL)) < 0) {
		p9_cl_fid_free(cl, fid);
		return rc;
	}
	if ((rc = p9_cl_open(cl, fid, P9_OREAD, NULL, NULL)) == 0)
		n = p9_cl_read(cl, fid, 0, buf, cap - 1);
	p9_cl_clunk(cl, fid);
	if (rc < 0)
		return rc;
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	return 0;
}

int
unum_ps(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"node", required_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *addr = NULL;
	struct p9_cl *cl;
	uint32_t root, dir;
	int ch, json = 0, rc, first = 1;
	uint8_t *buf;
	size_t cap;
	ssize_t n;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "n:jh", lopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			addr = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			printf("usage: unum ps [-n NODE|ADDR] [--json]\n"
			       "Lists your processes on a node (root: all).\n");
			return 0;
		default:
			fprintf(stderr, "usage: unum ps [-n NODE|ADDR] "
			                "[--json]\n");
			return 2;
		}
	}
	cl = unum_proc_connect(addr, &root, &addr);
	cap = p9_cl_msize(cl);
	if (!(buf = malloc(cap)))
		abort();
	dir = p9_cl_fid_new(cl);
	if ((rc = p9_cl_walk(cl, root, dir, "", NULL)) < 0 ||
	    (rc = p9_cl_open(cl, dir, P9_OREAD, NULL, NULL)) < 0) {
		fprintf(stderr, "unum: ps on %s: %s\n", addr, strerror(-rc));
		return 1;
	}
	if (json)
		printf("[");
	else
		printf("%6s %7s %-8s %6s %-12s %s\n", "ID", "PID", "STATE",
		    "UID", "NODE", "COMMAND");
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
			char path[64], line[512], cmd[256] = "";
			unsigned id = 0, uid = 0;
			int pid = 0;
			char state[16] = "", node[64] = "";

			if (len > sizeof rec - 1)
				len = sizeof rec - 1;
			memcpy(rec, buf + k, len);
			if ((used = p9_stat_unpack(&st, rec, len, P9_2000U)) <
			    0)
				break;
			k += (size_t)used;
			off += (uint64_t)used;
			if (!strcmp(st.name, "clone"))
				continue;
			snprintf(path, sizeof path, "%s/status", st.name);
			if (read_text(cl, root, path, line, sizeof line) < 0)
				continue; /* it ended meanwhile */
			if (sscanf(line, "%u %d %15s %u %63s %255[^\n]", &id,
			        &pid, state, &uid, node, cmd) < 5)
				continue;
			if (json) {
				printf("%s{\"id\":%u,\"pid\":%d,\"state\":",
				    first ? "" : ",", id, pid);
				unum_json_str(state);
				printf(",\"uid\":%u,\"node\":", uid);
				unum_json_str(node);
				printf(",\"command\":");
				unum_json_str(cmd);
				printf("}");
				first = 0;
			} else
				printf("%6u %7d %-8s %6u %-12s %s\n", id, pid,
				    state, uid, node, cmd);
		}
	}
	if (json)
		printf("]\n");
	free(buf);
	p9_cl_close(cl);
	return 0;
}

int
unum_kill(int argc, char **argv)
{
	const char *addr = NULL, *sig = "TERM";
	struct p9_cl *cl;
	uint32_t root, fid;
	char path[64], cmd[64];
	int i, rc, bad = 0;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			addr = argv[++i];
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			sig = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: unum kill [-n NODE|ADDR] [-SIG|-s SIG] "
			       "ID...\nSends SIG (default TERM) to the "
			       "process group of each ID.\n");
			return 0;
		} else
			sig = argv[i] + 1;
	}
	if (i == argc) {
		fprintf(stderr, "usage: unum kill [-n NODE|ADDR] [-SIG] "
		                "ID...\n");
		return 2;
	}
	cl = unum_proc_connect(addr, &root, &addr);
	for (; i < argc; i++) {
		snprintf(path, sizeof path, "%s/ctl", argv[i]);
		snprintf(cmd, sizeof cmd, "signal %s\n", sig);
		fid = p9_cl_fid_new(cl);
		if ((rc = p9_cl_walk(cl, root, fid, path, NULL)) < 0) {
			p9_cl_fid_free(cl, fid);
			fprintf(stderr,
			    "unum: kill %s on %s: no such process\n", argv[i],
			    addr);
			bad = 1;
			continue;
		}
		if ((rc = p9_cl_open(cl, fid, P9_OWRITE, NULL, NULL)) == 0) {
			ssize_t w = p9_cl_write(cl, fid, 0, cmd, strlen(cmd));

			rc = w < 0 ? (int)w : 0;
		}
		p9_cl_clunk(cl, fid);
		if (rc < 0) {
			fprintf(stderr, "unum: kill -%s %s on %s: %s\n", sig,
			    argv[i], addr, strerror(-rc));
			bad = 1;
		}
	}
	p9_cl_close(cl);
	return bad;
}
