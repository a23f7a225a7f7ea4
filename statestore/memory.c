/*
 * The in-memory backend: a red-black tree (libbsd's <bsd/sys/tree.h> macros) of nodes that each
 * hold one key and its value in a single allocation, ordered like RocksDB's BytewiseComparator.
 *
 * Threads: only the owner thread changes the tree, and it does so under the write lock; readers
 * of other threads (get_copy, range, approx_count) take the read lock. The owner's own get reads
 * without locking: no other thread ever writes, so nothing can change under it.
 */
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np */
#include "statestore_int.h"

#include <bsd/sys/tree.h>
#include <stdio.h>
#include <string.h>

typedef struct mem_node {
    RB_ENTRY(mem_node) link;
    const uint8_t *key; /* data, or the caller's bytes in a lookup probe */
    size_t klen;
    size_t vlen;
    uint8_t data[]; /* the key, then the value */
} mem_node_t;

static int node_cmp(const mem_node_t *a, const mem_node_t *b)
{
    return rill__store_key_cmp(a->key, a->klen, b->key, b->klen);
}

RB_HEAD(mem_tree, mem_node);
/* RB_GENERATE_STATIC marks the functions __unused, which libbsd leaves undefined on Linux. */
RB_GENERATE_INTERNAL(mem_tree, mem_node, link, node_cmp, __attribute__((unused)) static)

typedef struct {
    rill_store_t base;
    pthread_rwlock_t lock;
    struct mem_tree tree;
    uint64_t count;
} mem_store_t;

/*
 * An iterator is a copy of the entries in range, made under the read lock when it is created:
 * later writes cannot touch it, which gives the snapshot the header promises, and a reader
 * thread holds the lock only for the copy. The cost is memory and time proportional to the
 * range, paid up front. One allocation holds the struct, the entry table and the bytes.
 */
typedef struct {
    size_t koff, klen, voff, vlen; /* offsets into bytes */
} mem_entry_t;

typedef struct {
    rill_store_iter_t base;
    size_t n;
    size_t next; /* entries handed out so far */
    bool reverse;
    mem_entry_t *entries;
    uint8_t *bytes;
} mem_iter_t;

static const rill_store_ops mem_ops;

/* A lookup probe: a node on the stack that points at the caller's key bytes. */
static mem_node_t probe_of(rill_buf_t key)
{
    mem_node_t probe;
    memset(&probe, 0, sizeof probe);
    probe.key = key.data;
    probe.klen = key.len;
    return probe;
}

/* The value view of a node; never null, even when empty (an empty value is not a delete). */
static rill_buf_t node_value(const mem_node_t *node)
{
    return (rill_buf_t){node->data + node->klen, node->vlen};
}

rill_store_t *rill__memory_store_open(char *errstr, size_t errstr_size)
{
    mem_store_t *ms = rill_calloc(1, sizeof *ms);
    if (!ms)
        goto nomem;
    if (rill__store_base_init(&ms->base, &mem_ops, RILL_STORE_IN_MEMORY)) {
        rill_free(ms);
        goto nomem;
    }
    /* Readers must not starve the owner thread, which writes on every record. */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(&ms->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc) {
        rill__store_base_fini(&ms->base);
        rill_free(ms);
        goto nomem;
    }
    RB_INIT(&ms->tree);
    return &ms->base;
nomem:
    snprintf(errstr, errstr_size, "in-memory store: out of memory");
    return NULL;
}

static void mem_close(rill_store_t *store)
{
    mem_store_t *ms = (mem_store_t *)store;
    mem_node_t *node, *next;
    RB_FOREACH_SAFE(node, mem_tree, &ms->tree, next)
    {
        RB_REMOVE(mem_tree, &ms->tree, node);
        rill_free(node);
    }
    pthread_rwlock_destroy(&ms->lock);
    rill__store_base_fini(&ms->base);
    rill_free(ms);
}

