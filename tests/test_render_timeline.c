/* The report's SVG timeline (render/timeline.c): a small profile with an
 * asyncio loop that stalls for 300 ms while another thread waits for the
 * GIL behind it, rendered and checked for what a reader relies on:
 * well-formed XML, a labelled row per thread in the report's order, boxes
 * whose titles add up to the samples, the stall and the wait with their
 * stacks, escaping, determinism, a bounded size for a long recording, and
 * no crash on odd input (empty profile, one sample, duration 0, a report
 * naming stacks and threads that do not exist).
 */
#include <criterion/criterion.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "render/render.h"
#include "src/profile.h"
#include "src/report.h"
#include "tests/profile_build.h"
#include "tests/support.h"

#define STD "/usr/lib/python3.11/"
#define APP "/srv/app/"

static void sample(struct pp_profile *p, uint64_t t_ms, uint32_t th, pp_stack_id s, int gil,
		   int os)
{
	struct pp_psample smp = {t_ms * 1000000ull, th, s, (uint8_t)gil, (uint8_t)os};
	cr_assert_eq(pp_profile_add_sample(p, &smp), 0);
}

/* 1.5 s at 100 Hz. MainThread runs asyncio.run(): its loop waits in the
 * selector (idle), then busy_handler computes for 300 ms holding the GIL
 * (a stall), then it waits again. The worker holds the GIL for the first
 * 500 ms, waits for it through the stall, then alternates holding and
 * releasing it every 50 ms. A third thread with a hostile name takes one
 * sample. */
static struct pp_profile *fixture(void)
{
	struct pp_profile *p = pp_profile_new();
	cr_assert_not_null(p);
	struct pp_profile_meta *m = pp_profile_meta(p);
	m->cmdline = pp_profile_str(p, "python3 app.py --mode <fast> & \"loud\"");
	m->python_version = pp_profile_str(p, "3.11.7");
	m->pid = 100;
	m->rate_hz = 100;
	m->duration_ns = 1500000000ull;

	struct pp_pthread t0 = {100, 100, pp_profile_str(p, "MainThread"), m->cmdline};
	struct pp_pthread t1 = {100, 101, pp_profile_str(p, "worker"), m->cmdline};
	struct pp_pthread t2 = {100, 102, pp_profile_str(p, "evil<&>\x01\nname\xff"), m->cmdline};
	uint32_t a = pp_profile_thread(p, &t0), b = pp_profile_thread(p, &t1),
		 c = pp_profile_thread(p, &t2);

	const struct tb_fr loop[] = {
		{"<module>", APP "app.py", 30},
		{"run", STD "asyncio/runners.py", 190},
		{"Runner.run", STD "asyncio/runners.py", 118},
		{"BaseEventLoop.run_until_complete", STD "asyncio/base_events.py", 640},
		{"BaseEventLoop.run_forever", STD "asyncio/base_events.py", 607},
		{"BaseEventLoop._run_once", STD "asyncio/base_events.py", 1922},
	};
	const struct tb_fr sel[] = {loop[0], loop[1], loop[2], loop[3], loop[4], loop[5],
				 {"EpollSelector.select", STD "selectors.py", 468}};
	const struct tb_fr busy[] = {loop[0], loop[1], loop[2], loop[3], loop[4], loop[5],
				  {"Handle._run", STD "asyncio/events.py", 80},
				  {"busy_handler", APP "app.py", 12},
				  {"crunch", APP "app.py", 5}};
	const struct tb_fr work[] = {{"Thread._bootstrap", STD "threading.py", 995},
				  {"Thread.run", STD "threading.py", 975},
				  {"hash_block", APP "work.py", 21}};
	pp_stack_id s_sel = tb_chain(p, sel, 7), s_busy = tb_chain(p, busy, 9), s_work = tb_chain(p, work, 3);

	for (uint64_t i = 0; i < 150; i++) {
		bool stalled = i >= 50 && i < 80;
		if (stalled)
			sample(p, i * 10, a, s_busy, PP_SGIL_HELD, PP_SOS_RUNNING);
		else
			sample(p, i * 10, a, s_sel, PP_SGIL_RELEASED, PP_SOS_SLEEPING);
		if (i < 50)
			sample(p, i * 10, b, s_work, PP_SGIL_HELD, PP_SOS_RUNNING);
		else if (stalled)
			sample(p, i * 10, b, s_work, PP_SGIL_WAITING, PP_SOS_SLEEPING);
		else
			sample(p, i * 10, b, s_work,
			       (i / 5) % 2 ? PP_SGIL_RELEASED : PP_SGIL_HELD, PP_SOS_RUNNING);
		if (i == 100)
			sample(p, i * 10, c, s_work, PP_SGIL_RELEASED, PP_SOS_SLEEPING);
	}
	return p;
}

