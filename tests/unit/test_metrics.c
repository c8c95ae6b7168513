/*
 * Metric sets: name and label validation, duplicate series, UTF-8 repair,
 * merging with extra labels.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "metrics.h"

#define L(n, v) ((struct label){(char *)(n), (char *)(v)})

static void metric_names_follow_the_prometheus_rules(void **state)
{
	(void)state;
	assert_true(metric_name_valid("pg_up"));
	assert_true(metric_name_valid("_x"));
	assert_true(metric_name_valid("job:rate5m:sum"));
	assert_true(metric_name_valid("a1"));
	assert_false(metric_name_valid(""));
	assert_false(metric_name_valid("1a"));
	assert_false(metric_name_valid("pg-up"));
	assert_false(metric_name_valid("pg up"));
	assert_false(metric_name_valid("caf\xc3\xa9"));
	assert_false(metric_name_valid(NULL));
}

static void label_names_follow_the_prometheus_rules(void **state)
{
	(void)state;
	assert_true(label_name_valid("datname"));
	assert_true(label_name_valid("_x"));
	assert_true(label_name_valid("le"));
	assert_false(label_name_valid("__name__"));
	assert_false(label_name_valid("__x"));
	assert_false(label_name_valid("a:b"));
	assert_false(label_name_valid("0a"));
	assert_false(label_name_valid(""));
	assert_false(label_name_valid(NULL));
}

static void type_names_are_the_format_words(void **state)
{
	(void)state;
	assert_string_equal(metric_type_name(METRIC_UNTYPED), "untyped");
	assert_string_equal(metric_type_name(METRIC_GAUGE), "gauge");
	assert_string_equal(metric_type_name(METRIC_COUNTER), "counter");
	assert_string_equal(metric_type_name(METRIC_INFO), "info");
	assert_string_equal(metric_type_name(METRIC_HISTOGRAM), "histogram");
}

static void family_is_found_again_by_name(void **state)
{
	struct mset *m = mset_new();
	struct err e = ERR_INIT;
	struct family *f;

	(void)state;
	f = mset_family(m, "pg_up", METRIC_GAUGE, "Up.", &e);
	assert_non_null(f);
	assert_ptr_equal(mset_family(m, "pg_up", METRIC_GAUGE, "Other.", &e),
			 f);
	assert_string_equal(f->help, "Up.");
	assert_int_equal(m->n, 1);
	assert_false(err_isset(&e));
	mset_free(m);
}

static void family_refuses_bad_names_types_and_conventions(void **state)
{
	static const struct {
		const char *name;
		enum metric_type type;
		const char *msg;
	} cases[] = {
		{"pg-up", METRIC_GAUGE, "invalid metric name 'pg-up'"},
		{"pg_up", METRIC_COUNTER,
		 "metric 'pg_up' is a gauge, not a counter"},
		{"pg_version", METRIC_INFO,
		 "info metric 'pg_version' must end in _info"},
		{"pg_lat_bucket", METRIC_HISTOGRAM,
		 "histogram 'pg_lat_bucket' must not end in _bucket, _sum "
		 "or _count"},
		/* one OpenMetrics family name for two families */
		{"pg_up_total", METRIC_COUNTER,
		 "metric 'pg_up_total' clashes with gauge 'pg_up' in "
		 "OpenMetrics"},
		{"pg_up_info", METRIC_INFO,
		 "metric 'pg_up_info' clashes with gauge 'pg_up' in "
		 "OpenMetrics"},
		/* a histogram's sample names */
		{"pg_lat_sum", METRIC_GAUGE,
		 "metric 'pg_lat_sum' clashes with histogram 'pg_lat'"},
		{"pg_size", METRIC_HISTOGRAM,
		 "metric 'pg_size' clashes with gauge 'pg_size_count'"},
	};
	struct mset *m = mset_new();
	struct err e = ERR_INIT;
	size_t i;

	(void)state;
	assert_non_null(mset_family(m, "pg_up", METRIC_GAUGE, "", &e));
	assert_non_null(mset_family(m, "pg_lat", METRIC_HISTOGRAM, "", &e));
	assert_non_null(mset_family(m, "pg_size_count", METRIC_GAUGE, "", &e));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err_clear(&e);
		assert_null(
			mset_family(m, cases[i].name, cases[i].type, "", &e));
		assert_string_equal(e.msg, cases[i].msg);
	}
	assert_int_equal(m->n, 3);
	mset_free(m);
}

