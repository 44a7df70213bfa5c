/*
 * unum - the user's command.  For now: "unum 9p", a 9P client for looking
 * at and changing any node's tree (and any other 9P server's) from a shell.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "9p/p9.h"
#include "fuse/mount.h"
#include "run.h"

#define UNUM_VERSION "0.1.0"

struct ctx {
	struct p9_cl *cl;
	const char *addr;
	const char *aname;
	uint32_t root;
	int json;
	int lng;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: unum COMMAND [ARG...]\n"
	    "Commands:\n"
	    "  9p [-a ADDR] [-A ANAME] [-V VERSION] [-D] OP PATH\n"
	    "      talk 9P to a node (or any 9P server); OP is one of:\n"
	    "        ls [-l] [--json] PATH  list a directory\n"
	    "        read PATH              copy a file to standard output\n"
	    "        write PATH             copy standard input to a file\n"
	    "                               (made if missing, else truncated)\n"
	    "        stat [--json] PATH     show a file's attributes\n"
	    "        mkdir PATH             make a directory\n"
	    "        rm PATH                remove a file or empty directory\n"
	    "      ADDR: unix:PATH, PATH, HOST:PORT (default $UNUM_ADDR, "
	    "else " UNUM_SOCKET ")\n"
	    "  run [-N] [-n NODE] CMD ARG...\n"
	    "      run CMD on a node as if here (see unum run --help)\n"
	    "  exec [-d PATTERN]... CMD    CMD in a session: the programs named\n"
	    "                              (default: the compilers) run where the\n"
	    "                              cluster places them (unum exec --help)\n"
	    "  sh [-d PATTERN]...          your shell in a session\n"
	    "  ps [-a | -n NODE] [-s SESSION] [--json]\n"
	    "                              your processes on a node (-a: the "
	    "cluster;\n"
	    "                              -s: a session's)\n"
	    "  kill [-n NODE] [-SIG] ID... signal processes (N, or NODE.N "
	    "anywhere)\n"
	    "  kill [-SIG] -s SESSION      end a session everywhere (default "
	    "KILL)\n"
	    "  wait [-n NODE] ID...        wait for processes to end\n"
	    "  mount [-f] [-o OPTS] ADDR[:ANAME] DIR\n"
	    "      a node's files (or processes: ANAME proc) on DIR (FUSE)\n"
	    "  umount DIR                  undo a mount\n"
	    "  nodes [--json]              the cluster's members and their "
	    "state\n"
	    "  drain NODE... / undrain NODE...\n"
	    "      stop / restart placing new processes on NODE (root)\n"
	    "  join HOST[:PORT]            this node joins the cluster of HOST "
	    "(root)\n"
	    "  keygen [-f] [FILE]          a new cluster key (default "
	    "/etc/unum/cluster.key)\n"
	    "  version                     print the version\n"
	    "  help                        this help\n");
}

static int
fail(struct ctx *c, const char *op, const char *path, int err)
{
	/* the server's own words, where it said more than the errno */
	const char *said = p9_cl_last_error(err);

	if (said && !strcmp(said, p9_errstr(-err)))
		said = NULL;
	fprintf(stderr, "unum: %s %s on %s: %s\n", op, path, c->addr,
	    said ? said : strerror(-err));
	return 1;
}

/* Walks from the root to path; the new fid or -errno. */
static int64_t
walk_to(struct ctx *c, const char *path)
{
	uint32_t fid = p9_cl_fid_new(c->cl);
	int rc;

	while (*path == '/')
		path++;
	if ((rc = p9_cl_walk(c->cl, c->root, fid, path, NULL)) < 0) {
		p9_cl_fid_free(c->cl, fid);
		return rc;
	}
	return fid;
}

/* Splits "a/b/c" into the directory "a/b" and the name "c". */
static int
split(const char *path, char *dir, size_t cap, const char **name)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (n >= cap)
		return -ENAMETOOLONG;
	memcpy(dir, path, n);
	dir[n] = '\0';
	*name = slash ? slash + 1 : path;
	return **name ? 0 : -EINVAL;
}

