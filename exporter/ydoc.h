/*
 * Walking a YAML document with positions, for the config and query loaders:
 * load text with libyaml's document API, look up keys against a table of
 * known ones, read typed values, and report every problem as a diagnostic at
 * the node's 1-based line:column, prefixed by a context ("collector 'x': ").
 */
#ifndef YDOC_H
#define YDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <yaml.h>
#include "compat.h"
#include "diag.h"

/*
 * One loaded document. Filled by ydoc_load, freed by ydoc_release; lives
 * for one load of one file. Nodes returned by the functions below belong to
 * it. 'text' must outlive it.
 */
struct ydoc {
	yaml_document_t doc;
	bool loaded;
	char *file;	  /* owned; the name used in diagnostics */
	const char *text; /* the source, not owned */
	size_t len;
	struct diags *d;
	char ctx[192]; /* put in front of every message; "" for none */
};

/*
 * A key/value pair of a mapping, after merge keys ("<<") are applied. Points
 * into its struct ydoc, valid as long as it is.
 */
struct ypair {
	const char *key; /* the key's text (points into the document) */
	yaml_node_t *knode, *vnode;
};

/*
 * Open 'path' for reading if it is a regular file, without blocking on a
 * FIFO or a device. Returns NULL with *why set to the reason (a static
 * string: strerror's, or "not a regular file").
 */
FILE *ydoc_open_regular(const char *path, const char **why);

/*
 * Read the regular file 'path' whole (at most 'max' bytes) into a malloc'ed,
 * NUL-terminated buffer; *len gets its length. Returns NULL after adding
 * the reason to 'd' ("path: error: cannot read: ...").
 */
char *ydoc_read_file(const char *path, size_t max, size_t *len,
		     struct diags *d);

/*
 * Parse 'text' (of 'len' bytes) named 'file'. Returns 0, with the root (if
 * any: an empty file has none) at ydoc_root; or -1 after adding the syntax
 * error to 'd' at the position libyaml gives. A second document in the
 * stream is an error. Release 'y' in both cases.
 */
int ydoc_load(struct ydoc *y, const char *file, const char *text, size_t len,
	      struct diags *d) MUST_CHECK;
void ydoc_release(struct ydoc *y);

/* The root node, or NULL for an empty document. */
yaml_node_t *ydoc_root(struct ydoc *y);

/*
 * Set the context put in front of later messages: "<what> '<name>': ", with
 * 'name' cut short and control characters replaced. NULL 'what' clears it.
 */
void ydoc_set_context(struct ydoc *y, const char *what, const char *name);

/*
 * Append "<what> '<name>': " to the context; returns the length to give
 * ydoc_pop_context to restore the context as it was.
 */
size_t ydoc_push_context(struct ydoc *y, const char *what, const char *name);
void ydoc_pop_context(struct ydoc *y, size_t len);

/* Add a diagnostic at 'n' (the whole file when 'n' is NULL). */
void ydoc_error(struct ydoc *y, const yaml_node_t *n, const char *fmt, ...)
	PRINTF(3, 4);
void ydoc_warning(struct ydoc *y, const yaml_node_t *n, const char *fmt, ...)
	PRINTF(3, 4);

/* Add a diagnostic at a position kept from a node (ydoc_pos). */
void ydoc_report_at(struct ydoc *y, enum diag_severity sev, struct srcpos p,
		    const char *fmt, ...) PRINTF(4, 5);

/* The 1-based position of 'n' ('file' points to y->file). */
struct srcpos ydoc_pos(const struct ydoc *y, const yaml_node_t *n);
/*
 * Where the text of scalar 'n' starts: the line after '|' or '>' for block
 * scalars, the character after the quote for quoted ones; so line k of the
 * value is line pos.line + k - 1 of the file.
 */
struct srcpos ydoc_text_pos(const struct ydoc *y, const yaml_node_t *n);

/*
 * The position of byte 'off' of the value of scalar 'n', exact for literal
 * block scalars ('|') and for one-line plain and quoted scalars without
 * escapes before it; otherwise the position of 'n'.
 */
struct srcpos ydoc_offset_pos(const struct ydoc *y, const yaml_node_t *n,
			      size_t off);

