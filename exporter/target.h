/*
 * One monitored server (PostgreSQL or a pgbouncer admin console): its
 * bounded connection pool, read-only bounded sessions, reconnect with
 * backoff, what is known of the server (version, recovery, role), and the
 * database list for per-database collectors.
 */
#ifndef TARGET_H
#define TARGET_H

#include <pthread.h>
#include <stdbool.h>
#include <libpq-fe.h>
#include "backoff.h"
#include "clock.h"
#include "compat.h"
#include "config.h"
#include "err.h"
#include "pgsession.h"
#include "strmap.h"

struct queryset;
struct cstate;

/* One pooled connection slot. Owned by its target. */
struct pgconn {
	PGconn *conn;	/* NULL while the slot is empty */
	char *dbname;	/* database it is connected to (owned) */
	bool busy;	/* checked out by a collection */
	double idle_at; /* monotonic time it was last released */
	/*
	 * set by target_query when the session is unusable (lost, a cancel
	 * unanswered, a transaction left open): target_release closes it,
	 * whatever its caller says
	 */
	bool broken;
	/* the last target_query was ended by its deadline, not the server */
	bool timed_out;
	/* target_acquire handed out a session opened by an earlier caller */
	bool kept;
	/*
	 * the statements prepared on the session (target_query_batch): their
	 * name -> their SQL (malloc'ed); emptied when the session closes. Only
	 * the caller holding the slot touches it.
	 */
	struct strmap prepared;
	/* a pooler between us and the server loses what is prepared */
	bool no_prepare;
};

/* Counters of the pool, for pgpulse_* self metrics. */
struct pool_stats {
	unsigned long attempts, failures;
	double last_connect_seconds;
	unsigned open, busy;
	unsigned max;
};

/*
 * A target. Created by target_new from a target_config of the runtime
 * snapshot, freed by target_free when the snapshot goes (its connections
 * closed then). Every field below 'lock' is protected by it, except 'cs':
 * the collection's state (cstate.h), which has a lock of its own.
 */
struct target {
	const struct target_config *cfg; /* owned by the snapshot's config */
	const struct config *gcfg;
	char *name;
	char **keys, **vals; /* flattened libpq parameters (owned) */
	size_t nparams;
	char *main_db; /* the database the conninfo names (NULL: libpq's) */
	void *db_include, *db_exclude; /* regex_t arrays */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pgconn *slots;
	unsigned nslots;
	struct pool_stats stats;
	struct backoff backoff; /* no connect before backoff.next */
	double down_since;	/* monotonic start of the outage; 0 while up */
	char *last_error;	/* redacted, for the landing page and logs */
	bool up, ever_up;
	struct server_facts facts;
	bool warned_role; /* the role warning is logged once */

	/*
	 * the collection's own state (cache, log-once, ...), locked apart:
	 * the engine attaches it (target_attach_state) and target_free frees
	 * it with 'cs_free'
	 */
	struct cstate *cs;
	void (*cs_free)(struct cstate *cs);
};

/*
 * Make a target for 'cfg' under the global config 'gcfg'. Checks the
 * parameters (PQconninfoParse), compiles database patterns. Returns NULL
 * with 'e' set (no secret in the message).
 */
struct target *target_new(const struct target_config *cfg,
			  const struct config *gcfg, struct err *e);
void target_free(struct target *t);
/*
 * Give 't' the engine's state for its collections, which target_free
 * frees with 'free_fn' (so the pool needs not know what it is). Call once,
 * before any thread uses 't'.
 */
void target_attach_state(struct target *t, struct cstate *cs,
			 void (*free_fn)(struct cstate *cs));

/*
 * A connect or query ended by the caller's deadline before it had this
 * many seconds (or connect_timeout, if shorter) says nothing of the
 * server: the request was too short, not the server too slow. It arms no
 * backoff and does not make the target down.
 */
#define TARGET_FAIR_WAIT 0.5

/*
 * Check out a connection to database 'dbname' (NULL: the main database),
 * connecting if needed, waiting for a free slot until 'deadline' (monotonic
 * seconds). The pool never holds more than connections_per_target. Returns
 * the slot, or NULL with 'e' set. Connect failures the server caused
 * (refused, an authentication error, no answer within connect_timeout or
 * TARGET_FAIR_WAIT) arm the backoff; while it runs, no connection is
 * attempted and the last error is returned. A successful connect resets
 * it.
 */
struct pgconn *target_acquire(struct target *t, const char *dbname,
			      double deadline, struct err *e);
/*
 * target_acquire for the first session of a collection, to the main
 * database: attempted even while the backoff runs, so that a server that
 * came back is found by the next scrape. '*cut' is set when the caller's
 * deadline ended it too soon to say anything of the server (see
 * TARGET_FAIR_WAIT): then the backoff and the last error are left alone.
 */
struct pgconn *target_acquire_first(struct target *t, double deadline,
				    bool *cut, struct err *e);
