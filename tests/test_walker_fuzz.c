/* The frame walker, its verification, the code cache and the string
 * reader over made-up memory (reader/frame_walk.h, verify.h).
 *
 * For every layout, build a well-formed synthetic thread in a fake address
 * space (a thread state, a chain of frames - frame objects on <=3.10, a
 * data-stack chunk plus a heap generator frame and C-stack shims on 3.11+ -
 * code objects, str objects of every kind, line tables) and check the clean
 * walk is exact, paused and running. Then:
 *   - corrupt it thousands of ways (random bytes anywhere; pointers
 *     redirected inside the space; small integers in pointer fields; and
 *     aimed at what the walker parses: line tables, names, frame links,
 *     code pointers and positions) and check every walk terminates within
 *     its bounds and says what it read: frames, markers, where it stopped;
 *   - move it between the walk and its re-reads (a caller that changed, a
 *     data-stack top that fell, a generator that yielded, a frame that
 *     returned) and check only what held still is shown;
 *   - break it on purpose (loops, garbage code pointers and names, huge
 *     names, chains past PP_MAX_FRAMES) and check each is shown for what it
 *     is.
 * Under the ASan/UBSan build this also shows no out-of-bounds access. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader/code_cache.h"
#include "reader/frame_walk.h"
#include "reader/layout.h"
#include "reader/memory.h"
#include "reader/pystring.h"

#include "reader/verify.h"

#define BASE 0x100000ull
#define SPAN (1u << 20)
#define NFRAMES 24

struct fake {
	uint8_t *mem;
	size_t span;
	uint64_t top; /* bump allocator */
};

static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct fake *f = ctx;
	if (addr < BASE || addr - BASE > f->span || len > f->span - (addr - BASE))
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
	cr_assert_lt(f->top - BASE, f->span);
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
	w->f.span = SPAN;
	w->f.top = BASE + 0x1000;
	w->ts = build_thread(&w->f, w->l);
	w->pristine = malloc(SPAN);
	memcpy(w->pristine, w->f.mem, SPAN);
	pp_mem_init_callback(&w->m, fake_read, &w->f);
}

static void world_free(struct world *w)
{
	free(w->f.mem);
	free(w->pristine);
}

static uint8_t *at(struct world *w, uint64_t addr)
{
	return w->f.mem + (addr - BASE);
}

static uint64_t get64(struct world *w, uint64_t addr, uint32_t off)
{
	uint64_t v;
	memcpy(&v, at(w, addr) + off, 8);
	return v;
}

/* The thread's innermost frame, as its thread state (or _PyCFrame) says. */
static uint64_t innermost(struct world *w)
{
	const struct py_layout *l = w->l;
	uint64_t f = get64(w, w->ts, l->ts_frame);
	return l->cf_current_frame != PP_ABSENT ? get64(w, f, l->cf_current_frame) : f;
}

static void set_innermost(struct world *w, uint64_t f)
{
	const struct py_layout *l = w->l;
	if (l->cf_current_frame != PP_ABSENT)
		put64(&w->f, get64(w, w->ts, l->ts_frame), l->cf_current_frame, f);
	else
		put64(&w->f, w->ts, l->ts_frame, f);
}

static uint32_t link_off(const struct py_layout *l)
{
	return l->if_size != PP_ABSENT ? l->if_previous : l->fo_back;
}

static uint32_t code_off(const struct py_layout *l)
{
	return l->if_size != PP_ABSENT ? l->if_code : l->fo_code;
}

/* The chain's frames, innermost first (shims included); returns how many. */
static size_t chain_of(struct world *w, uint64_t *out, size_t max)
{
	size_t n = 0;
	for (uint64_t f = innermost(w); f && n < max; f = get64(w, f, link_off(w->l)))
		out[n++] = f;
	return n;
}

/* The frame running code f<i> (a Python frame, not a shim). */
static uint64_t frame_of(struct world *w, int i)
{
	uint64_t ch[64];
	size_t n = chain_of(w, ch, 64), k = 0;
	for (size_t j = 0; j < n; j++) {
		const struct py_layout *l = w->l;
		if (l->owner_cstack != PP_ABSENT && at(w, ch[j])[l->if_owner] == l->owner_cstack)
			continue;
		if ((int)k++ == i)
			return ch[j];
	}
	cr_assert_fail("no frame %d", i);
	return 0;
}

/* A walker over w with a fresh code cache. */
struct walking {
	struct pp_code_cache *cc;
	struct pp_walker wk;
	struct pp_frame_vec out;
};

static void walking_init(struct walking *k, struct world *w, bool checked, bool paused)
{
	struct pp_code_types types = {0};
	if (checked)
		types = (struct pp_code_types){CODE_TYPE, STR_TYPE, BYTES_TYPE};
	k->cc = pp_code_cache_new(w->l, &types);
	cr_assert_not_null(k->cc);
	k->wk = (struct pp_walker){.mem = &w->m, .l = w->l, .codes = k->cc,
				   .frame_type = checked ? FRAME_TYPE : 0, .paused = paused};
	k->out = (struct pp_frame_vec){0};
}

static void walking_free(struct walking *k)
{
	free(k->out.v);
	pp_walker_free(&k->wk);
	pp_code_cache_free(k->cc);
}

/* Walk w's thread (windows: the read-ahead, or NULL). */
static struct pp_walk *walk_only(struct walking *k, struct world *w, const struct pp_window *win,
				 size_t nwin, const struct pp_resume *resume)
{
	uint8_t ts[1024];
	memcpy(ts, at(w, w->ts), w->l->ts_size);
	pp_walker_begin_sample(&k->wk, win, nwin);
	k->out.n = 0;
	long i = pp_walk_thread(&k->wk, w->ts, ts, w->l->ts_size, resume, &k->out);
	cr_assert_geq(i, 0, "out of memory?");
	return &k->wk.walks[i];
}

