/*
 * The HTTP server: libmicrohttpd setup, the route table, compression and
 * request limits.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stdbool.h>
#include "err.h"

struct MHD_Daemon;
struct runtime_opts;

/*
 * What the server is started with, filled by cli_http_opts. Strings are
 * borrowed from the command line.
 */
struct http_opts {
	const char *listen;	  /* HOST:PORT */
	const char *web_config;	  /* --web.config.file: TLS, or NULL */
	bool lifecycle;		  /* --web.enable-lifecycle: POST /-/reload */
	unsigned max_connections; /* --web.max-connections */
	unsigned read_timeout;	  /* --web.read-timeout, seconds */
	/* what POST /-/reload builds the new snapshot from */
	const struct runtime_opts *reload;
};

/*
 * Listen on o->listen and serve until http_stop. 'o' (and what it points
 * to) is read by the request threads for the daemon's lifetime (reload
 * re-reads files named there). Returns NULL with 'e' set.
 */
struct MHD_Daemon *http_start(const struct http_opts *o, struct err *e);

/*
 * Stop serving. Requests in flight get 5 seconds to finish; past that the
 * process exits (status 0) without waiting for them, so a shutdown is
 * bounded whatever runs.
 */
void http_stop(struct MHD_Daemon *d);

#endif
