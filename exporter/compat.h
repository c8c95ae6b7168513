/*
 * Attributes and small macros every module may use; includes banned.h last
 * so unsafe libc functions are compile errors everywhere.
 */
#ifndef COMPAT_H
#define COMPAT_H

#include <stddef.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PRINTF(f, a)  __attribute__((format(printf, f, a)))
#define MUST_CHECK    __attribute__((warn_unused_result))
#define UNUSED	      __attribute__((unused))
#define NORETURN      __attribute__((noreturn))

#include "banned.h"

#endif
