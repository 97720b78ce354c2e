/* reader/pyrepr.h and reader/frame_locals.h on values and made-up memory.
 *
 *   - the formatting alone: floats (against reprs Python printed for the
 *     same bit patterns, and a round trip for random ones), ints of any
 *     size, str of every kind and bytes (against Python's repr);
 *   - objects built in a fake address space with every supported
 *     version's layout (types, ints small/big/negative, bool, float, str,
 *     bytes, containers, a heap-type instance, a cell) and a frame whose
 *     code names its slots (locals, a cell holding a value, a cell before
 *     MAKE_CELL, a free variable, unbound slots; 3.14+ tagged stack refs);
 *   - the same memory bit-flipped and scribbled on thousands of times: no
 *     read goes out of bounds (ASan), every result is a bounded string.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader/frame_locals.h"
#include "reader/layout.h"
#include "reader/memory.h"
#include "reader/pyrepr.h"

/* ---- formatting ---------------------------------------------------------- */

static const struct {
	uint64_t bits;
	const char *repr; /* Python 3's repr() of that double */
} floats[] = {
	{0x0000000000000000ull, "0.0"},
	{0x8000000000000000ull, "-0.0"},
	{0x3fb999999999999aull, "0.1"},
	{0x7e37e43c8800759cull, "1e+300"},
	{0x81a56e1fc2f8f359ull, "-1e-300"},
	{0x3fd5555555555555ull, "0.3333333333333333"},
	{0x3fe5555555555555ull, "0.6666666666666666"},
	{0x4341c37937e08000ull, "1e+16"},
	{0x430c6bf526340000ull, "1000000000000000.0"},
	{0x437b69b4ba630f35ull, "1.2345678901234568e+17"},
	{0x3ee4f8b588e368f1ull, "1e-05"},
	{0x3f1a36e2eb1c432dull, "0.0001"},
	{0x3f202c9dedbc309dull, "0.0001234"},
	{0x0000000000000001ull, "5e-324"},
	{0x7fefffffffffffffull, "1.7976931348623157e+308"},
	{0x4059000000000000ull, "100.0"},
	{0x3ff8000000000000ull, "1.5"},
	{0xbe90c6f7a0b5ed8dull, "-2.5e-07"},
	{0x40c81cd6c8b43958ull, "12345.678"},
	{0x4480f0cf064dd592ull, "1e+22"},
	{0x4340000000000000ull, "9007199254740992.0"},
	{0x3fd3333333333333ull, "0.3"},
	{0x0000000000000003ull, "1.5e-323"},
	{0x43118b54f22aeb03ull, "1234567890123456.8"},
	{0xf2a74de452e6b438ull, "-1.989032661366619e+244"},
	{0x6513270e269e0d37ull, "7.761117632285041e+178"},
	{0x0c5c7fd0a6a3a450ull, "3.980498358697587e-249"},
	{0xd23f0824128b2f33ull, "-1.5432835417340557e+88"},
	{0x36f675cc81e74ef5ull, "6.294675241195386e-44"},
	{0x3d9c172411e20b8full, "6.387016158513563e-12"},
	{0x95e60af593bd04cfull, "-3.51527970626667e-203"},
	{0x3898d190f9ebdaccull, "4.6678633181812096e-36"},
	{0x907a70c31012f037ull, "-2.72491267476498e-229"},
	{0xc6f877186d76b07eull, "-7.939416668807721e+33"},
	{0x7ff0000000000000ull, "inf"},
	{0xfff0000000000000ull, "-inf"},
	{0x7ff8000000000000ull, "nan"},
	{0xfff8000000000001ull, "nan"},
};

static double from_bits(uint64_t b)
{
	double d;
	memcpy(&d, &b, sizeof d);
	return d;
}

Test(pyrepr, float_as_python_prints_it)
{
	for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
		char *s = pp_repr_float(from_bits(floats[i].bits));
		cr_assert(s);
		cr_expect_str_eq(s, floats[i].repr, "0x%016llx", (unsigned long long)floats[i].bits);
		free(s);
	}
}

