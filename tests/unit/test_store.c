/*
 * The key-value store conformance suite: every test runs against both backends (in memory and
 * RocksDB), as one cmocka group per backend. The group's state names the backend and holds a
 * temporary directory under /tmp and, for RocksDB, a store env; each test gets a fresh store.
 *
 * A counting allocator is installed through rill_set_allocator(): the teardown asserts that
 * nothing the test allocated through the hook is still live, and the out-of-memory test fails
 * the Nth allocation for every N. RocksDB allocates with its own allocator, which valgrind and
 * LeakSanitizer check instead.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <rill/statestore.h>

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define N_ELEMS(a) (sizeof(a) / sizeof *(a))

/* ---- Counting allocator ---- */

static atomic_long n_live;
static atomic_long countdown = -1; /* allocations left before one fails; -1: never fail */
static atomic_long n_failed;
static long live_at_setup;

static bool take_allocation(void)
{
    long c = atomic_load(&countdown);
    if (c < 0)
        return true;
    if (c == 0) {
        atomic_fetch_add(&n_failed, 1);
        return false;
    }
    atomic_fetch_sub(&countdown, 1);
    return true;
}

static void *count_malloc(size_t n)
{
    if (!take_allocation())
        return NULL;
    void *p = malloc(n);
    if (p)
        atomic_fetch_add(&n_live, 1);
    return p;
}

