/*
 * Reading a loaded YAML document: mappings with merge keys, known keys
 * with suggestions for unknown ones, and typed scalars (strings, integers,
 * booleans, numbers, durations, lists, enums), each problem reported at
 * its node (see ydoc.h).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ydoc.h"
#include "diag.h"
#include "duration.h"
#include "strmap.h"
#include "xalloc.h"

/* Merged mappings ("<<") followed per ydoc_pairs call, against alias bombs. */
#define MAX_MERGES	256
#define MAX_MERGE_DEPTH 8

static bool is_merge_key(const yaml_node_t *k)
{
	return k && k->type == YAML_SCALAR_NODE &&
	       k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       strcmp((const char *)k->data.scalar.value, "<<") == 0;
}

struct pairs_state {
	struct ypair *v;
	size_t n, alloc;
	struct strmap seen; /* key -> its key node */
	unsigned merges;
	bool too_many; /* reported; stop following merges */
};

static void add_pair(struct ydoc *y, struct pairs_state *st, const char *what,
		     yaml_node_t *k, yaml_node_t *v, bool merged)
{
	const char *key;
	void *old = NULL;
	char q[64];

	if (!k || k->type != YAML_SCALAR_NODE) {
		ydoc_error(y, k, "keys of a mapping must be strings, not %s",
			   ydoc_kind(k));
		return;
	}
	key = (const char *)k->data.scalar.value;
	if (memchr(key, '\0', k->data.scalar.length)) {
		ydoc_error(y, k, "%s '%s' contains a NUL character", what,
			   ydoc_quote(k, q, sizeof(q)));
		return;
	}
	if (!strmap_putn(&st->seen, key, k->data.scalar.length, k, &old)) {
		const yaml_node_t *first = old;

		/* Explicit keys win over merged ones, as YAML says. */
		if (!merged)
			ydoc_error(y, k,
				   "duplicate %s '%s' (first at %s:%u:%u)",
				   what, ydoc_quote(k, q, sizeof(q)), y->file,
				   (unsigned)first->start_mark.line + 1,
				   (unsigned)first->start_mark.column + 1);
		return;
	}
	ALLOC_GROW(st->v, st->n + 1, st->alloc);
	st->v[st->n].key = key;
	st->v[st->n].knode = k;
	st->v[st->n].vnode = v;
	st->n++;
}

static void collect_pairs(struct ydoc *y, struct pairs_state *st,
			  yaml_node_t *map, const char *what, int depth);

static void merge_from(struct ydoc *y, struct pairs_state *st, yaml_node_t *src,
		       const char *what, int depth)
{
	yaml_node_item_t *it;

	if (src && src->type == YAML_MAPPING_NODE) {
		collect_pairs(y, st, src, what, depth + 1);
		return;
	}
	if (src && src->type == YAML_SEQUENCE_NODE) {
		for (it = src->data.sequence.items.start;
		     it < src->data.sequence.items.top; it++) {
			yaml_node_t *m = yaml_document_get_node(&y->doc, *it);

			if (!m || m->type != YAML_MAPPING_NODE) {
				ydoc_error(y, m, "'<<' merges mappings, not %s",
					   ydoc_kind(m));
				continue;
			}
			collect_pairs(y, st, m, what, depth + 1);
		}
		return;
	}
	ydoc_error(y, src, "'<<' merges mappings, not %s", ydoc_kind(src));
}

static void collect_pairs(struct ydoc *y, struct pairs_state *st,
			  yaml_node_t *map, const char *what, int depth)
{
	yaml_node_pair_t *p;
	bool merged = depth > 0;

	if (st->too_many)
		return;
	if (depth > MAX_MERGE_DEPTH || ++st->merges > MAX_MERGES) {
		ydoc_error(y, map,
			   "too many merged mappings ('<<'): more than %d, or "
			   "nested deeper than %d",
			   MAX_MERGES, MAX_MERGE_DEPTH);
		st->too_many = true;
		return;
	}
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(&y->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&y->doc, p->value);

		if (!is_merge_key(k))
			add_pair(y, st, what, k, v, merged);
	}
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(&y->doc, p->key);

		if (is_merge_key(k))
			merge_from(y, st,
				   yaml_document_get_node(&y->doc, p->value),
				   what, depth);
	}
}

struct ypair *ydoc_pairs(struct ydoc *y, yaml_node_t *map, const char *what,
			 size_t *n)
{
	struct pairs_state st = {NULL, 0, 0, STRMAP_INIT, 0, false};

	*n = 0;
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	collect_pairs(y, &st, map, what, 0);
	strmap_release(&st.seen);
	*n = st.n;
	return st.v;
}

