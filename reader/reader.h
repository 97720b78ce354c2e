/* The reader's contract with the rest of pyprobe: attach to one CPython
 * process and read, from outside, every thread's Python stack, GIL state and
 * OS state. Never writes to the target; never leaves it stopped.
 *
 *   pp_target_attach()  find the interpreter, its version and layout
 *   pp_target_open_core()  the same, from a core file (gcore, the kernel)
 *   pp_target_sample()  one snapshot of every thread (optionally paused)
 *   pp_target_detach()
 *
 * Strings in results are UTF-8 and owned by the target handle (code objects
 * are cached by address); they live until pp_target_detach().
 */
#ifndef PYPROBE_READER_H
#define PYPROBE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "os_state.h"

/* Error classes; the values are pyprobe's exit codes. */
enum pp_err {
	PP_OK = 0,
	PP_ERR_GONE = 3,        /* no such process, or it exited */
	PP_ERR_PERM = 4,        /* not allowed to read it */
	PP_ERR_NOT_PYTHON = 5,  /* not Python, or an unsupported version */
	PP_ERR_IO = 6,
};

struct pp_error {
	enum pp_err code;
	/* With PP_ERR_NOT_PYTHON: the process is a Python pyprobe can read
	 * whose interpreter is not running (yet, or any more) - one that is
	 * starting is worth waiting for. */
	bool starting;
	char msg[512]; /* one line, no "pyprobe: " prefix, no newline */
};

struct pp_target_info {
	int pid;
	int major, minor, micro;
	char version[32];   /* "3.11.7", with a suffix for pre-releases */
	char *executable;   /* /proc/PID/exe */
	char *libpython;    /* the mapped libpython, or NULL (static) */
	char *cmdline;      /* argv joined by spaces */
	char layout_source[32]; /* "static table" or "_Py_DebugOffsets" */
	char *core;         /* the core file read, or NULL (a live process) */
};

struct pp_code {
	const char *qualname; /* co_qualname on 3.11+, else co_name */
	const char *name;     /* co_name */
	const char *filename;
	int firstlineno;
};

/* Where a frame's line is not a line. */
#define PP_FRAME_LINE_NONE (-1)    /* the interpreter has none for this instruction */
#define PP_FRAME_LINE_UNKNOWN (-2) /* it could not be read (a broken line table) */

/* A frame of a stack as pyprobe shows it: a Python frame, or a marker
 * standing where the stack could not be shown as it is. */
enum pp_rframe_kind {
	PP_RF_PYTHON = 0,
	/* Innermost: the frames inside this point moved while they were
	 * read; the frames outside it held still and are exact. */
	PP_RF_CHANGING,
	/* Outermost, where the chain could not be followed further; or in
	 * place of one frame whose code object could not be read. */
	PP_RF_UNREADABLE,
	/* Outermost: frames past the most one walk reads (`count` of them). */
	PP_RF_NOT_READ,
};

enum pp_unreadable {
	PP_UNREAD_MEMORY = 0,    /* "frame memory not readable" */
	PP_UNREAD_NOT_FRAME,     /* "not a frame" */
	PP_UNREAD_NOT_CODE,      /* "not a code object" */
	PP_UNREAD_LOOP,          /* "frame chain loops" */
	PP_UNREAD_NOT_EXECUTING, /* "frame not executing" */
};
/* The text of a reason, as markers show it. */
const char *pp_unreadable_reason(enum pp_unreadable why);

/* One argument or local variable of a frame (PP_SAMPLE_LOCALS), as
 * reader/pyrepr.h shows it. NULL: that could not be read. */
struct pp_local {
	const char *name;
	const char *type; /* the type's tp_name */
	const char *repr;
};

enum pp_locals_state {
	PP_LOCALS_NOT_READ = 0, /* not asked for, or not a Python frame */
	PP_LOCALS_READ,         /* locals[0, nlocals): every bound one */
	PP_LOCALS_UNREADABLE,   /* the frame's or its code's slots were not */
};

struct pp_frame {
	/* PP_RF_PYTHON: its code. A name or file the reader could not
	 * read is NULL there (shown as "?"). */
	const struct pp_code *code;
	/* PP_SAMPLE_LOCALS: its arguments and locals, cells and free
	 * variables included, in the code's order (arguments first); unbound
	 * ones are left out. Valid until the next sample. */
	const struct pp_local *locals;
	uint32_t nlocals;
	uint8_t locals_state; /* enum pp_locals_state */
	bool locals_cut;      /* more than PP_LOCALS_MAX: the first ones */
	int line;           /* or PP_FRAME_LINE_NONE / _UNKNOWN */
	uint8_t kind;       /* enum pp_rframe_kind */
	uint8_t why;        /* PP_RF_UNREADABLE: enum pp_unreadable */
	bool count_exact;   /* PP_RF_NOT_READ: count is all of them */
	/* PP_RF_PYTHON: the outermost Python frame of one call of the
	 * interpreter's evaluation function (<=3.10 every frame; 3.11 a
	 * frame marked is_entry; 3.12+ one whose caller is the C-stack
	 * entry frame) - what lines Python frames up with native ones. */
	bool entry;
	uint64_t count;     /* PP_RF_NOT_READ */
};

enum pp_gil_state {
	PP_GIL_UNKNOWN = 0,
	PP_GIL_HELD,
	PP_GIL_WAITING,  /* blocked in futex on the GIL's own mutex/cond */
	PP_GIL_RELEASED, /* neither */
};

