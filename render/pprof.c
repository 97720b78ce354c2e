/* pprof: a gzip-compressed perftools.profiles.Profile (profile.proto).
 *
 * A hand-written protobuf encoder, just what this message needs: varints
 * and length-delimited fields. Nested messages are encoded into scratch
 * buffers and appended with their length. Proto3 conventions: scalar
 * fields equal to 0 are left out.
 *
 *   sample_type    [samples/count, wall/nanoseconds]
 *   sample         one per distinct (view stack, thread); location ids leaf
 *                  first; values [count, count * period]; labels `thread`
 *                  ('TID "name"' or 'TID') and `thread_id` (num)
 *   location       one per view frame used, id = view frame id + 1, one Line
 *   function       one per (function, name, file, firstlineno): name the
 *                  function (qualified), system_name the bare name only
 *                  where it differs (else "", which pprof's symbolisation
 *                  leaves alone: see fn_id), filename the file
 *   period_type    wall/nanoseconds, period = 1e9 / the rate achieved
 *                  (pp_profile_rate_achieved)
 *
 * Everything is numbered in order of first use while walking the view in
 * time order, so the same profile gives the same bytes; the gzip header
 * carries no time and no name.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "render.h"
#include "utf8.h"

/* Field numbers, from profile.proto. */
enum {
	PROFILE_SAMPLE_TYPE = 1, PROFILE_SAMPLE = 2, PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5, PROFILE_STRING_TABLE = 6, PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS = 10, PROFILE_PERIOD_TYPE = 11, PROFILE_PERIOD = 12,
	PROFILE_COMMENT = 13, PROFILE_DEFAULT_SAMPLE_TYPE = 14,
	VALUETYPE_TYPE = 1, VALUETYPE_UNIT = 2,
	SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2, SAMPLE_LABEL = 3,
	LABEL_KEY = 1, LABEL_STR = 2, LABEL_NUM = 3,
	LOCATION_ID = 1, LOCATION_LINE = 4,
	LINE_FUNCTION_ID = 1, LINE_LINE = 2,
	FUNCTION_ID = 1, FUNCTION_NAME = 2, FUNCTION_SYSTEM_NAME = 3,
	FUNCTION_FILENAME = 4, FUNCTION_START_LINE = 5,
};
enum { WIRE_VARINT = 0, WIRE_LEN = 2 };

/* ---- growable arrays ---------------------------------------------------- */

/* p (with capacity *cap) grown to hold need elements: the new pointer,
 * or NULL when out of memory (p is then still valid). */
static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return p;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elem)
			return NULL;
		ncap *= 2;
	}
	void *n = realloc(p, ncap * elem);
	if (n)
		*cap = ncap;
	return n;
}

/* ---- protobuf writer ---------------------------------------------------- */

struct pb {
	uint8_t *d;
	size_t n, cap;
	int oom; /* sticky: checked once at the end */
};

static void pb_bytes(struct pb *b, const void *p, size_t n)
{
	uint8_t *d = b->oom ? NULL : grow(b->d, &b->cap, b->n + n, 1);
	if (!d) {
		b->oom = 1;
		return;
	}
	b->d = d;
	if (n)
		memcpy(b->d + b->n, p, n);
	b->n += n;
}

static void pb_varint(struct pb *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;
	do {
		tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	pb_bytes(b, tmp, n);
}

static void pb_tag(struct pb *b, unsigned field, unsigned wire)
{
	pb_varint(b, (uint64_t)field << 3 | wire);
}

/* An int64/uint64 field; 0 is the default and is left out. */
static void pb_int(struct pb *b, unsigned field, int64_t v)
{
	if (!v)
		return;
	pb_tag(b, field, WIRE_VARINT);
	pb_varint(b, (uint64_t)v);
}

/* A string, bytes, packed array or nested message. */
static void pb_len(struct pb *b, unsigned field, const void *p, size_t n)
{
	pb_tag(b, field, WIRE_LEN);
	pb_varint(b, n);
	pb_bytes(b, p, n);
}

/* A string of the profile. U+0000 is the bytes C0 80 there (utf8.h), for
 * C strings' sake; a protobuf string has a length, so it gets its NUL
 * back: readers see the name the target had, as with every other control
 * character, which pprof strings carry as they are. */
static void pb_text(struct pb *b, unsigned field, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s), nuls = 0;
	for (size_t i = 0; i < len; i++)
		if (pp_utf8_is_nul(u + i, len - i))
			nuls++, i++;
	pb_tag(b, field, WIRE_LEN);
	pb_varint(b, len - nuls);
	size_t from = 0;
	for (size_t i = 0; i < len; i++) {
		if (!pp_utf8_is_nul(u + i, len - i))
			continue;
		pb_bytes(b, u + from, i - from);
		pb_bytes(b, "", 1);
		from = ++i + 1;
	}
	pb_bytes(b, u + from, len - from);
}

