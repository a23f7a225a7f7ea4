/*
 * Unit tests for the window, session and versioned stores of statestore.h: the layouts (round trips
 * at the extremes, byte order following time order), put/get/delete, fetches with inclusive time
 * bounds both ways, keys that are prefixes of one another, key ranges, expiry (refused puts,
 * filtered reads, segments dropped and their directories removed), reopening RocksDB stores,
 * iterators that outlive a dropped segment or the store, a reader thread racing the owner, and
 * out-of-memory paths. Versioned stores: Kafka Streams' RocksDBVersionedStoreTest scenarios as
 * tables, puts into the middle of a history against a model, history retention, reopening,
 * transactions.
 *
 * Every store test runs once per backend (in memory, and RocksDB in a fresh directory under /tmp
 * with its own env), with a counting allocator installed through rill_set_allocator(): the
 * teardown asserts that nothing allocated through the hook is still live.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH and FTW_PHYS */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <rill/statestore.h>

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_ELEMS(a) (sizeof(a) / sizeof *(a))

/* ---- Counting allocator ---- */

static atomic_long n_live;
static atomic_long fail_countdown; /* > 0: the allocation that brings it to 0 fails */
static atomic_long n_failed;

static bool should_fail(void)
{
    long left = atomic_load(&fail_countdown);
    while (left > 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &left, left - 1)) {
            if (left == 1) {
                atomic_fetch_add(&n_failed, 1);
                return true;
            }
            return false;
        }
    }
    return false;
}

static atomic_long n_mallocs; /* every allocation asked of the hook */

static void *count_malloc(size_t n)
{
    atomic_fetch_add(&n_mallocs, 1);
    if (should_fail())
        return NULL;
    void *p = malloc(n);
    if (p)
        atomic_fetch_add(&n_live, 1);
    return p;
}

static void *count_realloc(void *old, size_t n)
{
    atomic_fetch_add(&n_mallocs, 1);
    if (should_fail())
        return NULL;
    void *p = realloc(old, n);
    if (p && !old)
        atomic_fetch_add(&n_live, 1);
    return p;
}

static void count_free(void *p)
{
    if (p)
        atomic_fetch_sub(&n_live, 1);
    free(p);
}

static int group_setup(void **state)
{
    return rill_set_allocator(count_malloc, count_realloc, count_free);
}

static int group_teardown(void **state)
{
    return rill_set_allocator(NULL, NULL, NULL);
}

/* ---- Fixture: one backend, a scratch directory and (RocksDB) an env ---- */

typedef struct {
    rill_store_backend_t backend;
    rill_store_env_t *env;
    long live_at_setup;
    char dir[64];             /* the scratch directory */
    char path[128];           /* the store's path inside it */
    bool skip_under_valgrind; /* a long RocksDB run, under valgrind (see backend_rocksdb_long) */
} fixture_t;

static const rill_store_backend_t backend_memory = RILL_STORE_IN_MEMORY;
static const rill_store_backend_t backend_rocksdb = RILL_STORE_ROCKSDB;
/* RocksDB for the versioned store's long scenario tests, which valgrind skips (minutes under it;
 * the in-memory runs and ASan cover the same code). */
static const rill_store_backend_t backend_rocksdb_long = RILL_STORE_ROCKSDB;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->skip_under_valgrind = *state == &backend_rocksdb_long && getenv("RILL_UNDER_VALGRIND");
    f->backend = *(const rill_store_backend_t *)*state;
    atomic_store(&fail_countdown, 0);
    snprintf(f->dir, sizeof f->dir, "/tmp/rill-window-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/store", f->dir);
    if (f->backend == RILL_STORE_ROCKSDB) {
        char err[256] = "";
        f->env = rill_store_env_new(64 << 20, err, sizeof err);
        if (!f->env) {
            print_error("rill_store_env_new: %s\n", err);
            rmdir(f->dir);
            free(f);
            return -1;
        }
    }
    f->live_at_setup = atomic_load(&n_live);
    *state = f;
    return 0;
}

static int remove_one(const char *fpath, const struct stat *sb, int typeflag, struct FTW *ftwbuf)
{
    return remove(fpath);
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    atomic_store(&fail_countdown, 0);
    rill_set_log_cb(NULL, NULL, RILL_LOG_INFO);
    /* Everything the test made through the hook is gone (the env was made before). */
    long live = atomic_load(&n_live);
    rill_store_env_destroy(f->env);
    int rc = nftw(f->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    long live_at_setup = f->live_at_setup;
    free(f);
    assert_int_equal(live, live_at_setup);
    assert_int_equal(rc, 0);
    return 0;
}

/* ---- Helpers ---- */

static rill_buf_t view(const void *data, size_t len)
{
    rill_buf_t v = {data, len};
    return v;
}

static rill_buf_t str(const char *s)
{
    return rill_buf_str(s);
}

static rill_window_store_t *open_ws(fixture_t *f, int64_t retention, int64_t segment)
{
    char err[256] = "";
    rill_window_store_t *ws =
        rill_window_store_open(f->backend, f->env, f->path, retention, segment, err, sizeof err);
    if (!ws)
        fail_msg("rill_window_store_open: %s", err);
    return ws;
}

static rill_session_store_t *open_ss(fixture_t *f, int64_t retention, int64_t segment)
{
    char err[256] = "";
    rill_session_store_t *ss =
        rill_session_store_open(f->backend, f->env, f->path, retention, segment, err, sizeof err);
    if (!ss)
        fail_msg("rill_session_store_open: %s", err);
    return ss;
}

static void put_ok(rill_window_store_t *ws, rill_buf_t key, int64_t start, const char *value)
{
    int rc = rill_window_store_put(ws, key, start, str(value));
    if (rc != 0)
        fail_msg("put @%" PRId64 ": %s", start, rill_err_name(rc));
}

static void sput_ok(rill_session_store_t *ss, rill_buf_t key, int64_t start, int64_t end,
                    const char *value)
{
    int rc = rill_session_store_put(ss, key, start, end, str(value));
    if (rc != 0)
        fail_msg("session put [%" PRId64 ",%" PRId64 "]: %s", start, end, rill_err_name(rc));
}

/* Appends b to out, bytes outside printable ASCII (and the separators) as \xHH. */
static void append_bytes(char *out, size_t cap, rill_buf_t b)
{
    size_t n = strlen(out);
    for (size_t i = 0; i < b.len; i++) {
        unsigned char c = ((const unsigned char *)b.data)[i];
        if (c > ' ' && c < 127 && c != '\\' && c != '@' && c != '=' && c != ',')
            n += (size_t)snprintf(out + n, cap - n, "%c", c);
        else
            n += (size_t)snprintf(out + n, cap - n, "\\x%02x", c);
    }
}

/* Drains and closes a window iterator into "key@start=value key@start=value". */
static const char *windows_of(rill_window_iter_t *it)
{
    static char buf[8192];
    buf[0] = '\0';
    assert_non_null(it);
    rill_buf_t key, value;
    int64_t start;
    while (rill_window_iter_next(it, &key, &start, &value)) {
        if (buf[0])
            strcat(buf, " ");
        append_bytes(buf, sizeof buf, key);
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "@%" PRId64 "=", start);
        append_bytes(buf, sizeof buf, value);
    }
    assert_false(rill_window_iter_next(it, &key, &start, &value));
    rill_window_iter_close(it);
    return buf;
}

/* Drains and closes a session iterator into "key@start,end=value ...". */
static const char *sessions_of(rill_session_iter_t *it)
{
    static char buf[8192];
    buf[0] = '\0';
    assert_non_null(it);
    rill_buf_t key, value;
    int64_t start, end;
    while (rill_session_iter_next(it, &key, &start, &end, &value)) {
        if (buf[0])
            strcat(buf, " ");
        append_bytes(buf, sizeof buf, key);
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "@%" PRId64 ",%" PRId64 "=", start,
                 end);
        append_bytes(buf, sizeof buf, value);
    }
    rill_session_iter_close(it);
    return buf;
}

