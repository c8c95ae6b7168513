/*
 * The exporter's configuration as a model: creating and freeing it, its
 * targets and auth modules, the compat query sets, /probe targets, and the
 * secret files it names (see config.h). Loaded by config_yaml.c from the
 * YAML file or by config_env.c from the environment.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libpq-fe.h>
#include "config.h"
#include "config_int.h"
#include "dbpattern.h"
#include "log.h"
#include "names.h"
#include "strmap.h"
#include "xalloc.h"
#include "ydoc.h"

const struct compat_set config_compat_sets[] = {
	{"postgres_exporter", "compat/postgres_exporter.yaml", "database.yaml"},
	{"pgbouncer_exporter", "compat/pgbouncer_exporter.yaml",
	 "pgbouncer.yaml"},
};
const size_t config_ncompat_sets = ARRAY_SIZE(config_compat_sets);

const char *const target_kind_names[TARGET_NKINDS] = {
	[TARGET_POSTGRES] = "postgres",
	[TARGET_PGBOUNCER] = "pgbouncer",
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
	cfg->max_series = 50000;
	cfg->target_max_series = 25000;
	cfg->database_logins_per_scrape = 1;
	cfg->database_max_staleness = 600;
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

void cfg_auth_module_release(struct auth_module *m)
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
	dbpattern_free(cfg->probe_re, cfg->nprobe_allow);
	ydoc_strv_free(cfg->probe_allow, cfg->nprobe_allow);
	for (i = 0; i < cfg->nauth_modules; i++)
		cfg_auth_module_release(&cfg->auth_modules[i]);
	free(cfg->auth_modules);
	ydoc_strv_free(cfg->param_keys, cfg->nparams);
	ydoc_strv_free(cfg->param_vals, cfg->nparams);
	free(cfg->param_pos);
	config_init(cfg);
}

/* Append a libpq keyword/value; both arrays stay NULL-terminated. */
void cfg_push_param(struct target_config *t, const char *key, const char *val)
{
	t->keys = xrealloc(t->keys, (t->nparams + 2) * sizeof(*t->keys));
	t->vals = xrealloc(t->vals, (t->nparams + 2) * sizeof(*t->vals));
	t->keys[t->nparams] = xstrdup(key);
	t->vals[t->nparams] = xstrdup(val);
	t->nparams++;
	t->keys[t->nparams] = NULL;
	t->vals[t->nparams] = NULL;
}

void cfg_push_target(struct config *cfg, struct target_config *t)
{
	cfg->targets = xrealloc(cfg->targets,
				(cfg->ntargets + 1) * sizeof(*cfg->targets));
	cfg->targets[cfg->ntargets++] = *t;
	memset(t, 0, sizeof(*t));
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
	/* compiled at load: a config that loaded has them all */
	return cfg->probe_re &&
	       dbpattern_match(cfg->probe_re, cfg->nprobe_allow, hostport);
}

void config_probe_target(struct target_config *t, const char *name,
			 const char *host, const char *port, const char *dbname,
			 const struct auth_module *am)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	t->name = xstrdup(name);
	t->kind = TARGET_POSTGRES;
	cfg_push_param(t, "host", host);
	cfg_push_param(t, "port", port);
	cfg_push_param(t, "dbname", dbname ? dbname : "postgres");
	if (!am)
		return;
	cfg_push_param(t, "user", am->username);
	if (am->password)
		cfg_push_param(t, "password", am->password);
	t->password_file =
		am->password_file ? xstrdup(am->password_file) : NULL;
	t->password_env = am->password_env ? xstrdup(am->password_env) : NULL;
	t->password_command = argv_dup(am->password_command);
	for (i = 0; i < am->nopts; i++)
		cfg_push_param(t, am->opt_keys[i], am->opt_vals[i]);
	t->pos = am->pos;
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
