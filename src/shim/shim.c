/*
 * shim.c - libunum.so, loaded with LD_PRELOAD into every process of a
 * unum session: it interposes the exec family and posix_spawn, keeps
 * itself (and the session's variables) in the environment of every
 * program started, and sends the programs the policy names to another
 * node by exec'ing unum-ghost (`unum run`) in their place.
 *
 * It runs inside other people's programs, often between vfork and exec or
 * after fork in a multithreaded parent: on that path it calls nothing but
 * async-signal-safe system calls, takes no lock, allocates nothing (stack
 * arrays only), and on any failure returns -1 with errno as the real call
 * would.  It never aborts.
 *
 * The session's variables (inherited by every child):
 *   UNUM_PSC     the process-server connection: the socket of the server
 *                of processes (unum-clusterd, or any intermediary that
 *                serves the same process API); its runs go there
 *   UNUM_SHIM    this library's path (what LD_PRELOAD names)
 *   UNUM_GHOST   the unum binary that runs a program elsewhere
 *   UNUM_REMOTE  which programs may go elsewhere: basenames separated by
 *                ':' ("cc:gcc:cc1:as"); none: all stay here
 *   UNUM_LOCAL   programs that always stay here (patterns as in
 *                UNUM_REMOTE): what needs the terminal
 *   UNUM_PLACED  set in a program that was sent elsewhere: its children
 *                stay on its node (a compiler and its passes share /tmp)
 *   UNUM_SESSION the session's name (its cgroup on every node)
 *
 * Patterns are basenames, where '*' matches any run of characters
 * ("cc1*", "*-gcc").  A program stays here, whatever the patterns say,
 * when it is setuid or setgid, when no other member takes work, or when
 * unum-clusterd has learnt that its runs are shorter than what sending
 * one costs (the placement table beside UNUM_PSC, times.h).  The ghost
 * decides the rest (descriptors beyond 0-2, where the policy places it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "cluster/times.h"

#define MAX_ARGS 4096
#define MAX_ENV 8192

extern char **environ;

static const char *const session_vars[] = {"UNUM_PSC=", "UNUM_SHIM=",
    "UNUM_GHOST=", "UNUM_REMOTE=", "UNUM_LOCAL=", "UNUM_PLACED=",
    "UNUM_SESSION=", NULL};

/* The session's variables as they were when this process started ("NAME=
 * value", or NULL): a program may rebuild its environment; its children
 * stay in the session all the same. */
static char saved_buf[8192];
static char *saved[sizeof session_vars / sizeof session_vars[0]];

/* ---- async-signal-safe helpers (no libc state) ---- */

static size_t
slen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

static int
starts(const char *s, const char *p)
{
	while (*p)
		if (*s++ != *p++)
			return 0;
	return 1;
}

/* The value of NAME= in env, or NULL. */
static const char *
env_get(char *const *env, const char *name_eq)
{
	size_t i;

	for (i = 0; env && env[i]; i++)
		if (starts(env[i], name_eq))
			return env[i] + slen(name_eq);
	return NULL;
}

static int
has_preload(char *const *env, const char *shim)
{
	const char *v = env_get(env, "LD_PRELOAD=");
	size_t n = slen(shim);

	for (; v && *v;) {
		const char *e = v;

		while (*e && *e != ':' && *e != ' ')
			e++;
		if ((size_t)(e - v) == n && !memcmp(v, shim, n))
			return 1;
		v = *e ? e + 1 : e;
	}
	return 0;
}

/* Our saved NAME=value, or NULL. */
static const char *
saved_get(const char *name_eq)
{
	size_t k;

	for (k = 0; session_vars[k]; k++)
		if (saved[k] && starts(saved[k], name_eq))
			return saved[k] + slen(name_eq);
	return NULL;
}

__attribute__((constructor)) static void
shim_init(void)
{
	size_t k, off = 0;

	for (k = 0; session_vars[k]; k++) {
		char *const *e;
		size_t n;

		for (e = environ; e && *e && !starts(*e, session_vars[k]); e++)
			;
		if (!e || !*e || off + (n = slen(*e)) + 1 > sizeof saved_buf)
			continue;
		memcpy(saved_buf + off, *e, n + 1);
		saved[k] = saved_buf + off;
		off += n + 1;
	}
}

/* envp, and what the session needs that it lost: its variables (from
 * ours) and LD_PRELOAD with the shim.  Fills out (cap entries) and
 * buf (for a rebuilt LD_PRELOAD); NULL if it does not fit. */
