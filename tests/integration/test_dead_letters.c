/*
 * The dead letter queue on the embedded cluster: an app with errors.dead.letter.queue.topic.name
 * and both handlers at continue reads good records mixed with bad ones (values of the wrong size
 * for its int32 serde, and 13s its map fails): it creates the missing dead letter topic as wide
 * as its source, stays RUNNING, every good record comes out once, every bad one is in the dead
 * letter queue once with its bytes and the headers naming its topic, partition and offset.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/app.h>
#include <rill/dsl.h>

#include <librdkafka/rdkafka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/embedded_app.h"
#include "../common/kafka_util.h"
#include "../common/temp_dir.h"
#include "../common/unlucky.h"

#define TOTAL 400
#define BAD   80 /* every 10th record has 3 bytes, every 10th from the 5th is a 13 */
#define GOOD  (TOTAL - BAD)

static char state_dir[64];

/* Where each dead letter says its record came from ("<topic>/<partition>/<offset>" of its error
 * headers), and its value's length. */
typedef struct {
    char where[BAD][64];
    size_t lens[BAD];
} dead_letters_t;

static void note_dead_letter(void *ud, const rd_kafka_message_t *m, int n)
{
    dead_letters_t *d = ud;
    rd_kafka_headers_t *h = NULL;
    const void *t = NULL, *p = NULL, *o = NULL;
    size_t tl = 0, pl = 0, ol = 0;
    if (n >= BAD)
        return;
    if (rd_kafka_message_headers((rd_kafka_message_t *)m, &h) == 0) {
        rd_kafka_header_get_last(h, "__streams.errors.topic", &t, &tl);
        rd_kafka_header_get_last(h, "__streams.errors.partition", &p, &pl);
        rd_kafka_header_get_last(h, "__streams.errors.offset", &o, &ol);
    }
    snprintf(d->where[n], 64, "%.*s/%.*s/%.*s", (int)tl, (const char *)t, (int)pl, (const char *)p,
             (int)ol, (const char *)o);
    d->lens[n] = m->len;
}

static void test_bad_records_go_to_the_dead_letter_queue(void **state)
{
    (void)state;
    rill_topology_t *topo = rill_topology_new();
    rill_source_opts_t in = {.value_serde = rill_serde_int32()};
    rill_stream_t *s = rill_stream_from_topic(topo, "dl-in", &in);
    assert_int_equal(
        rill_stream_to(rill_stream_map_values(s, unlucky_describe, NULL), "dl-out", NULL), 0);
    const char *const extra[] = {"deserialization.exception.handler",
                                 "continue",
                                 "processing.exception.handler",
                                 "continue",
                                 "errors.dead.letter.queue.topic.name",
                                 "dl-dlq",
                                 NULL};
    rill_app_t *app = embedded_app_new(topo, "dl-it", state_dir, extra);
    const char *bootstrap = rill_app_bootstrap_servers(app);
    char err[512];
    rill_producer_t *p = rill_producer_new(bootstrap, err, sizeof err);
    assert_non_null(p);
    int bad = 0;
    for (int i = 0; i < TOTAL; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        int32_t v = i % 10 == 5 ? 13 : i + 100;
        uint8_t b[4];
        unlucky_be32(b, v);
        size_t len = i % 10 == 0 ? 3 : 4;
        bad += len == 3 || v == 13;
        assert_int_equal(
            rill_producer_send(p, "dl-in", -1, rill_buf_str(key), (rill_buf_t){b, len}, 1000 + i),
            0);
    }
    assert_int_equal(rill_producer_flush(p, 10000), 0);
    assert_int_equal(bad, BAD);
    assert_int_equal(rill_app_start(app), 0);
    assert_int_equal(rill_app_wait_state(app, RILL_STATE_RUNNING, 30000), 0);

    assert_int_equal(kafka_read_all(bootstrap, "dl-out", GOOD, NULL), GOOD);
    static dead_letters_t dl;
    assert_int_equal(kafka_read_each(bootstrap, "dl-dlq", bad, note_dead_letter, &dl), bad);
    char(*where)[64] = dl.where;
    size_t *lens = dl.lens;
    /* Each bad record once: its input partition and offset are distinct, its bytes unchanged. */
    for (int i = 0; i < bad; i++) {
        assert_true(lens[i] == 3 || lens[i] == 4);
        assert_int_equal(strncmp(where[i], "dl-in/", 6), 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(where[i], where[j]);
    }
    assert_int_equal(rill_app_state(app), RILL_STATE_RUNNING);
    assert_int_equal(rill_app_metric(app, "dead-letters"), bad);
    assert_int_equal(rill_app_metric(app, "records-skipped"), bad);

    /* The dead letter queue was made as wide as the source (4 partitions). */
    assert_int_equal(kafka_partition_count(bootstrap, "dl-dlq"), 4);

    assert_int_equal(rill_app_close(app, 10000), 0);
    /* Nothing more than those (a dead letter written twice would be there). */
    rd_kafka_t *admin = kafka_admin(bootstrap);
    int64_t total = 0, lo, hi;
    for (int32_t part = 0; part < 4; part++) {
        assert_int_equal(rd_kafka_query_watermark_offsets(admin, "dl-dlq", part, &lo, &hi, 10000),
                         0);
        total += hi;
    }
    assert_int_equal(total, BAD);
    rd_kafka_destroy(admin);
    rill_producer_destroy(p);
    rill_app_destroy(app);
    rill_topology_unref(topo);
}

int main(void)
{
    if (temp_dir_make(state_dir, "dl-it"))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_records_go_to_the_dead_letter_queue),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    temp_dir_remove(state_dir);
    return rc;
}
