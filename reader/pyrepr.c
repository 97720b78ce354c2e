/* Type names and reprs of values in the target (pyrepr.h). */
#include "pyrepr.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Same bits in every supported version (object.h). */
#define TPFLAGS_HEAPTYPE (1ull << 9)
#define TPFLAGS_LONG_SUBCLASS (1ull << 24)
#define TPFLAGS_LIST_SUBCLASS (1ull << 25)
#define TPFLAGS_TUPLE_SUBCLASS (1ull << 26)
#define TPFLAGS_BYTES_SUBCLASS (1ull << 27)
#define TPFLAGS_UNICODE_SUBCLASS (1ull << 28)
#define TPFLAGS_DICT_SUBCLASS (1ull << 29)

#define LONG_SHIFT 30
#define LONG_MASK ((1u << LONG_SHIFT) - 1)

/* Types remembered per dump; past this, looked up afresh each time. */
#define TYPE_CACHE_MAX 256

/* Anything that cannot be an object: unaligned, NULL page, kernel half. */
static bool bad_ptr(uint64_t p)
{
	return p < 4096 || (p & 7) || p >= (1ull << 47);
}

/* ---- a growing string ------------------------------------------------------ */

struct sb {
	char *p;
	size_t n, cap;
	bool oom;
};

static void sb_add(struct sb *b, const char *s, size_t n)
{
	/* (no repr comes near this; the bound also tells the compiler so) */
	if (n > (1u << 24))
		b->oom = true;
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (b->n + n + 1 > cap)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void sb_puts(struct sb *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static char *sb_take(struct sb *b)
{
	if (b->oom || !b->p) {
		free(b->p);
		return b->oom ? NULL : strdup("");
	}
	return b->p;
}

static void sb_utf8(struct sb *b, uint32_t c)
{
	char o[4];
	size_t n;
	if (c < 0x80) {
		o[0] = (char)c;
		n = 1;
	} else if (c < 0x800) {
		o[0] = (char)(0xC0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3F));
		n = 2;
	} else if (c < 0x10000) {
		o[0] = (char)(0xE0 | (c >> 12));
		o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		o[2] = (char)(0x80 | (c & 0x3F));
		n = 3;
	} else {
		o[0] = (char)(0xF0 | (c >> 18));
		o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
		o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
		o[3] = (char)(0x80 | (c & 0x3F));
		n = 4;
	}
	sb_add(b, o, n);
}

/* ---- formatting values already read -------------------------------------- */

char *pp_repr_small_int(int64_t v)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%" PRId64, v);
	return strdup(buf);
}

char *pp_repr_long(const uint32_t *digits, size_t n, bool negative)
{
	/* Base 2^30 to base 10^9, most significant digit first: each step
	 * multiplies what is there by 2^30 and adds the digit (CPython's
	 * own method; quadratic, fine at the sizes allowed). */
	while (n && digits[n - 1] == 0)
		n--;
	size_t cap = n + n / 9 + 2; /* 10^9 groups: 30 / log2(10^9) < 1.004 */
	uint32_t *out = calloc(cap, sizeof(*out));
	if (!out)
		return NULL;
	size_t used = 0;
	for (size_t i = n; i-- > 0;) {
		if (digits[i] > LONG_MASK) {
			free(out);
			return NULL;
		}
		uint64_t carry = digits[i];
		for (size_t j = 0; j < used; j++) {
			uint64_t z = ((uint64_t)out[j] << LONG_SHIFT) + carry;
			carry = z / 1000000000u;
			out[j] = (uint32_t)(z % 1000000000u);
		}
		while (carry && used < cap) {
			out[used++] = (uint32_t)(carry % 1000000000u);
			carry /= 1000000000u;
		}
	}
	struct sb b = {0};
	if (negative && used)
		sb_puts(&b, "-");
	char g[16];
	if (!used) {
		sb_puts(&b, "0");
	} else {
		snprintf(g, sizeof g, "%" PRIu32, out[used - 1]);
		sb_puts(&b, g);
		for (size_t j = used - 1; j-- > 0;) {
			snprintf(g, sizeof g, "%09" PRIu32, out[j]);
			sb_puts(&b, g);
		}
	}
	free(out);
	return sb_take(&b);
}

