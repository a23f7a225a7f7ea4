/*
 * What the pipe benchmarks share: the clocks they measure with and their command line, so the
 * raw pipe and Rill are driven and timed the same way.
 *
 *   --bootstrap B --input T --output O --group G --records N
 *   [--commit-interval MS] [--timeout S] [--consumer-set KEY=VALUE]...
 */
#ifndef RILL_BENCH_COMMON_H
#define RILL_BENCH_COMMON_H

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of the whole process (every thread, librdkafka's included). */
static inline double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

typedef struct {
    const char *bootstrap, *input, *output, *group;
    long long records;
    long commit_interval_ms;
    long timeout_s;
    const char *consumer_set[32][2]; /* librdkafka consumer properties, for experiments */
    size_t nconsumer_set;
} pipe_opts_t;

static inline void pipe_usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s --bootstrap B --input T --output O --group G --records N "
            "[--commit-interval MS] [--timeout S] [--consumer-set K=V]...\n",
            prog);
    exit(2);
}

/* Parses the command line into o (defaults: commit 1000 ms, timeout 600 s); exits with the
 * usage on a mistake. The KEY=VALUE strings of --consumer-set are split in place. */
static inline void pipe_opts_parse(pipe_opts_t *o, int argc, char **argv, const char *prog)
{
    static const struct option longopts[] = {
        {"bootstrap", required_argument, NULL, 'b'},
        {"input", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'},
        {"group", required_argument, NULL, 'g'},
        {"records", required_argument, NULL, 'n'},
        {"commit-interval", required_argument, NULL, 'c'},
        {"timeout", required_argument, NULL, 't'},
        {"consumer-set", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->records = -1;
    o->commit_interval_ms = 1000;
    o->timeout_s = 600;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        char *eq;
        switch (c) {
        case 'b':
            o->bootstrap = optarg;
            break;
        case 'i':
            o->input = optarg;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'g':
            o->group = optarg;
            break;
        case 'n':
            o->records = atoll(optarg);
            break;
        case 'c':
            o->commit_interval_ms = atol(optarg);
            break;
        case 't':
            o->timeout_s = atol(optarg);
            break;
        case 's':
            eq = strchr(optarg, '=');
            if (!eq || o->nconsumer_set == sizeof o->consumer_set / sizeof o->consumer_set[0])
                pipe_usage(prog);
            *eq = 0;
            o->consumer_set[o->nconsumer_set][0] = optarg;
            o->consumer_set[o->nconsumer_set++][1] = eq + 1;
            break;
        default:
            pipe_usage(prog);
        }
    }
    if (!o->bootstrap || !o->input || !o->output || !o->group || o->records < 1 ||
        o->commit_interval_ms < 1 || o->timeout_s < 1)
        pipe_usage(prog);
}

#endif
