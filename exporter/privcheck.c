/*
 * Privileges a collector needs, checked against the catalogs before its SQL
 * runs, each missing one reported with the GRANT that fixes it. The names
 * of the SQL come from the scanner (sqlscan.h).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "privcheck.h"
#include "sb.h"
#include "xalloc.h"
#include "compat.h"

/* At most this many names of one query are looked up in the catalogs. */
#define MAX_NAMES 256

void privcheck_release(struct privcheck *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		free(p->v[i].msg);
		free(p->v[i].fix);
	}
	free(p->v);
	p->v = NULL;
	p->n = p->alloc = p->nerrors = 0;
}

static void add_problem(struct privcheck *p, enum diag_severity sev, size_t off,
			char *msg, char *fix)
{
	struct privproblem *pp;

	ALLOC_GROW(p->v, p->n + 1, p->alloc);
	pp = &p->v[p->n++];
	pp->severity = sev;
	pp->off = off;
	pp->msg = msg;
	pp->fix = fix;
	if (sev == DIAG_ERROR)
		p->nerrors++;
}

/*
 * What pg_read_all_stats shows that a role without it does not see: the
 * query runs, but with other roles' data hidden.
 */
static const struct {
	const char *name;
	const char *what;
} stats_names[] = {
	{"pg_stat_activity", "shows the query, state and waits of other "
			     "roles' sessions"},
	{"pg_stat_get_activity", "shows the query, state and waits of other "
				 "roles' sessions"},
	{"pg_stat_statements", "shows the text and statistics of other "
			       "roles' statements"},
	{"pg_stat_replication", "shows the state and positions of the "
				"replicas"},
	{"pg_stat_wal_receiver", "shows the state of the WAL receiver"},
	{"pg_stat_ssl", "shows other roles' sessions' SSL state"},
	{"pg_stat_gssapi", "shows other roles' sessions' GSSAPI state"},
	{"pg_stat_progress_vacuum", "shows other roles' progress rows"},
	{"pg_stat_progress_analyze", "shows other roles' progress rows"},
	{"pg_stat_progress_create_index", "shows other roles' progress rows"},
	{"pg_stat_progress_cluster", "shows other roles' progress rows"},
	{"pg_stat_progress_basebackup", "shows other roles' progress rows"},
	{"pg_stat_progress_copy", "shows other roles' progress rows"},
};

/* Functions that fail, without pg_read_all_stats, on some objects. */
static const struct {
	const char *name;
	const char *what;
} stats_functions[] = {
	{"pg_tablespace_size", "fails for tablespaces the role has no CREATE "
			       "privilege on (pg_global)"},
};

/* Settings only pg_read_all_settings (or a superuser) may read. */
static const char *const secret_settings[] = {
	"config_file",
	"data_directory",
	"hba_file",
	"ident_file",
};

struct role_facts {
	char *me; /* quote_ident(current_user) */
	bool superuser, monitor, stats, settings;
};

static int read_role(struct target *t, struct pgconn *pc, double deadline,
		     struct role_facts *r, struct err *e)
{
	static const char sql[] =
		"SELECT quote_ident(current_user), r.rolsuper, "
		"pg_has_role(current_user, 'pg_monitor', 'USAGE'), "
		"pg_has_role(current_user, 'pg_read_all_stats', 'USAGE'), "
		"pg_has_role(current_user, 'pg_read_all_settings', 'USAGE') "
		"FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";
	bool broken = false;
	PGresult *res;

	res = target_query(t, pc, sql, target_timeout_ms(t), deadline, &broken,
			   e);
	if (!res)
		return err_wrap(e, "reading the role's privileges");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return err_set(e, "reading the role's privileges: no row");
	}
	r->me = xstrdup(PQgetvalue(res, 0, 0));
	r->superuser = PQgetvalue(res, 0, 1)[0] == 't';
	r->monitor = PQgetvalue(res, 0, 2)[0] == 't';
	r->stats = PQgetvalue(res, 0, 3)[0] == 't';
	r->settings = PQgetvalue(res, 0, 4)[0] == 't';
	PQclear(res);
	return 0;
}

/* The GRANT giving the privileges of 'role' (pg_monitor when it has them) */
static char *grant_role(const struct role_facts *r, const char *role)
{
	return xasprintf("GRANT %s TO %s", r->monitor ? role : "pg_monitor",
			 r->me);
}

/*
 * Look the names of 'words' up: functions called and relations named that
 * the role may not use. One query, catalogs only.
 */
