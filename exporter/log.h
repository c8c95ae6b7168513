/*
 * Leveled structured logging to stderr, one line per event, as logfmt or
 * JSON, with key/value context. Every line is passed through a redaction
 * filter so a password that slipped into a message is never printed.
 *
 * Thread-safe: a line is written with one write(2) call.
 */
#ifndef LOG_H
#define LOG_H

#include <stdbool.h>
#include <stddef.h>
#include "compat.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_LOGFMT, LOG_JSON };

/* Set the threshold and the format; the default is info, logfmt. */
void log_setup(enum log_level level, enum log_format format);
/* "debug", "info", "warn", "error" -> level. Returns 0, or -1 if unknown. */
int log_parse_level(const char *s, enum log_level *out) MUST_CHECK;
/* "logfmt", "json" -> format. Returns 0, or -1 if unknown. */
int log_parse_format(const char *s, enum log_format *out) MUST_CHECK;
bool log_enabled(enum log_level level);

/*
 * Write one event: 'msg' followed by key/value pairs of strings, ended by a
 * NULL key. A NULL value skips the pair. For example:
 *   log_kv(LOG_WARN, "collector failed", "target", t->name,
 *          "collector", c->name, "err", e.msg, NULL);
 * prints
 *   ts=2026-11-21T23:24:24.123Z level=warn msg="collector failed"
 *   target=main collector=locks err="..."
 */
void log_kv(enum log_level level, const char *msg, ...);

#define log_debug(...) log_kv(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_kv(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_kv(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_kv(LOG_ERROR, __VA_ARGS__)

/*
 * Copy 's' into 'out' (size 'n', always NUL-terminated) with secrets masked:
 * the value of password=..., and the password part of a URI's userinfo
 * (postgresql://user:secret@host -> postgresql://user:***@host). Exposed for
 * error pages and tests; log_kv applies it to every value.
 */
void log_redact(const char *s, char *out, size_t n);

#endif
