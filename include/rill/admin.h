/*
 * admin.h — the operator's tools behind the `rill` command (docs/cli.md): resetting an
 * application (Kafka's kafka-streams-application-reset), inspecting and replaying its dead
 * letter queue, and preparing a side-by-side replay of a past time range under a new
 * application id. Each talks to a cluster through a rill_admin_t, made and used by one thread;
 * nothing here runs inside an app. Plans and results are owned by the caller (destroy or
 * rill_free them); strings given in options are borrowed for the duration of the call.
 */
#ifndef RILL_ADMIN_H
#define RILL_ADMIN_H

#include <rill/rill.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rill_admin rill_admin_t;

/* Called as work goes on: done of total steps (records, partitions, topics). */
typedef void (*rill_admin_progress_cb)(void *ud, int64_t done, int64_t total);

/* Returns a new admin client of the cluster at bootstrap ("host:port,..."), or NULL with the
 * reason in errstr (an unreachable cluster is found by the first request, not here). */
RILL_EXTERN rill_admin_t *rill_admin_new(const char *bootstrap, char *errstr, size_t errstr_size);
/* Frees an admin client. NULL is fine. */
RILL_EXTERN void rill_admin_destroy(rill_admin_t *admin);
/* Parses an ISO-8601 date and time ("2026-12-02T08:00:00[.sss][Z|+hh:mm]", UTC without a zone)
 * or milliseconds since the epoch into *ms; 0 or RILL_EINVAL. */
RILL_EXTERN int rill_admin_parse_datetime(const char *text, int64_t *ms);
/* Parses an ISO-8601 duration ("PT1H", "P1DT30M", "PT0.5S") into *ms; 0 or RILL_EINVAL. */
RILL_EXTERN int rill_admin_parse_duration(const char *text, int64_t *ms);

/* ---- Reset ------------------------------------------------------------------------------ */

typedef enum {
    RILL_RESET_TO_EARLIEST, /* each input partition to its first offset */
    RILL_RESET_TO_TIME,     /* to the first record at or after timestamp_ms (else the end) */
    RILL_RESET_TO_OFFSET,   /* to offset, kept within each partition's first and end offsets */
    RILL_RESET_FROM_FILE,   /* to the offsets of file: "topic,partition,offset" lines */
} rill_reset_mode_t;

typedef struct {
    const char *application_id;      /* the app's group, and the prefix of its internal topics */
    const char *const *input_topics; /* the app's input topics */
    size_t input_topic_count;
    rill_reset_mode_t mode;
    int64_t timestamp_ms;  /* RILL_RESET_TO_TIME */
    int64_t offset;        /* RILL_RESET_TO_OFFSET */
    const char *file;      /* RILL_RESET_FROM_FILE */
    const char *state_dir; /* the app's state.dir, whose <application_id> folder is wiped; NULL
                            * keeps local state */
} rill_reset_options_t;

typedef struct rill_reset_plan rill_reset_plan_t;

/* Returns a new plan of what resetting does (the offsets each input partition gets, the internal
 * topics deleted, the state folder wiped), changing nothing; NULL with the reason in errstr, and
 * RILL_EBUSY in *err (may be NULL) when the group has live members or a local instance holds
 * the state folder. */
RILL_EXTERN rill_reset_plan_t *rill_reset_plan_new(rill_admin_t *admin,
                                                   const rill_reset_options_t *options, int *err,
                                                   char *errstr, size_t errstr_size);
/* Returns the plan as text, a new string (rill_free), or NULL. */
RILL_EXTERN char *rill_reset_plan_text(const rill_reset_plan_t *plan);
/* Returns how many input partitions, internal topics and state folders (0 or 1) plan touches. */
RILL_EXTERN void rill_reset_plan_counts(const rill_reset_plan_t *plan, size_t *partitions,
                                        size_t *topics, size_t *state_dirs);
/* Carries plan out: commits the offsets (refused by the cluster if a member joined since),
 * deletes the internal topics and waits until they are gone, wipes the state folder. 0 or a
 * negative code with the step that failed in errstr. */
RILL_EXTERN int rill_reset_execute(rill_admin_t *admin, const rill_reset_plan_t *plan,
                                   rill_admin_progress_cb progress, void *ud, char *errstr,
                                   size_t errstr_size);
/* Frees a plan. NULL is fine. */
RILL_EXTERN void rill_reset_plan_destroy(rill_reset_plan_t *plan);

/* ---- Dead letter queue ------------------------------------------------------------------- */

/* The header a replayed record carries: how many times it was replayed (decimal text). */
#define RILL_DLQ_REPLAY_HEADER "rill.dlq.replays"

/* Which dead letters a call reads. */
typedef struct {
    const char *topic;       /* the dead letter queue */
    int32_t partition;       /* -1: every partition */
    int64_t from_offset;     /* -1: each partition's start */
    int64_t to_offset;       /* inclusive; -1: each partition's end */
    const char *error_class; /* NULL: every class; else the exception's class ("rill.
                              * ProcessingError") or the whole exception header */
    int64_t since_ms;        /* -1: any time; else records at or after it */
} rill_dlq_filter_t;

