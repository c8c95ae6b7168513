/*
 * One monitored server: a bounded pool of read-only, time-bounded sessions,
 * reconnected with backoff; queries run asynchronously so a deadline can
 * cancel them.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cstate.h"
#include "target.h"
#include "pwcmd.h"
#include "log.h"
#include "xalloc.h"
#include "compat.h"

#define BACKOFF_MAX 10.0
/* seconds a canceled query's session is waited for before it is closed */
#define CANCEL_GRACE 0.25
/* cancel requests that may be in flight at once, process-wide */
#define MAX_CANCELS 16

double clock_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double clock_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool is_conninfo_string(const char *s)
{
	return strchr(s, '=') || !strncmp(s, "postgresql://", 13) ||
	       !strncmp(s, "postgres://", 11);
}

/* Set 'key' to 'val' in the flattened parameters, replacing an earlier one. */
static void set_param(struct target *t, const char *key, const char *val)
{
	size_t i;

	for (i = 0; i < t->nparams; i++) {
		if (!strcmp(t->keys[i], key)) {
			free(t->vals[i]);
			t->vals[i] = xstrdup(val);
			return;
		}
	}
	t->keys = xrealloc(t->keys, (t->nparams + 1) * sizeof(*t->keys));
	t->vals = xrealloc(t->vals, (t->nparams + 1) * sizeof(*t->vals));
	t->keys[t->nparams] = xstrdup(key);
	t->vals[t->nparams] = xstrdup(val);
	t->nparams++;
}

static const char *get_param(const struct target *t, const char *key)
{
	size_t i;

	for (i = 0; i < t->nparams; i++)
		if (!strcmp(t->keys[i], key))
			return t->vals[i];
	return NULL;
}

static void del_param(struct target *t, const char *key)
{
	size_t i;

	for (i = 0; i < t->nparams; i++) {
		if (strcmp(t->keys[i], key))
			continue;
		free(t->keys[i]);
		free(t->vals[i]);
		t->nparams--;
		t->keys[i] = t->keys[t->nparams];
		t->vals[i] = t->vals[t->nparams];
		return;
	}
}

/*
 * Flatten the configured parameters: a URI or conninfo string in "dbname"
 * is expanded by libpq into its keywords, so that the database can be
 * replaced for per-database connections and the options merged.
 */
static int flatten_params(struct target *t, struct err *e)
{
	const struct target_config *cfg = t->cfg;
	size_t i;

	for (i = 0; i < cfg->nparams; i++) {
		PQconninfoOption *opts, *o;
		char *msg = NULL;

		if (strcmp(cfg->keys[i], "dbname") ||
		    !is_conninfo_string(cfg->vals[i])) {
			set_param(t, cfg->keys[i], cfg->vals[i]);
			continue;
		}
		opts = PQconninfoParse(cfg->vals[i], &msg);
		if (!opts) {
			char safe[256];

			log_redact(msg ? msg : "out of memory", safe,
				   sizeof(safe));
			PQfreemem(msg);
			return err_set(e, "invalid connection string: %s",
				       safe);
		}
		for (o = opts; o->keyword; o++)
			if (o->val)
				set_param(t, o->keyword, o->val);
		PQconninfoFree(opts);
	}
	return 0;
}

static int compile_patterns(char **pats, size_t n, void **out, struct err *e)
{
	regex_t *re;
	size_t i;

	*out = NULL;
	if (!n)
		return 0;
	re = xcalloc(n, sizeof(*re));
	for (i = 0; i < n; i++) {
		if (regcomp(&re[i], pats[i], REG_EXTENDED | REG_NOSUB)) {
			while (i--)
				regfree(&re[i]);
			free(re);
			return err_set(e, "invalid database pattern '%s'",
				       pats[i]);
		}
	}
	*out = re;
	return 0;
}

static void free_patterns(void *p, size_t n)
{
	regex_t *re = p;
	size_t i;

	if (!re)
		return;
	for (i = 0; i < n; i++)
		regfree(&re[i]);
	free(re);
}

