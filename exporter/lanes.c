/*
 * The lanes of a collection: the collectors run one after another on a
 * session, from the cache when fresh, under the deadline plan; with two
 * sessions, the cluster collectors dealt to two lanes side by side. The
 * per-database pass is lanes_db.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clock.h"
#include "cstate.h"
#include "lanes.h"
#include "lanes_int.h"
#include "log.h"
#include "plan.h"
#include "runner.h"
#include "samples.h"
#include "xalloc.h"
#include "compat.h"

/* lanes_int.h */
struct mset *lane_out(struct lane *ln, size_t i)
{
	if (!ln->outs)
		return ln->out;
	if (!ln->outs[i])
		ln->outs[i] = mset_new();
	return ln->outs[i];
}

/* Does collector 'i' rank its results across databases in this lane? */
static bool lane_across(const struct lane *ln, size_t i)
{
	return ln->across && ln->across[i].on;
}

static void across_push(struct across *a, struct mset *m)
{
	ALLOC_GROW(a->v, a->n + 1, a->alloc);
	a->v[a->n++] = m;
}

/* lanes_int.h */
size_t lane_put(struct lane *ln, size_t i, struct mset *m)
{
	if (lane_across(ln, i)) {
		across_push(&ln->across[i], mset_ref(m));
		return 0;
	}
	return mset_merge(lane_out(ln, i), m, NULL, 0);
}

/* lanes_int.h */
void lane_error_values(struct lane *ln, size_t i)
{
	const struct collector *c = &ln->x->qs->v[i];
	struct mset *m;

	if (!lane_across(ln, i)) {
		samples_add_error_values(c, lane_out(ln, i));
		return;
	}
	m = mset_new();
	samples_add_error_values(c, m);
	across_push(&ln->across[i], m);
}

/*
 * The statement_timeout of collector 'i': its own, but never so long that
 * the collectors still to run (at the time they took last collection)
 * miss the deadline. Collectors run one after another on one session, so
 * without this one slow query would starve every later one.
 */
static int timeout_ms(struct lane *ln, size_t i, double share, bool *limited)
{
	struct ctx *x = ln->x;
	const struct collector *c = &x->qs->v[i];
	double want = runner_timeout(c, x->t->gcfg);
	double mine = x->est[i] * share;
	double others = ln->pending - mine;

	ln->pending -= mine;
	return plan_timeout_ms(want, x->deadline - clock_mono(), others,
			       limited);
}

/*
 * Say once in the log what a run left aside: columns the result has but
 * the collector does not list (a typo in 'metrics', or a query that
 * grew), so nothing is guessed and nothing goes unnoticed, and values it
 * could not make.
 */
static void note_result(struct target *t, const struct collector *c,
			const char *db, const struct runner_result *r)
{
	struct logkey uk = {ONCE_UNDECLARED, c->name, NULL};
	struct logkey wk = {ONCE_WARN, c->name, db};
	const char *warn = err_isset(&r->warn) ? r->warn.msg : NULL;

	if (r->undeclared && cstate_report(t->cs, &uk, r->undeclared))
		log_info("columns returned but not listed in metrics are "
			 "ignored",
			 "target", t->name, "collector", c->name, "columns",
			 r->undeclared, NULL);
	if (cstate_report(t->cs, &wk, warn) && warn)
		log_warn("collector could not produce a value", "target",
			 t->name, "collector", c->name, "datname", db, "err",
			 warn, NULL);
}

/* lanes_int.h */
bool lane_from_cache(struct lane *ln, size_t i, const char *db, double share)
{
	struct ctx *x = ln->x;
	const struct collector *c = &x->qs->v[i];
	struct cache_entry *ce;

	if (!(c->ttl > 0))
		return false;
	ce = cstate_cache_get(x->t->cs, c->name, db, clock_mono());
	if (!ce)
		return false;
	ln->runs[i].attempted = true;
	ln->dropped[i] += lane_put(ln, i, ce->m);
	ln->runs[i].seconds += ce->seconds;
	/* it takes no time now: what it was kept back for goes to the rest */
	ln->pending -= x->est[i] * share;
	return true;
}

