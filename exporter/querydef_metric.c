/*
 * The metric definitions of a collector ("metrics:"): column usages, names
 * and HELP, mappings, histograms, transforms, and the checks over all the
 * columns of one collector; shared by both query-file formats.
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

static const char *const usage_names[] = {
	[USAGE_LABEL] = "label", [USAGE_DISCARD] = "discard",
	[USAGE_GAUGE] = "gauge", [USAGE_COUNTER] = "counter",
	[USAGE_INFO] = "info",	 [USAGE_HISTOGRAM] = "histogram",
};

enum mkey {
	M_TYPE,
	M_NAME,
	M_HELP,
	M_SCALE,
	M_MAPPING,
	M_NULL_VALUE,
	M_VALUE,
	M_ERROR_VALUE,
	M_OPTIONAL,
	M_ALT_COLUMNS,
	M_TRANSFORM,
	M_ADD,
	M_NKEYS
};
static const char *const metric_keys[M_NKEYS] = {
	[M_TYPE] = "type",	     [M_NAME] = "name",
	[M_HELP] = "help",	     [M_SCALE] = "scale",
	[M_MAPPING] = "mapping",     [M_NULL_VALUE] = "null_value",
	[M_VALUE] = "value",	     [M_ERROR_VALUE] = "error_value",
	[M_OPTIONAL] = "optional",   [M_ALT_COLUMNS] = "alt_columns",
	[M_TRANSFORM] = "transform", [M_ADD] = "add",
};

#define U(x)	 (1u << (x))
#define U_NUMBER (U(USAGE_GAUGE) | U(USAGE_COUNTER))
#define U_NAMED	 (U_NUMBER | U(USAGE_INFO) | U(USAGE_HISTOGRAM))
/* The column types each key of a metric applies to. */
static const unsigned metric_key_usages[M_NKEYS] = {
	[M_TYPE] = ~0u,
	[M_NAME] = U_NAMED,
	[M_HELP] = U_NAMED,
	[M_SCALE] = U_NUMBER,
	[M_MAPPING] = U(USAGE_GAUGE),
	[M_NULL_VALUE] = U_NUMBER,
	[M_VALUE] = U_NUMBER | U(USAGE_INFO),
	[M_ERROR_VALUE] = U_NUMBER,
	[M_OPTIONAL] = ~0u,
	[M_ALT_COLUMNS] = ~0u,
	[M_TRANSFORM] = U(USAGE_GAUGE),
	[M_ADD] = U_NUMBER,
};

static const char *const transform_names[] = {
	[TRANSFORM_NONE] = "none",
	[TRANSFORM_DISK_USAGE] = "disk_usage",
	[TRANSFORM_FS_SIZE] = "fs_size",
	[TRANSFORM_FS_FREE] = "fs_free",
	[TRANSFORM_FS_AVAIL] = "fs_avail",
};

bool qd_ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

bool qd_is_value(enum col_usage u)
{
	return u != USAGE_LABEL && u != USAGE_DISCARD;
}

/* The type a usage produces, as metrics.h spells it in messages. */
static const char *usage_type_name(enum col_usage u)
{
	return u == USAGE_INFO ? "info" : usage_names[u];
}

/* Text value -> number, for columns holding words such as "on". */
void qd_parse_mapping(struct loader *l, struct metricdef *m, yaml_node_t *n,
		      const char *what)
{
	struct ypair *pairs;
	size_t np, i;

	if (!n || n->type != YAML_MAPPING_NODE) {
		ydoc_error(&l->y, n, "'%s' must be a mapping, not %s", what,
			   ydoc_kind(n));
		return;
	}
	pairs = ydoc_pairs(&l->y, n, "value", &np);
	if (!np)
		ydoc_error(&l->y, n, "'%s' is empty", what);
	m->map_keys = xcalloc(np ? np : 1, sizeof(*m->map_keys));
	m->map_vals = xcalloc(np ? np : 1, sizeof(*m->map_vals));
	for (i = 0; i < np; i++) {
		double v;

		if (ydoc_double(&l->y, pairs[i].vnode, pairs[i].key, &v) < 0)
			continue;
		m->map_keys[m->nmap] = xstrdup(pairs[i].key);
		m->map_vals[m->nmap] = v;
		m->nmap++;
	}
	free(pairs);
}

