/*
 * Gating: tags, role, requirements and the variant a server's version
 * picks, as one enum of reasons.
 */
#include <stdio.h>
#include <string.h>
#include "gate.h"

static const char *const reason_text[] = {
	[GATE_RUNS] = NULL,	    [GATE_TAGS] = "tags",
	[GATE_ROLE] = "role",	    [GATE_REQUIRES] = "requires",
	[GATE_VERSION] = "version", [GATE_PRIVILEGES] = "privileges",
	[GATE_UNSAFE] = "unsafe",
};

const char *gate_reason_text(enum gate_reason r)
{
	return (size_t)r < sizeof(reason_text) / sizeof(*reason_text)
		       ? reason_text[r]
		       : NULL;
}

static bool has_tag(const struct target_config *tc, const char *tag)
{
	size_t i;

	for (i = 0; i < tc->ntags; i++)
		if (!strcmp(tc->tags[i], tag))
			return true;
	return false;
}

/* Does 'req' ("ext", "setting:NAME", "setting:NAME=VALUE") hold? */
static bool requirement_met(struct target *t, struct pgconn *pc,
			    const char *req, double deadline)
{
	char sql[512], name[256];
	const char *want = NULL, *eq;
	bool broken = false, ok;
	struct err e = ERR_INIT;
	PGresult *r;
	char *lit;

	if (strncmp(req, "setting:", 8))
		return target_has_extension(t, req);
	req += 8;
	eq = strchr(req, '=');
	snprintf(name, sizeof(name), "%.*s",
		 (int)(eq ? (size_t)(eq - req) : strlen(req)), req);
	if (eq)
		want = eq + 1;
	lit = PQescapeLiteral(pc->conn, name, strlen(name));
	if (!lit)
		return false;
	snprintf(sql, sizeof(sql), "SELECT current_setting(%s, true)", lit);
	PQfreemem(lit);
	r = target_query(t, pc, sql, target_timeout_ms(t), deadline, &broken,
			 &e);
	if (!r)
		return false;
	ok = PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) &&
	     (!want || !strcmp(PQgetvalue(r, 0, 0), want));
	PQclear(r);
	return ok;
}

enum gate_reason gate_fixed(const struct target_config *tc,
			    const struct server_facts *f,
			    const struct collector *c, const struct variant **v)
{
	size_t i;

	*v = NULL;
	if (c->ntags) {
		for (i = 0; i < c->ntags; i++)
			if (has_tag(tc, c->tags[i]))
				break;
		if (i == c->ntags)
			return GATE_TAGS;
	}
	if (tc->kind == TARGET_POSTGRES) {
		if (c->role == ROLE_PRIMARY && f->in_recovery)
			return GATE_ROLE;
		if (c->role == ROLE_REPLICA && !f->in_recovery)
			return GATE_ROLE;
	}
	*v = collector_variant_ext(c, f->version, f->extensions,
				   f->extversions);
	return GATE_RUNS;
}

enum gate_reason gate_check(struct target *t, struct pgconn *pc,
			    const struct collector *c, double deadline,
			    const struct variant **v, const char **req)
{
	enum gate_reason r =
		gate_fixed(t->cfg, target_facts_collecting(t), c, v);
	size_t i;

	*req = NULL;
	if (r != GATE_RUNS)
		return r;
	/* a missing extension, not the version bound on it, is the reason */
	for (i = 0; i < c->nrequires; i++)
		if (!requirement_met(t, pc, c->requires[i], deadline)) {
			*req = c->requires[i];
			return GATE_REQUIRES;
		}
	return *v ? GATE_RUNS : GATE_VERSION;
}
