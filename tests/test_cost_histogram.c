/* The sampling-cost histogram behind the summary's median and p99. */
#include <criterion/criterion.h>

#include "src/cost_histogram.h"

static void near(uint64_t got, uint64_t want, const char *what)
{
	double rel = got > want ? (double)(got - want) / (double)want
				: (double)(want - got) / (double)want;
	cr_assert_leq(rel, 0.035, "%s: %llu ns, want %llu ns within 3.5%%", what,
		      (unsigned long long)got, (unsigned long long)want);
}

Test(cost_histogram, empty_is_zero)
{
	static struct pp_cost_histogram h;
	cr_assert_eq(pp_cost_quantile(&h, 0.5), 0);
}

/* 1..100000 ns once each: the quantiles are the values themselves. */
Test(cost_histogram, quantiles_within_bucket_precision)
{
	static struct pp_cost_histogram h;
	for (uint64_t v = 1; v <= 100000; v++)
		pp_cost_add(&h, v);
	near(pp_cost_quantile(&h, 0.5), 50000, "median");
	near(pp_cost_quantile(&h, 0.99), 99000, "p99");
	near(pp_cost_quantile(&h, 0.01), 1000, "p1");
}

/* A tail of slow samples moves p99, not the median. */
Test(cost_histogram, tail_moves_p99_only)
{
	static struct pp_cost_histogram h;
	for (int i = 0; i < 980; i++)
		pp_cost_add(&h, 4000);
	for (int i = 0; i < 20; i++)
		pp_cost_add(&h, 2000000);
	near(pp_cost_quantile(&h, 0.5), 4000, "median");
	near(pp_cost_quantile(&h, 0.99), 2000000, "p99");
}

Test(cost_histogram, extremes_do_not_overflow)
{
	static struct pp_cost_histogram h;
	pp_cost_add(&h, 0);
	pp_cost_add(&h, UINT64_MAX);
	cr_assert_eq(pp_cost_quantile(&h, 0.1), 0);
	cr_assert_geq(pp_cost_quantile(&h, 0.99), 1ull << 63);
}
