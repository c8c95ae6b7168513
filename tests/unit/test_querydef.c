/*
 * Query files: our format and postgres_exporter's, every diagnostic with
 * its exact position, and no crash whatever the input.
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
#include <unistd.h>
#include "querydef.h"
#include "xalloc.h"
#include "unit.h"

#define FIX		"fixtures/queries/"
#define DEBIAN_EXAMPLES "/usr/share/doc/prometheus-postgres-exporter/examples/"

/* Load the files given (NULL-terminated) and compare all diagnostics. */
static void expect_load(struct queryset *qs, int rc, const char *expected, ...)
{
	struct diags d = DIAGS_INIT;
	const char *path;
	int got = 0;
	char *out;
	va_list ap;

	va_start(ap, expected);
	while ((path = va_arg(ap, const char *)))
		if (querydef_load_path(qs, path, &d) < 0)
			got = -1;
	va_end(ap);
	out = diags_text(&d);
	assert_string_equal(out, expected);
	assert_int_equal(got, rc);
	assert_int_equal(rc<0, d.nerrors> 0);
	free(out);
	diags_release(&d);
}

static const struct collector *find(const struct queryset *qs, const char *name)
{
	const struct collector *c = queryset_find(qs, name);

	if (!c)
		fail_msg("no collector '%s'", name);
	return c;
}

static const struct metricdef *column(const struct collector *c,
				      const char *col)
{
	size_t i;

	for (i = 0; i < c->nmetrics; i++)
		if (strcmp(c->metrics[i].column, col) == 0)
			return &c->metrics[i];
	fail_msg("collector '%s' has no column '%s'", c->name, col);
	return NULL;
}

static void every_feature_of_our_format_loads(void **state)
{
	struct queryset qs = QUERYSET_INIT;
	const struct collector *c;
	const struct metricdef *m;

	(void)state;
	expect_load(&qs, 0, "", FIX "good.yaml", NULL);
	assert_int_equal(qs.n, 7);
	assert_string_equal(qs.v[0].name, "database_size");
	assert_string_equal(qs.v[6].name, "pools");

	c = find(&qs, "database_size");
	assert_string_equal(c->help, "Size of each database.");
	assert_string_equal(c->file, FIX "good.yaml");
	assert_int_equal(c->pos.line, 3);
	assert_int_equal(c->pos.column, 3);
	assert_int_equal(c->kind, TARGET_POSTGRES);
	assert_int_equal(c->scope, SCOPE_CLUSTER);
	assert_int_equal(c->role, ROLE_ANY);
	assert_true(c->ttl == 60 && c->timeout == 5);
	assert_false(c->compat);
	assert_int_equal(c->nvariants, 1);
	assert_string_equal(
		c->variants[0].sql,
		"SELECT datname, pg_database_size(oid) AS "
		"size_bytes\nFROM pg_database WHERE datallowconn\n");
	/* A literal block's text starts on the line after '|'. */
	assert_int_equal(c->variants[0].pos.line, 9);
	assert_int_equal(c->variants[0].pos.column, 7);
	m = column(c, "datname");
	assert_int_equal(m->usage, USAGE_LABEL);
	assert_null(m->name);
	m = column(c, "size_bytes");
	assert_int_equal(m->usage, USAGE_GAUGE);
	assert_string_equal(m->name, "pg_database_size_bytes");
	assert_string_equal(m->help,
			    "Disk space used by the database, as PostgreSQL "
			    "reports it. Cached for up to 60 seconds.");
	assert_true(m->scale == 1);
	assert_int_equal(m->pos.line, 13);
	assert_int_equal(m->pos.column, 7);

	c = find(&qs, "stat_database");
	assert_int_equal(c->scope, SCOPE_DATABASE);
	assert_int_equal(c->role, ROLE_PRIMARY);
	assert_int_equal(c->ntags, 2);
	assert_string_equal(c->tags[1], "main");
	assert_int_equal(c->max_series, 5000);
	assert_int_equal(c->variants[0].min_version, 120000);
	assert_int_equal(c->variants[0].max_version, 990000);
	assert_int_equal(c->variants[0].pos.line, 26);
	assert_int_equal(c->variants[0].pos.column, 10);
	m = column(c, "xact_commit");
	assert_int_equal(m->usage, USAGE_COUNTER);
	assert_string_equal(m->name, "stat_database_xact_commit_total");
	assert_string_equal(m->help, "Statistics of the current database "
				     "(column xact_commit).");
	assert_string_equal(column(c, "xact_rollback_total")->name,
			    "stat_database_xact_rollback_total");
	assert_int_equal(column(c, "junk")->usage, USAGE_DISCARD);

	c = find(&qs, "statements");
	assert_int_equal(c->nrequires, 3);
	assert_string_equal(c->requires[0], "pg_stat_statements");
	assert_string_equal(c->requires[1], "setting:track_io_timing=on");
	assert_string_equal(c->requires[2], "setting:compute_query_id");
	assert_int_equal(c->nparams, 2);
	assert_string_equal(c->params[0].name, "top_n");
	assert_string_equal(c->params[0].value, "100");
	assert_string_equal(c->params[1].value, "public");
	assert_int_equal(c->nvariants, 2);
	assert_int_equal(c->variants[0].min_version, 170000);
	assert_int_equal(c->variants[0].max_version, 0);
	assert_int_equal(c->variants[1].min_version, 0);
	assert_int_equal(c->variants[1].max_version, 170000);
	/* A quoted scalar's text starts after the quote. */
	assert_int_equal(c->variants[0].pos.line, 38);
	assert_int_equal(c->variants[0].pos.column, 15);
	m = column(c, "seconds");
	assert_string_equal(m->name, "statements_seconds_total");
	assert_true(m->scale == 0.001);
	assert_true(m->has_null_value && m->null_value == 0);

	c = find(&qs, "settings");
	m = column(c, "info");
	assert_int_equal(m->usage, USAGE_INFO);
	assert_string_equal(m->name, "pg_server_info");
	m = column(c, "state");
	assert_string_equal(m->help, "Server settings (column state). Cached "
				     "for up to 60 seconds.");
	assert_int_equal(m->nmap, 2);
	assert_string_equal(m->map_keys[0], "on");
	assert_true(m->map_vals[0] == 1 && m->map_vals[1] == 0);

	m = column(find(&qs, "up"), "up");
	assert_string_equal(m->name, "pg_up");
	assert_true(m->has_const_value && m->const_value == 1);
	assert_true(m->has_error_value && m->error_value == 0);

	c = find(&qs, "idle");
	m = column(c, "seconds");
	assert_int_equal(m->usage, USAGE_HISTOGRAM);
	assert_string_equal(m->name, "idle_seconds");
	assert_string_equal(m->help, "Idle time of server processes (column "
				     "seconds). Cached for up to 1 second.");

	c = find(&qs, "pools");
	assert_int_equal(c->kind, TARGET_PGBOUNCER);
	assert_true(c->ttl == 0.25);
	assert_string_equal(column(c, "cl_active")->help,
			    "Pools of pgbouncer (column cl_active). Cached for "
			    "up to 0.25 seconds.");
	queryset_release(&qs);
}

