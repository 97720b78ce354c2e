/* threading.Thread names, read out of the target's `threading` module:
 * sys.modules["threading"].__dict__["_active"] is {ident: Thread}, and each
 * Thread keeps its name in the instance attribute `_name`.
 *
 * Only _active: _limbo holds threads that were started but are not running
 * yet, so they have no thread state to attach a name to.
 */
#include "thread_names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pystring.h"

/* More threads than this in one interpreter means the dict is not what we
 * think it is; stop collecting rather than grow without bound. */
#define MAX_THREADS 16384

struct collect {
	const struct pp_objreader *r;
	struct pp_thread_names *out;
	size_t added;
	int err;
};

static int append(struct pp_thread_names *t, uint64_t ident, uint64_t native_id, char *name)
{
	/* The struct has no capacity field, so the capacity is implied: 8,
	 * then the next power of two. Grow exactly when n reaches it. */
	if (t->n == 0 || (t->n >= 8 && (t->n & (t->n - 1)) == 0)) {
		size_t cap = t->n ? t->n * 2 : 8;
		struct pp_thread_name *v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->v = v;
	}
	t->v[t->n].ident = ident;
	t->v[t->n].native_id = native_id;
	t->v[t->n].name = name;
	t->n++;
	return 0;
}

static int visit(uint64_t key, uint64_t value, void *ctx)
{
	struct collect *c = ctx;
	if (c->added >= MAX_THREADS) {
		c->err = -E2BIG;
		return 1;
	}
	/* An entry we cannot read (a thread exiting as we look, or a key that
	 * is not an int) costs that one name, not the others. */
	uint64_t ident;
	if (pp_read_long(c->r, key, &ident) != 0)
		return 0;
	uint64_t name_obj;
	if (pp_object_attr(c->r, value, "_name", &name_obj) != 0)
		return 0;
	char *name = pp_read_str(c->r->mem, c->r->layout, name_obj, c->r->str_type);
	if (!name)
		return 0;
	/* Thread._native_id (3.8+), None until the thread runs: unknown then */
	uint64_t native_obj, native_id = 0;
	if (pp_object_attr(c->r, value, "_native_id", &native_obj) != 0 ||
	    pp_read_long(c->r, native_obj, &native_id) != 0)
		native_id = 0;
	int rc = append(c->out, ident, native_id, name);
	if (rc) {
		free(name);
		c->err = rc;
		return 1;
	}
	c->added++;
	return 0;
}

int pp_thread_names_read(const struct pp_objreader *r, uint64_t modules_dict,
			 struct pp_thread_names *out)
{
	const struct py_layout *l = r->layout;
	if (l->mod_dict == PP_ABSENT)
		return -ENOTSUP;
	uint64_t mod, md, active;
	int rc = pp_dict_get_str(r, modules_dict, "threading", &mod);
	if (rc)
		return rc;
	rc = pp_mem_read_u64(r->mem, mod + l->mod_dict, &md);
	if (rc)
		return rc;
	if (!md)
		return -ENOENT; /* module being torn down */
	rc = pp_dict_get_str(r, md, "_active", &active);
	if (rc)
		return rc;
	struct collect c = {r, out, 0, 0};
	rc = pp_dict_foreach(r, active, visit, &c);
	if (c.err)
		return c.err;
	/* Names gathered before a failed read stay in `out`: partial
	 * results are still worth showing. */
	return rc < 0 ? rc : 0;
}

const char *pp_thread_names_get(const struct pp_thread_names *t, uint64_t ident,
				uint64_t native_id)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].ident == ident &&
		    (!native_id || !t->v[i].native_id || t->v[i].native_id == native_id))
			return t->v[i].name;
	return NULL;
}

void pp_thread_names_free(struct pp_thread_names *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].name);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}
