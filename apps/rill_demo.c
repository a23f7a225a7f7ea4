/*
 * rill-demo: a stateless topology on the embedded cluster, start to finish, in a few seconds.
 *
 * It writes N page-view events (JSON) to "pageviews", then runs:
 *   pageviews -> filter out bots -> reshape -> split by region -> pageviews-{eu,us,apac,other}
 * and prints a sample of each branch and the totals, checked against what it generated.
 * Pass --bootstrap-servers to run it against a real cluster instead.
 */
#include <rill/app.h>
#include <rill/dsl.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef long long json_int_t_compat; /* jansson's json_int_t on Debian: long long */

#define NREGIONS 4
static const char *regions[NREGIONS] = {"eu", "us", "apac", "other"};
static const char *pages[] = {"/", "/pricing", "/docs", "/blog/rill-1-0", "/signup"};

typedef struct {
    atomic_long consumed;
    atomic_long per_region[NREGIONS];
    long target;
    pthread_mutex_t lock;
    pthread_cond_t done;
    char sample[NREGIONS][2][256];
    int nsample[NREGIONS];
} demo_t;

static void on_input(void *ud, const rill_record_t *rec)
{
    demo_t *d = ud;
    if (atomic_fetch_add(&d->consumed, 1) + 1 == d->target) {
        pthread_mutex_lock(&d->lock);
        pthread_cond_signal(&d->done);
        pthread_mutex_unlock(&d->lock);
    }
}

static bool is_bot(void *ud, const rill_record_t *rec)
{
    const char *agent = rill_json_get_string(rec->value.data, "agent");
    return agent && strstr(agent, "bot") != NULL;
}

/* {user, page, region, agent, duration_ms} -> {user, page, region, ms} */
static int reshape(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    const void *v = rec->value.data;
    int64_t ms = 0;
    rill_json_get_int(v, "duration_ms", &ms);
    const char *user = rill_json_get_string(v, "user"), *page = rill_json_get_string(v, "page"),
               *region = rill_json_get_string(v, "region");
    if (!user || !page || !region)
        return rill_context_fail(ctx, RILL_EPROCESS, "page view without user, page or region");
    *out = rill_json_pack(rill_context_arena(ctx), "{s:s, s:s, s:s, s:I}", "user", user, "page",
                          page, "region", region, "ms", (json_int_t_compat)ms);
    return out->data ? 0 : rill_context_fail(ctx, RILL_ENOMEM, "cannot build the JSON output");
}

static bool region_is(void *ud, const rill_record_t *rec)
{
    const char *region = rill_json_get_string(rec->value.data, "region");
    return region && strcmp(region, ud) == 0;
}

typedef struct {
    demo_t *demo;
    int region;
} tap_t;
static tap_t taps[NREGIONS];

static void tap(void *ud, const rill_record_t *rec)
{
    tap_t *t = ud;
    long n = atomic_fetch_add(&t->demo->per_region[t->region], 1);
    if (n < 2) {
        char json[200];
        rill_json_format(rec->value.data, json, sizeof json);
        pthread_mutex_lock(&t->demo->lock);
        snprintf(t->demo->sample[t->region][n], sizeof t->demo->sample[0][0], "%.*s => %s",
                 (int)rec->key.len, (const char *)rec->key.data, json);
        t->demo->nsample[t->region]++;
        pthread_mutex_unlock(&t->demo->lock);
    }
}

static rill_topology_t *build(demo_t *d)
{
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t in = {.key_serde = rill_serde_string(), .value_serde = rill_serde_json()};
    rill_stream_t *views = rill_stream_from_topic(topo, "pageviews", &in);
    views = rill_stream_as(rill_stream_peek(views, on_input, d), "count-input");
    rill_stream_t *humans = rill_stream_as(rill_stream_filter_not(views, is_bot, NULL), "no-bots");
    rill_stream_t *shaped =
        rill_stream_as(rill_stream_map_values(humans, reshape, NULL), "reshape");
    rill_split_t *split = rill_stream_split(shaped, "region-");
    rill_sink_opts_t out = {.key_serde = rill_serde_string(), .value_serde = rill_serde_json()};
    for (int r = 0; r < NREGIONS; r++) {
        taps[r] = (tap_t){d, r};
        rill_stream_t *branch =
            r < NREGIONS - 1 ? rill_split_branch(split, regions[r], region_is, (void *)regions[r])
                             : rill_split_default(split, regions[r]);
        char topic[64];
        snprintf(topic, sizeof topic, "pageviews-%s", regions[r]);
        rill_stream_to(rill_stream_peek(branch, tap, &taps[r]), topic, &out);
    }
    return topo;
}

