/*
 * test_ctl.c - the process server's ctl command parser, through
 * psrv_ctl_check: the checks a write to a new slot's ctl goes through
 * (lines, rc quoting, every command and its arguments), with nothing
 * started.  Each bad write must fail whole with the errno and the message
 * the real write gives.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "procsrv/procsrv.h"

static char err[256];

/* psrv_ctl_check on a C string. */
static int
check(const char *text)
{
	memset(err, 'x', sizeof err);
	return psrv_ctl_check(text, strlen(text), err, sizeof err);
}

/* text fails with -e and a message holding want. */
static void
fails(const char *text, int e, const char *want)
{
	int rc = check(text);

	if (rc != -e || !strstr(err, want))
		fail_msg(
		    "'%s': got %d '%s', want %d '%s'", text, rc, err, -e, want);
}

static void
passes(const char *text)
{
	int rc = check(text);

	if (rc != 0)
		fail_msg("'%s': got %d '%s', want 0", text, rc, err);
}

static void
test_good_spawns_pass(void **state)
{
	(void)state;
	passes("argv /bin/echo hi\nexec\n");
	passes("argv /bin/echo hi\nexec"); /* no final newline */
	/* what unum run writes: every word quoted */
	passes("argv 'sh' '-c' 'echo $HOME'\nenv 'HOME=/root'\n"
	       "env 'PATH=/usr/bin:/bin'\ndir '/tmp'\nclose stdin\nexec\n");
	passes(
	    "argv sleep 30\nenv A=1 B=2 A=3\ndir /\nrlimit nofile 1024 4096\n"
	    "rlimit core unlimited\nrlimit as 1G unlimited\n"
	    "rlimit stack 8M\nrlimit cpu 0x10\ntty 24 80\nwinsize 50 132\n"
	    "persist\nclose stdin\nexec\nsignal TERM\n");
	passes("argv x\nexec\nsignal SIGKILL\n");
	passes("argv x\nexec\nsignal 9\n");
	/* lines that set nothing */
	passes("");
	passes("\n\n\n");
	passes("   \t \n# a comment\n  # another\n");
	passes("persist # trailing comment\n");
	passes("argv echo a#b\n");
	/* a later line wins */
	passes("argv a\nargv b\ndir /a\ndir /b\ntty 1 1\ntty 9999 9999\n");
	/* CRLF line ends */
	passes("argv echo hi\r\nexec\r\n");
}

static void
test_rc_quoting(void **state)
{
	(void)state;
	passes("argv echo 'it''s'\nexec\n");
	passes("argv echo ''''\n"); /* one quote */
	passes("argv echo ''\n");   /* one empty word */
	passes("env 'A=it''s a b'\n");
	passes("argv echo 'two words' a'b c'd\n");
	/* a quoted newline is part of the word, not a line end: bogus is an
	 * argument of sh -c, not a command */
	passes("argv sh -c 'echo one\nbogus'\nexec\n");
	fails("argv sh -c echo one\nbogus\nexec\n", EINVAL,
	    "unknown ctl command 'bogus'");
	/* 'it''s' is one word, 'it's' leaves a quote open */
	fails("argv echo 'it's'\n", EINVAL, "unterminated quote");
	fails("argv echo 'hi\n", EINVAL, "unterminated quote");
	fails("argv echo 'hi\nexec\n", EINVAL, "unterminated quote");
	fails("'\n", EINVAL, "unterminated quote");
	/* quoted words are not commands' names by accident */
	fails("'argv x'\n", EINVAL, "unknown ctl command 'argv x'");
	passes("'argv' x\n");
}

static void
test_unknown_command_and_line_without_a_command(void **state)
{
	(void)state;
	fails("bogus\n", EINVAL, "unknown ctl command 'bogus'");
	fails("ARGV x\n", EINVAL, "unknown ctl command 'ARGV'");
	fails("/bin/echo hi\n", EINVAL, "unknown ctl command '/bin/echo'");
	fails("'' argv x\n", EINVAL, "unknown ctl command ''");
	/* the whole write fails, not only the line */
	fails("argv /bin/echo hi\nbogus\nexec\n", EINVAL,
	    "unknown ctl command 'bogus'");
}

