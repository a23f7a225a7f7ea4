/*
 * Versioned key-value stores (statestore.h): Kafka Streams' VersionedKeyValueStore semantics
 * (KIP-889) on two parts, a latest-value store and a segmented history (segments.h).
 *
 * The model. A key's history is a sequence of events ordered by timestamp, each a value or a
 * tombstone; the value of the key as of t is the event with the largest timestamp <= t (none if
 * that is a tombstone). A put adds an event, or replaces the one at the same timestamp.
 *
 * Where events live. The newest event, when it is a value, is in the latest-value store: key ->
 * valid_from (8 bytes, rill__time_encode) then the value, so get(key) is one point lookup. Every
 * other event is a record in the history: a value version [valid_from, valid_to), valid_to being
 * the next event's timestamp, or a tombstone [ts, ts) (it needs no end: nothing is valid inside
 * it). A value version goes in the segment of its valid_to and a tombstone in the segment of its
 * timestamp, so a segment expires exactly when everything in it ended before observed -
 * retention, and dropping it (segments.c) bounds the disk a history takes. The newest event of a
 * key never expires: it is in the latest store, or (a tombstone) it is forgotten only once it is
 * older than retention, when no put may land before it any more.
 *
 * Records. Within a segment, a key's records are one entry (the layout is the plain key) whose
 * value is the records in timestamp order, each valid_from (8), valid_to (8), length (4,
 * big-endian; 0xffffffff for a tombstone) and the bytes. One entry per key and segment, as Kafka
 * Streams' segment values, so every read is a point lookup (RocksDB: bloom filters, no iterator;
 * in memory: a tree lookup, no copy), which measured cheaper than one ordered keyspace of
 * key||timestamp with range seeks (docs/ARCHITECTURE.md, "State"). The cost is that a put
 * rewrites the key's entry of the segment it touches: proportional to the key's versions in one
 * segment, not to its whole history.
 *
 * Order. Storage is monotonic in event order: an earlier event is never in a later segment than
 * a later one (a value ends where the next event starts; a tombstone is stored at its own start).
 * So the version valid at t, or the event a put at t lands before, is in a segment >= seg(t),
 * and scanning segments upward from seg(t) meets events in order: the first segment holding an
 * event later than t holds the next one. Reads and puts stop there, or at seg(latest's start),
 * past which no history of the key exists.
 *
 * Writes. A put reads the latest value and the records of the segments it needs, edits that run
 * of events in a scratch array, encodes every entry it changes into one scratch buffer (the
 * values it moves are borrowed from the stores' read buffers, which the writes would free), then
 * writes the segments in ascending order and the latest store last. A failure between those
 * writes leaves a version in two places, never in none, and replaying the changelog repairs it
 * (a put is idempotent). Puts that change nothing (a tombstone over a tombstone) write nothing.
 * No allocation once the scratch buffers have grown to the largest put.
 */
#include "segments.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define HEADER_LEN    (2 * RILL__TIME_LEN + 4) /* of one history record */
#define TOMBSTONE_LEN UINT32_C(0xffffffff)

/* One event of a key during a put. value.data NULL: a tombstone. */
typedef struct {
    int64_t vf, vt;
    rill_buf_t value;
    int64_t src;      /* the segment it was read from (unless from_latest or new) */
    bool from_latest; /* it was the latest store's */
    bool is_new;      /* the put made it */
    bool changed;     /* its place or contents must be written */
} version_t;

/* A segment entry the put will write: its bytes at off in buf. */
typedef struct {
    int64_t id;
    size_t off, len;
} rewrite_t;

struct rill_versioned_store {
    rill_store_t *latest;
    rill__segments_t *segs;
    int64_t retention_ms;
    version_t *vers;
    size_t nvers, vers_cap;
    rewrite_t *rewrites;
    size_t nrewrites, rewrites_cap;
    uint8_t *buf;
    size_t buf_cap;
};

/* ---- Scratch ---- */

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 8;
    while (n < need)
        n *= 2;
    if (n > SIZE_MAX / elem)
        return RILL_ENOMEM;
    void *q = rill_realloc(*p, n * elem);
    if (!q)
        return RILL_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

static int add_rewrite(rill_versioned_store_t *vs, int64_t id);

/* Appends v to the run of events. Two records of one timestamp are what a put that failed
 * between its writes leaves (the version moved into a segment, still in the latest store): the
 * later place wins and the earlier is rewritten without it. */