static void samples_keep_their_labels_and_values(void **state)
{
	struct label l[] = {L("datname", "postgres"), L("mode", "x")};
	struct mset *m = mset_new();
	struct family *f;

	(void)state;
	f = mset_family(m, "pg_locks", METRIC_GAUGE, "Locks.", NULL);
	assert_int_equal(mset_add(m, f, "", l, 2, 3.5, NULL), 0);
	assert_int_equal(mset_add(m, f, NULL, NULL, 0, 1, NULL), 0);
	assert_int_equal(f->n, 2);
	assert_int_equal(m->nseries, 2);
	assert_string_equal(f->samples[0].suffix, "");
	assert_int_equal(f->samples[0].nlabels, 2);
	assert_string_equal(f->samples[0].labels[0].name, "datname");
	assert_string_equal(f->samples[0].labels[0].value, "postgres");
	assert_string_equal(f->samples[0].labels[1].name, "mode");
	assert_true(f->samples[0].value == 3.5);
	assert_int_equal(f->samples[1].nlabels, 0);
	mset_free(m);
}

static void the_metrics_of_one_row_share_its_labels(void **state)
{
	struct label l[] = {L("datname", "db1"), L("relname", "t1")};
	struct label swapped[] = {L("relname", "t1"), L("datname", "db1")};
	struct label bad[] = {L("datname", "db\xff"), L("relname", "t1")};
	struct mset *m = mset_new();
	struct family *a, *b, *c;

	(void)state;
	a = mset_family(m, "tab_size_bytes", METRIC_GAUGE, "Size.", NULL);
	b = mset_family(m, "tab_dead_rows", METRIC_GAUGE, "Dead.", NULL);
	c = mset_family(m, "tab_rows", METRIC_GAUGE, "Rows.", NULL);
	assert_int_equal(mset_add(m, a, "", l, 2, 1, NULL), 0);
	assert_int_equal(mset_add(m, b, "", l, 2, 2, NULL), 0);
	/* one block for the row: the labels are the same memory */
	assert_ptr_equal(a->samples[0].labels, b->samples[0].labels);
	/* and still one series per family: the duplicate is found */
	assert_int_equal(mset_add(m, b, "", l, 2, 3, NULL), 1);
	/* another order is its own block, its labels in the caller's order */
	assert_int_equal(mset_add(m, c, "", swapped, 2, 4, NULL), 0);
	assert_ptr_not_equal(c->samples[0].labels, a->samples[0].labels);
	assert_string_equal(c->samples[0].labels[0].name, "relname");
	/* a value repaired as UTF-8 is not the caller's: not shared */
	assert_int_equal(mset_add(m, a, "", bad, 2, 5, NULL), 0);
	assert_int_equal(mset_add(m, b, "", bad, 2, 6, NULL), 0);
	assert_string_equal(b->samples[1].labels[0].value, "db\xef\xbf\xbd");
	assert_int_equal(m->nseries, 5);
	mset_free(m);
}

static void duplicate_series_is_dropped_and_counted(void **state)
{
	struct label a[] = {L("datname", "db"), L("mode", "x")};
	struct label b[] = {L("mode", "x"), L("datname", "db")};
	struct label c[] = {L("mode", "y"), L("datname", "db")};
	struct mset *m = mset_new();
	struct family *f;

	(void)state;
	f = mset_family(m, "pg_locks", METRIC_GAUGE, "Locks.", NULL);
	assert_int_equal(mset_add(m, f, "", a, 2, 1, NULL), 0);
	/* the same labels in another order are the same series */
	assert_int_equal(mset_add(m, f, "", b, 2, 2, NULL), 1);
	assert_int_equal(mset_add(m, f, "", c, 2, 3, NULL), 0);
	assert_int_equal(mset_add(m, f, "", NULL, 0, 4, NULL), 0);
	assert_int_equal(mset_add(m, f, "", NULL, 0, 5, NULL), 1);
	assert_int_equal(f->n, 3);
	assert_true(f->samples[0].value == 1);
	assert_int_equal(m->dropped, 2);
	assert_int_equal(m->nseries, 3);
	mset_free(m);
}

static void label_values_are_not_confused_with_separators(void **state)
{
	struct label a[] = {L("a", "x"), L("b", "y")};
	struct label b[] = {L("a", "x\"b=y")};
	struct label c[] = {L("a", "xb"), L("b", "y")};
	struct mset *m = mset_new();
	struct family *f;

	(void)state;
	f = mset_family(m, "pg_x", METRIC_GAUGE, "", NULL);
	assert_int_equal(mset_add(m, f, "", a, 2, 1, NULL), 0);
	assert_int_equal(mset_add(m, f, "", b, 1, 1, NULL), 0);
	assert_int_equal(mset_add(m, f, "", c, 2, 1, NULL), 0);
	assert_int_equal(m->dropped, 0);
	mset_free(m);
}

