/* The flame graph SVG (render/flamegraph.c): a fixed profile rendered and
 * compared byte for byte with fixtures/golden/profile.svg, then checked for
 * what the bytes mean: well-formed XML, sample counts that add up, escaping,
 * pruning, determinism, the empty profile and write errors.
 *
 * To regenerate the golden file after an intended change:
 *   PYPROBE_UPDATE_GOLDEN=1 meson test -C BUILD render_flamegraph
 * then look at it in a browser and read the diff before committing it.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "render/render.h"
#include "render/short_filename.h"
#include "tests/profile_build.h"
#include "tests/support.h"
#include "src/profile.h"

#define APP "/home/dev/app/"
#define STD "/usr/lib/python3.11/"
#define VENV "/home/dev/.venv/lib/python3.11/site-packages/"
#define DEB "/usr/lib/python3/dist-packages/"

static void add(struct pp_profile *p, uint64_t *t, uint32_t th, pp_stack_id s, int gil, int os,
		int times)
{
	for (int i = 0; i < times; i++) {
		struct pp_psample smp = {(*t)++ * 10000000ull, th, s, (uint8_t)gil, (uint8_t)os};
		cr_assert_eq(pp_profile_add_sample(p, &smp), 0);
	}
}

/* Three threads of one process: nested stacks through user code, the
 * standard library and two kinds of third-party install; a non-ASCII
 * function and file, a name with <&"> and a control character, a file with
 * a byte that is not UTF-8; GIL waiters and releasers; sleeping samples (not
 * kept by default); one frame too narrow to draw; a deep recursion. */
static struct pp_profile *fixture(void)
{
	struct pp_profile *p = pp_profile_new();
	cr_assert_not_null(p);
	struct pp_profile_meta *m = pp_profile_meta(p);
	m->cmdline = pp_profile_str(p, "python3 app/main.py --workers 2");
	m->python_version = pp_profile_str(p, "3.11.7");
	m->pid = 4242;
	m->rate_hz = 100;
	m->duration_ns = 123456789012ull;

	pp_str_id cmd = m->cmdline;
	struct pp_pthread t0 = {4242, 4242, pp_profile_str(p, "MainThread"), cmd};
	struct pp_pthread t1 = {4242, 4250, pp_profile_str(p, "trabajador-ñ"), cmd};
	struct pp_pthread t2 = {4242, 4251, 0, cmd};
	uint32_t a = pp_profile_thread(p, &t0), b = pp_profile_thread(p, &t1),
		 c = pp_profile_thread(p, &t2);

	const struct tb_fr base[] = {{"<module>", APP "main.py", 40}, {"main", APP "main.py", 31}};
	const struct tb_fr json[] = {base[0], base[1],
				  {"load_config", APP "config.py", 12},
				  {"loads", STD "json/__init__.py", 346},
				  {"JSONDecoder.decode", STD "json/decoder.py", 337},
				  {"JSONDecoder.raw_decode", STD "json/decoder.py", 353}};
	const struct tb_fr numpy[] = {base[0], base[1],
				   {"compute", APP "work.py", 8},
				   {"dot", VENV "numpy/core/multiarray.py", 741}};
	const struct tb_fr requests[] = {base[0], base[1],
				      {"fetch", APP "net.py", 20},
				      {"get", DEB "requests/api.py", 73},
				      {"request", DEB "requests/api.py", 59},
				      {"Session.send", DEB "requests/sessions.py", 703},
				      {"socket.recv_into", STD "socket.py", 706}};
	const struct tb_fr unicode[] = {base[0], base[1],
				     {"Clase.función_ñ", "/srv/应用/módulo.py", 7},
				     {"计算", "/srv/应用/módulo.py", 15}};
	const struct tb_fr awkward[] = {base[0], base[1],
				     {"Cls.<lambda>&\"q\"\tx", "<string>", 1},
				     {"bad\x01name", APP "bad\xffpath.py", 2}};
	const struct tb_fr frozen[] = {{"<module>", "<frozen importlib._bootstrap>", 1241},
				    {"_find_and_load", "<frozen importlib._bootstrap>", 1176}};
	const struct tb_fr worker[] = {{"Thread._bootstrap", STD "threading.py", 995},
				    {"Thread.run", STD "threading.py", 975},
				    {"worker_loop", APP "work.py", 30}};
	const struct tb_fr narrow[] = {base[0], base[1], {"tiny", APP "tiny.py", 1}};

