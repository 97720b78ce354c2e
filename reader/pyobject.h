/* Generic CPython objects read from the target: ints, dicts, module and
 * instance attributes. Used for things that live in Python objects rather
 * than interpreter structs (thread names; later, asyncio tasks).
 *
 * Every function is bounded (dict sizes, string lengths, digit counts are
 * capped) and returns a negative errno on anything it cannot read or does not
 * recognise; none of them can crash on corrupt memory.
 */
#ifndef PYPROBE_READER_PYOBJECT_H
#define PYPROBE_READER_PYOBJECT_H

#include <stdbool.h>
#include <stdint.h>

#include "layout.h"
#include "memory.h"

/* Dicts larger than this are treated as corrupt. */
#define PP_DICT_MAX_ENTRIES (1u << 20)

struct pp_objreader {
	struct pp_mem *mem;
	const struct py_layout *layout;
	/* Type addresses used to check objects; 0 = don't check. */
	uint64_t str_type, long_type, dict_type;
};

/* The value of the int at `addr`, which must fit in 64 bits unsigned
 * (thread idents do). -ERANGE if negative or too large. */
int pp_read_long(const struct pp_objreader *r, uint64_t addr, uint64_t *out);

/* Calls fn(key, value, ctx) for every live entry of the dict at `dict`
 * (combined or split), in entry order. fn returns non-zero to stop early;
 * that value is returned. */
typedef int (*pp_dict_visit_fn)(uint64_t key, uint64_t value, void *ctx);
int pp_dict_foreach(const struct pp_objreader *r, uint64_t dict,
		    pp_dict_visit_fn fn, void *ctx);

/* The value stored under the str key `key` (UTF-8) in the dict, or -ENOENT. */
int pp_dict_get_str(const struct pp_objreader *r, uint64_t dict,
		    const char *key, uint64_t *value);

/* Instance attribute `name` of the object at `obj`, looked up in the
 * instance's own storage only (tp_dictoffset dict on <=3.10; managed dict,
 * split values or 3.13 inline values on 3.11+) - no descriptors, no MRO.
 * -ENOENT if absent. */
int pp_object_attr(const struct pp_objreader *r, uint64_t obj,
		   const char *name, uint64_t *value);

#endif
