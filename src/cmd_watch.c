/* pyprobe watch: sample a process at a low rate, without pausing it, and
 * when it hangs (watch.h's conditions) write one dump of the hang. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../reader/reader.h"
#include "cli.h"
#include "dump_take.h"
#include "watch.h"
#include "watch_hang.h"
#include "watch_samples.h"

static const char watch_usage[] =
	"usage: pyprobe watch --pid PID [--out DIR] [--stall SECONDS] [--stuck SECONDS]\n"
	"                     [--heartbeat FILE --heartbeat-timeout SECONDS]\n"
	"                     [-r HZ] [--native] [--locals] [--once]\n"
	"\n"
	"Watch a Python process for hangs and, when one begins, write a dump of it:\n"
	"DIR/pyprobe-hang-PID-YYYYmmddTHHMMSS.txt and .json (UTC), with what fired,\n"
	"the culprit thread, the last seconds as collapsed stacks, and every\n"
	"thread's stack as `pyprobe dump` shows it. The process is sampled without\n"
	"pausing it; only the dump pauses it, for the milliseconds it takes.\n"
	"\n"
	"  -p, --pid PID            the Python process to watch\n"
	"  -o, --out DIR            where hang files go (default: .)\n"
	"      --stall SECONDS      an event loop busy in one go for this long (30)\n"
	"      --stuck SECONDS      a thread with the same stack, on a CPU, holding\n"
	"                           the GIL or blocked on a lock, for this long (30)\n"
	"      --heartbeat FILE     a file the service touches while it is well...\n"
	"      --heartbeat-timeout SECONDS  ...that fires when older than this\n"
	"  -r, --rate HZ            samples a second (default 20)\n"
	"      --native, --locals   the dump with C frames, with each frame's locals\n"
	"                           (as pyprobe dump --native / --locals)\n"
	"      --once               exit 1 right after the first hang is written\n"
	"  -h, --help               this help\n"
	"\n"
	"A thread idle in sleep, select, epoll, a socket read, or a Condition, Event,\n"
	"queue or join wait is never stuck. Two or more threads blocked on locks\n"
	"while nothing runs is a suspected deadlock. Each hang is written once,\n"
	"and again only after it has cleared. See docs/hangs.md.\n"
	"\n"
	"exit status: 0 when the process exits or on SIGINT/SIGTERM, 1 after a\n"
	"hang with --once, 2 usage, 3 no such process, 4 permission denied,\n"
	"5 not Python or unsupported version, 6 cannot write to DIR\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Seconds > 0 and at most a year; -1 otherwise. */
static double parse_seconds(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno || !isfinite(v) || v <= 0 || v > 366 * 86400.0)
		return -1;
	return v;
}

/* How long ago the heartbeat file was modified; a file that is not there
 * (yet) is as old as the watch. */
static uint64_t heartbeat_age(const char *file, uint64_t watch_age_ns)
{
	struct stat st;
	if (stat(file, &st) != 0)
		return watch_age_ns;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t age = (int64_t)(now.tv_sec - st.st_mtim.tv_sec) * 1000000000ll +
		      (now.tv_nsec - st.st_mtim.tv_nsec);
	return age > 0 ? (uint64_t)age : 0;
}

