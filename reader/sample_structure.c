/* The structure phase, the slow way: interpreters and thread states by
 * following the interpreter's own lists (readahead.c reads them back in
 * one go when they are where they were). */
#include <stdlib.h>
#include <string.h>

#include "target_internal.h"

int pp_snapshot_reserve_bytes(struct snapshot *s, size_t n, size_t ts_size)
{
	size_t need = (n ? n : 1) * ts_size;
	if (need <= s->tsbytes_cap)
		return 0;
	size_t ncap = s->tsbytes_cap ? s->tsbytes_cap : 4096;
	while (ncap < need)
		ncap *= 2;
	uint8_t *nb = realloc(s->tsbytes, ncap);
	if (!nb)
		return -1;
	s->tsbytes = nb;
	s->tsbytes_cap = ncap;
	return 0;
}

void pp_snapshot_free(struct snapshot *s)
{
	if (!s)
		return;
	free(s->ts);
	free(s->tsbytes);
	free(s->os);
	free(s);
}

int pp_snapshot_push_ts(struct snapshot *s, const struct tstate_rec *r)
{
	if (s->nts == s->tscap) {
		size_t ncap = s->tscap ? s->tscap * 2 : 32;
		struct tstate_rec *n = realloc(s->ts, ncap * sizeof(*n));
		if (!n)
			return -1;
		s->ts = n;
		s->tscap = ncap;
	}
	s->ts[s->nts++] = *r;
	return 0;
}

enum pp_err pp_read_interpreters(struct pp_target *t, struct snapshot *s, struct pp_error *err)
{
	const struct py_layout *l = &t->layout;
	uint64_t interp = 0;
	int rc = pp_mem_read_u64(&t->mem, t->runtime + l->rt_interpreters_head, &interp);
	if (rc)
		return pp_sample_mem_error(t, rc, err);
	s->ninterps = 0;
	while (interp && s->ninterps < PP_MAX_INTERPRETERS) {
		struct interp_rec *ir = &s->interps[s->ninterps];
		uint64_t next = 0, gilp = 0;
		struct pp_iov iov[4] = {
			{interp + l->is_next, &next, 8},
			{interp + l->is_id, &ir->id, 8},
			{interp + l->is_modules, &ir->modules, 8},
			{l->is_ceval_gil != PP_ABSENT ? interp + l->is_ceval_gil : 0, &gilp, 8},
		};
		rc = pp_mem_readv(&t->mem, iov, l->is_ceval_gil != PP_ABSENT ? 4 : 3);
		if (rc)
			return pp_sample_mem_error(t, rc, err);
		ir->addr = interp;
		/* One GIL for the whole runtime up to 3.11; per interpreter
		 * (a pointer, possibly to the main one's) from 3.12. */
		ir->gil = l->rt_gil != PP_ABSENT ? t->runtime + l->rt_gil : gilp;
		ir->gil_holder = 0;
		int32_t locked = 0;
		uint64_t holder = 0;
		struct pp_iov giov[2] = {
			{ir->gil + l->gil_locked, &locked, 4},
			{ir->gil + l->gil_last_holder, &holder, 8},
		};
		/* last_holder is stale once released: only `locked` says. */
		if (ir->gil && pp_mem_readv(&t->mem, giov, 2) == 0 && locked == 1)
			ir->gil_holder = holder;
		s->ninterps++;
		interp = next;
		for (size_t i = 0; i < s->ninterps; i++)
			if (s->interps[i].addr == interp)
				interp = 0; /* a cycle: corrupt or torn list */
	}
	return PP_OK;
}

/* Thread-state addresses met in one list, for loops (a torn or corrupt
 * list): a hash set, so a long list costs linear time. */
struct addr_set {
	uint64_t *v;
	size_t cap, n;
};

static size_t hash_addr(uint64_t a)
{
	a ^= a >> 33;
	a *= 0xff51afd7ed558ccdull;
	a ^= a >> 33;
	return (size_t)a;
}

/* 1 when addr is in the set already (else it is added); -1 out of memory. */
static int met_before(struct addr_set *set, uint64_t addr)
{
	if ((set->n + 1) * 2 > set->cap) {
		size_t ncap = set->cap ? set->cap * 2 : 64;
		uint64_t *nv = calloc(ncap, sizeof(*nv));
		if (!nv)
			return -1;
		for (size_t i = 0; i < set->cap; i++) {
			if (!set->v[i])
				continue;
			size_t j = hash_addr(set->v[i]) & (ncap - 1);
			while (nv[j])
				j = (j + 1) & (ncap - 1);
			nv[j] = set->v[i];
		}
		free(set->v);
		set->v = nv;
		set->cap = ncap;
	}
	size_t j = hash_addr(addr) & (set->cap - 1);
	for (; set->v[j]; j = (j + 1) & (set->cap - 1))
		if (set->v[j] == addr)
			return 1;
	set->v[j] = addr;
	set->n++;
	return 0;
}

enum pp_err pp_read_tstates(struct pp_target *t, struct snapshot *s, struct pp_error *err)
{
	const struct py_layout *l = &t->layout;
	struct addr_set met = {0};
	enum pp_err e = PP_OK;
	s->nts = 0;
	for (size_t ii = 0; ii < s->ninterps; ii++) {
		uint64_t ts = 0;
		if (pp_mem_read_u64(&t->mem, s->interps[ii].addr + l->is_threads_head, &ts) != 0)
			continue;
		size_t first = s->nts, count = 0;
		/* A list that loops back (torn or corrupt) ends there. */
		while (ts && s->nts < PP_MAX_TSTATES) {
			int m = met_before(&met, ts);
			if (m != 0) {
				if (m < 0)
					e = pp_set_error(err, PP_ERR_IO, "out of memory");
				break;
			}
			if (pp_snapshot_reserve_bytes(s, s->nts + 1, l->ts_size) != 0) {
				e = pp_set_error(err, PP_ERR_IO, "out of memory");
				break;
			}
			uint8_t *tsb = s->tsbytes + s->nts * l->ts_size;
			if (pp_mem_read(&t->mem, ts, tsb, l->ts_size) != 0)
				break; /* torn list: a thread state just freed */
			struct tstate_rec r = {
				.addr = ts,
				.interp = ii,
				.bytes_off = s->nts * l->ts_size,
				.thread_id = pp_get_u64(tsb, l->ts_size, l->ts_thread_id),
				.native_id = l->ts_native_thread_id != PP_ABSENT
					? pp_get_u64(tsb, l->ts_size, l->ts_native_thread_id) : 0,
				.walk = -1,
			};
			if (pp_snapshot_push_ts(s, &r) != 0) {
				e = pp_set_error(err, PP_ERR_IO, "out of memory");
				break;
			}
			count++;
			ts = pp_get_u64(tsb, l->ts_size, l->ts_next);
		}
		/* The list is newest first; number them oldest first. */
		for (size_t i = 0; i < count; i++)
			s->ts[first + i].order = count - 1 - i;
		if (e)
			break;
	}
	free(met.v);
	return e;
}
