/*
 * Parsing durations ("1.5s", "250ms", "5m", "1h", "2d", "1m30s", or a bare
 * number of seconds). A leaf: used by the YAML walker, the config and the
 * command line alike.
 */
#ifndef DURATION_H
#define DURATION_H

#include "compat.h"

/*
 * Parse 's' into seconds in '*out': a sum of <number><unit> parts (units
 * ms, s, m, h, d; the number may have a fraction), or one bare number of
 * seconds. Returns 0, or -1 (leaving '*out' alone) when 's' is NULL, empty,
 * malformed or not finite. A minus sign is malformed.
 */
int duration_parse(const char *s, double *out) MUST_CHECK;

#endif
