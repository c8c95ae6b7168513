/*
 * The /probe registry of one snapshot: ad-hoc "host:port[/dbname]"
 * targets made on first use and kept, at most probe.max_targets, the least
 * recently used dropped first, so their connections stay bounded and are
 * reused; and the parser of such specs, which lets no conninfo through.
 */
#ifndef PROBE_H
#define PROBE_H

#include <pthread.h>
#include <stddef.h>
#include "config.h"
#include "err.h"
#include "target.h"

struct probe_entry;

/* What runtime_probe decided. */
enum probe_result {
	PROBE_OK,
	PROBE_BAD_REQUEST, /* not a target name nor host:port[/db]: 400 */
	PROBE_FORBIDDEN,   /* host:port not in probe.allow: 403 */
	PROBE_BUSY,	   /* every ad-hoc slot is in use: 503 */
};

/*
 * The registry, embedded in the snapshot: initialised with it, released
 * when it goes (its targets freed then). Thread-safe.
 */
struct probe_registry {
	pthread_mutex_t lock;
	struct probe_entry **v;
	size_t n;
	unsigned long clock; /* for least recently used */
};

void probe_registry_init(struct probe_registry *r);
void probe_registry_release(struct probe_registry *r);

/*
 * Split "host[:port][/db]" (host a DNS name, IPv4 or [IPv6]; port 5432
 * and db "postgres" by default) into parts, accepting nothing else: no
 * '=', spaces, '@', '?' or scheme, so a conninfo can never pass through.
 * Returns 0, or -1 when 's' is not such a spec or a part does not fit.
 */
int probe_parse_spec(const char *s, char *host, size_t hsize, char *port,
		     size_t psize, char *db, size_t dsize);

/*
 * The ad-hoc target 'name' ("host:port/db") with auth module 'am' (named
 * 'module'; both NULL: none), made under the config 'cfg' when it is not
 * in 'r' yet. On PROBE_OK, *out is held until probe_registry_put;
 * PROBE_BUSY when every slot is in use, PROBE_BAD_REQUEST when the target
 * cannot be made ('e' says why, safe to show).
 */
enum probe_result
probe_registry_get(struct probe_registry *r, const struct config *cfg,
		   const char *name, const char *host, const char *port,
		   const char *db, const struct auth_module *am,
		   const char *module, struct target **out, struct err *e);
void probe_registry_put(struct probe_registry *r, struct target *t);

#endif
