/* Generic CPython objects read from the target: ints, dicts (every layout
 * from 3.8 to 3.13, combined and split), str-keyed lookups and instance
 * attributes.
 *
 * The dict layouts this file understands (checked against the installed
 * headers and, for <=3.10 whose keys object is private, the DWARF):
 *
 *   <=3.10  PyDictKeysObject { refcnt, dk_size, dk_lookup, dk_usable,
 *           dk_nentries, dk_indices[dk_size * width] } followed by
 *           {hash, key, value} entries. Index width is 1/2/4/8 bytes by
 *           dk_size. A split table keeps its values in ma_values[i]
 *           (a plain PyObject* array).
 *   3.11+   dk_log2_size, dk_log2_index_bytes and dk_kind bytes; the entries
 *           start 1 << dk_log2_index_bytes bytes after dk_indices and are
 *           {hash, key, value} for DICT_KEYS_GENERAL, {key, value} for the
 *           unicode and split kinds. Split values live in a PyDictValues:
 *           values[] at dv_values (0 before 3.13; 3.13 puts a 4-byte
 *           {capacity, size, embedded, valid} header first).
 *
 * Deleted entries have a NULL key and value in every version, so a walk over
 * the entry array (never the hash indices) sees exactly the live items.
 */
#include "pyobject.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pystring.h"

/* Same bit in every supported version (object.h: 1UL << 9). Only heap types
 * are PyHeapTypeObjects, so only they have ht_cached_keys. */
#define TPFLAGS_HEAPTYPE (1ull << 9)

/* Entries fetched per read while walking a dict: large enough that a
 * 100k-entry dict costs a few hundred reads, small enough for the stack. */
#define WALK_CHUNK 256

/* PyLong digits are 30 bits on every 64-bit build we support. */
#define LONG_SHIFT 30
#define LONG_MASK ((1u << LONG_SHIFT) - 1)
/* 3 digits hold 90 bits, more than any uint64_t needs. */
#define LONG_MAX_DIGITS 3

/* Anything that is not a plausible object pointer: objects are at least
 * 8-byte aligned, and user space ends at 2^47. Cheap, and catches most
 * garbage before it costs a read. */
static int bad_ptr(uint64_t p)
{
	return p < 4096 || (p & 7) || p >= (1ull << 47);
}

int pp_read_long(const struct pp_objreader *r, uint64_t addr, uint64_t *out)
{
	const struct py_layout *l = r->layout;
	if (bad_ptr(addr))
		return -EFAULT;
	if (l->long_size == PP_ABSENT || l->long_digits == PP_ABSENT)
		return -ENOTSUP;
	/* Header and the most digits we would ever accept, in one read. That
	 * can run past a short int's end; if it hits the end of a mapping,
	 * fall back to the header alone and then exactly its digits. */
	uint8_t buf[128];
	size_t need = l->long_digits + LONG_MAX_DIGITS * 4;
	if (need > sizeof(buf) || l->long_size + 8 > l->long_digits)
		return -EINVAL;
	memset(buf, 0, sizeof(buf));
	int rc = pp_mem_read(r->mem, addr, buf, need);
	if (rc == -EFAULT) {
		rc = pp_mem_read(r->mem, addr, buf, l->long_digits);
		if (rc)
			return rc;
		uint64_t w = pp_get_u64(buf, need, l->long_size);
		/* Negative sizes are rejected below; they need no digits. */
		uint64_t nd = l->long_tagged ? w >> 3 : (int64_t)w < 0 ? 0 : w;
		if (nd > LONG_MAX_DIGITS)
			nd = 0; /* rejected below, by the same word */
		if (nd)
			rc = pp_mem_read(r->mem, addr + l->long_digits,
					 buf + l->long_digits, nd * 4);
	}
	if (rc)
		return rc;
	if (r->long_type && pp_get_u64(buf, need, l->ob_type) != r->long_type)
		return -EINVAL;

	uint64_t word = pp_get_u64(buf, need, l->long_size);
	uint64_t ndigits;
	if (l->long_tagged) {
		/* 3.12+ lv_tag: digit count << 3 | flags; sign = 1 - (tag & 3),
		 * so 0 is positive, 1 zero, 2 negative, 3 never written. */
		unsigned sign = word & 3;
		ndigits = word >> 3;
		if (sign == 3)
			return -EINVAL;
		if (sign == 2)
			return -ERANGE;
		if (sign == 1) {
			*out = 0;
			return 0;
		}
	} else {
		/* <=3.11 ob_size: signed digit count, the sign is the int's. */
		int64_t size = (int64_t)word;
		if (size < 0)
			return -ERANGE;
		ndigits = (uint64_t)size;
	}
	if (ndigits > LONG_MAX_DIGITS)
		return -ERANGE; /* a normalised int this long is >= 2^90 */

	uint64_t v = 0;
	for (uint64_t i = 0; i < ndigits; i++) {
		uint32_t d = pp_get_u32(buf, need, l->long_digits + i * 4);
		if (d > LONG_MASK)
			return -EINVAL; /* the top 2 bits of a digit are always 0 */
		unsigned shift = (unsigned)i * LONG_SHIFT;
		/* The third digit only has 4 bits of room in 64. */
		if (shift && (uint64_t)d >> (64 - shift))
			return -ERANGE;
		v |= (uint64_t)d << shift;
	}
	*out = v;
	return 0;
}

