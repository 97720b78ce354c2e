/* A frame's arguments and locals (frame_locals.h). */
#include "frame_locals.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pystring.h"

/* co_localspluskinds bits (3.11+, the same in every version since).
 * CO_FAST_HIDDEN (0x10, 3.12+: a comprehension's variable inlined into its
 * function) needs nothing of its own: unbound outside the comprehension,
 * it is left out like any unbound slot, and shown while it runs. */
#define CO_FAST_LOCAL 0x20
#define CO_FAST_CELL 0x40
#define CO_FAST_FREE 0x80

/* 3.14+ _PyStackRef (GIL builds): NULL is Py_TAG_REFCNT alone; a tagged
 * int has both low bits set, its value above them. */
#define STACKREF_NULL 1u
#define STACKREF_INT_TAG 3u

void *pp_locals_arena_keep(struct pp_locals_arena *a, void *p)
{
	if (!p)
		return NULL;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		void **v = realloc(a->v, cap * sizeof(*v));
		if (!v) {
			free(p);
			return NULL;
		}
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = p;
	return p;
}

void pp_locals_arena_reset(struct pp_locals_arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	a->n = 0;
	a->ncodes = 0;
}

void pp_locals_arena_free(struct pp_locals_arena *a)
{
	pp_locals_arena_reset(a);
	free(a->v);
	free(a->codes);
	memset(a, 0, sizeof(*a));
}

/* Code objects remembered per sample; past this, read for every frame. */
#define CODES_MAX 4096

/* The first `want` items of the tuple at `addr`, which must have `size`. */
static int read_tuple(struct pp_repr *r, uint64_t addr, uint64_t len, size_t want,
		      uint64_t *items)
{
	const struct py_layout *l = r->l;
	if (!want)
		return 0;
	if (addr < 4096 || (addr & 7) || addr >= (1ull << 47) || l->val_tuple_items == PP_ABSENT)
		return -EFAULT;
	uint64_t size;
	int rc = pp_mem_read_u64(r->mem, addr + l->ob_size, &size);
	if (rc)
		return rc;
	if (size != len || want > len)
		return -EINVAL;
	return pp_mem_read(r->mem, addr + l->val_tuple_items, items, want * 8);
}

static uint64_t tuple_len(struct pp_repr *r, uint64_t addr, int *err)
{
	uint64_t size = 0;
	if (!addr) {
		*err = -EINVAL;
		return 0;
	}
	int rc = pp_mem_read_u64(r->mem, addr + r->l->ob_size, &size);
	if (rc || size > (1u << 20)) {
		*err = rc ? rc : -EINVAL;
		return 0;
	}
	return size;
}

/* The code object's slot count, names and kinds. names/kinds: malloc'd
 * (the caller frees); *n capped at PP_LOCALS_MAX, *total the real count. */
static int read_code_slots(struct pp_repr *r, uint64_t code, uint64_t **names, uint8_t **kinds,
			   size_t *n, size_t *total)
{
	const struct py_layout *l = r->l;
	uint32_t offs[] = {l->loc_co_nlocals, l->loc_co_nlocalsplus, l->loc_co_varnames,
			   l->loc_co_cellvars, l->loc_co_freevars, l->loc_co_localsplusnames,
			   l->loc_co_localspluskinds};
	uint32_t end = 0;
	for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++)
		if (offs[i] != PP_ABSENT && offs[i] + 8 > end)
			end = offs[i] + 8;
	uint8_t h[512];
	if (end == 0 || end > sizeof h)
		return -ENOTSUP;
	int rc = pp_mem_read(r->mem, code, h, end);
	if (rc)
		return rc;
	*names = NULL;
	*kinds = NULL;
	int err = 0;
	if (l->loc_co_localsplusnames != PP_ABSENT) {
		/* 3.11+ */
		if (l->loc_co_nlocalsplus == PP_ABSENT || l->loc_co_localspluskinds == PP_ABSENT)
			return -ENOTSUP;
		int32_t np = (int32_t)pp_get_u32(h, end, l->loc_co_nlocalsplus);
		if (np < 0 || np > (1 << 20))
			return -EINVAL;
		*total = (size_t)np;
		*n = *total < PP_LOCALS_MAX ? *total : PP_LOCALS_MAX;
		uint64_t tn = pp_get_u64(h, end, l->loc_co_localsplusnames);
		uint64_t kb = pp_get_u64(h, end, l->loc_co_localspluskinds);
		if (tuple_len(r, tn, &err) != *total || err)
			return err ? err : -EINVAL;
		size_t klen = 0;
		uint8_t *k = pp_read_bytes(r->mem, l, kb, 0, &klen);
		if (!k || klen != *total) {
			free(k);
			return -EINVAL;
		}
		uint64_t *nm = malloc((*n ? *n : 1) * sizeof(*nm));
		if (!nm || read_tuple(r, tn, *total, *n, nm) != 0) {
			free(nm);
			free(k);
			return -EINVAL;
		}
		*names = nm;
		*kinds = k;
		return 0;
	}
	/* <=3.10: locals, cells, frees, each named by its own tuple */
	if (l->loc_co_varnames == PP_ABSENT || l->loc_co_cellvars == PP_ABSENT ||
	    l->loc_co_freevars == PP_ABSENT)
		return -ENOTSUP;
	int32_t nl = (int32_t)pp_get_u32(h, end, l->loc_co_nlocals);
	uint64_t tv = pp_get_u64(h, end, l->loc_co_varnames);
	uint64_t tc = pp_get_u64(h, end, l->loc_co_cellvars);
	uint64_t tf = pp_get_u64(h, end, l->loc_co_freevars);
	uint64_t nv = tuple_len(r, tv, &err);
	uint64_t nc = tuple_len(r, tc, &err);
	uint64_t nf = tuple_len(r, tf, &err);
	if (err || nl < 0 || nv != (uint64_t)nl)
		return err ? err : -EINVAL;
	*total = (size_t)(nv + nc + nf);
	*n = *total < PP_LOCALS_MAX ? *total : PP_LOCALS_MAX;
	uint64_t *all = malloc((size_t)(*total ? *total : 1) * sizeof(*all));
	uint8_t *k = malloc(*total ? *total : 1);
	if (!all || !k || read_tuple(r, tv, nv, (size_t)nv, all) != 0 ||
	    read_tuple(r, tc, nc, (size_t)nc, all + nv) != 0 ||
	    read_tuple(r, tf, nf, (size_t)nf, all + nv + nc) != 0) {
		free(all);
		free(k);
		return -EINVAL;
	}
	for (size_t i = 0; i < *total; i++)
		k[i] = i < nv ? CO_FAST_LOCAL : i < nv + nc ? CO_FAST_CELL : CO_FAST_FREE;
	*names = all;
	*kinds = k;
	return 0;
}

