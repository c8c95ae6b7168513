/*
 * pgpulse --dry-run: every problem of the config and query files, with its
 * position; then, on each target, every collector run read-only and rolled
 * back, its result checked against its declaration; then a summary line.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "dryrun.h"
#include "log.h"
#include "collect.h"
#include "pgvalue.h"
#include "expfmt.h"
#include "gate.h"
#include "metrics.h"
#include "privcheck.h"
#include "runner.h"
#include "runtime.h"
#include "strmap.h"
#include "target.h"
#include "webconfig.h"
#include "xalloc.h"
#include "ydoc.h"
#include "compat.h"

#define MAX_FILE (4u << 20)

/* ---- the report ---------------------------------------------------- */

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

void dryrun_render_json(const struct dryrun_report *r, struct sb *out)
{
	size_t i, j;
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
		const struct dryrun_target *t = &r->targets[i];
		bool f = true;

		sb_adds(out, i ? ", {" : "{");
		json_strfield(out, "name", t->name, &f);
		json_strfield(out, "kind", t->kind, &f);
		json_strfield(out, "version", t->version, &f);
		json_key(out, "version_num", &f);
		sb_addf(out, "%d", t->version_num);
		json_strfield(out, "error", t->error, &f);
		sb_adds(out, "}");
	}
	sb_adds(out, "]");
	json_key(out, "diagnostics", &first);
	sb_adds(out, "[");
	for (i = 0; i < r->d.n; i++) {
		const struct diag *g = &r->d.v[i];
		bool f = true;

		sb_adds(out, i ? ", {" : "{");
		json_strfield(out, "file", g->file, &f);
		json_key(out, "line", &f);
		sb_addf(out, "%u", g->line);
		json_key(out, "column", &f);
		sb_addf(out, "%u", g->column);
		json_strfield(out, "severity",
			      g->severity == DIAG_ERROR ? "error" : "warning",
			      &f);
		json_strfield(out, "message", g->msg, &f);
		sb_adds(out, "}");
	}
	sb_adds(out, "]");
	json_key(out, "collectors", &first);
	sb_adds(out, "[");
	for (i = 0; i < r->n; i++) {
		const struct dryrun_row *row = &r->rows[i];
		bool f = true;

		sb_adds(out, i ? ", {" : "{");
		json_strfield(out, "collector", row->collector, &f);
		json_strfield(out, "target", row->target, &f);
		json_strfield(out, "status", dryrun_status_name(row->status),
			      &f);
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
			sb_addf(out, "%ld, \"series\": %zu", row->rows,
				row->series);
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

/* A query file's text, read once, for checking positions. */
struct source {
	char *file;
	char *text;
	size_t len;
};

/* State of one dry run. */
struct run {
	const struct cli *o;
	struct dryrun_report *rep;
	struct config cfg;
	bool have_cfg; /* loaded from a file */
	struct queryset qs;
	struct target **targets;
	size_t ntargets;
	bool *bad; /* per collector: failed an offline check */
	struct source *src;
	size_t nsrc, srcalloc;
	struct mset *all; /* every target's series, for --show-metrics */
};

static const struct source *source_of(struct run *x, const char *file)
{
	struct diags ignore = DIAGS_INIT;
	struct source *s;
	size_t i;

	for (i = 0; i < x->nsrc; i++)
		if (!strcmp(x->src[i].file, file))
			return &x->src[i];
	ALLOC_GROW(x->src, x->nsrc + 1, x->srcalloc);
	s = &x->src[x->nsrc++];
	s->file = xstrdup(file);
	s->text = ydoc_read_file(file, MAX_FILE, &s->len, &ignore);
	diags_release(&ignore);
	return s;
}

static void bump(struct dryrun_row *row, enum dryrun_status st)
{
	if (row && st > row->status)
		row->status = st;
}

static void set_note(struct dryrun_row *row, const char *fmt, ...) PRINTF(2, 3);
static void set_note(struct dryrun_row *row, const char *fmt, ...)
{
	va_list ap;

	if (row->note)
		return; /* the first problem is the one shown */
	va_start(ap, fmt);
	row->note = xvasprintf(fmt, ap);
	va_end(ap);
}

/* A diagnostic about collector 'c' (on target 't', if any). */
static void report(struct run *x, struct dryrun_row *row,
		   const struct collector *c, const struct target *t,
		   enum diag_severity sev, struct srcpos p, const char *fmt,
		   ...) PRINTF(7, 8);
static void report(struct run *x, struct dryrun_row *row,
		   const struct collector *c, const struct target *t,
		   enum diag_severity sev, struct srcpos p, const char *fmt,
		   ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (t)
		diags_add(&x->rep->d, sev, p.file ? p.file : c->file, p.line,
			  p.column, "collector '%s': target '%s': %s", c->name,
			  t->name, msg);
	else
		diags_add(&x->rep->d, sev, p.file ? p.file : c->file, p.line,
			  p.column, "collector '%s': %s", c->name, msg);
	free(msg);
	bump(row, sev == DIAG_ERROR ? DRYRUN_ERROR : DRYRUN_WARNING);
}

/* The place of byte 'off' of 'sql'; 'exact' false: the variant's start. */
static struct srcpos sql_pos(struct run *x, const struct collector *c,
			     const struct variant *v, const char *sql,
			     size_t off, bool *exact)
{
	const struct source *s = source_of(x, c->file);

	return dryrun_sql_pos(c, v, &x->cfg, sql,
			      ydoc_count_chars(sql, off) + 1, s->text, s->len,
			      exact);
}

/*
 * Checks that need no server: one read-only query (privcheck_statement),
 * SHOW only for pgbouncer. Loading the file already reported a text that
 * fails them; here they run again on the text with its parameters, as the
 * daemon runs it, and a collector that fails is never run.
 */
static void check_offline(struct run *x, size_t ci)
{
	const struct collector *c = &x->qs.v[ci];
	bool bouncer = c->kind == TARGET_PGBOUNCER;
	size_t i;

	for (i = 0; i < c->nvariants; i++) {
		const struct variant *v = &c->variants[i];
		char *sql = collector_sql(c, v, &x->cfg);
		struct err e = ERR_INIT, raw = ERR_INIT;
		size_t off = 0, roff;
		bool exact;

		if (privcheck_statement(sql, bouncer, &off, &e) < 0) {
			x->bad[ci] = true;
			if (privcheck_statement(v->sql, bouncer, &roff, &raw) ==
			    0)
				report(x, NULL, c, NULL, DIAG_ERROR,
				       sql_pos(x, c, v, sql, off, &exact),
				       "with its parameters: %s", e.msg);
		}
		free(sql);
	}
}

static const char *field(const PGresult *r, int code)
{
	const char *s = PQresultErrorField(r, code);

	return s ? s : "";
}

/* What one collector produced on one target, over its databases. */
struct outcome {
	struct dryrun_row *row;
	struct mset *m;
	struct strmap *distinct; /* per label column: value -> NULL */
	size_t nlabelcols;
	bool columns_checked;
	bool failed;
};

/* Report a failed query: PostgreSQL's message at its place in the file. */
static void report_pg_error(struct run *x, struct outcome *oc,
			    const struct collector *c, const struct variant *v,
			    const struct target *t, const char *db,
			    const char *sql, const PGresult *r, double secs,
			    double timeout)
{
	const char *state = field(r, PG_DIAG_SQLSTATE);
	const char *msg = field(r, PG_DIAG_MESSAGE_PRIMARY);
	const char *posf = PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION);
	const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
	const char *hint = PQresultErrorField(r, PG_DIAG_MESSAGE_HINT);
	struct srcpos p = v->pos;
	bool exact = false;
	char where[160] = "", extra[512] = "";
	struct sb m = SB_INIT(0);

	if (posf) {
		size_t pos = strtoul(posf, NULL, 10);
		const struct source *s = source_of(x, c->file);

		p = dryrun_sql_pos(c, v, &x->cfg, sql, pos, s->text, s->len,
				   &exact);
		if (!exact)
			snprintf(where, sizeof(where),
				 " (at character %zu of the query)", pos);
	}
	if (db)
		sb_addf(&m, "in database '%s': ", db);
	oc->failed = true;
	if (!strcmp(state, "57014") && strstr(msg, "statement timeout")) {
		sb_addf(&m,
			"slower than its timeout of %gs: canceled after %.2fs "
			"(raise 'timeout' or make the query cheaper)",
			timeout, secs);
		report(x, oc->row, c, t, DIAG_ERROR, p, "%s", sb_str(&m));
		bump(oc->row, DRYRUN_TIMEOUT);
		set_note(oc->row, "slower than %gs", timeout);
		sb_release(&m);
		return;
	}
	if (!strcmp(state, "25006")) {
		sb_addf(&m,
			"the query tries to write: %s; collectors must only "
			"read (it ran read-only and was rolled back: nothing "
			"changed)",
			msg);
		set_note(oc->row, "writes");
	} else if (!strcmp(state, "25001") || !strcmp(state, "2D000") ||
		   !strcmp(state, "0B000")) {
		sb_addf(&m,
			"%s: a collector must be one query that runs inside "
			"a transaction",
			msg);
		set_note(oc->row, "not a query");
	} else if (!strcmp(state, "42P05") ||
		   strstr(msg, "multiple commands")) {
		sb_adds(&m, "the sql holds more than one statement; a "
			    "collector runs exactly one query");
		set_note(oc->row, "several statements");
	} else if (!strcmp(state, "42501")) {
		sb_addf(&m,
			"%s (SQLSTATE %s; fix: GRANT pg_monitor TO the role, "
			"or GRANT the privilege named)",
			msg, state);
		set_note(oc->row, "privileges");
	} else {
		sb_addf(&m, "%s (SQLSTATE %s)", msg, state);
		set_note(oc->row, "SQLSTATE %s", state);
	}
	sb_adds(&m, where);
	if (detail)
		snprintf(extra, sizeof(extra), "; detail: %s", detail);
	sb_adds(&m, extra);
	if (hint) {
		snprintf(extra, sizeof(extra), "; hint: %s", hint);
		sb_adds(&m, extra);
	}
	report(x, oc->row, c, t, DIAG_ERROR, p, "%s", sb_str(&m));
	sb_release(&m);
}

