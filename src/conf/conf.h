/*
 * conf.h - the daemons' configuration files: "key value..." lines, '#'
 * comments, values tokenised with rc-style quotes ('it''s').  Reading
 * only; what each key means is the daemon's business.
 */
#ifndef UNUM_CONF_H
#define UNUM_CONF_H

#include <stddef.h>

#define CONF_MAXARGS 16

/* One line: key and its values, NUL-terminated in the line's storage. */
struct conf_line {
	const char *file;
	int lineno;
	int argc; /* argv[0] is the key */
	char *argv[CONF_MAXARGS];
};

/*
 * Calls fn for each non-empty line of path.  fn returns 0, or -1 after
 * writing an error to err (cap bytes); parsing then stops.  Returns 0, or
 * -1 with a one-line message in err ("FILE:LINE: ..." or "FILE: ...").
 * A missing file is -1 with errno ENOENT.
 */
int conf_read(const char *path,
    int (*fn)(void *arg, struct conf_line *l, char *err, size_t cap), void *arg,
    char *err, size_t cap);

/* Splits s in place into at most max words (rc quoting: '...' with ''
 * for a quote).  Returns the count, or -1 for an unterminated quote or too
 * many words. */
int conf_tokenize(char *s, char **argv, int max);

/* Parses a whole unsigned number within [min, max] (suffixes k, M, G for
 * binary multiples allowed when units is set).  0 or -1. */
int conf_number(const char *s, unsigned long long min, unsigned long long max,
    int units, unsigned long long *out);

/* A signal by name ("TERM", "SIGTERM") or number: its number, or -1. */
int conf_signal(const char *s);

#endif
