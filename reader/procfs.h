/* Facts about a process that /proc gives as files: whole-file reads,
 * status fields, the command line, the executable, whether it has exited.
 * (Per-thread run state and system calls, read every sample, are
 * os_state.h's.) Knows Linux, not Python: besides the reader, the sampler
 * uses it to find a target's subprocesses (src/process_set.c). */
#ifndef PYPROBE_READER_PROCFS_H
#define PYPROBE_READER_PROCFS_H

#include <stddef.h>

/* The whole file, up to `max` bytes, NUL-terminated and malloc'd; *len gets
 * its length. NULL with *err set (a negative errno) on failure. */
char *pp_read_file(const char *path, size_t max, size_t *len, int *err);

/* A "Key:<tab>number" line of a /proc/.../status file, or -1. */
long pp_proc_status_field(const char *status_path, const char *key);

/* The id of task `tid` of process `pid` in the innermost PID namespace it
 * belongs to (the last number of the NSpid line): what the process itself
 * calls that thread. Equal to tid outside containers; -1 if unreadable. */
long pp_proc_ns_tid(int pid, int tid);

/* argv joined by spaces ("" if unreadable), and the executable's path
 * (NULL if unreadable); both malloc'd. */
char *pp_proc_cmdline(int pid);
char *pp_proc_exe(int pid);

/* Whether the process has exited but not been reaped (state Z or X). */
int pp_proc_is_zombie(int pid);

/* Whether task `tid` of `pid` is gone, a zombie, or on its way out (the
 * kernel's PF_EXITING flag). ptrace and process_vm_readv answer EPERM for
 * such a task, which must not read as "permission denied". */
int pp_proc_task_exiting(int pid, int tid);

#endif