static void *count_realloc(void *old, size_t n)
{
    if (!take_allocation())
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

/* ---- Fixtures ---- */

typedef struct {
    rill_store_backend_t backend;
    const char *name;
    char dir[64];   /* the group's temporary directory */
    char path[128]; /* this test's store directory */
    rill_store_env_t *env;
    rill_store_t *store;
    int seq;
} fixture_t;

static fixture_t memory_fx = {.backend = RILL_STORE_IN_MEMORY, .name = "memory"};
static fixture_t rocksdb_fx = {.backend = RILL_STORE_ROCKSDB, .name = "rocksdb"};

static int group_setup(fixture_t *fx, void **state)
{
    char err[256] = "";
    rill_set_allocator(count_malloc, count_realloc, count_free);
    strcpy(fx->dir, "/tmp/rill-test-store.XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    fx->env = rill_store_env_new(16 << 20, err, sizeof err);
    if (!fx->env) {
        fprintf(stderr, "store env: %s\n", err);
        return -1;
    }
    *state = fx;
    return 0;
}

static int group_setup_memory(void **state)
{
    return group_setup(&memory_fx, state);
}

static int group_setup_rocksdb(void **state)
{
    return group_setup(&rocksdb_fx, state);
}

static int group_teardown(void **state)
{
    fixture_t *fx = *state;
    rill_store_env_destroy(fx->env);
    fx->env = NULL;
    int rc = rill_store_wipe(fx->dir);
    rill_set_allocator(NULL, NULL, NULL);
    return rc;
}

static rill_store_t *open_at(fixture_t *fx, const char *path)
{
    char err[512] = "";
    rill_store_t *store = rill_store_open(fx->backend, fx->env, path, err, sizeof err);
    if (!store)
        fail_msg("%s store at %s: %s", fx->name, path, err);
    return store;
}

static int setup(void **state)
{
    fixture_t *fx = *state;
    atomic_store(&countdown, -1);
    live_at_setup = atomic_load(&n_live);
    snprintf(fx->path, sizeof fx->path, "%s/store-%d", fx->dir, ++fx->seq);
    fx->store = open_at(fx, fx->path);
    return fx->store ? 0 : -1;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    atomic_store(&countdown, -1);
    rill_store_close(fx->store);
    fx->store = NULL;
    assert_int_equal(rill_store_wipe(fx->path), 0);
    /* Everything the test made through the hook is gone. */
    assert_int_equal(atomic_load(&n_live), live_at_setup);
    return 0;
}

/* ---- Helpers ---- */

static rill_buf_t buf(const void *data, size_t len)
{
    rill_buf_t b = {data, len};
    return b;
}

#define S(lit) buf(lit, sizeof(lit) - 1) /* a literal, NUL bytes inside included */

static void put_ok(rill_store_t *store, rill_buf_t key, rill_buf_t value)
{
    int rc = rill_store_put(store, key, value);
    if (rc)
        fail_msg("put: %s: %s", rill_err_name(rc), rill_store_error(store));
}

static void put_str(rill_store_t *store, const char *key, const char *value)
{
    put_ok(store, rill_buf_str(key), rill_buf_str(value));
}

static void assert_value(rill_store_t *store, rill_buf_t key, rill_buf_t want)
{
    rill_buf_t got = {NULL, 99};
    int rc = rill_store_get(store, key, &got);
    if (rc)
        fail_msg("get: %s: %s", rill_err_name(rc), rill_store_error(store));
    assert_non_null(got.data); /* a value is never a null view, not even an empty one */
    assert_int_equal(got.len, want.len);
    if (want.len)
        assert_memory_equal(got.data, want.data, want.len);
}

static void assert_absent(rill_store_t *store, rill_buf_t key)
{
    rill_buf_t got;
    assert_int_equal(rill_store_get(store, key, &got), RILL_ENOENT);
}

static bool buf_eq(rill_buf_t a, rill_buf_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

/* Drains it (then closes it) and checks it yields exactly keys[0..n) in that order, each with
 * the value the key maps to through value_of (NULL: the value equals the key). */
static void assert_iter(rill_store_iter_t *it, const rill_buf_t *keys, size_t n,
                        rill_buf_t (*value_of)(rill_buf_t key))
{
    assert_non_null(it);
    rill_buf_t k, v;
    size_t i = 0;
    while (rill_store_iter_next(it, &k, &v)) {
        if (i >= n)
            fail_msg("iterator yields more than the %zu expected entries", n);
        if (!buf_eq(k, keys[i]))
            fail_msg("entry %zu: key %.*s (len %zu), expected %.*s (len %zu)", i, (int)k.len,
                     (const char *)k.data, k.len, (int)keys[i].len, (const char *)keys[i].data,
                     keys[i].len);
        assert_non_null(k.data);
        assert_non_null(v.data);
        rill_buf_t want = value_of ? value_of(k) : k;
        assert_true(buf_eq(v, want));
        i++;
    }
    assert_int_equal(i, n);
    assert_false(rill_store_iter_next(it, &k, &v)); /* stays at the end */
    rill_store_iter_close(it);
}

/* Puts each key with itself as value. */
static void put_keys(rill_store_t *store, const rill_buf_t *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put_ok(store, keys[i], keys[i]);
}

static void reversed(const rill_buf_t *in, rill_buf_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = in[n - 1 - i];
}

/* ---- Tests ---- */

static void test_backend(void **state)
{
    fixture_t *fx = *state;
    assert_int_equal(rill_store_backend(fx->store), fx->backend);
    assert_string_equal(rill_store_error(fx->store), "");
}

static void test_get_put_overwrite_delete(void **state)
{
    fixture_t *fx = *state;
    rill_store_t *store = fx->store;
    assert_absent(store, S("k"));
    put_str(store, "k", "v1");
    assert_value(store, S("k"), S("v1"));
    put_str(store, "k", "a longer second value");
    assert_value(store, S("k"), S("a longer second value"));
    put_str(store, "k", "3");
    assert_value(store, S("k"), S("3"));
    assert_int_equal(rill_store_delete(store, S("k")), 0);
    assert_absent(store, S("k"));
    assert_int_equal(rill_store_delete(store, S("k")), 0); /* absent: no error */
    assert_int_equal(rill_store_delete(store, S("never")), 0);
    put_str(store, "k", "again");
    assert_value(store, S("k"), S("again"));
}

static void test_null_value_deletes(void **state)
{
    fixture_t *fx = *state;
    put_str(fx->store, "k", "v");
    put_str(fx->store, "other", "w");
    assert_int_equal(rill_store_put(fx->store, S("k"), buf(NULL, 0)), 0);
    assert_absent(fx->store, S("k"));
    assert_value(fx->store, S("other"), S("w"));
    assert_int_equal(rill_store_put(fx->store, S("absent"), buf(NULL, 0)), 0);
    if (fx->backend == RILL_STORE_IN_MEMORY)
        assert_int_equal(rill_store_approx_count(fx->store), 1);
}

static void test_empty_key_and_value(void **state)
{
    fixture_t *fx = *state;
    rill_store_t *store = fx->store;
    put_ok(store, S(""), S("empty key"));
    put_ok(store, S("k"), S("")); /* an empty value is a value, not a delete */
    assert_value(store, S(""), S("empty key"));
    assert_value(store, S("k"), S(""));

    rill_bytes_t out = {0};
    assert_int_equal(rill_store_get_copy(store, S("k"), &out), 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(rill_store_get_copy(store, S(""), &out), 0);
    assert_int_equal(out.len, 9);
    assert_memory_equal(out.data, "empty key", 9);
    rill_bytes_free(&out);

    /* The empty key sorts first. */
    rill_store_iter_t *it = rill_store_range(store, NULL, NULL, false);
    rill_buf_t k, v;
    assert_true(rill_store_iter_next(it, &k, &v));
    assert_int_equal(k.len, 0);
    assert_non_null(k.data);
    assert_true(buf_eq(v, S("empty key")));
    assert_true(rill_store_iter_next(it, &k, &v));
    assert_true(buf_eq(k, S("k")));
    assert_non_null(v.data);
    assert_int_equal(v.len, 0);
    assert_false(rill_store_iter_next(it, &k, &v));
    rill_store_iter_close(it);

    assert_int_equal(rill_store_delete(store, S("")), 0);
    assert_absent(store, S(""));
}

static void test_binary_keys(void **state)
{
    fixture_t *fx = *state;
    rill_store_t *store = fx->store;
    put_ok(store, S("a\0b"), S("v\0one"));
    put_ok(store, S("a\0c"), S("two"));
    put_ok(store, S("a"), S("three"));
    put_ok(store, S("\0"), S("\0\0"));
    assert_value(store, S("a\0b"), S("v\0one"));
    assert_value(store, S("a\0c"), S("two"));
    assert_value(store, S("a"), S("three"));
    assert_value(store, S("\0"), S("\0\0"));
    assert_absent(store, S("a\0"));
    assert_absent(store, S("\0\0"));
    put_ok(store, S("\xff\x00\xfe"), S("high"));
    assert_value(store, S("\xff\x00\xfe"), S("high"));
}

/* memcmp order, then the shorter first: "a" < "a\0" < "ab" < "b", and bytes are unsigned. */
static void test_order(void **state)
{
    fixture_t *fx = *state;
    const rill_buf_t sorted[] = {S(""),      S("\0"),   S("\0\0"),    S("a"), S("a\0"),
                                 S("a\0\0"), S("aa"),   S("ab"),      S("b"), S("\x7f"),
                                 S("\x80"),  S("\xff"), S("\xff\xff")};
    const size_t order[] = {7, 2, 12, 0, 9, 4, 11, 1, 5, 10, 3, 8, 6}; /* insertion order */
    assert_int_equal(N_ELEMS(order), N_ELEMS(sorted));
    for (size_t i = 0; i < N_ELEMS(order); i++)
        put_ok(fx->store, sorted[order[i]], sorted[order[i]]);
    assert_iter(rill_store_range(fx->store, NULL, NULL, false), sorted, N_ELEMS(sorted), NULL);
    rill_buf_t rev[N_ELEMS(sorted)];
    reversed(sorted, rev, N_ELEMS(sorted));
    assert_iter(rill_store_range(fx->store, NULL, NULL, true), rev, N_ELEMS(rev), NULL);
}

static void test_range_bounds(void **state)
{
    fixture_t *fx = *state;
    rill_store_t *store = fx->store;
    const rill_buf_t keys[] = {S("a"), S("a\0"), S("ab"), S("b"), S("ba"), S("c")};
    put_keys(store, keys, N_ELEMS(keys));
    rill_buf_t rev[N_ELEMS(keys)];

    /* Both bounds inclusive, when present as keys... */
    rill_buf_t from = S("a\0"), to = S("b");
    assert_iter(rill_store_range(store, &from, &to, false), keys + 1, 3, NULL);
    reversed(keys + 1, rev, 3);
    assert_iter(rill_store_range(store, &from, &to, true), rev, 3, NULL);
    /* ... and when not: "aa" is after "a\0" and before "ab"; "bb" after "ba". */
    from = S("aa");
    to = S("bb");
    assert_iter(rill_store_range(store, &from, &to, false), keys + 2, 3, NULL);
    reversed(keys + 2, rev, 3);
    assert_iter(rill_store_range(store, &from, &to, true), rev, 3, NULL);
    /* to = "b": "b" is in, "b\0" and "ba" are not. */
    put_ok(store, S("b\0"), S("b\0"));
    from = S("b");
    to = S("b");
    assert_iter(rill_store_range(store, &from, &to, false), keys + 3, 1, NULL);
    assert_iter(rill_store_range(store, &from, &to, true), keys + 3, 1, NULL);
    assert_int_equal(rill_store_delete(store, S("b\0")), 0);

    /* Unbounded sides. */
    to = S("ab");
    assert_iter(rill_store_range(store, NULL, &to, false), keys, 3, NULL);
    reversed(keys, rev, 3);
    assert_iter(rill_store_range(store, NULL, &to, true), rev, 3, NULL);
    from = S("b");
    assert_iter(rill_store_range(store, &from, NULL, false), keys + 3, 3, NULL);
    reversed(keys + 3, rev, 3);
    assert_iter(rill_store_range(store, &from, NULL, true), rev, 3, NULL);

    /* Empty ranges: from > to, past the last key, before the first. */
    from = S("c");
    to = S("a");
    assert_iter(rill_store_range(store, &from, &to, false), NULL, 0, NULL);
    assert_iter(rill_store_range(store, &from, &to, true), NULL, 0, NULL);
    from = S("d");
    assert_iter(rill_store_range(store, &from, NULL, false), NULL, 0, NULL);
    assert_iter(rill_store_range(store, &from, NULL, true), NULL, 0, NULL);
    to = S("\0");
    assert_iter(rill_store_range(store, NULL, &to, false), NULL, 0, NULL);
    assert_iter(rill_store_range(store, NULL, &to, true), NULL, 0, NULL);
    /* The empty key as a bound is the smallest. */
    from = S("");
    to = S("a");
    assert_iter(rill_store_range(store, &from, &to, false), keys, 1, NULL);
}

static void test_range_empty_store(void **state)
{
    fixture_t *fx = *state;
    assert_iter(rill_store_range(fx->store, NULL, NULL, false), NULL, 0, NULL);
    assert_iter(rill_store_range(fx->store, NULL, NULL, true), NULL, 0, NULL);
    assert_iter(rill_store_prefix(fx->store, S("a")), NULL, 0, NULL);
}

static void test_prefix(void **state)
{
    fixture_t *fx = *state;
    rill_store_t *store = fx->store;
    const rill_buf_t keys[] = {S(""),         S("a"),          S("ab"),          S("ab\0"),
                               S("abc"),      S("ab\xff"),     S("ab\xff\x01"),  S("ac"),
                               S("b"),        S("\xfe\xff"),   S("\xff"),        S("\xff\x00"),
                               S("\xff\xff"), S("\xff\xff\0"), S("\xff\xff\xff")};
    put_keys(store, keys, N_ELEMS(keys));
    assert_iter(rill_store_prefix(store, S("ab")), keys + 2, 5, NULL);
    assert_iter(rill_store_prefix(store, S("ab\xff")), keys + 5, 2, NULL);
    assert_iter(rill_store_prefix(store, S("a")), keys + 1, 7, NULL);
    assert_iter(rill_store_prefix(store, S("abcd")), NULL, 0, NULL);
    assert_iter(rill_store_prefix(store, S("\xfe")), keys + 9, 1, NULL);
    /* Prefixes of 0xFF bytes have no successor: the scan runs to the end. */
    assert_iter(rill_store_prefix(store, S("\xff")), keys + 10, 5, NULL);
    assert_iter(rill_store_prefix(store, S("\xff\xff")), keys + 12, 3, NULL);
    assert_iter(rill_store_prefix(store, S("\xff\xff\xff")), keys + 14, 1, NULL);
    assert_iter(rill_store_prefix(store, S("\xff\xff\xff\xff")), NULL, 0, NULL);
    /* The empty prefix matches everything. */
    assert_iter(rill_store_prefix(store, S("")), keys, N_ELEMS(keys), NULL);

    /* A prefix longer than the successor buffer on the stack. */
    char long_prefix[100];
    memset(long_prefix, 'p', sizeof long_prefix);
    char key[101];
    memcpy(key, long_prefix, 100);
    key[100] = 'x';
    put_ok(store, buf(key, 101), S("long"));
    put_ok(store, buf(long_prefix, 99), S("shorter"));
    rill_store_iter_t *it = rill_store_prefix(store, buf(long_prefix, 100));
    rill_buf_t k, v;
    assert_true(rill_store_iter_next(it, &k, &v));
    assert_true(buf_eq(k, buf(key, 101)));
    assert_false(rill_store_iter_next(it, &k, &v));
    rill_store_iter_close(it);
}

static void test_write_batch(void **state)
{
    fixture_t *fx = *state;
    rill_store_t *store = fx->store;
    put_str(store, "gone", "soon");
    put_str(store, "kept", "old");
    const rill_store_write_t writes[] = {
        {S("a"), S("1")}, {S("b"), S("2")},      {S("a"), S("1 again")}, {S("gone"), {NULL, 0}},
        {S("c"), S("3")}, {S("c"), {NULL, 0}},   {S("d"), {NULL, 0}},    {S("d"), S("4")},
        {S("e"), S("")},  {S("kept"), S("new")}, {S("a"), S("1 last")},
    };
    assert_int_equal(rill_store_write_batch(store, writes, N_ELEMS(writes)), 0);
    assert_value(store, S("a"), S("1 last")); /* a later write of the same key wins */
    assert_value(store, S("b"), S("2"));
    assert_absent(store, S("gone"));
    assert_absent(store, S("c")); /* put then deleted within the batch */
    assert_value(store, S("d"), S("4"));
    assert_value(store, S("e"), S(""));
    assert_value(store, S("kept"), S("new"));
    assert_int_equal(rill_store_write_batch(store, NULL, 0), 0);
    assert_int_equal(rill_store_write_batch(store, writes, 0), 0);

    /* A batch larger than the memory backend's stack array. */
    rill_store_write_t big[100];
    char keys[100][8];
    for (int i = 0; i < 100; i++) {
        snprintf(keys[i], sizeof keys[i], "k%03d", i);
        big[i].key = rill_buf_str(keys[i]);
        big[i].value = i % 10 == 9 ? buf(NULL, 0) : rill_buf_str(keys[i]);
    }
    assert_int_equal(rill_store_write_batch(store, big, 100), 0);
    rill_store_iter_t *it = rill_store_prefix(store, S("k0"));
    rill_buf_t k, v;
    int n = 0;
    while (rill_store_iter_next(it, &k, &v)) {
        assert_true(buf_eq(k, v));
        assert_true(k.len == 4 && ((const char *)k.data)[3] != '9');
        n++;
    }
    rill_store_iter_close(it);
    assert_int_equal(n, 90);

    /* An invalid write rejects the whole batch before anything is applied. */
    const rill_store_write_t bad[] = {{S("x"), S("1")}, {{NULL, 0}, S("2")}};
    assert_int_equal(rill_store_write_batch(store, bad, 2), RILL_EINVAL);
    assert_absent(store, S("x"));
}

/* An iterator sees the store as of its creation: not later puts, overwrites or deletes. */
static void test_iter_snapshot(void **state)
{
    fixture_t *fx = *state;
    rill_store_t *store = fx->store;
    const rill_buf_t keys[] = {S("a"), S("b"), S("c"), S("d")};
    put_keys(store, keys, N_ELEMS(keys));
    rill_store_iter_t *fwd = rill_store_range(store, NULL, NULL, false);
    rill_store_iter_t *rev = rill_store_range(store, NULL, NULL, true);
    rill_buf_t pfx = S("");
    rill_store_iter_t *pre = rill_store_prefix(store, pfx);
    rill_buf_t k, v;
    assert_true(rill_store_iter_next(fwd, &k, &v)); /* one step before the writes */
    assert_true(buf_eq(k, S("a")));

    put_str(store, "b", "changed");
    put_str(store, "bb", "new");
    put_str(store, "e", "new");
    assert_int_equal(rill_store_delete(store, S("c")), 0);
    const rill_store_write_t writes[] = {{S("a"), S("x")}, {S("d"), {NULL, 0}}};
    assert_int_equal(rill_store_write_batch(store, writes, 2), 0);

    assert_iter(fwd, keys + 1, 3, NULL);
    rill_buf_t r[4];
    reversed(keys, r, 4);
    assert_iter(rev, r, 4, NULL);
    assert_iter(pre, keys, 4, NULL);
    /* A new iterator sees the writes. */
    const rill_buf_t now[] = {S("a"), S("b"), S("bb"), S("e")};
    rill_store_iter_t *it = rill_store_range(store, NULL, NULL, false);
    for (size_t i = 0; i < N_ELEMS(now); i++) {
        assert_true(rill_store_iter_next(it, &k, &v));
        assert_true(buf_eq(k, now[i]));
    }
    assert_false(rill_store_iter_next(it, &k, &v));
    rill_store_iter_close(it);
}

/* Closing an iterator before draining it is fine. */
static void test_iter_close_early(void **state)
{
    fixture_t *fx = *state;
    const rill_buf_t keys[] = {S("a"), S("b"), S("c")};
    put_keys(fx->store, keys, 3);
    rill_store_iter_close(rill_store_range(fx->store, NULL, NULL, false));
    rill_store_iter_t *it = rill_store_range(fx->store, NULL, NULL, true);
    rill_buf_t k, v;
    assert_true(rill_store_iter_next(it, &k, &v));
    rill_store_iter_close(it);
    rill_store_iter_close(NULL);
}

/* An iterator still open when its store closes stays usable; the RocksDB store really closes
 * (and releases its directory's lock) when the iterator does. */
static void test_iter_outlives_store(void **state)
{
    fixture_t *fx = *state;
    const rill_buf_t keys[] = {S("a"), S("b"), S("c")};
    put_keys(fx->store, keys, 3);
    rill_store_iter_t *it = rill_store_range(fx->store, NULL, NULL, false);
    rill_store_iter_t *unused = rill_store_prefix(fx->store, S("b"));
    rill_buf_t k, v;
    assert_true(rill_store_iter_next(it, &k, &v));
    assert_true(buf_eq(k, keys[0]));
    rill_log_level_t quiet = RILL_LOG_ERROR; /* the RocksDB store warns about the iterators */
    rill_set_log_cb(NULL, NULL, quiet);
    rill_store_close(fx->store);
    fx->store = NULL;
    rill_store_iter_close(unused);
    assert_iter(it, keys + 1, 2, NULL);
    rill_set_log_cb(NULL, NULL, RILL_LOG_INFO);
    fx->store = open_at(fx, fx->path);
    if (fx->backend == RILL_STORE_ROCKSDB)
        assert_value(fx->store, S("b"), S("b"));
}

/* Values of the concurrency test: value i is "<i>:" then a filler whose length and bytes depend
 * on i, so a torn or stale-but-freed read is caught. */
static size_t value_for(unsigned i, char *out)
{
    int n = sprintf(out, "%u:", i);
    size_t len = (size_t)n + i % 97;
    for (size_t j = (size_t)n; j < len; j++)
        out[j] = (char)('a' + (i + j) % 26);
    return len;
}

static bool value_valid(const uint8_t *data, size_t len)
{
    char want[160];
    unsigned i = 0;
    size_t j = 0;
    while (j < len && data[j] >= '0' && data[j] <= '9')
        i = i * 10 + (data[j++] - '0');
    if (j == 0 || j >= len || data[j] != ':')
        return false;
    return value_for(i, want) == len && memcmp(want, data, len) == 0;
}

/* The reader reads once per write it has not yet seen, and the writer lets it catch up every 64
 * writes: under valgrind, which runs one thread at a time, a free-running reader starves the
 * writer, or the writer finishes before the reader has started. */
typedef struct {
    rill_store_t *store;
    atomic_bool stop;
    atomic_long writes, caught_up;
    long reads, found, bad, iterations;
} reader_t;

static void *reader_main(void *arg)
{
    reader_t *r = arg;
    rill_bytes_t out = {0};
    long seen = 0;
    while (!atomic_load(&r->stop)) {
        long writes = atomic_load(&r->writes);
        if (writes == seen) {
            sched_yield();
            continue;
        }
        seen = writes;
        atomic_store(&r->caught_up, writes);
        int rc = rill_store_get_copy(r->store, S("key"), &out);
        r->reads++;
        if (rc == 0) {
            r->found++;
            if (!value_valid(out.data, out.len))
                r->bad++;
        } else if (rc != RILL_ENOENT) {
            r->bad++;
        }
        if (r->reads % 8 == 1) {
            /* A scan from this thread too: every entry it sees is a whole value. */
            rill_store_iter_t *it = rill_store_range(r->store, NULL, NULL, false);
            rill_buf_t k, v;
            if (!it)
                r->bad++;
            while (it && rill_store_iter_next(it, &k, &v))
                if (!value_valid(v.data, v.len))
                    r->bad++;
            rill_store_iter_close(it);
            r->iterations++;
            (void)rill_store_approx_count(r->store);
        }
    }
    rill_bytes_free(&out);
    return NULL;
}

static void test_get_copy_from_another_thread(void **state)
{
    fixture_t *fx = *state;
    reader_t r = {.store = fx->store};
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, reader_main, &r), 0);
    char value[160], key[16];
    const unsigned n = getenv("RILL_UNDER_VALGRIND") ? 3000 : 20000;
    for (unsigned i = 0; i < n; i++) {
        put_ok(fx->store, S("key"), buf(value, value_for(i, value)));
        /* Other keys come and go, so the tree rebalances under the readers. */
        snprintf(key, sizeof key, "k%u", i % 50);
        if (i % 3)
            put_ok(fx->store, rill_buf_str(key), buf(value, value_for(i, value)));
        else
            assert_int_equal(rill_store_delete(fx->store, rill_buf_str(key)), 0);
        atomic_fetch_add(&r.writes, 1);
        while (i % 64 == 63 && atomic_load(&r.caught_up) + 64 <= (long)i)
            sched_yield();
    }
    atomic_store(&r.stop, true);
    assert_int_equal(pthread_join(tid, NULL), 0);
    printf("%s: %ld reads (%ld found) and %ld scans during %u writes, %ld bad\n", fx->name, r.reads,
           r.found, r.iterations, n, r.bad);
    assert_int_equal(r.bad, 0);
    assert_true(r.reads > 0 && r.iterations > 0);
    rill_bytes_t out = {0};
    assert_int_equal(rill_store_get_copy(fx->store, S("key"), &out), 0);
    assert_int_equal(out.len, value_for(n - 1, value));
    assert_memory_equal(out.data, value, out.len);
    assert_int_equal(rill_store_get_copy(fx->store, S("nope"), &out), RILL_ENOENT);
    rill_bytes_free(&out);
}

/* get_copy replaces out's contents and reuses its memory. */
static void test_get_copy_replaces(void **state)
{
    fixture_t *fx = *state;
    put_str(fx->store, "k", "value");
    rill_bytes_t out = {0};
    assert_int_equal(rill_bytes_append(&out, "old contents", 12), 0);
    assert_int_equal(rill_store_get_copy(fx->store, S("k"), &out), 0);
    assert_int_equal(out.len, 5);
    assert_memory_equal(out.data, "value", 5);
    rill_bytes_free(&out);
}

/* RocksDB keeps the data across close and reopen, and wipe removes it; an in-memory store
 * starts empty again. */
static void test_flush_close_reopen(void **state)
{
    fixture_t *fx = *state;
    put_str(fx->store, "a", "1");
    put_str(fx->store, "b", "2");
    assert_int_equal(rill_store_flush(fx->store), 0);
    put_str(fx->store, "c", "3"); /* not flushed by hand: close flushes */
    rill_store_close(fx->store);
    fx->store = open_at(fx, fx->path);
    if (fx->backend == RILL_STORE_ROCKSDB) {
        assert_value(fx->store, S("a"), S("1"));
        assert_value(fx->store, S("b"), S("2"));
        assert_value(fx->store, S("c"), S("3"));
        rill_store_close(fx->store);
        fx->store = NULL;
        struct stat st;
        assert_int_equal(stat(fx->path, &st), 0);
        assert_int_equal(rill_store_wipe(fx->path), 0);
        assert_int_equal(stat(fx->path, &st), -1);
        assert_int_equal(rill_store_wipe(fx->path), 0); /* already gone: fine */
        fx->store = open_at(fx, fx->path);
    }
    assert_absent(fx->store, S("a"));
    assert_int_equal(rill_store_approx_count(fx->store), 0);
}

static void test_approx_count(void **state)
{
    fixture_t *fx = *state;
    char key[16];
    assert_int_equal(rill_store_approx_count(fx->store), 0);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "key%04d", i);
        put_str(fx->store, key, "v");
    }
    for (int i = 0; i < 1000; i += 2) {
        snprintf(key, sizeof key, "key%04d", i);
        put_str(fx->store, key, "overwritten");
    }
    assert_int_equal(rill_store_flush(fx->store), 0);
    uint64_t n = rill_store_approx_count(fx->store);
    if (fx->backend == RILL_STORE_IN_MEMORY)
        assert_int_equal(n, 1000); /* exact */
    else
        assert_true(n >= 900 && n <= 1100);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "key%04d", i);
        assert_int_equal(rill_store_delete(fx->store, rill_buf_str(key)), 0);
    }
    if (fx->backend == RILL_STORE_IN_MEMORY)
        assert_int_equal(rill_store_approx_count(fx->store), 900);
}

