/*
 * The HTTP side: routes, content negotiation, gzip, limits.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <zlib.h>
#include "http.h"
#include "expfmt.h"
#include "log.h"
#include "runtime.h"
#include "sb.h"
#include "scrape.h"
#include "selfmetrics.h"
#include "target.h"
#include "webconfig.h"
#include "xalloc.h"
#include "compat.h"

#define SCRAPE_MARGIN  0.5  /* seconds kept for rendering and sending */
#define SWEEP_EVERY    0.25 /* seconds between checks of request deadlines */
#define STOP_WAIT      5    /* seconds requests get to finish at shutdown */
#define AUTH_LOG_EVERY 10   /* seconds between lines about failed logins */

struct request {
	struct MHD_Connection *conn;
	const struct cli *opts;
	const char *method;
	const char *url;
};

/*
 * The web config the listener started with: TLS cannot change under a
 * running daemon, so it is kept from http_start to http_stop. Basic auth
 * users come from the current snapshot instead, so a reload changes them.
 */
static struct webconfig *listen_web;

#define MAX_CHAIN 16

/*
 * The server's certificate chain and key, handed to GnuTLS at each
 * handshake, so a reload can change them under a running listener.
 * Replaced sets are kept (on 'older') until http_stop: a handshake may
 * still use them.
 */
struct tls_keys {
	gnutls_pcert_st certs[MAX_CHAIN];
	unsigned ncerts;
	gnutls_privkey_t key;
	char *cert_pem, *key_pem; /* what they were made from */
	struct tls_keys *older;
};
static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tls_keys *keys;

static void tls_keys_free(struct tls_keys *k)
{
	unsigned i;

	while (k) {
		struct tls_keys *older = k->older;

		for (i = 0; i < k->ncerts; i++)
			gnutls_pcert_deinit(&k->certs[i]);
		if (k->key)
			gnutls_privkey_deinit(k->key);
		free(k->cert_pem);
		if (k->key_pem)
			explicit_bzero(k->key_pem, strlen(k->key_pem));
		free(k->key_pem);
		free(k);
		k = older;
	}
}

/* Parse the web config's chain and key; NULL when GnuTLS refuses them. */
static struct tls_keys *tls_keys_new(const struct webconfig *w)
{
	struct tls_keys *k = xcalloc(1, sizeof(*k));
	gnutls_datum_t cert = {(unsigned char *)w->cert_pem,
			       (unsigned)strlen(w->cert_pem)};
	gnutls_datum_t key = {(unsigned char *)w->key_pem,
			      (unsigned)strlen(w->key_pem)};

	k->ncerts = MAX_CHAIN;
	if (gnutls_pcert_list_import_x509_raw(
		    k->certs, &k->ncerts, &cert, GNUTLS_X509_FMT_PEM,
		    GNUTLS_X509_CRT_LIST_FAIL_IF_UNSORTED) < 0) {
		k->ncerts = 0;
		goto fail;
	}
	if (gnutls_privkey_init(&k->key) < 0) {
		k->key = NULL;
		goto fail;
	}
	if (gnutls_privkey_import_x509_raw(k->key, &key, GNUTLS_X509_FMT_PEM,
					   NULL, 0) < 0)
		goto fail;
	k->cert_pem = xstrdup(w->cert_pem);
	k->key_pem = xstrdup(w->key_pem);
	return k;
fail:
	tls_keys_free(k);
	return NULL;
}

static int retrieve_cert(gnutls_session_t s, const gnutls_datum_t *req_ca_dn,
			 int nreqs, const gnutls_pk_algorithm_t *algos,
			 int nalgos, gnutls_pcert_st **pcert,
			 unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
	(void)s;
	(void)req_ca_dn;
	(void)nreqs;
	(void)algos;
	(void)nalgos;
	pthread_mutex_lock(&keys_lock);
	*pcert = keys->certs;
	*pcert_length = keys->ncerts;
	*pkey = keys->key;
	pthread_mutex_unlock(&keys_lock);
	return 0;
}

