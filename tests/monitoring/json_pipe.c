/*
 * rill-monitoring-json-pipe: the app of the monitoring end-to-end test (tests/monitoring/run_e2e).
 * Copies FROM to TO with string keys and JSON values, so a value that is not JSON fails to
 * deserialize: with deserialization.exception.handler=continue and a dead letter queue
 * (errors.dead.letter.queue.topic.name) such a record is skipped and dead-lettered, which the
 * RillDeadLetters alert watches. Every option of rill_main() (metrics.listen among them).
 *
 *   rill-monitoring-json-pipe FROM TO [--bootstrap-servers HOSTS] [--config k=v ...]
 */
#include <rill/main.h>

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *from, *to;
} json_pipe_args_t;

static int build(rill_topology_t *topo, rill_conf_t *conf, void *ud, char *errstr,
                 size_t errstr_size)
{
    (void)conf;
    (void)errstr;
    (void)errstr_size;
    json_pipe_args_t *args = ud;
    rill_source_opts_t in = {.key_serde = rill_serde_string(), .value_serde = rill_serde_json()};
    rill_stream_t *s = rill_stream_as(rill_stream_from_topic(topo, args->from, &in), "from");
    return rill_stream_to(s, args->to, NULL);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argv[1][0] == '-' || argv[2][0] == '-') {
        fprintf(stderr,
                "usage: rill-monitoring-json-pipe FROM-TOPIC TO-TOPIC [rill_main options]\n");
        return 2;
    }
    json_pipe_args_t args = {argv[1], argv[2]};
    /* rill_main() reads the options after the topics; argv[0] stays the program's name. */
    argv[2] = argv[0];
    return rill_main(argc - 2, argv + 2, "rill-monitoring-json-pipe", build, &args);
}
