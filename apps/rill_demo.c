/*
 * rill-demo: a stateless and a windowed topology on the embedded cluster, start to finish, in a
 * few seconds.
 *
 * It writes N page-view events (JSON) to "pageviews", spread over six minutes of event time, and
 * runs:
 *   pageviews -> filter out bots -> reshape -> split by region -> pageviews-{eu,us,apac,other}
 *                                          \-> group by region -> count per 1-minute window
 *                                              -> suppress until the window closes
 *                                              -> pageviews-per-region-per-minute
 *                          \-> left join users (a table: user -> name, country)
 *                               -> join countries (a global table: country -> region)
 *                               -> pageviews-enriched
 * then prints a sample of each branch, the totals, the final count of every closed window and
 * the enriched page views, all checked against what it generated. The user profiles and the
 * countries are written before the page views; the app starts once they are loaded.
 *
 *   rill-demo [--records N] [--bootstrap-servers HOSTS] [--config KEY=VALUE ...] [--verbose]
 */
#define _XOPEN_SOURCE 700 /* nftw, mkdtemp */
#include <rill/app.h>
#include <rill/dsl.h>

#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef long long json_int_t_compat; /* jansson's json_int_t on Debian: long long */

#define NREGIONS 4
static const char *regions[NREGIONS] = {"eu", "us", "apac", "other"};
static const char *region_values[NREGIONS] = {"eu", "us", "apac", "latam"}; /* in the data */
static const char *pages[] = {"/", "/pricing", "/docs", "/blog/rill-1-0", "/signup"};

/* Event time: six one-minute windows, fed in slices of 30 s. A window closes when stream time
 * reaches its end plus the grace; a grace of one slice is enough for the records that the
 * repartition topic brings out of order (see feed()). */
#define WINDOW_MS      60000
#define GRACE_MS       30000
#define MINUTES        6
#define SLICE_MS       30000
#define WINDOWED_TOPIC "pageviews-per-region-per-minute"
#define MAX_FINALS     256

typedef struct {
    int region; /* index in region_values, -1 when unknown */
    int64_t start, end;
    long long count;
    char text[128]; /* "[eu@start/end] count" */
} final_t;

/* User profiles ("users", a table keyed by user) and countries ("countries", a global table):
 * user u<i> is "User <i>" in countries[i % NCOUNTRIES]. */
#define NUSERS     500
#define NCOUNTRIES 6
static const char *countries[NCOUNTRIES] = {"fr", "de", "us", "ca", "jp", "br"};
static const char *country_regions[NCOUNTRIES] = {"eu", "eu", "us", "us", "apac", "latam"};
#define ENRICHED_TOPIC "pageviews-enriched"

typedef struct {
    atomic_long consumed;
    atomic_long enriched, enriched_wrong;
    char enriched_sample[2][256];
    atomic_long per_region[NREGIONS];
    pthread_mutex_t lock;
    pthread_cond_t progress; /* signalled when consumed reaches target, and on every final */
    atomic_long target;
    char sample[NREGIONS][2][256];
    int nsample[NREGIONS];
    final_t finals[MAX_FINALS];
    int nfinals; /* may exceed MAX_FINALS: then the rest were not kept */
} demo_t;

