/*
 * Query files into collector definitions. Two formats are read:
 *  - ours: a top-level "collectors:" map (schema in queries/README.md);
 *  - postgres_exporter's queries.yaml (top-level names with "query" and a
 *    "metrics" list), so users keep their files and metric names.
 * Every problem is reported as file:line:column with the collector's name;
 * the loader never crashes on bad input.
 */
#ifndef QUERYDEF_H
#define QUERYDEF_H

#include <stdbool.h>
#include <stddef.h>
#include "compat.h"
#include "config.h"
#include "diag.h"
#include "strmap.h"

enum col_usage {
	USAGE_LABEL,	 /* the column's text is a label value */
	USAGE_DISCARD,	 /* ignored */
	USAGE_GAUGE,	 /* a sample of a gauge */
	USAGE_COUNTER,	 /* a sample of a counter */
	USAGE_INFO,	 /* value 1, the label columns as labels */
	USAGE_HISTOGRAM, /* bounds array; with <col>_bucket, _sum, _count */
};

/* What to do with a column holding a filesystem path. */
enum value_transform {
	TRANSFORM_NONE,
	TRANSFORM_DISK_USAGE, /* allocated bytes of the directory tree */
	TRANSFORM_FS_SIZE,    /* statvfs: size of the filesystem */
	TRANSFORM_FS_FREE,    /* free bytes */
	TRANSFORM_FS_AVAIL,   /* bytes available to unprivileged users */
};

/* How a result column is used. Owned by its collector. */
struct metricdef {
	char *column;
	enum col_usage usage;
	/* full metric name (counters end in _total); NULL for label, discard */
	char *name;
	char *help;	     /* never NULL for value columns */
	double scale;	     /* multiply values by this; 1 by default */
	bool has_null_value; /* NULL becomes null_value instead of no sample */
	double null_value;
	char **map_keys; /* MAPPEDMETRIC: text value -> number; or NULL */
	double *map_vals;
	size_t nmap;
	/* "value: N": every row gives N whatever the column holds */
	bool has_const_value;
	double const_value;
	/*
	 * "error_value: N": when the collector cannot run (target down, query
	 * failed) one sample with N and no labels is emitted, so pg_up is
	 * defined in YAML; only for collectors without label columns.
	 */
	bool has_error_value;
	double error_value;
	/* "optional: true": a missing column is not an error */
	bool optional;
	/* "alt_columns: [...]": other names the column may have */
	char **alt_columns;
	size_t nalt;
	/* "transform: disk_usage|fs_size|fs_free|fs_avail" */
	enum value_transform transform;
	/*
	 * "add: {column: C, scale: S}": the value plus C * S (pgbouncer's
	 * maxwait in seconds and maxwait_us in microseconds make one value)
	 */
	char *add_column;
	double add_scale;
	struct srcpos pos;
};

/*
 * "top: {by: COL, n: N|'{{param}}', key: COL|[COL...], sticky: DURATION}":
 * keep the n rows with the largest 'by', plus rows whose key (the values of
 * the key columns together) made the top n within 'sticky' seconds; the
 * other rows are summed into one row whose last key label is "other" and
 * whose other labels are empty. With "across: databases", 'by' may list
 * several columns (see 'bys').
 */
struct topdef {
	char *by;   /* NULL: no top selection; else bys[0] */
	char **bys; /* with 'across': the row's value is the first of these
		       columns it has a sample of */
	size_t nbys;
	char **keys; /* label columns that tell rows apart; the last one is
			"other" in the row of the rest */
	size_t nkeys;
	size_t n;      /* when n_param is NULL */
	char *n_param; /* a param name giving n */
	double sticky; /* seconds; 0: not sticky */
	/*
	 * "across: databases" (scope: database only): the n rows are chosen
	 * among the samples of every database together, after a collection
	 * ran (or served from cache) the collector in each; 'datname' is
	 * part of the key, the rest is dropped (no "other" row). See topsel.h.
	 */
	bool across;
	/*
	 * "rank: each" (with 'across'): the n rows with the largest value of
	 * each of 'bys' in turn, together (a row with 0 or none in a column
	 * is not chosen by it); default "first": one value per row, the
	 * first of 'bys' it has.
	 */
	bool each;
};

/*
 * "min_extversion: {EXT: 'X.Y'}" (inclusive) or "max_extversion" (exclusive):
 * a bound on the version of extension EXT installed in the database
 * (pg_extension.extversion, which pg_upgrade keeps from the old cluster).
 * A variant with a bound does not fit when EXT is not installed.
 */
struct extbound {
	char *extname;
	char *version; /* digits and dots, checked at load */
	bool max;      /* exclusive upper bound; else inclusive lower */
};

/* One SQL text and the servers it is for. */
struct variant {
	int min_version;      /* server_version_num, inclusive; 0: any */
	int max_version;      /* exclusive; 0: any */
	struct extbound *ext; /* all must hold */
	size_t next;
	char *sql;
	struct srcpos pos; /* where the SQL text starts, to map error lines */
};

enum collector_scope { SCOPE_CLUSTER, SCOPE_DATABASE };
enum collector_role { ROLE_ANY, ROLE_PRIMARY, ROLE_REPLICA };

/* A parameter the SQL refers to as {{name}}, with its default value. */
struct qparam {
	char *name;
	char *value; /* a number or identifier; checked at load */
};

