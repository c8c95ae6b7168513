/*
 * The collection state of one target, under a lock of its own.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "cstate.h"
#include "samples.h"
#include "visits.h"
#include "xalloc.h"

#define KEY_SEP '\x1f'

struct cstate {
	struct flight *flight; /* locked apart */
	struct visits *visits; /* likewise */
	pthread_mutex_t lock;
	struct strmap cache;  /* "collector<SEP>db" -> struct cache_entry */
	struct strmap sticky; /* "collector<SEP>db" -> strmap of top keys */
	struct strmap logged; /* "kind<SEP>name<SEP>db" -> struct logentry */
	double share_after;   /* no second session tried before (monotonic) */
	unsigned char *priv;  /* per collector: enum privstate */
	size_t npriv;
	double *est; /* per collector, seconds it took in the last collection */
	size_t nest;
	unsigned long *dropped; /* per collector, series dropped so far */
	size_t ndropped;
};

/* One thing logged once: what it is about and the message. */
struct logentry {
	enum logkind kind;
	char *name, *db; /* NULL when not about one */
	char *msg;
};

struct cstate *cstate_new(void)
{
	struct cstate *cs = xcalloc(1, sizeof(*cs));

	pthread_mutex_init(&cs->lock, NULL);
	cs->flight = flight_new();
	cs->visits = visits_new();
	return cs;
}

struct flight *cstate_flight(struct cstate *cs)
{
	return cs->flight;
}

struct visits *cstate_visits(struct cstate *cs)
{
	return cs->visits;
}

static void cache_entry_free(void *p)
{
	struct cache_entry *ce = p;

	if (ce)
		mset_free(ce->m);
	free(ce);
}

static void sticky_free(void *p)
{
	struct strmap *m = p;

	if (m)
		strmap_release_with(m, free);
	free(m);
}

static void logentry_free(void *p)
{
	struct logentry *le = p;

	if (!le)
		return;
	free(le->name);
	free(le->db);
	free(le->msg);
	free(le);
}

void cstate_clear(struct cstate *cs)
{
	pthread_mutex_lock(&cs->lock);
	strmap_release_with(&cs->cache, cache_entry_free);
	strmap_release_with(&cs->logged, logentry_free);
	strmap_release_with(&cs->sticky, sticky_free);
	pthread_mutex_unlock(&cs->lock);
	visits_clear(cs->visits);
}

void cstate_free(struct cstate *cs)
{
	if (!cs)
		return;
	cstate_clear(cs);
	flight_free(cs->flight);
	visits_free(cs->visits);
	free(cs->priv);
	free(cs->est);
	free(cs->dropped);
	pthread_mutex_destroy(&cs->lock);
	free(cs);
}

static char *pair_key(const char *name, const char *db)
{
	return xasprintf("%s%c%s", name, KEY_SEP, db ? db : "");
}

struct cache_entry *cstate_cache_kept(struct cstate *cs, const char *name,
				      const char *db)
{
	char *key = pair_key(name, db);
	struct cache_entry *ce;

	pthread_mutex_lock(&cs->lock);
	ce = strmap_get(&cs->cache, key);
	pthread_mutex_unlock(&cs->lock);
	free(key);
	return ce;
}

struct cache_entry *cstate_cache_get(struct cstate *cs, const char *name,
				     const char *db, double now)
{
	struct cache_entry *ce = cstate_cache_kept(cs, name, db);

	return ce && ce->expires > now ? ce : NULL;
}

void cstate_cache_put(struct cstate *cs, const char *name, const char *db,
		      struct mset *m, double expires, double seconds,
		      size_t dropped)
{
	struct cache_entry *ce = xcalloc(1, sizeof(*ce));
	char *key = pair_key(name, db);

	ce->m = m;
	ce->expires = expires;
	ce->seconds = seconds;
	ce->dropped = dropped;
	pthread_mutex_lock(&cs->lock);
	cache_entry_free(strmap_set(&cs->cache, key, ce));
	pthread_mutex_unlock(&cs->lock);
	free(key);
}

