/*
 * What the libFuzzer harnesses share: the loaders read files, so an input
 * is written to a file of its own first.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

/*
 * Write 'data' to a new file under /tmp named for 'what' and
 * the process; its path goes to 'path'. Returns 0, or -1 when it cannot.
 */
static inline int fuzz_write_file(char *path, size_t size, const char *what,
				  const uint8_t *data, size_t len)
{
	FILE *fp;
	size_t done;

	snprintf(path, size, "/tmp/pgpulse-fuzz-%s-%ld.yaml", what,
		 (long)getpid());
	fp = fopen(path, "wb");
	if (!fp)
		return -1;
	done = fwrite(data, 1, len, fp);
	if (fclose(fp) != 0 || done != len) {
		unlink(path);
		return -1;
	}
	return 0;
}

#endif
