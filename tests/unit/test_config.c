/*
 * The config file (every diagnostic with its exact position, never a
 * password) and the environment postgres_exporter users already set.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "duration.h"
#include "err.h"
#include "xalloc.h"
#include "unit.h"

#define FIX "fixtures/config/"

/* Load 'path', compare every diagnostic; 'cfg' is left loaded. */
static void expect_load(struct config *cfg, const char *path, int rc,
			const char *expected)
{
	struct diags d = DIAGS_INIT;
	char *out;

	assert_int_equal(config_load(cfg, path, &d), rc);
	out = diags_text(&d);
	assert_string_equal(out, expected);
	free(out);
	diags_release(&d);
}

static void expect_params(const struct target_config *t, ...)
{
	const char *k, *v;
	size_t i = 0;
	va_list ap;

	va_start(ap, t);
	while ((k = va_arg(ap, const char *))) {
		v = va_arg(ap, const char *);
		assert_true(i < t->nparams);
		assert_string_equal(t->keys[i], k);
		assert_string_equal(t->vals[i], v);
		i++;
	}
	va_end(ap);
	assert_int_equal(t->nparams, i);
	assert_null(t->keys[i]);
	assert_null(t->vals[i]);
}

static void every_key_of_the_config_loads(void **state)
{
	struct config cfg;
	const struct target_config *t;

	(void)state;
	expect_load(&cfg, FIX "good.yaml", 0, "");
	assert_string_equal(cfg.path, FIX "good.yaml");
	assert_int_equal(cfg.ntargets, 4);

	t = &cfg.targets[0];
	assert_string_equal(t->name, "primary");
	assert_int_equal(t->kind, TARGET_POSTGRES);
	/* The URL first, so that discrete keys after it override it. */
	expect_params(t, "dbname",
		      "postgresql://monitor@db1:5432/postgres?sslmode=verify-"
		      "full",
		      "sslrootcert", "/etc/ssl/ca.pem", NULL);
	/* Relative to the config file's directory. */
	assert_string_equal(t->password_file, FIX "secrets/pw");
	assert_null(t->password_env);
	assert_int_equal(t->nlabels, 2);
	assert_string_equal(t->labels[0].name, "role");
	assert_string_equal(t->labels[0].value, "primary");
	assert_string_equal(t->labels[1].name, "cluster");
	assert_int_equal(t->ntags, 2);
	assert_string_equal(t->tags[1], "fleet");
	assert_int_equal(t->ninclude, 1);
	assert_string_equal(t->db_include[0], ".*");
	assert_int_equal(t->nexclude, 2);
	assert_string_equal(t->db_exclude[1], "test_[0-9]+$");
	assert_string_equal(t->data_directory, "/var/lib/postgresql/15/main");
	assert_string_equal(t->pos.file, FIX "good.yaml");
	assert_int_equal(t->pos.line, 3);
	assert_int_equal(t->pos.column, 5);

	t = &cfg.targets[1];
	assert_string_equal(t->name, "replica.1");
	expect_params(t, "dbname", "host=db2 port=5433 dbname=postgres", "user",
		      "monitor", "sslmode", "require", "target_session_attrs",
		      "standby", NULL);
	assert_string_equal(t->password_env, "PGPULSE_REPLICA_PW");
	assert_null(t->password_file);
	assert_int_equal(t->ntags, 1);
	assert_string_equal(t->tags[0], "primary");

	expect_params(&cfg.targets[2], "host", "/var/run/postgresql", "dbname",
		      "postgres", NULL);
	assert_int_equal(cfg.targets[3].kind, TARGET_PGBOUNCER);

	assert_int_equal(cfg.nquery_paths, 3);
	assert_string_equal(cfg.query_paths[0], "/usr/share/pgpulse/queries");
	assert_string_equal(cfg.query_paths[1], FIX "local_queries");
	assert_string_equal(cfg.query_paths[2], FIX "./more.yaml");
	assert_int_equal(cfg.connections_per_target, 3);
	assert_true(cfg.scrape_timeout == 15);
	assert_true(cfg.connect_timeout == 2);
	assert_true(cfg.statement_timeout == 2.5);
	assert_true(cfg.lock_timeout == 0);
	assert_true(cfg.idle_timeout == 300);
	assert_int_equal(cfg.max_series, 20000);
	assert_int_equal(cfg.nprobe_allow, 1);
	assert_string_equal(cfg.probe_allow[0], "^db[0-9]+\\.internal:5432$");
	assert_int_equal(cfg.nparams, 2);
	assert_string_equal(cfg.param_keys[0], "statements.top_n");
	assert_string_equal(cfg.param_vals[0], "50");
	assert_string_equal(cfg.param_vals[1], "monitoring");
	assert_int_equal(cfg.param_pos[1].line, 37);
	assert_int_equal(cfg.param_pos[1].column, 3);
	config_free(&cfg);
	assert_null(cfg.path);
	assert_int_equal(cfg.ntargets, 0);
}

