/*
 * names: identifiers of collectors and parameters, and what a {{param}}
 * may be replaced by in SQL (metric and label names: test_metrics.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "names.h"

static void identifiers_are_c_like(void **state)
{
	(void)state;
	assert_true(ident_valid("pg_locks"));
	assert_true(ident_valid("_x9"));
	assert_false(ident_valid(""));
	assert_false(ident_valid("9x"));
	assert_false(ident_valid("a-b"));
	assert_false(ident_valid("a.b"));
	/* a prefix of a longer text, as in "collector.param" */
	assert_true(ident_valid_len("locks.limit", 5));
	assert_false(ident_valid_len("locks.limit", 6));
	assert_false(ident_valid_len("x", 0));
}

static void parameter_values_cannot_change_the_sql(void **state)
{
	(void)state;
	assert_true(param_value_valid("100"));
	assert_true(param_value_valid("0.5"));
	assert_true(param_value_valid("pg_catalog.pg_class"));
	assert_false(param_value_valid(""));
	assert_false(param_value_valid("1 OR 1=1"));
	assert_false(param_value_valid("'x'"));
	assert_false(param_value_valid("a;b"));
	assert_false(param_value_valid("-1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(identifiers_are_c_like),
		cmocka_unit_test(parameter_values_cannot_change_the_sql),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
