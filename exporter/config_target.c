/*
 * One target of the YAML config file ("targets:"): its name and kind,
 * libpq keywords, url or conninfo, password source, labels, tags and
 * databases, each checked and reported at its file:line:column.
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
#include "rx.h"
#include "duration.h"
#include "log.h"
#include "names.h"
#include "strmap.h"
#include "xalloc.h"
#include "ydoc.h"

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

/* [a-zA-Z0-9_.-]+ */
bool cfg_target_name_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return false;
	return true;
}

bool cfg_has_uri_scheme(const char *s)
{
	return strncmp(s, "postgresql://", 13) == 0 ||
	       strncmp(s, "postgres://", 11) == 0;
}

/* 'path' as seen from the config file's directory. */
char *cfg_resolve_path(const struct cloader *l, const char *path)
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
	if (!cfg_has_uri_scheme(s))
		return false;
	p = strstr(s, "://") + 3;
	at = strchr(p, '@');
	return at && memchr(p, ':', (size_t)(at - p));
}

/* libpq's message about 's', safe to print, without its newline. */
void cfg_conninfo_message(const char *s, const char *msg, char *out,
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
		cfg_conninfo_message(s, msg, safe, sizeof(safe));
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
void cfg_parse_regexes(struct cloader *l, const yaml_node_t *n,
		       const char *what, char ***out, size_t *nout)
{
	size_t i;

	if (ydoc_strlist(&l->y, n, what, out, nout) < 0)
		return;
	for (i = 0; i < *nout; i++) {
		const yaml_node_t *at = ydoc_strlist_item(&l->y, n, i);
		struct err e = ERR_INIT;
		regex_t re;

		if (rx_compile(&re, (*out)[i], false, &e) < 0) {
			ydoc_error(&l->y, at,
				   "invalid regular expression '%.64s': %s",
				   (*out)[i], e.msg);
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
		cfg_parse_regexes(l, v[0], "include", &t->db_include,
				  &t->ninclude);
	if (v[1])
		cfg_parse_regexes(l, v[1], "exclude", &t->db_exclude,
				  &t->nexclude);
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
		if (!cfg_has_uri_scheme(s))
			ydoc_error(&l->y, v[K_URL],
				   "'url' must start with postgresql:// (use "
				   "'conninfo' for key=value strings)");
		else
			check_conninfo(l, v[K_URL], "url", s);
		cfg_push_param(t, "dbname", s);
		free(s);
	} else if (v[K_CONNINFO] &&
		   ydoc_str(&l->y, v[K_CONNINFO], "conninfo", &s) == 0) {
		check_conninfo(l, v[K_CONNINFO], "conninfo", s);
		cfg_push_param(t, "dbname", s);
		free(s);
	}
	for (k = 0; k < ARRAY_SIZE(libpq_keys); k++) {
		const struct libpq_key *lk = &libpq_keys[k];

		if (!lv[k])
			continue;
		if (lk->values) {
			if (ydoc_enum(&l->y, lv[k], lk->name, lk->values,
				      lk->nvalues, &e) == 0)
				cfg_push_param(t, lk->name, lk->values[e]);
			continue;
		}
		if (ydoc_str(&l->y, lv[k], lk->name, &s) < 0)
			continue;
		if (strcmp(lk->name, "dbname") == 0 &&
		    (cfg_has_uri_scheme(s) || strchr(s, '=')))
			ydoc_error(&l->y, lv[k],
				   "'dbname' names a database; put a "
				   "connection string in 'url' or 'conninfo'");
		cfg_push_param(t, lk->name, s);
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
		(*pcmd)[i] = i == 0 && strchr(v[0], '/')
				     ? cfg_resolve_path(l, v[0])
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
void cfg_parse_password_source(struct cloader *l, yaml_node_t *lit,
			       yaml_node_t *file, yaml_node_t *env,
			       yaml_node_t *cmd, char **literal, char **pfile,
			       char **penv, char ***pcmd)
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
		*pfile = cfg_resolve_path(l, s);
		free(s);
	}
	if (env && ydoc_str(&l->y, env, "password_env", &s) == 0) {
		if (!ident_valid(s))
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

	cfg_parse_password_source(l, v[K_PASSWORD], v[K_PASSWORD_FILE],
				  v[K_PASSWORD_ENV], v[K_PASSWORD_COMMAND], &s,
				  &t->password_file, &t->password_env,
				  &t->password_command);
	if (s) {
		cfg_push_param(t, "password", s);
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
		if (!cfg_target_name_valid(t.name))
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
		cfg_push_target(l->cfg, &t);
	target_config_release(&t);
}

void cfg_parse_targets(struct cloader *l, yaml_node_t *n)
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
