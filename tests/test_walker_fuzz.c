/* The frame walker, code cache and string reader over made-up memory.
 *
 * For every layout, build a well-formed synthetic thread in a fake address
 * space (a thread state, a chain of frames - frame objects on <=3.10, a
 * data-stack chunk plus a heap generator frame and C-stack shims on 3.11+ -
 * code objects, str objects of every kind, line tables) and check the clean
 * walk is exact. Then corrupt it thousands of ways (random bytes, pointers
 * redirected inside the space, small integers in pointer fields) and check
 * every walk terminates, stays within its bounds, and reports either a
 * complete stack of readable frames or a torn/error status with no frames.
 * Under the ASan/UBSan build this also shows no out-of-bounds access. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader/code_cache.h"
#include "reader/frame_walk.h"
#include "reader/layout.h"
#include "reader/memory.h"

#define BASE 0x100000ull
#define SPAN (1u << 20)
#define NFRAMES 24

struct fake {
	uint8_t *mem;
	uint64_t top; /* bump allocator */
};

static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct fake *f = ctx;
	if (addr < BASE || addr - BASE > SPAN || len > SPAN - (addr - BASE))
		return -14; /* -EFAULT */
	memcpy(buf, f->mem + (addr - BASE), len);
	return 0;
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t alloc(struct fake *f, size_t n)
{
	uint64_t a = f->top;
	f->top += (n + 15) & ~(size_t)15;
	cr_assert_lt(f->top - BASE, SPAN);
	return a;
}

static void put(struct fake *f, uint64_t addr, uint32_t off, const void *v, size_t n)
{
	if (off == PP_ABSENT)
		return;
	memcpy(f->mem + (addr - BASE) + off, v, n);
}
static void put64(struct fake *f, uint64_t addr, uint32_t off, uint64_t v) { put(f, addr, off, &v, 8); }
static void put32(struct fake *f, uint64_t addr, uint32_t off, uint32_t v) { put(f, addr, off, &v, 4); }
static void put8(struct fake *f, uint64_t addr, uint32_t off, uint8_t v) { put(f, addr, off, &v, 1); }

#define STR_TYPE (BASE + 0x100)
#define BYTES_TYPE (BASE + 0x200)
#define CODE_TYPE (BASE + 0x300)
#define FRAME_TYPE (BASE + 0x400)
#define NONE_OBJ (BASE + 0x500)

/* A str of the given kind whose characters are `ascii` (widened). */
static uint64_t make_str(struct fake *f, const struct py_layout *l, const char *ascii, int kind)
{
	size_t n = strlen(ascii);
	uint32_t hdr = kind == 1 ? l->str_ascii_data : l->str_compact_data;
	uint64_t a = alloc(f, hdr + (n + 1) * (size_t)kind);
	put64(f, a, l->ob_refcnt, 1);
	put64(f, a, l->ob_type, STR_TYPE);
	put64(f, a, l->str_length, n);
	uint32_t state = ((uint32_t)kind << 2) | (1u << 5) | (kind == 1 ? 1u << 6 : 0);
	put32(f, a, l->str_state, state);
	for (size_t i = 0; i < n; i++) {
		uint32_t c = (uint8_t)ascii[i];
		put(f, a + hdr + i * (size_t)kind, 0, &c, (size_t)kind);
	}
	return a;
}

static uint64_t make_bytes(struct fake *f, const struct py_layout *l, const uint8_t *b, size_t n)
{
	uint64_t a = alloc(f, l->bytes_sval + n + 1);
	put64(f, a, l->ob_refcnt, 1);
	put64(f, a, l->ob_type, BYTES_TYPE);
	put64(f, a, l->bytes_size, n);
	put(f, a, l->bytes_sval, b, n);
	return a;
}

