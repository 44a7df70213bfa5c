/*
 * relay.c - a tree that carries a local user's attach to another node.
 *
 * The attach name "ADDR!ANAME" asks for tree ANAME of the node at ADDR.
 * The relay keeps TLS links to nodes (the cluster key: this daemon vouches
 * for the user, as any node does), attaches ANAME there in the user's name
 * and forwards every request on that fid tree, message for message, with
 * fids mapped to fids of the link and replies copied back.  A user thus
 * reaches every node through the daemon of their own node without the
 * key, and a client pays for no TLS handshake of its own.
 *
 * Order.  Clients pipeline: a walk from a fid may follow its attach before
 * the Rattach.  So a new fid gets its number on the link when its request
 * arrives, requests go out in the order they came (queued, in that order,
 * while the link connects), and the node, which reads them in order, sees
 * what the client meant.  A number is reused only after the node has
 * answered its Tclunk, or has said the fid was never made.
 *
 * Links.  One link carries many users' fid trees, up to LINK_ATTACHES of
 * them (the node bounds requests in flight per connection); then another
 * link to the same node is made.  A broken link fails what it carries:
 * its requests get ECONNRESET, and so does every later request on its
 * fids; the next attach makes a new link.  Idle links stay until the node
 * closes them (its idle timeout) or the relay ends.
 *
 * Dialect.  The link speaks 9P2000.L for a 9P2000.L client and 9P2000.u
 * otherwise (plain 9P2000 has no numeric user in Tattach); the codec packs
 * each side in its own dialect, and the stat records of a directory read
 * are repacked for a plain 9P2000 client.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "p9.h"
#include "impl.h"

#define LINK_ATTACHES 128 /* attached trees a link carries */

struct fwd;

struct link {
	struct p9_relay *rl;
	struct p9_addr addr;
	char name[300]; /* ADDR as the user gave it, for messages */
	enum p9_dialect dialect;
	struct p9_client *c; /* NULL while connecting and once closed */
	int connecting, dead;
	int refs;    /* fids, requests and the connect that point here */
	int nattach; /* trees attached through it now */
	struct fwd *queue, **qtail; /* waiting for the connection */
	/* fid numbers: free ones stacked, else next */
	uint32_t *freefids;
	size_t nfree, freecap;
	uint32_t nextfid;
	struct link *next;
};

struct p9_relay {
	uv_loop_t *loop;
	struct p9_relay_opts o;
	struct link *links;
	unsigned nlinks;
	int closing;
};

/* A fid of the relay's tree: a fid of a link. */
#define RFID_MAGIC 0x72666964u
struct p9_rfid {
	uint32_t magic; /* RFID_MAGIC: p9_relay_is_fid */
	struct link *l;
	uint32_t num;
	int root; /* counted in l->nattach */
	int gone; /* the node has no such fid (never made, or clunked) */
	/* a directory read repacked for plain 9P2000: the offsets here
	 * and on the node where the next read goes on */
	uint64_t dirhere, dirthere;
};

/* A request being forwarded: t is its message as the link sees it. */
struct fwd {
	struct p9_req *r;
	struct link *l;
	struct p9_call *call;
	struct p9_fcall t;
	struct p9_rfid *made; /* Tattach, Twalk, Txattrwalk: the new fid */
	char uname[32];
	/* a call of the relay's user, not a client's request (r NULL) */
	p9_call_cb cb;
	void *arg;
	char *own; /* strings of t kept while it waits for the link */
	/* a walk that began in the caller's tree: its qids come first */
	struct p9_qid pre[P9_MAXWELEM];
	unsigned npre;
	struct fwd *next; /* in the link's queue */
};

/* ---- links ---- */

static uint32_t
link_fid_new(struct link *l)
{
	if (l->nfree > 0)
		return l->freefids[--l->nfree];
	return l->nextfid++;
}

