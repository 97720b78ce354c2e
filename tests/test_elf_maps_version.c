/* Unit tests: ELF symbol and section lookup against the real interpreter
 * binaries (checked against readelf), /proc/PID/maps parsing, load bias,
 * and version parsing. */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reader/elf_symbols.h"
#include "reader/maps.h"
#include "reader/version.h"

/* ---- ELF ---------------------------------------------------------------- */

/* What readelf says a symbol's value is (dynsym first, as pyprobe looks),
 * or 0 if it has none. */
static uint64_t readelf_symbol(const char *file, const char *name)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "readelf -sW '%s' 2>/dev/null", file);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	char line[1024];
	uint64_t found = 0;
	while (!found && fgets(line, sizeof(line), p)) {
		char sym[512] = "", ndx[32] = "";
		unsigned long long val;
		if (sscanf(line, " %*[0-9]: %llx %*s %*s %*s %*s %31s %511s", &val, ndx, sym) == 3 &&
		    strcmp(sym, name) == 0 && strcmp(ndx, "UND") != 0)
			found = val;
	}
	pclose(p);
	return found;
}

static const char *pyenv_lib(const char *ver, const char *minor)
{
	static char path[512];
	const char *root = getenv("PYENV_ROOT") ? getenv("PYENV_ROOT") : "/root/.pyenv";
	snprintf(path, sizeof(path), "%s/versions/%s/lib/libpython%s.so.1.0", root, ver, minor);
	return path;
}

static struct pp_elf *open_or_skip(const char *path)
{
	if (access(path, R_OK) != 0)
		cr_skip_test("%s not installed", path);
	if (system("command -v readelf >/dev/null") != 0)
		cr_skip_test("readelf (binutils) not installed");
	struct pp_elf *e = NULL;
	cr_assert_eq(pp_elf_open(path, &e), 0, "cannot open %s", path);
	return e;
}

/* Debian's python3.11: a stripped ET_EXEC with no .symtab; _PyRuntime and
 * Py_Version are still exported in .dynsym. */
Test(elf, static_stripped_debian_python)
{
	const char *path = "/usr/bin/python3.11";
	struct pp_elf *e = open_or_skip(path);
	uint64_t v = 0, size = 0, sec = 0, secsize = 0;
	cr_assert_eq(pp_elf_symbol(e, "_PyRuntime", &v, &size), 0);
	cr_assert_eq(v, readelf_symbol(path, "_PyRuntime"));
	cr_assert_gt(size, 1000);
	cr_assert_eq(pp_elf_symbol(e, "Py_Version", &v, NULL), 0);
	cr_assert_eq(v, readelf_symbol(path, "Py_Version"));
	cr_assert_eq(pp_elf_section(e, ".PyRuntime", &sec, &secsize), 0);
	cr_assert_eq(pp_elf_symbol(e, "_PyRuntime", &v, NULL), 0);
	cr_assert_eq(sec, v, ".PyRuntime section is where _PyRuntime is");
	/* ET_EXEC: loaded where it was linked, whatever the mapping says. */
	struct pp_map m = {.start = 0x400000, .end = 0x500000, .offset = 0};
	cr_assert_eq(pp_elf_load_bias(e, &m), 0);
	cr_assert_eq(pp_elf_symbol(e, "no_such_symbol_anywhere", &v, NULL), -ENOENT);
	pp_elf_close(e);
}

/* A pyenv libpython: ET_DYN with .dynsym and a full .symtab. A LOCAL
 * symbol only .symtab has must still be found. */
Test(elf, shared_libpython_with_symtab)
{
	const char *path = pyenv_lib("3.12.1", "3.12");
	struct pp_elf *e = open_or_skip(path);
	uint64_t v = 0;
	cr_assert_eq(pp_elf_symbol(e, "_PyRuntime", &v, NULL), 0);
	cr_assert_eq(v, readelf_symbol(path, "_PyRuntime"));
	cr_assert_eq(pp_elf_symbol(e, "PyCode_Type", &v, NULL), 0);
	cr_assert_eq(v, readelf_symbol(path, "PyCode_Type"));
	/* TLS, LOCAL, .symtab only */
	cr_assert_eq(pp_elf_symbol(e, "_Py_tss_tstate", &v, NULL), 0);
	cr_assert_eq(v, readelf_symbol(path, "_Py_tss_tstate"));
	/* ET_DYN: bias = where file offset 0 is mapped, less the first
	 * PT_LOAD's (aligned) address, which is 0 here. */
	struct pp_map m = {.start = 0x7f1234560000ull, .end = 0x7f1234660000ull, .offset = 0};
	cr_assert_eq(pp_elf_load_bias(e, &m), 0x7f1234560000ull);
	pp_elf_close(e);
}

/* 3.8/3.9 have no .PyRuntime section: lookup must say so, not invent one. */
Test(elf, no_pyruntime_section_before_3_10)
{
	struct pp_elf *e = open_or_skip(pyenv_lib("3.8.18", "3.8"));
	uint64_t a, s;
	cr_assert_eq(pp_elf_section(e, ".PyRuntime", &a, &s), -ENOENT);
	cr_assert_eq(pp_elf_section(e, ".bss", &a, &s), 0);
	cr_assert_gt(s, 0);
	pp_elf_close(e);
}

