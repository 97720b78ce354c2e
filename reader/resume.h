/* Where each thread's stack stood when it was last walked from its
 * innermost frame to its outermost: frames of that chain, innermost first
 * - every one of the innermost 16, then ever sparser (the 16th, 24th,
 * 32nd, 48th, ... out), at most PP_RESUME_FRAMES - and its outermost frame,
 * by thread-state address. A walk whose innermost frames are gone before
 * they are read resumes from the innermost of these that still stands
 * (frame_walk.h): a resumed walk teaches nothing new (it would only move
 * the resume point out), nor does a thread taken over (it has not run). */
#ifndef PYPROBE_READER_RESUME_H
#define PYPROBE_READER_RESUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame_walk.h"

struct pp_resume_store;
struct pp_target;
struct snapshot;

void pp_resume_free(struct pp_resume_store *rs);

/* Remember, for every thread state of sample s, the frames it showed (a
 * thread taken over keeps what was known of it). On failure (memory),
 * nothing is remembered: walks simply do not resume. */
void pp_resume_learn(struct pp_resume_store **rs, const struct pp_target *t,
		     const struct snapshot *s);

/* Where the thread state at ts_addr stood: false when not known. Valid
 * until the next learn. */
bool pp_resume_of(const struct pp_resume_store *rs, uint64_t ts_addr, struct pp_resume *out);

#endif
