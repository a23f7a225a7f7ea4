/*
 * processor.h — the operators layer: the processor graph (a topology of sources, processors and
 * sinks), the Processor API for user nodes (contexts, stores, punctuators) and the built-in
 * processors the DSL is made of. The task runtime that runs a topology is not API: it lives in
 * the private operators/task.h, used by the engine (stream threads and the test driver).
 *
 * Ownership: a topology is built by one thread, then rill_topology_build() freezes it; a built
 * topology is immutable and reference-counted, and any number of apps and threads may share it.
 * A task (one sub-topology instantiated for one partition) belongs to the thread that made it:
 * its processors, contexts and punctuators run only there. Records handed to a processor are
 * borrowed for the call.
 */
#ifndef RILL_PROCESSOR_H
#define RILL_PROCESSOR_H

#include <rill/rill.h>
#include <rill/serde.h>
#include <rill/statestore.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rill_topology rill_topology_t;
typedef struct rill_context rill_context_t;

/* ---- Processor API ---------------------------------------------------------------------- */

/*
 * A processor node's operations. init makes the node's per-task state from the supplier's arg
 * (it may schedule punctuators); process handles one record and returns 0 or a negative code
 * (after rill_context_fail() says why); close releases the state. Any of them may be NULL.
 */
typedef struct rill_processor_ops {
    int (*init)(rill_context_t *ctx, void *arg, void **state);
    int (*process)(rill_context_t *ctx, void *state, const rill_record_t *rec);
    void (*close)(rill_context_t *ctx, void *state);
} rill_processor_ops;

/* How a punctuator's time advances: by the wall clock, or by the task's stream time (the
 * largest record timestamp the task has seen). */
typedef enum { RILL_PUNCTUATE_WALL_CLOCK, RILL_PUNCTUATE_STREAM_TIME } rill_punctuation_t;

/* A punctuator callback; now is the wall-clock or stream time that triggered it. Returns 0 or a
 * negative code, like process. */
typedef int (*rill_punctuate_cb)(rill_context_t *ctx, void *state, int64_t now);

/* Forwards rec to every child of the current node. Returns the first child's error, or 0. */
RILL_EXTERN int rill_context_forward(rill_context_t *ctx, const rill_record_t *rec);
/* Forwards rec to the child called child only; RILL_ENOENT when there is none. */
RILL_EXTERN int rill_context_forward_to(rill_context_t *ctx, const char *child,
                                        const rill_record_t *rec);
/* Schedules cb every interval_ms of the given time; returns 0 or RILL_EINVAL. Call from init. */
RILL_EXTERN int rill_context_schedule(rill_context_t *ctx, int64_t interval_ms,
                                      rill_punctuation_t type, rill_punctuate_cb cb);
