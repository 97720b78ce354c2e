/* Native stacks taken while a sample holds the target paused: the
 * reader's paused hook unwinds every stopped thread (native_unwind.h), and
 * the caller then asks for a thread's pcs by its kernel id and merges them
 * with its Python frames (native_merge.h). Used by dump --native and
 * record --native.
 */
#ifndef PYPROBE_NATIVE_CAPTURE_H
#define PYPROBE_NATIVE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "../reader/native_target.h"
#include "../reader/native_unwind.h"
#include "../reader/reader.h"
#include "../reader/symbolize.h"

struct pp_native_thread {
	int tid;
	long n;          /* pcs; -1: the thread could not be unwound */
	size_t off;      /* into pcs */
	enum pp_unwind_end end;
};

struct pp_native_capture {
	struct pp_unwinder *unw;
	struct pp_symbolizer *sym;
	/* the last paused sample's stacks */
	struct pp_native_thread *threads;
	size_t nthreads, threads_cap;
	uint64_t *pcs;
	size_t npcs, pcs_cap;
	uint64_t unwind_ns;  /* time spent unwinding, all samples */
};

/* Set up for target t (attached, or a core) and install the paused hook:
 * every sample taken with PP_SAMPLE_PAUSE (of a core: every sample) from
 * now fills the capture. 0, or -1
 * with a one-line message in err. */
int pp_native_capture_init(struct pp_native_capture *c, struct pp_target *t, char *err,
			   size_t errlen);
void pp_native_capture_free(struct pp_native_capture *c);

/* The pcs of thread tid in the last sample (innermost first), or NULL
 * when it was not stopped or could not be unwound. */
const uint64_t *pp_native_capture_pcs(const struct pp_native_capture *c, uint64_t tid,
				      size_t *n);
/* How thread tid's unwind in the last sample ended (PP_UNWIND_FAILED for
 * a thread not unwound). */
enum pp_unwind_end pp_native_capture_end(const struct pp_native_capture *c, uint64_t tid);

#endif
