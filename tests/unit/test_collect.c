/*
 * Column values into numbers: every PostgreSQL type the engine converts,
 * as the server prints it under the session settings pgpulse sets
 * (DateStyle ISO, TimeZone UTC, IntervalStyle iso_8601).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include "collect.h"
#include "pgvalue.h"

enum {
	BOOL = 16,
	INT8 = 20,
	INT4 = 23,
	TEXT = 25,
	FLOAT8 = 701,
	NUMERIC = 1700,
	TIMESTAMP = 1114,
	TIMESTAMPTZ = 1184,
	INTERVAL = 1186,
	LSN = 3220,
};

static double value(const char *text, Oid type)
{
	double v = -12345;

	assert_int_equal(pgvalue_parse(text, type, &v), 0);
	return v;
}

static void rejects(const char *text, Oid type)
{
	double v;

	assert_int_equal(pgvalue_parse(text, type, &v), -1);
}

static void numbers_of_every_width(void **state)
{
	(void)state;
	assert_true(value("42", INT4) == 42);
	assert_true(value("-9223372036854775808", INT8) ==
		    -9223372036854775808.0);
	assert_true(value("0.1", FLOAT8) == 0.1);
	assert_true(value("12345.678", NUMERIC) == 12345.678);
	assert_true(isnan(value("NaN", NUMERIC)));
	assert_true(value("Infinity", FLOAT8) == INFINITY);
	assert_true(value("-Infinity", FLOAT8) == -INFINITY);
	assert_true(value("1e-300", FLOAT8) == 1e-300);
}

static void booleans_are_one_and_zero(void **state)
{
	(void)state;
	assert_true(value("t", BOOL) == 1);
	assert_true(value("f", BOOL) == 0);
	rejects("yes", BOOL);
}

static void text_must_hold_a_number(void **state)
{
	(void)state;
	assert_true(value("17", TEXT) == 17);
	assert_true(value("t", TEXT) == 1);
	rejects("abc", TEXT);
	rejects("12abc", TEXT);
	rejects("", TEXT);
}

static void timestamps_are_unix_seconds(void **state)
{
	(void)state;
	assert_true(value("1970-01-01 00:00:00+00", TIMESTAMPTZ) == 0);
	assert_true(value("2024-02-29 12:34:56.5+00", TIMESTAMPTZ) ==
		    1709210096.5);
	/* an offset the server prints for a non-UTC zone */
	assert_true(value("2024-02-29 14:34:56.5+02", TIMESTAMPTZ) ==
		    1709210096.5);
	assert_true(value("2024-02-29 07:04:56.5-05:30", TIMESTAMPTZ) ==
		    1709210096.5);
	assert_true(value("2024-02-29 12:34:56", TIMESTAMP) == 1709210096);
	assert_true(value("1900-03-01 00:00:00+00", TIMESTAMPTZ) ==
		    -2203891200.0);
	assert_true(value("infinity", TIMESTAMPTZ) == INFINITY);
	assert_true(value("-infinity", TIMESTAMPTZ) == -INFINITY);
	rejects("yesterday", TIMESTAMPTZ);
	rejects("2024-02-29 12:34:56 UTC", TIMESTAMPTZ);
}

static void intervals_are_seconds_as_extract_epoch_counts_them(void **state)
{
	(void)state;
	assert_true(value("PT0S", INTERVAL) == 0);
	assert_true(value("P1DT2H3.5S", INTERVAL) == 93603.5);
	assert_true(value("PT1M", INTERVAL) == 60);
	assert_true(value("P1M", INTERVAL) == 30 * 86400);
	assert_true(value("P1Y", INTERVAL) == 365.25 * 86400);
	assert_true(value("P-1M", INTERVAL) == -30 * 86400);
	assert_true(value("PT-1.25S", INTERVAL) == -1.25);
	assert_true(value("P1W", INTERVAL) == 7 * 86400);
	rejects("1 day", INTERVAL);
	rejects("P1X", INTERVAL);
}

static void lsns_are_byte_positions(void **state)
{
	(void)state;
	assert_true(value("0/0", LSN) == 0);
	assert_true(value("16/B374D848", LSN) ==
		    0x16 * 4294967296.0 + 0xB374D848);
	rejects("16-B374D848", LSN);
	rejects("0/zz", LSN);
	rejects("0/1 ", LSN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(numbers_of_every_width),
		cmocka_unit_test(booleans_are_one_and_zero),
		cmocka_unit_test(text_must_hold_a_number),
		cmocka_unit_test(timestamps_are_unix_seconds),
		cmocka_unit_test(
			intervals_are_seconds_as_extract_epoch_counts_them),
		cmocka_unit_test(lsns_are_byte_positions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
