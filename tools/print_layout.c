/* print-layout: print pyprobe's compiled-in struct py_layout for one minor
 * version, in exactly the format of tools/layout_probe.c ("name value",
 * "absent" for PP_ABSENT), so tools/check-layouts can diff the two.
 *
 *   print-layout 11
 *   print-layout --debug-offsets /usr/bin/python3.14 14
 *
 * With --debug-offsets, the table is first overlaid with the
 * _Py_DebugOffsets block of that interpreter file (its .PyRuntime section,
 * the static initializer of _PyRuntime), as pyprobe does with a running
 * target: what pyprobe would read that build with. Exit 1 if pyprobe
 * would refuse the block.
 */
#include "elf_symbols.h"
#include "layout.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout_fields.h"


static void print_table(const struct py_layout *l)
{
	const unsigned char *base = (const unsigned char *)l;

	for (size_t i = 0; i < PP_N_LAYOUT_FIELDS; i++) {
		if (pp_layout_fields[i].is_signed) {
			int32_t v;
			memcpy(&v, base + pp_layout_fields[i].offset, sizeof v);
			printf("%s %ld\n", pp_layout_fields[i].name, (long)v);
		} else {
			uint32_t v;
			memcpy(&v, base + pp_layout_fields[i].offset, sizeof v);
			if (v == PP_ABSENT)
				printf("%s absent\n", pp_layout_fields[i].name);
			else
				printf("%s %lu\n", pp_layout_fields[i].name, (unsigned long)v);
		}
	}
}

static int usage(FILE *to)
{
	fprintf(to, "usage: print-layout [--debug-offsets ELF] MINOR   (one of");
	for (size_t i = 0; i < pp_n_supported_minors; i++)
		fprintf(to, " %d", pp_supported_minors[i]);
	fprintf(to, ")\n");
	return 2;
}

/* Overlay `l` with the debug offsets in `path`'s .PyRuntime section. */
static int apply_file(struct py_layout *l, const char *path)
{
	struct pp_elf *e;
	int rc = pp_elf_open(path, &e);
	if (rc) {
		fprintf(stderr, "print-layout: cannot open %s: %s\n", path, strerror(-rc));
		return -1;
	}
	uint64_t addr, size;
	uint8_t block[2048];
	size_t want = pp_debug_offsets_max_size();
	rc = pp_elf_section(e, ".PyRuntime", &addr, &size);
	if (rc == 0) {
		want = want < size ? want : size;
		want = want < sizeof block ? want : sizeof block;
		rc = pp_elf_section_bytes(e, ".PyRuntime", block, want);
		if (rc >= 0) {
			want = (size_t)rc;
			rc = 0;
		}
	}
	pp_elf_close(e);
	if (rc) {
		fprintf(stderr, "print-layout: %s: no .PyRuntime section to read\n", path);
		return -1;
	}
	char why[200];
	if (pp_layout_apply_debug_offsets(l, block, want, why, sizeof why) != PP_DO_OK) {
		fprintf(stderr, "print-layout: %s: pyprobe refuses it: %s\n", path, why);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *block_file = NULL;
	if (argc == 4 && !strcmp(argv[1], "--debug-offsets")) {
		block_file = argv[2];
		argv += 2;
		argc -= 2;
	}
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
	struct py_layout mine = *l;
	if (block_file && apply_file(&mine, block_file) != 0)
		return 1;
	print_table(&mine);
	return 0;
}
