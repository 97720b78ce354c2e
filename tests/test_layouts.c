/* The per-version layout tables against the real interpreters.
 *
 * For each build: compile tools/layout_probe.c against its headers, run it,
 * check its header values against its DWARF, and compare every field it
 * prints with what pyprobe reads that build with: pp_layout_for(minor) for
 * the build the table comes from (pyenv's 3.8-3.13, Debian sid's 3.14 and
 * 3.15), and - from 3.13 - the table overlaid with the build's own
 * _Py_DebugOffsets (from the .PyRuntime section of the interpreter the
 * tests run), which is also how Debian's 3.13.18 and the debug builds
 * python3.14d/3.15d are checked. Then the debug-offsets overlay on the real
 * blocks of 3.13, 3.14 and 3.15, and on broken, patched and unknown ones.
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

#include "support.h"
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
	const char *names[] = { "stdout", "stderr", "layout-probe",
				"x86_64-linux-gnu" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char p[600];
		snprintf(p, sizeof p, "%s/%s", tmp, names[i]);
		unlink(p);
	}
	rmdir(tmp);
}

/* ---- reading an interpreter file ---- */

/* The first `want` bytes of an ELF file's .PyRuntime section (the static
 * initializer of _PyRuntime, which starts with the debug offsets), in an
 * exact-size heap copy so ASan sees any read past `*got`; NULL if the file
 * has none. */
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
		bytes = malloc(*got);
		memcpy(bytes, data->d_buf, *got);
		break;
	}
	elf_end(elf);
	close(fd);
	return bytes;
}

