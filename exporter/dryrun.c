/*
 * pgpulse --dry-run: every problem of the config and query files, with its
 * position; then, on each target, every collector run read-only and rolled
 * back, its result checked against its declaration; then a summary line.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "dryrun.h"
#include "dryrun_int.h"
#include "clock.h"
#include "log.h"
#include "pgvalue.h"
#include "expfmt.h"
#include "gate.h"
#include "metrics.h"
#include "privcheck.h"
#include "runner.h"
#include "runtime.h"
#include "strmap.h"
#include "target.h"
#include "xalloc.h"
#include "ydoc.h"
#include "compat.h"

#define MAX_FILE (4u << 20)

const struct source *dryrun_source(struct dry *x, const char *file)
{
	struct diags ignore = DIAGS_INIT;
	struct source *s;
	size_t i;

	for (i = 0; i < x->nsrc; i++)
		if (!strcmp(x->src[i].file, file))
			return &x->src[i];
	ALLOC_GROW(x->src, x->nsrc + 1, x->srcalloc);
	s = &x->src[x->nsrc++];
	s->file = xstrdup(file);
	s->text = ydoc_read_file(file, MAX_FILE, &s->len, &ignore);
	diags_release(&ignore);
	return s;
}

void dryrun_bump(struct dryrun_row *row, enum dryrun_status st)
{
	if (row && st > row->status)
		row->status = st;
}

void dryrun_note(struct dryrun_row *row, const char *fmt, ...)
{
	va_list ap;

	if (row->note)
		return; /* the first problem is the one shown */
	va_start(ap, fmt);
	row->note = xvasprintf(fmt, ap);
	va_end(ap);
}

/* A diagnostic about collector 'c' (on target 't', if any). */
void dryrun_diag(struct dry *x, struct dryrun_row *row,
		 const struct collector *c, const struct target *t,
		 enum diag_severity sev, struct srcpos p, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (t)
		diags_add(&x->rep->d, sev, p.file ? p.file : c->file, p.line,
			  p.column, "collector '%s': target '%s': %s", c->name,
			  t->name, msg);
	else
		diags_add(&x->rep->d, sev, p.file ? p.file : c->file, p.line,
			  p.column, "collector '%s': %s", c->name, msg);
	free(msg);
	dryrun_bump(row, sev == DIAG_ERROR ? DRYRUN_ERROR : DRYRUN_WARNING);
}

/* The place of byte 'off' of 'sql'; 'exact' false: the variant's start. */
struct srcpos dryrun_sql_at(struct dry *x, const struct collector *c,
			    const struct variant *v, const char *sql,
			    size_t off, bool *exact)
{
	const struct source *s = dryrun_source(x, c->file);

	return dryrun_sql_pos(c, v, &x->rt->cfg, sql,
			      ydoc_count_chars(sql, off) + 1, s->text, s->len,
			      exact);
}

/*
 * Checks that need no server: one read-only query (sqlscan_statement),
 * SHOW only for pgbouncer. Loading the file already reported a text that
 * fails them; here they run again on the text with its parameters, as the
 * daemon runs it, and a collector that fails is never run.
 */
static void check_offline(struct dry *x, size_t ci)
{
	const struct collector *c = &x->rt->qs.v[ci];
	bool bouncer = c->kind == TARGET_PGBOUNCER;
	size_t i;

	for (i = 0; i < c->nvariants; i++) {
		const struct variant *v = &c->variants[i];
		char *sql = collector_sql(c, v, &x->rt->cfg);
		struct err e = ERR_INIT, raw = ERR_INIT;
		size_t off = 0, roff;
		bool exact;

		if (sqlscan_statement(sql, bouncer, &off, &e) < 0) {
			x->bad[ci] = true;
			if (sqlscan_statement(v->sql, bouncer, &roff, &raw) ==
			    0)
				dryrun_diag(x, NULL, c, NULL, DIAG_ERROR,
					    dryrun_sql_at(x, c, v, sql, off,
							  &exact),
					    "with its parameters: %s", e.msg);
		}
		free(sql);
	}
}

