/*
 * Structured logging: one logfmt or JSON line per event, secrets masked,
 * written to stderr with a single write(2) so threads never interleave.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "sb.h"
#include "xalloc.h"

/*
 * Set once at startup, before threads exist (from flags), and read-only
 * afterwards.
 */
static enum log_level threshold = LOG_INFO;
static enum log_format format = LOG_LOGFMT;

static const char *const level_names[] = {
	[LOG_DEBUG] = "debug",
	[LOG_INFO] = "info",
	[LOG_WARN] = "warn",
	[LOG_ERROR] = "error",
};

static const char *const format_names[] = {
	[LOG_LOGFMT] = "logfmt",
	[LOG_JSON] = "json",
};

void log_setup(enum log_level level, enum log_format fmt)
{
	threshold = level;
	format = fmt;
}

int log_parse_level(const char *s, enum log_level *out)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (!strcasecmp(s, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

int log_parse_format(const char *s, enum log_format *out)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(format_names); i++) {
		if (!strcasecmp(s, format_names[i])) {
			*out = (enum log_format)i;
			return 0;
		}
	}
	return -1;
}

bool log_enabled(enum log_level level)
{
	return level >= threshold;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

static bool is_scheme_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

/*
 * At 's', "password=" (spaces allowed around '=', as in conninfo strings)
 * and a value: returns the length up to the value and sets *vlen to the
 * value's length (up to white space, or a quoted value with its quotes), or
 * returns 0.
 */
static size_t match_password(const char *s, size_t *vlen)
{
	size_t i = 8, j;
	char q;

	if (strncasecmp(s, "password", 8))
		return 0;
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	if (s[i] != '=')
		return 0;
	i++;
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	j = i;
	if (s[j] == '\'' || s[j] == '"') {
		q = s[j++];
		while (s[j] && s[j] != q)
			j += s[j] == '\\' && s[j + 1] ? 2 : 1;
		if (s[j])
			j++;
	} else {
		while (s[j] && !is_space(s[j]))
			j++;
	}
	*vlen = j - i;
	return *vlen ? i : 0;
}

/*
 * At 's' (just after "scheme"), "://user:secret@": returns the length up to
 * and including the ':' before the secret and sets *vlen to the secret's
 * length, or returns 0. As libpq does, the authority ends at the first '/';
 * the last '@' before it ends the userinfo, so a secret holding '@' is
 * masked whole.
 */
static size_t match_userinfo(const char *s, size_t *vlen)
{
	const char *colon = NULL, *at = NULL, *p;

	if (strncmp(s, "://", 3))
		return 0;
	for (p = s + 3; *p && *p != '/' && !is_space(*p); p++) {
		if (*p == ':' && !colon)
			colon = p;
		else if (*p == '@')
			at = p;
	}
	if (!at || !colon || colon > at)
		return 0;
	*vlen = (size_t)(at - colon - 1);
	return (size_t)(colon + 1 - s);
}

static void redact(struct sb *out, const char *s)
{
	const char *start = s;
	size_t keep, vlen;

	while (*s) {
		keep = 0;
		if (*s == 'p' || *s == 'P')
			keep = match_password(s, &vlen);
		else if (*s == ':' && s > start && is_scheme_char(s[-1]))
			keep = match_userinfo(s, &vlen);
		if (!keep) {
			sb_addc(out, *s++);
			continue;
		}
		sb_add(out, s, keep);
		sb_adds(out, "***");
		s += keep + vlen;
	}
}

void log_redact(const char *s, char *out, size_t n)
{
	struct sb l = SB_INIT(0);
	size_t len;

	if (!n)
		return;
	redact(&l, s);
	len = l.len < n - 1 ? l.len : n - 1;
	if (len)
		memcpy(out, l.buf, len);
	out[len] = '\0';
	sb_release(&l);
}

static bool logfmt_needs_quotes(const char *s, size_t n)
{
	size_t i;

	if (!n)
		return true;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == '"' || c == '=' || c == 0x7f)
			return true;
	}
	return false;
}

static void add_logfmt_value(struct sb *l, const char *s, size_t n)
{
	if (!logfmt_needs_quotes(s, n)) {
		sb_add(l, s, n);
		return;
	}
	/* a quoted logfmt value escapes as a JSON string does */
	sb_add_json_string(l, s, n);
}

/* Keys come from the code; keep the line parseable even for a bad one. */
static void add_logfmt_key(struct sb *l, const char *key)
{
	for (; *key; key++) {
		unsigned char c = (unsigned char)*key;
		sb_addc(l, c <= ' ' || c == '"' || c == '=' || c == 0x7f
				   ? '_'
				   : (char)c);
	}
}

static void add_field(struct sb *l, const char *key, const char *val,
		      size_t vlen, bool first)
{
	if (format == LOG_JSON) {
		if (!first)
			sb_addc(l, ',');
		sb_add_json_string(l, key, strlen(key));
		sb_addc(l, ':');
		sb_add_json_string(l, val, vlen);
	} else {
		if (!first)
			sb_addc(l, ' ');
		add_logfmt_key(l, key);
		sb_addc(l, '=');
		add_logfmt_value(l, val, vlen);
	}
}

static bool has_password_word(const char *s)
{
	for (; *s; s++)
		if (!strncasecmp(s, "password", 8))
			return true;
	return false;
}

/* Add 'key' with 'val' passed through the redaction filter. */
static void add_redacted(struct sb *l, struct sb *tmp, const char *key,
			 const char *val)
{
	sb_reset(tmp);
	/* A value logged under a password key is masked whole. */
	if (has_password_word(key))
		sb_adds(tmp, "***");
	else
		redact(tmp, val);
	add_field(l, key, tmp->len ? tmp->buf : "", tmp->len, false);
}

static void write_all(int fd, const char *s, size_t n)
{
	ssize_t w;

	while (n) {
		w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* nowhere left to report it */
		s += w;
		n -= (size_t)w;
	}
}

static void add_timestamp(struct sb *l)
{
	struct timespec ts;
	struct tm tm;
	char buf[96];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
	add_field(l, "ts", buf, strlen(buf), true);
}

void log_kv(enum log_level level, const char *msg, ...)
{
	struct sb l = SB_INIT(0), tmp = SB_INIT(0);
	const char *key, *val;
	const char *lname;
	va_list ap;

	if (!log_enabled(level))
		return;
	lname = (unsigned)level < ARRAY_SIZE(level_names) ? level_names[level]
							  : "error";
	if (format == LOG_JSON)
		sb_addc(&l, '{');
	add_timestamp(&l);
	add_field(&l, "level", lname, strlen(lname), false);
	add_redacted(&l, &tmp, "msg", msg ? msg : "");
	va_start(ap, msg);
	while ((key = va_arg(ap, const char *))) {
		val = va_arg(ap, const char *);
		if (val)
			add_redacted(&l, &tmp, key, val);
	}
	va_end(ap);
	if (format == LOG_JSON)
		sb_addc(&l, '}');
	sb_addc(&l, '\n');
	write_all(STDERR_FILENO, l.buf, l.len);
	sb_release(&l);
	sb_release(&tmp);
}
