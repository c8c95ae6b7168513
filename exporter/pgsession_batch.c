/*
 * One PostgreSQL session, the batch: the read-only transactions of
 * pgsession_batch_ro and pgsession_query_ro, one pipeline each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pgsession.h"
#include "pgsession_int.h"
#include "clock.h"

static bool send_one(PGconn *c, const char *sql)
{
	return PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL, 0);
}

/*
 * The commands of statement 'k' of a batch, in the order sent: ROLLBACK
 * TO SAVEPOINT (but the first), SET LOCAL, the Parse, the execution.
 * 'prep' and 'query' get the index of the last two (-1: none).
 */
static void stmt_layout(const struct pgsession_stmt *s, size_t k,
			int session_ms, int *prep, int *query)
{
	int n = k > 0; /* ROLLBACK TO SAVEPOINT */

	n += s->timeout_ms != session_ms; /* SET LOCAL */
	*prep = s->name && s->prepare ? n++ : -1;
	*query = n;
}

/* Send statement 'k' of a batch as its own segment (see stmt_layout). */
static bool send_stmt(PGconn *c, const struct pgsession_stmt *s, size_t k,
		      int session_ms)
{
	char set[64];

	snprintf(set, sizeof(set), "SET LOCAL statement_timeout = %d",
		 s->timeout_ms > 0 ? s->timeout_ms : 0);
	if (k > 0 && !send_one(c, "ROLLBACK TO SAVEPOINT pgpulse"))
		return false;
	if (s->timeout_ms != session_ms && !send_one(c, set))
		return false;
	if (s->name && s->prepare &&
	    !PQsendPrepare(c, s->name, s->sql, 0, NULL))
		return false;
	if (s->name ? !PQsendQueryPrepared(c, s->name, 0, NULL, NULL, NULL, 0)
		    : !send_one(c, s->sql))
		return false;
	return PQpipelineSync(c);
}

/*
 * Send a whole batch: its transaction and savepoint (no savepoint for one
 * statement: nothing rolls back to it), each statement, the ROLLBACK.
 */
static bool send_batch(PGconn *c, const struct pgsession_stmt *s, size_t n,
		       int session_ms)
{
	if (!PQenterPipelineMode(c) || !send_one(c, "BEGIN READ ONLY") ||
	    (n > 1 && !send_one(c, "SAVEPOINT pgpulse")) || !PQpipelineSync(c))
		return false;
	for (size_t k = 0; k < n; k++)
		if (!send_stmt(c, &s[k], k, session_ms))
			return false;
	return send_one(c, "ROLLBACK") && PQpipelineSync(c);
}

/* Where the reading of a batch is: segment 0 is BEGIN, n + 1 the end. */
struct batch_read {
	struct pgsession_stmt *s;
	size_t n, seg;
	int cmd, prep, query; /* the command read; see stmt_layout */
	int session_ms;
	double last;	 /* when the last segment ended */
	struct err head; /* the transaction's own commands failed */
};

/* The segment read is over: the next one's layout, its time. */
static void next_segment(struct batch_read *b, bool timed_out)
{
	double now = clock_mono();

	if (b->seg >= 1 && b->seg <= b->n) {
		struct pgsession_stmt *st = &b->s[b->seg - 1];

		st->seconds = now - b->last;
		st->answered = true;
		st->timed_out = timed_out;
		if (err_isset(&b->head) && !err_isset(&st->e))
			err_set(&st->e, "%s", b->head.msg);
	}
	b->last = now;
	b->seg++;
	b->cmd = 0;
	if (b->seg >= 1 && b->seg <= b->n)
		stmt_layout(&b->s[b->seg - 1], b->seg - 1, b->session_ms,
			    &b->prep, &b->query);
}

/*
 * One result of a batch, where it belongs: a statement's rows or error,
 * its Parse's success, or the transaction's commands. Returns -1 when the
 * session can no longer be read (COPY).
 */