static bool has_extbounds(const struct collector *c)
{
	size_t i;

	for (i = 0; i < c->nvariants; i++)
		if (c->variants[i].next)
			return true;
	return false;
}

/* Why 'c' does not run on 't', or GATE_RUNS; '*v' gets the variant. */
static enum gate_reason gate(struct dry *x, struct target *t, struct pgconn *pc,
			     const struct collector *c,
			     const struct variant **v, struct dryrun_row *row)
{
	const char *req;
	enum gate_reason why;

	why = gate_check(t, pc, c, clock_mono() + 10, v, &req);
	if (*v)
		row->variant = (int)(*v - c->variants) + 1;
	if (why == GATE_RUNS)
		return why;
	if (why == GATE_TAGS) {
		dryrun_note(row,
			    "tags: the target has none of the collector's");
	} else if (why == GATE_ROLE) {
		dryrun_note(row, "role: runs on %s only",
			    c->role == ROLE_PRIMARY ? "primaries" : "replicas");
	} else if (why == GATE_VERSION) {
		dryrun_note(row, "version: no variant for %d%s",
			    target_facts_collecting(t)->version,
			    has_extbounds(c) ? " and its extension versions"
					     : "");
	} else if (!strncmp(req, "setting:", 8)) {
		dryrun_diag(x, row, c, t, DIAG_WARNING, c->pos,
			    "requires %s, which the server does not have; "
			    "the collector is skipped there",
			    req);
		dryrun_note(row, "requires %s", req);
	} else {
		dryrun_diag(
			x, row, c, t, DIAG_WARNING, c->pos,
			"requires extension '%s', which is not installed in "
			"database '%s'; the collector is skipped there (fix: "
			"CREATE EXTENSION %s)",
			req, t->main_db ? t->main_db : "(default)", req);
		dryrun_note(row, "requires extension '%s'", req);
	}
	return why;
}

/* Report what the role lacks for 'sql'; true when the query would fail. */
static bool check_privileges(struct dry *x, struct dryrun_row *row,
			     struct target *t, struct pgconn *pc,
			     const struct collector *c, const struct variant *v,
			     const char *sql)
{
	struct privcheck pk = PRIVCHECK_INIT;
	struct err e = ERR_INIT;
	size_t i;
	bool fails;

	if (privcheck_collector(t, pc, sql, clock_mono() + 10, &pk, &e) < 0) {
		dryrun_diag(x, row, c, t, DIAG_WARNING, v->pos,
			    "privileges not checked: %s", e.msg);
		privcheck_release(&pk);
		return false;
	}
	if (c->scope == SCOPE_DATABASE) {
		err_clear(&e);
		if (privcheck_databases(t, pc, clock_mono() + 10, &pk, &e) < 0)
			dryrun_diag(x, row, c, t, DIAG_WARNING, c->pos,
				    "CONNECT privileges not checked: %s",
				    e.msg);
	}
	for (i = 0; i < pk.n; i++) {
		const struct privproblem *pp = &pk.v[i];
		bool exact;
		struct srcpos p =
			pp->off ? dryrun_sql_at(x, c, v, sql, pp->off, &exact)
				: c->pos;

		dryrun_diag(x, row, c, t, pp->severity, p, "%s (fix: %s)",
			    pp->msg, pp->fix);
		if (pp->severity == DIAG_ERROR)
			dryrun_note(row, "privileges");
	}
	fails = pk.nerrors > 0;
	privcheck_release(&pk);
	return fails;
}

/* Run collector 'c' on target 't' (session 'pc' to its main database). */
static bool check_collector(struct dry *x, struct target *t,
			    struct pgconn **pcp, size_t ci)
{
	const struct collector *c = &x->rt->qs.v[ci];
	struct dryrun_row *row = dryrun_add_row(x->rep, c->name, t->name);
	struct outcome oc = {0};
	const struct variant *v;
	char *sql = NULL;
	size_t k;
	bool alive = true;