char *pp_repr_float(double v)
{
	if (isnan(v))
		return strdup("nan"); /* Python drops a NaN's sign */
	if (isinf(v))
		return strdup(v < 0 ? "-inf" : "inf");
	/* The shortest decimal that reads back as v: try 1 to 17
	 * significant digits (17 always round-trips a double). */
	char e[40];
	for (int prec = 0; prec <= 16; prec++) {
		snprintf(e, sizeof e, "%.*e", prec, v);
		if (strtod(e, NULL) == v)
			break;
	}
	/* e is [-]D[.DDD]e(+|-)XX: split it into digits and the exponent. */
	char digits[24];
	size_t nd = 0;
	const char *p = e;
	bool neg = *p == '-';
	if (neg)
		p++;
	for (; *p && *p != 'e' && nd < sizeof(digits) - 1; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	digits[nd] = '\0';
	int exp10 = *p == 'e' ? atoi(p + 1) : 0;
	while (nd > 1 && digits[nd - 1] == '0')
		digits[--nd] = '\0';
	/* Python's 'r' format: value = 0.DIGITS x 10^decpt; scientific
	 * notation when decpt <= -4 or decpt > 16, else positional with at
	 * least one digit after the point. */
	int decpt = exp10 + 1;
	if (nd == 1 && digits[0] == '0')
		decpt = 1; /* zero: "0.0" */
	struct sb b = {0};
	if (neg)
		sb_puts(&b, "-");
	if (decpt <= -4 || decpt > 16) {
		sb_add(&b, digits, 1);
		if (nd > 1) {
			sb_puts(&b, ".");
			sb_add(&b, digits + 1, nd - 1);
		}
		char x[16];
		int ex = decpt - 1;
		snprintf(x, sizeof x, "e%c%02d", ex < 0 ? '-' : '+', ex < 0 ? -ex : ex);
		sb_puts(&b, x);
	} else if (decpt <= 0) {
		sb_puts(&b, "0.");
		for (int i = decpt; i < 0; i++)
			sb_puts(&b, "0");
		sb_add(&b, digits, nd);
	} else if ((size_t)decpt >= nd) {
		sb_add(&b, digits, nd);
		for (size_t i = nd; i < (size_t)decpt; i++)
			sb_puts(&b, "0");
		sb_puts(&b, ".0");
	} else {
		sb_add(&b, digits, (size_t)decpt);
		sb_puts(&b, ".");
		sb_add(&b, digits + decpt, nd - (size_t)decpt);
	}
	return sb_take(&b);
}

/* Code points Python's repr escapes although they are not ASCII: the
 * categories str.isprintable() rejects (Cc, Cf, Cs, Co, Zl, Zp, Zs but
 * space), as far as they lie in the blocks listed; unassigned code points
 * are not known here. */
static bool printable(uint32_t c)
{
	if (c < 0x20 || c == 0x7F)
		return false;
	if (c < 0x7F)
		return true;
	if (c <= 0xA0 || c == 0xAD)
		return false;
	if (c >= 0x0600 && c <= 0x0605)
		return false;
	if (c == 0x061C || c == 0x06DD || c == 0x070F || c == 0x08E2 || c == 0x1680 ||
	    c == 0x180E || c == 0x3000 || c == 0xFEFF)
		return false;
	if ((c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F) ||
	    (c >= 0x205F && c <= 0x206F))
		return false;
	if (c >= 0xD800 && c <= 0xF8FF) /* surrogates, private use */
		return false;
	if (c >= 0xFFF9 && c <= 0xFFFB)
		return false;
	if (c == 0xFFFE || c == 0xFFFF)
		return false;
	if (c == 0x110BD || c == 0x110CD || (c >= 0x1BCA0 && c <= 0x1BCA3) ||
	    (c >= 0x1D173 && c <= 0x1D17A))
		return false;
	if (c >= 0xE0000 && c <= 0xE007F)
		return false;
	if (c >= 0xF0000) /* private use planes, and beyond Unicode */
		return false;
	return true;
}

static void escape_hex(struct sb *b, uint32_t c)
{
	char x[16];
	if (c <= 0xFF)
		snprintf(x, sizeof x, "\\x%02x", c);
	else if (c <= 0xFFFF)
		snprintf(x, sizeof x, "\\u%04x", c);
	else
		snprintf(x, sizeof x, "\\U%08x", c);
	sb_puts(b, x);
}

static uint32_t unit_at(const uint8_t *p, size_t i, int kind)
{
	if (kind == 1)
		return p[i];
	if (kind == 2) {
		uint16_t v;
		memcpy(&v, p + 2 * i, 2);
		return v;
	}
	uint32_t v;
	memcpy(&v, p + 4 * i, 4);
	return v;
}

/* Python's choice: single quotes, unless the text has some and no double. */
static char quote_for(const uint8_t *p, size_t n, int kind)
{
	bool sq = false, dq = false;
	for (size_t i = 0; i < n; i++) {
		uint32_t c = unit_at(p, i, kind);
		sq |= c == '\'';
		dq |= c == '"';
	}
	return sq && !dq ? '"' : '\'';
}

/* One character of a str or bytes repr; the rest is the same for both. */
static void put_char(struct sb *b, uint32_t c, char quote, bool is_bytes)
{
	if (c == (uint32_t)quote || c == '\\') {
		char e[2] = {'\\', (char)c};
		sb_add(b, e, 2);
	} else if (c == '\t') {
		sb_puts(b, "\\t");
	} else if (c == '\n') {
		sb_puts(b, "\\n");
	} else if (c == '\r') {
		sb_puts(b, "\\r");
	} else if (is_bytes ? (c < 0x20 || c >= 0x7F) : !printable(c)) {
		escape_hex(b, c);
	} else if (c < 0x80) {
		char ch = (char)c;
		sb_add(b, &ch, 1);
	} else {
		sb_utf8(b, c);
	}
}

char *pp_repr_str(const void *data, size_t n, int kind, bool cut)
{
	if (kind != 1 && kind != 2 && kind != 4)
		return NULL;
	const uint8_t *p = data;
	char q = quote_for(p, n, kind);
	struct sb b = {0};
	sb_add(&b, &q, 1);
	for (size_t i = 0; i < n; i++)
		put_char(&b, unit_at(p, i, kind), q, false);
	sb_add(&b, &q, 1);
	if (cut)
		sb_puts(&b, "\xE2\x80\xA6");
	return sb_take(&b);
}

char *pp_repr_bytes(const uint8_t *data, size_t n, bool cut)
{
	char q = quote_for(data, n, 1);
	struct sb b = {0};
	sb_puts(&b, "b");
	sb_add(&b, &q, 1);
	for (size_t i = 0; i < n; i++)
		put_char(&b, data[i], q, true);
	sb_add(&b, &q, 1);
	if (cut)
		sb_puts(&b, "\xE2\x80\xA6");
	return sb_take(&b);
}

/* ---- types ---------------------------------------------------------------- */

void pp_repr_init(struct pp_repr *r, struct pp_mem *mem, const struct py_layout *l)
{
	memset(r, 0, sizeof(*r));
	r->mem = mem;
	r->l = l;
}

void pp_repr_free(struct pp_repr *r)
{
	for (size_t i = 0; i < r->ntypes; i++)
		free(r->types[i].name);
	free(r->types);
	r->types = NULL;
	r->ntypes = r->cap = 0;
}

/* The NUL-terminated C string at addr, at most `max` bytes of it, made
 * valid UTF-8 (anything else becomes U+FFFD). It may end just before an
 * unmapped page: read up to the page's end first. */
static char *read_c_string(struct pp_mem *m, uint64_t addr, size_t max)
{
	if (addr < 4096 || addr >= (1ull << 47))
		return NULL;
	uint8_t buf[PP_REPR_TYPE_NAME_MAX + 1];
	if (max > PP_REPR_TYPE_NAME_MAX)
		max = PP_REPR_TYPE_NAME_MAX;
	size_t have = 0;
	while (have < max) {
		size_t to_page = 4096 - (size_t)((addr + have) & 4095);
		size_t want = max - have < to_page ? max - have : to_page;
		if (pp_mem_read(m, addr + have, buf + have, want) != 0)
			break;
		void *z = memchr(buf + have, 0, want);
		have += want;
		if (z)
			break;
	}
	if (!have)
		return NULL;
	size_t len = strnlen((const char *)buf, have);
	bool cut = len == have && have == max;
	struct sb b = {0};
	for (size_t i = 0; i < len;) {
		uint8_t c = buf[i];
		size_t k = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
			 : (c & 0xF8) == 0xF0 ? 4 : 0;
		bool ok = k && i + k <= len && (k == 1 || c >= 0xC2);
		for (size_t j = 1; ok && j < k; j++)
			ok = (buf[i + j] & 0xC0) == 0x80;
		if (ok && c < 0x20)
			ok = false;
		if (ok) {
			sb_add(&b, (const char *)buf + i, k);
			i += k;
		} else {
			sb_utf8(&b, 0xFFFD);
			i++;
		}
	}
	if (cut)
		sb_puts(&b, "\xE2\x80\xA6");
	if (!len && !cut)
		return NULL; /* an empty name: no type has one */
	return sb_take(&b);
}

static const struct {
	const char *name;
	enum pp_repr_kind kind;
	uint64_t flag; /* the subclass flag it must carry, or 0 */
} known_types[] = {
	{"NoneType", PP_REPR_NONE, 0},
	{"bool", PP_REPR_BOOL, TPFLAGS_LONG_SUBCLASS},
	{"int", PP_REPR_INT, TPFLAGS_LONG_SUBCLASS},
	{"float", PP_REPR_FLOAT, 0},
	{"str", PP_REPR_STR, TPFLAGS_UNICODE_SUBCLASS},
	{"bytes", PP_REPR_BYTES, TPFLAGS_BYTES_SUBCLASS},
	{"tuple", PP_REPR_TUPLE, TPFLAGS_TUPLE_SUBCLASS},
	{"list", PP_REPR_LIST, TPFLAGS_LIST_SUBCLASS},
	{"dict", PP_REPR_DICT, TPFLAGS_DICT_SUBCLASS},
	{"set", PP_REPR_SET, 0},
	{"frozenset", PP_REPR_FROZENSET, 0},
	{"cell", PP_REPR_CELL, 0},
};

static const struct pp_repr_type *type_of(struct pp_repr *r, uint64_t tp)
{
	for (size_t i = 0; i < r->ntypes; i++)
		if (r->types[i].addr == tp)
			return &r->types[i];
	const struct py_layout *l = r->l;
	if (bad_ptr(tp) || l->tp_name == PP_ABSENT || l->tp_flags == PP_ABSENT)
		return NULL;
	uint64_t name_ptr, flags;
	if (pp_mem_read_u64(r->mem, tp + l->tp_name, &name_ptr) != 0 ||
	    pp_mem_read_u64(r->mem, tp + l->tp_flags, &flags) != 0)
		return NULL;
	char *name = read_c_string(r->mem, name_ptr, PP_REPR_TYPE_NAME_MAX);
	if (!name)
		return NULL;
	enum pp_repr_kind kind = PP_REPR_OTHER;
	if (!(flags & TPFLAGS_HEAPTYPE))
		for (size_t i = 0; i < sizeof known_types / sizeof known_types[0]; i++)
			if (!strcmp(name, known_types[i].name) &&
			    (flags & known_types[i].flag) == known_types[i].flag)
				kind = known_types[i].kind;
	if (r->ntypes == r->cap) {
		if (r->cap >= TYPE_CACHE_MAX) {
			/* Full: forget them all (a dump sees a few dozen). */
			pp_repr_free(r);
		}
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct pp_repr_type *n = realloc(r->types, cap * sizeof(*n));
		if (!n) {
			free(name);
			return NULL;
		}
		r->types = n;
		r->cap = cap;
	}
	r->types[r->ntypes] = (struct pp_repr_type){tp, name, kind};
	return &r->types[r->ntypes++];
}

/* ---- objects -------------------------------------------------------------- */

static char *fmt_len(const char *type, int64_t n)
{
	char buf[320];
	snprintf(buf, sizeof buf, "<%s of %" PRId64 " item%s>", type, n, n == 1 ? "" : "s");
	return strdup(buf);
}

static char *fmt_other(const char *type, uint64_t addr)
{
	struct sb b = {0};
	char x[40];
	sb_puts(&b, "<");
	sb_puts(&b, type);
	snprintf(x, sizeof x, " object at 0x%" PRIx64 ">", addr);
	sb_puts(&b, x);
	return sb_take(&b);
}

/* The first bytes of an object, read once: its type and, for most types
 * shown exactly, everything else pyprobe needs of it. */
#define HEAD_BYTES 32
struct head {
	uint8_t b[HEAD_BYTES];
	size_t len; /* read: HEAD_BYTES, or less at the end of a mapping */
};

/* An 8-byte field at `off`, from the head when it holds it. */
static int field_u64(struct pp_repr *r, const struct head *h, uint64_t addr, uint32_t off,
		     uint64_t *v)
{
	if (off == PP_ABSENT)
		return -ENOTSUP;
	if (off + 8 <= h->len) {
		memcpy(v, h->b + off, 8);
		return 0;
	}
	return pp_mem_read_u64(r->mem, addr + off, v);
}

/* A size field: a count no real object reaches is corrupt. */
static int read_count(struct pp_repr *r, const struct head *h, uint64_t addr, uint32_t off,
		      int64_t *n)
{
	uint64_t v;
	int rc = field_u64(r, h, addr, off, &v);
	if (rc)
		return rc;
	if ((int64_t)v < 0 || v > (1ull << 40))
		return -EINVAL;
	*n = (int64_t)v;
	return 0;
}

/* n 30-bit digits at `off`, from the head when it holds them. */
static int read_digits(struct pp_repr *r, const struct head *h, uint64_t addr, uint32_t off,
		       uint32_t *d, size_t n)
{
	if (off + 4 * n <= h->len) {
		memcpy(d, h->b + off, 4 * n);
		return 0;
	}
	return pp_mem_read(r->mem, addr + off, d, 4 * n);
}

static int repr_long(struct pp_repr *r, const struct head *h, uint64_t addr, bool is_bool,
		     char **out)
{
	const struct py_layout *l = r->l;
	if (l->long_size == PP_ABSENT || l->long_digits == PP_ABSENT)
		return -ENOTSUP;
	uint64_t word;
	int rc = field_u64(r, h, addr, l->long_size, &word);
	if (rc)
		return rc;
	uint64_t nd;
	bool neg;
	if (l->long_tagged) {
		/* 3.12+ lv_tag: digit count << 3, sign 0 positive, 1 zero,
		 * 2 negative (3 is never written). */
		unsigned sign = word & 3;
		if (sign == 3)
			return -EINVAL;
		nd = sign == 1 ? 0 : word >> 3;
		neg = sign == 2;
		if (sign != 1 && nd == 0)
			return -EINVAL; /* a non-zero int has digits */
	} else {
		int64_t sz = (int64_t)word;
		neg = sz < 0;
		nd = neg ? (uint64_t)0 - (uint64_t)sz : (uint64_t)sz;
	}
	if (is_bool) {
		if (nd > 1)
			return -EINVAL;
		uint32_t d = 0;
		if (nd && (rc = read_digits(r, h, addr, l->long_digits, &d, 1)) != 0)
			return rc;
		if (neg || d > 1)
			return -EINVAL;
		*out = strdup(d ? "True" : "False");
		return *out ? 0 : -ENOMEM;
	}
	if (nd > PP_REPR_INT_MAX_DIGITS) {
		if (nd > (1ull << 40))
			return -EINVAL;
		char buf[64];
		snprintf(buf, sizeof buf, "<int of %" PRIu64 " bits>", nd * LONG_SHIFT);
		*out = strdup(buf);
		return *out ? 0 : -ENOMEM;
	}
	uint32_t digits[PP_REPR_INT_MAX_DIGITS];
	if (nd && (rc = read_digits(r, h, addr, l->long_digits, digits, (size_t)nd)) != 0)
		return rc;
	*out = pp_repr_long(digits, nd, neg);
	return *out ? 0 : -EINVAL;
}

static int repr_float(struct pp_repr *r, const struct head *h, uint64_t addr, char **out)
{
	uint64_t bits;
	int rc = field_u64(r, h, addr, r->l->val_float_fval, &bits);
	if (rc)
		return rc;
	double v;
	memcpy(&v, &bits, sizeof v);
	*out = pp_repr_float(v);
	return *out ? 0 : -ENOMEM;
}

static int repr_str(struct pp_repr *r, uint64_t addr, char **out)
{
	const struct py_layout *l = r->l;
	uint8_t head[128] = {0};
	size_t hl = l->str_legacy_data + 8;
	if (hl > sizeof head || l->str_length + 8 > hl || l->str_state + 4 > hl)
		return -ENOTSUP;
	int rc = pp_mem_read(r->mem, addr, head, hl);
	if (rc)
		return rc;
	uint64_t length = pp_get_u64(head, hl, l->str_length);
	uint32_t state = pp_get_u32(head, hl, l->str_state);
	int kind = (state >> 2) & 7, compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
	if ((kind != 1 && kind != 2 && kind != 4) || (ascii && kind != 1) ||
	    length > (1ull << 40))
		return -EINVAL;
	uint64_t data = compact ? addr + (ascii ? l->str_ascii_data : l->str_compact_data)
				: pp_get_u64(head, hl, l->str_legacy_data);
	if (!compact && bad_ptr(data & ~7ull))
		return -EINVAL;
	bool cut = length > PP_REPR_STR_CHARS;
	if (cut && compact) {
		/* A length that is garbage would show what follows the object:
		 * a compact str ends in a NUL where its length says. */
		uint32_t term = 1;
		rc = pp_mem_read(r->mem, data + length * (uint64_t)kind, &term, (size_t)kind);
		if (rc)
			return rc;
		if (term)
			return -EINVAL;
	}
	size_t n = cut ? PP_REPR_STR_CHARS : (size_t)length;
	uint8_t buf[PP_REPR_STR_CHARS * 4];
	if (n && (rc = pp_mem_read(r->mem, data, buf, n * (size_t)kind)) != 0)
		return rc;
	*out = pp_repr_str(buf, n, kind, cut);
	return *out ? 0 : -ENOMEM;
}

static int repr_bytes(struct pp_repr *r, const struct head *h, uint64_t addr, char **out)
{
	const struct py_layout *l = r->l;
	int64_t size;
	int rc = read_count(r, h, addr, l->bytes_size, &size);
	if (rc)
		return rc;
	bool cut = size > (int64_t)PP_REPR_BYTES_MAX;
	size_t n = cut ? PP_REPR_BYTES_MAX : (size_t)size;
	uint8_t buf[PP_REPR_BYTES_MAX];
	if (n && (rc = pp_mem_read(r->mem, addr + l->bytes_sval, buf, n)) != 0)
		return rc;
	*out = pp_repr_bytes(buf, n, cut);
	return *out ? 0 : -ENOMEM;
}

int pp_repr_cell_contents(struct pp_repr *r, uint64_t addr, uint64_t *contents)
{
	if (bad_ptr(addr))
		return -EFAULT;
	uint64_t tp;
	int rc = pp_mem_read_u64(r->mem, addr + r->l->ob_type, &tp);
	if (rc)
		return rc;
	const struct pp_repr_type *t = type_of(r, tp);
	if (!t)
		return -EINVAL;
	if (t->kind != PP_REPR_CELL)
		return -EINVAL;
	if (r->l->val_cell_ref == PP_ABSENT)
		return -ENOTSUP;
	rc = pp_mem_read_u64(r->mem, addr + r->l->val_cell_ref, contents);
	if (rc)
		return rc;
	if (*contents && bad_ptr(*contents))
		return -EINVAL;
	return 0;
}

int pp_repr_object(struct pp_repr *r, uint64_t addr, char **type, char **repr)
{
	*type = *repr = NULL;
	if (bad_ptr(addr))
		return -EFAULT;
	const struct py_layout *l = r->l;
	/* One read for the head; an object that ends just before an
	 * unmapped page has at least its type and a word after it. */
	struct head h = {.len = HEAD_BYTES};
	int rc = pp_mem_read(r->mem, addr, h.b, h.len);
	if (rc) {
		h.len = 16;
		rc = pp_mem_read(r->mem, addr, h.b, h.len);
	}
	if (rc)
		return rc;
	uint64_t tp;
	rc = field_u64(r, &h, addr, l->ob_type, &tp);
	if (rc)
		return rc;
	const struct pp_repr_type *t = type_of(r, tp);
	if (!t)
		return -EINVAL;
	char *out = NULL;
	int64_t n = 0;
	switch (t->kind) {
	case PP_REPR_NONE:
		out = strdup("None");
		rc = out ? 0 : -ENOMEM;
		break;
	case PP_REPR_BOOL:
	case PP_REPR_INT:
		rc = repr_long(r, &h, addr, t->kind == PP_REPR_BOOL, &out);
		break;
	case PP_REPR_FLOAT:
		rc = repr_float(r, &h, addr, &out);
		break;
	case PP_REPR_STR:
		rc = repr_str(r, addr, &out);
		break;
	case PP_REPR_BYTES:
		rc = repr_bytes(r, &h, addr, &out);
		break;
	case PP_REPR_TUPLE:
	case PP_REPR_LIST:
	case PP_REPR_DICT:
	case PP_REPR_SET:
	case PP_REPR_FROZENSET: {
		uint32_t off = t->kind == PP_REPR_TUPLE ? l->ob_size
			     : t->kind == PP_REPR_LIST ? l->val_list_size
			     : t->kind == PP_REPR_DICT ? l->val_dict_used : l->val_set_used;
		rc = read_count(r, &h, addr, off, &n);
		if (!rc) {
			out = fmt_len(t->name, n);
			rc = out ? 0 : -ENOMEM;
		}
		break;
	}
	case PP_REPR_CELL:
	case PP_REPR_OTHER:
		out = fmt_other(t->name, addr);
		rc = out ? 0 : -ENOMEM;
		break;
	}
	if (rc) {
		free(out);
		return rc;
	}
	*type = strdup(t->name);
	if (!*type) {
		free(out);
		return -ENOMEM;
	}
	*repr = out;
	return 0;
}
