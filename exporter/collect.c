/*
 * One collection of one target: the main session and the server's facts,
 * gating (with privileges), the plan's estimates, the lanes, the self
 * metrics, and the singleflight that concurrent scrapes share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "collect.h"
#include "budget.h"
#include "clock.h"
#include "collmetrics.h"
#include "cstate.h"
#include "gate.h"
#include "lanes.h"
#include "log.h"
#include "plan.h"
#include "privcheck.h"
#include "visits.h"
#include "xalloc.h"
#include "compat.h"

struct target *collect_target_new(const struct target_config *cfg,
				  const struct config *gcfg, struct err *e)
{
	struct target *t = target_new(cfg, gcfg, e);

	if (t)
		target_attach_state(t, cstate_new(), cstate_free);
	return t;
}

/*
 * Whether the role may run 'c' at all, checked once per target (a reload
 * makes new targets, so it checks again): a collector that would fail for
 * want of a privilege is skipped instead of failing on every scrape, and
 * one that calls something a read-only session cannot undo is refused.
 */
static enum gate_reason privileges(struct target *t, struct pgconn *pc,
				   const struct queryset *qs, size_t i,
				   const struct variant *v, double deadline)
{
	const struct collector *c = &qs->v[i];
	enum privstate state = PRIV_UNCHECKED;
	struct err e = ERR_INIT;
	size_t off;
	char *sql;

	if (t->cfg->kind != TARGET_POSTGRES)
		return GATE_RUNS;
	state = cstate_priv_get(t->cs, i, qs->n);
	if (state == PRIV_UNCHECKED) {
		/* a check that could not run (0) is asked again next scrape */
		sql = collector_sql(c, v, t->gcfg);
		/* parameters from the config may make what loading refused */
		if (sqlscan_statement(sql, false, &off, &e) < 0)
			state = PRIV_UNSAFE;
		else
			switch (privcheck_would_fail(t, pc, sql, deadline)) {
			case 1:
				state = PRIV_LACKING;
				break;
			case 0:
				state = PRIV_OK;
				break;
			default:
				state = PRIV_UNCHECKED;
			}
		free(sql);
		cstate_priv_set(t->cs, i, qs->n, state);
	}
	return state == PRIV_LACKING  ? GATE_PRIVILEGES
	       : state == PRIV_UNSAFE ? GATE_UNSAFE
				      : GATE_RUNS;
}

/* Why 'c' does not run on 't' now, or GATE_RUNS when it does. */
static enum gate_reason skip_reason(struct target *t, struct pgconn *pc,
				    const struct queryset *qs, size_t i,
				    double deadline, const struct variant **v)
{
	const char *req;
	enum gate_reason why = gate_check(t, pc, &qs->v[i], deadline, v, &req);

	return why ? why : privileges(t, pc, qs, i, *v, deadline);
}

static void note_skip(struct ctx *x, size_t i, enum gate_reason why)
{
	const char *reason = gate_reason_text(why);
	const struct collector *c = &x->qs->v[i];
	struct logkey k = {ONCE_SKIP, c->name, NULL};

	x->runs[i].skip = why;
	if (cstate_report(x->t->cs, &k, reason))
		log_info("collector skipped", "target", x->t->name, "collector",
			 c->name, "reason", reason, NULL);
}

/*
 * Decide on the main session 'pc' which collectors run: those that do not
 * are noted as skipped; the cluster ones go to 'list' (in order, '*n' of
 * them), and '*want_dbs' says whether per-database ones run. Without a
 * session, only the collectors defining an error value (pg_up) report.
 */
static void gate_all(struct ctx *x, struct pgconn *pc, size_t *list, size_t *n,
		     bool *want_dbs)
{
	struct target *t = x->t;
	size_t i;

	*n = 0;
	for (i = 0; i < x->qs->n; i++) {
		const struct collector *c = &x->qs->v[i];
		enum gate_reason why;

		if (c->kind != t->cfg->kind)
			continue;
		if (!pc) {
			if (c->scope == SCOPE_CLUSTER &&
			    samples_has_error_value(c)) {
				samples_add_error_values(c, x->out);
				x->runs[i].attempted = true;
				x->runs[i].failed = true;
			}
			continue;
		}
		why = skip_reason(t, pc, x->qs, i, x->deadline,
				  &x->variants[i]);
		if (why)
			note_skip(x, i, why);
		else if (c->scope == SCOPE_DATABASE)
			*want_dbs = true;
		else
			list[(*n)++] = i;
	}
}

