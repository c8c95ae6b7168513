/* The pool's accessors: what the process layer and the dry run read of a
 * target are copies taken under its lock, which outlive later changes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "target.h"
#include "xalloc.h"

struct fixture {
	struct config cfg;
	struct target *t;
};

static int setup(void **st)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct err e = ERR_INIT;

	config_init(&f->cfg);
	assert_int_equal(
		config_add_dsn_target(&f->cfg, "main", TARGET_POSTGRES, "test",
				      "host=/nonexistent dbname=x", &e),
		0);
	f->t = target_new(&f->cfg.targets[0], &f->cfg, &e);
	assert_non_null(f->t);
	*st = f;
	return 0;
}

static int teardown(void **st)
{
	struct fixture *f = *st;

	target_free(f->t);
	config_free(&f->cfg);
	free(f);
	return 0;
}

static char **list(const char *a, const char *b)
{
	char **v = xcalloc(3, sizeof(*v));

	v[0] = xstrdup(a);
	v[1] = xstrdup(b);
	return v;
}

static void test_a_new_target_is_not_up_and_was_never_tried(void **st)
{
	struct fixture *f = *st;
	struct target_status s;

	target_status(f->t, &s);
	assert_false(s.up);
	assert_false(s.ever_up);
	assert_true(s.down_since == 0);
	assert_int_equal(s.pool.attempts, 0);
	assert_int_equal(s.pool.open, 0);
	assert_int_equal(s.pool.max, f->t->nslots);
}

static void test_status_is_a_copy_of_the_pool_state(void **st)
{
	struct fixture *f = *st;
	struct target_status s;

	f->t->up = true;
	f->t->ever_up = true;
	f->t->stats.attempts = 3;
	f->t->stats.failures = 2;
	target_status(f->t, &s);
	f->t->up = false; /* a later change leaves the copy alone */
	assert_true(s.up);
	assert_true(s.ever_up);
	assert_int_equal(s.pool.attempts, 3);
	assert_int_equal(s.pool.failures, 2);
}

static void test_facts_are_a_deep_copy(void **st)
{
	struct fixture *f = *st;
	struct server_facts c;

	target_facts(f->t, &c);
	assert_int_equal(c.version, 0);
	assert_null(c.version_text);
	assert_null(c.databases);
	pgsession_facts_release(&c);

	f->t->facts.version = 150004;
	f->t->facts.version_text = xstrdup("PostgreSQL 15.4 on x86_64");
	f->t->facts.extensions = list("pg_stat_statements", "plpgsql");
	f->t->facts.extversions = list("1.10", "1.0");
	f->t->facts.nextensions = 2;
	f->t->facts.databases = list("app", "postgres");
	target_facts(f->t, &c);
	/* the target reads new facts: the copy keeps the old ones */
	pgsession_facts_release(&f->t->facts);
	assert_int_equal(c.version, 150004);
	assert_string_equal(c.version_text, "PostgreSQL 15.4 on x86_64");
	assert_int_equal(c.nextensions, 2);
	assert_string_equal(c.extensions[1], "plpgsql");
	assert_string_equal(c.extversions[0], "1.10");
	assert_string_equal(c.databases[0], "app");
	assert_string_equal(c.databases[1], "postgres");
	assert_null(c.databases[2]);
	assert_null(c.data_directory);
	pgsession_facts_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_a_new_target_is_not_up_and_was_never_tried, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_status_is_a_copy_of_the_pool_state, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_facts_are_a_deep_copy,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
