/*
 * The live configuration snapshot and its reload: the only process-wide
 * mutable state besides signal flags.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "runtime.h"
#include "collect.h"
#include "log.h"
#include "xalloc.h"
#include "compat.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;
static struct runtime *current;
static struct reload_stats stats = {.last_ok = true};
static void (*reload_hook)(const struct runtime *rt);

static bool is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *runtime_default_queries(void)
{
	static char path[PATH_MAX + 64];
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (is_dir(PGPULSE_DATADIR "/queries"))
		return PGPULSE_DATADIR "/queries";
	/* run from a build tree: build/pgpulse -> ../queries */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			/* installed elsewhere: PREFIX/bin/pgpulse */
			snprintf(path, sizeof(path),
				 "%s/../share/pgpulse/queries", exe);
			if (is_dir(path))
				return path;
			for (int up = 0; up < 3; up++) {
				snprintf(path, sizeof(path), "%s/queries", exe);
				if (is_dir(path))
					return path;
				slash = strrchr(exe, '/');
				if (!slash)
					break;
				*slash = '\0';
			}
		}
	}
	return "queries";
}

void runtime_free(struct runtime *rt)
{
	size_t i;

	if (!rt)
		return;
	for (i = 0; i < rt->ntargets; i++) {
		collect_forget(rt->targets[i]);
		target_free(rt->targets[i]);
	}
	free(rt->targets);
	probe_registry_release(&rt->probes);
	webconfig_free(rt->web);
	queryset_release(&rt->qs);
	config_free(&rt->cfg);
	free(rt);
}

/*
 * What the engine serves whatever query files are loaded: whether each kind
 * of target answers, 0 when it is down. A file that defines the same
 * metric (an older server.yaml, a user's own) wins: it is not served twice.
 */
static const struct builtin {
	const char *collector, *metric, *yaml;
} builtins[] = {
	{"pg_up", "pg_up",
	 "collectors:\n"
	 "  pg_up:\n"
	 "    help: Whether pgpulse could connect to the server and run a "
	 "query (1) or not (0).\n"
	 "    sql: SELECT 1 AS up\n"
	 "    metrics:\n"
	 "      up: {type: gauge, name: pg_up, error_value: 0}\n"},
	{"pgbouncer_up", "pgbouncer_up",
	 "collectors:\n"
	 "  pgbouncer_up:\n"
	 "    kind: pgbouncer\n"
	 "    help: Whether pgbouncer's admin console answers.\n"
	 "    sql: SHOW VERSION\n"
	 "    metrics:\n"
	 "      version:\n"
	 "        type: gauge\n"
	 "        name: pgbouncer_up\n"
	 "        value: 1\n"
	 "        error_value: 0\n"
	 "        help: Whether pgpulse could connect to pgbouncer's admin "
	 "console and run a SHOW command (1) or not (0).\n"},
};

static int load_builtins(struct queryset *qs, struct diags *d)
{
	int rc = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(builtins); i++) {
		const struct builtin *b = &builtins[i];

		if (strmap_get(&qs->bymetric, b->metric) ||
		    queryset_find(qs, b->collector))
			continue;
		if (querydef_load_buffer(qs, "<built-in>", b->yaml,
					 strlen(b->yaml), d) < 0)
			rc = -1;
	}
	return rc;
}

static int yaml_name(const struct dirent *de)
{
	size_t n = strlen(de->d_name);

	return de->d_name[0] != '.' &&
	       ((n > 5 && !strcmp(de->d_name + n - 5, ".yaml")) ||
		(n > 4 && !strcmp(de->d_name + n - 4, ".yml")));
}

/*
 * The default directory's files but those the compat sets replace, then
 * the compat sets' own files.
 */
