/*
 * The exposition formats: Prometheus text 0.0.4 and OpenMetrics 1.0.0. The
 * renderer escapes, formats numbers and groups families itself, so the page
 * is valid whatever the metric sets hold.
 */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "expfmt.h"
#include "strmap.h"
#include "xalloc.h"

/*
 * All families of one name across the sets, printed as one. Local to
 * expfmt_render.
 */
struct group {
	const struct family *first; /* gives name, type and HELP */
	size_t set;		    /* index of the first set holding it */
};

static const char *const histogram_suffixes[] = {"_bucket", "_sum", "_count"};

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void c_locale_init(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/*
 * Write the number into 'buf' (at least NUMBER_MAX bytes) as expfmt_number
 * documents; returns its length.
 */
#define NUMBER_MAX 32
static size_t format_number(char *buf, double v)
{
	locale_t old = (locale_t)0;
	char *p = buf + NUMBER_MAX;
	uint64_t u;
	int prec, len = 0;

	if (isnan(v))
		return (size_t)(stpcpy(buf, "NaN") - buf);
	if (isinf(v))
		return (size_t)(stpcpy(buf, v > 0 ? "+Inf" : "-Inf") - buf);
	if (v == 0)
		return (size_t)(stpcpy(buf, signbit(v) ? "-0" : "0") - buf);
	if (v > -1e15 && v < 1e15 && v == (double)(int64_t)v) {
		/* integers below 1e15 as %.15g prints them, without stdio */
		u = v < 0 ? (uint64_t)-v : (uint64_t)v;
		do {
			*--p = (char)('0' + u % 10);
			u /= 10;
		} while (u);
		if (v < 0)
			*--p = '-';
		len = (int)(buf + NUMBER_MAX - p);
		memmove(buf, p, (size_t)len);
		return (size_t)len;
	}
	/*
	 * printf and strtod follow LC_NUMERIC; a library we link may have
	 * called setlocale(), so use the C locale for this thread.
	 */
	pthread_once(&c_locale_once, c_locale_init);
	if (c_locale)
		old = uselocale(c_locale);
	for (prec = 15; prec <= 17; prec++) {
		len = snprintf(buf, NUMBER_MAX, "%.*g", prec, v);
		if (prec == 17 || strtod(buf, NULL) == v)
			break;
	}
	if (old)
		uselocale(old);
	return len > 0 && len < NUMBER_MAX ? (size_t)len : 0;
}

void expfmt_number(struct sb *out, double v)
{
	char buf[NUMBER_MAX];

	sb_add(out, buf, format_number(buf, v));
}

/* Append 's', escaping \, newline and, if 'quote', the double quote. */
static void add_escaped(struct sb *out, const char *s, bool quote)
{
	const char *run = s, *esc;

	for (; *s; s++) {
		switch (*s) {
		case '\\':
			esc = "\\\\";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '"':
			if (!quote)
				continue;
			esc = "\\\"";
			break;
		default:
			continue;
		}
		sb_add(out, run, (size_t)(s - run));
		sb_add(out, esc, 2);
		run = s + 1;
	}
	sb_add(out, run, (size_t)(s - run));
}

void expfmt_label_value(struct sb *out, const char *s)
{
	add_escaped(out, s, true);
}

void expfmt_help(struct sb *out, const char *s)
{
	add_escaped(out, s, false);
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len > n && !memcmp(s + len - n, suffix, n);
}

/*
 * The name HELP and TYPE use: the sample name in text 0.0.4; in OpenMetrics
 * without _total for counters and without _info for info metrics.
 */
static size_t family_name_len(const struct family *f, enum expfmt_format fmt)
{
	size_t len = strlen(f->name);

	if (fmt != EXPFMT_OPENMETRICS)
		return len;
	if (f->type == METRIC_COUNTER && ends_with(f->name, len, "_total"))
		return len - 6;
	if (f->type == METRIC_INFO && ends_with(f->name, len, "_info"))
		return len - 5;
	return len;
}

static const char *type_word(const struct family *f, enum expfmt_format fmt)
{
	bool om = fmt == EXPFMT_OPENMETRICS;
	size_t len = strlen(f->name);

	switch (f->type) {
	case METRIC_GAUGE:
		return "gauge";
	case METRIC_COUNTER:
		/* An OpenMetrics counter's samples must end in _total. */
		if (om && !ends_with(f->name, len, "_total"))
			return "unknown";
		return "counter";
	case METRIC_INFO:
		return om && ends_with(f->name, len, "_info") ? "info"
							      : "gauge";
	case METRIC_HISTOGRAM:
		return "histogram";
	case METRIC_UNTYPED:
	default:
		return om ? "unknown" : "untyped";
	}
}

static void render_header(struct sb *out, const struct family *f,
			  enum expfmt_format fmt)
{
	size_t len = family_name_len(f, fmt);

	if (f->help && *f->help) {
		sb_add(out, "# HELP ", 7);
		sb_add(out, f->name, len);
		sb_addc(out, ' ');
		add_escaped(out, f->help, fmt == EXPFMT_OPENMETRICS);
		sb_addc(out, '\n');
	}
	sb_add(out, "# TYPE ", 7);
	sb_add(out, f->name, len);
	sb_addc(out, ' ');
	sb_adds(out, type_word(f, fmt));
	sb_addc(out, '\n');
}

/*
 * memcpy, returning the byte after the copy; names of 8 to 16 bytes, the
 * usual, in two moves rather than a call.
 */
static char *cpy(char *p, const char *s, size_t n)
{
	uint64_t a, b;

	if (n >= 8 && n <= 16) {
		memcpy(&a, s, 8);
		memcpy(&b, s + n - 8, 8);
		memcpy(p, &a, 8);
		memcpy(p + n - 8, &b, 8);
	} else {
		memcpy(p, s, n);
	}
	return p + n;
}

/* One sample, appended piece by piece: any size, any escaping. */
static void render_sample_slow(struct sb *out, const struct family *f,
			       size_t namelen, const struct sample *s,
			       const struct sb *extra)
{
	size_t j;

	sb_add(out, f->name, namelen);
	sb_adds(out, s->suffix);
	for (j = 0; j < s->nlabels; j++) {
		sb_addc(out, j ? ',' : '{');
		sb_adds(out, s->labels[j].name);
		sb_add(out, "=\"", 2);
		add_escaped(out, s->labels[j].value, true);
		sb_addc(out, '"');
	}
	if (extra->len) {
		/* ",name=\"value\"...": its comma opens the braces if need be
		 */
		sb_addc(out, s->nlabels ? ',' : '{');
		sb_add(out, extra->buf + 1, extra->len - 1);
	}
	if (s->nlabels || extra->len)
		sb_addc(out, '}');
	sb_addc(out, ' ');
	expfmt_number(out, s->value);
	sb_addc(out, '\n');
}

/*
 * One sample written at 'line' (FAST_LINE bytes), the common case: a short
 * line with nothing to escape. Returns its length, or 0 when the sample
 * needs render_sample_slow.
 */
#define FAST_LINE 1024
static size_t render_sample_fast(char *line, const char *name, size_t namelen,
				 const struct sample *s, const struct sb *extra)
{
	char *p = line, *end = line + FAST_LINE - NUMBER_MAX - 4;
	size_t sl = *s->suffix ? strlen(s->suffix) : 0, j, n;
	const char *v;

	if (namelen + sl > (size_t)(end - p))
		return 0;
	p = cpy(cpy(p, name, namelen), s->suffix, sl);
	for (j = 0; j < s->nlabels; j++) {
		/* in a sample, a label's value follows its name's NUL */
		v = s->labels[j].value;
		n = (size_t)(v - s->labels[j].name - 1);
		if (n + 4 > (size_t)(end - p))
			return 0;
		*p++ = j ? ',' : '{';
		p = cpy(p, s->labels[j].name, n);
		*p++ = '=';
		*p++ = '"';
		/* copied up to its NUL unless it needs escaping */
		for (; *v != '\\' && *v != '"' && *v != '\n'; v++) {
			if (!*v)
				break;
			if (p == end)
				return 0;
			*p++ = *v;
		}
		if (*v)
			return 0;
		*p++ = '"';
	}
	if (extra->len) {
		if (extra->len > (size_t)(end - p))
			return 0;
		p = cpy(p, extra->buf, extra->len);
		if (!s->nlabels)
			p[-(ptrdiff_t)extra->len] = '{';
	}
	if (s->nlabels || extra->len)
		*p++ = '}';
	*p++ = ' ';
	p += format_number(p, s->value);
	*p++ = '\n';
	return (size_t)(p - line);
}

/*
 * Where the next line goes: the free end of 'out' when it has FAST_LINE
 * bytes there (grown if its cap allows), else 'line'.
 */
static char *line_room(struct sb *out, char *line)
{
	if (out->failed)
		return line;
	if (out->cap - out->len <= FAST_LINE &&
	    !(out->max && out->flushed + out->len + FAST_LINE > out->max))
		sb_grow(out, FAST_LINE);
	return out->cap - out->len > FAST_LINE ? out->buf + out->len : line;
}

/* Does 's' have a label of one of the names in 'extra'? */
static bool repeats(const struct sample *s, const struct expfmt_labels *extra)
{
	size_t i, j;

	/* on every sample of the page: the first byte settles most pairs */
	for (i = 0; i < extra->n; i++)
		for (j = 0; j < s->nlabels; j++)
			if (s->labels[j].name[0] == extra->v[i].name[0] &&
			    !strcmp(s->labels[j].name, extra->v[i].name))
				return true;
	return false;
}

/*
 * The samples of 'f', each with the labels 'extra' (rendered in
 * 'extratext'); a sample that has a label of one of those names is left
 * out.
 */
static void render_samples(struct sb *out, const struct family *f,
			   const struct expfmt_labels *extra,
			   const struct sb *extratext)
{
	size_t namelen = strlen(f->name), i, n;
	char line[FAST_LINE], *at;
	const struct sample *s;

	for (i = 0; i < f->n; i++) {
		s = &f->samples[i];
		if (extra->n && repeats(s, extra))
			continue;
		at = line_room(out, line);
		n = render_sample_fast(at, f->name, namelen, s, extratext);
		if (!n) {
			render_sample_slow(out, f, namelen, s, extratext);
		} else if (at == line) {
			sb_add(out, line, n);
		} else {
			out->len += n;
			out->buf[out->len] = '\0';
		}
	}
}

/*
 * 'extra' as a sample's labels print after its own: ",a=\"x\",b=\"y\"",
 * values made valid UTF-8 and escaped. False when a name is invalid or
 * repeated (then the set is not rendered).
 */
static bool extra_text(struct sb *text, const struct expfmt_labels *extra)
{
	struct sb v = SB_INIT(0);
	size_t i, j;

	for (i = 0; i < extra->n; i++) {
		if (!label_name_valid(extra->v[i].name))
			break;
		for (j = 0; j < i; j++)
			if (!strcmp(extra->v[j].name, extra->v[i].name))
				break;
		if (j < i)
			break;
		sb_reset(&v);
		if (extra->v[i].value)
			sb_add_utf8(&v, extra->v[i].value,
				    strlen(extra->v[i].value));
		sb_addc(text, ',');
		sb_adds(text, extra->v[i].name);
		sb_add(text, "=\"", 2);
		add_escaped(text, sb_str(&v), true);
		sb_addc(text, '"');
	}
	sb_release(&v);
	return i == extra->n;
}

/* Does 'f' belong to the group that 'first' started? */
static bool same_family(const struct family *f, const struct family *first)
{
	return f->type == first->type && !strcmp(f->name, first->name);
}

/*
 * The names a family prints, on TYPE lines and samples, each as 'len' bytes
 * of the family's name and a suffix. Returns how many (at most 4).
 */
static size_t family_names(const struct family *f, enum expfmt_format fmt,
			   size_t *len, const char **suffix)
{
	size_t n = 0, i;

	len[n] = family_name_len(f, fmt);
	suffix[n++] = "";
	if (f->type == METRIC_HISTOGRAM) {
		for (i = 0; i < ARRAY_SIZE(histogram_suffixes); i++) {
			len[n] = strlen(f->name);
			suffix[n++] = histogram_suffixes[i];
		}
	} else if (len[0] != strlen(f->name)) {
		len[n] = strlen(f->name);
		suffix[n++] = "";
	}
	return n;
}

/*
 * Give 'f' (of set 'set') a group in 'claims', which maps every name printed
 * so far to its group: join the group of its name, or start one if none of
 * its names is taken. A family that would print a name another group prints
 * is left out, so the page never has one name in two families (gauge 'x'
 * and OpenMetrics counter 'x_total', or gauge 'h_count' and histogram 'h').
 */
static void index_family(struct strmap *claims, struct sb *tmp,
			 struct group **groups, size_t *ngroups, size_t *alloc,
			 const struct family *f, size_t set,
			 enum expfmt_format fmt)
{
	const char *suffix[4];
	size_t len[4], n, i;
	uintptr_t id;

	/* Nothing to print, nothing to claim. */
	if (!f->n)
		return;
	/*
	 * A taken name: its group prints 'f' if it has the same name and
	 * type; otherwise 'f' is left out.
	 */
	if (strmap_get(claims, f->name))
		return;
	n = family_names(f, fmt, len, suffix);
	for (i = 0; i < n; i++) {
		sb_reset(tmp);
		sb_add(tmp, f->name, len[i]);
		sb_adds(tmp, suffix[i]);
		if (strmap_getn(claims, sb_str(tmp), tmp->len))
			return;
	}
	ALLOC_GROW(*groups, *ngroups + 1, *alloc);
	(*groups)[(*ngroups)++] = (struct group){f, set};
	id = *ngroups;
	strmap_put(claims, f->name, (void *)id, NULL);
	for (i = 0; i < n; i++) {
		sb_reset(tmp);
		sb_add(tmp, f->name, len[i]);
		sb_adds(tmp, suffix[i]);
		strmap_putn(claims, sb_str(tmp), tmp->len, (void *)id, NULL);
	}
}

/* The samples of group 'g' from every set, after its HELP and TYPE. */
static void render_group(struct sb *out, const struct group *g,
			 struct mset *const *sets,
			 const struct expfmt_labels *extra,
			 const struct sb *texts, size_t nsets,
			 enum expfmt_format fmt)
{
	static const struct expfmt_labels none = {NULL, 0};
	static const struct sb empty = SB_INIT(0);
	size_t mark = out->len, start, i;
	const struct family *f;

	render_header(out, g->first, fmt);
	start = out->len;
	for (i = g->set; i < nsets; i++) {
		if (!sets[i] || (extra && !texts[i].buf && extra[i].n))
			continue;
		f = strmap_get(&sets[i]->byname, g->first->name);
		if (f && same_family(f, g->first))
			render_samples(out, f, extra ? &extra[i] : &none,
				       extra ? &texts[i] : &empty);
	}
	/* every sample repeated an extra label: no family without samples */
	if (out->len == start && !out->failed && out->buf) {
		out->len = mark;
		out->buf[mark] = '\0';
	}
}

void expfmt_render_labeled(struct sb *out, struct mset *const *sets,
			   const struct expfmt_labels *extra, size_t nsets,
			   enum expfmt_format fmt)
{
	struct strmap claims = STRMAP_INIT;
	struct sb tmp = SB_INIT(0), *texts = NULL;
	struct group *groups = NULL;
	size_t ngroups = 0, alloc = 0, i, j, k;

	if (extra) {
		texts = xcalloc(nsets ? nsets : 1, sizeof(*texts));
		for (i = 0; i < nsets; i++)
			if (!extra_text(&texts[i], &extra[i]))
				sb_release(&texts[i]); /* buf NULL: left out */
	}
	for (i = 0; i < nsets; i++) {
		if (!sets[i] || (extra && !texts[i].buf && extra[i].n))
			continue;
		for (j = 0; j < sets[i]->n; j++)
			index_family(&claims, &tmp, &groups, &ngroups, &alloc,
				     sets[i]->fams[j], i, fmt);
	}
	for (k = 0; k < ngroups; k++) {
		render_group(out, &groups[k], sets, extra, texts, nsets, fmt);
		/* between families: render_group may take back its header */
		sb_flush(out, false);
	}
	if (fmt == EXPFMT_OPENMETRICS)
		sb_add(out, "# EOF\n", 6);
	for (i = 0; extra && i < nsets; i++)
		sb_release(&texts[i]);
	free(texts);
	strmap_release(&claims);
	sb_release(&tmp);
	free(groups);
}

void expfmt_render(struct sb *out, struct mset *const *sets, size_t nsets,
		   enum expfmt_format fmt)
{
	expfmt_render_labeled(out, sets, NULL, nsets, fmt);
}

/*
 * The q of the media range in [s, end) ("1" without one). Parsed by hand:
 * strtod would follow the locale.
 */
static double parse_q(const char *s, const char *end)
{
	double q = 0, scale = 1;
	const char *p;

	for (p = s; p + 2 <= end; p++) {
		if ((*p != 'q' && *p != 'Q') || p[1] != '=' ||
		    (p > s && p[-1] != ';' && p[-1] != ' ' && p[-1] != '\t'))
			continue;
		for (p += 2; p < end && *p >= '0' && *p <= '9'; p++)
			q = q * 10 + (*p - '0');
		if (p < end && *p == '.')
			for (p++; p < end && *p >= '0' && *p <= '9'; p++)
				q += (*p - '0') * (scale /= 10);
		return q;
	}
	return 1;
}

/* Does the media range in [s, end) have a version parameter we can serve? */
static bool om_version_ok(const char *s, const char *end)
{
	const char *p;
	size_t n;

	for (p = s; p + 8 <= end; p++) {
		if (strncasecmp(p, "version=", 8))
			continue;
		p += 8;
		for (n = 0; p + n < end && p[n] != ';' && p[n] != ' '; n++)
			;
		return (n == 5 && !memcmp(p, "1.0.0", 5)) ||
		       (n == 5 && !memcmp(p, "0.0.1", 5));
	}
	return true;
}

static bool media_is(const char *s, size_t n, const char *type)
{
	return n == strlen(type) && !strncasecmp(s, type, n);
}

enum expfmt_format expfmt_negotiate(const char *accept)
{
	double om_q = 0, text_q = 0, q;
	const char *s, *end, *t;
	size_t n;

	if (!accept)
		return EXPFMT_TEXT;
	for (s = accept; *s; s = *end ? end + 1 : end) {
		end = strchr(s, ',');
		if (!end)
			end = s + strlen(s);
		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		for (t = s; t < end && *t != ';' && *t != ' ' && *t != '\t';
		     t++)
			;
		n = (size_t)(t - s);
		q = parse_q(t, end);
		if (media_is(s, n, "application/openmetrics-text") &&
		    om_version_ok(t, end) && q > om_q)
			om_q = q;
		else if (media_is(s, n, "text/plain") && q > text_q)
			text_q = q;
	}
	/* A client that ranks text higher gets text. */
	return om_q > 0 && om_q >= text_q ? EXPFMT_OPENMETRICS : EXPFMT_TEXT;
}

const char *expfmt_content_type(enum expfmt_format fmt)
{
	return fmt == EXPFMT_OPENMETRICS ? EXPFMT_OPENMETRICS_TYPE
					 : EXPFMT_TEXT_TYPE;
}