/* Append sub as field of b, and empty sub for the next message. */
static void pb_msg(struct pb *b, unsigned field, struct pb *sub)
{
	pb_len(b, field, sub->d, sub->n);
	b->oom |= sub->oom;
	sub->n = 0;
}

/* ---- interning ---------------------------------------------------------- */

static uint32_t fnv(const void *p, size_t n, uint32_t h)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 16777619u;
	return h;
}
#define FNV_SEED 2166136261u

/* Open addressing over the ids of some array: id + 1, 0 when empty. The
 * hash is kept so that growing needs no callback. */
struct slot {
	uint32_t id1, hash;
};
struct table {
	struct slot *s;
	size_t cap, n;
};

/* Make room for one more entry; -1 when out of memory. */
static int table_room(struct table *t)
{
	if ((t->n + 1) * 2 <= t->cap)
		return 0;
	size_t ncap = t->cap ? t->cap * 2 : 64;
	struct slot *ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -1;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->s[i].id1)
			continue;
		size_t j = t->s[i].hash & (ncap - 1);
		while (ns[j].id1)
			j = (j + 1) & (ncap - 1);
		ns[j] = t->s[i];
	}
	free(t->s);
	t->s = ns;
	t->cap = ncap;
	return 0;
}

struct fn { /* a pprof Function, as string table indexes */
	uint32_t name, system_name, filename;
	int64_t start_line;
};

struct smp { /* a pprof Sample: frames[off .. off+len) leaf first */
	uint32_t thread, off, len;
	uint64_t count;
};

struct enc {
	const struct pp_profile *p;
	char **str; /* the string table, owned copies */
	size_t nstr, capstr;
	struct table str_ix;
	struct fn *fn;
	size_t nfn, capfn;
	struct table fn_ix;
	struct smp *smp;
	size_t nsmp, capsmp;
	struct table smp_ix;
	uint32_t *frames; /* every distinct sample's view frame ids */
	size_t nframes, capframes;
	uint32_t *key; /* scratch: the sample being looked up, leaf first */
	size_t capkey;
	uint32_t *loc_fn; /* view frame id -> function id, 0: not used */
	size_t nvf;
	uint32_t *thread_label; /* thread -> string index, 0: not yet */
};

/* The string table index of s; UINT32_MAX when out of memory. */
static uint32_t str_id(struct enc *e, const char *s)
{
	size_t len = strlen(s);
	uint32_t h = fnv(s, len, FNV_SEED);
	if (table_room(&e->str_ix) != 0)
		return UINT32_MAX;
	size_t i = h & (e->str_ix.cap - 1);
	for (struct slot *sl; (sl = &e->str_ix.s[i])->id1; i = (i + 1) & (e->str_ix.cap - 1))
		if (sl->hash == h && !strcmp(e->str[sl->id1 - 1], s))
			return sl->id1 - 1;
	char **str = grow(e->str, &e->capstr, e->nstr + 1, sizeof(*e->str));
	if (!str)
		return UINT32_MAX;
	e->str = str;
	char *copy = strdup(s);
	if (!copy)
		return UINT32_MAX;
	e->str[e->nstr++] = copy;
	e->str_ix.s[i] = (struct slot){(uint32_t)e->nstr, h};
	e->str_ix.n++;
	return (uint32_t)e->nstr - 1;
}