static int mem_get(rill_store_t *store, rill_buf_t key, rill_buf_t *value)
{
    mem_store_t *ms = (mem_store_t *)store;
    mem_node_t probe = probe_of(key);
    mem_node_t *node = RB_FIND(mem_tree, &ms->tree, &probe);
    if (!node)
        return RILL_ENOENT;
    *value = node_value(node);
    return 0;
}

static int mem_get_copy(rill_store_t *store, rill_buf_t key, rill_bytes_t *out)
{
    mem_store_t *ms = (mem_store_t *)store;
    mem_node_t probe = probe_of(key);
    int rc = RILL_ENOENT;
    pthread_rwlock_rdlock(&ms->lock);
    mem_node_t *node = RB_FIND(mem_tree, &ms->tree, &probe);
    if (node) {
        rill_buf_t v = node_value(node);
        rc = rill_bytes_append(out, v.data, v.len);
    }
    pthread_rwlock_unlock(&ms->lock);
    if (rc == RILL_ENOMEM)
        rill__store_set_error(store, rc, "in-memory store: out of memory");
    return rc;
}

/*
 * All or nothing: every node the batch needs is allocated before the tree is touched, so the
 * only failure (out of memory) happens while nothing has changed. Then, under the write lock,
 * the writes are applied in order; a put replaces any node of the same key, so a later write of
 * a key wins.
 */
static int mem_write_batch(rill_store_t *store, const rill_store_write_t *writes, size_t n)
{
    mem_store_t *ms = (mem_store_t *)store;
    mem_node_t *small[16];
    mem_node_t **nodes = small;
    size_t i;
    if (n > sizeof small / sizeof *small) {
        nodes = rill_calloc(n, sizeof *nodes);
        if (!nodes)
            return rill__store_set_error(store, RILL_ENOMEM, "in-memory store: out of memory");
    }
    for (i = 0; i < n; i++) {
        const rill_store_write_t *w = &writes[i];
        nodes[i] = NULL;
        if (!w->value.data)
            continue;
        size_t klen = w->key.len, vlen = w->value.len;
        if (klen > SIZE_MAX - sizeof(mem_node_t) - vlen)
            goto nomem;
        mem_node_t *node = rill_malloc(sizeof *node + klen + vlen);
        if (!node)
            goto nomem;
        node->key = node->data;
        node->klen = klen;
        node->vlen = vlen;
        if (klen)
            memcpy(node->data, w->key.data, klen);
        if (vlen)
            memcpy(node->data + klen, w->value.data, vlen);
        nodes[i] = node;
    }

    pthread_rwlock_wrlock(&ms->lock);
    for (i = 0; i < n; i++) {
        mem_node_t *old;
        if (nodes[i]) {
            old = RB_INSERT(mem_tree, &ms->tree, nodes[i]);
            if (old) {
                RB_REMOVE(mem_tree, &ms->tree, old);
                RB_INSERT(mem_tree, &ms->tree, nodes[i]);
                rill_free(old);
            } else {
                ms->count++;
            }
        } else {
            mem_node_t probe = probe_of(writes[i].key);
            old = RB_FIND(mem_tree, &ms->tree, &probe);
            if (old) {
                RB_REMOVE(mem_tree, &ms->tree, old);
                rill_free(old);
                ms->count--;
            }
        }
    }
    pthread_rwlock_unlock(&ms->lock);
    if (nodes != small)
        rill_free(nodes);
    return 0;

nomem:
    while (i-- > 0)
        rill_free(nodes[i]);
    if (nodes != small)
        rill_free(nodes);
    return rill__store_set_error(store, RILL_ENOMEM, "in-memory store: out of memory");
}

/* Whether node is past the upper bound of a range. */
static bool past_end(const mem_node_t *node, const rill_buf_t *to, bool to_exclusive)
{
    if (!to)
        return false;
    int c = rill__store_key_cmp(node->key, node->klen, to->data, to->len);
    return to_exclusive ? c >= 0 : c > 0;
}

static mem_node_t *range_first(mem_store_t *ms, const rill_buf_t *from)
{
    if (!from)
        return RB_MIN(mem_tree, &ms->tree);
    mem_node_t probe = probe_of(*from);
    return RB_NFIND(mem_tree, &ms->tree, &probe);
}

