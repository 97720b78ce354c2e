/* pyprobe top: a live view of where a Python process spends its time -
 * functions by own and total time over the last seconds, and each busy
 * thread's share of the GIL - redrawn every second on a terminal, printed
 * as plain tables otherwise. Samples as record does (sampler.c); the
 * window is top_window.c, the drawing top_screen.c. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include "../reader/reader.h"
#include "cli.h"
#include "launch.h"
#include "process_set.h"
#include "profile.h"
#include "sampler.h"
#include "top_screen.h"
#include "top_window.h"

static const char top_usage[] =
	"usage: pyprobe top (--pid PID | -- CMD [ARG...]) [options]\n"
	"\n"
	"Show live which functions a Python process spends its time in.\n"
	"\n"
	"  -p, --pid PID        watch this running process\n"
	"  -- CMD [ARG...]      start CMD and watch it (on a terminal its output is\n"
	"                       discarded, else it goes to standard error); it is\n"
	"                       ended when top ends: SIGINT, SIGTERM, SIGKILL 2 s apart\n"
	"  -r, --rate HZ        samples per second (default 100, up to 20000)\n"
	"  -w, --window SECS    the functions of the last SECS seconds (default 10)\n"
	"      --interval SECS  redraw (or print) every SECS seconds (default 1)\n"
	"  -d, --duration SECS  stop after SECS; when standard output is not a\n"
	"                       terminal, print one table then, not one per interval\n"
	"  -i, --idle           count samples of sleeping/blocked threads too\n"
	"      --sort KEY       own (default), total, owntime, totaltime\n"
	"      --blocking       pause the threads for each sample (exact, slower)\n"
	"      --nonblocking    read while the threads run (the default)\n"
	"  -h, --help           this help\n"
	"\n"
	"On a terminal: keys 1 %Own, 2 %Total, 3 OwnTime, 4 TotalTime sort the\n"
	"table; q (or Ctrl-C) quits. Not on a terminal: a table every interval.\n"
	"exit status: 0 ok (also when the target exits), 2 usage, 3 no such\n"
	"process (or CMD cannot run), 4 permission denied, 5 not Python or\n"
	"unsupported version\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct top_state {
	struct pp_top_window *w;
	size_t next;          /* the profile's next sample to feed */
	struct pp_top_frame frame;
	bool live;            /* drawing on a terminal */
	bool plain_each;      /* printing a table every interval */
	uint64_t interval_ns, last_draw;
	bool quit, failed;
};

static void draw(struct top_state *ts, const struct pp_profile *p)
{
	struct pp_top_snapshot snap;
	if (pp_top_snapshot_take(ts->w, p, ts->frame.sort, &snap) != 0) {
		ts->failed = true;
		return;
	}
	if (ts->live)
		pp_top_term_size(&ts->frame.rows, &ts->frame.cols);
	pp_top_draw(stdout, &snap, p, &ts->frame);
	if (!ts->live)
		fputc('\n', stdout), fflush(stdout);
	pp_top_snapshot_free(&snap);
}

static int tick(void *ctx, const struct pp_profile *p, const struct pp_sampler_stats *st)
{
	(void)st;
	struct top_state *ts = ctx;
	if (pp_top_window_feed(ts->w, p, &ts->next) != 0) {
		ts->failed = true;
		return 1;
	}
	bool redraw = false;
	for (int k; ts->live && (k = pp_top_term_key()) >= 0;) {
		if (k == 'q' || k == 'Q') {
			ts->quit = true;
			return 1;
		}
		if (k >= '1' && k <= '4') {
			ts->frame.sort = (enum pp_top_sort)(k - '1');
			redraw = true;
		}
	}
	uint64_t now = pp_mono_ns();
	if ((ts->live || ts->plain_each) && (redraw || now - ts->last_draw >= ts->interval_ns)) {
		ts->last_draw = now;
		draw(ts, p);
	}
	return ts->failed;
}

static double parse_secs(const char *s, double lo, double hi, bool *ok)
{
	char *end;
	double v = strtod(s, &end);
	*ok = *s && !*end && v >= lo && v <= hi;
	return v;
}

