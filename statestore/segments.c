/*
 * The segmented store under window and session stores (segments.h), on top of the key-value
 * stores of statestore.h.
 *
 * Segments. Segment id = floor(ts / segment_ms). The live segments sit in an array sorted by id.
 * A segment opens on the first write into it. Once the observed time moves, every segment whose
 * last millisecond is older than observed - retention (id < floor((observed - retention) /
 * segment_ms)) is dropped: closed and, for RocksDB, its directory removed. Expiry of single
 * entries is by filter: an entry of timestamp ts < observed - retention is expired even while its
 * segment lives; get returns RILL_ENOENT for it, and callers clamp their iteration bounds to it.
 *
 * Threads and the segment list. Only the owner thread changes the list (opening and dropping
 * segments), so it reads the list without a lock; it takes the write side of a rwlock while it
 * changes it. Other threads take the read side only while they make an iterator. Rather than copy
 * every matching entry into the iterator (unbounded memory for rill_window_store_all() on a large
 * RocksDB store), an iterator holds a reference on each segment it will visit and walks them one
 * key-value iterator at a time; the list holds one reference too. Dropping a segment removes it
 * from the list, marks it for wiping and releases the list's reference; whoever releases the last
 * reference (the owner, or the iterator that was still reading it) closes the segment and wipes
 * its directory. So an iterator stays valid across drops and across the close of the store
 * (though the store env must outlive it), and a dropped segment's files outlive the drop only as
 * long as an iterator reads it. An iterator sees each segment as of the moment it reaches it,
 * as Kafka Streams' segment iterators do.
 */
#include "segments.h"
#include "statestore_int.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    int64_t id;
    rill_store_t *store;
    atomic_int refs;  /* the list's reference plus one per iterator that will visit it */
    atomic_bool wipe; /* dropped: the last release removes the directory */
    char path[];      /* RocksDB directory; "" in memory */
} segment_t;

struct rill__segments {
    rill_store_backend_t backend;
    rill_store_env_t *env;
    char *path; /* NULL in memory */
    const char *what;
    size_t hint_suffix; /* of its stores' keys: what their memtables' insert hints leave out */
    int64_t retention_ms;
    int64_t segment_ms;
    _Atomic int64_t observed;
    pthread_rwlock_t lock; /* write: the owner changes list; read: another thread copies it */
    segment_t **list;      /* ascending ids */
    size_t count, cap;
    uint8_t *scratch;
    size_t scratch_cap;
    rill_store_write_t *batch; /* one segment's part of rill__segments_write_batch() */
    int64_t *batch_ids;        /* and each write's segment id (in batch's block) */
    size_t batch_cap;
    bool transactional; /* every segment's store is, from its open on */
    int64_t offset;     /* the last offset committed here, -1: none yet */
};

struct rill__segments_iter {
    segment_t **segs; /* in visiting order; NULL once released */
    size_t count, next;
    rill_store_iter_t *cur; /* over segs[next - 1] */
    bool has_lo, has_hi, reverse;
    rill_buf_t lo, hi;
};

/* ---- Encodings ---- */

void rill__time_encode(int64_t t, uint8_t *out)
{
    uint64_t u = (uint64_t)t ^ (UINT64_C(1) << 63);
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(u >> (56 - 8 * i));
}

int64_t rill__time_decode(const uint8_t *in)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | in[i];
    u ^= UINT64_C(1) << 63;
    /* Converting a uint64_t above INT64_MAX is implementation-defined; go through memcpy. */
    int64_t t;
    memcpy(&t, &u, sizeof t);
    return t;
}

int rill__bytes_cmp(rill_buf_t a, rill_buf_t b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.data, b.data, n) : 0;
    if (c != 0)
        return c;
    return a.len < b.len ? -1 : a.len > b.len;
}

/* ---- Time arithmetic, saturated so that extreme timestamps cannot overflow ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    assert(b > 0);
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static int64_t segment_id(const rill__segments_t *segs, int64_t ts)
{
    return floor_div(ts, segs->segment_ms);
}

static int64_t min_live_at(const rill__segments_t *segs, int64_t observed)
{
    int64_t r;
    if (__builtin_sub_overflow(observed, segs->retention_ms, &r))
        return INT64_MIN;
    return r;
}

int64_t rill__segments_observed(const rill__segments_t *segs)
{
    return atomic_load_explicit(&segs->observed, memory_order_relaxed);
}

int64_t rill__segments_min_live(const rill__segments_t *segs)
{
    return min_live_at(segs, rill__segments_observed(segs));
}

/* ---- Segments ---- */

