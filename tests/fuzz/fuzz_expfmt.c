/*
 * libFuzzer harness: metric sets built from the input (names, types, label
 * names and values, help, values, histogram suffixes) rendered in both
 * formats; and the input as an Accept header.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "expfmt.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next NUL- or newline-ended field of the input, copied. */
static char *field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *s = *p;
	char *out;

	while (*p < end && **p != '\n' && **p != '\0')
		(*p)++;
	out = xstrndup((const char *)s, (size_t)(*p - s));
	if (*p < end)
		(*p)++;
	return out;
}

static double value(const uint8_t **p, const uint8_t *end)
{
	double v = 0;

	if (end - *p >= (ptrdiff_t)sizeof(v)) {
		memcpy(&v, *p, sizeof(v));
		*p += sizeof(v);
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const suffixes[] = {"", "_bucket", "_sum", "_count"};
	const uint8_t *p = data, *end = data + size;
	struct mset *sets[2] = {mset_new(), mset_new()};
	struct sb out = SB_INIT(1 << 20);
	char *accept = xstrndup((const char *)data, size);
	int n = 0;

	(void)expfmt_content_type(expfmt_negotiate(accept));
	while (p < end && n++ < 64) {
		unsigned op = *p++;
		char *name = field(&p, end), *help = field(&p, end);
		char *ln = field(&p, end), *lv = field(&p, end);
		struct label l[2] = {{ln, lv}, {(char *)"le", help}};
		struct mset *m = sets[op & 1];
		struct family *f;

		f = mset_family(m, name, (enum metric_type)((op >> 1) % 5),
				help, NULL);
		if (f)
			(void)mset_add(m, f, suffixes[(op >> 4) & 3], l,
				       1 + ((op >> 6) & 1), value(&p, end),
				       NULL);
		free(name);
		free(help);
		free(ln);
		free(lv);
	}
	expfmt_render(&out, sets, 2, EXPFMT_TEXT);
	expfmt_render(&out, sets, 2, EXPFMT_OPENMETRICS);
	sb_release(&out);
	mset_free(sets[0]);
	mset_free(sets[1]);
	free(accept);
	return 0;
}