static int push_version(rill_versioned_store_t *vs, version_t v)
{
    if (vs->nvers && vs->vers[vs->nvers - 1].vf == v.vf) {
        version_t *dup = &vs->vers[vs->nvers - 1];
        if (!dup->is_new && !dup->from_latest && add_rewrite(vs, dup->src))
            return RILL_ENOMEM;
        v.changed = true;
        *dup = v;
        return 0;
    }
    if (grow((void **)&vs->vers, &vs->vers_cap, vs->nvers + 1, sizeof *vs->vers))
        return RILL_ENOMEM;
    vs->vers[vs->nvers++] = v;
    return 0;
}

/* ---- Records ---- */

static int corrupt(const char *what)
{
    rill_log(RILL_LOG_ERROR, "statestore", "versioned store: corrupt %s", what);
    return RILL_EIO;
}

/* Reads the record at *p (advancing it): 1 with *v set, 0 at end, RILL_EIO when malformed. */
static int next_record(const uint8_t **p, const uint8_t *end, version_t *v)
{
    if (*p == end)
        return 0;
    if ((size_t)(end - *p) < HEADER_LEN)
        return corrupt("history record");
    const uint8_t *h = *p;
    uint32_t len = (uint32_t)h[16] << 24 | (uint32_t)h[17] << 16 | (uint32_t)h[18] << 8 | h[19];
    v->vf = rill__time_decode(h);
    v->vt = rill__time_decode(h + RILL__TIME_LEN);
    if (len == TOMBSTONE_LEN) {
        v->value = (rill_buf_t){NULL, 0};
        *p = h + HEADER_LEN;
        return 1;
    }
    if ((size_t)(end - h - HEADER_LEN) < len)
        return corrupt("history record");
    v->value = (rill_buf_t){h + HEADER_LEN, len};
    *p = h + HEADER_LEN + len;
    return 1;
}

static size_t record_len(const version_t *v)
{
    return HEADER_LEN + v->value.len;
}

static uint8_t *put_record(uint8_t *out, const version_t *v)
{
    uint32_t len = v->value.data ? (uint32_t)v->value.len : TOMBSTONE_LEN;
    rill__time_encode(v->vf, out);
    rill__time_encode(v->vt, out + RILL__TIME_LEN);
    out[16] = (uint8_t)(len >> 24);
    out[17] = (uint8_t)(len >> 16);
    out[18] = (uint8_t)(len >> 8);
    out[19] = (uint8_t)len;
    if (v->value.len)
        memcpy(out + HEADER_LEN, v->value.data, v->value.len);
    return out + record_len(v);
}

/* Whether v belongs in the latest store (else: in segment dst_of(v)). */
static bool in_latest(const version_t *v)
{
    return v->value.data && v->vt == RILL_VERSION_OPEN;
}

static int64_t dst_of(const rill_versioned_store_t *vs, const version_t *v)
{
    return rill__segments_id_of(vs->segs, v->value.data ? v->vt : v->vf);
}

/* ---- Store ---- */

static int64_t min_live(const rill_versioned_store_t *vs)
{
    return rill__segments_min_live(vs->segs);
}

rill_versioned_store_t *rill_versioned_store_open(rill_store_backend_t backend,
                                                  rill_store_env_t *env, const char *path,
                                                  int64_t history_retention_ms, int64_t segment_ms,
                                                  char *errstr, size_t errstr_size)
{
    char dummy[1];
    if (!errstr || !errstr_size) {
        errstr = dummy;
        errstr_size = sizeof dummy;
    }
    rill_versioned_store_t *vs = rill_calloc(1, sizeof *vs);
    if (!vs) {
        snprintf(errstr, errstr_size, "versioned store: out of memory");
        return NULL;
    }
    vs->retention_ms = history_retention_ms;
    vs->segs = rill__segments_open(backend, env, path, history_retention_ms, segment_ms, 0,
                                   "versioned store", errstr, errstr_size);
    if (!vs->segs) {
        rill_free(vs);
        return NULL;
    }
    char *lpath = NULL;
    if (backend == RILL_STORE_ROCKSDB) {
        size_t n = strlen(path) + sizeof "/latest";
        lpath = rill_malloc(n);
        if (!lpath) {
            snprintf(errstr, errstr_size, "versioned store: out of memory");
            rill_versioned_store_close(vs);
            return NULL;
        }
        snprintf(lpath, n, "%s/latest", path);
    }
    vs->latest = rill_store_open(backend, env, lpath, errstr, errstr_size);
    rill_free(lpath);
    if (!vs->latest) {
        rill_versioned_store_close(vs);
        return NULL;
    }
    return vs;
}

