/*
 * What the admin tools' files share (admin.c, admin_reset.c, admin_dlq.c, admin_replay.c): the
 * client, and the cluster requests they make through librdkafka. Private to engine/.
 */
#ifndef RILL_ENGINE_ADMIN_INT_H
#define RILL_ENGINE_ADMIN_INT_H

#include <rill/admin.h>

#include <librdkafka/rdkafka.h>

struct rill_admin {
    char *bootstrap;
    rd_kafka_t *rk; /* a producer that sends nothing: admin requests, metadata, offsets */
    int timeout_ms; /* of each request */
};

/* A range of one partition to read: [start, stop). */
typedef struct {
    const char *topic;
    int32_t partition;
    int64_t start, stop;
} rill__admin_range_t;

/* Called for each record read_ranges reads; 0 to go on, a negative code to stop. */
typedef int (*rill__admin_message_cb)(void *ud, const rd_kafka_message_t *m);

/* Writes fmt into errstr; returns err. */
int rill__admin_fail(int err, char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Returns the partition count of topic (all-topics metadata, so nothing is auto-created), 0
 * when it does not exist, or a negative code with why. */
int rill__admin_partitions(rill_admin_t *admin, const char *topic, char *errstr,
                           size_t errstr_size);
/* Sets *names to a new array of every topic's name (free with rill__admin_names_free). */
int rill__admin_topics(rill_admin_t *admin, char ***names, size_t *count, char *errstr,
                       size_t errstr_size);
/* Frees an array of names. */
void rill__admin_names_free(char **names, size_t count);
/* Reads the first and end offsets of topic's partition. */
int rill__admin_watermarks(rill_admin_t *admin, const char *topic, int32_t partition, int64_t *lo,
                           int64_t *hi, char *errstr, size_t errstr_size);
/* Sets each entry of list (whose offsets hold timestamps) to the first offset at or after its
 * timestamp, or to the partition's end when none is. */
int rill__admin_offsets_for_times(rill_admin_t *admin, rd_kafka_topic_partition_list_t *list,
                                  char *errstr, size_t errstr_size);
/* Returns a new list of group's committed offsets (every topic), or NULL with why. */
rd_kafka_topic_partition_list_t *rill__admin_committed(rill_admin_t *admin, const char *group,
                                                       char *errstr, size_t errstr_size);
/* Returns group's live member count (0 for an empty or unknown group), writing who they are
 * into who; a negative code with why when the cluster cannot tell (the embedded cluster). */
int rill__admin_live_members(rill_admin_t *admin, const char *group, char *who, size_t who_size,
                             char *errstr, size_t errstr_size);
/* Sets *names to a new array of the cluster's consumer groups (rill__admin_names_free). */
int rill__admin_groups(rill_admin_t *admin, char ***names, size_t *count, char *errstr,
                       size_t errstr_size);
/* Reads the records of ranges (read_committed), calling each; 0 or the first failure. */
int rill__admin_read_ranges(rill_admin_t *admin, const rill__admin_range_t *ranges, size_t count,
                            rill__admin_message_cb each, void *ud, rill_admin_progress_cb progress,
                            void *progress_ud, char *errstr, size_t errstr_size);
/* What a producer of rill__admin_producer delivered. */
typedef struct {
    int64_t failed;
    char why[256]; /* the first failure */
} rill__admin_delivery_t;

/* Returns a new idempotent producer of the admin's cluster that reports into *delivery (kept by
 * the caller until the producer is closed), or NULL with why. */
rd_kafka_t *rill__admin_producer(rill_admin_t *admin, rill__admin_delivery_t *delivery,
                                 char *errstr, size_t errstr_size);
/* Flushes and frees a producer of rill__admin_producer; 0, or RILL_EKAFKA when a delivery
 * failed or the flush timed out. */
int rill__admin_producer_close(rd_kafka_t *producer, const rill__admin_delivery_t *delivery,
                               char *errstr, size_t errstr_size);

/* A growing string; oom set (and the text kept) once an append could not grow it. */
typedef struct {
    char *text;
    size_t len, cap;
    bool oom;
} rill__admin_text_t;

/* Appends n bytes of data to t. */
void rill__admin_put(rill__admin_text_t *t, const void *data, size_t n);
/* Appends a formatted string (up to 4 KiB) to t. */
void rill__admin_putf(rill__admin_text_t *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
