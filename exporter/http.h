/*
 * The HTTP server: libmicrohttpd setup, the route table, compression and
 * request limits.
 */
#ifndef HTTP_H
#define HTTP_H

#include "cli.h"
#include "err.h"

/*
 * Listen on o->listen and serve until http_stop. The options are read by
 * the request threads for the server's lifetime (reload re-reads files
 * named there, and a change of TLS settings takes a new listener on the
 * same socket). Returns -1 with 'e' set.
 */
int http_start(const struct cli *o, struct err *e) MUST_CHECK;
/* Stop listening and serving; safe when http_start failed or never ran. */
void http_stop(void);

#endif
