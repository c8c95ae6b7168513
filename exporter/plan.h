/*
 * The deadline plan of a collection: how much of the time left a
 * collector's statement may take so the ones after it still fit, and how
 * the cluster collectors are dealt to two sessions. Pure arithmetic on
 * what each collector took last time; nothing here reads a clock.
 */
#ifndef PLAN_H
#define PLAN_H

#include <stdbool.h>
#include <stddef.h>

/* Seconds reserved for a collector still to run, at least. */
#define PLAN_EST_FLOOR 0.05
/*
 * Cluster collectors that took this long in all (last collection) are
 * shared between two sessions to the main database, when the pool has
 * two: below it, a second backend on the server is not worth the time.
 */
#define PLAN_SHARE_ABOVE 0.01
/* Seconds before a second session is tried again after one failed. */
#define PLAN_SHARE_RETRY 60.0

/* What to reserve for a collector that took 'last' seconds: the floor. */
double plan_reserve(double last);

/*
 * The statement_timeout, in milliseconds, of a collector that wants
 * 'want' seconds (0 or less: no limit of its own) when 'left' seconds are
 * left before the deadline and the collectors after it are expected to
 * take 'others' seconds: never so long that they miss the deadline, but
 * always a tenth of what is left. '*limited' is set when the deadline,
 * not 'want', set the timeout. Returns 0 when no time is left.
 */
int plan_timeout_ms(double want, double left, double others, bool *limited);

/*
 * Deal the 'n' collectors 'all' (indexes into 'last', the seconds each
 * took) to lanes 'a' and 'b': the longest first to the lane with less to
 * do, each lane in the order of 'all'. Returns false, dealing nothing,
 * when they took less than PLAN_SHARE_ABOVE in all or are fewer than two.
 * 'a' and 'b' have room for 'n' each.
 */
bool plan_deal(const double *last, const size_t *all, size_t n, size_t *a,
	       size_t *na, size_t *b, size_t *nb);

#endif