/* The pprof function id (1-based) of a view frame; 0 when out of memory. */
static uint32_t fn_id(struct enc *e, const struct pp_view_frame *f)
{
	/* system_name only where it differs from name (else ""): pprof's
	 * default symbolisation takes a Function whose system_name equals its
	 * name for one still to demangle, and one that looks like C++ (`<`,
	 * `>`, `[`, `]` or `::` in it, as in <module>, <lambda>, [changing])
	 * loses its <...> and [...] parts - <module> became <unknown>. A
	 * system_name that differs, even "", tells it the name is final. */
	struct fn k = {str_id(e, f->function),
		       strcmp(f->name, f->function) ? str_id(e, f->name) : 0,
		       str_id(e, f->file), f->firstlineno > 0 ? f->firstlineno : 0};
	if (k.name == UINT32_MAX || k.system_name == UINT32_MAX || k.filename == UINT32_MAX ||
	    table_room(&e->fn_ix) != 0)
		return 0;
	uint32_t h = FNV_SEED;
	h = fnv(&k.name, sizeof k.name, h);
	h = fnv(&k.system_name, sizeof k.system_name, h);
	h = fnv(&k.filename, sizeof k.filename, h);
	h = fnv(&k.start_line, sizeof k.start_line, h);
	size_t i = h & (e->fn_ix.cap - 1);
	for (struct slot *sl; (sl = &e->fn_ix.s[i])->id1; i = (i + 1) & (e->fn_ix.cap - 1)) {
		const struct fn *o = &e->fn[sl->id1 - 1];
		if (o->name == k.name && o->system_name == k.system_name &&
		    o->filename == k.filename && o->start_line == k.start_line)
			return sl->id1;
	}
	struct fn *fns = grow(e->fn, &e->capfn, e->nfn + 1, sizeof(*e->fn));
	if (!fns)
		return 0;
	e->fn = fns;
	e->fn[e->nfn++] = k;
	e->fn_ix.s[i] = (struct slot){(uint32_t)e->nfn, h};
	e->fn_ix.n++;
	return (uint32_t)e->nfn;
}

/* pp_view_fn: count the sample under its (leaf-first stack, thread). */
static int add_sample(const struct pp_view_frame *const *frames, size_t n,
		      const struct pp_psample *s, void *ctx)
{
	struct enc *e = ctx;
	uint32_t *key = n > UINT32_MAX ? NULL : grow(e->key, &e->capkey, n + 1, sizeof(*e->key));
	if (!key)
		return -1;
	e->key = key;
	for (size_t i = 0; i < n; i++)
		e->key[i] = frames[n - 1 - i]->id;
	uint32_t h = fnv(e->key, n * sizeof(*e->key), fnv(&s->thread, sizeof s->thread, FNV_SEED));
	if (table_room(&e->smp_ix) != 0)
		return -1;
	size_t i = h & (e->smp_ix.cap - 1);
	for (struct slot *sl; (sl = &e->smp_ix.s[i])->id1; i = (i + 1) & (e->smp_ix.cap - 1)) {
		struct smp *o = &e->smp[sl->id1 - 1];
		if (sl->hash == h && o->thread == s->thread && o->len == n &&
		    !memcmp(e->frames + o->off, e->key, n * sizeof(*e->key))) {
			o->count++;
			return 0;
		}
	}
	if (e->nframes + n > UINT32_MAX || e->nsmp >= UINT32_MAX - 1)
		return -1;
	uint32_t *all = grow(e->frames, &e->capframes, e->nframes + n, sizeof(*e->frames));
	if (!all)
		return -1;
	e->frames = all;
	struct smp *smp = grow(e->smp, &e->capsmp, e->nsmp + 1, sizeof(*e->smp));
	if (!smp)
		return -1;
	e->smp = smp;
	if (n)
		memcpy(e->frames + e->nframes, e->key, n * sizeof(*e->key));
	e->smp[e->nsmp++] = (struct smp){s->thread, (uint32_t)e->nframes, (uint32_t)n, 1};
	e->nframes += n;
	e->smp_ix.s[i] = (struct slot){(uint32_t)e->nsmp, h};
	e->smp_ix.n++;
	return 0;
}

/* Functions for the frames samples use, and the threads' labels: every
 * string is in the table before anything is encoded. */
