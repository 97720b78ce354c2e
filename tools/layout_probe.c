/* layout_probe: print one CPython's struct py_layout, measured from its own
 * headers.
 *
 * This file is NOT part of the meson build. tools/check-layouts (and
 * tests/test_layouts.c) compile it once per installed interpreter, against
 * that interpreter's headers, internal ones included:
 *
 *   cc -std=c11 -D_GNU_SOURCE -DPy_BUILD_CORE \
 *      -isystem PREFIX/include/python3.X -isystem PREFIX/include/python3.X/internal \
 *      -DPP_LIBPYTHON='"PREFIX/lib/libpython3.X.so.1.0"' \
 *      tools/layout_probe.c -o layout-probe
 *
 * Output, one line per struct py_layout field in the struct's order:
 *   NAME VALUE            VALUE decimal, or "absent" for PP_ABSENT
 * This is exactly what tools/print-layout prints for the compiled-in table,
 * so the two can be diffed.
 *
 * Where a value comes from (shown by --sources):
 *   header  offsetof()/sizeof() on the installed headers
 *   enum    an enumerator from the installed headers
 *   macro   a #define from the installed headers
 *   inline  pointer arithmetic done by a header's own static inline accessor
 *   dwarf   the struct is not in any installed header of this version
 *           (it lives in a .c or a non-installed .h of CPython), so the value
 *           is read from the DWARF of libpython with gdb
 *   fixed   a value the contract defines for this version (see its comment)
 *   absent  the version has no such field
 *
 * --dwarf-check evaluates the DWARF equivalent of every header/enum value in
 * libpython (one gdb run) and reports agreement; exit status 1 on mismatch.
 *
 * The probe never links libpython: it only uses offsetof/sizeof, constants
 * and static inline functions that touch nothing but their argument.
 */
#include <Python.h>

#if PY_MAJOR_VERSION != 3 || PY_MINOR_VERSION < 8 || PY_MINOR_VERSION > 15
#error "layout_probe knows CPython 3.8 to 3.15"
#endif
#ifdef Py_GIL_DISABLED
#error "layout_probe describes default (GIL) builds; pyprobe refuses free-threaded ones"
#endif

#if PY_MINOR_VERSION <= 10
#include <frameobject.h> /* PyFrameObject is the live frame chain */
#include <longintrepr.h> /* struct _longobject is not in Python.h yet */
#endif

#if PY_MINOR_VERSION == 8
#include "internal/pycore_pystate.h" /* _PyRuntimeState, struct _is */
#else
#include "internal/pycore_runtime.h"
#include "internal/pycore_interp.h"
#endif
#include "internal/pycore_gil.h"

#if PY_MINOR_VERSION >= 10
#include "internal/pycore_moduleobject.h"
#endif
#if PY_MINOR_VERSION >= 11
#include "internal/pycore_frame.h"
#include "internal/pycore_dict.h"
#include "internal/pycore_object.h"
#endif
#if PY_MINOR_VERSION >= 13
#include "internal/pycore_tstate.h" /* _PyThreadStateImpl */
#endif
#if PY_MINOR_VERSION >= 14
#include "internal/pycore_debug_offsets.h" /* _Py_DebugOffsets, own header now */
#include "internal/pycore_stackref.h"      /* Py_TAG_BITS */
#endif

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

enum source { SRC_HEADER, SRC_ENUM, SRC_MACRO, SRC_INLINE, SRC_DWARF, SRC_FIXED,
	      SRC_ABSENT };

static const char *const source_names[] = {
	[SRC_HEADER] = "header", [SRC_ENUM] = "enum",   [SRC_MACRO] = "macro",
	[SRC_INLINE] = "inline", [SRC_DWARF] = "dwarf", [SRC_FIXED] = "fixed",
	[SRC_ABSENT] = "absent",
};

struct field {
	const char *name;
	long value;
	enum source src;
	/* A gdb expression with the same meaning, evaluated in libpython's
	 * DWARF: the value itself for SRC_DWARF, a cross-check otherwise. NULL
	 * when DWARF cannot express it (macros, inline arithmetic). */
	const char *gdb;
	int is_signed; /* the two int32_t fields: absent is 0, not PP_ABSENT */
};

