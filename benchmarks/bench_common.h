/*
 * What the pipe benchmarks share: the clocks they measure with and their command line, so the
 * raw pipe and Rill are driven and timed the same way.
 *
 *   --bootstrap B --input T --output O --group G --records N [--workload W]
 *   [--warmup N] [--commit-interval MS] [--guarantee G] [--timeout S]
 *   [--consumer-set KEY=VALUE]... [--finals FILE]
 *
 * The workloads and what they print are specified in benchmarks/WORKLOADS.md.
 */
#ifndef RILL_BENCH_COMMON_H
#define RILL_BENCH_COMMON_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

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

/* A field of /proc/self/status in kB ("VmRSS", "VmHWM"), or -1. */
static inline long proc_status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            kb = atol(line + n + 1);
            break;
        }
    if (f)
        fclose(f);
    return kb;
}

/* When this process started, in milliseconds since the epoch, so "time to first output" includes
 * the loader and everything before main(), as the JVM's start time does for the peer. The start
 * is the process's start in clock ticks since boot (/proc/self/stat, field 22: 10 ms steps),
 * set against CLOCK_BOOTTIME now; /proc/stat's btime is whole seconds, and a start taken from it
 * was up to a second early. */
static inline double process_start_ms(void)
{
    FILE *f = fopen("/proc/self/stat", "r");
    char buf[1024] = "";
    size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[len] = 0;
    /* Field 22, counted after the command name, which is in parentheses and may hold spaces. */
    char *p = strrchr(buf, ')');
    unsigned long long ticks = 0;
    for (int field = 2; p && *p && field < 22; p++)
        if (*p == ' ' && ++field == 22)
            ticks = strtoull(p + 1, NULL, 10);
    struct timespec boot, real;
    clock_gettime(CLOCK_BOOTTIME, &boot);
    clock_gettime(CLOCK_REALTIME, &real);
    double since_start_ms = ((double)boot.tv_sec * 1000.0 + (double)boot.tv_nsec / 1e6) -
                            (double)ticks * 1000.0 / (double)sysconf(_SC_CLK_TCK);
    return (double)real.tv_sec * 1000.0 + (double)real.tv_nsec / 1e6 - since_start_ms;
}

/* Milliseconds since the epoch. */
static inline double wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* The workloads of WORKLOADS.md. */
typedef enum {
    W_PASSTHROUGH,
    W_FILTER_MAP,
    W_NEXMARK_Q0,
    W_NEXMARK_Q1,
    W_NEXMARK_Q2,
    W_NEXMARK_Q5,     /* windows: Rill and Kafka Streams only */
    W_NEXMARK_Q7,     /* windows: Rill and Kafka Streams only */
    W_WINDOWED_COUNT, /* windows, on bytes: Rill and Kafka Streams only */
    W_NEXMARK_Q3,     /* joins (table-table): Rill and Kafka Streams only */
    W_NEXMARK_Q8,     /* joins (stream-stream, windowed): Rill and Kafka Streams only */
    W_STREAM_JOIN,    /* joins (stream-stream), on bytes: Rill and Kafka Streams only */
} workload_t;

static const char *const workload_names[] = {
    "passthrough", "filter-map",     "nexmark-q0", "nexmark-q1", "nexmark-q2",        "nexmark-q5",
    "nexmark-q7",  "windowed-count", "nexmark-q3", "nexmark-q8", "stream-stream-join"};

/* Whether a workload joins two inputs (WORKLOADS.md, "Joins"): --input names both, "L,R". */
static inline bool workload_join(workload_t w)
{
    return w == W_NEXMARK_Q3 || w == W_NEXMARK_Q8 || w == W_STREAM_JOIN;
}

/* Whether a workload keeps state in windows or joins (WORKLOADS.md: "Windowed Nexmark",
 * "Windowed count", "Joins"), timed as the windowed ones, which the raw pipe, a plain
 * consume-transform-produce loop, does not implement. */
static inline bool workload_windowed(workload_t w)
{
    return w == W_NEXMARK_Q5 || w == W_NEXMARK_Q7 || w == W_WINDOWED_COUNT || workload_join(w);
}

