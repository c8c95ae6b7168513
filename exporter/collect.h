/*
 * One collection of one target: which collectors apply (kind, role, tags,
 * version, requires), ttl cache, per-collector timeouts, rows into samples,
 * and singleflight so concurrent scrapes of a target share one collection.
 */
#ifndef COLLECT_H
#define COLLECT_H

#include <stdbool.h>
#include <libpq-fe.h>
#include "compat.h"
#include "err.h"
#include "metrics.h"
#include "querydef.h"
#include "target.h"

/*
 * The result of one collection: the target's series (without the target's
 * own labels, which the scrape adds) and its pgpulse_* self metrics.
 * Refcounted under the target's lock: the target keeps the last one, each
 * scrape that uses it holds a reference. Read-only once published.
 */
struct collection {
	struct mset *m;
	int refs;
	double finished; /* monotonic */
	double budget;	 /* seconds its deadline gave it */
	bool up;	 /* the main session worked */
	/* its deadline stopped something: some series may be missing */
	bool cut;
	/* it could not read the server in time: not kept, not served */
	bool unread;
};

/*
 * Collect 't' with the collectors of 'qs', or join the collection already
 * running for it. A request's deadline limits only its own wait: a
 * collection cut short by its deadline is not taken by a request that
 * still has more time than that collection had (it collects again), and a
 * collection that could not even read the server in time (TARGET_FAIR_WAIT)
 * says nothing of it: it is not kept, and the target stays as it was (its
 * backoff, pg_up). Returns a reference (give it back with collection_put): the
 * collection, or, when 'deadline' came first, the last one kept (NULL when
 * there is none); '*cut' is then set, as it is when the collection itself was
 * cut.
 */
struct collection *collect_target(struct target *t, const struct queryset *qs,
				  double deadline, bool *cut);
void collection_put(struct target *t, struct collection *c);
/* Drop the target's last collection and caches (before target_free). */
void collect_forget(struct target *t);

/*
 * Convert a column value of type 'type' (a pg_type oid) to a number:
 * integers, floats, numerics, booleans (1/0), timestamps (unix seconds,
 * given DateStyle ISO and TimeZone UTC), intervals (seconds, given
 * IntervalStyle iso_8601), pg_lsn (bytes). Returns 0, or -1 when 'text' is
 * not a number of that type.
 */
int collect_parse_value(const char *text, Oid type, double *out) MUST_CHECK;

/*
 * Turn the rows of 'res' into samples of 'c' in 'out'. 'datname' (or NULL)
 * is added as a label to every row. At most 'max_series' series are made;
 * the rest are counted in '*dropped'. Problems (missing columns, values
 * that are not numbers) set 'e' but the rows that could be converted are
 * kept. Returns 0, or -1 when 'e' was set.
 */
int collect_rows(const struct collector *c, const PGresult *res,
		 const char *datname, size_t max_series, struct mset *out,
		 size_t *dropped, struct err *e);

/*
 * Why collector 'c' does not run on 't' now, before privileges are
 * weighed: "tags", "role", "requires" (then '*req' names the requirement
 * not met) or "version" (no variant fits the server version and installed
 * extension versions), or NULL when it runs, with variant '*v'. May query
 * 'pc' (setting requirements). The daemon and the dry run decide alike.
 */
const char *collect_gate(struct target *t, struct pgconn *pc,
			 const struct collector *c, double deadline,
			 const struct variant **v, const char **req);

/*
 * The column of 'res' that metric 'md' reads: its own name, else the first
 * of its alt_columns present; -1 when none is.
 */
int collect_metric_column(const PGresult *res, const struct metricdef *md);

/*
 * Whether a result column named 'name' is one 'c' uses (a listed column, an
 * alternative name, an added column, a histogram's companions, the top
 * selection's 'by'); every column is, for a pivot.
 */
bool collect_column_known(const struct collector *c, const char *name);

/*
 * For a collector with "pivot": one row whose columns are the values of
 * the key column and whose cells are those of the value column (text).
 * For one with "group": a row per distinct set of label values, with the
 * labels and the number of rows in the count column (text). A new result
 * (PQclear it), or NULL when 'c' has neither or 'e' was set.
 */
PGresult *collect_pivot(const struct collector *c, const PGresult *res,
			struct err *e);

/*
 * What a collection adds to collect_rows: the target's data directory (for
 * path transforms), the sticky keys of a top selection (key -> expiry, a
 * malloc'ed double), the clock, and the config (for {{param}} overrides).
 */
struct rowopts {
	const char *datadir;
	struct strmap *sticky;
	double now;
	const struct config *cfg;
};

/*
 * collect_rows with 'o' (may be NULL). A path transform that cannot read
 * its path leaves that sample out and sets 'warn', not 'e': the collector
 * still succeeds.
 */
int collect_rows_ex(const struct collector *c, const PGresult *res,
		    const char *datname, size_t max_series,
		    const struct rowopts *o, struct mset *out, size_t *dropped,
		    struct err *e, struct err *warn);

#endif