static bool is_value(const struct metricdef *md)
{
	return md->usage != USAGE_LABEL && md->usage != USAGE_DISCARD;
}

/* Compare the columns and values of 'r' with what 'c' declares. */
static void check_result(struct run *x, struct outcome *oc,
			 const struct collector *c, const struct variant *v,
			 const struct target *t, const PGresult *r)
{
	int i, row, n = PQntuples(r);
	size_t k, li = 0;

	if (!oc->columns_checked) {
		struct sb extra = SB_INIT(0);
		int nextra = 0;

		oc->columns_checked = true;
		/* SHOW returns what it returns: only SQL picks its columns */
		for (i = 0; i < PQnfields(r) && c->kind == TARGET_POSTGRES;
		     i++) {
			if (samples_column_known(c, PQfname(r, i)))
				continue;
			sb_addf(&extra, "%s'%s'", nextra ? ", " : "",
				PQfname(r, i));
			if (!nextra++)
				set_note(oc->row, "undeclared column '%s'",
					 PQfname(r, i));
		}
		if (nextra)
			report(x, oc->row, c, t, DIAG_WARNING, v->pos,
			       "column%s %s %s returned but not declared in "
			       "'metrics' (declare %s, as a label or "
			       "'discard', or leave %s out of the query)",
			       nextra > 1 ? "s" : "", sb_str(&extra),
			       nextra > 1 ? "are" : "is",
			       nextra > 1 ? "them" : "it",
			       nextra > 1 ? "them" : "it");
		sb_release(&extra);
		for (k = 0; k < c->nmetrics; k++) {
			const struct metricdef *md = &c->metrics[k];

			if (md->usage == USAGE_DISCARD || md->has_const_value ||
			    md->optional || samples_metric_column(r, md) >= 0)
				continue;
			report(x, oc->row, c, t, DIAG_ERROR, md->pos,
			       "column '%s' is declared but the query does "
			       "not return it",
			       md->column);
			set_note(oc->row, "column '%s' missing", md->column);
			oc->failed = true;
		}
	}
	for (k = 0; k < c->nmetrics; k++) {
		const struct metricdef *md = &c->metrics[k];
		int col = samples_metric_column(r, md);

		if (md->usage == USAGE_LABEL && col >= 0) {
			for (row = 0; row < n; row++)
				strmap_set(&oc->distinct[li],
					   PQgetvalue(r, row, col), NULL);
			li++;
			continue;
		}
		if (md->usage == USAGE_LABEL)
			li++;
		if (!is_value(md) || col < 0 || md->nmap ||
		    md->has_const_value || md->usage == USAGE_INFO ||
		    md->usage == USAGE_HISTOGRAM ||
		    md->transform != TRANSFORM_NONE)
			continue;
		for (row = 0; row < n; row++) {
			const char *val = PQgetvalue(r, row, col);
			double d;

			if (PQgetisnull(r, row, col) ||
			    pgvalue_parse(val, PQftype(r, col), &d) == 0)
				continue;
			report(x, oc->row, c, t, DIAG_ERROR, md->pos,
			       "column '%s' is not numeric: row %d holds "
			       "'%.40s' (use it as a label, or map its values "
			       "with 'values')",
			       md->column, row + 1, val);
			set_note(oc->row, "column '%s' not numeric",
				 md->column);
			oc->failed = true;
			break;
		}
	}
}

