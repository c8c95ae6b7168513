/* struct err: the first cause wins, its origin is kept, context goes first. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "err.h"

static int open_queries(struct err *e)
{
	return err_set(e, "cannot open '%s'", "queries/x.yaml");
}

static void set_returns_minus_one_and_records_origin(void **state)
{
	struct err e = ERR_INIT;
	int rc, line;

	(void)state;
	line = __LINE__ + 1;
	rc = err_set(&e, "bad value %d", 7);
	assert_int_equal(rc, -1);
	assert_true(err_isset(&e));
	assert_string_equal(e.msg, "bad value 7");
	assert_string_equal(e.file, __FILE__);
	assert_int_equal(e.line, line);
}

static void first_cause_wins(void **state)
{
	struct err e = ERR_INIT;
	int line;

	(void)state;
	line = __LINE__ + 1;
	err_set(&e, "connection refused");
	assert_int_equal(err_set(&e, "query failed"), -1);
	assert_string_equal(e.msg, "connection refused");
	assert_int_equal(e.line, line);
}

static void wrap_puts_context_in_front_and_keeps_origin(void **state)
{
	struct err e = ERR_INIT;

	(void)state;
	open_queries(&e);
	assert_int_equal(err_wrap(&e, "loading %s", "queries"), -1);
	err_wrap(&e, "target '%s'", "main");
	assert_string_equal(e.msg,
			    "target 'main': loading queries: cannot open "
			    "'queries/x.yaml'");
	assert_string_equal(e.file, __FILE__);
}

static void wrap_without_error_sets_context_only(void **state)
{
	struct err e = ERR_INIT;

	(void)state;
	err_wrap(&e, "target '%s'", "main");
	assert_string_equal(e.msg, "target 'main'");
	assert_null(e.file);
}

static void wrap_truncates_long_messages(void **state)
{
	struct err e = ERR_INIT;
	char ctx[600];

	(void)state;
	memset(ctx, 'c', sizeof(ctx) - 1);
	ctx[sizeof(ctx) - 1] = '\0';
	err_set(&e, "cause");
	err_wrap(&e, "%s", ctx);
	assert_int_equal(strlen(e.msg), sizeof(e.msg) - 1);
	assert_int_equal(e.msg[0], 'c');
}

static void null_err_is_accepted_and_dropped(void **state)
{
	(void)state;
	assert_int_equal(err_set(NULL, "x"), -1);
	assert_int_equal(err_wrap(NULL, "y"), -1);
	assert_false(err_isset(NULL));
	err_clear(NULL);
}

static void empty_message_still_counts_as_error(void **state)
{
	struct err e = ERR_INIT;

	(void)state;
	err_set(&e, "%s", "");
	assert_true(err_isset(&e));
	assert_string_equal(e.msg, "unknown error");
}

static void clear_allows_a_new_cause(void **state)
{
	struct err e = ERR_INIT;

	(void)state;
	err_set(&e, "old");
	err_clear(&e);
	assert_false(err_isset(&e));
	assert_null(e.file);
	err_set(&e, "new");
	assert_string_equal(e.msg, "new");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(set_returns_minus_one_and_records_origin),
		cmocka_unit_test(first_cause_wins),
		cmocka_unit_test(wrap_puts_context_in_front_and_keeps_origin),
		cmocka_unit_test(wrap_without_error_sets_context_only),
		cmocka_unit_test(wrap_truncates_long_messages),
		cmocka_unit_test(null_err_is_accepted_and_dropped),
		cmocka_unit_test(empty_message_still_counts_as_error),
		cmocka_unit_test(clear_allows_a_new_cause),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
