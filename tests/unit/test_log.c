/*
 * Logging: the redaction filter, and whole lines as logfmt and JSON (read
 * back from fd 2 through a pipe).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"

/* fd 2 redirected into a pipe between capture_start and capture_end. */
struct capture {
	int saved, rd;
};

static void capture_start(struct capture *c)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	c->saved = dup(2);
	assert_true(c->saved >= 0);
	assert_int_equal(dup2(p[1], 2), 2);
	close(p[1]);
	c->rd = p[0];
}

/* Everything written to fd 2 since capture_start; free() it. */
static char *capture_end(struct capture *c)
{
	static char buf[8192];
	ssize_t n;
	size_t len = 0;

	dup2(c->saved, 2);
	close(c->saved);
	while ((n = read(c->rd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(c->rd);
	buf[len] = '\0';
	return strdup(buf);
}

/*
 * Check that 'line' starts with 'pre', a UTC timestamp with milliseconds
 * and 'post', and return what follows.
 */
static const char *skip_ts(const char *line, const char *pre, const char *post)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	size_t i;

	assert_memory_equal(line, pre, strlen(pre));
	line += strlen(pre);
	for (i = 0; i < sizeof(shape) - 1; i++) {
		if (shape[i] == 'd')
			assert_true(isdigit((unsigned char)line[i]));
		else
			assert_int_equal(line[i], shape[i]);
	}
	line += sizeof(shape) - 1;
	assert_memory_equal(line, post, strlen(post));
	return line + strlen(post);
}

static void assert_redacts(const char *in, const char *want)
{
	char out[256];

	log_redact(in, out, sizeof(out));
	assert_string_equal(out, want);
}

static void redact_masks_password_values(void **state)
{
	(void)state;
	assert_redacts("host=db password=secret user=mon",
		       "host=db password=*** user=mon");
	assert_redacts("password=secret", "password=***");
	assert_redacts("PASSWORD = secret port=5432",
		       "PASSWORD = *** port=5432");
	assert_redacts("sslpassword=keypw", "sslpassword=***");
	assert_redacts("DATA_SOURCE_PASS_FILE unset, PGPASSWORD=x1",
		       "DATA_SOURCE_PASS_FILE unset, PGPASSWORD=***");
}

static void redact_masks_quoted_password_whole(void **state)
{
	(void)state;
	assert_redacts("host=db password='se cret' user=mon",
		       "host=db password=*** user=mon");
	assert_redacts("password='it\\'s here' x=1", "password=*** x=1");
	assert_redacts("password=\"a b\"", "password=***");
	assert_redacts("password='unterminated and more", "password=***");
}

static void redact_masks_uri_userinfo_password(void **state)
{
	(void)state;
	assert_redacts("postgresql://mon:s3cret@db1:5432/postgres",
		       "postgresql://mon:***@db1:5432/postgres");
	assert_redacts("connect to 'postgres://u:p@h/db' failed",
		       "connect to 'postgres://u:***@h/db' failed");
	assert_redacts("postgresql://:pw@host", "postgresql://:***@host");
	assert_redacts("postgresql://u:p@ss@host/db",
		       "postgresql://u:***@host/db");
	assert_redacts("a://x:1@h b://y:2@h", "a://x:***@h b://y:***@h");
}

static void redact_leaves_text_without_secrets_alone(void **state)
{
	(void)state;
	assert_redacts("postgresql://mon@db1:5432/postgres",
		       "postgresql://mon@db1:5432/postgres");
	assert_redacts("postgresql://db1:5432/postgres?x=a@b",
		       "postgresql://db1:5432/postgres?x=a@b");
	assert_redacts("password authentication failed for user \"mon\"",
		       "password authentication failed for user \"mon\"");
	assert_redacts("password=", "password=");
	assert_redacts("host:5432 user@host", "host:5432 user@host");
	assert_redacts("", "");
}

static void redact_truncates_to_the_buffer(void **state)
{
	char out[8];

	(void)state;
	memset(out, 'z', sizeof(out));
	log_redact("password=secret", out, sizeof(out));
	assert_string_equal(out, "passwor");
	log_redact("x", out, 0);
	assert_int_equal(out[0], 'p');
}

static void logfmt_line_quotes_and_redacts_values(void **state)
{
	struct capture c;
	const char *rest;
	char *out;

	(void)state;
	log_setup(LOG_INFO, LOG_LOGFMT);
	capture_start(&c);
	log_kv(LOG_WARN, "collector failed", "target", "main", "collector",
	       "locks", "err",
	       "connect to 'postgresql://mon:s3cret@db1/postgres' failed",
	       "empty", "", "skipped", NULL, "quote", "say \"hi\" a=b\\c",
	       "password", "hunter2", NULL);
	out = capture_end(&c);
	rest = skip_ts(out, "ts=", " ");
	assert_string_equal(rest,
			    "level=warn msg=\"collector failed\" target=main "
			    "collector=locks err=\"connect to "
			    "'postgresql://mon:***@db1/postgres' failed\" "
			    "empty=\"\" quote=\"say \\\"hi\\\" a=b\\\\c\" "
			    "password=***\n");
	free(out);
}

static void logfmt_keeps_an_event_on_one_line(void **state)
{
	struct capture c;
	const char *rest;
	char *out;

	(void)state;
	log_setup(LOG_DEBUG, LOG_LOGFMT);
	capture_start(&c);
	log_debug("two\nlines", "tab", "a\tb", "ctl", "\x01", NULL);
	out = capture_end(&c);
	rest = skip_ts(out, "ts=", " ");
	assert_string_equal(rest, "level=debug msg=\"two\\nlines\" "
				  "tab=\"a\\tb\" ctl=\"\\u0001\"\n");
	free(out);
}

static void json_line_escapes_strings(void **state)
{
	struct capture c;
	const char *rest;
	char *out;

	(void)state;
	log_setup(LOG_INFO, LOG_JSON);
	capture_start(&c);
	log_error("bad \"q\"\n\\ end", "conninfo", "host=h password=pw",
		  "bytes", "caf\xe9 \xc3\xa9", "ctl", "\x1f", NULL);
	out = capture_end(&c);
	rest = skip_ts(out, "{\"ts\":\"", "\",");
	assert_string_equal(rest, "\"level\":\"error\","
				  "\"msg\":\"bad \\\"q\\\"\\n\\\\ end\","
				  "\"conninfo\":\"host=h password=***\","
				  "\"bytes\":\"caf\\ufffd \xc3\xa9\","
				  "\"ctl\":\"\\u001f\"}\n");
	free(out);
}

static void events_below_the_threshold_are_not_written(void **state)
{
	struct capture c;
	char *out;

	(void)state;
	log_setup(LOG_WARN, LOG_LOGFMT);
	assert_false(log_enabled(LOG_INFO));
	assert_true(log_enabled(LOG_ERROR));
	capture_start(&c);
	log_info("hidden", NULL);
	log_debug("hidden", NULL);
	out = capture_end(&c);
	assert_string_equal(out, "");
	free(out);
	log_setup(LOG_INFO, LOG_LOGFMT);
}

static void level_and_format_names_parse(void **state)
{
	enum log_level level = LOG_INFO;
	enum log_format format = LOG_LOGFMT;

	(void)state;
	assert_int_equal(log_parse_level("debug", &level), 0);
	assert_int_equal(level, LOG_DEBUG);
	assert_int_equal(log_parse_level("WARN", &level), 0);
	assert_int_equal(level, LOG_WARN);
	assert_int_equal(log_parse_level("verbose", &level), -1);
	assert_int_equal(level, LOG_WARN);
	assert_int_equal(log_parse_format("json", &format), 0);
	assert_int_equal(format, LOG_JSON);
	assert_int_equal(log_parse_format("text", &format), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(redact_masks_password_values),
		cmocka_unit_test(redact_masks_quoted_password_whole),
		cmocka_unit_test(redact_masks_uri_userinfo_password),
		cmocka_unit_test(redact_leaves_text_without_secrets_alone),
		cmocka_unit_test(redact_truncates_to_the_buffer),
		cmocka_unit_test(logfmt_line_quotes_and_redacts_values),
		cmocka_unit_test(logfmt_keeps_an_event_on_one_line),
		cmocka_unit_test(json_line_escapes_strings),
		cmocka_unit_test(events_below_the_threshold_are_not_written),
		cmocka_unit_test(level_and_format_names_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
