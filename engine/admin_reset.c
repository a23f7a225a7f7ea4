/*
 * Resetting an application, as Kafka's kafka-streams-application-reset does (StreamsResetter in
 * apache/kafka tools, read for its behaviour): refuse while the group has live members, move the
 * group's offsets of the input topics, delete the app's internal topics (changelogs,
 * repartition topics and a foreign-key join's topics, recognised by internal_topics.c), and
 * wipe the local state (Kafka's tool leaves that to KafkaStreams#cleanUp(); here --state-dir).
 * A plan is made first and changes nothing, so --dry-run is the plan alone. The offsets are
 * committed with AlterConsumerGroupOffsets, which a broker refuses for a group that has members:
 * a member that joins between plan and execution makes the reset fail, not half-apply.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS */
#include "admin_int.h"
#include "internal_topics.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char *topic;
    int32_t partition;
    int64_t from; /* the committed offset, -1 when none */
    int64_t to;
} reset_offset_t;

struct rill_reset_plan {
    char *application_id;
    char *target; /* the mode in words */
    reset_offset_t *offsets;
    size_t offset_count;
    char **internal;
    size_t internal_count;
    char **missing; /* input topics the cluster does not have: skipped */
    size_t missing_count;
    char **kept; /* named as A's internal topics, but another group's ("<kept> (<group>)") */
    size_t kept_count;
    char *state_path; /* <state dir>/<application id>, NULL when not wiped */
};

void rill_reset_plan_destroy(rill_reset_plan_t *plan)
{
    if (!plan)
        return;
    for (size_t i = 0; i < plan->offset_count; i++)
        rill_free(plan->offsets[i].topic);
    rill_free(plan->offsets);
    rill__admin_names_free(plan->internal, plan->internal_count);
    rill__admin_names_free(plan->missing, plan->missing_count);
    rill__admin_names_free(plan->kept, plan->kept_count);
    rill_free(plan->application_id);
    rill_free(plan->target);
    rill_free(plan->state_path);
    rill_free(plan);
}

static int add_offset(rill_reset_plan_t *plan, const char *topic, int32_t partition, int64_t to)
{
    reset_offset_t *o =
        rill_realloc(plan->offsets, (plan->offset_count + 1) * sizeof *plan->offsets);
    if (!o)
        return RILL_ENOMEM;
    plan->offsets = o;
    o += plan->offset_count;
    *o = (reset_offset_t){rill_strdup(topic), partition, -1, to};
    if (!o->topic)
        return RILL_ENOMEM;
    plan->offset_count++;
    return 0;
}

static int add_name(char ***names, size_t *count, const char *name)
{
    char **n = rill_realloc(*names, (*count + 1) * sizeof **names);
    if (!n)
        return RILL_ENOMEM;
    *names = n;
    if (!(n[*count] = rill_strdup(name)))
        return RILL_ENOMEM;
    ++*count;
    return 0;
}

/* Reads "topic,partition,offset" lines of path (blank lines and # comments skipped) into the
 * plan; a partition the cluster does not have fails the plan when its offsets are read. */
static int read_offsets_file(rill_reset_plan_t *plan, const rill_reset_options_t *o, char *errstr,
                             size_t errstr_size)
{
    FILE *f = fopen(o->file, "r");
    if (!f)
        return rill__admin_fail(RILL_EIO, errstr, errstr_size, "cannot open '%s': %s", o->file,
                                strerror(errno));
    char line[1024], topic[512];
    int rc = 0;
    for (int no = 1; !rc && fgets(line, sizeof line, f); no++) {
        int32_t partition;
        long long offset;
        char *p = line + strspn(line, " \t");
        if (*p == '#' || *p == '\n' || !*p)
            continue;
        char *c1 = strchr(p, ',');
        if (!c1 || (size_t)(c1 - p) >= sizeof topic ||
            sscanf(c1 + 1, "%d,%lld", &partition, &offset) != 2 || partition < 0 || offset < 0) {
            rc = rill__admin_fail(RILL_EINVAL, errstr, errstr_size,
                                  "%s line %d: expected topic,partition,offset", o->file, no);
            break;
        }
        memcpy(topic, p, (size_t)(c1 - p));
        topic[c1 - p] = 0;
        rc = add_offset(plan, topic, partition, offset);
    }
    fclose(f);
    return rc;
}

