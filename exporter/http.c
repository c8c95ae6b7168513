/*
 * The HTTP side: routes, content negotiation, gzip, limits.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include <zlib.h>
#include "http.h"
#include "expfmt.h"
#include "log.h"
#include "runtime.h"
#include "sb.h"
#include "scrape.h"
#include "target.h"
#include "xalloc.h"
#include "compat.h"

#define SCRAPE_MARGIN 0.5 /* seconds kept for rendering and sending */

struct request {
	struct MHD_Connection *conn;
	const struct cli *opts;
	const char *method;
	const char *url;
};

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
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK) {
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
	const char *name = MHD_lookup_connection_value(
		r->conn, MHD_GET_ARGUMENT_KIND, "target");
	struct runtime *rt;
	struct target *t;
	enum MHD_Result ret;

	if (!name || !*name)
		return respond_text(r, MHD_HTTP_BAD_REQUEST,
				    "the 'target' parameter is missing\n");
	rt = runtime_acquire();
	t = runtime_target(rt, name);
	if (!t) {
		/* never a proxy: only configured targets are reached */
		runtime_release(rt);
		return respond_text(r, MHD_HTTP_BAD_REQUEST,
				    "unknown target; /probe serves the "
				    "targets of the config file\n");
	}
	ret = serve_page(r, rt, &t, 1, false);
	runtime_release(rt);
	return ret;
}

static enum MHD_Result route_healthz(struct request *r)
{
	return respond_text(r, MHD_HTTP_OK, "ok\n");
}

static enum MHD_Result route_readyz(struct request *r)
{
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
	return respond(r, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
		       "text/plain; charset=utf-8", sb_detach(&body, NULL),
		       body.len, false);
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
		ever = t->ever_up;
		pthread_mutex_unlock(&t->lock);
		sb_adds(&b, "<tr><td>");
		html_escape(&b, t->name);
		sb_addf(&b, "</td><td>%s</td><td>%s</td><td>",
			t->cfg->kind == TARGET_PGBOUNCER ? "pgbouncer"
							 : "postgres",
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

static const struct route {
	const char *path;
	const char *method;
	route_fn fn;
} routes[] = {
	{"/metrics", "GET", route_metrics},  {"/probe", "GET", route_probe},
	{"/healthz", "GET", route_healthz},  {"/readyz", "GET", route_readyz},
	{"/-/reload", "POST", route_reload}, {"/", "GET", route_landing},
};

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_data_size, void **state)
{
	static int first_call;
	struct request r = {conn, cls, method, url};
	size_t i;

	(void)version;
	(void)upload_data;
	/* answer once the headers are in; a request body is ignored */
	if (!*state) {
		*state = &first_call;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	for (i = 0; i < ARRAY_SIZE(routes); i++) {
		if (strcmp(url, routes[i].path))
			continue;
		if (!strcmp(method, routes[i].method) ||
		    (!strcmp(method, "HEAD") &&
		     !strcmp(routes[i].method, "GET")))
			return routes[i].fn(&r);
		return respond_text(&r, MHD_HTTP_METHOD_NOT_ALLOWED,
				    "method not allowed\n");
	}
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
	return MHD_start_daemon(
		flags, 0, NULL, NULL, handle, (void *)o, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)ss, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)128, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)64,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
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
	if (!d)
		err_set(e, "cannot listen on '%s' (in use, or not allowed)",
			o->listen);
	return d;
}

void http_stop(struct MHD_Daemon *d)
{
	if (d)
		MHD_stop_daemon(d);
}
