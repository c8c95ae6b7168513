/*
 * --dry-run's output: the table, the JSON document, the summary line, SQL
 * positions mapped back into the query file, and the SQL scanner behind the
 * statement and privilege checks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "dryrun.h"
#include "privcheck.h"

/* A report with one target and three rows, as a run on PostgreSQL 15. */
static void sample_report(struct dryrun_report *r)
{
	struct dryrun_row *row;

	dryrun_add_target(r, "main", "postgres", "PostgreSQL 15.4", 150004,
			  NULL);
	row = dryrun_add_row(r, "pg_up", "main");
	row->variant = 1;
	row->nvariants = 1;
	row->seconds = 0.00042;
	row->rows = 1;
	row->series = 1;
	row->max_series = 10000;
	row = dryrun_add_row(r, "pg_stat_io", "main");
	row->status = DRYRUN_SKIPPED;
	row->nvariants = 1;
	row->max_series = 10000;
	row->note = strdup("version: no variant for 150004");
	row = dryrun_add_row(r, "slow", "main");
	row->status = DRYRUN_TIMEOUT;
	row->variant = 2;
	row->nvariants = 2;
	row->seconds = 1.5;
	row->max_series = 10;
	row->note = strdup("slower than 1.5s");
	row->labels = calloc(1, sizeof(*row->labels));
	row->labels[0].name = strdup("datname");
	row->labels[0].values = 3;
	row->nlabels = 1;
	diags_add(&r->d, DIAG_ERROR, "q.yaml", 7, 12,
		  "collector 'slow': target 'main': slower than its timeout");
	diags_add(&r->d, DIAG_WARNING, "q.yaml", 2, 3, "a \"quoted\"\tword");
	r->ncollectors = 3;
}

static void table_aligns_columns_and_marks_what_did_not_run(void **state)
{
	struct dryrun_report r = DRYRUN_REPORT_INIT;
	struct sb out = SB_INIT(0);

	(void)state;
	sample_report(&r);
	dryrun_render_table(&r, &out);
	assert_string_equal(
		sb_str(&out),
		"target 'main' (postgres): PostgreSQL 15.4 (150004)\n"
		"\n"
		"COLLECTOR   TARGET  STATUS   VARIANT      TIME  ROWS  SERIES  "
		"NOTE\n"
		"pg_up       main    ok       1/1         0.4ms     1       1\n"
		"pg_stat_io  main    skipped  -               -     -       -  "
		"version: no variant for 150004\n"
		"slow        main    timeout  2/2      1500.0ms     -       -  "
		"slower than 1.5s\n");
	sb_release(&out);
	dryrun_report_release(&r);
}

static void table_says_why_a_target_was_not_checked(void **state)
{
	struct dryrun_report r = DRYRUN_REPORT_INIT;
	struct sb out = SB_INIT(0);

	(void)state;
	dryrun_add_target(&r, "bouncer", "pgbouncer", NULL, 0,
			  "cannot connect: not allowed");
	dryrun_render_table(&r, &out);
	assert_string_equal(sb_str(&out),
			    "target 'bouncer' (pgbouncer): not checked: "
			    "cannot connect: not allowed\n"
			    "\n"
			    "COLLECTOR  TARGET  STATUS  VARIANT  TIME  ROWS  "
			    "SERIES  NOTE\n");
	sb_release(&out);
	dryrun_report_release(&r);
}