static void judge(struct walking *k, struct pp_walk *wk)
{
	if (k->wk.paused) {
		pp_verify_paused(&k->wk, wk);
	} else {
		size_t idx = (size_t)(wk - k->wk.walks);
		pp_verify_read(&k->wk, &idx, 1, NULL, 0);
	}
}

/* Walk and judge: against w's memory as it is now, or as it was read
 * when paused. */
static struct pp_walk *walk(struct walking *k, struct world *w, const struct pp_resume *resume)
{
	struct pp_walk *wk = walk_only(k, w, NULL, 0, resume);
	judge(k, wk);
	return wk;
}

/* The output frames shown (from the first one inside what held still). */
static size_t shown_from(const struct walking *k, const struct pp_walk *wk)
{
	return wk->verified_from < wk->depth ? k->wk.chain[wk->chain_off + wk->verified_from].out_at
					     : 0;
}

static bool whole(const struct walking *k, const struct pp_walk *wk)
{
	return wk->end == PP_END_BOTTOM && pp_walk_shown(wk) && shown_from(k, wk) == 0 &&
	       !wk->resumed;
}

/* What every walk must be, whatever memory it read. */
static void check_walk(const struct walking *k, const struct pp_walk *wk)
{
	cr_assert_leq(wk->depth, PP_MAX_FRAMES);
	cr_assert_leq(wk->nout, wk->depth, "one output frame per chain frame at most");
	cr_assert_leq(wk->verified_from, wk->depth + 1);
	cr_assert_eq(k->out.n, wk->out_start + wk->nout);
	uint32_t last = 0;
	for (size_t i = 0; i < wk->depth; i++) {
		const struct pp_chain_frame *c = &k->wk.chain[wk->chain_off + i];
		cr_assert(c->out_at >= last && c->out_at <= wk->nout, "out_at out of order");
		last = c->out_at;
		if (i + 1 < wk->depth)
			cr_assert_eq(c->link, k->wk.chain[wk->chain_off + i + 1].addr,
				     "the chain is what its links say");
	}
	if (wk->end == PP_END_BOTTOM && wk->depth)
		cr_assert_eq(k->wk.chain[wk->chain_off + wk->depth - 1].link, 0);
	for (size_t i = 0; i < wk->nout; i++) {
		const struct pp_frame *f = &k->out.v[wk->out_start + i];
		if (f->kind != PP_RF_PYTHON) {
			cr_assert(f->kind == PP_RF_UNREADABLE && f->why == PP_UNREAD_NOT_CODE,
				  "a walk's own markers stand for unreadable code objects");
			continue;
		}
		const struct pp_code *c = f->code;
		cr_assert_not_null(c);
		const char *s[] = {c->name, c->qualname, c->filename};
		for (int j = 0; j < 3; j++)
			cr_assert(!s[j] || strlen(s[j]) <= 4 * PP_STR_SHOW_CHARS + 3);
		cr_assert(f->line >= -2);
	}
}

/* ---- a clean thread ------------------------------------------------------- */

static void check_clean(int minor)
{
	struct world w;
	world_init(&w, minor);
	for (int mode = 0; mode < 2; mode++) {
		struct walking k;
		walking_init(&k, &w, true, mode);
		struct pp_walk *wk = walk(&k, &w, NULL);
		check_walk(&k, wk);
		cr_assert(whole(&k, wk) && wk->verified_from == 0 && wk->bottom_ok,
			  "3.%d %s: not whole (end %d, verified from %zu of %zu)", minor,
			  mode ? "paused" : "running", wk->end, wk->verified_from, wk->depth);
		cr_assert_eq(k.out.n, NFRAMES, "3.%d: %zu frames, want %d", minor, k.out.n, NFRAMES);
		for (int i = 0; i < NFRAMES; i++) {
			const struct pp_frame *f = &k.out.v[i];
			char want[40];
			cr_assert_eq(f->kind, PP_RF_PYTHON);
			snprintf(want, sizeof(want), "f%d", i);
			cr_assert_str_eq(f->code->name, want);
			if (w.l->co_qualname != PP_ABSENT) {
				snprintf(want, sizeof(want), "C.f%d", i);
				cr_assert_str_eq(f->code->qualname, want);
			}
			cr_assert_str_eq(f->code->filename, "/app/mod.py");
			cr_assert_eq(f->line, 100 + i, "3.%d frame %d line %d", minor, i, f->line);
		}
		walking_free(&k);
	}
	world_free(&w);
}

/* ---- corrupted threads -------------------------------------------------------- */

