/*
 * The RocksDB backend, and the store env that bounds its memory. C++ because RocksDB 7.8's C API
 * cannot make a WriteBufferManager, which is what charges memtables to a shared block cache.
 * This is the only file that includes RocksDB headers; it translates Status into RILL_EIO with
 * the status text and the store's path, and catches every C++ exception at the C boundary
 * (std::bad_alloc is RILL_ENOMEM, anything else RILL_EIO).
 *
 * Memory: one env holds one LRU block cache of memory_bytes and one WriteBufferManager of a
 * quarter of that, charged to the cache: each memtable's arena reserves cache space (in 256 KB
 * dummy entries), so data blocks are evicted to make room for memtables, and the manager flushes
 * the largest memtable when all of them together pass their quarter. Index and filter blocks
 * live in the cache too (cache_index_and_filter_blocks), and so is the table readers' own
 * memory (charged), so files on disk do not grow memory outside the bound. The cache's limit is
 * not strict: blocks pinned by live iterators, and memtables beyond the manager's size while a
 * flush runs, can push usage past it for a while.
 *
 * Each store is one DB with the write-ahead log off (every write sets disableWAL): the changelog
 * topic is the log, and rill_store_flush() is what makes writes durable.
 *
 * A transactional store (rill_store_set_transactional, for exactly-once) holds its writes in a
 * WriteBatchWithIndex until rill_store_commit(), which writes them, with the changelog offset
 * they reach, to the DB in one write through the write-ahead log: a SIGKILL loses nothing that
 * was committed, and what the DB holds always matches the offset it records. The owner thread
 * reads through the batch (GetFromBatchAndDB, NewIteratorWithBase); other threads (interactive
 * queries) read the DB, that is, committed data only. The offset lives in a column family of its
 * own ("rill-meta", made by the first offset written), so it is in no iteration over the data.
 *
 * Iterators are reused: a closed one (not reading through a batch) is parked in its store, and
 * the next range with bounds of the same kinds takes it, rewrites its bound keys and refreshes
 * it to the DB's current state, which is what a new iterator would read. That skips the making
 * and deleting of a RocksDB iterator (its arena, its super-version reference): a stream-stream
 * join makes one per record. The parked one pins what it read (memtables, files) until it is
 * taken again or the store flushes or closes.
 */
#include "statestore_int.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/write_batch_with_index.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

struct rill_store_env {
    std::shared_ptr<rocksdb::Cache> cache;
    std::shared_ptr<rocksdb::WriteBufferManager> wbm;
    size_t write_buffer_size; /* of each memtable */
};

