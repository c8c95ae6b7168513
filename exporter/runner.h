/*
 * The runner: one collector on one session, its result turned into
 * samples. The daemon's collection calls it for every collector it runs;
 * the defaults it applies (statement timeout, data directory, max_series)
 * are the ones the dry run reports, from the functions below.
 */
#ifndef RUNNER_H
#define RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include "err.h"
#include "metrics.h"
#include "querydef.h"
#include "strmap.h"
#include "target.h"

/* One run of a collector. The caller owns every pointer. */
struct runner_job {
	struct target *t;
	struct pgconn *pc;
	const struct collector *c;
	const struct variant *v; /* the variant gating chose */
	const char *db;		 /* the database, NULL: the main one */
	int timeout_ms;		 /* statement_timeout (see plan.h) */
	double deadline;	 /* monotonic */
	struct strmap *sticky;	 /* the top selection's sticky keys, or NULL */
	double now;		 /* for sticky keys and their expiry */
	/*
	 * How the statement runs, for a caller that manages the session
	 * itself (the dry run's transaction); NULL: target_query with
	 * 'timeout_ms' and 'deadline'. Returns a result or NULL with 'e' set.
	 */
	PGresult *(*exec)(void *arg, const char *sql, bool *broken,
			  struct err *e);
	void *exec_arg;
	size_t max_series; /* 0: runner_max_series */
	bool keep;	   /* keep the result in r->res for the caller */
};

/* What a run made. Release with runner_result_release. */
struct runner_result {
	struct mset *m;	  /* its samples (NULL when the query failed) */
	size_t dropped;	  /* series past max_series */
	struct err e;	  /* why it failed: the query, or converting rows */
	struct err warn;  /* a value it could not make (a path transform) */
	bool queried;	  /* the server answered with rows */
	bool broken;	  /* the session is unusable */
	char *undeclared; /* columns returned but not listed (malloc'ed) */
	/* with 'keep': the rows converted (pivoted, if so), PQclear'ed by
	 * runner_result_release; 'nrows' rows came back, before a pivot */
	PGresult *res;
	int nrows;
	bool pivot_failed; /* r->e says why; the rows were not pivoted */
	/* runner_run_batch: no answer came (the session lost, the deadline) */
	bool unanswered;
	bool timed_out; /* the deadline, not the server, ended its query */
	double seconds; /* runner_run_batch: its part of the batch's time */
};

#define RUNNER_RESULT_INIT                                                     \
	{                                                                      \
		.m = NULL, .dropped = 0, .e = ERR_INIT, .warn = ERR_INIT,      \
		.queried = false, .broken = false, .undeclared = NULL,         \
		.res = NULL, .nrows = 0, .pivot_failed = false,                \
		.unanswered = false, .timed_out = false, .seconds = 0          \
	}

/*
 * Run 'j' (target_query: its own read-only transaction, cancelled past
 * the deadline; or j->exec), pivot the rows when the collector says so,
 * and convert them into r->m. Rows that converted are kept even when r->e
 * is set. A result that is not rows (a command) is converted all the same
 * (its columns are missing); a caller that keeps it can tell.
 */
void runner_run(const struct runner_job *j, struct runner_result *r);
void runner_result_release(struct runner_result *r);

/*
 * Run the 'n' jobs 'j' (all on one session, j[0].pc, none with 'exec') as
 * one batch (target_query_batch: one pipeline, one read-only transaction,
 * each statement prepared once per session), then convert each answer
 * into r[k] (RUNNER_RESULT_INIT each) as runner_run does. r[k].seconds is
 * the time from the answer before it (or the send) to its own; a job left
 * without an answer has r[k].unanswered and r[k].e set. Returns whether
 * the session is unusable (then every r[k].broken is set too).
 */
bool runner_run_batch(const struct runner_job *j, size_t n,
		      struct runner_result *r);

/* The statement timeout of 'c' in seconds (0: none): its own or the config's.
 */
double runner_timeout(const struct collector *c, const struct config *gcfg);
/* The data directory path transforms read: the config's, else the server's. */
const char *runner_datadir(const struct target *t);
/* The most series 'c' may make: its own max_series or the config's. */
size_t runner_max_series(const struct collector *c, const struct config *gcfg);

#endif