static void assert_get(rill_window_store_t *ws, rill_buf_t key, int64_t start, const char *want)
{
    rill_buf_t value = {"junk", 4};
    int rc = rill_window_store_get(ws, key, start, &value);
    if (!want) {
        assert_int_equal(rc, RILL_ENOENT);
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(value.len, strlen(want));
    assert_memory_equal(value.data, want, value.len);
}

static void assert_sget(rill_session_store_t *ss, rill_buf_t key, int64_t start, int64_t end,
                        const char *want)
{
    rill_buf_t value = {"junk", 4};
    int rc = rill_session_store_get(ss, key, start, end, &value);
    if (!want) {
        assert_int_equal(rc, RILL_ENOENT);
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(value.len, strlen(want));
    assert_memory_equal(value.data, want, value.len);
}

/* Whether segment id's directory exists under the store's path. */
static bool segment_dir_exists(fixture_t *f, int64_t id)
{
    char p[256];
    struct stat st;
    snprintf(p, sizeof p, "%s/%" PRId64, f->path, id);
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool rocksdb(fixture_t *f)
{
    return f->backend == RILL_STORE_ROCKSDB;
}

static void quiet_log(void *opaque, rill_log_level_t level, const char *component, const char *msg)
{
}

/* ---- Layouts ---- */

static const int64_t times[] = {
    INT64_MIN, INT64_MIN + 1, -4294967296, -65536,     -256,          -1,        0, 1,
    255,       256,           65536,       4294967296, INT64_MAX - 1, INT64_MAX,
};

static int layout_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

static void test_window_layout(void **state)
{
    uint8_t out[64], prev[64];
    size_t prev_len = 0;
    rill_buf_t key;
    int64_t start;

    /* Round trips, and bytes ordered as the starts are. */
    for (size_t i = 0; i < N_ELEMS(times); i++) {
        size_t n = rill_window_key(str("key"), times[i], out);
        assert_int_equal(n, 3 + 8);
        assert_memory_equal(out, "key", 3);
        assert_int_equal(rill_window_key_split(view(out, n), &key, &start), 0);
        assert_int_equal(key.len, 3);
        assert_memory_equal(key.data, "key", 3);
        assert_true(start == times[i]);
        if (i > 0)
            assert_true(layout_cmp(prev, prev_len, out, n) < 0);
        memcpy(prev, out, n);
        prev_len = n;
    }

    /* The exact bytes: big-endian with the sign bit flipped. */
    static const uint8_t zero[] = {'k', 0x80, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t minus_one[] = {'k', 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t min[] = {'k', 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t max[] = {'k', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t some[] = {'k', 0x80, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05};
    assert_int_equal(rill_window_key(str("k"), 0, out), 9);
    assert_memory_equal(out, zero, 9);
    rill_window_key(str("k"), -1, out);
    assert_memory_equal(out, minus_one, 9);
    rill_window_key(str("k"), INT64_MIN, out);
    assert_memory_equal(out, min, 9);
    rill_window_key(str("k"), INT64_MAX, out);
    assert_memory_equal(out, max, 9);
    rill_window_key(str("k"), 0x0102030405, out);
    assert_memory_equal(out, some, 9);

    /* The empty key and a binary key. */
    assert_int_equal(rill_window_key(view("", 0), -7, out), 8);
    assert_int_equal(rill_window_key_split(view(out, 8), &key, &start), 0);
    assert_int_equal(key.len, 0);
    assert_true(start == -7);
    assert_int_equal(rill_window_key(view("a\0x", 3), 42, out), 11);
    assert_int_equal(rill_window_key_split(view(out, 11), &key, &start), 0);
    assert_int_equal(key.len, 3);
    assert_memory_equal(key.data, "a\0x", 3);
    assert_true(start == 42);

    /* Too short to hold a start; NULL outputs are fine. */
    assert_int_equal(rill_window_key_split(view(out, 7), &key, &start), RILL_EINVAL);
    assert_int_equal(rill_window_key_split(view(NULL, 0), &key, &start), RILL_EINVAL);
    assert_int_equal(rill_window_key_split(view(out, 11), NULL, NULL), 0);
}

static void test_session_layout(void **state)
{
    uint8_t out[64], prev[64];
    size_t prev_len = 0;
    rill_buf_t key;
    int64_t start, end;

    /* Ordered by end, then start; round trips at the extremes. */
    bool first = true;
    for (size_t e = 0; e < N_ELEMS(times); e++) {
        for (size_t s = 0; s < N_ELEMS(times); s++) {
            size_t n = rill_session_key(str("ab"), times[s], times[e], out);
            assert_int_equal(n, 2 + 16);
            assert_int_equal(rill_session_key_split(view(out, n), &key, &start, &end), 0);
            assert_int_equal(key.len, 2);
            assert_memory_equal(key.data, "ab", 2);
            assert_true(start == times[s]);
            assert_true(end == times[e]);
            if (!first)
                assert_true(layout_cmp(prev, prev_len, out, n) < 0);
            first = false;
            memcpy(prev, out, n);
            prev_len = n;
        }
    }

    /* Key, then end, then start. */
    static const uint8_t want[] = {'k',  0x80, 0,    0,    0,    0,    0,    0,   0x14,
                                   0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf6};
    assert_int_equal(rill_session_key(str("k"), -10, 20, out), 17);
    assert_memory_equal(out, want, 17);

    assert_int_equal(rill_session_key(view("", 0), 1, 2, out), 16);
    assert_int_equal(rill_session_key_split(view(out, 16), &key, &start, &end), 0);
    assert_int_equal(key.len, 0);
    assert_true(start == 1 && end == 2);

    assert_int_equal(rill_session_key_split(view(out, 15), &key, &start, &end), RILL_EINVAL);
    assert_int_equal(rill_session_key_split(view(NULL, 0), &key, &start, &end), RILL_EINVAL);
}

/* ---- Window stores ---- */

static void test_window_put_get_delete(void **state)
{
    fixture_t *f = *state;
    rill_window_store_t *ws = open_ws(f, 10000, 100);
    rill_buf_t value;
    assert_true(rill_window_store_observed_time(ws) == INT64_MIN);

    put_ok(ws, str("a"), 10, "one");
    put_ok(ws, str("a"), 20, "two");
    put_ok(ws, str("b"), 10, "three");
    put_ok(ws, str("a"), 150, "four"); /* another segment */
    assert_get(ws, str("a"), 10, "one");
    assert_get(ws, str("a"), 20, "two");
    assert_get(ws, str("b"), 10, "three");
    assert_get(ws, str("a"), 150, "four");
    assert_get(ws, str("a"), 11, NULL);
    assert_get(ws, str("b"), 20, NULL);
    assert_get(ws, str("c"), 10, NULL);
    assert_get(ws, str("a"), 5000, NULL); /* a segment that does not exist */

    /* Overwrite, an empty value (not a delete), then a delete by null value. */
    put_ok(ws, str("a"), 10, "uno");
    assert_get(ws, str("a"), 10, "uno");
    assert_int_equal(rill_window_store_put(ws, str("a"), 20, view("", 0)), 0);
    assert_get(ws, str("a"), 20, "");
    assert_int_equal(rill_window_store_put(ws, str("a"), 20, view(NULL, 0)), 0);
    assert_get(ws, str("a"), 20, NULL);
    /* Deleting what is absent, even in a segment never written, is fine. */
    assert_int_equal(rill_window_store_put(ws, str("a"), 20, view(NULL, 0)), 0);
    assert_int_equal(rill_window_store_put(ws, str("z"), 120, view(NULL, 0)), 0);
    assert_true(rill_window_store_observed_time(ws) == 150);

    /* The empty key is a key; a null key is not. */
    put_ok(ws, view("", 0), 30, "empty");
    assert_get(ws, view("", 0), 30, "empty");
    assert_int_equal(rill_window_store_put(ws, view(NULL, 0), 30, str("x")), RILL_EINVAL);
    assert_int_equal(rill_window_store_get(ws, view(NULL, 0), 30, &value), RILL_EINVAL);

    /* The empty key's layout is the start alone (0x80... for positive times): after "b". */
    assert_string_equal(windows_of(rill_window_store_all(ws)),
                        "a@10=uno b@10=three @30=empty a@150=four");
    assert_int_equal(rill_window_store_flush(ws), 0);
    rill_window_store_close(ws);
}

static void test_window_observed_time(void **state)
{
    fixture_t *f = *state;
    rill_window_store_t *ws = open_ws(f, 1000, 100);
    assert_true(rill_window_store_observed_time(ws) == INT64_MIN);
    put_ok(ws, str("a"), 50, "x");
    assert_true(rill_window_store_observed_time(ws) == 50);
    put_ok(ws, str("a"), 20, "x");
    assert_true(rill_window_store_observed_time(ws) == 50);
    /* A delete is a put: it moves time too. */
    assert_int_equal(rill_window_store_put(ws, str("a"), 70, view(NULL, 0)), 0);
    assert_true(rill_window_store_observed_time(ws) == 70);
    put_ok(ws, str("a"), -500, "negative");
    assert_true(rill_window_store_observed_time(ws) == 70);
    rill_window_store_close(ws);
    assert_true(rill_window_store_observed_time(NULL) == INT64_MIN);
}

static void test_window_fetch_bounds(void **state)
{
    fixture_t *f = *state;
    rill_window_store_t *ws = open_ws(f, 10000, 100);
    put_ok(ws, str("a"), 0, "0");
    put_ok(ws, str("a"), 99, "99");
    put_ok(ws, str("a"), 100, "100");
    put_ok(ws, str("a"), 250, "250");
    put_ok(ws, str("a"), 399, "399");
    put_ok(ws, str("b"), 100, "b100");
    put_ok(ws, str("b"), 250, "b250");

    /* Both bounds inclusive, across segment boundaries. */
    assert_string_equal(windows_of(rill_window_store_fetch(ws, str("a"), 99, 250, false)),
                        "a@99=99 a@100=100 a@250=250");
    assert_string_equal(windows_of(rill_window_store_fetch(ws, str("a"), 99, 250, true)),
                        "a@250=250 a@100=100 a@99=99");
    assert_string_equal(windows_of(rill_window_store_fetch(ws, str("a"), 100, 100, false)),
                        "a@100=100");
    assert_string_equal(windows_of(rill_window_store_fetch(ws, str("a"), 101, 249, false)), "");
    assert_string_equal(windows_of(rill_window_store_fetch(ws, str("a"), 250, 99, false)), "");
    assert_string_equal(windows_of(rill_window_store_fetch(ws, str("a"), -100, -1, false)), "");
    assert_string_equal(windows_of(rill_window_store_fetch(ws, str("a"), 1000, 2000, true)), "");
    assert_string_equal(
        windows_of(rill_window_store_fetch(ws, str("a"), INT64_MIN, INT64_MAX, false)),
        "a@0=0 a@99=99 a@100=100 a@250=250 a@399=399");
    assert_string_equal(
        windows_of(rill_window_store_fetch(ws, str("a"), INT64_MIN, INT64_MAX, true)),
        "a@399=399 a@250=250 a@100=100 a@99=99 a@0=0");
    assert_string_equal(windows_of(rill_window_store_fetch(ws, str("b"), 0, 399, true)),
                        "b@250=b250 b@100=b100");
    assert_string_equal(windows_of(rill_window_store_fetch(ws, str("c"), 0, 399, false)), "");

    /* A value seen through an iterator stays valid until the next call on it, whatever the
     * store does meanwhile. */
    rill_window_iter_t *it = rill_window_store_fetch(ws, str("a"), 0, 99, false);
    assert_non_null(it);
    rill_buf_t key, value;
    int64_t start;
    assert_true(rill_window_iter_next(it, &key, &start, &value));
    put_ok(ws, str("a"), 0, "changed");
    put_ok(ws, str("a"), 500, "500");
    assert_int_equal(key.len, 1);
    assert_memory_equal(key.data, "a", 1);
    assert_true(start == 0);
    assert_int_equal(value.len, 1);
    assert_memory_equal(value.data, "0", 1);
    rill_window_iter_close(it);
    rill_window_iter_close(NULL);
    rill_window_store_close(ws);
}

static void test_window_negative_times(void **state)
{
    fixture_t *f = *state;
    rill_window_store_t *ws = open_ws(f, 100000, 100);
    put_ok(ws, str("k"), -250, "-250");
    put_ok(ws, str("k"), -101, "-101");
    put_ok(ws, str("k"), -100, "-100");
    put_ok(ws, str("k"), -1, "-1");
    put_ok(ws, str("k"), 0, "0");
    put_ok(ws, str("k"), 1, "1");
    assert_string_equal(windows_of(rill_window_store_fetch(ws, str("k"), -101, 0, false)),
                        "k@-101=-101 k@-100=-100 k@-1=-1 k@0=0");
    assert_string_equal(windows_of(rill_window_store_fetch(ws, str("k"), -300, 300, true)),
                        "k@1=1 k@0=0 k@-1=-1 k@-100=-100 k@-101=-101 k@-250=-250");
    assert_get(ws, str("k"), -250, "-250");
    if (rocksdb(f)) {
        /* Segments are floor(start / segment_ms): -250 is in -3, -101 in -2, -1 in -1. */
        assert_true(segment_dir_exists(f, -3));
        assert_true(segment_dir_exists(f, -2));
        assert_true(segment_dir_exists(f, -1));
        assert_true(segment_dir_exists(f, 0));
        assert_false(segment_dir_exists(f, 1));
    }

    rill_window_store_close(ws);

    /* The extremes work, their segment ids and the retention arithmetic included. (Another
     * path: a RocksDB store must be reopened with the segment_ms it was made with.) */
    strcat(f->path, "-extremes");
    ws = open_ws(f, INT64_MAX, 7);
    put_ok(ws, str("x"), INT64_MIN, "min");
    put_ok(ws, str("x"), INT64_MAX, "max");
    assert_get(ws, str("x"), INT64_MIN, NULL); /* INT64_MAX - INT64_MAX: MIN expired now */
    assert_get(ws, str("x"), INT64_MAX, "max");
    assert_string_equal(
        windows_of(rill_window_store_fetch(ws, str("x"), INT64_MIN, INT64_MAX, false)),
        "x@9223372036854775807=max");
    rill_window_store_close(ws);
}

static void test_window_prefix_keys(void **state)
{
    fixture_t *f = *state;
    rill_window_store_t *ws = open_ws(f, 10000, 100);
    const rill_buf_t a = view("a", 1), a0x = view("a\0x", 3), ab = view("ab", 2),
                     aff = view("a\xff", 2), empty = view("", 0);
    const rill_buf_t keys[] = {a, a0x, ab, aff, empty};
    for (size_t i = 0; i < N_ELEMS(keys); i++) {
        put_ok(ws, keys[i], 10, "10");
        put_ok(ws, keys[i], 20, "20");
        put_ok(ws, keys[i], 120, "120");
    }

    /* A fetch returns its key only, though the others start with it. */
    assert_string_equal(windows_of(rill_window_store_fetch(ws, a, 0, 200, false)),
                        "a@10=10 a@20=20 a@120=120");
    assert_string_equal(windows_of(rill_window_store_fetch(ws, a, 0, 200, true)),
                        "a@120=120 a@20=20 a@10=10");
    assert_string_equal(windows_of(rill_window_store_fetch(ws, a0x, 15, 200, false)),
                        "a\\x00x@20=20 a\\x00x@120=120");
    assert_string_equal(windows_of(rill_window_store_fetch(ws, empty, 0, 20, false)),
                        "@10=10 @20=20");
    assert_string_equal(windows_of(rill_window_store_fetch(ws, aff, 0, 20, false)),
                        "a\\xff@10=10 a\\xff@20=20");
    assert_get(ws, a0x, 10, "10");
    assert_get(ws, view("a\0", 2), 10, NULL);
    rill_window_store_close(ws);
}

/* A store that retains duplicates (Kafka Streams' retainDuplicates, the stream-stream join's):
 * every put adds an entry, a window's entries come in put order, keys that start with another
 * stay apart, a write batch writes the layouts given, and get is refused. */
static void test_window_duplicates(void **state)
{
    fixture_t *f = *state;
    rill_window_store_t *ws = open_ws(f, 10000, 100);
    assert_int_equal(rill_window_store_retain_duplicates(ws), 0);
    const rill_buf_t a = view("a", 1), a0x = view("a\0x", 3), aff = view("a\xff", 2);
    put_ok(ws, a, 10, "x");
    put_ok(ws, a, 10, "x"); /* the same value twice: two entries */
    put_ok(ws, a, 10, "y");
    put_ok(ws, a, 5, "early");
    put_ok(ws, a0x, 10, "p");
    put_ok(ws, aff, 10, "q");
    put_ok(ws, a, 150, "late");
    assert_int_equal(rill_window_store_put(ws, a, 10, (rill_buf_t){NULL, 0}), 0); /* no delete */
    assert_string_equal(windows_of(rill_window_store_fetch(ws, a, 0, 200, false)),
                        "a@5=early a@10=x a@10=x a@10=y a@150=late");
    assert_string_equal(windows_of(rill_window_store_fetch(ws, a, 10, 10, false)),
                        "a@10=x a@10=x a@10=y");
    assert_string_equal(windows_of(rill_window_store_fetch(ws, a, 0, 200, true)),
                        "a@150=late a@10=y a@10=x a@10=x a@5=early");
    assert_string_equal(windows_of(rill_window_store_fetch(ws, aff, 0, 200, false)), "a\\xff@10=q");
    assert_string_equal(windows_of(rill_window_store_fetch_range(ws, &a0x, &aff, 0, 200)),
                        "a\\x00x@10=p a\\xff@10=q");
    assert_string_equal(windows_of(rill_window_store_fetch_range(ws, NULL, &a, 10, 10)),
                        "a@10=x a@10=x a@10=y");
    rill_buf_t v;
    assert_int_equal(rill_window_store_get(ws, a, 10, &v), RILL_EINVAL);

    /* A batch writes the layouts it is given: a sequence number already there is replaced. */
    uint8_t l1[16], l2[16];
    rill_buf_t k;
    int64_t start;
    uint32_t seq;
    size_t n1 = rill_window_dup_key(a, 20, 7, l1), n2 = rill_window_dup_key(a, 20, 3, l2);
    assert_int_equal(n1, 13);
    assert_int_equal(rill_window_dup_key_split(view(l1, n1), &k, &start, &seq), 0);
    assert_int_equal(k.len, 1);
    assert_int_equal(start, 20);
    assert_int_equal(seq, 7);
    assert_int_equal(rill_window_dup_key_split(view(l1, 11), &k, &start, &seq), RILL_EINVAL);
    rill_store_write_t w[] = {
        {view(l1, n1), str("s7")}, {view(l2, n2), str("s3")}, {view(l1, n1), str("s7b")}};
    bool written[3];
    assert_int_equal(rill_window_store_write_batch(ws, w, 3, written), 0);
    assert_true(written[0] && written[1] && written[2]);
    assert_string_equal(windows_of(rill_window_store_fetch(ws, a, 20, 20, false)),
                        "a@20=s3 a@20=s7b");
    rill_store_write_t shorter = {view(l1, 10), str("z")}; /* key, start, no sequence number */
    assert_int_equal(rill_window_store_write_batch(ws, &shorter, 1, written), RILL_EINVAL);

    /* Expiry as in any window store. */
    put_ok(ws, a, 10200, "new");
    assert_int_equal(rill_window_store_put(ws, a, 10, str("gone")), RILL_ENOENT);
    assert_string_equal(windows_of(rill_window_store_all(ws)), "a@10200=new");
    rill_window_store_close(ws);
}

static void test_window_fetch_range(void **state)
{
    fixture_t *f = *state;
    rill_window_store_t *ws = open_ws(f, 10000, 100);
    const rill_buf_t a = view("a", 1), a0x = view("a\0x", 3), ab = view("ab", 2),
                     aff = view("a\xff", 2), b = view("b", 1), empty = view("", 0);
    const rill_buf_t keys[] = {a, a0x, ab, aff, b, empty};
    for (size_t i = 0; i < N_ELEMS(keys); i++) {
        put_ok(ws, keys[i], 10, "10");
        put_ok(ws, keys[i], 150, "150");
    }

    /*
     * Within a segment, entries come in layout order: key then start for keys of one length, but
     * "a" + start sorts after "a\0x" + start and "ab" + start (the start's first byte is 0x80 for
     * positive times). The keys kept are exactly those in [key_from, key_to].
     */
    assert_string_equal(windows_of(rill_window_store_fetch_range(ws, &a, &a, 0, 1000)),
                        "a@10=10 a@150=150");
    assert_string_equal(windows_of(rill_window_store_fetch_range(ws, &a, &ab, 0, 1000)),
                        "a\\x00x@10=10 ab@10=10 a@10=10 a\\x00x@150=150 ab@150=150 a@150=150");
    assert_string_equal(windows_of(rill_window_store_fetch_range(ws, &a, &ab, 10, 10)),
                        "a\\x00x@10=10 ab@10=10 a@10=10");
    assert_string_equal(windows_of(rill_window_store_fetch_range(ws, &a, &ab, 11, 150)),
                        "a\\x00x@150=150 ab@150=150 a@150=150");
    /* Keys <= "a" are "" and "a": the bound must not cut off "" + start (0x80...), which sorts
     * after "a" + start. */
    assert_string_equal(windows_of(rill_window_store_fetch_range(ws, NULL, &a, 0, 100)),
                        "a@10=10 @10=10");
    assert_string_equal(windows_of(rill_window_store_fetch_range(ws, &a0x, NULL, 0, 100)),
                        "a\\x00x@10=10 ab@10=10 a\\xff@10=10 b@10=10");
    assert_string_equal(windows_of(rill_window_store_fetch_range(ws, &aff, &b, 100, 200)),
                        "a\\xff@150=150 b@150=150");
    assert_string_equal(windows_of(rill_window_store_fetch_range(ws, NULL, NULL, 100, 200)),
                        "a\\x00x@150=150 ab@150=150 a@150=150 a\\xff@150=150 b@150=150 @150=150");
    /* Empty ranges. */
    assert_string_equal(windows_of(rill_window_store_fetch_range(ws, &b, &a, 0, 1000)), "");
    assert_string_equal(windows_of(rill_window_store_fetch_range(ws, &a, &b, 200, 100)), "");
    assert_string_equal(windows_of(rill_window_store_fetch_range(ws, &a, &b, 11, 149)), "");
    rill_window_store_close(ws);
}

static void test_window_all(void **state)
{
    fixture_t *f = *state;
    rill_window_store_t *ws = open_ws(f, 10000, 100);
    assert_string_equal(windows_of(rill_window_store_all(ws)), "");
    put_ok(ws, str("b"), 250, "4");
    put_ok(ws, str("a"), 10, "1");
    put_ok(ws, str("b"), 10, "2");
    put_ok(ws, str("a"), 120, "3");
    put_ok(ws, str("a"), -5, "0");
    /* By segment, then key, then start. */
    assert_string_equal(windows_of(rill_window_store_all(ws)),
                        "a@-5=0 a@10=1 b@10=2 a@120=3 b@250=4");
    rill_window_store_close(ws);
}

static void test_window_expiry(void **state)
{
    fixture_t *f = *state;
    rill_window_store_t *ws = open_ws(f, 100, 50);
    put_ok(ws, str("a"), 0, "0");
    put_ok(ws, str("a"), 60, "60");
    put_ok(ws, str("a"), 120, "120");
    put_ok(ws, str("b"), 140, "b140");
    if (rocksdb(f)) {
        assert_true(segment_dir_exists(f, 0));
        assert_true(segment_dir_exists(f, 1));
        assert_true(segment_dir_exists(f, 2));
    }
    /* observed 140, retention 100: 40 is the oldest live start; 0 has expired though its segment
     * [0, 50) lives on. */
    assert_get(ws, str("a"), 0, NULL);
    assert_get(ws, str("a"), 60, "60");
    assert_string_equal(windows_of(rill_window_store_fetch(ws, str("a"), 0, 1000, false)),
                        "a@60=60 a@120=120");
    assert_string_equal(windows_of(rill_window_store_fetch(ws, str("a"), 0, 1000, true)),
                        "a@120=120 a@60=60");
    assert_string_equal(windows_of(rill_window_store_all(ws)), "a@60=60 a@120=120 b@140=b140");
    assert_string_equal(windows_of(rill_window_store_fetch_range(ws, NULL, NULL, 0, 1000)),
                        "a@60=60 a@120=120 b@140=b140");
    assert_string_equal(windows_of(rill_window_store_fetch(ws, str("a"), 0, 39, false)), "");

    /* Too old: refused, nothing written. The boundary itself is live. */
    assert_int_equal(rill_window_store_put(ws, str("c"), 39, str("late")), RILL_ENOENT);
    assert_int_equal(rill_window_store_put(ws, str("a"), 0, view(NULL, 0)), RILL_ENOENT);
    put_ok(ws, str("c"), 40, "40");
    assert_get(ws, str("c"), 39, NULL);
    assert_get(ws, str("c"), 40, "40");
    assert_true(rill_window_store_observed_time(ws) == 140);

    /* Time moves to 300: live from 200, so segments 0-3 ([0, 200)) go, directories too. */
    put_ok(ws, str("a"), 300, "300");
    if (rocksdb(f)) {
        assert_false(segment_dir_exists(f, 0));
        assert_false(segment_dir_exists(f, 1));
        assert_false(segment_dir_exists(f, 2));
        assert_true(segment_dir_exists(f, 6));
    }
    assert_get(ws, str("a"), 120, NULL);
    assert_get(ws, str("b"), 140, NULL);
    assert_string_equal(windows_of(rill_window_store_all(ws)), "a@300=300");
    assert_string_equal(
        windows_of(rill_window_store_fetch(ws, str("a"), INT64_MIN, INT64_MAX, false)),
        "a@300=300");
    assert_int_equal(rill_window_store_put(ws, str("a"), 120, str("again")), RILL_ENOENT);
    assert_int_equal(rill_window_store_put(ws, str("a"), 199, str("again")), RILL_ENOENT);
    put_ok(ws, str("a"), 200, "200");
    assert_string_equal(windows_of(rill_window_store_all(ws)), "a@200=200 a@300=300");

    /* Retention 0 keeps only the newest start. */
    rill_window_store_close(ws);
    ws = open_ws(f, 0, 10);
    put_ok(ws, str("z"), 1000, "1000");
    put_ok(ws, str("z"), 1005, "1005");
    assert_int_equal(rill_window_store_put(ws, str("z"), 1004, str("x")), RILL_ENOENT);
    assert_string_equal(windows_of(rill_window_store_all(ws)), "z@1005=1005");
    rill_window_store_close(ws);
}

/* A batch does what its puts one after the other would: the observed time runs through it in
 * order, so a write made too late by an earlier one of the batch is refused (written false),
 * one that was live when its turn came is taken even if a later one expires its window, a
 * segment that the batch's end expires is dropped, and deletes work. */
static void test_window_write_batch(void **state)
{
    fixture_t *f = *state;
    rill_window_store_t *ws = open_ws(f, 100, 50);
    put_ok(ws, str("a"), 0, "0");
    put_ok(ws, str("d"), 130, "d130");
    uint8_t k[6][16];
    rill_store_write_t w[6] = {
        {{k[0], rill_window_key(str("a"), 60, k[0])}, str("60")},      /* live */
        {{k[1], rill_window_key(str("b"), 35, k[1])}, str("b35")},     /* live at 130: taken */
        {{k[2], rill_window_key(str("a"), 150, k[2])}, str("150")},    /* time to 150 */
        {{k[3], rill_window_key(str("c"), 45, k[3])}, str("c45")},     /* 45 < 50: refused */
        {{k[4], rill_window_key(str("d"), 130, k[4])}, view(NULL, 0)}, /* a delete */
        {{k[5], rill_window_key(str("e"), 149, k[5])}, str("e149")},
    };
    bool written[6];
    assert_int_equal(rill_window_store_write_batch(ws, w, 6, written), 0);
    assert_true(written[0] && written[1] && written[2] && !written[3] && written[4] && written[5]);
    assert_true(rill_window_store_observed_time(ws) == 150);
    /* b@35 was taken, then expired with its segment [0, 50): nothing left of it, nor of a@0. */
    assert_string_equal(windows_of(rill_window_store_all(ws)), "a@60=60 e@149=e149 a@150=150");
    if (rocksdb(f))
        assert_false(segment_dir_exists(f, 0));
    assert_int_equal(rill_window_store_write_batch(ws, w, 0, written), 0);
    rill_store_write_t bad = {str("short"), str("x")};
    assert_int_equal(rill_window_store_write_batch(ws, &bad, 1, written), RILL_EINVAL);
    assert_int_equal(rill_window_store_write_batch(NULL, w, 1, written), RILL_EINVAL);
    rill_window_store_close(ws);
}

static void test_window_reopen(void **state)
{
    fixture_t *f = *state;
    rill_window_store_t *ws = open_ws(f, 1000, 100);
    put_ok(ws, str("a"), 50, "50");
    put_ok(ws, str("a"), 150, "150");
    put_ok(ws, str("b"), 250, "250");
    put_ok(ws, str("c"), -20, "-20");
    assert_int_equal(rill_window_store_flush(ws), 0);
    rill_window_store_close(ws);

    /* Strays that are not segments are left alone. */
    char p[256];
    snprintf(p, sizeof p, "%s/007", f->path);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/notes", f->path);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/9", f->path);
    FILE *file = fopen(p, "w");
    assert_non_null(file);
    fclose(file);

    /* The observed time is the start of the newest segment (2: 200). */
    ws = open_ws(f, 1000, 100);
    assert_true(rill_window_store_observed_time(ws) == 200);
    assert_get(ws, str("a"), 50, "50");
    assert_get(ws, str("c"), -20, "-20");
    assert_string_equal(windows_of(rill_window_store_all(ws)),
                        "c@-20=-20 a@50=50 a@150=150 b@250=250");
    assert_string_equal(windows_of(rill_window_store_fetch(ws, str("a"), 0, 1000, true)),
                        "a@150=150 a@50=50");
    put_ok(ws, str("a"), 60, "60");
    rill_window_store_close(ws);

    /* Reopened with less retention, the segments already out of it go at once. */
    ws = open_ws(f, 100, 100);
    assert_true(rill_window_store_observed_time(ws) == 200);
    assert_false(segment_dir_exists(f, -1));
    assert_false(segment_dir_exists(f, 0));
    assert_true(segment_dir_exists(f, 1));
    assert_true(segment_dir_exists(f, 2));
    assert_string_equal(windows_of(rill_window_store_all(ws)), "a@150=150 b@250=250");
    rill_window_store_close(ws);
    snprintf(p, sizeof p, "%s/007", f->path);
    assert_int_equal(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/9", f->path);
    assert_int_equal(access(p, F_OK), 0);
}

static void test_window_iter_outlives_drop(void **state)
{
    fixture_t *f = *state;
    rill_window_store_t *ws = open_ws(f, 100, 100);
    put_ok(ws, str("a"), 10, "10");
    put_ok(ws, str("a"), 20, "20");
    put_ok(ws, str("a"), 110, "110");

    rill_window_iter_t *it = rill_window_store_all(ws);
    rill_window_iter_t *it2 = rill_window_store_fetch(ws, str("a"), 0, 200, true);
    assert_non_null(it);
    assert_non_null(it2);
    rill_buf_t key, value;
    int64_t start;
    assert_true(rill_window_iter_next(it, &key, &start, &value));
    assert_true(start == 10);

    /* Segments 0 and 1 expire while the iterators still hold them. */
    put_ok(ws, str("a"), 1000, "1000");
    assert_string_equal(windows_of(rill_window_store_all(ws)), "a@1000=1000");
    if (rocksdb(f))
        assert_true(segment_dir_exists(f, 0)); /* until the last reader lets go */
    assert_true(rill_window_iter_next(it, &key, &start, &value));
    assert_true(start == 20);
    assert_int_equal(value.len, 2);
    assert_memory_equal(value.data, "20", 2);
    assert_true(rill_window_iter_next(it, &key, &start, &value));
    assert_true(start == 110);
    assert_false(rill_window_iter_next(it, &key, &start, &value));
    rill_window_iter_close(it);

    /* it2 even outlives the store. */
    rill_window_store_close(ws);
    assert_string_equal(windows_of(it2), "a@110=110 a@20=20 a@10=10");
    if (rocksdb(f)) {
        assert_false(segment_dir_exists(f, 0));
        assert_false(segment_dir_exists(f, 1));
        assert_true(segment_dir_exists(f, 10));
    }
}

static void test_window_invalid_args(void **state)
{
    fixture_t *f = *state;
    char err[256] = "";
    assert_null(rill_window_store_open(f->backend, f->env, f->path, 100, 0, err, sizeof err));
    assert_non_null(strstr(err, "segment_ms"));
    assert_null(rill_window_store_open(f->backend, f->env, f->path, -1, 10, err, sizeof err));
    assert_null(rill_window_store_open(f->backend, f->env, f->path, 100, -10, NULL, 0));
    assert_null(
        rill_window_store_open((rill_store_backend_t)42, f->env, f->path, 1, 1, err, sizeof err));
    assert_null(rill_window_store_open(RILL_STORE_ROCKSDB, NULL, f->path, 1, 1, err, sizeof err));
    assert_null(rill_window_store_open(RILL_STORE_ROCKSDB, f->env, NULL, 1, 1, err, sizeof err));
    assert_null(rill_session_store_open(f->backend, f->env, f->path, 100, 0, err, sizeof err));
    assert_non_null(strstr(err, "session store"));

    rill_window_store_t *ws = open_ws(f, 100, 10);
    rill_buf_t value;
    assert_int_equal(rill_window_store_put(NULL, str("a"), 1, str("x")), RILL_EINVAL);
    assert_int_equal(rill_window_store_put(ws, view(NULL, 3), 1, str("x")), RILL_EINVAL);
    assert_int_equal(rill_window_store_put(ws, str("a"), 1, view(NULL, 3)), RILL_EINVAL);
    assert_int_equal(rill_window_store_get(NULL, str("a"), 1, &value), RILL_EINVAL);
    assert_int_equal(rill_window_store_get(ws, str("a"), 1, NULL), RILL_EINVAL);
    assert_null(rill_window_store_fetch(NULL, str("a"), 0, 1, false));
    assert_null(rill_window_store_fetch(ws, view(NULL, 1), 0, 1, false));
    assert_null(rill_window_store_fetch(ws, view(NULL, 0), 0, 1, false));
    rill_buf_t null_key = {NULL, 0};
    assert_null(rill_window_store_fetch_range(ws, &null_key, NULL, 0, 1));
    assert_null(rill_window_store_fetch_range(ws, NULL, &null_key, 0, 1));
    assert_null(rill_window_store_fetch_range(NULL, NULL, NULL, 0, 1));
    assert_null(rill_window_store_all(NULL));
    assert_false(rill_window_iter_next(NULL, NULL, NULL, NULL));
    assert_int_equal(rill_window_store_flush(NULL), RILL_EINVAL);
    rill_window_store_close(ws);
    rill_window_store_close(NULL);

    rill_session_store_t *ss = open_ss(f, 100, 10);
    assert_int_equal(rill_session_store_put(ss, str("a"), 5, 4, str("x")), RILL_EINVAL);
    assert_int_equal(rill_session_store_put(NULL, str("a"), 4, 5, str("x")), RILL_EINVAL);
    assert_int_equal(rill_session_store_put(ss, view(NULL, 0), 4, 5, str("x")), RILL_EINVAL);
    assert_int_equal(rill_session_store_put(ss, str("a"), 4, 5, view(NULL, 1)), RILL_EINVAL);
    assert_int_equal(rill_session_store_get(ss, view(NULL, 0), 4, 5, &value), RILL_EINVAL);
    assert_null(rill_session_store_find(ss, view(NULL, 0), 0, 1));
    assert_int_equal(rill_session_store_get(ss, str("a"), 4, 5, NULL), RILL_EINVAL);
    assert_null(rill_session_store_find(NULL, str("a"), 0, 1));
    assert_null(rill_session_store_all(NULL));
    assert_false(rill_session_iter_next(NULL, NULL, NULL, NULL, NULL));
    assert_int_equal(rill_session_store_flush(NULL), RILL_EINVAL);
    rill_session_iter_close(NULL);
    rill_session_store_close(ss);
    rill_session_store_close(NULL);
}

/* ---- Session stores ---- */

static void test_session_put_find(void **state)
{
    fixture_t *f = *state;
    rill_session_store_t *ss = open_ss(f, 10000, 100);
    const rill_buf_t a = view("a", 1), a0x = view("a\0x", 3), b = view("b", 1);
    sput_ok(ss, a, 0, 10, "s1");
    sput_ok(ss, a, 20, 30, "s2");
    sput_ok(ss, a, 25, 30, "s2b");
    sput_ok(ss, a, 40, 150, "s3"); /* segments go by end: this one is in segment 1 */
    sput_ok(ss, a, 200, 210, "s4");
    sput_ok(ss, a, 7, 7, "point");
    sput_ok(ss, a0x, 20, 30, "p");
    sput_ok(ss, b, 20, 30, "q");

    assert_sget(ss, a, 20, 30, "s2");
    assert_sget(ss, a, 40, 150, "s3");
    assert_sget(ss, a, 20, 31, NULL);
    assert_sget(ss, a, 21, 30, NULL);
    assert_sget(ss, a0x, 20, 30, "p");
    assert_sget(ss, view("a\0", 2), 20, 30, NULL);

    /* The sessions a record at [15, 45] merges with: end >= 15 and start <= 45. By end, then
     * start. */
    assert_string_equal(sessions_of(rill_session_store_find(ss, a, 15, 45)),
                        "a@20,30=s2 a@25,30=s2b a@40,150=s3");
    /* Inclusive bounds both ways. */
    assert_string_equal(sessions_of(rill_session_store_find(ss, a, 10, 0)), "a@0,10=s1");
    assert_string_equal(sessions_of(rill_session_store_find(ss, a, 11, 0)), "");
    assert_string_equal(sessions_of(rill_session_store_find(ss, a, 150, 40)), "a@40,150=s3");
    assert_string_equal(sessions_of(rill_session_store_find(ss, a, 151, 40)), "");
    assert_string_equal(sessions_of(rill_session_store_find(ss, a, 30, 24)), "a@20,30=s2");
    assert_string_equal(sessions_of(rill_session_store_find(ss, a, 7, 7)), "a@7,7=point a@0,10=s1");
    assert_string_equal(sessions_of(rill_session_store_find(ss, a, INT64_MIN, INT64_MAX)),
                        "a@7,7=point a@0,10=s1 a@20,30=s2 a@25,30=s2b a@40,150=s3 a@200,210=s4");
    /* Only the exact key. */
    assert_string_equal(sessions_of(rill_session_store_find(ss, a0x, 0, 1000)), "a\\x00x@20,30=p");
    assert_string_equal(sessions_of(rill_session_store_find(ss, b, 0, 1000)), "b@20,30=q");
    assert_string_equal(sessions_of(rill_session_store_find(ss, view("", 0), 0, 1000)), "");
    assert_string_equal(sessions_of(rill_session_store_find(ss, view("a\0", 2), 0, 1000)), "");

    /* By segment, then layout ("a\0x" + end sorts before "a" + end). */
    assert_string_equal(sessions_of(rill_session_store_all(ss)),
                        "a\\x00x@20,30=p a@7,7=point a@0,10=s1 a@20,30=s2 a@25,30=s2b b@20,30=q "
                        "a@40,150=s3 a@200,210=s4");

    /* Remove: a null value. */
    assert_int_equal(rill_session_store_put(ss, a, 20, 30, view(NULL, 0)), 0);
    assert_sget(ss, a, 20, 30, NULL);
    assert_sget(ss, a, 25, 30, "s2b");
    assert_string_equal(sessions_of(rill_session_store_find(ss, a, 15, 45)),
                        "a@25,30=s2b a@40,150=s3");
    assert_int_equal(rill_session_store_put(ss, a, 20, 30, view(NULL, 0)), 0);
    assert_int_equal(rill_session_store_put(ss, a, 5000, 6000, view(NULL, 0)), 0);

    /* Negative times. */
    sput_ok(ss, b, -300, -150, "neg");
    assert_string_equal(sessions_of(rill_session_store_find(ss, b, -200, -200)), "b@-300,-150=neg");
    assert_int_equal(rill_session_store_flush(ss), 0);
    rill_session_store_close(ss);
}

static void test_session_expiry(void **state)
{
    fixture_t *f = *state;
    rill_session_store_t *ss = open_ss(f, 200, 100);
    sput_ok(ss, str("a"), 0, 10, "s0");
    sput_ok(ss, str("a"), 50, 150, "s1");
    sput_ok(ss, str("c"), 200, 240, "c");
    sput_ok(ss, str("d"), 260, 299, "d");
    if (rocksdb(f)) {
        assert_true(segment_dir_exists(f, 0));
        assert_true(segment_dir_exists(f, 1));
        assert_true(segment_dir_exists(f, 2));
    }
    /* Observed 299: live from end 99, so s0 has expired, though segment 0 lives on. */
    assert_string_equal(sessions_of(rill_session_store_find(ss, str("a"), 0, 1000)), "a@50,150=s1");
    assert_sget(ss, str("a"), 0, 10, NULL);

    /* The observed time is the largest end, 450: live from end 250. Segments 0 and 1 go; 2
     * ([200, 300)) stays, c in it expired and d not. */
    sput_ok(ss, str("b"), 300, 450, "b");
    if (rocksdb(f)) {
        assert_false(segment_dir_exists(f, 0));
        assert_false(segment_dir_exists(f, 1));
        assert_true(segment_dir_exists(f, 2));
        assert_true(segment_dir_exists(f, 4));
    }
    assert_sget(ss, str("a"), 50, 150, NULL);
    assert_sget(ss, str("c"), 200, 240, NULL);
    assert_sget(ss, str("d"), 260, 299, "d");
    assert_string_equal(sessions_of(rill_session_store_find(ss, str("c"), 0, 1000)), "");
    assert_string_equal(sessions_of(rill_session_store_find(ss, str("a"), 0, 1000)), "");
    assert_string_equal(sessions_of(rill_session_store_find(ss, str("d"), 0, 1000)), "d@260,299=d");
    assert_string_equal(sessions_of(rill_session_store_all(ss)), "d@260,299=d b@300,450=b");

    /* Expired ends are refused (the bound itself is live); an old start with a live end is
     * fine. */
    assert_int_equal(rill_session_store_put(ss, str("a"), 0, 249, str("x")), RILL_ENOENT);
    assert_int_equal(rill_session_store_put(ss, str("c"), 200, 240, view(NULL, 0)), RILL_ENOENT);
    sput_ok(ss, str("a"), 0, 250, "long");
    assert_string_equal(sessions_of(rill_session_store_find(ss, str("a"), 0, 1000)),
                        "a@0,250=long");
    rill_session_store_close(ss);
}

static void test_session_reopen(void **state)
{
    fixture_t *f = *state;
    rill_session_store_t *ss = open_ss(f, 1000, 100);
    sput_ok(ss, str("a"), 0, 10, "s0");
    sput_ok(ss, str("a"), 90, 110, "s1");
    rill_session_store_close(ss);
    ss = open_ss(f, 1000, 100);
    assert_sget(ss, str("a"), 90, 110, "s1");
    assert_string_equal(sessions_of(rill_session_store_find(ss, str("a"), 5, 100)),
                        "a@0,10=s0 a@90,110=s1");
    rill_session_store_close(ss);
}

/* ---- A reader thread racing the owner ---- */

/* The reader makes one pass per write it has not yet seen, so its work is bounded by the writer's
 * (a free-running reader starves the writer under valgrind, which runs one thread at a time);
 * each pass still races the writes that follow it. */
typedef struct {
    rill_window_store_t *ws;
    pthread_mutex_t lock;
    pthread_cond_t wrote;
    long writes; /* under lock */
    bool stop;   /* under lock */
    long seen, passes;
} race_t;

static void *reader_main(void *arg)
{
    race_t *race = arg;
    long done = 0;
    for (;;) {
        pthread_mutex_lock(&race->lock);
        while (race->writes == done && !race->stop)
            pthread_cond_wait(&race->wrote, &race->lock);
        bool last = race->stop; /* one more pass after the owner stops */
        done = race->writes;
        pthread_mutex_unlock(&race->lock);
        rill_window_iter_t *it = rill_window_store_all(race->ws);
        if (it) {
            rill_buf_t key, value;
            int64_t start, prev = INT64_MIN;
            while (rill_window_iter_next(it, &key, &start, &value)) {
                /* Each value is its start, and starts ascend (one key, segments in order). */
                char want[32];
                snprintf(want, sizeof want, "%" PRId64, start);
                if (value.len != strlen(want) || memcmp(value.data, want, value.len) != 0 ||
                    start <= prev)
                    abort();
                prev = start;
                race->seen++;
            }
            rill_window_iter_close(it);
            race->passes++;
        }
        if (last)
            return NULL;
    }
}

static void race_set(race_t *race, bool stop)
{
    pthread_mutex_lock(&race->lock);
    race->writes++;
    race->stop = stop;
    pthread_cond_signal(&race->wrote);
    pthread_mutex_unlock(&race->lock);
}

static void test_window_reader_thread(void **state)
{
    fixture_t *f = *state;
    race_t race = {.ws = open_ws(f, 200, 50)};
    pthread_mutex_init(&race.lock, NULL);
    pthread_cond_init(&race.wrote, NULL);
    pthread_t reader;
    assert_int_equal(pthread_create(&reader, NULL, reader_main, &race), 0);
    /* Segments come and go all along: 600 of them in memory, 6 in RocksDB (slow to open under
     * valgrind). */
    int64_t end = rocksdb(f) ? 300 : 30000, step = rocksdb(f) ? 1 : 3;
    for (int64_t t = 0; t < end; t += step) {
        char v[32];
        snprintf(v, sizeof v, "%" PRId64, t);
        put_ok(race.ws, str("k"), t, v);
        race_set(&race, false);
    }
    race_set(&race, true);
    assert_int_equal(pthread_join(reader, NULL), 0);
    assert_true(race.passes > 0);
    assert_true(race.seen > 0);
    pthread_cond_destroy(&race.wrote);
    pthread_mutex_destroy(&race.lock);
    rill_window_store_close(race.ws);
    if (rocksdb(f)) {
        assert_false(segment_dir_exists(f, 0));
        assert_true(segment_dir_exists(f, 5));
    }
}

/* Transactional (exactly-once): writes wait for the commit in every segment, even in segments
 * made meanwhile; the store's offset is the smallest its segments record, and a segment made
 * after the last commit with an offset takes that offset at the next commit. */
static void test_window_transactional(void **state)
{
    fixture_t *f = *state;
    rill_window_store_t *ws = open_ws(f, 1000, 100);
    assert_int_equal(rill_window_store_committed_offset(ws), -1); /* no segments */
    assert_int_equal(rill_window_store_set_transactional(ws), 0);
    put_ok(ws, str("a"), 50, "50");
    put_ok(ws, str("a"), 150, "150");
    assert_get(ws, str("a"), 150, "150"); /* the owner reads its pending writes */
    assert_int_equal(rill_window_store_commit(ws, 10), 0);
    assert_int_equal(rill_window_store_committed_offset(ws), 10);
    put_ok(ws, str("b"), 250, "250"); /* a new segment */
    assert_int_equal(rill_window_store_commit(ws, -1), 0);
    assert_int_equal(rill_window_store_committed_offset(ws), 10);
    put_ok(ws, str("c"), 260, "260"); /* never committed */
    assert_string_equal(windows_of(rill_window_store_all(ws)),
                        "a@50=50 a@150=150 b@250=250 c@260=260");
    rill_window_store_close(ws);

    ws = open_ws(f, 1000, 100);
    assert_string_equal(windows_of(rill_window_store_all(ws)), "a@50=50 a@150=150 b@250=250");
    assert_int_equal(rill_window_store_committed_offset(ws), 10);
    rill_window_store_close(ws);

    rill_session_store_t *ss = open_ss(f, 1000, 100);
    assert_int_equal(rill_session_store_set_transactional(ss), 0);
    assert_int_equal(rill_session_store_commit(ss, 12), 0);
    assert_int_equal(rill_session_store_committed_offset(ss), 12); /* the window's segments */
    rill_session_store_close(ss);
}

/* ---- Failures ---- */

/* A segment whose store cannot be opened fails the put with RILL_EIO and changes nothing. */
static void test_segment_open_fails(void **state)
{
    fixture_t *f = *state;
    rill_set_log_cb(quiet_log, NULL, RILL_LOG_DEBUG);
    rill_window_store_t *ws = open_ws(f, 1000, 50);
    put_ok(ws, str("a"), 10, "10");
    char p[256];
    snprintf(p, sizeof p, "%s/1", f->path); /* segment 1 is a file, not a directory */
    FILE *file = fopen(p, "w");
    assert_non_null(file);
    fclose(file);
    assert_int_equal(rill_window_store_put(ws, str("a"), 60, str("60")), RILL_EIO);
    assert_true(rill_window_store_observed_time(ws) == 10);
    assert_get(ws, str("a"), 10, "10");
    assert_get(ws, str("a"), 60, NULL);
    assert_string_equal(windows_of(rill_window_store_all(ws)), "a@10=10");
    assert_int_equal(remove(p), 0);
    put_ok(ws, str("a"), 60, "60");
    assert_string_equal(windows_of(rill_window_store_all(ws)), "a@10=10 a@60=60");
    rill_window_store_close(ws);

    /* A path that is not a directory fails the open, naming the path. */
    snprintf(p, sizeof p, "%s/file", f->dir);
    file = fopen(p, "w");
    assert_non_null(file);
    fclose(file);
    char err[512] = "";
    assert_null(rill_window_store_open(f->backend, f->env, p, 100, 10, err, sizeof err));
    assert_non_null(strstr(err, p));
    assert_null(rill_session_store_open(f->backend, f->env, p, 100, 10, err, sizeof err));
    assert_non_null(strstr(err, "session store"));
}

/* ---- Versioned stores ---- */

static rill_versioned_store_t *open_vs(fixture_t *f, int64_t retention, int64_t segment)
{
    char err[256] = "";
    rill_versioned_store_t *vs =
        rill_versioned_store_open(f->backend, f->env, f->path, retention, segment, err, sizeof err);
    if (!vs)
        fail_msg("rill_versioned_store_open: %s", err);
    return vs;
}

/* Whether the scenario running has every value replaced by the empty one (a value still). */
static bool values_emptied;

/* A value of a step: NULL is a tombstone. */
static rill_buf_t vstr(const char *s)
{
    return s ? str(values_emptied ? "" : s) : view(NULL, 0);
}

/* One step of a scenario. */
typedef enum {
    V_PUT,      /* put value (NULL: tombstone) at ts: applied; a value then reads back [ts, vt) */
    V_NOT_PUT,  /* put refused as too old (RILL_ENOENT) */
    V_AT,       /* get_as_of(ts) gives value [vf, vt), or none when value is NULL */
    V_LATEST,   /* get gives value from vf, or none when value is NULL */
    V_OBSERVED, /* observed time is ts */
} vop_t;

typedef struct {
    vop_t op;
    const char *key, *value;
    int64_t ts, vf, vt;
} vstep_t;

#define OPEN RILL_VERSION_OPEN
/* clang-format off */
#define PUT(k, v, ts, vt)    {V_PUT, k, v, ts, ts, vt}
#define TOMB(k, ts)          {V_PUT, k, NULL, ts, 0, 0}
#define NOT_PUT(k, v, ts)    {V_NOT_PUT, k, v, ts, 0, 0}
#define AT(k, ts, v, vf, vt) {V_AT, k, v, ts, vf, vt}
#define AT_NONE(k, ts)       {V_AT, k, NULL, ts, 0, 0}
#define LATEST(k, v, vf)     {V_LATEST, k, v, 0, vf, OPEN}
#define LATEST_NONE(k)       {V_LATEST, k, NULL, 0, 0, 0}
#define OBSERVED(ts)         {V_OBSERVED, "", NULL, ts, 0, 0}
/* clang-format on */

static void assert_version(int rc, rill_buf_t value, int64_t vf, int64_t vt, const vstep_t *s,
                           size_t i)
{
    const char *want = s->value && values_emptied ? "" : s->value;
    if (!want) {
        if (rc != RILL_ENOENT)
            fail_msg("step %zu (%s @%" PRId64 "): want none, got %s", i, s->key, s->ts,
                     rill_err_name(rc));
        return;
    }
    if (rc != 0)
        fail_msg("step %zu (%s @%" PRId64 "): want %s, got %s", i, s->key, s->ts, want,
                 rill_err_name(rc));
    if (value.len != strlen(want) || (value.len && memcmp(value.data, want, value.len)) ||
        vf != s->vf || vt != s->vt || !value.data)
        fail_msg("step %zu (%s @%" PRId64 "): want %s [%" PRId64 ",%" PRId64 "), got %.*s [%" PRId64
                 ",%" PRId64 ")",
                 i, s->key, s->ts, want, s->vf, s->vt, (int)value.len,
                 value.data ? (const char *)value.data : "", vf, vt);
}

/* Runs steps; with batch, the puts go through rill_versioned_store_write_batch, one batch per run
 * of puts (a changelog restore), and their read-backs are skipped. */
static void run_steps(rill_versioned_store_t *vs, const vstep_t *steps, size_t n, bool batch)
{
    for (size_t i = 0; i < n; i++) {
        const vstep_t *s = &steps[i];
        rill_buf_t value = {"junk", 4};
        int64_t vf = 0, vt = 0;
        int rc;
        if (batch && (s->op == V_PUT || s->op == V_NOT_PUT)) {
            rill_versioned_write_t w[64];
            bool applied[64];
            size_t m = 0;
            while (i + m < n && m < 64 &&
                   (steps[i + m].op == V_PUT || steps[i + m].op == V_NOT_PUT)) {
                w[m] = (rill_versioned_write_t){str(steps[i + m].key), vstr(steps[i + m].value),
                                                steps[i + m].ts};
                m++;
            }
            assert_int_equal(rill_versioned_store_write_batch(vs, w, m, applied), 0);
            for (size_t j = 0; j < m; j++)
                if (applied[j] != (steps[i + j].op == V_PUT))
                    fail_msg("batch step %zu: applied %d", i + j, applied[j]);
            i += m - 1;
            continue;
        }
        switch (s->op) {
        case V_PUT:
            rc = rill_versioned_store_put(vs, str(s->key), vstr(s->value), s->ts);
            if (rc != 0)
                fail_msg("step %zu: put %s @%" PRId64 ": %s", i, s->key, s->ts, rill_err_name(rc));
            if (s->value) {
                rc = rill_versioned_store_get_as_of(vs, str(s->key), s->ts, &value, &vf, &vt);
                assert_version(rc, value, vf, vt, s, i);
            }
            break;
        case V_NOT_PUT:
            rc = rill_versioned_store_put(vs, str(s->key), vstr(s->value), s->ts);
            if (rc != RILL_ENOENT)
                fail_msg("step %zu: put %s @%" PRId64 " not refused: %s", i, s->key, s->ts,
                         rill_err_name(rc));
            break;
        case V_AT:
            rc = rill_versioned_store_get_as_of(vs, str(s->key), s->ts, &value, &vf, &vt);
            assert_version(rc, value, vf, vt, s, i);
            break;
        case V_LATEST:
            rc = rill_versioned_store_get(vs, str(s->key), &value, &vf);
            assert_version(rc, value, vf, OPEN, s, i);
            break;
        case V_OBSERVED:
            if (rill_versioned_store_observed_time(vs) != s->ts)
                fail_msg("step %zu: observed %" PRId64 ", want %" PRId64, i,
                         rill_versioned_store_observed_time(vs), s->ts);
            break;
        }
    }
}

/*
 * Scenarios ported from Kafka Streams' RocksDBVersionedStoreTest (apache/kafka,
 * streams/src/test/java/org/apache/kafka/streams/state/internals/RocksDBVersionedStoreTest.java):
 * each table is the test of the same name, with its history retention (300 s), segment interval
 * (100 s) and base timestamp (10). Where the original checks put()'s returned valid_to, PUT
 * checks the valid_to the version reads back with right after the put (Rill's put returns 0).
 */
#define HR 300000
#define SI 100000
#define BT 10

/* shouldPutLatest */
static const vstep_t put_latest[] = {
    PUT("k", "v", BT, OPEN),
    PUT("k", "v2", BT + 1, OPEN),
    LATEST("k", "v2", BT + 1),
    AT("k", BT, "v", BT, BT + 1),
    AT("k", BT + 1, "v2", BT + 1, OPEN),
    AT("k", BT + 2, "v2", BT + 1, OPEN),
};
/* shouldPutNullAsLatest */
static const vstep_t put_null_as_latest[] = {
    TOMB("k", BT),    TOMB("k", BT + 1),    LATEST_NONE("k"),
    AT_NONE("k", BT), AT_NONE("k", BT + 1), AT_NONE("k", BT + 2),
};
/* shouldPutOlderWithNonNullLatest */
static const vstep_t put_older_non_null_latest[] = {
    PUT("k", "v", BT, OPEN),
    PUT("k", "v2", BT - 2, BT),
    PUT("k", "v1", BT - 1, BT),
    PUT("k", "v4", BT - 4, BT - 2),
    LATEST("k", "v", BT),
    AT("k", BT, "v", BT, OPEN),
    AT("k", BT - 1, "v1", BT - 1, BT),
    AT("k", BT - 2, "v2", BT - 2, BT - 1),
    AT("k", BT - 3, "v4", BT - 4, BT - 2),
};
/* shouldPutOlderWithNullLatest */
static const vstep_t put_older_null_latest[] = {
    TOMB("k", BT),
    PUT("k", "v2", BT - 2, BT),
    PUT("k", "v1", BT - 1, BT),
    PUT("k", "v4", BT - 4, BT - 2),
    LATEST_NONE("k"),
    AT_NONE("k", BT),
    AT("k", BT - 1, "v1", BT - 1, BT),
    AT("k", BT - 2, "v2", BT - 2, BT - 1),
    AT("k", BT - 3, "v4", BT - 4, BT - 2),
};
/* The history before BT that shouldPutOlderNullWithNonNullLatest and
 * shouldPutOlderNullWithNullLatest end with. */
static const vstep_t ends_v3_v5[] = {
    AT_NONE("k", BT - 1),
    AT_NONE("k", BT - 2),
    AT("k", BT - 3, "v3", BT - 3, BT - 2),
    AT_NONE("k", BT - 4),
    AT("k", BT - 5, "v5", BT - 5, BT - 4),
    AT_NONE("k", BT - 6),
};
/* shouldPutOlderNullWithNonNullLatest */
static const vstep_t put_older_null_non_null_latest[] = {
    PUT("k", "v", BT, OPEN),
    TOMB("k", BT - 2),
    TOMB("k", BT - 1),
    TOMB("k", BT - 4),
    PUT("k", "v5", BT - 5, BT - 4),
    PUT("k", "v3", BT - 3, BT - 2),
    TOMB("k", BT - 6),
    LATEST("k", "v", BT),
    AT("k", BT, "v", BT, OPEN),
};
/* shouldPutOlderNullWithNullLatest */
static const vstep_t put_older_null_null_latest[] = {
    TOMB("k", BT),
    TOMB("k", BT - 2),
    TOMB("k", BT - 1),
    TOMB("k", BT - 4),
    PUT("k", "v3", BT - 3, BT - 2),
    PUT("k", "v5", BT - 5, BT - 4),
    TOMB("k", BT - 6),
    LATEST_NONE("k"),
    AT_NONE("k", BT),
};
/* shouldPutRepeatTimestampAsLatest */
static const vstep_t put_repeat_ts_as_latest[] = {
    PUT("k", "to_be_replaced", BT, OPEN),
    PUT("k", "b", BT, OPEN),
    LATEST("k", "b", BT),
    AT("k", BT, "b", BT, OPEN),
    AT_NONE("k", BT - 1),
    TOMB("k", BT),
    LATEST_NONE("k"),
    AT_NONE("k", BT),
    AT_NONE("k", BT - 1),
    TOMB("k", BT),
    LATEST_NONE("k"),
    AT_NONE("k", BT),
    AT_NONE("k", BT - 1),
    PUT("k", "b", BT, OPEN),
    LATEST("k", "b", BT),
    AT("k", BT, "b", BT, OPEN),
    AT_NONE("k", BT - 1),
};
/* The state that shouldPutRepeatTimestamps, shouldMoveRecordToOlderSegmentWithNullsDuringPut and
 * shouldDistinguishEmptyAndNull (the latter with every value empty) end in. */
static const vstep_t ends_vp5_vn5_vn6[] = {
    LATEST_NONE("k"),
    AT_NONE("k", SI + 30),
    AT_NONE("k", SI + 15),
    AT("k", SI + 6, "vp5", SI + 5, SI + 10),
    AT_NONE("k", SI + 2),
    AT_NONE("k", SI),
    AT_NONE("k", SI - 1),
    AT("k", SI - 5, "vn5", SI - 5, SI - 1),
    AT("k", SI - 6, "vn6", SI - 6, SI - 5),
    AT_NONE("k", SI - 8),
};
/* shouldPutRepeatTimestamps (also shouldRestoreWithNullsAndRepeatTimestamps, through a batch) */
static const vstep_t put_repeat_ts[] = {
    PUT("k", "to_be_replaced", SI + 20, OPEN),
    TOMB("k", SI - 10),
    PUT("k", "to_be_replaced", SI - 10, SI + 20),
    TOMB("k", SI - 10),
    PUT("k", "to_be_replaced", SI - 1, SI + 20),
    PUT("k", "to_be_replaced", SI + 1, SI + 20),
    TOMB("k", SI - 1),
    TOMB("k", SI + 1),
    TOMB("k", SI + 10),
    TOMB("k", SI + 5),
    PUT("k", "vp5", SI + 5, SI + 10),
    PUT("k", "to_be_replaced", SI - 5, SI - 1),
    PUT("k", "vn5", SI - 5, SI - 1),
    TOMB("k", SI + 20),
    TOMB("k", SI + 20),
    PUT("k", "vn6", SI - 6, SI - 5),
};
/* shouldPutIntoMultipleSegments (also shouldRestoreMultipleBatches) */
static const vstep_t put_multiple_segments[] = {
    TOMB("k", SI - 20),
    PUT("k", "vn10", SI - 10, OPEN),
    TOMB("k", SI - 1),
    TOMB("k", SI + 1),
    PUT("k", "vp10", SI + 10, OPEN),
    TOMB("k", SI + 20),
    LATEST_NONE("k"),
    AT_NONE("k", SI + 30),
    AT("k", SI + 15, "vp10", SI + 10, SI + 20),
    AT_NONE("k", SI + 5),
    AT_NONE("k", SI + 2),
    AT_NONE("k", SI),
    AT_NONE("k", SI - 1),
    AT("k", SI - 5, "vn10", SI - 10, SI - 1),
    AT_NONE("k", SI - 15),
};
/* The first puts of shouldMoveRecordToOlderSegmentDuringPut and shouldDelete. */
static const vstep_t four_versions[] = {
    PUT("k", "vp20", SI + 20, OPEN),
    PUT("k", "vp10", SI + 10, SI + 20),
    PUT("k", "vn10", SI - 10, SI + 10),
    PUT("k", "vn2", SI - 2, SI + 10),
};
/* shouldMoveRecordToOlderSegmentDuringPut (also shouldRestore), after four_versions */
static const vstep_t move_to_older_segment[] = {
    PUT("k", "vn1", SI - 1, SI + 10),
    PUT("k", "vp1", SI + 1, SI + 10),
    LATEST("k", "vp20", SI + 20),
    AT("k", SI + 30, "vp20", SI + 20, OPEN),
    AT("k", SI + 15, "vp10", SI + 10, SI + 20),
    AT("k", SI + 5, "vp1", SI + 1, SI + 10),
    AT("k", SI, "vn1", SI - 1, SI + 1),
    AT("k", SI - 1, "vn1", SI - 1, SI + 1),
    AT("k", SI - 2, "vn2", SI - 2, SI - 1),
    AT("k", SI - 5, "vn10", SI - 10, SI - 2),
};
/* shouldMoveRecordToOlderSegmentWithNullsDuringPut (also shouldRestoreWithNulls, and with every
 * value empty shouldDistinguishEmptyAndNull: an empty value is a value, not a tombstone) */
static const vstep_t move_to_older_segment_nulls[] = {
    TOMB("k", SI + 20),
    TOMB("k", SI - 1),
    TOMB("k", SI + 1),
    TOMB("k", SI - 10),
    TOMB("k", SI + 10),
    PUT("k", "vp5", SI + 5, SI + 10),
    PUT("k", "vn5", SI - 5, SI - 1),
    PUT("k", "vn6", SI - 6, SI - 5),
};
/* shouldFallThroughToExistingOlderSegmentAsLatestDuringPut */
static const vstep_t fall_through_older_segment[] = {
    TOMB("k", SI - 5),
    PUT("k", "vn6", SI - 6, SI - 5),
    PUT("k", "vp20", SI + 20, OPEN),
    TOMB("k", SI + 10),
    TOMB("k", SI - 1),
    PUT("k", "vn2", SI - 2, SI - 1),
    LATEST("k", "vp20", SI + 20),
    AT("k", SI + 30, "vp20", SI + 20, OPEN),
    AT_NONE("k", SI + 12),
    AT_NONE("k", SI),
    AT_NONE("k", SI - 1),
    AT("k", SI - 2, "vn2", SI - 2, SI - 1),
    AT_NONE("k", SI - 5),
    AT("k", SI - 6, "vn6", SI - 6, SI - 5),
};
/* shouldPutNonLatestTombstoneIntoNewSegmentWithValidTo */
static const vstep_t non_latest_tombstone[] = {
    PUT("k", "vp30", SI + 30, OPEN),
    TOMB("k", SI - 10),
    PUT("k", "vn5", SI - 5, SI + 30),
    PUT("k", "vn1", SI - 1, SI + 30),
    TOMB("k", SI - 2),
    LATEST("k", "vp30", SI + 30),
    AT("k", SI + 10, "vn1", SI - 1, SI + 30),
    AT("k", SI - 1, "vn1", SI - 1, SI + 30),
    AT_NONE("k", SI - 2),
    AT("k", SI - 5, "vn5", SI - 5, SI - 2),
    AT_NONE("k", SI - 10),
};
/* shouldDelete, after four_versions: Rill's delete returns 0, not the version deleted; the reads
 * check its effect. */
static const vstep_t delete_steps[] = {
    TOMB("k", SI - 5),
    AT("k", SI - 6, "vn10", SI - 10, SI - 5),
    AT_NONE("k", SI - 5),
    AT_NONE("k", SI - 3),
    TOMB("k", SI + 10),
    AT_NONE("k", SI + 10),
    TOMB("k", SI + 10),
    AT_NONE("k", SI + 15),
    AT("k", SI + 9, "vn2", SI - 2, SI + 10),
    TOMB("k", SI + 25),
    LATEST_NONE("k"),
    AT("k", SI + 24, "vp20", SI + 20, SI + 25),
    AT_NONE("k", SI + 25),
};
/* shouldNotPutExpired (also shouldNotRestoreExpired) */
static const vstep_t not_put_expired[] = {
    PUT("k", "v", HR + 10, OPEN), PUT("k1", "v1", 10, OPEN), /* HR + 10 - grace: grace has not
                                                                elapsed */
    LATEST("k1", "v1", 10),       NOT_PUT("k2", "v2", 9),    LATEST_NONE("k2"), OBSERVED(HR + 10),
};
/* shouldNotDeleteExpired */
static const vstep_t not_delete_expired[] = {
    PUT("k1", "v1", 1, OPEN), PUT("k2", "v2", 1, OPEN), PUT("kother", "vother", HR + 10, OPEN),
    TOMB("k1", 10), /* grace has not elapsed */
    LATEST_NONE("k1"),        AT_NONE("k1", 10),        NOT_PUT("k2", NULL, 9),
    LATEST("k2", "v2", 1),
};
/* shouldGetFromOlderSegments */
static const vstep_t get_from_older_segments[] = {
    TOMB("ko", SI - 10),
    TOMB("ko", 2 * SI - 10),
    TOMB("ko", 3 * SI - 10),
    AT_NONE("k", SI - 20),
    PUT("k", "v", SI - 20, OPEN),
    TOMB("k", SI - 10),
    AT_NONE("k", SI - 30),
    AT("k", SI - 15, "v", SI - 20, SI - 10),
    AT_NONE("k", SI - 5),
    PUT("k", "v2", 3 * SI - 20, OPEN),
    TOMB("k", 3 * SI - 10),
    AT_NONE("k", SI - 30),
    AT("k", SI - 15, "v", SI - 20, SI - 10),
    AT_NONE("k", SI - 5),
};
/* shouldNotGetExpired */
static const vstep_t not_get_expired[] = {
    PUT("k", "v_old", 0, OPEN),
    PUT("k", "v", SI - 10, OPEN),
    AT("k", SI - 11, "v_old", 0, SI - 10),
    PUT("ko", "vo", HR + SI - 11, OPEN),
    AT("k", SI - 11, "v_old", 0, SI - 10),
    PUT("ko", "vo2", HR + SI - 10, OPEN),
    AT_NONE("k", SI - 11),
};
/* shouldGetExpiredIfLatestValue */
static const vstep_t get_expired_if_latest[] = {
    PUT("k", "v", 1, OPEN),
    PUT("ko", "vo_old", 1, OPEN),
    PUT("ko", "vo_new", HR + 12, OPEN),
    AT("k", 10, "v", 1, OPEN),
    AT_NONE("ko", 10),
};
/* shouldRestoreEvenIfRecordWouldBeExpiredByEndOfBatch */
static const vstep_t restore_expired_by_end[] = {
    PUT("k2", "v2", 0, OPEN),
    PUT("k", "v", HR + 10, OPEN),
    LATEST("k2", "v2", 0),
    LATEST("k", "v", HR + 10),
};
/* shouldAllowZeroHistoryRetention (retention 0) */
static const vstep_t zero_retention[] = {
    PUT("k", "v", BT, OPEN),
    LATEST("k", "v", BT),
    AT("k", BT, "v", BT, OPEN),
    AT("k", BT + 1, "v", BT, OPEN),
    PUT("k", "updated", BT, OPEN),
    LATEST("k", "updated", BT),
    PUT("k", "v2", BT + 2, OPEN),
    LATEST("k", "v2", BT + 2),
    AT_NONE("k", BT + 1),
    TOMB("k", BT + 3),
    LATEST_NONE("k"),
    NOT_PUT("k2", "v", BT + 2),
};

typedef struct {
    const char *name;
    /* pre: the puts several scenarios start with; checks: the reads several end with (or NULL) */
    const vstep_t *pre, *steps, *checks;
    size_t npre, n, nchecks;
    int64_t retention;
    bool batch;   /* also run as a restore: the puts through write batches */
    bool emptied; /* run with every value empty */
} vscenario_t;

/* clang-format off */
#define SCENARIO(steps, retention, batch) \
    {#steps, NULL, steps, NULL, 0, N_ELEMS(steps), 0, retention, batch, false}
#define ENDING(steps, checks, batch, emptied) \
    {#steps, NULL, steps, checks, 0, N_ELEMS(steps), N_ELEMS(checks), HR, batch, emptied}
#define AFTER(pre, steps, batch) \
    {#steps, pre, steps, NULL, N_ELEMS(pre), N_ELEMS(steps), 0, HR, batch, false}
/* clang-format on */

static const vscenario_t ks_scenarios[] = {
    SCENARIO(put_latest, HR, false),
    SCENARIO(put_null_as_latest, HR, false),
    SCENARIO(put_older_non_null_latest, HR, false),
    SCENARIO(put_older_null_latest, HR, false),
    ENDING(put_older_null_non_null_latest, ends_v3_v5, false, false),
    ENDING(put_older_null_null_latest, ends_v3_v5, false, false),
    SCENARIO(put_repeat_ts_as_latest, HR, false),
    ENDING(put_repeat_ts, ends_vp5_vn5_vn6, true, false),
    SCENARIO(put_multiple_segments, HR, true),
    AFTER(four_versions, move_to_older_segment, true),
    ENDING(move_to_older_segment_nulls, ends_vp5_vn5_vn6, true, false),
    ENDING(move_to_older_segment_nulls, ends_vp5_vn5_vn6, false, true),
    SCENARIO(fall_through_older_segment, HR, false),
    SCENARIO(non_latest_tombstone, HR, false),
    AFTER(four_versions, delete_steps, false),
    SCENARIO(not_put_expired, HR, true),
    SCENARIO(not_delete_expired, HR, false),
    SCENARIO(get_from_older_segments, HR, false),
    SCENARIO(not_get_expired, HR, false),
    SCENARIO(get_expired_if_latest, HR, false),
    SCENARIO(restore_expired_by_end, HR, true),
    SCENARIO(zero_retention, 0, false),
};

static void test_versioned_kafka_streams_scenarios(void **state)
{
    fixture_t *f = *state;
    if (f->skip_under_valgrind)
        skip();
    for (size_t i = 0; i < N_ELEMS(ks_scenarios); i++) {
        const vscenario_t *sc = &ks_scenarios[i];
        for (int batch = 0; batch <= (int)sc->batch; batch++) {
            print_message("  %s%s%s\n", sc->name, batch ? " (restore)" : "",
                          sc->emptied ? " (empty values)" : "");
            values_emptied = sc->emptied;
            rill_versioned_store_t *vs = open_vs(f, sc->retention, SI);
            if (sc->pre)
                run_steps(vs, sc->pre, sc->npre, batch);
            run_steps(vs, sc->steps, sc->n, batch);
            if (sc->checks)
                run_steps(vs, sc->checks, sc->nchecks, false);
            values_emptied = false;
            rill_versioned_store_close(vs);
            if (rocksdb(f))
                assert_int_equal(rill_store_wipe(f->path), 0);
        }
    }
}

/* Out-of-order puts into the middle of a history that spans several segments, a get as of every
 * millisecond checked against the model (the event with the largest timestamp <= t). */
static void test_versioned_middle_of_history(void **state)
{
    fixture_t *f = *state;
    if (f->skip_under_valgrind)
        skip();
    rill_versioned_store_t *vs = open_vs(f, 1000, 10);
    /* Events (ts, value or tombstone) put in a scrambled order. */
    static const struct {
        int64_t ts;
        const char *v;
    } ev[] = {
        {50, "50"}, {5, "5"},   {31, NULL}, {17, "17"},  {44, "44"}, {12, NULL}, {29, "29"},
        {3, "3"},   {38, "38"}, {21, NULL}, {17, "17b"}, {60, NULL}, {55, "55"}, {31, "31"},
    };
    for (size_t i = 0; i < N_ELEMS(ev); i++)
        assert_int_equal(rill_versioned_store_put(vs, str("k"), vstr(ev[i].v), ev[i].ts), 0);
    /* The model: the last value put at each ts wins. */
    for (int64_t t = -2; t < 70; t++) {
        int64_t best = INT64_MIN, next = OPEN;
        const char *want = NULL;
        for (size_t i = 0; i < N_ELEMS(ev); i++) {
            if (ev[i].ts <= t && ev[i].ts >= best) {
                best = ev[i].ts;
                want = ev[i].v;
            }
            if (ev[i].ts > t && ev[i].ts < next)
                next = ev[i].ts;
        }
        vstep_t s = AT("k", t, want, best, next);
        rill_buf_t value;
        int64_t vf, vt;
        int rc = rill_versioned_store_get_as_of(vs, str("k"), t, &value, &vf, &vt);
        assert_version(rc, value, vf, vt, &s, (size_t)t);
    }
    rill_buf_t value;
    assert_int_equal(rill_versioned_store_get(vs, str("k"), &value, NULL), RILL_ENOENT);
    rill_versioned_store_close(vs);
}

/* History retention bounds the history: segments whose versions all ended before observed -
 * retention go (RocksDB: their directories too), reads past retention see the latest only, and
 * the newest version of a key is kept however old. */
static void test_versioned_expiry(void **state)
{
    fixture_t *f = *state;
    if (f->skip_under_valgrind)
        skip();
    rill_versioned_store_t *vs = open_vs(f, 100, 50);
    static const vstep_t steps[] = {
        PUT("a", "a0", 0, OPEN),
        PUT("a", "a60", 60, OPEN),   /* a0 [0, 60) goes to segment 1 */
        PUT("a", "a120", 120, OPEN), /* a60 [60, 120) to segment 2 */
        PUT("old", "o", 25, OPEN),   /* the latest of its key from now on */
        AT("a", 20, "a0", 0, 60),    /* observed 120: live from 20 */
        PUT("b", "b", 170, OPEN),    /* observed 170: live from 70 */
        AT_NONE("a", 20),            /* a0 ended at 60 < 70: gone */
        AT("a", 70, "a60", 60, 120),
        NOT_PUT("a", "late", 69),
        AT("old", 150, "o", 25, OPEN),
        AT("old", 30, "o", 25, OPEN), /* past retention, but the latest */
        AT_NONE("old", 24),
        PUT("b", "b2", 400, OPEN), /* live from 300: segments 1-5 go */
        AT_NONE("a", 119),
        LATEST("a", "a120", 120),
        AT("a", 350, "a120", 120, OPEN),
        LATEST("old", "o", 25),
        AT("b", 399, "b", 170, 400),
        OBSERVED(400),
    };
    run_steps(vs, steps, 4, false);
    if (rocksdb(f)) {
        assert_true(segment_dir_exists(f, 1));
        assert_true(segment_dir_exists(f, 2));
    }
    run_steps(vs, steps + 4, N_ELEMS(steps) - 4, false);
    if (rocksdb(f)) {
        assert_false(segment_dir_exists(f, 1));
        assert_false(segment_dir_exists(f, 2));
        assert_true(segment_dir_exists(f, 8)); /* b [170, 400) */
    }
    /* A tombstone as the newest event is forgotten with its segment. */
    assert_int_equal(rill_versioned_store_delete(vs, str("a"), 410), 0);
    assert_int_equal(rill_versioned_store_put(vs, str("z"), str("z"), 700), 0);
    assert_int_equal(rill_versioned_store_get_as_of(vs, str("a"), 650, NULL, NULL, NULL),
                     RILL_ENOENT);
    if (rocksdb(f))
        assert_false(segment_dir_exists(f, 8));
    rill_versioned_store_close(vs);
}

/* A RocksDB store keeps its versions across a close and a reopen. */
static void test_versioned_reopen(void **state)
{
    fixture_t *f = *state;
    rill_versioned_store_t *vs = open_vs(f, 1000, 100);
    static const vstep_t before[] = {
        PUT("k", "v1", 50, OPEN), PUT("k", "v3", 350, OPEN), PUT("k", "v2", 150, 350),
        TOMB("k", 250),           PUT("j", "j", 10, OPEN),
    };
    run_steps(vs, before, N_ELEMS(before), false);
    assert_int_equal(rill_versioned_store_flush(vs), 0);
    rill_versioned_store_close(vs);
    vs = open_vs(f, 1000, 100);
    static const vstep_t after[] = {
        LATEST("k", "v3", 350), AT("k", 100, "v1", 50, 150),   AT("k", 200, "v2", 150, 250),
        AT_NONE("k", 300),      AT("k", 400, "v3", 350, OPEN), LATEST("j", "j", 10),
        PUT("k", "v0", 20, 50), AT("k", 20, "v0", 20, 50),
    };
    run_steps(vs, after, N_ELEMS(after), false);
    /* The observed time is a lower bound after a reopen: the newest segment's start. */
    assert_true(rill_versioned_store_observed_time(vs) == 300);
    rill_versioned_store_close(vs);
}

/* Transactional: writes wait for the commit in both parts; closing without a commit drops
 * them (RocksDB). The offset is the smaller of the two parts'. */
static void test_versioned_transactional(void **state)
{
    fixture_t *f = *state;
    rill_versioned_store_t *vs = open_vs(f, 1000, 100);
    assert_int_equal(rill_versioned_store_committed_offset(vs), -1);
    assert_int_equal(rill_versioned_store_set_transactional(vs), 0);
    static const vstep_t committed[] = {
        PUT("k", "v1", 50, OPEN), PUT("k", "v2", 150, OPEN),
        AT("k", 60, "v1", 50, 150), /* the owner reads its pending writes */
    };
    run_steps(vs, committed, N_ELEMS(committed), false);
    assert_int_equal(rill_versioned_store_commit(vs, 10), 0);
    /* Into the segment and the latest store already committed (a segment made after the last
     * commit has no offset until the next one, as in window stores: a crash before it means a
     * full restore). */
    static const vstep_t pending[] = {
        PUT("k", "v3", 180, OPEN),
        PUT("k", "vm", 120, 150),
        PUT("n", "n", 190, OPEN),
    };
    run_steps(vs, pending, N_ELEMS(pending), false);
    rill_versioned_store_close(vs);

    vs = open_vs(f, 1000, 100);
    if (rocksdb(f)) {
        assert_int_equal(rill_versioned_store_committed_offset(vs), 10);
        static const vstep_t after[] = {
            LATEST("k", "v2", 150),
            AT("k", 130, "v1", 50, 150),
            AT_NONE("k", 20),
            LATEST_NONE("n"),
        };
        run_steps(vs, after, N_ELEMS(after), false);
    } else {
        /* In memory: a new, empty store, restored in full from the changelog. */
        assert_int_equal(rill_versioned_store_committed_offset(vs), -1);
        assert_int_equal(rill_versioned_store_get(vs, str("k"), NULL, NULL), RILL_ENOENT);
    }
    assert_int_equal(rill_versioned_store_set_transactional(vs), 0);
    assert_int_equal(rill_versioned_store_commit(vs, 12), 0);
    assert_int_equal(rill_versioned_store_committed_offset(vs), rocksdb(f) ? 12 : -1);
    rill_versioned_store_close(vs);
}

/* In steady state a put or a get allocates nothing through the hook (the scratch buffers have
 * grown; RocksDB allocates with its own new, in-memory stores a node per write). */
static void test_versioned_no_allocation(void **state)
{
    fixture_t *f = *state;
    /* Ten keys, a version each per 10 ms: at most five versions of a key per 50 ms segment. */
    rill_versioned_store_t *vs = open_vs(f, 100, 50);
    char key[16], value[32];
    long before = 0;
    rill_buf_t v;
    for (int64_t t = 0; t < 2000; t++) {
        if (t == 1000)
            before = atomic_load(&n_mallocs);
        snprintf(key, sizeof key, "k%" PRId64, t % 10);
        snprintf(value, sizeof value, "value-%" PRId64, t);
        assert_int_equal(rill_versioned_store_put(vs, str(key), str(value), t), 0);
        assert_int_equal(rill_versioned_store_get(vs, str(key), &v, NULL), 0);
        if (t >= 40)
            assert_int_equal(rill_versioned_store_get_as_of(vs, str(key), t - 25, &v, NULL, NULL),
                             0);
    }
    /* Segments come and go (RocksDB: every 50 ms one opens), each an allocation or two: count
     * them out. */
    long segments = (2000 - 1000) / 50;
    if (rocksdb(f))
        assert_true(atomic_load(&n_mallocs) - before <= 4 * segments);
    rill_versioned_store_close(vs);
}

/* A put that fails part way (the Nth allocation, for every N) may leave a version in two places,
 * never in none: reads still answer as before or after it, and doing the put again (what the
 * changelog replay does) gives exactly the state of a put that never failed. */
static void test_versioned_failed_put_repaired(void **state)
{
    fixture_t *f = *state;
    rill_set_log_cb(quiet_log, NULL, RILL_LOG_DEBUG);
    static const vstep_t setup_steps[] = {
        PUT("k", "v1", 10, OPEN),
        PUT("k", "v2", 120, OPEN),
        PUT("k", "v4", 260, OPEN),
    };
    static const vstep_t after[] = {
        LATEST("k", "v5", 300),       AT("k", 300, "v5", 300, OPEN), AT("k", 270, "v4", 260, 300),
        AT("k", 200, "v3", 150, 260), AT("k", 130, "v2", 120, 150),  AT("k", 50, "v1", 10, 120),
        PUT("k", "v3b", 155, 260),    AT("k", 150, "v3", 150, 155),  AT("k", 155, "v3b", 155, 260),
    };
    for (long n = 1;; n++) {
        rill_versioned_store_t *vs = open_vs(f, 1000, 100);
        run_steps(vs, setup_steps, N_ELEMS(setup_steps), false);
        atomic_store(&n_failed, 0);
        atomic_store(&fail_countdown, n);
        int rc1 = rill_versioned_store_put(vs, str("k"), str("v5"), 300);
        int rc2 = rill_versioned_store_put(vs, str("k"), str("v3"), 150);
        atomic_store(&fail_countdown, 0);
        bool failed = atomic_load(&n_failed) > 0;
        assert_true(rc1 == 0 || rc1 == RILL_ENOMEM);
        assert_true(rc2 == 0 || rc2 == RILL_ENOMEM);
        /* v1's version is in no write's way: it reads back whatever failed. */
        rill_buf_t v;
        int64_t vf, vt;
        assert_int_equal(rill_versioned_store_get_as_of(vs, str("k"), 50, &v, &vf, &vt), 0);
        assert_true(vf == 10 && vt == 120);
        assert_int_equal(rill_versioned_store_put(vs, str("k"), str("v5"), 300), 0);
        assert_int_equal(rill_versioned_store_put(vs, str("k"), str("v3"), 150), 0);
        run_steps(vs, after, N_ELEMS(after), false);
        rill_versioned_store_close(vs);
        assert_int_equal(rill_store_wipe(f->path), 0);
        if (!failed)
            break;
        assert_true(n < 1000);
    }
}

static void test_versioned_invalid_args(void **state)
{
    fixture_t *f = *state;
    char err[256] = "";
    assert_null(rill_versioned_store_open(f->backend, f->env, f->path, -1, 10, err, sizeof err));
    assert_non_null(strstr(err, "versioned store"));
    assert_null(rill_versioned_store_open(f->backend, f->env, f->path, 10, 0, err, sizeof err));
    rill_versioned_store_t *vs = open_vs(f, 100, 10);
    rill_buf_t nokey = {NULL, 0}, bad = {NULL, 3};
    assert_int_equal(rill_versioned_store_put(NULL, str("k"), str("v"), 1), RILL_EINVAL);
    assert_int_equal(rill_versioned_store_put(vs, nokey, str("v"), 1), RILL_EINVAL);
    assert_int_equal(rill_versioned_store_put(vs, str("k"), bad, 1), RILL_EINVAL);
    assert_int_equal(rill_versioned_store_put(vs, str("k"), str("v"), INT64_MAX), RILL_EINVAL);
    assert_int_equal(rill_versioned_store_get(vs, nokey, NULL, NULL), RILL_EINVAL);
    assert_int_equal(rill_versioned_store_get_as_of(NULL, str("k"), 1, NULL, NULL, NULL),
                     RILL_EINVAL);
    assert_int_equal(rill_versioned_store_write_batch(vs, NULL, 1, NULL), RILL_EINVAL);
    assert_int_equal(rill_versioned_store_write_batch(vs, NULL, 0, NULL), 0);
    /* An empty key is a key, and an empty value a value. */
    assert_int_equal(rill_versioned_store_put(vs, str(""), str(""), 1), 0);
    rill_buf_t v = {NULL, 1};
    assert_int_equal(rill_versioned_store_get(vs, str(""), &v, NULL), 0);
    assert_non_null(v.data);
    assert_int_equal(v.len, 0);
    assert_true(rill_versioned_store_observed_time(NULL) == INT64_MIN);
    assert_int_equal(rill_versioned_store_committed_offset(NULL), -1);
    rill_versioned_store_close(vs);
    rill_versioned_store_close(NULL);
}

/* ---- Out of memory ---- */

static int ok_or_failed(int rc)
{
    if (rc != 0 && rc != RILL_ENOMEM && rc != RILL_EIO)
        fail_msg("unexpected %s", rill_err_name(rc));
    return rc;
}

static void drain_window(rill_window_iter_t *it)
{
    while (rill_window_iter_next(it, NULL, NULL, NULL))
        ;
    rill_window_iter_close(it);
}

/* A little of everything; any call may fail for want of memory but none may crash or leak. */
static void oom_scenario(fixture_t *f)
{
    char err[256];
    rill_buf_t value;
    rill_window_store_t *ws =
        rill_window_store_open(f->backend, f->env, f->path, 100, 50, err, sizeof err);
    if (ws) {
        for (int64_t t = 0; t < 200; t += 30)
            ok_or_failed(rill_window_store_put(ws, str("key"), t, str("value")));
        int rc = rill_window_store_put(ws, str("key"), 0, view(NULL, 0));
        if (rc != RILL_ENOENT)
            ok_or_failed(rc);
        rc = rill_window_store_get(ws, str("key"), 150, &value);
        assert_true(rc == 0 || rc == RILL_ENOENT || rc == RILL_ENOMEM);
        drain_window(rill_window_store_fetch(ws, str("key"), 0, 500, false));
        drain_window(rill_window_store_fetch(ws, str("key"), 0, 500, true));
        rill_buf_t from = str("a"), to = str("z");
        drain_window(rill_window_store_fetch_range(ws, &from, &to, 0, 500));
        rill_window_iter_t *held = rill_window_store_all(ws);
        ok_or_failed(rill_window_store_put(ws, str("key"), 1000, str("late")));
        drain_window(held);
        ok_or_failed(rill_window_store_flush(ws));
        rill_window_store_close(ws);
    }
    rill_store_wipe(f->path);

    rill_session_store_t *ss =
        rill_session_store_open(f->backend, f->env, f->path, 100, 50, err, sizeof err);
    if (ss) {
        for (int64_t t = 0; t < 200; t += 30)
            ok_or_failed(rill_session_store_put(ss, str("key"), t, t + 10, str("value")));
        rill_session_iter_t *it = rill_session_store_find(ss, str("key"), 0, 100);
        while (rill_session_iter_next(it, NULL, NULL, NULL, NULL))
            ;
        rill_session_iter_close(it);
        it = rill_session_store_all(ss);
        while (rill_session_iter_next(it, NULL, NULL, NULL, NULL))
            ;
        rill_session_iter_close(it);
        rill_session_store_close(ss);
    }
    rill_store_wipe(f->path);

    rill_versioned_store_t *vs =
        rill_versioned_store_open(f->backend, f->env, f->path, 100, 50, err, sizeof err);
    if (vs) {
        static const int64_t ts[] = {10, 70, 40, 130, 20, 60, 200, 125};
        for (size_t i = 0; i < N_ELEMS(ts); i++) {
            int rc = rill_versioned_store_put(vs, str("key"), i % 3 ? str("value") : view(NULL, 0),
                                              ts[i]);
            if (rc != RILL_ENOENT)
                ok_or_failed(rc);
        }
        int rc = rill_versioned_store_get_as_of(vs, str("key"), 150, &value, NULL, NULL);
        assert_true(rc == 0 || rc == RILL_ENOENT);
        rill_versioned_store_close(vs);
    }
    rill_store_wipe(f->path);
}

static void test_out_of_memory(void **state)
{
    fixture_t *f = *state;
    rill_set_log_cb(quiet_log, NULL, RILL_LOG_DEBUG);
    long live = atomic_load(&n_live);
    for (long n = 1;; n++) {
        atomic_store(&n_failed, 0);
        atomic_store(&fail_countdown, n);
        oom_scenario(f);
        atomic_store(&fail_countdown, 0);
        assert_int_equal(atomic_load(&n_live), live);
        if (atomic_load(&n_failed) == 0)
            break; /* the whole scenario ran with fewer than n allocations */
        assert_true(n < 100000);
    }
}

/* Each store test runs once per backend, named after it. */
#define ON(fn, backend, label)                                                                     \
    ((struct CMUnitTest){#fn " (" label ")", fn, setup, teardown, (void *)&backend})
#define T_MEMORY(fn)  ON(fn, backend_memory, "memory")
#define T_ROCKSDB(fn) ON(fn, backend_rocksdb, "rocksdb")
#define T(fn)         T_MEMORY(fn), T_ROCKSDB(fn)
#define T_LONG(fn)    T_MEMORY(fn), ON(fn, backend_rocksdb_long, "rocksdb")

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_layout),
        cmocka_unit_test(test_session_layout),
        T(test_window_put_get_delete),
        T(test_window_observed_time),
        T(test_window_fetch_bounds),
        T(test_window_negative_times),
        T(test_window_prefix_keys),
        T(test_window_fetch_range),
        T(test_window_duplicates),
        T(test_window_all),
        T(test_window_expiry),
        T(test_window_write_batch),
        T_ROCKSDB(test_window_reopen),
        T(test_window_iter_outlives_drop),
        T(test_window_invalid_args),
        T(test_session_put_find),
        T(test_session_expiry),
        T_ROCKSDB(test_session_reopen),
        T(test_window_reader_thread),
        T_ROCKSDB(test_segment_open_fails),
        T_ROCKSDB(test_window_transactional),
        T_LONG(test_versioned_kafka_streams_scenarios),
        T_LONG(test_versioned_middle_of_history),
        T_LONG(test_versioned_expiry),
        T_ROCKSDB(test_versioned_reopen),
        T(test_versioned_transactional),
        T(test_versioned_no_allocation),
        T(test_versioned_invalid_args),
        T_MEMORY(test_versioned_failed_put_repaired),
        /* In memory only: every RocksDB open costs a second under valgrind, and the paths that
         * differ (a segment that cannot be opened) are test_segment_open_fails'. */
        T_MEMORY(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
