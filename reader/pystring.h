/* CPython str and bytes objects, read from the target and turned into
 * NUL-terminated UTF-8 owned by the caller.
 *
 * A str can hold U+0000 (a code object made with co_name="a\x00b"), and a
 * C string cannot: U+0000 is written as the two bytes C0 80, as Java's
 * "modified UTF-8" does. That sequence is never well-formed UTF-8, so it
 * cannot stand for anything else; the renderers show it as the NUL
 * character (render/utf8.h), and every other layer passes it through
 * like any other bytes. A NUL byte never appears inside a string.
 */
#ifndef PYPROBE_READER_PYSTRING_H
#define PYPROBE_READER_PYSTRING_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "memory.h"

/* Longest string (in code points) pp_ucs_to_utf8 converts, and longest
 * bytes object we will read (a 250,000-line function's line table is
 * 1.25 MB). */
#define PP_STR_MAX_CHARS (1u << 16)
#define PP_BYTES_MAX (64u << 20)
/* A str longer than this is read as its first PP_STR_SHOW_CHARS code
 * points and an ellipsis (U+2026). */
#define PP_STR_SHOW_CHARS 4096u

/* Encode `n` code units of width `kind` (1 = Latin-1, 2 = UCS-2,
 * 4 = UCS-4) from `data` as UTF-8 into a fresh malloc'd NUL-terminated
 * string. U+0000 becomes C0 80 (above); code points that are not valid
 * scalar values (surrogates, values above U+10FFFF) become U+FFFD. Returns NULL only on a bad kind or when out
 * of memory. */
char *pp_ucs_to_utf8(const void *data, size_t n, int kind);

/* Read the str object at `addr`. Returns a malloc'd UTF-8 string, or NULL if
 * the object is unreadable or not a str this version could have made. If
 * `str_type` is non-zero, the object's type must be that address. A str
 * longer than PP_STR_SHOW_CHARS comes back cut there, ending in "…"; its
 * length must be real (a compact str ends in a NUL where it says). */
char *pp_read_str(struct pp_mem *m, const struct py_layout *l, uint64_t addr,
		  uint64_t str_type);

/* Read the bytes object at `addr` into a fresh malloc'd buffer; *len gets
 * its size. NULL if unreadable, larger than PP_BYTES_MAX, or (when
 * `bytes_type` is non-zero) not of that type. */
uint8_t *pp_read_bytes(struct pp_mem *m, const struct py_layout *l,
		       uint64_t addr, uint64_t bytes_type, size_t *len);

#endif