static int load_default_compat(struct queryset *qs, const char *const *compat,
			       size_t ncompat, struct diags *d)
{
	const char *dir = runtime_default_queries();
	struct dirent **names = NULL;
	int n, k, rc = 0;
	size_t i;

	n = scandir(dir, &names, yaml_name, alphasort);
	if (n < 0) {
		diags_add(d, DIAG_ERROR, dir, 0, 0,
			  "cannot read the query directory: %s",
			  strerror(errno));
		return -1;
	}
	for (k = 0; k < n; k++) {
		bool replaced = false;
		char *path;

		for (i = 0; i < ncompat; i++)
			replaced |=
				!strcmp(names[k]->d_name,
					config_compat_set(compat[i])->replaces);
		path = xasprintf("%s/%s", dir, names[k]->d_name);
		if (!replaced && querydef_load_path(qs, path, d) < 0)
			rc = -1;
		free(path);
		free(names[k]);
	}
	free(names);
	return rc;
}

static void note_override(const char *replaced, const char *by)
{
	log_info("--extend.query-path overrides the set", "replaced", replaced,
		 "by", by, NULL);
}

int runtime_load_queries(struct queryset *qs, const struct runtime_opts *o,
			 const struct config *cfg, struct diags *d)
{
	const char *const *compat = o->ncompat ? o->compat : cfg->compat;
	size_t ncompat = o->ncompat ? o->ncompat : cfg->ncompat;
	struct queryset ext = QUERYSET_INIT;
	int rc = 0;
	size_t i;

	if (o->nqueries) {
		for (i = 0; i < o->nqueries; i++)
			if (querydef_load_path(qs, o->queries[i], d) < 0)
				rc = -1;
	} else if (cfg->nquery_paths) {
		for (i = 0; i < cfg->nquery_paths; i++)
			if (querydef_load_path(qs, cfg->query_paths[i], d) < 0)
				rc = -1;
	} else if (ncompat) {
		rc = load_default_compat(qs, compat, ncompat, d);
	} else if (querydef_load_path(qs, runtime_default_queries(), d) < 0) {
		rc = -1;
	}
	for (i = 0; i < ncompat; i++) {
		char *path = xasprintf("%s/%s", runtime_default_queries(),
				       config_compat_set(compat[i])->file);

		if (querydef_load_path(qs, path, d) < 0)
			rc = -1;
		free(path);
	}
	for (i = 0; i < o->nextend; i++)
		if (querydef_load_path(&ext, o->extend[i], d) < 0)
			rc = -1;
	queryset_override(qs, &ext, note_override);
	if (load_builtins(qs, d) < 0)
		rc = -1;
	return rc;
}

int runtime_env_targets(struct config *cfg, const struct runtime_opts *o,
			struct diags *d)
{
	static const char *const vars[] = {"DATA_SOURCE_NAME", "DATABASE_URL",
					   "DATA_SOURCE_URI",
					   "DATA_SOURCE_URI_FILE"};
	struct err e = ERR_INIT;
	bool named = false;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vars); i++)
		named |= getenv(vars[i]) && *getenv(vars[i]);
	if ((named || !o->pgbouncer_dsn) &&
	    config_add_env_target(cfg, "default", &e) < 0)
		goto fail;
	if (o->pgbouncer_dsn &&
	    config_add_dsn_target(cfg, "pgbouncer", TARGET_PGBOUNCER,
				  "--pgBouncer.connectionString",
				  o->pgbouncer_dsn, &e) < 0)
		goto fail;
	return 0;
fail:
	diags_add(d, DIAG_ERROR, "environment", 0, 0, "%s", e.msg);
	return -1;
}

/* Is a target given by the environment (not only libpq's defaults)? */
static bool env_names_target(void)
{
	static const char *const vars[] = {
		"DATABASE_URL",		"DATA_SOURCE_NAME", "DATA_SOURCE_URI",
		"DATA_SOURCE_URI_FILE", "PGHOST",	    "PGPORT",
		"PGDATABASE",		"PGSERVICE",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vars); i++)
		if (getenv(vars[i]))
			return true;
	return false;
}

/*
 * The config of 'rt': the file's, else the environment's targets (see
 * runtime_load_mode). Returns 0, or -1 when it had an error;
 * '*file_failed' is set when the file could not be loaded.
 */