/* A small deterministic generator (xorshift), so every run prints the same totals. */
static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv)
{
    long n = 10000;
    const char *bootstrap = NULL;
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--records") == 0 && i + 1 < argc)
            n = atol(argv[++i]);
        else if (strcmp(argv[i], "--bootstrap-servers") == 0 && i + 1 < argc)
            bootstrap = argv[++i];
        else if (strcmp(argv[i], "--verbose") == 0)
            verbose = true;
        else {
            fprintf(stderr, "usage: %s [--records N] [--bootstrap-servers HOSTS] [--verbose]\n",
                    argv[0]);
            return 2;
        }
    }
    /* The demo's own report is the output; Rill's log lines only with --verbose. */
    rill_set_log_cb(NULL, NULL, verbose ? RILL_LOG_INFO : RILL_LOG_WARN);
    demo_t d = {.target = n};
    pthread_mutex_init(&d.lock, NULL);
    pthread_cond_init(&d.done, NULL);
    char err[1024];
    rill_conf_t *conf = rill_conf_new();
    rill_conf_set(conf, "application.id", "rill-demo", err, sizeof err);
    rill_conf_set(conf, "commit.interval.ms", "1000", err, sizeof err);
    if (bootstrap && rill_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err)) {
        fprintf(stderr, "rill-demo: %s\n", err);
        return 2;
    }
    rill_topology_t *topo = build(&d);
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    if (!app) {
        fprintf(stderr, "rill-demo: %s\n", err);
        return 1;
    }
    char *text = rill_topology_describe(topo);
    printf("== The topology ==\n%s", text);
    rill_free(text);

    /* 1. Generate the input. */
    rill_producer_t *p = rill_producer_new(rill_app_bootstrap_servers(app), err, sizeof err);
    long expected[NREGIONS] = {0}, bots = 0;
    int64_t t0 = (int64_t)time(NULL) * 1000;
    for (long i = 0; p && i < n; i++) {
        int r = (int)(next_rand() % 10);
        int region = r < 4 ? 0 : r < 7 ? 1 : r < 9 ? 2 : 3;
        bool bot = next_rand() % 8 == 0;
        const char *region_name = region == 3 ? "latam" : regions[region];
        char user[32], value[256];
        snprintf(user, sizeof user, "u%llu", (unsigned long long)(next_rand() % 500));
        snprintf(value, sizeof value,
                 "{\"user\":\"%s\",\"page\":\"%s\",\"region\":\"%s\",\"agent\":\"%s\","
                 "\"duration_ms\":%llu}",
                 user, pages[next_rand() % 5], region_name, bot ? "crawler-bot/2.1" : "Mozilla/5.0",
                 (unsigned long long)(next_rand() % 60000));
        if (bot)
            bots++;
        else
            expected[region]++;
        rill_producer_send(p, "pageviews", -1, rill_buf_str(user), rill_buf_str(value), t0 + i);
    }
    if (!p || rill_producer_flush(p, 30000)) {
        fprintf(stderr, "rill-demo: could not write the input: %s\n", p ? "flush failed" : err);
        return 1;
    }
    printf("== Wrote %ld page views to 'pageviews' (%ld from bots) ==\n", n, bots);

    /* 2. Run the app until every input record went through, or 60 s pass. */
    struct timespec start, end, deadline;
    clock_gettime(CLOCK_MONOTONIC, &start);
    if (rill_app_start(app)) {
        fprintf(stderr, "rill-demo: %s\n", rill_app_error(app, err, sizeof err));
        return 1;
    }
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 60;
    pthread_mutex_lock(&d.lock);
    while (atomic_load(&d.consumed) < n && rill_app_state(app) != RILL_STATE_ERROR)
        if (pthread_cond_timedwait(&d.done, &d.lock, &deadline))
            break;
    pthread_mutex_unlock(&d.lock);
    clock_gettime(CLOCK_MONOTONIC, &end);
    rill_app_close(app, 30000);
    int64_t processed = atomic_load(&d.consumed);
    double secs = (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;

    /* 3. Report and check. */
    printf("== Sample ==\n");
    for (int r = 0; r < NREGIONS; r++)
        for (int s = 0; s < d.nsample[r] && s < 2; s++)
            printf("  pageviews-%-5s %s\n", regions[r], d.sample[r][s]);
    printf("== Totals ==\n  input: %lld of %ld processed in %.2f s (group join included)\n"
           "  bots filtered: %lld\n",
           (long long)processed, n, secs,
           (long long)(processed - atomic_load(&d.per_region[0]) - atomic_load(&d.per_region[1]) -
                       atomic_load(&d.per_region[2]) - atomic_load(&d.per_region[3])));
    int ok = processed == n && rill_app_state(app) != RILL_STATE_ERROR;
    for (int r = 0; r < NREGIONS; r++) {
        long got = atomic_load(&d.per_region[r]);
        printf("  pageviews-%-5s %6ld records (expected %ld)\n", regions[r], got, expected[r]);
        ok = ok && got == expected[r];
    }
    printf("== %s ==\n", ok ? "OK: every page view was counted once, in the right branch"
                            : "MISMATCH: see the totals above");
    rill_producer_destroy(p);
    rill_app_destroy(app);
    rill_topology_unref(topo);
    return ok ? 0 : 1;
}
