/*
 * What a collector's SQL needs that the monitoring role lacks (EXECUTE on a
 * function, SELECT on a relation, the privileges of pg_read_all_stats or
 * pg_read_all_settings, CONNECT on a database, pgbouncer's stats_users),
 * each with the GRANT that fixes it. The SQL scanner and the read-only
 * check it used to hold are sqlscan.h.
 */
#ifndef PRIVCHECK_H
#define PRIVCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include "compat.h"
#include "diag.h"
#include "err.h"
#include "sqlscan.h"
#include "target.h"

/* One thing the role lacks. Owned by its struct privcheck. */
struct privproblem {
	/* error: the query fails; warning: it runs but sees less */
	enum diag_severity severity;
	size_t off; /* byte offset in the SQL of the name concerned */
	char *msg;  /* "role 'monitor' cannot execute pg_ls_waldir()" */
	char *fix;  /* "GRANT pg_monitor TO monitor" */
};

/* The problems found for one collector; a local of the caller. */
struct privcheck {
	struct privproblem *v;
	size_t n, alloc;
	size_t nerrors;
};

#define PRIVCHECK_INIT                                                         \
	{                                                                      \
		NULL, 0, 0, 0                                                  \
	}

void privcheck_release(struct privcheck *p);

/*
 * Check, on PostgreSQL session 'pc' of 't', what 'sql' (the collector's
 * text after parameter substitution) needs that the session's role lacks:
 * functions it calls without EXECUTE, relations it names without SELECT
 * (both errors), statistics views and functions that hide other roles'
 * data without pg_read_all_stats, and settings readable only with
 * pg_read_all_settings. Problems are added to 'out'. Reads catalogs only.
 * Returns 0, or -1 with 'e' set when the check itself could not run.
 */
int privcheck_collector(struct target *t, struct pgconn *pc, const char *sql,
			double deadline, struct privcheck *out,
			struct err *e) MUST_CHECK;

/*
 * The databases per-database collectors would run in that the role may not
 * connect to (no CONNECT privilege), as errors in 'out' (offset 0).
 */
int privcheck_databases(struct target *t, struct pgconn *pc, double deadline,
			struct privcheck *out, struct err *e) MUST_CHECK;

/*
 * For a failed connection to pgbouncer's console: the fix when pgbouncer
 * refused the user ("not allowed": it is in neither admin_users nor
 * stats_users), or NULL. 'user' names the role ("the user" when NULL).
 * Returns a malloc'ed string.
 */
char *privcheck_pgbouncer_fix(const char *connect_error, const char *user);

/*
 * The collectors the role lacks privileges for on 't', found once at
 * start-up so that the daemon skips them (reason "privileges") instead of
 * failing on every scrape: true when 'sql' would fail for want of a
 * privilege. Logs nothing. Returns 1 when it would fail, 0 when it would
 * not, and -1 when the check could not run (a timeout, a broken session):
 * then nothing is known, and the caller asks again next time.
 */
int privcheck_would_fail(struct target *t, struct pgconn *pc, const char *sql,
			 double deadline);

#endif
