/*
 * The checks of a dry run, shared by dryrun.c (the config, the targets,
 * gating and privileges) and dryrun_result.c (one collector's result).
 * Internal to the dry run: nothing else includes it.
 */
#ifndef DRYRUN_INT_H
#define DRYRUN_INT_H

/* include "dryrun.h" before this header: the module's public types */
#include <stdbool.h>
#include <stddef.h>
#include "config.h"
#include "diag.h"
#include "metrics.h"
#include "querydef.h"
#include "runtime.h"
#include "strmap.h"
#include "target.h"
#include "compat.h"

/* A query file's text, read once, for checking positions. */
struct source {
	char *file;
	char *text;
	size_t len;
};

/* State of one dry run. */
struct dry {
	const struct dryrun_opts *o;
	struct dryrun_report *rep;
	struct runtime *rt; /* the files and targets (runtime_load) */
	bool *bad;	    /* per collector: failed an offline check */
	struct source *src;
	size_t nsrc, srcalloc;
	struct mset *all; /* every target's series, for --show-metrics */
};

/* What one collector produced on one target, over its databases. */
struct outcome {
	struct dryrun_row *row;
	struct mset *m;
	struct strmap *distinct; /* per label column: value -> NULL */
	size_t nlabelcols;
	bool columns_checked;
	bool failed;
};

/* The text of query file 'file', read once per dry run. */
const struct source *dryrun_source(struct dry *x, const char *file);
/* Raise 'row' (NULL: none) to status 'st' at least. */
void dryrun_bump(struct dryrun_row *row, enum dryrun_status st);
/* The note of 'row', unless it has one: the first problem is shown. */
void dryrun_note(struct dryrun_row *row, const char *fmt, ...) PRINTF(2, 3);
/* A diagnostic about collector 'c' (on target 't', if any). */
void dryrun_diag(struct dry *x, struct dryrun_row *row,
		 const struct collector *c, const struct target *t,
		 enum diag_severity sev, struct srcpos p, const char *fmt, ...)
	PRINTF(7, 8);
/* The place of byte 'off' of 'sql'; 'exact' false: the variant's start. */
struct srcpos dryrun_sql_at(struct dry *x, const struct collector *c,
			    const struct variant *v, const char *sql,
			    size_t off, bool *exact);

/*
 * Run variant 'v' of 'c' on 'pc' inside BEGIN READ ONLY ... ROLLBACK (the
 * whole text as it is for pgbouncer), check its result and add its series
 * to oc->m. Returns false when the session is no longer usable.
 */
bool dryrun_run_one(struct dry *x, struct outcome *oc, struct target *t,
		    struct pgconn *pc, const struct collector *c,
		    const struct variant *v, const char *db);
/* Fill oc->row from what the databases gave, and free the rest of 'oc'. */
void dryrun_finish_outcome(struct dry *x, struct outcome *oc,
			   const struct collector *c, struct target *t);

#endif