static void
test_bad_arguments(void **state)
{
	(void)state;
	fails("argv\n", EINVAL, "argv: no program");
	fails("argv # comment\n", EINVAL, "argv: no program");
	fails("env FOO\n", EINVAL, "env: 'FOO' is not NAME=VALUE");
	fails("env =x\n", EINVAL, "env: '=x' is not NAME=VALUE");
	fails("env A=1 B\n", EINVAL, "env: 'B' is not NAME=VALUE");
	fails("dir\n", EINVAL, "dir: want one absolute path");
	fails("dir tmp\n", EINVAL, "dir: want one absolute path");
	fails("dir /a /b\n", EINVAL, "dir: want one absolute path");
	fails("close\n", EINVAL, "close: only 'close stdin'");
	fails("close stdout\n", EINVAL, "close: only 'close stdin'");
	fails("exec now\n", EINVAL, "exec: takes no arguments");
	fails("argv x\nexec\nexec\n", EINVAL, "exec: takes no arguments");
	fails("exec\n", EINVAL, "exec: no argv");
	fails("tty 24\n", EINVAL, "tty: want ROWS COLS");
	fails("tty 0 80\n", EINVAL, "tty: want ROWS COLS");
	fails("tty 24 10000\n", EINVAL, "tty: want ROWS COLS");
	fails("tty -1 80\n", EINVAL, "tty: want ROWS COLS");
}

static void
test_rlimit_names_and_numbers(void **state)
{
	static const char *const good[] = {"as", "core", "cpu", "data", "fsize",
	    "memlock", "nofile", "nproc", "stack"};
	char line[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		snprintf(line, sizeof line, "rlimit %s 1 2\n", good[i]);
		passes(line);
	}
	passes("rlimit nofile 0\n");
	passes("rlimit fsize 18446744073709551615\n"); /* 2^64-1 */
	passes("rlimit fsize 17179869183G\n");         /* (2^64-1) >> 30 */
	passes("rlimit nofile unlimited unlimited\n");
	passes("rlimit nofile 5 unlimited\n");
#define RL "rlimit: want NAME SOFT [HARD]"
	fails("rlimit nosuch 1\n", EINVAL, RL);
	fails("rlimit NOFILE 1\n", EINVAL, RL);
	fails("rlimit\n", EINVAL, RL);
	fails("rlimit nofile\n", EINVAL, RL);
	fails("rlimit nofile 1 2 3\n", EINVAL, RL);
	fails("rlimit nofile 18446744073709551616\n", EINVAL, RL); /* 2^64 */
	fails("rlimit fsize 17179869184G\n", EINVAL, RL); /* 2^64 after G */
	fails("rlimit nofile -1\n", EINVAL, RL);
	fails("rlimit nofile 12Q\n", EINVAL, RL);
	fails("rlimit nofile 1kk\n", EINVAL, RL);
	fails("rlimit nofile ''\n", EINVAL, RL);
	fails("rlimit nofile 2 1\n", EINVAL, RL); /* soft above hard */
	fails("rlimit nofile unlimited 1\n", EINVAL, RL);
#undef RL
}

static void
test_signals(void **state)
{
	char line[64];

	(void)state;
	passes("argv x\nexec\nsignal HUP\n");
	passes("argv x\nexec\nsignal SIGUSR2\n");
	passes("argv x\nexec\nsignal 1\n");
	snprintf(line, sizeof line, "argv x\nexec\nsignal %d\n", SIGRTMAX);
	passes(line);
#define SG "signal: want one signal name or number"
	fails("signal NOSUCH\n", EINVAL, SG);
	fails("argv x\nexec\nsignal NOSUCH\n", EINVAL, SG);
	fails("signal term\n", EINVAL, SG);
	fails("signal SIG\n", EINVAL, SG);
	fails("signal 0\n", EINVAL, SG);
	snprintf(line, sizeof line, "signal %d\n", SIGRTMAX + 1);
	fails(line, EINVAL, SG);
	fails("signal\n", EINVAL, SG);
	fails("signal TERM KILL\n", EINVAL, SG);
#undef SG
	/* a new slot runs nothing to signal */
	fails("signal TERM\n", ESRCH, "signal: not running");
}

