/*
 * The process clock: monotonic and wall-clock seconds, which tests can
 * freeze and move forward so that time-driven logic (backoff, idle
 * timeouts, ttl) is checked without sleeping. A leaf: includes nothing of
 * the application.
 */
#ifndef CLOCK_H
#define CLOCK_H

/* Monotonic seconds (CLOCK_MONOTONIC), or the frozen value. */
double clock_mono(void);
/* Wall-clock seconds since the epoch, or the frozen value. */
double clock_real(void);

/*
 * For tests: from now on both clocks return these values until
 * clock_advance moves them or clock_thaw gives the system's back. Every
 * function here is thread-safe. Waits on a condition variable or poll()
 * still take real time: a frozen clock only changes what "now" is.
 */
void clock_freeze(double mono, double real);
/* Move both frozen clocks forward by 'seconds' (no effect when thawed). */
void clock_advance(double seconds);
void clock_thaw(void);

#endif