/* The gdb spelling of offsetof: DWARF knows the member, not the macro. */
#define GDB_OFF(T, M) "(long)&((" #T " *)0)->" #M

#define OFF(n, T, M) { #n, (long)offsetof(T, M), SRC_HEADER, GDB_OFF(T, M), 0 }
#define SIZE(n, T) { #n, (long)sizeof(T), SRC_HEADER, "(long)sizeof(" #T ")", 0 }
#define ENUMV(n, E) { #n, (long)(E), SRC_ENUM, "(long)" #E, 0 }
#define MACRO(n, M) { #n, (long)(M), SRC_MACRO, NULL, 0 }
#define DWARF_OFF(n, T, M) { #n, 0, SRC_DWARF, GDB_OFF(T, M), 0 }
#define DWARF_SIZE(n, T) { #n, 0, SRC_DWARF, "(long)sizeof(" #T ")", 0 }
#define FIXED(n, v) { #n, (long)(v), SRC_FIXED, NULL, 0 }
#define ABSENT(n) { #n, 0, SRC_ABSENT, NULL, 0 }
#define SIGNED_INLINE(n, v) { #n, (long)(v), SRC_INLINE, NULL, 1 }
#define SIGNED_ABSENT(n) { #n, 0, SRC_ABSENT, NULL, 1 }

#if PY_MINOR_VERSION >= 11
/* Run the header's own accessor on a fake instance and measure how far from
 * the object start it points. The object sits in the middle of a buffer so
 * the pre-header words the accessors reach back to are real memory. */
static PyTypeObject fake_type;
static PyObject *fake_instance(void)
{
	static PyObject *words[16];
	PyObject *obj = (PyObject *)&words[8];

	fake_type.tp_flags = Py_TPFLAGS_MANAGED_DICT;
	/* Set the type the way the header's Py_TYPE() will read it back. */
	obj->ob_type = &fake_type;
	return obj;
}

static long managed_dict_offset(void)
{
	PyObject *obj = fake_instance();
#if PY_MINOR_VERSION == 12
	/* 3.12 stores one tagged word: a dict pointer or values pointer + 1. */
	long off = (char *)_PyObject_DictOrValuesPointer(obj) - (char *)obj;
#else
	long off = (char *)_PyObject_ManagedDictPointer(obj) - (char *)obj;
#endif
#ifdef MANAGED_DICT_OFFSET
	/* 3.11 and 3.13 also spell it as a macro; both must agree. */
	if (off != (long)MANAGED_DICT_OFFSET) {
		fprintf(stderr, "layout_probe: accessor says %ld, MANAGED_DICT_OFFSET "
				"says %ld\n", off, (long)MANAGED_DICT_OFFSET);
		exit(1);
	}
#endif
	return off;
}

#if PY_MINOR_VERSION == 11
static long managed_values_offset(void)
{
	PyObject *obj = fake_instance();
	return (char *)_PyObject_ValuesPointer(obj) - (char *)obj;
}
#endif
#endif

/* Fills `f` with every struct py_layout field, in the struct's order.
 * Returns the count. Keep in step with reader/layout.h. */