static void json_holds_everything_with_escapes(void **state)
{
	struct dryrun_report r = DRYRUN_REPORT_INIT;
	struct sb out = SB_INIT(0);

	(void)state;
	sample_report(&r);
	r.metrics = strdup("pg_up 1\n");
	dryrun_render_json(&r, &out);
	assert_string_equal(
		sb_str(&out),
		"{\"errors\": 1, \"warnings\": 1, \"offline\": false, "
		"\"targets\": [{\"name\": \"main\", \"kind\": \"postgres\", "
		"\"version\": \"PostgreSQL 15.4\", \"version_num\": 150004, "
		"\"error\": null}], "
		"\"diagnostics\": [{\"file\": \"q.yaml\", \"line\": 7, "
		"\"column\": 12, \"severity\": \"error\", \"message\": "
		"\"collector 'slow': target 'main': slower than its "
		"timeout\"}, {\"file\": \"q.yaml\", \"line\": 2, \"column\": "
		"3, "
		"\"severity\": \"warning\", \"message\": \"a "
		"\\\"quoted\\\"\\tword\"}], "
		"\"collectors\": ["
		"{\"collector\": \"pg_up\", \"target\": \"main\", \"status\": "
		"\"ok\", \"note\": null, \"variant\": 1, \"variants\": 1, "
		"\"seconds\": 0.000420, \"rows\": 1, \"series\": 1, "
		"\"max_series\": 10000, \"labels\": {}}, "
		"{\"collector\": \"pg_stat_io\", \"target\": \"main\", "
		"\"status\": \"skipped\", \"note\": \"version: no variant for "
		"150004\", \"variant\": 0, \"variants\": 1, \"seconds\": null, "
		"\"rows\": null, \"series\": null, \"max_series\": 10000, "
		"\"labels\": {}}, "
		"{\"collector\": \"slow\", \"target\": \"main\", \"status\": "
		"\"timeout\", \"note\": \"slower than 1.5s\", \"variant\": 2, "
		"\"variants\": 2, \"seconds\": 1.500000, \"rows\": null, "
		"\"series\": null, \"max_series\": 10, \"labels\": "
		"{\"datname\": 3}}], "
		"\"metrics\": \"pg_up 1\\n\"}\n");
	sb_release(&out);
	dryrun_report_release(&r);
}

static void summary_counts_with_plurals(void **state)
{
	struct dryrun_report r = DRYRUN_REPORT_INIT;
	struct sb out = SB_INIT(0);

	(void)state;
	sample_report(&r);
	r.ntargets = 1;
	dryrun_render_summary(&r, &out);
	assert_string_equal(sb_str(&out),
			    "3 collectors, 1 target: 1 error, 1 warning\n");
	sb_reset(&out);
	r.offline = true;
	r.ntargets = 0;
	r.ncollectors = 1;
	diags_release(&r.d);
	dryrun_render_summary(&r, &out);
	assert_string_equal(sb_str(&out),
			    "1 collector, 0 targets (offline: files only): 0 "
			    "errors, 0 warnings\n");
	sb_release(&out);
	r.ntargets = 1; /* the sample's target, so that it is freed */
	dryrun_report_release(&r);
}

static const char positions_yaml[] =
	"collectors:\n"
	"  block:\n"
	"    help: A literal block with a parameter.\n"
	"    params: {limit: 100}\n"
	"    sql: |\n"
	"      SELECT datname,\n"
	"             numbakends AS n\n"
	"      FROM pg_stat_database LIMIT {{limit}} OFFSET nope\n"
	"    metrics:\n"
	"      datname: label\n"
	"      n: {type: gauge, name: t_n, help: x}\n"
	"  plain:\n"
	"    help: One line.\n"
	"    sql: SELECT nope AS v\n"
	"    metrics:\n"
	"      v: {type: gauge, name: t_v, help: x}\n"
	"  folded:\n"
	"    help: Folded.\n"
	"    sql: >\n"
	"      SELECT 1 AS v,\n"
	"      nope\n"
	"    metrics:\n"
	"      v: {type: gauge, name: t_f, help: x}\n";

static struct srcpos pos_of(const struct queryset *qs, const char *name,
			    const char *find, struct config *cfg, bool *exact)
{
	const struct collector *c = queryset_find(qs, name);
	char *sql;
	struct srcpos p;
	size_t chars;

	assert_non_null(c);
	sql = collector_sql(c, &c->variants[0], cfg);
	assert_non_null(strstr(sql, find));
	chars = (size_t)(strstr(sql, find) - sql) + 1; /* ASCII */
	p = dryrun_sql_pos(c, &c->variants[0], cfg, sql, chars, positions_yaml,
			   strlen(positions_yaml), exact);
	free(sql);
	return p;
}

