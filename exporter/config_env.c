/*
 * Targets from the environment postgres_exporter reads (DATA_SOURCE_NAME,
 * DATA_SOURCE_URI/USER/PASS and their _FILE forms, DATABASE_URL) or from
 * --dsn: the password is read at each connect, never kept in the config.
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
#include "duration.h"
#include "log.h"
#include "names.h"
#include "strmap.h"
#include "xalloc.h"
#include "ydoc.h"

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
	cfg_conninfo_message(s, msg, safe, sizeof(safe));
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
		cfg_push_param(&t, "dbname", dsn);
		env_password(&t);
		cfg_push_target(cfg, &t);
		rc = 0;
		goto out;
	}
	if (env_or_file("DATA_SOURCE_URI", &uri, e) < 0 ||
	    env_or_file("DATA_SOURCE_USER", &user, e) < 0)
		goto out;
	if (uri && *uri) {
		var = env("DATA_SOURCE_URI_FILE") ? "DATA_SOURCE_URI_FILE"
						  : "DATA_SOURCE_URI";
		full = cfg_has_uri_scheme(uri)
			       ? xstrdup(uri)
			       : xasprintf("postgresql://%s", uri);
		if (check_env_conninfo(var, full, e) < 0)
			goto out;
		cfg_push_param(&t, "dbname", full);
	}
	/* After the URI, so they override what it says. */
	if (user && *user)
		cfg_push_param(&t, "user", user);
	env_password(&t);
	cfg_push_target(cfg, &t);
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
	cfg_push_param(&t, "dbname", dsn);
	cfg_push_target(cfg, &t);
	target_config_release(&t);
	return 0;
}