static void segment_release(segment_t *seg)
{
    if (atomic_fetch_sub_explicit(&seg->refs, 1, memory_order_acq_rel) != 1)
        return;
    rill_store_close(seg->store);
    if (atomic_load_explicit(&seg->wipe, memory_order_relaxed) && seg->path[0] &&
        rill_store_wipe(seg->path) != 0)
        rill_log(RILL_LOG_ERROR, "statestore", "cannot remove expired segment %s", seg->path);
    rill_free(seg);
}

/* Opens segment id (creating its store if needed); NULL with errstr set. */
static segment_t *segment_open(rill__segments_t *segs, int64_t id, char *errstr, size_t errstr_size)
{
    size_t plen = segs->path ? strlen(segs->path) + 1 + 21 : 0;
    segment_t *seg = rill_malloc(sizeof *seg + plen + 1);
    if (!seg) {
        snprintf(errstr, errstr_size, "%s: out of memory", segs->what);
        return NULL;
    }
    seg->id = id;
    atomic_init(&seg->refs, 1);
    atomic_init(&seg->wipe, false);
    seg->path[0] = '\0';
    if (segs->path)
        snprintf(seg->path, plen + 1, "%s/%" PRId64, segs->path, id);
    seg->store = rill__store_open_hinted(segs->backend, segs->env, segs->path ? seg->path : NULL,
                                         segs->hint_suffix, errstr, errstr_size);
    if (!seg->store) {
        rill_free(seg);
        return NULL;
    }
    if (segs->transactional && rill_store_set_transactional(seg->store)) {
        snprintf(errstr, errstr_size, "%s: out of memory", segs->what);
        rill_store_close(seg->store);
        rill_free(seg);
        return NULL;
    }
    return seg;
}