Test(elf, not_an_elf)
{
	struct pp_elf *e = NULL;
	char path[] = "/tmp/pyprobe-not-elf-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "#!/bin/sh\necho not an ELF\n", 26), 26);
	close(fd);
	int rc = pp_elf_open(path, &e);
	unlink(path);
	cr_assert_eq(rc, -ENOEXEC);
	cr_assert_eq(pp_elf_open("/nonexistent/file", &e), -ENOENT);
	cr_assert_null(e);
}

/* ---- /proc/PID/maps ----------------------------------------------------- */

Test(maps, parses_every_kind_of_line)
{
	static const char text[] =
		"55d0c0a00000-55d0c0a01000 r--p 00000000 fe:01 1234      /usr/bin/python3.11\n"
		"7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n"
		"7f1000000000-7f1000100000 r--p 00000000 fe:01 42        /opt/my app/lib/libpython3.12.so.1.0\n"
		"7f1000100000-7f1000300000 r-xp 00100000 fe:01 42        /opt/my app/lib/libpython3.12.so.1.0\n"
		"7f2000000000-7f2000001000 r--p 00000000 fe:01 7         /tmp/updt/python3.11 (deleted)\n"
		"55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0         [heap]\n"
		"garbage line\n"
		"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]";
	struct pp_maps m;
	cr_assert_eq(pp_maps_parse(text, sizeof(text) - 1, &m), 0);
	cr_assert_eq(m.n, 7, "garbage is skipped, the last line needs no newline");
	cr_assert_eq(m.v[0].start, 0x55d0c0a00000ull);
	cr_assert_eq(m.v[0].end, 0x55d0c0a01000ull);
	cr_assert_str_eq(m.v[0].perms, "r--p");
	cr_assert_str_eq(m.v[0].path, "/usr/bin/python3.11");
	cr_assert_null(m.v[1].path, "anonymous mappings have no path");
	cr_assert_str_eq(m.v[2].path, "/opt/my app/lib/libpython3.12.so.1.0");
	cr_assert_eq(m.v[3].offset, 0x100000);
	cr_assert_str_eq(m.v[4].path, "/tmp/updt/python3.11 (deleted)");
	cr_assert_str_eq(m.v[5].path, "[heap]");
	/* Which file it is: what pyprobe checks a file it opens against. */
	cr_assert_eq(m.v[2].dev_major, 0xfe);
	cr_assert_eq(m.v[2].dev_minor, 0x01);
	cr_assert_eq(m.v[2].inode, 42);
	cr_assert_eq(m.v[5].inode, 0);

	const struct pp_map *lib = pp_maps_first_of(&m, "/opt/my app/lib/libpython3.12.so.1.0");
	cr_assert_eq(lib, &m.v[2], "the first (lowest) mapping of it");
	cr_assert_null(pp_maps_first_of(&m, "/nope"));
	pp_maps_free(&m);
}

Test(maps, own_process)
{
	struct pp_maps m;
	cr_assert_eq(pp_maps_read(getpid(), &m), 0);
	cr_assert_gt(m.n, 5);
	pp_maps_free(&m);
	cr_assert_lt(pp_maps_read(999999999, &m), 0);
}

/* ---- versions ----------------------------------------------------------- */

static void hex_is(uint64_t hex, const char *want)
{
	struct pp_pyversion v;
	cr_assert_eq(pp_version_from_hex(hex, &v), 0, "%#" PRIx64, hex);
	cr_assert_str_eq(v.str, want);
}

Test(version, from_hex)
{
	hex_is(0x030d00f0, "3.13.0");
	hex_is(0x030b07f0, "3.11.7");
	hex_is(0x030812f0, "3.8.18");
	hex_is(0x030c00a1, "3.12.0a1");
	hex_is(0x030d00c2, "3.13.0rc2");
	/* Py_Version is an unsigned long: only the low 32 bits count. */
	hex_is(0xdeadbeef030a0df0ull, "3.10.13");
	struct pp_pyversion v;
	cr_assert_eq(pp_version_from_hex(0, &v), -1);
	cr_assert_eq(pp_version_from_hex(0x03080001, &v), -1, "level 0 is not a release level");
	cr_assert_eq(pp_version_from_hex(0x090000f0, &v), -1);
}

static void str_is(const char *s, const char *want, int minor)
{
	struct pp_pyversion v;
	cr_assert_eq(pp_version_from_string(s, &v), 0, "%s", s);
	cr_assert_str_eq(v.str, want);
	cr_assert_eq(v.minor, minor);
}

Test(version, from_sys_version_text)
{
	str_is("3.8.18 (default, Nov 22 2026, 04:00:00) \n[GCC 12.2.0]", "3.8.18", 8);
	str_is("3.11.2 (main, Mar 13 2023, 12:18:29) [GCC 12.2.0]", "3.11.2", 11);
	str_is("3.13.0rc2 (main, Sep  1 2024, 00:00:00)", "3.13.0rc2", 13);
	str_is("3.10.13+ (heads/3.10:abc, Jan 1 2024)", "3.10.13+", 10);
	str_is("2.7.18 (default, Apr 20 2020, 00:00:00)", "2.7.18", 7);
	struct pp_pyversion v;
	const char *bad[] = {"3.8", "3.8.18", "3.8.18(x", "x.y.z (a", "4.0.0 (x",
			     "3.8.18averyveryverylongtag (x", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		cr_assert_eq(pp_version_from_string(bad[i], &v), -1, "accepted '%s'", bad[i]);
}
