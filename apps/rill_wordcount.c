/*
 * rill-wordcount: Kafka Streams' WordCountDemo in C.
 *
 *   lines (streams-plaintext-input) -> lowercase words -> group by word (a repartition)
 *     -> count, kept in the queryable store "counts" -> streams-wordcount-output (string -> int64)
 *
 * Words are the runs of ASCII letters and digits and of UTF-8 bytes >= 0x80 (any non-ASCII
 * character), lowercased in ASCII and in the Latin-1 Supplement (so "CAFÉ" counts as "café").
 *
 * On the embedded cluster (no bootstrap.servers, the default) it feeds itself a deterministic
 * sample text, waits until the counts are complete, prints the top 10 words read through
 * interactive queries, checks every count (in the store and on the output topic) against what it
 * fed, and exits: 0 when they match, 1 otherwise. Given a cluster (--bootstrap-servers, or
 * bootstrap.servers in --config/--config-file) it runs until SIGINT or SIGTERM like every
 * rill_main() app.
 *
 *   rill-wordcount [options] [-- INPUT-TOPIC [OUTPUT-TOPIC]]
 */
#define _XOPEN_SOURCE 700 /* nftw, mkdtemp */
#include <rill/main.h>

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define APP_NAME     "rill-wordcount"
#define STORE        "counts"
#define SAMPLE_LINES 300
#define TOP          10

/* ---- The topology ---------------------------------------------------------------------- */

/* What the output watch saw: the latest count of each word written to the output topic. */
typedef struct {
    char *word;
    long long count;
} tally_t;

typedef struct {
    pthread_mutex_t lock;
    tally_t *rows;
    size_t n, cap;
} output_watch_t;

typedef struct {
    const char *input, *output;
    output_watch_t *watch; /* NULL when running against a real cluster */
} wc_args_t;

static bool word_byte(unsigned char c)
{
    return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Lowercases ASCII and the Latin-1 Supplement's capitals (U+00C0..U+00DE but U+00D7, which UTF-8
 * writes C3 80..C3 9E) in place; every other byte stays as it is. */
static void lowercase(unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 'A' && s[i] <= 'Z')
            s[i] = (unsigned char)(s[i] + 32);
        else if (s[i] == 0xC3 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9E &&
                 s[i + 1] != 0x97)
            s[++i] += 0x20;
    }
}

