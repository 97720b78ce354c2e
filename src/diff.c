/* pyprobe diff's comparison (diff.h). The method, and why it does not cry
 * wolf, is docs/ci.md's "Method"; in short, per function and for the total:
 *
 *   y = log(seconds of a run)            (a run with no sample: half of one)
 *   d = mean(y head) - mean(y base)      change = e^d - 1
 *   var of a side's mean = max(sample variance of y, 1 / mean count) / runs
 *                          (1 / count: the Poisson noise of a count, the
 *                          floor under a lucky small spread; with one run
 *                          a side it is all there is)
 *   Welch's t on d, Welch-Satterthwaite degrees of freedom (a side of one
 *   run: its variance is known, it adds none); two-sided p.
 *
 * A function is tested only when a change of the threshold would stand two
 * sampling standard errors clear: fewer samples cannot tell it from noise.
 * Functions' p-values are Holm-corrected together; the total is tested on
 * its own. Regression: significant, and a change of at least the
 * threshold. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"

static void say(char *err, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
}

/* A side's counts of one quantity, per run. */
struct side {
	const uint64_t *count;  /* [n] */
	const struct pp_diff_run *runs;
	size_t n;
};

static double mean_seconds(const struct side *s)
{
	double sum = 0;
	for (size_t i = 0; i < s->n; i++)
		sum += (double)s->count[i] * s->runs[i].period_s;
	return s->n ? sum / (double)s->n : 0;
}

static uint64_t sum_counts(const struct side *s)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < s->n; i++)
		sum += s->count[i];
	return sum;
}

/* Mean of log seconds, and the variance of that mean; *df_term is its
 * Welch-Satterthwaite term (0: known variance). */
static void log_stats(const struct side *s, double *mean, double *var_of_mean, double *df_term)
{
	double sum = 0, csum = 0;
	for (size_t i = 0; i < s->n; i++) {
		double c = s->count[i] ? (double)s->count[i] : 0.5;
		sum += log(c * s->runs[i].period_s);
		csum += c;
	}
	double n = (double)s->n;
	*mean = sum / n;
	double floor_var = n / csum; /* 1 / mean count */
	double v = floor_var;
	*df_term = 0;
	if (s->n >= 2) {
		double ss = 0;
		for (size_t i = 0; i < s->n; i++) {
			double c = s->count[i] ? (double)s->count[i] : 0.5;
			double y = log(c * s->runs[i].period_s) - *mean;
			ss += y * y;
		}
		double sv = ss / (n - 1);
		if (sv > v)
			v = sv;
	}
	*var_of_mean = v / n;
	if (s->n >= 2)
		*df_term = (*var_of_mean) * (*var_of_mean) / (n - 1);
}

/* Whether a change of the threshold would stand two sampling standard
 * errors clear with these many samples. */
static bool judgeable(uint64_t cb, uint64_t ch, double threshold_pct)
{
	double b = cb ? (double)cb : 0.5, h = ch ? (double)ch : 0.5;
	return log1p(threshold_pct / 100.0) >= 2.0 * sqrt(1.0 / b + 1.0 / h);
}

/* The samples a side needs for that, with as many on the other. */
static double samples_needed(double threshold_pct)
{
	double l = log1p(threshold_pct / 100.0);
	return ceil(8.0 / (l * l));
}

