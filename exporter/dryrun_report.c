/*
 * The report of a dry run: its rows and diagnostics, rendered as a table,
 * JSON or a summary line, and positions inside a collector's SQL text.
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
#include "dryrun.h"
#include "expfmt.h"
#include "sb.h"
#include "xalloc.h"
#include "ydoc.h"
#include "compat.h"

struct dryrun_row *dryrun_add_row(struct dryrun_report *r,
				  const char *collector, const char *target)
{
	struct dryrun_row *row;

	ALLOC_GROW(r->rows, r->n + 1, r->alloc);
	row = &r->rows[r->n++];
	memset(row, 0, sizeof(*row));
	row->collector = xstrdup(collector);
	row->target = xstrdup_or_null(target);
	row->seconds = -1;
	row->rows = -1;
	return row;
}

struct dryrun_target *dryrun_add_target(struct dryrun_report *r,
					const char *name, const char *kind,
					const char *version, int version_num,
					const char *error)
{
	struct dryrun_target *t;

	ALLOC_GROW(r->targets, r->ntargets + 1, r->talloc);
	t = &r->targets[r->ntargets++];
	t->name = xstrdup(name);
	t->kind = kind;
	t->version = xstrdup_or_null(version);
	t->version_num = version_num;
	t->error = xstrdup_or_null(error);
	return t;
}

void dryrun_report_release(struct dryrun_report *r)
{
	size_t i, j;

	for (i = 0; i < r->n; i++) {
		struct dryrun_row *row = &r->rows[i];

		free(row->collector);
		free(row->target);
		free(row->note);
		for (j = 0; j < row->nlabels; j++)
			free(row->labels[j].name);
		free(row->labels);
	}
	free(r->rows);
	for (i = 0; i < r->ntargets; i++) {
		free(r->targets[i].name);
		free(r->targets[i].version);
		free(r->targets[i].error);
	}
	free(r->targets);
	free(r->metrics);
	diags_release(&r->d);
	memset(r, 0, sizeof(*r));
}

const char *dryrun_status_name(enum dryrun_status s)
{
	static const char *const names[] = {
		[DRYRUN_OK] = "ok",	      [DRYRUN_SKIPPED] = "skipped",
		[DRYRUN_WARNING] = "warning", [DRYRUN_TIMEOUT] = "timeout",
		[DRYRUN_ERROR] = "error",
	};

	return (size_t)s < ARRAY_SIZE(names) ? names[s] : "?";
}

/* ---- rendering ----------------------------------------------------- */

enum {
	COL_COLLECTOR,
	COL_TARGET,
	COL_STATUS,
	COL_VARIANT,
	COL_TIME,
	COL_ROWS,
	COL_SERIES,
	COL_NOTE,
	NCOLS
};

static void row_cells(const struct dryrun_row *row, char cells[NCOLS][96])
{
	snprintf(cells[COL_COLLECTOR], 96, "%s", row->collector);
	snprintf(cells[COL_TARGET], 96, "%s", row->target ? row->target : "-");
	snprintf(cells[COL_STATUS], 96, "%s", dryrun_status_name(row->status));
	if (row->variant)
		snprintf(cells[COL_VARIANT], 96, "%d/%d", row->variant,
			 row->nvariants);
	else
		snprintf(cells[COL_VARIANT], 96, "-");
	if (row->seconds >= 0)
		snprintf(cells[COL_TIME], 96, "%.1fms", row->seconds * 1000);
	else
		snprintf(cells[COL_TIME], 96, "-");
	if (row->rows >= 0) {
		snprintf(cells[COL_ROWS], 96, "%ld", row->rows);
		snprintf(cells[COL_SERIES], 96, "%zu", row->series);
	} else {
		snprintf(cells[COL_ROWS], 96, "-");
		snprintf(cells[COL_SERIES], 96, "-");
	}
	snprintf(cells[COL_NOTE], 96, "%s", row->note ? row->note : "");
}