/* Records why processing failed (shown to the error handler) and returns code. */
RILL_EXTERN int rill_context_fail(rill_context_t *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Returns the arena of the record being processed (values made here live until it is done). */
RILL_EXTERN rill_arena_t *rill_context_arena(rill_context_t *ctx);
/* Returns the application id, borrowed. */
RILL_EXTERN const char *rill_context_application_id(const rill_context_t *ctx);
/* Returns the task id as Kafka Streams prints it ("<sub-topology>_<partition>"), borrowed. */
RILL_EXTERN const char *rill_context_task_id(const rill_context_t *ctx);
/* Returns the partition of the task. */
RILL_EXTERN int32_t rill_context_partition(const rill_context_t *ctx);
/* Returns the name of the node being run, borrowed. */
RILL_EXTERN const char *rill_context_node_name(const rill_context_t *ctx);
/* Returns the task's stream time (largest timestamp seen), or INT64_MIN before any record. */
RILL_EXTERN int64_t rill_context_stream_time(const rill_context_t *ctx);
/* Returns the task's wall-clock time in milliseconds (the test driver's clock under test). */
RILL_EXTERN int64_t rill_context_wall_clock(const rill_context_t *ctx);

/* ---- State stores, as processors see them ------------------------------------------------
 *
 * A processor reaches the stores connected to it (rill_topology_add_store) by name. Such a
 * handle belongs to the task: writes go through the task's record cache (when the store caches)
 * to the store and to its changelog topic "<application.id>-<store>-changelog" (when it logs),
 * on the task's partition. Every entry carries the timestamp of the record that wrote it. Views
 * returned are borrowed until the next call on the same store. Call these from the processor's
 * own callbacks only (the task's thread).
 */
typedef struct rill_kv_store rill_kv_store_t;
typedef struct rill_window_handle rill_window_handle_t;
typedef struct rill_session_handle rill_session_handle_t;

/* Called for every entry a cached store writes through (at commit, or when the cache is full):
 * key, the new value (null for a delete), the value the store held before (null when none) and
 * the writing record's timestamp. For window stores key is a view of a rill_windowed_t (raw key
 * bytes inside); for session stores too. Forward from here (the node's context is ctx). */
typedef int (*rill_store_flush_fn)(rill_context_t *ctx, void *state, rill_buf_t key,
                                   rill_buf_t new_value, rill_buf_t old_value, int64_t timestamp);

/* Returns the key-value store called name connected to the current node, or NULL. */
RILL_EXTERN rill_kv_store_t *rill_context_kv_store(rill_context_t *ctx, const char *name);
/* Returns the window store called name connected to the current node, or NULL. */
RILL_EXTERN rill_window_handle_t *rill_context_window_store(rill_context_t *ctx, const char *name);
/* Returns the session store called name connected to the current node, or NULL. */
RILL_EXTERN rill_session_handle_t *rill_context_session_store(rill_context_t *ctx,
                                                              const char *name);
/* Asks for fn to be called, with the current node's context and state, when the store called
 * name writes cached entries through. Returns true when the store caches (then the node should
 * forward from fn only), false when it does not (then forward at once). Call from init. */
RILL_EXTERN bool rill_context_on_store_flush(rill_context_t *ctx, const char *name,
                                             rill_store_flush_fn fn);

/* Gets key's value and timestamp (ts may be NULL): 0 or RILL_ENOENT, RILL_EIO. A versioned store
 * gives its latest version and the version's timestamp. */
RILL_EXTERN int rill_kv_get(rill_kv_store_t *store, rill_buf_t key, rill_buf_t *value, int64_t *ts);
/* Puts key = value (null deletes) written at timestamp ts: 0 or a negative code. On a versioned
 * store this records a version valid from ts (an out-of-order one goes into the history), or
 * returns RILL_ENOENT, writing and logging nothing, when ts is older than the store's observed
 * time minus its history retention. */
RILL_EXTERN int rill_kv_put(rill_kv_store_t *store, rill_buf_t key, rill_buf_t value, int64_t ts);
/* Gets the version of key valid at as_of of a versioned store: its value (borrowed until the next
 * call on the store) and timestamp (ts may be NULL). 0, RILL_ENOENT when none was (see
 * rill_versioned_store_get_as_of), RILL_EINVAL when the store is not versioned, or RILL_EIO. */
RILL_EXTERN int rill_kv_get_as_of(rill_kv_store_t *store, rill_buf_t key, int64_t as_of,
                                  rill_buf_t *value, int64_t *ts);
/* Returns whether a store a processor reached with rill_context_kv_store() is versioned. */
RILL_EXTERN bool rill_kv_is_versioned(const rill_kv_store_t *store);
/* Returns an iterator over [from, to] (NULL: unbounded) of the store; the task's cached writes
 * of this store are written through first. Values come as stored: see rill_stored_split(). NULL
 * for a versioned store, which has no range reads. */
RILL_EXTERN rill_store_iter_t *rill_kv_range(rill_kv_store_t *store, const rill_buf_t *from,
                                             const rill_buf_t *to, bool reverse);

/* Gets the value of (key, window start): 0 or RILL_ENOENT. */
RILL_EXTERN int rill_window_handle_get(rill_window_handle_t *ws, rill_buf_t key, int64_t start,
                                       rill_buf_t *value, int64_t *ts);
/* Puts (key, start) = value (null deletes) at timestamp ts: 0, RILL_ENOENT when the window has
 * expired (nothing written), or a negative code. */
RILL_EXTERN int rill_window_handle_put(rill_window_handle_t *ws, rill_buf_t key, int64_t start,
                                       rill_buf_t value, int64_t ts);
/* Returns an iterator over the windows of key starting in [from, to]; cached writes of the store
 * are written through first. Values come as stored: see rill_stored_split(). */
RILL_EXTERN rill_window_iter_t *rill_window_handle_fetch(rill_window_handle_t *ws, rill_buf_t key,
                                                         int64_t from, int64_t to);

/* Puts the session (key, start, end) = value (null removes) at timestamp ts. */
RILL_EXTERN int rill_session_handle_put(rill_session_handle_t *ss, rill_buf_t key, int64_t start,
                                        int64_t end, rill_buf_t value, int64_t ts);
/* Returns an iterator over key's sessions with end >= earliest_end and start <= latest_start;
 * cached writes are written through first. Values come as stored: see rill_stored_split(). */
RILL_EXTERN rill_session_iter_t *rill_session_handle_find(rill_session_handle_t *ss, rill_buf_t key,
                                                          int64_t earliest_end,
                                                          int64_t latest_start);

/* Splits a value as stores hold it (8-byte big-endian timestamp, then the value; a lone 8 bytes
 * with a null marker is never stored) into the value and, when ts is not NULL, its timestamp.
 * Returns 0 or RILL_EINVAL when stored is shorter than 8 bytes. */
RILL_EXTERN int rill_stored_split(rill_buf_t stored, rill_buf_t *value, int64_t *ts);

/* Drops a record that arrived after its window closed (stream time past window end + grace):
 * counts it in the task's metrics, logs it (rate-limited) naming the record's topic, partition,
 * offset and the window, and hands it to the driver's late-record hook when there is one. */
RILL_EXTERN void rill_context_drop_late(rill_context_t *ctx, const rill_record_t *rec,
                                        int64_t window_start, int64_t window_end);

/* Forwards rec to every child as a table update whose previous value was old_value (null when
 * none); table processors downstream read it with rill_context_old_value(). */
RILL_EXTERN int rill_context_forward_change(rill_context_t *ctx, const rill_record_t *rec,
                                            rill_buf_t old_value);
/* Returns the previous value of the table update being processed (a null view when the record
 * is not a table update or had none). */
RILL_EXTERN rill_buf_t rill_context_old_value(const rill_context_t *ctx);

/* ---- Functions the built-in processors call ------------------------------------------- */

/* Decides whether rec passes. */
typedef bool (*rill_predicate_fn)(void *ud, const rill_record_t *rec);
/* Makes a new key and value for rec; returns 0, or a negative code after rill_context_fail(). */
typedef int (*rill_map_fn)(void *ud, rill_context_t *ctx, const rill_record_t *rec,
                           rill_buf_t *key_out, rill_buf_t *value_out);
/* Makes one view (a new value, or a new key) from rec; 0 or a negative code. */
typedef int (*rill_map_one_fn)(void *ud, rill_context_t *ctx, const rill_record_t *rec,
                               rill_buf_t *out);
/* Emits zero or more key/value pairs for rec with rill_emit(); 0 or a negative code. */
typedef struct rill_emitter rill_emitter_t;
typedef int (*rill_flat_map_fn)(void *ud, rill_context_t *ctx, const rill_record_t *rec,
                                rill_emitter_t *out);
/* Sees rec (peek, foreach). */
typedef void (*rill_action_fn)(void *ud, const rill_record_t *rec);

/* Forwards one pair from a flat_map function; returns the downstream error, or 0. */
RILL_EXTERN int rill_emit(rill_emitter_t *out, rill_buf_t key, rill_buf_t value);

/* The built-in stateless processors the DSL is made of. Each takes an arg made by
 * rill_op_arg_new() (released with rill_op_arg_free). */
typedef enum {
    RILL_OP_FILTER,          /* fn: rill_predicate_fn */
    RILL_OP_FILTER_NOT,      /* fn: rill_predicate_fn */
    RILL_OP_MAP,             /* fn: rill_map_fn */
    RILL_OP_MAP_VALUES,      /* fn: rill_map_one_fn */
    RILL_OP_SELECT_KEY,      /* fn: rill_map_one_fn */
    RILL_OP_FLAT_MAP,        /* fn: rill_flat_map_fn */
    RILL_OP_FLAT_MAP_VALUES, /* fn: rill_flat_map_fn */
    RILL_OP_PEEK,            /* fn: rill_action_fn */
    RILL_OP_FOREACH,         /* fn: rill_action_fn */
    RILL_OP_PASS,            /* fn: NULL; forwards unchanged (merge, branch outputs) */
    RILL_OP_BRANCH,          /* see rill_op_branch_add() */
} rill_op_t;

/* Returns the ops of built-in processor op (static). */
RILL_EXTERN const rill_processor_ops *rill_op_ops(rill_op_t op);
/* Returns a new arg for built-in processor op calling fn (cast to void (*)(void)) with ud. */
RILL_EXTERN void *rill_op_arg_new(rill_op_t op, void (*fn)(void), void *ud);
/* Frees an arg made by rill_op_arg_new(). */
RILL_EXTERN void rill_op_arg_free(void *arg);
/* Adds a branch to a RILL_OP_BRANCH arg: records pred accepts (all, when pred is NULL: the
 * default branch) go to the child node with index child (as the add functions return it, so a
 * rename does not break the link). Returns 0 or RILL_ENOMEM. */
RILL_EXTERN int rill_op_branch_add(void *arg, rill_predicate_fn pred, void *ud, int child);

/* ---- The built-in stateful processors --------------------------------------------------- */

/* Makes an aggregate's first value into *out; 0 or a negative code after rill_context_fail(). */
typedef int (*rill_initializer_fn)(void *ud, rill_context_t *ctx, rill_buf_t *out);
/* Folds value into agg for key (adder, subtractor); the result goes into *out. */
typedef int (*rill_aggregator_fn)(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t value,
                                  rill_buf_t agg, rill_buf_t *out);
/* Combines agg and value (reduce's adder and subtractor) into *out. */
typedef int (*rill_reducer_fn)(void *ud, rill_context_t *ctx, rill_buf_t agg, rill_buf_t value,
                               rill_buf_t *out);
/* Merges two session aggregates of key into *out. */
typedef int (*rill_merger_fn)(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t agg1,
                              rill_buf_t agg2, rill_buf_t *out);

/* How an aggregation groups records in time. */
typedef enum {
    RILL_WINDOWS_NONE = 0,
    RILL_WINDOWS_TUMBLING, /* [start, start + size), start a multiple of size */
    RILL_WINDOWS_HOPPING,  /* [start, start + size), start a multiple of advance */
    RILL_WINDOWS_SLIDING,  /* windows of size (time difference) ending at each record */
    RILL_WINDOWS_SESSION,  /* records of a key closer than gap join one session */
} rill_window_kind_t;

/* Windows: a window closes (later records for it are dropped as late) once stream time passes
 * its end plus grace. */
typedef struct {
    rill_window_kind_t kind;
    int64_t size_ms;    /* tumbling, hopping; the time difference of sliding windows */
    int64_t advance_ms; /* hopping (tumbling: = size) */
    int64_t gap_ms;     /* session: the inactivity gap */
    int64_t grace_ms;
} rill_windows_t;

/* What the built-in stateful processor does. */
typedef enum {
    RILL_SOP_AGGREGATE,        /* a stream's (optionally windowed) count, reduce or aggregate */
    RILL_SOP_TABLE_SOURCE,     /* materializes records into a table: latest value per key */
    RILL_SOP_TABLE_FILTER,     /* table updates whose values pred keeps (others become deletes) */
    RILL_SOP_TABLE_MAP_VALUES, /* table updates with values mapped */
    RILL_SOP_TO_STREAM,        /* table updates as a stream of new values */
    RILL_SOP_TABLE_REGROUP,    /* a table's group_by: an update becomes "subtract old" and "add new"
                                * records (values in rill_serde_change) under the new keys */
    RILL_SOP_TABLE_AGGREGATE,  /* folds "subtract"/"add" records into aggregates */
    RILL_SOP_SUPPRESS,         /* holds table updates back until their window closes or a time
                                * limit passes */
} rill_sop_t;

/* What aggregate a RILL_SOP_AGGREGATE or RILL_SOP_TABLE_AGGREGATE computes. */
typedef enum { RILL_AGG_COUNT, RILL_AGG_REDUCE, RILL_AGG_AGGREGATE } rill_agg_t;

/* The arguments of a built-in stateful processor; unused fields stay 0/NULL. Strings and serdes
 * are copied/referenced by rill_sop_arg_new(). */
typedef struct {
    rill_sop_t op;
    const char *store;         /* the state store (aggregates, table source, materialized tables) */
    rill_serde_t *key_serde;   /* of the stored keys; NULL: the default key serde */
    rill_serde_t *value_serde; /* of the stored values; NULL: the default value serde */
    rill_agg_t agg;
    rill_windows_t windows;
    rill_initializer_fn initializer;
    rill_aggregator_fn adder, subtractor;
    rill_reducer_fn reduce_adder, reduce_subtractor;
    rill_merger_fn merger;
    rill_predicate_fn pred; /* table filter */
    bool filter_not;
    rill_map_one_fn map; /* table map_values */
    rill_map_fn regroup; /* table group_by: new key and value */
    void *ud;
    /* suppress */
    bool until_window_closes; /* else until time_limit_ms after the key's first update */
    int64_t time_limit_ms;
    uint64_t max_records;     /* 0: unbounded */
    uint64_t max_bytes;       /* 0: unbounded */
    bool shut_down_when_full; /* else emit the oldest early */
} rill_sop_spec_t;

/* Returns the ops of the built-in stateful processors (static). */
RILL_EXTERN const rill_processor_ops *rill_sop_ops(void);
/* Returns a new arg for them, or NULL. */
RILL_EXTERN void *rill_sop_arg_new(const rill_sop_spec_t *spec);
/* Frees an arg made by rill_sop_arg_new(). */
RILL_EXTERN void rill_sop_arg_free(void *arg);

/* A value of rill_serde_change(): a table's regrouped update, added or subtracted. */
typedef struct {
    rill_buf_t value;
    bool subtract;
} rill_change_t;
/* Returns a new serde for rill_change_t views over inner (referenced): inner's bytes then one
 * flag byte (1: subtract). Used on the repartition topic of a table's group_by. */
RILL_EXTERN rill_serde_t *rill_serde_change(rill_serde_t *inner);

/* ---- The built-in join processors ------------------------------------------------------ */

/* Makes the join result of key's left and right values into *out (a view that outlives the call:
 * the context's arena, or static storage); 0, or a negative code after rill_context_fail(). */
typedef int (*rill_joiner_fn)(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t left,
                              rill_buf_t right, rill_buf_t *out);

/* The windows of a stream-stream join: a left record at t joins the right records of its key in
 * [t - before_ms, t + after_ms] (a right record at t the left ones in [t - after_ms,
 * t + before_ms]). A side's store keeps records for before + after + grace_ms of its stream
 * time: a record older than that still joins what the other side holds, but is not kept (it
 * counts in late-records-dropped). A left or outer join emits an unmatched record (with a null
 * other side) once stream time is past its window's end plus grace_ms, never earlier. */
typedef struct {
    int64_t before_ms;
    int64_t after_ms;
    int64_t grace_ms;
} rill_join_windows_t;

/* What a built-in join processor does (Kafka Streams' KStreamJoinWindow, KStreamKStreamJoin,
 * KStreamKTableJoinProcessor, KTableKTable*Join). */
typedef enum {
    RILL_JOP_WINDOW,        /* a stream-stream join's side: puts each keyed record into the side's
                             * window store, after forwarding it */
    RILL_JOP_STREAM_STREAM, /* a stream-stream join's side: joins the other side's window store */
    RILL_JOP_STREAM_TABLE,  /* a stream joined with the value of its key in a table's store */
    RILL_JOP_TABLE_TABLE,   /* a table-table join's side: an update joins the other side's store */
} rill_jop_t;

/* The arguments of a built-in join processor; unused fields stay 0/NULL. Strings are copied and
 * serdes referenced by rill_join_arg_new(). */
typedef struct {
    rill_jop_t op;
    const char *store;           /* WINDOW: the side's window store; STREAM_STREAM, TABLE_TABLE: the
                                  * other side's store; STREAM_TABLE: the table's store */
    const char *outer_store;     /* STREAM_STREAM of a left or outer join: unmatched records;
                                  * STREAM_TABLE with windows.grace_ms > 0: the grace buffer */
    bool right_side;             /* the processor sees the right side's records */
    bool outer;                  /* its unmatched records are emitted with a null other side */
    bool other_outer;            /* TABLE_TABLE: the other side's unmatched rows are emitted too */
    rill_join_windows_t windows; /* STREAM_TABLE: only grace_ms, the stream side's grace period
                                  * (a versioned table's store only; 0: none) */
    rill_joiner_fn joiner;
    void *ud;
    rill_map_one_fn key_mapper; /* STREAM_TABLE: the table key a record joins (NULL: its key) */
    void *key_mapper_ud;
    rill_serde_t *key_serde;         /* of the stores' keys; NULL: the default key serde */
    rill_serde_t *this_value_serde;  /* of this side's stored values; NULL: the default */
    rill_serde_t *other_value_serde; /* of the other side's stored values; NULL: the default */
} rill_join_spec_t;
/* Returns the ops of the built-in join processors (static). */
RILL_EXTERN const rill_processor_ops *rill_join_ops(void);
/* Returns a new arg for them, or NULL. */
RILL_EXTERN void *rill_join_arg_new(const rill_join_spec_t *spec);
/* Frees an arg made by rill_join_arg_new(). */
RILL_EXTERN void rill_join_arg_free(void *arg);

/* ---- The built-in dedupe processor ----------------------------------------------------- */

/* Where the dedupe processor (rill_stream_dedupe) takes a record's id from. */
typedef enum {
    RILL_DEDUPE_KEY,      /* the record's key, serialized with the key serde */
    RILL_DEDUPE_HEADER,   /* the value of the record's last header called header */
    RILL_DEDUPE_FUNCTION, /* the bytes fn makes of the record */
} rill_dedupe_kind_t;

/* A record's id for dedupe; make one with rill_dedupe_by_key(), rill_dedupe_by_header() or
 * rill_dedupe_by_function() (dsl.h). A record without an id (a null key, no such header, a
 * header with a null value, a null view from fn) is never a duplicate: it passes. */
typedef struct {
    rill_dedupe_kind_t kind;
    const char *header; /* HEADER: the header's name */
    rill_map_one_fn fn; /* FUNCTION: writes the id's bytes into *out (a view that outlives the
                         * call, e.g. into the record or the context's arena); 0 or a code */
    void *ud;
} rill_dedupe_id_t;

/* The arguments of the dedupe processor. Strings are copied and the serde referenced by
 * rill_dedupe_arg_new(). */
typedef struct {
    rill_dedupe_id_t id;
    const char *store;       /* its window store, retention 2 * ttl_ms (see dsl.h) */
    int64_t ttl_ms;          /* > 0 */
    rill_serde_t *key_serde; /* RILL_DEDUPE_KEY: serializes the key; NULL: the default key serde */
} rill_dedupe_spec_t;
/* Returns the ops of the dedupe processor (static). */
RILL_EXTERN const rill_processor_ops *rill_dedupe_ops(void);
/* Returns a new arg for it, or NULL. */
RILL_EXTERN void *rill_dedupe_arg_new(const rill_dedupe_spec_t *spec);
/* Frees an arg made by rill_dedupe_arg_new(). */
RILL_EXTERN void rill_dedupe_arg_free(void *arg);

/* ---- The built-in decide processor (event-sourced aggregates) --------------------------- */

/* What decide makes of one command: the events it emits, or a rejection. Borrowed by decide for
 * its call only. */
typedef struct rill_decision rill_decision_t;
/* Decides a command against its aggregate's state (a null view for a new aggregate; the version,
 * the count of events applied so far, from rill_decision_version): emits zero or more events with
 * rill_decision_emit() or rejects the command with rill_decision_reject(). Returns 0, or a
 * negative code after rill_context_fail() (an error, not a rejection: the processing error
 * handler decides). */
typedef int (*rill_decide_fn)(void *ud, rill_context_t *ctx, const rill_record_t *command,
                              rill_buf_t state, rill_decision_t *out);
/* Folds event into state (a null view for a new aggregate) and puts the new state in *out (in
 * the arena, static storage, or state itself). 0 or a negative code after rill_context_fail(). */
typedef int (*rill_evolve_fn)(void *ud, rill_context_t *ctx, rill_buf_t state, rill_buf_t event,
                              rill_buf_t *out);

/* Emits one event (a view that must live until the record is done: the arena, static storage or
 * the command); 0, RILL_EINVAL for a null event, RILL_ESTATE after a rejection, RILL_ENOMEM. */
RILL_EXTERN int rill_decision_emit(rill_decision_t *d, rill_buf_t event);
/* Rejects the command with reason (copied; NULL: "rejected"), discarding the events emitted for
 * it. Returns 0 or RILL_ENOMEM. */
RILL_EXTERN int rill_decision_reject(rill_decision_t *d, const char *reason);
/* Returns the aggregate's version before the command: the count of events applied so far. */
RILL_EXTERN uint64_t rill_decision_version(const rill_decision_t *d);

/* The arguments of the decide processor (rill_stream_decide, docs/event-sourcing.md). Strings are
 * copied and serdes referenced by rill_decide_arg_new(). */
typedef struct {
    rill_decide_fn decide;
    rill_evolve_fn evolve;
    void *ud;
    const char *store;                   /* the key-value store of the aggregates' states */
    const char *reply_node;              /* the child that takes the replies (NULL: no replies) */
    const char *correlation_header;      /* copied from each command to its events and reply */
    const char *expected_version_header; /* a command's expected version (decimal) */
    rill_serde_t *key_serde;             /* of the store's keys; NULL: the default key serde */
} rill_decide_spec_t;
/* Returns the ops of the decide processor (static). */
RILL_EXTERN const rill_processor_ops *rill_decide_ops(void);
/* Returns a new arg for it, or NULL. */
RILL_EXTERN void *rill_decide_arg_new(const rill_decide_spec_t *spec);
/* Frees an arg made by rill_decide_arg_new(). */
RILL_EXTERN void rill_decide_arg_free(void *arg);

/* ---- The built-in foreign-key join processors ------------------------------------------ */

/*
 * What a processor of a foreign-key table-table join does (Kafka Streams' KIP-213 processors).
 * The left table's updates subscribe their row's key to the right row their foreign key names,
 * through the subscription topic (partitioned by the foreign key, like the right table); the
 * right side answers through the response topic (partitioned as the left table) with the right
 * value and the murmur3 hash of the left value that asked, and the left side drops an answer
 * whose hash is no longer that of its row. The topics carry Kafka Streams' wire formats
 * (SubscriptionWrapper version 1, SubscriptionResponseWrapper version 0) as bytes.
 */
typedef enum {
    RILL_FKOP_SUBSCRIBE,    /* under the left table: its updates as subscriptions (the sink's
                             * key is the foreign key's bytes) */
    RILL_FKOP_RECEIVE,      /* under the subscription topic's source: keeps the subscriptions in
                             * store, keyed by (foreign key, left key) */
    RILL_FKOP_SUBSCRIPTION, /* after RECEIVE: answers a subscription with the right row in store */
    RILL_FKOP_FOREIGN,      /* under the right table: answers every subscription of its key */
    RILL_FKOP_RESOLVE,      /* under the response topic's source: joins the answers still current
                             * with the left row in store */
} rill_fkop_t;

/* The arguments of a foreign-key join processor; unused fields stay 0/NULL. Strings are copied
 * and serdes referenced by rill_fk_join_arg_new(). */
typedef struct {
    rill_fkop_t op;
    const char *store;           /* RECEIVE, FOREIGN: the subscription store; SUBSCRIPTION: the
                                  * right table's store; RESOLVE: the left table's store */
    bool left_join;              /* SUBSCRIBE, RESOLVE: a left join */
    rill_map_one_fn foreign_key; /* SUBSCRIBE: the right table's key of a left row's value */
    void *foreign_key_ud;
    rill_joiner_fn joiner; /* RESOLVE */
    void *ud;
    rill_serde_t *key_serde;           /* the left table's keys; NULL: the default key serde */
    rill_serde_t *value_serde;         /* the left table's values (hashed); NULL: the default */
    rill_serde_t *foreign_key_serde;   /* the right table's keys; NULL: the default key serde */
    rill_serde_t *foreign_value_serde; /* the right table's values; NULL: the default */
} rill_fk_join_spec_t;
/* Returns the ops of the foreign-key join processors (static). */
RILL_EXTERN const rill_processor_ops *rill_fk_join_ops(void);
/* Returns a new arg for them, or NULL. */
RILL_EXTERN void *rill_fk_join_arg_new(const rill_fk_join_spec_t *spec);
/* Frees an arg made by rill_fk_join_arg_new(). */
RILL_EXTERN void rill_fk_join_arg_free(void *arg);
/* The response topic's partitioner: the partition of the left row that subscribed, which
 * SUBSCRIPTION and FOREIGN put in the partition of the records they forward (as Kafka Streams'
 * response wrapper carries it beside its wire form); -1 (key hashing) when it is unknown. */
RILL_EXTERN int32_t rill_fk_join_response_partition(void *ud, const char *topic,
                                                    const rill_record_t *rec,
                                                    int32_t partition_count);

/* ---- The topology graph ------------------------------------------------------------------ */

/* A timestamp extractor: returns the timestamp for rec (whose timestamp is the Kafka record's);
 * partition_time is the largest timestamp seen on its partition so far. A negative result makes
 * the record invalid (it goes to the record error handler). */
typedef int64_t (*rill_timestamp_fn)(void *ud, const rill_record_t *rec, int64_t partition_time);

/* Picks a partition for rec among partition_count; -1 lets the default (murmur2 of the key, as
 * Kafka's Java clients do) choose. */
typedef int32_t (*rill_partitioner_fn)(void *ud, const char *topic, const rill_record_t *rec,
                                       int32_t partition_count);

/* Chooses the output topic of rec; the string must outlive the call (a literal, or arena). */
typedef const char *(*rill_topic_extractor_fn)(void *ud, const rill_record_t *rec);

/* Source options; every field may be 0/NULL (then defaults from the configuration apply). */
typedef struct {
    rill_serde_t *key_serde;
    rill_serde_t *value_serde;
    rill_timestamp_fn timestamp_fn;
    void *timestamp_ud;
} rill_source_opts_t;

/* Sink options; every field may be 0/NULL. */
typedef struct {
    rill_serde_t *key_serde;
    rill_serde_t *value_serde;
    rill_partitioner_fn partitioner;
    void *partitioner_ud;
} rill_sink_opts_t;

/* Returns a new, empty topology (reference count 1), or NULL. */
RILL_EXTERN rill_topology_t *rill_topology_new(void);
/* Takes a reference on a topology and returns it. */
RILL_EXTERN rill_topology_t *rill_topology_ref(rill_topology_t *topo);
/* Drops a reference; the last one frees the topology. NULL is fine. */
RILL_EXTERN void rill_topology_unref(rill_topology_t *topo);

/*
 * Adds a source node called name reading topics (a NULL-terminated list) or, when pattern is not
 * NULL, every topic matching the POSIX extended regular expression pattern. opts may be NULL;
 * serdes are referenced. The add functions return the node's index (>= 0) or a negative code;
 * errors are also kept for rill_topology_build(), which reports the first.
 */
RILL_EXTERN int rill_topology_add_source(rill_topology_t *topo, const char *name,
                                         const char *const *topics, const char *pattern,
                                         const rill_source_opts_t *opts);
/* Adds a processor node with ops (borrowed, must outlive the topology) and arg (owned on
 * success, released with arg_free) under the parents named in the NULL-terminated list parents,
 * which may name nodes added later. */
RILL_EXTERN int rill_topology_add_processor(rill_topology_t *topo, const char *name,
                                            const rill_processor_ops *ops, void *arg,
                                            void (*arg_free)(void *), const char *const *parents);
/* Adds a sink node writing to topic, or to the topic extractor chooses per record when topic is
 * NULL, under the parents named in parents. */
RILL_EXTERN int rill_topology_add_sink(rill_topology_t *topo, const char *name, const char *topic,
                                       rill_topic_extractor_fn extractor, void *extractor_ud,
                                       const rill_sink_opts_t *opts, const char *const *parents);
/* Like rill_topology_add_sink() and add_source() together: a sink writing to the internal topic
 * "<application.id>-<name>-repartition" and a source (called source_name) reading it, which
 * starts a new sub-topology. partitions 0 means "as many as the upstream source topics". */
RILL_EXTERN int rill_topology_add_repartition(rill_topology_t *topo, const char *name,
                                              const char *source_name, int32_t partitions,
                                              const rill_sink_opts_t *opts,
                                              const char *const *parents);
/* Like rill_topology_add_repartition(), for an internal topic the caller names in full: a sink
 * called sink_name writing to "<application.id>-<topic>" and a source called source_name reading
 * it (a new sub-topology). Returns the source's index or a negative code. */
RILL_EXTERN int rill_topology_add_internal_topic(rill_topology_t *topo, const char *topic,
                                                 const char *sink_name, const char *source_name,
                                                 int32_t partitions, const rill_sink_opts_t *opts,
                                                 const char *const *parents);
/* Returns the name of node index (as returned by the add functions), borrowed, or NULL. */
RILL_EXTERN const char *rill_topology_node_name(const rill_topology_t *topo, int index);
/* Remembers an error found while building (the first one wins); rill_topology_build() reports
 * it. Returns RILL_ETOPOLOGY. */
RILL_EXTERN int rill_topology_fail(rill_topology_t *topo, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Ties p's lifetime to the topology: free_fn(p) runs when the topology is freed. */
RILL_EXTERN int rill_topology_attach(rill_topology_t *topo, void *p, void (*free_fn)(void *));

/* The kinds of state store. A versioned store (Kafka Streams' VersionedKeyValueStore, KIP-889)
 * keeps each key's versions for retention_ms of history (in segments of segment_ms); processors
 * reach it as a key-value store (rill_context_kv_store): rill_kv_get reads the latest version,
 * rill_kv_get_as_of an older one. It never caches; its changelog is compacted with
 * min.compaction.lag.ms = retention_ms + 1 day. */
typedef enum {
    RILL_STORE_KV,
    RILL_STORE_WINDOW,
    RILL_STORE_SESSION,
    RILL_STORE_VERSIONED,
} rill_store_type_t;

/* What a state store is; every field but name and type may be 0/NULL. */
typedef struct {
    const char *name; /* unique; names the changelog "<application.id>-<name>-changelog" */
    rill_store_type_t type;
    rill_store_backend_t backend; /* RILL_STORE_DEFAULT: the app's default.dsl.store */
    bool no_logging;              /* true: no changelog (state is lost with the disk, or process) */
    bool no_caching;              /* true: writes go straight through */
    int64_t retention_ms;         /* window and session stores: how long windows are kept; versioned
                                   * stores: the history retention */
    int64_t segment_ms;        /* window, session, versioned stores; 0: max(retention / 2, 1 s) */
    rill_serde_t *key_serde;   /* for interactive queries (referenced); may be NULL */
    rill_serde_t *value_serde; /* idem */
    bool internal;             /* generated by the DSL: not queryable by name */
    bool retain_duplicates;    /* window stores: keep every value put (a stream-stream join's) */
} rill_store_spec_t;

/* Adds a state store and connects it to the processors named in the NULL-terminated list
 * processors (which may be added later). A store belongs to one sub-topology: every processor
 * it is connected to must end up in the same one. Returns the store's index or a negative code. */
RILL_EXTERN int rill_topology_add_store(rill_topology_t *topo, const rill_store_spec_t *spec,
                                        const char *const *processors);
/* Connects the existing store called store to processor too. */
RILL_EXTERN int rill_topology_connect_store(rill_topology_t *topo, const char *store,
                                            const char *processor);
/*
 * Adds a global store (Kafka Streams' addGlobalStore): every instance of the app holds all of
 * topic, every partition, in the key-value store spec describes, fully loaded before any task
 * processes and kept current while the app runs. A source node called source_name reads topic
 * (opts may be NULL) and a processor node called processor_name puts its records into the store
 * as they are: the latest value per key, a null value deletes, a null key is skipped. The topic
 * is the store's changelog (spec's no_logging and no_caching are implied); the two nodes form a
 * sub-topology of their own, which makes no tasks. Processors of every sub-topology read the
 * store by name (rill_context_kv_store), without connecting to it; writes to it are refused.
 * Returns the store's index or a negative code.
 */
RILL_EXTERN int rill_topology_add_global_store(rill_topology_t *topo, const rill_store_spec_t *spec,
                                               const char *source_name, const char *topic,
                                               const rill_source_opts_t *opts,
                                               const char *processor_name);
/* Returns the number of stores of a topology. */
RILL_EXTERN int rill_topology_store_count(const rill_topology_t *topo);
/* Returns store i's spec (borrowed; name and serdes live as long as the topology) and sets *st
 * to its sub-topology (after build), or NULL past the end. */
RILL_EXTERN const rill_store_spec_t *rill_topology_store(const rill_topology_t *topo, int i,
                                                         int *st);
/* Returns the index of the store called name, or -1. */
RILL_EXTERN int rill_topology_find_store(const rill_topology_t *topo, const char *name);

/* Renames node old_name to new_name; RILL_ENOENT or RILL_EEXIST. */
RILL_EXTERN int rill_topology_rename(rill_topology_t *topo, const char *old_name,
                                     const char *new_name);
/* Returns a fresh node name "<PREFIX>-<10-digit counter>" as Kafka Streams names DSL nodes, in
 * buf (at least 48 bytes). */
RILL_EXTERN const char *rill_topology_next_name(rill_topology_t *topo, const char *prefix,
                                                char *buf, size_t buf_size);

/*
 * Validates the graph and freezes it: every parent exists, names are unique, no processor is
 * dangling (without parents), there is no cycle, every topic is read by one source only. Then it
 * splits the graph into sub-topologies. Returns 0 or RILL_ETOPOLOGY with the culprit named in
 * errstr. Building twice is a no-op.
 */
RILL_EXTERN int rill_topology_build(rill_topology_t *topo, char *errstr, size_t errstr_size);
/* Returns a new string (free with rill_free) describing a built topology as Kafka Streams'
 * TopologyDescription prints it, or NULL. */
RILL_EXTERN char *rill_topology_describe(const rill_topology_t *topo);
/* Returns a new string (free with rill_free): the built topology as a Graphviz DOT digraph. */
RILL_EXTERN char *rill_topology_to_dot(const rill_topology_t *topo);

/* ---- Record errors (rill_conf_set_record_error_handler) -------------------------------- */

/* What a record error handler decides: stop with an error, or skip the record and go on; for a
 * production error that is retriable (rill_error_context_t.retriable), also retry (bounded, see
 * docs/retries.md; RETRY of an error that is not retriable fails, as in Kafka Streams). */
typedef enum { RILL_HANDLER_FAIL, RILL_HANDLER_CONTINUE, RILL_HANDLER_RETRY } rill_handler_result_t;

/* Called when a record cannot be deserialized or has an invalid timestamp; raw is the record as
 * read (bytes), reason says what and where. (rill_conf_set_exception_handler is the general form.)
 */
typedef rill_handler_result_t (*rill_record_error_handler_fn)(void *ud, const rill_record_t *raw,
                                                              int err, const char *reason);

/* What failed: the kinds of Kafka Streams' exception handlers. */
typedef enum {
    RILL_ERROR_DESERIALIZATION, /* a source's serde refused the bytes, or the timestamp is bad */
    RILL_ERROR_PROCESSING, /* a processor (a user function of any operator) failed the record */
    RILL_ERROR_PRODUCTION, /* a sink could not serialize or send an output (too large, topic
                            * unknown, timed out...); never for fencing, authorization or a
                            * changelog write, which are always fatal */
    RILL_ERROR_KINDS
} rill_error_kind_t;

/* Everything known of a record that failed, for an exception handler (borrowed for the call). */
typedef struct {
    rill_error_kind_t kind;
    const char *topic; /* where the input record was read: topic, partition, offset, timestamp */
    int32_t partition;
    int64_t offset;
    int64_t timestamp;
    const rill_headers_t *headers; /* the input record's headers */
    rill_buf_t key, value;         /* the input record's bytes, as read */
    const char *node;              /* the processor node that failed (the source, for serdes) */
    const char *task_id;           /* "<sub-topology>_<partition>" */
    const char *application_id;
    int error;           /* the code (RILL_ESERDE, RILL_EPROCESS, ...) */
    const char *message; /* what failed and why, naming the node and the record */
    /* Production errors only (NULL / -1 / empty otherwise): the output's topic and partition
     * (-1: not chosen yet), its serialized bytes (empty for a serialization error), and whether
     * the cause is retriable (a timeout, a leader moving, too few replicas). */
    const char *output_topic;
    int32_t output_partition;
    rill_buf_t output_key, output_value;
    bool retriable;
} rill_error_context_t;

/* An exception handler: decides whether the app fails or goes on past the record (for a
 * production error: past the output). When errors.dead.letter.queue.topic.name is set, the
 * record goes to the dead letter queue when the decision is fail or continue, before it takes
 * effect (a retry that succeeds sends none). */
typedef rill_handler_result_t (*rill_exception_handler_fn)(void *ud,
                                                           const rill_error_context_t *ctx);

#ifdef __cplusplus
}
#endif
#endif
