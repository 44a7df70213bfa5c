/*
 * fuzz_unpack.c - libFuzzer target for the 9P codec.  Each input is tried
 * as a message (size field as given, and patched to the input's length) in
 * all three dialects, as a stat record and as a readdir entry, each from an
 * exact-size heap copy so ASan sees any access past it, and as a version
 * string.  What unpacks must re-pack, re-pack to the same bytes and, as
 * unpacking is strict, give back the input itself; a failed unpack must
 * leave its buffer untouched.  Any breach abort()s, so the fuzzer reports
 * it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "9p/p9.h"

#define MSIZE 8192
#define SPARE 0xa5 /* the spare byte, before p9_unpack */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum p9_dialect dialects[] = {P9_2000, P9_2000U, P9_2000L};

/* A heap copy of exactly len bytes plus the spare byte. */
static uint8_t *
copy(const uint8_t *p, size_t len)
{
	uint8_t *b = malloc(len + 1);

	if (b == NULL)
		abort();
	if (len > 0)
		memcpy(b, p, len);
	b[len] = SPARE;
	return b;
}

/* Packs *f into a fresh exact-size buffer; aborts if it cannot. */
static uint8_t *
pack(const struct p9_fcall *f, enum p9_dialect d, size_t *len)
{
	size_t n = p9_packed_size(f, d);
	uint8_t *b;

	if (n < P9_HDRSZ)
		abort();
	b = malloc(n);
	if (b == NULL)
		abort();
	if (p9_pack(f, b, n, d) != (ssize_t)n)
		abort();
	*len = n;
	return b;
}

/* *f was unpacked from msg[0..len) in dialect d. */
static void
check_message(
    const struct p9_fcall *f, const uint8_t *msg, size_t len, enum p9_dialect d)
{
	/* Rerror is only unpacked under .L; its errno is optional there. */
	int rerror_l = f->type == P9_RERROR && d == P9_2000L;
	enum p9_dialect pd = rerror_l ? P9_2000U : d;
	struct p9_fcall again;
	uint8_t *out1, *out2, *buf;
	size_t n1, n2;
	char line[256];

	p9_fcall_format(f, line, sizeof(line));
	p9_fcall_format(f, line, 8);
	if (rerror_l && p9_packed_size(f, d) != 0)
		abort();
	out1 = pack(f, pd, &n1);
	/* One encoding per message, but for the optional fields. */
	if (!rerror_l && !(f->type == P9_TFSYNC && len == P9_HDRSZ + 4) &&
	    (n1 != len || memcmp(out1, msg, len) != 0))
		abort();
	buf = copy(out1, n1);
	if (p9_unpack(&again, buf, n1, UINT32_MAX, d) != 0)
		abort();
	out2 = pack(&again, pd, &n2);
	if (n2 != n1 || memcmp(out1, out2, n1) != 0)
		abort();
	free(out2);
	free(buf);
	free(out1);
}

static void
try_message(const uint8_t *msg, size_t len, enum p9_dialect d)
{
	uint8_t *buf = copy(msg, len);
	struct p9_fcall f;
	int rc = p9_unpack(&f, buf, len, MSIZE, d);

	if (rc == 0)
		check_message(&f, msg, len, d);
	else if ((len > 0 && memcmp(buf, msg, len) != 0) || buf[len] != SPARE)
		abort();
	free(buf);
}

static void
try_stat(const uint8_t *data, size_t size, enum p9_dialect d)
{
	uint8_t *buf = copy(data, size), *out;
	struct p9_stat st;
	ssize_t n = p9_stat_unpack(&st, buf, size, d);

	if (n > 0) {
		out = malloc((size_t)n);
		if (out == NULL || (size_t)n > size ||
		    p9_stat_size(&st, d) != (size_t)n ||
		    p9_stat_pack(&st, out, (size_t)n, d) != n ||
		    memcmp(out, data, (size_t)n) != 0)
			abort();
		free(out);
	}
	free(buf);
}

static void
try_dirent(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size > 0 ? size : 1), *out;
	struct p9_dirent de;
	ssize_t n;

	if (buf == NULL)
		abort();
	if (size > 0)
		memcpy(buf, data, size);
	n = p9_dirent_unpack(&de, buf, size);
	if (n > 0) {
		out = malloc((size_t)n);
		if (out == NULL || (size_t)n > size ||
		    p9_dirent_pack(&de, out, (size_t)n) != n ||
		    memcmp(out, data, (size_t)n) != 0)
			abort();
		free(out);
	}
	free(buf);
}

static void
check_version(const char *version)
{
	int d = p9_dialect_parse(version);
	const char *name;

	if (d < 0)
		return;
	name = p9_dialect_name((enum p9_dialect)d);
	if (name == NULL || strncmp(version, name, strlen(name)) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *patched = copy(data, size);
	char *version;
	size_t k;

	if (size >= 4) {
		patched[0] = (uint8_t)size;
		patched[1] = (uint8_t)(size >> 8);
		patched[2] = (uint8_t)(size >> 16);
		patched[3] = (uint8_t)(size >> 24);
	}
	for (k = 0; k < sizeof(dialects) / sizeof(dialects[0]); k++) {
		try_message(data, size, dialects[k]);
		try_message(patched, size, dialects[k]);
		try_stat(data, size, dialects[k]);
	}
	try_dirent(data, size);
	free(patched);
	/* As a version string: a dialect it parses to is one whose name it
	 * starts with. */
	version = (char *)copy(data, size);
	version[size] = '\0';
	check_version(version);
	free(version);
	return 0;
}
