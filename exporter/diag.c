/*
 * Problems found in user-written files, collected with their positions so
 * that all of them are reported at once.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
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

struct diag_key {
	unsigned line, column;
	size_t idx;
};

static int cmp_diag_key(const void *a, const void *b)
{
	const struct diag_key *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void diags_sort(struct diags *d, size_t from)
{
	struct diag_key *keys;
	struct diag *sorted;
	size_t n, i;

	if (from >= d->n || d->n - from < 2)
		return;
	n = d->n - from;
	keys = xcalloc(n, sizeof(*keys));
	for (i = 0; i < n; i++) {
		keys[i].line = d->v[from + i].line;
		keys[i].column = d->v[from + i].column;
		keys[i].idx = i;
	}
	qsort(keys, n, sizeof(*keys), cmp_diag_key);
	sorted = xcalloc(n, sizeof(*sorted));
	for (i = 0; i < n; i++)
		sorted[i] = d->v[from + keys[i].idx];
	memcpy(d->v + from, sorted, n * sizeof(*sorted));
	free(sorted);
	free(keys);
}
