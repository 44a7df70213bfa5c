/*
 * run.h - the "unum run" command (run.c), called by unum's main.
 */
#ifndef UNUM_CMD_RUN_H
#define UNUM_CMD_RUN_H

/* Runs argv (argv[0] is "run") and returns or exits with the status. */
int unum_run(int argc, char **argv);

#endif