void dryrun_render_table(const struct dryrun_report *r, struct sb *out)
{
	static const char *const heads[NCOLS] = {
		"COLLECTOR", "TARGET", "STATUS", "VARIANT",
		"TIME",	     "ROWS",   "SERIES", "NOTE",
	};
	char cells[NCOLS][96];
	size_t width[NCOLS], i, k;

	for (i = 0; i < r->ntargets; i++) {
		const struct dryrun_target *t = &r->targets[i];

		sb_addf(out, "target '%s' (%s): ", t->name, t->kind);
		if (t->error)
			sb_addf(out, "not checked: %s\n", t->error);
		else if (t->version)
			sb_addf(out, "%s (%d)\n", t->version, t->version_num);
		else
			sb_adds(out, "connected\n");
	}
	if (r->ntargets)
		sb_addc(out, '\n');
	for (k = 0; k < NCOLS; k++)
		width[k] = strlen(heads[k]);
	for (i = 0; i < r->n; i++) {
		row_cells(&r->rows[i], cells);
		for (k = 0; k < NCOLS; k++)
			if (strlen(cells[k]) > width[k])
				width[k] = strlen(cells[k]);
	}
	for (i = 0; i <= r->n; i++) {
		struct sb line = SB_INIT(0);
		size_t len;

		if (i == 0)
			for (k = 0; k < NCOLS; k++)
				snprintf(cells[k], 96, "%s", heads[k]);
		else
			row_cells(&r->rows[i - 1], cells);
		for (k = 0; k < NCOLS; k++) {
			/* numbers are right-aligned */
			bool right = k == COL_TIME || k == COL_ROWS ||
				     k == COL_SERIES;

			if (k)
				sb_adds(&line, "  ");
			sb_addf(&line, right ? "%*s" : "%-*s", (int)width[k],
				cells[k]);
		}
		len = line.len;
		while (len && line.buf[len - 1] == ' ')
			len--;
		sb_add(out, line.buf, len);
		sb_addc(out, '\n');
		sb_release(&line);
	}
}

static void json_key(struct sb *out, const char *key, bool *first)
{
	sb_adds(out, *first ? "" : ", ");
	*first = false;
	sb_add_json_string(out, key, strlen(key));
	sb_adds(out, ": ");
}

static void json_strfield(struct sb *out, const char *key, const char *v,
			  bool *first)
{
	json_key(out, key, first);
	if (v)
		sb_add_json_string(out, v, strlen(v));
	else
		sb_adds(out, "null");
}

static void json_target(struct sb *out, const struct dryrun_target *t)
{
	bool f = true;

	sb_adds(out, "{");
	json_strfield(out, "name", t->name, &f);
	json_strfield(out, "kind", t->kind, &f);
	json_strfield(out, "version", t->version, &f);
	json_key(out, "version_num", &f);
	sb_addf(out, "%d", t->version_num);
	json_strfield(out, "error", t->error, &f);
	sb_adds(out, "}");
}

static void json_diag(struct sb *out, const struct diag *g)
{
	bool f = true;

	sb_adds(out, "{");
	json_strfield(out, "file", g->file, &f);
	json_key(out, "line", &f);
	sb_addf(out, "%u", g->line);
	json_key(out, "column", &f);
	sb_addf(out, "%u", g->column);
	json_strfield(out, "severity",
		      g->severity == DIAG_ERROR ? "error" : "warning", &f);
	json_strfield(out, "message", g->msg, &f);
	sb_adds(out, "}");
}

static void json_row(struct sb *out, const struct dryrun_row *row)
{
	bool f = true;
	size_t j;

	sb_adds(out, "{");
	json_strfield(out, "collector", row->collector, &f);
	json_strfield(out, "target", row->target, &f);
	json_strfield(out, "status", dryrun_status_name(row->status), &f);
	json_strfield(out, "note", row->note, &f);
	json_key(out, "variant", &f);
	sb_addf(out, "%d", row->variant);
	json_key(out, "variants", &f);
	sb_addf(out, "%d", row->nvariants);
	json_key(out, "seconds", &f);
	if (row->seconds >= 0)
		sb_addf(out, "%.6f", row->seconds);
	else
		sb_adds(out, "null");
	json_key(out, "rows", &f);
	if (row->rows >= 0)
		sb_addf(out, "%ld, \"series\": %zu", row->rows, row->series);
	else
		sb_adds(out, "null, \"series\": null");
	json_key(out, "max_series", &f);
	sb_addf(out, "%zu", row->max_series);
	json_key(out, "labels", &f);
	sb_adds(out, "{");
	for (j = 0; j < row->nlabels; j++) {
		bool lf = j == 0;

		json_key(out, row->labels[j].name, &lf);
		sb_addf(out, "%zu", row->labels[j].values);
	}
	sb_adds(out, "}}");
}

void dryrun_render_json(const struct dryrun_report *r, struct sb *out)
{
	size_t i;
	bool first = true;

	sb_adds(out, "{");
	json_key(out, "errors", &first);
	sb_addf(out, "%zu", r->d.nerrors);
	json_key(out, "warnings", &first);
	sb_addf(out, "%zu", r->d.nwarnings);
	json_key(out, "offline", &first);
	sb_adds(out, r->offline ? "true" : "false");
	json_key(out, "targets", &first);
	sb_adds(out, "[");
	for (i = 0; i < r->ntargets; i++) {
		sb_adds(out, i ? ", " : "");
		json_target(out, &r->targets[i]);
	}
	sb_adds(out, "]");
	json_key(out, "diagnostics", &first);
	sb_adds(out, "[");
	for (i = 0; i < r->d.n; i++) {
		sb_adds(out, i ? ", " : "");
		json_diag(out, &r->d.v[i]);
	}
	sb_adds(out, "]");
	json_key(out, "collectors", &first);
	sb_adds(out, "[");
	for (i = 0; i < r->n; i++) {
		sb_adds(out, i ? ", " : "");
		json_row(out, &r->rows[i]);
	}
	sb_adds(out, "]");
	if (r->metrics)
		json_strfield(out, "metrics", r->metrics, &first);
	sb_adds(out, "}\n");
}