static int intern_rest(struct enc *e, const struct pp_view *v)
{
	size_t nt;
	const struct pp_pthread *th = pp_profile_threads(e->p, &nt);
	for (size_t i = 0; i < e->nsmp; i++) {
		const struct smp *s = &e->smp[i];
		for (uint32_t k = 0; k < s->len; k++) {
			uint32_t id = e->frames[s->off + k];
			if (id >= e->nvf)
				return -1;
			if (!e->loc_fn[id] && !(e->loc_fn[id] = fn_id(e, pp_view_frame(v, id))))
				return -1;
		}
		if (s->thread >= nt || e->thread_label[s->thread])
			continue;
		char label[64];
		const char *name = pp_view_thread_name(v, s->thread);
		size_t len = (size_t)snprintf(label, sizeof label, "%" PRIu64, th[s->thread].native_id);
		char *full = malloc(len + strlen(name) + 4);
		if (!full)
			return -1;
		if (*name)
			snprintf(full, len + strlen(name) + 4, "%s \"%s\"", label, name);
		else
			memcpy(full, label, len + 1);
		e->thread_label[s->thread] = str_id(e, full);
		free(full);
		if (e->thread_label[s->thread] == UINT32_MAX)
			return -1;
	}
	return 0;
}

static void value_type(struct pb *b, unsigned field, struct pb *sub, uint32_t type, uint32_t unit)
{
	pb_int(sub, VALUETYPE_TYPE, type);
	pb_int(sub, VALUETYPE_UNIT, unit);
	pb_msg(b, field, sub);
}

static int encode(struct enc *e, const struct pp_view *v, struct pb *b)
{
	const struct pp_profile_meta *m = pp_profile_meta_c(e->p);
	/* at the rate achieved: missed ticks lengthen what a sample stands for */
	double hz = pp_profile_rate_achieved(m);
	int64_t period = (int64_t)(1e9 / hz);
	uint32_t samples = str_id(e, "samples"), count = str_id(e, "count");
	uint32_t wall = str_id(e, "wall"), ns = str_id(e, "nanoseconds");
	uint32_t thread = str_id(e, "thread"), thread_id = str_id(e, "thread_id");
	const char *cmdline = pp_profile_string(e->p, m->cmdline);
	uint32_t comment = *cmdline ? str_id(e, cmdline) : 0;
	if (samples == UINT32_MAX || count == UINT32_MAX || wall == UINT32_MAX ||
	    ns == UINT32_MAX || thread == UINT32_MAX || thread_id == UINT32_MAX ||
	    comment == UINT32_MAX || intern_rest(e, v) != 0)
		return -1;

	struct pb sub = {0}, inner = {0};
	value_type(b, PROFILE_SAMPLE_TYPE, &sub, samples, count);
	value_type(b, PROFILE_SAMPLE_TYPE, &sub, wall, ns);

	size_t nt;
	const struct pp_pthread *th = pp_profile_threads(e->p, &nt);
	for (size_t i = 0; i < e->nsmp; i++) {
		const struct smp *s = &e->smp[i];
		for (uint32_t k = 0; k < s->len; k++)
			pb_varint(&inner, (uint64_t)e->frames[s->off + k] + 1);
		pb_msg(&sub, SAMPLE_LOCATION_ID, &inner);
		pb_varint(&inner, s->count);
		pb_varint(&inner, s->count * (uint64_t)period);
		pb_msg(&sub, SAMPLE_VALUE, &inner);
		if (s->thread < nt) {
			pb_int(&inner, LABEL_KEY, thread);
			pb_int(&inner, LABEL_STR, e->thread_label[s->thread]);
			pb_msg(&sub, SAMPLE_LABEL, &inner);
			pb_int(&inner, LABEL_KEY, thread_id);
			pb_int(&inner, LABEL_NUM, (int64_t)th[s->thread].native_id);
			pb_msg(&sub, SAMPLE_LABEL, &inner);
		}
		pb_msg(b, PROFILE_SAMPLE, &sub);
	}

	for (size_t id = 0; id < e->nvf; id++) {
		if (!e->loc_fn[id])
			continue;
		const struct pp_view_frame *f = pp_view_frame(v, (uint32_t)id);
		pb_int(&sub, LOCATION_ID, (int64_t)id + 1);
		pb_int(&inner, LINE_FUNCTION_ID, e->loc_fn[id]);
		pb_int(&inner, LINE_LINE, f->line > 0 ? f->line : 0);
		pb_msg(&sub, LOCATION_LINE, &inner);
		pb_msg(b, PROFILE_LOCATION, &sub);
	}

	for (size_t i = 0; i < e->nfn; i++) {
		const struct fn *f = &e->fn[i];
		pb_int(&sub, FUNCTION_ID, (int64_t)i + 1);
		pb_int(&sub, FUNCTION_NAME, f->name);
		pb_int(&sub, FUNCTION_SYSTEM_NAME, f->system_name);
		pb_int(&sub, FUNCTION_FILENAME, f->filename);
		pb_int(&sub, FUNCTION_START_LINE, f->start_line);
		pb_msg(b, PROFILE_FUNCTION, &sub);
	}

	for (size_t i = 0; i < e->nstr; i++)
		pb_text(b, PROFILE_STRING_TABLE, e->str[i]);

	pb_int(b, PROFILE_TIME_NANOS, (int64_t)m->start_unix_ns);
	pb_int(b, PROFILE_DURATION_NANOS, (int64_t)m->duration_ns);
	value_type(b, PROFILE_PERIOD_TYPE, &sub, wall, ns);
	pb_int(b, PROFILE_PERIOD, period);
	if (comment) {
		/* a repeated int64: packed, as proto3 encodes it */
		pb_varint(&inner, comment);
		pb_msg(b, PROFILE_COMMENT, &inner);
	}
	pb_int(b, PROFILE_DEFAULT_SAMPLE_TYPE, wall);

	int oom = sub.oom || inner.oom;
	free(sub.d);
	free(inner.d);
	return oom || b->oom ? -1 : 0;
}

