/*
 * bench-join-cost: the per-record cost of the stream-stream-join workload (WORKLOADS.md) without
 * a broker, for callgrind. The topology is bench-rill-pipe's: bytes keys and values, an inner
 * join of 1,000 ms both ways with a 60,000 ms grace, the joiner concatenating the two values,
 * on the default (RocksDB) stores with changelogs. The input is bench-load's: N records a side,
 * keys "k<i % 1000>", 100-byte values, left record i at t0 + i and right record i 250 ms later,
 * piped left i then right i through the topology test driver; each output is read back at once.
 * Only pipe_all() is worth counting:
 *
 *   valgrind --tool=callgrind --toggle-collect=pipe_all bench-join-cost 20000
 *
 * gives Ir / (2 N) as the instructions per record. It prints the number of outputs and the
 * checksum bench-rill-pipe prints (the sum of the FNV-1a 64 hashes of key, "\n", value), to
 * compare two builds.
 */
#include <rill/dsl.h>
#include <rill/test_driver.h>

#include "join_ops.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEYS      1000
#define VALUE_LEN 100
#define RIGHT_LAG 250
#define WINDOW_MS 1000
#define GRACE_MS  60000
#define BASE_TIME INT64_C(1700000000000)

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * UINT64_C(1099511628211);
    return h;
}

static void fill_value(char *v, long i, char side)
{
    for (int k = 0; k < VALUE_LEN; k++)
        v[k] = (char)('a' + (i + k) % 26);
    v[0] = side;
}

/* The measured loop: left i, then right i, and every output read back. */
__attribute__((noinline)) static long pipe_all(rill_test_driver_t *td, long n, uint64_t *sum)
{
    long outputs = 0;
    char key[16], value[VALUE_LEN];
    for (long i = 0; i < 2 * n; i++) {
        long r = i / 2;
        bool left = i % 2 == 0;
        int klen = snprintf(key, sizeof key, "k%ld", r % KEYS);
        fill_value(value, r, left ? 'L' : 'R');
        int64_t ts = BASE_TIME + r + (left ? 0 : RIGHT_LAG);
        if (rill_test_driver_pipe(td, left ? "left" : "right", 0, (rill_buf_t){key, (size_t)klen},
                                  (rill_buf_t){value, VALUE_LEN}, ts) != 0) {
            fprintf(stderr, "bench-join-cost: record %ld failed: %s\n", i,
                    rill_test_driver_error(td));
            exit(1);
        }
        rill_test_record_t rec;
        while (rill_test_driver_read(td, "out", &rec) == 0) {
            uint64_t h = fnv1a(UINT64_C(14695981039346656037), rec.key.data, rec.key.len);
            h = fnv1a(h, "\n", 1);
            *sum += fnv1a(h, rec.value.data, rec.value.len);
            outputs++;
        }
    }
    return outputs;
}

int main(int argc, char **argv)
{
    long n = argc == 2 ? atol(argv[1]) : 0;
    if (n <= 0) {
        fprintf(stderr, "usage: bench-join-cost N (records a side)\n");
        return 2;
    }
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t in = {.key_serde = rill_serde_bytes(), .value_serde = rill_serde_bytes()};
    rill_stream_t *l = rill_stream_from_topic(topo, "left", &in);
    rill_stream_t *r = rill_stream_from_topic(topo, "right", &in);
    rill_join_opts_t jo = {.value_serde = rill_serde_bytes()};
    rill_stream_t *j = rill_stream_join(l, r, ssj_concat, NULL,
                                        rill_join_windows(SSJ_WINDOW_MS, SSJ_GRACE_MS), &jo);
    rill_sink_opts_t out = {.key_serde = rill_serde_bytes(), .value_serde = rill_serde_bytes()};
    if (rill_stream_to(j, "out", &out)) {
        fprintf(stderr, "bench-join-cost: cannot build the topology\n");
        return 1;
    }
    char err[256];
    rill_test_driver_t *td = rill_test_driver_new(topo, NULL, 0, err, sizeof err);
    if (!td) {
        fprintf(stderr, "bench-join-cost: %s\n", err);
        return 1;
    }
    uint64_t sum = 0;
    long outputs = pipe_all(td, n, &sum);
    long expected = n + (n > KEYS ? n - KEYS : 0);
    printf("records=%ld outputs=%ld expected=%ld checksum=%016" PRIx64 "\n", 2 * n, outputs,
           expected, sum);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
    return outputs == expected ? 0 : 1;
}
