/* render/chrometrace.c and render/gecko.c on a hand-built profile whose
 * spans are known: where each complete event starts and ends (merged over
 * lines, closed at a change, at a gap and after the last sample), which
 * thread track it is on; the gecko tables (two lines of a function: two
 * frames, one function); and both files through
 * tests/check_trace_formats.py, the format checker. */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render/render.h"
#include "tests/profile_build.h"
#include "tests/support.h"

static void sample(struct pp_profile *p, uint32_t thread, uint64_t ms_x10, pp_stack_id st)
{
	struct pp_psample s = {ms_x10 * 100000, thread, st, PP_SGIL_HELD, PP_SOS_RUNNING};
	cr_assert_eq(pp_profile_add_sample(p, &s), 0);
}

/* 1000 Hz (an interval of 1 ms). MainThread: a>b at 0 and 1 ms (b at two
 * lines), a>c at 2 and 3 ms, nothing until a at 10 ms (a gap); worker: w
 * at 0.5 ms. */
static struct pp_profile *fixture(void)
{
	struct pp_profile *p = pp_profile_new();
	cr_assert_not_null(p);
	struct pp_profile_meta *m = pp_profile_meta(p);
	m->cmdline = pp_profile_str(p, "python3 app.py");
	m->pid = 100;
	m->rate_hz = 1000;
	m->start_unix_ns = 1700000000123456789ull;
	struct pp_pthread tm = {100, 100, pp_profile_str(p, "MainThread"), m->cmdline};
	struct pp_pthread tw = {100, 101, pp_profile_str(p, "worker"), m->cmdline};
	uint32_t t_main = pp_profile_thread(p, &tm), t_work = pp_profile_thread(p, &tw);
	pp_frame_id a = tb_py(p, "a", "app.py", 1), b5 = tb_py(p, "b", "app.py", 5),
		    c = tb_py(p, "c", "lib/c.py", 9), w = tb_py(p, "w", "app.py", 20);
	/* b at its next line: the same function (first line 5) */
	struct pp_pframe fb6 = {pp_profile_str(p, "b"), pp_profile_str(p, "b"),
				pp_profile_str(p, "app.py"), 6, 5, PP_FRAME_PYTHON};
	pp_frame_id b6 = pp_profile_frame(p, &fb6);
	sample(p, t_main, 0, TB_STACK(p, a, b5));
	sample(p, t_work, 5, TB_STACK(p, w));
	sample(p, t_main, 10, TB_STACK(p, a, b6));
	sample(p, t_main, 20, TB_STACK(p, a, c));
	sample(p, t_main, 30, TB_STACK(p, a, c));
	sample(p, t_main, 100, TB_STACK(p, a));
	return p;
}

