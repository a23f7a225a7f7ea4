/*
 * Private declarations of the operators layer: the graph's nodes and the runtime's node
 * instances. Never included outside operators/.
 */
#ifndef RILL_OPERATORS_INT_H
#define RILL_OPERATORS_INT_H

#include <rill/processor.h>
#include "task.h"

#include <regex.h>
#include <sys/types.h>
#include <stdio.h>
#include <stdatomic.h>
#include <time.h>

typedef enum { NODE_SOURCE, NODE_PROCESSOR, NODE_SINK } node_kind_t;

typedef struct node {
    char *name;
    node_kind_t kind;
    char **parent_names; /* as given; resolved into parents by build */
    size_t nparents;
    int *parents;
    int *children;
    size_t nchildren;
    int subtopology;
    /* processor */
    const rill_processor_ops *ops;
    void *arg;
    void (*arg_free)(void *);
    /* source */
    char **topics; /* NULL-terminated; for an internal source, the "<name>-repartition" suffix */
    size_t ntopics;
    char *pattern;
    regex_t regex;
    bool has_regex;
    bool internal;      /* source or sink of a repartition topic */
    bool global;        /* the source or the processor of a global store */
    int32_t partitions; /* repartition topic partitions; 0 = as the upstream sources */
    rill_serde_t *key_serde;
    rill_serde_t *value_serde;
    rill_timestamp_fn timestamp_fn;
    void *timestamp_ud;
    /* sink */
    char *topic; /* fixed topic, or the internal suffix */
    rill_topic_extractor_fn extractor;
    void *extractor_ud;
    rill_partitioner_fn partitioner;
    void *partitioner_ud;
} node_t;

/* A state store of the graph: its spec (name and serdes owned) and the processors it serves. */
typedef struct store_def {
    rill_store_spec_t spec;
    char **processor_names;
    size_t nprocessors;
    int subtopology; /* after build; a global store's is its own (which makes no tasks) */
    bool global;     /* every instance holds all of topics[0] of processor_names[0]'s source */
} store_def_t;

typedef struct attachment {
    void *p;
    void (*free_fn)(void *);
    struct attachment *next;
} attachment_t;

struct rill_topology {
    atomic_int refs;
    node_t **nodes;
    size_t n, cap;
    bool built;
    char error[512]; /* first error found while adding; "" when none */
    uint64_t name_counter;
    attachment_t *attachments;
    store_def_t *stores;
    size_t nstores;
    int nsub;
    int **sub_order; /* per sub-topology, node indices in topological order */
    size_t *sub_n;
};

/* A node instance inside a task: its context is embedded so ctx -> instance is a cast. */
typedef struct node_inst node_inst_t;

struct rill_context {
    rill_task_t *task;
    node_inst_t *inst;
};

struct node_inst {
    rill_context_t ctx;
    const node_t *node;
    bool metered;     /* env.debug_metrics: count processed */
    cell_t processed; /* records the node processed (Kafka Streams' node-level process-total) */
    int index;        /* the node's index in the topology */
    void *state;
    node_inst_t **children;
    size_t nchildren;
    bool initialised;
    /* A source's or sink's serdes, the node's or the task's defaults, resolved when the task is
     * made; NULL for the bytes serde, whose (de)serialization is no call and no copy. */
    const rill_serde_t *key_serde, *value_serde;
};

typedef struct punctuator {
    node_inst_t *inst;
    int64_t interval;
    int64_t next; /* INT64_MIN: not yet started (stream time) */
    rill_punctuation_t type;
    rill_punctuate_cb cb;
} punctuator_t;

