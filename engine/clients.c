/*
 * The settings Rill gives librdkafka's clients. A *default* is set before the user's
 * pass-through properties (so users may change it); a *forced* one after them, and users may not
 * set its key at all (rill_conf_set refuses it, naming the reason). Values that depend on the
 * app (bootstrap.servers, client and group ids, the transactional id) are filled in here too.
 */
#include "clients.h"

#include <stdio.h>
#include <string.h>

enum { C = 1 << CLIENT_CONSUMER, P = 1 << CLIENT_PRODUCER, R = 1 << CLIENT_RESTORE };
enum { ALWAYS, EOS_ONLY, EMBEDDED_ONLY, JOINS_ONLY, METRICS_ONLY };

typedef struct {
    int clients; /* mask of client kinds */
    int when;
    bool forced;
    const char *key, *value; /* value NULL: computed (see dynamic_value) */
    const char *reason;
} setting_t;

static const setting_t settings[] = {
    {C | P | R, ALWAYS, true, "bootstrap.servers", NULL,
     "the value of Rill's own bootstrap.servers property, which you set (or the embedded "
     "cluster's address when it is empty)"},
    {C | P | R, ALWAYS, true, "metadata.broker.list", NULL,
     "librdkafka's alias of bootstrap.servers"},
    {C | P | R, ALWAYS, false, "client.id", NULL,
     "`<application.id>-StreamThread-<n>-consumer` (or `-producer`, `-restore-consumer`; the "
     "global thread's `<application.id>-GlobalStreamThread-global-consumer`), as Kafka Streams "
     "names them"},
    {C, ALWAYS, true, "group.id", NULL, "the group is application.id"},
    {R, ALWAYS, true, "group.id", NULL,
     "`<application.id>-restore`, never joined: librdkafka needs a group id to assign (the "
     "global thread's consumer has the restore consumer's settings)"},
    {C | R, ALWAYS, true, "enable.auto.commit", "false",
     "Rill commits offsets itself, after the outputs of the records are acknowledged"},
    {C, ALWAYS, true, "enable.auto.offset.store", "false",
     "the offsets committed are the processed records', kept by Rill"},
    {C, ALWAYS, true, "partition.assignment.strategy", "range",
     "co-partitioning: partition p of every source topic of a task must go to one member; the "
     "range assignor guarantees it for topics of equal partition counts (which the topology "
     "requires of co-partitioned topics), cooperative-sticky does not, and librdkafka 2.0 has "
     "no custom assignors"},
    {C, ALWAYS, false, "auto.offset.reset", "earliest",
     "a new application reads its input from the start, as Kafka Streams"},
    {C | R, ALWAYS, false, "queued.min.messages", "1000000",
     "before 2.2 librdkafka stops fetching for a fixed second once this many records wait "
     "(100,000 by default): a thread that drains slower than fetches arrive would stall; "
     "memory is bounded by queued.max.messages.kbytes and Rill's buffered.bytes.max"},
    {C, EMBEDDED_ONLY, false, "session.timeout.ms", "6000",
     "the mock coordinator waits session.timeout.ms - 1 s for members before it rebalances a "
     "group that is up: Kafka's smallest session timeout makes rebalances take 5 s"},
    {R, ALWAYS, true, "enable.partition.eof", "true",
     "a restore ends at the end-of-partition event (see ARCHITECTURE.md, Restoration)"},
    {C, JOINS_ONLY, false, "queued.max.messages.kbytes", "2048",
     "a task fed by several partitions (a join, a merge) reads each from its own "
     "librdkafka queue, and "
     "librdkafka bounds each such queue by this, not the consumer's whole queue: 2 MB a "
     "partition, about 2 s of a join's partition at 100-byte records, so the fixed 1 s "
     "wait of librdkafka 2.0 before it fetches a full partition again never starves the "
     "thread (Kafka Streams buffers 1,000 records and one 1 MB fetch a partition). A "
     "queued record costs about 470 bytes (its op, its share of the fetch buffer), so "
     "this bounds the prefetch of 8 partitions to about 40 MB. Measured (1M records a side, "
     "4 partitions, the stream-stream join): 8 MB 400 MB peak RSS, 2 MB 190 MB at the same "
     "rate, 1 MB 152 MB but 36 % longer (stalls); an app without such tasks keeps "
     "librdkafka's 64 MB, which its consumer's one queue shares (8 MB there stalls the "
     "fetcher: filter-map 0.42 -> 3.9 s)"},
    {C, ALWAYS, true, "enable.partition.eof", "true",
     "a task fed by several partitions waits for an empty one until the consumer reports its "
     "end (max.task.idle.ms)"},
    {R, ALWAYS, true, "auto.offset.reset", "error",
     "a checkpoint outside the changelog is reported, and the store wiped and restored"},
    {R, ALWAYS, false, "fetch.wait.max.ms", "10",
     "a changelog whose tail is transaction markers ends only on an empty fetch"},
    {C | R, EOS_ONLY, true, "isolation.level", "read_committed",
     "exactly-once: aborted writes are neither processed nor restored"},
    {C | P, METRICS_ONLY, false, "statistics.interval.ms", "5000",
     "with metrics.listen set: the statistics, read every 5 s, give the consumer lag per "
     "partition, the producer's queue, and the brokers' round-trip times and errors as each "
     "client sees them"},
    {P, ALWAYS, false, "acks", "all",
     "a record is acknowledged once every in-sync replica has it (other values are refused)"},
    {P, ALWAYS, false, "enable.idempotence", "true",
     "retries never duplicate or reorder records (false is refused)"},
    {P, ALWAYS, false, "partitioner", "murmur2_random",
     "the Java clients' partitioner: Rill and Kafka Streams apps co-partition"},
    {P, ALWAYS, false, "linger.ms", "5", "batches fill while the thread processes"},
    {P, EOS_ONLY, false, "transaction.timeout.ms", "10000",
     "Kafka Streams' producer transaction timeout under exactly-once"},
    {P, EOS_ONLY, true, "transactional.id", NULL,
     "`<application.id>-<process id>-<n>`: stable across restarts of the instance, so a restart "
     "fences its predecessor at once"},
};

