/*
 * Flags and the environment variables that stand for them, as one table.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "config.h"
#include "dryrun.h"
#include "duration.h"
#include "http.h"
#include "runtime.h"
#include "xalloc.h"
#include "compat.h"

enum opt_id {
	OPT_CONFIG = 256,
	OPT_QUERIES,
	OPT_EXTEND,
	OPT_COMPAT,
	OPT_PGBOUNCER_DSN,
	OPT_LISTEN,
	OPT_WEB_CONFIG,
	OPT_LIFECYCLE,
	OPT_MAX_CONNECTIONS,
	OPT_READ_TIMEOUT,
	OPT_LOG_LEVEL,
	OPT_LOG_FORMAT,
	OPT_DRY_RUN,
	OPT_OFFLINE,
	OPT_SHOW_METRICS,
	OPT_OUTPUT,
	OPT_VERSION,
	OPT_HELP,
	OPT_IGNORED, /* + index in ignored[] */
};

/* One row per flag: name, argument, environment variable, help. */
static const struct flag {
	const char *name;
	int has_arg;
	enum opt_id id;
	const char *env;
	const char *arg, *help;
} flags[] = {
	{"config", 1, OPT_CONFIG, "PGPULSE_CONFIG", "FILE",
	 "the config file: targets, queries, limits (default: one target "
	 "from DATA_SOURCE_NAME / DATABASE_URL, else libpq's defaults)"},
	{"queries", 1, OPT_QUERIES, NULL, "PATH",
	 "a query file or directory; repeatable; replaces the config's list"},
	{"extend.query-path", 1, OPT_EXTEND, "PG_EXPORTER_EXTEND_QUERY_PATH",
	 "FILE",
	 "a query file added to the active set (postgres_exporter's "
	 "flag); repeatable"},
	{"compat", 1, OPT_COMPAT, "PGPULSE_COMPAT", "NAME",
	 "postgres_exporter or pgbouncer_exporter: that exporter's metric "
	 "names instead of pgpulse's where they overlap; repeatable; "
	 "replaces the config's 'compat'"},
	{"pgBouncer.connectionString", 1, OPT_PGBOUNCER_DSN,
	 "PGBOUNCER_EXPORTER_CONNECTION_STRING", "DSN",
	 "pgbouncer's admin console as a URI or conninfo: a target named "
	 "'pgbouncer' (pgbouncer_exporter's flag; not with --config)"},
	{"web.listen-address", 1, OPT_LISTEN, "PG_EXPORTER_WEB_LISTEN_ADDRESS",
	 "HOST:PORT", "where to serve (default :9187)"},
	{"web.config.file", 1, OPT_WEB_CONFIG, "PG_EXPORTER_WEB_CONFIG_FILE",
	 "FILE", "TLS and basic auth, exporter-toolkit format"},
	{"web.enable-lifecycle", 0, OPT_LIFECYCLE, NULL, NULL,
	 "accept POST /-/reload"},
	{"web.max-connections", 1, OPT_MAX_CONNECTIONS,
	 "PGPULSE_WEB_MAX_CONNECTIONS", "N",
	 "HTTP connections served at once, half of them per client address "
	 "(default 128)"},
	{"web.read-timeout", 1, OPT_READ_TIMEOUT, "PGPULSE_WEB_READ_TIMEOUT",
	 "DURATION",
	 "close a connection idle this long, or whose request is not all "
	 "in after this long (default 30s)"},
	{"log.level", 1, OPT_LOG_LEVEL, "PG_EXPORTER_LOG_LEVEL", "LEVEL",
	 "debug, info, warn or error (default info)"},
	{"log.format", 1, OPT_LOG_FORMAT, "PG_EXPORTER_LOG_FORMAT", "FORMAT",
	 "logfmt or json (default logfmt)"},
	{"dry-run", 0, OPT_DRY_RUN, NULL, NULL,
	 "check the config and query files (and run the queries read-only "
	 "on the targets), then exit"},
	{"offline", 0, OPT_OFFLINE, NULL, NULL,
	 "with --dry-run: check the files only, do not connect"},
	{"show-metrics", 0, OPT_SHOW_METRICS, NULL, NULL,
	 "with --dry-run: print the series the collectors produce"},
	{"output", 1, OPT_OUTPUT, NULL, "FORMAT",
	 "with --dry-run: table or json (default table)"},
	{"version", 0, OPT_VERSION, NULL, NULL, "print the version and exit"},
	{"help", 0, OPT_HELP, NULL, NULL, "print this help and exit"},
};

