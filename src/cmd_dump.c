/* pyprobe dump: every thread's stack, GIL and OS state, once. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../reader/asyncio_tasks.h"
#include "../reader/reader.h"
#include "../render/render.h"
#include "cli.h"
#include "dump_take.h"
#include "dump_tasks.h"

static const char dump_usage[] =
	"usage: pyprobe dump --pid PID [--json] [--locals] [--tasks] [--native | --nonblocking]\n"
	"       pyprobe dump --core CORE [--exe PYTHON] [--root DIR] [--json] [--locals]\n"
	"                        [--native]\n"
	"\n"
	"Print every thread's Python stack (innermost frame first), which thread\n"
	"holds the GIL, which wait for it, and what each is blocked on.\n"
	"\n"
	"  -p, --pid PID      the Python process to read\n"
	"  -j, --json         JSON instead of text (schema: docs/dump.md)\n"
	"  -l, --locals       each Python frame's arguments and local variables,\n"
	"                     with their values as pyprobe reads them from memory\n"
	"                     (never by running code in the process): exact for\n"
	"                     None, bool, int, float, str and bytes (long ones\n"
	"                     cut), type and length for containers, type and\n"
	"                     address for other objects\n"
	"  -n, --native       with the native (C) frames: each call of the\n"
	"                     interpreter's evaluation function is replaced by\n"
	"                     the Python frames it ran, innermost C call first\n"
	"                     (where they cannot be matched, both stacks are\n"
	"                     shown apart, with why); with --core, from the\n"
	"                     registers and stacks the core saved\n"
	"      --nonblocking  read while the process runs, without pausing it; a\n"
	"                     stack that moves while it is read is read again, and\n"
	"                     if it keeps moving, shown cut short under [changing];\n"
	"                     with --locals, values may be caught mid-change\n"
	"                     (not with --native, which needs the pause)\n"
	"  -t, --tasks        also every asyncio Task of every event loop: its name,\n"
	"                     state, suspended coroutines and the tasks it awaits,\n"
	"                     as a tree (Python 3.11 and later)\n"
	"  -c, --core CORE    read a core file (from gcore or the kernel) instead\n"
	"                     of a live process\n"
	"  -e, --exe PYTHON   with --core: the executable the process ran, where\n"
	"                     the core's path to it is gone or differs here\n"
	"  -r, --root DIR     with --core: the root the process ran in (a chroot,\n"
	"                     a container's files): the core's paths are under it\n"
	"  -h, --help         this help\n"
	"\n"
	"By default the process is paused (ptrace) for the few milliseconds the\n"
	"read takes, so the snapshot is consistent; it is never left stopped.\n"
	"Files the core names but does not hold are read from disk, only after\n"
	"their build-id matched the core's (docs/dump.md, \"From a core file\").\n"
	"\n"
	"exit status: 0 ok, 2 usage, 3 no such process or it exited,\n"
	"4 permission denied, 5 not Python or unsupported version, 6 I/O error\n"
	"(with --core: the core unreadable, truncated or corrupt, or a file it\n"
	"names missing or not the one the process had mapped)\n";

int cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pid", required_argument, NULL, 'p'},
		{"json", no_argument, NULL, 'j'},
		{"nonblocking", no_argument, NULL, 'B'},
		{"native", no_argument, NULL, 'n'},
		{"locals", no_argument, NULL, 'l'},
		{"tasks", no_argument, NULL, 't'},
		{"core", required_argument, NULL, 'c'},
		{"exe", required_argument, NULL, 'e'},
		{"root", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int pid = 0, json = 0, nonblocking = 0, native = 0, locals = 0, tasks = 0, c;
	const char *core = NULL, *exe = NULL, *root = NULL;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:p:jlntc:e:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pid = pp_parse_pid(optarg);
			if (pid < 0)
				return pp_usage_error("dump", "--pid needs a process id, not '%s'",
						      optarg);
			break;
		case 'j': json = 1; break;
		case 'n': native = 1; break;
		case 'l': locals = 1; break;
		case 't': tasks = 1; break;
		case 'B': nonblocking = 1; break;
		case 'c': core = optarg; break;
		case 'e': exe = optarg; break;
		case 'r': root = optarg; break;
		case 'h':
			fputs(dump_usage, stdout);
			return PP_EXIT_OK;
		case ':':
			return pp_usage_error("dump", "%s needs a value", argv[optind - 1]);
		case '?':
			if (optopt && optopt != '?' && optopt < 128 && !strchr("pjlntcerh", optopt))
				return pp_usage_error("dump", "unknown option '-%c'", optopt);
			return pp_usage_error("dump", "unknown option '%s'", argv[optind - 1]);
		default:
			return pp_usage_error("dump", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return pp_usage_error("dump", "unexpected argument '%s'", argv[optind]);
	if (pid && core)
		return pp_usage_error("dump", "give --pid PID or --core CORE, not both");
	if (!pid && !core)
		return pp_usage_error("dump", "which process? give --pid PID or --core CORE");
	if ((exe || root) && !core)
		return pp_usage_error("dump", "%s is for reading a core file: give --core CORE",
				      exe ? "--exe" : "--root");
	if (core && nonblocking)
		return pp_usage_error("dump", "--nonblocking is for a live process: a core "
				      "holds still");
	if (native && nonblocking)
		return pp_usage_error("dump", "--native needs the process paused to unwind "
				      "its threads; drop --nonblocking");
	if (tasks && core)
		return pp_usage_error("dump", "--tasks is not available with --core yet: a "
				      "core's thread stacks are shown without it");

	struct pp_error err = {0};
	struct pp_target *t = NULL;
	if ((core ? pp_target_open_core(core, exe, root, &t, &err)
		  : pp_target_attach(pid, &t, &err)) != PP_OK) {
		pp_die_msg("%s", err.msg);
		return (int)err.code;
	}
	const struct pp_target_info *info = pp_target_get_info(t);
	if (tasks && (info->major != 3 || info->minor < 11)) {
		pp_die_msg("dump --tasks needs Python 3.11 or later (this is %s)", info->version);
		pp_target_detach(t);
		return PP_EXIT_NOT_PYTHON;
	}
	struct pp_dump_opts o = {.nonblocking = nonblocking, .native = native, .locals = locals};
	struct pp_dump_taken d;
	if (pp_dump_take(t, &o, &d, &err) != PP_OK) {
		pp_die_msg("%s", err.msg);
		pp_dump_taken_free(&d);
		pp_target_detach(t);
		return (int)err.code;
	}
	struct pp_tasks ts = {0};
	struct pp_dump_tasks_taken dt = {0};
	if (tasks) {
		if (pp_target_asyncio_tasks(t, !nonblocking, &ts, &err) != PP_OK) {
			pp_die_msg("%s", err.msg);
			pp_tasks_free(&ts);
			pp_dump_taken_free(&d);
			pp_target_detach(t);
			return (int)err.code;
		}
		if (pp_dump_tasks_build(&ts, &dt) != 0) {
			pp_die_msg("out of memory");
			pp_tasks_free(&ts);
			pp_dump_taken_free(&d);
			pp_target_detach(t);
			return PP_EXIT_IO;
		}
		d.dump.asyncio = &dt.model;
	}
	int rc = PP_EXIT_OK;
	if ((json ? pp_render_dump_json(&d.dump, stdout) : pp_render_dump_text(&d.dump, stdout)) != 0 ||
	    fflush(stdout) != 0) {
		pp_die_msg("cannot write the dump to standard output: %s", strerror(errno));
		rc = PP_EXIT_IO;
	}
	pp_dump_tasks_free(&dt);
	pp_tasks_free(&ts);
	pp_dump_taken_free(&d);
	pp_target_detach(t);
	return rc;
}