static char **
session_env(char *const *envp, char **out, size_t cap, char *buf,
    size_t bufcap)
{
	const char *shim = saved_get("UNUM_SHIM=");
	size_t n = 0, i, k;

	for (i = 0; envp && envp[i]; i++) {
		if (n + 1 >= cap)
			return NULL;
		if (shim && starts(envp[i], "LD_PRELOAD=") &&
		    !has_preload(envp, shim))
			continue; /* rebuilt below */
		out[n++] = envp[i];
	}
	for (k = 0; session_vars[k]; k++) {
		if (!saved[k] || env_get(envp, session_vars[k]))
			continue;
		if (n + 1 >= cap)
			return NULL;
		out[n++] = saved[k];
	}
	if (shim && !has_preload(envp, shim)) {
		const char *old = env_get(envp, "LD_PRELOAD=");
		size_t len = 11 + slen(shim) + (old ? 1 + slen(old) : 0) + 1;

		if (len > bufcap || n + 1 >= cap)
			return NULL;
		memcpy(buf, "LD_PRELOAD=", 11);
		memcpy(buf + 11, shim, slen(shim));
		len = 11 + slen(shim);
		if (old && *old) {
			buf[len++] = ':';
			memcpy(buf + len, old, slen(old));
			len += slen(old);
		}
		buf[len] = '\0';
		out[n++] = buf;
	}
	out[n] = NULL;
	return out;
}

/* Does name match the pattern p (n bytes; '*' any run)? */
static int
match(const char *p, size_t n, const char *name)
{
	if (n == 0)
		return !*name;
	if (*p == '*') {
		for (;; name++) {
			if (match(p + 1, n - 1, name))
				return 1;
			if (!*name)
				return 0;
		}
	}
	return *name == *p && match(p + 1, n - 1, name + 1);
}

/* Does a pattern of list ("a:b*:c") match name? */
static int
listed(const char *list, const char *name)
{
	const char *p, *e;

	for (p = list; p && *p; p = *e ? e + 1 : e) {
		for (e = p; *e && *e != ':'; e++)
			;
		if (match(p, (size_t)(e - p), name))
			return 1;
	}
	return 0;
}

/* What unum-clusterd's table says of name: 0 it may go, 1 it stays
 * (no member to go to, or its runs are shorter than sending them). */
static int
table_says_stay(const char *psc, const char *name)
{
	char path[4200];
	struct clu_times_head h;
	struct clu_times_ent e[CLU_TIMES_PROBE];
	struct timespec now;
	size_t n = slen(psc), k, got;
	uint32_t at;
	ssize_t r;
	int fd, stay = 0;

	if (n + 7 > sizeof path || slen(name) >= CLU_TIMES_NAME)
		return 0;
	memcpy(path, psc, n);
	memcpy(path + n, ".times", 7);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
	    h.magic != CLU_TIMES_MAGIC || h.slots != CLU_TIMES_SLOTS)
		goto out;
	if (!h.remote) {
		stay = 1;
		goto out;
	}
	at = clu_times_hash(name);
	r = pread(fd, e, sizeof e, (off_t)(sizeof h + at * sizeof e[0]));
	got = r > 0 ? (size_t)r / sizeof e[0] : 0;
	clock_gettime(CLOCK_REALTIME, &now);
	for (k = 0; k < got && at + k < CLU_TIMES_SLOTS; k++) {
		e[k].name[CLU_TIMES_NAME - 1] = '\0';
		if (!strcmp(e[k].name, name)) {
			stay = e[k].n >= CLU_TIMES_MIN_RUNS &&
			       e[k].until >= (int64_t)now.tv_sec &&
			       e[k].run_ms < e[k].cost_ms;
			break;
		}
	}
out:
	close(fd);
	return stay;
}

/* The program goes elsewhere: the session has a process-server
 * connection, the policy names it and does not keep it here, this
 * process was not itself sent away, the program would run here and is
 * not setuid, and the cluster's table does not keep it here. */
static int
goes_remote(const char *path)
{
	const char *remote = saved_get("UNUM_REMOTE="), *p, *base;
	const char *psc = saved_get("UNUM_PSC=");
	struct stat st;

	if (!remote || !*remote || !psc || !*psc ||
	    !saved_get("UNUM_GHOST=") || saved_get("UNUM_PLACED="))
		return 0;
	for (base = p = path; *p; p++)
		if (*p == '/')
			base = p + 1;
	if (!listed(remote, base) || listed(saved_get("UNUM_LOCAL="), base))
		return 0;
	/* (a PATH search tries names that do not exist: they fail here,
	 * as they would) */
	if (access(path, X_OK) != 0 || stat(path, &st) != 0 ||
	    !S_ISREG(st.st_mode) || (st.st_mode & (S_ISUID | S_ISGID)))
		return 0;
	return !table_says_stay(psc, base);
}

