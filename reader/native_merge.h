/* One thread's Python frames and its native frames as one stack.
 *
 * Each native frame of CPython's evaluation function (_PyEval_EvalFrameDefault,
 * 3.8 to 3.15) is replaced by the Python frames that call ran, so that the
 * stack reads from the innermost C call out to <module>. On 3.8-3.10 one
 * evaluation call runs one Python frame; on 3.11+ it runs an entry frame and
 * those it called without leaving the loop (pp_frame.entry marks where each
 * call's frames end). Only when the number of evaluation calls in the native
 * stack is exactly the number the Python frames make are they merged;
 * otherwise both stacks are kept, with the reason - never a guess.
 */
#ifndef PYPROBE_READER_NATIVE_MERGE_H
#define PYPROBE_READER_NATIVE_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "native_unwind.h"
#include "reader.h"
#include "symbolize.h"

enum pp_merge_result {
	PP_MERGE_OK = 0,
	/* No frame of the native stack is the evaluation function: it has no
	 * symbol there (a stripped interpreter). The same for every thread. */
	PP_MERGE_NO_EVALUATOR,
	PP_MERGE_MISMATCH,    /* as many evaluation calls they are not */
	PP_MERGE_NOT_WHOLE,   /* the Python stack was cut short (markers) */
	PP_MERGE_NO_NATIVE,   /* the thread could not be unwound at all */
};

/* A frame of a merged stack. */
struct pp_merged_frame {
	bool python;
	size_t py_index;            /* python: index into the Python frames */
	struct pp_native_sym sym;   /* native */
};

struct pp_native_stack {
	enum pp_merge_result result;
	char note[200];            /* result != OK: one line, why */
	/* Always: the native frames, symbolised, innermost first (inlined
	 * functions as frames of their own). */
	struct pp_native_sym *native;
	size_t nnative;
	/* PP_MERGE_OK: the merged stack, innermost first. */
	struct pp_merged_frame *merged;
	size_t nmerged;
};

/* Whether `function` is the evaluation function (or a part of it the
 * compiler split off, "_PyEval_EvalFrameDefault.cold"). */
bool pp_is_evaluator(const char *function);

/* Merge thread frames py[0..npy) (innermost first, as the reader gave
 * them) with its native pcs[0..npcs) (pcs == NULL: it could not be
 * unwound), symbolised with sym. Returns 0, or -1 when out of memory.
 * Free with pp_native_stack_free. */
int pp_native_merge(const struct pp_frame *py, size_t npy, const uint64_t *pcs, size_t npcs,
		    struct pp_symbolizer *sym, struct pp_native_stack *out);
void pp_native_stack_free(struct pp_native_stack *s);

#endif
