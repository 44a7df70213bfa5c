/*
 * conf.c - reading configuration files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>

#include "conf.h"

int
conf_tokenize(char *s, char **argv, int max)
{
	int n = 0;
	char *w;

	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		if (!*s || *s == '#')
			return n;
		if (n == max)
			return -1;
		argv[n++] = w = s;
		while (
		    *s && *s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') {
			if (*s != '\'') {
				*w++ = *s++;
				continue;
			}
			for (s++;; s++) {
				if (!*s)
					return -1;
				if (*s == '\'' && s[1] == '\'') {
					*w++ = '\'';
					s++;
				} else if (*s == '\'') {
					s++;
					break;
				} else
					*w++ = *s;
			}
		}
		if (*s)
			s++;
		*w = '\0';
	}
}

int
conf_number(const char *s, unsigned long long min, unsigned long long max,
    int units, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9') /* no sign, no space: strtoull takes them */
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno)
		return -1;
	if (units && *end) {
		int shift = *end == 'k' || *end == 'K' ? 10
		            : *end == 'M'              ? 20
		            : *end == 'G'              ? 30
		                                       : -1;
		if (shift < 0 || end[1] || v > (max >> shift))
			return -1;
		v <<= shift;
		end++;
	}
	if (*end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
conf_read(const char *path,
    int (*fn)(void *arg, struct conf_line *l, char *err, size_t cap), void *arg,
    char *err, size_t cap)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t lcap = 0;
	struct conf_line l;
	int rc = 0;

	if (!f) {
		int e = errno;

		snprintf(err, cap, "%s: %s", path, strerror(e));
		errno = e;
		return -1;
	}
	memset(&l, 0, sizeof l);
	l.file = path;
	while (getline(&line, &lcap, f) >= 0) {
		l.lineno++;
		l.argc = conf_tokenize(line, l.argv, CONF_MAXARGS);
		if (l.argc < 0) {
			snprintf(err, cap,
			    "%s:%d: unterminated quote or too "
			    "many words",
			    path, l.lineno);
			rc = -1;
			break;
		}
		if (l.argc == 0)
			continue;
		if (fn(arg, &l, err, cap) < 0) {
			rc = -1;
			break;
		}
	}
	free(line);
	fclose(f);
	if (rc < 0)
		errno = EINVAL;
	return rc;
}

int
conf_signal(const char *s)
{
	static const struct {
		const char *n;
		int sig;
	} names[] = {
	    {"HUP", SIGHUP},
	    {"INT", SIGINT},
	    {"QUIT", SIGQUIT},
	    {"ILL", SIGILL},
	    {"TRAP", SIGTRAP},
	    {"ABRT", SIGABRT},
	    {"BUS", SIGBUS},
	    {"FPE", SIGFPE},
	    {"KILL", SIGKILL},
	    {"USR1", SIGUSR1},
	    {"SEGV", SIGSEGV},
	    {"USR2", SIGUSR2},
	    {"PIPE", SIGPIPE},
	    {"ALRM", SIGALRM},
	    {"TERM", SIGTERM},
	    {"CHLD", SIGCHLD},
	    {"CONT", SIGCONT},
	    {"STOP", SIGSTOP},
	    {"TSTP", SIGTSTP},
	    {"TTIN", SIGTTIN},
	    {"TTOU", SIGTTOU},
	    {"URG", SIGURG},
	    {"XCPU", SIGXCPU},
	    {"XFSZ", SIGXFSZ},
	    {"VTALRM", SIGVTALRM},
	    {"PROF", SIGPROF},
	    {"WINCH", SIGWINCH},
	    {"IO", SIGIO},
	    {"PWR", SIGPWR},
	    {"SYS", SIGSYS},
	};
	unsigned long long n;
	size_t i;

	if (!strncmp(s, "SIG", 3))
		s += 3;
	if (conf_number(s, 1, (unsigned long long)SIGRTMAX, 0, &n) == 0)
		return (int)n;
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(s, names[i].n))
			return names[i].sig;
	return -1;
}
