/* pyprobe diff: the time each function took in two sets of runs of the
 * same benchmark (BASE and HEAD), compared with the noise of sampling and
 * of the runs, into a verdict a CI job can act on.
 *
 *   inputs   diff_input.c: each side is one or more runs (.pyprobe
 *            recordings, collapsed-stack files, or a directory of them);
 *            a run gives per function (name + file, lines ignored) the
 *            samples it was on the stack (inclusive) and on top (self),
 *            and the seconds one sample stands for
 *   compare  diff.c: per function and for the total, the change and
 *            whether it is significant (diff_stats.c), Holm-corrected
 *   output   render/diff_*.c: text, JSON, markdown
 *
 * The method is written down in docs/ci.md. Plain data: no reader, no
 * renderer.
 */
#ifndef PYPROBE_DIFF_H
#define PYPROBE_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- inputs ---------------------------------------------------------------- */

enum pp_diff_side_id { PP_DIFF_BASE = 0, PP_DIFF_HEAD = 1 };

struct pp_diff_run {
	char *path;
	double period_s;    /* seconds one sample stands for */
	bool assumed_rate;  /* a collapsed file: the rate is --rate's (or 100) */
	bool truncated;     /* a recording cut short */
	uint64_t samples;   /* kept samples: the total's */
	char *program;      /* the script (or -m module) of its command line;
	                       NULL when unknown (collapsed files) */
	char *cmdline;      /* NULL when unknown */
};

struct pp_diff_fn {
	char *function;
	char *file;         /* "" when the input gave none */
	uint64_t *incl;     /* per run (base runs, then head runs) */
	uint64_t *self;
};

/* Both sides, loaded into one function table. */
struct pp_diff_input {
	struct pp_diff_run *runs;
	size_t nruns[2];    /* runs of base, of head; runs[] holds base first */
	struct pp_diff_fn *fns;
	size_t nfns, capfns;
	/* (the table's index) */
	uint32_t *index;
	size_t index_cap;
	uint32_t *stamp;    /* per function: the last sample it was counted in */
	uint32_t sample_seq;
	/* Two checkouts of one program (diff_checkouts.c): base's files under
	 * paired[0] are head's under paired[1]; npaired functions were
	 * counted as their head twins. NULL, 0: none. */
	char *paired[2];
	size_t npaired;
};

struct pp_diff_load_opts {
	double rate_hz;     /* for collapsed files; 0: 100 Hz, assumed */
	bool idle;          /* keep samples of idle threads (recordings) */
};

/* Load base and head (each a file or a directory of files). 0; or -1 with
 * a one-line reason in err (no "pyprobe: " prefix) and *code the exit code
 * (6 unreadable or corrupt input). */
int pp_diff_input_load(struct pp_diff_input *in, const char *base, const char *head,
		       const struct pp_diff_load_opts *o, char *err, size_t errlen, int *code);
void pp_diff_input_free(struct pp_diff_input *in);
/* (Called by pp_diff_input_load.) A function of base whose file lies in
 * another checkout of the program than head's (base/bench.py,
 * head/bench.py) is counted as head's function of that name in the same
 * file of head's checkout: the pair of directories most files seen by one
 * side only differ by. 0, or -1 out of memory. */
int pp_diff_pair_checkouts(struct pp_diff_input *in);

/* ---- the comparison -------------------------------------------------------- */

/* One side's estimate of a quantity (a function's time or the total). */
struct pp_diff_est {
	double base_s, head_s;        /* mean seconds a run */
	uint64_t base_samples, head_samples; /* over all runs */
};

struct pp_diff_result {
	const char *function;         /* NULL for the total */
	const char *file;
	struct pp_diff_est incl;      /* inclusive time */
	struct pp_diff_est self;
	/* The time: head/base - 1 (ratio of geometric means of the runs'
	 * seconds), with 95% bounds from run-to-run and sampling noise. */
	double change_pct, low_pct, high_pct;
	double self_change_pct;       /* NAN when a side has no self time */
	/* Functions: its time with each run's speed factor taken out
	 * (docs/ci.md), head/base - 1: the change the verdict judges. The
	 * total: its time's. */
	double relative_change_pct;      /* NAN for the total */
	double verdict_change_pct;
	bool tested;                  /* false: too few samples (or, the total,
	                                 runs) to judge */
	double p_raw;                 /* uncorrected two-sided p (functions: of
	                                 the relative time; the total: of the time) */
	double p_value;               /* adjusted: Holm over the functions, then x2
	                                 when the total is tested too (the two
	                                 families share alpha); NAN untested */
	bool significant;             /* p_value < alpha */
	bool regression;              /* significant and verdict change >= threshold */
	bool improvement;             /* significant and verdict change <= -threshold */
};

struct pp_diff_opts {
	double threshold_pct;         /* default 10 */
	double alpha;                 /* default 0.05 */
};

struct pp_diff {
	double threshold_pct, alpha;
	size_t nruns[2];
	bool welch;                   /* >= 2 runs a side: run-to-run noise */
	size_t speed_refs;            /* functions the speed factors came from;
	                                 0: too few (< 3), no correction */
	size_t speed_left_out;        /* references left out because their own
	                                 time changed (docs/ci.md) */
	double assumed_rate_hz;       /* > 0 when some input is a collapsed file */
	bool truncated;               /* some recording was cut short */
	struct pp_diff_result total;   /* tested with >= 2 runs a side only */
	struct pp_diff_result *fns;   /* tested first, worst (largest change) first */
	size_t nfns, ntested;
	size_t nregressions, nimprovements;
	double skipped_base_s, skipped_head_s; /* self time of the untested */
	/* The input's paired checkouts (base's directory, head's; NULL: none)
	 * and how many functions were paired. */
	const char *paired[2];
	size_t npaired;
};

/* Compare. 0; or -1 with a one-line reason in err when the inputs cannot
 * be compared (different programs, too short to judge): the caller exits
 * with 2. Strings in the result point into `in`, which must outlive it. */
int pp_diff_compute(const struct pp_diff_input *in, const struct pp_diff_opts *o,
		    struct pp_diff *d, char *err, size_t errlen);
void pp_diff_free(struct pp_diff *d);

/* ---- statistics (diff_stats.c) --------------------------------------------- */

/* P(T > t) for Student's t with df degrees of freedom (df = INFINITY: the
 * normal distribution). */
double pp_stat_t_sf(double t, double df);
/* The q quantile of Student's t (0 < q < 1). */
double pp_stat_t_quantile(double q, double df);
/* Holm-Bonferroni: p[0..n) replaced by adjusted p-values (capped at 1,
 * monotone in the order of the raw ones). */
void pp_stat_holm(double *p, size_t n);

#endif
