/*
 * The live configuration snapshot and its reload: the only process-wide
 * mutable state besides signal flags.
 */
#include <ctype.h>
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

/*
 * An ad-hoc /probe target: its own target_config (which the target points
 * to) and a count of the scrapes using it. Owned by the snapshot.
 */
struct probe_entry {
	char *key; /* "host:port/db" NUL auth module */
	struct target_config tc;
	struct target *t;
	unsigned users;
	unsigned long used; /* rt->probe_clock at the last use */
};

static void probe_entry_free(struct probe_entry *p)
{
	collect_forget(p->t);
	target_free(p->t);
	target_config_release(&p->tc);
	free(p->key);
	free(p);
}

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
	for (i = 0; i < rt->nprobes; i++)
		probe_entry_free(rt->probes[i]);
	free(rt->probes);
	pthread_mutex_destroy(&rt->probe_lock);
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

int runtime_load_queries(struct queryset *qs, const struct cli *o,
			 const struct config *cfg, struct diags *d)
{
	const char *const *compat = o->ncompat ? o->compat : cfg->compat;
	size_t ncompat = o->ncompat ? o->ncompat : cfg->ncompat;
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
		if (querydef_load_path(qs, o->extend[i], d) < 0)
			rc = -1;
	if (load_builtins(qs, d) < 0)
		rc = -1;
	return rc;
}

