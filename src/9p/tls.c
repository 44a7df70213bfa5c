/*
 * tls.c - TLS 1.3 between nodes: a p9_stream over another p9_stream (the
 * TCP one), with OpenSSL working on memory BIOs, so the 9P framework, the
 * codec and the handlers neither know nor care.
 *
 * Authentication is mutual, by the cluster key: both ends derive a
 * pre-shared key from it (HKDF-SHA256 with a label of unum's; the key
 * itself never goes into TLS) and an identity naming it ("unum1 " and a
 * key id, itself derived).  The handshake is always psk_dhe_ke: the PSK
 * proves both ends hold the key and an ECDHE exchange gives every session
 * keys of its own (forward secrecy).  TLS 1.3 only, AEAD suites whose hash
 * is the PSK's (SHA-256).  A handshake is one round trip with no
 * certificate work, which is what resumption would buy; no tickets are
 * issued.  A server knows a previous key too (during a rollover) and says
 * which one each peer used.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509err.h>

#include "p9.h"

#define PSK_LEN 32
#define CBUF (256 * 1024)
#define RECORD (16 * 1024) /* plaintext per TLS record */
#define HANDSHAKE_MS 10000

struct psk {
	uint8_t key[PSK_LEN];
	char id[32]; /* "unum1 " + 16 hex digits */
	int set;
};

struct p9_tls_ctx {
	SSL_CTX *ctx;
	int server;
	struct psk cur, prev; /* cur.set: the cluster key */
};

struct tls {
	struct p9_stream s; /* what the user sees (first) */
	struct p9_stream *in;
	struct p9_tls_ctx *ctx;
	SSL *ssl;
	BIO *rbio, *wbio;
	uv_timer_t timer; /* the handshake's deadline */
	int ready;        /* handshake done */
	int reading;      /* the user wants input */
	int closing, ended;
	int open_handles; /* inner stream and timer: freed when both gone */
	uint8_t **held;   /* plaintext written before the handshake ended */
	size_t *heldlen, nheld;
	/* ciphertext not yet handed to the stream below */
	uint8_t *out;
	size_t outlen, outcap;
};

/* What the stream below reads into.  Its read callback follows at once on
 * the same thread and hands it all to OpenSSL, so one buffer a thread
 * serves every connection: an idle one costs no buffer.  It is made on the
 * thread's first read, not as thread-local storage, which every thread of
 * every program linked with this (and its start) would pay for. */
static __thread uint8_t *cbuf;
static pthread_key_t cbuf_key;
static pthread_once_t cbuf_once = PTHREAD_ONCE_INIT;

static void
cbuf_key_make(void)
{
	pthread_key_create(&cbuf_key, free);
}

/* ---- keys ---- */

static int
hkdf(const uint8_t *key, size_t keylen, const char *info, uint8_t *out,
    size_t outlen)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *k = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM p[4];
	int ok;

	EVP_KDF_free(kdf);
	if (!k)
		return -1;
	p[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	p[1] = OSSL_PARAM_construct_octet_string(
	    OSSL_KDF_PARAM_KEY, (void *)key, keylen);
	p[2] = OSSL_PARAM_construct_octet_string(
	    OSSL_KDF_PARAM_INFO, (void *)info, strlen(info));
	p[3] = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(k, out, outlen, p) == 1;
	EVP_KDF_CTX_free(k);
	return ok ? 0 : -1;
}

static int
psk_from(struct psk *p, const uint8_t *key, size_t len)
{
	uint8_t id[8];
	int i;

	if (hkdf(key, len, "unum cluster psk v1", p->key, PSK_LEN) < 0 ||
	    hkdf(key, len, "unum cluster key id v1", id, sizeof id) < 0)
		return -1;
	strcpy(p->id, "unum1 ");
	for (i = 0; i < 8; i++)
		snprintf(p->id + 6 + 2 * i, 3, "%02x", id[i]);
	p->set = 1;
	return 0;
}

static int
hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

