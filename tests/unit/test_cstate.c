/*
 * The collection state of a target: ttl cache, log-once, forgetting what
 * is stale, estimates, dropped counts, privilege verdicts and the second
 * session's retry time. Times are passed in, so nothing sleeps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cstate.h"
#include "querydef.h"
#include "unit.h"

static void the_cache_serves_until_the_ttl_ends(void **state)
{
	struct cstate *cs = cstate_new();
	struct cache_entry *ce;

	(void)state;
	cstate_cache_put(cs, "locks", NULL, mset_new(), 110, 0.5, 3);
	cstate_cache_put(cs, "tables", "app", mset_new(), 120, 1, 0);
	ce = cstate_cache_get(cs, "locks", "", 109.9);
	assert_non_null(ce);
	assert_true(ce->seconds == 0.5);
	assert_int_equal(ce->dropped, 3);
	assert_null(cstate_cache_get(cs, "locks", NULL, 110));
	assert_null(cstate_cache_get(cs, "tables", NULL, 100));
	assert_non_null(cstate_cache_get(cs, "tables", "app", 100));
	assert_int_equal(cstate_cache_count(cs), 2);
	cstate_forget_stale(cs, 115, NULL, NULL);
	assert_int_equal(cstate_cache_count(cs), 1);
	cstate_free(cs);
}

static void a_message_is_news_when_it_starts_changes_or_ends(void **state)
{
	struct cstate *cs = cstate_new();
	struct logkey k = {ONCE_FAILED, "locks", NULL};
	struct logkey other = {ONCE_WARN, "locks", NULL};

	(void)state;
	assert_false(cstate_report(cs, &k, NULL));
	assert_true(cstate_report(cs, &k, "timeout"));
	assert_false(cstate_report(cs, &k, "timeout"));
	assert_false(cstate_report(cs, &other, NULL));
	assert_true(cstate_report(cs, &k, "denied"));
	assert_true(cstate_report(cs, &k, NULL));
	assert_false(cstate_report(cs, &k, NULL));
	cstate_free(cs);
}

static void entries_of_a_database_that_went_are_forgotten(void **state)
{
	static const char yaml[] = "fixtures/queries/gate.yaml";
	struct queryset qs = QUERYSET_INIT;
	struct diags d = DIAGS_INIT;
	struct cstate *cs = cstate_new();
	char *dbs[] = {(char *)"app", NULL};
	struct logkey gone = {ONCE_DB, NULL, "old"};
	struct logkey here = {ONCE_DB, NULL, "app"};
	struct logkey warn = {ONCE_WARN, "anywhere", "old"};
	struct logkey cluster = {ONCE_FAILED, "anywhere", "old"};
	struct logkey skip = {ONCE_SKIP, "anywhere", NULL};

	(void)state;
	assert_int_equal(querydef_load_path(&qs, yaml, &d), 0);
	assert_true(cstate_report(cs, &gone, "refused"));
	assert_true(cstate_report(cs, &here, "refused"));
	assert_true(cstate_report(cs, &warn, "no file"));
	assert_true(cstate_report(cs, &cluster, "failed"));
	assert_true(cstate_report(cs, &skip, "tags"));
	cstate_forget_stale(cs, 0, dbs, &qs);
	/* forgotten: the same message is news again */
	assert_true(cstate_report(cs, &gone, "refused"));
	assert_true(cstate_report(cs, &warn, "no file"));
	/* kept: a cluster collector's failure is not about a database */
	assert_false(cstate_report(cs, &here, "refused"));
	assert_false(cstate_report(cs, &cluster, "failed"));
	assert_false(cstate_report(cs, &skip, "tags"));
	cstate_free(cs);
	queryset_release(&qs);
	diags_release(&d);
}

