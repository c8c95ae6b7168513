/*
 * Singleflight for the collections of one target.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include "clock.h"
#include "flight.h"
#include "xalloc.h"

struct flight {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a collection finished */
	bool collecting;
	double col_budget;	  /* seconds the last one started had */
	double want;		  /* a waiter's deadline that needs a rerun */
	unsigned long generation; /* collections finished */
	unsigned long last_gen;	  /* the generation that set 'last' */
	struct collection *last;
};

struct flight *flight_new(void)
{
	struct flight *f = xcalloc(1, sizeof(*f));
	pthread_condattr_t ca;

	pthread_mutex_init(&f->lock, NULL);
	/* deadlines are monotonic: a wall-clock step must not move them */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cond, &ca);
	pthread_condattr_destroy(&ca);
	return f;
}

static void unref_locked(struct collection *c)
{
	if (c && --c->refs == 0) {
		mset_free(c->m);
		free(c);
	}
}

void flight_free(struct flight *f)
{
	if (!f)
		return;
	unref_locked(f->last);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* Wait (lock held) until signalled or 'deadline': ETIMEDOUT past it. */
static int wait_until(struct flight *f, double deadline)
{
	struct timespec ts;

	ts.tv_sec = (time_t)deadline;
	ts.tv_nsec = (long)((deadline - (double)ts.tv_sec) * 1e9);
	return pthread_cond_timedwait(&f->cond, &f->lock, &ts);
}

/*
 * Run a collection (f->collecting was set by the caller) and publish it:
 * waiters are woken, and it becomes the last unless it read nothing of
 * the server. Returns the caller's reference, or NULL for one that read
 * nothing.
 */
static struct collection *run_and_publish(struct flight *f, double deadline,
					  flight_run_fn run, void *arg)
{
	struct collection *c = run(arg, deadline), *old = NULL;

	pthread_mutex_lock(&f->lock);
	f->collecting = false;
	f->generation++;
	if (c->unread) {
		mset_free(c->m);
		free(c);
		c = NULL;
	} else {
		c->refs = 2; /* the flight's and the caller's */
		old = f->last;
		f->last = c;
		f->last_gen = f->generation;
	}
	unref_locked(old);
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	return c;
}

/* The fallback when the deadline came first (lock held). */
static struct collection *last_kept(struct flight *f, bool *cut)
{
	struct collection *c = f->last;

	if (c)
		c->refs++;
	*cut = true;
	return c;
}

/* Start one now (lock held)? Not if a longer waiter is about to. */
static bool may_start(struct flight *f, double deadline)
{
	if (f->collecting || (f->want > deadline && f->want > clock_mono()))
		return false;
	f->collecting = true;
	f->col_budget = deadline - clock_mono();
	if (f->want <= deadline)
		f->want = 0;
	return true;
}

/*
 * Wait (lock held) for the running collection; returns what to serve,
 * or NULL with '*again' set when this request should collect again.
 */
static struct collection *await(struct flight *f, double deadline, bool *cut,
				bool *again)
{
	unsigned long gen = f->generation;
	struct collection *c;
	/* more time left than the running collection had in all */
	bool longer = f->collecting && deadline - clock_mono() > f->col_budget;

	*again = false;
	if (longer && deadline > f->want)
		f->want = deadline;
	while (f->generation == gen)
		if (wait_until(f, deadline) == ETIMEDOUT)
			break;
	if (f->generation == gen || clock_mono() >= deadline)
		return NULL;
	c = f->last_gen == f->generation ? f->last : NULL;
	longer = deadline - clock_mono() > (c ? c->budget : f->col_budget);
	/*
	 * what finished is served, unless it was cut short by its deadline
	 * and this request still has more time than it had: then this
	 * request collects again (or joins a longer one)
	 */
	if (c && !(c->cut && longer)) {
		c->refs++;
		*cut = c->cut;
		if (f->want == deadline)
			f->want = 0;
		return c;
	}
	*again = longer;
	return NULL;
}

struct collection *flight_join(struct flight *f, double deadline, bool *cut,
			       flight_run_fn run, void *arg)
{
	struct collection *c;
	bool again = true;

	*cut = false;
	pthread_mutex_lock(&f->lock);
	while (again) {
		if (may_start(f, deadline)) {
			pthread_mutex_unlock(&f->lock);
			c = run_and_publish(f, deadline, run, arg);
			if (c) {
				*cut = c->cut;
				return c;
			}
			pthread_mutex_lock(&f->lock);
			c = last_kept(f, cut);
			pthread_mutex_unlock(&f->lock);
			return c;
		}
		c = await(f, deadline, cut, &again);
		if (c) {
			pthread_mutex_unlock(&f->lock);
			return c;
		}
	}
	if (f->want == deadline)
		f->want = 0;
	c = last_kept(f, cut);
	pthread_mutex_unlock(&f->lock);
	return c;
}

void flight_put(struct flight *f, struct collection *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&f->lock);
	unref_locked(c);
	pthread_mutex_unlock(&f->lock);
}

void flight_forget(struct flight *f)
{
	pthread_mutex_lock(&f->lock);
	unref_locked(f->last);
	f->last = NULL;
	pthread_mutex_unlock(&f->lock);
}
