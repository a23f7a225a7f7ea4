/*
 * bench-dedupe-cost: the per-record cost of rill_stream_dedupe without a broker, for callgrind.
 * N records "e<j>" (key and header event-id), each sent twice: record i carries id i / 2, at
 * t0 + i ms, so every other record is a duplicate 1 ms after the first; a TTL of 60 s; bytes
 * keys and 100-byte values; the store in memory or RocksDB (with its changelog), cached unless
 * "nocache". Dedupe by key, or by header with "header". Only pipe_all() is worth counting:
 *
 *   valgrind --tool=callgrind --toggle-collect=pipe_all bench-dedupe-cost 20000 memory
 *
 * gives Ir / N as the instructions per record through the test driver (piping, the sink and
 * the driver's copy of each output included); the inclusive cost of dedupe_process, less that
 * of the forwards it makes, is the dedupe's own. It prints the outputs and the duplicates.
 */
#include <rill/dsl.h>
#include <rill/test_driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALUE_LEN 100
#define TTL_MS    60000
#define BASE_TIME INT64_C(1700000000000)

/* The measured loop: every record piped, every output read back. */
__attribute__((noinline)) static long pipe_all(rill_test_driver_t *td, long n)
{
    long outputs = 0;
    char key[24], value[VALUE_LEN];
    memset(value, 'v', sizeof value);
    for (long i = 0; i < n; i++) {
        int klen = snprintf(key, sizeof key, "e%ld", i / 2);
        rill_header_t h = {"event-id", {key, (size_t)klen}};
        if (rill_test_driver_pipe_headers(td, "in", 0, (rill_buf_t){key, (size_t)klen},
                                          (rill_buf_t){value, VALUE_LEN}, BASE_TIME + i, &h, 1)) {
            fprintf(stderr, "pipe: %s\n", rill_test_driver_error(td));
            exit(1);
        }
        rill_test_record_t r;
        while (rill_test_driver_read(td, "out", &r) == 0)
            outputs++;
    }
    return outputs;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    bool rocksdb = argc > 2 && strcmp(argv[2], "rocksdb") == 0;
    bool header = false, nocache = false;
    for (int a = 3; a < argc; a++) {
        header |= strcmp(argv[a], "header") == 0;
        nocache |= strcmp(argv[a], "nocache") == 0;
    }
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t in = {.key_serde = rill_serde_bytes(), .value_serde = rill_serde_bytes()};
    rill_materialized_t m = {.backend = rocksdb ? RILL_STORE_ROCKSDB : RILL_STORE_IN_MEMORY,
                             .no_caching = nocache};
    rill_stream_t *s = rill_stream_dedupe(
        rill_stream_from_topic(topo, "in", &in),
        header ? rill_dedupe_by_header("event-id") : rill_dedupe_by_key(), TTL_MS, &m);
    rill_stream_to(s, "out", NULL);
    char err[512];
    rill_test_driver_t *td = rill_test_driver_new(topo, NULL, 0, err, sizeof err);
    if (!td) {
        fprintf(stderr, "bench-dedupe-cost: %s\n", err);
        return 1;
    }
    long outputs = pipe_all(td, n);
    printf("dedupe: %ld records, %ld out, %lld duplicates dropped (%s%s, by %s)\n", n, outputs,
           (long long)rill_test_driver_metric(td, "duplicates-dropped"),
           rocksdb ? "RocksDB" : "in memory", nocache ? ", no cache" : "",
           header ? "header" : "key");
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
    return outputs == n - n / 2 ? 0 : 1;
}
