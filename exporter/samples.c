/*
 * Rows into samples: column values parsed to numbers, metric columns
 * found, histograms, top selections with sticky keys, pivots, path
 * transforms, and the error values a failed collector reports.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "samples.h"
#include "disk.h"
#include "expfmt.h"
#include "pgvalue.h"
#include "sb.h"
#include "xalloc.h"
#include "compat.h"

#define KEY_SEP '\x1f'
static int find_column(const PGresult *res, const char *name)
{
	int i, n = PQnfields(res);

	/* exact, not PQfnumber: that one folds case like an identifier */
	for (i = 0; i < n; i++)
		if (!strcmp(PQfname(res, i), name))
			return i;
	return -1;
}

/*
 * The columns of a result by name (the first of a repeated name, as
 * find_column): a result may have hundreds of columns and a collector as
 * many metrics, and a scan per metric was a quarter of a settings
 * collector's time.
 */
static void column_map(const PGresult *res, struct strmap *m)
{
	int i, n = PQnfields(res);

	for (i = 0; i < n; i++)
		strmap_put(m, PQfname(res, i), (void *)(intptr_t)(i + 1), NULL);
}

static int mapped_column(const struct strmap *m, const char *name)
{
	return (int)(intptr_t)strmap_get(m, name) - 1;
}

static enum metric_type usage_type(enum col_usage u)
{
	switch (u) {
	case USAGE_COUNTER:
		return METRIC_COUNTER;
	case USAGE_INFO:
		return METRIC_INFO;
	case USAGE_HISTOGRAM:
		return METRIC_HISTOGRAM;
	default:
		return METRIC_GAUGE;
	}
}

static bool is_value(const struct metricdef *md)
{
	return md->usage != USAGE_LABEL && md->usage != USAGE_DISCARD;
}

/* "{1,2.5,10}" -> numbers; returns the count, or -1. */
static int parse_float_array(const char *s, double *v, int max)
{
	int n = 0;
	const char *p = s;

	if (*p++ != '{')
		return -1;
	while (*p && *p != '}') {
		char *end;

		if (n == max)
			return -1;
		v[n++] = strtod(p, &end);
		if (end == p)
			return -1;
		p = end;
		if (*p == ',')
			p++;
	}
	return *p == '}' ? n : -1;
}

#define MAX_BUCKETS 64

static int add_histogram(struct mset *out, struct family *f,
			 const PGresult *res, int row, int col,
			 const struct metricdef *md, struct label *labels,
			 size_t nlabels, struct err *e)
{
	char name[256];
	double le[MAX_BUCKETS], counts[MAX_BUCKETS], sum, count;
	int cb, cs, cc, n, m, i;
	char lebuf[64];

	snprintf(name, sizeof(name), "%s_bucket", md->column);
	cb = find_column(res, name);
	snprintf(name, sizeof(name), "%s_sum", md->column);
	cs = find_column(res, name);
	snprintf(name, sizeof(name), "%s_count", md->column);
	cc = find_column(res, name);
	if (cb < 0 || cs < 0 || cc < 0)
		return err_set(e,
			       "histogram '%s' needs columns %s_bucket, %s_sum "
			       "and %s_count",
			       md->column, md->column, md->column, md->column);
	if (PQgetisnull(res, row, col) || PQgetisnull(res, row, cb) ||
	    PQgetisnull(res, row, cs) || PQgetisnull(res, row, cc))
		return 0;
	n = parse_float_array(PQgetvalue(res, row, col), le, MAX_BUCKETS);
	m = parse_float_array(PQgetvalue(res, row, cb), counts, MAX_BUCKETS);
	if (n < 0 || m != n ||
	    pgvalue_number(PQgetvalue(res, row, cs), &sum) < 0 ||
	    pgvalue_number(PQgetvalue(res, row, cc), &count) < 0)
		return err_set(e, "histogram '%s': malformed bucket arrays",
			       md->column);
	labels[nlabels].name = (char *)"le";
	for (i = 0; i <= n; i++) {
		struct sb sbuf = SB_INIT(sizeof(lebuf));

		if (i < n)
			expfmt_number(&sbuf, le[i]);
		else
			sb_adds(&sbuf, "+Inf");
		snprintf(lebuf, sizeof(lebuf), "%s", sb_str(&sbuf));
		sb_release(&sbuf);
		labels[nlabels].value = lebuf;
		mset_add(out, f, "_bucket", labels, nlabels + 1,
			 i < n ? counts[i] : count, NULL);
	}
	mset_add(out, f, "_sum", labels, nlabels, sum * md->scale, NULL);
	mset_add(out, f, "_count", labels, nlabels, count, NULL);
	return 0;
}

