/* dump --native: each thread's native frames, merged with its Python
 * frames where they line up (reader/native_merge.h), as dump frames. */
#ifndef PYPROBE_DUMP_NATIVE_H
#define PYPROBE_DUMP_NATIVE_H

#include "../reader/native_merge.h"
#include "../reader/reader.h"
#include "dump_model.h"
#include "native_capture.h"

/* What the native frames of a dump are kept in. */
struct pp_dump_native_store {
	struct pp_dump_frame **blocks;
	size_t n, cap;
};

/* Give each thread th[i] of d (built from sample s, frames index-aligned
 * with s's) its native frames from capture c: merged into th[i].frames, or
 * apart with a note; d->native_note when the evaluator was recognised in
 * no thread. 0, or -1 when out of memory. */
int pp_dump_add_native(struct pp_dump *d, struct pp_dump_thread *th, const struct pp_sample *s,
		       struct pp_native_capture *c, struct pp_dump_native_store *store);
void pp_dump_native_store_free(struct pp_dump_native_store *store);

#endif
