/*
 * Loading a YAML document with positions (libyaml's document API, capped
 * against alias bombs and deep nesting), reporting at a node's
 * line:column, and positions inside scalars (see ydoc.h).
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

/*
 * Flow nesting ([ and {) allowed: libyaml takes time growing with the square
 * of the depth, and no real file comes near this.
 */
#define MAX_NESTING 512
/* Nodes of a document once its aliases are expanded (see check_expansion) */
#define MAX_EXPANDED_NODES 200000

static void report(struct ydoc *y, enum diag_severity sev, const yaml_node_t *n,
		   const char *fmt, va_list ap) PRINTF(4, 0);

static void report(struct ydoc *y, enum diag_severity sev, const yaml_node_t *n,
		   const char *fmt, va_list ap)
{
	char msg[1024];
	unsigned line = 0, col = 0;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n) {
		line = (unsigned)n->start_mark.line + 1;
		col = (unsigned)n->start_mark.column + 1;
	}
	diags_add(y->d, sev, y->file, line, col, "%s%s", y->ctx, msg);
}

void ydoc_error(struct ydoc *y, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(y, DIAG_ERROR, n, fmt, ap);
	va_end(ap);
}

void ydoc_warning(struct ydoc *y, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(y, DIAG_WARNING, n, fmt, ap);
	va_end(ap);
}

void ydoc_report_at(struct ydoc *y, enum diag_severity sev, struct srcpos p,
		    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diags_add(y->d, sev, y->file, p.line, p.column, "%s%s", y->ctx, msg);
}

/*
 * libyaml counts columns in characters; a reader error only gives a byte
 * offset, so count the same way from there.
 */
static void offset_position(const char *text, size_t len, size_t off,
			    unsigned *line, unsigned *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	if (off > len)
		off = len;
	for (i = 0; i < off; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)text[i] & 0xC0) != 0x80) {
			(*col)++;
		}
	}
}

static void report_syntax(struct ydoc *y, const yaml_parser_t *p)
{
	unsigned line, col;
	char ctx[160] = "";

	if (p->error == YAML_MEMORY_ERROR) {
		diags_add(y->d, DIAG_ERROR, y->file, 0, 0,
			  "out of memory while parsing YAML");
		return;
	}
	if (p->error == YAML_READER_ERROR) {
		offset_position(y->text, y->len, p->problem_offset, &line,
				&col);
		if (p->problem_value != -1)
			diags_add(y->d, DIAG_ERROR, y->file, line, col,
				  "invalid YAML: %s (byte 0x%02X)",
				  p->problem ? p->problem : "unreadable input",
				  (unsigned)p->problem_value & 0xFFu);
		else
			diags_add(y->d, DIAG_ERROR, y->file, line, col,
				  "invalid YAML: %s",
				  p->problem ? p->problem : "unreadable input");
		return;
	}
	if (p->context)
		snprintf(ctx, sizeof(ctx), " (%s at %u:%u)", p->context,
			 (unsigned)p->context_mark.line + 1,
			 (unsigned)p->context_mark.column + 1);
	diags_add(y->d, DIAG_ERROR, y->file, (unsigned)p->problem_mark.line + 1,
		  (unsigned)p->problem_mark.column + 1, "invalid YAML: %s%s",
		  p->problem ? p->problem : "syntax error", ctx);
}

FILE *ydoc_open_regular(const char *path, const char **why)
{
	struct stat st;
	FILE *fp;
	int fd;

	/* non-blocking: opening a FIFO without a writer must not hang */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		*why = strerror(errno);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		close(fd);
		return NULL;
	}
	fp = fdopen(fd, "rb");
	if (!fp) {
		*why = strerror(errno);
		close(fd);
	}
	return fp;
}

char *ydoc_read_file(const char *path, size_t max, size_t *len, struct diags *d)
{
	const char *why = NULL;
	FILE *fp = ydoc_open_regular(path, &why);
	char *buf = NULL;
	size_t cap = 0, got;

	*len = 0;
	if (!fp) {
		diags_add(d, DIAG_ERROR, path, 0, 0, "cannot read: %s", why);
		return NULL;
	}
	for (;;) {
		if (*len == cap) {
			if (cap > max) {
				diags_add(d, DIAG_ERROR, path, 0, 0,
					  "larger than %zu bytes", max);
				goto fail;
			}
			cap = cap ? cap * 2 : 8192;
			buf = xrealloc(buf, cap + 1);
		}
		got = fread(buf + *len, 1, cap - *len, fp);
		*len += got;
		if (got == 0)
			break;
	}
	if (ferror(fp)) {
		diags_add(d, DIAG_ERROR, path, 0, 0, "cannot read: %s",
			  strerror(errno));
		goto fail;
	}
	if (*len > max) {
		diags_add(d, DIAG_ERROR, path, 0, 0, "larger than %zu bytes",
			  max);
		goto fail;
	}
	fclose(fp);
	buf[*len] = '\0';
	return buf;
fail:
	fclose(fp);
	free(buf);
	*len = 0;
	return NULL;
}