/* A line table in which code unit u is on line firstlineno + u. */
static uint64_t make_linetable(struct fake *f, const struct py_layout *l, int units)
{
	uint8_t t[512];
	size_t n = 0;
	for (int u = 0; u < units && n + 2 <= sizeof(t); u++) {
		if (l->minor <= 9) {
			/* co_lnotab: "from byte addr+2 on, line+1" */
			t[n++] = 2;
			t[n++] = 1;
		} else if (l->minor == 10) {
			/* (range length, line delta) for [addr, addr+2) */
			t[n++] = 2;
			t[n++] = u == 0 ? 0 : 1;
		} else {
			/* one unit, "no columns" form, line delta as svarint */
			t[n++] = 0x80 | (13 << 3);
			t[n++] = u == 0 ? 0 : 2;
		}
	}
	return make_bytes(f, l, t, n);
}

static uint64_t make_code(struct fake *f, const struct py_layout *l, int i, int units)
{
	char name[32];
	snprintf(name, sizeof(name), "f%d", i);
	uint64_t c = alloc(f, l->co_size + (l->co_code_adaptive != PP_ABSENT ? (size_t)units * 2 : 0));
	put64(f, c, l->ob_refcnt, 1);
	put64(f, c, l->ob_type, CODE_TYPE);
	put64(f, c, l->co_name, make_str(f, l, name, (int[]){1, 2, 4}[i % 3]));
	put64(f, c, l->co_filename, make_str(f, l, "/app/mod.py", 1));
	if (l->co_qualname != PP_ABSENT) {
		char q[40];
		snprintf(q, sizeof(q), "C.f%d", i);
		put64(f, c, l->co_qualname, make_str(f, l, q, 1));
	}
	put32(f, c, l->co_firstlineno, 100);
	put64(f, c, l->co_linetable, make_linetable(f, l, units));
	if (l->co_code_adaptive != PP_ABSENT) {
		put64(f, c, l->ob_size, (uint64_t)units);
		put32(f, c, l->co_firsttraceable, 0);
	} else {
		uint8_t zero[128] = {0};
		put64(f, c, l->co_code, make_bytes(f, l, zero, (size_t)units * 2));
	}
	return c;
}

/* Build the thread; returns the thread-state address. Frame i (0 innermost)
 * runs code f<i> at unit i, i.e. line 100 + i. */
static uint64_t build_thread(struct fake *f, const struct py_layout *l)
{
	const int units = 40;
	uint64_t codes[NFRAMES];
	for (int i = 0; i < NFRAMES; i++)
		codes[i] = make_code(f, l, i, units);
	uint64_t ts = alloc(f, l->ts_size);

	if (l->if_size == PP_ABSENT) {
		uint64_t back = 0;
		for (int i = NFRAMES - 1; i >= 0; i--) {
			uint64_t fr = alloc(f, l->fo_size);
			put64(f, fr, l->ob_refcnt, 1);
			put64(f, fr, l->ob_type, FRAME_TYPE);
			put64(f, fr, l->fo_back, back);
			put64(f, fr, l->fo_code, codes[i]);
			put32(f, fr, l->fo_lasti, (uint32_t)(l->minor <= 9 ? 2 * i : i));
			put8(f, fr, l->fo_state, l->minor <= 9 ? 1 : 0);
			back = fr;
		}
		put64(f, ts, l->ts_frame, back);
		return ts;
	}

	/* 3.11+: oldest frames first in the chunk; frame 5 is a generator's
	 * frame living in the heap; 3.12+ gets C-stack shims at the bottom
	 * and in the middle. */
	uint64_t chunk = alloc(f, 64 * 1024);
	put64(f, chunk, l->chunk_previous, 0);
	put64(f, chunk, l->chunk_size, 64 * 1024);
	uint64_t slot = chunk + l->chunk_data, prev = 0;
	for (int i = NFRAMES - 1; i >= 0; i--) {
		int shim = l->owner_cstack != PP_ABSENT && (i == NFRAMES - 1 || i == 10);
		for (int s = 0; s <= shim; s++) {
			int is_shim = shim && s == 0;
			uint64_t fr = (i == 5 && !is_shim) ? alloc(f, l->if_size) : slot;
			if (fr == slot)
				slot += l->if_size + 32; /* + locals */
			put64(f, fr, l->if_previous, prev);
			if (is_shim) {
				put64(f, fr, l->if_code, NONE_OBJ);
				put8(f, fr, l->if_owner, (uint8_t)l->owner_cstack);
			} else {
				put64(f, fr, l->if_code, codes[i]);
				put64(f, fr, l->if_instr, codes[i] + l->co_code_adaptive + 2u * (uint32_t)i);
				put8(f, fr, l->if_owner, i == 5 ? (uint8_t)l->owner_generator : 0);
			}
			prev = fr;
		}
	}
	put64(f, chunk, l->chunk_top, (slot - chunk - l->chunk_data) / 8);
	put64(f, ts, l->ts_datastack_chunk, chunk);
	put64(f, ts, l->ts_datastack_top, slot);
	if (l->cf_current_frame != PP_ABSENT) {
		uint64_t cframe = alloc(f, 64);
		put64(f, cframe, l->cf_current_frame, prev);
		put64(f, ts, l->ts_frame, cframe);
	} else {
		put64(f, ts, l->ts_frame, prev);
	}
	return ts;
}

