/*
 * sqlscan: the words of an SQL text as PostgreSQL's lexer reads it
 * (comments, quoted names, strings, dollar quotes), where a second
 * statement starts, and which texts are one read-only query.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sb.h"
#include "sqlscan.h"

/*
 * The words of 'sql', one per line as "off kind text", where kind is
 * n (name), q (quoted name), s (string), with "()" after a call.
 */
static char *words_text(const char *sql)
{
	struct sb b = SB_INIT(0);
	struct sqlword *w;
	size_t n, i;

	w = sqlscan_words(sql, &n);
	for (i = 0; i < n; i++)
		sb_addf(&b, "%zu %c %.*s%s\n", w[i].off,
			w[i].string   ? 's'
			: w[i].quoted ? 'q'
				      : 'n',
			(int)w[i].len, w[i].s, w[i].call ? "()" : "");
	free(w);
	return sb_detach(&b, NULL);
}

static void expect_words(const char *sql, const char *expected)
{
	char *got = words_text(sql);

	assert_string_equal(got, expected);
	free(got);
}

static void comments_hide_their_words_and_nest(void **state)
{
	(void)state;
	expect_words("SELECT a -- b c\n, d /* e /* f */ g */ FROM t",
		     "0 n SELECT\n7 n a\n18 n d\n38 n FROM\n43 n t\n");
	/* a comment left open runs to the end, as the server reads it */
	expect_words("SELECT x /* y", "0 n SELECT\n7 n x\n");
}

static void strings_and_quoted_names_are_told_apart(void **state)
{
	(void)state;
	expect_words("SELECT 'it''s', \"My Tab\" FROM \"a\"\"b\"",
		     "0 n SELECT\n8 s it''s\n17 q My Tab\n25 n FROM\n31 q "
		     "a\"\"b\n");
	/* E'' strings take backslash escapes; plain ones do not */
	expect_words("SELECT E'a\\'b', x", "0 n SELECT\n9 s a\\'b\n16 n x\n");
}

static void a_dollar_quoted_body_is_one_string(void **state)
{
	(void)state;
	expect_words("SELECT $f$ pg_sleep(1) $$ $f$, $$x$$, $1",
		     "0 n SELECT\n10 s  pg_sleep(1) $$ \n33 s x\n");
	/* $1 is a parameter (a digit cannot start a tag); $x$ opens a quote */
	expect_words("SELECT $1$x$", "0 n SELECT\n12 s \n");
}

static void a_name_followed_by_a_parenthesis_is_a_call(void **state)
{
	(void)state;
	expect_words("SELECT f /* c */ (1), g, \"H\"(2)",
		     "0 n SELECT\n7 n f()\n22 n g\n26 q H()\n");
}

static void words_compare_by_case_unless_quoted(void **state)
{
	struct sqlword *w;
	size_t n;

	(void)state;
	w = sqlscan_words("SELECT Pg_Class, \"Pg_Class\", 'pg_class'", &n);
	assert_int_equal(n, 4);
	assert_true(sqlscan_word_is(&w[1], "pg_class"));
	assert_false(sqlscan_word_is(&w[2], "pg_class"));
	assert_false(sqlscan_word_is(&w[3], "pg_class"));
	free(w);
	assert_null(sqlscan_words("  -- nothing\n", &n));
	assert_int_equal(n, 0);
}

static void the_second_statement_starts_after_a_bare_semicolon(void **state)
{
	(void)state;
	assert_int_equal(sqlscan_second_statement("SELECT 1 ;  "), -1);
	assert_int_equal(sqlscan_second_statement("SELECT $a$;$a$; SHOW x"),
			 16);
	assert_int_equal(sqlscan_second_statement("SELECT 1 -- ;\n; 2"), 16);
}

/* The offset sqlscan_statement reports, or -1 when it accepts 'sql'. */
static long refused_at(const char *sql, bool bouncer, const char *msg)
{
	struct err e = ERR_INIT;
	size_t off = 0;
	long rc =
		sqlscan_statement(sql, bouncer, &off, &e) < 0 ? (long)off : -1;

	if (msg && !strstr(e.msg, msg))
		fail_msg("'%s': %s", sql, e.msg);
	return rc;
}

static void only_one_read_only_query_is_a_statement(void **state)
{
	(void)state;
	assert_int_equal(
		refused_at("  (WITH a AS (SELECT 1) TABLE a)", false, NULL),
		-1);
	assert_int_equal(refused_at("SHOW server_version;", false, NULL), -1);
	assert_int_equal(
		refused_at("/* x */ DELETE FROM t", false, "not a query"), 8);
	assert_int_equal(refused_at("SELECT 1 FROM t FOR UPDATE", false, NULL),
			 20);
	assert_int_equal(refused_at("SELECT nextval('s')", false, "nextval"),
			 7);
	assert_int_equal(refused_at("SELECT 1; SELECT 2", false,
				    "more than one statement"),
			 10);
	assert_int_equal(refused_at("", false, "empty"), 0);
}

static void pgbouncer_runs_show_and_one_word(void **state)
{
	(void)state;
	assert_int_equal(refused_at("SHOW POOLS;", true, NULL), -1);
	assert_int_equal(refused_at("SHOW POOLS; PAUSE", true, "more than one"),
			 12);
	assert_int_equal(refused_at("SHOW /* x */ POOLS", true, "comments"), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(comments_hide_their_words_and_nest),
		cmocka_unit_test(strings_and_quoted_names_are_told_apart),
		cmocka_unit_test(a_dollar_quoted_body_is_one_string),
		cmocka_unit_test(a_name_followed_by_a_parenthesis_is_a_call),
		cmocka_unit_test(words_compare_by_case_unless_quoted),
		cmocka_unit_test(
			the_second_statement_starts_after_a_bare_semicolon),
		cmocka_unit_test(only_one_read_only_query_is_a_statement),
		cmocka_unit_test(pgbouncer_runs_show_and_one_word),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
