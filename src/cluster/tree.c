/*
 * tree.c - the /cluster tree unum-clusterd serves (attach name "cluster"):
 *
 *   members   this node's view, a line a member: name=N state=S addr=A
 *             arch= ncpu= load= memfree= drain= labels= version= since=
 *   policy    the placement policy; root writes a new one
 *   ctl       root writes: drain NODE, undrain NODE, join HOST[:PORT]
 *
 * Files are made when opened (a read sees one moment) and written a
 * command a line; a bad line changes nothing and says why.
 */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "conf/conf.h"

enum { Q_ROOT, Q_MEMBERS, Q_POLICY, Q_CTL, Q_N };

static const struct {
	const char *name;
	uint32_t mode;
} files[Q_N] = {
    [Q_ROOT] = {"/", P9_DMDIR | 0555},
    [Q_MEMBERS] = {"members", 0444},
    [Q_POLICY] = {"policy", 0644},
    [Q_CTL] = {"ctl", 0200},
};

struct clu_tree {
	struct clu_memb *mb;
	struct clu_policy policy;
	unsigned rr;
};

struct tfid {
	int q;
	uid_t uid;
	char *data; /* what a read sees, made at open */
	size_t len;
};

struct clu_tree *
clu_tree_new(struct clu_memb *mb, const struct clu_policy *policy)
{
	struct clu_tree *t = calloc(1, sizeof *t);

	if (!t)
		abort();
	t->mb = mb;
	t->policy = *policy;
	return t;
}

void
clu_tree_free(struct clu_tree *t)
{
	free(t);
}

const struct clu_policy *
clu_tree_policy(struct clu_tree *t)
{
	return &t->policy;
}

static struct p9_qid
qid_of(int q)
{
	struct p9_qid qid = {0};

	qid.type = q == Q_ROOT ? P9_QTDIR : P9_QTFILE;
	qid.path = (uint64_t)q;
	return qid;
}

static void
destroy_fid(struct p9_fid *fid)
{
	struct tfid *f = fid->aux;

	if (f)
		free(f->data);
	free(f);
	fid->aux = NULL;
}

static struct tfid *
tfid_new(int q, uid_t uid)
{
	struct tfid *f = calloc(1, sizeof *f);

	if (!f)
		abort();
	f->q = q;
	f->uid = uid;
	return f;
}

static void
t_attach(struct p9_req *r)
{
	struct p9_ident id;
	uid_t uid;
	int rc;

	if ((rc = p9_attach_ident(r, 65534, 65534, &id)) < 0) {
		p9_respond_error(r, -rc);
		return;
	}
	uid = id.uid;
	if (id.name) {
		struct passwd *pw = getpwnam(id.name);

		if (!pw) {
			p9_respond_errmsg(r, EPERM, "no user '%s'", id.name);
			return;
		}
		uid = pw->pw_uid;
	}
	r->fid->aux = tfid_new(Q_ROOT, uid);
	r->out.u.rqid.qid = qid_of(Q_ROOT);
	p9_respond(r);
}

static void
t_walk(struct p9_req *r)
{
	struct tfid *f = r->fid->aux;
	int q = f->q, i, k;

	for (i = 0; i < r->in.u.walk.nwname; i++) {
		const char *name = r->in.u.walk.wname[i];

		if (q != Q_ROOT)
			break;
		if (!strcmp(name, "..") || !strcmp(name, "."))
			continue;
		for (k = 1; k < Q_N; k++)
			if (!strcmp(name, files[k].name))
				break;
		if (k == Q_N)
			break;
		q = k;
		r->out.u.rwalk.wqid[i] = qid_of(q);
	}
	for (k = 0; k < i; k++)
		if (!strcmp(r->in.u.walk.wname[k], "..") ||
		    !strcmp(r->in.u.walk.wname[k], "."))
			r->out.u.rwalk.wqid[k] = qid_of(Q_ROOT);
	r->out.u.rwalk.nwqid = (uint16_t)i;
	if (i == 0 && r->in.u.walk.nwname > 0) {
		p9_respond_error(r, q == Q_ROOT ? ENOENT : ENOTDIR);
		return;
	}
	if (i == r->in.u.walk.nwname) {
		struct tfid *nf = tfid_new(q, f->uid);

		if (r->newfid == r->fid)
			destroy_fid(r->fid);
		r->newfid->aux = nf;
	}
	p9_respond(r);
}

/* printf to a growing buffer */
static void
addf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*buf ? *buf + *len : NULL, *buf ? *cap - *len : 0,
		    fmt, ap);
		va_end(ap);
		if (*buf && (size_t)n < *cap - *len) {
			*len += (size_t)n;
			return;
		}
		*cap = (*cap + (size_t)n + 1) * 2;
		if (!(*buf = realloc(*buf, *cap)))
			abort();
	}
}

/* One member as a line of key=value words (members file). */
static void
member_line(char **buf, size_t *len, size_t *cap, const struct clu_member *m,
    uint64_t now)
{
	addf(buf, len, cap,
	    "name=%s state=%s addr=%s arch=%s ncpu=%u load=%u.%03u "
	    "memfree=%llu drain=%u labels=%s version=%s since=%llu%s\n",
	    m->name, clu_state_name(m->state), m->addr,
	    *m->m.arch ? m->m.arch : "-", m->m.ncpu, m->m.load / 1000,
	    m->m.load % 1000, (unsigned long long)m->m.memfree, m->m.drain,
	    *m->m.labels ? m->m.labels : "-",
	    *m->m.version ? m->m.version : "-",
	    (unsigned long long)((now - m->since) / 1000), m->self ? " self=1" : "");
}