static void
test_ignore(void **state)
{
	char line[64];

	(void)state;
	passes("ignore HUP\nargv x\nexec\n");
	passes("argv x\nignore INT QUIT SIGPIPE 10 TTOU\nignore USR2\nexec\n");
	snprintf(line, sizeof line, "ignore %d\n", SIGRTMIN);
	passes(line);
#define IG "ignore: want signal names or numbers (not KILL or STOP)"
	fails("ignore\n", EINVAL, IG);
	fails("ignore KILL\n", EINVAL, IG);
	fails("ignore HUP STOP\n", EINVAL, IG);
	fails("ignore 9\n", EINVAL, IG);
	fails("ignore NOSUCH\n", EINVAL, IG);
	fails("ignore 0\n", EINVAL, IG);
	fails("ignore int\n", EINVAL, IG);
#undef IG
	/* only before the program starts */
	fails("argv x\nexec\nignore HUP\n", EBUSY, "ignore: already started");
}

static void
test_winsize(void **state)
{
	(void)state;
	passes("tty 24 80\nwinsize 25 81\n");
	fails("winsize 0 0\n", EINVAL, "winsize: want ROWS COLS");
	fails("tty 24 80\nwinsize 0 0\n", EINVAL, "winsize: want ROWS COLS");
	fails("winsize 24\n", EINVAL, "winsize: want ROWS COLS");
	fails("winsize 24 x\n", EINVAL, "winsize: want ROWS COLS");
	fails("winsize 24 80\n", EINVAL, "winsize: no tty");
}

static void
test_nul_byte_fails_the_write(void **state)
{
	static const char text[] = "argv echo\0hi\nexec\n";
	int rc;

	(void)state;
	rc = psrv_ctl_check(text, sizeof text - 1, err, sizeof err);
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(err, "ctl: NUL in command");
	rc = psrv_ctl_check("\0", 1, err, sizeof err);
	assert_int_equal(rc, -EINVAL);
	assert_string_equal(err, "ctl: NUL in command");
	/* the length is the write's: bytes after it are not looked at */
	assert_int_equal(psrv_ctl_check(text, 9, err, sizeof err), 0);
}

static void
test_small_or_no_error_buffer(void **state)
{
	char small[8];

	(void)state;
	assert_int_equal(
	    psrv_ctl_check("bogus", 5, small, sizeof small), -EINVAL);
	assert_string_equal(small, "unknown");
	assert_int_equal(psrv_ctl_check("bogus", 5, NULL, 0), -EINVAL);
	assert_int_equal(psrv_ctl_check("persist", 7, NULL, 0), 0);
	/* a success leaves an empty message */
	assert_int_equal(check("persist\n"), 0);
	assert_string_equal(err, "");
}

/* conf_tokenize also splits at carriage returns: a line whose words
 * are separated by them is not an unterminated quote. */
static void
test_words_split_by_carriage_returns(void **state)
{
	(void)state;
	passes("argv a\rb\rc\rd\n");
	passes("env\rA=1\rB=2\rC=3\n");
	fails("argv a\rb\rc\rd\rbad'\n", EINVAL, "unterminated quote");
}

/* A quote in a comment quotes nothing: the next line is still a line. */
static void
test_a_comment_ends_at_its_line(void **state)
{
	(void)state;
	fails("persist # it's\nbogus\n", EINVAL, "bogus");
	passes("persist # it's fine\nargv true\n");
	passes("argv 'a#b' c#d\n");
}

/* Numbers have no sign and no leading space (strtoull would take both). */
static void
test_numbers_are_digits(void **state)
{
	(void)state;
	fails("rlimit nofile ' -1'\n", EINVAL, "nofile");
	fails("rlimit nofile +5\n", EINVAL, "nofile");
	passes("rlimit nofile 5\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_spawns_pass),
	    cmocka_unit_test(test_a_comment_ends_at_its_line),
	    cmocka_unit_test(test_numbers_are_digits),
	    cmocka_unit_test(test_rc_quoting),
	    cmocka_unit_test(test_unknown_command_and_line_without_a_command),
	    cmocka_unit_test(test_bad_arguments),
	    cmocka_unit_test(test_rlimit_names_and_numbers),
	    cmocka_unit_test(test_signals),
	    cmocka_unit_test(test_ignore),
	    cmocka_unit_test(test_winsize),
	    cmocka_unit_test(test_nul_byte_fails_the_write),
	    cmocka_unit_test(test_small_or_no_error_buffer),
	    cmocka_unit_test(test_words_split_by_carriage_returns),
	};

	return cmocka_run_group_tests_name("ctl", tests, NULL, NULL);
}
