/*
 * The exporter-toolkit web config: TLS settings and bcrypt basic auth,
 * loaded with positions like the other YAML files.
 */
#include <crypt.h>
#include <ctype.h>
#include <time.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "webconfig.h"
#include "xalloc.h"
#include "ydoc.h"

#define MAX_WEBCONFIG_BYTES (1u << 20)
#define MAX_PEM_BYTES	    (1u << 20)
#define MAX_CACHED	    16
#define MIN_COST	    4  /* bcrypt's own minimum */
#define MAX_COST	    14 /* about a second of CPU per check */
#define MAX_CHECKS	    2  /* bcrypt checks at once, process-wide */
#define CHECK_WAIT	    2  /* seconds a check waits for a slot */

/*
 * Salt and hash (of no one's password) that an unknown user is checked
 * against, with the first user's cost in front.
 */
#define DUMMY_SALT "ihdNY8hVwsi1Uh9khjVS0uJIG9/apIk2.8dcquaLkzznHHF.JLBja"

static const char bcrypt_alphabet[] =
	"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* Slots for bcrypt checks: a flood of guesses cannot take every core. */
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slots_free = PTHREAD_COND_INITIALIZER;
static unsigned slots_used;

static const char *const top_keys[] = {"tls_server_config", "basic_auth_users",
				       "http_server_config"};
enum { W_TLS, W_USERS, W_HTTP, W_N };

static const char *const tls_keys[] = {
	"cert_file",	    "key_file",		 "client_ca_file",
	"client_auth_type", "min_version",	 "max_version",
	"cipher_suites",    "curve_preferences", "prefer_server_cipher_suites",
};
enum {
	K_CERT,
	K_KEY,
	K_CA,
	K_AUTH,
	K_MIN,
	K_MAX,
	K_CIPHERS,
	K_CURVES,
	K_PREFER,
	K_N
};

static const char *const auth_types[] = {
	[CLIENT_AUTH_NONE] = "NoClientCert",
	[CLIENT_AUTH_REQUEST] = "RequestClientCert",
	[CLIENT_AUTH_REQUIRE_ANY] = "RequireAnyClientCert",
	[CLIENT_AUTH_VERIFY_IF_GIVEN] = "VerifyClientCertIfGiven",
	[CLIENT_AUTH_REQUIRE_VERIFY] = "RequireAndVerifyClientCert",
};

static const char *const versions[] = {"TLS10", "TLS11", "TLS12", "TLS13"};

/* A file named by key 'what', relative to the web config's directory. */
static char *read_pem(struct ydoc *y, const yaml_node_t *n, const char *dir,
		      const char *what)
{
	struct diags tmp = DIAGS_INIT;
	char *name = NULL, *path, *text;
	size_t len;

	if (ydoc_str(y, n, what, &name) < 0)
		return NULL;
	path = name[0] == '/' || !dir ? xstrdup(name)
				      : xasprintf("%s/%s", dir, name);
	/* the reason without the path: paths are not shown */
	text = ydoc_read_file(path, MAX_PEM_BYTES, &len, &tmp);
	if (!text)
		ydoc_error(y, n, "cannot read '%s'", what);
	else if (!strstr(text, "-----BEGIN "))
		ydoc_error(y, n, "'%s' is not a PEM file", what);
	diags_release(&tmp);
	free(path);
	free(name);
	return text;
}

/* The key must be the certificate's, both in a form GnuTLS takes. */
static void check_pair(struct ydoc *y, const yaml_node_t *at,
		       const struct webconfig *w)
{
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t cert = {(unsigned char *)w->cert_pem,
			       (unsigned)strlen(w->cert_pem)};
	gnutls_datum_t key = {(unsigned char *)w->key_pem,
			      (unsigned)strlen(w->key_pem)};
	int rc;

	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		return;
	rc = gnutls_certificate_set_x509_key_mem(cred, &cert, &key,
						 GNUTLS_X509_FMT_PEM);
	if (rc < 0)
		ydoc_error(y, at,
			   "'cert_file' and 'key_file' are not a usable "
			   "pair: %s",
			   gnutls_strerror(rc));
	gnutls_certificate_free_credentials(cred);
}

