/*
 * The database visit scheduler: the first pass free, then a login budget
 * spent on the databases that matter first and the others in turn. Times
 * are passed in, so nothing sleeps and no server is needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "visits.h"
#include "unit.h"

#define NDBS  30
#define EVERY 15.0 /* seconds between scrapes */

static char *names[NDBS + 1];

static int make_names(void **state)
{
	(void)state;
	for (int i = 0; i < NDBS; i++) {
		names[i] = malloc(8);
		snprintf(names[i], 8, "d%02d", i);
	}
	names[NDBS] = NULL;
	return 0;
}

static int free_names(void **state)
{
	(void)state;
	for (int i = 0; i < NDBS; i++)
		free(names[i]);
	return 0;
}

static const struct visit_rules rules = {
	.logins_per_scrape = 1, .max_staleness = 600, .min_ttl = 60};

static int index_of(const char *db)
{
	return (int)strtol(db + 1, NULL, 10);
}

/*
 * One scrape at 'now': plan, visit what the plan says (each visit done),
 * count the logins that cost a token in '*paid'. Returns how many.
 */
static size_t scrape_with(struct visits *v, const struct visit_rules *r,
			  char **dbs, double now, double last[NDBS],
			  size_t *paid)
{
	struct visit_plan p;
	size_t n;

	visits_plan(v, dbs, r, now, &p);
	n = p.nvisit;
	for (size_t i = 0; i < p.nvisit; i++) {
		if (last[index_of(p.visit[i])] > 0)
			(*paid)++;
		last[index_of(p.visit[i])] = now;
		visits_done(v, p.visit[i], VISIT_DONE, now, 0.01, 1000 + now);
	}
	/* every database is either visited or served what it had */
	assert_int_equal(p.nvisit + p.nkeep, NDBS);
	visits_plan_release(&p);
	return n;
}

static size_t scrape(struct visits *v, char **dbs, double now,
		     double last[NDBS], size_t *paid)
{
	return scrape_with(v, &rules, dbs, now, last, paid);
}

static void a_small_cluster_visits_every_database(void **state)
{
	struct visits *v = visits_new();
	char *few[] = {names[0], names[1], names[2], NULL};
	struct visit_plan p;

	(void)state;
	assert_false(visits_budgeted(&rules, 20));
	assert_true(visits_budgeted(&rules, 21));
	visits_plan(v, few, &rules, 10, &p);
	assert_int_equal(p.nvisit, 3);
	assert_false(p.budget);
	/* the least recently visited first: d01 waits longest */
	visits_done(v, "d01", VISIT_DONE, 10, 0.1, 100);
	visits_done(v, "d00", VISIT_DONE, 11, 0.1, 101);
	visits_done(v, "d02", VISIT_DONE, 12, 0.1, 102);
	visits_plan_release(&p);
	visits_plan(v, few, &rules, 20, &p);
	assert_int_equal(p.nvisit, 3);
	assert_string_equal(p.visit[0], "d01");
	assert_string_equal(p.visit[2], "d02");
	/* due when the ttl ran out, found at the next scrape */
	assert_true(visits_bound(v) == 60 + 10);
	visits_plan_release(&p);
	visits_free(v);
}

static void after_the_first_pass_one_login_per_scrape_in_turn(void **state)
{
	struct visits *v = visits_new();
	double last[NDBS] = {0};
	size_t paid = 0, n;
	double now = 100;

	(void)state;
	/* the first pass: every database at once, at no cost */
	assert_int_equal(scrape(v, names, now, last, &paid), NDBS);
	assert_int_equal(paid, 0);
	/*
	 * then 60 scrapes: 60 tokens and the one of the first; saved while
	 * every result is fresher than the ttl (at most VISITS_BURST), spent
	 * when they are due
	 */
	for (int k = 1; k <= 60; k++) {
		now += EVERY;
		n = scrape(v, names, now, last, &paid);
		assert_true(n <= VISITS_BURST);
	}
	assert_true(paid >= 61 - VISITS_BURST && paid <= 61);
	/* in turn: none waited more than twice the others' round */
	for (int i = 0; i < NDBS; i++)
		assert_true(now - last[i] <= NDBS * EVERY + EVERY);
	/* a round (30 * 15 s) is within database_max_staleness */
	assert_true(visits_bound(v) == 600);
	visits_free(v);
}

/*
 * 30 databases at one login per 15 s scrape: a round takes 450 s. With a
 * bound of 300 s, the database holding selected rows is revisited within
 * it, the others at the pace of the round.
 */