static char *render(const struct pp_profile *p, const struct pp_report *r, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	cr_assert_not_null(f);
	cr_assert_eq(pp_render_timeline(p, r, 100000000ull, f), 0);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

static struct pp_report *report(const struct pp_profile *p)
{
	struct pp_report *r = pp_report_new(p, &(struct pp_report_opts){0});
	cr_assert_not_null(r);
	return r;
}

/* Run python3 on a script with the SVG's path; returns its exit status. */
static int python_check(const char *svg, size_t len, const char *script)
{
	char path[] = "/tmp/pyprobe-tl-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, svg, len), (ssize_t)len);
	close(fd);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "python3 - '%s'", path);
	FILE *py = popen(cmd, "w");
	cr_assert_not_null(py);
	fputs(script, py);
	int status = pclose(py);
	unlink(path);
	cr_assert(WIFEXITED(status), "python3 died: %#x", status);
	return WEXITSTATUS(status);
}

static const char parses[] =
	"import xml.dom.minidom, sys\n"
	"xml.dom.minidom.parse(sys.argv[1])\n";

/* Rows in report order with their labels; per row, the boxes' sample
 * counts add up to the thread's samples, they do not overlap and go left
 * to right; the loop band sits under MainThread only. */
static const char rows[] =
	"import re, sys, xml.dom.minidom\n"
	"doc = xml.dom.minidom.parse(sys.argv[1])\n"
	"g = [e for e in doc.getElementsByTagName('g') if e.getAttribute('id') == 'threads'][0]\n"
	"labels = [t for t in g.getElementsByTagName('text') if t.getAttribute('class') == 'lbl']\n"
	"text = lambda e: ''.join(n.data for n in e.childNodes if n.nodeType == n.TEXT_NODE)\n"
	"names = [text(t) for t in labels]\n"
	"assert names == ['100 MainThread', '101 worker', '102 evil<&>name\\ufffd'], names\n"
	"bands = [t for t in g.getElementsByTagName('text') if t.getAttribute('class') == 'band']\n"
	"assert len(bands) == 1 and text(bands[0]) == 'event loop'\n"
	"ys = [int(t.getAttribute('y')) for t in labels]\n"
	"band_y = int(bands[0].getAttribute('y'))\n"
	"assert ys[0] < band_y < ys[1] < ys[2], (ys, band_y)\n"
	"want = {ys[0]: 150, ys[1]: 150, ys[2]: 1, band_y: 150}\n"
	"got = {}\n"
	"last = {}\n"
	"for r in g.getElementsByTagName('rect'):\n"
	"    t = r.getElementsByTagName('title')[0].firstChild.data\n"
	"    m = re.fullmatch(r'(held|waiting|released|idle|unknown|loop busy|loop waiting|mixed) '\n"
	"                     r'[0-9.]+ m?s from [0-9.]+ s(: .*)? \\((\\d+) samples?\\)', t)\n"
	"    assert m, t\n"
	"    y = int(r.getAttribute('y'))\n"
	"    row = min(want, key=lambda k: abs(k - (y + 12)))\n"
	"    got[row] = got.get(row, 0) + int(m.group(3))\n"
	"    x, w = float(r.getAttribute('x')), float(r.getAttribute('width'))\n"
	"    assert 210 <= x and x + w <= 1190.05, (x, w, t)\n"
	"    assert x >= last.get(row, 0) - 0.05, ('overlap', t)\n"
	"    last[row] = x + w\n"
	"assert got == want, (got, want)\n";

Test(render_timeline, well_formed_rows_and_counts)
{
	struct pp_profile *p = fixture();
	struct pp_report *r = report(p);
	cr_assert_eq(r->nthreads, 3);
	cr_assert_eq(r->nstalls, 1);
	size_t len;
	char *svg = render(p, r, &len);
	cr_assert_eq(python_check(svg, len, parses), 0, "not well-formed XML");
	cr_assert_eq(python_check(svg, len, rows), 0, "rows or boxes are wrong");
	free(svg);
	pp_report_free(r);
	pp_profile_free(p);
}