Test(pyrepr, float_round_trips_shortest)
{
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		double v = from_bits(x);
		if (!isfinite(v))
			continue;
		char *s = pp_repr_float(v);
		cr_assert(s);
		cr_assert_eq(strtod(s, NULL), v, "%s does not read back", s);
		/* Python's forms: a point or an exponent, always */
		cr_assert(strchr(s, '.') || strchr(s, 'e'), "%s", s);
		free(s);
	}
}

/* n-digit base-2^30 multiply by m, in place; returns the new length. */
static size_t mul_small(uint32_t *d, size_t n, uint32_t m)
{
	uint64_t carry = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t z = (uint64_t)d[i] * m + carry;
		d[i] = (uint32_t)(z & ((1u << 30) - 1));
		carry = z >> 30;
	}
	while (carry) {
		d[n++] = (uint32_t)(carry & ((1u << 30) - 1));
		carry >>= 30;
	}
	return n;
}

Test(pyrepr, int_of_any_size)
{
	static uint32_t d[2000];
	/* 3**200, as Python prints it */
	size_t n = 1;
	d[0] = 1;
	for (int i = 0; i < 200; i++)
		n = mul_small(d, n, 3);
	char *s = pp_repr_long(d, n, false);
	cr_assert_str_eq(s, "265613988875874769338781322035779626829233452653394495974574961739092490901302182994384699044001");
	free(s);
	s = pp_repr_long(d, n, true);
	cr_assert_eq(s[0], '-');
	free(s);
	/* 10**k: a one and k zeros, for k across the 10^9 group edges */
	for (int k = 0; k < 3000; k += 7) {
		n = 1;
		d[0] = 1;
		for (int i = 0; i < k; i++)
			n = mul_small(d, n, 10);
		s = pp_repr_long(d, n, false);
		cr_assert(s && s[0] == '1' && strlen(s) == (size_t)k + 1, "10**%d: %.40s", k, s);
		cr_assert(strspn(s + 1, "0") == (size_t)k, "10**%d", k);
		free(s);
	}
	s = pp_repr_long(d, 0, true);
	cr_assert_str_eq(s, "0"); /* no "-0" */
	free(s);
	uint32_t bad[2] = {1, 1u << 30};
	cr_assert_null(pp_repr_long(bad, 2, false), "a digit above 30 bits");
	s = pp_repr_small_int(-42);
	cr_assert_str_eq(s, "-42");
	free(s);
}

