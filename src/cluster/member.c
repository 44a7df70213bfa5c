/*
 * member.c - who is in the cluster and who is alive: a member of the SWIM
 * family (Das, Gupta, Motivala 2002), with the refinements memberlist made
 * common.
 *
 * Probes.  Every probe period a node pings one member, taking them in a
 * random order, each once a round.  No ack within the timeout: it asks
 * `indirect` others to ping the member for it.  No ack by the end of the
 * period: the member is suspect.  A suspect that does not refute within
 * suspect_ms is dead.  A member that hears it is suspected (or thought
 * dead) refutes with a higher incarnation, so a node busy at 100 % CPU
 * that answers late is suspected, not killed.
 *
 * News.  A change (a join, a suspicion, a death, a refutation, a new load
 * figure) is put in the gossip queue and sent about log N times: in a few
 * datagrams each gossip period to `fanout` random members, and on every
 * ping and ack while room is left.  Every datagram also carries its
 * sender's own entry, and a digest of the sender's view (count and hash of
 * names, incarnations and states): a receiver that sees another digest
 * sends its whole view and asks for the other's (push-pull), at most once
 * a probe period.  A new node learns all from the member it joins through;
 * the rest learn it from gossip.  Dead members are pinged now and then, so
 * a cut link that heals joins the two sides again.
 *
 * Cost per node per period: one ping and its ack, plus gossip while there
 * is news; flat in the size of the cluster (docs/cluster.md has the
 * arithmetic).
 *
 * Wire.  A datagram is: version byte, 12-byte nonce, then the message
 * sealed with ChaCha20-Poly1305 (16-byte tag) under a key derived from the
 * cluster key with HKDF-SHA256; the version byte is authenticated too.
 * Unsealed, a message is: type (1), seq (4), digest count (4) and hash
 * (8), the sender's entry, then entries, each as below.  Integers are
 * little-endian; strings a length byte and the bytes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/utsname.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "cluster.h"

#define WIRE_VERSION 1
#define NONCE_LEN 12
#define TAG_LEN 16
#define DGRAM_MAX 1400 /* a datagram fits one Ethernet frame */
#define SEAL_OVERHEAD (1 + NONCE_LEN + TAG_LEN)
#define BODY_MAX (DGRAM_MAX - SEAL_OVERHEAD)
#define RELAYS 64        /* indirect probes we carry for others at once */
#define DEAD_KEEP_MS (3600 * 1000ull) /* forgotten after */
#define LEAVE_MS 300     /* the news of a leave goes out, then we go */
#define META_MS 1000     /* load sampled */

enum {
	M_PING = 1, /* ack me; the target's name follows */
	M_ACK,
	M_PINGREQ,  /* ping the named member for me */
	M_GOSSIP,   /* entries only */
	M_SYNC,     /* a whole view, in parts; the flag asks for yours */
	M_DRAIN,    /* drain (flag 1) or open (0) yourself */
};

struct relay {
	uint32_t seq;    /* our ping's */
	uint32_t oseq;   /* the asker's */
	struct sockaddr_storage sa;
	socklen_t salen;
	uint64_t until;
};

struct clu_memb {
	uv_loop_t *loop;
	struct clu_memb_opts o;
	char name[CLU_NAME_MAX], addr[CLU_ADDR_MAX], listen[CLU_ADDR_MAX];
	char labels[CLU_LABELS_MAX], version[16];
	uint8_t key[32], prevkey[32];
	int haveprev;
	uv_udp_t udp;
	uv_timer_t probe_t, gossip_t, timeout_t, meta_t, join_t;
	int nhandles; /* open, for the close */
	struct clu_member **m; /* sorted by name */
	unsigned n, cap;
	struct clu_member *self;
	uint32_t seq;
	/* the probe under way */
	struct clu_member *target;
	uint32_t pseq;
	int acked, indirect_sent;
	unsigned round;
	struct relay relays[RELAYS];
	/* joins: seeds asked until someone answers */
	char **seeds;
	unsigned nseeds;
	int joined;
	uint64_t last_sync, last_dead_ping;
	/* load sampling: on the CPUs in cpus alone when confined to
	 * fewer than the host has */
	double runq;
	cpu_set_t cpus;
	int confined;
	unsigned scanned, scan_wait; /* the last count, and the samples
	                              * that use it again */
	uint32_t published_load;
	uint64_t published_mem, published_at;
	struct clu_memb_stats st;
	int leaving;
	void (*done)(void *);
	void *done_arg;
};

const char *
clu_state_name(enum clu_state s)
{
	static const char *const names[] = {"alive", "suspect", "dead", "left"};

	return (unsigned)s < 4 ? names[s] : "?";
}

/* ---- the seal ---- */

int
clu_memb_key(const uint8_t ck[P9_KEY_LEN], uint8_t out[32])
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	size_t len = 32;
	int ok = c && EVP_PKEY_derive_init(c) > 0 &&
	         EVP_PKEY_CTX_set_hkdf_md(c, EVP_sha256()) > 0 &&
	         EVP_PKEY_CTX_set1_hkdf_salt(
	             c, (const unsigned char *)"unum-membership", 15) > 0 &&
	         EVP_PKEY_CTX_set1_hkdf_key(c, ck, P9_KEY_LEN) > 0 &&
	         EVP_PKEY_CTX_add1_hkdf_info(
	             c, (const unsigned char *)"datagrams v1", 12) > 0 &&
	         EVP_PKEY_derive(c, out, &len) > 0;

	EVP_PKEY_CTX_free(c);
	return ok ? 0 : -1;
}

/* body[0..len) sealed into out (len + SEAL_OVERHEAD bytes).  0 or -1. */
static int
seal(const uint8_t key[32], const uint8_t *body, size_t len, uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n, ok;

	out[0] = WIRE_VERSION;
	ok = c && RAND_bytes(out + 1, NONCE_LEN) == 1 &&
	     EVP_EncryptInit_ex(c, EVP_chacha20_poly1305(), NULL, key,
	         out + 1) == 1 &&
	     EVP_EncryptUpdate(c, NULL, &n, out, 1) == 1 &&
	     EVP_EncryptUpdate(c, out + 1 + NONCE_LEN, &n, body, (int)len) ==
	         1 &&
	     EVP_EncryptFinal_ex(c, out + 1 + NONCE_LEN + n, &n) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, TAG_LEN,
	         out + 1 + NONCE_LEN + len) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