/* One dead letter, decoded; every pointer is borrowed for the duration of the callback. */
typedef struct {
    int32_t partition;
    int64_t offset;
    int64_t timestamp;
    rill_buf_t key, value; /* data NULL: null */
    const rill_header_t *headers;
    size_t header_count;
    const char *exception;      /* __streams.errors.exception, "" when absent */
    const char *error_class;    /* the exception up to its '(' */
    const char *message;        /* __streams.errors.message */
    const char *node;           /* __streams.errors.processor.node.id */
    const char *source_topic;   /* __streams.errors.topic */
    int32_t source_partition;   /* __streams.errors.partition, -1 when absent */
    int64_t source_offset;      /* __streams.errors.offset, -1 when absent */
    const char *application_id; /* __streams.errors.application.id */
    int replays;                /* RILL_DLQ_REPLAY_HEADER, 0 when absent */
} rill_dlq_record_t;

/* Called for each dead letter a scan selects; returns 0 to go on or a negative code to stop. */
typedef int (*rill_dlq_record_cb)(void *ud, const rill_dlq_record_t *rec);

/* Reads the dead letters filter selects, from each partition's start to its end as the scan
 * began, in offset order per partition. 0, or a negative code (the callback's) with why. */
RILL_EXTERN int rill_dlq_scan(rill_admin_t *admin, const rill_dlq_filter_t *filter,
                              rill_dlq_record_cb each, void *ud, rill_admin_progress_cb progress,
                              void *progress_ud, char *errstr, size_t errstr_size);

/* Dead letters of one error class and node. */
typedef struct {
    char error_class[128];
    char node[128];
    int64_t count;
    int64_t first_ms, last_ms; /* the dead letters' timestamps */
} rill_dlq_group_t;

/* Groups the dead letters filter selects by error class and node, largest first; *groups is a
 * new array (rill_free) of *count. 0 or a negative code with why. */
RILL_EXTERN int rill_dlq_list(rill_admin_t *admin, const rill_dlq_filter_t *filter,
                              rill_dlq_group_t **groups, size_t *count,
                              rill_admin_progress_cb progress, void *ud, char *errstr,
                              size_t errstr_size);
/* Returns the dead letter at topic, partition, offset decoded as text, a new string (rill_free):
 * where it failed, its headers, key and value (JSON pretty-printed, other bytes escaped); NULL
 * with why (RILL_ENOENT: no such record). */
RILL_EXTERN char *rill_dlq_show(rill_admin_t *admin, const char *topic, int32_t partition,
                                int64_t offset, char *errstr, size_t errstr_size);

typedef struct {
    int64_t selected; /* dead letters the filter selected */
    int64_t replayed; /* sent to their source topic (or, in a dry run, that would be) */
    int64_t refused;  /* refused: they reached max_replays */
    int64_t unknown;  /* without a source topic header, left alone */
    int64_t first_offset, last_offset; /* of the selected ones, -1 when none */
} rill_dlq_replay_result_t;

/* Sends each dead letter filter selects back to its source topic and partition: its key, value,
 * timestamp and headers as they were read (without the __streams.errors.* ones), and
 * RILL_DLQ_REPLAY_HEADER one higher; one that was replayed max_replays times is refused. With
 * dry_run nothing is sent. Returns 0 once every record sent is acknowledged, or a negative code
 * with why; *result says what happened. */
RILL_EXTERN int rill_dlq_replay(rill_admin_t *admin, const rill_dlq_filter_t *filter,
                                int max_replays, bool dry_run, rill_admin_progress_cb progress,
                                void *ud, rill_dlq_replay_result_t *result, char *errstr,
                                size_t errstr_size);

/* ---- Side-by-side replay ------------------------------------------------------------------ */

typedef struct {
    const char *application_id;      /* A: the app whose inputs are replayed */
    const char *new_application_id;  /* B: the app id the replay runs under, unused so far */
    const char *const *input_topics; /* NULL: the user topics A's group has offsets for */
    size_t input_topic_count;
    int64_t from_ms, to_ms; /* the records of timestamps in [from, to), by offset range */
    bool dry_run;
} rill_replay_options_t;

typedef struct {
    size_t topics;   /* input topics copied */
    int64_t records; /* records copied (or, in a dry run, that would be) */
} rill_replay_result_t;

/* Copies, for each of A's input topics T, the records of each partition between the first
 * offset at or after from_ms and the first at or after to_ms into "<B>.<T>" (created with T's
 * partition count; partition, key, value, timestamp and headers kept), so that the user's
 * program run with application.id=B on those topics reprocesses exactly that range beside A.
 * Refuses (RILL_EEXIST) when B's group has offsets or a "<B>.<T>" topic exists. 0 or a negative
 * code with why; *result says what was copied. */
RILL_EXTERN int rill_replay_prepare(rill_admin_t *admin, const rill_replay_options_t *options,
                                    rill_admin_progress_cb progress, void *ud,
                                    rill_replay_result_t *result, char *errstr, size_t errstr_size);

#ifdef __cplusplus
}
#endif

#endif
