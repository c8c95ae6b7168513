/*
 * One monitored server: a bounded pool of read-only, time-bounded sessions
 * (each one a pgsession), reconnected with backoff, what is known of the
 * server and its databases.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "target.h"
#include "dbpattern.h"
#include "pgsession.h"
#include "pwcmd.h"
#include "log.h"
#include "xalloc.h"
#include "compat.h"

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

const char *target_param(const struct target *t, const char *key)
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

struct target *target_new(const struct target_config *cfg,
			  const struct config *gcfg, struct err *e)
{
	struct target *t = xcalloc(1, sizeof(*t));

	t->cfg = cfg;
	t->gcfg = gcfg;
	t->name = xstrdup(cfg->name);
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
		if (!target_param(t, "dbname"))
			set_param(t, "dbname", "pgbouncer");
	}
	t->main_db = xstrdup_or_null(target_param(t, "dbname"));
	if (dbpattern_compile(cfg->db_include, cfg->ninclude, false,
			      &t->db_include, e) < 0 ||
	    dbpattern_compile(cfg->db_exclude, cfg->nexclude, false,
			      &t->db_exclude, e) < 0)
		goto fail;
	return t;
fail:
	err_wrap(e, "target '%s'", cfg->name);
	target_free(t);
	return NULL;
}

void target_free(struct target *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nslots; i++) {
		PQfinish(t->slots[i].conn);
		free(t->slots[i].dbname);
		strmap_release_with(&t->slots[i].prepared, free);
	}
	free(t->slots);
	for (i = 0; i < t->nparams; i++) {
		free(t->keys[i]);
		free(t->vals[i]);
	}
	free(t->keys);
	free(t->vals);
	free(t->main_db);
	dbpattern_free(t->db_include, t->cfg->ninclude);
	dbpattern_free(t->db_exclude, t->cfg->nexclude);
	free(t->last_error);
	pgsession_facts_release(&t->facts);
	if (t->cs_free)
		t->cs_free(t->cs);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t->name);
	free(t);
}

void target_attach_state(struct target *t, struct cstate *cs,
			 void (*free_fn)(struct cstate *cs))
{
	t->cs = cs;
	t->cs_free = free_fn;
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
		double left = deadline - clock_mono();

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

/*
 * The target's libpq parameters for a session to 'dbname' into 'keys' and
 * 'vals' (room for nparams + 6), but the ones connect_db sets itself:
 * returns how many. '*limit' becomes the target's own connect_timeout
 * when it has one (an auth module's, a conninfo's: it wins), '*hosts'
 * whether several hosts are tried in turn.
 */
