/*
 * A target's series budget: see budget.h.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "budget.h"
#include "strmap.h"
#include "xalloc.h"
#include "compat.h"

struct db {
	const char *name; /* a label value of one of the set's samples */
	double size;	  /* -1: no BUDGET_RANK_METRIC series */
	size_t series;
	bool keep;
};

struct plan {
	struct strmap dbs; /* datname -> struct db */
	struct db **v;
	size_t n, alloc;
	size_t fixed;	/* series without a datname */
	bool *fam_keep; /* per family of the set (step 2) */
	const struct mset *m;
	const struct family *last; /* kept()'s family, and its index */
	size_t last_i;
};

static const char *datname_of(const struct sample *s)
{
	return sample_label(s, "datname");
}

/* Count the series of each database and of none; read the sizes. */
static void count(const struct mset *m, struct plan *p)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct family *f = m->fams[i];
		bool rank = !strcmp(f->name, BUDGET_RANK_METRIC);

		for (size_t j = 0; j < f->n; j++) {
			const char *dn = datname_of(&f->samples[j]);
			struct db *d;

			if (!dn) {
				p->fixed++;
				continue;
			}
			d = strmap_get(&p->dbs, dn);
			if (!d) {
				d = xcalloc(1, sizeof(*d));
				d->name = dn;
				d->size = -1;
				strmap_put(&p->dbs, dn, d, NULL);
				ALLOC_GROW(p->v, p->n + 1, p->alloc);
				p->v[p->n++] = d;
			}
			d->series++;
			if (rank && !isnan(f->samples[j].value))
				d->size = f->samples[j].value;
		}
	}
}

static int by_size(const void *a, const void *b)
{
	const struct db *x = *(struct db *const *)a;
	const struct db *y = *(struct db *const *)b;

	if (x->size != y->size)
		return x->size < y->size ? 1 : -1;
	return strcmp(x->name, y->name);
}

struct fam_order {
	size_t n, i;
	const char *name;
};

static int by_family_size(const void *a, const void *b)
{
	const struct fam_order *x = a, *y = b;

	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* Step 2: drop whole families, the largest first, until 'max' fits. */
static void cut_families(const struct mset *m, struct plan *p, size_t max,
			 struct budget_cut *cut)
{
	struct fam_order *order = xcalloc(m->n + 1, sizeof(*order));
	size_t total = p->fixed;

	p->fam_keep = xcalloc(m->n + 1, sizeof(*p->fam_keep));
	for (size_t i = 0; i < m->n; i++) {
		const struct family *f = m->fams[i];

		order[i] = (struct fam_order){0, i, f->name};
		for (size_t j = 0; j < f->n; j++)
			order[i].n += datname_of(&f->samples[j]) == NULL;
		p->fam_keep[i] = true;
	}
	if (m->n)
		qsort(order, m->n, sizeof(*order), by_family_size);
	for (size_t k = 0; k < m->n && total > max && order[k].n; k++) {
		p->fam_keep[order[k].i] = false;
		total -= order[k].n;
		cut->families++;
	}
	free(order);
}

/* Decide what stays: the largest databases that fit, then families. */
static void choose(const struct mset *m, struct plan *p, size_t max,
		   struct budget_cut *cut)
{
	size_t total = p->fixed;

	if (p->n)
		qsort(p->v, p->n, sizeof(*p->v), by_size);
	for (size_t i = 0; i < p->n; i++) {
		/*
		 * a database is kept whole or not at all, and none after the
		 * first that does not fit: the page shows the n largest
		 */
		if (cut->databases || total + p->v[i]->series > max) {
			cut->databases++;
			continue;
		}
		p->v[i]->keep = true;
		total += p->v[i]->series;
	}
	if (p->fixed > max)
		cut_families(m, p, max, cut);
}

/* mset_merge_if's test: is sample 'j' of family 'f' kept? */
static bool kept(const struct family *f, size_t j, void *arg)
{
	struct plan *p = arg;
	const char *dn = datname_of(&f->samples[j]);
	const struct db *d;

	if (dn) {
		d = strmap_get(&p->dbs, dn);
		return d && d->keep;
	}
	if (!p->fam_keep)
		return true;
	if (f != p->last) {
		for (p->last_i = 0; p->m->fams[p->last_i] != f;)
			p->last_i++;
		p->last = f;
	}
	return p->fam_keep[p->last_i];
}

struct mset *budget_apply(struct mset *m, size_t max, struct budget_cut *cut)
{
	struct plan p = {.dbs = STRMAP_INIT};
	struct mset *out;

	memset(cut, 0, sizeof(*cut));
	if (!max || m->nseries <= max)
		return m;
	p.m = m;
	count(m, &p);
	choose(m, &p, max, cut);
	/* what stays shares its blocks with 'm': no copy */
	out = mset_new();
	mset_merge_if(out, m, kept, &p);
	cut->series = m->nseries - out->nseries;
	out->dropped = m->dropped;
	strmap_release_with(&p.dbs, free);
	mset_free(m);
	free(p.v);
	free(p.fam_keep);
	return out;
}
