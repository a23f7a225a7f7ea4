/*
 * rill: the command-line tool. `version`; `config`, which generates docs/CONFIGURATION.md from
 * the configuration table (so the docs never drift from the code); and the operator's tools of
 * include/rill/admin.h (docs/cli.md): `reset` an application, `dlq list|show|replay` its dead
 * letter queue, `replay` a past time range under a new application id; `metrics`, a live view
 * of a running app (apps/cli/metrics_view.c). Plans and summaries go
 * to stdout, progress and errors to stderr: a bar on a terminal, a line per tenth otherwise.
 * Exit status: 0 done, 1 failed, 2 bad usage, 3 refused (live members, a state folder in use,
 * a new application id that is not new).
 */
#include "cli/metrics_view.h"

#include <rill/admin.h>
#include <rill/app.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_USAGE = 2, EXIT_REFUSED = 3 };

static int usage(FILE *out)
{
    fprintf(out,
            "Usage: rill COMMAND [options]\n\n"
            "  version             print the library version\n"
            "  config --markdown   print docs/CONFIGURATION.md (made from the property table)\n"
            "  config --list       print every property and its default\n"
            "  reset               reset an application: input offsets, internal topics, state\n"
            "  dlq list|show|replay  inspect and replay a dead letter queue\n"
            "  replay              copy a past time range of an app's inputs for a new app id\n"
            "  metrics --connect HOST:PORT [--interval S] [--once]\n"
            "                      a live view of a running app (its metrics.listen)\n\n"
            "Common options: --bootstrap-servers HOSTS (default localhost:9092), --help.\n"
            "`rill COMMAND --help` lists a command's options; docs/cli.md has the details.\n");
    return out == stdout ? 0 : EXIT_USAGE;
}

/* ---- progress ---- */

typedef struct {
    bool tty;
    int last_tenth;
    int64_t last_done;
    const char *what;
} progress_t;

static void on_progress(void *ud, int64_t done, int64_t total)
{
    progress_t *p = ud;
    if (total <= 0)
        return;
    int pct = (int)(done * 100 / total);
    if (p->tty) {
        enum { WIDTH = 30 };
        int fill = (int)(done * WIDTH / total);
        fprintf(stderr, "\r%s [%.*s%*s] %3d%% %lld/%lld", p->what, fill,
                "##############################", WIDTH - fill, "", pct, (long long)done,
                (long long)total);
        if (done >= total)
            fputc('\n', stderr);
        fflush(stderr);
    } else if (pct / 10 > p->last_tenth || (done >= total && p->last_done < total)) {
        p->last_tenth = pct / 10;
        fprintf(stderr, "%s: %lld/%lld (%d%%)\n", p->what, (long long)done, (long long)total, pct);
    }
    p->last_done = done;
}

static progress_t progress_for(const char *what)
{
    return (progress_t){isatty(2) != 0, -1, -1, what};
}

/* ---- options ---- */

enum {
    O_BOOTSTRAP = 256,
    O_APP,
    O_NEW_APP,
    O_INPUTS,
    O_EARLIEST,
    O_DATETIME,
    O_DURATION,
    O_OFFSET,
    O_FILE,
    O_STATE_DIR,
    O_DRY_RUN,
    O_TOPIC,
    O_PARTITION,
    O_FROM_OFFSET,
    O_CLASS,
    O_SINCE,
    O_MAX_REPLAYS,
    O_FROM,
    O_TO,
    O_HELP,
};