static void compare(struct pp_diff_result *r, const struct side *b, const struct side *h,
		    double threshold_pct)
{
	r->incl.base_s = mean_seconds(b);
	r->incl.head_s = mean_seconds(h);
	r->incl.base_samples = sum_counts(b);
	r->incl.head_samples = sum_counts(h);
	r->tested = r->incl.base_samples > 0 && r->incl.head_samples > 0 &&
		    judgeable(r->incl.base_samples, r->incl.head_samples, threshold_pct);
	double mb, vb, tb, mh, vh, th;
	log_stats(b, &mb, &vb, &tb);
	log_stats(h, &mh, &vh, &th);
	double d = mh - mb, se = sqrt(vb + vh);
	double df = tb + th > 0 ? (vb + vh) * (vb + vh) / (tb + th) : INFINITY;
	r->change_pct = r->incl.base_samples && r->incl.head_samples ? 100.0 * expm1(d)
		      : r->incl.base_samples ? -100.0 : INFINITY;
	double q = pp_stat_t_quantile(0.975, df);
	r->low_pct = 100.0 * expm1(d - q * se);
	r->high_pct = 100.0 * expm1(d + q * se);
	r->p_raw = r->tested ? 2.0 * pp_stat_t_sf(fabs(d) / se, df) : NAN;
	if (r->p_raw > 1)
		r->p_raw = 1;
	r->p_value = r->p_raw;
}

static void self_of(struct pp_diff_result *r, const struct side *b, const struct side *h)
{
	r->self.base_s = mean_seconds(b);
	r->self.head_s = mean_seconds(h);
	r->self.base_samples = sum_counts(b);
	r->self.head_samples = sum_counts(h);
	r->self_change_pct = r->self.base_samples && r->self.head_samples
			   ? 100.0 * (r->self.head_s / r->self.base_s - 1.0) : NAN;
}

static void decide(struct pp_diff_result *r, double alpha, double threshold_pct)
{
	r->significant = r->tested && r->p_value < alpha;
	r->regression = r->significant && r->change_pct >= threshold_pct;
	r->improvement = r->significant && r->change_pct <= -threshold_pct;
}

/* Worst first: tested before untested, then by change (largest growth
 * first), then by name - deterministic output. */
static int worst_first(const void *a, const void *b)
{
	const struct pp_diff_result *x = a, *y = b;
	if (x->tested != y->tested)
		return x->tested ? -1 : 1;
	if (x->tested && x->change_pct != y->change_pct)
		return x->change_pct > y->change_pct ? -1 : 1;
	if (!x->tested) {
		double xs = x->incl.base_s + x->incl.head_s, ys = y->incl.base_s + y->incl.head_s;
		if (xs != ys)
			return xs > ys ? -1 : 1;
	}
	int c = strcmp(x->function, y->function);
	return c ? c : strcmp(x->file, y->file);
}

/* The program every run of the inputs ran, or the first two that differ. */
static bool same_program(const struct pp_diff_input *in, char *err, size_t errlen)
{
	const struct pp_diff_run *first = NULL;
	size_t R = in->nruns[0] + in->nruns[1];
	for (size_t i = 0; i < R; i++) {
		const struct pp_diff_run *r = &in->runs[i];
		if (!r->program)
			continue;
		if (!first) {
			first = r;
		} else if (strcmp(first->program, r->program) != 0) {
			say(err, errlen, "%s and %s are recordings of different programs (%s, %s): "
				"diff compares runs of one benchmark", first->path, r->path,
				first->program, r->program);
			return false;
		}
	}
	return true;
}

int pp_diff_compute(const struct pp_diff_input *in, const struct pp_diff_opts *o,
		    struct pp_diff *d, char *err, size_t errlen)
{
	*d = (struct pp_diff){.threshold_pct = o->threshold_pct, .alpha = o->alpha};
	d->nruns[0] = in->nruns[0];
	d->nruns[1] = in->nruns[1];
	d->welch = in->nruns[0] >= 2 && in->nruns[1] >= 2;
	size_t nb = in->nruns[0], nh = in->nruns[1], R = nb + nh;
	for (size_t i = 0; i < R; i++) {
		if (in->runs[i].assumed_rate)
			d->assumed_rate_hz = 1.0 / in->runs[i].period_s;
		d->truncated |= in->runs[i].truncated;
	}
	if (!same_program(in, err, errlen))
		return -1;