int samples_metric_column(const PGresult *res, const struct metricdef *md)
{
	int col = find_column(res, md->column);
	size_t k;

	for (k = 0; col < 0 && k < md->nalt; k++)
		col = find_column(res, md->alt_columns[k]);
	return col;
}

/* A path column: relative paths are under the data directory. */
static int transform_value(const struct metricdef *md, const char *path,
			   const struct rowopts *o, double *v, struct err *e)
{
	char *full = NULL;
	int rc;

	if (path[0] != '/') {
		if (!o || !o->datadir)
			return err_set(e,
				       "column '%s': the data directory is not "
				       "known (set data_directory for the "
				       "target, or grant pg_read_all_settings)",
				       md->column);
		full = xasprintf("%s/%s", o->datadir, path);
		path = full;
	}
	switch (md->transform) {
	case TRANSFORM_DISK_USAGE:
		rc = disk_usage(path, v, e);
		break;
	case TRANSFORM_FS_SIZE:
		rc = disk_fs(path, DISK_FS_SIZE, v, e);
		break;
	case TRANSFORM_FS_FREE:
		rc = disk_fs(path, DISK_FS_FREE, v, e);
		break;
	default:
		rc = disk_fs(path, DISK_FS_AVAIL, v, e);
		break;
	}
	free(full);
	return rc;
}

/* The numeric value of row 'row' for metric 'md'; 1: no sample. */
static int row_value(const struct metricdef *md, const PGresult *res, int row,
		     int col, int addcol, const struct rowopts *o, double *v,
		     struct err *e, struct err *warn)
{
	const char *text;
	size_t k;

	if (md->usage == USAGE_INFO) {
		*v = 1;
		return 0;
	}
	if (md->has_const_value) {
		*v = md->const_value;
		return 0;
	}
	if (PQgetisnull(res, row, col)) {
		if (!md->has_null_value)
			return 1;
		*v = md->null_value;
		return 0;
	}
	text = PQgetvalue(res, row, col);
	if (md->transform != TRANSFORM_NONE)
		return transform_value(md, text, o, v, warn) < 0 ? 1 : 0;
	if (md->nmap) {
		*v = NAN;
		for (k = 0; k < md->nmap; k++)
			if (!strcmp(md->map_keys[k], text))
				*v = md->map_vals[k];
		return 0;
	}
	if (pgvalue_parse(text, PQftype(res, col), v) < 0) {
		err_set(e, "column '%s': '%.40s' is not a number", md->column,
			text);
		return -1;
	}
	*v *= md->scale;
	if (addcol >= 0 && !PQgetisnull(res, row, addcol)) {
		double more;

		text = PQgetvalue(res, row, addcol);
		if (pgvalue_parse(text, PQftype(res, addcol), &more) < 0) {
			err_set(e, "column '%s': '%.40s' is not a number",
				md->add_column, text);
			return -1;
		}
		*v += more * md->add_scale;
	}
	return 0;
}

/* Sticky keys: key -> expiry (monotonic seconds, malloc'ed double). */
static bool sticky_live(struct strmap *sticky, const char *key, double now)
{
	double *exp = sticky ? strmap_get(sticky, key) : NULL;

	return exp && *exp > now;
}