/*
 * The full name of value column 'm': 'given', or <collector>_<column>
 * (with the _total and _info suffixes our format adds). Reports at 'at' and
 * returns -1 when it is not a valid name of ours.
 */
int qd_resolve_name(struct loader *l, const struct collector *c,
		    struct metricdef *m, const yaml_node_t *at,
		    const char *given)
{
	char *name;

	/* A bad collector name is reported once, not in every metric. */
	if (!given && !ident_valid(c->name))
		return -1;
	if (given)
		name = xstrdup(given);
	else
		name = xasprintf("%s_%s", c->name, m->column);
	if (!c->compat && m->usage == USAGE_COUNTER &&
	    !qd_ends_with(name, "_total")) {
		char *t = xasprintf("%s_total", name);

		free(name);
		name = t;
	}
	if (!c->compat && m->usage == USAGE_INFO && !given &&
	    !qd_ends_with(name, "_info")) {
		char *t = xasprintf("%s_info", name);

		free(name);
		name = t;
	}
	if (!metric_name_valid(name)) {
		if (given)
			ydoc_error(&l->y, at,
				   "invalid metric name '%.64s' (letters, "
				   "digits, '_' and ':', not starting with a "
				   "digit)",
				   name);
		else
			ydoc_error(&l->y, at,
				   "metric name '%.64s' is invalid%s", name,
				   c->compat ? "" : "; set 'name'");
		goto bad;
	}
	if (strncmp(name, "pgpulse_", 8) == 0 ||
	    strncmp(name, "process_", 8) == 0) {
		ydoc_error(&l->y, at,
			   "metric name '%s' is reserved: 'pgpulse_' and "
			   "'process_' are the exporter's own",
			   name);
		goto bad;
	}
	if (m->usage == USAGE_INFO && !qd_ends_with(name, "_info")) {
		ydoc_error(&l->y, at,
			   "info metric name '%s' must end in '_info'", name);
		goto bad;
	}
	m->name = name;
	return 0;
bad:
	free(name);
	return -1;
}

/*
 * HELP text: 'given', or the collector's help naming the column; with a
 * ttl, a sentence saying the value may be that old (Prometheus asks HELP to
 * say when values are cached).
 */
char *qd_make_help(const struct collector *c, const char *given,
		   const char *column)
{
	const char *h = given ? given : c->help ? c->help : "";
	size_t len = strlen(h);
	char *base, *out;

	/* The default names the column; a period ends it either way. */
	while (len && (isspace((unsigned char)h[len - 1]) ||
		       (!given && h[len - 1] == '.')))
		len--;
	if (given)
		base = xstrndup(h, len);
	else if (len)
		base = xasprintf("%.*s (column %s).", (int)len, h, column);
	else
		base = xasprintf("Column %s.", column);
	if (!(c->ttl > 0))
		return base;
	len = strlen(base);
	out = xasprintf("%s%s%sCached for up to %g second%s.", base,
			len && !strchr(".!?", base[len - 1]) ? "." : "",
			len ? " " : "", c->ttl, c->ttl == 1 ? "" : "s");
	free(base);
	return out;
}

enum akey { A_COLUMN, A_SCALE, A_NKEYS };
static const char *const add_keys[A_NKEYS] = {
	[A_COLUMN] = "column",
	[A_SCALE] = "scale",
};

/* "add: {column: C, scale: S}" */
static void parse_add(struct loader *l, struct metricdef *m, yaml_node_t *n)
{
	struct ydoc *y = &l->y;
	yaml_node_t *v[A_NKEYS];

	if (ydoc_fields(y, n, "add", add_keys, A_NKEYS, v, DIAG_ERROR) < 0)
		return;
	if (!v[A_COLUMN]) {
		ydoc_error(y, n, "missing 'column' in 'add'");
		return;
	}
	if (ydoc_str(y, v[A_COLUMN], "column", &m->add_column) < 0)
		return;
	m->add_scale = 1;
	if (v[A_SCALE] &&
	    ydoc_double(y, v[A_SCALE], "scale", &m->add_scale) == 0 &&
	    !isfinite(m->add_scale))
		ydoc_error(y, v[A_SCALE], "'scale' must be a finite number");
}

