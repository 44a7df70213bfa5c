/*
 * errstr.c - Linux errno values to Plan 9 style error strings and back, for
 * the Rerror of 9P2000 and 9P2000.u.  Only static strings are returned, so
 * both calls are thread safe and the strings never change under a caller.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "9p/p9.h"

/* The errno values unum's servers meet, in Plan 9's lower-case style;
 * every string is distinct so that each maps back to its errno. */
static const char *const errstrs[] = {
    [EPERM] = "operation not permitted",
    [ENOENT] = "file does not exist",
    [ESRCH] = "no such process",
    [EINTR] = "interrupted",
    [EIO] = "i/o error",
    [ENXIO] = "no such device or address",
    [E2BIG] = "argument list too long",
    [ENOEXEC] = "exec format error",
    [EBADF] = "unknown fid",
    [ECHILD] = "no child processes",
    [EAGAIN] = "resource temporarily unavailable",
    [ENOMEM] = "out of memory",
    [EACCES] = "permission denied",
    [EFAULT] = "bad address",
    [EBUSY] = "device or resource busy",
    [EEXIST] = "file exists",
    [EXDEV] = "cross-device link",
    [ENODEV] = "no such device",
    [ENOTDIR] = "not a directory",
    [EISDIR] = "is a directory",
    [EINVAL] = "invalid argument",
    [ENFILE] = "too many open files in system",
    [EMFILE] = "too many open files",
    [ENOTTY] = "inappropriate ioctl for device",
    [ETXTBSY] = "text file busy",
    [EFBIG] = "file too large",
    [ENOSPC] = "no space left on device",
    [ESPIPE] = "illegal seek",
    [EROFS] = "read-only file system",
    [EMLINK] = "too many links",
    [EPIPE] = "broken pipe",
    [ERANGE] = "result out of range",
    [EDEADLK] = "resource deadlock avoided",
    [ENAMETOOLONG] = "file name too long",
    [ENOLCK] = "no locks available",
    [ENOSYS] = "function not implemented",
    [ENOTEMPTY] = "directory not empty",
    [ELOOP] = "too many levels of symbolic links",
    [ENODATA] = "no data available",
    [ETIME] = "timer expired",
    [ENOLINK] = "link has been severed",
    [EPROTO] = "protocol botch",
    [EBADMSG] = "bad message",
    [EOVERFLOW] = "value too large",
    [EILSEQ] = "invalid or incomplete multibyte or wide character",
    [EMSGSIZE] = "message too long",
    [EOPNOTSUPP] = "operation not supported",
    [EADDRINUSE] = "address already in use",
    [ENETDOWN] = "network is down",
    [ENETUNREACH] = "network is unreachable",
    [ECONNABORTED] = "connection aborted",
    [ECONNRESET] = "connection reset by peer",
    [ENOBUFS] = "no buffer space available",
    [ENOTCONN] = "not connected",
    [ETIMEDOUT] = "connection timed out",
    [ECONNREFUSED] = "connection refused",
    [EHOSTUNREACH] = "no route to host",
    [EALREADY] = "operation already in progress",
    [EINPROGRESS] = "operation now in progress",
    [ESTALE] = "stale file handle",
    [EDQUOT] = "disk quota exceeded",
    [ECANCELED] = "operation canceled",
};

#define NERRSTRS (sizeof(errstrs) / sizeof(errstrs[0]))

/* Strings other 9P servers (Plan 9, plan9port's lib9p, u9fs) send. */
static const struct {
	const char *ename;
	int err;
} aliases[] = {
    {"file not found", ENOENT},
    {"directory entry not found", ENOENT},
    {"file already exists", EEXIST},
    {"file is a directory", EISDIR},
    {"walk in non-directory", ENOTDIR},
    {"9P protocol botch", EPROTO},
    {"duplicate fid", EBADF},
    {"fid already in use", EBADF},
    {"wstat prohibited", EPERM},
    {"create prohibited", EPERM},
    {"remove prohibited", EPERM},
    {"file in use", EBUSY},
    {"file is read only", EROFS},
    {"i/o on unopened fid", EBADF},
    {"bad offset in directory read", EINVAL},
};

/* Linux's errno values end at 133 (EHWPOISON). */
#define MAXERRNO 133

/* Accepts a negative errno as well; never NULL. */
const char *
p9_errstr(int err)
{
	const char *s;

	if (err < 0 && err != INT_MIN)
		err = -err;
	if (err > 0 && (size_t)err < NERRSTRS && errstrs[err] != NULL)
		return errstrs[err];
	if (err > 0 && err <= MAXERRNO) {
		s = strerrordesc_np(err);
		if (s != NULL)
			return s;
	}
	return "unknown error";
}

/* The errno for an Rerror's ename; EIO for anything not known. */
int
p9_strerrno(const char *ename)
{
	size_t i;
	int err;

	if (ename == NULL)
		return EIO;
	for (i = 0; i < NERRSTRS; i++)
		if (errstrs[i] != NULL && strcmp(errstrs[i], ename) == 0)
			return (int)i;
	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(aliases[i].ename, ename) == 0)
			return aliases[i].err;
	for (err = 1; err <= MAXERRNO; err++) {
		const char *s = strerrordesc_np(err);

		if (s != NULL && strcmp(s, ename) == 0)
			return err;
	}
	return EIO;
}
