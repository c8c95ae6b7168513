/*
 * The live configuration snapshot: config, collectors and targets, built
 * and validated as one piece, swapped in atomically on reload and freed
 * when the last scrape using it lets go.
 */
#ifndef RUNTIME_H
#define RUNTIME_H

#include <stdbool.h>
#include "config.h"
#include "diag.h"
#include "probe.h"
#include "querydef.h"
#include "target.h"
#include "webconfig.h"

/*
 * What a snapshot is built from: the command line's share of it, filled
 * by cli_runtime_opts. Strings and arrays are borrowed: they live as long
 * as the process (argv, the environment, the parsed command line).
 */
struct runtime_opts {
	const char *config_file;    /* --config.file, or NULL */
	const char *const *queries; /* --queries: replace the set */
	size_t nqueries;
	const char *const *extend; /* --extend.query-path: added to it */
	size_t nextend;
	const char *const *compat; /* --compat NAME */
	size_t ncompat;
	const char *pgbouncer_dsn; /* --pgBouncer.connectionString, or NULL */
	const char *web_config;	   /* --web.config.file, or NULL */
};

/*
 * A snapshot. Built by runtime_build, published by runtime_install, shared
 * by reference (runtime_acquire/runtime_release); immutable but for its
 * targets' own locked state.
 */
struct runtime {
	int refs; /* protected by the module's lock */
	struct config cfg;
	struct queryset qs;
	struct target **targets;
	size_t ntargets;
	bool label_targets; /* series get target="<name>" and static labels */
	bool have_config;   /* a config file was loaded */
	double loaded_at;   /* wall clock */
	struct webconfig *web; /* --web.config.file, or NULL */

	/* ad-hoc /probe targets (runtime_probe), at most probe_max_targets */
	struct probe_registry probes;
};

/*
 * Load the config (or the environment's target) and every query file named
 * by 'o' or the config, and make the targets. Every problem goes to 'd';
 * returns NULL when any is an error. runtime_load in the daemon's mode.
 */
struct runtime *runtime_build(const struct runtime_opts *o, struct diags *d);

/*
 * How runtime_load reads a snapshot: the daemon's way (all false: stop at
 * the first piece that fails) or the dry run's (report all it can).
 */
struct runtime_load_mode {
	/*
	 * Return the snapshot whatever the errors (they are in 'd'); a config
	 * file that fails leaves an empty config, and the query files are
	 * loaded only when --queries names them.
	 */
	bool keep_going;
	/*
	 * Without a config file, take targets from the environment only
	 * when it names one (DATABASE_URL, DATA_SOURCE_*, PGHOST, PGPORT,
	 * PGDATABASE, PGSERVICE) or --pgBouncer.connectionString is given.
	 */
	bool env_when_named;
	bool offline;	      /* no targets at all (--offline) */
	bool check_overrides; /* querydef_check_overrides with a config file */
};

/*
 * The one loader of snapshots: web config, config, query files, targets,
 * read in mode 'm'. Problems go to 'd'. Returns the snapshot (not
 * installed: runtime_install or runtime_free it), or NULL on error unless
 * m->keep_going.
 */
struct runtime *runtime_load(const struct runtime_opts *o,
			     const struct runtime_load_mode *m,
			     struct diags *d);
/*
 * Load the active query set into 'qs': the files of --queries, else of the
 * config's 'queries', else the default directory (without the files the
 * compat sets replace); then each compat set's file (--compat, else the
 * config's 'compat'), each --extend.query-path file (whose collectors
 * replace those of the set with their names or metric names, as
 * postgres_exporter lets a user's namespace override its own), and the
 * engine's own pg_up and pgbouncer_up unless a file defined them. Problems go
 * to 'd'; returns 0 when none was an error.
 */
int runtime_load_queries(struct queryset *qs, const struct runtime_opts *o,
			 const struct config *cfg, struct diags *d);
/*
 * Without a config file, add to 'cfg' the PostgreSQL target of the
 * environment (config_add_env_target, "default") and, with
 * --pgBouncer.connectionString, the pgbouncer target "pgbouncer"; then the
 * PostgreSQL one only when the environment names it (DATA_SOURCE_NAME,
 * DATABASE_URL, DATA_SOURCE_URI[_FILE]), not libpq's defaults. Problems go
 * to 'd'; returns -1 on error.
 */
int runtime_env_targets(struct config *cfg, const struct runtime_opts *o,
			struct diags *d);
/* Publish 'rt' as the current snapshot; the previous one is released. */
void runtime_install(struct runtime *rt);
/* Drop the current snapshot (at exit). */
void runtime_clear(void);
/* The current snapshot with a reference taken, or NULL before the first. */
struct runtime *runtime_acquire(void);
void runtime_release(struct runtime *rt);
/* Free a snapshot never installed (or whose last reference is gone). */
void runtime_free(struct runtime *rt);

/*
 * Build a new snapshot from 'o' and install it; on any error keep the old
 * one and log every problem. Serialised: concurrent reloads run one by one.
 * Returns 0 on success, -1 when the old config was kept.
 */
int runtime_reload(const struct runtime_opts *o);

/* Reload outcomes, for pgpulse_config_* self metrics. */
struct reload_stats {
	bool last_ok;
	double last_ok_at; /* wall clock */
	unsigned long ok, failed;
};
void runtime_reload_stats(struct reload_stats *out);

/* The target named 'name' in 'rt', or NULL. */
struct target *runtime_target(const struct runtime *rt, const char *name);

/*
 * The target /probe?target='spec'&auth_module='module' serves: a configured
 * target by name ('module' must be NULL then), or "host:port[/dbname]"
 * (dbname "postgres" by default) when "host:port" matches
 * probe.allow. Only those characters are accepted: a conninfo or URI is
 * PROBE_BAD_REQUEST, decided before anything is resolved or connected.
 * Ad-hoc targets are made on first use and kept in 'rt', the least
 * recently used dropped beyond probe_max_targets, so their connections
 * stay bounded and are reused. On PROBE_OK, *out is held until
 * runtime_probe_put; otherwise 'e' says why (safe to show).
 */
enum probe_result runtime_probe(struct runtime *rt, const char *spec,
				const char *module, struct target **out,
				struct err *e);
void runtime_probe_put(struct runtime *rt, struct target *t);

/*
 * Call 'fn' with each snapshot a reload installs (while reloads are held
 * off), so the HTTP server can take new certificates. NULL: none.
 */
void runtime_on_reload(void (*fn)(const struct runtime *rt));

/* The default query directory: the installed one, or the source tree's. */
const char *runtime_default_queries(void);

#endif
