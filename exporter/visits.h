/*
 * Which databases a collection visits for its per-database collectors
 * (scope: database), so that the logins pgpulse causes stay bounded on a
 * cluster of a thousand databases. A visit is a session to a database
 * (a login, unless the pool still holds one); what a visit collects is
 * kept and served until the next visit of that database replaces it.
 *
 * The rule, as the README tells operators:
 *
 * - A database never tried yet (the first pass, a database created since)
 *   is visited as soon as the scrape's deadline allows: it costs no
 *   token, so the first pass goes as fast as the deadlines allow.
 * - With at most VISITS_ALL_UP_TO databases, or database_logins_per_scrape
 *   0, there is no budget: each database is visited when a collector's
 *   ttl ran out in it, as far as the deadline allows (earlier versions).
 * - Above that, each collection adds database_logins_per_scrape tokens to
 *   a bucket (it holds VISITS_BURST collections' worth); a visit costs
 *   one. A database is due when its last visit is older than the shortest
 *   ttl of the per-database collectors (the ttl says "at most this
 *   fresh"). The due ones are ranked by the age of their last visit
 *   divided by their period: half of database_max_staleness for the
 *   databases that matter, the rotation period for the others (databases
 *   / logins per scrape * scrape interval); a database whose activity
 *   jumped since the last collection ranks one period higher. The
 *   databases that matter hold a row of a cluster-wide top N selection
 *   (top: {across: databases}) chosen within database_max_staleness, or
 *   are among the VISITS_ACTIVE most active by pg_stat_database.
 *   Activity is xact_commit + tup_inserted + tup_updated + tup_deleted,
 *   which pgpulse's own read-only visits do not move (they roll back and
 *   write nothing).
 *
 * A database that matters is then revisited within database_max_staleness
 * as long as the budget covers them all (those that matter * scrape
 * interval * 2 / logins per scrape <= database_max_staleness); any other
 * within about databases / logins per scrape * scrape interval.
 *
 * State lives as long as the target (struct cstate holds it); functions
 * lock it, though one collection at a time uses it (flight.h).
 */
#ifndef VISITS_H
#define VISITS_H

#include <stdbool.h>
#include <stddef.h>
#include "err.h"
#include "strmap.h"
#include "target.h"

/* At most this many databases: no budget, each visited when due. */
#define VISITS_ALL_UP_TO 20
/* Visits of a new database the deadline cut that are still free. */
#define VISITS_FREE_CUTS 3
/* The bucket holds this many collections' worth of logins. */
#define VISITS_BURST 4
/* The most active databases (by pg_stat_database) that matter. */
#define VISITS_ACTIVE 5
/*
 * A database's activity jumped when it changed by at least this much
 * since the last collection, and by VISITS_JUMP_FACTOR times its mean.
 */
#define VISITS_JUMP_FLOOR  100
#define VISITS_JUMP_FACTOR 4

struct visits;

/* The state of one target's visits; visits_free(NULL) is fine. */
struct visits *visits_new(void);
void visits_free(struct visits *v);
/* Forget everything (collect_forget). */
void visits_clear(struct visits *v);

/* What the config and the query set say, for one collection. */
struct visit_rules {
	double logins_per_scrape; /* database_logins_per_scrape; 0: no budget */
	double max_staleness;	  /* database_max_staleness, seconds */
	double min_ttl; /* shortest ttl of the per-database collectors run */
};

/*
 * One collection's choice. 'visit' are the databases to visit, in that
 * order; 'keep' those served from what their last visit left. Both are
 * NULL-ended arrays of strings owned by the plan (visits_plan_release).
 */
struct visit_plan {
	char **visit, **keep;
	size_t nvisit, nkeep;
	bool budget; /* the login budget applies */
};

/* Whether 'ndbs' databases under 'r' are visited within a budget. */
bool visits_budgeted(const struct visit_rules *r, size_t ndbs);

/*
 * Read pg_stat_database's activity on 'pc' (the main session), at most
 * 'timeout_ms', for the ranking of the next visits_plan. Returns 0, or -1
 * with 'e' set (the ranking then goes by age alone).
 */
int visits_read_activity(struct visits *v, struct target *t, struct pgconn *pc,
			 int timeout_ms, double deadline, struct err *e);

/*
 * The activity counter of database 'db' is 'count' now (what
 * visits_read_activity does for each row; a database not known yet is
 * left out).
 */
void visits_note_activity(struct visits *v, const char *db, double count);

/*
 * Choose the visits of a collection at monotonic time 'now' among 'dbs'
 * (NULL-ended; every database the per-database collectors run in) into
 * 'p'. Adds the collection's tokens, forgets databases no longer in
 * 'dbs'.
 */
void visits_plan(struct visits *v, char **dbs, const struct visit_rules *r,
		 double now, struct visit_plan *p);
void visits_plan_release(struct visit_plan *p);

/* How a visit went. */
enum visit_outcome {
	VISIT_DONE,   /* every collector put a result */
	VISIT_CUT,    /* the scrape's deadline stopped a collector */
	VISIT_FAILED, /* no session, or a collector failed */
};

/*
 * Database 'db' was visited at monotonic 'now' (a login, a token spent
 * unless it was new), taking 'seconds' in all; a visit VISIT_DONE is its
 * last collection, at wall-clock 'real'. A database stays new (its visits
 * free) until a visit is done or failed, or VISITS_FREE_CUTS were cut.
 */
void visits_done(struct visits *v, const char *db, enum visit_outcome how,
		 double now, double seconds, double real);

/*
 * How old a database's last collection may get by the rule, as of the
 * last visits_plan (0 until the time between collections is known): with
 * the budget, the larger of database_max_staleness and the rotation
 * (databases / logins per scrape * scrape interval); without, the
 * shortest ttl and one scrape interval. For
 * pgpulse_database_staleness_bound_seconds, which alerts compare
 * pgpulse_database_last_collected_timestamp_seconds with.
 */
double visits_bound(struct visits *v);

/*
 * How long a visit takes (the mean of the last ones; 0 before the first):
 * a visit is not begun with less time than this left.
 */
double visits_cost(struct visits *v);

/*
 * The databases that hold rows a top-N across databases selected ('dbs':
 * datname -> anything, see topsel_across), at monotonic 'now': they
 * matter for a while.
 */
void visits_note_selected(struct visits *v, const struct strmap *dbs,
			  double now);

/*
 * The wall-clock time of each database's last visit that ran its
 * collectors, for pgpulse_database_last_collected_timestamp_seconds:
 * '*names' and '*times' (malloc'ed, the names borrowed until the next
 * visits_plan: the caller is the collection) hold '*n' databases, those
 * never collected left out.
 */
void visits_collected(struct visits *v, const char ***names, double **times,
		      size_t *n);

#endif
