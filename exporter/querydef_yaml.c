/*
 * Our query-file format ("collectors:", see queries/README.md): one
 * collector with its SQL variants, parameters, gates, top and pivot, every
 * problem reported at its file:line:column.
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

static const char *const scope_names[] = {
	[SCOPE_CLUSTER] = "cluster",
	[SCOPE_DATABASE] = "database",
};
static const char *const role_names[] = {
	[ROLE_ANY] = "any",
	[ROLE_PRIMARY] = "primary",
	[ROLE_REPLICA] = "replica",
};

enum ckey {
	C_HELP,
	C_KIND,
	C_SCOPE,
	C_ROLE,
	C_TAGS,
	C_TTL,
	C_TIMEOUT,
	C_MIN_VERSION,
	C_MAX_VERSION,
	C_MIN_EXTVERSION,
	C_MAX_EXTVERSION,
	C_REQUIRES,
	C_MAX_SERIES,
	C_PARAMS,
	C_SQL,
	C_VARIANTS,
	C_METRICS,
	C_TOP,
	C_PIVOT,
	C_GROUP,
	C_NKEYS
};
static const char *const collector_keys[C_NKEYS] = {
	[C_HELP] = "help",
	[C_KIND] = "kind",
	[C_SCOPE] = "scope",
	[C_ROLE] = "role",
	[C_TAGS] = "tags",
	[C_TTL] = "ttl",
	[C_TIMEOUT] = "timeout",
	[C_MIN_VERSION] = "min_version",
	[C_MAX_VERSION] = "max_version",
	[C_MIN_EXTVERSION] = "min_extversion",
	[C_MAX_EXTVERSION] = "max_extversion",
	[C_REQUIRES] = "requires",
	[C_MAX_SERIES] = "max_series",
	[C_PARAMS] = "params",
	[C_SQL] = "sql",
	[C_VARIANTS] = "variants",
	[C_METRICS] = "metrics",
	[C_TOP] = "top",
	[C_PIVOT] = "pivot",
	[C_GROUP] = "group",
};

enum vkey {
	V_MIN_VERSION,
	V_MAX_VERSION,
	V_MIN_EXTVERSION,
	V_MAX_EXTVERSION,
	V_SQL,
	V_NKEYS
};
static const char *const variant_keys[V_NKEYS] = {
	[V_MIN_VERSION] = "min_version",
	[V_MAX_VERSION] = "max_version",
	[V_MIN_EXTVERSION] = "min_extversion",
	[V_MAX_EXTVERSION] = "max_extversion",
	[V_SQL] = "sql",
};

enum tkey { T_BY, T_N, T_KEY, T_STICKY, T_ACROSS, T_RANK, T_NKEYS };
static const char *const topsel_keys[T_NKEYS] = {
	[T_BY] = "by",	       [T_N] = "n",	      [T_KEY] = "key",
	[T_STICKY] = "sticky", [T_ACROSS] = "across", [T_RANK] = "rank",
};
static const char *const across_names[] = {"databases"};
static const char *const rank_names[] = {"first", "each"};

/*
 * Read the parameters of a collector: names are identifiers, values numbers
 * or identifiers, so a substitution can never change the SQL's structure.
 */
static void parse_params(struct loader *l, struct collector *c, yaml_node_t *n)
{
	struct ypair *pairs;
	size_t np, i;
	char q[64];

	if (!n || n->type != YAML_MAPPING_NODE) {
		ydoc_error(&l->y, n, "'params' must be a mapping, not %s",
			   ydoc_kind(n));
		return;
	}
	pairs = ydoc_pairs(&l->y, n, "parameter", &np);
	c->params = xcalloc(np ? np : 1, sizeof(*c->params));
	l->param_nodes = xcalloc(np ? np : 1, sizeof(*l->param_nodes));
	for (i = 0; i < np; i++) {
		const yaml_node_t *v = pairs[i].vnode;
		char *value;

		strmap_put(&l->named_params, pairs[i].key, (void *)pairs[i].key,
			   NULL);
		if (!ident_valid(pairs[i].key)) {
			ydoc_error(&l->y, pairs[i].knode,
				   "invalid parameter name '%s' (letters, "
				   "digits and '_', not starting with a digit)",
				   ydoc_quote(pairs[i].knode, q, sizeof(q)));
			continue;
		}
		if (!v || v->type != YAML_SCALAR_NODE || ydoc_is_null(v)) {
			ydoc_error(&l->y, v,
				   "parameter '%s' must be a number or an "
				   "identifier, not %s",
				   pairs[i].key, ydoc_kind(v));
			continue;
		}
		if (ydoc_str(&l->y, v, pairs[i].key, &value) < 0)
			continue;
		if (!param_value_valid(value)) {
			ydoc_error(&l->y, v,
				   "parameter '%s' must be a number or an "
				   "identifier (letters, digits, '_' and '.'), "
				   "not '%s'",
				   pairs[i].key, ydoc_quote(v, q, sizeof(q)));
			free(value);
			continue;
		}
		c->params[c->nparams].name = xstrdup(pairs[i].key);
		c->params[c->nparams].value = value;
		l->param_nodes[c->nparams] = pairs[i].knode;
		c->nparams++;
	}
	free(pairs);
}

