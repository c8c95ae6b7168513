/*
 * pgpulse --dry-run: check the config and query files, and run every
 * collector read-only on the targets, reporting every problem.
 */
#ifndef DRYRUN_H
#define DRYRUN_H

#include "cli.h"

/* Returns the process exit code: 0 no errors, 1 errors. */
int dryrun_main(const struct cli *o);

#endif
