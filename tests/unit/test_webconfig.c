/*
 * The web config's basic auth users: which hashes load, and how a login is
 * checked against them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "webconfig.h"
#include "unit.h"

/* bcrypt of "x", cost 4 (made with Python's crypt) */
#define HASH4 "$2b$04$ihdNY8hVwsi1Uh9khjVS0uJIG9/apIk2.8dcquaLkzznHHF.JLBja"
#define TAIL  "ihdNY8hVwsi1Uh9khjVS0uJIG9/apIk2.8dcquaLkzznHHF.JLBja"

static char path[64];

/* Write 'text' to a file and load it; every diagnostic into *out. */
static struct webconfig *load(const char *text, char **out)
{
	struct diags d = DIAGS_INIT;
	struct webconfig *w;
	FILE *fp;

	snprintf(path, sizeof(path), "/tmp/pgpulse-unit-web-%ld.yml",
		 (long)getpid());
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	w = webconfig_load(path, &d);
	*out = diags_text(&d);
	diags_release(&d);
	unlink(path);
	return w;
}

static void expect_refused(const char *text, const char *where, const char *msg)
{
	char *out, *want;
	size_t n;

	assert_null(load(text, &out));
	n = strlen(path) + strlen(where) + strlen(msg) + 16;
	want = malloc(n);
	snprintf(want, n, "%s:%s: error: %s\n", path, where, msg);
	assert_string_equal(out, want);
	free(want);
	free(out);
}

static void hashes_must_be_bcrypt_of_cost_4_to_14(void **state)
{
	(void)state;
	expect_refused("basic_auth_users:\n  u: $2y$10$short\n", "2:6",
		       "user 'u': not a bcrypt hash ($2y$, $2b$ or $2a$, two "
		       "digits of cost, $, 53 characters; make one with "
		       "htpasswd -nBC 10 USER)");
	expect_refused("basic_auth_users:\n  u: $2x$10$" TAIL "\n", "2:6",
		       "user 'u': not a bcrypt hash ($2y$, $2b$ or $2a$, two "
		       "digits of cost, $, 53 characters; make one with "
		       "htpasswd -nBC 10 USER)");
	expect_refused("basic_auth_users:\n  u: $2y$31$" TAIL "\n", "2:6",
		       "user 'u': bcrypt cost 31 is not from 4 to 14 (each "
		       "login costs 2^cost rounds; make a hash with htpasswd "
		       "-nBC 10 USER)");
	expect_refused("basic_auth_users:\n  u: $2a$03$" TAIL "\n", "2:6",
		       "user 'u': bcrypt cost 3 is not from 4 to 14 (each "
		       "login costs 2^cost rounds; make a hash with htpasswd "
		       "-nBC 10 USER)");
}

static void a_login_passes_with_the_password_only(void **state)
{
	struct webconfig *w;
	char *out;

	(void)state;
	w = load("basic_auth_users:\n  prom: " HASH4 "\n", &out);
	assert_non_null(w);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(webconfig_check(w, "prom", "x"), WEB_AUTH_OK);
	/* remembered: the same again passes, a wrong one still fails */
	assert_int_equal(webconfig_check(w, "prom", "x"), WEB_AUTH_OK);
	assert_int_equal(webconfig_check(w, "prom", "y"), WEB_AUTH_DENIED);
	/* an unknown user with the first user's password */
	assert_int_equal(webconfig_check(w, "nobody", "x"), WEB_AUTH_DENIED);
	assert_int_equal(webconfig_check(w, NULL, NULL), WEB_AUTH_DENIED);
	/* the dummy for unknown users has the first user's cost */
	assert_int_equal(strncmp(w->dummy, "$2b$04$", 7), 0);
	webconfig_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hashes_must_be_bcrypt_of_cost_4_to_14),
		cmocka_unit_test(a_login_passes_with_the_password_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
