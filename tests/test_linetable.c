/* pp_linetable_line() against CPython's own PyCode_Addr2Line(), position by
 * position, for every code object of each interpreter's stdlib (records from
 * tests/gen_linetable_cases.py), plus hand-made and random tables that must
 * never be read out of bounds. Tables are copied into buffers of exactly
 * their length so ASan flags any overread. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf, getline; meson also passes it */
#endif
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reader/linetable.h"
#include "support.h"

/* ---- helpers ---------------------------------------------------------- */

static uint8_t *dup_exact(const uint8_t *src, size_t len)
{
	/* malloc(0) still yields a zero-size ASan region, so even a one-byte
	 * read of an empty table is caught. */
	uint8_t *p = malloc(len);

	cr_assert(p != NULL || len == 0);
	if (len)
		memcpy(p, src, len);
	return p;
}

static int line_of(int minor, const uint8_t *bytes, size_t len, int first,
		   int64_t unit)
{
	uint8_t *t = dup_exact(bytes, len);
	int line = pp_linetable_line(minor, t, len, first, unit);

	free(t);
	return line;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* ---- comparison with CPython ------------------------------------------ */

#define MAX_REPORTED 8

struct cmp_stats {
	long records;
	long positions;
	long mismatches;
	long noline;	/* -1 inside the code: artificial instructions */
	char reported[MAX_REPORTED][256];
};

static char *next_field(char **cursor)
{
	char *s = *cursor;
	char *end;

	while (*s == ' ')
		s++;
	if (*s == '\0' || *s == '\n')
		return NULL;
	end = s;
	while (*end && *end != ' ' && *end != '\n')
		end++;
	if (*end)
		*end++ = '\0';
	*cursor = end;
	return s;
}

/* One generator record; see tests/gen_linetable_cases.py for the format. */
static void check_record(char *line, int want_minor, struct cmp_stats *st)
{
	char *cur = line;
	char *f_minor = next_field(&cur), *f_first = next_field(&cur);
	char *f_units = next_field(&cur), *f_hex = next_field(&cur);
	char *f_runs = next_field(&cur), *f_name = next_field(&cur);

	cr_assert(f_name != NULL, "malformed generator record");
	int minor = atoi(f_minor);
	int first = atoi(f_first);
	long nunits = atol(f_units);

	cr_assert_eq(minor, want_minor, "generator ran as 3.%d, expected 3.%d",
		     minor, want_minor);

	size_t hexlen = strcmp(f_hex, "-") == 0 ? 0 : strlen(f_hex);
	cr_assert(hexlen % 2 == 0, "odd table hex in %s", f_name);
	size_t len = hexlen / 2;
	uint8_t *table = malloc(len);

	cr_assert(table != NULL || len == 0);
	for (size_t i = 0; i < len; i++) {
		int hi = hexval(f_hex[2 * i]), lo = hexval(f_hex[2 * i + 1]);

		cr_assert(hi >= 0 && lo >= 0, "bad table hex in %s", f_name);
		table[i] = (uint8_t)(hi << 4 | lo);
	}

	int64_t unit = -1;
	char *r = f_runs;

	while (*r) {
		char *end;
		long expect = strtol(r, &end, 10);
		long count = 1;

		cr_assert(end != r, "bad runs in %s", f_name);
		if (*end == '*') {
			r = end + 1;
			count = strtol(r, &end, 10);
		}
		r = *end == ',' ? end + 1 : end;
		for (long k = 0; k < count; k++, unit++) {
			int got = pp_linetable_line(minor, table, len, first,
						    unit);

			st->positions++;
			if (expect == -1 && unit >= 0 && unit < nunits)
				st->noline++;
			if (got == expect)
				continue;
			if (st->mismatches < MAX_REPORTED)
				snprintf(st->reported[st->mismatches],
					 sizeof st->reported[0],
					 "%s (firstlineno %d, %zu table bytes): "
					 "unit %" PRId64 " expected %ld got %d",
					 f_name, first, len, unit, expect, got);
			st->mismatches++;
		}
	}
	/* Positions -1 .. nunits+1: a short record means a broken generator. */
	cr_assert_eq(unit, nunits + 2, "%s: runs cover %" PRId64
		     " positions, expected %ld", f_name, unit + 1, nunits + 3);
	st->records++;
	free(table);
}

/* Runs tests/gen_linetable_cases.py under `python` (a shell word list:
 * the interpreter, or `chroot ROOT python3.X`), `script` being its path as
 * that interpreter sees it (NULL: the source tree's). */
static void check_command(const char *python, const char *script, int minor,
			  const char *version)
{
	const char *src = getenv("PYPROBE_SOURCE_ROOT");

	cr_assert(src != NULL, "PYPROBE_SOURCE_ROOT is not set (run via meson test)");

	char *cmd;

	if (script)
		cr_assert(asprintf(&cmd, "%s '%s'", python, script) > 0);
	else
		cr_assert(asprintf(&cmd, "%s '%s/tests/gen_linetable_cases.py'",
				   python, src) > 0);
	FILE *p = popen(cmd, "r");

	cr_assert(p != NULL, "popen(%s): %s", cmd, strerror(errno));

	struct cmp_stats st;
	char *line = NULL;
	size_t cap = 0;

	memset(&st, 0, sizeof st);
	while (getline(&line, &cap, p) > 0)
		check_record(line, minor, &st);
	free(line);

	int status = pclose(p);

	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "generator failed under %s (status %d): %s", version, status,
		  cmd);
	free(cmd);

	for (long i = 0; i < st.mismatches && i < MAX_REPORTED; i++)
		cr_log_error("mismatch: %s", st.reported[i]);
	cr_log_info("%s: %ld code objects, %ld positions (%ld in-code without "
		    "a line), "
		    "%ld mismatches", python, st.records, st.positions,
		    st.noline, st.mismatches);
	cr_assert_eq(st.mismatches, 0, "%ld of %ld positions differ from "
		     "PyCode_Addr2Line under %s", st.mismatches, st.positions,
		     python);
	cr_assert_gt(st.records, 10000, "only %ld code objects from %s",
		     st.records, python);
	cr_assert_gt(st.positions, 500000, "only %ld positions from %s",
		     st.positions, python);
	/* 3.10+ have artificial instructions without a line (and return -1
	 * past the end); 3.8/3.9 always have a line. */
	if (minor >= 10)
		cr_assert_gt(st.noline, 0, "no line-less instruction seen "
			     "under %s", python);
	else
		cr_assert_eq(st.noline, 0, "-1 from %s", python);
}

