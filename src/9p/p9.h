/*
 * p9.h - unum's 9P: the codec for 9P2000, 9P2000.u and 9P2000.L, the
 * asynchronous server framework on libuv, and the pipelining client.
 * Every other part of unum speaks 9P through this header only.  This module
 * knows nothing of files, processes or clusters: servers plug in as tables
 * of callbacks (struct p9_ops).
 */
#ifndef UNUM_P9_H
#define UNUM_P9_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

/* ---- Protocol constants ---- */

#define P9_NOTAG ((uint16_t)~0)
#define P9_NOFID ((uint32_t)~0)
#define P9_NONUNAME ((uint32_t)~0)
#define P9_MAXWELEM 16
#define P9_HDRSZ 7             /* size[4] type[1] tag[2] */
#define P9_IOHDRSZ 24          /* what Linux reserves under msize for I/O */
#define P9_MINMSIZE 4096       /* smallest msize we negotiate */
#define P9_MAXMSIZE (4u << 20) /* largest msize we negotiate */
#define P9_QIDSZ 13

enum p9_dialect {
	P9_2000 = 0, /* "9P2000" */
	P9_2000U,    /* "9P2000.u" */
	P9_2000L,    /* "9P2000.L" */
};

enum p9_type {
	P9_TLERROR = 6, /* never valid */
	P9_RLERROR,
	P9_TSTATFS = 8,
	P9_RSTATFS,
	P9_TLOPEN = 12,
	P9_RLOPEN,
	P9_TLCREATE = 14,
	P9_RLCREATE,
	P9_TSYMLINK = 16,
	P9_RSYMLINK,
	P9_TMKNOD = 18,
	P9_RMKNOD,
	P9_TRENAME = 20,
	P9_RRENAME,
	P9_TREADLINK = 22,
	P9_RREADLINK,
	P9_TGETATTR = 24,
	P9_RGETATTR,
	P9_TSETATTR = 26,
	P9_RSETATTR,
	P9_TXATTRWALK = 30,
	P9_RXATTRWALK,
	P9_TXATTRCREATE = 32,
	P9_RXATTRCREATE,
	P9_TREADDIR = 40,
	P9_RREADDIR,
	P9_TFSYNC = 50,
	P9_RFSYNC,
	P9_TLOCK = 52,
	P9_RLOCK,
	P9_TGETLOCK = 54,
	P9_RGETLOCK,
	P9_TLINK = 70,
	P9_RLINK,
	P9_TMKDIR = 72,
	P9_RMKDIR,
	P9_TRENAMEAT = 74,
	P9_RRENAMEAT,
	P9_TUNLINKAT = 76,
	P9_RUNLINKAT,
	P9_TVERSION = 100,
	P9_RVERSION,
	P9_TAUTH = 102,
	P9_RAUTH,
	P9_TATTACH = 104,
	P9_RATTACH,
	P9_TERROR = 106, /* never valid */
	P9_RERROR,
	P9_TFLUSH = 108,
	P9_RFLUSH,
	P9_TWALK = 110,
	P9_RWALK,
	P9_TOPEN = 112,
	P9_ROPEN,
	P9_TCREATE = 114,
	P9_RCREATE,
	P9_TREAD = 116,
	P9_RREAD,
	P9_TWRITE = 118,
	P9_RWRITE,
	P9_TCLUNK = 120,
	P9_RCLUNK,
	P9_TREMOVE = 122,
	P9_RREMOVE,
	P9_TSTAT = 124,
	P9_RSTAT,
	P9_TWSTAT = 126,
	P9_RWSTAT,
};

/* qid.type bits */
#define P9_QTDIR 0x80
#define P9_QTAPPEND 0x40
#define P9_QTEXCL 0x20
#define P9_QTMOUNT 0x10
#define P9_QTAUTH 0x08
#define P9_QTTMP 0x04
#define P9_QTSYMLINK 0x02
#define P9_QTFILE 0x00

/* 9P2000 mode/perm bits */
#define P9_DMDIR 0x80000000u
#define P9_DMAPPEND 0x40000000u
#define P9_DMEXCL 0x20000000u
#define P9_DMMOUNT 0x10000000u
#define P9_DMAUTH 0x08000000u
#define P9_DMTMP 0x04000000u
#define P9_DMSYMLINK 0x02000000u   /* .u */
#define P9_DMDEVICE 0x00800000u    /* .u */
#define P9_DMNAMEDPIPE 0x00200000u /* .u */
#define P9_DMSOCKET 0x00100000u    /* .u */
#define P9_DMSETUID 0x00080000u    /* .u */
#define P9_DMSETGID 0x00040000u    /* .u */

/* 9P2000 open modes */
#define P9_OREAD 0
#define P9_OWRITE 1
#define P9_ORDWR 2
#define P9_OEXEC 3
#define P9_OTRUNC 0x10
#define P9_ORCLOSE 0x40

/* 9P2000.L open flags (x86 O_* values, mapped by table, never passed on) */
#define P9_L_RDONLY 00
#define P9_L_WRONLY 01
#define P9_L_RDWR 02
#define P9_L_ACCMODE 03
#define P9_L_CREATE 0100
#define P9_L_EXCL 0200
#define P9_L_NOCTTY 0400
#define P9_L_TRUNC 01000
#define P9_L_APPEND 02000
#define P9_L_NONBLOCK 04000
#define P9_L_DSYNC 010000
#define P9_L_FASYNC 020000
#define P9_L_DIRECT 040000
#define P9_L_LARGEFILE 0100000
#define P9_L_DIRECTORY 0200000
#define P9_L_NOFOLLOW 0400000
#define P9_L_NOATIME 01000000
#define P9_L_CLOEXEC 02000000
#define P9_L_SYNC 04000000

