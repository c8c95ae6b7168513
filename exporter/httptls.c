/*
 * TLS of the HTTP listener: the web config it started with, the
 * certificate and key GnuTLS hands out at each handshake (replaced on
 * reload), the client certificate check.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include "httptls.h"
#include "log.h"
#include "xalloc.h"
#include "compat.h"

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

int httptls_open(const char *path, struct err *e)
{
	struct diags dg = DIAGS_INIT;

	listen_web = webconfig_load(path, &dg);
	diags_release(&dg);
	if (!listen_web)
		return err_set(e, "the web config file is not valid");
	if (listen_web->tls &&
	    MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		err_set(e, "this libmicrohttpd has no TLS support");
		goto fail;
	}
	if (listen_web->tls) {
		keys = tls_keys_new(listen_web);
		if (!keys) {
			err_set(e, "GnuTLS cannot use the certificate or key");
			goto fail;
		}
	}
	return 0;
fail:
	httptls_close();
	return -1;
}

bool httptls_on(void)
{
	return listen_web && listen_web->tls;
}

size_t httptls_options(struct MHD_OptionItem *opts, char *prio,
		       size_t prio_size)
{
	size_t n = 0;

	if (!httptls_on())
		return 0;
	webconfig_priorities(listen_web, prio, prio_size);
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0,
					    (void *)retrieve_cert};
	opts[n++] =
		(struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, prio};
	if (listen_web->ca_pem && listen_web->client_auth != CLIENT_AUTH_NONE)
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST,
						    0, listen_web->ca_pem};
	return n;
}

void httptls_close(void)
{
	tls_keys_free(keys);
	keys = NULL;
	webconfig_free(listen_web);
	listen_web = NULL;
}

void httptls_reload(const struct webconfig *w)
{
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

bool httptls_client_ok(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	enum client_auth mode =
		listen_web ? listen_web->client_auth : CLIENT_AUTH_NONE;
	unsigned int n = 0, status = 0;
	gnutls_session_t s;

	if (!listen_web || !listen_web->tls || mode <= CLIENT_AUTH_REQUEST)
		return true;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return false;
	s = (gnutls_session_t)ci->tls_session;
	if (!gnutls_certificate_get_peers(s, &n) || n == 0)
		return mode == CLIENT_AUTH_VERIFY_IF_GIVEN;
	if (mode == CLIENT_AUTH_REQUIRE_ANY)
		return true;
	return gnutls_certificate_verify_peers2(s, &status) == 0 && status == 0;
}
