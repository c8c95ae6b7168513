/*
 * The SQL scanner: a query text read as PostgreSQL's lexer reads it
 * (-- and nested slash-star comments, "quoted" names, '' strings with
 * standard_conforming_strings, E'' strings, $tag$ dollar quotes), for
 *   - the words of a text (names, string literals, which names are calls),
 *   - where a second statement starts,
 *   - the check that a text is one read-only query pgpulse may run.
 * A leaf: nothing here talks to a server. Offsets are bytes from the start
 * of the text; pointers point into it and live as long as it.
 */
#ifndef SQLSCAN_H
#define SQLSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include "compat.h"
#include "err.h"

/* A word of an SQL text. Points into the text; lives as long as it. */
struct sqlword {
	const char *s; /* the word; not NUL-terminated */
	size_t len;
	size_t off;  /* byte offset in the text */
	bool string; /* the contents of a string literal, not a name */
	bool quoted; /* a "quoted" name: compared as written */
	bool call;   /* a name followed by '(' */
};

/*
 * The names (unquoted ones lower-cased when compared) and string literals
 * of 'sql', skipping comments and dollar-quoted bodies. Returns a
 * malloc'ed array (free it) and its length in *n; NULL when there is none.
 */
struct sqlword *sqlscan_words(const char *sql, size_t *n);

/*
 * The byte offset where a second statement starts in 'sql' (text after a
 * ';' outside strings, quoted names, comments and dollar quotes), or -1
 * when 'sql' holds one statement.
 */
long sqlscan_second_statement(const char *sql);

/*
 * The first call in 'sql' of a function whose effect a rollback cannot
 * undo or that changes the session (pg_terminate_backend, pg_stat_reset*,
 * pg_advisory*, dblink*, lo_*, set_config, nextval...), matched on name
 * tokens, so neither a comment before its '(' nor quotes nor a schema
 * hide it: its name (lower case, in a static buffer), with its byte
 * offset in '*off'; or NULL when there is none.
 */
const char *sqlscan_unsafe_call(const char *sql, size_t *off);

/*
 * Whether 'sql' is a statement pgpulse may run: for PostgreSQL, one query
 * (SELECT, WITH, VALUES, TABLE or SHOW, perhaps in parentheses) with no
 * data-modifying part (INSERT, UPDATE, DELETE, MERGE, SELECT INTO, FOR
 * UPDATE/SHARE) and no call sqlscan_unsafe_call finds; for pgbouncer's
 * console ('pgbouncer'), 'SHOW <word>' and nothing else. The text is
 * tokenized as PostgreSQL does (comments, nested comments, quoted names,
 * strings, E'' strings, dollar quotes). Returns 0, or -1 with 'e' set and
 * the byte offset of the offending token in '*off'.
 */
int sqlscan_statement(const char *sql, bool pgbouncer, size_t *off,
		      struct err *e) MUST_CHECK;

/*
 * Whether word 'w' is the name 'name' (lower case): an unquoted word
 * compared case-insensitively, a quoted one as written; a string literal
 * is never a name.
 */
bool sqlscan_word_is(const struct sqlword *w, const char *name);

#endif