void
unum_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void
mode_string(uint32_t mode, char *out)
{
	const char *rwx = "rwxrwxrwx";
	int i;

	out[0] = (mode & 0170000) == 0040000   ? 'd'
	         : (mode & 0170000) == 0120000 ? 'l'
	                                       : '-';
	for (i = 0; i < 9; i++)
		out[i + 1] = (mode & (1u << (8 - i))) ? rwx[i] : '-';
	out[10] = '\0';
}

/* A file's attributes; in plain 9P2000 the owner comes as names only. */
struct attr {
	struct p9_attr a;
	int named; /* no numeric ids: user, group hold the names */
	char user[64], group[64];
};

/* Prints one entry of ls -l / stat. */
static void
print_attr(struct ctx *c, const char *name, const struct attr *at, int *first)
{
	const struct p9_attr *a = &at->a;
	char m[11], when[32], u[64], g[64];
	time_t t = (time_t)a->mtime_sec;

	if (c->json) {
		printf("%s{\"name\":", *first ? "" : ",");
		unum_json_str(name);
		printf(",\"mode\":%" PRIu32, a->mode);
		if (at->named) {
			printf(",\"user\":");
			unum_json_str(at->user);
			printf(",\"group\":");
			unum_json_str(at->group);
		} else
			printf(",\"uid\":%" PRIu32 ",\"gid\":%" PRIu32, a->uid,
			    a->gid);
		printf(",\"size\":%" PRIu64 ",\"mtime\":%" PRIu64
		       ",\"qid\":{\"type\":%u,\"version\":%" PRIu32
		       ",\"path\":%" PRIu64 "}}",
		    a->size, a->mtime_sec, a->qid.type, a->qid.version,
		    a->qid.path);
		*first = 0;
		return;
	}
	mode_string(a->mode, m);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime(&t));
	if (at->named) {
		snprintf(u, sizeof u, "%s", at->user);
		snprintf(g, sizeof g, "%s", at->group);
	} else {
		snprintf(u, sizeof u, "%" PRIu32, a->uid);
		snprintf(g, sizeof g, "%" PRIu32, a->gid);
	}
	printf(
	    "%s %5s %5s %10" PRIu64 " %s %s\n", m, u, g, a->size, when, name);
}

/* The attributes of fid, from Tgetattr (.L) or Tstat. */
static int
get_attr(struct ctx *c, uint32_t fid, struct attr *at)
{
	struct p9_attr *a = &at->a;
	struct p9_stat st;
	uint8_t *buf = NULL;
	int rc;

	memset(at, 0, sizeof *at);
	if (p9_cl_dialect(c->cl) == P9_2000L)
		return p9_cl_getattr(c->cl, fid, P9_GETATTR_BASIC, a);
	if ((rc = p9_cl_stat(c->cl, fid, &st, &buf)) < 0)
		return rc;
	a->qid = st.qid;
	a->mode = (st.mode & 0777) | ((st.mode & P9_DMDIR)          ? 0040000
	                                 : (st.mode & P9_DMSYMLINK) ? 0120000
	                                                            : 0100000);
	if (st.n_uid != P9_NONUNAME && st.n_gid != P9_NONUNAME) {
		a->uid = st.n_uid;
		a->gid = st.n_gid;
	} else {
		at->named = 1;
		snprintf(at->user, sizeof at->user, "%s", st.uid ? st.uid : "");
		snprintf(
		    at->group, sizeof at->group, "%s", st.gid ? st.gid : "");
	}
	a->size = st.length;
	a->mtime_sec = st.mtime;
	free(buf);
	return 0;
}

