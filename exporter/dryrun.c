/*
 * pgpulse --dry-run: every problem of the config and query files, with its
 * position, then a summary line.
 */
#include <stdio.h>
#include "dryrun.h"
#include "diag.h"
#include "runtime.h"
#include "compat.h"

int dryrun_main(const struct cli *o)
{
	struct diags d = DIAGS_INIT;
	struct runtime *rt = runtime_build(o, &d);
	int rc;

	diags_print(&d, stderr);
	if (rt)
		printf("%zu collectors, %zu targets: ", rt->qs.n, rt->ntargets);
	printf("%zu errors, %zu warnings\n", d.nerrors, d.nwarnings);
	rc = d.nerrors ? 1 : 0;
	runtime_free(rt);
	diags_release(&d);
	return rc;
}
