/*
 * bench-rill-pipe: Rill running one workload of benchmarks/WORKLOADS.md, to compare with
 * bench-raw-pipe ("the limit") and the Kafka Streams peer.
 *
 * Every topology starts with a gate that counts the records it sees (the clock starts at the
 * first) and ends with a peek that counts the outputs handed to the sink. Bytes workloads use the
 * bytes serdes; Nexmark workloads a string key and JSON values, as a user would write them.
 *
 * Fairness: Rill's stream thread makes its clients with the settings raw_pipe.c copies, one
 * stream thread, the same processing guarantee (at-least-once unless --guarantee says
 * exactly_once_v2) and commit interval. The window runs from the first record
 * seen to the moment N records were processed and every output was acknowledged (Rill's delivery
 * reports, the same point the raw pipe's flush marks). CPU is the whole process over that window.
 * The main thread polls only before the first output (to time it) and after the N-th record.
 *
 * Windowed workloads (nexmark-q5, nexmark-q7, windowed-count) are timed differently, as
 * WORKLOADS.md says: their last outputs wait in the record caches for the next commits, so the
 * window closes when the gate sees the N-th record, and the drain that follows (untimed,
 * reported as drain_ms) waits until the group's committed offsets reach the end of the input and
 * then of the repartition topic (windowed-count has none): each such commit wrote the caches
 * through and had every output acknowledged first (under exactly_once_v2: committed the
 * transaction that holds them).
 * Then the final result per window (the last value the output sink was given for each key)
 * goes to the --finals file, the app's internal topics are deleted and its state directory (a
 * private temporary one) removed.
 *
 *   bench-rill-pipe --bootstrap B --input T --output O --group G --records N [--workload W]
 *                   [--warmup N] [--commit-interval MS] [--timeout S]
 *                   [--guarantee at_least_once|exactly_once_v2]
 *                   [--consumer-set KEY=VALUE]... [--app-set KEY=VALUE]... [--finals FILE]
 */
#define _GNU_SOURCE /* nftw() */

#include <rill/app.h>
#include <rill/dsl.h>

#include "bench_admin.h"
#include "bench_common.h"
#include "join_ops.h"
#include "nexmark_ops.h"

#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pipe_opts_t o;
static rill_app_t *the_app; /* for the gate's reads of the commit counter (@thread any) */

/*
 * What the stream thread tells the main thread. seen and outputs are touched only by the one
 * stream thread while it runs; the mutex publishes them (and t_first, cpu_first) to the main
 * thread when the N-th record has been seen or the app failed.
 */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    long long seen, outputs;
    double t_first, cpu_first;
    double t_end, cpu_end;              /* windowed workloads: when the gate saw the N-th record */
    int64_t commits_first, commits_end; /* windowed workloads: the app's commits then */
    double first_output_ms; /* windowed workloads: wall clock of the first output, or 0 */
    long rss_steady_kb;
    bool done, failed;
    char error[1024];
} run = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void die(const char *what, const char *detail)
{
    fprintf(stderr,
            "bench-rill-pipe: %s: %s (workload %s, input '%s', output '%s', group '%s', "
            "bootstrap %s)\n",
            what, detail, workload_names[o.workload], o.input, o.output, o.group, o.bootstrap);
    exit(1);
}

/* The gate: counts every record, starts the clock, samples RSS half way. */
static bool gate(void *ud, const rill_record_t *rec)
{
    /* The clock starts after the warm-up records (none by default). */
    if (run.seen++ == o.warmup) {
        run.t_first = now_s();
        run.cpu_first = cpu_s();
        if (workload_windowed(o.workload))
            run.commits_first = rill_app_metric(the_app, "commits");
    }
    if (run.seen == o.records / 2)
        run.rss_steady_kb = proc_status_kb("VmRSS");
    if (run.seen == o.records) {
        if (workload_windowed(o.workload)) {
            run.t_end = now_s();
            run.cpu_end = cpu_s();
            run.commits_end = rill_app_metric(the_app, "commits");
        }
        pthread_mutex_lock(&run.lock);
        run.done = true;
        pthread_cond_signal(&run.cond);
        pthread_mutex_unlock(&run.lock);
    }
    return true;
}

static void count_output(void *ud, const rill_record_t *rec)
{
    if (run.outputs++ == 0 && workload_windowed(o.workload))
        run.first_output_ms = wall_ms();
}

/* filter-map: keep even first bytes; prefix "m:". */
static bool even_first_byte(void *ud, const rill_record_t *rec)
{
    const unsigned char *v = rec->value.data;
    return rec->value.len && v[0] % 2 == 0;
}

static int prefix_m(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    char *p = rill_arena_alloc(rill_context_arena(ctx), rec->value.len + 2);
    if (!p)
        return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    p[0] = 'm';
    p[1] = ':';
    memcpy(p + 2, rec->value.data, rec->value.len);
    *out = (rill_buf_t){p, rec->value.len + 2};
    return 0;
}

/* ---- Windowed Nexmark: q5 (hot items) and q7 (highest bid) ---------------------------- */

/* Parses the comma-separated decimal integers of a string view into v[0..n-1]; returns whether
 * there were exactly n of them. The views of the string serde are not NUL-terminated. */
static bool parse_ints(rill_buf_t s, int64_t *v, int n)
{
    const char *p = s.data, *end = p + s.len;
    for (int i = 0; i < n; i++) {
        bool neg = p < end && *p == '-';
        p += neg;
        if (p == end || *p < '0' || *p > '9')
            return false;
        int64_t x = 0;
        while (p < end && *p >= '0' && *p <= '9')
            x = x * 10 + (*p++ - '0');
        v[i] = neg ? -x : x;
        if (i < n - 1 && (p == end || *p++ != ','))
            return false;
    }
    return p == end;
}