	/* the total */
	uint64_t *tot = malloc(R * sizeof *tot);
	if (!tot) {
		say(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < R; i++)
		tot[i] = in->runs[i].samples;
	struct side tb = {tot, in->runs, nb}, th = {tot + nb, in->runs + nb, nh};
	compare(&d->total, &tb, &th, o->threshold_pct);
	self_of(&d->total, &tb, &th);
	free(tot);
	if (!d->total.tested) {
		say(err, errlen, "the runs are too short to judge a %g%% change: %llu samples in "
			"base, %llu in head, and it takes about %.0f a side; record longer, more "
			"runs, at a higher rate (-r), or raise --threshold", o->threshold_pct,
			(unsigned long long)d->total.incl.base_samples,
			(unsigned long long)d->total.incl.head_samples,
			samples_needed(o->threshold_pct));
		return -1;
	}

	/* Different programs: the functions both sides ran must hold most of
	 * each side's time. */
	uint64_t common_self[2] = {0, 0}, all_self[2] = {0, 0};
	for (size_t k = 0; k < in->nfns; k++) {
		const struct pp_diff_fn *f = &in->fns[k];
		uint64_t s[2] = {0, 0}, inc[2] = {0, 0};
		for (size_t i = 0; i < R; i++) {
			s[i >= nb] += f->self[i];
			inc[i >= nb] += f->incl[i];
		}
		for (int j = 0; j < 2; j++) {
			all_self[j] += s[j];
			if (inc[0] && inc[1])
				common_self[j] += s[j];
		}
	}
	for (int j = 0; j < 2; j++)
		if (all_self[j] && (double)common_self[j] < 0.5 * (double)all_self[j]) {
			say(err, errlen, "base and head look like different programs: the functions "
				"both ran hold only %.0f%% of %s's time; diff compares runs of one "
				"benchmark", 100.0 * (double)common_self[j] / (double)all_self[j],
				j ? "head" : "base");
			return -1;
		}

	/* each function */
	d->fns = calloc(in->nfns ? in->nfns : 1, sizeof *d->fns);
	double *p = calloc(in->nfns ? in->nfns : 1, sizeof *p);
	size_t *which = calloc(in->nfns ? in->nfns : 1, sizeof *which);
	if (!d->fns || !p || !which) {
		free(p);
		free(which);
		pp_diff_free(d);
		say(err, errlen, "out of memory");
		return -1;
	}
	d->nfns = in->nfns;
	for (size_t k = 0; k < in->nfns; k++) {
		const struct pp_diff_fn *f = &in->fns[k];
		struct pp_diff_result *r = &d->fns[k];
		r->function = f->function;
		r->file = f->file;
		struct side b = {f->incl, in->runs, nb}, h = {f->incl + nb, in->runs + nb, nh};
		compare(r, &b, &h, o->threshold_pct);
		struct side sb = {f->self, in->runs, nb}, sh = {f->self + nb, in->runs + nb, nh};
		self_of(r, &sb, &sh);
		if (r->tested) {
			which[d->ntested] = k;
			p[d->ntested++] = r->p_raw;
		} else {
			d->skipped_base_s += r->self.base_s;
			d->skipped_head_s += r->self.head_s;
		}
	}
	pp_stat_holm(p, d->ntested);
	for (size_t t = 0; t < d->ntested; t++)
		d->fns[which[t]].p_value = p[t];
	free(p);
	free(which);
	for (size_t k = 0; k < d->nfns; k++) {
		decide(&d->fns[k], o->alpha, o->threshold_pct);
		d->nregressions += d->fns[k].regression;
		d->nimprovements += d->fns[k].improvement;
	}
	decide(&d->total, o->alpha, o->threshold_pct);
	qsort(d->fns, d->nfns, sizeof *d->fns, worst_first);
	return 0;
}

void pp_diff_free(struct pp_diff *d)
{
	free(d->fns);
	d->fns = NULL;
	d->nfns = 0;
}