static void check_interpreter(const char *python, int minor,
			      const char *version)
{
	if (access(python, X_OK) != 0)
		cr_skip_test("python %s not installed at %s", version, python);
	char quoted[4200];
	snprintf(quoted, sizeof quoted, "'%s'", python);
	check_command(quoted, NULL, minor, version);
}

/* Debian sid's build, chrooted into the sid root. */
static void check_sid(int minor)
{
	char spec[16], script[4096], cmd[8400];
	snprintf(spec, sizeof spec, "sid-3.%d", minor);
	struct ts_python py;
	ts_python_get(spec, &py);
	ts_python_source(&py, "tests/gen_linetable_cases.py", script, sizeof script);
	snprintf(cmd, sizeof cmd, "chroot '%s' %s", py.root, py.cmd);
	check_command(cmd, script, minor, py.label);
}

static void check_pyenv(int minor, const char *version)
{
	const char *root = getenv("PYENV_ROOT");
	char path[4096];

	if (root == NULL || *root == '\0')
		root = "/root/.pyenv";
	snprintf(path, sizeof path, "%s/versions/%s/bin/python3.%d", root,
		 version, minor);
	check_interpreter(path, minor, version);
}

Test(linetable, cpython_3_8, .timeout = 120) { check_pyenv(8, "3.8.18"); }
Test(linetable, cpython_3_9, .timeout = 120) { check_pyenv(9, "3.9.18"); }
Test(linetable, cpython_3_10, .timeout = 120) { check_pyenv(10, "3.10.13"); }
Test(linetable, cpython_3_11, .timeout = 120) { check_pyenv(11, "3.11.7"); }
Test(linetable, cpython_3_12, .timeout = 120) { check_pyenv(12, "3.12.1"); }
Test(linetable, cpython_3_13, .timeout = 120) { check_pyenv(13, "3.13.0"); }

Test(linetable, cpython_sid_3_13, .timeout = 120) { check_sid(13); }
Test(linetable, cpython_sid_3_14, .timeout = 120) { check_sid(14); }
Test(linetable, cpython_sid_3_15, .timeout = 120) { check_sid(15); }

/* Debian's stripped build of 3.11, a separate binary with its own stdlib. */
Test(linetable, cpython_3_11_debian, .timeout = 120)
{
	check_interpreter("/usr/bin/python3.11", 11, "3.11 (Debian)");
}

/* ---- hand-made tables ------------------------------------------------- */

static const int minors[] = { 8, 9, 10, 11, 12, 13, 14, 15 };
#define NMINORS (sizeof minors / sizeof minors[0])