static int bad_value(rill_context_t *ctx, rill_buf_t v, const char *want)
{
    return rill_context_fail(ctx, RILL_EPROCESS, "a value is not \"%s\": '%.*s'", want,
                             (int)(v.len < 200 ? v.len : 200), v.data ? (const char *)v.data : "");
}

/* q5, stage 1 to stage 2: a final windowed count becomes key = window start (decimal
 * milliseconds), value = "<auction>,<count>". */
static int q5_rekey(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *key_out,
                    rill_buf_t *value_out)
{
    const rill_windowed_t *w = rec->key.data;
    rill_arena_t *arena = rill_context_arena(ctx);
    *key_out = rill_arena_printf(arena, "%" PRId64, w->start);
    *value_out = rec->value.data
                     ? rill_arena_printf(arena, "%.*s,%" PRId64, (int)w->key.len,
                                         (const char *)w->key.data, rill_value_i64(rec->value))
                     : (rill_buf_t){NULL, 0};
    return key_out->data ? 0 : rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
}

/* q5, stage 2: the hotter of two "<auction>,<count>": the larger count, then the smaller
 * auction. */
static int q5_hottest(void *ud, rill_context_t *ctx, rill_buf_t agg, rill_buf_t value,
                      rill_buf_t *out)
{
    int64_t a[2], b[2];
    if (!parse_ints(agg, a, 2))
        return bad_value(ctx, agg, "auction,count");
    if (!parse_ints(value, b, 2))
        return bad_value(ctx, value, "auction,count");
    *out = b[1] > a[1] || (b[1] == a[1] && b[0] < a[0]) ? value : agg;
    return 0;
}

/* q7, stage 1: the higher of two bids of one auction: the larger price, then the smaller
 * bidder (equal price and bidder: the same output either way; the first is kept). */
static int q7_higher_bid(void *ud, rill_context_t *ctx, rill_buf_t agg, rill_buf_t value,
                         rill_buf_t *out)
{
    int64_t ap, ab, bp, bb;
    if (rill_json_get_int(agg.data, "price", &ap) || rill_json_get_int(agg.data, "bidder", &ab) ||
        rill_json_get_int(value.data, "price", &bp) || rill_json_get_int(value.data, "bidder", &bb))
        return rill_context_fail(ctx, RILL_EPROCESS, "a bid has no integer price or bidder");
    *out = bp > ap || (bp == ap && bb < ab) ? value : agg;
    return 0;
}

/* q7, stage 1 to stage 2: an auction's final highest bid of a window becomes key = window
 * start, value = "<auction>,<price>,<bidder>". */
static int q7_rekey(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *key_out,
                    rill_buf_t *value_out)
{
    const rill_windowed_t *w = rec->key.data;
    rill_arena_t *arena = rill_context_arena(ctx);
    *key_out = rill_arena_printf(arena, "%" PRId64, w->start);
    *value_out = (rill_buf_t){NULL, 0};
    if (rec->value.data) {
        int64_t auction, price, bidder;
        if (rill_json_get_int(rec->value.data, "auction", &auction) ||
            rill_json_get_int(rec->value.data, "price", &price) ||
            rill_json_get_int(rec->value.data, "bidder", &bidder))
            return rill_context_fail(ctx, RILL_EPROCESS,
                                     "a bid has no integer auction, price "
                                     "or bidder");
        *value_out =
            rill_arena_printf(arena, "%" PRId64 ",%" PRId64 ",%" PRId64, auction, price, bidder);
    }
    return key_out->data ? 0 : rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
}

/* q7, stage 2: the higher of two "<auction>,<price>,<bidder>": the larger price, then the
 * smaller bidder, then the smaller auction. */
static int q7_highest(void *ud, rill_context_t *ctx, rill_buf_t agg, rill_buf_t value,
                      rill_buf_t *out)
{
    int64_t a[3], b[3];
    if (!parse_ints(agg, a, 3))
        return bad_value(ctx, agg, "auction,price,bidder");
    if (!parse_ints(value, b, 3))
        return bad_value(ctx, value, "auction,price,bidder");
    bool higher = b[1] > a[1] || (b[1] == a[1] && (b[2] < a[2] || (b[2] == a[2] && b[0] < a[0])));
    *out = higher ? value : agg;
    return 0;
}

/*
 * The final results, in one of three forms (WORKLOADS.md):
 * - the last value the output sink was given for each key (a window start; q3: a person, whose
 *   null value deletes the row): an open-addressing table that grows when half full, so only a
 *   new key allocates (and a value longer than its slot had);
 * - q8: every output, "<key> <value>", for a stream-stream join emits each pair once;
 * - stream-stream-join: the number of outputs and the sum of their hashes.
 * Touched by the stream thread only (its peek), read by the main thread after rill_app_close()
 * joined it.
 */
typedef struct {
    char key[24];
    char *value; /* NULL: deleted (q3) */
    size_t room;
} final_t;
static struct {
    final_t *slots;
    size_t cap, n;
    char **lines; /* q8 */
    size_t nlines, lines_cap;
    uint64_t checksum; /* stream-stream-join */
    bool overflow;     /* a key did not fit, or out of memory: reported as a failure */
} finals;

