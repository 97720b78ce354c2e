/* JSON strings; see json_str.h. */
#include "json_str.h"

#include <stddef.h>
#include <string.h>

#include "utf8.h"

/* See json_str.h (shared with the profile renderers). */
void pp_json_str(const char *s, FILE *out)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
	while (*p) {
		unsigned char c = *p;
		size_t n;
		switch (c) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\b':
			fputs("\\b", out);
			break;
		case '\f':
			fputs("\\f", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (c < 0x20) {
				fprintf(out, "\\u%04x", c);
				break;
			}
			long cp = pp_utf8_next(p, (size_t)(end - p), &n);
			if (cp < 0) {
				fputs("\xef\xbf\xbd", out); /* U+FFFD */
				p += n;
				continue;
			}
			if (cp == 0) { /* C0 80: U+0000 */
				fputs("\\u0000", out);
				p += n;
				continue;
			}
			fwrite(p, 1, n, out);
			p += n;
			continue;
		}
		p++;
	}
	fputc('"', out);
}