static void column_options_disk_transforms_and_top_selection_load(void **state)
{
	struct queryset qs = QUERYSET_INIT;
	const struct collector *c;
	const struct metricdef *m;
	struct config cfg;
	char k0[] = "statements.top_n", v0[] = "5";
	char *keys[] = {k0}, *vals[] = {v0};

	(void)state;
	expect_load(&qs, 0, "", FIX "extras.yaml", NULL);
	c = find(&qs, "pools");
	assert_true(column(c, "cl_active_cancel_req")->optional);
	m = column(c, "reserve_pool_size");
	assert_false(m->optional);
	assert_int_equal(m->nalt, 1);
	assert_string_equal(m->alt_columns[0], "reserve_pool");
	m = column(c, "pool_mode");
	assert_int_equal(m->usage, USAGE_LABEL);
	assert_true(m->optional);
	assert_string_equal(m->alt_columns[0], "mode");

	c = find(&qs, "database_disk");
	assert_int_equal(column(c, "dir")->transform, TRANSFORM_DISK_USAGE);
	assert_int_equal(column(c, "root")->transform, TRANSFORM_FS_AVAIL);
	assert_int_equal(column(c, "datname")->transform, TRANSFORM_NONE);

	c = find(&qs, "statements");
	assert_string_equal(c->top.by, "seconds");
	assert_int_equal(c->top.nkeys, 1);
	assert_string_equal(c->top.keys[0], "queryid");
	assert_string_equal(c->top.n_param, "top_n");
	assert_true(c->top.sticky == 600);
	assert_string_equal(collector_param(c, "top_n", NULL), "20");
	config_init(&cfg);
	cfg.param_keys = keys;
	cfg.param_vals = vals;
	cfg.nparams = 1;
	assert_string_equal(collector_param(c, "top_n", &cfg), "5");
	assert_null(collector_param(c, "nope", &cfg));

	c = find(&qs, "tables");
	assert_int_equal(c->top.n, 10);
	assert_null(c->top.n_param);
	assert_true(c->top.sticky == 0);
	assert_null(find(&qs, "pools")->top.by);
	queryset_release(&qs);
}

static void merge_keys_share_settings_and_explicit_keys_win(void **state)
{
	struct queryset qs = QUERYSET_INIT;
	const struct collector *c;

	(void)state;
	expect_load(&qs, 0, "", FIX "merge.yaml", NULL);
	assert_int_equal(qs.n, 2);
	c = find(&qs, "one");
	assert_string_equal(c->help, "Shared help.");
	assert_true(c->ttl == 30);
	assert_string_equal(column(c, "n")->name, "one_n");
	c = find(&qs, "two");
	assert_string_equal(c->help, "Own help wins over the merged one.");
	assert_int_equal(column(c, "n")->usage, USAGE_COUNTER);
	queryset_release(&qs);
}

static void postgres_exporter_format_keeps_its_metric_names(void **state)
{
	struct queryset qs = QUERYSET_INIT;
	const struct collector *c;
	const struct metricdef *m;

	(void)state;
	expect_load(&qs, 0, "", FIX "compat_good.yaml", NULL);
	assert_int_equal(qs.n, 2);
	c = find(&qs, "pg_replication_slots");
	assert_true(c->compat);
	assert_int_equal(c->scope, SCOPE_CLUSTER);
	assert_true(c->ttl == 30);
	/* ">=10.0.0 <13.0.0 || >= 15.2": one variant per alternative */
	assert_int_equal(c->nvariants, 2);
	assert_int_equal(c->variants[0].min_version, 100000);
	assert_int_equal(c->variants[0].max_version, 130000);
	assert_int_equal(c->variants[1].min_version, 150002);
	assert_int_equal(c->variants[1].max_version, 0);
	assert_string_equal(c->variants[0].sql, c->variants[1].sql);
	assert_int_equal(column(c, "slot_name")->usage, USAGE_LABEL);
	assert_int_equal(column(c, "active")->usage, USAGE_DISCARD);
	m = column(c, "state");
	assert_int_equal(m->usage, USAGE_GAUGE);
	assert_string_equal(m->name, "pg_replication_slots_state");
	assert_int_equal(m->nmap, 3);
	assert_string_equal(m->map_keys[2], "lost");
	assert_true(m->map_vals[2] == 2);
	assert_string_equal(m->help,
			    "State of the slot. Cached for up to 30 seconds.");
	m = column(c, "age");
	assert_int_equal(m->usage, USAGE_GAUGE);
	assert_string_equal(m->name, "pg_replication_slots_age_milliseconds");
	assert_string_equal(m->help, "postgres_exporter query "
				     "pg_replication_slots (column age). "
				     "Cached for up to 30 seconds.");

	c = find(&qs, "pg_old");
	assert_int_equal(c->nvariants, 1);
	assert_int_equal(c->variants[0].min_version, 0);
	assert_int_equal(c->variants[0].max_version, 90600);
	m = column(c, "calls");
	/* no _total: the names stay postgres_exporter's */
	assert_int_equal(m->usage, USAGE_COUNTER);
	assert_string_equal(m->name, "pg_old_calls");
	assert_string_equal(m->help, "Calls");
	assert_int_equal(column(c, "lat")->usage, USAGE_HISTOGRAM);
	queryset_release(&qs);
}

static void debian_example_queries_load(void **state)
{
	struct queryset qs = QUERYSET_INIT;
	const struct collector *c;
	FILE *fp = fopen(DEBIAN_EXAMPLES "queries.yaml", "r");

	(void)state;
	if (!fp) {
		fprintf(stderr,
			"skipped: %squeries.yaml is not installed "
			"(package prometheus-postgres-exporter)\n",
			DEBIAN_EXAMPLES);
		skip();
	}
	fclose(fp);
	expect_load(&qs, 0, "", DEBIAN_EXAMPLES "queries.yaml", NULL);
	assert_int_equal(qs.n, 6);
	c = find(&qs, "pg_replication");
	assert_string_equal(column(c, "lag")->name, "pg_replication_lag");
	assert_string_equal(column(c, "lag")->help,
			    "Replication lag behind master in seconds");
	c = find(&qs, "pg_stat_user_tables");
	assert_int_equal(c->nmetrics, 22);
	assert_string_equal(column(c, "seq_scan")->name,
			    "pg_stat_user_tables_seq_scan");
	assert_int_equal(column(c, "seq_scan")->usage, USAGE_COUNTER);
	assert_int_equal(column(c, "n_live_tup")->usage, USAGE_GAUGE);
	assert_int_equal(c->variants[0].pos.line, 19);
	assert_int_equal(c->variants[0].pos.column, 4);
	c = find(&qs, "pg_stat_statements");
	assert_string_equal(column(c, "total_time_seconds")->name,
			    "pg_stat_statements_total_time_seconds");
	c = find(&qs, "pg_process_idle");
	assert_int_equal(column(c, "seconds")->usage, USAGE_HISTOGRAM);
	assert_string_equal(column(c, "seconds")->name,
			    "pg_process_idle_seconds");
	queryset_release(&qs);
}