/* Many random keys, checked against a sorted copy: the tree's balancing and the order. */
static int cmp_key(const void *a, const void *b)
{
    return memcmp(a, b, 8);
}

static void test_many_keys(void **state)
{
    fixture_t *fx = *state;
    enum { N = 5000 };
    static uint8_t keys[N][8];
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(keys[i], &x, 8);
        put_ok(fx->store, buf(keys[i], 8), buf(keys[i], 8));
    }
    /* Delete every third key, overwrite every fifth of the others. */
    for (int i = 0; i < N; i += 3)
        assert_int_equal(rill_store_delete(fx->store, buf(keys[i], 8)), 0);
    for (int i = 1; i < N; i += 5)
        if (i % 3)
            put_ok(fx->store, buf(keys[i], 8), buf(keys[i], 8));
    static uint8_t live[N][8];
    int n = 0;
    for (int i = 0; i < N; i++)
        if (i % 3)
            memcpy(live[n++], keys[i], 8);
    qsort(live, n, 8, cmp_key);
    rill_store_iter_t *it = rill_store_range(fx->store, NULL, NULL, false);
    rill_buf_t k, v;
    int i = 0;
    while (rill_store_iter_next(it, &k, &v)) {
        assert_true(i < n);
        assert_true(buf_eq(k, buf(live[i], 8)));
        assert_true(buf_eq(v, k));
        i++;
    }
    rill_store_iter_close(it);
    assert_int_equal(i, n);
    for (i = 0; i < N; i++) {
        rill_buf_t got;
        assert_int_equal(rill_store_get(fx->store, buf(keys[i], 8), &got), i % 3 ? 0 : RILL_ENOENT);
    }
}

