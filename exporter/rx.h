/*
 * rx: POSIX extended regular expressions written by users (a target's
 * 'databases: {include, exclude}', 'probe: {allow}'), compiled only when
 * what the compiler builds for them stays small.
 *
 * glibc's regcomp copies a subexpression once per repetition it counts:
 * 'x+' becomes 'xx*', 'x{1,9}' nine copies, and a repetition of a
 * repetition multiplies ('x' followed by 33 '+' asks for 2^33 nodes; the
 * fuzzer found that one). Optional copies also cost memory that grows with
 * their square ('.{1,5000}' takes 190 MiB). So rx_compile estimates the
 * copies first and refuses a pattern over RX_MAX_COPIES, longer than
 * RX_MAX_LEN or nested deeper than RX_MAX_DEPTH, and refuses
 * back-references, whose matching can take exponential time.
 */
#ifndef RX_H
#define RX_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include "err.h"

#define RX_MAX_LEN    2048 /* characters of one pattern */
#define RX_MAX_COPIES 1000 /* estimated atoms after repetitions expand */
#define RX_MAX_DEPTH  32   /* nested groups */

/*
 * Compile 'pat' into 're' (REG_EXTENDED | REG_NOSUB), matching the whole
 * string when 'whole' (as '^(pat)$'). Returns 0 (free 're' with regfree),
 * or -1 with 'e' saying why, in words fit for a config error: "too complex
 * (...)", "back-references ... are not supported" or regcomp's message.
 */
int rx_compile(regex_t *re, const char *pat, bool whole,
	       struct err *e) MUST_CHECK;

/*
 * The estimate rx_compile checks: how many atoms the compiler would build
 * for 'pat' once repetitions are expanded (capped just above
 * RX_MAX_COPIES), or (size_t)-1 when it has a back-reference or nests
 * deeper than RX_MAX_DEPTH. Exposed for the unit tests.
 */
size_t rx_copies(const char *pat);

#endif