/* HOST:PORT with a port of 1 to 65535 (getaddrinfo would wrap 124464). */
static int check_listen(const char *arg, struct err *e)
{
	const char *colon = strrchr(arg, ':');
	const char *p = colon ? colon + 1 : "";
	long port = 0;

	for (; *p >= '0' && *p <= '9' && port <= 65535; p++)
		port = port * 10 + (*p - '0');
	if (!colon || *p || colon[1] == '\0' || port < 1 || port > 65535)
		return err_set(e,
			       "--web.listen-address must be HOST:PORT with a "
			       "port from 1 to 65535, not '%s'",
			       arg);
	return 0;
}

/*
 * postgres_exporter's flags that mean nothing here: accepted (with their
 * environment variables) and ignored with a warning saying what to do
 * instead, so a unit file written for it still starts.
 */
static const struct ignored_flag {
	const char *name;
	int has_arg;
	const char *env, *instead;
} ignored[] = {
	{"auto-discover-databases", 0, "PG_EXPORTER_AUTO_DISCOVER_DATABASES",
	 "per-database collectors run in every database the server allows "
	 "connections to"},
	{"exclude-databases", 1, "PG_EXPORTER_EXCLUDE_DATABASES",
	 "use the target's 'databases: {exclude: [...]}' in "
	 "the config"},
	{"include-databases", 1, "PG_EXPORTER_INCLUDE_DATABASES",
	 "use the target's 'databases: {include: [...]}' in "
	 "the config"},
	{"disable-default-metrics", 0, "PG_EXPORTER_DISABLE_DEFAULT_METRICS",
	 "choose the query files with --queries"},
	{"disable-settings-metrics", 0, "PG_EXPORTER_DISABLE_SETTINGS_METRICS",
	 "choose the query files with --queries"},
	{"constantLabels", 1, "PG_EXPORTER_CONSTANT_LABELS",
	 "use the target's 'labels' in the config"},
	{"collector.database", 0, NULL,
	 "choose the query files with --queries"},
	{"collector.bgwriter", 0, NULL,
	 "choose the query files with --queries"},
	{"no-collector.database", 0, NULL,
	 "choose the query files with --queries"},
	{"no-collector.bgwriter", 0, NULL,
	 "choose the query files with --queries"},
};

