/*
 * The exporter's configuration: the YAML file (every problem reported at
 * its file:line:column) or the environment postgres_exporter reads.
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
#include "log.h"
#include "querydef.h"
#include "strmap.h"
#include "xalloc.h"
#include "ydoc.h"

#define MAX_CONFIG_BYTES (1u << 20)
#define MAX_SECRET_BYTES (64u << 10)

/* One config file being loaded. Lives for config_load. */
struct cloader {
	struct ydoc y;
	struct config *cfg;
	char *dir; /* the file's directory, for relative paths; or NULL */
};

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

const struct compat_set config_compat_sets[] = {
	{"postgres_exporter", "compat/postgres_exporter.yaml", "database.yaml"},
	{"pgbouncer_exporter", "compat/pgbouncer_exporter.yaml",
	 "pgbouncer.yaml"},
};
const size_t config_ncompat_sets = ARRAY_SIZE(config_compat_sets);

/*
 * libpq keywords a target may give as keys of its own, passed on as they
 * are; 'values' lists what libpq accepts when it is a fixed set.
 */
static const char *const sslmodes[] = {"disable", "allow",     "prefer",
				       "require", "verify-ca", "verify-full"};
static const char *const gssencmodes[] = {"disable", "prefer", "require"};
static const char *const session_attrs[] = {"any",	 "read-write",
					    "read-only", "primary",
					    "standby",	 "prefer-standby"};
static const char *const channel_bindings[] = {"disable", "prefer", "require"};
static const struct libpq_key {
	const char *name;
	const char *const *values;
	size_t nvalues;
} libpq_keys[] = {
	{"host", NULL, 0},
	{"hostaddr", NULL, 0},
	{"port", NULL, 0},
	{"dbname", NULL, 0},
	{"user", NULL, 0},
	{"passfile", NULL, 0},
	{"service", NULL, 0},
	{"options", NULL, 0},
	{"sslmode", sslmodes, ARRAY_SIZE(sslmodes)},
	{"sslrootcert", NULL, 0},
	{"sslcert", NULL, 0},
	{"sslkey", NULL, 0},
	{"sslcrl", NULL, 0},
	{"sslcrldir", NULL, 0},
	{"sslsni", NULL, 0},
	{"gssencmode", gssencmodes, ARRAY_SIZE(gssencmodes)},
	{"krbsrvname", NULL, 0},
	{"channel_binding", channel_bindings, ARRAY_SIZE(channel_bindings)},
	{"target_session_attrs", session_attrs, ARRAY_SIZE(session_attrs)},
};

/* Keys of a target that are not libpq keywords. */
enum {
	K_NAME,
	K_KIND,
	K_URL,
	K_CONNINFO,
	K_PASSWORD_FILE,
	K_PASSWORD_ENV,
	K_PASSWORD_COMMAND,
	K_PASSWORD,
	K_LABELS,
	K_TAGS,
	K_DATABASES,
	K_DATA_DIRECTORY,
	K_APPLICATION_NAME,
	K_SSLPASSWORD,
	K_N
};
static const char *const target_own_keys[K_N] = {
	[K_NAME] = "name",
	[K_KIND] = "kind",
	[K_URL] = "url",
	[K_CONNINFO] = "conninfo",
	[K_PASSWORD_FILE] = "password_file",
	[K_PASSWORD_ENV] = "password_env",
	[K_PASSWORD_COMMAND] = "password_command",
	[K_PASSWORD] = "password",
	[K_LABELS] = "labels",
	[K_TAGS] = "tags",
	[K_DATABASES] = "databases",
	[K_DATA_DIRECTORY] = "data_directory",
	[K_APPLICATION_NAME] = "application_name",
	[K_SSLPASSWORD] = "sslpassword",
};
#define NTARGET_KEYS (K_N + ARRAY_SIZE(libpq_keys))

const char *const target_kind_names[TARGET_NKINDS] = {
	[TARGET_POSTGRES] = "postgres",
	[TARGET_PGBOUNCER] = "pgbouncer",
};

enum {
	L_CONNECTIONS,
	L_SCRAPE_TIMEOUT,
	L_CONNECT_TIMEOUT,
	L_STATEMENT_TIMEOUT,
	L_LOCK_TIMEOUT,
	L_IDLE_TIMEOUT,
	L_MAX_SERIES,
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
};

