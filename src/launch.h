/* Starting the command a user gives after `--` (record, top), waiting
 * until it is a Python pyprobe can read, and ending it. */
#ifndef PYPROBE_LAUNCH_H
#define PYPROBE_LAUNCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../reader/reader.h"

/* Start argv (PATH searched) with SIGINT and SIGTERM at their defaults;
 * its standard output goes to out_fd and its standard error to err_fd
 * (-1: ours). Its pid, or -1 with *exec_errno set when it could not be
 * started (fork failed, or exec: errno comes back through a close-on-exec
 * pipe, which the exec closes, so that pyprobe alone reports it, in one
 * line). */
pid_t pp_launch(char **argv, int out_fd, int err_fd, int *exec_errno);

/* Whether the launched command has exited (reaped; err says so). */
bool pp_launch_exited(pid_t child, const char *cmd, struct pp_error *err);

/* Wait until the launched command is a Python interpreter we can read:
 * through execs (a wrapper that execs Python) and start-up, but not for
 * ever for something that never becomes Python - a program that is not
 * Python, unchanged and without children for 3 s (sleep, a shell script's
 * shell that has nothing running), or 30 s in all; or until *stop is set. */
enum pp_err pp_launch_attach(pid_t child, const char *cmd, struct pp_target **t,
			     struct pp_error *err, volatile sig_atomic_t *stop);

/* How long a command pyprobe ends is given after each signal before the
 * next one, in ticks of 10 ms: 2 s. */
#define PP_END_GRACE_TICKS 200

/* End the command pyprobe started, gracefully first: each signal of
 * sigs[0..n) in turn, the next one only if it is still running after a
 * grace of `grace` ticks of 10 ms, then SIGKILL. Reaps it. Writes what
 * was sent ("SIGINT, then SIGTERM") to how; "" if it had ended already. */
void pp_launch_end(pid_t child, const int *sigs, size_t n, int grace, char *how, size_t size);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t pp_mono_ns(void);

#endif
