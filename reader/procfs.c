/* /proc files about a process; see procfs.h. */
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *pp_read_file(const char *path, size_t max, size_t *len, int *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	/* /proc files report no size: read into a buffer that grows. */
	size_t cap = max < 4096 ? max : 4096, n = 0;
	char *buf = malloc(cap + 1);
	while (buf) {
		if (n == cap) {
			if (cap >= max)
				break;
			size_t ncap = cap * 2 < max ? cap * 2 : max;
			char *nb = realloc(buf, ncap + 1);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) {
			*err = -errno;
			free(buf);
			buf = NULL;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (!buf) {
		if (!*err)
			*err = -ENOMEM;
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

long pp_proc_status_field(const char *status_path, const char *key)
{
	size_t len = 0;
	int err = 0;
	char *s = pp_read_file(status_path, 16384, &len, &err);
	if (!s)
		return -1;
	long v = -1;
	size_t kl = strlen(key);
	for (char *line = s; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	free(s);
	return v;
}

long pp_proc_ns_tid(int pid, int tid)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	size_t len = 0;
	int err = 0;
	char *s = pp_read_file(path, 16384, &len, &err);
	if (!s)
		return -1;
	long v = -1;
	char *line = strstr(s, "\nNSpid:");
	if (line) {
		char *p = line + 7, *end;
		for (;;) {
			long x = strtol(p, &end, 10);
			if (end == p)
				break;
			v = x;
			p = end;
		}
	}
	free(s);
	return v;
}

int pp_proc_is_zombie(int pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	size_t len = 0;
	int err = 0;
	char *s = pp_read_file(path, 4096, &len, &err);
	if (!s)
		return 0;
	/* comm may hold spaces and parentheses: the state follows the last ')' */
	char *rp = strrchr(s, ')');
	int z = rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
	free(s);
	return z;
}

int pp_proc_task_exiting(int pid, int tid)
{
	enum { PF_EXITING = 0x4 };
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	size_t len = 0;
	int err = 0;
	char *s = pp_read_file(path, 4096, &len, &err);
	if (!s)
		return 1;
	/* after the last ')': state, ppid, pgrp, session, tty, tpgid, flags */
	char *rp = strrchr(s, ')');
	char state = 0;
	unsigned long flags = 0;
	int gone = !rp || sscanf(rp + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2 ||
		   state == 'Z' || state == 'X' || (flags & PF_EXITING);
	free(s);
	return gone;
}

char *pp_proc_cmdline(int pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	size_t len = 0;
	int err = 0;
	char *s = pp_read_file(path, 65536, &len, &err);
	if (!s)
		return strdup("");
	while (len > 0 && s[len - 1] == '\0')
		len--;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\0')
			s[i] = ' ';
	s[len] = '\0';
	return s;
}

char *pp_proc_exe(int pid)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return strdup(buf);
}
