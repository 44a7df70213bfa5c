/*
 * tree.c - the /cluster tree unum-clusterd serves (attach name "cluster"):
 *
 *   members   this node's view, a line a member: name=N state=S addr=A
 *             arch= ncpu= load= memfree= drain= labels= version= since=
 *   policy    the placement policy; root writes a new one
 *   ctl       root writes: drain NODE, undrain NODE, join HOST[:PORT]
 *   proc/     the cluster's processes: the process API of procsrv, each
 *             process named NODE.N (process N of node NODE)
 *     clone     walked to: a new process slot on the node the policy
 *               chooses (as procsrv's clone, on that node)
 *     last      the slot this attach's clone made last
 *     policy    this attach's own placement (read: what applies; write:
 *               a policy or constraints over the node's)
 *     place     read: "NODE here" or "NODE there", the node the policy
 *               chooses now (counted as placed there); this attach's next
 *               clone goes there.  Not listed.  unum-ghost asks first, and
 *               runs its program itself when the answer is here.
 *     learn     write "PROGRAM RUN_MS COST_MS": how long a program ran
 *               elsewhere and what sending it cost (the ghosts tell), for
 *               the placement table beside the socket (times.h).  Not
 *               listed.
 *     NODE.N/   that process's files, on its node
 *
 * The attach name "proc" serves proc/ as the root, so a client of
 * procsrv's API gets the cluster's instead by pointing at this socket.
 *
 * Walks into clone, last or NODE.N go on to the node: an attach there in
 * the user's name (one per attach here and node, made on first use) over
 * unum's TLS links (the relay's), and from then on every request on that
 * fid is the node's to answer; the node checks who may do what.  Listing
 * proc/ asks every live member for its list at once, and answers with
 * what came within LIST_MS.
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
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "times.h"
#include "conf/conf.h"

#define LIST_MS 3000 /* a member's process list is waited for so long */

/* The files: the first Q_PROC + 1 are the root's entries, then proc/'s. */
enum { Q_ROOT, Q_MEMBERS, Q_POLICY, Q_CTL, Q_PROC, Q_PPOLICY, Q_NODES,
	Q_PLACE, Q_LEARN, Q_N,
	/* a process of a dead node, and its files; a member: not in
	 * files[] */
	Q_LOST = 100, Q_LOSTSTATUS, Q_LOSTWAIT, Q_NODE };

static const struct {
	const char *name;
	uint32_t mode;
	int parent;
} files[Q_N] = {
    [Q_ROOT] = {"/", P9_DMDIR | 0555, Q_ROOT},
    [Q_MEMBERS] = {"members", 0444, Q_ROOT},
    [Q_POLICY] = {"policy", 0644, Q_ROOT},
    [Q_CTL] = {"ctl", 0200, Q_ROOT},
    [Q_PROC] = {"proc", P9_DMDIR | 0555, Q_ROOT},
    [Q_PPOLICY] = {"policy", 0666, Q_PROC},
    [Q_NODES] = {"nodes", P9_DMDIR | 0555, Q_ROOT},
    /* walked to, not listed: the ghost's */
    [Q_PLACE] = {"place", 0444, Q_PROC},
    [Q_LEARN] = {"learn", 0222, Q_PROC},
};

/* A member's trees under nodes/NAME/: unumd's attach names. */
static const char *const node_trees[] = {"fs", "proc", "ram"};

/* A process this daemon placed, followed while its run is attached (its
 * clone fid open here): its last status line, so that when its node dies
 * it can be shown lost.  Kept LOST_KEEP_MS once its node is dead. */
#define LOST_KEEP_MS (10 * 60 * 1000ull)
struct sess;
static void sess_unref(struct sess *s);
struct track;
static void track_status(struct track *k);
static struct p9_rfid *sess_root(struct sess *s, const struct clu_member *m,
    enum p9_dialect d, int *err);
#define TRACK_MAX 65536
struct track {
	struct p9_rfid *rf; /* the clone fid; NULL once gone */
	char node[CLU_NAME_MAX];
	uid_t uid;
	unsigned id;        /* 0 until its status is known */
	char line[256];     /* its status line */
	uint64_t ended_at;  /* its run's fid went (0: still there) */
	int refs;           /* status reads in flight, fids on it */
	int again;          /* not started yet when last read: read again */
	struct clu_tree *t;
	struct sess *s;     /* its attach (for the node's root), held */
	struct p9_rfid *nf; /* the status read's fid, clunked after it */
	int closing;        /* its run has gone: a last status read */
	int done;           /* it ended: forgotten */
	struct track *next;
};

struct clu_tree {
	uv_loop_t *loop;
	struct clu_memb *mb;
	struct p9_relay *relay;
	struct clu_policy policy;
	unsigned rr;
	struct track *tracks;
	unsigned ntracks;
	uv_timer_t again; /* reads again the status of runs not started */
	/* the placement table for the shim (times.h), written to
	 * times_path when it changed, at most once a tick */
	char *times_path;
	struct clu_times_ent times[CLU_TIMES_SLOTS];
	uint32_t times_remote;
	int times_dirty;
	int learn; /* 0: what the ghosts tell is not kept */
	uv_timer_t tick;
};

/* An attach here: who, and its attaches on nodes. */
struct sroot {
	char node[CLU_NAME_MAX];
	enum p9_dialect d;
	const char *aname; /* "proc", or one of node_trees */
	struct p9_rfid *root;
};
struct sess {
	int ref;
	struct clu_tree *t;
	uid_t uid;
	enum p9_dialect d; /* the client's */
	struct clu_policy pol; /* own placement, if set */
	int haspol;
	struct sroot *roots;
	unsigned nroots;
	char last[CLU_NAME_MAX]; /* node of the last clone */
	char pin[CLU_NAME_MAX];  /* placed by a read of place: the next
	                          * clone's node */
	uint64_t pin_at;
	/* the nodes this attach placed runs on, and when: each counted
	 * running there until the attach goes (a ghost's run, here or
	 * there, lasts as long as its attach) */
	struct ran {
		char node[CLU_NAME_MAX];
		uint64_t at;
	} *ran;
	unsigned nran;
	int ghost; /* placed by a read of place: its runs end with it */
};

