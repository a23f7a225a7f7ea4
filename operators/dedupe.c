/*
 * The dedupe processor (rill_stream_dedupe, docs/dedupe.md): drops a record whose id an earlier
 * record passed with less than the TTL before or after it, in stream time.
 *
 * Memory. The node's window store remembers each passed record under (id, bucket), the bucket
 * being floor(timestamp / ttl) * ttl and the stored timestamp the record's own. Two passed
 * records of one id are at least ttl apart, so a bucket of width ttl holds at most one of each
 * id, and every record within ttl of a timestamp t lies in t's bucket or one of its two
 * neighbours: a record costs at most three point reads and, when it passes, one write. A range
 * read (rill_window_handle_fetch) would do with one read, but makes an iterator, which
 * allocates, per record; three gets allocate nothing. A bucket's entries live in the store until
 * its start falls out of the store's retention, 2 * ttl, which keeps every entry that can still
 * count: an entry counts while its timestamp is within ttl of the node's stream time (the filter
 * below, so what counts does not depend on when a segment happens to drop).
 *
 * Stream time is the largest timestamp the node has seen, as for windows; it starts over when
 * the task is made again (as Kafka Streams' processors' observed time does), so after a restart
 * the memory can be longer for a while, never shorter. A record older than stream time minus the
 * TTL is compared with what is still remembered, and is not remembered itself.
 *
 * Replays. An entry's value is the source of the record that wrote it, its offset (8 bytes,
 * big-endian) and partition (4), then the run that wrote it (8 bytes), then the topic's bytes.
 * Under at-least-once the entry's changelog record can be acknowledged before the record's
 * output and offset are, so after a crash the restored store may remember a record that is then
 * read again; a match whose source is the record's own, written by another run, is that record
 * again, and passes (uncounted). It claims the entry for this run (a rewrite, on replays only):
 * records an upstream flat_map makes of one input share its source, and a second of one id,
 * matching an entry of its own source written (or claimed) in this run, is a duplicate. A run is
 * one making of the node's task, named by 64 random bits at init. Not under
 * exactly-once: there the entry commits with the output and the offset, so a record read again
 * whose entry is there came out already (its offsets were lost or reset), and is dropped as a
 * duplicate. Entries are written the same under both, so a change of guarantee needs no
 * migration. The per-record cost is writing 12 bytes into a value kept built for the record's
 * topic (rebuilt when the topic's pointer changes, the engine's being one string per input
 * partition); the topic is compared only when offset and partition match.
 */
#include "operators_int.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

/* offset (8 bytes), partition (4), big-endian; the run (8); then the topic */
enum { SOURCE_AT = 12, RUN_LEN = 8, SOURCE_LEN = SOURCE_AT + RUN_LEN };

typedef struct {
    rill_dedupe_spec_t spec;
} dedupe_arg_t;

typedef struct {
    const rill_dedupe_spec_t *spec;
    const rill_serde_t *ks; /* KEY: NULL when the key's view is its bytes (bytes, string) */
    rill_window_handle_t *ws;
    int64_t observed; /* the largest timestamp the node has seen */
    rill_bytes_t kb;  /* the serialized key */
    /* The value a passing record writes: offset and partition, the run, then the bytes of
     * src_topic (the topic pointer the record of the last write had). */
    uint8_t *src;
    size_t src_len, src_cap;
    const char *src_topic;
    bool replays; /* at-least-once: a match with the record's own source is a replay */
    uint8_t run[RUN_LEN];
} dedupe_state_t;

void *rill_dedupe_arg_new(const rill_dedupe_spec_t *spec)
{
    if (!spec)
        return NULL;
    dedupe_arg_t *a = rill_calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->spec = *spec;
    a->spec.store = spec->store ? rill_strdup(spec->store) : NULL;
    a->spec.id.header = spec->id.header ? rill_strdup(spec->id.header) : NULL;
    if ((spec->store && !a->spec.store) || (spec->id.header && !a->spec.id.header)) {
        rill_free((char *)a->spec.store);
        rill_free((char *)a->spec.id.header);
        rill_free(a);
        return NULL;
    }
    rill_serde_ref(a->spec.key_serde);
    return a;
}

void rill_dedupe_arg_free(void *p)
{
    dedupe_arg_t *a = p;
    if (!a)
        return;
    rill_free((char *)a->spec.store);
    rill_free((char *)a->spec.id.header);
    rill_serde_unref(a->spec.key_serde);
    rill_free(a);
}

static void dedupe_close(rill_context_t *ctx, void *state)
{
    (void)ctx;
    dedupe_state_t *st = state;
    if (!st)
        return;
    rill_bytes_free(&st->kb);
    rill_free(st->src);
    rill_free(st);
}

