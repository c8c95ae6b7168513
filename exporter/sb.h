/*
 * Growable string with a hard size cap and a sticky failure flag (after
 * git's strbuf and curl's dynbuf).
 *
 * Appends never report errors one by one: once an append would exceed
 * 'max', every later append is a no-op and 'failed' stays set. Check it once,
 * after the last append. The append that fails adds nothing, so the buffer
 * holds whole appends only. Out of memory aborts (xalloc).
 *
 * The caller owns a struct sb (usually on the stack or inside a scrape) and
 * frees its buffer with sb_release, or takes it with sb_detach.
 */
#ifndef SB_H
#define SB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include "compat.h"

typedef void sb_flush_fn(const char *buf, size_t len, void *arg);

struct sb {
	char *buf;  /* NUL-terminated once anything was added; NULL before */
	size_t len; /* bytes in buf, not counting the NUL */
	size_t cap; /* bytes allocated */
	size_t max; /* refuse to grow past this many bytes; 0: no cap */
	bool failed;
	/* see sb_set_flush; zero: none */
	sb_flush_fn *flush;
	void *flush_arg;
	size_t flush_at;
	size_t flushed; /* bytes handed to 'flush' so far */
};

#define SB_INIT(max_bytes)                                                     \
	{                                                                      \
		.buf = NULL, .len = 0, .cap = 0, .max = (max_bytes),           \
		.failed = false                                                \
	}

void sb_init(struct sb *sb, size_t max);
void sb_add(struct sb *sb, const void *data, size_t n);
void sb_adds(struct sb *sb, const char *s);
void sb_addc(struct sb *sb, char c);
void sb_addf(struct sb *sb, const char *fmt, ...) PRINTF(2, 3);
void sb_vaddf(struct sb *sb, const char *fmt, va_list ap) PRINTF(2, 0);
/*
 * Append 'n' bytes of 's', replacing each byte that is not part of a
 * well-formed UTF-8 sequence (stray continuation, truncated or overlong
 * sequence, surrogate, above U+10FFFF) with U+FFFD. Returns the number of
 * bytes replaced.
 */
size_t sb_add_utf8(struct sb *sb, const char *s, size_t n);
/*
 * The length of the well-formed UTF-8 sequence at s[0..n) (1 for ASCII),
 * or 0 when the bytes there are not one.
 */
size_t sb_utf8_seqlen(const unsigned char *s, size_t n);
/*
 * Append 'n' bytes of 's' as a JSON string, quotes included: '"', '\\',
 * and control characters escaped, each byte of ill-formed UTF-8 as
 * \ufffd, so the result is valid JSON (and a valid quoted logfmt value).
 */
void sb_add_json_string(struct sb *sb, const char *s, size_t n);
/* Make room for 'n' more bytes without changing len (subject to max). */
void sb_grow(struct sb *sb, size_t n);
/* "" when empty, never NULL. Valid until the next append or release. */
const char *sb_str(const struct sb *sb);
/* Back to length 0, keeping the allocation; clears 'failed'. */
void sb_reset(struct sb *sb);
/*
 * Hand the buffer to the caller (free() it; never NULL: an empty sb gives a
 * malloc'ed ""), and reset 'sb' to empty. 'len' may be NULL.
 */
char *sb_detach(struct sb *sb, size_t *len);
/* Free memory, back to empty (keeps max, forgets the flush). */
void sb_release(struct sb *sb);
/*
 * Let a producer hand what it wrote so far to 'fn' at the points where it
 * may (sb_flush), once at least 'at' bytes are held: a page is then
 * compressed as it is rendered instead of held whole. The buffer is
 * emptied after each call; 'max' caps the bytes flushed and held
 * together, so the cap means the same with or without a flush.
 */
void sb_set_flush(struct sb *sb, size_t at, sb_flush_fn *fn, void *arg);
/*
 * A point where the producer holds no pointer into the buffer: flush when
 * a flush is set and at least its 'at' bytes are held, or any are and
 * 'all'. Nothing after 'failed'.
 */
void sb_flush(struct sb *sb, bool all);

#endif