	uint64_t t = 0;
	add(p, &t, a, tb_chain(p, json, 6), PP_SGIL_HELD, PP_SOS_RUNNING, 3000);
	add(p, &t, a, tb_chain(p, json, 5), PP_SGIL_HELD, PP_SOS_RUNNING, 1200);
	add(p, &t, a, tb_chain(p, json, 3), PP_SGIL_HELD, PP_SOS_RUNNING, 400);
	add(p, &t, a, tb_chain(p, numpy, 4), PP_SGIL_RELEASED, PP_SOS_RUNNING, 2500);
	add(p, &t, a, tb_chain(p, numpy, 3), PP_SGIL_HELD, PP_SOS_RUNNING, 300);
	add(p, &t, a, tb_chain(p, requests, 7), PP_SGIL_RELEASED, PP_SOS_RUNNING, 900);
	add(p, &t, a, tb_chain(p, requests, 7), PP_SGIL_RELEASED, PP_SOS_SLEEPING, 5000);
	add(p, &t, a, tb_chain(p, unicode, 4), PP_SGIL_HELD, PP_SOS_RUNNING, 700);
	add(p, &t, a, tb_chain(p, unicode, 3), PP_SGIL_HELD, PP_SOS_RUNNING, 150);
	add(p, &t, a, tb_chain(p, awkward, 4), PP_SGIL_HELD, PP_SOS_RUNNING, 220);
	add(p, &t, a, tb_chain(p, awkward, 3), PP_SGIL_HELD, PP_SOS_RUNNING, 40);
	add(p, &t, a, tb_chain(p, narrow, 3), PP_SGIL_HELD, PP_SOS_RUNNING, 1);
	add(p, &t, a, tb_chain(p, frozen, 2), PP_SGIL_HELD, PP_SOS_RUNNING, 90);

	pp_stack_id w = tb_chain(p, worker, 3);
	add(p, &t, b, w, PP_SGIL_HELD, PP_SOS_RUNNING, 600);
	add(p, &t, b, w, PP_SGIL_WAITING, PP_SOS_SLEEPING, 1500);
	/* a recursion twelve deep under the worker */
	pp_stack_id r = w;
	for (int d = 0; d < 12; d++) {
		r = pp_profile_stack(p, r, tb_py(p, "fib", APP "work.py", 50 + (d ? 2 : 0)));
		cr_assert_neq(r, UINT32_MAX);
		add(p, &t, b, r, PP_SGIL_HELD, PP_SOS_RUNNING, 60);
	}
	add(p, &t, c, tb_chain(p, worker, 2), PP_SGIL_WAITING, PP_SOS_SLEEPING, 350);
	add(p, &t, c, tb_chain(p, worker, 3), PP_SGIL_HELD, PP_SOS_RUNNING, 480);
	return p;
}

static const struct pp_render_opts golden_opts = {
	.view = {.threads = true, .gil_markers = true},
};