/* Fills st for the node; 0 or a code after rill_context_fail(). */
static int init_state(rill_context_t *ctx, const rill_dedupe_spec_t *s, dedupe_state_t *st)
{
    st->spec = s;
    st->observed = INT64_MIN;
    st->replays = !ctx->task->env.exactly_once;
    if (getrandom(st->run, sizeof st->run, 0) != (ssize_t)sizeof st->run) {
        /* No entropy yet (early boot): the time and the state's address name the run. */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        uint64_t r = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
        r ^= (uint64_t)(uintptr_t)st << 17;
        memcpy(st->run, &r, sizeof r);
    }
    if (s->ttl_ms <= 0 || s->ttl_ms > INT64_MAX / 4)
        return rill_context_fail(ctx, RILL_ETOPOLOGY,
                                 "the TTL (%lld ms) must be positive and at most INT64_MAX / 4 "
                                 "(%lld ms)",
                                 (long long)s->ttl_ms, (long long)(INT64_MAX / 4));
    if ((s->id.kind == RILL_DEDUPE_HEADER && !s->id.header) ||
        (s->id.kind == RILL_DEDUPE_FUNCTION && !s->id.fn))
        return rill_context_fail(ctx, RILL_ETOPOLOGY, "the id has no %s",
                                 s->id.kind == RILL_DEDUPE_HEADER ? "header name" : "function");
    st->ws = rill_context_window_store(ctx, s->store);
    if (!st->ws)
        return rill_context_fail(ctx, RILL_ETOPOLOGY, "window store '%s' is not connected to it",
                                 s->store ? s->store : "(none)");
    if (s->id.kind == RILL_DEDUPE_KEY) {
        st->ks = s->key_serde ? s->key_serde : ctx->task->env.default_key_serde;
        if (!st->ks)
            return rill_context_fail(ctx, RILL_ECONFIG,
                                     "no key serde to make the ids of store '%s' from the keys: "
                                     "give one or set a default",
                                     s->store);
        if (st->ks == rill_serde_bytes() || st->ks == rill_serde_string())
            st->ks = NULL; /* the key's view is its bytes: no call, no copy */
    }
    return 0;
}

/* The task does not close a node whose init failed: a failed init frees what it made. */
static int dedupe_init(rill_context_t *ctx, void *arg, void **state)
{
    dedupe_state_t *st = rill_calloc(1, sizeof *st);
    if (!st)
        return RILL_ENOMEM;
    int rc = init_state(ctx, &((dedupe_arg_t *)arg)->spec, st);
    if (rc) {
        dedupe_close(ctx, st);
        return rc;
    }
    *state = st;
    return 0;
}

/* The record's id into *id (a null view: it has none); 0 or a code after rill_context_fail(). */
static int record_id(rill_context_t *ctx, dedupe_state_t *st, const rill_record_t *rec,
                     rill_buf_t *id)
{
    const rill_dedupe_id_t *how = &st->spec->id;
    *id = (rill_buf_t){NULL, 0};
    switch (how->kind) {
    case RILL_DEDUPE_KEY:
        if (!st->ks) {
            *id = rec->key;
            return 0;
        }
        return rill__op_ser(ctx, st->ks, rec->key, &st->kb, id, "key");
    case RILL_DEDUPE_HEADER: {
        /* The last header of the name, as Kafka's Headers.lastHeader(): a byte compare of the
         * names, on headers parsed once for the record (the engine's lazy parse). */
        const char *want = how->header;
        size_t n = rill_headers_count(rec->headers);
        for (size_t i = n; i-- > 0;) {
            const rill_header_t *h = rill_headers_at(rec->headers, i);
            if (h->name[0] == want[0] && strcmp(h->name, want) == 0) {
                *id = h->value;
                break;
            }
        }
        return 0;
    }
    case RILL_DEDUPE_FUNCTION:
        return how->fn(how->ud, ctx, rec, id); /* it says why with rill_context_fail() */
    }
    return 0;
}

