/*
 * libFuzzer harness: any bytes as a query file. The loader must report
 * problems, never crash, leak or read out of bounds (ASan/UBSan).
 */
#include <stddef.h>
#include <stdint.h>
#include "querydef.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queryset qs = QUERYSET_INIT;
	struct diags d = DIAGS_INIT;

	(void)!querydef_load_buffer(&qs, "fuzz.yaml", (const char *)data, size,
				    &d);
	queryset_release(&qs);
	diags_release(&d);
	return 0;
}
