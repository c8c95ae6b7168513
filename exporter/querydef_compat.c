/*
 * postgres_exporter's queries.yaml format ("pg_x: {query:, metrics:}"),
 * read into the same collectors as ours, with its version ranges
 * (runonserver) and column usages.
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

/* postgres_exporter's queries.yaml */
enum pkey { P_QUERY, P_METRICS, P_MASTER, P_CACHE_SECONDS, P_RUNONSERVER, P_N };
static const char *const compat_keys[P_N] = {
	[P_QUERY] = "query",
	[P_METRICS] = "metrics",
	[P_MASTER] = "master",
	[P_CACHE_SECONDS] = "cache_seconds",
	[P_RUNONSERVER] = "runonserver",
};
enum okey { O_USAGE, O_DESCRIPTION, O_METRIC_MAPPING, O_MAPPING, O_N };
static const char *const compat_column_keys[O_N] = {
	[O_USAGE] = "usage",
	[O_DESCRIPTION] = "description",
	[O_METRIC_MAPPING] = "metric_mapping",
	[O_MAPPING] = "mapping",
};
enum compat_usage {
	CU_LABEL,
	CU_DISCARD,
	CU_GAUGE,
	CU_COUNTER,
	CU_DURATION,
	CU_MAPPEDMETRIC,
	CU_HISTOGRAM
};
static const char *const compat_usage_names[] = {
	[CU_LABEL] = "LABEL",	      [CU_DISCARD] = "DISCARD",
	[CU_GAUGE] = "GAUGE",	      [CU_COUNTER] = "COUNTER",
	[CU_DURATION] = "DURATION",   [CU_MAPPEDMETRIC] = "MAPPEDMETRIC",
	[CU_HISTOGRAM] = "HISTOGRAM",
};

/*
 * A version of postgres_exporter's semver ("13", "9.6", "10.0.0") as
 * server_version_num: 10 and later count major * 10000 + minor, as
 * postgres_exporter reads "PostgreSQL 15.20" as 15.20.0.
 */
static int semver_num(const char *s, size_t len, int *out)
{
	long part[3] = {0, 0, 0};
	size_t i = 0, np = 0;

	while (np < 3) {
		long v = 0;
		size_t start = i;

		while (i < len && isdigit((unsigned char)s[i]) && i - start < 6)
			v = v * 10 + (s[i++] - '0');
		if (i == start)
			return -1;
		part[np++] = v;
		if (i == len)
			break;
		if (s[i] != '.')
			return -1;
		i++;
	}
	if (i != len || part[0] > 9999 || part[1] > 99 || part[2] > 99)
		return -1;
	*out = (int)(part[0] >= 10 ? part[0] * 10000 + part[1]
				   : part[0] * 10000 + part[1] * 100 + part[2]);
	return 0;
}

/*
 * postgres_exporter's "runonserver" (a blang/semver range: ">=10.0.0
 * <13.0.0", alternatives joined by "||") as version variants running 'sql'.
 */
static int parse_runonserver(struct loader *l, struct collector *c,
			     const yaml_node_t *n, const char *sql)
{
	const char *s = (const char *)n->data.scalar.value, *p = s;
	char q[64];

	while (*p) {
		long lo = 0, hi = (long)MAX_VERSION + 1;
		struct variant *var;

		for (;;) {
			const char *op, *ver;
			size_t oplen, vlen;
			int num;

			while (*p == ' ' || *p == '\t')
				p++;
			if (!*p || strncmp(p, "||", 2) == 0)
				break;
			op = p;
			while (*p && strchr("<>=!", *p))
				p++;
			oplen = (size_t)(p - op);
			while (*p == ' ')
				p++;
			ver = p;
			while (*p && *p != ' ' && *p != '\t' && *p != '|')
				p++;
			vlen = (size_t)(p - ver);
			if (semver_num(ver, vlen, &num) < 0)
				goto bad;
			if (oplen == 2 && strncmp(op, ">=", 2) == 0)
				lo = lo > num ? lo : num;
			else if (oplen == 1 && *op == '>')
				lo = lo > num + 1 ? lo : num + 1;
			else if (oplen == 1 && *op == '<')
				hi = hi < num ? hi : num;
			else if (oplen == 2 && strncmp(op, "<=", 2) == 0)
				hi = hi < num + 1 ? hi : num + 1;
			else if (oplen == 0 || (oplen == 1 && *op == '=') ||
				 (oplen == 2 && strncmp(op, "==", 2) == 0)) {
				lo = lo > num ? lo : num;
				hi = hi < num + 1 ? hi : num + 1;
			} else {
				goto bad;
			}
		}
		if (lo >= hi) {
			ydoc_error(&l->y, n,
				   "'runonserver' range '%s' matches no "
				   "version",
				   ydoc_quote(n, q, sizeof(q)));
			return -1;
		}
		var = qd_add_variant(c);
		var->min_version = (int)lo;
		var->max_version = hi > MAX_VERSION ? 0 : (int)hi;
		var->sql = xstrdup(sql);
		if (strncmp(p, "||", 2) == 0) {
			p += 2;
			if (!*p)
				goto bad;
		}
	}
	return 0;
bad:
	ydoc_error(&l->y, n,
		   "'runonserver' must be a version range such as '>=10.0.0 "
		   "<13.0.0', not '%s'",
		   ydoc_quote(n, q, sizeof(q)));
	return -1;
}

