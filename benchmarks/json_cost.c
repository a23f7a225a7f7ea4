/*
 * bench-json-cost: the per-record cost of the stateless Nexmark workloads (q0, q1, q2) without a
 * broker, for callgrind. N bids from nexmark_gen.h are generated first, then piped through the
 * topology bench-rill-pipe builds for the workload (nexmark_ops.h: string keys, JSON values),
 * run by the topology test driver; each output is read back at once so the driver holds none.
 * Only pipe_all() is worth counting:
 *
 *   valgrind --tool=callgrind --toggle-collect=pipe_all bench-json-cost q1 20000
 *
 * gives Ir / N as the instructions per record of deserialize, processors, serialize and the
 * driver's own work. --dump FILE writes every output value, one a line, to compare two builds.
 */
#include <rill/dsl.h>
#include <rill/test_driver.h>

#include "nexmark_gen.h"
#include "nexmark_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char key[24];
    char value[NEXMARK_JSON_MAX];
    size_t len;
    int64_t time;
} bid_t;

static rill_topology_t *build(const char *workload)
{
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t in = {.key_serde = rill_serde_string(), .value_serde = rill_serde_json()};
    rill_stream_t *s = rill_stream_from_topic(topo, "bids", &in);
    if (!strcmp(workload, "q1"))
        s = rill_stream_map_values(s, to_euros, NULL);
    else if (!strcmp(workload, "q2"))
        s = rill_stream_map_values(rill_stream_filter(s, auction_mod_123, NULL), auction_price,
                                   NULL);
    else if (strcmp(workload, "q0") != 0)
        return NULL;
    rill_sink_opts_t out = {.key_serde = in.key_serde, .value_serde = in.value_serde};
    if (rill_stream_to(s, "out", &out))
        return NULL;
    return topo;
}

/* The measured loop: every bid in, every output out (and, with dump, written down). */
__attribute__((noinline)) static long pipe_all(rill_test_driver_t *td, const bid_t *bids, long n,
                                               FILE *dump)
{
    long outputs = 0;
    for (long i = 0; i < n; i++) {
        rill_buf_t key = {bids[i].key, strlen(bids[i].key)};
        rill_buf_t value = {bids[i].value, bids[i].len};
        if (rill_test_driver_pipe(td, "bids", 0, key, value, bids[i].time) != 0) {
            fprintf(stderr, "bench-json-cost: bid %ld failed: %s\n", i, rill_test_driver_error(td));
            exit(1);
        }
        rill_test_record_t rec;
        while (rill_test_driver_read(td, "out", &rec) == 0) {
            outputs++;
            if (dump)
                fprintf(dump, "%.*s\n", (int)rec.value.len, (const char *)rec.value.data);
        }
    }
    return outputs;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench-json-cost q0|q1|q2 N [--dump FILE]\n");
        return 2;
    }
    long n = atol(argv[2]);
    FILE *dump = NULL;
    if (argc == 5 && !strcmp(argv[3], "--dump") && !(dump = fopen(argv[4], "w"))) {
        perror(argv[4]);
        return 1;
    }
    rill_topology_t *topo = build(argv[1]);
    if (!topo || n <= 0) {
        fprintf(stderr, "bench-json-cost: unknown workload '%s' or bad N '%s'\n", argv[1], argv[2]);
        return 2;
    }

    nexmark_config_t cfg;
    nexmark_config_init(&cfg);
    bid_t *bids = calloc((size_t)n, sizeof *bids);
    if (!bids)
        return 1;
    nexmark_event_t ev;
    for (long i = 0, ev_n = 0; i < n; ev_n++) {
        nexmark_event(&cfg, (uint64_t)ev_n, &ev);
        if (ev.kind != NEXMARK_BID)
            continue;
        snprintf(bids[i].key, sizeof bids[i].key, "%" PRId64, ev.bid.auction);
        bids[i].len = nexmark_json(&ev, bids[i].value, sizeof bids[i].value);
        bids[i].time = ev.date_time;
        i++;
    }

    char err[256];
    rill_test_driver_t *td = rill_test_driver_new(topo, NULL, 0, err, sizeof err);
    if (!td) {
        fprintf(stderr, "bench-json-cost: %s\n", err);
        return 1;
    }
    long outputs = pipe_all(td, bids, n, dump);
    printf("workload=%s records=%ld outputs=%ld\n", argv[1], n, outputs);
    rill_test_driver_destroy(td);
    rill_topology_unref(topo);
    free(bids);
    if (dump)
        fclose(dump);
    return 0;
}
