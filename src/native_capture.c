/* The paused hook: unwind every stopped thread, keep its pcs by tid. */
#include "native_capture.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_paused(void *ctx, const int *tids, size_t ntids)
{
	struct pp_native_capture *c = ctx;
	uint64_t t0 = now_ns();
	c->nthreads = 0;
	c->npcs = 0;
	if (ntids > c->threads_cap) {
		struct pp_native_thread *v = realloc(c->threads, ntids * sizeof(*v));
		if (!v)
			return;
		c->threads = v;
		c->threads_cap = ntids;
	}
	for (size_t i = 0; i < ntids; i++) {
		if (c->npcs + PP_NATIVE_MAX_FRAMES > c->pcs_cap) {
			size_t cap = c->pcs_cap ? c->pcs_cap * 2 : 4 * PP_NATIVE_MAX_FRAMES;
			uint64_t *v = realloc(c->pcs, cap * sizeof(*v));
			if (!v)
				break;
			c->pcs = v;
			c->pcs_cap = cap;
		}
		struct pp_native_thread *th = &c->threads[c->nthreads++];
		th->tid = tids[i];
		th->off = c->npcs;
		th->n = pp_unwind_thread(c->unw, tids[i], c->pcs + c->npcs, PP_NATIVE_MAX_FRAMES,
					 &th->end);
		if (th->n > 0)
			c->npcs += (size_t)th->n;
	}
	c->unwind_ns += now_ns() - t0;
}

int pp_native_capture_init(struct pp_native_capture *c, struct pp_target *t, char *err,
			   size_t errlen)
{
	memset(c, 0, sizeof(*c));
	if (pp_target_native_open(t, &c->sym, &c->unw, err, errlen) != 0)
		return -1;
	pp_target_set_paused_hook(t, on_paused, c);
	return 0;
}

void pp_native_capture_free(struct pp_native_capture *c)
{
	pp_unwinder_free(c->unw);
	pp_symbolizer_free(c->sym);
	free(c->threads);
	free(c->pcs);
	memset(c, 0, sizeof(*c));
}

const uint64_t *pp_native_capture_pcs(const struct pp_native_capture *c, uint64_t tid,
				      size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < c->nthreads; i++)
		if ((uint64_t)c->threads[i].tid == tid) {
			if (c->threads[i].n <= 0)
				return NULL;
			*n = (size_t)c->threads[i].n;
			return c->pcs + c->threads[i].off;
		}
	return NULL;
}

enum pp_unwind_end pp_native_capture_end(const struct pp_native_capture *c, uint64_t tid)
{
	for (size_t i = 0; i < c->nthreads; i++)
		if ((uint64_t)c->threads[i].tid == tid)
			return c->threads[i].end;
	return PP_UNWIND_FAILED;
}