/* Corruption aimed at what the walker parses. */
static void corrupt_targeted(struct world *w, int how)
{
	const struct py_layout *l = w->l;
	uint64_t f = frame_of(w, (int)(rnd() % NFRAMES));
	uint64_t code = get64(w, f, code_off(l));
	uint64_t ch[64] = {0};
	size_t n = chain_of(w, ch, 64);
	if (!n)
		n = 1;
	uint64_t junk[] = {0, 8, 0x10, rnd(), BASE + (rnd() % (w->f.top - BASE)), f, ch[rnd() % n],
			   STR_TYPE, code};
	uint64_t v = junk[rnd() % (sizeof(junk) / sizeof(junk[0]))];
	switch (how) {
	case 0: /* a frame's link */
		put64(&w->f, f, link_off(l), v);
		break;
	case 1: /* a frame's code */
		put64(&w->f, f, code_off(l), v);
		break;
	case 2: /* a frame's position */
		if (l->if_size != PP_ABSENT)
			put64(&w->f, f, l->if_instr, rnd() % 2 ? v : code + l->co_code_adaptive +
							       (rnd() % 4096) - 2048);
		else
			put32(&w->f, f, l->fo_lasti, (uint32_t)rnd());
		break;
	case 3: { /* a name, a file name, a line table pointer */
		uint32_t fields[] = {l->co_name, l->co_filename, l->co_linetable, l->co_qualname};
		uint32_t off = fields[rnd() % 4];
		if (off != PP_ABSENT)
			put64(&w->f, code, off, v);
		break;
	}
	case 4: { /* a str's length, state or characters */
		uint64_t s = get64(w, code, rnd() % 2 ? l->co_name : l->co_filename);
		uint32_t offs[] = {l->str_length, l->str_state, l->str_ascii_data,
				   l->str_compact_data};
		uint32_t off = offs[rnd() % 4];
		uint64_t x = rnd() % 3 == 0 ? rnd() : rnd() % 70000;
		put(&w->f, s, off, &x, rnd() % 2 ? 8 : 1);
		break;
	}
	default: { /* a line table's size or bytes */
		uint64_t t = get64(w, code, l->co_linetable);
		if (rnd() % 3 == 0) {
			put64(&w->f, t, l->bytes_size, rnd() % 3 ? rnd() % 4096 : rnd());
		} else {
			for (int i = 0; i < 8; i++)
				put8(&w->f, t, l->bytes_sval + (uint32_t)(rnd() % 80), (uint8_t)rnd());
		}
		break;
	}
	}
}

/* Corruption anywhere. */
static void corrupt_anywhere(struct world *w, int how)
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
	size_t whole_n = 0, other = 0;
	for (int r = 0; r < rounds; r++) {
		memcpy(w.f.mem, w.pristine, SPAN);
		if (r % 2)
			corrupt_targeted(&w, (r / 2) % 6);
		else
			corrupt_anywhere(&w, (r / 2) % 4);
		struct walking k;
		walking_init(&k, &w, (r / 12) % 2, (r / 24) % 2);
		struct pp_walk *wk = walk(&k, &w, NULL);
		check_walk(&k, wk);
		if (whole(&k, wk))
			whole_n++;
		else
			other++;
		walking_free(&k);
	}
	/* Both outcomes must occur, or the corruption never reached the
	 * walker's checks (or broke everything at the first read). */
	cr_assert_gt(whole_n, 0);
	cr_assert_gt(other, 0);
	cr_log_info("3.%d: %d corrupted walks: %zu whole, %zu not", minor, rounds, whole_n, other);
	world_free(&w);
}

