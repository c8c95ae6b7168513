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

static bool odd_only(const char *key, void *value, void *arg)
{
	(void)key;
	(*(int *)arg)++;
	return (uintptr_t)value % 2;
}

static int freed;

static void count_free(void *p)
{
	(void)p;
	freed++;
}

static void filter_drops_what_it_must_and_finds_the_rest(void **state)
{
	struct strmap m = STRMAP_INIT;
	char key[32];
	uintptr_t i;
	int asked = 0;

	(void)state;
	/* enough keys for long probe chains through the holes left behind */
	for (i = 1; i <= 5000; i++) {
		snprintf(key, sizeof(key), "k%lu", (unsigned long)i);
		assert_true(strmap_put(&m, key, (void *)i, NULL));
	}
	freed = 0;
	assert_int_equal(strmap_filter(&m, odd_only, &asked, count_free), 2500);
	assert_int_equal(asked, 5000);
	assert_int_equal(freed, 2500);
	assert_int_equal(m.n, 2500);
	for (i = 1; i <= 5000; i++) {
		snprintf(key, sizeof(key), "k%lu", (unsigned long)i);
		if (i % 2)
			assert_int_equal((uintptr_t)strmap_get(&m, key), i);
		else
			assert_null(strmap_get(&m, key));
	}
	/* dropped keys can come back */
	assert_true(strmap_put(&m, "k2", (void *)3, NULL));
	assert_int_equal((uintptr_t)strmap_get(&m, "k2"), 3);
	/* dropping everything leaves an empty map, not an empty table */
	strmap_release(&m);
	assert_true(strmap_put(&m, "k2", (void *)2, NULL));
	assert_int_equal(strmap_filter(&m, odd_only, &asked, NULL), 1);
	assert_int_equal(m.n, 0);
	assert_null(m.slots);
	assert_null(strmap_get(&m, "k2"));
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
		cmocka_unit_test(filter_drops_what_it_must_and_finds_the_rest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
