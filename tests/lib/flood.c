/*
 * flood.c - hostile 9P clients for tests/cmd/tls.sh, on the library's
 * blocking client: "fids SOCK N" makes N fids by walks that are never
 * clunked; "forge SOCK UID" attaches claiming another uid; "peek ADDR UID
 * SLOT" attaches to proc as UID (over TLS with $UNUM_KEY: as a node would
 * for its user) and tries to read and signal process SLOT.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "9p/p9.h"

int
main(int argc, char **argv)
{
	struct p9_client_opts o;
	struct p9_addr a;
	struct p9_cl *cl;
	uint32_t root;
	char uname[32];
	long i, n, ok = 0, emfile = 0, other = 0;
	int e = 0, rc;

	if (argc < 4 || p9_addr_parse(&a, argv[2], 5640) < 0)
		return 2;
	memset(&o, 0, sizeof o);
	o.dialect = P9_2000U;
	if (!a.is_unix && getenv("UNUM_KEY")) {
		uint8_t k[P9_KEY_LEN];
		char err[256];

		if (p9_key_read(getenv("UNUM_KEY"), k, err, sizeof err) < 0 ||
		    !(o.tls = p9_tls_ctx_new(0, k, NULL, err, sizeof err))) {
			printf("%s\n", err);
			return 1;
		}
	}
	if (!(cl = p9_cl_connect(&a, &o, &e))) {
		printf("connect: %s\n", strerror(-e));
		return 1;
	}
	root = p9_cl_fid_new(cl);
	n = strtol(argv[3], NULL, 10);
	if (!strcmp(argv[1], "peek") && argc == 5) {
		char path[64], buf[256];
		uint32_t f = p9_cl_fid_new(cl);
		ssize_t k;

		snprintf(uname, sizeof uname, "%ld", n);
		if ((rc = p9_cl_attach(cl, root, uname, (uint32_t)n, "proc",
		         NULL)) < 0) {
			printf("attach: %s\n", strerror(-rc));
			return 1;
		}
		snprintf(path, sizeof path, "%s/status", argv[4]);
		rc = p9_cl_walk(cl, root, f, path, NULL);
		if (rc == 0 && (rc = p9_cl_open(cl, f, P9_OREAD, NULL, NULL)) == 0 &&
		    (k = p9_cl_read(cl, f, 0, buf, sizeof buf - 1)) >= 0) {
			buf[k] = 0;
			printf("read: %s", buf);
		} else {
			printf("read: %s\n", strerror(-rc));
		}
		f = p9_cl_fid_new(cl);
		snprintf(path, sizeof path, "%s/ctl", argv[4]);
		rc = p9_cl_walk(cl, root, f, path, NULL);
		if (rc == 0 && (rc = p9_cl_open(cl, f, P9_OWRITE, NULL, NULL)) == 0)
			rc = (int)p9_cl_write(cl, f, 0, "signal KILL\n", 12);
		printf("signal: %s\n", rc < 0 ? strerror(-rc) : "sent");
		return 0;
	}
	if (!strcmp(argv[1], "forge")) {
		snprintf(uname, sizeof uname, "%ld", n);
		rc = p9_cl_attach(cl, root, uname, (uint32_t)n, "proc", NULL);
		printf("attach as %ld: %s\n", n, rc < 0 ? strerror(-rc) : "ok");
		return rc < 0 ? 0 : 1;
	}
	snprintf(uname, sizeof uname, "%u", (unsigned)geteuid());
	if ((rc = p9_cl_attach(cl, root, uname, (uint32_t)geteuid(), "ram",
	         NULL)) < 0) {
		printf("attach: %s\n", strerror(-rc));
		return 1;
	}
	for (i = 0; i < n; i++) {
		uint32_t fid = p9_cl_fid_new(cl);

		rc = p9_cl_walk(cl, root, fid, "", NULL);
		if (rc == 0)
			ok++;
		else if (rc == -EMFILE)
			emfile++;
		else
			other++;
		if (rc < 0)
			p9_cl_fid_free(cl, fid);
	}
	printf("walks %ld made %ld refused-emfile %ld other %ld\n", n, ok,
	    emfile, other);
	p9_cl_close(cl);
	return 0;
}
