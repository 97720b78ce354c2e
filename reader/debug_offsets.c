/* 3.13's _Py_DebugOffsets: the interpreter publishes its own offsets at the
 * start of _PyRuntime. When the target has them, they win over the static
 * table, so a patch release that moved a field is still read correctly.
 *
 * The block is a sequence of uint64_t. Its layout is only stable within a
 * minor version (3.14 inserts fields in the middle of several sub-structs),
 * so this file knows exactly the 3.13 layout (Include/internal/
 * pycore_runtime.h of 3.13.0, 584 bytes) and refuses anything else.
 */
#include "layout.h"

#include <string.h>

/* Byte offsets of the entries inside _Py_DebugOffsets 3.13. */
enum {
	DO_COOKIE = 0,
	DO_VERSION = 8,
	DO_FREE_THREADED = 16,

	DO_RT_SIZE = 24,
	DO_RT_INTERPRETERS_HEAD = 40,

	DO_IS_SIZE = 48,
	DO_IS_ID = 56,
	DO_IS_NEXT = 64,
	DO_IS_THREADS_HEAD = 72,
	DO_IS_IMPORTS_MODULES = 88,
	DO_IS_CEVAL_GIL = 112,
	DO_IS_GIL_RUNTIME_STATE = 120,
	DO_IS_GIL_LOCKED = 136,
	DO_IS_GIL_HOLDER = 144,

	DO_TS_SIZE = 152,
	DO_TS_NEXT = 168,
	DO_TS_INTERP = 176,
	DO_TS_CURRENT_FRAME = 184,
	DO_TS_THREAD_ID = 192,
	DO_TS_NATIVE_THREAD_ID = 200,
	DO_TS_DATASTACK_CHUNK = 208,
	DO_TS_STATUS = 216,

	DO_IF_SIZE = 224,
	DO_IF_PREVIOUS = 232,
	DO_IF_EXECUTABLE = 240,
	DO_IF_INSTR_PTR = 248,
	DO_IF_OWNER = 264,

	DO_CO_SIZE = 272,
	DO_CO_FILENAME = 280,
	DO_CO_NAME = 288,
	DO_CO_QUALNAME = 296,
	DO_CO_LINETABLE = 304,
	DO_CO_FIRSTLINENO = 312,
	DO_CO_CODE_ADAPTIVE = 344,

	DO_OB_SIZE = 352,
	DO_OB_TYPE = 360,

	DO_TP_SIZE = 368,
	DO_TP_NAME = 376,
	DO_TP_FLAGS = 392,

	DO_DICT_SIZE = 448,
	DO_DICT_MA_KEYS = 456,
	DO_DICT_MA_VALUES = 464,

	DO_LONG_SIZE = 488,
	DO_LONG_LV_TAG = 496,
	DO_LONG_OB_DIGIT = 504,

	DO_BYTES_SIZE = 512,
	DO_BYTES_OB_SIZE = 520,
	DO_BYTES_OB_SVAL = 528,

	DO_STR_SIZE = 536,
	DO_STR_STATE = 544,
	DO_STR_LENGTH = 552,
	DO_STR_ASCII_SIZE = 560,

	DO_BLOCK_LEN = 584, /* sizeof(_Py_DebugOffsets) in 3.13 */
};

/* Nothing pyprobe reads in one go is anywhere near this; a bigger "size"
 * is a corrupt block, not a bigger struct. */
#define MAX_READ_SIZE 65536u

struct parse {
	const uint8_t *block;
	int bad;
};

static uint64_t get(struct parse *p, size_t at)
{
	uint64_t v;
	memcpy(&v, p->block + at, sizeof v);
	return v;
}

/* A struct size: non-zero and small enough to be a real struct. */
static uint32_t size_at(struct parse *p, size_t at, uint64_t max)
{
	uint64_t v = get(p, at);
	if (v == 0 || v > max) {
		p->bad = 1;
		return 0;
	}
	return (uint32_t)v;
}