static int
ls_entry(struct ctx *c, uint32_t dirfid, const char *name, int *first)
{
	struct attr a;
	uint32_t fid;
	int rc;

	if (!c->lng && !c->json) {
		printf("%s\n", name);
		return 0;
	}
	fid = p9_cl_fid_new(c->cl);
	if ((rc = p9_cl_walk(c->cl, dirfid, fid, name, NULL)) < 0) {
		p9_cl_fid_free(c->cl, fid);
		return rc;
	}
	rc = get_attr(c, fid, &a);
	p9_cl_clunk(c->cl, fid);
	if (rc == 0)
		print_attr(c, name, &a, first);
	return rc;
}

static int
cmd_ls(struct ctx *c, const char *path)
{
	int64_t fid = walk_to(c, path);
	uint32_t dfid;
	size_t cap = p9_cl_msize(c->cl);
	uint8_t *buf = malloc(cap);
	uint64_t off = 0;
	int rc, first = 1;
	ssize_t n;

	if (fid < 0)
		return fail(c, "ls", path, (int)fid);
	dfid = (uint32_t)fid;
	if (!buf)
		abort();
	if (p9_cl_dialect(c->cl) == P9_2000L)
		rc = p9_cl_lopen(
		    c->cl, dfid, P9_L_RDONLY | P9_L_DIRECTORY, NULL, NULL);
	else
		rc = p9_cl_open(c->cl, dfid, P9_OREAD, NULL, NULL);
	if (rc < 0)
		goto out;
	if (c->json)
		printf("[");
	for (;;) {
		size_t k = 0;

		if (p9_cl_dialect(c->cl) == P9_2000L)
			n = p9_cl_readdir(c->cl, dfid, off, buf, cap - 64);
		else
			n = p9_cl_read(c->cl, dfid, off, buf, cap - 64);
		if (n <= 0) {
			rc = (int)n;
			break;
		}
		while (k < (size_t)n) {
			char name[256];
			ssize_t used;

			if (p9_cl_dialect(c->cl) == P9_2000L) {
				struct p9_dirent de;

				used = p9_dirent_unpack(
				    &de, buf + k, (size_t)n - k);
				if (used < 0 || de.namelen >= sizeof name) {
					rc = -EPROTO;
					goto out;
				}
				memcpy(name, de.name, de.namelen);
				name[de.namelen] = '\0';
				off = de.offset;
			} else {
				struct p9_stat st;
				uint8_t rec[65536 + 3];
				size_t len = (size_t)n - k;

				/* unpacking terminates strings in place,
				 * past the record: work on a copy */
				if (len > sizeof rec - 1)
					len = sizeof rec - 1;
				memcpy(rec, buf + k, len);
				used = p9_stat_unpack(
				    &st, rec, len, p9_cl_dialect(c->cl));
				if (used < 0) {
					rc = -EPROTO;
					goto out;
				}
				snprintf(name, sizeof name, "%s", st.name);
				off += (uint64_t)used;
			}
			k += (size_t)used;
			if (!strcmp(name, ".") || !strcmp(name, ".."))
				continue;
			if ((rc = ls_entry(c, dfid, name, &first)) < 0 &&
			    rc != -ENOENT)
				goto out;
		}
	}
	if (c->json)
		printf("]\n");
out:
	p9_cl_clunk(c->cl, dfid);
	free(buf);
	return rc < 0 ? fail(c, "ls", path, rc) : 0;
}

static int
cmd_read(struct ctx *c, const char *path)
{
	int64_t fid = walk_to(c, path);
	size_t cap = p9_cl_msize(c->cl) - P9_IOHDRSZ;
	uint8_t *buf = malloc(cap);
	uint64_t off = 0;
	ssize_t n;
	int rc;

	if (!buf)
		abort();
	if (fid < 0) {
		free(buf);
		return fail(c, "read", path, (int)fid);
	}
	if (p9_cl_dialect(c->cl) == P9_2000L)
		rc = p9_cl_lopen(c->cl, (uint32_t)fid, P9_L_RDONLY, NULL, NULL);
	else
		rc = p9_cl_open(c->cl, (uint32_t)fid, P9_OREAD, NULL, NULL);
	while (rc == 0 &&
	       (n = p9_cl_read(c->cl, (uint32_t)fid, off, buf, cap)) != 0) {
		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
			rc = -errno;
			break;
		}
		off += (uint64_t)n;
	}
	if (fflush(stdout) != 0 && rc == 0)
		rc = -errno;
	p9_cl_clunk(c->cl, (uint32_t)fid);
	free(buf);
	return rc < 0 ? fail(c, "read", path, rc) : 0;
}