/*
 * After a reload: take a new certificate or key at once; other TLS
 * settings are the listener's and wait for a restart.
 */
static void on_reload(const struct runtime *rt)
{
	const struct webconfig *w = rt->web;
	struct tls_keys *k;

	if (!listen_web || !listen_web->tls) {
		if (w && w->tls)
			log_warn("TLS was off at start: it takes a restart to "
				 "serve TLS",
				 NULL);
		return;
	}
	if (!w || !w->tls) {
		log_warn("TLS is on until the next restart: the web config "
			 "no longer has tls_server_config",
			 NULL);
		return;
	}
	if (!webconfig_same_tls(listen_web, w))
		log_warn("the web config's client certificate or TLS version "
			 "settings changed: they take effect at the next "
			 "restart",
			 NULL);
	if (!strcmp(keys->cert_pem, w->cert_pem) &&
	    !strcmp(keys->key_pem, w->key_pem))
		return;
	k = tls_keys_new(w);
	if (!k) {
		log_error("the new TLS certificate or key cannot be used; the "
			  "previous ones keep serving",
			  NULL);
		return;
	}
	pthread_mutex_lock(&keys_lock);
	k->older = keys;
	keys = k;
	pthread_mutex_unlock(&keys_lock);
	log_info("TLS certificate and key replaced", NULL);
}

typedef enum MHD_Result (*route_fn)(struct request *r);

static enum MHD_Result respond(struct request *r, unsigned status,
			       const char *type, char *body, size_t len,
			       bool gzipped)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, body,
					       MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (gzipped)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING,
					"gzip");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result respond_text(struct request *r, unsigned status,
				    const char *text)
{
	char *body = xstrdup(text);

	return respond(r, status, "text/plain; charset=utf-8", body,
		       strlen(body), false);
}

/* Does the Accept-Encoding header allow gzip (and not with q=0)? */
static bool accepts_gzip(const char *h)
{
	const char *p = h;

	while (p && (p = strstr(p, "gzip"))) {
		const char *end = p + 4;

		if ((p == h || p[-1] == ' ' || p[-1] == ',') &&
		    (*end == '\0' || *end == ',' || *end == ';' ||
		     *end == ' ')) {
			const char *q = strstr(end, "q=");
			const char *comma = strchr(end, ',');

			if (q && (!comma || q < comma) &&
			    strtod(q + 2, NULL) == 0)
				return false;
			return true;
		}
		p = end;
	}
	return false;
}

/* gzip 'in' into a new buffer; NULL on failure (send it plain then). */
static char *gzip(const char *in, size_t len, size_t *outlen)
{
	z_stream z;
	size_t cap = compressBound((uLong)len) + 64;
	char *out = xmalloc(cap);

	memset(&z, 0, sizeof(z));
	/*
	 * Z_BEST_SPEED: a third of level 6's CPU for a page about 15% larger
	 * (measured on a pgpulse page); scrapes are frequent and local.
	 */
	if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		free(out);
		return NULL;
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(out);
		return NULL;
	}
	*outlen = z.total_out;
	deflateEnd(&z);
	return out;
}

/* The deadline for a scrape: the config's, or Prometheus' if shorter. */
static double scrape_deadline(struct request *r, const struct runtime *rt)
{
	const char *h = MHD_lookup_connection_value(
		r->conn, MHD_HEADER_KIND,
		"X-Prometheus-Scrape-Timeout-Seconds");
	double limit = rt->cfg.scrape_timeout;

	if (h) {
		char *end;
		double v = strtod(h, &end);

		if (end != h && v > 0) {
			v -= v > 5 * SCRAPE_MARGIN ? SCRAPE_MARGIN : v * 0.1;
			if (v < limit)
				limit = v;
		}
	}
	return clock_now() + limit;
}

