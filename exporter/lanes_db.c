/*
 * The per-database pass of a collection (see lanes_int.h): each database
 * of the visit plan visited on a session of its own, the others served
 * what their last visit left, and the collectors with a top across
 * databases ranked once every database is in.
 */
#include <stdlib.h>
#include <string.h>
#include "clock.h"
#include "cstate.h"
#include "lanes.h"
#include "lanes_int.h"
#include "log.h"
#include "topsel.h"
#include "visits.h"
#include "xalloc.h"
#include "compat.h"

/*
 * The results of each per-database collector with a top across databases
 * are kept apart: its rows compete once every database was run or served.
 */
static void across_begin(struct lane *ln)
{
	struct ctx *x = ln->x;

	for (size_t i = 0; i < x->qs->n; i++) {
		if (!x->qs->v[i].top.across || !lanes_per_database(x, i))
			continue;
		if (!ln->across)
			ln->across = xcalloc(x->qs->n + 1, sizeof(*ln->across));
		ln->across[i].on = true;
	}
}

/*
 * Keep the top rows of each collector's results across databases in the
 * lane's output (what is left out counts as dropped), and let go of them.
 */
static void across_end(struct lane *ln)
{
	struct ctx *x = ln->x;
	struct target *t = x->t;

	for (size_t i = 0; ln->across && i < x->qs->n; i++) {
		const struct collector *c = &x->qs->v[i];
		struct across a = ln->across[i];
		struct strmap dbs = STRMAP_INIT;

		if (!a.on)
			continue;
		ln->across[i].on = false;
		ln->dropped[i] +=
			topsel_across(c, a.v, a.n, topsel_n(c, t->gcfg),
				      cstate_sticky(t->cs, c->name, NULL),
				      clock_mono(), lane_out(ln, i), &dbs);
		/* the databases of the rows chosen are visited more often */
		visits_note_selected(cstate_visits(t->cs), &dbs, clock_mono());
		strmap_release(&dbs);
		for (size_t k = 0; k < a.n; k++)
			mset_free(a.v[k]);
		free(a.v);
	}
	free(ln->across);
	ln->across = NULL;
}

/*
 * Serve what the last visit of 'db' left for the per-database collectors
 * not 'served' yet (NULL: none was), expired or not: a database's results
 * stay until its next visit replaces them (visits.h).
 */
static void serve_kept(struct lane *ln, const char *db, const bool *served)
{
	struct ctx *x = ln->x;

	for (size_t i = 0; i < x->qs->n; i++) {
		const struct collector *c = &x->qs->v[i];
		struct cache_entry *ce;

		if (!lanes_per_database(x, i) || (served && served[i]))
			continue;
		ce = cstate_cache_kept(x->t->cs, c->name, db);
		if (!ce)
			continue;
		ln->runs[i].attempted = true;
		ln->dropped[i] += lane_put(ln, i, ce->m);
		ln->runs[i].seconds += ce->seconds;
	}
}

/*
 * A session to 'db' for its visit, or NULL: logged once when the
 * database refuses it, not when the deadline came first (that is no news
 * of the database, and the next scrapes go on where this one stopped).
 */
static struct pgconn *visit_session(struct lane *ln, const char *db)
{
	struct ctx *x = ln->x;
	struct target *t = x->t;
	struct err e = ERR_INIT;
	struct logkey key = {ONCE_DB, NULL, db};
	struct pgconn *pc = target_acquire(t, db, x->deadline, &e);

	if (!pc && clock_mono() >= x->deadline) {
		ln->cut = true;
		return NULL;
	}
	if (cstate_report(t->cs, &key, pc ? NULL : e.msg) && !pc)
		log_warn("cannot collect database", "target", t->name,
			 "datname", db, "err", e.msg, NULL);
	return pc;
}

/*
 * How the visit of 'db' went, its collectors run from 'since' ('cut': the
 * deadline stopped one, or the session was lost): done when each has a
 * result put since. A collector that failed otherwise has no result to
 * serve until the next visit, not the one from before the failure.
 */
static enum visit_outcome visit_end(struct lane *ln, const char *db,
				    const bool *served, double since, bool cut)
{
	struct ctx *x = ln->x;
	bool all = true;

	for (size_t i = 0; i < x->qs->n; i++) {
		const struct collector *c = &x->qs->v[i];
		struct cache_entry *ce;

		if (!lanes_per_database(x, i) || served[i])
			continue;
		ce = cstate_cache_kept(x->t->cs, c->name, db);
		/* a result put by this visit expires after since + ttl */
		if (ce && ce->expires >= since + c->ttl)
			continue;
		all = false;
		if (ce && !cut)
			cstate_cache_drop(x->t->cs, c->name, db);
	}
	return all ? VISIT_DONE : cut ? VISIT_CUT : VISIT_FAILED;
}

