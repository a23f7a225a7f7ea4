/*
 * rill-pg-sink: an idempotent sink from Kafka topics to a PostgreSQL table, one row per event id,
 * the Kafka offsets committed in the same PostgreSQL transaction (docs/pg-sink.md). The command
 * line is here; the loop is apps/pg_sink/sink.c, the PostgreSQL side apps/pg_sink/pg.c.
 *
 *   rill-pg-sink --bootstrap-servers HOSTS --group G --topic T [--topic T ...] --pg URL
 *                [--table NAME] [--id key|header:NAME|json:FIELD] [--column ROLE=NAME ...] ...
 */
#include "pg_sink/sink.h"

#include <rill/rill.h>

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: rill-pg-sink --bootstrap-servers HOSTS --group G --topic T [--topic T...]\n"
            "                    [--pg URL] [options]\n"
            "Writes each record of the topics as one row of a PostgreSQL table, keyed by an\n"
            "event id, with the partitions' offsets in the same transaction: a crash at any\n"
            "point leaves exactly one row per event. Stops cleanly on SIGINT or SIGTERM.\n\n"
            "  --bootstrap-servers HOSTS  Kafka cluster\n"
            "  --group G                  consumer group, and the key of its offsets\n"
            "  --topic T                  a topic to read; repeatable\n"
            "  --pg URL                   libpq connection string or URL (default: libpq's\n"
            "                             PG* environment variables)\n"
            "  --table NAME               [schema.]table (default events)\n"
            "  --offsets-table NAME       [schema.]table (default rill_pg_sink_offsets)\n"
            "  --id FROM                  the event id: key (default), header:NAME, or\n"
            "                             json:FIELD (a top-level member of the JSON value)\n"
            "  --column ROLE=NAME         the column of ROLE: id (event_id), payload (payload),\n"
            "                             key (key), topic (topic), partition (partition),\n"
            "                             offset (offset), timestamp (timestamp); NAME empty:\n"
            "                             not written (all but id); repeatable\n"
            "  --payload-type TYPE        jsonb (default), json, text or bytea: the payload\n"
            "                             column's type when the table is created\n"
            "  --on-conflict WHAT         nothing (default: the first row of an event id stays)\n"
            "                             or update (the last record of an event id wins)\n"
            "  --no-create                do not create the tables when missing\n"
            "  --batch-size N             records a transaction at most (default 1000)\n"
            "  --batch-ms MS              how long a batch waits to fill (default 100)\n"
            "  --start earliest|latest    where a partition without a stored offset starts\n"
            "                             (default earliest)\n"
            "  --config KEY=VALUE         a librdkafka consumer property; repeatable\n"
            "  --progress-ms MS           a progress line every MS (default 10000; 0: none)\n"
            "  --verbose                  debug logging\n"
            "  --help                     this text\n");
}

static void on_signal(int sig)
{
    pg_sink_stop();
}

/* Parses a positive int option; returns it, or -1 after saying what is wrong. */
static int positive(const char *opt, const char *arg, int min)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (*arg == 0 || *end || v < min || v > 1000000000) {
        fprintf(stderr, "rill-pg-sink: %s %s: want an integer from %d\n", opt, arg, min);
        return -1;
    }
    return (int)v;
}

static int set_column(pg_sink_opts_t *o, const char *arg)
{
    const char *eq = strchr(arg, '=');
    for (int c = 0; eq && c < PG_COL_COUNT; c++)
        if (strlen(pg_col_roles[c]) == (size_t)(eq - arg) &&
            strncmp(arg, pg_col_roles[c], (size_t)(eq - arg)) == 0) {
            if (c == PG_COL_ID && !eq[1]) {
                fprintf(stderr, "rill-pg-sink: --column id= : the id column is required\n");
                return -1;
            }
            o->pg.columns[c] = eq + 1;
            return 0;
        }
    fprintf(stderr,
            "rill-pg-sink: --column %s: want ROLE=NAME, ROLE one of id, payload, key, topic, "
            "partition, offset, timestamp\n",
            arg);
    return -1;
}