static void add_self(struct ctx *x, double started,
		     const struct budget_cut *cut)
{
	struct target *t = x->t;
	unsigned long *total = xcalloc(x->qs->n + 1, sizeof(*total));
	struct collstats s = {
		.qs = x->qs,
		.runs = x->runs,
		.dropped = total,
		.kind = t->cfg->kind,
		.facts = target_facts_collecting(t),
		.budget = t->gcfg->target_max_series,
		.cut = *cut,
	};
	struct target_status st;

	if (x->plan) {
		visits_collected(cstate_visits(t->cs), &s.dbnames, &s.collected,
				 &s.ndbs);
		s.bound = visits_bound(cstate_visits(t->cs));
	}
	cstate_dropped_add(t->cs, x->qs->n, x->dropped, total);
	s.cached = cstate_cache_count(t->cs);
	target_status(t, &st);
	s.pool = st.pool;
	s.seconds = clock_mono() - started;
	collmetrics_add(x->out, &s);
	free(s.dbnames);
	free(s.collected);
	free(total);
}

/*
 * The part of collector 'i' a fresh cached result will serve: 0 or 1 for
 * a cluster collector ('dbs' NULL), the share of 'dbs' for a per-database
 * one.
 */
static double fresh_part(struct ctx *x, size_t i, char **dbs)
{
	const char *one[2] = {"", NULL};
	const char *const *d = dbs ? (const char *const *)dbs : one;
	size_t n = 0, fresh = 0;
	double now = clock_mono();

	for (; *d; d++, n++)
		fresh += cstate_cache_get(x->t->cs, x->qs->v[i].name, *d,
					  now) != NULL;
	/* no database to visit: nothing to keep time for */
	return n ? (double)fresh / (double)n : 1;
}

/*
 * The collection's session to the main database, with the server facts
 * read on it. A kept session that died (a restart between scrapes) or
 * froze (a stopped backend) says nothing of the server now: it gets half
 * the time left, and one new session is tried in the rest before the
 * target is called down. So does one killed while reading the facts. '*cut' is
 * set when the deadline, not the server, is why there is no session
 * (TARGET_FAIR_WAIT).
 */
static struct pgconn *main_session(struct target *t, double deadline, bool *cut,
				   struct err *e)
{
	double start = clock_mono();
	struct pgconn *pc;
	bool retry;

	pc = target_acquire_first(t, deadline, cut, e);
	if (!pc)
		return NULL;
	if (target_refresh_facts(
		    t, pc, pc->kept ? start + (deadline - start) / 2 : deadline,
		    e) == 0)
		return pc;
	/* a session killed under us (even a new one) says nothing either */
	retry = PQstatus(pc->conn) == CONNECTION_BAD ||
		(pc->kept && pc->timed_out);
	if (!retry) {
		*cut = pc->timed_out && clock_mono() - start < TARGET_FAIR_WAIT;
		target_release(t, pc, true);
		return NULL;
	}
	target_release(t, pc, PQstatus(pc->conn) == CONNECTION_BAD);
	err_clear(e);
	pc = target_acquire_first(t, deadline, cut, e);
	if (pc && target_refresh_facts(t, pc, deadline, e) < 0) {
		*cut = pc->timed_out && clock_mono() - start < TARGET_FAIR_WAIT;
		target_release(t, pc, true);
		pc = NULL;
	}
	return pc;
}

/*
 * Log an outage when it starts and when it ends, not on every scrape of
 * it; keep the target's state for the landing page.
 */
static void note_outage(struct target *t, bool up, const char *why)
{
	double down_for;
	int change = target_note_outage(t, up, clock_mono(), &down_for);

	if (change > 0) {
		log_warn("target is down", "target", t->name, "err", why, NULL);
	} else if (change < 0) {
		char secs[32];

		snprintf(secs, sizeof(secs), "%.1f", down_for);
		log_info("target is up again", "target", t->name,
			 "down_seconds", secs, NULL);
	}
}

/*
 * Hold the target's page to its series budget (see budget.h), logging
 * when the budget starts and stops cutting, not on every scrape.
 */