/*
 * Where flow brackets nest deeper than MAX_NESTING, or len if they do not.
 * Brackets in quoted strings count too: harmless, as real files never
 * leave hundreds of them open.
 */
static size_t too_deep(const char *text, size_t len)
{
	size_t i, depth = 0;

	for (i = 0; i < len; i++) {
		if (text[i] == '[' || text[i] == '{') {
			if (++depth > MAX_NESTING)
				return i;
		} else if ((text[i] == ']' || text[i] == '}') && depth) {
			depth--;
		}
	}
	return len;
}

/*
 * Alias expansion: nodes of a document counted as its readers see them,
 * each alias as a copy of what it names. The memo and reference counts are
 * per node (aliases are shared nodes in libyaml's document API).
 */
struct expansion {
	yaml_document_t *doc;
	size_t *size;	     /* expanded size of each node; 0: not yet */
	unsigned char *busy; /* on the current path */
	size_t *refs;	     /* how many collections refer to the node */
	size_t cap;
};

static size_t add_capped(size_t a, size_t b, size_t cap)
{
	return a > cap || b > cap - a ? cap + 1 : a + b;
}

static void children(yaml_node_t *n, yaml_node_item_t **items, size_t *nitems,
		     yaml_node_pair_t **pairs, size_t *npairs)
{
	*nitems = *npairs = 0;
	if (n->type == YAML_SEQUENCE_NODE) {
		*items = n->data.sequence.items.start;
		*nitems = (size_t)(n->data.sequence.items.top - *items);
	} else if (n->type == YAML_MAPPING_NODE) {
		*pairs = n->data.mapping.pairs.start;
		*npairs = (size_t)(n->data.mapping.pairs.top - *pairs);
	}
}

/*
 * Expanded size of node 'id', at most cap + 1. An alias to a node that
 * contains it counts as one node: readers follow the schema, not every
 * alias, so a cycle is reported by them (a list where a mapping belongs,
 * merges past ydoc_get.c's MAX_MERGE_DEPTH), not expanded.
 */
static size_t expanded(struct expansion *x, int id)
{
	yaml_node_t *n = yaml_document_get_node(x->doc, id);
	size_t i = (size_t)(id - 1), total = 1, ni, np, k;
	yaml_node_item_t *items = NULL;
	yaml_node_pair_t *pairs = NULL;

	if (!n)
		return 1;
	if (x->size[i])
		return x->size[i];
	if (x->busy[i])
		return 1;
	x->busy[i] = 1;
	children(n, &items, &ni, &pairs, &np);
	for (k = 0; k < ni; k++)
		total = add_capped(total, expanded(x, items[k]), x->cap);
	for (k = 0; k < np; k++) {
		total = add_capped(total, expanded(x, pairs[k].key), x->cap);
		total = add_capped(total, expanded(x, pairs[k].value), x->cap);
	}
	x->busy[i] = 0;
	x->size[i] = total;
	return total;
}

static size_t size_of(struct expansion *x, int id)
{
	return id >= 1 ? x->size[id - 1] : 1;
}

static bool shared(struct expansion *x, int id)
{
	return id >= 1 && x->refs[id - 1] > 1;
}

/*
 * The collection where the count passes the cap: follow the first child
 * that does not fit in what is left, until that child is an alias (a node
 * referred to more than once) or a node of its own making.
 */
static yaml_node_t *where_capped(struct expansion *x, int id, size_t left)
{
	yaml_node_t *n = yaml_document_get_node(x->doc, id);
	yaml_node_item_t *items = NULL;
	yaml_node_pair_t *pairs = NULL;
	size_t ni, np, k;
	int kids[2];

	for (;;) {
		int next = 0;

		children(n, &items, &ni, &pairs, &np);
		left = left ? left - 1 : 0;
		for (k = 0; k < ni + np && !next; k++) {
			kids[0] = k < ni ? items[k] : pairs[k - ni].key;
			kids[1] = k < ni ? 0 : pairs[k - ni].value;
			for (int j = 0; j < 2 && !next; j++) {
				if (!kids[j])
					continue;
				if (size_of(x, kids[j]) <= left)
					left -= size_of(x, kids[j]);
				else
					next = kids[j];
			}
		}
		if (!next || shared(x, next))
			return n;
		n = yaml_document_get_node(x->doc, next);
		if (!n || (n->type != YAML_SEQUENCE_NODE &&
			   n->type != YAML_MAPPING_NODE))
			return yaml_document_get_node(x->doc, id);
		id = next;
	}
}

