/*
 * Rows into samples on results built by hand (no server): labels, scale,
 * null values, histograms, top selections with their "other" row, pivots,
 * missing columns, values that are not numbers, max_series and error values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "expfmt.h"
#include "querydef.h"
#include "samples.h"
#include "sb.h"
#include "xalloc.h"
#include "unit.h"

#define FIX "fixtures/queries/samples.yaml"

enum { TEXT = 25, INT8 = 20, FLOAT8 = 701, FLOAT8ARR = 1022 };

static struct queryset qs = QUERYSET_INIT;

static int load(void **state)
{
	struct diags d = DIAGS_INIT;

	(void)state;
	return unit_loaded(querydef_load_path(&qs, FIX, &d), &d);
}

static int unload(void **state)
{
	(void)state;
	queryset_release(&qs);
	return 0;
}

/*
 * A result with columns "name:oid,..." and rows of cells (NULL: SQL
 * NULL), 'ncols' per row, 'nrows' rows.
 */
static PGresult *result(const char *const *names, const Oid *types, int ncols,
			const char *const *cells, int nrows)
{
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc *a = xcalloc((size_t)ncols, sizeof(*a));
	int i, j;

	for (i = 0; i < ncols; i++) {
		a[i].name = (char *)names[i];
		a[i].typid = types[i];
		a[i].typlen = -1;
		a[i].atttypmod = -1;
	}
	assert_true(PQsetResultAttrs(r, ncols, a));
	free(a);
	for (j = 0; j < nrows; j++)
		for (i = 0; i < ncols; i++) {
			const char *v = cells[j * ncols + i];

			assert_true(PQsetvalue(r, j, i, (char *)v,
					       v ? (int)strlen(v) : -1));
		}
	return r;
}

/* The samples of 'name' for 'res', rendered as text 0.0.4. */
static char *convert(const char *name, const PGresult *res, size_t max_series,
		     size_t *dropped, int *rc, char **error)
{
	const struct collector *c = queryset_find(&qs, name);
	struct err e = ERR_INIT;
	struct mset *m = mset_new();
	struct sb out = SB_INIT(0);

	assert_non_null(c);
	*dropped = 0;
	*rc = samples_from_rows(c, res, NULL, max_series, m, dropped, &e);
	*error = xstrdup(e.msg);
	expfmt_render(&out, &m, 1, EXPFMT_TEXT);
	mset_free(m);
	return sb_detach(&out, NULL);
}

static void expect(const char *name, PGresult *res, size_t max_series,
		   const char *want, size_t want_dropped, const char *want_err)
{
	size_t dropped;
	char *got, *error;
	int rc;

	got = convert(name, res, max_series, &dropped, &rc, &error);
	assert_string_equal(got, want);
	assert_int_equal(dropped, want_dropped);
	assert_string_equal(error, want_err);
	assert_int_equal(rc, *want_err ? -1 : 0);
	free(got);
	free(error);
	PQclear(res);
}

static void labels_scale_and_null_values(void **state)
{
	static const char *names[] = {"state", "count", "seconds"};
	static const Oid types[] = {TEXT, INT8, FLOAT8};
	static const char *cells[] = {
		"active", "3", "1500", /**/
		"idle",	  "7", NULL,   /**/
	};

	(void)state;
	expect("activity", result(names, types, 3, cells, 2), 100,
	       "# HELP activity_count Sessions by state (column count).\n"
	       "# TYPE activity_count gauge\n"
	       "activity_count{state=\"active\"} 3\n"
	       "activity_count{state=\"idle\"} 7\n"
	       "# HELP activity_seconds_total Sessions by state (column "
	       "seconds).\n"
	       "# TYPE activity_seconds_total counter\n"
	       "activity_seconds_total{state=\"active\"} 1.5\n"
	       "activity_seconds_total{state=\"idle\"} 0\n",
	       0, "");
}

static void a_missing_column_and_a_bad_value_keep_the_rest(void **state)
{
	static const char *names[] = {"state", "count"};
	static const Oid types[] = {TEXT, INT8};
	static const char *cells[] = {"active", "3", "idle", "many"};
	size_t dropped;
	char *got, *error;
	int rc;
	PGresult *r = result(names, types, 2, cells, 2);

	(void)state;
	got = convert("activity", r, 100, &dropped, &rc, &error);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(error, "seconds"));
	assert_string_equal(
		got, "# HELP activity_count Sessions by state (column count).\n"
		     "# TYPE activity_count gauge\n"
		     "activity_count{state=\"active\"} 3\n");
	free(got);
	free(error);
	PQclear(r);
}