struct target *target_new(const struct target_config *cfg,
			  const struct config *gcfg, struct err *e)
{
	struct target *t = xcalloc(1, sizeof(*t));

	t->cfg = cfg;
	t->gcfg = gcfg;
	t->name = xstrdup(cfg->name);
	t->cs = cstate_new();
	pthread_mutex_init(&t->lock, NULL);
	{
		pthread_condattr_t ca;

		/* deadlines are monotonic: a wall-clock step must not move them
		 */
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&t->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	t->nslots =
		gcfg->connections_per_target ? gcfg->connections_per_target : 1;
	t->slots = xcalloc(t->nslots, sizeof(*t->slots));
	t->stats.max = t->nslots;
	if (flatten_params(t, e) < 0)
		goto fail;
	/* pgpulse names its sessions; the user's choice would hide them */
	set_param(t, "application_name", "pgpulse");
	if (cfg->kind == TARGET_PGBOUNCER) {
		/* the admin console refuses startup options */
		del_param(t, "options");
		del_param(t, "target_session_attrs");
		if (!get_param(t, "dbname"))
			set_param(t, "dbname", "pgbouncer");
	}
	t->main_db = xstrdup_or_null(get_param(t, "dbname"));
	if (compile_patterns(cfg->db_include, cfg->ninclude, &t->db_include,
			     e) < 0 ||
	    compile_patterns(cfg->db_exclude, cfg->nexclude, &t->db_exclude,
			     e) < 0)
		goto fail;
	return t;
fail:
	err_wrap(e, "target '%s'", cfg->name);
	target_free(t);
	return NULL;
}

static void facts_release(struct server_facts *f)
{
	free(f->version_text);
	free(f->data_directory);
	target_free_list(f->extensions);
	target_free_list(f->extversions);
	target_free_list(f->databases);
	memset(f, 0, sizeof(*f));
}

void target_free(struct target *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nslots; i++) {
		PQfinish(t->slots[i].conn);
		free(t->slots[i].dbname);
	}
	free(t->slots);
	for (i = 0; i < t->nparams; i++) {
		free(t->keys[i]);
		free(t->vals[i]);
	}
	free(t->keys);
	free(t->vals);
	free(t->main_db);
	free_patterns(t->db_include, t->cfg->ninclude);
	free_patterns(t->db_exclude, t->cfg->nexclude);
	free(t->last_error);
	facts_release(&t->facts);
	cstate_free(t->cs);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t->name);
	free(t);
}

/* Escape a value for libpq's options string (backslash before space, \). */
static void add_option(char *buf, size_t size, const char *name,
		       const char *value)
{
	size_t len = strlen(buf);
	const char *p;

	if (len + 1 >= size)
		return;
	len += (size_t)snprintf(buf + len, size - len,
				"%s-c %s=", len ? " " : "", name);
	for (p = value; *p && len + 2 < size; p++) {
		if (*p == ' ' || *p == '\\')
			buf[len++] = '\\';
		buf[len++] = *p;
	}
	buf[len] = '\0';
}

static char *session_options(const struct target *t)
{
	const struct config *g = t->gcfg;
	const char *user = get_param(t, "options");
	char buf[1024] = "";
	char num[32];

	/*
	 * Every session is read-only and bounded before its first query; the
	 * date and interval styles make timestamps and intervals parseable.
	 */
	add_option(buf, sizeof(buf), "default_transaction_read_only", "on");
	snprintf(num, sizeof(num), "%d", (int)(g->statement_timeout * 1000));
	add_option(buf, sizeof(buf), "statement_timeout", num);
	snprintf(num, sizeof(num), "%d", (int)(g->lock_timeout * 1000));
	add_option(buf, sizeof(buf), "lock_timeout", num);
	snprintf(num, sizeof(num), "%d",
		 (int)((g->scrape_timeout + g->statement_timeout) * 1000));
	add_option(buf, sizeof(buf), "idle_in_transaction_session_timeout",
		   num);
	add_option(buf, sizeof(buf), "DateStyle", "ISO");
	add_option(buf, sizeof(buf), "TimeZone", "UTC");
	add_option(buf, sizeof(buf), "IntervalStyle", "iso_8601");
	add_option(buf, sizeof(buf), "jit", "off");
	if (user && *user)
		return xasprintf("%s %s", user, buf);
	return xstrdup(buf);
}

/*
 * Read the password at each connect, so rotated secrets work; a
 * password_command gets the time left until 'deadline', at most the
 * connect timeout.
 */
static char *current_password(const struct target *t, double deadline,
			      struct err *e)
{
	const struct target_config *cfg = t->cfg;

	if (cfg->password_command) {
		double left = deadline - clock_now();

		if (left > t->gcfg->connect_timeout)
			left = t->gcfg->connect_timeout;
		return pwcmd_run(cfg->password_command, left, t->name, e);
	}
	if (cfg->password_file)
		return config_read_secret(cfg->password_file, e);
	if (cfg->password_env) {
		const char *v = getenv(cfg->password_env);

		if (!v) {
			err_set(e, "environment variable '%s' is not set",
				cfg->password_env);
			return NULL;
		}
		return xstrdup(v);
	}
	return NULL;
}

static char *conn_error(PGconn *c)
{
	char buf[512], safe[512];
	const char *msg = c ? PQerrorMessage(c) : "out of memory";
	size_t n;

	snprintf(buf, sizeof(buf), "%s", msg);
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = ' ';
	log_redact(buf, safe, sizeof(safe));
	return xstrdup(safe);
}

/*
 * Server notices (a WARNING from a function, a killed session's FATAL
 * read while idle) go to the log, as one structured line at debug level,
 * not raw to stderr as libpq's default does.
 */
