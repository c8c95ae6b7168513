/*
 * Database name patterns: compiled once per target, matched at each
 * listing of the server's databases.
 */
#include <regex.h>
#include <stdlib.h>
#include "dbpattern.h"
#include "rx.h"
#include "xalloc.h"
#include "compat.h"

int dbpattern_compile(char *const *pats, size_t n, bool whole, void **out,
		      struct err *e)
{
	regex_t *re;
	size_t i;

	*out = NULL;
	if (!n)
		return 0;
	re = xcalloc(n, sizeof(*re));
	for (i = 0; i < n; i++) {
		if (rx_compile(&re[i], pats[i], whole, e) < 0) {
			int r = err_wrap(e, "invalid pattern '%s'", pats[i]);

			while (i--)
				regfree(&re[i]);
			free(re);
			return r;
		}
	}
	*out = re;
	return 0;
}

void dbpattern_free(void *p, size_t n)
{
	regex_t *re = p;
	size_t i;

	if (!re)
		return;
	for (i = 0; i < n; i++)
		regfree(&re[i]);
	free(re);
}

bool dbpattern_match(const void *p, size_t n, const char *s)
{
	const regex_t *re = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (!regexec(&re[i], s, 0, NULL, 0))
			return true;
	return false;
}