struct rill_task {
    const rill_topology_t *topo;
    int st;
    int32_t partition;
    char id[32];
    rill_task_env_t env;
    node_inst_t *insts;
    size_t ninst;
    node_inst_t **by_index; /* topology node index -> instance (NULL: not in this task) */
    rill_arena_t *arena;
    /* What flush listeners forward with while a record is being processed (a cache flush on a
     * spent budget): reset per entry, so a flush of N entries does not pile N entries' values
     * onto the record's arena (which would take malloc'd overflow blocks). NULL until needed. */
    rill_arena_t *flush_arena;
    int flush_depth; /* cache flushes in progress (a listener may set off another) */
    int64_t stream_time;
    punctuator_t *punctuators;
    size_t npunct;
    char error[1024];
    rill_task_metrics_t metrics;
    int sink_rc; /* the first sink failure of the record: reported whatever the nodes in between
                  * returned, so a processor that ignores a forward's result loses nothing */
    rill_bytes_t kbuf, vbuf; /* sink serialization scratch, reused for every record */
    bool initialising;
    bool processing;      /* inside rill__task_process or a punctuator: the arena is in use */
    rill_buf_t old_value; /* the previous value of the table update being forwarded */
    struct task_store *stores;
    size_t nstores;
    size_t *changelogs; /* changelog i -> index in stores */
    size_t nchangelogs;
    char *dir;    /* "<state_dir>/<task id>", NULL until a store needs it */
    int dir_lock; /* flock'ed "<dir>/.lock" while the task has it open; -1: none */
    uint64_t writes_since_checkpoint;
    rill_store_write_t *restore_writes; /* a restore batch's writes */
    size_t restore_cap;
    uint64_t late_logged_at;          /* late_dropped when the last late-record line was logged */
    uint64_t stateful_skip_logged_at; /* skipped when an aggregation last logged a skip */
    const rill_record_t *raw_in;      /* the input record being processed, as read (NULL: none) */
    const char *failed_node;          /* the node whose rill_context_fail the record's error is */
    char failed_why[768];             /* and what it said */
    uint64_t failed_logged_at;        /* skipped when the last skipped-record line was logged */
    int retry_attempt; /* the failures of the record being processed again from a retry topic */
    /* In-place retries: writes to stores and sends by sinks (a record that made none before it
     * failed can run again from its source with nothing applied twice), their count when the
     * record began, and the record retried (its tries, until when the task backs off). */
    uint64_t effects, effects_at_start;
    int inplace_tries;
    int64_t backoff_until; /* wall-clock ms; 0: not backing off */
    int32_t inplace_partition;
    int64_t inplace_offset;
    char inplace_topic[256];
    struct task_shared *shared; /* blocks nodes of the task share (rill__task_shared) */
};

/* Returns the zeroed block of size bytes that the nodes of ctx's task share under key (the
 * first caller makes it; the task frees it when it is destroyed), or NULL when out of memory.
 * For state two processors of one operator share, such as a join's stream time: call from init,
 * never per record. */
void *rill__task_shared(rill_context_t *ctx, const void *key, size_t size);

/* The narrowest default segment of a window or session store (segment_ms 0: max(retention / 2,
 * this)). Kafka Streams' floor is 60 s, which keeps a 10 s window's expired entries in the live
 * segment for up to a minute of stream time: six times the data the retention needs, and reads
 * (every aggregation reads before it writes) that slow down as it piles up (bench-stateful's
 * hopping aggregate: 70 us a record at 150k records, 393 at 1M). A narrower segment costs one
 * RocksDB open and one directory removal per segment width of stream time. */
#define RILL__MIN_SEGMENT_MS 1000

/* ---- The record cache of one store (cache.c) ---- */

/* A dirty entry: the layout key, what the store held for it when it entered the cache (when
 * known), then the value (deleted: a delete, no value bytes). Entries are listed in the order of
 * their last write, oldest first. Borrowed from the cache until its next put or clear. */
typedef enum { RILL__OLD_UNKNOWN, RILL__OLD_ABSENT, RILL__OLD_PRESENT } rill__cache_old_t;
typedef struct rill__cache_entry {
    struct rill__cache_entry *prev, *next;
    uint32_t klen, olen, vlen, vcap; /* the cache refuses keys and values of 4 GB or more */
    int64_t ts;
    bool deleted;
    uint8_t old; /* a rill__cache_old_t */
    uint8_t data[];
} rill__cache_entry_t;

/* The parts of an entry. */
static inline rill_buf_t rill__cache_key(const rill__cache_entry_t *e)
{
    return (rill_buf_t){e->data, e->klen};
}
static inline rill_buf_t rill__cache_value(const rill__cache_entry_t *e)
{
    return e->deleted ? (rill_buf_t){NULL, 0} : (rill_buf_t){e->data + e->klen + e->olen, e->vlen};
}
static inline rill_buf_t rill__cache_old(const rill__cache_entry_t *e)
{
    return e->old == RILL__OLD_PRESENT ? (rill_buf_t){e->data + e->klen, e->olen}
                                       : (rill_buf_t){NULL, 0};
}

typedef struct rill__cache rill__cache_t;

/* Returns a new empty cache, or NULL when out of memory. */
rill__cache_t *rill__cache_new(void);
/* Frees a cache; NULL is fine. */
void rill__cache_free(rill__cache_t *c);
/* Puts value (data NULL: a delete) at ts under key, which becomes the last written. A key new to
 * the cache takes old as what the store holds for it (NULL: unknown; data NULL: nothing). 0 or
 * RILL_ENOMEM (the cache is unchanged then). */
