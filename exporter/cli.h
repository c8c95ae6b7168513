/*
 * The command line and the environment variables that stand for flags
 * (postgres_exporter's names where they exist).
 */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stdio.h>
#include "compat.h"
#include "err.h"
#include "log.h"

/* Parsed options. Strings point into argv or the environment. */
struct cli {
	const char *config_file;
	const char **queries; /* --queries, malloc'ed: replaces the set */
	size_t nqueries;
	const char **extend; /* --extend.query-path, malloc'ed: added to it */
	size_t nextend;
	const char **compat; /* --compat NAME (config_compat_find), malloc'ed */
	size_t ncompat;
	const char *pgbouncer_dsn; /* --pgBouncer.connectionString, or NULL */
	const char *listen;	   /* HOST:PORT, default :9187 */
	const char *web_config;	   /* --web.config.file */
	bool lifecycle;		   /* --web.enable-lifecycle: POST /-/reload */
	unsigned max_connections;  /* --web.max-connections, default 128 */
	unsigned read_timeout;	   /* --web.read-timeout, seconds; 30 */
	enum log_level log_level;
	enum log_format log_format;
	bool dry_run, offline, show_metrics;
	const char *output; /* --output table|json for --dry-run */
	bool version, help;
};

struct runtime_opts;
struct http_opts;
struct dryrun_opts;

/*
 * Fill 'o' from the environment, then argv. Returns 0, or -1 with 'e' set
 * for a usage error.
 */
int cli_parse(struct cli *o, int argc, char **argv, struct err *e) MUST_CHECK;
void cli_release(struct cli *o);
void cli_usage(FILE *fp);
/*
 * The options of the snapshot (runtime.h) and of the HTTP server
 * (http.h) in 'o', for the layers below the command line. What they
 * point to is borrowed from 'o' (or argv): they must not outlive it.
 * 'reload' is the http_opts' snapshot options (NULL: none).
 */
void cli_runtime_opts(const struct cli *o, struct runtime_opts *out);
void cli_http_opts(const struct cli *o, const struct runtime_opts *reload,
		   struct http_opts *out);
/* The options of a dry run (dryrun.h), borrowed from 'o' likewise. */
void cli_dryrun_opts(const struct cli *o, struct dryrun_opts *out);

#endif
