/*
 * The top selection across databases on sets built by hand (no server):
 * the n largest rows of every database together, a row's value from the
 * first of 'by' it has, sticky keys, what is dropped, and the YAML errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "querydef.h"
#include "topsel.h"
#include "xalloc.h"
#include "unit.h"

static const char yaml[] =
	"collectors:\n"
	"  idx:\n"
	"    help: h\n"
	"    scope: database\n"
	"    params: {top_n: 2}\n"
	"    top: {by: [unused, invalid], n: '{{top_n}}', key: [name],\n"
	"          sticky: 10m, across: databases}\n"
	"    sql: SELECT {{top_n}}\n"
	"    metrics:\n"
	"      name: label\n"
	"      unused: {type: gauge, name: idx_unused}\n"
	"      invalid: {type: gauge, name: idx_invalid}\n"
	"  tab:\n"
	"    help: h\n"
	"    scope: database\n"
	"    top: {by: [unused, invalid], rank: each, n: 1, key: [name],\n"
	"          across: databases}\n"
	"    sql: SELECT 1\n"
	"    metrics:\n"
	"      name: label\n"
	"      unused: {type: gauge, name: tab_size}\n"
	"      invalid: {type: gauge, name: tab_dead}\n";

static struct queryset qs = QUERYSET_INIT;

static int load(void **state)
{
	struct diags d = DIAGS_INIT;

	(void)state;
	return unit_loaded(
		querydef_load_buffer(&qs, "t.yaml", yaml, strlen(yaml), &d),
		&d);
}

static int unload(void **state)
{
	(void)state;
	queryset_release(&qs);
	return 0;
}

/* Add a sample of 'fam' for index 'name' of database 'db'. */
static void add(struct mset *m, const char *fam, const char *db,
		const char *name, double v)
{
	struct label l[2] = {{(char *)"name", (char *)name},
			     {(char *)"datname", (char *)db}};
	struct family *f = mset_family(m, fam, METRIC_GAUGE, "h", NULL);

	assert_non_null(f);
	assert_int_equal(mset_add(m, f, "", l, 2, v, NULL), 0);
}

/* The value of 'fam' for 'db'/'name' in 'm', or NAN when absent. */
static double value(struct mset *m, const char *fam, const char *db,
		    const char *name)
{
	struct family *f = strmap_get(&m->byname, fam);

	for (size_t i = 0; f && i < f->n; i++) {
		struct sample *s = &f->samples[i];
		const char *d = NULL, *n = NULL;

		for (uint32_t k = 0; k < s->nlabels; k++) {
			if (!strcmp(s->labels[k].name, "datname"))
				d = s->labels[k].value;
			if (!strcmp(s->labels[k].name, "name"))
				n = s->labels[k].value;
		}
		if (d && n && !strcmp(d, db) && !strcmp(n, name))
			return s->value;
	}
	return NAN;
}

static void the_largest_of_all_databases_are_kept(void **state)
{
	const struct collector *c = queryset_find(&qs, "idx");
	struct mset *all = mset_new(), *out = mset_new();

	(void)state;
	assert_non_null(c);
	assert_true(c->top.across);
	assert_int_equal(topsel_n(c, NULL), 2);
	/* the same index name in two databases: two rows */
	add(all, "idx_unused", "a", "i1", 100);
	add(all, "idx_unused", "a", "i2", 90);
	add(all, "idx_unused", "b", "i1", 300);
	add(all, "idx_invalid", "c", "i3", 200);
	add(all, "idx_unused", "c", "i4", 10);
	assert_int_equal(topsel_across(c, &all, 1, 2, NULL, 0, out, NULL), 3);
	assert_int_equal(out->nseries, 2);
	assert_true(value(out, "idx_unused", "b", "i1") == 300);
	assert_true(value(out, "idx_invalid", "c", "i3") == 200);
	assert_true(isnan(value(out, "idx_unused", "a", "i1")));
	mset_free(all);
	mset_free(out);
}

