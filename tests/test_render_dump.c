/* render/dump_text.c and render/dump_json.c: a fixed dump that covers every
 * state and every awkward string, compared byte for byte with the golden
 * files in fixtures/golden/, plus write errors and JSON validity.
 *
 * To regenerate the golden files after an intended format change:
 *   PYPROBE_UPDATE_GOLDEN=1 meson test -C BUILD render_dump
 * then read the diff before committing it.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "render/render.h"
#include "tests/support.h"

static const struct pp_dump_frame main_frames[] = {
	{"compute", "compute", "app.py", 12, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
	{"main", "main", "app.py", 30, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
	{"<module>", "<module>", "app.py", 34, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
};

static const struct pp_dump_frame worker_frames[] = {
	{"Condition.wait", "wait", "/usr/lib/python3.11/threading.py", 320, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
	{"Queue.get", "get", "/usr/lib/python3.11/queue.py", 171, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
	{"Worker.run", "run", "/srv/app/workers.py", 58, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
	{"Thread._bootstrap_inner", "_bootstrap_inner", "/usr/lib/python3.11/threading.py", 1045, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
	{"Thread._bootstrap", "_bootstrap", "/usr/lib/python3.11/threading.py", 1002, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
};

static const struct pp_dump_frame gil_waiter_frames[] = {
	{"parse", "parse", "/srv/app/codec.py", 88, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
	{"Worker.run", "run", "/srv/app/workers.py", 61, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
};

/* A line of -1: the interpreter has no line for the instruction. */
static const struct pp_dump_frame reader_frames[] = {
	{"Reader.fill", "fill", "/srv/app/io.py", -1, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
	{"Reader.run", "run", "/srv/app/io.py", 40, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
};

/* Non-ASCII in function names and file names, including a character
 * outside the BMP (U+20000, four UTF-8 bytes). */
static const struct pp_dump_frame subinterp_frames[] = {
	{"Clase.función_ñ", "función_ñ", "/srv/app/módulo.py", 7, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
	{"函数", "函数", "/srv/应用/𠀀.py", 99, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
	{"<module>", "<module>", "/srv/应用/𠀀.py", 1, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
};

static const struct pp_dump_frame stopped_frames[] = {
	{"handler", "handler", "/srv/app/signals.py", 5, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
};

static const struct pp_dump_frame exiting_frames[] = {
	{"_shutdown", "_shutdown", "/usr/lib/python3.11/threading.py", 1583, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
};

/* Cut short: the outer frames that held still under [changing]. */
static const struct pp_dump_frame changing_frames[] = {
	{"[changing]", NULL, NULL, -1, PP_DUMP_FRAME_MARKER, 0, NULL, 0, 0, NULL, 0, false},
	{"driver", "driver", "/srv/app/churn.py", 33, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
	{"<module>", "<module>", "/srv/app/churn.py", 40, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
};

/* Unreadable parts: a name that could not be read, a line that could not
 * be read, a frame whose code object could not be, a chain that loops. */
static const struct pp_dump_frame broken_frames[] = {
	{NULL, NULL, "/srv/app/ext.py", 12, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
	{"Handler.run", "run", "/srv/app/ext.py", -2, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
	{"[unreadable frame: not a code object]", NULL, NULL, -1, PP_DUMP_FRAME_MARKER, 0, NULL, 0, 0, NULL, 0, false},
	{"serve", "serve", NULL, 9, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
	{"[unreadable frame: frame chain loops]", NULL, NULL, -1, PP_DUMP_FRAME_MARKER, 0, NULL, 0, 0, NULL, 0, false},
};

static const struct pp_dump_frame disk_frames[] = {
	{"load", "load", "/srv/app/disk.py", 3, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
};

static const struct pp_dump_frame loop_frames[] = {
	{"EpollSelector.select", "select", "/usr/lib/python3.11/selectors.py", 468, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
	{"BaseEventLoop._run_once", "_run_once", "/usr/lib/python3.11/asyncio/base_events.py", 1898, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
};

/* The second number is the id in the target's PID namespace: the main
 * thread's is 1 (a container), 4250's the same as ours (not shown), the
 * rest unknown. */
static const struct pp_dump_thread fixture_threads[] = {
	/* gil held, os running */
	{4242, 1, "MainThread", 0, PP_DUMP_GIL_HELD, PP_DUMP_OS_RUNNING, NULL, 0,
	 main_frames, 3, PP_DUMP_NATIVE_NONE, NULL, NULL, 0},
	/* released, sleeping in a syscall */
	{4250, 4250, "worker-1", 0, PP_DUMP_GIL_RELEASED, PP_DUMP_OS_SLEEPING, "futex", 0,
	 worker_frames, 5, PP_DUMP_NATIVE_NONE, NULL, NULL, 0},
	/* waiting for the GIL wins over what the kernel says */
	{4251, 0, "worker-2", 0, PP_DUMP_GIL_WAITING, PP_DUMP_OS_SLEEPING, "futex", 0,
	 gil_waiter_frames, 2, PP_DUMP_NATIVE_NONE, NULL, NULL, 0},
	/* a name with a quote and a newline; disk wait in a syscall; line -1 */
	{4252, 0, "io-\"reader\"\nline2", 0, PP_DUMP_GIL_RELEASED, PP_DUMP_OS_DISK, "read", 0,
	 reader_frames, 2, PP_DUMP_NATIVE_NONE, NULL, NULL, 0},
	/* no name, sleeping without a known syscall, no frames */
	{4253, 0, NULL, 0, PP_DUMP_GIL_RELEASED, PP_DUMP_OS_SLEEPING, NULL, 0, NULL, 0, PP_DUMP_NATIVE_NONE, NULL, NULL, 0},
	/* a subinterpreter (its own GIL, 3.12+); non-ASCII everywhere */
	{4254, 0, "trabajador-ñ 线程", 1, PP_DUMP_GIL_HELD, PP_DUMP_OS_RUNNING, NULL, 0,
	 subinterp_frames, 3, PP_DUMP_NATIVE_NONE, NULL, NULL, 0},
	{4255, 0, "stopper", 0, PP_DUMP_GIL_RELEASED, PP_DUMP_OS_STOPPED, NULL, 0,
	 stopped_frames, 1, PP_DUMP_NATIVE_NONE, NULL, NULL, 0},
	/* holds the GIL while blocked in the kernel: the classic hang */
	{4260, 0, "hog", 0, PP_DUMP_GIL_HELD, PP_DUMP_OS_SLEEPING, "nanosleep", 0,
	 stopped_frames, 1, PP_DUMP_NATIVE_NONE, NULL, NULL, 0},
	/* dropped (nothing held still), nothing known about it */
	{4256, 0, "churn", 0, PP_DUMP_GIL_UNKNOWN, PP_DUMP_OS_UNKNOWN, NULL, PP_DUMP_STACK_DROPPED,
	 NULL, 0, PP_DUMP_NATIVE_NONE, NULL, NULL, 0},
	{4257, 0, "exiting", 0, PP_DUMP_GIL_RELEASED, PP_DUMP_OS_ZOMBIE, NULL, 0,
	 exiting_frames, 1, PP_DUMP_NATIVE_NONE, NULL, NULL, 0},
	/* backslash, tab and a terminal escape in a name; disk without a
	 * syscall */
	{4258, 0, "C:\\tmp\tesc\x1b[31m", 0, PP_DUMP_GIL_UNKNOWN, PP_DUMP_OS_DISK, NULL, 0,
	 disk_frames, 1, PP_DUMP_NATIVE_NONE, NULL, NULL, 0},
	/* gil unknown falls through to the OS state */
	{4259, 0, "asyncio-loop", 0, PP_DUMP_GIL_UNKNOWN, PP_DUMP_OS_SLEEPING, "epoll_wait", 0,
	 loop_frames, 2, PP_DUMP_NATIVE_NONE, NULL, NULL, 0},
	/* cut short: what held still, under its marker */
	{4261, 0, "partial", 0, PP_DUMP_GIL_RELEASED, PP_DUMP_OS_RUNNING, NULL,
	 PP_DUMP_STACK_CUT_CHANGING, changing_frames, 3, PP_DUMP_NATIVE_NONE, NULL, NULL, 0},
	/* parts that could not be read */
	{4262, 0, "broken", 0, PP_DUMP_GIL_HELD, PP_DUMP_OS_RUNNING, NULL,
	 PP_DUMP_STACK_CUT_UNREADABLE, broken_frames, 5, PP_DUMP_NATIVE_NONE, NULL, NULL, 0},
};

static const struct pp_dump fixture = {
	.pid = 4242,
	.cmdline = "python3 app.py --workers 4",
	.version = "3.11.7",
	.executable = "/usr/bin/python3.11",
	.libpython = "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0",
	.threads = fixture_threads,
	.nthreads = sizeof fixture_threads / sizeof fixture_threads[0],
};

typedef int (*renderer)(const struct pp_dump *, FILE *);

/* Render into memory; returns a NUL-terminated malloc'd buffer. */
static char *render(renderer fn, const struct pp_dump *d, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	cr_assert_not_null(f);
	cr_assert_eq(fn(d, f), 0);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

static void check_golden(renderer fn, const char *name)
{
	size_t len, at;
	char *got = render(fn, &fixture, &len);
	if (!ts_matches_golden(name, got, len, &at)) {
		/* Free first: the failure ends the test, and a leak report
		 * would bury the message. */
		free(got);
		cr_assert_fail("%s differs from the golden file at byte %zu; output written "
			       "to %s.actual in the test's working directory",
			       name, at, name);
	}

	/* Same input, same bytes. */
	size_t len2;
	char *again = render(fn, &fixture, &len2);
	cr_assert_eq(len2, len);
	cr_assert_eq(memcmp(again, got, len), 0);
	free(again);
	free(got);
}

Test(render_dump, text_golden)
{
	check_golden(pp_render_dump_text, "dump.txt");
}

Test(render_dump, json_golden)
{
	check_golden(pp_render_dump_json, "dump.json");
}

/* Run a Python check on the rendered JSON. The script gets the document's
 * path as sys.argv[1]; returns its exit status. */
static int python_check(const char *json, size_t len, const char *script)
{
	char path[] = "/tmp/pyprobe-render-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, json, len), (ssize_t)len);
	close(fd);

	char *cmd;
	cr_assert_geq(asprintf(&cmd, "python3 - '%s'", path), 0);
	FILE *p = popen(cmd, "w");
	cr_assert_not_null(p);
	fputs(script, p);
	int status = pclose(p);
	unlink(path);
	free(cmd);
	cr_assert(WIFEXITED(status), "python3 died: %#x", status);
	return WEXITSTATUS(status);
}

static int json_tool(const char *json, size_t len)
{
	char path[] = "/tmp/pyprobe-render-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, json, len), (ssize_t)len);
	close(fd);
	char *cmd;
	cr_assert_geq(asprintf(&cmd, "python3 -m json.tool '%s' >/dev/null", path), 0);
	int status = system(cmd);
	unlink(path);
	free(cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(render_dump, json_parses_and_means_what_it_says)
{
	size_t len;
	char *json = render(pp_render_dump_json, &fixture, &len);
	cr_assert_eq(json_tool(json, len), 0, "python3 -m json.tool rejects the output");

	/* Decoded, the strings are the model's strings again: the escaping
	 * round-trips. */
	static const char script[] =
		"import json, sys\n"
		"d = json.load(open(sys.argv[1], encoding='utf-8'))\n"
		"assert list(d) == ['format_version', 'source', 'pid', 'cmdline', 'python', 'threads'], list(d)\n"
		"assert d['format_version'] == 1\n"
		"assert d['python'] == {'version': '3.11.7', 'executable': '/usr/bin/python3.11',\n"
		"    'libpython': '/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0'}\n"
		"t = d['threads']\n"
		"assert len(t) == 14\n"
		"keys = ['native_id', 'ns_native_id', 'name', 'interpreter_id', 'gil', 'os_state', 'syscall', 'stack',\n"
		"        'frames']\n"
		"for th in t:\n"
		"    assert list(th) == keys, list(th)\n"
		"    for f in th['frames']:\n"
		"        assert list(f) == ['kind', 'function', 'name', 'file', 'line'], list(f)\n"
		"        if f['kind'] == 'marker':\n"
		"            assert f['name'] is None and f['file'] is None and f['line'] is None, f\n"
		"            assert f['function'].startswith('[') and f['function'].endswith(']')\n"
		"        else:\n"
		"            assert f['kind'] == 'python', f\n"
		"assert [th['ns_native_id'] for th in t[:3]] == [1, 4250, None]\n"
		"st = [th['stack'] for th in t]\n"
		"assert st.count('dropped') == 1 and st.count('cut_changing') == 1, st\n"
		"assert st.count('cut_unreadable') == 1 and st.count('whole') == 11, st\n"
		"assert t[8]['stack'] == 'dropped' and t[8]['frames'] == []\n"
		"assert t[12]['frames'][0]['function'] == '[changing]'\n"
		"b = t[13]['frames']\n"
		"assert b[0]['function'] is None and b[0]['file'] == '/srv/app/ext.py'\n"
		"assert b[1]['line'] is None and b[3]['file'] is None\n"
		"assert b[4]['function'] == '[unreadable frame: frame chain loops]'\n"
		"assert t[3]['name'] == 'io-\"reader\"\\nline2'\n"
		"assert t[4]['name'] is None and t[4]['frames'] == []\n"
		"assert t[5]['name'] == 'trabajador-\\u00f1 \\u7ebf\\u7a0b'\n"
		"assert t[5]['interpreter_id'] == 1\n"
		"assert t[5]['frames'][0]['function'] == 'Clase.funci\\u00f3n_\\u00f1'\n"
		"assert t[5]['frames'][1]['file'] == '/srv/\\u5e94\\u7528/\\U00020000.py'\n"
		"assert t[10]['name'] == 'C:\\\\tmp\\tesc\\x1b[31m'\n"
		"assert t[3]['frames'][0]['line'] == -1\n"
		"assert sorted({th['gil'] for th in t}) == ['held', 'released', 'unknown', 'waiting']\n"
		"assert sorted({th['os_state'] for th in t}) == "
		"['disk', 'running', 'sleeping', 'stopped', 'unknown', 'zombie']\n";
	cr_assert_eq(python_check(json, len, script), 0, "the decoded JSON is not the dump");
	free(json);
}

/* Bytes that are not UTF-8 (the reader should never produce them, but a
 * corrupt target might) become U+FFFD, one per maximal ill-formed
 * subsequence, so the document is still valid JSON. */
Test(render_dump, json_replaces_invalid_utf8)
{
	struct pp_dump_frame fr = {"bad\xff", "\xc0\xaf" "overlong", "\xed\xa0\x80surrogate", 1, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false};
	struct pp_dump_thread th = {7, 0, "trunc\xe4\xb8" "x\xf4\x90\x80\x80" "end\xe4", 0,
				    PP_DUMP_GIL_HELD, PP_DUMP_OS_RUNNING, NULL, 0, &fr, 1, PP_DUMP_NATIVE_NONE, NULL, NULL, 0};
	struct pp_dump d = {1, "ok \xf0\x9f\x98\x80", "3.12.1", "/x", NULL, &th, 1, NULL, false, NULL, 0, NULL};
	size_t len;
	char *json = render(pp_render_dump_json, &d, &len);
	cr_assert_eq(json_tool(json, len), 0, "invalid JSON:\n%s", json);

#define R "\xef\xbf\xbd"
	cr_assert_not_null(strstr(json, "\"cmdline\": \"ok \xf0\x9f\x98\x80\""), "%s", json);
	cr_assert_not_null(strstr(json, "\"name\": \"trunc" R "x" R R R R "end" R "\""), "%s",
			   json);
	cr_assert_not_null(strstr(json, "\"function\": \"bad" R "\""), "%s", json);
	cr_assert_not_null(strstr(json, "\"name\": \"" R R "overlong\""), "%s", json);
	cr_assert_not_null(strstr(json, "\"file\": \"" R R R "surrogate\""), "%s", json);
#undef R
	/* The same replacement Python's own decoder makes. */
	static const char script[] =
		"import json, sys\n"
		"d = json.load(open(sys.argv[1], encoding='utf-8'))\n"
		"dec = lambda b: b.decode('utf-8', 'replace')\n"
		"t = d['threads'][0]\n"
		"assert t['name'] == dec(b'trunc\\xe4\\xb8x\\xf4\\x90\\x80\\x80end\\xe4'), t['name']\n"
		"f = t['frames'][0]\n"
		"assert f['function'] == dec(b'bad\\xff')\n"
		"assert f['name'] == dec(b'\\xc0\\xafoverlong')\n"
		"assert f['file'] == dec(b'\\xed\\xa0\\x80surrogate')\n";
	cr_assert_eq(python_check(json, len, script), 0);
	free(json);
}

Test(render_dump, json_control_chars)
{
	struct pp_dump_thread th = {7, 0, "\x01\b\f\n\r\t\x1f\x7f/\"\\", 0, PP_DUMP_GIL_RELEASED,
				    PP_DUMP_OS_SLEEPING, "futex", 0, NULL, 0, PP_DUMP_NATIVE_NONE, NULL, NULL, 0};
	struct pp_dump d = {1, NULL, "3.12.1", NULL, NULL, &th, 1, NULL, false, NULL, 0, NULL};
	size_t len;
	char *json = render(pp_render_dump_json, &d, &len);
	cr_assert_not_null(strstr(json, "\"name\": \"\\u0001\\b\\f\\n\\r\\t\\u001f\x7f/\\\"\\\\\""),
			   "%s", json);
	cr_assert_not_null(strstr(json, "\"cmdline\": null"));
	cr_assert_not_null(strstr(json, "\"executable\": null"));
	cr_assert_not_null(strstr(json, "\"frames\": []\n"));
	cr_assert_eq(json_tool(json, len), 0);
	free(json);
}

/* U+0000 in a name reaches the renderers as the bytes C0 80 (the reader's
 * modified UTF-8): text shows it as `\x00`, JSON as `\u0000`, and neither
 * cuts the name there. A lone C0 or a C0 followed by anything else is
 * still ill-formed. */
Test(render_dump, nul_in_names_is_escaped)
{
	struct pp_dump_frame fr[] = {
		{.function = "Q\xc0\x80R.a\xc0\x80" "b", .name = "a\xc0\x80" "b",
		 .file = "/tmp/x\xc0\x80y.py", .line = 3},
		{.function = "\xc0\x80\xc0\x80", .name = "end\xc0\x80", .file = "\xc0" "A", .line = 4},
	};
	struct pp_dump_thread th = {.native_id = 7, .name = "t\xc0\x80\"n",
				    .gil = PP_DUMP_GIL_HELD, .os_state = PP_DUMP_OS_RUNNING,
				    .frames = fr, .nframes = 2};
	struct pp_dump d = {.pid = 1, .cmdline = "python3 app.py", .version = "3.12.1",
			    .threads = &th, .nthreads = 1};
	size_t len;
	char *text = render(pp_render_dump_text, &d, &len);
	cr_assert_not_null(strstr(text, "\"t\\x00\\\"n\""), "%s", text);
	cr_assert_not_null(strstr(text, "Q\\x00R.a\\x00b (/tmp/x\\x00y.py:3)"), "%s", text);
	cr_assert_not_null(strstr(text, "\\x00\\x00 (\xc0" "A:4)"), "%s", text);
	cr_assert_null(memchr(text, '\0', len), "a NUL byte in the text");
	free(text);

	char *json = render(pp_render_dump_json, &d, &len);
	cr_assert_not_null(strstr(json, "\"t\\u0000\\\"n\""), "%s", json);
	cr_assert_not_null(strstr(json, "\"Q\\u0000R.a\\u0000b\""), "%s", json);
	cr_assert_not_null(strstr(json, "\"a\\u0000b\""), "%s", json);
	cr_assert_not_null(strstr(json, "\"/tmp/x\\u0000y.py\""), "%s", json);
	cr_assert_not_null(strstr(json, "\"\\u0000\\u0000\""), "%s", json);
	cr_assert_not_null(strstr(json, "\"end\\u0000\""), "%s", json);
	cr_assert_not_null(strstr(json, "\"\xef\xbf\xbd" "A\""), "%s", json);
	static const char script[] =
		"import json, sys\n"
		"d = json.load(open(sys.argv[1], encoding='utf-8'))\n"
		"t = d['threads'][0]\n"
		"assert t['name'] == 't\\x00\"n', t['name']\n"
		"f = t['frames'][0]\n"
		"assert (f['function'], f['name'], f['file']) == "
		"('Q\\x00R.a\\x00b', 'a\\x00b', '/tmp/x\\x00y.py'), f\n"
		"assert t['frames'][1]['function'] == '\\x00\\x00'\n";
	cr_assert_eq(python_check(json, len, script), 0, "%s", json);
	free(json);
}

/* Without a shared libpython the Python line names only the executable;
 * a dump with no threads is still a complete document. */
Test(render_dump, static_python_and_no_threads)
{
	struct pp_dump d = {99, "python3 -c pass", "3.8.18", "/usr/bin/python3.8", NULL, NULL, 0, NULL, false, NULL, 0, NULL};
	size_t len;
	char *text = render(pp_render_dump_text, &d, &len);
	cr_assert_str_eq(text, "Process 99: python3 -c pass\nPython 3.8.18 (/usr/bin/python3.8)\n");
	free(text);

	char *json = render(pp_render_dump_json, &d, &len);
	cr_assert_str_eq(json, "{\n"
			       "  \"format_version\": 1,\n"
			       "  \"source\": \"process\",\n"
			       "  \"pid\": 99,\n"
			       "  \"cmdline\": \"python3 -c pass\",\n"
			       "  \"python\": {\n"
			       "    \"version\": \"3.8.18\",\n"
			       "    \"executable\": \"/usr/bin/python3.8\",\n"
			       "    \"libpython\": null\n"
			       "  },\n"
			       "  \"threads\": []\n"
			       "}\n");
	cr_assert_eq(json_tool(json, len), 0);
	free(json);
}

static void check_write_error(renderer fn)
{
	FILE *f = fopen("/dev/full", "w");
	cr_assert_not_null(f, "/dev/full: %s", strerror(errno));
	errno = 0;
	cr_assert_eq(fn(&fixture, f), -1);
	cr_assert_eq(errno, ENOSPC, "errno = %s", strerror(errno));
	fclose(f);

	/* Unbuffered: the very first write fails, long before the end. */
	f = fopen("/dev/full", "w");
	cr_assert_not_null(f);
	setvbuf(f, NULL, _IONBF, 0);
	cr_assert_eq(fn(&fixture, f), -1);
	fclose(f);
}

Test(render_dump, text_write_error)
{
	check_write_error(pp_render_dump_text);
}

Test(render_dump, json_write_error)
{
	check_write_error(pp_render_dump_json);
}

/* A dump read from a core says so: "source": "core" and its path in JSON,
 * a "Core file" line in the text, and a thread the core does not hold
 * intact is not said to have changed. */
Test(render_dump, from_a_core)
{
	struct pp_dump_thread th = {.native_id = 7, .name = "w", .gil = PP_DUMP_GIL_RELEASED,
				    .os_state = PP_DUMP_OS_SLEEPING,
				    .stack = PP_DUMP_STACK_DROPPED};
	struct pp_dump d = {.pid = 7, .cmdline = "python3 app.py", .version = "3.12.1",
			    .executable = "/usr/bin/python3.12", .threads = &th, .nthreads = 1,
			    .core = "/var/tmp/core.7"};
	size_t len;
	char *text = render(pp_render_dump_text, &d, &len);
	cr_assert_str_eq(text, "Process 7: python3 app.py\n"
			       "Python 3.12.1 (/usr/bin/python3.12)\n"
			       "Core file /var/tmp/core.7\n"
			       "\n"
			       "Thread 7 \"w\" (idle)\n"
			       "    (stack not shown: the core does not hold it intact)\n");
	free(text);
	char *json = render(pp_render_dump_json, &d, &len);
	static const char head[] = "{\n  \"format_version\": 1,\n  \"source\": \"core\",\n"
				   "  \"core\": \"/var/tmp/core.7\",\n  \"pid\": 7,\n";
	cr_assert(strncmp(json, head, strlen(head)) == 0, "%s", json);
	cr_assert_eq(json_tool(json, len), 0);
	free(json);
}

/* --locals: text lines under their frame, JSON lists on Python frames only
 * (null where unreadable), and a dump without --locals has no such key. */
Test(render_dump, locals_text_and_json)
{
	static const struct pp_dump_local lv[] = {
		{"n", "int", "42"},
		{"s", "str", "'it\\'s \xe2\x9c\x93'"},
		{"bad\xff", NULL, NULL},
		{NULL, "Foo", "<Foo object at 0x7f00>"},
	};
	struct pp_dump_frame fr[] = {
		{"[changing]", NULL, NULL, -1, PP_DUMP_FRAME_MARKER, 0, NULL, 0, 0, NULL, 0, false},
		{"work", "work", "app.py", 3, PP_DUMP_FRAME_PYTHON, PP_DUMP_LOCALS_READ, lv, 4, 1, NULL, 0, false},
		{"main", "main", "app.py", 9, PP_DUMP_FRAME_PYTHON, PP_DUMP_LOCALS_UNREADABLE, NULL, 0, 0, NULL, 0, false},
		{"<module>", "<module>", "app.py", 11, PP_DUMP_FRAME_PYTHON, PP_DUMP_LOCALS_READ, NULL, 0, 0, NULL, 0, false},
	};
	struct pp_dump_thread th = {7, 0, "w", 0, PP_DUMP_GIL_RELEASED, PP_DUMP_OS_SLEEPING, NULL,
				    PP_DUMP_STACK_CUT_CHANGING, fr, 4, PP_DUMP_NATIVE_NONE, NULL, NULL, 0};
	struct pp_dump d = {.pid = 1, .cmdline = "python3 app.py", .version = "3.12.1",
			    .executable = "/x", .threads = &th, .nthreads = 1, .with_locals = 1};
	size_t len;
	char *text = render(pp_render_dump_text, &d, &len);
	cr_assert(strstr(text, "    work (app.py:3)\n"
			       "        n = 42\n"
			       "        s = 'it\\'s \xe2\x9c\x93'\n"
			       "        bad\xff = <value not readable>\n"
			       "        ? = <Foo object at 0x7f00>\n"
			       "        (more locals not read)\n"
			       "    main (app.py:9)\n"
			       "        (locals not readable)\n"
			       "    <module> (app.py:11)\n"),
		  "text:\n%s", text);
	free(text);
	char *json = render(pp_render_dump_json, &d, &len);
	cr_assert_eq(python_check(json, len,
		"import json, sys\n"
		"d = json.load(open(sys.argv[1]))\n"
		"f = d['threads'][0]['frames']\n"
		"assert 'locals' not in f[0], f[0]\n"
		"assert f[1]['locals'] == [{'name': 'n', 'type': 'int', 'repr': '42'},\n"
		"  {'name': 's', 'type': 'str', 'repr': \"'it\\\\'s \\u2713'\"},\n"
		"  {'name': 'bad\\ufffd', 'type': None, 'repr': None},\n"
		"  {'name': None, 'type': 'Foo', 'repr': '<Foo object at 0x7f00>'}], f[1]\n"
		"assert f[2]['locals'] is None\n"
		"assert f[3]['locals'] == []\n"), 0, "JSON:\n%s", json);
	free(json);
	d.with_locals = 0;
	json = render(pp_render_dump_json, &d, &len);
	cr_assert_null(strstr(json, "\"locals\""), "no --locals, no locals key:\n%s", json);
	free(json);
}
