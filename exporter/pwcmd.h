/*
 * password_command: a program run at each connect that prints a short-lived
 * password or token (a cloud IAM token, Vault, a secrets-manager CLI).
 */
#ifndef PWCMD_H
#define PWCMD_H

#include "compat.h"
#include "err.h"

/* Bytes of standard output kept at most; more is an error. */
#define PWCMD_MAX_OUTPUT 8192

/*
 * Run 'argv' (argv[0] a path, or a name searched in PATH; no shell) with
 * standard input from /dev/null and no other descriptor of pgpulse, in a
 * process group of its own, with a clean signal mask. Its standard output,
 * with trailing white space removed, is the password: returned malloc'ed;
 * the caller wipes and frees it. It is never logged.
 *
 * Fails (NULL, 'e' set to a message without the output) when the program
 * cannot start, exits non-zero or by a signal, prints nothing or more than
 * PWCMD_MAX_OUTPUT bytes, or is still running 'timeout' seconds after the
 * start: then its whole process group is killed. The child is always
 * reaped before returning. Its standard error (the first line of it,
 * control characters and anything that looks like a secret masked) is
 * logged at warn level with 'who' (the target's name) when it wrote any.
 * Safe to call from several threads at once.
 */
char *pwcmd_run(char *const *argv, double timeout, const char *who,
		struct err *e);

/*
 * Copy 's' into 'out' (size 'n', NUL-terminated): its first line, control
 * characters as '?', and every word of 16 characters or more made only of
 * letters, digits and "+/=_-.~" (what a token looks like), as well as the
 * log module's password=... and URI userinfo, as "***". For tests.
 */
void pwcmd_redact(const char *s, char *out, size_t n);

#endif
