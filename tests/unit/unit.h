/*
 * What the unit tests share. Include after <cmocka.h> (and its <setjmp.h>,
 * <stdarg.h>, <stddef.h>), since the helpers assert with cmocka.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include "diag.h"

/* Every diagnostic of 'd' as diags_print writes it; free() the result. */
static inline char *diags_text(const struct diags *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	diags_print(d, fp);
	fclose(fp);
	return buf;
}

/*
 * A group setup's end for a load that returned 'rc': its diagnostics
 * printed when it failed (-1, so cmocka says the setup failed), released.
 */
static inline int unit_loaded(int rc, struct diags *d)
{
	if (rc < 0) {
		char *t = diags_text(d);

		fprintf(stderr, "%s", t);
		free(t);
	}
	diags_release(d);
	return rc < 0 ? -1 : 0;
}

#endif
