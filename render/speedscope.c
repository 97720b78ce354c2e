/* speedscope's file format (https://www.speedscope.app/file-format-schema.json):
 *
 *   shared.frames   one per view frame that a kept sample uses, numbered
 *                   0.. in the order of the view's frame ids (a compacted
 *                   numbering: unused synthetic roots and markers are left
 *                   out); `name` is the function, or a synthetic frame's
 *                   name; `file` and `line` only for Python frames, `line`
 *                   only when known
 *   profiles        one "sampled" profile per thread that has kept samples,
 *                   in thread order, named `thread TID "name"` (or
 *                   `thread TID`); samples in time order, root first; each
 *                   weighs 1/rate seconds, at the rate achieved
 *                   (pp_profile_rate_achieved: missed ticks make each
 *                   sample stand for longer; rate 0, unknown: 100 Hz),
 *                   written as the shortest decimal that reads back the
 *                   same; startValue 0, endValue n/rate (the weights' sum).
 *                   A view that keeps nothing gets one empty profile, so the
 *                   file still opens.
 *   activeProfileIndex  the profile with the most samples (the first of
 *                   those tied), where speedscope opens
 *   name            the title, or else the command line
 *
 * Laid out one frame and one sample per line (weights 16 a line), so files
 * diff well.
 */
#include "render.h"
#include "stream_end.h"
#include "json_str.h"
#include "stack_set.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WEIGHTS_PER_LINE 16

struct kept {
	uint32_t thread, seq;
};

struct pass {
	struct pp_stack_set set; /* the distinct stacks */
	struct kept *kept;       /* the kept samples, in time order */
	size_t nkept, capkept;
};

static int add_sample(const struct pp_view_frame *const *f, size_t n,
		      const struct pp_psample *s, void *ctx)
{
	struct pass *ps = ctx;
	if (ps->nkept == ps->capkept) {
		size_t ncap = ps->capkept ? ps->capkept * 2 : 64;
		struct kept *nk = realloc(ps->kept, ncap * sizeof(*nk));
		if (!nk)
			return -1;
		ps->kept = nk;
		ps->capkept = ncap;
	}
	long id = pp_stack_set_add(&ps->set, f, n);
	if (id < 0)
		return -1;
	ps->kept[ps->nkept++] = (struct kept){s->thread, (uint32_t)id};
	return 0;
}

/* The shortest decimal that reads back as v, in JSON's syntax whatever the
 * locale's decimal point. */
static void fmt_num(double v, char *buf, size_t size)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	for (char *c = buf; *c; c++)
		if (*c == ',')
			*c = '.';
}

static void put_frame(const struct pp_view_frame *f, FILE *out)
{
	fputs("      {\"name\": ", out);
	pp_json_str(f->function, out);
	if (f->kind == PP_FRAME_PYTHON || f->kind == PP_FRAME_NATIVE) {
		fputs(", \"file\": ", out);
		pp_json_str(f->file, out);
		if (f->line >= 0)
			fprintf(out, ", \"line\": %d", f->line);
	}
	fputc('}', out);
}

/* A distinct stack as speedscope's frame indexes, "[0, 7, 8]", or NULL. */
static char *stack_text(const struct pp_stack_seq *q, const uint32_t *map)
{
	size_t size = q->n * 12 + 3, len = 1; /* ", " and 10 digits each */
	char *t = malloc(size);
	if (!t)
		return NULL;
	t[0] = '[';
	for (size_t k = 0; k < q->n; k++)
		len += (size_t)snprintf(t + len, size - len, k ? ", %" PRIu32 : "%" PRIu32,
					map[q->ids[k]]);
	memcpy(t + len, "]", 2);
	return t;
}

/* One sampled profile: the kept samples idx[0..n), each 1/rate seconds;
 * stacks[i] is the text of pass.set.seqs[i]. */
static void put_profile(const char *name, const struct pass *ps, char *const *stacks,
		       const size_t *idx, size_t n, double rate, FILE *out)
{
	char w[40], end[40];
	fmt_num(1.0 / rate, w, sizeof w);
	fmt_num((double)n / rate, end, sizeof end);
	fputs("    {\n      \"type\": \"sampled\",\n      \"name\": ", out);
	pp_json_str(name, out);
	fprintf(out, ",\n      \"unit\": \"seconds\",\n      \"startValue\": 0,\n"
		     "      \"endValue\": %s,\n",
		end);
	fputs(n ? "      \"samples\": [\n" : "      \"samples\": [", out);
	for (size_t i = 0; i < n && !ferror(out); i++) {
		fputs("        ", out);
		fputs(stacks[ps->kept[idx[i]].seq], out);
		fputs(i + 1 < n ? ",\n" : "\n", out);
	}
	fputs(n ? "      ],\n      \"weights\": [" : "],\n      \"weights\": [", out);
	for (size_t i = 0; i < n && !ferror(out); i++) {
		fputs(i % WEIGHTS_PER_LINE ? ", " : i ? ",\n        " : "\n        ", out);
		fputs(w, out);
	}
	fputs(n ? "\n      ]\n    }" : "]\n    }", out);
}

/* The file's name: the title, else the command line, else "pyprobe". */
static const char *file_name(const struct pp_profile *p, const struct pp_render_opts *o)
{
	const struct pp_profile_meta *m = pp_profile_meta_c(p);
	if (o->title)
		return o->title;
	const char *t = pp_profile_string(p, m->title);
	if (*t)
		return t;
	t = pp_profile_string(p, m->cmdline);
	return *t ? t : "pyprobe";
}