/* Tgetattr request_mask / Rgetattr valid */
#define P9_GETATTR_MODE 0x1ull
#define P9_GETATTR_NLINK 0x2ull
#define P9_GETATTR_UID 0x4ull
#define P9_GETATTR_GID 0x8ull
#define P9_GETATTR_RDEV 0x10ull
#define P9_GETATTR_ATIME 0x20ull
#define P9_GETATTR_MTIME 0x40ull
#define P9_GETATTR_CTIME 0x80ull
#define P9_GETATTR_INO 0x100ull
#define P9_GETATTR_SIZE 0x200ull
#define P9_GETATTR_BLOCKS 0x400ull
#define P9_GETATTR_BTIME 0x800ull
#define P9_GETATTR_GEN 0x1000ull
#define P9_GETATTR_DATA_VERSION 0x2000ull
#define P9_GETATTR_BASIC 0x7ffull
#define P9_GETATTR_ALL 0x3fffull
/* unum's own bit: also tells, in the reply's valid, whether the directory
 * is watched for the connection's feed of changes (fsrv.c), watching it
 * if it can be; other servers leave it unset */
#define P9_GETATTR_UNUM_WATCHED (1ull << 62)

/* Tsetattr valid */
#define P9_SETATTR_MODE 0x1u
#define P9_SETATTR_UID 0x2u
#define P9_SETATTR_GID 0x4u
#define P9_SETATTR_SIZE 0x8u
#define P9_SETATTR_ATIME 0x10u
#define P9_SETATTR_MTIME 0x20u
#define P9_SETATTR_CTIME 0x40u
#define P9_SETATTR_ATIME_SET 0x80u
#define P9_SETATTR_MTIME_SET 0x100u

/* Tlock / Tgetlock */
#define P9_LOCK_TYPE_RDLCK 0
#define P9_LOCK_TYPE_WRLCK 1
#define P9_LOCK_TYPE_UNLCK 2
#define P9_LOCK_FLAGS_BLOCK 1
#define P9_LOCK_FLAGS_RECLAIM 2
#define P9_LOCK_SUCCESS 0
#define P9_LOCK_BLOCKED 1
#define P9_LOCK_ERROR 2
#define P9_LOCK_GRACE 3

#define P9_AT_REMOVEDIR 0x200

/* ---- Messages ---- */

struct p9_qid {
	uint8_t type;
	uint32_t version;
	uint64_t path;
};

/* A 9P2000 / 9P2000.u directory entry.  The .u fields are ignored (and not
 * on the wire) in plain 9P2000. */
struct p9_stat {
	uint16_t type;
	uint32_t dev;
	struct p9_qid qid;
	uint32_t mode;
	uint32_t atime;
	uint32_t mtime;
	uint64_t length;
	char *name;
	char *uid;
	char *gid;
	char *muid;
	char *extension; /* .u */
	uint32_t n_uid;  /* .u */
	uint32_t n_gid;  /* .u */
	uint32_t n_muid; /* .u */
};

/* Rgetattr body */
struct p9_attr {
	uint64_t valid;
	struct p9_qid qid;
	uint32_t mode;
	uint32_t uid;
	uint32_t gid;
	uint64_t nlink;
	uint64_t rdev;
	uint64_t size;
	uint64_t blksize;
	uint64_t blocks;
	uint64_t atime_sec, atime_nsec;
	uint64_t mtime_sec, mtime_nsec;
	uint64_t ctime_sec, ctime_nsec;
	uint64_t btime_sec, btime_nsec;
	uint64_t gen;
	uint64_t data_version;
};

/* Tsetattr body (after fid) */
struct p9_iattr {
	uint32_t valid;
	uint32_t mode;
	uint32_t uid;
	uint32_t gid;
	uint64_t size;
	uint64_t atime_sec, atime_nsec;
	uint64_t mtime_sec, mtime_nsec;
};

/* Rstatfs body */
struct p9_statfs {
	uint32_t type;
	uint32_t bsize;
	uint64_t blocks;
	uint64_t bfree;
	uint64_t bavail;
	uint64_t files;
	uint64_t ffree;
	uint64_t fsid;
	uint32_t namelen;
};

/* Tlock/Tgetlock/Rgetlock body (after fid; flags only in Tlock) */
struct p9_flock {
	uint8_t type;
	uint32_t flags;
	uint64_t start;
	uint64_t length;
	uint32_t proc_id;
	char *client_id;
};

/*
 * One 9P message, T or R.  The member of `u` named after the message
 * (without its T/R letter, e.g. u.walk for Twalk, u.rwalk for Rwalk) holds
 * its fields; messages with the same shape share a member, as listed.
 * Strings are NUL-terminated C strings; pointers (strings, data, stat
 * strings) point into the buffer they were unpacked from, or, for packing,
 * wherever the caller keeps them.
 */
