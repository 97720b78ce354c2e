/* Strings read from a target (thread names, function and file names) in
 * the text formats meant for a terminal: dump and report. */
#ifndef PYPROBE_RENDER_TEXT_STR_H
#define PYPROBE_RENDER_TEXT_STR_H

#include <stdio.h>

/* Write s, escaping C0 control characters and DEL so that a hostile or
 * odd string (a thread named "x\nThread 1 ...", a terminal escape) cannot
 * forge lines or drive the terminal: `\n`, `\t`, `\r`, else `\xHH`. U+0000
 * (the bytes C0 80, see utf8.h) is `\x00`. With `quoted`, also escape '"' and
 * '\' so the string can sit between quotes unambiguously. */
void pp_text_str(const char *s, int quoted, FILE *out);

#endif