/* The index among the profiles written (threads with kept samples) of
 * the one with the most samples, the first of those tied: where speedscope
 * opens. The main thread, first, often holds little but start-up. end[t]
 * is where thread t's kept samples end (its group, see write_file). */
static size_t busiest(const size_t *end, size_t nthreads)
{
	size_t best = 0, best_n = 0, index = 0;
	for (size_t t = 0; t < nthreads; t++) {
		size_t n = end[t] - (t ? end[t - 1] : 0);
		if (n == 0)
			continue;
		if (n > best_n) {
			best = index;
			best_n = n;
		}
		index++;
	}
	return best;
}

static int write_file(const struct pp_profile *p, const struct pp_render_opts *o,
		      const struct pp_view *v, const struct pass *ps, FILE *out)
{
	size_t nthreads, nvf = pp_view_nframes(v);
	const struct pp_pthread *th = pp_profile_threads(p, &nthreads);
	/* the rate achieved, not the one asked for: with missed ticks, the
	 * seconds would understate the time the samples cover */
	double rate = pp_profile_rate_achieved(pp_profile_meta_c(p));
	int rc = -1;

	/* Compact frame numbers: the used view frames, in id order. */
	uint32_t *map = malloc((nvf ? nvf : 1) * sizeof(*map));
	/* The kept samples grouped by thread, each group in time order. */
	size_t *start = calloc(nthreads + 1, sizeof(*start));
	size_t *idx = malloc((ps->nkept ? ps->nkept : 1) * sizeof(*idx));
	/* Each distinct stack's text, written once per sample. */
	char **stacks = calloc(ps->set.nseqs ? ps->set.nseqs : 1, sizeof(*stacks));
	char *name = NULL;
	if (!map || !start || !idx || !stacks)
		goto out;
	for (size_t i = 0; i < nvf; i++)
		map[i] = UINT32_MAX;
	for (size_t i = 0; i < ps->set.nseqs; i++)
		for (size_t k = 0; k < ps->set.seqs[i]->n; k++)
			map[ps->set.seqs[i]->ids[k]] = 0;
	uint32_t nused = 0;
	for (size_t i = 0; i < nvf; i++)
		if (map[i] == 0)
			map[i] = nused++;
	for (size_t i = 0; i < ps->set.nseqs; i++)
		if (!(stacks[i] = stack_text(ps->set.seqs[i], map)))
			goto out;
	for (size_t i = 0; i < ps->nkept; i++)
		start[ps->kept[i].thread + 1]++;
	for (size_t t = 0; t < nthreads; t++)
		start[t + 1] += start[t];
	for (size_t i = 0; i < ps->nkept; i++)
		idx[start[ps->kept[i].thread]++] = i;
	/* Filling moved start[t] to where thread t's group ends; the group
	 * begins where the previous one ends. */

	fputs("{\n  \"$schema\": \"https://www.speedscope.app/file-format-schema.json\",\n"
	      "  \"exporter\": \"pyprobe " PYPROBE_VERSION "\",\n  \"name\": ",
	      out);
	pp_json_str(file_name(p, o), out);
	fprintf(out, ",\n  \"activeProfileIndex\": %zu,\n  \"shared\": {\n    \"frames\": [",
		busiest(start, nthreads));
	uint32_t written = 0;
	for (size_t i = 0; i < nvf && !ferror(out); i++) {
		if (map[i] == UINT32_MAX)
			continue;
		fputs(written++ ? ",\n" : "\n", out);
		put_frame(pp_view_frame(v, (uint32_t)i), out);
	}
	fputs(nused ? "\n    ]\n  },\n  \"profiles\": [\n" : "]\n  },\n  \"profiles\": [\n", out);

	int first = 1;
	for (size_t t = 0; t < nthreads && !ferror(out); t++) {
		size_t begin = t ? start[t - 1] : 0, n = start[t] - begin;
		if (n == 0)
			continue;
		const char *tn = pp_view_thread_name(v, (uint32_t)t);
		if ((*tn ? asprintf(&name, "thread %" PRIu64 " \"%s\"", th[t].native_id, tn)
			 : asprintf(&name, "thread %" PRIu64, th[t].native_id)) < 0) {
			name = NULL;
			goto out;
		}
		if (!first)
			fputs(",\n", out);
		first = 0;
		put_profile(name, ps, stacks, idx + begin, n, rate, out);
		free(name);
		name = NULL;
	}
	if (first)
		put_profile("no samples", ps, stacks, idx, 0, rate, out);
	fputs("\n  ]\n}\n", out);
	rc = 0;
out:
	if (rc != 0)
		errno = ENOMEM;
	for (size_t i = 0; stacks && i < ps->set.nseqs; i++)
		free(stacks[i]);
	free(stacks);
	free(name);
	free(map);
	free(start);
	free(idx);
	return rc;
}

int pp_render_speedscope(const struct pp_profile *p, const struct pp_render_opts *o, FILE *out)
{
	struct pass ps = {0};
	int rc = -1;
	struct pp_view *v = pp_view_new(p, &o->view);
	if (!v || pp_view_each(v, add_sample, &ps) != 0)
		errno = ENOMEM;
	else
		rc = write_file(p, o, v, &ps, out);
	pp_stack_set_free(&ps.set);
	free(ps.kept);
	pp_view_free(v);
	if (rc != 0)
		return -1;
	return pp_stream_end(out);
}
