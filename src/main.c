/* pyprobe: the command dispatcher. Each command parses its own options. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
	"usage: pyprobe <command> [options]\n"
	"\n"
	"pyprobe reads a running CPython process (3.8 to 3.15) from the outside:\n"
	"it never runs code in it and never writes to its memory.\n"
	"\n"
	"commands:\n"
	"  record   sample a process (or a command) into a flame graph or profile\n"
	"  render   turn a .pyprobe recording into another format\n"
	"  diff     compare two sets of runs: which functions got slower (CI gate)\n"
	"  report   GIL use, GIL waits and event-loop stalls of a recording\n"
	"  dump     print every thread's Python stack, GIL and OS state\n"
	"  top      a live view of the functions a process spends its time in\n"
	"  watch    watch a process for hangs and write a dump when one begins\n"
	"\n"
	"  pyprobe help COMMAND  or  pyprobe COMMAND --help  for its options\n"
	"  pyprobe --version\n";

void pp_die_msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pyprobe: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int pp_usage_error(const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "pyprobe: %s (see `pyprobe %s --help`)\n", msg, cmd);
	return PP_EXIT_USAGE;
}

int pp_parse_pid(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v <= 0 || v > 0x3fffffff)
		return -1;
	return (int)v;
}

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
	{"diff", cmd_diff},
	{"dump", cmd_dump},
	{"record", cmd_record},
	{"render", cmd_render},
	{"report", cmd_report},
	{"top", cmd_top},
	{"watch", cmd_watch},
};

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	/* Over a file size limit (ulimit -f) a write fails with EFBIG, which
	 * pyprobe reports like any write error and recovers from (a recording
	 * keeps its last complete block), instead of being killed without a
	 * word by SIGXFSZ. A command `record` starts gets the default back. */
	signal(SIGXFSZ, SIG_IGN);
	if (argc < 2) {
		fputs(usage, stderr);
		return PP_EXIT_USAGE;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") ||
	    (!strcmp(name, "help") && argc == 2)) {
		fputs(usage, stdout);
		return PP_EXIT_OK;
	}
	if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
		printf("pyprobe %s\n", PYPROBE_VERSION);
		return PP_EXIT_OK;
	}
	if (!strcmp(name, "help")) {
		const struct command *c = find(argv[2]);
		if (!c) {
			pp_die_msg("unknown command '%s' (see `pyprobe --help`)", argv[2]);
			return PP_EXIT_USAGE;
		}
		char *args[] = {argv[2], "--help", NULL};
		return c->run(2, args);
	}
	const struct command *c = find(name);
	if (!c) {
		pp_die_msg("unknown command '%s' (see `pyprobe --help`)", name);
		return PP_EXIT_USAGE;
	}
	return c->run(argc - 1, argv + 1);
}