static void apply_budget(struct ctx *x, struct collection *col,
			 struct budget_cut *cut)
{
	const struct logkey k = {ONCE_BUDGET, NULL, NULL};
	size_t before = col->m->nseries;
	char n[32], max[32], dbs[32];

	col->m = x->out =
		budget_apply(col->m, x->t->gcfg->target_max_series, cut);
	if (!cut->series) {
		if (cstate_report(x->t->cs, &k, NULL))
			log_info("the series budget no longer cuts the page",
				 "target", x->t->name, NULL);
		return;
	}
	if (!cstate_report(x->t->cs, &k, "cut"))
		return;
	snprintf(n, sizeof(n), "%zu", before);
	snprintf(max, sizeof(max), "%zu", x->t->gcfg->target_max_series);
	snprintf(dbs, sizeof(dbs), "%zu", cut->databases);
	log_warn("the target has more series than its budget: the smallest "
		 "databases' series are left out",
		 "target", x->t->name, "series", n, "target_max_series", max,
		 "databases_cut", dbs, "fix",
		 "raise limits.target_max_series, or narrow the databases",
		 NULL);
}

/*
 * Keep what each collector's query took for the next collection's plan; a
 * collector served from its cache (or not run) keeps the time of its last
 * query, which it takes again when the cache runs out.
 */
static void keep_estimates(struct ctx *x)
{
	bool *set = xcalloc(x->qs->n + 1, sizeof(*set));
	double *spent = xcalloc(x->qs->n + 1, sizeof(*spent));

	for (size_t i = 0; i < x->qs->n; i++) {
		spent[i] = x->runs[i].spent;
		set[i] = spent[i] > 0;
	}
	cstate_est_set(x->t->cs, x->qs->n, spent, set);
	free(spent);
	free(set);
}

/* Set up 'x' for a collection of 't' into 'out', with last time's times. */
static void ctx_init(struct ctx *x, struct target *t, const struct queryset *qs,
		     double deadline, struct mset *out)
{
	const size_t n = qs->n + 1;

	x->t = t;
	x->qs = qs;
	x->deadline = deadline;
	x->started = clock_mono();
	x->out = out;
	x->runs = xcalloc(n, sizeof(*x->runs));
	x->dropped = xcalloc(n, sizeof(*x->dropped));
	x->est = xcalloc(n, sizeof(*x->est));
	x->last = xcalloc(n, sizeof(*x->last));
	x->variants = xcalloc(n, sizeof(*x->variants));
	cstate_est_get(t->cs, qs->n, x->last);
	for (size_t i = 0; i < qs->n; i++) {
		/* a query, or a cancel, takes a round trip at least */
		if (qs->v[i].kind != t->cfg->kind) {
			x->last[i] = 0;
			continue;
		}
		x->est[i] = plan_reserve(x->last[i]);
	}
}

static void ctx_release(struct ctx *x)
{
	free(x->est);
	free(x->last);
	free(x->runs);
	free(x->dropped);
	free(x->variants);
}

/*
 * The databases per-database collectors run in, or NULL when there are
 * none ('*n' of them).
 */
static char **list_databases(struct target *t, size_t *n)
{
	struct err e = ERR_INIT;
	char **dbs = target_databases(t, &e);

	if (!dbs)
		log_warn("cannot list databases", "target", t->name, "err",
			 e.msg, NULL);
	for (*n = 0; dbs && dbs[*n]; (*n)++)
		;
	if (!*n) { /* the patterns keep none: no per-database work */
		xfree_strv(dbs);
		dbs = NULL;
	}
	return dbs;
}

/*
 * What a fresh cached result will serve costs nothing this scrape: no
 * time is kept back for it, and it weighs nothing when the work is dealt
 * out (its last query time is kept for when it runs out). Returns the
 * time to keep for the per-database collectors in 'dbs'.
 */
static double discount_cached(struct ctx *x, char **dbs)
{
	const struct queryset *qs = x->qs;
	double perdb = 0;

	for (size_t i = 0; i < qs->n; i++) {
		double fresh;

		if (!(qs->v[i].ttl > 0) || x->runs[i].skip ||
		    qs->v[i].kind != x->t->cfg->kind)
			continue;
		fresh = fresh_part(
			x, i, qs->v[i].scope == SCOPE_DATABASE ? dbs : NULL);
		x->last[i] *= 1 - fresh;
		x->est[i] *= 1 - fresh;
		x->est[i] = plan_reserve(x->est[i]);
	}
	for (size_t i = 0; dbs && i < qs->n; i++)
		if (lanes_per_database(x, i))
			perdb += x->est[i];
	return perdb;
}