void config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->connections_per_target = 2;
	cfg->scrape_timeout = 10;
	cfg->connect_timeout = 5;
	cfg->statement_timeout = 5;
	cfg->lock_timeout = 1;
	cfg->idle_timeout = 60;
	cfg->max_series = 10000;
	cfg->probe_max_targets = 64;
}

static void argv_free(char **argv)
{
	size_t i;

	for (i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

static char **argv_dup(char *const *argv)
{
	size_t n = 0, i;
	char **v;

	if (!argv)
		return NULL;
	while (argv[n])
		n++;
	v = xcalloc(n + 1, sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = xstrdup(argv[i]);
	return v;
}

void target_config_release(struct target_config *t)
{
	size_t i;

	free(t->name);
	for (i = 0; i < t->nparams; i++) {
		/* A literal password may be among the values. */
		if (t->vals[i])
			explicit_bzero(t->vals[i], strlen(t->vals[i]));
		free(t->keys[i]);
		free(t->vals[i]);
	}
	free(t->keys);
	free(t->vals);
	free(t->password_file);
	free(t->password_env);
	argv_free(t->password_command);
	for (i = 0; i < t->nlabels; i++) {
		free(t->labels[i].name);
		free(t->labels[i].value);
	}
	free(t->labels);
	ydoc_strv_free(t->tags, t->ntags);
	ydoc_strv_free(t->db_include, t->ninclude);
	ydoc_strv_free(t->db_exclude, t->nexclude);
	free(t->data_directory);
	memset(t, 0, sizeof(*t));
}

static void auth_module_release(struct auth_module *m)
{
	free(m->name);
	free(m->username);
	if (m->password)
		explicit_bzero(m->password, strlen(m->password));
	free(m->password);
	free(m->password_file);
	free(m->password_env);
	argv_free(m->password_command);
	ydoc_strv_free(m->opt_keys, m->nopts);
	ydoc_strv_free(m->opt_vals, m->nopts);
	memset(m, 0, sizeof(*m));
}

void config_free(struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->ntargets; i++)
		target_config_release(&cfg->targets[i]);
	free(cfg->targets);
	free(cfg->path);
	ydoc_strv_free(cfg->query_paths, cfg->nquery_paths);
	free(cfg->compat);
	ydoc_strv_free(cfg->probe_allow, cfg->nprobe_allow);
	for (i = 0; i < cfg->nauth_modules; i++)
		auth_module_release(&cfg->auth_modules[i]);
	free(cfg->auth_modules);
	ydoc_strv_free(cfg->param_keys, cfg->nparams);
	ydoc_strv_free(cfg->param_vals, cfg->nparams);
	free(cfg->param_pos);
	config_init(cfg);
}

/* Append a libpq keyword/value; both arrays stay NULL-terminated. */
static void push_param(struct target_config *t, const char *key,
		       const char *val)
{
	t->keys = xrealloc(t->keys, (t->nparams + 2) * sizeof(*t->keys));
	t->vals = xrealloc(t->vals, (t->nparams + 2) * sizeof(*t->vals));
	t->keys[t->nparams] = xstrdup(key);
	t->vals[t->nparams] = xstrdup(val);
	t->nparams++;
	t->keys[t->nparams] = NULL;
	t->vals[t->nparams] = NULL;
}

static void push_target(struct config *cfg, struct target_config *t)
{
	cfg->targets = xrealloc(cfg->targets,
				(cfg->ntargets + 1) * sizeof(*cfg->targets));
	cfg->targets[cfg->ntargets++] = *t;
	memset(t, 0, sizeof(*t));
}

/* [a-zA-Z0-9_.-]+ */
static bool target_name_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return false;
	return true;
}

/* [a-zA-Z_][a-zA-Z0-9_]* */
static bool ident_valid(const char *s, size_t len)
{
	size_t i;

	if (!len || (!isalpha((unsigned char)s[0]) && s[0] != '_'))
		return false;
	for (i = 1; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

static bool has_uri_scheme(const char *s)
{
	return strncmp(s, "postgresql://", 13) == 0 ||
	       strncmp(s, "postgres://", 11) == 0;
}

/* 'path' as seen from the config file's directory. */
static char *resolve_path(const struct cloader *l, const char *path)
{
	if (path[0] == '/' || !l->dir)
		return xstrdup(path);
	return xasprintf("%s/%s", l->dir, path);
}

/*
 * Whether 's' may hold a password: a "password" keyword or a URI with
 * user:password@. libpq's parse errors quote pieces of the string, so for
 * such a string they are not shown at all.
 */
static bool may_hold_password(const char *s)
{
	const char *p, *at;

	for (p = s; *p; p++)
		if (strncasecmp(p, "password", 8) == 0)
			return true;
	if (!has_uri_scheme(s))
		return false;
	p = strstr(s, "://") + 3;
	at = strchr(p, '@');
	return at && memchr(p, ':', (size_t)(at - p));
}

/* libpq's message about 's', safe to print, without its newline. */
static void conninfo_message(const char *s, const char *msg, char *out,
			     size_t size)
{
	size_t len;

	if (may_hold_password(s))
		snprintf(out, size, "%s",
			 "malformed (libpq's message is not shown: the "
			 "string holds a password)");
	else
		log_redact(msg ? msg : "out of memory", out, size);
	len = strlen(out);
	while (len && isspace((unsigned char)out[len - 1]))
		out[--len] = '\0';
}

/*
 * Check a URI or conninfo string with libpq without echoing it: libpq's
 * message goes through log_redact, and a password in it draws a warning.
 */
static void check_conninfo(struct cloader *l, const yaml_node_t *n,
			   const char *what, const char *s)
{
	PQconninfoOption *opts, *o;
	char *msg = NULL, safe[256];
	size_t k;

	opts = PQconninfoParse(s, &msg);
	if (!opts) {
		conninfo_message(s, msg, safe, sizeof(safe));
		PQfreemem(msg);
		ydoc_error(&l->y, n, "invalid '%s': %s", what, safe);
		return;
	}
	for (o = opts; o->keyword; o++) {
		if (!o->val)
			continue;
		if (strcmp(o->keyword, "password") == 0 && o->val[0])
			ydoc_warning(&l->y, n,
				     "'%s' holds a password: anyone who can "
				     "read this file can read it; use "
				     "password_file instead",
				     what);
		for (k = 0; k < ARRAY_SIZE(libpq_keys); k++) {
			const struct libpq_key *lk = &libpq_keys[k];
			size_t i;

			if (!lk->values || strcmp(lk->name, o->keyword) != 0)
				continue;
			for (i = 0; i < lk->nvalues; i++)
				if (strcmp(o->val, lk->values[i]) == 0)
					break;
			if (i == lk->nvalues)
				ydoc_error(&l->y, n,
					   "invalid %s '%.32s' in '%s'",
					   lk->name, o->val, what);
		}
	}
	PQconninfoFree(opts);
}

/* A list of POSIX extended regexes, each compiled to check it. */
static void parse_regexes(struct cloader *l, const yaml_node_t *n,
			  const char *what, char ***out, size_t *nout)
{
	size_t i;

	if (ydoc_strlist(&l->y, n, what, out, nout) < 0)
		return;
	for (i = 0; i < *nout; i++) {
		const yaml_node_t *at = ydoc_strlist_item(&l->y, n, i);
		regex_t re;
		char msg[128];
		int rc;

		rc = regcomp(&re, (*out)[i], REG_EXTENDED | REG_NOSUB);
		if (rc) {
			regerror(rc, &re, msg, sizeof(msg));
			ydoc_error(&l->y, at,
				   "invalid regular expression '%.64s': %s",
				   (*out)[i], msg);
			continue;
		}
		regfree(&re);
	}
}

static void parse_labels(struct cloader *l, struct target_config *t,
			 yaml_node_t *n)
{
	struct ypair *pairs;
	size_t np, i;
	char q[64];

	if (!n || n->type != YAML_MAPPING_NODE) {
		ydoc_error(&l->y, n, "'labels' must be a mapping, not %s",
			   ydoc_kind(n));
		return;
	}
	pairs = ydoc_pairs(&l->y, n, "label", &np);
	t->labels = xcalloc(np ? np : 1, sizeof(*t->labels));
	for (i = 0; i < np; i++) {
		char *value;

		if (!label_name_valid(pairs[i].key)) {
			ydoc_error(&l->y, pairs[i].knode,
				   "invalid label name '%s' (letters, digits "
				   "and '_', not starting with a digit or "
				   "'__')",
				   ydoc_quote(pairs[i].knode, q, sizeof(q)));
			continue;
		}
		if (strcmp(pairs[i].key, "target") == 0) {
			ydoc_error(&l->y, pairs[i].knode,
				   "label 'target' is reserved: the exporter "
				   "sets it to the target's name");
			continue;
		}
		if (pairs[i].vnode &&
		    pairs[i].vnode->type != YAML_SCALAR_NODE) {
			ydoc_error(&l->y, pairs[i].vnode,
				   "label '%s' must be a string, not %s",
				   pairs[i].key, ydoc_kind(pairs[i].vnode));
			continue;
		}
		if (ydoc_str(&l->y, pairs[i].vnode, pairs[i].key, &value) < 0)
			continue;
		t->labels[t->nlabels].name = xstrdup(pairs[i].key);
		t->labels[t->nlabels].value = value;
		t->nlabels++;
	}
	free(pairs);
}

static void parse_databases(struct cloader *l, struct target_config *t,
			    yaml_node_t *n)
{
	static const char *const keys[] = {"include", "exclude"};
	yaml_node_t *v[2];

	if (ydoc_fields(&l->y, n, "databases", keys, 2, v, DIAG_ERROR) < 0)
		return;
	if (v[0])
		parse_regexes(l, v[0], "include", &t->db_include, &t->ninclude);
	if (v[1])
		parse_regexes(l, v[1], "exclude", &t->db_exclude, &t->nexclude);
}

/* The connection: url or conninfo first, then libpq keys overriding. */
static void parse_connection(struct cloader *l, struct target_config *t,
			     yaml_node_t **v)
{
	yaml_node_t **lv = v + K_N;
	char *s;
	size_t k;
	int e;

	if (v[K_URL] && v[K_CONNINFO])
		ydoc_error(&l->y, v[K_CONNINFO],
			   "'url' and 'conninfo' cannot be used together");
	if (v[K_URL] && ydoc_str(&l->y, v[K_URL], "url", &s) == 0) {
		if (!has_uri_scheme(s))
			ydoc_error(&l->y, v[K_URL],
				   "'url' must start with postgresql:// (use "
				   "'conninfo' for key=value strings)");
		else
			check_conninfo(l, v[K_URL], "url", s);
		push_param(t, "dbname", s);
		free(s);
	} else if (v[K_CONNINFO] &&
		   ydoc_str(&l->y, v[K_CONNINFO], "conninfo", &s) == 0) {
		check_conninfo(l, v[K_CONNINFO], "conninfo", s);
		push_param(t, "dbname", s);
		free(s);
	}
	for (k = 0; k < ARRAY_SIZE(libpq_keys); k++) {
		const struct libpq_key *lk = &libpq_keys[k];

		if (!lv[k])
			continue;
		if (lk->values) {
			if (ydoc_enum(&l->y, lv[k], lk->name, lk->values,
				      lk->nvalues, &e) == 0)
				push_param(t, lk->name, lk->values[e]);
			continue;
		}
		if (ydoc_str(&l->y, lv[k], lk->name, &s) < 0)
			continue;
		if (strcmp(lk->name, "dbname") == 0 &&
		    (has_uri_scheme(s) || strchr(s, '=')))
			ydoc_error(&l->y, lv[k],
				   "'dbname' names a database; put a "
				   "connection string in 'url' or 'conninfo'");
		push_param(t, lk->name, s);
		free(s);
	}
	if (v[K_APPLICATION_NAME])
		ydoc_error(&l->y, v[K_APPLICATION_NAME],
			   "'application_name' is always 'pgpulse', so "
			   "sessions are easy to find in pg_stat_activity");
	if (v[K_SSLPASSWORD])
		ydoc_error(&l->y, v[K_SSLPASSWORD],
			   "'sslpassword' is not supported: use a key "
			   "without a passphrase, readable only by pgpulse");
}

/*
 * 'password_command': a list, the program (a relative path with a '/' taken
 * from the config's directory, a bare name searched in PATH) and its
 * arguments, run without a shell. Into '*pcmd', NULL-terminated.
 */
static void parse_password_command(struct cloader *l, yaml_node_t *n,
				   char ***pcmd)
{
	char **v;
	size_t nv, i;

	if (n->type != YAML_SEQUENCE_NODE) {
		ydoc_error(&l->y, n,
			   "'password_command' must be a list: the program "
			   "and its arguments, run without a shell");
		return;
	}
	if (ydoc_strlist(&l->y, n, "password_command", &v, &nv) < 0)
		return;
	if (!nv || !*v[0]) {
		ydoc_error(&l->y, n, "'password_command' names no program");
		ydoc_strv_free(v, nv);
		return;
	}
	*pcmd = xcalloc(nv + 1, sizeof(**pcmd));
	for (i = 0; i < nv; i++)
		(*pcmd)[i] = i == 0 && strchr(v[0], '/') ? resolve_path(l, v[0])
							 : xstrdup(v[i]);
	ydoc_strv_free(v, nv);
}

/*
 * A password given one of four ways, for a target or an auth module: the
 * nodes 'lit', 'file', 'env' and 'cmd' (each may be NULL) into '*literal'
 * (warned about: the caller stores it, then wipes it), '*pfile' (resolved
 * against the config's directory), '*penv' and '*pcmd'. More than one is
 * an error.
 */
static void parse_password_source(struct cloader *l, yaml_node_t *lit,
				  yaml_node_t *file, yaml_node_t *env,
				  yaml_node_t *cmd, char **literal,
				  char **pfile, char **penv, char ***pcmd)
{
	char *s;

	if (!!lit + !!file + !!env > 1)
		ydoc_error(&l->y, lit ? lit : env,
			   "give only one of 'password_file', 'password_env' "
			   "and 'password'");
	if (cmd && (lit || file || env))
		ydoc_error(&l->y, cmd,
			   "'password_command' gives the password: leave out "
			   "'password_file', 'password_env' and 'password'");
	if (cmd)
		parse_password_command(l, cmd, pcmd);
	if (file && ydoc_str(&l->y, file, "password_file", &s) == 0) {
		*pfile = resolve_path(l, s);
		free(s);
	}
	if (env && ydoc_str(&l->y, env, "password_env", &s) == 0) {
		if (!ident_valid(s, strlen(s)))
			ydoc_error(&l->y, env,
				   "'password_env' must name an environment "
				   "variable");
		*penv = s;
	}
	if (lit && ydoc_str(&l->y, lit, "password", literal) == 0)
		ydoc_warning(&l->y, lit,
			     "a password in the config file can be read by "
			     "anyone who can read the file; use "
			     "password_file instead");
}

static void parse_password(struct cloader *l, struct target_config *t,
			   yaml_node_t **v)
{
	char *s = NULL;

	parse_password_source(l, v[K_PASSWORD], v[K_PASSWORD_FILE],
			      v[K_PASSWORD_ENV], v[K_PASSWORD_COMMAND], &s,
			      &t->password_file, &t->password_env,
			      &t->password_command);
	if (s) {
		push_param(t, "password", s);
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Name the target in messages as soon as its name is known to be good. */
static void set_target_context(struct ydoc *y, const yaml_node_t *map)
{
	yaml_node_pair_t *p;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(&y->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&y->doc, p->value);

		if (k && k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, "name") == 0 &&
		    v && v->type == YAML_SCALAR_NODE && !ydoc_is_null(v) &&
		    strlen((const char *)v->data.scalar.value) ==
			    v->data.scalar.length) {
			ydoc_set_context(y, "target",
					 (const char *)v->data.scalar.value);
			return;
		}
	}
}

static void parse_target(struct cloader *l, yaml_node_t *n, size_t idx,
			 struct strmap *names)
{
	struct ydoc *y = &l->y;
	const char *names_tab[NTARGET_KEYS];
	yaml_node_t *v[NTARGET_KEYS];
	struct target_config t;
	size_t nerr = y->d->nerrors, k;
	char label[32];
	void *old = NULL;
	int e;

	memset(&t, 0, sizeof(t));
	snprintf(label, sizeof(label), "target #%zu", idx + 1);
	ydoc_set_context(y, label, NULL);
	t.pos = ydoc_pos(y, n);
	t.pos.file = l->cfg->path;
	for (k = 0; k < K_N; k++)
		names_tab[k] = target_own_keys[k];
	for (k = 0; k < ARRAY_SIZE(libpq_keys); k++)
		names_tab[K_N + k] = libpq_keys[k].name;
	if (!n || n->type != YAML_MAPPING_NODE) {
		ydoc_error(y, n, "a target must be a mapping, not %s",
			   ydoc_kind(n));
		return;
	}
	/* The name first, so every message can say which target. */
	set_target_context(y, n);
	if (ydoc_fields(y, n, "target", names_tab, NTARGET_KEYS, v,
			DIAG_ERROR) < 0)
		return;
	if (!v[K_NAME]) {
		ydoc_error(y, n, "missing 'name'");
	} else if (ydoc_str(y, v[K_NAME], "name", &t.name) == 0) {
		ydoc_set_context(y, "target", t.name);
		if (!target_name_valid(t.name))
			ydoc_error(y, v[K_NAME],
				   "invalid target name (letters, digits, "
				   "'_', '.' and '-')");
		else if (!strmap_put(names, t.name, v[K_NAME], &old))
			ydoc_error(y, v[K_NAME],
				   "duplicate target (first at %s:%u:%u)",
				   y->file, ydoc_pos(y, old).line,
				   ydoc_pos(y, old).column);
	}
	if (v[K_KIND] && ydoc_enum(y, v[K_KIND], "kind", target_kind_names,
				   TARGET_NKINDS, &e) == 0)
		t.kind = (enum target_kind)e;
	parse_connection(l, &t, v);
	parse_password(l, &t, v);
	if (v[K_LABELS])
		parse_labels(l, &t, v[K_LABELS]);
	if (v[K_TAGS] &&
	    ydoc_strlist(y, v[K_TAGS], "tags", &t.tags, &t.ntags) < 0)
		t.ntags = 0;
	if (v[K_DATABASES])
		parse_databases(l, &t, v[K_DATABASES]);
	if (v[K_DATA_DIRECTORY] &&
	    ydoc_str(y, v[K_DATA_DIRECTORY], "data_directory",
		     &t.data_directory) == 0 &&
	    t.data_directory[0] != '/')
		ydoc_error(y, v[K_DATA_DIRECTORY],
			   "'data_directory' must be an absolute path");
	if (t.kind == TARGET_PGBOUNCER) {
		if (v[K_DATABASES])
			ydoc_error(y, v[K_DATABASES],
				   "'databases' does not apply to pgbouncer "
				   "targets");
		if (v[K_DATA_DIRECTORY])
			ydoc_error(y, v[K_DATA_DIRECTORY],
				   "'data_directory' does not apply to "
				   "pgbouncer targets");
	}
	if (y->d->nerrors == nerr)
		push_target(l->cfg, &t);
	target_config_release(&t);
}

static void parse_targets(struct cloader *l, yaml_node_t *n)
{
	struct strmap names = STRMAP_INIT;
	yaml_node_item_t *it;
	size_t i = 0;

	if (ydoc_is_null(n))
		return;
	if (n->type != YAML_SEQUENCE_NODE) {
		ydoc_error(&l->y, n, "'targets' must be a list, not %s",
			   ydoc_kind(n));
		return;
	}
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++, i++)
		parse_target(l, yaml_document_get_node(&l->y.doc, *it), i,
			     &names);
	ydoc_set_context(&l->y, NULL, NULL);
	strmap_release(&names);
}

static void parse_queries(struct cloader *l, yaml_node_t *n)
{
	struct config *cfg = l->cfg;
	char **v;
	size_t nv, i;

	if (ydoc_strlist(&l->y, n, "queries", &v, &nv) < 0)
		return;
	cfg->query_paths = xcalloc(nv + 1, sizeof(*cfg->query_paths));
	for (i = 0; i < nv; i++)
		cfg->query_paths[i] = resolve_path(l, v[i]);
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

const char *config_compat_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < config_ncompat_sets; i++)
		if (strlen(config_compat_sets[i].name) == len &&
		    !strncmp(config_compat_sets[i].name, name, len))
			return config_compat_sets[i].name;
	return NULL;
}

const struct compat_set *config_compat_set(const char *name)
{
	size_t i;

	for (i = 0; i < config_ncompat_sets; i++)
		if (!strcmp(config_compat_sets[i].name, name))
			return &config_compat_sets[i];
	return NULL;
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
	if (v[0])
		parse_regexes(l, v[0], "allow", &l->cfg->probe_allow,
			      &l->cfg->nprobe_allow);
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
	parse_password_source(l, v[1], v[2], v[3], v[4], &m->password,
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
	if (!target_name_valid(p->key))
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
	auth_module_release(&m);
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

		if (!dot || !ident_valid(key, (size_t)(dot - key)) ||
		    !ident_valid(dot + 1, strlen(dot + 1))) {
			ydoc_error(&l->y, pairs[i].knode,
				   "parameter '%s' must be written "
				   "collector.parameter",
				   ydoc_quote(pairs[i].knode, q, sizeof(q)));
			continue;
		}
		if (ydoc_str(&l->y, pairs[i].vnode, key, &val) < 0)
			continue;
		if (!querydef_param_value_valid(val)) {
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
		parse_targets(&l, v[T_TARGETS]);
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
	ydoc_sort_diags(d, first);
	ydoc_release(&l.y);
	free(l.dir);
	free(text);
	if (d->nerrors > nerr) {
		config_free(cfg);
		return -1;
	}
	return 0;
}

const struct auth_module *config_auth_module(const struct config *cfg,
					     const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nauth_modules; i++)
		if (!strcmp(cfg->auth_modules[i].name, name))
			return &cfg->auth_modules[i];
	return NULL;
}

bool config_probe_allowed(const struct config *cfg, const char *hostport)
{
	bool ok = false;
	size_t i;

	for (i = 0; i < cfg->nprobe_allow && !ok; i++) {
		char *anchored = xasprintf("^(%s)$", cfg->probe_allow[i]);
		regex_t re;

		/* the patterns were compiled when the file was loaded */
		if (regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB) == 0) {
			ok = regexec(&re, hostport, 0, NULL, 0) == 0;
			regfree(&re);
		}
		free(anchored);
	}
	return ok;
}

void config_probe_target(struct target_config *t, const char *name,
			 const char *host, const char *port, const char *dbname,
			 const struct auth_module *am)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	t->name = xstrdup(name);
	t->kind = TARGET_POSTGRES;
	push_param(t, "host", host);
	push_param(t, "port", port);
	push_param(t, "dbname", dbname ? dbname : "postgres");
	if (!am)
		return;
	push_param(t, "user", am->username);
	if (am->password)
		push_param(t, "password", am->password);
	t->password_file =
		am->password_file ? xstrdup(am->password_file) : NULL;
	t->password_env = am->password_env ? xstrdup(am->password_env) : NULL;
	t->password_command = argv_dup(am->password_command);
	for (i = 0; i < am->nopts; i++)
		push_param(t, am->opt_keys[i], am->opt_vals[i]);
	t->pos = am->pos;
}