static void sql_positions_map_back_to_the_file(void **state)
{
	struct queryset qs = QUERYSET_INIT;
	struct diags d = DIAGS_INIT;
	struct config cfg;
	struct srcpos p;
	bool exact;

	(void)state;
	config_init(&cfg);
	assert_int_equal(querydef_load_buffer(&qs, "p.yaml", positions_yaml,
					      strlen(positions_yaml), &d),
			 0);
	/* line 2 of a literal block: the file's line 7, its column */
	p = pos_of(&qs, "block", "numbakends", &cfg, &exact);
	assert_true(exact);
	assert_int_equal(p.line, 7);
	assert_int_equal(p.column, 14);
	/* after a parameter whose value is shorter than its placeholder */
	p = pos_of(&qs, "block", "nope", &cfg, &exact);
	assert_true(exact);
	assert_int_equal(p.line, 8);
	assert_int_equal(p.column, 52);
	/* inside the parameter's value: the place of the placeholder is
	 * not exact, the variant's start is given */
	p = pos_of(&qs, "block", "100", &cfg, &exact);
	assert_false(exact);
	assert_int_equal(p.line, 6);
	assert_int_equal(p.column, 7);
	/* a one-line plain scalar */
	p = pos_of(&qs, "plain", "nope", &cfg, &exact);
	assert_true(exact);
	assert_int_equal(p.line, 14);
	assert_int_equal(p.column, 17);
	/* a folded scalar joins lines: only its start is certain */
	p = pos_of(&qs, "folded", "nope", &cfg, &exact);
	assert_false(exact);
	assert_int_equal(p.line, 20);
	assert_int_equal(p.column, 7);
	queryset_release(&qs);
	diags_release(&d);
	config_free(&cfg);
}

static void scanner_finds_a_second_statement_outside_quotes(void **state)
{
	(void)state;
	assert_int_equal(sqlscan_second_statement("SELECT 1"), -1);
	assert_int_equal(sqlscan_second_statement("SELECT 1;"), -1);
	assert_int_equal(sqlscan_second_statement("SELECT 1; -- done\n"), -1);
	assert_int_equal(sqlscan_second_statement("SELECT ';' AS s"), -1);
	assert_int_equal(sqlscan_second_statement("SELECT \"a;b\" FROM t"), -1);
	assert_int_equal(sqlscan_second_statement("SELECT $$;$$, $x$;$x$"), -1);
	assert_int_equal(sqlscan_second_statement("SELECT /* ; /* ; */ */ 1"),
			 -1);
	assert_int_equal(sqlscan_second_statement("SELECT E'\\';' AS s"), -1);
	assert_int_equal(sqlscan_second_statement("SELECT 1; DELETE FROM t"),
			 10);
	assert_int_equal(sqlscan_second_statement("SELECT 1;;\n  VACUUM"), 13);
}

static void scanner_reports_names_calls_and_strings(void **state)
{
	static const char sql[] =
		"SELECT count(*) FROM pg_ls_waldir () w, \"MyTab\" -- x(\n"
		", current_setting('data_directory')";
	struct sqlword *w;
	size_t n;

	(void)state;
	w = sqlscan_words(sql, &n);
	assert_int_equal(n, 8);
	assert_int_equal(w[1].len, 5); /* count */
	assert_true(w[1].call);
	assert_int_equal(w[3].off, 21);
	assert_memory_equal(w[3].s, "pg_ls_waldir", 12);
	assert_true(w[3].call);
	assert_false(w[4].call); /* w */
	assert_true(w[5].quoted);
	assert_memory_equal(w[5].s, "MyTab", 5);
	assert_true(w[6].call); /* current_setting */
	assert_true(w[7].string);
	assert_memory_equal(w[7].s, "data_directory", 14);
	free(w);
}

