/* What a Python value looks like, computed from the target's memory alone:
 * its type's name and a repr. Nothing runs in the target, so only types
 * whose repr follows from their bytes are shown exactly:
 *
 *   None, bool    None, True, False
 *   int           every digit, in decimal, as Python prints it (ints of
 *                 more than PP_REPR_INT_MAX_DIGITS 30-bit digits, about
 *                 13,500 decimal digits, show as "<int of N bits>")
 *   float         Python's repr: the shortest string that reads back as
 *                 the same double, in Python's choice of notation
 *   str           Python's repr of its first PP_REPR_STR_CHARS code
 *                 points; a longer str gets U+2026 after the closing quote
 *   bytes         the same for its first PP_REPR_BYTES_MAX bytes
 *   tuple, list,  "<list of 3 items>": the type and the length, never the
 *   dict, set,    items (so no recursion, no cycles)
 *   frozenset
 *   anything else "<Foo object at 0x7f...>", Foo being its type's tp_name
 *
 * A type is recognised by its own object: a static (non-heap) type of that
 * tp_name, with the subclass flag CPython gives it where it has one. A
 * subclass (a heap type) is "anything else". str's repr escapes what
 * Python's does (quotes, backslash, controls, C1 controls, line and
 * paragraph separators, format characters, private use, surrogates); it
 * keeps every other non-ASCII character as it is - Python also escapes
 * unassigned code points, which pyprobe has no table of.
 *
 * Every read is bounded and checked: corrupt memory gives an error, never a
 * crash or an unbounded loop.
 */
#ifndef PYPROBE_READER_PYREPR_H
#define PYPROBE_READER_PYREPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "memory.h"

#define PP_REPR_STR_CHARS 256u
#define PP_REPR_BYTES_MAX 256u
#define PP_REPR_INT_MAX_DIGITS 1500u
/* Longest type name read; a longer one ends in U+2026. */
#define PP_REPR_TYPE_NAME_MAX 200u

/* What pyprobe knows how to show of a type. */
enum pp_repr_kind {
	PP_REPR_OTHER = 0,
	PP_REPR_NONE,
	PP_REPR_BOOL,
	PP_REPR_INT,
	PP_REPR_FLOAT,
	PP_REPR_STR,
	PP_REPR_BYTES,
	PP_REPR_TUPLE,
	PP_REPR_LIST,
	PP_REPR_DICT,
	PP_REPR_SET,
	PP_REPR_FROZENSET,
	PP_REPR_CELL,
};

/* Types seen, by address (type objects do not move while a dump reads). */
struct pp_repr_type {
	uint64_t addr;
	char *name; /* UTF-8 */
	enum pp_repr_kind kind;
};

struct pp_repr {
	struct pp_mem *mem;
	const struct py_layout *l;
	struct pp_repr_type *types;
	size_t ntypes, cap;
};

void pp_repr_init(struct pp_repr *r, struct pp_mem *mem, const struct py_layout *l);
void pp_repr_free(struct pp_repr *r);

/* The object at `addr`: its type's name and its repr, malloc'd UTF-8 (free
 * both). Returns 0, or a negative errno when the object or its type cannot
 * be read or make no sense (then both are NULL). */
int pp_repr_object(struct pp_repr *r, uint64_t addr, char **type, char **repr);

/* The object at `addr` is a cell: 0 and its contents in *contents (0 for
 * an empty cell). -EINVAL if it is no cell, another errno if unreadable. */
int pp_repr_cell_contents(struct pp_repr *r, uint64_t addr, uint64_t *contents);

/* The formatting, on values already read (for the tests): */
char *pp_repr_float(double v);
/* An int of n 30-bit digits, least significant first. NULL if a digit
 * has a bit above the 30th, or out of memory. */
char *pp_repr_long(const uint32_t *digits, size_t n, bool negative);
char *pp_repr_small_int(int64_t v);
/* n code units of width kind (1, 2, 4); `cut` adds the trailing U+2026. */
char *pp_repr_str(const void *data, size_t n, int kind, bool cut);
char *pp_repr_bytes(const uint8_t *data, size_t n, bool cut);

#endif
