/*
 * The record cache of one store (operators_int.h): dirty entries by layout key, in the order of
 * their last write.
 *
 * Entries live in an arena (rill_arena_t) and are never freed one by one: the cache only grows
 * until the task writes it through, and then rill__cache_clear() resets the arena and the table
 * in one go. The arena keeps a chunk of its high-water size across resets, so once the cache has
 * been filled to its budget once it allocates nothing more. An update whose value fits the
 * entry's is made in place; a larger one takes a new entry from the arena (the old one is
 * unlinked and its bytes stay counted until the clear).
 *
 * A key new to the cache may bring what the store holds for it (the caller has just read it):
 * the flush then hands it to the flush listener as the replaced value without reading the store
 * again.
 *
 * The index is an open-addressing table (linear probing) of entry pointers with their 64-bit
 * hashes, at most half full. Entries are never removed from it (a delete is an entry too), so no
 * tombstones are needed. Hashes come from xxHash's XXH3 (docs/ARCHITECTURE.md says why).
 *
 * Owner thread only: other threads never see a cache (interactive queries read the stores).
 */
#include "operators_int.h"

#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

typedef struct {
    uint64_t hash;
    rill__cache_entry_t *entry; /* NULL: free */
} slot_t;

struct rill__cache {
    rill_arena_t *arena;
    slot_t *slots;
    size_t mask; /* slot count - 1; the count is a power of two */
    size_t count;
    size_t bytes; /* entries' bytes (live or replaced) plus the table */
    rill__cache_entry_t *head, *tail;
};

enum { FIRST_SLOTS = 256, ARENA_CHUNK = 64 * 1024 };

rill__cache_t *rill__cache_new(void)
{
    rill__cache_t *c = rill_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->arena = rill_arena_new(ARENA_CHUNK);
    c->slots = rill_calloc(FIRST_SLOTS, sizeof *c->slots);
    if (!c->arena || !c->slots) {
        rill__cache_free(c);
        return NULL;
    }
    c->mask = FIRST_SLOTS - 1;
    c->bytes = FIRST_SLOTS * sizeof *c->slots;
    return c;
}

void rill__cache_free(rill__cache_t *c)
{
    if (!c)
        return;
    rill_arena_destroy(c->arena);
    rill_free(c->slots);
    rill_free(c);
}

void rill__cache_clear(rill__cache_t *c)
{
    if (c->count)
        memset(c->slots, 0, (c->mask + 1) * sizeof *c->slots);
    rill_arena_reset(c->arena);
    c->count = 0;
    c->bytes = (c->mask + 1) * sizeof *c->slots;
    c->head = c->tail = NULL;
}

size_t rill__cache_count(const rill__cache_t *c)
{
    return c->count;
}

size_t rill__cache_bytes(const rill__cache_t *c)
{
    return c->bytes;
}

const rill__cache_entry_t *rill__cache_first(const rill__cache_t *c)
{
    return c->head;
}

static bool same_key(const rill__cache_entry_t *e, rill_buf_t key)
{
    return e->klen == key.len && (!key.len || !memcmp(e->data, key.data, key.len));
}

/* The slot holding key, or the free slot where it would go. */
static slot_t *find_slot(const rill__cache_t *c, uint64_t hash, rill_buf_t key)
{
    for (size_t i = (size_t)hash & c->mask;; i = (i + 1) & c->mask) {
        slot_t *s = &c->slots[i];
        if (!s->entry || (s->hash == hash && same_key(s->entry, key)))
            return s;
    }
}

const rill__cache_entry_t *rill__cache_get(const rill__cache_t *c, rill_buf_t key)
{
    uint64_t hash = XXH3_64bits(key.data, key.len);
    return find_slot(c, hash, key)->entry;
}

/* Doubles the table. Every entry is rehashed from its stored hash. */
static int grow(rill__cache_t *c)
{
    size_t n = (c->mask + 1) * 2;
    slot_t *slots = rill_calloc(n, sizeof *slots);
    if (!slots)
        return RILL_ENOMEM;
    for (size_t i = 0; i <= c->mask; i++) {
        slot_t *s = &c->slots[i];
        if (!s->entry)
            continue;
        size_t j = (size_t)s->hash & (n - 1);
        while (slots[j].entry)
            j = (j + 1) & (n - 1);
        slots[j] = *s;
    }
    c->bytes += (n - c->mask - 1) * sizeof *slots;
    rill_free(c->slots);
    c->slots = slots;
    c->mask = n - 1;
    return 0;
}

static void unlink_entry(rill__cache_t *c, rill__cache_entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
}

static void append_entry(rill__cache_t *c, rill__cache_entry_t *e)
{
    e->next = NULL;
    e->prev = c->tail;
    if (c->tail)
        c->tail->next = e;
    else
        c->head = e;
    c->tail = e;
}

int rill__cache_put(rill__cache_t *c, rill_buf_t key, rill_buf_t value, int64_t ts,
                    const rill_buf_t *old)
{
    if (key.len >= UINT32_MAX || value.len >= UINT32_MAX || (old && old->len >= UINT32_MAX))
        return RILL_EINVAL;
    if (2 * (c->count + 1) > c->mask + 1 && grow(c))
        return RILL_ENOMEM;
    uint64_t hash = XXH3_64bits(key.data, key.len);
    slot_t *s = find_slot(c, hash, key);
    rill__cache_entry_t *e = s->entry;
    if (e && value.len <= e->vcap) {
        if (e != c->tail) {
            unlink_entry(c, e);
            append_entry(c, e);
        }
    } else {
        /* A new entry, or a value larger than the entry has room for: the old part moves. */
        rill_buf_t o = e ? rill__cache_old(e) : old && old->data ? *old : (rill_buf_t){NULL, 0};
        uint8_t state = e           ? e->old
                        : !old      ? RILL__OLD_UNKNOWN
                        : old->data ? RILL__OLD_PRESENT
                                    : RILL__OLD_ABSENT;
        size_t need = sizeof *e + key.len + o.len + value.len;
        rill__cache_entry_t *n = rill_arena_alloc(c->arena, need);
        if (!n)
            return RILL_ENOMEM;
        n->klen = (uint32_t)key.len;
        n->olen = (uint32_t)o.len;
        n->old = state;
        n->vcap = (uint32_t)value.len;
        if (key.len)
            memcpy(n->data, key.data, key.len);
        if (o.len)
            memcpy(n->data + key.len, o.data, o.len);
        if (e)
            unlink_entry(c, e);
        else
            c->count++;
        c->bytes += need;
        s->hash = hash;
        s->entry = n;
        append_entry(c, n);
        e = n;
    }
    e->deleted = value.data == NULL;
    e->vlen = (uint32_t)value.len;
    e->ts = ts;
    if (value.len) /* memmove: the value may be this entry's own */
        memmove(e->data + e->klen + e->olen, value.data, value.len);
    return 0;
}
