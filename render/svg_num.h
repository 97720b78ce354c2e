/* Numbers in the SVG formats (flame graph, timeline): coordinates are
 * kept in tenths of a pixel, as integers, so output is identical on every
 * machine. */
#ifndef PYPROBE_RENDER_SVG_NUM_H
#define PYPROBE_RENDER_SVG_NUM_H

#include <stdint.h>
#include <stdio.h>

/* v tenths as "12" or "12.3" (or "-12.3"). */
void pp_svg_tenths(FILE *out, int64_t v);

#endif