static void a_directory_loads_its_yaml_files_by_name(void **state)
{
	struct queryset qs = QUERYSET_INIT;

	(void)state;
	expect_load(&qs, 0,
		    FIX "empty_dir: warning: no *.yaml or *.yml files in this "
			"directory\n",
		    FIX "dir", FIX "empty_dir", NULL);
	assert_int_equal(qs.n, 2);
	assert_string_equal(qs.v[0].name, "from_a");
	assert_string_equal(qs.v[0].file, FIX "dir/a.yaml");
	assert_string_equal(qs.v[1].name, "from_b");
	queryset_release(&qs);
}

static void a_missing_file_is_an_error(void **state)
{
	struct queryset qs = QUERYSET_INIT;

	(void)state;
	expect_load(&qs, -1,
		    FIX "nope.yaml: error: cannot read: No such file or "
			"directory\n",
		    FIX "nope.yaml", NULL);
	queryset_release(&qs);
}

static void syntax_errors_point_where_libyaml_stopped(void **state)
{
	struct queryset qs = QUERYSET_INIT;

	(void)state;
	expect_load(&qs, -1,
		    FIX "bad_syntax.yaml:6:6: error: invalid YAML: did not "
			"find expected ',' or '}' (while parsing a flow "
			"mapping at 5:14)\n",
		    FIX "bad_syntax.yaml", NULL);
	assert_int_equal(qs.n, 0);
	queryset_release(&qs);
}

static void unknown_keys_suggest_the_nearest_and_others_still_load(void **state)
{
	struct queryset qs = QUERYSET_INIT;

	(void)state;
	expect_load(&qs, -1,
		    FIX "bad_keys.yaml:3:5: error: collector 'typos': unknown "
			"key 'hlep' (did you mean 'help'?)\n" FIX
			"bad_keys.yaml:6:5: error: collector 'typos': unknown "
			"key 'tll' (did you mean 'ttl'?)\n" FIX
			"bad_keys.yaml:7:5: error: collector 'typos': unknown "
			"key 'colour'\n" FIX
			"bad_keys.yaml:9:24: error: collector 'typos': column "
			"'x': unknown key 'nmae' (did you mean 'name'?)\n" FIX
			"bad_keys.yaml:9:39: error: collector 'typos': column "
			"'x': unknown key 'scael' (did you mean 'scale'?)\n",
		    FIX "bad_keys.yaml", NULL);
	assert_int_equal(qs.n, 1);
	assert_string_equal(qs.v[0].name, "good");
	queryset_release(&qs);
}

static void wrong_types_are_reported_at_the_value(void **state)
{
	struct queryset qs = QUERYSET_INIT;

	(void)state;
	expect_load(&qs, -1,
		    FIX
		    "bad_types.yaml:3:11: error: collector 'types': 'help' "
		    "must be a string, not a list\n" FIX
		    "bad_types.yaml:4:11: error: collector 'types': invalid "
		    "kind 'postgress' (did you mean 'postgres'?)\n" FIX
		    "bad_types.yaml:5:12: error: collector 'types': invalid "
		    "scope 'everywhere' (expected one of: cluster, "
		    "database)\n" FIX
		    "bad_types.yaml:6:10: error: collector 'types': 'ttl' must "
		    "be a duration such as 250ms, 30s, 5m, 1h or 1d, not "
		    "'soon'\n" FIX
		    "bad_types.yaml:7:14: error: collector 'types': 'timeout' "
		    "must be a duration such as 250ms, 30s, 5m, 1h or 1d, not "
		    "'-5s'\n" FIX
		    "bad_types.yaml:8:18: error: collector 'types': "
		    "'min_version' must be an integer, not 'twelve'\n" FIX
		    "bad_types.yaml:9:17: error: collector 'types': "
		    "'max_series' must be between 0 and 2147483647, not "
		    "99999999999999999999\n" FIX
		    "bad_types.yaml:10:11: error: collector 'types': 'tags' "
		    "must be a list of strings, not a mapping\n" FIX
		    "bad_types.yaml:13:10: error: collector 'types': column "
		    "'x': invalid type 'guage' (did you mean 'gauge'?)\n" FIX
		    "bad_types.yaml:14:33: error: collector 'types': column "
		    "'y': 'scale' must be a number, not 'lots'\n" FIX
		    "bad_types.yaml:14:51: error: collector 'types': column "
		    "'y': 'null_value' must be a number, not a list\n" FIX
		    "bad_types.yaml:15:10: error: collector 'types': column "
		    "'z': invalid type '42' (expected one of: label, discard, "
		    "gauge, counter, info, histogram)\n" FIX
		    "bad_types.yaml:20:7: error: collector 'metrics_list': "
		    "'metrics' must be a mapping of columns, not a list\n" FIX
		    "bad_types.yaml:23:36: error: collector 'requirements': "
		    "invalid requirement 'no spaces' (an extension name, "
		    "'setting:NAME' or 'setting:NAME=VALUE')\n" FIX
		    "bad_types.yaml:23:49: error: collector 'requirements': "
		    "invalid requirement 'setting:' (an extension name, "
		    "'setting:NAME' or 'setting:NAME=VALUE')\n" FIX
		    "bad_types.yaml:23:61: error: collector 'requirements': "
		    "invalid requirement 'setting:a=' (an extension name, "
		    "'setting:NAME' or 'setting:NAME=VALUE')\n",
		    FIX "bad_types.yaml", NULL);
	assert_int_equal(qs.n, 0);
	queryset_release(&qs);
}

static void missing_keys_are_reported_at_the_collector(void **state)
{
	struct queryset qs = QUERYSET_INIT;

	(void)state;
	expect_load(&qs, -1,
		    FIX "bad_missing.yaml:2:3: error: collector 'nothing': "
			"missing 'help'\n" FIX
			"bad_missing.yaml:2:3: error: collector 'nothing': "
			"missing 'sql' (or 'variants')\n" FIX
			"bad_missing.yaml:2:3: error: collector 'nothing': "
			"missing 'metrics'\n" FIX
			"bad_missing.yaml:3:3: error: collector 'no_help': "
			"missing 'help'\n" FIX
			"bad_missing.yaml:9:14: error: collector "
			"'empty_metrics': 'metrics' is empty\n" FIX
			"bad_missing.yaml:14:10: error: collector 'no_type': "
			"column 'x': missing 'type'\n" FIX
			"bad_missing.yaml:15:18: error: collector "
			"'just_a_string': expected a mapping of settings, not "
			"a string\n",
		    FIX "bad_missing.yaml", NULL);
	queryset_release(&qs);
}

