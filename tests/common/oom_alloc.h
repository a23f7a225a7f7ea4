/*
 * The fail-the-Nth-allocation allocator of the out-of-memory tests: install oom_malloc and
 * oom_realloc with rill_set_allocator(); countdown allocations then succeed and every later one
 * fails (and counts in failures) until countdown is set again; -1 never fails. One thread at a
 * time: the counters are plain.
 */
#ifndef RILL_TESTS_OOM_ALLOC_H
#define RILL_TESTS_OOM_ALLOC_H

#include <stdlib.h>

static long countdown = -1; /* allocations left before one fails; -1: never fail */
static long failures;

static void *oom_malloc(size_t n)
{
    if (countdown == 0) {
        failures++;
        return NULL;
    }
    if (countdown > 0)
        countdown--;
    return malloc(n);
}

static void *oom_realloc(void *p, size_t n)
{
    if (countdown == 0) {
        failures++;
        return NULL;
    }
    if (countdown > 0)
        countdown--;
    return realloc(p, n);
}

#endif
