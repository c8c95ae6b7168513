/*
 * Allocation that never returns NULL: out of memory prints the size asked
 * for and aborts (after git's xmalloc). Size caps are checked by callers
 * before allocating, as ordinary errors.
 */
#ifndef XALLOC_H
#define XALLOC_H

#include <stdarg.h>
#include <stddef.h>
#include "compat.h"

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* NULL in, NULL out. */
char *xstrdup_or_null(const char *s);
char *xstrndup(const char *s, size_t n);
/* Formats into a new malloc'ed string. */
char *xasprintf(const char *fmt, ...) PRINTF(1, 2);
char *xvasprintf(const char *fmt, va_list ap) PRINTF(1, 0);
/* Free a NULL-terminated array of malloc'ed strings and the array; NULL ok. */
void xfree_strv(char **v);

/*
 * Grow an array 'a' of 'alloc' elements so that it holds at least 'nr':
 * ALLOC_GROW(v, n + 1, alloc) before v[n++] = x (git's ALLOC_GROW).
 */
#define ALLOC_GROW(a, nr, alloc)                                               \
	do {                                                                   \
		if ((nr) > (alloc)) {                                          \
			(alloc) = (alloc) < 8 ? 8 : (alloc)*2;                 \
			if ((alloc) < (nr))                                    \
				(alloc) = (nr);                                \
			(a) = xrealloc((a), (alloc) * sizeof(*(a)));           \
		}                                                              \
	} while (0)

#endif