Test(linetable, unknown_minor_and_negative_unit)
{
	static const uint8_t t[] = { 2, 1, 4, 1 };
	static const int unknown[] = { -1, 0, 6, 7, 16, 99 };

	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
		cr_expect_eq(line_of(unknown[i], t, sizeof t, 10, 0), -1);
		cr_expect_eq(line_of(unknown[i], t, sizeof t, 10, -1), -1);
	}
	for (size_t i = 0; i < NMINORS; i++) {
		cr_expect_eq(line_of(minors[i], t, sizeof t, 10, -1), 10);
		cr_expect_eq(line_of(minors[i], t, sizeof t, 10, INT64_MIN), 10);
		cr_expect_eq(line_of(minors[i], NULL, 0, 10, -1), 10);
	}
}

Test(linetable, empty_table)
{
	for (size_t i = 0; i < NMINORS; i++) {
		/* 3.8/3.9 have nothing to add to firstlineno; 3.10+ have no
		 * range covering any position. */
		int want = minors[i] < 10 ? 7 : -1;

		for (int64_t u = 0; u < 4; u++) {
			cr_expect_eq(line_of(minors[i], NULL, 0, 7, u), want);
			cr_expect_eq(line_of(minors[i], (const uint8_t *)"", 0, 7,
					     u), want);
		}
		cr_expect_eq(line_of(minors[i], NULL, 0, 7, INT64_MAX), want);
	}
}

Test(linetable, lnotab_3_8)
{
	/* bytes [0,2) firstlineno; [2,6) +1; [6,..) -2 (negative delta). */
	static const uint8_t t[] = { 2, 1, 4, (uint8_t)-3 };

	for (int m = 8; m <= 9; m++) {
		cr_expect_eq(line_of(m, t, sizeof t, 100, 0), 100);
		cr_expect_eq(line_of(m, t, sizeof t, 100, 1), 101);
		cr_expect_eq(line_of(m, t, sizeof t, 100, 2), 101);
		cr_expect_eq(line_of(m, t, sizeof t, 100, 3), 98);
		cr_expect_eq(line_of(m, t, sizeof t, 100, 1000000), 98);
		cr_expect_eq(line_of(m, t, sizeof t, 100, INT64_MAX), 98);
		cr_expect_eq(line_of(m, t, sizeof t, 100, INT64_MAX / 2 + 1), 98);
		/* A lone trailing byte is not a pair and is ignored. */
		cr_expect_eq(line_of(m, t, 3, 100, 3), 101);
		cr_expect_eq(line_of(m, t, 1, 100, 3), 100);
	}
}

Test(linetable, linetable_3_10)
{
	/* [0,4) +1; [4,6) no line; [6,12) +2 more; zero-size +5 then
	 * [12,14) +1: the zero-size delta still counts. */
	static const uint8_t t[] = { 4, 1, 2, 0x80, 6, 2, 0, 5, 2, 1 };

	cr_expect_eq(line_of(10, t, sizeof t, 50, 0), 51);
	cr_expect_eq(line_of(10, t, sizeof t, 50, 1), 51);
	cr_expect_eq(line_of(10, t, sizeof t, 50, 2), -1);
	cr_expect_eq(line_of(10, t, sizeof t, 50, 3), 53);
	cr_expect_eq(line_of(10, t, sizeof t, 50, 5), 53);
	cr_expect_eq(line_of(10, t, sizeof t, 50, 6), 59);
	cr_expect_eq(line_of(10, t, sizeof t, 50, 7), -1);
	cr_expect_eq(line_of(10, t, sizeof t, 50, INT64_MAX), -1);
	/* Truncated: an odd trailing byte is not a range. */
	cr_expect_eq(line_of(10, t, 1, 50, 0), -1);
	cr_expect_eq(line_of(10, t, 3, 50, 1), 51);
	cr_expect_eq(line_of(10, t, 3, 50, 2), -1);
}

Test(linetable, location_table_3_11)
{
	static const uint8_t t[] = {
		0xe8 | 1, 6,			/* units 0-1: no columns, +3 */
		0xf8 | 0,			/* unit 2: no location */
		0xd8 | 2, 4, 9,			/* units 3-5: one-line, +1 */
		0xf0 | 0, 0x51, 0x06, 0, 1, 1,	/* unit 6: long, -200 */
		0x80 | 7, 0x12,			/* units 7-14: short form */
	};

	for (int m = 11; m <= 15; m++) {
		cr_expect_eq(line_of(m, t, sizeof t, 300, 0), 303);
		cr_expect_eq(line_of(m, t, sizeof t, 300, 1), 303);
		cr_expect_eq(line_of(m, t, sizeof t, 300, 2), -1);
		cr_expect_eq(line_of(m, t, sizeof t, 300, 3), 304);
		cr_expect_eq(line_of(m, t, sizeof t, 300, 5), 304);
		cr_expect_eq(line_of(m, t, sizeof t, 300, 6), 104);
		cr_expect_eq(line_of(m, t, sizeof t, 300, 7), 104);
		cr_expect_eq(line_of(m, t, sizeof t, 300, 14), 104);
		cr_expect_eq(line_of(m, t, sizeof t, 300, 15), -1);
		cr_expect_eq(line_of(m, t, sizeof t, 300, INT64_MAX), -1);
	}
}

