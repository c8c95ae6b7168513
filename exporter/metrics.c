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

/* Families up to this size find duplicates without a table. */
#define KEYS_SCAN 8
/* Label arrays up to this size are sorted without allocating. */
#define SMALL_LABELS 16

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

/*
 * Memory a set allocates and frees at once: its samples' blocks, its
 * families and their names. Chunks grow with the set, so a small set stays
 * small and a big one makes few allocations.
 */
struct mset_chunk {
	struct mset_chunk *next;
	size_t used, size;
	void *data[]; /* pointer-aligned: all the arena holds */
};

#define CHUNK_MIN 1024
#define CHUNK_MAX (64 * 1024)

static void *arena_alloc(struct mset *m, size_t n)
{
	struct mset_chunk *c = m->chunks;
	size_t size;

	n = (n + sizeof(void *) - 1) & ~(sizeof(void *) - 1);
	if (!c || c->size - c->used < n) {
		size = c ? c->size * 2 : CHUNK_MIN;
		if (size > CHUNK_MAX)
			size = CHUNK_MAX;
		if (size < n)
			size = n;
		c = xmalloc(sizeof(*c) + size);
		c->size = size;
		c->used = 0;
		c->next = m->chunks;
		m->chunks = c;
	}
	c->used += n;
	return (char *)c->data + c->used - n;
}

/* Give back the last arena_alloc(m, n), made in the newest chunk. */
static void arena_unalloc(struct mset *m, size_t n)
{
	n = (n + sizeof(void *) - 1) & ~(sizeof(void *) - 1);
	m->chunks->used -= n;
}

static char *arena_strdup(struct mset *m, const char *s)
{
	size_t n = strlen(s);

	return memcpy(arena_alloc(m, n + 1), s, n + 1);
}

/* A copy of 's' in the arena of 'm', with invalid UTF-8 repaired. */
static char *utf8_dup(struct mset *m, const char *s)
{
	struct sb sb = SB_INIT(0);
	size_t n = strlen(s);
	char *out;

	if (is_ascii(s, n))
		return arena_strdup(m, s);
	sb_add_utf8(&sb, s, n);
	out = arena_strdup(m, sb_str(&sb));
	sb_release(&sb);
	return out;
}

/*
 * The shared part of a sample: the header, then the labels, then the
 * series key (the suffix, then name/value pairs in name order, each string
 * NUL-terminated: no name or value holds a NUL, so keys are unique), which
 * the labels' strings point into.
 */
struct block {
	uint32_t keylen;
	uint32_t nlabels;
	struct label labels[];
};

static const struct block *block_of(const struct sample *s)
{
	return (const struct block *)((const char *)s->labels -
				      offsetof(struct block, labels));
}

static const char *block_key(const struct block *b)
{
	return (const char *)(b->labels + b->nlabels);
}

static void keys_grow(struct family *f, size_t nslots)
{
	uint64_t *keys = xcalloc(nslots, sizeof(*keys));
	size_t i, k;

	for (i = 0; i < f->n; i++) {
		for (k = f->samples[i].hash & (nslots - 1); keys[k];
		     k = (k + 1) & (nslots - 1))
			;
		keys[k] = (uint64_t)f->samples[i].hash << 32 | (i + 1);
	}
	free(f->keys);
	f->keys = keys;
	f->nkeys = nslots;
}

/* Is 's' the series of block 'b', whose key hashes to 'hash'? */
static bool same_series(const struct sample *s, const struct block *b,
			uint32_t hash)
{
	const struct block *o = block_of(s);

	return s->hash == hash && o->keylen == b->keylen &&
	       !memcmp(block_key(o), block_key(b), b->keylen);
}

/*
 * Claim the series of block 'b' (its key hashing to 'hash') for the sample
 * f->samples[f->n] about to be added: false when a sample of 'f' has the
 * same key. A family of a few samples is searched through; a bigger one
 * gets its table on the first claim, so a family filled by one merge never
 * builds it.
 */