/* The column usage each of postgres_exporter's usages becomes. */
static const enum col_usage compat_usages[] = {
	[CU_LABEL] = USAGE_LABEL,	  [CU_DISCARD] = USAGE_DISCARD,
	[CU_GAUGE] = USAGE_GAUGE,	  [CU_COUNTER] = USAGE_COUNTER,
	[CU_DURATION] = USAGE_GAUGE,	  [CU_MAPPEDMETRIC] = USAGE_GAUGE,
	[CU_HISTOGRAM] = USAGE_HISTOGRAM,
};

/* One column of a postgres_exporter query: "- col: {usage: ...}". */
static void parse_compat_column(struct loader *l, struct collector *c,
				const struct ypair *p, struct metricdef *m)
{
	struct ydoc *y = &l->y;
	yaml_node_t *v[O_N];
	char *desc = NULL, *name = NULL;
	int usage;

	m->column = xstrdup(p->key);
	m->scale = 1;
	m->pos = qd_cpos(l, c, p->knode);
	if (!p->vnode || p->vnode->type != YAML_MAPPING_NODE) {
		ydoc_error(y, p->vnode,
			   "expected a mapping with 'usage', not %s",
			   ydoc_kind(p->vnode));
		return;
	}
	if (ydoc_fields(y, p->vnode, "column", compat_column_keys, O_N, v,
			DIAG_WARNING) < 0)
		return;
	if (!v[O_USAGE]) {
		ydoc_error(y, p->vnode, "missing 'usage'");
		return;
	}
	if (ydoc_enum(y, v[O_USAGE], "usage", compat_usage_names,
		      ARRAY_SIZE(compat_usage_names), &usage) < 0)
		return;
	/* postgres_exporter takes an empty description; so do we. */
	if (v[O_DESCRIPTION] &&
	    !(v[O_DESCRIPTION]->type == YAML_SCALAR_NODE &&
	      v[O_DESCRIPTION]->data.scalar.length == 0) &&
	    ydoc_str(y, v[O_DESCRIPTION], "description", &desc) < 0)
		return;
	m->usage = compat_usages[usage];
	/* postgres_exporter names it so and reports milliseconds */
	if (usage == CU_DURATION)
		name = xasprintf("%s_%s_milliseconds", c->name, m->column);
	if (m->usage == USAGE_LABEL && !label_name_valid(m->column))
		ydoc_error(y, p->knode,
			   "invalid label name (letters, digits and '_', not "
			   "starting with a digit or '__')");
	if (usage == CU_MAPPEDMETRIC) {
		yaml_node_t *map = v[O_METRIC_MAPPING] ? v[O_METRIC_MAPPING]
						       : v[O_MAPPING];

		if (!map)
			ydoc_error(y, v[O_USAGE],
				   "MAPPEDMETRIC needs 'metric_mapping'");
		else
			qd_parse_mapping(l, m, map,
					 v[O_METRIC_MAPPING] ? "metric_mapping"
							     : "mapping");
	} else if (v[O_METRIC_MAPPING] || v[O_MAPPING]) {
		ydoc_warning(y,
			     v[O_METRIC_MAPPING] ? v[O_METRIC_MAPPING]
						 : v[O_MAPPING],
			     "a mapping is only read for MAPPEDMETRIC; "
			     "ignored");
	}
	if (qd_is_value(m->usage)) {
		qd_resolve_name(l, c, m, p->knode, name);
		m->help = qd_make_help(c, desc, m->column);
	}
	free(desc);
	free(name);
}