/*
 * Run variant 'v' of 'c' on 'pc' inside BEGIN READ ONLY ... ROLLBACK (the
 * whole text as it is for pgbouncer), check its result and add its series
 * to oc->m. Returns false when the session is no longer usable.
 */
static bool run_one(struct run *x, struct outcome *oc, struct target *t,
		    struct pgconn *pc, const struct collector *c,
		    const struct variant *v, const char *db)
{
	bool bouncer = t->cfg->kind == TARGET_PGBOUNCER, broken, ok = true;
	double timeout = runner_timeout(c, &x->cfg);
	char *sql = collector_sql(c, v, &x->cfg);
	PGresult *r = NULL, *failed = NULL;
	double start, secs;
	char set[64];
	struct err e = ERR_INIT;
	size_t dropped = 0;

	if (!bouncer) {
		/* 0 means no limit, as in the config; else 1 ms at least */
		snprintf(set, sizeof(set), "SET LOCAL statement_timeout = %ld",
			 timeout > 0 && lround(timeout * 1000) == 0
				 ? 1
				 : lround(timeout * 1000));
		r = target_exec(pc->conn, "BEGIN READ ONLY", false,
				clock_now() + 10, &broken, NULL, &e);
		if (!r)
			goto lost;
		PQclear(r);
		r = target_exec(pc->conn, set, false, clock_now() + 10, &broken,
				NULL, &e);
		if (!r)
			goto lost;
		PQclear(r);
	}
	start = clock_now();
	/* the engine's own path: cancel past the deadline, refuse COPY */
	r = target_exec(pc->conn, sql, bouncer, start + timeout + 5, &broken,
			&failed, &e);
	secs = clock_now() - start;
	if (oc->row->seconds < 0)
		oc->row->seconds = 0;
	oc->row->seconds += secs;
	if (failed && !broken) {
		report_pg_error(x, oc, c, v, t, db, sql, failed, secs, timeout);
	} else if (!r) {
		report(x, oc->row, c, t, DIAG_ERROR, v->pos, "%s%s%s%s",
		       db ? "in database '" : "", db ? db : "", db ? "': " : "",
		       e.msg);
		oc->failed = true;
		ok = false;
		goto out;
	} else if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		report(x, oc->row, c, t, DIAG_ERROR, v->pos,
		       "the sql is a %s command, not a query returning rows",
		       PQcmdStatus(r));
		set_note(oc->row, "not a query");
		oc->failed = true;
	} else {
		struct rowopts ro = {0};
		struct err warn = ERR_INIT;
		/* a pivot's checks are of the row it makes, as the daemon sees
		 */
		PGresult *pv = samples_pivot(c, r, &e);
		const PGresult *rows = pv ? pv : r;
		bool failed_before = oc->failed;

		if (oc->row->rows < 0)
			oc->row->rows = 0;
		oc->row->rows += PQntuples(r);
		if (!err_isset(&e))
			check_result(x, oc, c, v, t, rows);
		ro.datadir = runner_datadir(t);
		ro.now = clock_now();
		ro.cfg = t->gcfg;
		samples_from_rows_ex(c, rows,
				     c->scope == SCOPE_DATABASE ? db : NULL,
				     SIZE_MAX, &ro, oc->m, &dropped, &e, &warn);
		PQclear(pv);
		/*
		 * what the engine fails on (a pivot or histogram's columns),
		 * unless the checks above already said why, in more detail
		 */
		if (err_isset(&e) && oc->failed == failed_before) {
			report(x, oc->row, c, t, DIAG_ERROR, v->pos, "%s",
			       e.msg);
			oc->failed = true;
		}
		if (err_isset(&warn))
			report(x, oc->row, c, t, DIAG_WARNING, v->pos, "%s",
			       warn.msg);
		if (dropped)
			report(x, oc->row, c, t, DIAG_WARNING, v->pos,
			       "%zu series dropped as duplicates (rows with "
			       "the same label values)",
			       dropped);
	}
	if (!bouncer && PQtransactionStatus(pc->conn) != PQTRANS_INTRANS &&
	    PQtransactionStatus(pc->conn) != PQTRANS_INERROR) {
		report(x, oc->row, c, t, DIAG_ERROR, v->pos,
		       "the query ended the read-only transaction; a "
		       "collector must be one query");
		oc->failed = true;
	}
