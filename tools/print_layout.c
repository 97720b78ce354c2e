/* print-layout: print pyprobe's compiled-in struct py_layout for one minor
 * version, in exactly the format of tools/layout_probe.c ("name value",
 * "absent" for PP_ABSENT), so tools/check-layouts can diff the two.
 *
 *   print-layout 11
 */
#include "layout.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every struct py_layout field in declaration order. The probe prints the
 * same names in the same order; the assertion below catches a field added
 * to layout.h but not here. */
#define U(name) { #name, offsetof(struct py_layout, name), 0 }
#define S(name) { #name, offsetof(struct py_layout, name), 1 }
static const struct {
	const char *name;
	size_t offset;
	int is_signed; /* int32_t, 0 = absent */
} fields[] = {
	S(minor),
	U(rt_interpreters_head), U(rt_main_thread), U(rt_gil),
	U(is_next), U(is_threads_head), U(is_id), U(is_ceval_gil), U(is_modules),
	U(gil_last_holder), U(gil_locked), U(gil_size),
	U(ts_size), U(ts_next), U(ts_interp), U(ts_frame), U(ts_thread_id),
	U(ts_native_thread_id), U(ts_datastack_chunk), U(ts_datastack_top), U(ts_status), U(ts_state),
	U(ts_asyncio_running_loop),
	U(cf_current_frame),
	U(chunk_previous), U(chunk_size), U(chunk_top), U(chunk_data),
	U(fo_size), U(fo_back), U(fo_code), U(fo_lasti), U(fo_state),
	U(if_size), U(if_code), U(if_previous), U(if_instr), U(if_owner),
	U(if_is_entry), U(owner_generator), U(owner_cstack),
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
};

/* All fields are 4 bytes wide, so a field missing from the list above shows
 * up as a size difference. */
_Static_assert(sizeof(struct py_layout) == 4 * sizeof fields / sizeof fields[0],
	       "tools/print_layout.c: field list out of step with reader/layout.h");

static void print_table(const struct py_layout *l)
{
	const unsigned char *base = (const unsigned char *)l;

	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		if (fields[i].is_signed) {
			int32_t v;
			memcpy(&v, base + fields[i].offset, sizeof v);
			printf("%s %ld\n", fields[i].name, (long)v);
		} else {
			uint32_t v;
			memcpy(&v, base + fields[i].offset, sizeof v);
			if (v == PP_ABSENT)
				printf("%s absent\n", fields[i].name);
			else
				printf("%s %lu\n", fields[i].name, (unsigned long)v);
		}
	}
}

static int usage(FILE *to)
{
	fprintf(to, "usage: print-layout MINOR   (one of");
	for (size_t i = 0; i < pp_n_supported_minors; i++)
		fprintf(to, " %d", pp_supported_minors[i]);
	fprintf(to, ")\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return usage(stdout), 0;
	if (argc != 2)
		return usage(stderr);

	char *end;
	long minor = strtol(argv[1], &end, 10);
	/* Accept "11" and "3.11". */
	if (end != argv[1] && *end == '.' && minor == 3)
		minor = strtol(end + 1, &end, 10);
	if (*argv[1] == '\0' || *end != '\0')
		return usage(stderr);

	const struct py_layout *l = pp_layout_for((int)minor);
	if (!l) {
		fprintf(stderr, "print-layout: no table for 3.%ld\n", minor);
		return usage(stderr);
	}
	print_table(l);
	return 0;
}
