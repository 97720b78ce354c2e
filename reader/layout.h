/* Where things are inside CPython's structures, one table per minor version.
 *
 * This is data, not code: reader/layouts.c holds one `struct py_layout` per
 * supported minor version, generated and verified by tools/layout-probe
 * against the installed headers of each real interpreter (see
 * tools/README.md). 3.13+ carry _Py_DebugOffsets at the start of
 * _PyRuntime; pp_layout_apply_debug_offsets() overlays what the target
 * publishes onto the static table, and refuses a block it does not know.
 *
 * Every field is a byte offset (or a size) on x86_64. A field the version
 * does not have is PP_ABSENT; code tests for that rather than for version
 * numbers wherever it can.
 */
#ifndef PYPROBE_READER_LAYOUT_H
#define PYPROBE_READER_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#define PP_ABSENT UINT32_MAX

struct py_layout {
	int minor; /* 3.<minor> */

	/* _PyRuntimeState */
	uint32_t rt_interpreters_head; /* interpreters.head */
	uint32_t rt_main_thread;       /* main_thread (pthread_t) */
	uint32_t rt_gil;               /* ceval.gil, embedded (3.8-3.11) */
	uint32_t rt_finalizing;        /* _finalizing: its distance from the
	                                  debug offsets' end says how big the
	                                  target's block is (3.13+) */

	/* _Py_DebugOffsets (3.13+) */
	uint32_t do_size;              /* sizeof(_Py_DebugOffsets) */

	/* PyInterpreterState */
	uint32_t is_next;
	uint32_t is_threads_head; /* tstate_head (<=3.10) / threads.head */
	uint32_t is_id;           /* int64_t */
	uint32_t is_ceval_gil;    /* ceval.gil, a pointer (3.12+) */
	uint32_t is_modules;      /* sys.modules dict pointer */

	/* struct _gil_runtime_state */
	uint32_t gil_last_holder;
	uint32_t gil_locked;
	uint32_t gil_size;

	/* PyThreadState (and _PyThreadStateImpl, which wraps it, from 3.13) */
	uint32_t ts_size;            /* sizeof(PyThreadState): read in one go;
	                                _PyThreadStateImpl members lie past it
	                                and are read on their own */
	uint32_t ts_next;
	uint32_t ts_interp;
	uint32_t ts_frame;           /* frame (<=3.10), cframe (3.11/3.12),
	                                current_frame (3.13+) */
	uint32_t ts_thread_id;       /* pthread_self() */
	uint32_t ts_native_thread_id;/* gettid(), 3.11+ */
	uint32_t ts_datastack_chunk; /* 3.11+ */
	uint32_t ts_datastack_top;   /* first free slot of the chunk, 3.11+ */
	uint32_t ts_status;          /* _status bitfield word, 3.12+ */
	uint32_t ts_state;           /* attached/detached, 3.13+ */
	uint32_t ts_asyncio_running_loop; /* _PyThreadStateImpl, 3.13+ */
	uint32_t ts_base_frame;      /* 3.15+: base_frame, a pointer to the
	                                thread's bottom frame (a sentinel in
	                                _PyThreadStateImpl): a chain read whole
	                                ends on it */

	/* _PyCFrame (3.11/3.12) */
	uint32_t cf_current_frame;

	/* _PyStackChunk (3.11+) */
	uint32_t chunk_previous;
	uint32_t chunk_size; /* bytes, header included */
	uint32_t chunk_top;  /* index into data[], in pointers */
	uint32_t chunk_data;

	/* PyFrameObject as the live chain (<=3.10) */
	uint32_t fo_size;    /* bytes worth reading: covers every field below */
	uint32_t fo_back;
	uint32_t fo_code;
	uint32_t fo_lasti;   /* int */
	uint32_t fo_state;   /* char: f_executing (3.8/3.9), f_state (3.10) */

	/* _PyInterpreterFrame (3.11+) */
	uint32_t if_size;
	uint32_t if_code;     /* f_code / f_executable (3.14+: a _PyStackRef,
	                         see if_code_tag_bits) */
	uint32_t if_previous;
	uint32_t if_instr;    /* prev_instr (3.11/3.12), instr_ptr (3.13+) */
	uint32_t if_owner;    /* char */
	uint32_t if_is_entry; /* 3.11 only */
	uint32_t if_code_tag_bits; /* low bits of if_code that are tags, not
	                              address: clear them before use (3.14+:
	                              Py_TAG_BITS; 0 before) */
	uint32_t owner_generator; /* FRAME_OWNED_BY_GENERATOR value */
	uint32_t owner_cstack;    /* FRAME_OWNED_BY_CSTACK value, 3.12-3.14 */
	uint32_t owner_interpreter; /* FRAME_OWNED_BY_INTERPRETER, 3.14+: it
	                               and every owner above it are not Python
	                               frames */

	/* PyCodeObject */
	uint32_t co_size;        /* bytes worth reading: covers every field */
	uint32_t co_filename;
	uint32_t co_name;
	uint32_t co_qualname;    /* 3.11+ */
	uint32_t co_firstlineno; /* int */
	uint32_t co_linetable;   /* co_lnotab (3.8/3.9) / co_linetable */
	uint32_t co_code;        /* bytes object of bytecode (<=3.10) */
	uint32_t co_firsttraceable; /* int, 3.11+ */
	uint32_t co_code_adaptive;  /* inline bytecode, 3.11+ */

