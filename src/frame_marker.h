/* The text of a marker frame (reader.h's pp_frame of a kind other than
 * PP_RF_PYTHON), as every output shows it: dump, and the frames of a
 * profile. See profile.h for where each stands in a stack. */
#ifndef PYPROBE_FRAME_MARKER_H
#define PYPROBE_FRAME_MARKER_H

#include <stddef.h>

#include "../reader/reader.h"

/* Writes the label ("[changing]", "[unreadable frame: frame chain loops]",
 * "[1234 more frames not read]") into buf, NUL-terminated, cut to size. */
void pp_frame_marker_label(const struct pp_frame *f, char *buf, size_t size);

#endif