out:
	PQclear(r);
	PQclear(failed);
	r = NULL;
	if (!bouncer && ok) {
		/* always: nothing a collector did may last */
		err_clear(&e);
		r = target_exec(pc->conn, "ROLLBACK", false, clock_now() + 10,
				&broken, NULL, &e);
		ok = r && PQtransactionStatus(pc->conn) == PQTRANS_IDLE;
		PQclear(r);
	}
	free(sql);
	return ok;
lost:
	/* the message is redacted: libpq's may quote connection parameters */
	report(x, oc->row, c, t, DIAG_ERROR, v->pos,
	       "cannot start a read-only transaction: %s", e.msg);
	oc->failed = true;
	free(sql);
	return false;
}

static bool has_extbounds(const struct collector *c)
{
	size_t i;

	for (i = 0; i < c->nvariants; i++)
		if (c->variants[i].next)
			return true;
	return false;
}

/* Why 'c' does not run on 't', or GATE_RUNS; '*v' gets the variant. */
static enum gate_reason gate(struct run *x, struct target *t, struct pgconn *pc,
			     const struct collector *c,
			     const struct variant **v, struct dryrun_row *row)
{
	const char *req;
	enum gate_reason why;

	why = gate_check(t, pc, c, clock_now() + 10, v, &req);
	if (*v)
		row->variant = (int)(*v - c->variants) + 1;
	if (why == GATE_RUNS)
		return why;
	if (why == GATE_TAGS) {
		set_note(row, "tags: the target has none of the collector's");
	} else if (why == GATE_ROLE) {
		set_note(row, "role: runs on %s only",
			 c->role == ROLE_PRIMARY ? "primaries" : "replicas");
	} else if (why == GATE_VERSION) {
		set_note(row, "version: no variant for %d%s", t->facts.version,
			 has_extbounds(c) ? " and its extension versions" : "");
	} else if (!strncmp(req, "setting:", 8)) {
		report(x, row, c, t, DIAG_WARNING, c->pos,
		       "requires %s, which the server does not have; "
		       "the collector is skipped there",
		       req);
		set_note(row, "requires %s", req);
	} else {
		report(x, row, c, t, DIAG_WARNING, c->pos,
		       "requires extension '%s', which is not installed in "
		       "database '%s'; the collector is skipped there (fix: "
		       "CREATE EXTENSION %s)",
		       req, t->main_db ? t->main_db : "(default)", req);
		set_note(row, "requires extension '%s'", req);
	}
	return why;
}

