/* Unit: the asyncio tasks part of a dump (render/dump_tasks.c) through the
 * public renderers: the tree's shape, states, unreadable names and lines,
 * and tasks that await each other in a cycle (drawn once more, marked,
 * never expanded forever). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../render/render.h"

static const struct pp_dump_frame fr[] = {
	{"inner", "inner", "/app/x.py", 7, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
	{"outer", "outer", "/app/x.py", 3, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
	{NULL, NULL, NULL, -2, PP_DUMP_FRAME_PYTHON, 0, NULL, 0, 0, NULL, 0, false},
};
/* 0 awaits 1; 1 awaits 2; 2 awaits 1 (a cycle below a root); 3 alone */
static const size_t aw0[] = {1}, aw1[] = {2}, aw2[] = {1};
static const struct pp_dump_task tasks[] = {
	{"root", "pending", fr, 2, aw0, 1},
	{"mid", "pending", fr + 1, 1, aw1, 1},
	{"low", "cancelled", NULL, 0, aw2, 1},
	{NULL, "done", fr + 2, 1, NULL, 0},
};
static const struct pp_dump_loop loops[] = {{0x1000, 42, 0, 4}};
static const struct pp_dump_asyncio model = {tasks, 4, loops, 1, 0, 0};

static char *render(int (*fn)(const struct pp_dump *, FILE *), size_t *len)
{
	struct pp_dump d = {.pid = 1, .version = "3.14.10", .asyncio = &model};
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	cr_assert_not_null(f);
	cr_assert_eq(fn(&d, f), 0);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

Test(render_tasks, text_tree_with_a_cycle)
{
	size_t len;
	char *got = render(pp_render_dump_text, &len);
	static const char want[] =
		"\n"
		"asyncio tasks of event loop 0x1000 (running in thread 42): 4\n"
		"├── (T) root\n"
		"│   └──  outer /app/x.py:3\n"
		"│       └──  inner /app/x.py:7\n"
		"│           └── (T) mid\n"
		"│               └──  outer /app/x.py:3\n"
		"│                   └── (T) low [cancelled]\n"
		"│                       └── (T) mid (await cycle: shown above)\n"
		"└── (T) ? [done]\n"
		"    └──  ? ?:?\n";
	const char *tail = strstr(got, "\nasyncio tasks");
	bool ok = tail && strcmp(tail, want) == 0;
	char copy[2048];
	snprintf(copy, sizeof copy, "%s", got);
	free(got);
	cr_assert(ok, "got:\n%s", copy);
}

Test(render_tasks, json_fields)
{
	size_t len;
	char *got = render(pp_render_dump_json, &len);
	char copy[8192];
	snprintf(copy, sizeof copy, "%s", got);
	free(got);
	static const char *want[] = {
		"\"asyncio\": {\n    \"imported\": true,\n    \"tasks_not_read\": 0,\n",
		"\"address\": \"0x1000\",\n        \"thread\": 42,",
		"{\"name\": \"root\", \"state\": \"pending\",",
		"\"awaits\": [\"mid\"]}",
		"{\"name\": \"low\", \"state\": \"cancelled\",\n           \"stack\": [],\n           \"awaits\": [\"mid\"]}",
		"{\"name\": null, \"state\": \"done\",",
		"{\"kind\": \"python\", \"function\": null, \"name\": null, \"file\": null, \"line\": null}",
	};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++)
		cr_assert(strstr(copy, want[i]), "no\n%s\nin\n%s", want[i], copy);
}