static void each_database_is_ranked_in_its_own_set(void **state)
{
	const struct collector *c = queryset_find(&qs, "idx");
	struct mset *parts[4] = {mset_new(), NULL, mset_new(), mset_new()};
	struct mset *out = mset_new();
	struct strmap dbs = STRMAP_INIT;

	(void)state;
	/* as the lanes keep them: a set per database, none merged first */
	add(parts[0], "idx_unused", "a", "i1", 100);
	add(parts[0], "idx_unused", "a", "i2", 90);
	add(parts[2], "idx_unused", "b", "i1", 300);
	add(parts[3], "idx_invalid", "c", "i3", 200);
	add(parts[3], "idx_unused", "c", "i4", 10);
	assert_int_equal(topsel_across(c, parts, 4, 2, NULL, 0, out, &dbs), 3);
	assert_int_equal(out->nseries, 2);
	assert_true(value(out, "idx_unused", "b", "i1") == 300);
	assert_true(value(out, "idx_invalid", "c", "i3") == 200);
	/* the databases that hold a kept row, for the visits */
	assert_int_equal(dbs.n, 2);
	assert_non_null(strmap_get(&dbs, "b"));
	assert_non_null(strmap_get(&dbs, "c"));
	assert_null(strmap_get(&dbs, "a"));
	/* the kept samples share the parts' blocks: they outlive the parts */
	for (int k = 0; k < 4; k++)
		mset_free(parts[k]);
	assert_true(value(out, "idx_unused", "b", "i1") == 300);
	strmap_release(&dbs);
	mset_free(out);
}

static void no_rows_in_any_database_select_nothing(void **state)
{
	const struct collector *c = queryset_find(&qs, "idx");
	struct mset *all = mset_new(), *out = mset_new();

	(void)state;
	assert_non_null(c);
	/* the usual case on a healthy cluster: no unused or invalid index */
	assert_int_equal(topsel_across(c, &all, 1, 2, NULL, 0, out, NULL), 0);
	assert_int_equal(out->nseries, 0);
	mset_free(all);
	mset_free(out);
}

static void the_first_by_column_a_row_has_ranks_it(void **state)
{
	const struct collector *c = queryset_find(&qs, "idx");
	struct mset *all = mset_new(), *out = mset_new();

	(void)state;
	/* i1 has both: 'unused' (5) ranks it, not 'invalid' (500) */
	add(all, "idx_unused", "a", "i1", 5);
	add(all, "idx_invalid", "a", "i1", 500);
	add(all, "idx_unused", "a", "i2", 50);
	assert_int_equal(topsel_across(c, &all, 1, 1, NULL, 0, out, NULL), 2);
	assert_true(value(out, "idx_unused", "a", "i2") == 50);
	mset_free(all);
	mset_free(out);
}

static void rank_each_keeps_the_top_of_every_column(void **state)
{
	const struct collector *c = queryset_find(&qs, "tab");
	struct mset *all = mset_new(), *out = mset_new();

	(void)state;
	assert_non_null(c);
	assert_true(c->top.each);
	/* t1 is the largest, t3 has the most dead rows; t2 neither */
	add(all, "tab_size", "a", "t1", 900);
	add(all, "tab_dead", "a", "t1", 0);
	add(all, "tab_size", "a", "t2", 500);
	add(all, "tab_dead", "a", "t2", 10);
	add(all, "tab_size", "b", "t3", 100);
	add(all, "tab_dead", "b", "t3", 70);
	assert_int_equal(topsel_across(c, &all, 1, 1, NULL, 0, out, NULL), 2);
	assert_true(value(out, "tab_size", "a", "t1") == 900);
	assert_true(value(out, "tab_dead", "b", "t3") == 70);
	assert_true(value(out, "tab_size", "b", "t3") == 100);
	assert_true(isnan(value(out, "tab_size", "a", "t2")));
	mset_free(all);
	mset_free(out);
	/* a column where every row has 0 chooses none */
	all = mset_new();
	out = mset_new();
	add(all, "tab_size", "a", "t1", 900);
	add(all, "tab_dead", "a", "t1", 0);
	add(all, "tab_size", "a", "t2", 500);
	add(all, "tab_dead", "a", "t2", 0);
	assert_int_equal(topsel_across(c, &all, 1, 1, NULL, 0, out, NULL), 2);
	assert_true(value(out, "tab_size", "a", "t1") == 900);
	assert_true(isnan(value(out, "tab_size", "a", "t2")));
	mset_free(all);
	mset_free(out);
}

