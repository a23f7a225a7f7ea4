/*
 * Restoring a task's stores from their changelogs, record by record or in write batches; under
 * exactly-once each batch commits with the offset after it.
 *
 * A window store that retains duplicates (a stream-stream join's) keys its entries and changelog
 * records by (key, start, sequence number) and writes blind, never reading first. Its changelog
 * may also hold records of the layout Rill used before, one value list per (key, start); restore
 * reads both (restore_duplicates()).
 */
#include "operators_int.h"

#include <string.h>

/*
 * Restores a changelog record of a store that retains duplicates. Rill writes its records keyed
 * (key, start, sequence number) with the plain value; before, it wrote one record per (key,
 * start), a value list (each value after its 4-byte big-endian length) that grew with each
 * duplicate. A changelog may hold both. The record's timestamp is the window start in both
 * layouts (a join stores each record at its own time), which tells them apart: the 8 bytes
 * before the last 4 encode it in the new layout, the last 8 in the former. Both at once would
 * take a sequence number with its top bit set, which puts never give, when start >= 0. A
 * former record's values become entries numbered RILL__FORMER_SEQ + their index: a later record of
 * the same window (its list, longer) writes them again, and adds the new ones. The task's puts
 * go on numbering after the last record restored, so they meet no number the store holds.
 */
static int restore_duplicates(task_store_t *ts, const rill_record_t *raw)
{
    uint8_t enc[8];
    rill_buf_t key = raw->key;
    rill_window_key((rill_buf_t){NULL, 0}, raw->timestamp, enc);
    const uint8_t *k = key.data;
    uint32_t seq = 0;
    bool now = key.len >= 12 && memcmp(k + key.len - 12, enc, 8) == 0 &&
               rill_window_dup_key_split(key, NULL, NULL, &seq) == 0 && !(seq & RILL__FORMER_SEQ);
    if (!raw->value.data)
        return 0; /* never logged: a store of duplicates has nothing to delete */
    if (now) {
        ts->seq = seq; /* the changelog's order is the puts': the task's next put follows it */
        return rill__store_write(ts, key, raw->value, raw->timestamp);
    }
    if (key.len < 8 || memcmp(k + key.len - 8, enc, 8) != 0)
        return RILL_EINVAL;
    rill_buf_t user = {key.data, key.len - 8}, list = raw->value;
    if (rill__bytes_reserve(&ts->keybuf, key.len + 4))
        return RILL_ENOMEM;
    for (size_t at = 0, i = 0; at < list.len; i++) {
        const uint8_t *p = (const uint8_t *)list.data + at;
        if (list.len - at < 4)
            return RILL_EINVAL; /* not a value list */
        size_t n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (n > list.len - at - 4)
            return RILL_EINVAL;
        size_t len = rill_window_dup_key(user, raw->timestamp, RILL__FORMER_SEQ + (uint32_t)i,
                                         ts->keybuf.data);
        int rc = rill__store_write(ts, (rill_buf_t){ts->keybuf.data, len}, (rill_buf_t){p + 4, n},
                                   raw->timestamp);
        if (rc)
            return rc;
        at += 4 + n;
    }
    return 0;
}

int rill__task_restore(rill_task_t *task, size_t i, const rill_record_t *raw)
{
    if (i >= task->nchangelogs)
        return RILL_EINVAL;
    task_store_t *ts = &task->stores[task->changelogs[i]];
    ts->memo_state = RILL__OLD_UNKNOWN; /* the store changes under any memo */
    int rc = ts->ws && ts->def->spec.retain_duplicates
                 ? restore_duplicates(ts, raw)
                 : rill__store_write(ts, raw->key, raw->value, raw->timestamp);
    if (rc == RILL_ENOENT)
        rc = 0; /* a window, or a version, that has expired since it was logged */
    if (rc == RILL_EINVAL) {
        snprintf(task->error, sizeof task->error,
                 "task %s: changelog %s partition %d offset %lld has a key of %zu bytes, too "
                 "short for a %s store",
                 task->id, ts->changelog, raw->partition, (long long)raw->offset, raw->key.len,
                 rill__store_type_name(ts->def->spec.type));
        return rc;
    }
    if (rc) {
        snprintf(task->error, sizeof task->error,
                 "task %s: cannot restore store '%s' from %s offset %lld: %s", task->id,
                 ts->def->spec.name, ts->changelog, (long long)raw->offset, rill_strerror(rc));
        return rc;
    }
    task->metrics.restored++;
    cell_add(&ts->restored, 1);
    task->writes_since_checkpoint++; /* the store moved past its checkpoint */
    return 0;
}

/* After a restore batch: the store holds the changelog up to the batch's last record; under
 * exactly-once it commits that with the offset after it. */
static int restored_to(rill_task_t *task, task_store_t *ts, const rill_record_t *last)
{
    ts->checkpoint = last->offset + 1;
    if (!task->env.exactly_once)
        return 0;
    int rc = rill__store_commit(ts, ts->checkpoint);
    if (rc)
        snprintf(task->error, sizeof task->error,
                 "task %s: cannot commit store '%s' restored to %s offset %lld: %s", task->id,
                 ts->def->spec.name, ts->changelog, (long long)last->offset, rill__store_error(ts));
    return rc;
}

int rill__task_restore_batch(rill_task_t *task, size_t i, const rill_record_t *raw, size_t n)
{
    if (i >= task->nchangelogs)
        return RILL_EINVAL;
    task_store_t *ts = &task->stores[task->changelogs[i]];
    ts->memo_state = RILL__OLD_UNKNOWN; /* the store changes under any memo */
    if (n == 0)
        return 0;
    if (!ts->kv || n < 2) {
        for (size_t k = 0; k < n; k++) {
            int rc = rill__task_restore(task, i, &raw[k]);
            if (rc)
                return rc;
        }
        return restored_to(task, ts, &raw[n - 1]);
    }
    if (n > task->restore_cap) {
        rill_store_write_t *w = rill_realloc(task->restore_writes, n * sizeof *w);
        if (!w)
            return RILL_ENOMEM;
        task->restore_writes = w;
        task->restore_cap = n;
    }
    if (rill__stored_batch(&ts->scratch, task->restore_writes, raw, n, false) < 0)
        return RILL_ENOMEM;
    int rc = rill_store_write_batch(ts->kv, task->restore_writes, n);
    if (rc) {
        snprintf(task->error, sizeof task->error,
                 "task %s: cannot restore store '%s' from %s offsets %lld..%lld: %s", task->id,
                 ts->def->spec.name, ts->changelog, (long long)raw[0].offset,
                 (long long)raw[n - 1].offset, rill_store_error(ts->kv));
        return rc;
    }
    task->metrics.restored += n;
    cell_add(&ts->restored, n);
    task->writes_since_checkpoint += n;
    return restored_to(task, ts, &raw[n - 1]);
}
