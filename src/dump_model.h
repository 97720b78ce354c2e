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

enum pp_dump_frame_kind {
	PP_DUMP_FRAME_PYTHON = 0,
	/* A marker: `function` is its label ("[changing]", "[unreadable
	 * frame: not a code object]", ...); name and file are NULL. */
	PP_DUMP_FRAME_MARKER,
};

struct pp_dump_frame {
	const char *function; /* qualified name where the version has one;
				 NULL: it could not be read */
	const char *name;     /* bare co_name, or NULL */
	const char *file;     /* or NULL */
	int line;             /* -1: the interpreter has no line here;
				 -2: it could not be read */
	enum pp_dump_frame_kind kind;
};

/* How much of a thread's stack is shown (reader.h's pp_thread). */
enum pp_dump_stack {
	PP_DUMP_STACK_WHOLE = 0,
	PP_DUMP_STACK_CUT_CHANGING,   /* moved while read: the outer part */
	PP_DUMP_STACK_CUT_UNREADABLE, /* part of it could not be read */
	PP_DUMP_STACK_DROPPED,        /* nothing held still: no frames */
};

struct pp_dump_thread {
	uint64_t native_id;
	uint64_t ns_id;       /* native_id in the target's PID namespace; 0 unknown */
	const char *name;     /* threading.Thread name, or NULL */
	int64_t interpreter_id;
	enum pp_dump_gil gil;
	enum pp_dump_os os_state;
	const char *syscall;  /* the system call it is blocked in, or NULL */
	enum pp_dump_stack stack;
	const struct pp_dump_frame *frames; /* innermost first */
	size_t nframes;
};

struct pp_dump_asyncio; /* dump_tasks.h */

struct pp_dump {
	int pid;
	const char *cmdline;
	const char *version;     /* "3.11.7" */
	const char *executable;
	const char *libpython;   /* NULL when linked statically */
	const struct pp_dump_thread *threads;
	size_t nthreads;
	const struct pp_dump_asyncio *asyncio; /* --tasks; NULL: not asked */
};

const char *pp_dump_gil_name(enum pp_dump_gil g);  /* "held", ... "unknown" */
const char *pp_dump_stack_name(enum pp_dump_stack s); /* "whole", "cut_changing", ... */
const char *pp_dump_os_name(enum pp_dump_os s);    /* "running", ... */

#endif
