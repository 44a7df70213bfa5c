/*
 * spawners.c - a program that starts `hostname` every way a C program
 * can: system, popen, posix_spawn, posix_spawnp, vfork+execve, execvp after
 * fork, and fork from a parent with four running threads.  Each child's
 * line goes to stdout as "WAY NODE"; the exit status is 0 when every child
 * exited 0.  Under `unum exec -d hostname` the lines name other nodes: the
 * shim sent the children away, and the program never knew.
 */
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

extern char **environ;

static int
out(const char *way)
{
	/* the child's output, prefixed: a pipe and cat-less relay */
	printf("%s ", way);
	fflush(stdout);
	return 0;
}

static int
reap(pid_t pid)
{
	int st;

	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return 1;
	return !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void *
spin(void *arg)
{
	volatile unsigned long n = 0;

	for (;;)
		n++;
	return arg;
}

int
main(void)
{
	char *argv[] = {"hostname", NULL};
	int bad = 0, i;
	pid_t pid;
	FILE *p;
	char line[256];

	out("system");
	bad |= system("hostname") != 0;
	out("popen");
	if ((p = popen("hostname", "r")) && fgets(line, sizeof line, p))
		fputs(line, stdout);
	bad |= !p || pclose(p) != 0;
	out("posix_spawn");
	bad |= posix_spawn(&pid, "/bin/hostname", NULL, NULL, argv, environ) != 0 ||
	       reap(pid);
	out("posix_spawnp");
	bad |= posix_spawnp(&pid, "hostname", NULL, NULL, argv, environ) != 0 ||
	       reap(pid);
	out("vfork");
	if ((pid = vfork()) == 0) {
		execve("/bin/hostname", argv, environ);
		_exit(127);
	}
	bad |= reap(pid);
	out("fork");
	if ((pid = fork()) == 0) {
		execvp("hostname", argv);
		_exit(127);
	}
	bad |= reap(pid);
	{
		pthread_t t[4];

		for (i = 0; i < 4; i++)
			pthread_create(&t[i], NULL, spin, NULL);
		out("threads");
		if ((pid = fork()) == 0) {
			execvp("hostname", argv);
			_exit(127);
		}
		bad |= reap(pid);
	}
	return bad;
}
