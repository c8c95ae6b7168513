/*
 * One PostgreSQL session (or pgbouncer console session): connect under a
 * deadline, the session options that make it read-only and bounded,
 * queries sent asynchronously and cancelled at their deadline, the check
 * that an idle session is still there. Knows nothing of pools or targets.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pgsession.h"
#include "pgsession_int.h"
#include "clock.h"
#include "log.h"
#include "xalloc.h"

/* seconds a canceled query's session is waited for before it is closed */
#define CANCEL_GRACE 0.25
/* cancel requests that may be in flight at once, process-wide */
#define MAX_CANCELS 16

/* Escape a value for libpq's options string (backslash before space, \). */
static void add_option(char *buf, size_t size, const char *name,
		       const char *value)
{
	size_t len = strlen(buf);
	const char *p;

	if (len + 1 >= size)
		return;
	len += (size_t)snprintf(buf + len, size - len,
				"%s-c %s=", len ? " " : "", name);
	for (p = value; *p && len + 2 < size; p++) {
		if (*p == ' ' || *p == '\\')
			buf[len++] = '\\';
		buf[len++] = *p;
	}
	buf[len] = '\0';
}

char *pgsession_options(const struct config *g, const char *user)
{
	char buf[1024] = "";
	char num[32];

	/*
	 * Every session is read-only and bounded before its first query; the
	 * date and interval styles make timestamps and intervals parseable.
	 */
	add_option(buf, sizeof(buf), "default_transaction_read_only", "on");
	snprintf(num, sizeof(num), "%d", (int)(g->statement_timeout * 1000));
	add_option(buf, sizeof(buf), "statement_timeout", num);
	snprintf(num, sizeof(num), "%d", (int)(g->lock_timeout * 1000));
	add_option(buf, sizeof(buf), "lock_timeout", num);
	snprintf(num, sizeof(num), "%d",
		 (int)((g->scrape_timeout + g->statement_timeout) * 1000));
	add_option(buf, sizeof(buf), "idle_in_transaction_session_timeout",
		   num);
	add_option(buf, sizeof(buf), "DateStyle", "ISO");
	add_option(buf, sizeof(buf), "TimeZone", "UTC");
	add_option(buf, sizeof(buf), "IntervalStyle", "iso_8601");
	add_option(buf, sizeof(buf), "jit", "off");
	if (user && *user)
		return xasprintf("%s %s", user, buf);
	return xstrdup(buf);
}

char *pgsession_error(PGconn *c)
{
	char buf[512], safe[512];
	const char *msg = c ? PQerrorMessage(c) : "out of memory";
	size_t n;

	snprintf(buf, sizeof(buf), "%s", msg);
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = ' ';
	log_redact(buf, safe, sizeof(safe));
	return xstrdup(safe);
}

/*
 * Server notices (a WARNING from a function, a killed session's FATAL
 * read while idle) go to the log, as one structured line at debug level,
 * not raw to stderr as libpq's default does.
 */
static void notice_log(void *arg, const char *message)
{
	const char *name = arg;
	char buf[512];
	size_t n;

	snprintf(buf, sizeof(buf), "%s", message);
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	log_debug("server notice", "target", name, "notice", buf, NULL);
}

/*
 * Drive a connection begun with PQconnectStartParams until it is made
 * (0), fails (-1) or 'deadline' passes (1). libpq ignores connect_timeout
 * here: the deadline is the only bound. (Host names are still resolved
 * before PQconnectStartParams returns.)
 */
static int connect_poll(PGconn *c, double deadline)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	if (PQstatus(c) == CONNECTION_BAD)
		return -1;
	for (;;) {
		double left = deadline - clock_mono();
		/* the socket changes as libpq tries each host in turn */
		struct pollfd p = {.fd = PQsocket(c)};
		int r;

		if (st == PGRES_POLLING_OK)
			return 0;
		if (st == PGRES_POLLING_FAILED)
			return -1;
		if (left <= 0)
			return 1;
		p.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r > 0)
			st = PQconnectPoll(c);
	}
}

