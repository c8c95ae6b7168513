/*
 * A string-keyed hash map (open addressing) for lookups by name: families in
 * a metric set, collectors by name, series keys for duplicate detection.
 * Keys are copied; values are the caller's.
 */
#ifndef STRMAP_H
#define STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include "compat.h"

/* One slot of a struct strmap, which owns it and its key. */
struct strmap_entry {
	char *key; /* owned copy; NULL marks an empty slot */
	size_t keylen;
	size_t hash;
	void *value;
};

/*
 * Embedded in its owner (a metric set, a queryset), initialised with
 * STRMAP_INIT and freed with strmap_release by that owner.
 */
struct strmap {
	struct strmap_entry *slots;
	size_t nslots; /* power of two, or 0 */
	size_t n;
};

#define STRMAP_INIT                                                            \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

/*
 * The value stored for 'key', or NULL when absent (store non-NULL values to
 * tell the two apart). Keys are byte strings of 'len' bytes (may contain
 * NUL).
 */
void *strmap_getn(const struct strmap *m, const char *key, size_t len);
void *strmap_get(const struct strmap *m, const char *key);
/*
 * Insert 'key' -> 'value' unless present. Returns true when inserted, false
 * when the key existed (then *old, if not NULL, gets the stored value).
 */
bool strmap_putn(struct strmap *m, const char *key, size_t len, void *value,
		 void **old);
bool strmap_put(struct strmap *m, const char *key, void *value, void **old);
/* Insert or replace; returns the value replaced, or NULL. */
void *strmap_set(struct strmap *m, const char *key, void *value);
/*
 * Keep the entries 'keep' answers true for; drop the others, calling
 * 'free_value' (may be NULL) on their values. Returns how many went.
 */
size_t strmap_filter(struct strmap *m,
		     bool (*keep)(const char *key, void *value, void *arg),
		     void *arg, void (*free_value)(void *));
/* Call 'fn' on each entry, in no particular order; 'm' is not changed. */
void strmap_each(const struct strmap *m,
		 void (*fn)(const char *key, void *value, void *arg),
		 void *arg);
/* Free the table and its keys, calling 'free_value' on each value. */
void strmap_release_with(struct strmap *m, void (*free_value)(void *));
/* Free the table and its keys, not the values. */
void strmap_release(struct strmap *m);
/* The hash the map uses, for tables of one's own (metric series keys). */
size_t strmap_hash(const char *key, size_t len);

#endif