static void parse_tls(struct ydoc *y, struct webconfig *w, yaml_node_t *n,
		      const char *dir)
{
	yaml_node_t *v[K_N];
	int i;

	if (ydoc_fields(y, n, "tls_server_config", tls_keys, K_N, v,
			DIAG_ERROR) < 0)
		return;
	w->tls = true;
	if (!v[K_CERT] || !v[K_KEY])
		ydoc_error(y, n, "'cert_file' and 'key_file' are required");
	if (v[K_CERT])
		w->cert_pem = read_pem(y, v[K_CERT], dir, "cert_file");
	if (v[K_KEY])
		w->key_pem = read_pem(y, v[K_KEY], dir, "key_file");
	if (v[K_CA])
		w->ca_pem = read_pem(y, v[K_CA], dir, "client_ca_file");
	if (w->cert_pem && w->key_pem)
		check_pair(y, v[K_KEY], w);
	/* exporter-toolkit: a CA alone means certificates are required */
	w->client_auth = w->ca_pem || v[K_CA] ? CLIENT_AUTH_REQUIRE_VERIFY
					      : CLIENT_AUTH_NONE;
	if (v[K_AUTH] && ydoc_enum(y, v[K_AUTH], "client_auth_type", auth_types,
				   ARRAY_SIZE(auth_types), &i) == 0) {
		w->client_auth = (enum client_auth)i;
		/* GnuTLS asks clients for certificates only with a CA */
		if (i != CLIENT_AUTH_NONE && !v[K_CA])
			ydoc_error(y, v[K_AUTH],
				   "'%s' needs 'client_ca_file': pgpulse asks "
				   "for client certificates of that CA",
				   auth_types[i]);
	}
	if (v[K_MIN] && ydoc_enum(y, v[K_MIN], "min_version", versions,
				  ARRAY_SIZE(versions), &i) == 0)
		w->min_version = 10 + i;
	if (v[K_MAX] && ydoc_enum(y, v[K_MAX], "max_version", versions,
				  ARRAY_SIZE(versions), &i) == 0)
		w->max_version = 10 + i;
	if (w->min_version > w->max_version)
		ydoc_error(y, v[K_MIN] ? v[K_MIN] : v[K_MAX],
			   "'min_version' is above 'max_version'");
	for (i = K_CIPHERS; i < K_N; i++)
		if (v[i])
			ydoc_warning(y, v[i],
				     "'%s' is ignored: GnuTLS's default "
				     "choices apply",
				     tls_keys[i]);
}

/*
 * The cost of a bcrypt hash: "$2a$", "$2b$" or "$2y$", two digits, "$",
 * then 53 characters of salt and hash in bcrypt's base64. -1 if it is not
 * one.
 */
static int bcrypt_cost(const char *h)
{
	if (strlen(h) != 60 || h[0] != '$' || h[1] != '2' || !h[2] ||
	    !strchr("aby", h[2]) || h[3] != '$' ||
	    !isdigit((unsigned char)h[4]) || !isdigit((unsigned char)h[5]) ||
	    h[6] != '$' || strspn(h + 7, bcrypt_alphabet) != 53)
		return -1;
	return (h[4] - '0') * 10 + (h[5] - '0');
}

/* The hash itself is never shown: it can be attacked offline. */
static int check_hash(struct ydoc *y, const yaml_node_t *at, const char *user,
		      const char *hash)
{
	int cost = bcrypt_cost(hash);

	if (cost < 0 || crypt_checksalt(hash) != CRYPT_SALT_OK) {
		ydoc_error(y, at,
			   "user '%.64s': not a bcrypt hash ($2y$, $2b$ or "
			   "$2a$, two digits of cost, $, 53 characters; make "
			   "one with htpasswd -nBC 10 USER)",
			   user);
		return -1;
	}
	if (cost < MIN_COST || cost > MAX_COST) {
		ydoc_error(y, at,
			   "user '%.64s': bcrypt cost %d is not from %d to %d "
			   "(each login costs 2^cost rounds; make a hash with "
			   "htpasswd -nBC 10 USER)",
			   user, cost, MIN_COST, MAX_COST);
		return -1;
	}
	return 0;
}