static void on_input(void *ud, const rill_record_t *rec)
{
    demo_t *d = ud;
    if (atomic_fetch_add(&d->consumed, 1) + 1 >= atomic_load(&d->target)) {
        pthread_mutex_lock(&d->lock);
        pthread_cond_signal(&d->progress);
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

/* The grouping key of a page view: its region (the string inside the JSON, which lives as long
 * as the record). */
static int region_of(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    const char *region = rill_json_get_string(rec->value.data, "region");
    if (!region)
        return rill_context_fail(ctx, RILL_EPROCESS, "page view without region");
    *out = rill_buf_str(region);
    return 0;
}

/* Keeps every final count the suppression lets through, as it goes to the output topic. */
static void on_final(void *ud, const rill_record_t *rec)
{
    demo_t *d = ud;
    const rill_windowed_t *w = rec->key.data;
    if (!w || rec->key.len != sizeof *w)
        return;
    final_t f = {
        .region = -1, .start = w->start, .end = w->end, .count = rill_value_i64(rec->value)};
    for (int r = 0; r < NREGIONS; r++)
        if (w->key.len == strlen(region_values[r]) &&
            memcmp(w->key.data, region_values[r], w->key.len) == 0)
            f.region = r;
    int n = rill_windowed_format(w, rill_serde_string(), f.text, sizeof f.text);
    if (n >= 0 && (size_t)n < sizeof f.text)
        snprintf(f.text + n, sizeof f.text - (size_t)n, " %lld", f.count);
    pthread_mutex_lock(&d->lock);
    if (d->nfinals < MAX_FINALS)
        d->finals[d->nfinals] = f;
    d->nfinals++;
    pthread_cond_signal(&d->progress);
    pthread_mutex_unlock(&d->lock);
}

/* A page view joined with its user's profile (left join: a user without one gets nulls). */
static int with_profile(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t view,
                        rill_buf_t profile, rill_buf_t *out)
{
    const char *name = profile.data ? rill_json_get_string(profile.data, "name") : NULL;
    const char *country = profile.data ? rill_json_get_string(profile.data, "country") : NULL;
    *out =
        rill_json_pack(rill_context_arena(ctx), "{s:s, s:s, s:s?, s:s?}", "user",
                       rill_json_get_string(view.data, "user"), "page",
                       rill_json_get_string(view.data, "page"), "name", name, "country", country);
    return out->data ? 0 : rill_context_fail(ctx, RILL_ENOMEM, "cannot build the JSON output");
}

/* The key of a page view's row in the countries table: its user's country. */
static int country_of(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    const char *country = rill_json_get_string(rec->value.data, "country");
    *out = country ? rill_buf_str(country) : (rill_buf_t){NULL, 0};
    return 0;
}

/* ... and with the region of that country. */
static int with_region(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t view,
                       rill_buf_t country, rill_buf_t *out)
{
    *out = rill_json_pack(rill_context_arena(ctx), "{s:s, s:s, s:s, s:s, s:s}", "user",
                          rill_json_get_string(view.data, "user"), "page",
                          rill_json_get_string(view.data, "page"), "name",
                          rill_json_get_string(view.data, "name"), "country",
                          rill_json_get_string(view.data, "country"), "home_region",
                          rill_json_get_string(country.data, "region"));
    return out->data ? 0 : rill_context_fail(ctx, RILL_ENOMEM, "cannot build the JSON output");
}

/* Checks every enriched page view against the generated profiles, and keeps two for the report. */
static void on_enriched(void *ud, const rill_record_t *rec)
{
    demo_t *d = ud;
    const char *user = rill_json_get_string(rec->value.data, "user");
    const char *name = rill_json_get_string(rec->value.data, "name");
    const char *country = rill_json_get_string(rec->value.data, "country");
    const char *region = rill_json_get_string(rec->value.data, "home_region");
    int u = user && user[0] == 'u' ? atoi(user + 1) : -1;
    char want[32];
    snprintf(want, sizeof want, "User %d", u);
    bool right = u >= 0 && u < NUSERS && name && strcmp(name, want) == 0 && country &&
                 strcmp(country, countries[u % NCOUNTRIES]) == 0 && region &&
                 strcmp(region, country_regions[u % NCOUNTRIES]) == 0;
    if (!right)
        atomic_fetch_add(&d->enriched_wrong, 1);
    long n = atomic_fetch_add(&d->enriched, 1);
    if (n < 2) {
        char json[200];
        rill_json_format(rec->value.data, json, sizeof json);
        pthread_mutex_lock(&d->lock);
        snprintf(d->enriched_sample[n], sizeof d->enriched_sample[0], "%s", json);
        pthread_mutex_unlock(&d->lock);
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

    /* Page views per region per minute, each window's count emitted once, when it closes. */
    rill_grouped_opts_t by_region = {.name = "views-by-region",
                                     .key_serde = rill_serde_string(),
                                     .value_serde = rill_serde_json()};
    rill_grouped_t *grouped = rill_stream_group_by(shaped, region_of, NULL, &by_region);
    rill_windowed_stream_t *minutes =
        rill_grouped_windowed_by(grouped, rill_windows_tumbling(WINDOW_MS, GRACE_MS));
    rill_table_t *counts =
        rill_windowed_count(minutes, &(rill_materialized_t){.name = "views-per-minute"});
    rill_table_t *finals = rill_table_suppress(
        counts, &(rill_suppressed_t){.until_window_closes = true, .name = "until-minute-closes"});
    rill_stream_t *emitted =
        rill_stream_as(rill_stream_peek(rill_table_to_stream(finals), on_final, d), "finals");
    rill_serde_t *windowed = rill_serde_time_windowed(rill_serde_string(), WINDOW_MS);
    rill_stream_to(emitted, WINDOWED_TOPIC,
                   &(rill_sink_opts_t){.key_serde = windowed, .value_serde = rill_serde_int64()});
    rill_serde_unref(windowed);

    /* Each human page view with its user's name and country, then that country's region. */
    rill_table_t *users =
        rill_table_from(topo, "users", &in, &(rill_materialized_t){.name = "user-profiles"});
    rill_global_table_t *countries_table = rill_global_table_from(
        topo, "countries", &in, &(rill_materialized_t){.name = "country-regions"});
    rill_join_opts_t as_json = {.value_serde = rill_serde_json()};
    rill_stream_t *profiled =
        rill_stream_table_left_join(humans, users, with_profile, NULL, &as_json);
    rill_stream_t *enriched = rill_stream_global_join(profiled, countries_table, country_of, NULL,
                                                      with_region, NULL, &as_json);
    rill_stream_to(rill_stream_peek(enriched, on_enriched, d), ENRICHED_TOPIC, &out);
    return topo;
}

/* Writes the user profiles and the countries (before any page view), stamped ts. */
static int produce_reference_data(rill_producer_t *p, int64_t ts)
{
    char key[32], value[128];
    for (int i = 0; i < NCOUNTRIES; i++) {
        snprintf(value, sizeof value, "{\"region\":\"%s\"}", country_regions[i]);
        if (rill_producer_send(p, "countries", -1, rill_buf_str(countries[i]), rill_buf_str(value),
                               ts))
            return -1;
    }
    for (int i = 0; i < NUSERS; i++) {
        snprintf(key, sizeof key, "u%d", i);
        snprintf(value, sizeof value, "{\"name\":\"User %d\",\"country\":\"%s\"}", i,
                 countries[i % NCOUNTRIES]);
        if (rill_producer_send(p, "users", -1, rill_buf_str(key), rill_buf_str(value), ts))
            return -1;
    }
    return 0;
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

/* What the generator wrote. */
typedef struct {
    long n, bots;
    long expected[NREGIONS];            /* per branch */
    long per_minute[NREGIONS][MINUTES]; /* per region value and window */
    int64_t t0, last_ts[NREGIONS];      /* t0: the first window's start */
} generated_t;

/* Waits until the app consumed target input records (or failed, or 30 s passed). */
static bool wait_consumed(demo_t *d, rill_app_t *app, long target)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 30;
    pthread_mutex_lock(&d->lock);
    atomic_store(&d->target, target);
    while (atomic_load(&d->consumed) < target && rill_app_state(app) != RILL_STATE_ERROR)
        if (pthread_cond_timedwait(&d->progress, &d->lock, &deadline))
            break;
    atomic_store(&d->target, LONG_MAX); /* no wake-ups until the next wait */
    pthread_mutex_unlock(&d->lock);
    return atomic_load(&d->consumed) >= target;
}

/*
 * Writes page view i of g->n. Their timestamps spread evenly over MINUTES minutes from g->t0.
 */
static int produce_one(rill_producer_t *p, generated_t *g, long i)
{
    int r = (int)(next_rand() % 10);
    int region = r < 4 ? 0 : r < 7 ? 1 : r < 9 ? 2 : 3;
    bool bot = next_rand() % 8 == 0 || i == 0; /* the first, written before the start, is a bot */
    int64_t offset = (int64_t)((double)i * MINUTES * WINDOW_MS / (double)g->n);
    int64_t ts = g->t0 + offset;
    char user[32], value[256];
    snprintf(user, sizeof user, "u%llu", (unsigned long long)(next_rand() % 500));
    snprintf(value, sizeof value,
             "{\"user\":\"%s\",\"page\":\"%s\",\"region\":\"%s\",\"agent\":\"%s\","
             "\"duration_ms\":%llu}",
             user, pages[next_rand() % 5], region_values[region],
             bot ? "crawler-bot/2.1" : "Mozilla/5.0", (unsigned long long)(next_rand() % 60000));
    if (bot) {
        g->bots++;
    } else {
        g->expected[region]++;
        g->per_minute[region][offset / WINDOW_MS]++;
        g->last_ts[region] = ts;
    }
    return rill_producer_send(p, "pageviews", -1, rill_buf_str(user), rill_buf_str(value), ts);
}

/*
 * Writes the page views slice by slice of event time, each once the app consumed the one
 * before. The repartition to the windowed count merges the output of several tasks, so its
 * partitions are in time order only as far as the tasks keep pace with each other; fed at once,
 * one task could run minutes ahead of another (a real broker hands out up to a megabyte of one
 * partition per fetch) and the windows of the late one would be closed when its records arrive. Fed
 * by slices, a record is at most one slice older than the stream time it meets, which the grace
 * covers. The first slice is written before the app starts, so the topic exists on a real cluster.
 */
static int feed(rill_producer_t *p, generated_t *g, demo_t *d, rill_app_t *app, char *err,
                size_t err_size)
{
    /* The profiles, the countries and one page view (a bot's: it never reaches the join) go
     * first, so that every topic exists; the app starts, and the page views come once it read
     * the profiles (the global table is loaded before any task runs). */
    if (produce_reference_data(p, g->t0) || produce_one(p, g, 0) || rill_producer_flush(p, 30000)) {
        snprintf(err, err_size, "could not write the user profiles and countries");
        return -1;
    }
    if (rill_app_start(app)) {
        rill_app_error(app, err, err_size);
        return -1;
    }
    for (int waited = 0; rill_app_metric(app, "records-processed") < NUSERS + 1; waited += 10) {
        if (waited > 30000 || rill_app_state(app) == RILL_STATE_ERROR) {
            snprintf(err, err_size, "the app did not read the %d user profiles in 30 s", NUSERS);
            return -1;
        }
        struct timespec pause = {0, 10 * 1000000};
        nanosleep(&pause, NULL);
    }
    long i = 1;
    for (int64_t slice_end = SLICE_MS; slice_end <= MINUTES * WINDOW_MS; slice_end += SLICE_MS) {
        for (; i < g->n && (int64_t)((double)i * MINUTES * WINDOW_MS / (double)g->n) < slice_end;
             i++)
            if (produce_one(p, g, i)) {
                snprintf(err, err_size, "cannot queue page view %ld", i);
                return -1;
            }
        if (rill_producer_flush(p, 30000)) {
            snprintf(err, err_size, "could not write the input (flush failed)");
            return -1;
        }
        if (!wait_consumed(d, app, i)) {
            snprintf(err, err_size, "the app consumed %ld of %ld page views in 30 s%s",
                     atomic_load(&d->consumed), i,
                     rill_app_state(app) == RILL_STATE_ERROR ? " (it failed)" : "");
            return -1;
        }
    }
    return 0;
}

/* Whether window w of region r exists and must have closed: it has page views, and its end plus
 * the grace is before the last page view of r, so the stream time of r's task passed it. */
static bool must_close(const generated_t *g, int r, int w)
{
    return g->per_minute[r][w] > 0 &&
           g->t0 + (int64_t)(w + 1) * WINDOW_MS + GRACE_MS < g->last_ts[r];
}

static int by_window(const void *a, const void *b)
{
    const final_t *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->region - y->region;
}

/* Checks the final counts against what was generated; prints them and the verdict. */
static bool check_finals(demo_t *d, const generated_t *g)
{
    int kept = d->nfinals < MAX_FINALS ? d->nfinals : MAX_FINALS;
    qsort(d->finals, (size_t)kept, sizeof d->finals[0], by_window);
    printf("== Page views per region per minute (final counts written to '%s') ==\n",
           WINDOWED_TOPIC);
    int seen[NREGIONS][MINUTES] = {{0}};
    int wrong = 0, duplicates = 0, missing = 0, closed = 0;
    for (int i = 0; i < kept; i++) {
        const final_t *f = &d->finals[i];
        int64_t w = (f->start - g->t0) / WINDOW_MS;
        bool aligned = f->start >= g->t0 && (f->start - g->t0) % WINDOW_MS == 0 &&
                       f->end == f->start + WINDOW_MS && w < MINUTES;
        const char *note = "";
        if (f->region < 0 || !aligned) {
            wrong++;
            note = "  <- not a window of the data";
        } else if (seen[f->region][w]++) {
            duplicates++;
            note = "  <- emitted twice";
        } else if (f->count != g->per_minute[f->region][w]) {
            wrong++;
            note = "  <- generated a different count";
        }
        if (*note)
            printf("  %s%s (generated %ld)\n", f->text, note,
                   f->region >= 0 && aligned ? g->per_minute[f->region][w] : 0L);
        else
            printf("  %s\n", f->text);
    }
    for (int r = 0; r < NREGIONS; r++)
        for (int w = 0; w < MINUTES; w++)
            if (must_close(g, r, w)) {
                closed++;
                if (!seen[r][w]) {
                    missing++;
                    printf("  [%s@%lld/%lld] missing: the window closed with %ld page views\n",
                           region_values[r], (long long)(g->t0 + (int64_t)w * WINDOW_MS),
                           (long long)(g->t0 + (int64_t)(w + 1) * WINDOW_MS), g->per_minute[r][w]);
                }
            }
    bool ok = !wrong && !duplicates && !missing && d->nfinals <= MAX_FINALS;
    if (ok)
        printf("== OK: all %d closed windows emitted once, with the counts generated ==\n", closed);
    else
        printf("== MISMATCH: %d windows wrong, %d emitted twice, %d of %d closed ones missing ==\n",
               wrong, duplicates, missing, closed);
    return ok;
}

/* Waits until every window that must close was emitted (or 30 s pass). */
static void wait_finals(demo_t *d, const generated_t *g, rill_app_t *app)
{
    int closed = 0;
    for (int r = 0; r < NREGIONS; r++)
        for (int w = 0; w < MINUTES; w++)
            closed += must_close(g, r, w);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 30;
    pthread_mutex_lock(&d->lock);
    while (d->nfinals < closed && rill_app_state(app) != RILL_STATE_ERROR)
        if (pthread_cond_timedwait(&d->progress, &d->lock, &deadline))
            break;
    pthread_mutex_unlock(&d->lock);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--records N] [--bootstrap-servers HOSTS] [--config KEY=VALUE ...] "
            "[--verbose]\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* the report line by line, even into a pipe */
    long n = 10000;
    bool verbose = false;
    char err[1024];
    rill_conf_t *conf = rill_conf_new();
    rill_conf_set(conf, "application.id", "rill-demo", err, sizeof err);
    rill_conf_set(conf, "commit.interval.ms", "200", err, sizeof err);
    /* The embedded cluster answers a fetch that finds no data only after fetch.wait.max.ms, even
     * when records arrive meanwhile, and the demo waits for each slice of input: keep it short. */
    rill_conf_set(conf, "consumer.fetch.wait.max.ms", "10", err, sizeof err);
    for (int i = 1; i < argc; i++) {
        const char *key = NULL, *value = NULL;
        char kv[1024];
        if (strcmp(argv[i], "--records") == 0 && i + 1 < argc) {
            n = atol(argv[++i]);
            if (n < 1)
                return usage(argv[0]);
        } else if (strcmp(argv[i], "--bootstrap-servers") == 0 && i + 1 < argc) {
            key = "bootstrap.servers";
            value = argv[++i];
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            snprintf(kv, sizeof kv, "%s", argv[++i]);
            char *eq = strchr(kv, '=');
            if (!eq) {
                fprintf(stderr, "rill-demo: --config expects KEY=VALUE, got '%s'\n", kv);
                return 2;
            }
            *eq = 0;
            key = kv;
            value = eq + 1;
        } else if (strcmp(argv[i], "--verbose") == 0) {
            verbose = true;
        } else {
            return usage(argv[0]);
        }
        if (key && rill_conf_set(conf, key, value, err, sizeof err)) {
            fprintf(stderr, "rill-demo: %s\n", err);
            return 2;
        }
    }
    /* The demo's own report is the output; Rill's log lines only with --verbose, but for its
     * warnings and notices (the embedded cluster it runs on, and that cluster's limits). */
    rill_set_log_cb(NULL, NULL, verbose ? RILL_LOG_INFO : RILL_LOG_NOTICE);

    /* The embedded cluster lives in memory: local state from an earlier run would refer to
     * changelogs that no longer exist, so unless state.dir was chosen the run gets a fresh one,
     * removed at the end. */
    char tmp_state[64] = "";
    rill_conf_t *defaults = rill_conf_new();
    if (!*rill_conf_get(conf, "bootstrap.servers") && defaults &&
        strcmp(rill_conf_get(conf, "state.dir"), rill_conf_get(defaults, "state.dir")) == 0) {
        const char *root = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(tmp_state, sizeof tmp_state, "%s/rill-demo-XXXXXX", root);
        if (!mkdtemp(tmp_state) || rill_conf_set(conf, "state.dir", tmp_state, err, sizeof err)) {
            fprintf(stderr, "rill-demo: cannot make a state directory %s\n", tmp_state);
            return 1;
        }
    }
    rill_conf_destroy(defaults);

    demo_t *d = calloc(1, sizeof *d);
    if (!d)
        return 1;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->progress, NULL);
    atomic_store(&d->target, LONG_MAX);
    rill_topology_t *topo = build(d);
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    if (!app) {
        fprintf(stderr, "rill-demo: %s\n", err);
        return 1;
    }
    char *text = rill_topology_describe(topo);
    printf("== The topology ==\n%s", text);
    rill_free(text);

    /* 1. Generate the input and run the app on it, until every record went through. Windows
     * start on the minute; the page views cover the last MINUTES whole minutes. */
    generated_t g = {.n = n};
    g.t0 = ((int64_t)time(NULL) * 1000 / WINDOW_MS - MINUTES) * WINDOW_MS;
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    rill_producer_t *p = rill_producer_new(rill_app_bootstrap_servers(app), err, sizeof err);
    if (!p || feed(p, &g, d, app, err, sizeof err)) {
        fprintf(stderr, "rill-demo: %s\n", err);
        return 1;
    }
    printf("== Wrote %ld page views to 'pageviews' (%ld from bots) over %d minutes ==\n", n, g.bots,
           MINUTES);
    clock_gettime(CLOCK_MONOTONIC, &end);
    wait_finals(d, &g, app);
    rill_app_close(app, 30000);
    int64_t processed = atomic_load(&d->consumed);
    double secs = (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;

    /* 2. Report and check. */
    printf("== Sample ==\n");
    for (int r = 0; r < NREGIONS; r++)
        for (int s = 0; s < d->nsample[r] && s < 2; s++)
            printf("  pageviews-%-5s %s\n", regions[r], d->sample[r][s]);
    printf("== Totals ==\n  input: %lld of %ld processed in %.2f s (group join included)\n"
           "  bots filtered: %lld\n",
           (long long)processed, n, secs,
           (long long)(processed - atomic_load(&d->per_region[0]) - atomic_load(&d->per_region[1]) -
                       atomic_load(&d->per_region[2]) - atomic_load(&d->per_region[3])));
    int ok = processed == n && rill_app_state(app) != RILL_STATE_ERROR;
    if (rill_app_state(app) == RILL_STATE_ERROR)
        printf("  the app failed: %s\n", rill_app_error(app, err, sizeof err));
    for (int r = 0; r < NREGIONS; r++) {
        long got = atomic_load(&d->per_region[r]);
        printf("  pageviews-%-5s %6ld records (expected %ld)\n", regions[r], got, g.expected[r]);
        ok = ok && got == g.expected[r];
    }
    printf("== %s ==\n", ok ? "OK: every page view was counted once, in the right branch"
                            : "MISMATCH: see the totals above");
    ok = check_finals(d, &g) && ok;
    long humans = n - g.bots, enriched = atomic_load(&d->enriched);
    long wrong = atomic_load(&d->enriched_wrong);
    printf("== Page views with their user's profile and region (written to '%s') ==\n",
           ENRICHED_TOPIC);
    for (int s = 0; s < 2 && s < enriched; s++)
        printf("  %s\n", d->enriched_sample[s]);
    bool joined = enriched == humans && wrong == 0;
    printf("== %s: %ld of %ld human page views enriched, %ld with a wrong profile or region ==\n",
           joined ? "OK" : "MISMATCH", enriched, humans, wrong);
    ok = joined && ok;
    rill_producer_destroy(p);
    rill_app_destroy(app);
    rill_topology_unref(topo);
    pthread_cond_destroy(&d->progress);
    pthread_mutex_destroy(&d->lock);
    free(d);
    if (tmp_state[0])
        nftw(tmp_state, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return ok ? 0 : 1;
}
