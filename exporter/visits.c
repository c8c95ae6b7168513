/*
 * The database visit scheduler: a login budget, the databases that
 * matter first, the others in turn (see visits.h for the rule).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "visits.h"
#include "strmap.h"
#include "xalloc.h"
#include "compat.h"

/* What is known of one database. Owned by struct visits. */
struct vdb {
	char *name;
	double tried;	    /* monotonic time of the last visit; 0: never */
	double ok_real;	    /* wall-clock time of the last good one; 0 */
	double selected_at; /* monotonic: its rows made a top N across */
	double count;	    /* pg_stat_database activity, last read */
	double mean;	    /* mean change per collection */
	unsigned own;	    /* our logins since the last read */
	unsigned cuts;	    /* visits the deadline cut */
	bool settled;	    /* a visit was done or failed: no longer new */
	bool have_count;
	bool jumped; /* its activity jumped since its last visit */
	bool active; /* among the VISITS_ACTIVE most active */
	bool seen;   /* in this collection's list */
};

struct visits {
	pthread_mutex_t lock;
	struct strmap byname; /* name -> struct vdb */
	struct vdb **v;	      /* in the order they were first seen */
	size_t n, alloc;
	double tokens;
	double last_plan; /* monotonic time of the last visits_plan; 0 */
	double interval;  /* mean time between collections; 0: unknown */
	double cost;	  /* mean seconds a visit takes; 0: unknown */
	double bound;	  /* see visits_bound */
};

struct visits *visits_new(void)
{
	struct visits *v = xcalloc(1, sizeof(*v));

	pthread_mutex_init(&v->lock, NULL);
	return v;
}

static void vdb_free(struct vdb *d)
{
	if (d)
		free(d->name);
	free(d);
}

static void clear_locked(struct visits *v)
{
	for (size_t i = 0; i < v->n; i++)
		vdb_free(v->v[i]);
	free(v->v);
	strmap_release(&v->byname);
	v->v = NULL;
	v->n = v->alloc = 0;
	v->tokens = v->last_plan = v->interval = v->cost = v->bound = 0;
}

void visits_clear(struct visits *v)
{
	pthread_mutex_lock(&v->lock);
	clear_locked(v);
	pthread_mutex_unlock(&v->lock);
}

void visits_free(struct visits *v)
{
	if (!v)
		return;
	clear_locked(v);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

bool visits_budgeted(const struct visit_rules *r, size_t ndbs)
{
	return r->logins_per_scrape > 0 && ndbs > VISITS_ALL_UP_TO;
}

static struct vdb *find(struct visits *v, const char *name)
{
	return strmap_get(&v->byname, name);
}

/* 'name', known from now on. */
static struct vdb *find_or_add(struct visits *v, const char *name)
{
	struct vdb *d = find(v, name);

	if (d)
		return d;
	d = xcalloc(1, sizeof(*d));
	d->name = xstrdup(name);
	strmap_put(&v->byname, d->name, d, NULL);
	ALLOC_GROW(v->v, v->n + 1, v->alloc);
	v->v[v->n++] = d;
	return d;
}

/* A database whose visits are free: the first pass, a new one. */
static bool is_new(const struct vdb *d)
{
	return !d->settled && d->cuts < VISITS_FREE_CUTS;
}

/* A new reading of database 'd''s activity counter. */
static void note_count(struct vdb *d, double count)
{
	double delta;

	if (d->have_count) {
		/*
		 * each login of ours counts one commit, not the tenant's
		 * doing; it shows when the session ends, maybe a read later
		 */
		delta = count - d->count;
		if (delta < 0) /* the statistics were reset */
			delta = 0;
		if (delta >= d->own) {
			delta -= d->own;
			d->own = 0;
		} else {
			d->own -= (unsigned)delta;
			delta = 0;
		}
		if (delta >= VISITS_JUMP_FLOOR &&
		    delta > VISITS_JUMP_FACTOR * d->mean)
			d->jumped = true;
		d->mean = d->mean * 0.8 + delta * 0.2;
	}
	d->count = count;
	d->have_count = true;
}

static const char activity_sql[] =
	"SELECT datname::text, xact_commit + tup_inserted + tup_updated + "
	"tup_deleted FROM pg_stat_database WHERE datname IS NOT NULL";

int visits_read_activity(struct visits *v, struct target *t, struct pgconn *pc,
			 int timeout_ms, double deadline, struct err *e)
{
	bool broken = false;
	PGresult *r = target_query(t, pc, activity_sql, timeout_ms, deadline,
				   &broken, e);
	int rows;

	if (!r)
		return err_wrap(e, "reading pg_stat_database");
	rows = pgsession_result_nrows(r);
	for (int i = 0; i < rows; i++) {
		const char *db = pgsession_result_value(r, i, 0);
		const char *val = pgsession_result_value(r, i, 1);

		if (db && val)
			visits_note_activity(v, db, strtod(val, NULL));
	}
	PQclear(r);
	return 0;
}

void visits_note_activity(struct visits *v, const char *db, double count)
{
	struct vdb *d;

	pthread_mutex_lock(&v->lock);
	d = find(v, db);
	if (d)
		note_count(d, count);
	pthread_mutex_unlock(&v->lock);
}

static bool is_seen(const char *key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	return ((struct vdb *)value)->seen;
}

/* Forget the databases not in this collection's list. */
static void forget_unseen(struct visits *v)
{
	size_t k = 0;

	strmap_filter(&v->byname, is_seen, NULL, NULL);
	for (size_t i = 0; i < v->n; i++) {
		struct vdb *d = v->v[i];

		if (d->seen) {
			d->seen = false;
			v->v[k++] = d;
		} else {
			vdb_free(d);
		}
	}
	v->n = k;
}

static int by_mean(const void *a, const void *b)
{
	const struct vdb *x = *(struct vdb *const *)a;
	const struct vdb *y = *(struct vdb *const *)b;

	return (x->mean < y->mean) - (x->mean > y->mean);
}

/* Mark the VISITS_ACTIVE databases with the most activity. */
static void mark_active(struct visits *v)
{
	struct vdb **by = xcalloc(v->n + 1, sizeof(*by));

	memcpy(by, v->v, v->n * sizeof(*by));
	if (v->n)
		qsort(by, v->n, sizeof(*by), by_mean);
	for (size_t i = 0; i < v->n; i++)
		by[i]->active = i < VISITS_ACTIVE && by[i]->mean >= 1;
	free(by);
}

/* A due database and its rank. */
struct cand {
	struct vdb *d;
	double score;
};

static int by_score(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->score != y->score)
		return (x->score < y->score) - (x->score > y->score);
	return strcmp(x->d->name, y->d->name);
}