static void a_row_of_the_top_stays_while_sticky(void **state)
{
	const struct collector *c = queryset_find(&qs, "idx");
	struct strmap sticky = STRMAP_INIT;
	struct mset *all = mset_new(), *out = mset_new();

	(void)state;
	add(all, "idx_unused", "a", "i1", 100);
	add(all, "idx_unused", "b", "i2", 50);
	assert_int_equal(topsel_across(c, &all, 1, 1, &sticky, 1000, out, NULL),
			 1);
	mset_free(all);
	mset_free(out);
	/* b's index grew past a's: a's row stays for 10 minutes */
	all = mset_new();
	add(all, "idx_unused", "a", "i1", 100);
	add(all, "idx_unused", "b", "i2", 150);
	out = mset_new();
	assert_int_equal(topsel_across(c, &all, 1, 1, &sticky, 1300, out, NULL),
			 0);
	assert_true(value(out, "idx_unused", "a", "i1") == 100);
	assert_true(value(out, "idx_unused", "b", "i2") == 150);
	mset_free(out);
	/* past its expiry it goes */
	out = mset_new();
	assert_int_equal(topsel_across(c, &all, 1, 1, &sticky, 1601, out, NULL),
			 1);
	assert_true(isnan(value(out, "idx_unused", "a", "i1")));
	mset_free(out);
	mset_free(all);
	strmap_release_with(&sticky, free);
}

/* The errors of 'text', loaded. */
static char *errors(const char *text)
{
	struct queryset q = QUERYSET_INIT;
	struct diags d = DIAGS_INIT;
	char *t;

	assert_int_equal(
		querydef_load_buffer(&q, "b.yaml", text, strlen(text), &d), -1);
	t = diags_text(&d);
	diags_release(&d);
	queryset_release(&q);
	return t;
}

static void across_needs_scope_database_and_lists_need_across(void **state)
{
	char *t;

	(void)state;
	t = errors("collectors:\n"
		   "  x:\n"
		   "    help: h\n"
		   "    top: {by: v, n: 1, key: [k], across: databases}\n"
		   "    sql: SELECT 1\n"
		   "    metrics: {k: label, v: gauge}\n");
	assert_non_null(strstr(t, "b.yaml:4:42: error: collector 'x': "
				  "'across: databases' needs 'scope: "
				  "database'"));
	free(t);
	t = errors("collectors:\n"
		   "  x:\n"
		   "    help: h\n"
		   "    scope: database\n"
		   "    top: {by: [v, w], n: 1, key: [k], across: all}\n"
		   "    sql: SELECT 1\n"
		   "    metrics: {k: label, v: gauge, w: gauge}\n");
	assert_non_null(strstr(t, "b.yaml:5:47: error: collector 'x': "
				  "invalid across 'all'"));
	assert_non_null(strstr(t, "b.yaml:5:15: error: collector 'x': 'by' "
				  "lists several columns only with 'across'"));
	free(t);
	t = errors("collectors:\n"
		   "  x:\n"
		   "    help: h\n"
		   "    scope: database\n"
		   "    top: {by: v, n: 1, key: [k], rank: each}\n"
		   "    sql: SELECT 1\n"
		   "    metrics: {k: label, v: gauge}\n");
	assert_non_null(strstr(t, "b.yaml:5:40: error: collector 'x': "
				  "'rank' needs 'across: databases'"));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_largest_of_all_databases_are_kept),
		cmocka_unit_test(each_database_is_ranked_in_its_own_set),
		cmocka_unit_test(no_rows_in_any_database_select_nothing),
		cmocka_unit_test(the_first_by_column_a_row_has_ranks_it),
		cmocka_unit_test(rank_each_keeps_the_top_of_every_column),
		cmocka_unit_test(a_row_of_the_top_stays_while_sticky),
		cmocka_unit_test(
			across_needs_scope_database_and_lists_need_across),
	};

	return cmocka_run_group_tests(tests, load, unload);
}
