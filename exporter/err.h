/*
 * One error type that records the first cause and where it was set; callers
 * add context in front, never overwrite the cause (after curl's failf and
 * git's error()).
 */
#ifndef ERR_H
#define ERR_H

#include <stdbool.h>
#include "compat.h"

/*
 * Usually a local of the caller that reports the failure (ERR_INIT), filled
 * by the functions it calls; holds no pointers to free.
 */
struct err {
	char msg[512];	  /* "" while no error is set */
	const char *file; /* __FILE__ where the error was first set */
	int line;	  /* __LINE__ where the error was first set */
};

#define ERR_INIT                                                               \
	{                                                                      \
		.msg = "", .file = NULL, .line = 0                             \
	}

/*
 * Record an error and return -1, so callers write: return err_set(e, ...).
 * When 'e' already holds an error it is kept (the first cause wins).
 * 'e' may be NULL (the error is dropped).
 */
#define err_set(e, ...) err_set_at((e), __FILE__, __LINE__, __VA_ARGS__)
int err_set_at(struct err *e, const char *file, int line, const char *fmt, ...)
	PRINTF(4, 5);
/*
 * Put context in front of the message: "target 'a': <msg>" (truncated to
 * fit). With no error set, the context becomes the message and the origin
 * stays unknown. Returns -1.
 */
int err_wrap(struct err *e, const char *fmt, ...) PRINTF(2, 3);
bool err_isset(const struct err *e);
void err_clear(struct err *e);

#endif
