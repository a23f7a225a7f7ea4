/*
 * Metric cells: counters and histograms that one thread writes and any thread reads, without a
 * lock and without an atomic read-modify-write. The owner adds with a relaxed load and store (a
 * plain add on x86-64 and arm64: one writer, so nothing is lost); a scrape reads each cell with
 * a relaxed load, so it may see a histogram's buckets a few records apart from its count, never
 * a torn value. Histograms count nanoseconds into power-of-two buckets (bucket i holds values
 * <= 2^(i + 7) ns: 128 ns to 73 minutes, then +Inf: end-to-end latency during a catch-up and
 * eager rebalances need the top ones), found with one count-leading-zeros: no search, no
 * allocation. Header-only, not installed: the engine (thread and task metrics) and the task
 * runtime in operators/ (store and processor-node metrics, read by the engine's scrape) include it
 * as "base/metric_cells.h".
 */
#ifndef RILL_BASE_METRIC_CELLS_H
#define RILL_BASE_METRIC_CELLS_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* The monotonic clock in nanoseconds, what the histograms' latencies are measured with (a vDSO
 * read, no system call): inline, for the store operations timed at metrics.recording.level
 * DEBUG. */
static inline int64_t hist_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

typedef struct {
    _Atomic uint64_t v;
} cell_t;

/* Adds n to c; only c's owner thread calls it. */
static inline void cell_add(cell_t *c, uint64_t n)
{
    atomic_store_explicit(&c->v, atomic_load_explicit(&c->v, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* Sets c to v (a gauge); only c's owner thread calls it. */
static inline void cell_set(cell_t *c, uint64_t v)
{
    atomic_store_explicit(&c->v, v, memory_order_relaxed);
}

/* Reads c. @thread any */
static inline uint64_t cell_get(const cell_t *c)
{
    return atomic_load_explicit(&((cell_t *)c)->v, memory_order_relaxed);
}

#define HIST_BUCKETS    36 /* le 2^7 .. 2^42 nanoseconds; bucket[HIST_BUCKETS] is +Inf */
#define HIST_FIRST_LOG2 7

typedef struct {
    cell_t bucket[HIST_BUCKETS + 1]; /* not cumulative: a scrape adds them up */
    /* The sum in seconds, a double's bits (nanoseconds in a uint64 would wrap after 584 years
     * of latency in all: a replay of old records gets there). The count is the buckets' sum,
     * so a scrape's +Inf bucket equals it. */
    cell_t sum_s;
} hist_t;

/* The bucket of a value of ns nanoseconds: the smallest i with ns <= 2^(i + 7). */
static inline int hist_bucket(uint64_t ns)
{
    if (ns <= (1u << HIST_FIRST_LOG2))
        return 0;
    int i = 64 - __builtin_clzll(ns - 1) - HIST_FIRST_LOG2;
    return i < HIST_BUCKETS ? i : HIST_BUCKETS;
}

/* Counts n observations of ns nanoseconds each (n > 1: the average of a batch of n). */
static inline void hist_observe_n(hist_t *h, uint64_t ns, uint64_t n)
{
    cell_add(&h->bucket[hist_bucket(ns)], n);
    double sum;
    uint64_t bits = atomic_load_explicit(&h->sum_s.v, memory_order_relaxed);
    memcpy(&sum, &bits, sizeof sum);
    sum += (double)ns * (double)n / 1e9;
    memcpy(&bits, &sum, sizeof bits);
    atomic_store_explicit(&h->sum_s.v, bits, memory_order_relaxed);
}

/* Returns the sum of h's observations in seconds. @thread any */
static inline double hist_sum_s(const hist_t *h)
{
    uint64_t bits = cell_get(&h->sum_s);
    double sum;
    memcpy(&sum, &bits, sizeof sum);
    return sum;
}

/* Returns how many observations h has. @thread any */
static inline uint64_t hist_count(const hist_t *h)
{
    uint64_t n = 0;
    for (int i = 0; i <= HIST_BUCKETS; i++)
        n += cell_get(&h->bucket[i]);
    return n;
}

/* Counts one observation of ns nanoseconds. */
static inline void hist_observe(hist_t *h, uint64_t ns)
{
    hist_observe_n(h, ns, 1);
}

#endif