static void
link_fid_free(struct link *l, uint32_t num)
{
	if (l->nfree == l->freecap) {
		size_t n = l->freecap ? 2 * l->freecap : 64;
		uint32_t *p = realloc(l->freefids, n * sizeof *p);

		if (!p)
			return; /* the number is never reused: harmless */
		l->freefids = p;
		l->freecap = n;
	}
	l->freefids[l->nfree++] = num;
}

static void
link_free(struct link *l)
{
	struct link **pp;

	for (pp = &l->rl->links; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			l->rl->nlinks--;
			break;
		}
	if (l->c)
		p9_client_close(l->c);
	free(l->freefids);
	free(l);
}

static void
link_unref(struct link *l)
{
	if (--l->refs == 0 && (l->dead || l->rl->closing))
		link_free(l);
}

/* The link is broken: no new work goes on it. */
static void
link_dead(struct link *l)
{
	if (l->dead)
		return;
	l->dead = 1;
	p9_log(LOG_INFO, "relay: lost the link to %s", l->name);
}

static void fwd_send(struct fwd *f);
static void fwd_fail(struct fwd *f, int err, const char *why);

static void
link_connected(void *arg, struct p9_client *c, int err)
{
	struct link *l = arg;
	struct p9_relay *rl = l->rl;
	struct fwd *f, *next;
	const char *why = NULL;

	l->connecting = 0;
	l->c = c;
	if (rl->closing) { /* the relay ended while this connected */
		link_free(l);
		if (!rl->links)
			free(rl);
		return;
	}
	if (!c) {
		err = -err;
		why = strerror(err);
		p9_log(LOG_INFO, "relay: cannot reach %s: %s", l->name, why);
		link_dead(l);
	} else if (p9_client_dialect(c) != l->dialect) {
		err = EPROTONOSUPPORT;
		why = "it speaks another 9P";
		link_dead(l);
	}
	f = l->queue;
	l->queue = NULL;
	l->qtail = &l->queue;
	for (; f; f = next) {
		next = f->next;
		if (why)
			fwd_fail(f, err, why);
		else
			fwd_send(f);
	}
	link_unref(l); /* the connect's */
}

/* A link to a for dialect d with room for one more tree: one kept, or a
 * new one (then connecting).  NULL with *err (positive errno). */
static struct link *
link_get(struct p9_relay *rl, const struct p9_addr *a, const char *name,
    enum p9_dialect d, int *err)
{
	struct p9_client_opts co;
	struct link *l;
	int rc;

	for (l = rl->links; l; l = l->next) {
		if (l->c && !l->dead && !p9_client_alive(l->c))
			link_dead(l); /* the node closed it while idle */
		if (!l->dead && l->dialect == d && l->nattach < LINK_ATTACHES &&
		    l->addr.port == a->port && !strcmp(l->addr.host, a->host))
			return l;
	}
	if (rl->nlinks >= rl->o.max_links) {
		*err = EAGAIN;
		return NULL;
	}
	if (!(l = calloc(1, sizeof *l))) {
		*err = ENOMEM;
		return NULL;
	}
	l->rl = rl;
	l->addr = *a;
	snprintf(l->name, sizeof l->name, "%s", name);
	l->dialect = d;
	l->connecting = 1;
	l->qtail = &l->queue;
	memset(&co, 0, sizeof co);
	co.dialect = d;
	co.tls = rl->o.tls;
	if ((rc = p9_client_connect(rl->loop, a, &co, link_connected, l)) < 0) {
		free(l);
		*err = -rc;
		return NULL;
	}
	l->refs = 1; /* the connect's, until link_connected */
	l->next = rl->links;
	rl->links = l;
	rl->nlinks++;
	return l;
}

/* ---- fids ---- */

static struct p9_rfid *
rfid_new(struct link *l, int root)
{
	struct p9_rfid *rf = calloc(1, sizeof *rf);

	if (!rf)
		abort(); /* the daemon may abort on OOM */
	rf->magic = RFID_MAGIC;
	rf->l = l;
	rf->num = link_fid_new(l);
	rf->root = root;
	if (root)
		l->nattach++;
	l->refs++;
	return rf;
}