static void revisits(bool selected, double *gap7, double *gap_other)
{
	struct visits *v = visits_new();
	struct visit_rules r = rules;
	double last[NDBS] = {0};
	struct strmap sel = STRMAP_INIT;
	size_t paid = 0;
	double now = 100, prev[NDBS];

	r.max_staleness = 300;
	assert_true(visits_bound(v) == 0); /* not known yet */
	strmap_put(&sel, "d07", &sel, NULL);
	scrape_with(v, &r, names, now, last, &paid);
	for (int i = 0; i < NDBS; i++)
		prev[i] = now;
	*gap7 = *gap_other = 0;
	for (int k = 1; k <= 200; k++) {
		now += EVERY;
		if (selected)
			visits_note_selected(v, &sel, now);
		scrape_with(v, &r, names, now, last, &paid);
		for (int i = 0; i < NDBS; i++) {
			double *gap = i == 7 ? gap7 : gap_other;

			if (last[i] != now)
				continue;
			if (now - prev[i] > *gap)
				*gap = now - prev[i];
			prev[i] = now;
		}
	}
	/* the round, 30 * 15 s, is longer than the bound for those */
	assert_true(visits_bound(v) == 450);
	strmap_release(&sel);
	visits_free(v);
}

static void
a_database_with_selected_rows_is_revisited_within_the_bound(void **state)
{
	double gap7, gap_other;

	(void)state;
	revisits(false, &gap7, &gap_other);
	assert_true(gap7 > 300); /* unselected, it waits the whole round */
	revisits(true, &gap7, &gap_other);
	assert_true(gap7 > 0 && gap7 <= 300);
	/* the others still go round, a little slower */
	assert_true(gap_other > 0 && gap_other <= 600);
}

static void a_jump_in_activity_moves_a_database_up(void **state)
{
	struct visits *v = visits_new();
	double last[NDBS] = {0};
	size_t paid = 0;
	double now = 100;
	struct visit_plan p;

	(void)state;
	scrape(v, names, now, last, &paid);
	for (int k = 1; k <= 3; k++) {
		now += EVERY;
		for (int i = 0; i < NDBS; i++)
			visits_note_activity(v, names[i], 10 * k);
		scrape(v, names, now, last, &paid);
	}
	now += EVERY;
	for (int i = 0; i < NDBS; i++)
		visits_note_activity(v, names[i], i == 23 ? 5000 : 40);
	visits_plan(v, names, &rules, now, &p);
	assert_true(p.nvisit >= 1);
	assert_string_equal(p.visit[0], "d23");
	visits_plan_release(&p);
	visits_free(v);
}

static void new_and_dropped_databases_and_what_is_exported(void **state)
{
	struct visits *v = visits_new();
	double last[NDBS] = {0};
	size_t paid = 0, n;
	const char **dbs;
	double *times;
	char *fewer[NDBS + 1];
	struct visit_plan p;

	(void)state;
	scrape(v, names, 100, last, &paid);
	visits_collected(v, &dbs, &times, &n);
	assert_int_equal(n, NDBS);
	assert_true(times[0] == 1100);
	free(dbs);
	free(times);
	/* d29 dropped: forgotten; d00 cut three times, then paid for */
	memcpy(fewer, names, sizeof(fewer));
	fewer[NDBS - 1] = NULL;
	visits_plan(v, fewer, &rules, 200, &p);
	visits_plan_release(&p);
	visits_collected(v, &dbs, &times, &n);
	assert_int_equal(n, NDBS - 1);
	free(dbs);
	free(times);
	/* back again, as a new database: visited first, free */
	visits_plan(v, names, &rules, 215, &p);
	assert_string_equal(p.visit[0], "d29");
	visits_done(v, "d29", VISIT_CUT, 215, 1, 1215);
	visits_plan_release(&p);
	visits_plan(v, names, &rules, 230, &p);
	assert_string_equal(p.visit[0], "d29");
	visits_plan_release(&p);
	visits_collected(v, &dbs, &times, &n);
	assert_int_equal(n, NDBS - 1); /* a cut visit collected nothing */
	free(dbs);
	free(times);
	visits_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_small_cluster_visits_every_database),
		cmocka_unit_test(
			after_the_first_pass_one_login_per_scrape_in_turn),
		cmocka_unit_test(
			a_database_with_selected_rows_is_revisited_within_the_bound),
		cmocka_unit_test(a_jump_in_activity_moves_a_database_up),
		cmocka_unit_test(
			new_and_dropped_databases_and_what_is_exported),
	};

	return cmocka_run_group_tests(tests, make_names, free_names);
}
