/*
 * The deadline plan: statement timeouts that leave room for the
 * collectors still to run, and the deal of slow collectors to two lanes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "plan.h"

static void a_collector_gets_its_own_timeout_when_there_is_time(void **state)
{
	bool limited = true;

	(void)state;
	assert_int_equal(plan_timeout_ms(2, 10, 3, &limited), 2000);
	assert_false(limited);
}

static void the_ones_after_it_keep_their_time_and_a_quarter(void **state)
{
	bool limited = false;

	(void)state;
	/* 10 left, 4 * 1.25 = 5 kept for the rest: 5 for this one */
	assert_int_equal(plan_timeout_ms(8, 10, 4, &limited), 5000);
	assert_true(limited);
}

static void a_tenth_of_what_is_left_is_always_kept(void **state)
{
	bool limited = false;

	(void)state;
	assert_int_equal(plan_timeout_ms(8, 10, 100, &limited), 1000);
	assert_true(limited);
}

static void no_timeout_of_its_own_means_the_deadline(void **state)
{
	bool limited = false;

	(void)state;
	assert_int_equal(plan_timeout_ms(0, 3, 0, &limited), 3000);
	assert_true(limited);
}

static void past_the_deadline_there_is_no_time(void **state)
{
	bool limited = false;

	(void)state;
	assert_int_equal(plan_timeout_ms(5, -1, 0, &limited), 0);
	assert_true(limited);
	/* under a millisecond left still gets one */
	assert_int_equal(plan_timeout_ms(0, 0.0004, 0, &limited), 1);
}

static void the_reserve_has_a_floor(void **state)
{
	(void)state;
	assert_true(plan_reserve(0) == PLAN_EST_FLOOR);
	assert_true(plan_reserve(2.5) == 2.5);
}

static void slow_collectors_are_dealt_longest_first(void **state)
{
	/* collectors 0..4, of which 1..4 are the cluster ones to deal */
	const double last[] = {9, 0.4, 1.0, 0.3, 0.5};
	const size_t all[] = {1, 2, 3, 4};
	size_t a[4], b[4], na = 9, nb = 9;

	(void)state;
	assert_true(plan_deal(last, all, 4, a, &na, b, &nb));
	/* 1.0 to a; 0.5, 0.4 and 0.3 to b, which stays behind a until 1.2 */
	assert_int_equal(na, 1);
	assert_int_equal(a[0], 2);
	assert_int_equal(nb, 3);
	assert_int_equal(b[0], 1);
	assert_int_equal(b[1], 3);
	assert_int_equal(b[2], 4);
}

static void fast_or_single_collectors_are_not_dealt(void **state)
{
	const double last[] = {0.001, 0.002, 5};
	const size_t fast[] = {0, 1}, one[] = {2};
	size_t a[2], b[2], na = 7, nb = 7;

	(void)state;
	assert_false(plan_deal(last, fast, 2, a, &na, b, &nb));
	assert_false(plan_deal(last, one, 1, a, &na, b, &nb));
	assert_int_equal(na, 7);
	assert_int_equal(nb, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			a_collector_gets_its_own_timeout_when_there_is_time),
		cmocka_unit_test(
			the_ones_after_it_keep_their_time_and_a_quarter),
		cmocka_unit_test(a_tenth_of_what_is_left_is_always_kept),
		cmocka_unit_test(no_timeout_of_its_own_means_the_deadline),
		cmocka_unit_test(past_the_deadline_there_is_no_time),
		cmocka_unit_test(the_reserve_has_a_floor),
		cmocka_unit_test(slow_collectors_are_dealt_longest_first),
		cmocka_unit_test(fast_or_single_collectors_are_not_dealt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