/* The slots of the code object at `code`, from the sample's cache or read
 * now (and kept). NULL if unreadable. */
static const struct pp_locals_code *code_slots(struct pp_repr *r, struct pp_locals_arena *a,
					       uint64_t code)
{
	for (size_t i = a->ncodes; i-- > 0;)
		if (a->codes[i].addr == code)
			return &a->codes[i];
	uint64_t *names;
	uint8_t *kinds;
	size_t n, total;
	if (read_code_slots(r, code, &names, &kinds, &n, &total) != 0)
		return NULL;
	const char **strs = pp_locals_arena_keep(a, calloc(n ? n : 1, sizeof(*strs)));
	if (!strs)
		free(kinds);
	if (!strs || !pp_locals_arena_keep(a, kinds)) { /* (keep frees it) */
		free(names);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		strs[i] = pp_locals_arena_keep(a, pp_read_str(r->mem, r->l, names[i], 0));
	free(names);
	static struct pp_locals_code one; /* when the cache is full */
	struct pp_locals_code *c = &one;
	if (a->ncodes < CODES_MAX) {
		if (a->ncodes == a->codes_cap) {
			size_t cap = a->codes_cap ? a->codes_cap * 2 : 64;
			struct pp_locals_code *nc = realloc(a->codes, cap * sizeof(*nc));
			if (nc) {
				a->codes = nc;
				a->codes_cap = cap;
			}
		}
		if (a->ncodes < a->codes_cap)
			c = &a->codes[a->ncodes++];
	}
	*c = (struct pp_locals_code){code, n, total, strs, kinds};
	return c;
}

int pp_read_frame_locals(struct pp_repr *r, struct pp_locals_arena *a, uint64_t frame,
			 uint64_t code, struct pp_frame_locals *out)
{
	const struct py_layout *l = r->l;
	memset(out, 0, sizeof(*out));
	uint32_t lp = l->loc_if_localsplus != PP_ABSENT ? l->loc_if_localsplus
							: l->loc_fo_localsplus;
	if (lp == PP_ABSENT)
		return -ENOTSUP;
	if (frame < 4096 || frame >= (1ull << 47) || code < 4096 || code >= (1ull << 47))
		return -EFAULT;
	const struct pp_locals_code *cs = code_slots(r, a, code);
	if (!cs)
		return -EINVAL;
	size_t n = cs->n;
	int rc = 0;
	uint64_t *slots = malloc((n ? n : 1) * sizeof(*slots));
	struct pp_local *v = pp_locals_arena_keep(a, malloc((n ? n : 1) * sizeof(*v)));
	if (!slots || !v || (n && (rc = pp_mem_read(r->mem, frame + lp, slots, n * 8)) != 0)) {
		free(slots);
		return rc ? rc : -ENOMEM;
	}
	bool stackrefs = l->if_code_tag_bits != 0 && l->if_code_tag_bits != PP_ABSENT;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t val = slots[i];
		uint8_t kind = cs->kinds[i];
		char *type = NULL, *repr = NULL;
		if (stackrefs) {
			if (val == STACKREF_NULL)
				val = 0;
			else if ((val & STACKREF_INT_TAG) == STACKREF_INT_TAG) {
				type = strdup("int");
				repr = pp_repr_small_int((int64_t)val >> 2);
				val = 0;
			} else {
				val &= ~(uint64_t)l->if_code_tag_bits;
			}
		}
		if (!val && !type)
			continue; /* unbound */
		if (val && (kind & (CO_FAST_CELL | CO_FAST_FREE))) {
			/* a cell, or (3.11+, before MAKE_CELL) the raw value */
			uint64_t inner;
			if (pp_repr_cell_contents(r, val, &inner) == 0) {
				if (!inner)
					continue; /* an empty cell: unbound */
				val = inner;
			}
		}
		if (val)
			pp_repr_object(r, val, &type, &repr);
		v[k].name = cs->names[i];
		v[k].type = pp_locals_arena_keep(a, type);
		v[k].repr = pp_locals_arena_keep(a, repr);
		k++;
	}
	free(slots);
	out->v = v;
	out->n = k;
	out->cut = cs->total > n;
	return 0;
}
