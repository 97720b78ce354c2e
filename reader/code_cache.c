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
	uint32_t id_lo, id_len;       /* the identity span of a code object */
	uint64_t epoch;
	struct pp_code_entry **used;  /* used in this epoch, not read fresh */
	size_t nused, capused;
	struct pp_code_entry **retired;
	size_t nretired, capretired;
	struct str_slot *strs;
	size_t scap, sn;
	char **old_strs;      /* texts replaced at their address, kept */
	size_t nold, capold;
	/* the validation read's buffers, kept between snapshots */
	uint8_t (*now)[32];
	struct pp_iov *iov;
	size_t capcheck;
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
	/* co_filename, co_name, co_qualname and co_linetable are neighbours
	 * in every version: one short read covers them. */
	uint32_t f[] = {l->co_filename, l->co_name, l->co_qualname, l->co_linetable};
	uint32_t lo = UINT32_MAX, hi = 0;
	for (size_t i = 0; i < 4; i++) {
		if (f[i] == PP_ABSENT)
			continue;
		lo = f[i] < lo ? f[i] : lo;
		hi = f[i] + 8 > hi ? f[i] + 8 : hi;
	}
	c->id_lo = lo;
	c->id_len = hi - lo;
	if (c->id_len > sizeof(((struct pp_code_entry *)0)->identity)) {
		free(c);
		return NULL;
	}
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
	for (size_t i = 0; i < c->nretired; i++)
		free_entry(c->retired[i]);
	free(c->retired);
	free(c->used);
	free(c->now);
	free(c->iov);
	free(c->slots);
	free(c->strs);
	for (size_t i = 0; i < c->nold; i++)
		free(c->old_strs[i]);
	free(c->old_strs);
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

