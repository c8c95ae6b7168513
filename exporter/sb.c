/*
 * String builder with a size cap and a sticky failure flag: the output
 * buffer of a scrape and the scratch space of formatting code.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sb.h"
#include "xalloc.h"

void sb_init(struct sb *sb, size_t max)
{
	sb->buf = NULL;
	sb->len = 0;
	sb->cap = 0;
	sb->max = max;
	sb->failed = false;
	sb->flush = NULL;
	sb->flush_arg = NULL;
	sb->flush_at = 0;
	sb->flushed = 0;
}

/*
 * Ensure room for 'n' more bytes plus the NUL. Returns false (and sets
 * 'failed') when that would pass 'max'.
 */
static bool sb_room(struct sb *sb, size_t n)
{
	size_t need, cap;

	if (sb->failed)
		return false;
	if (n > SIZE_MAX - 1 - sb->len ||
	    (sb->max && sb->flushed + sb->len + n > sb->max)) {
		sb->failed = true;
		return false;
	}
	need = sb->len + n + 1;
	if (need <= sb->cap)
		return true;
	cap = sb->cap ? sb->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	/* Never allocate more than a full buffer can use. */
	if (sb->max && cap > sb->max + 1)
		cap = sb->max + 1;
	sb->buf = xrealloc(sb->buf, cap);
	sb->cap = cap;
	return true;
}

void sb_add(struct sb *sb, const void *data, size_t n)
{
	if (!n || !sb_room(sb, n))
		return;
	memcpy(sb->buf + sb->len, data, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void sb_adds(struct sb *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

void sb_addc(struct sb *sb, char c)
{
	if (!sb_room(sb, 1))
		return;
	sb->buf[sb->len++] = c;
	sb->buf[sb->len] = '\0';
}

void sb_vaddf(struct sb *sb, const char *fmt, va_list ap)
{
	size_t avail = sb->cap > sb->len ? sb->cap - sb->len : 0;
	va_list cp;
	int len;

	if (sb->failed)
		return;
	va_copy(cp, ap);
	len = vsnprintf(avail ? sb->buf + sb->len : NULL, avail, fmt, cp);
	va_end(cp);
	if (len < 0) {
		sb->failed = true;
		goto out;
	}
	if ((size_t)len >= avail) {
		if (!sb_room(sb, (size_t)len))
			goto out;
		vsnprintf(sb->buf + sb->len, (size_t)len + 1, fmt, ap);
	}
	sb->len += (size_t)len;
out:
	/* A failed first attempt may have written past the old NUL. */
	if (sb->buf)
		sb->buf[sb->len] = '\0';
}

void sb_addf(struct sb *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_vaddf(sb, fmt, ap);
	va_end(ap);
}

/*
 * Length of the well-formed UTF-8 sequence at 's' (Unicode table 3-7), or 0
 * when the bytes there do not start one.
 */
size_t sb_utf8_seqlen(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0; /* overlong */
	else if (c == 0xed)
		hi = 0x9f; /* surrogates */
	else if (c == 0xf0)
		lo = 0x90; /* overlong */
	else if (c == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

size_t sb_add_utf8(struct sb *sb, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, start = 0, bad = 0, len;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		len = sb_utf8_seqlen(p + i, n - i);
		if (len) {
			i += len;
			continue;
		}
		sb_add(sb, s + start, i - start);
		sb_add(sb, "\xef\xbf\xbd", 3);
		bad++;
		start = ++i;
	}
	sb_add(sb, s + start, n - start);
	return bad;
}

void sb_grow(struct sb *sb, size_t n)
{
	if (sb_room(sb, n))
		sb->buf[sb->len] = '\0';
}

const char *sb_str(const struct sb *sb)
{
	return sb->buf ? sb->buf : "";
}

void sb_reset(struct sb *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
	sb->failed = false;
	sb->flushed = 0;
}

char *sb_detach(struct sb *sb, size_t *len)
{
	char *buf = sb->buf ? sb->buf : xstrdup("");

	if (len)
		*len = sb->len;
	sb_init(sb, sb->max);
	return buf;
}

void sb_release(struct sb *sb)
{
	free(sb->buf);
	sb_init(sb, sb->max);
}

void sb_add_json_string(struct sb *sb, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, len;

	sb_addc(sb, '"');
	while (i < n) {
		switch (p[i]) {
		case '"':
			sb_adds(sb, "\\\"");
			break;
		case '\\':
			sb_adds(sb, "\\\\");
			break;
		case '\n':
			sb_adds(sb, "\\n");
			break;
		case '\r':
			sb_adds(sb, "\\r");
			break;
		case '\t':
			sb_adds(sb, "\\t");
			break;
		default:
			if (p[i] < 0x20 || p[i] == 0x7f) {
				sb_addf(sb, "\\u%04x", p[i]);
				break;
			}
			len = sb_utf8_seqlen(p + i, n - i);
			if (!len) {
				sb_adds(sb, "\\ufffd");
				break;
			}
			sb_add(sb, s + i, len);
			i += len;
			continue;
		}
		i++;
	}
	sb_addc(sb, '"');
}

void sb_set_flush(struct sb *sb, size_t at, sb_flush_fn *fn, void *arg)
{
	sb->flush = fn;
	sb->flush_arg = arg;
	sb->flush_at = at;
}

void sb_flush(struct sb *sb, bool all)
{
	if (!sb->flush || sb->failed || !sb->len ||
	    (!all && sb->len < sb->flush_at))
		return;
	sb->flush(sb->buf, sb->len, sb->flush_arg);
	sb->flushed += sb->len;
	sb->len = 0;
	sb->buf[0] = '\0';
}
