/* UTF-8 decoding for the renderers that must write well-formed text from
 * strings read out of a target (JSON, SVG). */
#ifndef PYPROBE_RENDER_UTF8_H
#define PYPROBE_RENDER_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* The code point at s (len >= 1 bytes left) and its length in *n; -1 for
 * ill-formed input, with *n the length of its maximal ill-formed subpart
 * (>= 1), so that it becomes one U+FFFD, as Unicode recommends and
 * Python's decode("utf-8", "replace") does. Ranges of Unicode Table 3-7:
 * no overlongs, no surrogates, nothing above U+10FFFF. */
long pp_utf8_next(const unsigned char *s, size_t len, size_t *n);

/* C0 controls, DEL and C1: never written into an SVG. */
bool pp_utf8_is_control(long cp);

#endif