/* line -> (word, word) for every word: the key is the word, so grouping by key repartitions. */
static int split_words(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_emitter_t *out)
{
    size_t n = rec->value.len;
    if (!rec->value.data || n == 0)
        return 0;
    unsigned char *s = rill_arena_alloc(rill_context_arena(ctx), n);
    if (!s)
        return rill_context_fail(ctx, RILL_ENOMEM, "no memory for a line of %zu bytes", n);
    memcpy(s, rec->value.data, n);
    lowercase(s, n);
    for (size_t i = 0; i < n;) {
        while (i < n && !word_byte(s[i]))
            i++;
        size_t start = i;
        while (i < n && word_byte(s[i]))
            i++;
        if (i > start) {
            rill_buf_t word = {s + start, i - start};
            int rc = rill_emit(out, word, word);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static void watch_output(void *ud, const rill_record_t *rec)
{
    output_watch_t *w = ud;
    if (!w || !rec->key.data)
        return;
    long long count = rill_value_i64(rec->value);
    pthread_mutex_lock(&w->lock);
    size_t i = 0;
    while (i < w->n && !(strlen(w->rows[i].word) == rec->key.len &&
                         memcmp(w->rows[i].word, rec->key.data, rec->key.len) == 0))
        i++;
    if (i == w->n && w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        tally_t *rows = realloc(w->rows, cap * sizeof *rows);
        if (rows) {
            w->rows = rows;
            w->cap = cap;
        }
    }
    if (i == w->n && w->n < w->cap && (w->rows[i].word = strndup(rec->key.data, rec->key.len)))
        w->n++;
    if (i < w->n)
        w->rows[i].count = count;
    pthread_mutex_unlock(&w->lock);
}

static int build(rill_topology_t *topo, rill_conf_t *conf, void *ud, char *errstr,
                 size_t errstr_size)
{
    wc_args_t *args = ud;
    rill_source_opts_t in = {.key_serde = rill_serde_string(), .value_serde = rill_serde_string()};
    rill_stream_t *lines = rill_stream_from_topic(topo, args->input, &in);
    rill_stream_t *words = rill_stream_as(rill_stream_flat_map(lines, split_words, NULL), "words");
    rill_grouped_opts_t by_word = {
        .name = "words", .key_serde = rill_serde_string(), .value_serde = rill_serde_string()};
    rill_table_t *counts = rill_grouped_count(rill_stream_group_by_key(words, &by_word),
                                              &(rill_materialized_t){.name = STORE});
    rill_stream_t *updates =
        rill_stream_peek(rill_table_to_stream(counts), watch_output, args->watch);
    rill_sink_opts_t out = {.key_serde = rill_serde_string(), .value_serde = rill_serde_int64()};
    return rill_stream_to(rill_stream_as(updates, "watch-output"), args->output, &out);
}

/* ---- The sample text --------------------------------------------------------------------- */

/* The vocabulary, lowercase, most frequent first (the generator draws word i with weight
 * 1 / (i + 1)); the last ones are mostly non-ASCII, with capitals in the Latin-1 Supplement. */
static const char *vocabulary[] = {
    "the",   "stream", "of",     "and",    "a",      "records", "to",    "kafka", "is",    "in",
    "state", "table",  "window", "rill",   "key",    "count",   "event", "time",  "topic", "task",
    "store", "join",   "commit", "offset", "thread", "loop",    "batch", "2024",  "3",     "c11",
    "café",  "naïve",  "über",   "déjà",   "vu",     "straße",  "señor", "ça",    "où",    "élan",
};
#define NWORDS (sizeof vocabulary / sizeof vocabulary[0])
static const char *separators[] = {" ",  " ",  " ",  ", ",  ". ",  " - ", "; ",  "! ",
                                   "? ", "  ", "\t", " (",  ") ",  " \"", "\" ", "...",
                                   "_",  "'",  "/",  " & ", " + ", ": ",  " -- "};
#define NSEPARATORS (sizeof separators / sizeof separators[0])

/* A small deterministic generator (xorshift), so every run feeds the same text. */
static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* The inverse of lowercase() for the words of the vocabulary. */
static void uppercase(unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 'a' && s[i] <= 'z')
            s[i] = (unsigned char)(s[i] - 32);
        else if (s[i] == 0xC3 && i + 1 < n && s[i + 1] >= 0xA0 && s[i + 1] <= 0xBE &&
                 s[i + 1] != 0xB7)
            s[++i] -= 0x20;
    }
}

/* Appends one spelling of word w to line: as it is, Capitalized or in CAPITALS. */
static void append_word(char *line, size_t size, size_t w)
{
    char word[64];
    snprintf(word, sizeof word, "%s", vocabulary[w]);
    uint64_t r = next_rand() % 10;
    if (r == 0)
        uppercase((unsigned char *)word, strlen(word));
    else if (r < 3)
        uppercase((unsigned char *)word, (unsigned char)word[0] == 0xC3 ? 2 : 1);
    size_t len = strlen(line);
    snprintf(line + len, size - len, "%s", word);
}

/* Picks a word with weight 1 / (rank + 1) (Zipf's law, roughly). */
static size_t pick_word(void)
{
    static double total;
    if (total == 0)
        for (size_t i = 0; i < NWORDS; i++)
            total += 1.0 / (double)(i + 1);
    double x = (double)(next_rand() % 1000000) / 1000000.0 * total;
    for (size_t i = 0; i < NWORDS; i++)
        if ((x -= 1.0 / (double)(i + 1)) < 0)
            return i;
    return NWORDS - 1;
}

/* ---- The embedded run ------------------------------------------------------------------ */

typedef struct {
    char *word;
    long long count;
} row_t;

typedef struct {
    row_t *rows;
    size_t n, cap;
    long long sum;
} snapshot_t;

static bool collect(void *ud, rill_buf_t key, rill_buf_t value, int64_t timestamp)
{
    snapshot_t *s = ud;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        row_t *rows = realloc(s->rows, cap * sizeof *rows);
        if (!rows)
            return false;
        s->rows = rows;
        s->cap = cap;
    }
    long long count = value.len == 8 ? (long long)rill_decode_i64(value.data) : -1;
    char *word = strndup(key.data, key.len);
    if (!word)
        return false;
    s->rows[s->n++] = (row_t){word, count};
    s->sum += count;
    return true;
}

