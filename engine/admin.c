/*
 * The admin tools' client and the cluster requests they share: metadata, watermarks, offsets
 * for times, a group's committed offsets and live members, reading ranges of partitions, and an
 * idempotent producer. librdkafka 2.0.2 has DescribeConsumerGroups, ListConsumerGroupOffsets,
 * AlterConsumerGroupOffsets and DeleteTopics but no ListOffsets admin call, so offsets for
 * times go through rd_kafka_offsets_for_times on the client's handle. Its errors are put in
 * words here and in the other admin files, the only ones that call librdkafka for the tools.
 */
#include "admin_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int rill__admin_fail(int err, char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (errstr && errstr_size)
        vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
    return err;
}

rill_admin_t *rill_admin_new(const char *bootstrap, char *errstr, size_t errstr_size)
{
    if (!bootstrap || !*bootstrap) {
        rill__admin_fail(RILL_EINVAL, errstr, errstr_size, "no bootstrap servers given");
        return NULL;
    }
    rill_admin_t *admin = rill_calloc(1, sizeof *admin);
    char kerr[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    if (!admin || !(admin->bootstrap = rill_strdup(bootstrap)) || !kc) {
        rill__admin_fail(RILL_ENOMEM, errstr, errstr_size, "out of memory");
        goto fail;
    }
    admin->timeout_ms = 15000;
    /* librdkafka's own lines (a refused connection, brokers down) stay quiet: each failure
     * comes back from the call that met it, in words. */
    if (rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, kerr, sizeof kerr) ||
        rd_kafka_conf_set(kc, "log_level", "2", kerr, sizeof kerr)) {
        rill__admin_fail(RILL_ECONFIG, errstr, errstr_size, "bootstrap servers '%s': %s", bootstrap,
                         kerr);
        goto fail;
    }
    if (!(admin->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, kerr, sizeof kerr))) {
        rill__admin_fail(RILL_EKAFKA, errstr, errstr_size, "cannot make a Kafka client: %s", kerr);
        goto fail;
    }
    return admin;
fail:
    if (kc)
        rd_kafka_conf_destroy(kc);
    rill_admin_destroy(admin);
    return NULL;
}

void rill_admin_destroy(rill_admin_t *admin)
{
    if (!admin)
        return;
    if (admin->rk)
        rd_kafka_destroy(admin->rk);
    rill_free(admin->bootstrap);
    rill_free(admin);
}

/* ---- parsing ---- */

/* Reads n digits at *p into *v; false when they are not there. */
static bool digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (!isdigit((unsigned char)**p))
            return false;
        *v = *v * 10 + (**p - '0');
    }
    return true;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int rill_admin_parse_datetime(const char *text, int64_t *ms)
{
    if (!text || !ms || !*text)
        return RILL_EINVAL;
    char *end;
    long long epoch = strtoll(text, &end, 10);
    if (!*end && epoch >= 0) {
        *ms = epoch;
        return 0;
    }
    const char *p = text;
    int y, mo, d, h = 0, mi = 0, s = 0, frac = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return RILL_EINVAL;
    if (*p == 'T') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
            return RILL_EINVAL;
        if (*p == ':' && (p++, !digits(&p, 2, &s)))
            return RILL_EINVAL;
        if (*p == '.') {
            p++;
            int scale = 100;
            if (!isdigit((unsigned char)*p))
                return RILL_EINVAL;
            for (; isdigit((unsigned char)*p); p++, scale /= 10)
                frac += (*p - '0') * scale;
        }
    }
    int64_t zone_min = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, zh, zm = 0;
        if (!digits(&p, 2, &zh))
            return RILL_EINVAL;
        if (*p == ':')
            p++;
        if (*p && !digits(&p, 2, &zm))
            return RILL_EINVAL;
        zone_min = sign * (zh * 60 + zm);
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return RILL_EINVAL;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - zone_min * 60;
    *ms = secs * 1000 + frac;
    return 0;
}