static void column_problems_name_the_column(void **state)
{
	struct queryset qs = QUERYSET_INIT;

	(void)state;
	expect_load(&qs, -1,
		    FIX
		    "bad_columns.yaml:7:7: error: collector 'columns': label "
		    "'datname' is added by the exporter in database scope; "
		    "drop the column or use scope: cluster\n" FIX
		    "bad_columns.yaml:8:7: error: collector 'columns': label "
		    "'target' is reserved: the exporter adds it to every "
		    "series\n" FIX
		    "bad_columns.yaml:9:7: error: collector 'columns': column "
		    "'2bad': invalid label name (letters, digits and '_', not "
		    "starting with a digit or '__')\n" FIX
		    "bad_columns.yaml:11:7: error: collector 'columns': column "
		    "'lat_sum' is read by histogram 'lat'; do not list it\n" FIX
		    "bad_columns.yaml:13:7: error: collector 'columns': "
		    "duplicate column 'size' (first at " FIX
		    "bad_columns.yaml:12:7)\n" FIX
		    "bad_columns.yaml:15:7: error: collector 'columns': column "
		    "'b' makes metric 'columns_b' as column 'a' does (" FIX
		    "bad_columns.yaml:14:7)\n" FIX
		    "bad_columns.yaml:16:30: error: collector 'columns': "
		    "column 'l': 'help' does not apply to label columns\n" FIX
		    "bad_columns.yaml:17:7: error: collector 'columns': "
		    "'error_value' needs a collector with no labels, in "
		    "cluster scope\n" FIX
		    "bad_columns.yaml:18:41: error: collector 'columns': "
		    "column 'v': 'scale' has no effect with 'value'\n" FIX
		    "bad_columns.yaml:19:3: warning: collector 'labels_only': "
		    "no value columns: it produces no metrics\n",
		    FIX "bad_columns.yaml", NULL);
	/* A warning does not keep a collector out. */
	assert_int_equal(qs.n, 1);
	assert_string_equal(qs.v[0].name, "labels_only");
	queryset_release(&qs);
}

static void names_are_checked_against_prometheus_rules(void **state)
{
	struct queryset qs = QUERYSET_INIT;

	(void)state;
	expect_load(&qs, -1,
		    FIX
		    "bad_names.yaml:2:3: error: collector '9lives': invalid "
		    "collector name (letters, digits and '_', not starting "
		    "with a digit)\n" FIX
		    "bad_names.yaml:10:30: error: collector 'names': column "
		    "'a': invalid metric name 'bad name' (letters, digits, '_' "
		    "and ':', not starting with a digit)\n" FIX
		    "bad_names.yaml:11:30: error: collector 'names': column "
		    "'b': metric name 'pgpulse_mine' is reserved: 'pgpulse_' "
		    "and 'process_' are the exporter's own\n" FIX
		    "bad_names.yaml:12:29: error: collector 'names': column "
		    "'c': info metric name 'pg_build' must end in '_info'\n" FIX
		    "bad_names.yaml:13:7: error: collector 'names': column 'd "
		    "e': metric name 'names_d e' is invalid; set 'name'\n" FIX
		    "bad_names.yaml:14:32: error: collector 'names': column "
		    "'f': metric name 'process_cpu_total' is reserved: "
		    "'pgpulse_' and 'process_' are the exporter's own\n",
		    FIX "bad_names.yaml", NULL);
	queryset_release(&qs);
}

static void version_ranges_and_variants_are_checked(void **state)
{
	struct queryset qs = QUERYSET_INIT;

	(void)state;
	expect_load(&qs, -1,
		    FIX
		    "bad_versions.yaml:4:18: error: collector 'range': "
		    "'min_version' (130000) must be less than 'max_version' "
		    "(120000)\n" FIX
		    "bad_versions.yaml:10:10: error: collector 'both': 'sql' "
		    "cannot be used with 'variants': put it in each "
		    "variant\n" FIX
		    "bad_versions.yaml:11:18: error: collector 'both': "
		    "'min_version' cannot be used with 'variants': put it in "
		    "each variant\n" FIX
		    "bad_versions.yaml:18:9: error: collector 'variants': "
		    "missing 'sql' in variant\n" FIX
		    "bad_versions.yaml:19:23: error: collector 'variants': "
		    "'min_version' (160000) must be less than 'max_version' "
		    "(150000)\n" FIX
		    "bad_versions.yaml:20:9: error: collector 'variants': a "
		    "variant must be a mapping with 'sql', not a string\n" FIX
		    "bad_versions.yaml:24:18: warning: collector 'major': "
		    "'min_version' is a server_version_num such as 120000 for "
		    "PostgreSQL 12; 12 is older than any release\n",
		    FIX "bad_versions.yaml", NULL);
	assert_int_equal(qs.n, 1);
	queryset_release(&qs);
}

static void parameters_are_checked_where_the_sql_uses_them(void **state)
{
	struct queryset qs = QUERYSET_INIT;

	(void)state;
	expect_load(&qs, -1,
		    FIX
		    "bad_params.yaml:5:14: error: collector 'params': "
		    "parameter 'limit' must be a number or an identifier "
		    "(letters, digits, '_' and '.'), not '10; DROP TABLE "
		    "x'\n" FIX
		    "bad_params.yaml:7:7: error: collector 'params': invalid "
		    "parameter name 'bad-name' (letters, digits and '_', not "
		    "starting with a digit)\n" FIX
		    "bad_params.yaml:8:7: warning: collector 'params': "
		    "parameter 'unused' is not used in the sql\n" FIX
		    "bad_params.yaml:9:53: error: collector 'params': unknown "
		    "parameter 'missing' in sql (add it to 'params')\n" FIX
		    "bad_params.yaml:13:14: warning: collector 'unused_only': "
		    "parameter 'n' is not used in the sql\n" FIX
		    "bad_params.yaml:21:35: error: collector 'literal': "
		    "unknown parameter 'skip' in sql (add it to 'params')\n",
		    FIX "bad_params.yaml", NULL);
	assert_int_equal(qs.n, 1);
	queryset_release(&qs);
}

static void column_options_and_top_selection_are_checked(void **state)
{
	struct queryset qs = QUERYSET_INIT;

	(void)state;
	expect_load(&qs, -1,
		    FIX
		    "bad_extras.yaml:6:34: error: collector 'options': column "
		    "'a': 'optional' must be true or false, not 'maybe'\n" FIX
		    "bad_extras.yaml:6:54: error: collector 'options': column "
		    "'a': 'alt_columns' must be a list of strings, not a "
		    "mapping\n" FIX
		    "bad_extras.yaml:7:7: error: collector 'options': column "
		    "'b': alt_columns: 'a' is a column of its own\n" FIX
		    "bad_extras.yaml:7:7: error: collector 'options': column "
		    "'b': alt_columns: 'c' is a column of its own\n" FIX
		    "bad_extras.yaml:8:37: error: collector 'options': column "
		    "'c': 'transform' does not apply to counter columns\n" FIX
		    "bad_extras.yaml:9:35: error: collector 'options': column "
		    "'d': invalid transform 'du' (expected one of: disk_usage, "
		    "fs_size, fs_free, fs_avail)\n" FIX
		    "bad_extras.yaml:10:51: error: collector 'options': column "
		    "'e': 'scale' has no effect with 'transform'\n" FIX
		    "bad_extras.yaml:10:63: error: collector 'options': column "
		    "'e': 'mapping' has no effect with 'transform'\n" FIX
		    "bad_extras.yaml:12:7: error: collector 'options': column "
		    "'h': alt_columns: 'g' is an alt_column of column 'f' "
		    "too\n" FIX
		    "bad_extras.yaml:18:35: error: collector 'bouncer': column "
		    "'p': 'transform' does not apply to pgbouncer collectors: "
		    "it measures the server's files\n" FIX
		    "bad_extras.yaml:21:14: warning: collector 'tops': "
		    "parameter 'n' is not used in the sql\n" FIX
		    "bad_extras.yaml:22:10: error: collector 'tops': missing "
		    "'key' in 'top'\n" FIX
		    "bad_extras.yaml:22:15: error: collector 'tops': 'by' must "
		    "name a gauge or counter column\n" FIX
		    "bad_extras.yaml:22:24: error: collector 'tops': 'n' must "
		    "be a count or '{{param}}' (quoted: unquoted braces are a "
		    "YAML mapping)\n" FIX
		    "bad_extras.yaml:22:31: error: collector 'tops': unknown "
		    "key 'kee' (did you mean 'key'?)\n" FIX
		    "bad_extras.yaml:29:23: error: collector 'tops2': 'key' "
		    "must name label columns\n" FIX
		    "bad_extras.yaml:29:29: error: collector 'tops2': unknown "
		    "parameter 'nope' in 'n' (add it to 'params')\n" FIX
		    "bad_extras.yaml:29:49: error: collector 'tops2': 'sticky' "
		    "must be a duration such as 250ms, 30s, 5m, 1h or 1d, not "
		    "'forever'\n" FIX
		    "bad_extras.yaml:36:32: error: collector 'tops3': 'n' must "
		    "be between 1 and 1000000, not 0\n",
		    FIX "bad_extras.yaml", NULL);
	assert_int_equal(qs.n, 0);
	queryset_release(&qs);
}

