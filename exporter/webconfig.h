/*
 * The web config file of Prometheus exporters (exporter-toolkit's format):
 * TLS for the listener and bcrypt basic auth users.
 */
#ifndef WEBCONFIG_H
#define WEBCONFIG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include "compat.h"
#include "diag.h"

/* tls_server_config.client_auth_type, as exporter-toolkit names them. */
enum client_auth {
	CLIENT_AUTH_NONE,	     /* NoClientCert */
	CLIENT_AUTH_REQUEST,	     /* RequestClientCert */
	CLIENT_AUTH_REQUIRE_ANY,     /* RequireAnyClientCert */
	CLIENT_AUTH_VERIFY_IF_GIVEN, /* VerifyClientCertIfGiven */
	CLIENT_AUTH_REQUIRE_VERIFY,  /* RequireAndVerifyClientCert */
};

/*
 * One basic_auth_users entry: a bcrypt hash ($2a$, $2b$, $2y$) of cost 4
 * to 14, checked at load.
 */
struct web_user {
	char *name;
	char *hash;
};

/*
 * A loaded web config. Created by webconfig_load, freed by webconfig_free;
 * owned by the runtime snapshot (users, re-read at each reload) and by the
 * HTTP server (TLS, read once at start). Immutable but for the small cache
 * of verified credentials, which has its own lock.
 */
struct webconfig {
	bool tls;
	char *cert_pem, *key_pem, *ca_pem; /* file contents; ca may be NULL */
	enum client_auth client_auth;
	int min_version, max_version; /* 10..13 for TLS 1.0..1.3 */
	struct web_user *users;
	size_t nusers;
	char *dummy; /* a bcrypt setting to check unknown users against */

	pthread_mutex_t lock;
	/*
	 * credentials verified recently: the user, and a salted SHA-256 of
	 * user and password in hex (the password itself is not kept)
	 */
	char **ok_user, **ok_pass;
	size_t nok;
	unsigned char salt[16]; /* random, per web config */
};

/*
 * Load 'path' into a new webconfig. Every problem goes to 'd' with its
 * position; the certificate files are read now and the key checked against
 * the certificate (a message names a file only by its key, e.g. "cannot
 * read 'key_file'", never its path). Returns
 * NULL when any problem is an error.
 */
struct webconfig *webconfig_load(const char *path, struct diags *d);
void webconfig_free(struct webconfig *w);

enum web_auth {
	WEB_AUTH_OK,	 /* good credentials, or no users configured */
	WEB_AUTH_DENIED, /* missing or wrong */
	WEB_AUTH_BUSY,	 /* not checked: too many checks at once */
};

/*
 * Whether the request's credentials are good: 'user' is in
 * basic_auth_users and 'pass' matches its bcrypt hash. An unknown user
 * costs a bcrypt of the first user's cost, so the time taken does not tell
 * whether the user exists; comparisons are constant time. Credentials that
 * passed are remembered (a salted SHA-256, not the password) and pass
 * again without a bcrypt. At most 2 bcrypt checks run at once in the
 * process; a check that waited 2 seconds for its turn is WEB_AUTH_BUSY.
 */
enum web_auth webconfig_check(struct webconfig *w, const char *user,
			      const char *pass);

/* Whether basic auth is on. */
bool webconfig_has_users(const struct webconfig *w);

/*
 * Whether 'a' and 'b' have the same TLS settings other than the server's
 * certificate and key (those a running listener can change).
 */
bool webconfig_same_tls(const struct webconfig *a, const struct webconfig *b);

/*
 * GnuTLS priority string for the configured TLS versions, e.g.
 * "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2".
 */
void webconfig_priorities(const struct webconfig *w, char *buf, size_t size);

#endif
