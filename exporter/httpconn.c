/*
 * Read deadlines of HTTP requests: a sweeper thread shuts down the
 * sockets of requests not in by --web.read-timeout (see httpconn.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include "httpconn.h"
#include "clock.h"
#include "log.h"
#include "xalloc.h"

#define SWEEP_EVERY 0.25 /* seconds between checks of request deadlines */

/* A connection being read. Owned by the list below. */
struct conn_slot {
	int fd;
	double since;	   /* when reading this request began */
	bool serving, cut; /* headers in; socket shut down */
	struct conn_slot *prev, *next;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct conn_slot *head;
	double deadline; /* seconds: --web.read-timeout */
	bool stop;
	pthread_t thread;
	bool running;
} conns = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

void httpconn_notify(void *cls, struct MHD_Connection *conn, void **ctx,
		     enum MHD_ConnectionNotificationCode what)
{
	const union MHD_ConnectionInfo *ci;
	struct conn_slot *c = *ctx;

	(void)cls;
	pthread_mutex_lock(&conns.lock);
	if (what == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(conn,
					     MHD_CONNECTION_INFO_CONNECTION_FD);
		c = xcalloc(1, sizeof(*c));
		c->fd = ci ? ci->connect_fd : -1;
		c->since = clock_mono();
		c->next = conns.head;
		if (conns.head)
			conns.head->prev = c;
		conns.head = c;
		*ctx = c;
	} else if (c) {
		/* called before libmicrohttpd closes the socket */
		if (c->prev)
			c->prev->next = c->next;
		else
			conns.head = c->next;
		if (c->next)
			c->next->prev = c->prev;
		free(c);
		*ctx = NULL;
	}
	pthread_mutex_unlock(&conns.lock);
}

static struct conn_slot *slot_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

void httpconn_serving(struct MHD_Connection *conn)
{
	struct conn_slot *c = slot_of(conn);

	pthread_mutex_lock(&conns.lock);
	if (c)
		c->serving = true;
	pthread_mutex_unlock(&conns.lock);
}

void httpconn_completed(void *cls, struct MHD_Connection *conn, void **state,
			enum MHD_RequestTerminationCode toe)
{
	struct conn_slot *c = slot_of(conn);

	(void)cls;
	(void)state;
	(void)toe;
	pthread_mutex_lock(&conns.lock);
	if (c) {
		c->serving = false;
		c->since = clock_mono();
	}
	pthread_mutex_unlock(&conns.lock);
}

static void *sweeper(void *arg)
{
	struct timespec until;
	struct conn_slot *c;
	double now;

	(void)arg;
	pthread_mutex_lock(&conns.lock);
	while (!conns.stop) {
		now = clock_mono();
		for (c = conns.head; c; c = c->next)
			if (!c->serving && !c->cut && c->fd >= 0 &&
			    now - c->since > conns.deadline) {
				/* its thread sees EOF and closes it */
				shutdown(c->fd, SHUT_RDWR);
				c->cut = true;
			}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)(SWEEP_EVERY * 1e9);
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&conns.wake, &conns.lock, &until);
	}
	pthread_mutex_unlock(&conns.lock);
	return NULL;
}

void httpconn_start(double deadline)
{
	conns.deadline = deadline;
	conns.stop = false;
	conns.running = pthread_create(&conns.thread, NULL, sweeper, NULL) == 0;
	if (!conns.running)
		log_warn("cannot start the request deadline thread; only the "
			 "idle timeout applies",
			 NULL);
}

void httpconn_stop(void)
{
	if (!conns.running)
		return;
	pthread_mutex_lock(&conns.lock);
	conns.stop = true;
	pthread_cond_signal(&conns.wake);
	pthread_mutex_unlock(&conns.lock);
	pthread_join(conns.thread, NULL);
	conns.running = false;
}