static void invalid_or_repeated_labels_are_dropped_with_error(void **state)
{
	struct label bad[] = {L("datname", "db"), L("data-name", "x")};
	struct label twice[] = {L("datname", "a"), L("datname", "b")};
	struct mset *m = mset_new();
	struct err e = ERR_INIT;
	struct family *f;

	(void)state;
	f = mset_family(m, "pg_x", METRIC_GAUGE, "", NULL);
	assert_int_equal(mset_add(m, f, "", bad, 2, 1, &e), -1);
	assert_string_equal(e.msg, "metric 'pg_x': invalid label name "
				   "'data-name'");
	err_clear(&e);
	assert_int_equal(mset_add(m, f, "", twice, 2, 1, &e), -1);
	assert_string_equal(e.msg, "metric 'pg_x': label 'datname' repeated");
	assert_int_equal(f->n, 0);
	assert_int_equal(m->dropped, 2);
	mset_free(m);
}

static void suffixes_must_fit_the_type(void **state)
{
	struct label le[] = {L("le", "0.5")};
	struct mset *m = mset_new();
	struct err e = ERR_INIT;
	struct family *g, *h;

	(void)state;
	g = mset_family(m, "pg_g", METRIC_GAUGE, "", NULL);
	h = mset_family(m, "pg_h", METRIC_HISTOGRAM, "", NULL);
	assert_int_equal(mset_add(m, g, "_sum", NULL, 0, 1, &e), -1);
	assert_string_equal(e.msg, "gauge 'pg_g' has no '_sum' samples");
	err_clear(&e);
	assert_int_equal(mset_add(m, h, "", NULL, 0, 1, &e), -1);
	assert_string_equal(
		e.msg,
		"histogram 'pg_h': a sample needs _bucket, _sum or _count");
	err_clear(&e);
	assert_int_equal(mset_add(m, h, "_bucket", NULL, 0, 1, &e), -1);
	assert_string_equal(e.msg, "histogram 'pg_h': bucket without 'le'");
	err_clear(&e);
	assert_int_equal(mset_add(m, h, "_count", le, 1, 1, &e), -1);
	assert_string_equal(e.msg, "histogram 'pg_h': 'le' on _count");
	assert_int_equal(mset_add(m, h, "_bucket", le, 1, 1, NULL), 0);
	assert_int_equal(mset_add(m, h, "_sum", NULL, 0, 1, NULL), 0);
	assert_int_equal(mset_add(m, h, "_count", NULL, 0, 1, NULL), 0);
	assert_int_equal(h->n, 3);
	assert_string_equal(h->samples[0].suffix, "_bucket");
	assert_int_equal(m->dropped, 4);
	mset_free(m);
}

static void invalid_utf8_in_label_values_becomes_replacement_chars(void **state)
{
	struct label bad[] = {L("datname", "caf\xe9"), L("ok", "caf\xc3\xa9")};
	struct label same[] = {L("datname", "caf\xff"), L("ok", "caf\xc3\xa9")};
	struct mset *m = mset_new();
	struct family *f;

	(void)state;
	f = mset_family(m, "pg_x", METRIC_GAUGE, "", NULL);
	assert_int_equal(mset_add(m, f, "", bad, 2, 1, NULL), 0);
	assert_string_equal(f->samples[0].labels[0].value, "caf\xef\xbf\xbd");
	assert_string_equal(f->samples[0].labels[1].value, "caf\xc3\xa9");
	/* the repaired value is the series: one bad byte or another */
	assert_int_equal(mset_add(m, f, "", same, 2, 1, NULL), 1);
	mset_free(m);
}

static void many_labels_are_accepted(void **state)
{
	static const char *const names[] = {
		"l20", "l19", "l18", "l17", "l16", "l15", "l14",
		"l13", "l12", "l11", "l10", "l9",  "l8",  "l7",
		"l6",  "l5",  "l4",  "l3",  "l2",  "l1",
	};
	struct label l[20];
	struct mset *m = mset_new();
	struct family *f;
	size_t i;

	(void)state;
	for (i = 0; i < 20; i++)
		l[i] = L(names[i], "v");
	f = mset_family(m, "pg_x", METRIC_GAUGE, "", NULL);
	assert_int_equal(mset_add(m, f, "", l, 20, 1, NULL), 0);
	assert_int_equal(mset_add(m, f, "", l, 20, 1, NULL), 1);
	l[19] = L("l20", "v");
	assert_int_equal(mset_add(m, f, "", l, 20, 1, NULL), -1);
	assert_string_equal(f->samples[0].labels[0].name, "l20");
	mset_free(m);
}

