/* A target in its own PID namespace (a container) dumped from outside, as
 * an SRE on the host would: the interpreter records the container's thread
 * ids, /proc here speaks ours. Thread ids must come out in our namespace
 * (the ones `ps`/`top -H` on the host show), with their OS state known.
 * Both ways of finding ids: native_thread_id (3.11+) and glibc's struct
 * pthread (3.8-3.10). Then a target chrooted in a mount namespace of its
 * own, whose files only it can see. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

static pid_t g_unshare = -1;

static void teardown(void)
{
	if (g_unshare > 0) {
		kill(-g_unshare, SIGKILL);
		waitpid(g_unshare, NULL, 0);
	}
}

TestSuite(dump_namespaces, .fini = teardown, .timeout = 120);

static const char script[] =
	"import sys, threading, time\n"
	"threading.Thread(target=time.sleep, args=(1000,), name='worker').start()\n"
	"open(sys.argv[1], 'w').close()\n"
	"time.sleep(1000)\n";

static void check(const char *version)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to make a PID namespace");
	if (system("command -v unshare >/dev/null") != 0)
		cr_skip_test("unshare (util-linux) not installed");
	char python[PATH_MAX], minor[16];
	const char *root = getenv("PYENV_ROOT") ? getenv("PYENV_ROOT") : "/root/.pyenv";
	snprintf(minor, sizeof minor, "%s", version);
	*strrchr(minor, '.') = '\0';
	snprintf(python, sizeof python, "%s/versions/%s/bin/python%s", root, version, minor);
	if (access(python, X_OK) != 0)
		cr_skip_test("python %s not installed at %s", version, python);

	char ready[PATH_MAX];
	snprintf(ready, sizeof ready, "/tmp/pyprobe-ns-%d.ready", (int)getpid());
	unlink(ready);
	char *argv[] = {"unshare", "--pid", "--fork", "--mount-proc", python, "-c",
			(char *)script, ready, NULL};
	g_unshare = ts_spawn(argv, NULL, NULL, 1);
	cr_assert_gt(g_unshare, 0);
	for (int i = 0; i < 1000 && access(ready, F_OK) != 0; i++)
		ts_sleep_ms(10);
	cr_assert_eq(access(ready, F_OK), 0, "the namespaced python never started");
	unlink(ready);

	/* The python is unshare's child; its pid here is not 1. */
	char path[128], buf[256];
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)g_unshare, (int)g_unshare);
	cr_assert_gt(ts_read_file(path, buf, sizeof buf), 0);
	int pid = atoi(buf);
	cr_assert_gt(pid, 1);

	char out[PATH_MAX], err[PATH_MAX], pidarg[32], json[65536], errbuf[4096];
	snprintf(out, sizeof out, "/tmp/pyprobe-ns-%d.json", (int)getpid());
	snprintf(err, sizeof err, "/tmp/pyprobe-ns-%d.err", (int)getpid());
	snprintf(pidarg, sizeof pidarg, "%d", pid);
	char *dump[] = {(char *)ts_pyprobe(), "dump", "--pid", pidarg, "--json", NULL};
	int st = ts_wait_bounded(ts_spawn(dump, out, err, 0), 60);
	ts_read_file(out, json, sizeof json);
	ts_read_file(err, errbuf, sizeof errbuf);
	unlink(out);
	unlink(err);
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "dump failed:\n%s", errbuf);

	/* Every task id here must appear as a native_id, the main thread
	 * first, and no thread may have an unknown OS state. */
	snprintf(path, sizeof path, "/proc/%d/task", pid);
	int tids[8], n = 0;
	DIR *d = opendir(path); /* closed before any assertion can leave */
	for (struct dirent *e; d && (e = readdir(d)) != NULL && n < 8;)
		if (e->d_name[0] != '.')
			tids[n++] = atoi(e->d_name);
	if (d)
		closedir(d);
	cr_assert_eq(n, 2, "the target should have 2 threads, has %d", n);
	/* ... with the id the container gives it beside it: the last
	 * number of its NSpid line. */
	for (int i = 0; i < n; i++) {
		char want[96], status[4096];
		snprintf(path, sizeof path, "/proc/%d/task/%d/status", pid, tids[i]);
		cr_assert_gt(ts_read_file(path, status, sizeof status), 0);
		const char *nsl = strstr(status, "\nNSpid:");
		cr_assert_not_null(nsl);
		nsl += strlen("\nNSpid:");
		const char *eol = strchr(nsl, '\n'), *last = nsl;
		for (const char *c = nsl; c < eol; c++)
			if (*c == '\t' || *c == ' ')
				last = c + 1;
		int ns = atoi(last);
		cr_assert(ns > 0 && ns != tids[i], "NSpid of %d: %d", tids[i], ns);
		snprintf(want, sizeof want, "\"native_id\": %d,\n      \"ns_native_id\": %d,", tids[i],
			 ns);
		cr_assert_not_null(strstr(json, want), "thread %d (%d in its namespace) missing:\n%s",
				   tids[i], ns, json);
	}
	char main_first[128];
	snprintf(main_first, sizeof main_first,
		 "\"native_id\": %d,\n      \"ns_native_id\": 1,\n      \"name\": \"MainThread\"",
		 pid);
	cr_assert_not_null(strstr(json, main_first), "main thread not first / not named:\n%s", json);
	cr_assert_not_null(strstr(json, "\"name\": \"worker\""), "%s", json);
	cr_assert_null(strstr(json, "\"os_state\": \"unknown\""), "OS state lost:\n%s", json);
	cr_assert_not_null(strstr(json, "\"syscall\": \""), "no syscall known:\n%s", json);
}

