/*
 * The global stream thread (Kafka Streams' GlobalStreamThread): one per app instance, when the
 * topology has global stores. It owns a consumer of its own (no group: every partition of every
 * global store's topic is assigned to it, read_committed under exactly-once) and writes the
 * app's global stores (operators/task.h, rill__global_*): first it loads each from its
 * checkpoint (or the start) to the end of its topic, then says so (ready), and from then on
 * keeps them current, checkpointing as it goes and when it stops. Private to engine/.
 */
#ifndef RILL_ENGINE_GLOBAL_THREAD_H
#define RILL_ENGINE_GLOBAL_THREAD_H

#include "thread_ctx.h"

typedef struct global_thread global_thread_t;

/* What the global thread tells its app, from its own OS thread. */
typedef struct {
    void *ud;
    /* Every global store holds its topic up to where it ended when the thread started: the
     * stream threads may process. Called once. */
    void (*ready)(void *ud);
    /* The thread failed; message names the store, topic and partition and says why. Its loop
     * ends; the stores keep what they hold. */
    void (*failed)(void *ud, int err, const char *message);
} global_events_t;

/* Returns a new global thread (not started) keeping g (borrowed; it must outlive the thread)
 * for the app of ctx (copied; ctx->events.partitions gives the topics' partition counts), or
 * NULL with errstr. */
global_thread_t *rill__global_thread_new(const thread_ctx_t *ctx, rill_global_t *g,
                                         const global_events_t *ev, char *errstr,
                                         size_t errstr_size);
/* Starts its OS thread; 0 or RILL_EUNKNOWN. */
int rill__global_thread_start(global_thread_t *t);
/* Asks the thread to stop: it checkpoints the stores and closes its consumer. @thread any */
void rill__global_thread_stop(global_thread_t *t);
/* Waits for the thread's end. 0, or RILL_EUNKNOWN when its loop did not close. */
int rill__global_thread_join(global_thread_t *t);
/* Frees a joined (or never started) thread. NULL is fine. */
void rill__global_thread_destroy(global_thread_t *t);
/* Returns whether every global store has loaded (ready was called). @thread any */
bool rill__global_thread_ready(const global_thread_t *t);

#endif