/* Where a keys object's entries are and how to read them. */
struct keys_view {
	uint64_t entries; /* address of entry 0 */
	uint64_t n;       /* dk_nentries, validated */
	unsigned esize;   /* 24 {hash,key,value} or 16 {key,value} */
	unsigned koff;    /* me_key within an entry */
	unsigned voff;    /* me_value within an entry */
	int kind;         /* 3.11+ dk_kind; -1 before (no kind byte) */
};

#define DICT_KEYS_SPLIT 2

/* Bytes per hash index for a table of 2^log2 slots, as log2 (CPython's
 * rule: 1 byte up to 2^7 slots, 2 up to 2^15, 4 up to 2^31, else 8). */
static unsigned index_log2_width(unsigned log2)
{
	return log2 < 8 ? 0 : log2 < 16 ? 1 : log2 < 32 ? 2 : 3;
}

/* Largest table we accept: 2/3 of 2^21 slots is above PP_DICT_MAX_ENTRIES,
 * so any dict we would walk fits. */
#define MAX_LOG2_SIZE 21

static int read_keys(const struct pp_objreader *r, uint64_t keys,
		     struct keys_view *kv)
{
	const struct py_layout *l = r->layout;
	if (bad_ptr(keys))
		return -EFAULT;
	if (l->dk_indices == PP_ABSENT || l->dk_nentries == PP_ABSENT ||
	    l->dk_indices > 64)
		return -ENOTSUP;
	uint8_t h[64];
	size_t hl = l->dk_indices;
	int rc = pp_mem_read(r->mem, keys, h, hl);
	if (rc)
		return rc;

	uint64_t slots, index_bytes;
	if (l->dk_size != PP_ABSENT) {
		/* <=3.10. The shared empty-keys singleton has dk_size 1. */
		slots = pp_get_u64(h, hl, l->dk_size);
		if (slots == 0 || (slots & (slots - 1)) ||
		    slots > (1ull << MAX_LOG2_SIZE))
			return -EINVAL;
		unsigned log2 = (unsigned)__builtin_ctzll(slots);
		index_bytes = slots << index_log2_width(log2);
		kv->kind = -1;
		kv->esize = 24;
		kv->koff = 8;
		kv->voff = 16;
	} else {
		if (l->dk_log2_size == PP_ABSENT ||
		    l->dk_log2_index_bytes == PP_ABSENT || l->dk_kind == PP_ABSENT)
			return -ENOTSUP;
		unsigned log2 = pp_get_u8(h, hl, l->dk_log2_size);
		unsigned log2ib = pp_get_u8(h, hl, l->dk_log2_index_bytes);
		unsigned kind = pp_get_u8(h, hl, l->dk_kind);
		if (log2 > MAX_LOG2_SIZE || kind > DICT_KEYS_SPLIT)
			return -EINVAL;
		/* CPython derives one from the other; disagreement means we
		 * are not looking at a keys object. The exception is the
		 * shared empty-keys singleton (Py_EMPTY_KEYS, the only table of
		 * one slot): later patch releases (3.13.18, 3.14, 3.15) give it
		 * 8 index bytes, log2 3, where 3.13.0 had 0; it holds nothing. */
		bool empty_singleton = log2 == 0 && log2ib <= 3 &&
				       pp_get_u64(h, hl, l->dk_nentries) == 0;
		if (log2ib != log2 + index_log2_width(log2) && !empty_singleton)
			return -EINVAL;
		slots = 1ull << log2;
		index_bytes = 1ull << log2ib;
		kv->kind = (int)kind;
		if (kind == 0) {
			kv->esize = 24;
			kv->koff = 8;
			kv->voff = 16;
		} else {
			kv->esize = 16;
			kv->koff = 0;
			kv->voff = 8;
		}
	}
	int64_t n = (int64_t)pp_get_u64(h, hl, l->dk_nentries);
	/* USABLE_FRACTION: a table of `slots` never holds more entries. */
	if (n < 0 || (uint64_t)n > (slots << 1) / 3 || n > PP_DICT_MAX_ENTRIES)
		return -EINVAL;
	kv->n = (uint64_t)n;
	kv->entries = keys + l->dk_indices + index_bytes;
	return 0;
}

