/* Every field of struct py_layout, by name, in declaration order: for the
 * tools and tests that print or compare whole tables (print-layout, the
 * layouts test). All fields are 4 bytes wide, so a field added to
 * reader/layout.h but not here fails the size assertion. */
#ifndef PYPROBE_TOOLS_LAYOUT_FIELDS_H
#define PYPROBE_TOOLS_LAYOUT_FIELDS_H

#include <stddef.h>

#include "../reader/layout.h"

struct pp_layout_field {
	const char *name;
	size_t offset;
	int is_signed; /* int32_t, 0 = absent; the rest uint32_t, PP_ABSENT */
};

#define U(name) { #name, offsetof(struct py_layout, name), 0 }
#define S(name) { #name, offsetof(struct py_layout, name), 1 }
static const struct pp_layout_field pp_layout_fields[] = {
	S(minor),
	U(rt_interpreters_head), U(rt_main_thread), U(rt_gil), U(rt_finalizing),
	U(do_size),
	U(is_next), U(is_threads_head), U(is_id), U(is_ceval_gil), U(is_modules),
	U(gil_last_holder), U(gil_locked), U(gil_size),
	U(ts_size), U(ts_next), U(ts_interp), U(ts_frame), U(ts_thread_id),
	U(ts_native_thread_id), U(ts_datastack_chunk), U(ts_datastack_top), U(ts_status), U(ts_state),
	U(ts_asyncio_running_loop), U(ts_base_frame),
	U(cf_current_frame),
	U(chunk_previous), U(chunk_size), U(chunk_top), U(chunk_data),
	U(fo_size), U(fo_back), U(fo_code), U(fo_lasti), U(fo_state),
	U(if_size), U(if_code), U(if_previous), U(if_instr), U(if_owner),
	U(if_is_entry), U(if_code_tag_bits), U(owner_generator), U(owner_cstack),
	U(owner_interpreter),
	U(co_size), U(co_filename), U(co_name), U(co_qualname), U(co_firstlineno),
	U(co_linetable), U(co_code), U(co_firsttraceable), U(co_code_adaptive),
	U(ob_refcnt), U(ob_type), U(ob_size), U(tp_name), U(tp_basicsize),
	U(tp_flags), U(tp_dictoffset), U(ht_cached_keys),
	U(bytes_size), U(bytes_sval),
	U(str_length), U(str_state), U(str_ascii_data), U(str_compact_data),
	U(str_legacy_data),
	U(long_size), U(long_digits), U(long_tagged),
	U(mod_dict),
	U(dict_keys), U(dict_values), U(dk_size), U(dk_log2_size),
	U(dk_log2_index_bytes), U(dk_kind), U(dk_nentries), U(dk_indices),
	U(dv_values),
	S(obj_managed_dict), S(obj_managed_values),
	U(tpflags_managed_dict), U(tpflags_inline_values),
	U(loc_fo_localsplus), U(loc_if_localsplus), U(loc_co_nlocals),
	U(loc_co_nlocalsplus), U(loc_co_varnames), U(loc_co_cellvars),
	U(loc_co_freevars), U(loc_co_localsplusnames), U(loc_co_localspluskinds),
	U(val_tuple_items), U(val_list_size), U(val_dict_used), U(val_set_used),
	U(val_float_fval), U(val_cell_ref),
};
#undef U
#undef S

#define PP_N_LAYOUT_FIELDS (sizeof pp_layout_fields / sizeof pp_layout_fields[0])

_Static_assert(sizeof(struct py_layout) == 4 * PP_N_LAYOUT_FIELDS,
	       "tools/layout_fields.h: field list out of step with reader/layout.h");

#endif
