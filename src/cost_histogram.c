/* Log-linear histogram of durations; see cost_histogram.h. */
#include "cost_histogram.h"

/* Values below PP_COST_SUB get a bucket each; above, a power of two is
 * split into PP_COST_SUB equal parts. */
static unsigned bucket_of(uint64_t v)
{
	if (v < PP_COST_SUB)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v); /* 2^e <= v < 2^(e+1) */
	unsigned sub = (unsigned)((v >> (e - 5)) & (PP_COST_SUB - 1)); /* 5 = log2(32) */
	return (e - 4) * PP_COST_SUB + sub;
}

/* The middle of a bucket's range. */
static uint64_t value_of(unsigned b)
{
	if (b < PP_COST_SUB)
		return b;
	unsigned e = b / PP_COST_SUB + 4, sub = b % PP_COST_SUB;
	uint64_t lo = (1ull << e) + ((uint64_t)sub << (e - 5));
	return lo + (1ull << (e - 5)) / 2;
}

void pp_cost_add(struct pp_cost_histogram *h, uint64_t ns)
{
	unsigned b = bucket_of(ns);
	if (b >= PP_COST_BUCKETS)
		b = PP_COST_BUCKETS - 1;
	h->bucket[b]++;
	h->n++;
}

uint64_t pp_cost_quantile(const struct pp_cost_histogram *h, double q)
{
	if (!h->n)
		return 0;
	/* The smallest value with at least q of the samples at or below it,
	 * as the ring's sorted[n * q] was. */
	uint64_t rank = (uint64_t)((double)h->n * q);
	if (rank >= h->n)
		rank = h->n - 1;
	uint64_t seen = 0;
	for (unsigned b = 0; b < PP_COST_BUCKETS; b++) {
		seen += h->bucket[b];
		if (seen > rank)
			return value_of(b);
	}
	return value_of(PP_COST_BUCKETS - 1);
}
