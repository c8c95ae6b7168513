/*
 * The YAML config file into a struct config: its top-level sections
 * (targets, limits, queries, compat, probe, auth modules, parameter
 * overrides), every problem reported at its file:line:column.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libpq-fe.h>
#include "config.h"
#include "config_int.h"
#include "dbpattern.h"
#include "duration.h"
#include "log.h"
#include "names.h"
#include "strmap.h"
#include "xalloc.h"
#include "ydoc.h"

static const char *const top_keys[] = {"targets", "limits",	  "queries",
				       "probe",	  "auth_modules", "params",
				       "compat"};
enum {
	T_TARGETS,
	T_LIMITS,
	T_QUERIES,
	T_PROBE,
	T_AUTH,
	T_PARAMS,
	T_COMPAT,
	T_N
};

enum {
	L_CONNECTIONS,
	L_SCRAPE_TIMEOUT,
	L_CONNECT_TIMEOUT,
	L_STATEMENT_TIMEOUT,
	L_LOCK_TIMEOUT,
	L_IDLE_TIMEOUT,
	L_MAX_SERIES,
	L_TARGET_MAX_SERIES,
	L_DB_LOGINS,
	L_DB_STALENESS,
	L_N
};
static const char *const limit_keys[L_N] = {
	[L_CONNECTIONS] = "connections_per_target",
	[L_SCRAPE_TIMEOUT] = "scrape_timeout",
	[L_CONNECT_TIMEOUT] = "connect_timeout",
	[L_STATEMENT_TIMEOUT] = "statement_timeout",
	[L_LOCK_TIMEOUT] = "lock_timeout",
	[L_IDLE_TIMEOUT] = "idle_timeout",
	[L_MAX_SERIES] = "max_series",
	[L_TARGET_MAX_SERIES] = "target_max_series",
	[L_DB_LOGINS] = "database_logins_per_scrape",
	[L_DB_STALENESS] = "database_max_staleness",
};

static void parse_queries(struct cloader *l, yaml_node_t *n)
{
	struct config *cfg = l->cfg;
	char **v;
	size_t nv, i;

	if (ydoc_strlist(&l->y, n, "queries", &v, &nv) < 0)
		return;
	cfg->query_paths = xcalloc(nv + 1, sizeof(*cfg->query_paths));
	for (i = 0; i < nv; i++)
		cfg->query_paths[i] = cfg_resolve_path(l, v[i]);
	cfg->nquery_paths = nv;
	ydoc_strv_free(v, nv);
}

static void parse_compat(struct cloader *l, yaml_node_t *n)
{
	struct config *cfg = l->cfg;
	char **v;
	size_t nv, i;

	if (ydoc_strlist(&l->y, n, "compat", &v, &nv) < 0)
		return;
	cfg->compat = xcalloc(nv + 1, sizeof(*cfg->compat));
	for (i = 0; i < nv; i++) {
		const char *name = config_compat_find(v[i], strlen(v[i]));

		if (name)
			cfg->compat[cfg->ncompat++] = name;
		else
			ydoc_error(&l->y, n,
				   "unknown compat '%.64s': postgres_exporter "
				   "or pgbouncer_exporter",
				   v[i]);
	}
	ydoc_strv_free(v, nv);
}

static void parse_timeout(struct cloader *l, yaml_node_t *n, const char *what,
			  bool zero_ok, double *out)
{
	double d;

	if (!n || ydoc_duration(&l->y, n, what, &d) < 0)
		return;
	if (d == 0 && !zero_ok) {
		ydoc_error(&l->y, n, "'%s' must be more than 0", what);
		return;
	}
	*out = d;
}

/* The keys of the database visits (visits.h). */
static void parse_visit_limits(struct cloader *l, yaml_node_t **v)
{
	struct config *cfg = l->cfg;
	double d;

	if (!v[L_DB_LOGINS] ||
	    ydoc_double(&l->y, v[L_DB_LOGINS], "database_logins_per_scrape",
			&d) < 0)
		;
	else if (!(d >= 0 && d <= 10000))
		ydoc_error(&l->y, v[L_DB_LOGINS],
			   "'database_logins_per_scrape' must be from 0 (no "
			   "budget) to 10000, not %g",
			   d);
	else
		cfg->database_logins_per_scrape = d;
	parse_timeout(l, v[L_DB_STALENESS], "database_max_staleness", false,
		      &cfg->database_max_staleness);
}