Test(render_timeline, states_are_merged_into_runs)
{
	struct pp_profile *p = fixture();
	struct pp_report *r = report(p);
	size_t len;
	char *svg = render(p, r, &len);
	/* the worker: held 500 ms, waiting through the stall, then 50 ms
	 * alternations; MainThread idle in its selector */
	cr_assert_not_null(strstr(svg, "<title>held 500.0 ms from 0.000 s (50 samples)</title>"),
			   "%s", svg);
	cr_assert_not_null(strstr(svg, "<title>waiting 300.0 ms from 0.500 s (30 samples)</title>"));
	cr_assert_not_null(strstr(svg, "<title>released 50.0 ms from 0.850 s (5 samples)</title>"));
	cr_assert_not_null(strstr(svg, "<title>held 50.0 ms from 0.900 s (5 samples)</title>"));
	cr_assert_not_null(strstr(svg, "<title>idle 500.0 ms from 0.000 s (50 samples)</title>"));
	cr_assert_not_null(strstr(svg, "<title>held 300.0 ms from 0.500 s (30 samples)</title>"));
	/* the last box lasts one interval */
	cr_assert_not_null(strstr(svg, "<title>idle 700.0 ms from 0.800 s (70 samples)</title>"));
	/* the loop band */
	cr_assert_not_null(strstr(svg, "<title>loop busy 300.0 ms from 0.500 s (30 samples)</title>"));
	cr_assert_not_null(strstr(svg, "<title>loop waiting 500.0 ms from 0.000 s (50 samples)</title>"));
	/* the one-sample thread */
	cr_assert_not_null(strstr(svg, "<title>idle 10.0 ms from 1.000 s (1 sample)</title>"));
	/* every state has its colour in the legend */
	const char *legend = strstr(svg, "<g id=\"legend\">");
	cr_assert_not_null(legend);
	static const char *const states[] = {">held the GIL<", ">waiting for the GIL<",
					     ">released it (running)<", ">idle (blocked)<",
					     ">unknown<"};
	for (size_t s = 0; s < sizeof states / sizeof *states; s++)
		cr_assert_not_null(strstr(legend, states[s]), "%s", states[s]);
	cr_assert_not_null(strstr(legend, ">loop stall</text>"));
	cr_assert_not_null(strstr(legend, ">GIL wait</text>"));
	free(svg);
	pp_report_free(r);
	pp_profile_free(p);
}

Test(render_timeline, stall_and_wait_show_their_stacks)
{
	struct pp_profile *p = fixture();
	struct pp_report *r = report(p);
	size_t len;
	char *svg = render(p, r, &len);
	/* the stall: its duration, the task, the stack down to the task only */
	const char *stall = strstr(svg, "<title>stall 300.0 ms at 0.495 s, running busy_handler:\n"
					"crunch (/srv/app/app.py:5)\n"
					"busy_handler (/srv/app/app.py:12)\n"
					"... 7 outer frames</title>");
	cr_assert_not_null(stall, "%s", svg);
	cr_assert_not_null(strstr(svg, ">300 ms</text>"), "the stall's label");
	/* inside the stalls group, on the loop band */
	const char *group = strstr(svg, "<g id=\"stalls\">");
	cr_assert_not_null(group);
	cr_assert(stall > group);

	/* the wait: who, behind whom, the holder's whole stack innermost first */
	const char *wait = strstr(svg, "<title>101 worker waited 300.0 ms behind 100 MainThread, "
				       "from 0.495 s, which was running:\n"
				       "crunch (/srv/app/app.py:5)\n"
				       "busy_handler (/srv/app/app.py:12)\n"
				       "Handle._run (/usr/lib/python3.11/asyncio/events.py:80)\n");
	cr_assert_not_null(wait, "%s", svg);
	const char *end = strstr(wait, "</title>");
	cr_assert_not_null(end);
	/* the outermost frame last, escaped */
	static const char last[] = "\n&lt;module&gt; (/srv/app/app.py:30)";
	cr_assert(end - wait > (ptrdiff_t)strlen(last) &&
		  !memcmp(end - strlen(last), last, strlen(last)), "%.*s", (int)(end - wait), wait);
	free(svg);
	pp_report_free(r);
	pp_profile_free(p);
}

