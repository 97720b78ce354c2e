/* A fixed-size histogram of durations (sampling cost per snapshot), for
 * the median and p99 over a whole recording in constant memory and
 * constant time: 32 buckets per power of two, so a quantile is exact to
 * about 3%. Adding is a few instructions; nothing is ever sorted. */
#ifndef PYPROBE_COST_HISTOGRAM_H
#define PYPROBE_COST_HISTOGRAM_H

#include <stdint.h>

#define PP_COST_SUB 32
#define PP_COST_BUCKETS (64 * PP_COST_SUB)

struct pp_cost_histogram {
	uint64_t n;
	uint64_t bucket[PP_COST_BUCKETS];
};

void pp_cost_add(struct pp_cost_histogram *h, uint64_t ns);
/* The q-quantile (0 < q < 1) in ns, 0 when empty. */
uint64_t pp_cost_quantile(const struct pp_cost_histogram *h, double q);

#endif
