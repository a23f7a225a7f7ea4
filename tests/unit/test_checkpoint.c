/*
 * A task's checkpoint file, through the task runtime directly: what a checkpoint records is read
 * back by the next task of the same partition; a missing or corrupt checkpoint means a full
 * restore (offset -1), an empty store, and a log line that says why.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/processor.h>
#include "operators/task.h" /* the task runtime: not API, linked from librill.a */

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char last_log[1024];

static void capture(void *opaque, rill_log_level_t level, const char *component, const char *msg)
{
    snprintf(last_log, sizeof last_log, "%s", msg);
}

static int send_nothing(void *opaque, const char *topic, int32_t partition, const rill_buf_t *key,
                        const rill_buf_t *value, int64_t timestamp, const rill_headers_t *headers)
{
    (*(int *)opaque)++;
    return 0;
}

static int32_t one_partition(void *opaque, const char *topic)
{
    return 1;
}

static int touch(rill_context_t *ctx, void *state, const rill_record_t *rec)
{
    rill_kv_store_t *kv = rill_context_kv_store(ctx, "seen");
    return kv ? rill_kv_put(kv, rec->key, rec->value, rec->timestamp) : RILL_ENOENT;
}

static const rill_processor_ops touch_ops = {NULL, touch, NULL};

typedef struct {
    char dir[64];
    rill_topology_t *topo;
    rill_store_env_t *env;
    rill_task_env_t tenv;
    int sent;
} fixture_t;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/rill-checkpoint-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->topo = rill_topology_new();
    const char *topics[] = {"in", NULL}, *src[] = {"src", NULL}, *procs[] = {"touch", NULL};
    rill_source_opts_t so = {rill_serde_bytes(), rill_serde_bytes(), NULL, NULL};
    assert_true(rill_topology_add_source(f->topo, "src", topics, NULL, &so) >= 0);
    assert_true(rill_topology_add_processor(f->topo, "touch", &touch_ops, NULL, NULL, src) >= 0);
    rill_store_spec_t spec = {.name = "seen", .type = RILL_STORE_KV};
    assert_true(rill_topology_add_store(f->topo, &spec, procs) >= 0);
    char err[256];
    assert_int_equal(rill_topology_build(f->topo, err, sizeof err), 0);
    f->env = rill_store_env_new(8 << 20, err, sizeof err);
    assert_non_null(f->env);
    f->tenv = (rill_task_env_t){
        .application_id = "cp",
        .collector = {send_nothing, one_partition, &f->sent},
        .default_key_serde = rill_serde_bytes(),
        .default_value_serde = rill_serde_bytes(),
        .state_dir = f->dir,
        .store_env = f->env,
        .cache_max_bytes = 0,
    };
    rill_set_log_cb(capture, NULL, RILL_LOG_INFO);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    rill_set_log_cb(NULL, NULL, RILL_LOG_INFO);
    rill_store_env_destroy(f->env);
    rill_topology_unref(f->topo);
    nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static rill_task_t *task_new(fixture_t *f)
{
    char err[512];
    rill_task_t *task = rill__task_new(f->topo, 0, 3, &f->tenv, err, sizeof err);
    if (!task)
        fail_msg("%s", err);
    return task;
}

static void put(rill_task_t *task, const char *key)
{
    rill_record_t rec = {rill_buf_str(key), rill_buf_str("v"), 10, NULL, "in", 3, 0};
    assert_int_equal(rill__task_process(task, 0, &rec), 0);
}

