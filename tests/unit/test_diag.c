/* Diagnostics: collected with positions, printed as file:line:col. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include "diag.h"
#include "unit.h"

static void diagnostics_print_in_order_with_positions(void **state)
{
	struct diags d = DIAGS_INIT;
	char *out;

	(void)state;
	diags_add(&d, DIAG_ERROR, "q.yaml", 12, 5, "'ttl' must be %s",
		  "a duration");
	diags_add(&d, DIAG_WARNING, "q.yaml", 3, 0, "unused key 'x'");
	diags_add(&d, DIAG_ERROR, "q.yaml", 0, 0, "no collectors");
	out = diags_text(&d);
	assert_string_equal(out,
			    "q.yaml:12:5: error: 'ttl' must be a duration\n"
			    "q.yaml:3: warning: unused key 'x'\n"
			    "q.yaml: error: no collectors\n");
	assert_int_equal(d.nerrors, 2);
	assert_int_equal(d.nwarnings, 1);
	free(out);
	diags_release(&d);
}

static void merge_appends_copies(void **state)
{
	struct diags a = DIAGS_INIT, b = DIAGS_INIT;

	(void)state;
	diags_add(&a, DIAG_ERROR, "a.yaml", 1, 1, "first");
	diags_add(&b, DIAG_WARNING, "b.yaml", 2, 2, "second");
	diags_merge(&a, &b);
	diags_release(&b);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.v[1].file, "b.yaml");
	assert_string_equal(a.v[1].msg, "second");
	assert_int_equal(a.nwarnings, 1);
	diags_release(&a);
	assert_int_equal(a.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(diagnostics_print_in_order_with_positions),
		cmocka_unit_test(merge_appends_copies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