/* One --compat NAME, or a comma-separated list of them (the environment's). */
static int add_compat(struct cli *o, const char *arg, struct err *e)
{
	const char *p = arg;

	while (*p) {
		size_t n = strcspn(p, ",");
		const char *name = config_compat_find(p, n);

		if (!name)
			return err_set(e,
				       "unknown --compat '%.*s': "
				       "postgres_exporter or "
				       "pgbouncer_exporter",
				       (int)(n > 64 ? 64 : n), p);
		o->compat = xrealloc(o->compat,
				     (o->ncompat + 1) * sizeof(*o->compat));
		o->compat[o->ncompat++] = name;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int parse_max_connections(struct cli *o, const char *arg, struct err *e)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (end == arg || *end || v < 2 || v > 10000)
		return err_set(e,
			       "--web.max-connections must be a number from 2 "
			       "to 10000, not '%s'",
			       arg);
	o->max_connections = (unsigned)v;
	return 0;
}

static int parse_read_timeout(struct cli *o, const char *arg, struct err *e)
{
	double v;

	if (duration_parse(arg, &v) < 0 || v < 1 || v > 3600)
		return err_set(e,
			       "--web.read-timeout must be a duration from 1s "
			       "to 1h, not '%s'",
			       arg);
	o->read_timeout = (unsigned)v;
	return 0;
}

static int apply(struct cli *o, enum opt_id id, const char *arg, struct err *e)
{
	switch (id) {
	case OPT_CONFIG:
		o->config_file = arg;
		break;
	case OPT_QUERIES:
		o->queries = xrealloc(o->queries,
				      (o->nqueries + 1) * sizeof(*o->queries));
		o->queries[o->nqueries++] = arg;
		break;
	case OPT_EXTEND:
		o->extend = xrealloc(o->extend,
				     (o->nextend + 1) * sizeof(*o->extend));
		o->extend[o->nextend++] = arg;
		break;
	case OPT_COMPAT:
		return add_compat(o, arg, e);
	case OPT_PGBOUNCER_DSN:
		o->pgbouncer_dsn = arg;
		break;
	case OPT_LISTEN:
		if (check_listen(arg, e) < 0)
			return -1;
		o->listen = arg;
		break;
	case OPT_WEB_CONFIG:
		o->web_config = arg;
		break;
	case OPT_LIFECYCLE:
		o->lifecycle = true;
		break;
	case OPT_MAX_CONNECTIONS:
		return parse_max_connections(o, arg, e);
	case OPT_READ_TIMEOUT:
		return parse_read_timeout(o, arg, e);
	case OPT_LOG_LEVEL:
		if (log_parse_level(arg, &o->log_level) < 0)
			return err_set(e, "unknown log level '%s'", arg);
		break;
	case OPT_LOG_FORMAT:
		if (log_parse_format(arg, &o->log_format) < 0)
			return err_set(e, "unknown log format '%s'", arg);
		break;
	case OPT_DRY_RUN:
		o->dry_run = true;
		break;
	case OPT_OFFLINE:
		o->offline = true;
		break;
	case OPT_SHOW_METRICS:
		o->show_metrics = true;
		break;
	case OPT_OUTPUT:
		if (strcmp(arg, "table") && strcmp(arg, "json"))
			return err_set(e, "unknown output format '%s'", arg);
		o->output = arg;
		break;
	case OPT_VERSION:
		o->version = true;
		break;
	case OPT_HELP:
		o->help = true;
		break;
	default:
		break; /* an ignored flag: warned about by the caller */
	}
	return 0;
}

/*
 * A peer's flag (or its variable 'env'; NULL: the flag) that means nothing
 * here: say so, without its value.
 */
static void warn_ignored(const char *env, const struct ignored_flag *f)
{
	char flag[64];

	snprintf(flag, sizeof(flag), "--%s", f->name);
	log_warn("a postgres_exporter option is ignored", "option",
		 env ? env : flag, "instead", f->instead, NULL);
}

/* The list flags whose environment value a flag replaces; -1 for others. */
static int env_slot(int id)
{
	return id == OPT_QUERIES  ? 0
	       : id == OPT_EXTEND ? 1
	       : id == OPT_COMPAT ? 2
				  : -1;
}

int cli_parse(struct cli *o, int argc, char **argv, struct err *e)
{
	struct option longopts[ARRAY_SIZE(flags) + ARRAY_SIZE(ignored) + 1];
	bool from_env[3] = {false, false, false}; /* queries, extend, compat */
	size_t i;
	int c;

	memset(o, 0, sizeof(*o));
	o->listen = ":9187";
	o->max_connections = 128;
	o->read_timeout = 30;
	o->log_level = LOG_INFO;
	o->log_format = LOG_LOGFMT;
	o->output = "table";
	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		const char *v = flags[i].env ? getenv(flags[i].env) : NULL;

		longopts[i].name = flags[i].name;
		longopts[i].has_arg = flags[i].has_arg;
		longopts[i].flag = NULL;
		longopts[i].val = (int)flags[i].id;
		if (v && *v && apply(o, flags[i].id, v, e) < 0)
			return err_wrap(e, "environment %s", flags[i].env);
		if (v && *v && env_slot(flags[i].id) >= 0)
			from_env[env_slot(flags[i].id)] = true;
	}
	for (size_t k = 0; k < ARRAY_SIZE(ignored); k++, i++) {
		const char *v = ignored[k].env ? getenv(ignored[k].env) : NULL;

		longopts[i] =
			(struct option){ignored[k].name, ignored[k].has_arg,
					NULL, OPT_IGNORED + (int)k};
		if (v && *v)
			warn_ignored(ignored[k].env, &ignored[k]);
	}
	memset(&longopts[i], 0, sizeof(longopts[i]));

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h') {
			o->help = true;
			continue;
		}
		if (c >= OPT_IGNORED &&
		    (size_t)(c - OPT_IGNORED) < ARRAY_SIZE(ignored)) {
			warn_ignored(NULL, &ignored[c - OPT_IGNORED]);
			continue;
		}
		if (c == '?' || c == ':')
			return err_set(e,
				       "unknown option or missing argument "
				       "'%s'; see --help",
				       argv[optind - 1]);
		if (env_slot(c) >= 0 && from_env[env_slot(c)]) {
			/* a flag replaces what the environment said */
			from_env[env_slot(c)] = false;
			if (c == OPT_QUERIES)
				o->nqueries = 0;
			else if (c == OPT_EXTEND)
				o->nextend = 0;
			else
				o->ncompat = 0;
		}
		if (apply(o, (enum opt_id)c, optarg, e) < 0)
			return -1;
	}
	if (optind < argc)
		return err_set(e, "unexpected argument '%s'; see --help",
			       argv[optind]);
	if (o->pgbouncer_dsn && o->config_file)
		return err_set(e, "--pgBouncer.connectionString goes without "
				  "--config: name the pgbouncer target in the "
				  "config (kind: pgbouncer)");
	if ((o->offline || o->show_metrics) && !o->dry_run)
		return err_set(e, "--offline and --show-metrics go with "
				  "--dry-run");
	return 0;
}

