/* The string builder: appends, the size cap and its sticky failure. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "sb.h"

static void empty_builder_reads_as_empty_string(void **state)
{
	struct sb sb = SB_INIT(0);

	(void)state;
	assert_null(sb.buf);
	assert_string_equal(sb_str(&sb), "");
	assert_int_equal(sb.len, 0);
	sb_release(&sb);
}

static void appends_concatenate(void **state)
{
	struct sb sb = SB_INIT(0);

	(void)state;
	sb_add(&sb, "ab", 2);
	sb_adds(&sb, "cd");
	sb_addc(&sb, 'e');
	sb_addf(&sb, "-%d-%s", 42, "x");
	assert_string_equal(sb_str(&sb), "abcde-42-x");
	assert_int_equal(sb.len, 10);
	assert_false(sb.failed);
	sb_release(&sb);
}

static void addf_grows_for_long_output(void **state)
{
	struct sb sb = SB_INIT(0);
	char big[5000];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sb_adds(&sb, "<");
	sb_addf(&sb, "%s>", big);
	assert_int_equal(sb.len, sizeof(big) + 1);
	assert_int_equal(sb_str(&sb)[0], '<');
	assert_int_equal(sb_str(&sb)[sb.len - 1], '>');
	assert_int_equal(strlen(sb_str(&sb)), sb.len);
	sb_release(&sb);
}

static void append_up_to_max_succeeds(void **state)
{
	struct sb sb = SB_INIT(5);

	(void)state;
	sb_adds(&sb, "abc");
	sb_adds(&sb, "de");
	assert_false(sb.failed);
	assert_string_equal(sb_str(&sb), "abcde");
	sb_release(&sb);
}

static void append_past_max_fails_and_adds_nothing(void **state)
{
	struct sb sb = SB_INIT(5);

	(void)state;
	sb_adds(&sb, "abc");
	sb_adds(&sb, "def");
	assert_true(sb.failed);
	assert_string_equal(sb_str(&sb), "abc");
	sb_release(&sb);
}

static void failure_is_sticky_until_reset(void **state)
{
	struct sb sb = SB_INIT(4);

	(void)state;
	sb_addf(&sb, "%s", "too long");
	assert_true(sb.failed);
	sb_addc(&sb, 'a');
	sb_adds(&sb, "b");
	assert_string_equal(sb_str(&sb), "");
	sb_reset(&sb);
	assert_false(sb.failed);
	sb_adds(&sb, "ok");
	assert_string_equal(sb_str(&sb), "ok");
	sb_release(&sb);
}

static void addf_past_max_keeps_earlier_text(void **state)
{
	struct sb sb = SB_INIT(10);

	(void)state;
	sb_adds(&sb, "12345");
	sb_addf(&sb, "%s", "678901");
	assert_true(sb.failed);
	assert_string_equal(sb_str(&sb), "12345");
	assert_int_equal(sb.len, 5);
	sb_release(&sb);
}

static void grow_past_max_fails(void **state)
{
	struct sb sb = SB_INIT(8);

	(void)state;
	sb_grow(&sb, 8);
	assert_false(sb.failed);
	assert_int_equal(sb.len, 0);
	sb_grow(&sb, 9);
	assert_true(sb.failed);
	sb_release(&sb);
}

static void detach_hands_over_buffer_and_empties(void **state)
{
	struct sb sb = SB_INIT(100);
	size_t len = 0;
	char *s;

	(void)state;
	sb_adds(&sb, "hello");
	s = sb_detach(&sb, &len);
	assert_string_equal(s, "hello");
	assert_int_equal(len, 5);
	assert_null(sb.buf);
	assert_int_equal(sb.len, 0);
	assert_int_equal(sb.max, 100);
	free(s);
}

static void detach_of_empty_builder_gives_malloced_empty_string(void **state)
{
	struct sb sb = SB_INIT(0);
	char *s;

	(void)state;
	s = sb_detach(&sb, NULL);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
}

static void reset_keeps_allocation(void **state)
{
	struct sb sb = SB_INIT(0);
	char *buf;

	(void)state;
	sb_adds(&sb, "abc");
	buf = sb.buf;
	sb_reset(&sb);
	assert_ptr_equal(sb.buf, buf);
	assert_string_equal(sb_str(&sb), "");
	sb_release(&sb);
}

static void collect(const char *buf, size_t len, void *arg)
{
	sb_add(arg, buf, len);
}

static void flush_hands_over_pieces_and_keeps_the_cap(void **state)
{
	struct sb sb = SB_INIT(20), got = SB_INIT(0);

	(void)state;
	sb_set_flush(&sb, 4, collect, &got);
	sb_adds(&sb, "abc");
	sb_flush(&sb, false); /* under 'at': kept */
	assert_int_equal(sb.len, 3);
	sb_adds(&sb, "de");
	sb_flush(&sb, false);
	assert_int_equal(sb.len, 0);
	assert_string_equal(sb_str(&got), "abcde");
	/* the cap counts what was flushed: 5 + 15 fit, one more does not */
	sb_adds(&sb, "fghijklmnopqrst");
	assert_false(sb.failed);
	sb_addc(&sb, 'u');
	assert_true(sb.failed);
	sb_flush(&sb, true); /* nothing after a failure */
	assert_string_equal(sb_str(&got), "abcde");
	sb_release(&sb);
	sb_release(&got);
}