static void
an_empty_file_is_refused_and_no_targets_gives_the_defaults(void **state)
{
	struct config cfg;

	(void)state;
	/* a file cut short while being written must not drop every target */
	expect_load(&cfg, FIX "empty.yaml", -1,
		    FIX "empty.yaml:1:1: error: the config file is empty; for "
			"a config without targets write 'targets: []'\n");
	expect_load(&cfg, FIX "no_targets.yaml", 0, "");
	assert_int_equal(cfg.ntargets, 0);
	assert_int_equal(cfg.nquery_paths, 0);
	assert_int_equal(cfg.connections_per_target, 2);
	assert_true(cfg.scrape_timeout == 10 && cfg.connect_timeout == 5);
	assert_true(cfg.statement_timeout == 5 && cfg.lock_timeout == 1);
	assert_true(cfg.idle_timeout == 60);
	assert_int_equal(cfg.max_series, 50000);
	assert_int_equal(cfg.target_max_series, 25000);
	config_free(&cfg);
}

static void every_problem_is_reported_with_its_position(void **state)
{
	struct config cfg;

	(void)state;
	expect_load(
		&cfg, FIX "bad.yaml", -1,
		FIX
		"bad.yaml:3:10: warning: target 'primary': 'url' holds a "
		"password: anyone who can read this file can read it; use "
		"password_file instead\n" FIX
		"bad.yaml:3:10: error: target 'primary': invalid sslmode "
		"'verify-fully' in 'url'\n" FIX
		"bad.yaml:4:14: error: target 'primary': label 'target' is "
		"reserved: the exporter sets it to the target's name\n" FIX
		"bad.yaml:4:25: error: target 'primary': invalid label "
		"name '1bad' (letters, digits and '_', not starting with a "
		"digit or '__')\n" FIX
		"bad.yaml:4:40: error: target 'primary': label 'ok' must be "
		"a string, not a list\n" FIX
		"bad.yaml:5:27: error: target 'primary': invalid regular "
		"expression '(unclosed': Unmatched ( or \\(\n" FIX
		"bad.yaml:5:41: error: target 'primary': unknown key "
		"'exlude' (did you mean 'exclude'?)\n" FIX
		"bad.yaml:6:23: error: target 'primary': 'application_name' "
		"is always 'pgpulse', so sessions are easy to find in "
		"pg_stat_activity\n" FIX
		"bad.yaml:7:5: error: target 'primary': unknown key 'hots' "
		"(did you mean 'host'?)\n" FIX
		"bad.yaml:8:11: error: target 'primary': duplicate target "
		"(first at " FIX "bad.yaml:2:11)\n" FIX
		"bad.yaml:9:11: error: target 'primary': invalid kind "
		"'pgbouncers' (did you mean 'pgbouncer'?)\n" FIX
		"bad.yaml:10:15: error: target 'primary': invalid "
		"'conninfo': missing \"=\" after \"port\" in connection "
		"info string\n" FIX
		"bad.yaml:11:5: error: target #3: missing 'name'\n" FIX
		"bad.yaml:12:11: error: target 'bad name': invalid target "
		"name (letters, digits, '_', '.' and '-')\n" FIX
		"bad.yaml:13:10: error: target 'bad name': 'url' must start "
		"with postgresql:// (use 'conninfo' for key=value "
		"strings)\n" FIX
		"bad.yaml:14:15: error: target 'bad name': give only one of "
		"'password_file', 'password_env' and 'password'\n" FIX
		"bad.yaml:14:15: warning: target 'bad name': a password in "
		"the config file can be read by anyone who can read the "
		"file; use password_file instead\n" FIX
		"bad.yaml:18:13: error: target 'bouncer': 'dbname' names a "
		"database; put a connection string in 'url' or "
		"'conninfo'\n" FIX
		"bad.yaml:19:14: error: target 'bouncer': invalid sslmode "
		"'verify-all' (did you mean 'verify-full'?)\n" FIX
		"bad.yaml:20:16: error: target 'bouncer': 'databases' does "
		"not apply to pgbouncer targets\n" FIX
		"bad.yaml:21:21: error: target 'bouncer': 'data_directory' "
		"must be an absolute path\n" FIX
		"bad.yaml:21:21: error: target 'bouncer': 'data_directory' "
		"does not apply to pgbouncer targets\n" FIX
		"bad.yaml:22:5: error: target #6: a target must be a "
		"mapping, not a string\n" FIX
		"bad.yaml:23:10: error: 'queries' must be a list of "
		"strings, not a mapping\n" FIX
		"bad.yaml:25:27: error: 'connections_per_target' must be "
		"between 1 and 100, not 0\n" FIX
		"bad.yaml:26:19: error: 'scrape_timeout' must be more than "
		"0\n" FIX
		"bad.yaml:27:22: warning: 'statement_timeout' (20s) is not "
		"shorter than 'scrape_timeout' (10s): a slow query fails "
		"the whole scrape\n" FIX
		"bad.yaml:28:17: error: 'idle_timeout' must be a duration "
		"such as 250ms, 30s, 5m, 1h or 1d, not '1 minute'\n" FIX
		"bad.yaml:29:3: error: unknown key 'max_sereis' (did you "
		"mean 'max_series'?)\n" FIX
		"bad.yaml:31:11: error: invalid regular expression '[a-': "
		"Unmatched [, [^, [:, [., or [=\n" FIX
		"bad.yaml:33:3: error: parameter 'top_n' must be written "
		"collector.parameter\n" FIX
		"bad.yaml:34:21: error: parameter 'statements.top_n' must "
		"be a number or an identifier (letters, digits, '_' and "
		"'.'), not '5; drop'\n" FIX
		"bad.yaml:35:17: error: 'tables.top_n' is empty\n" FIX
		"bad.yaml:36:1: error: unknown key 'webb'\n");
	/* A failed load leaves nothing behind. */
	assert_null(cfg.path);
	assert_int_equal(cfg.ntargets, 0);
	assert_null(cfg.targets);
	config_free(&cfg);
}

