/* pyprobe record: sample a running process, or a command it starts, into a
 * flame graph or another profile format. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../reader/reader.h"
#include "cli.h"
#include "launch.h"
#include "output.h"
#include "process_set.h"
#include "profile.h"
#include "recording.h"
#include "report.h"
#include "../render/text_str.h"
#include "sampler.h"

static const char record_usage[] =
	"usage: pyprobe record (--pid PID | -- CMD [ARG...]) [options]\n"
	"\n"
	"Sample a Python process's stacks and write a profile.\n"
	"\n"
	"  -p, --pid PID        sample this running process\n"
	"  -- CMD [ARG...]      start CMD and sample it (its output passes through)\n"
	"  -o, --output FILE    where to write, - for standard output\n"
	"                       (default: pyprobe-PID.svg)\n"
	"  -f, --format FORMAT  flamegraph (SVG), collapsed, speedscope, pprof,\n"
	"                       chrometrace (Perfetto, chrome://tracing), gecko (the\n"
	"                       Firefox Profiler), or pyprobe (a .pyprobe recording);\n"
	"                       default: from FILE's extension (.svg .txt .folded\n"
	"                       .collapsed .json .speedscope.json .pb.gz .pprof\n"
	"                       .trace.json .gecko.json .pyprobe), else flamegraph\n"
	"  -r, --rate HZ        samples per second (default 100, up to 20000), or max:\n"
	"                       back to back, as fast as the target can be read\n"
	"  -d, --duration SECS  stop after SECS (default: until the target exits or Ctrl-C);\n"
	"                       a command pyprobe started is then ended: SIGINT, then\n"
	"                       SIGTERM and SIGKILL 2 s apart (never a --pid process)\n"
	"  -s, --subprocesses   also sample the target's Python subprocesses (workers\n"
	"                       of multiprocessing, forks, spawned interpreters), with\n"
	"                       a `process PID: cmdline` root frame per process; the\n"
	"                       target itself need not be Python\n"
	"  -t, --threads        a root frame per thread\n"
	"  -i, --idle           keep samples of sleeping/blocked threads\n"
	"  -g, --gil            keep only samples of the thread holding the GIL\n"
	"      --gil-markers    a `[waiting for GIL]` or `[GIL released]` leaf frame on\n"
	"                       samples of threads waiting for or running without the\n"
	"                       GIL (waiting threads are kept without --idle)\n"
	"  -F, --function, --nolineno\n"
	"                       aggregate by function: frames are a function and its\n"
	"                       file, no line (py-spy's -F shows the function's first\n"
	"                       line; no line is shown here)\n"
	"      --full-filenames flame graph labels with file names as recorded\n"
	"                       (default: short, module-relative: after\n"
	"                       site-packages/, lib/pythonX.Y/ or the current\n"
	"                       directory); other formats always keep full paths\n"
	"  -n, --native         native (C) frames too, merged with the Python frames\n"
	"                       (each sample pauses the threads to unwind them: slower,\n"
	"                       see docs/record.md); drawn in their own colour\n"
	"      --blocking       pause the threads for each sample (exact, slower)\n"
	"      --nonblocking    read while the threads run (the default)\n"
	"      --title TEXT     the flame graph's title\n"
	"      --no-progress    no live status line\n"
	"  -h, --help           this help\n"
	"\n"
	"Ctrl-C or SIGTERM stops and writes what was sampled.\n"
	"exit status: 0 ok, 2 usage, 3 no such process (or CMD cannot run),\n"
	"4 permission denied, 5 not Python or unsupported version,\n"
	"6 cannot write the output\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct record_state {
	struct pp_recording_writer *rec; /* raw format: streamed */
	uint64_t last_flush_ns;
	int progress;
	int subprocesses;
	int write_failed;
	/* What the metadata of each block flushed needs. */
	struct pp_profile *p;
	struct pp_process_set *set;
	int pid;
	unsigned rate;
	uint64_t start_unix;
	uint64_t start_mono; /* when sampling began, for the exec notes */
};

/* One line for each exec of the root seen since the last call: followed
 * into a new Python, or not (which ends the recording without
 * --subprocesses). Names come from the target: made safe for a terminal.
 * Each line is made whole first and written at once: standard error is
 * unbuffered, and a launched command writes to it too. */
