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