struct p9_fcall {
	uint8_t type;
	uint16_t tag;
	union {
		struct { /* Tversion, Rversion */
			uint32_t msize;
			char *version;
		} version;
		struct { /* Tauth */
			uint32_t afid;
			char *uname;
			char *aname;
			uint32_t n_uname; /* .u and .L; P9_NONUNAME if absent */
		} auth;
		struct { /* Tattach */
			uint32_t fid;
			uint32_t afid;
			char *uname;
			char *aname;
			uint32_t n_uname; /* .u and .L */
		} attach;
		struct { /* Rauth, Rattach, Rsymlink, Rmknod, Rmkdir */
			struct p9_qid qid;
		} rqid;
		struct { /* Rerror */
			char *ename;
			uint32_t errnum; /* .u only */
		} error;
		struct { /* Rlerror */
			uint32_t ecode;
		} lerror;
		struct { /* Tflush */
			uint16_t oldtag;
		} flush;
		struct { /* Twalk */
			uint32_t fid;
			uint32_t newfid;
			uint16_t nwname;
			char *wname[P9_MAXWELEM];
		} walk;
		struct { /* Rwalk */
			uint16_t nwqid;
			struct p9_qid wqid[P9_MAXWELEM];
		} rwalk;
		struct { /* Topen */
			uint32_t fid;
			uint8_t mode;
		} open;
		struct { /* Ropen, Rcreate, Rlopen, Rlcreate */
			struct p9_qid qid;
			uint32_t iounit;
		} ropen;
		struct { /* Tcreate */
			uint32_t fid;
			char *name;
			uint32_t perm;
			uint8_t mode;
			char *extension; /* .u only */
		} create;
		struct { /* Tread, Treaddir */
			uint32_t fid;
			uint64_t offset;
			uint32_t count;
		} read;
		struct { /* Rread, Rreaddir */
			uint32_t count;
			const uint8_t *data;
		} rread;
		struct { /* Twrite */
			uint32_t fid;
			uint64_t offset;
			uint32_t count;
			const uint8_t *data;
		} write;
		struct { /* Rwrite */
			uint32_t count;
		} rwrite;
		struct { /* Tclunk, Tremove, Tstat, Treadlink, Tstatfs */
			uint32_t fid;
		} fid;
		struct { /* Rstat */
			struct p9_stat stat;
		} rstat;
		struct { /* Twstat */
			uint32_t fid;
			struct p9_stat stat;
		} wstat;
		struct { /* Tlopen */
			uint32_t fid;
			uint32_t flags;
		} lopen;
		struct { /* Tlcreate */
			uint32_t fid;
			char *name;
			uint32_t flags;
			uint32_t mode;
			uint32_t gid;
		} lcreate;
		struct { /* Tsymlink */
			uint32_t fid;
			char *name;
			char *symtgt;
			uint32_t gid;
		} symlink;
		struct { /* Tmknod */
			uint32_t dfid;
			char *name;
			uint32_t mode;
			uint32_t major;
			uint32_t minor;
			uint32_t gid;
		} mknod;
		struct { /* Trename */
			uint32_t fid;
			uint32_t dfid;
			char *name;
		} rename;
		struct { /* Rreadlink */
			char *target;
		} rreadlink;
		struct { /* Tgetattr */
			uint32_t fid;
			uint64_t request_mask;
		} getattr;
		struct p9_attr rgetattr; /* Rgetattr */
		struct {                 /* Tsetattr */
			uint32_t fid;
			struct p9_iattr attr;
		} setattr;
		struct { /* Txattrwalk */
			uint32_t fid;
			uint32_t newfid;
			char *name;
		} xattrwalk;
		struct { /* Rxattrwalk */
			uint64_t size;
		} rxattrwalk;
		struct { /* Txattrcreate */
			uint32_t fid;
			char *name;
			uint64_t attr_size;
			uint32_t flags;
		} xattrcreate;
		struct { /* Tfsync */
			uint32_t fid;
			uint32_t datasync;
		} fsync;
		struct { /* Tlock, Tgetlock */
			uint32_t fid;
			struct p9_flock lock;
		} lock;
		struct { /* Rlock */
			uint8_t status;
		} rlock;
		struct p9_flock rgetlock; /* Rgetlock (flags unused) */
		struct {                  /* Tlink */
			uint32_t dfid;
			uint32_t fid;
			char *name;
		} link;
		struct { /* Tmkdir */
			uint32_t dfid;
			char *name;
			uint32_t mode;
			uint32_t gid;
		} mkdir;
		struct { /* Trenameat */
			uint32_t olddirfid;
			char *oldname;
			uint32_t newdirfid;
			char *newname;
		} renameat;
		struct { /* Tunlinkat */
			uint32_t dfid;
			char *name;
			uint32_t flags;
		} unlinkat;
		struct p9_statfs rstatfs; /* Rstatfs */
	} u;
};

/* ---- Codec (fcall.c) ---- */

/*
 * Unpacks the whole message buf[0..len) (size field included; len must
 * equal its size field) into *f.  Strings are NUL-terminated in place, so
 * buf must have one writable byte past len; *f then points into buf.
 * Every length and count is checked against len and msize.  Returns 0, or
 * -EPROTO for a malformed or truncated message, -EMSGSIZE when the size
 * field exceeds msize, -EBADMSG for an unknown or invalid type, -E2BIG for
 * more than 16 walk elements or qids.
 */
int p9_unpack(struct p9_fcall *f, uint8_t *buf, size_t len, uint32_t msize,
    enum p9_dialect d);

/*
 * Packs *f into buf (capacity cap), size field included.  Returns the
 * number of bytes written, or -EMSGSIZE when it does not fit in cap,
 * -EINVAL for a type this dialect does not have or an invalid field
 * (nwname > 16, string longer than 65535).
 */
ssize_t p9_pack(
    const struct p9_fcall *f, uint8_t *buf, size_t cap, enum p9_dialect d);

/* Bytes *f needs when packed in dialect d. */
size_t p9_packed_size(const struct p9_fcall *f, enum p9_dialect d);

/* Size of one stat record as packed in dialect d (its size[2] included). */
size_t p9_stat_size(const struct p9_stat *st, enum p9_dialect d);

/* Packs one stat record (size[2] first) as it appears in a directory read;
 * returns bytes written or -EMSGSIZE. */
ssize_t p9_stat_pack(
    const struct p9_stat *st, uint8_t *buf, size_t cap, enum p9_dialect d);

/* Unpacks one stat record from a directory read, terminating its strings in
 * place (the byte after the record is overwritten, so the caller must have
 * read or copied it first, or there must be one spare byte); returns its
 * length or -EPROTO. */
ssize_t p9_stat_unpack(
    struct p9_stat *st, uint8_t *buf, size_t len, enum p9_dialect d);

/* One Rreaddir entry: qid[13] offset[8] type[1] name[s]. */
struct p9_dirent {
	struct p9_qid qid;
	uint64_t offset;
	uint8_t type;
	const char *name; /* not NUL-terminated */
	uint16_t namelen;
};

/* Appends one readdir entry at buf; returns bytes used or -EMSGSIZE. */
ssize_t p9_dirent_pack(const struct p9_dirent *de, uint8_t *buf, size_t cap);

