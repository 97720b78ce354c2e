/* The per-version layout tables against the real interpreters.
 *
 * For each supported minor version: compile tools/layout_probe.c against the
 * installed pyenv interpreter's headers, run it, and compare every field it
 * prints with pp_layout_for(minor). Then the 3.13 debug-offsets overlay on
 * the real .PyRuntime bytes of libpython3.13, and on broken blocks.
 */
#include <criterion/criterion.h>

#include "reader/layout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the field list (same order as reader/layout.h) ---- */

#include "tools/layout_fields.h"
#define N_FIELDS PP_N_LAYOUT_FIELDS


/* The field as the probe would print it: decimal, or "absent". */
static void field_text(const struct py_layout *l, size_t i, char *buf, size_t n)
{
	const unsigned char *base = (const unsigned char *)l;
	if (pp_layout_fields[i].is_signed) {
		int32_t v;
		memcpy(&v, base + pp_layout_fields[i].offset, sizeof v);
		snprintf(buf, n, "%ld", (long)v);
	} else {
		uint32_t v;
		memcpy(&v, base + pp_layout_fields[i].offset, sizeof v);
		if (v == PP_ABSENT)
			snprintf(buf, n, "absent");
		else
			snprintf(buf, n, "%lu", (unsigned long)v);
	}
}

/* ---- finding interpreters ---- */

static const char *versions_dir(char *buf, size_t n)
{
	const char *root = getenv("PYENV_ROOT");
	if (root && *root)
		snprintf(buf, n, "%s/versions", root);
	else
		snprintf(buf, n, "%s/.pyenv/versions",
			 getenv("HOME") ? getenv("HOME") : "/root");
	return buf;
}

/* The newest installed 3.<minor>.N with headers, as its prefix; 0 if none. */
static int find_prefix(int minor, char *prefix, size_t n, char *version, size_t vn)
{
	char dir[512];
	versions_dir(dir, sizeof dir);
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int best = -1;
	struct dirent *e;
	while ((e = readdir(d))) {
		int maj, mi, micro, used = 0;
		if (sscanf(e->d_name, "%d.%d.%d%n", &maj, &mi, &micro, &used) != 3 ||
		    e->d_name[used] != '\0' || maj != 3 || mi != minor || micro <= best)
			continue;
		char hdr[1024];
		snprintf(hdr, sizeof hdr, "%s/%s/include/python3.%d/Python.h", dir,
			 e->d_name, minor);
		if (access(hdr, R_OK) != 0)
			continue;
		best = micro;
	}
	closedir(d);
	if (best < 0)
		return 0;
	snprintf(version, vn, "3.%d.%d", minor, best);
	snprintf(prefix, n, "%s/%s", dir, version);
	return 1;
}

static int in_path(const char *prog)
{
	const char *path = getenv("PATH");
	if (!path)
		return 0;
	char *copy = strdup(path), *save = NULL;
	int found = 0;
	for (char *p = strtok_r(copy, ":", &save); p && !found;
	     p = strtok_r(NULL, ":", &save)) {
		char full[1024];
		snprintf(full, sizeof full, "%s/%s", p, prog);
		found = access(full, X_OK) == 0;
	}
	free(copy);
	return found;
}

/* ---- running things ---- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return strdup("");
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	char chunk[4096];
	size_t got;
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, got, mem);
	fclose(f);
	fclose(mem);
	return buf;
}

/* Runs argv with stdout/stderr captured (through files in `tmp`, so a
 * chatty child cannot block on a full pipe). Returns the exit status, or
 * -1 if it did not exit normally. */
