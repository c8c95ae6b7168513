/*
 * The lanes of a collection (see collect.h): how its collectors run once
 * gating chose them. The context a collection passes down is here, the
 * manual for collect.c and lanes.c, which alone include this header.
 */
#ifndef LANES_H
#define LANES_H

#include <stdbool.h>
#include <stddef.h>
#include "collmetrics.h"
#include "metrics.h"
#include "querydef.h"
#include "target.h"
#include "visits.h"

/* Everything one collection needs, passed down to each collector run. */
struct ctx {
	struct target *t;
	const struct queryset *qs;
	double deadline;
	struct mset *out;
	struct run *runs;
	size_t *dropped; /* per collector, this collection */
	double *est;	 /* per collector, seconds reserved for it (floored) */
	double *last;	 /* per collector, seconds it took last time */
	const struct variant **variants; /* per collector, when it runs */
	double started;			 /* monotonic */
	const struct visit_plan *plan;	 /* the databases' visits, or NULL */
};

/* Does collector 'i' run in each database on this target? */
bool lanes_per_database(const struct ctx *x, size_t i);

/*
 * Run the cluster collectors of 'cluster' on 'pc' (and a second session
 * when 'two' allows and it is worth it), then the per-database ones in
 * 'dbs' ('ndbs' of them, 'perdb' seconds kept for them). Gives 'pc' back.
 * Returns whether the deadline cut something.
 */
bool lanes_run(struct ctx *x, struct pgconn *pc, const size_t *cluster,
	       size_t ncluster, char **dbs, size_t ndbs, double perdb,
	       bool two);

#endif