/* Render into memory; returns a NUL-terminated malloc'd buffer. */
static char *render(const struct pp_profile *p, const struct pp_render_opts *o, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	cr_assert_not_null(f);
	cr_assert_eq(pp_render_flamegraph(p, o, f), 0);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

static int count_one(const struct pp_view_frame *const *f, size_t n,
		     const struct pp_psample *s, void *ctx)
{
	(void)f, (void)n, (void)s;
	++*(size_t *)ctx;
	return 0;
}

/* What the view keeps, counted independently of the renderer. */
static size_t kept(const struct pp_profile *p, const struct pp_view_opts *o)
{
	struct pp_view *v = pp_view_new(p, o);
	cr_assert_not_null(v);
	size_t n = 0;
	cr_assert_eq(pp_view_each(v, count_one, &n), 0);
	cr_assert_eq(pp_view_nsamples(v), n);
	pp_view_free(v);
	return n;
}

Test(render_flamegraph, golden_and_deterministic)
{
	struct pp_profile *p = fixture();
	size_t len, len2;
	char *got = render(p, &golden_opts, &len);
	char *again = render(p, &golden_opts, &len2);
	int same = len2 == len && memcmp(again, got, len) == 0;
	free(again);

	size_t at;
	int match = ts_matches_golden("profile.svg", got, len, &at);
	free(got);
	pp_profile_free(p);
	cr_assert(same, "two renders of one profile differ");
	cr_assert(match,
		  "profile.svg differs from fixtures/golden/profile.svg at byte %zu; output "
		  "written to profile.svg.actual in the test's working directory", at);
}

/* Run python3 on a script with the SVG's path and extra arguments; returns
 * its exit status. */
static int python_check(const char *svg, size_t len, const char *script, const char *args)
{
	char path[] = "/tmp/pyprobe-fg-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, svg, len), (ssize_t)len);
	close(fd);
	char cmd[512];
	snprintf(cmd, sizeof cmd, "python3 - '%s' %s", path, args);
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

/* Frames as the script sees them: title counts agree with data-n, the
 * root's count is the kept samples, every frame sits inside its parent and
 * a parent covers at least its children's samples. */
static const char counts[] =
	"import re, sys, xml.dom.minidom\n"
	"doc = xml.dom.minidom.parse(sys.argv[1])\n"
	"kept = int(sys.argv[2])\n"
	"box = [g for g in doc.getElementsByTagName('g') if g.getAttribute('id') == 'frames'][0]\n"
	"assert int(box.getAttribute('data-total')) == kept\n"
	"frames = []\n"
	"for g in box.getElementsByTagName('g'):\n"
	"    title = g.getElementsByTagName('title')[0].firstChild.data\n"
	"    m = re.fullmatch(r'(.*) \\((\\d+) samples, (\\d+\\.\\d\\d)%\\)', title, re.S)\n"
	"    assert m, title\n"
	"    n = int(m.group(2))\n"
	"    assert n == int(g.getAttribute('data-n')), title\n"
	"    assert abs(float(m.group(3)) - 100 * n / kept) <= 0.005 + 1e-9, title\n"
	"    y = int(g.getElementsByTagName('rect')[0].getAttribute('y'))\n"
	"    frames.append((y, int(g.getAttribute('data-x')), n, m.group(1)))\n"
	"root = frames[0]\n"
	"assert root[3] == 'all' and root[2] == kept and root[1] == 0, root\n"
	"assert max(f[0] for f in frames) == root[0], 'the root is the bottom row'\n"
	"for y, x, n, label in frames[1:]:\n"
	"    parents = [f for f in frames if f[0] == y + 16 and f[1] <= x and x + n <= f[1] + f[2]]\n"
	"    assert len(parents) == 1, label\n"
	"for py, px, pn, plabel in frames:\n"
	"    kids = sorted(f for f in frames if f[0] == py - 16 and px <= f[1] < px + pn)\n"
	"    assert sum(k[2] for k in kids) <= pn, plabel\n"
	"    for a, b in zip(kids, kids[1:]):\n"
	"        assert a[1] + a[2] <= b[1], (a, b)\n"
	"        assert a[3] < b[3], ('children in label order', a[3], b[3])\n"
	"print(len(frames))\n";

Test(render_flamegraph, well_formed_and_counts_add_up)
{
	struct pp_profile *p = fixture();
	size_t len;
	char *svg = render(p, &golden_opts, &len);
	cr_assert_eq(python_check(svg, len, parses, ""), 0, "not well-formed XML");
	char arg[32];
	snprintf(arg, sizeof arg, "%zu", kept(p, &golden_opts.view));
	cr_assert_eq(python_check(svg, len, counts, arg), 0, "the frames' counts do not add up");
	free(svg);

	/* the same for other views of the profile */
	const struct pp_render_opts others[] = {
		{.view = {0}},
		{.view = {.idle = true, .nolineno = true}},
		{.view = {.gil_only = true, .processes = true, .threads = true}},
	};
	for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
		svg = render(p, &others[i], &len);
		snprintf(arg, sizeof arg, "%zu", kept(p, &others[i].view));
		cr_assert_eq(python_check(svg, len, counts, arg), 0, "view %zu", i);
		free(svg);
	}
	pp_profile_free(p);
}

Test(render_flamegraph, escapes_and_passes_utf8_through)
{
	struct pp_profile *p = fixture();
	size_t len;
	char *svg = render(p, &golden_opts, &len);
	/* <&"> escaped, the tab and \x01 gone, the bad byte replaced */
	cr_assert_not_null(strstr(svg, "<title>Cls.&lt;lambda&gt;&amp;&quot;q&quot;x (&lt;string&gt;:1)"));
	cr_assert_not_null(strstr(svg, "<title>badname (/home/dev/app/bad\xEF\xBF\xBDpath.py:2)"));
	cr_assert_null(strstr(svg, "<lambda>"));
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)svg[i];
		cr_assert(ch >= 0x20 || ch == '\n', "control character %#x at byte %zu", ch, i);
		cr_assert_neq(ch, 0xFF);
	}
	/* UTF-8 as is */
	cr_assert_not_null(strstr(svg, "<title>Clase.función_ñ (/srv/应用/módulo.py:7)"));
	cr_assert_not_null(strstr(svg, "<title>计算 (/srv/应用/módulo.py:15)"));
	cr_assert_not_null(strstr(svg, "thread 4250 &quot;trabajador-ñ&quot;"));
	/* titles, subtitle, markers, script */
	cr_assert_not_null(strstr(svg, ">pyprobe</text>"));
	cr_assert_not_null(strstr(svg, "python3 app/main.py --workers 2 · Python 3.11.7 · "
				       "123.46 s · 13151 samples (of 18151) at 100 Hz"));
	cr_assert_not_null(strstr(svg, "<title>[waiting for GIL] ("));
	cr_assert_not_null(strstr(svg, "<title>[GIL released] ("));
	cr_assert_not_null(strstr(svg, "<script type=\"text/ecmascript\"><![CDATA["));
	/* too narrow to draw: 1 sample of 13151 is < 0.1 px of 1180 */
	cr_assert_null(strstr(svg, "tiny"));
	/* a narrow frame's label is cut with ".." */
	cr_assert_not_null(strstr(svg, "..</text>"));
	free(svg);

	/* the caller's title and subtitle, escaped */
	struct pp_render_opts o = golden_opts;
	o.title = "a <b> & \"c\"";
	o.subtitle = "sub\ttitle ü";
	svg = render(p, &o, &len);
	cr_assert_not_null(strstr(svg, ">a &lt;b&gt; &amp; &quot;c&quot;</text>"));
	cr_assert_not_null(strstr(svg, ">subtitle ü</text>"));
	cr_assert_eq(python_check(svg, len, parses, ""), 0);
	free(svg);
	pp_profile_free(p);
}