/* Reads one readdir entry from buf[0..len); returns its length or -EPROTO. */
ssize_t p9_dirent_unpack(struct p9_dirent *de, const uint8_t *buf, size_t len);

/* Name of a message type ("Twalk"), or NULL if unknown. */
const char *p9_type_name(uint8_t type);

/* Parses a version string: the dialect it names (prefix match as Linux
 * does, "9P2000.L" > ".u" > plain), or -1 when it is not 9P2000 at all. */
int p9_dialect_parse(const char *version);
const char *p9_dialect_name(enum p9_dialect d);

/* One line describing *f for traces ("Twalk tag 3 fid 1 newfid 2 'a/b'"). */
int p9_fcall_format(const struct p9_fcall *f, char *out, size_t cap);

/* Maps a Linux errno to a Plan 9 style error string and back. */
const char *p9_errstr(int err);
int p9_strerrno(const char *ename);

/* ---- Addresses (addr.c) ---- */

/*
 * A 9P endpoint: "unix:PATH", "tcp:HOST:PORT", "HOST:PORT", "[V6]:PORT", or
 * a path containing '/' (a Unix socket).  HOST is a numeric address or a
 * name.  default_port applies when a TCP address has none.  "plain:HOST:PORT"
 * is TCP without TLS even where a cluster key is at hand (diod, a plain
 * listener).
 */
struct p9_addr {
	int is_unix;
	int plain;
	char path[108]; /* unix */
	char host[256]; /* tcp */
	int port;
};
int p9_addr_parse(struct p9_addr *a, const char *s, int default_port);

/* ---- Streams (stream.c) ----
 * The byte stream under a connection, server or client side.  The plain
 * one wraps a libuv TCP or pipe handle; a TLS stream implements the same
 * ops, so neither the codec nor the handlers know which one they run on.
 */

struct p9_peer {
	/* uid valid: SO_PEERCRED on a Unix socket (gid, pid too), or the
	 * owner of a TCP peer socket in this network namespace (gid and pid
	 * then -1 and 0) */
	int has_cred;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char addr[64]; /* "unix", "127.0.0.1:4567", ... for logs */
	/* a node that proved it holds the cluster key (TLS), and the id of
	 * the key it used */
	int node;
	char keyid[48];
	/* set by the listener: only these attach names (NULL: any), and
	 * every user is the anonymous one */
	const char *const *anames;
	int anon;
	int squash_root; /* a node's root is the anonymous user here */
};

struct p9_stream;

struct p9_stream_ops {
	/* Queues len bytes of buf, which the stream then owns (free()d once
	 * written or on close).  Returns 0 or -errno (buf freed anyway).
	 * What one turn of the loop writes goes out together, in one system
	 * call, before the loop waits again. */
	int (*write)(struct p9_stream *s, uint8_t *buf, size_t len);
	/* Turns reading on or off (backpressure). */
	void (*set_reading)(struct p9_stream *s, int on);
	/* Closes; calls s->on_close once it is gone, then s is freed.  No
	 * other callback runs after close. */
	void (*close)(struct p9_stream *s);
};

/* What a stream's user (a server connection, a client) fills in. */
struct p9_stream {
	const struct p9_stream_ops *ops;
	struct p9_peer peer;
	size_t queued; /* bytes written but not yet on the wire (read-only) */
	void *user;
	/* Where to put incoming bytes: at least 1 byte of room, at most
	 * *cap. */
	void (*on_alloc)(struct p9_stream *s, uint8_t **buf, size_t *cap);
	/* n bytes arrived in the last on_alloc buffer. */
	void (*on_read)(struct p9_stream *s, size_t n);
	/* The peer closed (err 0) or the stream failed (-errno). */
	void (*on_end)(struct p9_stream *s, int err);
	/* Some queued bytes went out (s->queued has shrunk). */
	void (*on_written)(struct p9_stream *s);
	void (*on_close)(struct p9_stream *s);
};

/* Wraps an initialised, connected uv_tcp_t or uv_pipe_t (malloc()ed; the
 * stream owns and frees it).  Fills peer from the socket: its address,
 * and with identify (a server's side) who the peer is. */
struct p9_stream *p9_stream_uv_new(uv_stream_t *h, int identify);

/* ---- TLS between nodes (tls.c) ---- */

#define P9_KEY_LEN 32 /* a cluster key: 32 random bytes, in hex in its file */

struct p9_tls_ctx;

/* Reads a cluster key file, refusing one others may read, one owned by
 * someone else than us or root, or one of the wrong form.  0, or -1 with
 * a one-line message in err. */
int p9_key_read(const char *path, uint8_t key[P9_KEY_LEN], char *err,
    size_t cap);
/* Writes a new random key to path (mode 0600; an existing file only with
 * force).  0, or -1 with err. */
int p9_key_new(const char *path, int force, char *err, size_t cap);
/* The key's public id (16 hex digits), for logs: which key a peer used. */
void p9_key_id(const uint8_t key[P9_KEY_LEN], char id[32]);
/* A TLS 1.3 context authenticated by the key (a server also accepts
 * prevkey, during a rollover, if not NULL).  NULL with err. */
struct p9_tls_ctx *p9_tls_ctx_new(int server, const uint8_t key[P9_KEY_LEN],
    const uint8_t *prevkey, char *err, size_t cap);
/* (key may be NULL: a context for node certificates only, see below.) */
void p9_tls_ctx_free(struct p9_tls_ctx *t);
/* Node certificates (PEM files): this node's certificate (chain) and its
 * private key (mode 0600), the cluster CA that signs nodes, and a CRL of
 * revoked nodes (optional).  With them a peer is a node when it shows a
 * certificate the CA signed and the CRL does not list, or, where a key was
 * given too, when it holds the key (the client offers the key first). */
struct p9_tls_certs {
	const char *cert, *key, *ca, *crl;
};
/* Adds them to t (made with or without a key: key NULL).  0, or -1 with
 * one line in err naming the file. */