int rill_admin_parse_duration(const char *text, int64_t *ms)
{
    if (!text || !ms || *text != 'P' || !text[1])
        return RILL_EINVAL;
    const char *p = text + 1;
    bool in_time = false, any = false;
    double total = 0;
    while (*p) {
        if (*p == 'T') {
            if (in_time || !p[1])
                return RILL_EINVAL;
            in_time = true;
            p++;
            continue;
        }
        char *end;
        double v = strtod(p, &end);
        if (end == p || v < 0)
            return RILL_EINVAL;
        double unit;
        switch (*end) {
        case 'D':
            unit = in_time ? -1 : 86400e3;
            break;
        case 'H':
            unit = in_time ? 3600e3 : -1;
            break;
        case 'M':
            unit = in_time ? 60e3 : -1;
            break;
        case 'S':
            unit = in_time ? 1e3 : -1;
            break;
        default:
            unit = -1;
        }
        if (unit < 0)
            return RILL_EINVAL;
        total += v * unit;
        any = true;
        p = end + 1;
    }
    if (!any)
        return RILL_EINVAL;
    *ms = (int64_t)(total + 0.5);
    return 0;
}

/* ---- cluster requests ---- */

static int metadata(rill_admin_t *admin, const rd_kafka_metadata_t **md, char *errstr,
                    size_t errstr_size)
{
    rd_kafka_resp_err_t err = rd_kafka_metadata(admin->rk, 1, NULL, md, admin->timeout_ms);
    if (err)
        return rill__admin_fail(RILL_EKAFKA, errstr, errstr_size,
                                "cannot read the cluster's metadata at %s: %s", admin->bootstrap,
                                rd_kafka_err2str(err));
    return 0;
}

int rill__admin_partitions(rill_admin_t *admin, const char *topic, char *errstr, size_t errstr_size)
{
    const rd_kafka_metadata_t *md;
    int rc = metadata(admin, &md, errstr, errstr_size);
    if (rc)
        return rc;
    int n = 0;
    for (int t = 0; t < md->topic_cnt; t++)
        if (strcmp(md->topics[t].topic, topic) == 0 && !md->topics[t].err)
            n = md->topics[t].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return n;
}

void rill__admin_names_free(char **names, size_t count)
{
    for (size_t i = 0; names && i < count; i++)
        rill_free(names[i]);
    rill_free(names);
}

int rill__admin_topics(rill_admin_t *admin, char ***names, size_t *count, char *errstr,
                       size_t errstr_size)
{
    const rd_kafka_metadata_t *md;
    int rc = metadata(admin, &md, errstr, errstr_size);
    if (rc)
        return rc;
    *count = 0;
    *names = rill_calloc((size_t)md->topic_cnt + 1, sizeof **names);
    for (int t = 0; *names && t < md->topic_cnt; t++) {
        if (!((*names)[*count] = rill_strdup(md->topics[t].topic))) {
            rill__admin_names_free(*names, *count);
            *names = NULL;
            break;
        }
        ++*count;
    }
    rd_kafka_metadata_destroy(md);
    return *names ? 0 : rill__admin_fail(RILL_ENOMEM, errstr, errstr_size, "out of memory");
}

int rill__admin_watermarks(rill_admin_t *admin, const char *topic, int32_t partition, int64_t *lo,
                           int64_t *hi, char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(admin->rk, topic, partition, lo, hi, admin->timeout_ms);
    if (err)
        return rill__admin_fail(RILL_EKAFKA, errstr, errstr_size,
                                "cannot read the offsets of %s-%d: %s", topic, partition,
                                rd_kafka_err2str(err));
    return 0;
}

int rill__admin_offsets_for_times(rill_admin_t *admin, rd_kafka_topic_partition_list_t *list,
                                  char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(admin->rk, list, admin->timeout_ms);
    for (int i = 0; !err && i < list->cnt; i++)
        err = list->elems[i].err;
    if (err)
        return rill__admin_fail(RILL_EKAFKA, errstr, errstr_size,
                                "cannot find the offsets for a time: %s", rd_kafka_err2str(err));
    /* No record at or after the time: the partition's end, as Kafka's reset tool does. */
    for (int i = 0; i < list->cnt; i++)
        if (list->elems[i].offset < 0) {
            int64_t lo, hi;
            int rc = rill__admin_watermarks(admin, list->elems[i].topic, list->elems[i].partition,
                                            &lo, &hi, errstr, errstr_size);
            if (rc)
                return rc;
            list->elems[i].offset = hi;
        }
    return 0;
}

