/* Code-object and string caches: open-addressing hash tables keyed by the
 * object's address in the target. */
#include "code_cache.h"

#include <stdlib.h>
#include <string.h>

#include "pystring.h"

struct str_slot {
	uint64_t addr;
	char *s;
};

struct pp_code_cache {
	const struct py_layout *l;
	struct pp_code_types types;
	struct pp_code_entry **slots; /* entries are stable: pointers persist */
	size_t cap, n;
	struct str_slot *strs;
	size_t scap, sn;
};

/* The table grows with the number of distinct code-object addresses seen,
 * which the target's heap bounds. An address freed and reused by another
 * code object keeps the old entry; a fresh cache per dump makes that moot
 * for `dump`, and a long recording will need to revalidate entries. */

static size_t hash_addr(uint64_t a)
{
	a ^= a >> 33;
	a *= 0xff51afd7ed558ccdull;
	a ^= a >> 33;
	return (size_t)a;
}

struct pp_code_cache *pp_code_cache_new(const struct py_layout *l,
					const struct pp_code_types *types)
{
	struct pp_code_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->l = l;
	c->types = *types;
	c->cap = 1024;
	c->slots = calloc(c->cap, sizeof(*c->slots));
	c->scap = 1024;
	c->strs = calloc(c->scap, sizeof(*c->strs));
	if (!c->slots || !c->strs) {
		pp_code_cache_free(c);
		return NULL;
	}
	return c;
}

static void free_entry(struct pp_code_entry *e)
{
	free(e->linetable);
	free(e);
}

void pp_code_cache_free(struct pp_code_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->slots && i < c->cap; i++)
		if (c->slots[i])
			free_entry(c->slots[i]);
	for (size_t i = 0; c->strs && i < c->scap; i++)
		free(c->strs[i].s);
	free(c->slots);
	free(c->strs);
	free(c);
}

size_t pp_code_cache_size(const struct pp_code_cache *c)
{
	return c->n;
}

static int grow_codes(struct pp_code_cache *c)
{
	size_t ncap = c->cap * 2;
	struct pp_code_entry **ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -1;
	for (size_t i = 0; i < c->cap; i++) {
		struct pp_code_entry *e = c->slots[i];
		if (!e)
			continue;
		size_t j = hash_addr(e->addr) & (ncap - 1);
		while (ns[j])
			j = (j + 1) & (ncap - 1);
		ns[j] = e;
	}
	free(c->slots);
	c->slots = ns;
	c->cap = ncap;
	return 0;
}

static int grow_strs(struct pp_code_cache *c)
{
	size_t ncap = c->scap * 2;
	struct str_slot *ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -1;
	for (size_t i = 0; i < c->scap; i++) {
		if (!c->strs[i].addr)
			continue;
		size_t j = hash_addr(c->strs[i].addr) & (ncap - 1);
		while (ns[j].addr)
			j = (j + 1) & (ncap - 1);
		ns[j] = c->strs[i];
	}
	free(c->strs);
	c->strs = ns;
	c->scap = ncap;
	return 0;
}

/* A string by address; the cache owns it. NULL if unreadable. */
static const char *get_str(struct pp_code_cache *c, struct pp_mem *m,
			   uint64_t addr)
{
	if (!addr)
		return NULL;
	size_t j = hash_addr(addr) & (c->scap - 1);
	while (c->strs[j].addr) {
		if (c->strs[j].addr == addr)
			return c->strs[j].s;
		j = (j + 1) & (c->scap - 1);
	}
	char *s = pp_read_str(m, c->l, addr, c->types.str);
	if (!s)
		return NULL;
	if ((c->sn + 1) * 2 > c->scap) {
		if (grow_strs(c) != 0) {
			free(s);
			return NULL;
		}
		j = hash_addr(addr) & (c->scap - 1);
		while (c->strs[j].addr)
			j = (j + 1) & (c->scap - 1);
	}
	c->strs[j].addr = addr;
	c->strs[j].s = s;
	c->sn++;
	return s;
}

static struct pp_code_entry *read_code(struct pp_code_cache *c,
				       struct pp_mem *m, uint64_t addr)
{
	const struct py_layout *l = c->l;
	uint8_t buf[512];
	size_t len = l->co_size;
	if (len > sizeof(buf) || len < 64)
		return NULL;
	if (pp_mem_read(m, addr, buf, len) != 0)
		return NULL;
	if (c->types.code && pp_get_u64(buf, len, l->ob_type) != c->types.code)
		return NULL;
	if (pp_get_u64(buf, len, l->ob_refcnt) == 0)
		return NULL;

	struct pp_code_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->addr = addr;
	e->code.name = get_str(c, m, pp_get_u64(buf, len, l->co_name));
	e->code.filename = get_str(c, m, pp_get_u64(buf, len, l->co_filename));
	e->code.qualname = l->co_qualname != PP_ABSENT
		? get_str(c, m, pp_get_u64(buf, len, l->co_qualname))
		: e->code.name;
	e->code.firstlineno = (int32_t)pp_get_u32(buf, len, l->co_firstlineno);
	if (!e->code.name || !e->code.filename || !e->code.qualname)
		goto bad;
	e->linetable = pp_read_bytes(m, l, pp_get_u64(buf, len, l->co_linetable),
				     c->types.bytes, &e->linetable_len);
	if (!e->linetable)
		goto bad;
	if (l->co_code_adaptive != PP_ABSENT) {
		/* 3.11+: the code object is a var-object sized in code units. */
		e->ncodeunits = (int64_t)pp_get_u64(buf, len, l->ob_size);
		e->firsttraceable = (int32_t)pp_get_u32(buf, len, l->co_firsttraceable);
	} else {
		/* <=3.10: co_code is a bytes object; its size is in bytes. */
		uint8_t bh[32];
		uint64_t co_code = pp_get_u64(buf, len, l->co_code);
		if (pp_mem_read(m, co_code, bh, sizeof(bh)) != 0)
			goto bad;
		e->ncodeunits = (int64_t)pp_get_u64(bh, sizeof(bh), l->bytes_size) / 2;
	}
	if (e->ncodeunits < 0 || e->ncodeunits > (1 << 26))
		goto bad;
	return e;
bad:
	free_entry(e);
	return NULL;
}

const struct pp_code_entry *pp_code_cache_get(struct pp_code_cache *c,
					      struct pp_mem *m, uint64_t addr)
{
	if (!addr)
		return NULL;
	size_t j = hash_addr(addr) & (c->cap - 1);
	while (c->slots[j]) {
		if (c->slots[j]->addr == addr)
			return c->slots[j];
		j = (j + 1) & (c->cap - 1);
	}
	struct pp_code_entry *e = read_code(c, m, addr);
	if (!e)
		return NULL;
	if ((c->n + 1) * 2 > c->cap) {
		if (grow_codes(c) != 0) {
			free_entry(e);
			return NULL;
		}
		j = hash_addr(addr) & (c->cap - 1);
		while (c->slots[j])
			j = (j + 1) & (c->cap - 1);
	}
	c->slots[j] = e;
	c->n++;
	return e;
}