typedef struct {
    const char *bootstrap, *input, *output, *group;
    workload_t workload;
    long long records;
    long long warmup; /* records processed before the clock starts (the JIT's warm-up) */
    long commit_interval_ms;
    const char *guarantee; /* processing.guarantee: at_least_once (default) or exactly_once_v2 */
    long timeout_s;
    const char *consumer_set[32][2]; /* librdkafka consumer properties, for experiments */
    size_t nconsumer_set;
    const char *app_set[8][2]; /* Rill properties (bench-rill-pipe), e.g. metrics.listen */
    size_t napp_set;
    const char *finals; /* windowed workloads: where to write the final result per window */
} pipe_opts_t;

static inline void pipe_usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s --bootstrap B --input T --output O --group G --records N "
            "[--workload passthrough|filter-map|nexmark-q0|nexmark-q1|nexmark-q2|nexmark-q5|"
            "nexmark-q7|windowed-count|nexmark-q3|nexmark-q8|stream-stream-join] [--warmup N] "
            "[--commit-interval MS] "
            "[--guarantee at_least_once|exactly_once_v2] [--timeout S] "
            "[--consumer-set K=V]... [--app-set K=V]... [--finals FILE]\n",
            prog);
    exit(2);
}

/* Parses the command line into o (defaults: commit 1000 ms, at_least_once, timeout 600 s);
 * exits with the usage on a mistake. The KEY=VALUE strings of --consumer-set are split in place. */
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
        {"app-set", required_argument, NULL, 'A'},
        {"workload", required_argument, NULL, 'w'},
        {"warmup", required_argument, NULL, 'u'},
        {"finals", required_argument, NULL, 'f'},
        {"guarantee", required_argument, NULL, 'G'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->workload = W_FILTER_MAP;
    o->records = -1;
    o->commit_interval_ms = 1000;
    o->guarantee = "at_least_once";
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
        case 'u':
            o->warmup = atoll(optarg);
            break;
        case 'f':
            o->finals = optarg;
            break;
        case 'G':
            o->guarantee = optarg;
            break;
        case 't':
            o->timeout_s = atol(optarg);
            break;
        case 'w': {
            size_t n = sizeof workload_names / sizeof workload_names[0], i;
            for (i = 0; i < n && strcmp(optarg, workload_names[i]) != 0; i++)
                ;
            if (i == n) {
                fprintf(stderr, "%s: unknown workload '%s'\n", prog, optarg);
                pipe_usage(prog);
            }
            o->workload = (workload_t)i;
            break;
        }
        case 's':
            eq = strchr(optarg, '=');
            if (!eq || o->nconsumer_set == sizeof o->consumer_set / sizeof o->consumer_set[0])
                pipe_usage(prog);
            *eq = 0;
            o->consumer_set[o->nconsumer_set][0] = optarg;
            o->consumer_set[o->nconsumer_set++][1] = eq + 1;
            break;
        case 'A':
            eq = strchr(optarg, '=');
            if (!eq || o->napp_set == sizeof o->app_set / sizeof o->app_set[0])
                pipe_usage(prog);
            *eq = 0;
            o->app_set[o->napp_set][0] = optarg;
            o->app_set[o->napp_set++][1] = eq + 1;
            break;
        default:
            pipe_usage(prog);
        }
    }
    if (!o->bootstrap || !o->input || !o->output || !o->group || o->records < 1 || o->warmup < 0 ||
        o->warmup >= o->records || o->commit_interval_ms < 1 || o->timeout_s < 1 ||
        (strcmp(o->guarantee, "at_least_once") != 0 &&
         strcmp(o->guarantee, "exactly_once_v2") != 0))
        pipe_usage(prog);
    /* The raw pipe is the at-least-once limit: it has no transactions. */
    if (strcmp(o->guarantee, "at_least_once") != 0 && strcmp(prog, "bench-raw-pipe") == 0) {
        fprintf(stderr, "%s: --guarantee %s: the raw pipe has no transactions\n", prog,
                o->guarantee);
        exit(2);
    }
    /* The raw pipe has no windows: q5 and q7 are not applicable to it (WORKLOADS.md). */
    if (workload_windowed(o->workload) && strcmp(prog, "bench-raw-pipe") == 0) {
        fprintf(stderr, "%s: workload '%s' needs windows or joins, which the raw pipe lacks\n",
                prog, workload_names[o->workload]);
        exit(2);
    }
}

#endif
