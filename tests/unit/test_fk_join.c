/*
 * The foreign-key table-table joins (inner and left) through the test driver, as tables of
 * inputs each followed by exactly the outputs it makes, in order, with their timestamps.
 *
 * The reference is Kafka Streams 4.4.0. The scenarios are those of its own tests (apache/kafka,
 * streams/src/test/java/org/apache/kafka/streams/): integration/KTableKTableForeignKeyJoin-
 * IntegrationTest (left and right entities added and deleted, foreign keys changed, tombstones of
 * rows that never joined), kstream/internals/KStreamImplTest.shouldSupportForeignKeyTableTable-
 * JoinWithKTableFromKStream and the kstream/internals/foreignkeyjoin unit tests (instructions, the
 * value hash, stale responses); the comment above each table cites it. Those tests check a map of
 * the final results; the outputs here were pinned record by record by running the same inputs
 * through Kafka Streams 4.4.0's TopologyTestDriver (with its record caches off, as Rill's driver
 * writes through after each record; tests/oracle/fk_join/run does it again). The value
 * "lhsValue1|rhs1" names the right row "rhs1" (the tests' value.split("\\|")[1]); the joiner makes
 * "(left,right)", a missing side printed "null".
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/dsl.h>
#include <rill/test_driver.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One row of a scenario: an input of the left or right table, or an output on "out" of the last
 * input: of both joins, or of the inner or the left join only. */
typedef struct {
    char kind; /* 'L', 'R'; outputs: '=' (both), 'I' (inner only), 'J' (left only) */
    const char *key, *value;
    int64_t ts;
    int32_t partition; /* outputs of multi-partition scenarios; -1: not checked */
} row_t;

// clang-format off
#define LEFT(k, v, t)      {'L', k, v, t, -1}
#define RIGHT(k, v, t)     {'R', k, v, t, -1}
#define OUT(k, v, t)       {'=', k, v, t, -1}
#define OUT_INNER(k, v, t) {'I', k, v, t, -1}
#define OUT_LEFT(k, v, t)  {'J', k, v, t, -1}
#define OUT_P(k, v, t, p)  {'=', k, v, t, p}
#define ROWS(a)            a, sizeof(a) / sizeof((a)[0])
// clang-format on

typedef struct {
    bool left_join;
    const row_t *rows;
    size_t nrows;
    int32_t partitions;       /* of "left", "right" and "out"; 0: 1 */
    const char *backend;      /* default.dsl.store; NULL: Rill's default */
    const char *store;        /* materializes the result under this name */
    int32_t right_partitions; /* of "right"; 0: as partitions */
} scenario_t;

typedef struct {
    char dir[64];
    rill_topology_t *topo;
    rill_test_driver_t *td;
    char *want, *got, *text;
} fk_fixture_t;

