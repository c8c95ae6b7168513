/*
 * What a name may be: metric and label names as Prometheus accepts them,
 * identifiers of collectors and parameters, and what a {{param}} may be
 * replaced by in SQL. A leaf: the loaders, the metric model and the
 * renderer ask the same questions here.
 */
#ifndef NAMES_H
#define NAMES_H

#include <stdbool.h>
#include <stddef.h>

/* [a-zA-Z_:][a-zA-Z0-9_:]*; false for NULL */
bool metric_name_valid(const char *s);
/* [a-zA-Z_][a-zA-Z0-9_]*, and not starting with "__"; false for NULL */
bool label_name_valid(const char *s);
/* [a-zA-Z_][a-zA-Z0-9_]*: collector and parameter names */
bool ident_valid(const char *s);
/* The same for the first 'len' bytes of 's' (false when 'len' is 0). */
bool ident_valid_len(const char *s, size_t len);
/*
 * [A-Za-z0-9_.]+: what a {{param}} may be replaced by in SQL, from a query
 * file's default or the config's override alike (a number, an identifier,
 * a qualified name; never quotes, spaces or an empty string).
 */
bool param_value_valid(const char *s);

#endif