/*
 * One collector. Created by the loader, owned by its queryset, immutable
 * afterwards (lives as long as the config snapshot).
 */
struct collector {
	char *name;
	char *help; /* the collector's description */
	char *file; /* owned; positions point into it */
	struct srcpos pos;
	enum target_kind kind; /* which targets it runs on */
	enum collector_scope scope;
	enum collector_role role;
	double ttl;	/* seconds to reuse the result; 0: every scrape */
	double timeout; /* statement_timeout in seconds; 0: the default */
	struct variant *variants; /* first that fits the version runs */
	size_t nvariants;
	/* "ext" (an extension), "setting:NAME" or "setting:NAME=VALUE" */
	char **requires;
	size_t nrequires;
	char **tags; /* runs only on targets having one of these; none: all */
	size_t ntags;
	struct qparam *params;
	size_t nparams;
	struct metricdef *metrics;
	size_t nmetrics;
	size_t max_series; /* 0: the config's default */
	struct topdef top;
	/*
	 * "pivot: {key: K, value: V}": the rows' K values become the columns
	 * of one row holding their V values (SHOW CONFIG's key/value rows)
	 */
	char *pivot_key, *pivot_value;
	/*
	 * "group: {count: C}": rows with equal label values become one row
	 * of those labels and their number in column C (SHOW CLIENTS)
	 */
	char *group_count;
	bool compat; /* read from postgres_exporter's format */
};

/* All collectors of a configuration, in load order, names unique. */
struct queryset {
	struct collector *v;
	size_t n, alloc;
	struct strmap byname; /* name -> index + 1 (as uintptr_t) */
	/*
	 * every name a metric takes in an exposition (its own; a histogram's
	 * _bucket, _sum, _count; a counter's name without _total) -> index + 1
	 * of the first collector producing it
	 */
	struct strmap bymetric;
};

#define QUERYSET_INIT                                                          \
	{                                                                      \
		NULL, 0, 0, STRMAP_INIT, STRMAP_INIT                           \
	}

/*
 * Load one file, or every *.yaml / *.yml file of a directory (sorted by
 * name, not recursive), into 'qs'. Problems go to 'd'; returns 0 when none
 * was an error, -1 otherwise. A collector with an error is not added;
 * the others of the file are. Duplicate collector names and metric names
 * claimed by two collectors with different types are errors.
 */
int querydef_load_path(struct queryset *qs, const char *path,
		       struct diags *d) MUST_CHECK;

/* Load YAML text held in memory (for tests and fuzzing); 'file' names it. */
int querydef_load_buffer(struct queryset *qs, const char *file,
			 const char *text, size_t len,
			 struct diags *d) MUST_CHECK;

/*
 * The variant of 'c' for server_version_num 'version', or NULL when none
 * fits. Variants with extension bounds never fit here (no extensions).
 */
const struct variant *collector_variant(const struct collector *c, int version);

/*
 * The first variant of 'c' that fits server_version_num 'version' and the
 * installed extensions: 'extnames' and 'extversions' are parallel
 * NULL-ended arrays (either may be NULL: none installed). NULL when none
 * fits.
 */
const struct variant *collector_variant_ext(const struct collector *c,
					    int version, char *const *extnames,
					    char *const *extversions);

/*
 * Compare extension versions ("1.9" < "1.10" < "1.10.1"): numeric parts
 * by value, then any other text bytewise. <0, 0 or >0 as strcmp.
 */
int extversion_cmp(const char *a, const char *b);

/*
 * The SQL of 'v' with every {{param}} replaced by the collector's value, or
 * by the override in 'cfg' ("collector.param"). Returns a malloc'ed string.
 */
char *collector_sql(const struct collector *c, const struct variant *v,
		    const struct config *cfg);

/*
 * Check the parameter overrides of 'cfg' ("collector.param") against the
 * collectors of 'qs': one naming no collector or no parameter of it is
 * reported to 'd' as a warning at its place in the config file.
 */
void querydef_check_overrides(const struct queryset *qs,
			      const struct config *cfg, struct diags *d);

/*
 * The value of parameter 'name' of 'c': the config's override
 * ("collector.param") or the collector's default; NULL when unknown.
 */
const char *collector_param(const struct collector *c, const char *name,
			    const struct config *cfg);

/*
 * The next {{name}} placeholder in 's' (spaces allowed inside the braces;
 * the name an identifier): its start, with the name in *name / *len and
 * the text after the closing braces in *end; NULL when there is none.
 */
const char *querydef_next_placeholder(const char *s, const char **name,
				      size_t *len, const char **end);

/*
 * Move the collectors of 'from' to the end of 'qs', a user's file
 * overriding the shipped set as postgres_exporter's --extend.query-path
 * does: a collector of 'qs' with the name of one of them is dropped, a
 * metric of 'qs' one of them also produces becomes a discarded column (its
 * collector dropped when nothing is left). Each is reported to 'note' (if
 * not NULL): the collector or metric name, and the collector replacing it.
 * 'from' is left empty.
 */
void queryset_override(struct queryset *qs, struct queryset *from,
		       void (*note)(const char *replaced, const char *by));
const struct collector *queryset_find(const struct queryset *qs,
				      const char *name);
void queryset_release(struct queryset *qs);

#endif
