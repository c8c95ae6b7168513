/*
 * rx: user-written regexes compile only while glibc's expansion of their
 * repetitions stays small (the fuzzer's 'x' + 33 '+' asked for 2^33 nodes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "rx.h"

static void copies_follow_the_repetitions(void **state)
{
	(void)state;
	assert_int_equal(rx_copies("abc"), 3);
	assert_int_equal(rx_copies("a|b"), 2);
	assert_int_equal(rx_copies("[a-z]"), 1);
	assert_int_equal(rx_copies("[]a]"), 1);
	assert_int_equal(rx_copies("[[:digit:]]"), 1);
	assert_int_equal(rx_copies("\\.x"), 2);
	/* 'a+' is 'aa*', 'a{3}' three copies, '(ab){1,4}' four of two */
	assert_int_equal(rx_copies("a+"), 3);
	assert_int_equal(rx_copies("a{3}"), 4);
	assert_int_equal(rx_copies("(ab){1,4}"), 13);
	/* an open group still counts what it holds */
	assert_int_equal(rx_copies("(ab"), 2);
	/* '{' that is no interval is a character */
	assert_int_equal(rx_copies("a{x"), 3);
}

static void stacked_repetitions_multiply_and_saturate(void **state)
{
	char pat[64];

	(void)state;
	memset(pat, '+', sizeof(pat));
	pat[0] = 'x';
	pat[sizeof(pat) - 1] = '\0';
	assert_true(rx_copies(pat) > RX_MAX_COPIES);
	assert_true(rx_copies("((a{10}){10}){11}") > RX_MAX_COPIES);
	assert_true(rx_copies(".{1,99999999999999999999}") > RX_MAX_COPIES);
	assert_true(rx_copies("(a|b){1,255}") < RX_MAX_COPIES);
}

static void the_compiler_sees_only_bounded_patterns(void **state)
{
	struct err e = ERR_INIT;
	regex_t re;
	char fuzz[] = "replica\\.intern}}}ord=hunt}}}}}}}}}}}}}}}}++++++++++++"
		      "+++++++++++++++++++++}}}}}}al:6432";

	(void)state;
	assert_int_equal(rx_compile(&re, fuzz, false, &e), -1);
	assert_non_null(strstr(e.msg, "too complex"));

	e = (struct err)ERR_INIT;
	assert_int_equal(rx_compile(&re, "(a)\\1", false, &e), -1);
	assert_non_null(strstr(e.msg, "back-references"));

	e = (struct err)ERR_INIT;
	assert_int_equal(rx_compile(&re, "a(", false, &e), -1);
	assert_true(e.msg[0] != '\0');

	assert_int_equal(rx_compile(&re, "[0-9]{1,3}(\\.[0-9]{1,3}){3}:5432",
				    false, NULL),
			 0);
	assert_int_equal(regexec(&re, "10.0.0.1:5432", 0, NULL, 0), 0);
	regfree(&re);
}

static void whole_matches_all_of_the_string_and_stays_whole(void **state)
{
	regex_t re;

	(void)state;
	assert_int_equal(rx_compile(&re, "db[0-9]+", true, NULL), 0);
	assert_int_equal(regexec(&re, "db12", 0, NULL, 0), 0);
	assert_int_not_equal(regexec(&re, "xdb12", 0, NULL, 0), 0);
	regfree(&re);
	/* wrapped as ^(...)$ this would be '^(a)|(.*)$': refused alone */
	assert_int_equal(rx_compile(&re, "a)|(.*", true, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(copies_follow_the_repetitions),
		cmocka_unit_test(stacked_repetitions_multiply_and_saturate),
		cmocka_unit_test(the_compiler_sees_only_bounded_patterns),
		cmocka_unit_test(
			whole_matches_all_of_the_string_and_stays_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