Test(dump_namespaces, python_3_9_pthread_tids) { check("3.9.18"); }
Test(dump_namespaces, python_3_12_native_thread_id) { check("3.12.1"); }
Test(dump_namespaces, python_3_8_pthread_tids) { check("3.8.18"); }
Test(dump_namespaces, python_3_10_pthread_tids) { check("3.10.13"); }
Test(dump_namespaces, python_3_13_native_thread_id) { check("3.13.0"); }

/* ---- a chroot only the target's mount namespace can see ------------------

 * Debian's interpreters from the sid root, chrooted into a bind mount of it
 * made inside `unshare --mount`: we cannot see that mount, so the paths in
 * /proc/PID/maps are the target's (DIR/usr/bin/python3.X). On our side DIR
 * holds a decoy of the same name - another program - as a container host
 * often holds its own python at the container's paths. pyprobe must read
 * the target's files through the target (/proc/PID/exe, /proc/PID/root),
 * never the decoy: dump it paused and record it, and find the threads, the
 * frames and the version the target itself has. */

static const char ns_script[] =
	"import sys, threading, time\n"
	"def parked():\n"
	"    time.sleep(1000)\n"
	"def spin():\n"
	"    while True:\n"
	"        pass\n"
	"threading.Thread(target=parked, name='worker', daemon=True).start()\n"
	"open(sys.argv[1], 'w').write(sys.version.split()[0])\n"
	"spin()\n";

static char g_decoy[PATH_MAX];

static void remove_decoy(void)
{
	if (g_decoy[0]) {
		char cmd[PATH_MAX + 32];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_decoy);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", g_decoy);
		g_decoy[0] = '\0';
	}
}

static void teardown_mntns(void)
{
	teardown();
	remove_decoy();
}

TestSuite(dump_mount_namespace, .fini = teardown_mntns, .timeout = 180);

