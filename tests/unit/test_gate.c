/*
 * Gating without a server: which collectors run on a target given its
 * tags, kind, recovery state, version and installed extensions, and the
 * names of the reasons (the "reason" label of pgpulse_collector_skipped).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gate.h"
#include "querydef.h"
#include "unit.h"

#define FIX "fixtures/queries/gate.yaml"

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

/* A target that was never connected, its facts set by hand. */
struct fake {
	struct target_config tc;
	struct target t;
	char *tags[1];
	char *ext[2], *extv[2];
};

static void fake_init(struct fake *f, int version, bool in_recovery,
		      const char *tag, const char *pgss_version)
{
	memset(f, 0, sizeof(*f));
	f->tc.kind = TARGET_POSTGRES;
	if (tag) {
		f->tags[0] = (char *)tag;
		f->tc.tags = f->tags;
		f->tc.ntags = 1;
	}
	f->t.cfg = &f->tc;
	f->t.facts.version = version;
	f->t.facts.in_recovery = in_recovery;
	if (pgss_version) {
		f->ext[0] = (char *)"pg_stat_statements";
		f->extv[0] = (char *)pgss_version;
		f->t.facts.nextensions = 1;
	}
	f->t.facts.extensions = f->ext;
	f->t.facts.extversions = f->extv;
}

/* The reason 'name' gets on 'f', and the variant (1-based; 0: none). */
static enum gate_reason check(struct fake *f, const char *name, int *variant)
{
	const struct collector *c = queryset_find(&qs, name);
	const struct variant *v = NULL;
	const char *req = "unset";
	enum gate_reason r;

	assert_non_null(c);
	r = gate_check(&f->t, NULL, c, 0, &v, &req);
	*variant = v ? (int)(v - c->variants) + 1 : 0;
	if (r == GATE_REQUIRES)
		assert_string_equal(req, c->requires[0]);
	else
		assert_null(req);
	return r;
}

static void a_primary_runs_what_has_no_conditions_or_fits(void **state)
{
	struct fake f;
	int v;

	(void)state;
	fake_init(&f, 160002, false, "fleet", "1.10");
	assert_int_equal(check(&f, "anywhere", &v), GATE_RUNS);
	assert_int_equal(v, 1);
	assert_int_equal(check(&f, "tagged", &v), GATE_RUNS);
	assert_int_equal(check(&f, "primary", &v), GATE_RUNS);
	assert_int_equal(check(&f, "new", &v), GATE_RUNS);
	assert_int_equal(check(&f, "statements", &v), GATE_RUNS);
	assert_int_equal(v, 1);
}

static void each_condition_has_its_reason(void **state)
{
	struct fake f;
	int v;

	(void)state;
	fake_init(&f, 150004, false, "other", NULL);
	assert_int_equal(check(&f, "tagged", &v), GATE_TAGS);
	assert_int_equal(check(&f, "replica", &v), GATE_ROLE);
	assert_int_equal(check(&f, "new", &v), GATE_VERSION);
	assert_int_equal(v, 0);
	assert_int_equal(check(&f, "statements", &v), GATE_REQUIRES);
	fake_init(&f, 150004, true, NULL, NULL);
	assert_int_equal(check(&f, "primary", &v), GATE_ROLE);
	assert_int_equal(check(&f, "replica", &v), GATE_RUNS);
	assert_int_equal(check(&f, "tagged", &v), GATE_TAGS);
}

static void the_extension_version_picks_the_variant(void **state)
{
	struct fake f;
	int v;

	(void)state;
	fake_init(&f, 140000, false, NULL, "1.9");
	assert_int_equal(check(&f, "statements", &v), GATE_RUNS);
	assert_int_equal(v, 2);
	/* installed, but older than every variant: the version is why */
	fake_init(&f, 140000, false, NULL, "1.7");
	assert_int_equal(check(&f, "statements", &v), GATE_VERSION);
	assert_int_equal(v, 0);
}

static void pgbouncer_has_no_role(void **state)
{
	struct fake f;
	const struct variant *v = NULL;

	(void)state;
	fake_init(&f, 0, true, NULL, NULL);
	f.tc.kind = TARGET_PGBOUNCER;
	assert_int_equal(gate_fixed(&f.tc, &f.t.facts,
				    queryset_find(&qs, "primary"), &v),
			 GATE_RUNS);
}

static void every_reason_has_one_name(void **state)
{
	(void)state;
	assert_null(gate_reason_text(GATE_RUNS));
	assert_string_equal(gate_reason_text(GATE_TAGS), "tags");
	assert_string_equal(gate_reason_text(GATE_ROLE), "role");
	assert_string_equal(gate_reason_text(GATE_REQUIRES), "requires");
	assert_string_equal(gate_reason_text(GATE_VERSION), "version");
	assert_string_equal(gate_reason_text(GATE_PRIVILEGES), "privileges");
	assert_string_equal(gate_reason_text(GATE_UNSAFE), "unsafe");
	assert_null(gate_reason_text((enum gate_reason)99));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_primary_runs_what_has_no_conditions_or_fits),
		cmocka_unit_test(each_condition_has_its_reason),
		cmocka_unit_test(the_extension_version_picks_the_variant),
		cmocka_unit_test(pgbouncer_has_no_role),
		cmocka_unit_test(every_reason_has_one_name),
	};

	return cmocka_run_group_tests(tests, load, unload);
}