/* The culprit line goes to a terminal or a log: no control characters from
 * the target's names in it. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

int cmd_watch(int argc, char **argv)
{
	enum { O_STALL = 256, O_STUCK, O_HB, O_HB_TIMEOUT, O_NATIVE, O_LOCALS, O_ONCE };
	static const struct option opts[] = {
		{"pid", required_argument, NULL, 'p'},
		{"out", required_argument, NULL, 'o'},
		{"rate", required_argument, NULL, 'r'},
		{"stall", required_argument, NULL, O_STALL},
		{"stuck", required_argument, NULL, O_STUCK},
		{"heartbeat", required_argument, NULL, O_HB},
		{"heartbeat-timeout", required_argument, NULL, O_HB_TIMEOUT},
		{"native", no_argument, NULL, O_NATIVE},
		{"locals", no_argument, NULL, O_LOCALS},
		{"once", no_argument, NULL, O_ONCE},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int pid = 0, once = 0, c;
	long rate = 20;
	double stall = 30, stuck = 30, hb_timeout = 0;
	const char *out = ".", *hb = NULL;
	struct pp_dump_opts dump = {0};
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:p:o:r:h", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'p':
			pid = pp_parse_pid(optarg);
			if (pid < 0)
				return pp_usage_error("watch", "--pid needs a process id, not '%s'",
						      optarg);
			break;
		case 'o': out = optarg; break;
		case 'r':
			errno = 0;
			rate = strtol(optarg, &end, 10);
			if (!*optarg || *end || errno || rate < 1 || rate > 1000)
				return pp_usage_error("watch", "--rate needs a whole number of "
						      "samples a second from 1 to 1000, not '%s'", optarg);
			break;
		case O_STALL:
		case O_STUCK:
		case O_HB_TIMEOUT: {
			double v = parse_seconds(optarg);
			if (v < 0)
				return pp_usage_error("watch", "%s needs a number of seconds above 0, "
						      "not '%s'", c == O_STALL ? "--stall"
						      : c == O_STUCK ? "--stuck" : "--heartbeat-timeout",
						      optarg);
			*(c == O_STALL ? &stall : c == O_STUCK ? &stuck : &hb_timeout) = v;
			break;
		}
		case O_HB: hb = optarg; break;
		case O_NATIVE: dump.native = true; break;
		case O_LOCALS: dump.locals = true; break;
		case O_ONCE: once = 1; break;
		case 'h':
			fputs(watch_usage, stdout);
			return PP_EXIT_OK;
		case ':':
			return pp_usage_error("watch", "%s needs a value", argv[optind - 1]);
		default:
			if (optopt && optopt < 256 && !strchr("porh", optopt))
				return pp_usage_error("watch", "unknown option '-%c'", optopt);
			return pp_usage_error("watch", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return pp_usage_error("watch", "unexpected argument '%s'", argv[optind]);
	if (!pid)
		return pp_usage_error("watch", "which process? give --pid PID");
	if (hb && hb_timeout <= 0)
		return pp_usage_error("watch", "--heartbeat needs --heartbeat-timeout SECONDS");
	if (!hb && hb_timeout > 0)
		return pp_usage_error("watch", "--heartbeat-timeout needs --heartbeat FILE");
	struct stat ds;
	if (stat(out, &ds) != 0 || !S_ISDIR(ds.st_mode) || access(out, W_OK | X_OK) != 0) {
		pp_die_msg("cannot write hang files to %s: %s; give --out a writable directory",
			   out, errno ? strerror(errno) : "not a directory");
		return PP_EXIT_IO;
	}

	struct pp_error err = {0};
	struct pp_target *t = NULL;
	/* Started beside a service that is starting too (a sidecar, a unit
	 * after the service's): give its interpreter 10 s to come up. */
	enum pp_err ae;
	for (int tries = 0; (ae = pp_target_attach(pid, &t, &err)) == PP_ERR_NOT_PYTHON &&
			    err.starting && tries < 100; tries++) {
		struct timespec pause = {0, 100000000};
		nanosleep(&pause, NULL);
	}
	if (ae != PP_OK) {
		pp_die_msg("%s", err.msg);
		return (int)err.code;
	}
	/* SIGINT/SIGTERM end the watch between samples (no SA_RESTART: the
	 * sleep is cut short). A dump in progress finishes first. */
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	double longest = stall > stuck ? stall : stuck;
	if (hb_timeout > longest)
		longest = hb_timeout;
	/* the profile in a hang file: the time it took to fire and a little
	 * before, at most two minutes */
	double window = longest + 5 < 120 ? longest + 5 : 120;
	struct pp_watch_config cfg = {(uint64_t)(stall * 1e9), (uint64_t)(stuck * 1e9)};
	struct pp_watch *w = pp_watch_new(&cfg);
	struct pp_watch_samples *ws = pp_watch_samples_new(pp_target_get_info(t),
							   (uint64_t)(window * 1e9), (unsigned)rate);
	struct pp_watch_hang_opts ho = {out, stall, stuck, hb, hb_timeout, dump};
	int rc = PP_EXIT_OK;
	if (!w || !ws) {
		pp_die_msg("out of memory");
		rc = PP_EXIT_IO;
		goto done;
	}
	const struct pp_target_info *info = pp_target_get_info(t);
	fprintf(stderr, "pyprobe: watching process %d (Python %s) at %ld Hz: stall %g s, "
		"stuck %g s", pid, info->version, rate, stall, stuck);
	if (hb)
		fprintf(stderr, ", heartbeat %s %g s", hb, hb_timeout);
	fprintf(stderr, "; hang files go to %s\n", out);

	struct pp_sample s = {0};
	uint64_t interval = 1000000000ull / (uint64_t)rate;
	uint64_t start = mono_ns(), next = start;
	unsigned hangs = 0;
	while (!stop) {
		enum pp_err e = pp_target_sample(t, PP_SAMPLE_OS_STATE | PP_SAMPLE_OS_FAST, &s, &err);
		if (e == PP_ERR_GONE) {
			fprintf(stderr, "pyprobe: process %d exited; %u hang%s written\n", pid, hangs,
				hangs == 1 ? "" : "s");
			break;
		}
		if (e != PP_OK) {
			pp_die_msg("%s", err.msg);
			rc = (int)err.code;
			break;
		}
		const struct pp_watch_obs *obs;
		size_t n;
		uint64_t now = mono_ns();
		struct pp_watch_heartbeat beat = {hb ? heartbeat_age(hb, now - start) : 0,
						  (uint64_t)(hb_timeout * 1e9)};
		struct pp_watch_event ev;
		int fired;
		if (pp_watch_samples_add(ws, &s, &obs, &n) != 0 ||
		    (fired = pp_watch_tick(w, now, obs, n, hb ? &beat : NULL, &ev)) < 0) {
			pp_die_msg("out of memory");
			rc = PP_EXIT_IO;
			break;
		}
		if (fired) {
			char path[4200], culprit[1024], why[512];
			if (pp_watch_write_hang(t, ws, &ev, now, &ho, path, sizeof path, culprit,
						sizeof culprit, why, sizeof why) != 0) {
				pp_die_msg("%s; the %s was not saved", why, pp_watch_cond_name(ev.cond));
				if (once) {
					rc = PP_EXIT_IO;
					break;
				}
			} else {
				hangs++;
				sanitize(culprit);
				sanitize(path);
				fprintf(stderr, "pyprobe: %s in process %d: %s; wrote %s and .json\n",
					pp_watch_cond_name(ev.cond), pid, culprit, path);
				if (once) {
					rc = PP_EXIT_REGRESSION; /* 1: a hang was found */
					break;
				}
			}
		}
		/* absolute deadlines: an overrun (a dump) skips ticks */
		next += interval;
		now = mono_ns();
		if (next < now)
			next = now + interval - (now - next) % interval;
		struct timespec ts = {(time_t)(next / 1000000000ull), (long)(next % 1000000000ull)};
		while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
	pp_sample_free(&s);
done:
	pp_watch_samples_free(ws);
	pp_watch_free(w);
	pp_target_detach(t);
	return rc;
}
