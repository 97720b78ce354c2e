/* The core reader on broken cores: a kernel core of a Python asleep in
 * time.sleep, cut short and bit-flipped many times over (deterministic:
 * a fixed seed), opened and sampled through reader.h's
 * pp_target_open_core each time. Every attempt must end in a result or a
 * clean error (PP_ERR_IO / PP_ERR_NOT_PYTHON with a message), never a
 * crash or a sanitizer report (the suite runs under ASan+UBSan). Most
 * flips land in the headers and notes, where the parser is; some in the
 * memory the reader follows, and some on the threads' stacks just above
 * their saved stack pointers, where the native unwinder (dump --core
 * --native: reader/native_target.h) reads - every opened core's threads
 * are unwound too. Bounded to about 25 s.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <elf.h>

#include "reader/native_target.h"
#include "reader/reader.h"
#include "support.h"

#define ROUNDS 1500
#define TIME_BUDGET_S 25.0

static pid_t g_child = -1;

static void kill_child(void)
{
	if (g_child > 0) {
		kill(-g_child, SIGKILL);
		waitpid(g_child, NULL, 0);
		g_child = -1;
	}
}

TestSuite(core_fuzz, .fini = kill_child, .timeout = 300);

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return g_rng;
}

/* A kernel core of a sleeping Python, at dir/core. */
static void make_core(const char *dir, char *core, size_t n)
{
	char pat[256];
	if (ts_read_file("/proc/sys/kernel/core_pattern", pat, sizeof pat) <= 0 ||
	    strncmp(pat, "core\n", 5) != 0)
		cr_skip_test("kernel.core_pattern is not 'core': no kernel cores to fuzz here");
	char py[PATH_MAX], ready[PATH_MAX + 16];
	ts_any_python(py, sizeof py);
	snprintf(ready, sizeof ready, "%s/ready", dir);
	snprintf(core, n, "%s/core", dir);
	unlink(ready);
	unlink(core);
	static char script[4 * PATH_MAX + 256];
	int w = snprintf(script, sizeof script,
		 "ulimit -c unlimited && cd '%s' && exec '%s' -c \"import threading, time\n"
		 "threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\n"
		 "open('%s', 'w').close()\ntime.sleep(600)\"", dir, py, ready);
	cr_assert(w > 0 && (size_t)w < sizeof script);
	char *sh[] = {"/bin/sh", "-c", script, NULL};
	g_child = ts_spawn(sh, NULL, NULL, 1);
	cr_assert(g_child > 0);
	double deadline = ts_now_s() + 30;
	while (access(ready, F_OK) != 0) {
		cr_assert(ts_now_s() < deadline, "python never started");
		ts_sleep_ms(20);
	}
	ts_sleep_ms(200);
	kill(g_child, SIGABRT);
	int status = ts_wait_bounded(g_child, 60);
	g_child = -1;
	cr_assert(status != -1 && WIFSIGNALED(status) && WCOREDUMP(status),
		  "no core (status 0x%x)", status);
}

struct unwound {
	struct pp_unwinder *unw;
	long frames, threads;
};

/* The paused hook: each thread the core has registers of, unwound. */
static void unwind_all(void *ctx, const int *tids, size_t ntids)
{
	struct unwound *u = ctx;
	static uint64_t pcs[PP_NATIVE_MAX_FRAMES];
	for (size_t i = 0; i < ntids; i++) {
		enum pp_unwind_end end;
		long n = pp_unwind_thread(u->unw, tids[i], pcs, PP_NATIVE_MAX_FRAMES, &end);
		cr_assert(n >= -1 && n <= PP_NATIVE_MAX_FRAMES);
		if (n > 0) {
			u->frames += n;
			u->threads++;
		}
	}
}

/* Open and sample, the native stacks too; the outcome must be a result or
 * a clean error. */
static enum pp_err attempt(const char *path, struct unwound *u)
{
	struct pp_target *t = NULL;
	struct pp_error err = {0};
	enum pp_err e = pp_target_open_core(path, NULL, NULL, &t, &err);
	if (e == PP_OK) {
		struct pp_symbolizer *sym = NULL;
		char msg[512];
		if (pp_target_native_open(t, &sym, &u->unw, msg, sizeof msg) == 0)
			pp_target_set_paused_hook(t, unwind_all, u);
		else
			cr_assert(msg[0] && !strchr(msg, '\n'), "native: no one-line message");
		struct pp_sample s = {0};
		e = pp_target_sample(t, PP_SAMPLE_OS_STATE | PP_SAMPLE_NAMES, &s, &err);
		pp_sample_free(&s);
		pp_unwinder_free(u->unw);
		u->unw = NULL;
		pp_symbolizer_free(sym);
		pp_target_detach(t);
	}
	cr_assert(e == PP_OK || e == PP_ERR_IO || e == PP_ERR_NOT_PYTHON,
		  "unexpected error class %d: %s", (int)e, err.msg);
	cr_assert(e == PP_OK || (err.msg[0] && !strchr(err.msg, '\n')),
		  "error %d without a one-line message", (int)e);
	return e;
}

/* File offsets of the bytes just above each thread's saved stack pointer
 * (NT_PRSTATUS's rsp), STACK_SPAN of them where the core holds them:
 * where an unwinder reads return addresses and saved registers. */
#define STACK_SPAN 2048
#define MAX_STACKS 64

