/*
 * The collection state of one target: what one collection leaves for the
 * next (ttl cache, sticky top keys, things logged once, the time each
 * collector took, series dropped so far, privilege verdicts, when to try
 * a second session again). It lives as long as its target, which holds it
 * as one pointer; it has its own lock, taken only inside these functions,
 * so the two lanes of a collection may call them at once.
 */
#ifndef CSTATE_H
#define CSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include "flight.h"
#include "metrics.h"
#include "querydef.h"
#include "strmap.h"

struct cstate;

struct cstate *cstate_new(void);
/* Free 'cs' and all it holds; NULL is fine. */
void cstate_free(struct cstate *cs);
/* The singleflight of the target's collections (see flight.h). */
struct flight *cstate_flight(struct cstate *cs);
/* The visits of the target's databases (see visits.h). */
struct visits *cstate_visits(struct cstate *cs);
/* Drop the cache, sticky keys, log-once entries and visits (collect_forget). */
void cstate_clear(struct cstate *cs);

/* A result kept for a collector with a ttl. Owned by the cache. */
struct cache_entry {
	struct mset *m;
	double expires; /* monotonic */
	double seconds; /* how long the query took */
	size_t dropped;
};

/*
 * The result of collector 'name' in database 'db' ("" or NULL: the main
 * one) when it expires after 'now', else NULL. The entry stays valid
 * until the same key is put again or it is forgotten (by the collection
 * that owns the key: one lane runs a collector).
 */
struct cache_entry *cstate_cache_get(struct cstate *cs, const char *name,
				     const char *db, double now);
/*
 * The result of collector 'name' in database 'db' whether expired or not:
 * what the last visit of a database left is served until the next one.
 * NULL when there is none. Valid as cstate_cache_get's.
 */
struct cache_entry *cstate_cache_kept(struct cstate *cs, const char *name,
				      const char *db);
/* Keep 'm' (taken) for 'name' in 'db' until 'expires'. */
void cstate_cache_put(struct cstate *cs, const char *name, const char *db,
		      struct mset *m, double expires, double seconds,
		      size_t dropped);
/* Forget the result of 'name' in 'db', if any. */
void cstate_cache_drop(struct cstate *cs, const char *name, const char *db);
size_t cstate_cache_count(struct cstate *cs);

/*
 * The sticky top keys (key -> malloc'ed expiry) of collector 'name' in
 * database 'db', created empty when new. The map is the caller's lane's
 * until the next cstate_forget_stale.
 */
struct strmap *cstate_sticky(struct cstate *cs, const char *name,
			     const char *db);

/* What a log-once entry is about. */
enum logkind {
	ONCE_FAILED,	 /* collector 'name' failed in 'db' */
	ONCE_WARN,	 /* collector 'name' could not make a value in 'db' */
	ONCE_SKIP,	 /* collector 'name' is skipped */
	ONCE_UNDECLARED, /* collector 'name' returns columns it does not list */
	ONCE_DB,	 /* database 'db' cannot be collected */
	ONCE_SHARE,	 /* no second session */
	ONCE_BUDGET,	 /* the series budget cuts the page */
};

struct logkey {
	enum logkind kind;
	const char *name; /* the collector, or NULL */
	const char *db;	  /* the database, or NULL: the main one */
};

/*
 * True the first time 'msg' is reported under 'k' or when it changed
 * since, so a failing collector is logged when it starts failing, not on
 * every scrape. A NULL 'msg' clears the entry and is true if it was set
 * (recovered).
 */
bool cstate_report(struct cstate *cs, const struct logkey *k, const char *msg);

/*
 * Forget what can no longer be used: cached results expired by 'now' (but
 * those of a collector of 'qs' that runs per database, in a database of
 * 'dbs': they are served until that database's next visit), sticky keys past
 * their time, and log-once entries about a database not in 'dbs' (NULL-ended;
 * NULL: keep them all), for a collector of 'qs' that runs per database or a
 * database itself. Without this a long-running daemon watching databases come
 * and go would keep every one it saw.
 */
void cstate_forget_stale(struct cstate *cs, double now, char **dbs,
			 const struct queryset *qs);

/*
 * Seconds each of the 'n' collectors took in the last collection into
 * 'out' (0 for those never run); cstate_est_set keeps v[i] where 'set[i]'
 * and for each collector it had no time for yet.
 */
void cstate_est_get(struct cstate *cs, size_t n, double *out);
void cstate_est_set(struct cstate *cs, size_t n, const double *v,
		    const bool *set);

/*
 * Add 'add' (n counts) to the series each collector dropped so far, and
 * copy the totals into 'total'.
 */
void cstate_dropped_add(struct cstate *cs, size_t n, const size_t *add,
			unsigned long *total);

/* What privileges said of a collector, checked once per target. */
enum privstate {
	PRIV_UNCHECKED = 0, /* or the check could not run: ask again */
	PRIV_OK,
	PRIV_LACKING, /* the role lacks a privilege the query needs */
	PRIV_UNSAFE,  /* the query calls what a read-only session can't */
};

/* The verdict on collector 'i' of 'n'. */
enum privstate cstate_priv_get(struct cstate *cs, size_t i, size_t n);
void cstate_priv_set(struct cstate *cs, size_t i, size_t n, enum privstate s);

/* Whether a second session may be tried at 'now'. */
bool cstate_share_allowed(struct cstate *cs, double now);
/* Try no second session before 'until'. */
void cstate_share_defer(struct cstate *cs, double until);

#endif