struct world {
	const struct py_layout *l;
	struct fake f;
	uint8_t *pristine;
	uint64_t ts;
	struct pp_mem m;
};

static void world_init(struct world *w, int minor)
{
	w->l = pp_layout_for(minor);
	cr_assert_not_null(w->l, "no layout for 3.%d", minor);
	w->f.mem = calloc(1, SPAN);
	w->f.top = BASE + 0x1000;
	w->ts = build_thread(&w->f, w->l);
	w->pristine = malloc(SPAN);
	memcpy(w->pristine, w->f.mem, SPAN);
	pp_mem_init_callback(&w->m, fake_read, &w->f);
}

static enum pp_walk_status walk(struct world *w, bool checked, bool paused,
				struct pp_frame_vec *out)
{
	struct pp_code_types types = {0};
	if (checked)
		types = (struct pp_code_types){CODE_TYPE, STR_TYPE, BYTES_TYPE};
	struct pp_code_cache *cc = pp_code_cache_new(w->l, &types);
	cr_assert_not_null(cc);
	struct pp_walker wk = {
		.mem = &w->m, .l = w->l, .codes = cc,
		.frame_type = checked ? FRAME_TYPE : 0, .paused = paused,
	};
	uint8_t ts[1024];
	memcpy(ts, w->f.mem + (w->ts - BASE), w->l->ts_size);
	out->n = 0;
	enum pp_walk_status st = pp_walk_thread(&wk, w->ts, ts, w->l->ts_size, out);
	cr_assert(st == PP_WALK_OK || st == PP_WALK_TORN || st == PP_WALK_ERROR);
	if (st != PP_WALK_OK)
		cr_assert_eq(out->n, 0, "a failed walk left %zu frames behind", out->n);
	cr_assert_leq(out->n, PP_MAX_FRAMES);
	for (size_t i = 0; i < out->n; i++) {
		const struct pp_code *c = out->v[i].code;
		cr_assert(c && c->name && c->filename && c->qualname);
		cr_assert_lt(strlen(c->name), 4u * 65536 + 1);
	}
	/* The cache owns the strings: check them before freeing it. */
	pp_walker_free(&wk);
	pp_code_cache_free(cc);
	return st;
}