Test(render_timeline, escapes_target_strings_and_is_deterministic)
{
	struct pp_profile *p = fixture();
	struct pp_report *r = report(p);
	size_t len, len2;
	char *svg = render(p, r, &len);
	char *again = render(p, r, &len2);
	cr_assert(len == len2 && memcmp(svg, again, len) == 0, "two renders differ");
	free(again);
	cr_assert_not_null(strstr(svg, "pyprobe report: python3 app.py --mode &lt;fast&gt; &amp; "
				       "&quot;loud&quot;</text>"));
	cr_assert_not_null(strstr(svg, "1.50 s at 100 Hz"));
	cr_assert_not_null(strstr(svg, "1 stall of 100 ms or more in 1 event loop"));
	cr_assert_not_null(strstr(svg, ">102 evil&lt;&amp;&gt;name\xEF\xBF\xBD</text>"), "%s", svg);
	cr_assert_null(strstr(svg, "<fast>"));
	cr_assert_null(strstr(svg, "evil<"));
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)svg[i];
		cr_assert(ch >= 0x20 || ch == '\n', "control character %#x at byte %zu", ch, i);
		cr_assert_neq(ch, 0xFF);
	}
	free(svg);

	/* a fresh report of the same profile draws the same bytes */
	struct pp_report *r2 = report(p);
	svg = render(p, r, &len);
	again = render(p, r2, &len2);
	cr_assert(len == len2 && memcmp(svg, again, len) == 0);
	free(svg);
	free(again);
	pp_report_free(r2);
	pp_report_free(r);
	pp_profile_free(p);
}

static const char axis[] =
	"import re, sys, xml.dom.minidom\n"
	"doc = xml.dom.minidom.parse(sys.argv[1])\n"
	"ticks = [t.firstChild.data for t in doc.getElementsByTagName('text')\n"
	"         if t.getAttribute('class') == 'tick']\n"
	"assert ticks == ['0.0 s', '0.2 s', '0.4 s', '0.6 s', '0.8 s', '1.0 s', '1.2 s', '1.4 s'],"
	" ticks\n";

Test(render_timeline, time_axis)
{
	struct pp_profile *p = fixture();
	struct pp_report *r = report(p);
	size_t len;
	char *svg = render(p, r, &len);
	cr_assert_eq(python_check(svg, len, axis), 0);
	free(svg);
	pp_report_free(r);
	pp_profile_free(p);
}

Test(render_timeline, empty_and_tiny_profiles)
{
	/* nothing at all */
	struct pp_profile *p = pp_profile_new();
	struct pp_report *r = report(p);
	size_t len;
	char *svg = render(p, r, &len);
	cr_assert_not_null(strstr(svg, ">No samples</text>"), "%s", svg);
	cr_assert_eq(python_check(svg, len, parses), 0);
	free(svg);
	pp_report_free(r);
	pp_profile_free(p);

	/* a thread without samples, and one with a single sample, no Python
	 * frames, duration 0, rate 0 */
	p = pp_profile_new();
	struct pp_pthread t0 = {1, 1, 0, 0}, t1 = {1, 2, pp_profile_str(p, "one"), 0};
	pp_profile_thread(p, &t0);
	uint32_t th = pp_profile_thread(p, &t1);
	sample(p, 0, th, PP_EMPTY_STACK, PP_SGIL_UNKNOWN, PP_SOS_UNKNOWN);
	r = report(p);
	svg = render(p, r, &len);
	cr_assert_eq(python_check(svg, len, parses), 0, "%s", svg);
	cr_assert_not_null(strstr(svg, ">2 one</text>"));
	cr_assert_not_null(strstr(svg, "<title>unknown 10.0 ms from 0.000 s (1 sample)</title>"));
	free(svg);
	pp_report_free(r);
	pp_profile_free(p);
}

/* A sample lasts until the next one of its thread when that comes within
 * three intervals (jitter, missed ticks), else one interval: a thread
 * that stops being sampled leaves a gap. */
Test(render_timeline, missed_ticks_are_bridged_longer_gaps_are_not)
{
	struct pp_profile *p = pp_profile_new();
	pp_profile_meta(p)->rate_hz = 100;
	pp_profile_meta(p)->duration_ns = 200000000ull;
	struct pp_pthread pt = {1, 7, 0, 0};
	uint32_t th = pp_profile_thread(p, &pt);
	static const uint64_t at[] = {0, 10, 21, 50, 100, 110};
	for (size_t i = 0; i < sizeof at / sizeof *at; i++)
		sample(p, at[i], th, PP_EMPTY_STACK, PP_SGIL_HELD, PP_SOS_RUNNING);
	struct pp_report *r = report(p);
	size_t len;
	char *svg = render(p, r, &len);
	cr_assert_not_null(strstr(svg, "<title>held 60.0 ms from 0.000 s (4 samples)</title>"),
			   "%s", svg);
	cr_assert_not_null(strstr(svg, "<title>held 20.0 ms from 0.100 s (2 samples)</title>"));
	cr_assert_not_null(strstr(svg, ">7</text>"), "an unnamed thread is its TID");
	free(svg);
	pp_report_free(r);
	pp_profile_free(p);
}