/*
 * One more session to the main database, for work the caller can also do
 * on the one it holds: NULL at once when no slot is free, and a failed
 * connect leaves the target's backoff and last error alone (counted in
 * the pool's failures all the same).
 */
struct pgconn *target_acquire_spare(struct target *t, double deadline,
				    struct err *e);
/*
 * Give 'pc' back. 'broken' closes it (after an error that left the
 * session unusable). Also closes connections to other databases idle for
 * longer than idle_timeout.
 */
void target_release(struct target *t, struct pgconn *pc, bool broken);

/*
 * Read what the server is (version, recovery, role, extensions) on 'pc',
 * once per collection. Logs the superuser / pg_monitor warning once.
 */
int target_refresh_facts(struct target *t, struct pgconn *pc, double deadline,
			 struct err *e) MUST_CHECK;

/*
 * The databases per-database collectors run in: pg_database rows that
 * allow connections and are not templates (read with the server facts,
 * so no query of its own), filtered by the target's include/exclude
 * patterns. Returns a malloc'ed NULL-terminated array of malloc'ed names
 * (free with xfree_strv), or NULL with 'e' set when the facts were never
 * read.
 */
char **target_databases(struct target *t, struct err *e);

/*
 * Run 'sql' on 'pc' with statement_timeout 'timeout_ms' (not for
 * pgbouncer), waiting at most until 'deadline': the query is cancelled a
 * moment before it, so that the wait for the cancel ends by 'deadline'
 * too. pgbouncer's console gets the simple protocol. On PostgreSQL the
 * query runs in the extended protocol (one statement only) inside its
 * own read-only transaction, pipelined in one round trip:
 * BEGIN READ ONLY; SET LOCAL statement_timeout; sql; ROLLBACK. Nothing
 * it does to the session outlasts it. Returns the PGRES_TUPLES_OK or
 * PGRES_COMMAND_OK result (PQclear it), or NULL with 'e' set to the
 * server's message; '*broken' is set when the session is unusable, and
 * pc->timed_out when the deadline ended it.
 */
PGresult *target_query(struct target *t, struct pgconn *pc, const char *sql,
		       int timeout_ms, double deadline, bool *broken,
		       struct err *e);

/*
 * Run the 'n' statements 's' (their 'sql' and 'timeout_ms' set, the rest
 * zeroed) on 'pc', each answered in its own element (see pgsession.h). On
 * PostgreSQL they go in one pipeline inside one read-only transaction
 * (pgsession_batch_ro), each prepared the first time the session runs it
 * (named after a hash of its SQL, so other SQL never meets a stale name)
 * and executed by name afterwards; a pooler that loses prepared
 * statements (PgBouncer in transaction mode) makes the session go back
 * to unnamed ones. pgbouncer's console gets each in the simple protocol,
 * one after another. '*broken' and pc->timed_out as target_query's.
 */
void target_query_batch(struct target *t, struct pgconn *pc,
			struct pgsession_stmt *s, size_t n, double deadline,
			bool *broken);

/*
 * Wait on the target's condition (with t->lock held) until signalled or
 * 'deadline'. Returns ETIMEDOUT past the deadline, 0 otherwise.
 */
int target_wait(struct target *t, double deadline);

/* What the process layer shows of a target (landing page, /readyz). */
struct target_status {
	bool up;	   /* the last collection reached the server */
	bool ever_up;	   /* some collection did */
	double down_since; /* monotonic start of the outage; 0 while up */
	struct pool_stats pool;
};

/*
 * A copy of 't''s status, taken under its lock: callers outside the pool
 * read this, not the target's fields.
 */
void target_status(struct target *t, struct target_status *out);

/*
 * Record whether the last collection of 't' reached its server ('up'), at
 * monotonic time 'now'. Returns 1 when this begins an outage, -1 when it
 * ends one (with '*down_for' set to its length in seconds), else 0, so the
 * caller logs an outage once, not on every scrape of it.
 */
int target_note_outage(struct target *t, bool up, double now, double *down_for);

/*
 * A copy of what 't''s server facts are (zeroed when never read), taken
 * under its lock: free it with pgsession_facts_release.
 */
void target_facts(struct target *t, struct server_facts *out);

/*
 * The facts themselves, without a copy, for the collection of 't' that
 * is running: it is their only writer (target_refresh_facts), and
 * collections of one target never run at once (flight.h), so they hold
 * still until it ends (the dry run's pass over a target counts as one).
 * Anyone else (HTTP, the landing page) takes a copy with target_facts.
 */
const struct server_facts *target_facts_collecting(const struct target *t);

/*
 * The value of libpq parameter 'key' among the target's flattened ones
 * (the conninfo and the config's keys), or NULL. Borrowed from 't'.
 */
const char *target_param(const struct target *t, const char *key);

bool target_has_extension(const struct target *t, const char *name);

/* The config's statement_timeout in milliseconds, for target_query. */
int target_timeout_ms(const struct target *t);

#endif
