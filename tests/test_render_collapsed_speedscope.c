/* render/collapsed.c and render/speedscope.c: a fixed profile with awkward
 * names and every sample state, compared byte for byte with golden files in
 * fixtures/golden/, then checked for meaning: the collapsed counts and the
 * speedscope weights add up to the samples the view keeps, under several
 * option sets, and speedscope's stacks read back as the collapsed lines.
 *
 * To regenerate the golden files after an intended format change:
 *   PYPROBE_UPDATE_GOLDEN=1 meson test -C BUILD render_collapsed_speedscope
 * then read the diff before committing it.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "render/render.h"
#include "tests/profile_build.h"
#include "tests/support.h"

typedef int (*renderer)(const struct pp_profile *, const struct pp_render_opts *, FILE *);

static uint32_t thread(struct pp_profile *p, uint32_t pid, uint64_t tid, const char *name,
		       const char *cmd)
{
	struct pp_pthread t = {pid, tid, name ? pp_profile_str(p, name) : 0,
			       pp_profile_str(p, cmd)};
	return pp_profile_thread(p, &t);
}

#define NSAMPLES 16 /* in the fixture; 14 of them have Python frames */

/* Two processes, five threads; frames with and without lines, names with
 * ';', control characters, quotes, non-ASCII and bytes that are not UTF-8;
 * every GIL and OS state; samples without Python frames. */
static struct pp_profile *fixture(void)
{
	struct pp_profile *p = pp_profile_new();
	cr_assert_not_null(p);
	struct pp_profile_meta *m = pp_profile_meta(p);
	m->cmdline = pp_profile_str(p, "python3 app.py --workers 4");
	m->pid = 4242;
	m->rate_hz = 100;
	m->duration_ns = 200000000;

	const char *cmd = "python3 app.py --workers 4";
	uint32_t t_main = thread(p, 4242, 4242, "MainThread", cmd);
	uint32_t t_work = thread(p, 4242, 4250, "wörker-ñ 线程", cmd);
	uint32_t t_anon = thread(p, 4242, 4251, NULL, cmd);
	uint32_t t_idle = thread(p, 4242, 4252, "idle \"pool\"", cmd);
	uint32_t t_child = thread(p, 4300, 4300, "MainThread", "python3 child.py");

	pp_frame_id mod = tb_py(p, "<module>", "app.py", 40);
	pp_frame_id main_ = tb_py(p, "main", "app.py", 30);
	pp_frame_id compute = tb_py(p, "compute", "app.py", 12);
	pp_frame_id compute13 = tb_py(p, "compute", "app.py", 13);
	/* a ';' in a directory name, and no line */
	pp_frame_id parse = tb_py(p, "Codec.parse", "/srv/a;b/codec.py", -1);
	/* newline, tab and a terminal escape in a name */
	pp_frame_id weird = tb_py(p, "weird\nname\t\x1b[31m", "/srv/app/x.py", 5);
	pp_frame_id func = tb_py(p, "Clase.función_ñ", "/srv/app/módulo.py", 7);
	pp_frame_id han = tb_py(p, "函数", "/srv/应用/𠀀.py", 99);
	/* not UTF-8: a stray byte, an overlong encoding */
	pp_frame_id bad = tb_py(p, "bad\xff", "/srv/app/\xc0\xafz.py", 3);
	pp_frame_id quote = tb_py(p, "say \"hi\"\\", "/srv/q.py", 1);
	pp_frame_id wait = tb_py(p, "Condition.wait", "/usr/lib/python3.11/threading.py", 320);

	pp_stack_id s_c12 = TB_STACK(p, mod, main_, compute);
	pp_stack_id s_c13 = TB_STACK(p, mod, main_, compute13);
	pp_stack_id s_parse = TB_STACK(p, mod, main_, parse);
	pp_stack_id s_weird = TB_STACK(p, mod, main_, weird);
	pp_stack_id s_han = TB_STACK(p, func, han);
	pp_stack_id s_bad = TB_STACK(p, func, han, bad);
	pp_stack_id s_quote = TB_STACK(p, quote);
	pp_stack_id s_wait = TB_STACK(p, wait);