static void test_invalid_arguments(void **state)
{
    fixture_t *fx = *state;
    rill_buf_t v;
    rill_bytes_t out = {0};
    const rill_buf_t null = {NULL, 0}, bad = {NULL, 3};
    assert_int_equal(rill_store_get(NULL, S("k"), &v), RILL_EINVAL);
    assert_int_equal(rill_store_get(fx->store, S("k"), NULL), RILL_EINVAL);
    assert_int_equal(rill_store_get(fx->store, null, &v), RILL_EINVAL); /* a null key */
    assert_int_equal(rill_store_get_copy(fx->store, bad, &out), RILL_EINVAL);
    assert_int_equal(rill_store_get_copy(fx->store, S("k"), NULL), RILL_EINVAL);
    assert_int_equal(rill_store_put(fx->store, null, S("v")), RILL_EINVAL);
    assert_int_equal(rill_store_put(fx->store, S("k"), bad), RILL_EINVAL);
    assert_int_equal(rill_store_put(NULL, S("k"), S("v")), RILL_EINVAL);
    assert_int_equal(rill_store_delete(fx->store, null), RILL_EINVAL);
    assert_int_equal(rill_store_write_batch(fx->store, NULL, 1), RILL_EINVAL);
    assert_int_equal(rill_store_flush(NULL), RILL_EINVAL);
    assert_null(rill_store_range(NULL, NULL, NULL, false));
    assert_null(rill_store_range(fx->store, &bad, NULL, false));
    assert_null(rill_store_prefix(fx->store, null));
    assert_false(rill_store_iter_next(NULL, &v, &v));
    assert_int_equal(rill_store_approx_count(NULL), 0);
    assert_string_equal(rill_store_error(NULL), "");
    assert_int_equal(rill_store_wipe(NULL), RILL_EINVAL);
    assert_int_equal(rill_store_wipe(""), RILL_EINVAL);
    rill_store_close(NULL);
}