static size_t stack_offsets(const uint8_t *core, size_t size, uint64_t *out)
{
	if (size < sizeof(Elf64_Ehdr))
		return 0;
	const Elf64_Ehdr *eh = (const void *)core;
	if (eh->e_phoff > size || eh->e_phnum > (size - eh->e_phoff) / sizeof(Elf64_Phdr))
		return 0;
	const Elf64_Phdr *ph = (const void *)(core + eh->e_phoff);
	size_t n = 0;
	for (size_t i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_NOTE || ph[i].p_offset > size ||
		    ph[i].p_filesz > size - ph[i].p_offset)
			continue;
		size_t off = ph[i].p_offset, end = off + ph[i].p_filesz;
		while (off + 12 <= end && n < MAX_STACKS) {
			Elf64_Nhdr nh;
			memcpy(&nh, core + off, sizeof nh);
			size_t name = off + 12, desc = name + ((nh.n_namesz + 3) & ~3u);
			size_t next = desc + ((nh.n_descsz + 3) & ~3u);
			if (next > end || next <= off)
				break;
			/* pr_reg at 112, rsp its 20th word */
			if (nh.n_type == NT_PRSTATUS && nh.n_descsz >= 112 + 27 * 8) {
				uint64_t rsp;
				memcpy(&rsp, core + desc + 112 + 19 * 8, 8);
				for (size_t j = 0; j < eh->e_phnum; j++)
					if (ph[j].p_type == PT_LOAD && rsp >= ph[j].p_vaddr &&
					    rsp - ph[j].p_vaddr + STACK_SPAN <= ph[j].p_filesz &&
					    ph[j].p_offset + ph[j].p_filesz <= size)
						out[n++] = ph[j].p_offset + (rsp - ph[j].p_vaddr);
			}
			off = next;
		}
	}
	return n;
}

Test(core_fuzz, truncated_and_bit_flipped)
{
	char dir[PATH_MAX], core[PATH_MAX + 16], work[PATH_MAX + 16];
	ts_scratch_path("core_fuzz", dir, sizeof dir, "run");
	ts_mkdir_p(dir);
	make_core(dir, core, sizeof core);

	static uint8_t *orig;
	struct stat st;
	cr_assert(stat(core, &st) == 0 && st.st_size > 4096);
	size_t size = (size_t)st.st_size;
	orig = malloc(size);
	cr_assert(orig);
	int fd = open(core, O_RDONLY);
	cr_assert(fd >= 0 && read(fd, orig, size) == (ssize_t)size);
	close(fd);
	unlink(core);
	snprintf(work, sizeof work, "%s/fuzz.core", dir);
	fd = open(work, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd >= 0 && write(fd, orig, size) == (ssize_t)size);

	struct unwound u = {0};
	cr_assert_eq(attempt(work, &u), PP_OK, "the unbroken core must read");
	cr_assert(u.threads >= 2 && u.frames >= 2 * 5,
		  "the unbroken core's native stacks: %ld frames in %ld threads", u.frames, u.threads);
	uint64_t stacks[MAX_STACKS];
	size_t nstacks = stack_offsets(orig, size, stacks);
	cr_assert(nstacks >= 2, "no thread stacks found in the core");

	/* the headers, program headers and notes: where the parser works */
	size_t head = size < 65536 ? size : 65536;
	unsigned counts[8] = {0};
	double start = ts_now_s();
	int rounds = 0;
	for (; rounds < ROUNDS && ts_now_s() - start < TIME_BUDGET_S; rounds++) {
		unsigned kind = (unsigned)(rnd() % 5);
		if (kind == 0) { /* cut short */
			size_t len = rnd() % 2 ? rnd() % head : rnd() % size;
			cr_assert(ftruncate(fd, (off_t)len) == 0);
			counts[attempt(work, &u)]++;
			cr_assert(pwrite(fd, orig + len, size - len, (off_t)len) == (ssize_t)(size - len));
			continue;
		}
		/* 1-8 flipped bits: in the head (kinds 1, 2), anywhere (3), on
		 * a thread's stack (4) */
		size_t off[8];
		int nflip = 1 + (int)(rnd() % 8);
		for (int k = 0; k < nflip; k++) {
			off[k] = kind == 3 ? rnd() % size
			       : kind == 4 ? stacks[rnd() % nstacks] + rnd() % STACK_SPAN
			       : rnd() % head;
			uint8_t b;
			cr_assert(pread(fd, &b, 1, (off_t)off[k]) == 1);
			b ^= (uint8_t)(1u << (rnd() % 8));
			cr_assert(pwrite(fd, &b, 1, (off_t)off[k]) == 1);
		}
		counts[attempt(work, &u)]++;
		for (int k = 0; k < nflip; k++)
			cr_assert(pwrite(fd, orig + off[k], 1, (off_t)off[k]) == 1);
	}
	close(fd);
	unlink(work);
	free(orig);
	cr_log_info("core_fuzz: %d rounds: %u read, %u I/O errors, %u not Python", rounds,
		    counts[PP_OK], counts[PP_ERR_IO], counts[PP_ERR_NOT_PYTHON]);
	fprintf(stderr, "core_fuzz: %d rounds in %.1f s: %u read, %u I/O errors, %u not Python; "
		"%ld native frames unwound in %ld threads\n", rounds, ts_now_s() - start,
		counts[PP_OK], counts[PP_ERR_IO], counts[PP_ERR_NOT_PYTHON], u.frames, u.threads);
	cr_assert(rounds >= 50, "only %d rounds in %.0f s", rounds, TIME_BUDGET_S);
}
