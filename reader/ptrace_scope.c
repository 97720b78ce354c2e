/* Yama's part in a refusal; see ptrace_scope.h. */
#include "ptrace_scope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"

bool pp_ptrace_scope_hint(const struct pp_ptrace_facts *f, int pid, char *buf, size_t size)
{
	if (size)
		buf[0] = '\0';
	if (!size || f->scope <= 0)
		return false;
	if (f->scope >= 3) {
		snprintf(buf, size, "kernel.yama.ptrace_scope is %d: no process may read another "
			 "until the machine reboots", f->scope);
		return true;
	}
	if (f->privileged)
		return false;
	if (f->scope == 2) {
		snprintf(buf, size, "kernel.yama.ptrace_scope is 2: only root or a program with "
			 "CAP_SYS_PTRACE may read another process; run pyprobe as root (sudo) or "
			 "give it CAP_SYS_PTRACE");
		return true;
	}
	if (!f->same_user || f->descendant)
		return false;
	snprintf(buf, size, "kernel.yama.ptrace_scope is 1: only an ancestor of process %d may "
		 "read it, and pyprobe is not one; let the process allow it with "
		 "prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY or pyprobe's pid) (see docs/hangs.md), "
		 "start pyprobe as root or with CAP_SYS_PTRACE, or set "
		 "kernel.yama.ptrace_scope to 0 (sudo sysctl kernel.yama.ptrace_scope=0)", pid);
	return true;
}

static int read_int_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	if (!fp)
		return -1;
	int v = -1;
	if (fscanf(fp, "%d", &v) != 1)
		v = -1;
	fclose(fp);
	return v;
}

/* The parent of pid from /proc/pid/stat (after the last ')'), or -1. */
static long parent_of(long pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	long ppid = -1;
	if (!p || sscanf(p + 1, " %*c %ld", &ppid) != 1)
		return -1;
	return ppid;
}

void pp_ptrace_facts_of(int pid, struct pp_ptrace_facts *f)
{
	*f = (struct pp_ptrace_facts){.scope = read_int_file("/proc/sys/kernel/yama/ptrace_scope")};
	/* CAP_SYS_PTRACE is bit 19 of the effective set */
	char status[64];
	snprintf(status, sizeof status, "/proc/self/status");
	FILE *fp = fopen(status, "r");
	if (fp) {
		char line[256];
		while (fgets(line, sizeof line, fp))
			if (!strncmp(line, "CapEff:", 7)) {
				unsigned long long caps = strtoull(line + 7, NULL, 16);
				f->privileged = (caps >> 19) & 1;
			}
		fclose(fp);
	}
	snprintf(status, sizeof status, "/proc/%d/status", pid);
	long uid = pp_proc_status_field(status, "Uid");
	f->same_user = uid >= 0 && (uid_t)uid == geteuid();
	long me = (long)getpid(), p = pid;
	for (int depth = 0; depth < 4096 && p > 1; depth++) {
		p = parent_of(p);
		if (p == me) {
			f->descendant = true;
			break;
		}
	}
}
