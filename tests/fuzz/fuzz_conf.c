/*
 * fuzz_conf.c - libFuzzer target for configuration reading (src/conf).
 * The input is read as unumd reads /etc/unum/unumd.conf: conf_read of a
 * memory file (a memfd, by its /proc/self/fd name), each line's values
 * checked as unumd's on_conf_line checks them (its keys, copied in the
 * table below: numbers through conf_number with unumd's ranges and
 * suffixes, one of two words, one value or a list), the first bad line
 * ending the read.  The input is also split whole by conf_tokenize, every
 * word re-quoted and split again to itself, and parsed by conf_number
 * under several ranges, which must agree with each other.  Any breach
 * abort()s, so the fuzzer reports it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "9p/p9.h"
#include "conf/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { LIST, WORD, CHOICE, NUM };

/* unumd's keys (src/cmd/unumd.c, on_conf_line) */
static const struct key {
	const char *name;
	int kind;
	int minargc;        /* LIST: words, the key's included */
	const char *one[2]; /* CHOICE: the values allowed */
	unsigned long long lo, hi;
	int units;
} keys[] = {
    {"listen", LIST, 2, {0}, 0, 0, 0},
    {"plain-listen", LIST, 3, {0}, 0, 0, 0},
    {"name", WORD, 2, {0}, 0, 0, 0},
    {"export", WORD, 2, {0}, 0, 0, 0},
    {"socket", WORD, 2, {0}, 0, 0, 0},
    {"squash", WORD, 2, {0}, 0, 0, 0},
    {"anon", WORD, 2, {0}, 0, 0, 0},
    {"key", WORD, 2, {0}, 0, 0, 0},
    {"previous-key", WORD, 2, {0}, 0, 0, 0},
    {"read-only", CHOICE, 2, {"yes", "no"}, 0, 0, 0},
    {"remote-root", CHOICE, 2, {"squash", "keep"}, 0, 0, 0},
    {"msize", NUM, 2, {0}, P9_MINMSIZE, P9_MAXMSIZE, 1},
    {"max-fids", NUM, 2, {0}, 1, 1u << 20, 0},
    {"max-requests", NUM, 2, {0}, 1, 1u << 20, 0},
    {"max-connections", NUM, 2, {0}, 1, 1u << 20, 0},
    {"max-connections-per-peer", NUM, 2, {0}, 1, 1u << 20, 0},
    {"workers", NUM, 2, {0}, 1, 1024, 0},
};

struct run {
	const char *path;
	const char *end;
	int lines; /* calls of on_line */
	int lastno;
	size_t maxlines;
};

static int
on_line(void *arg, struct conf_line *l, char *err, size_t cap)
{
	struct run *r = arg;
	const struct key *k = NULL;
	unsigned long long v;
	size_t i;
	int j;

	if (l->file != r->path || l->lineno <= r->lastno ||
	    (size_t)l->lineno > r->maxlines || l->argc < 1 ||
	    l->argc > CONF_MAXARGS)
		abort();
	r->lastno = l->lineno;
	r->lines++;
	for (j = 0; j < l->argc; j++)
		if (!l->argv[j] || strchr(l->argv[j], '\n'))
			abort(); /* a word never holds the line's end */
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (!strcmp(l->argv[0], keys[i].name))
			k = &keys[i];
	if (!k) {
		snprintf(err, cap, "%s:%d: unknown setting '%s'", l->file,
		    l->lineno, l->argv[0]);
		return -1;
	}
	if (k->kind == LIST ? l->argc < k->minargc : l->argc != 2) {
		snprintf(err, cap, "%s:%d: '%s' wants a value", l->file,
		    l->lineno, k->name);
		return -1;
	}
	if (k->kind == CHOICE && strcmp(l->argv[1], k->one[0]) &&
	    strcmp(l->argv[1], k->one[1])) {
		snprintf(err, cap, "%s:%d: %s wants %s or %s", l->file,
		    l->lineno, k->name, k->one[0], k->one[1]);
		return -1;
	}
	if (k->kind == NUM) {
		if (conf_number(l->argv[1], k->lo, k->hi, k->units, &v) < 0) {
			snprintf(err, cap,
			    "%s:%d: %s: '%s' is not a number from %llu to %llu",
			    l->file, l->lineno, k->name, l->argv[1], k->lo,
			    k->hi);
			return -1;
		}
		if (v < k->lo || v > k->hi)
			abort();
	}
	return 0;
}

