/* UTF-8 decoding; see utf8.h. */
#include "utf8.h"

long pp_utf8_next(const unsigned char *s, size_t len, size_t *n)
{
	unsigned c = s[0];
	size_t need;
	long cp;
	unsigned lo = 0x80, hi = 0xBF;
	*n = 1;
	if (c < 0x80)
		return c;
	if (pp_utf8_is_nul(s, len)) {
		*n = 2;
		return 0;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		cp = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		cp = c & 0x07;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return -1;
	}
	for (size_t i = 1; i <= need; i++) {
		if (i >= len || s[i] < lo || s[i] > hi)
			return -1;
		cp = (cp << 6) | (s[i] & 0x3F);
		*n = i + 1;
		lo = 0x80;
		hi = 0xBF;
	}
	return cp;
}

bool pp_utf8_is_control(long cp)
{
	return cp >= 0 && (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F));
}
