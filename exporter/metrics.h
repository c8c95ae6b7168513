/*
 * Metric families and samples: what collectors produce and the renderer
 * prints. Names and labels are validated here, and duplicate series are
 * dropped and counted here, so a bad query never produces an invalid page.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include "compat.h"
#include "err.h"
#include "strmap.h"

enum metric_type {
	METRIC_UNTYPED,
	METRIC_GAUGE,
	METRIC_COUNTER,
	METRIC_INFO, /* value 1; name ends in _info; "gauge" in text 0.0.4 */
	METRIC_HISTOGRAM,
};

/*
 * A label pair. As input to mset_add the strings are the caller's; in a
 * sample they are owned by the sample (allocated in one block with its label
 * array: free nothing but through mset_free).
 */
struct label {
	char *name;
	char *value;
};

/*
 * One series, owned by its family (freed by mset_free). The sample's name is
 * the family name followed by 'suffix' ("" for most; "_bucket", "_sum",
 * "_count" for histograms).
 */
struct sample {
	const char *suffix; /* static string */
	struct label *labels;
	size_t nlabels;
	double value;
};

/* A metric family: owned by its mset. */
struct family {
	char *name; /* full name as in text 0.0.4 (counters end in _total) */
	char *help;
	enum metric_type type;
	struct sample *samples;
	size_t n, alloc;
};

/*
 * A set of families: one collector's result (cached across scrapes for its
 * ttl) or one target's collection. Created by mset_new, freed by mset_free;
 * not thread-safe: one owner at a time (a finished set is read-only and may
 * be shared by readers).
 */
struct mset {
	struct family **fams; /* in order of creation */
	size_t n, alloc;
	struct strmap byname; /* name -> struct family * */
	struct strmap series; /* series key -> NULL, for duplicate detection */
	size_t nseries;
	size_t dropped; /* duplicates and invalid samples dropped so far */
};

struct mset *mset_new(void);
void mset_free(struct mset *m);

/*
 * Find the family 'name' or create it with 'type' and 'help' (copied).
 * Returns NULL and sets 'e' when 'name' is not a valid metric name, when it
 * exists with another type, when a histogram/info/counter name breaks the
 * convention for its type (info names end in _info; histogram names do not
 * end in _bucket, _sum or _count), or when it would print a name another
 * family of 'm' prints (gauge 'x' and counter 'x_total' are both 'x' in
 * OpenMetrics; gauge 'h_sum' beside histogram 'h'). Counters without _total
 * are accepted (postgres_exporter's names); OpenMetrics shows them as
 * unknown. HELP text that is not valid UTF-8 is repaired.
 */
struct family *mset_family(struct mset *m, const char *name,
			   enum metric_type type, const char *help,
			   struct err *e);

/*
 * Add a sample to family 'f' of 'm' with the labels given (copied; label
 * values that are not valid UTF-8 get U+FFFD for each bad byte).
 * 'suffix' (NULL is "") must be "" except for histograms, whose samples take
 * "_bucket" (with an "le" label), "_sum" or "_count" (without). Labels keep
 * the caller's order; the series key ignores it.
 * Returns 0 when added; 1 when the series already exists in 'm' (dropped,
 * counted in m->dropped); -1 with 'e' set when a label name is invalid or
 * repeated or the suffix does not fit (dropped, counted).
 */
int mset_add(struct mset *m, struct family *f, const char *suffix,
	     const struct label *labels, size_t nlabels, double value,
	     struct err *e);

/*
 * Copy every sample of 'src' into 'dst', with 'extra' labels (e.g. target
 * name and static labels) appended to each. Families are created in 'dst' as
 * needed. Returns the number of samples dropped (duplicates, type clashes,
 * a label repeated by 'extra'); they are also added to dst->dropped.
 * src->dropped is not carried over.
 */
size_t mset_merge(struct mset *dst, const struct mset *src,
		  const struct label *extra, size_t nextra);

/* [a-zA-Z_:][a-zA-Z0-9_:]* */
bool metric_name_valid(const char *s);
/* [a-zA-Z_][a-zA-Z0-9_]*, and not starting with "__" */
bool label_name_valid(const char *s);
/* "gauge", "counter", "info", "histogram", "untyped" */
const char *metric_type_name(enum metric_type t);

#endif
