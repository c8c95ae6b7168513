/*
 * The top selection across databases: see topsel.h.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sb.h"
#include "topsel.h"
#include "xalloc.h"
#include "compat.h"

#define KEY_SEP '\x1f'

struct row {
	char *key;
	double by;
	size_t byk; /* which of c->top.bys gave 'by'; nbys: none */
	bool keep;
};

size_t topsel_n(const struct collector *c, const struct config *cfg)
{
	const char *v;

	if (!c->top.n_param)
		return c->top.n;
	v = collector_param(c, c->top.n_param, cfg);
	return v ? (size_t)strtoul(v, NULL, 10) : 100;
}

/* The value of a label of 's', or "" when it has none of that name. */
static const char *label_of(const struct sample *s, const char *name)
{
	for (uint32_t i = 0; i < s->nlabels; i++)
		if (!strcmp(s->labels[i].name, name))
			return s->labels[i].value;
	return "";
}

/* The key of the row 's' belongs to: its datname and key labels. */
static const char *row_key(const struct collector *c, const struct sample *s,
			   struct sb *key)
{
	sb_reset(key);
	sb_adds(key, label_of(s, "datname"));
	for (size_t k = 0; k < c->top.nkeys; k++) {
		sb_addc(key, KEY_SEP);
		sb_adds(key, label_of(s, c->top.keys[k]));
	}
	return sb_str(key);
}

/* Which of c->top.bys family 'f' holds the samples of; nbys: none. */
static size_t by_index(const struct collector *c, const struct family *f)
{
	for (size_t k = 0; k < c->top.nbys; k++)
		for (size_t i = 0; i < c->nmetrics; i++) {
			const struct metricdef *md = &c->metrics[i];

			if (!strcmp(md->column, c->top.bys[k]) && md->name &&
			    !strcmp(md->name, f->name))
				return k;
		}
	return c->top.nbys;
}

static int by_desc(const void *a, const void *b)
{
	const struct row *x = *(struct row *const *)a;
	const struct row *y = *(struct row *const *)b;

	if (x->by != y->by)
		return x->by < y->by ? 1 : -1;
	return strcmp(x->key, y->key);
}

/* Every row of 'all' in 'map' (key -> struct row), with its value. */
static void collect_rows(const struct collector *c, const struct mset *all,
			 struct strmap *map, struct row ***rows, size_t *n)
{
	struct sb key = SB_INIT(0);
	size_t alloc = 0;

	for (size_t i = 0; i < all->n; i++) {
		const struct family *f = all->fams[i];
		size_t k = by_index(c, f);

		for (size_t j = 0; j < f->n; j++) {
			const struct sample *s = &f->samples[j];
			const char *ks = row_key(c, s, &key);
			struct row *r = strmap_get(map, ks);

			if (!r) {
				r = xcalloc(1, sizeof(*r));
				r->key = xstrdup(ks);
				r->by = -INFINITY;
				r->byk = c->top.nbys;
				strmap_put(map, ks, r, NULL);
				ALLOC_GROW(*rows, *n + 1, alloc);
				(*rows)[(*n)++] = r;
			}
			if (k < r->byk && !isnan(s->value)) {
				r->by = s->value;
				r->byk = k;
			}
		}
	}
	sb_release(&key);
}

static bool unexpired(const char *key, void *value, void *now)
{
	(void)key;
	return *(double *)value > *(double *)now;
}

/* Mark the rows kept: the first n, and those sticky keeps. */
static void choose(const struct collector *c, struct row **rows, size_t nrows,
		   size_t n, struct strmap *sticky, double now)
{
	/* with no rows, 'rows' is NULL, which qsort may not be given */
	if (nrows)
		qsort(rows, nrows, sizeof(*rows), by_desc);
	for (size_t i = 0; i < nrows; i++) {
		double *exp = sticky ? strmap_get(sticky, rows[i]->key) : NULL;

		if (i < n) {
			rows[i]->keep = true;
			if (sticky && c->top.sticky > 0) {
				exp = xmalloc(sizeof(*exp));
				*exp = now + c->top.sticky;
				free(strmap_set(sticky, rows[i]->key, exp));
			}
		} else if (exp && *exp > now) {
			rows[i]->keep = true;
		}
	}
	if (sticky)
		strmap_filter(sticky, unexpired, &now, free);
}

size_t topsel_across(const struct collector *c, const struct mset *all,
		     size_t n, struct strmap *sticky, double now,
		     struct mset *out)
{
	struct strmap map = STRMAP_INIT;
	struct sb key = SB_INIT(0);
	struct row **rows = NULL;
	size_t nrows = 0, dropped = 0;

	collect_rows(c, all, &map, &rows, &nrows);
	choose(c, rows, nrows, n, sticky, now);
	for (size_t i = 0; i < all->n; i++) {
		const struct family *f = all->fams[i];
		struct family *of = NULL;

		for (size_t j = 0; j < f->n; j++) {
			const struct sample *s = &f->samples[j];
			struct row *r = strmap_get(&map, row_key(c, s, &key));

			if (!r->keep) {
				dropped++;
				continue;
			}
			if (!of)
				of = mset_family(out, f->name, f->type, f->help,
						 NULL);
			if (!of || mset_add(out, of, s->suffix, s->labels,
					    s->nlabels, s->value, NULL) != 0)
				dropped++;
		}
	}
	strmap_release(&map);
	for (size_t i = 0; i < nrows; i++) {
		free(rows[i]->key);
		free(rows[i]);
	}
	free(rows);
	sb_release(&key);
	return dropped;
}