static enum MHD_Result serve_page(struct request *r, struct runtime *rt,
				  struct target **ts, size_t n, bool label)
{
	const char *accept =
		MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Accept");
	const char *enc = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						      "Accept-Encoding");
	enum expfmt_format fmt = expfmt_negotiate(accept);
	size_t len = 0, zlen = 0;
	char *page, *z = NULL;

	page = scrape_run(rt, ts, n, label, scrape_deadline(r, rt), fmt, &len);
	if (!page)
		return respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
				    "the page exceeds the response size cap\n");
	if (enc && accepts_gzip(enc))
		z = gzip(page, len, &zlen);
	if (z) {
		free(page);
		return respond(r, MHD_HTTP_OK, expfmt_content_type(fmt), z,
			       zlen, true);
	}
	return respond(r, MHD_HTTP_OK, expfmt_content_type(fmt), page, len,
		       false);
}

static enum MHD_Result route_metrics(struct request *r)
{
	struct runtime *rt = runtime_acquire();
	enum MHD_Result ret;

	ret = serve_page(r, rt, rt->targets, rt->ntargets, rt->label_targets);
	runtime_release(rt);
	return ret;
}

static enum MHD_Result route_probe(struct request *r)
{
	static const unsigned status[] = {
		[PROBE_OK] = MHD_HTTP_OK,
		[PROBE_BAD_REQUEST] = MHD_HTTP_BAD_REQUEST,
		[PROBE_FORBIDDEN] = MHD_HTTP_FORBIDDEN,
		[PROBE_BUSY] = MHD_HTTP_SERVICE_UNAVAILABLE,
	};
	const char *spec = MHD_lookup_connection_value(
		r->conn, MHD_GET_ARGUMENT_KIND, "target");
	const char *module = MHD_lookup_connection_value(
		r->conn, MHD_GET_ARGUMENT_KIND, "auth_module");
	struct err e = ERR_INIT;
	enum probe_result pr;
	struct runtime *rt;
	struct target *t;
	enum MHD_Result ret;
	char *msg;

	if (!spec || !*spec)
		return respond_text(r, MHD_HTTP_BAD_REQUEST,
				    "the 'target' parameter is missing\n");
	rt = runtime_acquire();
	/* never a proxy: configured targets and probe.allow only */
	pr = runtime_probe(rt, spec, module && *module ? module : NULL, &t, &e);
	if (pr != PROBE_OK) {
		runtime_release(rt);
		msg = xasprintf("%s\n", e.msg);
		ret = respond(r, status[pr], "text/plain; charset=utf-8", msg,
			      strlen(msg), false);
		return ret;
	}
	ret = serve_page(r, rt, &t, 1, false);
	runtime_probe_put(rt, t);
	runtime_release(rt);
	return ret;
}

static enum MHD_Result route_healthz(struct request *r)
{
	return respond_text(r, MHD_HTTP_OK, "ok\n");
}

static enum MHD_Result route_readyz(struct request *r)
{
	char *text;
	size_t len;
	struct runtime *rt = runtime_acquire();
	struct sb body = SB_INIT(0);
	bool ready = true;
	size_t i;

	for (i = 0; i < rt->ntargets; i++) {
		struct target *t = rt->targets[i];
		bool ever;

		pthread_mutex_lock(&t->lock);
		ever = t->ever_up;
		pthread_mutex_unlock(&t->lock);
		ready &= ever;
		sb_addf(&body, "%s %s\n", t->name,
			ever ? "reached" : "not reached yet");
	}
	runtime_release(rt);
	/* detach first: it empties 'body', len included */
	text = sb_detach(&body, &len);
	return respond(r, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
		       "text/plain; charset=utf-8", text, len, false);
}