static uint64_t hash_bytes(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static final_t *final_slot(final_t *slots, size_t cap, const void *key, size_t len)
{
    for (size_t i = hash_bytes(key, len) & (cap - 1);; i = (i + 1) & (cap - 1))
        if (!slots[i].key[0] || (strlen(slots[i].key) == len && !memcmp(slots[i].key, key, len)))
            return &slots[i];
}

/* Keeps rec as the last value of its key; a null value deletes the key on q3 (a table's
 * delete), and is a failure elsewhere (windowed results are never null). */
static void note_last(const rill_record_t *rec)
{
    if (!rec->key.data || !rec->key.len || rec->key.len >= sizeof(finals.slots->key) ||
        (!rec->value.data && o.workload != W_NEXMARK_Q3)) {
        finals.overflow = true;
        return;
    }
    if (2 * (finals.n + 1) > finals.cap) {
        size_t cap = finals.cap ? 2 * finals.cap : 64;
        final_t *slots = calloc(cap, sizeof *slots);
        if (!slots) {
            finals.overflow = true;
            return;
        }
        for (size_t i = 0; i < finals.cap; i++)
            if (finals.slots[i].key[0])
                *final_slot(slots, cap, finals.slots[i].key, strlen(finals.slots[i].key)) =
                    finals.slots[i];
        free(finals.slots);
        finals.slots = slots;
        finals.cap = cap;
    }
    final_t *f = final_slot(finals.slots, finals.cap, rec->key.data, rec->key.len);
    if (!f->key[0]) {
        memcpy(f->key, rec->key.data, rec->key.len);
        finals.n++;
    }
    if (!rec->value.data) {
        free(f->value);
        f->value = NULL;
        f->room = 0;
        return;
    }
    if (rec->value.len + 1 > f->room) {
        char *v = realloc(f->value, rec->value.len + 1);
        if (!v) {
            finals.overflow = true;
            return;
        }
        f->value = v;
        f->room = rec->value.len + 1;
    }
    memcpy(f->value, rec->value.data, rec->value.len);
    f->value[rec->value.len] = 0;
}

/* q8: keeps "<key> <value>". */
static void note_line(const rill_record_t *rec)
{
    if (finals.nlines == finals.lines_cap) {
        size_t cap = finals.lines_cap ? 2 * finals.lines_cap : 1024;
        char **lines = realloc(finals.lines, cap * sizeof *lines);
        if (!lines) {
            finals.overflow = true;
            return;
        }
        finals.lines = lines;
        finals.lines_cap = cap;
    }
    char *line = malloc(rec->key.len + rec->value.len + 2);
    if (!line) {
        finals.overflow = true;
        return;
    }
    memcpy(line, rec->key.data, rec->key.len);
    line[rec->key.len] = ' ';
    memcpy(line + rec->key.len + 1, rec->value.data, rec->value.len);
    line[rec->key.len + 1 + rec->value.len] = 0;
    finals.lines[finals.nlines++] = line;
}

/* stream-stream-join: the hash of "<key>\n<value>", summed (so the order does not matter). */
static void note_sum(const rill_record_t *rec)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64's offset basis, as the peer's */
    const unsigned char *p = rec->key.data;
    for (size_t i = 0; i < rec->key.len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    h = (h ^ '\n') * 1099511628211ULL;
    p = rec->value.data;
    for (size_t i = 0; i < rec->value.len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    finals.checksum += h;
}

static void note_final(void *ud, const rill_record_t *rec)
{
    switch (o.workload) {
    case W_NEXMARK_Q8:
        note_line(rec);
        break;
    case W_STREAM_JOIN:
        note_sum(rec);
        break;
    default:
        note_last(rec);
    }
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const final_t *)a)->key, ((const final_t *)b)->key);
}

static int by_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Writes the final results to path: "<key> <value>" per key (deleted ones left out) or per
 * output, sorted, or the one line "outputs=N checksum=X"; returns how many lines. */
static size_t write_finals(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        die("cannot write the final results", path);
    size_t n = 0;
    if (o.workload == W_STREAM_JOIN) {
        fprintf(f, "outputs=%lld checksum=%016" PRIx64 "\n", run.outputs, finals.checksum);
        n = 1;
    } else if (o.workload == W_NEXMARK_Q8) {
        qsort(finals.lines, finals.nlines, sizeof *finals.lines, by_line);
        for (; n < finals.nlines; n++)
            fprintf(f, "%s\n", finals.lines[n]);
    } else {
        for (size_t i = 0; i < finals.cap; i++)
            if (finals.slots[i].key[0] && finals.slots[i].value)
                finals.slots[n++] = finals.slots[i];
        qsort(finals.slots, n, sizeof *finals.slots, by_key);
        for (size_t i = 0; i < n; i++)
            fprintf(f, "%s %s\n", finals.slots[i].key, finals.slots[i].value);
    }
    if (fclose(f))
        die("cannot write the final results", path);
    return n;
}

/* The repartition topic "<application.id>-<name>-repartition" of the workload: between the
 * stages of q5 and q7, of the auctions by seller in q3 and q8; NULL for windowed-count and
 * stream-stream-join, which have none. */
static const char *repartition_name(void)
{
    switch (o.workload) {
    case W_NEXMARK_Q5:
        return "q5-by-window";
    case W_NEXMARK_Q7:
        return "q7-by-window";
    case W_NEXMARK_Q3:
        return "q3-by-seller";
    case W_NEXMARK_Q8:
        return "q8-by-seller";
    default:
        return NULL;
    }
}

/* The input topics: one, or for the joins the two of "--input L,R". */
static char inputs[2][256];
static int ninputs;

static void split_inputs(void)
{
    const char *comma = strchr(o.input, ',');
    size_t len = comma ? (size_t)(comma - o.input) : strlen(o.input);
    if (len >= sizeof inputs[0] || (comma && strlen(comma + 1) >= sizeof inputs[1]) ||
        (comma && strchr(comma + 1, ',')) || !len || (comma != NULL) != workload_join(o.workload))
        die("bad --input", "a join wants two topics \"L,R\", any other workload one");
    memcpy(inputs[0], o.input, len);
    ninputs = 1;
    if (comma)
        snprintf(inputs[ninputs++], sizeof inputs[1], "%s", comma + 1);
}

/* windowed-count: a windowed count becomes key = "<key>@<window start>" (decimal
 * milliseconds), value = the count in decimal: both strings, so that a reader of the output
 * needs no serde of either system. */