/*
 * The rank of 'd' at 'now': the age of its last visit over its period,
 * one period more when its activity jumped.
 */
static double score(const struct visits *v, const struct vdb *d,
		    const struct visit_rules *r, double now, size_t ndbs)
{
	double rotation =
		v->interval > 0
			? (double)ndbs / r->logins_per_scrape * v->interval
			: r->max_staleness;
	bool matters = d->active || (d->selected_at > 0 &&
				     now - d->selected_at < r->max_staleness);
	double period = matters ? r->max_staleness / 2
				: fmax(rotation, r->max_staleness);

	return (now - d->tried) / fmax(period, 1) + (d->jumped ? 1 : 0);
}

/* Add this collection's tokens. */
static void add_tokens(struct visits *v, const struct visit_rules *r,
		       double now)
{
	double burst = fmax(r->logins_per_scrape, 1) * VISITS_BURST;

	(void)now;
	v->tokens = fmin(v->tokens + r->logins_per_scrape, burst);
}

static void push(char ***list, size_t *n, const char *name)
{
	(*list)[(*n)++] = xstrdup(name);
}

/*
 * With the budget: the new ones, then the due ones by rank as far as the
 * tokens go; the rest kept.
 */
static void choose(struct visits *v, const struct visit_rules *r, double now,
		   struct visit_plan *p)
{
	struct cand *c = xcalloc(v->n + 1, sizeof(*c));
	size_t nc = 0, take = (size_t)floor(fmax(v->tokens, 0));

	for (size_t i = 0; i < v->n; i++) {
		struct vdb *d = v->v[i];

		if (is_new(d))
			push(&p->visit, &p->nvisit, d->name);
		else if (now - d->tried >= r->min_ttl)
			c[nc++] = (struct cand){d, score(v, d, r, now, v->n)};
		else
			push(&p->keep, &p->nkeep, d->name);
	}
	if (nc)
		qsort(c, nc, sizeof(*c), by_score);
	for (size_t i = 0; i < nc; i++)
		if (i < take)
			push(&p->visit, &p->nvisit, c[i].d->name);
		else
			push(&p->keep, &p->nkeep, c[i].d->name);
	free(c);
}

static int by_tried(const void *a, const void *b)
{
	const struct vdb *x = *(struct vdb *const *)a;
	const struct vdb *y = *(struct vdb *const *)b;

	return (x->tried > y->tried) - (x->tried < y->tried);
}