static void duplicates_and_clashes_across_files_name_both_places(void **state)
{
	struct queryset qs = QUERYSET_INIT;

	(void)state;
	expect_load(&qs, -1,
		    FIX
		    "dup_a.yaml:12:3: error: duplicate collector 'shared' "
		    "(first at " FIX "dup_a.yaml:2:3)\n" FIX
		    "dup_b.yaml:2:3: error: duplicate collector 'shared' "
		    "(first at " FIX "dup_a.yaml:2:3)\n" FIX
		    "dup_b.yaml:10:7: error: collector 'other_sizes': metric "
		    "'pg_thing_bytes' is a gauge with labels [] here but a "
		    "gauge with labels [datname] in collector 'sizes' (" FIX
		    "dup_a.yaml:11:7)\n" FIX
		    "dup_b.yaml:16:7: error: collector 'typed_sizes': counter "
		    "'pg_thing_bytes_total' collides with gauge "
		    "'pg_thing_bytes' of collector 'sizes' (" FIX
		    "dup_a.yaml:11:7)\n" FIX
		    "dup_b.yaml:28:7: error: collector 'histogram_parts': "
		    "gauge 'pg_lat_seconds_sum' collides with histogram "
		    "'pg_lat_seconds' of collector 'histogram_parts' (" FIX
		    "dup_b.yaml:27:7)\n",
		    FIX "dup_a.yaml", FIX "dup_b.yaml", NULL);
	assert_int_equal(qs.n, 4);
	assert_string_equal(find(&qs, "shared")->help, "First definition.");
	/* The same metric, same type and labels, from two collectors. */
	assert_non_null(queryset_find(&qs, "same_sizes"));
	assert_non_null(queryset_find(&qs, "counter_family"));
	queryset_release(&qs);
}

static void postgres_exporter_format_problems(void **state)
{
	struct queryset qs = QUERYSET_INIT;

	(void)state;
	expect_load(&qs, -1,
		    FIX
		    "compat_bad.yaml:3:3: warning: collector 'pg_typos': "
		    "unknown key 'cache_second' ignored (did you mean "
		    "'cache_seconds'?)\n" FIX
		    "compat_bad.yaml:6:16: error: collector 'pg_typos': column "
		    "'x': invalid usage 'GUAGE' (did you mean 'GAUGE'?)\n" FIX
		    "compat_bad.yaml:7:9: warning: collector 'pg_typos': "
		    "column 'x': unknown key 'descripton' ignored (did you "
		    "mean 'description'?)\n" FIX
		    "compat_bad.yaml:10:16: error: collector 'pg_range': "
		    "'runonserver' range '>=13.0.0 <12.0.0' matches no "
		    "version\n" FIX
		    "compat_bad.yaml:15:16: error: collector 'pg_bad_range': "
		    "'runonserver' must be a version range such as '>=10.0.0 "
		    "<13.0.0', not '!=13.0.0'\n" FIX
		    "compat_bad.yaml:18:1: error: collector 'pg_missing': "
		    "missing 'query'\n" FIX
		    "compat_bad.yaml:20:10: error: collector 'pg_missing': "
		    "column 'x': missing 'usage'\n" FIX
		    "compat_bad.yaml:21:7: error: collector 'pg_missing': "
		    "duplicate column 'x' (first at " FIX
		    "compat_bad.yaml:20:7)\n" FIX
		    "compat_bad.yaml:25:18: error: collector 'pg_mapped': "
		    "column 'x': MAPPEDMETRIC needs 'metric_mapping'\n" FIX
		    "compat_bad.yaml:26:41: warning: collector 'pg_mapped': "
		    "column 'y': a mapping is only read for MAPPEDMETRIC; "
		    "ignored\n" FIX
		    "compat_bad.yaml:27:1: error: collector 'pg bad': invalid "
		    "query name (letters, digits and '_', not starting with a "
		    "digit)\n" FIX
		    "compat_bad.yaml:29:12: error: collector 'pg bad': "
		    "'metrics' must be a list of columns, not a mapping\n",
		    FIX "compat_bad.yaml", NULL);
	assert_int_equal(qs.n, 0);
	queryset_release(&qs);
}

/* Load 'text' as a file named 'name'; compare the diagnostics. */
static void expect_buffer(const char *name, const char *text, size_t len,
			  int rc, const char *expected)
{
	struct queryset qs = QUERYSET_INIT;
	struct diags d = DIAGS_INIT;
	char *out;

	assert_int_equal(querydef_load_buffer(&qs, name, text, len, &d), rc);
	out = diags_text(&d);
	assert_string_equal(out, expected);
	free(out);
	diags_release(&d);
	queryset_release(&qs);
}

static void a_top_selection_needs_a_key_column(void **state)
{
	static const char text[] = "collectors:\n"
				   "  t:\n"
				   "    help: h\n"
				   "    top: {by: v, n: 3, key: []}\n"
				   "    sql: SELECT 'a' AS k, 1 AS v\n"
				   "    metrics: {k: label, v: gauge}\n";

	(void)state;
	expect_buffer("t.yaml", text, sizeof(text) - 1, -1,
		      "t.yaml:4:29: error: collector 't': 'key' needs at "
		      "least one label column\n");
}

static void a_group_counts_into_a_gauge_column(void **state)
{
	static const char text[] = "collectors:\n"
				   "  g:\n"
				   "    help: h\n"
				   "    kind: pgbouncer\n"
				   "    sql: SHOW CLIENTS\n"
				   "    group: {count: n}\n"
				   "    metrics: {state: label, n: counter}\n";

	(void)state;
	expect_buffer("g.yaml", text, sizeof(text) - 1, -1,
		      "g.yaml:6:20: error: collector 'g': 'group' count "
		      "column 'n' must be a gauge in 'metrics'\n");
}

