/*
 * Query files into a query set: reading a file or a directory, telling our
 * format from postgres_exporter's, and adding each collector with the
 * checks across collectors (duplicate names, clashing metrics).
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

struct srcpos qd_cpos(const struct loader *l, const struct collector *c,
		      const yaml_node_t *n)
{
	struct srcpos p = ydoc_pos(&l->y, n);

	p.file = c->file;
	return p;
}

struct variant *qd_add_variant(struct collector *c)
{
	c->variants = xrealloc(c->variants,
			       (c->nvariants + 1) * sizeof(*c->variants));
	memset(&c->variants[c->nvariants], 0, sizeof(*c->variants));
	return &c->variants[c->nvariants++];
}

/*
 * Add 'c' (moved into 'qs') unless its name is taken or one of its metrics
 * is produced elsewhere with another type or other labels.
 */
static void add_collector(struct loader *l, struct collector *c)
{
	struct queryset *qs = l->qs;
	uintptr_t idx = (uintptr_t)strmap_get(&qs->byname, c->name);
	char *sig = NULL;
	bool ok = true;
	size_t i;

	if (idx) {
		const struct collector *o = &qs->v[idx - 1];

		ydoc_set_context(&l->y, NULL, NULL);
		ydoc_report_at(&l->y, DIAG_ERROR, c->pos,
			       "duplicate collector '%s' (first at %s:%u:%u)",
			       c->name, o->file, o->pos.line, o->pos.column);
		qd_collector_clear(c);
		return;
	}
	sig = qd_label_signature(c);
	for (i = 0; i < c->nmetrics; i++) {
		const struct metricdef *m = &c->metrics[i], *om;
		char *claims[MAX_CLAIMS];
		size_t nclaims, k;
		bool clash = false;

		if (!qd_is_value(m->usage) || !m->name)
			continue;
		nclaims = qd_metric_claims(m, claims);
		/* One message per metric is enough. */
		for (k = 0; k < nclaims && !clash; k++) {
			const struct collector *o;
			char *osig;

			idx = (uintptr_t)strmap_get(&qs->bymetric, claims[k]);
			if (!idx)
				continue;
			o = &qs->v[idx - 1];
			om = qd_find_claimant(o, claims[k]);
			if (!om)
				continue;
			osig = qd_label_signature(o);
			if (strcmp(om->name, m->name) != 0 ||
			    om->usage != m->usage || strcmp(sig, osig) != 0) {
				qd_report_clash(l, c, m, o->name, om, osig);
				clash = true;
				ok = false;
			}
			free(osig);
		}
		qd_claims_free(claims, nclaims);
	}
	free(sig);
	if (!ok) {
		qd_collector_clear(c);
		return;
	}
	ALLOC_GROW(qs->v, qs->n + 1, qs->alloc);
	qs->v[qs->n] = *c;
	qs->n++;
	qd_index_collector(qs, qs->n - 1);
	memset(c, 0, sizeof(*c));
}

/*
 * Whether 'map' is in our format: it has a "collectors" key, or one a typo
 * away (then reported as such, not read as postgres_exporter's queries).
 */
static bool is_ours(struct ydoc *y, const yaml_node_t *map)
{
	static const char *const ours[] = {"collectors"};
	yaml_node_pair_t *p;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(&y->doc, p->key);

		if (k && k->type == YAML_SCALAR_NODE &&
		    ydoc_suggest((const char *)k->data.scalar.value, ours, 1))
			return true;
	}
	return false;
}

/* Parse each named entry of 'map' with 'parse'; add those without errors. */
static void load_entries(struct loader *l, yaml_node_t *map,
			 void (*parse)(struct loader *, const struct ypair *,
				       struct collector *))
{
	struct ypair *pairs;
	size_t np, i;

	pairs = ydoc_pairs(&l->y, map, "collector", &np);
	if (!np)
		ydoc_warning(&l->y, map, "no collectors");
	for (i = 0; i < np; i++) {
		struct collector c;
		size_t nerr = l->d->nerrors;

		l->nerr = nerr;
		memset(&c, 0, sizeof(c));
		ydoc_set_context(&l->y, "collector", pairs[i].key);
		parse(l, &pairs[i], &c);
		if (l->d->nerrors == nerr)
			add_collector(l, &c);
		else
			qd_collector_clear(&c);
		ydoc_set_context(&l->y, NULL, NULL);
	}
	free(pairs);
}