int rill__cache_put(rill__cache_t *c, rill_buf_t key, rill_buf_t value, int64_t ts,
                    const rill_buf_t *old);
/* Returns key's entry (borrowed), or NULL. */
const rill__cache_entry_t *rill__cache_get(const rill__cache_t *c, rill_buf_t key);
/* Returns the least recently written entry (follow ->next), or NULL when empty. */
const rill__cache_entry_t *rill__cache_first(const rill__cache_t *c);
/* Empties the cache, keeping its memory for the next fill. */
void rill__cache_clear(rill__cache_t *c);
/* Returns the number of entries. */
size_t rill__cache_count(const rill__cache_t *c);
/* Returns the bytes the cache holds for its entries and its table (what its budget counts). */
size_t rill__cache_bytes(const rill__cache_t *c);

/* A store as a task holds it (stores.c: open, close, checkpoint; store_restore.c: restore;
 * store_access.c: reads, writes through, flushes, handles). */
typedef struct task_store {
    const store_def_t *def;
    rill_task_t *task;
    rill_store_backend_t backend;
    char changelog[300]; /* "" when not logged */
    int64_t checkpoint;  /* offset to restore from; -1: the beginning */
    rill_store_t *kv;
    rill_window_store_t *ws;
    rill_session_store_t *ss;
    rill_versioned_store_t *vstore;
    rill__cache_t *cache; /* dirty entries; NULL: the store does not cache */
    rill__cache_t *spare; /* the cache last written through, emptied, for the next swap */
    size_t cache_share;   /* this store's part of the task's budget, in bytes */
    /* What the last read that missed the cache found in the store (layout key, then value),
     * until the next put or flush: the put that follows it (an aggregation reads, then writes)
     * hands it to the cache as the entry's old value, so the flush need not read it again. */
    rill_bytes_t memo;
    size_t memo_klen;
    uint8_t memo_state;       /* a rill__cache_old_t; RILL__OLD_UNKNOWN: no memo */
    rill_bytes_t flushbuf;    /* a flush's stored values and old values */
    struct flush_item *items; /* a flush's entries, in write order */
    size_t items_cap;
    rill_store_write_t *writes; /* a flush's write batch */
    bool *written;              /* which of them the store took (window expiry) */
    bool flushing;              /* inside flush_cache() */
    node_inst_t *flush_inst;
    rill_store_flush_fn flush_fn;
    bool global;          /* a global store's handle: kv is the app's, read-only here */
    rill_bytes_t scratch; /* stored-value and cache-entry composition; a global store's reads */
    rill_bytes_t keybuf;  /* layout keys */
    uint32_t seq;         /* a store that retains duplicates: the last sequence number put */
    bool metered;         /* env.debug_metrics: time each operation into ops */
    hist_t ops[RILL_STORE_OP_COUNT];
    cell_t restored;          /* changelog records restored */
    cell_t restore_remaining; /* what the driver's restore still lacks (rill__task_restore_left) */
} task_store_t;

/* Starts timing a store operation: the clock when ts is metered, else 0. */
static inline uint64_t rill__meter_start(const task_store_t *ts)
{
    return ts->metered ? (uint64_t)hist_now_ns() : 0;
}
/* Counts the operation op started at t0 (from rill__meter_start: 0 means not metered). Calls
 * are counted whatever they return (Kafka Streams' metered stores count calls too). */
static inline void rill__meter_end(task_store_t *ts, int op, uint64_t t0)
{
    if (t0)
        hist_observe(&ts->ops[op], (uint64_t)hist_now_ns() - t0);
}

/* What the three files of a task's stores share. */
/* Returns the name of a store type ("key-value", "window", ...) for messages (stores.c). */
const char *rill__store_type_name(rill_store_type_t t);
/* Commits a transactional store's pending writes with the changelog offset they reach (-1:
 * none): 0 or a code (stores.c). */
int rill__store_commit(task_store_t *ts, int64_t offset);
/* Returns the message of the store's last error (stores.c). */
const char *rill__store_error(task_store_t *ts);
/* Writes (layout key, value or null at ts_ms) into the store itself, bypassing cache and log;
 * window and session stores return RILL_ENOENT for an expired window (store_access.c). */