Test(pyrepr, str_and_bytes_as_python_quotes_them)
{
	static const uint8_t k1a[] = {'i', 't', '\'', 's'};
	static const uint8_t k1b[] = {'a', '"', 'b', '\'', 'c'};
	static const uint8_t k1c[] = {0x00, 0x1f, 0x7f, 0x80, 0xa0, 0xad, 0xe9, 0xff, '\t', '\n', '\r', '\\'};
	static const uint16_t k2[] = {0x3b1, 0x2028, 0xd800, 0xfeff, 0x4e2d, 0xe000, 0xe9};
	static const uint32_t k4[] = {0x1d11e, 0x1f600, 0xe0001, 0x10ffff, 0xf0000, 'x'};
	static const struct {
		const void *data;
		size_t n;
		int kind;
		const char *want;
	} cases[] = {
		{k1a, 4, 1, "\"it's\""},
		{k1b, 5, 1, "'a\"b\\'c'"},
		{k1c, 12, 1, "'\\x00\\x1f\\x7f\\x80\\xa0\\xad\xc3\xa9\xc3\xbf\\t\\n\\r\\\\'"},
		{k2, 7, 2, "'\xce\xb1\\u2028\\ud800\\ufeff\xe4\xb8\xad\\ue000\xc3\xa9'"},
		{k4, 6, 4, "'\xf0\x9d\x84\x9e\xf0\x9f\x98\x80\\U000e0001\\U0010ffff\\U000f0000x'"},
		{k1a, 0, 1, "''"},
		{k1b + 1, 1, 1, "'\"'"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *s = pp_repr_str(cases[i].data, cases[i].n, cases[i].kind, false);
		cr_assert(s);
		cr_expect_str_eq(s, cases[i].want, "case %zu", i);
		free(s);
	}
	char *s = pp_repr_str(k1a, 2, 1, true);
	cr_assert_str_eq(s, "'it'\xe2\x80\xa6");
	free(s);
	cr_assert_null(pp_repr_str(k1a, 1, 3, false));

	static const uint8_t b1[] = {0x00, '\'', '"', '\\', 0x7f, 0x80, 'a', 'b', 'c', '\t'};
	s = pp_repr_bytes(b1, sizeof b1, false);
	cr_assert_str_eq(s, "b'\\x00\\'\"\\\\\\x7f\\x80abc\\t'");
	free(s);
	s = pp_repr_bytes(k1a, 4, false);
	cr_assert_str_eq(s, "b\"it's\"");
	free(s);
	s = pp_repr_bytes(k1a, 0, true);
	cr_assert_str_eq(s, "b''\xe2\x80\xa6");
	free(s);
}

/* ---- objects in made-up memory ------------------------------------------- */

#define BASE 0x200000ull
#define SPAN (1u << 18)

struct fake {
	uint8_t *mem;
	uint64_t top;
};

static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct fake *f = ctx;
	if (addr < BASE || addr - BASE > SPAN || len > SPAN - (addr - BASE))
		return -14; /* -EFAULT */
	memcpy(buf, f->mem + (addr - BASE), len);
	return 0;
}

static uint64_t alloc(struct fake *f, size_t n)
{
	uint64_t a = f->top;
	f->top += (n + 15) & ~(size_t)15;
	cr_assert(f->top - BASE <= SPAN, "fake space full");
	return a;
}

static void put(struct fake *f, uint64_t addr, uint32_t off, const void *v, size_t n)
{
	cr_assert(off != PP_ABSENT);
	memcpy(f->mem + (addr - BASE) + off, v, n);
}
static void put64(struct fake *f, uint64_t a, uint32_t off, uint64_t v) { put(f, a, off, &v, 8); }
static void put32(struct fake *f, uint64_t a, uint32_t off, uint32_t v) { put(f, a, off, &v, 4); }

#define HEAP (1ull << 9)
#define LONG_SUB (1ull << 24)
#define LIST_SUB (1ull << 25)
#define TUPLE_SUB (1ull << 26)
#define BYTES_SUB (1ull << 27)
#define UNICODE_SUB (1ull << 28)
#define DICT_SUB (1ull << 29)

static uint64_t make_type(struct fake *f, const struct py_layout *l, const char *name,
			  uint64_t flags)
{
	uint64_t s = alloc(f, strlen(name) + 1);
	put(f, s, 0, name, strlen(name) + 1);
	uint64_t t = alloc(f, 1024);
	put64(f, t, l->tp_name, s);
	put64(f, t, l->tp_flags, flags);
	return t;
}

static uint64_t make_obj(struct fake *f, const struct py_layout *l, uint64_t type, size_t size)
{
	uint64_t o = alloc(f, size);
	put64(f, o, l->ob_refcnt, 1);
	put64(f, o, l->ob_type, type);
	return o;
}

/* An int of digits d[0..n) (base 2^30, least significant first). */
static uint64_t make_int(struct fake *f, const struct py_layout *l, uint64_t type,
			 const uint32_t *d, size_t n, bool neg)
{
	uint64_t o = make_obj(f, l, type, l->long_digits + 4 * (n ? n : 1));
	if (l->long_tagged)
		put64(f, o, l->long_size, n == 0 ? 1 : ((uint64_t)n << 3) | (neg ? 2 : 0));
	else
		put64(f, o, l->long_size, neg ? (uint64_t)-(int64_t)n : n);
	for (size_t i = 0; i < n; i++)
		put32(f, o, l->long_digits + 4 * (uint32_t)i, d[i]);
	return o;
}

