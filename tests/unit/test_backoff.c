/* The settable clock, and the reconnect backoff driven by it: the waits
 * that integration tests used to sleep through, checked on a frozen clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "backoff.h"
#include "clock.h"

static void test_a_frozen_clock_stands_still_and_moves_when_advanced(void **st)
{
	(void)st;
	clock_freeze(1000, 1.7e9);
	assert_true(clock_mono() == 1000);
	assert_true(clock_real() == 1.7e9);
	assert_true(clock_mono() == 1000);
	clock_advance(2.5);
	assert_true(clock_mono() == 1002.5);
	assert_true(clock_real() == 1.7e9 + 2.5);
	clock_thaw();
}

static void test_a_thawed_clock_is_the_systems_again(void **st)
{
	double a, b;

	(void)st;
	clock_freeze(5, 5);
	clock_thaw();
	clock_advance(100); /* no effect on a running clock */
	a = clock_mono();
	b = clock_mono();
	assert_true(a != 5 && b >= a);
	/* the wall clock is past 2020-01-01, not the frozen 5 */
	assert_true(clock_real() > 1577836800.0);
}

static void test_backoff_doubles_from_one_second_to_the_cap(void **st)
{
	static const double want[] = {1, 2, 4, 8, BACKOFF_MAX, BACKOFF_MAX};
	struct backoff b = {0};
	size_t i;

	(void)st;
	clock_freeze(100, 0);
	assert_true(backoff_left(&b, clock_mono()) == 0);
	for (i = 0; i < sizeof(want) / sizeof(*want); i++) {
		backoff_fail(&b, clock_mono());
		assert_true(b.delay == want[i]);
		assert_true(backoff_left(&b, clock_mono()) == want[i]);
		/* one failure per scrape, however far apart they are */
		clock_advance(want[i] + 0.5);
	}
	clock_thaw();
}

static void test_backoff_counts_down_and_then_lets_an_attempt_go(void **st)
{
	struct backoff b = {0};

	(void)st;
	clock_freeze(50, 0);
	backoff_fail(&b, clock_mono());
	backoff_fail(&b, clock_mono()); /* 2 s from now */
	clock_advance(0.5);
	assert_true(backoff_left(&b, clock_mono()) == 1.5);
	clock_advance(1.5);
	assert_true(backoff_left(&b, clock_mono()) == 0);
	clock_advance(100);
	assert_true(backoff_left(&b, clock_mono()) == 0);
	/* the delay is remembered: the next failure waits longer still */
	backoff_fail(&b, clock_mono());
	assert_true(backoff_left(&b, clock_mono()) == 4);
	clock_thaw();
}

static void test_a_successful_connect_ends_the_backoff(void **st)
{
	struct backoff b = {0};

	(void)st;
	clock_freeze(10, 0);
	backoff_fail(&b, clock_mono());
	backoff_fail(&b, clock_mono());
	backoff_fail(&b, clock_mono());
	assert_true(backoff_left(&b, clock_mono()) == 4);
	backoff_reset(&b);
	assert_true(backoff_left(&b, clock_mono()) == 0);
	/* and the next outage starts again from one second */
	backoff_fail(&b, clock_mono());
	assert_true(backoff_left(&b, clock_mono()) == 1);
	clock_thaw();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_a_frozen_clock_stands_still_and_moves_when_advanced),
		cmocka_unit_test(test_a_thawed_clock_is_the_systems_again),
		cmocka_unit_test(
			test_backoff_doubles_from_one_second_to_the_cap),
		cmocka_unit_test(
			test_backoff_counts_down_and_then_lets_an_attempt_go),
		cmocka_unit_test(test_a_successful_connect_ends_the_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