static void parse_limits(struct cloader *l, yaml_node_t *n)
{
	struct config *cfg = l->cfg;
	yaml_node_t *v[L_N];
	long long iv;

	if (ydoc_fields(&l->y, n, "limits", limit_keys, L_N, v, DIAG_ERROR) < 0)
		return;
	if (v[L_CONNECTIONS] &&
	    ydoc_int(&l->y, v[L_CONNECTIONS], "connections_per_target", 1, 100,
		     &iv) == 0)
		cfg->connections_per_target = (unsigned)iv;
	parse_timeout(l, v[L_SCRAPE_TIMEOUT], "scrape_timeout", false,
		      &cfg->scrape_timeout);
	parse_timeout(l, v[L_CONNECT_TIMEOUT], "connect_timeout", false,
		      &cfg->connect_timeout);
	/* 0 turns these PostgreSQL timeouts off, as it does in PostgreSQL */
	parse_timeout(l, v[L_STATEMENT_TIMEOUT], "statement_timeout", true,
		      &cfg->statement_timeout);
	parse_timeout(l, v[L_LOCK_TIMEOUT], "lock_timeout", true,
		      &cfg->lock_timeout);
	parse_timeout(l, v[L_IDLE_TIMEOUT], "idle_timeout", false,
		      &cfg->idle_timeout);
	if (v[L_MAX_SERIES] && ydoc_int(&l->y, v[L_MAX_SERIES], "max_series", 1,
					100000000, &iv) == 0)
		cfg->max_series = (size_t)iv;
	/* 0: no budget (every series of every database) */
	if (v[L_TARGET_MAX_SERIES] &&
	    ydoc_int(&l->y, v[L_TARGET_MAX_SERIES], "target_max_series", 0,
		     100000000, &iv) == 0)
		cfg->target_max_series = (size_t)iv;
	parse_visit_limits(l, v);
	if (v[L_STATEMENT_TIMEOUT] && cfg->statement_timeout > 0 &&
	    cfg->statement_timeout >= cfg->scrape_timeout)
		ydoc_warning(&l->y, v[L_STATEMENT_TIMEOUT],
			     "'statement_timeout' (%gs) is not shorter than "
			     "'scrape_timeout' (%gs): a slow query fails the "
			     "whole scrape",
			     cfg->statement_timeout, cfg->scrape_timeout);
}

static void parse_probe(struct cloader *l, yaml_node_t *n)
{
	static const char *const keys[] = {"allow", "max_targets"};
	yaml_node_t *v[2];
	long long iv;

	if (ydoc_fields(&l->y, n, "probe", keys, 2, v, DIAG_ERROR) < 0)
		return;
	if (v[0]) {
		struct err e = ERR_INIT;

		cfg_parse_regexes(l, v[0], "allow", &l->cfg->probe_allow,
				  &l->cfg->nprobe_allow);
		/* once here, not per request; a bad one was reported above */
		if (dbpattern_compile(l->cfg->probe_allow, l->cfg->nprobe_allow,
				      true, &l->cfg->probe_re, &e) < 0)
			l->cfg->probe_re = NULL;
	}
	if (v[1] && ydoc_int(&l->y, v[1], "max_targets", 1, 4096, &iv) == 0)
		l->cfg->probe_max_targets = (unsigned)iv;
}

/*
 * libpq keywords an auth module's options may set: the host, port and
 * database come from the probe's target, the user from 'userpass'.
 */
static const char *const auth_option_keys[] = {
	"sslmode",    "sslrootcert",	 "sslcert",	    "sslkey",
	"sslcrl",     "sslcrldir",	 "sslsni",	    "gssencmode",
	"krbsrvname", "channel_binding", "connect_timeout", "options",
};