	row->nvariants = (int)c->nvariants;
	row->max_series = runner_max_series(c, &x->rt->cfg);
	if (x->bad[ci]) {
		row->status = DRYRUN_ERROR;
		dryrun_note(row, "not run: see the errors above");
		return true;
	}
	if (gate(x, t, *pcp, c, &v, row) != GATE_RUNS) {
		row->status = DRYRUN_SKIPPED;
		return true;
	}
	sql = collector_sql(c, v, &x->rt->cfg);
	if (check_privileges(x, row, t, *pcp, c, v, sql)) {
		free(sql);
		return true;
	}
	oc.row = row;
	oc.m = mset_new();
	for (k = 0; k < c->nmetrics; k++)
		if (c->metrics[k].usage == USAGE_LABEL)
			oc.nlabelcols++;
	oc.distinct = xcalloc(oc.nlabelcols + 1, sizeof(*oc.distinct));
	if (c->scope == SCOPE_DATABASE && t->cfg->kind == TARGET_POSTGRES) {
		struct err e = ERR_INIT;
		char **dbs = target_databases(t, &e);

		for (char **db = dbs; db && *db; db++) {
			struct pgconn *pc;

			err_clear(&e);
			pc = target_acquire(t, *db, clock_mono() + 10, &e);
			if (!pc) {
				dryrun_diag(x, row, c, t, DIAG_ERROR, c->pos,
					    "in database '%s': %s", *db, e.msg);
				continue;
			}
			target_release(
				t, pc,
				!dryrun_run_one(x, &oc, t, pc, c, v, *db));
		}
		if (!dbs)
			dryrun_diag(x, row, c, t, DIAG_ERROR, c->pos, "%s",
				    e.msg);
		xfree_strv(dbs);
	} else {
		alive = dryrun_run_one(x, &oc, t, *pcp, c, v, NULL);
	}
	dryrun_finish_outcome(x, &oc, c, t);
	free(sql);
	return alive;
}

static void check_target(struct dry *x, struct target *t)
{
	struct err e = ERR_INIT;
	struct pgconn *pc;
	struct server_facts facts;
	char version[128] = "";
	size_t i;

	pc = target_acquire(t, NULL,
			    clock_mono() + x->rt->cfg.connect_timeout + 1, &e);
	if (pc && target_refresh_facts(t, pc, clock_mono() + 10, &e) < 0) {
		target_release(t, pc, true);
		pc = NULL;
	}
	if (!pc) {
		char *fix = NULL;

		if (t->cfg->kind == TARGET_PGBOUNCER)
			fix = privcheck_pgbouncer_fix(e.msg,
						      target_param(t, "user"));
		diags_add(&x->rep->d, DIAG_ERROR,
			  t->cfg->pos.file ? t->cfg->pos.file : "environment",
			  t->cfg->pos.line, t->cfg->pos.column,
			  "target '%s': %s%s%s%s", t->name, e.msg,
			  fix ? " (fix: " : "", fix ? fix : "", fix ? ")" : "");
		dryrun_add_target(x->rep, t->name,
				  target_kind_names[t->cfg->kind], NULL, 0,
				  e.msg);
		free(fix);
		for (i = 0; i < x->rt->qs.n; i++) {
			struct dryrun_row *row;

			if (x->rt->qs.v[i].kind != t->cfg->kind)
				continue;
			row = dryrun_add_row(x->rep, x->rt->qs.v[i].name,
					     t->name);
			row->status = DRYRUN_ERROR;
			row->nvariants = (int)x->rt->qs.v[i].nvariants;
			dryrun_note(row, "target unreachable");
		}
		return;
	}
	target_facts(t, &facts);
	if (facts.version_text) {
		const char *on = strstr(facts.version_text, " on ");
		int n = on ? (int)(on - facts.version_text)
			   : (int)strlen(facts.version_text);

		snprintf(version, sizeof(version), "%.*s", n,
			 facts.version_text);
	}
	dryrun_add_target(x->rep, t->name, target_kind_names[t->cfg->kind],
			  *version ? version : NULL, facts.version, NULL);
	pgsession_facts_release(&facts);
	for (i = 0; i < x->rt->qs.n; i++) {
		if (x->rt->qs.v[i].kind != t->cfg->kind)
			continue;
		if (!pc) {
			struct dryrun_row *row = dryrun_add_row(
				x->rep, x->rt->qs.v[i].name, t->name);

			row->status = DRYRUN_ERROR;
			dryrun_note(row, "session lost");
			continue;
		}
		size_t from = x->rep->d.n;
		bool alive = check_collector(x, t, &pc, i);

		/* one collector's problems read top to bottom */
		diags_sort(&x->rep->d, from);
		if (!alive) {
			target_release(t, pc, true);
			err_clear(&e);
			pc = target_acquire(t, NULL, clock_mono() + 10, &e);
		}
	}
	if (pc)
		target_release(t, pc, false);
}