#define VERSION_TESTS(minor)                                           \
	Test(walker, clean_3_##minor) { check_clean(minor); }          \
	Test(walker_fuzz, corrupted_3_##minor, .timeout = 240)         \
	{                                                              \
		rng_state = 0x9E3779B97F4A7C15ull ^ (uint64_t)(minor); \
		fuzz(minor, 4000);                                     \
	}

VERSION_TESTS(8)
VERSION_TESTS(9)
VERSION_TESTS(10)
VERSION_TESTS(11)
VERSION_TESTS(12)
VERSION_TESTS(13)

/* ---- broken on purpose: shown for what it is ---------------------------------- */

/* A chain that loops ends where it loops, at once, and all that was read
 * is shown, paused or running (it held still): unreadable, not moving. */
Test(walker, loops_end_at_once)
{
	for (int minor = 8; minor <= 13; minor++) {
		struct world w;
		world_init(&w, minor);
		uint64_t ch[64] = {0};
		size_t n = chain_of(&w, ch, 64);
		cr_assert_gt(n, 4);
		put64(&w.f, ch[n - 1], link_off(w.l), ch[3]); /* the outermost leads back in */
		for (int paused = 0; paused < 2; paused++) {
			struct walking k;
			walking_init(&k, &w, true, paused);
			struct pp_walk *wk = walk(&k, &w, NULL);
			check_walk(&k, wk);
			cr_assert_eq(wk->end, PP_END_LOOP, "3.%d", minor);
			cr_assert_eq(wk->depth, n, "3.%d: every frame once", minor);
			cr_assert_eq(wk->end_addr, ch[3]);
			cr_assert_eq(wk->verified_from, 0, "3.%d %s: all of it is shown", minor,
				     paused ? "paused" : "running");
			walking_free(&k);
		}
		world_free(&w);
	}
}

/* A frame whose code pointer is garbage is an unreadable frame in its
 * place; a name, a file, a line table that cannot be read are "?"; the
 * rest of the stack is whole. */
Test(walker, unreadable_parts_keep_the_rest)
{
	for (int minor = 8; minor <= 13; minor++) {
		struct world w;
		world_init(&w, minor);
		const struct py_layout *l = w.l;
		put64(&w.f, frame_of(&w, 3), code_off(l), 0x10);
		uint64_t c7 = get64(&w, frame_of(&w, 7), code_off(l));
		put64(&w.f, c7, l->co_qualname != PP_ABSENT ? l->co_qualname : l->co_name, 0x18);
		uint64_t c9 = get64(&w, frame_of(&w, 9), code_off(l));
		put64(&w.f, c9, l->co_filename, BYTES_TYPE); /* not a str */
		uint64_t c11 = get64(&w, frame_of(&w, 11), code_off(l));
		put64(&w.f, c11, l->co_linetable, 0x20);
		for (int paused = 0; paused < 2; paused++) {
			struct walking k;
			walking_init(&k, &w, true, paused);
			struct pp_walk *wk = walk(&k, &w, NULL);
			check_walk(&k, wk);
			cr_assert(whole(&k, wk), "3.%d: not whole", minor);
			cr_assert_eq(k.out.n, NFRAMES);
			const struct pp_frame *f = k.out.v;
			cr_assert(f[3].kind == PP_RF_UNREADABLE && f[3].why == PP_UNREAD_NOT_CODE);
			cr_assert_null(f[7].code->qualname, "3.%d", minor);
			cr_assert_str_eq(f[7].code->filename, "/app/mod.py");
			cr_assert_eq(f[7].line, 107);
			cr_assert_null(f[9].code->filename);
			cr_assert_eq(f[9].line, 109);
			cr_assert_eq(f[11].line, PP_FRAME_LINE_UNKNOWN);
			cr_assert_str_eq(f[11].code->filename, "/app/mod.py");
			cr_assert_str_eq(f[12].code->name, "f12");
			walking_free(&k);
		}
		world_free(&w);
	}
}

/* A name past PP_STR_SHOW_CHARS is cut there, with an ellipsis; a length
 * that is garbage (the str does not end where it says) is not read. */
Test(walker, long_names_are_cut_and_said_so)
{
	for (int minor = 8; minor <= 13; minor++) {
		struct world w;
		world_init(&w, minor);
		const struct py_layout *l = w.l;
		char *big = malloc(5001);
		memset(big, 'q', 5000);
		big[5000] = '\0';
		uint64_t s = make_str(&w.f, l, big, 1);
		free(big);
		uint64_t c2 = get64(&w, frame_of(&w, 2), code_off(l));
		put64(&w.f, c2, l->co_name, s);
		if (l->co_qualname != PP_ABSENT)
			put64(&w.f, c2, l->co_qualname, s);
		uint64_t bogus = make_str(&w.f, l, "short", 1);
		put64(&w.f, bogus, l->str_length, 1ull << 50);
		uint64_t c4 = get64(&w, frame_of(&w, 4), code_off(l));
		put64(&w.f, c4, l->co_filename, bogus);
		struct walking k;
		walking_init(&k, &w, true, true);
		walk(&k, &w, NULL);
		const char *n = k.out.v[2].code->name;
		cr_assert_eq(strlen(n), PP_STR_SHOW_CHARS + 3, "3.%d: %zu bytes", minor, strlen(n));
		cr_assert_str_eq(n + PP_STR_SHOW_CHARS, "\xE2\x80\xA6");
		cr_assert_null(k.out.v[4].code->filename);
		cr_assert_str_eq(k.out.v[4].code->name, "f4");
		walking_free(&k);
		world_free(&w);
	}
}

/* A chain deeper than PP_MAX_FRAMES: the innermost PP_MAX_FRAMES are read
 * and shown, the rest counted, in time linear in depth. */
static void check_deep(int minor)
{
	const struct py_layout *l = pp_layout_for(minor);
	const size_t extra = 1000, nframes = PP_MAX_FRAMES + extra;
	struct world w = {.l = l};
	size_t fsz = l->if_size != PP_ABSENT ? l->if_size + 32 : l->fo_size;
	w.f.span = (nframes + 4096) * ((fsz + 15) & ~(size_t)15) + (8u << 20);
	w.f.mem = calloc(1, w.f.span);
	cr_assert_not_null(w.f.mem);
	w.f.top = BASE + 0x1000;
	pp_mem_init_callback(&w.m, fake_read, &w.f);
	uint64_t code = make_code(&w.f, l, 0, 40);
	w.ts = alloc(&w.f, l->ts_size);
	uint64_t prev = 0;
	if (l->if_size == PP_ABSENT) {
		for (size_t i = 0; i < nframes; i++) {
			uint64_t fr = alloc(&w.f, l->fo_size);
			put64(&w.f, fr, l->ob_refcnt, 1);
			put64(&w.f, fr, l->ob_type, FRAME_TYPE);
			put64(&w.f, fr, l->fo_back, prev);
			put64(&w.f, fr, l->fo_code, code);
			put32(&w.f, fr, l->fo_lasti, l->minor <= 9 ? 2 : 1); /* unit 1 */
			put8(&w.f, fr, l->fo_state, l->minor <= 9 ? 1 : 0);
			prev = fr;
		}
		put64(&w.f, w.ts, l->ts_frame, prev);
	} else {
		/* 1 MB chunks, as a deep recursion fills them */
		const size_t chunk_bytes = 1u << 20;
		uint64_t chunk = 0, slot = 0, end = 0;
		for (size_t i = 0; i < nframes; i++) {
			if (slot + l->if_size + 32 > end) {
				uint64_t c = alloc(&w.f, chunk_bytes);
				put64(&w.f, c, l->chunk_previous, chunk);
				put64(&w.f, c, l->chunk_size, chunk_bytes);
				chunk = c;
				slot = c + l->chunk_data;
				end = c + chunk_bytes;
			}
			bool shim = l->owner_cstack != PP_ABSENT && i == 0;
			put64(&w.f, slot, l->if_previous, prev);
			put64(&w.f, slot, l->if_code, shim ? NONE_OBJ : code);
			put64(&w.f, slot, l->if_instr, code + l->co_code_adaptive + 2);
			put8(&w.f, slot, l->if_owner, shim ? (uint8_t)l->owner_cstack : 0);
			prev = slot;
			slot += l->if_size + 32;
		}
		put64(&w.f, w.ts, l->ts_datastack_chunk, chunk);
		put64(&w.f, w.ts, l->ts_datastack_top, slot);
		if (l->cf_current_frame != PP_ABSENT) {
			uint64_t cframe = alloc(&w.f, 64);
			put64(&w.f, cframe, l->cf_current_frame, prev);
			put64(&w.f, w.ts, l->ts_frame, cframe);
		} else {
			put64(&w.f, w.ts, l->ts_frame, prev);
		}
	}
	for (int paused = 0; paused < 2; paused++) {
		struct walking k;
		walking_init(&k, &w, true, paused);
		struct pp_walk *wk = walk(&k, &w, NULL);
		cr_assert_eq(wk->end, PP_END_TOO_DEEP, "3.%d: end %d", minor, wk->end);
		cr_assert_eq(wk->depth, PP_MAX_FRAMES);
		cr_assert(wk->beyond_exact && wk->beyond == extra, "3.%d: %llu beyond", minor,
			  (unsigned long long)wk->beyond);
		cr_assert_eq(wk->verified_from, 0, "3.%d: what was read is shown", minor);
		cr_assert_eq(k.out.n, PP_MAX_FRAMES);
		cr_assert_eq(k.out.v[PP_MAX_FRAMES - 1].line, 101);
		walking_free(&k);
	}
	free(w.f.mem);
}

Test(walker, deep_chains_3_10, .timeout = 120) { check_deep(10); }
Test(walker, deep_chains_3_12, .timeout = 120) { check_deep(12); }

/* A code object freed and its address reused by another: the cache must
 * notice at the end of the snapshot (pp_code_cache_validate), retire the
 * entry without freeing it, and the next walk must name the new code. */
Test(walker, reused_code_address_is_noticed)
{
	for (int minor = 8; minor <= 13; minor++) {
		struct world w;
		world_init(&w, minor);
		const struct py_layout *l = w.l;
		struct walking k;
		walking_init(&k, &w, true, true);
		pp_code_cache_new_epoch(k.cc);
		walk(&k, &w, NULL);
		cr_assert_eq(pp_code_cache_validate(k.cc, &w.m), 0, "fresh entries are valid");
		const struct pp_code *old = k.out.v[0].code;
		cr_assert_str_eq(old->name, "f0");

		/* The innermost frame's code object now holds another function:
		 * same address, new name string. */
		uint64_t code = get64(&w, frame_of(&w, 0), code_off(l));
		uint64_t fresh = make_str(&w.f, l, "reborn", 1);
		put64(&w.f, code, l->co_name, fresh);
		if (l->co_qualname != PP_ABSENT)
			put64(&w.f, code, l->co_qualname, fresh);

		pp_code_cache_new_epoch(k.cc);
		walk(&k, &w, NULL);
		cr_assert_eq(pp_code_cache_validate(k.cc, &w.m), 1, "3.%d: stale entry missed", minor);
		cr_assert_str_eq(old->name, "f0", "a retired entry must stay readable");
		pp_code_cache_new_epoch(k.cc);
		walk(&k, &w, NULL);
		cr_assert_str_eq(k.out.v[0].code->name, "reborn");
		cr_assert_neq(k.out.v[0].code, old, "a new entry, not the retired one");
		cr_assert_eq(pp_code_cache_validate(k.cc, &w.m), 0);
		walking_free(&k);
		world_free(&w);
	}
}

/* ---- moving: only what held still is shown -------------------------------------- */

/* A caller whose code changed between the walk and the re-read did not
 * hold still: neither it nor anything inside it is shown. One whose
 * position moved on is the last shown. */
Test(walker, only_what_held_still_is_shown)
{
	for (int minor = 8; minor <= 13; minor++) {
		struct world w;
		world_init(&w, minor);
		const struct py_layout *l = w.l;
		uint64_t ch[64] = {0};
		cr_assert_gt(chain_of(&w, ch, 64), 8);
		for (int what = 0; what < 2; what++) {
			struct walking k;
			walking_init(&k, &w, true, false);
			struct pp_walk *wk = walk_only(&k, &w, NULL, 0, NULL);
			/* the target moves on before the re-read */
			size_t moved = 7;
			if (what == 0) {
				uint64_t c = get64(&w, ch[moved], code_off(l));
				put64(&w.f, ch[moved], code_off(l), c + 16);
			} else if (l->if_size != PP_ABSENT) {
				put64(&w.f, ch[moved], l->if_instr, get64(&w, ch[moved], l->if_instr) + 2);
			} else {
				put32(&w.f, ch[moved], l->fo_lasti, 77);
			}
			judge(&k, wk);
			check_walk(&k, wk);
			cr_assert_eq(wk->verified_from, what == 0 ? moved + 1 : moved,
				     "3.%d, %s moved: verified from %zu", minor,
				     what == 0 ? "a code" : "a position", wk->verified_from);
			cr_assert(pp_walk_shown(wk) && shown_from(&k, wk) > 0);
			memcpy(w.f.mem, w.pristine, SPAN);
			walking_free(&k);
		}
		world_free(&w);
	}
}

/* 3.11+: a current-frame pointer read just before the thread returned
 * points at dead slots above the live top of its data stack: they are not
 * shown, what is below the top is (paused, nothing moves: all of it). */
Test(walker, dead_slots_above_the_top_are_not_shown)
{
	for (int minor = 11; minor <= 13; minor++) {
		struct world w;
		world_init(&w, minor);
		const struct py_layout *l = w.l;
		uint64_t top = get64(&w, w.ts, l->ts_datastack_top);
		top -= 2 * (l->if_size + 32); /* the two innermost frames returned */
		put64(&w.f, w.ts, l->ts_datastack_top, top);
		for (int paused = 0; paused < 2; paused++) {
			struct walking k;
			walking_init(&k, &w, true, paused);
			struct pp_walk *wk = walk(&k, &w, NULL);
			check_walk(&k, wk);
			cr_assert_eq(wk->verified_from, paused ? 0 : 2, "3.%d", minor);
			walking_free(&k);
		}
		world_free(&w);
	}
}

/* 3.11+: a call moves the top over its new frame before it fills the
 * frame in and makes it current; a walk that started from a current-frame
 * pointer read before that (the slot's last occupant) finds the slot
 * half-filled, under the top, its caller at the call. The re-read's
 * current frame says the slot is not on the stack yet: not shown. */
Test(walker, frames_above_the_current_frame_are_not_shown)
{
	for (int minor = 11; minor <= 13; minor++) {
		struct world w;
		world_init(&w, minor);
		uint64_t ch[64] = {0};
		cr_assert_gt(chain_of(&w, ch, 64), 8);
		struct walking k;
		walking_init(&k, &w, true, false);
		struct pp_walk *wk = walk_only(&k, &w, NULL, 0, NULL);
		set_innermost(&w, ch[2]); /* the top stays where it was */
		judge(&k, wk);
		check_walk(&k, wk);
		cr_assert_eq(wk->verified_from, 2, "3.%d: verified from %zu", minor,
			     wk->verified_from);
		walking_free(&k);
		world_free(&w);
	}
}

/* A frame whose position is none its code can have is not a frame of a
 * real stack, however still it holds (3.14+: a slot caught half set up
 * has its new code beside the last occupant's position): not shown, nor
 * anything inside it. */
Test(walker, impossible_position_is_never_held)
{
	for (int minor = 8; minor <= 13; minor++) {
		struct world w;
		world_init(&w, minor);
		const struct py_layout *l = w.l;
		uint64_t ch[64] = {0};
		cr_assert_gt(chain_of(&w, ch, 64), 8);
		size_t bad = 3;
		if (l->if_size != PP_ABSENT)
			put64(&w.f, ch[bad], l->if_instr, get64(&w, ch[bad], l->if_instr) + (1u << 20));
		else
			put32(&w.f, ch[bad], l->fo_lasti, 1u << 20);
		struct walking k;
		walking_init(&k, &w, true, false);
		struct pp_walk *wk = walk(&k, &w, NULL);
		check_walk(&k, wk);
		cr_assert_eq(wk->verified_from, bad + 1, "3.%d: verified from %zu", minor,
			     wk->verified_from);
		walking_free(&k);
		world_free(&w);
	}
}

/* A stack read while it moved resumes from where it stood at the last
 * sample: 3.11+, a generator that yielded (its link cleared, the frames
 * inside it returned); <=3.10, an innermost frame that returned (its link
 * now leads into the free list). Without that knowledge nothing of it is
 * shown; with it, the frames from the first that still stands, cut short
 * above. A resumed walk that ends anywhere else is not shown. */
Test(walker, resumes_where_the_stack_stood)
{
	for (int minor = 8; minor <= 13; minor++) {
		struct world w;
		world_init(&w, minor);
		const struct py_layout *l = w.l;
		uint64_t before[64] = {0};
		size_t n = chain_of(&w, before, 64);
		cr_assert_gt(n, 8);
		struct pp_resume resume = {before, n < PP_RESUME_FRAMES ? n : PP_RESUME_FRAMES,
					   before[n - 1]};
		int first_shown;
		if (l->if_size != PP_ABSENT) {
			/* f5 is the generator: it yielded, f0..f4 returned */
			uint64_t gen = frame_of(&w, 5), f4 = frame_of(&w, 4);
			put64(&w.f, gen, l->if_previous, 0);
			set_innermost(&w, gen);
			put64(&w.f, w.ts, l->ts_datastack_top, f4);
			first_shown = 6;
		} else {
			/* f0 returned and was freed onto the free list, which its
			 * link now leads to */
			uint64_t f0 = frame_of(&w, 0), freed = alloc(&w.f, l->fo_size);
			put64(&w.f, freed, l->ob_refcnt, 0);
			put64(&w.f, freed, l->ob_type, FRAME_TYPE);
			put8(&w.f, freed, l->fo_state, l->minor <= 9 ? 0 : 1);
			put64(&w.f, f0, l->ob_refcnt, 0);
			put8(&w.f, f0, l->fo_state, l->minor <= 9 ? 0 : 1);
			put64(&w.f, f0, l->fo_back, freed);
			first_shown = 1;
		}
		struct walking k;
		walking_init(&k, &w, true, false);
		struct pp_walk *wk = walk(&k, &w, NULL);
		check_walk(&k, wk);
		cr_assert(!pp_walk_shown(wk), "3.%d: shown without knowing where it stood", minor);
		wk = walk(&k, &w, &resume);
		check_walk(&k, wk);
		cr_assert(wk->resumed && !wk->resume_lost && pp_walk_shown(wk), "3.%d", minor);
		cr_assert_eq(wk->verified_from, 0);
		size_t from = shown_from(&k, wk);
		char want[8];
		snprintf(want, sizeof want, "f%d", first_shown);
		cr_assert_str_eq(k.out.v[wk->out_start + from].code->name, want);
		cr_assert_eq(wk->nout - from, (size_t)(NFRAMES - first_shown));
		/* where it stood, a thread ended in another outermost frame */
		resume.outermost = before[0];
		wk = walk(&k, &w, &resume);
		cr_assert(wk->resume_lost && !pp_walk_shown(wk), "3.%d", minor);
		walking_free(&k);
		world_free(&w);
	}
}

/* ---- read-ahead windows and their twins ------------------------------- */

struct twin_walk {
	struct world w;
	uint8_t *buf, *twin[2];
	/* per round: the top, the current frame pointer and (3.11/3.12) the
	 * current frame in its _PyCFrame, as verify.c re-reads them */
	uint64_t top[2], curp[2], cur[2];
	struct pp_window win[7];
	size_t nwin;
	struct walking k;
};

/* The whole fake space read ahead (and, if `twinned`, read twice again),
 * with what says what is on the thread's stack as top windows on 3.11+:
 * its datastack_top, its current frame pointer and (3.11/3.12) the current
 * frame in the _PyCFrame that points to. */
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
			memcpy(&t->top[r], at(&t->w, t->w.ts) + l->ts_datastack_top, 8);
			t->win[n++] = (struct pp_window){t->w.ts + l->ts_datastack_top, 8,
							 (const uint8_t *)&t->top[r], {NULL, NULL},
							 PP_WIN_TOP, r};
			memcpy(&t->curp[r], at(&t->w, t->w.ts) + l->ts_frame, 8);
			t->win[n++] = (struct pp_window){t->w.ts + l->ts_frame, 8,
							 (const uint8_t *)&t->curp[r], {NULL, NULL},
							 PP_WIN_TOP, r};
			if (l->cf_current_frame == PP_ABSENT)
				continue;
			uint64_t cf = t->curp[r] + l->cf_current_frame;
			memcpy(&t->cur[r], at(&t->w, cf), 8);
			t->win[n++] = (struct pp_window){cf, 8, (const uint8_t *)&t->cur[r],
							 {NULL, NULL}, PP_WIN_TOP, r};
		}
	}
	t->nwin = n;
	walking_init(&t->k, &t->w, true, false);
}