/* A secret that group or others may read: 1, with one line in err. */
static int
open_to_others(
    const char *what, const char *path, mode_t mode, char *err, size_t cap)
{
	if (!(mode & 077))
		return 0;
	snprintf(err, cap, "%s %s is readable by others (mode %04o): chmod 600 %s",
	    what, path, (unsigned)(mode & 07777), path);
	return 1;
}

int
p9_key_read(const char *path, uint8_t key[P9_KEY_LEN], char *err, size_t cap)
{
	char text[2 * P9_KEY_LEN + 3];
	struct stat st;
	ssize_t n;
	int fd, i;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		snprintf(err, cap, "key %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, cap, "key %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (open_to_others("key", path, st.st_mode, err, cap)) {
		close(fd);
		return -1;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(err, cap, "key %s belongs to uid %u, not to us or root",
		    path, (unsigned)st.st_uid);
		close(fd);
		return -1;
	}
	n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n > 0 && text[n - 1] == '\n')
		n--;
	if (n >= 0)
		text[n] = '\0';
	if (n != 2 * P9_KEY_LEN) {
		snprintf(err, cap,
		    "key %s: not a cluster key (%d hex digits and a newline; "
		    "make one with unum keygen)",
		    path, 2 * P9_KEY_LEN);
		return -1;
	}
	for (i = 0; i < 2 * P9_KEY_LEN; i++) {
		int v = hexval(text[i]);

		if (v < 0) {
			snprintf(err, cap, "key %s: not hex at byte %d", path,
			    i & ~1);
			return -1;
		}
		key[i / 2] = (uint8_t)(i % 2 ? key[i / 2] | v : v << 4);
	}
	return 0;
}

int
p9_key_new(const char *path, int force, char *err, size_t cap)
{
	uint8_t key[P9_KEY_LEN];
	char text[2 * P9_KEY_LEN + 2];
	int fd, i, flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW;

	if (RAND_bytes(key, sizeof key) != 1) {
		snprintf(err, cap, "no random bytes from OpenSSL");
		return -1;
	}
	for (i = 0; i < P9_KEY_LEN; i++)
		snprintf(text + 2 * i, 3, "%02x", key[i]);
	text[2 * P9_KEY_LEN] = '\n';
	flags |= force ? O_TRUNC : O_EXCL;
	if ((fd = open(path, flags, 0600)) < 0) {
		snprintf(err, cap, "%s: %s%s", path, strerror(errno),
		    errno == EEXIST ? " (-f replaces it)" : "");
		return -1;
	}
	if (fchmod(fd, 0600) < 0 ||
	    write(fd, text, 2 * P9_KEY_LEN + 1) != 2 * P9_KEY_LEN + 1 ||
	    fsync(fd) < 0) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	OPENSSL_cleanse(key, sizeof key);
	return close(fd) < 0 ? -1 : 0;
}

void
p9_key_id(const uint8_t key[P9_KEY_LEN], char id[32])
{
	struct psk p;

	if (psk_from(&p, key, P9_KEY_LEN) < 0)
		snprintf(id, 32, "?");
	else
		snprintf(id, 32, "%s", p.id + 6);
	OPENSSL_cleanse(&p, sizeof p);
}

/* ---- contexts ---- */

static int ctx_index = -1;

static SSL_SESSION *
psk_session(SSL *ssl, const struct psk *p)
{
	static const unsigned char aes128gcm[] = {0x13, 0x01};
	const SSL_CIPHER *c = SSL_CIPHER_find(ssl, aes128gcm);
	SSL_SESSION *s = c ? SSL_SESSION_new() : NULL;

	if (s && (!SSL_SESSION_set1_master_key(s, p->key, PSK_LEN) ||
	             !SSL_SESSION_set_cipher(s, c) ||
	             !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION))) {
		SSL_SESSION_free(s);
		s = NULL;
	}
	return s;
}

static struct p9_tls_ctx *
ctx_of(SSL *ssl)
{
	return SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index);
}

