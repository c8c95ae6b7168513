/*
 * Problems found in user-written files, collected with their positions so
 * that all of them are reported at once.
 */
#include <stdarg.h>
#include <stdlib.h>
#include "diag.h"
#include "xalloc.h"

void diags_add(struct diags *d, enum diag_severity sev, const char *file,
	       unsigned line, unsigned column, const char *fmt, ...)
{
	struct diag *g;
	va_list ap;

	ALLOC_GROW(d->v, d->n + 1, d->alloc);
	g = &d->v[d->n++];
	g->file = xstrdup(file ? file : "<input>");
	g->line = line;
	g->column = column;
	g->severity = sev;
	va_start(ap, fmt);
	g->msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (sev == DIAG_ERROR)
		d->nerrors++;
	else
		d->nwarnings++;
}

void diags_print(const struct diags *d, FILE *fp)
{
	const struct diag *g;
	size_t i;

	for (i = 0; i < d->n; i++) {
		g = &d->v[i];
		fputs(g->file, fp);
		if (g->line) {
			fprintf(fp, ":%u", g->line);
			if (g->column)
				fprintf(fp, ":%u", g->column);
		}
		fprintf(fp, ": %s: %s\n",
			g->severity == DIAG_ERROR ? "error" : "warning",
			g->msg);
	}
}

void diags_merge(struct diags *dst, const struct diags *src)
{
	const struct diag *g;
	size_t i;

	for (i = 0; i < src->n; i++) {
		g = &src->v[i];
		diags_add(dst, g->severity, g->file, g->line, g->column, "%s",
			  g->msg);
	}
}

void diags_release(struct diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	d->v = NULL;
	d->n = d->alloc = 0;
	d->nerrors = d->nwarnings = 0;
}
