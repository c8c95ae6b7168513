/*
 * Singleflight for the collections of one target: concurrent scrapes
 * share one collection, the last one kept is served when a request's
 * deadline comes first, and a collection cut short by its deadline is
 * rerun for a request that has more time. Its own lock and condition.
 */
#ifndef FLIGHT_H
#define FLIGHT_H

#include <stdbool.h>
#include "metrics.h"

/*
 * The result of one collection: the target's series (without the target's
 * own labels, which the scrape adds) and its pgpulse_* self metrics.
 * Refcounted under its flight's lock: the flight keeps the last one, each
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

struct flight;

struct flight *flight_new(void);
/* Free 'f' and its last collection; NULL is fine. */
void flight_free(struct flight *f);

/*
 * Runs one collection under 'deadline' (monotonic seconds) and returns it
 * with refs 0 (flight_join takes it over; an 'unread' one is freed).
 */
typedef struct collection *(*flight_run_fn)(void *arg, double deadline);

/*
 * Run 'run' for this request, or join the one already running, as
 * collect_target describes. Returns a reference (give it back with
 * flight_put) or NULL; '*cut' says the series may be incomplete.
 */
struct collection *flight_join(struct flight *f, double deadline, bool *cut,
			       flight_run_fn run, void *arg);
/* Give back a reference from flight_join; NULL is fine. */
void flight_put(struct flight *f, struct collection *c);
/* Drop the last collection kept (the target goes). */
void flight_forget(struct flight *f);

#endif
