/* A thread's native (C) call stack, as program counters, from outside.
 *
 * libunwind's remote unwinder, over one of two sources of a stopped
 * thread's registers and memory: ptrace (a live process: the caller must
 * have the thread ptrace-stopped already - pause.h stops every thread of a
 * process - and the unwinder never resumes it), or a pp_unwind_source (a
 * core file: the registers its notes saved, its memory). Either way it
 * only reads.
 * Frames are followed by their DWARF call-frame information (.eh_frame);
 * where a pc has none (JIT code), libunwind falls back on the frame-pointer
 * chain, which may end the stack early or add wrong outer frames - the
 * merge (native_merge.h) then finds the counts differ and keeps the stacks
 * apart.
 * Symbolising the counters is symbolize.h's job; nothing here knows about
 * Python.
 */
#ifndef PYPROBE_READER_NATIVE_UNWIND_H
#define PYPROBE_READER_NATIVE_UNWIND_H

#include <stddef.h>
#include <stdint.h>

#include "symbolize.h"

/* Frames one unwind reads at most; a deeper stack is cut there. */
#define PP_NATIVE_MAX_FRAMES 1024

struct pp_unwinder;

/* One unwinder per process (it caches unwind rules across threads and
 * calls). The unwind tables of the files mapped come from `sym`, which
 * must outlive the unwinder. NULL when out of memory. */
struct pp_unwinder *pp_unwinder_new(int pid, struct pp_symbolizer *sym);

/* General registers a source gives per thread: struct user_regs_struct,
 * in its order (an NT_PRSTATUS note's pr_reg). */
#define PP_UNWIND_NREGS 27

/* A stopped thread's registers and memory from elsewhere than ptrace. */
struct pp_unwind_source {
	/* Thread tid's PP_UNWIND_NREGS registers, or NULL when the source
	 * has none for it. */
	const uint64_t *(*regs)(void *ctx, int tid);
	/* All of [addr, addr + len) or nothing: 0, or a negative errno (a
	 * pp_mem_read_fn). */
	int (*read)(void *ctx, uint64_t addr, void *buf, size_t len);
	void *ctx;
};

/* An unwinder over `src` (copied; its ctx must outlive the unwinder). */
struct pp_unwinder *pp_unwinder_new_source(const struct pp_unwind_source *src,
					   struct pp_symbolizer *sym);
void pp_unwinder_free(struct pp_unwinder *u);

/* Forget cached unwind tables: libraries may have been loaded or unloaded
 * since the last unwind (call between samples when the maps changed). */
void pp_unwinder_flush(struct pp_unwinder *u);

/* How an unwind ended. */
enum pp_unwind_end {
	PP_UNWIND_BOTTOM = 0, /* the outermost frame (no caller) */
	PP_UNWIND_FAILED,     /* a frame's caller could not be found */
	PP_UNWIND_TOO_DEEP,   /* `max` frames read; the rest not */
};

/* Unwind thread `tid` (ptrace-stopped, or the source's): pcs[0] is where
 * it stands, pcs[1..] the return addresses of its callers, outward.
 * Returns the number of frames written (<= max), or -1 when the thread
 * could not be read at all (not stopped by us, gone; no registers in the
 * source); *end says why it stopped. Memory that cannot be read ends the
 * stack there (PP_UNWIND_FAILED). */
long pp_unwind_thread(struct pp_unwinder *u, int tid, uint64_t *pcs, size_t max,
		      enum pp_unwind_end *end);

#endif