/* Returns the index of the first segment whose id is >= id. */
static size_t lower_bound(const rill__segments_t *segs, int64_t id)
{
    size_t lo = 0, hi = segs->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (segs->list[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static segment_t *find_segment(const rill__segments_t *segs, int64_t id)
{
    /* Writes nearly always go to the newest segment. */
    if (segs->count && segs->list[segs->count - 1]->id == id)
        return segs->list[segs->count - 1];
    size_t i = lower_bound(segs, id);
    return i < segs->count && segs->list[i]->id == id ? segs->list[i] : NULL;
}

/* Adds seg to the list (owner thread): 0 or RILL_ENOMEM (seg is not taken then). */
static int insert_segment(rill__segments_t *segs, segment_t *seg)
{
    size_t i = lower_bound(segs, seg->id);
    assert(i == segs->count || segs->list[i]->id != seg->id);
    pthread_rwlock_wrlock(&segs->lock);
    if (segs->count == segs->cap) {
        size_t cap = segs->cap ? 2 * segs->cap : 4;
        segment_t **list = rill_realloc(segs->list, cap * sizeof *list);
        if (!list) {
            pthread_rwlock_unlock(&segs->lock);
            return RILL_ENOMEM;
        }
        segs->list = list;
        segs->cap = cap;
    }
    memmove(&segs->list[i + 1], &segs->list[i], (segs->count - i) * sizeof *segs->list);
    segs->list[i] = seg;
    segs->count++;
    pthread_rwlock_unlock(&segs->lock);
    return 0;
}

/* Returns segment id, opening it if create: 0, RILL_ENOENT (absent and !create), RILL_ENOMEM,
 * RILL_EIO. */
static int get_segment(rill__segments_t *segs, int64_t id, bool create, segment_t **out)
{
    *out = find_segment(segs, id);
    if (*out)
        return 0;
    if (!create)
        return RILL_ENOENT;
    char errstr[512];
    segment_t *seg = segment_open(segs, id, errstr, sizeof errstr);
    if (!seg) {
        rill_log(RILL_LOG_ERROR, "statestore", "%s", errstr);
        /* An in-memory store fails to open only for want of memory. */
        return segs->backend == RILL_STORE_IN_MEMORY ? RILL_ENOMEM : RILL_EIO;
    }
    if (insert_segment(segs, seg) != 0) {
        /* The directory was made for this segment a moment ago: leave nothing behind. */
        atomic_store(&seg->wipe, true);
        segment_release(seg);
        return RILL_ENOMEM;
    }
    *out = seg;
    return 0;
}

/* Drops the segments that the observed time has put out of retention (owner thread). One at a
 * time, so that the lock is not held while a segment closes. */
static void drop_expired(rill__segments_t *segs)
{
    int64_t min_seg = segment_id(segs, rill__segments_min_live(segs));
    while (segs->count && segs->list[0]->id < min_seg) {
        pthread_rwlock_wrlock(&segs->lock);
        segment_t *seg = segs->list[0];
        segs->count--;
        memmove(&segs->list[0], &segs->list[1], segs->count * sizeof *segs->list);
        pthread_rwlock_unlock(&segs->lock);
        atomic_store(&seg->wipe, true);
        segment_release(seg);
    }
}

/* Parses a directory entry name as a segment id; only the canonical spelling counts, so that a
 * stray "007" or "1e3" is not taken for a segment. */
static bool parse_segment_name(const char *name, int64_t *id)
{
    char *end;
    errno = 0;
    long long v = strtoll(name, &end, 10);
    if (errno || end == name || *end)
        return false;
    char canon[24];
    snprintf(canon, sizeof canon, "%lld", v);
    if (strcmp(canon, name) != 0)
        return false;
    *id = (int64_t)v;
    return true;
}

/* Reopens the segments found under segs->path: 0, or -1 with errstr set. */
static int reopen_existing(rill__segments_t *segs, char *errstr, size_t errstr_size)
{
    DIR *dir = opendir(segs->path);
    if (!dir) {
        if (errno == ENOENT)
            return 0; /* nothing written yet: segments create the directory */
        snprintf(errstr, errstr_size, "%s: cannot read directory %s: %s", segs->what, segs->path,
                 strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        int64_t id;
        struct stat st;
        if (!parse_segment_name(de->d_name, &id) || fstatat(dirfd(dir), de->d_name, &st, 0) != 0 ||
            !S_ISDIR(st.st_mode))
            continue;
        segment_t *seg = segment_open(segs, id, errstr, errstr_size);
        if (!seg) {
            rc = -1;
            break;
        }
        if (insert_segment(segs, seg) != 0) {
            segment_release(seg);
            snprintf(errstr, errstr_size, "%s: out of memory", segs->what);
            rc = -1;
            break;
        }
    }
    closedir(dir);
    if (rc == 0 && segs->count) {
        /* Every entry of the newest segment has a timestamp at least the segment's start. */
        int64_t start;
        if (__builtin_mul_overflow(segs->list[segs->count - 1]->id, segs->segment_ms, &start))
            start = segs->list[segs->count - 1]->id < 0 ? INT64_MIN : INT64_MAX;
        atomic_store_explicit(&segs->observed, start, memory_order_relaxed);
        drop_expired(segs);
    }
    return rc;
}

rill__segments_t *rill__segments_open(rill_store_backend_t backend, rill_store_env_t *env,
                                      const char *path, int64_t retention_ms, int64_t segment_ms,
                                      size_t hint_suffix, const char *what, char *errstr,
                                      size_t errstr_size)
{
    /* RILL_STORE_DEFAULT is resolved by whoever offers the choice (the DSL), never here. */
    if (backend != RILL_STORE_ROCKSDB && backend != RILL_STORE_IN_MEMORY) {
        snprintf(errstr, errstr_size, "%s: backend %d is not RocksDB or in memory", what,
                 (int)backend);
        return NULL;
    }
    if (segment_ms <= 0 || retention_ms < 0) {
        snprintf(errstr, errstr_size,
                 "%s: segment_ms must be positive and retention_ms not negative (got %" PRId64
                 " and %" PRId64 ")",
                 what, segment_ms, retention_ms);
        return NULL;
    }
    if (backend == RILL_STORE_ROCKSDB && (!path || !*path || !env)) {
        snprintf(errstr, errstr_size, "%s: a RocksDB store needs a path and an env", what);
        return NULL;
    }
    rill__segments_t *segs = rill_calloc(1, sizeof *segs);
    if (!segs) {
        snprintf(errstr, errstr_size, "%s: out of memory", what);
        return NULL;
    }
    segs->backend = backend;
    segs->env = env;
    segs->what = what;
    segs->hint_suffix = hint_suffix;
    segs->offset = -1;
    segs->retention_ms = retention_ms;
    segs->segment_ms = segment_ms;
    atomic_init(&segs->observed, INT64_MIN);
    /* Readers (queries) must not starve the owner thread when it adds or drops a segment. */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int lrc = pthread_rwlock_init(&segs->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (lrc != 0) {
        rill_free(segs);
        snprintf(errstr, errstr_size, "%s: cannot make a lock", what);
        return NULL;
    }
    if (backend == RILL_STORE_ROCKSDB) {
        segs->path = rill_strdup(path);
        if (!segs->path) {
            snprintf(errstr, errstr_size, "%s: out of memory", what);
            rill__segments_close(segs);
            return NULL;
        }
        if (reopen_existing(segs, errstr, errstr_size) != 0) {
            rill__segments_close(segs);
            return NULL;
        }
    }
    return segs;
}

void rill__segments_close(rill__segments_t *segs)
{
    if (!segs)
        return;
    for (size_t i = 0; i < segs->count; i++)
        segment_release(segs->list[i]);
    pthread_rwlock_destroy(&segs->lock);
    rill_free(segs->list);
    rill_free(segs->path);
    rill_free(segs->scratch);
    rill_free(segs->batch);
    rill_free(segs);
}

uint8_t *rill__segments_scratch(rill__segments_t *segs, size_t n)
{
    if (n > segs->scratch_cap) {
        size_t cap = n < 64 ? 64 : n + n / 2;
        uint8_t *p = rill_realloc(segs->scratch, cap);
        if (!p)
            return NULL;
        segs->scratch = p;
        segs->scratch_cap = cap;
    }
    return segs->scratch;
}

int rill__segments_put(rill__segments_t *segs, int64_t ts, rill_buf_t layout, rill_buf_t value)
{
    int64_t observed = rill__segments_observed(segs);
    if (ts > observed)
        observed = ts;
    if (ts < min_live_at(segs, observed))
        return RILL_ENOENT;
    segment_t *seg;
    int rc = get_segment(segs, segment_id(segs, ts), value.data != NULL, &seg);
    if (rc == 0)
        rc = rill_store_put(seg->store, layout, value);
    else if (rc == RILL_ENOENT)
        rc = 0; /* a delete in a segment never written to */
    if (rc != 0)
        return rc;
    if (observed != rill__segments_observed(segs)) {
        atomic_store_explicit(&segs->observed, observed, memory_order_relaxed);
        drop_expired(segs);
    }
    return 0;
}

/*
 * As n puts one after the other, with one write batch per segment. First the observed time is
 * run through the writes in order, which decides the ones that come too late (exactly as the
 * puts would, each advancing the time before the next is judged); then each segment still alive
 * at the final time gets its writes in one batch, in order; a segment that the final time
 * expires would be dropped after the puts anyway, so it is not written (nor opened). Then the
 * time moves and the expired segments go.
 */
int rill__segments_write_batch(rill__segments_t *segs, const rill_store_write_t *writes, size_t n,
                               int64_t (*ts_of)(rill_buf_t layout), bool *written)
{
    if (n > segs->batch_cap) {
        /* One block: the writes of one segment, then every write's segment id. */
        void *b = rill_realloc(segs->batch, n * (sizeof *segs->batch + sizeof *segs->batch_ids));
        if (!b)
            return RILL_ENOMEM;
        segs->batch = b;
        segs->batch_ids = (int64_t *)(segs->batch + n);
        segs->batch_cap = n;
    }
    int64_t observed = rill__segments_observed(segs);
    for (size_t i = 0; i < n; i++) {
        int64_t ts = ts_of(writes[i].key), o = ts > observed ? ts : observed;
        written[i] = ts >= min_live_at(segs, o);
        if (written[i])
            observed = o;
        segs->batch_ids[i] = segment_id(segs, ts);
    }
    /* Segment by segment, ascending: each pass takes the smallest id above the last one. */
    int64_t min_seg = segment_id(segs, min_live_at(segs, observed)), last = INT64_MIN;
    bool first = true;
    for (;;) {
        int64_t id = INT64_MAX;
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            if (!written[i])
                continue;
            int64_t sid = segs->batch_ids[i];
            if (sid >= min_seg && (first || sid > last) && sid <= id) {
                id = sid;
                any = true;
            }
        }
        if (!any)
            break;
        size_t m = 0;
        bool create = false;
        for (size_t i = 0; i < n; i++)
            if (written[i] && segs->batch_ids[i] == id) {
                segs->batch[m++] = writes[i];
                create |= writes[i].value.data != NULL;
            }
        segment_t *seg;
        int rc = get_segment(segs, id, create, &seg);
        if (rc == 0)
            rc = rill_store_write_batch(seg->store, segs->batch, m);
        else if (rc == RILL_ENOENT)
            rc = 0; /* deletes in a segment never written to */
        if (rc)
            return rc;
        last = id;
        first = false;
    }
    if (observed != rill__segments_observed(segs)) {
        atomic_store_explicit(&segs->observed, observed, memory_order_relaxed);
        drop_expired(segs);
    }
    return 0;
}

int rill__segments_get(rill__segments_t *segs, int64_t ts, rill_buf_t layout, rill_buf_t *value)
{
    if (ts < rill__segments_min_live(segs))
        return RILL_ENOENT;
    segment_t *seg = find_segment(segs, segment_id(segs, ts));
    if (!seg)
        return RILL_ENOENT;
    return rill_store_get(seg->store, layout, value);
}

int64_t rill__segments_id_of(const rill__segments_t *segs, int64_t ts)
{
    return segment_id(segs, ts);
}

void rill__segments_advance(rill__segments_t *segs, int64_t t)
{
    if (t <= rill__segments_observed(segs))
        return;
    atomic_store_explicit(&segs->observed, t, memory_order_relaxed);
    drop_expired(segs);
}

bool rill__segments_next_id(const rill__segments_t *segs, int64_t *id)
{
    size_t i = lower_bound(segs, *id);
    if (i == segs->count)
        return false;
    *id = segs->list[i]->id;
    return true;
}

bool rill__segments_empty(const rill__segments_t *segs)
{
    return segs->count == 0;
}

int rill__segments_get_in(rill__segments_t *segs, int64_t id, rill_buf_t layout, rill_buf_t *value)
{
    segment_t *seg = find_segment(segs, id);
    return seg ? rill_store_get(seg->store, layout, value) : RILL_ENOENT;
}

int rill__segments_put_in(rill__segments_t *segs, int64_t id, rill_buf_t layout, rill_buf_t value)
{
    if (id < segment_id(segs, rill__segments_min_live(segs)))
        return RILL_ENOENT;
    segment_t *seg;
    int rc = get_segment(segs, id, value.data != NULL, &seg);
    if (rc == RILL_ENOENT)
        return 0; /* a delete in a segment never written to */
    return rc ? rc : rill_store_put(seg->store, layout, value);
}

int rill__segments_flush(rill__segments_t *segs)
{
    int first = 0;
    for (size_t i = 0; i < segs->count; i++) {
        int rc = rill_store_flush(segs->list[i]->store);
        if (rc != 0 && first == 0)
            first = rc;
    }
    return first;
}

int rill__segments_set_transactional(rill__segments_t *segs)
{
    segs->transactional = true;
    segs->offset = rill__segments_committed_offset(segs);
    for (size_t i = 0; i < segs->count; i++) {
        int rc = rill_store_set_transactional(segs->list[i]->store);
        if (rc)
            return rc;
    }
    return 0;
}

int rill__segments_commit(rill__segments_t *segs, int64_t offset)
{
    /* Without a new offset, the last one: a segment made since then records it too. */
    if (offset < 0)
        offset = segs->offset;
    else
        segs->offset = offset;
    for (size_t i = 0; i < segs->count; i++) {
        int rc = rill_store_commit(segs->list[i]->store, offset);
        if (rc)
            return rc;
    }
    return 0;
}

int64_t rill__segments_committed_offset(rill__segments_t *segs)
{
    int64_t min = -1;
    for (size_t i = 0; i < segs->count; i++) {
        int64_t o = rill_store_committed_offset(segs->list[i]->store);
        if (o < 0)
            return -1;
        if (min < 0 || o < min)
            min = o;
    }
    return min;
}

/* ---- Iterators ---- */

static void release_from(rill__segments_iter_t *it, size_t i)
{
    for (; i < it->count; i++) {
        if (it->segs[i]) {
            segment_release(it->segs[i]);
            it->segs[i] = NULL;
        }
    }
}

/* Closes the current key-value iterator and releases its segment, then opens the next
 * segment's: true, or false at the end or on failure (every segment released then). */
static bool advance_segment(rill__segments_iter_t *it)
{
    if (it->cur) {
        rill_store_iter_close(it->cur);
        it->cur = NULL;
        segment_release(it->segs[it->next - 1]);
        it->segs[it->next - 1] = NULL;
    }
    if (it->next == it->count)
        return false;
    segment_t *seg = it->segs[it->next++];
    it->cur = rill_store_range(seg->store, it->has_lo ? &it->lo : NULL, it->has_hi ? &it->hi : NULL,
                               it->reverse);
    if (!it->cur) {
        rill_log(RILL_LOG_ERROR, "statestore", "cannot iterate over segment %" PRId64 ": %s",
                 seg->id, rill_store_error(seg->store));
        release_from(it, it->next - 1);
        it->next = it->count;
        return false;
    }
    return true;
}

rill__segments_iter_t *rill__segments_iter_new(rill__segments_t *segs, int64_t ts_from,
                                               int64_t ts_to, const rill_buf_t *lo,
                                               const rill_buf_t *hi, bool reverse)
{
    size_t lo_len = lo ? lo->len : 0, hi_len = hi ? hi->len : 0;
    rill__segments_iter_t *it = rill_calloc(1, sizeof *it + lo_len + hi_len);
    if (!it)
        return NULL;
    uint8_t *bytes = (uint8_t *)(it + 1);
    if (lo) {
        if (lo_len)
            memcpy(bytes, lo->data, lo_len);
        it->lo = (rill_buf_t){bytes, lo_len};
        it->has_lo = true;
    }
    if (hi) {
        if (hi_len)
            memcpy(bytes + lo_len, hi->data, hi_len);
        it->hi = (rill_buf_t){bytes + lo_len, hi_len};
        it->has_hi = true;
    }
    it->reverse = reverse;
    if (ts_from > ts_to)
        return it;

    int64_t first = segment_id(segs, ts_from), last = segment_id(segs, ts_to);
    pthread_rwlock_rdlock(&segs->lock);
    size_t a = lower_bound(segs, first), b = a;
    while (b < segs->count && segs->list[b]->id <= last)
        b++;
    if (b > a) {
        it->segs = rill_malloc((b - a) * sizeof *it->segs);
        if (!it->segs) {
            pthread_rwlock_unlock(&segs->lock);
            rill_free(it);
            return NULL;
        }
        it->count = b - a;
        for (size_t i = 0; i < it->count; i++) {
            segment_t *seg = segs->list[reverse ? b - 1 - i : a + i];
            atomic_fetch_add_explicit(&seg->refs, 1, memory_order_relaxed);
            it->segs[i] = seg;
        }
    }
    pthread_rwlock_unlock(&segs->lock);

    /* Open the first segment now, so that the common one-segment case reports failure here. */
    if (it->count && !advance_segment(it)) {
        rill__segments_iter_close(it);
        return NULL;
    }
    return it;
}

bool rill__segments_iter_next(rill__segments_iter_t *it, rill_buf_t *key, rill_buf_t *value)
{
    while (it->cur) {
        if (rill_store_iter_next(it->cur, key, value))
            return true;
        if (!advance_segment(it))
            return false;
    }
    return false;
}

void rill__segments_iter_close(rill__segments_iter_t *it)
{
    if (!it)
        return;
    rill_store_iter_close(it->cur);
    release_from(it, 0);
    rill_free(it->segs);
    rill_free(it);
}