static void merge_appends_extra_labels(void **state)
{
	struct label db[] = {L("datname", "postgres")};
	struct label extra[] = {L("target", "main"), L("role", "primary")};
	struct mset *src = mset_new(), *dst = mset_new();
	const struct sample *s;
	struct family *f;

	(void)state;
	f = mset_family(src, "pg_database_size_bytes", METRIC_GAUGE, "Size.",
			NULL);
	mset_add(src, f, "", db, 1, 42, NULL);
	mset_add(src, f, "", NULL, 0, 7, NULL);
	assert_int_equal(mset_merge(dst, src, extra, 2), 0);
	assert_int_equal(dst->n, 1);
	f = dst->fams[0];
	assert_string_equal(f->name, "pg_database_size_bytes");
	assert_string_equal(f->help, "Size.");
	assert_int_equal(f->n, 2);
	s = &f->samples[0];
	assert_int_equal(s->nlabels, 3);
	assert_string_equal(s->labels[0].name, "datname");
	assert_string_equal(s->labels[1].name, "target");
	assert_string_equal(s->labels[1].value, "main");
	assert_string_equal(s->labels[2].value, "primary");
	assert_true(s->value == 42);
	assert_int_equal(f->samples[1].nlabels, 2);
	mset_free(src);
	mset_free(dst);
}

static void merge_drops_duplicates_clashes_and_repeated_labels(void **state)
{
	struct label tgt[] = {L("target", "other")};
	struct label extra[] = {L("target", "main")};
	struct mset *a = mset_new(), *b = mset_new(), *dst = mset_new();
	struct family *f;

	(void)state;
	f = mset_family(a, "pg_up", METRIC_GAUGE, "", NULL);
	mset_add(a, f, "", NULL, 0, 1, NULL);
	f = mset_family(a, "pg_x", METRIC_GAUGE, "", NULL);
	mset_add(a, f, "", tgt, 1, 1, NULL);
	f = mset_family(b, "pg_up", METRIC_COUNTER, "", NULL);
	mset_add(b, f, "", NULL, 0, 1, NULL);
	mset_add(b, f, "", tgt, 1, 1, NULL);

	/* pg_x already has a 'target' label: extra repeats it */
	assert_int_equal(mset_merge(dst, a, extra, 1), 1);
	/* the same samples again are duplicates */
	assert_int_equal(mset_merge(dst, a, extra, 1), 2);
	/* pg_up is a gauge in dst: both counter samples go */
	assert_int_equal(mset_merge(dst, b, NULL, 0), 2);
	assert_int_equal(dst->n, 2);
	assert_int_equal(dst->fams[0]->n, 1);
	assert_int_equal(dst->fams[1]->n, 0);
	assert_int_equal(dst->dropped, 5);
	mset_free(a);
	mset_free(b);
	mset_free(dst);
}

/* Samples 'from' .. 'to' - 1 of pg_t{i="<n>"}, value n, in 'm'. */
static struct family *add_range(struct mset *m, int from, int to)
{
	struct family *f = mset_family(m, "pg_t", METRIC_GAUGE, "T.", NULL);
	char buf[16];
	struct label l = L("i", buf);
	int i;

	for (i = from; i < to; i++) {
		snprintf(buf, sizeof(buf), "%d", i);
		assert_int_equal(mset_add(m, f, "", &l, 1, i, NULL), 0);
	}
	return f;
}

static void merge_shares_samples_and_outlives_its_source(void **state)
{
	struct mset *src = mset_new(), *mid = mset_new(), *dst = mset_new();
	struct family *f, *df;
	int i;

	(void)state;
	f = add_range(src, 0, 40);
	assert_int_equal(mset_merge(mid, src, NULL, 0), 0);
	assert_int_equal(mset_merge(dst, mid, NULL, 0), 0);
	df = dst->fams[0];
	/* the labels are the source's, not copies */
	assert_ptr_equal(df->samples[7].labels, f->samples[7].labels);
	assert_ptr_equal(df->name, f->name);
	mset_free(src);
	mset_free(mid);
	/* the blocks live as long as a set that shares them */
	assert_string_equal(df->name, "pg_t");
	assert_string_equal(df->help, "T.");
	assert_int_equal(df->n, 40);
	for (i = 0; i < 40; i++) {
		char want[16];

		snprintf(want, sizeof(want), "%d", i);
		assert_string_equal(df->samples[i].labels[0].name, "i");
		assert_string_equal(df->samples[i].labels[0].value, want);
		assert_true(df->samples[i].value == i);
	}
	assert_int_equal(dst->nseries, 40);
	mset_free(dst);
}