/* Sets each planned offset's target as the mode says, and its current committed offset. */
static int resolve_targets(rill_admin_t *admin, rill_reset_plan_t *plan,
                           const rill_reset_options_t *o, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *times = NULL;
    int rc = 0;
    if (o->mode == RILL_RESET_TO_TIME) {
        times = rd_kafka_topic_partition_list_new((int)plan->offset_count + 1);
        for (size_t i = 0; i < plan->offset_count; i++)
            rd_kafka_topic_partition_list_add(times, plan->offsets[i].topic,
                                              plan->offsets[i].partition)
                ->offset = o->timestamp_ms;
        rc = rill__admin_offsets_for_times(admin, times, errstr, errstr_size);
    }
    for (size_t i = 0; !rc && i < plan->offset_count; i++) {
        reset_offset_t *r = &plan->offsets[i];
        int64_t lo, hi;
        if ((rc = rill__admin_watermarks(admin, r->topic, r->partition, &lo, &hi, errstr,
                                         errstr_size)))
            break;
        if (o->mode == RILL_RESET_TO_EARLIEST)
            r->to = lo;
        else if (o->mode == RILL_RESET_TO_TIME)
            r->to = times->elems[i].offset;
        else if (o->mode == RILL_RESET_TO_OFFSET)
            r->to = o->offset;
        /* An offset outside the partition is moved inside it, as Kafka's tool does. */
        r->to = r->to < lo ? lo : r->to > hi ? hi : r->to;
    }
    if (times)
        rd_kafka_topic_partition_list_destroy(times);
    if (rc)
        return rc;
    rd_kafka_topic_partition_list_t *committed =
        rill__admin_committed(admin, plan->application_id, errstr, errstr_size);
    if (!committed)
        return RILL_EKAFKA;
    for (size_t i = 0; i < plan->offset_count; i++) {
        rd_kafka_topic_partition_t *c = rd_kafka_topic_partition_list_find(
            committed, plan->offsets[i].topic, plan->offsets[i].partition);
        plan->offsets[i].from = c && c->offset >= 0 ? c->offset : -1;
    }
    rd_kafka_topic_partition_list_destroy(committed);
    return 0;
}

