/*
 * The runner: one collector on one session, into samples.
 */
#include <stdlib.h>
#include <string.h>
#include "runner.h"
#include "samples.h"
#include "sb.h"
#include "xalloc.h"

double runner_timeout(const struct collector *c, const struct config *gcfg)
{
	return c->timeout > 0 ? c->timeout : gcfg->statement_timeout;
}

const char *runner_datadir(const struct target *t)
{
	return t->cfg->data_directory
		       ? t->cfg->data_directory
		       : target_facts_collecting(t)->data_directory;
}

size_t runner_max_series(const struct collector *c, const struct config *gcfg)
{
	return c->max_series ? c->max_series : gcfg->max_series;
}

/* Columns 'res' has that 'c' does not list ("a, b"), or NULL. */
static char *undeclared(const struct collector *c, const PGresult *res)
{
	struct sb list = SB_INIT(512);
	size_t j = 0;
	int i;

	for (i = 0; i < PQnfields(res); i++) {
		const char *name = PQfname(res, i);

		/* the common case first: declared in the order returned */
		if (j < c->nmetrics && !strcmp(c->metrics[j].column, name)) {
			j++;
			continue;
		}
		if (!samples_column_known(c, name))
			sb_addf(&list, "%s%s", list.len ? ", " : "", name);
	}
	if (!list.len) {
		sb_release(&list);
		return NULL;
	}
	return sb_detach(&list, NULL);
}

/* Turn the rows 'res' of job 'j' into r->m (see runner_run); takes 'res'. */
static void convert(const struct runner_job *j, PGresult *res,
		    struct runner_result *r)
{
	const struct collector *c = j->c;
	struct target *t = j->t;
	struct rowopts opts = {0};
	PGresult *pivoted;

	r->queried = true;
	r->nrows = PQntuples(res);
	pivoted = samples_pivot(c, res, &r->e);
	r->pivot_failed = err_isset(&r->e);
	if (pivoted) {
		PQclear(res);
		res = pivoted;
	}
	r->m = mset_new();
	opts.datadir = runner_datadir(t);
	opts.sticky = j->sticky;
	opts.now = j->now;
	opts.cfg = t->gcfg;
	samples_from_rows_ex(c, res, c->scope == SCOPE_DATABASE ? j->db : NULL,
			     j->max_series ? j->max_series
					   : runner_max_series(c, t->gcfg),
			     &opts, r->m, &r->dropped, &r->e, &r->warn);
	r->undeclared = undeclared(c, res);
	if (j->keep)
		r->res = res;
	else
		PQclear(res);
}

void runner_run(const struct runner_job *j, struct runner_result *r)
{
	struct target *t = j->t;
	PGresult *res;
	char *sql = collector_sql(j->c, j->v, t->gcfg);

	if (j->exec)
		res = j->exec(j->exec_arg, sql, &r->broken, &r->e);
	else
		res = target_query(t, j->pc, sql, j->timeout_ms, j->deadline,
				   &r->broken, &r->e);
	free(sql);
	if (res)
		convert(j, res, r);
}

bool runner_run_batch(const struct runner_job *j, size_t n,
		      struct runner_result *r)
{
	struct pgsession_stmt *s = xcalloc(n + 1, sizeof(*s));
	bool broken = false;
	size_t k;

	for (k = 0; k < n; k++) {
		s[k].sql = collector_sql(j[k].c, j[k].v, j[k].t->gcfg);
		s[k].timeout_ms = j[k].timeout_ms;
		s[k].e = (struct err)ERR_INIT;
	}
	if (n)
		target_query_batch(j[0].t, j[0].pc, s, n, j[0].deadline,
				   &broken);
	for (k = 0; k < n; k++) {
		r[k].broken = broken;
		r[k].unanswered = !s[k].answered;
		r[k].timed_out = s[k].timed_out;
		r[k].seconds = s[k].seconds;
		if (err_isset(&s[k].e)) {
			r[k].e = s[k].e;
			PQclear(s[k].res);
		} else if (s[k].res) {
			convert(&j[k], s[k].res, &r[k]);
		} else {
			err_set(&r[k].e, "the server sent no result");
		}
		free((char *)s[k].sql);
	}
	free(s);
	return broken;
}

void runner_result_release(struct runner_result *r)
{
	mset_free(r->m);
	free(r->undeclared);
	PQclear(r->res);
	r->m = NULL;
	r->undeclared = NULL;
	r->res = NULL;
}