static struct pp_walk *twin_walk(struct twin_walk *t)
{
	return walk_only(&t->k, &t->w, t->win, t->nwin, NULL);
}

static void twin_free(struct twin_walk *t)
{
	walking_free(&t->k);
	free(t->buf);
	free(t->twin[0]);
	free(t->twin[1]);
	world_free(&t->w);
}

/* Chain frame `depth`'s code pointer, changed in `mem` (a copy of the
 * space). */
static void bend_code(struct twin_walk *t, uint8_t *mem, size_t depth)
{
	const struct py_layout *l = t->w.l;
	uint64_t f = t->k.wk.chain[depth].addr;
	uint64_t code;
	memcpy(&code, mem + (f - BASE) + code_off(l), 8);
	code += 16;
	memcpy(mem + (f - BASE) + code_off(l), &code, 8);
}

/* A walk inside twinned windows is judged from them, with no read: a
 * caller that changed between the copy and either twin, or (3.11+) a top
 * that fell below frames before either, cuts the stack short there. */
Test(walker, twins_verify_without_a_read)
{
	for (int minor = 8; minor <= 13; minor++) {
		struct twin_walk t;
		twin_setup(&t, minor, true);
		struct pp_walk *wk = twin_walk(&t);
		cr_assert(wk->twinned, "3.%d: every frame came with twins", minor);
		uint64_t reads = t.w.m.syscalls;
		cr_assert(pp_verify_twinned(&t.k.wk, wk));
		cr_assert(whole(&t.k, wk), "3.%d: clean twinned walk", minor);
		cr_assert_eq(t.k.out.n, NFRAMES);
		cr_assert_eq(t.w.m.syscalls, reads, "judged without a read");

		for (int r = 0; r < 2; r++) {
			wk = twin_walk(&t);
			bend_code(&t, t.twin[r], 5);
			cr_assert(pp_verify_twinned(&t.k.wk, wk));
			cr_assert_eq(wk->verified_from, 6,
				     "3.%d: a caller that changed in twin %d was shown", minor, r);
			memcpy(t.twin[r], t.buf, SPAN);
			if (t.w.l->if_size == PP_ABSENT)
				continue;
			uint64_t keep = t.top[r];
			t.top[r] -= 2 * (t.w.l->if_size + 32);
			wk = twin_walk(&t);
			cr_assert(pp_verify_twinned(&t.k.wk, wk));
			cr_assert_eq(wk->verified_from, 2,
				     "3.%d: frames above top %d were shown", minor, r);
			t.top[r] = keep;
			/* the top where it was, the current frame two frames
			 * further out: the two innermost were being set up (or
			 * taken down) - not on the stack */
			wk = twin_walk(&t);
			uint64_t *cur = t.w.l->cf_current_frame == PP_ABSENT ? &t.curp[r]
									  : &t.cur[r];
			keep = *cur;
			*cur = t.k.wk.chain[wk->chain_off + 2].addr;
			cr_assert(pp_verify_twinned(&t.k.wk, wk));
			cr_assert_eq(wk->verified_from, 2,
				     "3.%d: frames above the current frame in round %d were shown",
				     minor, r);
			*cur = keep;
		}
		/* without twins: nothing judged from the windows */
		t.win[0].twin[0] = t.win[0].twin[1] = NULL;
		wk = twin_walk(&t);
		cr_assert(!wk->twinned && !pp_verify_twinned(&t.k.wk, wk));
		twin_free(&t);
	}
}