int rill__store_write(task_store_t *ts, rill_buf_t layout, rill_buf_t value, int64_t ts_ms);
/* Grows b to hold at least n bytes: 0 or RILL_ENOMEM (store_access.c). */
int rill__bytes_reserve(rill_bytes_t *b, size_t n);
/* The sequence numbers a restore gives the values of a record of the former layout: the top
 * bit set, which the sequence numbers of puts never have, so that they meet none of them. */
#define RILL__FORMER_SEQ UINT32_C(0x80000000)

/* Opens the stores of task's sub-topology and reads its checkpoint; 0 or a code (errstr set). */
int rill__task_open_stores(rill_task_t *task, char *errstr, size_t errstr_size);
/* Closes the task's stores. */
void rill__task_close_stores(rill_task_t *task);

/* Fails the topology when name, the what of node (NULL: none), breaks Kafka's naming rules
 * (names.c); 0 or the failure's code. */
int rill__topology_check_name(rill_topology_t *topo, const char *what, const char *name,
                              const char *node);
/* Returns the index of topo's node called name, or -1 (topology.c). */
int rill__topology_find_node(const rill_topology_t *topo, const char *name);
/* Returns the source node of store k when it is a global store of a built topology, or NULL. */
const node_t *rill__topology_global_source(const rill_topology_t *topo, size_t k);

/* Makes the write batch of n changelog records in writes (room for n), their stored values
 * (timestamp, then value) side by side in buf; a record without a key is left out when
 * skip_null_keys. Returns how many writes it made, or -1 when out of memory. */
ssize_t rill__stored_batch(rill_bytes_t *buf, rill_store_write_t *writes, const rill_record_t *raw,
                           size_t n, bool skip_null_keys);
/* Opens and flocks "<dir>/.lock" (its path goes in path) into *fd (-1 when it cannot be opened):
 * 0, RILL_EBUSY when another descriptor holds it (errno set), RILL_EIO otherwise. The lock
 * goes when *fd is closed. */
int rill__dir_lock(const char *dir, int *fd, char *path, size_t path_size);
/* Reads a checkpoint file (Kafka Streams' .checkpoint: a version line "0", a count line, then
 * one "<topic> <partition> <offset>" line each), calling entry for each line. Returns 1 when
 * read, 0 when absent, -1 when corrupt (why says where). */
int rill__checkpoint_read(const char *path,
                          void (*entry)(void *ud, const char *topic, int32_t partition,
                                        int64_t offset),
                          void *ud, char *why, size_t why_size);
/* Writes a checkpoint file of count entries (lines: "<topic> <partition> <offset>\n" each)
 * atomically: a temporary file, fsync, rename. 0 or RILL_EIO (why says why). */
int rill__checkpoint_write(const char *path, int count, const rill_bytes_t *lines, char *why,
                           size_t why_size);
/* Serializes view with serde into b; *out is the bytes (a null view for a null). 0, or
 * RILL_ESERDE after rill_context_fail() says what (the name of the serialized thing) failed. */
int rill__op_ser(rill_context_t *ctx, const rill_serde_t *serde, rill_buf_t view, rill_bytes_t *b,
                 rill_buf_t *out, const char *what);
/* Decodes bytes into *view (copied to the record's arena first: stores lend bytes only until
 * their next call); 0 or a code after rill_context_fail(). */
int rill__op_de(rill_context_t *ctx, const rill_serde_t *serde, rill_buf_t bytes, rill_buf_t *view,
                const char *what);

/* A record that failed (operators/errors.c): the handler of kind decides, and the dead letter
 * queue (when set) gets the record raw as read. node is the failing node (NULL: unknown), err
 * its code, what and why what failed ("cannot deserialize the value", the serde's reason).
 * Returns 0 when the record is skipped, else err with task->error set; a dead letter that
 * cannot be sent fails the task whatever the handler said. */
int rill__task_failed(rill_task_t *task, const rill_record_t *raw, rill_error_kind_t kind,
                      const char *node, int err, const char *what, const char *why);

/* An output a sink could not serialize or send (operators/errors.c). */
typedef struct {
    const char *topic;     /* the output topic */
    int32_t partition;     /* -1: not chosen */
    rill_buf_t key, value; /* serialized (empty for a serialization error) */
    int error;             /* the code of the failure */
    bool retriable;        /* the collector says its cause may pass (a timeout, a leader moving) */
    bool fatal;            /* no handler may pass over it (fencing, authorization) */
    int attempt;           /* retries made so far */
} rill_production_failure_t;

/* rill__task_production_failed's answer: send the output again now (the backoff was waited). */
#define RILL_PRODUCTION_RETRY 1