static void html_escape(struct sb *sb, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			sb_adds(sb, "&lt;");
			break;
		case '>':
			sb_adds(sb, "&gt;");
			break;
		case '&':
			sb_adds(sb, "&amp;");
			break;
		case '"':
			sb_adds(sb, "&quot;");
			break;
		default:
			sb_addc(sb, *s);
		}
	}
}

static enum MHD_Result route_landing(struct request *r)
{
	struct runtime *rt = runtime_acquire();
	struct sb b = SB_INIT(0);
	size_t i, len;
	char *body;

	sb_adds(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
		    "<title>pgpulse</title></head><body>\n"
		    "<h1>pgpulse</h1>\n<p>PostgreSQL exporter for Prometheus, "
		    "version " PGPULSE_VERSION ".</p>\n"
		    "<p><a href=\"metrics\">Metrics</a> &middot; "
		    "<a href=\"healthz\">Health</a> &middot; "
		    "<a href=\"readyz\">Readiness</a></p>\n"
		    "<h2>Targets</h2>\n<table>\n"
		    "<tr><th>name</th><th>kind</th><th>state</th>"
		    "<th>probe</th></tr>\n");
	for (i = 0; i < rt->ntargets; i++) {
		struct target *t = rt->targets[i];
		bool up, ever;

		pthread_mutex_lock(&t->lock);
		up = t->up;
		/* tried: a target never reached is down, not unscraped */
		ever = t->ever_up || t->stats.attempts > 0;
		pthread_mutex_unlock(&t->lock);
		sb_adds(&b, "<tr><td>");
		html_escape(&b, t->name);
		sb_addf(&b, "</td><td>%s</td><td>%s</td><td>",
			target_kind_names[t->cfg->kind],
			up     ? "up"
			: ever ? "down"
			       : "not scraped yet");
		sb_adds(&b, "<a href=\"probe?target=");
		html_escape(&b, t->name);
		sb_adds(&b, "\">probe</a></td></tr>\n");
	}
	sb_adds(&b, "</table>\n</body></html>\n");
	runtime_release(rt);
	body = sb_detach(&b, &len);
	return respond(r, MHD_HTTP_OK, "text/html; charset=utf-8", body, len,
		       false);
}

static enum MHD_Result route_reload(struct request *r)
{
	if (!r->opts->lifecycle)
		return respond_text(r, MHD_HTTP_FORBIDDEN,
				    "reload over HTTP is off; start with "
				    "--web.enable-lifecycle\n");
	if (runtime_reload(r->opts) < 0)
		return respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
				    "reload failed: the previous "
				    "configuration keeps serving; see the "
				    "log\n");
	return respond_text(r, MHD_HTTP_OK, "reloaded\n");
}

/*
 * Every route but /healthz needs the web config's basic auth: /healthz
 * says "ok" and nothing else, for liveness checks that cannot log in.
 */
static const struct route {
	const char *path;
	const char *method;
	route_fn fn;
	bool open;
} routes[] = {
	{"/metrics", "GET", route_metrics, false},
	{"/probe", "GET", route_probe, false},
	{"/healthz", "GET", route_healthz, true},
	{"/readyz", "GET", route_readyz, false},
	{"/-/reload", "POST", route_reload, false},
	{"/", "GET", route_landing, false},
};

/*
 * The client certificate check the web config asks for. GnuTLS asks for a
 * certificate when a CA is set; verifying it is left to us.
 */
