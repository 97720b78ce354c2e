/* pyprobe diff's comparison (diff.h). The method, and why it does not cry
 * wolf, is docs/ci.md's "Method"; in short:
 *
 *   per run, y = log(seconds) (the total) or log(samples with the function /
 *   samples without it) (a function); a count of 0 counts half of one
 *   d = mean(y head) - mean(y base), change = e^d - 1
 *   var of a side's mean = (sampling floor + the runs' excess over it) / runs
 *   Welch's t on d, Satterthwaite's degrees of freedom; two-sided p
 *
 * The total is judged on its time, with two runs a side or more. A
 * function is judged on its time relative to the rest of the program's
 * (y = log(samples with it / samples without it)): a loaded machine
 * stretches a whole run (measured: by up to 2x here), which moves every
 * function's seconds alike and this ratio not at all; a slowdown of
 * everything alike shows in the total only. A function is tested
 * only when a change of the threshold would stand two sampling standard
 * errors clear; functions' p-values are Holm-corrected together, and the
 * two families (functions, total) share alpha. Regression: significant,
 * and a change of at least the threshold. */
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

/* A side's counts of one quantity, per run, and the runs' totals. */
struct side {
	const uint64_t *count;  /* [n] */
	const struct pp_diff_run *runs;
	size_t n;
	const double *speed;    /* [n]: the runs' speed factors (NORM) */
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

enum measure {
	TIME,  /* log seconds: run-to-run and sampling noise */
	NORM,  /* log seconds over the run's speed factor: what load that
	          stretches a whole run does not move */
};

/* One run's value of the measure, and the variance sampling alone gives
 * it (the floor): a count is about Poisson, var(log c) ~ 1/c. A run with
 * no sample counts half of one. */
static void one_run(const struct side *s, size_t i, enum measure m, double *y, double *floor_var)
{
	double c = s->count[i] ? (double)s->count[i] : 0.5;
	*y = log(c * s->runs[i].period_s);
	if (m == NORM)
		*y -= log(s->speed[i]);
	*floor_var = 1.0 / c;
}

struct moments {
	double mean;        /* of y */
	double var_of_mean; /* max(sample variance, floor) / n */
	double df_term;     /* Welch-Satterthwaite: (excess / n)^2 / (n - 1) */
};

/* The variance of a side's mean is the sampling floor (known: no degrees
 * of freedom lost) plus the excess the runs show over it (estimated from
 * n - 1 degrees of freedom): Satterthwaite's approximation counts only the
 * estimated part. So a side whose runs agree as well as sampling allows is
 * judged on sampling noise; one whose runs scatter, on their scatter and
 * its few degrees of freedom. */
static struct moments side_moments(const struct side *s, enum measure m)
{
	double sum = 0, fsum = 0, n = (double)s->n;
	for (size_t i = 0; i < s->n; i++) {
		double y, f;
		one_run(s, i, m, &y, &f);
		sum += y;
		fsum += f;
	}
	struct moments r = {.mean = sum / n};
	double floor_var = fsum / n, excess = 0;
	if (s->n >= 2) {
		double ss = 0;
		for (size_t i = 0; i < s->n; i++) {
			double y, f;
			one_run(s, i, m, &y, &f);
			ss += (y - r.mean) * (y - r.mean);
		}
		double sv = ss / (n - 1);
		excess = sv > floor_var ? sv - floor_var : 0;
	}
	r.var_of_mean = (floor_var + excess) / n;
	if (s->n >= 2)
		r.df_term = (excess / n) * (excess / n) / (n - 1);
	return r;
}

struct test {
	double d, se, df, p;
};

/* Welch's t on the difference of the sides' means. */
static struct test welch(const struct side *b, const struct side *h, enum measure m)
{
	struct moments mb = side_moments(b, m), mh = side_moments(h, m);
	struct test t;
	t.d = mh.mean - mb.mean;
	double v = mb.var_of_mean + mh.var_of_mean;
	t.se = sqrt(v);
	t.df = mb.df_term + mh.df_term > 0 ? v * v / (mb.df_term + mh.df_term) : INFINITY;
	t.p = t.se > 0 ? 2.0 * pp_stat_t_sf(fabs(t.d) / t.se, t.df) : (t.d ? 0.0 : 1.0);
	if (t.p > 1)
		t.p = 1;
	return t;
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

/* The time: means, change and its bounds. */
static void time_of(struct pp_diff_result *r, const struct side *b, const struct side *h)
{
	r->incl.base_s = mean_seconds(b);
	r->incl.head_s = mean_seconds(h);
	r->incl.base_samples = sum_counts(b);
	r->incl.head_samples = sum_counts(h);
	struct test t = welch(b, h, TIME);
	bool both = r->incl.base_samples && r->incl.head_samples;
	r->change_pct = both ? 100.0 * expm1(t.d) : r->incl.base_samples ? -100.0 : INFINITY;
	double q = pp_stat_t_quantile(0.975, t.df);
	r->low_pct = both ? 100.0 * expm1(t.d - q * t.se) : r->change_pct;
	r->high_pct = both ? 100.0 * expm1(t.d + q * t.se) : r->change_pct;
	r->p_raw = t.p;
	r->relative_change_pct = NAN;
	r->verdict_change_pct = r->change_pct;
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
	r->regression = r->significant && r->verdict_change_pct >= threshold_pct;
	r->improvement = r->significant && r->verdict_change_pct <= -threshold_pct;
}

/* Worst first: tested before untested, then by change (largest growth
 * first, as the verdict weighs it), then by name - deterministic output. */
static int worst_first(const void *a, const void *b)
{
	const struct pp_diff_result *x = a, *y = b;
	if (x->tested != y->tested)
		return x->tested ? -1 : 1;
	if (x->tested && x->verdict_change_pct != y->verdict_change_pct)
		return x->verdict_change_pct > y->verdict_change_pct ? -1 : 1;
	if (!x->tested) {
		double xs = x->incl.base_s + x->incl.head_s, ys = y->incl.base_s + y->incl.head_s;
		if (xs != ys)
			return xs > ys ? -1 : 1;
	}
	int c = strcmp(x->function, y->function);
	return c ? c : strcmp(x->file, y->file);
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Each run's speed factor, as DESeq's size factors: for each reference
 * function (enough self time to judge on both sides), its self seconds in
 * the run over their geometric mean across all runs; the run's factor is
 * the median of those. Self times partition a run, so a few functions
 * that changed move the median little, while load that stretches the
 * whole run moves every ratio alike. Fewer than 3 references: all 1 (no
 * correction). Returns the number of references used (0 for none). */
/* A function is a reference when it has self time enough to judge on both
 * sides and is not left out (left_out[k], or NULL: none). */
static bool reference(const struct pp_diff_input *in, size_t k, double threshold_pct,
		      const bool *left_out)
{
	size_t nb = in->nruns[0], R = nb + in->nruns[1];
	uint64_t sb = 0, sh = 0;
	for (size_t r = 0; r < R; r++)
		*(r < nb ? &sb : &sh) += in->fns[k].self[r];
	return sb && sh && judgeable(sb, sh, threshold_pct) && !(left_out && left_out[k]);
}

static size_t speed_factors(const struct pp_diff_input *in, double threshold_pct,
			    const bool *left_out, double *speed)
{
	size_t nb = in->nruns[0], R = nb + in->nruns[1];
	for (size_t r = 0; r < R; r++)
		speed[r] = 1.0;
	size_t nref = 0;
	for (size_t k = 0; k < in->nfns; k++)
		nref += reference(in, k, threshold_pct, left_out);
	if (nref < (left_out ? 2 : 3))
		return 0;
	double *ratio = malloc(nref * R * sizeof *ratio), *col = malloc(nref * sizeof *col);
	if (!ratio || !col) {
		free(ratio);
		free(col);
		return 0;
	}
	size_t g = 0;
	for (size_t k = 0; k < in->nfns; k++) {
		const struct pp_diff_fn *f = &in->fns[k];
		if (!reference(in, k, threshold_pct, left_out))
			continue;
		double lsum = 0;
		for (size_t r = 0; r < R; r++)
			lsum += log((f->self[r] ? (double)f->self[r] : 0.5) * in->runs[r].period_s);
		double lgm = lsum / (double)R;
		for (size_t r = 0; r < R; r++)
			ratio[g * R + r] = log((f->self[r] ? (double)f->self[r] : 0.5) *
					       in->runs[r].period_s) - lgm;
		g++;
	}
	for (size_t r = 0; r < R; r++) {
		for (size_t j = 0; j < nref; j++)
			col[j] = ratio[j * R + r];
		qsort(col, nref, sizeof *col, by_value);
		double med = nref % 2 ? col[nref / 2] : 0.5 * (col[nref / 2 - 1] + col[nref / 2]);
		speed[r] = exp(med);
	}
	free(ratio);
	free(col);
	return nref;
}

/* The median over the references is robust to a few that changed, but
 * not unbiased: with a reference much slower on head's side, each head
 * run's median is the larger of the others' ratios, and every function
 * looks a little faster than it is, the changed one most (measured with 3
 * references: +19% of time judged +15%). So the references whose own
 * self time changed (p < alpha, uncorrected: leaving out one that did
 * not costs only precision) are left out and the factors computed again
 * from the rest - the smallest p first, at most half of them, never fewer
 * than 2 left. */
static int leave_out_changed(const struct pp_diff_input *in, const struct pp_diff_opts *o,
			     double *speed, struct pp_diff *d)
{
	size_t nb = in->nruns[0], nh = in->nruns[1];
	size_t nref = d->speed_refs, can = nref / 2;
	if (nref - can < 2)
		can = nref > 2 ? nref - 2 : 0;
	if (!can)
		return 0;
	bool *out = calloc(in->nfns, sizeof *out);
	double *p = malloc(in->nfns * sizeof *p);
	if (!out || !p) {
		free(out);
		free(p);
		return -1;
	}
	for (size_t k = 0; k < in->nfns; k++) {
		p[k] = 2.0;
		if (!reference(in, k, o->threshold_pct, NULL))
			continue;
		const struct pp_diff_fn *f = &in->fns[k];
		struct side b = {f->self, in->runs, nb, speed}, h = {f->self + nb, in->runs + nb, nh,
								      speed + nb};
		p[k] = welch(&b, &h, NORM).p;
	}
	size_t left = 0;
	while (left < can) {
		size_t best = SIZE_MAX;
		for (size_t k = 0; k < in->nfns; k++)
			if (!out[k] && p[k] < o->alpha && (best == SIZE_MAX || p[k] < p[best]))
				best = k;
		if (best == SIZE_MAX)
			break;
		out[best] = true;
		left++;
	}
	if (left) {
		d->speed_refs = speed_factors(in, o->threshold_pct, out, speed);
		d->speed_left_out = left;
	}
	free(out);
	free(p);
	return 0;
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
	d->paired[0] = in->paired[0];
	d->paired[1] = in->paired[1];
	d->npaired = in->npaired;
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
	struct side tb = {tot, in->runs, nb, NULL}, th = {tot + nb, in->runs + nb, nh, NULL};
	time_of(&d->total, &tb, &th);
	self_of(&d->total, &tb, &th);
	free(tot);
	bool enough = judgeable(d->total.incl.base_samples, d->total.incl.head_samples,
				o->threshold_pct);
	if (!enough) {
		say(err, errlen, "the runs are too short to judge a %g%% change: %llu samples in "
			"base, %llu in head, and it takes about %.0f a side; record longer, more "
			"runs, at a higher rate (-r), or raise --threshold", o->threshold_pct,
			(unsigned long long)d->total.incl.base_samples,
			(unsigned long long)d->total.incl.head_samples,
			samples_needed(o->threshold_pct));
		return -1;
	}
	/* With one run a side nothing says how much a run's time varies
	 * (machine load moves it by far more than sampling does): the total
	 * is shown, not judged. */
	d->total.tested = d->welch;
	/* Two families, the functions and the total, share alpha
	 * (Bonferroni): the chance of any false finding stays at most alpha.
	 * Measured without it: 4 false alarms in 200 A/A comparisons, all the
	 * total's, under bursty load (docs/ci.md). */
	double families = d->total.tested ? 2.0 : 1.0;
	d->total.p_value = d->total.tested ? fmin(1.0, d->total.p_raw * families) : NAN;
	decide(&d->total, o->alpha, o->threshold_pct);

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

	double *speed = calloc(R, sizeof *speed);
	if (!speed) {
		say(err, errlen, "out of memory");
		return -1;
	}
	d->speed_refs = speed_factors(in, o->threshold_pct, NULL, speed);
	if (d->speed_refs && leave_out_changed(in, o, speed, d) != 0) {
		free(speed);
		say(err, errlen, "out of memory");
		return -1;
	}

	/* each function */
	d->fns = calloc(in->nfns ? in->nfns : 1, sizeof *d->fns);
	double *p = calloc(in->nfns ? in->nfns : 1, sizeof *p);
	size_t *which = calloc(in->nfns ? in->nfns : 1, sizeof *which);
	if (!d->fns || !p || !which) {
		free(speed);
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
		struct side b = {f->incl, in->runs, nb, NULL}, h = {f->incl + nb, in->runs + nb, nh, NULL};
		time_of(r, &b, &h);
		r->tested = r->incl.base_samples > 0 && r->incl.head_samples > 0 &&
			    judgeable(r->incl.base_samples, r->incl.head_samples,
				      o->threshold_pct);
		/* The verdict weighs the function's time over its run's speed
		 * factor: load that stretches a whole run moves every
		 * function's seconds alike, and this not at all. */
		b.speed = speed;
		h.speed = speed + nb;
		struct test t = welch(&b, &h, d->speed_refs ? NORM : TIME);
		r->relative_change_pct = 100.0 * expm1(t.d);
		r->verdict_change_pct = r->relative_change_pct;
		r->p_raw = r->tested ? t.p : NAN;
		r->p_value = r->p_raw;
		struct side sb = {f->self, in->runs, nb, NULL}, sh = {f->self + nb, in->runs + nb, nh, NULL};
		self_of(r, &sb, &sh);
		if (r->tested) {
			which[d->ntested] = k;
			p[d->ntested++] = r->p_raw;
		} else {
			d->skipped_base_s += r->self.base_s;
			d->skipped_head_s += r->self.head_s;
		}
	}
	free(speed);
	pp_stat_holm(p, d->ntested);
	for (size_t t = 0; t < d->ntested; t++)
		d->fns[which[t]].p_value = fmin(1.0, p[t] * families);
	free(p);
	free(which);
	for (size_t k = 0; k < d->nfns; k++) {
		decide(&d->fns[k], o->alpha, o->threshold_pct);
		d->nregressions += d->fns[k].regression;
		d->nimprovements += d->fns[k].improvement;
	}
	if (d->ntested == 0 && !d->total.tested) {
		say(err, errlen, "nothing to judge: with one run a side only functions are judged, "
			"and none has samples enough for a %g%% change (about %.0f a side); record "
			"longer, several runs a side, or raise --threshold", o->threshold_pct,
			samples_needed(o->threshold_pct));
		pp_diff_free(d);
		return -1;
	}
	qsort(d->fns, d->nfns, sizeof *d->fns, worst_first);
	return 0;
}

void pp_diff_free(struct pp_diff *d)
{
	free(d->fns);
	d->fns = NULL;
	d->nfns = 0;
}