/* ---- gzip --------------------------------------------------------------- */

/* d[0 .. n) gzip-compressed to out; -1 if writing failed. */
static int write_gzip(const uint8_t *d, size_t n, FILE *out)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		errno = ENOMEM;
		return -1;
	}
	/* no name, no time: the same profile gives the same bytes */
	gz_header h;
	memset(&h, 0, sizeof h);
	h.os = 3; /* Unix */
	if (deflateSetHeader(&z, &h) != Z_OK) {
		deflateEnd(&z);
		errno = EINVAL;
		return -1;
	}
	uint8_t chunk[16384];
	z.next_in = (Bytef *)(uintptr_t)d;
	int rc = 0, flush;
	do {
		uInt take = n > (1u << 30) ? (1u << 30) : (uInt)n;
		z.avail_in = take;
		n -= take;
		flush = n ? Z_NO_FLUSH : Z_FINISH;
		do {
			z.next_out = chunk;
			z.avail_out = sizeof chunk;
			if (deflate(&z, flush) == Z_STREAM_ERROR) {
				errno = EINVAL;
				rc = -1;
				break;
			}
			size_t have = sizeof chunk - z.avail_out;
			if (have && fwrite(chunk, 1, have, out) != have)
				rc = -1;
		} while (rc == 0 && z.avail_out == 0);
	} while (rc == 0 && flush != Z_FINISH);
	deflateEnd(&z);
	if (rc == 0 && (fflush(out) != 0 || ferror(out)))
		rc = -1;
	return rc;
}

/* ---- entry -------------------------------------------------------------- */

static void enc_free(struct enc *e)
{
	for (size_t i = 0; i < e->nstr; i++)
		free(e->str[i]);
	free(e->str);
	free(e->str_ix.s);
	free(e->fn);
	free(e->fn_ix.s);
	free(e->smp);
	free(e->smp_ix.s);
	free(e->frames);
	free(e->key);
	free(e->loc_fn);
	free(e->thread_label);
}

int pp_render_pprof(const struct pp_profile *p, const struct pp_render_opts *o, FILE *out)
{
	struct pp_view_opts vo = {0};
	if (o)
		vo = o->view;
	struct pp_view *v = pp_view_new(p, &vo);
	struct enc e = {.p = p};
	struct pb b = {0};
	size_t nt;
	pp_profile_threads(p, &nt);
	int rc = -1;
	if (v) {
		e.nvf = pp_view_nframes(v);
		e.loc_fn = calloc(e.nvf ? e.nvf : 1, sizeof(*e.loc_fn));
		e.thread_label = calloc(nt ? nt : 1, sizeof(*e.thread_label));
	}
	/* string_table[0] must be "" */
	if (v && e.loc_fn && e.thread_label && str_id(&e, "") == 0 &&
	    pp_view_each(v, add_sample, &e) == 0 && encode(&e, v, &b) == 0)
		rc = write_gzip(b.d, b.n, out);
	else
		errno = ENOMEM; /* the only way building it fails */
	free(b.d);
	enc_free(&e);
	pp_view_free(v);
	return rc;
}
