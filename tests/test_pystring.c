/* Strings, ints, dicts, instance attributes and thread names read out of
 * other processes.
 *
 * Three parts:
 *  - pp_ucs_to_utf8 on its own: every kind, the boundaries of each UTF-8
 *    length, invalid scalar values, and a round trip of every code point.
 *  - live interpreters (one Test each): a script builds known objects,
 *    prints their id()s and blocks on stdin while we read them with the
 *    process backend and compare with what the script said they hold.
 *  - corrupt memory: a made-up address space (random bytes, self-pointing
 *    words, and a valid object graph with random damage) must give errors
 *    or bounded results, never a crash or a hang.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"
#include "layout.h"
#include "memory.h"
#include "pyobject.h"
#include "pystring.h"
#include "thread_names.h"

/* ------------------------------------------------------------------ */
/* pp_ucs_to_utf8                                                      */

static void check_utf8(const void *data, size_t n, int kind, const char *want)
{
	char *s = pp_ucs_to_utf8(data, n, kind);
	cr_assert_not_null(s, "kind %d, %zu units: NULL", kind, n);
	cr_expect_str_eq(s, want, "kind %d", kind);
	free(s);
}

Test(ucs_to_utf8, latin1)
{
	const uint8_t d[] = {'A', 0x7F, 0x80, 0xE9, 0xFF};
	check_utf8(d, 5, 1, "A\x7f\xc2\x80\xc3\xa9\xc3\xbf");
}

Test(ucs_to_utf8, ucs2_bmp)
{
	const uint16_t d[] = {0x41, 0xE9, 0x7FF, 0x800, 0x51FD, 0xFFFD, 0xFFFF};
	check_utf8(d, 7, 2,
		   "A\xc3\xa9\xdf\xbf\xe0\xa0\x80\xe5\x87\xbd\xef\xbf\xbd\xef\xbf\xbf");
}

