/* Why the kernel refused to let pyprobe read a process, when Yama (the
 * Linux security module behind kernel.yama.ptrace_scope) is the reason:
 * so the permission error can say so and how to get past it. */
#ifndef PYPROBE_READER_PTRACE_SCOPE_H
#define PYPROBE_READER_PTRACE_SCOPE_H

#include <stdbool.h>
#include <stddef.h>

/* What was true when a read was refused. */
struct pp_ptrace_facts {
	int scope;        /* /proc/sys/kernel/yama/ptrace_scope, -1: no Yama */
	bool privileged;  /* pyprobe has CAP_SYS_PTRACE (root has it) */
	bool same_user;   /* the target runs as pyprobe's user */
	bool descendant;  /* the target descends from pyprobe */
};

/* Writes into buf (NUL-terminated, cut to size) the part of the error
 * message that blames Yama and says what to do, and returns true; returns
 * false (buf empty) when Yama would not have refused:
 *   scope 1  a non-privileged reader of a process of its own user that is
 *            not its descendant (the in-process watchdog's child reading
 *            its parent is one): unless the process allowed it with
 *            prctl(PR_SET_PTRACER, ...)
 *   scope 2  any non-privileged reader
 *   scope 3  everyone: no process may read another until reboot
 * A reader of another user's process is refused without Yama: not blamed. */
bool pp_ptrace_scope_hint(const struct pp_ptrace_facts *f, int pid, char *buf, size_t size);

/* The facts for reading process pid, from /proc. */
void pp_ptrace_facts_of(int pid, struct pp_ptrace_facts *f);

#endif