static int
use_session_cb(SSL *ssl, const EVP_MD *md, const unsigned char **id,
    size_t *idlen, SSL_SESSION **sess)
{
	struct p9_tls_ctx *t = ctx_of(ssl);

	*sess = NULL;
	if (md && md != EVP_sha256())
		return 1; /* no PSK for this hash */
	if (!(*sess = psk_session(ssl, &t->cur)))
		return 0;
	*id = (const unsigned char *)t->cur.id;
	*idlen = strlen(t->cur.id);
	return 1;
}

static int
find_session_cb(SSL *ssl, const unsigned char *id, size_t idlen,
    SSL_SESSION **sess)
{
	struct p9_tls_ctx *t = ctx_of(ssl);
	struct tls *x = SSL_get_app_data(ssl);
	const struct psk *p = NULL;

	*sess = NULL;
	if (idlen == strlen(t->cur.id) && !memcmp(id, t->cur.id, idlen))
		p = &t->cur;
	else if (t->prev.set && idlen == strlen(t->prev.id) &&
	         !memcmp(id, t->prev.id, idlen))
		p = &t->prev;
	if (!p)
		return 1; /* not ours: the handshake fails */
	if (x)
		snprintf(x->s.peer.keyid, sizeof x->s.peer.keyid, "%s",
		    p->id + 6);
	if (p == &t->prev) /* the rollover's report: who is left behind */
		p9_log(LOG_WARNING, "%s uses the previous cluster key (id %s)",
		    x ? x->s.peer.addr : "a peer", p->id + 6);
	*sess = psk_session(ssl, p);
	return *sess ? 1 : 0;
}

struct p9_tls_ctx *
p9_tls_ctx_new(int server, const uint8_t key[P9_KEY_LEN],
    const uint8_t *prevkey, char *err, size_t cap)
{
	struct p9_tls_ctx *t = calloc(1, sizeof *t);

	/* the system's openssl.cnf has nothing for us: not read.  A client
	 * is a short command: no error strings (codes will do), no cleanup
	 * at exit; SSL_CTX_new (OpenSSL 3.0 fetches every cipher) is still
	 * most of what TLS costs it. */
	OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG |
	                     (server ? 0
	                             : OPENSSL_INIT_NO_ATEXIT |
	                                   OPENSSL_INIT_NO_LOAD_SSL_STRINGS |
	                                   OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS),
	    NULL);
	if (ctx_index < 0)
		ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (!t || ctx_index < 0 ||
	    !(t->ctx = SSL_CTX_new(server ? TLS_server_method()
	                                  : TLS_client_method()))) {
		snprintf(err, cap, "TLS: cannot make a context");
		free(t);
		return NULL;
	}
	t->server = server;
	if ((key && psk_from(&t->cur, key, P9_KEY_LEN) < 0) ||
	    (key && prevkey && psk_from(&t->prev, prevkey, P9_KEY_LEN) < 0)) {
		snprintf(err, cap, "TLS: cannot derive the key (HKDF)");
		p9_tls_ctx_free(t);
		return NULL;
	}
	SSL_CTX_set_ex_data(t->ctx, ctx_index, t);
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(t->ctx, TLS1_3_VERSION);
	/* AEAD suites with the PSK's hash; never a PSK without (EC)DHE */
	SSL_CTX_set_ciphersuites(
	    t->ctx, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256");
	SSL_CTX_clear_options(t->ctx, SSL_OP_ALLOW_NO_DHE_KEX);
	SSL_CTX_set_num_tickets(t->ctx, 0);
	SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
	if (key && server)
		SSL_CTX_set_psk_find_session_callback(t->ctx, find_session_cb);
	else if (key)
		SSL_CTX_set_psk_use_session_callback(t->ctx, use_session_cb);
	return t;
}

/* One line for what OpenSSL said last, after what. */
static void
ssl_err(char *err, size_t cap, const char *what, const char *path)
{
	unsigned long e = ERR_get_error();
	char why[200] = "";

	if (e)
		ERR_error_string_n(e, why, sizeof why);
	ERR_clear_error();
	snprintf(err, cap, "%s %s: %s", what, path, *why ? why : "not usable");
}