static int load_config(struct runtime *rt, const struct runtime_opts *o,
		       const struct runtime_load_mode *m, bool *file_failed,
		       struct diags *d)
{
	*file_failed = false;
	if (o->config_file) {
		if (config_load(&rt->cfg, o->config_file, d) < 0) {
			*file_failed = true;
			if (m->keep_going)
				config_init(&rt->cfg);
			return -1;
		}
		rt->have_config = true;
		rt->label_targets = true;
		return 0;
	}
	config_init(&rt->cfg);
	rt->label_targets = false;
	if (m->env_when_named &&
	    (m->offline || (!env_names_target() && !o->pgbouncer_dsn)))
		return 0;
	if (runtime_env_targets(&rt->cfg, o, d) < 0)
		return -1;
	rt->label_targets = rt->cfg.ntargets > 1;
	return 0;
}

/* Make the targets of rt->cfg; returns -1 when one could not be made. */
static int make_targets(struct runtime *rt, struct diags *d)
{
	struct err e = ERR_INIT;
	int rc = 0;
	size_t i;

	rt->targets = xcalloc(rt->cfg.ntargets + 1, sizeof(*rt->targets));
	for (i = 0; i < rt->cfg.ntargets; i++) {
		const struct srcpos *p = &rt->cfg.targets[i].pos;
		struct target *t;

		err_clear(&e);
		t = collect_target_new(&rt->cfg.targets[i], &rt->cfg, &e);
		if (!t) {
			diags_add(d, DIAG_ERROR,
				  p->file ? p->file : "environment", p->line,
				  p->column, "%s", e.msg);
			rc = -1;
			continue;
		}
		rt->targets[rt->ntargets++] = t;
	}
	return rc;
}

struct runtime *runtime_load(const struct runtime_opts *o,
			     const struct runtime_load_mode *m, struct diags *d)
{
	struct runtime *rt = xcalloc(1, sizeof(*rt));
	bool ok = true, file_failed;

	probe_registry_init(&rt->probes);
	if (o->web_config) {
		rt->web = webconfig_load(o->web_config, d);
		if (!rt->web)
			ok = false;
	}
	if (load_config(rt, o, m, &file_failed, d) < 0) {
		ok = false;
		if (file_failed && !m->keep_going) {
			runtime_free(rt);
			return NULL;
		}
	}
	if ((!file_failed || o->nqueries) &&
	    runtime_load_queries(&rt->qs, o, &rt->cfg, d) < 0)
		ok = false;
	if (m->check_overrides && rt->have_config)
		querydef_check_overrides(&rt->qs, &rt->cfg, d);
	if (m->offline)
		rt->targets = xcalloc(1, sizeof(*rt->targets));
	else if (make_targets(rt, d) < 0)
		ok = false;
	rt->loaded_at = clock_real();
	if (!m->keep_going && (!ok || d->nerrors)) {
		runtime_free(rt);
		return NULL;
	}
	return rt;
}

struct runtime *runtime_build(const struct runtime_opts *o, struct diags *d)
{
	static const struct runtime_load_mode daemon = {0};

	return runtime_load(o, &daemon, d);
}

void runtime_install(struct runtime *rt)
{
	struct runtime *old;

	rt->refs = 1;
	pthread_mutex_lock(&lock);
	stats.last_ok = true;
	stats.last_ok_at = clock_real();
	old = current;
	current = rt;
	pthread_mutex_unlock(&lock);
	runtime_release(old);
}

void runtime_clear(void)
{
	struct runtime *old;

	pthread_mutex_lock(&lock);
	old = current;
	current = NULL;
	pthread_mutex_unlock(&lock);
	runtime_release(old);
}

struct runtime *runtime_acquire(void)
{
	struct runtime *rt;

	pthread_mutex_lock(&lock);
	rt = current;
	if (rt)
		rt->refs++;
	pthread_mutex_unlock(&lock);
	return rt;
}

void runtime_release(struct runtime *rt)
{
	bool last;

	if (!rt)
		return;
	pthread_mutex_lock(&lock);
	last = --rt->refs == 0;
	pthread_mutex_unlock(&lock);
	if (last)
		runtime_free(rt);
}

