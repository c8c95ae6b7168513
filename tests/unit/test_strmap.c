/* The string map: insert once, look up, byte keys, growth. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "strmap.h"

static int one = 1, two = 2;

static void empty_map_finds_nothing(void **state)
{
	struct strmap m = STRMAP_INIT;

	(void)state;
	assert_null(strmap_get(&m, "x"));
	assert_null(strmap_getn(&m, "", 0));
	strmap_release(&m);
}

static void put_then_get_returns_the_value(void **state)
{
	struct strmap m = STRMAP_INIT;

	(void)state;
	assert_true(strmap_put(&m, "pg_up", &one, NULL));
	assert_true(strmap_put(&m, "pg_info", &two, NULL));
	assert_ptr_equal(strmap_get(&m, "pg_up"), &one);
	assert_ptr_equal(strmap_get(&m, "pg_info"), &two);
	assert_null(strmap_get(&m, "pg_down"));
	assert_int_equal(m.n, 2);
	strmap_release(&m);
}

static void put_of_existing_key_keeps_first_and_reports_it(void **state)
{
	struct strmap m = STRMAP_INIT;
	void *old = NULL;

	(void)state;
	strmap_put(&m, "k", &one, NULL);
	assert_false(strmap_put(&m, "k", &two, &old));
	assert_ptr_equal(old, &one);
	assert_ptr_equal(strmap_get(&m, "k"), &one);
	assert_int_equal(m.n, 1);
	strmap_release(&m);
}

static void keys_are_copied(void **state)
{
	struct strmap m = STRMAP_INIT;
	char key[] = "abc";

	(void)state;
	strmap_put(&m, key, &one, NULL);
	key[0] = 'x';
	assert_ptr_equal(strmap_get(&m, "abc"), &one);
	assert_null(strmap_get(&m, "xbc"));
	strmap_release(&m);
}

static void keys_may_hold_nul_bytes(void **state)
{
	struct strmap m = STRMAP_INIT;

	(void)state;
	assert_true(strmap_putn(&m, "a\0b", 3, &one, NULL));
	assert_true(strmap_putn(&m, "a\0c", 3, &two, NULL));
	assert_true(strmap_putn(&m, "a", 1, &two, NULL));
	assert_ptr_equal(strmap_getn(&m, "a\0b", 3), &one);
	assert_ptr_equal(strmap_getn(&m, "a\0c", 3), &two);
	assert_int_equal(m.n, 3);
	strmap_release(&m);
}

static void many_keys_survive_growth(void **state)
{
	struct strmap m = STRMAP_INIT;
	char key[32];
	uintptr_t i;

	(void)state;
	for (i = 1; i <= 20000; i++) {
		snprintf(key, sizeof(key), "series_%lu", (unsigned long)i);
		assert_true(strmap_put(&m, key, (void *)i, NULL));
	}
	assert_int_equal(m.n, 20000);
	assert_true(m.nslots >= 2 * m.n);
	for (i = 1; i <= 20000; i++) {
		snprintf(key, sizeof(key), "series_%lu", (unsigned long)i);
		assert_int_equal((uintptr_t)strmap_get(&m, key), i);
	}
	strmap_release(&m);
	assert_int_equal(m.n, 0);
	assert_null(m.slots);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_map_finds_nothing),
		cmocka_unit_test(put_then_get_returns_the_value),
		cmocka_unit_test(
			put_of_existing_key_keeps_first_and_reports_it),
		cmocka_unit_test(keys_are_copied),
		cmocka_unit_test(keys_may_hold_nul_bytes),
		cmocka_unit_test(many_keys_survive_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
