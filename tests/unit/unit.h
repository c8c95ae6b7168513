/*
 * What the unit tests share. Include after <cmocka.h> (and its <setjmp.h>,
 * <stdarg.h>, <stddef.h>), since the helpers assert with cmocka.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
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

#endif