/* Report what the role lacks for 'sql'; true when the query would fail. */
static bool check_privileges(struct run *x, struct dryrun_row *row,
			     struct target *t, struct pgconn *pc,
			     const struct collector *c, const struct variant *v,
			     const char *sql)
{
	struct privcheck pk = PRIVCHECK_INIT;
	struct err e = ERR_INIT;
	size_t i;
	bool fails;

	if (privcheck_collector(t, pc, sql, clock_now() + 10, &pk, &e) < 0) {
		report(x, row, c, t, DIAG_WARNING, v->pos,
		       "privileges not checked: %s", e.msg);
		privcheck_release(&pk);
		return false;
	}
	if (c->scope == SCOPE_DATABASE) {
		err_clear(&e);
		if (privcheck_databases(t, pc, clock_now() + 10, &pk, &e) < 0)
			report(x, row, c, t, DIAG_WARNING, c->pos,
			       "CONNECT privileges not checked: %s", e.msg);
	}
	for (i = 0; i < pk.n; i++) {
		const struct privproblem *pp = &pk.v[i];
		bool exact;
		struct srcpos p =
			pp->off ? sql_pos(x, c, v, sql, pp->off, &exact)
				: c->pos;

		report(x, row, c, t, pp->severity, p, "%s (fix: %s)", pp->msg,
		       pp->fix);
		if (pp->severity == DIAG_ERROR)
			set_note(row, "privileges");
	}
	fails = pk.nerrors > 0;
	privcheck_release(&pk);
	return fails;
}

