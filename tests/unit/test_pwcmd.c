/* password_command: output is the password, failures are errors that never
 * show it, a program past its time is killed with its children. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "pwcmd.h"

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static char *run(const char *script, double timeout, struct err *e)
{
	char *const argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)script,
			      NULL};

	return pwcmd_run(argv, timeout, "t", e);
}

static void stdout_trimmed_is_the_password(void **state)
{
	struct err e = ERR_INIT;
	char *pw;

	(void)state;
	pw = run("printf 's3cret with spaces\\n\\n'", 10, &e);
	assert_non_null(pw);
	assert_string_equal(pw, "s3cret with spaces");
	free(pw);
}

static void argv_is_not_a_shell_line(void **state)
{
	char *const argv[] = {(char *)"/bin/echo", (char *)"a;b", (char *)"$X",
			      NULL};
	struct err e = ERR_INIT;
	char *pw;

	(void)state;
	pw = pwcmd_run(argv, 10, "t", &e);
	assert_non_null(pw);
	assert_string_equal(pw, "a;b $X");
	free(pw);
}

static void failures_say_why_without_the_output(void **state)
{
	static const struct {
		const char *script, *want;
	} cases[] = {
		{"echo hunter2; exit 3", "failed with exit status 3"},
		{"echo hunter2; kill -9 $$", "was killed by signal 9"},
		{"true", "printed nothing"},
		{"printf 'a\\0b'", "printed a NUL byte"},
		{"head -c 9000 /dev/zero | tr '\\0' x",
		 "printed more than 8192"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct err e = ERR_INIT;

		assert_null(run(cases[i].script, 10, &e));
		assert_non_null(strstr(e.msg, cases[i].want));
		assert_null(strstr(e.msg, "hunter2"));
	}
}

static void a_missing_program_cannot_start(void **state)
{
	char *const argv[] = {(char *)"/nonexistent/pg-token", NULL};
	struct err e = ERR_INIT;

	(void)state;
	assert_null(pwcmd_run(argv, 10, "t", &e));
	assert_non_null(strstr(e.msg, "'/nonexistent/pg-token' cannot start"));
}

static void a_hanging_program_is_killed_with_its_children(void **state)
{
	struct err e = ERR_INIT;
	double t0 = mono();
	unsigned fds = open_fds();

	(void)state;
	/* the grandchild holds the pipes: only killing the group ends it */
	assert_null(run("sleep 31.377 & sleep 31.377", 0.5, &e));
	assert_non_null(strstr(e.msg, "timed out after 0.5 s"));
	assert_true(mono() - t0 < 20);
	assert_int_equal(open_fds(), fds);
	/* the grandchild got SIGKILL too (the pattern does not match itself) */
	for (int i = 0; i < 50; i++) {
		if (system("pgrep -f 'sleep 31[.]377' >/dev/null") != 0)
			break;
		usleep(100 * 1000);
	}
	assert_int_not_equal(system("pgrep -f 'sleep 31[.]377' >/dev/null"), 0);
}

static void no_descriptor_of_ours_reaches_the_program(void **state)
{
	struct err e = ERR_INIT;
	int p[2];
	char *pw;

	(void)state;
	assert_int_equal(pipe(p), 0); /* not close-on-exec */
	pw = run("ls /proc/self/fd | wc -l", 10, &e);
	assert_non_null(pw);
	/* 0, 1, 2 and ls's own directory descriptor */
	assert_true(strtol(pw, NULL, 10) <= 4);
	free(pw);
	close(p[0]);
	close(p[1]);
}

static void redaction_masks_tokens_and_keeps_the_words(void **state)
{
	char out[256];

	(void)state;
	pwcmd_redact("vault: denied for hvs.CAESIJ7xQ2mZr8uVtP4kWn now\nline 2",
		     out, sizeof(out));
	assert_string_equal(out, "vault: denied for *** now");
	pwcmd_redact("bad\tchar password=short", out, sizeof(out));
	assert_null(strstr(out, "short"));
	assert_non_null(strstr(out, "bad?char"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stdout_trimmed_is_the_password),
		cmocka_unit_test(argv_is_not_a_shell_line),
		cmocka_unit_test(failures_say_why_without_the_output),
		cmocka_unit_test(a_missing_program_cannot_start),
		cmocka_unit_test(a_hanging_program_is_killed_with_its_children),
		cmocka_unit_test(no_descriptor_of_ours_reaches_the_program),
		cmocka_unit_test(redaction_masks_tokens_and_keeps_the_words),
	};

	signal(SIGPIPE, SIG_IGN); /* as the daemon: the child gets it back */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