static void snapshot_free(snapshot_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->rows[i].word);
    free(s->rows);
    *s = (snapshot_t){0};
}

/* Reads the whole store "counts" through interactive queries; 0 or the query's error. */
static int snapshot(rill_app_t *app, snapshot_t *s)
{
    snapshot_free(s);
    return rill_app_query_all(app, STORE, collect, s);
}

static int by_count_then_word(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->word, y->word);
}

/* The characters (not bytes) of a UTF-8 string, for aligning columns. */
static int width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static long long expected_count(const long long *expected, const char *word)
{
    for (size_t i = 0; i < NWORDS; i++)
        if (strcmp(vocabulary[i], word) == 0)
            return expected[i];
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* The sum of the latest counts the output watch saw. */
static long long output_total(output_watch_t *w)
{
    long long sum = 0;
    pthread_mutex_lock(&w->lock);
    for (size_t i = 0; i < w->n; i++)
        sum += w->rows[i].count;
    pthread_mutex_unlock(&w->lock);
    return sum;
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Feeds the sample text, waits for the counts, prints and checks them. conf is taken over. */
static int run_embedded(wc_args_t *args, rill_conf_t *conf)
{
    char err[1024];
    /* The embedded cluster lives in memory: local state from an earlier run would refer to
     * changelogs that no longer exist, so unless state.dir was chosen the run gets a fresh one,
     * removed at the end. */
    char tmp_state[64] = "";
    rill_conf_t *defaults = rill_conf_new();
    bool default_dir = defaults && strcmp(rill_conf_get(conf, "state.dir"),
                                          rill_conf_get(defaults, "state.dir")) == 0;
    rill_conf_destroy(defaults);
    if (default_dir) {
        const char *root = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(tmp_state, sizeof tmp_state, "%s/" APP_NAME "-XXXXXX", root);
        if (!mkdtemp(tmp_state) || rill_conf_set(conf, "state.dir", tmp_state, err, sizeof err)) {
            fprintf(stderr, APP_NAME ": cannot make a state directory %s\n", tmp_state);
            rill_conf_destroy(conf);
            return 1;
        }
    }
    output_watch_t watch = {.lock = PTHREAD_MUTEX_INITIALIZER};
    args->watch = &watch;
    int status = 1;
    rill_producer_t *p = NULL;
    rill_app_t *app = NULL;
    snapshot_t snap = {0};
    rill_topology_t *topo = rill_topology_new();
    err[0] = 0;
    if (!topo || build(topo, conf, args, err, sizeof err) ||
        rill_topology_build(topo, err, sizeof err)) {
        fprintf(stderr, APP_NAME ": cannot build the topology: %s\n", err);
        rill_conf_destroy(conf);
        goto done;
    }
    if (!(app = rill_app_new(topo, conf, err, sizeof err))) {
        fprintf(stderr, APP_NAME ": %s\n", err);
        rill_conf_destroy(conf);
        goto done;
    }
    char *text = rill_topology_describe(topo);
    printf("== The topology ==\n%s", text ? text : "");
    rill_free(text);

    /* 1. Feed the sample text (null keys, as the Java demo's input has). */
    long long expected[NWORDS] = {0}, words = 0;
    size_t distinct = 0;
    p = rill_producer_new(rill_app_bootstrap_servers(app), err, sizeof err);
    for (int i = 0; p && i < SAMPLE_LINES; i++) {
        char line[1024] = "";
        int nwords = 1 + (int)(next_rand() % 12);
        for (int k = 0; k < nwords; k++) {
            size_t w = pick_word();
            expected[w]++;
            words++;
            append_word(line, sizeof line, w);
            if (k + 1 < nwords || next_rand() % 3 == 0) {
                size_t len = strlen(line);
                snprintf(line + len, sizeof line - len, "%s",
                         separators[next_rand() % NSEPARATORS]);
            }
        }
        if (rill_producer_send(p, args->input, -1, rill_buf_str(NULL), rill_buf_str(line), 0)) {
            fprintf(stderr, APP_NAME ": cannot queue line %d\n", i);
            goto done;
        }
    }
    if (!p || rill_producer_flush(p, 30000)) {
        fprintf(stderr, APP_NAME ": could not write the input: %s\n", p ? "flush failed" : err);
        goto done;
    }
    for (size_t i = 0; i < NWORDS; i++)
        distinct += expected[i] > 0;
    printf("== Wrote %d lines (%lld words, %zu distinct) to '%s' ==\n", SAMPLE_LINES, words,
           distinct, args->input);

    /* 2. Run until the store holds every word, read as of the last commit. */
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    if (rill_app_start(app)) {
        fprintf(stderr, APP_NAME ": %s\n", rill_app_error(app, err, sizeof err));
        goto done;
    }
    int rc = RILL_ESTATE;
    while (rill_app_state(app) != RILL_STATE_ERROR && seconds_since(&start) < 60) {
        rc = snapshot(app, &snap);
        if (rc == 0 && snap.sum >= words && output_total(&watch) >= words)
            break;
        sleep_ms(20);
    }
    double secs = seconds_since(&start);
    if (rc) {
        fprintf(stderr, APP_NAME ": cannot query store '%s' after %.0f s (%s)%s%s\n", STORE, secs,
                rill_err_name(rc), rill_app_state(app) == RILL_STATE_ERROR ? ": " : "",
                rill_app_error(app, err, sizeof err));
        goto done;
    }
    if (snap.sum < words)
        printf("== Gave up waiting after %.2f s: %lld of %lld words counted ==\n", secs, snap.sum,
               words);
    else
        printf("== Counted in %.2f s (group join included) ==\n", secs);

    /* 3. The top words, as interactive queries see them. */
    qsort(snap.rows, snap.n, sizeof *snap.rows, by_count_then_word);
    printf("== Top %d words (interactive query of store '%s') ==\n", TOP, STORE);
    for (size_t i = 0; i < snap.n && i < TOP; i++) {
        int pad = 10 - width(snap.rows[i].word);
        printf("  %2zu. %s%*s %5lld\n", i + 1, snap.rows[i].word, pad > 0 ? pad : 0, "",
               snap.rows[i].count);
    }
    const char *probe = "straße";
    int32_t partition = -1;
    bool local = false;
    rill_bytes_t value = {0};
    int64_t ts = 0;
    if (rill_app_query_partition(app, STORE, rill_buf_str(probe), &partition, &local) == 0 &&
        rill_app_query_get(app, STORE, rill_buf_str(probe), &value, &ts) == 0 && value.len == 8)
        printf("  '%s' is in partition %d (%s): %lld\n", probe, partition,
               local ? "local" : "remote", (long long)rill_decode_i64(value.data));
    rill_bytes_free(&value);

    /* 4. Stop (the output watch saw everything the last commit wrote), then check. */
    rill_app_close(app, 30000);
    bool ok = rill_app_state(app) != RILL_STATE_ERROR;
    long long wrong_store = 0, wrong_output = 0;
    for (size_t i = 0; i < snap.n; i++) {
        long long want = expected_count(expected, snap.rows[i].word);
        if (snap.rows[i].count != want) {
            if (wrong_store++ < 5)
                printf("  store: '%s' counted %lld, fed %lld\n", snap.rows[i].word,
                       snap.rows[i].count, want);
        }
    }
    long long output_sum = 0;
    pthread_mutex_lock(&watch.lock);
    for (size_t i = 0; i < watch.n; i++) {
        long long want = expected_count(expected, watch.rows[i].word);
        output_sum += watch.rows[i].count;
        if (watch.rows[i].count != want && wrong_output++ < 5)
            printf("  output: '%s' last written %lld, fed %lld\n", watch.rows[i].word,
                   watch.rows[i].count, want);
    }
    size_t output_words = watch.n;
    pthread_mutex_unlock(&watch.lock);
    printf("== Totals ==\n"
           "  store '%s': %lld words, %zu distinct (fed %lld, %zu)\n"
           "  topic '%s': latest counts sum to %lld over %zu words\n",
           STORE, snap.sum, snap.n, words, distinct, args->output, output_sum, output_words);
    ok = ok && !wrong_store && !wrong_output && snap.sum == words && snap.n == distinct &&
         output_sum == words && output_words == distinct;
    if (ok)
        printf("== OK: totals match: every word counted once, in the store and on '%s' ==\n",
               args->output);
    else
        printf("== MISMATCH: see the totals above ==\n");
    status = ok ? 0 : 1;

done:
    snapshot_free(&snap);
    rill_producer_destroy(p);
    rill_app_destroy(app);
    rill_topology_unref(topo);
    for (size_t i = 0; i < watch.n; i++)
        free(watch.rows[i].word);
    free(watch.rows);
    if (tmp_state[0])
        nftw(tmp_state, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return status;
}

/* ---- The command line ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    wc_args_t args = {"streams-plaintext-input", "streams-wordcount-output", NULL};
    int n = argc;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            n = i;
            if (i + 3 < argc) {
                fprintf(stderr, "usage: " APP_NAME " [options] [-- INPUT-TOPIC [OUTPUT-TOPIC]] "
                                "(--help for options)\n");
                return 2;
            }
            if (i + 1 < argc)
                args.input = argv[i + 1];
            if (i + 2 < argc)
                args.output = argv[i + 2];
            break;
        }
    /* The embedded run's defaults come first, so the command line overrides them. */
    char err[256];
    rill_conf_t *conf = rill_conf_new();
    if (!conf || rill_conf_set(conf, "application.id", APP_NAME, err, sizeof err) ||
        rill_conf_set(conf, "commit.interval.ms", "100", err, sizeof err) ||
        /* The embedded cluster answers a fetch that finds no data only after
         * fetch.wait.max.ms, even when records arrive meanwhile: each hop through a topic
         * (the repartition) would add up to half a second. */
        rill_conf_set(conf, "consumer.fetch.wait.max.ms", "10", err, sizeof err)) {
        fprintf(stderr, APP_NAME ": cannot set up the configuration\n");
        rill_conf_destroy(conf);
        return 1;
    }
    /* --verbose is ours; the rest is rill_main()'s command line. */
    bool verbose = false;
    char **rest = calloc((size_t)n + 1, sizeof *rest);
    if (!rest) {
        rill_conf_destroy(conf);
        return 1;
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && strcmp(argv[i], "--verbose") == 0)
            verbose = true;
        else
            rest[m++] = argv[i];
    }
    rill_main_args_t opts;
    char perr[512];
    int rc = rill_main_parse(m, rest, conf, &opts, perr, sizeof perr);
    const char *bootstrap = rill_conf_get(conf, "bootstrap.servers");
    if (rc == 0 && opts.first_operand < m) {
        fprintf(stderr, APP_NAME ": unexpected argument '%s' (topics go after --)\n",
                rest[opts.first_operand]);
        free(rest);
        rill_conf_destroy(conf);
        return 2;
    }
    if (rc || opts.help || opts.describe || opts.dot || (bootstrap && *bootstrap)) {
        /* A cluster, --help, --describe, --dot or an error to report: rill_main()'s run. */
        rill_conf_destroy(conf);
        int status = rill_main(m, rest, APP_NAME, build, &args);
        free(rest);
        return status;
    }
    free(rest);
    /* The app's report is the output, line by line even into a pipe; Rill's log lines only
     * with --verbose, but for its warnings and notices (the embedded cluster). */
    setvbuf(stdout, NULL, _IOLBF, 0);
    rill_set_log_cb(NULL, NULL, verbose ? RILL_LOG_INFO : RILL_LOG_NOTICE);
    return run_embedded(&args, conf);
}