int p9_tls_ctx_certs(struct p9_tls_ctx *t, const struct p9_tls_certs *c,
    char *err, size_t cap);
/* TLS over the byte stream in (which it takes over).  The handshake runs
 * first, with a 10 s deadline; what is written meanwhile waits. */
struct p9_stream *p9_stream_tls_new(
    uv_loop_t *loop, struct p9_stream *in, struct p9_tls_ctx *t);

/* ---- Server framework (srv.c, conn.c) ---- */

struct p9_srv;
struct p9_conn;

struct p9_fid {
	uint32_t num;               /* read-only */
	struct p9_conn *conn;       /* read-only */
	struct p9_qid qid;          /* kept by the framework from attach, walk,
	                               open, create replies */
	int omode;                  /* read-only: -1 if not open, else P9_OREAD,
	                               P9_OWRITE, P9_ORDWR or P9_OEXEC */
	void *aux;                  /* the server's */
	const struct p9_tree *tree; /* read-only: the tree attached to */
	/* framework-private */
	int ref;
	uint64_t diroffset, dirindex;
	struct p9_fid *hnext;
	void *making;  /* the request making it (attach, walk), until answered */
	void *waiting; /* requests on it that came meanwhile, in order */
};

/*
 * One request.  The server reads `in`, fills the body of `out` (the
 * framework sets out.type and out.tag) and finishes it with exactly one
 * p9_respond* call, now or later on the loop thread; after that call req is
 * gone.  fid is the request's fid (Tattach: the new fid; Tlink: fid,
 * Trename, Trenameat: fid/olddirfid and fid2 dfid/newdirfid), newfid the
 * new fid of Twalk and Txattrwalk (== fid for a walk in place).
 */
struct p9_req {
	struct p9_fcall in;
	struct p9_fcall out;
	struct p9_fid *fid;
	struct p9_fid *fid2;
	struct p9_fid *newfid;
	struct p9_conn *conn;
	void *aux;    /* the server's, e.g. while the request is held */
	int flushed;  /* read-only: a Tflush has asked to cancel it */
	uint8_t type; /* read-only: the type as it arrived (in.type may be a
	                 mapped one, e.g. Tlopen served by ops.open) */
	/* framework-private */
	uint8_t *buf;  /* the message; in points into it */
	uint8_t *rbuf; /* reply buffer handed out by p9_req_data */
	uint32_t rcap;
	int mapped;
	struct p9_req *next; /* in-flight list */
	struct p9_req *prev;
	struct p9_req *flushes; /* Tflush requests waiting on this one */
	struct p9_req *oldreq;  /* for a Tflush: what it flushes */
};

/*
 * A file server.  Missing entries are answered by the framework: Tlopen,
 * Tlcreate, Tgetattr, Tsetattr (mode, size, times) and Treaddir are mapped
 * onto open, create, stat, wstat and read for servers written against
 * 9P2000; Tfsync succeeds; anything else gets EOPNOTSUPP.  The framework
 * has already checked fids, open modes, walk length, names and counts.
 * A server that holds requests (does not answer at once) must implement
 * flush: it is called when a Tflush arrives or the connection goes, and
 * must then answer the request soon (usually p9_respond_error(r, EINTR)).
 */
struct p9_ops {
	void (*attach)(struct p9_req *r); /* r->fid is new: set its qid */
	void (*auth)(struct p9_req *r);
	void (*walk)(struct p9_req *r); /* see p9_ops_walk contract below */
	void (*open)(struct p9_req *r);
	void (*create)(struct p9_req *r);
	void (*read)(struct p9_req *r); /* directories: p9_respond_dirread */
	void (*write)(struct p9_req *r);
	void (*clunk)(struct p9_req *r);  /* optional: default answers */
	void (*remove)(struct p9_req *r); /* fid is clunked either way */
	void (*stat)(struct p9_req *r);
	void (*wstat)(struct p9_req *r);
	void (*flush)(struct p9_req *old);
	void (*destroy_fid)(struct p9_fid *fid); /* free fid->aux */
	void (*conn_open)(struct p9_conn *c);    /* optional */
	void (*conn_close)(struct p9_conn *c);   /* optional, last call */
	/* 9P2000.L */
	void (*lopen)(struct p9_req *r);
	void (*lcreate)(struct p9_req *r);
	void (*getattr)(struct p9_req *r);
	void (*setattr)(struct p9_req *r);
	void (*readdir)(struct p9_req *r);
	void (*mkdir)(struct p9_req *r);
	void (*symlink)(struct p9_req *r);
	void (*mknod)(struct p9_req *r);
	void (*rename)(struct p9_req *r);
	void (*renameat)(struct p9_req *r);
	void (*readlink)(struct p9_req *r);
	void (*link)(struct p9_req *r);
	void (*unlinkat)(struct p9_req *r);
	void (*fsync)(struct p9_req *r);
	void (*statfs)(struct p9_req *r);
	void (*xattrwalk)(struct p9_req *r);
	void (*xattrcreate)(struct p9_req *r);
	void (*lock)(struct p9_req *r);
	void (*getlock)(struct p9_req *r);
};
/*
 * walk contract: walk in.u.walk.wname from r->fid; fill out.u.rwalk with a
 * qid per name walked.  Only if every name was walked (or nwname is 0, a
 * clone) set r->newfid->aux (for newfid == fid: replace fid->aux).  Return
 * an error only if the first name fails.  The framework sets newfid's qid
 * and discards newfid on a partial walk (destroy_fid frees what was set).
 */

/* One tree a server offers under an attach name. */
struct p9_tree {
	const char *aname; /* "" or NULL: any name not otherwise listed;
	                      "!": any name with a '!' (a relay) */
	const struct p9_ops *ops;
	void *aux; /* the tree's: p9_req_aux() */
	/* requests go on to a server that checks its fids' state itself
	 * (open modes, directories), which may still be changing: the
	 * framework checks fids, names and sizes only */
	int forward;
};