/* A listing of proc/: the names, as they came from the members. */
struct listing {
	int ref;
	struct p9_req *r; /* the open, until answered */
	struct tfid *f;
	char **names;
	size_t n, cap;
	unsigned pending;
	uv_timer_t timer;
};

struct tfid {
	int q; /* never RFID_MAGIC: small */
	struct sess *s;
	char *data; /* what a read sees, made at open */
	size_t len;
	int omode; /* -1: not open */
	struct listing *ls; /* proc/ opened */
	struct clu_tree *t;
	char **names;       /* proc/'s entries once listed */
	size_t nnames;
	struct track *lost; /* Q_LOST*: the process */
	char node[CLU_NAME_MAX]; /* Q_NODE: the member */
};

struct clu_tree *
clu_tree_new(uv_loop_t *loop, struct clu_memb *mb, struct p9_relay *relay,
    const struct clu_policy *policy)
{
	struct clu_tree *t = calloc(1, sizeof *t);

	if (!t)
		abort();
	t->loop = loop;
	uv_timer_init(loop, &t->again);
	t->again.data = t;
	t->mb = mb;
	t->relay = relay;
	t->policy = *policy;
	uv_timer_init(loop, &t->tick);
	t->tick.data = t;
	return t;
}

/* ---- the placement table (times.h) ---- */

/* Another member takes new work: alive, not draining, not us. */
static uint32_t
remote_possible(struct clu_tree *t)
{
	struct clu_member *const *m;
	unsigned n = clu_memb_list(t->mb, &m), i;

	for (i = 0; i < n; i++)
		if (!m[i]->self && m[i]->state == CLU_ALIVE && !m[i]->m.drain)
			return 1;
	return 0;
}

static void
times_write(struct clu_tree *t)
{
	struct clu_times_head h = {CLU_TIMES_MAGIC, t->times_remote,
	    CLU_TIMES_SLOTS, 0, (int64_t)time(NULL)};
	char tmp[4200];
	FILE *f;

	snprintf(tmp, sizeof tmp, "%s.new", t->times_path);
	if (!(f = fopen(tmp, "we")))
		return;
	fchmod(fileno(f), 0644);
	if (fwrite(&h, sizeof h, 1, f) != 1 ||
	    fwrite(t->times, sizeof t->times, 1, f) != 1 || fclose(f) != 0 ||
	    rename(tmp, t->times_path) < 0) {
		unlink(tmp);
		return;
	}
	t->times_dirty = 0;
}

static void
on_tick(uv_timer_t *tm)
{
	struct clu_tree *t = tm->data;
	uint32_t remote = remote_possible(t);

	if (remote != t->times_remote) {
		t->times_remote = remote;
		t->times_dirty = 1;
	}
	if (t->times_dirty)
		times_write(t);
}

void
clu_tree_times(struct clu_tree *t, const char *path, int learn)
{
	t->learn = learn;
	free(t->times_path);
	if (!(t->times_path = strdup(path)))
		abort();
	t->times_remote = remote_possible(t);
	times_write(t);
	uv_timer_start(&t->tick, on_tick, 250, 250);
	uv_unref((uv_handle_t *)&t->tick);
}

/* What a ghost told: PROGRAM RUN_MS COST_MS.  0, or -EINVAL. */
static int
learn_line(struct clu_tree *t, char *line, char *err, size_t cap)
{
	char name[CLU_TIMES_NAME + 1];
	unsigned long long run, cost;
	struct clu_times_ent *e = NULL;
	uint32_t h, i, end;
	int used = 0;

	if (sscanf(line, "%40s %llu %llu %n", name, &run, &cost, &used) != 3 ||
	    line[used] || strlen(name) >= CLU_TIMES_NAME || strchr(name, '/') ||
	    strchr(line + strspn(line, " \t") + strlen(name), '-') ||
	    run > 86400000ull || cost > 600000ull) {
		snprintf(err, cap, "learn: want PROGRAM RUN_MS COST_MS");
		return -EINVAL;
	}
	for (i = 0; name[i]; i++)
		if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e) {
			snprintf(err, cap, "learn: a program name of printable "
			                   "characters");
			return -EINVAL;
		}
	if (!t->learn)
		return 0;
	h = clu_times_hash(name);
	end = h + CLU_TIMES_PROBE < CLU_TIMES_SLOTS ? h + CLU_TIMES_PROBE
	                                            : CLU_TIMES_SLOTS;
	for (i = h; i < end && !e; i++) /* its slot */
		if (!strcmp(t->times[i].name, name))
			e = &t->times[i];
	for (i = h; i < end && !e; i++) /* a free one */
		if (!t->times[i].name[0])
			e = &t->times[i];
	if (!e) /* all taken: the one learnt least goes */
		for (e = &t->times[h], i = h; i < end; i++)
			if (t->times[i].n < e->n)
				e = &t->times[i];
	if (strcmp(e->name, name) || (int64_t)time(NULL) > e->until) {
		memset(e, 0, sizeof *e);
		memcpy(e->name, name, strlen(name) + 1); /* (shorter: checked) */
		e->run_ms = (uint32_t)run;
		e->cost_ms = (uint32_t)cost;
	} else {
		e->run_ms = (uint32_t)((3ull * e->run_ms + run) / 4);
		e->cost_ms = (uint32_t)((3ull * e->cost_ms + cost) / 4);
	}
	if (e->n < 1000000)
		e->n++;
	e->until = (int64_t)time(NULL) + CLU_TIMES_KEEP_S;
	t->times_dirty = 1;
	return 0;
}

static void
tree_closed(uv_handle_t *h)
{
	struct clu_tree *t = h->data;
	struct track *k;

	while ((k = t->tracks)) {
		t->tracks = k->next;
		free(k);
	}
	free(t);
}

void
clu_tree_free(struct clu_tree *t)
{
	/* (after the loop has ended: the close completes on its last run) */
	if (t->times_path) {
		unlink(t->times_path);
		free(t->times_path);
	}
	uv_close((uv_handle_t *)&t->tick, NULL);
	uv_close((uv_handle_t *)&t->again, tree_closed);
	uv_run(t->loop, UV_RUN_NOWAIT);
}