static void passwords_are_never_echoed(void **state)
{
	struct config cfg;

	(void)state;
	expect_load(&cfg, FIX "secret.yaml", -1,
		    FIX
		    "secret.yaml:3:10: error: target 'a': invalid 'url': "
		    "malformed (libpq's message is not shown: the string holds "
		    "a password)\n" FIX
		    "secret.yaml:5:15: error: target 'b': invalid 'conninfo': "
		    "malformed (libpq's message is not shown: the string holds "
		    "a password)\n" FIX
		    "secret.yaml:7:15: warning: target 'c': 'conninfo' holds a "
		    "password: anyone who can read this file can read it; use "
		    "password_file instead\n");
	config_free(&cfg);
}

static void syntax_errors_and_missing_files_are_reported(void **state)
{
	struct config cfg;

	(void)state;
	expect_load(&cfg, FIX "bad_syntax.yaml", -1,
		    FIX "bad_syntax.yaml:4:4: error: invalid YAML: did not "
			"find expected '-' indicator (while parsing a block "
			"collection at 2:3)\n");
	expect_load(&cfg, FIX "scalar.yaml", -1,
		    FIX "scalar.yaml:1:1: error: 'config' must be a mapping, "
			"not a string\n");
	expect_load(&cfg, FIX "nope.yaml", -1,
		    FIX "nope.yaml: error: cannot read: No such file or "
			"directory\n");
	config_free(&cfg);
}