namespace
{

rocksdb::Options store_options(rill_store_env_t *env);

/* refs counts the store's handle and its open iterators: a RocksDB iterator must be deleted
 * before its DB, so the DB closes when the last of them goes. */
struct RocksIter;

struct RocksStore {
    rill_store_t base;
    rocksdb::DB *db;
    rocksdb::ColumnFamilyHandle *meta; /* "rill-meta": the committed changelog offset; NULL
                                        * until the first offset is written */
    rill_store_env_t *env;             /* the options of a meta family made later */
    rocksdb::PinnableSlice *pinned;    /* holds the value of the owner's last get */
    char *path;
    std::atomic<long> refs;
    /* Transactional stores: the writes since the last commit, the thread that owns them, and
     * how many of the owner's iterators read through them (a commit must not clear the batch
     * under one). */
    rocksdb::WriteBatchWithIndex *pending;
    pthread_t owner;
    long batch_iters;
    std::atomic<RocksIter *> spare; /* a closed iterator, for the next range to take */
};

/* One allocation holds the struct and, after it, the bound keys the Slices point at (lower_cap,
 * then upper_cap bytes). The iterator sees the DB as of its creation, or of its refresh when a
 * range took it parked: a RocksDB iterator reads at the sequence number current then (an
 * implicit snapshot), and pins the memtables and files it needs. */
struct RocksIter {
    rill_store_iter_t base;
    RocksStore *store;
    rocksdb::Iterator *it;
    rocksdb::Slice lower, upper; /* the ReadOptions point at these */
    size_t lower_cap, upper_cap; /* the room for each bound's bytes */
    bool has_lower, has_upper, reverse, started, through_batch;
};

static_assert(std::is_standard_layout<RocksStore>::value, "RocksStore starts with its base");
static_assert(std::is_standard_layout<RocksIter>::value, "RocksIter starts with its base");

extern const rill_store_ops rocks_ops;

RocksStore *of(rill_store_t *store)
{
    return reinterpret_cast<RocksStore *>(store);
}

rocksdb::Slice slice(rill_buf_t b)
{
    return rocksdb::Slice(static_cast<const char *>(b.data), b.len);
}

/* A value view; RocksDB may give an empty value a null pointer, and null means absent to Rill. */
rill_buf_t view(const rocksdb::Slice &s)
{
    return rill_buf_t{s.size() ? s.data() : "", s.size()};
}

int io_error(RocksStore *s, const rocksdb::Status &st)
{
    return rill__store_set_error(&s->base, RILL_EIO, "RocksDB store %s: %s", s->path,
                                 st.ToString().c_str());
}

int nomem(RocksStore *s)
{
    return rill__store_set_error(&s->base, RILL_ENOMEM, "RocksDB store %s: out of memory", s->path);
}

int unexpected(RocksStore *s, const char *what)
{
    return rill__store_set_error(&s->base, RILL_EIO, "RocksDB store %s: exception: %s", s->path,
                                 what);
}

rocksdb::WriteOptions write_options()
{
    rocksdb::WriteOptions wo;
    wo.disableWAL = true;
    return wo;
}

const char META_CF[] = "rill-meta";
const char OFFSET_KEY[] = "changelog-offset";

/* Whether this call reads and writes through the pending batch: a transactional store, on its
 * owner thread. */
bool through_batch(const RocksStore *s)
{
    return s->pending && pthread_equal(s->owner, pthread_self());
}

void free_iter(RocksIter *it)
{
    delete it->it;
    it->~RocksIter();
    rill_free(it);
}

/* Frees the parked iterator, if any. */
void drop_spare(RocksStore *s)
{
    RocksIter *it = s->spare.exchange(nullptr);
    if (it)
        free_iter(it);
}

/* Closes the DB and frees the store: the last reference is gone. Also undoes a failed open. */
void destroy(RocksStore *s)
{
    drop_spare(s); /* before the DB: its iterator reads it */
    if (s->db) {
        try {
            if (s->meta)
                s->db->DestroyColumnFamilyHandle(s->meta);
            rocksdb::Status st = s->db->Close();
            if (!st.ok())
                rill_log(RILL_LOG_ERROR, "statestore", "closing RocksDB store %s: %s", s->path,
                         st.ToString().c_str());
        } catch (const std::exception &e) {
            rill_log(RILL_LOG_ERROR, "statestore", "closing RocksDB store %s: %s", s->path,
                     e.what());
        }
        delete s->db;
    }
    delete s->pending;
    delete s->pinned;
    rill_free(s->path);
    rill__store_base_fini(&s->base);
    s->~RocksStore();
    rill_free(s);
}

void unref(RocksStore *s)
{
    if (s->refs.fetch_sub(1) == 1)
        destroy(s);
}

void rocks_close(rill_store_t *store)
{
    RocksStore *s = of(store);
    try {
        rocksdb::FlushOptions fo;
        fo.wait = true;
        rocksdb::Status st = s->db->Flush(fo);
        if (!st.ok())
            rill_log(RILL_LOG_ERROR, "statestore", "flushing RocksDB store %s at close: %s",
                     s->path, st.ToString().c_str());
    } catch (const std::exception &e) {
        rill_log(RILL_LOG_ERROR, "statestore", "flushing RocksDB store %s at close: %s", s->path,
                 e.what());
    }
    long iters = s->refs.load() - 1;
    if (iters > 0)
        rill_log(
            RILL_LOG_WARN, "statestore",
            "RocksDB store %s closed with %ld iterator(s) open: it stays open until they close",
            s->path, iters);
    unref(s);
}

int rocks_get(rill_store_t *store, rill_buf_t key, rill_buf_t *value)
{
    RocksStore *s = of(store);
    try {
        s->pinned->Reset();
        rocksdb::Status st = through_batch(s)
                                 ? s->pending->GetFromBatchAndDB(s->db, rocksdb::ReadOptions(),
                                                                 slice(key), s->pinned)
                                 : s->db->Get(rocksdb::ReadOptions(), s->db->DefaultColumnFamily(),
                                              slice(key), s->pinned);
        if (st.IsNotFound())
            return RILL_ENOENT;
        if (!st.ok())
            return io_error(s, st);
        *value = view(*s->pinned);
        return 0;
    } catch (const std::bad_alloc &) {
        return nomem(s);
    } catch (const std::exception &e) {
        return unexpected(s, e.what());
    }
}

int rocks_get_copy(rill_store_t *store, rill_buf_t key, rill_bytes_t *out)
{
    RocksStore *s = of(store);
    try {
        /* One per thread, reused: a value read from a memtable is copied into the slice's own
         * buffer, which a fresh slice would allocate on every call (measured: one allocation
         * per get). Reset after the copy, so it pins no block between calls. A task reading a
         * global store gets through here once per record. */
        static thread_local rocksdb::PinnableSlice v;
        struct Unpin {
            ~Unpin()
            {
                v.Reset();
            }
        } unpin;
        v.Reset();
        rocksdb::Status st =
            through_batch(s)
                ? s->pending->GetFromBatchAndDB(s->db, rocksdb::ReadOptions(), slice(key), &v)
                : s->db->Get(rocksdb::ReadOptions(), s->db->DefaultColumnFamily(), slice(key), &v);
        if (st.IsNotFound())
            return RILL_ENOENT;
        if (!st.ok())
            return io_error(s, st);
        if (rill_bytes_append(out, v.data(), v.size()))
            return nomem(s);
        return 0;
    } catch (const std::bad_alloc &) {
        return nomem(s);
    } catch (const std::exception &e) {
        return unexpected(s, e.what());
    }
}

int rocks_write_batch(rill_store_t *store, const rill_store_write_t *writes, size_t n)
{
    RocksStore *s = of(store);
    try {
        rocksdb::Status st;
        if (s->pending) {
            /* Into the pending batch, all or none (a save point only for more than one). */
            if (n > 1)
                s->pending->SetSavePoint();
            for (size_t i = 0; i < n && st.ok(); i++) {
                if (writes[i].value.data)
                    st = s->pending->Put(slice(writes[i].key), slice(writes[i].value));
                else
                    st = s->pending->Delete(slice(writes[i].key));
            }
            if (n > 1 && st.ok())
                st = s->pending->PopSavePoint();
            else if (n > 1)
                s->pending->RollbackToSavePoint();
            return st.ok() ? 0 : io_error(s, st);
        }
        if (n == 1) {
            if (writes->value.data)
                st = s->db->Put(write_options(), slice(writes->key), slice(writes->value));
            else
                st = s->db->Delete(write_options(), slice(writes->key));
        } else {
            rocksdb::WriteBatch batch;
            for (size_t i = 0; i < n && st.ok(); i++) {
                if (writes[i].value.data)
                    st = batch.Put(slice(writes[i].key), slice(writes[i].value));
                else
                    st = batch.Delete(slice(writes[i].key));
            }
            if (st.ok())
                st = s->db->Write(write_options(), &batch);
        }
        return st.ok() ? 0 : io_error(s, st);
    } catch (const std::bad_alloc &) {
        return nomem(s);
    } catch (const std::exception &e) {
        return unexpected(s, e.what());
    }
}

/* Copies the bounds into it's room and points its Slices at them (to is exclusive once this is
 * done: an inclusive bound gets its "\0"). */
void set_bounds(RocksIter *it, const rill_buf_t *from, const rill_buf_t *to, bool to_exclusive)
{
    char *bytes = reinterpret_cast<char *>(it + 1);
    if (from) {
        if (from->len)
            memcpy(bytes, from->data, from->len);
        it->lower = rocksdb::Slice(bytes, from->len);
    }
    if (to) {
        char *up = bytes + it->lower_cap;
        if (to->len)
            memcpy(up, to->data, to->len);
        if (!to_exclusive)
            up[to->len] = '\0';
        it->upper = rocksdb::Slice(up, to->len + !to_exclusive);
    }
}

/* Takes the store's parked iterator for a range of these bounds, refreshed; NULL when there is
 * none that fits (it is freed then). */
RocksIter *take_spare(RocksStore *s, const rill_buf_t *from, const rill_buf_t *to, size_t lower_len,
                      size_t upper_len)
{
    RocksIter *it = s->spare.exchange(nullptr);
    if (!it)
        return nullptr;
    if (it->has_lower != (from != NULL) || it->has_upper != (to != NULL) ||
        lower_len > it->lower_cap || upper_len > it->upper_cap || !it->it->Refresh().ok()) {
        free_iter(it);
        return nullptr;
    }
    return it;
}

/*
 * RocksDB's upper bound is exclusive. An inclusive bound `to` becomes to + "\0": in bytewise
 * order no key lies between to and to + "\0", so the two bounds select the same keys.
 */
rill_store_iter_t *rocks_range(rill_store_t *store, const rill_buf_t *from, const rill_buf_t *to,
                               bool to_exclusive, bool reverse)
{
    RocksStore *s = of(store);
    size_t lower_len = from ? from->len : 0;
    size_t upper_len = to ? to->len + !to_exclusive : 0;
    if (lower_len > SIZE_MAX / 2 - sizeof(RocksIter) - 64 || upper_len > SIZE_MAX / 2 - 64) {
        nomem(s);
        return NULL;
    }
    bool batch = through_batch(s);
    RocksIter *it = NULL;
    try {
        if (!batch)
            it = take_spare(s, from, to, lower_len, upper_len);
    } catch (const std::exception &) {
        it = NULL; /* a new one, below */
    }
    if (it) {
        set_bounds(it, from, to, to_exclusive);
        it->reverse = reverse;
        it->started = false;
        s->refs.fetch_add(1);
        return &it->base;
    }
    /* Room for bounds of a typical key, so that the iterator can serve the next range. */
    size_t lower_cap = from ? (lower_len > 64 ? lower_len : 64) : 0;
    size_t upper_cap = to ? (upper_len > 64 ? upper_len : 64) : 0;
    void *mem = rill_malloc(sizeof(RocksIter) + lower_cap + upper_cap);
    if (!mem) {
        nomem(s);
        return NULL;
    }
    it = new (mem) RocksIter();
    it->base.ops = &rocks_ops;
    it->store = s;
    it->it = nullptr;
    it->lower_cap = lower_cap;
    it->upper_cap = upper_cap;
    it->has_lower = from != NULL;
    it->has_upper = to != NULL;
    it->reverse = reverse;
    it->started = false;
    set_bounds(it, from, to, to_exclusive);
    try {
        rocksdb::ReadOptions ro;
        ro.iterate_lower_bound = it->has_lower ? &it->lower : nullptr;
        ro.iterate_upper_bound = it->has_upper ? &it->upper : nullptr;
        if (batch) {
            /* The batch's side honours no bounds: rocks_iter_next checks them. */
            it->through_batch = true;
            it->it = s->pending->NewIteratorWithBase(s->db->DefaultColumnFamily(),
                                                     s->db->NewIterator(ro), &ro);
        } else {
            it->it = s->db->NewIterator(ro);
        }
    } catch (const std::bad_alloc &) {
        nomem(s);
    } catch (const std::exception &e) {
        unexpected(s, e.what());
    }
    if (!it->it) {
        it->~RocksIter();
        rill_free(mem);
        return NULL;
    }
    s->refs.fetch_add(1);
    if (it->through_batch)
        s->batch_iters++;
    return &it->base;
}

/* Whether the iterator's current key is outside its bounds (the batch's side of a merged
 * iterator may step past them). */
bool out_of_bounds(const RocksIter *it)
{
    rocksdb::Slice k = it->it->key();
    return (it->has_lower && k.compare(it->lower) < 0) ||
           (it->has_upper && k.compare(it->upper) >= 0);
}

bool rocks_iter_next(rill_store_iter_t *iter, rill_buf_t *key, rill_buf_t *value)
{
    RocksIter *it = reinterpret_cast<RocksIter *>(iter);
    try {
        /* Bounds are in the ReadOptions, so first/last already respect them. */
        if (!it->started) {
            it->started = true;
            if (it->reverse && it->has_upper)
                it->it->SeekForPrev(it->upper); /* the last key <= upper, which is excluded */
            else if (it->reverse)
                it->it->SeekToLast();
            else if (it->has_lower)
                it->it->Seek(it->lower);
            else
                it->it->SeekToFirst();
            if (it->reverse && it->has_upper && it->it->Valid() &&
                it->it->key().compare(it->upper) >= 0)
                it->it->Prev();
        } else if (it->it->Valid()) {
            if (it->reverse)
                it->it->Prev();
            else
                it->it->Next();
        }
        if (!it->it->Valid() || out_of_bounds(it)) {
            rocksdb::Status st = it->it->status();
            if (!st.ok())
                io_error(it->store, st);
            return false;
        }
        *key = view(it->it->key());
        *value = view(it->it->value());
        return true;
    } catch (const std::bad_alloc &) {
        nomem(it->store);
    } catch (const std::exception &e) {
        unexpected(it->store, e.what());
    }
    return false;
}

void rocks_iter_close(rill_store_iter_t *iter)
{
    RocksIter *it = reinterpret_cast<RocksIter *>(iter);
    RocksStore *s = it->store;
    RocksIter *none = nullptr;
    if (it->through_batch)
        s->batch_iters--;
    else if (it->it->status().ok() && s->spare.compare_exchange_strong(none, it))
        it = nullptr; /* parked; destroy() frees it if this was the store's last reference */
    if (it)
        free_iter(it);
    unref(s);
}

int rocks_flush(rill_store_t *store)
{
    RocksStore *s = of(store);
    drop_spare(s); /* it would pin the memtables this flush writes out */
    try {
        rocksdb::FlushOptions fo;
        fo.wait = true;
        rocksdb::Status st = s->db->Flush(fo);
        return st.ok() ? 0 : io_error(s, st);
    } catch (const std::bad_alloc &) {
        return nomem(s);
    } catch (const std::exception &e) {
        return unexpected(s, e.what());
    }
}

int rocks_set_transactional(rill_store_t *store)
{
    RocksStore *s = of(store);
    if (s->pending)
        return 0;
    try {
        /* overwrite_key: one entry per key, so reads and iterators see the last write. */
        s->pending = new rocksdb::WriteBatchWithIndex(rocksdb::BytewiseComparator(), 0, true);
        s->owner = pthread_self();
        return 0;
    } catch (const std::bad_alloc &) {
        return nomem(s);
    } catch (const std::exception &e) {
        return unexpected(s, e.what());
    }
}

void encode_offset(int64_t offset, char out[8])
{
    uint64_t u = static_cast<uint64_t>(offset);
    for (int i = 7; i >= 0; i--, u >>= 8)
        out[i] = static_cast<char>(u & 0xff);
}

int rocks_commit(rill_store_t *store, int64_t offset)
{
    RocksStore *s = of(store);
    try {
        rocksdb::Status st;
        char enc[8];
        encode_offset(offset, enc);
        if (offset >= 0 && !s->meta)
            st = s->db->CreateColumnFamily(rocksdb::ColumnFamilyOptions(store_options(s->env)),
                                           META_CF, &s->meta);
        if (!st.ok())
            return io_error(s, st);
        if (!s->pending) {
            /* Not transactional: every write is applied already; the offset goes as they did,
             * without the log. */
            if (offset >= 0)
                st = s->db->Put(write_options(), s->meta, OFFSET_KEY, rocksdb::Slice(enc, 8));
            return st.ok() ? 0 : io_error(s, st);
        }
        if (s->batch_iters > 0)
            return rill__store_set_error(&s->base, RILL_EINVAL,
                                         "RocksDB store %s: commit with %ld iterator(s) still "
                                         "open over its pending writes",
                                         s->path, s->batch_iters);
        if (offset >= 0)
            st = s->pending->Put(s->meta, OFFSET_KEY, rocksdb::Slice(enc, 8));
        if (st.ok() && s->pending->GetWriteBatch()->Count() > 0)
            st = s->db->Write(rocksdb::WriteOptions(), s->pending->GetWriteBatch());
        if (!st.ok())
            return io_error(s, st); /* the batch stays: the caller fails, and closes */
        s->pending->Clear();
        return 0;
    } catch (const std::bad_alloc &) {
        return nomem(s);
    } catch (const std::exception &e) {
        return unexpected(s, e.what());
    }
}

int64_t rocks_committed_offset(rill_store_t *store)
{
    RocksStore *s = of(store);
    try {
        if (!s->meta)
            return -1; /* no offset was ever written */
        std::string v;
        rocksdb::Status st = s->db->Get(rocksdb::ReadOptions(), s->meta, OFFSET_KEY, &v);
        if (!st.ok() || v.size() != 8)
            return -1;
        uint64_t u = 0;
        for (char c : v)
            u = u << 8 | static_cast<uint8_t>(c);
        return static_cast<int64_t>(u);
    } catch (const std::exception &) {
        return -1;
    }
}

uint64_t rocks_approx_count(rill_store_t *store)
{
    RocksStore *s = of(store);
    uint64_t n = 0;
    try {
        if (!s->db->GetIntProperty(rocksdb::DB::Properties::kEstimateNumKeys, &n))
            n = 0;
    } catch (const std::exception &) {
        n = 0;
    }
    return n;
}

const rill_store_ops rocks_ops = {
    rocks_close,        rocks_get,
    rocks_get_copy,     rocks_write_batch,
    rocks_range,        rocks_iter_next,
    rocks_iter_close,   rocks_flush,
    rocks_approx_count, rocks_set_transactional,
    rocks_commit,       rocks_committed_offset,
};

/* A memtable insert hint's prefix: the key without its last n bytes (keys shorter than that get
 * no hint). A hint only speeds an insert up (the skip list starts from where the prefix's last
 * insert went, instead of from its head, which costs about 17 key comparisons at 60,000 entries);
 * it never changes what the store holds. */
class SuffixStrip : public rocksdb::SliceTransform
{
  public:
    explicit SuffixStrip(size_t n) : n_(n)
    {
    }
    const char *Name() const override
    {
        return "rill.SuffixStrip";
    }
    rocksdb::Slice Transform(const rocksdb::Slice &key) const override
    {
        return rocksdb::Slice(key.data(), key.size() - n_);
    }
    bool InDomain(const rocksdb::Slice &key) const override
    {
        return key.size() >= n_;
    }