static void print_exec_notes(struct record_state *rs)
{
	struct pp_exec_event ev;
	while (pp_process_set_next_exec(rs->set, &ev)) {
		char *line = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&line, &len);
		if (!f)
			return;
		double exec_s = ev.exec_ns > rs->start_mono
					? (double)(ev.exec_ns - rs->start_mono) / 1e9 : 0.0;
		double at_s = ev.at_ns > rs->start_mono
				      ? (double)(ev.at_ns - rs->start_mono) / 1e9 : 0.0;
		fprintf(f, "%spyprobe: process %d exec'd ", rs->progress ? "\r\033[K" : "", ev.pid);
		pp_text_str(ev.cmdline, 0, f);
		switch (ev.outcome) {
		case PP_EXEC_FOLLOWED:
			fprintf(f, "; recording it from %.2f s\n", at_s);
			break;
		case PP_EXEC_LOST:
			fprintf(f, " at %.2f s, which pyprobe cannot record (", exec_s);
			pp_text_str(ev.why, 0, f);
			fputs(rs->subprocesses ? "); its Python subprocesses are still recorded\n"
					       : "); the profile holds what came before\n", f);
			break;
		case PP_EXEC_UNREAD:
			fprintf(f, " at %.2f s; the recording ended before pyprobe could read it (",
				exec_s);
			pp_text_str(ev.why, 0, f);
			fputs(")\n", f);
			break;
		}
		if (fclose(f) == 0)
			fputs(line, stderr);
		free(line);
	}
}

static void fill_meta(struct pp_profile *p, const struct pp_process_set *set, int pid,
		      unsigned rate, const struct pp_sampler_stats *st, uint64_t start_unix);

/* Every ~100 ms: the progress line, and (raw) a block about every second
 * so that a killed pyprobe loses at most that second. */
static int tick(void *ctx, const struct pp_profile *p, const struct pp_sampler_stats *st)
{
	struct record_state *rs = ctx;
	print_exec_notes(rs);
	if (rs->rec && st->elapsed_ns - rs->last_flush_ns >= 1000000000ull) {
		rs->last_flush_ns = st->elapsed_ns;
		/* Each block says how long the recording has lasted so far
		 * (and what it dropped): a recording cut short by kill -9
		 * still knows the time it covers. p is rs->p, which the
		 * sampler only hands us const. */
		fill_meta(rs->p, rs->set, rs->pid, rs->rate, st, rs->start_unix);
		if (pp_recording_flush(rs->rec, p) != 0) {
			rs->write_failed = errno;
			return 1;
		}
	}
	if (rs->progress) {
		double secs = (double)st->elapsed_ns / 1e9;
		fprintf(stderr, "\r\033[Kpyprobe: %.1f s, %llu samples, %.0f Hz, %.1f%% cut short",
			secs, (unsigned long long)st->samples,
			secs > 0 ? (double)st->ticks / secs : 0.0,
			st->thread_samples ? 100.0 * (double)st->cut / (double)st->thread_samples
					   : 0.0);
		if (rs->subprocesses)
			fprintf(stderr, ", %zu process%s", st->processes,
				st->processes == 1 ? "" : "es");
		fflush(stderr);
	}
	return 0;
}

/* The command pyprobe started will not be profiled: end it (the user
 * started it only to have it profiled) - SIGTERM, then SIGKILL after a
 * short grace. Reaps it. Appends what was done to err->msg. */
static void end_launched(pid_t child, struct pp_error *err)
{
	static const int sigs[] = {SIGTERM};
	char how[64];
	pp_launch_end(child, sigs, 1, 100, how, sizeof how);
	if (!how[0])
		return;
	size_t n = strlen(err->msg);
	snprintf(err->msg + n, sizeof(err->msg) - n,
		 "; pyprobe ended the command it started (%s)", how);
}

/* --subprocesses: wait until the launched command or one of its
 * descendants is a Python interpreter we can read. The command itself may
 * never be (a shell script, mpirun, make). */
static enum pp_err wait_for_python(pid_t child, const char *cmd, struct pp_process_set *set,
				   struct pp_error *err)
{
	struct timespec ms10 = {0, 10000000L};
	for (int tries = 0;; tries++) {
		if (pp_launch_exited(child, cmd, err))
			return err->code = PP_ERR_GONE;
		pp_process_set_refresh(set, true);
		if (pp_process_set_count(set) > 0)
			return PP_OK;
		if (stop_requested)
			return err->code = PP_ERR_GONE;
		const struct pp_error *re = pp_process_set_root_error(set);
		if (re->code == PP_ERR_PERM) {
			*err = *re;
			return err->code;
		}
		if (tries > 3000) {
			snprintf(err->msg, sizeof(err->msg), "neither %s nor any of its "
				 "subprocesses became a Python process pyprobe can read in 30 s "
				 "(%.300s)", cmd, re->msg);
			return err->code = PP_ERR_NOT_PYTHON;
		}
		nanosleep(&ms10, NULL);
	}
}