const struct clu_policy *
clu_tree_policy(struct clu_tree *t)
{
	return &t->policy;
}

static uint32_t
mode_of(int q)
{
	return q == Q_LOST || q == Q_NODE ? P9_DMDIR | 0555
	       : q > Q_LOST               ? 0444
	                                  : files[q].mode;
}

static int
is_dir(int q)
{
	return (mode_of(q) & P9_DMDIR) != 0;
}

static struct p9_qid
qid_of(int q)
{
	struct p9_qid qid = {0};

	qid.type = is_dir(q) ? P9_QTDIR : P9_QTFILE;
	qid.path = (uint64_t)q;
	return qid;
}

/* ---- processes followed, for when their node dies ---- */

static struct track *
track_of(struct clu_tree *t, const struct p9_rfid *rf)
{
	struct track *k;

	for (k = t->tracks; k; k = k->next)
		if (k->rf == rf)
			return k;
	return NULL;
}

/* Forgets what need not be kept: a run whose fid went while its node
 * stayed up (after ENDED_MS: a link breaks before the node is known
 * dead), the lost after LOST_KEEP_MS, a node's once it has left. */
#define ENDED_MS 15000
static void
track_prune(struct clu_tree *t)
{
	uint64_t now = uv_now(t->loop);
	struct track **pp = &t->tracks, *k;

	while ((k = *pp)) {
		struct clu_member *m = clu_memb_find(t->mb, k->node);
		int drop = k->refs == 0 && !k->rf &&
		           (k->done || !m || m->state == CLU_LEFT ||
		               (m->state <= CLU_SUSPECT && now - k->ended_at > ENDED_MS) ||
		               now - k->ended_at > LOST_KEEP_MS);

		if (drop) {
			*pp = k->next;
			t->ntracks--;
			sess_unref(k->s);
			free(k);
		} else
			pp = &k->next;
	}
}

static void
track_new(struct clu_tree *t, struct p9_rfid *rf, const char *node, uid_t uid,
    struct sess *s)
{
	struct track *k;

	track_prune(t);
	if (t->ntracks >= TRACK_MAX || !(k = calloc(1, sizeof *k)))
		return; /* not followed: it would not be shown lost */
	k->rf = rf;
	k->t = t;
	k->s = s;
	s->ref++;
	snprintf(k->node, sizeof k->node, "%s", node);
	k->uid = uid;
	k->next = t->tracks;
	t->tracks = k;
	t->ntracks++;
}

/* The run's fid is gone: if its node is (or is soon) known dead, its
 * process is lost. */
static void
track_end(struct clu_tree *t, struct track *k)
{
	k->rf = NULL;
	k->ended_at = uv_now(t->loop);
	k->closing = 1;
	if (k->id)
		track_status(k); /* how it ended, if its node still answers */
	if (k->refs == 0)
		track_prune(t);
}

static void
on_again(uv_timer_t *h)
{
	struct clu_tree *t = h->data;
	struct track *k;

	for (k = t->tracks; k; k = k->next)
		if (k->again && k->rf) {
			k->again = 0;
			track_status(k);
		}
}

static void
status_read(void *arg, int err, struct p9_fcall *rep)
{
	struct track *k = arg;
	char state[16] = "", buf[sizeof k->line];
	size_t n = 0;

	k->refs--;
	if (k->nf) {
		p9_relay_fid_drop(k->nf); /* its read is answered: clunked */
		k->nf = NULL;
	}
	if (err || !rep || rep->type != P9_RREAD || rep->u.rread.count == 0)
		goto out;
	n = rep->u.rread.count < sizeof buf - 1 ? rep->u.rread.count
	                                        : sizeof buf - 1;
	memcpy(buf, rep->u.rread.data, n);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (!k->id) {
		/* the ctl fid's answer: the id; the status comes next */
		if ((k->id = (unsigned)strtoul(buf, NULL, 10)))
			track_status(k);
		goto out;
	}
	snprintf(k->line, sizeof k->line, "%s", buf);
	/* still new (its start waits for imports): later again */
	if (sscanf(k->line, "%*s %*s %15s", state) == 1 &&
	    !strcmp(state, "new") && k->rf) {
		k->again = 1;
		if (!uv_is_active((uv_handle_t *)&k->t->again))
			uv_timer_start(&k->t->again, on_again, 300, 0);
	}
out:
	if (k->closing && k->refs == 0) {
		/* the run has gone: a process that ended is not lost */
		if (!*state && sscanf(k->line, "%*s %*s %15s", state) != 1)
			*state = '\0';
		if (!strcmp(state, "exited") || !strcmp(state, "killed"))
			k->done = 1;
		track_prune(k->t);
	}
}

/* After a ctl write on a followed run: its status, read on the same fid
 * (the node answers in order: after the write). */
/* A read of the run's status: its id from its ctl fid first (a clone
 * fid reads as the id), then N/status from the attach's root on its node
 * (walk, open, read, clunk, sent in order). */
static void status_walked(void *arg, int err, struct p9_fcall *rep) {}