int cmd_top(int argc, char **argv)
{
	enum { O_INTERVAL = 256, O_SORT, O_BLOCKING, O_NONBLOCKING };
	static const struct option opts[] = {
		{"pid", required_argument, NULL, 'p'},
		{"rate", required_argument, NULL, 'r'},
		{"window", required_argument, NULL, 'w'},
		{"interval", required_argument, NULL, O_INTERVAL},
		{"duration", required_argument, NULL, 'd'},
		{"idle", no_argument, NULL, 'i'},
		{"sort", required_argument, NULL, O_SORT},
		{"blocking", no_argument, NULL, O_BLOCKING},
		{"nonblocking", no_argument, NULL, O_NONBLOCKING},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int pid = 0, c;
	bool idle = false, blocking = false, nonblocking = false, ok;
	double rate = 100, window = 10, interval = 1, duration = 0;
	enum pp_top_sort sort = PP_TOP_BY_OWN;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:p:r:w:d:ih", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if ((pid = pp_parse_pid(optarg)) < 0)
				return pp_usage_error("top", "--pid needs a process id, not '%s'", optarg);
			break;
		case 'r':
			rate = parse_secs(optarg, 1, 20000, &ok);
			if (!ok || rate != floor(rate))
				return pp_usage_error("top", "--rate needs a whole number of samples "
						      "per second from 1 to 20000, not '%s'", optarg);
			break;
		case 'w':
			window = parse_secs(optarg, 0.1, 3600, &ok);
			if (!ok)
				return pp_usage_error("top", "--window needs seconds from 0.1 to 3600, "
						      "not '%s'", optarg);
			break;
		case O_INTERVAL:
			interval = parse_secs(optarg, 0.1, 3600, &ok);
			if (!ok)
				return pp_usage_error("top", "--interval needs seconds from 0.1 to "
						      "3600, not '%s'", optarg);
			break;
		case 'd':
			duration = parse_secs(optarg, 0.001, 1e9, &ok);
			if (!ok)
				return pp_usage_error("top", "--duration needs a positive number of "
						      "seconds, not '%s'", optarg);
			break;
		case 'i': idle = true; break;
		case O_SORT: {
			static const char *const keys[] = {"own", "total", "owntime", "totaltime"};
			int k = -1;
			for (int i = 0; i < 4; i++)
				if (!strcmp(optarg, keys[i]))
					k = i;
			if (k < 0)
				return pp_usage_error("top", "--sort takes own, total, owntime or "
						      "totaltime, not '%s'", optarg);
			sort = (enum pp_top_sort)k;
			break;
		}
		case O_BLOCKING: blocking = true; break;
		case O_NONBLOCKING: nonblocking = true; break;
		case 'h': fputs(top_usage, stdout); return PP_EXIT_OK;
		case ':': return pp_usage_error("top", "%s needs a value", argv[optind - 1]);
		default: return pp_usage_error("top", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (blocking && nonblocking)
		return pp_usage_error("top", "--blocking and --nonblocking contradict each other");
	char **cmd = NULL;
	if (optind < argc) {
		if (strcmp(argv[optind - 1], "--") != 0)
			return pp_usage_error("top", "unexpected argument '%s' (a command to start "
					      "goes after --)", argv[optind]);
		cmd = argv + optind;
	}
	if (!pid == !cmd)
		return pp_usage_error("top", pid ? "give --pid or a command, not both"
						 : "what to watch? give --pid PID or -- CMD");

	struct top_state ts = {.frame = {.window_s = window, .rate_hz = rate, .sort = sort},
			       .interval_ns = (uint64_t)(interval * 1e9)};
	ts.live = isatty(0) && isatty(1);
	ts.plain_each = !ts.live && duration == 0;
	ts.frame.screen = ts.live;
	struct pp_profile *p = pp_profile_new();
	ts.w = pp_top_window_new((uint64_t)(window * 1e9), idle);
	if (!p || !ts.w) {
		pp_die_msg("out of memory");
		pp_profile_free(p);
		pp_top_window_free(ts.w);
		return PP_EXIT_IO;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	int rc = PP_EXIT_OK;
	pid_t child = -1;
	struct pp_error err = {0};
	struct pp_target *t = NULL;
	struct pp_process_set *set = NULL;
	char title[512], status[512];
	status[0] = '\0';
	if (cmd) {
		/* on a terminal the command's output would write over the table */
		int quiet = ts.live ? open("/dev/null", O_WRONLY | O_CLOEXEC) : -1;
		int exec_errno = 0;
		child = pp_launch(cmd, ts.live ? quiet : 2, quiet, &exec_errno);
		if (quiet >= 0)
			close(quiet);
		if (child < 0) {
			pp_die_msg("cannot run %s: %s", cmd[0], strerror(exec_errno));
			rc = PP_EXIT_GONE;
			goto done;
		}
		pid = (int)child;
	}
	if (!(set = pp_process_set_new(pid, false))) {
		pp_die_msg("out of memory");
		rc = PP_EXIT_IO;
		goto done;
	}
	enum pp_err ae = cmd ? pp_launch_attach(child, cmd[0], &t, &err, &stop_requested)
			     : pp_process_attach(pid, &t, &err);
	if (ae == PP_OK && pp_process_set_add_root(set, t) != 0) {
		pp_target_detach(t);
		ae = err.code = PP_ERR_IO;
		snprintf(err.msg, sizeof(err.msg), "out of memory");
	}
	if (ae != PP_OK) {
		if (!stop_requested || !cmd)
			pp_die_msg("%s", err.msg);
		rc = cmd && stop_requested ? PP_EXIT_OK : (int)err.code;
		goto done;
	}
	char *line = NULL;
	size_t cap = 0;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
	FILE *cf = fopen(path, "r");
	ssize_t n = cf ? getdelim(&line, &cap, EOF, cf) : -1;
	if (cf)
		fclose(cf);
	for (ssize_t i = 0; i + 1 < n; i++) /* arguments, space-separated */
		if (!line[i])
			line[i] = ' ';
	snprintf(title, sizeof title, "PID %d%s%.400s", pid, n > 0 ? ": " : "", n > 0 ? line : "");
	free(line);
	ts.frame.title = title;

	if (ts.live && pp_top_term_enter() != 0)
		ts.live = false, ts.frame.screen = false, ts.plain_each = duration == 0;
	struct pp_sampler_opts so = {
		.rate_hz = (unsigned)rate, .duration_s = duration, .blocking = blocking,
		.os_state = true, .tick = tick, .tick_ctx = &ts, .stop = &stop_requested,
	};
	struct pp_sampler_stats st;
	ts.last_draw = pp_mono_ns();
	if (ts.live)
		draw(&ts, p);
	enum pp_err e = pp_sampler_run(set, p, &so, &st, &err);
	pp_process_set_end(set);
	pp_top_window_feed(ts.w, p, &ts.next);
	if (st.end == PP_ERR_GONE)
		snprintf(status, sizeof status, "pyprobe: PID %d exited", pid);
	if (ts.live) {
		/* a target that ended: the last table stays a moment, saying so */
		if (status[0] && !ts.quit && !stop_requested) {
			ts.frame.status = status;
			draw(&ts, p);
			sleep(1);
		}
		pp_top_term_leave();
	} else if (!ts.plain_each || ts.last_draw == 0 || st.samples > 0) {
		if (!ts.plain_each)
			draw(&ts, p); /* -d, not a terminal: the one table */
	}
	if (status[0])
		fprintf(stderr, "%s\n", status);
	if (ts.failed) {
		pp_die_msg("out of memory");
		rc = PP_EXIT_IO;
	} else if (e != PP_OK && st.samples == 0) {
		pp_die_msg("%s", err.msg);
		rc = (int)e;
	}

done:
	pp_top_term_leave();
	if (child > 0) {
		/* top ends the command it started (it runs only to be watched) */
		static const int sigs[] = {SIGINT, SIGTERM};
		char how[64];
		pp_launch_end(child, sigs, 2, PP_END_GRACE_TICKS, how, sizeof how);
		if (how[0])
			fprintf(stderr, "pyprobe: ended %s (%s)\n", cmd[0], how);
	}
	pp_process_set_free(set);
	pp_profile_free(p);
	pp_top_window_free(ts.w);
	return rc;
}
