/* A dump: every thread's stack at one instant, as plain data.
 *
 * Built by cmd_dump.c from what the reader returns; rendered by
 * render/dump_text.c and render/dump_json.c. Knows nothing about how it
 * was read. All strings are UTF-8 and owned by whoever built the dump.
 */
#ifndef PYPROBE_DUMP_MODEL_H
#define PYPROBE_DUMP_MODEL_H

#include <stddef.h>
#include <stdint.h>

enum pp_dump_gil {
	PP_DUMP_GIL_UNKNOWN = 0,
	PP_DUMP_GIL_HELD,     /* holds its interpreter's GIL */
	PP_DUMP_GIL_WAITING,  /* blocked taking the GIL */
	PP_DUMP_GIL_RELEASED, /* neither */
};

enum pp_dump_os {
	PP_DUMP_OS_UNKNOWN = 0,
	PP_DUMP_OS_RUNNING,
	PP_DUMP_OS_SLEEPING,
	PP_DUMP_OS_DISK,
	PP_DUMP_OS_STOPPED,
	PP_DUMP_OS_ZOMBIE,
};

struct pp_dump_frame {
	const char *function; /* qualified name where the version has one */
	const char *name;     /* bare co_name */
	const char *file;
	int line;             /* -1: the interpreter has no line here */
};

struct pp_dump_thread {
	uint64_t native_id;
	const char *name;     /* threading.Thread name, or NULL */
	int64_t interpreter_id;
	enum pp_dump_gil gil;
	enum pp_dump_os os_state;
	const char *syscall;  /* the system call it is blocked in, or NULL */
	int torn;             /* the stack could not be read consistently */
	const struct pp_dump_frame *frames; /* innermost first */
	size_t nframes;
};

struct pp_dump {
	int pid;
	const char *cmdline;
	const char *version;     /* "3.11.7" */
	const char *executable;
	const char *libpython;   /* NULL when linked statically */
	const struct pp_dump_thread *threads;
	size_t nthreads;
};

const char *pp_dump_gil_name(enum pp_dump_gil g);  /* "held", ... "unknown" */
const char *pp_dump_os_name(enum pp_dump_os s);    /* "running", ... */

#endif