static void add_utf8_keeps_valid_text(void **state)
{
	struct sb sb = SB_INIT(0);
	const char *s = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";

	(void)state;
	assert_int_equal(sb_add_utf8(&sb, s, strlen(s)), 0);
	assert_string_equal(sb_str(&sb), s);
	sb_release(&sb);
}

static void add_utf8_replaces_each_bad_byte(void **state)
{
	static const struct {
		const char *in, *out;
		size_t bad;
	} cases[] = {
		{"a\xff"
		 "b",
		 "a\xef\xbf\xbd"
		 "b",
		 1},
		/* truncated sequence at the end: two bad bytes */
		{"\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd", 2},
		/* overlong encoding of '/' */
		{"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd", 2},
		/* a surrogate, U+D800 */
		{"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3},
		/* above U+10FFFF */
		{"\xf4\x90\x80\x80",
		 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 4},
		/* a stray continuation byte between valid characters */
		{"\xc3\xa9\x80\xc3\xa9", "\xc3\xa9\xef\xbf\xbd\xc3\xa9", 1},
	};
	struct sb sb = SB_INIT(0);
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		sb_reset(&sb);
		assert_int_equal(
			sb_add_utf8(&sb, cases[i].in, strlen(cases[i].in)),
			cases[i].bad);
		assert_string_equal(sb_str(&sb), cases[i].out);
	}
	sb_release(&sb);
}

static void json_strings_escape_controls_and_repair_utf8(void **state)
{
	struct sb out = SB_INIT(0);
	const char s[] = "a\\b\x01\xc3\xa9\xff\n\"\x7f";

	(void)state;
	sb_add_json_string(&out, s, sizeof(s) - 1);
	assert_string_equal(sb_str(&out), "\"a\\\\b\\u0001\xc3\xa9\\ufffd\\n"
					  "\\\"\\u007f\"");
	sb_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_strings_escape_controls_and_repair_utf8),
		cmocka_unit_test(empty_builder_reads_as_empty_string),
		cmocka_unit_test(appends_concatenate),
		cmocka_unit_test(addf_grows_for_long_output),
		cmocka_unit_test(append_up_to_max_succeeds),
		cmocka_unit_test(append_past_max_fails_and_adds_nothing),
		cmocka_unit_test(failure_is_sticky_until_reset),
		cmocka_unit_test(addf_past_max_keeps_earlier_text),
		cmocka_unit_test(grow_past_max_fails),
		cmocka_unit_test(detach_hands_over_buffer_and_empties),
		cmocka_unit_test(
			detach_of_empty_builder_gives_malloced_empty_string),
		cmocka_unit_test(reset_keeps_allocation),
		cmocka_unit_test(flush_hands_over_pieces_and_keeps_the_cap),
		cmocka_unit_test(add_utf8_keeps_valid_text),
		cmocka_unit_test(add_utf8_replaces_each_bad_byte),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
