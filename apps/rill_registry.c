/*
 * rill-registry: a schema registry speaking Confluent Schema Registry's REST API, stored in a
 * compacted Kafka topic (include/rill/registry.h, docs/schemas.md).
 *
 *   rill-registry [registry.properties] [--set KEY=VALUE ...] [--verbose]
 */
#include <rill/registry.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static void print_line(void *ud, const char *line)
{
    fprintf(ud, "%s\n", line);
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: rill-registry [FILE.properties] [--set KEY=VALUE ...] [--verbose]\n"
            "Serves Confluent Schema Registry's REST API (subjects, versions, schemas by id,\n"
            "compatibility, config, mode) and stores everything in a compacted Kafka topic,\n"
            "which any number of instances share: they elect a leader, which writes.\n"
            "Without kafkastore.bootstrap.servers it stores in an embedded (in-memory) cluster.\n"
            "Stops on SIGINT or SIGTERM.\n\n"
            "Configuration keys (in the file, or with --set):\n");
    rill_registry_conf_describe(print_line, out);
}

int main(int argc, char **argv)
{
    char err[1024];
    rill_registry_conf_t *conf = rill_registry_conf_new();
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            rill_registry_conf_destroy(conf);
            return 0;
        } else if (strcmp(argv[i], "--verbose") == 0) {
            verbose = true;
        } else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
            char *kv = argv[++i];
            char *eq = strchr(kv, '=');
            if (!eq) {
                fprintf(stderr, "rill-registry: --set %s: expected KEY=VALUE\n", kv);
                rill_registry_conf_destroy(conf);
                return 2;
            }
            *eq = 0;
            if (rill_registry_conf_set(conf, kv, eq + 1, err, sizeof err)) {
                fprintf(stderr, "rill-registry: %s\n", err);
                rill_registry_conf_destroy(conf);
                return 2;
            }
        } else if (argv[i][0] != '-') {
            if (rill_registry_conf_load(conf, argv[i], err, sizeof err)) {
                fprintf(stderr, "rill-registry: %s\n", err);
                rill_registry_conf_destroy(conf);
                return 2;
            }
        } else {
            fprintf(stderr, "rill-registry: unknown option %s (--help lists them)\n", argv[i]);
            rill_registry_conf_destroy(conf);
            return 2;
        }
    }
    rill_set_log_cb(NULL, NULL, verbose ? RILL_LOG_DEBUG : RILL_LOG_INFO);
    rill_registry_t *reg = rill_registry_new(conf, err, sizeof err);
    if (!reg) {
        fprintf(stderr, "rill-registry: %s\n", err);
        rill_registry_conf_destroy(conf);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (rill_registry_start(reg, err, sizeof err)) {
        fprintf(stderr, "rill-registry: %s\n", err);
        rill_registry_destroy(reg);
        return 1;
    }
    /* The registry runs on its own threads; this one waits for a signal. */
    while (!stopping)
        pause();
    rill_registry_destroy(reg);
    return 0;
}
