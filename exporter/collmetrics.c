/*
 * The self metrics of one collection.
 */
#include "collmetrics.h"
#include "compat.h"

/* Duration, success, skipped and dropped series of each collector. */
static void add_collectors(struct mset *m, const struct collstats *s)
{
	struct family *dur, *ok, *skipped, *dropped;
	struct label l[2];
	size_t i;

	dur = mset_family(m, "pgpulse_scrape_duration_seconds", METRIC_GAUGE,
			  "Time the collector took in the last scrape "
			  "(of the run that produced a cached result).",
			  NULL);
	ok = mset_family(m, "pgpulse_scrape_success", METRIC_GAUGE,
			 "Whether the collector succeeded in the last scrape.",
			 NULL);
	skipped = mset_family(m, "pgpulse_collector_skipped", METRIC_GAUGE,
			      "Collectors that do not run on this target, "
			      "with the reason (version, role, tags, "
			      "requires, privileges, unsafe).",
			      NULL);
	dropped = mset_family(m, "pgpulse_series_dropped_total", METRIC_COUNTER,
			      "Series dropped by the collector: duplicates, "
			      "invalid values, or past max_series.",
			      NULL);
	l[0].name = (char *)"collector";
	for (i = 0; i < s->qs->n; i++) {
		const struct run *r = &s->runs[i];

		l[0].value = s->qs->v[i].name;
		if (r->skip) {
			l[1].name = (char *)"reason";
			l[1].value = (char *)gate_reason_text(r->skip);
			mset_add(m, skipped, "", l, 2, 1, NULL);
			continue;
		}
		if (!r->attempted)
			continue;
		mset_add(m, dur, "", l, 1, r->seconds, NULL);
		mset_add(m, ok, "", l, 1, r->failed ? 0 : 1, NULL);
		mset_add(m, dropped, "", l, 1, (double)s->dropped[i], NULL);
	}
}

/* The pool's connections, the collection's time and the cache's size. */
static void add_target(struct mset *m, const struct collstats *s)
{
	const struct pool_stats *st = &s->pool;
	const struct {
		const char *name, *help;
		enum metric_type type;
		double v;
	} rows[] = {
		{"pgpulse_connections_max",
		 "Connections pgpulse may open to "
		 "the target (connections_per_target).",
		 METRIC_GAUGE, st->max},
		{"pgpulse_connections_open",
		 "Connections pgpulse has open to "
		 "the target.",
		 METRIC_GAUGE, st->open},
		{"pgpulse_connections_busy",
		 "Connections of pgpulse in use by "
		 "a collection.",
		 METRIC_GAUGE, st->busy},
		{"pgpulse_connection_attempts_total",
		 "Connections pgpulse "
		 "tried to open to the target.",
		 METRIC_COUNTER, (double)st->attempts},
		{"pgpulse_connection_failures_total",
		 "Connection attempts "
		 "that failed.",
		 METRIC_COUNTER, (double)st->failures},
		{"pgpulse_connect_duration_seconds",
		 "Time the last connection "
		 "attempt took.",
		 METRIC_GAUGE, st->last_connect_seconds},
		{"pgpulse_collection_duration_seconds",
		 "Time the whole "
		 "collection of the target took.",
		 METRIC_GAUGE, s->seconds},
		{"pgpulse_cache_entries",
		 "Results held for collectors with a ttl and per-database "
		 "collectors (one per collector and database).",
		 METRIC_GAUGE, (double)s->cached},
		{"pgpulse_target_series_budget",
		 "The most series the target may put on a page "
		 "(limits.target_max_series; 0: no budget).",
		 METRIC_GAUGE, (double)s->budget},
		{"pgpulse_target_series_cut",
		 "Series the series budget left out of this page: "
		 "those of the smallest databases first.",
		 METRIC_GAUGE, (double)s->cut.series},
		{"pgpulse_target_databases_cut",
		 "Databases whose per-database series the series "
		 "budget left out of this page.",
		 METRIC_GAUGE, (double)s->cut.databases},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		struct family *f = mset_family(m, rows[i].name, rows[i].type,
					       rows[i].help, NULL);

		if (f)
			mset_add(m, f, "", NULL, 0, rows[i].v, NULL);
	}
}

/* Whether the role is a superuser or a pg_monitor member. */
static void add_role(struct mset *m, const struct collstats *s)
{
	struct family *f;

	if (s->kind != TARGET_POSTGRES || !s->facts->version)
		return;
	f = mset_family(m, "pgpulse_role_superuser", METRIC_GAUGE,
			"Whether pgpulse's role is a superuser (it "
			"should be a pg_monitor member instead).",
			NULL);
	if (f)
		mset_add(m, f, "", NULL, 0, s->facts->superuser, NULL);
	f = mset_family(m, "pgpulse_role_pg_monitor", METRIC_GAUGE,
			"Whether pgpulse's role is a member of "
			"pg_monitor.",
			NULL);
	if (f)
		mset_add(m, f, "", NULL, 0, s->facts->pg_monitor, NULL);
}

/* When each database was last collected: one series per database. */
static void add_databases(struct mset *m, const struct collstats *s)
{
	struct family *f;
	struct label l = {(char *)"datname", NULL};

	if (!s->ndbs)
		return;
	f = mset_family(m, "pgpulse_database_last_collected_timestamp_seconds",
			METRIC_GAUGE,
			"When pgpulse last visited the database and ran its "
			"per-database collectors (Unix time).",
			NULL);
	for (size_t i = 0; f && i < s->ndbs; i++) {
		l.value = (char *)s->dbnames[i];
		mset_add(m, f, "", &l, 1, s->collected[i], NULL);
	}
	if (!(s->bound > 0))
		return;
	f = mset_family(m, "pgpulse_database_staleness_bound_seconds",
			METRIC_GAUGE,
			"How old a database's last collection may get by the "
			"visit rule (database_logins_per_scrape, "
			"database_max_staleness, ttl).",
			NULL);
	if (f)
		mset_add(m, f, "", NULL, 0, s->bound, NULL);
}

void collmetrics_add(struct mset *m, const struct collstats *s)
{
	add_collectors(m, s);
	add_target(m, s);
	add_role(m, s);
	add_databases(m, s);
}
