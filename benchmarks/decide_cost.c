/*
 * bench-decide-cost: the per-command cost of rill_stream_decide without a broker, for callgrind.
 * N int64 commands over 1,000 accounts (benchmarks/decide_topo.h: odd ones deposit, even ones
 * withdraw twice their value, rejected when they overdraw), each with a correlation-id header;
 * the store in memory or RocksDB (with its changelog), cached unless "nocache". Only pipe_all()
 * is worth counting:
 *
 *   valgrind --tool=callgrind --toggle-collect=pipe_all bench-decide-cost 20000 memory
 *
 * gives Ir / N as the instructions per command through the test driver (piping, the sinks and
 * the driver's copy of each output included); the inclusive cost of decide_process, less that
 * of the forwards it makes, is the decide node's own. It prints the events and the replies.
 */
#include "decide_topo.h"

#include <rill/test_driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCOUNTS  1000
#define BASE_TIME INT64_C(1700000000000)

/* The measured loop: every command piped, every output read back. */
__attribute__((noinline)) static long pipe_all(rill_test_driver_t *td, long n, long *replies)
{
    long events = 0;
    uint64_t rng = 7;
    char key[24], corr[24];
    for (long i = 0; i < n; i++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        int klen = snprintf(key, sizeof key, "acct-%04d", (int)((rng >> 33) % ACCOUNTS));
        int clen = snprintf(corr, sizeof corr, "c%ld", i);
        uint8_t be[8];
        int64_t v = (int64_t)(rng >> 54);
        for (int b = 0; b < 8; b++)
            be[b] = (uint8_t)((uint64_t)v >> (56 - 8 * b));
        rill_header_t h = {"correlation-id", {corr, (size_t)clen}};
        if (rill_test_driver_pipe_headers(td, "in", 0, (rill_buf_t){key, (size_t)klen},
                                          (rill_buf_t){be, 8}, BASE_TIME + i, &h, 1)) {
            fprintf(stderr, "pipe: %s\n", rill_test_driver_error(td));
            exit(1);
        }
        rill_test_record_t r;
        while (rill_test_driver_read(td, "out", &r) == 0)
            events++;
        while (rill_test_driver_read(td, "replies", &r) == 0)
            (*replies)++;
    }
    return events;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    bool rocksdb = argc > 2 && strcmp(argv[2], "rocksdb") == 0;
    bool nocache = argc > 3 && strcmp(argv[3], "nocache") == 0;
    rill_topology_t *topo =
        decide_topology(rocksdb ? RILL_STORE_ROCKSDB : RILL_STORE_IN_MEMORY, nocache);
    char err[512];
    rill_test_driver_t *td = topo ? rill_test_driver_new(topo, NULL, 0, err, sizeof err) : NULL;
    if (!td) {
        fprintf(stderr, "bench-decide-cost: %s\n", topo ? err : "no topology");
        return 1;
    }
    long replies = 0, events = pipe_all(td, n, &replies);
    printf("decide: %ld commands, %ld events, %ld replies (%s%s)\n", n, events, replies,
           rocksdb ? "RocksDB" : "in memory", nocache ? ", no cache" : "");
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
    return replies == n ? 0 : 1;
}