int runtime_reload(const struct runtime_opts *o)
{
	struct diags d = DIAGS_INIT;
	struct runtime *rt;
	size_t i;
	int rc = 0;

	pthread_mutex_lock(&reload_lock);
	rt = runtime_build(o, &d);
	for (i = 0; i < d.n; i++) {
		char where[512];

		snprintf(where, sizeof(where), "%s:%u:%u", d.v[i].file,
			 d.v[i].line, d.v[i].column);
		log_kv(d.v[i].severity == DIAG_ERROR ? LOG_ERROR : LOG_WARN,
		       "config problem", "at", where, "err", d.v[i].msg, NULL);
	}
	pthread_mutex_lock(&lock);
	if (rt) {
		stats.ok++;
	} else {
		stats.failed++;
		stats.last_ok = false;
	}
	pthread_mutex_unlock(&lock);
	if (rt) {
		runtime_install(rt);
		if (reload_hook)
			reload_hook(rt);
		log_info("configuration reloaded", NULL);
	} else {
		log_error("reload failed; the previous configuration keeps "
			  "serving",
			  NULL);
		rc = -1;
	}
	diags_release(&d);
	pthread_mutex_unlock(&reload_lock);
	return rc;
}

void runtime_reload_stats(struct reload_stats *out)
{
	pthread_mutex_lock(&lock);
	*out = stats;
	pthread_mutex_unlock(&lock);
}

struct target *runtime_target(const struct runtime *rt, const char *name)
{
	size_t i;

	for (i = 0; i < rt->ntargets; i++)
		if (!strcmp(rt->targets[i]->name, name))
			return rt->targets[i];
	return NULL;
}

void runtime_on_reload(void (*fn)(const struct runtime *rt))
{
	pthread_mutex_lock(&reload_lock);
	reload_hook = fn;
	pthread_mutex_unlock(&reload_lock);
}

enum probe_result runtime_probe(struct runtime *rt, const char *spec,
				const char *module, struct target **out,
				struct err *e)
{
	char host[256], port[8], db[64], hostport[300], name[400];
	const struct auth_module *am = NULL;

	*out = runtime_target(rt, spec);
	if (*out) {
		if (module) {
			err_set(e, "'auth_module' applies to host:port "
				   "targets; a configured target has its own "
				   "credentials");
			return PROBE_BAD_REQUEST;
		}
		return PROBE_OK;
	}
	if (!strpbrk(spec, ":/")) {
		/* echoed only when it cannot be a conninfo with a secret */
		bool plain = strspn(spec, "abcdefghijklmnopqrstuvwxyz"
					  "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
					  "0123456789_.-") == strlen(spec);

		err_set(e,
			"unknown target '%.64s': not in the config (a "
			"host needs its port: host:port[/dbname])",
			plain ? spec : "?");
		return PROBE_BAD_REQUEST;
	}
	if (probe_parse_spec(spec, host, sizeof(host), port, sizeof(port), db,
			     sizeof(db)) < 0) {
		err_set(e, "'target' must name a configured target or be "
			   "host:port[/dbname]; connection strings are not "
			   "accepted");
		return PROBE_BAD_REQUEST;
	}
	snprintf(hostport, sizeof(hostport), "%s%s%s:%s",
		 strchr(host, ':') ? "[" : "", host,
		 strchr(host, ':') ? "]" : "", port);
	if (!config_probe_allowed(&rt->cfg, hostport)) {
		err_set(e, "'%s' is not allowed by the config's probe.allow",
			hostport);
		return PROBE_FORBIDDEN;
	}
	if (module) {
		am = config_auth_module(&rt->cfg, module);
		if (!am) {
			err_set(e, "unknown auth_module");
			return PROBE_BAD_REQUEST;
		}
	}
	snprintf(name, sizeof(name), "%s/%s", hostport, db);
	return probe_registry_get(&rt->probes, &rt->cfg, name, host, port, db,
				  am, module, out, e);
}

void runtime_probe_put(struct runtime *rt, struct target *t)
{
	probe_registry_put(&rt->probes, t);
}
