/*
 * pgpulse --dry-run: check the config and query files, and run every
 * collector read-only on the targets, reporting every problem.
 */
#ifndef DRYRUN_H
#define DRYRUN_H

#include <stdbool.h>
#include <stddef.h>
#include "config.h"
#include "diag.h"
#include "querydef.h"
#include "runtime.h"
#include "sb.h"

/*
 * What the command line asks of a dry run (cli_dryrun_opts fills it):
 * the files and targets as for the daemon ('ro', which holds the web
 * config file too), and how to report. Strings are borrowed.
 */
struct dryrun_opts {
	struct runtime_opts ro;
	bool offline;	   /* --offline: check the files only */
	bool json;	   /* --output json */
	bool show_metrics; /* --show-metrics */
};

/* Returns the process exit code: 0 no errors, 1 errors. */
int dryrun_main(const struct dryrun_opts *o);

enum dryrun_status {
	DRYRUN_OK,
	DRYRUN_SKIPPED, /* does not run on this target (version, ...) */
	DRYRUN_WARNING,
	DRYRUN_ERROR,
	DRYRUN_TIMEOUT, /* slower than its timeout (an error too) */
};

/* The distinct values one label column took. */
struct dryrun_label {
	char *name;
	size_t values;
};

/*
 * One collector on one target (target NULL when offline): one row of the
 * table. Owned by its report; strings owned.
 */
struct dryrun_row {
	char *collector;
	char *target;
	enum dryrun_status status;
	char *note;	/* why skipped or failed, in a few words; or NULL */
	int variant;	/* 1-based index of the variant that ran; 0: none */
	int nvariants;	/* the collector's variants */
	double seconds; /* time the query took; < 0: it did not run */
	long rows;	/* rows returned; < 0: it did not run */
	size_t series, max_series;
	struct dryrun_label *labels;
	size_t nlabels;
};

/* A target as the dry run found it. Owned by its report. */
struct dryrun_target {
	char *name;
	const char *kind; /* "postgres" or "pgbouncer" (static) */
	char *version;	  /* "PostgreSQL 15.4" or NULL */
	int version_num;  /* 0: unknown */
	char *error;	  /* why it could not be checked, or NULL */
};

/*
 * Everything a dry run found: the diagnostics and the table. A local of
 * dryrun_main (or of a test), freed with dryrun_report_release.
 */
struct dryrun_report {
	struct diags d;
	struct dryrun_row *rows;
	size_t n, alloc;
	struct dryrun_target *targets;
	size_t ntargets, talloc;
	size_t ncollectors;
	bool offline;
	char *metrics; /* the exposition text for --show-metrics, or NULL */
};

#define DRYRUN_REPORT_INIT                                                     \
	{                                                                      \
		.d = DIAGS_INIT                                                \
	}

/* Add a row (strings copied); returns it for the caller to fill in. */
struct dryrun_row *dryrun_add_row(struct dryrun_report *r,
				  const char *collector, const char *target);
/* Add a target (strings copied; NULLs allowed). */
struct dryrun_target *dryrun_add_target(struct dryrun_report *r,
					const char *name, const char *kind,
					const char *version, int version_num,
					const char *error);
void dryrun_report_release(struct dryrun_report *r);

/* "ok", "skipped", "warning", "timeout", "error" */
const char *dryrun_status_name(enum dryrun_status s);

/*
 * The table: one line per target ("target 'x': PostgreSQL 15.4"), then
 * the columns COLLECTOR TARGET STATUS VARIANT TIME ROWS SERIES NOTE,
 * aligned ("-" for what did not run).
 */
void dryrun_render_table(const struct dryrun_report *r, struct sb *out);
/*
 * One JSON object: {"errors", "warnings", "offline", "targets": [...],
 * "diagnostics": [{file, line, column, severity, message}],
 * "collectors": [...rows], "metrics" (with --show-metrics)}, and a newline.
 */
void dryrun_render_json(const struct dryrun_report *r, struct sb *out);
/* "3 collectors, 1 target: 1 error, 0 warnings\n" */
void dryrun_render_summary(const struct dryrun_report *r, struct sb *out);

/*
 * Where character 'pos' (1-based, as PostgreSQL's error position counts)
 * of 'sql' (the SQL of variant 'v' of 'c' after parameter substitution
 * with 'cfg') was written in the query file whose text is 'text' (of 'len'
 * bytes; NULL: not checked). '*exact' is false when the place cannot be
 * known for sure (a folded or multi-line plain scalar, a position inside a
 * parameter's value); the variant's position is returned then.
 */
struct srcpos dryrun_sql_pos(const struct collector *c, const struct variant *v,
			     const struct config *cfg, const char *sql,
			     size_t pos, const char *text, size_t len,
			     bool *exact);

#endif