/*
 * The names of 'words' (at most MAX_NAMES, as the server compares them) as
 * the rows "(name, offset, is_call)" of a VALUES list in 'q'. Returns how
 * many.
 */
static size_t add_names(struct sb *q, struct pgconn *pc,
			const struct sqlword *words, size_t nwords)
{
	size_t i, used = 0;

	for (i = 0; i < nwords && used < MAX_NAMES; i++) {
		char *lit, *name;

		if (words[i].string || words[i].len > 63)
			continue;
		name = xstrndup(words[i].s, words[i].len);
		if (!words[i].quoted)
			for (char *p = name; *p; p++)
				*p = (char)tolower((unsigned char)*p);
		lit = PQescapeLiteral(pc->conn, name, strlen(name));
		free(name);
		if (!lit)
			continue;
		sb_addf(q, "%s(%s::name, %zu, %s)", used ? ", " : "", lit,
			words[i].off, words[i].call ? "true" : "false");
		PQfreemem(lit);
		used++;
	}
	return used;
}

static int check_catalog(struct target *t, struct pgconn *pc,
			 const struct sqlword *words, size_t nwords,
			 const struct role_facts *r, double deadline,
			 struct privcheck *out, struct err *e)
{
	struct sb q = SB_INIT(0);
	bool broken = false;
	PGresult *res = NULL;
	int row, rc = 0;

	sb_adds(&q, "WITH w(word, off, call) AS (VALUES ");
	if (!add_names(&q, pc, words, nwords)) {
		sb_release(&q);
		return 0;
	}
	/*
	 * A function counts as refused when no overload of that name may be
	 * executed; the fix is pg_monitor when pg_monitor has it.
	 */
	sb_adds(&q,
		")\n"
		"SELECT 'function', min(w.off), p.proname::text,\n"
		"  string_agg(DISTINCT p.oid::regprocedure::text, ', '),\n"
		"  bool_or(has_function_privilege('pg_monitor', p.oid, "
		"'EXECUTE'))\n"
		"FROM w JOIN pg_catalog.pg_proc p ON p.proname = w.word\n"
		"WHERE w.call AND pg_catalog.pg_function_is_visible(p.oid)\n"
		"GROUP BY p.proname\n"
		"HAVING NOT bool_or(has_function_privilege(p.oid, "
		"'EXECUTE'))\n"
		"UNION ALL\n"
		"SELECT 'relation', min(w.off), c.oid::regclass::text,\n"
		"  c.oid::regclass::text,\n"
		"  has_table_privilege('pg_monitor', c.oid, 'SELECT')\n"
		"FROM w JOIN pg_catalog.pg_class c ON c.relname = w.word\n"
		"WHERE NOT w.call AND pg_catalog.pg_table_is_visible(c.oid)\n"
		"  AND NOT has_table_privilege(c.oid, 'SELECT')\n"
		"  AND NOT has_any_column_privilege(c.oid, 'SELECT')\n"
		"GROUP BY c.oid ORDER BY 2");
	res = target_query(t, pc, sb_str(&q), target_timeout_ms(t), deadline,
			   &broken, e);
	if (!res) {
		rc = err_wrap(e, "checking privileges");
		goto out;
	}
	for (row = 0; row < PQntuples(res); row++) {
		bool func = !strcmp(PQgetvalue(res, row, 0), "function");
		size_t off = strtoul(PQgetvalue(res, row, 1), NULL, 10);
		const char *name = PQgetvalue(res, row, 2);
		const char *sig = PQgetvalue(res, row, 3);
		bool by_monitor = PQgetvalue(res, row, 4)[0] == 't';
		char *fix;

		if (by_monitor && !r->monitor)
			fix = xasprintf("GRANT pg_monitor TO %s", r->me);
		else if (func)
			fix = xasprintf("GRANT EXECUTE ON FUNCTION %s TO %s",
					sig, r->me);
		else
			fix = xasprintf("GRANT SELECT ON %s TO %s", sig, r->me);
		add_problem(out, DIAG_ERROR, off,
			    xasprintf(func ? "role %s may not execute %s()"
					   : "role %s may not read %s",
				      r->me, name),
			    fix);
	}
out:
	PQclear(res);
	sb_release(&q);
	return rc;
}