static size_t collect(struct field *f)
{
	size_t n = 0;

	f[n++] = (struct field)MACRO(minor, PY_MINOR_VERSION);

	/* _PyRuntimeState */
	f[n++] = (struct field)OFF(rt_interpreters_head, _PyRuntimeState, interpreters.head);
	f[n++] = (struct field)OFF(rt_main_thread, _PyRuntimeState, main_thread);
#if PY_MINOR_VERSION <= 11
	f[n++] = (struct field)OFF(rt_gil, _PyRuntimeState, ceval.gil);
#else
	f[n++] = (struct field)ABSENT(rt_gil); /* per interpreter from 3.12 */
#endif
#if PY_MINOR_VERSION == 8
	f[n++] = (struct field)OFF(rt_finalizing, _PyRuntimeState, finalizing);
#else
	f[n++] = (struct field)OFF(rt_finalizing, _PyRuntimeState, _finalizing);
#endif

	/* _Py_DebugOffsets */
#if PY_MINOR_VERSION >= 13
	f[n++] = (struct field)SIZE(do_size, _Py_DebugOffsets);
#else
	f[n++] = (struct field)ABSENT(do_size);
#endif

	/* PyInterpreterState */
	f[n++] = (struct field)OFF(is_next, PyInterpreterState, next);
#if PY_MINOR_VERSION <= 10
	f[n++] = (struct field)OFF(is_threads_head, PyInterpreterState, tstate_head);
#else
	f[n++] = (struct field)OFF(is_threads_head, PyInterpreterState, threads.head);
#endif
	f[n++] = (struct field)OFF(is_id, PyInterpreterState, id);
#if PY_MINOR_VERSION >= 12
	f[n++] = (struct field)OFF(is_ceval_gil, PyInterpreterState, ceval.gil);
	f[n++] = (struct field)OFF(is_modules, PyInterpreterState, imports.modules);
#else
	f[n++] = (struct field)ABSENT(is_ceval_gil);
	f[n++] = (struct field)OFF(is_modules, PyInterpreterState, modules);
#endif

	/* struct _gil_runtime_state */
	f[n++] = (struct field)OFF(gil_last_holder, struct _gil_runtime_state, last_holder);
	f[n++] = (struct field)OFF(gil_locked, struct _gil_runtime_state, locked);
	f[n++] = (struct field)SIZE(gil_size, struct _gil_runtime_state);

	/* PyThreadState. From 3.13 every thread state is allocated as the
	 * larger _PyThreadStateImpl; its own members (3.15's run past 1 KB)
	 * are not read with the rest. */
	f[n++] = (struct field)SIZE(ts_size, PyThreadState);
	f[n++] = (struct field)OFF(ts_next, PyThreadState, next);
	f[n++] = (struct field)OFF(ts_interp, PyThreadState, interp);
#if PY_MINOR_VERSION <= 10
	f[n++] = (struct field)OFF(ts_frame, PyThreadState, frame);
#elif PY_MINOR_VERSION <= 12
	f[n++] = (struct field)OFF(ts_frame, PyThreadState, cframe);
#else
	f[n++] = (struct field)OFF(ts_frame, PyThreadState, current_frame);
#endif
	f[n++] = (struct field)OFF(ts_thread_id, PyThreadState, thread_id);
#if PY_MINOR_VERSION >= 11
	f[n++] = (struct field)OFF(ts_native_thread_id, PyThreadState, native_thread_id);
	f[n++] = (struct field)OFF(ts_datastack_chunk, PyThreadState, datastack_chunk);
	f[n++] = (struct field)OFF(ts_datastack_top, PyThreadState, datastack_top);
#else
	f[n++] = (struct field)ABSENT(ts_native_thread_id);
	f[n++] = (struct field)ABSENT(ts_datastack_chunk);
	f[n++] = (struct field)ABSENT(ts_datastack_top);
#endif
#if PY_MINOR_VERSION >= 12
	f[n++] = (struct field)OFF(ts_status, PyThreadState, _status);
#else
	f[n++] = (struct field)ABSENT(ts_status);
#endif
#if PY_MINOR_VERSION >= 13
	f[n++] = (struct field)OFF(ts_state, PyThreadState, state);
	f[n++] = (struct field)OFF(ts_asyncio_running_loop, _PyThreadStateImpl, asyncio_running_loop);
#else
	f[n++] = (struct field)ABSENT(ts_state);
	f[n++] = (struct field)ABSENT(ts_asyncio_running_loop);
#endif
#if PY_MINOR_VERSION >= 15
	f[n++] = (struct field)OFF(ts_base_frame, PyThreadState, base_frame);
#else
	f[n++] = (struct field)ABSENT(ts_base_frame);
#endif

	/* _PyCFrame */
#if PY_MINOR_VERSION == 11 || PY_MINOR_VERSION == 12
	f[n++] = (struct field)OFF(cf_current_frame, _PyCFrame, current_frame);
#else
	f[n++] = (struct field)ABSENT(cf_current_frame);
#endif

	/* _PyStackChunk */
#if PY_MINOR_VERSION >= 11
	f[n++] = (struct field)OFF(chunk_previous, _PyStackChunk, previous);
	f[n++] = (struct field)OFF(chunk_size, _PyStackChunk, size);
	f[n++] = (struct field)OFF(chunk_top, _PyStackChunk, top);
	f[n++] = (struct field)OFF(chunk_data, _PyStackChunk, data);
#else
	f[n++] = (struct field)ABSENT(chunk_previous);
	f[n++] = (struct field)ABSENT(chunk_size);
	f[n++] = (struct field)ABSENT(chunk_top);
	f[n++] = (struct field)ABSENT(chunk_data);
#endif

	/* PyFrameObject, the live chain up to 3.10 */
#if PY_MINOR_VERSION <= 10
	/* Everything before the locals; the walker needs none of those. */
	f[n++] = (struct field)OFF(fo_size, PyFrameObject, f_localsplus);
	f[n++] = (struct field)OFF(fo_back, PyFrameObject, f_back);
	f[n++] = (struct field)OFF(fo_code, PyFrameObject, f_code);
	f[n++] = (struct field)OFF(fo_lasti, PyFrameObject, f_lasti);
#if PY_MINOR_VERSION <= 9
	f[n++] = (struct field)OFF(fo_state, PyFrameObject, f_executing);
#else
	f[n++] = (struct field)OFF(fo_state, PyFrameObject, f_state);
#endif
#else
	f[n++] = (struct field)ABSENT(fo_size);
	f[n++] = (struct field)ABSENT(fo_back);
	f[n++] = (struct field)ABSENT(fo_code);
	f[n++] = (struct field)ABSENT(fo_lasti);
	f[n++] = (struct field)ABSENT(fo_state);
#endif

	/* _PyInterpreterFrame */
#if PY_MINOR_VERSION >= 11
	f[n++] = (struct field)SIZE(if_size, _PyInterpreterFrame);
#if PY_MINOR_VERSION <= 12
	f[n++] = (struct field)OFF(if_code, _PyInterpreterFrame, f_code);
#else
	f[n++] = (struct field)OFF(if_code, _PyInterpreterFrame, f_executable);
#endif
	f[n++] = (struct field)OFF(if_previous, _PyInterpreterFrame, previous);
#if PY_MINOR_VERSION <= 12
	f[n++] = (struct field)OFF(if_instr, _PyInterpreterFrame, prev_instr);
#else
	f[n++] = (struct field)OFF(if_instr, _PyInterpreterFrame, instr_ptr);
#endif
	f[n++] = (struct field)OFF(if_owner, _PyInterpreterFrame, owner);
#if PY_MINOR_VERSION == 11
	f[n++] = (struct field)OFF(if_is_entry, _PyInterpreterFrame, is_entry);
#else
	f[n++] = (struct field)ABSENT(if_is_entry);
#endif
#if PY_MINOR_VERSION >= 14
	/* f_executable is a _PyStackRef: an object address with tag bits. */
	f[n++] = (struct field)MACRO(if_code_tag_bits, Py_TAG_BITS);
#else
	/* A plain PyObject* / PyCodeObject*. */
	f[n++] = (struct field)FIXED(if_code_tag_bits, 0);
#endif
	f[n++] = (struct field)ENUMV(owner_generator, FRAME_OWNED_BY_GENERATOR);
#if PY_MINOR_VERSION >= 12 && PY_MINOR_VERSION <= 14
	/* 3.12/3.13: 3; 3.14: 4, after INTERPRETER; gone in 3.15. */
	f[n++] = (struct field)ENUMV(owner_cstack, FRAME_OWNED_BY_CSTACK);
#else
	f[n++] = (struct field)ABSENT(owner_cstack);
#endif
#if PY_MINOR_VERSION >= 14
	f[n++] = (struct field)ENUMV(owner_interpreter, FRAME_OWNED_BY_INTERPRETER);
#else
	f[n++] = (struct field)ABSENT(owner_interpreter);
#endif
#else
	f[n++] = (struct field)ABSENT(if_size);
	f[n++] = (struct field)ABSENT(if_code);
	f[n++] = (struct field)ABSENT(if_previous);
	f[n++] = (struct field)ABSENT(if_instr);
	f[n++] = (struct field)ABSENT(if_owner);
	f[n++] = (struct field)ABSENT(if_is_entry);
	f[n++] = (struct field)FIXED(if_code_tag_bits, 0);
	f[n++] = (struct field)ABSENT(owner_generator);
	f[n++] = (struct field)ABSENT(owner_cstack);
	f[n++] = (struct field)ABSENT(owner_interpreter);
#endif

	/* PyCodeObject */
#if PY_MINOR_VERSION <= 10
	f[n++] = (struct field)SIZE(co_size, PyCodeObject);
#else
	/* The header up to the inline bytecode, which is read separately. */
	f[n++] = (struct field)OFF(co_size, PyCodeObject, co_code_adaptive);
#endif
	f[n++] = (struct field)OFF(co_filename, PyCodeObject, co_filename);
	f[n++] = (struct field)OFF(co_name, PyCodeObject, co_name);
#if PY_MINOR_VERSION >= 11
	f[n++] = (struct field)OFF(co_qualname, PyCodeObject, co_qualname);
#else
	f[n++] = (struct field)ABSENT(co_qualname);
#endif
	f[n++] = (struct field)OFF(co_firstlineno, PyCodeObject, co_firstlineno);
#if PY_MINOR_VERSION <= 9
	f[n++] = (struct field)OFF(co_linetable, PyCodeObject, co_lnotab);
#else
	f[n++] = (struct field)OFF(co_linetable, PyCodeObject, co_linetable);
#endif
#if PY_MINOR_VERSION <= 10
	f[n++] = (struct field)OFF(co_code, PyCodeObject, co_code);
	f[n++] = (struct field)ABSENT(co_firsttraceable);
	f[n++] = (struct field)ABSENT(co_code_adaptive);
#else
	f[n++] = (struct field)ABSENT(co_code);
	f[n++] = (struct field)OFF(co_firsttraceable, PyCodeObject, _co_firsttraceable);
	f[n++] = (struct field)OFF(co_code_adaptive, PyCodeObject, co_code_adaptive);
#endif

	/* PyObject, PyVarObject, PyTypeObject, PyHeapTypeObject */
	f[n++] = (struct field)OFF(ob_refcnt, PyObject, ob_refcnt);
	f[n++] = (struct field)OFF(ob_type, PyObject, ob_type);
	f[n++] = (struct field)OFF(ob_size, PyVarObject, ob_size);
	f[n++] = (struct field)OFF(tp_name, PyTypeObject, tp_name);
	f[n++] = (struct field)OFF(tp_basicsize, PyTypeObject, tp_basicsize);
	f[n++] = (struct field)OFF(tp_flags, PyTypeObject, tp_flags);
	f[n++] = (struct field)OFF(tp_dictoffset, PyTypeObject, tp_dictoffset);
	f[n++] = (struct field)OFF(ht_cached_keys, PyHeapTypeObject, ht_cached_keys);

	/* bytes */
	f[n++] = (struct field)OFF(bytes_size, PyBytesObject, ob_base.ob_size);
	f[n++] = (struct field)OFF(bytes_sval, PyBytesObject, ob_sval);

	/* str */
	f[n++] = (struct field)OFF(str_length, PyASCIIObject, length);
	f[n++] = (struct field)OFF(str_state, PyASCIIObject, state);
	f[n++] = (struct field)SIZE(str_ascii_data, PyASCIIObject);
	f[n++] = (struct field)SIZE(str_compact_data, PyCompactUnicodeObject);
	f[n++] = (struct field)OFF(str_legacy_data, PyUnicodeObject, data);

	/* int */
#if PY_MINOR_VERSION <= 11
	f[n++] = (struct field)OFF(long_size, struct _longobject, ob_base.ob_size);
	f[n++] = (struct field)OFF(long_digits, struct _longobject, ob_digit);
	f[n++] = (struct field)FIXED(long_tagged, 0);
#else
	f[n++] = (struct field)OFF(long_size, struct _longobject, long_value.lv_tag);
	f[n++] = (struct field)OFF(long_digits, struct _longobject, long_value.ob_digit);
	f[n++] = (struct field)FIXED(long_tagged, 1);
#endif

	/* PyModuleObject */
#if PY_MINOR_VERSION >= 10
	f[n++] = (struct field)OFF(mod_dict, PyModuleObject, md_dict);
#else
	/* Defined in Objects/moduleobject.c until 3.10 moved it to a header. */
	f[n++] = (struct field)DWARF_OFF(mod_dict, PyModuleObject, md_dict);
#endif

	/* dict */
	f[n++] = (struct field)OFF(dict_keys, PyDictObject, ma_keys);
	f[n++] = (struct field)OFF(dict_values, PyDictObject, ma_values);
#if PY_MINOR_VERSION <= 10
	/* The keys object is in Objects/dict-common.h, never installed. */
	f[n++] = (struct field)DWARF_OFF(dk_size, struct _dictkeysobject, dk_size);
	f[n++] = (struct field)ABSENT(dk_log2_size);
	f[n++] = (struct field)ABSENT(dk_log2_index_bytes);
	f[n++] = (struct field)ABSENT(dk_kind);
	f[n++] = (struct field)DWARF_OFF(dk_nentries, struct _dictkeysobject, dk_nentries);
	f[n++] = (struct field)DWARF_OFF(dk_indices, struct _dictkeysobject, dk_indices);
	/* ma_values points straight at the PyObject* array. */
	f[n++] = (struct field)FIXED(dv_values, 0);
#else
	f[n++] = (struct field)ABSENT(dk_size);
	f[n++] = (struct field)OFF(dk_log2_size, struct _dictkeysobject, dk_log2_size);
	f[n++] = (struct field)OFF(dk_log2_index_bytes, struct _dictkeysobject, dk_log2_index_bytes);
	f[n++] = (struct field)OFF(dk_kind, struct _dictkeysobject, dk_kind);
	f[n++] = (struct field)OFF(dk_nentries, struct _dictkeysobject, dk_nentries);
	f[n++] = (struct field)OFF(dk_indices, struct _dictkeysobject, dk_indices);
	f[n++] = (struct field)OFF(dv_values, struct _dictvalues, values);
#endif

	/* Managed dicts */
#if PY_MINOR_VERSION >= 11
	f[n++] = (struct field)SIGNED_INLINE(obj_managed_dict, managed_dict_offset());
#else
	f[n++] = (struct field)SIGNED_ABSENT(obj_managed_dict);
#endif
#if PY_MINOR_VERSION == 11
	f[n++] = (struct field)SIGNED_INLINE(obj_managed_values, managed_values_offset());
#else
	f[n++] = (struct field)SIGNED_ABSENT(obj_managed_values);
#endif
#if PY_MINOR_VERSION >= 11
	f[n++] = (struct field)MACRO(tpflags_managed_dict, Py_TPFLAGS_MANAGED_DICT);
#else
	f[n++] = (struct field)ABSENT(tpflags_managed_dict);
#endif
#if PY_MINOR_VERSION >= 13
	f[n++] = (struct field)MACRO(tpflags_inline_values, Py_TPFLAGS_INLINE_VALUES);
#else
	f[n++] = (struct field)ABSENT(tpflags_inline_values);
#endif

	/* A frame's arguments and locals */
#if PY_MINOR_VERSION <= 10
	f[n++] = (struct field)OFF(loc_fo_localsplus, PyFrameObject, f_localsplus);
	f[n++] = (struct field)ABSENT(loc_if_localsplus);
#else
	f[n++] = (struct field)ABSENT(loc_fo_localsplus);
	f[n++] = (struct field)OFF(loc_if_localsplus, _PyInterpreterFrame, localsplus);
#endif
	f[n++] = (struct field)OFF(loc_co_nlocals, PyCodeObject, co_nlocals);
#if PY_MINOR_VERSION <= 10
	f[n++] = (struct field)ABSENT(loc_co_nlocalsplus);
	f[n++] = (struct field)OFF(loc_co_varnames, PyCodeObject, co_varnames);
	f[n++] = (struct field)OFF(loc_co_cellvars, PyCodeObject, co_cellvars);
	f[n++] = (struct field)OFF(loc_co_freevars, PyCodeObject, co_freevars);
	f[n++] = (struct field)ABSENT(loc_co_localsplusnames);
	f[n++] = (struct field)ABSENT(loc_co_localspluskinds);
#else
	f[n++] = (struct field)OFF(loc_co_nlocalsplus, PyCodeObject, co_nlocalsplus);
	f[n++] = (struct field)ABSENT(loc_co_varnames);
	f[n++] = (struct field)ABSENT(loc_co_cellvars);
	f[n++] = (struct field)ABSENT(loc_co_freevars);
	f[n++] = (struct field)OFF(loc_co_localsplusnames, PyCodeObject, co_localsplusnames);
	f[n++] = (struct field)OFF(loc_co_localspluskinds, PyCodeObject, co_localspluskinds);
#endif

	/* Values shown as locals */
	f[n++] = (struct field)OFF(val_tuple_items, PyTupleObject, ob_item);
	f[n++] = (struct field)OFF(val_list_size, PyListObject, ob_base.ob_size);
	f[n++] = (struct field)OFF(val_dict_used, PyDictObject, ma_used);
	f[n++] = (struct field)OFF(val_set_used, PySetObject, used);
	f[n++] = (struct field)OFF(val_float_fval, PyFloatObject, ob_fval);
	f[n++] = (struct field)OFF(val_cell_ref, PyCellObject, ob_ref);
	return n;
}