Test(ucs_to_utf8, ucs2_surrogates_are_replaced)
{
	/* UCS-2 strings never hold pairs: each surrogate unit is a lone one,
	 * even when a high one is followed by a low one. */
	const uint16_t d[] = {0xD800, 'a', 0xDBFF, 0xDC00, 0xDFFF};
	check_utf8(d, 5, 2,
		   "\xef\xbf\xbd" "a" "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

Test(ucs_to_utf8, ucs4_non_bmp_and_invalid)
{
	const uint32_t d[] = {0x10000, 0x1F600, 0x20000, 0x10FFFF,
			      0x110000, 0xD800, 0xDFFF, 0x80000000, 0xFFFFFFFF};
	check_utf8(d, 9, 4,
		   "\xf0\x90\x80\x80\xf0\x9f\x98\x80\xf0\xa0\x80\x80\xf4\x8f\xbf\xbf"
		   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

Test(ucs_to_utf8, ucs4_bmp_and_ascii)
{
	const uint32_t d[] = {'x', 0xF1, 0x51FD};
	check_utf8(d, 3, 4, "x\xc3\xb1\xe5\x87\xbd");
}

Test(ucs_to_utf8, empty)
{
	const uint32_t d[1] = {0};
	check_utf8(d, 0, 1, "");
	check_utf8(d, 0, 2, "");
	check_utf8(d, 0, 4, "");
}

/* U+0000 inside a str: the two bytes C0 80, so that the C string keeps
 * what follows (a NUL byte would end it there). */
Test(ucs_to_utf8, nul_is_c0_80_in_every_kind)
{
	const uint8_t l1[] = {'a', 0, 0xE9, 0, 0};
	check_utf8(l1, 5, 1, "a\xc0\x80\xc3\xa9\xc0\x80\xc0\x80");
	const uint16_t u2[] = {0, 0x51FD, 0, 'z'};
	check_utf8(u2, 4, 2, "\xc0\x80\xe5\x87\xbd\xc0\x80z");
	const uint32_t u4[] = {0x20000, 0, 'q', 0};
	check_utf8(u4, 4, 4, "\xf0\xa0\x80\x80\xc0\x80q\xc0\x80");
	/* nothing but NULs: still the whole length */
	const uint32_t only[] = {0, 0, 0};
	char *s = pp_ucs_to_utf8(only, 3, 4);
	cr_assert_not_null(s);
	cr_expect_eq(strlen(s), 6);
	cr_expect_str_eq(s, "\xc0\x80\xc0\x80\xc0\x80");
	free(s);
}

Test(ucs_to_utf8, bad_kind)
{
	const uint32_t d[2] = {'a', 'b'};
	cr_expect_null(pp_ucs_to_utf8(d, 2, 0));
	cr_expect_null(pp_ucs_to_utf8(d, 2, 3));
	cr_expect_null(pp_ucs_to_utf8(d, 2, 8));
	cr_expect_null(pp_ucs_to_utf8(d, 2, -1));
}

/* A strict UTF-8 decoder for the round trip: returns the next code point
 * and advances *p, or -1 on anything malformed (overlong, surrogate, out of
 * range, truncated). */
static long next_cp(const unsigned char **p)
{
	const unsigned char *s = *p;
	unsigned char b = s[0];
	long cp;
	int n;
	if (b < 0x80) {
		*p = s + 1;
		return b;
	}
	if ((b & 0xE0) == 0xC0) {
		cp = b & 0x1F, n = 1;
	} else if ((b & 0xF0) == 0xE0) {
		cp = b & 0x0F, n = 2;
	} else if ((b & 0xF8) == 0xF0) {
		cp = b & 0x07, n = 3;
	} else {
		return -1;
	}
	for (int i = 1; i <= n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	static const long min[] = {0, 0x80, 0x800, 0x10000};
	if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return -1;
	*p = s + n + 1;
	return cp;
}

Test(ucs_to_utf8, every_code_point_round_trips)
{
	/* Every value from 1 to 0x10FFFF plus a band above it, in chunks no
	 * longer than the longest string the reader accepts. */
	const uint32_t end = 0x110000 + 4096;
	const size_t chunk = 4096;
	uint32_t *d = malloc(chunk * sizeof(*d));
	cr_assert_not_null(d);
	for (uint32_t start = 1; start < end; start += chunk) {
		size_t n = end - start < chunk ? end - start : chunk;
		for (size_t i = 0; i < n; i++)
			d[i] = start + (uint32_t)i;
		char *s = pp_ucs_to_utf8(d, n, 4);
		cr_assert_not_null(s);
		const unsigned char *p = (const unsigned char *)s;
		for (size_t i = 0; i < n; i++) {
			long cp = next_cp(&p);
			long want = (d[i] >= 0xD800 && d[i] <= 0xDFFF) || d[i] > 0x10FFFF
					    ? 0xFFFD : (long)d[i];
			cr_assert_eq(cp, want, "U+%04X came back as %ld", d[i], cp);
		}
		cr_assert_eq(*p, 0, "trailing bytes after U+%04X", d[n - 1]);
		free(s);
	}
	free(d);
}

/* ------------------------------------------------------------------ */
/* Live interpreters                                                   */

/* The target. Builds objects of every kind we read, prints `tag id ...`
 * lines, then blocks on stdin. Non-ASCII text is written as \u escapes (the
 * C string stays ASCII whatever the locale) and printed as UTF-8 hex. */
static const char SCRIPT[] =
	"import sys, threading, warnings\n"
	"warnings.simplefilter('ignore')\n"
	"def out(*a):\n"
	"    sys.stdout.write(' '.join(str(x) for x in a) + '\\n')\n"
	"def hx(s):\n"
	"    return s.encode('utf-8', 'surrogatepass').hex()\n"
	"out('minor', sys.version_info[1])\n"
	"out('types', id(str), id(int), id(dict))\n"
	"S = {\n"
	"  'ascii': 'hello_ascii',\n"
	"  'latin1': 'funci\\u00f3n_\\u00f1',\n"
	"  'ucs2': '\\u51fd\\u6570_cjk',\n"
	"  'ucs4': '\\U00020000_wide',\n"
	"  'empty': '',\n"
	"  'surr': 'a\\udc80b',\n"
	"  'long1': 'x' * 5000,\n"
	"  'long2': '\\u51fd\\u6570' * 300 + 'end',\n"
	"  'long4': '\\U0001F600' * 70,\n"
	"  'nul_ascii': 'a\\x00b\\x00',\n"
	"  'nul_latin1': '\\x00\\u00e9\\x00',\n"
	"  'nul_ucs2': '\\u51fd\\x00\\u6570',\n"
	"  'nul_ucs4': '\\U00020000\\x00' * 50,\n"
	"}\n"
	"for k, v in S.items():\n"
	"    out('str', k, id(v), hx(v))\n"
	"class Sub(str):\n"
	"    pass\n"
	"sub = Sub('sub_\\u00e9_\\u51fd')\n"
	"out('sub', id(sub), hx(sub))\n"
	/* Legacy (non-compact) strings straight from the C API, where it
	 * still exists (<=3.11): one made ready, one left as wchar_t only. */
	"try:\n"
	"    import ctypes\n"
	"    api = ctypes.pythonapi\n"
	"    f = api.PyUnicode_FromUnicode\n"
	"    f.restype = ctypes.py_object\n"
	"    f.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t]\n"
	"    au = api.PyUnicode_AsUnicode\n"
	"    au.restype = ctypes.c_void_p\n"
	"    au.argtypes = [ctypes.py_object]\n"
	"    rd = api._PyUnicode_Ready\n"
	"    rd.restype = ctypes.c_int\n"
	"    rd.argtypes = [ctypes.py_object]\n"
	"    def mk(t):\n"
	"        s = f(None, len(t))\n"
	"        b = ctypes.create_unicode_buffer(t)\n"
	"        ctypes.memmove(au(s), b, len(t) * ctypes.sizeof(ctypes.c_wchar))\n"
	"        return s\n"
	"    legacy4 = mk('l\\u00e9gacy_\\u51fd_\\U00020000')\n"
	"    rd(legacy4)\n"
	"    legacy1 = mk('l\\u00e9gacy')\n"
	"    rd(legacy1)\n"
	"    unready = mk('not_ready')\n"
	"    out('legacy', id(legacy4), id(legacy1), id(unready))\n"
	"except (AttributeError, ImportError):\n"
	"    out('legacy', 'none')\n"
	"bb = b'\\x00\\x01bin\\xff'\n"
	"out('bytes', id(bb))\n"
	"I = {'zero': 0, 'one': 1, 'b30m': 2**30 - 1, 'b30': 2**30, 'b60': 2**60 + 5,\n"
	"     'b62': 2**62, 'u64': 2**64 - 1, 'big': 2**64, 'huge': 2**100,\n"
	"     'neg': -1, 'neg40': -2**40}\n"
	"for k, v in I.items():\n"
	"    out('int', k, id(v))\n"
	"d_str = {'alpha': 1001, 'beta': 'two', 'tmp': 0, 'gamma': None, '\\u51fd\\u6570': 3}\n"
	"del d_str['tmp']\n"
	"out('d_str', id(d_str), id(d_str['alpha']), id(d_str['beta']),\n"
	"    id(d_str['gamma']), id(d_str['\\u51fd\\u6570']))\n"
	"d_int = {i: i * i for i in range(50)}\n"
	"del d_int[7]\n"
	"out('d_int', id(d_int))\n"
	"d_mid = {i: str(i) for i in range(1000)}\n"
	"out('d_mid', id(d_mid))\n"
	"d_big = {'k%d' % i: i for i in range(100000)}\n"
	"out('d_big', id(d_big))\n"
	"d_empty = {}\n"
	"out('d_empty', id(d_empty))\n"
	/* Instances in every storage form the version has: split values,
	 * materialised dict, replaced dict, too many attributes to share keys,
	 * a deleted attribute, and none at all. */
	"class Obj:\n"
	"    def __init__(self, tag):\n"
	"        self.a = tag\n"
	"        self.b = 'bee'\n"
	"        self.c = 42\n"
	"o1 = Obj(1)\n"
	"o2 = Obj(2)\n"
	"o2_dict = o2.__dict__\n"
	"o3 = Obj(3)\n"
	"o3.__dict__ = {'a': 3, 'zz': 'replaced'}\n"
	"o4 = Obj(4)\n"
	"for i in range(40):\n"
	"    setattr(o4, 'extra%d' % i, i)\n"
	"o5 = Obj(5)\n"
	"del o5.b\n"
	"o6 = Obj.__new__(Obj)\n"
	"out('objs', id(o1), id(o2), id(o3), id(o4), id(o5), id(o6), id(o2_dict))\n"
	"ev = threading.Event()\n"
	"names = ['worker-one', 'W\\u00f6rker-\\u7dda\\u7a0b-\\U0001D518', 'third thread']\n"
	"ts = [threading.Thread(target=ev.wait, name=n, daemon=True) for n in names]\n"
	"for t in ts:\n"
	"    t.start()\n"
	"for t in ts + [threading.main_thread()]:\n"
	"    out('thread', id(t), t.ident, hx(t.name))\n"
	"out('n_active', len(threading._active))\n"
	"out('threading', id(sys.modules['threading']), id(threading._active))\n"
	"out('modules', id(sys.modules))\n"
	"out('ready')\n"
	"sys.stdout.flush()\n"
	"sys.stdin.read()\n"
	"ev.set()\n"
	"for t in ts:\n"
	"    t.join()\n";

#define MAX_LINES 256

struct child {
	pid_t pid;
	int to;     /* its stdin; closing it lets the script exit */
	FILE *from; /* its stdout */
	char *line[MAX_LINES];
	size_t n;
};

static void child_stop(struct child *c)
{
	if (c->to >= 0)
		close(c->to);
	c->to = -1;
	if (c->from)
		fclose(c->from);
	c->from = NULL;
	if (c->pid > 0) {
		int st;
		waitpid(c->pid, &st, 0);
	}
	c->pid = 0;
	for (size_t i = 0; i < c->n; i++)
		free(c->line[i]);
	c->n = 0;
}

/* Starts `argv` (an interpreter command) with -I -c SCRIPT appended. */
static void child_start(struct child *c, char *const cmd[])
{
	const char *exe = cmd[0];
	char *argv[8];
	size_t n = 0;
	for (; cmd[n] && n < 4; n++)
		argv[n] = cmd[n];
	argv[n++] = "-I";
	argv[n++] = "-c";
	argv[n++] = (char *)SCRIPT;
	argv[n] = NULL;
	int in[2], out[2];
	memset(c, 0, sizeof(*c));
	c->to = -1;
	cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		/* Die with the test, even if it is killed by a timeout. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->pid = pid;
	c->to = in[1];
	c->from = fdopen(out[0], "r");
	cr_assert_not_null(c->from);

	char *buf = NULL;
	size_t cap = 0;
	ssize_t len;
	int ready = 0;
	while ((len = getline(&buf, &cap, c->from)) > 0) {
		if (buf[len - 1] == '\n')
			buf[len - 1] = '\0';
		if (strcmp(buf, "ready") == 0) {
			ready = 1;
			break;
		}
		cr_assert_lt(c->n, MAX_LINES);
		c->line[c->n++] = strdup(buf);
	}
	free(buf);
	if (!ready) {
		child_stop(c);
		cr_assert_fail("%s: the script did not reach 'ready'", exe);
	}
}

/* The words after `tag` on its `nth` line, or NULL. */
static const char *field(const struct child *c, const char *tag, int nth)
{
	size_t tl = strlen(tag);
	for (size_t i = 0; i < c->n; i++) {
		if (strncmp(c->line[i], tag, tl) == 0 && c->line[i][tl] == ' ' &&
		    nth-- == 0)
			return c->line[i] + tl + 1;
	}
	return NULL;
}

/* The i-th whitespace-separated word of `s` as a number. */
static uint64_t word_u64(const char *s, int i)
{
	cr_assert_not_null(s);
	char *end;
	for (;;) {
		uint64_t v = strtoull(s, &end, 10);
		cr_assert_neq(end, s, "no number %d in '%s'", i, s);
		if (i-- == 0)
			return v;
		s = end;
	}
}

/* The i-th word of `s`, malloc'd. */
static char *word_str(const char *s, int i)
{
	cr_assert_not_null(s);
	while (i-- > 0) {
		s = strchr(s, ' ');
		cr_assert_not_null(s);
		s++;
	}
	size_t n = strcspn(s, " ");
	return strndup(s, n);
}

static char *unhex(const char *h)
{
	size_t n = strlen(h) / 2;
	char *s = malloc(n + 1);
	cr_assert_not_null(s);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		cr_assert_eq(sscanf(h + 2 * i, "%2x", &v), 1);
		s[i] = (char)v;
	}
	s[n] = '\0';
	return s;
}

/* `str` line for name: its address and the UTF-8 Python says it holds. */
static uint64_t str_line(const struct child *c, const char *name, char **utf8)
{
	for (int i = 0;; i++) {
		const char *f = field(c, "str", i);
		cr_assert_not_null(f, "no str '%s' from the script", name);
		char *w = word_str(f, 0);
		int hit = strcmp(w, name) == 0;
		free(w);
		if (!hit)
			continue;
		char *hex = word_str(f, 2);
		*utf8 = unhex(hex);
		free(hex);
		return word_u64(strchr(f, ' ') + 1, 0);
	}
}

static int str_is_compact(struct pp_mem *m, const struct py_layout *l, uint64_t a)
{
	uint32_t state = 0;
	cr_assert_eq(pp_mem_read_u32(m, a + l->str_state, &state), 0);
	return (state >> 5) & 1;
}

static void expect_str(struct pp_mem *m, const struct py_layout *l, uint64_t a,
		       uint64_t type, const char *want, const char *what)
{
	char *s = pp_read_str(m, l, a, type);
	cr_assert_not_null(s, "%s: pp_read_str failed", what);
	cr_expect_str_eq(s, want, "%s", what);
	free(s);
}

#define NUL_UCS4_10 "\xf0\xa0\x80\x80\xc0\x80\xf0\xa0\x80\x80\xc0\x80\xf0\xa0\x80\x80\xc0\x80" \
	"\xf0\xa0\x80\x80\xc0\x80\xf0\xa0\x80\x80\xc0\x80\xf0\xa0\x80\x80\xc0\x80" \
	"\xf0\xa0\x80\x80\xc0\x80\xf0\xa0\x80\x80\xc0\x80\xf0\xa0\x80\x80\xc0\x80" \
	"\xf0\xa0\x80\x80\xc0\x80"
#define NUL_UCS4 NUL_UCS4_10 NUL_UCS4_10 NUL_UCS4_10 NUL_UCS4_10 NUL_UCS4_10

static void check_strings(const struct child *c, struct pp_mem *m,
			  const struct py_layout *l, uint64_t str_type,
			  uint64_t int_type)
{
	/* What the text must be, independently of Python's own encoder. */
	static const struct {
		const char *name, *utf8;
	} fixed[] = {
		{"ascii", "hello_ascii"},
		{"latin1", "función_ñ"},
		{"ucs2", "函数_cjk"},
		{"ucs4", "𠀀_wide"},
		{"empty", ""},
		{"surr", "a\xef\xbf\xbd" "b"}, /* lone surrogate -> U+FFFD */
		{"long1", NULL},
		{"long2", NULL},
		{"long4", NULL},
		/* U+0000 as C0 80, in each kind of compact str; the long
		 * one is read apart from its header */
		{"nul_ascii", "a\xc0\x80" "b\xc0\x80"},
		{"nul_latin1", "\xc0\x80\xc3\xa9\xc0\x80"},
		{"nul_ucs2", "\xe5\x87\xbd\xc0\x80\xe6\x95\xb0"},
		{"nul_ucs4", NUL_UCS4},
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		char *py;
		uint64_t a = str_line(c, fixed[i].name, &py);
		const char *want = fixed[i].utf8 ? fixed[i].utf8 : py;
		/* Past PP_STR_SHOW_CHARS code points a str reads as its first
		 * ones and an ellipsis. */
		size_t cps = 0, cut = 0;
		for (const char *p = want; *p; p++)
			if (((unsigned char)*p & 0xc0) != 0x80 && cps++ == PP_STR_SHOW_CHARS)
				cut = (size_t)(p - want);
		if (cut) {
			char *t = realloc(py, cut + 4);
			cr_assert_not_null(t);
			memcpy(t + cut, "\xE2\x80\xA6", 4);
			want = py = t;
		}
		expect_str(m, l, a, str_type, want, fixed[i].name);
		expect_str(m, l, a, 0, want, fixed[i].name);
		cr_expect(str_is_compact(m, l, a), "%s should be compact", fixed[i].name);
		/* The type check must bite. */
		cr_expect_null(pp_read_str(m, l, a, int_type), "%s as int type", fixed[i].name);
		free(py);
	}

	/* A str subclass instance: a non-compact string with a separate data
	 * buffer in every version. Its type is the subclass, not str. */
	const char *sub = field(c, "sub", 0);
	uint64_t sa = word_u64(sub, 0);
	char *hex = word_str(sub, 1);
	char *want = unhex(hex);
	cr_expect_str_eq(want, "sub_é_函");
	cr_expect(!str_is_compact(m, l, sa), "str subclass should not be compact");
	expect_str(m, l, sa, 0, want, "str subclass");
	cr_expect_null(pp_read_str(m, l, sa, str_type), "subclass is not exactly str");
	free(hex);
	free(want);

	/* Legacy strings from PyUnicode_FromUnicode (<=3.11). */
	const char *leg = field(c, "legacy", 0);
	cr_assert_not_null(leg);
	if (strcmp(leg, "none") == 0) {
		cr_expect_geq(l->minor, 12, "3.%d should have PyUnicode_FromUnicode",
			      l->minor);
	} else {
		uint64_t l4 = word_u64(leg, 0), l1 = word_u64(leg, 1),
			 un = word_u64(leg, 2);
		cr_expect(!str_is_compact(m, l, l4) && !str_is_compact(m, l, l1),
			  "legacy strings should not be compact");
		expect_str(m, l, l4, str_type, "légacy_函_𠀀", "legacy UCS-4");
		expect_str(m, l, l1, str_type, "légacy", "legacy Latin-1");
		/* wchar_t only: not something we can read. */
		cr_expect_null(pp_read_str(m, l, un, str_type), "not-ready legacy str");
	}

	uint64_t ba = word_u64(field(c, "bytes", 0), 0);
	size_t blen = 99;
	uint8_t *b = pp_read_bytes(m, l, ba, 0, &blen);
	cr_assert_not_null(b);
	cr_expect_eq(blen, 6);
	cr_expect_eq(memcmp(b, "\x00\x01" "bin\xff", 6), 0);
	free(b);
}

static uint64_t int_addr(const struct child *c, const char *name)
{
	for (int i = 0;; i++) {
		const char *f = field(c, "int", i);
		cr_assert_not_null(f, "no int '%s'", name);
		size_t n = strlen(name);
		if (strncmp(f, name, n) == 0 && f[n] == ' ')
			return word_u64(f + n + 1, 0);
	}
}

static void check_ints(const struct child *c, const struct pp_objreader *r)
{
	static const struct {
		const char *name;
		int rc;
		uint64_t v;
	} want[] = {
		{"zero", 0, 0},
		{"one", 0, 1},
		{"b30m", 0, (1ull << 30) - 1},
		{"b30", 0, 1ull << 30},
		{"b60", 0, (1ull << 60) + 5},
		{"b62", 0, 1ull << 62},
		{"u64", 0, UINT64_MAX},
		{"big", -ERANGE, 0},
		{"huge", -ERANGE, 0},
		{"neg", -ERANGE, 0},
		{"neg40", -ERANGE, 0},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint64_t v = 12345;
		int rc = pp_read_long(r, int_addr(c, want[i].name), &v);
		cr_expect_eq(rc, want[i].rc, "int %s: rc %d", want[i].name, rc);
		if (want[i].rc == 0)
			cr_expect_eq(v, want[i].v, "int %s: %llu", want[i].name,
				     (unsigned long long)v);
	}
}

struct collected {
	const struct pp_objreader *r;
	size_t n;
	uint64_t sum;
	int64_t last_key;
	int bad;
};

/* d_int: keys in insertion order, value = key squared. */
static int int_square_visit(uint64_t k, uint64_t v, void *ctx)
{
	struct collected *c = ctx;
	uint64_t kv, vv;
	if (pp_read_long(c->r, k, &kv) || pp_read_long(c->r, v, &vv) ||
	    vv != kv * kv || (int64_t)kv <= c->last_key || kv == 7)
		c->bad++;
	c->last_key = (int64_t)kv;
	c->n++;
	return 0;
}

/* d_mid: int key -> its decimal str. */
static int int_str_visit(uint64_t k, uint64_t v, void *ctx)
{
	struct collected *c = ctx;
	uint64_t kv;
	char want[32];
	char *s = pp_read_str(c->r->mem, c->r->layout, v, c->r->str_type);
	if (pp_read_long(c->r, k, &kv) || !s)
		c->bad++;
	else if (snprintf(want, sizeof(want), "%llu", (unsigned long long)kv),
		 strcmp(s, want) != 0)
		c->bad++;
	free(s);
	c->n++;
	return 0;
}

/* d_big: "k<i>" -> i. */
static int big_visit(uint64_t k, uint64_t v, void *ctx)
{
	struct collected *c = ctx;
	uint64_t vv;
	char want[32];
	char *s = pp_read_str(c->r->mem, c->r->layout, k, c->r->str_type);
	if (!s || pp_read_long(c->r, v, &vv)) {
		c->bad++;
	} else {
		snprintf(want, sizeof(want), "k%llu", (unsigned long long)vv);
		if (strcmp(s, want) != 0)
			c->bad++;
		c->sum += vv;
	}
	free(s);
	c->n++;
	return 0;
}

static int count_visit(uint64_t k, uint64_t v, void *ctx)
{
	(void)k;
	(void)v;
	((struct collected *)ctx)->n++;
	return 0;
}

static int stop_at_3(uint64_t k, uint64_t v, void *ctx)
{
	(void)k;
	(void)v;
	return ++((struct collected *)ctx)->n == 3 ? 77 : 0;
}

static void expect_get_long(const struct pp_objreader *r, uint64_t dict,
			    const char *key, uint64_t want)
{
	uint64_t a = 0, v = 0;
	int rc = pp_dict_get_str(r, dict, key, &a);
	cr_assert_eq(rc, 0, "get '%s': %d", key, rc);
	cr_assert_eq(pp_read_long(r, a, &v), 0);
	cr_expect_eq(v, want, "'%s' -> %llu", key, (unsigned long long)v);
}

static void check_dicts(const struct child *c, const struct pp_objreader *r)
{
	const char *ds = field(c, "d_str", 0);
	uint64_t d = word_u64(ds, 0), v;
	cr_expect_eq(pp_dict_get_str(r, d, "alpha", &v), 0);
	cr_expect_eq(v, word_u64(ds, 1));
	expect_get_long(r, d, "alpha", 1001);
	cr_expect_eq(pp_dict_get_str(r, d, "beta", &v), 0);
	cr_expect_eq(v, word_u64(ds, 2));
	expect_str(r->mem, r->layout, v, r->str_type, "two", "d_str['beta']");
	cr_expect_eq(pp_dict_get_str(r, d, "gamma", &v), 0);
	cr_expect_eq(v, word_u64(ds, 3)); /* None */
	expect_get_long(r, d, "函数", 3);
	cr_expect_eq(pp_dict_get_str(r, d, "tmp", &v), -ENOENT, "deleted key");
	cr_expect_eq(pp_dict_get_str(r, d, "missing", &v), -ENOENT);
	cr_expect_eq(pp_dict_get_str(r, d, "alph", &v), -ENOENT, "prefix");
	cr_expect_eq(pp_dict_get_str(r, d, "alphaa", &v), -ENOENT, "longer");
	struct collected col = {.r = r};
	cr_expect_eq(pp_dict_foreach(r, d, count_visit, &col), 0);
	cr_expect_eq(col.n, 4, "d_str has 4 live items, visited %zu", col.n);
	col.n = 0;
	cr_expect_eq(pp_dict_foreach(r, d, stop_at_3, &col), 77, "early stop");
	cr_expect_eq(col.n, 3);

	col = (struct collected){.r = r, .last_key = -1};
	cr_expect_eq(pp_dict_foreach(r, word_u64(field(c, "d_int", 0), 0),
				     int_square_visit, &col), 0);
	cr_expect_eq(col.n, 49);
	cr_expect_eq(col.bad, 0, "d_int: %d wrong items", col.bad);

	/* 1000 entries: a 2048-slot table, 2-byte indices. */
	col = (struct collected){.r = r};
	cr_expect_eq(pp_dict_foreach(r, word_u64(field(c, "d_mid", 0), 0),
				     int_str_visit, &col), 0);
	cr_expect_eq(col.n, 1000);
	cr_expect_eq(col.bad, 0, "d_mid: %d wrong items", col.bad);

	/* 100000 entries: a 131072-slot table, 4-byte indices. */
	uint64_t big = word_u64(field(c, "d_big", 0), 0);
	col = (struct collected){.r = r};
	cr_expect_eq(pp_dict_foreach(r, big, big_visit, &col), 0);
	cr_expect_eq(col.n, 100000);
	cr_expect_eq(col.bad, 0, "d_big: %d wrong items", col.bad);
	cr_expect_eq(col.sum, 4999950000ull);
	expect_get_long(r, big, "k0", 0);
	expect_get_long(r, big, "k99999", 99999);
	expect_get_long(r, big, "k65536", 65536);
	cr_expect_eq(pp_dict_get_str(r, big, "k100000", &v), -ENOENT);

	col = (struct collected){.r = r};
	cr_expect_eq(pp_dict_foreach(r, word_u64(field(c, "d_empty", 0), 0),
				     count_visit, &col), 0);
	cr_expect_eq(col.n, 0);

	/* Not a dict: the type check must refuse it. */
	char *py;
	uint64_t sa = str_line(c, "ascii", &py);
	free(py);
	cr_expect_lt(pp_dict_foreach(r, sa, count_visit, &col), 0);
}

static void expect_attr_long(const struct pp_objreader *r, uint64_t obj,
			     const char *name, uint64_t want, const char *what)
{
	uint64_t a = 0, v = 0;
	int rc = pp_object_attr(r, obj, name, &a);
	cr_assert_eq(rc, 0, "%s.%s: %d", what, name, rc);
	cr_assert_eq(pp_read_long(r, a, &v), 0, "%s.%s not an int", what, name);
	cr_expect_eq(v, want, "%s.%s = %llu", what, name, (unsigned long long)v);
}

static void expect_attr_str(const struct pp_objreader *r, uint64_t obj,
			    const char *name, const char *want, const char *what)
{
	uint64_t a = 0;
	int rc = pp_object_attr(r, obj, name, &a);
	cr_assert_eq(rc, 0, "%s.%s: %d", what, name, rc);
	expect_str(r->mem, r->layout, a, r->str_type, want, what);
}

static void expect_no_attr(const struct pp_objreader *r, uint64_t obj,
			   const char *name, const char *what)
{
	uint64_t a;
	int rc = pp_object_attr(r, obj, name, &a);
	cr_expect_eq(rc, -ENOENT, "%s.%s: %d, want -ENOENT", what, name, rc);
}

static void check_instances(const struct child *c, const struct pp_objreader *r)
{
	const char *o = field(c, "objs", 0);
	uint64_t o1 = word_u64(o, 0), o2 = word_u64(o, 1), o3 = word_u64(o, 2),
		 o4 = word_u64(o, 3), o5 = word_u64(o, 4), o6 = word_u64(o, 5),
		 o2d = word_u64(o, 6);

	expect_attr_long(r, o1, "a", 1, "o1 (split values)");
	expect_attr_str(r, o1, "b", "bee", "o1.b");
	expect_attr_long(r, o1, "c", 42, "o1");
	expect_no_attr(r, o1, "zz", "o1");

	expect_attr_long(r, o2, "a", 2, "o2 (materialised dict)");
	expect_attr_str(r, o2, "b", "bee", "o2.b");
	/* The materialised dict itself: split on every version. */
	struct collected col = {.r = r};
	cr_expect_eq(pp_dict_foreach(r, o2d, count_visit, &col), 0);
	cr_expect_eq(col.n, 3, "o2.__dict__ has %zu items", col.n);
	expect_get_long(r, o2d, "c", 42);

	expect_attr_long(r, o3, "a", 3, "o3 (replaced dict)");
	expect_attr_str(r, o3, "zz", "replaced", "o3.zz");
	expect_no_attr(r, o3, "b", "o3");

	expect_attr_long(r, o4, "a", 4, "o4 (many attributes)");
	expect_attr_long(r, o4, "extra0", 0, "o4");
	expect_attr_long(r, o4, "extra39", 39, "o4");

	expect_attr_long(r, o5, "a", 5, "o5 (deleted b)");
	expect_no_attr(r, o5, "b", "o5");
	expect_attr_long(r, o5, "c", 42, "o5");

	expect_no_attr(r, o6, "a", "o6 (no attributes)");
}

static void check_threads(const struct child *c, const struct pp_objreader *r)
{
	uint64_t modules = word_u64(field(c, "modules", 0), 0);
	const char *th = field(c, "threading", 0);
	uint64_t mod = word_u64(th, 0), active = word_u64(th, 1), v;

	cr_expect_eq(pp_dict_get_str(r, modules, "threading", &v), 0);
	cr_expect_eq(v, mod);
	/* Modules keep their dict at tp_dictoffset (never managed). */
	cr_expect_eq(pp_object_attr(r, mod, "_active", &v), 0);
	cr_expect_eq(v, active);

	struct pp_thread_names names = {0};
	int rc = pp_thread_names_read(r, modules, &names);
	cr_expect_eq(rc, 0, "pp_thread_names_read: %d", rc);
	cr_expect_eq(names.n, word_u64(field(c, "n_active", 0), 0),
		     "%zu names", names.n);

	int nthreads = 0;
	for (int i = 0; field(c, "thread", i); i++, nthreads++) {
		const char *f = field(c, "thread", i);
		uint64_t obj = word_u64(f, 0), ident = word_u64(f, 1);
		char *hex = word_str(f, 2);
		char *want = unhex(hex);
		expect_attr_str(r, obj, "_name", want, "Thread._name");
		const char *got = pp_thread_names_get(&names, ident, 0);
		cr_expect_not_null(got, "no name for ident %llu (%s)",
				   (unsigned long long)ident, want);
		if (got)
			cr_expect_str_eq(got, want);
		free(hex);
		free(want);
	}
	cr_expect_eq(nthreads, 4);
	cr_expect_null(pp_thread_names_get(&names, 1, 0));
	/* Names include a non-ASCII one. */
	int non_ascii = 0;
	for (size_t i = 0; i < names.n; i++)
		non_ascii |= strcmp(names.v[i].name, "Wörker-線程-𝔘") == 0;
	cr_expect(non_ascii, "the non-ASCII thread name is missing");
	pp_thread_names_free(&names);
	cr_expect_eq(names.n, 0);
}

/* The static table against the live objects of `cmd` (the interpreter's
 * command words): strings, ints, dicts, managed dicts, thread names. */
static void check_command(int minor, char *const cmd[], const char *exe)
{
	const struct py_layout *l = pp_layout_for(minor);
	cr_assert_not_null(l, "no layout for 3.%d", minor);
	struct child c;
	child_start(&c, cmd);
	cr_assert_eq(word_u64(field(&c, "minor", 0), 0), (uint64_t)minor,
		     "%s is not 3.%d", exe, minor);

	struct pp_mem m;
	pp_mem_init_process(&m, c.pid);
	const char *t = field(&c, "types", 0);
	struct pp_objreader r = {
		.mem = &m,
		.layout = l,
		.str_type = word_u64(t, 0),
		.long_type = word_u64(t, 1),
		.dict_type = word_u64(t, 2),
	};
	check_strings(&c, &m, l, r.str_type, r.long_type);
	check_ints(&c, &r);
	check_dicts(&c, &r);
	check_instances(&c, &r);
	check_threads(&c, &r);

	/* The same again without type checks: the layout alone must do. */
	struct pp_objreader loose = {.mem = &m, .layout = l};
	check_ints(&c, &loose);
	check_instances(&c, &loose);
	check_threads(&c, &loose);

	pp_mem_close(&m);
	child_stop(&c);
}

static void check_interpreter(int minor, const char *exe)
{
	char *cmd[] = {(char *)exe, NULL};
	check_command(minor, cmd, exe);
}

/* Debian sid's builds in the sid root; the debug ones share the tables. */
static void check_sid(const char *spec, int minor)
{
	struct ts_python py;
	ts_python_get(spec, &py);
	check_command(minor, py.argv, py.label);
}

static void check_pyenv(const char *version)
{
	const char *root = getenv("PYENV_ROOT");
	if (!root || !*root)
		root = "/root/.pyenv";
	int minor = atoi(version + 2);
	char exe[4096];
	snprintf(exe, sizeof(exe), "%s/versions/%s/bin/python3.%d", root, version,
		 minor);
	if (access(exe, X_OK) != 0)
		cr_skip_test("python %s not installed at %s", version, exe);
	check_interpreter(minor, exe);
}

Test(live, py38, .timeout = 300) { check_pyenv("3.8.18"); }
Test(live, py39, .timeout = 300) { check_pyenv("3.9.18"); }
Test(live, py310, .timeout = 300) { check_pyenv("3.10.13"); }
Test(live, py311, .timeout = 300) { check_pyenv("3.11.7"); }
Test(live, py312, .timeout = 300) { check_pyenv("3.12.1"); }
Test(live, py313, .timeout = 300) { check_pyenv("3.13.0"); }

Test(live, sid_py313, .timeout = 300) { check_sid("sid-3.13", 13); }
Test(live, sid_py314, .timeout = 300) { check_sid("sid-3.14", 14); }
Test(live, sid_py315, .timeout = 300) { check_sid("sid-3.15", 15); }
Test(live, sid_py314d, .timeout = 300) { check_sid("sid-3.14d", 14); }
Test(live, sid_py315d, .timeout = 300) { check_sid("sid-3.15d", 15); }

Test(live, debian_py311, .timeout = 300)
{
	/* Debian's static, stripped build: same 3.11 layout. */
	const char *exe = "/usr/bin/python3.11";
	if (access(exe, X_OK) != 0)
		cr_skip_test("python 3.11 not installed at %s", exe);
	check_interpreter(11, exe);
}

/* ------------------------------------------------------------------ */
/* Corrupt memory                                                      */

static uint64_t mix(uint64_t x)
{
	/* splitmix64's finaliser: a cheap, well-spread hash. */
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

enum fake_mode {
	RANDOM_BYTES, /* every byte a hash of its address */
	PAGE_POINTERS, /* every word points somewhere into its own page */
	SELF_POINTERS, /* every word points at itself */
	MIXED,         /* words are small numbers, page pointers or random */
};

struct fake {
	enum fake_mode mode;
	uint64_t seed;
	uint64_t reads;
};

static uint64_t fake_word(const struct fake *f, uint64_t a)
{
	uint64_t h = mix(a ^ f->seed);
	uint64_t page = a & ~0xfffull;
	switch (f->mode) {
	case RANDOM_BYTES:
		return h;
	case PAGE_POINTERS:
		return page + (h & 0xff8);
	case SELF_POINTERS:
		return a;
	case MIXED:
		switch (h & 3) {
		case 0:
			return (h >> 8) & 0x3f;
		case 1:
			return page + ((h >> 8) & 0xff8);
		default:
			return mix(h);
		}
	}
	return 0;
}

static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct fake *f = ctx;
	f->reads++;
	uint8_t *o = buf;
	for (size_t i = 0; i < len;) {
		uint64_t a = addr + i;
		uint64_t w = fake_word(f, a & ~7ull);
		size_t off = a & 7;
		size_t k = 8 - off < len - i ? 8 - off : len - i;
		memcpy(o + i, (uint8_t *)&w + off, k);
		i += k;
	}
	return 0;
}

/* Runs every entry point on `root`; they may fail but must return. */
static void poke(const struct pp_objreader *r, uint64_t root)
{
	struct collected col = {.r = r};
	uint64_t v;
	int rc = pp_dict_foreach(r, root, count_visit, &col);
	cr_assert_leq(col.n, PP_DICT_MAX_ENTRIES);
	(void)rc;
	(void)pp_dict_get_str(r, root, "threading", &v);
	(void)pp_object_attr(r, root, "_name", &v);
	(void)pp_read_long(r, root, &v);
	char *s = pp_read_str(r->mem, r->layout, root, 0);
	free(s);
	struct pp_thread_names names = {0};
	(void)pp_thread_names_read(r, root, &names);
	for (size_t i = 0; i < names.n; i++)
		cr_assert_not_null(names.v[i].name);
	pp_thread_names_free(&names);
}

static void fuzz_mode(enum fake_mode mode)
{
	for (size_t li = 0; li < pp_n_supported_minors; li++) {
		const struct py_layout *l = pp_layout_for(pp_supported_minors[li]);
		cr_assert_not_null(l);
		for (uint64_t seed = 0; seed < 64; seed++) {
			struct fake f = {mode, mix(seed), 0};
			struct pp_mem m;
			pp_mem_init_callback(&m, fake_read, &f);
			struct pp_objreader r = {.mem = &m, .layout = l};
			uint64_t root = 0x10000 + (mix(seed + 1000) & 0x7ffffff8ull);
			poke(&r, root);
			poke(&r, root + 8);
			/* Typed: fewer paths, same guarantee. */
			r.str_type = fake_word(&f, root);
			r.dict_type = fake_word(&f, root + 8);
			r.long_type = fake_word(&f, root + 16);
			poke(&r, root);
			pp_mem_close(&m);
		}
	}
}

Test(corrupt, random_bytes, .timeout = 120) { fuzz_mode(RANDOM_BYTES); }
Test(corrupt, page_pointers, .timeout = 120) { fuzz_mode(PAGE_POINTERS); }
Test(corrupt, self_pointers, .timeout = 120) { fuzz_mode(SELF_POINTERS); }
Test(corrupt, mixed_words, .timeout = 120) { fuzz_mode(MIXED); }

/* A valid object graph built by hand in a flat arena: sys.modules ->
 * threading -> _active -> two Thread-like objects, one keeping `_name` in a
 * plain dict at tp_dictoffset, one in the version's managed/split form.
 * First it must read correctly; then random damage must never crash. */

#define ARENA_BASE 0x10000000ull
#define ARENA_SIZE (64 * 1024)

struct arena {
	uint8_t *mem;
	size_t used;
	const struct py_layout *l;
	uint64_t str_type, long_type, dict_type, mod_type;
};

static int arena_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const struct arena *a = ctx;
	if (addr < ARENA_BASE || addr - ARENA_BASE > ARENA_SIZE ||
	    len > ARENA_SIZE - (addr - ARENA_BASE))
		return -EFAULT;
	memcpy(buf, a->mem + (addr - ARENA_BASE), len);
	return 0;
}

static uint64_t a_alloc(struct arena *a, size_t n)
{
	a->used = (a->used + 15) & ~(size_t)15;
	cr_assert_leq(a->used + n, ARENA_SIZE, "arena full");
	uint64_t at = ARENA_BASE + a->used;
	a->used += n;
	return at;
}

static void a_put(struct arena *a, uint64_t at, const void *v, size_t n)
{
	cr_assert(at >= ARENA_BASE && at + n <= ARENA_BASE + ARENA_SIZE);
	memcpy(a->mem + (at - ARENA_BASE), v, n);
}

static void a_u64(struct arena *a, uint64_t at, uint64_t v) { a_put(a, at, &v, 8); }
static void a_u32(struct arena *a, uint64_t at, uint32_t v) { a_put(a, at, &v, 4); }
static void a_u8(struct arena *a, uint64_t at, uint8_t v) { a_put(a, at, &v, 1); }

/* Big enough for any PyHeapTypeObject field we read. */
#define TYPE_SIZE 1024

static uint64_t a_type(struct arena *a, uint64_t flags, int64_t basicsize,
		       int64_t dictoffset, uint64_t cached_keys)
{
	const struct py_layout *l = a->l;
	uint64_t t = a_alloc(a, TYPE_SIZE);
	a_u64(a, t + l->tp_flags, flags);
	a_u64(a, t + l->tp_basicsize, (uint64_t)basicsize);
	a_u64(a, t + l->tp_dictoffset, (uint64_t)dictoffset);
	a_u64(a, t + l->ht_cached_keys, cached_keys);
	return t;
}

static uint64_t a_str(struct arena *a, const char *ascii)
{
	const struct py_layout *l = a->l;
	size_t n = strlen(ascii);
	uint64_t s = a_alloc(a, l->str_ascii_data + n + 1);
	a_u64(a, s + l->ob_refcnt, 1);
	a_u64(a, s + l->ob_type, a->str_type);
	a_u64(a, s + l->str_length, n);
	/* kind 1, compact, ascii, ready (bit 7 is harmless on 3.12+) */
	a_u32(a, s + l->str_state, (1u << 2) | (1u << 5) | (1u << 6) | (1u << 7));
	a_put(a, s + l->str_ascii_data, ascii, n + 1);
	return s;
}

static uint64_t a_int(struct arena *a, uint64_t v)
{
	const struct py_layout *l = a->l;
	uint64_t o = a_alloc(a, l->long_digits + 12);
	uint32_t digits[3];
	unsigned n = 0;
	for (uint64_t x = v; x; x >>= 30)
		digits[n++] = (uint32_t)(x & ((1u << 30) - 1));
	a_u64(a, o + l->ob_refcnt, 1);
	a_u64(a, o + l->ob_type, a->long_type);
	a_u64(a, o + l->long_size, l->long_tagged ? ((uint64_t)n << 3) | (n ? 0 : 1) : n);
	a_put(a, o + l->long_digits, digits, n * 4);
	return o;
}

/* A keys object with n entries; values NULL in the entries if split. */
static uint64_t a_keys(struct arena *a, size_t n, const uint64_t *k,
		       const uint64_t *v, int split)
{
	const struct py_layout *l = a->l;
	unsigned log2 = 3;
	while (((1u << log2) << 1) / 3 < n)
		log2++;
	size_t slots = 1u << log2;
	size_t width = log2 < 8 ? 1 : 2;
	int general = 0; /* all our keys are str */
	size_t esize = l->dk_size != PP_ABSENT || general ? 24 : 16;
	size_t ientries = l->dk_indices + slots * width;
	uint64_t keys = a_alloc(a, ientries + ((slots << 1) / 3) * esize);
	a_u64(a, keys, 1); /* dk_refcnt */
	if (l->dk_size != PP_ABSENT) {
		a_u64(a, keys + l->dk_size, slots);
	} else {
		a_u8(a, keys + l->dk_log2_size, (uint8_t)log2);
		a_u8(a, keys + l->dk_log2_index_bytes, (uint8_t)(log2 + (width == 2)));
		a_u8(a, keys + l->dk_kind, split ? 2 : 1);
	}
	a_u64(a, keys + l->dk_nentries, n);
	for (size_t i = 0; i < slots; i++)
		a_u8(a, keys + l->dk_indices + i * width, i < n ? (uint8_t)i : 0xff);
	for (size_t i = 0; i < n; i++) {
		uint64_t e = keys + ientries + i * esize;
		size_t ko = esize == 24 ? 8 : 0;
		if (esize == 24)
			a_u64(a, e, mix(k[i])); /* hash: never checked */
		a_u64(a, e + ko, k[i]);
		a_u64(a, e + ko + 8, split ? 0 : v[i]);
	}
	return keys;
}

static uint64_t a_dict(struct arena *a, size_t n, const uint64_t *k,
		       const uint64_t *v)
{
	const struct py_layout *l = a->l;
	uint64_t d = a_alloc(a, 64);
	a_u64(a, d + l->ob_refcnt, 1);
	a_u64(a, d + l->ob_type, a->dict_type);
	a_u64(a, d + l->dict_keys, a_keys(a, n, k, v, 0));
	a_u64(a, d + l->dict_values, 0);
	return d;
}

/* An instance keeping `n` attributes the way this version stores a plain
 * class's instance attributes. */
static uint64_t a_instance(struct arena *a, size_t n, const uint64_t *k,
			   const uint64_t *v)
{
	const struct py_layout *l = a->l;
	const uint64_t heap = 1ull << 9;
	uint64_t keys = a_keys(a, n, k, v, 1);
	/* values block: 3.13's header + values + order bytes, or a plain
	 * array. */
	uint64_t pdv = a_alloc(a, 8 + n * 8 + n);
	if (l->dv_values) {
		a_u8(a, pdv, (uint8_t)n);     /* capacity */
		a_u8(a, pdv + 1, (uint8_t)n); /* size */
		a_u8(a, pdv + 3, 1);          /* valid */
	}
	for (size_t i = 0; i < n; i++)
		a_u64(a, pdv + l->dv_values + i * 8, v[i]);

	if (l->tpflags_managed_dict == PP_ABSENT) {
		/* <=3.10: a split dict at tp_dictoffset. */
		uint64_t tp = a_type(a, heap, 24, 16, keys);
		uint64_t d = a_alloc(a, 64);
		a_u64(a, d + l->ob_type, a->dict_type);
		a_u64(a, d + l->dict_keys, keys);
		a_u64(a, d + l->dict_values, pdv);
		uint64_t o = a_alloc(a, 24);
		a_u64(a, o + l->ob_type, tp);
		a_u64(a, o + 16, d);
		return o;
	}
	uint64_t flags = heap | l->tpflags_managed_dict;
	if (l->tpflags_inline_values != PP_ABSENT) {
		/* 3.13: the values block lives right after the object. */
		uint64_t tp = a_type(a, flags | l->tpflags_inline_values, 16, -1, keys);
		uint64_t base = a_alloc(a, 32 + 16 + 8 + n * 8 + n);
		uint64_t o = base + 32;
		a_u64(a, o + l->ob_type, tp);
		a_u8(a, o + 16, (uint8_t)n);
		a_u8(a, o + 17, (uint8_t)n);
		a_u8(a, o + 18, 1); /* embedded */
		a_u8(a, o + 19, 1); /* valid */
		for (size_t i = 0; i < n; i++)
			a_u64(a, o + 16 + l->dv_values + i * 8, v[i]);
		return o;
	}
	uint64_t tp = a_type(a, flags, 16, -1, keys);
	uint64_t o = a_alloc(a, 32 + 16) + 32;
	a_u64(a, o + l->ob_type, tp);
	if (l->obj_managed_values)
		a_u64(a, o + l->obj_managed_values, pdv); /* 3.11 */
	else
		a_u64(a, o + l->obj_managed_dict, pdv - 1); /* 3.12 tagged */
	return o;
}

struct graph {
	uint64_t modules, active, t1, t2, ident_obj;
};

static void build_graph(struct arena *a, struct graph *g)
{
	const struct py_layout *l = a->l;
	a->str_type = a_alloc(a, TYPE_SIZE);
	a->long_type = a_alloc(a, TYPE_SIZE);
	a->dict_type = a_alloc(a, TYPE_SIZE);
	/* Module objects keep md_dict at tp_dictoffset in every version. */
	a->mod_type = a_type(a, 0, 48, l->mod_dict, 0);

	/* Thread 1: attributes in a plain dict at tp_dictoffset. */
	uint64_t k1[] = {a_str(a, "_target"), a_str(a, "_name")};
	uint64_t v1[] = {a_str(a, "nothing"), a_str(a, "plain-thread")};
	uint64_t tp1 = a_type(a, 0, 24, 16, 0);
	g->t1 = a_alloc(a, 24);
	a_u64(a, g->t1 + l->ob_type, tp1);
	a_u64(a, g->t1 + 16, a_dict(a, 2, k1, v1));

	/* Thread 2: the version's own instance storage. */
	uint64_t k2[] = {a_str(a, "_ident"), a_str(a, "_name"), a_str(a, "_daemonic")};
	uint64_t v2[] = {a_int(a, 222), a_str(a, "managed-thread"), a_int(a, 0)};
	g->t2 = a_instance(a, 3, k2, v2);

	uint64_t ak[] = {a_int(a, 111), a_int(a, 222)};
	uint64_t av[] = {g->t1, g->t2};
	g->active = a_dict(a, 2, ak, av);
	g->ident_obj = ak[0];

	uint64_t mk[] = {a_str(a, "_limbo"), a_str(a, "_active")};
	uint64_t mv[] = {a_dict(a, 0, NULL, NULL), g->active};
	uint64_t mod = a_alloc(a, 48);
	a_u64(a, mod + l->ob_type, a->mod_type);
	a_u64(a, mod + l->mod_dict, a_dict(a, 2, mk, mv));

	uint64_t sk[] = {a_str(a, "sys"), a_str(a, "threading"), a_str(a, "os")};
	uint64_t sv[] = {a_str(a, "x"), mod, a_str(a, "y")};
	g->modules = a_dict(a, 3, sk, sv);
}

static void check_graph(const struct pp_objreader *r, const struct graph *g)
{
	struct pp_thread_names names = {0};
	int rc = pp_thread_names_read(r, g->modules, &names);
	cr_assert_eq(rc, 0, "3.%d: pp_thread_names_read %d", r->layout->minor, rc);
	cr_assert_eq(names.n, 2, "3.%d: %zu names", r->layout->minor, names.n);
	cr_expect_str_eq(pp_thread_names_get(&names, 111, 0), "plain-thread");
	cr_expect_str_eq(pp_thread_names_get(&names, 222, 0), "managed-thread");
	pp_thread_names_free(&names);
	uint64_t v, x;
	cr_assert_eq(pp_object_attr(r, g->t2, "_ident", &v), 0);
	cr_assert_eq(pp_read_long(r, v, &x), 0);
	cr_expect_eq(x, 222);
	cr_expect_eq(pp_object_attr(r, g->t2, "_nope", &v), -ENOENT);
}

Test(corrupt, damaged_object_graph, .timeout = 300)
{
	for (size_t li = 0; li < pp_n_supported_minors; li++) {
		struct arena a = {.l = pp_layout_for(pp_supported_minors[li])};
		cr_assert_not_null(a.l);
		uint8_t *pristine = calloc(1, ARENA_SIZE);
		a.mem = pristine;
		struct graph g;
		build_graph(&a, &g);
		size_t used = a.used;

		struct pp_mem m;
		pp_mem_init_callback(&m, arena_read, &a);
		struct pp_objreader r = {.mem = &m, .layout = a.l,
					 .str_type = a.str_type,
					 .long_type = a.long_type,
					 .dict_type = a.dict_type};
		check_graph(&r, &g);
		struct pp_objreader loose = {.mem = &m, .layout = a.l};
		check_graph(&loose, &g);

		uint8_t *work = malloc(ARENA_SIZE);
		a.mem = work;
		uint64_t rng = 12345 + li;
		for (int iter = 0; iter < 3000; iter++) {
			memcpy(work, pristine, ARENA_SIZE);
			int hits = 1 + (int)(mix(rng++) % 6);
			for (int h = 0; h < hits; h++) {
				uint64_t x = mix(rng++);
				size_t at = (size_t)(x % used);
				switch ((x >> 40) % 4) {
				case 0: /* one random byte */
					work[at] = (uint8_t)(x >> 32);
					break;
				case 1: /* a word pointing elsewhere in the arena */
					at &= ~(size_t)7;
					if (at + 8 <= ARENA_SIZE) {
						uint64_t p = ARENA_BASE + (mix(x) % used & ~7ull);
						memcpy(work + at, &p, 8);
					}
					break;
				case 2: /* a small number (counts, sizes, flags) */
					at &= ~(size_t)7;
					if (at + 8 <= ARENA_SIZE) {
						uint64_t n = (x >> 48) % 70;
						memcpy(work + at, &n, 8);
					}
					break;
				default: /* a huge number */
					at &= ~(size_t)7;
					if (at + 8 <= ARENA_SIZE) {
						uint64_t n = mix(x) | (1ull << 63);
						memcpy(work + at, &n, 8);
					}
				}
			}
			struct pp_objreader *rr = iter & 1 ? &r : &loose;
			poke(rr, g.modules);
			poke(rr, g.active);
			poke(rr, g.t1);
			poke(rr, g.t2);
			poke(rr, g.ident_obj);
		}
		free(work);
		free(pristine);
		pp_mem_close(&m);
	}
}

Test(fake, int_at_end_of_mapping)
{
	/* Ints whose last byte ends the readable memory: reading the largest
	 * int we accept in one go would fault, reading the value must not. */
	static const struct {
		uint64_t v;
		unsigned ndigits;
	} cases[] = {{(5ull << 30) | 7, 2}, {0, 0}};
	for (size_t li = 0; li < pp_n_supported_minors; li++) {
		const struct py_layout *l = pp_layout_for(pp_supported_minors[li]);
		for (size_t ci = 0; ci < 2; ci++) {
			struct arena a = {.l = l};
			a.mem = calloc(1, ARENA_SIZE);
			cr_assert_not_null(a.mem);
			unsigned nd = cases[ci].ndigits;
			uint64_t o = ARENA_BASE + ARENA_SIZE - (l->long_digits + 4 * nd);
			a_u64(&a, o + l->long_size,
			      l->long_tagged ? ((uint64_t)nd << 3) | (nd ? 0 : 1) : nd);
			if (nd) {
				a_u32(&a, o + l->long_digits, 7);
				a_u32(&a, o + l->long_digits + 4, 5);
			}
			struct pp_mem m;
			pp_mem_init_callback(&m, arena_read, &a);
			struct pp_objreader r = {.mem = &m, .layout = l};
			uint64_t v = 99;
			cr_expect_eq(pp_read_long(&r, o, &v), 0, "3.%d", l->minor);
			cr_expect_eq(v, cases[ci].v, "3.%d: %llu", l->minor,
				     (unsigned long long)v);
			pp_mem_close(&m);
			free(a.mem);
		}
	}
}
