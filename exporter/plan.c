/*
 * The deadline plan of a collection: statement timeouts under a deadline
 * and the two-lane deal.
 */
#include <stdlib.h>
#include <string.h>
#include "plan.h"
#include "xalloc.h"

double plan_reserve(double last)
{
	return last > PLAN_EST_FLOOR ? last : PLAN_EST_FLOOR;
}

int plan_timeout_ms(double want, double left, double others, bool *limited)
{
	/* with a quarter more for them: last time's times are no promise */
	others *= 1.25;
	/* keep a tenth of what is left for this one, whatever the others */
	if (others > left * 0.9)
		others = left * 0.9;
	left -= others > 0 ? others : 0;
	/* a timeout of 0 is no limit of its own: the deadline still is */
	*limited = want <= 0 || left < want;
	if (*limited)
		want = left;
	return want <= 0 ? 0 : (int)(want * 1000) + (want < 0.001);
}

bool plan_deal(const double *last, const size_t *all, size_t n, size_t *a,
	       size_t *na, size_t *b, size_t *nb)
{
	size_t *byc, k, j, max = 0;
	double total = 0, ta = 0, tb = 0;
	bool *tob;

	for (k = 0; k < n; k++) {
		total += last[all[k]];
		if (all[k] > max)
			max = all[k];
	}
	if (total < PLAN_SHARE_ABOVE || n < 2)
		return false;
	byc = xmalloc(n * sizeof(*byc));
	tob = xcalloc(max + 1, sizeof(*tob));
	memcpy(byc, all, n * sizeof(*byc));
	/* insertion sort by time taken, longest first: n is small */
	for (k = 1; k < n; k++)
		for (j = k; j > 0 && last[byc[j]] > last[byc[j - 1]]; j--) {
			size_t tmp = byc[j];

			byc[j] = byc[j - 1];
			byc[j - 1] = tmp;
		}
	for (k = 0; k < n; k++) {
		tob[byc[k]] = tb < ta;
		*(tob[byc[k]] ? &tb : &ta) += last[byc[k]];
	}
	*na = *nb = 0;
	for (k = 0; k < n; k++) {
		if (tob[all[k]])
			b[(*nb)++] = all[k];
		else
			a[(*na)++] = all[k];
	}
	free(byc);
	free(tob);
	return true;
}