/* The body of datagram d (n bytes) into body; its length, or -1. */
ssize_t
clu_memb_open(const uint8_t key[32], const uint8_t *d, size_t n, uint8_t *body)
{
	EVP_CIPHER_CTX *c;
	size_t len;
	int k, ok;

	if (n < SEAL_OVERHEAD || d[0] != WIRE_VERSION)
		return -1;
	len = n - SEAL_OVERHEAD;
	if (!(c = EVP_CIPHER_CTX_new()))
		return -1;
	ok = EVP_DecryptInit_ex(c, EVP_chacha20_poly1305(), NULL, key, d + 1) ==
	         1 &&
	     EVP_DecryptUpdate(c, NULL, &k, d, 1) == 1 &&
	     EVP_DecryptUpdate(c, body, &k, d + 1 + NONCE_LEN, (int)len) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, TAG_LEN,
	         (void *)(d + 1 + NONCE_LEN + len)) == 1 &&
	     EVP_DecryptFinal_ex(c, body + k, &k) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok ? (ssize_t)len : -1;
}

/* ---- encoding ---- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int full;
};

static void
put(struct wbuf *w, const void *v, size_t n)
{
	if (w->full || w->len + n > w->cap) {
		w->full = 1;
		return;
	}
	memcpy(w->p + w->len, v, n);
	w->len += n;
}

static void
put_int(struct wbuf *w, uint64_t v, unsigned n)
{
	uint8_t b[8];
	unsigned i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put(w, b, n);
}

static void
put_str(struct wbuf *w, const char *s)
{
	size_t n = strlen(s);

	if (n > 255)
		n = 255;
	put_int(w, n, 1);
	put(w, s, n);
}

struct rbuf {
	const uint8_t *p;
	size_t len, off;
	int bad;
};

static uint64_t
get_int(struct rbuf *r, unsigned n)
{
	uint64_t v = 0;
	unsigned i;

	if (r->bad || r->off + n > r->len) {
		r->bad = 1;
		return 0;
	}
	for (i = 0; i < n; i++)
		v |= (uint64_t)r->p[r->off + i] << (8 * i);
	r->off += n;
	return v;
}

/* A string into s (cap bytes, NUL-terminated); a longer one is bad. */
static void
get_str(struct rbuf *r, char *s, size_t cap)
{
	size_t n = get_int(r, 1);

	if (r->bad || r->off + n > r->len || n >= cap) {
		r->bad = 1;
		*s = '\0';
		return;
	}
	memcpy(s, r->p + r->off, n);
	s[n] = '\0';
	r->off += n;
}

static void
put_entry(struct wbuf *w, const struct clu_member *m)
{
	put_str(w, m->name);
	put_str(w, m->addr);
	put_str(w, m->maddr);
	put_int(w, m->inc, 8);
	put_int(w, m->state, 1);
	put_int(w, m->metaver, 4);
	put_str(w, m->m.arch);
	put_int(w, m->m.ncpu, 2);
	put_int(w, m->m.load, 4);
	put_int(w, m->m.memfree, 8);
	put_int(w, m->m.drain, 1);
	put_str(w, m->m.labels);
	put_str(w, m->m.version);
}

/* A name a node may have: letters, digits, '-', '_', '.', not all dots. */
static int
good_name(const char *s)
{
	const char *p;

	if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	for (p = s; *p; p++)
		if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') ||
		        ('0' <= *p && *p <= '9') || *p == '-' || *p == '_' ||
		        *p == '.'))
			return 0;
	return 1;
}

static int
get_entry(struct rbuf *r, struct clu_member *m)
{
	memset(m, 0, sizeof *m);
	get_str(r, m->name, sizeof m->name);
	get_str(r, m->addr, sizeof m->addr);
	get_str(r, m->maddr, sizeof m->maddr);
	m->inc = get_int(r, 8);
	m->state = (enum clu_state)get_int(r, 1);
	m->metaver = (uint32_t)get_int(r, 4);
	get_str(r, m->m.arch, sizeof m->m.arch);
	m->m.ncpu = (uint16_t)get_int(r, 2);
	m->m.load = (uint32_t)get_int(r, 4);
	m->m.memfree = get_int(r, 8);
	m->m.drain = (uint8_t)get_int(r, 1);
	get_str(r, m->m.labels, sizeof m->m.labels);
	get_str(r, m->m.version, sizeof m->m.version);
	if (r->bad || m->state > CLU_LEFT || !good_name(m->name) ||
	    !*m->maddr)
		return -1;
	return 0;
}

/* ---- the member table ---- */