/* reader/pystring.c reads a str's kind, compact and ascii flags at fixed
 * bit positions of the state word (a bitfield, which offsetof cannot
 * measure). Set each through the header's own bitfield and see where it
 * lands; 0 if every one is where pystring.c looks. */
static int check_str_state_bits(void)
{
	struct bit { const char *name; uint32_t want; uint32_t got; } b[3];
	PyASCIIObject o;
	uint32_t word;

	memset(&o, 0, sizeof o);
	o.state.kind = 7;
	memcpy(&word, (char *)&o + offsetof(PyASCIIObject, state), 4);
	b[0] = (struct bit){ "kind", 7u << 2, word };
	memset(&o, 0, sizeof o);
	o.state.compact = 1;
	memcpy(&word, (char *)&o + offsetof(PyASCIIObject, state), 4);
	b[1] = (struct bit){ "compact", 1u << 5, word };
	memset(&o, 0, sizeof o);
	o.state.ascii = 1;
	memcpy(&word, (char *)&o + offsetof(PyASCIIObject, state), 4);
	b[2] = (struct bit){ "ascii", 1u << 6, word };

	int bad = 0;
	for (int i = 0; i < 3; i++)
		if (b[i].got != b[i].want) {
			fprintf(stderr, "layout_probe: str state.%s sets 0x%x, pystring.c "
					"reads 0x%x\n", b[i].name, b[i].got, b[i].want);
			bad = 1;
		}
	return bad;
}