static void check_private_chroot(const char *minor)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to make a mount namespace and chroot");
	if (system("command -v unshare >/dev/null") != 0)
		cr_skip_test("unshare (util-linux) not installed");
	const char *root = ts_sid_root();
	char python[PATH_MAX];
	snprintf(python, sizeof python, "%s/usr/bin/python%s", root, minor);
	if (access(python, X_OK) != 0)
		cr_skip_test("Debian python%s not in the sid root %s (tools/install-deps)",
			     minor, root);

	/* The decoy: DIR/usr/bin/python3.X is /bin/sleep on our side. */
	snprintf(g_decoy, sizeof g_decoy, "/tmp/pyprobe-mntns-%d", (int)getpid());
	char bin[PATH_MAX + 16], decoy[PATH_MAX + 32], cmd[3 * PATH_MAX];
	snprintf(bin, sizeof bin, "%s/usr/bin", g_decoy);
	ts_mkdir_p(bin);
	snprintf(decoy, sizeof decoy, "%s/python%s", bin, minor);
	snprintf(cmd, sizeof cmd, "cp /bin/sleep '%s'", decoy);
	cr_assert_eq(system(cmd), 0);

	/* Written by the target at /tmp/NAME inside the root, which is
	 * ROOT/tmp/NAME here (the bind mount shows the same files). */
	char ready_in[128], ready[PATH_MAX + 128];
	snprintf(ready_in, sizeof ready_in, "/tmp/pyprobe-mntns-%d.ready", (int)getpid());
	snprintf(ready, sizeof ready, "%s%s", root, ready_in);
	unlink(ready);
	char inner[5 * PATH_MAX];
	snprintf(inner, sizeof inner,
		 "mount --bind '%s' '%s' && mount -t proc proc '%s/proc' && "
		 "exec chroot '%s' python%s -c \"$0\" '%s'",
		 root, g_decoy, g_decoy, g_decoy, minor, ready_in);
	/* unshare and sh exec in place: the python ends up with this pid. */
	char *argv[] = {"unshare", "--mount", "--propagation", "private", "sh", "-c",
			inner, (char *)ns_script, NULL};
	g_unshare = ts_spawn(argv, NULL, NULL, 1);
	cr_assert_gt(g_unshare, 0);
	/* Until it holds the version: the target creates the file, then
	 * writes it (seen empty in between once, under load). */
	char version[64] = "";
	for (int i = 0; i < 1000 && ts_read_file(ready, version, sizeof version) <= 0; i++)
		ts_sleep_ms(10);
	unlink(ready);
	cr_assert(version[0], "the chrooted python%s never started", minor);
	int pid = (int)g_unshare;

	/* The maps name the target's file, which is the decoy here. */
	char path[64], maps[1 << 16];
	snprintf(path, sizeof path, "/proc/%d/maps", pid);
	ts_read_file(path, maps, sizeof maps);
	cr_assert_not_null(strstr(maps, decoy), "the maps do not name %s:\n%.2000s", decoy, maps);

	char out[PATH_MAX], err[PATH_MAX], pidarg[32], json[1 << 16], errbuf[4096];
	snprintf(out, sizeof out, "/tmp/pyprobe-mntns-%d.json", (int)getpid());
	snprintf(err, sizeof err, "/tmp/pyprobe-mntns-%d.err", (int)getpid());
	snprintf(pidarg, sizeof pidarg, "%d", pid);
	char *dump[] = {(char *)ts_pyprobe(), "dump", "--pid", pidarg, "--json", NULL};
	int st = ts_wait_bounded(ts_spawn(dump, out, err, 0), 60);
	ts_read_file(out, json, sizeof json);
	ts_read_file(err, errbuf, sizeof errbuf);
	unlink(out);
	unlink(err);
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "dump of the chrooted python%s failed:\n%s", minor, errbuf);
	char want[128];
	snprintf(want, sizeof want, "\"version\": \"%s\"", version);
	cr_assert_not_null(strstr(json, want), "not %s:\n%.3000s", want, json);
	cr_assert_not_null(strstr(json, "\"name\": \"worker\""), "%.3000s", json);
	cr_assert_not_null(strstr(json, "\"function\": \"parked\""), "%.3000s", json);
	cr_assert_not_null(strstr(json, "\"function\": \"spin\""), "%.3000s", json);

	/* And a short recording: the spinning main thread's samples. */
	snprintf(out, sizeof out, "/tmp/pyprobe-mntns-%d.txt", (int)getpid());
	char *record[] = {(char *)ts_pyprobe(), "record", "--pid", pidarg, "-d", "1",
			  "--no-progress", "-f", "collapsed", "-o", out, NULL};
	st = ts_wait_bounded(ts_spawn(record, NULL, err, 0), 60);
	char profile[1 << 16];
	ts_read_file(out, profile, sizeof profile);
	ts_read_file(err, errbuf, sizeof errbuf);
	unlink(out);
	unlink(err);
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "record of the chrooted python%s failed:\n%s", minor, errbuf);
	cr_assert_not_null(strstr(profile, "<module> (<string>:9);spin (<string>:"),
			   "no samples of spin:\n%.2000s", profile);
}

Test(dump_mount_namespace, sid_python_3_13) { check_private_chroot("3.13"); }
Test(dump_mount_namespace, sid_python_3_14) { check_private_chroot("3.14"); }
Test(dump_mount_namespace, sid_python_3_15) { check_private_chroot("3.15"); }
