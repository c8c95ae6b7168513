/*
 * libFuzzer harness: any text as a column value of every type the engine
 * converts, and as a label value through the metric set and the renderer
 * in both formats.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "pgvalue.h"
#include "expfmt.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const Oid types[] = {16,	  20,	25,   701, 1700,
				    1114, 1184, 1186, 3220};
	char *text = xstrndup((const char *)data, size);
	struct mset *m = mset_new();
	struct family *f;
	struct label l = {(char *)"l", text};
	struct sb out = SB_INIT(1 << 20);
	double v = 0;
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		(void)!pgvalue_parse(text, types[i], &v);
	f = mset_family(m, "fuzz_value", METRIC_GAUGE, text, NULL);
	if (f)
		mset_add(m, f, "", &l, 1, v, NULL);
	expfmt_render(&out, &m, 1, EXPFMT_TEXT);
	expfmt_render(&out, &m, 1, EXPFMT_OPENMETRICS);
	sb_release(&out);
	mset_free(m);
	free(text);
	return 0;
}