#define MAX_FIELDS 128

/* Evaluates each field's gdb expression in `lib` with one gdb run. Each
 * expression is printed as "@@ INDEX VALUE" so a failed one (gdb writes its
 * error to stderr and goes on) simply leaves no line. have[i] says which
 * came back. Returns 0, or -1 if gdb could not be run at all. */
static int run_gdb(const char *lib, const struct field *f, size_t n, long *dwarf,
		   int *have)
{
	char *argv[4 + 2 * MAX_FIELDS + 2];
	char *owned[MAX_FIELDS];
	size_t argc = 0, nowned = 0;
	int pfd[2];

	argv[argc++] = "gdb";
	argv[argc++] = "-batch";
	argv[argc++] = "-nx";
	for (size_t i = 0; i < n; i++) {
		have[i] = 0;
		if (!f[i].gdb)
			continue;
		char *cmd;
		if (asprintf(&cmd, "printf \"@@ %zu %%ld\\n\", %s", i, f[i].gdb) < 0)
			return -1;
		owned[nowned++] = cmd;
		argv[argc++] = "-ex";
		argv[argc++] = cmd;
	}
	argv[argc++] = (char *)lib;
	argv[argc] = NULL;

	if (pipe(pfd) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		execvp("gdb", argv);
		fprintf(stderr, "layout_probe: cannot run gdb: %s\n", strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	FILE *in = fdopen(pfd[0], "r");
	char line[512];
	while (in && fgets(line, sizeof line, in)) {
		size_t idx;
		long v;
		if (sscanf(line, "@@ %zu %ld", &idx, &v) == 2 && idx < n) {
			dwarf[idx] = v;
			have[idx] = 1;
		}
	}
	if (in)
		fclose(in);
	int status;
	waitpid(pid, &status, 0);
	for (size_t i = 0; i < nowned; i++)
		free(owned[i]);
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 127)
		return -1;
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: layout-probe [--sources] [--dwarf-check] [--lib LIBPYTHON]\n"
		"  prints struct py_layout for CPython 3.%d as 'name value' lines\n",
		PY_MINOR_VERSION);
}

