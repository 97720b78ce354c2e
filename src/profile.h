/* The profile: everything a recording holds, as plain data.
 *
 *   strings  interned, id 0 is ""
 *   frames   (function, name, file, line, kind), interned
 *   stacks   a tree: each stack is (parent stack, frame); id 0 is the empty
 *            stack, so a stack id names a whole root-to-leaf path
 *   threads  (pid, native id, name), interned
 *   samples  (time, thread, stack, GIL state, OS state), appended
 *
 * Memory grows with distinct stacks and with samples (16 bytes each), not
 * with the depth of the stacks sampled. Built by the sampler (src/), read by
 * renderers (render/) and analyses, saved and loaded by src/recording.c.
 * No reader types here: this is the boundary between target and output.
 */
#ifndef PYPROBE_PROFILE_H
#define PYPROBE_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint32_t pp_str_id;
typedef uint32_t pp_frame_id;
typedef uint32_t pp_stack_id;

#define PP_EMPTY_STACK ((pp_stack_id)0)

enum pp_frame_kind {
	PP_FRAME_PYTHON = 0, /* a Python function */
	PP_FRAME_THREAD,     /* synthetic root: `thread TID "name"` */
	PP_FRAME_PROCESS,    /* synthetic root: `process PID: cmdline` */
	PP_FRAME_MARKER,     /* synthetic leaf: `[waiting for GIL]`, ... */
	/* A native (C) function (record --native): function its symbol or
	 * "?", name its library's file name, file its source file where
	 * debug information gives it, else the library's file name again;
	 * line its source line or -1. Labelled like a Python frame. */
	PP_FRAME_NATIVE,
};

/* Per-sample states, as the reader saw them. Values are stored in
 * recordings: append only. */
enum pp_sample_gil {
	PP_SGIL_UNKNOWN = 0,
	PP_SGIL_HELD,
	PP_SGIL_WAITING,
	PP_SGIL_RELEASED,
};
enum pp_sample_os {
	PP_SOS_UNKNOWN = 0,
	PP_SOS_RUNNING,
	PP_SOS_SLEEPING,
	PP_SOS_DISK,
	PP_SOS_STOPPED,
	PP_SOS_ZOMBIE,
};

struct pp_pframe {
	pp_str_id function; /* qualified name where the version has one */
	pp_str_id name;     /* bare co_name */
	pp_str_id file;
	int32_t line;       /* -1: none */
	int32_t firstlineno;/* the function's first line (pprof start_line) */
	uint8_t kind;       /* enum pp_frame_kind */
};

struct pp_pstack {
	pp_stack_id parent; /* PP_EMPTY_STACK for a root frame */
	pp_frame_id frame;
	uint32_t depth;     /* frames from the root, 1 for a root frame */
};

struct pp_pthread {
	uint32_t pid;       /* the process (differs with --subprocesses) */
	uint64_t native_id;
	pp_str_id name;     /* 0 when unnamed */
	pp_str_id cmdline;  /* its process's command line */
};

struct pp_psample {
	uint64_t time_ns;   /* since the recording started */
	uint32_t thread;    /* index into threads */
	pp_stack_id stack;  /* the leaf; PP_EMPTY_STACK: no Python frames */
	uint8_t gil;        /* enum pp_sample_gil */
	uint8_t os;         /* enum pp_sample_os */
};

struct pp_profile_meta {
	pp_str_id title;
	pp_str_id cmdline;
	pp_str_id python_version;
	uint32_t pid;
	uint32_t rate_hz;
	uint64_t start_unix_ns;  /* wall clock when recording began */
	uint64_t duration_ns;
	/* Thread samples left out: not even the thread's outermost frame
	 * could be verified (it was starting or ending while read). */
	uint64_t samples_dropped;
	uint64_t ticks_missed;   /* sampling clock overran */
	/* Format 1.1 (zero in older recordings). Thread samples drawn cut
	 * short because their inner part moved while it was read: the frames
	 * that held still, then a `[changing]` marker leaf. */
	uint64_t samples_cut;
	uint64_t cut_depth_sum;  /* over those: Python frames drawn */
	uint64_t cut_walked_sum; /* over those: Python frames the first read found */
	/* Thread samples drawn with a part that could not be read (corrupt
	 * memory, a looping chain, a stack too deep): an `[unreadable frame:
	 * ...]` or `[N more frames not read]` marker where it stops. */
	uint64_t samples_unreadable;
	/* 1: the writer ended the recording normally; 0: it was cut short
	 * (or written by a 1.0 writer, which never says). */
	uint8_t finished;
};

/* Marker frames (kind PP_FRAME_MARKER) a profile's stacks can hold, and
 * where:
 *   [changing]                      leaf: the frames above it moved while
 *                                   they were read; those below held still
 *   [unreadable frame: REASON]      root, where the chain could not be read
 *                                   further; or in place of one frame whose
 *                                   code object could not be read
 *   [N more frames not read]        root: deeper than pyprobe reads
 *   [waiting for GIL], [GIL released]  added by views (--gil-markers)
 * A Python frame whose name, file or line could not be read has "?" there
 * (line PP_LINE_UNKNOWN). */
#define PP_MARK_CHANGING "[changing]"
#define PP_LINE_NONE (-1)    /* the interpreter has no line here */
#define PP_LINE_UNKNOWN (-2) /* it could not be read */

struct pp_profile; /* opaque: tables and their hash indexes */

