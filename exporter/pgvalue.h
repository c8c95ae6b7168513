/*
 * Column values in PostgreSQL's text output, read as numbers. A leaf: it
 * needs libpq's Oid type and nothing of the application.
 */
#ifndef PGVALUE_H
#define PGVALUE_H

#include <libpq-fe.h>
#include "compat.h"

/*
 * Convert a column value of type 'type' (a pg_type oid) to a number:
 * integers, floats, numerics, booleans (1/0), timestamps (unix seconds,
 * given DateStyle ISO and TimeZone UTC), intervals (seconds, given
 * IntervalStyle iso_8601), pg_lsn (bytes). Returns 0, or -1 when 'text' is
 * not a number of that type.
 */
int pgvalue_parse(const char *text, Oid type, double *out) MUST_CHECK;

/*
 * A whole string as a number (strtod: decimal, exponent, inf, nan).
 * Returns 0, or -1 when 's' is empty or has anything after the number.
 */
int pgvalue_number(const char *s, double *out) MUST_CHECK;

#endif