/* An offset of a `width`-byte member inside a struct of `size` bytes. */
static uint32_t off_at(struct parse *p, size_t at, uint64_t size, uint64_t width)
{
	uint64_t v = get(p, at);
	if (v > size || width > size - v) {
		p->bad = 1;
		return 0;
	}
	return (uint32_t)v;
}

int pp_debug_offsets_free_threaded(const uint8_t *block, size_t len)
{
	if (!block || len < DO_FREE_THREADED + 8 || memcmp(block + DO_COOKIE, "xdebugpy", 8) != 0)
		return -1;
	uint64_t v;
	memcpy(&v, block + DO_FREE_THREADED, sizeof(v));
	return v != 0;
}

int pp_layout_apply_debug_offsets(struct py_layout *out, const uint8_t *block,
				  size_t len)
{
	if (!out || !block || len < DO_BLOCK_LEN)
		return -1;
	if (memcmp(block + DO_COOKIE, "xdebugpy", 8) != 0)
		return -1;

	struct parse p = { block, 0 };
	uint64_t version = get(&p, DO_VERSION);
	/* Only 3.13's block has this layout, and it must describe the same
	 * version as the static table it refines. */
	if ((version >> 24) != 3 || ((version >> 16) & 0xff) != 13 ||
	    out->minor != 13)
		return -1;
	/* Free-threaded builds move the GIL, refcount and str fields; the
	 * static table describes the default build only. */
	if (get(&p, DO_FREE_THREADED) != 0)
		return -1;

	struct py_layout l = *out;
	const uint64_t ptr = 8;

	uint32_t rt_size = size_at(&p, DO_RT_SIZE, UINT32_MAX);
	l.rt_interpreters_head = off_at(&p, DO_RT_INTERPRETERS_HEAD, rt_size, ptr);

	uint32_t is_size = size_at(&p, DO_IS_SIZE, UINT32_MAX);
	l.is_id = off_at(&p, DO_IS_ID, is_size, 8);
	l.is_next = off_at(&p, DO_IS_NEXT, is_size, ptr);
	l.is_threads_head = off_at(&p, DO_IS_THREADS_HEAD, is_size, ptr);
	l.is_modules = off_at(&p, DO_IS_IMPORTS_MODULES, is_size, ptr);
	l.is_ceval_gil = off_at(&p, DO_IS_CEVAL_GIL, is_size, ptr);
	/* The block locates the interpreter's own embedded _gil, but the GIL in
	 * use is the one interp->ceval.gil points to (a sub-interpreter may
	 * share the main one). Keep only the positions inside the struct. */
	uint32_t gil = off_at(&p, DO_IS_GIL_RUNTIME_STATE, is_size, l.gil_size);
	uint32_t locked = off_at(&p, DO_IS_GIL_LOCKED, is_size, 4);
	uint32_t holder = off_at(&p, DO_IS_GIL_HOLDER, is_size, ptr);
	if (locked < gil || locked - gil > l.gil_size - 4 || holder < gil ||
	    holder - gil > l.gil_size - ptr)
		p.bad = 1;
	else {
		l.gil_locked = locked - gil;
		l.gil_last_holder = holder - gil;
	}

	/* thread_state.size is sizeof(PyThreadState), while ts_size covers the
	 * _PyThreadStateImpl that wraps it; asyncio_running_loop is the Impl's
	 * first own member, right after the base struct. */
	uint32_t ts_base = size_at(&p, DO_TS_SIZE, MAX_READ_SIZE);
	l.ts_next = off_at(&p, DO_TS_NEXT, ts_base, ptr);
	l.ts_interp = off_at(&p, DO_TS_INTERP, ts_base, ptr);
	l.ts_frame = off_at(&p, DO_TS_CURRENT_FRAME, ts_base, ptr);
	l.ts_thread_id = off_at(&p, DO_TS_THREAD_ID, ts_base, 8);
	l.ts_native_thread_id = off_at(&p, DO_TS_NATIVE_THREAD_ID, ts_base, 8);
	l.ts_datastack_chunk = off_at(&p, DO_TS_DATASTACK_CHUNK, ts_base, ptr);
	l.ts_status = off_at(&p, DO_TS_STATUS, ts_base, 4);
	if (l.ts_asyncio_running_loop != ts_base) {
		/* The base struct changed size, so the static idea of the Impl
		 * is stale: better no running-loop than a wrong one. */
		l.ts_asyncio_running_loop = PP_ABSENT;
		l.ts_size = ts_base;
	}
	/* ts_state is not published; it must at least lie inside. */
	if (l.ts_state != PP_ABSENT && l.ts_state > ts_base - 4)
		l.ts_state = PP_ABSENT;

	l.if_size = size_at(&p, DO_IF_SIZE, MAX_READ_SIZE);
	l.if_previous = off_at(&p, DO_IF_PREVIOUS, l.if_size, ptr);
	l.if_code = off_at(&p, DO_IF_EXECUTABLE, l.if_size, ptr);
	l.if_instr = off_at(&p, DO_IF_INSTR_PTR, l.if_size, ptr);
	l.if_owner = off_at(&p, DO_IF_OWNER, l.if_size, 1);

	/* co_size is the header before the inline bytecode; the published
	 * size is sizeof(PyCodeObject), which includes the first code units. */
	uint32_t co_struct = size_at(&p, DO_CO_SIZE, MAX_READ_SIZE);
	l.co_code_adaptive = off_at(&p, DO_CO_CODE_ADAPTIVE, co_struct, 0);
	l.co_size = l.co_code_adaptive;
	l.co_filename = off_at(&p, DO_CO_FILENAME, l.co_size, ptr);
	l.co_name = off_at(&p, DO_CO_NAME, l.co_size, ptr);
	l.co_qualname = off_at(&p, DO_CO_QUALNAME, l.co_size, ptr);
	l.co_linetable = off_at(&p, DO_CO_LINETABLE, l.co_size, ptr);
	l.co_firstlineno = off_at(&p, DO_CO_FIRSTLINENO, l.co_size, 4);
	if (l.co_firsttraceable > l.co_size - 4)
		p.bad = 1;

	uint32_t ob_size = size_at(&p, DO_OB_SIZE, MAX_READ_SIZE);
	l.ob_type = off_at(&p, DO_OB_TYPE, ob_size, ptr);

	uint32_t tp_size = size_at(&p, DO_TP_SIZE, MAX_READ_SIZE);
	l.tp_name = off_at(&p, DO_TP_NAME, tp_size, ptr);
	l.tp_flags = off_at(&p, DO_TP_FLAGS, tp_size, 8);

	uint32_t dict_size = size_at(&p, DO_DICT_SIZE, MAX_READ_SIZE);
	l.dict_keys = off_at(&p, DO_DICT_MA_KEYS, dict_size, ptr);
	l.dict_values = off_at(&p, DO_DICT_MA_VALUES, dict_size, ptr);

	/* sizeof(PyLongObject) includes one digit. */
	uint32_t long_size = size_at(&p, DO_LONG_SIZE, MAX_READ_SIZE);
	l.long_size = off_at(&p, DO_LONG_LV_TAG, long_size, 8);
	l.long_digits = off_at(&p, DO_LONG_OB_DIGIT, long_size, 4);
	l.long_tagged = 1; /* the block publishes lv_tag, not ob_size */

	/* sizeof(PyBytesObject) includes the terminating NUL. */
	uint32_t bytes_size = size_at(&p, DO_BYTES_SIZE, MAX_READ_SIZE);
	l.bytes_size = off_at(&p, DO_BYTES_OB_SIZE, bytes_size, 8);
	l.bytes_sval = off_at(&p, DO_BYTES_OB_SVAL, bytes_size, 1);

	/* unicode_object.size is sizeof(PyUnicodeObject). */
	uint32_t str_size = size_at(&p, DO_STR_SIZE, MAX_READ_SIZE);
	l.str_state = off_at(&p, DO_STR_STATE, str_size, 4);
	l.str_length = off_at(&p, DO_STR_LENGTH, str_size, 8);
	l.str_ascii_data = off_at(&p, DO_STR_ASCII_SIZE, str_size, 0);

	if (p.bad)
		return -1;
	*out = l;
	return 0;
}