void cli_release(struct cli *o)
{
	free(o->queries);
	o->queries = NULL;
	o->nqueries = 0;
	free(o->extend);
	o->extend = NULL;
	o->nextend = 0;
	free(o->compat);
	o->compat = NULL;
	o->ncompat = 0;
}

void cli_usage(FILE *fp)
{
	size_t i;

	fputs("usage: pgpulse [options]\n\n"
	      "A PostgreSQL and pgbouncer exporter for Prometheus.\n\n"
	      "options:\n",
	      fp);
	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		char left[64];

		snprintf(left, sizeof(left), "--%s%s%s", flags[i].name,
			 flags[i].arg ? " " : "",
			 flags[i].arg ? flags[i].arg : "");
		fprintf(fp, "  %-32s %s\n", left, flags[i].help);
		if (flags[i].env)
			fprintf(fp, "  %-32s (environment: %s)\n", "",
				flags[i].env);
	}
	fputs("\npostgres_exporter's, accepted and ignored with a warning:\n",
	      fp);
	for (i = 0; i < ARRAY_SIZE(ignored); i++)
		fprintf(fp, "  --%s%s%s\n", ignored[i].name,
			ignored[i].env ? ", " : "",
			ignored[i].env ? ignored[i].env : "");
	fputs("\nenvironment:\n"
	      "  DATA_SOURCE_NAME, DATABASE_URL   the target as a URI or "
	      "conninfo\n"
	      "  DATA_SOURCE_URI[_FILE], DATA_SOURCE_USER[_FILE],\n"
	      "  DATA_SOURCE_PASS[_FILE]          the target in parts "
	      "(postgres_exporter's)\n"
	      "  PGHOST, PGPORT, PGUSER, ...      libpq's defaults apply\n\n"
	      "endpoints: /metrics /probe?target=NAME|HOST:PORT[/DB] /healthz "
	      "/readyz / /-/reload\n"
	      "see pgpulse(1) and README.md\n",
	      fp);
	fputs("\nconfig limits for per-database collectors on many databases:\n"
	      "  database_logins_per_scrape  logins per scrape above 20 "
	      "databases (default 1;\n"
	      "                              0: each database whenever its "
	      "ttl ran out)\n"
	      "  database_max_staleness      the databases that matter are "
	      "revisited within\n"
	      "                              this (default 10m)\n",
	      fp);
}

void cli_runtime_opts(const struct cli *o, struct runtime_opts *out)
{
	*out = (struct runtime_opts){
		.config_file = o->config_file,
		.queries = o->queries,
		.nqueries = o->nqueries,
		.extend = o->extend,
		.nextend = o->nextend,
		.compat = o->compat,
		.ncompat = o->ncompat,
		.pgbouncer_dsn = o->pgbouncer_dsn,
		.web_config = o->web_config,
	};
}

void cli_dryrun_opts(const struct cli *o, struct dryrun_opts *out)
{
	*out = (struct dryrun_opts){
		.offline = o->offline,
		.json = o->output && !strcmp(o->output, "json"),
		.show_metrics = o->show_metrics,
	};
	cli_runtime_opts(o, &out->ro);
}

void cli_http_opts(const struct cli *o, const struct runtime_opts *reload,
		   struct http_opts *out)
{
	*out = (struct http_opts){
		.listen = o->listen,
		.web_config = o->web_config,
		.lifecycle = o->lifecycle,
		.max_connections = o->max_connections,
		.read_timeout = o->read_timeout,
		.reload = reload,
	};
}
