/*
 * rill-pg-sink's PostgreSQL side, with libpq (the only file that includes it).
 *
 * A batch is one transaction: BEGIN, one prepared INSERT ... ON CONFLICT per row, one offsets
 * upsert per partition, all sent in libpq's pipeline mode (one round trip for the lot), then
 * COMMIT or ROLLBACK once the answers are read. The offsets upsert is a compare-and-set: it moves
 * a partition's next offset only from the value this sink read or wrote last, so a second writer
 * on the same partitions (an instance that lost its partitions and does not know yet) commits
 * nothing; the caller reads the offsets again. Pipeline mode runs on a nonblocking connection and
 * reads the server's answers while it sends, so a large batch cannot deadlock on full sockets.
 */
#include "pg.h"

#include <rill/rill.h>

#include <libpq-fe.h>

#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const pg_col_roles[PG_COL_COUNT] = {
    "id", "payload", "key", "topic", "partition", "offset", "timestamp",
};

/* The type of each column when this creates the table (the payload's comes from the options). */
static const char *const col_types[PG_COL_COUNT] = {
    "text PRIMARY KEY", NULL, "text", "text", "integer", "bigint", "timestamptz",
};

#define INSERT_STMT "rill_pg_sink_insert"
#define OFFSET_STMT "rill_pg_sink_offset"

struct pg_store {
    PGconn *conn;
    char *table, *offsets;      /* quoted, schema-qualified as given */
    char *cols[PG_COL_COUNT];   /* quoted; NULL = not written */
    bool bytes[PG_COL_COUNT];   /* the column is bytea: its parameter is sent as bytes */
    int params;                 /* how many columns the INSERT writes */
    int map[PG_COL_COUNT];      /* parameter index -> column */
    const char *table_as_given; /* for messages */
};

/* Copies into errstr the primary message of a failed result (or of the connection), with its
 * detail and SQLSTATE when PostgreSQL gave them. */
static void pg_message(PGconn *conn, const PGresult *res, char *out, size_t size)
{
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!primary) {
        const char *m =
            res && *PQresultErrorMessage(res) ? PQresultErrorMessage(res) : PQerrorMessage(conn);
        snprintf(out, size, "%s", m && *m ? m : "unknown error");
        size_t n = strlen(out);
        while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
            out[--n] = 0;
        return;
    }
    const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    snprintf(out, size, "%s%s%s (SQLSTATE %s)", primary, detail ? ": " : "", detail ? detail : "",
             state ? state : "?");
}

/* Runs sql (no parameters, blocking); returns 0, or -1 with what names it and PostgreSQL's
 * message in errstr. */