static bool client_cert_ok(struct request *r)
{
	const union MHD_ConnectionInfo *ci;
	enum client_auth mode =
		listen_web ? listen_web->client_auth : CLIENT_AUTH_NONE;
	unsigned int n = 0, status = 0;
	gnutls_session_t s;

	if (!listen_web || !listen_web->tls || mode <= CLIENT_AUTH_REQUEST)
		return true;
	ci = MHD_get_connection_info(r->conn,
				     MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return false;
	s = (gnutls_session_t)ci->tls_session;
	if (!gnutls_certificate_get_peers(s, &n) || n == 0)
		return mode == CLIENT_AUTH_VERIFY_IF_GIVEN;
	if (mode == CLIENT_AUTH_REQUIRE_ANY)
		return true;
	return gnutls_certificate_verify_peers2(s, &status) == 0 && status == 0;
}

/* Failed logins since the last line about them, for the rate limit. */
static struct {
	pthread_mutex_t lock;
	unsigned long count;
	double logged_at;
} failures = {.lock = PTHREAD_MUTEX_INITIALIZER};

/*
 * Count a failed login, and log at most one line per AUTH_LOG_EVERY
 * seconds with the failures since the previous line: a flood of guesses
 * does not flood the log. The user name is not logged (it may be a
 * password typed in the wrong field).
 */
static void note_failure(struct request *r)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char addr[NI_MAXHOST] = "?", count[32];
	double now = clock_now();
	unsigned long n = 0;

	selfmetrics_count_auth_failure();
	pthread_mutex_lock(&failures.lock);
	failures.count++;
	if (!failures.logged_at || now - failures.logged_at >= AUTH_LOG_EVERY) {
		n = failures.count;
		failures.count = 0;
		failures.logged_at = now;
	}
	pthread_mutex_unlock(&failures.lock);
	if (!n)
		return;
	if (ci && ci->client_addr)
		getnameinfo(ci->client_addr,
			    ci->client_addr->sa_family == AF_INET6
				    ? sizeof(struct sockaddr_in6)
				    : sizeof(struct sockaddr_in),
			    addr, sizeof(addr), NULL, 0, NI_NUMERICHOST);
	snprintf(count, sizeof(count), "%lu", n);
	log_warn("failed web logins", "count", count, "last_client", addr,
		 NULL);
}

/* Basic auth against the current snapshot's users. */
static enum web_auth authorised(struct request *r)
{
	struct runtime *rt = runtime_acquire();
	char *pass = NULL, *user = NULL;
	enum web_auth ok = WEB_AUTH_OK;

	if (rt && webconfig_has_users(rt->web)) {
		user = MHD_basic_auth_get_username_password(r->conn, &pass);
		ok = webconfig_check(rt->web, user, pass);
		/* no credentials at all is a first request, not a guess */
		if (ok == WEB_AUTH_DENIED && user)
			note_failure(r);
		if (pass) {
			explicit_bzero(pass, strlen(pass));
			MHD_free(pass);
		}
		if (user)
			MHD_free(user);
	}
	runtime_release(rt);
	return ok;
}

static enum MHD_Result refuse_auth(struct request *r)
{
	static const char body[] = "authentication required\n";
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(body), (void *)body,
					       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; charset=utf-8");
	ret = MHD_queue_basic_auth_fail_response(r->conn, "pgpulse", resp);
	MHD_destroy_response(resp);
	return ret;
}

/* 'why' is not WEB_AUTH_OK: a 401, or a 503 when checks are all busy. */
static enum MHD_Result refuse(struct request *r, enum web_auth why)
{
	if (why == WEB_AUTH_BUSY)
		return respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE,
				    "too many logins being checked; try "
				    "again\n");
	return refuse_auth(r);
}

/*
 * The connections being read, so that a request trickled in a byte at a
 * time cannot hold a slot: libmicrohttpd's connection timeout is an idle
 * timeout, so pgpulse also gives each request a total deadline, from the
 * connection (or the end of the previous response) to its last header.
 * A sweeper thread shuts down the sockets of requests past it.
 */
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