Test(linetable, location_table_truncated)
{
	/* Each entry is cut where its extra bytes should start or mid-varint;
	 * the decoder must stay inside the buffer and still honour the entry's
	 * length. */
	static const struct {
		uint8_t bytes[4];
		size_t len;
		int64_t unit;
		int want;
	} cases[] = {
		{ { 0xe8 }, 1, 0, 10 },		 /* no-columns, no varint */
		{ { 0xe8 }, 1, 1, -1 },
		{ { 0xf0 | 3 }, 1, 3, 10 },	 /* long form, nothing after */
		{ { 0xe8, 0x44 }, 2, 0, 12 },	 /* varint 4 then "more" */
		{ { 0xf8 }, 1, 0, -1 },		 /* a lone no-location */
		{ { 0x87 }, 1, 7, 10 },		 /* a lone short form */
		{ { 0x87 }, 1, 8, -1 },
		{ { 0xd8 | 1 }, 1, 1, 11 },	 /* one-line, no columns */
		{ { 0x80, 0x80, 0x80 }, 3, 2, 10 },
		{ { 0x80, 0x80, 0x80 }, 3, 3, -1 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		for (int m = 11; m <= 15; m++)
			cr_expect_eq(line_of(m, cases[i].bytes, cases[i].len, 10,
					     cases[i].unit), cases[i].want,
				     "case %zu on 3.%d", i, m);
}

Test(linetable, location_table_endless_varint)
{
	/* A varint that never ends: no shift past 32 bits (UBSan) and no
	 * read past the buffer (ASan). */
	uint8_t t[64];

	memset(t, 0x7f, sizeof t);
	t[0] = 0xe8 | 7;
	for (int m = 11; m <= 15; m++)
		for (int64_t u = 0; u < 10; u++)
			(void)line_of(m, t, sizeof t, 1, u);
	/* Long-form deltas that add up beyond int must not overflow. */
	uint8_t big[6 * 200];

	for (size_t i = 0; i < sizeof big; i += 6) {
		big[i] = 0xe8;
		big[i + 1] = 0x40 | 0x3e; /* even: positive delta */
		big[i + 2] = 0x7f;
		big[i + 3] = 0x7f;
		big[i + 4] = 0x7f;
		big[i + 5] = 0x3f;
	}
	for (int m = 11; m <= 15; m++)
		(void)line_of(m, big, sizeof big, INT32_MAX, 199);
}

/* ---- random tables ---------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic, so a failure reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static int64_t random_unit(void)
{
	switch (rng() % 6) {
	case 0:
		return INT64_MAX - (int64_t)(rng() % 4);
	case 1:
		return (int64_t)(rng() >> 1);
	case 2:
		return INT64_MIN + (int64_t)(rng() % 4);
	case 3:
		return -(int64_t)(rng() % 4);
	default:
		return (int64_t)(rng() % 300);
	}
}

Test(linetable, random_tables_stay_in_bounds)
{
	uint8_t buf[512];

	for (int iter = 0; iter < 4000; iter++) {
		size_t len = rng() % (iter < 2000 ? 24 : sizeof buf);
		int style = (int)(rng() % 4);

		for (size_t i = 0; i < len; i++) {
			uint8_t b = (uint8_t)rng();

			/* Bias toward tables that look real enough to get
			 * deep into the decoders: all entry bytes, or long
			 * varint runs. */
			if (style == 1)
				b |= 0x80;
			else if (style == 2)
				b = (i % 3 == 0) ? (0xe8 | (b & 7)) : (b | 0x40) & 0x7f;
			buf[i] = b;
		}
		uint8_t *t = dup_exact(buf, len);
		int first = (int)(rng() % 3) == 0 ? INT32_MAX : (int)(rng() % 1000);

		for (int mi = 5; mi <= 17; mi++) {
			for (int k = 0; k < 8; k++) {
				int64_t u = random_unit();
				int got = pp_linetable_line(mi, t, len, first, u);

				if (mi < 8 || mi > 15)
					cr_assert_eq(got, -1);
				else if (u < 0)
					cr_assert_eq(got, first);
			}
		}
		free(t);
	}
}
