/* Reading a running target's next sample in one system call.
 *
 * Between two samples a program's structure rarely changes: the same
 * interpreters, the same thread states, each thread's frames in the same
 * data-stack chunk (3.11+) or mostly the same frame objects (<=3.10). So
 * after each sample we remember where everything was, and the next sample
 * starts with one vectored read of all of it: the interpreter list head,
 * each interpreter's fields and GIL, each thread state, and windows of
 * memory where frames were - the _PyCFrame's current-frame pointer, each
 * chunk as deep as its stack went lately (and a little more), and the heap
 * frames (<=3.10 frame objects, generators') seen in recent samples, which
 * a program keeps reusing. If every list link read back still describes
 * the same structure, the snapshot is filled from that read and the
 * walker takes frames from the windows; anything outside them it still
 * reads itself. Otherwise the caller follows the lists the slow way.
 *
 * The same read also brings, after all of that, each thread's data-stack
 * top and a second copy of every frame window, the tops and the windows
 * once more, then the identities of the code objects recent samples named:
 * a walk that stayed inside the windows is verified from those with no
 * further read (frame_walk.h), so a steady program costs one read per
 * sample.
 */
#ifndef PYPROBE_READER_READAHEAD_H
#define PYPROBE_READER_READAHEAD_H

#include "frame_walk.h"
#include "snapshot.h"

struct pp_target;
struct pp_readahead;

void pp_readahead_free(struct pp_readahead *ra);

/* Remember where snapshot s found everything (its walks' chains are still
 * in t->walker). Replaces what was remembered; on failure (memory) the
 * next sample simply takes the slow path. */
void pp_readahead_learn(struct pp_readahead **ra, const struct pp_target *t,
			const struct snapshot *s);

/* Read the remembered structure back into s (interpreters, thread states
 * and their bytes; native ids where read ahead) and give the windows for
 * the walker (valid until the next learn). 0, or -1 when the structure
 * changed or could not be read: then s is to be filled the slow way. */
int pp_readahead_read(struct pp_readahead *ra, struct pp_target *t, struct snapshot *s,
		      const struct pp_window **win, size_t *nwin);

/* After the walks of a sample read ahead: validate the code objects they
 * used against the identities read ahead (see pp_code_cache_judge_ahead).
 * Returns how many were stale, or -1. */
int pp_readahead_judge_codes(const struct pp_readahead *ra, struct pp_code_cache *codes);

#endif