static int wc_rekey(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *key_out,
                    rill_buf_t *value_out)
{
    const rill_windowed_t *w = rec->key.data;
    rill_arena_t *arena = rill_context_arena(ctx);
    *key_out = rill_arena_printf(arena, "%.*s@%" PRId64, (int)w->key.len, (const char *)w->key.data,
                                 w->start);
    *value_out = rec->value.data ? rill_arena_printf(arena, "%" PRId64, rill_value_i64(rec->value))
                                 : (rill_buf_t){NULL, 0};
    return key_out->data ? 0 : rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
}

/* windowed-count (WORKLOADS.md): per record key (no repartition: the input is keyed and
 * partitioned by it), tumbling windows of 1 s of record time, grace 0, count, every update of
 * the table (as the record cache lets it through) re-keyed and written out. */
static rill_stream_t *windowed_count(rill_stream_t *records)
{
    rill_table_t *counts =
        rill_windowed_count(rill_grouped_windowed_by(rill_stream_group_by_key(records, NULL),
                                                     rill_windows_tumbling(1000, 0)),
                            NULL);
    return rill_stream_map(rill_table_to_stream(counts), wc_rekey, NULL);
}

/* q5 and q7: stage 1 per auction and window (the bids are keyed by auction already, so no
 * repartition), final results only (suppress), re-keyed by window start; stage 2 across the
 * auctions of each window, after the repartition. Returns the stream of stage 2's updates. */
static rill_stream_t *windowed(rill_stream_t *bids)
{
    rill_grouped_t *by_auction = rill_stream_group_by_key(bids, NULL);
    rill_suppressed_t until_closed = {.until_window_closes = true};
    rill_stream_t *finals1;
    rill_map_fn rekey;
    rill_reducer_fn best;
    if (o.workload == W_NEXMARK_Q5) {
        rill_table_t *counts = rill_windowed_count(
            rill_grouped_windowed_by(by_auction, rill_windows_hopping(10000, 2000, 0)), NULL);
        finals1 = rill_table_to_stream(rill_table_suppress(counts, &until_closed));
        rekey = q5_rekey;
        best = q5_hottest;
    } else {
        rill_table_t *highest = rill_windowed_reduce(
            rill_grouped_windowed_by(by_auction, rill_windows_tumbling(10000, 0)), q7_higher_bid,
            NULL, NULL);
        finals1 = rill_table_to_stream(rill_table_suppress(highest, &until_closed));
        rekey = q7_rekey;
        best = q7_highest;
    }
    rill_grouped_opts_t by_window = {.name = repartition_name(),
                                     .key_serde = rill_serde_string(),
                                     .value_serde = rill_serde_string()};
    rill_grouped_t *g = rill_stream_group_by_key(rill_stream_map(finals1, rekey, NULL), &by_window);
    return rill_table_to_stream(rill_grouped_reduce(g, best, NULL, NULL));
}

/* ---- Joins: nexmark-q3, nexmark-q8, stream-stream-join ---------------------------------- */

#define Q8_WINDOW_MS 10000   /* q8's tumbling windows, and the join's time difference */
#define Q8_GRACE_MS  3600000 /* q8: no record is late whatever order the two sides come in */

static bool is_state(rill_buf_t s, const char *two)
{
    return s.len == 2 && ((const char *)s.data)[0] == two[0] && ((const char *)s.data)[1] == two[1];
}

/* q3's person filter, and the gate of the persons (a table has no stream before it): the
 * states of Beam's q3. */
static bool q3_person(void *ud, const rill_record_t *rec)
{
    gate(ud, rec);
    rill_buf_t st;
    return rec->value.data && rill_json_get_str(rec->value.data, "state", &st) == 0 &&
           (is_state(st, "OR") || is_state(st, "ID") || is_state(st, "CA"));
}

/* q3's auction filter: category 10. */
static bool q3_auction(void *ud, const rill_record_t *rec)
{
    int64_t category;
    return rec->value.data && rill_json_get_int(rec->value.data, "category", &category) == 0 &&
           category == 10;
}

/* q3: an auction becomes key = its seller, value = its id (decimal strings). */
static int q3_by_seller(void *ud, rill_context_t *ctx, const rill_record_t *rec,
                        rill_buf_t *key_out, rill_buf_t *value_out)
{
    int64_t seller, id;
    if (rill_json_get_int(rec->value.data, "seller", &seller) ||
        rill_json_get_int(rec->value.data, "id", &id))
        return rill_context_fail(ctx, RILL_EPROCESS, "an auction has no integer seller or id");
    rill_arena_t *arena = rill_context_arena(ctx);
    *key_out = rill_arena_printf(arena, "%" PRId64, seller);
    *value_out = rill_arena_printf(arena, "%" PRId64, id);
    return key_out->data && value_out->data ? 0
                                            : rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
}

/* q3: the ids of a seller's auctions, ascending and space-separated, with the id of value
 * inserted in its place: the same list whatever order the auctions come in. */
static int q3_add_id(void *ud, rill_context_t *ctx, rill_buf_t agg, rill_buf_t value,
                     rill_buf_t *out)
{
    int64_t id;
    if (!parse_ints(value, &id, 1))
        return bad_value(ctx, value, "auction id");
    const char *p = agg.data, *end = p + agg.len, *at = p;
    while (at < end) { /* the first id of the list above id */
        int64_t x = 0;
        const char *q = at;
        while (q < end && *q != ' ')
            x = x * 10 + (*q++ - '0');
        if (x > id)
            break;
        at = q < end ? q + 1 : q;
    }
    size_t head = (size_t)(at - p);
    char *o = rill_arena_alloc(rill_context_arena(ctx), agg.len + value.len + 1);
    if (!o)
        return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    size_t n = 0;
    memcpy(o, p, head);
    n = head;
    if (head && at == end)
        o[n++] = ' '; /* appended after the last */
    memcpy(o + n, value.data, value.len);
    n += value.len;
    if (at < end) {
        o[n++] = ' ';
        memcpy(o + n, at, (size_t)(end - at));
        n += (size_t)(end - at);
    }
    *out = (rill_buf_t){o, n};
    return 0;
}

