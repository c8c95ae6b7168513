/*
 * The live configuration snapshot and its reload: the only process-wide
 * mutable state besides signal flags.
 */
#include <limits.h>
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

static bool is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *runtime_default_queries(void)
{
	static char path[PATH_MAX + 16];
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
	queryset_release(&rt->qs);
	config_free(&rt->cfg);
	free(rt);
}

struct runtime *runtime_build(const struct cli *o, struct diags *d)
{
	struct runtime *rt = xcalloc(1, sizeof(*rt));
	struct err e = ERR_INIT;
	bool ok = true;
	size_t i;

	if (o->config_file) {
		if (config_load(&rt->cfg, o->config_file, d) < 0) {
			free(rt);
			return NULL;
		}
		rt->label_targets = true;
	} else {
		config_init(&rt->cfg);
		if (config_add_env_target(&rt->cfg, "default", &e) < 0) {
			diags_add(d, DIAG_ERROR, "environment", 0, 0, "%s",
				  e.msg);
			ok = false;
		}
	}
	if (o->nqueries) {
		for (i = 0; i < o->nqueries; i++)
			if (querydef_load_path(&rt->qs, o->queries[i], d) < 0)
				ok = false;
	} else if (rt->cfg.nquery_paths) {
		for (i = 0; i < rt->cfg.nquery_paths; i++)
			if (querydef_load_path(&rt->qs, rt->cfg.query_paths[i],
					       d) < 0)
				ok = false;
	} else if (querydef_load_path(&rt->qs, runtime_default_queries(), d) <
		   0) {
		ok = false;
	}
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