struct p9_srv_opts {
	/* Either one set of handlers for every attach name (ops, aux), or
	 * trees chosen by attach name (an empty aname picks the first). */
	const struct p9_ops *ops;
	void *aux; /* the server's: p9_srv_aux() */
	const struct p9_tree *trees;
	unsigned ntrees;
	uint32_t msize;     /* largest msize offered; 0: 1 MiB + 24 */
	uint32_t max_fids;  /* per connection; 0: 65536 */
	uint32_t max_reqs;  /* requests in flight per connection; 0: 1024 */
	uint32_t max_conns; /* 0: 1024 */
	uint32_t max_conns_per_peer; /* TCP, per address; 0: 256 */
	unsigned idle_secs; /* a connection with no fid and no request for
	                     * this long is closed; 0: never */
	int trace;          /* -D: every message in and out to stderr */
	const char *name;   /* for logs, e.g. "unumd" */
};

/* A server on loop; copies opts.  NULL with errno on failure. */
struct p9_srv *p9_srv_new(uv_loop_t *loop, const struct p9_srv_opts *opts);
/* Listens on a TCP address (host, port) or a Unix socket path (created
 * with the given mode, replacing a stale socket, in its directory made
 * 0755 if missing).  0 or -errno. */
int p9_srv_listen(struct p9_srv *srv, const struct p9_addr *a, int mode);
/* The same, with what the listener's connections are: over TLS (tls, a
 * server context: peers are nodes), or plain with only some attach names
 * (anames, NULL-terminated, kept by the caller) and every user anonymous;
 * squash_root: a node's root is the anonymous user. */
struct p9_listen_opts {
	int mode;
	struct p9_tls_ctx *tls;
	const char *const *anames;
	int anon;
	int squash_root;
};
int p9_srv_listen_opts(
    struct p9_srv *srv, const struct p9_addr *a, const struct p9_listen_opts *o);
/* Serves an already connected socket fd (socketpair, inetd). 0 or -errno. */
int p9_srv_serve_fd(struct p9_srv *srv, int fd);
/* Serves over a stream the caller made (TLS, memory); the server owns it. */
struct p9_conn *p9_srv_serve_stream(struct p9_srv *srv, struct p9_stream *s);
/* Stops listening and closes every connection; done(arg) runs once all is
 * gone, then srv is freed. */
void p9_srv_close(struct p9_srv *srv, void (*done)(void *arg), void *arg);
void *p9_srv_aux(struct p9_srv *srv);
/* The aux of the tree r's fid belongs to (p9_srv_aux for a server of one
 * tree). */
void *p9_req_aux(struct p9_req *r);
uv_loop_t *p9_srv_loop(struct p9_srv *srv);
/* Connections served now. */
unsigned p9_srv_nconns(struct p9_srv *srv);

const struct p9_peer *p9_conn_peer(struct p9_conn *c);
enum p9_dialect p9_conn_dialect(struct p9_conn *c);
uint32_t p9_conn_msize(struct p9_conn *c);
struct p9_srv *p9_conn_srv(struct p9_conn *c);
void *p9_conn_aux(struct p9_conn *c);
void p9_conn_set_aux(struct p9_conn *c, void *aux);
/* Drops the connection: held requests are flushed, fids destroyed. */
void p9_conn_close(struct p9_conn *c);

/* Who a Tattach is (ident.c): from the connection's credentials, never
 * from what the message claims; root may act for any uid (n_uname) or
 * user name (then name is set and uid 0: the server resolves it); a peer
 * of unknown identity is anon.  0, or -EPERM when a peer claims another
 * uid. */
struct p9_ident {
	uid_t uid;
	gid_t gid; /* (gid_t)-1 if the connection does not say */
	const char *name;
};
int p9_attach_ident(const struct p9_req *r, uid_t anon_uid, gid_t anon_gid,
    struct p9_ident *id);

/* For a server with .L handlers that serves some of its fids as a
 * 9P2000 server would: maps r (Tlopen, Tlcreate, Tgetattr, Tsetattr,
 * Treaddir) in place onto the 9P2000 request its plain handler takes, as
 * the framework does for servers without .L handlers; the reply is packed
 * as the .L one.  0, or -1 if r has no such mapping. */
int p9_req_map_dotl(struct p9_req *r);

/* Answers r with r->out; r is gone after. */
void p9_respond(struct p9_req *r);
/* Answers r with an error: Rlerror(err) in 9P2000.L, Rerror(p9_errstr)
 * (and errno in .u) otherwise.  err is a positive Linux errno. */