enum pvkey { PV_KEY, PV_VALUE, PV_NKEYS };
static const char *const pivot_keys[PV_NKEYS] = {
	[PV_KEY] = "key",
	[PV_VALUE] = "value",
};

/* "pivot: {key: K, value: V}" */
void qd_parse_pivot(struct loader *l, struct collector *c, yaml_node_t *n)
{
	struct ydoc *y = &l->y;
	yaml_node_t *v[PV_NKEYS];
	size_t k;

	if (ydoc_fields(y, n, "pivot", pivot_keys, PV_NKEYS, v, DIAG_ERROR) < 0)
		return;
	for (k = 0; k < PV_NKEYS; k++)
		if (!v[k])
			ydoc_error(y, n, "missing '%s' in 'pivot'",
				   pivot_keys[k]);
	if (v[PV_KEY])
		(void)!ydoc_str(y, v[PV_KEY], "key", &c->pivot_key);
	if (v[PV_VALUE])
		(void)!ydoc_str(y, v[PV_VALUE], "value", &c->pivot_value);
}

/*
 * "group: {count: C}": rows with equal label columns become one, their
 * number in gauge column C (SHOW CLIENTS has a row per connection).
 */
void qd_parse_group(struct loader *l, struct collector *c, yaml_node_t *n)
{
	static const char *const keys[] = {"count"};
	struct ydoc *y = &l->y;
	yaml_node_t *v[1];
	size_t i;

	if (ydoc_fields(y, n, "group", keys, 1, v, DIAG_ERROR) < 0)
		return;
	if (!v[0]) {
		ydoc_error(y, n, "missing 'count' in 'group'");
		return;
	}
	if (ydoc_str(y, v[0], "count", &c->group_count) < 0)
		return;
	if (c->pivot_key)
		ydoc_error(y, n, "'group' cannot be used with 'pivot'");
	for (i = 0; i < c->nmetrics; i++)
		if (!strcmp(c->metrics[i].column, c->group_count) &&
		    c->metrics[i].usage == USAGE_GAUGE)
			return;
	ydoc_error(y, v[0],
		   "'group' count column '%s' must be a gauge in "
		   "'metrics'",
		   c->group_count);
}

/*
 * "transform:": the column holds a path and the value is measured on disk,
 * so what turns text into a number otherwise has no effect.
 */
static void parse_transform(struct loader *l, const struct collector *c,
			    struct metricdef *m, yaml_node_t **v)
{
	static const enum mkey moot[] = {M_SCALE, M_MAPPING, M_VALUE};
	size_t k;
	int e;

	if (ydoc_enum(&l->y, v[M_TRANSFORM], "transform", transform_names + 1,
		      ARRAY_SIZE(transform_names) - 1, &e) < 0)
		return;
	m->transform = (enum value_transform)(e + 1);
	if (c->kind == TARGET_PGBOUNCER)
		ydoc_error(&l->y, v[M_TRANSFORM],
			   "'transform' does not apply to pgbouncer "
			   "collectors: it measures the server's files");
	for (k = 0; k < ARRAY_SIZE(moot); k++)
		if (v[moot[k]])
			ydoc_error(&l->y, v[moot[k]],
				   "'%s' has no effect with 'transform'",
				   metric_keys[moot[k]]);
}

/*
 * How the value of column 'm' is read: scale, mapping, the values for
 * NULL, a constant and an error, and the column added to it.
 */