PGconn *pgsession_connect(const char *const *keys, const char *const *vals,
			  bool blocking, double seconds, const char *name,
			  bool *timed_out, struct err *e)
{
	PGconn *c;
	char *msg;

	*timed_out = false;
	if (blocking)
		c = PQconnectdbParams(keys, vals, 0);
	else
		c = PQconnectStartParams(keys, vals, 0);
	switch (!c	   ? -1
		: blocking ? -(PQstatus(c) != CONNECTION_OK)
			   : connect_poll(c, clock_mono() + seconds)) {
	case 0:
		/* the callback's argument lives as long as the session */
		PQsetNoticeProcessor(c, notice_log, (void *)name);
		return c;
	case 1:
		*timed_out = true;
		err_set(e, "cannot connect: timeout expired after %.1f s",
			seconds);
		break;
	default:
		msg = pgsession_error(c);
		err_set(e, "cannot connect: %s", msg);
		free(msg);
	}
	PQfinish(c);
	return NULL;
}

bool pgsession_alive(PGconn *c)
{
	struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};

	if (PQstatus(c) != CONNECTION_OK)
		return false;
	/* a killed backend's FATAL comes first (a notice here), then EOF */
	for (int k = 0; k < 4 && poll(&p, 1, 0) > 0; k++) {
		if (!PQconsumeInput(c))
			return false;
		(void)PQisBusy(c); /* parses what came */
		if (PQstatus(c) != CONNECTION_OK)
			return false;
	}
	return true;
}

int pgsession_wait_ready(PGconn *c, double deadline)
{
	while (PQisBusy(c)) {
		double left = deadline - clock_mono();
		struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
		int r;

		if (left <= 0)
			return 1;
		r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r > 0 && !PQconsumeInput(c))
			return -1;
	}
	return 0;
}

static pthread_mutex_t cancel_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned cancels_in_flight;

static void *cancel_run(void *p)
{
	PGcancel *cn = p;
	char buf[256];

	PQcancel(cn, buf, sizeof(buf));
	PQfreeCancel(cn);
	pthread_mutex_lock(&cancel_lock);
	cancels_in_flight--;
	pthread_mutex_unlock(&cancel_lock);
	return NULL;
}

/*
 * Ask the server to cancel what 'c' runs, without waiting: PQcancel
 * connects anew and reads until the server closes, with no timeout of its
 * own (libpq 15), so against a server that stopped answering it would
 * hold the scrape for minutes. It runs on a detached thread instead, at
 * most MAX_CANCELS at once.
 */
static void cancel_async(PGconn *c)
{
	PGcancel *cn;
	pthread_attr_t a;
	pthread_t th;
	bool started = false;

	pthread_mutex_lock(&cancel_lock);
	if (cancels_in_flight >= MAX_CANCELS) {
		pthread_mutex_unlock(&cancel_lock);
		return; /* the session is closed unanswered, all the same */
	}
	cancels_in_flight++;
	pthread_mutex_unlock(&cancel_lock);
	cn = PQgetCancel(c);
	if (cn) {
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		started = !pthread_create(&th, &a, cancel_run, cn);
		pthread_attr_destroy(&a);
	}
	if (!started) {
		PQfreeCancel(cn);
		pthread_mutex_lock(&cancel_lock);
		cancels_in_flight--;
		pthread_mutex_unlock(&cancel_lock);
	}
}

static void result_error(PGresult *r, struct err *e)
{
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *pos = PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION);

	if (!msg)
		msg = PQresultErrorMessage(r);
	if (pos)
		err_set(e, "%s (SQLSTATE %s, at character %s)", msg,
			state ? state : "?", pos);
	else
		err_set(e, "%s (SQLSTATE %s)", msg, state ? state : "?");
}

/* see pgsession_int.h */
double pgsession_cancel_point(double deadline)
{
	double grace = (deadline - clock_mono()) * 0.2;

	if (grace > CANCEL_GRACE)
		grace = CANCEL_GRACE;
	return deadline - (grace > 0 ? grace : 0);
}

/* see pgsession_int.h */
int pgsession_wait_result(PGconn *c, double soft, double deadline,
			  bool *canceled, bool *broken, struct err *e)
{
	int w = pgsession_wait_ready(c, *canceled ? deadline : soft);

	if (w == 1 && !*canceled) {
		cancel_async(c);
		*canceled = true;
		err_set(e, "canceled: its deadline passed");
		w = pgsession_wait_ready(c, deadline);
	}
	if (w == 1) {
		/* past the grace the session is closed, not waited for */
		err_set(e, "canceled: its deadline passed");
		*broken = true;
		return -1;
	}
	if (w < 0) {
		char *msg = pgsession_error(c);

		err_set(e, "connection lost: %s", msg);
		free(msg);
		*broken = true;
		return -1;
	}
	return 0;
}