static void notice_log(void *arg, const char *message)
{
	const struct target *t = arg;
	char buf[512];
	size_t n;

	snprintf(buf, sizeof(buf), "%s", message);
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	log_debug("server notice", "target", t->name, "notice", buf, NULL);
}

/*
 * Drive a connection begun with PQconnectStartParams until it is made
 * (0), fails (-1) or 'deadline' passes (1). libpq ignores connect_timeout
 * here: the deadline is the only bound. (Host names are still resolved
 * before PQconnectStartParams returns.)
 */
static int connect_poll(PGconn *c, double deadline)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	if (PQstatus(c) == CONNECTION_BAD)
		return -1;
	for (;;) {
		double left = deadline - clock_now();
		/* the socket changes as libpq tries each host in turn */
		struct pollfd p = {.fd = PQsocket(c)};
		int r;

		if (st == PGRES_POLLING_OK)
			return 0;
		if (st == PGRES_POLLING_FAILED)
			return -1;
		if (left <= 0)
			return 1;
		p.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r > 0)
			st = PQconnectPoll(c);
	}
}

/*
 * Connect to 'dbname'. '*cut' is set when 'deadline', shorter than
 * connect_timeout and TARGET_FAIR_WAIT, ended the attempt: the server was
 * given too little time for its silence to mean anything.
 */
static PGconn *connect_db(struct target *t, const char *dbname, double deadline,
			  bool *cut, struct err *e)
{
	const char **keys = NULL, **vals = NULL;
	char *password = NULL, *options = NULL, *msg = NULL;
	double left = deadline - clock_now();
	double limit = t->gcfg->connect_timeout;
	bool hosts = false; /* several hosts to try in turn */
	char timeout[16];
	PGconn *c = NULL;
	size_t i, n = 0;

	password = current_password(t, deadline, e);
	if (!password && err_isset(e))
		return NULL;
	keys = xcalloc(t->nparams + 6, sizeof(*keys));
	vals = xcalloc(t->nparams + 6, sizeof(*vals));
	for (i = 0; i < t->nparams; i++) {
		/* the target's own (an auth module's, a conninfo's) wins */
		if (!strcmp(t->keys[i], "connect_timeout") &&
		    strtol(t->vals[i], NULL, 10) > 0)
			limit = (double)strtol(t->vals[i], NULL, 10);
		if ((!strcmp(t->keys[i], "host") ||
		     !strcmp(t->keys[i], "hostaddr")) &&
		    strchr(t->vals[i], ','))
			hosts = true;
		if (!strcmp(t->keys[i], "dbname") ||
		    !strcmp(t->keys[i], "options") ||
		    !strcmp(t->keys[i], "connect_timeout"))
			continue;
		keys[n] = t->keys[i];
		vals[n++] = t->vals[i];
	}
	if (dbname) {
		keys[n] = "dbname";
		vals[n++] = dbname;
	}
	if (password) {
		keys[n] = "password";
		vals[n++] = password;
	}
	if (t->cfg->kind == TARGET_POSTGRES) {
		options = session_options(t);
		keys[n] = "options";
		vals[n++] = options;
	}
	/*
	 * Bounded by the deadline, not by libpq's whole seconds (at least
	 * 2 of them): a Prometheus timeout of 1 s still gets its page. With
	 * several hosts libpq applies connect_timeout to each in turn, which
	 * only its blocking connect does: a host that hangs must not use up
	 * the time of the ones after it.
	 */
	if (left > limit)
		left = limit;
	if (hosts) {
		snprintf(timeout, sizeof(timeout), "%d",
			 limit < 2 ? 2 : (int)limit);
		keys[n] = "connect_timeout";
		vals[n++] = timeout;
	}
	keys[n] = NULL;
	vals[n] = NULL;
	if (hosts)
		c = PQconnectdbParams(keys, vals, 0);
	else
		c = PQconnectStartParams(keys, vals, 0);
	switch (!c	? -1
		: hosts ? -(PQstatus(c) != CONNECTION_OK)
			: connect_poll(c, clock_now() + left)) {
	case 0:
		break;
	case 1:
		*cut = left < limit && left < TARGET_FAIR_WAIT;
		err_set(e, "cannot connect: timeout expired after %.1f s",
			left);
		PQfinish(c);
		c = NULL;
		break;
	default:
		msg = conn_error(c);
		err_set(e, "cannot connect: %s", msg);
		PQfinish(c);
		c = NULL;
	}
	if (c)
		PQsetNoticeProcessor(c, notice_log, t);
	free(msg);
	free(options);
	if (password) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	free(keys);
	free(vals);
	return c;
}