static void check_clean(int minor)
{
	struct world w;
	world_init(&w, minor);
	for (int mode = 0; mode < 4; mode++) {
		struct pp_frame_vec out = {0};
		struct pp_code_types types = {CODE_TYPE, STR_TYPE, BYTES_TYPE};
		struct pp_code_cache *cc = pp_code_cache_new(w.l, &types);
		struct pp_walker wk = {.mem = &w.m, .l = w.l, .codes = cc,
				       .frame_type = FRAME_TYPE, .paused = mode & 1};
		uint8_t ts[1024];
		memcpy(ts, w.f.mem + (w.ts - BASE), w.l->ts_size);
		cr_assert_eq(pp_walk_thread(&wk, w.ts, ts, w.l->ts_size, &out), PP_WALK_OK,
			     "3.%d %s walk failed", minor, (mode & 1) ? "paused" : "running");
		cr_assert_eq(out.n, NFRAMES, "3.%d: %zu frames, want %d", minor, out.n, NFRAMES);
		for (int i = 0; i < NFRAMES; i++) {
			char want[40];
			snprintf(want, sizeof(want), "f%d", i);
			cr_assert_str_eq(out.v[i].code->name, want);
			if (w.l->co_qualname != PP_ABSENT) {
				snprintf(want, sizeof(want), "C.f%d", i);
				cr_assert_str_eq(out.v[i].code->qualname, want);
			}
			cr_assert_str_eq(out.v[i].code->filename, "/app/mod.py");
			cr_assert_eq(out.v[i].line, 100 + i, "3.%d frame %d line %d",
				     minor, i, out.v[i].line);
		}
		free(out.v);
		pp_walker_free(&wk);
		pp_code_cache_free(cc);
	}
	free(w.f.mem);
	free(w.pristine);
}

static void corrupt(struct world *w, int how)
{
	size_t used = (size_t)(w->f.top - BASE);
	int k = 1 + (int)(rnd() % 8);
	for (int i = 0; i < k; i++) {
		size_t off = (size_t)(rnd() % used) & ~(size_t)7;
		uint64_t v;
		switch (how) {
		case 0: /* random bits */
			w->f.mem[off + rnd() % 8] ^= (uint8_t)(1u << (rnd() % 8));
			continue;
		case 1: /* a pointer redirected somewhere inside the space */
			v = BASE + (rnd() % used & ~7ull);
			break;
		case 2: /* a small integer (lengths, owners, refcounts) */
			v = rnd() % 300;
			break;
		default: /* anything */
			v = rnd();
			break;
		}
		memcpy(w->f.mem + off, &v, 8);
	}
}

static void fuzz(int minor, int rounds)
{
	struct world w;
	world_init(&w, minor);
	size_t ok = 0, failed = 0;
	for (int r = 0; r < rounds; r++) {
		memcpy(w.f.mem, w.pristine, SPAN);
		corrupt(&w, r % 4);
		struct pp_frame_vec out = {0};
		if (walk(&w, (r / 4) % 2, (r / 8) % 2, &out) == PP_WALK_OK)
			ok++;
		else
			failed++;
		free(out.v);
	}
	/* Both outcomes must occur, or the corruption never reached the
	 * walker's checks (or broke everything at the first read). */
	cr_assert_gt(ok, 0);
	cr_assert_gt(failed, 0);
	cr_log_info("3.%d: %d corrupted walks: %zu complete, %zu rejected", minor,
		    rounds, ok, failed);
	free(w.f.mem);
	free(w.pristine);
}

