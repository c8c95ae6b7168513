/*
 * One scrape: collect the targets in parallel, each within the deadline,
 * add target labels, the exporter's own metrics, and render the page.
 */
#ifndef SCRAPE_H
#define SCRAPE_H

#include <stdbool.h>
#include <stddef.h>
#include "expfmt.h"
#include "runtime.h"

/*
 * Collect 'targets' (n of them, of snapshot 'rt') by 'deadline' (monotonic
 * seconds) and render them with the exporter's own metrics. 'label' adds
 * target="<name>" and each target's static labels to its series. The page
 * is appended to 'out' (made with SCRAPE_PAGE_MAX as its cap; a flush set
 * on it gets the page in pieces, the last one left in it). Returns false
 * when the page would exceed the cap.
 */
#define SCRAPE_PAGE_MAX (256u << 20)
bool scrape_run(const struct runtime *rt, struct target **targets, size_t n,
		bool label, double deadline, enum expfmt_format fmt,
		struct sb *out);

#endif
