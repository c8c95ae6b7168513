/*
 * The self metrics of one collection: per collector (duration, success,
 * skipped with the reason, series dropped) and per target (connections,
 * collection time, cache entries, the role's standing, when each database
 * was last collected).
 */
#ifndef COLLMETRICS_H
#define COLLMETRICS_H

#include <stdbool.h>
#include <stddef.h>
#include "budget.h"
#include "gate.h"
#include "metrics.h"
#include "querydef.h"
#include "target.h"

/* What happened to one collector in one collection. */
struct run {
	bool attempted, failed; /* failed: in any database */
	double spent;		/* seconds spent querying (not cached) */
	enum gate_reason skip;	/* why it did not run, or GATE_RUNS */
	double seconds;
};

/* What a collection tells of itself; the caller owns every pointer. */
struct collstats {
	const struct queryset *qs;
	const struct run *runs;		  /* per collector of 'qs' */
	const unsigned long *dropped;	  /* per collector, dropped so far */
	struct pool_stats pool;		  /* a copy, taken under its lock */
	size_t cached;			  /* cache entries */
	double seconds;			  /* the whole collection */
	enum target_kind kind;		  /* of the target */
	const struct server_facts *facts; /* read by this collection */
	size_t budget;			  /* limits.target_max_series */
	struct budget_cut cut;		  /* what the budget left out */
	/* each database's last visit that collected it (wall clock) */
	const char **dbnames;
	double *collected;
	size_t ndbs;
	double bound; /* how old those may get by the rule; 0: unknown */
};

/* Add the pgpulse_* series of 's' to 'm'. */
void collmetrics_add(struct mset *m, const struct collstats *s);

#endif