void rill_versioned_store_close(rill_versioned_store_t *vs)
{
    if (!vs)
        return;
    rill__segments_close(vs->segs);
    rill_store_close(vs->latest);
    rill_free(vs->vers);
    rill_free(vs->rewrites);
    rill_free(vs->buf);
    rill_free(vs);
}

/* Reads key's latest version into *l (open-ended, from the latest store): 0 with *have set to
 * whether there is one, or RILL_EIO. */
static int latest_of(rill_versioned_store_t *vs, rill_buf_t key, version_t *l, bool *have)
{
    rill_buf_t raw;
    int rc = rill_store_get(vs->latest, key, &raw);
    *have = rc == 0;
    if (rc)
        return rc == RILL_ENOENT ? 0 : rc;
    if (raw.len < RILL__TIME_LEN)
        return corrupt("latest value");
    *l = (version_t){
        .vf = rill__time_decode(raw.data),
        .vt = RILL_VERSION_OPEN,
        .value = {(const uint8_t *)raw.data + RILL__TIME_LEN, raw.len - RILL__TIME_LEN},
        .from_latest = true,
    };
    return 0;
}

/* Appends the records of key in segment id to vs->vers; *later is set when one starts after
 * ts. 0, RILL_EIO. */
static int load_segment(rill_versioned_store_t *vs, rill_buf_t key, int64_t id, int64_t ts,
                        bool *later)
{
    rill_buf_t blob;
    int rc = rill__segments_get_in(vs->segs, id, key, &blob);
    if (rc == RILL_ENOENT)
        return 0;
    if (rc)
        return rc;
    const uint8_t *p = blob.data, *end = p + blob.len;
    version_t v = {.src = id};
    while ((rc = next_record(&p, end, &v)) == 1) {
        if (v.vf > ts)
            *later = true;
        if (push_version(vs, v))
            return RILL_ENOMEM;
    }
    return rc;
}

/* Adds the event (ts, value) to the run of events in vs->vers (sorted by start): replaces the
 * one at ts, or cuts the value version that covers ts short and inserts a new one that lasts
 * until the next event. Returns whether anything changed. */
static int apply(rill_versioned_store_t *vs, rill_buf_t value, int64_t ts, bool *changed)
{
    version_t *v = vs->vers;
    size_t n = vs->nvers, i = 0;
    while (i < n && v[i].vf < ts)
        i++;
    *changed = true;
    if (i < n && v[i].vf == ts) {
        if (value.data) {
            if (!v[i].value.data) /* a tombstone becomes a value: until the next event */
                v[i].vt = i + 1 < n ? v[i + 1].vf : RILL_VERSION_OPEN;
            v[i].value = value;
        } else if (v[i].value.data) {
            v[i].value = value;
            v[i].vt = ts;
        } else {
            *changed = false; /* a tombstone over a tombstone */
            return 0;
        }
        v[i].changed = true;
        return 0;
    }
    if (i > 0 && v[i - 1].value.data && v[i - 1].vt > ts) {
        v[i - 1].vt = ts;
        v[i - 1].changed = true;
    }
    version_t nv = {
        .vf = ts,
        .vt = !value.data ? ts
              : i < n     ? v[i].vf
                          : RILL_VERSION_OPEN,
        .value = value,
        .is_new = true,
        .changed = true,
    };
    if (push_version(vs, nv))
        return RILL_ENOMEM;
    v = vs->vers;
    memmove(&v[i + 1], &v[i], (n - i) * sizeof *v);
    v[i] = nv;
    return 0;
}

static int add_rewrite(rill_versioned_store_t *vs, int64_t id)
{
    for (size_t i = 0; i < vs->nrewrites; i++)
        if (vs->rewrites[i].id == id)
            return 0;
    if (grow((void **)&vs->rewrites, &vs->rewrites_cap, vs->nrewrites + 1, sizeof *vs->rewrites))
        return RILL_ENOMEM;
    /* Kept sorted: segments are written in ascending order. */
    size_t i = vs->nrewrites++;
    while (i > 0 && vs->rewrites[i - 1].id > id) {
        vs->rewrites[i] = vs->rewrites[i - 1];
        i--;
    }
    vs->rewrites[i] = (rewrite_t){.id = id};
    return 0;
}

/*
 * Writes what apply() changed: every segment entry that lost or gained a version is encoded
 * again from the versions now placed there, and the latest store is set or cleared. Everything
 * is encoded before the first write (the versions' bytes may belong to the entries rewritten).
 */