/* Where a split table's values are: values[0] and how many there can be. */
struct values_view {
	uint64_t base; /* 0 = combined table: values are in the entries */
	uint64_t cap;  /* entries beyond this have no value slot */
};

/* `pdv` points at a PyDictValues (or, <=3.10, at the PyObject* array). */
static int read_values(const struct pp_objreader *r, uint64_t pdv,
		       struct values_view *vv)
{
	const struct py_layout *l = r->layout;
	if (bad_ptr(pdv))
		return -EFAULT;
	vv->base = pdv + l->dv_values;
	vv->cap = PP_DICT_MAX_ENTRIES;
	if (l->dv_values != 0 && l->dv_values != PP_ABSENT) {
		/* 3.13: values[] follows a header whose first byte is the
		 * capacity; slots past it belong to the insertion-order
		 * array, not to values. */
		uint8_t capacity;
		int rc = pp_mem_read(r->mem, pdv, &capacity, 1);
		if (rc)
			return rc;
		vv->cap = capacity;
	}
	return 0;
}

/* Visit every live (key, value) of a keys object, taking values from the
 * entries (combined) or from vv (split). */
static int walk(const struct pp_objreader *r, const struct keys_view *kv,
		const struct values_view *vv, pp_dict_visit_fn fn, void *ctx)
{
	uint8_t ents[WALK_CHUNK * 24];
	uint64_t vals[WALK_CHUNK];
	uint64_t n = kv->n;
	if (vv->base && n > vv->cap)
		n = vv->cap;
	for (uint64_t start = 0; start < n; start += WALK_CHUNK) {
		size_t k = n - start < WALK_CHUNK ? (size_t)(n - start) : WALK_CHUNK;
		struct pp_iov iov[2] = {
			{kv->entries + start * kv->esize, ents, k * kv->esize},
			{vv->base + start * 8, vals, k * 8},
		};
		int rc = pp_mem_readv(r->mem, iov, vv->base ? 2 : 1);
		if (rc)
			return rc;
		size_t el = k * kv->esize;
		for (size_t i = 0; i < k; i++) {
			uint64_t key = pp_get_u64(ents, el, i * kv->esize + kv->koff);
			uint64_t val = vv->base ? vals[i]
			                        : pp_get_u64(ents, el, i * kv->esize + kv->voff);
			if (!key || !val)
				continue; /* deleted, or no value in this split dict */
			if (bad_ptr(key) || bad_ptr(val))
				return -EINVAL;
			rc = fn(key, val, ctx);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* A keys object and (optionally) a values block, as a split table. Used for
 * instances whose values live outside any dict (3.11+). */
static int walk_split(const struct pp_objreader *r, uint64_t keys,
		      uint64_t pdv, pp_dict_visit_fn fn, void *ctx)
{
	struct keys_view kv;
	int rc = read_keys(r, keys, &kv);
	if (rc)
		return rc;
	if (kv.kind >= 0 && kv.kind != DICT_KEYS_SPLIT)
		return -EINVAL;
	struct values_view vv;
	rc = read_values(r, pdv, &vv);
	if (rc)
		return rc;
	return walk(r, &kv, &vv, fn, ctx);
}

int pp_dict_foreach(const struct pp_objreader *r, uint64_t dict,
		    pp_dict_visit_fn fn, void *ctx)
{
	const struct py_layout *l = r->layout;
	if (bad_ptr(dict))
		return -EFAULT;
	if (l->dict_keys == PP_ABSENT || l->dict_values == PP_ABSENT)
		return -ENOTSUP;
	uint8_t h[64];
	size_t hl = (l->dict_keys > l->dict_values ? l->dict_keys : l->dict_values) + 8;
	if (hl > sizeof(h) || l->ob_type + 8 > hl)
		return -EINVAL;
	int rc = pp_mem_read(r->mem, dict, h, hl);
	if (rc)
		return rc;
	if (r->dict_type && pp_get_u64(h, hl, l->ob_type) != r->dict_type)
		return -EINVAL;
	uint64_t keys = pp_get_u64(h, hl, l->dict_keys);
	uint64_t values = pp_get_u64(h, hl, l->dict_values);

	struct keys_view kv;
	rc = read_keys(r, keys, &kv);
	if (rc)
		return rc;
	struct values_view vv = {0, 0};
	if (values) {
		/* 3.11+ says which form it is twice; they must agree. */
		if (kv.kind >= 0 && kv.kind != DICT_KEYS_SPLIT)
			return -EINVAL;
		rc = read_values(r, values, &vv);
		if (rc)
			return rc;
	} else if (kv.kind == DICT_KEYS_SPLIT) {
		return -EINVAL;
	}
	return walk(r, &kv, &vv, fn, ctx);
}

struct find_str {
	const struct pp_objreader *r;
	const char *want;
	size_t want_len;
	uint64_t value;
};

static int find_str_visit(uint64_t key, uint64_t value, void *ctx)
{
	struct find_str *f = ctx;
	/* Compare decoded text, not addresses: keys are usually interned, but
	 * nothing guarantees the target's key is the object we would guess. */
	char *s = pp_read_str(f->r->mem, f->r->layout, key, f->r->str_type);
	if (!s)
		return 0; /* not a str (int keys, or unreadable): not ours */
	int hit = strlen(s) == f->want_len && memcmp(s, f->want, f->want_len) == 0;
	free(s);
	if (!hit)
		return 0;
	f->value = value;
	return 1;
}

/* The result of a walk with find_str_visit: 1 (found) becomes 0, a clean
 * end of the walk -ENOENT, errors stay errors. */
static int finish_find(int rc, const struct find_str *f, uint64_t *value)
{
	if (rc == 1) {
		*value = f->value;
		return 0;
	}
	return rc < 0 ? rc : -ENOENT;
}

int pp_dict_get_str(const struct pp_objreader *r, uint64_t dict,
		    const char *key, uint64_t *value)
{
	struct find_str f = {r, key, strlen(key), 0};
	return finish_find(pp_dict_foreach(r, dict, find_str_visit, &f), &f, value);
}

static int split_get_str(const struct pp_objreader *r, uint64_t keys,
			 uint64_t pdv, const char *key, uint64_t *value)
{
	struct find_str f = {r, key, strlen(key), 0};
	return finish_find(walk_split(r, keys, pdv, find_str_visit, &f), &f, value);
}

/* The type fields pp_object_attr needs. */
struct type_info {
	uint64_t addr;
	uint64_t flags;
	int64_t basicsize;
	int64_t dictoffset;
};

static int read_type(const struct pp_objreader *r, uint64_t tp,
		     struct type_info *t)
{
	const struct py_layout *l = r->layout;
	if (bad_ptr(tp))
		return -EFAULT;
	if (l->tp_flags == PP_ABSENT || l->tp_dictoffset == PP_ABSENT ||
	    l->tp_basicsize == PP_ABSENT)
		return -ENOTSUP;
	uint32_t end = l->tp_flags;
	if (l->tp_dictoffset > end)
		end = l->tp_dictoffset;
	if (l->tp_basicsize > end)
		end = l->tp_basicsize;
	uint8_t h[512];
	size_t hl = end + 8;
	if (hl > sizeof(h))
		return -EINVAL;
	int rc = pp_mem_read(r->mem, tp, h, hl);
	if (rc)
		return rc;
	t->addr = tp;
	t->flags = pp_get_u64(h, hl, l->tp_flags);
	t->basicsize = (int64_t)pp_get_u64(h, hl, l->tp_basicsize);
	t->dictoffset = (int64_t)pp_get_u64(h, hl, l->tp_dictoffset);
	return 0;
}

/* The shared keys a type's instances use for their split values. */
static int cached_keys(const struct pp_objreader *r, const struct type_info *t,
		       uint64_t *keys)
{
	if (r->layout->ht_cached_keys == PP_ABSENT)
		return -ENOTSUP;
	if (!(t->flags & TPFLAGS_HEAPTYPE))
		return -EINVAL; /* a static type has no PyHeapTypeObject tail */
	int rc = pp_mem_read_u64(r->mem, t->addr + r->layout->ht_cached_keys, keys);
	if (rc)
		return rc;
	return *keys ? 0 : -EINVAL;
}

/* Object sizes beyond this are corrupt type data. */
#define MAX_BASICSIZE (1 << 20)

/* 3.12 keeps one tagged word where 3.11 had two pointers and 3.13 has a plain
 * dict pointer: tell it apart by the fields the layout has. */
static int managed_word_is_tagged(const struct py_layout *l)
{
	return l->obj_managed_values == 0 && l->tpflags_inline_values == PP_ABSENT;
}

static int managed_attr(const struct pp_objreader *r, uint64_t obj,
			const struct type_info *t, const char *name,
			uint64_t *value)
{
	const struct py_layout *l = r->layout;
	uint64_t keys;
	int rc;

	if (l->tpflags_inline_values != PP_ABSENT &&
	    (t->flags & l->tpflags_inline_values)) {
		/* 3.13: a PyDictValues right after the object's fixed part.
		 * While `valid`, it is authoritative (a dict materialised from
		 * it shares these very values); once invalidated, the managed
		 * dict has taken over. */
		if (t->basicsize < 16 || t->basicsize > MAX_BASICSIZE ||
		    (t->basicsize & 7))
			return -EINVAL;
		uint64_t pdv = obj + (uint64_t)t->basicsize;
		uint8_t hdr[4];
		rc = pp_mem_read(r->mem, pdv, hdr, sizeof(hdr));
		if (rc)
			return rc;
		if (hdr[3]) { /* valid */
			rc = cached_keys(r, t, &keys);
			if (rc)
				return rc;
			return split_get_str(r, keys, pdv, name, value);
		}
	}
	if (l->obj_managed_values != 0) {
		/* 3.11: values pointer, NULL once a dict was materialised. */
		uint64_t pdv;
		rc = pp_mem_read_u64(r->mem, obj + (int64_t)l->obj_managed_values, &pdv);
		if (rc)
			return rc;
		if (pdv) {
			rc = cached_keys(r, t, &keys);
			if (rc)
				return rc;
			return split_get_str(r, keys, pdv, name, value);
		}
	}
	uint64_t word;
	rc = pp_mem_read_u64(r->mem, obj + (int64_t)l->obj_managed_dict, &word);
	if (rc)
		return rc;
	if (managed_word_is_tagged(l) && (word & 1)) {
		/* 3.12 _PyDictOrValues: stores values - 1, so the values
		 * pointer is word + 1. */
		rc = cached_keys(r, t, &keys);
		if (rc)
			return rc;
		return split_get_str(r, keys, word + 1, name, value);
	}
	if (!word)
		return -ENOENT; /* no attribute was ever set */
	return pp_dict_get_str(r, word, name, value);
}

int pp_object_attr(const struct pp_objreader *r, uint64_t obj,
		   const char *name, uint64_t *value)
{
	const struct py_layout *l = r->layout;
	if (bad_ptr(obj))
		return -EFAULT;
	uint64_t tp;
	int rc = pp_mem_read_u64(r->mem, obj + l->ob_type, &tp);
	if (rc)
		return rc;
	struct type_info t;
	rc = read_type(r, tp, &t);
	if (rc)
		return rc;

	if (l->tpflags_managed_dict != PP_ABSENT && l->obj_managed_dict != 0 &&
	    (t.flags & l->tpflags_managed_dict))
		return managed_attr(r, obj, &t, name, value);

	if (t.dictoffset > 0 && t.dictoffset < MAX_BASICSIZE) {
		uint64_t dict;
		rc = pp_mem_read_u64(r->mem, obj + (uint64_t)t.dictoffset, &dict);
		if (rc)
			return rc;
		if (!dict)
			return -ENOENT; /* the dict is created lazily */
		return pp_dict_get_str(r, dict, name, value);
	}
	/* A negative tp_dictoffset counts from the end of a variable-size
	 * object (int or tuple subclasses); nothing we read needs that. */
	return t.dictoffset < 0 ? -ENOTSUP : -ENOENT;
}
