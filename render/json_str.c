/* JSON strings; see json_str.h. */
#include "json_str.h"

#include <stddef.h>

/* Length of the well-formed UTF-8 sequence at p (1..4), or 0 if it is not
 * one; then *bad is the length of its maximal ill-formed prefix (>= 1), so
 * that a truncated sequence becomes a single U+FFFD, the way the Unicode
 * standard recommends and Python's decode("utf-8", "replace") does.
 * Ranges from Unicode Table 3-7: no overlongs, no surrogates, nothing
 * above U+10FFFF. */
static size_t utf8_seq(const unsigned char *p, size_t *bad)
{
	unsigned char c = p[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		*bad = 1;
		return 0;
	}
	/* The string's terminating NUL is never a continuation byte, so these
	 * reads stop at it. */
	if (p[1] < lo || p[1] > hi) {
		*bad = 1;
		return 0;
	}
	for (size_t i = 2; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf) {
			*bad = i;
			return 0;
		}
	}
	return n;
}

/* See json_str.h (shared with the profile renderers). */
void pp_json_str(const char *s, FILE *out)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned char c = *p;
		size_t bad = 0, n;
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
			n = utf8_seq(p, &bad);
			if (n == 0) {
				fputs("\xef\xbf\xbd", out); /* U+FFFD */
				p += bad;
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
