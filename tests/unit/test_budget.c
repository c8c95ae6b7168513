/*
 * The series budget on sets built by hand (no server): the largest
 * databases kept whole, then the largest families dropped, and a set that
 * fits left as it is.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "budget.h"

/* 'n' series of 'fam' in database 'db' (NULL: none). */
static void add(struct mset *m, const char *fam, const char *db, int n,
		double v)
{
	struct family *f = mset_family(m, fam, METRIC_GAUGE, "h", NULL);

	assert_non_null(f);
	for (int i = 0; i < n; i++) {
		char k[16];
		struct label l[2] = {{(char *)"k", k},
				     {(char *)"datname", (char *)db}};

		snprintf(k, sizeof(k), "%d", i);
		assert_int_equal(mset_add(m, f, "", l, db ? 2 : 1, v, NULL), 0);
	}
}

static size_t count(const struct mset *m, const char *fam, const char *db)
{
	const struct family *f = strmap_get(&m->byname, fam);
	size_t n = 0;

	for (size_t i = 0; f && i < f->n; i++) {
		const struct sample *s = &f->samples[i];
		const char *d = NULL;

		for (uint32_t k = 0; k < s->nlabels; k++)
			if (!strcmp(s->labels[k].name, "datname"))
				d = s->labels[k].value;
		if (db ? d && !strcmp(d, db) : !d)
			n++;
	}
	return n;
}

/* a: 1 MB, b: 3 MB, c: no size; 3 + 3 + 3 per-database series, 2 fixed */
static struct mset *cluster(void)
{
	struct mset *m = mset_new();

	add(m, "pg_up", NULL, 1, 1);
	add(m, "settings", NULL, 1, 1);
	add(m, BUDGET_RANK_METRIC, "a", 1, 1e6);
	add(m, BUDGET_RANK_METRIC, "b", 1, 3e6);
	add(m, "commits", "a", 2, 1);
	add(m, "commits", "b", 2, 1);
	add(m, "commits", "c", 3, 1);
	return m;
}

static void a_set_that_fits_is_left_alone(void **state)
{
	struct mset *m = cluster(), *out;
	struct budget_cut cut;

	(void)state;
	assert_ptr_equal(budget_apply(m, 11, &cut), m);
	assert_int_equal(cut.series, 0);
	out = budget_apply(m, 0, &cut); /* 0: no budget */
	assert_ptr_equal(out, m);
	mset_free(m);
}

static void the_largest_databases_are_kept_whole(void **state)
{
	struct mset *m = cluster();
	struct budget_cut cut;

	(void)state;
	/* 2 fixed + b's 3 + a's 3 = 8; c (3, no size) does not fit in 10 */
	m = budget_apply(m, 10, &cut);
	assert_int_equal(m->nseries, 8);
	assert_int_equal(cut.series, 3);
	assert_int_equal(cut.databases, 1);
	assert_int_equal(count(m, "commits", "c"), 0);
	assert_int_equal(count(m, "commits", "a"), 2);
	mset_free(m);
	/* room for b and part of a: a goes whole, and c after it */
	m = budget_apply(cluster(), 7, &cut);
	assert_int_equal(m->nseries, 5);
	assert_int_equal(cut.databases, 2);
	assert_int_equal(count(m, "commits", "b"), 2);
	assert_int_equal(count(m, "commits", "a"), 0);
	mset_free(m);
}

static void then_the_largest_families_go(void **state)
{
	struct mset *m = mset_new();
	struct budget_cut cut;

	(void)state;
	add(m, "pg_up", NULL, 1, 1);
	add(m, "settings", NULL, 5, 1);
	add(m, "locks", NULL, 3, 1);
	add(m, "commits", "a", 2, 1);
	m = budget_apply(m, 4, &cut);
	assert_int_equal(m->nseries, 4);
	assert_int_equal(cut.families, 1);
	assert_int_equal(cut.databases, 1);
	assert_int_equal(count(m, "settings", NULL), 0);
	assert_int_equal(count(m, "locks", NULL), 3);
	assert_int_equal(count(m, "pg_up", NULL), 1);
	mset_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_set_that_fits_is_left_alone),
		cmocka_unit_test(the_largest_databases_are_kept_whole),
		cmocka_unit_test(then_the_largest_families_go),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
