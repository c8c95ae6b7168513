/*
 * Allocation wrappers that abort on out of memory, so callers never handle
 * NULL from malloc (after git's wrapper.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "xalloc.h"

static NORETURN void die_oom(size_t n)
{
	char msg[96];
	ssize_t w;
	int len;

	/* No stdio and no allocation: the heap is what failed. */
	len = snprintf(msg, sizeof(msg),
		       "fatal: out of memory allocating %zu bytes\n", n);
	if (len > 0) {
		w = write(STDERR_FILENO, msg, (size_t)len);
		(void)w;
	}
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		die_oom(n);
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p;

	if (!nmemb || !size)
		nmemb = size = 1;
	p = calloc(nmemb, size);
	if (!p)
		die_oom(size && nmemb > (size_t)-1 / size ? (size_t)-1
							  : nmemb * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		die_oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrdup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

char *xstrndup(const char *s, size_t n)
{
	char *p;

	n = strnlen(s, n);
	p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	char small[256];
	va_list cp;
	char *p;
	int len;

	va_copy(cp, ap);
	len = vsnprintf(small, sizeof(small), fmt, cp);
	va_end(cp);
	if (len < 0)
		return xstrdup("");
	p = xmalloc((size_t)len + 1);
	if ((size_t)len < sizeof(small))
		memcpy(p, small, (size_t)len + 1);
	else
		vsnprintf(p, (size_t)len + 1, fmt, ap);
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void xfree_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}