static int
cmd_write(struct ctx *c, const char *path)
{
	size_t cap = p9_cl_msize(c->cl) - P9_IOHDRSZ;
	uint8_t *buf = malloc(cap);
	int64_t fid = walk_to(c, path);
	uint64_t off = 0;
	int rc = 0, dotl = p9_cl_dialect(c->cl) == P9_2000L;
	size_t n;

	if (!buf)
		abort();
	if (fid >= 0) {
		rc = dotl ? p9_cl_lopen(c->cl, (uint32_t)fid,
		                P9_L_WRONLY | P9_L_TRUNC, NULL, NULL)
		          : p9_cl_open(c->cl, (uint32_t)fid,
		                P9_OWRITE | P9_OTRUNC, NULL, NULL);
	} else if (fid == -ENOENT) {
		char dir[4096];
		const char *name;

		while (*path == '/')
			path++;
		if ((rc = split(path, dir, sizeof dir, &name)) < 0 ||
		    (fid = walk_to(c, dir)) < 0) {
			free(buf);
			return fail(c, "write", path, rc < 0 ? rc : (int)fid);
		}
		rc = dotl ? p9_cl_lcreate(c->cl, (uint32_t)fid, name,
		                P9_L_WRONLY | P9_L_CREATE, 0644, 0, NULL)
		          : p9_cl_create(c->cl, (uint32_t)fid, name, 0644,
		                P9_OWRITE, NULL);
	} else {
		free(buf);
		return fail(c, "write", path, (int)fid);
	}
	while (rc == 0 && (n = fread(buf, 1, cap, stdin)) > 0) {
		ssize_t w = p9_cl_write(c->cl, (uint32_t)fid, off, buf, n);

		if (w < 0)
			rc = (int)w;
		off += n;
	}
	if (rc == 0 && ferror(stdin))
		rc = -EIO;
	p9_cl_clunk(c->cl, (uint32_t)fid);
	free(buf);
	return rc < 0 ? fail(c, "write", path, rc) : 0;
}

static int
cmd_stat(struct ctx *c, const char *path)
{
	int64_t fid = walk_to(c, path);
	struct attr a;
	int rc, first = 1;
	const char *name = strrchr(path, '/');

	if (fid < 0)
		return fail(c, "stat", path, (int)fid);
	rc = get_attr(c, (uint32_t)fid, &a);
	p9_cl_clunk(c->cl, (uint32_t)fid);
	if (rc < 0)
		return fail(c, "stat", path, rc);
	print_attr(c, name && name[1] ? name + 1 : path, &a, &first);
	if (c->json)
		printf("\n");
	return 0;
}

static int
cmd_mkdir(struct ctx *c, const char *path)
{
	char dir[4096];
	const char *name;
	int64_t fid;
	int rc;

	while (*path == '/')
		path++;
	if ((rc = split(path, dir, sizeof dir, &name)) < 0)
		return fail(c, "mkdir", path, rc);
	if ((fid = walk_to(c, dir)) < 0)
		return fail(c, "mkdir", path, (int)fid);
	if (p9_cl_dialect(c->cl) == P9_2000L) {
		struct p9_fcall t, r;
		uint8_t *rbuf = NULL;

		memset(&t, 0, sizeof t);
		t.type = P9_TMKDIR;
		t.u.mkdir.dfid = (uint32_t)fid;
		t.u.mkdir.name = (char *)name;
		t.u.mkdir.mode = 0755;
		t.u.mkdir.gid = (uint32_t)getgid();
		rc = p9_cl_rpc(c->cl, &t, &r, &rbuf);
		free(rbuf);
		if (rc == -EOPNOTSUPP) /* a server without Tmkdir */
			rc = p9_cl_create(c->cl, (uint32_t)fid, name,
			    P9_DMDIR | 0755, P9_OREAD, NULL);
	} else
		rc = p9_cl_create(c->cl, (uint32_t)fid, name, P9_DMDIR | 0755,
		    P9_OREAD, NULL);
	p9_cl_clunk(c->cl, (uint32_t)fid);
	return rc < 0 ? fail(c, "mkdir", path, rc) : 0;
}