static void
track_status(struct track *k)
{
	struct p9_fcall t;
	struct p9_rfid *root, *nf;
	struct clu_member *m;
	char num[16];
	int err;

	memset(&t, 0, sizeof t);
	if (!k->id) {
		if (!k->rf)
			return;
		t.type = P9_TREAD;
		t.u.read.fid = p9_relay_fid_num(k->rf);
		t.u.read.count = 15;
		if (p9_relay_call(k->rf, &t, NULL, status_read, k) == 0)
			k->refs++;
		return;
	}
	if (!(m = clu_memb_find(k->t->mb, k->node)) ||
	    !(root = sess_root(k->s, m, P9_2000U, &err)))
		return;
	nf = p9_relay_fid_new(root);
	snprintf(num, sizeof num, "%u", k->id);
	t.type = P9_TWALK;
	t.u.walk.fid = p9_relay_fid_num(root);
	t.u.walk.newfid = p9_relay_fid_num(nf);
	t.u.walk.nwname = 2;
	t.u.walk.wname[0] = num; /* (copied by the call) */
	t.u.walk.wname[1] = "status";
	if (p9_relay_call(root, &t, nf, status_walked, NULL) < 0) {
		p9_relay_fid_drop(nf);
		return;
	}
	memset(&t, 0, sizeof t);
	t.type = P9_TOPEN;
	t.u.open.fid = p9_relay_fid_num(nf);
	t.u.open.mode = P9_OREAD;
	p9_relay_call(nf, &t, NULL, status_walked, NULL);
	memset(&t, 0, sizeof t);
	t.type = P9_TREAD;
	t.u.read.fid = p9_relay_fid_num(nf);
	t.u.read.count = sizeof k->line - 1;
	k->nf = nf;
	if (p9_relay_call(nf, &t, NULL, status_read, k) == 0)
		k->refs++;
	else
		status_read(k, ECONNRESET, NULL), k->refs++;
}

/* A lost process uid may see, NODE.N of a dead node; else NULL. */
static struct track *
lost_named(struct clu_tree *t, const char *node, unsigned id, uid_t uid)
{
	struct track *k;

	for (k = t->tracks; k; k = k->next)
		if (k->id == id && !strcmp(k->node, node) &&
		    (uid == 0 || k->uid == uid))
			return k;
	return NULL;
}

/* Its status line as a lost one: the state word is "lost". */
static void
lost_line(const struct track *k, char *out, size_t cap)
{
	char id[16], pid[16], state[16], rest[256];

	if (sscanf(k->line, "%15s %15s %15s %255[^\n]", id, pid, state, rest) == 4)
		snprintf(out, cap, "%s %s lost %s\n", id, pid, rest);
	else
		snprintf(out, cap, "%u 0 lost %u %s 0 0 - -\n", k->id,
		    (unsigned)k->uid, k->node);
}

static void
sess_unref(struct sess *s)
{
	unsigned i;

	if (!s || --s->ref > 0)
		return;
	for (i = 0; i < s->nran; i++) {
		struct clu_member *m = clu_memb_find(s->t->mb, s->ran[i].node);

		if (m)
			clu_place_ended(m, s->ran[i].at, uv_now(s->t->loop),
			    s->ghost);
	}
	free(s->ran);
	for (i = 0; i < s->nroots; i++)
		p9_relay_fid_drop(s->roots[i].root);
	free(s->roots);
	free(s);
}

static void listing_unref(struct listing *ls);

static void
free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void
destroy_fid(struct p9_fid *fid)
{
	struct tfid *f = fid->aux;

	if (p9_relay_is_fid(f)) {
		struct clu_tree *t = fid->tree ? fid->tree->aux : NULL;
		struct track *k = t ? track_of(t, fid->aux) : NULL;

		if (k)
			track_end(t, k);
		p9_relay_fid_drop(fid->aux);
		fid->aux = NULL;
		return;
	}
	if (f) {
		if (f->lost)
			f->lost->refs--;
		if (f->ls) {
			f->ls->f = NULL;
			listing_unref(f->ls);
		}
		free_names(f->names, f->nnames);
		free(f->data);
		sess_unref(f->s);
	}
	free(f);
	fid->aux = NULL;
}

static struct tfid *
tfid_new(int q, struct sess *s)
{
	struct tfid *f = calloc(1, sizeof *f);

	if (!f)
		abort();
	f->q = q;
	f->s = s;
	f->t = s->t;
	f->omode = -1;
	s->ref++;
	return f;
}

/* The session's attach on node m in dialect d: made now if need be (the
 * requests that use it queue behind it).  NULL with *err. */
static struct p9_rfid *
sess_tree(struct sess *s, const struct clu_member *m, enum p9_dialect d,
    const char *aname, int *err)
{
	struct p9_rfid *rf;
	unsigned i;

	for (i = 0; i < s->nroots; i++)
		if (s->roots[i].d == d && !strcmp(s->roots[i].node, m->name) &&
		    !strcmp(s->roots[i].aname, aname))
			return s->roots[i].root;
	if (!(rf = p9_relay_attach(s->t->relay, m->addr, s->uid, aname, d, err)))
		return NULL;
	if (!(s->roots = realloc(s->roots, (s->nroots + 1) * sizeof *s->roots)))
		abort();
	snprintf(s->roots[s->nroots].node, CLU_NAME_MAX, "%s", m->name);
	s->roots[s->nroots].d = d;
	s->roots[s->nroots].aname = aname;
	s->roots[s->nroots].root = rf;
	s->nroots++;
	return rf;
}

static struct p9_rfid *
sess_root(struct sess *s, const struct clu_member *m, enum p9_dialect d,
    int *err)
{
	return sess_tree(s, m, d, "proc", err);
}

static void
t_attach(struct p9_req *r)
{
	struct clu_tree *t = p9_req_aux(r);
	struct p9_ident id;
	struct sess *s;
	uid_t uid;
	int rc, q;

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
	if (!(s = calloc(1, sizeof *s)))
		abort();
	s->t = t;
	s->uid = uid;
	s->d = p9_conn_dialect(r->conn) == P9_2000L ? P9_2000L : P9_2000U;
	q = !strcmp(r->in.u.attach.aname, "proc") ? Q_PROC : Q_ROOT;
	r->fid->aux = tfid_new(q, s);
	r->out.u.rqid.qid = qid_of(q);
	p9_respond(r);
}

/* "NODE.N": the member (alive or not) and N; NULL if not that form. */
static struct clu_member *
proc_name(struct clu_tree *t, const char *name, char *num, size_t cap)
{
	const char *dot = strrchr(name, '.');
	char node[CLU_NAME_MAX];

	if (!dot || dot == name || !dot[1] ||
	    strspn(dot + 1, "0123456789") != strlen(dot + 1) ||
	    strlen(dot + 1) >= cap || (size_t)(dot - name) >= sizeof node)
		return NULL;
	memcpy(node, name, (size_t)(dot - name));
	node[dot - name] = '\0';
	strcpy(num, dot + 1);
	return clu_memb_find(t->mb, node);
}