/* U+0000 in names (the bytes C0 80, reader/pystring.h) is a control
 * character like the others: XML cannot hold it, so it is left out, and
 * the rest of the name is kept. */
Test(render_flamegraph, nul_in_names_is_left_out_like_other_controls)
{
	struct pp_profile *p = pp_profile_new();
	cr_assert_not_null(p);
	pp_profile_meta(p)->rate_hz = 100;
	struct pp_pthread th = {42, 42, pp_profile_str(p, "M\xc0\x80T"),
				pp_profile_str(p, "python3 x.py")};
	uint32_t t = pp_profile_thread(p, &th);
	pp_frame_id f[] = {tb_py(p, "main", "x.py", 1),
			   tb_py(p, "Q\xc0\x80R.a\xc0\x80" "b", "/tmp/x\xc0\x80y.py", 7)};
	uint64_t at = 0;
	add(p, &at, t, tb_stack(p, f, 2), PP_SGIL_HELD, PP_SOS_RUNNING, 3);
	size_t len;
	char *svg = render(p, &golden_opts, &len);
	cr_assert_not_null(strstr(svg, "<title>QR.ab (/tmp/xy.py:7)"), "%.4000s", svg);
	cr_assert_not_null(strstr(svg, "thread 42 &quot;MT&quot;"));
	cr_assert_null(memchr(svg, 0xC0, len), "C0 80 left in the SVG");
	cr_assert_eq(python_check(svg, len, parses, ""), 0);
	free(svg);
	pp_profile_free(p);
}

Test(render_flamegraph, colours_by_package)
{
	struct pp_profile *p = fixture();
	size_t len;
	char *svg = render(p, &golden_opts, &len);
	static const char script[] =
		"import re, sys, xml.dom.minidom\n"
		"doc = xml.dom.minidom.parse(sys.argv[1])\n"
		"fill = {}\n"
		"for g in doc.getElementsByTagName('g'):\n"
		"    if not g.getAttribute('data-n'): continue\n"
		"    t = g.getElementsByTagName('title')[0].firstChild.data\n"
		"    rgb = tuple(map(int, re.findall(r'\\d+', g.getElementsByTagName('rect')[0].getAttribute('fill'))))\n"
		"    fill[t.rsplit(' (', 2)[0]] = rgb\n"
		"def fam(r, g, b):\n"
		"    if r == g == b or (abs(r - g) < 12 and abs(g - b) < 30): return 'grey'\n"
		"    if r > 200 and b < 100 and g > 60: return 'warm'\n"
		"    if b >= 200 and b > r: return 'blue'\n"
		"    if g >= 170 and g > r and g > b: return 'green'\n"
		"    if r > 200 and g < 60: return 'red'\n"
		"    return 'other'\n"
		"want = {'main': 'warm', 'load_config': 'warm', 'worker_loop': 'warm', 'tiny': None,\n"
		"        'loads': 'blue', 'JSONDecoder.decode': 'blue', 'Thread.run': 'blue',\n"
		"        '_find_and_load': 'blue', 'socket.recv_into': 'blue',\n"
		"        'dot': 'green', 'get': 'green', 'Session.send': 'green',\n"
		"        'all': 'grey', 'thread 4242 \"MainThread\"': 'grey', '[GIL released]': 'grey',\n"
		"        '[waiting for GIL]': 'red'}\n"
		"for name, f in want.items():\n"
		"    if f is None:\n"
		"        assert name not in fill\n"
		"        continue\n"
		"    assert fam(*fill[name]) == f, (name, fill[name], f)\n"
		"assert fill['main'] != fill['load_config'], 'shades vary by name'\n";
	cr_assert_eq(python_check(svg, len, script, ""), 0);
	free(svg);
	pp_profile_free(p);
}

