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
	return t->cfg->data_directory ? t->cfg->data_directory
				      : t->facts.data_directory;
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

void runner_run(const struct runner_job *j, struct runner_result *r)
{
	const struct collector *c = j->c;
	struct target *t = j->t;
	struct rowopts opts = {0};
	PGresult *res, *pivoted;
	char *sql = collector_sql(c, j->v, t->gcfg);

	if (j->exec)
		res = j->exec(j->exec_arg, sql, &r->broken, &r->e);
	else
		res = target_query(t, j->pc, sql, j->timeout_ms, j->deadline,
				   &r->broken, &r->e);
	free(sql);
	if (!res)
		return;
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

void runner_result_release(struct runner_result *r)
{
	mset_free(r->m);
	free(r->undeclared);
	PQclear(r->res);
	r->m = NULL;
	r->undeclared = NULL;
	r->res = NULL;
}
