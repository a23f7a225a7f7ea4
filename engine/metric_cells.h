/*
 * Metric cells: counters and histograms that one thread writes and any thread reads, without a
 * lock and without an atomic read-modify-write. The owner adds with a relaxed load and store (a
 * plain add on x86-64 and arm64: one writer, so nothing is lost); a scrape reads each cell with
 * a relaxed load, so it may see a histogram's buckets a few records apart from its count, never
 * a torn value. Histograms count into power-of-two buckets of microseconds (bucket i holds values
 * <= 2^i us, 1 us to 8.4 s, then +Inf), found with one count-leading-zeros: no search, no
 * allocation. Private to engine/.
 */
#ifndef RILL_ENGINE_METRIC_CELLS_H
#define RILL_ENGINE_METRIC_CELLS_H

#include <stdatomic.h>
#include <stdint.h>

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

#define HIST_BUCKETS 24 /* le 2^0 .. 2^23 microseconds; bucket[HIST_BUCKETS] is +Inf */

typedef struct {
    cell_t bucket[HIST_BUCKETS + 1]; /* not cumulative: a scrape adds them up */
    cell_t sum_us; /* the count is the buckets' sum, so a scrape's +Inf bucket equals it */
} hist_t;

/* The bucket of a value of us microseconds: the smallest i with us <= 2^i. */
static inline int hist_bucket(uint64_t us)
{
    if (us <= 1)
        return 0;
    int i = 64 - __builtin_clzll(us - 1);
    return i < HIST_BUCKETS ? i : HIST_BUCKETS;
}

/* Counts n observations of us microseconds each (n > 1: the average of a batch of n). */
static inline void hist_observe_n(hist_t *h, uint64_t us, uint64_t n)
{
    cell_add(&h->bucket[hist_bucket(us)], n);
    cell_add(&h->sum_us, us * n);
}

/* Returns how many observations h has. @thread any */
static inline uint64_t hist_count(const hist_t *h)
{
    uint64_t n = 0;
    for (int i = 0; i <= HIST_BUCKETS; i++)
        n += cell_get(&h->bucket[i]);
    return n;
}

/* Counts one observation of us microseconds. */
static inline void hist_observe(hist_t *h, uint64_t us)
{
    hist_observe_n(h, us, 1);
}

#endif
