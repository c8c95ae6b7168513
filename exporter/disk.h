/*
 * What SQL cannot see: the bytes a directory tree really occupies on disk,
 * and the size of the filesystem it is on, for pgpulse running beside the
 * server (a sidecar, or on the same host).
 */
#ifndef DISK_H
#define DISK_H

#include "compat.h"
#include "err.h"

/*
 * Allocated bytes of the tree at 'path' (st_blocks * 512 of every entry,
 * as du counts them), not following symlinks and not crossing into other
 * filesystems; a file linked twice counts once. Entries that vanish during
 * the walk (a table dropped) are skipped. Returns 0, or -1 with 'e' set
 * when 'path' itself cannot be read.
 */
int disk_usage(const char *path, double *out, struct err *e) MUST_CHECK;

enum disk_fs_field { DISK_FS_SIZE, DISK_FS_FREE, DISK_FS_AVAIL };

/* Size, free or available bytes of the filesystem holding 'path'. */
int disk_fs(const char *path, enum disk_fs_field which, double *out,
	    struct err *e) MUST_CHECK;

#endif
