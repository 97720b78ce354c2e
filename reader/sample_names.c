/* The names phase: threading.Thread names (thread_names.h reads them out
 * of the target's threading module), read about once a second and as soon
 * as a thread appears that the last read did not know. */
#include <stdlib.h>
#include <string.h>

#include "target_internal.h"

/* A thread runs before threading registers its name: reads that find it
 * nameless are retried this many times (a thread started with _thread
 * never gets a name). */
#define NAME_TRIES 3

static int named_order(const void *a, const void *b)
{
	const struct pp_named_thread *x = a, *y = b;
	if (x->ident != y->ident)
		return x->ident < y->ident ? -1 : 1;
	return x->native_id < y->native_id ? -1 : x->native_id > y->native_id;
}

/* Asked of every thread at every sample: t->named is kept sorted. */
static const struct pp_named_thread *named_entry(const struct pp_target *t,
						 const struct tstate_rec *r)
{
	if (!t->nnamed)
		return NULL;
	struct pp_named_thread key = {r->thread_id, r->native_id, 0};
	return bsearch(&key, t->named, t->nnamed, sizeof(key), named_order);
}

/* A thread the last names read was not for - it started since, perhaps
 * with the ident of a thread that ended, which glibc reuses - or found
 * nameless fewer than NAME_TRIES times. */
static bool name_missing(const struct pp_target *t, const struct tstate_rec *r)
{
	if (!r->thread_id)
		return false;
	const struct pp_named_thread *e = named_entry(t, r);
	return !e || (e->nameless && e->nameless < NAME_TRIES);
}

/* Read the names afresh; remember which threads they were read for, so
 * that those do not make every later sample read again. */
static void read_names(struct pp_target *t, const struct snapshot *s)
{
	pp_thread_names_free(&t->names);
	memset(&t->names, 0, sizeof(t->names));
	/* The main interpreter (last in the list) knows the most threads;
	 * read it first so its names win. */
	for (size_t i = s->ninterps; i-- > 0;)
		if (s->interps[i].modules)
			pp_thread_names_read(&t->obj, s->interps[i].modules, &t->names);
	struct pp_named_thread *n = malloc((s->nts ? s->nts : 1) * sizeof(*n));
	if (!n)
		return;
	for (size_t i = 0; i < s->nts; i++) {
		const struct tstate_rec *r = &s->ts[i];
		const struct pp_named_thread *before = named_entry(t, r);
		bool named = pp_thread_names_get(&t->names, r->thread_id, r->ns_tid) != NULL;
		n[i] = (struct pp_named_thread){r->thread_id, r->native_id,
						named ? 0 : (before ? before->nameless : 0) + 1};
	}
	qsort(n, s->nts, sizeof(*n), named_order);
	free(t->named);
	t->named = n;
	t->nnamed = s->nts;
}

static bool new_thread(const struct pp_target *t, const struct snapshot *s)
{
	for (size_t i = 0; i < s->nts; i++)
		if (name_missing(t, &s->ts[i]))
			return true;
	return false;
}

void pp_refresh_names(struct pp_target *t, const struct snapshot *s, bool force)
{
	/* Names come from the last read of them, refreshed when asked and as
	 * soon as a thread appears that it did not know - so a thread's
	 * samples never change name just because this one read was skipped. */
	if (force || new_thread(t, s))
		read_names(t, s);
}
