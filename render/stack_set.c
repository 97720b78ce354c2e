/* Interned view stacks; see stack_set.h. */
#include "stack_set.h"

#include <search.h>
#include <stdlib.h>
#include <string.h>

static int seq_cmp(const void *a, const void *b)
{
	const struct pp_stack_seq *x = a, *y = b;
	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	for (size_t i = 0; i < x->n; i++)
		if (x->ids[i] != y->ids[i])
			return x->ids[i] < y->ids[i] ? -1 : 1;
	return 0;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 64;
	while (ncap < need)
		ncap *= 2;
	void *n = realloc(*arr, ncap * elem);
	if (!n)
		return -1;
	*arr = n;
	*cap = ncap;
	return 0;
}

long pp_stack_set_add(struct pp_stack_set *ss, const struct pp_view_frame *const *f, size_t n)
{
	if (grow((void **)&ss->scratch, &ss->capscratch, n ? n : 1, sizeof(*ss->scratch)) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		ss->scratch[i] = f[i]->id;
	struct pp_stack_seq key = {n, ss->scratch, 0, 0};
	void *found = tfind(&key, &ss->tree, seq_cmp);
	if (found) {
		struct pp_stack_seq *q = *(struct pp_stack_seq **)found;
		q->count++;
		return (long)q->index;
	}
	if (ss->nseqs >= UINT32_MAX ||
	    grow((void **)&ss->seqs, &ss->capseqs, ss->nseqs + 1, sizeof(*ss->seqs)) != 0)
		return -1;
	struct pp_stack_seq *q = malloc(sizeof(*q) + n * sizeof(uint32_t));
	if (!q)
		return -1;
	q->n = n;
	q->ids = q->own;
	q->count = 1;
	q->index = (uint32_t)ss->nseqs;
	if (n)
		memcpy(q->own, ss->scratch, n * sizeof(uint32_t));
	if (!tsearch(q, &ss->tree, seq_cmp)) {
		free(q);
		return -1;
	}
	ss->seqs[ss->nseqs++] = q;
	return (long)q->index;
}

void pp_stack_set_free(struct pp_stack_set *ss)
{
	tdestroy(ss->tree, free);
	free(ss->seqs);
	free(ss->scratch);
	memset(ss, 0, sizeof(*ss));
}
