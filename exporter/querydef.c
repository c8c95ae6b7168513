/*
 * The query-set model: collectors and their lookups (by name, version,
 * extensions), parameters and SQL text, the override of one set by
 * another, and freeing it (see querydef.h). The loaders are querydef_*.c.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "querydef.h"
#include "querydef_int.h"
#include "metrics.h"
#include "names.h"
#include "sb.h"
#include "sqlscan.h"
#include "xalloc.h"

/*
 * The next "{{name}}" of 's' (spaces allowed inside the braces): returns
 * where it starts, or NULL. Anything else between braces is SQL text
 * (array literals such as '{{1,2},{3,4}}').
 */
const char *querydef_next_placeholder(const char *s, const char **name,
				      size_t *len, const char **end)
{
	const char *p, *q, *n;

	for (p = strstr(s, "{{"); p; p = strstr(p + 1, "{{")) {
		q = p + 2;
		while (*q == ' ')
			q++;
		if (!isalpha((unsigned char)*q) && *q != '_')
			continue;
		n = q;
		while (isalnum((unsigned char)*q) || *q == '_')
			q++;
		*len = (size_t)(q - n);
		while (*q == ' ')
			q++;
		if (q[0] == '}' && q[1] == '}') {
			*name = n;
			*end = q + 2;
			return p;
		}
	}
	return NULL;
}

static void metricdef_clear(struct metricdef *m)
{
	free(m->column);
	free(m->name);
	free(m->help);
	ydoc_strv_free(m->map_keys, m->nmap);
	free(m->map_vals);
	ydoc_strv_free(m->alt_columns, m->nalt);
	free(m->add_column);
	memset(m, 0, sizeof(*m));
}

void qd_collector_clear(struct collector *c)
{
	size_t i;

	free(c->name);
	free(c->help);
	free(c->file);
	for (i = 0; i < c->nvariants; i++) {
		struct variant *v = &c->variants[i];
		size_t j;

		for (j = 0; j < v->next; j++) {
			free(v->ext[j].extname);
			free(v->ext[j].version);
		}
		free(v->ext);
		free(v->sql);
	}
	free(c->variants);
	ydoc_strv_free(c->requires, c->nrequires);
	ydoc_strv_free(c->tags, c->ntags);
	for (i = 0; i < c->nparams; i++) {
		free(c->params[i].name);
		free(c->params[i].value);
	}
	free(c->params);
	for (i = 0; i < c->nmetrics; i++)
		metricdef_clear(&c->metrics[i]);
	free(c->metrics);
	free(c->top.by);
	ydoc_strv_free(c->top.bys, c->top.nbys);
	ydoc_strv_free(c->top.keys, c->top.nkeys);
	free(c->top.n_param);
	free(c->pivot_key);
	free(c->pivot_value);
	free(c->group_count);
	memset(c, 0, sizeof(*c));
}

/* The metric of 'c' that takes the name 'name', or NULL. */
const struct metricdef *qd_find_claimant(const struct collector *c,
					 const char *name)
{
	const struct metricdef *found = NULL;
	char *claims[MAX_CLAIMS];
	size_t i, k, n;

	for (i = 0; i < c->nmetrics && !found; i++) {
		if (!qd_is_value(c->metrics[i].usage) || !c->metrics[i].name)
			continue;
		n = qd_metric_claims(&c->metrics[i], claims);
		for (k = 0; k < n; k++)
			if (strcmp(claims[k], name) == 0)
				found = &c->metrics[i];
		qd_claims_free(claims, n);
	}
	return found;
}

/* Enter qs->v[pos]'s name and the names of its metrics in the indexes. */
void qd_index_collector(struct queryset *qs, size_t pos)
{
	const struct collector *c = &qs->v[pos];
	size_t i;

	strmap_put(&qs->byname, c->name, (void *)(uintptr_t)(pos + 1), NULL);
	for (i = 0; i < c->nmetrics; i++) {
		char *claims[MAX_CLAIMS];
		size_t nclaims, k;

		if (!qd_is_value(c->metrics[i].usage) || !c->metrics[i].name)
			continue;
		nclaims = qd_metric_claims(&c->metrics[i], claims);
		for (k = 0; k < nclaims; k++)
			strmap_put(&qs->bymetric, claims[k],
				   (void *)(uintptr_t)(pos + 1), NULL);
		qd_claims_free(claims, nclaims);
	}
}