#define NSETTINGS (sizeof settings / sizeof settings[0])

static const char *kind_suffix(client_kind_t kind)
{
    return kind == CLIENT_CONSUMER   ? "consumer"
           : kind == CLIENT_PRODUCER ? "producer"
                                     : "restore-consumer";
}

/* Returns the value of a computed setting, written into buf when it must be made. */
static const char *dynamic_value(const thread_ctx_t *ctx, client_kind_t kind, const char *key,
                                 char *buf, size_t size)
{
    const char *app_id = ctx->env.application_id;
    if (strcmp(key, "bootstrap.servers") == 0 || strcmp(key, "metadata.broker.list") == 0)
        return ctx->bootstrap;
    if (strcmp(key, "client.id") == 0 && ctx->index < 0) /* the global thread's */
        snprintf(buf, size, "%s-GlobalStreamThread-global-consumer", app_id);
    else if (strcmp(key, "client.id") == 0)
        snprintf(buf, size, "%s-StreamThread-%d-%s", app_id, ctx->index + 1, kind_suffix(kind));
    else if (strcmp(key, "group.id") == 0)
        snprintf(buf, size, "%s%s", app_id, kind == CLIENT_RESTORE ? "-restore" : "");
    else if (strcmp(key, "transactional.id") == 0)
        snprintf(buf, size, "%s-%s-%d", app_id, ctx->process_id, ctx->index + 1);
    else
        return NULL;
    return buf;
}

static void count_source(void *ud, const char *topic, bool internal, int32_t partitions)
{
    (void)topic, (void)internal, (void)partitions;
    (*(int *)ud)++;
}

static void count_pattern(void *ud, const char *pattern)
{
    (void)pattern;
    (*(int *)ud)++; /* as one: a pattern matching several topics keeps the shared 64 MB */
}

/* Returns whether some sub-topology reads several topics or patterns (a join, a merge): its
 * tasks' partitions are read from queues of their own (see the setting's reason). */
static bool has_grouped_tasks(const thread_ctx_t *ctx)
{
    const char *app_id = ctx->env.application_id;
    for (int st = 0; st < rill__topology_subtopology_count(ctx->topo); st++) {
        int n = 0;
        rill__topology_source_topics(ctx->topo, st, app_id, count_source, &n);
        rill__topology_source_patterns(ctx->topo, st, count_pattern, &n);
        if (n > 1)
            return true;
    }
    return false;
}

