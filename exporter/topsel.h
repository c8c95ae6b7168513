/*
 * The top selection across databases ("top: {..., across: databases}"):
 * after a collection ran a per-database collector in every database (or
 * served it from its ttl cache), the n rows with the largest 'by' among
 * all of them, plus the rows whose key made that top within 'sticky'
 * seconds. A row is the samples of one result row: those with the same
 * datname and key label values. Pure: no server, no lock.
 */
#ifndef TOPSEL_H
#define TOPSEL_H

#include <stddef.h>
#include "config.h"
#include "metrics.h"
#include "querydef.h"
#include "strmap.h"

/* The n of c's top: its count, or its parameter's value under 'cfg'. */
size_t topsel_n(const struct collector *c, const struct config *cfg);

/*
 * Add to 'out' the samples of the 'nparts' sets 'parts' (c's samples of
 * every database, a set per database, not merged first; NULL ones are
 * skipped) that
 * belong to the n rows with the largest value of the first of c->top.bys
 * each row has (a row with none of them is not chosen), or to a row whose key
 * is live in 'sticky' (key -> expiry, a malloc'ed double, or NULL). The
 * top rows' keys are made live until now + c->top.sticky, expired ones
 * pruned. Ties go to the key first in byte order, so a page is stable.
 * 'dbs', when not NULL, is set to the databases that hold a kept row
 * (datname -> non-NULL; release it with strmap_release).
 * Returns the number of samples left out, or kept but already in 'out'.
 */
size_t topsel_across(const struct collector *c, struct mset *const *parts,
		     size_t nparts, size_t n, struct strmap *sticky, double now,
		     struct mset *out, struct strmap *dbs);

#endif