static int write_back(rill_versioned_store_t *vs, rill_buf_t key, bool had_latest)
{
    const version_t *v = vs->vers;
    size_t n = vs->nvers;
    const version_t *latest = NULL;
    bool latest_changed = false;
    for (size_t i = 0; i < n; i++) {
        if (in_latest(&v[i])) {
            latest = &v[i];
            latest_changed = v[i].changed;
        }
        if (!v[i].changed)
            continue;
        if (!in_latest(&v[i]) && add_rewrite(vs, dst_of(vs, &v[i])))
            return RILL_ENOMEM;
        if (!v[i].is_new && !v[i].from_latest && add_rewrite(vs, v[i].src))
            return RILL_ENOMEM;
    }
    size_t total = latest_changed ? RILL__TIME_LEN + latest->value.len : 0;
    for (size_t r = 0; r < vs->nrewrites; r++) {
        rewrite_t *rw = &vs->rewrites[r];
        rw->len = 0;
        for (size_t i = 0; i < n; i++)
            if (!in_latest(&v[i]) && dst_of(vs, &v[i]) == rw->id)
                rw->len += record_len(&v[i]);
        rw->off = total;
        total += rw->len;
    }
    if (grow((void **)&vs->buf, &vs->buf_cap, total, 1))
        return RILL_ENOMEM;
    if (latest_changed) {
        rill__time_encode(latest->vf, vs->buf);
        if (latest->value.len)
            memcpy(vs->buf + RILL__TIME_LEN, latest->value.data, latest->value.len);
    }
    for (size_t r = 0; r < vs->nrewrites; r++) {
        uint8_t *out = vs->buf + vs->rewrites[r].off;
        for (size_t i = 0; i < n; i++)
            if (!in_latest(&v[i]) && dst_of(vs, &v[i]) == vs->rewrites[r].id)
                out = put_record(out, &v[i]);
    }

    for (size_t r = 0; r < vs->nrewrites; r++) {
        const rewrite_t *rw = &vs->rewrites[r];
        rill_buf_t blob = rw->len ? (rill_buf_t){vs->buf + rw->off, rw->len} : (rill_buf_t){0};
        int rc = rill__segments_put_in(vs->segs, rw->id, key, blob);
        if (rc)
            return rc == RILL_ENOENT ? RILL_EIO : rc; /* only live segments are written */
    }
    if (latest_changed)
        return rill_store_put(vs->latest, key,
                              (rill_buf_t){vs->buf, RILL__TIME_LEN + latest->value.len});
    if (!latest && had_latest)
        return rill_store_delete(vs->latest, key);
    return 0;
}

int rill_versioned_store_put(rill_versioned_store_t *vs, rill_buf_t key, rill_buf_t value,
                             int64_t ts)
{
    /* INT64_MAX is RILL_VERSION_OPEN, the end of no version: no event may start there. */
    if (!vs || !rill__key_ok(key) || !rill__value_ok(value) || ts == INT64_MAX ||
        value.len >= TOMBSTONE_LEN)
        return RILL_EINVAL;
    if (ts < min_live(vs))
        return RILL_ENOENT; /* older than observed - retention: Kafka Streams does not put it */

    vs->nvers = 0;
    vs->nrewrites = 0;
    version_t latest = {0};
    bool have_latest, later = false;
    int rc = latest_of(vs, key, &latest, &have_latest);
    if (rc)
        return rc;
    int64_t lvf = latest.vf, id = rill__segments_id_of(vs->segs, ts);
    if (have_latest && ts >= lvf) {
        /* After the latest: only the segment that its version, ending at ts, moves into. */
        rc = load_segment(vs, key, id, ts, &later);
    } else {
        int64_t last = have_latest ? rill__segments_id_of(vs->segs, lvf) : INT64_MAX;
        while (!later && rill__segments_next_id(vs->segs, &id) && id <= last) {
            if ((rc = load_segment(vs, key, id, ts, &later)) != 0 || id == INT64_MAX)
                break;
            id++;
        }
    }
    if (rc)
        return rc;
    if (have_latest && push_version(vs, latest))
        return RILL_ENOMEM;
    bool changed;
    if ((rc = apply(vs, value, ts, &changed)) != 0)
        return rc;
    if ((changed || vs->nrewrites) && (rc = write_back(vs, key, have_latest)) != 0)
        return rc;
    rill__segments_advance(vs->segs, ts);
    return 0;
}

int rill_versioned_store_delete(rill_versioned_store_t *vs, rill_buf_t key, int64_t ts)
{
    return rill_versioned_store_put(vs, key, (rill_buf_t){NULL, 0}, ts);
}