static bool contains(const char *haystack, const char *needle)
{
    return strstr(haystack, needle) != NULL;
}

/* RocksDB: a path that cannot be a directory, or a store already open, gives NULL with the path
 * in errstr. In memory: path and env are ignored. */
static void test_open_errors(void **state)
{
    fixture_t *fx = *state;
    char file[160], under[200], err[512];
    snprintf(file, sizeof file, "%s/regular-file", fx->dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("not a store\n", f);
    fclose(f);
    snprintf(under, sizeof under, "%s/sub/store", file);

    if (fx->backend == RILL_STORE_IN_MEMORY) {
        rill_store_t *s = rill_store_open(fx->backend, NULL, file, err, sizeof err);
        assert_non_null(s);
        rill_store_close(s);
        s = rill_store_open(fx->backend, NULL, NULL, NULL, 0);
        assert_non_null(s);
        rill_store_close(s);
    } else {
        strcpy(err, "");
        assert_null(rill_store_open(fx->backend, fx->env, file, err, sizeof err));
        printf("regular file: %s\n", err);
        assert_true(contains(err, file));
        strcpy(err, "");
        assert_null(rill_store_open(fx->backend, fx->env, under, err, sizeof err));
        printf("under a regular file: %s\n", err);
        assert_true(contains(err, under));
        strcpy(err, "");
        assert_null(rill_store_open(fx->backend, fx->env, fx->path, err, sizeof err));
        printf("already open: %s\n", err);
        assert_true(contains(err, fx->path));
        strcpy(err, "");
        assert_null(rill_store_open(fx->backend, NULL, fx->path, err, sizeof err));
        assert_true(contains(err, fx->path));
        assert_null(rill_store_open(fx->backend, fx->env, NULL, err, sizeof err));
        assert_null(rill_store_open(fx->backend, fx->env, file, NULL, 0));
        /* RILL_STORE_DEFAULT opens RocksDB. */
        char other[200];
        snprintf(other, sizeof other, "%s-default", fx->path);
        rill_store_t *d = rill_store_open(RILL_STORE_DEFAULT, fx->env, other, err, sizeof err);
        assert_non_null(d);
        assert_int_equal(rill_store_backend(d), RILL_STORE_ROCKSDB);
        rill_store_close(d);
        assert_int_equal(rill_store_wipe(other), 0);
        /* A new path with parents to create. */
        char deep[200];
        snprintf(deep, sizeof deep, "%s/x/y/z", fx->path);
        rill_store_t *s = rill_store_open(fx->backend, fx->env, deep, err, sizeof err);
        assert_non_null(s);
        put_str(s, "k", "v");
        rill_store_close(s);
    }
    assert_null(rill_store_open((rill_store_backend_t)42, fx->env, fx->path, err, sizeof err));
    assert_true(contains(err, "backend"));
    assert_int_equal(unlink(file), 0);
}

/* The env's usage is the block cache's: it grows with memtables and blocks read. */
static void test_env_usage(void **state)
{
    fixture_t *fx = *state;
    assert_int_equal(rill_store_env_usage(NULL), 0);
    rill_store_env_destroy(NULL);
    char err[128];
    assert_null(rill_store_env_new(0, err, sizeof err));
    assert_true(contains(err, "memory"));
    assert_null(rill_store_env_new(0, NULL, 0));
    if (fx->backend != RILL_STORE_ROCKSDB)
        return;
    char key[16], value[100];
    memset(value, 'v', sizeof value);
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "key%06d", i);
        put_ok(fx->store, rill_buf_str(key), buf(value, sizeof value));
    }
    size_t usage = rill_store_env_usage(fx->env);
    assert_true(usage > 0);
    assert_true(usage <= 16 << 20);
}