static void sticky_touch(struct strmap *sticky, const char *key, double until)
{
	double *exp = xmalloc(sizeof(*exp));

	*exp = until;
	free(strmap_set(sticky, key, exp));
}

static bool sticky_unexpired(const char *key, void *value, void *now)
{
	(void)key;
	return *(double *)value > *(double *)now;
}

/* Drop expired keys. */
void samples_sticky_prune(struct strmap *sticky, double now)
{
	strmap_filter(sticky, sticky_unexpired, &now, free);
}

struct ranked {
	int row;
	double by;
};

static int by_desc(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->by != y->by)
		return x->by < y->by ? 1 : -1;
	return x->row - y->row;
}

static size_t top_n(const struct collector *c, const struct rowopts *o)
{
	const char *v;

	if (!c->top.n_param)
		return c->top.n;
	v = collector_param(c, c->top.n_param, o ? o->cfg : NULL);
	return v ? (size_t)strtoul(v, NULL, 10) : 100;
}

/*
 * Which rows of 'res' 'c' keeps under its top selection: a malloc'ed array
 * of flags, or NULL when every row is kept.
 */
static bool *select_top(const struct collector *c, const PGresult *res,
			const struct rowopts *o, struct err *e)
{
	int nrows = PQntuples(res), bycol, i;
	size_t n = top_n(c, o), k;
	struct strmap *sticky = o ? o->sticky : NULL;
	double now = o ? o->now : 0;
	struct sb key = SB_INIT(0);
	int *keycols;
	struct ranked *r;
	bool *keep;

	/* across databases, the rows compete later (topsel.h) */
	if (!c->top.by || c->top.across)
		return NULL;
	bycol = find_column(res, c->top.by);
	if (bycol < 0) {
		err_set(e, "top: column '%s' must be returned", c->top.by);
		return NULL;
	}
	keycols = xcalloc(c->top.nkeys + 1, sizeof(*keycols));
	for (k = 0; k < c->top.nkeys; k++) {
		keycols[k] = find_column(res, c->top.keys[k]);
		if (keycols[k] < 0) {
			err_set(e, "top: key column '%s' must be returned",
				c->top.keys[k]);
			free(keycols);
			return NULL;
		}
	}
	r = xcalloc((size_t)nrows + 1, sizeof(*r));
	keep = xcalloc((size_t)nrows + 1, sizeof(*keep));
	for (i = 0; i < nrows; i++) {
		r[i].row = i;
		if (PQgetisnull(res, i, bycol) ||
		    pgvalue_parse(PQgetvalue(res, i, bycol),
				  PQftype(res, bycol), &r[i].by) < 0)
			r[i].by = -INFINITY;
	}
	qsort(r, (size_t)nrows, sizeof(*r), by_desc);
	for (i = 0; i < nrows; i++) {
		sb_reset(&key);
		for (k = 0; k < c->top.nkeys; k++) {
			sb_adds(&key, PQgetvalue(res, r[i].row, keycols[k]));
			sb_addc(&key, KEY_SEP);
		}
		if ((size_t)i < n) {
			keep[r[i].row] = true;
			if (sticky && c->top.sticky > 0)
				sticky_touch(sticky, sb_str(&key),
					     now + c->top.sticky);
		} else if (sticky_live(sticky, sb_str(&key), now)) {
			keep[r[i].row] = true;
		}
	}
	if (sticky)
		samples_sticky_prune(sticky, now);
	sb_release(&key);
	free(keycols);
	free(r);
	return keep;
}

/*
 * The labels of row 'row': each label column's text (empty when the column
 * is absent), then datname when given. Row -1 is the "other" row of a top
 * selection: its key is "other", its other labels empty. Returns the count;
 * the strings point into 'res' and 'c'.
 */
static size_t row_labels(const struct collector *c, const PGresult *res,
			 int row, const int *cols, const char *datname,
			 struct label *labels)
{
	size_t i, n = 0;

