/*
 * ydoc: the YAML walker on its own (no config model): positions, kinds,
 * merge keys and aliases, known keys, typed values with their messages;
 * files that are not regular files, and alias fan-outs that would expand
 * a small document into millions of nodes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "duration.h"
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

/*
 * A loaded document for the walker tests, with its diagnostics; 'root'
 * is its root mapping.
 */
struct doc {
	struct diags d;
	struct ydoc y;
	yaml_node_t *root;
};

static void doc_load(struct doc *t, const char *text)
{
	t->d = (struct diags)DIAGS_INIT;
	assert_int_equal(ydoc_load(&t->y, "t.yaml", text, strlen(text), &t->d),
			 0);
	t->root = ydoc_root(&t->y);
	assert_non_null(t->root);
}

/* Every diagnostic so far, then the document released. */
static void doc_done(struct doc *t, const char *expected)
{
	char *out = diags_text(&t->d);

	assert_string_equal(out, expected);
	free(out);
	ydoc_release(&t->y);
	diags_release(&t->d);
}

/* The value of key 'k' of the root mapping. */
static yaml_node_t *get(struct doc *t, const char *k)
{
	struct ypair *p;
	yaml_node_t *v = NULL;
	size_t n, i;

	p = ydoc_pairs(&t->y, t->root, "key", &n);
	for (i = 0; i < n && !v; i++)
		if (!strcmp(p[i].key, k))
			v = p[i].vnode;
	free(p);
	assert_non_null(v);
	return v;
}

static void positions_are_one_based_and_count_characters(void **state)
{
	struct doc t;
	struct srcpos p;
	struct ypair *pairs;
	size_t n;

	(void)state;
	doc_load(&t, "a: 1\nb:\n  c: \"caf\xc3\xa9 x\"\nsql: |\n  "
		     "SELECT 1\n  FROM t\n");
	p = ydoc_pos(&t.y, get(&t, "a"));
	assert_string_equal(p.file, "t.yaml");
	assert_int_equal(p.line, 1);
	assert_int_equal(p.column, 4);
	/* the text of a quoted scalar starts after its quote */
	pairs = ydoc_pairs(&t.y, get(&t, "b"), "key", &n);
	p = ydoc_text_pos(&t.y, pairs[0].vnode);
	free(pairs);
	assert_int_equal(p.line, 3);
	assert_int_equal(p.column, 7);
	/* a literal block starts on the line after '|' */
	p = ydoc_offset_pos(&t.y, get(&t, "sql"), strlen("SELECT 1\nFR"));
	assert_int_equal(p.line, 6);
	assert_int_equal(p.column, 5);
	assert_int_equal(ydoc_count_chars("caf\xc3\xa9 x", 7), 6);
	doc_done(&t, "");
}

static void kinds_name_what_was_found(void **state)
{
	struct doc t;

	(void)state;
	doc_load(&t, "m: {x: 1}\nl: [1]\ns: x\nn: ~\nq: \"\"\n");
	assert_string_equal(ydoc_kind(get(&t, "m")), "a mapping");
	assert_string_equal(ydoc_kind(get(&t, "l")), "a list");
	assert_string_equal(ydoc_kind(get(&t, "s")), "a string");
	assert_true(ydoc_is_null(get(&t, "n")));
	/* a quoted empty string is a value, not null */
	assert_false(ydoc_is_null(get(&t, "q")));
	assert_false(ydoc_is_null(get(&t, "s")));
	doc_done(&t, "");
}

static void merge_keys_come_after_explicit_keys_which_win(void **state)
{
	struct doc t;
	struct ypair *p;
	size_t n;

	(void)state;
	doc_load(&t, "base: &b {x: 1, y: 2}\n"
		     "use: {<<: *b, y: 3, z: 4, z: 5}\n");
	p = ydoc_pairs(&t.y, get(&t, "use"), "key", &n);
	assert_int_equal(n, 3);
	assert_string_equal(p[0].key, "y");
	assert_string_equal((char *)p[0].vnode->data.scalar.value, "3");
	assert_string_equal(p[1].key, "z");
	assert_string_equal(p[2].key, "x");
	free(p);
	doc_done(&t, "t.yaml:2:27: error: duplicate key 'z' (first at "
		     "t.yaml:2:21)\n");
}

