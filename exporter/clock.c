/* The process clock, settable by tests (see clock.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include "clock.h"

/* the values are guarded by 'lock'; 'frozen' is read without it first, so
 * that a running clock costs no lock */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool frozen;
static double frozen_mono, frozen_real;

static double system_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The frozen value of '*v', or system clock 'id' when the clock runs. */
static double read_clock(const double *v, clockid_t id)
{
	double now = 0;
	bool f;

	if (!atomic_load(&frozen))
		return system_clock(id);
	pthread_mutex_lock(&lock);
	f = atomic_load(&frozen);
	if (f)
		now = *v;
	pthread_mutex_unlock(&lock);
	return f ? now : system_clock(id);
}

double clock_mono(void)
{
	return read_clock(&frozen_mono, CLOCK_MONOTONIC);
}

double clock_real(void)
{
	return read_clock(&frozen_real, CLOCK_REALTIME);
}

void clock_freeze(double mono, double real)
{
	pthread_mutex_lock(&lock);
	atomic_store(&frozen, true);
	frozen_mono = mono;
	frozen_real = real;
	pthread_mutex_unlock(&lock);
}

void clock_advance(double seconds)
{
	pthread_mutex_lock(&lock);
	if (atomic_load(&frozen)) {
		frozen_mono += seconds;
		frozen_real += seconds;
	}
	pthread_mutex_unlock(&lock);
}

void clock_thaw(void)
{
	pthread_mutex_lock(&lock);
	atomic_store(&frozen, false);
	pthread_mutex_unlock(&lock);
}
