/* The distinct stacks of a view, interned as root-first lists of view
 * frame ids: a renderer merges a view's samples by list (no text per
 * sample) and turns each distinct list into its text once. Shared by the
 * collapsed and speedscope renderers. Private to render/. */
#ifndef PYPROBE_RENDER_STACK_SET_H
#define PYPROBE_RENDER_STACK_SET_H

#include <stddef.h>
#include <stdint.h>

#include "../src/profile.h"

struct pp_stack_seq {
	size_t n;
	const uint32_t *ids;
	uint64_t count;  /* samples that had it */
	uint32_t index;  /* in pp_stack_set.seqs */
	uint32_t own[];  /* ids, once stored */
};

struct pp_stack_set {
	void *tree;                 /* tsearch tree of struct pp_stack_seq */
	struct pp_stack_seq **seqs; /* the same, in order of first use */
	size_t nseqs, capseqs;
	uint32_t *scratch;
	size_t capscratch;
};

/* Count one sample of the stack f[0..n) (root first); its index, or -1
 * when out of memory. Zero-initialise the set before the first call. */
long pp_stack_set_add(struct pp_stack_set *ss, const struct pp_view_frame *const *f, size_t n);
void pp_stack_set_free(struct pp_stack_set *ss);

#endif
