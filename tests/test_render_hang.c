/* render/hang.c: watch's hang files from a hand-made model: the JSON
 * parses and says what the model says, target strings cannot forge lines
 * in the text, a dump that could not be taken is said so. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "render/render.h"
#include "tests/profile_build.h"

static struct pp_profile *recent(void)
{
	struct pp_profile *p = pp_profile_new();
	cr_assert(p);
	const struct tb_fr chain[] = {{"<module>", "/srv/app.py", 9}, {"take", "/srv/app.py", 20}};
	pp_stack_id s = tb_chain(p, chain, 2);
	struct pp_pthread t = {42, 43, pp_profile_str(p, "evil\nthread 1 \"x\" 99"),
			       pp_profile_str(p, "python app.py")};
	uint32_t row = pp_profile_thread(p, &t);
	for (int i = 0; i < 5; i++) {
		struct pp_psample ps = {(uint64_t)i * 50000000ull, row, s, PP_SGIL_RELEASED,
					PP_SOS_SLEEPING};
		cr_assert_eq(pp_profile_add_sample(p, &ps), 0);
	}
	pp_profile_meta(p)->rate_hz = 20;
	pp_profile_meta(p)->duration_ns = 250000000ull;
	return p;
}

static const struct pp_hang_finding findings[] = {
	{"deadlock", 43, "evil\nthread 1 \"x\" 99", "lock wait", 2.5, "take", "/srv/app.py", 20, NULL, NULL},
	{"deadlock", 44, NULL, "lock wait", 2.0, NULL, NULL, 0, NULL, NULL},
	{"heartbeat", 0, NULL, "unknown", 3.0, NULL, NULL, 0, NULL, NULL},
};

static char *render(int (*fn)(const struct pp_hang *, FILE *), const struct pp_hang *h)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	cr_assert(m);
	int rc = fn(h, m);
	fclose(m);
	cr_assert_eq(rc, 0);
	return buf;
}

Test(render_hang, json_and_text)
{
	struct pp_profile *p = recent();
	struct pp_hang h = {
		.pid = 42, .condition = "deadlock", .condition_name = "suspected deadlock",
		.time = "2026-12-02T15:00:00Z", .stall_s = 30, .stuck_s = 2,
		.heartbeat_file = "/run/app/beat", .heartbeat_timeout_s = 3,
		.findings = findings, .nfindings = 3, .nmore = 7,
		.recent = p, .recent_s = 0.25,
		.dump = NULL, .dump_error = "process 42 exited while pyprobe was reading it",
	};
	char *json = render(pp_render_hang_json, &h);
	char path[] = "/tmp/pyprobe-render-hang-XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, json, strlen(json)), (ssize_t)strlen(json));
	close(fd);
	free(json);
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "python3 -c '"
		 "import json, sys\n"
		 "h = json.load(open(sys.argv[1]))\n"
		 "assert h[\"format_version\"] == \"1.0\" and h[\"pid\"] == 42, h\n"
		 "assert h[\"condition\"] == \"deadlock\" and h[\"findings_left_out\"] == 7\n"
		 "f = h[\"findings\"]\n"
		 "assert f[0][\"name\"] == \"evil\\nthread 1 \\\"x\\\" 99\" and f[0][\"line\"] == 20, f\n"
		 "assert f[1][\"function\"] is None and f[1][\"line\"] is None and f[1][\"file\"] is None\n"
		 "assert f[2][\"native_id\"] is None and f[2][\"activity\"] is None\n"
		 "assert h[\"heartbeat\"] == {\"file\": \"/run/app/beat\", \"timeout_seconds\": 3.0}\n"
		 "c = h[\"recent\"][\"collapsed\"]\n"
		 "assert len(c) == 1 and c[0].endswith(\"take (/srv/app.py:20) 5\"), c\n"
		 "assert h[\"dump\"] is None and \"exited\" in h[\"dump_error\"]\n"
		 "' %s", path);
	int st = system(cmd);
	unlink(path);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the JSON is not what the model says");

	char *text = render(pp_render_hang_text, &h);
	cr_assert(strstr(text, "pyprobe watch: suspected deadlock in process 42 at 2026-12-02T15:00:00Z\n"),
		  "%s", text);
	cr_assert(strstr(text, "thread 43 \"evil\\nthread 1 \\\"x\\\" 99\", lock wait for 2.5 s, at take (/srv/app.py:20)"),
		  "%s", text);
	cr_assert(!strstr(text, "\nthread 1 \"x\" 99"), "a name forged a line:\n%s", text);
	cr_assert(strstr(text, "heartbeat: /run/app/beat not modified for 3.0 s (timeout 3.0 s)"), "%s", text);
	cr_assert(strstr(text, "and 7 more\n"), "%s", text);
	cr_assert(strstr(text, "(not taken: process 42 exited"), "%s", text);
	free(text);
	pp_profile_free(p);
}

/* A stall names the Task the loop runs (quoted, escaped like a thread name)
 * and its coroutine; without a Task, the coroutine alone, as before. */
Test(render_hang, stall_task)
{
	static const struct pp_hang_finding stall[] = {
		{"stall", 7, "MainThread", "running", 3.0, "blocker", "/srv/app.py", 56, "blocker",
		 "fetch-\"3\"\n"},
		{"stall", 8, NULL, "running", 3.0, "cb", "/srv/app.py", 9, "cb", NULL},
	};
	struct pp_hang h = {
		.pid = 42, .condition = "stall", .condition_name = "loop stall",
		.time = "2026-12-02T15:00:00Z", .stall_s = 1, .stuck_s = 30,
		.findings = stall, .nfindings = 2,
	};
	char *text = render(pp_render_hang_text, &h);
	cr_assert(strstr(text, "stall: thread 7 \"MainThread\", running for 3.0 s, loop running task "
			       "\"fetch-\\\"3\\\"\\n\" (coroutine blocker), at blocker (/srv/app.py:56)\n"),
		  "%s", text);
	cr_assert(strstr(text, "stall: thread 8, running for 3.0 s, loop running cb, at cb"), "%s", text);
	free(text);
	char *json = render(pp_render_hang_json, &h);
	cr_assert(strstr(json, "\"task\": \"blocker\", \"task_name\": \"fetch-\\\"3\\\"\\n\"}"), "%s", json);
	cr_assert(strstr(json, "\"task\": \"cb\", \"task_name\": null}"), "%s", json);
	free(json);
}