void cstate_cache_drop(struct cstate *cs, const char *name, const char *db)
{
	char *key = pair_key(name, db);

	pthread_mutex_lock(&cs->lock);
	cache_entry_free(strmap_set(&cs->cache, key, NULL));
	pthread_mutex_unlock(&cs->lock);
	free(key);
}

size_t cstate_cache_count(struct cstate *cs)
{
	size_t n;

	pthread_mutex_lock(&cs->lock);
	n = cs->cache.n;
	pthread_mutex_unlock(&cs->lock);
	return n;
}

struct strmap *cstate_sticky(struct cstate *cs, const char *name,
			     const char *db)
{
	char *key = pair_key(name, db);
	struct strmap *m;

	/* the map of 'key' is one lane's; the map of maps is shared */
	pthread_mutex_lock(&cs->lock);
	m = strmap_get(&cs->sticky, key);
	if (!m) {
		m = xcalloc(1, sizeof(*m));
		strmap_put(&cs->sticky, key, m, NULL);
	}
	pthread_mutex_unlock(&cs->lock);
	free(key);
	return m;
}

bool cstate_report(struct cstate *cs, const struct logkey *k, const char *msg)
{
	char *key =
		xasprintf("%d%c%s%c%s", (int)k->kind, KEY_SEP,
			  k->name ? k->name : "", KEY_SEP, k->db ? k->db : "");
	struct logentry *old, *le;
	bool changed;

	pthread_mutex_lock(&cs->lock); /* two lanes may report at once */
	old = strmap_get(&cs->logged, key);
	if (!msg) {
		changed = old != NULL;
		if (changed)
			logentry_free(strmap_set(&cs->logged, key, NULL));
	} else {
		changed = !old || strcmp(old->msg, msg);
		if (changed) {
			le = xcalloc(1, sizeof(*le));
			le->kind = k->kind;
			le->name = k->name ? xstrdup(k->name) : NULL;
			le->db = k->db && *k->db ? xstrdup(k->db) : NULL;
			le->msg = xstrdup(msg);
			logentry_free(strmap_set(&cs->logged, key, le));
		}
	}
	pthread_mutex_unlock(&cs->lock);
	free(key);
	return changed;
}

struct stale {
	char **dbs;
	struct strmap listed; /* the names of 'dbs' */
	const struct queryset *qs;
	double now;
};

/*
 * A cached result worth keeping: unexpired, or a per-database collector's
 * in a database still there (served until the database's next visit).
 */
static bool cache_live(const char *key, void *value, void *arg)
{
	const struct stale *st = arg;
	const char *sep = strchr(key, KEY_SEP);
	const struct collector *c;
	char *name;

	if (!value) /* dropped */
		return false;
	if (((struct cache_entry *)value)->expires > st->now)
		return true;
	if (!sep || !sep[1] || !st->qs || !strmap_get(&st->listed, sep + 1))
		return false;
	name = xstrndup(key, (size_t)(sep - key));
	c = queryset_find(st->qs, name);
	free(name);
	return c && c->scope == SCOPE_DATABASE;
}

static bool sticky_map_live(const char *key, void *value, void *now)
{
	(void)key;
	samples_sticky_prune(value, *(double *)now);
	return ((struct strmap *)value)->n > 0;
}

static bool has_database(const struct stale *st, const char *db)
{
	return strmap_get(&st->listed, db) != NULL;
}

/* A log-once entry worth keeping: still failing, not of a gone database. */
static bool still_failing(const char *key, void *value, void *arg)
{
	const struct logentry *le = value;
	const struct stale *st = arg;
	const struct collector *c;
	bool perdb;

	(void)key;
	if (!le)
		return false;
	if (!le->db || !st->dbs)
		return true;
	c = le->name && st->qs ? queryset_find(st->qs, le->name) : NULL;
	perdb = le->kind == ONCE_DB || le->kind == ONCE_WARN ||
		(le->kind == ONCE_FAILED && c && c->scope == SCOPE_DATABASE);
	return !perdb || has_database(st, le->db);
}

