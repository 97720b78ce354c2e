/* str and bytes objects from the target, as UTF-8. */
#include "pystring.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static size_t put_utf8(char *o, uint32_t c)
{
	if ((c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF)
		c = 0xFFFD; /* lone surrogates and garbage: keep output valid */
	if (c == 0) {
		/* A NUL byte would end the C string: U+0000 takes the
		 * two-byte form instead (see pystring.h). */
		o[0] = (char)0xC0;
		o[1] = (char)0x80;
		return 2;
	}
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xC0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xE0 | (c >> 12));
		o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		o[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (c >> 18));
	o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	o[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

char *pp_ucs_to_utf8(const void *data, size_t n, int kind)
{
	if (kind != 1 && kind != 2 && kind != 4)
		return NULL;
	if (n > PP_STR_MAX_CHARS)
		return NULL;
	char *out = malloc(n * 4 + 1);
	if (!out)
		return NULL;
	const uint8_t *p = data;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t c;
		if (kind == 1) {
			c = p[i];
		} else if (kind == 2) {
			uint16_t v;
			memcpy(&v, p + 2 * i, 2);
			c = v;
		} else {
			memcpy(&c, p + 4 * i, 4);
		}
		o += put_utf8(out + o, c);
	}
	out[o] = '\0';
	return out;
}

/* A str's header: everything up to and including the larger data offset, so
 * one read covers the compact-ASCII case entirely for short names. */
#define STR_HEAD_READ 128

char *pp_read_str(struct pp_mem *m, const struct py_layout *l, uint64_t addr,
		  uint64_t str_type)
{
	uint8_t head[STR_HEAD_READ] = {0};
	size_t have = sizeof(head);
	/* The object may end just before an unmapped page: retry with only
	 * the header proper before giving up. */
	if (pp_mem_read(m, addr, head, have) != 0) {
		have = l->str_legacy_data + 8;
		if (have > sizeof(head) || pp_mem_read(m, addr, head, have) != 0)
			return NULL;
	}
	if (str_type && pp_get_u64(head, sizeof(head), l->ob_type) != str_type)
		return NULL;
	uint64_t length = pp_get_u64(head, sizeof(head), l->str_length);
	uint32_t state = pp_get_u32(head, sizeof(head), l->str_state);
	int kind = (state >> 2) & 7;
	int compact = (state >> 5) & 1;
	int ascii = (state >> 6) & 1;
	if (kind != 1 && kind != 2 && kind != 4)
		return NULL; /* includes 0: a not-ready legacy (wchar_t) str */
	if (ascii && kind != 1)
		return NULL;

	uint64_t data;
	if (compact)
		data = addr + (ascii ? l->str_ascii_data : l->str_compact_data);
	else
		data = pp_get_u64(head, sizeof(head), l->str_legacy_data);
	bool cut = false;
	if (length > PP_STR_SHOW_CHARS) {
		/* A str this long is shown cut short - if it is one: a length
		 * that is garbage would show whatever follows the object. A
		 * compact str is NUL-terminated where its length says. */
		uint32_t term = 1;
		if (length > (1ull << 40) || (compact && pp_mem_read(m, data + length * (uint64_t)kind,
								     &term, (size_t)kind) != 0) ||
		    (compact && term != 0))
			return NULL;
		length = PP_STR_SHOW_CHARS;
		cut = true;
	}
	if (cut) {
		/* the first PP_STR_SHOW_CHARS, then the ellipsis */
		size_t nb = (size_t)length * (size_t)kind;
		uint8_t *big = malloc(nb);
		if (!big || pp_mem_read(m, data, big, nb) != 0) {
			free(big);
			return NULL;
		}
		char *s = pp_ucs_to_utf8(big, length, kind);
		free(big);
		size_t sl = s ? strlen(s) : 0;
		char *t = s ? realloc(s, sl + 4) : NULL;
		if (!t) {
			free(s);
			return NULL;
		}
		memcpy(t + sl, "\xE2\x80\xA6", 4); /* U+2026 */
		return t;
	}

	size_t nbytes = (size_t)length * (size_t)kind;
	uint8_t *buf;
	uint8_t small[STR_HEAD_READ];
	if (compact && data - addr + nbytes <= have) {
		buf = head + (data - addr);
	} else if (nbytes <= sizeof(small)) {
		if (nbytes && pp_mem_read(m, data, small, nbytes) != 0)
			return NULL;
		buf = small;
	} else {
		uint8_t *big = malloc(nbytes);
		if (!big)
			return NULL;
		if (pp_mem_read(m, data, big, nbytes) != 0) {
			free(big);
			return NULL;
		}
		char *s = pp_ucs_to_utf8(big, length, kind);
		free(big);
		return s;
	}
	if (ascii) {
		/* ASCII is UTF-8 already, but the memory may lie: anything
		 * above 0x7F would be invalid, and a NUL would end the
		 * string early, so route those through the encoder, which
		 * handles every byte value. */
		for (size_t i = 0; i < nbytes; i++)
			if (buf[i] == 0 || (buf[i] & 0x80))
				return pp_ucs_to_utf8(buf, length, 1);
		char *s = malloc(nbytes + 1);
		if (!s)
			return NULL;
		memcpy(s, buf, nbytes);
		s[nbytes] = '\0';
		return s;
	}
	return pp_ucs_to_utf8(buf, length, kind);
}

uint8_t *pp_read_bytes(struct pp_mem *m, const struct py_layout *l,
		       uint64_t addr, uint64_t bytes_type, size_t *len)
{
	uint8_t head[64] = {0};
	size_t have = sizeof(head);
	if (pp_mem_read(m, addr, head, have) != 0) {
		have = l->bytes_sval;
		if (have > sizeof(head) || pp_mem_read(m, addr, head, have) != 0)
			return NULL;
	}
	if (bytes_type && pp_get_u64(head, sizeof(head), l->ob_type) != bytes_type)
		return NULL;
	uint64_t size = pp_get_u64(head, sizeof(head), l->bytes_size);
	if (size > PP_BYTES_MAX)
		return NULL;
	uint8_t *out = malloc(size ? size : 1);
	if (!out)
		return NULL;
	size_t inhead = have > l->bytes_sval ? have - l->bytes_sval : 0;
	if (size <= inhead) {
		memcpy(out, head + l->bytes_sval, size);
	} else if (pp_mem_read(m, addr + l->bytes_sval, out, size) != 0) {
		free(out);
		return NULL;
	}
	*len = size;
	return out;
}