static int
cmd_rm(struct ctx *c, const char *path)
{
	int64_t fid = walk_to(c, path);
	int rc;

	if (fid < 0)
		return fail(c, "rm", path, (int)fid);
	rc = p9_cl_remove(c->cl, (uint32_t)fid);
	return rc < 0 ? fail(c, "rm", path, rc) : 0;
}

static int
cmd_9p(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"addr", required_argument, NULL, 'a'},
	    {"aname", required_argument, NULL, 'A'},
	    {"version", required_argument, NULL, 'V'},
	    {"trace", no_argument, NULL, 'D'},
	    {"long", no_argument, NULL, 'l'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct ctx c;
	struct p9_client_opts o;
	struct unum_route rt;
	const char *op, *path, *ver = "9P2000.L";
	int ch, rc, err = 0;

	memset(&c, 0, sizeof c);
	memset(&o, 0, sizeof o);
	c.aname = "";
	optind = 1;
	while (
	    (ch = getopt_long(argc, argv, "+a:A:V:Dljh", lopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			c.addr = optarg;
			break;
		case 'A':
			c.aname = optarg;
			break;
		case 'V':
			ver = optarg;
			break;
		case 'D':
			o.trace = 1;
			break;
		case 'l':
			c.lng = 1;
			break;
		case 'j':
			c.json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	/* options may also follow the operation: unum 9p ls -l PATH */
	if (optind < argc && strcmp(argv[optind], "ls") == 0)
		while (optind + 1 < argc && argv[optind + 1][0] == '-') {
			const char *f = argv[optind + 1];

			if (!strcmp(f, "-l"))
				c.lng = 1;
			else if (!strcmp(f, "--json"))
				c.json = 1;
			else
				break;
			argv[optind + 1] = argv[optind];
			optind++;
		}
	if (optind < argc && strcmp(argv[optind], "stat") == 0 &&
	    optind + 1 < argc && !strcmp(argv[optind + 1], "--json")) {
		c.json = 1;
		argv[optind + 1] = argv[optind];
		optind++;
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	op = argv[optind];
	path = argv[optind + 1];
	if (p9_dialect_parse(ver) < 0) {
		fprintf(stderr, "unum: unknown 9P version '%s'\n", ver);
		return 2;
	}
	o.dialect = (enum p9_dialect)p9_dialect_parse(ver);
	{
		const char *given = c.addr;

		/* -a "" names no node: an error, not the default */
		if ((given && !*given) || unum_route(given, c.aname, &rt) < 0) {
			fprintf(stderr, "unum: bad address '%s'\n",
			    given ? given : getenv("UNUM_ADDR"));
			return 2;
		}
		c.addr = rt.shown;
	}
	o.tls = rt.tls;
	if (!(c.cl = p9_cl_connect(&rt.a, &o, &err))) {
		fprintf(stderr, "unum: cannot connect to %s: %s\n", rt.where,
		    strerror(-err));
		return 1;
	}
	c.root = p9_cl_fid_new(c.cl);
	{
		char uname[32];

		snprintf(uname, sizeof uname, "%u", (unsigned)geteuid());
		rc = p9_cl_attach(
		    c.cl, c.root, uname, (uint32_t)geteuid(), rt.aname, NULL);
	}
	if (rc < 0) {
		fprintf(stderr, "unum: attach to '%s' on %s: %s\n", c.aname,
		    c.addr, p9_cl_strerror(rc));
		p9_cl_close(c.cl);
		return 1;
	}
	if (!strcmp(op, "ls"))
		rc = cmd_ls(&c, path);
	else if (!strcmp(op, "read"))
		rc = cmd_read(&c, path);
	else if (!strcmp(op, "write"))
		rc = cmd_write(&c, path);
	else if (!strcmp(op, "stat"))
		rc = cmd_stat(&c, path);
	else if (!strcmp(op, "mkdir"))
		rc = cmd_mkdir(&c, path);
	else if (!strcmp(op, "rm"))
		rc = cmd_rm(&c, path);
	else {
		fprintf(stderr, "unum: 9p: unknown operation '%s'\n", op);
		rc = 2;
	}
	p9_cl_clunk(c.cl, c.root);
	p9_cl_close(c.cl);
	return rc;
}

/* unum keygen [-f] [FILE]: a new cluster key. */
static int
cmd_keygen(int argc, char **argv)
{
	const char *path = "/etc/unum/cluster.key";
	uint8_t key[P9_KEY_LEN];
	char err[512], id[32];
	int force = 0, i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-f"))
			force = 1;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: unum keygen [-f] [FILE]\n"
			       "Writes a new random cluster key to FILE "
			       "(default %s, mode 0600);\n"
			       "-f replaces an existing one.  Copy it to every "
			       "node, as root.\n",
			    path);
			return 0;
		} else if (argv[i][0] == '-' || i != argc - 1) {
			fprintf(stderr, "usage: unum keygen [-f] [FILE]\n");
			return 2;
		} else
			path = argv[i];
	}
	if (p9_key_new(path, force, err, sizeof err) < 0 ||
	    p9_key_read(path, key, err, sizeof err) < 0) {
		fprintf(stderr, "unum: keygen: %s\n", err);
		return 1;
	}
	p9_key_id(key, id);
	memset(key, 0, sizeof key);
	printf("%s: a new cluster key, id %s\n", path, id);
	return 0;
}

static struct sigaction pipe_was; /* SIGPIPE as we got it */

void
unum_restore_signals(void)
{
	sigaction(SIGPIPE, &pipe_was, NULL);
}

int
unum_was_ignored(int sig)
{
	struct sigaction now;

	if (sig == SIGPIPE)
		return pipe_was.sa_handler == SIG_IGN;
	return sigaction(sig, NULL, &now) == 0 && now.sa_handler == SIG_IGN;
}

int
main(int argc, char **argv)
{
	struct sigaction ign = {.sa_handler = SIG_IGN};

	/* (what unum starts gets SIGPIPE back as it was) */
	sigaction(SIGPIPE, &ign, &pipe_was);
	p9_log_init("unum", 0);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "9p"))
		return cmd_9p(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run"))
		return unum_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "ps"))
		return unum_ps(argc - 1, argv + 1);
	if (!strcmp(argv[1], "kill"))
		return unum_kill(argc - 1, argv + 1);
	if (!strcmp(argv[1], "exec") || !strcmp(argv[1], "sh"))
		return unum_session(argc - 1, argv + 1);
	if (!strcmp(argv[1], "wait"))
		return unum_wait(argc - 1, argv + 1);
	if (!strcmp(argv[1], "nodes"))
		return unum_nodes(argc - 1, argv + 1);
	if (!strcmp(argv[1], "drain") || !strcmp(argv[1], "undrain") ||
	    !strcmp(argv[1], "join"))
		return unum_cluster_ctl(argc - 1, argv + 1);
	if (!strcmp(argv[1], "keygen"))
		return cmd_keygen(argc - 1, argv + 1);
	if (!strcmp(argv[1], "mount"))
		return unum_mount(argc - 1, argv + 1);
	if (!strcmp(argv[1], "umount"))
		return unum_umount(argc - 1, argv + 1);
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("unum %s\n", UNUM_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	fprintf(
	    stderr, "unum: unknown command '%s' (try 'unum help')\n", argv[1]);
	return 2;
}