static void truncated_configs_never_crash(void **state)
{
	FILE *fp = fopen(FIX "good.yaml", "rb");
	char *text = xmalloc(1 << 16), path[] = "/tmp/pgpulse-cfg-XXXXXX";
	size_t len, n;
	int fd;

	(void)state;
	assert_non_null(fp);
	len = fread(text, 1, 1 << 16, fp);
	fclose(fp);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	for (n = 0; n <= len; n++) {
		struct diags d = DIAGS_INIT;
		struct config cfg;
		int rc;

		fp = fopen(path, "wb");
		assert_non_null(fp);
		assert_int_equal(fwrite(text, 1, n, fp), n);
		fclose(fp);
		rc = config_load(&cfg, path, &d);
		assert_int_equal(rc<0, d.nerrors> 0);
		config_free(&cfg);
		diags_release(&d);
	}
	unlink(path);
	free(text);
}

static void durations_take_units_and_reject_the_rest(void **state)
{
	static const struct {
		const char *s;
		double want;
	} good[] = {
		{"0", 0},     {"5", 5},		{"1.5s", 1.5},	{"250ms", 0.25},
		{"5m", 300},  {"1h", 3600},	{"2d", 172800}, {"1m30s", 90},
		{".5s", 0.5}, {"1h0m1s", 3601},
	};
	static const char *const bad[] = {
		"",    "-1s", "s",  "5x",     "1e3", "0x10", "inf",
		"nan", "5 s", " 5", "1.2.3s", "5s5", "1ms2", "5mss",
	};
	size_t i;
	double v;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		v = -1;
		assert_int_equal(duration_parse(good[i].s, &v), 0);
		assert_true(v == good[i].want);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		if (duration_parse(bad[i], &v) != -1)
			fail_msg("'%s' was accepted", bad[i]);
	assert_int_equal(duration_parse(NULL, &v), -1);
}

static void auth_modules_and_probe_rules_load(void **state)
{
	struct config cfg;
	struct target_config t;
	const struct auth_module *m;

	(void)state;
	expect_load(&cfg, FIX "auth_modules.yaml", 0, "");
	assert_int_equal(cfg.probe_max_targets, 8);
	assert_int_equal(cfg.nauth_modules, 2);
	m = config_auth_module(&cfg, "tenant");
	assert_non_null(m);
	assert_string_equal(m->username, "monitor");
	assert_string_equal(m->password_file, FIX "secrets/pw");
	assert_null(m->password_env);
	assert_int_equal(m->nopts, 2);
	assert_string_equal(m->opt_keys[1], "sslrootcert");
	assert_int_equal(m->pos.line, 5);
	assert_int_equal(m->pos.column, 3);
	assert_string_equal(config_auth_module(&cfg, "from-env")->password_env,
			    "PROBE_PW");
	assert_null(config_auth_module(&cfg, "nosuch"));

	/* compiled once, when the file loads; they match all of host:port,
	 * never a part of it */
	assert_non_null(cfg.probe_re);
	assert_true(config_probe_allowed(&cfg, "db12.internal:5432"));
	assert_true(config_probe_allowed(&cfg, "replica.internal:6432"));
	assert_false(config_probe_allowed(&cfg, "db12.internal:54321"));
	assert_false(config_probe_allowed(&cfg, "xdb1.internal:5432"));
	assert_false(config_probe_allowed(&cfg, "db1.internal:5432.evil:1"));
	assert_false(config_probe_allowed(&cfg, "replica.internal:5432"));

	/* the probe's host, port and database, the module's credentials */
	config_probe_target(&t, "db1.internal:5432/app", "db1.internal", "5432",
			    "app", m);
	expect_params(&t, "host", "db1.internal", "port", "5432", "dbname",
		      "app", "user", "monitor", "sslmode", "verify-full",
		      "sslrootcert", "/etc/ssl/ca.pem", NULL);
	assert_string_equal(t.password_file, FIX "secrets/pw");
	assert_int_equal(t.kind, TARGET_POSTGRES);
	target_config_release(&t);
	config_probe_target(&t, "h:1/postgres", "h", "1", NULL, NULL);
	expect_params(&t, "host", "h", "port", "1", "dbname", "postgres", NULL);
	assert_null(t.password_file);
	target_config_release(&t);
	config_free(&cfg);
	assert_int_equal(cfg.nauth_modules, 0);
	assert_int_equal(cfg.probe_max_targets, 64);
}