/* Whether a and b are less than ttl apart (no overflow whatever they are). */
static bool within(int64_t a, int64_t b, int64_t ttl)
{
    int64_t d;
    if (__builtin_sub_overflow(a, b, &d))
        return false;
    return d > -ttl && d < ttl;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Big-endian, as the changelog carries them to any machine. */
static void put_be64(uint8_t *out, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(out, &v, 8);
}

static void put_be32(uint8_t *out, uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    memcpy(out, &v, 4);
}

/* The value of rec's entry, its source, in st->src: 0 or RILL_ENOMEM (only when the topic
 * changes to a longer name than any before). */
static int make_source(dedupe_state_t *st, const rill_record_t *rec)
{
    if (rec->topic != st->src_topic || !st->src) {
        size_t n = rec->topic ? strlen(rec->topic) : 0;
        if (SOURCE_LEN + n > st->src_cap) {
            size_t cap = SOURCE_LEN + n < 64 ? 64 : SOURCE_LEN + n;
            uint8_t *p = rill_realloc(st->src, cap);
            if (!p)
                return RILL_ENOMEM;
            st->src = p;
            st->src_cap = cap;
        }
        memcpy(st->src + SOURCE_AT, st->run, RUN_LEN);
        if (n)
            memcpy(st->src + SOURCE_LEN, rec->topic, n);
        st->src_len = SOURCE_LEN + n;
        st->src_topic = rec->topic;
    }
    put_be64(st->src, (uint64_t)rec->offset);
    put_be32(st->src + 8, (uint32_t)rec->partition);
    return 0;
}

/* Whether v, the value of an entry rec matches, is rec's own source written by another run: rec
 * read again (a replay), not a duplicate. Never for a record without a source (offset -1) or an
 * entry without one. */
static bool is_replay(const dedupe_state_t *st, rill_buf_t v, const rill_record_t *rec)
{
    const uint8_t *p = v.data;
    uint8_t own[SOURCE_AT];
    if (rec->offset < 0 || v.len < SOURCE_LEN)
        return false;
    put_be64(own, (uint64_t)rec->offset);
    put_be32(own + 8, (uint32_t)rec->partition);
    if (memcmp(p, own, SOURCE_AT) != 0 || memcmp(p + SOURCE_AT, st->run, RUN_LEN) == 0)
        return false;
    size_t n = rec->topic ? strlen(rec->topic) : 0;
    return v.len - SOURCE_LEN == n && (n == 0 || memcmp(p + SOURCE_LEN, rec->topic, n) == 0);
}

/* Whether a record of id at ts is a duplicate: whether the store remembers a passed record of
 * id less than ttl from ts (in ts's bucket or a neighbour) and less than ttl before stream time.
 * 0 with *dup set (and, when it is, *replay: the entry is the record's own), or a code after
 * rill_context_fail(). */
static int is_duplicate(rill_context_t *ctx, dedupe_state_t *st, const rill_record_t *rec,
                        rill_buf_t id, int64_t bucket, bool *dup, bool *replay)
{
    const int64_t ts = rec->timestamp;
    const int64_t ttl = st->spec->ttl_ms;
    /* Its own bucket first (a duplicate close in time), then the one before, then the one after
     * (only out-of-order records can have put something there). */
    static const int64_t order[3] = {0, -1, 1};
    *dup = false;
    for (int i = 0; i < 3; i++) {
        int64_t b;
        if (__builtin_add_overflow(bucket, order[i], &b) || b < INT64_MIN / ttl ||
            b > INT64_MAX / ttl)
            continue;
        rill_buf_t v;
        int64_t seen;
        int rc = rill_window_handle_get(st->ws, id, b * ttl, &v, &seen);
        if (rc == RILL_ENOENT)
            continue;
        if (rc)
            return rill_context_fail(ctx, rc, "cannot read store '%s': %s", st->spec->store,
                                     rill_strerror(rc));
        if (within(seen, ts, ttl) && (seen >= st->observed || within(seen, st->observed, ttl))) {
            /* When the record's own entry is there no other entry matches (two passed records
             * of an id are at least ttl apart), so the first match tells a replay. */
            *dup = true;
            *replay = st->replays && is_replay(st, v, rec);
            return 0;
        }
    }
    return 0;
}

static int dedupe_process(rill_context_t *ctx, void *state, const rill_record_t *rec)
{
    dedupe_state_t *st = state;
    const int64_t ttl = st->spec->ttl_ms, ts = rec->timestamp;
    if (ts > st->observed)
        st->observed = ts;
    rill_buf_t id;
    int rc = record_id(ctx, st, rec, &id);
    if (rc)
        return rc;
    if (!id.data)
        return rill_context_forward(ctx, rec); /* no id: never a duplicate */
    int64_t bucket = floor_div(ts, ttl);
    bool dup, replay = false;
    if ((rc = is_duplicate(ctx, st, rec, id, bucket, &dup, &replay)))
        return rc;
    if (dup && !replay) {
        ctx->task->metrics.duplicates_dropped++;
        return 0;
    }
    /* Remembered, unless it is too old to count already (a replay's entry is there: it is
     * claimed for this run). The store's write and the output go out together: in the same
     * transaction under exactly-once; under at-least-once both before the offsets are committed,
     * in no set order, hence the source in the value. */
    if (replay || within(ts, st->observed, ttl)) {
        if ((rc = make_source(st, rec)))
            return rill_context_fail(ctx, rc, "cannot make the entry of store '%s': %s",
                                     st->spec->store, rill_strerror(rc));
        rc = rill_window_handle_put(st->ws, id, bucket * ttl, (rill_buf_t){st->src, st->src_len},
                                    ts);
        if (rc && rc != RILL_ENOENT)
            return rill_context_fail(ctx, rc, "cannot write store '%s': %s", st->spec->store,
                                     rill_strerror(rc));
    }
    return rill_context_forward(ctx, rec);
}

static const rill_processor_ops dedupe_ops = {dedupe_init, dedupe_process, dedupe_close};

const rill_processor_ops *rill_dedupe_ops(void)
{
    return &dedupe_ops;
}