static void parse_value_settings(struct loader *l, struct metricdef *m,
				 yaml_node_t **v)
{
	struct ydoc *y = &l->y;
	size_t k;

	if (v[M_SCALE] && ydoc_double(y, v[M_SCALE], "scale", &m->scale) == 0 &&
	    (m->scale == 0 || !isfinite(m->scale)))
		ydoc_error(y, v[M_SCALE],
			   "'scale' must be a finite number "
			   "other than 0");
	if (v[M_MAPPING])
		qd_parse_mapping(l, m, v[M_MAPPING], "mapping");
	if (v[M_NULL_VALUE] &&
	    ydoc_double(y, v[M_NULL_VALUE], "null_value", &m->null_value) == 0)
		m->has_null_value = true;
	if (v[M_VALUE] &&
	    ydoc_double(y, v[M_VALUE], "value", &m->const_value) == 0)
		m->has_const_value = true;
	if (v[M_ERROR_VALUE] && ydoc_double(y, v[M_ERROR_VALUE], "error_value",
					    &m->error_value) == 0)
		m->has_error_value = true;
	if (v[M_ADD])
		parse_add(l, m, v[M_ADD]);
	if (v[M_VALUE]) {
		static const enum mkey moot[] = {M_SCALE, M_MAPPING,
						 M_NULL_VALUE};

		for (k = 0; k < ARRAY_SIZE(moot); k++)
			if (v[moot[k]])
				ydoc_error(y, v[moot[k]],
					   "'%s' has no effect with 'value'",
					   metric_keys[moot[k]]);
	}
}

/* One entry of 'metrics:' in our format: "column: type" or a mapping. */
void qd_parse_metric(struct loader *l, struct collector *c,
		     const struct ypair *p, struct metricdef *m)
{
	struct ydoc *y = &l->y;
	yaml_node_t *v[M_NKEYS] = {NULL};
	yaml_node_t *n = p->vnode;
	char *name = NULL, *help = NULL;
	int usage;
	size_t k;

	m->column = xstrdup(p->key);
	m->scale = 1;
	m->pos = qd_cpos(l, c, p->knode);
	if (n && n->type == YAML_MAPPING_NODE) {
		if (ydoc_fields(y, n, "column", metric_keys, M_NKEYS, v,
				DIAG_ERROR) < 0)
			return;
		if (!v[M_TYPE]) {
			ydoc_error(y, n, "missing 'type'");
			return;
		}
	} else if (n && n->type == YAML_SCALAR_NODE && !ydoc_is_null(n)) {
		v[M_TYPE] = n;
	} else {
		ydoc_error(y, n,
			   "expected a type (label, discard, gauge, counter, "
			   "info, histogram) or a mapping, not %s",
			   ydoc_kind(n));
		return;
	}
	if (ydoc_enum(y, v[M_TYPE], "type", usage_names,
		      ARRAY_SIZE(usage_names), &usage) < 0)
		return;
	m->usage = (enum col_usage)usage;
	for (k = 0; k < M_NKEYS; k++)
		if (v[k] && !(metric_key_usages[k] & U(m->usage)))
			ydoc_error(y, v[k], "'%s' does not apply to %s columns",
				   metric_keys[k], usage_names[m->usage]);
	if (m->usage == USAGE_LABEL && !label_name_valid(m->column))
		ydoc_error(y, p->knode,
			   "invalid label name (letters, digits and '_', not "
			   "starting with a digit or '__')");
	if (v[M_OPTIONAL] &&
	    ydoc_bool(y, v[M_OPTIONAL], "optional", &m->optional) < 0)
		m->optional = false;
	if (v[M_ALT_COLUMNS] && ydoc_strlist(y, v[M_ALT_COLUMNS], "alt_columns",
					     &m->alt_columns, &m->nalt) < 0)
		m->nalt = 0;
	if (!qd_is_value(m->usage))
		return;
	if (v[M_TRANSFORM])
		parse_transform(l, c, m, v);
	if (v[M_NAME] && ydoc_str(y, v[M_NAME], "name", &name) < 0)
		return;
	if (v[M_HELP] && ydoc_str(y, v[M_HELP], "help", &help) < 0)
		goto out;
	qd_resolve_name(l, c, m, v[M_NAME] ? v[M_NAME] : p->knode, name);
	m->help = qd_make_help(c, help, m->column);
	parse_value_settings(l, m, v);
out:
	free(name);
	free(help);
}

