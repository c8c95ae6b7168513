/*
 * The SQL scanner: PostgreSQL's lexical rules (comments, nested comments,
 * quoted names, strings, E'' strings, dollar quotes) for the names and
 * statements of a query text, and the check that a text is one read-only
 * query pgpulse may run (see sqlscan.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "sqlscan.h"
#include "xalloc.h"

static bool ident_start(unsigned char c)
{
	return isalpha(c) || c == '_' || c >= 0x80;
}

static bool ident_char(unsigned char c)
{
	return ident_start(c) || isdigit(c) || c == '$';
}

/*
 * Past the end of a "--" or nested slash-star comment starting at 'p'
 * (the end of the text for one left open: the server refuses it).
 */
static const char *skip_comment(const char *p)
{
	int depth = 0;

	if (p[0] == '-') {
		while (*p && *p != '\n')
			p++;
		return p;
	}
	while (*p) {
		if (p[0] == '/' && p[1] == '*') {
			depth++;
			p += 2;
		} else if (p[0] == '*' && p[1] == '/') {
			p += 2;
			if (--depth == 0)
				return p;
		} else {
			p++;
		}
	}
	return p;
}

/* The length of a dollar-quote tag ("$$", "$body$") at 'p', or 0. */
static size_t dollar_tag(const char *p)
{
	const char *q = p + 1;

	/* ident_start excludes digits, as a tag must */
	if (*q != '$' && !ident_start((unsigned char)*q))
		return 0;
	while (*q && *q != '$' && ident_char((unsigned char)*q))
		q++;
	return *q == '$' ? (size_t)(q - p) + 1 : 0;
}

/* A token of an SQL text, as PostgreSQL's lexer splits it. */
enum tokkind {
	TOK_WORD,   /* a name or keyword, unquoted */
	TOK_QUOTED, /* a "quoted" name */
	TOK_STRING, /* the contents of a string literal */
	TOK_NUMBER,
	TOK_PARAM, /* $1 */
	TOK_PUNCT, /* one character of punctuation or of an operator */
};

struct token {
	enum tokkind kind;
	const char *s; /* points into the text; not NUL-terminated */
	size_t len;
	size_t off; /* byte offset in the text */
	/*
	 * a '' string with a backslash before a quote: where it ends depends
	 * on the server's standard_conforming_strings
	 */
	bool ambiguous;
};

/*
 * A quoted run at 'p' (its opening quote 'q'): the end of its contents,
 * with '' (or "") as a quote inside and, when 'esc', backslash escapes.
 */
static const char *quoted_end(const char *p, char q, bool esc)
{
	for (p++; *p; p++) {
		if (esc && *p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p == q) {
			if (p[1] != q)
				return p;
			p++;
		}
	}
	return p;
}

/* Is there a backslash before a quote in [p, end] (the closing one)? */
static bool backslash_quote(const char *p, const char *end)
{
	for (; p < end; p++)
		if (p[0] == '\\' && p[1] == '\'')
			return true;
	return false;
}