/*
 * Fail the Nth allocation Rill makes, for every N, through a scenario that opens a store, writes
 * single keys and a batch, reads, scans and closes. Every run must end cleanly: an error code,
 * never a crash or a leak, and a failed batch changes nothing.
 */
static int oom_scenario(fixture_t *fx, const char *path)
{
    char err[256];
    int rc;
    rill_store_t *store = rill_store_open(fx->backend, fx->env, path, err, sizeof err);
    if (!store)
        return RILL_ENOMEM;
    if ((rc = rill_store_put(store, S("a"), S("1"))) ||
        (rc = rill_store_put(store, S("b"), S("2"))))
        goto out;
    rill_store_write_t writes[20];
    char keys[20][4];
    for (int i = 0; i < 20; i++) {
        snprintf(keys[i], sizeof keys[i], "c%02d", i);
        writes[i].key = rill_buf_str(keys[i]);
        writes[i].value = i == 5 ? buf(NULL, 0) : rill_buf_str(keys[i]);
    }
    if ((rc = rill_store_write_batch(store, writes, 20))) {
        /* All or nothing. */
        rill_buf_t v;
        for (int i = 0; i < 20; i++)
            assert_int_equal(rill_store_get(store, writes[i].key, &v), RILL_ENOENT);
        goto out;
    }
    rill_bytes_t out = {0};
    rc = rill_store_get_copy(store, S("c07"), &out);
    rill_bytes_free(&out);
    if (rc)
        goto out;
    rill_store_iter_t *it = rill_store_range(store, NULL, NULL, true);
    if (!it) {
        rc = RILL_ENOMEM;
        goto out;
    }
    rill_buf_t k, v;
    int n = 0;
    while (rill_store_iter_next(it, &k, &v))
        n++;
    rill_store_iter_close(it);
    assert_int_equal(n, 21);
    char long_prefix[80];
    memset(long_prefix, 'c', sizeof long_prefix);
    it = rill_store_prefix(store, buf(long_prefix, sizeof long_prefix));
    if (!it) {
        rc = RILL_ENOMEM;
        goto out;
    }
    rill_store_iter_close(it);
out:
    rill_store_close(store);
    return rc;
}