static void odd_documents_are_reported_not_crashed_on(void **state)
{
	char *deep = xmalloc(100001);
	static const char nul[] = "collectors:\n  a\0: {}\n";

	(void)state;
	expect_buffer("empty.yaml", "", 0, 0,
		      "empty.yaml: warning: no collectors: the file is "
		      "empty\n");
	expect_buffer("comment.yaml", "# nothing\n", 10, 0,
		      "comment.yaml: warning: no collectors: the file is "
		      "empty\n");
	expect_buffer("scalar.yaml", "just words", 10, -1,
		      "scalar.yaml:1:1: error: a query file is a mapping "
		      "('collectors:', or postgres_exporter's queries), not a "
		      "string\n");
	expect_buffer("list.yaml", "- a\n- b\n", 8, -1,
		      "list.yaml:1:1: error: a query file is a mapping "
		      "('collectors:', or postgres_exporter's queries), not a "
		      "list\n");
	expect_buffer("none.yaml", "collectors:\n", 12, 0,
		      "none.yaml:1:12: warning: no collectors\n");
	expect_buffer("typo.yaml", "collector:\n  a: {}\n", 19, -1,
		      "typo.yaml:1:1: error: unknown key 'collector' (did you "
		      "mean 'collectors'?)\n");
	expect_buffer("two.yaml", "collectors: {}\n---\nx: 1\n", 24, -1,
		      "two.yaml:2:1: error: a second YAML document: one file "
		      "holds one\n");
	expect_buffer("nul.yaml", nul, sizeof(nul) - 1, -1,
		      "nul.yaml:2:4: error: invalid YAML: control characters "
		      "are not allowed (byte 0x00)\n");
	expect_buffer("latin1.yaml", "collectors:\n  caf\xe9: {}\n", 21, -1,
		      "latin1.yaml:2:7: error: invalid YAML: invalid trailing "
		      "UTF-8 octet (byte 0x3A)\n");
	expect_buffer("alias.yaml", "collectors:\n  a: *nope\n", 23, -1,
		      "alias.yaml:2:6: error: invalid YAML: found undefined "
		      "alias\n");
	/* An alias may refer to the sequence it is in: a cycle. */
	expect_buffer("cycle.yaml", "collectors:\n  a: &a [*a]\n", 25, -1,
		      "cycle.yaml:2:6: error: collector 'a': expected a "
		      "mapping of settings, not a list\n");
	expect_buffer("selfmerge.yaml",
		      "collectors:\n  a: &a {<<: *a, help: x}\n", 37, -1,
		      "selfmerge.yaml:2:3: error: collector 'a': missing 'sql' "
		      "(or 'variants')\n"
		      "selfmerge.yaml:2:3: error: collector 'a': missing "
		      "'metrics'\n"
		      "selfmerge.yaml:2:6: error: collector 'a': too many "
		      "merged mappings ('<<'): more than 256, or nested "
		      "deeper than 8\n");
	expect_buffer(
		"huge.yaml",
		"collectors:\n  a: {help: x, ttl: 1e400s, min_version: "
		"-1, sql: SELECT 1 AS x, metrics: {x: {type: gauge, "
		"scale: 1e999, null_value: 1e308}}}\n",
		139, -1,
		"huge.yaml:2:21: error: collector 'a': 'ttl' must be a "
		"duration such as 250ms, 30s, 5m, 1h or 1d, not "
		"'1e400s'\n"
		"huge.yaml:2:42: error: collector 'a': 'min_version' must "
		"be between 0 and 2147483647, not -1\n"
		"huge.yaml:2:100: error: collector 'a': column 'x': "
		"'scale' must be a number, not '1e999'\n");
	memset(deep, '[', 100000);
	deep[100000] = '\0';
	expect_buffer("deep.yaml", deep, 100000, -1,
		      "deep.yaml:1:513: error: invalid YAML: nested deeper "
		      "than 512 levels\n");
	free(deep);
}

/* A small deterministic generator, so failures can be replayed. */
static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static char *read_fixture(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = xmalloc(1 << 16);

	assert_non_null(fp);
	*len = fread(buf, 1, (1 << 16) - 1, fp);
	buf[*len] = '\0';
	fclose(fp);
	return buf;
}

/* Errors iff -1; never a crash (the sanitizer build checks the rest). */
static void load_quietly(const char *text, size_t len)
{
	struct queryset qs = QUERYSET_INIT;
	struct diags d = DIAGS_INIT;
	int rc = querydef_load_buffer(&qs, "f.yaml", text, len, &d);
	size_t i;

	assert_int_equal(rc<0, d.nerrors> 0);
	for (i = 0; i < qs.n; i++) {
		const struct collector *c = &qs.v[i];

		assert_non_null(c->name);
		assert_non_null(c->help);
		assert_true(c->nvariants > 0);
		assert_non_null(c->variants[0].sql);
		free(collector_sql(c, &c->variants[0], NULL));
	}
	queryset_release(&qs);
	diags_release(&d);
}

static void truncated_and_mangled_files_never_crash(void **state)
{
	static const char *const files[] = {
		FIX "good.yaml",	FIX "compat_good.yaml",
		FIX "bad_columns.yaml", FIX "merge.yaml",
		FIX "dup_b.yaml",	FIX "extras.yaml",
	};
	uint32_t seed = 0x9e3779b9;
	size_t f, len, n, k;

	(void)state;
	for (f = 0; f < ARRAY_SIZE(files); f++) {
		char *text = read_fixture(files[f], &len);
		char *copy = xmalloc(len + 1);

		for (n = 0; n <= len; n++)
			load_quietly(text, n);
		for (n = 0; n < 300; n++) {
			memcpy(copy, text, len + 1);
			for (k = 0; k < 1 + rnd(&seed) % 8; k++) {
				size_t at = rnd(&seed) % len;
				static const char tokens[] =
					"[]{}:-&*!|>'\"#,\n ";

				copy[at] =
					rnd(&seed) % 4
						? tokens[rnd(&seed) %
							 (sizeof(tokens) - 1)]
						: (char)rnd(&seed);
			}
			load_quietly(copy, len);
		}
		free(copy);
		free(text);
	}
	for (n = 0; n < 200; n++) {
		char garbage[512];

		for (k = 0; k < sizeof(garbage); k++)
			garbage[k] = (char)rnd(&seed);
		load_quietly(garbage, rnd(&seed) % sizeof(garbage));
	}
}

static void alias_bombs_stay_cheap(void **state)
{
	struct {
		char buf[4096];
		size_t len;
	} s = {"", 0};
	int i, j;

	(void)state;
	s.len += (size_t)snprintf(s.buf, sizeof(s.buf),
				  "x-0: &a0 {help: h, sql: SELECT 1 AS x, "
				  "metrics: {x: gauge}}\n");
	for (i = 1; i < 10; i++) {
		s.len += (size_t)snprintf(s.buf + s.len, sizeof(s.buf) - s.len,
					  "x-%d: &a%d [", i, i);
		for (j = 0; j < 9; j++)
			s.len += (size_t)snprintf(
				s.buf + s.len, sizeof(s.buf) - s.len, "%s*a%d",
				j ? ", " : "", i - 1);
		s.len += (size_t)snprintf(s.buf + s.len, sizeof(s.buf) - s.len,
					  "]\n");
	}
	s.len += (size_t)snprintf(
		s.buf + s.len, sizeof(s.buf) - s.len,
		"collectors:\n  big: *a9\n  m: {<<: [*a0, *a0, *a0], ttl: "
		"1s}\n");
	/* 9^9 nodes if expanded; libyaml shares them and so do we. */
	load_quietly(s.buf, s.len);
}