static int exec_ok(pg_store_t *store, const char *sql, const char *what, char *errstr,
                   size_t errstr_size)
{
    PGresult *res = PQexec(store->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
    if (rc) {
        char msg[512];
        pg_message(store->conn, res, msg, sizeof msg);
        snprintf(errstr, errstr_size, "%s: %s", what, msg);
    }
    PQclear(res);
    return rc;
}

/* Returns name ("schema.table" or "table") with each part quoted, malloc'd, or NULL. */
static char *quote_name(PGconn *conn, const char *name)
{
    const char *dot = strchr(name, '.');
    char *a = PQescapeIdentifier(conn, name, dot ? (size_t)(dot - name) : strlen(name));
    char *b = dot ? PQescapeIdentifier(conn, dot + 1, strlen(dot + 1)) : NULL;
    char *out = NULL;
    if (a && (!dot || b)) {
        size_t n = strlen(a) + (b ? strlen(b) + 1 : 0) + 1;
        out = malloc(n);
        if (out)
            snprintf(out, n, "%s%s%s", a, b ? "." : "", b ? b : "");
    }
    PQfreemem(a);
    PQfreemem(b);
    return out;
}

/* A growing string for building SQL. */
typedef struct {
    char *s;
    size_t len, cap;
    bool oom;
} sql_t;

static void sql_add(sql_t *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sql_add(sql_t *q, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(q->s ? q->s + q->len : NULL, q->s ? q->cap - q->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0 || q->oom) {
            q->oom = true;
            return;
        }
        if (q->s && q->len + (size_t)n < q->cap) {
            q->len += (size_t)n;
            return;
        }
        size_t cap = (q->cap ? q->cap * 2 : 256) + (size_t)n;
        char *s = realloc(q->s, cap);
        if (!s) {
            q->oom = true;
            return;
        }
        q->s = s;
        q->cap = cap;
    }
}

static int create_tables(pg_store_t *store, const pg_store_opts_t *opts, char *errstr,
                         size_t errstr_size)
{
    sql_t q = {0};
    /* Two sinks starting at once would race on CREATE TABLE IF NOT EXISTS (a unique violation in
     * pg_type): a transaction-scoped advisory lock orders them. */
    sql_add(&q,
            "BEGIN; SELECT pg_advisory_xact_lock(hashtext('rill-pg-sink'));"
            "CREATE TABLE IF NOT EXISTS %s (",
            store->table);
    for (int c = 0, first = 1; c < PG_COL_COUNT; c++) {
        if (!store->cols[c])
            continue;
        const char *type = c == PG_COL_PAYLOAD ? opts->payload_type : col_types[c];
        sql_add(&q, "%s%s %s", first ? "" : ", ", store->cols[c], type);
        first = 0;
    }
    sql_add(&q,
            "); CREATE TABLE IF NOT EXISTS %s (group_id text NOT NULL, topic text NOT NULL, "
            "partition integer NOT NULL, next_offset bigint NOT NULL, "
            "updated_at timestamptz NOT NULL DEFAULT now(), "
            "PRIMARY KEY (group_id, topic, partition)); COMMIT",
            store->offsets);
    int rc = q.oom ? -1 : exec_ok(store, q.s, "cannot create the tables", errstr, errstr_size);
    if (q.oom)
        snprintf(errstr, errstr_size, "out of memory");
    free(q.s);
    if (rc)
        exec_ok(store, "ROLLBACK", "rollback", NULL, 0);
    return rc;
}

/* Checks that the events table has each column given, and notes which are bytea. */
static int check_columns(pg_store_t *store, const pg_store_opts_t *opts, char *errstr,
                         size_t errstr_size)
{
    const char *params[1] = {store->table};
    PGresult *res = PQexecParams(store->conn,
                                 "SELECT a.attname, format_type(a.atttypid, a.atttypmod) "
                                 "FROM pg_attribute a WHERE a.attrelid = $1::regclass "
                                 "AND a.attnum > 0 AND NOT a.attisdropped",
                                 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char msg[512];
        pg_message(store->conn, res, msg, sizeof msg);
        snprintf(errstr, errstr_size, "table %s: %s", opts->table, msg);
        PQclear(res);
        return -1;
    }
    int rc = 0;
    for (int c = 0; c < PG_COL_COUNT && !rc; c++) {
        if (!store->cols[c])
            continue;
        int found = -1;
        for (int r = 0; r < PQntuples(res) && found < 0; r++)
            if (strcmp(PQgetvalue(res, r, 0), opts->columns[c]) == 0)
                found = r;
        if (found < 0) {
            snprintf(errstr, errstr_size,
                     "table %s has no column \"%s\" (the %s column; --column %s=NAME names "
                     "another, --column %s= writes none)",
                     opts->table, opts->columns[c], pg_col_roles[c], pg_col_roles[c],
                     pg_col_roles[c]);
            rc = -1;
        } else {
            store->bytes[c] = strcmp(PQgetvalue(res, found, 1), "bytea") == 0;
        }
    }
    PQclear(res);
    return rc;
}

static int prepare(pg_store_t *store, const pg_store_opts_t *opts, char *errstr, size_t errstr_size)
{
    sql_t q = {0};
    sql_add(&q, "INSERT INTO %s (", store->table);
    for (int i = 0; i < store->params; i++)
        sql_add(&q, "%s%s", i ? ", " : "", store->cols[store->map[i]]);
    sql_add(&q, ") VALUES (");
    for (int i = 0; i < store->params; i++)
        sql_add(&q, "%s$%d", i ? ", " : "", i + 1);
    sql_add(&q, ") ON CONFLICT (%s) DO ", store->cols[PG_COL_ID]);
    if (opts->update && store->params > 1) {
        sql_add(&q, "UPDATE SET ");
        for (int i = 1; i < store->params; i++)
            sql_add(&q, "%s%s = EXCLUDED.%s", i > 1 ? ", " : "", store->cols[store->map[i]],
                    store->cols[store->map[i]]);
    } else {
        sql_add(&q, "NOTHING");
    }
    int rc = -1;
    PGresult *res = q.oom ? NULL : PQprepare(store->conn, INSERT_STMT, q.s, 0, NULL);
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        PQclear(res);
        q.len = 0;
        /* $5 is the offset this sink last saw (NULL: no row): the upsert moves only from it. */
        sql_add(&q,
                "INSERT INTO %s AS o (group_id, topic, partition, next_offset) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (group_id, topic, partition) DO UPDATE "
                "SET next_offset = EXCLUDED.next_offset, updated_at = now() "
                "WHERE o.next_offset = $5::bigint",
                store->offsets);
        res = q.oom ? NULL : PQprepare(store->conn, OFFSET_STMT, q.s, 0, NULL);
        rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    }
    if (rc) {
        char msg[512];
        pg_message(store->conn, res, msg, sizeof msg);
        snprintf(errstr, errstr_size, "cannot prepare the statements on table %s: %s", opts->table,
                 q.oom ? "out of memory" : msg);
    }
    PQclear(res);
    free(q.s);
    return rc;
}