/* q3's joiner: "<name>,<city>,<state>,<auction ids>". */
static int q3_join(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t person, rill_buf_t ids,
                   rill_buf_t *out)
{
    rill_buf_t name, city, state;
    if (rill_json_get_str(person.data, "name", &name) ||
        rill_json_get_str(person.data, "city", &city) ||
        rill_json_get_str(person.data, "state", &state))
        return rill_context_fail(ctx, RILL_EPROCESS, "a person has no name, city or state");
    *out = rill_arena_printf(rill_context_arena(ctx), "%.*s,%.*s,%.*s,%.*s", (int)name.len,
                             (const char *)name.data, (int)city.len, (const char *)city.data,
                             (int)state.len, (const char *)state.data, (int)ids.len,
                             (const char *)ids.data);
    return out->data ? 0 : rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
}

/* q8: an auction's key becomes its seller. */
static int q8_seller(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    int64_t seller;
    if (rill_json_get_int(rec->value.data, "seller", &seller))
        return rill_context_fail(ctx, RILL_EPROCESS, "an auction has no integer seller");
    *out = rill_arena_printf(rill_context_arena(ctx), "%" PRId64, seller);
    return out->data ? 0 : rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
}

/* q8's joiner: a person and an auction of theirs in the same tumbling window give
 * "<window start>,<name>,<auction id>,<reserve>"; pairs of different windows a null value,
 * which the filter after the join drops. */
static int q8_join(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t person,
                   rill_buf_t auction, rill_buf_t *out)
{
    int64_t tp, ta, id, reserve;
    rill_buf_t name;
    if (rill_json_get_int(person.data, "dateTime", &tp) ||
        rill_json_get_str(person.data, "name", &name) ||
        rill_json_get_int(auction.data, "dateTime", &ta) ||
        rill_json_get_int(auction.data, "id", &id) ||
        rill_json_get_int(auction.data, "reserve", &reserve))
        return rill_context_fail(ctx, RILL_EPROCESS, "a person or auction lacks a field");
    *out = (rill_buf_t){NULL, 0};
    if (tp / Q8_WINDOW_MS != ta / Q8_WINDOW_MS)
        return 0;
    *out = rill_arena_printf(rill_context_arena(ctx), "%" PRId64 ",%.*s,%" PRId64 ",%" PRId64,
                             tp / Q8_WINDOW_MS * Q8_WINDOW_MS, (int)name.len,
                             (const char *)name.data, id, reserve);
    return out->data ? 0 : rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
}

static bool has_value(void *ud, const rill_record_t *rec)
{
    return rec->value.data != NULL;
}

/* The join workloads (WORKLOADS.md, "Joins"): inputs[0] is the left side, inputs[1] the right;
 * every record of both goes through the gate first. Returns the stream to the sink. */
static rill_stream_t *joins(rill_topology_t *topo)
{
    bool json = o.workload != W_STREAM_JOIN;
    rill_source_opts_t in = {
        .key_serde = json ? rill_serde_string() : rill_serde_bytes(),
        .value_serde = json ? rill_serde_json() : rill_serde_bytes(),
    };
    if (o.workload == W_NEXMARK_Q3) {
        /* No cache on the persons' table: its filter sees each person as it is read. */
        rill_materialized_t uncached = {.no_caching = true};
        rill_table_t *persons = rill_table_filter(rill_table_from(topo, inputs[0], &in, &uncached),
                                                  q3_person, NULL, NULL);
        rill_stream_t *auctions = rill_stream_filter(
            rill_stream_filter(rill_stream_from_topic(topo, inputs[1], &in), gate, NULL),
            q3_auction, NULL);
        rill_grouped_opts_t by_seller = {.name = repartition_name(),
                                         .key_serde = rill_serde_string(),
                                         .value_serde = rill_serde_string()};
        rill_table_t *ids = rill_grouped_reduce(
            rill_stream_group_by_key(rill_stream_map(auctions, q3_by_seller, NULL), &by_seller),
            q3_add_id, NULL, NULL);
        rill_materialized_t strings = {.value_serde = rill_serde_string()};
        return rill_table_to_stream(rill_table_join(persons, ids, q3_join, NULL, &strings));
    }
    rill_stream_t *left =
        rill_stream_filter(rill_stream_from_topic(topo, inputs[0], &in), gate, NULL);
    rill_stream_t *right =
        rill_stream_filter(rill_stream_from_topic(topo, inputs[1], &in), gate, NULL);
    if (o.workload == W_NEXMARK_Q8) {
        rill_sink_opts_t by = {.key_serde = rill_serde_string(), .value_serde = rill_serde_json()};
        rill_stream_t *auctions = rill_stream_repartition(
            rill_stream_select_key(right, q8_seller, NULL), repartition_name(), 0, &by);
        rill_join_opts_t jo = {.value_serde = rill_serde_string()};
        return rill_stream_filter(rill_stream_join(left, auctions, q8_join, NULL,
                                                   rill_join_windows(Q8_WINDOW_MS, Q8_GRACE_MS),
                                                   &jo),
                                  has_value, NULL);
    }
    rill_join_opts_t jo = {.value_serde = rill_serde_bytes()};
    return rill_stream_join(left, right, ssj_concat, NULL,
                            rill_join_windows(SSJ_WINDOW_MS, SSJ_GRACE_MS), &jo);
}

