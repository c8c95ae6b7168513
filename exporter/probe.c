/* The /probe registry of a snapshot (see probe.h). */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "probe.h"
#include "collect.h"
#include "log.h"
#include "xalloc.h"

/*
 * An ad-hoc /probe target: its own target_config (which the target points
 * to) and a count of the scrapes using it. Owned by the snapshot.
 */
struct probe_entry {
	char *key; /* "host:port/db" NUL auth module */
	struct target_config tc;
	struct target *t;
	unsigned users;
	unsigned long used; /* the registry's clock at the last use */
};

static void probe_entry_free(struct probe_entry *p)
{
	collect_forget(p->t);
	target_free(p->t);
	target_config_release(&p->tc);
	free(p->key);
	free(p);
}

int probe_parse_spec(const char *s, char *host, size_t hsize, char *port,
		     size_t psize, char *db, size_t dsize)
{
	const char *p = s, *start;
	size_t n;
	long v;

	if (*p == '[') {
		start = ++p;
		while (isxdigit((unsigned char)*p) || *p == ':' || *p == '.')
			p++;
		if (*p != ']' || p == start)
			return -1;
		n = (size_t)(p - start);
		p++;
	} else {
		start = p;
		while (isalnum((unsigned char)*p) || *p == '.' || *p == '-')
			p++;
		n = (size_t)(p - start);
		if (!n || *start == '-' || *start == '.')
			return -1;
	}
	if (n >= hsize)
		return -1;
	memcpy(host, start, n);
	host[n] = '\0';
	snprintf(port, psize, "5432");
	if (*p == ':') {
		start = ++p;
		while (isdigit((unsigned char)*p))
			p++;
		n = (size_t)(p - start);
		if (!n || n > 5)
			return -1;
		v = strtol(start, NULL, 10);
		if (v < 1 || v > 65535)
			return -1;
		snprintf(port, psize, "%ld", v);
	}
	snprintf(db, dsize, "postgres");
	if (*p == '/') {
		start = ++p;
		while (isalnum((unsigned char)*p) || *p == '_' || *p == '-' ||
		       *p == '.')
			p++;
		n = (size_t)(p - start);
		if (!n || n >= dsize)
			return -1;
		memcpy(db, start, n);
		db[n] = '\0';
	}
	return *p ? -1 : 0;
}

/* Make room for one more ad-hoc target; false when all are in use. */
static bool evict(struct probe_registry *r, unsigned max)
{
	size_t i, victim = SIZE_MAX;

	if (r->n < max)
		return true;
	for (i = 0; i < r->n; i++)
		if (!r->v[i]->users &&
		    (victim == SIZE_MAX || r->v[i]->used < r->v[victim]->used))
			victim = i;
	if (victim == SIZE_MAX)
		return false;
	log_debug("dropping the least recently probed target", "target",
		  r->v[victim]->t->name, NULL);
	probe_entry_free(r->v[victim]);
	r->v[victim] = r->v[--r->n];
	return true;
}

void probe_registry_init(struct probe_registry *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
}

void probe_registry_release(struct probe_registry *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		probe_entry_free(r->v[i]);
	free(r->v);
	pthread_mutex_destroy(&r->lock);
}

/* A new entry for 'key' (taken), or NULL with 'e' set. */
static struct probe_entry *entry_new(const struct config *cfg, char *key,
				     const char *name, const char *host,
				     const char *port, const char *db,
				     const struct auth_module *am,
				     struct err *e)
{
	struct probe_entry *p = xcalloc(1, sizeof(*p));
	struct err te = ERR_INIT;

	p->key = key;
	config_probe_target(&p->tc, name, host, port, db, am);
	p->t = collect_target_new(&p->tc, cfg, &te);
	if (!p->t) {
		err_set(e, "%s", te.msg);
		target_config_release(&p->tc);
		free(p->key);
		free(p);
		return NULL;
	}
	return p;
}

enum probe_result
probe_registry_get(struct probe_registry *r, const struct config *cfg,
		   const char *name, const char *host, const char *port,
		   const char *db, const struct auth_module *am,
		   const char *module, struct target **out, struct err *e)
{
	struct probe_entry *p = NULL;
	enum probe_result rc = PROBE_OK;
	size_t i, klen;
	char *key;

	klen = strlen(name) + 1 + (module ? strlen(module) : 0) + 1;
	key = xmalloc(klen);
	snprintf(key, klen, "%s%c%s", name, '\x1f', module ? module : "");
	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->n; i++)
		if (!strcmp(r->v[i]->key, key))
			p = r->v[i];
	if (!p) {
		if (!evict(r, cfg->probe_max_targets)) {
			err_set(e,
				"every one of the %u ad-hoc probe targets "
				"is in use; retry later",
				cfg->probe_max_targets);
			rc = PROBE_BUSY;
			goto out;
		}
		p = entry_new(cfg, key, name, host, port, db, am, e);
		key = NULL;
		if (!p) {
			rc = PROBE_BAD_REQUEST;
			goto out;
		}
		r->v = xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
		r->v[r->n++] = p;
	}
	p->users++;
	p->used = ++r->clock;
	*out = p->t;
out:
	pthread_mutex_unlock(&r->lock);
	free(key);
	return rc;
}

void probe_registry_put(struct probe_registry *r, struct target *t)
{
	size_t i;

	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->n; i++)
		if (r->v[i]->t == t)
			r->v[i]->users--;
	pthread_mutex_unlock(&r->lock);
}
