/*
 * The exporter's configuration: targets, query paths, limits, probe rules.
 * Loaded from the YAML config file (every problem reported with its
 * position) or built from the environment (DATABASE_URL, DATA_SOURCE_*), then
 * immutable: a reload builds a new one and swaps it in.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include "compat.h"
#include "diag.h"
#include "err.h"
#include "metrics.h"

enum target_kind { TARGET_POSTGRES, TARGET_PGBOUNCER, TARGET_NKINDS };

/* "postgres", "pgbouncer": as the config and query files spell them. */
extern const char *const target_kind_names[TARGET_NKINDS];

/*
 * One target as configured. Connection parameters are libpq keywords and
 * values, passed as they are to PQconnectdbParams (with expand_dbname, so
 * "dbname" may hold a URI or a conninfo string). The password is never
 * stored here when it comes from a file or the environment: it is read at
 * each connect, so rotated secrets work without a restart.
 */
struct target_config {
	char *name;
	enum target_kind kind;
	char **keys, **vals; /* libpq keywords/values, NULL-terminated arrays */
	size_t nparams;
	char *password_file; /* read (trimmed) at each connect; or NULL */
	char *password_env;  /* environment variable to read; or NULL */
	/* argv run at each connect, its stdout the password (pwcmd.h); or NULL
	 */
	char **password_command;
	struct label *labels; /* static labels added to every series */
	size_t nlabels;
	char **tags;
	size_t ntags;
	char **db_include, **db_exclude; /* POSIX extended regexes */
	size_t ninclude, nexclude;
	char *data_directory; /* for on-disk sizes, if the config names it */
	struct srcpos pos;
};

/*
 * Credentials for /probe targets that are not in the config, chosen by the
 * request's auth_module parameter (postgres_exporter's auth_modules). Owned
 * by its config. As for targets, a password from a file or the environment
 * is read at each connect, never stored.
 */
struct auth_module {
	char *name;
	char *username;
	char *password;	     /* written in the config (warned about); or NULL */
	char *password_file; /* or NULL */
	char *password_env;  /* or NULL */
	char **password_command;     /* NULL-terminated argv; or NULL */
	char **opt_keys, **opt_vals; /* libpq keywords from 'options' */
	size_t nopts;
	struct srcpos pos;
};

/*
 * A whole configuration. Created by config_load or config_init (plus
 * config_add_env_target), freed
 * by config_free; immutable once loaded (shared by scrapes through the
 * runtime snapshot that owns it).
 */
struct config {
	char *path; /* the file it came from, or NULL */
	struct target_config *targets;
	size_t ntargets;
	char **query_paths; /* files or directories of query files */
	size_t nquery_paths;
	const char **compat; /* 'compat': names from config_compat_sets */
	size_t ncompat;
	unsigned connections_per_target; /* default 2 */
	double scrape_timeout;		 /* seconds; default 10 */
	double connect_timeout;		 /* seconds; default 5 */
	double statement_timeout;	 /* default per query; 5 */
	double lock_timeout;		 /* seconds; default 1 */
	double idle_timeout;		 /* close idle extra connections; 60 */
	size_t max_series;		 /* default per collector; 50000 */
	size_t target_max_series;	 /* series budget per target; 25000 */
	/* per-database visits (visits.h): logins per scrape, 0: no budget */
	double database_logins_per_scrape; /* default 1 */
	double database_max_staleness;	   /* seconds; default 600 */
	char **probe_allow; /* host:port regexes /probe may reach; none */
	size_t nprobe_allow;
	void *probe_re; /* probe_allow compiled at load (dbpattern, whole) */
	unsigned probe_max_targets; /* ad-hoc /probe targets kept; 64 */
	struct auth_module *auth_modules;
	size_t nauth_modules;
	/* collector parameter overrides: "collector.param" -> value */
	char **param_keys, **param_vals;
	struct srcpos *param_pos; /* where each override was written */
	size_t nparams;
};

/*
 * A peer exporter whose metric names pgpulse can serve (--compat, the
 * config's 'compat'): the query file (relative to the default query
 * directory) loaded instead of the default file it overlaps.
 */
struct compat_set {
	const char *name;     /* "postgres_exporter" */
	const char *file;     /* "compat/postgres_exporter.yaml" */
	const char *replaces; /* "database.yaml" */
};
extern const struct compat_set config_compat_sets[];
extern const size_t config_ncompat_sets;

/*
 * The set named by the 'len' bytes at 'name': its static name, or NULL
 * when there is none.
 */
const char *config_compat_find(const char *name, size_t len);
/* The set named 'name' (as config_compat_find returned it), or NULL. */
const struct compat_set *config_compat_set(const char *name);

/* A config with every default set and no targets. */
void config_init(struct config *cfg);

/*
 * Load 'path' into 'cfg' (initialised here). Every problem is added to 'd'
 * with its position; returns 0 when there was no error, -1 otherwise (then
 * 'cfg' is released: empty, as config_init leaves it). Unknown keys are
 * errors. Connection URLs and conninfo strings are checked with
 * PQconninfoParse; messages never contain a password (libpq's message is
 * left out for a string that holds one). Relative query paths and
 * password_file are taken from the config file's directory. An empty file
 * is a config with the defaults and no targets.
 */
int config_load(struct config *cfg, const char *path,
		struct diags *d) MUST_CHECK;

/*
 * The single target of the environment, as postgres_exporter reads it:
 * DATA_SOURCE_NAME, else DATABASE_URL (a URI or conninfo string, used as it
 * is); else DATA_SOURCE_URI ("host:port/db?opts", postgresql:// added) with
 * DATA_SOURCE_USER and DATA_SOURCE_PASS, each NAME_FILE variant winning over
 * NAME (URI and user files are read now, trimmed); with none of them,
 * libpq's defaults (as psql). The password is never copied: PASS_FILE
 * becomes password_file, PASS becomes password_env. Adds a target named
 * 'name' to 'cfg'. Returns 0, or -1 with 'e' set (naming the variable).
 */
int config_add_env_target(struct config *cfg, const char *name,
			  struct err *e) MUST_CHECK;

/*
 * Add a target named 'name' of 'kind' from the connection string 'dsn' (a
 * URI or conninfo, used as it is), which came from 'what' (a flag or
 * variable, for messages, which never show the string). Returns 0, or -1
 * with 'e' set.
 */
int config_add_dsn_target(struct config *cfg, const char *name,
			  enum target_kind kind, const char *what,
			  const char *dsn, struct err *e) MUST_CHECK;

void config_free(struct config *cfg);

/* Free what a target_config holds (zeroing a literal password). */
void target_config_release(struct target_config *t);

/* The auth module named 'name', or NULL. */
const struct auth_module *config_auth_module(const struct config *cfg,
					     const char *name);

/*
 * Whether "host:port" matches one of probe.allow's patterns, each anchored
 * at both ends (the whole string must match).
 */
bool config_probe_allowed(const struct config *cfg, const char *hostport);

/*
 * Fill 't' for an ad-hoc /probe target named 'name': host, port, dbname
 * ('dbname' NULL: "postgres") and, with 'am', its user, password source and
 * options. Release 't' with target_config_release.
 */
void config_probe_target(struct target_config *t, const char *name,
			 const char *host, const char *port, const char *dbname,
			 const struct auth_module *am);

/* Read a secret file, trimming surrounding white space. Returns a malloc'ed
 * string, or NULL with 'e' set (the message names the file, not its
 * contents). */
char *config_read_secret(const char *path, struct err *e);

#endif