/* Without the budget: every one, the least recently visited first. */
static void all_of_them(struct visits *v, struct visit_plan *p)
{
	struct vdb **by = xcalloc(v->n + 1, sizeof(*by));

	memcpy(by, v->v, v->n * sizeof(*by));
	/* stable for equal times: list order, as the first pass goes */
	for (size_t i = 1; i < v->n; i++) {
		struct vdb *d = by[i];
		size_t j = i;

		for (; j > 0 && by_tried(&by[j - 1], &d) > 0; j--)
			by[j] = by[j - 1];
		by[j] = d;
	}
	for (size_t i = 0; i < v->n; i++)
		push(&p->visit, &p->nvisit, by[i]->name);
	free(by);
}

/* The mean time between collections, learnt from this one at 'now'. */
static void learn_interval(struct visits *v, double now)
{
	if (v->last_plan > 0 && now > v->last_plan) {
		double gap = now - v->last_plan;

		v->interval =
			v->interval > 0 ? v->interval * 0.8 + gap * 0.2 : gap;
	}
	v->last_plan = now;
}

double visits_bound(struct visits *v)
{
	double b;

	pthread_mutex_lock(&v->lock);
	b = v->bound;
	pthread_mutex_unlock(&v->lock);
	return b;
}

void visits_plan(struct visits *v, char **dbs, const struct visit_rules *r,
		 double now, struct visit_plan *p)
{
	size_t ndbs = 0;

	memset(p, 0, sizeof(*p));
	for (; dbs && dbs[ndbs]; ndbs++)
		;
	p->visit = xcalloc(ndbs + 1, sizeof(*p->visit));
	p->keep = xcalloc(ndbs + 1, sizeof(*p->keep));
	p->budget = visits_budgeted(r, ndbs);
	pthread_mutex_lock(&v->lock);
	learn_interval(v, now);
	for (size_t i = 0; i < ndbs; i++)
		find_or_add(v, dbs[i])->seen = true;
	forget_unseen(v);
	v->bound = v->interval <= 0 ? 0
		   : p->budget	    ? fmax(r->max_staleness,
					   (double)ndbs / r->logins_per_scrape *
						   v->interval)
				    : r->min_ttl + v->interval;
	if (p->budget) {
		add_tokens(v, r, now);
		mark_active(v);
		choose(v, r, now, p);
	} else {
		v->tokens = 0;
		all_of_them(v, p);
	}
	pthread_mutex_unlock(&v->lock);
}

void visits_plan_release(struct visit_plan *p)
{
	xfree_strv(p->visit);
	xfree_strv(p->keep);
	memset(p, 0, sizeof(*p));
}

void visits_done(struct visits *v, const char *db, enum visit_outcome how,
		 double now, double seconds, double real)
{
	struct vdb *d;

	pthread_mutex_lock(&v->lock);
	v->cost = v->cost > 0 ? v->cost * 0.8 + seconds * 0.2 : seconds;
	d = find(v, db);
	if (d) {
		if (!is_new(d))
			v->tokens -= 1;
		d->tried = now;
		d->own++;
		d->jumped = false;
		if (how == VISIT_DONE)
			d->ok_real = real;
		if (how == VISIT_CUT)
			d->cuts++;
		else
			d->settled = true;
	}
	pthread_mutex_unlock(&v->lock);
}

double visits_cost(struct visits *v)
{
	double c;

	pthread_mutex_lock(&v->lock);
	c = v->cost;
	pthread_mutex_unlock(&v->lock);
	return c;
}

struct selected {
	struct visits *v;
	double now;
};

static void note_one(const char *db, void *value, void *arg)
{
	struct selected *sel = arg;
	struct vdb *d = find(sel->v, db);

	(void)value;
	if (d)
		d->selected_at = sel->now;
}

void visits_note_selected(struct visits *v, const struct strmap *dbs,
			  double now)
{
	struct selected sel = {v, now};

	pthread_mutex_lock(&v->lock);
	strmap_each(dbs, note_one, &sel);
	pthread_mutex_unlock(&v->lock);
}

void visits_collected(struct visits *v, const char ***names, double **times,
		      size_t *n)
{
	pthread_mutex_lock(&v->lock);
	*names = xcalloc(v->n + 1, sizeof(**names));
	*times = xcalloc(v->n + 1, sizeof(**times));
	*n = 0;
	for (size_t i = 0; i < v->n; i++) {
		if (!v->v[i]->ok_real)
			continue;
		(*names)[*n] = v->v[i]->name;
		(*times)[(*n)++] = v->v[i]->ok_real;
	}
	pthread_mutex_unlock(&v->lock);
}
