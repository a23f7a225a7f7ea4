/*
 * The joins through the test driver: stream-stream (inner, left, outer) in join windows,
 * stream-table (inner, left) and table-table (inner, left, outer), as tables of inputs, each
 * followed by exactly the outputs it must produce, in order.
 *
 * The reference is Kafka Streams 4.x. Most tables are the scenarios of its own join tests
 * (apache/kafka, streams/src/test/java/org/apache/kafka/streams/kstream/internals/), whose inputs
 * and expected outputs are ported as data: the comment above each table cites the test class and
 * method. Those tests check the outputs after a batch of inputs; here every output is pinned to
 * the input that makes it, as Kafka Streams' processors decide (KStreamKStreamJoin.process and
 * emitNonJoinedOuterRecords, KStreamKTableJoinProcessor, KTableKTable*Join). Integer keys and
 * Long values of the Java tests are strings here ("0", "11"); MockValueJoiner's "left+right" with
 * "null" for a missing side is mock_joiner below. The other tables add what those tests miss:
 * grace boundaries both ways, tombstones and null keys on each side, out-of-order records within
 * grace, records later than grace, the emit interval, and several partitions.
 *
 * What decides each result in Kafka Streams, in short (KStreamKStreamJoin): stream time is one per
 * task, shared by both sides, advanced by every record (null keys and values too); a record joins
 * the other side's records of its key in [t - before, t + after] (the right side swaps before and
 * after), each result stamped max(both timestamps); in left and outer joins an unmatched record is
 * held in the shared outer store and emitted with a null other side once stream time is strictly
 * past its t + after (left records) or t + before (right records) plus grace, by the next record
 * that arrives in order, or at once when it arrived so late that t + after is already behind stream
 * time. Outer-store entries go out in the order of their key: timestamp, then right before left,
 * then the key's bytes.
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH | FTW_PHYS */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/dsl.h>
#include <rill/test_driver.h>
#include "operators/task.h" /* the task runtime, for a restart: not API, linked from librill.a */

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- tables: inputs, each followed by the outputs it makes ------------------------------- */

typedef enum {
    IN_LEFT,  /* a record of the left stream or table (topic "left") */
    IN_RIGHT, /* a record of the right stream or table (topic "right") */
    IN_CLOCK, /* the wall clock moves forward by ts ms */
    OUT,      /* a record the last input makes on topic "out" */
} row_kind_t;

typedef struct {
    row_kind_t kind;
    const char *key, *value; /* NULL: null */
    int64_t ts;
    int32_t partition; /* OUT rows of tables run with show_partitions */
} row_t;

// clang-format off
#define LEFT(k, v, t)       {IN_LEFT, k, v, t, 0}
#define RIGHT(k, v, t)      {IN_RIGHT, k, v, t, 0}
#define CLOCK(ms)           {IN_CLOCK, NULL, NULL, ms, 0}
#define EMIT(k, v, t)       {OUT, k, v, t, 0}
#define EMIT_P(k, v, t, p)  {OUT, k, v, t, p}
// clang-format on

// clang-format off
typedef enum {
    SS_INNER, SS_LEFT, SS_OUTER, /* stream-stream */
    ST_INNER, ST_LEFT,           /* stream (left) - table (right) */
    TT_INNER, TT_LEFT, TT_OUTER, /* table-table */
    GT_INNER, GT_LEFT,           /* stream (left) - global table (right), keyed by a mapper */
} join_kind_t;
// clang-format on

typedef struct {
    join_kind_t kind;
    rill_join_windows_t windows; /* stream-stream joins */
    const row_t *rows;
    size_t nrows;
    int32_t partitions;        /* of "left", "right" and "out"; 0: 1 */
    bool show_partitions;      /* print and check each output's partition */
    const char *emit_interval; /* outer.join.emit.interval.ms; NULL: "0"; "": left unset */
    const char *store;         /* default.dsl.store; NULL: Rill's default */
    int64_t history_ms;        /* ST_*: > 0 makes the table versioned with this history */
    int64_t grace_ms;          /* ST_*: the stream side's grace period (a versioned table) */
} scenario_t;

/* ---- the fixture: what a failing assertion must still free ------------------------------- */

typedef struct {
    char dir[64]; /* the state directory, a mkdtemp one, removed by the teardown */
    rill_topology_t *topo;
    rill_conf_t *conf;
    rill_test_driver_t *td;
    char *want, *got;
    char *text;           /* from rill_topology_describe */
    const scenario_t *sc; /* test_scenario's */
} fixture_t;

