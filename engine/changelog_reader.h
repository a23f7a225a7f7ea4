/*
 * The changelog reader of a stream thread: restores new tasks' stores from their changelogs as a
 * state machine stepped from the thread's loop, never inside a callback. Every changelog of every
 * task being restored is assigned to one restore consumer at once, so a new assignment's stores
 * restore concurrently; each step takes at most one batch, so the loop goes on processing the
 * tasks that are running, committing and heartbeating while a large restore is under way.
 * Private to engine/.
 */
#ifndef RILL_ENGINE_CHANGELOG_READER_H
#define RILL_ENGINE_CHANGELOG_READER_H

#include "thread_ctx.h"

typedef struct changelog_reader changelog_reader_t;

/* What the reader tells the task manager. */
typedef struct {
    void *ud;
    /* Every changelog of task is restored to its end: the task may process. */
    void (*restored)(void *ud, rill_task_t *task);
} reader_events_t;

/* Returns a new reader whose restore consumer (made when first needed) wakes wake_fd, or NULL.
 * batch_size records at most are restored per step. */
changelog_reader_t *rill__reader_new(const thread_ctx_t *ctx, const char *name, size_t batch_size,
                                     int wake_fd, const reader_events_t *ev);
/* Frees the reader and its consumer; accepts NULL. */
void rill__reader_destroy(changelog_reader_t *r);
/* Makes the restore consumer now, so it has connected by the time a first assignment needs it
 * (a new app's first restore then waits for no connection). 0 or a code with why. */
int rill__reader_prepare(changelog_reader_t *r, char *why, size_t why_size);
/* Starts restoring every changelog of task (of partition), changelog i from from[i] (NULL: from
 * where the task's stores say they are). Returns 1 when there is nothing to restore (the task
 * may process at once; no callback follows), 0 when the restore is under way (restored()
 * follows), or a negative code with why. */
int rill__reader_add(changelog_reader_t *r, rill_task_t *task, int32_t partition,
                     const int64_t *from, char *why, size_t why_size);
/* Stops restoring task (it is closing); no callback follows. */
void rill__reader_remove(changelog_reader_t *r, rill_task_t *task);
/* Does one step: takes what the restore consumer has (no waiting) and writes it to the stores.
 * Returns how many records it restored (more may wait: step again), or a negative code with
 * why (the thread must fail). */
int rill__reader_step(changelog_reader_t *r, char *why, size_t why_size);
/* Returns whether any changelog is being restored. */
bool rill__reader_active(const changelog_reader_t *r);
/* Returns the records restored in total. @thread any */
int64_t rill__reader_restored(const changelog_reader_t *r);
/* Returns the records the changelogs being restored still lack, as far as their ends at the
 * start of each restore say. @thread any */
int64_t rill__reader_remaining(const changelog_reader_t *r);

#endif
