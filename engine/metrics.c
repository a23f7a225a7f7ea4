/*
 * The names of the app's and the test driver's metrics, defined once (RILL_TASK_COUNTERS and
 * RILL_THREAD_METRICS in engine_int.h), and the sums of task counters.
 */
#include "engine_int.h"

#include <stddef.h>
#include <string.h>

static const char *const names[RILL__METRICS] = {
#define RILL__NAME(name, field) name,
    RILL_TASK_COUNTERS(RILL__NAME) RILL_THREAD_METRICS(RILL__NAME)
#undef RILL__NAME
};

static const size_t offsets[RILL__TASK_COUNTERS] = {
#define RILL__OFFSET(name, field) offsetof(rill_task_metrics_t, field),
    RILL_TASK_COUNTERS(RILL__OFFSET)
#undef RILL__OFFSET
};

int rill__metric_index(const char *name)
{
    for (int i = 0; name && i < RILL__METRICS; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

const char *rill__metric_name(int index)
{
    return index >= 0 && index < RILL__METRICS ? names[index] : "";
}

uint64_t rill__task_counter(const rill_task_metrics_t *m, int index)
{
    return *(const uint64_t *)((const char *)m + offsets[index]);
}

void rill__task_metrics_add(rill_task_metrics_t *sum, const rill_task_metrics_t *m)
{
#define RILL__ADD(name, field) sum->field += m->field;
    RILL_TASK_COUNTERS(RILL__ADD)
#undef RILL__ADD
    sum->restored += m->restored;
    for (int c = 0; c < RILL_SKIP_CAUSES; c++)
        sum->skipped_by[c] += m->skipped_by[c];
}