static void
clunk_answered(void *arg, int err, struct p9_fcall *rep)
{
	struct p9_rfid *rf = arg;
	struct link *l = rf->l;

	link_fid_free(l, rf->num);
	free(rf);
	link_unref(l);
}

/* The fid is gone here; on the node, a Tclunk ends it unless it is gone
 * there too.  Its number is free once the node has answered. */
static void
rfid_drop(struct p9_rfid *rf)
{
	struct link *l = rf->l;
	struct p9_fcall t;

	if (rf->root)
		l->nattach--;
	if (!rf->gone && !l->dead && l->c) {
		memset(&t, 0, sizeof t);
		t.type = P9_TCLUNK;
		t.u.fid.fid = rf->num;
		if (p9_client_call(l->c, &t, clunk_answered, rf))
			return;
	}
	if (rf->gone)
		link_fid_free(l, rf->num);
	free(rf);
	link_unref(l);
}

/* ---- forwarding ---- */

static struct fwd *
fwd_new(struct p9_req *r, struct link *l)
{
	struct fwd *f = calloc(1, sizeof *f);

	if (!f)
		abort();
	f->r = r;
	f->l = l;
	f->t = r->in;
	l->refs++;
	r->aux = f;
	return f;
}

static void
fwd_free(struct fwd *f)
{
	struct link *l = f->l;

	if (f->r)
		f->r->aux = NULL;
	free(f->own);
	free(f);
	link_unref(l);
}

/* An internal call ends: its callback, then it goes. */
static void
call_end(struct fwd *f, int err, struct p9_fcall *rep)
{
	if (f->made && (err || (rep && rep->type == P9_RWALK &&
	                           rep->u.rwalk.nwqid < f->t.u.walk.nwname)))
		f->made->gone = 1; /* the node made no fid */
	f->cb(f->arg, err, rep);
	fwd_free(f);
}

/* The request failed before the node made its new fid: none there. */
static void
made_nothing(struct fwd *f)
{
	if (f->made)
		f->made->gone = 1;
}

static void
fwd_fail(struct fwd *f, int err, const char *why)
{
	struct p9_req *r = f->r;
	struct link *l = f->l;
	uint8_t type;

	if (!r) {
		call_end(f, err, NULL);
		return;
	}
	type = r->type;
	made_nothing(f);
	if (type == P9_TCLUNK || type == P9_TREMOVE)
		((struct p9_rfid *)r->fid->aux)->gone = 1;
	fwd_free(f);
	if (type == P9_TCLUNK && err == ECONNRESET)
		p9_respond(r); /* the fid is gone with the link */
	else if (why)
		p9_respond_errmsg(r, err, "%s: %s", l->name, why);
	else
		p9_respond_error(r, err);
}

/* Repacks a directory's stat records from the link's dialect to plain
 * 9P2000 for the client, into the request's own buffer. */
static int
repack_dir(struct p9_req *r, struct link *l, const struct p9_fcall *rep)
{
	size_t left = rep->u.rread.count, n = 0;
	uint8_t *in = malloc(left + 1), *p = in; /* unpacking writes in it */
	uint32_t cap;
	uint8_t *out = p9_req_data(r, &cap);
	int err = 0;

	if (!in)
		abort();
	memcpy(in, rep->u.rread.data, left);
	while (left > 0) {
		struct p9_stat st;
		ssize_t used = p9_stat_unpack(&st, p, left, l->dialect);
		ssize_t put;

		if (used <= 0 ||
		    (put = p9_stat_pack(&st, out + n, cap - n, P9_2000)) < 0) {
			err = EPROTO;
			break;
		}
		p += used;
		left -= (size_t)used;
		n += (size_t)put;
	}
	free(in);
	r->out.u.rread.count = (uint32_t)n;
	r->out.u.rread.data = out;
	if (!err) {
		struct p9_rfid *rf = r->fid->aux;

		rf->dirhere = r->in.u.read.offset + n;
		rf->dirthere += rep->u.rread.count;
	}
	return err;
}

