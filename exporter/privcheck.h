/*
 * What a collector's SQL needs that the monitoring role lacks (EXECUTE on a
 * function, SELECT on a relation, the privileges of pg_read_all_stats or
 * pg_read_all_settings, CONNECT on a database, pgbouncer's stats_users),
 * each with the GRANT that fixes it; an SQL tokenizer for the names and
 * statements of a query text; and the check that a text is one read-only
 * query pgpulse may run (privcheck_statement).
 */
#ifndef PRIVCHECK_H
#define PRIVCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include "compat.h"
#include "diag.h"
#include "err.h"
#include "target.h"

/* A word of an SQL text. Points into the text; lives as long as it. */
struct sqlword {
	const char *s; /* the word; not NUL-terminated */
	size_t len;
	size_t off;  /* byte offset in the text */
	bool string; /* the contents of a string literal, not a name */
	bool quoted; /* a "quoted" name: compared as written */
	bool call;   /* a name followed by '(' */
};

/*
 * The names (unquoted ones lower-cased when compared) and string literals
 * of 'sql', skipping comments and dollar-quoted bodies. Returns a
 * malloc'ed array (free it) and its length in *n; NULL when there is none.
 */
struct sqlword *privcheck_words(const char *sql, size_t *n);

/*
 * The byte offset where a second statement starts in 'sql' (text after a
 * ';' outside strings, quoted names, comments and dollar quotes), or -1
 * when 'sql' holds one statement.
 */
long privcheck_second_statement(const char *sql);

/*
 * The first call in 'sql' of a function whose effect a rollback cannot
 * undo or that changes the session (pg_terminate_backend, pg_stat_reset*,
 * pg_advisory*, dblink*, lo_*, set_config, nextval...), matched on name
 * tokens, so neither a comment before its '(' nor quotes nor a schema
 * hide it: its name (lower case, in a static buffer), with its byte
 * offset in '*off'; or NULL when there is none.
 */
const char *privcheck_unsafe_call(const char *sql, size_t *off);

/*
 * Whether 'sql' is a statement pgpulse may run: for PostgreSQL, one query
 * (SELECT, WITH, VALUES, TABLE or SHOW, perhaps in parentheses) with no
 * data-modifying part (INSERT, UPDATE, DELETE, MERGE, SELECT INTO, FOR
 * UPDATE/SHARE) and no call privcheck_unsafe_call finds; for pgbouncer's
 * console ('pgbouncer'), 'SHOW <word>' and nothing else. The text is
 * tokenized as PostgreSQL does (comments, nested comments, quoted names,
 * strings, E'' strings, dollar quotes). Returns 0, or -1 with 'e' set and
 * the byte offset of the offending token in '*off'.
 */
int privcheck_statement(const char *sql, bool pgbouncer, size_t *off,
			struct err *e) MUST_CHECK;

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