static size_t session_params(const struct target *t, const char **keys,
			     const char **vals, double *limit, bool *hosts)
{
	size_t i, n = 0;

	for (i = 0; i < t->nparams; i++) {
		if (!strcmp(t->keys[i], "connect_timeout") &&
		    strtol(t->vals[i], NULL, 10) > 0)
			*limit = (double)strtol(t->vals[i], NULL, 10);
		if ((!strcmp(t->keys[i], "host") ||
		     !strcmp(t->keys[i], "hostaddr")) &&
		    strchr(t->vals[i], ','))
			*hosts = true;
		if (!strcmp(t->keys[i], "dbname") ||
		    !strcmp(t->keys[i], "options") ||
		    !strcmp(t->keys[i], "connect_timeout"))
			continue;
		keys[n] = t->keys[i];
		vals[n++] = t->vals[i];
	}
	return n;
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
	char *password = NULL, *options = NULL;
	double left = deadline - clock_mono();
	double limit = t->gcfg->connect_timeout;
	bool hosts = false; /* several hosts to try in turn */
	bool timed_out;
	char timeout[16];
	PGconn *c = NULL;
	size_t n;

	password = current_password(t, deadline, e);
	if (!password && err_isset(e))
		return NULL;
	keys = xcalloc(t->nparams + 6, sizeof(*keys));
	vals = xcalloc(t->nparams + 6, sizeof(*vals));
	n = session_params(t, keys, vals, &limit, &hosts);
	if (dbname) {
		keys[n] = "dbname";
		vals[n++] = dbname;
	}
	if (password) {
		keys[n] = "password";
		vals[n++] = password;
	}
	if (t->cfg->kind == TARGET_POSTGRES) {
		options =
			pgsession_options(t->gcfg, target_param(t, "options"));
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
	c = pgsession_connect(keys, vals, hosts, left, t->name, &timed_out, e);
	if (timed_out)
		*cut = left < limit && left < TARGET_FAIR_WAIT;
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
 * Close the session of slot 's' (t->lock held): what was prepared on it
 * goes with it, so a new session starts with nothing prepared.
 */
static void slot_close(struct target *t, struct pgconn *s)
{
	PQfinish(s->conn);
	s->conn = NULL;
	free(s->dbname);
	s->dbname = NULL;
	strmap_release_with(&s->prepared, free);
	s->prepared = (struct strmap)STRMAP_INIT;
	t->stats.open--;
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
		slot_close(t, s);
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
		slot_close(t, other);
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
	backoff_fail(&t->backoff, clock_mono());
	free(t->last_error);
	t->last_error = xstrdup(why);
}

/*
 * Connect the checked-out, empty slot 's' to 'db' (t->lock held; released
 * on return), unless the deadline passed or the backoff runs (which a
 * collection's first session ignores). See acquire.
 */
static struct pgconn *connect_slot(struct target *t, struct pgconn *s,
				   const char *db, double deadline,
				   enum acquire_mode mode, bool *cut,
				   struct err *e)
{
	double start, now;
	bool timed = false;
	PGconn *c;

	now = clock_mono();
	if (now >= deadline) {
		unbusy(t, s);
		pthread_mutex_unlock(&t->lock);
		*cut = true;
		err_set(e, "the scrape deadline passed before connecting");
		return NULL;
	}
	if (backoff_left(&t->backoff, now) > 0 && mode != ACQ_FIRST) {
		unbusy(t, s);
		err_set(e, "not reconnecting for %.1fs after: %s",
			backoff_left(&t->backoff, now),
			t->last_error ? t->last_error : "an error");
		pthread_mutex_unlock(&t->lock);
		return NULL;
	}
	t->stats.attempts++;
	pthread_mutex_unlock(&t->lock);

	start = clock_mono();
	c = connect_db(t, db, deadline, &timed, e);

	pthread_mutex_lock(&t->lock);
	t->stats.last_connect_seconds = clock_mono() - start;
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
	backoff_reset(&t->backoff);
	s->conn = c;
	s->dbname = xstrdup_or_null(db);
	t->stats.open++;
	pthread_mutex_unlock(&t->lock);
	return s;
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

	*cut = false;
	pthread_mutex_lock(&t->lock);
	for (;;) {
		s = find_slot(t, db);
		if (s)
			break;
		if (mode == ACQ_SPARE || clock_mono() >= deadline ||
		    target_wait(t, deadline) == ETIMEDOUT) {
			pthread_mutex_unlock(&t->lock);
			*cut = mode != ACQ_SPARE;
			err_set(e, "no free connection before the deadline");
			return NULL;
		}
	}
	s->busy = true;
	t->stats.busy++;
	if (s->conn && !pgsession_alive(s->conn)) {
		/* killed while idle (a restart, DROP DATABASE ... FORCE) */
		slot_close(t, s);
	}
	s->kept = s->conn != NULL;
	s->timed_out = false;
	if (s->conn) {
		pthread_mutex_unlock(&t->lock);
		return s;
	}
	return connect_slot(t, s, db, deadline, mode, cut, e);
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
	double now = clock_mono();

	pthread_mutex_lock(&t->lock);
	if ((broken || pc->broken) && pc->conn)
		slot_close(t, pc);
	pc->broken = false;
	pc->busy = false;
	pc->idle_at = now;
	t->stats.busy--;
	close_idle(t, now);
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

static PGresult *query(struct target *t, struct pgconn *pc, const char *sql,
		       int timeout_ms, double deadline, bool *broken,
		       struct err *e)
{
	/* the console speaks the simple protocol only */
	if (t->cfg->kind == TARGET_PGBOUNCER)
		return pgsession_exec(pc->conn, sql, true, deadline, broken,
				      &pc->timed_out, NULL, e);
	return pgsession_query_ro(pc->conn, sql, timeout_ms,
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

/* target_query for a statement a session runs again and again. */
static PGresult *query_prepared(struct target *t, struct pgconn *pc,
				const char *sql, double deadline, struct err *e)
{
	struct pgsession_stmt st = {.sql = sql,
				    .timeout_ms = target_timeout_ms(t)};
	bool broken;

	target_query_batch(t, pc, &st, 1, deadline, &broken);
	return pgsession_stmt_result(&st, e);
}

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
		pgsession_facts_release(&t->facts);
		t->facts.version = PQserverVersion(pc->conn);
		pthread_mutex_unlock(&t->lock);
		return 0;
	}
	/* read every collection: prepared once per session, like collectors */
	r = query_prepared(t, pc, pgsession_facts_sql, deadline, e);
	if (!r)
		return err_wrap(e, "reading server facts");
	if (PQntuples(r) != 1) {
		PQclear(r);
		return err_set(e, "reading server facts: no row for the role");
	}
	pgsession_facts_read(r, &f);
	PQclear(r);

	pthread_mutex_lock(&t->lock);
	pgsession_facts_release(&t->facts);
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

void target_status(struct target *t, struct target_status *out)
{
	pthread_mutex_lock(&t->lock);
	out->up = t->up;
	out->ever_up = t->ever_up;
	out->down_since = t->down_since;
	out->pool = t->stats;
	pthread_mutex_unlock(&t->lock);
}

int target_note_outage(struct target *t, bool up, double now, double *down_for)
{
	double since;

	pthread_mutex_lock(&t->lock);
	since = t->down_since;
	t->down_since = up ? 0 : since ? since : now;
	t->up = up;
	t->ever_up |= up;
	pthread_mutex_unlock(&t->lock);
	*down_for = up && since ? now - since : 0;
	return !up && !since ? 1 : up && since ? -1 : 0;
}

static char **copy_list(char **list)
{
	size_t n = 0, i;
	char **v;

	if (!list)
		return NULL;
	while (list[n])
		n++;
	v = xcalloc(n + 1, sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = xstrdup(list[i]);
	return v;
}

const struct server_facts *target_facts_collecting(const struct target *t)
{
	return &t->facts;
}

void target_facts(struct target *t, struct server_facts *out)
{
	pthread_mutex_lock(&t->lock);
	*out = t->facts;
	out->version_text = xstrdup_or_null(t->facts.version_text);
	out->data_directory = xstrdup_or_null(t->facts.data_directory);
	out->extensions = copy_list(t->facts.extensions);
	out->extversions = copy_list(t->facts.extversions);
	out->databases = copy_list(t->facts.databases);
	pthread_mutex_unlock(&t->lock);
}

bool target_has_extension(const struct target *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->facts.nextensions; i++)
		if (!strcmp(t->facts.extensions[i], name))
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
		    !dbpattern_match(t->db_include, cfg->ninclude, *db))
			continue;
		if (dbpattern_match(t->db_exclude, cfg->nexclude, *db))
			continue;
		ALLOC_GROW(v, n + 2, alloc);
		v[n++] = xstrdup(*db);
	}
	ALLOC_GROW(v, n + 1, alloc);
	v[n] = NULL;
	return v;
}
