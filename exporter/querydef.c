/*
 * Query files into collectors: our "collectors:" schema and
 * postgres_exporter's queries.yaml, every problem reported at its
 * file:line:column (see querydef.h and queries/README.md).
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
#include "privcheck.h"
#include "metrics.h"
#include "sb.h"
#include "xalloc.h"
#include "ydoc.h"

#define MAX_FILE_BYTES (16u << 20)
#define MAX_VERSION    INT_MAX

/* One file being loaded into a queryset. Lives for that call. */
struct loader {
	struct ydoc y;
	struct queryset *qs;
	struct diags *d;
	size_t nerr; /* errors before the collector being read */
	/*
	 * of the collector being read: where each good parameter is named,
	 * and every name under params:, good or not (so that SQL using a
	 * rejected one is not blamed too)
	 */
	const yaml_node_t **param_nodes;
	struct strmap named_params;
};

static const char *const usage_names[] = {
	[USAGE_LABEL] = "label", [USAGE_DISCARD] = "discard",
	[USAGE_GAUGE] = "gauge", [USAGE_COUNTER] = "counter",
	[USAGE_INFO] = "info",	 [USAGE_HISTOGRAM] = "histogram",
};

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

enum tkey { T_BY, T_N, T_KEY, T_STICKY, T_NKEYS };
static const char *const topsel_keys[T_NKEYS] = {
	[T_BY] = "by",
	[T_N] = "n",
	[T_KEY] = "key",
	[T_STICKY] = "sticky",
};

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

