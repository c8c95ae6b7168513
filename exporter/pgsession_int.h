/*
 * What pgsession.c and pgsession_batch.c share and nobody else uses: the
 * wait for a result under a deadline with its cancel, sorting results,
 * the check of a lost session. Not a public header: other modules include
 * pgsession.h.
 */
#ifndef PGSESSION_INT_H
#define PGSESSION_INT_H

/* include "pgsession.h" before this header: the module's public types */
#include <stdbool.h>
#include <libpq-fe.h>
#include "err.h"

/*
 * When to cancel a query that must be over by 'deadline': a moment
 * before it, so that the wait for the server to answer the cancel ends by
 * the deadline too and the page goes out on time.
 */
double pgsession_cancel_point(double deadline);

/*
 * Wait until a result of 'c' can be read; past 'soft', cancel the query
 * (once: '*canceled' says it was) and wait until 'deadline' for the
 * server to answer. Returns 0 when a result can be read (perhaps the
 * cancel's error), -1 when the session must be given up ('*broken', 'e'
 * set).
 */
int pgsession_wait_result(PGconn *c, double soft, double deadline,
			  bool *canceled, bool *broken, struct err *e);

/*
 * One result of the server, sorted: rows and command results are kept in
 * '*keep' when 'keep' is not NULL (else cleared); errors set 'e' (the
 * first goes to '*error' when not NULL). Returns -1 for COPY, which
 * leaves the session unusable.
 */
int pgsession_sort_result(PGresult *r, PGresult **keep, PGresult **error,
			  bool *broken, struct err *e);

/*
 * A lost connection makes '*broken' and, failing a better one, 'e'. So
 * does any cancel sent ('timed_out'): even when an error that cancels
 * (SQLSTATE 57014) came back, it may have been the statement timeout's,
 * set to the same deadline, with the cancel still on its way to cancel
 * the session's next query (a healthy scrape's pg_up 0).
 */
void pgsession_check_lost(PGconn *c, bool timed_out, bool *broken,
			  struct err *e);

#endif