static void max_series_counts_what_it_drops(void **state)
{
	static const char *names[] = {"state", "count", "seconds"};
	static const Oid types[] = {TEXT, INT8, FLOAT8};
	static const char *cells[] = {"a", "1", "1000", "b", "2", "2000"};

	(void)state;
	expect("activity", result(names, types, 3, cells, 2), 3,
	       "# HELP activity_count Sessions by state (column count).\n"
	       "# TYPE activity_count gauge\n"
	       "activity_count{state=\"a\"} 1\n"
	       "activity_count{state=\"b\"} 2\n"
	       "# HELP activity_seconds_total Sessions by state (column "
	       "seconds).\n"
	       "# TYPE activity_seconds_total counter\n"
	       "activity_seconds_total{state=\"a\"} 1\n",
	       1, "");
}

static void a_histogram_from_arrays(void **state)
{
	static const char *names[] = {"seconds", "seconds_bucket",
				      "seconds_sum", "seconds_count"};
	static const Oid types[] = {FLOAT8ARR, FLOAT8ARR, FLOAT8, INT8};
	static const char *cells[] = {"{1,5}", "{1,2}", "3.5", "2"};

	(void)state;
	expect("idle", result(names, types, 4, cells, 1), 100,
	       "# HELP idle_seconds Idle time (column seconds).\n"
	       "# TYPE idle_seconds histogram\n"
	       "idle_seconds_bucket{le=\"1\"} 1\n"
	       "idle_seconds_bucket{le=\"5\"} 2\n"
	       "idle_seconds_bucket{le=\"+Inf\"} 2\n"
	       "idle_seconds_sum 3.5\n"
	       "idle_seconds_count 2\n",
	       0, "");
}

static void top_keeps_the_largest_and_sums_the_rest(void **state)
{
	static const char *names[] = {"relname", "bytes"};
	static const Oid types[] = {TEXT, INT8};
	static const char *cells[] = {"a", "10", "b", "40",
				      "c", "30", "d", "5"};

	(void)state;
	expect("tables", result(names, types, 2, cells, 4), 100,
	       "# HELP tables_bytes Largest tables (column bytes).\n"
	       "# TYPE tables_bytes gauge\n"
	       "tables_bytes{relname=\"b\"} 40\n"
	       "tables_bytes{relname=\"c\"} 30\n"
	       "tables_bytes{relname=\"other\"} 15\n",
	       0, "");
}

static void a_pivot_turns_key_value_rows_into_one_row(void **state)
{
	static const char *names[] = {"key", "value"};
	static const Oid types[] = {TEXT, TEXT};
	static const char *cells[] = {"listen_addr", "*", "max_client_conn",
				      "100"};
	const struct collector *c = queryset_find(&qs, "config");
	PGresult *r = result(names, types, 2, cells, 2);
	struct err e = ERR_INIT;
	PGresult *p = samples_pivot(c, r, &e);

	(void)state;
	assert_non_null(p);
	assert_int_equal(PQntuples(p), 1);
	assert_int_equal(PQnfields(p), 2);
	assert_string_equal(PQfname(p, 1), "max_client_conn");
	assert_string_equal(PQgetvalue(p, 0, 1), "100");
	assert_true(samples_column_known(c, "listen_addr"));
	PQclear(r);
	expect("config", p, 100,
	       "# HELP config_max_client_conn pgbouncer settings (column "
	       "max_client_conn).\n"
	       "# TYPE config_max_client_conn gauge\n"
	       "config_max_client_conn 100\n",
	       0, "");
}

static void the_error_value_of_a_collector_that_failed(void **state)
{
	const struct collector *c = queryset_find(&qs, "up");
	struct mset *m = mset_new();
	struct sb out = SB_INIT(0);

	(void)state;
	assert_true(samples_has_error_value(c));
	assert_false(samples_has_error_value(queryset_find(&qs, "tables")));
	samples_add_error_values(c, m);
	expfmt_render(&out, &m, 1, EXPFMT_TEXT);
	assert_string_equal(sb_str(&out),
			    "# HELP pg_up Whether the server "
			    "answers (column up).\n# TYPE pg_up gauge\n"
			    "pg_up 0\n");
	sb_release(&out);
	mset_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(labels_scale_and_null_values),
		cmocka_unit_test(
			a_missing_column_and_a_bad_value_keep_the_rest),
		cmocka_unit_test(max_series_counts_what_it_drops),
		cmocka_unit_test(a_histogram_from_arrays),
		cmocka_unit_test(top_keeps_the_largest_and_sums_the_rest),
		cmocka_unit_test(a_pivot_turns_key_value_rows_into_one_row),
		cmocka_unit_test(the_error_value_of_a_collector_that_failed),
	};

	return cmocka_run_group_tests(tests, load, unload);
}