static void parse_userpass(struct cloader *l, struct auth_module *m,
			   yaml_node_t *n)
{
	static const char *const keys[] = {"username", "password",
					   "password_file", "password_env",
					   "password_command"};
	yaml_node_t *v[5];

	if (ydoc_fields(&l->y, n, "userpass", keys, 5, v, DIAG_ERROR) < 0)
		return;
	if (!v[0])
		ydoc_error(&l->y, n, "missing 'username'");
	else
		(void)!ydoc_str(&l->y, v[0], "username", &m->username);
	cfg_parse_password_source(l, v[1], v[2], v[3], v[4], &m->password,
				  &m->password_file, &m->password_env,
				  &m->password_command);
}

static void parse_auth_options(struct cloader *l, struct auth_module *m,
			       yaml_node_t *n)
{
	struct ypair *pairs;
	size_t np, i, k;
	const char *near;
	char *val;

	if (!n || n->type != YAML_MAPPING_NODE) {
		ydoc_error(&l->y, n, "'options' must be a mapping, not %s",
			   ydoc_kind(n));
		return;
	}
	pairs = ydoc_pairs(&l->y, n, "option", &np);
	m->opt_keys = xcalloc(np + 1, sizeof(*m->opt_keys));
	m->opt_vals = xcalloc(np + 1, sizeof(*m->opt_vals));
	for (i = 0; i < np; i++) {
		for (k = 0; k < ARRAY_SIZE(auth_option_keys); k++)
			if (!strcmp(pairs[i].key, auth_option_keys[k]))
				break;
		if (k == ARRAY_SIZE(auth_option_keys)) {
			near = ydoc_suggest(pairs[i].key, auth_option_keys,
					    ARRAY_SIZE(auth_option_keys));
			ydoc_error(&l->y, pairs[i].knode,
				   "option '%.64s' cannot be set by an auth "
				   "module%s%s%s",
				   pairs[i].key, near ? " (did you mean '" : "",
				   near ? near : "", near ? "'?)" : "");
			continue;
		}
		if (ydoc_str(&l->y, pairs[i].vnode, pairs[i].key, &val) < 0)
			continue;
		m->opt_keys[m->nopts] = xstrdup(pairs[i].key);
		m->opt_vals[m->nopts++] = val;
	}
	free(pairs);
}

static void parse_auth_module(struct cloader *l, const struct ypair *p)
{
	static const char *const keys[] = {"type", "userpass", "options"};
	static const char *const types[] = {"userpass"};
	struct ydoc *y = &l->y;
	size_t nerr = y->d->nerrors;
	struct auth_module m;
	yaml_node_t *v[3];
	int t;

	memset(&m, 0, sizeof(m));
	ydoc_set_context(y, "auth module", p->key);
	m.pos = ydoc_pos(y, p->knode);
	m.pos.file = l->cfg->path;
	if (!cfg_target_name_valid(p->key))
		ydoc_error(y, p->knode,
			   "invalid auth module name (letters, digits, '_', "
			   "'.' and '-')");
	if (ydoc_fields(y, p->vnode, "auth module", keys, 3, v, DIAG_ERROR) < 0)
		goto out;
	if (!v[0])
		ydoc_error(y, p->vnode, "missing 'type' (userpass)");
	else
		(void)!ydoc_enum(y, v[0], "type", types, 1, &t);
	if (!v[1])
		ydoc_error(y, p->vnode, "missing 'userpass'");
	else
		parse_userpass(l, &m, v[1]);
	if (v[2])
		parse_auth_options(l, &m, v[2]);
	if (y->d->nerrors == nerr) {
		struct config *cfg = l->cfg;

		m.name = xstrdup(p->key);
		cfg->auth_modules =
			xrealloc(cfg->auth_modules,
				 (cfg->nauth_modules + 1) * sizeof(m));
		cfg->auth_modules[cfg->nauth_modules++] = m;
		memset(&m, 0, sizeof(m));
	}
out:
	cfg_auth_module_release(&m);
	ydoc_set_context(y, NULL, NULL);
}

static void parse_auth_modules(struct cloader *l, yaml_node_t *n)
{
	struct ypair *pairs;
	size_t np, i;

	if (ydoc_is_null(n))
		return;
	if (n->type != YAML_MAPPING_NODE) {
		ydoc_error(&l->y, n, "'auth_modules' must be a mapping, not %s",
			   ydoc_kind(n));
		return;
	}
	pairs = ydoc_pairs(&l->y, n, "auth module", &np);
	for (i = 0; i < np; i++)
		parse_auth_module(l, &pairs[i]);
	free(pairs);
}