static uint64_t make_str(struct fake *f, const struct py_layout *l, uint64_t type,
			 const void *data, size_t n, int kind)
{
	bool ascii = kind == 1;
	for (size_t i = 0; ascii && i < n; i++)
		ascii = ((const uint8_t *)data)[i] < 0x80;
	uint32_t off = ascii ? l->str_ascii_data : l->str_compact_data;
	uint64_t o = make_obj(f, l, type, off + (n + 1) * (size_t)kind);
	put64(f, o, l->str_length, n);
	put32(f, o, l->str_state, (uint32_t)(kind << 2 | 1 << 5 | (ascii ? 1 << 6 : 0)));
	put(f, o, off, data, n * (size_t)kind);
	return o;
}

struct world {
	struct fake f;
	struct pp_mem mem;
	const struct py_layout *l;
	uint64_t t_int, t_bool, t_float, t_str, t_bytes, t_list, t_tuple, t_dict, t_set,
		t_frozen, t_none, t_cell, t_custom;
	/* objects and what pyprobe must show of them */
	struct {
		uint64_t addr;
		const char *type, *repr;
	} objs[32];
	size_t nobjs;
	char custom_repr[64];
	uint64_t frame, code;
};

static uint64_t add(struct world *w, uint64_t addr, const char *type, const char *repr)
{
	w->objs[w->nobjs].addr = addr;
	w->objs[w->nobjs].type = type;
	w->objs[w->nobjs].repr = repr;
	w->nobjs++;
	return addr;
}

static uint64_t make_tuple(struct world *w, const uint64_t *items, size_t n)
{
	const struct py_layout *l = w->l;
	uint64_t t = make_obj(&w->f, l, w->t_tuple, l->val_tuple_items + 8 * (n ? n : 1));
	put64(&w->f, t, l->ob_size, n);
	for (size_t i = 0; i < n; i++)
		put64(&w->f, t, l->val_tuple_items + 8 * (uint32_t)i, items[i]);
	return t;
}

static uint64_t name(struct world *w, const char *s)
{
	return make_str(&w->f, w->l, w->t_str, s, strlen(s), 1);
}

