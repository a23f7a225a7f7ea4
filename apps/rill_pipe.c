/*
 * rill-pipe: copies one topic to another, unchanged (bytes serdes), with every option of
 * rill_main(). The smallest compiled app: a template for new ones, and the subject of the
 * shutdown tests.
 *
 *   rill-pipe [--bootstrap-servers HOSTS] [--config k=v ...] -- FROM TO
 */
#include <rill/main.h>

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *from, *to;
} pipe_args_t;

static int build(rill_topology_t *topo, rill_conf_t *conf, void *ud, char *errstr,
                 size_t errstr_size)
{
    pipe_args_t *args = ud;
    rill_source_opts_t in = {.key_serde = rill_serde_bytes(), .value_serde = rill_serde_bytes()};
    rill_stream_t *s = rill_stream_as(rill_stream_from_topic(topo, args->from, &in), "from");
    return rill_stream_to(s, args->to, NULL);
}

int main(int argc, char **argv)
{
    pipe_args_t args = {NULL, NULL};
    int n = argc;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            n = i;
            if (i + 2 < argc) {
                args.from = argv[i + 1];
                args.to = argv[i + 2];
            }
            break;
        }
    bool help = false;
    for (int i = 1; i < n; i++)
        help = help || strcmp(argv[i], "--help") == 0;
    if (!help && (!args.from || !args.to)) {
        fprintf(stderr, "usage: rill-pipe [options] -- FROM-TOPIC TO-TOPIC (--help for options)\n");
        return 2;
    }
    return rill_main(n, argv, "rill-pipe", build, &args);
}