static bool same_db(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

/*
 * Close sessions that sat idle too long: those to other databases, and
 * those to the main database but one (a second one is opened when the
 * collectors are shared out, and is not kept once they no longer are).
 */
static void close_idle(struct target *t, double now)
{
	struct pgconn *keep = NULL;
	unsigned i;

	for (i = 0; i < t->nslots; i++) {
		struct pgconn *s = &t->slots[i];

		if (!s->conn || !same_db(s->dbname, t->main_db))
			continue;
		if (!keep || s->busy ||
		    (!keep->busy && s->idle_at > keep->idle_at))
			keep = s;
	}
	for (i = 0; i < t->nslots; i++) {
		struct pgconn *s = &t->slots[i];

		if (s->busy || !s->conn || s == keep)
			continue;
		if (now - s->idle_at < t->gcfg->idle_timeout)
			continue;
		PQfinish(s->conn);
		s->conn = NULL;
		free(s->dbname);
		s->dbname = NULL;
		t->stats.open--;
	}
}

/* Is idle session 'a' a better one to close than 'b'? */
static bool better_victim(const struct target *t, const struct pgconn *a,
			  const struct pgconn *b)
{
	bool amain = same_db(a->dbname, t->main_db);
	bool bmain = same_db(b->dbname, t->main_db);

	if (amain != bmain)
		return !amain;
	return a->idle_at < b->idle_at;
}

static struct pgconn *find_slot(struct target *t, const char *db)
{
	struct pgconn *empty = NULL, *other = NULL;
	unsigned i;

	for (i = 0; i < t->nslots; i++) {
		struct pgconn *s = &t->slots[i];

		if (s->busy)
			continue;
		if (s->conn && same_db(s->dbname, db))
			return s;
		if (!s->conn) {
			if (!empty)
				empty = s;
			continue;
		}
		/*
		 * the victim: another database's session idle the longest,
		 * the main database's only when there is no other
		 */
		if (!other || better_victim(t, s, other))
			other = s;
	}
	if (empty)
		return empty;
	if (other) {
		/* reuse the slot: the bound holds whatever the databases */
		PQfinish(other->conn);
		other->conn = NULL;
		free(other->dbname);
		other->dbname = NULL;
		t->stats.open--;
	}
	return other;
}

int target_wait(struct target *t, double deadline)
{
	struct timespec ts;

	ts.tv_sec = (time_t)deadline;
	ts.tv_nsec = (long)((deadline - (double)ts.tv_sec) * 1e9);
	return pthread_cond_timedwait(&t->cond, &t->lock, &ts);
}

/*
 * Whether an idle session is still there: an idle session has nothing to
 * say, so anything readable is the server's goodbye (or a notice, read
 * and let be). A few polls, none waiting.
 */
static bool session_alive(PGconn *c)
{
	struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};

	if (PQstatus(c) != CONNECTION_OK)
		return false;
	/* a killed backend's FATAL comes first (a notice here), then EOF */
	for (int k = 0; k < 4 && poll(&p, 1, 0) > 0; k++) {
		if (!PQconsumeInput(c))
			return false;
		(void)PQisBusy(c); /* parses what came */
		if (PQstatus(c) != CONNECTION_OK)
			return false;
	}
	return true;
}

/* How a session is asked for (see acquire). */
enum acquire_mode {
	ACQ_NORMAL,
	ACQ_SPARE, /* the caller can do without: not waited for */
	ACQ_FIRST, /* a collection's first: tried even while backing off */
};

/* A slot checked out by 'acquire' goes back unused (t->lock held). */
static void unbusy(struct target *t, struct pgconn *s)
{
	s->busy = false;
	t->stats.busy--;
	pthread_cond_broadcast(&t->cond);
}

/* The server failed a connect: back off from it (t->lock held). */
static void arm_backoff(struct target *t, const char *why)
{
	t->backoff = t->backoff ? t->backoff * 2 : 1;
	if (t->backoff > BACKOFF_MAX)
		t->backoff = BACKOFF_MAX;
	t->next_attempt = clock_now() + t->backoff;
	free(t->last_error);
	t->last_error = xstrdup(why);
}

/*
 * Check out a slot for 'dbname' and connect it if it has no session. A
 * spare session is one the caller can do without: it is not waited for,
 * and failing to connect it neither arms the target's backoff nor becomes
 * its last error (the target is not down for it). '*cut' is set when the
 * caller's deadline, not the server, is why there is no session.
 */