	const struct pp_psample s[NSAMPLES] = {
		{10000000, t_main, s_c12, PP_SGIL_HELD, PP_SOS_RUNNING},
		{20000000, t_main, s_c12, PP_SGIL_HELD, PP_SOS_RUNNING},
		{30000000, t_main, s_c13, PP_SGIL_HELD, PP_SOS_RUNNING},
		{40000000, t_main, s_parse, PP_SGIL_HELD, PP_SOS_RUNNING},
		{50000000, t_main, PP_EMPTY_STACK, PP_SGIL_HELD, PP_SOS_RUNNING},
		{60000000, t_main, s_weird, PP_SGIL_HELD, PP_SOS_RUNNING},
		{70000000, t_work, s_han, PP_SGIL_WAITING, PP_SOS_SLEEPING},
		{80000000, t_work, s_han, PP_SGIL_RELEASED, PP_SOS_RUNNING},
		{90000000, t_work, s_bad, PP_SGIL_HELD, PP_SOS_RUNNING},
		{100000000, t_anon, s_quote, PP_SGIL_RELEASED, PP_SOS_DISK},
		{110000000, t_anon, s_quote, PP_SGIL_UNKNOWN, PP_SOS_UNKNOWN},
		{120000000, t_idle, s_wait, PP_SGIL_RELEASED, PP_SOS_SLEEPING},
		{130000000, t_idle, s_wait, PP_SGIL_RELEASED, PP_SOS_STOPPED},
		{140000000, t_child, s_c12, PP_SGIL_HELD, PP_SOS_RUNNING},
		{150000000, t_child, PP_EMPTY_STACK, PP_SGIL_RELEASED, PP_SOS_SLEEPING},
		{160000000, t_anon, s_quote, PP_SGIL_RELEASED, PP_SOS_ZOMBIE},
	};
	for (size_t i = 0; i < NSAMPLES; i++)
		cr_assert_eq(pp_profile_add_sample(p, &s[i]), 0);
	return p;
}

/* What the golden files show: everything the model can put in a stack. */
static const struct pp_render_opts golden_opts = {
	.view = {.idle = true, .threads = true, .gil_markers = true},
};

/* Option sets whose outputs are checked for meaning. */
static const struct pp_view_opts option_sets[] = {
	{0},
	{.idle = true, .threads = true, .gil_markers = true},
	{.gil_only = true},
	{.idle = true, .nolineno = true},
	{.idle = true, .threads = true, .processes = true},
	{.gil_markers = true},
};

