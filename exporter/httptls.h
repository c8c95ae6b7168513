/*
 * TLS of the HTTP listener (GnuTLS through libmicrohttpd): the web config
 * the listener started with, the certificate and key handed out at each
 * handshake (a reload replaces them under a running listener), and the
 * client certificate check. Process-wide state, from httptls_open to
 * httptls_close; the functions between them are thread-safe.
 */
#ifndef HTTPTLS_H
#define HTTPTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <microhttpd.h>
#include "err.h"
#include "webconfig.h"

/*
 * Load the web config 'path' the listener starts with; when it has
 * tls_server_config, parse its certificate chain and key. Returns 0, or
 * -1 with 'e' set (nothing kept then).
 */
int httptls_open(const char *path, struct err *e);
/* Whether the listener serves TLS. */
bool httptls_on(void);
/*
 * Add the TLS options of libmicrohttpd (certificate callback, priorities
 * into 'prio', the client CA) to 'opts'; returns how many (at most 3, 0
 * without TLS). 'prio' must outlive the daemon's start.
 */
size_t httptls_options(struct MHD_OptionItem *opts, char *prio,
		       size_t prio_size);
/*
 * After a reload to web config 'w' (NULL: none): take a new certificate
 * or key at once; other TLS settings are the listener's and wait for a
 * restart (logged).
 */
void httptls_reload(const struct webconfig *w);
/*
 * The client certificate check the web config asks for: GnuTLS asks for
 * a certificate when a CA is set; verifying it is left to us. True when
 * 'conn' may be served.
 */
bool httptls_client_ok(struct MHD_Connection *conn);
/* Forget the web config and every certificate set (at http_stop). */
void httptls_close(void);

#endif