static struct pgconn *acquire(struct target *t, const char *dbname,
			      double deadline, enum acquire_mode mode,
			      bool *cut, struct err *e)
{
	const char *db = dbname ? dbname : t->main_db;
	struct pgconn *s = NULL;
	PGconn *c;
	double start, now;
	bool timed = false;

	*cut = false;
	pthread_mutex_lock(&t->lock);
	for (;;) {
		s = find_slot(t, db);
		if (s)
			break;
		if (mode == ACQ_SPARE || clock_now() >= deadline ||
		    target_wait(t, deadline) == ETIMEDOUT) {
			pthread_mutex_unlock(&t->lock);
			*cut = mode != ACQ_SPARE;
			err_set(e, "no free connection before the deadline");
			return NULL;
		}
	}
	s->busy = true;
	t->stats.busy++;
	if (s->conn && !session_alive(s->conn)) {
		/* killed while idle (a restart, DROP DATABASE ... FORCE) */
		PQfinish(s->conn);
		s->conn = NULL;
		free(s->dbname);
		s->dbname = NULL;
		t->stats.open--;
	}
	s->kept = s->conn != NULL;
	s->timed_out = false;
	if (s->conn) {
		pthread_mutex_unlock(&t->lock);
		return s;
	}
	now = clock_now();
	if (now >= deadline) {
		unbusy(t, s);
		pthread_mutex_unlock(&t->lock);
		*cut = true;
		err_set(e, "the scrape deadline passed before connecting");
		return NULL;
	}
	if (now < t->next_attempt && mode != ACQ_FIRST) {
		unbusy(t, s);
		err_set(e, "not reconnecting for %.1fs after: %s",
			t->next_attempt - now,
			t->last_error ? t->last_error : "an error");
		pthread_mutex_unlock(&t->lock);
		return NULL;
	}
	t->stats.attempts++;
	pthread_mutex_unlock(&t->lock);

	start = clock_now();
	c = connect_db(t, db, deadline, &timed, e);

	pthread_mutex_lock(&t->lock);
	t->stats.last_connect_seconds = clock_now() - start;
	if (!c) {
		t->stats.failures++;
		unbusy(t, s);
		*cut = timed;
		/* back off only when the server itself failed the attempt */
		if (same_db(db, t->main_db) && mode != ACQ_SPARE && !timed)
			arm_backoff(t, e->msg);
		pthread_mutex_unlock(&t->lock);
		return NULL;
	}
	/* the server answered: whatever failed before is over */
	t->backoff = 0;
	t->next_attempt = 0;
	s->conn = c;
	s->dbname = xstrdup_or_null(db);
	t->stats.open++;
	pthread_mutex_unlock(&t->lock);
	return s;
}

struct pgconn *target_acquire(struct target *t, const char *dbname,
			      double deadline, struct err *e)
{
	bool cut;

	return acquire(t, dbname, deadline, ACQ_NORMAL, &cut, e);
}

struct pgconn *target_acquire_first(struct target *t, double deadline,
				    bool *cut, struct err *e)
{
	return acquire(t, NULL, deadline, ACQ_FIRST, cut, e);
}

struct pgconn *target_acquire_spare(struct target *t, double deadline,
				    struct err *e)
{
	bool cut;

	return acquire(t, NULL, deadline, ACQ_SPARE, &cut, e);
}

void target_release(struct target *t, struct pgconn *pc, bool broken)
{
	double now = clock_now();

	pthread_mutex_lock(&t->lock);
	if ((broken || pc->broken) && pc->conn) {
		PQfinish(pc->conn);
		pc->conn = NULL;
		free(pc->dbname);
		pc->dbname = NULL;
		t->stats.open--;
	}
	pc->broken = false;
	pc->busy = false;
	pc->idle_at = now;
	t->stats.busy--;
	close_idle(t, now);
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

int target_wait_ready(PGconn *c, double deadline)
{
	while (PQisBusy(c)) {
		double left = deadline - clock_now();
		struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
		int r;

		if (left <= 0)
			return 1;
		r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r > 0 && !PQconsumeInput(c))
			return -1;
	}
	return 0;
}

static pthread_mutex_t cancel_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned cancels_in_flight;

static void *cancel_run(void *p)
{
	PGcancel *cn = p;
	char buf[256];

	PQcancel(cn, buf, sizeof(buf));
	PQfreeCancel(cn);
	pthread_mutex_lock(&cancel_lock);
	cancels_in_flight--;
	pthread_mutex_unlock(&cancel_lock);
	return NULL;
}

/*
 * Ask the server to cancel what 'c' runs, without waiting: PQcancel
 * connects anew and reads until the server closes, with no timeout of its
 * own (libpq 15), so against a server that stopped answering it would
 * hold the scrape for minutes. It runs on a detached thread instead, at
 * most MAX_CANCELS at once.
 */
static void cancel_async(PGconn *c)
{
	PGcancel *cn;
	pthread_attr_t a;
	pthread_t th;
	bool started = false;

	pthread_mutex_lock(&cancel_lock);
	if (cancels_in_flight >= MAX_CANCELS) {
		pthread_mutex_unlock(&cancel_lock);
		return; /* the session is closed unanswered, all the same */
	}
	cancels_in_flight++;
	pthread_mutex_unlock(&cancel_lock);
	cn = PQgetCancel(c);
	if (cn) {
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		started = !pthread_create(&th, &a, cancel_run, cn);
		pthread_attr_destroy(&a);
	}
	if (!started) {
		PQfreeCancel(cn);
		pthread_mutex_lock(&cancel_lock);
		cancels_in_flight--;
		pthread_mutex_unlock(&cancel_lock);
	}
}

