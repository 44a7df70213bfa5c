/*
 * session.c - "unum exec CMD" and "unum sh": a session.  CMD runs here
 * with libunum.so preloaded and the session's variables set (see
 * src/shim/shim.c): every program it starts, and theirs, keeps them, and
 * the programs the policy names (-d, else the compilers) are sent through
 * the process-server connection (unum-clusterd here, or $UNUM_PSC) to the
 * node it chooses, by unum-ghost in their place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

#define DEFAULT_REMOTE "cc:gcc:g++:c++:cc1:cc1plus:clang:clang++:as"

/* The shim beside this unum (build/, or ../lib/unum/). */
static int
find_shim(const char *self, char *out, size_t cap)
{
	char dir[4096], *slash;

	snprintf(dir, sizeof dir, "%s", self);
	if (!(slash = strrchr(dir, '/')))
		return -1;
	*slash = '\0';
	snprintf(out, cap, "%s/libunum.so", dir);
	if (access(out, R_OK) == 0)
		return 0;
	snprintf(out, cap, "%s/../lib/unum/libunum.so", dir);
	return access(out, R_OK) == 0 ? 0 : -1;
}

int
unum_session(int argc, char **argv)
{
	char self[4096], shim[4200], remote[4096] = "", *pre;
	const char *psc = getenv("UNUM_PSC");
	ssize_t k;
	int i = 1, sh = !strcmp(argv[0], "sh");

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: unum exec [-d PROGRAM]... CMD [ARG...]\n"
			       "       unum sh [-d PROGRAM]...\n"
			       "Runs CMD (or $SHELL) in a session: the programs "
			       "named with -d (default: the\ncompilers, " DEFAULT_REMOTE
			       ")\nrun where the cluster places them, as the "
			       "children they are.\n");
			return 0;
		}
		if (!strcmp(argv[i], "-d") && i + 1 < argc) {
			size_t n = strlen(remote);

			snprintf(remote + n, sizeof remote - n, "%s%s",
			    n ? ":" : "", argv[++i]);
			continue;
		}
		if (!strcmp(argv[i], "--"))
			break;
		fprintf(stderr, "unum: %s: unknown option '%s'\n", argv[0],
		    argv[i]);
		return 255;
	}
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (!sh && i >= argc) {
		fprintf(stderr, "usage: unum exec [-d PROGRAM]... CMD [ARG...]\n");
		return 255;
	}
	if ((k = readlink("/proc/self/exe", self, sizeof self - 1)) < 0) {
		fprintf(stderr, "unum: cannot find myself: %s\n", strerror(errno));
		return 255;
	}
	self[k] = '\0';
	if (find_shim(self, shim, sizeof shim) < 0) {
		fprintf(stderr, "unum: %s: no libunum.so beside %s\n", argv[0],
		    self);
		return 255;
	}
	if (!psc || !*psc)
		psc = unum_cluster_here() ? unum_cluster_socket() : NULL;
	setenv("UNUM_SHIM", shim, 1);
	setenv("UNUM_GHOST", self, 1);
	setenv("UNUM_REMOTE", *remote ? remote : DEFAULT_REMOTE, 1);
	if (psc)
		setenv("UNUM_PSC", psc, 1); /* none: all stays here */
	unsetenv("UNUM_PLACED");
	pre = getenv("LD_PRELOAD");
	if (pre && *pre) {
		char *both;

		if (asprintf(&both, "%s:%s", shim, pre) < 0)
			abort();
		setenv("LD_PRELOAD", both, 1);
	} else
		setenv("LD_PRELOAD", shim, 1);
	if (sh) {
		const char *shell = getenv("SHELL");

		if (!shell || !*shell)
			shell = "/bin/sh";
		execl(shell, shell, (char *)NULL);
		fprintf(stderr, "unum: sh: %s: %s\n", shell, strerror(errno));
		return 255;
	}
	execvp(argv[i], argv + i);
	fprintf(stderr, "unum: exec: %s: %s\n", argv[i], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