static void on_connection(void *cls, struct MHD_Connection *conn, void **ctx,
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
		c->since = clock_now();
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

/* The request's headers are in: its read deadline no longer applies. */
static void conn_serving(struct MHD_Connection *conn)
{
	struct conn_slot *c = slot_of(conn);

	pthread_mutex_lock(&conns.lock);
	if (c)
		c->serving = true;
	pthread_mutex_unlock(&conns.lock);
}

/* A response is done: a kept-alive connection reads its next request. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn_slot *c = slot_of(conn);

	(void)cls;
	(void)state;
	(void)toe;
	pthread_mutex_lock(&conns.lock);
	if (c) {
		c->serving = false;
		c->since = clock_now();
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
		now = clock_now();
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

static void sweeper_start(double deadline)
{
	conns.deadline = deadline;
	conns.stop = false;
	conns.running = pthread_create(&conns.thread, NULL, sweeper, NULL) == 0;
	if (!conns.running)
		log_warn("cannot start the request deadline thread; only the "
			 "idle timeout applies",
			 NULL);
}

static void sweeper_stop(void)
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

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_data_size, void **state)
{
	static int first_call;
	struct request r = {conn, cls, method, url};
	enum web_auth auth;
	size_t i;

	(void)version;
	(void)upload_data;
	/* answer once the headers are in; a request body is ignored */
	if (!*state) {
		*state = &first_call;
		conn_serving(conn);
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!client_cert_ok(&r))
		return respond_text(&r, MHD_HTTP_FORBIDDEN,
				    "a valid client certificate is "
				    "required\n");
	for (i = 0; i < ARRAY_SIZE(routes); i++) {
		if (strcmp(url, routes[i].path))
			continue;
		if (!routes[i].open && (auth = authorised(&r)) != WEB_AUTH_OK)
			return refuse(&r, auth);
		if (!strcmp(method, routes[i].method) ||
		    (!strcmp(method, "HEAD") &&
		     !strcmp(routes[i].method, "GET")))
			return routes[i].fn(&r);
		return respond_text(&r, MHD_HTTP_METHOD_NOT_ALLOWED,
				    "method not allowed\n");
	}
	if ((auth = authorised(&r)) != WEB_AUTH_OK)
		return refuse(&r, auth);
	return respond_text(&r, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	log_debug("http", "err", buf, NULL);
}

/* "host:port", ":port", "[v6]:port" -> a socket address. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, bool *any,
			struct err *e)
{
	char host[256];
	const char *colon = strrchr(s, ':');
	const char *port;
	struct addrinfo hints, *ai = NULL;
	size_t hlen;
	int rc;

	if (!colon)
		return err_set(e, "listen address '%s' needs a port", s);
	port = colon + 1;
	hlen = (size_t)(colon - s);
	if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
		s++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		return err_set(e, "listen address '%s' is too long", s);
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = hlen ? AF_UNSPEC : AF_INET6;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	*any = hlen == 0;
	rc = getaddrinfo(hlen ? host : NULL, port, &hints, &ai);
	if (rc)
		return err_set(e, "listen address '%s': %s", s,
			       gai_strerror(rc));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return 0;
}

static struct MHD_Daemon *start(unsigned flags, struct sockaddr_storage *ss,
				const struct cli *o)
{
	struct MHD_OptionItem opts[16];
	char prio[128];
	size_t n = 0;

#define OPT(k, v, p) opts[n++] = (struct MHD_OptionItem){k, (intptr_t)(v), p}
	OPT(MHD_OPTION_SOCK_ADDR, 0, ss);
	OPT(MHD_OPTION_CONNECTION_LIMIT, o->max_connections, NULL);
	/* one client may take half, so a second Prometheus always fits */
	OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_connections / 2, NULL);
	/* slow clients: idle this long and the connection is closed */
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, o->read_timeout, NULL);
	/* request line and headers must fit: 414 or 431 beyond */
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, 32768, NULL);
	OPT(MHD_OPTION_THREAD_STACK_SIZE, 1024 * 1024, NULL);
	OPT(MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL);
	OPT(MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL);
	if (listen_web && listen_web->tls) {
		webconfig_priorities(listen_web, prio, sizeof(prio));
		OPT(MHD_OPTION_HTTPS_CERT_CALLBACK, 0, retrieve_cert);
		OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, prio);
		if (listen_web->ca_pem &&
		    listen_web->client_auth != CLIENT_AUTH_NONE)
			OPT(MHD_OPTION_HTTPS_MEM_TRUST, 0, listen_web->ca_pem);
	}
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
	return MHD_start_daemon(flags, 0, NULL, NULL, handle, (void *)o,
				MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
}