static void parse_users(struct ydoc *y, struct webconfig *w, yaml_node_t *n)
{
	struct ypair *pairs;
	size_t np, i;
	char *hash;

	if (ydoc_is_null(n))
		return;
	if (n->type != YAML_MAPPING_NODE) {
		ydoc_error(y, n, "'basic_auth_users' must be a mapping, not %s",
			   ydoc_kind(n));
		return;
	}
	pairs = ydoc_pairs(y, n, "user", &np);
	w->users = xcalloc(np + 1, sizeof(*w->users));
	for (i = 0; i < np; i++) {
		if (strchr(pairs[i].key, ':') || !pairs[i].key[0]) {
			ydoc_error(y, pairs[i].knode,
				   "a user name cannot be empty or hold ':'");
			continue;
		}
		if (ydoc_str(y, pairs[i].vnode, "hash", &hash) < 0)
			continue;
		if (check_hash(y, pairs[i].vnode, pairs[i].key, hash) < 0) {
			free(hash);
			continue;
		}
		w->users[w->nusers].name = xstrdup(pairs[i].key);
		w->users[w->nusers++].hash = hash;
	}
	free(pairs);
	/* unknown users cost a check of the first user's cost too */
	if (w->nusers)
		w->dummy = xasprintf("$2b$%.2s$%s", w->users[0].hash + 4,
				     DUMMY_SALT);
}

struct webconfig *webconfig_load(const char *path, struct diags *d)
{
	struct webconfig *w = xcalloc(1, sizeof(*w));
	size_t nerr = d->nerrors, first = d->n, len;
	const char *slash = strrchr(path, '/');
	char *text = NULL, *dir = NULL;
	yaml_node_t *root, *v[W_N];
	struct ydoc y;

	/* a failed draw leaves a zero salt; still no password is kept */
	(void)gnutls_rnd(GNUTLS_RND_NONCE, w->salt, sizeof(w->salt));
	memset(&y, 0, sizeof(y));
	pthread_mutex_init(&w->lock, NULL);
	w->min_version = 12;
	w->max_version = 13;
	if (slash)
		dir = xstrndup(path,
			       slash == path ? 1 : (size_t)(slash - path));
	text = ydoc_read_file(path, MAX_WEBCONFIG_BYTES, &len, d);
	if (!text)
		goto out;
	if (ydoc_load(&y, path, text, len, d) < 0)
		goto out;
	root = ydoc_root(&y);
	if (!root)
		goto out;
	if (ydoc_fields(&y, root, "web config", top_keys, W_N, v, DIAG_ERROR) <
	    0)
		goto out;
	if (v[W_TLS] && !ydoc_is_null(v[W_TLS]))
		parse_tls(&y, w, v[W_TLS], dir);
	if (v[W_USERS])
		parse_users(&y, w, v[W_USERS]);
	if (v[W_HTTP])
		ydoc_warning(&y, v[W_HTTP],
			     "'http_server_config' is ignored: pgpulse "
			     "serves HTTP/1.1 with its own headers");
out:
	diags_sort(d, first);
	ydoc_release(&y);
	free(dir);
	free(text);
	if (d->nerrors > nerr) {
		webconfig_free(w);
		return NULL;
	}
	return w;
}

static void wipe(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void webconfig_free(struct webconfig *w)
{
	size_t i;

	if (!w)
		return;
	free(w->cert_pem);
	wipe(w->key_pem);
	free(w->ca_pem);
	for (i = 0; i < w->nusers; i++) {
		free(w->users[i].name);
		free(w->users[i].hash);
	}
	free(w->users);
	free(w->dummy);
	for (i = 0; i < w->nok; i++) {
		free(w->ok_user[i]);
		wipe(w->ok_pass[i]);
	}
	free(w->ok_user);
	free(w->ok_pass);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

bool webconfig_has_users(const struct webconfig *w)
{
	return w && w->nusers > 0;
}

/* Equal strings, in a time that depends on the lengths only. */
static bool ct_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), n = la > lb ? la : lb, i;
	unsigned char diff = la != lb;

	for (i = 0; i < n; i++)
		diff |= (unsigned char)(i < la ? a[i] : 0) ^
			(unsigned char)(i < lb ? b[i] : 0);
	return diff == 0;
}

/*
 * A salted SHA-256 of user and password, in hex, into 'out' (65 bytes):
 * what the cache of verified credentials keeps instead of the password.
 * Returns false when GnuTLS could not hash (then nothing is cached).
 */
static bool digest(const struct webconfig *w, const char *user,
		   const char *pass, char *out)
{
	size_t nu = strlen(user), np = strlen(pass), n;
	unsigned char md[32];
	unsigned char *buf;
	int rc;

	n = sizeof(w->salt) + nu + 1 + np;
	buf = xmalloc(n);
	memcpy(buf, w->salt, sizeof(w->salt));
	memcpy(buf + sizeof(w->salt), user, nu + 1);
	memcpy(buf + sizeof(w->salt) + nu + 1, pass, np);
	rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, n, md);
	explicit_bzero(buf, n);
	free(buf);
	if (rc < 0)
		return false;
	for (n = 0; n < sizeof(md); n++)
		snprintf(out + 2 * n, 3, "%02x", md[n]);
	return true;
}