/* PostgreSQL's notices ("relation ... already exists, skipping") are debug lines, not stderr's. */
static void on_notice(void *arg, const char *message)
{
    size_t n = strlen(message);
    rill_log(RILL_LOG_DEBUG, "pg-sink", "PostgreSQL: %.*s",
             (int)(n && message[n - 1] == '\n' ? n - 1 : n), message);
}

pg_store_t *pg_store_new(const pg_store_opts_t *opts, char *errstr, size_t errstr_size)
{
    pg_store_t *store = calloc(1, sizeof *store);
    if (!store) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    store->table_as_given = opts->table;
    store->conn = PQconnectdb(opts->url ? opts->url : "");
    if (PQstatus(store->conn) != CONNECTION_OK) {
        char msg[512];
        pg_message(store->conn, NULL, msg, sizeof msg);
        snprintf(errstr, errstr_size, "cannot connect to PostgreSQL: %s", msg);
        pg_store_destroy(store);
        return NULL;
    }
    PQsetNoticeProcessor(store->conn, on_notice, NULL);
    bool ok = (store->table = quote_name(store->conn, opts->table)) &&
              (store->offsets = quote_name(store->conn, opts->offsets_table));
    for (int c = 0; ok && c < PG_COL_COUNT; c++) {
        if (!opts->columns[c] || !*opts->columns[c])
            continue;
        store->cols[c] =
            PQescapeIdentifier(store->conn, opts->columns[c], strlen(opts->columns[c]));
        ok = store->cols[c] != NULL;
        store->map[store->params++] = c;
    }
    if (!ok) {
        snprintf(errstr, errstr_size, "out of memory");
    } else if (!store->cols[PG_COL_ID]) {
        snprintf(errstr, errstr_size, "the id column is required");
        ok = false;
    }
    /* Every session's timestamps in UTC, so the timestamp column's text (written with +00) and
     * what a reader sees agree on any server. */
    ok = ok && exec_ok(store, "SET TIME ZONE 'UTC'", "cannot set the time zone", errstr,
                       errstr_size) == 0;
    ok = ok && (!opts->create || create_tables(store, opts, errstr, errstr_size) == 0);
    ok = ok && check_columns(store, opts, errstr, errstr_size) == 0;
    ok = ok && prepare(store, opts, errstr, errstr_size) == 0;
    if (ok && PQsetnonblocking(store->conn, 1) != 0) {
        snprintf(errstr, errstr_size, "cannot make the connection nonblocking");
        ok = false;
    }
    if (!ok) {
        pg_store_destroy(store);
        return NULL;
    }
    return store;
}