struct MHD_Daemon *http_start(const struct cli *o, struct err *e)
{
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	struct sockaddr_storage ss;
	struct MHD_Daemon *d;
	bool any = false;

	if (parse_listen(o->listen, &ss, &any, e) < 0)
		return NULL;
	if (o->web_config) {
		struct diags dg = DIAGS_INIT;

		listen_web = webconfig_load(o->web_config, &dg);
		diags_release(&dg);
		if (!listen_web) {
			err_set(e, "the web config file is not valid");
			return NULL;
		}
		if (listen_web->tls &&
		    MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			err_set(e, "this libmicrohttpd has no TLS support");
			goto fail;
		}
		if (listen_web->tls) {
			keys = tls_keys_new(listen_web);
			if (!keys) {
				err_set(e, "GnuTLS cannot use the certificate "
					   "or key");
				goto fail;
			}
			flags |= MHD_USE_TLS;
		}
	}
	runtime_on_reload(on_reload);
	if (any)
		flags |= MHD_USE_DUAL_STACK;
	else if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	d = start(flags, &ss, o);
	if (!d && any) {
		/* no IPv6 on this host: listen on IPv4 only */
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		unsigned short port =
			ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);

		memset(&ss, 0, sizeof(ss));
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		in->sin_addr.s_addr = htonl(INADDR_ANY);
		d = start(flags & ~(unsigned)MHD_USE_DUAL_STACK, &ss, o);
	}
	if (d) {
		sweeper_start(o->read_timeout);
		return d;
	}
	err_set(e,
		"cannot listen on '%s' (in use, not allowed, or a bad "
		"certificate or key)",
		o->listen);
fail:
	runtime_on_reload(NULL);
	tls_keys_free(keys);
	keys = NULL;
	webconfig_free(listen_web);
	listen_web = NULL;
	return NULL;
}

static struct {
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	bool done;
} stopping = {.lock = PTHREAD_MUTEX_INITIALIZER,
	      .done_cond = PTHREAD_COND_INITIALIZER};

static void *stop_daemon(void *d)
{
	MHD_stop_daemon(d);
	pthread_mutex_lock(&stopping.lock);
	stopping.done = true;
	pthread_cond_signal(&stopping.done_cond);
	pthread_mutex_unlock(&stopping.lock);
	return NULL;
}

/*
 * Stop the daemon, giving requests in flight STOP_WAIT seconds: a scrape
 * or a login check that takes longer does not hold up the shutdown, the
 * process exits under it.
 */
static void stop_within(struct MHD_Daemon *d)
{
	struct timespec until;
	pthread_t th;
	bool done;

	if (pthread_create(&th, NULL, stop_daemon, d) != 0) {
		MHD_stop_daemon(d);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += STOP_WAIT;
	pthread_mutex_lock(&stopping.lock);
	while (!stopping.done)
		if (pthread_cond_timedwait(&stopping.done_cond, &stopping.lock,
					   &until) == ETIMEDOUT)
			break;
	done = stopping.done;
	pthread_mutex_unlock(&stopping.lock);
	if (!done) {
		log_warn("requests still running after the shutdown wait; "
			 "exiting without them",
			 NULL);
		fflush(NULL);
		_exit(0);
	}
	pthread_join(th, NULL);
}

void http_stop(struct MHD_Daemon *d)
{
	if (d)
		stop_within(d);
	sweeper_stop();
	runtime_on_reload(NULL);
	tls_keys_free(keys);
	keys = NULL;
	webconfig_free(listen_web);
	listen_web = NULL;
}