static void calls_a_rollback_cannot_undo_are_found(void **state)
{
	size_t off = 0;

	(void)state;
	assert_string_equal(
		sqlscan_unsafe_call(
			"SELECT 'pg_reload_conf()', PG_Stat_Reset ()", &off),
		"pg_stat_reset");
	assert_int_equal(off, 27);
	assert_null(sqlscan_unsafe_call(
		"SELECT pg_stat_reset FROM t -- pg_reload_conf()", &off));
	/* quoting does not hide a name; "PG_RELOAD_CONF" is another one */
	assert_string_equal(
		sqlscan_unsafe_call("SELECT \"pg_reload_conf\"()", &off),
		"pg_reload_conf");
	assert_null(sqlscan_unsafe_call("SELECT \"PG_RELOAD_CONF\"()", &off));
}

/* 0, or the offset sqlscan_statement reports (-1 when it accepts). */
static long refused_at(const char *sql, bool bouncer)
{
	struct err e = ERR_INIT;
	size_t off = 0;

	return sqlscan_statement(sql, bouncer, &off, &e) < 0 ? (long)off : -1;
}

static void statements_must_be_one_read_only_query(void **state)
{
	(void)state;
	assert_int_equal(refused_at("(SELECT 1)", false), -1);
	assert_int_equal(refused_at("WITH a AS (SELECT 1) TABLE a", false), -1);
	assert_int_equal(refused_at("SELECT 1 AS \"delete\" -- UPDATE", false),
			 -1);
	assert_int_equal(refused_at("SELECT 'a;b' || $q$ ; $q$", false), -1);
	/* a comment, a schema or quotes before the '(' hide nothing */
	assert_int_equal(
		refused_at("SELECT pg_terminate_backend/**/(1)", false), 7);
	assert_int_equal(
		refused_at("SELECT pg_catalog.pg_terminate_backend(1)", false),
		18);
	assert_int_equal(
		refused_at("SELECT \"set_config\"('a', 'b', false)", false), 8);
	assert_int_equal(refused_at("SELECT lo_put(1, 0, 'x')", false), 7);
	assert_int_equal(refused_at("SELECT my_ext_reset()", false), 7);
	/* E'' takes escapes; 1e' is a number and an E'' string */
	assert_int_equal(refused_at("SELECT E'\\'', nextval('s') --'", false),
			 14);
	assert_int_equal(refused_at("SELECT 1e'\\'', nextval('s') --'", false),
			 15);
	assert_int_equal(refused_at("SELECT '\\'', 1", false), 8);
	assert_int_equal(
		refused_at("WITH d AS (DELETE FROM t) SELECT 1", false), 11);
	assert_int_equal(refused_at("SELECT * FROM t FOR UPDATE", false), 20);
	assert_int_equal(refused_at("  VACUUM", false), 2);
	assert_int_equal(refused_at("", false), 0);
	assert_int_equal(refused_at("SHOW POOLS;", true), -1);
	assert_int_equal(refused_at("SHOW POOLS; PAUSE", true), 12);
	assert_int_equal(refused_at("SHOW /* x */ POOLS", true), 5);
	assert_int_equal(refused_at("PAUSE", true), 0);
}

static void pgbouncer_refusal_gets_the_stats_users_fix(void **state)
{
	char *fix;

	(void)state;
	fix = privcheck_pgbouncer_fix("cannot connect: FATAL:  not allowed",
				      "monitor");
	assert_string_equal(fix, "add monitor to stats_users in "
				 "pgbouncer.ini, then reload pgbouncer "
				 "(RELOAD on its console)");
	free(fix);
	assert_null(privcheck_pgbouncer_fix("connection refused", "monitor"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			table_aligns_columns_and_marks_what_did_not_run),
		cmocka_unit_test(table_says_why_a_target_was_not_checked),
		cmocka_unit_test(json_holds_everything_with_escapes),
		cmocka_unit_test(summary_counts_with_plurals),
		cmocka_unit_test(sql_positions_map_back_to_the_file),
		cmocka_unit_test(
			scanner_finds_a_second_statement_outside_quotes),
		cmocka_unit_test(scanner_reports_names_calls_and_strings),
		cmocka_unit_test(calls_a_rollback_cannot_undo_are_found),
		cmocka_unit_test(statements_must_be_one_read_only_query),
		cmocka_unit_test(pgbouncer_refusal_gets_the_stats_users_fix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