int qd_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The labels of every metric of 'c', sorted: "a, b" ("" for none). */
char *qd_label_signature(const struct collector *c)
{
	const char **v = xcalloc(c->nmetrics + 1, sizeof(*v));
	struct sb sb = SB_INIT(0);
	size_t n = 0, i;

	for (i = 0; i < c->nmetrics; i++)
		if (c->metrics[i].usage == USAGE_LABEL)
			v[n++] = c->metrics[i].column;
	if (c->scope == SCOPE_DATABASE)
		v[n++] = "datname";
	qsort(v, n, sizeof(*v), qd_cmp_str);
	for (i = 0; i < n; i++)
		sb_addf(&sb, "%s%s", i ? ", " : "", v[i]);
	free(v);
	return sb_detach(&sb, NULL);
}

/*
 * The names metric 'm' takes in an exposition, so that no two metrics
 * collide: its own; for a histogram, its series; for a counter, the family
 * name OpenMetrics gives it (without _total). Returns how many, each
 * malloc'ed in out[].
 */
size_t qd_metric_claims(const struct metricdef *m, char **out)
{
	static const char *const hsuffix[] = {"_bucket", "_sum", "_count"};
	size_t n = 0, k;

	out[n++] = xstrdup(m->name);
	if (m->usage == USAGE_HISTOGRAM)
		for (k = 0; k < ARRAY_SIZE(hsuffix); k++)
			out[n++] = xasprintf("%s%s", m->name, hsuffix[k]);
	if (m->usage == USAGE_COUNTER && qd_ends_with(m->name, "_total"))
		out[n++] = xstrndup(m->name, strlen(m->name) - 6);
	return n;
}

void qd_claims_free(char **v, size_t n)
{
	while (n)
		free(v[--n]);
}

/* Report 'm' (of 'c') colliding with 'o' (of collector 'oc'). */
void qd_report_clash(struct loader *l, const struct collector *c,
		     const struct metricdef *m, const char *oc,
		     const struct metricdef *o, const char *osig)
{
	char *sig;

	if (strcmp(m->name, o->name) != 0) {
		ydoc_report_at(&l->y, DIAG_ERROR, m->pos,
			       "%s '%s' collides with %s '%s' of collector "
			       "'%s' (%s:%u:%u)",
			       usage_type_name(m->usage), m->name,
			       usage_type_name(o->usage), o->name, oc,
			       o->pos.file, o->pos.line, o->pos.column);
		return;
	}
	if (c->name && strcmp(c->name, oc) == 0) {
		ydoc_report_at(&l->y, DIAG_ERROR, m->pos,
			       "column '%s' makes metric '%s' as column '%s' "
			       "does (%s:%u:%u)",
			       m->column, m->name, o->column, o->pos.file,
			       o->pos.line, o->pos.column);
		return;
	}
	sig = qd_label_signature(c);
	ydoc_report_at(&l->y, DIAG_ERROR, m->pos,
		       "metric '%s' is a %s with labels [%s] here but a %s "
		       "with labels [%s] in collector '%s' (%s:%u:%u)",
		       m->name, usage_type_name(m->usage), sig,
		       usage_type_name(o->usage), osig, oc, o->pos.file,
		       o->pos.line, o->pos.column);
	free(sig);
}

/*
 * Every name must pick one column: an alt_column may be neither a column
 * of its own nor an alt_column of two columns. 'cols' maps the column
 * names of 'c' to their metricdef.
 */
static void check_alt_columns(struct loader *l, const struct collector *c,
			      const struct strmap *cols)
{
	struct ydoc *y = &l->y;
	struct strmap alts = STRMAP_INIT;
	size_t i, k;

	for (i = 0; i < c->nmetrics; i++) {
		const struct metricdef *m = &c->metrics[i];
		const struct metricdef *o;
		void *old = NULL;

		for (k = 0; k < m->nalt; k++) {
			o = strmap_get(cols, m->alt_columns[k]);
			if (o)
				ydoc_report_at(y, DIAG_ERROR, m->pos,
					       "column '%s': alt_columns: '%s' "
					       "is a column of its own",
					       m->column, m->alt_columns[k]);
			else if (!strmap_put(&alts, m->alt_columns[k],
					     (void *)m, &old))
				ydoc_report_at(y, DIAG_ERROR, m->pos,
					       "column '%s': alt_columns: '%s' "
					       "is an alt_column of column "
					       "'%s' too",
					       m->column, m->alt_columns[k],
					       ((const struct metricdef *)old)
						       ->column);
		}
	}
	strmap_release(&alts);
}