static void auth_module_problems_are_reported_with_positions(void **state)
{
	struct config cfg;

	(void)state;
#define B FIX "auth_modules_bad.yaml:"
	expect_load(
		&cfg, FIX "auth_modules_bad.yaml", -1,
		B
		"2:16: error: 'max_targets' must be "
		"between 1 and 4096, not 0\n" B
		"5:11: error: auth module 'nopass': invalid type 'userpas' "
		"(did you mean 'userpass'?)\n" B
		"6:15: error: auth module 'nopass': missing 'username'\n" B
		"6:16: error: auth module 'nopass': unknown key 'user'\n" B
		"9:39: error: auth module 'both': give only one of "
		"'password_file', 'password_env' and 'password'\n" B
		"9:39: warning: auth module 'both': a password in the config "
		"file can be read by anyone who can read the file; use "
		"password_file instead\n" B
		"10:15: error: auth module 'both': option 'host' cannot be set "
		"by an auth module\n" B
		"11:3: error: auth module 'bad name': invalid auth module name "
		"(letters, digits, '_', '.' and '-')\n" B
		"13:43: error: auth module 'bad name': 'password_env' must "
		"name "
		"an environment variable\n" B
		"15:5: error: auth module 'notype': missing 'type' "
		"(userpass)\n" B
		"15:5: error: auth module 'notype': missing 'userpass'\n" B
		"15:14: error: auth module 'notype': 'options' must be a "
		"mapping, not a list\n");
#undef B
	assert_int_equal(cfg.nauth_modules, 0);
	assert_null(cfg.auth_modules);
}

static void secrets_are_read_trimmed(void **state)
{
	struct err e = ERR_INIT;
	char *s;

	(void)state;
	s = config_read_secret(FIX "secrets/pw", &e);
	assert_non_null(s);
	assert_string_equal(s, "s3cret pass");
	free(s);
	assert_null(config_read_secret(FIX "secrets/none", &e));
	assert_string_equal(e.msg, "cannot read secret file '" FIX
				   "secrets/none': No such file or directory");
}

/* Every variable config_add_env_target reads, unset. */
static void clear_env(void)
{
	static const char *const vars[] = {
		"DATA_SOURCE_NAME", "DATABASE_URL",
		"DATA_SOURCE_URI",  "DATA_SOURCE_URI_FILE",
		"DATA_SOURCE_USER", "DATA_SOURCE_USER_FILE",
		"DATA_SOURCE_PASS", "DATA_SOURCE_PASS_FILE",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vars); i++)
		unsetenv(vars[i]);
}

static int env_setup(void **state)
{
	(void)state;
	clear_env();
	return 0;
}

