/*
 * struct err: the first cause of a failure, where it was set, and the context
 * callers put in front of it on the way up.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "err.h"

int err_set_at(struct err *e, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (!e || e->msg[0] != '\0')
		return -1;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	/* An empty message would read as "no error". */
	if (e->msg[0] == '\0')
		snprintf(e->msg, sizeof(e->msg), "unknown error");
	e->file = file;
	e->line = line;
	return -1;
}

/* Copy what fits of 's' to 'dst' + 'at' (size 'size'); returns the new end. */
static size_t put(char *dst, size_t size, size_t at, const char *s)
{
	size_t n = strlen(s);

	if (n > size - 1 - at)
		n = size - 1 - at;
	memcpy(dst + at, s, n);
	dst[at + n] = '\0';
	return at + n;
}

int err_wrap(struct err *e, const char *fmt, ...)
{
	char old[sizeof(e->msg)];
	size_t at;
	va_list ap;

	if (!e)
		return -1;
	memcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	if (old[0] == '\0')
		return -1;
	at = put(e->msg, sizeof(e->msg), strlen(e->msg), ": ");
	put(e->msg, sizeof(e->msg), at, old);
	return -1;
}

bool err_isset(const struct err *e)
{
	return e && e->msg[0] != '\0';
}

void err_clear(struct err *e)
{
	if (!e)
		return;
	e->msg[0] = '\0';
	e->file = NULL;
	e->line = 0;
}