static int set_id(pg_sink_opts_t *o, const char *arg)
{
    if (strcmp(arg, "key") == 0) {
        o->id_from = PG_ID_KEY;
    } else if (strncmp(arg, "header:", 7) == 0 && arg[7]) {
        o->id_from = PG_ID_HEADER;
        o->id_name = arg + 7;
    } else if (strncmp(arg, "json:", 5) == 0 && arg[5]) {
        o->id_from = PG_ID_JSON;
        o->id_name = arg + 5;
    } else {
        fprintf(stderr, "rill-pg-sink: --id %s: want key, header:NAME or json:FIELD\n", arg);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    /* First of all: a SIGTERM that comes early (a supervisor changing its mind) still stops the
     * sink cleanly. */
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    static const struct option longopts[] = {
        {"bootstrap-servers", required_argument, NULL, 'b'},
        {"group", required_argument, NULL, 'g'},
        {"topic", required_argument, NULL, 't'},
        {"pg", required_argument, NULL, 'p'},
        {"table", required_argument, NULL, 'T'},
        {"offsets-table", required_argument, NULL, 'O'},
        {"id", required_argument, NULL, 'i'},
        {"column", required_argument, NULL, 'c'},
        {"payload-type", required_argument, NULL, 'P'},
        {"on-conflict", required_argument, NULL, 'C'},
        {"no-create", no_argument, NULL, 'N'},
        {"batch-size", required_argument, NULL, 'n'},
        {"batch-ms", required_argument, NULL, 'm'},
        {"start", required_argument, NULL, 's'},
        {"config", required_argument, NULL, 'k'},
        {"progress-ms", required_argument, NULL, 'r'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char **topics = calloc((size_t)argc, sizeof *topics);
    const char **conf = calloc((size_t)argc, sizeof *conf);
    if (!topics || !conf) {
        fprintf(stderr, "rill-pg-sink: out of memory\n");
        return 1;
    }
    pg_sink_opts_t o = {
        .id_from = PG_ID_KEY,
        .batch_size = 1000,
        .batch_ms = 100,
        .progress_ms = 10000,
        .topics = topics,
        .kafka_conf = conf,
        .pg = {.url = "",
               .table = "events",
               .offsets_table = "rill_pg_sink_offsets",
               .columns = {"event_id", "payload", "key", "topic", "partition", "offset",
                           "timestamp"},
               .payload_type = "jsonb",
               .create = true},
    };
    int status = 2, opt;
    bool verbose = false, bad = false;
    while (!bad && (opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'b':
            o.bootstrap = optarg;
            break;
        case 'g':
            o.group = optarg;
            break;
        case 't':
            topics[o.ntopics++] = optarg;
            break;
        case 'p':
            o.pg.url = optarg;
            break;
        case 'T':
            o.pg.table = optarg;
            break;
        case 'O':
            o.pg.offsets_table = optarg;
            break;
        case 'i':
            bad = set_id(&o, optarg) != 0;
            break;
        case 'c':
            bad = set_column(&o, optarg) != 0;
            break;
        case 'P':
            o.pg.payload_type = optarg;
            if (strcmp(optarg, "jsonb") && strcmp(optarg, "json") && strcmp(optarg, "text") &&
                strcmp(optarg, "bytea")) {
                fprintf(stderr,
                        "rill-pg-sink: --payload-type %s: want jsonb, json, text or "
                        "bytea\n",
                        optarg);
                bad = true;
            }
            break;
        case 'C':
            o.pg.update = strcmp(optarg, "update") == 0;
            if (!o.pg.update && strcmp(optarg, "nothing") != 0) {
                fprintf(stderr, "rill-pg-sink: --on-conflict %s: want nothing or update\n", optarg);
                bad = true;
            }
            break;
        case 'N':
            o.pg.create = false;
            break;
        case 'n':
            bad = (o.batch_size = positive("--batch-size", optarg, 1)) < 0;
            break;
        case 'm':
            bad = (o.batch_ms = positive("--batch-ms", optarg, 0)) < 0;
            break;
        case 's':
            o.start_at_end = strcmp(optarg, "latest") == 0;
            if (!o.start_at_end && strcmp(optarg, "earliest") != 0) {
                fprintf(stderr, "rill-pg-sink: --start %s: want earliest or latest\n", optarg);
                bad = true;
            }
            break;
        case 'k':
            conf[o.nkafka_conf++] = optarg;
            break;
        case 'r':
            bad = (o.progress_ms = positive("--progress-ms", optarg, 0)) < 0;
            break;
        case 'v':
            verbose = true;
            break;
        case 'h':
            usage(stdout);
            status = 0;
            goto out;
        default:
            bad = true;
        }
    }
    if (!bad && (optind < argc || !o.bootstrap || !o.group || o.ntopics == 0)) {
        if (optind < argc)
            fprintf(stderr, "rill-pg-sink: unexpected argument '%s'\n", argv[optind]);
        else
            fprintf(stderr, "rill-pg-sink: --bootstrap-servers, --group and --topic are "
                            "required\n");
        bad = true;
    }
    if (bad) {
        fprintf(stderr, "(rill-pg-sink --help for the options)\n");
        goto out;
    }
    rill_set_log_cb(NULL, NULL, verbose ? RILL_LOG_DEBUG : RILL_LOG_INFO);
    status = pg_sink_run(&o);
out:
    free(topics);
    free(conf);
    return status;
}