/* [a-zA-Z_][a-zA-Z0-9_]*: collector and parameter names */
static bool ident_valid(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return false;
	for (s++; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

bool querydef_param_value_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.')
			return false;
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static bool is_value(enum col_usage u)
{
	return u != USAGE_LABEL && u != USAGE_DISCARD;
}

/* The type a usage produces, as metrics.h spells it in messages. */
static const char *usage_type_name(enum col_usage u)
{
	return u == USAGE_INFO ? "info" : usage_names[u];
}

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

static void collector_clear(struct collector *c)
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
	ydoc_strv_free(c->top.keys, c->top.nkeys);
	free(c->top.n_param);
	free(c->pivot_key);
	free(c->pivot_value);
	free(c->group_count);
	memset(c, 0, sizeof(*c));
}

static struct srcpos cpos(const struct loader *l, const struct collector *c,
			  const yaml_node_t *n)
{
	struct srcpos p = ydoc_pos(&l->y, n);

	p.file = c->file;
	return p;
}

static struct variant *add_variant(struct collector *c)
{
	c->variants = xrealloc(c->variants,
			       (c->nvariants + 1) * sizeof(*c->variants));
	memset(&c->variants[c->nvariants], 0, sizeof(*c->variants));
	return &c->variants[c->nvariants++];
}

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
		if (!querydef_param_value_valid(value)) {
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
 * read-only query (privcheck_statement): such a file does not load.
 */
static void check_statement(struct loader *l, const struct collector *c,
			    const yaml_node_t *n, const char *sql)
{
	struct err e = ERR_INIT;
	size_t off;

	if (privcheck_statement(sql, c->kind == TARGET_PGBOUNCER, &off, &e) < 0)
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
	check_statement(l, c, n, v->sql);
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
		var = add_variant(c);
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

/* Text value -> number, for columns holding words such as "on". */
static void parse_mapping(struct loader *l, struct metricdef *m, yaml_node_t *n,
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
static int resolve_name(struct loader *l, const struct collector *c,
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
	    !ends_with(name, "_total")) {
		char *t = xasprintf("%s_total", name);

		free(name);
		name = t;
	}
	if (!c->compat && m->usage == USAGE_INFO && !given &&
	    !ends_with(name, "_info")) {
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
	if (m->usage == USAGE_INFO && !ends_with(name, "_info")) {
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
static char *make_help(const struct collector *c, const char *given,
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
static void parse_pivot(struct loader *l, struct collector *c, yaml_node_t *n)
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
static void parse_group(struct loader *l, struct collector *c, yaml_node_t *n)
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

/* One entry of 'metrics:' in our format: "column: type" or a mapping. */
static void parse_metric(struct loader *l, struct collector *c,
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
	m->pos = cpos(l, c, p->knode);
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
	if (!is_value(m->usage))
		return;
	if (v[M_TRANSFORM])
		parse_transform(l, c, m, v);
	if (v[M_NAME] && ydoc_str(y, v[M_NAME], "name", &name) < 0)
		return;
	if (v[M_HELP] && ydoc_str(y, v[M_HELP], "help", &help) < 0)
		goto out;
	resolve_name(l, c, m, v[M_NAME] ? v[M_NAME] : p->knode, name);
	m->help = make_help(c, help, m->column);
	if (v[M_SCALE] && ydoc_double(y, v[M_SCALE], "scale", &m->scale) == 0 &&
	    (m->scale == 0 || !isfinite(m->scale)))
		ydoc_error(y, v[M_SCALE],
			   "'scale' must be a finite number "
			   "other than 0");
	if (v[M_MAPPING])
		parse_mapping(l, m, v[M_MAPPING], "mapping");
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
out:
	free(name);
	free(help);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The labels of every metric of 'c', sorted: "a, b" ("" for none). */
static char *label_signature(const struct collector *c)
{
	const char **v = xcalloc(c->nmetrics + 1, sizeof(*v));
	struct sb sb = SB_INIT(0);
	size_t n = 0, i;

	for (i = 0; i < c->nmetrics; i++)
		if (c->metrics[i].usage == USAGE_LABEL)
			v[n++] = c->metrics[i].column;
	if (c->scope == SCOPE_DATABASE)
		v[n++] = "datname";
	qsort(v, n, sizeof(*v), cmp_str);
	for (i = 0; i < n; i++)
		sb_addf(&sb, "%s%s", i ? ", " : "", v[i]);
	free(v);
	return sb_detach(&sb, NULL);
}

#define MAX_CLAIMS 4

/*
 * The names metric 'm' takes in an exposition, so that no two metrics
 * collide: its own; for a histogram, its series; for a counter, the family
 * name OpenMetrics gives it (without _total). Returns how many, each
 * malloc'ed in out[].
 */
static size_t metric_claims(const struct metricdef *m, char **out)
{
	static const char *const hsuffix[] = {"_bucket", "_sum", "_count"};
	size_t n = 0, k;

	out[n++] = xstrdup(m->name);
	if (m->usage == USAGE_HISTOGRAM)
		for (k = 0; k < ARRAY_SIZE(hsuffix); k++)
			out[n++] = xasprintf("%s%s", m->name, hsuffix[k]);
	if (m->usage == USAGE_COUNTER && ends_with(m->name, "_total"))
		out[n++] = xstrndup(m->name, strlen(m->name) - 6);
	return n;
}

static void claims_free(char **v, size_t n)
{
	while (n)
		free(v[--n]);
}

/* Report 'm' (of 'c') colliding with 'o' (of collector 'oc'). */
static void report_clash(struct loader *l, const struct collector *c,
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
	sig = label_signature(c);
	ydoc_report_at(&l->y, DIAG_ERROR, m->pos,
		       "metric '%s' is a %s with labels [%s] here but a %s "
		       "with labels [%s] in collector '%s' (%s:%u:%u)",
		       m->name, usage_type_name(m->usage), sig,
		       usage_type_name(o->usage), osig, oc, o->pos.file,
		       o->pos.line, o->pos.column);
	free(sig);
}

/*
 * Checks over all the columns of a collector, once each is read: reserved
 * labels, histogram companion columns, two columns making one metric,
 * error values, and whether anything is produced at all.
 */
static void check_columns(struct loader *l, struct collector *c,
			  const yaml_node_t *at)
{
	struct ydoc *y = &l->y;
	struct strmap cols = STRMAP_INIT, names = STRMAP_INIT;
	struct strmap alts = STRMAP_INIT;
	size_t i, k, nvalues = 0, nlabels = 0;
	static const char *const hsuffix[] = {"_bucket", "_sum", "_count"};
	/* columns a histogram reads, reported once as such */
	bool *companion = xcalloc(c->nmetrics + 1, sizeof(*companion));

	for (i = 0; i < c->nmetrics; i++) {
		strmap_put(&cols, c->metrics[i].column, &c->metrics[i], NULL);
		if (c->metrics[i].usage == USAGE_LABEL)
			nlabels++;
	}
	for (i = 0; i < c->nmetrics; i++) {
		const struct metricdef *m = &c->metrics[i];
		const struct metricdef *o;
		void *old = NULL;

		/* Every name must pick one column. */
		for (k = 0; k < m->nalt; k++) {
			o = strmap_get(&cols, m->alt_columns[k]);
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
	for (i = 0; i < c->nmetrics; i++) {
		const struct metricdef *m = &c->metrics[i];

		if (m->usage != USAGE_HISTOGRAM)
			continue;
		for (k = 0; k < ARRAY_SIZE(hsuffix); k++) {
			char *h = xasprintf("%s%s", m->column, hsuffix[k]);
			struct metricdef *o = strmap_get(&cols, h);

			if (o) {
				companion[o - c->metrics] = true;
				ydoc_report_at(y, DIAG_ERROR, o->pos,
					       "column '%s' is read by "
					       "histogram '%s'; do not list it",
					       h, m->column);
			}
			free(h);
		}
	}
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
		if (!is_value(m->usage) || !m->name || companion[i])
			continue;
		nvalues++;
		nclaims = metric_claims(m, claims);
		for (k = 0; k < nclaims; k++) {
			if (strmap_put(&names, claims[k], m, &old))
				continue;
			report_clash(l, c, m, c->name, old, NULL);
			break;
		}
		claims_free(claims, nclaims);
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
	strmap_release(&alts);
	free(companion);
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
 * "top: {by, n, key, sticky}": 'by' a gauge or counter column, 'key' a
 * label column, 'n' a count or "{{param}}" (marked used).
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
		if (!v[k] && k != T_STICKY)
			ydoc_error(y, n, "missing '%s' in 'top'",
				   topsel_keys[k]);
	if (v[T_BY] && ydoc_str(y, v[T_BY], "by", &c->top.by) == 0) {
		m = column_named(c, c->top.by);
		if (!m ||
		    (m->usage != USAGE_GAUGE && m->usage != USAGE_COUNTER))
			ydoc_error(y, v[T_BY],
				   "'by' must name a gauge or counter column");
	}
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

/* One collector of our format; errors reported, 'c' filled as far as it
 * could be. */
static void parse_collector(struct loader *l, const struct ypair *p,
			    struct collector *c)
{
	struct ydoc *y = &l->y;
	yaml_node_t *v[C_NKEYS];
	struct ypair *cols = NULL;
	bool *used = NULL;
	size_t ncols = 0, i;
	long long iv;
	int e;

	c->name = xstrdup(p->key);
	c->file = xstrdup(y->file);
	c->pos = cpos(l, c, p->knode);
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
	if (c->kind == TARGET_PGBOUNCER) {
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
	if (v[C_PARAMS])
		parse_params(l, c, v[C_PARAMS]);
	used = xcalloc(c->nparams + 1, sizeof(*used));
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
		struct variant *var = add_variant(c);

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
	if (!v[C_METRICS]) {
		ydoc_error(y, p->knode, "missing 'metrics'");
		goto out;
	}
	if (v[C_METRICS]->type != YAML_MAPPING_NODE) {
		ydoc_error(y, v[C_METRICS],
			   "'metrics' must be a mapping of columns, not %s",
			   ydoc_kind(v[C_METRICS]));
		goto out;
	}
	cols = ydoc_pairs(y, v[C_METRICS], "column", &ncols);
	if (!ncols) {
		ydoc_error(y, v[C_METRICS], "'metrics' is empty");
		goto out;
	}
	c->metrics = xcalloc(ncols, sizeof(*c->metrics));
	for (i = 0; i < ncols; i++) {
		size_t len = ydoc_push_context(y, "column", cols[i].key);

		parse_metric(l, c, &cols[i], &c->metrics[c->nmetrics++]);
		ydoc_pop_context(y, len);
	}
	check_columns(l, c, p->knode);
	if (v[C_TOP])
		parse_top(l, c, v[C_TOP], used);
	if (v[C_PIVOT])
		parse_pivot(l, c, v[C_PIVOT]);
	if (v[C_GROUP])
		parse_group(l, c, v[C_GROUP]);
	for (i = 0; i < c->nparams; i++)
		if (!used[i])
			ydoc_warning(y, l->param_nodes[i],
				     "parameter '%s' is not used in the sql",
				     c->params[i].name);
out:
	free(cols);
	free(used);
	free(l->param_nodes);
	l->param_nodes = NULL;
	strmap_release(&l->named_params);
}

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
		var = add_variant(c);
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
	m->pos = cpos(l, c, p->knode);
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
	switch (usage) {
	case CU_LABEL:
		m->usage = USAGE_LABEL;
		break;
	case CU_DISCARD:
		m->usage = USAGE_DISCARD;
		break;
	case CU_COUNTER:
		m->usage = USAGE_COUNTER;
		break;
	case CU_HISTOGRAM:
		m->usage = USAGE_HISTOGRAM;
		break;
	case CU_DURATION:
		/* postgres_exporter names it so and reports milliseconds */
		name = xasprintf("%s_%s_milliseconds", c->name, m->column);
		m->usage = USAGE_GAUGE;
		break;
	default:
		m->usage = USAGE_GAUGE;
		break;
	}
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
			parse_mapping(l, m, map,
				      v[O_METRIC_MAPPING] ? "metric_mapping"
							  : "mapping");
	} else if (v[O_METRIC_MAPPING] || v[O_MAPPING]) {
		ydoc_warning(y,
			     v[O_METRIC_MAPPING] ? v[O_METRIC_MAPPING]
						 : v[O_MAPPING],
			     "a mapping is only read for MAPPEDMETRIC; "
			     "ignored");
	}
	if (is_value(m->usage)) {
		resolve_name(l, c, m, p->knode, name);
		m->help = make_help(c, desc, m->column);
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
static void parse_compat_collector(struct loader *l, const struct ypair *p,
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
	c->pos = cpos(l, c, p->knode);
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
			add_variant(c)->sql = xstrdup(sql);
		for (i = 0; i < c->nvariants; i++) {
			c->variants[i].pos = ydoc_text_pos(y, v[P_QUERY]);
			c->variants[i].pos.file = c->file;
		}
		check_statement(l, c, v[P_QUERY], sql);
	}
	free(sql);
	if (!v[P_METRICS]) {
		ydoc_error(y, p->knode, "missing 'metrics'");
		return;
	}
	parse_compat_metrics(l, c, v[P_METRICS]);
	check_columns(l, c, p->knode);
}

/* The metric of 'c' that takes the name 'name', or NULL. */
static const struct metricdef *find_claimant(const struct collector *c,
					     const char *name)
{
	const struct metricdef *found = NULL;
	char *claims[MAX_CLAIMS];
	size_t i, k, n;

	for (i = 0; i < c->nmetrics && !found; i++) {
		if (!is_value(c->metrics[i].usage) || !c->metrics[i].name)
			continue;
		n = metric_claims(&c->metrics[i], claims);
		for (k = 0; k < n; k++)
			if (strcmp(claims[k], name) == 0)
				found = &c->metrics[i];
		claims_free(claims, n);
	}
	return found;
}

/* Enter qs->v[pos]'s name and the names of its metrics in the indexes. */
static void index_collector(struct queryset *qs, size_t pos)
{
	const struct collector *c = &qs->v[pos];
	size_t i;

	strmap_put(&qs->byname, c->name, (void *)(uintptr_t)(pos + 1), NULL);
	for (i = 0; i < c->nmetrics; i++) {
		char *claims[MAX_CLAIMS];
		size_t nclaims, k;

		if (!is_value(c->metrics[i].usage) || !c->metrics[i].name)
			continue;
		nclaims = metric_claims(&c->metrics[i], claims);
		for (k = 0; k < nclaims; k++)
			strmap_put(&qs->bymetric, claims[k],
				   (void *)(uintptr_t)(pos + 1), NULL);
		claims_free(claims, nclaims);
	}
}

static void reindex(struct queryset *qs, const bool *drop)
{
	size_t k;

	strmap_release(&qs->byname);
	strmap_release(&qs->bymetric);
	for (k = 0; k < qs->n; k++)
		if (!drop[k])
			index_collector(qs, k);
}

static bool has_values(const struct collector *c)
{
	size_t i;

	for (i = 0; i < c->nmetrics; i++)
		if (is_value(c->metrics[i].usage) && c->metrics[i].name)
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

		if (!is_value(c->metrics[i].usage) || !c->metrics[i].name)
			continue;
		nclaims = metric_claims(&c->metrics[i], claims);
		for (k = 0; k < nclaims; k++) {
			uintptr_t idx =
				(uintptr_t)strmap_get(&qs->bymetric, claims[k]);
			struct collector *o = idx ? &qs->v[idx - 1] : NULL;
			const struct metricdef *om =
				o ? find_claimant(o, claims[k]) : NULL;
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
		claims_free(claims, nclaims);
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
			collector_clear(&qs->v[i]);
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
		collector_clear(c);
		return;
	}
	sig = label_signature(c);
	for (i = 0; i < c->nmetrics; i++) {
		const struct metricdef *m = &c->metrics[i], *om;
		char *claims[MAX_CLAIMS];
		size_t nclaims, k;
		bool clash = false;

		if (!is_value(m->usage) || !m->name)
			continue;
		nclaims = metric_claims(m, claims);
		/* One message per metric is enough. */
		for (k = 0; k < nclaims && !clash; k++) {
			const struct collector *o;
			char *osig;

			idx = (uintptr_t)strmap_get(&qs->bymetric, claims[k]);
			if (!idx)
				continue;
			o = &qs->v[idx - 1];
			om = find_claimant(o, claims[k]);
			if (!om)
				continue;
			osig = label_signature(o);
			if (strcmp(om->name, m->name) != 0 ||
			    om->usage != m->usage || strcmp(sig, osig) != 0) {
				report_clash(l, c, m, o->name, om, osig);
				clash = true;
				ok = false;
			}
			free(osig);
		}
		claims_free(claims, nclaims);
	}
	free(sig);
	if (!ok) {
		collector_clear(c);
		return;
	}
	ALLOC_GROW(qs->v, qs->n + 1, qs->alloc);
	qs->v[qs->n] = *c;
	qs->n++;
	index_collector(qs, qs->n - 1);
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
			collector_clear(&c);
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
		load_entries(&l, root, parse_compat_collector);
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
		load_entries(&l, v, parse_collector);
out:
	ydoc_sort_diags(d, first);
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
	       (ends_with(name, ".yaml") || ends_with(name, ".yml"));
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
		qsort(names, n, sizeof(*names), cmp_str);
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
		collector_clear(&qs->v[i]);
	free(qs->v);
	qs->v = NULL;
	qs->n = qs->alloc = 0;
	strmap_release(&qs->byname);
	strmap_release(&qs->bymetric);
}
