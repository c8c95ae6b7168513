/*
 * The process clock, in seconds as doubles: monotonic for deadlines,
 * ttl and backoff; real (since the epoch) for what is shown. Tests freeze
 * it and move it by hand instead of sleeping. A leaf; thread-safe.
 */
#ifndef CLOCK_H
#define CLOCK_H

/* Monotonic seconds (CLOCK_MONOTONIC), or the frozen value. */
double clock_mono(void);
/* Seconds since the epoch (CLOCK_REALTIME), or the frozen value. */
double clock_real(void);

/* For tests: both clocks read 'mono' and 'real' until clock_thaw. */
void clock_freeze(double mono, double real);
/* For tests: move both frozen clocks forward by 'seconds'. */
void clock_advance(double seconds);
/* Back to the system clocks. */
void clock_thaw(void);

#endif