static rill_topology_t *build(void)
{
    if (workload_join(o.workload)) {
        rill_topology_t *topo = rill_topology_new();
        bool bytes = o.workload == W_STREAM_JOIN;
        rill_sink_opts_t out = {.key_serde = bytes ? rill_serde_bytes() : rill_serde_string(),
                                .value_serde = bytes ? rill_serde_bytes() : rill_serde_string()};
        rill_stream_t *s = rill_stream_peek(joins(topo), note_final, NULL);
        if (rill_stream_to(rill_stream_peek(s, count_output, NULL), o.output, &out))
            die("cannot build the topology", "rill_stream_to failed");
        return topo;
    }
    rill_topology_t *topo = rill_topology_new();
    bool json = o.workload >= W_NEXMARK_Q0 && o.workload != W_WINDOWED_COUNT;
    rill_source_opts_t in = {
        .key_serde = json ? rill_serde_string() : rill_serde_bytes(),
        .value_serde = json ? rill_serde_json() : rill_serde_bytes(),
        .timestamp_fn = json && workload_windowed(o.workload) ? bid_time : NULL,
    };
    rill_stream_t *s = rill_stream_filter(rill_stream_from_topic(topo, o.input, &in), gate, NULL);
    switch (o.workload) {
    case W_PASSTHROUGH:
    case W_NEXMARK_Q0:
        break;
    case W_FILTER_MAP:
        s = rill_stream_map_values(rill_stream_filter(s, even_first_byte, NULL), prefix_m, NULL);
        break;
    case W_NEXMARK_Q1:
        s = rill_stream_map_values(s, to_euros, NULL);
        break;
    case W_NEXMARK_Q2:
        s = rill_stream_map_values(rill_stream_filter(s, auction_mod_123, NULL), auction_price,
                                   NULL);
        break;
    case W_NEXMARK_Q5:
    case W_NEXMARK_Q7:
        s = rill_stream_peek(windowed(s), note_final, NULL);
        break;
    case W_WINDOWED_COUNT:
        s = rill_stream_peek(windowed_count(s), note_final, NULL);
        break;
    case W_NEXMARK_Q3:
    case W_NEXMARK_Q8:
    case W_STREAM_JOIN:
        break; /* joins(), above */
    }
    rill_sink_opts_t out = {.key_serde = in.key_serde, .value_serde = in.value_serde};
    if (workload_windowed(o.workload))
        out.key_serde = out.value_serde = rill_serde_string();
    if (rill_stream_to(rill_stream_peek(s, count_output, NULL), o.output, &out))
        die("cannot build the topology", "rill_stream_to failed");
    return topo;
}

/* ---- The end of a windowed run: drain, final results, cleanup ------------------------- */

/* A client of the app's group that never joins it: it reads the group's committed offsets and
 * the ends of partitions, and administers topics. */
static rd_kafka_t *group_reader(void)
{
    const char *const kv[][2] = {
        {"bootstrap.servers", o.bootstrap},
        {"client.id", "rill-bench-drain"},
        {"group.id", o.group},
        {"enable.auto.commit", "false"},
    };
    rd_kafka_conf_t *conf = bench_client_conf("bench-rill-pipe", kv, sizeof kv / sizeof kv[0]);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk)
        die("cannot create a client to read the group's offsets", err);
    return rk;
}

/* The partition count of topic, or exits. */
static int partitions_of(rd_kafka_t *rk, const char *topic)
{
    int n = 0;
    for (int tries = 0; n <= 0 && tries < 100; tries++) {
        if (bench_topic_partitions(rk, &topic, 1, &n, 5000) < 0)
            die("cannot read the cluster's metadata", topic);
        if (n <= 0) {
            struct timespec backoff = {0, 100 * 1000000};
            nanosleep(&backoff, NULL);
        }
    }
    if (n <= 0)
        die("topic has no partitions with a leader", topic);
    return n;
}

/* 1 when the group has committed every partition of topic up to its end (a partition that
 * never held a record counts as done), 0 when not yet, -1 when the cluster did not answer. */
static int committed_to_end(rd_kafka_t *rk, const char *topic, int partitions)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(list, topic, p);
    int done = rd_kafka_committed(rk, list, 5000) ? -1 : 1;
    for (int i = 0; i < list->cnt && done == 1; i++) {
        int64_t lo, hi, committed = list->elems[i].err ? -1 : list->elems[i].offset;
        if (rd_kafka_query_watermark_offsets(rk, topic, list->elems[i].partition, &lo, &hi, 5000))
            done = -1;
        else if (hi > 0 && committed < hi)
            done = 0;
    }
    rd_kafka_topic_partition_list_destroy(list);
    return done;
}

/*
 * Waits until every output of the N records is written and acknowledged. A commit writes every
 * task's cache through (stage 1's suppress then emits what closed, to the repartition topic)
 * and waits for every record produced to be acknowledged before it commits the offsets. So once
 * the group's offsets reach the end of the input, stage 1 is done and the repartition topic
 * holds all it will ever hold; once they reach the end of the repartition topic, stage 2 has
 * processed all of it and a commit wrote its cache through and had the outputs acknowledged.
 * Without a repartition topic (NULL: windowed-count) the input's end is the end. Under
 * exactly_once_v2 the offsets are committed by the transaction that holds the outputs, so the
 * same test means the outputs are committed.
 */