static void world_init(struct world *w, int minor)
{
	memset(w, 0, sizeof(*w));
	w->l = pp_layout_for(minor);
	cr_assert(w->l);
	const struct py_layout *l = w->l;
	w->f.mem = calloc(1, SPAN);
	w->f.top = BASE + 64;
	pp_mem_init_callback(&w->mem, fake_read, &w->f);
	struct fake *f = &w->f;
	w->t_int = make_type(f, l, "int", LONG_SUB);
	w->t_bool = make_type(f, l, "bool", LONG_SUB);
	w->t_float = make_type(f, l, "float", 0);
	w->t_str = make_type(f, l, "str", UNICODE_SUB);
	w->t_bytes = make_type(f, l, "bytes", BYTES_SUB);
	w->t_list = make_type(f, l, "list", LIST_SUB);
	w->t_tuple = make_type(f, l, "tuple", TUPLE_SUB);
	w->t_dict = make_type(f, l, "dict", DICT_SUB);
	w->t_set = make_type(f, l, "set", 0);
	w->t_frozen = make_type(f, l, "frozenset", 0);
	w->t_none = make_type(f, l, "NoneType", 0);
	w->t_cell = make_type(f, l, "cell", 0);
	w->t_custom = make_type(f, l, "int", HEAP | LONG_SUB); /* a subclass named int */

	uint32_t d42 = 42, big[4] = {0x3fffffff, 0x3fffffff, 0x3fffffff, 1};
	add(w, make_int(f, l, w->t_int, &d42, 1, false), "int", "42");
	add(w, make_int(f, l, w->t_int, NULL, 0, false), "int", "0");
	add(w, make_int(f, l, w->t_int, &d42, 1, true), "int", "-42");
	/* 2^91 - 1 */
	add(w, make_int(f, l, w->t_int, big, 4, true), "int", "-2475880078570760549798248447");
	uint32_t one = 1;
	add(w, make_int(f, l, w->t_bool, &one, 1, false), "bool", "True");
	add(w, make_int(f, l, w->t_bool, NULL, 0, false), "bool", "False");
	uint64_t fl = make_obj(f, l, w->t_float, 24);
	double v = -0.1;
	put(f, fl, l->val_float_fval, &v, 8);
	add(w, fl, "float", "-0.1");
	static const uint16_t ucs2[] = {'h', 0xe9, 0x2713, '\''};
	add(w, make_str(f, l, w->t_str, ucs2, 4, 2), "str", "\"h\xc3\xa9\xe2\x9c\x93'\"");
	uint64_t by = make_obj(f, l, w->t_bytes, l->bytes_sval + 8);
	put64(f, by, l->bytes_size, 3);
	put(f, by, l->bytes_sval, "a\0b", 4);
	add(w, by, "bytes", "b'a\\x00b'");
	uint64_t li = make_obj(f, l, w->t_list, 48);
	put64(f, li, l->val_list_size, 3);
	add(w, li, "list", "<list of 3 items>");
	uint64_t di = make_obj(f, l, w->t_dict, 48);
	put64(f, di, l->val_dict_used, 1);
	add(w, di, "dict", "<dict of 1 item>");
	uint64_t se = make_obj(f, l, w->t_set, 64);
	put64(f, se, l->val_set_used, 0);
	add(w, se, "set", "<set of 0 items>");
	add(w, make_obj(f, l, w->t_none, 16), "NoneType", "None");
	uint64_t cu = make_obj(f, l, w->t_custom, 32);
	snprintf(w->custom_repr, sizeof w->custom_repr, "<int object at 0x%llx>",
		 (unsigned long long)cu);
	add(w, cu, "int", w->custom_repr);
	uint64_t items[2] = {w->objs[0].addr, w->objs[1].addr};
	add(w, make_tuple(w, items, 2), "tuple", "<tuple of 2 items>");
}

static void world_free(struct world *w)
{
	pp_mem_close(&w->mem);
	free(w->f.mem);
}

/* Slot kinds, and the frame of a function
 *   def fn(a):           # a: a cell (an argument inner() uses), bound 42
 *       b = 'h...'       # local
 *       unbound          # local, NULL
 *       c                # cell, MAKE_CELL not run yet: the raw value (3.11+)
 *       e                # cell, empty
 *       fr               # free variable: a cell holding True
 * What each version's code object says of them differs; the locals shown
 * are the same: a=42, b='h...', c=-0.1 (3.11+ only), fr=True. */
#define K_LOCAL 0x20
#define K_CELL 0x40
#define K_FREE 0x80

static uint64_t make_cell(struct world *w, uint64_t contents)
{
	uint64_t c = make_obj(&w->f, w->l, w->t_cell, 24);
	put64(&w->f, c, w->l->val_cell_ref, contents);
	return c;
}

