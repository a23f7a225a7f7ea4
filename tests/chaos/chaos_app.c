/*
 * rill-chaos-app: the app under test of tests/chaos/run (kill and count).
 *
 *   chaos-in (key: string, value: a unique id string)
 *     ├─> passthrough ─────────────────────────────> chaos-pass   (the same key and value)
 *     └─> group_by_key ─> count (store "counts") ─> chaos-counts (key -> int64 count)
 *
 * Every rill_main() option applies (--bootstrap-servers, --application-id, --config k=v ...,
 * --threads); it runs until SIGINT or SIGTERM. The runner kills it with SIGKILL at random moments
 * and restarts it over the same state.dir, and an independent Java verifier then checks that
 * every input id appears exactly once in chaos-pass and that the last count of every key is the
 * number of its input records.
 *
 *   rill-chaos-app [options] [-- INPUT PASS-OUTPUT COUNTS-OUTPUT]
 */
#include <rill/main.h>

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *input, *pass, *counts;
} chaos_args_t;

static int build(rill_topology_t *topo, rill_conf_t *conf, void *ud, char *errstr,
                 size_t errstr_size)
{
    chaos_args_t *args = ud;
    rill_source_opts_t in = {.key_serde = rill_serde_string(), .value_serde = rill_serde_string()};
    rill_stream_t *source = rill_stream_as(rill_stream_from_topic(topo, args->input, &in), "in");

    /* Branch 1: every record, unchanged. */
    rill_sink_opts_t pass = {.key_serde = rill_serde_string(), .value_serde = rill_serde_string()};
    if (rill_stream_to(source, args->pass, &pass)) {
        snprintf(errstr, errstr_size, "cannot add the sink to '%s'", args->pass);
        return RILL_EINVAL;
    }

    /* Branch 2: a count per key; the key is the input's, so no repartition. */
    rill_table_t *counts =
        rill_grouped_count(rill_stream_group_by_key(source, NULL),
                           &(rill_materialized_t){.name = "counts", .backend = RILL_STORE_ROCKSDB});
    rill_sink_opts_t out = {.key_serde = rill_serde_string(), .value_serde = rill_serde_int64()};
    if (rill_stream_to(rill_stream_as(rill_table_to_stream(counts), "count-updates"), args->counts,
                       &out)) {
        snprintf(errstr, errstr_size, "cannot add the sink to '%s'", args->counts);
        return RILL_EINVAL;
    }
    return 0;
}

int main(int argc, char **argv)
{
    chaos_args_t args = {"chaos-in", "chaos-pass", "chaos-counts"};
    int n = argc;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            n = i;
            if (argc - i - 1 != 3) {
                fprintf(stderr, "usage: rill-chaos-app [options] [-- INPUT PASS-OUTPUT "
                                "COUNTS-OUTPUT] (--help for options)\n");
                return 2;
            }
            args.input = argv[i + 1];
            args.pass = argv[i + 2];
            args.counts = argv[i + 3];
            break;
        }
    return rill_main(n, argv, "rill-chaos-app", build, &args);
}