#define VERSION_TESTS(minor)                                           \
	Test(walker, clean_3_##minor) { check_clean(minor); }          \
	Test(walker_fuzz, corrupted_3_##minor, .timeout = 240)         \
	{                                                              \
		rng_state = 0x9E3779B97F4A7C15ull ^ (uint64_t)(minor); \
		fuzz(minor, 3000);                                     \
	}

VERSION_TESTS(8)
VERSION_TESTS(9)
VERSION_TESTS(10)
VERSION_TESTS(11)
VERSION_TESTS(12)
VERSION_TESTS(13)

/* A chain that loops must end with an error, not spin or show frames. */
Test(walker_fuzz, cyclic_chains)
{
	for (int minor = 8; minor <= 13; minor++) {
		struct world w;
		world_init(&w, minor);
		const struct py_layout *l = w.l;
		/* Point the outermost frame back at the innermost. */
		uint8_t ts[1024];
		memcpy(ts, w.f.mem + (w.ts - BASE), l->ts_size);
		uint64_t inner = pp_get_u64(ts, l->ts_size, l->ts_frame);
		if (l->cf_current_frame != PP_ABSENT)
			memcpy(&inner, w.f.mem + (inner - BASE) + l->cf_current_frame, 8);
		uint64_t f = inner, last = inner;
		uint32_t link = l->if_size != PP_ABSENT ? l->if_previous : l->fo_back;
		for (;;) {
			uint64_t next;
			memcpy(&next, w.f.mem + (f - BASE) + link, 8);
			if (!next)
				break;
			last = f = next;
		}
		memcpy(w.f.mem + (last - BASE) + link, &inner, 8);
		struct pp_frame_vec out = {0};
		enum pp_walk_status st = walk(&w, true, true, &out);
		cr_assert_neq(st, PP_WALK_OK, "3.%d: a cyclic chain was accepted", minor);
		free(out.v);
		free(w.f.mem);
		free(w.pristine);
	}
}

/* 3.11+: a current-frame pointer read just before the thread returned
 * points at a dead slot above the live top of its data stack. Walking on
 * would splice dead frames onto newer ones; it must be rejected (the
 * paused walk has no such race and is not checked). */
Test(walker_fuzz, dead_slot_above_stack_top)
{
	for (int minor = 11; minor <= 13; minor++) {
		struct world w;
		world_init(&w, minor);
		const struct py_layout *l = w.l;
		uint8_t *ts = w.f.mem + (w.ts - BASE);
		uint64_t top;
		memcpy(&top, ts + l->ts_datastack_top, 8);
		/* The thread returned from its innermost frames: the live top
		 * drops below them while their bytes stay in place. */
		top -= 2 * (l->if_size + 32);
		memcpy(ts + l->ts_datastack_top, &top, 8);
		struct pp_frame_vec out = {0};
		cr_assert_eq(walk(&w, true, false, &out), PP_WALK_TORN,
			     "3.%d: a walk from a dead slot was accepted", minor);
		cr_assert_eq(walk(&w, true, true, &out), PP_WALK_OK);
		free(out.v);
		free(w.f.mem);
		free(w.pristine);
	}
}

/* A code object freed and its address reused by another: the cache must
 * notice at the end of the snapshot (pp_code_cache_validate), retire the
 * entry without freeing it, and the next walk must name the new code. */
Test(walker, reused_code_address_is_noticed)
{
	for (int minor = 8; minor <= 13; minor++) {
		struct world w;
		world_init(&w, minor);
		const struct py_layout *l = w.l;
		struct pp_code_types types = {CODE_TYPE, STR_TYPE, BYTES_TYPE};
		struct pp_code_cache *cc = pp_code_cache_new(l, &types);
		struct pp_walker wk = {.mem = &w.m, .l = l, .codes = cc,
				       .frame_type = FRAME_TYPE, .paused = true};
		uint8_t ts[1024];
		memcpy(ts, w.f.mem + (w.ts - BASE), l->ts_size);
		struct pp_frame_vec out = {0};
		pp_code_cache_new_epoch(cc);
		cr_assert_eq(pp_walk_thread(&wk, w.ts, ts, l->ts_size, &out), PP_WALK_OK);
		cr_assert_eq(pp_code_cache_validate(cc, &w.m), 0, "fresh entries are valid");
		const struct pp_code *old = out.v[0].code;
		cr_assert_str_eq(old->name, "f0");

		/* The innermost frame's code object now holds another function:
		 * same address, new name string. */
		uint64_t code;
		if (l->if_size != PP_ABSENT) {
			uint64_t f;
			if (l->cf_current_frame != PP_ABSENT)
				memcpy(&f, w.f.mem + (pp_get_u64(ts, l->ts_size, l->ts_frame) - BASE) +
					   l->cf_current_frame, 8);
			else
				f = pp_get_u64(ts, l->ts_size, l->ts_frame);
			memcpy(&code, w.f.mem + (f - BASE) + l->if_code, 8);
		} else {
			uint64_t f = pp_get_u64(ts, l->ts_size, l->ts_frame);
			memcpy(&code, w.f.mem + (f - BASE) + l->fo_code, 8);
		}
		uint64_t fresh = make_str(&w.f, l, "reborn", 1);
		put64(&w.f, code, l->co_name, fresh);
		if (l->co_qualname != PP_ABSENT)
			put64(&w.f, code, l->co_qualname, fresh);

		pp_code_cache_new_epoch(cc);
		out.n = 0;
		cr_assert_eq(pp_walk_thread(&wk, w.ts, ts, l->ts_size, &out), PP_WALK_OK);
		cr_assert_eq(pp_code_cache_validate(cc, &w.m), 1, "3.%d: stale entry missed", minor);
		cr_assert_str_eq(old->name, "f0", "a retired entry must stay readable");
		pp_code_cache_new_epoch(cc);
		out.n = 0;
		cr_assert_eq(pp_walk_thread(&wk, w.ts, ts, l->ts_size, &out), PP_WALK_OK);
		cr_assert_str_eq(out.v[0].code->name, "reborn");
		cr_assert_neq(out.v[0].code, old, "a new entry, not the retired one");
		cr_assert_eq(pp_code_cache_validate(cc, &w.m), 0);
		free(out.v);
		pp_walker_free(&wk);
		pp_code_cache_free(cc);
		free(w.f.mem);
		free(w.pristine);
	}
}

/* ---- read-ahead windows and their twins ------------------------------- */

struct twin_walk {
	struct world w;
	uint8_t *buf, *twin[2];
	uint64_t top[2];
	struct pp_window win[3];
	struct pp_code_cache *cc;
	struct pp_walker wk;
	struct pp_frame_vec out;
};

/* The whole fake space read ahead (and, if `twinned`, read twice again),
 * with the thread's datastack_top as top windows on 3.11+. */
static void twin_setup(struct twin_walk *t, int minor, bool twinned)
{
	memset(t, 0, sizeof(*t));
	world_init(&t->w, minor);
	const struct py_layout *l = t->w.l;
	t->buf = malloc(SPAN);
	memcpy(t->buf, t->w.f.mem, SPAN);
	for (int r = 0; r < 2; r++) {
		t->twin[r] = malloc(SPAN);
		memcpy(t->twin[r], t->w.f.mem, SPAN);
	}
	size_t n = 0;
	t->win[n++] = (struct pp_window){BASE, SPAN, t->buf,
					 {twinned ? t->twin[0] : NULL, twinned ? t->twin[1] : NULL},
					 PP_WIN_DATA, 0};
	if (l->if_size != PP_ABSENT) {
		for (unsigned r = 0; r < 2; r++) {
			memcpy(&t->top[r], t->w.f.mem + (t->w.ts - BASE) + l->ts_datastack_top, 8);
			t->win[n++] = (struct pp_window){t->w.ts + l->ts_datastack_top, 8,
							 (const uint8_t *)&t->top[r], {NULL, NULL},
							 PP_WIN_TOP, r};
		}
	}
	struct pp_code_types types = {CODE_TYPE, STR_TYPE, BYTES_TYPE};
	t->cc = pp_code_cache_new(l, &types);
	t->wk = (struct pp_walker){.mem = &t->w.m, .l = l, .codes = t->cc,
				   .frame_type = FRAME_TYPE, .defer_verify = true,
				   .pre = t->win, .npre = n};
}

static enum pp_walk_status twin_walk(struct twin_walk *t)
{
	const struct py_layout *l = t->w.l;
	uint8_t ts[1024];
	memcpy(ts, t->w.f.mem + (t->w.ts - BASE), l->ts_size);
	pp_walker_begin_sample(&t->wk);
	t->out.n = 0;
	return pp_walk_thread(&t->wk, t->w.ts, ts, l->ts_size, &t->out);
}

static void twin_free(struct twin_walk *t)
{
	free(t->out.v);
	pp_walker_free(&t->wk);
	pp_code_cache_free(t->cc);
	free(t->buf);
	free(t->twin[0]);
	free(t->twin[1]);
	free(t->w.f.mem);
	free(t->w.pristine);
}

/* Frame `depth`'s code pointer, changed in `mem` (a copy of the space). */
static void bend_code(struct twin_walk *t, uint8_t *mem, size_t depth)
{
	const struct py_layout *l = t->w.l;
	uint64_t f = t->wk.chain[depth * PP_CHAIN_N];
	uint32_t off = l->if_size != PP_ABSENT ? l->if_code : l->fo_code;
	uint64_t code;
	memcpy(&code, mem + (f - BASE) + off, 8);
	code += 16;
	memcpy(mem + (f - BASE) + off, &code, 8);
}

/* A walk inside twinned windows is judged on the spot, with no check left
 * over; a caller that changed between the copy and either twin, or
 * (3.11+) a top that fell below the frames before either, is torn. */
Test(walker, twins_verify_without_a_read)
{
	for (int minor = 8; minor <= 13; minor++) {
		struct twin_walk t;
		twin_setup(&t, minor, true);
		cr_assert_eq(twin_walk(&t), PP_WALK_OK, "3.%d: clean twinned walk", minor);
		cr_assert_eq(t.out.n, NFRAMES);
		cr_assert_eq(t.wk.nchecks, 0, "3.%d: a twinned walk left a check", minor);
		cr_assert_eq(t.wk.last_check, -1);

		for (int r = 0; r < 2; r++) {
			bend_code(&t, t.twin[r], 5);
			cr_assert_eq(twin_walk(&t), PP_WALK_TORN,
				     "3.%d: a caller that changed in twin %d was accepted", minor, r);
			cr_assert_eq(t.out.n, 0);
			memcpy(t.twin[r], t.buf, SPAN);
			cr_assert_eq(twin_walk(&t), PP_WALK_OK);
			if (t.w.l->if_size == PP_ABSENT)
				continue;
			uint64_t keep = t.top[r];
			t.top[r] -= 2 * (t.w.l->if_size + 32);
			cr_assert_eq(twin_walk(&t), PP_WALK_TORN,
				     "3.%d: frames above top %d were accepted", minor, r);
			t.top[r] = keep;
		}
		twin_free(&t);
	}
}

/* Without twins the walk leaves a check, and pp_walker_verify judges it
 * against the target as it is by then. */
Test(walker, deferred_checks_see_later_changes)
{
	for (int minor = 8; minor <= 13; minor++) {
		struct twin_walk t;
		twin_setup(&t, minor, false);
		cr_assert_eq(twin_walk(&t), PP_WALK_OK, "3.%d", minor);
		cr_assert_eq(t.wk.nchecks, 1, "3.%d: no deferred check", minor);
		bool ok[1] = {false};
		cr_assert_eq(pp_walker_verify(&t.wk, NULL, 0, ok), 0);
		cr_assert(ok[0], "3.%d: an unchanged chain failed its check", minor);
		cr_assert(pp_walker_verify_one(&t.wk, 0));

		bend_code(&t, t.w.f.mem, 7); /* the target moves on */
		ok[0] = true;
		cr_assert_eq(pp_walker_verify(&t.wk, NULL, 0, ok), 0);
		cr_assert(!ok[0], "3.%d: a changed caller passed its check", minor);
		cr_assert(!pp_walker_verify_one(&t.wk, 0));
		twin_free(&t);
	}
}