static bool cached(struct webconfig *w, const char *user, const char *pass)
{
	char md[65];
	bool hit = false;
	size_t i;

	if (!digest(w, user, pass, md))
		return false;
	pthread_mutex_lock(&w->lock);
	for (i = 0; i < w->nok; i++)
		hit |= ct_equal(w->ok_user[i], user) &
		       ct_equal(w->ok_pass[i], md);
	pthread_mutex_unlock(&w->lock);
	return hit;
}

static void remember(struct webconfig *w, const char *user, const char *pass)
{
	char md[65];
	size_t slot;

	if (!digest(w, user, pass, md))
		return;
	pthread_mutex_lock(&w->lock);
	if (!w->ok_user) {
		w->ok_user = xcalloc(MAX_CACHED, sizeof(*w->ok_user));
		w->ok_pass = xcalloc(MAX_CACHED, sizeof(*w->ok_pass));
	}
	if (w->nok < MAX_CACHED) {
		slot = w->nok++;
	} else {
		/* forget the oldest */
		free(w->ok_user[0]);
		wipe(w->ok_pass[0]);
		memmove(w->ok_user, w->ok_user + 1,
			(MAX_CACHED - 1) * sizeof(*w->ok_user));
		memmove(w->ok_pass, w->ok_pass + 1,
			(MAX_CACHED - 1) * sizeof(*w->ok_pass));
		slot = MAX_CACHED - 1;
	}
	w->ok_user[slot] = xstrdup(user);
	w->ok_pass[slot] = xstrdup(md);
	pthread_mutex_unlock(&w->lock);
}

/* Take a bcrypt slot, waiting at most CHECK_WAIT seconds. */
static bool slot_take(void)
{
	struct timespec until;
	bool got;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += CHECK_WAIT;
	pthread_mutex_lock(&slots_lock);
	while (slots_used >= MAX_CHECKS)
		if (pthread_cond_timedwait(&slots_free, &slots_lock, &until))
			break;
	got = slots_used < MAX_CHECKS;
	if (got)
		slots_used++;
	pthread_mutex_unlock(&slots_lock);
	return got;
}

static void slot_give(void)
{
	pthread_mutex_lock(&slots_lock);
	slots_used--;
	pthread_cond_signal(&slots_free);
	pthread_mutex_unlock(&slots_lock);
}

enum web_auth webconfig_check(struct webconfig *w, const char *user,
			      const char *pass)
{
	const struct web_user *u = NULL;
	struct crypt_data *cd;
	const char *out;
	bool ok;
	size_t i;

	if (!webconfig_has_users(w))
		return WEB_AUTH_OK;
	if (!user || !pass)
		return WEB_AUTH_DENIED;
	/* bcrypt costs tens of milliseconds: remember what passed */
	if (cached(w, user, pass))
		return WEB_AUTH_OK;
	for (i = 0; i < w->nusers; i++)
		if (ct_equal(w->users[i].name, user))
			u = &w->users[i];
	if (!slot_take())
		return WEB_AUTH_BUSY;
	cd = xcalloc(1, sizeof(*cd));
	/* an unknown user costs a bcrypt as well, so timing tells nothing */
	out = crypt_r(pass, u ? u->hash : w->dummy, cd);
	ok = u && out && out[0] != '*' && ct_equal(out, u->hash);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	slot_give();
	if (ok)
		remember(w, user, pass);
	return ok ? WEB_AUTH_OK : WEB_AUTH_DENIED;
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

bool webconfig_same_tls(const struct webconfig *a, const struct webconfig *b)
{
	bool ta = a && a->tls, tb = b && b->tls;

	if (!ta || !tb)
		return ta == tb;
	return same(a->ca_pem, b->ca_pem) && a->client_auth == b->client_auth &&
	       a->min_version == b->min_version &&
	       a->max_version == b->max_version;
}

void webconfig_priorities(const struct webconfig *w, char *buf, size_t size)
{
	size_t len;
	int v;

	snprintf(buf, size, "NORMAL:-VERS-ALL");
	for (v = w->max_version; v >= w->min_version; v--) {
		len = strlen(buf);
		snprintf(buf + len, size - len, ":+VERS-TLS1.%d", v - 10);
	}
}