void p9_respond_error(struct p9_req *r, int err);
/* The same with a message of the server's for 9P2000 and .u clients. */
void p9_respond_errmsg(struct p9_req *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* For Tread and Treaddir: a buffer of *cap bytes (the request's count,
 * bounded by msize) to put data in; set out.u.rread.count and respond.
 * Saves a copy of the data. */
uint8_t *p9_req_data(struct p9_req *r, uint32_t *cap);
/* Answers a Tread of a file whose contents are data[0..len): the part at
 * the request's offset that fits its count (0 bytes past the end). */
void p9_respond_bytes(struct p9_req *r, const void *data, size_t len);

/* Directory reads for synthetic trees.  gen fills *st with entry `index`
 * (strings must stay valid until the next call) and returns 0, or -1 past
 * the last entry.  Answers Tread (stat records, 9P2000/.u) and Treaddir
 * (dirents, offsets are entry indices) alike. */
typedef int (*p9_dirgen_fn)(void *arg, uint64_t index, struct p9_stat *st);
void p9_respond_dirread(struct p9_req *r, p9_dirgen_fn gen, void *arg);
/* The same without answering, for a worker thread: fills r->out and
 * returns 0, or an errno (EINVAL for a bad offset, EMSGSIZE when not one
 * entry fits).  The caller responds on the loop thread. */
int p9_dirread(struct p9_req *r, p9_dirgen_fn gen, void *arg);

/* ---- Client (client.c: asynchronous, on a libuv loop) ---- */

struct p9_client;
struct p9_call;

struct p9_client_opts {
	uint32_t msize;          /* asked for; 0: 1 MiB + 24 */
	enum p9_dialect dialect; /* asked for; the server may offer less */
	int trace;               /* every message to stderr */
	struct p9_tls_ctx *tls;  /* TCP: TLS with this (a client context) */
	int eager;               /* connected as soon as the Tversion is out:
	                            calls follow it without waiting for its
	                            round trip, packed in the dialect asked and
	                            smaller than the least msize (P9_MINMSIZE); a
	                            server that answers another dialect ends
	                            the connection (EPROTONOSUPPORT) */
};

/*
 * A finished call: err is 0 and r the reply (valid only during the
 * callback), or err is a positive errno.  An error the server sent comes
 * with r, its Rerror (whose ename is the server's text) or Rlerror; EINTR
 * for a flushed call and ECONNRESET when the connection went come with r
 * NULL.
 */
typedef void (*p9_call_cb)(void *arg, int err, struct p9_fcall *r);

/* Connects and negotiates the version; cb(arg, client, 0) or
 * cb(arg, NULL, -errno) later on the loop.  0 or -errno (then no cb). */
int p9_client_connect(uv_loop_t *loop, const struct p9_addr *a,
    const struct p9_client_opts *opts,
    void (*cb)(void *arg, struct p9_client *c, int err), void *arg);
/* The same over a stream the caller made (TLS).  The client owns it. */
int p9_client_connect_stream(uv_loop_t *loop, struct p9_stream *s,
    const struct p9_client_opts *opts,
    void (*cb)(void *arg, struct p9_client *c, int err), void *arg);

/* Sends t (its tag is chosen here; its pointers need live only during
 * this call) and calls cb once with the reply.  Many calls may be in
 * flight.  Returns the call (for p9_call_flush) or NULL with errno set
 * (ENOTCONN, EMSGSIZE; cb is then not called). */
struct p9_call *p9_client_call(
    struct p9_client *c, const struct p9_fcall *t, p9_call_cb cb, void *arg);
/* Asks the server to cancel a call: its cb runs once, with the reply if
 * the server answered first, else with EINTR after Rflush. */
void p9_call_flush(struct p9_call *call);

uint32_t p9_client_msize(struct p9_client *c);
enum p9_dialect p9_client_dialect(struct p9_client *c);
/* Allocates / releases fid numbers. */
uint32_t p9_client_fid_new(struct p9_client *c);
void p9_client_fid_free(struct p9_client *c, uint32_t fid);
/* 1 while calls can be made; 0 once the connection is lost. */
int p9_client_alive(struct p9_client *c);
/* Fails every call in flight with ECONNRESET, closes the connection and
 * frees c once it is gone. */
void p9_client_close(struct p9_client *c);

/* ---- Relay (relay.c): a local user's attach carried to another node ----
 * A tree for the attach name "ADDR!ANAME": tree ANAME of the node at ADDR
 * (HOST[:PORT]), reached over a TLS link of this daemon's (the cluster
 * key), attached in the name of the user this connection is (its uid), and
 * served message for message.  It serves this node's users only (Unix
 * socket or local TCP with credentials): never a node's connection, so
 * relays do not chain, nor a plain listener's.  Links are shared by all
 * users and kept while they work. */
struct p9_relay;
struct p9_relay_opts {
	struct p9_tls_ctx *tls; /* a client context; NULL: relays refused */
	int default_port;       /* 0: 5640 */
	unsigned max_links;     /* 0: 1024 */
	uid_t anon_uid;         /* for p9_attach_ident */
	gid_t anon_gid;
};
/* NULL with errno. */
struct p9_relay *p9_relay_new(uv_loop_t *loop, const struct p9_relay_opts *o);
/* The tree's handlers; its aux is the relay, its aname "!" (srv.c gives it
 * every attach name with a '!'). */
const struct p9_ops *p9_relay_ops(void);
/* Closes every link and frees rl (a link still connecting goes when its
 * connect ends); after the server using it is closed. */
void p9_relay_close(struct p9_relay *rl);

/*
 * The same links for a tree of one's own that sends some fids on to nodes
 * (unum-clusterd's process tree).  A fid on a node is a struct p9_rfid:
 * the tree sets one as a fid's aux (p9_relay_walk does) and hands every
 * request on that fid to p9_relay_forward, its flush to p9_relay_flush
 * and its end to p9_relay_fid_drop.  Nothing waits: requests queue in
 * order behind the link's connect and the attach, so a client's pipelined
 * requests reach the node in the order sent.  Such a tree is a forward
 * tree (p9_tree.forward).
 */
struct p9_rfid;
/* Attaches aname of the node at addr (HOST[:PORT], over TLS) in uid's name;
 * a failure shows on the first request that uses it.  NULL with *err
 * (ENOKEY: no key; EINVAL: a bad address; EAGAIN: too many links). */
struct p9_rfid *p9_relay_attach(struct p9_relay *rl, const char *addr,
    uid_t uid, const char *aname, enum p9_dialect d, int *err);
/* Answers r, a Twalk to a new fid (r->newfid != r->fid), by walking wname
 * (n names, copied) from `from` on its node; r->newfid's aux becomes the
 * node's new fid at once.  The reply's qids are pre (npre of them, the
 * names the caller walked itself first) and the node's. */
void p9_relay_walk(struct p9_req *r, struct p9_rfid *from, char **wname,
    unsigned n, const struct p9_qid *pre, unsigned npre);
/* 1 if a fid's aux is a struct p9_rfid. */
int p9_relay_is_fid(const void *aux);
void p9_relay_forward(struct p9_req *r);
void p9_relay_flush(struct p9_req *old);
/* Clunks it on the node (if it is there) and frees it. */
void p9_relay_fid_drop(struct p9_rfid *rf);
/* The node at addr is known dead: its links are closed, what waits on
 * them fails at once (ECONNRESET) rather than when TCP gives up. */
void p9_relay_drop(struct p9_relay *rl, const char *addr);
/* Calls of one's own on a node: a new fid number on like's link (for a
 * walk's newfid: pass it as made), and a call t (its fids numbers from
 * p9_relay_fid_num; a walk's names are copied, other strings and data
 * kept by the caller until cb) sent in
 * order on on's link.  0, or -ECONNRESET (cb not called). */
struct p9_rfid *p9_relay_fid_new(struct p9_rfid *like);
uint32_t p9_relay_fid_num(const struct p9_rfid *rf);
int p9_relay_call(struct p9_rfid *on, const struct p9_fcall *t,
    struct p9_rfid *made, p9_call_cb cb, void *arg);

/* ---- Blocking client (cl.c: for tools and tests; thread-safe) ----
 * Runs the asynchronous client on a loop thread of its own; any number of
 * threads may call at once, each call one round trip (they pipeline).
 * Calls return 0 or a negative errno.
 */
struct p9_cl;

struct p9_cl *p9_cl_connect(
    const struct p9_addr *a, const struct p9_client_opts *opts, int *err);
void p9_cl_close(struct p9_cl *cl);
uint32_t p9_cl_msize(struct p9_cl *cl);
enum p9_dialect p9_cl_dialect(struct p9_cl *cl);

/* One round trip: t out, the reply into *r, which points into *rbuf
 * (the caller free()s *rbuf). */
int p9_cl_rpc(struct p9_cl *cl, const struct p9_fcall *t, struct p9_fcall *r,
    uint8_t **rbuf);

/* n (at most P9_CL_BATCH) calls sent at once, in order, and all waited
 * for: one round trip for a walk and what follows on its new fid.  Each
 * one's result in rc[i] (0 or -errno), its reply in r[i], pointing into
 * rbuf[i] (free()d by the caller, NULL on failure); returns the first
 * failure, or 0. */
#define P9_CL_BATCH 8
int p9_cl_rpcv(struct p9_cl *cl, const struct p9_fcall *t, struct p9_fcall *r,
    uint8_t **rbuf, int *rc, unsigned n);

/* What the server said (its Rerror text, 9P2000 and .u) of the calling
 * thread's last failed call, if that failed with err, else NULL (.L says
 * only a number).  Later successful calls leave it. */
const char *p9_cl_last_error(int err);
/* The same, else strerror(err): for messages. */
const char *p9_cl_strerror(int err);

uint32_t p9_cl_fid_new(struct p9_cl *cl);
/* Releases a fid number that is not bound (a failed walk or attach);
 * p9_cl_clunk and p9_cl_remove release theirs themselves. */
void p9_cl_fid_free(struct p9_cl *cl, uint32_t fid);
int p9_cl_attach(struct p9_cl *cl, uint32_t fid, const char *uname,
    uint32_t n_uname, const char *aname, struct p9_qid *qid);
/* Walks path ("a/b/c", any length; "" clones) from fid to newfid. */
int p9_cl_walk(struct p9_cl *cl, uint32_t fid, uint32_t newfid,
    const char *path, struct p9_qid *qid);
int p9_cl_open(struct p9_cl *cl, uint32_t fid, uint8_t mode, struct p9_qid *qid,
    uint32_t *iounit);
int p9_cl_lopen(struct p9_cl *cl, uint32_t fid, uint32_t flags,
    struct p9_qid *qid, uint32_t *iounit);
int p9_cl_create(struct p9_cl *cl, uint32_t fid, const char *name,
    uint32_t perm, uint8_t mode, struct p9_qid *qid);
int p9_cl_lcreate(struct p9_cl *cl, uint32_t fid, const char *name,
    uint32_t flags, uint32_t mode, uint32_t gid, struct p9_qid *qid);
/* Reads up to n bytes at off; returns bytes read (0 at end) or -errno. */
ssize_t p9_cl_read(
    struct p9_cl *cl, uint32_t fid, uint64_t off, void *buf, size_t n);
ssize_t p9_cl_write(
    struct p9_cl *cl, uint32_t fid, uint64_t off, const void *buf, size_t n);
ssize_t p9_cl_readdir(
    struct p9_cl *cl, uint32_t fid, uint64_t off, void *buf, size_t n);
int p9_cl_clunk(struct p9_cl *cl, uint32_t fid);
int p9_cl_remove(struct p9_cl *cl, uint32_t fid);
/* Stat: *st's strings point into *sbuf (the caller free()s it). */
int p9_cl_stat(
    struct p9_cl *cl, uint32_t fid, struct p9_stat *st, uint8_t **sbuf);
int p9_cl_wstat(struct p9_cl *cl, uint32_t fid, const struct p9_stat *st);
int p9_cl_getattr(
    struct p9_cl *cl, uint32_t fid, uint64_t mask, struct p9_attr *attr);
int p9_cl_setattr(struct p9_cl *cl, uint32_t fid, const struct p9_iattr *a);
/* A stat with every field "don't touch" (for wstat). */
void p9_stat_null(struct p9_stat *st);

/* ---- Memory for messages (srv.c) ----
 * A process that moves msize-sized messages calls this once at start:
 * buffers up to a few messages come from the heap and freed ones are kept
 * for the next message, not mapped and unmapped (with a page fault for each
 * page) on every read, which halves the rate of 1 MiB reads. */
void p9_malloc_for_messages(uint32_t msize);

/* ---- Logging (log.c) ---- */

/* Log lines go to stderr as "NAME: message" (the journal keeps them under
 * systemd).  level is a syslog level; LOG_DEBUG lines only with verbose
 * (> 0); verbose < 0 keeps warnings and errors only. */
void p9_log_init(const char *name, int verbose);
void p9_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