static void
t_open(struct p9_req *r)
{
	struct clu_tree *t = p9_req_aux(r);
	struct tfid *f = r->fid->aux;
	uint8_t mode = r->in.u.open.mode & 3;
	size_t cap = 0;

	if (f->q == Q_CTL && mode != P9_OWRITE) {
		p9_respond_error(r, EACCES);
		return;
	}
	if ((f->q == Q_CTL || (f->q == Q_POLICY && mode != P9_OREAD)) &&
	    f->uid != 0) {
		p9_respond_errmsg(r, EPERM, "only root changes the cluster");
		return;
	}
	if (f->q == Q_MEMBERS) {
		struct clu_member *const *m;
		unsigned n = clu_memb_list(t->mb, &m), i;
		uint64_t now = p9_srv_loop(p9_conn_srv(r->conn))
		                   ? uv_now(p9_srv_loop(p9_conn_srv(r->conn)))
		                   : 0;

		for (i = 0; i < n; i++)
			member_line(&f->data, &f->len, &cap, m[i], now);
	} else if (f->q == Q_POLICY) {
		char line[512];

		clu_policy_format(&t->policy, line, sizeof line);
		addf(&f->data, &f->len, &cap, "%s\n", line);
	}
	r->out.u.ropen.qid = qid_of(f->q);
	p9_respond(r);
}

static int
dirgen(void *arg, uint64_t index, struct p9_stat *st)
{
	int q = (int)index + 1;

	if (q >= Q_N)
		return -1;
	memset(st, 0, sizeof *st);
	st->qid = qid_of(q);
	st->mode = files[q].mode;
	st->name = (char *)files[q].name;
	st->uid = st->gid = st->muid = "root";
	st->extension = "";
	st->n_uid = st->n_gid = st->n_muid = 0;
	return 0;
}

static void
t_read(struct p9_req *r)
{
	struct tfid *f = r->fid->aux;

	if (f->q == Q_ROOT)
		p9_respond_dirread(r, dirgen, NULL);
	else
		p9_respond_bytes(r, f->data ? f->data : "", f->len);
}

/* One ctl line; 0, or an errno with the reason in err. */
static int
ctl_line(struct clu_tree *t, char *line, char *err, size_t cap)
{
	char *w[CONF_MAXARGS];
	int n = conf_tokenize(line, w, CONF_MAXARGS);

	if (n == 0)
		return 0;
	if (n < 0) {
		snprintf(err, cap, "ctl: unbalanced quote or too many words");
		return EINVAL;
	}
	if ((!strcmp(w[0], "drain") || !strcmp(w[0], "undrain")) && n == 2) {
		if (clu_memb_drain(t->mb, w[1], w[0][0] == 'd') < 0) {
			snprintf(err, cap, "%s: no node '%.64s' in the cluster",
			    w[0], w[1]);
			return ENOENT;
		}
		return 0;
	}
	if (!strcmp(w[0], "join") && n == 2)
		return clu_memb_join(t->mb, w[1], err, cap) < 0 ? EINVAL : 0;
	snprintf(err, cap,
	    "ctl: unknown command '%.64s' (want drain NODE, undrain NODE, "
	    "join HOST[:PORT])",
	    w[0]);
	return EINVAL;
}

static void
t_write(struct p9_req *r)
{
	struct clu_tree *t = p9_req_aux(r);
	struct tfid *f = r->fid->aux;
	uint32_t n = r->in.u.write.count;
	char *buf, *line, *save = NULL, err[256] = "";
	int rc = 0;

	if (n > 4096) {
		p9_respond_errmsg(r, E2BIG, "a write of at most 4096 bytes");
		return;
	}
	if (!(buf = malloc(n + 1)))
		abort();
	memcpy(buf, r->in.u.write.data, n);
	buf[n] = '\0';
	if (memchr(buf, '\0', n)) {
		free(buf);
		p9_respond_errmsg(r, EINVAL, "a NUL byte in a text file");
		return;
	}
	if (f->q == Q_POLICY) {
		struct clu_policy p;

		if (clu_policy_parse(buf, &p, err, sizeof err) < 0)
			rc = EINVAL;
		else if (p.kind == CLU_PINNED &&
		         !clu_memb_find(t->mb, p.node)) {
			snprintf(err, sizeof err,
			    "policy: no node '%.64s' in the cluster", p.node);
			rc = ENOENT;
		} else
			t->policy = p;
	} else {
		for (line = strtok_r(buf, "\n", &save); line && !rc;
		     line = strtok_r(NULL, "\n", &save))
			rc = ctl_line(t, line, err, sizeof err);
	}
	free(buf);
	if (rc) {
		p9_respond_errmsg(r, rc, "%s", err);
		return;
	}
	r->out.u.rwrite.count = n;
	p9_respond(r);
}

static void
t_stat(struct p9_req *r)
{
	struct tfid *f = r->fid->aux;
	struct p9_stat *st = &r->out.u.rstat.stat;

	if (f->q == Q_ROOT) {
		memset(st, 0, sizeof *st);
		st->qid = qid_of(Q_ROOT);
		st->mode = files[Q_ROOT].mode;
		st->name = "/";
		st->uid = st->gid = st->muid = "root";
		st->extension = "";
	} else
		dirgen(NULL, (uint64_t)f->q - 1, st);
	p9_respond(r);
}

static const struct p9_ops ops = {
    .attach = t_attach,
    .walk = t_walk,
    .open = t_open,
    .read = t_read,
    .write = t_write,
    .stat = t_stat,
    .destroy_fid = destroy_fid,
};

const struct p9_ops *
clu_tree_ops(void)
{
	return &ops;
}