static int run(char *const argv[], const char *tmp, char **out, char **err)
{
	char out_path[600], err_path[600];
	snprintf(out_path, sizeof out_path, "%s/stdout", tmp);
	snprintf(err_path, sizeof err_path, "%s/stderr", tmp);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (o < 0 || e < 0)
			_exit(126);
		dup2(o, STDOUT_FILENO);
		dup2(e, STDERR_FILENO);
		execvp(argv[0], argv);
		dprintf(STDERR_FILENO, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	cr_assert_gt(pid, 0, "fork: %s", strerror(errno));
	int status;
	waitpid(pid, &status, 0);
	*out = slurp(out_path);
	*err = slurp(err_path);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void remove_tmp(const char *tmp)
{
	const char *names[] = { "stdout", "stderr", "layout-probe" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char p[600];
		snprintf(p, sizeof p, "%s/%s", tmp, names[i]);
		unlink(p);
	}
	rmdir(tmp);
}

/* ---- the per-version check ---- */

static void check_version(int minor)
{
	char prefix[512], version[32];
	if (!find_prefix(minor, prefix, sizeof prefix, version, sizeof version)) {
		char dir[512];
		cr_skip_test("CPython 3.%d: no interpreter with headers under %s "
			     "(install 3.%d.x with pyenv to check its layout)",
			     minor, versions_dir(dir, sizeof dir), minor);
	}
	/* 3.8-3.10 keep some structs out of the installed headers; the probe
	 * takes those from DWARF with gdb. */
	if (minor <= 10 && !in_path("gdb"))
		cr_skip_test("CPython %s: gdb not found, needed for the fields "
			     "only libpython's DWARF has", version);

	const char *src = getenv("PYPROBE_SOURCE_ROOT");
	cr_assert_not_null(src, "PYPROBE_SOURCE_ROOT is not set (run via meson test)");
	const struct py_layout *table = pp_layout_for(minor);
	cr_assert_not_null(table, "no compiled-in table for 3.%d", minor);

	char tmp[] = "/tmp/pyprobe-test-layouts-XXXXXX";
	cr_assert_not_null(mkdtemp(tmp), "mkdtemp: %s", strerror(errno));

	char probe_src[1024], exe[1024], inc[768], internal[1024], libdef[1024];
	snprintf(probe_src, sizeof probe_src, "%s/tools/layout_probe.c", src);
	snprintf(exe, sizeof exe, "%s/layout-probe", tmp);
	snprintf(inc, sizeof inc, "%s/include/python3.%d", prefix, minor);
	snprintf(internal, sizeof internal, "%s/internal", inc);
	snprintf(libdef, sizeof libdef,
		 "-DPP_LIBPYTHON=\"%s/lib/libpython3.%d.so.1.0\"", prefix, minor);
	const char *cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";

	char *compile[] = { (char *)cc, "-std=c11", "-D_GNU_SOURCE",
			    "-DPy_BUILD_CORE", "-Wall", "-Wextra", "-Werror",
			    "-isystem", inc, "-isystem", internal, libdef,
			    probe_src, "-o", exe, NULL };
	char *out, *err;
	int rc = run(compile, tmp, &out, &err);
	if (rc != 0)
		remove_tmp(tmp);
	cr_assert_eq(rc, 0, "CPython %s: compiling the probe failed:\n%s", version, err);
	free(out);
	free(err);

	/* The headers against libpython's DWARF, member by member. */
	if (in_path("gdb")) {
		char *check[] = { exe, "--dwarf-check", NULL };
		rc = run(check, tmp, &out, &err);
		cr_expect_eq(rc, 0, "CPython %s: headers and DWARF disagree:\n%s%s",
			     version, out, err);
		free(out);
		free(err);
	} else {
		cr_log_warn("CPython %s: gdb not found, DWARF cross-check skipped",
			    version);
	}

	char *probe[] = { exe, NULL };
	rc = run(probe, tmp, &out, &err);
	remove_tmp(tmp);
	cr_assert_eq(rc, 0, "CPython %s: the probe failed:\n%s", version, err);

	/* Line i of the probe must be field i of the table, same name, same
	 * value: both the set and the order are part of the format. */
	size_t i = 0;
	char *save = NULL;
	for (char *line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), i++) {
		char name[64], value[32];
		cr_assert_eq(sscanf(line, "%63s %31s", name, value), 2,
			     "CPython %s: bad probe line '%s'", version, line);
		cr_assert_lt(i, N_FIELDS, "CPython %s: probe prints an extra field "
			     "'%s'", version, name);
		cr_assert_str_eq(name, pp_layout_fields[i].name,
				 "CPython %s: probe line %zu is %s, table field is %s",
				 version, i + 1, name, pp_layout_fields[i].name);
		char mine[32];
		field_text(table, i, mine, sizeof mine);
		cr_expect_str_eq(mine, value,
				 "CPython %s: %s is %s in reader/layouts.c but %s in the "
				 "headers (regenerate: tools/check-layouts --write)",
				 version, name, mine, value);
	}
	cr_assert_eq(i, N_FIELDS, "CPython %s: probe printed %zu fields, the "
		     "table has %zu", version, i, N_FIELDS);
	free(out);
	free(err);
}

Test(layouts, python3_8) { check_version(8); }
Test(layouts, python3_9) { check_version(9); }
Test(layouts, python3_10) { check_version(10); }
Test(layouts, python3_11) { check_version(11); }
Test(layouts, python3_12) { check_version(12); }
Test(layouts, python3_13) { check_version(13); }

Test(layouts, supported_minors)
{
	cr_assert_eq(pp_n_supported_minors, 6);
	for (size_t i = 0; i < pp_n_supported_minors; i++) {
		int m = pp_supported_minors[i];
		cr_assert_eq(m, 8 + (int)i);
		const struct py_layout *l = pp_layout_for(m);
		cr_assert_not_null(l);
		cr_assert_eq(l->minor, m);
	}
	cr_assert_null(pp_layout_for(7));
	cr_assert_null(pp_layout_for(14));
	cr_assert_null(pp_layout_for(-1));
}

/* ---- 3.13 _Py_DebugOffsets ---- */

/* The first `want` bytes of libpython3.13's .PyRuntime section (the static
 * initializer of _PyRuntime, which starts with the debug offsets). */
static uint8_t *read_pyruntime(const char *lib, size_t want, size_t *got)
{
	cr_assert_neq(elf_version(EV_CURRENT), EV_NONE);
	int fd = open(lib, O_RDONLY);
	cr_assert_geq(fd, 0, "open %s: %s", lib, strerror(errno));
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	cr_assert_not_null(elf, "%s: %s", lib, elf_errmsg(-1));
	size_t shstrndx;
	cr_assert_eq(elf_getshdrstrndx(elf, &shstrndx), 0);

	uint8_t *bytes = NULL;
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			continue;
		const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ".PyRuntime") != 0)
			continue;
		cr_assert_eq(sh.sh_type, SHT_PROGBITS, ".PyRuntime has no file bytes");
		Elf_Data *data = elf_getdata(scn, NULL);
		cr_assert_not_null(data);
		*got = data->d_size < want ? data->d_size : want;
		/* An exact-size copy, so ASan sees any read past `*got`. */
		bytes = malloc(*got);
		memcpy(bytes, data->d_buf, *got);
		break;
	}
	elf_end(elf);
	close(fd);
	cr_assert_not_null(bytes, "%s: no .PyRuntime section", lib);
	return bytes;
}