/* Every {{name}} of the SQL must be a parameter; mark those used. */
static void check_placeholders(struct loader *l, const struct collector *c,
			       const yaml_node_t *n, const char *sql,
			       bool *used)
{
	const char *name, *end, *p = sql;
	size_t len, i;

	while ((p = querydef_next_placeholder(p, &name, &len, &end))) {
		for (i = 0; i < c->nparams; i++)
			if (strlen(c->params[i].name) == len &&
			    memcmp(c->params[i].name, name, len) == 0)
				break;
		if (i < c->nparams)
			used[i] = true;
		else if (!strmap_getn(&l->named_params, name, len))
			/* not one rejected, and reported, already */
			ydoc_report_at(
				&l->y, DIAG_ERROR,
				ydoc_offset_pos(&l->y, n, (size_t)(p - sql)),
				"unknown parameter '%.*s' in sql (add "
				"it to 'params')",
				(int)(len > 64 ? 64 : len), name);
		p = end;
	}
}

static int parse_version(struct loader *l, const struct collector *c,
			 const yaml_node_t *n, const char *what, int *out)
{
	long long v;

	if (!n)
		return 0;
	if (ydoc_int(&l->y, n, what, 0, MAX_VERSION, &v) < 0)
		return -1;
	if (v > 0 && v < 90000 && c->kind == TARGET_POSTGRES)
		ydoc_warning(&l->y, n,
			     "'%s' is a server_version_num such as 120000 for "
			     "PostgreSQL 12; %lld is older than any release",
			     what, v);
	*out = (int)v;
	return 0;
}

static void check_range(struct loader *l, const yaml_node_t *at,
			const struct variant *v)
{
	if (v->min_version && v->max_version &&
	    v->min_version >= v->max_version)
		ydoc_error(&l->y, at,
			   "'min_version' (%d) must be less than "
			   "'max_version' (%d)",
			   v->min_version, v->max_version);
}

/* "1.11", "2.0.1": what an extension version bound may be. */
static bool extversion_valid(const char *s)
{
	const char *p = s;

	for (;;) {
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
		if (!*p)
			return p - s <= 32;
		if (*p++ != '.')
			return false;
	}
}

