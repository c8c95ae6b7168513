/*
 * Allocated bytes of directory trees and filesystem capacity, read from
 * the filesystem as du and df would.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include "disk.h"
#include "xalloc.h"
#include "compat.h"

#define MAX_DEPTH 64

/* Inodes of multiply linked files already counted. */
struct seen {
	ino_t *v;
	size_t n, alloc;
};

static bool seen_before(struct seen *s, ino_t ino)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i] == ino)
			return true;
	ALLOC_GROW(s->v, s->n + 1, s->alloc);
	s->v[s->n++] = ino;
	return false;
}

static double walk(int dirfd, dev_t dev, int depth, struct seen *seen)
{
	double total = 0;
	struct dirent *de;
	DIR *d;

	d = fdopendir(dirfd);
	if (!d) {
		close(dirfd);
		return 0;
	}
	while ((de = readdir(d))) {
		struct stat st;
		int fd;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone since readdir: a dropped relation */
		if (st.st_dev != dev)
			continue;
		if (st.st_nlink > 1 && !S_ISDIR(st.st_mode) &&
		    seen_before(seen, st.st_ino))
			continue;
		total += (double)st.st_blocks * 512.0;
		if (!S_ISDIR(st.st_mode) || depth >= MAX_DEPTH)
			continue;
		fd = openat(dirfd, de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			total += walk(fd, dev, depth + 1, seen);
	}
	closedir(d);
	return total;
}

int disk_usage(const char *path, double *out, struct err *e)
{
	struct seen seen = {0};
	struct stat st;
	int fd;

	if (lstat(path, &st) < 0)
		return err_set(e, "cannot read '%s': %s", path,
			       strerror(errno));
	*out = (double)st.st_blocks * 512.0;
	if (!S_ISDIR(st.st_mode))
		return 0;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, "cannot open '%s': %s", path,
			       strerror(errno));
	*out += walk(fd, st.st_dev, 0, &seen);
	free(seen.v);
	return 0;
}

int disk_fs(const char *path, enum disk_fs_field which, double *out,
	    struct err *e)
{
	struct statvfs sv;
	double unit;

	if (statvfs(path, &sv) < 0)
		return err_set(e, "cannot stat the filesystem of '%s': %s",
			       path, strerror(errno));
	unit = (double)sv.f_frsize;
	switch (which) {
	case DISK_FS_SIZE:
		*out = (double)sv.f_blocks * unit;
		break;
	case DISK_FS_FREE:
		*out = (double)sv.f_bfree * unit;
		break;
	case DISK_FS_AVAIL:
		*out = (double)sv.f_bavail * unit;
		break;
	}
	return 0;
}