	/* PyObject / PyVarObject / PyTypeObject / PyHeapTypeObject */
	uint32_t ob_refcnt;
	uint32_t ob_type;
	uint32_t ob_size;
	uint32_t tp_name;
	uint32_t tp_basicsize;
	uint32_t tp_flags;
	uint32_t tp_dictoffset;
	uint32_t ht_cached_keys;

	/* bytes */
	uint32_t bytes_size;
	uint32_t bytes_sval;

	/* str */
	uint32_t str_length;
	uint32_t str_state;
	uint32_t str_ascii_data;   /* sizeof(PyASCIIObject) */
	uint32_t str_compact_data; /* sizeof(PyCompactUnicodeObject) */
	uint32_t str_legacy_data;  /* PyUnicodeObject.data (a pointer) */

	/* int: ob_size (<=3.11) or lv_tag (3.12+), then 30-bit digits */
	uint32_t long_size;
	uint32_t long_digits;
	uint32_t long_tagged; /* 1 when long_size is 3.12's lv_tag */

	/* PyModuleObject */
	uint32_t mod_dict;

	/* dict: PyDictObject, PyDictKeysObject, PyDictValues */
	uint32_t dict_keys;
	uint32_t dict_values;
	uint32_t dk_size;            /* Py_ssize_t dk_size (<=3.10) */
	uint32_t dk_log2_size;       /* uint8_t (3.11+) */
	uint32_t dk_log2_index_bytes;/* uint8_t (3.11+) */
	uint32_t dk_kind;            /* uint8_t (3.11+), 0 = general entries */
	uint32_t dk_nentries;
	uint32_t dk_indices;
	uint32_t dv_values;          /* values[] inside PyDictValues */
	/* Instances whose dict the VM manages (3.11+): signed offsets from the
	 * object start, and the type flags that say which form applies. */
	int32_t obj_managed_dict;    /* PyDictObject* (3.11+) or
	                                dict-or-values tagged word (3.12) */
	int32_t obj_managed_values;  /* PyDictValues* (3.11 only) */
	uint32_t tpflags_managed_dict;  /* Py_TPFLAGS_MANAGED_DICT */
	uint32_t tpflags_inline_values; /* Py_TPFLAGS_INLINE_VALUES (3.13) */

	/* A frame's arguments and locals (dump --locals, reader/frame_locals.c) */
	uint32_t loc_fo_localsplus;   /* PyFrameObject.f_localsplus (<=3.10) */
	uint32_t loc_if_localsplus;   /* _PyInterpreterFrame.localsplus (3.11+):
	                                 _PyStackRefs from 3.14 (tagged like
	                                 if_code, see if_code_tag_bits) */
	uint32_t loc_co_nlocals;      /* int co_nlocals */
	uint32_t loc_co_nlocalsplus;  /* int co_nlocalsplus (3.11+) */
	uint32_t loc_co_varnames;     /* tuple of str (<=3.10) */
	uint32_t loc_co_cellvars;     /* tuple of str (<=3.10) */
	uint32_t loc_co_freevars;     /* tuple of str (<=3.10) */
	uint32_t loc_co_localsplusnames; /* tuple of str (3.11+) */
	uint32_t loc_co_localspluskinds; /* bytes, one CO_FAST_* per name (3.11+) */

	/* Values shown as locals (reader/pyrepr.c) */
	uint32_t val_tuple_items;     /* PyTupleObject.ob_item */
	uint32_t val_list_size;       /* PyListObject ob_size */
	uint32_t val_dict_used;       /* PyDictObject.ma_used */
	uint32_t val_set_used;        /* PySetObject.used */
	uint32_t val_float_fval;      /* PyFloatObject.ob_fval */
	uint32_t val_cell_ref;        /* PyCellObject.ob_ref */
};

/* The static table for 3.<minor>, or NULL if unsupported. */
const struct py_layout *pp_layout_for(int minor);

/* Supported minor versions, ascending, for messages and tests. */
extern const int pp_supported_minors[];
extern const size_t pp_n_supported_minors;

/* What pp_layout_apply_debug_offsets made of a block. */
enum pp_do_status {
	PP_DO_OK = 0,
	PP_DO_NONE,          /* no "xdebugpy" cookie */
	PP_DO_VERSION,       /* a version whose block pyprobe does not know */
	PP_DO_FREE_THREADED, /* a free-threaded build (other layouts) */
	PP_DO_SIZE,          /* a block of another size than the version's */
	PP_DO_BAD_VALUE,     /* an entry no real struct could have */
};

/* 3.13+: `block` is the first `len` bytes of _PyRuntime (starting with the
 * "xdebugpy" cookie). If it is the block of out->minor that pyprobe knows
 * (its shape, its size as the target's own offsets imply it, plausible
 * values), copy every offset it publishes over `out` (which starts as the
 * static table) and return PP_DO_OK. Otherwise `out` is unchanged, and
 * `why` (when not NULL) says in words what is wrong, to follow "process N
 * runs Python X: ". */
enum pp_do_status pp_layout_apply_debug_offsets(struct py_layout *out,
						const uint8_t *block, size_t len,
						char *why, size_t whylen);
/* Whether the debug-offsets block says the build is free-threaded
 * (python3.13t: no GIL, and other layouts): 1 yes, 0 no, -1 when `block`
 * is no debug-offsets block. */
int pp_debug_offsets_free_threaded(const uint8_t *block, size_t len);
/* The largest block of any version pyprobe knows: how much to read. */
size_t pp_debug_offsets_max_size(void);

#endif