/* --subprocesses with --pid: the process, or else its Python descendants
 * (a shell or a supervisor over Python workers). */
static enum pp_err attach_tree(int pid, struct pp_process_set *set, struct pp_error *err)
{
	pp_process_set_refresh(set, true);
	if (pp_process_set_count(set) > 0)
		return PP_OK;
	const struct pp_error *re = pp_process_set_root_error(set);
	if (pp_process_set_root_gone(set) || re->code == PP_ERR_GONE) {
		snprintf(err->msg, sizeof(err->msg),
			 "no process with pid %d (check the pid with `ps`)", pid);
		return err->code = PP_ERR_GONE;
	}
	*err = *re;
	if (re->code == PP_ERR_NOT_PYTHON)
		snprintf(err->msg, sizeof(err->msg), "%.400s; nor is any of its subprocesses",
			 re->msg);
	return err->code;
}

/* The reader's advice for a process another tracer holds is dump's
 * (`pyprobe dump --nonblocking`); record's is to leave out --blocking. */
static void record_advice(struct pp_error *err)
{
	char *dump = strstr(err->msg, "pyprobe dump --nonblocking");
	if (!dump)
		return;
	char *cut = strstr(err->msg, "read without pausing");
	*(cut && cut < dump ? cut : dump) = '\0';
	size_t n = strlen(err->msg);
	snprintf(err->msg + n, sizeof(err->msg) - n,
		 "record without pausing: leave out --blocking");
}

static char *default_output(int pid, enum pp_format f)
{
	char *s = NULL;
	if (asprintf(&s, "pyprobe-%d%s", pid, pp_format_extension(f)) < 0)
		return NULL;
	return s;
}

static void fill_meta(struct pp_profile *p, const struct pp_process_set *set, int pid,
		      unsigned rate, const struct pp_sampler_stats *st, uint64_t start_unix)
{
	struct pp_profile_meta *m = pp_profile_meta(p);
	/* -r max (rate 0) has the rate it achieved, so far */
	if (!rate && st->elapsed_ns)
		rate = (unsigned)((double)st->ticks * 1e9 / (double)st->elapsed_ns + 0.5);
	m->cmdline = pp_profile_str(p, pp_process_set_cmdline(set));
	m->python_version = pp_profile_str(p, pp_process_set_version(set));
	m->pid = (uint32_t)pid;
	m->rate_hz = rate;
	/* The sampler's, once it has started: read next to the clock the
	 * samples' times count from, where ours came before publishing the
	 * output (a file system, a preemption: milliseconds off under load,
	 * and every sample's wall time with them). */
	m->start_unix_ns = st->start_unix_ns ? st->start_unix_ns : start_unix;
	m->duration_ns = st->elapsed_ns;
	m->samples_dropped = st->dropped;
	m->ticks_missed = st->missed;
	m->samples_cut = st->cut;
	m->cut_depth_sum = st->cut_depth_sum;
	m->cut_walked_sum = st->cut_walked_sum;
	m->samples_unreadable = st->unreadable;
}

/* One line of what `pyprobe report` would say: GIL utilisation and
 * contention, and the event loops' stalls with the worst one's line. */
