/*
 * The clocks of the tests: a monotonic clock for durations, the wall clock for record
 * timestamps, and a sleep for pacing (never for waiting on an event: wait on the event, with a
 * deadline). Header-only; unused ones cost nothing.
 */
#ifndef RILL_TESTS_CLOCK_H
#define RILL_TESTS_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds since the epoch. */
static inline int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps ms milliseconds. */
static inline void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

#endif