/* The GNU build id of an ELF file as hex, into `out`; 0 if it has none. */
static int build_id(const char *path, char *out, size_t n)
{
	cr_assert_neq(elf_version(EV_CURRENT), EV_NONE);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	int found = 0;
	Elf_Scn *scn = NULL;
	while (elf && !found && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		Elf_Data *data = elf_getdata(scn, NULL);
		size_t off = 0, name_off, desc_off;
		GElf_Nhdr nh;
		while (data && (off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
			if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
			    memcmp((char *)data->d_buf + name_off, "GNU", 4) != 0)
				continue;
			const unsigned char *d = (const unsigned char *)data->d_buf + desc_off;
			if (2 * nh.n_descsz + 1 > n)
				break;
			for (size_t i = 0; i < nh.n_descsz; i++)
				snprintf(out + 2 * i, 3, "%02x", d[i]);
			found = 1;
			break;
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return found;
}

/* ---- the builds ---- */

/* One interpreter build to check: its headers (and for Debian's, the
 * directory its pyconfig.h includes from, and the debug build's pyconfig.h
 * to put first), the file with its DWARF, and the interpreter file whose
 * debug offsets pyprobe would read (3.13+). */
struct build {
	char label[64];
	int minor;
	char inc[PATH_MAX];
	char pyconfig[PATH_MAX + 64];
	char arch[PATH_MAX];
	char dwarf[PATH_MAX + 128];
	char runtime_elf[PATH_MAX + 256];
	bool table_source; /* reader/layouts.c's table for its minor comes from it */
};

static void pyenv_build(int minor, struct build *b)
{
	char prefix[512], version[32];
	if (!find_prefix(minor, prefix, sizeof prefix, version, sizeof version)) {
		char dir[512];
		cr_skip_test("CPython 3.%d: no interpreter with headers under %s "
			     "(install 3.%d.x with pyenv to check its layout)",
			     minor, versions_dir(dir, sizeof dir), minor);
	}
	memset(b, 0, sizeof *b);
	snprintf(b->label, sizeof b->label, "%s", version);
	b->minor = minor;
	snprintf(b->inc, sizeof b->inc, "%s/include/python3.%d", prefix, minor);
	snprintf(b->dwarf, sizeof b->dwarf, "%s/lib/libpython3.%d.so.1.0", prefix, minor);
	if (minor >= 13)
		snprintf(b->runtime_elf, sizeof b->runtime_elf, "%s", b->dwarf);
	b->table_source = minor <= 13;
}

/* Debian's build in the sid root: "3.14", or "3.14d" for python3.14-dbg. */
static void sid_build(int minor, bool debug, struct build *b)
{
	const char *root = ts_sid_root();
	const char *d = debug ? "d" : "";
	memset(b, 0, sizeof *b);
	b->minor = minor;
	snprintf(b->inc, sizeof b->inc, "%s/usr/include/python3.%d", root, minor);
	snprintf(b->arch, sizeof b->arch, "%s/usr/include/x86_64-linux-gnu", root);
	snprintf(b->pyconfig, sizeof b->pyconfig, "%s/python3.%d%s/pyconfig.h", b->arch,
		 minor, d);
	snprintf(b->runtime_elf, sizeof b->runtime_elf, "%s/usr/bin/python3.%d%s", root,
		 minor, d);
	char patchlevel[PATH_MAX + 32];
	snprintf(patchlevel, sizeof patchlevel, "%s/patchlevel.h", b->inc);
	const char *pkg = debug ? "python3.X-dbg" : "libpython3.X-dev";
	if (access(patchlevel, R_OK) != 0 || access(b->pyconfig, R_OK) != 0 ||
	    access(b->runtime_elf, R_OK) != 0)
		cr_skip_test("Debian 3.%d%s: no headers or interpreter in the sid root %s "
			     "(tools/install-deps builds it; %s)", minor, d, root, pkg);
	char text[65536];
	ts_read_file(patchlevel, text, sizeof text);
	const char *v = strstr(text, "#define PY_VERSION");
	char version[32] = "?";
	if (v)
		sscanf(v, "#define PY_VERSION \"%31[^\"]\"", version);
	snprintf(b->label, sizeof b->label, "%s%s (Debian sid)", version, d);
	char lib[PATH_MAX];
	snprintf(lib, sizeof lib, "%s/usr/lib/x86_64-linux-gnu/libpython3.%d%s.so.1.0",
		 root, minor, d);
	if (debug) {
		snprintf(b->dwarf, sizeof b->dwarf, "%s", lib);
	} else {
		/* The default build is stripped; python3.X-dbg ships its DWARF. */
		char id[128];
		if (build_id(lib, id, sizeof id))
			snprintf(b->dwarf, sizeof b->dwarf, "%s/usr/lib/debug/.build-id/%.2s/%s.debug",
				 root, id, id + 2);
		if (access(b->dwarf, R_OK) != 0)
			b->dwarf[0] = '\0';
	}
	b->table_source = !debug && minor >= 14;
}

/* The table pyprobe would read the build with, into `out`: the static one,
 * overlaid with the build's own debug offsets when it has them. */
static void table_for(const struct build *b, bool with_block, struct py_layout *out)
{
	const struct py_layout *table = pp_layout_for(b->minor);
	cr_assert_not_null(table, "no compiled-in table for 3.%d", b->minor);
	*out = *table;
	if (!with_block)
		return;
	size_t len = 0;
	uint8_t *block = read_pyruntime(b->runtime_elf, 4096, &len);
	cr_assert_not_null(block, "%s: %s has no .PyRuntime section", b->label, b->runtime_elf);
	char why[200];
	enum pp_do_status st = pp_layout_apply_debug_offsets(out, block, len, why, sizeof why);
	free(block);
	cr_assert_eq(st, PP_DO_OK, "%s: pyprobe refuses the debug offsets of %s: %s",
		     b->label, b->runtime_elf, why);
}

/* The probe's output must be the table, field for field: line i is field i,
 * same name, same value (both the set and the order are the format). */
static void compare_probe(const struct build *b, const char *probe_out,
			  const struct py_layout *table, const char *which)
{
	char *copy = strdup(probe_out), *save = NULL;
	size_t i = 0;
	for (char *line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), i++) {
		char name[64], value[32];
		cr_assert_eq(sscanf(line, "%63s %31s", name, value), 2,
			     "%s: bad probe line '%s'", b->label, line);
		cr_assert_lt(i, N_FIELDS, "%s: probe prints an extra field '%s'",
			     b->label, name);
		cr_assert_str_eq(name, pp_layout_fields[i].name,
				 "%s: probe line %zu is %s, table field is %s",
				 b->label, i + 1, name, pp_layout_fields[i].name);
		char mine[32];
		field_text(table, i, mine, sizeof mine);
		cr_expect_str_eq(mine, value,
				 "%s: %s is %s in %s but %s in the headers "
				 "(regenerate: tools/check-layouts --write)",
				 b->label, name, mine, which, value);
	}
	cr_assert_eq(i, N_FIELDS, "%s: probe printed %zu fields, the table has %zu",
		     b->label, i, N_FIELDS);
	free(copy);
}

static void check_build(const struct build *b)
{
	/* 3.8-3.10 keep some structs out of the installed headers; the probe
	 * takes those from DWARF with gdb. */
	if (b->minor <= 10 && !in_path("gdb"))
		cr_skip_test("CPython %s: gdb not found, needed for the fields "
			     "only libpython's DWARF has", b->label);

	const char *src = getenv("PYPROBE_SOURCE_ROOT");
	cr_assert_not_null(src, "PYPROBE_SOURCE_ROOT is not set (run via meson test)");

	char tmp[] = "/tmp/pyprobe-test-layouts-XXXXXX";
	cr_assert_not_null(mkdtemp(tmp), "mkdtemp: %s", strerror(errno));

	char probe_src[1024], exe[1024], internal[PATH_MAX + 16], libdef[PATH_MAX + 256];
	snprintf(probe_src, sizeof probe_src, "%s/tools/layout_probe.c", src);
	snprintf(exe, sizeof exe, "%s/layout-probe", tmp);
	snprintf(internal, sizeof internal, "%s/internal", b->inc);
	snprintf(libdef, sizeof libdef, "-DPP_LIBPYTHON=\"%s\"", b->dwarf);
	const char *cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";

	char *compile[24];
	int n = 0;
	const char *fixed[] = { cc, "-std=c11", "-D_GNU_SOURCE", "-DPy_BUILD_CORE",
				"-Wall", "-Wextra", "-Werror" };
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		compile[n++] = (char *)fixed[i];
	if (b->pyconfig[0]) {
		/* Debian's pyconfig.h includes <x86_64-linux-gnu/python3.X/
		 * pyconfig.h>: give the compiler that directory alone, not the
		 * root's libc headers; the build's own pyconfig.h first, so that
		 * its include guard keeps any other out. */
		char link[600];
		snprintf(link, sizeof link, "%s/x86_64-linux-gnu", tmp);
		cr_assert_eq(symlink(b->arch, link), 0, "symlink: %s", strerror(errno));
		compile[n++] = "-include";
		compile[n++] = (char *)b->pyconfig;
		compile[n++] = "-isystem";
		compile[n++] = tmp;
	}
	compile[n++] = "-isystem";
	compile[n++] = (char *)b->inc;
	compile[n++] = "-isystem";
	compile[n++] = internal;
	if (b->dwarf[0])
		compile[n++] = libdef;
	compile[n++] = probe_src;
	compile[n++] = "-o";
	compile[n++] = exe;
	compile[n] = NULL;
	char *out, *err;
	int rc = run(compile, tmp, &out, &err);
	if (rc != 0)
		remove_tmp(tmp);
	cr_assert_eq(rc, 0, "%s: compiling the probe failed:\n%s", b->label, err);
	free(out);
	free(err);

	/* The headers against the build's DWARF, member by member. */
	if (!b->dwarf[0]) {
		/* Debian ships 3.13's in python3.13-dbg, which the sid root does
		 * not need: its table is pyenv 3.13.0's, checked with DWARF. A
		 * warning would make Criterion exit 1. */
		cr_log_info("%s: no debug symbols (python3.%d-dbg), DWARF cross-check "
			    "skipped", b->label, b->minor);
	} else if (in_path("gdb")) {
		char *check[] = { exe, "--dwarf-check", NULL };
		rc = run(check, tmp, &out, &err);
		cr_expect_eq(rc, 0, "%s: headers and DWARF disagree:\n%s%s", b->label, out, err);
		free(out);
		free(err);
	} else {
		cr_log_warn("%s: gdb not found, DWARF cross-check skipped", b->label);
	}

	char *probe[] = { exe, NULL };
	rc = run(probe, tmp, &out, &err);
	remove_tmp(tmp);
	cr_assert_eq(rc, 0, "%s: the probe failed:\n%s", b->label, err);
	free(err);

	struct py_layout l;
	if (b->table_source) {
		table_for(b, false, &l);
		compare_probe(b, out, &l, "reader/layouts.c");
	}
	if (b->runtime_elf[0]) {
		table_for(b, true, &l);
		compare_probe(b, out, &l, "the table with the build's debug offsets");
	}
	free(out);
}

static void check_pyenv(int minor)
{
	struct build b;
	pyenv_build(minor, &b);
	check_build(&b);
}

static void check_sid(int minor, bool debug)
{
	struct build b;
	sid_build(minor, debug, &b);
	check_build(&b);
}

Test(layouts, python3_8) { check_pyenv(8); }
Test(layouts, python3_9) { check_pyenv(9); }
Test(layouts, python3_10) { check_pyenv(10); }
Test(layouts, python3_11) { check_pyenv(11); }
Test(layouts, python3_12) { check_pyenv(12); }
Test(layouts, python3_13) { check_pyenv(13); }
/* 3.13.18's PyThreadState is 8 bytes longer than 3.13.0's: read right only
 * through its debug offsets. */
Test(layouts, sid_python3_13) { check_sid(13, false); }
Test(layouts, sid_python3_14) { check_sid(14, false); }
Test(layouts, sid_python3_15) { check_sid(15, false); }
/* Debug builds (Py_DEBUG): pyprobe reads them with the same table. */
Test(layouts, sid_python3_14d) { check_sid(14, true); }
Test(layouts, sid_python3_15d) { check_sid(15, true); }

Test(layouts, supported_minors)
{
	cr_assert_eq(pp_n_supported_minors, 8);
	for (size_t i = 0; i < pp_n_supported_minors; i++) {
		int m = pp_supported_minors[i];
		cr_assert_eq(m, 8 + (int)i);
		const struct py_layout *l = pp_layout_for(m);
		cr_assert_not_null(l);
		cr_assert_eq(l->minor, m);
		/* The versions with debug offsets say how big their block is. */
		cr_assert_eq(l->do_size == PP_ABSENT, m < 13, "3.%d do_size", m);
	}
	cr_assert_null(pp_layout_for(7));
	cr_assert_null(pp_layout_for(16));
	cr_assert_null(pp_layout_for(-1));
	cr_assert_geq(pp_debug_offsets_max_size(), pp_layout_for(15)->do_size);
}

/* ---- _Py_DebugOffsets ---- */

/* A real block: pyenv's 3.13.0 libpython, or the sid root's interpreter
 * ("3.13", "3.14", "3.15", "3.14d"). */
static uint8_t *real_block(const char *which, size_t *len)
{
	char path[PATH_MAX];
	if (!strcmp(which, "pyenv-3.13")) {
		char prefix[600], version[32];
		if (!find_prefix(13, prefix, sizeof prefix, version, sizeof version))
			cr_skip_test("CPython 3.13 not installed: cannot read a real "
				     "_Py_DebugOffsets block");
		snprintf(path, sizeof path, "%s/lib/libpython3.13.so.1.0", prefix);
	} else {
		snprintf(path, sizeof path, "%s/usr/bin/python%s", ts_sid_root(), which);
	}
	if (access(path, R_OK) != 0)
		cr_skip_test("no %s (tools/install-deps builds the sid root)", path);
	uint8_t *block = read_pyruntime(path, 4096, len);
	cr_assert_not_null(block, "%s: no .PyRuntime section", path);
	return block;
}

static int minor_of(const char *which)
{
	const char *dot = strrchr(which, '.');
	return dot ? atoi(dot + 1) : -1;
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

/* Where some entries sit in each version's block (from its header:
 * offsetof(_Py_DebugOffsets, ...)), for the tests that patch them. */
struct positions {
	size_t rt_finalizing, rt_size, rt_interpreters_head, is_gil, is_gil_locked,
		is_gil_holder, ts_size, ts_thread_id, co_name;
};

static struct positions positions_of(int minor)
{
	switch (minor) {
	case 13:
		return (struct positions){32, 24, 40, 120, 136, 144, 152, 192, 288};
	case 14:
		return (struct positions){32, 24, 40, 128, 144, 152, 176, 216, 328};
	case 15:
		return (struct positions){32, 24, 40, 128, 144, 152, 176, 240, 392};
	}
	cr_assert_fail("no positions for 3.%d", minor);
	return (struct positions){0};
}

/* The real block of a default build gives back exactly the static table
 * (except 3.13.18's longer thread state). */
static void real_equals_static(const char *which)
{
	size_t len;
	uint8_t *block = real_block(which, &len);
	int minor = minor_of(which);
	const struct py_layout *table = pp_layout_for(minor);
	cr_assert_geq(len, table->do_size);
	cr_assert_eq(memcmp(block, "xdebugpy", 8), 0);
	cr_assert_eq(get64(block, 8) >> 16, 0x0300u | (unsigned)minor);

	struct py_layout l = *table;
	char why[200];
	cr_assert_eq(pp_layout_apply_debug_offsets(&l, block, len, why, sizeof why),
		     PP_DO_OK, "%s: %s", which, why);
	struct py_layout want = *table;
	if (!strcmp(which, "3.13")) {
		/* 3.13.18 added datastack_cached_chunk at the end of
		 * PyThreadState; the _PyThreadStateImpl members move with it. */
		want.ts_size += 8;
		want.ts_asyncio_running_loop += 8;
	}
	expect_same_table(&l, &want, which);
	free(block);
}

Test(debug_offsets, real_block_3_13_0) { real_equals_static("pyenv-3.13"); }
Test(debug_offsets, real_block_sid_3_13_18) { real_equals_static("3.13"); }
Test(debug_offsets, real_block_sid_3_14) { real_equals_static("3.14"); }
Test(debug_offsets, real_block_sid_3_15) { real_equals_static("3.15"); }
/* Debug builds publish bigger runtime and interpreter structs, and
 * nothing pyprobe reads moves. */
Test(debug_offsets, real_block_sid_3_14d) { real_equals_static("3.14d"); }
Test(debug_offsets, real_block_sid_3_15d) { real_equals_static("3.15d"); }

/* A free-threaded build publishes free_threaded = 1: the reader refuses such
 * a target rather than read it with the default build's table (Debian ships
 * no free-threaded build to try; the flag is what tells them apart). */
static void free_threaded(const char *which)
{
	size_t len;
	uint8_t *block = real_block(which, &len);
	cr_assert_eq(pp_debug_offsets_free_threaded(block, len), 0, "%s is a default build", which);
	put64(block, 16, 1);
	cr_assert_eq(pp_debug_offsets_free_threaded(block, len), 1);
	struct py_layout l = *pp_layout_for(minor_of(which));
	char why[200];
	cr_assert_eq(pp_layout_apply_debug_offsets(&l, block, len, why, sizeof why),
		     PP_DO_FREE_THREADED);
	cr_assert(strstr(why, "free-threaded"), "%s", why);
	cr_assert_eq(pp_debug_offsets_free_threaded(block, 8), -1, "too short");
	block[0] = 'X';
	cr_assert_eq(pp_debug_offsets_free_threaded(block, len), -1, "no cookie");
	free(block);
}

Test(debug_offsets, free_threaded_flag_3_13) { free_threaded("pyenv-3.13"); }
Test(debug_offsets, free_threaded_flag_3_14) { free_threaded("3.14"); }
Test(debug_offsets, free_threaded_flag_3_15) { free_threaded("3.15"); }

/* A table that a successful apply would certainly change, to show that a
 * refused block leaves it alone. */
static struct py_layout marked_table(int minor)
{
	struct py_layout l = *pp_layout_for(minor);
	l.ts_next = 1111;
	l.co_name = 2222;
	l.gil_locked = 3333;
	return l;
}

/* Refused with `want`, the table untouched, and the reason names `word`. */
static void expect_refused_as(int minor, const uint8_t *block, size_t len,
			      enum pp_do_status want, const char *word, const char *what)
{
	/* Exact-size copy again, for ASan. */
	uint8_t *copy = malloc(len ? len : 1);
	memcpy(copy, block, len);
	struct py_layout l = marked_table(minor), before = l;
	char why[200] = "";
	enum pp_do_status st = pp_layout_apply_debug_offsets(&l, copy, len, why, sizeof why);
	cr_expect_neq(st, PP_DO_OK, "3.%d, %s: accepted", minor, what);
	if (want != PP_DO_OK)
		cr_expect_eq(st, want, "3.%d, %s: status %d, want %d (%s)", minor, what,
			     st, want, why);
	if (word)
		cr_expect(strstr(why, word), "3.%d, %s: the reason does not say '%s': %s",
			  minor, what, word, why);
	cr_expect_eq(memcmp(&l, &before, sizeof l), 0, "3.%d, %s: table changed", minor, what);
	free(copy);
}

static void refuses_bad_blocks(const char *which)
{
	size_t len;
	uint8_t *block = real_block(which, &len);
	int minor = minor_of(which);
	struct positions at = positions_of(minor);
	uint32_t size = pp_layout_for(minor)->do_size;
	char what[64];

	/* Every truncation of the block, down to nothing. */
	for (size_t n = 0; n < size; n++) {
		snprintf(what, sizeof what, "block cut to %zu bytes", n);
		expect_refused_as(minor, block, n, PP_DO_OK, NULL, what);
	}

	uint8_t *bad = malloc(len);

	memcpy(bad, block, len);
	bad[0] = 'X';
	expect_refused_as(minor, bad, len, PP_DO_NONE, "_Py_DebugOffsets", "corrupted cookie");

	/* A 3.16 alpha: a version whose block pyprobe does not know. */
	memcpy(bad, block, len);
	put64(bad, 8, 0x031000a1);
	expect_refused_as(minor, bad, len, PP_DO_VERSION, "0x031000a1", "3.16.0a1");

	/* The block of another known version than the table's. */
	memcpy(bad, block, len);
	put64(bad, 8, minor == 15 ? 0x030e0af0 : 0x030f02f0);
	expect_refused_as(minor, bad, len, PP_DO_VERSION, "version", "another minor version");

	memcpy(bad, block, len);
	put64(bad, 8, 0x020d00f0 | ((uint64_t)minor << 16));
	expect_refused_as(minor, bad, len, PP_DO_VERSION, NULL, "major version 2");

	memcpy(bad, block, len);
	put64(bad, 16, 1);
	expect_refused_as(minor, bad, len, PP_DO_FREE_THREADED, "free-threaded",
			  "free-threaded build");

	/* A patched build that added one entry: its block is 8 bytes longer,
	 * so everything in _PyRuntimeState after it is too. */
	memcpy(bad, block, len);
	put64(bad, at.rt_finalizing, get64(block, at.rt_finalizing) + 8);
	put64(bad, at.rt_interpreters_head, get64(block, at.rt_interpreters_head) + 8);
	snprintf(what, sizeof what, "is %u bytes", size + 8);
	expect_refused_as(minor, bad, len, PP_DO_SIZE, what, "a block 8 bytes longer");

	memcpy(bad, block, len);
	put64(bad, at.rt_finalizing, get64(block, at.rt_finalizing) - 16);
	expect_refused_as(minor, bad, len, PP_DO_SIZE, "bytes by its own offsets",
			  "a block 16 bytes shorter");

	memcpy(bad, block, len);
	put64(bad, at.rt_finalizing, 3);
	expect_refused_as(minor, bad, len, PP_DO_SIZE, NULL, "finalizing before the block");

	memcpy(bad, block, len);
	put64(bad, at.rt_interpreters_head, get64(block, at.rt_size));
	expect_refused_as(minor, bad, len, PP_DO_BAD_VALUE, "runtime_state.interpreters_head",
			  "offset past its struct");

	memcpy(bad, block, len);
	put64(bad, at.ts_size, 1ull << 40);
	expect_refused_as(minor, bad, len, PP_DO_BAD_VALUE, "thread_state.size",
			  "absurd struct size");

	memcpy(bad, block, len);
	put64(bad, at.is_gil_holder, get64(block, at.is_gil) - 8);
	expect_refused_as(minor, bad, len, PP_DO_BAD_VALUE, "gil",
			  "GIL holder outside the GIL struct");

	/* A block against a table of another version. */
	int other = minor == 13 ? 12 : minor - 1;
	struct py_layout l = *pp_layout_for(other), before = l;
	cr_expect_neq(pp_layout_apply_debug_offsets(&l, block, len, NULL, 0), PP_DO_OK);
	cr_expect_eq(memcmp(&l, &before, sizeof l), 0);

	free(bad);
	free(block);
}

Test(debug_offsets, refuses_bad_blocks_3_13) { refuses_bad_blocks("pyenv-3.13"); }
Test(debug_offsets, refuses_bad_blocks_3_14) { refuses_bad_blocks("3.14"); }
Test(debug_offsets, refuses_bad_blocks_3_15) { refuses_bad_blocks("3.15"); }

static void published_values_win(const char *which)
{
	size_t len;
	uint8_t *block = real_block(which, &len);
	int minor = minor_of(which);
	struct positions at = positions_of(minor);
	const struct py_layout *table = pp_layout_for(minor);

	/* Move a few fields, as a patch release might. */
	put64(block, at.ts_thread_id, 144);
	put64(block, at.co_name, 104);
	put64(block, at.is_gil_locked, get64(block, at.is_gil) + 24);
	struct py_layout l = *table;
	cr_assert_eq(pp_layout_apply_debug_offsets(&l, block, len, NULL, 0), PP_DO_OK);
	cr_expect_eq(l.ts_thread_id, 144);
	cr_expect_eq(l.co_name, 104);
	cr_expect_eq(l.gil_locked, 24);
	cr_expect_eq(l.ts_asyncio_running_loop, table->ts_asyncio_running_loop);

	/* A bigger PyThreadState (3.13.18's is): the _PyThreadStateImpl
	 * members after it move with its end. */
	put64(block, at.ts_size, get64(block, at.ts_size) + 16);
	l = *table;
	cr_assert_eq(pp_layout_apply_debug_offsets(&l, block, len, NULL, 0), PP_DO_OK);
	cr_expect_eq(l.ts_asyncio_running_loop, table->ts_asyncio_running_loop + 16);
	cr_expect_eq(l.ts_size, (uint32_t)get64(block, at.ts_size));
	free(block);
}

Test(debug_offsets, published_values_win_3_13) { published_values_win("pyenv-3.13"); }
Test(debug_offsets, published_values_win_3_14) { published_values_win("3.14"); }
Test(debug_offsets, published_values_win_3_15) { published_values_win("3.15"); }
