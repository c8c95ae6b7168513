/*
 * One PostgreSQL session (or a pgbouncer console session), below the pool:
 * connect under a deadline, the session options that make it read-only
 * and bounded, queries sent asynchronously and cancelled at their
 * deadline, the check that an idle session is still there. Knows nothing
 * of targets or pools (target.h holds those).
 */
#ifndef PGSESSION_H
#define PGSESSION_H

#include <stdbool.h>
#include <libpq-fe.h>
#include "config.h"
#include "err.h"

/*
 * libpq's 'options' for a PostgreSQL session under 'g': read-only
 * transactions, statement, lock and idle-in-transaction timeouts, ISO
 * dates, UTC, ISO intervals, no JIT; after the user's own 'user' (NULL or
 * "": none). Returns a malloc'ed string.
 */
char *pgsession_options(const struct config *g, const char *user);

/*
 * Open a session with the libpq parameters 'keys'/'vals' (NULL-ended),
 * within 'seconds' (PQconnectPoll: libpq's connect_timeout plays no part).
 * 'blocking' uses libpq's blocking connect instead, for several hosts
 * tried in turn, each bounded by the connect_timeout among the parameters.
 * Notices of the server are logged at debug level for target 'name',
 * which must outlive the session. Returns the session, or NULL with 'e'
 * set ("cannot connect: ...", redacted) and '*timed_out' when the time
 * ran out before the server answered.
 */
PGconn *pgsession_connect(const char *const *keys, const char *const *vals,
			  bool blocking, double seconds, const char *name,
			  bool *timed_out, struct err *e);

/*
 * The last error of 'c' (NULL: "out of memory") on one line, with any
 * secret redacted. Returns a malloc'ed string.
 */
char *pgsession_error(PGconn *c);

/*
 * Whether an idle session is still there: an idle session has nothing to
 * say, so anything readable is the server's goodbye (or a notice, read
 * and let be). A few polls, none waiting.
 */
bool pgsession_alive(PGconn *c);

/*
 * Wait until the result of a query sent on 'c' can be read without
 * blocking. Returns 0, 1 when 'deadline' (monotonic seconds, clock.h)
 * passed first, -1 when the connection failed.
 */
int pgsession_wait_ready(PGconn *c, double deadline);

/*
 * Send 'sql' on 'c' (simple protocol when 'simple', else extended: one
 * statement), read every result, cancel a moment before 'deadline' (the
 * cancel is sent from a thread of its own, so a server that stopped
 * answering cannot hold the caller). Returns the last rows or command
 * result (PQclear it), or NULL with 'e' set; when the server answered with
 * an error and 'error' is not NULL, that result is left in '*error'
 * (PQclear it). '*broken' is set when the session is unusable (lost, a
 * cancel unanswered, COPY), '*timed_out' when the deadline ended it.
 */
PGresult *pgsession_exec(PGconn *c, const char *sql, bool simple,
			 double deadline, bool *broken, bool *timed_out,
			 PGresult **error, struct err *e);

/*
 * Run 'sql' on the PostgreSQL session 'c' inside its own read-only
 * transaction, pipelined in one round trip: pgsession_batch_ro of one
 * unnamed statement (BEGIN READ ONLY; SET LOCAL statement_timeout =
 * 'timeout_ms' when it differs from the session's 'session_ms'; sql;
 * ROLLBACK, a sync point after each part, so a failed query's
 * transaction is rolled back in the same round trip). Results and flags
 * as pgsession_exec's.
 */
PGresult *pgsession_query_ro(PGconn *c, const char *sql, int timeout_ms,
			     int session_ms, double deadline, bool *broken,
			     bool *timed_out, struct err *e);

/*
 * One statement of a batch (pgsession_batch_ro). The caller fills the
 * first four fields and zeroes the rest; the batch answers in them.
 */
struct pgsession_stmt {
	const char *sql;
	int timeout_ms;	  /* its statement_timeout */
	const char *name; /* its prepared statement, NULL: unnamed, parsed */
	bool prepare;	  /* send the Parse of 'name' first */
	PGresult *res;	  /* its rows or command result (PQclear it) */
	struct err e;	/* why it has none: the server's error, the deadline */
	bool prepared;	/* the Parse of 'name' succeeded: it exists now */
	bool answered;	/* the server answered it, with rows or an error */
	bool timed_out; /* the deadline, not the server, ended it */
	double seconds; /* from the answer before it (or the send) to its own */
};