/* The member this attach's policy chooses now, counted as placed there;
 * NULL with the errno and a message in err. */
static struct clu_member *
place_now(struct clu_tree *t, struct sess *s, char *err, size_t ecap,
    int *eno)
{
	struct clu_member *const *all, *m;
	struct clu_policy p = t->policy;
	unsigned n;

	if (s->haspol)
		clu_policy_merge(&p, &s->pol);
	n = clu_memb_list(t->mb, &all);
	if ((m = clu_place(all, n, &p, &t->rr, uv_now(t->loop)))) {
		/* running there until this attach goes */
		void *more = s->nran < 4096
		                 ? realloc(s->ran, (s->nran + 1) * sizeof *s->ran)
		                 : NULL;

		if (more) {
			s->ran = more;
			snprintf(s->ran[s->nran].node, CLU_NAME_MAX, "%s",
			    m->name);
			s->ran[s->nran++].at = uv_now(t->loop);
		} else if (m->running > 0)
			m->running--; /* (untracked: not counted) */
	} else {
		char ps[300];

		*eno = errno;
		clu_policy_format(&p, ps, sizeof ps);
		snprintf(err, ecap,
		    *eno == ENOENT ? "placement '%s': no such node"
		    : *eno == EHOSTUNREACH
		        ? "placement '%s': the node is not alive"
		        : "placement '%s': no live member meets it",
		    ps);
	}
	return m;
}

/* The node a walk from proc/ into name goes to, and the first name
 * there; NULL with the errno and a message in err. */
static struct clu_member *
route(struct clu_tree *t, struct sess *s, const char *name, char *first,
    size_t cap, char *err, size_t ecap, int *eno)
{
	struct clu_member *m;

	if (!strcmp(name, "clone")) {
		/* placed (and counted) by a read of place just before, or
		 * now */
		if (!*s->pin || uv_now(t->loop) - s->pin_at >= 10000 ||
		    !(m = clu_memb_find(t->mb, s->pin)) ||
		    m->state != CLU_ALIVE)
			m = place_now(t, s, err, ecap, eno);
		s->pin[0] = '\0';
		if (!m)
			return NULL;
		snprintf(s->last, sizeof s->last, "%s", m->name);
		snprintf(first, cap, "clone");
		return m;
	}
	if (!strcmp(name, "last")) {
		if (!*s->last || !(m = clu_memb_find(t->mb, s->last))) {
			*eno = ENOENT;
			snprintf(err, ecap, "last: no process made on this attach");
			return NULL;
		}
		snprintf(first, cap, "last");
		return m;
	}
	if (!(m = proc_name(t, name, first, cap))) {
		*eno = ENOENT;
		snprintf(err, ecap, "%s: no such process (want NODE.N)", name);
		return NULL;
	}
	if (m->state >= CLU_DEAD) {
		*eno = EHOSTDOWN;
		snprintf(err, ecap, "%s: node %s is %s: the process is lost", name,
		    m->name, clu_state_name(m->state));
		return NULL;
	}
	return m;
}