/* Render with r into a scratch file named name; its text into buf. */
static void render_to(int (*r)(const struct pp_profile *, const struct pp_render_opts *, FILE *),
		      const char *name, char *path, size_t n, char *buf, size_t size)
{
	struct pp_profile *p = fixture();
	struct pp_render_opts o = {0};
	ts_scratch_path("render_trace", path, n, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(r(p, &o, f), 0);
	cr_assert_eq(fclose(f), 0);
	pp_profile_free(p);
	cr_assert_geq(ts_read_file(path, buf, size), 0);
}

static void check_format(const char *format, const char *path)
{
	char cmd[2 * PATH_MAX], out[8192];
	snprintf(cmd, sizeof cmd,
		 "python3 '%s/tests/check_trace_formats.py' %s '%s' --expect a --expect w 2>&1",
		 ts_source_root(), format, path);
	int rc = ts_shell(cmd, out, sizeof out);
	cr_assert_eq(rc, 0, "%s", out);
}

#define SPAN(name, tid, ts, dur)                                                        \
	"{\"ph\": \"X\", \"cat\": \"python\", \"name\": \"" name "\", \"pid\": 100, "   \
	"\"tid\": " tid ", \"ts\": " ts ", \"dur\": " dur

Test(render_trace, chrometrace_spans)
{
	char path[PATH_MAX], text[1 << 16];
	render_to(pp_render_chrometrace, "spans.trace.json", path, sizeof path, text, sizeof text);
	/* a track per thread, named */
	cr_assert(strstr(text, "{\"ph\": \"M\", \"name\": \"thread_name\", \"pid\": 100, "
			       "\"tid\": 100, \"args\": {\"name\": \"MainThread\"}}"), "%s", text);
	cr_assert(strstr(text, "\"tid\": 101, \"args\": {\"name\": \"worker\"}}"), "%s", text);
	cr_assert(strstr(text, "\"name\": \"process_name\", \"pid\": 100, \"tid\": 100, "
			       "\"args\": {\"name\": \"python3 app.py\"}}"), "%s", text);
	/* a: from 0 until the gap, closed one interval after 3 ms; again at 10 ms */
	cr_assert(strstr(text, SPAN("a", "100", "0.000", "4000.000")), "%s", text);
	cr_assert(strstr(text, SPAN("a", "100", "10000.000", "1000.000")), "%s", text);
	/* b at two lines is one span, closed when c comes */
	cr_assert(strstr(text, SPAN("b", "100", "0.000", "2000.000") ", \"args\": {\"file\": "
				   "\"app.py\", \"line\": 5}}"), "%s", text);
	cr_assert(strstr(text, SPAN("c", "100", "2000.000", "2000.000")), "%s", text);
	cr_assert(strstr(text, SPAN("w", "101", "500.000", "1000.000")), "%s", text);
	/* five spans, no more */
	size_t n = 0;
	for (const char *s = text; (s = strstr(s, "\"ph\": \"X\"")); s++)
		n++;
	cr_assert_eq(n, 5, "%s", text);
	check_format("chrometrace", path);
}

Test(render_trace, gecko_tables)
{
	char path[PATH_MAX], text[1 << 16], cmd[2 * PATH_MAX], out[4096];
	render_to(pp_render_gecko, "tables.gecko.json", path, sizeof path, text, sizeof text);
	check_format("gecko", path);
	/* per thread: samples, frames (a, b:5, b:6, c), functions (a, b, c),
	 * stacks (a, a>b5, a>b6, a>c), times in ms; the start in Unix ms */
	snprintf(cmd, sizeof cmd,
		 "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); "
		 "s=d[\"shared\"][\"stringArray\"]; "
		 "print(d[\"meta\"][\"startTime\"], d[\"meta\"][\"interval\"]); "
		 "[print(t[\"name\"], t[\"pid\"], t[\"tid\"], t[\"isMainThread\"], "
		 "t[\"samples\"][\"length\"], t[\"frameTable\"][\"length\"], "
		 "t[\"funcTable\"][\"length\"], t[\"stackTable\"][\"length\"], "
		 "t[\"samples\"][\"time\"], "
		 "[s[t[\"funcTable\"][\"name\"][f]] for f in t[\"frameTable\"][\"func\"]], "
		 "t[\"frameTable\"][\"line\"]) for t in d[\"threads\"]]' '%s' 2>&1",
		 path);
	cr_assert_eq(ts_shell(cmd, out, sizeof out), 0, "%s", out);
	cr_assert_str_eq(out,
			 "1700000000123.4568 1\n"
			 "MainThread 100 100 True 5 4 3 4 [0.0, 1.0, 2.0, 3.0, 10.0] "
			 "['a', 'b', 'b', 'c'] [1, 5, 6, 9]\n"
			 "worker 100 101 False 1 1 1 1 [0.5] ['w'] [20]\n");
}

/* A view that keeps nothing still gives files the viewers open. */
Test(render_trace, empty)
{
	struct pp_profile *p = pp_profile_new();
	cr_assert_not_null(p);
	struct pp_render_opts o = {0};
	char path[PATH_MAX], cmd[2 * PATH_MAX], out[4096];
	const char *formats[] = {"chrometrace", "gecko"};
	for (int i = 0; i < 2; i++) {
		ts_scratch_path("render_trace", path, sizeof path, formats[i]);
		FILE *f = fopen(path, "w");
		cr_assert_not_null(f);
		cr_assert_eq((i ? pp_render_gecko : pp_render_chrometrace)(p, &o, f), 0);
		cr_assert_eq(fclose(f), 0);
		snprintf(cmd, sizeof cmd, "python3 '%s/tests/check_trace_formats.py' %s '%s' 2>&1",
			 ts_source_root(), formats[i], path);
		cr_assert_eq(ts_shell(cmd, out, sizeof out), 0, "%s: %s", formats[i], out);
	}
	pp_profile_free(p);
}