int main(int argc, char **argv)
{
	int show_sources = 0, dwarf_check = 0;
	const char *lib = NULL;
#ifdef PP_LIBPYTHON
	lib = PP_LIBPYTHON;
#endif
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--sources"))
			show_sources = 1;
		else if (!strcmp(argv[i], "--dwarf-check"))
			dwarf_check = 1;
		else if (!strcmp(argv[i], "--lib") && i + 1 < argc)
			lib = argv[++i];
		else {
			usage();
			return 2;
		}
	}

	if (check_str_state_bits() != 0)
		return 1;
	struct field f[MAX_FIELDS];
	size_t n = collect(f);

	int need_gdb = dwarf_check;
	for (size_t i = 0; i < n; i++)
		if (f[i].src == SRC_DWARF)
			need_gdb = 1;

	long dwarf[MAX_FIELDS];
	int have[MAX_FIELDS] = { 0 };
	if (need_gdb) {
		if (!lib) {
			fprintf(stderr, "layout_probe: some 3.%d fields exist only in "
					"DWARF; give --lib LIBPYTHON\n", PY_MINOR_VERSION);
			return 1;
		}
		if (run_gdb(lib, f, n, dwarf, have) != 0) {
			fprintf(stderr, "layout_probe: could not run gdb on %s\n", lib);
			return 1;
		}
	}

	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		if (f[i].src == SRC_DWARF) {
			if (!have[i]) {
				fprintf(stderr, "layout_probe: %s: gdb could not evaluate "
						"%s in %s\n", f[i].name, f[i].gdb, lib);
				return 1;
			}
			f[i].value = dwarf[i];
		}
	}

	if (dwarf_check) {
		size_t checked = 0, skipped = 0;
		for (size_t i = 0; i < n; i++) {
			if (!f[i].gdb || f[i].src == SRC_DWARF) {
				skipped += f[i].src != SRC_ABSENT;
				continue;
			}
			if (!have[i]) {
				printf("%s %ld %s: no DWARF answer for %s\n", f[i].name,
				       f[i].value, source_names[f[i].src], f[i].gdb);
				bad = 1;
				continue;
			}
			checked++;
			if (dwarf[i] != f[i].value) {
				printf("%s %s=%ld dwarf=%ld MISMATCH\n", f[i].name,
				       source_names[f[i].src], f[i].value, dwarf[i]);
				bad = 1;
			}
		}
		printf("dwarf-check 3.%d: %zu header values checked against %s, "
		       "%s; %zu not expressible in DWARF (macro/inline/fixed/"
		       "dwarf-only)\n", PY_MINOR_VERSION, checked, lib,
		       bad ? "MISMATCHES" : "all equal", skipped);
		return bad;
	}

	for (size_t i = 0; i < n; i++) {
		if (f[i].src == SRC_ABSENT && !f[i].is_signed)
			printf("%s absent", f[i].name);
		else
			printf("%s %ld", f[i].name, f[i].value);
		if (show_sources)
			printf(" %s", source_names[f[i].src]);
		putchar('\n');
	}
	return 0;
}