static int fixture_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/rill-test-join-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int fixture_teardown(void **state)
{
    fixture_t *f = *state;
    rill_test_driver_destroy(f->td);
    rill_conf_destroy(f->conf);
    rill_topology_unref(f->topo);
    free(f->want);
    free(f->got);
    rill_free(f->text);
    int rc = nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

/* ---- the joiner and the topologies -------------------------------------------------------- */

/* MockValueJoiner.TOSTRING_JOINER: "left+right", a missing side printed as "null". */
static int mock_joiner(void *ud, rill_context_t *ctx, rill_buf_t key, rill_buf_t left,
                       rill_buf_t right, rill_buf_t *out)
{
    (void)ud;
    (void)key;
    *out = rill_arena_printf(rill_context_arena(ctx), "%.*s+%.*s", left.data ? (int)left.len : 4,
                             left.data ? (const char *)left.data : "null",
                             right.data ? (int)right.len : 4,
                             right.data ? (const char *)right.data : "null");
    return out->data ? 0 : RILL_ENOMEM;
}

/* The global table joins' key mapper, as KStreamGlobalKTableJoinTest's: the value's part after
 * its comma ("X0,FKey0" -> "FKey0"), none without one. */
static int foreign_key(void *ud, rill_context_t *ctx, const rill_record_t *rec, rill_buf_t *out)
{
    (void)ud;
    (void)ctx;
    const char *comma = rec->value.data ? memchr(rec->value.data, ',', rec->value.len) : NULL;
    *out = comma ? (rill_buf_t){comma + 1, rec->value.len -
                                               (size_t)(comma + 1 - (const char *)rec->value.data)}
                 : (rill_buf_t){NULL, 0};
    return 0;
}

/* Returns the stream of the join's results; both inputs read "left" and "right". */
static rill_stream_t *join_of(rill_topology_t *topo, const scenario_t *sc)
{
    rill_stream_t *ls = NULL, *rs = NULL;
    rill_table_t *lt = NULL, *rt = NULL;
    if (sc->kind >= GT_INNER) {
        rill_global_table_t *gt = rill_global_table_from(topo, "right", NULL, NULL);
        ls = rill_stream_from_topic(topo, "left", NULL);
        return sc->kind == GT_INNER
                   ? rill_stream_global_join(ls, gt, foreign_key, NULL, mock_joiner, NULL, NULL)
                   : rill_stream_global_left_join(ls, gt, foreign_key, NULL, mock_joiner, NULL,
                                                  NULL);
    }
    if (sc->kind <= ST_LEFT)
        ls = rill_stream_from_topic(topo, "left", NULL);
    else
        lt = rill_table_from(topo, "left", NULL, NULL);
    /* Materialized.as(Stores.persistentVersionedKeyValueStore(..., history)) */
    rill_materialized_t vm = {.versioned = true, .history_retention_ms = sc->history_ms};
    rill_join_opts_t jo = {.grace_ms = sc->grace_ms};
    if (sc->kind <= SS_OUTER)
        rs = rill_stream_from_topic(topo, "right", NULL);
    else
        rt = rill_table_from(topo, "right", NULL, sc->history_ms > 0 ? &vm : NULL);
    switch (sc->kind) {
    case SS_INNER:
        return rill_stream_join(ls, rs, mock_joiner, NULL, sc->windows, NULL);
    case SS_LEFT:
        return rill_stream_left_join(ls, rs, mock_joiner, NULL, sc->windows, NULL);
    case SS_OUTER:
        return rill_stream_outer_join(ls, rs, mock_joiner, NULL, sc->windows, NULL);
    case ST_INNER:
        return rill_stream_table_join(ls, rt, mock_joiner, NULL, &jo);
    case ST_LEFT:
        return rill_stream_table_left_join(ls, rt, mock_joiner, NULL, &jo);
    case TT_INNER:
        return rill_table_to_stream(rill_table_join(lt, rt, mock_joiner, NULL, NULL));
    case TT_LEFT:
        return rill_table_to_stream(rill_table_left_join(lt, rt, mock_joiner, NULL, NULL));
    case TT_OUTER:
        return rill_table_to_stream(rill_table_outer_join(lt, rt, mock_joiner, NULL, NULL));
    default:
        break;
    }
    return NULL;
}

static void conf_put(rill_conf_t *conf, const char *key, const char *value)
{
    char err[256];
    if (rill_conf_set(conf, key, value, err, sizeof err) != 0)
        fail_msg("rill_conf_set(%s, %s): %s", key, value, err);
}

/* Builds the scenario's join and its driver into the fixture. */
static void start(fixture_t *f, const scenario_t *sc)
{
    f->topo = rill_topology_new();
    assert_non_null(f->topo);
    assert_int_equal(rill_stream_to(join_of(f->topo, sc), "out", NULL), 0);

    rill_conf_t *conf = f->conf = rill_conf_new();
    assert_non_null(conf);
    conf_put(conf, "application.id", "join-test");
    conf_put(conf, "state.dir", f->dir);
    conf_put(conf, "default.key.serde", "string");
    conf_put(conf, "default.value.serde", "string");
    /* Kafka Streams' join tests set its internal emit interval to 0: every record that may
     * emit unmatched records does. */
    if (!sc->emit_interval || sc->emit_interval[0])
        conf_put(conf, "outer.join.emit.interval.ms", sc->emit_interval ? sc->emit_interval : "0");
    /* Under valgrind RocksDB makes the 62 scenarios take minutes: they run on the in-memory
     * backend there (the join code is the same; ASan runs them on RocksDB), except those that
     * name their backend. */
    if (sc->store)
        conf_put(conf, "default.dsl.store", sc->store);
    else if (getenv("RILL_UNDER_VALGRIND"))
        conf_put(conf, "default.dsl.store", "in_memory");
    char err[512];
    f->td = rill_test_driver_new(f->topo, conf, 0, err, sizeof err);
    rill_conf_destroy(conf);
    f->conf = NULL;
    if (!f->td)
        fail_msg("rill_test_driver_new: %s", err);
    if (sc->partitions > 1) {
        assert_int_equal(rill_test_driver_set_partitions(f->td, "left", sc->partitions), 0);
        assert_int_equal(rill_test_driver_set_partitions(f->td, "right", sc->partitions), 0);
        assert_int_equal(rill_test_driver_set_partitions(f->td, "out", sc->partitions), 0);
    }
}

/* ---- running a table ---------------------------------------------------------------------- */

/* Appends printf output to a growing string. */
static void put(char **s, const char *fmt, ...)
{
    size_t len = *s ? strlen(*s) : 0;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    char *p = realloc(*s, len + (size_t)n + 1);
    assert_non_null(p);
    va_start(ap, fmt);
    vsnprintf(p + len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *s = p;
}

#define OR_NULL(s) ((s) ? (s) : "null")

static void put_input(char **s, const row_t *row)
{
    if (row->kind == IN_CLOCK)
        put(s, "wall clock +%lld\n", (long long)row->ts);
    else
        put(s, "%s %s = %s @%lld\n", row->kind == IN_LEFT ? "left" : "right", OR_NULL(row->key),
            OR_NULL(row->value), (long long)row->ts);
}

static void put_output(char **s, const scenario_t *sc, const char *key, int klen, const char *value,
                       int vlen, int64_t ts, int32_t partition)
{
    put(s, "  => %.*s = %.*s @%lld", klen, key, vlen, value, (long long)ts);
    if (sc->show_partitions)
        put(s, " p%d", (int)partition);
    put(s, "\n");
}

/* Reads what the last input made on "out". */
static void put_outputs(fixture_t *f, const scenario_t *sc)
{
    rill_test_record_t rec;
    while (rill_test_driver_read(f->td, "out", &rec) == 0)
        put_output(&f->got, sc, rec.key.data ? (const char *)rec.key.data : "null",
                   rec.key.data ? (int)rec.key.len : 4,
                   rec.value.data ? (const char *)rec.value.data : "null",
                   rec.value.data ? (int)rec.value.len : 4, rec.timestamp, rec.partition);
}

/*
 * Runs the scenario: pipes its inputs one by one and checks that each makes exactly the outputs
 * that follow it in the table. Both transcripts are printed on a mismatch. The driver stays in
 * the fixture, for the caller to check metrics or stores.
 */
static void run(fixture_t *f, const scenario_t *sc)
{
    start(f, sc);
    put(&f->want, "\n");
    put(&f->got, "\n");
    for (size_t i = 0; i < sc->nrows; i++) {
        const row_t *row = &sc->rows[i];
        if (row->kind == OUT) {
            assert_true(i > 0);
            put_output(&f->want, sc, OR_NULL(row->key), (int)strlen(OR_NULL(row->key)),
                       OR_NULL(row->value), (int)strlen(OR_NULL(row->value)), row->ts,
                       row->partition);
            continue;
        }
        put_input(&f->want, row);
        put_input(&f->got, row);
        int rc;
        if (row->kind == IN_CLOCK)
            rc = rill_test_driver_advance_wall_clock(f->td, row->ts);
        else
            rc = rill_test_driver_pipe_str(f->td, row->kind == IN_LEFT ? "left" : "right", row->key,
                                           row->value, row->ts);
        if (rc)
            fail_msg("input #%zu failed: %s: %s", i, rill_strerror(rc),
                     rill_test_driver_error(f->td));
        put_outputs(f, sc);
    }
    assert_string_equal(f->got, f->want);
}

/* Returns records-skipped plus late-records-dropped: where Kafka Streams counts a dropped record
 * in its task's dropped-records sensor, Rill may count it as either. */
static int64_t dropped(const fixture_t *f)
{
    int64_t skipped = rill_test_driver_metric(f->td, "records-skipped");
    int64_t late = rill_test_driver_metric(f->td, "late-records-dropped");
    assert_true(skipped >= 0 && late >= 0);
    return skipped + late;
}

/* A scenario of kind k and windows w (stream-stream joins) running table; the rest defaults. */
// clang-format off
#define SCENARIO(k, w, table) \
    (scenario_t){.kind = k, .windows = w, .rows = table, .nrows = N(table)}
// clang-format on

/* ==== stream-stream inner joins ============================================================ */

// clang-format off

/* KStreamKStreamJoinTest#testJoin: ofTimeDifferenceWithNoGrace(100), every record at 0; each
 * record joins every earlier record of its key on the other side. Also run with 4 partitions
 * (co-partitioned keys meet in one task) and as the outer join of KStreamKStreamJoinTest
 * #testOuterJoin (grace 24 h: every record is matched, and none is old enough to expire). */
static const row_t SS_JOIN[] = {
    LEFT("0", "A0", 0),
    LEFT("1", "A1", 0),
    RIGHT("0", "a0", 0),  EMIT("0", "A0+a0", 0),
    RIGHT("1", "a1", 0),  EMIT("1", "A1+a1", 0),
    LEFT("0", "B0", 0),   EMIT("0", "B0+a0", 0),
    LEFT("1", "B1", 0),   EMIT("1", "B1+a1", 0),
    LEFT("2", "B2", 0),
    LEFT("3", "B3", 0),
    RIGHT("0", "b0", 0),  EMIT("0", "A0+b0", 0), EMIT("0", "B0+b0", 0),
    RIGHT("1", "b1", 0),  EMIT("1", "A1+b1", 0), EMIT("1", "B1+b1", 0),
    RIGHT("2", "b2", 0),  EMIT("2", "B2+b2", 0),
    RIGHT("3", "b3", 0),  EMIT("3", "B3+b3", 0),
    LEFT("0", "C0", 0),   EMIT("0", "C0+a0", 0), EMIT("0", "C0+b0", 0),
    LEFT("1", "C1", 0),   EMIT("1", "C1+a1", 0), EMIT("1", "C1+b1", 0),
    LEFT("2", "C2", 0),   EMIT("2", "C2+b2", 0),
    LEFT("3", "C3", 0),   EMIT("3", "C3+b3", 0),
    RIGHT("0", "c0", 0),  EMIT("0", "A0+c0", 0), EMIT("0", "B0+c0", 0), EMIT("0", "C0+c0", 0),
    RIGHT("1", "c1", 0),  EMIT("1", "A1+c1", 0), EMIT("1", "B1+c1", 0), EMIT("1", "C1+c1", 0),
};

/* KStreamKStreamJoinTest#testWindowing: ofTimeDifferenceWithNoGrace(100); both window bounds
 * from each side, inclusive, results stamped max(left, right). */
static const row_t SS_WINDOWING[] = {
    LEFT("0", "A0", 0),
    LEFT("1", "A1", 0),
    RIGHT("0", "a0", 0),     EMIT("0", "A0+a0", 0),
    RIGHT("1", "a1", 0),     EMIT("1", "A1+a1", 0),
    LEFT("0", "B0", 1000),
    LEFT("1", "B1", 1001),
    LEFT("2", "B2", 1002),
    LEFT("3", "B3", 1003),
    /* the right records after the left ones: upper bound t + 100 */
    RIGHT("0", "b0", 1100),  EMIT("0", "B0+b0", 1100),
    RIGHT("1", "b1", 1100),  EMIT("1", "B1+b1", 1100),
    RIGHT("2", "b2", 1100),  EMIT("2", "B2+b2", 1100),
    RIGHT("3", "b3", 1100),  EMIT("3", "B3+b3", 1100),
    RIGHT("0", "c0", 1101),
    RIGHT("1", "c1", 1101),  EMIT("1", "B1+c1", 1101),
    RIGHT("2", "c2", 1101),  EMIT("2", "B2+c2", 1101),
    RIGHT("3", "c3", 1101),  EMIT("3", "B3+c3", 1101),
    RIGHT("0", "d0", 1102),
    RIGHT("1", "d1", 1102),
    RIGHT("2", "d2", 1102),  EMIT("2", "B2+d2", 1102),
    RIGHT("3", "d3", 1102),  EMIT("3", "B3+d3", 1102),
    RIGHT("0", "e0", 1103),
    RIGHT("1", "e1", 1103),
    RIGHT("2", "e2", 1103),
    RIGHT("3", "e3", 1103),  EMIT("3", "B3+e3", 1103),
    RIGHT("0", "f0", 1104),
    RIGHT("1", "f1", 1104),
    RIGHT("2", "f2", 1104),
    RIGHT("3", "f3", 1104),
    /* the right records before the left ones: lower bound t - 100 */
    RIGHT("0", "g0", 899),
    RIGHT("1", "g1", 899),
    RIGHT("2", "g2", 899),
    RIGHT("3", "g3", 899),
    RIGHT("0", "h0", 900),   EMIT("0", "B0+h0", 1000),
    RIGHT("1", "h1", 900),
    RIGHT("2", "h2", 900),
    RIGHT("3", "h3", 900),
    RIGHT("0", "i0", 901),   EMIT("0", "B0+i0", 1000),
    RIGHT("1", "i1", 901),   EMIT("1", "B1+i1", 1001),
    RIGHT("2", "i2", 901),
    RIGHT("3", "i3", 901),
    RIGHT("0", "j0", 902),   EMIT("0", "B0+j0", 1000),
    RIGHT("1", "j1", 902),   EMIT("1", "B1+j1", 1001),
    RIGHT("2", "j2", 902),   EMIT("2", "B2+j2", 1002),
    RIGHT("3", "j3", 902),
    RIGHT("0", "k0", 903),   EMIT("0", "B0+k0", 1000),
    RIGHT("1", "k1", 903),   EMIT("1", "B1+k1", 1001),
    RIGHT("2", "k2", 903),   EMIT("2", "B2+k2", 1002),
    RIGHT("3", "k3", 903),   EMIT("3", "B3+k3", 1003),
    /* the same from the left side */
    RIGHT("0", "l0", 2000),
    RIGHT("1", "l1", 2001),
    RIGHT("2", "l2", 2002),
    RIGHT("3", "l3", 2003),
    LEFT("0", "C0", 2100),   EMIT("0", "C0+l0", 2100),
    LEFT("1", "C1", 2100),   EMIT("1", "C1+l1", 2100),
    LEFT("2", "C2", 2100),   EMIT("2", "C2+l2", 2100),
    LEFT("3", "C3", 2100),   EMIT("3", "C3+l3", 2100),
    LEFT("0", "D0", 2101),
    LEFT("1", "D1", 2101),   EMIT("1", "D1+l1", 2101),
    LEFT("2", "D2", 2101),   EMIT("2", "D2+l2", 2101),
    LEFT("3", "D3", 2101),   EMIT("3", "D3+l3", 2101),
    LEFT("0", "E0", 2102),
    LEFT("1", "E1", 2102),
    LEFT("2", "E2", 2102),   EMIT("2", "E2+l2", 2102),
    LEFT("3", "E3", 2102),   EMIT("3", "E3+l3", 2102),
    LEFT("0", "F0", 2103),
    LEFT("1", "F1", 2103),
    LEFT("2", "F2", 2103),
    LEFT("3", "F3", 2103),   EMIT("3", "F3+l3", 2103),
    LEFT("0", "G0", 2104),
    LEFT("1", "G1", 2104),
    LEFT("2", "G2", 2104),
    LEFT("3", "G3", 2104),
    LEFT("0", "H0", 1899),
    LEFT("1", "H1", 1899),
    LEFT("2", "H2", 1899),
    LEFT("3", "H3", 1899),
    LEFT("0", "I0", 1900),   EMIT("0", "I0+l0", 2000),
    LEFT("1", "I1", 1900),
    LEFT("2", "I2", 1900),
    LEFT("3", "I3", 1900),
    LEFT("0", "J0", 1901),   EMIT("0", "J0+l0", 2000),
    LEFT("1", "J1", 1901),   EMIT("1", "J1+l1", 2001),
    LEFT("2", "J2", 1901),
    LEFT("3", "J3", 1901),
    LEFT("0", "K0", 1902),   EMIT("0", "K0+l0", 2000),
    LEFT("1", "K1", 1902),   EMIT("1", "K1+l1", 2001),
    LEFT("2", "K2", 1902),   EMIT("2", "K2+l2", 2002),
    LEFT("3", "K3", 1902),
    LEFT("0", "L0", 1903),   EMIT("0", "L0+l0", 2000),
    LEFT("1", "L1", 1903),   EMIT("1", "L1+l1", 2001),
    LEFT("2", "L2", 1903),   EMIT("2", "L2+l2", 2002),
    LEFT("3", "L3", 1903),   EMIT("3", "L3+l3", 2003),
};

/* KStreamKStreamJoinTest#testAsymmetricWindowingAfter: ofTimeDifferenceWithNoGrace(0)
 * .after(100): a left record at t joins right records in [t, t + 100]. */
static const row_t SS_ASYMMETRIC_AFTER[] = {
    LEFT("0", "A0", 1000),
    LEFT("1", "A1", 1001),
    LEFT("2", "A2", 1002),
    LEFT("3", "A3", 1003),
    RIGHT("0", "a0", 999),
    RIGHT("1", "a1", 999),
    RIGHT("2", "a2", 999),
    RIGHT("3", "a3", 999),
    RIGHT("0", "b0", 1000),  EMIT("0", "A0+b0", 1000),
    RIGHT("1", "b1", 1000),
    RIGHT("2", "b2", 1000),
    RIGHT("3", "b3", 1000),
    RIGHT("0", "c0", 1001),  EMIT("0", "A0+c0", 1001),
    RIGHT("1", "c1", 1001),  EMIT("1", "A1+c1", 1001),
    RIGHT("2", "c2", 1001),
    RIGHT("3", "c3", 1001),
    RIGHT("0", "d0", 1002),  EMIT("0", "A0+d0", 1002),
    RIGHT("1", "d1", 1002),  EMIT("1", "A1+d1", 1002),
    RIGHT("2", "d2", 1002),  EMIT("2", "A2+d2", 1002),
    RIGHT("3", "d3", 1002),
    RIGHT("0", "e0", 1003),  EMIT("0", "A0+e0", 1003),
    RIGHT("1", "e1", 1003),  EMIT("1", "A1+e1", 1003),
    RIGHT("2", "e2", 1003),  EMIT("2", "A2+e2", 1003),
    RIGHT("3", "e3", 1003),  EMIT("3", "A3+e3", 1003),
    RIGHT("0", "f0", 1100),  EMIT("0", "A0+f0", 1100),
    RIGHT("1", "f1", 1100),  EMIT("1", "A1+f1", 1100),
    RIGHT("2", "f2", 1100),  EMIT("2", "A2+f2", 1100),
    RIGHT("3", "f3", 1100),  EMIT("3", "A3+f3", 1100),
    RIGHT("0", "g0", 1101),
    RIGHT("1", "g1", 1101),  EMIT("1", "A1+g1", 1101),
    RIGHT("2", "g2", 1101),  EMIT("2", "A2+g2", 1101),
    RIGHT("3", "g3", 1101),  EMIT("3", "A3+g3", 1101),
    RIGHT("0", "h0", 1102),
    RIGHT("1", "h1", 1102),
    RIGHT("2", "h2", 1102),  EMIT("2", "A2+h2", 1102),
    RIGHT("3", "h3", 1102),  EMIT("3", "A3+h3", 1102),
    RIGHT("0", "i0", 1103),
    RIGHT("1", "i1", 1103),
    RIGHT("2", "i2", 1103),
    RIGHT("3", "i3", 1103),  EMIT("3", "A3+i3", 1103),
    RIGHT("0", "j0", 1104),
    RIGHT("1", "j1", 1104),
    RIGHT("2", "j2", 1104),
    RIGHT("3", "j3", 1104),
};

/* KStreamKStreamJoinTest#testAsymmetricWindowingBefore: ofTimeDifferenceWithNoGrace(0)
 * .before(100): a left record at t joins right records in [t - 100, t]. */
static const row_t SS_ASYMMETRIC_BEFORE[] = {
    LEFT("0", "A0", 1000),
    LEFT("1", "A1", 1001),
    LEFT("2", "A2", 1002),
    LEFT("3", "A3", 1003),
    RIGHT("0", "a0", 899),
    RIGHT("1", "a1", 899),
    RIGHT("2", "a2", 899),
    RIGHT("3", "a3", 899),
    RIGHT("0", "b0", 900),   EMIT("0", "A0+b0", 1000),
    RIGHT("1", "b1", 900),
    RIGHT("2", "b2", 900),
    RIGHT("3", "b3", 900),
    RIGHT("0", "c0", 901),   EMIT("0", "A0+c0", 1000),
    RIGHT("1", "c1", 901),   EMIT("1", "A1+c1", 1001),
    RIGHT("2", "c2", 901),
    RIGHT("3", "c3", 901),
    RIGHT("0", "d0", 902),   EMIT("0", "A0+d0", 1000),
    RIGHT("1", "d1", 902),   EMIT("1", "A1+d1", 1001),
    RIGHT("2", "d2", 902),   EMIT("2", "A2+d2", 1002),
    RIGHT("3", "d3", 902),
    RIGHT("0", "e0", 903),   EMIT("0", "A0+e0", 1000),
    RIGHT("1", "e1", 903),   EMIT("1", "A1+e1", 1001),
    RIGHT("2", "e2", 903),   EMIT("2", "A2+e2", 1002),
    RIGHT("3", "e3", 903),   EMIT("3", "A3+e3", 1003),
    RIGHT("0", "f0", 1000),  EMIT("0", "A0+f0", 1000),
    RIGHT("1", "f1", 1000),  EMIT("1", "A1+f1", 1001),
    RIGHT("2", "f2", 1000),  EMIT("2", "A2+f2", 1002),
    RIGHT("3", "f3", 1000),  EMIT("3", "A3+f3", 1003),
    RIGHT("0", "g0", 1001),
    RIGHT("1", "g1", 1001),  EMIT("1", "A1+g1", 1001),
    RIGHT("2", "g2", 1001),  EMIT("2", "A2+g2", 1002),
    RIGHT("3", "g3", 1001),  EMIT("3", "A3+g3", 1003),
    RIGHT("0", "h0", 1002),
    RIGHT("1", "h1", 1002),
    RIGHT("2", "h2", 1002),  EMIT("2", "A2+h2", 1002),
    RIGHT("3", "h3", 1002),  EMIT("3", "A3+h3", 1003),
    RIGHT("0", "i0", 1003),
    RIGHT("1", "i1", 1003),
    RIGHT("2", "i2", 1003),
    RIGHT("3", "i3", 1003),  EMIT("3", "A3+i3", 1003),
    RIGHT("0", "j0", 1004),
    RIGHT("1", "j1", 1004),
    RIGHT("2", "j2", 1004),
    RIGHT("3", "j3", 1004),
};

/* Not in Kafka Streams' tests: tombstones on either side of a stream-stream join are dropped
 * and counted (StreamStreamJoinUtil.skipRecord: "record.key() == null || record.value() ==
 * null"); they delete nothing, so the records before them still join. Null keys are dropped and
 * counted by an inner join on both sides. */
static const row_t SS_INNER_NULLS[] = {
    RIGHT("0", "a0", 0),
    RIGHT("0", NULL, 1),
    LEFT("0", "A0", 2),     EMIT("0", "A0+a0", 2),
    LEFT("0", NULL, 3),
    RIGHT("0", "b0", 4),    EMIT("0", "A0+b0", 4),
    LEFT(NULL, "m", 5),
    RIGHT(NULL, "n", 6),
};

/* Not in Kafka Streams' tests: records later than grace. ofTimeDifferenceWithNoGrace(100), so
 * each side's window store keeps before + after + grace = 200 ms behind its own stream time.
 * Kafka Streams' join processor drops no late record itself; the late record's put into its
 * store is dropped and counted (the window store's expired-record sensor is the task's
 * dropped-records), and its fetch finds nothing the other store still holds: left A0 at 0 has
 * expired (far more than a RocksDB segment of 60 s behind), and so has nothing the late records
 * could meet. */
static const row_t SS_INNER_LATE[] = {
    LEFT("0", "A0", 0),
    RIGHT("9", "x9", 200000),
    LEFT("9", "y9", 200000), EMIT("9", "y9+x9", 200000),
    RIGHT("0", "a0", 50),
    LEFT("0", "B0", 60),
};

/* Not in Kafka Streams' tests: a record later than grace still joins what the other side's store
 * still holds. Each window store expires by its own observed time: the right store has seen
 * nothing after 0, so b0 is still there for A0 at 50, which stream time (200000, from the left)
 * makes late; A0's own put is dropped and counted, so c0 finds nothing. */
static const row_t SS_INNER_LATE_JOINS[] = {
    RIGHT("0", "b0", 0),
    LEFT("9", "x9", 200000),
    LEFT("0", "A0", 50),     EMIT("0", "A0+b0", 50),
    RIGHT("0", "c0", 60),
};

// clang-format on

static void test_inner_join(void **state)
{
    run(*state, &SCENARIO(SS_INNER, rill_join_windows(100, 0), SS_JOIN));
}

static void test_inner_join_four_partitions(void **state)
{
    scenario_t sc = SCENARIO(SS_INNER, rill_join_windows(100, 0), SS_JOIN);
    sc.partitions = 4;
    run(*state, &sc);
}

static void test_outer_join_all_matched(void **state)
{
    run(*state, &SCENARIO(SS_OUTER, rill_join_windows(100, 24 * 3600 * 1000), SS_JOIN));
}

static void test_inner_windowing(void **state)
{
    run(*state, &SCENARIO(SS_INNER, rill_join_windows(100, 0), SS_WINDOWING));
}

static void test_inner_asymmetric_after(void **state)
{
    rill_join_windows_t w = {.before_ms = 0, .after_ms = 100, .grace_ms = 0};
    run(*state, &SCENARIO(SS_INNER, w, SS_ASYMMETRIC_AFTER));
}

static void test_inner_asymmetric_before(void **state)
{
    rill_join_windows_t w = {.before_ms = 100, .after_ms = 0, .grace_ms = 0};
    run(*state, &SCENARIO(SS_INNER, w, SS_ASYMMETRIC_BEFORE));
}

static void test_inner_tombstones_and_null_keys(void **state)
{
    fixture_t *f = *state;
    run(f, &SCENARIO(SS_INNER, rill_join_windows(100, 0), SS_INNER_NULLS));
    assert_int_equal(rill_test_driver_metric(f->td, "records-skipped"), 4);
}

static void test_inner_late_records(void **state)
{
    fixture_t *f = *state;
    run(f, &SCENARIO(SS_INNER, rill_join_windows(100, 0), SS_INNER_LATE));
    assert_int_equal(dropped(f), 2);
}

static void test_inner_late_record_joins_what_the_other_store_holds(void **state)
{
    fixture_t *f = *state;
    run(f, &SCENARIO(SS_INNER, rill_join_windows(100, 0), SS_INNER_LATE_JOINS));
    assert_int_equal(dropped(f), 1);
}

static void test_inner_late_record_joins_what_the_other_store_holds_in_memory(void **state)
{
    fixture_t *f = *state;
    scenario_t sc = SCENARIO(SS_INNER, rill_join_windows(100, 0), SS_INNER_LATE_JOINS);
    sc.store = "in_memory";
    run(f, &sc);
    assert_int_equal(dropped(f), 1);
}

/* ==== stream-stream left joins ============================================================= */

// clang-format off

/* KStreamKStreamLeftJoinTest#runLeftJoin (testLeftJoinWithDefaultSuppliers, and
 * testLeftJoinWithInMemoryCustomSuppliers with in-memory stores): ofTimeDifferenceWithNoGrace
 * (100), every record at 0 but the last. B2 waits in the outer store until b2 matches it; right
 * records are never emitted unmatched; the dummy at 1000 finds nothing left to expire. */
static const row_t SL_RUN[] = {
    LEFT("0", "A0", 0),
    LEFT("1", "A1", 0),
    RIGHT("0", "a0", 0),    EMIT("0", "A0+a0", 0),
    RIGHT("1", "a1", 0),    EMIT("1", "A1+a1", 0),
    LEFT("0", "B0", 0),     EMIT("0", "B0+a0", 0),
    LEFT("1", "B1", 0),     EMIT("1", "B1+a1", 0),
    LEFT("2", "B2", 0),
    RIGHT("0", "b0", 0),    EMIT("0", "A0+b0", 0), EMIT("0", "B0+b0", 0),
    RIGHT("1", "b1", 0),    EMIT("1", "A1+b1", 0), EMIT("1", "B1+b1", 0),
    RIGHT("2", "b2", 0),    EMIT("2", "B2+b2", 0),
    RIGHT("3", "b3", 0),
    LEFT("0", "C0", 0),     EMIT("0", "C0+a0", 0), EMIT("0", "C0+b0", 0),
    LEFT("1", "C1", 0),     EMIT("1", "C1+a1", 0), EMIT("1", "C1+b1", 0),
    LEFT("2", "C2", 0),     EMIT("2", "C2+b2", 0),
    LEFT("3", "C3", 0),     EMIT("3", "C3+b3", 0),
    LEFT("0", "dummy", 1000),
};

/* KStreamKStreamLeftJoinTest#testLeftJoinDuplicates: ofTimeDifferenceAndGrace(100, 10). The two
 * A0 at 0 share one outer-store key; a0 at 111 is past 0 + 100 + 10 and emits both (from the right
 * processor); a3 at 315 is out of order (stream time 1001), so it emits nothing. */
static const row_t SL_DUPLICATES[] = {
    LEFT("0", "A0", 0),
    LEFT("0", "A0-0", 0),
    RIGHT("1", "a0", 111),   EMIT("0", "A0+null", 0), EMIT("0", "A0-0+null", 0),
    RIGHT("2", "dummy", 500),
    LEFT("2", "A2", 1000),
    LEFT("2", "A2-0", 1000),
    RIGHT("2", "a2", 1001),  EMIT("2", "A2+a2", 1001), EMIT("2", "A2-0+a2", 1001),
    RIGHT("3", "a3", 315),
};

/* KStreamKStreamLeftJoinTest#testLeftExpiredNonJoinedRecordsAreEmittedByTheLeftProcessor:
 * ofTimeDifferenceAndGrace(100, 0). */
static const row_t SL_EXPIRED_BY_LEFT[] = {
    LEFT("0", "A0", 1),
    LEFT("1", "A1", 2),
    LEFT("0", "A0-0", 3),
    RIGHT("1", "a1", 3),        EMIT("1", "A1+a1", 3),
    LEFT("2", "dummy", 401),    EMIT("0", "A0+null", 1), EMIT("0", "A0-0+null", 3),
    RIGHT("2", "dummy", 401),   EMIT("2", "dummy+dummy", 401),
};

/* KStreamKStreamLeftJoinTest#testLeftExpiredNonJoinedRecordsAreEmittedByTheRightProcessor. */
static const row_t SL_EXPIRED_BY_RIGHT[] = {
    LEFT("0", "A0", 1),
    LEFT("1", "A1", 2),
    LEFT("0", "A0-0", 3),
    RIGHT("1", "a1", 3),        EMIT("1", "A1+a1", 3),
    RIGHT("2", "dummy", 401),   EMIT("0", "A0+null", 1), EMIT("0", "A0-0+null", 3),
    LEFT("2", "dummy", 402),    EMIT("2", "dummy+dummy", 402),
};

/* KStreamKStreamLeftJoinTest#testRightNonJoinedRecordsAreNeverEmittedByTheLeftProcessor
 * (ofTimeDifferenceAndGrace(100, 0)) and ...ByTheRightProcessor (ofTimeDifferenceWithNoGrace(100)),
 * which differ in the side of the first dummy only. */
static const row_t SL_RIGHT_NEVER_BY_LEFT[] = {
    RIGHT("0", "A0", 1),
    RIGHT("1", "A1", 2),
    RIGHT("0", "A0-0", 3),
    LEFT("1", "a1", 3),         EMIT("1", "a1+A1", 3),
    LEFT("2", "dummy", 401),
    RIGHT("2", "dummy", 402),   EMIT("2", "dummy+dummy", 402),
};

static const row_t SL_RIGHT_NEVER_BY_RIGHT[] = {
    RIGHT("0", "A0", 1),
    RIGHT("1", "A1", 2),
    RIGHT("0", "A0-0", 3),
    LEFT("1", "a1", 3),         EMIT("1", "a1+A1", 3),
    RIGHT("2", "dummy", 401),
    LEFT("2", "dummy", 402),    EMIT("2", "dummy+dummy", 402),
};

/* KStreamKStreamLeftJoinTest#testLeftJoinedRecordsWithZeroAfterAreEmitted:
 * ofTimeDifferenceWithNoGrace(100).after(0). A left record's window ends at its own timestamp,
 * so the next left record closes it: A0..A2 go out unmatched, and the late right records still
 * join them afterwards (Kafka Streams does not retract the unmatched result). */
static const row_t SL_ZERO_AFTER[] = {
    LEFT("0", "A0", 1000),
    LEFT("1", "A1", 1001),   EMIT("0", "A0+null", 1000),
    LEFT("2", "A2", 1002),   EMIT("1", "A1+null", 1001),
    LEFT("3", "A3", 1003),   EMIT("2", "A2+null", 1002),
    RIGHT("0", "a0", 999),   EMIT("0", "A0+a0", 1000),
    RIGHT("1", "a1", 999),   EMIT("1", "A1+a1", 1001),
    RIGHT("2", "a2", 999),   EMIT("2", "A2+a2", 1002),
    RIGHT("3", "a3", 999),   EMIT("3", "A3+a3", 1003),
    RIGHT("0", "b0", 1000),  EMIT("0", "A0+b0", 1000),
    RIGHT("1", "b1", 1000),  EMIT("1", "A1+b1", 1001),
    RIGHT("2", "b2", 1000),  EMIT("2", "A2+b2", 1002),
    RIGHT("3", "b3", 1000),  EMIT("3", "A3+b3", 1003),
    RIGHT("0", "c0", 1001),
    RIGHT("1", "c1", 1001),  EMIT("1", "A1+c1", 1001),
    RIGHT("2", "c2", 1001),  EMIT("2", "A2+c2", 1002),
    RIGHT("3", "c3", 1001),  EMIT("3", "A3+c3", 1003),
    RIGHT("0", "d0", 1002),
    RIGHT("1", "d1", 1002),
    RIGHT("2", "d2", 1002),  EMIT("2", "A2+d2", 1002),
    RIGHT("3", "d3", 1002),  EMIT("3", "A3+d3", 1003),
    RIGHT("0", "e0", 1003),
    RIGHT("1", "e1", 1003),
    RIGHT("2", "e2", 1003),
    RIGHT("3", "e3", 1003),  EMIT("3", "A3+e3", 1003),
    RIGHT("0", "f0", 1100),
    RIGHT("1", "f1", 1100),
    RIGHT("2", "f2", 1100),
    RIGHT("3", "f3", 1100),
};

/* KStreamKStreamLeftJoinTest#testOrdering: ofTimeDifferenceWithNoGrace(100). The expired A0
 * goes out before a1's own result. */
static const row_t SL_ORDERING[] = {
    LEFT("0", "A0", 0),
    LEFT("1", "A1", 100),
    RIGHT("1", "a1", 110),   EMIT("0", "A0+null", 0), EMIT("1", "A1+a1", 110),
};

/* KStreamKStreamLeftJoinTest#testGracePeriod: ofTimeDifferenceAndGrace(100, 10). */
static const row_t SL_GRACE[] = {
    LEFT("0", "A0", 0),
    LEFT("1", "A1", 0),
    RIGHT("0", "a0", 101),
    RIGHT("1", "a1", 101),
    RIGHT("2", "a2", 101),
    RIGHT("3", "a3", 101),
    RIGHT("0", "dummy", 1201), EMIT("0", "A0+null", 0), EMIT("1", "A1+null", 0),
};

/* KStreamKStreamLeftJoinTest#testWindowing with testUpperWindowBound and testLowerWindowBound:
 * ofTimeDifferenceWithNoGrace(100). In order, unmatched left records wait until the dummy at
 * 1405 closes their windows (KAFKA-10847: no early "+null" that a later match would contradict);
 * out of order (G..K, and the last dummy), a record whose window is already behind stream time
 * goes out unmatched at once. */
static const row_t SL_WINDOWING[] = {
    LEFT("0", "A0", 0),
    LEFT("1", "A1", 0),
    RIGHT("0", "a0", 0),     EMIT("0", "A0+a0", 0),
    RIGHT("1", "a1", 0),     EMIT("1", "A1+a1", 0),
    RIGHT("2", "a2", 0),
    RIGHT("3", "a3", 0),
    /* testUpperWindowBound */
    RIGHT("0", "b0", 1000),
    RIGHT("1", "b1", 1001),
    RIGHT("2", "b2", 1002),
    RIGHT("3", "b3", 1003),
    LEFT("0", "B0", 1100),   EMIT("0", "B0+b0", 1100),
    LEFT("1", "B1", 1100),   EMIT("1", "B1+b1", 1100),
    LEFT("2", "B2", 1100),   EMIT("2", "B2+b2", 1100),
    LEFT("3", "B3", 1100),   EMIT("3", "B3+b3", 1100),
    LEFT("0", "C0", 1101),
    LEFT("1", "C1", 1101),   EMIT("1", "C1+b1", 1101),
    LEFT("2", "C2", 1101),   EMIT("2", "C2+b2", 1101),
    LEFT("3", "C3", 1101),   EMIT("3", "C3+b3", 1101),
    LEFT("0", "D0", 1102),
    LEFT("1", "D1", 1102),
    LEFT("2", "D2", 1102),   EMIT("2", "D2+b2", 1102),
    LEFT("3", "D3", 1102),   EMIT("3", "D3+b3", 1102),
    LEFT("0", "E0", 1103),
    LEFT("1", "E1", 1103),
    LEFT("2", "E2", 1103),
    LEFT("3", "E3", 1103),   EMIT("3", "E3+b3", 1103),
    LEFT("0", "F0", 1104),
    LEFT("1", "F1", 1104),
    LEFT("2", "F2", 1104),
    LEFT("3", "F3", 1104),
    LEFT("0", "dummy", 1405),
        EMIT("0", "C0+null", 1101),
        EMIT("0", "D0+null", 1102), EMIT("1", "D1+null", 1102),
        EMIT("0", "E0+null", 1103), EMIT("1", "E1+null", 1103), EMIT("2", "E2+null", 1103),
        EMIT("0", "F0+null", 1104), EMIT("1", "F1+null", 1104), EMIT("2", "F2+null", 1104),
        EMIT("3", "F3+null", 1104),
    /* testLowerWindowBound */
    LEFT("0", "G0", 899),    EMIT("0", "G0+null", 899),
    LEFT("1", "G1", 899),    EMIT("1", "G1+null", 899),
    LEFT("2", "G2", 899),    EMIT("2", "G2+null", 899),
    LEFT("3", "G3", 899),    EMIT("3", "G3+null", 899),
    LEFT("0", "H0", 900),    EMIT("0", "H0+b0", 1000),
    LEFT("1", "H1", 900),    EMIT("1", "H1+null", 900),
    LEFT("2", "H2", 900),    EMIT("2", "H2+null", 900),
    LEFT("3", "H3", 900),    EMIT("3", "H3+null", 900),
    LEFT("0", "I0", 901),    EMIT("0", "I0+b0", 1000),
    LEFT("1", "I1", 901),    EMIT("1", "I1+b1", 1001),
    LEFT("2", "I2", 901),    EMIT("2", "I2+null", 901),
    LEFT("3", "I3", 901),    EMIT("3", "I3+null", 901),
    LEFT("0", "J0", 902),    EMIT("0", "J0+b0", 1000),
    LEFT("1", "J1", 902),    EMIT("1", "J1+b1", 1001),
    LEFT("2", "J2", 902),    EMIT("2", "J2+b2", 1002),
    LEFT("3", "J3", 902),    EMIT("3", "J3+null", 902),
    LEFT("0", "K0", 903),    EMIT("0", "K0+b0", 1000),
    LEFT("1", "K1", 903),    EMIT("1", "K1+b1", 1001),
    LEFT("2", "K2", 903),    EMIT("2", "K2+b2", 1002),
    LEFT("3", "K3", 903),    EMIT("3", "K3+b3", 1003),
    LEFT("0", "dummy", 1203), EMIT("0", "dummy+null", 1203),
};

/* KStreamKStreamLeftJoinTest#shouldNotEmitLeftJoinResultForAsymmetricWindow:
 * ofTimeDifferenceWithNoGrace(100).before(0). A0's window [0, 100] is still open at 100. */
static const row_t SL_ASYMMETRIC[] = {
    LEFT("0", "A0", 0),
    LEFT("1", "A1", 1),
    RIGHT("0", "a0", 100),   EMIT("0", "A0+a0", 100),
    RIGHT("1", "a1", 102),   EMIT("1", "A1+null", 1),
};

/* Not in Kafka Streams' tests: the grace boundary, both ways, from each side. With
 * ofTimeDifferenceAndGrace(100, 10) A0's window closes only once stream time is strictly past
 * 0 + 100 + 10 (KStreamKStreamJoin.isOuterJoinWindowOpen: "minTime + lookBack + grace >=
 * streamTime" keeps it open): 110 does not emit it, from either side; 111 does. */
static const row_t SL_GRACE_BOUNDARY_RIGHT[] = {
    LEFT("0", "A0", 0),
    RIGHT("9", "r9", 110),
    RIGHT("8", "r8", 111),   EMIT("0", "A0+null", 0),
};

static const row_t SL_GRACE_BOUNDARY_LEFT[] = {
    LEFT("0", "A0", 0),
    LEFT("9", "l9", 110),
    LEFT("8", "l8", 111),    EMIT("0", "A0+null", 0),
};

/* Not in Kafka Streams' tests: out-of-order records within grace, ofTimeDifferenceAndGrace(100,
 * 50). A0 at 90 arrives after stream time 200: its window [0, 190] ends behind stream time, so it
 * goes out unmatched at once ("timeTo < sharedTimeTracker.streamTime"), though a0 within grace
 * still joins it. B2 at 150, whose window still reaches stream time, waits in the outer store, and
 * b2 matches it: no "B2+null" ever. k1 waits until stream time passes 200 + 100 + 50. */
static const row_t SL_OUT_OF_ORDER[] = {
    LEFT("1", "k1", 200),
    LEFT("0", "A0", 90),     EMIT("0", "A0+null", 90),
    RIGHT("0", "a0", 95),    EMIT("0", "A0+a0", 95),
    LEFT("2", "B2", 150),
    RIGHT("2", "b2", 160),   EMIT("2", "B2+b2", 160),
    RIGHT("9", "z9", 350),
    RIGHT("9", "z9", 351),   EMIT("1", "k1+null", 200),
};

/* Not in Kafka Streams' tests: null keys and values in a left join, ofTimeDifferenceWithNoGrace
 * (100). A left record with a null key goes out at once joined with null (KStreamKStreamJoin:
 * "outer && record.key() == null && record.value() != null"); a right one is dropped and counted,
 * as are tombstones on either side. A tombstone still advances stream time (advanceStreamTime
 * comes before the checks) without emitting, so x8 at 150 arrives out of order and emits nothing;
 * y7 at 200, in order, closes A0. */
static const row_t SL_NULLS[] = {
    LEFT("0", "A0", 0),
    LEFT("9", NULL, 200),
    LEFT("8", "x8", 150),
    RIGHT("7", "y7", 200),   EMIT("0", "A0+null", 0),
    RIGHT(NULL, "n", 200),
    LEFT(NULL, "m", 210),    EMIT(NULL, "m+null", 210),
    RIGHT("8", NULL, 220),
    LEFT("6", "z6", 400),    EMIT("8", "x8+null", 150),
};

/* Not in Kafka Streams' tests: records later than grace in a left join, as SS_INNER_LATE. A0 is
 * closed by x9; the late left B0 is not dropped: its window is behind stream time, so it goes out
 * unmatched at once; only its store put is dropped (and the late right a0's). */
static const row_t SL_LATE[] = {
    LEFT("0", "A0", 0),
    RIGHT("9", "x9", 200000), EMIT("0", "A0+null", 0),
    LEFT("9", "y9", 200000),  EMIT("9", "y9+x9", 200000),
    RIGHT("0", "a0", 50),
    LEFT("0", "B0", 60),      EMIT("0", "B0+null", 60),
};

/* Not in Kafka Streams' tests: stream time is a task's, so with 4 partitions (keys "0" and "2"
 * hash to partition 0, "1" and "3" to 3) B1 at 500 does not close A0's window; C2 does. */
static const row_t SL_PER_TASK_TIME[] = {
    LEFT("0", "A0", 0),
    LEFT("1", "B1", 500),
    LEFT("2", "C2", 200),    EMIT_P("0", "A0+null", 0, 0),
    LEFT("3", "D3", 601),    EMIT_P("1", "B1+null", 500, 3),
};

// clang-format on

static void test_left_join(void **state)
{
    run(*state, &SCENARIO(SS_LEFT, rill_join_windows(100, 0), SL_RUN));
}

static void test_left_join_in_memory(void **state)
{
    scenario_t sc = SCENARIO(SS_LEFT, rill_join_windows(100, 0), SL_RUN);
    sc.store = "in_memory";
    run(*state, &sc);
}

static void test_left_duplicates(void **state)
{
    run(*state, &SCENARIO(SS_LEFT, rill_join_windows(100, 10), SL_DUPLICATES));
}

static void test_left_expired_by_left(void **state)
{
    run(*state, &SCENARIO(SS_LEFT, rill_join_windows(100, 0), SL_EXPIRED_BY_LEFT));
}

static void test_left_expired_by_right(void **state)
{
    run(*state, &SCENARIO(SS_LEFT, rill_join_windows(100, 0), SL_EXPIRED_BY_RIGHT));
}

static void test_left_right_never_emitted_by_left(void **state)
{
    run(*state, &SCENARIO(SS_LEFT, rill_join_windows(100, 0), SL_RIGHT_NEVER_BY_LEFT));
}

static void test_left_right_never_emitted_by_right(void **state)
{
    run(*state, &SCENARIO(SS_LEFT, rill_join_windows(100, 0), SL_RIGHT_NEVER_BY_RIGHT));
}

static void test_left_zero_after(void **state)
{
    rill_join_windows_t w = {.before_ms = 100, .after_ms = 0, .grace_ms = 0};
    run(*state, &SCENARIO(SS_LEFT, w, SL_ZERO_AFTER));
}

static void test_left_ordering(void **state)
{
    run(*state, &SCENARIO(SS_LEFT, rill_join_windows(100, 0), SL_ORDERING));
}

static void test_left_grace(void **state)
{
    run(*state, &SCENARIO(SS_LEFT, rill_join_windows(100, 10), SL_GRACE));
}

static void test_left_windowing(void **state)
{
    run(*state, &SCENARIO(SS_LEFT, rill_join_windows(100, 0), SL_WINDOWING));
}

static void test_left_asymmetric(void **state)
{
    rill_join_windows_t w = {.before_ms = 0, .after_ms = 100, .grace_ms = 0};
    run(*state, &SCENARIO(SS_LEFT, w, SL_ASYMMETRIC));
}

static void test_left_grace_boundary_from_right(void **state)
{
    run(*state, &SCENARIO(SS_LEFT, rill_join_windows(100, 10), SL_GRACE_BOUNDARY_RIGHT));
}

static void test_left_grace_boundary_from_left(void **state)
{
    run(*state, &SCENARIO(SS_LEFT, rill_join_windows(100, 10), SL_GRACE_BOUNDARY_LEFT));
}

static void test_left_out_of_order_within_grace(void **state)
{
    run(*state, &SCENARIO(SS_LEFT, rill_join_windows(100, 50), SL_OUT_OF_ORDER));
}

static void test_left_null_keys_and_values(void **state)
{
    fixture_t *f = *state;
    run(f, &SCENARIO(SS_LEFT, rill_join_windows(100, 0), SL_NULLS));
    assert_int_equal(rill_test_driver_metric(f->td, "records-skipped"), 3);
}

static void test_left_late_records(void **state)
{
    fixture_t *f = *state;
    run(f, &SCENARIO(SS_LEFT, rill_join_windows(100, 0), SL_LATE));
    assert_int_equal(dropped(f), 2);
}

static void test_left_stream_time_per_task(void **state)
{
    scenario_t sc = SCENARIO(SS_LEFT, rill_join_windows(100, 0), SL_PER_TASK_TIME);
    sc.partitions = 4;
    sc.show_partitions = true;
    run(*state, &sc);
}

/* ==== stream-stream outer joins ============================================================ */

// clang-format off

/* KStreamKStreamOuterJoinTest#runOuterJoin (testOuterJoinWithDefaultSuppliers):
 * ofTimeDifferenceWithNoGrace(100), every record at 0 but the dummy; the Long right values of the
 * Java test are strings. Every record finds a match in the end, so the dummy emits nothing. */
static const row_t SO_RUN[] = {
    LEFT("0", "A0", 0),
    LEFT("1", "A1", 0),
    RIGHT("0", "10", 0),    EMIT("0", "A0+10", 0),
    RIGHT("1", "11", 0),    EMIT("1", "A1+11", 0),
    LEFT("0", "B0", 0),     EMIT("0", "B0+10", 0),
    LEFT("1", "B1", 0),     EMIT("1", "B1+11", 0),
    LEFT("2", "B2", 0),
    RIGHT("0", "20", 0),    EMIT("0", "A0+20", 0), EMIT("0", "B0+20", 0),
    RIGHT("1", "21", 0),    EMIT("1", "A1+21", 0), EMIT("1", "B1+21", 0),
    RIGHT("2", "22", 0),    EMIT("2", "B2+22", 0),
    RIGHT("3", "23", 0),
    LEFT("0", "C0", 0),     EMIT("0", "C0+10", 0), EMIT("0", "C0+20", 0),
    LEFT("1", "C1", 0),     EMIT("1", "C1+11", 0), EMIT("1", "C1+21", 0),
    LEFT("2", "C2", 0),     EMIT("2", "C2+22", 0),
    LEFT("3", "C3", 0),     EMIT("3", "C3+23", 0),
    LEFT("0", "dummy", 400),
};

/* KStreamKStreamOuterJoinTest#testOuterJoinDuplicates: ofTimeDifferenceAndGrace(100, 10).
 * Unmatched records of both sides in one outer store, emitted in its order: timestamp, then
 * right before left. */
static const row_t SO_DUPLICATES[] = {
    LEFT("0", "A0", 0),
    LEFT("0", "A0-0", 0),
    RIGHT("1", "11", 0),
    RIGHT("1", "12", 0),
    RIGHT("1", "10", 111),
        EMIT("1", "null+11", 0), EMIT("1", "null+12", 0),
        EMIT("0", "A0+null", 0), EMIT("0", "A0-0+null", 0),
    RIGHT("3", "100", 211),
    LEFT("2", "A2", 200),
    LEFT("2", "A2-0", 200),
    RIGHT("2", "13", 201),   EMIT("2", "A2+13", 201), EMIT("2", "A2-0+13", 201),
    RIGHT("2", "14", 201),   EMIT("2", "A2+14", 201), EMIT("2", "A2-0+14", 201),
    RIGHT("3", "100", 1500), EMIT("1", "null+10", 111), EMIT("3", "null+100", 211),
};

/* KStreamKStreamOuterJoinTest#testLeftExpiredNonJoinedRecordsAreEmittedByTheLeftProcessor
 * (ofTimeDifferenceWithNoGrace(100)). */
static const row_t SO_LEFT_EXPIRED_BY_LEFT[] = {
    LEFT("0", "A0", 1),
    LEFT("1", "A1", 2),
    LEFT("0", "A0-0", 3),
    RIGHT("1", "11", 3),      EMIT("1", "A1+11", 3),
    LEFT("2", "dummy", 401),  EMIT("0", "A0+null", 1), EMIT("0", "A0-0+null", 3),
    RIGHT("2", "100", 401),   EMIT("2", "dummy+100", 401),
};

/* KStreamKStreamOuterJoinTest#testLeftExpiredNonJoinedRecordsAreEmittedByTheRightProcessor
 * (ofTimeDifferenceAndGrace(100, 0)). */
static const row_t SO_LEFT_EXPIRED_BY_RIGHT[] = {
    LEFT("0", "A0", 1),
    LEFT("1", "A1", 2),
    LEFT("0", "A0-0", 3),
    RIGHT("1", "11", 3),      EMIT("1", "A1+11", 3),
    RIGHT("2", "100", 401),   EMIT("0", "A0+null", 1), EMIT("0", "A0-0+null", 3),
    LEFT("2", "dummy", 402),  EMIT("2", "dummy+100", 402),
};

/* KStreamKStreamOuterJoinTest#testRightExpiredNonJoinedRecordsAreEmittedByTheLeftProcessor
 * (ofTimeDifferenceWithNoGrace(100)). */
static const row_t SO_RIGHT_EXPIRED_BY_LEFT[] = {
    RIGHT("0", "10", 1),
    RIGHT("1", "11", 2),
    RIGHT("0", "12", 3),
    LEFT("1", "A1", 3),       EMIT("1", "A1+11", 3),
    LEFT("2", "dummy", 401),  EMIT("0", "null+10", 1), EMIT("0", "null+12", 3),
    RIGHT("2", "100", 402),   EMIT("2", "dummy+100", 402),
};

/* KStreamKStreamOuterJoinTest#testRightExpiredNonJoinedRecordsAreEmittedByTheRightProcessor
 * (ofTimeDifferenceAndGrace(100, 0)). */
static const row_t SO_RIGHT_EXPIRED_BY_RIGHT[] = {
    RIGHT("0", "10", 1),
    RIGHT("1", "11", 2),
    RIGHT("0", "12", 3),
    LEFT("1", "A1", 3),       EMIT("1", "A1+11", 3),
    RIGHT("2", "100", 401),   EMIT("0", "null+10", 1), EMIT("0", "null+12", 3),
    LEFT("2", "dummy", 402),  EMIT("2", "dummy+100", 402),
};

/* KStreamKStreamOuterJoinTest#testOrdering: ofTimeDifferenceWithNoGrace(100). */
static const row_t SO_ORDERING[] = {
    LEFT("0", "A0", 0),
    LEFT("1", "A1", 100),
    RIGHT("1", "11", 110),    EMIT("0", "A0+null", 0), EMIT("1", "A1+11", 110),
};

/* KStreamKStreamOuterJoinTest#testGracePeriod: ofTimeDifferenceAndGrace(100, 10); the right
 * record at 0 goes out before the left one at 0. */
static const row_t SO_GRACE[] = {
    LEFT("0", "A0", 0),
    RIGHT("1", "11", 0),
    LEFT("1", "A1", 101),
    RIGHT("0", "10", 101),
    RIGHT("0", "100", 112),   EMIT("1", "null+11", 0), EMIT("0", "A0+null", 0),
};

/* KStreamKStreamOuterJoinTest#testEmitAllNonJoinedResultsForAsymmetricWindow:
 * ofTimeDifferenceWithNoGrace(5).after(20): left records close at t + 20, right ones at t + 5,
 * so the scan of the outer store skips still-open left records to emit closed right ones. */
static const row_t SO_ASYMMETRIC_EMIT_ALL[] = {
    LEFT("0", "A0", 29),
    LEFT("1", "A1", 30),
    RIGHT("2", "12", 31),
    RIGHT("3", "13", 36),
    RIGHT("4", "14", 37),     EMIT("2", "null+12", 31),
    RIGHT("5", "15", 50),
        EMIT("0", "A0+null", 29), EMIT("3", "null+13", 36), EMIT("4", "null+14", 37),
};

/* KStreamKStreamOuterJoinTest#testShouldNotEmitLeftJoinResultForAsymmetricBeforeWindow:
 * ofTimeDifferenceWithNoGrace(100).before(0). */
static const row_t SO_ASYMMETRIC_BEFORE[] = {
    LEFT("0", "A0", 0),
    LEFT("1", "A1", 1),
    RIGHT("0", "10", 100),    EMIT("0", "A0+10", 100),
    RIGHT("1", "11", 102),    EMIT("1", "A1+null", 1),
    RIGHT("2", "12", 103),    EMIT("1", "null+11", 102),
    LEFT("2", "A2", 103),     EMIT("2", "A2+12", 103),
};

/* KStreamKStreamOuterJoinTest#testShouldNotEmitLeftJoinResultForAsymmetricAfterWindow:
 * ofTimeDifferenceWithNoGrace(100).after(0). */
static const row_t SO_ASYMMETRIC_AFTER[] = {
    LEFT("0", "A0", 0),
    LEFT("1", "A1", 1),       EMIT("0", "A0+null", 0),
    RIGHT("1", "11", 1),      EMIT("1", "A1+11", 1),
    RIGHT("2", "12", 101),
    RIGHT("3", "13", 101),
    LEFT("2", "A2", 201),     EMIT("2", "A2+12", 201),
};

/* KStreamKStreamJoinTest#shouldThrottleEmitNonJoinedOuterRecordsEvenWhenClockDrift, through the
 * DSL instead of a hand-made right-side processor: ofTimeDifferenceWithNoGrace(1000) and the
 * default emit interval, 1000 ms of wall-clock time between two scans of the outer store (the
 * next one due at the last scan's wall-clock time plus the interval). At 2500 the scan is not
 * due, so key2, already closed, waits for the one at 4000. */
static const row_t SO_THROTTLE[] = {
    CLOCK(1000),
    RIGHT("key1", "value1", 10000),
    CLOCK(1100),
    RIGHT("key2", "value2", 13000), EMIT("key1", "null+value1", 10000),
    CLOCK(400),
    RIGHT("key3", "value3", 15000),
    CLOCK(1500),
    RIGHT("key4", "value4", 17000),
        EMIT("key2", "null+value2", 13000), EMIT("key3", "null+value3", 15000),
};

/* Not in Kafka Streams' tests: the grace boundary for records of both sides,
 * ofTimeDifferenceAndGrace(100, 10): at 110 neither A0 nor b1 (both at 0) has closed, from
 * either side; at 111 both have. */
static const row_t SO_GRACE_BOUNDARY[] = {
    LEFT("0", "A0", 0),
    RIGHT("1", "b1", 0),
    LEFT("9", "x9", 110),
    RIGHT("8", "y8", 110),
    RIGHT("7", "z7", 111),    EMIT("1", "null+b1", 0), EMIT("0", "A0+null", 0),
};

/* Not in Kafka Streams' tests: asymmetric windows with grace, before 50, after 100, grace 10: a
 * left record closes once stream time passes t + 110, a right one t + 60. b1 closes at 61. A0 has
 * closed at 111, yet neither l6 nor r5 at 111 emits it: Kafka Streams scans the outer store only
 * when "minTime + joinAfterMs + joinGraceMs < streamTime", where minTime is where the last scan
 * stopped (r9 at 60, past the still-open A0) and joinAfterMs the processor's own: 100 for the left
 * one, 50 for the right one. r4 at 121 passes that gate and emits both A0 and r9. */
static const row_t SO_EMISSION_GATE[] = {
    RIGHT("1", "b1", 0),
    LEFT("0", "A0", 0),
    RIGHT("9", "r9", 60),
    RIGHT("8", "r8", 61),     EMIT("1", "null+b1", 0),
    LEFT("7", "l7", 110),
    LEFT("6", "l6", 111),
    RIGHT("5", "r5", 111),
    RIGHT("4", "r4", 121),    EMIT("0", "A0+null", 0), EMIT("9", "null+r9", 60),
};

/* Not in Kafka Streams' tests: out-of-order records of both sides with asymmetric windows,
 * before 10, after 100, grace 50, at stream time 200. A left record's window ends at t + 100, a
 * right one's at t + 10 (the right processor swaps before and after): r2 at 185 (195 < 200) and
 * l3 at 99 (199 < 200) go out unmatched at once, r1 at 195 and l4 at 100 (200, not behind stream
 * time) wait in the outer store until stream time passes 195 + 10 + 50 and 100 + 100 + 50. */
static const row_t SO_OUT_OF_ORDER[] = {
    LEFT("0", "k0", 200),
    RIGHT("1", "r1", 195),
    RIGHT("2", "r2", 185),    EMIT("2", "null+r2", 185),
    LEFT("3", "l3", 99),      EMIT("3", "l3+null", 99),
    LEFT("4", "l4", 100),
    RIGHT("9", "z9", 256),    EMIT("4", "l4+null", 100), EMIT("1", "null+r1", 195),
};

/* Not in Kafka Streams' tests: null keys in an outer join go out at once from both sides, joined
 * with null; tombstones are dropped and counted on both sides. */
static const row_t SO_NULLS[] = {
    LEFT(NULL, "m", 5),       EMIT(NULL, "m+null", 5),
    RIGHT(NULL, "n", 6),      EMIT(NULL, "null+n", 6),
    LEFT(NULL, NULL, 7),
    RIGHT("0", NULL, 8),
    LEFT("0", NULL, 9),
};

// clang-format on

static void test_outer_join(void **state)
{
    run(*state, &SCENARIO(SS_OUTER, rill_join_windows(100, 0), SO_RUN));
}

static void test_outer_duplicates(void **state)
{
    run(*state, &SCENARIO(SS_OUTER, rill_join_windows(100, 10), SO_DUPLICATES));
}

static void test_outer_left_expired_by_left(void **state)
{
    run(*state, &SCENARIO(SS_OUTER, rill_join_windows(100, 0), SO_LEFT_EXPIRED_BY_LEFT));
}

static void test_outer_left_expired_by_right(void **state)
{
    run(*state, &SCENARIO(SS_OUTER, rill_join_windows(100, 0), SO_LEFT_EXPIRED_BY_RIGHT));
}

static void test_outer_right_expired_by_left(void **state)
{
    run(*state, &SCENARIO(SS_OUTER, rill_join_windows(100, 0), SO_RIGHT_EXPIRED_BY_LEFT));
}

static void test_outer_right_expired_by_right(void **state)
{
    run(*state, &SCENARIO(SS_OUTER, rill_join_windows(100, 0), SO_RIGHT_EXPIRED_BY_RIGHT));
}

static void test_outer_ordering(void **state)
{
    run(*state, &SCENARIO(SS_OUTER, rill_join_windows(100, 0), SO_ORDERING));
}

static void test_outer_grace(void **state)
{
    run(*state, &SCENARIO(SS_OUTER, rill_join_windows(100, 10), SO_GRACE));
}

static void test_outer_asymmetric_emit_all(void **state)
{
    rill_join_windows_t w = {.before_ms = 5, .after_ms = 20, .grace_ms = 0};
    run(*state, &SCENARIO(SS_OUTER, w, SO_ASYMMETRIC_EMIT_ALL));
}

static void test_outer_asymmetric_before(void **state)
{
    rill_join_windows_t w = {.before_ms = 0, .after_ms = 100, .grace_ms = 0};
    run(*state, &SCENARIO(SS_OUTER, w, SO_ASYMMETRIC_BEFORE));
}

static void test_outer_asymmetric_after(void **state)
{
    rill_join_windows_t w = {.before_ms = 100, .after_ms = 0, .grace_ms = 0};
    run(*state, &SCENARIO(SS_OUTER, w, SO_ASYMMETRIC_AFTER));
}

static void test_outer_emit_interval(void **state)
{
    scenario_t sc = SCENARIO(SS_OUTER, rill_join_windows(1000, 0), SO_THROTTLE);
    sc.emit_interval = ""; /* the default, 1000 */
    run(*state, &sc);
}

static void test_outer_grace_boundary(void **state)
{
    run(*state, &SCENARIO(SS_OUTER, rill_join_windows(100, 10), SO_GRACE_BOUNDARY));
}

static void test_outer_emission_gate(void **state)
{
    rill_join_windows_t w = {.before_ms = 50, .after_ms = 100, .grace_ms = 10};
    run(*state, &SCENARIO(SS_OUTER, w, SO_EMISSION_GATE));
}

static void test_outer_out_of_order_asymmetric(void **state)
{
    rill_join_windows_t w = {.before_ms = 10, .after_ms = 100, .grace_ms = 50};
    run(*state, &SCENARIO(SS_OUTER, w, SO_OUT_OF_ORDER));
}

static void test_outer_null_keys_and_values(void **state)
{
    fixture_t *f = *state;
    run(f, &SCENARIO(SS_OUTER, rill_join_windows(100, 0), SO_NULLS));
    assert_int_equal(rill_test_driver_metric(f->td, "records-skipped"), 3);
}

/* ==== stream-table joins (the stream is "left", the table "right") ========================= */

// clang-format off

/* KStreamKTableJoinTest#shouldNotJoinOnTableUpdates, a stream record at ts i for key i: table
 * updates emit nothing; a stream record joins the table's value at that moment, stamped with its
 * own timestamp. The Java test gives table updates random timestamps: a non-versioned table
 * ignores them, so here they are 100 + i. */
static const row_t ST_INNER_TABLE_UPDATES[] = {
    LEFT("0", "X0", 0),
    LEFT("1", "X1", 1),
    RIGHT("0", "Y0", 100),
    RIGHT("1", "Y1", 101),
    LEFT("0", "X0", 0),      EMIT("0", "X0+Y0", 0),
    LEFT("1", "X1", 1),      EMIT("1", "X1+Y1", 1),
    LEFT("2", "X2", 2),
    LEFT("3", "X3", 3),
    RIGHT("0", "YY0", 100),
    RIGHT("1", "YY1", 101),
    RIGHT("2", "YY2", 102),
    RIGHT("3", "YY3", 103),
    LEFT("0", "X0", 0),      EMIT("0", "X0+YY0", 0),
    LEFT("1", "X1", 1),      EMIT("1", "X1+YY1", 1),
    LEFT("2", "X2", 2),      EMIT("2", "X2+YY2", 2),
    LEFT("3", "X3", 3),      EMIT("3", "X3+YY3", 3),
    RIGHT("0", "YYY0", 100),
    RIGHT("1", "YYY1", 101),
    RIGHT("2", "YYY2", 102),
    RIGHT("3", "YYY3", 103),
};

/* KStreamKTableJoinTest#shouldClearTableEntryOnNullValueUpdates: a table tombstone (at 0, older
 * than the row: a non-versioned table deletes anyway) removes the row. */
static const row_t ST_INNER_TABLE_TOMBSTONES[] = {
    RIGHT("0", "Y0", 100),
    RIGHT("1", "Y1", 101),
    RIGHT("2", "Y2", 102),
    RIGHT("3", "Y3", 103),
    LEFT("0", "X0", 0),      EMIT("0", "X0+Y0", 0),
    LEFT("1", "X1", 1),      EMIT("1", "X1+Y1", 1),
    LEFT("2", "X2", 2),      EMIT("2", "X2+Y2", 2),
    LEFT("3", "X3", 3),      EMIT("3", "X3+Y3", 3),
    RIGHT("0", NULL, 0),
    RIGHT("1", NULL, 0),
    LEFT("0", "XX0", 0),
    LEFT("1", "XX1", 1),
    LEFT("2", "XX2", 2),     EMIT("2", "XX2+Y2", 2),
    LEFT("3", "XX3", 3),     EMIT("3", "XX3+Y3", 3),
};

/* KStreamKTableLeftJoinTest#shouldNotJoinOnTableUpdates (timestamps as above). */
static const row_t ST_LEFT_TABLE_UPDATES[] = {
    LEFT("0", "X0", 0),      EMIT("0", "X0+null", 0),
    LEFT("1", "X1", 1),      EMIT("1", "X1+null", 1),
    RIGHT("0", "Y0", 100),
    RIGHT("1", "Y1", 101),
    LEFT("0", "X0", 0),      EMIT("0", "X0+Y0", 0),
    LEFT("1", "X1", 1),      EMIT("1", "X1+Y1", 1),
    LEFT("2", "X2", 2),      EMIT("2", "X2+null", 2),
    LEFT("3", "X3", 3),      EMIT("3", "X3+null", 3),
    RIGHT("0", "YY0", 100),
    RIGHT("1", "YY1", 101),
    RIGHT("2", "YY2", 102),
    RIGHT("3", "YY3", 103),
    LEFT("0", "X0", 0),      EMIT("0", "X0+YY0", 0),
    LEFT("1", "X1", 1),      EMIT("1", "X1+YY1", 1),
    LEFT("2", "X2", 2),      EMIT("2", "X2+YY2", 2),
    LEFT("3", "X3", 3),      EMIT("3", "X3+YY3", 3),
    RIGHT("0", "YYY0", 100),
    RIGHT("1", "YYY1", 101),
    RIGHT("2", "YYY2", 102),
    RIGHT("3", "YYY3", 103),
};

/* KStreamKTableLeftJoinTest#shouldClearTableEntryOnNullValueUpdates. */
static const row_t ST_LEFT_TABLE_TOMBSTONES[] = {
    RIGHT("0", "Y0", 100),
    RIGHT("1", "Y1", 101),
    RIGHT("2", "Y2", 102),
    RIGHT("3", "Y3", 103),
    LEFT("0", "X0", 0),      EMIT("0", "X0+Y0", 0),
    LEFT("1", "X1", 1),      EMIT("1", "X1+Y1", 1),
    LEFT("2", "X2", 2),      EMIT("2", "X2+Y2", 2),
    LEFT("3", "X3", 3),      EMIT("3", "X3+Y3", 3),
    RIGHT("0", NULL, 0),
    RIGHT("1", NULL, 0),
    LEFT("0", "XX0", 0),     EMIT("0", "XX0+null", 0),
    LEFT("1", "XX1", 1),     EMIT("1", "XX1+null", 1),
    LEFT("2", "XX2", 2),     EMIT("2", "XX2+Y2", 2),
    LEFT("3", "XX3", 3),     EMIT("3", "XX3+Y3", 3),
};

/* KStreamKTableJoinTest#shouldLogAndMeterWhenSkippingNullLeftKey and ...NullLeftValue, and a
 * null-key table record (KTableSource drops and counts it). */
static const row_t ST_INNER_NULLS[] = {
    RIGHT("0", "Y0", 0),
    LEFT(NULL, "X", 1),
    LEFT("0", NULL, 2),
    RIGHT(NULL, "Z", 3),
    LEFT("0", "X0", 4),      EMIT("0", "X0+Y0", 4),
};

/* Not in Kafka Streams' tests: Kafka Streams 4.x lets a null-key stream record through a left
 * join, joined with null (KStreamKTableJoinProcessor.maybeDropRecord: "leftJoin && record.key() ==
 * null && record.value() != null" is not dropped); a null value is still dropped and counted. */
static const row_t ST_LEFT_NULLS[] = {
    RIGHT("0", "Y0", 0),
    LEFT(NULL, "X", 1),      EMIT(NULL, "X+null", 1),
    LEFT("0", NULL, 2),
    RIGHT(NULL, "Z", 3),
    LEFT("0", "X0", 4),      EMIT("0", "X0+Y0", 4),
};

/* ==== table-table joins ==================================================================== */

/* KTableKTableInnerJoinTest#testJoin (doTestJoin): results stamped max of both rows'
 * timestamps; a delete of either side retracts the result (a tombstone); null keys are dropped. */
static const row_t TT_INNER_KS[] = {
    LEFT("0", "X0", 5),
    LEFT("1", "X1", 6),
    LEFT(NULL, "SomeVal", 42),
    RIGHT("0", "Y0", 0),     EMIT("0", "X0+Y0", 5),
    RIGHT("1", "Y1", 10),    EMIT("1", "X1+Y1", 10),
    RIGHT(NULL, "AnotherVal", 73),
    LEFT("0", "XX0", 7),     EMIT("0", "XX0+Y0", 7),
    LEFT("1", "XX1", 7),     EMIT("1", "XX1+Y1", 10),
    LEFT("2", "XX2", 7),
    LEFT("3", "XX3", 7),
    RIGHT("0", "YY0", 0),    EMIT("0", "XX0+YY0", 7),
    RIGHT("1", "YY1", 5),    EMIT("1", "XX1+YY1", 7),
    RIGHT("2", "YY2", 10),   EMIT("2", "XX2+YY2", 10),
    RIGHT("3", "YY3", 15),   EMIT("3", "XX3+YY3", 15),
    LEFT("0", "XXX0", 6),    EMIT("0", "XXX0+YY0", 6),
    LEFT("1", "XXX1", 6),    EMIT("1", "XXX1+YY1", 6),
    LEFT("2", "XXX2", 6),    EMIT("2", "XXX2+YY2", 10),
    LEFT("3", "XXX3", 6),    EMIT("3", "XXX3+YY3", 15),
    RIGHT("0", NULL, 5),     EMIT("0", NULL, 6),
    RIGHT("1", NULL, 7),     EMIT("1", NULL, 7),
    LEFT("0", "XXXX0", 13),
    LEFT("1", "XXXX1", 13),
    LEFT("2", "XXXX2", 13),  EMIT("2", "XXXX2+YY2", 13),
    LEFT("3", "XXXX3", 13),  EMIT("3", "XXXX3+YY3", 15),
    LEFT("0", NULL, 0),
    LEFT("1", NULL, 42),
    LEFT("2", NULL, 5),      EMIT("2", NULL, 10),
    LEFT("3", NULL, 20),     EMIT("3", NULL, 20),
};

/* KTableKTableLeftJoinTest#testJoin: a right delete turns the result into "X+null"; a left
 * delete is a tombstone, stamped with the right row's timestamp when it is later. Also run with 4
 * partitions. */
static const row_t TT_LEFT_KS[] = {
    LEFT("0", "X0", 5),      EMIT("0", "X0+null", 5),
    LEFT("1", "X1", 6),      EMIT("1", "X1+null", 6),
    LEFT(NULL, "SomeVal", 42),
    RIGHT("0", "Y0", 0),     EMIT("0", "X0+Y0", 5),
    RIGHT("1", "Y1", 10),    EMIT("1", "X1+Y1", 10),
    RIGHT(NULL, "AnotherVal", 73),
    LEFT("0", "XX0", 7),     EMIT("0", "XX0+Y0", 7),
    LEFT("1", "XX1", 7),     EMIT("1", "XX1+Y1", 10),
    LEFT("2", "XX2", 7),     EMIT("2", "XX2+null", 7),
    LEFT("3", "XX3", 7),     EMIT("3", "XX3+null", 7),
    RIGHT("0", "YY0", 0),    EMIT("0", "XX0+YY0", 7),
    RIGHT("1", "YY1", 5),    EMIT("1", "XX1+YY1", 7),
    RIGHT("2", "YY2", 10),   EMIT("2", "XX2+YY2", 10),
    RIGHT("3", "YY3", 15),   EMIT("3", "XX3+YY3", 15),
    LEFT("0", "XXX0", 6),    EMIT("0", "XXX0+YY0", 6),
    LEFT("1", "XXX1", 6),    EMIT("1", "XXX1+YY1", 6),
    LEFT("2", "XXX2", 6),    EMIT("2", "XXX2+YY2", 10),
    LEFT("3", "XXX3", 6),    EMIT("3", "XXX3+YY3", 15),
    RIGHT("0", NULL, 5),     EMIT("0", "XXX0+null", 6),
    RIGHT("1", NULL, 7),     EMIT("1", "XXX1+null", 7),
    LEFT("0", "XXXX0", 13),  EMIT("0", "XXXX0+null", 13),
    LEFT("1", "XXXX1", 13),  EMIT("1", "XXXX1+null", 13),
    LEFT("2", "XXXX2", 13),  EMIT("2", "XXXX2+YY2", 13),
    LEFT("3", "XXXX3", 13),  EMIT("3", "XXXX3+YY3", 15),
    LEFT("0", NULL, 0),      EMIT("0", NULL, 0),
    LEFT("1", NULL, 42),     EMIT("1", NULL, 42),
    LEFT("2", NULL, 5),      EMIT("2", NULL, 10),
    LEFT("3", NULL, 20),     EMIT("3", NULL, 20),
};

/* KTableKTableOuterJoinTest#testJoin: as the left join, and a key whose left row is deleted
 * while its right row remains becomes "null+Y". */
static const row_t TT_OUTER_KS[] = {
    LEFT("0", "X0", 5),      EMIT("0", "X0+null", 5),
    LEFT("1", "X1", 6),      EMIT("1", "X1+null", 6),
    LEFT(NULL, "SomeVal", 42),
    RIGHT("0", "Y0", 0),     EMIT("0", "X0+Y0", 5),
    RIGHT("1", "Y1", 10),    EMIT("1", "X1+Y1", 10),
    RIGHT(NULL, "AnotherVal", 73),
    LEFT("0", "XX0", 7),     EMIT("0", "XX0+Y0", 7),
    LEFT("1", "XX1", 7),     EMIT("1", "XX1+Y1", 10),
    LEFT("2", "XX2", 7),     EMIT("2", "XX2+null", 7),
    LEFT("3", "XX3", 7),     EMIT("3", "XX3+null", 7),
    RIGHT("0", "YY0", 0),    EMIT("0", "XX0+YY0", 7),
    RIGHT("1", "YY1", 5),    EMIT("1", "XX1+YY1", 7),
    RIGHT("2", "YY2", 10),   EMIT("2", "XX2+YY2", 10),
    RIGHT("3", "YY3", 15),   EMIT("3", "XX3+YY3", 15),
    LEFT("0", "XXX0", 6),    EMIT("0", "XXX0+YY0", 6),
    LEFT("1", "XXX1", 6),    EMIT("1", "XXX1+YY1", 6),
    LEFT("2", "XXX2", 6),    EMIT("2", "XXX2+YY2", 10),
    LEFT("3", "XXX3", 6),    EMIT("3", "XXX3+YY3", 15),
    RIGHT("0", NULL, 5),     EMIT("0", "XXX0+null", 6),
    RIGHT("1", NULL, 7),     EMIT("1", "XXX1+null", 7),
    LEFT("0", "XXXX0", 13),  EMIT("0", "XXXX0+null", 13),
    LEFT("1", "XXXX1", 13),  EMIT("1", "XXXX1+null", 13),
    LEFT("2", "XXXX2", 13),  EMIT("2", "XXXX2+YY2", 13),
    LEFT("3", "XXXX3", 13),  EMIT("3", "XXXX3+YY3", 15),
    LEFT("0", NULL, 0),      EMIT("0", NULL, 0),
    LEFT("1", NULL, 42),     EMIT("1", NULL, 42),
    LEFT("2", NULL, 5),      EMIT("2", "null+YY2", 10),
    LEFT("3", NULL, 20),     EMIT("3", "null+YY3", 20),
};

/* Not in Kafka Streams' tests: rows of one side only, and deletes of each side, in the three
 * joins (KTableKTable{Inner,Left,Right,Outer}Join.process). Key 8 only ever has a right row. */
static const row_t TT_INNER_ONE_SIDED[] = {
    RIGHT("8", "Y8", 1),
    RIGHT("8", NULL, 2),
    RIGHT("9", "Y9", 3),
    LEFT("9", "X9", 5),      EMIT("9", "X9+Y9", 5),
    RIGHT("9", NULL, 6),     EMIT("9", NULL, 6),
    LEFT("9", NULL, 7),
};

static const row_t TT_LEFT_ONE_SIDED[] = {
    RIGHT("8", "Y8", 1),
    RIGHT("8", NULL, 2),
    RIGHT("9", "Y9", 3),
    LEFT("9", "X9", 5),      EMIT("9", "X9+Y9", 5),
    RIGHT("9", NULL, 6),     EMIT("9", "X9+null", 6),
    LEFT("9", NULL, 7),      EMIT("9", NULL, 7),
};

static const row_t TT_OUTER_ONE_SIDED[] = {
    RIGHT("8", "Y8", 1),     EMIT("8", "null+Y8", 1),
    RIGHT("8", NULL, 2),     EMIT("8", NULL, 2),
    RIGHT("9", "Y9", 3),     EMIT("9", "null+Y9", 3),
    LEFT("9", "X9", 5),      EMIT("9", "X9+Y9", 5),
    RIGHT("9", NULL, 6),     EMIT("9", "X9+null", 6),
    LEFT("9", NULL, 7),      EMIT("9", NULL, 7),
};

// clang-format on

static void test_stream_table_join(void **state)
{
    run(*state, &SCENARIO(ST_INNER, (rill_join_windows_t){0}, ST_INNER_TABLE_UPDATES));
}

static void test_stream_table_join_table_tombstones(void **state)
{
    run(*state, &SCENARIO(ST_INNER, (rill_join_windows_t){0}, ST_INNER_TABLE_TOMBSTONES));
}

static void test_stream_table_left_join(void **state)
{
    run(*state, &SCENARIO(ST_LEFT, (rill_join_windows_t){0}, ST_LEFT_TABLE_UPDATES));
}

static void test_stream_table_left_join_table_tombstones(void **state)
{
    run(*state, &SCENARIO(ST_LEFT, (rill_join_windows_t){0}, ST_LEFT_TABLE_TOMBSTONES));
}

static void test_stream_table_join_nulls(void **state)
{
    fixture_t *f = *state;
    run(f, &SCENARIO(ST_INNER, (rill_join_windows_t){0}, ST_INNER_NULLS));
    assert_int_equal(rill_test_driver_metric(f->td, "records-skipped"), 3);
}

static void test_stream_table_left_join_nulls(void **state)
{
    fixture_t *f = *state;
    run(f, &SCENARIO(ST_LEFT, (rill_join_windows_t){0}, ST_LEFT_NULLS));
    assert_int_equal(rill_test_driver_metric(f->td, "records-skipped"), 2);
}

/* ==== stream-table joins with a versioned table (KIP-914) and a grace period (KIP-923) ===== */

// clang-format off
/* AbstractJoinIntegrationTest's input (one key, 0; its valueJoiner's "-" is "+" here), in seven
 * runs, each ending at a stream record that may make an output: A@3, B@5, C@9, D@6, E@15, F@4,
 * then the last table update. */
#define KS_IN_A LEFT("0", NULL, 1), RIGHT("0", NULL, 2), LEFT("0", "A", 3)
#define KS_IN_B RIGHT("0", "a", 4), LEFT("0", "B", 5)
#define KS_IN_C RIGHT("0", "b", 6), LEFT("0", NULL, 7), RIGHT("0", NULL, 8), LEFT("0", "C", 9)
#define KS_IN_D                                                                                    \
    RIGHT("0", "c", 10), RIGHT("0", NULL, 11), LEFT("0", NULL, 12), RIGHT("0", NULL, 13),          \
        RIGHT("0", "d", 7), LEFT("0", "D", 6)
#define KS_IN_E LEFT("0", NULL, 2), RIGHT("0", NULL, 3), RIGHT("0", "e", 14), LEFT("0", "E", 15)
#define KS_IN_F LEFT("0", NULL, 10), RIGHT("0", NULL, 9), LEFT("0", "F", 4)
#define KS_IN_END RIGHT("0", "f", 3)

// clang-format off
/* StreamTableJoinIntegrationTest#testInnerWithVersionedStore: each stream record joins the version
 * valid at its own timestamp, so out-of-order records and table updates change what they meet
 * ("d"@7 arrives after null@13 and is only history; D@6 still meets "b", F@4 meets "a"). Null
 * stream values are dropped. */
static const row_t ST_INNER_VERSIONED_KS[] = {
    KS_IN_A,
    KS_IN_B, EMIT("0", "B+a", 5),
    KS_IN_C,
    KS_IN_D, EMIT("0", "D+b", 6),
    KS_IN_E, EMIT("0", "E+e", 15),
    KS_IN_F, EMIT("0", "F+a", 4),
    KS_IN_END,
};

/* StreamTableJoinIntegrationTest#testLeftWithVersionedStore: as the inner join, and the records
 * that find no version (A@3 before "a", C@9 after null@8) join null. */
static const row_t ST_LEFT_VERSIONED_KS[] = {
    KS_IN_A, EMIT("0", "A+null", 3),
    KS_IN_B, EMIT("0", "B+a", 5),
    KS_IN_C, EMIT("0", "C+null", 9),
    KS_IN_D, EMIT("0", "D+b", 6),
    KS_IN_E, EMIT("0", "E+e", 15),
    KS_IN_F, EMIT("0", "F+a", 4),
    KS_IN_END,
};

/* StreamTableJoinWithGraceIntegrationTest#testInnerWithVersionedStore (grace 2 ms): a record waits
 * until stream time reaches its timestamp + 2 and is released by the next record held (B@5
 * releases A@3, C@9 releases B@5, E@15 releases C@9); a null value advances stream time but
 * releases nothing; D@6 and F@4, already older than stream time - grace, join at once. E@15 is
 * still held at the end. */
static const row_t ST_INNER_GRACE_KS[] = {
    KS_IN_A,
    KS_IN_B,
    KS_IN_C, EMIT("0", "B+a", 5),
    KS_IN_D, EMIT("0", "D+b", 6),
    KS_IN_E,
    KS_IN_F, EMIT("0", "F+a", 4),
    KS_IN_END,
};

/* StreamTableJoinWithGraceIntegrationTest#testLeftWithVersionedStore (grace 2 ms). */
static const row_t ST_LEFT_GRACE_KS[] = {
    KS_IN_A,
    KS_IN_B, EMIT("0", "A+null", 3),
    KS_IN_C, EMIT("0", "B+a", 5),
    KS_IN_D, EMIT("0", "D+b", 6),
    KS_IN_E, EMIT("0", "C+null", 9),
    KS_IN_F, EMIT("0", "F+a", 4),
    KS_IN_END,
};

/* KStreamKTableJoinTest#shouldDelayJoinByGracePeriod (grace 2 ms, history 5 min): table rows at
 * time 0 (a later push at the same time replaces the version), stream records 0..3 at times 0..3.
 * Two records of one key and time (2@2 twice) come out in arrival order. */
static const row_t ST_DELAY_BY_GRACE_KS[] = {
    RIGHT("0", "Y0", 0),  RIGHT("1", "Y1", 0),   RIGHT("2", "Y2", 0),   RIGHT("3", "Y3", 0),
    LEFT("0", "X0", 0),   LEFT("1", "X1", 1),
    LEFT("2", "X2", 2),   EMIT("0", "X0+Y0", 0),
    LEFT("3", "X3", 3),   EMIT("1", "X1+Y1", 1),
    RIGHT("0", "YY0", 0), RIGHT("1", "YY1", 0),  RIGHT("2", "YY2", 0),  RIGHT("3", "YY3", 0),
    LEFT("0", "X0", 0),   EMIT("0", "X0+YY0", 0),
    LEFT("1", "X1", 1),   EMIT("1", "X1+YY1", 1),
    LEFT("2", "X2", 2),   LEFT("3", "X3", 3),
    LEFT("5", "test", 7),
    EMIT("2", "X2+YY2", 2), EMIT("2", "X2+YY2", 2), EMIT("3", "X3+YY3", 3), EMIT("3", "X3+YY3", 3),
    RIGHT("0", "YYY0", 0), RIGHT("1", "YYY1", 0), RIGHT("2", "YYY2", 0), RIGHT("3", "YYY3", 0),
};

/* KStreamKTableJoinTest#shouldHandleLateJoinsWithGracePeriod: a record older than stream time -
 * grace joins at once and releases nothing. */
static const row_t ST_LATE_WITH_GRACE_KS[] = {
    RIGHT("0", "Y0", 0),  RIGHT("1", "Y1", 0),   RIGHT("2", "Y2", 0),   RIGHT("3", "Y3", 0),
    LEFT("0", "X0", 0),   LEFT("1", "X1", 1),
    LEFT("2", "X2", 2),   EMIT("0", "X0+Y0", 0),
    LEFT("3", "X3", 3),   EMIT("1", "X1+Y1", 1),
    LEFT("0", "X0", 0),   EMIT("0", "X0+Y0", 0),
};

/* Not in Kafka Streams' tests: the grace boundary both ways. A record is released once stream time
 * reaches exactly its timestamp + grace (evictWhile takes timestamps <= stream time - grace), not
 * one ms before; one exactly at stream time - grace is held and released at once. A table update
 * that arrives within grace, older than the held record, is what it joins. */
static const row_t ST_GRACE_BOUNDARY[] = {
    RIGHT("k", "v1", 0),
    LEFT("k", "A", 10),
    LEFT("j", "x", 14),
    RIGHT("k", "v2", 9),
    LEFT("j", "x", 15),   EMIT("k", "A+v2", 10),
    LEFT("k", "B", 10),   EMIT("k", "B+v2", 10),
    LEFT("k", "C", 9),    EMIT("k", "C+v2", 9),
};
// clang-format on

#define VERSIONED(k, table, history, grace)                                                        \
    (scenario_t)                                                                                   \
    {                                                                                              \
        .kind = k, .rows = table, .nrows = N(table), .history_ms = history, .grace_ms = grace      \
    }

/* The versioned scenarios, each a test of its own (cmocka's prestate is the scenario); history
 * 5 min as the Kafka Streams tests', grace as theirs. */
#define VERSIONED_SCENARIO(name, k, table, grace, backend)                                         \
    static const scenario_t name = {.kind = k,                                                     \
                                    .rows = table,                                                 \
                                    .nrows = N(table),                                             \
                                    .history_ms = 300000,                                          \
                                    .grace_ms = grace,                                             \
                                    .store = backend}
VERSIONED_SCENARIO(st_inner_versioned, ST_INNER, ST_INNER_VERSIONED_KS, 0, NULL);
VERSIONED_SCENARIO(st_left_versioned, ST_LEFT, ST_LEFT_VERSIONED_KS, 0, NULL);
VERSIONED_SCENARIO(st_inner_versioned_in_memory, ST_INNER, ST_INNER_VERSIONED_KS, 0, "in_memory");
VERSIONED_SCENARIO(st_inner_grace, ST_INNER, ST_INNER_GRACE_KS, 2, NULL);
VERSIONED_SCENARIO(st_left_grace, ST_LEFT, ST_LEFT_GRACE_KS, 2, NULL);
VERSIONED_SCENARIO(st_left_grace_in_memory, ST_LEFT, ST_LEFT_GRACE_KS, 2, "in_memory");
VERSIONED_SCENARIO(st_delay_by_grace, ST_INNER, ST_DELAY_BY_GRACE_KS, 2, NULL);
VERSIONED_SCENARIO(st_late_with_grace, ST_INNER, ST_LATE_WITH_GRACE_KS, 2, NULL);
VERSIONED_SCENARIO(st_grace_boundary, ST_INNER, ST_GRACE_BOUNDARY, 5, NULL);

/* A test of the scenario sc, named after it. */
#define SCENARIO_TEST(sc)                                                                          \
    {                                                                                              \
        "test_" #sc, test_scenario, scenario_setup, fixture_teardown, (void *)&sc                  \
    }

/* Runs the scenario given as the test's prestate. */
static int scenario_setup(void **state)
{
    const scenario_t *sc = *state;
    if (fixture_setup(state))
        return -1;
    ((fixture_t *)*state)->sc = sc;
    return 0;
}

static void test_scenario(void **state)
{
    fixture_t *f = *state;
    run(f, f->sc);
}

/* Builds the scenario's topology and returns rill_topology_build's result, its error in err. */
static int build_only(fixture_t *f, const scenario_t *sc, char *err, size_t size)
{
    f->topo = rill_topology_new();
    assert_non_null(f->topo);
    rill_stream_t *out = join_of(f->topo, sc);
    if (out)
        rill_stream_to(out, "out", NULL);
    return rill_topology_build(f->topo, err, size);
}

/* KStreamKTableJoinTest#shouldFailIfTableIsNotVersioned: a grace period needs a versioned table;
 * the error names the join. */
static void test_stream_table_grace_needs_versioned_table(void **state)
{
    char err[512] = "";
    scenario_t sc = VERSIONED(ST_INNER, ST_LATE_WITH_GRACE_KS, 0, 6);
    assert_int_equal(build_only(*state, &sc, err, sizeof err), RILL_ETOPOLOGY);
    assert_non_null(strstr(err, "KSTREAM-JOIN-"));
    assert_non_null(strstr(err, "needs a versioned table"));
}

/* KStreamKTableJoinTest#shouldFailIfGracePeriodIsLongerThanHistoryRetention. */
static void test_stream_table_grace_longer_than_history(void **state)
{
    char err[512] = "";
    scenario_t sc = VERSIONED(ST_INNER, ST_LATE_WITH_GRACE_KS, 300000, 360000);
    assert_int_equal(build_only(*state, &sc, err, sizeof err), RILL_ETOPOLOGY);
    assert_non_null(strstr(err, "longer than the history retention"));
}

/* Reads every record of the changelog of the store whose name starts with prefix (its one store of
 * that kind) into a transcript "key-suffix = value @ts" lines; keys of the grace buffer print their
 * timestamp, then the key. */
static void put_changelog(fixture_t *f, const char *prefix, const char *suffix, char **s)
{
    char topic[300] = "";
    for (int i = 0; i < rill_topology_store_count(f->topo); i++) {
        const rill_store_spec_t *spec = rill_topology_store(f->topo, i, NULL);
        size_t n = strlen(spec->name), m = strlen(suffix);
        if (strncmp(spec->name, prefix, strlen(prefix)) == 0 && n >= m &&
            strcmp(spec->name + n - m, suffix) == 0)
            snprintf(topic, sizeof topic, "join-test-%s-changelog", spec->name);
    }
    assert_true(topic[0]);
    rill_test_record_t rec;
    while (rill_test_driver_read(f->td, topic, &rec) == 0) {
        const uint8_t *k = rec.key.data;
        if (strcmp(suffix, "-Buffer") == 0) {
            assert_true(rec.key.len > 8);
            uint64_t u = 0;
            for (int i = 0; i < 8; i++)
                u = u << 8 | k[i];
            int64_t t = (int64_t)(u ^ (1ULL << 63));
            put(s, "%lld|%.*s", (long long)t, (int)rec.key.len - 8, (const char *)k + 8);
        } else {
            put(s, "%.*s", (int)rec.key.len, (const char *)k);
        }
        /* A buffer value is a list (4-byte length, then the bytes) of one element per record,
         * itself a list of the value and the headers (none here). */
        size_t skip = strcmp(suffix, "-Buffer") == 0 && rec.value.data ? 8 : 0;
        if (rec.value.data)
            put(s, " = %.*s @%lld\n", (int)(rec.value.len - skip),
                (const char *)rec.value.data + skip, (long long)rec.timestamp);
        else
            put(s, " = null @%lld\n", (long long)rec.timestamp);
    }
}

/* What the versioned table and the grace buffer log (history 5 ms, grace 5 ms). The table logs
 * each version with its own timestamp, an out-of-order one too ("v0"@3, into the history), but
 * not one older than the history ("vx"@10 once observed time is 20: not put, not logged, not
 * joined). The buffer logs each held record and a tombstone when it is released, so a task
 * restored from it holds what was held, and only that. A@18 joins "v1", valid in [5, 20). */
static void test_stream_table_grace_changelogs(void **state)
{
    fixture_t *f = *state;
    // clang-format off
    static const row_t rows[] = {
        RIGHT("k", "v1", 5),
        RIGHT("k", "v0", 3),
        RIGHT("k", "v2", 20),
        RIGHT("k", "vx", 10),
        LEFT("k", "A", 18),
        LEFT("j", "x", 23),   EMIT("k", "A+v1", 18),
    };
    // clang-format on
    run(f, &VERSIONED(ST_INNER, rows, 5, 5));
    char *table = NULL, *buffer = NULL;
    put_changelog(f, "right-STATE-STORE-", "", &table);
    put_changelog(f, "KSTREAM-JOIN-", "-Buffer", &buffer);
    assert_string_equal(table, "k = v1 @5\nk = v0 @3\nk = v2 @20\n");
    assert_string_equal(buffer, "18|k = A @18\n23|j = x @23\n18|k = null @18\n");
    free(table);
    free(buffer);
}

/* A held record keeps its headers (Kafka Streams' buffer keeps the record context): the result of
 * its join, released later, carries them, a null-valued header too. */
static void test_stream_table_grace_keeps_headers(void **state)
{
    fixture_t *f = *state;
    static const row_t none[] = {RIGHT("k", "v", 0)};
    run(f, &VERSIONED(ST_INNER, none, 300000, 5));
    const rill_header_t hs[] = {{"trace", {"t-1", 3}}, {"empty", {NULL, 0}}};
    assert_int_equal(rill_test_driver_pipe_headers(f->td, "left", -1, rill_buf_str("k"),
                                                   rill_buf_str("A"), 10, hs, N(hs)),
                     0);
    assert_int_equal(rill_test_driver_unread(f->td, "out"), 0);
    assert_int_equal(rill_test_driver_pipe_str(f->td, "left", "j", "x", 15), 0);
    rill_test_record_t rec;
    assert_int_equal(rill_test_driver_read(f->td, "out", &rec), 0);
    assert_memory_equal(rec.value.data, "A+v", 3);
    assert_int_equal(rec.timestamp, 10);
    assert_int_equal(rec.header_count, 2);
    assert_string_equal(rec.headers[0].name, "trace");
    assert_int_equal(rec.headers[0].value.len, 3);
    assert_memory_equal(rec.headers[0].value.data, "t-1", 3);
    assert_string_equal(rec.headers[1].name, "empty");
    assert_null(rec.headers[1].value.data);
}

/* ---- a restart through the task runtime: what the versioned table and the grace buffer restore */

/* What a task sent, as a driver's transaction holds it: committed records, then pending ones. */
typedef struct {
    struct sent {
        char topic[160], key[32], value[32]; /* bytes (a held record's key is binary) */
        size_t klen, vlen;
        bool null_value;
        int64_t ts;
    } r[64];
    int n, committed;
} sent_t;

static int capture_send(void *opaque, const char *topic, int32_t partition, const rill_buf_t *key,
                        const rill_buf_t *value, int64_t timestamp, const rill_headers_t *headers)
{
    (void)partition;
    (void)headers;
    sent_t *s = opaque;
    assert_true(s->n < (int)N(s->r));
    struct sent *r = &s->r[s->n++];
    snprintf(r->topic, sizeof r->topic, "%s", topic);
    assert_true(key->len < sizeof r->key && (!value || value->len < sizeof r->value));
    memcpy(r->key, key->data, r->klen = key->len);
    r->key[key->len] = 0;
    r->null_value = !value;
    if (value) {
        memcpy(r->value, value->data, r->vlen = value->len);
        r->value[value->len] = 0;
    }
    r->ts = timestamp;
    return 0;
}

static int32_t one_partition(void *opaque, const char *topic)
{
    (void)opaque;
    (void)topic;
    return 1;
}

static void task_pipe(rill_task_t *task, const rill_topology_t *topo, const char *topic,
                      const char *key, const char *value, int64_t ts)
{
    int st, source;
    assert_int_equal(rill__topology_find_source(topo, "vt", topic, &st, &source), 0);
    rill_record_t rec = {rill_buf_str(key), rill_buf_str(value), ts, NULL, topic, 0, 0};
    if (rill__task_process(task, source, &rec))
        fail_msg("%s", rill__task_error(task));
}

/* Commits what the task sent (the driver's transaction), then its stores with the changelogs'
 * end offsets, as a stream thread does under exactly-once. */
static void task_commit(rill_task_t *task, sent_t *s)
{
    assert_int_equal(rill__task_flush(task), 0);
    s->committed = s->n;
    int64_t ends[8];
    size_t nc = rill__task_changelog_count(task);
    assert_true(nc <= N(ends));
    for (size_t i = 0; i < nc; i++) {
        ends[i] = 0;
        for (int k = 0; k < s->committed; k++)
            ends[i] += strcmp(s->r[k].topic, rill__task_changelog_topic(task, i)) == 0;
    }
    assert_int_equal(rill__task_commit_stores(task, ends), 0);
}

/* Feeds a new task every committed changelog record, as the changelog reader does. */
static void task_restore(rill_task_t *task, const sent_t *s)
{
    for (size_t i = 0; i < rill__task_changelog_count(task); i++) {
        assert_int_equal(rill__task_changelog_offset(task, i), -1);
        rill_record_t recs[64];
        size_t n = 0;
        for (int k = 0; k < s->committed; k++)
            if (strcmp(s->r[k].topic, rill__task_changelog_topic(task, i)) == 0) {
                const struct sent *r = &s->r[k];
                rill_buf_t key = {r->key, r->klen}, value = {r->value, r->vlen};
                recs[n] = (rill_record_t){key,       r->null_value ? (rill_buf_t){NULL, 0} : value,
                                          r->ts,     NULL,
                                          r->topic,  0,
                                          (int64_t)n};
                n++;
            }
        if (n && rill__task_restore_batch(task, i, recs, n))
            fail_msg("%s", rill__task_error(task));
    }
}

/* The outputs on "out" from index from on, as "key=value@ts;" */
static void outputs_since(const sent_t *s, int from, char *buf, size_t size)
{
    buf[0] = 0;
    for (int k = from; k < s->n; k++)
        if (strcmp(s->r[k].topic, "out") == 0)
            snprintf(buf + strlen(buf), size - strlen(buf), "%s=%s@%lld;", s->r[k].key,
                     s->r[k].value, (long long)s->r[k].ts);
}

/* What a restart test keeps: what its tasks sent and the env they run in, on one of two state
 * directories (dir[0], a machine's; dir[1], another's). */
typedef struct {
    rill_store_env_t *env;
    sent_t *s;
    char dir[2][128];
    rill_task_env_t tenv;
} restart_t;

/* Builds f's topology and the restart test's env (under exactly-once or not), on dir[0]. */
static void restart_setup(fixture_t *f, restart_t *r, bool exactly_once)
{
    char err[512];
    assert_int_equal(rill_topology_build(f->topo, err, sizeof err), 0);
    r->env = rill_store_env_new(8 << 20, err, sizeof err);
    assert_non_null(r->env);
    r->s = calloc(1, sizeof *r->s);
    assert_non_null(r->s);
    snprintf(r->dir[0], sizeof r->dir[0], "%s/one", f->dir);
    snprintf(r->dir[1], sizeof r->dir[1], "%s/two", f->dir);
    r->tenv = (rill_task_env_t){
        .application_id = "vt",
        .collector = {capture_send, one_partition, r->s, NULL, NULL},
        .default_key_serde = rill_serde_string(),
        .default_value_serde = rill_serde_string(),
        .state_dir = r->dir[0],
        .store_env = r->env,
        .exactly_once = exactly_once,
    };
}

/* A new task of f's topology on state directory dir[machine]. */
static rill_task_t *restart_task(fixture_t *f, restart_t *r, int machine)
{
    char err[512];
    r->tenv.state_dir = r->dir[machine];
    rill_task_t *task = rill__task_new(f->topo, 0, 0, &r->tenv, err, sizeof err);
    if (!task)
        fail_msg("%s", err);
    return task;
}

static void restart_teardown(restart_t *r)
{
    rill_store_env_destroy(r->env);
    free(r->s);
}

/*
 * Under exactly-once on RocksDB, a task crashes after a commit with a record held in the grace
 * buffer and a table version in the history; reopened on the same state directory its stores
 * hold what was committed, and a task on another machine (an empty state directory) restores
 * both from the committed changelog records. The held record is released
 * once, joining the history's version valid at its time; a record that was held only in the
 * aborted transaction is gone with it (the input would be read again from the committed offset).
 */
static void test_stream_table_grace_restores(void **state)
{
    fixture_t *f = *state;
    f->topo = rill_topology_new();
    rill_materialized_t vm = {.versioned = true, .history_retention_ms = 300000};
    rill_join_opts_t jo = {.grace_ms = 5};
    rill_stream_t *ls = rill_stream_from_topic(f->topo, "left", NULL);
    rill_table_t *rt = rill_table_from(f->topo, "right", NULL, &vm);
    assert_int_equal(
        rill_stream_to(rill_stream_table_join(ls, rt, mock_joiner, NULL, &jo), "out", NULL), 0);
    restart_t r;
    restart_setup(f, &r, true);
    sent_t *s = r.s;
    rill_task_t *task = restart_task(f, &r, 0);
    task_pipe(task, f->topo, "right", "k", "v1", 0);
    task_pipe(task, f->topo, "left", "k", "A", 10); /* held until stream time 15 */
    task_pipe(task, f->topo, "right", "k", "v3", 12);
    task_pipe(task, f->topo, "right", "k", "v2", 9); /* out of order: history, v2 in [9, 12) */
    task_commit(task, s);
    task_pipe(task, f->topo, "left", "k", "B", 11); /* held, in a transaction that aborts */
    rill__task_destroy(task);
    s->n = s->committed;
    char out[512];
    outputs_since(s, 0, out, sizeof out);
    assert_string_equal(out, "");

    /* The same machine: the stores say which changelog offsets they hold (the commit's), so
     * nothing is restored, and the held record comes out as it will on the other machine. */
    task = restart_task(f, &r, 0);
    for (size_t i = 0; i < rill__task_changelog_count(task); i++) {
        int64_t end = 0;
        for (int k = 0; k < s->committed; k++)
            end += strcmp(s->r[k].topic, rill__task_changelog_topic(task, i)) == 0;
        assert_int_equal(rill__task_changelog_offset(task, i), end);
    }
    task_pipe(task, f->topo, "left", "j", "x", 15);
    outputs_since(s, s->committed, out, sizeof out);
    assert_string_equal(out, "k=A+v2@10;");
    rill__task_destroy(task); /* crashes again: that output's transaction aborts */
    s->n = s->committed;

    task = restart_task(f, &r, 1);
    task_restore(task, s);
    task_commit(task, s);
    int from = s->n;
    task_pipe(task, f->topo, "left", "j", "x", 15);
    outputs_since(s, from, out, sizeof out);
    assert_string_equal(out, "k=A+v2@10;");
    task_pipe(task, f->topo, "left", "j", "y", 30);
    outputs_since(s, from, out, sizeof out);
    assert_string_equal(out, "k=A+v2@10;");
    assert_true(rill__task_metrics(task)->restored > 0);
    rill__task_destroy(task);
    restart_teardown(&r);
}

/* The index of the changelog of the store whose name starts with prefix. */
static size_t changelog_of(rill_task_t *task, const char *prefix)
{
    for (size_t i = 0; i < rill__task_changelog_count(task); i++)
        if (strncmp(rill__task_changelog_store(task, i), prefix, strlen(prefix)) == 0)
            return i;
    fail_msg("no store called %s...", prefix);
    return 0;
}

/* Adds a record of the layout the join's window stores had before they kept sequence numbers:
 * key bytes and start as the key, the list of values (each after its 4-byte length). */
static void add_former_record(sent_t *s, const char *topic, const char *key, int64_t start,
                              const char *const *values)
{
    struct sent *r = &s->r[s->n++];
    snprintf(r->topic, sizeof r->topic, "%s", topic);
    r->klen = rill_window_key(rill_buf_str(key), start, (uint8_t *)r->key);
    r->vlen = 0;
    for (; *values; values++) {
        size_t n = strlen(*values);
        uint8_t len[4] = {0, 0, 0, (uint8_t)n};
        memcpy(r->value + r->vlen, len, 4);
        memcpy(r->value + r->vlen + 4, *values, n);
        r->vlen += 4 + n;
    }
    r->null_value = false;
    r->ts = start;
}

/*
 * A stream-stream join's window stores keep duplicates under (key, start, sequence number) and
 * log them so. A task restored from a changelog holding both those records and ones of the
 * former layout (a value list per key and start, logged again as it grew) holds each value
 * once: duplicates join in the order they came, former ones too. A store left on disk by the
 * former layout (its marker without "duplicates") is wiped and restored from the start.
 */
static void test_stream_stream_restores_duplicates(void **state)
{
    fixture_t *f = *state;
    f->topo = rill_topology_new();
    rill_stream_t *ls = rill_stream_from_topic(f->topo, "left", NULL);
    rill_stream_t *rs = rill_stream_from_topic(f->topo, "right", NULL);
    rill_stream_t *j =
        rill_stream_join(ls, rs, mock_joiner, NULL, rill_join_windows(100, 1000), NULL);
    assert_int_equal(rill_stream_to(j, "out", NULL), 0);
    restart_t r;
    restart_setup(f, &r, false);
    sent_t *s = r.s;
    rill_task_t *task = restart_task(f, &r, 0);
    task_pipe(task, f->topo, "left", "k", "A", 10);
    task_pipe(task, f->topo, "left", "k", "B", 10); /* a duplicate: its own entry */
    task_pipe(task, f->topo, "left", "k", "A", 10); /* the same value again: one more */
    task_pipe(task, f->topo, "left", "k", "C", 20);
    size_t left = changelog_of(task, "KSTREAM-JOINTHIS-");
    char topic[300];
    snprintf(topic, sizeof topic, "%s", rill__task_changelog_topic(task, left));
    int logged = 0;
    for (int k = 0; k < s->n; k++)
        if (strcmp(s->r[k].topic, topic) == 0) {
            assert_int_equal(s->r[k].klen, 1 + 8 + 4); /* key, start, sequence number */
            assert_int_equal(s->r[k].vlen, 1);         /* the plain value */
            logged++;
        }
    assert_int_equal(logged, 4);
    task_commit(task, s);
    int64_t ends[8] = {0};
    for (size_t i = 0; i < rill__task_changelog_count(task); i++)
        for (int k = 0; k < s->n; k++)
            ends[i] += strcmp(s->r[k].topic, rill__task_changelog_topic(task, i)) == 0;
    assert_int_equal(rill__task_checkpoint(task, ends), 0);
    char marker[600];
    snprintf(marker, sizeof marker, "%s/0_0/%s/segment-ms", r.dir[0],
             rill__task_changelog_store(task, left));
    rill__task_destroy(task);

    /* The former layout's records, as its changelog would have them before compaction. */
    add_former_record(s, topic, "j", 30, (const char *const[]){"D", NULL});
    add_former_record(s, topic, "j", 30, (const char *const[]){"D", "E", NULL});
    add_former_record(s, topic, "j", 40, (const char *const[]){"F", NULL});
    s->committed = s->n;

    task = restart_task(f, &r, 1);
    task_restore(task, s);
    assert_int_equal(rill__task_metrics(task)->restored, 7);
    int from = s->n;
    char out[512];
    task_pipe(task, f->topo, "right", "k", "x", 15);
    task_pipe(task, f->topo, "right", "j", "y", 35);
    outputs_since(s, from, out, sizeof out);
    assert_string_equal(out, "k=A+x@15;k=B+x@15;k=A+x@15;k=C+x@20;j=D+y@35;j=E+y@35;j=F+y@40;");
    /* Puts go on numbering after the restored records: the next is the fifth. */
    task_pipe(task, f->topo, "left", "k", "G", 10);
    const struct sent *g = &s->r[s->n - 1];
    assert_string_equal(g->topic, topic);
    assert_memory_equal(g->key + g->klen - 4, "\0\0\0\5", 4);
    from = s->n;
    task_pipe(task, f->topo, "right", "k", "z", 16);
    outputs_since(s, from, out, sizeof out);
    assert_string_equal(out, "k=A+z@16;k=B+z@16;k=A+z@16;k=G+z@16;k=C+z@20;");
    rill__task_destroy(task);

    /* The first state directory, as the former layout left it: its marker says only the width. */
    FILE *m = fopen(marker, "r");
    assert_non_null(m);
    long long width = 0;
    char layout[32] = "";
    assert_int_equal(fscanf(m, "%lld %31s", &width, layout), 2);
    fclose(m);
    assert_string_equal(layout, "duplicates");
    m = fopen(marker, "w");
    assert_non_null(m);
    fprintf(m, "%lld\n", width);
    fclose(m);
    task = restart_task(f, &r, 0);
    for (size_t i = 0; i < rill__task_changelog_count(task); i++)
        assert_int_equal(rill__task_changelog_offset(task, i), i == left ? -1 : ends[i]);
    rill__task_destroy(task);
    restart_teardown(&r);
}

static void test_table_join(void **state)
{
    fixture_t *f = *state;
    run(f, &SCENARIO(TT_INNER, (rill_join_windows_t){0}, TT_INNER_KS));
    assert_int_equal(rill_test_driver_metric(f->td, "records-skipped"), 2);
}

static void test_table_left_join(void **state)
{
    fixture_t *f = *state;
    run(f, &SCENARIO(TT_LEFT, (rill_join_windows_t){0}, TT_LEFT_KS));
    assert_int_equal(rill_test_driver_metric(f->td, "records-skipped"), 2);
}

static void test_table_left_join_four_partitions(void **state)
{
    scenario_t sc = SCENARIO(TT_LEFT, (rill_join_windows_t){0}, TT_LEFT_KS);
    sc.partitions = 4;
    run(*state, &sc);
}

static void test_table_outer_join(void **state)
{
    fixture_t *f = *state;
    run(f, &SCENARIO(TT_OUTER, (rill_join_windows_t){0}, TT_OUTER_KS));
    assert_int_equal(rill_test_driver_metric(f->td, "records-skipped"), 2);
}

static void test_table_join_one_sided(void **state)
{
    run(*state, &SCENARIO(TT_INNER, (rill_join_windows_t){0}, TT_INNER_ONE_SIDED));
}

static void test_table_left_join_one_sided(void **state)
{
    run(*state, &SCENARIO(TT_LEFT, (rill_join_windows_t){0}, TT_LEFT_ONE_SIDED));
}

static void test_table_outer_join_one_sided(void **state)
{
    run(*state, &SCENARIO(TT_OUTER, (rill_join_windows_t){0}, TT_OUTER_ONE_SIDED));
}

/* ==== describe(): the nodes and stores of stream-stream joins ============================== */

/* Builds left-topic1 <join> left-topic2 (no sink, as the Java tests) and checks describe(). */
static void check_describe(fixture_t *f, join_kind_t kind, const rill_join_opts_t *opts,
                           const char *expected)
{
    char err[256];
    f->topo = rill_topology_new();
    assert_non_null(f->topo);
    rill_stream_t *s1 = rill_stream_from_topic(f->topo, "input-topic1", NULL);
    rill_stream_t *s2 = rill_stream_from_topic(f->topo, "input-topic2", NULL);
    rill_join_windows_t w = rill_join_windows(100, 0);
    rill_stream_t *joined = kind == SS_LEFT
                                ? rill_stream_left_join(s1, s2, mock_joiner, NULL, w, opts)
                                : rill_stream_outer_join(s1, s2, mock_joiner, NULL, w, opts);
    assert_non_null(joined);
    if (rill_topology_build(f->topo, err, sizeof err) != 0)
        fail_msg("rill_topology_build: %s", err);
    f->text = rill_topology_describe(f->topo);
    assert_non_null(f->text);
    assert_string_equal(f->text, expected);
}

/* TopologyTest#streamStreamLeftJoinTopologyWithDefaultStoresNames. */
static void test_describe_left_join(void **state)
{
    check_describe(
        *state, SS_LEFT, NULL,
        "Topologies:\n"
        "   Sub-topology: 0\n"
        "    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic1])\n"
        "      --> KSTREAM-WINDOWED-0000000002\n"
        "    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic2])\n"
        "      --> KSTREAM-WINDOWED-0000000003\n"
        "    Processor: KSTREAM-WINDOWED-0000000002 (stores: [KSTREAM-JOINTHIS-0000000004-store])\n"
        "      --> KSTREAM-JOINTHIS-0000000004\n"
        "      <-- KSTREAM-SOURCE-0000000000\n"
        "    Processor: KSTREAM-WINDOWED-0000000003 (stores: "
        "[KSTREAM-OUTEROTHER-0000000005-store])\n"
        "      --> KSTREAM-OUTEROTHER-0000000005\n"
        "      <-- KSTREAM-SOURCE-0000000001\n"
        "    Processor: KSTREAM-JOINTHIS-0000000004 (stores: [KSTREAM-OUTEROTHER-0000000005-store, "
        "KSTREAM-OUTERSHARED-0000000004-store])\n"
        "      --> KSTREAM-MERGE-0000000006\n"
        "      <-- KSTREAM-WINDOWED-0000000002\n"
        "    Processor: KSTREAM-OUTEROTHER-0000000005 (stores: [KSTREAM-JOINTHIS-0000000004-store, "
        "KSTREAM-OUTERSHARED-0000000004-store])\n"
        "      --> KSTREAM-MERGE-0000000006\n"
        "      <-- KSTREAM-WINDOWED-0000000003\n"
        "    Processor: KSTREAM-MERGE-0000000006 (stores: [])\n"
        "      --> none\n"
        "      <-- KSTREAM-JOINTHIS-0000000004, KSTREAM-OUTEROTHER-0000000005\n\n");
}

/* TopologyTest#streamStreamLeftJoinTopologyWithCustomStoresNames (StreamJoined.withStoreName). */
static void test_describe_left_join_store_name(void **state)
{
    rill_join_opts_t opts = {.store_name = "custom-name"};
    check_describe(
        *state, SS_LEFT, &opts,
        "Topologies:\n"
        "   Sub-topology: 0\n"
        "    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic1])\n"
        "      --> KSTREAM-WINDOWED-0000000002\n"
        "    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic2])\n"
        "      --> KSTREAM-WINDOWED-0000000003\n"
        "    Processor: KSTREAM-WINDOWED-0000000002 (stores: [custom-name-this-join-store])\n"
        "      --> KSTREAM-JOINTHIS-0000000004\n"
        "      <-- KSTREAM-SOURCE-0000000000\n"
        "    Processor: KSTREAM-WINDOWED-0000000003 (stores: "
        "[custom-name-outer-other-join-store])\n"
        "      --> KSTREAM-OUTEROTHER-0000000005\n"
        "      <-- KSTREAM-SOURCE-0000000001\n"
        "    Processor: KSTREAM-JOINTHIS-0000000004 (stores: [custom-name-outer-other-join-store, "
        "custom-name-left-shared-join-store])\n"
        "      --> KSTREAM-MERGE-0000000006\n"
        "      <-- KSTREAM-WINDOWED-0000000002\n"
        "    Processor: KSTREAM-OUTEROTHER-0000000005 (stores: [custom-name-this-join-store, "
        "custom-name-left-shared-join-store])\n"
        "      --> KSTREAM-MERGE-0000000006\n"
        "      <-- KSTREAM-WINDOWED-0000000003\n"
        "    Processor: KSTREAM-MERGE-0000000006 (stores: [])\n"
        "      --> none\n"
        "      <-- KSTREAM-JOINTHIS-0000000004, KSTREAM-OUTEROTHER-0000000005\n\n");
}

/* TopologyTest#streamStreamOuterJoinTopologyWithDefaultStoresNames. */
static void test_describe_outer_join(void **state)
{
    check_describe(*state, SS_OUTER, NULL,
                   "Topologies:\n"
                   "   Sub-topology: 0\n"
                   "    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic1])\n"
                   "      --> KSTREAM-WINDOWED-0000000002\n"
                   "    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic2])\n"
                   "      --> KSTREAM-WINDOWED-0000000003\n"
                   "    Processor: KSTREAM-WINDOWED-0000000002 (stores: "
                   "[KSTREAM-OUTERTHIS-0000000004-store])\n"
                   "      --> KSTREAM-OUTERTHIS-0000000004\n"
                   "      <-- KSTREAM-SOURCE-0000000000\n"
                   "    Processor: KSTREAM-WINDOWED-0000000003 (stores: "
                   "[KSTREAM-OUTEROTHER-0000000005-store])\n"
                   "      --> KSTREAM-OUTEROTHER-0000000005\n"
                   "      <-- KSTREAM-SOURCE-0000000001\n"
                   "    Processor: KSTREAM-OUTEROTHER-0000000005 (stores: "
                   "[KSTREAM-OUTERTHIS-0000000004-store, "
                   "KSTREAM-OUTERSHARED-0000000004-store])\n"
                   "      --> KSTREAM-MERGE-0000000006\n"
                   "      <-- KSTREAM-WINDOWED-0000000003\n"
                   "    Processor: KSTREAM-OUTERTHIS-0000000004 (stores: "
                   "[KSTREAM-OUTEROTHER-0000000005-store, "
                   "KSTREAM-OUTERSHARED-0000000004-store])\n"
                   "      --> KSTREAM-MERGE-0000000006\n"
                   "      <-- KSTREAM-WINDOWED-0000000002\n"
                   "    Processor: KSTREAM-MERGE-0000000006 (stores: [])\n"
                   "      --> none\n"
                   "      <-- KSTREAM-OUTERTHIS-0000000004, KSTREAM-OUTEROTHER-0000000005\n\n");
}

/* ==== stream-global table joins ============================================================= */

// clang-format off

/* KStreamGlobalKTableJoinTest#shouldJoinOnlyIfMatchFoundOnStreamUpdates, then
 * #shouldClearGlobalTableEntryOnNullValueUpdates and #shouldNotJoinOnNullKeyMapperValues: the
 * record's key mapper picks the global row ("FKey<i>"); the result keeps the record's key; a
 * global update emits nothing; a global tombstone removes the row; a value with no foreign key
 * maps to none and is dropped (counted). Every partition of "right" feeds the one global store:
 * with 4 partitions the stream's tasks all see every row (no co-partitioning). */
static const row_t GT_INNER_ROWS[] = {
    RIGHT("FKey0", "Y0", 0),
    RIGHT("FKey1", "Y1", 1),
    LEFT("0", "X0,FKey0", 0),  EMIT("0", "X0,FKey0+Y0", 0),
    LEFT("1", "X1,FKey1", 1),  EMIT("1", "X1,FKey1+Y1", 1),
    LEFT("2", "X2,FKey2", 2),
    LEFT("3", "X3,FKey3", 3),
    RIGHT("FKey2", "YY2", 2),
    RIGHT("FKey3", "YY3", 3),
    LEFT("2", "X2,FKey2", 2),  EMIT("2", "X2,FKey2+YY2", 2),
    RIGHT("FKey0", NULL, 4),
    LEFT("0", "X0,FKey0", 5),
    LEFT("3", "XXX3", 6),
    LEFT("3", "X3,FKey3", 7),  EMIT("3", "X3,FKey3+YY3", 7),
};

/* KStreamGlobalKTableLeftJoinTest#shouldJoinRegardlessIfMatchFoundOnStreamUpdates, and its null
 * key mapper values: a left join still drops a record whose mapper gives no key, but a record
 * with a null key whose mapper finds a row joins it (KStreamKTableJoinProcessor lets a null key
 * through a left join). */
static const row_t GT_LEFT_ROWS[] = {
    RIGHT("FKey0", "Y0", 0),
    RIGHT("FKey1", "Y1", 1),
    LEFT("0", "X0,FKey0", 0),  EMIT("0", "X0,FKey0+Y0", 0),
    LEFT("1", "X1,FKey1", 1),  EMIT("1", "X1,FKey1+Y1", 1),
    LEFT("2", "X2,FKey2", 2),  EMIT("2", "X2,FKey2+null", 2),
    LEFT("3", "X3,FKey3", 3),  EMIT("3", "X3,FKey3+null", 3),
    LEFT("3", "XXX3", 4),
    LEFT(NULL, "X9,FKey1", 5), EMIT("null", "X9,FKey1+Y1", 5),
};

// clang-format on

static void test_global_inner_join(void **state)
{
    fixture_t *f = *state;
    scenario_t sc = SCENARIO(GT_INNER, rill_join_windows(0, 0), GT_INNER_ROWS);
    sc.partitions = 4;
    run(f, &sc);
    assert_int_equal(dropped(f), 1);
}

static void test_global_left_join(void **state)
{
    fixture_t *f = *state;
    run(f, &SCENARIO(GT_LEFT, rill_join_windows(0, 0), GT_LEFT_ROWS));
    assert_int_equal(dropped(f), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        SCENARIO_TEST(st_inner_versioned),
        SCENARIO_TEST(st_left_versioned),
        SCENARIO_TEST(st_inner_versioned_in_memory),
        SCENARIO_TEST(st_inner_grace),
        SCENARIO_TEST(st_left_grace),
        SCENARIO_TEST(st_left_grace_in_memory),
        SCENARIO_TEST(st_delay_by_grace),
        SCENARIO_TEST(st_late_with_grace),
        SCENARIO_TEST(st_grace_boundary),
        cmocka_unit_test_setup_teardown(test_stream_table_grace_needs_versioned_table,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_stream_table_grace_longer_than_history, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_stream_table_grace_changelogs, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_stream_table_grace_restores, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_stream_stream_restores_duplicates, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_stream_table_grace_keeps_headers, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_inner_join, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_inner_join_four_partitions, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_outer_join_all_matched, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_inner_windowing, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_inner_asymmetric_after, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_inner_asymmetric_before, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_inner_tombstones_and_null_keys, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_inner_late_records, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_inner_late_record_joins_what_the_other_store_holds,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(
            test_inner_late_record_joins_what_the_other_store_holds_in_memory, fixture_setup,
            fixture_teardown),
        cmocka_unit_test_setup_teardown(test_left_join, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_left_join_in_memory, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_left_duplicates, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_left_expired_by_left, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_left_expired_by_right, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_left_right_never_emitted_by_left, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_left_right_never_emitted_by_right, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_left_zero_after, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_left_ordering, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_left_grace, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_left_windowing, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_left_asymmetric, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_left_grace_boundary_from_right, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_left_grace_boundary_from_left, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_left_out_of_order_within_grace, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_left_null_keys_and_values, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_left_late_records, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_left_stream_time_per_task, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_outer_join, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_outer_duplicates, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_outer_left_expired_by_left, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_outer_left_expired_by_right, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_outer_right_expired_by_left, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_outer_right_expired_by_right, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_outer_ordering, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_outer_grace, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_outer_asymmetric_emit_all, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_outer_asymmetric_before, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_outer_asymmetric_after, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_outer_emit_interval, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_outer_grace_boundary, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_outer_emission_gate, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_outer_out_of_order_asymmetric, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_outer_null_keys_and_values, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_stream_table_join, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_stream_table_join_table_tombstones, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_stream_table_left_join, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_stream_table_left_join_table_tombstones, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_stream_table_join_nulls, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_stream_table_left_join_nulls, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_table_join, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_table_left_join, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_table_left_join_four_partitions, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_table_outer_join, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_table_join_one_sided, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_table_left_join_one_sided, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_table_outer_join_one_sided, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_describe_left_join, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_describe_left_join_store_name, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_global_inner_join, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_global_left_join, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_describe_outer_join, fixture_setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