/* The ghost's command line in the program's place, `unum run --ghost
 * [--argv0 NAME] -- PATH ARG...` (PATH made absolute), into out (MAX_ARGS
 * entries) and abs (for PATH).  0, or -1 if too long. */
static int
ghost_args(const char *path, char *const argv[], char **out, char *abs,
    size_t abscap)
{
	size_t i, k = 0, n, pl = slen(path);

	if (path[0] != '/') {
		long r = syscall(SYS_getcwd, abs, abscap);

		n = r > 0 ? slen(abs) : 0;
		if (!n || n + 1 + pl + 1 > abscap)
			return -1;
		abs[n++] = '/';
		memcpy(abs + n, path, pl + 1);
		path = abs;
	}
	out[k++] = (char *)saved_get("UNUM_GHOST=");
	out[k++] = "run";
	out[k++] = "--ghost";
	for (n = slen(path); n > 0 && path[n - 1] != '/'; n--)
		;
	if (argv[0] && strcmp(argv[0], path + n) && strcmp(argv[0], path)) {
		out[k++] = "--argv0"; /* the name it is called by */
		out[k++] = argv[0];
	}
	out[k++] = "--";
	out[k++] = (char *)path;
	for (i = 1; argv[0] && argv[i] && k + 1 < MAX_ARGS; i++)
		out[k++] = argv[i];
	out[k] = NULL;
	return argv[0] && argv[i] ? -1 : 0;
}

/* The next place the search path *pp names for file, into buf (file
 * itself for an empty element, as execvp does); *pp moves on.  1, or 0
 * at the path's end.  An element too long for buf is passed over. */
static int
path_next(const char **pp, const char *file, char *buf, size_t cap)
{
	const char *p, *e;
	size_t dl, fl = slen(file);

	while ((p = *pp)) {
		for (e = p; *e && *e != ':'; e++)
			;
		dl = (size_t)(e - p);
		*pp = *e ? e + 1 : NULL;
		if (dl + 1 + fl + 1 > cap)
			continue;
		if (dl) {
			memcpy(buf, p, dl);
			buf[dl++] = '/';
		}
		memcpy(buf + dl, file, fl + 1);
		return 1;
	}
	return 0;
}

/* $PATH, or the default execvp searches */
static const char *
search_path(void)
{
	const char *path = env_get(environ, "PATH=");

	return path ? path : "/bin:/usr/bin";
}

/* A name without '/' found in PATH as execvp would: the first executable
 * regular file, into buf.  0, or -1. */
static int
path_search(const char *file, char *buf, size_t cap)
{
	const char *p = search_path();
	struct stat st;

	while (path_next(&p, file, buf, cap))
		if (access(buf, X_OK) == 0 && stat(buf, &st) == 0 &&
		    S_ISREG(st.st_mode))
			return 0;
	return -1;
}

/* ---- the real calls ---- */

static int
real_execve(const char *path, char *const argv[], char *const envp[])
{
	return (int)syscall(SYS_execve, path, argv, envp);
}

/* execve, with the session kept, or the ghost in the program's place. */
int
execve(const char *path, char *const argv[], char *const envp[])
{
	char *env[MAX_ENV], pre[4096], *ghost_argv[MAX_ARGS], abs[4096];
	char **e = session_env(envp, env, MAX_ENV, pre, sizeof pre);

	if (!e)
		e = (char **)envp; /* too big to add to: as it was */
	if (!goes_remote(path))
		return real_execve(path, argv, e);
	/* unum-ghost: `unum run --ghost -- PATH ARG...` relays stdio,
	 * signals and the status; the parent sees its own child */
	if (ghost_args(path, argv, ghost_argv, abs, sizeof abs) < 0) {
		errno = E2BIG;
		return -1;
	}
	return real_execve(ghost_argv[0], ghost_argv, e);
}

int
execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

/* PATH search as execvp does it, into our execve. */
int
execvpe(const char *file, char *const argv[], char *const envp[])
{
	const char *p = search_path();
	char buf[4096];
	int eacces = 0;

	if (!*file) {
		errno = ENOENT;
		return -1;
	}
	if (strchr(file, '/'))
		return execve(file, argv, envp);
	while (path_next(&p, file, buf, sizeof buf)) {
		execve(buf, argv, envp);
		if (errno == EACCES)
			eacces = 1;
		else if (errno != ENOENT && errno != ENOTDIR)
			return -1;
	}
	errno = eacces ? EACCES : ENOENT;
	return -1;
}

