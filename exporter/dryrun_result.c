/*
 * A dry run's collector on a server: run read-only and rolled back, its
 * result checked against its declaration, its errors placed in the file.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "clock.h"
#include "dryrun.h"
#include "dryrun_int.h"
#include "log.h"
#include "pgsession.h"
#include "pgvalue.h"
#include "privcheck.h"
#include "runner.h"
#include "samples.h"
#include "topsel.h"
#include "xalloc.h"
#include "compat.h"

/* Report a failed query: PostgreSQL's message at its place in the file. */
static void report_pg_error(struct dry *x, struct outcome *oc,
			    const struct collector *c, const struct variant *v,
			    const struct target *t, const char *db,
			    const char *sql, const struct pg_error *pe,
			    double secs, double timeout)
{
	const char *state = pe->sqlstate;
	const char *msg = pe->message;
	const char *detail = pe->detail;
	const char *hint = pe->hint;
	struct srcpos p = v->pos;
	bool exact = false;
	char where[160] = "", extra[512] = "";
	struct sb m = SB_INIT(0);

	if (pe->position) {
		size_t pos = pe->position;
		const struct source *s = dryrun_source(x, c->file);

		p = dryrun_sql_pos(c, v, &x->rt->cfg, sql, pos, s->text, s->len,
				   &exact);
		if (!exact)
			snprintf(where, sizeof(where),
				 " (at character %zu of the query)", pos);
	}
	if (db)
		sb_addf(&m, "in database '%s': ", db);
	oc->failed = true;
	if (!strcmp(state, "57014") && strstr(msg, "statement timeout")) {
		sb_addf(&m,
			"slower than its timeout of %gs: canceled after %.2fs "
			"(raise 'timeout' or make the query cheaper)",
			timeout, secs);
		dryrun_diag(x, oc->row, c, t, DIAG_ERROR, p, "%s", sb_str(&m));
		dryrun_bump(oc->row, DRYRUN_TIMEOUT);
		dryrun_note(oc->row, "slower than %gs", timeout);
		sb_release(&m);
		return;
	}
	if (!strcmp(state, "25006")) {
		sb_addf(&m,
			"the query tries to write: %s; collectors must only "
			"read (it ran read-only and was rolled back: nothing "
			"changed)",
			msg);
		dryrun_note(oc->row, "writes");
	} else if (!strcmp(state, "25001") || !strcmp(state, "2D000") ||
		   !strcmp(state, "0B000")) {
		sb_addf(&m,
			"%s: a collector must be one query that runs inside "
			"a transaction",
			msg);
		dryrun_note(oc->row, "not a query");
	} else if (!strcmp(state, "42P05") ||
		   strstr(msg, "multiple commands")) {
		sb_adds(&m, "the sql holds more than one statement; a "
			    "collector runs exactly one query");
		dryrun_note(oc->row, "several statements");
	} else if (!strcmp(state, "42501")) {
		sb_addf(&m,
			"%s (SQLSTATE %s; fix: GRANT pg_monitor TO the role, "
			"or GRANT the privilege named)",
			msg, state);
		dryrun_note(oc->row, "privileges");
	} else {
		sb_addf(&m, "%s (SQLSTATE %s)", msg, state);
		dryrun_note(oc->row, "SQLSTATE %s", state);
	}
	sb_adds(&m, where);
	if (detail)
		snprintf(extra, sizeof(extra), "; detail: %s", detail);
	sb_adds(&m, extra);
	if (hint) {
		snprintf(extra, sizeof(extra), "; hint: %s", hint);
		sb_adds(&m, extra);
	}
	dryrun_diag(x, oc->row, c, t, DIAG_ERROR, p, "%s", sb_str(&m));
	sb_release(&m);
}

static bool is_value(const struct metricdef *md)
{
	return md->usage != USAGE_LABEL && md->usage != USAGE_DISCARD;
}

/* Compare the columns and values of 'r' with what 'c' declares. */
/* The columns 'r' has and 'c' declares, checked once per outcome. */
static void check_columns(struct dry *x, struct outcome *oc,
			  const struct collector *c, const struct variant *v,
			  const struct target *t, const PGresult *r)
{
	struct sb extra = SB_INIT(0);
	int i, nextra = 0;
	size_t k;

	oc->columns_checked = true;
	/* SHOW returns what it returns: only SQL picks its columns */
	for (i = 0; i < pgsession_result_ncols(r) && c->kind == TARGET_POSTGRES;
	     i++) {
		if (samples_column_known(c, pgsession_result_colname(r, i)))
			continue;
		sb_addf(&extra, "%s'%s'", nextra ? ", " : "",
			pgsession_result_colname(r, i));
		if (!nextra++)
			dryrun_note(oc->row, "undeclared column '%s'",
				    pgsession_result_colname(r, i));
	}
	if (nextra)
		dryrun_diag(x, oc->row, c, t, DIAG_WARNING, v->pos,
			    "column%s %s %s returned but not declared in "
			    "'metrics' (declare %s, as a label or "
			    "'discard', or leave %s out of the query)",
			    nextra > 1 ? "s" : "", sb_str(&extra),
			    nextra > 1 ? "are" : "is",
			    nextra > 1 ? "them" : "it",
			    nextra > 1 ? "them" : "it");
	sb_release(&extra);
	for (k = 0; k < c->nmetrics; k++) {
		const struct metricdef *md = &c->metrics[k];

		if (md->usage == USAGE_DISCARD || md->has_const_value ||
		    md->optional || samples_metric_column(r, md) >= 0)
			continue;
		dryrun_diag(x, oc->row, c, t, DIAG_ERROR, md->pos,
			    "column '%s' is declared but the query does "
			    "not return it",
			    md->column);
		dryrun_note(oc->row, "column '%s' missing", md->column);
		oc->failed = true;
	}
}