void cstate_forget_stale(struct cstate *cs, double now, char **dbs,
			 const struct queryset *qs)
{
	struct stale st = {dbs, STRMAP_INIT, qs, now};

	for (char **db = dbs; db && *db; db++)
		strmap_put(&st.listed, *db, *db, NULL);
	pthread_mutex_lock(&cs->lock);
	strmap_filter(&cs->cache, cache_live, &st, cache_entry_free);
	strmap_filter(&cs->sticky, sticky_map_live, &now, sticky_free);
	strmap_filter(&cs->logged, still_failing, &st, logentry_free);
	pthread_mutex_unlock(&cs->lock);
	strmap_release(&st.listed);
}

void cstate_est_get(struct cstate *cs, size_t n, double *out)
{
	size_t i;

	pthread_mutex_lock(&cs->lock);
	for (i = 0; i < n; i++)
		out[i] = i < cs->nest ? cs->est[i] : 0;
	pthread_mutex_unlock(&cs->lock);
}

void cstate_est_set(struct cstate *cs, size_t n, const double *v,
		    const bool *set)
{
	size_t i, old;

	pthread_mutex_lock(&cs->lock);
	old = cs->nest;
	if (cs->nest < n) {
		cs->est = xrealloc(cs->est, n * sizeof(*cs->est));
		memset(cs->est + cs->nest, 0,
		       (n - cs->nest) * sizeof(*cs->est));
		cs->nest = n;
	}
	for (i = 0; i < n; i++)
		if (set[i] || i >= old)
			cs->est[i] = v[i];
	pthread_mutex_unlock(&cs->lock);
}

void cstate_dropped_add(struct cstate *cs, size_t n, const size_t *add,
			unsigned long *total)
{
	size_t i;

	pthread_mutex_lock(&cs->lock);
	if (cs->ndropped < n) {
		cs->dropped = xrealloc(cs->dropped, n * sizeof(*cs->dropped));
		memset(cs->dropped + cs->ndropped, 0,
		       (n - cs->ndropped) * sizeof(*cs->dropped));
		cs->ndropped = n;
	}
	for (i = 0; i < n; i++) {
		cs->dropped[i] += add[i];
		total[i] = cs->dropped[i];
	}
	pthread_mutex_unlock(&cs->lock);
}

static void priv_grow(struct cstate *cs, size_t n)
{
	if (cs->npriv >= n)
		return;
	cs->priv = xrealloc(cs->priv, n);
	memset(cs->priv + cs->npriv, 0, n - cs->npriv);
	cs->npriv = n;
}

enum privstate cstate_priv_get(struct cstate *cs, size_t i, size_t n)
{
	enum privstate s;

	pthread_mutex_lock(&cs->lock);
	priv_grow(cs, n);
	s = i < cs->npriv ? (enum privstate)cs->priv[i] : PRIV_UNCHECKED;
	pthread_mutex_unlock(&cs->lock);
	return s;
}

void cstate_priv_set(struct cstate *cs, size_t i, size_t n, enum privstate s)
{
	pthread_mutex_lock(&cs->lock);
	priv_grow(cs, n);
	if (i < cs->npriv)
		cs->priv[i] = (unsigned char)s;
	pthread_mutex_unlock(&cs->lock);
}

bool cstate_share_allowed(struct cstate *cs, double now)
{
	bool ok;

	pthread_mutex_lock(&cs->lock);
	ok = now >= cs->share_after;
	pthread_mutex_unlock(&cs->lock);
	return ok;
}

void cstate_share_defer(struct cstate *cs, double until)
{
	pthread_mutex_lock(&cs->lock);
	cs->share_after = until;
	pthread_mutex_unlock(&cs->lock);
}
