/*
 * rx: bounded compilation of user-written POSIX extended regexes.
 *
 * The estimate walks the pattern once with a stack of open groups. Each
 * frame keeps 'sum', the atoms of its finished pieces, and 'last', the
 * atoms of the piece a following repetition applies to. A repetition
 * multiplies 'last' by the copies glibc makes of it ('+' 2, '{n,m}' m,
 * '{n,}' n+1; '*' and '?' 1), a closing parenthesis turns its frame into
 * the parent's 'last'. Arithmetic saturates at CAP, so no overflow.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rx.h"
#include "xalloc.h"

#define CAP	((size_t)RX_MAX_COPIES + 1)
#define REFUSED ((size_t)-1)

struct frame {
	size_t sum, last;
};

static size_t sat(size_t v)
{
	return v > CAP ? CAP : v;
}

/* Skip a bracket expression starting at p[0] == '['; returns past its ']'
 * (or the end of the string, which regcomp then reports). */
static const char *skip_bracket(const char *p)
{
	p++;
	if (*p == '^')
		p++;
	if (*p == ']')
		p++;
	while (*p && *p != ']') {
		if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
			char close = p[1];

			p += 2;
			while (*p && !(p[0] == close && p[1] == ']'))
				p++;
			if (*p)
				p += 2;
			continue;
		}
		p++;
	}
	return *p ? p + 1 : p;
}

/* An interval "{n}", "{n,}", "{n,m}" or "{,m}" at p[0] == '{': sets the
 * copies it makes and returns past it, or NULL when it is not one. */
static const char *interval(const char *p, size_t *copies)
{
	size_t lo = 0, hi = 0;
	bool has_lo = false, comma = false, has_hi = false;

	for (p++; isdigit((unsigned char)*p); p++, has_lo = true)
		lo = sat(lo * 10 + (size_t)(*p - '0'));
	if (*p == ',') {
		comma = true;
		for (p++; isdigit((unsigned char)*p); p++, has_hi = true)
			hi = sat(hi * 10 + (size_t)(*p - '0'));
	}
	if (*p != '}' || (!has_lo && !has_hi))
		return NULL;
	if (!comma)
		*copies = lo;
	else if (!has_hi)
		*copies = lo + 1;
	else
		*copies = hi > lo ? hi : lo;
	if (*copies == 0)
		*copies = 1;
	return p + 1;
}

/* A repetition operator at 'p' applied to 'f->last': returns past it, or
 * NULL when 'p' is not one. */
static const char *repeat(const char *p, struct frame *f)
{
	size_t copies = 1;
	const char *next = p + 1;

	if (*p == '+')
		copies = 2;
	else if (*p == '{')
		next = interval(p, &copies);
	else if (*p != '*' && *p != '?')
		return NULL;
	if (next && f->last)
		f->last = sat(f->last * copies + 1);
	return next;
}

size_t rx_copies(const char *pat)
{
	struct frame st[RX_MAX_DEPTH + 1] = {{0, 0}};
	size_t depth = 0;
	const char *p = pat;

	while (*p) {
		struct frame *f = &st[depth];
		const char *next;

		if ((next = repeat(p, f))) {
			p = next;
			continue;
		}
		if (*p == ')' && depth) {
			st[depth - 1].last = sat(f->sum + f->last + 1);
			depth--;
			p++;
			continue;
		}
		f->sum = sat(f->sum + f->last);
		f->last = 1;
		if (*p == '\\' && p[1] >= '1' && p[1] <= '9')
			return REFUSED;
		if (*p == '\\') {
			p += p[1] ? 2 : 1;
		} else if (*p == '[') {
			p = skip_bracket(p);
		} else if (*p == '(') {
			if (depth == RX_MAX_DEPTH)
				return REFUSED;
			f->last = 0;
			st[++depth] = (struct frame){0, 0};
			p++;
		} else if (*p == '|') {
			f->last = 0;
			p++;
		} else {
			p++;
		}
	}
	while (depth) {
		size_t inner = sat(st[depth].sum + st[depth].last);

		depth--;
		st[depth].sum = sat(st[depth].sum + inner);
	}
	return sat(st[0].sum + st[0].last);
}

int rx_compile(regex_t *re, const char *pat, bool whole, struct err *e)
{
	size_t n = strlen(pat), copies;
	char *src, msg[128];
	int rc;

	if (n > RX_MAX_LEN)
		return err_set(e, "too long (%zu characters; the limit is %d)",
			       n, RX_MAX_LEN);
	copies = rx_copies(pat);
	if (copies == REFUSED)
		return err_set(e,
			       "back-references (\\1 to \\9) and groups "
			       "nested deeper than %d are not supported",
			       RX_MAX_DEPTH);
	if (copies > RX_MAX_COPIES)
		return err_set(e,
			       "too complex: its repetitions expand to over "
			       "%d copies (write fewer or smaller counts)",
			       RX_MAX_COPIES);
	/* alone first: wrapped, 'a)|(b' would compile and match anything */
	rc = regcomp(re, pat, REG_EXTENDED | REG_NOSUB);
	if (rc == 0 && whole) {
		regfree(re);
		src = xasprintf("^(%s)$", pat);
		rc = regcomp(re, src, REG_EXTENDED | REG_NOSUB);
		free(src);
	}
	if (rc) {
		regerror(rc, re, msg, sizeof(msg));
		return err_set(e, "%s", msg);
	}
	return 0;
}
