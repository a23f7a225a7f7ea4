/*
 * rill-pg-sink's PostgreSQL side: the events table, the offsets table, and one transaction per
 * batch that writes the batch's rows and moves its partitions' offsets together. pg.c is the
 * only file that includes libpq's header; nothing here names a libpq type. One pg_store_t is one
 * connection, used by one thread.
 */
#ifndef RILL_APPS_PG_SINK_PG_H
#define RILL_APPS_PG_SINK_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The columns rill-pg-sink can write, in the order of the INSERT's parameters. */
typedef enum {
    PG_COL_ID,        /* the event id: text, the conflict target (primary key) */
    PG_COL_PAYLOAD,   /* the record's value: jsonb (default), json, text or bytea */
    PG_COL_KEY,       /* the record's key: text or bytea */
    PG_COL_TOPIC,     /* text */
    PG_COL_PARTITION, /* integer */
    PG_COL_OFFSET,    /* bigint */
    PG_COL_TIMESTAMP, /* timestamptz, the record's timestamp */
    PG_COL_COUNT
} pg_col_t;

/* The role names of the columns ("id", "payload", ...), indexed by pg_col_t. */
extern const char *const pg_col_roles[PG_COL_COUNT];

typedef struct {
    const char *url;           /* libpq connection string or URL ("" = libpq's PG* defaults) */
    const char *table;         /* the events table, [schema.]name */
    const char *offsets_table; /* [schema.]name */
    /* Column names by role; NULL or "" = not written (the id column is required). */
    const char *columns[PG_COL_COUNT];
    const char *payload_type; /* the payload column's type when this creates the table */
    bool update;              /* ON CONFLICT DO UPDATE (the last write wins), else DO NOTHING */
    bool create;              /* CREATE TABLE IF NOT EXISTS both tables */
} pg_store_opts_t;

/* One row of a batch: values by column, NUL-terminated text (or bytes of len[c] for a bytea
 * column), NULL for SQL NULL; where it came from, for error messages. */
typedef struct {
    const char *values[PG_COL_COUNT];
    int lens[PG_COL_COUNT];
    const char *topic;
    int32_t partition;
    int64_t offset;
} pg_row_t;

/* One partition's offset in the offsets table: stored is what the table holds (-1: no row),
 * next what the transaction writes. */
typedef struct {
    const char *topic;
    int32_t partition;
    int64_t stored, next;
} pg_offset_t;

/* What one transaction did. */
typedef struct {
    int64_t inserted; /* rows new to the table (or updated, with update) */
    int64_t skipped;  /* rows whose event id was there already (DO NOTHING) */
} pg_write_stats_t;

/* pg_store_write's answer when another writer moved an offset first (a zombie, two sinks in one
 * group): nothing was committed; read the offsets again. */
#define PG_STALE 1

typedef struct pg_store pg_store_t;

/* Connects, creates the tables when asked, checks the columns and prepares the statements.
 * Returns a new store, or NULL with the reason in errstr. */
pg_store_t *pg_store_new(const pg_store_opts_t *opts, char *errstr, size_t errstr_size);
/* Closes the connection and frees the store. NULL is fine. */
void pg_store_destroy(pg_store_t *store);
/* Sets parts[i].stored (and .next) to group's stored next offset of each partition, -1 where the
 * table has none. Returns 0, or -1 with the reason in errstr. */
int pg_store_read_offsets(pg_store_t *store, const char *group, pg_offset_t *parts, int n,
                          char *errstr, size_t errstr_size);
/* One transaction: inserts rows[0..nrows) and moves each of parts[0..nparts) from stored to next,
 * only where the table still holds stored. Returns 0 (committed; stats filled), PG_STALE (an
 * offset had moved: rolled back), or -1 (rolled back, or the connection is lost) with the reason
 * in errstr, naming the row (topic, partition, offset) when PostgreSQL refused one. */
int pg_store_write(pg_store_t *store, const char *group, const pg_row_t *rows, int nrows,
                   const pg_offset_t *parts, int nparts, pg_write_stats_t *stats, char *errstr,
                   size_t errstr_size);
/* Whether column c of the events table is bytea (its values are then sent as bytes). */
bool pg_store_column_is_bytes(const pg_store_t *store, pg_col_t c);

#endif