/* A directory read repacked for a plain 9P2000 client goes on where the
 * last one ended, in the node's offsets. */
static int
repacked(struct p9_req *r, struct link *l)
{
	return r->type == P9_TREAD && p9_conn_dialect(r->conn) == P9_2000 &&
	    l->dialect != P9_2000 && (r->fid->qid.type & P9_QTDIR);
}

static void
forwarded(void *arg, int err, struct p9_fcall *rep)
{
	struct fwd *f = arg;
	struct p9_req *r = f->r;
	struct link *l = f->l;

	f->call = NULL;
	if (!r) {
		if (err == ECONNRESET && !rep)
			link_dead(l);
		call_end(f, err, rep);
		return;
	}
	if (r->type == P9_TCLUNK || r->type == P9_TREMOVE)
		((struct p9_rfid *)r->fid->aux)->gone = 1; /* either way */
	if (err) {
		if (err == ECONNRESET && !rep) {
			link_dead(l);
			fwd_fail(f, err, "lost the link");
		} else if (rep && rep->type == P9_RERROR &&
		           rep->u.error.ename && rep->u.error.ename[0]) {
			made_nothing(f);
			fwd_free(f);
			p9_respond_errmsg(r, err, "%s", rep->u.error.ename);
		} else {
			fwd_fail(f, err, NULL);
		}
		return;
	}
	r->out = *rep;
	if (r->type == P9_TWALK && rep->u.rwalk.nwqid < f->t.u.walk.nwname)
		made_nothing(f); /* a partial walk makes no fid */
	if (r->type == P9_TWALK && f->npre) {
		unsigned n = rep->u.rwalk.nwqid;

		if (n + f->npre > P9_MAXWELEM)
			n = P9_MAXWELEM - f->npre;
		memmove(r->out.u.rwalk.wqid + f->npre, rep->u.rwalk.wqid,
		    n * sizeof *rep->u.rwalk.wqid);
		memcpy(r->out.u.rwalk.wqid, f->pre, f->npre * sizeof *f->pre);
		r->out.u.rwalk.nwqid = (uint16_t)(n + f->npre);
	}
	if (repacked(r, l) && (err = repack_dir(r, l, rep))) {
		fwd_free(f);
		p9_respond_error(r, err);
		return;
	}
	fwd_free(f);
	p9_respond(r);
}

/* Sends f's message now, or queues it behind the connect. */
static void
fwd_send(struct fwd *f)
{
	struct link *l = f->l;

	if (l->connecting) {
		f->next = NULL;
		*l->qtail = f;
		l->qtail = &f->next;
		return;
	}
	if (!l->dead && l->c) {
		/* counts fit the link's msize, known now (a write: short) */
		uint32_t max = p9_client_msize(l->c) - P9_IOHDRSZ;

		if ((f->t.type == P9_TREAD || f->t.type == P9_TREADDIR) &&
		    f->t.u.read.count > max)
			f->t.u.read.count = max;
		if (f->t.type == P9_TWRITE && f->t.u.write.count > max)
			f->t.u.write.count = max;
		if ((f->call = p9_client_call(l->c, &f->t, forwarded, f)))
			return;
	}
	if (l->dead || !l->c || errno == ENOTCONN) {
		link_dead(l);
		fwd_fail(f, ECONNRESET, "lost the link");
	} else {
		fwd_fail(f, errno, NULL);
	}
}

/* ---- the handlers ---- */