/* <=3.10: a thread paused while its evaluation loop enters or leaves its
 * innermost frame has that frame current but not executing; it is part of
 * the stack (a frame further out that is not executing is not). */
Test(walker, innermost_frame_entered_or_left)
{
	for (int minor = 8; minor <= 10; minor++) {
		struct world w;
		world_init(&w, minor);
		const struct py_layout *l = w.l;
		put8(&w.f, frame_of(&w, 0), l->fo_state, l->minor <= 9 ? 0 : (uint8_t)-2);
		struct walking k;
		walking_init(&k, &w, true, true);
		struct pp_walk *wk = walk(&k, &w, NULL);
		cr_assert(whole(&k, wk) && k.out.n == NFRAMES, "3.%d", minor);
		walking_free(&k);
		put8(&w.f, frame_of(&w, 3), l->fo_state, l->minor <= 9 ? 0 : 1);
		walking_init(&k, &w, true, true);
		wk = walk(&k, &w, NULL);
		cr_assert_eq(wk->end, PP_END_NOT_EXECUTING, "3.%d", minor);
		cr_assert_eq(wk->depth, 3);
		walking_free(&k);
		world_free(&w);
	}
}

/* <=3.10: a generator that yielded has its link cleared and is not
 * executing; read as a thread's innermost frame (a pointer read a moment
 * before), it is not one being entered or left, and nothing is shown. */