  private:
    size_t n_;
};

/* The options of every store opened with env. */
rocksdb::Options store_options(rill_store_env_t *env)
{
    rocksdb::BlockBasedTableOptions t;
    t.block_cache = env->cache;
    t.cache_index_and_filter_blocks = true;
    t.cache_index_and_filter_blocks_with_high_priority = true;
    t.pin_top_level_index_and_filter = true;
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    t.cache_usage_options.options_overrides.insert(
        {rocksdb::CacheEntryRole::kBlockBasedTableReader,
         {rocksdb::CacheEntryRoleOptions::Decision::kEnabled}});

    rocksdb::Options o;
    o.create_if_missing = true;
    o.create_missing_column_families = true;
    o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
    o.write_buffer_manager = env->wbm;
    o.write_buffer_size = env->write_buffer_size;
    o.max_write_buffer_number = 2;
    /* RocksDB's default arena block is an eighth of the write buffer (512 KB at the default
     * bound), and every memtable that holds anything takes at least one: a window store has a
     * DB per live segment, so a stream-stream join's 8 stores reserved most of the write-buffer
     * manager's 16 MB with nearly empty blocks, and it flushed tiny memtables nonstop (the
     * flush and compaction threads took 23 % of the process's CPU). */
    o.arena_block_size = 64 << 10;
    /* RocksDB's own LOG file: keep it small, it is for debugging. */
    o.keep_log_file_num = 2;
    o.max_log_file_size = 1 << 20;
    return o;
}

} // namespace

