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
#include "frame_marker.h"

static const char dump_usage[] =
	"usage: pyprobe dump --pid PID [--json] [--locals] [--nonblocking]\n"
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
	"  -n, --nonblocking  read while the process runs, without pausing it; a\n"
	"                     stack that moves while it is read is read again, and\n"
	"                     if it keeps moving, shown cut short under [changing];\n"
	"                     with --locals, values may be caught mid-change\n"
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

/* A Python frame's locals, as the model holds them (`store`: room for
 * all of the sample's). */
static void build_locals(const struct pp_frame *f, struct pp_dump_frame *df,
			 struct pp_dump_local *store, size_t *used)
{
	if (f->locals_state == PP_LOCALS_UNREADABLE) {
		df->locals_state = PP_DUMP_LOCALS_UNREADABLE;
		return;
	}
	if (f->locals_state != PP_LOCALS_READ)
		return;
	df->locals_state = PP_DUMP_LOCALS_READ;
	df->locals = store + *used;
	df->nlocals = f->nlocals;
	df->locals_cut = f->locals_cut;
	for (uint32_t i = 0; i < f->nlocals; i++)
		store[(*used)++] = (struct pp_dump_local){f->locals[i].name, f->locals[i].type,
							  f->locals[i].repr};
}

static int build_dump(const struct pp_target_info *info, const struct pp_sample *s,
		      struct pp_dump *d, struct pp_dump_thread **threads_out,
		      struct pp_dump_frame **frames_out, char **labels_out,
		      struct pp_dump_local **locals_out)
{
	size_t nf = 0, nm = 0, nl = 0;
	for (size_t i = 0; i < s->nthreads; i++)
		for (size_t j = 0; j < s->threads[i].nframes; j++, nf++) {
			nm += s->threads[i].frames[j].kind != PP_RF_PYTHON;
			nl += s->threads[i].frames[j].nlocals;
		}
	struct pp_dump_thread *th = calloc(s->nthreads ? s->nthreads : 1, sizeof(*th));
	struct pp_dump_frame *fr = calloc(nf ? nf : 1, sizeof(*fr));
	char *labels = malloc(nm ? nm * LABEL_MAX : 1);
	struct pp_dump_local *lo = malloc((nl ? nl : 1) * sizeof(*lo));
	if (!th || !fr || !labels || !lo) {
		free(th);
		free(fr);
		free(labels);
		free(lo);
		return -1;
	}
	size_t k = 0, m = 0, used = 0;
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
			build_locals(f, &fr[k], lo, &used);
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
	*locals_out = lo;
	return 0;
}

int cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pid", required_argument, NULL, 'p'},
		{"json", no_argument, NULL, 'j'},
		{"locals", no_argument, NULL, 'l'},
		{"nonblocking", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int pid = 0, json = 0, nonblocking = 0, locals = 0, c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:p:jlnh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pid = pp_parse_pid(optarg);
			if (pid < 0)
				return pp_usage_error("dump", "--pid needs a process id, not '%s'",
						      optarg);
			break;
		case 'j': json = 1; break;
		case 'l': locals = 1; break;
		case 'n': nonblocking = 1; break;
		case 'h':
			fputs(dump_usage, stdout);
			return PP_EXIT_OK;
		case ':':
			return pp_usage_error("dump", "%s needs a value", argv[optind - 1]);
		case '?':
			if (optopt && optopt != '?' && !strchr("pjlnh", optopt))
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

	struct pp_error err = {0};
	struct pp_target *t = NULL;
	if (pp_target_attach(pid, &t, &err) != PP_OK) {
		pp_die_msg("%s", err.msg);
		return (int)err.code;
	}
	unsigned flags = PP_SAMPLE_OS_STATE | PP_SAMPLE_NAMES |
			 (nonblocking ? PP_SAMPLE_WHOLE : PP_SAMPLE_PAUSE) |
			 (locals ? PP_SAMPLE_LOCALS : 0);
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
		pp_target_detach(t);
		return (int)err.code;
	}

	struct pp_dump d = {0};
	struct pp_dump_thread *th = NULL;
	struct pp_dump_frame *fr = NULL;
	char *labels = NULL;
	struct pp_dump_local *lo = NULL;
	int rc = PP_EXIT_OK;
	d.with_locals = locals;
	if (build_dump(pp_target_get_info(t), &s, &d, &th, &fr, &labels, &lo) != 0) {
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
	free(lo);
	pp_sample_free(&s);
	pp_target_detach(t);
	return rc;
}