int
p9_tls_ctx_certs(struct p9_tls_ctx *t, const struct p9_tls_certs *c,
    char *err, size_t cap)
{
	X509_STORE *store = SSL_CTX_get_cert_store(t->ctx);
	struct stat st;

	if (!c->cert || !*c->cert || !c->key || !*c->key || !c->ca || !*c->ca) {
		snprintf(err, cap,
		    "node certificates need cert, cert-key and ca together");
		return -1;
	}
	if (stat(c->key, &st) == 0 &&
	    open_to_others("cert-key", c->key, st.st_mode, err, cap))
		return -1;
	if (SSL_CTX_use_certificate_chain_file(t->ctx, c->cert) != 1) {
		ssl_err(err, cap, "cert", c->cert);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(t->ctx, c->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(t->ctx) != 1) {
		if (ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			snprintf(err, cap, "cert-key %s is not the key of %s",
			    c->key, c->cert);
		} else
			ssl_err(err, cap, "cert-key", c->key);
		return -1;
	}
	if (SSL_CTX_load_verify_locations(t->ctx, c->ca, NULL) != 1) {
		ssl_err(err, cap, "ca", c->ca);
		return -1;
	}
	if (c->crl) {
		X509_LOOKUP *lk = X509_STORE_add_lookup(store, X509_LOOKUP_file());

		if (!lk || X509_load_crl_file(lk, c->crl, X509_FILETYPE_PEM) < 1) {
			ssl_err(err, cap, "crl", c->crl);
			return -1;
		}
		X509_STORE_set_flags(
		    store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	}
	/* a server that verifies peers wants its sessions named, even the
	 * PSK's, which are never stored */
	SSL_CTX_set_session_id_context(t->ctx, (const unsigned char *)"unum", 4);
	/* every peer shows a certificate the CA signed (unless the key's
	 * PSK made the handshake): nodes, both ways; any node will do, so
	 * no host name is checked */
	SSL_CTX_set_verify(t->ctx,
	    SSL_VERIFY_PEER | (t->server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
	    NULL);
	return 0;
}

void
p9_tls_ctx_free(struct p9_tls_ctx *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	OPENSSL_cleanse(t, sizeof *t);
	free(t);
}

/* ---- the stream ---- */

static void tls_fail(struct tls *x, int err);

/* Moves what OpenSSL wrote out of its BIO (kept small: a record or so)
 * into our buffer. */
static int
drain(struct tls *x)
{
	size_t n = (size_t)BIO_ctrl_pending(x->wbio);

	if (n == 0)
		return 0;
	if (x->outlen + n > x->outcap) {
		size_t cap = x->outcap ? x->outcap : RECORD + 1024;
		uint8_t *b;

		while (cap < x->outlen + n)
			cap *= 2;
		if (!(b = realloc(x->out, cap)))
			return -ENOMEM;
		x->out = b;
		x->outcap = cap;
	}
	if (BIO_read(x->wbio, x->out + x->outlen, (int)n) != (int)n)
		return -EIO;
	x->outlen += n;
	return 0;
}

/* Sends what OpenSSL wrote: one write below. */
static void
flush_out(struct tls *x)
{
	uint8_t *buf;

	if (x->closing)
		return;
	if (drain(x) < 0) {
		tls_fail(x, -ENOMEM);
		return;
	}
	if (x->outlen == 0)
		return;
	buf = x->out; /* the stream below owns it now */
	x->out = NULL;
	if (x->in->ops->write(x->in, buf, x->outlen) < 0)
		tls_fail(x, -EPIPE);
	x->outlen = x->outcap = 0;
	x->s.queued = x->in->queued;
}

static void
tls_fail(struct tls *x, int err)
{
	if (x->ended || x->closing)
		return;
	x->ended = 1;
	if (x->s.on_end)
		x->s.on_end(&x->s, err);
}

static void
log_ssl(struct tls *x, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";

	if (e)
		ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	p9_log(x->ctx->server ? LOG_INFO : LOG_DEBUG, "%s: TLS %s%s%s",
	    x->s.peer.addr, what, *buf ? ": " : "", buf);
}

static int tls_write(struct p9_stream *s, uint8_t *buf, size_t len);

/* A peer that proved itself with a node certificate: its name, for the
 * logs, where a key's id would be. */
static void
cert_peer(struct tls *x)
{
	X509 *c = SSL_get1_peer_certificate(x->ssl);
	char cn[64] = "?";

	if (c) {
		X509_NAME_get_text_by_NID(
		    X509_get_subject_name(c), NID_commonName, cn, sizeof cn);
		X509_free(c);
	}
	snprintf(x->s.peer.keyid, sizeof x->s.peer.keyid, "cert %.40s", cn);
	p9_log(LOG_DEBUG, "%s: node certificate of %s", x->s.peer.addr, cn);
}

/* Decrypts what came and hands it up while the user reads. */
static void
pump(struct tls *x)
{
	int r;

	if (!x->ready) {
		r = SSL_do_handshake(x->ssl);
		flush_out(x);
		if (r != 1) {
			if (SSL_get_error(x->ssl, r) != SSL_ERROR_WANT_READ) {
				/* no key in common: "Key was rejected" */
				log_ssl(x, "handshake failed");
				tls_fail(x, -EKEYREJECTED);
			}
			return;
		}
		x->ready = 1;
		x->s.peer.node = 1;
		if (!SSL_session_reused(x->ssl))
			cert_peer(x); /* no PSK: a certificate the CA signed */
		uv_timer_stop(&x->timer);
		if (x->nheld) { /* what the user wrote meanwhile */
			size_t i, n = x->nheld;

			x->nheld = 0;
			for (i = 0; i < n; i++)
				tls_write(&x->s, x->held[i], x->heldlen[i]);
			free(x->held);
			free(x->heldlen);
			x->held = NULL;
			x->heldlen = NULL;
		}
	}
	while (x->reading && !x->closing && !x->ended) {
		uint8_t *buf = NULL;
		size_t cap = 0;

		x->s.on_alloc(&x->s, &buf, &cap);
		if (cap > INT32_MAX)
			cap = INT32_MAX;
		r = SSL_read(x->ssl, buf, (int)cap);
		if (r > 0) {
			x->s.on_read(&x->s, (size_t)r);
			continue;
		}
		switch (SSL_get_error(x->ssl, r)) {
		case SSL_ERROR_WANT_READ:
			break;
		case SSL_ERROR_ZERO_RETURN:
			tls_fail(x, 0);
			break;
		default: /* a forged or damaged record: nothing more from it */
			log_ssl(x, "record refused");
			tls_fail(x, -EPROTO);
			break;
		}
		break;
	}
	flush_out(x);
}

static void
in_alloc(struct p9_stream *in, uint8_t **buf, size_t *cap)
{
	if (!cbuf && (cbuf = malloc(CBUF))) {
		pthread_once(&cbuf_once, cbuf_key_make);
		pthread_setspecific(cbuf_key, cbuf);
	}
	*buf = cbuf;
	*cap = cbuf ? CBUF : 0; /* none: the stream ends with ENOBUFS */
}

static void
in_read(struct p9_stream *in, size_t n)
{
	struct tls *x = in->user;

	if (x->closing || x->ended)
		return;
	if (BIO_write(x->rbio, cbuf, (int)n) != (int)n) {
		tls_fail(x, -ENOMEM);
		return;
	}
	pump(x);
}

static void
in_end(struct p9_stream *in, int err)
{
	struct tls *x = in->user;

	tls_fail(x, err);
}

static void
in_written(struct p9_stream *in)
{
	struct tls *x = in->user;

	x->s.queued = in->queued + x->outlen;
	if (x->s.on_written && !x->closing)
		x->s.on_written(&x->s);
}

static void
handle_gone(struct tls *x)
{
	size_t i;

	if (--x->open_handles > 0)
		return;
	if (x->s.on_close)
		x->s.on_close(&x->s);
	for (i = 0; i < x->nheld; i++)
		free(x->held[i]);
	free(x->held);
	free(x->heldlen);
	free(x->out);
	SSL_free(x->ssl); /* and its BIOs */
	free(x);
}

static void
in_close(struct p9_stream *in)
{
	handle_gone(in->user);
}

static void
timer_closed(uv_handle_t *h)
{
	handle_gone(h->data);
}

static void
on_deadline(uv_timer_t *t)
{
	struct tls *x = t->data;

	p9_log(LOG_INFO, "%s: no TLS handshake within %d s, closing",
	    x->s.peer.addr, HANDSHAKE_MS / 1000);
	tls_fail(x, -ETIMEDOUT);
}

static int
tls_write(struct p9_stream *s, uint8_t *buf, size_t len)
{
	struct tls *x = (struct tls *)s;
	size_t off;

	if (x->closing || x->ended) {
		free(buf);
		return -EPIPE;
	}
	if (!x->ready) {
		uint8_t **h = realloc(x->held, (x->nheld + 1) * sizeof *h);
		size_t *l = h ? realloc(x->heldlen,
		                    (x->nheld + 1) * sizeof *l)
		              : NULL;

		if (h)
			x->held = h;
		if (!h || !l) {
			free(buf);
			return -ENOMEM;
		}
		x->heldlen = l;
		x->held[x->nheld] = buf;
		x->heldlen[x->nheld++] = len;
		return 0;
	}
	/* a record at a time, each moved out at once: OpenSSL's buffer
	 * never grows to the size of a message */
	for (off = 0; off < len;) {
		size_t k = len - off < RECORD ? len - off : RECORD;
		int n = SSL_write(x->ssl, buf + off, (int)k);

		if (n <= 0 || drain(x) < 0) {
			free(buf);
			log_ssl(x, "write failed");
			tls_fail(x, -EIO);
			return -EIO;
		}
		off += (size_t)n;
	}
	free(buf);
	flush_out(x);
	x->s.queued = x->in->queued + x->outlen;
	return 0;
}

static void
tls_set_reading(struct p9_stream *s, int on)
{
	struct tls *x = (struct tls *)s;

	x->reading = !!on;
	x->in->ops->set_reading(x->in, on || !x->ready);
	if (on && !x->closing)
		pump(x); /* what is decrypted already */
}

static void
tls_close(struct p9_stream *s)
{
	struct tls *x = (struct tls *)s;

	if (x->closing)
		return;
	x->closing = 1;
	uv_timer_stop(&x->timer);
	uv_close((uv_handle_t *)&x->timer, timer_closed);
	x->in->ops->close(x->in);
}

static const struct p9_stream_ops tls_ops = {
    .write = tls_write,
    .set_reading = tls_set_reading,
    .close = tls_close,
};

struct p9_stream *
p9_stream_tls_new(uv_loop_t *loop, struct p9_stream *in, struct p9_tls_ctx *t)
{
	struct tls *x = calloc(1, sizeof *x);

	if (!x || !(x->ssl = SSL_new(t->ctx))) {
		free(x);
		in->ops->close(in);
		return NULL;
	}
	x->rbio = BIO_new(BIO_s_mem());
	x->wbio = BIO_new(BIO_s_mem());
	if (!x->rbio || !x->wbio) {
		BIO_free(x->rbio);
		BIO_free(x->wbio);
		SSL_free(x->ssl);
		free(x);
		in->ops->close(in);
		return NULL;
	}
	SSL_set_bio(x->ssl, x->rbio, x->wbio);
	SSL_set_app_data(x->ssl, x);
	if (t->server)
		SSL_set_accept_state(x->ssl);
	else
		SSL_set_connect_state(x->ssl);
	x->s.ops = &tls_ops;
	x->s.peer = in->peer;
	x->s.peer.has_cred = 0; /* who it is: the handshake says */
	x->in = in;
	x->ctx = t;
	x->open_handles = 2;
	in->user = x;
	in->on_alloc = in_alloc;
	in->on_read = in_read;
	in->on_end = in_end;
	in->on_written = in_written;
	in->on_close = in_close;
	uv_timer_init(loop, &x->timer);
	x->timer.data = x;
	uv_timer_start(&x->timer, on_deadline, HANDSHAKE_MS, 0);
	in->ops->set_reading(in, 1);
	if (!t->server)
		pump(x); /* the ClientHello */
	return &x->s;
}