static void count_refs(struct expansion *x, size_t nnodes)
{
	yaml_node_item_t *items = NULL;
	yaml_node_pair_t *pairs = NULL;
	size_t i, k, ni, np;

	for (i = 0; i < nnodes; i++) {
		children(x->doc->nodes.start + i, &items, &ni, &pairs, &np);
		for (k = 0; k < ni; k++)
			x->refs[items[k] - 1]++;
		for (k = 0; k < np; k++) {
			x->refs[pairs[k].key - 1]++;
			x->refs[pairs[k].value - 1]++;
		}
	}
}

/*
 * Readers walk aliases as copies: a few kilobytes of anchors and aliases
 * can stand for millions of nodes. Refuse a document that expands to more
 * than MAX_EXPANDED_NODES, or to more than twice its own nodes when it is
 * that large already.
 */
static int check_expansion(struct ydoc *y)
{
	size_t nnodes = (size_t)(y->doc.nodes.top - y->doc.nodes.start);
	struct expansion x = {&y->doc, NULL, NULL, NULL, MAX_EXPANDED_NODES};
	int rc = 0;

	if (nnodes * 2 > x.cap)
		x.cap = nnodes * 2;
	x.size = xcalloc(nnodes + 1, sizeof(*x.size));
	x.busy = xcalloc(nnodes + 1, 1);
	x.refs = xcalloc(nnodes + 1, sizeof(*x.refs));
	count_refs(&x, nnodes);
	if (expanded(&x, 1) > x.cap) {
		ydoc_error(y, where_capped(&x, 1, x.cap),
			   "the document expands to more than %zu nodes "
			   "through aliases",
			   x.cap);
		rc = -1;
	}
	free(x.size);
	free(x.busy);
	free(x.refs);
	return rc;
}

int ydoc_load(struct ydoc *y, const char *file, const char *text, size_t len,
	      struct diags *d)
{
	size_t deep;
	unsigned line, col;

	yaml_parser_t parser;
	yaml_document_t extra;
	yaml_node_t *root;
	int rc = -1;

	memset(y, 0, sizeof(*y));
	y->file = xstrdup(file);
	y->text = text;
	y->len = len;
	y->d = d;
	deep = too_deep(text, len);
	if (deep < len) {
		offset_position(text, len, deep, &line, &col);
		diags_add(d, DIAG_ERROR, y->file, line, col,
			  "invalid YAML: nested deeper than %d levels",
			  MAX_NESTING);
		return -1;
	}
	if (!yaml_parser_initialize(&parser)) {
		diags_add(d, DIAG_ERROR, y->file, 0, 0,
			  "out of memory while parsing YAML");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &y->doc)) {
		report_syntax(y, &parser);
		goto out;
	}
	y->loaded = true;
	if (!yaml_document_get_root_node(&y->doc)) {
		rc = 0;
		goto out;
	}
	if (check_expansion(y) < 0)
		goto out;
	/* A stream may hold more documents; we read one, so say so. */
	if (!yaml_parser_load(&parser, &extra)) {
		report_syntax(y, &parser);
		goto out;
	}
	root = yaml_document_get_root_node(&extra);
	if (root)
		diags_add(d, DIAG_ERROR, y->file,
			  (unsigned)extra.start_mark.line + 1,
			  (unsigned)extra.start_mark.column + 1,
			  "a second YAML document: one file holds one");
	else
		rc = 0;
	yaml_document_delete(&extra);
out:
	yaml_parser_delete(&parser);
	return rc;
}

void ydoc_release(struct ydoc *y)
{
	if (y->loaded)
		yaml_document_delete(&y->doc);
	y->loaded = false;
	free(y->file);
	y->file = NULL;
}

yaml_node_t *ydoc_root(struct ydoc *y)
{
	return y->loaded ? yaml_document_get_root_node(&y->doc) : NULL;
}