int config_parse_duration(const char *s, double *out)
{
	static const struct {
		const char *unit;
		double seconds;
	} units[] = {
		{"ms", 0.001}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400},
	};
	const char *p = s;
	double total = 0;

	if (!s || !*s)
		return -1;
	while (*p) {
		const char *start = p, *u;
		char num[32];
		bool digits = false, dot = false;
		size_t k, ulen;

		for (; isdigit((unsigned char)*p) || (*p == '.' && !dot); p++) {
			if (*p == '.')
				dot = true;
			else
				digits = true;
		}
		if (!digits || (size_t)(p - start) >= sizeof(num))
			return -1;
		memcpy(num, start, (size_t)(p - start));
		num[p - start] = '\0';
		for (u = p; isalpha((unsigned char)*p); p++)
			;
		ulen = (size_t)(p - u);
		if (!ulen) {
			/* A bare number of seconds, alone. */
			if (start != s || *p)
				return -1;
			total = strtod(num, NULL);
			break;
		}
		for (k = 0; k < ARRAY_SIZE(units); k++)
			if (strlen(units[k].unit) == ulen &&
			    strncmp(units[k].unit, u, ulen) == 0)
				break;
		if (k == ARRAY_SIZE(units))
			return -1;
		total += strtod(num, NULL) * units[k].seconds;
	}
	if (!isfinite(total))
		return -1;
	*out = total;
	return 0;
}

