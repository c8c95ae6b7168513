/*
 * Rows into samples: how the rows of one collector's result become the
 * series of its metrics. Pure functions of the result, the collector and
 * the options; nothing here talks to a server or holds a lock.
 */
#ifndef SAMPLES_H
#define SAMPLES_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>
#include "compat.h"
#include "config.h"
#include "err.h"
#include "metrics.h"
#include "querydef.h"
#include "strmap.h"

/*
 * Turn the rows of 'res' into samples of 'c' in 'out'. 'datname' (or NULL)
 * is added as a label to every row. At most 'max_series' series are made;
 * the rest are counted in '*dropped'. Problems (missing columns, values
 * that are not numbers) set 'e' but the rows that could be converted are
 * kept. Returns 0, or -1 when 'e' was set.
 */
int samples_from_rows(const struct collector *c, const PGresult *res,
		      const char *datname, size_t max_series, struct mset *out,
		      size_t *dropped, struct err *e);

/*
 * What a collection adds to samples_from_rows: the target's data directory
 * (for path transforms), the sticky keys of a top selection (key ->
 * expiry, a malloc'ed double), the clock, and the config (for {{param}}
 * overrides).
 */
struct rowopts {
	const char *datadir;
	struct strmap *sticky;
	double now;
	const struct config *cfg;
};

/*
 * samples_from_rows with 'o' (may be NULL). A path transform that cannot
 * read its path leaves that sample out and sets 'warn', not 'e': the
 * collector still succeeds.
 */
int samples_from_rows_ex(const struct collector *c, const PGresult *res,
			 const char *datname, size_t max_series,
			 const struct rowopts *o, struct mset *out,
			 size_t *dropped, struct err *e, struct err *warn);

/*
 * The column of 'res' that metric 'md' reads: its own name, else the first
 * of its alt_columns present; -1 when none is.
 */
int samples_metric_column(const PGresult *res, const struct metricdef *md);

/*
 * Whether a result column named 'name' is one 'c' uses (a listed column, an
 * alternative name, an added column, a histogram's companions, the top
 * selection's 'by'); every column is, for a pivot.
 */
bool samples_column_known(const struct collector *c, const char *name);

/*
 * For a collector with "pivot": one row whose columns are the values of
 * the key column and whose cells are those of the value column (text).
 * For one with "group": a row per distinct set of label values, with the
 * labels and the number of rows in the count column (text). A new result
 * (PQclear it), or NULL when 'c' has neither or 'e' was set.
 */
PGresult *samples_pivot(const struct collector *c, const PGresult *res,
			struct err *e);

/* Whether a metric of 'c' defines an error value (pg_up 0). */
bool samples_has_error_value(const struct collector *c);
/* Add the samples of the metrics of 'c' that define an error value. */
void samples_add_error_values(const struct collector *c, struct mset *out);

/* Drop the keys of a sticky map (key -> expiry) expired by 'now'. */
void samples_sticky_prune(struct strmap *sticky, double now);

#endif