/* Copy bytes for a message: cut short, control characters replaced. */
static const char *quote_bytes(const char *s, size_t len, char *buf,
			       size_t size)
{
	size_t i, max = len;
	bool cut = false;

	if (size < 5) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	if (len > size - 1) {
		max = size - 4;
		cut = true;
		/* Do not split a UTF-8 sequence before the "...". */
		while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
			max--;
	}
	for (i = 0; i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
	}
	if (cut) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

const char *ydoc_quote(const yaml_node_t *n, char *buf, size_t size)
{
	if (!n || n->type != YAML_SCALAR_NODE)
		return quote_bytes("", 0, buf, size);
	return quote_bytes((const char *)n->data.scalar.value,
			   n->data.scalar.length, buf, size);
}

void ydoc_set_context(struct ydoc *y, const char *what, const char *name)
{
	char q[64];

	if (!what) {
		y->ctx[0] = '\0';
		return;
	}
	if (!name) {
		snprintf(y->ctx, sizeof(y->ctx), "%s: ", what);
		return;
	}
	quote_bytes(name, strlen(name), q, sizeof(q));
	snprintf(y->ctx, sizeof(y->ctx), "%s '%s': ", what, q);
}

size_t ydoc_push_context(struct ydoc *y, const char *what, const char *name)
{
	size_t len = strlen(y->ctx);
	char q[64];

	quote_bytes(name, strlen(name), q, sizeof(q));
	snprintf(y->ctx + len, sizeof(y->ctx) - len, "%s '%s': ", what, q);
	return len;
}

void ydoc_pop_context(struct ydoc *y, size_t len)
{
	if (len < sizeof(y->ctx))
		y->ctx[len] = '\0';
}

struct srcpos ydoc_pos(const struct ydoc *y, const yaml_node_t *n)
{
	struct srcpos p = {y->file, 0, 0};

	if (n) {
		p.line = (unsigned)n->start_mark.line + 1;
		p.column = (unsigned)n->start_mark.column + 1;
	}
	return p;
}

struct srcpos ydoc_text_pos(const struct ydoc *y, const yaml_node_t *n)
{
	struct srcpos p = ydoc_pos(y, n);
	size_t i = 0, line0, indent;

	if (!n || n->type != YAML_SCALAR_NODE)
		return p;
	switch (n->data.scalar.style) {
	case YAML_SINGLE_QUOTED_SCALAR_STYLE:
	case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
		p.column++;
		return p;
	case YAML_LITERAL_SCALAR_STYLE:
	case YAML_FOLDED_SCALAR_STYLE:
		break;
	default:
		return p;
	}
	/* The text starts on the line after the indicator. */
	p.line++;
	for (line0 = 1; i < y->len && line0 < p.line; i++)
		if (y->text[i] == '\n')
			line0++;
	/* Its column is the indentation of the first line that has text. */
	while (i < y->len) {
		indent = 0;
		while (i < y->len && y->text[i] == ' ') {
			indent++;
			i++;
		}
		if (i < y->len && y->text[i] != '\n' && y->text[i] != '\r') {
			p.column = (unsigned)indent + 1;
			return p;
		}
		while (i < y->len && y->text[i] != '\n')
			i++;
		i++;
	}
	p.column = 1;
	return p;
}

unsigned ydoc_count_chars(const char *s, size_t n)
{
	unsigned c = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			c++;
	return c;
}

struct srcpos ydoc_offset_pos(const struct ydoc *y, const yaml_node_t *n,
			      size_t off)
{
	struct srcpos p = ydoc_pos(y, n), t;
	const char *v;
	size_t i, bol = 0;

	if (!n || n->type != YAML_SCALAR_NODE || off > n->data.scalar.length)
		return p;
	v = (const char *)n->data.scalar.value;
	switch (n->data.scalar.style) {
	case YAML_LITERAL_SCALAR_STYLE:
		t = ydoc_text_pos(y, n);
		for (i = 0; i < off; i++) {
			if (v[i] == '\n') {
				t.line++;
				bol = i + 1;
			}
		}
		t.column += ydoc_count_chars(v + bol, off - bol);
		return t;
	case YAML_PLAIN_SCALAR_STYLE:
	case YAML_SINGLE_QUOTED_SCALAR_STYLE:
	case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
		if (n->start_mark.line != n->end_mark.line)
			return p;
		if (n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE &&
		    memchr(v, '\'', off))
			return p;
		/* The text of a double-quoted scalar has no escapes left
		 * exactly when it is as long as it was written. */
		if (n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE &&
		    n->end_mark.index - n->start_mark.index !=
			    n->data.scalar.length + 2)
			return p;
		t = ydoc_text_pos(y, n);
		t.column += ydoc_count_chars(v, off);
		return t;
	default:
		return p;
	}
}

bool ydoc_is_null(const yaml_node_t *n)
{
	const char *s;

	if (!n || n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = (const char *)n->data.scalar.value;
	return n->data.scalar.length == 0 || strcmp(s, "~") == 0 ||
	       strcasecmp(s, "null") == 0;
}

const char *ydoc_kind(const yaml_node_t *n)
{
	if (!n)
		return "nothing";
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return ydoc_is_null(n) ? "empty" : "a string";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}