void pg_store_destroy(pg_store_t *store)
{
    if (!store)
        return;
    PQfinish(store->conn);
    free(store->table);
    free(store->offsets);
    for (int c = 0; c < PG_COL_COUNT; c++)
        PQfreemem(store->cols[c]);
    free(store);
}

bool pg_store_column_is_bytes(const pg_store_t *store, pg_col_t c)
{
    return store->bytes[c];
}

int pg_store_read_offsets(pg_store_t *store, const char *group, pg_offset_t *parts, int n,
                          char *errstr, size_t errstr_size)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT topic, partition, next_offset FROM %s WHERE group_id = $1",
             store->offsets);
    const char *params[1] = {group};
    PGresult *res = PQexecParams(store->conn, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char msg[512];
        pg_message(store->conn, res, msg, sizeof msg);
        snprintf(errstr, errstr_size, "cannot read group %s's offsets from %s: %s", group,
                 store->offsets, msg);
        PQclear(res);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        parts[i].stored = -1;
        for (int r = 0; r < PQntuples(res); r++)
            if (atoi(PQgetvalue(res, r, 1)) == parts[i].partition &&
                strcmp(PQgetvalue(res, r, 0), parts[i].topic) == 0)
                parts[i].stored = strtoll(PQgetvalue(res, r, 2), NULL, 10);
        parts[i].next = parts[i].stored;
    }
    PQclear(res);
    return 0;
}

/* Sends what libpq holds, reading the server's answers meanwhile (they would otherwise fill the
 * socket the other way, and both sides would wait). 0, or -1 when the connection failed. */
static int flush_all(PGconn *conn)
{
    int r;
    while ((r = PQflush(conn)) == 1) {
        struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN | POLLOUT};
        if (poll(&pfd, 1, -1) < 0)
            continue;
        if ((pfd.revents & POLLIN) && !PQconsumeInput(conn))
            return -1;
    }
    return r;
}

/* Reads the next command's result in the pipeline (and the NULL that ends it); NULL when the
 * connection failed. */
static PGresult *next_result(PGconn *conn)
{
    PGresult *res = PQgetResult(conn);
    if (res && PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
        PGresult *end = PQgetResult(conn);
        PQclear(end); /* NULL */
    }
    return res;
}

