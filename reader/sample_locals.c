/* The locals phase of a sample (snapshot.h): every shown Python frame's
 * arguments and locals, read where the walk found the frame. */
#include "frame_locals.h"
#include "target_internal.h"

void pp_read_locals(struct pp_target *t, const struct snapshot *s)
{
	if (!t->repr.mem)
		pp_repr_init(&t->repr, &t->mem, &t->layout);
	pp_locals_arena_reset(&t->locals);
	const struct pp_walker *w = &t->walker;
	for (size_t i = 0; i < s->nts; i++) {
		const struct tstate_rec *r = &s->ts[i];
		if (r->walk < 0 || r->taken_over)
			continue;
		const struct pp_walk *wk = &w->walks[r->walk];
		for (size_t j = 0; j < wk->depth; j++) {
			/* A chain frame made the output frame at its out_at
			 * if the next one starts past it (shims make none). */
			const struct pp_chain_frame *cf = &w->chain[wk->chain_off + j];
			size_t next = j + 1 < wk->depth ? w->chain[wk->chain_off + j + 1].out_at
							: wk->nout;
			if (next <= cf->out_at || cf->out_at >= wk->nout)
				continue;
			struct pp_frame *f = &t->frames.v[wk->out_start + cf->out_at];
			if (f->kind != PP_RF_PYTHON)
				continue;
			uint64_t code = cf->code & ~(uint64_t)t->layout.if_code_tag_bits;
			struct pp_frame_locals fl;
			if (pp_read_frame_locals(&t->repr, &t->locals, cf->addr, code, &fl) != 0) {
				f->locals_state = PP_LOCALS_UNREADABLE;
				continue;
			}
			f->locals = fl.v;
			f->nlocals = (uint32_t)fl.n;
			f->locals_cut = fl.cut;
			f->locals_state = PP_LOCALS_READ;
		}
	}
}