static void finish_outcome(struct run *x, struct outcome *oc,
			   const struct collector *c, struct target *t)
{
	size_t k, li = 0;
	size_t max = runner_max_series(c, &x->cfg);

	oc->row->max_series = max;
	if (oc->row->rows >= 0) {
		oc->row->series = oc->m->nseries;
		oc->row->labels =
			xcalloc(oc->nlabelcols + 1, sizeof(*oc->row->labels));
		for (k = 0; k < c->nmetrics; k++) {
			if (c->metrics[k].usage != USAGE_LABEL)
				continue;
			oc->row->labels[li].name =
				xstrdup(c->metrics[k].column);
			oc->row->labels[li].values = oc->distinct[li].n;
			li++;
		}
		oc->row->nlabels = li;
		if (oc->m->nseries > max) {
			report(x, oc->row, c, t, DIAG_WARNING, c->pos,
			       "produces %zu series, more than max_series "
			       "(%zu): the exporter would drop %zu of them",
			       oc->m->nseries, max, oc->m->nseries - max);
			set_note(oc->row, "%zu series > max_series %zu",
				 oc->m->nseries, max);
		}
	}
	if (x->all && oc->m) {
		struct label l[32];
		size_t nl = 0;

		if (x->have_cfg) {
			l[nl].name = (char *)"target";
			l[nl++].value = t->name;
			for (k = 0; k < t->cfg->nlabels && nl < ARRAY_SIZE(l);
			     k++)
				l[nl++] = t->cfg->labels[k];
		}
		mset_merge(x->all, oc->m, l, nl);
	}
	for (k = 0; k < oc->nlabelcols; k++)
		strmap_release(&oc->distinct[k]);
	free(oc->distinct);
	mset_free(oc->m);
}

/* Run collector 'c' on target 't' (session 'pc' to its main database). */
static bool check_collector(struct run *x, struct target *t,
			    struct pgconn **pcp, size_t ci)
{
	const struct collector *c = &x->qs.v[ci];
	struct dryrun_row *row = dryrun_add_row(x->rep, c->name, t->name);
	struct outcome oc = {0};
	const struct variant *v;
	char *sql = NULL;
	size_t k;
	bool alive = true;

	row->nvariants = (int)c->nvariants;
	row->max_series = runner_max_series(c, &x->cfg);
	if (x->bad[ci]) {
		row->status = DRYRUN_ERROR;
		set_note(row, "not run: see the errors above");
		return true;
	}
	if (gate(x, t, *pcp, c, &v, row) != GATE_RUNS) {
		row->status = DRYRUN_SKIPPED;
		return true;
	}
	sql = collector_sql(c, v, &x->cfg);
	if (check_privileges(x, row, t, *pcp, c, v, sql)) {
		free(sql);
		return true;
	}
	oc.row = row;
	oc.m = mset_new();
	for (k = 0; k < c->nmetrics; k++)
		if (c->metrics[k].usage == USAGE_LABEL)
			oc.nlabelcols++;
	oc.distinct = xcalloc(oc.nlabelcols + 1, sizeof(*oc.distinct));
	if (c->scope == SCOPE_DATABASE && t->cfg->kind == TARGET_POSTGRES) {
		struct err e = ERR_INIT;
		char **dbs = target_databases(t, &e);

		for (char **db = dbs; db && *db; db++) {
			struct pgconn *pc;

			err_clear(&e);
			pc = target_acquire(t, *db, clock_now() + 10, &e);
			if (!pc) {
				report(x, row, c, t, DIAG_ERROR, c->pos,
				       "in database '%s': %s", *db, e.msg);
				continue;
			}
			target_release(t, pc,
				       !run_one(x, &oc, t, pc, c, v, *db));
		}
		if (!dbs)
			report(x, row, c, t, DIAG_ERROR, c->pos, "%s", e.msg);
		target_free_list(dbs);
	} else {
		alive = run_one(x, &oc, t, *pcp, c, v, NULL);
	}
	finish_outcome(x, &oc, c, t);
	free(sql);
	return alive;
}