static void build_frame(struct world *w)
{
	const struct py_layout *l = w->l;
	struct fake *f = &w->f;
	bool stackrefs = l->if_code_tag_bits != 0 && l->if_code_tag_bits != PP_ABSENT;
	uint64_t v42 = w->objs[0].addr, vstr = w->objs[7].addr, vfloat = w->objs[6].addr;
	uint64_t vtrue = w->objs[4].addr;
	uint64_t code = alloc(f, 512);
	uint64_t slots[8];
	size_t n;
	if (l->loc_co_localsplusnames != PP_ABSENT) {
		uint64_t names[] = {name(w, "a"), name(w, "b"), name(w, "unbound"),
				    name(w, "c"), name(w, "e"), name(w, "fr"), name(w, "t")};
		uint8_t kinds[] = {K_LOCAL | K_CELL, K_LOCAL, K_LOCAL, K_CELL, K_CELL, K_FREE, K_LOCAL};
		n = 7;
		uint64_t kb = make_obj(f, l, w->t_bytes, l->bytes_sval + 8);
		put64(f, kb, l->bytes_size, n);
		put(f, kb, l->bytes_sval, kinds, n);
		put32(f, code, l->loc_co_nlocalsplus, (uint32_t)n);
		put64(f, code, l->loc_co_localsplusnames, make_tuple(w, names, n));
		put64(f, code, l->loc_co_localspluskinds, kb);
		slots[0] = make_cell(w, v42);
		slots[1] = vstr;
		slots[2] = 0;
		slots[3] = vfloat;
		slots[4] = make_cell(w, 0);
		slots[5] = make_cell(w, vtrue);
		slots[6] = 0;
		if (stackrefs) {
			slots[1] |= 1; /* a deferred reference */
			slots[2] = 1;  /* NULL */
			slots[6] = ((uint64_t)-5 << 2) | 3; /* the tagged int -5 */
		}
	} else {
		uint64_t vn[] = {name(w, "a"), name(w, "b"), name(w, "unbound")};
		uint64_t cn[] = {name(w, "a"), name(w, "e")};
		uint64_t fn[] = {name(w, "fr")};
		put32(f, code, l->loc_co_nlocals, 3);
		put64(f, code, l->loc_co_varnames, make_tuple(w, vn, 3));
		put64(f, code, l->loc_co_cellvars, make_tuple(w, cn, 2));
		put64(f, code, l->loc_co_freevars, make_tuple(w, fn, 1));
		n = 6;
		slots[0] = 0; /* the argument moved into its cell */
		slots[1] = vstr;
		slots[2] = 0;
		slots[3] = make_cell(w, v42);
		slots[4] = make_cell(w, 0);
		slots[5] = make_cell(w, vtrue);
	}
	uint32_t lp = l->loc_if_localsplus != PP_ABSENT ? l->loc_if_localsplus : l->loc_fo_localsplus;
	w->frame = alloc(f, lp + 8 * n);
	for (size_t i = 0; i < n; i++)
		put64(f, w->frame, lp + 8 * (uint32_t)i, slots[i]);
	w->code = code;
}

static const struct pp_local *find(const struct pp_frame_locals *fl, const char *n)
{
	for (size_t i = 0; i < fl->n; i++)
		if (fl->v[i].name && !strcmp(fl->v[i].name, n))
			return &fl->v[i];
	return NULL;
}

static void check_objects_and_frame(int minor)
{
	struct world w;
	world_init(&w, minor);
	struct pp_repr r;
	pp_repr_init(&r, &w.mem, w.l);
	for (size_t i = 0; i < w.nobjs; i++) {
		char *type, *repr;
		int rc = pp_repr_object(&r, w.objs[i].addr, &type, &repr);
		cr_assert_eq(rc, 0, "3.%d object %zu (%s): %d", minor, i, w.objs[i].repr, rc);
		cr_expect_str_eq(type, w.objs[i].type, "3.%d object %zu", minor, i);
		cr_expect_str_eq(repr, w.objs[i].repr, "3.%d object %zu", minor, i);
		free(type);
		free(repr);
	}
	build_frame(&w);
	struct pp_locals_arena a = {0};
	struct pp_frame_locals fl;
	cr_assert_eq(pp_read_frame_locals(&r, &a, w.frame, w.code, &fl), 0, "3.%d", minor);
	bool v311 = w.l->loc_co_localsplusnames != PP_ABSENT;
	bool stackrefs = w.l->if_code_tag_bits != 0;
	size_t want = v311 ? (stackrefs ? 5 : 4) : 3;
	cr_assert_eq(fl.n, want, "3.%d: %zu locals", minor, fl.n);
	const struct pp_local *x = find(&fl, "a");
	cr_assert(x && !strcmp(x->repr, "42") && !strcmp(x->type, "int"), "3.%d a", minor);
	x = find(&fl, "b");
	cr_assert(x && !strcmp(x->type, "str"), "3.%d b", minor);
	x = find(&fl, "fr");
	cr_assert(x && !strcmp(x->repr, "True"), "3.%d fr", minor);
	cr_assert_null(find(&fl, "unbound"), "3.%d", minor);
	cr_assert_null(find(&fl, "e"), "3.%d", minor);
	if (v311) {
		x = find(&fl, "c");
		cr_assert(x && !strcmp(x->repr, "-0.1"), "3.%d c (a cell before MAKE_CELL)", minor);
	}
	if (stackrefs) {
		x = find(&fl, "t");
		cr_assert(x && !strcmp(x->repr, "-5") && !strcmp(x->type, "int"), "3.%d t", minor);
	}
	pp_locals_arena_free(&a);
	pp_repr_free(&r);
	world_free(&w);
}