static void unknown_keys_get_the_nearest_known_one(void **state)
{
	static const char *const names[] = {"timeout", "labels"};
	struct doc t;
	yaml_node_t *v[2];

	(void)state;
	doc_load(&t, "timout: 1s\nlabels: {}\nzzz: 1\n");
	assert_int_equal(
		ydoc_fields(&t.y, t.root, "target", names, 2, v, DIAG_ERROR),
		0);
	assert_null(v[0]);
	assert_non_null(v[1]);
	assert_string_equal(ydoc_suggest("lables", names, 2), "labels");
	assert_null(ydoc_suggest("x", names, 2));
	doc_done(&t, "t.yaml:1:1: error: unknown key 'timout' (did you mean "
		     "'timeout'?)\n"
		     "t.yaml:3:1: error: unknown key 'zzz'\n");
}

static void typed_values_read_or_say_why_at_their_node(void **state)
{
	static const char *const modes[] = {"disable", "require"};
	struct doc t;
	long long i;
	double d;
	bool b;
	int e;

	(void)state;
	doc_load(&t, "i: 42\nbig: 1001\nd: 1m30s\nbad: 5 parsecs\n"
		     "b: off\nf: .inf\ne: requre\n");
	assert_int_equal(ydoc_int(&t.y, get(&t, "i"), "i", 0, 1000, &i), 0);
	assert_int_equal(i, 42);
	assert_int_equal(ydoc_int(&t.y, get(&t, "big"), "big", 0, 1000, &i),
			 -1);
	assert_int_equal(ydoc_duration(&t.y, get(&t, "d"), "d", &d), 0);
	assert_true(d == 90);
	assert_int_equal(ydoc_duration(&t.y, get(&t, "bad"), "bad", &d), -1);
	assert_int_equal(ydoc_bool(&t.y, get(&t, "b"), "b", &b), 0);
	assert_false(b);
	assert_int_equal(ydoc_double(&t.y, get(&t, "f"), "f", &d), 0);
	assert_true(isinf(d) && d > 0);
	assert_int_equal(ydoc_enum(&t.y, get(&t, "e"), "sslmode", modes, 2, &e),
			 -1);
	doc_done(&t, "t.yaml:2:6: error: 'big' must be between 0 and 1000, "
		     "not 1001\n"
		     "t.yaml:4:6: error: 'bad' must be a duration such as "
		     "250ms, 30s, 5m, 1h or 1d, not '5 parsecs'\n"
		     "t.yaml:7:4: error: invalid sslmode 'requre' (did you "
		     "mean 'require'?)\n");
}

static void durations_add_their_parts(void **state)
{
	static const struct {
		const char *s;
		double v;
	} good[] = {{"250ms", 0.25}, {"1.5s", 1.5}, {"1m30s", 90},
		    {"2d", 172800},  {"7", 7},	    {"1h1m1s1ms", 3661.001}};
	static const char *const bad[] = {"",	"-1s",	 "1s5", "s",
					  "1x", "1s 2s", "5 s", "1e400"};
	double v = -1;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		assert_int_equal(duration_parse(good[i].s, &v), 0);
		assert_true(fabs(v - good[i].v) < 1e-9);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		v = -1;
		if (duration_parse(bad[i], &v) != -1)
			fail_msg("'%s' was read as %g", bad[i], v);
		assert_true(v == -1);
	}
	assert_int_equal(duration_parse(NULL, &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			an_alias_fan_out_past_the_cap_is_refused_where_it_crosses),
		cmocka_unit_test(
			only_regular_files_are_read_and_a_fifo_does_not_block),
		cmocka_unit_test(positions_are_one_based_and_count_characters),
		cmocka_unit_test(kinds_name_what_was_found),
		cmocka_unit_test(merge_keys_come_after_explicit_keys_which_win),
		cmocka_unit_test(unknown_keys_get_the_nearest_known_one),
		cmocka_unit_test(typed_values_read_or_say_why_at_their_node),
		cmocka_unit_test(durations_add_their_parts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