static void parse_compat_metrics(struct loader *l, struct collector *c,
				 yaml_node_t *n)
{
	struct ydoc *y = &l->y;
	struct strmap seen = STRMAP_INIT;
	yaml_node_item_t *it;
	size_t alloc = 0;

	if (!n || n->type != YAML_SEQUENCE_NODE) {
		ydoc_error(y, n, "'metrics' must be a list of columns, not %s",
			   ydoc_kind(n));
		return;
	}
	if (n->data.sequence.items.start == n->data.sequence.items.top)
		ydoc_error(y, n, "'metrics' is empty");
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		yaml_node_t *item = yaml_document_get_node(&y->doc, *it);
		struct ypair *pairs;
		size_t np, i;

		if (!item || item->type != YAML_MAPPING_NODE) {
			ydoc_error(y, item,
				   "each item of 'metrics' maps a column to "
				   "its usage, not %s",
				   ydoc_kind(item));
			continue;
		}
		pairs = ydoc_pairs(y, item, "column", &np);
		for (i = 0; i < np; i++) {
			const yaml_node_t *first;
			void *old = NULL;
			size_t len;

			if (!strmap_put(&seen, pairs[i].key, pairs[i].knode,
					&old)) {
				first = old;
				ydoc_error(y, pairs[i].knode,
					   "duplicate column '%s' (first at "
					   "%s:%u:%u)",
					   pairs[i].key, y->file,
					   (unsigned)first->start_mark.line + 1,
					   (unsigned)first->start_mark.column +
						   1);
				continue;
			}
			ALLOC_GROW(c->metrics, c->nmetrics + 1, alloc);
			memset(&c->metrics[c->nmetrics], 0,
			       sizeof(*c->metrics));
			len = ydoc_push_context(y, "column", pairs[i].key);
			parse_compat_column(l, c, &pairs[i],
					    &c->metrics[c->nmetrics++]);
			ydoc_pop_context(y, len);
		}
		free(pairs);
	}
	strmap_release(&seen);
}

/* One query of postgres_exporter's format. */
void qd_parse_compat_collector(struct loader *l, const struct ypair *p,
			       struct collector *c)
{
	struct ydoc *y = &l->y;
	yaml_node_t *v[P_N];
	char *sql = NULL;
	long long iv;
	bool master;
	size_t i;

	c->name = xstrdup(p->key);
	c->file = xstrdup(y->file);
	c->pos = qd_cpos(l, c, p->knode);
	c->compat = true;
	c->help = xasprintf("postgres_exporter query %s.", c->name);
	if (!ident_valid(c->name))
		ydoc_error(y, p->knode,
			   "invalid query name (letters, digits and '_', not "
			   "starting with a digit)");
	if (!p->vnode || p->vnode->type != YAML_MAPPING_NODE) {
		ydoc_error(y, p->vnode,
			   "expected a mapping with 'query' and 'metrics', "
			   "not %s",
			   ydoc_kind(p->vnode));
		return;
	}
	if (ydoc_fields(y, p->vnode, "query", compat_keys, P_N, v,
			DIAG_WARNING) < 0)
		return;
	/* Every query runs once per target: we do not auto-discover. */
	if (v[P_MASTER] && ydoc_bool(y, v[P_MASTER], "master", &master) < 0)
		master = false;
	if (v[P_CACHE_SECONDS] &&
	    ydoc_int(y, v[P_CACHE_SECONDS], "cache_seconds", 0, INT_MAX, &iv) ==
		    0)
		c->ttl = (double)iv;
	if (!v[P_QUERY])
		ydoc_error(y, p->knode, "missing 'query'");
	else if (ydoc_str(y, v[P_QUERY], "query", &sql) == 0) {
		if (v[P_RUNONSERVER] && !ydoc_is_null(v[P_RUNONSERVER]) &&
		    v[P_RUNONSERVER]->type != YAML_SCALAR_NODE)
			ydoc_error(y, v[P_RUNONSERVER],
				   "'runonserver' must be a string, not %s",
				   ydoc_kind(v[P_RUNONSERVER]));
		else if (v[P_RUNONSERVER] && !ydoc_is_null(v[P_RUNONSERVER]))
			parse_runonserver(l, c, v[P_RUNONSERVER], sql);
		else
			qd_add_variant(c)->sql = xstrdup(sql);
		for (i = 0; i < c->nvariants; i++) {
			c->variants[i].pos = ydoc_text_pos(y, v[P_QUERY]);
			c->variants[i].pos.file = c->file;
		}
		qd_check_statement(l, c, v[P_QUERY], sql);
	}
	free(sql);
	if (!v[P_METRICS]) {
		ydoc_error(y, p->knode, "missing 'metrics'");
		return;
	}
	parse_compat_metrics(l, c, v[P_METRICS]);
	qd_check_columns(l, c, p->knode);
}