Test(walker, suspended_generator_is_not_an_innermost_frame)
{
	for (int minor = 8; minor <= 10; minor++) {
		struct world w;
		world_init(&w, minor);
		const struct py_layout *l = w.l;
		uint64_t g = frame_of(&w, 2);
		put64(&w.f, g, l->fo_back, 0);
		put8(&w.f, g, l->fo_state, l->minor <= 9 ? 0 : (uint8_t)-1); /* SUSPENDED */
		set_innermost(&w, g);
		struct walking k;
		walking_init(&k, &w, true, false);
		struct pp_walk *wk = walk(&k, &w, NULL);
		cr_assert(!pp_walk_shown(wk), "3.%d: a yielded generator drawn as a stack", minor);
		walking_free(&k);
		world_free(&w);
	}
}

/* <=3.10: the innermost frame returned to the free list (its link leads
 * along the list); the read-ahead holds the thread's other frames. The
 * walk resumes from the innermost of them that is executing and reaches
 * the thread's outermost frame - not from where an older walk stood. */
Test(walker, resumes_from_the_read_ahead)
{
	for (int minor = 8; minor <= 10; minor++) {
		struct world w;
		world_init(&w, minor);
		const struct py_layout *l = w.l;
		uint64_t ch[64] = {0};
		size_t n = chain_of(&w, ch, 64);
		cr_assert_eq(n, NFRAMES);
		/* f0 and f1 returned and were freed; f1's link leads along the
		 * free list */
		uint64_t freed = alloc(&w.f, l->fo_size);
		put64(&w.f, freed, l->ob_type, FRAME_TYPE);
		for (int i = 0; i < 2; i++) {
			put64(&w.f, ch[i], l->ob_refcnt, 0);
			put8(&w.f, ch[i], l->fo_state, l->minor <= 9 ? 0 : 1);
		}
		put64(&w.f, ch[1], l->fo_back, freed);
		put64(&w.f, ch[0], l->fo_back, ch[1]);
		/* the read-ahead: every frame object, in no particular order */
		size_t fsz = pp_frame_object_span(l);
		struct pp_window win[NFRAMES];
		for (size_t i = 0; i < n; i++) {
			size_t j = (i * 7) % n;
			win[i] = (struct pp_window){ch[j], fsz, at(&w, ch[j]), {NULL, NULL},
						    PP_WIN_DATA, 0};
		}
		/* an older walk stood further out */
		struct pp_resume resume = {&ch[5], 3, ch[n - 1]};
		struct walking k;
		walking_init(&k, &w, true, false);
		struct pp_walk *wk = walk_only(&k, &w, win, n, &resume);
		judge(&k, wk);
		check_walk(&k, wk);
		cr_assert(wk->resumed && !wk->resume_lost && pp_walk_shown(wk), "3.%d", minor);
		cr_assert_eq(wk->depth, n - 2, "3.%d: resumed from f2, the innermost live frame",
			     minor);
		cr_assert_str_eq(k.out.v[wk->out_start].code->name, "f2");
		walking_free(&k);
		world_free(&w);
	}
}