	for (i = 0; i < c->nmetrics; i++) {
		const char *v = "";

		if (c->metrics[i].usage != USAGE_LABEL)
			continue;
		if (row < 0 && c->top.nkeys &&
		    !strcmp(c->metrics[i].column,
			    c->top.keys[c->top.nkeys - 1]))
			v = "other";
		else if (row >= 0 && cols[i] >= 0)
			v = PQgetvalue(res, row, cols[i]);
		labels[n].name = c->metrics[i].column;
		labels[n].value = (char *)v;
		n++;
	}
	if (datname) {
		labels[n].name = (char *)"datname";
		labels[n].value = (char *)datname;
		n++;
	}
	return n;
}

/* The columns and families of one conversion, per metric of 'c'. */
struct conv {
	const struct collector *c;
	const PGresult *res;
	const char *datname;
	int *cols, *addcols;  /* -1: not returned */
	struct family **fams; /* NULL: not a value, or refused */
	struct label *labels; /* of the current row */
	double *other;	      /* sums of the rows a top selection left out */
	size_t nlabels, series, max_series;
	size_t *dropped;
};

/* Find the columns of every metric and make their families in 'out'. */
static void conv_columns(struct conv *v, struct mset *out, struct err *e)
{
	const struct collector *c = v->c;
	struct strmap cmap = STRMAP_INIT;
	size_t i;

	column_map(v->res, &cmap);
	for (i = 0; i < c->nmetrics; i++) {
		const struct metricdef *md = &c->metrics[i];

		v->cols[i] = mapped_column(&cmap, md->column);
		for (size_t k = 0; v->cols[i] < 0 && k < md->nalt; k++)
			v->cols[i] = mapped_column(&cmap, md->alt_columns[k]);
		v->addcols[i] = md->add_column
					? mapped_column(&cmap, md->add_column)
					: -1;
		if (v->cols[i] < 0 && md->usage != USAGE_DISCARD &&
		    !md->has_const_value && !md->optional)
			err_set(e, "column '%s' is declared but not returned",
				md->column);
		if (!is_value(md))
			continue;
		v->fams[i] = mset_family(out, md->name, usage_type(md->usage),
					 md->help, e);
	}
	strmap_release(&cmap);
}

/* The samples of row 'row' ('kept': not left out by a top selection). */
static void conv_row(struct conv *v, int row, bool kept,
		     const struct rowopts *o, struct mset *out, struct err *e,
		     struct err *warn)
{
	const struct collector *c = v->c;
	size_t i;

	v->nlabels = row_labels(c, v->res, row, v->cols, v->datname, v->labels);
	for (i = 0; i < c->nmetrics; i++) {
		const struct metricdef *md = &c->metrics[i];
		double x;

		if (!v->fams[i] || (v->cols[i] < 0 && !md->has_const_value))
			continue;
		if (kept && v->series >= v->max_series) {
			(*v->dropped)++;
			continue;
		}
		if (md->usage == USAGE_HISTOGRAM) {
			if (kept && add_histogram(out, v->fams[i], v->res, row,
						  v->cols[i], md, v->labels,
						  v->nlabels, e) == 0)
				v->series++;
			continue;
		}
		if (row_value(md, v->res, row, v->cols[i], v->addcols[i], o, &x,
			      e, warn))
			continue;
		if (!kept) {
			v->other[i] += x;
			continue;
		}
		if (mset_add(out, v->fams[i], "", v->labels, v->nlabels, x,
			     NULL) == 0)
			v->series++;
		else
			(*v->dropped)++;
	}
}

/* One row carries the sum of the rest, so totals stay exact. */
static void conv_other(struct conv *v, struct mset *out)
{
	size_t i;

	v->nlabels =
		row_labels(v->c, v->res, -1, v->cols, v->datname, v->labels);
	for (i = 0; i < v->c->nmetrics; i++) {
		const struct metricdef *md = &v->c->metrics[i];

		if (!v->fams[i] || md->usage == USAGE_HISTOGRAM ||
		    md->usage == USAGE_INFO)
			continue;
		if (mset_add(out, v->fams[i], "", v->labels, v->nlabels,
			     v->other[i], NULL) != 0)
			(*v->dropped)++;
	}
}