static void reindex(struct queryset *qs, const bool *drop)
{
	size_t k;

	strmap_release(&qs->byname);
	strmap_release(&qs->bymetric);
	for (k = 0; k < qs->n; k++)
		if (!drop[k])
			qd_index_collector(qs, k);
}

static bool has_values(const struct collector *c)
{
	size_t i;

	for (i = 0; i < c->nmetrics; i++)
		if (qd_is_value(c->metrics[i].usage) && c->metrics[i].name)
			return true;
	return false;
}

/*
 * The metrics of 'qs' (not dropped) that 'c' also produces become discarded
 * columns there; each is reported to 'note'.
 */
static void discard_claimed(struct queryset *qs, bool *drop,
			    const struct collector *c,
			    void (*note)(const char *, const char *))
{
	size_t i, k;

	for (i = 0; i < c->nmetrics; i++) {
		char *claims[MAX_CLAIMS];
		size_t nclaims;

		if (!qd_is_value(c->metrics[i].usage) || !c->metrics[i].name)
			continue;
		nclaims = qd_metric_claims(&c->metrics[i], claims);
		for (k = 0; k < nclaims; k++) {
			uintptr_t idx =
				(uintptr_t)strmap_get(&qs->bymetric, claims[k]);
			struct collector *o = idx ? &qs->v[idx - 1] : NULL;
			const struct metricdef *om =
				o ? qd_find_claimant(o, claims[k]) : NULL;
			struct metricdef *m;

			if (!om)
				continue;
			m = &o->metrics[om - o->metrics];
			if (note)
				note(m->name, c->name);
			m->usage = USAGE_DISCARD;
			m->has_error_value = false;
			if (!has_values(o))
				drop[idx - 1] = true;
			reindex(qs, drop);
		}
		qd_claims_free(claims, nclaims);
	}
}

void queryset_override(struct queryset *qs, struct queryset *from,
		       void (*note)(const char *replaced, const char *by))
{
	bool *drop = xcalloc(qs->n + 1, sizeof(*drop));
	size_t i, n = 0;

	for (i = 0; i < from->n; i++) {
		const struct collector *c = &from->v[i];
		uintptr_t idx = (uintptr_t)strmap_get(&qs->byname, c->name);

		if (idx) {
			if (note)
				note(qs->v[idx - 1].name, c->name);
			drop[idx - 1] = true;
			reindex(qs, drop);
		}
		discard_claimed(qs, drop, c, note);
	}
	for (i = 0; i < qs->n; i++) {
		if (drop[i])
			qd_collector_clear(&qs->v[i]);
		else
			qs->v[n++] = qs->v[i];
	}
	qs->n = n;
	for (i = 0; i < from->n; i++) {
		ALLOC_GROW(qs->v, qs->n + 1, qs->alloc);
		qs->v[qs->n++] = from->v[i];
	}
	from->n = 0;
	queryset_release(from);
	free(drop);
	drop = xcalloc(qs->n + 1, sizeof(*drop));
	reindex(qs, drop);
	free(drop);
}

int extversion_cmp(const char *a, const char *b)
{
	while (*a || *b) {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			const char *ea, *eb;
			int d;

			while (*a == '0' && isdigit((unsigned char)a[1]))
				a++;
			while (*b == '0' && isdigit((unsigned char)b[1]))
				b++;
			for (ea = a; isdigit((unsigned char)*ea); ea++)
				;
			for (eb = b; isdigit((unsigned char)*eb); eb++)
				;
			if (ea - a != eb - b)
				return ea - a < eb - b ? -1 : 1;
			d = strncmp(a, b, (size_t)(ea - a));
			if (d)
				return d;
			a = ea;
			b = eb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++;
		b++;
	}
	return 0;
}

/* Whether every extension bound of 'v' holds for what is installed. */
static bool extbounds_hold(const struct variant *v, char *const *names,
			   char *const *versions)
{
	size_t i, j;

	for (i = 0; i < v->next; i++) {
		const struct extbound *b = &v->ext[i];
		int cmp;

		for (j = 0; names && versions && names[j] && versions[j]; j++)
			if (!strcmp(names[j], b->extname))
				break;
		if (!names || !versions || !names[j] || !versions[j])
			return false;
		cmp = extversion_cmp(versions[j], b->version);
		if (b->max ? cmp >= 0 : cmp < 0)
			return false;
	}
	return true;
}