static int batch_result(struct batch_read *b, PGresult *r, bool *broken)
{
	struct pgsession_stmt *st = NULL;
	bool mine;

	if (b->seg >= 1 && b->seg <= b->n)
		st = &b->s[b->seg - 1];
	if (!st)
		return pgsession_sort_result(r, NULL, NULL, broken, &b->head);
	mine = b->cmd == b->query;
	if (b->cmd == b->prep && PQresultStatus(r) == PGRES_COMMAND_OK)
		st->prepared = true;
	return pgsession_sort_result(r, mine ? &st->res : NULL, NULL, broken,
				     &st->e);
}

/*
 * Read every answer of a batch until its end, a lost session or the
 * deadline.
 */
static void read_batch(PGconn *c, struct batch_read *b, double deadline,
		       bool *broken, bool *timed_out, struct err *e)
{
	double soft = pgsession_cancel_point(deadline);
	PGresult *r;

	while (b->seg <= b->n + 1 &&
	       pgsession_wait_result(c, soft, deadline, timed_out, broken, e) ==
		       0) {
		r = PQgetResult(c);
		if (!r) {
			b->cmd++; /* the end of one command's results */
			continue;
		}
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			next_segment(b, *timed_out);
			continue;
		}
		if (batch_result(b, r, broken) < 0)
			break;
	}
}

/*
 * The end of a batch: statements not answered fail with the batch's
 * error; a session not idle again is rolled back, or given up.
 */
static void end_batch(PGconn *c, struct batch_read *b, double deadline,
		      bool *broken, bool timed_out, struct err *e)
{
	if (b->seg <= b->n + 1)
		*broken = true;
	pgsession_check_lost(c, timed_out, broken, e);
	for (size_t k = 0; k < b->n; k++) {
		struct pgsession_stmt *st = &b->s[k];

		if (st->answered)
			continue;
		err_set(&st->e, "%s",
			err_isset(e) ? e->msg : "the batch was cut short");
		st->timed_out = timed_out;
		st->seconds = k + 1 == b->seg ? clock_mono() - b->last : 0;
	}
	if (!*broken && !PQexitPipelineMode(c))
		*broken = true;
	if (!*broken && PQtransactionStatus(c) != PQTRANS_IDLE) {
		struct err re = ERR_INIT;
		bool lost, tmo;
		PGresult *r = pgsession_exec(c, "ROLLBACK", false, deadline,
					     &lost, &tmo, NULL, &re);

		*broken = !r || lost;
		PQclear(r);
	}
}

void pgsession_batch_ro(PGconn *c, struct pgsession_stmt *s, size_t n,
			int session_ms, double deadline, bool *broken,
			bool *timed_out)
{
	struct batch_read b = {.s = s, .n = n, .session_ms = session_ms};
	struct err e = ERR_INIT;

	*broken = *timed_out = false;
	b.head = (struct err)ERR_INIT;
	if (!send_batch(c, s, n, session_ms)) {
		char *msg = pgsession_error(c);

		err_set(&e, "cannot send query: %s", msg);
		free(msg);
		/* nothing answered: every statement fails with it */
		for (size_t k = 0; k < n; k++)
			err_set(&s[k].e, "%s", e.msg);
		*broken = true;
		return;
	}
	b.last = clock_mono();
	read_batch(c, &b, deadline, broken, timed_out, &e);
	end_batch(c, &b, deadline, broken, *timed_out, &e);
}

/*
 * Run 'sql' on PostgreSQL session 'c' in a read-only transaction rolled
 * back after it (see target_query): a batch of one statement.
 */
PGresult *pgsession_query_ro(PGconn *c, const char *sql, int timeout_ms,
			     int session_ms, double deadline, bool *broken,
			     bool *timed_out, struct err *e)
{
	struct pgsession_stmt st = {.sql = sql, .timeout_ms = timeout_ms};

	st.e = (struct err)ERR_INIT;
	pgsession_batch_ro(c, &st, 1, session_ms, deadline, broken, timed_out);
	return pgsession_stmt_result(&st, e);
}

PGresult *pgsession_stmt_result(struct pgsession_stmt *st, struct err *e)
{
	if (!err_isset(&st->e) && !st->res)
		err_set(&st->e, "the server sent no result");
	if (err_isset(&st->e)) {
		err_set(e, "%s", st->e.msg);
		PQclear(st->res);
		st->res = NULL;
		return NULL;
	}
	return st->res;
}
