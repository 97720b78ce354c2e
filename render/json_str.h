/* JSON strings (RFC 8259) for the renderers that write JSON. */
#ifndef PYPROBE_RENDER_JSON_STR_H
#define PYPROBE_RENDER_JSON_STR_H

#include <stdio.h>

/* Writes s as a quoted JSON string, or `null` when s is NULL. Quote,
 * backslash and control characters are escaped, and so is U+0000 (the
 * bytes C0 80, see utf8.h): `\u0000`; UTF-8 passes through;
 * bytes that are not well-formed UTF-8 become U+FFFD, one per maximal
 * ill-formed subsequence (as Python's decode("utf-8", "replace")), so the
 * document always stays valid. Write errors are left on the stream. */
void pp_json_str(const char *s, FILE *out);

#endif