static void merges_into_one_family_find_duplicates_at_any_size(void **state)
{
	struct mset *a = mset_new(), *b = mset_new(), *dst = mset_new();
	char buf[16];
	struct label l = L("i", buf);
	struct family *df;

	(void)state;
	add_range(a, 0, 100);
	add_range(b, 50, 150);
	/* the first merge fills the family as it is; the second checks */
	assert_int_equal(mset_merge(dst, a, NULL, 0), 0);
	assert_int_equal(mset_merge(dst, b, NULL, 0), 50);
	df = dst->fams[0];
	assert_int_equal(df->n, 150);
	assert_int_equal(dst->nseries, 150);
	assert_int_equal(dst->dropped, 50);
	/* and so does an add after a merge */
	snprintf(buf, sizeof(buf), "%d", 3);
	assert_int_equal(mset_add(dst, df, "", &l, 1, 0, NULL), 1);
	snprintf(buf, sizeof(buf), "%d", 150);
	assert_int_equal(mset_add(dst, df, "", &l, 1, 0, NULL), 0);
	assert_int_equal(mset_merge(dst, a, NULL, 0), 100);
	mset_free(a);
	mset_free(b);
	assert_int_equal(df->n, 151);
	assert_string_equal(df->samples[150].labels[0].value, "150");
	assert_string_equal(df->samples[149].labels[0].value, "149");
	mset_free(dst);
}

static void
a_sealed_set_gives_back_its_tables_and_still_finds_duplicates(void **state)
{
	struct mset *m = mset_new();
	char buf[16];
	struct label l = L("i", buf);
	struct family *f;

	(void)state;
	add_range(m, 0, 100);
	f = m->fams[0];
	assert_true(f->nkeys > 0); /* made by the adds */
	assert_true(f->alloc > f->n);
	mset_seal(m);
	assert_int_equal(f->nkeys, 0);
	assert_null(f->keys);
	assert_int_equal(f->alloc, f->n);
	assert_string_equal(f->samples[99].labels[0].value, "99");
	/* an add after all makes the table again from the samples */
	snprintf(buf, sizeof(buf), "%d", 42);
	assert_int_equal(mset_add(m, f, "", &l, 1, 0, NULL), 1);
	snprintf(buf, sizeof(buf), "%d", 100);
	assert_int_equal(mset_add(m, f, "", &l, 1, 0, NULL), 0);
	assert_int_equal(f->n, 101);
	mset_free(m);
}

static void a_reference_keeps_a_set_alive(void **state)
{
	struct mset *m = mset_new();

	(void)state;
	add_range(m, 0, 3);
	assert_ptr_equal(mset_ref(m), m);
	mset_free(m);
	/* still there: one reference left */
	assert_int_equal(m->fams[0]->n, 3);
	assert_string_equal(m->fams[0]->samples[2].labels[0].value, "2");
	mset_free(m);
}

static void free_accepts_null(void **state)
{
	(void)state;
	mset_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(metric_names_follow_the_prometheus_rules),
		cmocka_unit_test(label_names_follow_the_prometheus_rules),
		cmocka_unit_test(type_names_are_the_format_words),
		cmocka_unit_test(family_is_found_again_by_name),
		cmocka_unit_test(
			family_refuses_bad_names_types_and_conventions),
		cmocka_unit_test(samples_keep_their_labels_and_values),
		cmocka_unit_test(the_metrics_of_one_row_share_its_labels),
		cmocka_unit_test(duplicate_series_is_dropped_and_counted),
		cmocka_unit_test(label_values_are_not_confused_with_separators),
		cmocka_unit_test(
			invalid_or_repeated_labels_are_dropped_with_error),
		cmocka_unit_test(suffixes_must_fit_the_type),
		cmocka_unit_test(
			invalid_utf8_in_label_values_becomes_replacement_chars),
		cmocka_unit_test(many_labels_are_accepted),
		cmocka_unit_test(merge_appends_extra_labels),
		cmocka_unit_test(
			merge_drops_duplicates_clashes_and_repeated_labels),
		cmocka_unit_test(merge_shares_samples_and_outlives_its_source),
		cmocka_unit_test(
			merges_into_one_family_find_duplicates_at_any_size),
		cmocka_unit_test(
			a_sealed_set_gives_back_its_tables_and_still_finds_duplicates),
		cmocka_unit_test(a_reference_keeps_a_set_alive),
		cmocka_unit_test(free_accepts_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