/*
 * Run the 'n' statements 's' on the PostgreSQL session 'c' in one
 * read-only transaction, sent in one pipeline before any answer is read:
 * BEGIN READ ONLY; SAVEPOINT; then per statement ROLLBACK TO SAVEPOINT
 * (but the first), SET LOCAL statement_timeout (when it differs from the
 * session's 'session_ms'), its Parse (when it has a name to prepare) and
 * its execution, each statement a segment of its own ending in a sync,
 * so a failure skips only the rest of its segment; the ROLLBACK to end.
 * Whatever a statement changes in the session ends with its segment's
 * subtransaction. A moment before 'deadline' what runs is cancelled; the
 * answers that came are kept, the others have 'e' set and 'timed_out'.
 * '*broken' is set when the session is unusable (lost, not idle again
 * by the deadline), '*timed_out' when the deadline ended something.
 */
void pgsession_batch_ro(PGconn *c, struct pgsession_stmt *s, size_t n,
			int session_ms, double deadline, bool *broken,
			bool *timed_out);

/*
 * What a statement run in a batch of its own gives its caller: its rows
 * (PQclear them), or NULL with 'e' set to why it has none.
 */
PGresult *pgsession_stmt_result(struct pgsession_stmt *st, struct err *e);

/*
 * What the server said of a statement that failed: copies of the fields
 * of its error result (release with pgsession_error_release).
 */
struct pg_error {
	bool set;	     /* the server answered with an error */
	char sqlstate[6];    /* "" when it gave none */
	char *message;	     /* the primary message; "" when none */
	char *detail, *hint; /* NULL when absent */
	size_t position;     /* 1-based character of the statement; 0: none */
};

/*
 * pgsession_exec, with the server's error (when it answered with one) in
 * '*failed' instead of a result (zeroed first; release it with
 * pgsession_error_release).
 */
PGresult *pgsession_exec_error(PGconn *c, const char *sql, bool simple,
			       double deadline, bool *broken,
			       struct pg_error *failed, struct err *e);
void pgsession_error_release(struct pg_error *pe);

/*
 * A transaction of the caller's around statements it runs on 'c' with
 * pgsession_exec (the dry run's): BEGIN READ ONLY, then SET LOCAL
 * statement_timeout = 'timeout_ms', each statement given 'wait' seconds.
 * Returns 0, or -1 with 'e' set (redacted).
 */
int pgsession_readonly_begin(PGconn *c, long timeout_ms, double wait,
			     struct err *e);
/*
 * ROLLBACK that transaction, in 'wait' seconds: nothing in it lasts.
 * Returns whether the session is idle again (false: it is gone).
 */
bool pgsession_readonly_end(PGconn *c, double wait);
/* Whether 'c' is inside a transaction, open or failed. */
bool pgsession_in_transaction(PGconn *c);

/* Whether 'r' is rows (not a command's result), and its command tag. */
bool pgsession_result_rows(const PGresult *r);
const char *pgsession_result_command(PGresult *r);

/*
 * The shape of rows 'r' for a caller that only reads them: its number of
 * columns and rows, the name and type (an OID) of column 'col', and the
 * text of a value (NULL when SQL NULL).
 */
int pgsession_result_ncols(const PGresult *r);
int pgsession_result_nrows(const PGresult *r);
const char *pgsession_result_colname(const PGresult *r, int col);
unsigned pgsession_result_coltype(const PGresult *r, int col);
const char *pgsession_result_value(const PGresult *r, int row, int col);

/* What a session told us of its server. */
struct server_facts {
	int version; /* server_version_num; 0 when unknown */
	char *version_text;
	bool in_recovery;
	bool superuser;
	bool pg_monitor; /* the role is a member of pg_monitor */
	char **extensions;
	char **extversions; /* extversion of extensions[i] (NULL-ended) */
	size_t nextensions;
	char *data_directory; /* NULL when the role may not read it */
	/* databases that allow connections, templates aside (NULL-ended) */
	char **databases;
};

/*
 * The query that reads the facts, one row: run it in the session's
 * read-only transaction (target_query) and hand the row to
 * pgsession_facts_read, which fills '*f' (zeroed; free with
 * pgsession_facts_release, which zeroes it again).
 */
extern const char pgsession_facts_sql[];
void pgsession_facts_read(const PGresult *r, struct server_facts *f);
void pgsession_facts_release(struct server_facts *f);

#endif
