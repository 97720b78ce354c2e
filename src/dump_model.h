/* A dump: every thread's stack at one instant, as plain data.
 *
 * Built by cmd_dump.c from what the reader returns; rendered by
 * render/dump_text.c and render/dump_json.c. Knows nothing about how it
 * was read. All strings are UTF-8 and owned by whoever built the dump.
 */
#ifndef PYPROBE_DUMP_MODEL_H
#define PYPROBE_DUMP_MODEL_H

#include <stdbool.h>
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
	/* A native (C) frame (dump --native): `function` its symbol or NULL,
	 * `file`/`line` its source where debug information says (NULL/-2
	 * otherwise), `library` the mapped file it is in (NULL: none),
	 * `offset` its address in that file's load-relative terms. */
	PP_DUMP_FRAME_NATIVE,
};

/* A frame's argument or local variable (dump --locals): what pyprobe made
 * of its value from memory (reader/pyrepr.h). NULL: could not be read. */
struct pp_dump_local {
	const char *name;
	const char *type; /* the type's name */
	const char *repr;
};

enum pp_dump_locals {
	PP_DUMP_LOCALS_NONE = 0,   /* not asked for (or a marker) */
	PP_DUMP_LOCALS_READ,       /* locals[0, nlocals) */
	PP_DUMP_LOCALS_UNREADABLE, /* the frame's slots could not be read */
};

struct pp_dump_frame {
	const char *function; /* qualified name where the version has one;
				 NULL: it could not be read */
	const char *name;     /* bare co_name, or NULL */
	const char *file;     /* or NULL */
	int line;             /* -1: the interpreter has no line here;
				 -2: it could not be read */
	enum pp_dump_frame_kind kind;
	/* Python frames of a dump with locals: bound arguments first, then
	 * locals, cells and free variables; `locals_cut`: there were more
	 * than the reader reads. */
	enum pp_dump_locals locals_state;
	const struct pp_dump_local *locals;
	size_t nlocals;
	int locals_cut;
	/* PP_DUMP_FRAME_NATIVE only */
	const char *library;
	uint64_t offset;
	bool inlined;         /* inlined into the frame after it */
};

/* How a thread's native frames are shown (dump --native). */
enum pp_dump_native {
	PP_DUMP_NATIVE_NONE = 0,  /* not asked for */
	PP_DUMP_NATIVE_MERGED,    /* frames: native and Python, as one stack */
	PP_DUMP_NATIVE_SEPARATE,  /* frames: Python; native_frames apart */
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
	enum pp_dump_native native;
	const char *native_note;   /* SEPARATE: why (one line) */
	const struct pp_dump_frame *native_frames; /* SEPARATE, innermost first */
	size_t nnative_frames;
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
	const char *core;        /* the core file it was read from, or NULL */
	bool native;             /* dump --native */
	/* Said once rather than for every thread: why no thread's stacks
	 * could be merged (the evaluation function has no symbol), or NULL */
	const char *native_note;
	int with_locals; /* --locals: every Python frame says what it holds */
	const struct pp_dump_asyncio *asyncio; /* --tasks; NULL: not asked */
};

const char *pp_dump_gil_name(enum pp_dump_gil g);  /* "held", ... "unknown" */
const char *pp_dump_stack_name(enum pp_dump_stack s); /* "whole", "cut_changing", ... */
const char *pp_dump_os_name(enum pp_dump_os s);    /* "running", ... */
const char *pp_dump_native_name(enum pp_dump_native n); /* "merged", "separate", NULL */

#endif