static void drain(rill_app_t *app, rd_kafka_t *rk, const char *repartition, double deadline)
{
    const char *topics[3];
    int parts[3], n = 0;
    for (int i = 0; i < ninputs; i++)
        topics[n++] = inputs[i];
    if (repartition)
        topics[n++] = repartition;
    for (int i = 0; i < n; i++)
        parts[i] = partitions_of(rk, topics[i]);
    for (int at = 0; at < n;) {
        char err[1024];
        if (rill_app_state(app) == RILL_STATE_ERROR)
            die("the app failed", rill_app_error(app, err, sizeof err));
        if (committed_to_end(rk, topics[at], parts[at]) == 1) {
            at++;
            continue;
        }
        if (now_s() > deadline) {
            snprintf(err, sizeof err,
                     "the group's offsets did not reach the end of '%s' within %ld s", topics[at],
                     o.timeout_s);
            die("cannot drain", err);
        }
        struct timespec tick = {0, 20 * 1000000};
        nanosleep(&tick, NULL);
    }
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* The windowed run after the N-th record: drain, close, final results, cleanup, RESULT. */
static int finish_windowed(rill_app_t *app, rill_topology_t *topo, const char *state_dir,
                           double started_ms, double deadline)
{
    rd_kafka_t *rk = group_reader(); /* made now, so it costs nothing in the measured window */
    char repartition[512] = "", err[1024];
    if (repartition_name())
        snprintf(repartition, sizeof repartition, "%s-%s-repartition", o.group, repartition_name());
    double seconds = run.t_end - run.t_first, cpu = run.cpu_end - run.cpu_first;
    double drain_start = now_s();
    drain(app, rk, repartition[0] ? repartition : NULL, deadline);
    double drain_ms = (now_s() - drain_start) * 1000.0;
    if (workload_join(o.workload)) {
        /* A join's work goes on after the N-th record came in (the auctions come back through
         * the repartition topic; the joined table waits for the commit): the clock and CPU run
         * to the end of the drain. */
        seconds = now_s() - run.t_first;
        cpu = cpu_s() - run.cpu_first;
    }
    long rss_peak_kb = proc_status_kb("VmHWM");
    long long late = (long long)rill_app_metric(app, "late-records-dropped");
    if (rill_app_close(app, 30000))
        die("cannot close the app", "timed out");
    if (rill_app_state(app) == RILL_STATE_ERROR)
        die("the app failed", rill_app_error(app, err, sizeof err));
    rill_app_destroy(app);

    /* The app's internal topics and state go, as the harness deletes the round's topics. */
    const char *internal[8];
    char names[8][512];
    int n = 0;
    if (repartition[0]) {
        snprintf(names[n], sizeof names[n], "%s", repartition);
        internal[n] = names[n];
        n++;
    }
    for (int i = 0; i < rill_topology_store_count(topo) && n < 8; i++, n++) {
        snprintf(names[n], sizeof names[n], "%s-%s-changelog", o.group,
                 rill_topology_store(topo, i, NULL)->name);
        internal[n] = names[n];
    }
    bench_delete_topics(rk, "bench-rill-pipe", o.bootstrap, internal, n);
    rd_kafka_destroy(rk);
    rill_topology_unref(topo);
    if (nftw(state_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS))
        fprintf(stderr, "bench-rill-pipe: warning: cannot remove the state directory '%s'\n",
                state_dir);

    if (run.seen != o.records || finals.overflow) {
        fprintf(stderr, "bench-rill-pipe: %s (input '%s')\n",
                finals.overflow ? "an output's key or value did not fit the final results table"
                                : "the gate saw more records than asked for",
                o.input);
        return 1;
    }
    if (late)
        fprintf(stderr, "bench-rill-pipe: warning: %lld late records dropped\n", late);
    size_t nfinals = o.finals ? write_finals(o.finals) : finals.n;
    long long measured = o.records - o.warmup;
    printf("RESULT system=rill workload=%s records=%lld measured=%lld seconds=%.3f rps=%.0f "
           "cpu_seconds=%.3f produced=%lld rss_peak_kb=%ld rss_steady_kb=%ld "
           "first_output_ms=%.0f drain_ms=%.0f finals=%zu late=%lld commits=%lld\n",
           workload_names[o.workload], o.records, measured, seconds, (double)measured / seconds,
           cpu, run.outputs, rss_peak_kb, run.rss_steady_kb,
           run.outputs ? run.first_output_ms - started_ms : -1.0, drain_ms, nfinals, late,
           (long long)(run.commits_end - run.commits_first));
    return 0;
}

static void on_error(void *ud, int err, const char *message)
{
    pthread_mutex_lock(&run.lock);
    run.failed = true;
    snprintf(run.error, sizeof run.error, "%s: %s", rill_err_name(err), message);
    pthread_cond_signal(&run.cond);
    pthread_mutex_unlock(&run.lock);
}

int main(int argc, char **argv)
{
    double started_ms = process_start_ms();
    pipe_opts_parse(&o, argc, argv, "bench-rill-pipe");
    split_inputs();
    rill_set_log_cb(NULL, NULL, getenv("RILL_DEBUG") ? RILL_LOG_DEBUG : RILL_LOG_WARN);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&run.cond, &ca);
    pthread_condattr_destroy(&ca);

    char err[1024], commit_ms[32], connect_ms[32];
    snprintf(commit_ms, sizeof commit_ms, "%ld", o.commit_interval_ms);
    snprintf(connect_ms, sizeof connect_ms, "%ld", o.timeout_s < 30 ? o.timeout_s * 1000 : 30000);
    rill_conf_t *conf = rill_conf_new();
    const char *const kv[][2] = {
        {"application.id", o.group},           {"bootstrap.servers", o.bootstrap},
        {"commit.interval.ms", commit_ms},     {"cluster.connect.timeout.ms", connect_ms},
        {"num.stream.threads", "1"}, /* the counters above rely on one stream thread */
        {"processing.guarantee", o.guarantee},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rill_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err))
            die("bad configuration", err);
    for (size_t i = 0; i < o.nconsumer_set; i++) {
        char key[256];
        snprintf(key, sizeof key, "consumer.%s", o.consumer_set[i][0]);
        if (rill_conf_set(conf, key, o.consumer_set[i][1], err, sizeof err))
            die("bad --consumer-set", err);
    }
    for (size_t i = 0; i < o.napp_set; i++)
        if (rill_conf_set(conf, o.app_set[i][0], o.app_set[i][1], err, sizeof err))
            die("bad --app-set", err);
    /* Windowed workloads: a private state directory (removed at the end), and the repartition
     * topic made beforehand with retention.ms=-1, as Kafka Streams makes its own: the records
     * carry 2023 event times, which the broker's default retention of 7 days would delete
     * while the run goes on (Rill creates repartition topics with the broker's default). */
    char state_dir[] = "/tmp/rill-bench-pipe-XXXXXX";
    if (workload_windowed(o.workload)) {
        if (!mkdtemp(state_dir))
            die("cannot make a state directory", state_dir);
        if (rill_conf_set(conf, "state.dir", state_dir, err, sizeof err))
            die("bad configuration", err);
    }
    if (repartition_name()) {
        rd_kafka_t *rk = group_reader();
        char repartition[512];
        snprintf(repartition, sizeof repartition, "%s-%s-repartition", o.group, repartition_name());
        const char *names[] = {repartition};
        bench_create_topics(rk, "bench-rill-pipe", o.bootstrap, names, 1,
                            partitions_of(rk, inputs[0]), false);
        rd_kafka_destroy(rk);
    }
    rill_topology_t *topo = build();
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    if (!app)
        die("cannot create the app", err);
    the_app = app;
    rill_app_set_error_handler(app, on_error, NULL);

    double start = now_s(), end_deadline = start + (double)o.timeout_s;
    if (rill_app_start(app))
        die("cannot start the app", rill_app_error(app, err, sizeof err));

    /* Phase 0: time the first acknowledged output (polling: before the measured window). A
     * windowed workload's first output comes late, and records-produced also counts its
     * changelog and repartition records: its peek takes the time instead. */
    double first_output_ms = -1;
    while (!workload_windowed(o.workload) && rill_app_metric(app, "records-produced") < 1 &&
           now_s() < end_deadline && rill_app_state(app) != RILL_STATE_ERROR) {
        struct timespec tick = {0, 1000000};
        nanosleep(&tick, NULL);
    }
    if (!workload_windowed(o.workload) && rill_app_metric(app, "records-produced") >= 1)
        first_output_ms = wall_ms() - started_ms;

    /* Phase 1: sleep until the stream thread has seen N records, failed, or time is up. */
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)(end_deadline - now_s()) + 1;
    pthread_mutex_lock(&run.lock);
    int rc = 0;
    while (!run.done && !run.failed && rc == 0)
        rc = pthread_cond_timedwait(&run.cond, &run.lock, &deadline);
    bool done = run.done, failed = run.failed;
    snprintf(err, sizeof err, "%s", run.error);
    pthread_mutex_unlock(&run.lock);
    if (failed)
        die("the app failed", err);
    if (!done) {
        fprintf(stderr,
                "bench-rill-pipe: only %lld of %lld records seen within %ld s, app %s "
                "(input '%s', bootstrap %s)\n",
                (long long)rill_app_metric(app, "records-processed"), o.records, o.timeout_s,
                rill_state_name(rill_app_state(app)), o.input, o.bootstrap);
        return 1;
    }
    if (workload_windowed(o.workload))
        return finish_windowed(app, topo, state_dir, started_ms, end_deadline);

    /* Phase 2: every record counted in the metric (added per batch) and every output acked.
     * After the N-th record the stream thread only finishes its batch: run.outputs is final
     * once records-processed reaches N. */
    int64_t processed = 0, produced = 0;
    while ((processed = rill_app_metric(app, "records-processed")) < o.records ||
           (produced = rill_app_metric(app, "records-produced")) < run.outputs) {
        if (rill_app_state(app) == RILL_STATE_ERROR)
            die("the app failed", rill_app_error(app, err, sizeof err));
        if (now_s() > end_deadline) {
            fprintf(stderr,
                    "bench-rill-pipe: %lld records processed, %lld of %lld outputs "
                    "acknowledged within %ld s (output '%s', bootstrap %s)\n",
                    (long long)processed, (long long)rill_app_metric(app, "records-produced"),
                    run.outputs, o.timeout_s, o.output, o.bootstrap);
            return 1;
        }
        struct timespec tick = {0, 1000000};
        nanosleep(&tick, NULL);
    }
    double seconds = now_s() - run.t_first;
    double cpu = cpu_s() - run.cpu_first;
    long rss_peak_kb = proc_status_kb("VmHWM");

    /* Read before closing: the counters live in the stream threads, which close frees. */
    processed = rill_app_metric(app, "records-processed");
    produced = rill_app_metric(app, "records-produced");
    if (rill_app_close(app, 30000))
        die("cannot close the app", "timed out");
    if (rill_app_state(app) == RILL_STATE_ERROR)
        die("the app failed", rill_app_error(app, err, sizeof err));
    rill_app_destroy(app);
    rill_topology_unref(topo);
    if (processed < o.records || run.seen != o.records || produced < run.outputs) {
        fprintf(stderr,
                "bench-rill-pipe: expected %lld records processed and %lld produced, "
                "got %lld processed (%lld seen) and %lld produced (input '%s')\n",
                o.records, run.outputs, (long long)processed, run.seen, (long long)produced,
                o.input);
        return 1;
    }
    long long measured = (long long)processed - o.warmup;
    printf("RESULT system=rill workload=%s records=%lld measured=%lld seconds=%.3f rps=%.0f "
           "cpu_seconds=%.3f produced=%lld rss_peak_kb=%ld rss_steady_kb=%ld "
           "first_output_ms=%.0f\n",
           workload_names[o.workload], (long long)processed, measured, seconds,
           (double)measured / seconds, cpu, (long long)produced, rss_peak_kb, run.rss_steady_kb,
           first_output_ms);
    return 0;
}