/* 3.11/3.12: a thread paused as its evaluation loop is entered has a
 * new _PyCFrame whose current frame is whatever the slot held last: a
 * yielded generator, linked to nothing. That is no stack, paused or not. */
Test(walker, a_chain_ending_where_no_stack_ends_is_not_a_stack)
{
	for (int minor = 11; minor <= 13; minor++) {
		struct world w;
		world_init(&w, minor);
		const struct py_layout *l = w.l;
		uint64_t gen = frame_of(&w, 5);
		put64(&w.f, gen, l->if_previous, 0);
		set_innermost(&w, gen);
		for (int paused = 0; paused < 2; paused++) {
			struct walking k;
			walking_init(&k, &w, true, paused);
			struct pp_walk *wk = walk(&k, &w, NULL);
			cr_assert(wk->end == PP_END_BOTTOM && !wk->bottom_ok);
			cr_assert(!pp_walk_shown(wk), "3.%d %s", minor, paused ? "paused" : "running");
			walking_free(&k);
		}
		world_free(&w);
	}
}

/* 3.11+: a running thread's frame with no code object at all (3.15 clears
 * a returning frame's executable while the thread's current frame can
 * still be on it) is not shown: innermost, the rest is whole; further in,
 * only what lies below it is shown, cut short. Paused, it is damage: an
 * unreadable frame in its place. */
Test(walker, frame_without_code_is_not_shown_while_running)
{
	for (int minor = 11; minor <= 13; minor++) {
		struct world w;
		world_init(&w, minor);
		const struct py_layout *l = w.l;
		uint64_t f0 = frame_of(&w, 0), f0_code = get64(&w, f0, code_off(l));
		put64(&w.f, f0, code_off(l), 0);
		struct walking k;
		walking_init(&k, &w, true, false);
		struct pp_walk *wk = walk(&k, &w, NULL);
		check_walk(&k, wk);
		cr_assert(whole(&k, wk), "3.%d: not whole", minor);
		cr_assert_eq(wk->nout, NFRAMES - 1, "3.%d: the frame with no code is shown", minor);
		for (size_t i = 0; i < wk->nout; i++)
			cr_assert_eq(k.out.v[wk->out_start + i].kind, PP_RF_PYTHON, "3.%d", minor);
		walking_free(&k);

		walking_init(&k, &w, true, true);
		wk = walk(&k, &w, NULL);
		check_walk(&k, wk);
		cr_assert_eq(wk->nout, NFRAMES, "3.%d paused", minor);
		cr_assert(k.out.v[wk->out_start].kind == PP_RF_UNREADABLE &&
			  k.out.v[wk->out_start].why == PP_UNREAD_NOT_CODE, "3.%d paused", minor);
		walking_free(&k);

		put64(&w.f, f0, code_off(l), f0_code);
		put64(&w.f, frame_of(&w, 5), code_off(l), 0);
		walking_init(&k, &w, true, false);
		wk = walk(&k, &w, NULL);
		check_walk(&k, wk);
		cr_assert(pp_walk_shown(wk) && !whole(&k, wk), "3.%d: drawn whole through it", minor);
		cr_assert_eq(shown_from(&k, wk), 5, "3.%d: shown from below it", minor);
		walking_free(&k);
		world_free(&w);
	}
}