static void a_database_result_is_kept_until_its_next_visit(void **state)
{
	static const char yaml[] = "fixtures/queries/good.yaml";
	struct queryset qs = QUERYSET_INIT;
	struct diags d = DIAGS_INIT;
	struct cstate *cs = cstate_new();
	char *dbs[] = {(char *)"app", NULL};

	(void)state;
	assert_int_equal(querydef_load_path(&qs, yaml, &d), 0);
	/* stat_database runs per database, database_size in the cluster */
	cstate_cache_put(cs, "stat_database", "app", mset_new(), 10, 1, 0);
	cstate_cache_put(cs, "stat_database", "old", mset_new(), 10, 1, 0);
	cstate_cache_put(cs, "database_size", NULL, mset_new(), 10, 1, 0);
	cstate_forget_stale(cs, 20, dbs, &qs);
	/* expired: not fresh, but served until the next visit replaces it */
	assert_null(cstate_cache_get(cs, "stat_database", "app", 20));
	assert_non_null(cstate_cache_kept(cs, "stat_database", "app"));
	/* a database that went, and a cluster collector's, are forgotten */
	assert_null(cstate_cache_kept(cs, "stat_database", "old"));
	assert_null(cstate_cache_kept(cs, "database_size", NULL));
	assert_int_equal(cstate_cache_count(cs), 1);
	/* a failed visit drops it */
	cstate_cache_drop(cs, "stat_database", "app");
	assert_null(cstate_cache_kept(cs, "stat_database", "app"));
	cstate_forget_stale(cs, 20, dbs, &qs);
	assert_int_equal(cstate_cache_count(cs), 0);
	cstate_free(cs);
	queryset_release(&qs);
	diags_release(&d);
}

static void sticky_keys_live_until_they_expire(void **state)
{
	struct cstate *cs = cstate_new();
	struct strmap *m = cstate_sticky(cs, "tables", "app");
	double *exp = malloc(sizeof(*exp));

	(void)state;
	*exp = 50;
	strmap_set(m, "t1", exp);
	assert_ptr_equal(cstate_sticky(cs, "tables", "app"), m);
	cstate_forget_stale(cs, 49, NULL, NULL);
	assert_int_equal(m->n, 1);
	cstate_forget_stale(cs, 50, NULL, NULL);
	/* the empty map went too: a new one is made */
	m = cstate_sticky(cs, "tables", "app");
	assert_int_equal(m->n, 0);
	cstate_free(cs);
}

static void estimates_keep_the_last_query_time(void **state)
{
	struct cstate *cs = cstate_new();
	double v[3] = {1, 0, 2}, out[4];
	bool set[3] = {true, false, true};

	(void)state;
	cstate_est_get(cs, 2, out);
	assert_true(out[0] == 0 && out[1] == 0);
	/* the first time every collector gets a time, even 0 */
	cstate_est_set(cs, 3, v, set);
	v[0] = 5;
	v[1] = 7;
	v[2] = 0;
	set[2] = false;
	cstate_est_set(cs, 3, v, set);
	cstate_est_get(cs, 4, out);
	assert_true(out[0] == 5 && out[1] == 0 && out[2] == 2 && out[3] == 0);
	cstate_free(cs);
}

static void dropped_series_add_up(void **state)
{
	struct cstate *cs = cstate_new();
	size_t add[2] = {2, 0};
	unsigned long total[2];

	(void)state;
	cstate_dropped_add(cs, 2, add, total);
	add[1] = 4;
	cstate_dropped_add(cs, 2, add, total);
	assert_int_equal(total[0], 4);
	assert_int_equal(total[1], 4);
	cstate_free(cs);
}

static void privileges_and_sharing_are_remembered(void **state)
{
	struct cstate *cs = cstate_new();

	(void)state;
	assert_int_equal(cstate_priv_get(cs, 4, 5), PRIV_UNCHECKED);
	cstate_priv_set(cs, 4, 5, PRIV_UNSAFE);
	cstate_priv_set(cs, 1, 5, PRIV_LACKING);
	assert_int_equal(cstate_priv_get(cs, 4, 5), PRIV_UNSAFE);
	assert_int_equal(cstate_priv_get(cs, 1, 5), PRIV_LACKING);
	assert_int_equal(cstate_priv_get(cs, 0, 5), PRIV_UNCHECKED);
	assert_true(cstate_share_allowed(cs, 0));
	cstate_share_defer(cs, 60);
	assert_false(cstate_share_allowed(cs, 59.9));
	assert_true(cstate_share_allowed(cs, 60));
	cstate_free(cs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_cache_serves_until_the_ttl_ends),
		cmocka_unit_test(
			a_message_is_news_when_it_starts_changes_or_ends),
		cmocka_unit_test(entries_of_a_database_that_went_are_forgotten),
		cmocka_unit_test(sticky_keys_live_until_they_expire),
		cmocka_unit_test(
			a_database_result_is_kept_until_its_next_visit),
		cmocka_unit_test(estimates_keep_the_last_query_time),
		cmocka_unit_test(dropped_series_add_up),
		cmocka_unit_test(privileges_and_sharing_are_remembered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
