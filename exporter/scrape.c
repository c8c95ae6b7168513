/*
 * One scrape: targets collected in parallel, merged, rendered.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "scrape.h"
#include "collect.h"
#include "selfmetrics.h"
#include "xalloc.h"
#include "compat.h"

#define PAGE_MAX (256u << 20)

struct job {
	struct target *t;
	const struct queryset *qs;
	double deadline;
	struct collection *c;
	pthread_t thread;
	bool started;
};

static void *job_run(void *p)
{
	struct job *j = p;

	j->c = collect_target(j->t, j->qs, j->deadline);
	return NULL;
}

/* Target name first, then its static labels. */
static struct label *target_labels(const struct target *t, size_t *n)
{
	const struct target_config *tc = t->cfg;
	struct label *l = xcalloc(tc->nlabels + 1, sizeof(*l));
	size_t i;

	l[0].name = (char *)"target";
	l[0].value = t->name;
	for (i = 0; i < tc->nlabels; i++)
		l[i + 1] = tc->labels[i];
	*n = tc->nlabels + 1;
	return l;
}

char *scrape_run(const struct runtime *rt, struct target **targets, size_t n,
		 bool label, double deadline, enum expfmt_format fmt,
		 size_t *len)
{
	struct job *jobs = xcalloc(n + 1, sizeof(*jobs));
	struct mset **sets = xcalloc(n + 2, sizeof(*sets));
	struct expfmt_labels *extra = xcalloc(n + 2, sizeof(*extra));
	struct mset *self = mset_new();
	struct sb out = SB_INIT(PAGE_MAX);
	size_t i, nsets = 0;
	char *page = NULL;

	selfmetrics_count_scrape();
	for (i = 0; i < n; i++) {
		jobs[i].t = targets[i];
		jobs[i].qs = &rt->qs;
		jobs[i].deadline = deadline;
	}
	/* one target runs on the request's thread; several in parallel */
	for (i = 0; n > 1 && i < n; i++)
		jobs[i].started = pthread_create(&jobs[i].thread, NULL, job_run,
						 &jobs[i]) == 0;
	for (i = 0; i < n; i++) {
		if (jobs[i].started)
			pthread_join(jobs[i].thread, NULL);
		else
			job_run(&jobs[i]);
	}

	/* target labels are added as the page is rendered, not copied */
	for (i = 0; i < n; i++) {
		if (!jobs[i].c)
			continue;
		if (label)
			extra[nsets].v =
				target_labels(jobs[i].t, &extra[nsets].n);
		sets[nsets++] = jobs[i].c->m;
	}
	selfmetrics_add(self);
	sets[nsets++] = self;
	expfmt_render_labeled(&out, sets, extra, nsets, fmt);
	if (!out.failed)
		page = sb_detach(&out, len);
	sb_release(&out);

	for (i = 0; i < n; i++)
		collection_put(jobs[i].t, jobs[i].c);
	for (i = 0; i < nsets; i++)
		free((struct label *)extra[i].v);
	free(extra);
	mset_free(self);
	free(sets);
	free(jobs);
	return page;
}