int rill_versioned_store_write_batch(rill_versioned_store_t *vs,
                                     const rill_versioned_write_t *writes, size_t n, bool *applied)
{
    if (!vs || (n && (!writes || !applied)))
        return RILL_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int rc = rill_versioned_store_put(vs, writes[i].key, writes[i].value, writes[i].ts);
        applied[i] = rc == 0;
        if (rc && rc != RILL_ENOENT)
            return rc;
    }
    return 0;
}

int rill_versioned_store_get(rill_versioned_store_t *vs, rill_buf_t key, rill_buf_t *value,
                             int64_t *valid_from)
{
    if (!vs || !rill__key_ok(key))
        return RILL_EINVAL;
    version_t l;
    bool have;
    int rc = latest_of(vs, key, &l, &have);
    if (rc || !have)
        return rc ? rc : RILL_ENOENT;
    if (value)
        *value = l.value;
    if (valid_from)
        *valid_from = l.vf;
    return 0;
}

int rill_versioned_store_get_as_of(rill_versioned_store_t *vs, rill_buf_t key, int64_t as_of_ts,
                                   rill_buf_t *value, int64_t *valid_from, int64_t *valid_to)
{
    if (!vs || !rill__key_ok(key))
        return RILL_EINVAL;
    version_t found = {0};
    bool have_latest;
    int rc = latest_of(vs, key, &found, &have_latest);
    if (rc)
        return rc;
    int64_t lvf = found.vf;
    if (have_latest && lvf <= as_of_ts)
        goto hit;
    /* Past the history retention only the latest version answers, even if older versions are
     * still in a segment not yet dropped: the answer must not depend on segment boundaries. */
    if (as_of_ts < min_live(vs))
        return RILL_ENOENT;
    int64_t id = rill__segments_id_of(vs->segs, as_of_ts);
    int64_t last = have_latest ? rill__segments_id_of(vs->segs, lvf) : INT64_MAX;
    while (rill__segments_next_id(vs->segs, &id) && id <= last) {
        rill_buf_t blob;
        rc = rill__segments_get_in(vs->segs, id, key, &blob);
        if (rc && rc != RILL_ENOENT)
            return rc;
        if (rc == 0) {
            const uint8_t *p = blob.data, *end = p + blob.len;
            version_t v;
            while ((rc = next_record(&p, end, &v)) == 1) {
                if (v.vf > as_of_ts)
                    return RILL_ENOENT; /* the events before as_of_ts end before it too */
                if (v.value.data && as_of_ts < v.vt) {
                    found = v;
                    goto hit;
                }
            }
            if (rc)
                return rc;
        }
        if (id == INT64_MAX)
            break;
        id++;
    }
    return RILL_ENOENT;
hit:
    if (value)
        *value = found.value;
    if (valid_from)
        *valid_from = found.vf;
    if (valid_to)
        *valid_to = found.vt;
    return 0;
}

int rill_versioned_store_flush(rill_versioned_store_t *vs)
{
    if (!vs)
        return RILL_EINVAL;
    int rc = rill__segments_flush(vs->segs);
    int lrc = rill_store_flush(vs->latest);
    return rc ? rc : lrc;
}

int rill_versioned_store_set_transactional(rill_versioned_store_t *vs)
{
    if (!vs)
        return RILL_EINVAL;
    int rc = rill__segments_set_transactional(vs->segs);
    return rc ? rc : rill_store_set_transactional(vs->latest);
}

/* The history first: a crash between the two commits leaves a version in both places (repaired
 * by the replay from the smaller offset), never in neither. */
int rill_versioned_store_commit(rill_versioned_store_t *vs, int64_t changelog_offset)
{
    if (!vs)
        return RILL_EINVAL;
    int rc = rill__segments_commit(vs->segs, changelog_offset);
    return rc ? rc : rill_store_commit(vs->latest, changelog_offset);
}

int64_t rill_versioned_store_committed_offset(rill_versioned_store_t *vs)
{
    if (!vs)
        return -1;
    int64_t offset = rill_store_committed_offset(vs->latest);
    if (offset < 0 || rill__segments_empty(vs->segs))
        return offset;
    int64_t segs = rill__segments_committed_offset(vs->segs);
    return segs < offset ? segs : offset;
}

int64_t rill_versioned_store_observed_time(const rill_versioned_store_t *vs)
{
    return vs ? rill__segments_observed(vs->segs) : INT64_MIN;
}
