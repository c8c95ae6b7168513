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
#include <microhttpd.h>
#include <zlib.h>
#include "http.h"
#include "httpconn.h"
#include "httptls.h"
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

#define SCRAPE_MARGIN  0.5 /* seconds kept for rendering and sending */
#define STOP_WAIT      5   /* seconds requests get to finish at shutdown */
#define AUTH_LOG_EVERY 10  /* seconds between lines about failed logins */

struct request {
	struct MHD_Connection *conn;
	const struct http_opts *opts;
	const char *method;
	const char *url;
};

/* After a reload: the TLS certificate and key may change at once. */
static void on_reload(const struct runtime *rt)
{
	httptls_reload(rt->web);
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

/*
 * A page compressed as it is rendered (sb_set_flush), so the whole text is
 * never held: only its compressed form and one family at a time.
 */
struct gz {
	z_stream z;
	struct sb out; /* the compressed page */
	bool failed;
};

#define GZ_CHUNK (64u << 10)

/* Deflate 'len' bytes of 'in' into g->out ('mode': Z_NO_FLUSH, Z_FINISH). */
static void gz_deflate(struct gz *g, const char *in, size_t len, int mode)
{
	int rc = Z_OK;

	g->z.next_in = (Bytef *)(uintptr_t)in;
	g->z.avail_in = (uInt)len;
	while (!g->failed &&
	       (mode == Z_FINISH ? rc != Z_STREAM_END : g->z.avail_in > 0)) {
		sb_grow(&g->out, GZ_CHUNK);
		if (g->out.failed)
			break;
		g->z.next_out = (Bytef *)g->out.buf + g->out.len;
		g->z.avail_out = (uInt)(g->out.cap - g->out.len - 1);
		rc = deflate(&g->z, mode);
		g->out.len = g->out.cap - 1 - g->z.avail_out;
		g->failed = rc == Z_STREAM_ERROR;
	}
	g->failed |= g->out.failed;
}

static void gz_flush(const char *buf, size_t len, void *arg)
{
	gz_deflate(arg, buf, len, Z_NO_FLUSH);
}

/* Start compressing what 'page' is flushed; false: send it plain. */
static bool gz_begin(struct gz *g, struct sb *page)
{
	memset(g, 0, sizeof(*g));
	sb_init(&g->out, SCRAPE_PAGE_MAX);
	/*
	 * Z_BEST_SPEED: a third of level 6's CPU for a page about 15% larger
	 * (measured on a pgpulse page); scrapes are frequent and local.
	 */
	if (deflateInit2(&g->z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return false;
	sb_set_flush(page, GZ_CHUNK, gz_flush, g);
	return true;
}

/* The rest of 'page', then the end of the stream; false when it failed. */
static bool gz_end(struct gz *g, struct sb *page)
{
	sb_flush(page, true);
	gz_deflate(g, NULL, 0, Z_FINISH);
	deflateEnd(&g->z);
	return !g->failed;
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
	return clock_mono() + limit;
}

static enum MHD_Result serve_page(struct request *r, struct runtime *rt,
				  struct target **ts, size_t n, bool label)
{
	const char *accept =
		MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Accept");
	const char *enc = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						      "Accept-Encoding");
	enum expfmt_format fmt = expfmt_negotiate(accept);
	struct sb page = SB_INIT(SCRAPE_PAGE_MAX);
	struct gz g;
	bool zip = enc && accepts_gzip(enc) && gz_begin(&g, &page), ok;
	struct sb *body = zip ? &g.out : &page;
	size_t len;
	char *buf;

	ok = scrape_run(rt, ts, n, label, scrape_deadline(r, rt), fmt, &page);
	if (zip)
		ok = gz_end(&g, &page) && ok;
	if (!ok) {
		sb_release(&page);
		if (zip)
			sb_release(&g.out);
		return respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
				    "the page exceeds the response size cap\n");
	}
	buf = sb_detach(body, &len);
	sb_release(&page);
	return respond(r, MHD_HTTP_OK, expfmt_content_type(fmt), buf, len, zip);
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
		struct target_status st;

		target_status(t, &st);
		ready &= st.ever_up;
		sb_addf(&body, "%s %s\n", t->name,
			st.ever_up ? "reached" : "not reached yet");
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
		struct target_status st;
		bool up, ever;

		target_status(t, &st);
		up = st.up;
		/* tried: a target never reached is down, not unscraped */
		ever = st.ever_up || st.pool.attempts > 0;
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
	if (runtime_reload(r->opts->reload) < 0)
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
	double now = clock_mono();
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
		httpconn_serving(conn);
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!httptls_client_ok(conn))
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
				const struct http_opts *o)
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
	OPT(MHD_OPTION_NOTIFY_CONNECTION, httpconn_notify, NULL);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, httpconn_completed, NULL);
	n += httptls_options(opts + n, prio, sizeof(prio));
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
	return MHD_start_daemon(flags, 0, NULL, NULL, handle, (void *)o,
				MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
}

struct MHD_Daemon *http_start(const struct http_opts *o, struct err *e)
{
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	struct sockaddr_storage ss;
	struct MHD_Daemon *d;
	bool any = false;

	if (parse_listen(o->listen, &ss, &any, e) < 0)
		return NULL;
	if (o->web_config && httptls_open(o->web_config, e) < 0)
		return NULL;
	if (httptls_on())
		flags |= MHD_USE_TLS;
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
		httpconn_start(o->read_timeout);
		return d;
	}
	err_set(e,
		"cannot listen on '%s' (in use, not allowed, or a bad "
		"certificate or key)",
		o->listen);
	runtime_on_reload(NULL);
	httptls_close();
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
	httpconn_stop();
	runtime_on_reload(NULL);
	httptls_close();
}