/* Optimal string alignment distance, case-insensitive; short strings only. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t d[3][65];
	size_t *prev2 = d[0], *prev = d[1], *cur = d[2], *t;

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		prev[j] = j;
	for (i = 1; i <= la; i++) {
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			int ca = tolower((unsigned char)a[i - 1]);
			int cb = tolower((unsigned char)b[j - 1]);
			size_t cost = ca != cb, best;

			best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (prev[j - 1] + cost < best)
				best = prev[j - 1] + cost;
			if (i > 1 && j > 1 &&
			    ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb &&
			    prev2[j - 2] + 1 < best)
				best = prev2[j - 2] + 1;
			cur[j] = best;
		}
		t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

const char *ydoc_suggest(const char *s, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t bestd = 3, i, dist;

	for (i = 0; i < n; i++) {
		dist = edit_distance(s, names[i]);
		if (dist < bestd && dist < strlen(s)) {
			best = names[i];
			bestd = dist;
		}
	}
	return best;
}

int ydoc_fields(struct ydoc *y, yaml_node_t *map, const char *what,
		const char *const *names, size_t n, yaml_node_t **vals,
		enum diag_severity unknown)
{
	struct ypair *pairs;
	size_t np, i, j;
	char q[64];

	for (j = 0; j < n; j++)
		vals[j] = NULL;
	if (!map || map->type != YAML_MAPPING_NODE) {
		ydoc_error(y, map, "'%s' must be a mapping, not %s", what,
			   ydoc_kind(map));
		return -1;
	}
	pairs = ydoc_pairs(y, map, "key", &np);
	for (i = 0; i < np; i++) {
		const char *hint;

		for (j = 0; j < n; j++)
			if (strcmp(pairs[i].key, names[j]) == 0)
				break;
		if (j < n) {
			vals[j] = pairs[i].vnode;
			continue;
		}
		ydoc_quote(pairs[i].knode, q, sizeof(q));
		hint = ydoc_suggest(pairs[i].key, names, n);
		if (unknown == DIAG_WARNING && hint)
			ydoc_warning(y, pairs[i].knode,
				     "unknown key '%s' ignored (did you mean "
				     "'%s'?)",
				     q, hint);
		else if (unknown == DIAG_WARNING)
			ydoc_warning(y, pairs[i].knode,
				     "unknown key '%s' ignored", q);
		else if (hint)
			ydoc_error(y, pairs[i].knode,
				   "unknown key '%s' (did you mean '%s'?)", q,
				   hint);
		else
			ydoc_error(y, pairs[i].knode, "unknown key '%s'", q);
	}
	free(pairs);
	return 0;
}

/* The text of a scalar that is not null, or NULL after reporting. */
static const char *scalar_text(struct ydoc *y, const yaml_node_t *n,
			       const char *what, const char *expect)
{
	if (!n || n->type != YAML_SCALAR_NODE || ydoc_is_null(n)) {
		ydoc_error(y, n, "'%s' must be %s, not %s", what, expect,
			   ydoc_kind(n));
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

int ydoc_str(struct ydoc *y, const yaml_node_t *n, const char *what, char **out)
{
	const char *s = scalar_text(y, n, what, "a string");

	*out = NULL;
	if (!s)
		return -1;
	if (n->data.scalar.length == 0) {
		ydoc_error(y, n, "'%s' is empty", what);
		return -1;
	}
	if (memchr(s, '\0', n->data.scalar.length)) {
		ydoc_error(y, n, "'%s' contains a NUL character", what);
		return -1;
	}
	*out = xstrdup(s);
	return 0;
}

int ydoc_int(struct ydoc *y, const yaml_node_t *n, const char *what,
	     long long min, long long max, long long *out)
{
	const char *s = scalar_text(y, n, what, "an integer"), *p;
	char q[64];
	char *end;
	long long v;

	if (!s)
		return -1;
	p = (*s == '+' || *s == '-') ? s + 1 : s;
	if (!isdigit((unsigned char)*p))
		goto bad;
	for (; *p; p++)
		if (!isdigit((unsigned char)*p))
			goto bad;
	if (p != s + n->data.scalar.length)
		goto bad;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE || v < min || v > max) {
		ydoc_error(y, n, "'%s' must be between %lld and %lld, not %s",
			   what, min, max, ydoc_quote(n, q, sizeof(q)));
		return -1;
	}
	*out = v;
	return 0;
bad:
	ydoc_error(y, n, "'%s' must be an integer, not '%s'", what,
		   ydoc_quote(n, q, sizeof(q)));
	return -1;
}

int ydoc_bool(struct ydoc *y, const yaml_node_t *n, const char *what, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on"};
	static const char *const no[] = {"false", "no", "off"};
	const char *s = scalar_text(y, n, what, "true or false");
	char q[64];
	size_t i;

	if (!s)
		return -1;
	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	ydoc_error(y, n, "'%s' must be true or false, not '%s'", what,
		   ydoc_quote(n, q, sizeof(q)));
	return -1;
}

/* [+-]digits[.digits][e[+-]digits], or [+-].digits...: what strtod may see. */
static bool decimal_syntax(const char *s)
{
	bool digits = false;

	if (*s == '+' || *s == '-')
		s++;
	for (; isdigit((unsigned char)*s); s++)
		digits = true;
	if (*s == '.')
		for (s++; isdigit((unsigned char)*s); s++)
			digits = true;
	if (!digits)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	}
	return *s == '\0';
}