static uint8_t *real_block(size_t *len)
{
	char prefix[600], version[32], lib[700];
	if (!find_prefix(13, prefix, sizeof prefix, version, sizeof version))
		cr_skip_test("CPython 3.13 not installed: cannot read a real "
			     "_Py_DebugOffsets block");
	snprintf(lib, sizeof lib, "%s/lib/libpython3.13.so.1.0", prefix);
	if (access(lib, R_OK) != 0)
		cr_skip_test("CPython %s: no %s", version, lib);
	return read_pyruntime(lib, 4096, len);
}

static void put64(uint8_t *block, size_t at, uint64_t v)
{
	memcpy(block + at, &v, sizeof v);
}

static uint64_t get64(const uint8_t *block, size_t at)
{
	uint64_t v;
	memcpy(&v, block + at, sizeof v);
	return v;
}

static void expect_same_table(const struct py_layout *got,
			      const struct py_layout *want, const char *what)
{
	for (size_t i = 0; i < N_FIELDS; i++) {
		char a[32], b[32];
		field_text(got, i, a, sizeof a);
		field_text(want, i, b, sizeof b);
		cr_expect_str_eq(a, b, "%s: %s is %s, expected %s", what,
				 pp_layout_fields[i].name, a, b);
	}
	cr_assert_eq(memcmp(got, want, sizeof *got), 0, "%s: tables differ", what);
}

Test(debug_offsets, real_block_equals_static_table)
{
	size_t len;
	uint8_t *block = real_block(&len);
	cr_assert_geq(len, 584);
	cr_assert_eq(memcmp(block, "xdebugpy", 8), 0);

	struct py_layout l = *pp_layout_for(13);
	cr_assert_eq(pp_layout_apply_debug_offsets(&l, block, len), 0);
	expect_same_table(&l, pp_layout_for(13), "3.13 debug offsets");
	free(block);
}

/* 3.13t publishes free_threaded = 1: the reader refuses such a target
 * rather than read it with the default build's table. */