static bool keys_claim(struct family *f, const struct block *b, uint32_t hash)
{
	size_t mask, k;
	uint64_t slot;

	if (!f->nkeys && f->n < KEYS_SCAN) {
		for (k = 0; k < f->n; k++)
			if (same_series(&f->samples[k], b, hash))
				return false;
		return true;
	}
	if (4 * (f->n + 1) > 3 * f->nkeys) {
		/* at most 3/4 full; a merge may have filled 'f' without one */
		for (k = f->nkeys ? 2 * f->nkeys : 16; 4 * (f->n + 1) > 3 * k;)
			k *= 2;
		keys_grow(f, k);
	}
	mask = f->nkeys - 1;
	for (k = hash & mask; (slot = f->keys[k]); k = (k + 1) & mask)
		if ((uint32_t)(slot >> 32) == hash &&
		    same_series(&f->samples[(uint32_t)slot - 1], b, hash))
			return false;
	f->keys[k] = (uint64_t)hash << 32 | (f->n + 1);
	return true;
}

struct mset *mset_new(void)
{
	struct mset *m = xcalloc(1, sizeof(*m));

	m->byname = (struct strmap)STRMAP_INIT;
	atomic_init(&m->refs, 1);
	return m;
}

void mset_seal(struct mset *m)
{
	for (size_t i = 0; i < m->n; i++) {
		struct family *f = m->fams[i];

		free(f->keys);
		f->keys = NULL;
		f->nkeys = 0;
		if (f->n && f->n < f->alloc) {
			f->samples = xrealloc(f->samples,
					      f->n * sizeof(*f->samples));
			f->alloc = f->n;
		}
	}
}

struct mset *mset_ref(struct mset *m)
{
	atomic_fetch_add(&m->refs, 1);
	return m;
}