int ydoc_double(struct ydoc *y, const yaml_node_t *n, const char *what,
		double *out)
{
	const char *s = scalar_text(y, n, what, "a number");
	char q[64];
	double v;

	if (!s)
		return -1;
	if (strcasecmp(s, ".nan") == 0 || strcasecmp(s, "nan") == 0) {
		*out = NAN;
		return 0;
	}
	if (strcasecmp(s, ".inf") == 0 || strcasecmp(s, "+.inf") == 0 ||
	    strcasecmp(s, "inf") == 0 || strcasecmp(s, "+inf") == 0) {
		*out = INFINITY;
		return 0;
	}
	if (strcasecmp(s, "-.inf") == 0 || strcasecmp(s, "-inf") == 0) {
		*out = -INFINITY;
		return 0;
	}
	if (strlen(s) != n->data.scalar.length || !decimal_syntax(s))
		goto bad;
	v = strtod(s, NULL);
	if (!isfinite(v))
		goto bad;
	*out = v;
	return 0;
bad:
	ydoc_error(y, n, "'%s' must be a number, not '%s'", what,
		   ydoc_quote(n, q, sizeof(q)));
	return -1;
}

int ydoc_duration(struct ydoc *y, const yaml_node_t *n, const char *what,
		  double *out)
{
	const char *s = scalar_text(y, n, what, "a duration");
	char q[64];

	if (!s)
		return -1;
	if (strlen(s) != n->data.scalar.length || duration_parse(s, out) < 0) {
		ydoc_error(y, n,
			   "'%s' must be a duration such as 250ms, 30s, 5m, "
			   "1h or 1d, not '%s'",
			   what, ydoc_quote(n, q, sizeof(q)));
		return -1;
	}
	return 0;
}

void ydoc_strv_free(char **v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int ydoc_strlist(struct ydoc *y, const yaml_node_t *n, const char *what,
		 char ***out, size_t *nout)
{
	char **v = NULL;
	size_t len = 0, alloc = 0;
	yaml_node_item_t *it;
	int rc = 0;

	*out = NULL;
	*nout = 0;
	if (n && n->type == YAML_SCALAR_NODE) {
		if (ydoc_is_null(n))
			return 0;
		v = xcalloc(1, sizeof(*v));
		if (ydoc_str(y, n, what, &v[0]) < 0) {
			free(v);
			return -1;
		}
		*out = v;
		*nout = 1;
		return 0;
	}
	if (!n || n->type != YAML_SEQUENCE_NODE) {
		ydoc_error(y, n, "'%s' must be a list of strings, not %s", what,
			   ydoc_kind(n));
		return -1;
	}
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		yaml_node_t *item = yaml_document_get_node(&y->doc, *it);
		char *s;

		if (!item || item->type != YAML_SCALAR_NODE) {
			ydoc_error(y, item,
				   "items of '%s' must be strings, not %s",
				   what, ydoc_kind(item));
			rc = -1;
			continue;
		}
		if (ydoc_str(y, item, what, &s) < 0) {
			rc = -1;
			continue;
		}
		ALLOC_GROW(v, len + 1, alloc);
		v[len++] = s;
	}
	if (rc < 0) {
		ydoc_strv_free(v, len);
		return -1;
	}
	*out = v;
	*nout = len;
	return 0;
}

const yaml_node_t *ydoc_strlist_item(struct ydoc *y, const yaml_node_t *n,
				     size_t i)
{
	const yaml_node_t *item;

	if (!n || n->type != YAML_SEQUENCE_NODE)
		return n;
	if (i >=
	    (size_t)(n->data.sequence.items.top - n->data.sequence.items.start))
		return n;
	item = yaml_document_get_node(&y->doc, n->data.sequence.items.start[i]);
	return item ? item : n;
}

int ydoc_enum(struct ydoc *y, const yaml_node_t *n, const char *what,
	      const char *const *names, size_t nnames, int *out)
{
	const char *s = scalar_text(y, n, what, "a string"), *hint;
	char q[64], list[256] = "";
	size_t i, off = 0;

	if (!s)
		return -1;
	for (i = 0; i < nnames; i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	ydoc_quote(n, q, sizeof(q));
	hint = ydoc_suggest(s, names, nnames);
	if (hint) {
		ydoc_error(y, n, "invalid %s '%s' (did you mean '%s'?)", what,
			   q, hint);
		return -1;
	}
	for (i = 0; i < nnames && off < sizeof(list); i++) {
		int w = snprintf(list + off, sizeof(list) - off, "%s%s",
				 i ? ", " : "", names[i]);

		if (w < 0)
			break;
		off += (size_t)w;
	}
	ydoc_error(y, n, "invalid %s '%s' (expected one of: %s)", what, q,
		   list);
	return -1;
}