/* A report that does not match its profile: stacks, threads and holders
 * that do not exist, zero durations, times far past the end. */
Test(render_timeline, survives_a_report_naming_what_does_not_exist)
{
	struct pp_profile *p = fixture();
	struct pp_report *real = report(p);
	struct pp_report r = *real;
	struct pp_report_thread threads[3];
	memcpy(threads, real->threads, sizeof threads);
	threads[2].event_loop = true; /* a loop band without loop samples */
	r.threads = threads;
	struct pp_gil_wait waits[] = {
		{1, 100000000, 50000000, 7, 99999},     /* holder and stack unknown */
		{0, 0, 0, -1, 0},                        /* zero long */
		{9, 0, 1000, 0, 1},                      /* no such thread */
		{2, UINT64_MAX - 5, 10, 1, UINT32_MAX},  /* far past the end */
	};
	struct pp_stall stalls[] = {
		{0, 500000000, 300000000, 30, 123456, "ghost<task>", 99, {"other<"}, 9, NULL, 0},
		{2, 0, 0, 0, 0, NULL, 0, {NULL}, 0, NULL, 0},
		{5, 0, 10, 1, 1, NULL, 0, {NULL}, 0, NULL, 0},
		{0, UINT64_MAX - 1, UINT64_MAX, 1, 3, "late", 2, {NULL}, 0, NULL, UINT64_MAX},
	};
	r.waits = waits;
	r.nwaits = sizeof waits / sizeof *waits;
	r.stalls = stalls;
	r.nstalls = sizeof stalls / sizeof *stalls;
	r.nstacks = 0; /* every loop state unknown */
	r.interval_ns = 0;
	size_t len;
	char *svg = render(p, &r, &len);
	cr_assert_eq(python_check(svg, len, parses), 0);
	cr_assert_not_null(strstr(svg, "running ghost&lt;task&gt; (also other&lt;, ...):\n"
				       "(no Python frames)</title>"), "%s", svg);
	cr_assert_not_null(strstr(svg, "waited 50.0 ms, from 0.100 s; no holder seen</title>"));
	free(svg);
	pp_report_free(real);
	pp_profile_free(p);
}

/* Ten threads over ten minutes at 100 Hz, flipping state at every sample
 * in one thread and every few in the others: the boxes stay about one per
 * pixel. */
Test(render_timeline, long_recordings_stay_small)
{
	struct pp_profile *p = pp_profile_new();
	struct pp_profile_meta *m = pp_profile_meta(p);
	m->rate_hz = 100;
	m->duration_ns = 600000000000ull;
	const struct tb_fr f[] = {{"spin", APP "spin.py", 3}};
	pp_stack_id s = tb_chain(p, f, 1);
	uint32_t th[10];
	for (uint32_t t = 0; t < 10; t++) {
		struct pp_pthread pt = {1, 1000 + t, 0, 0};
		th[t] = pp_profile_thread(p, &pt);
	}
	static const int gil[] = {PP_SGIL_HELD, PP_SGIL_WAITING, PP_SGIL_RELEASED};
	for (uint64_t i = 0; i < 60000; i++) {
		/* sampling jitter: +-0.3 ms */
		uint64_t tm = i * 10000000ull + (i % 3) * 300000ull;
		for (uint32_t t = 0; t < 10; t++) {
			struct pp_psample smp = {tm, th[t], s, (uint8_t)gil[(i / (t * 7 + 1)) % 3],
						 PP_SOS_RUNNING};
			cr_assert_eq(pp_profile_add_sample(p, &smp), 0);
		}
	}
	struct pp_report *r = report(p);
	size_t len;
	char *svg = render(p, r, &len);
	size_t rects = 0;
	for (const char *c = svg; (c = strstr(c, "<rect")) != NULL; c++)
		rects++;
	cr_assert_lt(rects, 10 * 2 * 980 + 100, "%zu boxes", rects);
	cr_assert_lt(len, 3u << 20, "%zu bytes", len);
	cr_assert_eq(python_check(svg, len, parses), 0);
	cr_assert_not_null(strstr(svg, "<title>mixed "));
	free(svg);
	pp_report_free(r);
	pp_profile_free(p);
}

Test(render_timeline, write_errors_return_minus_one)
{
	struct pp_profile *p = fixture();
	struct pp_report *r = report(p);
	FILE *f = fopen("/dev/full", "w");
	cr_assert_not_null(f);
	cr_assert_eq(pp_render_timeline(p, r, 100000000ull, f), -1);
	fclose(f);
	pp_report_free(r);
	pp_profile_free(p);
}