static void check_target(struct run *x, struct target *t)
{
	struct err e = ERR_INIT;
	struct pgconn *pc;
	char version[128] = "";
	size_t i;

	pc = target_acquire(t, NULL, clock_now() + x->cfg.connect_timeout + 1,
			    &e);
	if (pc && target_refresh_facts(t, pc, clock_now() + 10, &e) < 0) {
		target_release(t, pc, true);
		pc = NULL;
	}
	if (!pc) {
		char *fix = NULL;
		const char *user = NULL;

		for (i = 0; i < t->nparams; i++)
			if (!strcmp(t->keys[i], "user"))
				user = t->vals[i];
		if (t->cfg->kind == TARGET_PGBOUNCER)
			fix = privcheck_pgbouncer_fix(e.msg, user);
		diags_add(&x->rep->d, DIAG_ERROR,
			  t->cfg->pos.file ? t->cfg->pos.file : "environment",
			  t->cfg->pos.line, t->cfg->pos.column,
			  "target '%s': %s%s%s%s", t->name, e.msg,
			  fix ? " (fix: " : "", fix ? fix : "", fix ? ")" : "");
		dryrun_add_target(x->rep, t->name,
				  target_kind_names[t->cfg->kind], NULL, 0,
				  e.msg);
		free(fix);
		for (i = 0; i < x->qs.n; i++) {
			struct dryrun_row *row;

			if (x->qs.v[i].kind != t->cfg->kind)
				continue;
			row = dryrun_add_row(x->rep, x->qs.v[i].name, t->name);
			row->status = DRYRUN_ERROR;
			row->nvariants = (int)x->qs.v[i].nvariants;
			set_note(row, "target unreachable");
		}
		return;
	}
	if (t->facts.version_text) {
		const char *on = strstr(t->facts.version_text, " on ");
		int n = on ? (int)(on - t->facts.version_text)
			   : (int)strlen(t->facts.version_text);

		snprintf(version, sizeof(version), "%.*s", n,
			 t->facts.version_text);
	}
	dryrun_add_target(x->rep, t->name, target_kind_names[t->cfg->kind],
			  *version ? version : NULL, t->facts.version, NULL);
	for (i = 0; i < x->qs.n; i++) {
		if (x->qs.v[i].kind != t->cfg->kind)
			continue;
		if (!pc) {
			struct dryrun_row *row = dryrun_add_row(
				x->rep, x->qs.v[i].name, t->name);

			row->status = DRYRUN_ERROR;
			set_note(row, "session lost");
			continue;
		}
		size_t from = x->rep->d.n;
		bool alive = check_collector(x, t, &pc, i);

		/* one collector's problems read top to bottom */
		ydoc_sort_diags(&x->rep->d, from);
		if (!alive) {
			target_release(t, pc, true);
			err_clear(&e);
			pc = target_acquire(t, NULL, clock_now() + 10, &e);
		}
	}
	if (pc)
		target_release(t, pc, false);
}

/* ---- loading ------------------------------------------------------- */

/* Is a target given by the environment (not only libpq's defaults)? */
static bool env_has_target(void)
{
	static const char *const vars[] = {
		"DATABASE_URL",		"DATA_SOURCE_NAME", "DATA_SOURCE_URI",
		"DATA_SOURCE_URI_FILE", "PGHOST",	    "PGPORT",
		"PGDATABASE",		"PGSERVICE",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vars); i++)
		if (getenv(vars[i]))
			return true;
	return false;
}