int samples_from_rows_ex(const struct collector *c, const PGresult *res,
			 const char *datname, size_t max_series,
			 const struct rowopts *o, struct mset *out,
			 size_t *dropped, struct err *e, struct err *warn)
{
	size_t nm = c->nmetrics ? c->nmetrics : 1;
	struct conv v = {
		.c = c,
		.res = res,
		.datname = datname,
		.cols = xcalloc(nm, sizeof(int)),
		.addcols = xcalloc(nm, sizeof(int)),
		.fams = xcalloc(nm, sizeof(struct family *)),
		.labels = xcalloc(c->nmetrics + 2, sizeof(struct label)),
		.other = xcalloc(nm, sizeof(double)),
		.max_series = max_series,
		.dropped = dropped,
	};
	int row, nrows = PQntuples(res);
	bool *keep;

	conv_columns(&v, out, e);
	keep = select_top(c, res, o, e);
	for (row = 0; row < nrows; row++)
		conv_row(&v, row, !keep || keep[row], o, out, e, warn);
	if (keep)
		conv_other(&v, out);
	free(keep);
	free(v.other);
	free(v.addcols);
	free(v.cols);
	free(v.fams);
	free(v.labels);
	return err_isset(e) ? -1 : 0;
}

/* A text column for a result samples_group makes. */
static PGresAttDesc text_attr(const char *name)
{
	PGresAttDesc a = {0};

	a.name = (char *)name;
	a.typid = 25; /* text, converted as text holding a number */
	a.typlen = -1;
	a.atttypmod = -1;
	return a;
}

/*
 * "group": one row per distinct set of label values, the labels and the
 * number of rows that had them (a label column the result lacks is empty).
 */
static PGresult *samples_group(const struct collector *c, const PGresult *res,
			       struct err *e)
{
	size_t nm = c->nmetrics, i, nl = 0, ng = 0;
	int *cols = xcalloc(nm + 1, sizeof(*cols));
	PGresAttDesc *attrs = xcalloc(nm + 1, sizeof(*attrs));
	int *first = xcalloc((size_t)PQntuples(res) + 1, sizeof(*first));
	long *count = xcalloc((size_t)PQntuples(res) + 1, sizeof(*count));
	struct strmap groups = STRMAP_INIT;
	struct sb key;
	PGresult *out = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	int row;

	sb_init(&key, 0);
	for (i = 0; i < nm; i++) {
		const struct metricdef *md = &c->metrics[i];

		if (md->usage != USAGE_LABEL)
			continue;
		cols[nl] = find_column(res, md->column);
		for (size_t k = 0; cols[nl] < 0 && k < md->nalt; k++)
			cols[nl] = find_column(res, md->alt_columns[k]);
		attrs[nl++] = text_attr(md->column);
	}
	attrs[nl] = text_attr(c->group_count);
	for (row = 0; row < PQntuples(res); row++) {
		uintptr_t g;

		sb_reset(&key);
		for (i = 0; i < nl; i++) {
			if (cols[i] >= 0)
				sb_adds(&key, PQgetvalue(res, row, cols[i]));
			sb_addc(&key, KEY_SEP);
		}
		g = (uintptr_t)strmap_get(&groups, sb_str(&key));
		if (!g) {
			first[ng] = row;
			g = ++ng;
			strmap_set(&groups, sb_str(&key), (void *)g);
		}
		count[g - 1]++;
	}
	if (!out || !PQsetResultAttrs(out, (int)nl + 1, attrs)) {
		PQclear(out);
		out = NULL;
		err_set(e, "group: out of memory");
		goto done;
	}
	for (i = 0; i < ng; i++) {
		char n[32];
		size_t k;

		for (k = 0; k < nl; k++) {
			const char *v = cols[k] >= 0 ? PQgetvalue(res, first[i],
								  cols[k])
						     : "";

			PQsetvalue(out, (int)i, (int)k, (char *)v,
				   (int)strlen(v));
		}
		snprintf(n, sizeof(n), "%ld", count[i]);
		PQsetvalue(out, (int)i, (int)nl, n, (int)strlen(n));
	}
done:
	strmap_release(&groups);
	sb_release(&key);
	free(count);
	free(first);
	free(attrs);
	free(cols);
	return out;
}