static void test_out_of_memory(void **state)
{
    fixture_t *fx = *state;
    char path[160];
    snprintf(path, sizeof path, "%s-oom", fx->path);
    long n;
    for (n = 0;; n++) {
        assert_int_equal(rill_store_wipe(path), 0);
        atomic_store(&n_failed, 0);
        long live = atomic_load(&n_live);
        atomic_store(&countdown, n);
        int rc = oom_scenario(fx, path);
        atomic_store(&countdown, -1);
        assert_int_equal(atomic_load(&n_live), live);
        if (atomic_load(&n_failed) == 0) {
            assert_int_equal(rc, 0); /* nothing failed: everything must have worked */
            break;
        }
        assert_int_not_equal(rc, 0);
    }
    assert_int_equal(rill_store_wipe(path), 0);
    printf("%s: out of memory at each of the %ld allocations of the scenario: all clean\n",
           fx->name, n);
}

/* ---- Transactions (exactly-once) ---- */

/* The keys a scan sees, joined by spaces ("" when none). */
static const char *keys_of(rill_store_t *store, const char *from, const char *to, bool reverse)
{
    static char out[256];
    rill_buf_t f = from ? rill_buf_str(from) : buf(NULL, 0), t = to ? rill_buf_str(to) : f;
    rill_store_iter_t *it = rill_store_range(store, from ? &f : NULL, to ? &t : NULL, reverse);
    assert_non_null(it);
    out[0] = 0;
    rill_buf_t k, v;
    while (rill_store_iter_next(it, &k, &v))
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%.*s", out[0] ? " " : "",
                 (int)k.len, (const char *)k.data);
    rill_store_iter_close(it);
    return out;
}

typedef struct {
    rill_store_t *store;
    char get_b[16]; /* what get_copy("b") found: the value, or "-" */
    char scan[64];
} other_t;

static void *other_main(void *arg)
{
    other_t *o = arg;
    rill_bytes_t out = {0};
    if (rill_store_get_copy(o->store, S("b"), &out) == 0)
        snprintf(o->get_b, sizeof o->get_b, "%.*s", (int)out.len, (const char *)out.data);
    else
        strcpy(o->get_b, "-");
    rill_bytes_free(&out);
    snprintf(o->scan, sizeof o->scan, "%s", keys_of(o->store, NULL, NULL, false));
    return NULL;
}

/* What another thread (an interactive query) sees of the store. */
static other_t seen_by_other_thread(rill_store_t *store)
{
    other_t o = {.store = store};
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, other_main, &o), 0);
    assert_int_equal(pthread_join(tid, NULL), 0);
    return o;
}

/* RocksDB: pending writes are the owner's until the commit, which records the offset; other
 * threads read committed data; a close without a commit discards. In memory: writes apply at
 * once and no offset is recorded. */