static void print_report_summary(const struct pp_profile *p)
{
	struct pp_report *r = pp_report_new(p, NULL);
	if (!r || (!r->gil_known && !r->nloops)) {
		pp_report_free(r);
		return;
	}
	fputs("pyprobe:", stderr);
	if (r->gil_known) {
		fprintf(stderr, " GIL held %.1f%% of the time, contended %.1f%%", r->gil_held_pct,
			r->gil_contention_pct);
		if (r->nprocesses > 1) /* each has its own GIL: say what was summed */
			fprintf(stderr, " (over %zu processes)", r->nprocesses);
		if (r->nloops)
			fputc(';', stderr);
	}
	if (r->nloops) {
		const struct pp_stall *worst = NULL;
		for (size_t i = 0; i < r->nstalls; i++)
			if (!worst || r->stalls[i].duration_ns > worst->duration_ns)
				worst = &r->stalls[i];
		fprintf(stderr, " event loop: %zu stall%s of 100 ms or more", r->nstalls,
			r->nstalls == 1 ? "" : "s");
		const struct pp_pframe *leaf;
		if (worst && pp_report_stack(p, worst->stack, &leaf, 1) > 0) {
			/* Names from the target, made safe for a terminal. */
			fprintf(stderr, ", worst %.0f ms at ", (double)worst->duration_ns / 1e6);
			pp_text_str(pp_profile_string(p, leaf->function), 0, stderr);
			fputs(" (", stderr);
			pp_text_str(pp_profile_string(p, leaf->file), 0, stderr);
			fprintf(stderr, ":%d)", (int)leaf->line);
		}
	}
	fputs(r->gil_known || r->nloops ? " (pyprobe report has more)\n" : "\n", stderr);
	pp_report_free(r);
}