static bool applies(const setting_t *s, const thread_ctx_t *ctx, client_kind_t kind)
{
    if (!(s->clients & (1 << kind)))
        return false;
    return s->when == ALWAYS || (s->when == EOS_ONLY && ctx->eos) ||
           (s->when == EMBEDDED_ONLY && ctx->embedded) ||
           (s->when == JOINS_ONLY && has_grouped_tasks(ctx)) ||
           (s->when == METRICS_ONLY && RILL_CONF_STR(ctx->conf, METRICS_LISTEN)[0]);
}

static int apply(rd_kafka_conf_t *kconf, const thread_ctx_t *ctx, client_kind_t kind, bool forced,
                 char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        const setting_t *s = &settings[i];
        if (s->forced != forced || !applies(s, ctx, kind))
            continue;
        if (strcmp(s->key, "metadata.broker.list") == 0)
            continue; /* documented as reserved; bootstrap.servers sets it */
        char buf[400], kerr[256];
        const char *v = s->value ? s->value : dynamic_value(ctx, kind, s->key, buf, sizeof buf);
        if (v && rd_kafka_conf_set(kconf, s->key, v, kerr, sizeof kerr) != RD_KAFKA_CONF_OK) {
            snprintf(errstr, errstr_size, "%s=%s: %s", s->key, v, kerr);
            return RILL_ECONFIG;
        }
    }
    return 0;
}

rd_kafka_t *rill__client_new(const thread_ctx_t *ctx, client_kind_t kind,
                             const client_callbacks_t *cb, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *kconf = rd_kafka_conf_new();
    char kerr[512];
    if (apply(kconf, ctx, kind, false, errstr, errstr_size) ||
        rill__conf_apply(ctx->conf, kconf,
                         kind == CLIENT_PRODUCER ? SCOPE_PRODUCER : SCOPE_CONSUMER, errstr,
                         errstr_size) ||
        apply(kconf, ctx, kind, true, errstr, errstr_size)) {
        rd_kafka_conf_destroy(kconf);
        return NULL;
    }
    rd_kafka_conf_set_opaque(kconf, cb ? cb->opaque : NULL);
    rd_kafka_conf_set_log_cb(kconf, rill__kafka_log_cb);
    if (cb && cb->rebalance)
        rd_kafka_conf_set_rebalance_cb(kconf, cb->rebalance);
    if (cb && cb->offset_commit)
        rd_kafka_conf_set_offset_commit_cb(kconf, cb->offset_commit);
    if (cb && cb->delivery)
        rd_kafka_conf_set_dr_msg_cb(kconf, cb->delivery);
    if (cb && cb->stats)
        rd_kafka_conf_set_stats_cb(kconf, cb->stats);
    rd_kafka_t *rk = rd_kafka_new(kind == CLIENT_PRODUCER ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER,
                                  kconf, kerr, sizeof kerr);
    if (!rk) {
        snprintf(errstr, errstr_size, "%s", kerr);
        rd_kafka_conf_destroy(kconf);
    }
    return rk;
}

bool rill__client_reserved(const char *key, const char **why)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (settings[i].forced && settings[i].when == ALWAYS && strcmp(settings[i].key, key) == 0) {
            if (why)
                *why = settings[i].reason;
            return true;
        }
    return false;
}

void rill__client_settings(void (*fn)(void *ud, const char *clients, const char *key,
                                      const char *value, bool forced, const char *reason),
                           void *ud)
{
    static const char *const names[] = {"consumer",
                                        "producer",
                                        "consumer, producer",
                                        "restore consumer",
                                        "consumer, restore consumer",
                                        "producer, restore consumer",
                                        "all"};
    for (size_t i = 0; i < NSETTINGS; i++) {
        const setting_t *s = &settings[i];
        char reason[600];
        snprintf(reason, sizeof reason, "%s%s",
                 s->when == EOS_ONLY        ? "(exactly-once) "
                 : s->when == EMBEDDED_ONLY ? "(embedded cluster) "
                 : s->when == JOINS_ONLY
                     ? "(apps with a sub-topology of several sources: joins, merges) "
                     : "",
                 s->reason);
        fn(ud, names[s->clients - 1], s->key, s->value ? s->value : "(computed)", s->forced,
           reason);
    }
}
