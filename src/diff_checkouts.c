/* Two checkouts of one program: a CI job runs the base revision from one
 * directory and the head revision from another (base/bench.py and
 * head/bench.py), and Python names a function's file by its full path.
 * Without this pass every function of the program would be "only in base"
 * and "only in head", and nothing could be compared.
 *
 * The pass finds the one pair of directory prefixes that most files seen
 * only in base and only in head differ by (the rest of their paths equal,
 * so at least the file name), and counts each base function under such a
 * prefix as the head function with the same name in the same file under
 * the other prefix. Files both sides share (the standard library) are
 * untouched; a function one side alone has stays one side's. */
#include <stdlib.h>
#include <string.h>

#include "diff.h"

static size_t total_runs(const struct pp_diff_input *in)
{
	return in->nruns[0] + in->nruns[1];
}

static bool counted(const struct pp_diff_fn *f, size_t from, size_t to)
{
	for (size_t r = from; r < to; r++)
		if (f->incl[r] || f->self[r])
			return true;
	return false;
}

/* Where base's path b and head's path h stop agreeing, read from the end
 * by whole components: the length of each one's differing prefix (up to
 * and including its '/'), or false when even the file names differ or
 * nothing differs. */
static bool prefixes(const char *b, const char *h, size_t *pb, size_t *ph)
{
	size_t i = strlen(b), j = strlen(h);
	size_t cut_i = i, cut_j = j; /* after the last '/' the suffix matched to */
	while (i > 0 && j > 0 && b[i - 1] == h[j - 1]) {
		i--, j--;
		if (b[i] == '/')
			cut_i = i + 1, cut_j = j + 1;
	}
	if (i == 0 && j == 0)
		return false;              /* the same path */
	if (cut_i == strlen(b))
		return false;              /* not even the file name is shared */
	*pb = cut_i, *ph = cut_j;
	return cut_i > 0 && cut_j > 0; /* both under some directory */
}

struct vote {
	const char *b, *h;
	size_t pb, ph, n;
};

static int by_name_file(const void *x, const void *y, void *ctx)
{
	const struct pp_diff_fn *fns = ctx;
	const struct pp_diff_fn *a = &fns[*(const size_t *)x], *b = &fns[*(const size_t *)y];
	int c = strcmp(a->function, b->function);
	return c ? c : strcmp(a->file, b->file);
}

/* The first of the sorted heads named fn (nh if none). */
static size_t first_named(const struct pp_diff_fn *fns, const size_t *heads, size_t nh, const char *fn)
{
	size_t lo = 0, hi = nh;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(fns[heads[mid]].function, fn) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The head-only function named fn in file, or -1 (heads sorted by name, file). */
static long find_head(const struct pp_diff_fn *fns, const size_t *heads, size_t nh, const char *fn,
		      const char *file)
{
	size_t lo = 0, hi = nh;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct pp_diff_fn *f = &fns[heads[mid]];
		int c = strcmp(f->function, fn);
		if (!c)
			c = strcmp(f->file, file);
		if (!c)
			return (long)heads[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int pp_diff_pair_checkouts(struct pp_diff_input *in)
{
	size_t nb = in->nruns[0], R = total_runs(in);
	size_t *base_only = malloc((in->nfns + 1) * sizeof *base_only);
	size_t *head_only = malloc((in->nfns + 1) * sizeof *head_only);
	struct vote *votes = NULL;
	size_t nbo = 0, nho = 0, nv = 0, capv = 0;
	int rc = -1;
	if (!base_only || !head_only)
		goto out;
	for (size_t k = 0; k < in->nfns; k++) {
		bool b = counted(&in->fns[k], 0, nb), h = counted(&in->fns[k], nb, R);
		if (b && !h)
			base_only[nbo++] = k;
		else if (h && !b)
			head_only[nho++] = k;
	}
	if (!nbo || !nho) {
		rc = 0;
		goto out;
	}
	qsort_r(head_only, nho, sizeof *head_only, by_name_file, in->fns);

	/* Vote: each base-only function with a head-only namesake in a file
	 * of the same name elsewhere votes for the prefixes they differ by. */
	for (size_t i = 0; i < nbo; i++) {
		const struct pp_diff_fn *f = &in->fns[base_only[i]];
		for (size_t j = first_named(in->fns, head_only, nho, f->function);
		     j < nho && !strcmp(in->fns[head_only[j]].function, f->function); j++) {
			const struct pp_diff_fn *g = &in->fns[head_only[j]];
			size_t pb, ph;
			if (!prefixes(f->file, g->file, &pb, &ph))
				continue;
			size_t v = 0;
			while (v < nv && !(votes[v].pb == pb && votes[v].ph == ph &&
					   !strncmp(votes[v].b, f->file, pb) &&
					   !strncmp(votes[v].h, g->file, ph)))
				v++;
			if (v == nv) {
				if (nv == capv) {
					size_t cap = capv ? capv * 2 : 16;
					struct vote *nvp = realloc(votes, cap * sizeof *nvp);
					if (!nvp)
						goto out;
					votes = nvp, capv = cap;
				}
				votes[nv++] = (struct vote){f->file, g->file, pb, ph, 0};
			}
			votes[v].n++;
		}
	}
	size_t best = 0;
	for (size_t v = 1; v < nv; v++)
		if (votes[v].n > votes[best].n)
			best = v;
	if (!nv || !(in->paired[0] = strndup(votes[best].b, votes[best].pb)) ||
	    !(in->paired[1] = strndup(votes[best].h, votes[best].ph))) {
		rc = nv ? -1 : 0;
		goto out;
	}

	/* Count each base function under the base prefix as its head twin. */
	const char *pre_b = in->paired[0], *pre_h = in->paired[1];
	size_t lb = strlen(pre_b), lh = strlen(pre_h);
	bool *gone = calloc(in->nfns, sizeof *gone);
	if (!gone)
		goto out;
	for (size_t i = 0; i < nbo; i++) {
		struct pp_diff_fn *f = &in->fns[base_only[i]];
		if (strncmp(f->file, pre_b, lb) != 0)
			continue;
		size_t rest = strlen(f->file + lb);
		char *want = malloc(lh + rest + 1);
		if (!want) {
			free(gone);
			goto out;
		}
		memcpy(want, pre_h, lh);
		memcpy(want + lh, f->file + lb, rest + 1);
		long t = find_head(in->fns, head_only, nho, f->function, want);
		free(want);
		if (t < 0)
			continue;
		for (size_t r = 0; r < nb; r++) {
			in->fns[t].incl[r] += f->incl[r];
			in->fns[t].self[r] += f->self[r];
		}
		gone[base_only[i]] = true;
		in->npaired++;
	}
	size_t w = 0;
	for (size_t k = 0; k < in->nfns; k++) {
		if (gone[k]) {
			free(in->fns[k].function);
			free(in->fns[k].file);
			free(in->fns[k].incl);
			free(in->fns[k].self);
			continue;
		}
		in->fns[w++] = in->fns[k];
	}
	in->nfns = w;
	free(gone);
	/* (the index and stamps are for loading, which is over) */
	free(in->index);
	in->index = NULL;
	in->index_cap = 0;
	rc = 0;
out:
	free(base_only);
	free(head_only);
	free(votes);
	return rc;
}