/* An extension name as 'requires' takes it: letters, digits, '_', '-'. */
static bool extname_valid(const char *s)
{
	const char *p;

	for (p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			return false;
	return p > s && p - s < 64;
}

/* "min_extversion"/"max_extversion": {EXTENSION: 'VERSION', ...} */
static void parse_extbounds(struct loader *l, struct variant *v, yaml_node_t *n,
			    const char *what, bool max)
{
	struct ypair *pairs;
	size_t np, i;
	char *ver;

	if (!n)
		return;
	if (n->type != YAML_MAPPING_NODE) {
		ydoc_error(&l->y, n,
			   "'%s' must be a mapping of extension names to "
			   "versions, such as {pg_stat_statements: '1.11'}, "
			   "not %s",
			   what, ydoc_kind(n));
		return;
	}
	pairs = ydoc_pairs(&l->y, n, what, &np);
	if (!np)
		ydoc_error(&l->y, n, "'%s' is empty", what);
	for (i = 0; i < np; i++) {
		if (!extname_valid(pairs[i].key)) {
			ydoc_error(&l->y, pairs[i].knode,
				   "'%s': invalid extension name (letters, "
				   "digits, '_' and '-')",
				   what);
			continue;
		}
		if (!pairs[i].vnode ||
		    pairs[i].vnode->type != YAML_SCALAR_NODE) {
			ydoc_error(&l->y, pairs[i].vnode,
				   "'%s': the version of '%s' must be a "
				   "string such as '1.11', not %s",
				   what, pairs[i].key,
				   ydoc_kind(pairs[i].vnode));
			continue;
		}
		if (ydoc_str(&l->y, pairs[i].vnode, what, &ver) < 0)
			continue;
		if (!extversion_valid(ver)) {
			ydoc_error(&l->y, pairs[i].vnode,
				   "'%s': '%s' is not an extension version "
				   "(digits and dots, such as '1.11')",
				   what, ver);
			free(ver);
			continue;
		}
		v->ext = xrealloc(v->ext, (v->next + 1) * sizeof(*v->ext));
		v->ext[v->next].extname = xstrdup(pairs[i].key);
		v->ext[v->next].version = ver;
		v->ext[v->next++].max = max;
	}
	free(pairs);
}

/*
 * Refuse, where it goes wrong in 'n', an SQL text that is not one
 * read-only query (sqlscan_statement): such a file does not load.
 */
void qd_check_statement(struct loader *l, const struct collector *c,
			const yaml_node_t *n, const char *sql)
{
	struct err e = ERR_INIT;
	size_t off;

	if (sqlscan_statement(sql, c->kind == TARGET_PGBOUNCER, &off, &e) < 0)
		ydoc_report_at(&l->y, DIAG_ERROR,
			       ydoc_offset_pos(&l->y, n, off), "%s", e.msg);
}

static void parse_sql(struct loader *l, struct collector *c, struct variant *v,
		      const yaml_node_t *n, bool *used)
{
	if (ydoc_str(&l->y, n, "sql", &v->sql) < 0)
		return;
	v->pos = ydoc_text_pos(&l->y, n);
	v->pos.file = c->file;
	check_placeholders(l, c, n, v->sql, used);
	qd_check_statement(l, c, n, v->sql);
}

static void parse_variants(struct loader *l, struct collector *c,
			   yaml_node_t *n, bool *used)
{
	yaml_node_item_t *it;

	if (!n || n->type != YAML_SEQUENCE_NODE) {
		ydoc_error(&l->y, n, "'variants' must be a list, not %s",
			   ydoc_kind(n));
		return;
	}
	if (n->data.sequence.items.start == n->data.sequence.items.top)
		ydoc_error(&l->y, n, "'variants' is empty");
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		yaml_node_t *item = yaml_document_get_node(&l->y.doc, *it);
		yaml_node_t *v[V_NKEYS];
		struct variant *var;

		if (!item || item->type != YAML_MAPPING_NODE) {
			ydoc_error(&l->y, item,
				   "a variant must be a mapping with 'sql', "
				   "not %s",
				   ydoc_kind(item));
			continue;
		}
		if (ydoc_fields(&l->y, item, "variant", variant_keys, V_NKEYS,
				v, DIAG_ERROR) < 0)
			continue;
		var = qd_add_variant(c);
		if (parse_version(l, c, v[V_MIN_VERSION], "min_version",
				  &var->min_version) < 0 ||
		    parse_version(l, c, v[V_MAX_VERSION], "max_version",
				  &var->max_version) < 0)
			continue;
		check_range(l, v[V_MIN_VERSION], var);
		parse_extbounds(l, var, v[V_MIN_EXTVERSION], "min_extversion",
				false);
		parse_extbounds(l, var, v[V_MAX_EXTVERSION], "max_extversion",
				true);
		if (!v[V_SQL])
			ydoc_error(&l->y, item, "missing 'sql' in variant");
		else
			parse_sql(l, c, var, v[V_SQL], used);
	}
}

static void parse_requires(struct loader *l, struct collector *c,
			   yaml_node_t *n)
{
	size_t i;

	if (ydoc_strlist(&l->y, n, "requires", &c->requires, &c->nrequires) < 0)
		return;
	for (i = 0; i < c->nrequires; i++) {
		const char *s = c->requires[i], *p;
		bool ok = true;

		if (strncmp(s, "setting:", 8) == 0) {
			for (p = s + 8; *p && *p != '='; p++)
				if (!isalnum((unsigned char)*p) && *p != '_' &&
				    *p != '.')
					ok = false;
			ok = ok && p > s + 8 && (*p == '\0' || p[1] != '\0');
		} else {
			for (p = s; *p; p++)
				if (!isalnum((unsigned char)*p) && *p != '_' &&
				    *p != '-')
					ok = false;
		}
		if (!ok)
			ydoc_error(&l->y, ydoc_strlist_item(&l->y, n, i),
				   "invalid requirement '%.64s' (an extension "
				   "name, 'setting:NAME' or "
				   "'setting:NAME=VALUE')",
				   s);
	}
}