PGresult *samples_pivot(const struct collector *c, const PGresult *res,
			struct err *e)
{
	int kc, vc, i, n = PQntuples(res);
	PGresAttDesc *attrs;
	PGresult *out;

	if (c->group_count)
		return samples_group(c, res, e);
	if (!c->pivot_key)
		return NULL;
	kc = find_column(res, c->pivot_key);
	vc = find_column(res, c->pivot_value);
	if (kc < 0 || vc < 0) {
		err_set(e, "pivot: columns '%s' and '%s' must be returned",
			c->pivot_key, c->pivot_value);
		return NULL;
	}
	out = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	attrs = xcalloc((size_t)n + 1, sizeof(*attrs));
	for (i = 0; i < n; i++) {
		attrs[i].name = PQgetvalue(res, i, kc);
		attrs[i].typid =
			25; /* text, converted as text holding a number */
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	if (!out || !PQsetResultAttrs(out, n, attrs)) {
		free(attrs);
		PQclear(out);
		err_set(e, "pivot: out of memory");
		return NULL;
	}
	free(attrs);
	for (i = 0; i < n; i++) {
		bool null = PQgetisnull(res, i, vc);

		PQsetvalue(out, 0, i, null ? NULL : PQgetvalue(res, i, vc),
			   null ? -1 : PQgetlength(res, i, vc));
	}
	return out;
}

int samples_from_rows(const struct collector *c, const PGresult *res,
		      const char *datname, size_t max_series, struct mset *out,
		      size_t *dropped, struct err *e)
{
	struct err warn = ERR_INIT;

	return samples_from_rows_ex(c, res, datname, max_series, NULL, out,
				    dropped, e, &warn);
}

bool samples_has_error_value(const struct collector *c)
{
	size_t i;

	for (i = 0; i < c->nmetrics; i++)
		if (c->metrics[i].has_error_value)
			return true;
	return false;
}

/* Samples of the metrics that define an error value (pg_up 0). */
void samples_add_error_values(const struct collector *c, struct mset *out)
{
	size_t i;

	for (i = 0; i < c->nmetrics; i++) {
		const struct metricdef *md = &c->metrics[i];
		struct family *f;

		if (!md->has_error_value)
			continue;
		f = mset_family(out, md->name, usage_type(md->usage), md->help,
				NULL);
		if (f)
			mset_add(out, f, "", NULL, 0, md->error_value, NULL);
	}
}

bool samples_column_known(const struct collector *c, const char *name)
{
	size_t j, k, n;

	if (c->pivot_key || (c->top.by && !strcmp(name, c->top.by)))
		return true;
	for (j = 0; j < c->nmetrics; j++) {
		const struct metricdef *md = &c->metrics[j];

		if (!strcmp(md->column, name) ||
		    (md->add_column && !strcmp(md->add_column, name)))
			return true;
		for (k = 0; k < md->nalt; k++)
			if (!strcmp(md->alt_columns[k], name))
				return true;
		if (md->usage != USAGE_HISTOGRAM)
			continue;
		n = strlen(md->column);
		if (!strncmp(name, md->column, n) &&
		    (!strcmp(name + n, "_bucket") ||
		     !strcmp(name + n, "_sum") || !strcmp(name + n, "_count")))
			return true;
	}
	return false;
}
