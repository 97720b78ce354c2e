/* pyprobe dump: every thread's stack, GIL and OS state, once. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../reader/reader.h"
#include "../render/render.h"
#include "cli.h"
#include "dump_model.h"
#include "dump_native.h"
#include "frame_marker.h"
#include "native_capture.h"

static const char dump_usage[] =
	"usage: pyprobe dump --pid PID [--json] [--native | --nonblocking]\n"
	"\n"
	"Print every thread's Python stack (innermost frame first), which thread\n"
	"holds the GIL, which wait for it, and what each is blocked on.\n"
	"\n"
	"  -p, --pid PID      the Python process to read\n"
	"  -j, --json         JSON instead of text (schema: docs/dump.md)\n"
	"  -n, --native       with the native (C) frames: each call of the\n"
	"                     interpreter's evaluation function is replaced by\n"
	"                     the Python frames it ran, innermost C call first\n"
	"                     (where they cannot be matched, both stacks are\n"
	"                     shown apart, with why)\n"
	"      --nonblocking  read while the process runs, without pausing it; a\n"
	"                     stack that moves while it is read is read again, and\n"
	"                     if it keeps moving, shown cut short under [changing]\n"
	"                     (not with --native, which needs the pause)\n"
	"  -h, --help         this help\n"
	"\n"
	"By default the process is paused (ptrace) for the few milliseconds the\n"
	"read takes, so the snapshot is consistent; it is never left stopped.\n"
	"\n"
	"exit status: 0 ok, 2 usage, 3 no such process or it exited,\n"
	"4 permission denied, 5 not Python or unsupported version, 6 I/O error\n";

static enum pp_dump_gil dump_gil(enum pp_gil_state g)
{
	switch (g) {
	case PP_GIL_HELD: return PP_DUMP_GIL_HELD;
	case PP_GIL_WAITING: return PP_DUMP_GIL_WAITING;
	case PP_GIL_RELEASED: return PP_DUMP_GIL_RELEASED;
	default: return PP_DUMP_GIL_UNKNOWN;
	}
}

static enum pp_dump_os dump_os(enum pp_os_run r)
{
	switch (r) {
	case PP_OS_RUNNING: return PP_DUMP_OS_RUNNING;
	case PP_OS_SLEEPING: return PP_DUMP_OS_SLEEPING;
	case PP_OS_DISK: return PP_DUMP_OS_DISK;
	case PP_OS_STOPPED: return PP_DUMP_OS_STOPPED;
	case PP_OS_ZOMBIE: return PP_DUMP_OS_ZOMBIE;
	default: return PP_DUMP_OS_UNKNOWN;
	}
}

static enum pp_dump_stack dump_stack(const struct pp_thread *t)
{
	if (t->dropped)
		return PP_DUMP_STACK_DROPPED;
	if (t->changing)
		return PP_DUMP_STACK_CUT_CHANGING;
	if (t->unreadable)
		return PP_DUMP_STACK_CUT_UNREADABLE;
	return PP_DUMP_STACK_WHOLE;
}

/* The reader's snapshot as the renderers' model. Strings are borrowed from
 * the target handle, which outlives the dump; marker labels are made here,
 * in `labels` (one slot per marker frame). */
#define LABEL_MAX 96

static int build_dump(const struct pp_target_info *info, const struct pp_sample *s,
		      struct pp_dump *d, struct pp_dump_thread **threads_out,
		      struct pp_dump_frame **frames_out, char **labels_out)
{
	size_t nf = 0, nm = 0;
	for (size_t i = 0; i < s->nthreads; i++)
		for (size_t j = 0; j < s->threads[i].nframes; j++, nf++)
			nm += s->threads[i].frames[j].kind != PP_RF_PYTHON;
	struct pp_dump_thread *th = calloc(s->nthreads ? s->nthreads : 1, sizeof(*th));
	struct pp_dump_frame *fr = calloc(nf ? nf : 1, sizeof(*fr));
	char *labels = malloc(nm ? nm * LABEL_MAX : 1);
	if (!th || !fr || !labels) {
		free(th);
		free(fr);
		free(labels);
		return -1;
	}
	size_t k = 0, m = 0;
	for (size_t i = 0; i < s->nthreads; i++) {
		const struct pp_thread *t = &s->threads[i];
		th[i].native_id = t->native_id;
		th[i].ns_id = t->ns_id;
		th[i].name = t->name;
		th[i].interpreter_id = t->interp_id;
		th[i].gil = dump_gil(t->gil);
		th[i].os_state = dump_os(t->os.run);
		th[i].syscall = t->os.in_syscall == 1 ? pp_syscall_name(t->os.syscall_nr) : NULL;
		th[i].stack = dump_stack(t);
		th[i].frames = fr + k;
		th[i].nframes = t->nframes;
		for (size_t j = 0; j < t->nframes; j++, k++) {
			const struct pp_frame *f = &t->frames[j];
			if (f->kind != PP_RF_PYTHON) {
				char *label = labels + LABEL_MAX * m++;
				pp_frame_marker_label(f, label, LABEL_MAX);
				fr[k] = (struct pp_dump_frame){.function = label, .line = -1,
						       .kind = PP_DUMP_FRAME_MARKER};
				continue;
			}
			fr[k].kind = PP_DUMP_FRAME_PYTHON;
			fr[k].function = f->code->qualname;
			fr[k].name = f->code->name;
			fr[k].file = f->code->filename;
			fr[k].line = f->line;
		}
	}
	d->pid = info->pid;
	d->cmdline = info->cmdline;
	d->version = info->version;
	d->executable = info->executable;
	d->libpython = info->libpython;
	d->threads = th;
	d->nthreads = s->nthreads;
	*threads_out = th;
	*frames_out = fr;
	*labels_out = labels;
	return 0;
}

int cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pid", required_argument, NULL, 'p'},
		{"json", no_argument, NULL, 'j'},
		{"nonblocking", no_argument, NULL, 'B'},
		{"native", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int pid = 0, json = 0, nonblocking = 0, native = 0, c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:p:jnh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pid = pp_parse_pid(optarg);
			if (pid < 0)
				return pp_usage_error("dump", "--pid needs a process id, not '%s'",
						      optarg);
			break;
		case 'j': json = 1; break;
		case 'n': native = 1; break;
		case 'B': nonblocking = 1; break;
		case 'h':
			fputs(dump_usage, stdout);
			return PP_EXIT_OK;
		case ':':
			return pp_usage_error("dump", "%s needs a value", argv[optind - 1]);
		case '?':
			if (optopt && optopt != '?' && optopt < 128 && !strchr("pjnh", optopt))
				return pp_usage_error("dump", "unknown option '-%c'", optopt);
			return pp_usage_error("dump", "unknown option '%s'", argv[optind - 1]);
		default:
			return pp_usage_error("dump", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return pp_usage_error("dump", "unexpected argument '%s'", argv[optind]);
	if (!pid)
		return pp_usage_error("dump", "which process? give --pid PID");
	if (native && nonblocking)
		return pp_usage_error("dump", "--native needs the process paused to unwind "
				      "its threads; drop --nonblocking");

	struct pp_error err = {0};
	struct pp_target *t = NULL;
	if (pp_target_attach(pid, &t, &err) != PP_OK) {
		pp_die_msg("%s", err.msg);
		return (int)err.code;
	}
	struct pp_native_capture cap = {0};
	if (native) {
		char msg[300];
		if (pp_native_capture_init(&cap, t, msg, sizeof(msg)) != 0) {
			pp_die_msg("%s", msg);
			pp_target_detach(t);
			return PP_EXIT_IO;
		}
	}
	unsigned flags = PP_SAMPLE_OS_STATE | PP_SAMPLE_NAMES |
			 (nonblocking ? PP_SAMPLE_WHOLE : PP_SAMPLE_PAUSE);
	struct pp_sample s = {0};
	enum pp_err e = pp_target_sample(t, flags, &s, &err);
	/* Paused, a thread caught entering its evaluation loop has no stack
	 * to show (reader.h: dropped); a moment later it has. */
	for (size_t i = 0; e == PP_OK && !nonblocking && i < s.nthreads; i++)
		if (s.threads[i].dropped) {
			e = pp_target_sample(t, flags, &s, &err);
			break;
		}
	if (e != PP_OK) {
		pp_die_msg("%s", err.msg);
		pp_sample_free(&s);
		pp_native_capture_free(&cap);
		pp_target_detach(t);
		return (int)err.code;
	}

	struct pp_dump d = {0};
	struct pp_dump_thread *th = NULL;
	struct pp_dump_frame *fr = NULL;
	char *labels = NULL;
	int rc = PP_EXIT_OK;
	struct pp_dump_native_store store = {0};
	if (build_dump(pp_target_get_info(t), &s, &d, &th, &fr, &labels) != 0 ||
	    (native && pp_dump_add_native(&d, th, &s, &cap, &store) != 0)) {
		pp_die_msg("out of memory");
		rc = PP_EXIT_IO;
	} else if ((json ? pp_render_dump_json(&d, stdout) : pp_render_dump_text(&d, stdout)) != 0 ||
		   fflush(stdout) != 0) {
		pp_die_msg("cannot write the dump to standard output: %s", strerror(errno));
		rc = PP_EXIT_IO;
	}
	free(th);
	free(fr);
	free(labels);
	pp_dump_native_store_free(&store);
	pp_native_capture_free(&cap);
	pp_sample_free(&s);
	pp_target_detach(t);
	return rc;
}