static const struct metricdef *column_named(const struct collector *c,
					    const char *name)
{
	size_t i;

	for (i = 0; i < c->nmetrics; i++)
		if (strcmp(c->metrics[i].column, name) == 0)
			return &c->metrics[i];
	return NULL;
}

/*
 * "across: databases" (a scope 'database' collector only) and 'by': a
 * gauge or counter column, or with 'across' a list of them.
 */
static void parse_top_by(struct loader *l, struct collector *c, yaml_node_t **v)
{
	struct ydoc *y = &l->y;
	const struct metricdef *m;
	size_t k;
	int e;

	if (v[T_ACROSS] && ydoc_enum(y, v[T_ACROSS], "across", across_names,
				     ARRAY_SIZE(across_names), &e) == 0) {
		c->top.across = true;
		if (c->scope != SCOPE_DATABASE)
			ydoc_error(y, v[T_ACROSS],
				   "'across: databases' needs 'scope: "
				   "database'");
	}
	if (!v[T_BY] ||
	    ydoc_strlist(y, v[T_BY], "by", &c->top.bys, &c->top.nbys) < 0)
		return;
	if (!c->top.nbys) {
		ydoc_error(y, v[T_BY], "'by' needs a column");
		return;
	}
	if (c->top.nbys > 1 && !c->top.across)
		ydoc_error(y, v[T_BY],
			   "'by' lists several columns only with 'across'");
	if (v[T_RANK] && ydoc_enum(y, v[T_RANK], "rank", rank_names,
				   ARRAY_SIZE(rank_names), &e) == 0) {
		c->top.each = e == 1;
		if (!c->top.across)
			ydoc_error(y, v[T_RANK],
				   "'rank' needs 'across: databases'");
	}
	c->top.by = xstrdup(c->top.bys[0]);
	for (k = 0; k < c->top.nbys; k++) {
		m = column_named(c, c->top.bys[k]);
		if (!m ||
		    (m->usage != USAGE_GAUGE && m->usage != USAGE_COUNTER))
			ydoc_error(y, ydoc_strlist_item(y, v[T_BY], k),
				   "'by' must name a gauge or counter column");
	}
}

/*
 * "top: {by, n, key, sticky, across}": 'key' a label column, 'n' a count
 * or "{{param}}" (marked used).
 */
static void parse_top(struct loader *l, struct collector *c, yaml_node_t *n,
		      bool *used)
{
	struct ydoc *y = &l->y;
	yaml_node_t *v[T_NKEYS];
	const struct metricdef *m;
	long long iv;
	size_t k;

	if (ydoc_fields(y, n, "top", topsel_keys, T_NKEYS, v, DIAG_ERROR) < 0)
		return;
	for (k = 0; k < T_NKEYS; k++)
		if (!v[k] && k != T_STICKY && k != T_ACROSS && k != T_RANK)
			ydoc_error(y, n, "missing '%s' in 'top'",
				   topsel_keys[k]);
	parse_top_by(l, c, v);
	if (v[T_KEY] && ydoc_strlist(y, v[T_KEY], "key", &c->top.keys,
				     &c->top.nkeys) == 0) {
		if (!c->top.nkeys)
			ydoc_error(y, v[T_KEY],
				   "'key' needs at least one label column");
		for (k = 0; k < c->top.nkeys; k++) {
			m = column_named(c, c->top.keys[k]);
			if (!m || m->usage != USAGE_LABEL)
				ydoc_error(y, ydoc_strlist_item(y, v[T_KEY], k),
					   "'key' must name label columns");
		}
	}
	if (v[T_STICKY] &&
	    ydoc_duration(y, v[T_STICKY], "sticky", &c->top.sticky) < 0)
		c->top.sticky = 0;
	if (!v[T_N])
		return;
	if (v[T_N]->type == YAML_SCALAR_NODE &&
	    v[T_N]->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		const char *s = (const char *)v[T_N]->data.scalar.value;
		const char *name, *end;
		size_t len;

		if (querydef_next_placeholder(s, &name, &len, &end) != s ||
		    *end) {
			ydoc_error(y, v[T_N],
				   "'n' must be a count or '{{param}}'");
			return;
		}
		for (k = 0; k < c->nparams; k++)
			if (strlen(c->params[k].name) == len &&
			    memcmp(c->params[k].name, name, len) == 0)
				break;
		if (k == c->nparams) {
			if (!strmap_getn(&l->named_params, name, len))
				ydoc_error(y, v[T_N],
					   "unknown parameter '%.*s' in 'n' "
					   "(add it to 'params')",
					   (int)(len > 64 ? 64 : len), name);
			return;
		}
		used[k] = true;
		c->top.n_param = xstrndup(name, len);
		return;
	}
	if (v[T_N]->type == YAML_MAPPING_NODE) {
		ydoc_error(y, v[T_N],
			   "'n' must be a count or '{{param}}' (quoted: "
			   "unquoted braces are a YAML mapping)");
		return;
	}
	if (ydoc_int(y, v[T_N], "n", 1, 1000000, &iv) == 0)
		c->top.n = (size_t)iv;
}