/* The one target the environment gives, in a fresh config. */
static void env_target(struct config *cfg)
{
	struct err e = ERR_INIT;

	config_init(cfg);
	if (config_add_env_target(cfg, "default", &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(cfg->ntargets, 1);
	assert_string_equal(cfg->targets[0].name, "default");
	assert_int_equal(cfg->targets[0].kind, TARGET_POSTGRES);
}

static void env_with_nothing_set_leaves_libpq_defaults(void **state)
{
	struct config cfg;

	(void)state;
	env_target(&cfg);
	expect_params(&cfg.targets[0], NULL);
	assert_null(cfg.targets[0].password_file);
	assert_null(cfg.targets[0].password_env);
	config_free(&cfg);
}

static void env_data_source_name_wins_over_database_url(void **state)
{
	struct config cfg;

	(void)state;
	setenv("DATABASE_URL", "postgresql://url@h/db", 1);
	env_target(&cfg);
	expect_params(&cfg.targets[0], "dbname", "postgresql://url@h/db", NULL);
	config_free(&cfg);

	setenv("DATA_SOURCE_NAME", "host=dsn dbname=x", 1);
	/* Ignored, as postgres_exporter ignores it with a DSN. */
	setenv("DATA_SOURCE_URI", "other/db", 1);
	/* The password goes with the DSN (the README's first example) */
	setenv("DATA_SOURCE_PASS", "pw", 1);
	env_target(&cfg);
	expect_params(&cfg.targets[0], "dbname", "host=dsn dbname=x", NULL);
	assert_string_equal(cfg.targets[0].password_env, "DATA_SOURCE_PASS");
	config_free(&cfg);
	setenv("DATA_SOURCE_PASS_FILE", "/run/secrets/pw", 1);
	env_target(&cfg);
	assert_string_equal(cfg.targets[0].password_file, "/run/secrets/pw");
	assert_null(cfg.targets[0].password_env);
	config_free(&cfg);
}

static void env_uri_user_and_password_combine(void **state)
{
	struct config cfg;

	(void)state;
	setenv("DATA_SOURCE_URI", "db1:5432/postgres?sslmode=disable", 1);
	setenv("DATA_SOURCE_USER", "monitor", 1);
	setenv("DATA_SOURCE_PASS", "not stored", 1);
	env_target(&cfg);
	expect_params(&cfg.targets[0], "dbname",
		      "postgresql://db1:5432/postgres?sslmode=disable", "user",
		      "monitor", NULL);
	/* Read at each connect, never copied into the config. */
	assert_string_equal(cfg.targets[0].password_env, "DATA_SOURCE_PASS");
	assert_null(cfg.targets[0].password_file);
	config_free(&cfg);

	/* A URI that has its scheme already keeps it. */
	setenv("DATA_SOURCE_URI", "postgres://db2/x", 1);
	env_target(&cfg);
	expect_params(&cfg.targets[0], "dbname", "postgres://db2/x", "user",
		      "monitor", NULL);
	config_free(&cfg);
}

static void write_file(char *path, const char *text)
{
	int fd = mkstemp(path);
	FILE *fp;

	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void env_file_variables_win_and_are_trimmed(void **state)
{
	char uri[] = "/tmp/pgpulse-uri-XXXXXX";
	char user[] = "/tmp/pgpulse-user-XXXXXX";
	struct config cfg;

	(void)state;
	write_file(uri, "  db3:6432/pgbouncer\n");
	write_file(user, "stats\n");
	setenv("DATA_SOURCE_URI_FILE", uri, 1);
	setenv("DATA_SOURCE_URI", "ignored/db", 1);
	setenv("DATA_SOURCE_USER_FILE", user, 1);
	setenv("DATA_SOURCE_USER", "ignored", 1);
	setenv("DATA_SOURCE_PASS_FILE", "/run/secrets/pw", 1);
	setenv("DATA_SOURCE_PASS", "ignored", 1);
	env_target(&cfg);
	expect_params(&cfg.targets[0], "dbname",
		      "postgresql://db3:6432/pgbouncer", "user", "stats", NULL);
	assert_string_equal(cfg.targets[0].password_file, "/run/secrets/pw");
	assert_null(cfg.targets[0].password_env);
	config_free(&cfg);
	unlink(uri);
	unlink(user);
}

static void env_errors_name_the_variable_not_the_password(void **state)
{
	struct config cfg;
	struct err e = ERR_INIT;

	(void)state;
	config_init(&cfg);
	setenv("DATA_SOURCE_NAME", "host=a password=hunter two", 1);
	assert_int_equal(config_add_env_target(&cfg, "default", &e), -1);
	assert_string_equal(e.msg,
			    "DATA_SOURCE_NAME: invalid connection string: "
			    "malformed (libpq's message is not shown: the "
			    "string holds a password)");
	err_clear(&e);
	setenv("DATA_SOURCE_NAME", "host=a port", 1);
	assert_int_equal(config_add_env_target(&cfg, "default", &e), -1);
	assert_string_equal(e.msg, "DATA_SOURCE_NAME: invalid connection "
				   "string: missing \"=\" after \"port\" in "
				   "connection info string");
	err_clear(&e);
	unsetenv("DATA_SOURCE_NAME");
	setenv("DATA_SOURCE_USER_FILE", "/nonexistent/user", 1);
	assert_int_equal(config_add_env_target(&cfg, "default", &e), -1);
	assert_string_equal(e.msg, "DATA_SOURCE_USER_FILE: cannot read secret "
				   "file '/nonexistent/user': No such file or "
				   "directory");
	assert_int_equal(cfg.ntargets, 0);
	unsetenv("DATA_SOURCE_USER_FILE");
	err_clear(&e);
	assert_int_equal(config_add_env_target(&cfg, "default", &e), 0);
	assert_int_equal(config_add_env_target(&cfg, "default", &e), -1);
	assert_string_equal(e.msg, "target 'default' is already defined");
	config_free(&cfg);
}

static void database_visit_limits_load_and_are_checked(void **state)
{
	struct config cfg;

	(void)state;
	expect_load(&cfg, FIX "visits.yaml", 0, "");
	assert_true(cfg.database_logins_per_scrape == 0.5);
	assert_true(cfg.database_max_staleness == 1800);
	config_free(&cfg);
	expect_load(&cfg, FIX "no_targets.yaml", 0, "");
	assert_true(cfg.database_logins_per_scrape == 1);
	assert_true(cfg.database_max_staleness == 600);
	config_free(&cfg);
	expect_load(&cfg, FIX "visits_bad.yaml", -1,
		    FIX "visits_bad.yaml:3:31: error: "
			"'database_logins_per_scrape' must be from 0 (no "
			"budget) to 10000, not -1\n" FIX
			"visits_bad.yaml:4:27: error: 'database_max_staleness' "
			"must be more than 0\n");
	expect_load(&cfg, FIX "visits_bad2.yaml", -1,
		    FIX
		    "visits_bad2.yaml:2:38: error: "
		    "'database_logins_per_scrape' must be a number, not "
		    "'lots'\n" FIX
		    "visits_bad2.yaml:2:68: error: 'database_max_staleness' "
		    "must be a duration such as 250ms, 30s, 5m, 1h or 1d, "
		    "not '10 minutes'\n");
}

static void regexes_that_would_take_the_memory_are_refused(void **state)
{
	struct config cfg;

	(void)state;
	expect_load(&cfg, FIX "regex_bomb.yaml", -1,
		    FIX
		    "regex_bomb.yaml:6:27: error: target 'primary': "
		    "invalid regular expression '(tenant_[0-9]{1,4}){1,500}"
		    "': too complex: its repetitions expand to over 1000 "
		    "copies (write fewer or smaller counts)\n" FIX
		    "regex_bomb.yaml:6:68: error: target 'primary': invalid "
		    "regular expression '(a)\\1': back-references (\\1 to "
		    "\\9) and groups nested deeper than 32 are not "
		    "supported\n" FIX
		    "regex_bomb.yaml:8:11: error: invalid regular expression "
		    "'replica\\.intern}}}}+++++++++++++++++++++++++++++++++:6"
		    "432': too complex: its repetitions expand to over 1000 "
		    "copies (write fewer or smaller counts)\n");
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_key_of_the_config_loads),
		cmocka_unit_test(
			an_empty_file_is_refused_and_no_targets_gives_the_defaults),
		cmocka_unit_test(every_problem_is_reported_with_its_position),
		cmocka_unit_test(passwords_are_never_echoed),
		cmocka_unit_test(syntax_errors_and_missing_files_are_reported),
		cmocka_unit_test(truncated_configs_never_crash),
		cmocka_unit_test(durations_take_units_and_reject_the_rest),
		cmocka_unit_test(secrets_are_read_trimmed),
		cmocka_unit_test(auth_modules_and_probe_rules_load),
		cmocka_unit_test(
			auth_module_problems_are_reported_with_positions),
		cmocka_unit_test_setup(
			env_with_nothing_set_leaves_libpq_defaults, env_setup),
		cmocka_unit_test_setup(
			env_data_source_name_wins_over_database_url, env_setup),
		cmocka_unit_test_setup(env_uri_user_and_password_combine,
				       env_setup),
		cmocka_unit_test_setup(env_file_variables_win_and_are_trimmed,
				       env_setup),
		cmocka_unit_test_setup(
			env_errors_name_the_variable_not_the_password,
			env_setup),
		cmocka_unit_test(database_visit_limits_load_and_are_checked),
		cmocka_unit_test(
			regexes_that_would_take_the_memory_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