char *config_read_secret(const char *path, struct err *e)
{
	const char *why = NULL;
	FILE *fp = ydoc_open_regular(path, &why);
	char *buf, *start;
	size_t len = 0, got;

	if (!fp) {
		err_set(e, "cannot read secret file '%s': %s", path, why);
		return NULL;
	}
	buf = xmalloc(MAX_SECRET_BYTES + 1);
	while ((got = fread(buf + len, 1, MAX_SECRET_BYTES + 1 - len, fp)))
		len += got;
	if (ferror(fp) || len > MAX_SECRET_BYTES) {
		if (ferror(fp))
			err_set(e, "cannot read secret file '%s': %s", path,
				strerror(errno));
		else
			err_set(e, "secret file '%s' is larger than %u KiB",
				path, MAX_SECRET_BYTES >> 10);
		memset(buf, 0, len);
		free(buf);
		fclose(fp);
		return NULL;
	}
	fclose(fp);
	buf[len] = '\0';
	while (len && isspace((unsigned char)buf[len - 1]))
		buf[--len] = '\0';
	for (start = buf; isspace((unsigned char)*start); start++)
		;
	if (start != buf)
		memmove(buf, start, strlen(start) + 1);
	return buf;
}

/* The variable's value when set and not empty, else NULL. */
static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* A value from NAME_FILE (read now, trimmed) or else NAME, or NULL. */
static int env_or_file(const char *name, char **out, struct err *e)
{
	char fname[64];
	const char *path, *v;

	*out = NULL;
	snprintf(fname, sizeof(fname), "%s_FILE", name);
	path = env(fname);
	if (path) {
		*out = config_read_secret(path, e);
		return *out ? 0 : err_wrap(e, "%s", fname);
	}
	v = env(name);
	if (v)
		*out = xstrdup(v);
	return 0;
}

