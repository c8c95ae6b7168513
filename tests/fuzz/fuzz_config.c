/*
 * libFuzzer harness: any bytes as a config file. The loader must report
 * problems with positions, never crash, leak or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diags d = DIAGS_INIT;
	struct config cfg;
	char path[64];

	/* config_load reads a file, as the daemon does */
	if (fuzz_write_file(path, sizeof(path), "config", data, size) < 0)
		return 0;
	if (config_load(&cfg, path, &d) == 0)
		config_free(&cfg);
	diags_release(&d);
	unlink(path);
	return 0;
}
