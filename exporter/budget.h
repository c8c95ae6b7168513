/*
 * A target's series budget (limits.target_max_series): the most series
 * one target puts on a page, whatever the number of its databases.
 *
 * What goes when a collection has more, in this order:
 *  1. the per-database series (those with a 'datname' label) of the
 *     smallest databases, whole databases at a time: databases are ranked
 *     by BUDGET_RANK_METRIC (their size; a database without that series
 *     ranks last, ties by name), and kept from the largest up to the first
 *     that does not fit (the page shows the n largest databases);
 *  2. when the series without a 'datname' still do not fit: whole metric
 *     families, the largest first (so pg_up, one series, stays).
 * The rule depends only on the page's own values, so a page cut once is
 * cut alike on the next scrape as long as the sizes keep their order.
 * Pure: no server, no lock.
 */
#ifndef BUDGET_H
#define BUDGET_H

#include <stddef.h>
#include "metrics.h"

/* The gauge by which databases are ranked (default and compat sets). */
#define BUDGET_RANK_METRIC "pg_database_size_bytes"

/* What budget_apply left out. */
struct budget_cut {
	size_t series;	  /* series left out */
	size_t databases; /* databases whose series were all left out */
	size_t families;  /* families left out whole (step 2) */
};

/*
 * 'm' with at most 'max' series: 'm' itself when it fits (or 'max' is 0),
 * else a new set with what the rule above keeps, and 'm' is freed. '*cut'
 * says what went.
 */
struct mset *budget_apply(struct mset *m, size_t max, struct budget_cut *cut);

#endif
