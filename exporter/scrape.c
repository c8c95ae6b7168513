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

struct job {
	struct target *t;
	const struct queryset *qs;
	double deadline;
	struct collection *c;
	pthread_t thread;
	bool started;
	bool cut; /* the deadline came first: partial or earlier series */
};

static void *job_run(void *p)
{
	struct job *j = p;

	j->c = collect_target(j->t, j->qs, j->deadline, &j->cut);
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

/*
 * pgpulse_scrape_cut for one target (a set of its own, merged with the
 * target's labels like its series).
 */
static struct mset *cut_set(bool cut)
{
	struct mset *m = mset_new();
	struct family *f;

	f = mset_family(m, "pgpulse_scrape_cut", METRIC_GAUGE,
			"Whether the request's deadline cut this page's "
			"collection of the target short: its series are "
			"partial or from an earlier scrape (pg_up is the last "
			"one known).",
			NULL);
	if (f)
		mset_add(m, f, "", NULL, 0, cut ? 1 : 0, NULL);
	return m;
}

bool scrape_run(const struct runtime *rt, struct target **targets, size_t n,
		bool label, double deadline, enum expfmt_format fmt,
		struct sb *out)
{
	struct job *jobs = xcalloc(n + 1, sizeof(*jobs));
	/* per target its collection and its cut gauge, then the self set */
	struct mset **sets = xcalloc(2 * n + 3, sizeof(*sets));
	struct expfmt_labels *extra = xcalloc(2 * n + 3, sizeof(*extra));
	struct mset **cuts = xcalloc(n + 1, sizeof(*cuts));
	struct mset *self = mset_new();
	size_t i, nsets = 0, ncuts = 0;
	bool cut = false;

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
		if (jobs[i].c) {
			if (label)
				extra[nsets].v = target_labels(jobs[i].t,
							       &extra[nsets].n);
			sets[nsets++] = jobs[i].c->m;
		}
		if (label) {
			extra[nsets].v =
				target_labels(jobs[i].t, &extra[nsets].n);
			sets[nsets++] = cuts[ncuts++] = cut_set(jobs[i].cut);
		}
		cut |= jobs[i].cut;
	}
	if (!label)
		sets[nsets++] = cuts[ncuts++] = cut_set(cut);
	selfmetrics_add(self);
	sets[nsets++] = self;
	expfmt_render_labeled(out, sets, extra, nsets, fmt);

	for (i = 0; i < n; i++)
		collection_put(jobs[i].t, jobs[i].c);
	for (i = 0; i < nsets; i++)
		free((struct label *)extra[i].v);
	for (i = 0; i < ncuts; i++)
		mset_free(cuts[i]);
	free(cuts);
	free(extra);
	mset_free(self);
	free(sets);
	free(jobs);
	return !out->failed;
}