/* Waits for the result of an admin request on q; NULL with why when none came. */
static rd_kafka_event_t *admin_result(rill_admin_t *admin, rd_kafka_queue_t *q, const char *what,
                                      char *errstr, size_t errstr_size)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, admin->timeout_ms + 5000);
    if (!ev) {
        rill__admin_fail(RILL_ETIMEDOUT, errstr, errstr_size, "%s: no answer from %s", what,
                         admin->bootstrap);
        return NULL;
    }
    if (rd_kafka_event_error(ev)) {
        rill__admin_fail(RILL_EKAFKA, errstr, errstr_size, "%s: %s", what,
                         rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

static rd_kafka_AdminOptions_t *admin_options(rill_admin_t *admin)
{
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(admin->rk, RD_KAFKA_ADMIN_OP_ANY);
    char kerr[128];
    if (o)
        rd_kafka_AdminOptions_set_request_timeout(o, admin->timeout_ms, kerr, sizeof kerr);
    return o;
}

rd_kafka_topic_partition_list_t *rill__admin_committed(rill_admin_t *admin, const char *group,
                                                       char *errstr, size_t errstr_size)
{
    char what[300];
    snprintf(what, sizeof what, "reading the committed offsets of group '%s'", group);
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, NULL);
    rd_kafka_AdminOptions_t *o = admin_options(admin);
    rd_kafka_queue_t *q = rd_kafka_queue_new(admin->rk);
    rd_kafka_ListConsumerGroupOffsets(admin->rk, &req, 1, o, q);
    rd_kafka_event_t *ev = admin_result(admin, q, what, errstr, errstr_size);
    rd_kafka_topic_partition_list_t *out = NULL;
    if (ev) {
        size_t n;
        const rd_kafka_group_result_t **g = rd_kafka_ListConsumerGroupOffsets_result_groups(
            rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
        const rd_kafka_error_t *e = n == 1 ? rd_kafka_group_result_error(g[0]) : NULL;
        if (n != 1)
            rill__admin_fail(RILL_EKAFKA, errstr, errstr_size, "%s: no answer", what);
        else if (e)
            rill__admin_fail(RILL_EKAFKA, errstr, errstr_size, "%s: %s", what,
                             rd_kafka_error_string(e));
        else
            out = rd_kafka_topic_partition_list_copy(rd_kafka_group_result_partitions(g[0]));
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    return out;
}

int rill__admin_live_members(rill_admin_t *admin, const char *group, char *who, size_t who_size,
                             char *errstr, size_t errstr_size)
{
    char what[300];
    snprintf(what, sizeof what, "asking for the members of group '%s'", group);
    /* librdkafka's mock cluster (the embedded one) does not answer DescribeGroups, and in
     * 2.0.2 the client's destroy then hangs: its cluster id ("mockCluster<hex>") says so
     * before anything is asked. */
    char *id = rd_kafka_clusterid(admin->rk, admin->timeout_ms);
    bool mock = id && strncmp(id, "mockCluster", 11) == 0;
    if (id)
        rd_kafka_mem_free(admin->rk, id);
    if (mock)
        return rill__admin_fail(RILL_EKAFKA, errstr, errstr_size,
                                "%s: the embedded cluster cannot tell (it does not answer "
                                "DescribeGroups); run this against a real cluster",
                                what);
    rd_kafka_AdminOptions_t *o = admin_options(admin);
    rd_kafka_queue_t *q = rd_kafka_queue_new(admin->rk);
    const char *groups[1] = {group};
    rd_kafka_DescribeConsumerGroups(admin->rk, groups, 1, o, q);
    rd_kafka_event_t *ev = admin_result(admin, q, what, errstr, errstr_size);
    int rc = ev ? 0 : RILL_EKAFKA;
    who[0] = 0;
    if (ev) {
        size_t n;
        const rd_kafka_ConsumerGroupDescription_t **g =
            rd_kafka_DescribeConsumerGroups_result_groups(
                rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
        const rd_kafka_error_t *e = n == 1 ? rd_kafka_ConsumerGroupDescription_error(g[0]) : NULL;
        if (n != 1 || e) {
            rc = rill__admin_fail(RILL_EKAFKA, errstr, errstr_size, "%s: %s", what,
                                  e ? rd_kafka_error_string(e) : "no answer");
        } else {
            rd_kafka_consumer_group_state_t st = rd_kafka_ConsumerGroupDescription_state(g[0]);
            size_t members = rd_kafka_ConsumerGroupDescription_member_count(g[0]);
            if (st == RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY ||
                st == RD_KAFKA_CONSUMER_GROUP_STATE_DEAD)
                members = 0;
            size_t len = 0;
            for (size_t i = 0; i < members && len < who_size; i++) {
                const rd_kafka_MemberDescription_t *m =
                    rd_kafka_ConsumerGroupDescription_member(g[0], i);
                int w = snprintf(who + len, who_size - len, "%s%s on %s", i ? ", " : "",
                                 rd_kafka_MemberDescription_client_id(m),
                                 rd_kafka_MemberDescription_host(m));
                len += w > 0 ? (size_t)w : 0;
            }
            rc = (int)members;
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(o);
    return rc;
}

int rill__admin_groups(rill_admin_t *admin, char ***names, size_t *count, char *errstr,
                       size_t errstr_size)
{
    rd_kafka_AdminOptions_t *o = admin_options(admin);
    rd_kafka_queue_t *q = rd_kafka_queue_new(admin->rk);
    rd_kafka_ListConsumerGroups(admin->rk, o, q);
    rd_kafka_event_t *ev =
        admin_result(admin, q, "listing the consumer groups", errstr, errstr_size);
    int rc = ev ? 0 : RILL_EKAFKA;
    *names = NULL;
    *count = 0;
    if (ev) {
        size_t n;
        const rd_kafka_ConsumerGroupListing_t **g = rd_kafka_ListConsumerGroups_result_valid(
            rd_kafka_event_ListConsumerGroups_result(ev), &n);
        *names = rill_calloc(n + 1, sizeof **names);
        for (size_t i = 0; *names && i < n; i++) {
            if (!((*names)[i] = rill_strdup(rd_kafka_ConsumerGroupListing_group_id(g[i]))))
                break;
            ++*count;
        }
        if (!*names || *count < n) {
            rill__admin_names_free(*names, *count);
            *names = NULL;
            *count = 0;
            rc = rill__admin_fail(RILL_ENOMEM, errstr, errstr_size, "out of memory");
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(o);
    return rc;
}

/* ---- reading ranges ---- */

int rill__admin_read_ranges(rill_admin_t *admin, const rill__admin_range_t *ranges, size_t count,
                            rill__admin_message_cb each, void *ud, rill_admin_progress_cb progress,
                            void *progress_ud, char *errstr, size_t errstr_size)
{
    int64_t total = 0, done = 0;
    size_t open = 0;
    rd_kafka_topic_partition_list_t *assign = rd_kafka_topic_partition_list_new((int)count + 1);
    bool *finished = rill_calloc(count + 1, sizeof *finished);
    if (!assign || !finished) {
        if (assign)
            rd_kafka_topic_partition_list_destroy(assign);
        rill_free(finished);
        return rill__admin_fail(RILL_ENOMEM, errstr, errstr_size, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        if (ranges[i].stop <= ranges[i].start) {
            finished[i] = true;
            continue;
        }
        total += ranges[i].stop - ranges[i].start;
        rd_kafka_topic_partition_list_add(assign, ranges[i].topic, ranges[i].partition)->offset =
            ranges[i].start;
        open++;
    }
    if (progress)
        progress(progress_ud, 0, total);
    int rc = 0;
    if (!open)
        goto out;
    char kerr[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", admin->bootstrap, kerr, sizeof kerr);
    rd_kafka_conf_set(kc, "group.id", "rill-admin-reader", kerr, sizeof kerr);
    rd_kafka_conf_set(kc, "enable.auto.commit", "false", kerr, sizeof kerr);
    rd_kafka_conf_set(kc, "enable.partition.eof", "true", kerr, sizeof kerr);
    rd_kafka_conf_set(kc, "isolation.level", "read_committed", kerr, sizeof kerr);
    rd_kafka_conf_set(kc, "log_level", "2", kerr, sizeof kerr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, kerr, sizeof kerr);
    if (!rk) {
        rd_kafka_conf_destroy(kc);
        rc = rill__admin_fail(RILL_EKAFKA, errstr, errstr_size, "cannot make a consumer: %s", kerr);
        goto out;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_assign(rk, assign);
    /* A partition is done at its stop offset, or at its end (a transactional topic's last
     * offsets are markers, never delivered). Nothing for 30 s is a stall. */
    for (int idle = 0; open && !rc;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            if (++idle > 300)
                rc = rill__admin_fail(RILL_ETIMEDOUT, errstr, errstr_size,
                                      "reading stalled: nothing came for 30 s with %zu "
                                      "partitions still to read",
                                      open);
            continue;
        }
        idle = 0;
        const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
        size_t i = 0;
        while (i < count &&
               (ranges[i].partition != m->partition || strcmp(ranges[i].topic, topic) != 0))
            i++;
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rc = rill__admin_fail(RILL_EKAFKA, errstr, errstr_size, "reading %s-%d: %s", topic,
                                  m->partition, rd_kafka_message_errstr(m));
        } else if (i < count && !finished[i]) {
            bool eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
            if (!eof && m->offset < ranges[i].stop) {
                rc = each(ud, m);
                if (progress)
                    progress(progress_ud, ++done, total);
            }
            if (eof || m->offset + 1 >= ranges[i].stop) {
                finished[i] = true;
                open--;
            }
        }
        rd_kafka_message_destroy(m);
    }
    if (progress && !rc)
        progress(progress_ud, total, total);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
out:
    rd_kafka_topic_partition_list_destroy(assign);
    rill_free(finished);
    return rc;
}

/* ---- producing ---- */

static void delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    rill__admin_delivery_t *d = opaque;
    if (m->err && d->failed++ == 0)
        snprintf(d->why, sizeof d->why, "%s-%d: %s", m->rkt ? rd_kafka_topic_name(m->rkt) : "",
                 m->partition, rd_kafka_err2str(m->err));
}

rd_kafka_t *rill__admin_producer(rill_admin_t *admin, rill__admin_delivery_t *delivery,
                                 char *errstr, size_t errstr_size)
{
    char kerr[256];
    memset(delivery, 0, sizeof *delivery);
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", admin->bootstrap, kerr, sizeof kerr);
    rd_kafka_conf_set(kc, "enable.idempotence", "true", kerr, sizeof kerr);
    rd_kafka_conf_set(kc, "linger.ms", "5", kerr, sizeof kerr);
    rd_kafka_conf_set(kc, "log_level", "2", kerr, sizeof kerr);
    rd_kafka_conf_set_opaque(kc, delivery);
    rd_kafka_conf_set_dr_msg_cb(kc, delivered);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, kerr, sizeof kerr);
    if (!rk) {
        rd_kafka_conf_destroy(kc);
        rill__admin_fail(RILL_EKAFKA, errstr, errstr_size, "cannot make a producer: %s", kerr);
    }
    return rk;
}

int rill__admin_producer_close(rd_kafka_t *producer, const rill__admin_delivery_t *delivery,
                               char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t err = rd_kafka_flush(producer, 60000);
    int rc = 0;
    if (err)
        rc = rill__admin_fail(RILL_EKAFKA, errstr, errstr_size,
                              "%d records not acknowledged within 60 s: %s",
                              rd_kafka_outq_len(producer), rd_kafka_err2str(err));
    else if (delivery->failed)
        rc = rill__admin_fail(RILL_EKAFKA, errstr, errstr_size,
                              "%lld records were not delivered; the first: %s",
                              (long long)delivery->failed, delivery->why);
    rd_kafka_destroy(producer);
    return rc;
}

/* ---- text ---- */

void rill__admin_put(rill__admin_text_t *t, const void *data, size_t n)
{
    if (t->oom)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *g = rill_realloc(t->text, cap);
        if (!g) {
            t->oom = true;
            return;
        }
        t->text = g;
        t->cap = cap;
    }
    memcpy(t->text + t->len, data, n);
    t->len += n;
    t->text[t->len] = 0;
}

void rill__admin_putf(rill__admin_text_t *t, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        rill__admin_put(t, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}
