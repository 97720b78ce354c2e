/* Time process_vm_readv of given ranges of a live process: the kernel's
 * share of one pyprobe sample, and of the parts of it.
 *
 *   readv_floor PID ROUNDS NAME=ADDR:LEN[,ADDR:LEN...] [NAME=... ...]
 *
 * Each NAME is one vectored read of its ranges, in the order given (the
 * order pyprobe reads them in). The reads are timed in turn, ROUNDS rounds
 * of 2000 calls each, interleaved so that a busy neighbour hits all of
 * them alike; prints "NAME median_us" per read, medians over all calls.
 * Built and driven by readv_floor.py; reads only, never writes. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#define MAX_READS 16
#define MAX_RANGES 256
#define CALLS 2000

struct read_set {
	const char *name;
	struct iovec remote[MAX_RANGES], local[MAX_RANGES];
	int n;
	double *t;
	size_t nt;
};

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* NAME=ADDR:LEN,... into r; local buffers from one arena. */
static int parse(char *arg, struct read_set *r, char **arena, size_t *left)
{
	char *eq = strchr(arg, '=');
	if (!eq)
		return -1;
	*eq = '\0';
	r->name = arg;
	for (char *tok = strtok(eq + 1, ","); tok; tok = strtok(NULL, ",")) {
		unsigned long long addr, len;
		if (r->n == MAX_RANGES || sscanf(tok, "%llx:%llu", &addr, &len) != 2 || !len ||
		    len > *left)
			return -1;
		r->remote[r->n] = (struct iovec){(void *)(uintptr_t)addr, (size_t)len};
		r->local[r->n] = (struct iovec){*arena, (size_t)len};
		*arena += len;
		*left -= len;
		r->n++;
	}
	return r->n ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: readv_floor PID ROUNDS NAME=ADDR:LEN[,...] ...\n");
		return 2;
	}
	int pid = atoi(argv[1]), rounds = atoi(argv[2]);
	static struct read_set sets[MAX_READS];
	static char buf[4 << 20];
	char *arena = buf;
	size_t left = sizeof buf;
	int nsets = 0;
	if (rounds < 1 || argc - 3 > MAX_READS) {
		fprintf(stderr, "readv_floor: 1..%d reads, ROUNDS >= 1\n", MAX_READS);
		return 2;
	}
	for (int i = 3; i < argc; i++) {
		struct read_set *r = &sets[nsets++];
		if (parse(argv[i], r, &arena, &left) != 0) {
			fprintf(stderr, "readv_floor: bad read '%s'\n", argv[i]);
			return 2;
		}
		r->t = malloc(sizeof(double) * CALLS * (size_t)rounds);
		if (!r->t)
			return 1;
	}
	for (int round = 0; round < rounds; round++)
		for (int s = 0; s < nsets; s++) {
			struct read_set *r = &sets[s];
			for (int k = 0; k < CALLS; k++) {
				double a = now_us();
				ssize_t got = process_vm_readv(pid, r->local, (unsigned long)r->n,
							       r->remote, (unsigned long)r->n, 0);
				double b = now_us();
				if (got < 0) {
					fprintf(stderr, "readv_floor: %s: %s\n", r->name,
						strerror(errno));
					return 1;
				}
				r->t[r->nt++] = b - a;
			}
		}
	for (int s = 0; s < nsets; s++) {
		struct read_set *r = &sets[s];
		qsort(r->t, r->nt, sizeof(double), cmp_double);
		printf("%s %.2f\n", r->name, r->t[r->nt / 2]);
		free(r->t);
	}
	return 0;
}