/*
 * Past the deadline, or too close to it for a visit of the usual length:
 * 'db' is served what its last visit left, and the collectors not served
 * count as cut.
 */
static void visit_skip(struct lane *ln, const char *db, const bool *served)
{
	struct ctx *x = ln->x;

	ln->cut = true;
	serve_kept(ln, db, served);
	for (size_t i = 0; i < x->qs->n; i++)
		if (lanes_per_database(x, i) && !served[i])
			ln->runs[i].failed = ln->runs[i].attempted = true;
}

/*
 * Run the collectors of 'db' not 'served' on 'pc' (NULL: the database
 * refused a session, they failed), in one batch. Returns whether the
 * session broke (the collectors after the one it broke on wait for the
 * next visit).
 */
static bool visit_run(struct lane *ln, struct pgconn *pc, const char *db,
		      const bool *served, double share, double connecting)
{
	struct ctx *x = ln->x;
	size_t *list = xcalloc(x->qs->n + 1, sizeof(*list));
	size_t n = 0;
	bool broken = false;

	for (size_t i = 0; i < x->qs->n; i++) {
		if (!lanes_per_database(x, i) || served[i])
			continue;
		if (pc) {
			list[n++] = i;
			continue;
		}
		ln->runs[i].attempted = true;
		ln->runs[i].failed = true;
	}
	/*
	 * the session is the database's cost too: counted in the first
	 * collector's time, so the next collection keeps it back along with
	 * the queries
	 */
	if (n)
		lane_run_batch(ln, list, n, pc, db, share, connecting, &broken);
	free(list);
	return broken;
}

/*
 * Visit 'db': the collectors whose result is fresh are served from the
 * cache ('served', per collector, is filled), the others run on a session
 * to it. Past the deadline, what the last visit left is served instead.
 * 'began' says whether the collection began a visit already (set here).
 */
static void visit_database(struct lane *ln, const char *db, bool *served,
			   double share, bool *began)
{
	struct ctx *x = ln->x;
	struct target *t = x->t;
	struct visits *v = cstate_visits(t->cs);
	struct pgconn *pc = NULL;
	bool broken, need = false, was_cut = ln->cut;
	double start = clock_mono(), since, cost;
	enum visit_outcome how;

	/* a database whose results are all cached costs no session */
	for (size_t i = 0; i < x->qs->n; i++) {
		served[i] = lanes_per_database(x, i) &&
			    lane_from_cache(ln, i, db, share);
		need |= lanes_per_database(x, i) && !served[i];
	}
	if (!need)
		return;
	/*
	 * a login that cannot finish its visit in time is wasted; but one
	 * visit a collection is begun, or a database whose visits take
	 * longer than the scrapes allow would never be visited again
	 */
	cost = *began ? visits_cost(v) : 0;
	if (x->deadline - start > cost)
		pc = visit_session(ln, db);
	*began |= pc != NULL;
	if (!pc && clock_mono() >= x->deadline - cost) {
		visit_skip(ln, db, served);
		return;
	}
	since = clock_mono();
	ln->cut = false;
	broken = visit_run(ln, pc, db, served, share, since - start);
	if (pc)
		target_release(t, pc, broken);
	/* a session lost midway says nothing of the collectors not run */
	how = visit_end(ln, db, served, since,
			ln->cut || broken || clock_mono() >= x->deadline);
	if (!pc || broken)
		how = VISIT_FAILED;
	ln->cut |= was_cut;
	visits_done(v, db, how, since, clock_mono() - start, clock_real());
}

/*
 * Visit the databases of 'dbs' in order, a session at a time, and serve
 * the others of the plan (x->plan->keep) from what their last visit left.
 * 'share' is the part of a collector's time one database is reserved
 * (1 / the databases visited).
 */
void lane_run_databases(struct lane *ln, char **dbs, double share)
{
	struct ctx *x = ln->x;
	bool *served = xcalloc(x->qs->n + 1, sizeof(*served)), began = false;

	across_begin(ln);
	for (char **db = dbs; *db; db++)
		visit_database(ln, *db, served, share, &began);
	for (char **db = x->plan ? x->plan->keep : NULL; db && *db; db++)
		serve_kept(ln, *db, NULL);
	across_end(ln);
	free(served);
}