int privcheck_collector(struct target *t, struct pgconn *pc, const char *sql,
			double deadline, struct privcheck *out, struct err *e)
{
	struct role_facts r = {0};
	struct sqlword *w = NULL;
	size_t n = 0, i, k;
	int rc = 0;

	if (t->cfg->kind != TARGET_POSTGRES)
		return 0;
	if (read_role(t, pc, deadline, &r, e) < 0)
		return -1;
	if (r.superuser)
		goto out;
	w = sqlscan_words(sql, &n);
	rc = check_catalog(t, pc, w, n, &r, deadline, out, e);
	for (k = 0; k < ARRAY_SIZE(stats_names) && !r.stats; k++) {
		for (i = 0; i < n; i++)
			if (sqlscan_word_is(&w[i], stats_names[k].name))
				break;
		if (i == n)
			continue;
		add_problem(out, DIAG_WARNING, w[i].off,
			    xasprintf("%s %s only to roles with the "
				      "privileges of pg_read_all_stats, "
				      "which %s lacks",
				      stats_names[k].name, stats_names[k].what,
				      r.me),
			    grant_role(&r, "pg_read_all_stats"));
	}
	for (k = 0; k < ARRAY_SIZE(stats_functions) && !r.stats; k++) {
		for (i = 0; i < n; i++)
			if (w[i].call &&
			    sqlscan_word_is(&w[i], stats_functions[k].name))
				break;
		if (i == n)
			continue;
		add_problem(out, DIAG_ERROR, w[i].off,
			    xasprintf("%s() %s unless the role has the "
				      "privileges of pg_read_all_stats, which "
				      "%s lacks",
				      stats_functions[k].name,
				      stats_functions[k].what, r.me),
			    grant_role(&r, "pg_read_all_stats"));
	}
	for (k = 0; k < ARRAY_SIZE(secret_settings) && !r.settings; k++) {
		for (i = 0; i < n; i++)
			if (w[i].string &&
			    w[i].len == strlen(secret_settings[k]) &&
			    !memcmp(w[i].s, secret_settings[k], w[i].len))
				break;
		if (i == n)
			continue;
		add_problem(out, DIAG_ERROR, w[i].off,
			    xasprintf("setting '%s' may be read only by roles "
				      "with the privileges of "
				      "pg_read_all_settings, which %s lacks",
				      secret_settings[k], r.me),
			    grant_role(&r, "pg_read_all_settings"));
	}
out:
	free(w);
	free(r.me);
	return rc;
}

int privcheck_databases(struct target *t, struct pgconn *pc, double deadline,
			struct privcheck *out, struct err *e)
{
	static const char sql[] =
		"SELECT datname, quote_ident(datname), "
		"quote_ident(current_user) FROM pg_catalog.pg_database "
		"WHERE datallowconn AND NOT datistemplate "
		"AND NOT has_database_privilege(oid, 'CONNECT') "
		"ORDER BY datname";
	char **dbs, **db;
	bool broken = false;
	PGresult *res;
	int row;

	if (t->cfg->kind != TARGET_POSTGRES)
		return 0;
	res = target_query(t, pc, sql, target_timeout_ms(t), deadline, &broken,
			   e);
	if (!res)
		return err_wrap(e, "checking CONNECT privileges");
	/* only the databases the target's include/exclude patterns keep */
	dbs = target_databases(t, e);
	if (!dbs) {
		PQclear(res);
		return -1;
	}
	for (row = 0; row < PQntuples(res); row++) {
		for (db = dbs; *db; db++)
			if (!strcmp(*db, PQgetvalue(res, row, 0)))
				break;
		if (!*db)
			continue;
		add_problem(out, DIAG_ERROR, 0,
			    xasprintf("role %s may not connect to database "
				      "'%s'",
				      PQgetvalue(res, row, 2),
				      PQgetvalue(res, row, 0)),
			    xasprintf("GRANT CONNECT ON DATABASE %s TO %s",
				      PQgetvalue(res, row, 1),
				      PQgetvalue(res, row, 2)));
	}
	xfree_strv(dbs);
	PQclear(res);
	return 0;
}

char *privcheck_pgbouncer_fix(const char *connect_error, const char *user)
{
	if (!connect_error || !strstr(connect_error, "not allowed"))
		return NULL;
	return xasprintf("add %s to stats_users in pgbouncer.ini, then "
			 "reload pgbouncer (RELOAD on its console)",
			 user ? user : "the user");
}

int privcheck_would_fail(struct target *t, struct pgconn *pc, const char *sql,
			 double deadline)
{
	struct privcheck p = PRIVCHECK_INIT;
	struct err e = ERR_INIT;
	int fails;

	/* a problem found before the check broke off is known all the same */
	if (privcheck_collector(t, pc, sql, deadline, &p, &e) < 0)
		fails = p.nerrors > 0 ? 1 : -1;
	else
		fails = p.nerrors > 0;
	privcheck_release(&p);
	return fails;
}