/* Checks that no local instance holds the app's state folder (its .lock), if it exists. */
static int check_state_dir(const char *path, char *errstr, size_t errstr_size)
{
    char lock[1100];
    snprintf(lock, sizeof lock, "%s/.lock", path);
    int fd = open(lock, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int rc = 0;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        rc = rill__admin_fail(RILL_EBUSY, errstr, errstr_size,
                              "the state folder %s is in use by a running instance (its .lock is "
                              "held): stop it first",
                              path);
    close(fd);
    return rc;
}

/* Returns the group of groups, other than app, whose internal topic topic is ("orders-v2" for
 * "orders-v2-counts-changelog" when app is "orders"), or NULL. */
static const char *other_owner(const char *app, const char *topic, char **groups, size_t count)
{
    size_t len = strlen(app);
    for (size_t i = 0; i < count; i++)
        if (strncmp(groups[i], app, len) == 0 && groups[i][len] == '-' &&
            (rill__topic_kind(groups[i], topic) != RILL_TOPIC_USER ||
             rill__is_retry_topic(groups[i], topic)))
            return groups[i];
    return NULL;
}

/* Adds to the plan the topics named as the app's internal topics, but for those that are, by
 * name, the internal topics of another group whose id extends the app's. */
static int find_internal_topics(rill_admin_t *admin, rill_reset_plan_t *plan, char *errstr,
                                size_t errstr_size)
{
    char **topics = NULL, **groups = NULL;
    size_t topic_count = 0, group_count = 0;
    int rc = rill__admin_topics(admin, &topics, &topic_count, errstr, errstr_size);
    if (!rc)
        rc = rill__admin_groups(admin, &groups, &group_count, errstr, errstr_size);
    for (size_t i = 0; !rc && i < topic_count; i++) {
        /* The retry topics too: records waiting there would be processed on top of the
         * reprocessed originals. */
        if (rill__topic_kind(plan->application_id, topics[i]) == RILL_TOPIC_USER &&
            !rill__is_retry_topic(plan->application_id, topics[i]))
            continue;
        const char *owner = other_owner(plan->application_id, topics[i], groups, group_count);
        char kept[600];
        snprintf(kept, sizeof kept, "%s (group '%s')", topics[i], owner ? owner : "");
        rc = owner ? add_name(&plan->kept, &plan->kept_count, kept)
                   : add_name(&plan->internal, &plan->internal_count, topics[i]);
        if (rc)
            rill__admin_fail(rc, errstr, errstr_size, "out of memory");
    }
    rill__admin_names_free(topics, topic_count);
    rill__admin_names_free(groups, group_count);
    return rc;
}

rill_reset_plan_t *rill_reset_plan_new(rill_admin_t *admin, const rill_reset_options_t *o, int *err,
                                       char *errstr, size_t errstr_size)
{
    int dummy;
    err = err ? err : &dummy;
    *err = RILL_EINVAL;
    if (!admin || !o || !o->application_id || !*o->application_id ||
        (o->mode != RILL_RESET_FROM_FILE && !o->input_topic_count) ||
        (o->mode == RILL_RESET_FROM_FILE && !o->file)) {
        rill__admin_fail(RILL_EINVAL, errstr, errstr_size,
                         "a reset needs an application id and its input topics (or a file)");
        return NULL;
    }
    rill_reset_plan_t *plan = rill_calloc(1, sizeof *plan);
    char target[600], who[1024];
    if (o->mode == RILL_RESET_TO_EARLIEST)
        snprintf(target, sizeof target, "to the earliest offsets");
    else if (o->mode == RILL_RESET_TO_TIME) {
        time_t secs = (time_t)(o->timestamp_ms / 1000);
        struct tm tm;
        char when[64];
        gmtime_r(&secs, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(target, sizeof target, "to the first records at or after %s.%03dZ", when,
                 (int)(o->timestamp_ms % 1000));
    } else if (o->mode == RILL_RESET_TO_OFFSET)
        snprintf(target, sizeof target, "to offset %lld", (long long)o->offset);
    else
        snprintf(target, sizeof target, "to the offsets of %s", o->file);
    if (!plan || !(plan->application_id = rill_strdup(o->application_id)) ||
        !(plan->target = rill_strdup(target))) {
        *err = rill__admin_fail(RILL_ENOMEM, errstr, errstr_size, "out of memory");
        goto fail;
    }
    int members =
        rill__admin_live_members(admin, o->application_id, who, sizeof who, errstr, errstr_size);
    if (members < 0) {
        *err = members;
        goto fail;
    }
    if (members > 0) {
        *err = rill__admin_fail(RILL_EBUSY, errstr, errstr_size,
                                "group '%s' has %d live member%s (%s): stop every instance of "
                                "the application first",
                                o->application_id, members, members == 1 ? "" : "s", who);
        goto fail;
    }
    if (o->state_dir && *o->state_dir) {
        size_t len = strlen(o->state_dir) + strlen(o->application_id) + 2;
        if (!(plan->state_path = rill_malloc(len))) {
            *err = rill__admin_fail(RILL_ENOMEM, errstr, errstr_size, "out of memory");
            goto fail;
        }
        snprintf(plan->state_path, len, "%s/%s", o->state_dir, o->application_id);
        if ((*err = check_state_dir(plan->state_path, errstr, errstr_size)))
            goto fail;
    }
    int rc = find_internal_topics(admin, plan, errstr, errstr_size);
    if (o->mode == RILL_RESET_FROM_FILE) {
        if (!rc)
            rc = read_offsets_file(plan, o, errstr, errstr_size);
    } else {
        for (size_t t = 0; !rc && t < o->input_topic_count; t++) {
            int n = rill__admin_partitions(admin, o->input_topics[t], errstr, errstr_size);
            if (n < 0)
                rc = n;
            else if (n == 0)
                rc = add_name(&plan->missing, &plan->missing_count, o->input_topics[t]);
            for (int p = 0; !rc && p < n; p++)
                rc = add_offset(plan, o->input_topics[t], p, 0);
        }
    }
    if (!rc)
        rc = resolve_targets(admin, plan, o, errstr, errstr_size);
    if (rc) {
        if (rc == RILL_ENOMEM)
            rill__admin_fail(rc, errstr, errstr_size, "out of memory");
        *err = rc;
        goto fail;
    }
    *err = 0;
    return plan;
fail:
    rill_reset_plan_destroy(plan);
    return NULL;
}

void rill_reset_plan_counts(const rill_reset_plan_t *plan, size_t *partitions, size_t *topics,
                            size_t *state_dirs)
{
    if (partitions)
        *partitions = plan ? plan->offset_count : 0;
    if (topics)
        *topics = plan ? plan->internal_count : 0;
    if (state_dirs)
        *state_dirs = plan && plan->state_path ? 1 : 0;
}

char *rill_reset_plan_text(const rill_reset_plan_t *plan)
{
    if (!plan)
        return NULL;
    rill__admin_text_t t = {0};
    rill__admin_putf(&t, "Reset of application '%s' (consumer group '%s'):\n", plan->application_id,
                     plan->application_id);
    rill__admin_putf(&t, "  input offsets, %s (%zu partitions):\n", plan->target,
                     plan->offset_count);
    for (size_t i = 0; i < plan->offset_count; i++) {
        const reset_offset_t *r = &plan->offsets[i];
        char from[32];
        if (r->from < 0)
            snprintf(from, sizeof from, "(none)");
        else
            snprintf(from, sizeof from, "%lld", (long long)r->from);
        rill__admin_putf(&t, "    %s-%d: %s -> %lld\n", r->topic, r->partition, from,
                         (long long)r->to);
    }
    for (size_t i = 0; i < plan->missing_count; i++)
        rill__admin_putf(&t, "    %s: no such topic, skipped\n", plan->missing[i]);
    rill__admin_putf(&t, "  internal topics to delete (%zu):\n", plan->internal_count);
    for (size_t i = 0; i < plan->internal_count; i++)
        rill__admin_putf(&t, "    %s\n", plan->internal[i]);
    for (size_t i = 0; i < plan->kept_count; i++)
        rill__admin_putf(&t, "  kept, another application's: %s\n", plan->kept[i]);
    if (plan->state_path)
        rill__admin_putf(&t, "  local state to wipe: %s\n", plan->state_path);
    else
        rill__admin_putf(&t, "  local state: kept (no --state-dir)\n");
    if (t.oom) {
        rill_free(t.text);
        return NULL;
    }
    return t.text;
}

static int commit_offsets(rill_admin_t *admin, const rill_reset_plan_t *plan, char *errstr,
                          size_t errstr_size)
{
    if (!plan->offset_count)
        return 0;
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new((int)plan->offset_count);
    for (size_t i = 0; i < plan->offset_count; i++)
        rd_kafka_topic_partition_list_add(list, plan->offsets[i].topic, plan->offsets[i].partition)
            ->offset = plan->offsets[i].to;
    rd_kafka_AlterConsumerGroupOffsets_t *req =
        rd_kafka_AlterConsumerGroupOffsets_new(plan->application_id, list);
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(admin->rk, RD_KAFKA_ADMIN_OP_ANY);
    rd_kafka_queue_t *q = rd_kafka_queue_new(admin->rk);
    rd_kafka_AlterConsumerGroupOffsets(admin->rk, &req, 1, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, admin->timeout_ms + 5000);
    int rc = 0;
    const char *why = NULL;
    if (!ev) {
        why = "no answer";
    } else if (rd_kafka_event_error(ev)) {
        why = rd_kafka_event_error_string(ev);
    } else {
        size_t n;
        const rd_kafka_group_result_t **g = rd_kafka_AlterConsumerGroupOffsets_result_groups(
            rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &n);
        const rd_kafka_error_t *e = n == 1 ? rd_kafka_group_result_error(g[0]) : NULL;
        if (n != 1)
            why = "no answer";
        else if (e)
            why = rd_kafka_error_string(e);
        const rd_kafka_topic_partition_list_t *res =
            n == 1 ? rd_kafka_group_result_partitions(g[0]) : NULL;
        for (int i = 0; !why && res && i < res->cnt; i++)
            if (res->elems[i].err)
                why = rd_kafka_err2str(res->elems[i].err);
    }
    if (why)
        rc = rill__admin_fail(RILL_EKAFKA, errstr, errstr_size,
                              "cannot commit the new offsets of group '%s': %s (a member that "
                              "joined since the plan makes the cluster refuse them)",
                              plan->application_id, why);
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_AlterConsumerGroupOffsets_destroy(req);
    return rc;
}

/* Deletes the plan's internal topics, then waits (60 s at most) until the metadata no longer
 * lists them: the app's next start creates them again, which a topic still being deleted
 * refuses. */
static int delete_topics(rill_admin_t *admin, const rill_reset_plan_t *plan,
                         rill_admin_progress_cb progress, void *ud, int64_t base, int64_t total,
                         char *errstr, size_t errstr_size)
{
    if (!plan->internal_count)
        return 0;
    rd_kafka_DeleteTopic_t **dt = rill_calloc(plan->internal_count, sizeof *dt);
    if (!dt)
        return rill__admin_fail(RILL_ENOMEM, errstr, errstr_size, "out of memory");
    for (size_t i = 0; i < plan->internal_count; i++)
        dt[i] = rd_kafka_DeleteTopic_new(plan->internal[i]);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(admin->rk, RD_KAFKA_ADMIN_OP_ANY);
    rd_kafka_queue_t *q = rd_kafka_queue_new(admin->rk);
    rd_kafka_DeleteTopics(admin->rk, dt, plan->internal_count, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, admin->timeout_ms + 5000);
    int rc = 0;
    if (!ev || rd_kafka_event_error(ev)) {
        rc = rill__admin_fail(RILL_EKAFKA, errstr, errstr_size,
                              "cannot delete the internal topics: %s",
                              ev ? rd_kafka_event_error_string(ev) : "no answer");
    } else {
        size_t n;
        const rd_kafka_topic_result_t **res =
            rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
        for (size_t i = 0; !rc && i < n; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
            if (e && e != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                rc = rill__admin_fail(
                    RILL_EKAFKA, errstr, errstr_size, "cannot delete topic '%s': %s",
                    rd_kafka_topic_result_name(res[i]), rd_kafka_topic_result_error_string(res[i]));
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_DeleteTopic_destroy_array(dt, plan->internal_count);
    rill_free(dt);
    for (int tries = 0; !rc; tries++) {
        char **names;
        size_t count, left = 0;
        if ((rc = rill__admin_topics(admin, &names, &count, errstr, errstr_size)))
            break;
        for (size_t i = 0; i < plan->internal_count; i++)
            for (size_t j = 0; j < count; j++)
                left += strcmp(plan->internal[i], names[j]) == 0;
        rill__admin_names_free(names, count);
        if (progress)
            progress(ud, base + (int64_t)(plan->internal_count - left), total);
        if (!left)
            break;
        if (tries == 120)
            rc = rill__admin_fail(RILL_ETIMEDOUT, errstr, errstr_size,
                                  "%zu internal topics still listed 60 s after their deletion",
                                  left);
        usleep(500 * 1000);
    }
    return rc;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

int rill_reset_execute(rill_admin_t *admin, const rill_reset_plan_t *plan,
                       rill_admin_progress_cb progress, void *ud, char *errstr, size_t errstr_size)
{
    if (!admin || !plan)
        return rill__admin_fail(RILL_EINVAL, errstr, errstr_size, "no plan");
    int64_t total = (int64_t)(plan->offset_count + plan->internal_count) + 1;
    if (progress)
        progress(ud, 0, total);
    int rc = commit_offsets(admin, plan, errstr, errstr_size);
    if (rc)
        return rc;
    if (progress)
        progress(ud, (int64_t)plan->offset_count, total);
    rc = delete_topics(admin, plan, progress, ud, (int64_t)plan->offset_count, total, errstr,
                       errstr_size);
    if (rc)
        return rc;
    if (plan->state_path) {
        if ((rc = check_state_dir(plan->state_path, errstr, errstr_size)))
            return rc;
        struct stat st;
        if (stat(plan->state_path, &st) == 0 &&
            nftw(plan->state_path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
            return rill__admin_fail(RILL_EIO, errstr, errstr_size, "cannot wipe %s: %s",
                                    plan->state_path, strerror(errno));
    }
    if (progress)
        progress(ud, total, total);
    return 0;
}
