/*
 * libFuzzer harness: any bytes as a web config file (TLS settings, basic
 * auth users), then a login against what loaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "fuzz.h"
#include "webconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diags d = DIAGS_INIT;
	struct webconfig *w;
	char path[64];
	size_t i;

	if (fuzz_write_file(path, sizeof(path), "web", data, size) < 0)
		return 0;
	w = webconfig_load(path, &d);
	/* a check costs 2^cost rounds: keep the fuzzer fast past cost 6 */
	for (i = 0; w && i < w->nusers; i++)
		if (strncmp(w->users[i].hash + 4, "07", 2) < 0)
			(void)webconfig_check(w, w->users[i].name, "guess");
	webconfig_free(w);
	diags_release(&d);
	unlink(path);
	return 0;
}
