/*
 * Read deadlines of HTTP requests, so that a request trickled in a byte
 * at a time cannot hold a connection slot: libmicrohttpd's connection
 * timeout is an idle timeout, so each request also gets a total deadline,
 * from the connection (or the end of the previous response) to its last
 * header. A sweeper thread shuts down the sockets of requests past it.
 * Process-wide, from httpconn_start to httpconn_stop; thread-safe.
 */
#ifndef HTTPCONN_H
#define HTTPCONN_H

#include <microhttpd.h>

/* MHD_OPTION_NOTIFY_CONNECTION: a connection starts or closes. */
void httpconn_notify(void *cls, struct MHD_Connection *conn, void **ctx,
		     enum MHD_ConnectionNotificationCode what);
/* The request's headers are in: its read deadline no longer applies. */
void httpconn_serving(struct MHD_Connection *conn);
/*
 * MHD_OPTION_NOTIFY_COMPLETED: a response is done, a kept-alive
 * connection reads its next request under a new deadline.
 */
void httpconn_completed(void *cls, struct MHD_Connection *conn, void **state,
			enum MHD_RequestTerminationCode toe);
/*
 * Start the sweeper with a deadline of 'deadline' seconds; when the
 * thread cannot start, only the idle timeout applies (logged).
 */
void httpconn_start(double deadline);
void httpconn_stop(void);

#endif
