/*
 * Reconnect backoff of a target: after each failed connect the next one
 * waits twice as long (1 s, 2 s, 4 s, ... at most BACKOFF_MAX), and a
 * connect that succeeds ends it. Pure arithmetic on times the caller
 * gives, so it is tested without a server or a clock.
 */
#ifndef BACKOFF_H
#define BACKOFF_H

/* the longest wait between two connects, seconds */
#define BACKOFF_MAX 10.0

/*
 * The state, embedded in its owner (struct target, under its lock).
 * Zeroed: no backoff.
 */
struct backoff {
	double delay; /* the last wait armed; 0 while none */
	double next;  /* no attempt before this (monotonic seconds) */
};

/* A connect failed at 'now': arm the next, longer wait. */
void backoff_fail(struct backoff *b, double now);
/* A connect succeeded: attempts are free again. */
void backoff_reset(struct backoff *b);
/* Seconds an attempt at 'now' must still wait; 0 when it may go. */
double backoff_left(const struct backoff *b, double now);

#endif
