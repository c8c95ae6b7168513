/*
 * What the config*.c files share and nobody else uses: the state of one
 * config file being loaded and the helpers one part calls in another. Not
 * a public header: other modules include config.h.
 */
#ifndef CONFIG_INT_H
#define CONFIG_INT_H

/* include "config.h" before this header: the module's public types */
#include <stdbool.h>
#include <stddef.h>
#include "ydoc.h"

#define MAX_CONFIG_BYTES (1u << 20)
#define MAX_SECRET_BYTES (64u << 10)

/* One config file being loaded. Lives for config_load. */
struct cloader {
	struct ydoc y;
	struct config *cfg;
	char *dir; /* the file's directory, for relative paths; or NULL */
};

/* config.c */
/* Free what auth module 'm' owns (not 'm'). */
void cfg_auth_module_release(struct auth_module *m);
/* Append a libpq keyword/value; both arrays stay NULL-terminated. */
void cfg_push_param(struct target_config *t, const char *key, const char *val);
/* Append target 't' to cfg->targets (its contents move; 't' is zeroed). */
void cfg_push_target(struct config *cfg, struct target_config *t);

/* config_target.c */
/* [a-zA-Z0-9_.-]+ */
bool cfg_target_name_valid(const char *s);
/* Whether 's' starts with postgresql:// or postgres://. */
bool cfg_has_uri_scheme(const char *s);
/* 'path' as seen from the config file's directory. */
char *cfg_resolve_path(const struct cloader *l, const char *path);
/* libpq's message about 's', safe to print, without its newline. */
void cfg_conninfo_message(const char *s, const char *msg, char *out,
			  size_t size);
/* A list of POSIX extended regexes, each compiled to check it. */
void cfg_parse_regexes(struct cloader *l, const yaml_node_t *n,
		       const char *what, char ***out, size_t *nout);
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
			       char **penv, char ***pcmd);
/* The "targets:" list into l->cfg. */
void cfg_parse_targets(struct cloader *l, yaml_node_t *n);

#endif