struct pp_profile *pp_profile_new(void);
void pp_profile_free(struct pp_profile *p);

/* Interning. Every function returns an id, or UINT32_MAX when out of
 * memory (callers treat that like any write failure). */
pp_str_id pp_profile_str(struct pp_profile *p, const char *s);
pp_frame_id pp_profile_frame(struct pp_profile *p, const struct pp_pframe *f);
pp_stack_id pp_profile_stack(struct pp_profile *p, pp_stack_id parent, pp_frame_id frame);
uint32_t pp_profile_thread(struct pp_profile *p, const struct pp_pthread *t);
int pp_profile_add_sample(struct pp_profile *p, const struct pp_psample *s);

/* The asyncio Task a sample's thread was running (format 1.3 and later:
 * `record` reads it for a thread whose stack runs an event loop callback,
 * on 3.11+), as a side table: only samples that have one are in it, in
 * increasing sample order. */
struct pp_sample_task {
	uint64_t sample;    /* index into the samples */
	pp_str_id task;     /* the Task's name, never 0 */
};
/* Name the Task of sample `sample` (already added, after every sample
 * named so far). 0; -1 when out of memory or out of order, or for an id
 * that is not a string or is 0. */
int pp_profile_set_sample_task(struct pp_profile *p, uint64_t sample, pp_str_id task);
/* The Task name's string id of a sample, 0 when none (binary search). */
pp_str_id pp_profile_sample_task(const struct pp_profile *p, uint64_t sample);
const struct pp_sample_task *pp_profile_sample_tasks(const struct pp_profile *p, size_t *n);

/* Whether the profile holds more than one program: threads of several
 * processes (record --subprocesses), or of one process under several
 * command lines (record followed it through an exec). Outputs of such a
 * profile put each program under its own `process PID: cmdline` root. */
bool pp_profile_several_programs(const struct pp_profile *p);

/* Metadata, writable. */
struct pp_profile_meta *pp_profile_meta(struct pp_profile *p);
const struct pp_profile_meta *pp_profile_meta_c(const struct pp_profile *p);
/* The sampling rate achieved, in Hz: the rate asked for less the ticks
 * missed over the duration (what a sample stands for in time: outputs
 * weigh samples by 1 / this); rate_hz when nothing was missed or the
 * duration is unknown, 100 when the rate is unknown (0). Never 0. */
double pp_profile_rate_achieved(const struct pp_profile_meta *m);

/* Read access. Ids are dense: 0 .. count-1. */
const char *pp_profile_string(const struct pp_profile *p, pp_str_id id);
size_t pp_profile_nstrings(const struct pp_profile *p);
const struct pp_pframe *pp_profile_frames(const struct pp_profile *p, size_t *n);
const struct pp_pstack *pp_profile_stacks(const struct pp_profile *p, size_t *n);
const struct pp_pthread *pp_profile_threads(const struct pp_profile *p, size_t *n);
const struct pp_psample *pp_profile_samples(const struct pp_profile *p, size_t *n);

/* ---- views: what a renderer draws ----------------------------------------
 *
 * Every output format shows the same thing: samples kept by the options,
 * each a root-first list of frames. A view applies the options once:
 *   idle      keep samples of sleeping/blocked threads (dropped by default)
 *   gil_only  keep only samples of the thread holding the GIL
 *   threads   a `thread TID "name"` root frame per thread
 *   processes a `process PID: cmdline` root frame (with --subprocesses)
 *   nolineno  frames differ by function and file only
 *   gil_markers  a `[waiting for GIL]` / `[GIL released]` leaf frame
 */
struct pp_view_opts {
	bool idle, gil_only, threads, processes, nolineno, gil_markers;
};

struct pp_view_frame {
	const char *function;
	const char *name;
	const char *file;
	int line;           /* -1 when none, or with nolineno */
	int firstlineno;
	enum pp_frame_kind kind;
	uint32_t id;        /* dense id among the view's distinct frames */
};

/* One kept sample: its frames root first, and the sample itself. */
typedef int (*pp_view_fn)(const struct pp_view_frame *const *frames, size_t n,
			  const struct pp_psample *s, void *ctx);

/* Call fn for each kept sample, in time order; stops early and returns fn's
 * value if it is non-zero. Frame pointers are valid until the view is
 * freed.
 *
 * A thread is its process and OS thread id: profile rows that differ only
 * by name (read after its first samples, or renamed) are one thread. The
 * sample handed to fn names the first row of its thread; its name, the
 * latest one seen, is pp_view_thread_name(). */
struct pp_view;
struct pp_view *pp_view_new(const struct pp_profile *p, const struct pp_view_opts *o);
int pp_view_each(struct pp_view *v, pp_view_fn fn, void *ctx);
/* The view's distinct frames, by id. */
const struct pp_view_frame *pp_view_frame(const struct pp_view *v, uint32_t id);
size_t pp_view_nframes(const struct pp_view *v);
size_t pp_view_nsamples(const struct pp_view *v); /* kept samples */
/* The thread's latest name ("" when never named), for a thread row. */
const char *pp_view_thread_name(const struct pp_view *v, uint32_t thread);
void pp_view_free(struct pp_view *v);

/* Whether the view o drops every sample for being of an idle thread: it
 * keeps none, and would keep some with --idle. (The note record and render
 * print: nothing was drawn, and --idle would draw something.) */
bool pp_view_all_idle(const struct pp_profile *p, const struct pp_view_opts *o);

#endif
