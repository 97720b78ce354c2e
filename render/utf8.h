/* UTF-8 decoding for the renderers that must write well-formed text from
 * strings read out of a target (JSON, SVG). */
#ifndef PYPROBE_RENDER_UTF8_H
#define PYPROBE_RENDER_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* U+0000 in a string from a target is the two bytes C0 80 (a NUL byte
 * would end the C string; see reader/pystring.h). Whether s (len bytes
 * left) starts with it. */
static inline bool pp_utf8_is_nul(const unsigned char *s, size_t len)
{
	return len >= 2 && s[0] == 0xC0 && s[1] == 0x80;
}

/* The code point at s (len >= 1 bytes left) and its length in *n; -1 for
 * ill-formed input, with *n the length of its maximal ill-formed subpart
 * (>= 1), so that it becomes one U+FFFD, as Unicode recommends and
 * Python's decode("utf-8", "replace") does. Ranges of Unicode Table 3-7:
 * no overlongs, no surrogates, nothing above U+10FFFF - but for the one
 * overlong C0 80, which is U+0000 (above), *n = 2. */
long pp_utf8_next(const unsigned char *s, size_t len, size_t *n);

/* C0 controls, DEL and C1: never written into an SVG. */
bool pp_utf8_is_control(long cp);

#endif
