/*
 * What the lanes' two files share (private to lanes.c and lanes_db.c):
 * a lane, and the steps of a run that the per-database pass takes too.
 * lanes.c runs the cluster collectors on one or two sessions; lanes_db.c
 * is the per-database pass: the visits, what the last visit of a
 * database left, and the ranking across databases.
 */
#ifndef LANES_INT_H
#define LANES_INT_H

/* include "lanes.h" before this header: struct ctx and the types it uses */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* The results of one collector in each database, one reference each. */
struct across {
	struct mset **v;
	size_t n, alloc;
	bool on; /* the collector's results come here */
};

/*
 * One line of work of a collection, on a session of its own. A collection
 * has one lane, or two side by side when the pool has two sessions, the
 * target no per-database work and the cluster collectors took long enough
 * (PLAN_SHARE_ABOVE) for a second backend to be worth it: then each lane runs
 * a share of them, dealt by what each took last time. A lane keeps its
 * own output and per-collector counts, added to the ctx's when it is done;
 * what lanes share on the target (cache, log-once and sticky maps) is
 * locked.
 */
struct lane {
	struct ctx *x;
	struct mset *out;      /* its samples (the ctx's own with one lane) */
	struct mset **outs;    /* with two: per collector, merged in order */
	struct across *across; /* per collector with a top across databases:
				  its result of each database, selected
				  from when the last one is in */
	double pending;	       /* sum of est of the runs still to come here */
	size_t *list, n;       /* cluster collectors to run here, in order */
	struct pgconn *pc;     /* its session to the main database */
	bool no_session;  /* lane 1 found no session: lane 0 runs its list */
	struct run *runs; /* per collector: x->runs, or lane 1's own */
	size_t *dropped;  /* likewise */
	bool cut;	  /* the deadline stopped one of its collectors */
	pthread_t thread;
};

/*
 * Where collector 'i' of lane 'ln' puts its samples. With two lanes each
 * collector has a set of its own, merged in collector order after both
 * finish: the same series from two collectors then resolve the same way
 * every scrape, and the duplicate is counted against the later one.
 */
struct mset *lane_out(struct lane *ln, size_t i);

/*
 * Add result 'm' of collector 'i' to the lane's output, or keep a
 * reference on it for the collector's ranking across databases (not
 * merged: the ranking reads each database's set as it is). Returns the
 * samples dropped as duplicates.
 */
size_t lane_put(struct lane *ln, size_t i, struct mset *m);

/* The error values of collector 'i' (pg_up-like series) into the lane. */
void lane_error_values(struct lane *ln, size_t i);

/*
 * Serve collector 'i' in database 'db' (NULL: the main one) from its ttl
 * cache when the result there is fresh. Returns true when it did.
 */
bool lane_from_cache(struct lane *ln, size_t i, const char *db, double share);

/*
 * Run the 'n' collectors 'list' on 'pc' (in database 'db', or the main one
 * when NULL) in one batch, those with a fresh cache entry served from it;
 * 'extra' seconds (a connect) count in the first one's time. When the
 * session broke ('*broken'), the collectors after the one it broke on
 * are not run: they are left in 'list', as they were, and their number
 * returned (0: all done).
 */
size_t lane_run_batch(struct lane *ln, size_t *list, size_t n,
		      struct pgconn *pc, const char *db, double share,
		      double extra, bool *broken);

/*
 * Visit the databases of 'dbs' in order, a session at a time, and serve
 * the others of the plan (x->plan->keep) from what their last visit left.
 * 'share' is the part of a collector's time one database is reserved
 * (1 / the databases visited). In lanes_db.c.
 */
void lane_run_databases(struct lane *ln, char **dbs, double share);

#endif