int querydef_load_buffer(struct queryset *qs, const char *file,
			 const char *text, size_t len, struct diags *d)
{
	struct loader l;
	size_t nerr = d->nerrors, first = d->n, np, i;
	yaml_node_t *root, *v = NULL;
	struct ypair *pairs;
	char q[64];
	static const char *const top_keys[] = {"collectors"};

	memset(&l, 0, sizeof(l));
	l.qs = qs;
	l.d = d;
	if (ydoc_load(&l.y, file, text, len, d) < 0)
		goto out;
	root = ydoc_root(&l.y);
	if (!root) {
		ydoc_warning(&l.y, NULL, "no collectors: the file is empty");
		goto out;
	}
	if (root->type != YAML_MAPPING_NODE) {
		ydoc_error(&l.y, root,
			   "a query file is a mapping ('collectors:', or "
			   "postgres_exporter's queries), not %s",
			   ydoc_kind(root));
		goto out;
	}
	if (!is_ours(&l.y, root)) {
		load_entries(&l, root, qd_parse_compat_collector);
		goto out;
	}
	/* Keys starting with "x-" hold YAML anchors to merge ("<<"). */
	pairs = ydoc_pairs(&l.y, root, "key", &np);
	for (i = 0; i < np; i++) {
		const char *hint;

		if (strcmp(pairs[i].key, "collectors") == 0) {
			v = pairs[i].vnode;
			continue;
		}
		if (strncmp(pairs[i].key, "x-", 2) == 0)
			continue;
		hint = ydoc_suggest(pairs[i].key, top_keys, 1);
		if (hint)
			ydoc_error(&l.y, pairs[i].knode,
				   "unknown key '%s' (did you mean '%s'?)",
				   ydoc_quote(pairs[i].knode, q, sizeof(q)),
				   hint);
		else
			ydoc_error(&l.y, pairs[i].knode,
				   "unknown key '%s' (expected 'collectors', "
				   "or 'x-' keys for anchors)",
				   ydoc_quote(pairs[i].knode, q, sizeof(q)));
	}
	free(pairs);
	if (!v)
		goto out;
	if (ydoc_is_null(v))
		ydoc_warning(&l.y, v, "no collectors");
	else if (v->type != YAML_MAPPING_NODE)
		ydoc_error(&l.y, v,
			   "'collectors' must be a mapping of names to "
			   "collectors, not %s",
			   ydoc_kind(v));
	else
		load_entries(&l, v, qd_parse_collector);
out:
	diags_sort(d, first);
	ydoc_release(&l.y);
	return d->nerrors > nerr ? -1 : 0;
}

static int load_file(struct queryset *qs, const char *path, struct diags *d)
{
	size_t len;
	char *buf = ydoc_read_file(path, MAX_FILE_BYTES, &len, d);
	int rc;

	if (!buf)
		return -1;
	rc = querydef_load_buffer(qs, path, buf, len, d);
	free(buf);
	return rc;
}

static bool is_query_file(const char *name)
{
	return name[0] != '.' &&
	       (qd_ends_with(name, ".yaml") || qd_ends_with(name, ".yml"));
}

int querydef_load_path(struct queryset *qs, const char *path, struct diags *d)
{
	struct stat st;
	DIR *dir;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, alloc = 0, i;
	int rc = 0;

	if (stat(path, &st) < 0) {
		diags_add(d, DIAG_ERROR, path, 0, 0, "cannot read: %s",
			  strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return load_file(qs, path, d);
	dir = opendir(path);
	if (!dir) {
		diags_add(d, DIAG_ERROR, path, 0, 0,
			  "cannot read directory: %s", strerror(errno));
		return -1;
	}
	while ((de = readdir(dir))) {
		if (!is_query_file(de->d_name))
			continue;
		ALLOC_GROW(names, n + 1, alloc);
		names[n++] = xstrdup(de->d_name);
	}
	closedir(dir);
	if (!n)
		diags_add(d, DIAG_WARNING, path, 0, 0,
			  "no *.yaml or *.yml files in this directory");
	if (n)
		qsort(names, n, sizeof(*names), qd_cmp_str);
	for (i = 0; i < n; i++) {
		size_t len = strlen(path);
		char *full = xasprintf("%s%s%s", path,
				       len && path[len - 1] == '/' ? "" : "/",
				       names[i]);

		if (load_file(qs, full, d) < 0)
			rc = -1;
		free(full);
	}
	ydoc_strv_free(names, n);
	return rc;
}
