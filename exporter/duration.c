/*
 * Durations as users write them in config and query files and on the
 * command line: "1.5s", "250ms", "1m30s", or a bare number of seconds.
 */
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "duration.h"

int duration_parse(const char *s, double *out)
{
	static const struct {
		const char *unit;
		double seconds;
	} units[] = {
		{"ms", 0.001}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400},
	};
	const char *p = s;
	double total = 0;

	if (!s || !*s)
		return -1;
	while (*p) {
		const char *start = p, *u;
		char num[32];
		bool digits = false, dot = false;
		size_t k, ulen;

		for (; isdigit((unsigned char)*p) || (*p == '.' && !dot); p++) {
			if (*p == '.')
				dot = true;
			else
				digits = true;
		}
		if (!digits || (size_t)(p - start) >= sizeof(num))
			return -1;
		memcpy(num, start, (size_t)(p - start));
		num[p - start] = '\0';
		for (u = p; isalpha((unsigned char)*p); p++)
			;
		ulen = (size_t)(p - u);
		if (!ulen) {
			/* A bare number of seconds, alone. */
			if (start != s || *p)
				return -1;
			total = strtod(num, NULL);
			break;
		}
		for (k = 0; k < ARRAY_SIZE(units); k++)
			if (strlen(units[k].unit) == ulen &&
			    strncmp(units[k].unit, u, ulen) == 0)
				break;
		if (k == ARRAY_SIZE(units))
			return -1;
		total += strtod(num, NULL) * units[k].seconds;
	}
	if (!isfinite(total))
		return -1;
	*out = total;
	return 0;
}
