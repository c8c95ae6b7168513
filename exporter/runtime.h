/*
 * The live configuration snapshot: config, collectors and targets, built
 * and validated as one piece, swapped in atomically on reload and freed
 * when the last scrape using it lets go.
 */
#ifndef RUNTIME_H
#define RUNTIME_H

#include <stdbool.h>
#include "cli.h"
#include "config.h"
#include "diag.h"
#include "querydef.h"
#include "target.h"

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
	double loaded_at;   /* wall clock */
};

/*
 * Load the config (or the environment's target) and every query file named
 * by 'o' or the config, and make the targets. Every problem goes to 'd';
 * returns NULL when any is an error.
 */
struct runtime *runtime_build(const struct cli *o, struct diags *d);
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
int runtime_reload(const struct cli *o);

/* Reload outcomes, for pgpulse_config_* self metrics. */
struct reload_stats {
	bool last_ok;
	double last_ok_at; /* wall clock */
	unsigned long ok, failed;
};
void runtime_reload_stats(struct reload_stats *out);

/* The target named 'name' in 'rt', or NULL. */
struct target *runtime_target(const struct runtime *rt, const char *name);

/* The default query directory: the installed one, or the source tree's. */
const char *runtime_default_queries(void);

#endif
