/*
 * One collection of one target, the engine's entry point: which
 * collectors apply (gate.h), in what time (plan.h), run on which sessions
 * (lanes.h, runner.h), with what the last collection left (cstate.h), and
 * singleflight so concurrent scrapes of a target share one (flight.h).
 */
#ifndef COLLECT_H
#define COLLECT_H

#include <stdbool.h>
#include <libpq-fe.h>
#include "compat.h"
#include "err.h"
#include "flight.h"
#include "metrics.h"
#include "querydef.h"
#include "samples.h"
#include "target.h"

/*
 * target_new (target.h) for a target the engine will collect: with its
 * collection state attached. Every target given to collect_target or to the
 * runner is made by this.
 */
struct target *collect_target_new(const struct target_config *cfg,
				  const struct config *gcfg, struct err *e);

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

#endif
