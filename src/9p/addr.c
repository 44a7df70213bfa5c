/*
 * addr.c - parsing of 9P endpoint addresses.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "p9.h"

static int
parse_port(const char *s, int *port)
{
	char *end;
	long v;

	if (!*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -EINVAL;
	*port = (int)v;
	return 0;
}

static int
set_str(char *dst, size_t cap, const char *s, size_t n)
{
	if (n == 0 || n >= cap)
		return -EINVAL;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

int
p9_addr_parse(struct p9_addr *a, const char *s, int default_port)
{
	const char *colon;

	memset(a, 0, sizeof *a);
	if (!s || !*s)
		return -EINVAL;
	if (strncmp(s, "unix:", 5) == 0 ||
	    (strchr(s, '/') && strncmp(s, "tcp:", 4) != 0)) {
		if (strncmp(s, "unix:", 5) == 0)
			s += 5;
		a->is_unix = 1;
		return set_str(a->path, sizeof a->path, s, strlen(s));
	}
	if (strncmp(s, "plain:", 6) == 0) {
		a->plain = 1;
		s += 6;
	} else if (strncmp(s, "tcp:", 4) == 0) {
		s += 4;
	}
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || set_str(a->host, sizeof a->host, s + 1,
		                  (size_t)(close - s - 1)) < 0)
			return -EINVAL;
		if (close[1] == '\0') {
			a->port = default_port;
			return default_port > 0 ? 0 : -EINVAL;
		}
		if (close[1] != ':')
			return -EINVAL;
		return parse_port(close + 2, &a->port);
	}
	colon = strrchr(s, ':');
	if (colon && strchr(s, ':') != colon)
		colon = NULL; /* a bare IPv6 address */
	if (!colon) {
		a->port = default_port;
		if (default_port <= 0)
			return -EINVAL;
		return set_str(a->host, sizeof a->host, s, strlen(s));
	}
	if (set_str(a->host, sizeof a->host, s, (size_t)(colon - s)) < 0)
		return -EINVAL;
	return parse_port(colon + 1, &a->port);
}
