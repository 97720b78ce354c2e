/* A stand-in for `pyprobe record` in record_slowdown_paired.py, to tell
 * what of pyprobe's cost to its target comes from where:
 *
 *   slowdown_probe record --pid PID -r RATE [anything else is ignored]
 *
 * At RATE ticks a second (absolute deadlines, like pyprobe's sampler), it
 * does, per tick, what PROBE_MODE says:
 *   spin   burn PROBE_US µs of CPU, reading nothing (pyprobe's CPU per
 *          sample without its reads: what sharing the machine costs);
 *   cold   one process_vm_readv of PROBE_RANGES ranges of 512 bytes spread
 *          over the target's read-only file mappings (code it never
 *          writes: the kernel's page walks and mm lock, without touching
 *          lines the target writes).
 * Reads only; never writes the target. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	int pid = 0;
	double rate = 1000;
	for (int i = 1; i + 1 < argc; i++) {
		if (!strcmp(argv[i], "--pid"))
			pid = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "-r"))
			rate = atof(argv[i + 1]);
	}
	const char *mode = getenv("PROBE_MODE") ? getenv("PROBE_MODE") : "spin";
	double spin_us = getenv("PROBE_US") ? atof(getenv("PROBE_US")) : 15;
	int nranges = getenv("PROBE_RANGES") ? atoi(getenv("PROBE_RANGES")) : 15;
	if (!pid || rate <= 0 || nranges < 1 || nranges > 256)
		return 2;
	static struct iovec remote[256], local[256];
	static char buf[256][512];
	if (!strcmp(mode, "cold")) {
		char path[64], line[512];
		snprintf(path, sizeof path, "/proc/%d/maps", pid);
		FILE *f = fopen(path, "r");
		if (!f)
			return 3;
		uint64_t lo[64], hi[64];
		int nm = 0;
		while (nm < 64 && fgets(line, sizeof line, f)) {
			unsigned long a, b;
			char perm[8];
			if (sscanf(line, "%lx-%lx %7s", &a, &b, perm) == 3 && perm[1] == '-' &&
			    strchr(line, '/'))
				lo[nm] = a, hi[nm] = b, nm++;
		}
		fclose(f);
		if (!nm)
			return 3;
		for (int i = 0; i < nranges; i++) {
			int m = i % nm;
			uint64_t span = hi[m] - lo[m];
			uint64_t at = lo[m] + ((uint64_t)i * 40961u * 4096u) % (span > 512 ? span - 512 : 1);
			remote[i] = (struct iovec){(void *)at, 512};
			local[i] = (struct iovec){buf[i], 512};
		}
	}
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	long period_ns = (long)(1e9 / rate);
	volatile uint64_t sink = 0;
	for (;;) {
		if (!strcmp(mode, "cold")) {
			if (process_vm_readv(pid, local, nranges, remote, nranges, 0) < 0)
				return 0; /* the target is gone */
		} else {
			double until = now_us() + spin_us;
			while (now_us() < until)
				sink++;
		}
		next.tv_nsec += period_ns;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
}
