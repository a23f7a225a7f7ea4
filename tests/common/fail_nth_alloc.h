/*
 * An allocator hook that fails one allocation: after fail_nth_arm(n), the n+1th allocation Rill
 * makes returns NULL (and every later one succeeds again only after fail_nth_disarm()). For the
 * out-of-memory loops of single-threaded unit tests: install with fail_nth_install().
 */
#ifndef RILL_TESTS_FAIL_NTH_ALLOC_H
#define RILL_TESTS_FAIL_NTH_ALLOC_H

#include <rill/rill.h>

#include <stdlib.h>

static long fail_nth_countdown = -1; /* allocations left before one fails; -1: never */

static inline bool fail_nth_now(void)
{
    if (fail_nth_countdown == 0)
        return true;
    if (fail_nth_countdown > 0)
        fail_nth_countdown--;
    return false;
}

static inline void *fail_nth_malloc(size_t n)
{
    return fail_nth_now() ? NULL : malloc(n);
}

static inline void *fail_nth_realloc(void *p, size_t n)
{
    return fail_nth_now() ? NULL : realloc(p, n);
}

/* Routes Rill's allocations through the hook (restore with rill_set_allocator(NULL, ...)). */
static inline int fail_nth_install(void)
{
    return rill_set_allocator(fail_nth_malloc, fail_nth_realloc, free);
}

static inline void fail_nth_arm(long n)
{
    fail_nth_countdown = n;
}

static inline void fail_nth_disarm(void)
{
    fail_nth_countdown = -1;
}

#endif
