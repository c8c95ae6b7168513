/*
 * Metric families and samples: what collectors produce and the renderer
 * prints. Names and labels are validated here, and duplicate series are
 * dropped and counted here, so a bad query never produces an invalid page.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdbool.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "compat.h"
#include "err.h"
#include "names.h"
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
 * sample they point into the sample's block (see struct sample).
 */
struct label {
	char *name;
	char *value;
};

/*
 * One series. Its labels (in the order they were added) and its series key
 * live in one immutable block, allocated once when the sample is first
 * added; a merge copies only this struct and shares the block, so a set
 * that merged another holds a reference on it (see mset_merge). The
 * sample's name is the family name followed by 'suffix' ("" for most;
 * "_bucket", "_sum", "_count" for histograms).
 */
struct sample {
	const char *suffix;   /* static string */
	struct label *labels; /* each value follows its name's NUL */
	uint32_t nlabels;
	uint32_t hash; /* of the series key: private to metrics.c */
	double value;
};

/*
 * A metric family: owned by its mset. Its name and HELP are stored once per
 * set that created them and shared by the sets that merged them.
 */
struct family {
	const char *name; /* as in text 0.0.4 (counters end in _total) */
	const char *help;
	enum metric_type type;
	struct sample *samples;
	size_t n, alloc;
	/* private: the family's series (hash << 32 | index + 1), by hash */
	uint64_t *keys;
	size_t nkeys; /* slots: a power of two, or 0 */
};

struct mset_chunk;

/*
 * A set of families: one collector's result (cached across scrapes for its
 * ttl) or one target's collection. Created by mset_new, released by
 * mset_free; reference-counted, because a set that merged another shares
 * its samples' blocks: mset_free drops one reference and frees the set
 * with the last. Not thread-safe while being built: one owner at a time (a
 * finished set is read-only and may be shared by readers and merged from
 * several threads at once).
 */
struct mset {
	struct family **fams; /* in order of creation */
	size_t n, alloc;
	struct strmap byname; /* name -> struct family * */
	size_t nseries;
	size_t dropped; /* duplicates and invalid samples dropped so far */
	/* private */
	atomic_uint refs;
	struct mset_chunk *chunks; /* the blocks and strings this set made */
	struct mset **held;	   /* sets whose blocks this one shares */
	size_t nheld, aheld;
	const void *last;   /* the block of the last sample added */
	uint32_t last_hash; /* its key's hash */
};

struct mset *mset_new(void);
/*
 * Take a reference on a finished set, to keep it (e.g. a cached result in
 * a collection) without copying it; returns 'm'. Thread-safe.
 */
struct mset *mset_ref(struct mset *m);
/* Drop a reference: the set goes with the last one. NULL is a no-op. */
void mset_free(struct mset *m);
/*
 * A set that is finished (a result to cache, a collection to keep) gives
 * back what only adding to it needed: each family's duplicate table (made
 * again if something is added after all) and its array's spare room.
 */
void mset_seal(struct mset *m);

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
 * Add every sample of 'src' to 'dst', with 'extra' labels (e.g. target
 * name and static labels) appended to each. Families are created in 'dst' as
 * needed. Returns the number of samples dropped (duplicates, type clashes,
 * a label repeated by 'extra'); they are also added to dst->dropped.
 * src->dropped is not carried over. Without 'extra' no label is copied:
 * 'dst' shares the blocks of src's samples and keeps the sets that own them
 * alive (src may be freed right after).
 */
size_t mset_merge(struct mset *dst, const struct mset *src,
		  const struct label *extra, size_t nextra);

/*
 * mset_merge without extra labels (sharing the blocks) of only the samples
 * of 'src' that 'keep' is true for: sample 'j' of family 'f' of 'src',
 * asked in order, family by family. The others are not counted as dropped.
 */
typedef bool mset_keep_fn(const struct family *f, size_t j, void *arg);
size_t mset_merge_if(struct mset *dst, const struct mset *src,
		     mset_keep_fn *keep, void *arg);

/*
 * The bytes that tell 's' from the other series of its family: its suffix
 * and labels in name order ('*len' bytes, with NULs). Two samples of any
 * families with the same key have the same suffix and labels: a map from
 * these keys finds what belongs to a row without reading its labels.
 */
const char *sample_series_key(const struct sample *s, size_t *len);

/* The value of label 'name' of 's', or NULL when it has none. */
const char *sample_label(const struct sample *s, const char *name);

/* "gauge", "counter", "info", "histogram", "untyped" */
const char *metric_type_name(enum metric_type t);

#endif