static void result_error(PGresult *r, struct err *e)
{
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *pos = PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION);

	if (!msg)
		msg = PQresultErrorMessage(r);
	if (pos)
		err_set(e, "%s (SQLSTATE %s, at character %s)", msg,
			state ? state : "?", pos);
	else
		err_set(e, "%s (SQLSTATE %s)", msg, state ? state : "?");
}

/*
 * When to cancel a query that must be over by 'deadline': a moment
 * before it, so that the wait for the server to answer the cancel ends by
 * the deadline too and the page goes out on time.
 */
static double cancel_point(double deadline)
{
	double grace = (deadline - clock_now()) * 0.2;

	if (grace > CANCEL_GRACE)
		grace = CANCEL_GRACE;
	return deadline - (grace > 0 ? grace : 0);
}

/*
 * Wait until a result of 'c' can be read; past 'soft', cancel the query
 * and wait until 'deadline' for the server to answer. Returns 0 when a
 * result can be read (perhaps the cancel's error), -1 when the session
 * must be given up ('*broken', 'e' set).
 */
static int wait_result(PGconn *c, double soft, double deadline, bool *canceled,
		       bool *broken, struct err *e)
{
	int w = target_wait_ready(c, *canceled ? deadline : soft);

	if (w == 1 && !*canceled) {
		cancel_async(c);
		*canceled = true;
		err_set(e, "canceled: its deadline passed");
		w = target_wait_ready(c, deadline);
	}
	if (w == 1) {
		/* past the grace the session is closed, not waited for */
		err_set(e, "canceled: its deadline passed");
		*broken = true;
		return -1;
	}
	if (w < 0) {
		char *msg = conn_error(c);

		err_set(e, "connection lost: %s", msg);
		free(msg);
		*broken = true;
		return -1;
	}
	return 0;
}

static bool is_cancel(const PGresult *r)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	return state && !strcmp(state, "57014");
}

/*
 * One result of the server, sorted: rows and command results are kept in
 * '*keep' when 'keep' is not NULL (else cleared); errors set 'e' (the
 * first goes to '*error' when not NULL), and '*canceled' when the error
 * is a cancel's. Returns -1 for COPY, which leaves the session unusable.
 */
static int sort_result(PGresult *r, PGresult **keep, PGresult **error,
		       bool *canceled, bool *broken, struct err *e)
{
	switch (PQresultStatus(r)) {
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
		if (keep) {
			PQclear(*keep);
			*keep = r;
		} else {
			PQclear(r);
		}
		return 0;
	case PGRES_PIPELINE_ABORTED:
		PQclear(r);
		return 0;
	case PGRES_COPY_OUT:
	case PGRES_COPY_IN:
	case PGRES_COPY_BOTH:
		/* PQgetResult would hand back COPY states forever */
		err_set(e, "COPY is not a query pgpulse can run");
		PQclear(r);
		*broken = true;
		return -1;
	default:
		*canceled |= is_cancel(r);
		result_error(r, e);
		if (error && !*error)
			*error = r;
		else
			PQclear(r);
		return 0;
	}
}

/*
 * A lost connection makes '*broken' and, failing a better one, 'e'. So
 * does a cancel sent ('timed_out') but not seen answered ('canceled'): it
 * may still be on its way, and would cancel the session's next query.
 */
static void check_lost(PGconn *c, bool timed_out, bool canceled, bool *broken,
		       struct err *e)
{
	if (timed_out && !canceled)
		*broken = true;
	if (PQstatus(c) != CONNECTION_BAD)
		return;
	if (!err_isset(e)) {
		char *msg = conn_error(c);

		err_set(e, "connection lost: %s", msg);
		free(msg);
	}
	*broken = true;
}

/*
 * Collect every result of the query sent on 'c'. Returns the last rows
 * (or command) result, or NULL with 'e' set; the server's first error
 * result goes to '*error' when it is not NULL.
 */
static PGresult *read_results(PGconn *c, double deadline, bool *broken,
			      bool *timed_out, PGresult **error, struct err *e)
{
	PGresult *keep = NULL, *r;
	double soft = cancel_point(deadline);
	bool canceled = false;

	while (wait_result(c, soft, deadline, timed_out, broken, e) == 0) {
		r = PQgetResult(c);
		if (!r ||
		    sort_result(r, &keep, error, &canceled, broken, e) < 0)
			break;
	}
	check_lost(c, *timed_out, canceled, broken, e);
	if (err_isset(e)) {
		PQclear(keep);
		return NULL;
	}
	return keep;
}

static PGresult *exec_ex(PGconn *c, const char *sql, bool simple,
			 double deadline, bool *broken, bool *timed_out,
			 PGresult **error, struct err *e)
{
	*broken = false;
	*timed_out = false;
	if (error)
		*error = NULL;
	if (!(simple ? PQsendQuery(c, sql)
		     : PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL,
					 0))) {
		char *msg = conn_error(c);

		err_set(e, "cannot send query: %s", msg);
		free(msg);
		*broken = true;
		return NULL;
	}
	return read_results(c, deadline, broken, timed_out, error, e);
}

