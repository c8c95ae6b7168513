/*
 * String-keyed hash map: open addressing with linear probing, at most half
 * full, keys copied and hashed once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "strmap.h"
#include "xalloc.h"

/*
 * A word-at-a-time multiplicative hash with a final avalanche: series keys
 * are long and similar, so every input bit must reach the low bits that pick
 * the slot.
 */
static size_t hash_bytes(const char *s, size_t n)
{
	const uint64_t k = 0x9e3779b97f4a7c15ULL;
	uint64_t h = k ^ n, w;

	while (n >= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * k;
		h ^= h >> 32;
		s += 8;
		n -= 8;
	}
	if (n) {
		w = 0;
		memcpy(&w, s, n);
		h = (h ^ w) * k;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (size_t)h;
}

size_t strmap_hash(const char *key, size_t len)
{
	return hash_bytes(key, len);
}

/* The slot holding 'key', or the empty slot where it belongs. */
static struct strmap_entry *find_slot(struct strmap_entry *slots, size_t nslots,
				      const char *key, size_t len, size_t hash)
{
	size_t mask = nslots - 1, i = hash & mask;
	struct strmap_entry *e;

	for (;;) {
		e = &slots[i];
		if (!e->key)
			return e;
		if (e->hash == hash && e->keylen == len &&
		    !memcmp(e->key, key, len))
			return e;
		i = (i + 1) & mask;
	}
}

static void rehash(struct strmap *m, size_t nslots)
{
	struct strmap_entry *slots = xcalloc(nslots, sizeof(*slots));
	struct strmap_entry *e, *to;
	size_t i;

	for (i = 0; i < m->nslots; i++) {
		e = &m->slots[i];
		if (!e->key)
			continue;
		to = find_slot(slots, nslots, e->key, e->keylen, e->hash);
		*to = *e;
	}
	free(m->slots);
	m->slots = slots;
	m->nslots = nslots;
}

void *strmap_getn(const struct strmap *m, const char *key, size_t len)
{
	struct strmap_entry *e;

	if (!m->n)
		return NULL;
	e = find_slot(m->slots, m->nslots, key, len, hash_bytes(key, len));
	return e->key ? e->value : NULL;
}

void *strmap_get(const struct strmap *m, const char *key)
{
	return strmap_getn(m, key, strlen(key));
}

bool strmap_putn(struct strmap *m, const char *key, size_t len, void *value,
		 void **old)
{
	size_t hash = hash_bytes(key, len);
	struct strmap_entry *e;

	/* Keep the load at most 1/2 so probe runs stay short. */
	if (2 * (m->n + 1) > m->nslots)
		rehash(m, m->nslots ? 2 * m->nslots : 16);
	e = find_slot(m->slots, m->nslots, key, len, hash);
	if (e->key) {
		if (old)
			*old = e->value;
		return false;
	}
	e->key = xmalloc(len + 1);
	memcpy(e->key, key, len);
	e->key[len] = '\0';
	e->keylen = len;
	e->hash = hash;
	e->value = value;
	m->n++;
	return true;
}

bool strmap_put(struct strmap *m, const char *key, void *value, void **old)
{
	return strmap_putn(m, key, strlen(key), value, old);
}

void *strmap_set(struct strmap *m, const char *key, void *value)
{
	size_t len = strlen(key);
	size_t hash = hash_bytes(key, len);
	struct strmap_entry *e;
	void *old;

	if (m->nslots) {
		e = find_slot(m->slots, m->nslots, key, len, hash);
		if (e->key) {
			old = e->value;
			e->value = value;
			return old;
		}
	}
	strmap_putn(m, key, len, value, NULL);
	return NULL;
}

size_t strmap_filter(struct strmap *m,
		     bool (*keep)(const char *key, void *value, void *arg),
		     void *arg, void (*free_value)(void *))
{
	size_t i, dropped = 0;

	for (i = 0; i < m->nslots; i++) {
		struct strmap_entry *e = &m->slots[i];

		if (!e->key || keep(e->key, e->value, arg))
			continue;
		if (free_value)
			free_value(e->value);
		free(e->key);
		e->key = NULL;
		dropped++;
	}
	m->n -= dropped;
	if (!m->n)
		strmap_release(m);
	else if (dropped) /* open addressing: the probe chains have holes */
		rehash(m, m->nslots);
	return dropped;
}

void strmap_each(const struct strmap *m,
		 void (*fn)(const char *key, void *value, void *arg), void *arg)
{
	for (size_t i = 0; i < m->nslots; i++)
		if (m->slots[i].key)
			fn(m->slots[i].key, m->slots[i].value, arg);
}

void strmap_release_with(struct strmap *m, void (*free_value)(void *))
{
	size_t i;

	for (i = 0; i < m->nslots; i++)
		if (m->slots[i].key)
			free_value(m->slots[i].value);
	strmap_release(m);
}

void strmap_release(struct strmap *m)
{
	size_t i;

	for (i = 0; i < m->nslots; i++)
		free(m->slots[i].key);
	free(m->slots);
	m->slots = NULL;
	m->nslots = 0;
	m->n = 0;
}