/* The settings of collector 'c' (help, kind, scope, role, gates, limits). */
static void parse_settings(struct loader *l, const struct ypair *p,
			   struct collector *c, yaml_node_t **v)
{
	struct ydoc *y = &l->y;
	long long iv;
	int e;

	if (!v[C_HELP])
		ydoc_error(y, p->knode, "missing 'help'");
	else if (ydoc_str(y, v[C_HELP], "help", &c->help) < 0)
		c->help = NULL;
	if (v[C_KIND] && ydoc_enum(y, v[C_KIND], "kind", target_kind_names,
				   TARGET_NKINDS, &e) == 0)
		c->kind = (enum target_kind)e;
	if (v[C_SCOPE] && ydoc_enum(y, v[C_SCOPE], "scope", scope_names,
				    ARRAY_SIZE(scope_names), &e) == 0)
		c->scope = (enum collector_scope)e;
	if (v[C_ROLE] && ydoc_enum(y, v[C_ROLE], "role", role_names,
				   ARRAY_SIZE(role_names), &e) == 0)
		c->role = (enum collector_role)e;
	/* A value that does not read is reported; the default stays. */
	if (v[C_TAGS] &&
	    ydoc_strlist(y, v[C_TAGS], "tags", &c->tags, &c->ntags) < 0)
		c->ntags = 0;
	if (v[C_TTL] && ydoc_duration(y, v[C_TTL], "ttl", &c->ttl) < 0)
		c->ttl = 0;
	if (v[C_TIMEOUT] &&
	    ydoc_duration(y, v[C_TIMEOUT], "timeout", &c->timeout) < 0)
		c->timeout = 0;
	if (v[C_REQUIRES])
		parse_requires(l, c, v[C_REQUIRES]);
	if (v[C_MAX_SERIES] &&
	    ydoc_int(y, v[C_MAX_SERIES], "max_series", 0, INT_MAX, &iv) == 0)
		c->max_series = (size_t)iv;
	if (c->kind != TARGET_PGBOUNCER)
		return;
	if (c->scope == SCOPE_DATABASE)
		ydoc_error(y, v[C_SCOPE],
			   "scope 'database' does not apply to "
			   "pgbouncer collectors");
	if (c->role != ROLE_ANY)
		ydoc_error(y, v[C_ROLE],
			   "'role' does not apply to pgbouncer "
			   "collectors");
	if (v[C_REQUIRES])
		ydoc_error(y, v[C_REQUIRES],
			   "'requires' does not apply to pgbouncer "
			   "collectors");
}

/*
 * The SQL of collector 'c': its 'variants', or one 'sql' with its version
 * bounds. 'used' marks the parameters the SQL names.
 */
static void parse_queries(struct loader *l, const struct ypair *p,
			  struct collector *c, yaml_node_t **v, bool *used)
{
	struct ydoc *y = &l->y;
	size_t i;

