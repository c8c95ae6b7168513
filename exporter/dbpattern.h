/*
 * dbpattern: a list of POSIX extended regular expressions that names are
 * matched against, compiled once (a target's 'databases: {include,
 * exclude}'; probe.allow's host:port patterns, which match whole strings).
 */
#ifndef DBPATTERN_H
#define DBPATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include "err.h"

/*
 * Compile the 'n' patterns 'pats' into '*out' (NULL when 'n' is 0), to be
 * freed with dbpattern_free; with 'whole', each must match all of a name.
 * Returns 0, or -1 with 'e' naming the first pattern that does not
 * compile (rx_compile refuses it; nothing is then kept).
 */
int dbpattern_compile(char *const *pats, size_t n, bool whole, void **out,
		      struct err *e) MUST_CHECK;

/* Free what dbpattern_compile made of 'n' patterns; NULL is fine. */
void dbpattern_free(void *p, size_t n);

/* Whether 's' matches any of the 'n' compiled patterns 'p'. */
bool dbpattern_match(const void *p, size_t n, const char *s);

#endif
