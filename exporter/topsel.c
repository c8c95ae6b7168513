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
	size_t byk;   /* which of c->top.bys gave 'by'; nbys: none */
	double *vals; /* per c->top.bys, -INFINITY: none */
	size_t idx;   /* in the order rows were met */
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
	const char *v = sample_label(s, name);

	return v ? v : "";
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

/* The metric name of each of c->top.bys (NULL: it has none), in 'names'. */
static void by_names(const struct collector *c, const char **names)
{
	for (size_t k = 0; k < c->top.nbys; k++) {
		names[k] = NULL;
		for (size_t i = 0; i < c->nmetrics && !names[k]; i++)
			if (!strcmp(c->metrics[i].column, c->top.bys[k]))
				names[k] = c->metrics[i].name;
	}
}

/* Which of c->top.bys family 'f' holds the samples of; nbys: none. */
static size_t by_index(const struct collector *c, const char *const *names,
		       const struct family *f)
{
	for (size_t k = 0; k < c->top.nbys; k++)
		if (names[k] && !strcmp(names[k], f->name))
			return k;
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

/*
 * The rows of a selection, and what mset_merge_if's test needs: the
 * databases that hold a kept row, and the last database asked about (the
 * samples of one database come one after another).
 */
struct rows {
	struct row **v; /* each row once */
	size_t n, alloc;
	const struct collector *c;
	const char **bynames;  /* see by_names, found once per selection */
	struct strmap map;     /* key -> struct row */
	struct strmap series;  /* a 'by' sample's series key -> its row */
	struct strmap kept_db; /* datname -> non-NULL: holds a kept row */
	const char *last_db;
	bool last_has;
	struct sb key;
};

/*
 * The samples of the other families of a row mostly have the labels of
 * its 'by' samples: their series key then finds the row directly.
 */
static void note_series(struct rows *rs, const struct sample *s, struct row *r)
{
	size_t len;
	const char *key = sample_series_key(s, &len);

	strmap_putn(&rs->series, key, len, r, NULL);
}

/*
 * Every row of 'all' with its values, from the samples of the 'by'
 * columns only (a row with none of them is not chosen).
 */
static void collect_rows(const struct mset *all, struct rows *rs)
{
	const struct collector *c = rs->c;

	for (size_t i = 0; all && i < all->n; i++) {
		const struct family *f = all->fams[i];
		size_t k = by_index(c, rs->bynames, f);

		for (size_t j = 0; k < c->top.nbys && j < f->n; j++) {
			const struct sample *s = &f->samples[j];
			const char *ks = row_key(c, s, &rs->key);
			struct row *r = strmap_get(&rs->map, ks);

			if (!r) {
				r = xcalloc(1, sizeof(*r));
				r->key = xstrdup(ks);
				r->by = -INFINITY;
				r->byk = c->top.nbys;
				r->idx = rs->n;
				r->vals = xcalloc(c->top.nbys, sizeof(double));
				for (size_t v = 0; v < c->top.nbys; v++)
					r->vals[v] = -INFINITY;
				strmap_put(&rs->map, ks, r, NULL);
				ALLOC_GROW(rs->v, rs->n + 1, rs->alloc);
				rs->v[rs->n++] = r;
			}
			note_series(rs, s, r);
			if (isnan(s->value))
				continue;
			r->vals[k] = s->value;
			if (k < r->byk) {
				r->by = s->value;
				r->byk = k;
			}
		}
	}
}

static bool unexpired(const char *key, void *value, void *now)
{
	(void)key;
	return *(double *)value > *(double *)now;
}

/*
 * Which rows make the top (indexed by row->idx): the first n by their
 * value, or with "rank: each" the first n by each of c->top.bys in turn,
 * not counting rows with 0 or none in it ('rows' is reordered).
 */
static bool *top_rows(const struct collector *c, struct row **rows,
		      size_t nrows, size_t n)
{
	bool *chosen = xcalloc(nrows + 1, sizeof(*chosen));
	size_t passes = c->top.each ? c->top.nbys : 1;

	for (size_t k = 0; k < passes; k++) {
		for (size_t i = 0; c->top.each && i < nrows; i++)
			rows[i]->by = rows[i]->vals[k];
		/* with no rows, 'rows' is NULL, which qsort may not be given */
		if (nrows)
			qsort(rows, nrows, sizeof(*rows), by_desc);
		for (size_t i = 0; i < nrows && i < n; i++) {
			if (c->top.each && !(rows[i]->by > 0))
				break; /* sorted: the rest have 0 or none */
			chosen[rows[i]->idx] = true;
		}
	}
	return chosen;
}

/* Mark the rows kept: the top ones, and those sticky keeps. */
static void choose(const struct collector *c, struct row **rows, size_t nrows,
		   size_t n, struct strmap *sticky, double now)
{
	bool *chosen = top_rows(c, rows, nrows, n);

	for (size_t i = 0; i < nrows; i++) {
		double *exp = sticky ? strmap_get(sticky, rows[i]->key) : NULL;

		if (chosen[rows[i]->idx]) {
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
	free(chosen);
}

/* The databases that hold a kept row (a key begins with its datname). */
static void note_kept_databases(struct rows *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		const char *key = rs->v[i]->key;
		const char *sep = strchr(key, KEY_SEP);

		if (rs->v[i]->keep)
			strmap_putn(&rs->kept_db, key,
				    sep ? (size_t)(sep - key) : strlen(key),
				    (void *)rs, NULL);
	}
}

/* mset_merge_if's test: is the sample's row kept? */
static bool row_kept(const struct family *f, size_t j, void *arg)
{
	struct rows *rs = arg;
	const struct sample *s = &f->samples[j];
	const char *db, *key;
	const struct row *r;
	size_t len;

	/* the labels of a 'by' sample of its row: no key to make */
	key = sample_series_key(s, &len);
	if ((r = strmap_getn(&rs->series, key, len)))
		return r->keep;
	/* most databases hold no kept row: known without a row key */
	db = label_of(s, "datname");
	if (!rs->last_db || strcmp(db, rs->last_db)) {
		rs->last_db = db;
		rs->last_has = strmap_get(&rs->kept_db, db) != NULL;
	}
	if (!rs->last_has)
		return false;
	r = strmap_get(&rs->map, row_key(rs->c, s, &rs->key));
	return r && r->keep;
}

size_t topsel_across(const struct collector *c, struct mset *const *parts,
		     size_t nparts, size_t n, struct strmap *sticky, double now,
		     struct mset *out, struct strmap *dbs)
{
	struct rows rs = {.c = c,
			  .map = STRMAP_INIT,
			  .series = STRMAP_INIT,
			  .kept_db = STRMAP_INIT,
			  .key = SB_INIT(0)};
	size_t before = out->nseries, total = 0;

	rs.bynames = xcalloc(c->top.nbys + 1, sizeof(*rs.bynames));
	by_names(c, rs.bynames);
	for (size_t k = 0; k < nparts; k++)
		collect_rows(parts[k], &rs);
	choose(c, rs.v, rs.n, n, sticky, now);
	note_kept_databases(&rs);
	/* the samples kept share their blocks with the parts: no copy */
	for (size_t k = 0; k < nparts; k++) {
		if (!parts[k])
			continue;
		total += parts[k]->nseries;
		mset_merge_if(out, parts[k], row_kept, &rs);
	}
	strmap_release(&rs.map);
	strmap_release(&rs.series);
	if (dbs) {
		strmap_release(dbs);
		*dbs = rs.kept_db;
	} else {
		strmap_release(&rs.kept_db);
	}
	for (size_t i = 0; i < rs.n; i++) {
		free(rs.v[i]->key);
		free(rs.v[i]->vals);
		free(rs.v[i]);
	}
	free(rs.v);
	free(rs.bynames);
	sb_release(&rs.key);
	/* left out, or kept but already in 'out' */
	return total - (out->nseries - before);
}