static void
attach(struct p9_req *r)
{
	struct p9_relay *rl = p9_req_aux(r);
	const struct p9_peer *peer = p9_conn_peer(r->conn);
	const char *aname = r->in.u.attach.aname;
	const char *bang = strchr(aname, '!');
	char addr[300];
	struct p9_addr a;
	struct p9_ident id;
	struct link *l;
	struct fwd *f;
	int err;

	if (!peer->has_cred || peer->node || peer->anon) {
		/* a node relays its own users only: no chains, no strangers */
		p9_respond_errmsg(
		    r, EPERM, "relays serve this node's users only");
		return;
	}
	if (!rl->o.tls) {
		p9_respond_errmsg(r, ENOKEY,
		    "this node has no cluster key: it relays to no node");
		return;
	}
	if ((err = -p9_attach_ident(r, rl->o.anon_uid, rl->o.anon_gid, &id))) {
		p9_respond_error(r, err);
		return;
	}
	if (id.name) {
		/* root attaching as a user by name (plain 9P2000 has only
		 * names, and unum's clients send the uid as one): the node
		 * wants a uid */
		struct passwd *pw = getpwnam(id.name);
		char *end;
		unsigned long u = strtoul(id.name, &end, 10);

		if (pw)
			id.uid = pw->pw_uid;
		else if (*end == '\0' && *id.name >= '0' && *id.name <= '9' &&
		         u < P9_NONUNAME)
			id.uid = (uid_t)u;
		else {
			p9_respond_errmsg(r, EINVAL, "no user %s", id.name);
			return;
		}
	}
	if (!bang || (size_t)(bang - aname) >= sizeof addr ||
	    strchr(bang + 1, '!')) {
		p9_respond_errmsg(
		    r, EINVAL, "relay: want ADDR!TREE, not '%s'", aname);
		return;
	}
	memcpy(addr, aname, (size_t)(bang - aname));
	addr[bang - aname] = '\0';
	if (p9_addr_parse(&a, addr, rl->o.default_port) < 0 || a.is_unix ||
	    a.plain) {
		/* a Unix socket would be reached as this daemon's user */
		p9_respond_errmsg(
		    r, EINVAL, "relay: '%s' is not a node's HOST[:PORT]", addr);
		return;
	}
	if (!(l = link_get(rl, &a, addr,
	          p9_conn_dialect(r->conn) == P9_2000L ? P9_2000L : P9_2000U,
	          &err))) {
		p9_respond_errmsg(r, err, "relay to %s: %s", addr,
		    err == EAGAIN ? "too many node links" : strerror(err));
		return;
	}
	f = fwd_new(r, l);
	f->made = r->fid->aux = rfid_new(l, 1);
	snprintf(f->uname, sizeof f->uname, "%u", (unsigned)id.uid);
	f->t.u.attach.fid = f->made->num;
	f->t.u.attach.afid = P9_NOFID;
	f->t.u.attach.uname = f->uname;
	f->t.u.attach.aname = (char *)bang + 1;
	f->t.u.attach.n_uname = (uint32_t)id.uid;
	fwd_send(f);
}

/* Every request on a fid of the tree: the same message, fids mapped. */
static void
forward(struct p9_req *r)
{
	struct p9_rfid *rf = r->fid->aux;
	struct p9_rfid *rf2 = r->fid2 ? r->fid2->aux : NULL;
	struct link *l = rf->l;
	struct fwd *f;

	if (r->fid2 && (r->fid2->tree != r->fid->tree || !rf2 || rf2->l != l)) {
		p9_respond_error(r, EXDEV);
		return;
	}
	f = fwd_new(r, l);
	f->t.u.fid.fid = rf->num; /* every type's first fid is here */
	switch (r->type) {
	case P9_TWALK:
	case P9_TXATTRWALK:
		if (r->newfid != r->fid)
			f->made = r->newfid->aux = rfid_new(l, 0);
		if (r->type == P9_TWALK)
			f->t.u.walk.newfid =
			    ((struct p9_rfid *)r->newfid->aux)->num;
		else
			f->t.u.xattrwalk.newfid =
			    ((struct p9_rfid *)r->newfid->aux)->num;
		break;
	case P9_TREAD:
		if (repacked(r, l)) {
			if (r->in.u.read.offset == 0)
				rf->dirhere = rf->dirthere = 0;
			else if (r->in.u.read.offset != rf->dirhere) {
				fwd_fail(f, EINVAL, "directory offsets go on");
				return;
			}
			f->t.u.read.offset = rf->dirthere;
		}
		break;
	case P9_TRENAME:
		f->t.u.rename.dfid = rf2->num;
		break;
	case P9_TRENAMEAT:
		f->t.u.renameat.newdirfid = rf2->num;
		break;
	case P9_TLINK:
		f->t.u.link.fid = rf2->num;
		break;
	}
	if (rf->gone && r->type != P9_TCLUNK) {
		fwd_fail(f, EBADF, "no such fid there");
		return;
	}
	fwd_send(f);
}

