/* _Py_DebugOffsets (3.13+): the interpreter publishes its own offsets at the
 * start of _PyRuntime. When the target has them, they win over the static
 * table, so a patch release that moved a field is still read correctly
 * (3.13.18's PyThreadState is 8 bytes longer than 3.13.0's, for one).
 *
 * The block is a sequence of uint64_t, and it carries no size of its own.
 * Its layout is only stable within a minor version (3.14 and 3.15 insert
 * entries in the middle of several sub-structs), so this file knows exactly
 * where each entry sits in each version's block (a "shape", from
 * Include/internal/pycore_runtime.h of 3.13 and pycore_debug_offsets.h of
 * 3.14 and 3.15) and refuses any other block: another version, a
 * free-threaded build, or a block of another size. That size is read from
 * the target itself: the block is the first member of _PyRuntimeState, so
 * the published offset of _PyRuntimeState._finalizing, less what lies
 * between the block and it, is the block's length - a patched build that
 * added entries (or an alpha whose block grew) shows up there.
 *
 * Python's debug builds (python3.14d, Debian's python3.14-dbg) publish the
 * same block; their other structs differ only in members pyprobe does not
 * use (tools/check-layouts compares their headers and DWARF with the
 * default build's table), so they are read like the default build.
 */
#include "layout.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Byte positions of the entries pyprobe reads inside one version's block;
 * 0 = the version has no such entry (0 itself is the cookie). */
struct shape {
	int minor;
	uint32_t block_size; /* sizeof(_Py_DebugOffsets) */

	uint32_t rt_size, rt_finalizing, rt_interpreters_head;
	uint32_t is_size, is_id, is_next, is_threads_head, is_imports_modules,
		is_ceval_gil, is_gil, is_gil_locked, is_gil_holder;
	uint32_t ts_size, ts_next, ts_interp, ts_current_frame, ts_base_frame,
		ts_thread_id, ts_native_thread_id, ts_datastack_chunk, ts_status;
	uint32_t if_size, if_previous, if_executable, if_instr_ptr, if_owner;
	uint32_t co_size, co_filename, co_name, co_qualname, co_linetable,
		co_firstlineno, co_code_adaptive;
	uint32_t ob_size, ob_type;
	uint32_t tp_size, tp_name, tp_flags, tp_basicsize, tp_dictoffset;
	uint32_t ht_size, ht_cached_keys;
	uint32_t dict_size, dict_ma_keys, dict_ma_values;
	uint32_t long_size, long_lv_tag, long_ob_digit;
	uint32_t bytes_size, bytes_ob_size, bytes_ob_sval;
	uint32_t str_size, str_state, str_length, str_ascii_size, str_compact_size;
};

enum { DO_COOKIE = 0, DO_VERSION = 8, DO_FREE_THREADED = 16 };