/* "collector.param: value" overrides of query parameters. */
static void parse_params(struct cloader *l, yaml_node_t *n)
{
	struct config *cfg = l->cfg;
	struct ypair *pairs;
	size_t np, i;
	char q[64];

	if (!n || n->type != YAML_MAPPING_NODE) {
		ydoc_error(&l->y, n, "'params' must be a mapping, not %s",
			   ydoc_kind(n));
		return;
	}
	pairs = ydoc_pairs(&l->y, n, "parameter", &np);
	cfg->param_keys = xcalloc(np + 1, sizeof(*cfg->param_keys));
	cfg->param_vals = xcalloc(np + 1, sizeof(*cfg->param_vals));
	cfg->param_pos = xcalloc(np + 1, sizeof(*cfg->param_pos));
	for (i = 0; i < np; i++) {
		const char *key = pairs[i].key, *dot = strchr(key, '.');
		char *val;

		if (!dot || !ident_valid_len(key, (size_t)(dot - key)) ||
		    !ident_valid(dot + 1)) {
			ydoc_error(&l->y, pairs[i].knode,
				   "parameter '%s' must be written "
				   "collector.parameter",
				   ydoc_quote(pairs[i].knode, q, sizeof(q)));
			continue;
		}
		if (ydoc_str(&l->y, pairs[i].vnode, key, &val) < 0)
			continue;
		if (!param_value_valid(val)) {
			ydoc_error(&l->y, pairs[i].vnode,
				   "parameter '%s' must be a number or an "
				   "identifier (letters, digits, '_' and '.'), "
				   "not '%s'",
				   key,
				   ydoc_quote(pairs[i].vnode, q, sizeof(q)));
			free(val);
			continue;
		}
		cfg->param_keys[cfg->nparams] = xstrdup(key);
		cfg->param_vals[cfg->nparams] = val;
		cfg->param_pos[cfg->nparams] = ydoc_pos(&l->y, pairs[i].knode);
		cfg->param_pos[cfg->nparams].file = cfg->path;
		cfg->nparams++;
	}
	free(pairs);
}

int config_load(struct config *cfg, const char *path, struct diags *d)
{
	struct cloader l;
	size_t nerr = d->nerrors, first = d->n, len;
	yaml_node_t *root, *v[T_N];
	char *text = NULL;
	const char *slash;

	config_init(cfg);
	cfg->path = xstrdup(path);
	memset(&l, 0, sizeof(l));
	l.cfg = cfg;
	slash = strrchr(path, '/');
	if (slash)
		l.dir = xstrndup(path,
				 slash == path ? 1 : (size_t)(slash - path));
	text = ydoc_read_file(path, MAX_CONFIG_BYTES, &len, d);
	if (!text)
		goto out;
	if (ydoc_load(&l.y, path, text, len, d) < 0)
		goto out;
	root = ydoc_root(&l.y);
	if (!root || ydoc_is_null(root)) {
		/* a file cut short while being written must not drop targets */
		diags_add(d, DIAG_ERROR, path, 1, 1,
			  "the config file is empty; for a config without "
			  "targets write 'targets: []'");
		goto out;
	}
	if (ydoc_fields(&l.y, root, "config", top_keys, T_N, v, DIAG_ERROR) < 0)
		goto out;
	if (v[T_TARGETS])
		cfg_parse_targets(&l, v[T_TARGETS]);
	if (v[T_QUERIES])
		parse_queries(&l, v[T_QUERIES]);
	if (v[T_LIMITS])
		parse_limits(&l, v[T_LIMITS]);
	if (v[T_PROBE])
		parse_probe(&l, v[T_PROBE]);
	if (v[T_AUTH])
		parse_auth_modules(&l, v[T_AUTH]);
	if (v[T_PARAMS])
		parse_params(&l, v[T_PARAMS]);
	if (v[T_COMPAT])
		parse_compat(&l, v[T_COMPAT]);
out:
	diags_sort(d, first);
	ydoc_release(&l.y);
	free(l.dir);
	free(text);
	if (d->nerrors > nerr) {
		config_free(cfg);
		return -1;
	}
	return 0;
}