static int keep_old_str(struct pp_code_cache *c, char *old)
{
	if (c->nold == c->capold) {
		size_t ncap = c->capold ? c->capold * 2 : 16;
		char **n = realloc(c->old_strs, ncap * sizeof(*n));
		if (!n)
			return -1;
		c->old_strs = n;
		c->capold = ncap;
	}
	c->old_strs[c->nold++] = old;
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

/* A string by address; the cache owns it. NULL if unreadable.
 *
 * Read every time: a str object can be freed and another allocated at its
 * address (the program's own file names replace the importer's while it
 * starts up), so a string cached by address alone goes stale. Strings are
 * only read when a code object is first seen, so this costs little; the
 * table just keeps one copy of a text per address. A replaced text is
 * kept (entries of retired code objects may still point at it). */
static const char *get_str(struct pp_code_cache *c, struct pp_mem *m,
			   uint64_t addr)
{
	if (!addr)
		return NULL;
	char *s = pp_read_str(m, c->l, addr, c->types.str);
	if (!s)
		return NULL;
	size_t j = hash_addr(addr) & (c->scap - 1);
	while (c->strs[j].addr) {
		if (c->strs[j].addr == addr) {
			if (strcmp(c->strs[j].s, s) == 0) {
				free(s);
				return c->strs[j].s;
			}
			if (keep_old_str(c, c->strs[j].s) != 0) {
				free(s);
				return NULL;
			}
			c->strs[j].s = s;
			return s;
		}
		j = (j + 1) & (c->scap - 1);
	}
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
	e->memo_unit = INT64_MIN;
	e->addr = addr;
	/* A code object whose parts cannot be read (corrupt, or freed since)
	 * is still a code object: what is missing is shown as "?" (a name,
	 * a file: NULL here; a line: the walker finds no line table). */
	e->code.name = get_str(c, m, pp_get_u64(buf, len, l->co_name));
	e->code.filename = get_str(c, m, pp_get_u64(buf, len, l->co_filename));
	e->code.qualname = l->co_qualname != PP_ABSENT
		? get_str(c, m, pp_get_u64(buf, len, l->co_qualname))
		: e->code.name;
	e->code.firstlineno = (int32_t)pp_get_u32(buf, len, l->co_firstlineno);
	e->linetable = pp_read_bytes(m, l, pp_get_u64(buf, len, l->co_linetable),
				     c->types.bytes, &e->linetable_len);
	if (l->co_code_adaptive != PP_ABSENT) {
		/* 3.11+: the code object is a var-object sized in code units. */
		e->ncodeunits = (int64_t)pp_get_u64(buf, len, l->ob_size);
		e->firsttraceable = (int32_t)pp_get_u32(buf, len, l->co_firsttraceable);
	} else {
		/* <=3.10: co_code is a bytes object; its size is in bytes. */
		uint8_t bh[32];
		uint64_t co_code = pp_get_u64(buf, len, l->co_code);
		e->ncodeunits = pp_mem_read(m, co_code, bh, sizeof(bh)) == 0
			? (int64_t)pp_get_u64(bh, sizeof(bh), l->bytes_size) / 2 : -1;
	}
	if (e->ncodeunits < 0 || e->ncodeunits > (1 << 26))
		e->ncodeunits = -1; /* unknown: no line can be trusted */
	memcpy(e->identity, buf + c->id_lo, c->id_len);
	e->epoch_read = e->epoch_used = c->epoch;
	return e;
}

const struct pp_code_entry *pp_code_cache_get(struct pp_code_cache *c,
					      struct pp_mem *m, uint64_t addr)
{
	if (!addr)
		return NULL;
	size_t j = hash_addr(addr) & (c->cap - 1);
	while (c->slots[j]) {
		struct pp_code_entry *e = c->slots[j];
		if (e->addr == addr) {
			if (e->epoch_used != c->epoch) {
				e->epoch_used = c->epoch;
				if (c->nused == c->capused) {
					size_t ncap = c->capused ? c->capused * 2 : 256;
					struct pp_code_entry **nu = realloc(c->used, ncap * sizeof(*nu));
					if (!nu)
						return NULL;
					c->used = nu;
					c->capused = ncap;
				}
				c->used[c->nused++] = e;
			}
			return e;
		}
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

void pp_code_cache_new_epoch(struct pp_code_cache *c)
{
	c->epoch++;
	c->nused = 0;
}

/* Take the stale entries out of the table (rebuilt: open addressing has no
 * cheap delete, and this is rare) and keep them allocated. */
static int retire(struct pp_code_cache *c, struct pp_code_entry **stale, size_t n)
{
	if (c->nretired + n > c->capretired) {
		size_t ncap = (c->nretired + n) * 2;
		struct pp_code_entry **nr = realloc(c->retired, ncap * sizeof(*nr));
		if (!nr)
			return -1;
		c->retired = nr;
		c->capretired = ncap;
	}
	for (size_t k = 0; k < n; k++) {
		c->retired[c->nretired++] = stale[k];
		stale[k]->addr = 0; /* matches no lookup */
	}
	struct pp_code_entry **ns = calloc(c->cap, sizeof(*ns));
	if (!ns)
		return -1;
	size_t kept = 0;
	for (size_t i = 0; i < c->cap; i++) {
		struct pp_code_entry *e = c->slots[i];
		if (!e || !e->addr)
			continue;
		size_t j = hash_addr(e->addr) & (c->cap - 1);
		while (ns[j])
			j = (j + 1) & (c->cap - 1);
		ns[j] = e;
		kept++;
	}
	free(c->slots);
	c->slots = ns;
	c->n = kept;
	return 0;
}

size_t pp_code_cache_check_reads(struct pp_code_cache *c, const struct pp_iov **iov)
{
	*iov = NULL;
	if (!c->nused)
		return 0;
	if (c->nused > c->capcheck) {
		uint8_t (*now)[32] = realloc(c->now, c->nused * sizeof(*now));
		if (now)
			c->now = now;
		struct pp_iov *v = realloc(c->iov, c->nused * sizeof(*v));
		if (v)
			c->iov = v;
		if (!now || !v)
			return 0;
		c->capcheck = c->nused;
	}
	for (size_t i = 0; i < c->nused; i++) {
		c->iov[i].addr = c->used[i]->addr + c->id_lo;
		c->iov[i].buf = c->now[i];
		c->iov[i].len = c->id_len;
	}
	*iov = c->iov;
	return c->nused;
}

int pp_code_cache_check_judge(struct pp_code_cache *c, struct pp_mem *m, int read_rc)
{
	if (!c->nused)
		return 0;
	if (c->nused > c->capcheck) { /* check_reads could not get memory */
		c->nused = 0;
		return -1;
	}
	size_t nstale = 0;
	/* compact the stale ones to the front of `used`; if the batch failed,
	 * read one by one: an unreadable code object is stale too */
	for (size_t i = 0; i < c->nused; i++) {
		int gone = read_rc != 0 &&
			   pp_mem_read(m, c->iov[i].addr, c->now[i], c->id_len) != 0;
		if (gone || memcmp(c->now[i], c->used[i]->identity, c->id_len) != 0)
			c->used[nstale++] = c->used[i];
	}
	int rc = nstale && retire(c, c->used, nstale) != 0 ? -1 : 0;
	c->nused = 0;
	return rc ? -1 : (int)nstale;
}

int pp_code_cache_validate(struct pp_code_cache *c, struct pp_mem *m)
{
	const struct pp_iov *iov;
	size_t n = pp_code_cache_check_reads(c, &iov);
	int rc = n ? pp_mem_readv(m, iov, n) : (c->nused ? -1 : 0);
	return pp_code_cache_check_judge(c, m, rc);
}

void pp_code_cache_identity_span(const struct pp_code_cache *c, uint32_t *lo, uint32_t *len)
{
	*lo = c->id_lo;
	*len = c->id_len;
}

size_t pp_code_cache_pending(const struct pp_code_cache *c)
{
	return c->nused;
}

int pp_code_cache_judge_ahead(struct pp_code_cache *c,
			      const struct pp_code_entry *const *ents,
			      const uint8_t *ids, size_t n)
{
	struct pp_code_entry *sbuf[16], **stale = sbuf;
	if (c->nused > 16 && !(stale = malloc(c->nused * sizeof(*stale))))
		return -1;
	size_t keep = 0, nstale = 0;
	for (size_t i = 0; i < c->nused; i++) {
		struct pp_code_entry *e = c->used[i];
		size_t lo = 0, hi = n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if ((uintptr_t)ents[mid] < (uintptr_t)e)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < n && ents[lo] == e && e->addr) {
			if (memcmp(ids + lo * c->id_len, e->identity, c->id_len) != 0)
				stale[nstale++] = e;
			continue; /* judged here */
		}
		c->used[keep++] = e; /* not read ahead: still to check */
	}
	c->nused = keep;
	int rc = nstale ? retire(c, stale, nstale) : 0;
	if (stale != sbuf)
		free(stale);
	return rc ? -1 : (int)nstale;
}
