/*
 * Gating: whether a collector runs on a target now, and if not, why. The
 * daemon and the dry run decide alike, through gate_check; the reasons are
 * an enum with one table of their names (the "reason" label of
 * pgpulse_collector_skipped and the dry run's notes).
 */
#ifndef GATE_H
#define GATE_H

#include "querydef.h"
#include "target.h"

enum gate_reason {
	GATE_RUNS = 0,	 /* it runs */
	GATE_TAGS,	 /* the target has none of the collector's tags */
	GATE_ROLE,	 /* primary-only on a replica, or the reverse */
	GATE_REQUIRES,	 /* an extension or setting it requires is missing */
	GATE_VERSION,	 /* no variant fits the server and its extensions */
	GATE_PRIVILEGES, /* the role lacks a privilege the query needs */
	GATE_UNSAFE,	 /* the query calls what a read-only session can't */
};

/* "tags", "role", ... as the metrics and logs name it; NULL for GATE_RUNS. */
const char *gate_reason_text(enum gate_reason r);

/*
 * What gate_check decides without asking the server: GATE_TAGS, GATE_ROLE,
 * or GATE_RUNS with '*v' the variant that fits the version and extension
 * versions in 'f' (NULL when none does: the version is then the reason,
 * unless a requirement is not met, which gate_check asks first).
 */
enum gate_reason gate_fixed(const struct target_config *tc,
			    const struct server_facts *f,
			    const struct collector *c,
			    const struct variant **v);

/*
 * Why collector 'c' does not run on 't' now, before privileges are
 * weighed: GATE_TAGS, GATE_ROLE, GATE_REQUIRES (then '*req' names the
 * requirement not met) or GATE_VERSION, or GATE_RUNS when it runs, with
 * variant '*v'. May query 'pc' for "setting:" requirements (by
 * 'deadline'); extensions are read from the target's facts.
 */
enum gate_reason gate_check(struct target *t, struct pgconn *pc,
			    const struct collector *c, double deadline,
			    const struct variant **v, const char **req);

#endif