/* "a mapping", "a list", "a string": for messages. */
const char *ydoc_kind(const yaml_node_t *n);
/* True for a plain scalar spelled "", "~" or "null" (any case). */
bool ydoc_is_null(const yaml_node_t *n);
/*
 * Copy the value of scalar 'n' into 'buf' for a message: at most 'size'
 * bytes with "...", control characters replaced by '?'.
 */
const char *ydoc_quote(const yaml_node_t *n, char *buf, size_t size);

/*
 * The pairs of mapping 'map', in order, with the pairs of merged mappings
 * ("<<: *anchor") after the explicit ones (explicit keys win). Keys that
 * are not strings, and keys given twice, are reported ("duplicate <what>
 * 'k' (first at file:line:col)") and left out. Returns a malloc'ed array
 * (free it) and its length in *n; NULL with *n = 0 when there are none.
 * 'map' must be a mapping.
 */
struct ypair *ydoc_pairs(struct ydoc *y, yaml_node_t *map, const char *what,
			 size_t *n);

/*
 * Read mapping 'map' against the table 'names' (of 'n' keys): vals[i] gets
 * the value node of names[i], or NULL when absent. Any other key is
 * reported with severity 'unknown' as "unknown key 'k'", with "(did you
 * mean 'x'?)" when a known key is close. Returns 0, or -1 (reported as
 * "'<what>' must be a mapping, not ...") when 'map' is not a mapping.
 */
int ydoc_fields(struct ydoc *y, yaml_node_t *map, const char *what,
		const char *const *names, size_t n, yaml_node_t **vals,
		enum diag_severity unknown) MUST_CHECK;

/*
 * Typed getters. 'n' is a value node, 'what' names it in messages (the key
 * usually). Each returns 0 with *out set, or -1 after reporting why.
 */
/* A non-empty string without NUL characters; malloc'ed. */
int ydoc_str(struct ydoc *y, const yaml_node_t *n, const char *what,
	     char **out) MUST_CHECK;
/* A decimal integer within [min, max]. */
int ydoc_int(struct ydoc *y, const yaml_node_t *n, const char *what,
	     long long min, long long max, long long *out) MUST_CHECK;
/* true/false (also yes/no, on/off, as YAML 1.1 has them). */
int ydoc_bool(struct ydoc *y, const yaml_node_t *n, const char *what,
	      bool *out) MUST_CHECK;
/* A decimal number, or .nan/NaN, .inf/+Inf, -.inf/-Inf. */
int ydoc_double(struct ydoc *y, const yaml_node_t *n, const char *what,
		double *out) MUST_CHECK;
/* A duration, as duration_parse reads it; in seconds. */
int ydoc_duration(struct ydoc *y, const yaml_node_t *n, const char *what,
		  double *out) MUST_CHECK;
/*
 * A list of strings (a single string is a list of one); *out is a
 * malloc'ed array of malloc'ed strings, freed with ydoc_strv_free.
 */
int ydoc_strlist(struct ydoc *y, const yaml_node_t *n, const char *what,
		 char ***out, size_t *nout) MUST_CHECK;
/*
 * One of 'names' (of 'n'); *out gets its index. An unknown value is
 * reported with the nearest name as a suggestion, or the list of names.
 */
int ydoc_enum(struct ydoc *y, const yaml_node_t *n, const char *what,
	      const char *const *names, size_t nnames, int *out) MUST_CHECK;

/*
 * The node ydoc_strlist read its i'th string from: the i'th item of a list,
 * or 'n' itself for a single string; for messages about one string.
 */
const yaml_node_t *ydoc_strlist_item(struct ydoc *y, const yaml_node_t *n,
				     size_t i);

/* Free an array of 'n' strings and the array. NULL-safe. */
void ydoc_strv_free(char **v, size_t n);

/*
 * The entry of 'names' (of 'n') nearest to 's' by edit distance
 * (transpositions count one), if at most 2 edits away and closer than the
 * length of 's'; otherwise NULL.
 */
const char *ydoc_suggest(const char *s, const char *const *names, size_t n);

/* Characters (not UTF-8 continuation bytes) among s[0..n): a column. */
unsigned ydoc_count_chars(const char *s, size_t n);

#endif