const struct variant *collector_variant_ext(const struct collector *c,
					    int version, char *const *extnames,
					    char *const *extversions)
{
	size_t i;

	for (i = 0; i < c->nvariants; i++) {
		const struct variant *v = &c->variants[i];

		if ((!v->min_version || version >= v->min_version) &&
		    (!v->max_version || version < v->max_version) &&
		    extbounds_hold(v, extnames, extversions))
			return v;
	}
	return NULL;
}

const struct variant *collector_variant(const struct collector *c, int version)
{
	return collector_variant_ext(c, version, NULL, NULL);
}

/* The override of "collector.param" in 'cfg', or NULL. */
static const char *param_override(const struct config *cfg,
				  const char *collector, const char *param)
{
	size_t i, lc = strlen(collector);

	if (!cfg)
		return NULL;
	for (i = 0; i < cfg->nparams; i++) {
		const char *k = cfg->param_keys[i];

		if (strncmp(k, collector, lc) == 0 && k[lc] == '.' &&
		    strcmp(k + lc + 1, param) == 0)
			return cfg->param_vals[i];
	}
	return NULL;
}

const char *collector_param(const struct collector *c, const char *name,
			    const struct config *cfg)
{
	const char *ov;
	size_t i;

	for (i = 0; i < c->nparams; i++) {
		if (strcmp(c->params[i].name, name) != 0)
			continue;
		ov = param_override(cfg, c->name, name);
		return ov ? ov : c->params[i].value;
	}
	return NULL;
}

char *collector_sql(const struct collector *c, const struct variant *v,
		    const struct config *cfg)
{
	struct sb sb = SB_INIT(0);
	const char *p = v->sql, *start, *name, *end;
	size_t len, i;

	while ((start = querydef_next_placeholder(p, &name, &len, &end))) {
		const struct qparam *qp = NULL;
		const char *val;

		for (i = 0; i < c->nparams; i++)
			if (strlen(c->params[i].name) == len &&
			    memcmp(c->params[i].name, name, len) == 0)
				qp = &c->params[i];
		sb_add(&sb, p, (size_t)(start - p));
		if (qp) {
			val = param_override(cfg, c->name, qp->name);
			sb_adds(&sb, val ? val : qp->value);
		} else {
			sb_add(&sb, start, (size_t)(end - start));
		}
		p = end;
	}
	sb_adds(&sb, p);
	return sb_detach(&sb, NULL);
}

void querydef_check_overrides(const struct queryset *qs,
			      const struct config *cfg, struct diags *d)
{
	size_t i, j;

	for (i = 0; i < cfg->nparams; i++) {
		const char *key = cfg->param_keys[i], *dot = strchr(key, '.');
		struct srcpos p = {cfg->path, 0, 0};
		const struct collector *c;
		char *cname;

		if (cfg->param_pos)
			p = cfg->param_pos[i];
		if (!p.file)
			p.file = cfg->path ? cfg->path : "config";
		if (!dot)
			continue;
		cname = xstrndup(key, (size_t)(dot - key));
		c = queryset_find(qs, cname);
		free(cname);
		if (!c) {
			diags_add(d, DIAG_WARNING, p.file, p.line, p.column,
				  "params: no collector for '%s'", key);
			continue;
		}
		for (j = 0; j < c->nparams; j++)
			if (strcmp(c->params[j].name, dot + 1) == 0)
				break;
		if (j == c->nparams)
			diags_add(d, DIAG_WARNING, p.file, p.line, p.column,
				  "params: collector '%s' has no parameter "
				  "'%s'",
				  c->name, dot + 1);
	}
}

const struct collector *queryset_find(const struct queryset *qs,
				      const char *name)
{
	uintptr_t idx = (uintptr_t)strmap_get(&qs->byname, name);

	return idx ? &qs->v[idx - 1] : NULL;
}

void queryset_release(struct queryset *qs)
{
	size_t i;

	for (i = 0; i < qs->n; i++)
		qd_collector_clear(&qs->v[i]);
	free(qs->v);
	qs->v = NULL;
	qs->n = qs->alloc = 0;
	strmap_release(&qs->byname);
	strmap_release(&qs->bymetric);
}