/*
 * The columns a histogram of 'c' reads (<column>_bucket, _sum, _count)
 * must not be listed: each one listed is reported, and marked in
 * 'companion' (indexed like c->metrics) so it is not reported again.
 */
static void mark_companions(struct loader *l, const struct collector *c,
			    const struct strmap *cols, bool *companion)
{
	static const char *const hsuffix[] = {"_bucket", "_sum", "_count"};
	size_t i, k;

	for (i = 0; i < c->nmetrics; i++) {
		const struct metricdef *m = &c->metrics[i];

		if (m->usage != USAGE_HISTOGRAM)
			continue;
		for (k = 0; k < ARRAY_SIZE(hsuffix); k++) {
			char *h = xasprintf("%s%s", m->column, hsuffix[k]);
			struct metricdef *o = strmap_get(cols, h);

			if (o) {
				companion[o - c->metrics] = true;
				ydoc_report_at(&l->y, DIAG_ERROR, o->pos,
					       "column '%s' is read by "
					       "histogram '%s'; do not list it",
					       h, m->column);
			}
			free(h);
		}
	}
}

/*
 * Checks over all the columns of a collector, once each is read: reserved
 * labels, histogram companion columns, two columns making one metric,
 * error values, and whether anything is produced at all.
 */
void qd_check_columns(struct loader *l, struct collector *c,
		      const yaml_node_t *at)
{
	struct ydoc *y = &l->y;
	struct strmap cols = STRMAP_INIT, names = STRMAP_INIT;
	size_t i, k, nvalues = 0, nlabels = 0;
	/* columns a histogram reads, reported once as such */
	bool *companion = xcalloc(c->nmetrics + 1, sizeof(*companion));

	for (i = 0; i < c->nmetrics; i++) {
		strmap_put(&cols, c->metrics[i].column, &c->metrics[i], NULL);
		if (c->metrics[i].usage == USAGE_LABEL)
			nlabels++;
	}
	check_alt_columns(l, c, &cols);
	mark_companions(l, c, &cols, companion);
	for (i = 0; i < c->nmetrics; i++) {
		struct metricdef *m = &c->metrics[i];
		char *claims[MAX_CLAIMS];
		size_t nclaims;
		void *old = NULL;

		if (m->usage == USAGE_LABEL && strcmp(m->column, "target") == 0)
			ydoc_report_at(y, DIAG_ERROR, m->pos,
				       "label 'target' is reserved: the "
				       "exporter adds it to every series");
		if (m->usage == USAGE_LABEL && c->scope == SCOPE_DATABASE &&
		    strcmp(m->column, "datname") == 0)
			ydoc_report_at(y, DIAG_ERROR, m->pos,
				       "label 'datname' is added by the "
				       "exporter in database scope; drop the "
				       "column or use scope: cluster");
		if (!qd_is_value(m->usage) || !m->name || companion[i])
			continue;
		nvalues++;
		nclaims = qd_metric_claims(m, claims);
		for (k = 0; k < nclaims; k++) {
			if (strmap_put(&names, claims[k], m, &old))
				continue;
			qd_report_clash(l, c, m, c->name, old, NULL);
			break;
		}
		qd_claims_free(claims, nclaims);
		if (m->has_error_value &&
		    (nlabels || c->scope == SCOPE_DATABASE))
			ydoc_report_at(y, DIAG_ERROR, m->pos,
				       "'error_value' needs a collector with "
				       "no labels, in cluster scope");
	}
	/* Only worth saying of a collector that is otherwise fine. */
	if (!nvalues && c->nmetrics && l->d->nerrors == l->nerr)
		ydoc_warning(y, at, "no value columns: it produces no metrics");
	strmap_release(&cols);
	strmap_release(&names);
	free(companion);
}