Test(pyrepr, objects_and_frames_every_version)
{
	for (size_t i = 0; i < pp_n_supported_minors; i++)
		check_objects_and_frame(pp_supported_minors[i]);
}

/* ---- corrupt memory -------------------------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void check_bounded(const char *s, size_t max)
{
	if (s)
		cr_assert(strnlen(s, max + 1) <= max, "an unbounded string");
}

Test(pyrepr, corrupt_memory_never_crashes)
{
	for (size_t vi = 0; vi < pp_n_supported_minors; vi++) {
		int minor = pp_supported_minors[vi];
		struct world w;
		world_init(&w, minor);
		build_frame(&w);
		uint8_t *pristine = malloc(SPAN);
		cr_assert(pristine);
		memcpy(pristine, w.f.mem, SPAN);
		size_t used = (size_t)(w.f.top - BASE);
		for (int it = 0; it < 1500; it++) {
			memcpy(w.f.mem, pristine, SPAN);
			int nflips = 1 + (int)(rnd() % 8);
			for (int k = 0; k < nflips; k++) {
				size_t at = rnd() % used;
				switch (rnd() % 4) {
				case 0: /* a bit */
					w.f.mem[at] ^= (uint8_t)(1u << (rnd() % 8));
					break;
				case 1: /* a byte */
					w.f.mem[at] = (uint8_t)rnd();
					break;
				case 2: { /* a word: a pointer somewhere in the space */
					uint64_t p = BASE + (rnd() % SPAN);
					if (rnd() & 1)
						p &= ~7ull;
					if ((at & ~7ull) + 8 <= used)
						memcpy(w.f.mem + (at & ~7ull), &p, 8);
					break;
				}
				default: { /* a word: a big or negative count */
					uint64_t v = rnd() & 1 ? rnd() : (uint64_t)-(int64_t)(rnd() % 64);
					if ((at & ~7ull) + 8 <= used)
						memcpy(w.f.mem + (at & ~7ull), &v, 8);
					break;
				}
				}
			}
			struct pp_repr r;
			pp_repr_init(&r, &w.mem, w.l);
			for (size_t i = 0; i < w.nobjs; i++) {
				char *type, *repr;
				if (pp_repr_object(&r, w.objs[i].addr, &type, &repr) == 0) {
					cr_assert(type && repr);
					check_bounded(type, 4 * PP_REPR_TYPE_NAME_MAX);
					check_bounded(repr, 64 * 1024);
				} else {
					cr_assert(!type && !repr);
				}
				free(type);
				free(repr);
			}
			/* and a random address */
			char *type, *repr;
			pp_repr_object(&r, BASE + (rnd() % SPAN), &type, &repr);
			free(type);
			free(repr);
			struct pp_locals_arena a = {0};
			struct pp_frame_locals fl;
			if (pp_read_frame_locals(&r, &a, w.frame, w.code, &fl) == 0) {
				cr_assert(fl.n <= PP_LOCALS_MAX);
				for (size_t i = 0; i < fl.n; i++) {
					check_bounded(fl.v[i].name, 1 << 20);
					check_bounded(fl.v[i].repr, 64 * 1024);
				}
			} else {
				cr_assert_eq(fl.n, 0);
			}
			pp_locals_arena_free(&a);
			pp_repr_free(&r);
		}
		free(pristine);
		world_free(&w);
	}
}