/* An output of the record being processed (task->raw_in; NULL in a punctuator) that node could
 * not produce ("cannot <what> the record at ..."), for why: the production handler decides.
 * Returns 0 (dropped: continue, after the dead letter), RILL_PRODUCTION_RETRY, or a negative
 * code with the task's error set, naming the node, the input record, the topic and why. */
int rill__task_production_failed(rill_task_t *task, const char *node, const char *what,
                                 const rill_production_failure_t *f, const char *why);

/* Sends the record of c (its key, value, timestamp and headers, less those of earlier failures)
 * to topic (partition -1: by key) with extra headers and the dead letter's error headers
 * (KIP-1034's and Rill's, exception "<class>(<code>)"); 0 or a code with why. */
int rill__task_send_failed_record(rill_task_t *task, const rill_error_context_t *c,
                                  const char *topic, int32_t partition, const char *class,
                                  const rill_header_t *extra, size_t nextra, char *why,
                                  size_t why_size);

/* Returns the wall clock of the task's driver (the test driver's is set by hand), in ms. */
int64_t rill__task_wall_clock(const rill_task_t *task);

/* Retry topics (operators/retry_topics.c). The header that counts a record's failures. */
extern const char *const rill__retry_attempt_header;
/* Returns whether a header is one that a failure adds (__rill.retry.*, __streams.errors.*). */
bool rill__retry_header(const char *name);
/* Sends the record of c, which failed for the task->retry_attempt + 1st time, to the retry
 * topic of the next delay: 0, RILL_ENOENT when the delays are used up, or a code with why. */
int rill__task_retry_later(rill_task_t *task, const rill_error_context_t *c, char *why,
                           size_t why_size);

/* Writes the input record being processed to the dead letter queue as a late record dropped
 * by node (errors.dead.letter.queue.late.records); 0 (also when off) or a code with the task's
 * error set. */
int rill__task_late_dead_letter(rill_task_t *task, const char *node, const char *reason);
/* Writes the input record being processed to the dead letter queue as a record node dropped
 * for reason (errors.dead.letter.queue.dropped.records, KIP-1328); 0 (also when off) or a code
 * with the task's error set. */
int rill__task_dropped_dead_letter(rill_task_t *task, const char *node, const char *reason);

/* Counts a record a processor cannot use (why says why) in records-skipped, sends the input
 * record to the dead letter queue with errors.dead.letter.queue.dropped.records (a failure to
 * is the record's, as a sink's), and logs it with its topic, partition and offset once per
 * 1,000 (*logged_at: the count at the last line, 0 at first). */
void rill__op_skip(rill_context_t *ctx, const rill_record_t *rec, const char *why,
                   uint64_t *logged_at);

/* ---- The built-in stateful processors (stateful.c; suppress in suppress.c) ---- */

/* A stateful processor node's state: its spec, serdes and store, and suppress's buffer. */
typedef struct {
    const rill_sop_spec_t *spec;
    const rill_serde_t *ks, *vs;
    rill_kv_store_t *kv;
    rill_window_handle_t *ws;
    rill_session_handle_t *ss;
    bool cached;
    int64_t observed; /* the largest timestamp this node has seen */
    rill_bytes_t kb, vb, ib;
    /* suppress */
    rill_store_t *index; /* (buffer time, key) -> nothing, in time order */
    bool indexed;
    uint64_t buffered, buffered_bytes;
} sop_state_t;

/* Counts a record an aggregation or a table cannot use (why says why: a null key...) in
 * records-skipped, and logs the task's first such record, then one in 1,000, with its topic,
 * partition and offset. */
void rill__sop_skip(rill_context_t *ctx, const rill_record_t *rec, const char *why);
/* Processes a record at a suppress node: buffers the update, then emits those due (their time
 * limit passed, their window closed, or the buffer full). 0 or a code after rill_context_fail(). */
int rill__sop_suppress(rill_context_t *ctx, sop_state_t *st, const rill_record_t *rec);

/* The processor every sink node runs. */
extern const rill_processor_ops rill__sink_ops;

/* Returns the full topic name of an internal suffix for app_id in buf. */
const char *rill__internal_topic(const char *app_id, const char *suffix, char *buf, size_t size);
/* Forwards rec to one child instance. */
int rill__forward_one(node_inst_t *child, const rill_record_t *rec);
/* Returns the index among inst's children of the child called name, or -1. */
int rill__child_index(const node_inst_t *inst, const char *name);

#endif