/* The text of a value of 'r' ("" for SQL NULL, as libpq gives it). */
static const char *text_of(const PGresult *r, int row, int col)
{
	const char *s = pgsession_result_value(r, row, col);

	return s ? s : "";
}

static void check_result(struct dry *x, struct outcome *oc,
			 const struct collector *c, const struct variant *v,
			 const struct target *t, const PGresult *r)
{
	int row, n = pgsession_result_nrows(r);
	size_t k, li = 0;

	if (!oc->columns_checked)
		check_columns(x, oc, c, v, t, r);
	for (k = 0; k < c->nmetrics; k++) {
		const struct metricdef *md = &c->metrics[k];
		int col = samples_metric_column(r, md);

		if (md->usage == USAGE_LABEL && col >= 0) {
			for (row = 0; row < n; row++)
				strmap_set(&oc->distinct[li],
					   text_of(r, row, col), NULL);
			li++;
			continue;
		}
		if (md->usage == USAGE_LABEL)
			li++;
		if (!is_value(md) || col < 0 || md->nmap ||
		    md->has_const_value || md->usage == USAGE_INFO ||
		    md->usage == USAGE_HISTOGRAM ||
		    md->transform != TRANSFORM_NONE)
			continue;
		for (row = 0; row < n; row++) {
			const char *val = pgsession_result_value(r, row, col);
			double d;

			if (!val ||
			    pgvalue_parse(val, pgsession_result_coltype(r, col),
					  &d) == 0)
				continue;
			dryrun_diag(
				x, oc->row, c, t, DIAG_ERROR, md->pos,
				"column '%s' is not numeric: row %d holds "
				"'%.40s' (use it as a label, or map its values "
				"with 'values')",
				md->column, row + 1, val);
			dryrun_note(oc->row, "column '%s' not numeric",
				    md->column);
			oc->failed = true;
			break;
		}
	}
}

/*
 * BEGIN READ ONLY and the statement timeout (0: none; else 1 ms at least)
 * on 'pc'. Returns false, reported, when the session is lost.
 */
static bool begin_readonly(struct dry *x, struct outcome *oc,
			   const struct collector *c, const struct variant *v,
			   struct target *t, struct pgconn *pc, double timeout)
{
	struct err e = ERR_INIT;
	long ms = timeout > 0 && lround(timeout * 1000) == 0
			  ? 1
			  : lround(timeout * 1000);

	if (pgsession_readonly_begin(pc->conn, ms, 10, &e) == 0)
		return true;
	/* the message is redacted: libpq's may quote connection parameters */
	dryrun_diag(x, oc->row, c, t, DIAG_ERROR, v->pos,
		    "cannot start a read-only transaction: %s", e.msg);
	oc->failed = true;
	return false;
}

/* Check the rows the runner converted and take their series into oc->m. */
static void check_rows(struct dry *x, struct outcome *oc,
		       const struct collector *c, const struct variant *v,
		       struct target *t, struct runner_result *r)
{
	bool failed_before = oc->failed;
	size_t dropped = r->dropped;

	if (oc->row->rows < 0)
		oc->row->rows = 0;
	oc->row->rows += r->nrows;
	/* a pivot's checks are of the row it makes, as the daemon sees */
	if (!r->pivot_failed)
		check_result(x, oc, c, v, t, r->res);
	dropped += mset_merge(oc->m, r->m, NULL, 0);
	/*
	 * what the engine fails on (a pivot or histogram's columns), unless
	 * the checks above already said why, in more detail
	 */
	if (err_isset(&r->e) && oc->failed == failed_before) {
		dryrun_diag(x, oc->row, c, t, DIAG_ERROR, v->pos, "%s",
			    r->e.msg);
		oc->failed = true;
	}
	if (err_isset(&r->warn))
		dryrun_diag(x, oc->row, c, t, DIAG_WARNING, v->pos, "%s",
			    r->warn.msg);
	if (dropped)
		dryrun_diag(x, oc->row, c, t, DIAG_WARNING, v->pos,
			    "%zu series dropped as duplicates (rows with "
			    "the same label values)",
			    dropped);
}

/* How the dry run runs a statement for the runner: on its session. */
struct dryexec {
	struct pgconn *pc;
	bool bouncer;
	double timeout;		/* seconds; the deadline is 5 s past it */
	char *sql;		/* the text run (for error positions) */
	struct pg_error failed; /* the server's error, if it gave one */
	double seconds;		/* the statement took */
};