static rill_store_iter_t *mem_range(rill_store_t *store, const rill_buf_t *from,
                                    const rill_buf_t *to, bool to_exclusive, bool reverse)
{
    mem_store_t *ms = (mem_store_t *)store;
    mem_node_t *node;
    size_t n = 0, bytes = 0;
    bool overflow = false;

    pthread_rwlock_rdlock(&ms->lock);
    for (node = range_first(ms, from); node && !past_end(node, to, to_exclusive);
         node = RB_NEXT(mem_tree, &ms->tree, node)) {
        size_t len = node->klen + node->vlen;
        if (bytes > SIZE_MAX - len)
            overflow = true;
        bytes += len;
        n++;
    }
    mem_iter_t *it = NULL;
    if (!overflow && n <= (SIZE_MAX - sizeof *it - bytes) / sizeof(mem_entry_t))
        it = rill_malloc(sizeof *it + n * sizeof(mem_entry_t) + bytes);
    if (it) {
        it->base.ops = &mem_ops;
        it->n = n;
        it->next = 0;
        it->reverse = reverse;
        it->entries = (mem_entry_t *)(it + 1);
        it->bytes = (uint8_t *)(it->entries + n);
        size_t i = 0, off = 0;
        for (node = range_first(ms, from); i < n; node = RB_NEXT(mem_tree, &ms->tree, node), i++) {
            mem_entry_t *e = &it->entries[i];
            e->koff = off;
            e->klen = node->klen;
            e->voff = off + node->klen;
            e->vlen = node->vlen;
            memcpy(it->bytes + off, node->data, node->klen + node->vlen);
            off += node->klen + node->vlen;
        }
    }
    pthread_rwlock_unlock(&ms->lock);
    if (!it)
        rill__store_set_error(store, RILL_ENOMEM, "in-memory store: out of memory");
    return it ? &it->base : NULL;
}

static bool mem_iter_next(rill_store_iter_t *iter, rill_buf_t *key, rill_buf_t *value)
{
    mem_iter_t *it = (mem_iter_t *)iter;
    if (it->next == it->n)
        return false;
    size_t i = it->reverse ? it->n - 1 - it->next : it->next;
    it->next++;
    const mem_entry_t *e = &it->entries[i];
    /* bytes is never NULL, so empty keys and values come out as empty, not null, views. */
    *key = (rill_buf_t){it->bytes + e->koff, e->klen};
    *value = (rill_buf_t){it->bytes + e->voff, e->vlen};
    return true;
}

static void mem_iter_close(rill_store_iter_t *iter)
{
    rill_free(iter);
}

static int mem_flush(rill_store_t *store)
{
    return 0;
}

static uint64_t mem_approx_count(rill_store_t *store)
{
    mem_store_t *ms = (mem_store_t *)store;
    pthread_rwlock_rdlock(&ms->lock);
    uint64_t n = ms->count;
    pthread_rwlock_unlock(&ms->lock);
    return n;
}

/* In memory, writes apply at once and nothing is recorded: an in-memory store starts empty and
 * is restored from the start of its changelog whenever its task is made. */
static int mem_set_transactional(rill_store_t *store)
{
    (void)store;
    return 0;
}

static int mem_commit(rill_store_t *store, int64_t offset)
{
    (void)store;
    (void)offset;
    return 0;
}

static int64_t mem_committed_offset(rill_store_t *store)
{
    (void)store;
    return -1;
}

static const rill_store_ops mem_ops = {
    .close = mem_close,
    .get = mem_get,
    .get_copy = mem_get_copy,
    .write_batch = mem_write_batch,
    .range = mem_range,
    .iter_next = mem_iter_next,
    .iter_close = mem_iter_close,
    .flush = mem_flush,
    .approx_count = mem_approx_count,
    .set_transactional = mem_set_transactional,
    .commit = mem_commit,
    .committed_offset = mem_committed_offset,
};
