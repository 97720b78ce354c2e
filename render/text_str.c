/* Strings from a target in plain-text output, made harmless. */
#include "text_str.h"

#include <string.h>

#include "utf8.h"

void pp_text_str(const char *s, int quoted, FILE *out)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
	for (; *p; p++) {
		unsigned char c = *p;
		if (pp_utf8_is_nul(p, (size_t)(end - p))) {
			fputs("\\x00", out); /* U+0000, as the C0 controls */
			p++;
		} else if (quoted && (c == '"' || c == '\\')) {
			fputc('\\', out);
			fputc(c, out);
		} else if (c == '\n') {
			fputs("\\n", out);
		} else if (c == '\t') {
			fputs("\\t", out);
		} else if (c == '\r') {
			fputs("\\r", out);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\x%02x", c);
		} else {
			fputc(c, out);
		}
	}
}