/* A number at 'p': digits, a fraction, an exponent only with digits. */
static const char *number_end(const char *p)
{
	while (isdigit((unsigned char)*p) || *p == '_')
		p++;
	if (*p == '.' && p[1] != '.') {
		p++;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if ((*p == 'e' || *p == 'E') &&
	    (isdigit((unsigned char)p[1]) ||
	     ((p[1] == '+' || p[1] == '-') && isdigit((unsigned char)p[2])))) {
		p += 2;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return p;
}

/*
 * Split 'sql' into tokens, past whitespace and comments. Strings with the
 * E prefix take backslash escapes; others do not, as with the server's
 * default standard_conforming_strings (a backslash before a quote, which
 * the server would read otherwise with it off, is marked ambiguous); a
 * dollar-quoted body is one string. Returns the tokens (malloc'ed, free
 * them) and their number in '*n'.
 */
static struct token *lex(const char *sql, size_t *n)
{
	struct token *v = NULL;
	size_t alloc = 0;
	const char *p = sql;

	*n = 0;
	while (*p) {
		unsigned char c = (unsigned char)*p;
		struct token t = {.kind = TOK_PUNCT,
				  .s = p,
				  .len = 1,
				  .off = (size_t)(p - sql)};
		const char *q;

		if (isspace(c)) {
			p++;
			continue;
		}
		if ((p[0] == '-' && p[1] == '-') ||
		    (p[0] == '/' && p[1] == '*')) {
			p = skip_comment(p);
			continue;
		}
		if ((c == 'E' || c == 'e') && p[1] == '\'') {
			/* a token that starts with E' is an escape string */
			q = quoted_end(p + 1, '\'', true);
			t = (struct token){.kind = TOK_STRING,
					   .s = p + 2,
					   .len = (size_t)(q - p - 2),
					   .off = (size_t)(p + 2 - sql)};
			p = *q ? q + 1 : q;
		} else if (c == '\'' || c == '"') {
			q = quoted_end(p, (char)c, false);
			t = (struct token){.kind = c == '"' ? TOK_QUOTED
							    : TOK_STRING,
					   .s = p + 1,
					   .len = (size_t)(q - p - 1),
					   .off = (size_t)(p + 1 - sql)};
			t.ambiguous = c == '\'' && backslash_quote(p + 1, q);
			p = *q ? q + 1 : q;
		} else if (c == '$' && dollar_tag(p)) {
			size_t tl = dollar_tag(p);
			const char *end = p + tl;

			while (*end && strncmp(end, p, tl))
				end++;
			t = (struct token){.kind = TOK_STRING,
					   .s = p + tl,
					   .len = (size_t)(end - p - tl),
					   .off = (size_t)(p + tl - sql)};
			p = *end ? end + tl : end;
		} else if (c == '$' && isdigit((unsigned char)p[1])) {
			for (q = p + 1; isdigit((unsigned char)*q); q++)
				;
			t.kind = TOK_PARAM;
			t.len = (size_t)(q - p);
			p = q;
		} else if (isdigit(c) ||
			   (c == '.' && isdigit((unsigned char)p[1]))) {
			q = number_end(p);
			t.kind = TOK_NUMBER;
			t.len = (size_t)(q - p);
			p = q;
		} else if (ident_start(c)) {
			for (q = p; *q && ident_char((unsigned char)*q); q++)
				;
			t.kind = TOK_WORD;
			t.len = (size_t)(q - p);
			p = q;
		} else {
			p++;
		}
		ALLOC_GROW(v, *n + 1, alloc);
		v[(*n)++] = t;
	}
	return v;
}

static bool is_punct(const struct token *t, char c)
{
	return t->kind == TOK_PUNCT && t->s[0] == c;
}

struct sqlword *sqlscan_words(const char *sql, size_t *n)
{
	struct sqlword *v = NULL;
	struct token *tok;
	size_t alloc = 0, ntok, i;

	tok = lex(sql, &ntok);
	*n = 0;
	for (i = 0; i < ntok; i++) {
		struct sqlword w = {0};

		if (tok[i].kind != TOK_WORD && tok[i].kind != TOK_QUOTED &&
		    tok[i].kind != TOK_STRING)
			continue;
		w.s = tok[i].s;
		w.len = tok[i].len;
		w.off = tok[i].off;
		w.string = tok[i].kind == TOK_STRING;
		w.quoted = tok[i].kind == TOK_QUOTED;
		/* comments between the name and '(' hide nothing */
		w.call =
			!w.string && i + 1 < ntok && is_punct(&tok[i + 1], '(');
		ALLOC_GROW(v, *n + 1, alloc);
		v[(*n)++] = w;
	}
	free(tok);
	return v;
}

/* The index of the first token after a ';', or ntok. */
static size_t second_statement(const struct token *tok, size_t ntok)
{
	size_t i;
	bool semi = false;

	for (i = 0; i < ntok; i++) {
		if (is_punct(&tok[i], ';'))
			semi = true;
		else if (semi)
			return i;
	}
	return ntok;
}

long sqlscan_second_statement(const char *sql)
{
	size_t ntok, i;
	struct token *tok = lex(sql, &ntok);
	long off = -1;

	i = second_statement(tok, ntok);
	if (i < ntok)
		off = (long)tok[i].off;
	free(tok);
	return off;
}

/*
 * Functions that act outside the transaction: a read-only transaction does
 * not refuse them and ROLLBACK does not undo them, or they change the
 * session. A name ending in '*' stands for every name it begins.
 */
static const char *const unsafe_functions[] = {
	"dblink*",
	"lo_*", /* large objects: lo_import, lo_export, lo_put, ... */
	"lowrite",
	"nextval",
	"pg_advisory*",
	"pg_backup_start",
	"pg_backup_stop",
	"pg_cancel_backend",
	"pg_copy_logical_replication_slot",
	"pg_copy_physical_replication_slot",
	"pg_create_*",
	"pg_current_xact_id",
	"pg_drop_replication_slot",
	"pg_file_*",
	"pg_import_system_collations",
	"pg_log_backend_memory_contexts",
	"pg_logical_emit_message",
	"pg_logical_slot_get_*",
	"pg_notify",
	"pg_promote",
	"pg_reload_conf",
	"pg_replication_origin_*",
	"pg_replication_slot_advance",
	"pg_rotate_logfile*",
	"pg_start_backup",
	"pg_stat_reset*",
	"pg_stat_statements_reset",
	"pg_stop_backup",
	"pg_switch_wal",
	"pg_switch_xlog",
	"pg_terminate_backend",
	"pg_truncate_visibility_map",
	"pg_try_advisory*",
	"pg_wal_replay_pause",
	"pg_wal_replay_resume",
	"set_config",
	"setval",
	"txid_current",
};

/* Does name 'w' match 'pat' (see unsafe_functions)? */
static bool name_matches(const struct sqlword *w, const char *pat)
{
	size_t n = strlen(pat), i;
	bool prefix = n && pat[n - 1] == '*';

	if (prefix)
		n--;
	if (w->string || (prefix ? w->len < n : w->len != n))
		return false;
	for (i = 0; i < n; i++)
		if ((w->quoted ? w->s[i] : tolower((unsigned char)w->s[i])) !=
		    pat[i])
			return false;
	return true;
}

/* Any function ending in _reset resets statistics (of an extension too). */
static bool is_reset(const struct sqlword *w)
{
	return !w->string && w->len > 6 &&
	       !strncasecmp(w->s + w->len - 6, "_reset", 6);
}

const char *sqlscan_unsafe_call(const char *sql, size_t *off)
{
	static char found[64];
	struct sqlword *w;
	size_t n, i, k;
	bool hit = false;

	w = sqlscan_words(sql, &n);
	for (i = 0; i < n && !hit; i++) {
		if (!w[i].call)
			continue;
		for (k = 0; k < ARRAY_SIZE(unsafe_functions) && !hit; k++)
			hit = name_matches(&w[i], unsafe_functions[k]);
		hit = hit || is_reset(&w[i]);
		if (hit) {
			snprintf(found, sizeof(found), "%.*s", (int)w[i].len,
				 w[i].s);
			for (k = 0; found[k]; k++)
				found[k] =
					(char)tolower((unsigned char)found[k]);
			*off = w[i].off;
		}
	}
	free(w);
	return hit ? found : NULL;
}

static bool tok_is(const struct token *t, const char *word)
{
	return t->kind == TOK_WORD && strlen(word) == t->len &&
	       !strncasecmp(t->s, word, t->len);
}

static bool tok_in(const struct token *t, const char *const *words)
{
	for (; *words; words++)
		if (tok_is(t, *words))
			return true;
	return false;
}

/* pgbouncer's console: SHOW and one word, nothing else. */
static int check_bouncer(const char *sql, const struct token *tok, size_t n,
			 size_t *off, struct err *e)
{
	const char *p;

	for (p = sql; *p; p++) {
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != ';' &&
		    !isspace((unsigned char)*p)) {
			*off = (size_t)(p - sql);
			return err_set(e, "pgbouncer collectors run 'SHOW "
					  "<word>' only, without comments or "
					  "quotes");
		}
	}
	if (n < 2 || !tok_is(&tok[0], "show") || tok[1].kind != TOK_WORD ||
	    (n > 2 && !(n == 3 && is_punct(&tok[2], ';')))) {
		*off = n > 2 ? tok[2].off : 0;
		return err_set(e, "pgbouncer collectors run 'SHOW <word>' only "
				  "(the console would run anything else, such "
				  "as PAUSE or SHUTDOWN)");
	}
	return 0;
}

int sqlscan_statement(const char *sql, bool pgbouncer, size_t *off,
		      struct err *e)
{
	static const char *const first[] = {"select", "with", "values",
					    "table",  "show", NULL};
	static const char *const writes[] = {"insert", "update", "delete",
					     "merge",  "into",	 NULL};
	static const char *const locks[] = {"share", "key", NULL};
	size_t n, i, k;
	struct token *tok = lex(sql, &n);
	const char *fn;
	int rc = -1;

	*off = 0;
	if (!n) {
		err_set(e, "the sql is empty");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (tok[i].ambiguous) {
			*off = tok[i].off;
			err_set(e, "a backslash before a quote in a '' string "
				   "reads differently with "
				   "standard_conforming_strings off: write "
				   "'''' or E'\\''");
			goto out;
		}
	}
	if ((i = second_statement(tok, n)) < n) {
		*off = tok[i].off;
		err_set(e, "the sql holds more than one statement (the second "
			   "starts here); a collector runs exactly one query");
		goto out;
	}
	if (pgbouncer) {
		rc = check_bouncer(sql, tok, n, off, e);
		goto out;
	}
	for (k = 0; k < n && is_punct(&tok[k], '('); k++)
		;
	if (k == n || !tok_in(&tok[k], first)) {
		*off = tok[k < n ? k : 0].off;
		err_set(e, "the sql is not a query: a collector runs SELECT, "
			   "WITH, VALUES, TABLE or SHOW only");
		goto out;
	}
	for (i = k; i < n; i++) {
		if (tok_in(&tok[i], writes) ||
		    (tok_is(&tok[i], "for") && i + 1 < n &&
		     tok_in(&tok[i + 1], locks))) {
			*off = tok[i].off;
			err_set(e,
				"'%.*s' writes or locks: a collector only "
				"reads (no data-modifying WITH, SELECT INTO "
				"or FOR UPDATE/SHARE)",
				(int)tok[i].len, tok[i].s);
			goto out;
		}
	}
	if ((fn = sqlscan_unsafe_call(sql, off))) {
		err_set(e,
			"calls %s(), which acts outside the transaction or "
			"changes the session: a read-only transaction does "
			"not refuse it and a rollback cannot undo it; "
			"collectors must only read",
			fn);
		goto out;
	}
	rc = 0;
out:
	free(tok);
	return rc;
}

bool sqlscan_word_is(const struct sqlword *w, const char *name)
{
	size_t i;

	if (w->string || strlen(name) != w->len)
		return false;
	for (i = 0; i < w->len; i++)
		if ((w->quoted ? w->s[i] : tolower((unsigned char)w->s[i])) !=
		    name[i])
			return false;
	return true;
}
