/*
 * Metric sets: families and their samples, with the checks that keep a
 * rendered page valid whatever a query returns (names, labels, UTF-8,
 * duplicate series, names that would clash once rendered).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"
#include "sb.h"
#include "xalloc.h"

/* Label arrays up to this size are sorted and keyed without allocating. */
#define SMALL_LABELS 16
#define SMALL_KEY    512

static const char *const type_names[] = {
	[METRIC_UNTYPED] = "untyped",	  [METRIC_GAUGE] = "gauge",
	[METRIC_COUNTER] = "counter",	  [METRIC_INFO] = "info",
	[METRIC_HISTOGRAM] = "histogram",
};

static const char *const histogram_suffixes[] = {"_bucket", "_sum", "_count"};

const char *metric_type_name(enum metric_type t)
{
	if ((unsigned)t >= ARRAY_SIZE(type_names))
		return "unknown";
	return type_names[t];
}

static bool is_alpha_(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool metric_name_valid(const char *s)
{
	if (!s || !(is_alpha_(*s) || *s == ':'))
		return false;
	for (s++; *s; s++)
		if (!is_alpha_(*s) && !is_digit(*s) && *s != ':')
			return false;
	return true;
}

bool label_name_valid(const char *s)
{
	if (!s || !is_alpha_(*s) || (s[0] == '_' && s[1] == '_'))
		return false;
	for (s++; *s; s++)
		if (!is_alpha_(*s) && !is_digit(*s))
			return false;
	return true;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len > n && !memcmp(s + len - n, suffix, n);
}

static bool is_ascii(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/* A malloc'ed copy of 's' with invalid UTF-8 repaired. */
static char *utf8_dup(const char *s)
{
	struct sb sb = SB_INIT(0);
	size_t n = strlen(s);

	if (is_ascii(s, n))
		return xstrndup(s, n);
	sb_add_utf8(&sb, s, n);
	return sb_detach(&sb, NULL);
}

struct mset *mset_new(void)
{
	struct mset *m = xcalloc(1, sizeof(*m));

	m->byname = (struct strmap)STRMAP_INIT;
	m->series = (struct strmap)STRMAP_INIT;
	return m;
}

void mset_free(struct mset *m)
{
	struct family *f;
	size_t i, j;

	if (!m)
		return;
	for (i = 0; i < m->n; i++) {
		f = m->fams[i];
		for (j = 0; j < f->n; j++)
			free(f->samples[j].labels);
		free(f->samples);
		free(f->name);
		free(f->help);
		free(f);
	}
	free(m->fams);
	strmap_release(&m->byname);
	strmap_release(&m->series);
	free(m);
}

/*
 * The length of the name OpenMetrics gives the family: without _total for
 * counters, without _info for info metrics.
 */
static size_t om_base_len(const char *name, size_t len, enum metric_type t)
{
	if (t == METRIC_COUNTER && ends_with(name, len, "_total"))
		return len - 6;
	if (t == METRIC_INFO && ends_with(name, len, "_info"))
		return len - 5;
	return len;
}

static struct family *find(const struct mset *m, struct sb *tmp, const char *s,
			   size_t len, const char *suffix)
{
	sb_reset(tmp);
	sb_add(tmp, s, len);
	sb_adds(tmp, suffix);
	return strmap_getn(&m->byname, sb_str(tmp), tmp->len);
}

/*
 * Refuse a family whose rendered names would collide with another's: two
 * families with one OpenMetrics name (gauge 'x' and counter 'x_total'), or
 * a family named like a histogram's samples ('x_bucket' beside histogram
 * 'x').
 */
static int check_clash(const struct mset *m, const char *name,
		       enum metric_type type, struct err *e)
{
	static const char *const om_forms[] = {"", "_total", "_info"};
	struct sb tmp = SB_INIT(0);
	size_t len = strlen(name), base = om_base_len(name, len, type), i;
	struct family *f;
	int rc = -1;

	for (i = 0; i < ARRAY_SIZE(om_forms); i++) {
		f = find(m, &tmp, name, base, om_forms[i]);
		if (f &&
		    om_base_len(f->name, strlen(f->name), f->type) == base) {
			err_set(e,
				"metric '%s' clashes with %s '%s' in "
				"OpenMetrics",
				name, metric_type_name(f->type), f->name);
			goto out;
		}
	}
	for (i = 0; i < ARRAY_SIZE(histogram_suffixes); i++) {
		const char *suf = histogram_suffixes[i];

		f = NULL;
		if (type == METRIC_HISTOGRAM)
			f = find(m, &tmp, name, len, suf);
		else if (ends_with(name, len, suf))
			f = find(m, &tmp, name, len - strlen(suf), "");
		if (f &&
		    (type == METRIC_HISTOGRAM || f->type == METRIC_HISTOGRAM)) {
			err_set(e, "metric '%s' clashes with %s '%s'", name,
				metric_type_name(f->type), f->name);
			goto out;
		}
	}
	rc = 0;
out:
	sb_release(&tmp);
	return rc;
}

static int check_convention(const char *name, enum metric_type type,
			    struct err *e)
{
	size_t len = strlen(name), i;

	if (type == METRIC_INFO && !ends_with(name, len, "_info"))
		return err_set(e, "info metric '%s' must end in _info", name);
	if (type != METRIC_HISTOGRAM)
		return 0;
	for (i = 0; i < ARRAY_SIZE(histogram_suffixes); i++)
		if (ends_with(name, len, histogram_suffixes[i]))
			return err_set(e,
				       "histogram '%s' must not end in "
				       "_bucket, _sum or _count",
				       name);
	return 0;
}

struct family *mset_family(struct mset *m, const char *name,
			   enum metric_type type, const char *help,
			   struct err *e)
{
	struct family *f;

	if (!metric_name_valid(name)) {
		err_set(e, "invalid metric name '%s'", name ? name : "");
		return NULL;
	}
	if ((unsigned)type >= ARRAY_SIZE(type_names)) {
		err_set(e, "metric '%s': unknown type %d", name, (int)type);
		return NULL;
	}
	f = strmap_get(&m->byname, name);
	if (f) {
		if (f->type == type)
			return f;
		err_set(e, "metric '%s' is a %s, not a %s", name,
			metric_type_name(f->type), metric_type_name(type));
		return NULL;
	}
	if (check_convention(name, type, e) < 0 ||
	    check_clash(m, name, type, e) < 0)
		return NULL;
	f = xcalloc(1, sizeof(*f));
	f->name = xstrdup(name);
	f->help = utf8_dup(help ? help : "");
	f->type = type;
	strmap_put(&m->byname, name, f, NULL);
	ALLOC_GROW(m->fams, m->n + 1, m->alloc);
	m->fams[m->n++] = f;
	return f;
}

/* The suffixes a sample of each type may have. */
static int check_suffix(const struct family *f, const char *suffix, bool has_le,
			struct err *e)
{
	if (f->type == METRIC_HISTOGRAM && !*suffix)
		return err_set(e,
			       "histogram '%s': a sample needs _bucket, _sum "
			       "or _count",
			       f->name);
	if (f->type != METRIC_HISTOGRAM) {
		if (*suffix)
			return err_set(e, "%s '%s' has no '%s' samples",
				       metric_type_name(f->type), f->name,
				       suffix);
		return 0;
	}
	if (!strcmp(suffix, "_bucket")) {
		if (!has_le)
			return err_set(e, "histogram '%s': bucket without 'le'",
				       f->name);
		return 0;
	}
	if (strcmp(suffix, "_sum") && strcmp(suffix, "_count"))
		return err_set(e, "histogram '%s' has no '%s' samples", f->name,
			       suffix);
	if (has_le)
		return err_set(e, "histogram '%s': 'le' on %s", f->name,
			       suffix);
	return 0;
}

/* The caller's suffix (checked) as the static string a sample keeps. */
static const char *static_suffix(const char *suffix)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(histogram_suffixes); i++)
		if (!strcmp(suffix, histogram_suffixes[i]))
			return histogram_suffixes[i];
	return "";
}