static const struct shape shapes[] = {
	{
		.minor = 13, .block_size = 584,
		.rt_size = 24, .rt_finalizing = 32, .rt_interpreters_head = 40,
		.is_size = 48, .is_id = 56, .is_next = 64, .is_threads_head = 72,
		.is_imports_modules = 88, .is_ceval_gil = 112, .is_gil = 120,
		.is_gil_locked = 136, .is_gil_holder = 144,
		.ts_size = 152, .ts_next = 168, .ts_interp = 176, .ts_current_frame = 184,
		.ts_thread_id = 192, .ts_native_thread_id = 200,
		.ts_datastack_chunk = 208, .ts_status = 216,
		.if_size = 224, .if_previous = 232, .if_executable = 240,
		.if_instr_ptr = 248, .if_owner = 264,
		.co_size = 272, .co_filename = 280, .co_name = 288, .co_qualname = 296,
		.co_linetable = 304, .co_firstlineno = 312, .co_code_adaptive = 344,
		.ob_size = 352, .ob_type = 360,
		.tp_size = 368, .tp_name = 376, .tp_flags = 392,
		.dict_size = 448, .dict_ma_keys = 456, .dict_ma_values = 464,
		.long_size = 488, .long_lv_tag = 496, .long_ob_digit = 504,
		.bytes_size = 512, .bytes_ob_size = 520, .bytes_ob_sval = 528,
		.str_size = 536, .str_state = 544, .str_length = 552, .str_ascii_size = 560,
	},
	{
		/* 3.14: interpreter_state gains threads_main (after threads_head)
		 * and two generation counters; interpreter_frame stackpointer and
		 * tlbc_index; code_object co_tlbc; new set, gen, llist and
		 * debugger sub-structs. */
		.minor = 14, .block_size = 760,
		.rt_size = 24, .rt_finalizing = 32, .rt_interpreters_head = 40,
		.is_size = 48, .is_id = 56, .is_next = 64, .is_threads_head = 72,
		.is_imports_modules = 96, .is_ceval_gil = 120, .is_gil = 128,
		.is_gil_locked = 144, .is_gil_holder = 152,
		.ts_size = 176, .ts_next = 192, .ts_interp = 200, .ts_current_frame = 208,
		.ts_thread_id = 216, .ts_native_thread_id = 224,
		.ts_datastack_chunk = 232, .ts_status = 240,
		.if_size = 248, .if_previous = 256, .if_executable = 264,
		.if_instr_ptr = 272, .if_owner = 288,
		.co_size = 312, .co_filename = 320, .co_name = 328, .co_qualname = 336,
		.co_linetable = 344, .co_firstlineno = 352, .co_code_adaptive = 384,
		.ob_size = 400, .ob_type = 408,
		.tp_size = 416, .tp_name = 424, .tp_flags = 440,
		.dict_size = 528, .dict_ma_keys = 536, .dict_ma_values = 544,
		.long_size = 568, .long_lv_tag = 576, .long_ob_digit = 584,
		.bytes_size = 592, .bytes_ob_size = 600, .bytes_ob_sval = 608,
		.str_size = 616, .str_state = 624, .str_length = 632, .str_ascii_size = 640,
	},
	{
		/* 3.15: thread_state gains base_frame and the profiler's
		 * last_profiled_frame pair (after current_frame), holds_gil,
		 * gil_requested and exception state; type_object tp_basicsize and
		 * tp_dictoffset; heap_type_object; unicode_object the compact
		 * size; gc the frame and generation statistics. */
		.minor = 15, .block_size = 888,
		.rt_size = 24, .rt_finalizing = 32, .rt_interpreters_head = 40,
		.is_size = 48, .is_id = 56, .is_next = 64, .is_threads_head = 72,
		.is_imports_modules = 96, .is_ceval_gil = 120, .is_gil = 128,
		.is_gil_locked = 144, .is_gil_holder = 152,
		.ts_size = 176, .ts_next = 192, .ts_interp = 200, .ts_current_frame = 208,
		.ts_base_frame = 216, .ts_thread_id = 240, .ts_native_thread_id = 248,
		.ts_datastack_chunk = 256, .ts_status = 264,
		.if_size = 312, .if_previous = 320, .if_executable = 328,
		.if_instr_ptr = 336, .if_owner = 352,
		.co_size = 376, .co_filename = 384, .co_name = 392, .co_qualname = 400,
		.co_linetable = 408, .co_firstlineno = 416, .co_code_adaptive = 448,
		.ob_size = 464, .ob_type = 472,
		.tp_size = 480, .tp_name = 488, .tp_flags = 504, .tp_basicsize = 512,
		.tp_dictoffset = 520,
		.ht_size = 528, .ht_cached_keys = 536,
		.dict_size = 624, .dict_ma_keys = 632, .dict_ma_values = 640,
		.long_size = 664, .long_lv_tag = 672, .long_ob_digit = 680,
		.bytes_size = 688, .bytes_ob_size = 696, .bytes_ob_sval = 704,
		.str_size = 712, .str_state = 720, .str_length = 728, .str_ascii_size = 736,
		.str_compact_size = 744,
	},
};

static const struct shape *shape_for(int minor)
{
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		if (shapes[i].minor == minor)
			return &shapes[i];
	return NULL;
}

size_t pp_debug_offsets_max_size(void)
{
	size_t max = 0;
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		if (shapes[i].block_size > max)
			max = shapes[i].block_size;
	return max;
}

/* Nothing pyprobe reads in one go is anywhere near this; a bigger "size"
 * is a corrupt block, not a bigger struct. */
#define MAX_READ_SIZE 65536u

struct parse {
	const uint8_t *block;
	int bad;
	const char *first_bad; /* the entry that made it bad, for the message */
};

static uint64_t get(const uint8_t *block, size_t at)
{
	uint64_t v;
	memcpy(&v, block + at, sizeof v);
	return v;
}

static void mark_bad(struct parse *p, const char *what)
{
	if (!p->bad)
		p->first_bad = what;
	p->bad = 1;
}

/* A struct size: non-zero and small enough to be a real struct. */
static uint32_t size_at(struct parse *p, size_t at, uint64_t max, const char *what)
{
	uint64_t v = get(p->block, at);
	if (v == 0 || v > max) {
		mark_bad(p, what);
		return 0;
	}
	return (uint32_t)v;
}