/* see pgsession_int.h */
int pgsession_sort_result(PGresult *r, PGresult **keep, PGresult **error,
			  bool *broken, struct err *e)
{
	switch (PQresultStatus(r)) {
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
		if (keep) {
			PQclear(*keep);
			*keep = r;
		} else {
			PQclear(r);
		}
		return 0;
	case PGRES_PIPELINE_ABORTED:
		PQclear(r);
		return 0;
	case PGRES_COPY_OUT:
	case PGRES_COPY_IN:
	case PGRES_COPY_BOTH:
		/* PQgetResult would hand back COPY states forever */
		err_set(e, "COPY is not a query pgpulse can run");
		PQclear(r);
		*broken = true;
		return -1;
	default:
		result_error(r, e);
		if (error && !*error)
			*error = r;
		else
			PQclear(r);
		return 0;
	}
}

/* see pgsession_int.h */
void pgsession_check_lost(PGconn *c, bool timed_out, bool *broken,
			  struct err *e)
{
	if (timed_out)
		*broken = true;
	if (PQstatus(c) != CONNECTION_BAD)
		return;
	if (!err_isset(e)) {
		char *msg = pgsession_error(c);

		err_set(e, "connection lost: %s", msg);
		free(msg);
	}
	*broken = true;
}

/*
 * Collect every result of the query sent on 'c'. Returns the last rows
 * (or command) result, or NULL with 'e' set; the server's first error
 * result goes to '*error' when it is not NULL.
 */
static PGresult *read_results(PGconn *c, double deadline, bool *broken,
			      bool *timed_out, PGresult **error, struct err *e)
{
	PGresult *keep = NULL, *r;
	double soft = pgsession_cancel_point(deadline);

	while (pgsession_wait_result(c, soft, deadline, timed_out, broken, e) ==
	       0) {
		r = PQgetResult(c);
		if (!r || pgsession_sort_result(r, &keep, error, broken, e) < 0)
			break;
	}
	pgsession_check_lost(c, *timed_out, broken, e);
	if (err_isset(e)) {
		PQclear(keep);
		return NULL;
	}
	return keep;
}

PGresult *pgsession_exec(PGconn *c, const char *sql, bool simple,
			 double deadline, bool *broken, bool *timed_out,
			 PGresult **error, struct err *e)
{
	*broken = false;
	*timed_out = false;
	if (error)
		*error = NULL;
	if (!(simple ? PQsendQuery(c, sql)
		     : PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL,
					 0))) {
		char *msg = pgsession_error(c);

		err_set(e, "cannot send query: %s", msg);
		free(msg);
		*broken = true;
		return NULL;
	}
	return read_results(c, deadline, broken, timed_out, error, e);
}

static char *error_field(const PGresult *r, int code, const char *none)
{
	const char *s = PQresultErrorField(r, code);

	return s ? xstrdup(s) : none ? xstrdup(none) : NULL;
}

PGresult *pgsession_exec_error(PGconn *c, const char *sql, bool simple,
			       double deadline, bool *broken,
			       struct pg_error *failed, struct err *e)
{
	PGresult *error, *r;
	const char *s;
	bool timed_out;

	memset(failed, 0, sizeof(*failed));
	r = pgsession_exec(c, sql, simple, deadline, broken, &timed_out, &error,
			   e);
	if (!error)
		return r;
	failed->set = true;
	s = PQresultErrorField(error, PG_DIAG_SQLSTATE);
	snprintf(failed->sqlstate, sizeof(failed->sqlstate), "%s", s ? s : "");
	failed->message = error_field(error, PG_DIAG_MESSAGE_PRIMARY, "");
	failed->detail = error_field(error, PG_DIAG_MESSAGE_DETAIL, NULL);
	failed->hint = error_field(error, PG_DIAG_MESSAGE_HINT, NULL);
	s = PQresultErrorField(error, PG_DIAG_STATEMENT_POSITION);
	failed->position = s ? strtoul(s, NULL, 10) : 0;
	PQclear(error);
	return r;
}

void pgsession_error_release(struct pg_error *pe)
{
	free(pe->message);
	free(pe->detail);
	free(pe->hint);
	memset(pe, 0, sizeof(*pe));
}

int pgsession_readonly_begin(PGconn *c, long timeout_ms, double wait,
			     struct err *e)
{
	PGresult *r;
	char set[64];
	bool broken, timed_out;