/* ---- loading ------------------------------------------------------- */

/*
 * The files and targets, by the daemon's loader in the dry run's mode:
 * every problem reported, none stopping the check.
 */
static void load(struct dry *x)
{
	const struct runtime_load_mode mode = {
		.keep_going = true,
		.env_when_named = true,
		.offline = x->o->offline,
		.check_overrides = true,
	};

	x->rt = runtime_load(&x->o->ro, &mode, &x->rep->d);
}

int dryrun_main(const struct dryrun_opts *o)
{
	struct dryrun_report rep = DRYRUN_REPORT_INIT;
	struct dry x = {0};
	struct sb out = SB_INIT(0), sum = SB_INIT(0);
	bool json = o->json;
	size_t i;
	int rc;

	x.o = o;
	x.rep = &rep;
	load(&x);
	rep.ncollectors = x.rt->qs.n;
	x.bad = xcalloc(x.rt->qs.n + 1, sizeof(*x.bad));
	for (i = 0; i < x.rt->qs.n; i++)
		check_offline(&x, i);
	rep.offline = o->offline || !x.rt->ntargets;
	if (o->show_metrics && !rep.offline)
		x.all = mset_new();
	if (rep.offline) {
		for (i = 0; i < x.rt->qs.n; i++) {
			struct dryrun_row *row =
				dryrun_add_row(&rep, x.rt->qs.v[i].name, NULL);

			row->nvariants = (int)x.rt->qs.v[i].nvariants;
			row->max_series =
				runner_max_series(&x.rt->qs.v[i], &x.rt->cfg);
			row->status = x.bad[i] ? DRYRUN_ERROR : DRYRUN_OK;
		}
	}
	for (i = 0; i < x.rt->ntargets && !rep.offline; i++)
		check_target(&x, x.rt->targets[i]);
	rep.ntargets = rep.offline ? 0 : x.rt->ntargets;
	if (x.all) {
		struct mset *sets[1] = {x.all};
		struct sb m = SB_INIT(0);

		expfmt_render(&m, sets, 1, EXPFMT_TEXT);
		rep.metrics = sb_detach(&m, NULL);
	}

	diags_print(&rep.d, stderr);
	if (json) {
		dryrun_render_json(&rep, &out);
	} else {
		dryrun_render_table(&rep, &out);
		if (rep.metrics)
			sb_addf(&out, "\n%s", rep.metrics);
	}
	fputs(sb_str(&out), stdout);
	fflush(stdout);
	if (!o->offline && !x.rt->ntargets && !rep.d.nerrors)
		fputs("no target configured (--config, DATA_SOURCE_NAME or "
		      "DATABASE_URL): checked the files only\n",
		      stderr);
	dryrun_render_summary(&rep, &sum);
	fputs(sb_str(&sum), stderr);
	rc = rep.d.nerrors ? 1 : 0;

	sb_release(&out);
	sb_release(&sum);
	mset_free(x.all);
	for (i = 0; i < x.nsrc; i++) {
		free(x.src[i].file);
		free(x.src[i].text);
	}
	free(x.src);
	free(x.bad);
	runtime_free(x.rt);
	dryrun_report_release(&rep);
	return rc;
}