/* An offset of a `width`-byte member inside a struct of `size` bytes. */
static uint32_t off_at(struct parse *p, size_t at, uint64_t size, uint64_t width,
		       const char *what)
{
	uint64_t v = get(p->block, at);
	if (v > size || width > size - v) {
		mark_bad(p, what);
		return 0;
	}
	return (uint32_t)v;
}

static enum pp_do_status refuse(char *why, size_t whylen, enum pp_do_status st,
				const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static enum pp_do_status refuse(char *why, size_t whylen, enum pp_do_status st,
				const char *fmt, ...)
{
	if (why && whylen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return st;
}

int pp_debug_offsets_free_threaded(const uint8_t *block, size_t len)
{
	if (!block || len < DO_FREE_THREADED + 8 || memcmp(block + DO_COOKIE, "xdebugpy", 8) != 0)
		return -1;
	return get(block, DO_FREE_THREADED) != 0;
}

enum pp_do_status pp_layout_apply_debug_offsets(struct py_layout *out,
						const uint8_t *block, size_t len,
						char *why, size_t whylen)
{
	if (why && whylen)
		why[0] = '\0';
	if (!out || !block || len < DO_FREE_THREADED + 8 ||
	    memcmp(block + DO_COOKIE, "xdebugpy", 8) != 0)
		return refuse(why, whylen, PP_DO_NONE,
			      "no _Py_DebugOffsets block at the start of _PyRuntime");

	uint64_t version = get(block, DO_VERSION);
	unsigned major = (unsigned)(version >> 24) & 0xff, minor = (unsigned)(version >> 16) & 0xff;
	/* Each version's block has its own shape, and it must describe the
	 * same version as the static table it refines. */
	const struct shape *sh = major == 3 ? shape_for((int)minor) : NULL;
	if (!sh || out->minor != (int)minor)
		return refuse(why, whylen, PP_DO_VERSION,
			      "its _Py_DebugOffsets block says version 0x%08llx, whose "
			      "block pyprobe does not know", (unsigned long long)(version & 0xffffffffu));
	/* Free-threaded builds move the GIL, refcount and str fields; the
	 * static table describes the default build only. */
	if (get(block, DO_FREE_THREADED) != 0)
		return refuse(why, whylen, PP_DO_FREE_THREADED,
			      "its _Py_DebugOffsets block says it is a free-threaded build");
	if (len < sh->block_size || out->do_size != sh->block_size ||
	    out->rt_finalizing == PP_ABSENT || out->rt_finalizing < out->do_size)
		return refuse(why, whylen, PP_DO_SIZE,
			      "only %zu bytes of its _Py_DebugOffsets block could be read "
			      "(3.%d's is %u)", len, sh->minor, sh->block_size);
	/* The block's size as the target lays out _PyRuntimeState. */
	uint64_t finalizing = get(block, sh->rt_finalizing);
	uint64_t between = out->rt_finalizing - out->do_size;
	if (finalizing < between || finalizing - between != sh->block_size)
		return refuse(why, whylen, PP_DO_SIZE,
			      "its _Py_DebugOffsets block is %lld bytes by its own "
			      "offsets, where 3.%d's is %u",
			      (long long)finalizing - (long long)between, sh->minor,
			      sh->block_size);

	struct parse p = { block, 0, NULL };
	struct py_layout l = *out;
	const uint64_t ptr = 8;

	uint32_t rt_size = size_at(&p, sh->rt_size, UINT32_MAX, "runtime_state.size");
	l.rt_interpreters_head = off_at(&p, sh->rt_interpreters_head, rt_size, ptr,
					"runtime_state.interpreters_head");
	l.rt_finalizing = off_at(&p, sh->rt_finalizing, rt_size, ptr, "runtime_state.finalizing");
	if (l.rt_main_thread != PP_ABSENT && l.rt_main_thread > rt_size - 8)
		mark_bad(&p, "runtime_state.size");

	uint32_t is_size = size_at(&p, sh->is_size, UINT32_MAX, "interpreter_state.size");
	l.is_id = off_at(&p, sh->is_id, is_size, 8, "interpreter_state.id");
	l.is_next = off_at(&p, sh->is_next, is_size, ptr, "interpreter_state.next");
	l.is_threads_head = off_at(&p, sh->is_threads_head, is_size, ptr,
				   "interpreter_state.threads_head");
	l.is_modules = off_at(&p, sh->is_imports_modules, is_size, ptr,
			      "interpreter_state.imports_modules");
	l.is_ceval_gil = off_at(&p, sh->is_ceval_gil, is_size, ptr, "interpreter_state.ceval_gil");
	/* The block locates the interpreter's own embedded _gil, but the GIL in
	 * use is the one interp->ceval.gil points to (a sub-interpreter may
	 * share the main one). Keep only the positions inside the struct. */
	uint32_t gil = off_at(&p, sh->is_gil, is_size, l.gil_size,
			      "interpreter_state.gil_runtime_state");
	uint32_t locked = off_at(&p, sh->is_gil_locked, is_size, 4,
				 "interpreter_state.gil_runtime_state_locked");
	uint32_t holder = off_at(&p, sh->is_gil_holder, is_size, ptr,
				 "interpreter_state.gil_runtime_state_holder");
	if (locked < gil || locked - gil > l.gil_size - 4 || holder < gil ||
	    holder - gil > l.gil_size - ptr)
		mark_bad(&p, "interpreter_state.gil_runtime_state_*");
	else {
		l.gil_locked = locked - gil;
		l.gil_last_holder = holder - gil;
	}

	/* thread_state.size is sizeof(PyThreadState), what ts_size reads.
	 * The _PyThreadStateImpl that wraps it (3.13+) puts its own members
	 * after it, in a layout of their own: they move with the base's end
	 * (3.13.18's base is 8 bytes longer than 3.13.0's). */
	uint32_t ts_base = size_at(&p, sh->ts_size, MAX_READ_SIZE, "thread_state.size");
	if (l.ts_asyncio_running_loop != PP_ABSENT && !p.bad) {
		if (l.ts_asyncio_running_loop < l.ts_size)
			mark_bad(&p, "thread_state.size");
		else
			l.ts_asyncio_running_loop += ts_base - l.ts_size;
	}
	uint32_t old_chunk = l.ts_datastack_chunk, old_top = l.ts_datastack_top;
	l.ts_size = ts_base;
	l.ts_next = off_at(&p, sh->ts_next, ts_base, ptr, "thread_state.next");
	l.ts_interp = off_at(&p, sh->ts_interp, ts_base, ptr, "thread_state.interp");
	l.ts_frame = off_at(&p, sh->ts_current_frame, ts_base, ptr, "thread_state.current_frame");
	if (sh->ts_base_frame)
		l.ts_base_frame = off_at(&p, sh->ts_base_frame, ts_base, ptr,
					 "thread_state.base_frame");
	l.ts_thread_id = off_at(&p, sh->ts_thread_id, ts_base, 8, "thread_state.thread_id");
	l.ts_native_thread_id = off_at(&p, sh->ts_native_thread_id, ts_base, 8,
				       "thread_state.native_thread_id");
	l.ts_datastack_chunk = off_at(&p, sh->ts_datastack_chunk, ts_base, ptr,
				      "thread_state.datastack_chunk");
	/* datastack_top is not published; it is the member right after
	 * datastack_chunk in every version (the static table says how far). */
	if (old_top == PP_ABSENT || old_chunk == PP_ABSENT)
		mark_bad(&p, "thread_state.datastack_chunk");
	else if (old_top < old_chunk || l.ts_datastack_chunk + (uint64_t)(old_top - old_chunk) + 8 > ts_base)
		mark_bad(&p, "thread_state.datastack_chunk");
	else
		l.ts_datastack_top = l.ts_datastack_chunk + (old_top - old_chunk);
	l.ts_status = off_at(&p, sh->ts_status, ts_base, 4, "thread_state.status");
	/* ts_state is not published; it must at least lie inside. */
	if (l.ts_state != PP_ABSENT && l.ts_state > ts_base - 4)
		l.ts_state = PP_ABSENT;

	l.if_size = size_at(&p, sh->if_size, MAX_READ_SIZE, "interpreter_frame.size");
	l.if_previous = off_at(&p, sh->if_previous, l.if_size, ptr, "interpreter_frame.previous");
	l.if_code = off_at(&p, sh->if_executable, l.if_size, ptr, "interpreter_frame.executable");
	l.if_instr = off_at(&p, sh->if_instr_ptr, l.if_size, ptr, "interpreter_frame.instr_ptr");
	l.if_owner = off_at(&p, sh->if_owner, l.if_size, 1, "interpreter_frame.owner");

	/* co_size is the header before the inline bytecode; the published
	 * size is sizeof(PyCodeObject), which includes the first code units. */
	uint32_t co_struct = size_at(&p, sh->co_size, MAX_READ_SIZE, "code_object.size");
	l.co_code_adaptive = off_at(&p, sh->co_code_adaptive, co_struct, 0,
				    "code_object.co_code_adaptive");
	l.co_size = l.co_code_adaptive;
	l.co_filename = off_at(&p, sh->co_filename, l.co_size, ptr, "code_object.filename");
	l.co_name = off_at(&p, sh->co_name, l.co_size, ptr, "code_object.name");
	l.co_qualname = off_at(&p, sh->co_qualname, l.co_size, ptr, "code_object.qualname");
	l.co_linetable = off_at(&p, sh->co_linetable, l.co_size, ptr, "code_object.linetable");
	l.co_firstlineno = off_at(&p, sh->co_firstlineno, l.co_size, 4, "code_object.firstlineno");
	if (l.co_firsttraceable > l.co_size - 4)
		mark_bad(&p, "code_object.co_code_adaptive");

	uint32_t ob_size = size_at(&p, sh->ob_size, MAX_READ_SIZE, "pyobject.size");
	l.ob_type = off_at(&p, sh->ob_type, ob_size, ptr, "pyobject.ob_type");

	uint32_t tp_size = size_at(&p, sh->tp_size, MAX_READ_SIZE, "type_object.size");
	l.tp_name = off_at(&p, sh->tp_name, tp_size, ptr, "type_object.tp_name");
	l.tp_flags = off_at(&p, sh->tp_flags, tp_size, 8, "type_object.tp_flags");
	if (sh->tp_basicsize) {
		l.tp_basicsize = off_at(&p, sh->tp_basicsize, tp_size, 8, "type_object.tp_basicsize");
		l.tp_dictoffset = off_at(&p, sh->tp_dictoffset, tp_size, 8,
					 "type_object.tp_dictoffset");
	}
	if (sh->ht_size) {
		uint32_t ht_size = size_at(&p, sh->ht_size, MAX_READ_SIZE, "heap_type_object.size");
		l.ht_cached_keys = off_at(&p, sh->ht_cached_keys, ht_size, ptr,
					  "heap_type_object.ht_cached_keys");
	}

	uint32_t dict_size = size_at(&p, sh->dict_size, MAX_READ_SIZE, "dict_object.size");
	l.dict_keys = off_at(&p, sh->dict_ma_keys, dict_size, ptr, "dict_object.ma_keys");
	l.dict_values = off_at(&p, sh->dict_ma_values, dict_size, ptr, "dict_object.ma_values");

	/* sizeof(PyLongObject) includes one digit. */
	uint32_t long_size = size_at(&p, sh->long_size, MAX_READ_SIZE, "long_object.size");
	l.long_size = off_at(&p, sh->long_lv_tag, long_size, 8, "long_object.lv_tag");
	l.long_digits = off_at(&p, sh->long_ob_digit, long_size, 4, "long_object.ob_digit");
	l.long_tagged = 1; /* the block publishes lv_tag, not ob_size */

	/* sizeof(PyBytesObject) includes the terminating NUL. */
	uint32_t bytes_size = size_at(&p, sh->bytes_size, MAX_READ_SIZE, "bytes_object.size");
	l.bytes_size = off_at(&p, sh->bytes_ob_size, bytes_size, 8, "bytes_object.ob_size");
	l.bytes_sval = off_at(&p, sh->bytes_ob_sval, bytes_size, 1, "bytes_object.ob_sval");

	/* unicode_object.size is sizeof(PyUnicodeObject). */
	uint32_t str_size = size_at(&p, sh->str_size, MAX_READ_SIZE, "unicode_object.size");
	l.str_state = off_at(&p, sh->str_state, str_size, 4, "unicode_object.state");
	l.str_length = off_at(&p, sh->str_length, str_size, 8, "unicode_object.length");
	l.str_ascii_data = off_at(&p, sh->str_ascii_size, str_size, 0,
				  "unicode_object.asciiobject_size");
	if (sh->str_compact_size) {
		/* A legacy str's data pointer is the member right after the
		 * compact header (PyUnicodeObject = {PyCompactUnicodeObject;
		 * data}). */
		l.str_compact_data = off_at(&p, sh->str_compact_size, str_size, ptr,
					    "unicode_object.compactunicodeobject_size");
		l.str_legacy_data = l.str_compact_data;
	}

	if (p.bad)
		return refuse(why, whylen, PP_DO_BAD_VALUE,
			      "its _Py_DebugOffsets block has an impossible %s", p.first_bad);
	*out = l;
	return PP_DO_OK;
}