PGresult *target_exec(PGconn *c, const char *sql, bool simple, double deadline,
		      bool *broken, PGresult **error, struct err *e)
{
	bool timed_out;

	return exec_ex(c, sql, simple, deadline, broken, &timed_out, error, e);
}

static bool send_one(PGconn *c, const char *sql)
{
	return PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL, 0);
}

/*
 * Send 'sql' inside its own read-only transaction, as one pipeline: the
 * transaction costs no round trip of its own. The statement_timeout is
 * set for it when it is not the session's ('session_ms'). Returns the
 * index of 'sql' among the commands sent, or -1.
 */
static int send_in_transaction(PGconn *c, const char *sql, int timeout_ms,
			       int session_ms)
{
	char set[64];
	bool own = timeout_ms != session_ms;

	snprintf(set, sizeof(set), "SET LOCAL statement_timeout = %d",
		 timeout_ms > 0 ? timeout_ms : 0);
	if (!PQenterPipelineMode(c) || !send_one(c, "BEGIN READ ONLY") ||
	    (own && !send_one(c, set)) || !send_one(c, sql) ||
	    !send_one(c, "ROLLBACK") || !PQpipelineSync(c))
		return -1;
	return own ? 2 : 1;
}

/*
 * Run 'sql' on PostgreSQL session 'c' in a read-only transaction rolled
 * back after it (see target_query). A query that failed leaves the
 * transaction aborted (the pipeline skips the ROLLBACK): it is rolled
 * back then, at the cost of a round trip.
 */
static PGresult *query_in_transaction(PGconn *c, const char *sql,
				      int timeout_ms, int session_ms,
				      double deadline, bool *broken,
				      bool *timed_out, struct err *e)
{
	double soft = cancel_point(deadline);
	PGresult *keep = NULL, *r;
	bool canceled = false;
	int cmd = 0, mine;

	*broken = *timed_out = false;
	mine = send_in_transaction(c, sql, timeout_ms, session_ms);
	if (mine < 0) {
		char *msg = conn_error(c);

		err_set(e, "cannot send query: %s", msg);
		free(msg);
		*broken = true;
		return NULL;
	}
	while (wait_result(c, soft, deadline, timed_out, broken, e) == 0) {
		r = PQgetResult(c);
		if (!r) {
			cmd++; /* the end of one command's results */
			continue;
		}
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			break;
		}
		if (sort_result(r, cmd == mine ? &keep : NULL, NULL, &canceled,
				broken, e) < 0)
			break;
	}
	check_lost(c, *timed_out, canceled, broken, e);
	if (!*broken && !PQexitPipelineMode(c))
		*broken = true;
	if (!*broken && PQtransactionStatus(c) != PQTRANS_IDLE) {
		struct err re = ERR_INIT;
		bool b, tmo;

		r = exec_ex(c, "ROLLBACK", false, deadline, &b, &tmo, NULL,
			    &re);
		*broken = !r || b;
		PQclear(r);
	}
	if (err_isset(e)) {
		PQclear(keep);
		return NULL;
	}
	return keep;
}

static PGresult *query(struct target *t, struct pgconn *pc, const char *sql,
		       int timeout_ms, double deadline, bool *broken,
		       struct err *e)
{
	/* the console speaks the simple protocol only */
	if (t->cfg->kind == TARGET_PGBOUNCER)
		return exec_ex(pc->conn, sql, true, deadline, broken,
			       &pc->timed_out, NULL, e);
	return query_in_transaction(pc->conn, sql, timeout_ms,
				    target_timeout_ms(t), deadline, broken,
				    &pc->timed_out, e);
}

PGresult *target_query(struct target *t, struct pgconn *pc, const char *sql,
		       int timeout_ms, double deadline, bool *broken,
		       struct err *e)
{
	PGresult *r;

	*broken = false;
	r = query(t, pc, sql, timeout_ms, deadline, broken, e);
	/*
	 * A session is reused only as it was: connected, idle, outside a
	 * transaction. The mark stays on the slot, so a caller that ignores
	 * '*broken' still cannot hand a wedged session to the next query.
	 */
	if (*broken || PQtransactionStatus(pc->conn) != PQTRANS_IDLE) {
		*broken = true;
		pc->broken = true;
	}
	return r;
}

void target_free_list(char **list)
{
	char **p;

	if (!list)
		return;
	for (p = list; *p; p++)
		free(*p);
	free(list);
}

/* "{a,b,"c d"}" -> NULL-terminated list. */
static char **parse_text_array(const char *s)
{
	char **v = NULL;
	size_t n = 0, alloc = 0;
	const char *p = s;

	if (*p == '{')
		p++;
	while (*p && *p != '}') {
		char buf[256];
		size_t len = 0;

		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				if (len + 1 < sizeof(buf))
					buf[len++] = *p;
				p++;
			}
			if (*p == '"')
				p++;
		} else {
			while (*p && *p != ',' && *p != '}') {
				if (len + 1 < sizeof(buf))
					buf[len++] = *p;
				p++;
			}
		}
		buf[len] = '\0';
		ALLOC_GROW(v, n + 2, alloc);
		v[n++] = xstrdup(buf);
		if (*p == ',')
			p++;
	}
	ALLOC_GROW(v, n + 1, alloc);
	v[n] = NULL;
	return v;
}