static void
t_walk(struct p9_req *r)
{
	struct clu_tree *t = p9_req_aux(r);
	struct tfid *f = r->fid->aux, *nf;
	struct p9_qid pre[P9_MAXWELEM];
	struct track *lost;
	char node[CLU_NAME_MAX];
	int q = f->q, i, k;

	if (p9_relay_is_fid(f)) {
		p9_relay_forward(r);
		return;
	}
	lost = f->lost;
	snprintf(node, sizeof node, "%s", f->node);
	for (i = 0; i < r->in.u.walk.nwname; i++) {
		const char *name = r->in.u.walk.wname[i];

		if (!is_dir(q))
			break;
		if (!strcmp(name, "..")) {
			q = q == Q_NODE ? Q_NODES
			    : q >= Q_LOST ? Q_PROC
			                  : files[q].parent;
			lost = NULL;
			pre[i] = r->out.u.rwalk.wqid[i] = qid_of(q);
			continue;
		}
		if (!strcmp(name, "."))
			goto same;
		if (q == Q_LOST) {
			if (strcmp(name, "status") && strcmp(name, "wait"))
				break;
			q = name[0] == 's' ? Q_LOSTSTATUS : Q_LOSTWAIT;
			goto same;
		}
		if (q == Q_NODES) {
			struct clu_member *m = clu_memb_find(t->mb, name);

			if (!m || m->state > CLU_SUSPECT)
				break;
			q = Q_NODE;
			snprintf(node, sizeof node, "%s", m->name);
			goto same;
		}
		if (q == Q_NODE) {
			/* into the member's own tree: the rest is its walk */
			struct clu_member *m = clu_memb_find(t->mb, node);
			struct p9_rfid *root;
			char *names[P9_MAXWELEM];
			int eno = 0, n;

			for (k = 0; k < 3 && strcmp(name, node_trees[k]); k++)
				;
			if (k == 3)
				break;
			if (!m || m->state > CLU_SUSPECT) {
				p9_respond_errmsg(r, EHOSTDOWN,
				    "node %s is not alive", node);
				return;
			}
			if (r->newfid == r->fid) {
				p9_respond_errmsg(r, EINVAL,
				    "walk into a node to a new fid");
				return;
			}
			if (!(root = sess_tree(f->s, m, f->s->d, node_trees[k],
			          &eno))) {
				p9_respond_errmsg(r, eno, "cannot reach %s: %s",
				    node, strerror(eno));
				return;
			}
			pre[i] = qid_of(Q_NODE);
			pre[i].path = 200 + (uint64_t)k;
			for (n = 0; i + 1 + n < r->in.u.walk.nwname; n++)
				names[n] = r->in.u.walk.wname[i + 1 + n];
			p9_relay_walk(r, root, names, (unsigned)n, pre,
			    (unsigned)i + 1);
			return;
		}
		for (k = 1; k < Q_N; k++)
			if (files[k].parent == q && !strcmp(name, files[k].name))
				break;
		if (k < Q_N) {
			q = k;
			pre[i] = r->out.u.rwalk.wqid[i] = qid_of(q);
			continue;
		}
		if (q == Q_PROC) {
			/* into a node: the rest is its walk */
			char first[CLU_NAME_MAX], err[300], *names[P9_MAXWELEM];
			struct clu_member *m;
			struct p9_rfid *root;
			int eno = 0, n;

			if ((m = proc_name(t, name, first, sizeof first)) &&
			    m->state >= CLU_DEAD &&
			    (lost = lost_named(t, m->name,
			         (unsigned)strtoul(first, NULL, 10), f->s->uid))) {
				/* a process of a dead node: what is known */
				q = Q_LOST;
				goto same;
			}
			if (r->newfid == r->fid) {
				p9_respond_errmsg(r, EINVAL,
				    "walk into a process to a new fid");
				return;
			}
			if (!(m = route(t, f->s, name, first, sizeof first, err,
			          sizeof err, &eno)))
				goto fail_here;
			if (!(root = sess_root(f->s, m, f->s->d, &eno))) {
				snprintf(err, sizeof err, "%s: cannot reach %s: %s",
				    name, m->name, strerror(eno));
				goto fail_here;
			}
			names[0] = first;
			for (n = 1; i + n < r->in.u.walk.nwname; n++)
				names[n] = r->in.u.walk.wname[i + n];
			p9_relay_walk(r, root, names, (unsigned)n, pre, (unsigned)i);
			if (!strcmp(name, "clone") && n == 1)
				track_new(t, r->newfid->aux, m->name, f->s->uid, f->s);
			return;
		fail_here:
			if (i == 0) {
				p9_respond_errmsg(r, eno, "%s", err);
				return;
			}
			break;
		}
		break;
	same:
		pre[i] = r->out.u.rwalk.wqid[i] = qid_of(q);
	}
	r->out.u.rwalk.nwqid = (uint16_t)i;
	if (i == 0 && r->in.u.walk.nwname > 0) {
		p9_respond_error(r, is_dir(q) ? ENOENT : ENOTDIR);
		return;
	}
	if (i == r->in.u.walk.nwname) {
		nf = tfid_new(q, f->s);
		nf->t = t;
		if (q == Q_NODE)
			snprintf(nf->node, sizeof nf->node, "%s", node);
		if ((nf->lost = q >= Q_LOST ? lost : NULL))
			nf->lost->refs++;
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

/* ---- listing proc/ ---- */

static void
listing_unref(struct listing *ls)
{
	if (--ls->ref > 0)
		return;
	free_names(ls->names, ls->n);
	free(ls);
}

static void
timer_closed(uv_handle_t *h)
{
	listing_unref(h->data);
}

/* The listing is complete (or out of time): the open is answered. */
static void
listing_done(struct listing *ls)
{
	struct p9_req *r = ls->r;

	if (!r)
		return;
	ls->r = NULL;
	uv_timer_stop(&ls->timer);
	uv_close((uv_handle_t *)&ls->timer, timer_closed);
	if (ls->f) {
		ls->f->names = ls->names;
		ls->f->nnames = ls->n;
		ls->names = NULL;
		ls->n = 0;
		ls->f->omode = P9_OREAD;
		ls->f->ls = NULL;
		listing_unref(ls); /* the fid's */
	}
	r->out.u.ropen.qid = qid_of(Q_PROC);
	r->out.u.ropen.iounit = 0;
	p9_respond(r);
}

static void
on_list_timeout(uv_timer_t *h)
{
	listing_done(h->data);
}

/* One member's list, read a message at a time. */
struct lread {
	struct listing *ls;
	char node[CLU_NAME_MAX];
	struct p9_rfid *fid;
	uint64_t off;
	int step; /* 0 walk, 1 open, 2 reading */
};

static void lread_next(struct lread *lr);

static void
lread_end(struct lread *lr)
{
	struct listing *ls = lr->ls;

	p9_relay_fid_drop(lr->fid);
	free(lr);
	if (--ls->pending == 0)
		listing_done(ls);
	listing_unref(ls);
}

static void
add_name(struct listing *ls, const char *node, const char *n)
{
	if (ls->n == ls->cap) {
		ls->cap = ls->cap ? 2 * ls->cap : 64;
		if (!(ls->names = realloc(ls->names, ls->cap * sizeof *ls->names)))
			abort();
	}
	if (asprintf(&ls->names[ls->n], "%s.%s", node, n) < 0)
		abort();
	ls->n++;
}

static void
lread_answered(void *arg, int err, struct p9_fcall *rep)
{
	struct lread *lr = arg;
	uint32_t left;
	uint8_t *p;

	if (err || !lr->ls->r) {
		lread_end(lr);
		return;
	}
	if (lr->step < 2) {
		lr->step++;
		lread_next(lr);
		return;
	}
	left = rep->u.rread.count;
	if (left == 0) {
		lread_end(lr);
		return;
	}
	p = (uint8_t *)rep->u.rread.data;
	lr->off += left;
	while (left > 0) {
		struct p9_stat st;
		ssize_t used = p9_stat_unpack(&st, p, left, P9_2000U);

		if (used <= 0)
			break;
		if (st.name && *st.name &&
		    strspn(st.name, "0123456789") == strlen(st.name))
			add_name(lr->ls, lr->node, st.name);
		p += used;
		left -= (uint32_t)used;
	}
	lread_next(lr);
}

static void
lread_next(struct lread *lr)
{
	struct p9_fcall t;

	memset(&t, 0, sizeof t);
	switch (lr->step) {
	case 1:
		t.type = P9_TOPEN;
		t.u.open.fid = p9_relay_fid_num(lr->fid);
		t.u.open.mode = P9_OREAD;
		break;
	case 2:
		t.type = P9_TREAD;
		t.u.read.fid = p9_relay_fid_num(lr->fid);
		t.u.read.offset = lr->off;
		t.u.read.count = 60000;
		break;
	}
	if (p9_relay_call(lr->fid, &t, NULL, lread_answered, lr) < 0)
		lread_end(lr);
}

static void
list_member(struct listing *ls, struct sess *s, const struct clu_member *m)
{
	struct p9_rfid *root;
	struct lread *lr;
	struct p9_fcall t;
	int err;

	if (!(root = sess_root(s, m, P9_2000U, &err)))
		return;
	if (!(lr = calloc(1, sizeof *lr)))
		abort();
	lr->ls = ls;
	snprintf(lr->node, sizeof lr->node, "%s", m->name);
	lr->fid = p9_relay_fid_new(root);
	memset(&t, 0, sizeof t);
	t.type = P9_TWALK;
	t.u.walk.fid = p9_relay_fid_num(root);
	t.u.walk.newfid = p9_relay_fid_num(lr->fid);
	t.u.walk.nwname = 0;
	ls->ref++;
	ls->pending++;
	if (p9_relay_call(root, &t, lr->fid, lread_answered, lr) < 0) {
		ls->pending--;
		listing_unref(ls);
		p9_relay_fid_drop(lr->fid);
		free(lr);
	}
}

static void
list_proc(struct clu_tree *t, struct p9_req *r, struct tfid *f)
{
	struct clu_member *const *m;
	struct listing *ls = calloc(1, sizeof *ls);
	unsigned n = clu_memb_list(t->mb, &m), i;
	struct track *k;

	if (!ls)
		abort();
	ls->ref = 2; /* the fid's and the timer's */
	ls->r = r;
	ls->f = f;
	f->ls = ls;
	r->aux = ls;
	uv_timer_init(t->loop, &ls->timer);
	ls->timer.data = ls;
	ls->pending = 1; /* until all are asked */
	track_prune(t);
	for (k = t->tracks; k; k = k->next) {
		struct clu_member *d = clu_memb_find(t->mb, k->node);
		char id[16];

		if (k->id && d && d->state >= CLU_DEAD &&
		    (f->s->uid == 0 || k->uid == f->s->uid)) {
			snprintf(id, sizeof id, "%u", k->id);
			add_name(ls, k->node, id);
		}
	}
	for (i = 0; i < n; i++)
		if (m[i]->state <= CLU_SUSPECT)
			list_member(ls, f->s, m[i]);
	uv_timer_start(&ls->timer, on_list_timeout, LIST_MS, 0);
	if (--ls->pending == 0)
		listing_done(ls);
}

/* ---- the handlers ---- */

static void
t_open(struct p9_req *r)
{
	struct clu_tree *t = p9_req_aux(r);
	struct tfid *f = r->fid->aux;
	uint8_t mode = r->in.u.open.mode & 3;
	size_t cap = 0;

	if (p9_relay_is_fid(f)) {
		p9_relay_forward(r);
		return;
	}
	if (f->omode >= 0) {
		p9_respond_error(r, EBADF);
		return;
	}
	if (is_dir(f->q) && mode != P9_OREAD) {
		p9_respond_error(r, EISDIR);
		return;
	}
	if (((f->q == Q_CTL || f->q == Q_LEARN) && mode != P9_OWRITE) ||
	    ((f->q == Q_MEMBERS || f->q == Q_PLACE) && mode != P9_OREAD)) {
		p9_respond_error(r, EACCES);
		return;
	}
	if ((f->q == Q_CTL || (f->q == Q_POLICY && mode != P9_OREAD)) &&
	    f->s->uid != 0) {
		p9_respond_errmsg(r, EPERM, "only root changes the cluster");
		return;
	}
	if (f->q == Q_PROC) {
		list_proc(t, r, f);
		return;
	}
	if (f->q == Q_PLACE) {
		/* placed now; this attach's next clone goes there */
		struct clu_member *m;
		char err[300];
		int eno = 0;

		if (!(m = place_now(t, f->s, err, sizeof err, &eno))) {
			p9_respond_errmsg(r, eno, "%s", err);
			return;
		}
		snprintf(f->s->pin, sizeof f->s->pin, "%s", m->name);
		f->s->pin_at = uv_now(t->loop);
		f->s->ghost = 1;
		addf(&f->data, &f->len, &cap, "%s %s\n", m->name,
		    m->self ? "here" : "there");
	}
	if (f->q > Q_LOST && mode != P9_OREAD) {
		p9_respond_error(r, EACCES);
		return;
	}
	if (f->q == Q_LOSTSTATUS) {
		char line[300];

		lost_line(f->lost, line, sizeof line);
		addf(&f->data, &f->len, &cap, "%s", line);
	} else if (f->q == Q_LOSTWAIT)
		addf(&f->data, &f->len, &cap, "lost\n");
	if (f->q == Q_MEMBERS) {
		struct clu_member *const *m;
		unsigned n = clu_memb_list(t->mb, &m), i;

		for (i = 0; i < n; i++)
			member_line(&f->data, &f->len, &cap, m[i], uv_now(t->loop));
	} else if (f->q == Q_POLICY || f->q == Q_PPOLICY) {
		struct clu_policy p = t->policy;
		char line[512];

		if (f->q == Q_PPOLICY && f->s->haspol)
			clu_policy_merge(&p, &f->s->pol);
		clu_policy_format(&p, line, sizeof line);
		addf(&f->data, &f->len, &cap, "%s\n", line);
	}
	f->omode = mode;
	r->out.u.ropen.qid = qid_of(f->q);
	p9_respond(r);
}

static int
stat_of(int q, struct p9_stat *st)
{
	memset(st, 0, sizeof *st);
	st->qid = qid_of(q);
	st->mode = mode_of(q);
	st->name = q == Q_ROOT       ? "/"
	           : q == Q_LOST       ? "lost"
	           : q == Q_LOSTSTATUS ? "status"
	           : q == Q_LOSTWAIT   ? "wait"
	           : q == Q_NODE       ? "node"
	                               : (char *)files[q].name;
	st->uid = st->gid = st->muid = "root";
	st->extension = "";
	st->n_uid = st->n_gid = st->n_muid = 0;
	return 0;
}

static int
dirgen(void *arg, uint64_t index, struct p9_stat *st)
{
	struct tfid *f = arg;
	uint64_t k = 0;
	int q;

	if (f->q == Q_LOST)
		return index < 2 ? stat_of(index ? Q_LOSTWAIT : Q_LOSTSTATUS, st)
		                 : -1;
	if (f->q == Q_NODE) {
		if (index >= 3)
			return -1;
		stat_of(Q_NODE, st);
		st->name = (char *)node_trees[index];
		st->qid.path = 200 + index;
		return 0;
	}
	if (f->q == Q_NODES) {
		struct clu_member *const *m;
		unsigned n = clu_memb_list(f->t->mb, &m), i;

		for (i = 0; i < n; i++)
			if (m[i]->state <= CLU_SUSPECT && k++ == index) {
				stat_of(Q_NODE, st);
				st->name = m[i]->name;
				st->qid.path = 300 + i;
				return 0;
			}
		return -1;
	}
	for (q = 1; q < Q_N; q++)
		if (files[q].parent == f->q && q != Q_PLACE && q != Q_LEARN &&
		    k++ == index)
			return stat_of(q, st);
	if (f->q != Q_PROC || index - k >= f->nnames)
		return -1;
	stat_of(Q_PROC, st);
	st->name = f->names[index - k];
	st->qid.path = 1000 + index;
	return 0;
}

static void
t_read(struct p9_req *r)
{
	struct tfid *f = r->fid->aux;

	if (p9_relay_is_fid(f)) {
		p9_relay_forward(r);
		return;
	}
	if (f->omode != P9_OREAD && f->omode != P9_ORDWR) {
		p9_respond_error(r, EBADF);
		return;
	}
	if (is_dir(f->q))
		p9_respond_dirread(r, dirgen, f);
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

/* A policy written: checked whole, then it applies. */
static int
set_policy(struct clu_tree *t, struct clu_policy *dst, int *has, char *buf,
    char *err, size_t cap)
{
	struct clu_policy p;

	buf[strcspn(buf, "\n")] = '\0';
	if (clu_policy_parse(buf, &p, err, cap) < 0)
		return EINVAL;
	if (p.kind == CLU_PINNED && !clu_memb_find(t->mb, p.node)) {
		snprintf(err, cap, "policy: no node '%.64s' in the cluster",
		    p.node);
		return ENOENT;
	}
	*dst = p;
	if (has)
		*has = 1;
	return 0;
}

static void
t_write(struct p9_req *r)
{
	struct clu_tree *t = p9_req_aux(r);
	struct tfid *f = r->fid->aux;
	uint32_t n = r->in.u.write.count;
	char *buf, *line, *save = NULL, err[256] = "";
	int rc = 0;

	if (p9_relay_is_fid(f)) {
		struct track *k = track_of(t, r->fid->aux);

		p9_relay_forward(r);
		if (k) /* a run of ours: its status after this */
			track_status(k);
		return;
	}
	if (f->omode != P9_OWRITE && f->omode != P9_ORDWR) {
		p9_respond_error(r, EBADF);
		return;
	}
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
	if (f->q == Q_POLICY)
		rc = set_policy(t, &t->policy, NULL, buf, err, sizeof err);
	else if (f->q == Q_PPOLICY)
		rc = set_policy(
		    t, &f->s->pol, &f->s->haspol, buf, err, sizeof err);
	else
		for (line = strtok_r(buf, "\n", &save); line && !rc;
		     line = strtok_r(NULL, "\n", &save))
			rc = f->q == Q_LEARN ? learn_line(t, line, err, sizeof err)
			                     : ctl_line(t, line, err, sizeof err);
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

	if (p9_relay_is_fid(f)) {
		p9_relay_forward(r);
		return;
	}
	stat_of(f->q, &r->out.u.rstat.stat);
	p9_respond(r);
}

static void
t_clunk(struct p9_req *r)
{
	if (p9_relay_is_fid(r->fid->aux)) {
		p9_relay_forward(r);
		return;
	}
	p9_respond(r);
}

static void
t_flush(struct p9_req *old)
{
	struct listing *ls;

	if (old->fid && p9_relay_is_fid(old->fid->aux)) {
		p9_relay_flush(old);
		return;
	}
	/* a listing's open: answered with what came */
	if ((ls = old->aux) && ls->r == old)
		listing_done(ls);
}

static void
t_other(struct p9_req *r)
{
	if (p9_relay_is_fid(r->fid->aux)) {
		p9_relay_forward(r);
		return;
	}
	p9_respond_error(r, EOPNOTSUPP);
}

/* .L requests: a node's fid takes them as they are; a fid here as the
 * 9P2000 request they map onto. */
static void
t_dotl(struct p9_req *r)
{
	if (p9_relay_is_fid(r->fid->aux)) {
		p9_relay_forward(r);
		return;
	}
	if (p9_req_map_dotl(r) < 0) {
		p9_respond_error(r, EOPNOTSUPP);
		return;
	}
	switch (r->in.type) {
	case P9_TOPEN:
		t_open(r);
		break;
	case P9_TSTAT:
		t_stat(r);
		break;
	case P9_TREAD:
		t_read(r);
		break;
	default:
		p9_respond_error(r, EOPNOTSUPP);
	}
}

static const struct p9_ops ops = {
    .attach = t_attach,
    .walk = t_walk,
    .open = t_open,
    .read = t_read,
    .write = t_write,
    .clunk = t_clunk,
    .stat = t_stat,
    .wstat = t_other,
    .remove = t_other,
    .create = t_other,
    .flush = t_flush,
    .destroy_fid = destroy_fid,
    .lopen = t_dotl,
    .lcreate = t_dotl,
    .getattr = t_dotl,
    .setattr = t_dotl,
    .readdir = t_dotl,
    .mkdir = t_other,
    .symlink = t_other,
    .mknod = t_other,
    .rename = t_other,
    .renameat = t_other,
    .readlink = t_other,
    .link = t_other,
    .unlinkat = t_other,
    .fsync = t_other,
    .statfs = t_other,
    .xattrwalk = t_other,
    .xattrcreate = t_other,
    .lock = t_other,
    .getlock = t_other,
};

const struct p9_ops *
clu_tree_ops(void)
{
	return &ops;
}