/* conf_read of data through a memfd named by path. */
static void
read_as_file(int fd, const char *path, const uint8_t *data, size_t size)
{
	struct run r = {.path = path, .maxlines = 1};
	char err[512];
	size_t i;
	int rc;

	for (i = 0; i < size; i++)
		r.maxlines += data[i] == '\n';
	if (ftruncate(fd, 0) < 0 ||
	    (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
	memset(err, 0xa5, sizeof err);
	errno = 0;
	rc = conf_read(path, on_line, &r, err, sizeof err);
	if (rc == 0)
		return;
	/* a failure: one message naming the file, errno EINVAL */
	if (rc != -1 || errno != EINVAL || !memchr(err, '\0', sizeof err) ||
	    strncmp(err, path, strlen(path)) || strchr(err, '\n') != NULL)
		abort();
}

/* w, rc-quoted, into a fresh string. */
static char *
quote(const char *w)
{
	char *q = malloc(2 * strlen(w) + 3), *p = q;

	if (!q)
		abort();
	*p++ = '\'';
	for (; *w; w++) {
		if (*w == '\'')
			*p++ = '\'';
		*p++ = *w;
	}
	*p++ = '\'';
	*p = '\0';
	return q;
}

static void
tokenize(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *argv[33], *again[2], *q;
	int max = size ? data[0] % 33 : 0, n, i;

	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	n = conf_tokenize(s, argv, max);
	if (n < -1 || n > max)
		abort();
	for (i = 0; i < n; i++) {
		/* in the input's storage, in order, apart */
		if (argv[i] < s || argv[i] > s + size ||
		    argv[i] + strlen(argv[i]) > s + size ||
		    (i > 0 && argv[i] <= argv[i - 1] + strlen(argv[i - 1])))
			abort();
		q = quote(argv[i]);
		if (conf_tokenize(q, again, 2) != 1 ||
		    strcmp(again[0], argv[i]))
			abort(); /* quoted, a word is itself */
		free(q);
	}
	free(s);
}

/* conf_number under several ranges: each agrees with the widest. */
static void
numbers(const uint8_t *data, size_t size)
{
	static const unsigned long long ranges[][2] = {
	    {0, ~0ull},
	    {1, 9999},
	    {P9_MINMSIZE, P9_MAXMSIZE},
	    {1, 1u << 20},
	    {1024, 1024},
	    {~0ull, ~0ull},
	    {5, 4},
	};
	char *s = malloc(size + 1);
	unsigned long long all, v;
	int units, ok, rc;
	size_t i;

	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	for (units = 0; units < 2; units++) {
		ok = conf_number(s, 0, ~0ull, units, &all) == 0;
		for (i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
			v = 0xdeadbeef;
			rc = conf_number(
			    s, ranges[i][0], ranges[i][1], units, &v);
			if (rc != 0 && rc != -1)
				abort();
			if ((rc == 0) !=
			    (ok && all >= ranges[i][0] && all <= ranges[i][1]))
				abort();
			if (rc == 0 ? v != all : v != 0xdeadbeef)
				abort(); /* *out only on success */
		}
		if (units == 0 && ok) {
			/* a plain number is also one where suffixes may be */
			if (conf_number(s, 0, ~0ull, 1, &v) != 0 || v != all)
				abort();
		}
	}
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	char err[128];

	if (fd < 0) {
		if ((fd = memfd_create("unumd.conf", 0)) < 0)
			abort();
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		/* the missing file's answer */
		errno = 0;
		if (conf_read("/nonexistent/unumd.conf", on_line, NULL, err,
		        sizeof err) != -1 ||
		    errno != ENOENT)
			abort();
	}
	read_as_file(fd, path, data, size);
	tokenize(data, size);
	numbers(data, size);
	return 0;
}