static void test_transactional_commit(void **state)
{
    fixture_t *fx = *state;
    const bool rocks = fx->backend == RILL_STORE_ROCKSDB;
    assert_int_equal(rill_store_committed_offset(fx->store), -1);
    put_str(fx->store, "a", "1");
    assert_int_equal(rill_store_commit(fx->store, 5), 0); /* not transactional yet */
    assert_int_equal(rill_store_committed_offset(fx->store), rocks ? 5 : -1);

    assert_int_equal(rill_store_set_transactional(fx->store), 0);
    put_str(fx->store, "b", "2");
    put_str(fx->store, "d", "4");
    assert_int_equal(rill_store_delete(fx->store, S("a")), 0);
    /* The owner reads its own writes, by get and through iterators, with their bounds. */
    assert_absent(fx->store, S("a"));
    assert_value(fx->store, S("b"), S("2"));
    assert_string_equal(keys_of(fx->store, NULL, NULL, false), "b d");
    assert_string_equal(keys_of(fx->store, NULL, NULL, true), "d b");
    assert_string_equal(keys_of(fx->store, "a", "c", false), "b");
    assert_string_equal(keys_of(fx->store, "a", "c", true), "b");
    assert_string_equal(keys_of(fx->store, "c", "d", true), "d");
    assert_string_equal(keys_of(fx->store, "c", NULL, false), "d");
    other_t o = seen_by_other_thread(fx->store);
    assert_string_equal(o.get_b, rocks ? "-" : "2");
    assert_string_equal(o.scan, rocks ? "a" : "b d");

    /* An iterator over pending writes must be closed before a commit. */
    rill_store_iter_t *it = rill_store_range(fx->store, NULL, NULL, false);
    assert_int_equal(rill_store_commit(fx->store, 9), rocks ? RILL_EINVAL : 0);
    if (rocks)
        assert_true(contains(rill_store_error(fx->store), "iterator"));
    rill_store_iter_close(it);
    assert_int_equal(rill_store_commit(fx->store, 9), 0);
    assert_int_equal(rill_store_committed_offset(fx->store), rocks ? 9 : -1);
    o = seen_by_other_thread(fx->store);
    assert_string_equal(o.get_b, "2");
    assert_string_equal(o.scan, "b d");

    /* A batch is all or none in the pending writes too; a commit without an offset keeps the
     * recorded one. */
    rill_store_write_t w[2] = {{S("e"), S("5")}, {S("b"), buf(NULL, 0)}};
    assert_int_equal(rill_store_write_batch(fx->store, w, 2), 0);
    assert_string_equal(keys_of(fx->store, NULL, NULL, false), "d e");
    assert_int_equal(rill_store_commit(fx->store, -1), 0);
    assert_int_equal(rill_store_committed_offset(fx->store), rocks ? 9 : -1);

    /* Uncommitted writes die with the store. */
    put_str(fx->store, "z", "26");
    rill_store_close(fx->store);
    fx->store = open_at(fx, fx->path);
    if (rocks) {
        assert_string_equal(keys_of(fx->store, NULL, NULL, false), "d e");
        assert_int_equal(rill_store_committed_offset(fx->store), 9);
    }
    assert_int_equal(rill_store_set_transactional(NULL), RILL_EINVAL);
    assert_int_equal(rill_store_commit(NULL, 1), RILL_EINVAL);
    assert_int_equal(rill_store_committed_offset(NULL), -1);
}

/* RocksDB: a process killed after a commit loses nothing committed and nothing else survives:
 * the commit went through the write-ahead log (the data was never flushed to a table). */
static void test_transactional_crash(void **state)
{
    fixture_t *fx = *state;
    if (fx->backend != RILL_STORE_ROCKSDB)
        skip();
    rill_store_close(fx->store);
    fx->store = NULL;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        rill_store_t *s = open_at(fx, fx->path);
        if (!s || rill_store_set_transactional(s) || rill_store_put(s, S("x"), S("1")) ||
            rill_store_put(s, S("y"), S("2")) || rill_store_commit(s, 7) ||
            rill_store_put(s, S("pending"), S("3")) || rill_store_delete(s, S("x")))
            _exit(1);
        kill(getpid(), SIGKILL); /* no close, no flush (and no leak check under valgrind) */
        _exit(2);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    fx->store = open_at(fx, fx->path);
    assert_string_equal(keys_of(fx->store, NULL, NULL, false), "x y");
    assert_int_equal(rill_store_committed_offset(fx->store), 7);
}

/* A range made after another closed sees every write since, within its own bounds, whatever the
 * bounds of the one before (the RocksDB backend refreshes a closed iterator for the next range
 * rather than making one), and an iterator open meanwhile keeps its own view. */
static void test_range_after_close(void **state)
{
    fixture_t *fx = *state;
    rill_store_t *store = fx->store;
    put_str(store, "a", "1");
    put_str(store, "c", "3");
    assert_string_equal(keys_of(store, "a", "c", false), "a c");
    put_str(store, "b", "2");
    assert_int_equal(rill_store_delete(store, S("a")), 0);
    assert_string_equal(keys_of(store, "b", "z", false), "b c");
    assert_string_equal(keys_of(store, "a", "b", true), "b");
    char big[101], want[128];
    memset(big, 'b', 100); /* a bound longer than the room the iterator had */
    big[100] = 0;
    put_str(store, big, "L");
    snprintf(want, sizeof want, "b %s c", big);
    assert_string_equal(keys_of(store, "b", "c", false), want);
    assert_string_equal(keys_of(store, big, big, false), big);
    rill_store_iter_t *open = rill_store_range(store, NULL, NULL, false);
    put_str(store, "d", "4");
    snprintf(want, sizeof want, "b %s c d", big);
    assert_string_equal(keys_of(store, NULL, NULL, false), want);
    assert_string_equal(keys_of(store, "c", NULL, false), "c d");
    int n = 0;
    rill_buf_t k, v;
    while (rill_store_iter_next(open, &k, &v))
        n++;
    assert_int_equal(n, 3); /* b, big, c: not d */
    rill_store_iter_close(open);
    assert_string_equal(keys_of(store, "c", "d", false), "c d");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_backend),
        T(test_get_put_overwrite_delete),
        T(test_null_value_deletes),
        T(test_empty_key_and_value),
        T(test_binary_keys),
        T(test_order),
        T(test_range_bounds),
        T(test_range_empty_store),
        T(test_prefix),
        T(test_write_batch),
        T(test_iter_snapshot),
        T(test_iter_close_early),
        T(test_range_after_close),
        T(test_iter_outlives_store),
        T(test_get_copy_from_another_thread),
        T(test_get_copy_replaces),
        T(test_flush_close_reopen),
        T(test_approx_count),
        T(test_many_keys),
        T(test_invalid_arguments),
        T(test_open_errors),
        T(test_env_usage),
        T(test_out_of_memory),
        T(test_transactional_commit),
        T(test_transactional_crash),
    };
    int failed = cmocka_run_group_tests_name("memory", tests, group_setup_memory, group_teardown);
    failed += cmocka_run_group_tests_name("rocksdb", tests, group_setup_rocksdb, group_teardown);
    return failed;
}
