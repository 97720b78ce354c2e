/* The distributions and the multiple-testing correction pyprobe diff
 * needs (diff.h): Student's t through the regularized incomplete beta
 * function, evaluated by its continued fraction (modified Lentz method),
 * and Holm-Bonferroni. Double precision; p-values below 1e-300 are 0. */
#include <math.h>
#include <stdlib.h>

#include "diff.h"

/* One step of the modified Lentz method with partial numerator num:
 * updates c and d, returns the factor it multiplies the fraction by. */
static double lentz_step(double num, double *c, double *d)
{
	const double tiny = 1e-300;
	*d = 1.0 + num * *d;
	*c = 1.0 + num / *c;
	if (fabs(*d) < tiny)
		*d = tiny;
	if (fabs(*c) < tiny)
		*c = tiny;
	*d = 1.0 / *d;
	return *d * *c;
}

/* The continued fraction of I_x(a, b), good for x < (a + 1) / (a + b + 2). */
static double beta_cf(double a, double b, double x)
{
	const double tiny = 1e-300, eps = 1e-15;
	double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
	if (fabs(d) < tiny)
		d = tiny;
	d = 1.0 / d;
	double h = d;
	for (int m = 1; m <= 500; m++) {
		double m2 = 2.0 * m;
		/* the even step, then the odd one */
		h *= lentz_step(m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)), &c, &d);
		double step = lentz_step(-(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0)),
					 &c, &d);
		h *= step;
		if (fabs(step - 1.0) < eps)
			break;
	}
	return h;
}

/* I_x(a, b), the regularized incomplete beta function. */
static double beta_inc(double a, double b, double x)
{
	if (!(x > 0))
		return 0.0;
	if (!(x < 1))
		return 1.0;
	double lfront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
	if (x < (a + 1.0) / (a + b + 2.0))
		return exp(lfront) * beta_cf(a, b, x) / a;
	/* the symmetry I_x(a, b) = 1 - I_{1-x}(b, a), where that converges */
	return 1.0 - exp(lfront) * beta_cf(b, a, 1.0 - x) / b;
}

double pp_stat_t_sf(double t, double df)
{
	if (isnan(t))
		return NAN;
	if (t < 0)
		return 1.0 - pp_stat_t_sf(-t, df);
	if (isinf(df) || df > 1e7)
		return 0.5 * erfc(t / sqrt(2.0));
	if (isinf(t))
		return 0.0;
	double x = df / (df + t * t);
	return 0.5 * beta_inc(df / 2.0, 0.5, x);
}

double pp_stat_t_quantile(double q, double df)
{
	if (!(q > 0 && q < 1))
		return NAN;
	if (q < 0.5)
		return -pp_stat_t_quantile(1.0 - q, df);
	/* bisection on the survival function: monotone, and plenty fast for
	 * the few quantiles a diff asks for */
	double lo = 0.0, hi = 1.0;
	while (pp_stat_t_sf(hi, df) > 1.0 - q && hi < 1e12)
		hi *= 2.0;
	for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
		double mid = 0.5 * (lo + hi);
		if (pp_stat_t_sf(mid, df) > 1.0 - q)
			lo = mid;
		else
			hi = mid;
	}
	return 0.5 * (lo + hi);
}

struct ranked {
	double p;
	size_t i;
};

static int by_p(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	if (x->p != y->p)
		return x->p < y->p ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

void pp_stat_holm(double *p, size_t n)
{
	if (n == 0)
		return;
	struct ranked *r = malloc(n * sizeof *r);
	if (!r) {
		/* plain Bonferroni: more conservative, never less */
		for (size_t i = 0; i < n; i++)
			p[i] = fmin(1.0, p[i] * (double)n);
		return;
	}
	for (size_t i = 0; i < n; i++)
		r[i] = (struct ranked){p[i], i};
	qsort(r, n, sizeof *r, by_p);
	double run = 0.0;
	for (size_t k = 0; k < n; k++) {
		double adj = fmin(1.0, r[k].p * (double)(n - k));
		if (adj < run)
			adj = run; /* adjusted p-values keep the raw order */
		run = adj;
		p[r[k].i] = adj;
	}
	free(r);
}