int cmd_record(int argc, char **argv)
{
	enum { O_THREADS = 256, O_IDLE, O_GIL, O_NOLINENO, O_BLOCKING, O_TITLE,
	       O_NOPROGRESS, O_SUBPROCESSES, O_GIL_MARKERS, O_NONBLOCKING,
	       O_FULL_FILENAMES };
	static const struct option opts[] = {
		{"pid", required_argument, NULL, 'p'},
		{"output", required_argument, NULL, 'o'},
		{"format", required_argument, NULL, 'f'},
		{"rate", required_argument, NULL, 'r'},
		{"duration", required_argument, NULL, 'd'},
		{"threads", no_argument, NULL, 't'},
		{"idle", no_argument, NULL, 'i'},
		{"gil", no_argument, NULL, 'g'},
		{"gil-markers", no_argument, NULL, O_GIL_MARKERS},
		{"nolineno", no_argument, NULL, O_NOLINENO},
		{"function", no_argument, NULL, 'F'},
		{"full-filenames", no_argument, NULL, O_FULL_FILENAMES},
		{"native", no_argument, NULL, 'n'},
		{"blocking", no_argument, NULL, O_BLOCKING},
		{"nonblocking", no_argument, NULL, O_NONBLOCKING},
		{"subprocesses", no_argument, NULL, 's'},
		{"title", required_argument, NULL, O_TITLE},
		{"no-progress", no_argument, NULL, O_NOPROGRESS},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int pid = 0, c, no_progress = 0, blocking = 0, nonblocking = 0, subprocesses = 0;
	int native = 0;
	const char *output = NULL, *title = NULL;
	enum pp_format fmt = PP_FMT_NONE;
	double rate = 100, duration = 0;
	struct pp_render_opts ro = {0};
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:p:o:f:r:d:hsitgFn", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'p':
			if ((pid = pp_parse_pid(optarg)) < 0)
				return pp_usage_error("record", "--pid needs a process id, not '%s'", optarg);
			break;
		case 'o': output = optarg; break;
		case 'f':
			if (!strcmp(optarg, "raw"))
				return pp_usage_error("record", PP_FORMAT_RAW_ADVICE " (the binary "
						      "recording is -f pyprobe, or -o FILE.pyprobe)");
			if ((fmt = pp_format_by_name(optarg)) == PP_FMT_NONE)
				return pp_usage_error("record", "unknown format '%s' (flamegraph, "
						      "collapsed, speedscope, pprof, chrometrace, "
						      "gecko, pyprobe)", optarg);
			break;
		case 'r':
			if (!strcmp(optarg, "max")) {
				rate = 0; /* back to back */
				break;
			}
			rate = strtod(optarg, &end);
			if (*end || !(rate >= 1 && rate <= 20000) || rate != floor(rate))
				return pp_usage_error("record", "--rate needs a whole number of "
						      "samples per second from 1 to 20000 (or max), not '%s'", optarg);
			break;
		case 'd':
			duration = strtod(optarg, &end);
			if (*end || !(duration > 0 && duration < 1e7))
				return pp_usage_error("record", "--duration needs a number of "
						      "seconds above 0, not '%s'", optarg);
			break;
		case 't': ro.view.threads = true; break;
		case 'i': ro.view.idle = true; break;
		case 'g': ro.view.gil_only = true; break;
		case O_GIL_MARKERS: ro.view.gil_markers = true; break;
		case 'F':
		case O_NOLINENO: ro.view.nolineno = true; break;
		case O_FULL_FILENAMES: ro.full_filenames = true; break;
		case 'n': native = 1; break;
		case O_BLOCKING: blocking = 1; break;
		case O_NONBLOCKING: nonblocking = 1; break; /* py-spy's flag; the default */
		case O_TITLE: title = optarg; break;
		case O_NOPROGRESS: no_progress = 1; break;
		case 's':
			subprocesses = 1;
			ro.view.processes = true;
			break;
		case 'h':
			fputs(record_usage, stdout);
			return PP_EXIT_OK;
		case ':':
			return pp_usage_error("record", "%s needs a value", argv[optind - 1]);
		default:
			return pp_usage_error("record", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (blocking && nonblocking)
		return pp_usage_error("record", "give --blocking or --nonblocking, not both");
	if (native && nonblocking)
		return pp_usage_error("record", "--native needs the threads paused to unwind "
				      "them; drop --nonblocking");
	char **cmd = optind < argc ? argv + optind : NULL;
	if (cmd && optind > 0 && strcmp(argv[optind - 1], "--") != 0)
		return pp_usage_error("record", "unexpected argument '%s' (a command to "
				      "start goes after --)", argv[optind]);
	if (!pid == !cmd)
		return pp_usage_error("record", pid ? "give --pid or a command, not both"
						    : "what to sample? give --pid PID or -- CMD");
	if (fmt == PP_FMT_NONE && output)
		fmt = pp_format_by_extension(output);
	if (fmt == PP_FMT_NONE)
		fmt = PP_FMT_FLAMEGRAPH;

	/* Create the output now: a path we cannot write fails before we
	 * sample anything, not after an hour of recording. */
	struct record_state rs = {.progress = !no_progress && isatty(2),
				  .subprocesses = subprocesses};
	char *owned_output = NULL;
	struct pp_output *o = NULL;
	pid_t child = -1;
	struct pp_error err = {0};
	struct pp_target *t = NULL;
	struct pp_process_set *set = NULL;
	struct pp_profile *p = pp_profile_new();
	int rc = PP_EXIT_OK;
	/* Sampling ran for the whole --duration with the command still
	 * running: it is ended (a py-spy user's expectation), not waited for. */
	bool duration_over = false;
	if (!p) {
		pp_die_msg("out of memory");
		return PP_EXIT_IO;
	}

	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (cmd) {
		if (!output)
			output = owned_output = default_output((int)getpid(), fmt);
	} else if (!output) {
		output = owned_output = default_output(pid, fmt);
	}
	if (!output) {
		pp_die_msg("out of memory");
		rc = PP_EXIT_IO;
		goto done;
	}
	/* Under a temporary name until there is something to show (see
	 * output.h): a record that fails leaves no file, nor an empty one.
	 * A recording is streamed through a descriptor of its own. */
	int to_stdout = pp_output_is_stdout(output);
	const char *shown = to_stdout ? "standard output" : output;
	int fd;
	if (!(o = pp_output_create(output)) ||
	    (fmt == PP_FMT_RAW && ((fd = fcntl(pp_output_fd(o), F_DUPFD_CLOEXEC, 3)) < 0 ||
				   !(rs.rec = pp_recording_create_fd(fd))))) {
		pp_die_msg("cannot write %s: %s%s", shown, strerror(errno), pp_write_advice(errno));
		rc = PP_EXIT_IO;
		goto done;
	}

	if (cmd) {
		int exec_errno = 0;
		child = pp_launch(cmd, to_stdout ? 2 : -1, -1, &exec_errno);
		if (child < 0) {
			/* Not found, not executable, ...: there is no target. */
			pp_die_msg("cannot run %s: %s", cmd[0], strerror(exec_errno));
			rc = PP_EXIT_GONE;
			goto done;
		}
		pid = (int)child;
	}
	if (!(set = pp_process_set_new(pid, subprocesses))) {
		pp_die_msg("out of memory");
		rc = PP_EXIT_IO;
		goto done;
	}
	enum pp_err ae;
	if (subprocesses)
		ae = cmd ? wait_for_python(child, cmd[0], set, &err) : attach_tree(pid, set, &err);
	else if ((ae = cmd ? pp_launch_attach(child, cmd[0], &t, &err, &stop_requested)
			   : pp_process_attach(pid, &t, &err)) == PP_OK &&
		 pp_process_set_add_root(set, t) != 0) {
		pp_target_detach(t);
		ae = err.code = PP_ERR_IO;
		snprintf(err.msg, sizeof(err.msg), "out of memory");
	}
	if (ae != PP_OK) {
		/* A command we started for nothing is not left running (nor
		 * waited for): a Ctrl-C reached it already. */
		if (cmd && !stop_requested && ae != PP_ERR_GONE) {
			end_launched(child, &err);
			child = -1;
		}
		if (!stop_requested || !cmd)
			pp_die_msg("%s", err.msg);
		rc = cmd && stop_requested ? PP_EXIT_OK : (int)err.code;
		goto done;
	}

	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	uint64_t start_unix = (uint64_t)wall.tv_sec * 1000000000ull + (uint64_t)wall.tv_nsec;
	/* What is known now goes in now: a recording's first blocks must
	 * already say what was recorded, in case pyprobe is killed. */
	struct pp_sampler_stats none = {0};
	fill_meta(p, set, pid, (unsigned)rate, &none, start_unix);
	rs.p = p;
	rs.set = set;
	rs.pid = pid;
	rs.rate = (unsigned)rate;
	rs.start_unix = start_unix;
	if (title)
		pp_profile_meta(p)->title = pp_profile_str(p, title);
	struct pp_sampler_opts so = {
		.rate_hz = (unsigned)rate, .back_to_back = rate == 0,
		.duration_s = duration, .blocking = blocking, .native = native,
		.os_state = true, .tick = tick, .tick_ctx = &rs, .stop = &stop_requested,
		.tasks = fmt == PP_FMT_RAW, /* no other output shows them */
	};
	/* A recording takes its name now: killed from here on, pyprobe
	 * leaves every block it wrote there. */
	if (rs.rec && pp_output_publish(o) != 0) {
		pp_die_msg("cannot write %s: %s", shown, strerror(errno));
		rc = PP_EXIT_IO;
		goto done;
	}
	struct pp_sampler_stats st;
	rs.start_mono = pp_mono_ns();
	enum pp_err e = pp_sampler_run(set, p, &so, &st, &err);
	pp_process_set_end(set);
	print_exec_notes(&rs);
	if (rs.progress)
		fputs("\r\033[K", stderr);
	fill_meta(p, set, pid, (unsigned)rate, &st, start_unix);
	if (title)
		pp_profile_meta(p)->title = pp_profile_str(p, title);
	duration_over = cmd && duration > 0 && e == PP_OK && st.end == PP_OK && !stop_requested;
	if (e != PP_OK && st.samples == 0) {
		record_advice(&err);
		pp_die_msg("%s", err.msg);
		rc = (int)e;
		goto done;
	}

	/* Write what we have, whatever ended the recording. A target that
	 * exec'd into another Python is two programs: each under its own
	 * root, as with --subprocesses. */
	ro.title = title;
	/* flame graph labels name files under the current directory from it */
	char cwd[4096];
	ro.cwd = getcwd(cwd, sizeof cwd);
	if (pp_profile_several_programs(p))
		ro.view.processes = true;
	int werr = 0;
	if (rs.rec) {
		/* After a failed write the file was cut back to its last
		 * complete block: it stays so (it says it was cut short). */
		werr = rs.write_failed;
		if (pp_recording_close(rs.rec, werr ? NULL : p) != 0 && !werr)
			werr = errno;
		rs.rec = NULL;
	} else {
		FILE *out = pp_output_stream(o);
		if (!out || pp_format_write(fmt, p, &ro, out) != 0)
			werr = errno ? errno : EIO;
	}
	/* A file that could not be written whole is removed; a recording
	 * keeps what it holds. */
	struct pp_output *done_o = o;
	o = NULL;
	if (!werr || fmt == PP_FMT_RAW) {
		if (pp_output_commit(done_o) != 0 && !werr)
			werr = errno;
	} else {
		pp_output_discard(done_o);
	}
	if (werr) {
		pp_die_msg("cannot write %s: %s%s%s", shown, strerror(werr), pp_write_advice(werr),
			   fmt == PP_FMT_RAW && !to_stdout
				   ? "; it keeps what was recorded up to its last complete block"
				   : "");
		rc = PP_EXIT_IO;
		goto done;
	}
	double secs = (double)st.elapsed_ns / 1e9;
	uint64_t ticks = st.ticks + st.missed;
	char of[64] = "";
	if (subprocesses)
		snprintf(of, sizeof(of), " of %zu process%s", st.processes_seen,
			 st.processes_seen == 1 ? "" : "es");
	/* Of the thread samples taken: kept whole, kept cut short (with how
	 * deep what held still was, of what the first read found), kept with
	 * an unreadable part, or dropped. */
	uint64_t taken = st.thread_samples + st.dropped;
	double per = taken ? 100.0 / (double)taken : 0.0;
	char depth[80] = "";
	if (st.cut)
		snprintf(depth, sizeof(depth), ", at depth %.1f of %.1f on average",
			 (double)st.cut_depth_sum / (double)st.cut,
			 (double)st.cut_walked_sum / (double)st.cut);
	fprintf(stderr,
		"pyprobe: %llu samples%s in %.2f s (%.1f Hz), %llu cut short (%.2f%%%s), "
		"%llu unreadable (%.2f%%), %llu dropped (%.2f%%), "
		"%llu missed ticks (%.2f%%), sampling cost median %.1f µs, p99 %.1f µs; "
		"wrote %s\n",
		(unsigned long long)st.samples, of, secs, secs > 0 ? (double)st.ticks / secs : 0.0,
		(unsigned long long)st.cut, per * (double)st.cut, depth,
		(unsigned long long)st.unreadable, per * (double)st.unreadable,
		(unsigned long long)st.dropped, per * (double)st.dropped,
		(unsigned long long)st.missed, ticks ? 100.0 * (double)st.missed / (double)ticks : 0.0,
		(double)st.cost_median_ns / 1e3, (double)st.cost_p99_ns / 1e3, shown);
	if (native)
		fprintf(stderr, "pyprobe: native frames: unwinding %.1f µs a sample on "
			"average; %llu thread samples (%.2f%%) drawn without them (their "
			"stacks could not be merged)\n",
			st.samples ? (double)st.native_unwind_ns / 1e3 / (double)st.samples : 0.0,
			(unsigned long long)st.native_unmerged, per * (double)st.native_unmerged);
	if (st.task_reads)
		fprintf(stderr, "pyprobe: asyncio Tasks: %llu thread samples in an event loop "
			"callback, %llu named; reading the Task: median %.1f µs, p99 %.1f µs, "
			"mean %.1f µs\n",
			(unsigned long long)st.task_reads, (unsigned long long)st.tasks_named,
			(double)st.task_read_median_ns / 1e3, (double)st.task_read_p99_ns / 1e3,
			(double)st.task_read_ns / 1e3 / (double)st.task_reads);
	print_report_summary(p);
	/* (A recording keeps every sample: render says it, if need be.) */
	if (fmt != PP_FMT_RAW && pp_view_all_idle(p, &ro.view))
		pp_die_msg("every sample was of an idle thread; --idle keeps them");
	/* Reading failed part-way (not the target ending, which is how a
	 * recording may end): what was sampled is written; say why it
	 * stopped, with its exit code. */
	if (e != PP_OK) {
		record_advice(&err);
		pp_die_msg("%s; the profile holds what was sampled before", err.msg);
		rc = (int)e;
	}
done:
	/* Nothing came of it (no target, no samples): no file. */
	if (rs.rec)
		pp_recording_close(rs.rec, NULL);
	pp_output_discard(o);
	if (child > 0 && duration_over) {
		/* The duration is over: the command pyprobe started (never a
		 * --pid) is ended, gracefully first - SIGINT as Ctrl-C would,
		 * then SIGTERM, then SIGKILL, 2 s apart. Only its own process:
		 * its children are its to end. */
		static const int sigs[] = {SIGINT, SIGTERM};
		char how[64];
		pp_launch_end(child, sigs, 2, PP_END_GRACE_TICKS, how, sizeof how);
		if (how[0]) /* one write: the command writes to stderr too */
			fprintf(stderr, "pyprobe: the duration is over: ended %s (%s)\n", cmd[0],
				how);
		child = -1;
	}
	if (child > 0) {
		/* Reap a command that has ended. One still running after we were
		 * told to stop keeps running: we only stopped watching it. */
		int status;
		if (!stop_requested)
			while (waitpid(child, &status, 0) < 0 && errno == EINTR && !stop_requested)
				;
		else
			waitpid(child, &status, WNOHANG);
	}
	pp_process_set_free(set);
	pp_profile_free(p);
	free(owned_output);
	return rc;
}