/* The shortest ttl of the per-database collectors that run. */
static double min_ttl(const struct ctx *x)
{
	double m = -1;

	for (size_t i = 0; i < x->qs->n; i++)
		if (lanes_per_database(x, i) && (m < 0 || x->qs->v[i].ttl < m))
			m = x->qs->v[i].ttl;
	return m < 0 ? 0 : m;
}

/*
 * Which of 'dbs' this collection visits (visits.h), into 'p'; with the
 * login budget, ranked by pg_stat_database's activity read on 'pc' (in a
 * tenth of the time left at most).
 */
static void plan_visits(struct ctx *x, struct pgconn *pc, char **dbs,
			size_t ndbs, struct visit_plan *p)
{
	struct target *t = x->t;
	struct visits *v = cstate_visits(t->cs);
	struct visit_rules r = {t->gcfg->database_logins_per_scrape,
				t->gcfg->database_max_staleness, min_ttl(x)};
	struct err e = ERR_INIT;
	double left = x->deadline - clock_mono();

	if (visits_budgeted(&r, ndbs) && left > 0.1 &&
	    visits_read_activity(v, t, pc, (int)(left * 100), x->deadline, &e) <
		    0)
		log_debug("no activity to rank databases by", "target", t->name,
			  "err", e.msg, NULL);
	visits_plan(v, dbs, &r, clock_mono(), p);
	x->plan = p;
}

static struct collection *
collect_once(struct target *t, const struct queryset *qs, double deadline)
{
	struct collection *col = xcalloc(1, sizeof(*col));
	struct ctx x = {0};
	struct budget_cut cut_by_budget = {0};
	struct err e = ERR_INIT;
	struct pgconn *pc;
	struct visit_plan plan = {0};
	size_t *cluster, ncluster = 0, ndbs = 0;
	char **dbs = NULL;
	bool want_dbs = false, two, cut = false;
	double perdb;

	col->m = mset_new();
	ctx_init(&x, t, qs, deadline, col->m);
	two = t->nslots >= 2 && t->cfg->kind == TARGET_POSTGRES;
	cluster = xcalloc(qs->n + 1, sizeof(*cluster));
	pc = main_session(t, deadline, &cut, &e);
	if (!pc && cut) {
		/* too short to say anything of the server: nothing to keep */
		col->cut = col->unread = true;
		goto out;
	}
	note_outage(t, pc != NULL, e.msg);
	col->up = pc != NULL;
	gate_all(&x, pc, cluster, &ncluster, &want_dbs);
	if (pc && want_dbs)
		dbs = list_databases(t, &ndbs);
	if (dbs)
		plan_visits(&x, pc, dbs, ndbs, &plan);
	perdb = discount_cached(&x, plan.visit);
	col->cut = lanes_run(&x, pc, cluster, ncluster, plan.visit,
			     plan.nvisit ? plan.nvisit : 1, perdb, two);
	xfree_strv(dbs);
	cstate_forget_stale(t->cs, clock_mono(),
			    target_facts_collecting(t)->databases, qs);
	apply_budget(&x, col, &cut_by_budget);
	add_self(&x, x.started, &cut_by_budget);
	mset_seal(col->m);
	col->budget = deadline - x.started;
	col->finished = clock_mono();
	keep_estimates(&x);
out:
	free(cluster);
	visits_plan_release(&plan);
	ctx_release(&x);
	return col;
}

/* The collection flight_join runs. */
struct job {
	struct target *t;
	const struct queryset *qs;
};

static struct collection *run_job(void *arg, double deadline)
{
	struct job *j = arg;

	return collect_once(j->t, j->qs, deadline);
}

struct collection *collect_target(struct target *t, const struct queryset *qs,
				  double deadline, bool *cut)
{
	struct job j = {t, qs};

	return flight_join(cstate_flight(t->cs), deadline, cut, run_job, &j);
}

void collect_forget(struct target *t)
{
	flight_forget(cstate_flight(t->cs));
	cstate_clear(t->cs);
}

void collection_put(struct target *t, struct collection *c)
{
	flight_put(cstate_flight(t->cs), c);
}