/* A config file example: checked by the config loader, from a file. */
static void expect_clean_config(const char *name, const char *text, size_t len)
{
	char path[] = "/tmp/pgpulse-readme-XXXXXX";
	struct diags d = DIAGS_INIT;
	struct config cfg;
	int fd = mkstemp(path);
	char *out;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	if (config_load(&cfg, path, &d) < 0 || d.n) {
		out = diags_text(&d);
		fail_msg("%s: %s", name, out);
	}
	config_free(&cfg);
	diags_release(&d);
	unlink(path);
}

/*
 * Every ```yaml block of the format's documentation is a valid query file,
 * or, when it has 'targets:', a valid config file.
 */
static void readme_examples_load_cleanly(void **state)
{
	size_t len, nblocks = 0;
	char *text = read_fixture("../../queries/README.md", &len);
	const char *p = text, *start, *end;

	(void)state;
	while ((start = strstr(p, "\n```yaml\n"))) {
		struct queryset qs = QUERYSET_INIT;
		struct diags d = DIAGS_INIT;
		char name[64], *out, *block;
		const char *q;
		unsigned line = 2;

		start += 9;
		end = strstr(start, "\n```\n");
		assert_non_null(end);
		for (q = text; q < start; q++)
			line += *q == '\n';
		snprintf(name, sizeof(name), "README.md:%u", line);
		block = xstrndup(start, (size_t)(end - start) + 1);
		p = end;
		if (strncmp(block, "targets:", 8) == 0 ||
		    strstr(block, "\ntargets:")) {
			expect_clean_config(name, block, strlen(block));
			free(block);
			continue;
		}
		assert_int_equal(querydef_load_buffer(&qs, name, block,
						      strlen(block), &d),
				 0);
		out = diags_text(&d);
		assert_string_equal(out, "");
		assert_true(qs.n > 0);
		free(out);
		free(block);
		diags_release(&d);
		queryset_release(&qs);
		nblocks++;
	}
	assert_true(nblocks >= 15);
	free(text);
}

static void variants_are_chosen_by_server_version(void **state)
{
	struct queryset qs = QUERYSET_INIT;
	const struct collector *c;

	(void)state;
	expect_load(&qs, 0, "", FIX "good.yaml", NULL);
	c = find(&qs, "statements");
	assert_ptr_equal(collector_variant(c, 170000), &c->variants[0]);
	assert_ptr_equal(collector_variant(c, 180003), &c->variants[0]);
	assert_ptr_equal(collector_variant(c, 169999), &c->variants[1]);
	c = find(&qs, "stat_database");
	assert_null(collector_variant(c, 110000));
	assert_ptr_equal(collector_variant(c, 120000), &c->variants[0]);
	assert_null(collector_variant(c, 990000));
	c = find(&qs, "database_size");
	assert_ptr_equal(collector_variant(c, 0), &c->variants[0]);
	queryset_release(&qs);
}

static void variants_are_chosen_by_installed_extension_version(void **state)
{
	static const char text[] =
		"collectors:\n"
		"  s:\n"
		"    help: h\n"
		"    variants:\n"
		"      - min_extversion: {pg_stat_statements: '1.11'}\n"
		"        sql: SELECT 1 AS v\n"
		"      - min_version: 130000\n"
		"        min_extversion: {pg_stat_statements: '1.8'}\n"
		"        max_extversion: {pg_stat_statements: '1.11'}\n"
		"        sql: SELECT 2 AS v\n"
		"      - sql: SELECT 3 AS v\n"
		"    metrics: {v: gauge}\n"
		"  i:\n"
		"    help: h\n"
		"    min_extversion: {pg_stat_statements: '1.9', plpgsql: "
		"'1.0'}\n"
		"    sql: SELECT 1 AS v\n"
		"    metrics: {v: gauge}\n";
	char *names[] = {(char *)"pg_stat_statements", (char *)"plpgsql", NULL};
	char *v1_12[] = {(char *)"1.12", (char *)"1.0", NULL},
	     *v1_11[] = {(char *)"1.11", (char *)"1.0", NULL};
	char *v1_10[] = {(char *)"1.10", (char *)"1.0", NULL},
	     *v1_9[] = {(char *)"1.9", (char *)"1.0", NULL};
	char *v1_7[] = {(char *)"1.7", (char *)"1.0", NULL};
	char *other[] = {(char *)"plpgsql", NULL},
	     *other_v[] = {(char *)"1.0", NULL};
	struct queryset qs = QUERYSET_INIT;
	struct diags d = DIAGS_INIT;
	const struct collector *c;

	(void)state;
	assert_int_equal(
		querydef_load_buffer(&qs, "e.yaml", text, sizeof(text) - 1, &d),
		0);
	assert_int_equal(d.n, 0);
	c = find(&qs, "s");
	assert_int_equal(c->variants[1].next, 2);
	assert_string_equal(c->variants[1].ext[1].extname,
			    "pg_stat_statements");
	assert_string_equal(c->variants[1].ext[1].version, "1.11");
	assert_true(c->variants[1].ext[1].max);
	/* a PG 17 server, its extension left at 1.10 by pg_upgrade */
	assert_ptr_equal(collector_variant_ext(c, 170000, names, v1_10),
			 &c->variants[1]);
	assert_ptr_equal(collector_variant_ext(c, 170000, names, v1_11),
			 &c->variants[0]);
	assert_ptr_equal(collector_variant_ext(c, 180000, names, v1_12),
			 &c->variants[0]);
	assert_ptr_equal(collector_variant_ext(c, 140000, names, v1_9),
			 &c->variants[1]);
	assert_ptr_equal(collector_variant_ext(c, 130000, names, v1_7),
			 &c->variants[2]);
	/* not installed: only the variant without a bound fits */
	assert_ptr_equal(collector_variant_ext(c, 170000, other, other_v),
			 &c->variants[2]);
	assert_ptr_equal(collector_variant(c, 170000), &c->variants[2]);
	c = find(&qs, "i");
	assert_ptr_equal(collector_variant_ext(c, 140000, names, v1_9),
			 &c->variants[0]);
	assert_null(collector_variant_ext(c, 130000, names, v1_7));
	assert_null(collector_variant_ext(c, 140000, other, other_v));
	assert_null(collector_variant_ext(c, 140000, NULL, NULL));
	queryset_release(&qs);
	diags_release(&d);
}

static void extension_versions_compare_by_number(void **state)
{
	(void)state;
	assert_true(extversion_cmp("1.9", "1.10") < 0);
	assert_true(extversion_cmp("1.10", "1.9") > 0);
	assert_true(extversion_cmp("1.10", "1.10.1") < 0);
	assert_true(extversion_cmp("2.0", "1.99") > 0);
	assert_int_equal(extversion_cmp("1.010", "1.10"), 0);
	assert_int_equal(extversion_cmp("1.11", "1.11"), 0);
	assert_true(extversion_cmp("1.0beta", "1.0") > 0);
}