Test(render_flamegraph, empty_profile_says_no_samples)
{
	struct pp_profile *p = pp_profile_new();
	size_t len;
	char *svg = render(p, NULL, &len);
	cr_assert_not_null(strstr(svg, ">No samples</text>"), "%s", svg);
	cr_assert_eq(python_check(svg, len, parses, ""), 0);
	free(svg);
	pp_profile_free(p);

	/* samples, but none kept by the view: all asleep */
	p = pp_profile_new();
	struct pp_pthread t = {1, 1, 0, 0};
	struct pp_render_opts o = {.view = {0}};
	uint32_t th = pp_profile_thread(p, &t);
	const struct tb_fr f[] = {{"f", "x.py", 1}};
	uint64_t tm = 0;
	add(p, &tm, th, tb_chain(p, f, 1), PP_SGIL_RELEASED, PP_SOS_SLEEPING, 3);
	svg = render(p, &o, &len);
	cr_assert_not_null(strstr(svg, ">No samples</text>"), "%s", svg);
	cr_assert_not_null(strstr(svg, "0 samples (of 3)"), "%s", svg);
	cr_assert_eq(python_check(svg, len, parses, ""), 0);
	free(svg);
	pp_profile_free(p);
}

Test(render_flamegraph, write_errors_return_minus_one)
{
	struct pp_profile *p = fixture();
	FILE *f = fopen("/dev/full", "w");
	cr_assert_not_null(f);
	cr_assert_eq(pp_render_flamegraph(p, &golden_opts, f), -1);
	fclose(f);
	pp_profile_free(p);
}

/* Labels name files short and module-relative by default (py-spy's habit),
 * as recorded with --full-filenames. */
Test(render_flamegraph, short_and_full_filenames)
{
	struct pp_profile *p = fixture();
	struct pp_render_opts o = golden_opts;
	size_t len;
	char *svg = render(p, &o, &len);
	cr_assert(strstr(svg, ">Session.send (requests/sessions.py:703) ("), "short names");
	cr_assert(strstr(svg, ">Thread.run (threading.py:975) ("), "short names");
	cr_assert_null(strstr(svg, "site-packages"), "site-packages in a label");
	free(svg);
	o.full_filenames = true;
	svg = render(p, &o, &len);
	cr_assert(strstr(svg, ">Session.send (/usr/lib/python3/dist-packages/requests/sessions.py:703) ("));
	cr_assert(strstr(svg, ">dot (/home/dev/.venv/lib/python3.11/site-packages/numpy/core/"
			      "multiarray.py:741) ("));
	free(svg);
	pp_profile_free(p);
}

Test(render_flamegraph, short_filename_rules)
{
	static const char *const cases[][3] = {
		/* file, cwd, shown */
		{"/usr/lib/python3/dist-packages/requests/api.py", NULL, "requests/api.py"},
		{"/v/lib/python3.12/site-packages/a/site-packages/b.py", "/v", "b.py"},
		{"/root/.pyenv/versions/3.12.1/lib/python3.12/threading.py", NULL, "threading.py"},
		{"/usr/lib64/python3.13t/asyncio/events.py", NULL, "asyncio/events.py"},
		{"/usr/lib/python3.11/", NULL, "/usr/lib/python3.11/"},
		{"/usr/lib/pythonX.Y/x.py", NULL, "/usr/lib/pythonX.Y/x.py"},
		{"/srv/app/main.py", "/srv/app", "main.py"},
		{"/srv/app/main.py", "/srv/app/", "main.py"},
		{"/srv/application.py", "/srv/app", "/srv/application.py"},
		{"/srv/app/main.py", "/", "/srv/app/main.py"},
		{"/srv/app/main.py", "", "/srv/app/main.py"},
		{"<frozen runpy>", "/srv", "<frozen runpy>"},
		{"app.py", "/srv", "app.py"},
		{"", "/srv", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		cr_expect_str_eq(pp_short_filename(cases[i][0], cases[i][1]), cases[i][2], "%s in %s",
				 cases[i][0], cases[i][1] ? cases[i][1] : "(null)");
}
