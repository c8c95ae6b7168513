/*
 * The exporter's own metrics: pgpulse_* (build, scrapes, reloads) and the
 * process_* family as Prometheus client libraries expose it.
 */
#ifndef SELFMETRICS_H
#define SELFMETRICS_H

#include "metrics.h"

/* Count one /metrics or /probe request. Thread-safe. */
void selfmetrics_count_scrape(void);
/* A request with basic auth credentials that did not match. */
void selfmetrics_count_auth_failure(void);
/* Note the process start (call once from main). */
void selfmetrics_init(void);
/* Add pgpulse_build_info, pgpulse_scrapes_total, reload and process_*. */
void selfmetrics_add(struct mset *m);

#endif
