/* Threads that have not run since the last sample: their stacks are taken
 * over, not read again.
 *
 * A thread's frames change only when it runs. The kernel counts each time
 * it puts a thread on a CPU, and the CPU time it has had
 * (pp_os_reader_runs; "the count" below is both). A sample reads, in this
 * order, that count (P), the thread's frames (S), and what it is blocked
 * in (Y, /proc/.../syscall, which answers only for a thread off its CPU).
 * If sample k-1's Y found it blocked and P did not move from k-1 to k,
 * the thread was off its CPU from Y(k-1) to P(k). If P then does not move
 * from k to k+1 either, it stayed off its CPU until P(k+1), so the stack
 * S(k) and Y(k), both read in between, are still exact at k+1, and at
 * every later sample until P moves. Those samples take them over: no
 * frame window, no verification and no /proc read for the thread, one
 * pread of its schedstat instead. A program's idle pool threads then cost
 * almost nothing per sample.
 *
 * Only for samples of a running target that read OS states quickly (a
 * recording); a paused target is read whole. */
#ifndef PYPROBE_READER_QUIET_H
#define PYPROBE_READER_QUIET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "os_state.h"
#include "reader.h"

struct pp_quiet;

void pp_quiet_free(struct pp_quiet *q);

/* A sample begins: read the run count of every thread that could be
 * quiet (blocked at its last read), before anything of the sample is
 * read. Decides which threads this sample takes over. */
void pp_quiet_begin(struct pp_quiet *q, struct pp_os_reader *os);

/* The frames and OS state this sample takes over for the thread state at
 * ts_addr (of thread thread_id), whose frame pointers read now are fp[0],
 * fp[1]; NULL when it is to be read. Valid until pp_quiet_learn. A new
 * thread in a dead one's thread state is not taken for it: the run count
 * was read through the old task's open file, which fails once it exits. */
struct pp_quiet_stack {
	const struct pp_frame *frames;
	size_t nframes;
	struct pp_os_state os;
};
const struct pp_quiet_stack *pp_quiet_take(const struct pp_quiet *q, uint64_t ts_addr,
					   uint64_t thread_id, const uint64_t fp[2]);

/* Whether the next sample will likely take this thread over (it is quiet
 * now): its frame windows need not be read ahead. */
bool pp_quiet_expected(const struct pp_quiet *q, uint64_t ts_addr);

/* One thread of the sample just read: what it was read as (frames, when
 * it was read whole; its OS state, NULL when unknown - one assumed,
 * as the GIL holder's "running", never says blocked), or that it was
 * taken over. */
struct pp_quiet_thread_seen {
	uint64_t ts_addr, thread_id, tid;
	uint64_t fp[2];
	bool taken_over;
	bool walked_ok;
	const struct pp_frame *frames;
	size_t nframes;
	const struct pp_os_state *os;
};

/* After a sample: remember every thread of it (n of them); threads not in
 * it are forgotten. On failure (memory) nothing is taken over next time. */
void pp_quiet_learn(struct pp_quiet **q, const struct pp_quiet_thread_seen *seen, size_t n);

#endif
