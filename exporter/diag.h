/*
 * Diagnostics for files a user wrote (config and query files): every problem
 * is collected with its position, then printed as
 *   file:line:column: error: message
 * (lines and columns are 1-based), so all problems are reported at once.
 */
#ifndef DIAG_H
#define DIAG_H

#include <stdio.h>
#include "compat.h"

enum diag_severity { DIAG_ERROR, DIAG_WARNING };

/* Where something was written: file (not owned) and 1-based line/column. */
struct srcpos {
	const char *file;
	unsigned line, column;
};

/* One problem; owned by its struct diags. */
struct diag {
	char *file;    /* owned */
	unsigned line; /* 1-based; 0 when the whole file is meant */
	unsigned column;
	enum diag_severity severity;
	char *msg; /* owned; lower case, no trailing period */
};

/*
 * A list of diagnostics, owned by whoever loads the files (a local of the
 * loader or of --dry-run). Created with DIAGS_INIT, freed with
 * diags_release.
 */
struct diags {
	struct diag *v;
	size_t n, alloc;
	size_t nerrors, nwarnings;
};

#define DIAGS_INIT                                                             \
	{                                                                      \
		NULL, 0, 0, 0, 0                                               \
	}

void diags_add(struct diags *d, enum diag_severity sev, const char *file,
	       unsigned line, unsigned column, const char *fmt, ...)
	PRINTF(6, 7);
/*
 * Print each as "file:line:column: error: msg\n" in the order added
 * ("file:line: ..." when the column is 0, "file: ..." when the line is 0).
 */
void diags_print(const struct diags *d, FILE *fp);
/*
 * Sort the diagnostics from index 'from' on by line and column, keeping
 * the order they were added in among equal positions (a loader reports
 * as it walks, not in the order of the file).
 */
void diags_sort(struct diags *d, size_t from);
/* Append all of 'src' to 'dst'. */
void diags_merge(struct diags *dst, const struct diags *src);
void diags_release(struct diags *d);

#endif