static bool has_key(rill_task_t *task, const char *key)
{
    rill_bytes_t out = {0};
    int rc = rill_store_get_copy(rill__task_kv_store(task, "seen"), rill_buf_str(key), &out);
    rill_bytes_free(&out);
    return rc == 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* A checkpoint is read back with the offset it recorded, and the store keeps its data. */
static void test_checkpoint_read_back(void **state)
{
    fixture_t *f = *state;
    rill_task_t *task = task_new(f);
    assert_int_equal(rill__task_changelog_count(task), 1);
    assert_string_equal(rill__task_changelog_topic(task, 0), "cp-seen-changelog");
    assert_int_equal(rill__task_changelog_offset(task, 0), -1);
    put(task, "a");
    put(task, "b");
    assert_int_equal(f->sent, 2); /* every store write is logged */
    assert_int_equal(rill__task_changelog_writes(task), 2);
    int64_t end = 2;
    assert_int_equal(rill__task_checkpoint(task, &end), 0);
    assert_int_equal(rill__task_changelog_writes(task), 0);
    rill__task_destroy(task);

    char path[128];
    snprintf(path, sizeof path, "%s/0_3/.checkpoint", f->dir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char text[256] = "";
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = 0;
    assert_string_equal(text, "0\n1\ncp-seen-changelog 3 2\n");

    task = task_new(f);
    assert_int_equal(rill__task_changelog_offset(task, 0), 2);
    assert_true(has_key(task, "a") && has_key(task, "b"));
    rill__task_destroy(task);
}

/* Without a checkpoint the store restores from the start: it is emptied, and the log says so. */
static void test_missing_checkpoint_wipes(void **state)
{
    fixture_t *f = *state;
    rill_task_t *task = task_new(f);
    put(task, "a");
    rill__task_destroy(task); /* closed without a checkpoint: the store is not trusted */
    last_log[0] = 0;
    task = task_new(f);
    assert_int_equal(rill__task_changelog_offset(task, 0), -1);
    assert_false(has_key(task, "a"));
    assert_non_null(strstr(last_log, "no checkpoint"));
    rill__task_destroy(task);
}

/* A corrupt checkpoint is named with the line at fault, and means a full restore. */
static void test_corrupt_checkpoint(void **state)
{
    fixture_t *f = *state;
    static const struct {
        const char *text, *why;
    } cases[] = {
        {"7\n1\ncp-seen-changelog 3 2\n", "line 1: expected version 0"},
        {"0\nmany\n", "line 2"},
        {"0\n1\ncp-seen-changelog three 2\n", "line 3"},
        {"0\n1\ncp-seen-changelog 3 -5\n", "line 3"},
        {"0\n1\ncp-seen-changelog 3 2\nextra 0 1\n", "more entries"},
        {"", "line 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rill_task_t *task = task_new(f);
        put(task, "a");
        int64_t end = 9;
        assert_int_equal(rill__task_checkpoint(task, &end), 0);
        rill__task_destroy(task);
        char path[128];
        snprintf(path, sizeof path, "%s/0_3/.checkpoint", f->dir);
        write_file(path, cases[i].text);
        last_log[0] = 0;
        task = task_new(f);
        assert_int_equal(rill__task_changelog_offset(task, 0), -1);
        assert_false(has_key(task, "a"));
        if (!strstr(last_log, "corrupt") || !strstr(last_log, cases[i].why))
            fail_msg("case %zu: log '%s' lacks '%s'", i, last_log, cases[i].why);
        rill__task_destroy(task);
    }
}

/* Restoring applies changelog records (batched or one by one) straight to the store. */
static void test_restore_batch(void **state)
{
    fixture_t *f = *state;
    rill_task_t *task = task_new(f);
    rill_record_t recs[3] = {
        {rill_buf_str("x"), rill_buf_str("1"), 5, NULL, "cp-seen-changelog", 3, 0},
        {rill_buf_str("y"), rill_buf_str("2"), 6, NULL, "cp-seen-changelog", 3, 1},
        {rill_buf_str("x"), {NULL, 0}, 7, NULL, "cp-seen-changelog", 3, 2}, /* a tombstone */
    };
    assert_int_equal(rill__task_restore_batch(task, 0, recs, 3), 0);
    assert_false(has_key(task, "x"));
    assert_true(has_key(task, "y"));
    assert_int_equal(f->sent, 0); /* restoring writes no changelog */
    assert_int_equal(rill__task_metrics(task)->restored, 3);
    rill__task_destroy(task);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_checkpoint_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_checkpoint_wipes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_batch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