static int check_env_conninfo(const char *var, const char *s, struct err *e)
{
	PQconninfoOption *opts;
	char *msg = NULL, safe[256];

	opts = PQconninfoParse(s, &msg);
	if (opts) {
		PQconninfoFree(opts);
		return 0;
	}
	conninfo_message(s, msg, safe, sizeof(safe));
	PQfreemem(msg);
	return err_set(e, "%s: invalid connection string: %s", var, safe);
}

/*
 * DATA_SOURCE_PASS[_FILE], read at each connect. They go with
 * DATA_SOURCE_NAME too (the README's first example): a password in the
 * DSN itself is then overridden.
 */
static void env_password(struct target_config *t)
{
	if (env("DATA_SOURCE_PASS_FILE"))
		t->password_file = xstrdup(env("DATA_SOURCE_PASS_FILE"));
	else if (env("DATA_SOURCE_PASS"))
		t->password_env = xstrdup("DATA_SOURCE_PASS");
}

int config_add_env_target(struct config *cfg, const char *name, struct err *e)
{
	struct target_config t;
	const char *dsn, *var = "DATA_SOURCE_NAME";
	char *uri = NULL, *user = NULL, *full = NULL;
	size_t i;
	int rc = -1;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < cfg->ntargets; i++)
		if (strcmp(cfg->targets[i].name, name) == 0)
			return err_set(e, "target '%s' is already defined",
				       name);
	t.name = xstrdup(name);
	t.kind = TARGET_POSTGRES;
	t.keys = xcalloc(1, sizeof(*t.keys));
	t.vals = xcalloc(1, sizeof(*t.vals));
	dsn = env("DATA_SOURCE_NAME");
	if (!dsn) {
		dsn = env("DATABASE_URL");
		var = "DATABASE_URL";
	}
	if (dsn) {
		/* A whole connection string: used as it is, as the peer does */
		if (check_env_conninfo(var, dsn, e) < 0)
			goto out;
		push_param(&t, "dbname", dsn);
		env_password(&t);
		push_target(cfg, &t);
		rc = 0;
		goto out;
	}
	if (env_or_file("DATA_SOURCE_URI", &uri, e) < 0 ||
	    env_or_file("DATA_SOURCE_USER", &user, e) < 0)
		goto out;
	if (uri && *uri) {
		var = env("DATA_SOURCE_URI_FILE") ? "DATA_SOURCE_URI_FILE"
						  : "DATA_SOURCE_URI";
		full = has_uri_scheme(uri) ? xstrdup(uri)
					   : xasprintf("postgresql://%s", uri);
		if (check_env_conninfo(var, full, e) < 0)
			goto out;
		push_param(&t, "dbname", full);
	}
	/* After the URI, so they override what it says. */
	if (user && *user)
		push_param(&t, "user", user);
	env_password(&t);
	push_target(cfg, &t);
	rc = 0;
out:
	target_config_release(&t);
	free(uri);
	free(user);
	free(full);
	return rc;
}

int config_add_dsn_target(struct config *cfg, const char *name,
			  enum target_kind kind, const char *what,
			  const char *dsn, struct err *e)
{
	struct target_config t;
	size_t i;

	for (i = 0; i < cfg->ntargets; i++)
		if (strcmp(cfg->targets[i].name, name) == 0)
			return err_set(e, "target '%s' is already defined",
				       name);
	if (check_env_conninfo(what, dsn, e) < 0)
		return -1;
	memset(&t, 0, sizeof(t));
	t.name = xstrdup(name);
	t.kind = kind;
	t.keys = xcalloc(1, sizeof(*t.keys));
	t.vals = xcalloc(1, sizeof(*t.vals));
	push_param(&t, "dbname", dsn);
	push_target(cfg, &t);
	target_config_release(&t);
	return 0;
}