int
execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

/* execl and its kin: the arguments onto the stack, then the v form. */
#define COLLECT(argv, first, ap)                                               \
	do {                                                                   \
		size_t n_ = 0;                                                 \
		argv[n_++] = (char *)(first);                                  \
		while (n_ < MAX_ARGS - 1 &&                                    \
		       (argv[n_] = va_arg(ap, char *)) != NULL)                \
			n_++;                                                  \
		argv[n_] = NULL;                                               \
	} while (0)

int
execl(const char *path, const char *arg, ...)
{
	char *argv[MAX_ARGS];
	va_list ap;

	va_start(ap, arg);
	COLLECT(argv, arg, ap);
	va_end(ap);
	return execve(path, argv, environ);
}

int
execlp(const char *file, const char *arg, ...)
{
	char *argv[MAX_ARGS];
	va_list ap;

	va_start(ap, arg);
	COLLECT(argv, arg, ap);
	va_end(ap);
	return execvpe(file, argv, environ);
}

int
execle(const char *path, const char *arg, ...)
{
	char *argv[MAX_ARGS], **envp;
	va_list ap;

	va_start(ap, arg);
	COLLECT(argv, arg, ap);
	envp = va_arg(ap, char **);
	va_end(ap);
	return execve(path, argv, envp);
}

int
fexecve(int fd, char *const argv[], char *const envp[])
{
	char *env[MAX_ENV], pre[4096];
	char **e = session_env(envp, env, MAX_ENV, pre, sizeof pre);

	/* an open descriptor of this node: never sent elsewhere */
	return (int)syscall(SYS_execveat, fd, "", argv, e ? e : (char **)envp,
	    AT_EMPTY_PATH);
}

/* posix_spawn: the real one, with the session kept; a program that goes
 * elsewhere is spawned as the ghost. */
typedef int (*spawn_fn)(pid_t *, const char *,
    const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
    char *const[], char *const[]);

static int
spawn_common(spawn_fn real, int search, pid_t *pid, const char *path,
    const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *at,
    char *const argv[], char *const envp[])
{
	char *env[MAX_ENV], pre[4096], *ghost_argv[MAX_ARGS], abs[4096];
	char found[4096];
	char **e = session_env(envp, env, MAX_ENV, pre, sizeof pre);
	const char *file = path;

	if (!e)
		e = (char **)envp;
	/* posix_spawnp's name: where its PATH search would find it */
	if (search && !strchr(path, '/') &&
	    path_search(path, found, sizeof found) == 0)
		file = found;
	if ((search && !strchr(file, '/')) || !goes_remote(file))
		return real(pid, path, fa, at, argv, e);
	if (ghost_args(file, argv, ghost_argv, abs, sizeof abs) < 0)
		return E2BIG;
	return real(pid, ghost_argv[0], fa, at, ghost_argv, e);
}

int
posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
    const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
	spawn_fn real = (spawn_fn)dlsym(RTLD_NEXT, "posix_spawn");

	if (!real)
		return ENOSYS;
	return spawn_common(real, 0, pid, path, fa, at, argv, envp);
}

int
posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
    const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
	spawn_fn real = (spawn_fn)dlsym(RTLD_NEXT, "posix_spawnp");

	if (!real)
		return ENOSYS;
	return spawn_common(real, 1, pid, file, fa, at, argv, envp);
}

/* system and popen: glibc starts /bin/sh through its own internal spawn,
 * with environ: the session's variables are put back in environ first
 * (not on a vfork path: these are called from ordinary code). */
static void
keep_session(void)
{
	const char *shim = saved_get("UNUM_SHIM=");
	size_t k;

	for (k = 0; session_vars[k]; k++)
		if (saved[k] && !env_get(environ, session_vars[k]))
			putenv(saved[k]);
	if (shim && !has_preload(environ, shim))
		setenv("LD_PRELOAD", shim, 1);
}

int
system(const char *cmd)
{
	int (*real)(const char *) = (int (*)(const char *))dlsym(RTLD_NEXT, "system");

	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	keep_session();
	return real(cmd);
}

FILE *
popen(const char *cmd, const char *mode)
{
	FILE *(*real)(const char *, const char *) =
	    (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "popen");

	if (!real) {
		errno = ENOSYS;
		return NULL;
	}
	keep_session();
	return real(cmd, mode);
}
