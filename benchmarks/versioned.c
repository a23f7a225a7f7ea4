/*
 * bench-versioned: the cost of a versioned store's operations, and of the two read primitives
 * its layout could be built on, without a broker.
 *
 *   bench-versioned memory|rocksdb [N [KEYS]]
 *
 * Puts N versions in timestamp order (1 ms apart, KEYS keys in turn, 32-byte values; history
 * retention 10 s, segments 5 s), then N/10 puts out of order (up to 5 s late), N latest gets, N
 * gets as of a time up to 5 s back, each on a random key. Then the primitives, on a plain
 * key-value store holding the same number of entries laid out as key || timestamp: a point get,
 * and the range seek that an as-of read of such a layout needs (a reverse range from key || 0 to
 * key || t, first entry). Prints nanoseconds per operation.
 */
#include <rill/statestore.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RETENTION 10000
#define SEGMENT   5000

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* random() from a fixed seed (main): every run draws the same keys and times. */
static uint64_t next_rand(void)
{
    return (uint64_t)random();
}

static rill_buf_t key_of(char *buf, uint64_t k)
{
    int n = snprintf(buf, 24, "key-%08" PRIu64, k);
    return (rill_buf_t){buf, (size_t)n};
}

static void report(const char *what, double start, long n)
{
    printf("%-34s %9.0f ns/op\n", what, (now_ns() - start) / (double)n);
}

static void fail(const char *what, int rc)
{
    fprintf(stderr, "bench-versioned: %s: %s\n", what, rill_strerror(rc));
    exit(1);
}

static void bench_versioned(rill_store_backend_t backend, rill_store_env_t *env, const char *dir,
                            long n, long keys)
{
    char err[256], path[256], kb[24], value[32];
    memset(value, 'v', sizeof value);
    snprintf(path, sizeof path, "%s/versioned", dir);
    rill_versioned_store_t *vs =
        rill_versioned_store_open(backend, env, path, RETENTION, SEGMENT, err, sizeof err);
    if (!vs) {
        fprintf(stderr, "bench-versioned: %s\n", err);
        exit(1);
    }
    rill_buf_t v = {value, sizeof value}, out;
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        int rc = rill_versioned_store_put(vs, key_of(kb, (uint64_t)i % keys), v, i);
        if (rc)
            fail("put", rc);
    }
    report("versioned put, in order", t0, n);
    t0 = now_ns();
    for (long i = 0; i < n / 10; i++) {
        int64_t ts = n - 1 - (int64_t)(next_rand() % (RETENTION / 2));
        int rc = rill_versioned_store_put(vs, key_of(kb, next_rand() % keys), v, ts);
        if (rc)
            fail("late put", rc);
    }
    report("versioned put, up to 5 s late", t0, n / 10);
    t0 = now_ns();
    long hits = 0;
    for (long i = 0; i < n; i++)
        hits += rill_versioned_store_get(vs, key_of(kb, next_rand() % keys), &out, NULL) == 0;
    report("versioned get (latest)", t0, n);
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        int64_t ts = n - 1 - (int64_t)(next_rand() % (RETENTION / 2));
        hits += rill_versioned_store_get_as_of(vs, key_of(kb, next_rand() % keys), ts, &out, NULL,
                                               NULL) == 0;
    }
    report("versioned get as of, up to 5 s back", t0, n);
    printf("%-34s %9ld of %ld\n", "  hits", hits, 2 * n);
    rill_versioned_store_close(vs);
}

/* key || timestamp, big-endian: one key's versions in time order. */
static rill_buf_t layout_of(uint8_t *buf, uint64_t k, int64_t ts)
{
    char kb[24];
    rill_buf_t key = key_of(kb, k);
    memcpy(buf, key.data, key.len);
    uint64_t u = (uint64_t)ts ^ (UINT64_C(1) << 63);
    for (int i = 0; i < 8; i++)
        buf[key.len + i] = (uint8_t)(u >> (56 - 8 * i));
    return (rill_buf_t){buf, key.len + 8};
}

static void bench_primitives(rill_store_backend_t backend, rill_store_env_t *env, const char *dir,
                             long n, long keys)
{
    char err[256], path[256], value[32];
    memset(value, 'v', sizeof value);
    snprintf(path, sizeof path, "%s/plain", dir);
    rill_store_t *store = rill_store_open(backend, env, path, err, sizeof err);
    if (!store) {
        fprintf(stderr, "bench-versioned: %s\n", err);
        exit(1);
    }
    uint8_t a[40], b[40];
    for (long i = 0; i < n; i++) {
        int rc = rill_store_put(store, layout_of(a, (uint64_t)i % keys, i),
                                (rill_buf_t){value, sizeof value});
        if (rc)
            fail("plain put", rc);
    }
    rill_buf_t k, v;
    long hits = 0;
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        long j = (long)(next_rand() % (uint64_t)n);
        hits += rill_store_get(store, layout_of(a, (uint64_t)j % keys, j), &v) == 0;
    }
    report("plain store: point get", t0, n);
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        int64_t ts = n - 1 - (int64_t)(next_rand() % (RETENTION / 2));
        uint64_t key = next_rand() % keys;
        rill_buf_t lo = layout_of(a, key, 0), hi = layout_of(b, key, ts);
        rill_store_iter_t *it = rill_store_range(store, &lo, &hi, true);
        hits += it && rill_store_iter_next(it, &k, &v);
        rill_store_iter_close(it);
    }
    report("plain store: range seek (floor)", t0, n);
    printf("%-34s %9ld of %ld\n", "  hits", hits, 2 * n);
    rill_store_close(store);
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "memory") && strcmp(argv[1], "rocksdb"))) {
        fprintf(stderr, "usage: bench-versioned memory|rocksdb [N [KEYS]]\n");
        return 2;
    }
    rill_store_backend_t backend =
        strcmp(argv[1], "memory") ? RILL_STORE_ROCKSDB : RILL_STORE_IN_MEMORY;
    long n = argc > 2 ? atol(argv[2]) : 200000, keys = argc > 3 ? atol(argv[3]) : 1000;
    if (n < 10 || keys < 1) {
        fprintf(stderr, "bench-versioned: N >= 10 and KEYS >= 1\n");
        return 2;
    }
    srandom(1);
    char dir[] = "/tmp/bench-versioned-XXXXXX", err[256];
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    rill_store_env_t *env = NULL;
    if (backend == RILL_STORE_ROCKSDB && !(env = rill_store_env_new(256 << 20, err, sizeof err))) {
        fprintf(stderr, "bench-versioned: %s\n", err);
        return 1;
    }
    printf("%s, %ld versions over %ld keys\n", argv[1], n, keys);
    bench_versioned(backend, env, dir, n, keys);
    bench_primitives(backend, env, dir, n, keys);
    rill_store_env_destroy(env);
    rill_store_wipe(dir);
    return 0;
}