/* One thread's stack in a sample. A running target's stack can move while
 * it is read; what is shown is only what held still (see docs/record.md):
 *   whole      every frame, innermost to the thread's outermost
 *   changing   cut short: the outer frames that held still, then a
 *              PP_RF_CHANGING marker (innermost)
 *   unreadable a PP_RF_UNREADABLE / _NOT_READ marker: corrupt memory, a
 *              looping chain, a stack deeper than one walk reads
 *   dropped    not even the thread's outermost frame held still (it was
 *              starting or ending): no frames; counted, never drawn
 * A stack can be both changing and unreadable (a deep stack whose inner
 * part moves). */
struct pp_thread {
	uint64_t native_id;   /* kernel TID; 0 if it could not be found */
	/* The TID as the target's own PID namespace numbers it (its
	 * threading.get_native_id()): native_id's but in a container; 0 if
	 * it could not be found */
	uint64_t ns_id;
	uint64_t thread_id;   /* pthread_self(), == threading.get_ident() */
	int64_t interp_id;    /* innermost interpreter running on it */
	const char *name;     /* threading.Thread name or NULL */
	enum pp_gil_state gil;
	bool dropped, changing, unreadable;
	/* Python frames the first read of it found (changing: more than it
	 * shows) */
	uint32_t walked_depth;
	struct pp_os_state os; /* filled with PP_SAMPLE_OS_STATE */
	struct pp_frame *frames; /* innermost first, markers included */
	size_t nframes;
};

struct pp_sample {
	uint64_t time_ns;       /* CLOCK_MONOTONIC when the read began */
	struct pp_thread *threads;
	size_t nthreads;
	/* Threads read again because nothing of their stack held still (or,
	 * with PP_SAMPLE_WHOLE, because it moved) */
	unsigned retries;
	/* storage, reused across samples */
	struct pp_frame *frame_pool;
	size_t frame_pool_cap;
	size_t threads_cap;
};

enum {
	PP_SAMPLE_OS_STATE = 1 << 0,  /* read /proc task state + syscall */
	PP_SAMPLE_PAUSE = 1 << 1,     /* stop all threads around the read */
	/* Read a stack that moved again, a few times, to show it whole if
	 * it holds still long enough (a dump); a recording keeps what held
	 * still instead. */
	PP_SAMPLE_WHOLE = 1 << 2,
	/* Read threading.Thread names afresh. Without it, names come from
	 * the last read (also made, once, when a thread appears that it did
	 * not know); a name is valid until the next sample. */
	PP_SAMPLE_NAMES = 1 << 3,
	/* With PP_SAMPLE_OS_STATE, not paused: take a blocked task's state
	 * from its syscall file alone - sleeping, with the system call - and
	 * skip its stat line (about 3 us a thread), so a task in disk wait
	 * inside a system call reads as sleeping; and do not read the GIL
	 * holder's at all: it reads as running. For sampling many times a
	 * second; a dump wants the exact state. */
	PP_SAMPLE_OS_FAST = 1 << 4,
	/* Read every Python frame's arguments and locals (pp_frame.locals)
	 * while the threads are paused - or, without PP_SAMPLE_PAUSE, after
	 * the stacks were read, values that may be changing. Costs a few
	 * reads per frame and per value: for dumps, not for sampling. */
	PP_SAMPLE_LOCALS = 1 << 5,
};

/* Locals read per frame; past them, the frame's locals_cut is set. */
#define PP_LOCALS_MAX 1024

struct pp_target;

enum pp_err pp_target_attach(int pid, struct pp_target **out,
			     struct pp_error *err);
/* A core file of a Python process, read like a live one: sample it with
 * any flags (every thread is stopped in a core: PP_SAMPLE_PAUSE is
 * implied; PP_SAMPLE_OS_STATE takes each thread's state from the core).
 * `exe` (or NULL) is the executable to read instead of the one the core
 * names; `root` (or NULL) a directory the core's paths are relative to.
 * Errors: PP_ERR_IO (unreadable, truncated or corrupt core, files on disk
 * missing or not those the process had mapped), PP_ERR_NOT_PYTHON. */
enum pp_err pp_target_open_core(const char *core, const char *exe, const char *root,
				struct pp_target **out, struct pp_error *err);
/* The core file's path, or NULL for a live process. */
const char *pp_target_core_path(const struct pp_target *t);
void pp_target_detach(struct pp_target *t);
const struct pp_target_info *pp_target_get_info(const struct pp_target *t);

/* One snapshot of every thread of every interpreter. A thread that runs code
 * in a sub-interpreter is one entry: the sub-interpreter's frames, then the
 * frames of its outer thread state. Threads are ordered main thread first,
 * then by creation. Returns PP_OK, or an error (the process exited,
 * permission lost); per-thread problems are in each thread's status. */
enum pp_err pp_target_sample(struct pp_target *t, unsigned flags,
			     struct pp_sample *s, struct pp_error *err);
void pp_sample_free(struct pp_sample *s);

/* Called by pp_target_sample with PP_SAMPLE_PAUSE while every thread is
 * stopped, after the Python stacks were read and before the threads run
 * on: `tids` are the kernel ids of the threads stopped (ptrace-stopped by
 * this process, so a native unwinder may read their registers; of a core,
 * every thread it holds the registers of - with any flags). NULL: no
 * hook. */
typedef void (*pp_paused_hook)(void *ctx, const int *tids, size_t ntids);
void pp_target_set_paused_hook(struct pp_target *t, pp_paused_hook fn, void *ctx);

/* Reads issued to the kernel so far (for benchmarks). */
uint64_t pp_target_syscalls(const struct pp_target *t);

#endif