rill_store_t *rill__rocksdb_store_open(rill_store_env_t *env, const char *path, size_t hint_suffix,
                                       char *errstr, size_t errstr_size)
{
    RocksStore *s = NULL;
    try {
        std::error_code ec;
        std::filesystem::create_directories(path, ec);
        if (ec) {
            snprintf(errstr, errstr_size, "RocksDB store %s: cannot create the directory: %s", path,
                     ec.message().c_str());
            return NULL;
        }
        void *mem = rill_malloc(sizeof(RocksStore));
        if (!mem)
            goto nomem;
        s = new (mem) RocksStore();
        s->refs.store(1);
        if (rill__store_base_init(&s->base, &rocks_ops, RILL_STORE_ROCKSDB)) {
            s->~RocksStore();
            rill_free(mem);
            s = NULL;
            goto nomem;
        }
        s->path = rill_strdup(path);
        s->pinned = new (std::nothrow) rocksdb::PinnableSlice();
        if (!s->path || !s->pinned)
            goto nomem;
        s->env = env;
        rocksdb::Options o = store_options(env);
        rocksdb::ColumnFamilyOptions data(o);
        if (hint_suffix)
            data.memtable_insert_with_hint_prefix_extractor =
                std::make_shared<SuffixStrip>(hint_suffix);
        /* The meta family is made by the first offset written (exactly-once stores), not with
         * the DB: making it rewrites the OPTIONS file, a quarter of the cost of opening a new
         * DB, which a window store pays for every segment. A DB on disk is opened with the
         * families it has. */
        std::vector<std::string> names;
        bool has_meta = false;
        if (rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(o), path, &names).ok())
            for (const std::string &n : names)
                has_meta = has_meta || n == META_CF;
        std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
            {rocksdb::kDefaultColumnFamilyName, data},
        };
        if (has_meta)
            cfs.push_back({META_CF, rocksdb::ColumnFamilyOptions(o)});
        std::vector<rocksdb::ColumnFamilyHandle *> handles;
        rocksdb::Status st = rocksdb::DB::Open(rocksdb::DBOptions(o), path, cfs, &handles, &s->db);
        if (st.ok() && handles.size() == cfs.size()) {
            /* The default family's handle is the DB's own; ours is the meta one. */
            s->db->DestroyColumnFamilyHandle(handles[0]);
            s->meta = has_meta ? handles[1] : NULL;
        }
        if (!st.ok()) {
            snprintf(errstr, errstr_size, "RocksDB store %s: %s", path, st.ToString().c_str());
            goto fail;
        }
        return &s->base;
    } catch (const std::bad_alloc &) {
        goto nomem;
    } catch (const std::exception &e) {
        snprintf(errstr, errstr_size, "RocksDB store %s: %s", path, e.what());
        goto fail;
    }