void mset_free(struct mset *m)
{
	struct mset_chunk *c, *next;
	struct family *f;
	size_t i;

	if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	for (i = 0; i < m->n; i++) {
		f = m->fams[i];
		free(f->samples);
		free(f->keys);
	}
	for (i = 0; i < m->nheld; i++)
		mset_free(m->held[i]);
	free(m->held);
	for (c = m->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	free(m->fams);
	strmap_release(&m->byname);
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

/*
 * mset_family, with 'name' and 'help' copied into the set when 'borrow' is
 * false, or kept as they are (a held set's strings) when true.
 */
static struct family *family_get(struct mset *m, const char *name,
				 enum metric_type type, const char *help,
				 bool borrow, struct err *e)
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
	f = arena_alloc(m, sizeof(*f));
	memset(f, 0, sizeof(*f));
	f->name = borrow ? name : arena_strdup(m, name);
	f->help = borrow ? help : utf8_dup(m, help ? help : "");
	f->type = type;
	strmap_put(&m->byname, name, f, NULL);
	ALLOC_GROW(m->fams, m->n + 1, m->alloc);
	m->fams[m->n++] = f;
	return f;
}

struct family *mset_family(struct mset *m, const char *name,
			   enum metric_type type, const char *help,
			   struct err *e)
{
	return family_get(m, name, type, help, false, e);
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

/*
 * Sort labels by name into 'order' (insertion sort: label lists are
 * short), checking names. Sets *has_le when one is "le".
 */
static int sort_labels(const struct family *f, const struct label *labels,
		       size_t nlabels, size_t *order, bool *has_le,
		       struct err *e)
{
	size_t i, j;

	for (i = 0; i < nlabels; i++) {
		if (!label_name_valid(labels[i].name))
			return err_set(
				e, "metric '%s': invalid label name '%s'",
				f->name, labels[i].name ? labels[i].name : "");
		*has_le = *has_le || !strcmp(labels[i].name, "le");
		for (j = i; j > 0 && strcmp(labels[order[j - 1]].name,
					    labels[i].name) > 0;
		     j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	for (i = 1; i < nlabels; i++)
		if (!strcmp(labels[order[i - 1]].name, labels[order[i]].name))
			return err_set(e, "metric '%s': label '%s' repeated",
				       f->name, labels[order[i]].name);
	return 0;
}

/* The values as stored (repaired in 'fix'); returns their size in a key. */
static size_t label_values(const struct label *labels, size_t nlabels,
			   struct value *vals, struct sb *fix)
{
	size_t size = 0, at, i;

	for (i = 0; i < nlabels; i++) {
		const char *v = labels[i].value ? labels[i].value : "";

		vals[i].s = v;
		vals[i].len = strlen(v);
		vals[i].namelen = strlen(labels[i].name);
		if (!is_ascii(v, vals[i].len)) {
			at = fix->len;
			sb_add_utf8(fix, v, vals[i].len);
			vals[i].s = NULL;
			vals[i].off = at;
			vals[i].len = fix->len - at;
		}
		size += vals[i].namelen + vals[i].len + 2;
	}
	for (i = 0; i < nlabels; i++)
		if (!vals[i].s)
			vals[i].s = fix->buf + vals[i].off;
	return size;
}

/*
 * The block of a new sample in the arena of 'm': the key written in name
 * order, the labels (in the caller's order) pointing into it.
 */
static struct block *make_block(struct mset *m, const char *suffix,
				const struct label *labels, size_t nlabels,
				const size_t *order, const struct value *vals,
				size_t size, size_t *bytes)
{
	size_t suflen = strlen(suffix), keylen = suflen + 1 + size, i, t;
	struct block *b;
	char *p;

	*bytes = sizeof(*b) + nlabels * sizeof(struct label) + keylen;
	b = arena_alloc(m, *bytes);
	b->keylen = (uint32_t)keylen;
	b->nlabels = (uint32_t)nlabels;
	p = put((char *)(b->labels + nlabels), suffix, suflen);
	for (i = 0; i < nlabels; i++) {
		t = order[i];
		b->labels[t].name = p;
		p = put(p, labels[t].name, vals[t].namelen);
		b->labels[t].value = p;
		p = put(p, vals[t].s, vals[t].len);
	}
	return b;
}

static void append(struct mset *m, struct family *f, const char *suffix,
		   struct label *labels, size_t nlabels, uint32_t hash,
		   double value)
{
	struct sample *s;

	ALLOC_GROW(f->samples, f->n + 1, f->alloc);
	s = &f->samples[f->n++];
	s->suffix = suffix;
	s->labels = labels;
	s->nlabels = (uint32_t)nlabels;
	s->hash = hash;
	s->value = value;
	m->nseries++;
}

/*
 * The block of the last sample added to 'm' when the new one has the same
 * suffix and labels, in the same order: the metrics of one row (a table's
 * 24 counters) then share one block instead of 24 copies of its labels.
 */
static const struct block *same_as_last(const struct mset *m,
					const char *suffix,
					const struct label *labels,
					size_t nlabels)
{
	const struct block *b = m->last;

	if (!b || b->nlabels != nlabels || strcmp(block_key(b), suffix))
		return NULL;
	for (size_t i = 0; i < nlabels; i++) {
		const char *v = labels[i].value ? labels[i].value : "";

		/* a value repaired as UTF-8 differs from the stored one */
		if (strcmp(b->labels[i].name, labels[i].name) ||
		    strcmp(b->labels[i].value, v))
			return NULL;
	}
	return b;
}

/* Add a sample of block 'b' (hashing to 'hash') unless 'f' has it. */
static int add_shared(struct mset *m, struct family *f, const char *suffix,
		      const struct block *b, uint32_t hash, double value)
{
	if (!keys_claim(f, b, hash))
		return 1;
	append(m, f, static_suffix(suffix), (struct label *)b->labels,
	       b->nlabels, hash, value);
	return 0;
}

int mset_add(struct mset *m, struct family *f, const char *suffix,
	     const struct label *labels, size_t nlabels, double value,
	     struct err *e)
{
	size_t order_small[SMALL_LABELS], *order = order_small;
	struct value vals_small[SMALL_LABELS], *vals = vals_small;
	struct sb fix = SB_INIT(0);
	size_t size, bytes;
	struct block *b;
	uint32_t hash;
	bool has_le = false;
	int rc = -1;

	if (!suffix)
		suffix = "";
	if (nlabels > SMALL_LABELS) {
		order = xmalloc(nlabels * sizeof(*order));
		vals = xmalloc(nlabels * sizeof(*vals));
	}
	if (sort_labels(f, labels, nlabels, order, &has_le, e) < 0 ||
	    check_suffix(f, suffix, has_le, e) < 0)
		goto out;
	if ((b = (struct block *)same_as_last(m, suffix, labels, nlabels))) {
		rc = add_shared(m, f, suffix, b, m->last_hash, value);
		goto out;
	}
	size = label_values(labels, nlabels, vals, &fix);
	b = make_block(m, suffix, labels, nlabels, order, vals, size, &bytes);
	hash = (uint32_t)strmap_hash(block_key(b), b->keylen);
	if (!keys_claim(f, b, hash)) {
		arena_unalloc(m, bytes);
		rc = 1;
		goto out;
	}
	append(m, f, static_suffix(suffix), b->labels, nlabels, hash, value);
	m->last = b;
	m->last_hash = hash;
	rc = 0;
out:
	if (rc != 0)
		m->dropped++;
	if (order != order_small) {
		free(order);
		free(vals);
	}
	sb_release(&fix);
	return rc;
}

/* Keep alive what the samples 'dst' took from 'src' point into. */
static void hold(struct mset *dst, struct mset *src)
{
	size_t i;

	ALLOC_GROW(dst->held, dst->nheld + src->nheld + 1, dst->aheld);
	if (src->chunks)
		dst->held[dst->nheld++] = mset_ref(src);
	for (i = 0; i < src->nheld; i++)
		dst->held[dst->nheld++] = mset_ref(src->held[i]);
}

/*
 * The samples of 'f' (of 'src') that 'keep' is true for into 'dst', the
 * family made on the first one. Returns the number dropped.
 */
static size_t merge_kept(struct mset *dst, const struct family *f,
			 mset_keep_fn *keep, void *arg)
{
	struct family *df = NULL;
	size_t dropped = 0;
	bool check = false;

	for (size_t j = 0; j < f->n; j++) {
		if (!keep(f, j, arg))
			continue;
		if (!df) {
			df = family_get(dst, f->name, f->type, f->help, true,
					NULL);
			if (!df)
				return f->n - j;
			ALLOC_GROW(df->samples, df->n + f->n, df->alloc);
			/* a set's samples are distinct: only dst's to check */
			check = df->n || df->nkeys;
		}
		if (check && !keys_claim(df, block_of(&f->samples[j]),
					 f->samples[j].hash)) {
			dropped++;
			continue;
		}
		df->samples[df->n++] = f->samples[j];
		dst->nseries++;
	}
	return dropped;
}

/*
 * Merge without extra labels: share the samples' blocks. With 'keep', only
 * the samples it is true for (the others are not counted as dropped).
 */
static size_t merge_shared(struct mset *dst, struct mset *src,
			   mset_keep_fn *keep, void *arg)
{
	size_t dropped = 0, i, j;
	const struct family *f;
	struct family *df;

	for (i = 0; i < src->n; i++) {
		f = src->fams[i];
		if (keep) {
			dropped += merge_kept(dst, f, keep, arg);
			continue;
		}
		df = family_get(dst, f->name, f->type, f->help, true, NULL);
		if (!df) {
			dropped += f->n;
			continue;
		}
		ALLOC_GROW(df->samples, df->n + f->n, df->alloc);
		if (!df->n && !df->nkeys) {
			/* a set's samples are distinct: nothing to check */
			if (f->n)
				memcpy(df->samples, f->samples,
				       f->n * sizeof(*f->samples));
			df->n = f->n;
			dst->nseries += f->n;
			continue;
		}
		for (j = 0; j < f->n; j++) {
			if (!keys_claim(df, block_of(&f->samples[j]),
					f->samples[j].hash)) {
				dropped++;
				continue;
			}
			df->samples[df->n++] = f->samples[j];
			dst->nseries++;
		}
	}
	hold(dst, src);
	dst->dropped += dropped;
	return dropped;
}

size_t mset_merge_if(struct mset *dst, const struct mset *src,
		     mset_keep_fn *keep, void *arg)
{
	return merge_shared(dst, (struct mset *)src, keep, arg);
}

size_t mset_merge(struct mset *dst, const struct mset *src,
		  const struct label *extra, size_t nextra)
{
	struct label *all = NULL;
	size_t alloc = 0, dropped = 0, i, j, n;
	const struct family *f;
	const struct sample *s;
	struct family *df;

	if (!nextra)
		return merge_shared(dst, (struct mset *)src, NULL, NULL);
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
			memcpy(all + s->nlabels, extra, nextra * sizeof(*all));
			if (mset_add(dst, df, s->suffix, all, n, s->value,
				     NULL) != 0)
				dropped++;
		}
	}
	free(all);
	return dropped;
}

const char *sample_series_key(const struct sample *s, size_t *len)
{
	const struct block *b = block_of(s);

	*len = b->keylen;
	return block_key(b);
}

const char *sample_label(const struct sample *s, const char *name)
{
	for (uint32_t i = 0; i < s->nlabels; i++)
		if (!strcmp(s->labels[i].name, name))
			return s->labels[i].value;
	return NULL;
}