static void
flush(struct p9_req *old)
{
	struct fwd *f = old->aux, **pp;

	if (!f)
		return;
	if (f->call) {
		p9_call_flush(f->call);
		return;
	}
	for (pp = &f->l->queue; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			/* not sent yet */
			if (!(*pp = f->next))
				f->l->qtail = pp;
			fwd_fail(f, EINTR, NULL);
			return;
		}
}

static void
destroy_fid(struct p9_fid *fid)
{
	if (fid->aux)
		rfid_drop(fid->aux);
	fid->aux = NULL;
}

static const struct p9_ops relay_ops = {
    .attach = attach,
    .walk = forward,
    .open = forward,
    .create = forward,
    .read = forward,
    .write = forward,
    .clunk = forward,
    .remove = forward,
    .stat = forward,
    .wstat = forward,
    .flush = flush,
    .destroy_fid = destroy_fid,
    .lopen = forward,
    .lcreate = forward,
    .getattr = forward,
    .setattr = forward,
    .readdir = forward,
    .mkdir = forward,
    .symlink = forward,
    .mknod = forward,
    .rename = forward,
    .renameat = forward,
    .readlink = forward,
    .link = forward,
    .unlinkat = forward,
    .fsync = forward,
    .statfs = forward,
    .xattrwalk = forward,
    .xattrcreate = forward,
    .lock = forward,
    .getlock = forward,
};

const struct p9_ops *
p9_relay_ops(void)
{
	return &relay_ops;
}

struct p9_relay *
p9_relay_new(uv_loop_t *loop, const struct p9_relay_opts *o)
{
	struct p9_relay *rl = calloc(1, sizeof *rl);

	if (!rl)
		return NULL;
	rl->loop = loop;
	rl->o = *o;
	if (!rl->o.max_links)
		rl->o.max_links = 1024;
	if (!rl->o.default_port)
		rl->o.default_port = 5640;
	return rl;
}

void
p9_relay_close(struct p9_relay *rl)
{
	struct link *l, *next;

	if (!rl)
		return;
	rl->closing = 1;
	for (l = rl->links; l; l = next) {
		next = l->next;
		if (l->connecting)
			continue; /* link_connected frees it, and rl after */
		l->refs++; /* while its calls fail */
		if (l->c)
			p9_client_close(l->c);
		l->c = NULL;
		link_free(l);
	}
	if (!rl->links)
		free(rl);
}

/* ---- forwarding for a tree of one's own ---- */

static void
attached(void *arg, int err, struct p9_fcall *rep)
{
	/* a failed attach leaves its fid gone: what follows on it fails
	 * with the node's word, or the link's */
}

struct p9_rfid *
p9_relay_attach(struct p9_relay *rl, const char *addr, uid_t uid,
    const char *aname, enum p9_dialect d, int *err)
{
	struct p9_addr a;
	struct p9_rfid *rf;
	struct link *l;
	struct fwd *f;

	if (!rl->o.tls) {
		*err = ENOKEY;
		return NULL;
	}
	if (p9_addr_parse(&a, addr, rl->o.default_port) < 0 || a.is_unix ||
	    a.plain) {
		*err = EINVAL;
		return NULL;
	}
	if (!(l = link_get(rl, &a, addr, d == P9_2000L ? P9_2000L : P9_2000U,
	          err)))
		return NULL;
	rf = rfid_new(l, 1);
	if (!(f = calloc(1, sizeof *f)))
		abort();
	f->l = l;
	l->refs++;
	f->made = rf;
	f->cb = attached;
	f->arg = NULL;
	snprintf(f->uname, sizeof f->uname, "%u", (unsigned)uid);
	f->t.type = P9_TATTACH;
	f->t.u.attach.fid = rf->num;
	f->t.u.attach.afid = P9_NOFID;
	f->t.u.attach.uname = f->uname;
	if (!(f->own = strdup(aname))) /* it may wait for the link */
		abort();
	f->t.u.attach.aname = f->own;
	f->t.u.attach.n_uname = (uint32_t)uid;
	fwd_send(f);
	return rf;
}

