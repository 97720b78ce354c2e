/* Shared by the subcommands: exit codes, error reporting, option parsing
 * helpers. Each subcommand lives in its own cmd_*.c. */
#ifndef PYPROBE_CLI_H
#define PYPROBE_CLI_H

enum pp_exit {
	PP_EXIT_OK = 0,
	PP_EXIT_REGRESSION = 1,
	PP_EXIT_USAGE = 2,
	PP_EXIT_GONE = 3,
	PP_EXIT_PERM = 4,
	PP_EXIT_NOT_PYTHON = 5,
	PP_EXIT_IO = 6,
};

/* Print "pyprobe: <message>\n" on stderr. */
void pp_die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error for `cmd`: the message, then a hint to run --help. */
int pp_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Parse a pid argument; -1 if it is not a positive integer. */
int pp_parse_pid(const char *s);

int cmd_diff(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_watch(int argc, char **argv);

#endif
