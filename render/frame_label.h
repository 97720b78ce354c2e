/* The text of a frame in every profile format: "function (file:line)",
 * "function (file)" without a line, a synthetic frame's name alone. */
#ifndef PYPROBE_RENDER_FRAME_LABEL_H
#define PYPROBE_RENDER_FRAME_LABEL_H

#include <stddef.h>

#include "../src/profile.h"

/* Writes the label into buf (NUL-terminated, truncated to size); returns
 * the length it needed. */
size_t pp_frame_label(const struct pp_view_frame *f, char *buf, size_t size);

#endif