	if (v[C_VARIANTS]) {
		static const enum ckey excl[] = {
			C_SQL, C_MIN_VERSION, C_MAX_VERSION, C_MIN_EXTVERSION,
			C_MAX_EXTVERSION};

		for (i = 0; i < ARRAY_SIZE(excl); i++)
			if (v[excl[i]])
				ydoc_error(y, v[excl[i]],
					   "'%s' cannot be used with "
					   "'variants': put it in each variant",
					   collector_keys[excl[i]]);
		parse_variants(l, c, v[C_VARIANTS], used);
	} else if (!v[C_SQL]) {
		ydoc_error(y, p->knode, "missing 'sql' (or 'variants')");
	} else {
		struct variant *var = qd_add_variant(c);

		if (parse_version(l, c, v[C_MIN_VERSION], "min_version",
				  &var->min_version) == 0 &&
		    parse_version(l, c, v[C_MAX_VERSION], "max_version",
				  &var->max_version) == 0)
			check_range(l, v[C_MIN_VERSION], var);
		parse_extbounds(l, var, v[C_MIN_EXTVERSION], "min_extversion",
				false);
		parse_extbounds(l, var, v[C_MAX_EXTVERSION], "max_extversion",
				true);
		parse_sql(l, c, var, v[C_SQL], used);
	}
}

/*
 * The columns of collector 'c' ('metrics'), then the checks over all of
 * them. Returns -1 when there are none to read.
 */
static int parse_metrics(struct loader *l, const struct ypair *p,
			 struct collector *c, yaml_node_t *metrics)
{
	struct ydoc *y = &l->y;
	struct ypair *cols;
	size_t ncols = 0, i;

	if (!metrics) {
		ydoc_error(y, p->knode, "missing 'metrics'");
		return -1;
	}
	if (metrics->type != YAML_MAPPING_NODE) {
		ydoc_error(y, metrics,
			   "'metrics' must be a mapping of columns, not %s",
			   ydoc_kind(metrics));
		return -1;
	}
	cols = ydoc_pairs(y, metrics, "column", &ncols);
	if (!ncols) {
		ydoc_error(y, metrics, "'metrics' is empty");
		free(cols);
		return -1;
	}
	c->metrics = xcalloc(ncols, sizeof(*c->metrics));
	for (i = 0; i < ncols; i++) {
		size_t len = ydoc_push_context(y, "column", cols[i].key);

		qd_parse_metric(l, c, &cols[i], &c->metrics[c->nmetrics++]);
		ydoc_pop_context(y, len);
	}
	free(cols);
	qd_check_columns(l, c, p->knode);
	return 0;
}

/* One collector of our format; errors reported, 'c' filled as far as it
 * could be. */
void qd_parse_collector(struct loader *l, const struct ypair *p,
			struct collector *c)
{
	struct ydoc *y = &l->y;
	yaml_node_t *v[C_NKEYS];
	bool *used = NULL;
	size_t i;

	c->name = xstrdup(p->key);
	c->file = xstrdup(y->file);
	c->pos = qd_cpos(l, c, p->knode);
	if (!ident_valid(c->name))
		ydoc_error(y, p->knode,
			   "invalid collector name (letters, digits and '_', "
			   "not starting with a digit)");
	if (!p->vnode || p->vnode->type != YAML_MAPPING_NODE) {
		ydoc_error(y, p->vnode,
			   "expected a mapping of settings, not %s",
			   ydoc_kind(p->vnode));
		return;
	}
	if (ydoc_fields(y, p->vnode, "collector", collector_keys, C_NKEYS, v,
			DIAG_ERROR) < 0)
		return;
	parse_settings(l, p, c, v);
	if (v[C_PARAMS])
		parse_params(l, c, v[C_PARAMS]);
	used = xcalloc(c->nparams + 1, sizeof(*used));
	parse_queries(l, p, c, v, used);
	if (parse_metrics(l, p, c, v[C_METRICS]) < 0)
		goto out;
	if (v[C_TOP])
		parse_top(l, c, v[C_TOP], used);
	if (v[C_PIVOT])
		qd_parse_pivot(l, c, v[C_PIVOT]);
	if (v[C_GROUP])
		qd_parse_group(l, c, v[C_GROUP]);
	for (i = 0; i < c->nparams; i++)
		if (!used[i])
			ydoc_warning(y, l->param_nodes[i],
				     "parameter '%s' is not used in the sql",
				     c->params[i].name);
out:
	free(used);
	free(l->param_nodes);
	l->param_nodes = NULL;
	strmap_release(&l->named_params);
}
