/*
 * The process clock, settable by tests.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <time.h>
#include "clock.h"

static atomic_bool frozen;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static double frozen_mono, frozen_real; /* under 'lock' */

static double now(clockid_t id, const double *fixed)
{
	struct timespec ts;
	double v;

	if (atomic_load(&frozen)) {
		pthread_mutex_lock(&lock);
		v = *fixed;
		pthread_mutex_unlock(&lock);
		return v;
	}
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double clock_mono(void)
{
	return now(CLOCK_MONOTONIC, &frozen_mono);
}

double clock_real(void)
{
	return now(CLOCK_REALTIME, &frozen_real);
}

void clock_freeze(double mono, double real)
{
	pthread_mutex_lock(&lock);
	frozen_mono = mono;
	frozen_real = real;
	pthread_mutex_unlock(&lock);
	atomic_store(&frozen, true);
}

void clock_advance(double seconds)
{
	pthread_mutex_lock(&lock);
	frozen_mono += seconds;
	frozen_real += seconds;
	pthread_mutex_unlock(&lock);
}

void clock_thaw(void)
{
	atomic_store(&frozen, false);
}