/* A run that worked: keep its result for the ttl; a failure is over. */
static void collector_ok(struct target *t, const struct collector *c,
			 const char *db, struct runner_result *r, double start,
			 double secs)
{
	struct logkey key = {ONCE_FAILED, c->name, db};

	/* per database, even without a ttl: served until the next visit */
	if (c->ttl > 0 || c->scope == SCOPE_DATABASE) {
		mset_seal(r->m);
		cstate_cache_put(t->cs, c->name, db, r->m, start + c->ttl, secs,
				 r->dropped);
		r->m = NULL;
	}
	if (cstate_report(t->cs, &key, NULL))
		log_info("collector recovered", "target", t->name, "collector",
			 c->name, "datname", db, NULL);
}

/* A run that failed ('cut': by the request's deadline), logged once. */
static void collector_failed(struct ctx *x, struct run *run,
			     const struct collector *c, const char *db,
			     bool cut, const char *msg)
{
	struct logkey key = {ONCE_FAILED, c->name, db};

	run->failed = true;
	/* a request too short to run anything is no news of the collector */
	if (cut && x->deadline - x->started < TARGET_FAIR_WAIT)
		log_debug("collector cut short by the request's deadline",
			  "target", x->t->name, "collector", c->name, NULL);
	else if (cstate_report(x->t->cs, &key, msg))
		log_warn("collector failed", "target", x->t->name, "collector",
			 c->name, "datname", db, "err", msg, NULL);
}

/* A collector about to run in a batch: its job and what it was given. */
struct pending {
	size_t i;
	struct runner_job j;
	bool limited; /* the deadline, not its own timeout, set j.timeout_ms */
};

/*
 * Make ready to run collector 'i' on 'pc' (in database 'db', or the main
 * one when NULL): its statement_timeout under the plan, its sticky keys.
 */
static void begin_run(struct lane *ln, size_t i, struct pgconn *pc,
		      const char *db, double share, double now,
		      struct pending *p)
{
	struct ctx *x = ln->x;
	const struct collector *c = &x->qs->v[i];
	struct target *t = x->t;

	memset(p, 0, sizeof(*p));
	p->i = i;
	p->j = (struct runner_job){.t = t, .pc = pc, .c = c, .db = db};
	p->j.v = x->variants[i];
	p->j.deadline = x->deadline;
	p->j.now = now;
	ln->runs[i].attempted = true;
	/* runs again: a new skip is news */
	cstate_report(t->cs, &(struct logkey){ONCE_SKIP, c->name, NULL}, NULL);
	p->j.timeout_ms = timeout_ms(ln, i, share, &p->limited);
	p->j.sticky = c->top.by && !c->top.across
			      ? cstate_sticky(t->cs, c->name, db)
			      : NULL;
}

/*
 * What collector p->i's run made: its samples, its time, its cache entry,
 * or its failure ('r' released).
 */
static void end_run(struct lane *ln, const struct pending *p,
		    struct runner_result *r)
{
	struct ctx *x = ln->x;
	const struct collector *c = p->j.c;
	struct target *t = x->t;
	const char *db = p->j.db;
	struct run *run = &ln->runs[p->i];
	bool cut;

	run->seconds += r->seconds;
	run->spent += r->seconds;
	if (r->queried) {
		note_result(t, c, db, r);
		ln->dropped[p->i] += r->dropped + lane_put(ln, p->i, r->m);
		/* with an error, rows that converted are served all the same */
		if (!err_isset(&r->e)) {
			collector_ok(t, c, db, r, p->j.now, r->seconds);
			runner_result_release(r);
			return;
		}
		cut = false;
	} else {
		/*
		 * the scrape's deadline, not the collector's own timeout,
		 * stopped it (a statement_timeout shortened for the deadline
		 * counts too): that says nothing of the server, so no error
		 * value (pg_up 0) is made up; the page says it was cut instead
		 */
		cut = p->j.timeout_ms <= 0 || r->timed_out ||
		      (p->limited && strstr(r->e.msg, "SQLSTATE 57014"));
		ln->cut |= cut;
		if (!cut)
			lane_error_values(ln, p->i);
	}
	collector_failed(x, run, c, db, cut, r->e.msg);
	runner_result_release(r);
}