Test(debug_offsets, free_threaded_flag)
{
	size_t len;
	uint8_t *block = real_block(&len);
	cr_assert_eq(pp_debug_offsets_free_threaded(block, len), 0, "3.13.0 is a default build");
	put64(block, 16, 1);
	cr_assert_eq(pp_debug_offsets_free_threaded(block, len), 1);
	cr_assert_eq(pp_debug_offsets_free_threaded(block, 8), -1, "too short");
	block[0] = 'X';
	cr_assert_eq(pp_debug_offsets_free_threaded(block, len), -1, "no cookie");
	free(block);
}

/* A table that a successful apply would certainly change, to show that a
 * refused block leaves it alone. */
static struct py_layout marked_table(void)
{
	struct py_layout l = *pp_layout_for(13);
	l.ts_next = 1111;
	l.co_name = 2222;
	l.gil_locked = 3333;
	return l;
}

static void expect_refused(const uint8_t *block, size_t len, const char *what)
{
	/* Exact-size copy again, for ASan. */
	uint8_t *copy = malloc(len ? len : 1);
	memcpy(copy, block, len);
	struct py_layout l = marked_table(), before = l;
	cr_expect_eq(pp_layout_apply_debug_offsets(&l, copy, len), -1,
		     "%s: accepted", what);
	cr_expect_eq(memcmp(&l, &before, sizeof l), 0, "%s: table changed", what);
	free(copy);
}

Test(debug_offsets, refuses_bad_blocks)
{
	size_t len;
	uint8_t *block = real_block(&len);
	char what[64];

	/* Every truncation of the block, down to nothing. */
	for (size_t n = 0; n < 584; n++) {
		snprintf(what, sizeof what, "block cut to %zu bytes", n);
		expect_refused(block, n, what);
	}

	uint8_t *bad = malloc(len);

	memcpy(bad, block, len);
	bad[0] = 'X';
	expect_refused(bad, len, "corrupted cookie");

	memcpy(bad, block, len);
	put64(bad, 8, 0x030e00f0); /* 3.14: a different block layout */
	expect_refused(bad, len, "3.14 version");

	memcpy(bad, block, len);
	put64(bad, 8, 0x020d00f0);
	expect_refused(bad, len, "major version 2");

	memcpy(bad, block, len);
	put64(bad, 16, 1);
	expect_refused(bad, len, "free-threaded build");

	memcpy(bad, block, len);
	put64(bad, 40, get64(block, 24)); /* interpreters_head at runtime size */
	expect_refused(bad, len, "offset past its struct");

	memcpy(bad, block, len);
	put64(bad, 152, 1ull << 40); /* thread_state.size */
	expect_refused(bad, len, "absurd struct size");

	memcpy(bad, block, len);
	put64(bad, 144, get64(block, 120) - 8); /* GIL holder before the GIL */
	expect_refused(bad, len, "GIL holder outside the GIL struct");

	/* A 3.13 block against a table of another version. */
	struct py_layout other = *pp_layout_for(12), before = other;
	cr_expect_eq(pp_layout_apply_debug_offsets(&other, block, len), -1);
	cr_expect_eq(memcmp(&other, &before, sizeof other), 0);

	free(bad);
	free(block);
}

Test(debug_offsets, published_values_win)
{
	size_t len;
	uint8_t *block = real_block(&len);

	/* Move a few fields, as a patch release might. */
	put64(block, 192, 144);             /* thread_state.thread_id */
	put64(block, 288, 104);             /* code_object.name */
	put64(block, 136, get64(block, 120) + 24); /* GIL locked, in the struct */
	struct py_layout l = *pp_layout_for(13);
	cr_assert_eq(pp_layout_apply_debug_offsets(&l, block, len), 0);
	cr_expect_eq(l.ts_thread_id, 144);
	cr_expect_eq(l.co_name, 104);
	cr_expect_eq(l.gil_locked, 24);
	cr_expect_eq(l.ts_asyncio_running_loop, pp_layout_for(13)->ts_asyncio_running_loop);

	/* A bigger PyThreadState means the static _PyThreadStateImpl idea is
	 * stale: no running-loop offset rather than a wrong one. */
	put64(block, 152, get64(block, 152) + 16);
	l = *pp_layout_for(13);
	cr_assert_eq(pp_layout_apply_debug_offsets(&l, block, len), 0);
	cr_expect_eq(l.ts_asyncio_running_loop, PP_ABSENT);
	cr_expect_eq(l.ts_size, (uint32_t)get64(block, 152));
	free(block);
}