static PGresult *dry_exec(void *arg, const char *sql, bool *broken,
			  struct err *e)
{
	struct dryexec *d = arg;
	double start = clock_mono();
	PGresult *r;

	d->sql = xstrdup(sql);
	/* the engine's own path: cancel past the deadline, refuse COPY */
	r = pgsession_exec_error(d->pc->conn, sql, d->bouncer,
				 start + d->timeout + 5, broken, &d->failed, e);
	d->seconds = clock_mono() - start;
	return r;
}

bool dryrun_run_one(struct dry *x, struct outcome *oc, struct target *t,
		    struct pgconn *pc, const struct collector *c,
		    const struct variant *v, const char *db)
{
	struct dryexec d = {.pc = pc,
			    .timeout = runner_timeout(c, &x->rt->cfg)};
	struct runner_job j = {.t = t, .pc = pc, .c = c, .v = v, .db = db};
	struct runner_result r = RUNNER_RESULT_INIT;
	bool ok = true;

	d.bouncer = t->cfg->kind == TARGET_PGBOUNCER;
	if (!d.bouncer && !begin_readonly(x, oc, c, v, t, pc, d.timeout))
		return false;
	j.now = clock_mono();
	j.exec = dry_exec;
	j.exec_arg = &d;
	j.max_series = SIZE_MAX;
	j.keep = true;
	runner_run(&j, &r);
	if (oc->row->seconds < 0)
		oc->row->seconds = 0;
	oc->row->seconds += d.seconds;
	if (d.failed.set && !r.broken) {
		report_pg_error(x, oc, c, v, t, db, d.sql, &d.failed, d.seconds,
				d.timeout);
	} else if (!r.queried) {
		dryrun_diag(x, oc->row, c, t, DIAG_ERROR, v->pos, "%s%s%s%s",
			    db ? "in database '" : "", db ? db : "",
			    db ? "': " : "", r.e.msg);
		oc->failed = true;
		ok = false;
	} else if (!pgsession_result_rows(r.res)) {
		dryrun_diag(x, oc->row, c, t, DIAG_ERROR, v->pos,
			    "the sql is a %s command, not a query returning "
			    "rows",
			    pgsession_result_command(r.res));
		dryrun_note(oc->row, "not a query");
		oc->failed = true;
	} else {
		check_rows(x, oc, c, v, t, &r);
	}
	if (ok && !d.bouncer && !pgsession_in_transaction(pc->conn)) {
		dryrun_diag(x, oc->row, c, t, DIAG_ERROR, v->pos,
			    "the query ended the read-only transaction; a "
			    "collector must be one query");
		oc->failed = true;
	}
	runner_result_release(&r);
	pgsession_error_release(&d.failed);
	free(d.sql);
	return !d.bouncer && ok ? pgsession_readonly_end(pc->conn, 10) : ok;
}

/*
 * A top across databases keeps only the cluster's top of the rows of every
 * database: what the page would show (sticky keys aside).
 */
static void select_across(struct dry *x, struct outcome *oc,
			  const struct collector *c)
{
	struct mset *sel;

	if (!c->top.across || !oc->m)
		return;
	sel = mset_new();
	topsel_across(c, &oc->m, 1, topsel_n(c, &x->rt->cfg), NULL, 0, sel,
		      NULL);
	mset_free(oc->m);
	oc->m = sel;
}

void dryrun_finish_outcome(struct dry *x, struct outcome *oc,
			   const struct collector *c, struct target *t)
{
	size_t k, li = 0;
	size_t max = runner_max_series(c, &x->rt->cfg);

	select_across(x, oc, c);
	oc->row->max_series = max;
	if (oc->row->rows >= 0) {
		oc->row->series = oc->m->nseries;
		oc->row->labels =
			xcalloc(oc->nlabelcols + 1, sizeof(*oc->row->labels));
		for (k = 0; k < c->nmetrics; k++) {
			if (c->metrics[k].usage != USAGE_LABEL)
				continue;
			oc->row->labels[li].name =
				xstrdup(c->metrics[k].column);
			oc->row->labels[li].values = oc->distinct[li].n;
			li++;
		}
		oc->row->nlabels = li;
		if (oc->m->nseries > max) {
			dryrun_diag(
				x, oc->row, c, t, DIAG_WARNING, c->pos,
				"produces %zu series, more than max_series "
				"(%zu): the exporter would drop %zu of them",
				oc->m->nseries, max, oc->m->nseries - max);
			dryrun_note(oc->row, "%zu series > max_series %zu",
				    oc->m->nseries, max);
		}
	}
	if (x->all && oc->m) {
		struct label l[32];
		size_t nl = 0;

		if (x->rt->have_config) {
			l[nl].name = (char *)"target";
			l[nl++].value = t->name;
			for (k = 0; k < t->cfg->nlabels && nl < ARRAY_SIZE(l);
			     k++)
				l[nl++] = t->cfg->labels[k];
		}
		mset_merge(x->all, oc->m, l, nl);
	}
	for (k = 0; k < oc->nlabelcols; k++)
		strmap_release(&oc->distinct[k]);
	free(oc->distinct);
	mset_free(oc->m);
}