nomem:
    snprintf(errstr, errstr_size, "RocksDB store %s: out of memory", path);
fail:
    if (s)
        destroy(s);
    return NULL;
}

/* The memtables get a quarter of the bound, as Kafka Streams' bounded-memory example does; each
 * store's memtable a quarter of that (1 MB to 64 MB), so four busy stores fill it. */
rill_store_env_t *rill__rocksdb_env_new(size_t memory_bytes, char *errstr, size_t errstr_size)
{
    void *mem = rill_malloc(sizeof(rill_store_env_t));
    if (!mem) {
        snprintf(errstr, errstr_size, "store env: out of memory");
        return NULL;
    }
    rill_store_env_t *env = new (mem) rill_store_env_t();
    try {
        size_t memtables = memory_bytes / 4 ? memory_bytes / 4 : 1; /* 0 would mean no limit */
        size_t each = memtables / 4;
        const size_t lo = size_t(1) << 20, hi = size_t(64) << 20;
        env->write_buffer_size = each < lo ? lo : each > hi ? hi : each;
        /* A tenth of the cache, high priority, keeps index and filter blocks from being evicted
         * by scans of data blocks. */
        env->cache = rocksdb::NewLRUCache(memory_bytes, -1, false, 0.1);
        env->wbm = std::make_shared<rocksdb::WriteBufferManager>(memtables, env->cache, false);
        if (!env->cache)
            throw std::bad_alloc();
        return env;
    } catch (const std::exception &e) {
        snprintf(errstr, errstr_size, "store env: %s", e.what());
    }
    env->~rill_store_env_t();
    rill_free(mem);
    return NULL;
}

void rill__rocksdb_env_destroy(rill_store_env_t *env)
{
    env->~rill_store_env_t();
    rill_free(env);
}

/* The block cache's usage: data, index and filter blocks, table readers' memory, and the
 * memtables' reservations (whole 256 KB dummy entries, so a little above their real use). */
size_t rill__rocksdb_env_usage(const rill_store_env_t *env)
{
    return env->cache->GetUsage();
}
