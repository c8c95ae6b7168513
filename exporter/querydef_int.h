/*
 * What the querydef*.c files share and nobody else uses: the state of one
 * file being loaded (struct loader) and the helpers one part of the loader
 * calls in another. Not a public header: other modules include querydef.h.
 */
#ifndef QUERYDEF_INT_H
#define QUERYDEF_INT_H

#include <limits.h>
/* include "querydef.h" before this header: the module's public types */
#include <stdbool.h>
#include <stddef.h>
#include "strmap.h"
#include "ydoc.h"

#define MAX_FILE_BYTES (16u << 20)
#define MAX_VERSION    INT_MAX
/* At most this many names per metric (qd_metric_claims). */
#define MAX_CLAIMS 4

/* One file being loaded into a queryset. Lives for that call. */
struct loader {
	struct ydoc y;
	struct queryset *qs;
	struct diags *d;
	size_t nerr; /* errors before the collector being read */
	/*
	 * of the collector being read: where each good parameter is named,
	 * and every name under params:, good or not (so that SQL using a
	 * rejected one is not blamed too)
	 */
	const yaml_node_t **param_nodes;
	struct strmap named_params;
};

/* querydef.c */
/* Free what collector 'c' owns and zero it (the struct stays). */
void qd_collector_clear(struct collector *c);
/* The metric of 'c' that takes the name 'name', or NULL. */
const struct metricdef *qd_find_claimant(const struct collector *c,
					 const char *name);
/* Enter qs->v[pos]'s name and the names of its metrics in the indexes. */
void qd_index_collector(struct queryset *qs, size_t pos);

/* querydef_load.c */
/* The position of node 'n', in the file of collector 'c'. */
struct srcpos qd_cpos(const struct loader *l, const struct collector *c,
		      const yaml_node_t *n);
/* A new zeroed variant at the end of c->variants. */
struct variant *qd_add_variant(struct collector *c);

/* querydef_yaml.c */
/*
 * Refuse, where it goes wrong in 'n', an SQL text that is not one
 * read-only query (sqlscan_statement): such a file does not load.
 */
void qd_check_statement(struct loader *l, const struct collector *c,
			const yaml_node_t *n, const char *sql);
/* One collector of our format; errors reported, 'c' filled as far as it
 * could be. */
void qd_parse_collector(struct loader *l, const struct ypair *p,
			struct collector *c);

/* querydef_metric.c */
/* Whether 's' ends with 'suffix'. */
bool qd_ends_with(const char *s, const char *suffix);
/* A usage that makes a metric (not label, not discard). */
bool qd_is_value(enum col_usage u);
/* Text value -> number, for columns holding words such as "on". */
void qd_parse_mapping(struct loader *l, struct metricdef *m, yaml_node_t *n,
		      const char *what);
/*
 * The full name of value column 'm': 'given', or <collector>_<column>
 * (with the _total and _info suffixes our format adds). Reports at 'at' and
 * returns -1 when it is not a valid name of ours.
 */
int qd_resolve_name(struct loader *l, const struct collector *c,
		    struct metricdef *m, const yaml_node_t *at,
		    const char *given);
/*
 * HELP text: 'given', or the collector's help naming the column; with a
 * ttl, a sentence saying the value may be that old (Prometheus asks HELP to
 * say when values are cached).
 */
char *qd_make_help(const struct collector *c, const char *given,
		   const char *column);
/* "pivot: {key: K, value: V}" */
void qd_parse_pivot(struct loader *l, struct collector *c, yaml_node_t *n);
/* "group: {count: C}" (after 'metrics', whose count column it checks) */
void qd_parse_group(struct loader *l, struct collector *c, yaml_node_t *n);
/* One entry of 'metrics:' in our format: "column: type" or a mapping. */
void qd_parse_metric(struct loader *l, struct collector *c,
		     const struct ypair *p, struct metricdef *m);
/* qsort comparison of two char pointers. */
int qd_cmp_str(const void *a, const void *b);
/* The labels of every metric of 'c', sorted: "a, b" ("" for none). */
char *qd_label_signature(const struct collector *c);
/*
 * The names metric 'm' takes in an exposition, so that no two metrics
 * collide: its own; for a histogram, its series; for a counter, the family
 * name OpenMetrics gives it (without _total). Returns how many, each
 * malloc'ed in out[].
 */
size_t qd_metric_claims(const struct metricdef *m, char **out);
/* Free what qd_metric_claims returned. */
void qd_claims_free(char **v, size_t n);
/* Report 'm' (of 'c') colliding with 'o' (of collector 'oc'). */
void qd_report_clash(struct loader *l, const struct collector *c,
		     const struct metricdef *m, const char *oc,
		     const struct metricdef *o, const char *osig);
/*
 * Checks over all the columns of a collector, once each is read: reserved
 * labels, histogram companion columns, two columns making one metric,
 * error values, and whether anything is produced at all.
 */
void qd_check_columns(struct loader *l, struct collector *c,
		      const yaml_node_t *at);

/* querydef_compat.c */
/* One query of postgres_exporter's format. */
void qd_parse_compat_collector(struct loader *l, const struct ypair *p,
			       struct collector *c);

#endif