static const char facts_sql[] =
	"SELECT current_setting('server_version_num')::int, version(), "
	"pg_is_in_recovery(), r.rolsuper, "
	"pg_has_role(current_user, 'pg_monitor', 'MEMBER'), "
	"array(SELECT extname::text FROM pg_extension ORDER BY 1), "
	"CASE WHEN r.rolsuper OR pg_has_role(current_user, "
	"'pg_read_all_settings', 'MEMBER') "
	"THEN current_setting('data_directory') END, "
	"array(SELECT datname::text FROM pg_database "
	"WHERE datallowconn AND NOT datistemplate ORDER BY datname), "
	"array(SELECT extversion::text FROM pg_extension ORDER BY "
	"extname::text) "
	"FROM pg_roles r WHERE r.rolname = current_user";

int target_refresh_facts(struct target *t, struct pgconn *pc, double deadline,
			 struct err *e)
{
	struct server_facts f = {0};
	bool broken = false, warn = false;
	PGresult *r;

	if (t->cfg->kind == TARGET_PGBOUNCER) {
		/* a query proves the kept session still works */
		r = target_query(t, pc, "SHOW VERSION", 0, deadline, &broken,
				 e);
		if (!r)
			return err_wrap(e, "reading the version");
		PQclear(r);
		pthread_mutex_lock(&t->lock);
		facts_release(&t->facts);
		t->facts.version = PQserverVersion(pc->conn);
		pthread_mutex_unlock(&t->lock);
		return 0;
	}
	r = target_query(t, pc, facts_sql, target_timeout_ms(t), deadline,
			 &broken, e);
	if (!r)
		return err_wrap(e, "reading server facts");
	if (PQntuples(r) != 1) {
		PQclear(r);
		return err_set(e, "reading server facts: no row for the role");
	}
	f.version = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
	f.version_text = xstrdup(PQgetvalue(r, 0, 1));
	f.in_recovery = PQgetvalue(r, 0, 2)[0] == 't';
	f.superuser = PQgetvalue(r, 0, 3)[0] == 't';
	f.pg_monitor = PQgetvalue(r, 0, 4)[0] == 't';
	f.extensions = parse_text_array(PQgetvalue(r, 0, 5));
	for (f.nextensions = 0; f.extensions[f.nextensions]; f.nextensions++)
		;
	if (!PQgetisnull(r, 0, 6))
		f.data_directory = xstrdup(PQgetvalue(r, 0, 6));
	f.databases = parse_text_array(PQgetvalue(r, 0, 7));
	f.extversions = parse_text_array(PQgetvalue(r, 0, 8));
	PQclear(r);

	pthread_mutex_lock(&t->lock);
	facts_release(&t->facts);
	t->facts = f;
	if (!t->warned_role && (f.superuser || !f.pg_monitor)) {
		t->warned_role = true;
		warn = true;
	}
	pthread_mutex_unlock(&t->lock);
	if (warn && f.superuser)
		log_warn("the monitoring role is a superuser; use a role "
			 "that is a member of pg_monitor instead",
			 "target", t->name, NULL);
	else if (warn)
		log_warn("the monitoring role is not a member of pg_monitor; "
			 "some statistics will be hidden or fail",
			 "target", t->name, "fix", "GRANT pg_monitor TO <role>",
			 NULL);
	return 0;
}

int target_timeout_ms(const struct target *t)
{
	return (int)(t->gcfg->statement_timeout * 1000);
}

bool target_has_extension(const struct target *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->facts.nextensions; i++)
		if (!strcmp(t->facts.extensions[i], name))
			return true;
	return false;
}

static bool matches_any(void *p, size_t n, const char *s)
{
	regex_t *re = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (!regexec(&re[i], s, 0, NULL, 0))
			return true;
	return false;
}

char **target_databases(struct target *t, struct err *e)
{
	const struct target_config *cfg = t->cfg;
	char **v = NULL, **db;
	size_t n = 0, alloc = 0;

	if (!t->facts.databases) {
		err_set(e, "listing databases: the server facts are not read");
		return NULL;
	}
	for (db = t->facts.databases; *db; db++) {
		if (cfg->ninclude &&
		    !matches_any(t->db_include, cfg->ninclude, *db))
			continue;
		if (matches_any(t->db_exclude, cfg->nexclude, *db))
			continue;
		ALLOC_GROW(v, n + 2, alloc);
		v[n++] = xstrdup(*db);
	}
	ALLOC_GROW(v, n + 1, alloc);
	v[n] = NULL;
	return v;
}