/* lanes_int.h */
size_t lane_run_batch(struct lane *ln, size_t *list, size_t n,
		      struct pgconn *pc, const char *db, double share,
		      double extra, bool *broken)
{
	struct pending *p = xcalloc(n + 1, sizeof(*p));
	struct runner_job *jobs = xcalloc(n + 1, sizeof(*jobs));
	struct runner_result *r = xcalloc(n + 1, sizeof(*r));
	double now = clock_mono();
	size_t k, m = 0, rest = 0, first = (size_t)-1;

	for (k = 0; k < n; k++) {
		if (lane_from_cache(ln, list[k], db, share))
			continue;
		if (first == (size_t)-1)
			first = list[k];
		begin_run(ln, list[k], pc, db, share, now, &p[m]);
		r[m] = (struct runner_result)RUNNER_RESULT_INIT;
		if (p[m].j.timeout_ms <= 0) {
			err_set(&r[m].e, "the scrape deadline passed before "
					 "it could run");
			end_run(ln, &p[m], &r[m]);
			continue;
		}
		jobs[m] = p[m].j;
		m++;
	}
	*broken = runner_run_batch(jobs, m, r);
	for (k = 0; k < m; k++) {
		if (k > 0 && r[k].unanswered && r[k - 1].unanswered) {
			/* not run: its time goes back to the plan */
			ln->pending += ln->x->est[p[k].i] * share;
			runner_result_release(&r[k]);
			list[rest++] = p[k].i;
			continue;
		}
		end_run(ln, &p[k], &r[k]);
	}
	if (first != (size_t)-1)
		ln->runs[first].spent += extra;
	free(p);
	free(jobs);
	free(r);
	return rest;
}

/*
 * Run the lane's cluster collectors on its session, replacing the session
 * when one breaks; without one, only error values are reported.
 */
static void run_list(struct lane *ln)
{
	struct ctx *x = ln->x;
	struct target *t = x->t;
	size_t *todo = xcalloc(ln->n + 1, sizeof(*todo));
	size_t k, n = ln->n;

	memcpy(todo, ln->list, n * sizeof(*todo));
	while (n && ln->pc) {
		struct err e = ERR_INIT;
		bool broken, cut = false;

		n = lane_run_batch(ln, todo, n, ln->pc, NULL, 1, 0, &broken);
		if (broken) {
			target_release(t, ln->pc, true);
			ln->pc = target_acquire_first(t, x->deadline, &cut, &e);
			ln->cut |= cut;
		}
	}
	/* the deadline took the session: nothing to say */
	for (k = 0; k < n; k++) {
		size_t i = todo[k];

		if (samples_has_error_value(&x->qs->v[i]) && !ln->cut) {
			lane_error_values(ln, i);
			ln->runs[i].attempted = true;
			ln->runs[i].failed = true;
		}
	}
	free(todo);
}

/* Does collector 'i' run in each database on this target? */
bool lanes_per_database(const struct ctx *x, size_t i)
{
	const struct collector *c = &x->qs->v[i];

	return c->scope == SCOPE_DATABASE && x->variants[i] &&
	       !x->runs[i].skip && c->kind == x->t->cfg->kind;
}

static const struct logkey share = {ONCE_SHARE, NULL, NULL};

static void *lane_main(void *p)
{
	struct lane *ln = p;
	struct target *t = ln->x->t;
	struct err e = ERR_INIT;

	ln->pc = target_acquire_spare(t, ln->x->deadline, &e);
	if (!ln->pc) {
		/*
		 * a role with a connection limit, a full server: lane 0 runs
		 * the list, and sharing waits a while before trying again
		 */
		ln->no_session = true;
		cstate_share_defer(t->cs, clock_mono() + PLAN_SHARE_RETRY);
		if (cstate_report(t->cs, &share, e.msg))
			log_info("no second session: the collectors run one "
				 "after another",
				 "target", t->name, "err", e.msg, NULL);
		return NULL;
	}
	if (cstate_report(t->cs, &share, NULL))
		log_info("a second session again: slow collectors are "
			 "shared out",
			 "target", t->name, NULL);
	run_list(ln);
	if (ln->pc)
		target_release(ln->x->t, ln->pc, false);
	ln->pc = NULL;
	return NULL;
}

static double lane_pending(const struct lane *ln)
{
	double sum = 0;
	size_t k;

	for (k = 0; k < ln->n; k++)
		sum += ln->x->est[ln->list[k]];
	return sum;
}

/*
 * Deal the cluster collectors of 'all' to lanes 'a' and 'b' by what each
 * took last time, the longest first to the lane with less to do (in
 * collector order within a lane). Returns false, dealing nothing, when
 * they took too little time for a second session to be worth it.
 */
static bool share_out(struct ctx *x, const size_t *all, size_t n,
		      struct lane *a, struct lane *b)
{
	return plan_deal(x->last, all, n, a->list, &a->n, b->list, &b->n);
}

