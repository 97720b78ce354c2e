/* Python frames in place of the evaluation function's native frames. */
#include "native_merge.h"

#include <stdlib.h>
#include <string.h>

#define EVALUATOR "_PyEval_EvalFrameDefault"
/* inlined functions shown per native frame at most */
#define SYMS_PER_PC 16

bool pp_is_evaluator(const char *function)
{
	size_t n = sizeof(EVALUATOR) - 1;
	return function && strncmp(function, EVALUATOR, n) == 0 &&
	       (function[n] == '\0' || function[n] == '.');
}

void pp_native_stack_free(struct pp_native_stack *s)
{
	free(s->native);
	free(s->merged);
	memset(s, 0, sizeof(*s));
}

/* Symbolise every pc into s->native; physical[i] is 1 on the entry that
 * is a pc's own function (the last of its inline nest). */
static int symbolise(const uint64_t *pcs, size_t npcs, struct pp_symbolizer *sym,
		     struct pp_native_stack *s, bool **physical)
{
	size_t cap = npcs * 2 + 1;
	s->native = malloc(cap * sizeof(*s->native));
	*physical = calloc(cap, sizeof(**physical));
	if (!s->native || !*physical)
		return -1;
	for (size_t i = 0; i < npcs; i++) {
		struct pp_native_sym tmp[SYMS_PER_PC];
		size_t k = pp_symbolize(sym, pcs[i], i > 0, tmp, SYMS_PER_PC);
		if (s->nnative + k > cap) {
			size_t ncap = (s->nnative + k) * 2;
			struct pp_native_sym *v = realloc(s->native, ncap * sizeof(*v));
			if (!v)
				return -1;
			s->native = v;
			bool *p = realloc(*physical, ncap * sizeof(*p));
			if (!p)
				return -1;
			memset(p + cap, 0, (ncap - cap) * sizeof(*p));
			*physical = p;
			cap = ncap;
		}
		memcpy(s->native + s->nnative, tmp, k * sizeof(*tmp));
		s->nnative += k;
		if (k)
			(*physical)[s->nnative - 1] = true;
	}
	return 0;
}

int pp_native_merge(const struct pp_frame *py, size_t npy, const uint64_t *pcs, size_t npcs,
		    struct pp_symbolizer *sym, struct pp_native_stack *out)
{
	memset(out, 0, sizeof(*out));
	bool *physical = NULL;
	if (!pcs) {
		out->result = PP_MERGE_NO_NATIVE;
		snprintf(out->note, sizeof(out->note), "its native stack could not be read");
		return 0;
	}
	if (symbolise(pcs, npcs, sym, out, &physical) != 0) {
		free(physical);
		pp_native_stack_free(out);
		return -1;
	}
	/* Evaluation calls the Python frames make: each ends at an entry
	 * frame. */
	size_t calls = 0;
	bool whole = true;
	for (size_t i = 0; i < npy; i++) {
		if (py[i].kind != PP_RF_PYTHON)
			whole = false;
		else if (py[i].entry)
			calls++;
	}
	size_t evals = 0;
	for (size_t i = 0; i < out->nnative; i++)
		evals += physical[i] && pp_is_evaluator(out->native[i].function);
	if (!whole) {
		out->result = PP_MERGE_NOT_WHOLE;
		snprintf(out->note, sizeof(out->note),
			 "its Python stack was cut short, so the stacks are shown apart");
	} else if (npy && !py[npy - 1].entry) {
		out->result = PP_MERGE_MISMATCH;
		snprintf(out->note, sizeof(out->note),
			 "its outermost Python frame begins no evaluation call");
	} else if (evals == 0 && calls > 0) {
		out->result = PP_MERGE_NO_EVALUATOR;
		snprintf(out->note, sizeof(out->note),
			 "no native frame is known as the evaluation function (" EVALUATOR
			 "): the interpreter has no symbols for it (install its debug symbols)");
	} else if (evals != calls) {
		out->result = PP_MERGE_MISMATCH;
		snprintf(out->note, sizeof(out->note),
			 "its native stack has %zu evaluation calls, its Python frames make %zu",
			 evals, calls);
	}
	if (out->result != PP_MERGE_OK) {
		free(physical);
		return 0;
	}

	out->merged = malloc((out->nnative + npy + 1) * sizeof(*out->merged));
	if (!out->merged) {
		free(physical);
		pp_native_stack_free(out);
		return -1;
	}
	size_t p = 0, first = 0; /* first: the current pc's first entry */
	for (size_t i = 0; i < out->nnative; i++) {
		if (!physical[i])
			continue;
		if (pp_is_evaluator(out->native[i].function)) {
			/* The Python frames of this call, up to its entry frame;
			 * the evaluator's own inlined helpers go with it. */
			while (p < npy) {
				out->merged[out->nmerged++] =
					(struct pp_merged_frame){.python = true, .py_index = p};
				if (py[p++].entry)
					break;
			}
		} else {
			for (size_t j = first; j <= i; j++)
				out->merged[out->nmerged++] =
					(struct pp_merged_frame){.sym = out->native[j]};
		}
		first = i + 1;
	}
	free(physical);
	return 0;
}