void
p9_relay_walk(struct p9_req *r, struct p9_rfid *from, char **wname, unsigned n,
    const struct p9_qid *pre, unsigned npre)
{
	struct link *l = from->l;
	struct fwd *f;
	size_t len = 0;
	unsigned i;
	char *p;

	f = fwd_new(r, l);
	f->t.u.walk.fid = from->num;
	f->t.u.walk.nwname = (uint16_t)n;
	for (i = 0; i < n; i++)
		len += strlen(wname[i]) + 1;
	if (!(p = f->own = malloc(len + 1))) /* they may wait for the link */
		abort();
	for (i = 0; i < n; i++) {
		f->t.u.walk.wname[i] = strcpy(p, wname[i]);
		p += strlen(p) + 1;
	}
	f->made = rfid_new(l, 0);
	f->t.u.walk.newfid = f->made->num;
	r->newfid->aux = f->made;
	if (npre)
		memcpy(f->pre, pre, npre * sizeof *pre);
	f->npre = npre;
	if (from->gone) {
		fwd_fail(f, EBADF, "no such fid there");
		return;
	}
	fwd_send(f);
}

int
p9_relay_is_fid(const void *aux)
{
	return aux && *(const uint32_t *)aux == RFID_MAGIC;
}

void
p9_relay_forward(struct p9_req *r)
{
	forward(r);
}

void
p9_relay_flush(struct p9_req *old)
{
	flush(old);
}

void
p9_relay_fid_drop(struct p9_rfid *rf)
{
	if (rf)
		rfid_drop(rf);
}

struct p9_rfid *
p9_relay_fid_new(struct p9_rfid *like)
{
	return rfid_new(like->l, 0);
}

uint32_t
p9_relay_fid_num(const struct p9_rfid *rf)
{
	return rf->num;
}

int
p9_relay_call(struct p9_rfid *on, const struct p9_fcall *t,
    struct p9_rfid *made, p9_call_cb cb, void *arg)
{
	struct link *l = on->l;
	struct fwd *f;

	if (on->gone || l->dead)
		return -ECONNRESET;
	if (!(f = calloc(1, sizeof *f)))
		abort();
	f->l = l;
	l->refs++;
	f->t = *t;
	f->made = made;
	f->cb = cb;
	f->arg = arg;
	if (t->type == P9_TWALK && t->u.walk.nwname > 0) {
		/* the names may wait for the link: kept here */
		size_t len = 0;
		unsigned i;
		char *p;

		for (i = 0; i < t->u.walk.nwname; i++)
			len += strlen(t->u.walk.wname[i]) + 1;
		if (!(p = f->own = malloc(len)))
			abort();
		for (i = 0; i < t->u.walk.nwname; i++) {
			f->t.u.walk.wname[i] = strcpy(p, t->u.walk.wname[i]);
			p += strlen(p) + 1;
		}
	}
	fwd_send(f);
	return 0;
}

void
p9_relay_drop(struct p9_relay *rl, const char *addr)
{
	struct p9_addr a;
	struct link *l;

	if (!rl || p9_addr_parse(&a, addr, rl->o.default_port) < 0)
		return;
	for (l = rl->links; l; l = l->next)
		if (!l->dead && l->addr.port == a.port &&
		    !strcmp(l->addr.host, a.host)) {
			link_dead(l);
			if (l->c) {
				/* what is in flight fails now: "lost the link" */
				p9_client_close(l->c);
				l->c = NULL;
			}
		}
}