/*
 * A label as it will be stored: the caller's value when it is ASCII, else a
 * repaired copy in 'fix'. Local to mset_add.
 */
struct value {
	const char *s; /* NULL: at 'off' in 'fix' */
	size_t off, len;
	size_t namelen;
};

/* Copy 'n' bytes and a NUL; returns the byte after the NUL. */
static char *put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	p[n] = '\0';
	return p + n + 1;
}

int mset_add(struct mset *m, struct family *f, const char *suffix,
	     const struct label *labels, size_t nlabels, double value,
	     struct err *e)
{
	size_t order_small[SMALL_LABELS], *order = order_small;
	struct value vals_small[SMALL_LABELS], *vals = vals_small;
	char key_small[SMALL_KEY], *key = key_small;
	struct sb fix = SB_INIT(0);
	size_t i, j, t, keylen, size, at;
	struct sample *s;
	bool has_le = false;
	char *p;
	int rc = -1;

	if (!suffix)
		suffix = "";
	if (nlabels > SMALL_LABELS) {
		order = xmalloc(nlabels * sizeof(*order));
		vals = xmalloc(nlabels * sizeof(*vals));
	}
	/* Sort by name (insertion sort: label lists are short). */
	for (i = 0; i < nlabels; i++) {
		if (!label_name_valid(labels[i].name)) {
			err_set(e, "metric '%s': invalid label name '%s'",
				f->name, labels[i].name ? labels[i].name : "");
			goto out;
		}
		has_le = has_le || !strcmp(labels[i].name, "le");
		for (j = i; j > 0 && strcmp(labels[order[j - 1]].name,
					    labels[i].name) > 0;
		     j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	for (i = 1; i < nlabels; i++) {
		if (!strcmp(labels[order[i - 1]].name, labels[order[i]].name)) {
			err_set(e, "metric '%s': label '%s' repeated", f->name,
				labels[order[i]].name);
			goto out;
		}
	}
	if (check_suffix(f, suffix, has_le, e) < 0)
		goto out;

	size = 0;
	for (i = 0; i < nlabels; i++) {
		const char *v = labels[i].value ? labels[i].value : "";

		vals[i].s = v;
		vals[i].len = strlen(v);
		vals[i].namelen = strlen(labels[i].name);
		if (!is_ascii(v, vals[i].len)) {
			at = fix.len;
			sb_add_utf8(&fix, v, vals[i].len);
			vals[i].s = NULL;
			vals[i].off = at;
			vals[i].len = fix.len - at;
		}
		size += vals[i].namelen + vals[i].len + 2;
	}
	for (i = 0; i < nlabels; i++)
		if (!vals[i].s)
			vals[i].s = fix.buf + vals[i].off;

	/*
	 * The series key: name and suffix, then name/value pairs in name
	 * order, NUL-separated (no name or value holds a NUL, so keys are
	 * unique).
	 */
	keylen = strlen(f->name) + strlen(suffix) + 1 + size;
	if (keylen > sizeof(key_small))
		key = xmalloc(keylen);
	p = key;
	memcpy(p, f->name, strlen(f->name));
	p = put(p + strlen(f->name), suffix, strlen(suffix));
	for (i = 0; i < nlabels; i++) {
		t = order[i];
		p = put(p, labels[t].name, vals[t].namelen);
		p = put(p, vals[t].s, vals[t].len);
	}
	if (!strmap_putn(&m->series, key, keylen, NULL, NULL)) {
		rc = 1;
		goto out;
	}

	/* One block per sample: the label array, then its strings. */
	ALLOC_GROW(f->samples, f->n + 1, f->alloc);
	s = &f->samples[f->n++];
	s->suffix = static_suffix(suffix);
	s->nlabels = nlabels;
	s->value = value;
	s->labels = NULL;
	if (nlabels) {
		s->labels = xmalloc(nlabels * sizeof(struct label) + size);
		p = (char *)(s->labels + nlabels);
		for (i = 0; i < nlabels; i++) {
			s->labels[i].name = p;
			p = put(p, labels[i].name, vals[i].namelen);
			s->labels[i].value = p;
			p = put(p, vals[i].s, vals[i].len);
		}
	}
	m->nseries++;
	rc = 0;
out:
	if (rc != 0)
		m->dropped++;
	if (key != key_small)
		free(key);
	if (order != order_small) {
		free(order);
		free(vals);
	}
	sb_release(&fix);
	return rc;
}

size_t mset_merge(struct mset *dst, const struct mset *src,
		  const struct label *extra, size_t nextra)
{
	struct label *all = NULL;
	size_t alloc = 0, dropped = 0, i, j, n;
	const struct family *f;
	const struct sample *s;
	struct family *df;

	for (i = 0; i < src->n; i++) {
		f = src->fams[i];
		df = mset_family(dst, f->name, f->type, f->help, NULL);
		if (!df) {
			dst->dropped += f->n;
			dropped += f->n;
			continue;
		}
		for (j = 0; j < f->n; j++) {
			s = &f->samples[j];
			n = s->nlabels + nextra;
			ALLOC_GROW(all, n, alloc);
			if (s->nlabels)
				memcpy(all, s->labels,
				       s->nlabels * sizeof(*all));
			if (nextra)
				memcpy(all + s->nlabels, extra,
				       nextra * sizeof(*all));
			if (mset_add(dst, df, s->suffix, all, n, s->value,
				     NULL) != 0)
				dropped++;
		}
	}
	free(all);
	return dropped;
}