static uint64_t
hash_member(const struct clu_member *m)
{
	/* FNV-1a over name, incarnation and state */
	uint64_t h = 1469598103934665603ull;
	const char *s;
	unsigned i;

	for (s = m->name; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	for (i = 0; i < 8; i++)
		h = (h ^ (uint8_t)(m->inc >> (8 * i))) * 1099511628211ull;
	h = (h ^ (uint8_t)m->state) * 1099511628211ull;
	return h;
}

static void
digest(struct clu_memb *mb, uint32_t *count, uint64_t *h)
{
	unsigned i;

	*count = mb->n;
	*h = 0;
	for (i = 0; i < mb->n; i++)
		*h ^= mb->m[i]->digest;
}

static int
find_index(struct clu_memb *mb, const char *name, unsigned *at)
{
	unsigned lo = 0, hi = mb->n;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		int c = strcmp(mb->m[mid]->name, name);

		if (c == 0) {
			*at = mid;
			return 1;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return 0;
}

struct clu_member *
clu_memb_find(struct clu_memb *mb, const char *name)
{
	unsigned i;

	return find_index(mb, name, &i) ? mb->m[i] : NULL;
}

struct clu_member *
clu_memb_self(struct clu_memb *mb)
{
	return mb->self;
}

unsigned
clu_memb_list(struct clu_memb *mb, struct clu_member *const **out)
{
	*out = mb->m;
	return mb->n;
}

void
clu_memb_stats(struct clu_memb *mb, struct clu_memb_stats *st)
{
	*st = mb->st;
}

/* Times a piece of news is sent: about 3 log2 N. */
static unsigned
retransmits(struct clu_memb *mb)
{
	unsigned n = mb->n + 1, k = 0;

	/* 4 ceil(log10(N + 1)), as memberlist: 4 to 3 nodes, 12 to 256,
	 * 20 to 10,000; the push-pull of views catches what it misses */
	while (n > 1) {
		n = (n + 9) / 10;
		k++;
	}
	return 4 * (k ? k : 1);
}

/* HOST:PORT into *sa; numeric: HOST must be an address (what members
 * say of themselves is never looked up in DNS). */
static int
resolve_as(const char *hostport, int numeric, struct sockaddr_storage *sa,
    socklen_t *salen)
{
	struct p9_addr a;
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res;
	char port[16];

	if (p9_addr_parse(&a, hostport, CLU_PORT) < 0 ||
	    a.is_unix || a.plain)
		return -1;
	snprintf(port, sizeof port, "%d", a.port);
	hints.ai_flags = AI_NUMERICSERV | (numeric ? AI_NUMERICHOST : 0);
	if (getaddrinfo(a.host, port, &hints, &res) != 0)
		return -1;
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	*salen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int
resolve(const char *hostport, int defport, struct sockaddr_storage *sa,
    socklen_t *salen)
{
	(void)defport;
	return resolve_as(hostport, 0, sa, salen);
}

static int
resolve_member(const char *hostport, struct sockaddr_storage *sa,
    socklen_t *salen)
{
	return resolve_as(hostport, 1, sa, salen);
}

static void
set_state(struct clu_memb *mb, struct clu_member *m, enum clu_state s)
{
	int old = (int)m->state;

	m->state = s;
	m->confirms = 0;
	memset(m->confirmer, 0, sizeof m->confirmer);
	m->since = uv_now(mb->loop);
	m->digest = hash_member(m);
	m->tx = retransmits(mb);
	if (old != (int)s && mb->o.changed)
		mb->o.changed(mb->o.arg, m, old);
}

/* A new member from entry e; NULL if its address does not resolve. */
static struct clu_member *
add_member(struct clu_memb *mb, const struct clu_member *e)
{
	struct clu_member *m;
	unsigned at;

	if (find_index(mb, e->name, &at))
		return mb->m[at];
	if (!(m = calloc(1, sizeof *m)))
		abort();
	*m = *e;
	m->self = 0;
	m->placed = 0;
	if (resolve_member(m->maddr, &m->sa, &m->salen) < 0) {
		p9_log(LOG_DEBUG, "member %s: bad address %s", m->name,
		    m->maddr);
		free(m);
		return NULL;
	}
	if (mb->n == mb->cap) {
		unsigned c = mb->cap ? 2 * mb->cap : 16;
		struct clu_member **p = realloc(mb->m, c * sizeof *p);

		if (!p)
			abort();
		mb->m = p;
		mb->cap = c;
	}
	memmove(mb->m + at + 1, mb->m + at, (mb->n - at) * sizeof *mb->m);
	mb->m[at] = m;
	mb->n++;
	m->since = uv_now(mb->loop);
	m->digest = hash_member(m);
	m->tx = retransmits(mb);
	m->probed = mb->round;
	p9_log(LOG_INFO, "member %s (%s) %s", m->name, m->addr,
	    clu_state_name(m->state));
	if (mb->o.changed)
		mb->o.changed(mb->o.arg, m, -1);
	return m;
}

static void
remove_member(struct clu_memb *mb, unsigned at)
{
	struct clu_member *m = mb->m[at];

	if (mb->target == m)
		mb->target = NULL;
	memmove(mb->m + at, mb->m + at + 1, (mb->n - at - 1) * sizeof *mb->m);
	mb->n--;
	free(m);
}

static void refute(struct clu_memb *mb, uint64_t inc);

/*
 * What entry e says, taken in.  SWIM's order: a higher incarnation wins;
 * at the same one, suspect beats alive and dead beats both; left is final
 * for its incarnation.  The meta (load, labels) goes with the higher
 * (incarnation, metaver).  direct: e came from the member itself.
 */
static void
merge(struct clu_memb *mb, const struct clu_member *e, int direct,
    int from_sync, const char *from)
{
	struct clu_member *m = clu_memb_find(mb, e->name);
	int newer_meta;

	if (m && m->self) {
		/* news of ourselves: refute anything but alive */
		if (e->state != CLU_ALIVE && e->inc >= m->inc && !mb->leaving)
			refute(mb, e->inc);
		return;
	}
	if (!m) {
		if (e->state == CLU_DEAD || e->state == CLU_LEFT)
			return; /* nothing to learn of a stranger's death */
		if ((m = add_member(mb, e)) && from_sync)
			m->tx = 0; /* a whole view: its sender has it already,
			            * and so will whoever syncs with us */
		return;
	}
	newer_meta = e->inc > m->inc ||
	             (e->inc == m->inc && e->metaver > m->metaver);
	if (newer_meta || direct) {
		/* passed on: a drain or new labels; load and memory travel
		 * with their owner's datagrams (and syncs) only, or they
		 * would cost every node in proportion to the cluster */
		if (newer_meta && (e->m.drain != m->m.drain ||
		                      strcmp(e->m.labels, m->m.labels)))
			m->tx = retransmits(mb);
		m->m = e->m;
		m->metaver = e->metaver;
		if (strcmp(m->addr, e->addr) || strcmp(m->maddr, e->maddr)) {
			struct sockaddr_storage sa;
			socklen_t salen;

			if (resolve_member(e->maddr, &sa, &salen) == 0) {
				snprintf(m->addr, sizeof m->addr, "%s", e->addr);
				snprintf(m->maddr, sizeof m->maddr, "%s",
				    e->maddr);
				m->sa = sa;
				m->salen = salen;
			}
		}
	}
	if (e->inc > m->inc) {
		m->inc = e->inc;
		set_state(mb, m, e->state);
		if (e->state == CLU_SUSPECT)
			m->deadline = uv_now(mb->loop) + mb->o.suspect_ms;
		return;
	}
	if (e->inc == m->inc && e->state == CLU_SUSPECT &&
	    m->state == CLU_SUSPECT && m->confirms < 3) {
		/* another member suspects it too: the wait shortens, to half
		 * after three of them (Lifeguard's idea); the same sender
		 * repeating its news counts once */
		uint64_t h = 1469598103934665603ull;
		const char *c;

		for (c = from; *c; c++)
			h = (h ^ (uint8_t)*c) * 1099511628211ull;
		if (h != m->confirmer[0] && h != m->confirmer[1] &&
		    h != m->confirmer[2]) {
			m->confirmer[m->confirms++] = h;
			m->deadline -= mb->o.suspect_ms / 6;
		}
		return;
	}
	if (e->inc < m->inc || e->state <= m->state)
		return;
	/* same incarnation, a worse state */
	if (m->state == CLU_LEFT)
		return;
	set_state(mb, m, e->state);
	if (e->state == CLU_SUSPECT)
		m->deadline = uv_now(mb->loop) + mb->o.suspect_ms;
}

/* ---- sending ---- */

static void
send_sealed(struct clu_memb *mb, const struct sockaddr *sa,
    const uint8_t *body, size_t len)
{
	uint8_t d[DGRAM_MAX];
	uv_buf_t b;

	if (seal(mb->key, body, len, d) < 0)
		return;
	if (mb->o.send) {
		mb->o.send(mb->o.arg, sa, d, len + SEAL_OVERHEAD);
		mb->st.out++;
		return;
	}
	b = uv_buf_init((char *)d, (unsigned)(len + SEAL_OVERHEAD));
	if (uv_udp_try_send(&mb->udp, &b, 1, sa) >= 0)
		mb->st.out++;
}

/* A message's head: type, seq, digest and our entry. */
static void
head(struct clu_memb *mb, struct wbuf *w, uint8_t type, uint32_t seq)
{
	uint32_t cnt;
	uint64_t h;

	digest(mb, &cnt, &h);
	put_int(w, type, 1);
	put_int(w, seq, 4);
	put_int(w, cnt, 4);
	put_int(w, h, 8);
	put_entry(w, mb->self);
	/* our own news goes in every head: each send counts */
	if (mb->self->tx > 0)
		mb->self->tx--;
}

/* Entries with news, the ones sent least first, while they fit; news of
 * `about` (the receiver: it may have to refute) goes first. */
static void
piggyback(struct clu_memb *mb, struct wbuf *w, const struct clu_member *about)
{
	size_t countat = w->len;
	unsigned i, k = 0, pass;
	uint8_t *cnt;

	put_int(w, 0, 1);
	if (w->full)
		return;
	if (about && !about->self && about->state != CLU_ALIVE) {
		struct wbuf t = *w;

		put_entry(&t, about);
		if (!t.full) {
			*w = t;
			k++;
		}
	}
	/* two passes: those with most sends left first */
	for (pass = 0; pass < 2 && k < 255; pass++)
		for (i = 0; i < mb->n && k < 255; i++) {
			struct clu_member *m = mb->m[i];
			unsigned limit = retransmits(mb);
			struct wbuf t;

			if (m->tx == 0 || m == about || m->self ||
			    (pass == 0) != (m->tx * 2 > limit))
				continue;
			t = *w;
			put_entry(&t, m);
			if (t.full)
				goto done;
			*w = t;
			m->tx--;
			k++;
		}
done:
	cnt = w->p + countat;
	*cnt = (uint8_t)k;
	w->full = 0;
}

static void
send_msg(struct clu_memb *mb, struct clu_member *to, uint8_t type,
    uint32_t seq, const char *arg, const struct sockaddr *sa)
{
	uint8_t body[BODY_MAX];
	struct wbuf w = {body, 0, sizeof body, 0};

	head(mb, &w, type, seq);
	if (type == M_PING || type == M_PINGREQ || type == M_DRAIN)
		put_str(&w, arg ? arg : "");
	if (w.full)
		return;
	piggyback(mb, &w, to);
	send_sealed(mb, sa ? sa : (struct sockaddr *)&to->sa, body, w.len);
}

/* Our whole view, in as many datagrams as it takes; want: ask for theirs
 * (on the first part only). */
static void
send_sync(struct clu_memb *mb, const struct sockaddr *sa, int want)
{
	unsigned i = 0;

	do {
		uint8_t body[BODY_MAX];
		struct wbuf w = {body, 0, sizeof body, 0};
		size_t countat;
		unsigned k = 0;

		head(mb, &w, M_SYNC, want && i == 0);
		countat = w.len;
		put_int(&w, 0, 1);
		for (; i < mb->n && k < 255; i++) {
			struct wbuf t = w;

			if (mb->m[i]->self)
				continue;
			put_entry(&t, mb->m[i]);
			if (t.full)
				break;
			w = t;
			k++;
		}
		body[countat] = (uint8_t)k;
		send_sealed(mb, sa, body, w.len);
	} while (i < mb->n);
}

/* ---- receiving ---- */

static void refute(struct clu_memb *mb, uint64_t inc)
{
	mb->self->inc = inc + 1;
	mb->self->digest = hash_member(mb->self);
	mb->self->tx = retransmits(mb);
	p9_log(LOG_INFO, "suspected by others: refuted with incarnation %llu",
	    (unsigned long long)mb->self->inc);
}

static void
on_ack(struct clu_memb *mb, uint32_t seq)
{
	unsigned i;

	if (mb->target && seq == mb->pseq) {
		mb->acked = 1;
		return;
	}
	for (i = 0; i < RELAYS; i++) {
		struct relay *r = &mb->relays[i];

		if (r->until && r->seq == seq) {
			uint8_t body[BODY_MAX];
			struct wbuf w = {body, 0, sizeof body, 0};

			head(mb, &w, M_ACK, r->oseq);
			put_int(&w, 0, 1);
			send_sealed(mb, (struct sockaddr *)&r->sa, body, w.len);
			r->until = 0;
			return;
		}
	}
}

static void
on_pingreq(struct clu_memb *mb, uint32_t oseq, const char *name,
    const struct sockaddr *from, socklen_t fromlen)
{
	struct clu_member *t = clu_memb_find(mb, name);
	uint64_t now = uv_now(mb->loop);
	struct relay *r = NULL;
	unsigned i;

	if (!t || t->self)
		return;
	for (i = 0; i < RELAYS; i++)
		if (mb->relays[i].until < now) {
			r = &mb->relays[i];
			break;
		}
	if (!r)
		return; /* too many: the asker asked others too */
	r->seq = ++mb->seq;
	r->oseq = oseq;
	memcpy(&r->sa, from, fromlen);
	r->salen = fromlen;
	r->until = now + mb->o.probe_ms;
	send_msg(mb, t, M_PING, r->seq, t->name, NULL);
}

void
clu_memb_input(struct clu_memb *mb, const uint8_t *body, size_t len,
    const struct sockaddr *from)
{
	struct clu_member e, *sender;
	struct rbuf r;
	uint8_t type;
	uint32_t seq, cnt, mycnt;
	uint64_t h64, myh;
	char arg[CLU_NAME_MAX] = "";
	unsigned i, k;
	socklen_t fromlen;

	fromlen = from->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                      : sizeof(struct sockaddr_in);
	r = (struct rbuf){body, len, 0, 0};
	type = (uint8_t)get_int(&r, 1);
	seq = (uint32_t)get_int(&r, 4);
	cnt = (uint32_t)get_int(&r, 4);
	h64 = get_int(&r, 8);
	if (get_entry(&r, &e) < 0)
		return;
	if (type == M_PING || type == M_PINGREQ || type == M_DRAIN)
		get_str(&r, arg, sizeof arg);
	if (r.bad)
		return;
	merge(mb, &e, 1, 0, e.name);
	sender = clu_memb_find(mb, e.name);
	k = (unsigned)get_int(&r, 1);
	for (i = 0; i < k && !r.bad; i++) {
		struct clu_member x;

		if (get_entry(&r, &x) < 0)
			break;
		merge(mb, &x, 0, type == M_SYNC, e.name);
	}
	mb->joined |= sender != NULL && !sender->self;
	switch (type) {
	case M_PING:
		if (!strcmp(arg, mb->name))
			send_msg(mb, sender, M_ACK, seq, NULL, from);
		break;
	case M_ACK:
		on_ack(mb, seq);
		break;
	case M_PINGREQ:
		on_pingreq(mb, seq, arg, from, fromlen);
		break;
	case M_SYNC:
		if (seq == 1)
			send_sync(mb, from, 0);
		break;
	case M_DRAIN:
		if (!strcmp(arg, "1") || !strcmp(arg, "0"))
			clu_memb_drain(mb, mb->name, arg[0] == '1');
		break;
	}
	/* views differ: push ours and pull theirs, once a period at most */
	digest(mb, &mycnt, &myh);
	if (type != M_SYNC && (cnt != mycnt || h64 != myh) &&
	    uv_now(mb->loop) - mb->last_sync >= mb->o.probe_ms) {
		mb->last_sync = uv_now(mb->loop);
		send_sync(mb, from, 1);
	}
}

static void
on_datagram(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
    const struct sockaddr *from, unsigned flags)
{
	struct clu_memb *mb = h->data;
	uint8_t body[DGRAM_MAX];
	ssize_t len;

	if (nread <= 0 || !from || mb->leaving)
		return;
	mb->st.in++;
	if ((size_t)nread > DGRAM_MAX) {
		mb->st.refused++;
		return;
	}
	len = clu_memb_open(mb->key, (const uint8_t *)buf->base, (size_t)nread,
	    body);
	if (len < 0 && mb->haveprev)
		len = clu_memb_open(mb->prevkey, (const uint8_t *)buf->base,
		    (size_t)nread, body);
	if (len < 0) {
		mb->st.refused++;
		return;
	}
	clu_memb_input(mb, body, (size_t)len, from);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	static char buf[65536];

	b->base = buf;
	b->len = sizeof buf;
}

/* ---- probing ---- */

/* m may be picked: another member, not gone, dead exactly when asked
 * for the dead, and not one of skip. */
static int
eligible(const struct clu_member *m, struct clu_member *const *skip,
    unsigned nskip, int dead_ok)
{
	unsigned j;

	if (m->self || m->state == CLU_LEFT ||
	    (m->state == CLU_DEAD) != (dead_ok != 0))
		return 0;
	for (j = 0; j < nskip; j++)
		if (skip[j] == m)
			return 0;
	return 1;
}

static struct clu_member *
random_member(struct clu_memb *mb, struct clu_member *const *skip,
    unsigned nskip, int dead_ok)
{
	unsigned tries, i;

	if (mb->n <= 1)
		return NULL;
	for (tries = 0; tries < 2 * mb->n + 8; tries++) {
		struct clu_member *m = mb->m[(unsigned)random() % mb->n];

		if (eligible(m, skip, nskip, dead_ok))
			return m;
	}
	/* few good ones among many: walk */
	for (i = 0; i < mb->n; i++)
		if (eligible(mb->m[i], skip, nskip, dead_ok))
			return mb->m[i];
	return NULL;
}

/* The next to probe: one not probed this round, at random. */
static struct clu_member *
next_target(struct clu_memb *mb)
{
	unsigned i, live = 0, pick;

	for (i = 0; i < mb->n; i++) {
		struct clu_member *m = mb->m[i];

		if (!m->self && m->state <= CLU_SUSPECT && m->probed != mb->round)
			live++;
	}
	if (live == 0) {
		mb->round++;
		for (i = 0; i < mb->n; i++) {
			struct clu_member *m = mb->m[i];

			if (!m->self && m->state <= CLU_SUSPECT)
				live++;
		}
		if (live == 0)
			return NULL;
	}
	pick = (unsigned)random() % live;
	for (i = 0; i < mb->n; i++) {
		struct clu_member *m = mb->m[i];

		if (m->self || m->state > CLU_SUSPECT || m->probed == mb->round)
			continue;
		if (pick-- == 0) {
			m->probed = mb->round;
			return m;
		}
	}
	return NULL;
}

static void
suspect(struct clu_memb *mb, struct clu_member *m)
{
	if (m->state != CLU_ALIVE)
		return;
	set_state(mb, m, CLU_SUSPECT);
	m->deadline = uv_now(mb->loop) + mb->o.suspect_ms;
}

static void
on_probe_timeout(uv_timer_t *t)
{
	struct clu_memb *mb = t->data;
	struct clu_member *skip[8];
	unsigned i;

	if (!mb->target || mb->acked || mb->indirect_sent)
		return;
	mb->indirect_sent = 1;
	skip[0] = mb->target;
	for (i = 0; i < mb->o.indirect && i + 1 < 8; i++) {
		struct clu_member *h = random_member(mb, skip, i + 1, 0);

		if (!h || h->state != CLU_ALIVE)
			break;
		skip[i + 1] = h;
		send_msg(mb, h, M_PINGREQ, mb->pseq, mb->target->name, NULL);
	}
}

static void
on_probe(uv_timer_t *t)
{
	struct clu_memb *mb = t->data;
	uint64_t now = uv_now(mb->loop);
	struct clu_member *m;

	if (mb->target && !mb->acked)
		suspect(mb, mb->target);
	mb->target = NULL;
	if (!(m = next_target(mb)))
		goto dead;
	mb->target = m;
	mb->pseq = ++mb->seq;
	mb->acked = mb->indirect_sent = 0;
	send_msg(mb, m, M_PING, mb->pseq, m->name, NULL);
	uv_timer_start(&mb->timeout_t, on_probe_timeout, mb->o.timeout_ms, 0);
dead:
	/* now and then a dead member is asked for its view: a healed link
	 * joins the two sides again */
	if (now - mb->last_dead_ping >= 5 * mb->o.probe_ms) {
		struct clu_member *d = random_member(mb, NULL, 0, 1);

		mb->last_dead_ping = now;
		if (d && now - d->since < DEAD_KEEP_MS)
			send_sync(mb, (struct sockaddr *)&d->sa, 1);
	}
}

static void
on_gossip(uv_timer_t *t)
{
	struct clu_memb *mb = t->data;
	uint64_t now = uv_now(mb->loop);
	struct clu_member *to[16];
	unsigned i, news = 0;

	/* suspects out of time are dead; the long dead are forgotten */
	for (i = 0; i < mb->n; i++) {
		struct clu_member *m = mb->m[i];

		if (m->state == CLU_SUSPECT && now >= m->deadline) {
			set_state(mb, m, CLU_DEAD);
		} else if (m->state >= CLU_DEAD && !m->self &&
		           now - m->since > DEAD_KEEP_MS && m != mb->target) {
			remove_member(mb, i);
			i--;
			continue;
		}
		news += m->tx > 0;
	}
	if (!news)
		return;
	for (i = 0; i < mb->o.fanout && i < 16; i++) {
		uint8_t body[BODY_MAX];
		struct wbuf w = {body, 0, sizeof body, 0};

		if (!(to[i] = random_member(mb, to, i, 0)))
			break;
		head(mb, &w, M_GOSSIP, 0);
		piggyback(mb, &w, to[i]);
		send_sealed(mb, (struct sockaddr *)&to[i]->sa, body, w.len);
	}
}

/* ---- this node's own figures ---- */

/* Runnable threads on the host (the kernel's count), less the reader. */
static unsigned
host_running(void)
{
	char buf[8192];
	FILE *f = fopen("/proc/stat", "r");
	unsigned n = 0;

	if (!f)
		return 0;
	while (fgets(buf, sizeof buf, f))
		if (sscanf(buf, "procs_running %u", &n) == 1)
			break;
	fclose(f);
	return n > 0 ? n - 1 : 0; /* not counting the reader */
}

/* Is the thread whose stat line is s runnable on one of cpus?  Its
 * state is the field after the command's closing parenthesis, its CPU
 * (the one it runs or waits on) the 39th field of the line. */
static int
runnable_on(const char *s, const cpu_set_t *cpus)
{
	const char *p = strrchr(s, ')');
	unsigned field = 2;
	long cpu;

	if (!p || p[1] != ' ' || p[2] != 'R')
		return 0;
	for (p += 1; *p && field < 39; p++)
		if (*p == ' ')
			field++;
	if (field != 39 || *p < '0' || *p > '9')
		return 0;
	cpu = strtol(p, NULL, 10);
	return cpu >= 0 && cpu < CPU_SETSIZE && CPU_ISSET((int)cpu, cpus);
}

/* Runnable threads on the CPUs a confined node may use (a cpuset,
 * taskset, a container on part of a host): those in state R whose CPU
 * is one of them, from every thread's stat; the kernel's own count is
 * the whole host's.  Less the reader. */
static unsigned
cpus_running(const cpu_set_t *cpus)
{
	char path[64], buf[1024];
	DIR *pd = opendir("/proc"), *td;
	struct dirent *p, *t;
	unsigned n = 0;
	ssize_t k;
	int fd;

	if (!pd)
		return 0;
	while ((p = readdir(pd)))
		if (p->d_name[0] >= '1' && p->d_name[0] <= '9') {
			snprintf(path, sizeof path, "/proc/%.16s/task", p->d_name);
			if (!(td = opendir(path)))
				continue;
			while ((t = readdir(td))) {
				if (t->d_name[0] < '1' || t->d_name[0] > '9')
					continue;
				snprintf(path, sizeof path, "/proc/%.16s/task/%.16s/stat",
				    p->d_name, t->d_name);
				if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
					continue;
				k = read(fd, buf, sizeof buf - 1);
				close(fd);
				if (k > 0) {
					buf[k] = 0;
					n += runnable_on(buf, cpus);
				}
			}
			closedir(td);
		}
	closedir(pd);
	return n > 0 ? n - 1 : 0;
}

/* The runnable threads this node counts.  A confined node's count
 * reads every thread's stat: on a host of many threads that costs, so
 * a count that took d is used again for the next 50 d (the sampling
 * takes 2% of a CPU at most). */
static unsigned
procs_running(struct clu_memb *mb)
{
	uint64_t t0;

	if (!mb->confined)
		return host_running();
	if (mb->scan_wait > 0) {
		mb->scan_wait--;
		return mb->scanned;
	}
	t0 = uv_hrtime();
	mb->scanned = cpus_running(&mb->cpus);
	mb->scan_wait =
	    (unsigned)((double)(uv_hrtime() - t0) / 1e6 * 50 / META_MS);
	return mb->scanned;
}

static uint64_t
mem_available(void)
{
	char buf[256];
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long long kb = 0;

	if (!f)
		return 0;
	while (fgets(buf, sizeof buf, f))
		if (sscanf(buf, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

static void
on_meta(uv_timer_t *t)
{
	struct clu_memb *mb = t->data;
	struct clu_member *s = mb->self;
	uint64_t now = uv_now(mb->loop), mem = mem_available();
	uint32_t load;
	unsigned i;
	double ncpu = s->m.ncpu ? s->m.ncpu : 1;
	int64_t dl, dm;

	/* runnable threads, smoothed over about five seconds */
	mb->runq = 0.8 * mb->runq + 0.2 * procs_running(mb);
	load = (uint32_t)(mb->runq / ncpu * 1000 + 0.5);
	s->m.load = load;
	for (i = 0; i < mb->n; i++)
		clu_place_sample(mb->m[i], now);
	s->m.memfree = mem;
	/* news when it moved: a tenth of a CPU, a twentieth of memory, or
	 * anything after 10 s */
	dl = (int64_t)load - (int64_t)mb->published_load;
	dm = (int64_t)mem - (int64_t)mb->published_mem;
	if (dl > 250 || dl < -250 || (uint64_t)llabs(dm) * 5 > mb->published_mem) {
		/* a big move: news, for a few rounds only (every datagram
		 * carries our entry anyway) */
		s->metaver++;
		if (s->tx < 3)
			s->tx = 3;
		mb->published_load = load;
		mb->published_mem = mem;
		mb->published_at = now;
	} else if ((dl || dm) && now - mb->published_at >= 10000) {
		/* drift: newer figures ride on probes and syncs only, so the
		 * cost stays flat as the cluster grows */
		s->metaver++;
		mb->published_load = load;
		mb->published_mem = mem;
		mb->published_at = now;
	}
}

/* ---- joining ---- */

static void
on_join_timer(uv_timer_t *t)
{
	struct clu_memb *mb = t->data;
	unsigned i, live = 0;

	for (i = 0; i < mb->n; i++)
		live += !mb->m[i]->self && mb->m[i]->state <= CLU_SUSPECT;
	/* nobody answered yet, or everyone we knew is gone: ask the seeds */
	if (mb->joined && live)
		return;
	for (i = 0; i < mb->nseeds; i++) {
		struct sockaddr_storage sa;
		socklen_t salen;

		if (resolve(mb->seeds[i], 0, &sa, &salen) == 0)
			send_sync(mb, (struct sockaddr *)&sa, 1);
	}
}

int
clu_memb_join(struct clu_memb *mb, const char *hostport, char *err, size_t cap)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	char **p;
	unsigned i;

	for (i = 0; i < mb->nseeds; i++)
		if (!strcmp(mb->seeds[i], hostport))
			goto send;
	if (resolve(hostport, 0, &sa, &salen) < 0) {
		snprintf(err, cap, "join %s: not a HOST:PORT that resolves",
		    hostport);
		return -1;
	}
	if (!(p = realloc(mb->seeds, (mb->nseeds + 1) * sizeof *p)) ||
	    !(p[mb->nseeds] = strdup(hostport)))
		abort();
	mb->seeds = p;
	mb->nseeds++;
send:
	mb->joined = 0;
	on_join_timer(&mb->join_t);
	return 0;
}

int
clu_memb_drain(struct clu_memb *mb, const char *name, int on)
{
	struct clu_member *m = clu_memb_find(mb, name);

	if (!m) {
		errno = ENOENT;
		return -1;
	}
	if (m->self) {
		if (m->m.drain != (on != 0)) {
			m->m.drain = on != 0;
			m->metaver++;
			m->tx = retransmits(mb);
			p9_log(LOG_INFO, "%s", on ? "draining: no new placements here"
			                          : "open for placements again");
		}
		return 0;
	}
	/* the node says so itself, to all; twice, datagrams get lost */
	send_msg(mb, m, M_DRAIN, 0, on ? "1" : "0", NULL);
	send_msg(mb, m, M_DRAIN, 0, on ? "1" : "0", NULL);
	return 0;
}

/* ---- life ---- */

static int
fill_self(struct clu_memb *mb, char *err, size_t cap)
{
	struct clu_member *s = calloc(1, sizeof *s);
	struct timespec ts;
	struct utsname u;

	if (!s)
		abort();
	snprintf(s->name, sizeof s->name, "%s", mb->name);
	snprintf(s->addr, sizeof s->addr, "%s", mb->addr);
	snprintf(s->maddr, sizeof s->maddr, "%s", mb->listen);
	clock_gettime(CLOCK_REALTIME, &ts);
	/* a node that starts again is newer than all it said before */
	s->inc = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	s->state = CLU_ALIVE;
	s->self = 1;
	s->since = uv_now(mb->loop);
	uname(&u);
	snprintf(s->m.arch, sizeof s->m.arch, "%.15s", u.machine);
	{
		/* the CPUs it may run on (a node confined to some by
		 * affinity or a cpuset has those), else all online */
		cpu_set_t *cs = &mb->cpus;
		long online = sysconf(_SC_NPROCESSORS_ONLN);

		if (sched_getaffinity(0, sizeof *cs, cs) == 0 &&
		    CPU_COUNT(cs) > 0) {
			s->m.ncpu = (uint16_t)CPU_COUNT(cs);
			mb->confined = CPU_COUNT(cs) < online;
		} else
			s->m.ncpu = (uint16_t)online;
	}
	s->m.memfree = mem_available();
	snprintf(s->m.labels, sizeof s->m.labels, "%s", mb->labels);
	snprintf(s->m.version, sizeof s->m.version, "%.15s", mb->version);
	s->digest = hash_member(s);
	mb->self = s;
	mb->m = calloc(16, sizeof *mb->m);
	if (!mb->m)
		abort();
	mb->cap = 16;
	mb->m[0] = s;
	mb->n = 1;
	mb->published_mem = s->m.memfree;
	(void)err;
	(void)cap;
	return 0;
}

struct clu_memb *
clu_memb_new(uv_loop_t *loop, const struct clu_memb_opts *o, char *err,
    size_t cap)
{
	struct clu_memb *mb = calloc(1, sizeof *mb);
	struct sockaddr_storage sa;
	socklen_t salen;
	uv_timer_t *timers[5];
	int rc, i;

	if (!mb)
		abort();
	mb->loop = loop;
	mb->o = *o;
	if (!mb->o.probe_ms)
		mb->o.probe_ms = 500;
	if (!mb->o.timeout_ms)
		mb->o.timeout_ms = 200;
	if (!mb->o.suspect_ms)
		mb->o.suspect_ms = 2000;
	if (!mb->o.gossip_ms)
		mb->o.gossip_ms = 200;
	if (!mb->o.indirect)
		mb->o.indirect = 3;
	if (!mb->o.fanout)
		mb->o.fanout = 3;
	if (mb->o.timeout_ms >= mb->o.probe_ms)
		mb->o.timeout_ms = mb->o.probe_ms / 2;
	if (!good_name(o->name) || strlen(o->name) >= sizeof mb->name) {
		snprintf(err, cap,
		    "node name '%.80s': want letters, digits, '-', '_' or '.'",
		    o->name);
		goto fail;
	}
	snprintf(mb->name, sizeof mb->name, "%s", o->name);
	snprintf(mb->addr, sizeof mb->addr, "%s", o->addr);
	snprintf(mb->listen, sizeof mb->listen, "%s", o->listen);
	snprintf(mb->labels, sizeof mb->labels, "%s", o->labels ? o->labels : "");
	snprintf(mb->version, sizeof mb->version, "%.15s", o->version);
	if (clu_memb_key(o->key, mb->key) < 0 ||
	    (o->prevkey && clu_memb_key(o->prevkey, mb->prevkey) < 0)) {
		snprintf(err, cap, "cannot derive the membership key");
		goto fail;
	}
	mb->haveprev = o->prevkey != NULL;
	if (resolve(o->listen, 0, &sa, &salen) < 0) {
		snprintf(err, cap, "listen '%s': not a HOST:PORT that resolves",
		    o->listen);
		goto fail;
	}
	{
		/* others are told the address, never a name to look up */
		char host[INET6_ADDRSTRLEN], port[16];

		if (getnameinfo((struct sockaddr *)&sa, salen, host, sizeof host,
		        port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) == 0)
			snprintf(mb->listen, sizeof mb->listen,
			    sa.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host,
			    port);
	}
	fill_self(mb, err, cap);
	if ((rc = uv_udp_init(loop, &mb->udp)) < 0 ||
	    (rc = uv_udp_bind(&mb->udp, (struct sockaddr *)&sa, 0)) < 0) {
		snprintf(err, cap, "cannot bind %s (UDP): %s", o->listen,
		    uv_strerror(rc));
		if (uv_is_active((uv_handle_t *)&mb->udp) ||
		    mb->udp.type == UV_UDP) {
			/* initialised: closed by the caller's loop */
			mb->udp.data = NULL;
			uv_close((uv_handle_t *)&mb->udp, NULL);
			uv_run(loop, UV_RUN_NOWAIT);
		}
		free(mb->self);
		free(mb->m);
		goto fail;
	}
	{
		int size = 1 << 20;

		uv_recv_buffer_size((uv_handle_t *)&mb->udp, &size);
	}
	mb->udp.data = mb;
	mb->nhandles = 6;
	uv_udp_recv_start(&mb->udp, on_alloc, on_datagram);
	timers[0] = &mb->probe_t;
	timers[1] = &mb->gossip_t;
	timers[2] = &mb->timeout_t;
	timers[3] = &mb->meta_t;
	timers[4] = &mb->join_t;
	for (i = 0; i < 5; i++) {
		uv_timer_init(loop, timers[i]);
		timers[i]->data = mb;
	}
	srandom((unsigned)(mb->self->inc ^ (uint64_t)getpid() << 16));
	uv_timer_start(&mb->probe_t, on_probe, mb->o.probe_ms, mb->o.probe_ms);
	uv_timer_start(&mb->gossip_t, on_gossip, mb->o.gossip_ms, mb->o.gossip_ms);
	uv_timer_start(&mb->meta_t, on_meta, META_MS, META_MS);
	uv_timer_start(&mb->join_t, on_join_timer, 1000, 1000);
	return mb;
fail:
	OPENSSL_cleanse(mb->key, sizeof mb->key);
	free(mb);
	return NULL;
}

static void
handle_closed(uv_handle_t *h)
{
	struct clu_memb *mb = h->data;
	unsigned i;

	if (--mb->nhandles > 0)
		return;
	if (mb->done)
		mb->done(mb->done_arg);
	for (i = 0; i < mb->n; i++)
		free(mb->m[i]);
	for (i = 0; i < mb->nseeds; i++)
		free(mb->seeds[i]);
	free(mb->seeds);
	free(mb->m);
	OPENSSL_cleanse(mb->key, sizeof mb->key);
	OPENSSL_cleanse(mb->prevkey, sizeof mb->prevkey);
	free(mb);
}

static void
on_left(uv_timer_t *t)
{
	struct clu_memb *mb = t->data;

	uv_close((uv_handle_t *)&mb->udp, handle_closed);
	uv_close((uv_handle_t *)&mb->probe_t, handle_closed);
	uv_close((uv_handle_t *)&mb->gossip_t, handle_closed);
	uv_close((uv_handle_t *)&mb->timeout_t, handle_closed);
	uv_close((uv_handle_t *)&mb->meta_t, handle_closed);
	uv_close((uv_handle_t *)&mb->join_t, handle_closed);
}

void
clu_memb_close(struct clu_memb *mb, void (*done)(void *), void *arg)
{
	mb->done = done;
	mb->done_arg = arg;
	mb->leaving = 1;
	on_left(&mb->timeout_t);
}

void
clu_memb_leave(struct clu_memb *mb, void (*done)(void *), void *arg)
{
	unsigned i, k = 0;

	mb->done = done;
	mb->done_arg = arg;
	mb->self->state = CLU_LEFT;
	mb->self->digest = hash_member(mb->self);
	mb->self->tx = retransmits(mb);
	uv_timer_stop(&mb->probe_t);
	uv_timer_stop(&mb->gossip_t);
	uv_timer_stop(&mb->join_t);
	uv_timer_stop(&mb->meta_t);
	/* the news to twice the fanout now, and again before we go */
	for (i = 0; i < 2; i++) {
		struct clu_member *to[32];

		for (k = 0; k < 2 * mb->o.fanout && k < 32; k++) {
			if (!(to[k] = random_member(mb, to, k, 0)))
				break;
			send_msg(mb, to[k], M_GOSSIP, 0, NULL, NULL);
		}
	}
	mb->leaving = 1;
	uv_timer_start(&mb->timeout_t, on_left, k ? LEAVE_MS : 0, 0);
}