int pg_store_write(pg_store_t *store, const char *group, const pg_row_t *rows, int nrows,
                   const pg_offset_t *parts, int nparts, pg_write_stats_t *stats, char *errstr,
                   size_t errstr_size)
{
    PGconn *conn = store->conn;
    int formats[PG_COL_COUNT];
    for (int i = 0; i < store->params; i++)
        formats[i] = store->bytes[store->map[i]] ? 1 : 0;
    if (!PQenterPipelineMode(conn)) {
        snprintf(errstr, errstr_size, "PostgreSQL: cannot enter pipeline mode: %s",
                 PQerrorMessage(conn));
        return -1;
    }
    bool sent = PQsendQueryParams(conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) == 1;
    for (int r = 0; sent && r < nrows; r++) {
        const char *values[PG_COL_COUNT];
        int lens[PG_COL_COUNT];
        for (int i = 0; i < store->params; i++) {
            values[i] = rows[r].values[store->map[i]];
            lens[i] = rows[r].lens[store->map[i]];
        }
        sent = PQsendQueryPrepared(conn, INSERT_STMT, store->params, values, lens, formats, 0) == 1;
        if (sent && r % 64 == 63)
            sent = flush_all(conn) == 0;
    }
    for (int p = 0; sent && p < nparts; p++) {
        char part[16], next[24], stored[24];
        snprintf(part, sizeof part, "%" PRId32, parts[p].partition);
        snprintf(next, sizeof next, "%" PRId64, parts[p].next);
        snprintf(stored, sizeof stored, "%" PRId64, parts[p].stored);
        const char *values[5] = {group, parts[p].topic, part, next,
                                 parts[p].stored < 0 ? NULL : stored};
        sent = PQsendQueryPrepared(conn, OFFSET_STMT, 5, values, NULL, NULL, 0) == 1;
    }
    sent = sent && PQpipelineSync(conn) == 1 && flush_all(conn) == 0;
    if (!sent) {
        snprintf(errstr, errstr_size, "PostgreSQL: connection lost: %s", PQerrorMessage(conn));
        return -1;
    }
    /* The answers, in order: BEGIN, the rows, the offsets, the sync. After an error, the
     * commands that follow it are PGRES_PIPELINE_ABORTED. */
    int rc = 0;
    *stats = (pg_write_stats_t){0, 0};
    for (int i = -1; i <= nrows + nparts; i++) {
        PGresult *res = next_result(conn);
        if (!res) {
            snprintf(errstr, errstr_size, "PostgreSQL: connection lost: %s", PQerrorMessage(conn));
            return -1;
        }
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_FATAL_ERROR && rc == 0) {
            char msg[512];
            pg_message(conn, res, msg, sizeof msg);
            if (i >= 0 && i < nrows)
                snprintf(errstr, errstr_size,
                         "PostgreSQL refused the row of %s [%" PRId32 "] offset %" PRId64
                         " (event id '%.64s') for table %s: %s",
                         rows[i].topic, rows[i].partition, rows[i].offset,
                         rows[i].values[PG_COL_ID], store->table_as_given, msg);
            else if (i >= nrows && i < nrows + nparts)
                snprintf(errstr, errstr_size,
                         "PostgreSQL refused the offset of %s [%" PRId32 "] (%" PRId64 "): %s",
                         parts[i - nrows].topic, parts[i - nrows].partition, parts[i - nrows].next,
                         msg);
            else
                snprintf(errstr, errstr_size, "PostgreSQL: %s", msg);
            rc = -1;
        } else if (st == PGRES_COMMAND_OK && i >= 0 && i < nrows) {
            int64_t n = atoll(PQcmdTuples(res));
            stats->inserted += n;
            stats->skipped += 1 - n;
        } else if (st == PGRES_COMMAND_OK && i >= nrows && i < nrows + nparts && rc == 0 &&
                   atoll(PQcmdTuples(res)) != 1) {
            snprintf(errstr, errstr_size,
                     "the offset of %s [%" PRId32 "] in %s is no longer %" PRId64
                     " (another writer moved it)",
                     parts[i - nrows].topic, parts[i - nrows].partition, store->offsets,
                     parts[i - nrows].stored);
            rc = PG_STALE;
        }
        PQclear(res);
    }
    if (!PQexitPipelineMode(conn)) {
        snprintf(errstr, errstr_size, "PostgreSQL: cannot leave pipeline mode: %s",
                 PQerrorMessage(conn));
        return -1;
    }
    char msg[512];
    if (exec_ok(store, rc == 0 ? "COMMIT" : "ROLLBACK", rc == 0 ? "COMMIT" : "ROLLBACK", msg,
                sizeof msg) != 0) {
        if (rc == 0)
            snprintf(errstr, errstr_size, "PostgreSQL: %s", msg);
        return -1;
    }
    return rc;
}
