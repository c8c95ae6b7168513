/*
 * One server, its batches: a session's statements in one pipeline
 * (pgsession_batch_ro), each prepared once per session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "target.h"
#include "pgsession.h"
#include "xalloc.h"

/* Most statements one session keeps prepared (reloads add new ones). */
#define MAX_PREPARED 256

/*
 * The name of the prepared statement of 'sql': the hash the maps use, of
 * its text (a name met with other SQL is left unnamed, see name_stmts).
 */
static void prepared_name(const char *sql, char name[32])
{
	snprintf(name, 32, "pgpulse_%016llx",
		 (unsigned long long)strmap_hash(sql, strlen(sql)));
}

/*
 * Name the statements of a batch: prepared already, to prepare now, or
 * unnamed (a session that cannot keep them, a full session, a name met
 * with other SQL, the same SQL twice in the batch).
 */
static void name_stmts(struct pgconn *pc, struct pgsession_stmt *s, size_t n,
		       char (*names)[32])
{
	size_t room = pc->prepared.n < MAX_PREPARED
			      ? MAX_PREPARED - pc->prepared.n
			      : 0;

	for (size_t k = 0; k < n && !pc->no_prepare; k++) {
		const char *known;
		bool twice = false;

		prepared_name(s[k].sql, names[k]);
		for (size_t j = 0; j < k && !twice; j++)
			twice = s[j].name && !strcmp(s[j].name, names[k]);
		known = strmap_get(&pc->prepared, names[k]);
		if (twice || (known && strcmp(known, s[k].sql)))
			continue;
		if (!known && !room)
			continue;
		s[k].name = names[k];
		s[k].prepare = !known;
		room -= !known;
	}
}

/* Whether statement 'st' failed as its name was lost or already taken. */
static bool lost_name(const struct pgsession_stmt *st)
{
	return st->name && (strstr(st->e.msg, "SQLSTATE 26000") ||
			    strstr(st->e.msg, "SQLSTATE 42P05"));
}

/*
 * Remember what the batch prepared. A name the server lost or had
 * already (a pooler hands out server sessions in turn) ends preparing on
 * this session; those statements run again unnamed. Returns how many.
 */
static size_t note_prepared(struct pgconn *pc, struct pgsession_stmt *s,
			    size_t n)
{
	size_t again = 0;

	for (size_t k = 0; k < n; k++) {
		char *sql = s[k].prepared ? xstrdup(s[k].sql) : NULL;

		if (sql && !strmap_put(&pc->prepared, s[k].name, sql, NULL))
			free(sql);
		pc->no_prepare |= lost_name(&s[k]);
	}
	if (!pc->no_prepare)
		return 0;
	strmap_release_with(&pc->prepared, free);
	pc->prepared = (struct strmap)STRMAP_INIT;
	for (size_t k = 0; k < n; k++) {
		if (!lost_name(&s[k]))
			continue;
		PQclear(s[k].res);
		s[k] = (struct pgsession_stmt){.sql = s[k].sql,
					       .timeout_ms = s[k].timeout_ms};
		again++;
	}
	return again;
}

/* Run the statements of 's' left unanswered again, in a batch of theirs. */
static void rerun(struct target *t, struct pgconn *pc, struct pgsession_stmt *s,
		  size_t n, double deadline, bool *broken)
{
	struct pgsession_stmt *again = xcalloc(n + 1, sizeof(*again));
	size_t m = 0, k;

	for (k = 0; k < n; k++)
		if (!s[k].answered)
			again[m++] = s[k];
	pgsession_batch_ro(pc->conn, again, m, target_timeout_ms(t), deadline,
			   broken, &pc->timed_out);
	for (k = 0, m = 0; k < n; k++)
		if (!s[k].answered)
			s[k] = again[m++];
	free(again);
}

/* pgbouncer's console: each statement on its own, simple protocol. */
static void console_batch(struct pgconn *pc, struct pgsession_stmt *s, size_t n,
			  double deadline, bool *broken)
{
	for (size_t k = 0; k < n; k++) {
		double start = clock_mono();

		if (*broken) {
			err_set(&s[k].e, "the session was lost before it ran");
			s[k].timed_out = pc->timed_out;
			continue;
		}
		s[k].res =
			pgsession_exec(pc->conn, s[k].sql, true, deadline,
				       broken, &pc->timed_out, NULL, &s[k].e);
		s[k].answered = s[k].res || !*broken;
		s[k].timed_out = pc->timed_out;
		s[k].seconds = clock_mono() - start;
	}
}

void target_query_batch(struct target *t, struct pgconn *pc,
			struct pgsession_stmt *s, size_t n, double deadline,
			bool *broken)
{
	char(*names)[32] = xcalloc(n + 1, sizeof(*names));

	*broken = false;
	if (t->cfg->kind == TARGET_PGBOUNCER) {
		console_batch(pc, s, n, deadline, broken);
	} else {
		name_stmts(pc, s, n, names);
		pgsession_batch_ro(pc->conn, s, n, target_timeout_ms(t),
				   deadline, broken, &pc->timed_out);
		if (!*broken && note_prepared(pc, s, n))
			rerun(t, pc, s, n, deadline, broken);
	}
	free(names);
	if (*broken || PQtransactionStatus(pc->conn) != PQTRANS_IDLE) {
		*broken = true;
		pc->broken = true;
	}
}