static void bad_extension_version_bounds_are_errors_at_their_place(void **state)
{
	static const char text[] =
		"collectors:\n"
		"  s:\n"
		"    help: h\n"
		"    variants:\n"
		"      - min_extversion: pg_stat_statements\n"
		"        sql: SELECT 1 AS v\n"
		"      - max_extversion: {pg_stat_statements: 'one.two'}\n"
		"        sql: SELECT 1 AS v\n"
		"      - min_extversion: {pg_stat_statements: [1]}\n"
		"        sql: SELECT 1 AS v\n"
		"      - min_extversion: {}\n"
		"        sql: SELECT 1 AS v\n"
		"      - min_extversion: {uuid-ossp: '1.1', \"a b\": '1'}\n"
		"        sql: SELECT 1 AS v\n"
		"    metrics: {v: gauge}\n"
		"  t:\n"
		"    help: h\n"
		"    min_extversion: {pg_stat_statements: '1.9'}\n"
		"    variants: [{sql: SELECT 1 AS v}]\n"
		"    metrics: {v: gauge}\n";

	(void)state;
	expect_buffer(
		"x.yaml", text, sizeof(text) - 1, -1,
		"x.yaml:5:25: error: collector 's': 'min_extversion' must be a "
		"mapping of extension names to versions, such as "
		"{pg_stat_statements: '1.11'}, not a string\n"
		"x.yaml:7:46: error: collector 's': 'max_extversion': "
		"'one.two' "
		"is not an extension version (digits and dots, such as "
		"'1.11')\n"
		"x.yaml:9:46: error: collector 's': 'min_extversion': the "
		"version of 'pg_stat_statements' must be a string such as "
		"'1.11', not a list\n"
		"x.yaml:11:25: error: collector 's': 'min_extversion' is "
		"empty\n"
		"x.yaml:13:44: error: collector 's': 'min_extversion': invalid "
		"extension name (letters, digits, '_' and '-')\n"
		"x.yaml:18:21: error: collector 't': 'min_extversion' cannot "
		"be used with 'variants': put it in each variant\n");
}

static void sql_gets_parameters_and_config_overrides(void **state)
{
	struct queryset qs = QUERYSET_INIT;
	const struct collector *c;
	struct config cfg;
	char k0[] = "statements.top_n", k1[] = "other.top_n";
	char v0[] = "7", v1[] = "99";
	char *keys[] = {k0, k1, NULL}, *vals[] = {v0, v1, NULL};
	char *sql;

	(void)state;
	expect_load(&qs, 0, "", FIX "good.yaml", NULL);
	c = find(&qs, "statements");
	sql = collector_sql(c, &c->variants[0], NULL);
	assert_string_equal(sql, "SELECT queryid::text, total_exec_time AS "
				 "seconds FROM public.pg_stat_statements "
				 "LIMIT 100");
	free(sql);
	config_init(&cfg);
	cfg.param_keys = keys;
	cfg.param_vals = vals;
	cfg.nparams = 2;
	sql = collector_sql(c, &c->variants[1], &cfg);
	assert_string_equal(sql, "SELECT queryid::text, total_time AS seconds "
				 "FROM public.pg_stat_statements LIMIT 7");
	free(sql);
	/* Array literals between braces are SQL, not parameters. */
	c = find(&qs, "idle");
	sql = collector_sql(c, &c->variants[0], &cfg);
	assert_string_equal(sql, c->variants[0].sql);
	free(sql);
	queryset_release(&qs);
}

static void overrides_naming_nothing_are_warned_about(void **state)
{
	struct queryset qs = QUERYSET_INIT;
	struct diags d = DIAGS_INIT;
	struct config cfg;
	char k0[] = "statements.top_n", k1[] = "statements.limit",
	     k2[] = "nope.top_n", v[] = "1";
	char *keys[] = {k0, k1, k2}, *vals[] = {v, v, v};
	struct srcpos pos[] = {
		{"c.yaml", 3, 3}, {"c.yaml", 4, 3}, {NULL, 5, 3}};
	char *out;

	(void)state;
	expect_load(&qs, 0, "", FIX "good.yaml", NULL);
	config_init(&cfg);
	cfg.path = (char *)"c.yaml";
	cfg.param_keys = keys;
	cfg.param_vals = vals;
	cfg.param_pos = pos;
	cfg.nparams = 3;
	querydef_check_overrides(&qs, &cfg, &d);
	out = diags_text(&d);
	assert_string_equal(out, "c.yaml:4:3: warning: params: collector "
				 "'statements' has no parameter 'limit'\n"
				 "c.yaml:5:3: warning: params: no collector "
				 "for 'nope.top_n'\n");
	free(out);
	diags_release(&d);
	queryset_release(&qs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_feature_of_our_format_loads),
		cmocka_unit_test(
			column_options_disk_transforms_and_top_selection_load),
		cmocka_unit_test(
			merge_keys_share_settings_and_explicit_keys_win),
		cmocka_unit_test(
			postgres_exporter_format_keeps_its_metric_names),
		cmocka_unit_test(debian_example_queries_load),
		cmocka_unit_test(a_directory_loads_its_yaml_files_by_name),
		cmocka_unit_test(a_missing_file_is_an_error),
		cmocka_unit_test(syntax_errors_point_where_libyaml_stopped),
		cmocka_unit_test(
			unknown_keys_suggest_the_nearest_and_others_still_load),
		cmocka_unit_test(wrong_types_are_reported_at_the_value),
		cmocka_unit_test(missing_keys_are_reported_at_the_collector),
		cmocka_unit_test(column_problems_name_the_column),
		cmocka_unit_test(names_are_checked_against_prometheus_rules),
		cmocka_unit_test(version_ranges_and_variants_are_checked),
		cmocka_unit_test(
			parameters_are_checked_where_the_sql_uses_them),
		cmocka_unit_test(column_options_and_top_selection_are_checked),
		cmocka_unit_test(a_top_selection_needs_a_key_column),
		cmocka_unit_test(
			duplicates_and_clashes_across_files_name_both_places),
		cmocka_unit_test(postgres_exporter_format_problems),
		cmocka_unit_test(odd_documents_are_reported_not_crashed_on),
		cmocka_unit_test(truncated_and_mangled_files_never_crash),
		cmocka_unit_test(alias_bombs_stay_cheap),
		cmocka_unit_test(readme_examples_load_cleanly),
		cmocka_unit_test(a_group_counts_into_a_gauge_column),
		cmocka_unit_test(variants_are_chosen_by_server_version),
		cmocka_unit_test(
			variants_are_chosen_by_installed_extension_version),
		cmocka_unit_test(extension_versions_compare_by_number),
		cmocka_unit_test(
			bad_extension_version_bounds_are_errors_at_their_place),
		cmocka_unit_test(sql_gets_parameters_and_config_overrides),
		cmocka_unit_test(overrides_naming_nothing_are_warned_about),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