static char *render(renderer fn, const struct pp_profile *p, const struct pp_render_opts *o,
		    size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	cr_assert_not_null(f);
	cr_assert_eq(fn(p, o, f), 0);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

/* The samples the view keeps, counted by the model itself. */
static int count_cb(const struct pp_view_frame *const *f, size_t n, const struct pp_psample *s,
		    void *ctx)
{
	(void)f, (void)n, (void)s, (void)ctx;
	return 0;
}

static size_t kept(const struct pp_profile *p, const struct pp_view_opts *o)
{
	struct pp_view *v = pp_view_new(p, o);
	cr_assert_not_null(v);
	cr_assert_eq(pp_view_each(v, count_cb, NULL), 0);
	size_t n = pp_view_nsamples(v);
	pp_view_free(v);
	return n;
}

static void check_golden(renderer fn, const char *name)
{
	struct pp_profile *p = fixture();
	size_t len, at;
	char *got = render(fn, p, &golden_opts, &len);
	if (!ts_matches_golden(name, got, len, &at)) {
		/* Free first: a leak report would bury the message. */
		free(got);
		pp_profile_free(p);
		cr_assert_fail("%s differs from the golden file at byte %zu; output written "
			       "to %s.actual in the test's working directory",
			       name, at, name);
	}

	/* Same input, same bytes. */
	size_t len2;
	char *again = render(fn, p, &golden_opts, &len2);
	cr_assert_eq(len2, len);
	cr_assert_eq(memcmp(again, got, len), 0);
	free(again);
	free(got);
	pp_profile_free(p);
}

Test(render_collapsed, golden)
{
	check_golden(pp_render_collapsed, "profile.collapsed");
}

Test(render_speedscope, golden)
{
	check_golden(pp_render_speedscope, "profile.speedscope.json");
}

/* The default view, in full: idle samples and samples without Python
 * frames are gone, the same stack from two threads is one line, and the
 * separators in names are neutralised. */
Test(render_collapsed, default_view)
{
	struct pp_profile *p = fixture();
	struct pp_render_opts o = {0};
	size_t len;
	char *text = render(pp_render_collapsed, p, &o, &len);
	cr_assert_str_eq(text,
			 "<module> (app.py:40);main (app.py:30);Codec.parse (/srv/a:b/codec.py) 1\n"
			 "<module> (app.py:40);main (app.py:30);compute (app.py:12) 3\n"
			 "<module> (app.py:40);main (app.py:30);compute (app.py:13) 1\n"
			 "<module> (app.py:40);main (app.py:30);weird?name??[31m (/srv/app/x.py:5) 1\n"
			 "Clase.función_ñ (/srv/app/módulo.py:7);函数 (/srv/应用/𠀀.py:99) 1\n"
			 "Clase.función_ñ (/srv/app/módulo.py:7);函数 (/srv/应用/𠀀.py:99);"
			 "bad\xff (/srv/app/\xc0\xafz.py:3) 1\n"
			 "say \"hi\"\\ (/srv/q.py:1) 2\n");
	free(text);
	pp_profile_free(p);
}

/* Lines sorted like `LC_ALL=C sort` and unique; the counts sum to the
 * samples kept. Returns the sum. */
static uint64_t check_collapsed(const char *text, size_t len)
{
	uint64_t sum = 0;
	const char *prev = NULL;
	size_t prevlen = 0;
	cr_assert(len == 0 || text[len - 1] == '\n', "no trailing newline");
	for (const char *l = text; l < text + len;) {
		const char *nl = memchr(l, '\n', (size_t)(text + len - l));
		size_t n = (size_t)(nl - l);
		const char *sp = nl;
		while (sp > l && sp[-1] >= '0' && sp[-1] <= '9')
			sp--;
		cr_assert(sp < nl && sp > l + 1 && sp[-1] == ' ', "bad line: %.*s", (int)n, l);
		sum += strtoull(sp, NULL, 10);
		if (prev) {
			size_t k = prevlen < n ? prevlen : n;
			int c = memcmp(prev, l, k);
			cr_assert(c < 0 || (c == 0 && prevlen < n), "not sorted: %.*s / %.*s",
				  (int)prevlen, prev, (int)n, l);
		}
		prev = l;
		prevlen = n;
		l = nl + 1;
	}
	return sum;
}

static void write_tmp(char *path, const char *buf, size_t len)
{
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static int json_tool(const char *path)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "python3 -m json.tool '%s'", path);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	char buf[4096];
	while (fread(buf, 1, sizeof buf, p) > 0)
		;
	int status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* argv: speedscope file, collapsed file, rate, samples kept. Per profile,
 * as many weights as samples and weights that add up to whole samples;
 * the stacks, labelled the way pp_frame_label does and merged, are the
 * collapsed lines with their counts (collapsed passes bytes through that
 * JSON turns into U+FFFD, hence the 'replace'). */
static const char check_script[] =
	"import json, sys\n"
	"d = json.load(open(sys.argv[1], encoding='utf-8'))\n"
	"rate, want = float(sys.argv[3]), int(sys.argv[4])\n"
	"assert d['$schema'] == 'https://www.speedscope.app/file-format-schema.json'\n"
	"assert d['exporter'].startswith('pyprobe ') and d['activeProfileIndex'] == 0\n"
	"frames = d['shared']['frames']\n"
	"def label(f):\n"
	"    if 'file' not in f:\n"
	"        assert 'line' not in f\n"
	"        return f['name']\n"
	"    if 'line' in f:\n"
	"        return '%s (%s:%d)' % (f['name'], f['file'], f['line'])\n"
	"    return '%s (%s)' % (f['name'], f['file'])\n"
	"def clean(s):\n"
	"    return ''.join('?' if ord(c) < 32 or c == '\\x7f' else ':' if c == ';' else c\n"
	"                   for c in s)\n"
	"got, total, used = {}, 0, set()\n"
	"assert len(d['profiles']) >= 1\n"
	"for p in d['profiles']:\n"
	"    assert p['type'] == 'sampled' and p['unit'] == 'seconds', p\n"
	"    assert len(p['samples']) == len(p['weights'])\n"
	"    n = sum(p['weights']) * rate\n"
	"    assert abs(n - round(n)) < 1e-6, n\n"
	"    assert abs(p['endValue'] - p['startValue'] - sum(p['weights'])) < 1e-9\n"
	"    total += round(n)\n"
	"    for s, w in zip(p['samples'], p['weights']):\n"
	"        assert s and all(0 <= i < len(frames) for i in s), s\n"
	"        used.update(s)\n"
	"        k = ';'.join(clean(label(frames[i])) for i in s)\n"
	"        got[k] = got.get(k, 0) + w * rate\n"
	"assert used == set(range(len(frames))), 'unused frames'\n"
	"assert total == want, (total, want)\n"
	"col = {}\n"
	"for line in open(sys.argv[2], 'rb').read().decode('utf-8', 'replace').splitlines():\n"
	"    k, _, c = line.rpartition(' ')\n"
	"    col[k] = col.get(k, 0) + int(c)\n"
	"got = {k: round(v) for k, v in got.items()}\n"
	"assert got == col, (got, col)\n";

static void check_meaning(const struct pp_profile *p, const struct pp_render_opts *o,
			  double rate)
{
	size_t want = kept(p, &o->view);
	size_t clen, slen;
	char *col = render(pp_render_collapsed, p, o, &clen);
	char *ss = render(pp_render_speedscope, p, o, &slen);
	cr_assert_eq(check_collapsed(col, clen), want);

	char cpath[] = "/tmp/pyprobe-collapsed-XXXXXX", spath[] = "/tmp/pyprobe-speedscope-XXXXXX";
	char script[] = "/tmp/pyprobe-check-XXXXXX";
	write_tmp(cpath, col, clen);
	write_tmp(spath, ss, slen);
	write_tmp(script, check_script, sizeof check_script - 1);
	int tool = json_tool(spath);
	char cmd[512];
	snprintf(cmd, sizeof cmd, "python3 %s %s %s %g %zu", script, spath, cpath, rate, want);
	int status = system(cmd);
	unlink(cpath);
	unlink(spath);
	unlink(script);
	free(col);
	free(ss);
	cr_assert_eq(tool, 0, "python3 -m json.tool rejects the speedscope output");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the speedscope output does not add up (status %#x)", status);
}

Test(render_collapsed_speedscope, counts_agree_for_every_option_set)
{
	struct pp_profile *p = fixture();
	size_t nsets = sizeof option_sets / sizeof option_sets[0];
	size_t expect[] = {10, NSAMPLES - 2, 7, NSAMPLES - 2, NSAMPLES - 2, 11};
	for (size_t i = 0; i < nsets; i++) {
		struct pp_render_opts o = {.view = option_sets[i]};
		cr_assert_eq(kept(p, &o.view), expect[i], "option set %zu", i);
		check_meaning(p, &o, 100);
	}
	pp_profile_free(p);
}

/* 1/97 s is no round number: the weights still add up. A rate of 0 (not
 * recorded) is taken as 100 Hz. */
Test(render_speedscope, odd_and_missing_rates)
{
	struct pp_profile *p = fixture();
	size_t len, len0;
	pp_profile_meta(p)->rate_hz = 97;
	check_meaning(p, &golden_opts, 97);
	char *at100, *at0;
	pp_profile_meta(p)->rate_hz = 100;
	at100 = render(pp_render_speedscope, p, &golden_opts, &len);
	pp_profile_meta(p)->rate_hz = 0;
	at0 = render(pp_render_speedscope, p, &golden_opts, &len0);
	cr_assert_eq(len, len0);
	cr_assert_eq(memcmp(at100, at0, len), 0);
	cr_assert_not_null(strstr(at0, "        0.01, 0.01,"));
	free(at100);
	free(at0);
	pp_profile_free(p);
}

/* Thread profiles: only threads with kept samples, named as the thread
 * roots are; frames only those used; the file named by the title. */
Test(render_speedscope, names_and_threads)
{
	struct pp_profile *p = fixture();
	struct pp_render_opts o = {0};
	size_t len;
	char *s = render(pp_render_speedscope, p, &o, &len);
	cr_assert_not_null(strstr(s, "\n  \"name\": \"python3 app.py --workers 4\",\n"));
	cr_assert_not_null(strstr(s, "\"exporter\": \"pyprobe " PYPROBE_VERSION "\""));
	cr_assert_not_null(strstr(s, "\"name\": \"thread 4242 \\\"MainThread\\\"\""));
	cr_assert_not_null(strstr(s, "\"name\": \"thread 4250 \\\"wörker-ñ 线程\\\"\""));
	cr_assert_not_null(strstr(s, "\"name\": \"thread 4251\",\n"));
	cr_assert_not_null(strstr(s, "\"name\": \"thread 4300 \\\"MainThread\\\"\""));
	cr_assert_null(strstr(s, "4252"), "a thread with only idle samples has no profile");
	cr_assert_null(strstr(s, "[waiting for GIL]"), "unused frames are left out");
	cr_assert_null(strstr(s, "Condition.wait"));
	cr_assert_not_null(strstr(s, "{\"name\": \"Codec.parse\", \"file\": \"/srv/a;b/codec.py\"}"),
			   "no line when it is -1");
	cr_assert_not_null(strstr(s, "{\"name\": \"weird\\nname\\t\\u001b[31m\", "
				     "\"file\": \"/srv/app/x.py\", \"line\": 5}"));
	free(s);

	o.title = "mi «título»";
	s = render(pp_render_speedscope, p, &o, &len);
	cr_assert_not_null(strstr(s, "\n  \"name\": \"mi «título»\",\n"));
	free(s);
	o.title = NULL;
	pp_profile_meta(p)->title = pp_profile_str(p, "nightly run");
	s = render(pp_render_speedscope, p, &o, &len);
	cr_assert_not_null(strstr(s, "\n  \"name\": \"nightly run\",\n"));
	free(s);
	pp_profile_free(p);
}

/* A profile whose names hold U+0000, as the reader gives it: the bytes
 * C0 80 (reader/pystring.h). Stack: main -> Q\0R.a\0b in /tmp/x\0y.py. */
static struct pp_profile *nul_fixture(void)
{
	struct pp_profile *p = pp_profile_new();
	cr_assert_not_null(p);
	pp_profile_meta(p)->rate_hz = 100;
	uint32_t t = thread(p, 42, 42, "M\xc0\x80T", "python3 x.py");
	pp_frame_id f[] = {tb_py(p, "main", "x.py", 1),
			   tb_py(p, "Q\xc0\x80R.a\xc0\x80" "b", "/tmp/x\xc0\x80y.py", 7)};
	struct pp_psample s = {1, t, tb_stack(p, f, 2), PP_SGIL_HELD, PP_SOS_RUNNING};
	cr_assert_eq(pp_profile_add_sample(p, &s), 0);
	return p;
}

/* Collapsed has no escape: U+0000 becomes '?' like the other control
 * characters (one '?' for its two bytes); speedscope's JSON has \u0000.
 * Neither cuts the name at it. */
Test(render_collapsed_speedscope, nul_in_names)
{
	struct pp_profile *p = nul_fixture();
	struct pp_render_opts o = {.view = {.threads = true}};
	size_t len;
	char *text = render(pp_render_collapsed, p, &o, &len);
	cr_assert_str_eq(text, "thread 42 \"M?T\";main (x.py:1);Q?R.a?b (/tmp/x?y.py:7) 1\n");
	free(text);

	char *json = render(pp_render_speedscope, p, &o, &len);
	cr_assert_not_null(strstr(json, "{\"name\": \"Q\\u0000R.a\\u0000b\", "
					"\"file\": \"/tmp/x\\u0000y.py\", \"line\": 7}"), "%s", json);
	cr_assert_not_null(strstr(json, "\"name\": \"thread 42 \\\"M\\u0000T\\\"\""), "%s", json);
	cr_assert_null(memchr(json, 0xC0, len), "C0 80 left in the JSON");
	free(json);
	pp_profile_free(p);
}

/* Nothing recorded, or nothing kept: no collapsed lines; a speedscope
 * file that still opens, with one empty profile. */
Test(render_collapsed_speedscope, empty)
{
	struct pp_profile *empty = pp_profile_new();
	struct pp_render_opts o = {0};
	size_t len;
	char *c = render(pp_render_collapsed, empty, &o, &len);
	cr_assert_eq(len, 0);
	free(c);
	check_meaning(empty, &o, 100);
	char *s = render(pp_render_speedscope, empty, &o, &len);
	cr_assert_str_eq(s, "{\n"
			    "  \"$schema\": \"https://www.speedscope.app/file-format-schema.json\",\n"
			    "  \"exporter\": \"pyprobe " PYPROBE_VERSION "\",\n"
			    "  \"name\": \"pyprobe\",\n"
			    "  \"activeProfileIndex\": 0,\n"
			    "  \"shared\": {\n"
			    "    \"frames\": []\n"
			    "  },\n"
			    "  \"profiles\": [\n"
			    "    {\n"
			    "      \"type\": \"sampled\",\n"
			    "      \"name\": \"no samples\",\n"
			    "      \"unit\": \"seconds\",\n"
			    "      \"startValue\": 0,\n"
			    "      \"endValue\": 0,\n"
			    "      \"samples\": [],\n"
			    "      \"weights\": []\n"
			    "    }\n"
			    "  ]\n"
			    "}\n");
	free(s);
	pp_profile_free(empty);

	/* Threads and samples, none kept: only the thread holding the GIL,
	 * and it has no Python frames. */
	struct pp_profile *p = pp_profile_new();
	struct pp_psample smp = {1, thread(p, 1, 1, "MainThread", "python3"), PP_EMPTY_STACK,
				 PP_SGIL_HELD, PP_SOS_RUNNING};
	cr_assert_eq(pp_profile_add_sample(p, &smp), 0);
	smp.gil = PP_SGIL_RELEASED;
	smp.stack = TB_STACK(p, tb_py(p, "f", "f.py", 1));
	cr_assert_eq(pp_profile_add_sample(p, &smp), 0);
	o.view.gil_only = true;
	c = render(pp_render_collapsed, p, &o, &len);
	cr_assert_eq(len, 0);
	free(c);
	check_meaning(p, &o, 100);
	pp_profile_free(p);
}

static void check_write_error(renderer fn)
{
	struct pp_profile *p = fixture();
	FILE *f = fopen("/dev/full", "w");
	cr_assert_not_null(f, "/dev/full: %s", strerror(errno));
	errno = 0;
	cr_assert_eq(fn(p, &golden_opts, f), -1);
	cr_assert_eq(errno, ENOSPC, "errno = %s", strerror(errno));
	fclose(f);

	/* Unbuffered: the very first write fails, long before the end. */
	f = fopen("/dev/full", "w");
	cr_assert_not_null(f);
	setvbuf(f, NULL, _IONBF, 0);
	cr_assert_eq(fn(p, &golden_opts, f), -1);
	fclose(f);
	pp_profile_free(p);
}

Test(render_collapsed, write_error)
{
	check_write_error(pp_render_collapsed);
}

Test(render_speedscope, write_error)
{
	check_write_error(pp_render_speedscope);
}
