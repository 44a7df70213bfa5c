/*
 * fuzz_ctl.c - libFuzzer target for the process server's ctl command
 * parser.  The input is checked as one Twrite to a new slot's ctl would be
 * (psrv_ctl_check: NUL check, line splitting outside quotes, rc quoting,
 * every command and its arguments), from an exact-size heap copy so ASan
 * sees any read past it; nothing is started or signalled.  The answer must
 * be one a write can give, with a message exactly when it fails, the same
 * again, and a prefix of itself in a small buffer; the input must be left
 * as it was.  Then the input, rc-quoted as unum run quotes a word, must be
 * accepted as an argument and as an environment value.  Any breach
 * abort()s, so the fuzzer reports it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "procsrv/procsrv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An exact-size heap copy. */
static char *
copy(const uint8_t *p, size_t len)
{
	char *b = malloc(len ? len : 1);

	if (!b)
		abort();
	if (len)
		memcpy(b, p, len);
	return b;
}

/* psrv_ctl_check with the checks every answer must pass. */
static int
check(const char *text, size_t len)
{
	char err[256], small[12];
	int rc, rc2;

	memset(err, 0xa5, sizeof err);
	rc = psrv_ctl_check(text, len, err, sizeof err);
	/* a new slot: exec and tty are never "already started" (EBUSY) */
	if (rc != 0 && rc != -EINVAL && rc != -ESRCH && rc != -ENOMEM)
		abort();
	if (!memchr(err, '\0', sizeof err) || (rc == 0) != (*err == '\0'))
		abort();
	if (memchr(text, '\0', len) &&
	    (rc != -EINVAL || strcmp(err, "ctl: NUL in command")))
		abort();
	if (rc == -ESRCH && strcmp(err, "signal: not running"))
		abort();
	memset(small, 0xa5, sizeof small);
	rc2 = psrv_ctl_check(text, len, small, sizeof small);
	if (rc2 != rc || strncmp(small, err, sizeof small - 1) ||
	    !memchr(small, '\0', sizeof small))
		abort();
	if (psrv_ctl_check(text, len, NULL, 0) != rc)
		abort();
	return rc;
}

/* prefix, then data as one rc-quoted word (as unum run's put_word), then
 * suffix; its length in *n. */
static char *
quoted(const char *prefix, const uint8_t *data, size_t size, const char *suffix,
    size_t *n)
{
	size_t lp = strlen(prefix), ls = strlen(suffix), i;
	char *b = malloc(lp + 2 * size + 2 + ls), *p = b;

	if (!b)
		abort();
	memcpy(p, prefix, lp);
	p += lp;
	*p++ = '\'';
	for (i = 0; i < size; i++) {
		if (data[i] == '\'')
			*p++ = '\'';
		*p++ = (char)data[i];
	}
	*p++ = '\'';
	memcpy(p, suffix, ls);
	p += ls;
	*n = (size_t)(p - b);
	return b;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = copy(data, size), *q;
	size_t n;

	check(text, size);
	if (size && memcmp(text, data, size))
		abort(); /* the caller's bytes are not the parser's scratch */
	free(text);

	/* Any word without a NUL, quoted, is an argument and a value. */
	if (size > 4096 || memchr(data, '\0', size))
		return 0;
	q = quoted("argv ", data, size, "\nexec\n", &n);
	if (check(q, n) != 0)
		abort();
	free(q);
	q = quoted("env A=1 B=", data, size, " C=3\n", &n);
	if (check(q, n) != 0)
		abort();
	free(q);
	return 0;
}