/* Lane 0 writes into the ctx; lane 1 has counts of its own. */
static void lanes_init(struct ctx *x, struct lane lanes[2], struct pgconn *pc,
		       const size_t *cluster, size_t ncluster)
{
	const size_t n = x->qs->n + 1;

	memset(lanes, 0, 2 * sizeof(*lanes));
	for (int k = 0; k < 2; k++) {
		lanes[k].x = x;
		lanes[k].list = xcalloc(n, sizeof(*lanes[k].list));
	}
	lanes[0].out = x->out;
	lanes[0].runs = x->runs;
	lanes[0].dropped = x->dropped;
	lanes[1].runs = xcalloc(n, sizeof(*lanes[1].runs));
	lanes[1].dropped = xcalloc(n, sizeof(*lanes[1].dropped));
	lanes[0].pc = pc;
	memcpy(lanes[0].list, cluster, ncluster * sizeof(*cluster));
	lanes[0].n = ncluster;
}

/* Add lane 1's counts to the ctx, and both lanes' samples in order. */
static void lanes_merge(struct ctx *x, struct lane lanes[2])
{
	for (size_t i = 0; i < x->qs->n; i++) {
		struct run *r = &x->runs[i], *r1 = &lanes[1].runs[i];

		r->attempted |= r1->attempted;
		r->failed |= r1->failed;
		r->seconds += r1->seconds;
		r->spent += r1->spent;
		x->dropped[i] += lanes[1].dropped[i];
		/* in collector order, whichever lane ran it */
		for (int k = 0; lanes[0].outs && k < 2; k++) {
			if (!lanes[k].outs[i])
				continue;
			x->dropped[i] +=
				mset_merge(x->out, lanes[k].outs[i], NULL, 0);
			mset_free(lanes[k].outs[i]);
		}
	}
	free(lanes[0].outs);
	free(lanes[1].outs);
	free(lanes[1].runs);
	free(lanes[1].dropped);
	lanes[0].outs = NULL;
}

/*
 * Run the cluster collectors of 'cluster' on 'pc' (and a second session
 * when 'two' allows and it is worth it), then the per-database ones in
 * 'dbs' ('perdb' seconds kept for them). Gives 'pc' back. Returns whether
 * the deadline cut something.
 */
bool lanes_run(struct ctx *x, struct pgconn *pc, const size_t *cluster,
	       size_t ncluster, char **dbs, size_t ndbs, double perdb, bool two)
{
	struct lane lanes[2];
	bool side = false, cut;

	lanes_init(x, lanes, pc, cluster, ncluster);
	/*
	 * With no per-database work, the cluster collectors are shared out
	 * over two sessions to the main database when that is worth it. Not
	 * beside per-database work: its sessions come and go, and collectors
	 * counting connections would count them in one and not the other.
	 */
	two = two && cstate_share_allowed(x->t->cs, clock_mono());
	if (pc && two && !dbs)
		side = share_out(x, cluster, ncluster, &lanes[0], &lanes[1]);
	/* the per-database work comes after the cluster's: keep its time */
	lanes[0].pending = lane_pending(&lanes[0]) + perdb;
	if (side) {
		for (int k = 0; k < 2; k++)
			lanes[k].outs =
				xcalloc(x->qs->n + 1, sizeof(*lanes[k].outs));
		lanes[1].pending = lane_pending(&lanes[1]);
		if (pthread_create(&lanes[1].thread, NULL, lane_main,
				   &lanes[1])) {
			/* no thread: the same work, one lane after the other */
			lane_main(&lanes[1]);
			side = false;
		}
	}
	run_list(&lanes[0]);
	if (side)
		pthread_join(lanes[1].thread, NULL);
	if (lanes[1].no_session) {
		/* what lane 1 could not run, lane 0 runs after its own */
		memcpy(lanes[0].list, lanes[1].list,
		       lanes[1].n * sizeof(*lanes[0].list));
		lanes[0].n = lanes[1].n;
		lanes[0].pending = lane_pending(&lanes[0]);
		run_list(&lanes[0]);
	}
	lanes_merge(x, lanes);
	if (lanes[0].pc)
		target_release(x->t, lanes[0].pc, false);
	if (dbs) {
		/* the databases after the cluster, the main session free */
		lanes[0].pc = NULL;
		lane_run_databases(&lanes[0], dbs, 1.0 / (double)ndbs);
	}
	cut = lanes[0].cut || lanes[1].cut;
	free(lanes[0].list);
	free(lanes[1].list);
	return cut;
}
