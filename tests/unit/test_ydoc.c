/*
 * ydoc: files that are not regular files, and alias fan-outs that would
 * expand a small document into millions of nodes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sb.h"
#include "ydoc.h"
#include "unit.h"

/* Load 'text' as 'name'; the return code and every diagnostic. */
static void expect_doc(const char *name, const char *text, int rc,
		       const char *expected)
{
	struct diags d = DIAGS_INIT;
	struct ydoc y;
	char *out;

	assert_int_equal(ydoc_load(&y, name, text, strlen(text), &d), rc);
	out = diags_text(&d);
	assert_string_equal(out, expected);
	free(out);
	ydoc_release(&y);
	diags_release(&d);
}

/*
 * A list of 'cols' items under an anchor, then 'uses' mappings that each
 * name it: about uses * cols nodes once expanded.
 */
static char *fan_out(size_t uses, size_t cols)
{
	struct sb b = SB_INIT(0);
	size_t i;

	sb_adds(&b, "defs: &M\n");
	for (i = 0; i < cols; i++)
		sb_addf(&b, "  - c%zu\n", i);
	sb_adds(&b, "collectors:\n");
	for (i = 0; i < uses; i++)
		sb_addf(&b, "  c%zu: {metrics: *M}\n", i);
	return sb_detach(&b, NULL);
}

static void
an_alias_fan_out_past_the_cap_is_refused_where_it_crosses(void **state)
{
	char *big = fan_out(300, 1000), *small = fan_out(50, 1000);

	(void)state;
	/* 300,000 nodes: refused at the use (c198) that passes 200,000 */
	expect_doc("fan.yaml", big, -1,
		   "fan.yaml:1201:9: error: the document expands to more "
		   "than 200000 nodes through aliases\n");
	/* 50,000: a document of shared definitions loads */
	expect_doc("fan.yaml", small, 0, "");
	/* an alias to the list it is in is left to the readers */
	expect_doc("cycle.yaml", "a: &a [*a, *a]\n", 0, "");
	free(big);
	free(small);
}

static void on_alarm(int sig)
{
	(void)sig;
	fail_msg("reading a FIFO blocked");
}

static void only_regular_files_are_read_and_a_fifo_does_not_block(void **state)
{
	char dir[] = "/tmp/pgpulse-ydoc-XXXXXX", path[64], *text;
	struct diags d = DIAGS_INIT;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fifo.yaml", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	signal(SIGALRM, on_alarm);
	alarm(10);
	text = ydoc_read_file(path, 1024, &len, &d);
	alarm(0);
	assert_null(text);
	text = ydoc_read_file(dir, 1024, &len, &d);
	assert_null(text);
	assert_int_equal(d.nerrors, 2);
	assert_string_equal(d.v[0].file, path);
	assert_string_equal(d.v[0].msg, "cannot read: not a regular file");
	assert_string_equal(d.v[1].file, dir);
	assert_string_equal(d.v[1].msg, "cannot read: not a regular file");
	diags_release(&d);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			an_alias_fan_out_past_the_cap_is_refused_where_it_crosses),
		cmocka_unit_test(
			only_regular_files_are_read_and_a_fifo_does_not_block),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