int runtime_env_targets(struct config *cfg, const struct cli *o,
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

struct runtime *runtime_build(const struct cli *o, struct diags *d)
{
	struct runtime *rt = xcalloc(1, sizeof(*rt));
	struct err e = ERR_INIT;
	bool ok = true;
	size_t i;

	pthread_mutex_init(&rt->probe_lock, NULL);
	if (o->web_config) {
		rt->web = webconfig_load(o->web_config, d);
		if (!rt->web)
			ok = false;
	}
	if (o->config_file) {
		if (config_load(&rt->cfg, o->config_file, d) < 0) {
			runtime_free(rt);
			return NULL;
		}
		rt->label_targets = true;
	} else {
		config_init(&rt->cfg);
		if (runtime_env_targets(&rt->cfg, o, d) < 0)
			ok = false;
		rt->label_targets = rt->cfg.ntargets > 1;
	}
	if (runtime_load_queries(&rt->qs, o, &rt->cfg, d) < 0)
		ok = false;
	rt->targets = xcalloc(rt->cfg.ntargets + 1, sizeof(*rt->targets));
	for (i = 0; i < rt->cfg.ntargets; i++) {
		struct target *t;

		err_clear(&e);
		t = target_new(&rt->cfg.targets[i], &rt->cfg, &e);
		if (!t) {
			diags_add(d, DIAG_ERROR,
				  rt->cfg.targets[i].pos.file
					  ? rt->cfg.targets[i].pos.file
					  : "environment",
				  rt->cfg.targets[i].pos.line,
				  rt->cfg.targets[i].pos.column, "%s", e.msg);
			ok = false;
			continue;
		}
		rt->targets[rt->ntargets++] = t;
	}
	rt->loaded_at = clock_wall();
	if (!ok || d->nerrors) {
		runtime_free(rt);
		return NULL;
	}
	return rt;
}

void runtime_install(struct runtime *rt)
{
	struct runtime *old;

	rt->refs = 1;
	pthread_mutex_lock(&lock);
	stats.last_ok = true;
	stats.last_ok_at = clock_wall();
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

int runtime_reload(const struct cli *o)
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

/*
 * Split "host[:port][/db]" (host a DNS name, IPv4 or [IPv6]) into parts,
 * accepting nothing else: no '=', spaces, '@', '?' or scheme, so a
 * conninfo can never pass through.
 */
static int parse_spec(const char *s, char *host, size_t hsize, char *port,
		      size_t psize, char *db, size_t dsize)
{
	const char *p = s, *start;
	size_t n;
	long v;

	if (*p == '[') {
		start = ++p;
		while (isxdigit((unsigned char)*p) || *p == ':' || *p == '.')
			p++;
		if (*p != ']' || p == start)
			return -1;
		n = (size_t)(p - start);
		p++;
	} else {
		start = p;
		while (isalnum((unsigned char)*p) || *p == '.' || *p == '-')
			p++;
		n = (size_t)(p - start);
		if (!n || *start == '-' || *start == '.')
			return -1;
	}
	if (n >= hsize)
		return -1;
	memcpy(host, start, n);
	host[n] = '\0';
	snprintf(port, psize, "5432");
	if (*p == ':') {
		start = ++p;
		while (isdigit((unsigned char)*p))
			p++;
		n = (size_t)(p - start);
		if (!n || n > 5)
			return -1;
		v = strtol(start, NULL, 10);
		if (v < 1 || v > 65535)
			return -1;
		snprintf(port, psize, "%ld", v);
	}
	snprintf(db, dsize, "postgres");
	if (*p == '/') {
		start = ++p;
		while (isalnum((unsigned char)*p) || *p == '_' || *p == '-' ||
		       *p == '.')
			p++;
		n = (size_t)(p - start);
		if (!n || n >= dsize)
			return -1;
		memcpy(db, start, n);
		db[n] = '\0';
	}
	return *p ? -1 : 0;
}

/* Make room for one more ad-hoc target; false when all are in use. */
static bool probe_evict(struct runtime *rt)
{
	size_t i, victim = SIZE_MAX;

	if (rt->nprobes < rt->cfg.probe_max_targets)
		return true;
	for (i = 0; i < rt->nprobes; i++)
		if (!rt->probes[i]->users &&
		    (victim == SIZE_MAX ||
		     rt->probes[i]->used < rt->probes[victim]->used))
			victim = i;
	if (victim == SIZE_MAX)
		return false;
	log_debug("dropping the least recently probed target", "target",
		  rt->probes[victim]->t->name, NULL);
	probe_entry_free(rt->probes[victim]);
	rt->probes[victim] = rt->probes[--rt->nprobes];
	return true;
}

enum probe_result runtime_probe(struct runtime *rt, const char *spec,
				const char *module, struct target **out,
				struct err *e)
{
	char host[256], port[8], db[64], hostport[300], name[400];
	const struct auth_module *am = NULL;
	struct probe_entry *p = NULL;
	enum probe_result rc = PROBE_OK;
	struct err te = ERR_INIT;
	size_t i, klen;
	char *key;

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
	if (parse_spec(spec, host, sizeof(host), port, sizeof(port), db,
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
	klen = strlen(name) + 1 + (module ? strlen(module) : 0) + 1;
	key = xmalloc(klen);
	snprintf(key, klen, "%s%c%s", name, '\x1f', module ? module : "");

	pthread_mutex_lock(&rt->probe_lock);
	for (i = 0; i < rt->nprobes; i++)
		if (!strcmp(rt->probes[i]->key, key))
			p = rt->probes[i];
	if (!p) {
		if (!probe_evict(rt)) {
			err_set(e,
				"every one of the %u ad-hoc probe targets "
				"is in use; retry later",
				rt->cfg.probe_max_targets);
			rc = PROBE_BUSY;
			goto out;
		}
		p = xcalloc(1, sizeof(*p));
		p->key = key;
		key = NULL;
		config_probe_target(&p->tc, name, host, port, db, am);
		p->t = target_new(&p->tc, &rt->cfg, &te);
		if (!p->t) {
			err_set(e, "%s", te.msg);
			target_config_release(&p->tc);
			free(p->key);
			free(p);
			rc = PROBE_BAD_REQUEST;
			goto out;
		}
		rt->probes = xrealloc(rt->probes,
				      (rt->nprobes + 1) * sizeof(*rt->probes));
		rt->probes[rt->nprobes++] = p;
	}
	p->users++;
	p->used = ++rt->probe_clock;
	*out = p->t;
out:
	pthread_mutex_unlock(&rt->probe_lock);
	free(key);
	return rc;
}

void runtime_probe_put(struct runtime *rt, struct target *t)
{
	size_t i;

	pthread_mutex_lock(&rt->probe_lock);
	for (i = 0; i < rt->nprobes; i++)
		if (rt->probes[i]->t == t)
			rt->probes[i]->users--;
	pthread_mutex_unlock(&rt->probe_lock);
}