void dryrun_render_summary(const struct dryrun_report *r, struct sb *out)
{
	sb_addf(out,
		"%zu collector%s, %zu target%s%s: %zu error%s, %zu "
		"warning%s\n",
		r->ncollectors, r->ncollectors == 1 ? "" : "s", r->ntargets,
		r->ntargets == 1 ? "" : "s",
		r->offline ? " (offline: files only)" : "", r->d.nerrors,
		r->d.nerrors == 1 ? "" : "s", r->d.nwarnings,
		r->d.nwarnings == 1 ? "" : "s");
}

/* ---- positions ----------------------------------------------------- */

/* Byte offset of character 'pos' (1-based) of UTF-8 's'. */
static size_t char_to_byte(const char *s, size_t pos)
{
	size_t i = 0, chars = 0;

	while (s[i]) {
		if (((unsigned char)s[i] & 0xC0) != 0x80) {
			if (++chars == pos)
				return i;
		}
		i++;
	}
	return i;
}

/*
 * Byte 'off' of 'sql' (substituted) as a byte offset of the raw text
 * v->sql; false when it falls inside a parameter's value or the
 * substitution cannot be retraced.
 */
static bool raw_offset(const struct collector *c, const struct variant *v,
		       const struct config *cfg, const char *sql, size_t off,
		       size_t *out)
{
	const char *raw = v->sql, *p = raw, *start, *name, *end;
	struct sb re = SB_INIT(0);
	size_t len, sp = 0;
	bool found = false, ok = true;

	*out = 0;
	while ((start = querydef_next_placeholder(p, &name, &len, &end))) {
		char *pname = xstrndup(name, len);
		const char *val = collector_param(c, pname, cfg);
		size_t lit = (size_t)(start - p);
		size_t vlen = val ? strlen(val) : (size_t)(end - start);

		if (!found && off < sp + lit) {
			*out = (size_t)(p - raw) + (off - sp);
			found = true;
		}
		sp += lit;
		if (!found && off < sp + vlen) {
			*out = (size_t)(start - raw);
			found = true;
			ok = !val;
		}
		sp += vlen;
		free(pname);
		sb_add(&re, p, lit);
		if (val)
			sb_adds(&re, val);
		else
			sb_add(&re, start, (size_t)(end - start));
		p = end;
	}
	if (!found)
		*out = (size_t)(p - raw) + (off - sp);
	sb_adds(&re, p);
	if (*out > strlen(raw))
		*out = strlen(raw);
	if (strcmp(sb_str(&re), sql))
		ok = false;
	sb_release(&re);
	return ok;
}

/* Does line 'line' of 'text' hold 's' (of 'n' bytes) at 'column'? */
static bool text_has(const char *text, size_t len, unsigned line,
		     unsigned column, const char *s, size_t n)
{
	size_t i = 0;
	unsigned l = 1, col = 1;

	while (i < len && l < line)
		if (text[i++] == '\n')
			l++;
	if (l != line)
		return false;
	while (i < len && col < column && text[i] != '\n') {
		i++;
		while (i < len && ((unsigned char)text[i] & 0xC0) == 0x80)
			i++;
		col++;
	}
	return col == column && i + n <= len && !memcmp(text + i, s, n);
}

struct srcpos dryrun_sql_pos(const struct collector *c, const struct variant *v,
			     const struct config *cfg, const char *sql,
			     size_t pos, const char *text, size_t len,
			     bool *exact)
{
	struct srcpos p = v->pos;
	size_t off, raw, i, bol = 0, eol;
	unsigned nl = 0;

	*exact = false;
	off = char_to_byte(sql, pos ? pos : 1);
	if (!raw_offset(c, v, cfg, sql, off, &raw))
		return p;
	for (i = 0; i < raw; i++) {
		if (v->sql[i] == '\n') {
			nl++;
			bol = i + 1;
		}
	}
	p.line += nl;
	p.column += ydoc_count_chars(v->sql + bol, raw - bol);
	/*
	 * A literal block ('|') keeps lines and indentation, so the file has
	 * the SQL's line at the variant's column; a folded or multi-line
	 * plain scalar does not, and then only the start is known.
	 */
	for (eol = bol; v->sql[eol] && v->sql[eol] != '\n'; eol++)
		;
	if (text && !text_has(text, len, p.line, v->pos.column, v->sql + bol,
			      eol - bol))
		return v->pos;
	*exact = true;
	return p;
}

/* ---- running collectors -------------------------------------------- */
