/*
 * The HTTP server: libmicrohttpd setup, the route table, compression and
 * request limits.
 */
#ifndef HTTP_H
#define HTTP_H

#include "cli.h"
#include "err.h"

struct MHD_Daemon;

/*
 * Listen on o->listen and serve until http_stop. The options are read by
 * the request threads for the daemon's lifetime (reload re-reads files
 * named there). Returns NULL with 'e' set.
 */
struct MHD_Daemon *http_start(const struct cli *o, struct err *e);

/*
 * Stop serving. Requests in flight get 5 seconds to finish; past that the
 * process exits (status 0) without waiting for them, so a shutdown is
 * bounded whatever runs.
 */
void http_stop(struct MHD_Daemon *d);

#endif
