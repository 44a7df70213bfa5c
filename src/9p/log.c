/*
 * log.c - one-line log messages on stderr for the daemons and tools.
 */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "p9.h"

static const char *logname = "unum";
static int logverbose;

void
p9_log_init(const char *name, int verbose)
{
	logname = name;
	logverbose = verbose;
}

void
p9_log(int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if ((level >= LOG_DEBUG && logverbose <= 0) ||
	    (level > LOG_WARNING && logverbose < 0))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", logname, line);
}