static const struct option long_options[] = {
    {"bootstrap-servers", required_argument, NULL, O_BOOTSTRAP},
    {"bootstrap-server", required_argument, NULL, O_BOOTSTRAP},
    {"application-id", required_argument, NULL, O_APP},
    {"new-application-id", required_argument, NULL, O_NEW_APP},
    {"input-topics", required_argument, NULL, O_INPUTS},
    {"to-earliest", no_argument, NULL, O_EARLIEST},
    {"to-datetime", required_argument, NULL, O_DATETIME},
    {"by-duration", required_argument, NULL, O_DURATION},
    {"to-offset", required_argument, NULL, O_OFFSET},
    {"from-file", required_argument, NULL, O_FILE},
    {"state-dir", required_argument, NULL, O_STATE_DIR},
    {"dry-run", no_argument, NULL, O_DRY_RUN},
    {"topic", required_argument, NULL, O_TOPIC},
    {"partition", required_argument, NULL, O_PARTITION},
    {"from-offset", required_argument, NULL, O_FROM_OFFSET},
    {"offset", required_argument, NULL, O_FROM_OFFSET},
    {"error-class", required_argument, NULL, O_CLASS},
    {"since", required_argument, NULL, O_SINCE},
    {"max-replays", required_argument, NULL, O_MAX_REPLAYS},
    {"from", required_argument, NULL, O_FROM},
    {"to", required_argument, NULL, O_TO},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

typedef struct {
    const char *bootstrap, *app, *new_app, *file, *state_dir, *topic, *error_class;
    char *inputs_buf;
    const char *inputs[64];
    size_t input_count;
    int modes; /* how many of the reset's modes were given */
    rill_reset_mode_t mode;
    int64_t timestamp_ms, offset, from_offset, to_offset, since_ms, from_ms, to_ms;
    int32_t partition;
    int max_replays;
    bool dry_run, help, has_from, has_to;
} args_t;

static int bad(const char *fmt, const char *what)
{
    fprintf(stderr, "rill: ");
    fprintf(stderr, fmt, what);
    fputc('\n', stderr);
    return EXIT_USAGE;
}

/* A time: an ISO-8601 date and time, milliseconds since the epoch, or a duration back from now. */
static int parse_time(const char *text, int64_t *ms)
{
    int64_t back;
    if (text[0] == 'P' && rill_admin_parse_duration(text, &back) == 0) {
        *ms = rill_wall_clock_ms() - back;
        return 0;
    }
    return rill_admin_parse_datetime(text, ms);
}

static int parse_int(const char *text, int64_t min, int64_t *out)
{
    char *end;
    long long v = strtoll(text, &end, 10);
    if (!*text || *end || v < min)
        return -1;
    *out = v;
    return 0;
}

/* Parses argv from index 2 (after "rill COMMAND"); 0 or EXIT_USAGE after saying why. */
static int parse(int argc, char **argv, int first, args_t *a)
{
    *a = (args_t){.bootstrap = "localhost:9092",
                  .mode = RILL_RESET_TO_EARLIEST,
                  .from_offset = -1,
                  .to_offset = -1,
                  .since_ms = -1,
                  .partition = -1,
                  .max_replays = 3};
    const char *env = getenv("RILL_BOOTSTRAP_SERVERS");
    if (env && *env)
        a->bootstrap = env;
    optind = first;
    opterr = 0;
    int opt;
    int64_t v;
    while ((opt = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        switch (opt) {
        case O_BOOTSTRAP:
            a->bootstrap = optarg;
            break;
        case O_APP:
            a->app = optarg;
            break;
        case O_NEW_APP:
            a->new_app = optarg;
            break;
        case O_INPUTS:
            free(a->inputs_buf);
            a->inputs_buf = strdup(optarg);
            a->input_count = 0;
            for (char *s = a->inputs_buf, *t; s && (t = strsep(&s, ","));)
                if (*t && a->input_count < sizeof a->inputs / sizeof *a->inputs)
                    a->inputs[a->input_count++] = t;
            break;
        case O_EARLIEST:
            a->modes++, a->mode = RILL_RESET_TO_EARLIEST;
            break;
        case O_DATETIME:
            a->modes++, a->mode = RILL_RESET_TO_TIME;
            if (rill_admin_parse_datetime(optarg, &a->timestamp_ms))
                return bad("--to-datetime: '%s' is not a date and time "
                           "(2026-12-02T08:00:00.000Z, or milliseconds since the epoch)",
                           optarg);
            break;
        case O_DURATION:
            a->modes++, a->mode = RILL_RESET_TO_TIME;
            if (rill_admin_parse_duration(optarg, &v))
                return bad("--by-duration: '%s' is not an ISO-8601 duration (PT1H, P1DT12H)",
                           optarg);
            a->timestamp_ms = rill_wall_clock_ms() - v;
            break;
        case O_OFFSET:
            /* --to-offset is the reset's mode, and the dead letter filter's last offset. */
            if (parse_int(optarg, 0, &a->offset))
                return bad("--to-offset: '%s' is not an offset", optarg);
            a->modes++, a->mode = RILL_RESET_TO_OFFSET, a->to_offset = a->offset;
            break;
        case O_FILE:
            a->modes++, a->mode = RILL_RESET_FROM_FILE, a->file = optarg;
            break;
        case O_STATE_DIR:
            a->state_dir = optarg;
            break;
        case O_DRY_RUN:
            a->dry_run = true;
            break;
        case O_TOPIC:
            a->topic = optarg;
            break;
        case O_PARTITION:
            if (parse_int(optarg, 0, &v) || v > INT32_MAX)
                return bad("--partition: '%s' is not a partition", optarg);
            a->partition = (int32_t)v;
            break;
        case O_FROM_OFFSET:
            if (parse_int(optarg, 0, &a->from_offset))
                return bad("--from-offset: '%s' is not an offset", optarg);
            break;
        case O_CLASS:
            a->error_class = optarg;
            break;
        case O_SINCE:
            if (parse_time(optarg, &a->since_ms))
                return bad("--since: '%s' is not a time (ISO-8601 date and time, epoch "
                           "milliseconds, or a duration back from now such as PT1H)",
                           optarg);
            break;
        case O_MAX_REPLAYS:
            if (parse_int(optarg, 1, &v) || v > 1000000)
                return bad("--max-replays: '%s' is not a count of at least 1", optarg);
            a->max_replays = (int)v;
            break;
        case O_FROM:
            if (parse_time(optarg, &a->from_ms))
                return bad("--from: '%s' is not a time", optarg);
            a->has_from = true;
            break;
        case O_TO:
            if (parse_time(optarg, &a->to_ms))
                return bad("--to: '%s' is not a time", optarg);
            a->has_to = true;
            break;
        case O_HELP:
            a->help = true;
            break;
        default:
            return bad("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad("unexpected argument '%s'", argv[optind]);
    return 0;
}

static rill_admin_t *connect_admin(const args_t *a)
{
    char err[512];
    rill_admin_t *admin = rill_admin_new(a->bootstrap, err, sizeof err);
    if (!admin)
        fprintf(stderr, "rill: %s\n", err);
    return admin;
}

static int failed(int rc, const char *what, const char *err)
{
    fprintf(stderr, "rill %s: %s\n", what, err);
    return rc == RILL_EBUSY || rc == RILL_EEXIST ? EXIT_REFUSED : 1;
}

static void format_time(int64_t ms, char *buf, size_t size)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03dZ", (int)(ms % 1000));
}

/* ---- reset ---- */

static int cmd_reset(const args_t *a)
{
    if (a->help) {
        printf("Usage: rill reset --application-id A --input-topics T1,T2 [--to-earliest | "
               "--to-datetime T |\n"
               "       --by-duration PT1H | --to-offset N | --from-file F] [--state-dir D] "
               "[--dry-run]\n");
        return 0;
    }
    if (!a->app || (!a->input_count && a->mode != RILL_RESET_FROM_FILE))
        return bad("reset needs %s", "--application-id and --input-topics");
    if (a->modes > 1)
        return bad("reset takes %s", "one of --to-earliest, --to-datetime, --by-duration, "
                                     "--to-offset, --from-file");
    rill_admin_t *admin = connect_admin(a);
    if (!admin)
        return 1;
    rill_reset_options_t o = {a->app,          a->inputs, a->input_count, a->mode,
                              a->timestamp_ms, a->offset, a->file,        a->state_dir};
    char err[1024];
    int rc;
    rill_reset_plan_t *plan = rill_reset_plan_new(admin, &o, &rc, err, sizeof err);
    if (!plan) {
        rill_admin_destroy(admin);
        return failed(rc, "reset", err);
    }
    char *text = rill_reset_plan_text(plan);
    fputs(text ? text : "(out of memory)\n", stdout);
    rill_free(text);
    size_t partitions, topics, dirs;
    rill_reset_plan_counts(plan, &partitions, &topics, &dirs);
    int status = 0;
    if (a->dry_run) {
        printf("Dry run: nothing was changed.\n");
    } else {
        fflush(stdout);
        progress_t p = progress_for("resetting");
        rc = rill_reset_execute(admin, plan, on_progress, &p, err, sizeof err);
        if (rc)
            status = failed(rc, "reset", err);
        else
            printf("Done: %zu partition offsets moved, %zu internal topics deleted, %s.\n",
                   partitions, topics, dirs ? "local state wiped" : "local state kept");
    }
    rill_reset_plan_destroy(plan);
    rill_admin_destroy(admin);
    return status;
}

/* ---- dlq ---- */

static rill_dlq_filter_t filter_of(const args_t *a)
{
    return (rill_dlq_filter_t){a->topic,     a->partition,   a->from_offset,
                               a->to_offset, a->error_class, a->since_ms};
}

static int dlq_list(rill_admin_t *admin, const args_t *a)
{
    rill_dlq_filter_t f = filter_of(a);
    rill_dlq_group_t *groups;
    size_t n;
    char err[1024];
    progress_t p = progress_for("reading");
    int rc = rill_dlq_list(admin, &f, &groups, &n, on_progress, &p, err, sizeof err);
    if (rc)
        return failed(rc, "dlq list", err);
    int64_t total = 0;
    printf("%8s  %-32s  %-40s  %-24s  %s\n", "count", "error class", "node", "first", "last");
    for (size_t i = 0; i < n; i++) {
        char first[40], last[40];
        format_time(groups[i].first_ms, first, sizeof first);
        format_time(groups[i].last_ms, last, sizeof last);
        printf("%8lld  %-32s  %-40s  %-24s  %s\n", (long long)groups[i].count,
               groups[i].error_class[0] ? groups[i].error_class : "(none)",
               groups[i].node[0] ? groups[i].node : "(none)", first, last);
        total += groups[i].count;
    }
    printf("%lld dead letters in %zu groups.\n", (long long)total, n);
    rill_free(groups);
    return 0;
}

static int dlq_show(rill_admin_t *admin, const args_t *a)
{
    if (a->partition < 0 || a->from_offset < 0)
        return bad("dlq show needs %s", "--partition and --offset");
    char err[1024];
    char *text = rill_dlq_show(admin, a->topic, a->partition, a->from_offset, err, sizeof err);
    if (!text)
        return failed(RILL_ENOENT, "dlq show", err);
    fputs(text, stdout);
    rill_free(text);
    return 0;
}

static int dlq_replay(rill_admin_t *admin, const args_t *a)
{
    rill_dlq_filter_t f = filter_of(a);
    rill_dlq_replay_result_t r;
    char err[1024];
    progress_t p = progress_for(a->dry_run ? "reading" : "replaying");
    int rc = rill_dlq_replay(admin, &f, a->max_replays, a->dry_run, on_progress, &p, &r, err,
                             sizeof err);
    if (rc)
        return failed(rc, "dlq replay", err);
    printf("%s: %lld selected (offsets %lld..%lld), %lld %s to their source topics, %lld refused "
           "(at --max-replays %d), %lld without a source topic.\n",
           a->dry_run ? "Dry run" : "Replayed", (long long)r.selected, (long long)r.first_offset,
           (long long)r.last_offset, (long long)r.replayed, a->dry_run ? "would be sent" : "sent",
           (long long)r.refused, a->max_replays, (long long)r.unknown);
    return 0;
}

static int cmd_dlq(const char *verb, const args_t *a)
{
    if (a->help || !verb) {
        printf("Usage: rill dlq list --topic DLQ [--partition P] [--from-offset N] "
               "[--to-offset N]\n"
               "                     [--error-class C] [--since T]\n"
               "       rill dlq show --topic DLQ --partition P --offset N\n"
               "       rill dlq replay --topic DLQ [filters as list] [--max-replays N] "
               "[--dry-run]\n");
        return a->help ? 0 : EXIT_USAGE;
    }
    if (!a->topic)
        return bad("dlq %s needs --topic", verb);
    rill_admin_t *admin = connect_admin(a);
    if (!admin)
        return 1;
    int rc;
    if (strcmp(verb, "list") == 0)
        rc = dlq_list(admin, a);
    else if (strcmp(verb, "show") == 0)
        rc = dlq_show(admin, a);
    else if (strcmp(verb, "replay") == 0)
        rc = dlq_replay(admin, a);
    else
        rc = bad("unknown dlq command '%s' (list, show, replay)", verb);
    rill_admin_destroy(admin);
    return rc;
}

/* ---- replay ---- */

static int cmd_replay(const args_t *a)
{
    if (a->help) {
        printf("Usage: rill replay --application-id A --new-application-id B --from T --to T\n"
               "       [--input-topics T1,T2] [--dry-run]\n");
        return 0;
    }
    if (!a->app || !a->new_app || !a->has_from || !a->has_to)
        return bad("replay needs %s", "--application-id, --new-application-id, --from and --to");
    rill_admin_t *admin = connect_admin(a);
    if (!admin)
        return 1;
    rill_replay_options_t o = {a->app,         a->new_app, a->input_count ? a->inputs : NULL,
                               a->input_count, a->from_ms, a->to_ms,
                               a->dry_run};
    char from[40], to[40], err[1024];
    format_time(a->from_ms, from, sizeof from);
    format_time(a->to_ms, to, sizeof to);
    printf("Replay of '%s' from %s to %s into '%s.*' topics for application id '%s'.\n", a->app,
           from, to, a->new_app, a->new_app);
    fflush(stdout);
    rill_replay_result_t r;
    progress_t p = progress_for("copying");
    int rc = rill_replay_prepare(admin, &o, on_progress, &p, &r, err, sizeof err);
    rill_admin_destroy(admin);
    if (rc)
        return failed(rc, "replay", err);
    printf("%s: %lld records of %zu input topics%s.\n", a->dry_run ? "Dry run" : "Copied",
           (long long)r.records, r.topics, a->dry_run ? " would be copied" : "");
    if (!a->dry_run)
        printf("Now run your program with application.id=%s, its input topics read from "
               "'%s.<topic>' and its output topics renamed, then compare the outputs.\n",
               a->new_app, a->new_app);
    return 0;
}

static int cmd_metrics(int argc, char **argv)
{
    static const struct option opts[] = {{"connect", required_argument, NULL, 'c'},
                                         {"interval", required_argument, NULL, 'i'},
                                         {"once", no_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *connect = NULL;
    double interval = 2;
    bool once = false;
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'c':
            connect = optarg;
            break;
        case 'i':
            interval = strtod(optarg, &end);
            if (!end || *end || !(interval > 0 && interval <= 3600)) { /* NaN too */
                fprintf(stderr, "rill metrics: --interval %s: seconds, more than 0\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'o':
            once = true;
            break;
        case 'h':
            printf("Usage: rill metrics --connect HOST:PORT [--interval S] [--once]\n"
                   "  A live view of the app serving its metrics at HOST:PORT (metrics.listen):\n"
                   "  state, throughput, latencies, lag per partition, errors; refreshed every\n"
                   "  S seconds (default 2) until Ctrl-C, or printed once.\n");
            return 0;
        default:
            return EXIT_USAGE;
        }
    }
    if (!connect || optind < argc) {
        fprintf(stderr, "rill metrics: --connect HOST:PORT is needed (the app's metrics.listen)\n");
        return EXIT_USAGE;
    }
    return rill__cli_metrics(connect, interval, once);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    const char *cmd = argv[1];
    if (strcmp(cmd, "version") == 0) {
        printf("rill %s\n", rill_version());
        return 0;
    }
    if (strcmp(cmd, "config") == 0 && argc == 3 && strcmp(argv[2], "--markdown") == 0) {
        char *md = rill_conf_markdown();
        if (!md)
            return 1;
        fputs(md, stdout);
        rill_free(md);
        return 0;
    }
    if (strcmp(cmd, "config") == 0 && argc == 3 && strcmp(argv[2], "--list") == 0) {
        size_t n;
        const rill_conf_property_t *props = rill_conf_properties(&n);
        for (size_t i = 0; i < n; i++)
            printf("%s=%s\n", props[i].name, props[i].default_value);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0)
        return usage(stdout);
    if (strcmp(cmd, "metrics") == 0)
        return cmd_metrics(argc, argv);
    bool dlq = strcmp(cmd, "dlq") == 0;
    if (strcmp(cmd, "reset") != 0 && !dlq && strcmp(cmd, "replay") != 0) {
        fprintf(stderr, "rill: unknown command '%s'\n", cmd);
        return usage(stderr);
    }
    const char *verb = dlq && argc > 2 && argv[2][0] != '-' ? argv[2] : NULL;
    args_t a;
    int rc = parse(argc, argv, verb ? 3 : 2, &a);
    if (!rc)
        rc = dlq ? cmd_dlq(verb, &a) : strcmp(cmd, "reset") == 0 ? cmd_reset(&a) : cmd_replay(&a);
    free(a.inputs_buf);
    return rc;
}
