/*
 * Column values in PostgreSQL's text output, read as numbers.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pgvalue.h"

enum {
	OID_BOOL = 16,
	OID_INT8 = 20,
	OID_INT2 = 21,
	OID_INT4 = 23,
	OID_OID = 26,
	OID_XID = 28,
	OID_FLOAT4 = 700,
	OID_FLOAT8 = 701,
	OID_NUMERIC = 1700,
	OID_TIMESTAMP = 1114,
	OID_TIMESTAMPTZ = 1184,
	OID_INTERVAL = 1186,
	OID_PG_LSN = 3220,
	OID_XID8 = 5069,
};

int pgvalue_number(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (end == s || *end != '\0')
		return -1;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static long days_from_civil(long y, long m, long d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* "2026-11-21 23:24:24.5+00[:30]" (DateStyle ISO) -> unix seconds */
static int parse_timestamp(const char *s, double *out)
{
	int y, mo, d, h, mi, n = 0, th = 0, tm = 0, ts = 0;
	double sec;
	const char *p;

	if (!strcmp(s, "infinity")) {
		*out = INFINITY;
		return 0;
	}
	if (!strcmp(s, "-infinity")) {
		*out = -INFINITY;
		return 0;
	}
	if (sscanf(s, "%d-%d-%d %d:%d:%lf%n", &y, &mo, &d, &h, &mi, &sec, &n) !=
	    6)
		return -1;
	p = s + n;
	if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		int k = sscanf(p + 1, "%d:%d:%d", &th, &tm, &ts);

		if (k < 1)
			return -1;
		*out = -sign * (th * 3600.0 + tm * 60.0 + ts);
	} else if (*p == '\0') {
		*out = 0;
	} else {
		return -1;
	}
	*out += (double)days_from_civil(y, mo, d) * 86400.0 + h * 3600.0 +
		mi * 60.0 + sec;
	return 0;
}

/*
 * ISO 8601 interval as PostgreSQL writes it with IntervalStyle iso_8601
 * ("P1Y2M3DT4H5M6.5S", parts may be negative). Years and months count as
 * EXTRACT(EPOCH ...) counts them: 365.25 and 30 days.
 */
static int parse_interval(const char *s, double *out)
{
	const char *p = s;
	bool time = false;
	double total = 0;

	if (*p++ != 'P')
		return -1;
	while (*p) {
		char *end;
		double v;

		if (*p == 'T') {
			time = true;
			p++;
			continue;
		}
		v = strtod(p, &end);
		if (end == p)
			return -1;
		p = end;
		switch (*p) {
		case 'Y':
			total += v * 365.25 * 86400;
			break;
		case 'M':
			total += time ? v * 60 : v * 30 * 86400;
			break;
		case 'W':
			total += v * 7 * 86400;
			break;
		case 'D':
			total += v * 86400;
			break;
		case 'H':
			total += v * 3600;
			break;
		case 'S':
			total += v;
			break;
		default:
			return -1;
		}
		p++;
	}
	*out = total;
	return 0;
}

static int parse_lsn(const char *s, double *out)
{
	unsigned long hi, lo;
	int n = 0;

	if (sscanf(s, "%lx/%lx%n", &hi, &lo, &n) != 2 || s[n])
		return -1;
	*out = (double)hi * 4294967296.0 + (double)lo;
	return 0;
}

int pgvalue_parse(const char *text, Oid type, double *out)
{
	switch (type) {
	case OID_BOOL:
		if (!strcmp(text, "t") || !strcmp(text, "true")) {
			*out = 1;
			return 0;
		}
		if (!strcmp(text, "f") || !strcmp(text, "false")) {
			*out = 0;
			return 0;
		}
		return -1;
	case OID_TIMESTAMP:
	case OID_TIMESTAMPTZ:
		return parse_timestamp(text, out);
	case OID_INTERVAL:
		return parse_interval(text, out);
	case OID_PG_LSN:
		return parse_lsn(text, out);
	default:
		/* numbers, and text that holds one (pgbouncer's SHOW) */
		if (!strcmp(text, "t") || !strcmp(text, "f")) {
			*out = text[0] == 't';
			return 0;
		}
		return pgvalue_number(text, out);
	}
}