	snprintf(set, sizeof(set), "SET LOCAL statement_timeout = %ld",
		 timeout_ms);
	r = pgsession_exec(c, "BEGIN READ ONLY", false, clock_mono() + wait,
			   &broken, &timed_out, NULL, e);
	if (!r)
		return -1;
	PQclear(r);
	r = pgsession_exec(c, set, false, clock_mono() + wait, &broken,
			   &timed_out, NULL, e);
	if (!r)
		return -1;
	PQclear(r);
	return 0;
}

bool pgsession_readonly_end(PGconn *c, double wait)
{
	struct err e = ERR_INIT;
	bool broken, timed_out, ok;
	PGresult *r = pgsession_exec(c, "ROLLBACK", false, clock_mono() + wait,
				     &broken, &timed_out, NULL, &e);

	ok = r && PQtransactionStatus(c) == PQTRANS_IDLE;
	PQclear(r);
	return ok;
}

bool pgsession_in_transaction(PGconn *c)
{
	PGTransactionStatusType s = PQtransactionStatus(c);

	return s == PQTRANS_INTRANS || s == PQTRANS_INERROR;
}

bool pgsession_result_rows(const PGresult *r)
{
	return PQresultStatus(r) == PGRES_TUPLES_OK;
}

const char *pgsession_result_command(PGresult *r)
{
	return PQcmdStatus(r);
}

int pgsession_result_ncols(const PGresult *r)
{
	return PQnfields(r);
}

int pgsession_result_nrows(const PGresult *r)
{
	return PQntuples(r);
}

const char *pgsession_result_colname(const PGresult *r, int col)
{
	return PQfname(r, col);
}

unsigned pgsession_result_coltype(const PGresult *r, int col)
{
	return PQftype(r, col);
}

const char *pgsession_result_value(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

void pgsession_facts_release(struct server_facts *f)
{
	free(f->version_text);
	free(f->data_directory);
	xfree_strv(f->extensions);
	xfree_strv(f->extversions);
	xfree_strv(f->databases);
	memset(f, 0, sizeof(*f));
}

/* "{a,b,"c d"}" -> NULL-terminated list. */
static char **parse_text_array(const char *s)
{
	char **v = NULL;
	size_t n = 0, alloc = 0;
	const char *p = s;

	if (*p == '{')
		p++;
	while (*p && *p != '}') {
		char buf[256];
		size_t len = 0;

		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				if (len + 1 < sizeof(buf))
					buf[len++] = *p;
				p++;
			}
			if (*p == '"')
				p++;
		} else {
			while (*p && *p != ',' && *p != '}') {
				if (len + 1 < sizeof(buf))
					buf[len++] = *p;
				p++;
			}
		}
		buf[len] = '\0';
		ALLOC_GROW(v, n + 2, alloc);
		v[n++] = xstrdup(buf);
		if (*p == ',')
			p++;
	}
	ALLOC_GROW(v, n + 1, alloc);
	v[n] = NULL;
	return v;
}

const char pgsession_facts_sql[] =
	"SELECT current_setting('server_version_num')::int, version(), "
	"pg_is_in_recovery(), r.rolsuper, "
	"pg_has_role(current_user, 'pg_monitor', 'MEMBER'), "
	"array(SELECT extname::text FROM pg_extension ORDER BY 1), "
	"CASE WHEN r.rolsuper OR pg_has_role(current_user, "
	"'pg_read_all_settings', 'MEMBER') "
	"THEN current_setting('data_directory') END, "
	"array(SELECT datname::text FROM pg_database "
	"WHERE datallowconn AND NOT datistemplate ORDER BY datname), "
	"array(SELECT extversion::text FROM pg_extension ORDER BY "
	"extname::text) "
	"FROM pg_roles r WHERE r.rolname = current_user";

void pgsession_facts_read(const PGresult *r, struct server_facts *f)
{
	f->version = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
	f->version_text = xstrdup(PQgetvalue(r, 0, 1));
	f->in_recovery = PQgetvalue(r, 0, 2)[0] == 't';
	f->superuser = PQgetvalue(r, 0, 3)[0] == 't';
	f->pg_monitor = PQgetvalue(r, 0, 4)[0] == 't';
	f->extensions = parse_text_array(PQgetvalue(r, 0, 5));
	for (f->nextensions = 0; f->extensions[f->nextensions];
	     f->nextensions++)
		;
	if (!PQgetisnull(r, 0, 6))
		f->data_directory = xstrdup(PQgetvalue(r, 0, 6));
	f->databases = parse_text_array(PQgetvalue(r, 0, 7));
	f->extversions = parse_text_array(PQgetvalue(r, 0, 8));
}