static int setup(void **state)
{
    fk_fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/rill-test-fk-join-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    fk_fixture_t *f = *state;
    rill_test_driver_destroy(f->td);
    rill_topology_unref(f->topo);
    free(f->want);
    free(f->got);
    rill_free(f->text);
    int rc = nftw(f->dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

/* ---- the tests' extractor and joiner ----------------------------------------------------- */

/* value.split("\\|")[1]: the part after '|', none without one. */
static int after_bar(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    (void)ud, (void)ctx;
    const char *v = rec->value.data, *bar = v ? memchr(v, '|', rec->value.len) : NULL;
    *out =
        bar ? (rill_buf_t){bar + 1, rec->value.len - (size_t)(bar + 1 - v)} : (rill_buf_t){NULL, 0};
    return 0;
}

#define SHOW(b) (b).data ? (int)(b).len : 4, (b).data ? (const char *)(b).data : "null"

/* "(" + left + "," + right + ")". */
static int paren_joiner(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t left,
                        rill_buf_t right, rill_buf_t *out)
{
    (void)ud, (void)key;
    *out = rill_arena_printf(rill_context_arena(ctx), "(%.*s,%.*s)", SHOW(left), SHOW(right));
    return out->data ? 0 : RILL_ENOMEM;
}

/* ---- running a scenario -------------------------------------------------------------------- */

static void append(char **s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *more = NULL;
    assert_true(vasprintf(&more, fmt, ap) >= 0);
    va_end(ap);
    size_t len = *s ? strlen(*s) : 0;
    char *p = realloc(*s, len + strlen(more) + 1);
    assert_non_null(p);
    strcpy(p + len, more);
    free(more);
    *s = p;
}

static void set(rill_conf_t *conf, const char *key, const char *value)
{
    char err[256];
    if (rill_conf_set(conf, key, value, err, sizeof err))
        fail_msg("%s: %s", key, err);
}

/* The join of tables "left" and "right", its result's updates on "out". */
static void build(fk_fixture_t *f, const scenario_t *sc)
{
    f->topo = rill_topology_new();
    assert_non_null(f->topo);
    rill_table_t *left = rill_table_from(f->topo, "left", NULL, NULL);
    rill_table_t *right = rill_table_from(f->topo, "right", NULL, NULL);
    rill_materialized_t m = {.name = sc->store};
    const rill_materialized_t *mp = sc->store ? &m : NULL;
    rill_table_t *joined =
        sc->left_join
            ? rill_table_fk_left_join(left, right, after_bar, NULL, paren_joiner, NULL, mp)
            : rill_table_fk_join(left, right, after_bar, NULL, paren_joiner, NULL, mp);
    assert_int_equal(rill_stream_to(rill_table_to_stream(joined), "out", NULL), 0);
}

static void start(fk_fixture_t *f, const scenario_t *sc)
{
    build(f, sc);
    rill_conf_t *conf = rill_conf_new();
    assert_non_null(conf);
    set(conf, "application.id", "fk-test");
    set(conf, "state.dir", f->dir);
    set(conf, "default.key.serde", "string");
    set(conf, "default.value.serde", "string");
    if (sc->backend)
        set(conf, "default.dsl.store", sc->backend);
    char err[512];
    f->td = rill_test_driver_new(f->topo, conf, 0, err, sizeof err);
    rill_conf_destroy(conf);
    if (!f->td)
        fail_msg("rill_test_driver_new: %s", err);
    const char *topics[] = {"left", "right", "out"};
    for (size_t i = 0; sc->partitions > 1 && i < 3; i++)
        assert_int_equal(rill_test_driver_set_partitions(f->td, topics[i], sc->partitions), 0);
    if (sc->right_partitions)
        assert_int_equal(rill_test_driver_set_partitions(f->td, "right", sc->right_partitions), 0);
}

/* The partition of 4 that murmur2 gives each key of the scenarios (as Kafka's clients do). */
static int32_t partition_of(const char *key)
{
    static const struct {
        const char *key;
        int32_t partition;
    } known[] = {{"lhs1", 0}, {"lhs2", 2}, {"lhs3", 3}, {"rhs1", 2}, {"rhs2", 1}, {"rhs3", 1},
                 {"k1", 1},   {"k2", 1},   {"k3", 0},   {"r1", 0},   {"r2", 0},   {"r9", 0}};
    for (size_t i = 0; key && i < sizeof known / sizeof known[0]; i++)
        if (strcmp(known[i].key, key) == 0)
            return known[i].partition;
    fail_msg("no partition known for key '%s'", key ? key : "null");
    return -1;
}

static bool is_output(const row_t *r)
{
    return r->kind == '=' || r->kind == 'I' || r->kind == 'J';
}

static void put_row(char **s, const row_t *r)
{
    if (is_output(r))
        append(s, "  => %s = %s @%lld", r->key ? r->key : "null", r->value ? r->value : "null",
               (long long)r->ts);
    else
        append(s, "%s %s = %s @%lld", r->kind == 'L' ? "left" : "right", r->key,
               r->value ? r->value : "null", (long long)r->ts);
    if (r->partition >= 0)
        append(s, " p%d", (int)r->partition);
    append(s, "\n");
}

/* Pipes the inputs one by one; each must make exactly the outputs that follow it. */
static void run(fk_fixture_t *f, const scenario_t *sc)
{
    start(f, sc);
    append(&f->want, "\n");
    append(&f->got, "\n");
    for (size_t i = 0; i < sc->nrows; i++) {
        const row_t *r = &sc->rows[i];
        if (r->kind == (sc->left_join ? 'I' : 'J'))
            continue; /* the other join's */
        if (is_output(r)) {
            row_t want = *r;
            if (sc->partitions > 1)
                want.partition = partition_of(r->key);
            put_row(&f->want, &want);
            continue;
        }
        put_row(&f->want, r);
        put_row(&f->got, r);
        if (rill_test_driver_pipe_str(f->td, r->kind == 'L' ? "left" : "right", r->key, r->value,
                                      r->ts))
            fail_msg("input %zu: %s", i, rill_test_driver_error(f->td));
        rill_test_record_t out;
        while (rill_test_driver_read(f->td, "out", &out) == 0) {
            char key[64], value[128];
            snprintf(key, sizeof key, "%.*s", SHOW(out.key));
            snprintf(value, sizeof value, "%.*s", SHOW(out.value));
            row_t got = {'=', key, out.value.data ? value : NULL, out.timestamp,
                         sc->partitions > 1 ? out.partition : -1};
            put_row(&f->got, &got);
        }
    }
    assert_string_equal(f->got, f->want);
}

/* ---- the scenarios ---------------------------------------------------------------------- */

/* KTableKTableForeignKeyJoinIntegrationTest.doJoinFromLeftThenDeleteLeftEntity (and
 * KStreamImplTest.shouldSupportForeignKeyTableTableJoinWithKTableFromKStream): right rows first,
 * then left rows join them; "rhs3" is never referenced; deleting "lhs1" deletes its result. A
 * result's timestamp is the later of the two rows'. */
static const row_t left_then_delete_left[] = {
    RIGHT("rhs1", "rhsValue1", 0),
    RIGHT("rhs2", "rhsValue2", 1),
    RIGHT("rhs3", "rhsValue3", 2),
    LEFT("lhs1", "lhsValue1|rhs1", 3),
    OUT("lhs1", "(lhsValue1|rhs1,rhsValue1)", 3),
    LEFT("lhs2", "lhsValue2|rhs2", 4),
    OUT("lhs2", "(lhsValue2|rhs2,rhsValue2)", 4),
    LEFT("lhs3", "lhsValue3|rhs1", 5),
    OUT("lhs3", "(lhsValue3|rhs1,rhsValue1)", 5),
    LEFT("lhs1", NULL, 6),
    OUT("lhs1", NULL, 6),
};

/* KTableKTableForeignKeyJoinIntegrationTest.doJoinFromRightThenDeleteRightEntity: left rows
 * first (a left join has a result at once); a right row answers every left row naming it, in
 * the order of their keys (the subscription store's prefix scan); deleting it deletes (inner)
 * or nulls (left) their results. */
static const row_t right_then_delete_right[] = {
    LEFT("lhs1", "lhsValue1|rhs1", 0),
    OUT_LEFT("lhs1", "(lhsValue1|rhs1,null)", 0),
    LEFT("lhs2", "lhsValue2|rhs2", 1),
    OUT_LEFT("lhs2", "(lhsValue2|rhs2,null)", 1),
    LEFT("lhs3", "lhsValue3|rhs1", 2),
    OUT_LEFT("lhs3", "(lhsValue3|rhs1,null)", 2),
    RIGHT("rhs1", "rhsValue1", 3),
    OUT("lhs1", "(lhsValue1|rhs1,rhsValue1)", 3),
    OUT("lhs3", "(lhsValue3|rhs1,rhsValue1)", 3),
    RIGHT("rhs2", "rhsValue2", 4),
    OUT("lhs2", "(lhsValue2|rhs2,rhsValue2)", 4),
    RIGHT("rhs3", "rhsValue3", 5),
    RIGHT("rhs1", NULL, 6),
    OUT_INNER("lhs1", NULL, 6),
    OUT_INNER("lhs3", NULL, 6),
    OUT_LEFT("lhs1", "(lhsValue1|rhs1,null)", 6),
    OUT_LEFT("lhs3", "(lhsValue3|rhs1,null)", 6),
};

/* KTableKTableForeignKeyJoinIntegrationTest.shouldEmitTombstoneWhenDeletingNonJoiningRecords:
 * deleting a left row that never joined still emits a tombstone (DELETE_KEY_AND_PROPAGATE, or
 * PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE with a null foreign key); deleting it again does not. */
static const row_t tombstone_non_joining[] = {
    LEFT("lhs1", "lhsValue1|rhs1", 0),
    OUT_LEFT("lhs1", "(lhsValue1|rhs1,null)", 0),
    LEFT("lhs1", NULL, 1),
    OUT("lhs1", NULL, 1),
    LEFT("lhs1", NULL, 2),
};

/* KTableKTableForeignKeyJoinIntegrationTest.shouldNotEmitTombstonesWhenDeletingNonExistingRecords.
 */
static const row_t no_tombstone_non_existing[] = {
    LEFT("lhs1", NULL, 0),
};

/* KTableKTableForeignKeyJoinIntegrationTest.joinShouldProduceNullsWhenValueHasNonMatchingForeignKey:
 * changing the foreign key to one without a right row unsubscribes the old one silently
 * (DELETE_KEY_NO_PROPAGATE) and the new subscription's answer (PROPAGATE_NULL_IF_NO_FK_VAL_-
 * AVAILABLE) deletes (inner) or nulls (left) the result; a right row added for a foreign key
 * nobody names any more makes nothing. */
static const row_t non_matching_fk[] = {
    LEFT("lhs1", "lhsValue1|rhs1", 0),
    OUT_LEFT("lhs1", "(lhsValue1|rhs1,null)", 0),
    LEFT("lhs1", "lhsValue1|rhs2", 1),
    OUT_INNER("lhs1", NULL, 1),
    OUT_LEFT("lhs1", "(lhsValue1|rhs2,null)", 1),
    LEFT("lhs1", "lhsValue1|rhs3", 2),
    OUT_INNER("lhs1", NULL, 2),
    OUT_LEFT("lhs1", "(lhsValue1|rhs3,null)", 2),
    RIGHT("rhs1", "rhsValue1", 3),
    LEFT("lhs1", "lhsValue1|rhs1", 4),
    OUT("lhs1", "(lhsValue1|rhs1,rhsValue1)", 4),
    LEFT("lhs1", "lhsValue1|rhs2", 5),
    OUT_INNER("lhs1", NULL, 5),
    OUT_LEFT("lhs1", "(lhsValue1|rhs2,null)", 5),
};

/* What the tests above leave out (SubscriptionSendProcessorSupplierTest's instructions, as
 * Kafka Streams 4.4 sends them): a new left value with the same foreign key (PROPAGATE_ONLY_IF_-
 * FK_VAL_AVAILABLE), a right row older than the left one (the result takes the later
 * timestamp), the same right value again (answered again), an out-of-order right delete, a
 * null foreign key (inner: the result goes; left: joins null), deleting an unknown right row,
 * deleting a left row that was never there. */
static const row_t edges[] = {
    RIGHT("r1", "a", 10),
    RIGHT("r2", "b", 1),
    LEFT("k1", "x|r1", 2),
    OUT("k1", "(x|r1,a)", 10),
    LEFT("k1", "y|r1", 3),
    OUT("k1", "(y|r1,a)", 10),
    LEFT("k2", "v|r1", 4),
    OUT("k2", "(v|r1,a)", 10),
    LEFT("k1", "z|r2", 5),
    OUT("k1", "(z|r2,b)", 5),
    RIGHT("r2", "b2", 6),
    OUT("k1", "(z|r2,b2)", 6),
    LEFT("k1", "nofk", 7),
    OUT_INNER("k1", NULL, 7),
    OUT_LEFT("k1", "(nofk,null)", 7),
    LEFT("k1", "w|r1", 8),
    OUT("k1", "(w|r1,a)", 10),
    RIGHT("r1", "a2", 9),
    OUT("k1", "(w|r1,a2)", 9),
    OUT("k2", "(v|r1,a2)", 9),
    RIGHT("r1", "a2", 20),
    OUT("k1", "(w|r1,a2)", 20),
    OUT("k2", "(v|r1,a2)", 20),
    RIGHT("r1", NULL, 11),
    OUT_INNER("k1", NULL, 11),
    OUT_INNER("k2", NULL, 11),
    OUT_LEFT("k1", "(w|r1,null)", 11),
    OUT_LEFT("k2", "(v|r1,null)", 11),
    LEFT("k2", NULL, 12),
    OUT("k2", NULL, 12),
    RIGHT("r9", NULL, 13),
    LEFT("k1", NULL, 14),
    OUT("k1", NULL, 14),
    LEFT("k3", NULL, 15),
};
/* Kafka Streams 4.4.0's bytes on the subscription and response topics for the inputs of
 * non_matching_fk (left join) and edges (inner join), as its TopologyTestDriver wrote them: the
 * subscriptions (SubscriptionWrapperSerdeTest's layout, version 1) with their instructions and
 * murmur3 hashes, the responses (SubscriptionResponseWrapperSerdeTest's, version 0). */
static const char wire_non_matching_fk_left[] =
    "left lhs1 = lhsValue1|rhs1 @0\n"
    "  sub rhs1 010273dee344b3a8e513289c8341c6472e8f6c68733100000000 @0\n"
    "  resp lhs1 0073dee344b3a8e513289c8341c6472e8f @0\n"
    "  => lhs1 = (lhsValue1|rhs1,null) @0\n"
    "left lhs1 = lhsValue1|rhs2 @1\n"
    "  sub rhs1 0100ac406aacdd738d6c64b8c50399c3dd336c68733100000000 @1\n"
    "  sub rhs2 0102ac406aacdd738d6c64b8c50399c3dd336c68733100000000 @1\n"
    "  resp lhs1 00ac406aacdd738d6c64b8c50399c3dd33 @1\n"
    "  => lhs1 = (lhsValue1|rhs2,null) @1\n"
    "left lhs1 = lhsValue1|rhs3 @2\n"
    "  sub rhs2 0100b3e072d86fe2558392fc3a9cd00d63ef6c68733100000000 @2\n"
    "  sub rhs3 0102b3e072d86fe2558392fc3a9cd00d63ef6c68733100000000 @2\n"
    "  resp lhs1 00b3e072d86fe2558392fc3a9cd00d63ef @2\n"
    "  => lhs1 = (lhsValue1|rhs3,null) @2\n"
    "right rhs1 = rhsValue1 @3\n"
    "left lhs1 = lhsValue1|rhs1 @4\n"
    "  sub rhs3 010073dee344b3a8e513289c8341c6472e8f6c68733100000000 @4\n"
    "  sub rhs1 010273dee344b3a8e513289c8341c6472e8f6c68733100000000 @4\n"
    "  resp lhs1 0073dee344b3a8e513289c8341c6472e8f72687356616c756531 @4\n"
    "  => lhs1 = (lhsValue1|rhs1,rhsValue1) @4\n"
    "left lhs1 = lhsValue1|rhs2 @5\n"
    "  sub rhs1 0100ac406aacdd738d6c64b8c50399c3dd336c68733100000000 @5\n"
    "  sub rhs2 0102ac406aacdd738d6c64b8c50399c3dd336c68733100000000 @5\n"
    "  resp lhs1 00ac406aacdd738d6c64b8c50399c3dd33 @5\n"
    "  => lhs1 = (lhsValue1|rhs2,null) @5\n";

static const char wire_edges_inner[] =
    "right r1 = a @10\n"
    "right r2 = b @1\n"
    "left k1 = x|r1 @2\n"
    "  sub r1 010365f949f261c0302da03d8a0347fe51036b3100000000 @2\n"
    "  resp k1 0065f949f261c0302da03d8a0347fe510361 @10\n"
    "  => k1 = (x|r1,a) @10\n"
    "left k1 = y|r1 @3\n"
    "  sub r1 0103f8182792ed62d056c6c4c2bf1aa811fe6b3100000000 @3\n"
    "  resp k1 00f8182792ed62d056c6c4c2bf1aa811fe61 @10\n"
    "  => k1 = (y|r1,a) @10\n"
    "left k2 = v|r1 @4\n"
    "  sub r1 0103725538ecd9cb68656fd45b41e31ae0896b3200000000 @4\n"
    "  resp k2 00725538ecd9cb68656fd45b41e31ae08961 @10\n"
    "  => k2 = (v|r1,a) @10\n"
    "left k1 = z|r2 @5\n"
    "  sub r1 0100bd357c6b57822cd2f617f861ded068cd6b3100000000 @5\n"
    "  sub r2 0102bd357c6b57822cd2f617f861ded068cd6b3100000000 @5\n"
    "  resp k1 00bd357c6b57822cd2f617f861ded068cd62 @5\n"
    "  => k1 = (z|r2,b) @5\n"
    "right r2 = b2 @6\n"
    "  resp k1 00bd357c6b57822cd2f617f861ded068cd6232 @6\n"
    "  => k1 = (z|r2,b2) @6\n"
    "left k1 = nofk @7\n"
    "  sub r2 010186acf90601515c973eb7edcf504673e36b3100000000 @7\n"
    "  resp k1 0086acf90601515c973eb7edcf504673e3 @7\n"
    "  => k1 = null @7\n"
    "left k1 = w|r1 @8\n"
    "  sub r1 01035708ddde7d678eb720077846fb328bf56b3100000000 @8\n"
    "  resp k1 005708ddde7d678eb720077846fb328bf561 @10\n"
    "  => k1 = (w|r1,a) @10\n"
    "right r1 = a2 @9\n"
    "  resp k1 005708ddde7d678eb720077846fb328bf56132 @9\n"
    "  resp k2 00725538ecd9cb68656fd45b41e31ae0896132 @9\n"
    "  => k1 = (w|r1,a2) @9\n"
    "  => k2 = (v|r1,a2) @9\n"
    "right r1 = a2 @20\n"
    "  resp k1 005708ddde7d678eb720077846fb328bf56132 @20\n"
    "  resp k2 00725538ecd9cb68656fd45b41e31ae0896132 @20\n"
    "  => k1 = (w|r1,a2) @20\n"
    "  => k2 = (v|r1,a2) @20\n"
    "right r1 = null @11\n"
    "  resp k1 005708ddde7d678eb720077846fb328bf5 @11\n"
    "  resp k2 00725538ecd9cb68656fd45b41e31ae089 @11\n"
    "  => k1 = null @11\n"
    "  => k2 = null @11\n"
    "left k2 = null @12\n"
    "  sub r1 81016b3200000000 @12\n"
    "  resp k2 80 @12\n"
    "  => k2 = null @12\n"
    "right r9 = null @13\n"
    "left k1 = null @14\n"
    "  sub r1 81016b3100000000 @14\n"
    "  resp k1 80 @14\n"
    "  => k1 = null @14\n"
    "left k3 = null @15\n";

/* ---- the tests ------------------------------------------------------------------------------ */

#define SUBSCRIPTIONS "fk-test-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic"
#define RESPONSES     "fk-test-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic"

/* Each table through both joins, with the default (RocksDB) and the in-memory stores. */
#define SCENARIO_TESTS(name)                                                                       \
    static void test_##name##_inner(void **state)                                                  \
    {                                                                                              \
        run(*state, &(scenario_t){false, ROWS(name), 0, NULL, NULL, 0});                           \
    }                                                                                              \
    static void test_##name##_left(void **state)                                                   \
    {                                                                                              \
        run(*state, &(scenario_t){true, ROWS(name), 0, NULL, NULL, 0});                            \
    }                                                                                              \
    static void test_##name##_inner_in_memory(void **state)                                        \
    {                                                                                              \
        run(*state, &(scenario_t){false, ROWS(name), 0, "in_memory", NULL, 0});                    \
    }                                                                                              \
    static void test_##name##_left_in_memory(void **state)                                         \
    {                                                                                              \
        run(*state, &(scenario_t){true, ROWS(name), 0, "in_memory", NULL, 0});                     \
    }

SCENARIO_TESTS(left_then_delete_left)
SCENARIO_TESTS(right_then_delete_right)
SCENARIO_TESTS(tombstone_non_joining)
SCENARIO_TESTS(no_tombstone_non_existing)
SCENARIO_TESTS(non_matching_fk)
SCENARIO_TESTS(edges)

/* The scenarios on 4 partitions, where no left row shares a partition with the right row it
 * names (murmur2: lhs1 0, lhs2 2, lhs3 3, rhs1 2, rhs2 1; k1 1, k2 1, r1 0, r2 0): the same
 * results, each on its left key's partition, whatever partition the subscription went to. */
static void test_four_partitions(void **state)
{
    const row_t *tables[] = {left_then_delete_left, right_then_delete_right, non_matching_fk,
                             edges};
    const size_t sizes[] = {sizeof left_then_delete_left / sizeof(row_t),
                            sizeof right_then_delete_right / sizeof(row_t),
                            sizeof non_matching_fk / sizeof(row_t), sizeof edges / sizeof(row_t)};
    fk_fixture_t *f = *state;
    for (size_t t = 0; t < 4; t++) {
        for (int left_join = 0; left_join < 2; left_join++) {
            run(f, &(scenario_t){left_join, tables[t], sizes[t], 4, NULL, NULL, 0});
            /* Every subscription went to its foreign key's partition (a null one anywhere),
             * every response to its left key's. */
            rill_test_record_t rec;
            size_t subs = 0, resps = 0;
            char key[16];
            while (rill_test_driver_read(f->td, SUBSCRIPTIONS, &rec) == 0 && ++subs) {
                snprintf(key, sizeof key, "%.*s", SHOW(rec.key));
                if (rec.key.data)
                    assert_int_equal(rec.partition, partition_of(key));
            }
            while (rill_test_driver_read(f->td, RESPONSES, &rec) == 0 && ++resps) {
                snprintf(key, sizeof key, "%.*s", SHOW(rec.key));
                assert_int_equal(rec.partition, partition_of(key));
            }
            assert_true(subs > 0 && resps > 0);
            rill_test_driver_destroy(f->td);
            rill_topology_unref(f->topo);
            free(f->want);
            free(f->got);
            f->td = NULL, f->topo = NULL, f->want = f->got = NULL;
        }
    }
}

/* The two tables need not be co-partitioned: with 4 left partitions and 2 right ones, the
 * subscription topic gets the right table's 2 and the response topic the left table's 4, as the
 * app sizes them, and the results are the same. */
static void test_unequal_partitions(void **state)
{
    fk_fixture_t *f = *state;
    run(f, &(scenario_t){true, ROWS(right_then_delete_right), 4, NULL, NULL, 2});
    rill_test_record_t rec;
    assert_int_equal(rill_test_driver_read(f->td, SUBSCRIPTIONS, &rec), 0);
    assert_true(rec.partition < 2);
    while (rill_test_driver_read(f->td, RESPONSES, &rec) == 0) {
        char key[16];
        snprintf(key, sizeof key, "%.*s", SHOW(rec.key));
        assert_int_equal(rec.partition, partition_of(key));
    }
}

/* The result materialized: the store holds the joined rows, the deleted ones gone. */
static void test_materialized(void **state)
{
    fk_fixture_t *f = *state;
    run(f, &(scenario_t){false, ROWS(left_then_delete_left), 0, NULL, "joined", 0});
    rill_store_t *store = rill_test_driver_kv_store(f->td, "joined", 0);
    assert_non_null(store);
    rill_buf_t stored, value;
    assert_int_equal(rill_store_get(store, (rill_buf_t){"lhs1", 4}, &stored), RILL_ENOENT);
    assert_int_equal(rill_store_get(store, (rill_buf_t){"lhs3", 4}, &stored), 0);
    assert_int_equal(rill_stored_split(stored, &value, NULL), 0);
    assert_int_equal(value.len, strlen("(lhsValue3|rhs1,rhsValue1)"));
    assert_memory_equal(value.data, "(lhsValue3|rhs1,rhsValue1)", value.len);
}

/* Appends what topic received since the last read: "  <label> <key> <hex value> @<ts>". */
static void put_internal(char **s, rill_test_driver_t *td, const char *topic, const char *label)
{
    rill_test_record_t rec;
    while (rill_test_driver_read(td, topic, &rec) == 0) {
        append(s, "  %s %.*s ", label, SHOW(rec.key));
        for (size_t i = 0; i < rec.value.len; i++)
            append(s, "%02x", ((const uint8_t *)rec.value.data)[i]);
        append(s, " @%lld\n", (long long)rec.timestamp);
    }
}

/* The internal topics' records, byte for byte and with their timestamps, as Kafka Streams 4.4.0
 * writes them for the same inputs: the instructions, hashes and partitions it would read. */
static void run_wire(fk_fixture_t *f, bool left_join, const row_t *rows, size_t n, const char *want)
{
    start(f, &(scenario_t){left_join, rows, n, 0, NULL, NULL, 0});
    for (size_t i = 0; i < n; i++) {
        if (is_output(&rows[i]))
            continue;
        put_row(&f->got, &rows[i]);
        assert_int_equal(rill_test_driver_pipe_str(f->td, rows[i].kind == 'L' ? "left" : "right",
                                                   rows[i].key, rows[i].value, rows[i].ts),
                         0);
        put_internal(&f->got, f->td, SUBSCRIPTIONS, "sub");
        put_internal(&f->got, f->td, RESPONSES, "resp");
        rill_test_record_t out;
        while (rill_test_driver_read(f->td, "out", &out) == 0)
            append(&f->got, "  => %.*s = %.*s @%lld\n", SHOW(out.key), SHOW(out.value),
                   (long long)out.timestamp);
    }
    assert_string_equal(f->got, want);
}

static void test_wire_format_left(void **state)
{
    run_wire(*state, true, ROWS(non_matching_fk), wire_non_matching_fk_left);
}

static void test_wire_format_inner(void **state)
{
    run_wire(*state, false, ROWS(edges), wire_edges_inner);
}

/* Pipes a response (version 0, the hash, the right value) for key into the response topic. */
static int respond(fk_fixture_t *f, const char *key, const char *hash_hex, const char *value)
{
    uint8_t buf[64];
    size_t n = 0;
    buf[n++] = hash_hex ? 0x00 : 0x80;
    for (const char *h = hash_hex; h && *h; h += 2) {
        unsigned byte;
        assert_int_equal(sscanf(h, "%2x", &byte), 1);
        buf[n++] = (uint8_t)byte;
    }
    memcpy(buf + n, value, strlen(value));
    n += strlen(value);
    return rill_test_driver_pipe(f->td, RESPONSES, 0, (rill_buf_t){key, strlen(key)},
                                 (rill_buf_t){buf, n}, 100);
}

/* ResponseJoinProcessorSupplierTest: a response joins only while its hash is that of the left
 * row's value now (Murmur3.hash128 of its bytes; the hashes below are Kafka Streams 4.4.0's of
 * "lhsValue1|rhs1" and "lhsValue1|rhs2"), else it is dropped and counted. */
static void test_stale_responses_dropped(void **state)
{
    fk_fixture_t *f = *state;
    static const row_t rows[] = {
        RIGHT("rhs1", "rhsValue1", 0),
        LEFT("lhs1", "lhsValue1|rhs1", 1),
        OUT("lhs1", "(lhsValue1|rhs1,rhsValue1)", 1),
    };
    run(f, &(scenario_t){false, ROWS(rows), 0, NULL, NULL, 0});
    int64_t skipped = rill_test_driver_metric(f->td, "records-skipped");
    rill_test_record_t out;
    /* The answer to the row's earlier value, and one without a hash (to a deleted row). */
    assert_int_equal(respond(f, "lhs1", "ac406aacdd738d6c64b8c50399c3dd33", "stale"), 0);
    assert_int_equal(respond(f, "lhs1", NULL, "gone"), 0);
    assert_int_equal(rill_test_driver_read(f->td, "out", &out), RILL_ENOENT);
    assert_int_equal(rill_test_driver_metric(f->td, "records-skipped"), skipped + 2);
    /* The answer to its value now. */
    assert_int_equal(respond(f, "lhs1", "73dee344b3a8e513289c8341c6472e8f", "fresh"), 0);
    assert_int_equal(rill_test_driver_read(f->td, "out", &out), 0);
    assert_int_equal(out.value.len, strlen("(lhsValue1|rhs1,fresh)"));
    assert_memory_equal(out.value.data, "(lhsValue1|rhs1,fresh)", out.value.len);
    assert_int_equal(out.timestamp, 100);
    /* A response to a row that is not there, without a hash, deletes its result (inner). */
    assert_int_equal(respond(f, "lhs9", NULL, ""), 0);
    assert_int_equal(rill_test_driver_read(f->td, "out", &out), 0);
    assert_null(out.value.data);
}

/* describe(): Kafka Streams 4.4.0's nodes, topics and stores for the same join
 * (KStreamImplTest.shouldSupportForeignKeyTableTableJoinWithKTableFromKStream names them the
 * same way). Two lines differ from its text, both from what precedes the join: rill_table_from
 * numbers the source before the store (Kafka Streams: the store first), and every sub-topology
 * line is indented by three spaces (Kafka Streams: the second and later by two). */
static const char describe_want[] =
    "Topologies:\n"
    "   Sub-topology: 0\n"
    "    Source: KTABLE-SOURCE-0000000016 (topics: "
    "[KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic])\n"
    "      --> KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000017\n"
    "    Source: KSTREAM-SOURCE-0000000000 (topics: [left])\n"
    "      --> KTABLE-SOURCE-0000000002\n"
    "    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000017 (stores: "
    "[left-STATE-STORE-0000000001])\n"
    "      --> KTABLE-FK-JOIN-OUTPUT-0000000018\n"
    "      <-- KTABLE-SOURCE-0000000016\n"
    "    Processor: KTABLE-FK-JOIN-OUTPUT-0000000018 (stores: [])\n"
    "      --> KTABLE-TOSTREAM-0000000020\n"
    "      <-- KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000017\n"
    "    Processor: KTABLE-SOURCE-0000000002 (stores: [left-STATE-STORE-0000000001])\n"
    "      --> KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000007\n"
    "      <-- KSTREAM-SOURCE-0000000000\n"
    "    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000007 (stores: [])\n"
    "      --> KTABLE-SINK-0000000008\n"
    "      <-- KTABLE-SOURCE-0000000002\n"
    "    Processor: KTABLE-TOSTREAM-0000000020 (stores: [])\n"
    "      --> KSTREAM-SINK-0000000021\n"
    "      <-- KTABLE-FK-JOIN-OUTPUT-0000000018\n"
    "    Sink: KSTREAM-SINK-0000000021 (topic: out)\n"
    "      <-- KTABLE-TOSTREAM-0000000020\n"
    "    Sink: KTABLE-SINK-0000000008 (topic: "
    "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic)\n"
    "      <-- KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000007\n"
    "\n"
    "   Sub-topology: 1\n"
    "    Source: KSTREAM-SOURCE-0000000003 (topics: [right])\n"
    "      --> KTABLE-SOURCE-0000000005\n"
    "    Source: KTABLE-SOURCE-0000000009 (topics: "
    "[KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic])\n"
    "      --> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000011\n"
    "    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000011 (stores: "
    "[KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010])\n"
    "      --> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000012\n"
    "      <-- KTABLE-SOURCE-0000000009\n"
    "    Processor: KTABLE-SOURCE-0000000005 (stores: [right-STATE-STORE-0000000004])\n"
    "      --> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000013\n"
    "      <-- KSTREAM-SOURCE-0000000003\n"
    "    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000012 (stores: "
    "[right-STATE-STORE-0000000004])\n"
    "      --> KTABLE-SINK-0000000015\n"
    "      <-- KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000011\n"
    "    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000013 (stores: "
    "[KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010])\n"
    "      --> KTABLE-SINK-0000000015\n"
    "      <-- KTABLE-SOURCE-0000000005\n"
    "    Sink: KTABLE-SINK-0000000015 (topic: "
    "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic)\n"
    "      <-- KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000012, "
    "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000013\n"
    "\n";

static void test_describe(void **state)
{
    fk_fixture_t *f = *state;
    build(f, &(scenario_t){false, NULL, 0, 0, NULL, NULL, 0});
    char err[256];
    assert_int_equal(rill_topology_build(f->topo, err, sizeof err), 0);
    f->text = rill_topology_describe(f->topo);
    assert_non_null(f->text);
    assert_string_equal(f->text, describe_want);
}

/* A join without an extractor or a joiner, or of tables of two topologies, fails the build,
 * naming what is missing and where. */
static void test_build_errors(void **state)
{
    fk_fixture_t *f = *state;
    char err[512];
    for (int which = 0; which < 3; which++) {
        rill_topology_t *topo = rill_topology_new(), *other = rill_topology_new();
        rill_table_t *left = rill_table_from(topo, "left", NULL, NULL);
        rill_table_t *right = rill_table_from(which == 2 ? other : topo, "right", NULL, NULL);
        rill_table_t *joined =
            which == 0 ? rill_table_fk_join(left, right, NULL, NULL, paren_joiner, NULL, NULL)
            : which == 1
                ? rill_table_fk_left_join(left, right, after_bar, NULL, NULL, NULL, NULL)
                : rill_table_fk_join(left, right, after_bar, NULL, paren_joiner, NULL, NULL);
        assert_null(joined);
        assert_int_equal(rill_topology_build(topo, err, sizeof err), RILL_ETOPOLOGY);
        const char *want[] = {"has no foreign key extractor", "has no joiner",
                              "tables of different topologies"};
        if (!strstr(err, want[which]))
            fail_msg("'%s' does not say '%s'", err, want[which]);
        if (which < 2 && !strstr(err, "KTABLE-SOURCE-0000000002"))
            fail_msg("'%s' does not name the left table's node", err);
        rill_topology_unref(topo);
        rill_topology_unref(other);
    }
    (void)f;
}

#define SCENARIO_ENTRIES(name)                                                                     \
    cmocka_unit_test_setup_teardown(test_##name##_inner, setup, teardown),                         \
        cmocka_unit_test_setup_teardown(test_##name##_left, setup, teardown),                      \
        cmocka_unit_test_setup_teardown(test_##name##_inner_in_memory, setup, teardown),           \
        cmocka_unit_test_setup_teardown(test_##name##_left_in_memory, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        SCENARIO_ENTRIES(left_then_delete_left),
        SCENARIO_ENTRIES(right_then_delete_right),
        SCENARIO_ENTRIES(tombstone_non_joining),
        SCENARIO_ENTRIES(no_tombstone_non_existing),
        SCENARIO_ENTRIES(non_matching_fk),
        SCENARIO_ENTRIES(edges),
        cmocka_unit_test_setup_teardown(test_four_partitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unequal_partitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_materialized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wire_format_left, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wire_format_inner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_responses_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