static void load(struct run *x)
{
	const struct cli *o = x->o;
	struct diags *d = &x->rep->d;
	struct err e = ERR_INIT;
	size_t i;
	bool cfg_ok = true;

	/* the web config the daemon would refuse to start with */
	if (o->web_config)
		webconfig_free(webconfig_load(o->web_config, d));
	if (o->config_file) {
		if (config_load(&x->cfg, o->config_file, d) < 0) {
			cfg_ok = false;
			config_init(&x->cfg);
		} else {
			x->have_cfg = true;
		}
	} else {
		config_init(&x->cfg);
		if (!o->offline && (env_has_target() || o->pgbouncer_dsn))
			(void)!runtime_env_targets(&x->cfg, o, d);
	}
	if (o->nqueries || cfg_ok)
		(void)!runtime_load_queries(&x->qs, o, &x->cfg, d);
	if (x->have_cfg)
		querydef_check_overrides(&x->qs, &x->cfg, d);
	x->targets = xcalloc(x->cfg.ntargets + 1, sizeof(*x->targets));
	for (i = 0; i < x->cfg.ntargets && !o->offline; i++) {
		struct target *t;

		err_clear(&e);
		t = target_new(&x->cfg.targets[i], &x->cfg, &e);
		if (!t) {
			const struct srcpos *p = &x->cfg.targets[i].pos;

			diags_add(d, DIAG_ERROR,
				  p->file ? p->file : "environment", p->line,
				  p->column, "%s", e.msg);
			continue;
		}
		x->targets[x->ntargets++] = t;
	}
}

int dryrun_main(const struct cli *o)
{
	struct dryrun_report rep = DRYRUN_REPORT_INIT;
	struct run x = {0};
	struct sb out = SB_INIT(0), sum = SB_INIT(0);
	bool json = o->output && !strcmp(o->output, "json");
	size_t i;
	int rc;

	x.o = o;
	x.rep = &rep;
	load(&x);
	rep.ncollectors = x.qs.n;
	x.bad = xcalloc(x.qs.n + 1, sizeof(*x.bad));
	for (i = 0; i < x.qs.n; i++)
		check_offline(&x, i);
	rep.offline = o->offline || !x.ntargets;
	if (o->show_metrics && !rep.offline)
		x.all = mset_new();
	if (rep.offline) {
		for (i = 0; i < x.qs.n; i++) {
			struct dryrun_row *row =
				dryrun_add_row(&rep, x.qs.v[i].name, NULL);

			row->nvariants = (int)x.qs.v[i].nvariants;
			row->max_series = runner_max_series(&x.qs.v[i], &x.cfg);
			row->status = x.bad[i] ? DRYRUN_ERROR : DRYRUN_OK;
		}
	}
	for (i = 0; i < x.ntargets && !rep.offline; i++)
		check_target(&x, x.targets[i]);
	rep.ntargets = rep.offline ? 0 : x.ntargets;
	if (x.all) {
		struct mset *sets[1] = {x.all};
		struct sb m = SB_INIT(0);

		expfmt_render(&m, sets, 1, EXPFMT_TEXT);
		rep.metrics = sb_detach(&m, NULL);
	}

	diags_print(&rep.d, stderr);
	if (json) {
		dryrun_render_json(&rep, &out);
	} else {
		dryrun_render_table(&rep, &out);
		if (rep.metrics)
			sb_addf(&out, "\n%s", rep.metrics);
	}
	fputs(sb_str(&out), stdout);
	fflush(stdout);
	if (!o->offline && !x.ntargets && !rep.d.nerrors)
		fputs("no target configured (--config, DATA_SOURCE_NAME or "
		      "DATABASE_URL): checked the files only\n",
		      stderr);
	dryrun_render_summary(&rep, &sum);
	fputs(sb_str(&sum), stderr);
	rc = rep.d.nerrors ? 1 : 0;

	sb_release(&out);
	sb_release(&sum);
	mset_free(x.all);
	for (i = 0; i < x.ntargets; i++) {
		collect_forget(x.targets[i]);
		target_free(x.targets[i]);
	}
	free(x.targets);
	for (i = 0; i < x.nsrc; i++) {
		free(x.src[i].file);
		free(x.src[i].text);
	}
	free(x.src);
	free(x.bad);
	queryset_release(&x.qs);
	config_free(&x.cfg);
	dryrun_report_release(&rep);
	return rc;
}
