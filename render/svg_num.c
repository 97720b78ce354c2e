/* SVG numbers; see svg_num.h. */
#include "svg_num.h"

#include <inttypes.h>

void pp_svg_tenths(FILE *out, int64_t v)
{
	if (v < 0) {
		putc('-', out);
		v = -v;
	}
	if (v % 10)
		fprintf(out, "%" PRId64 ".%" PRId64, v / 10, v % 10);
	else
		fprintf(out, "%" PRId64, v / 10);
}
