/* See launch.h. */
#include "launch.h"
#include "process_set.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

pid_t pp_launch(char **argv, int out_fd, int err_fd, int *exec_errno)
{
	int fds[2];
	*exec_errno = 0;
	if (pipe2(fds, O_CLOEXEC) != 0) {
		*exec_errno = errno;
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGXFSZ, SIG_DFL); /* ignored by pyprobe (main.c), not by it */
		close(fds[0]);
		if (out_fd >= 0)
			dup2(out_fd, 1);
		if (err_fd >= 0)
			dup2(err_fd, 2);
		execvp(argv[0], argv);
		int e = errno;
		ssize_t w = write(fds[1], &e, sizeof e);
		(void)w;
		_exit(127);
	}
	int fe = errno;
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		*exec_errno = fe;
		return -1;
	}
	int e = 0;
	ssize_t n;
	while ((n = read(fds[0], &e, sizeof e)) < 0 && errno == EINTR)
		;
	close(fds[0]);
	if (n == (ssize_t)sizeof e) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		*exec_errno = e ? e : ENOEXEC;
		return -1;
	}
	return pid;
}

/* How long a command that runs a program that is not Python, and starts no
 * other, is given before pyprobe stops waiting for it (a Python becomes
 * readable within milliseconds of its exec), and how long anything is. */
#define LAUNCH_GRACE_NS 3000000000ull
#define LAUNCH_MAX_NS 30000000000ull

uint64_t pp_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void pp_launch_end(pid_t child, const int *sigs, size_t n, int grace, char *how, size_t size)
{
	int status;
	how[0] = '\0';
	if (waitpid(child, &status, WNOHANG) == child)
		return; /* it ended on its own */
	struct timespec ms10 = {0, 10000000L};
	size_t len = 0;
	for (size_t k = 0; k <= n; k++) {
		int sig = k < n ? sigs[k] : SIGKILL;
		kill(child, sig);
		if (len < size)
			len += (size_t)snprintf(how + len, size - len, "%sSIG%s", k ? ", then " : "",
						sigabbrev_np(sig));
		if (sig == SIGKILL) {
			while (waitpid(child, &status, 0) < 0 && errno == EINTR)
				;
			return;
		}
		for (int i = 0; i < grace; i++) {
			nanosleep(&ms10, NULL);
			if (waitpid(child, &status, WNOHANG) == child)
				return;
		}
	}
}

bool pp_launch_exited(pid_t child, const char *cmd, struct pp_error *err)
{
	int status;
	if (waitpid(child, &status, WNOHANG) != child)
		return false;
	snprintf(err->msg, sizeof(err->msg),
		 "%s exited before a Python interpreter could be read (exit status %d)", cmd,
		 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return true;
}

enum pp_err pp_launch_attach(pid_t child, const char *cmd, struct pp_target **t,
			     struct pp_error *err, volatile sig_atomic_t *stop)
{
	struct timespec ms10 = {0, 10000000L};
	struct pp_program_stamp stamp = {0};
	uint64_t start = pp_mono_ns(), since = start;
	for (;;) {
		if (pp_launch_exited(child, cmd, err))
			return err->code = PP_ERR_GONE;
		enum pp_err e = pp_process_attach(child, t, err);
		if (e == PP_OK || e == PP_ERR_PERM || (stop && *stop))
			return e;
		uint64_t now = pp_mono_ns();
		if (!pp_process_same_program(child, &stamp) || err->starting)
			since = now; /* it exec'd, or is a Python starting: a new grace */
		if (now - start >= LAUNCH_MAX_NS)
			return e;
		if (now - since >= LAUNCH_GRACE_NS) {
			if (!pp_process_has_children(child))
				return e;
			since = now; /* a launcher: look again later */
		}
		nanosleep(&ms10, NULL);
	}
}

