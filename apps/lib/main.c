/*
 * rill_main() and rill_main_run(): the command line every compiled app gets, and the hooks a
 * program sets on its app (listeners, handlers, before start, after stop). SIGINT and SIGTERM are
 * blocked in every
 * thread (the mask is set before the app makes any) and taken by sigwait() on the main thread,
 * which then closes the app cleanly; the state listener wakes the same sigwait() with SIGUSR1
 * when the app fails, so nothing polls.
 */
#include <rill/main.h>

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the state listener needs: the thread to wake, and the user's listener. */
typedef struct {
    pthread_t main_thread;
    const rill_main_opts_t *opts;
} main_ctx_t;

static void on_state(void *ud, rill_state_t to, rill_state_t from)
{
    main_ctx_t *ctx = ud;
    if (to == RILL_STATE_ERROR)
        pthread_kill(ctx->main_thread, SIGUSR1);
    if (ctx->opts->state_listener)
        ctx->opts->state_listener(ctx->opts->ud, to, from);
}

/* Sets the listeners and handlers opts asks for on app. */
static void set_hooks(rill_app_t *app, main_ctx_t *ctx)
{
    const rill_main_opts_t *opts = ctx->opts;
    rill_app_set_state_listener(app, on_state, ctx);
    if (opts->error_handler)
        rill_app_set_error_handler(app, opts->error_handler, opts->ud);
    const rill_restore_listener_t *rl = &opts->restore_listener;
    if (rl->on_start || rl->on_batch || rl->on_end)
        rill_app_set_restore_listener(app, rl);
}

/* Takes the signals of set still pending (the failure wake-up, a late SIGTERM), then gives the
 * caller its signal mask back: unblocking a pending SIGUSR1 would kill the process. */
static void restore_signals(const sigset_t *set, const sigset_t *old_mask)
{
    struct timespec zero = {0, 0};
    while (sigtimedwait(set, NULL, &zero) > 0)
        ;
    pthread_sigmask(SIG_SETMASK, old_mask, NULL);
}

static void usage(FILE *out, const char *app_name)
{
    fprintf(out,
            "Usage: %s [options]\n"
            "Runs the %s stream-processing app until SIGINT or SIGTERM.\n\n"
            "  --bootstrap-servers HOSTS  Kafka cluster (default: the embedded in-process one)\n"
            "  --application-id ID        application.id (default: %s, the app's name)\n"
            "  --config KEY=VALUE         any property of docs/CONFIGURATION.md or librdkafka;\n"
            "                             repeatable\n"
            "  --config-file FILE         KEY=VALUE lines\n"
            "  --threads N                num.stream.threads\n"
            "  --describe                 print the topology (Kafka Streams' format) and exit\n"
            "  --dot                      print the topology as Graphviz DOT and exit\n"
            "  --help                     this text\n",
            app_name, app_name, app_name);
}

int rill_main_parse(int argc, char **argv, rill_conf_t *conf, rill_main_args_t *args, char *errstr,
                    size_t errstr_size)
{
    static const struct option opts[] = {
        {"bootstrap-servers", required_argument, NULL, 'b'},
        {"application-id", required_argument, NULL, 'a'},
        {"config", required_argument, NULL, 'c'},
        {"config-file", required_argument, NULL, 'f'},
        {"threads", required_argument, NULL, 't'},
        {"describe", no_argument, NULL, 'd'},
        {"dot", no_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *args = (rill_main_args_t){0};
    int opt, rc = 0;
    opterr = 0; /* the caller reports, with the usage */
    optind = 1;
    while (!rc && (opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *eq;
        switch (opt) {
        case 'b':
            rc = rill_conf_set(conf, "bootstrap.servers", optarg, errstr, errstr_size);
            break;
        case 'a':
            rc = rill_conf_set(conf, "application.id", optarg, errstr, errstr_size);
            break;
        case 't':
            rc = rill_conf_set(conf, "num.stream.threads", optarg, errstr, errstr_size);
            break;
        case 'c':
            eq = strchr(optarg, '=');
            if (!eq) {
                snprintf(errstr, errstr_size, "--config expects KEY=VALUE, got '%s'", optarg);
                return RILL_EINVAL;
            }
            *eq = 0;
            rc = rill_conf_set(conf, optarg, eq + 1, errstr, errstr_size);
            *eq = '=';
            break;
        case 'f':
            rc = rill_conf_load_file(conf, optarg, errstr, errstr_size);
            break;
        case 'd':
            args->describe = true;
            break;
        case 'g':
            args->dot = true;
            break;
        case 'h':
            args->help = true;
            break;
        default:
            snprintf(errstr, errstr_size, "unknown or incomplete option '%s'",
                     argv[optind - 1] ? argv[optind - 1] : "?");
            return RILL_EINVAL;
        }
    }
    args->first_operand = optind;
    return rc;
}

int rill_main(int argc, char **argv, const char *app_name, rill_build_fn build_fn, void *ud)
{
    return rill_main_run(argc, argv, app_name, &(rill_main_opts_t){.build = build_fn, .ud = ud});
}

int rill_main_run(int argc, char **argv, const char *app_name, const rill_main_opts_t *opts)
{
    if (!app_name || !opts || !opts->build) {
        fprintf(stderr, "rill_main_run: an app name and a build function are required\n");
        return 2;
    }
    char err[1024];
    rill_conf_t *conf = rill_conf_new();
    if (!conf || rill_conf_set(conf, "application.id", app_name, err, sizeof err)) {
        fprintf(stderr, "%s: cannot set up the configuration\n", app_name);
        rill_conf_destroy(conf);
        return 1;
    }
    rill_main_args_t args;
    int rc = rill_main_parse(argc, argv, conf, &args, err, sizeof err);
    if (rc || args.help) {
        if (rc)
            fprintf(stderr, "%s: %s\n", app_name, err);
        usage(rc ? stderr : stdout, app_name);
        rill_conf_destroy(conf);
        return rc ? 2 : 0;
    }
    bool describe = args.describe, dot = args.dot;
    rill_topology_t *topo = rill_topology_new();
    err[0] = 0;
    for (int k = 0; k < RILL_ERROR_KINDS; k++)
        if (opts->exception_handlers[k])
            rill_conf_set_exception_handler(conf, (rill_error_kind_t)k, opts->exception_handlers[k],
                                            opts->ud);
    if (!topo || opts->build(topo, conf, opts->ud, err, sizeof err) ||
        rill_topology_build(topo, err, sizeof err)) {
        fprintf(stderr, "%s: cannot build the topology: %s\n", app_name, err);
        rill_topology_unref(topo);
        rill_conf_destroy(conf);
        return 1;
    }
    if (describe || dot) {
        char *text = describe ? rill_topology_describe(topo) : rill_topology_to_dot(topo);
        fputs(text ? text : "", stdout);
        rill_free(text);
        rill_topology_unref(topo);
        rill_conf_destroy(conf);
        return 0;
    }
    /* Block the signals before the app makes threads, so they all inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    sigset_t old_mask;
    pthread_sigmask(SIG_BLOCK, &set, &old_mask);
    main_ctx_t ctx = {pthread_self(), opts};
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    if (!app) {
        fprintf(stderr, "%s: %s\n", app_name, err);
        rill_topology_unref(topo);
        rill_conf_destroy(conf);
        restore_signals(&set, &old_mask);
        return 1;
    }
    set_hooks(app, &ctx);
    int status = 0;
    if (opts->before_start && opts->before_start(opts->ud, app)) {
        fprintf(stderr, "%s: not started: the before_start hook failed\n", app_name);
        rill_app_destroy(app);
        rill_topology_unref(topo);
        restore_signals(&set, &old_mask);
        return 1;
    }
    if (rill_app_start(app) == 0) {
        int sig = 0;
        sigwait(&set, &sig);
        if (sig != SIGUSR1)
            rill_log(RILL_LOG_INFO, "main", "%s: shutting down cleanly", strsignal(sig));
        rill_app_close(app, 30000);
    }
    if (rill_app_state(app) == RILL_STATE_ERROR) {
        fprintf(stderr, "%s: %s\n", app_name, rill_app_error(app, err, sizeof err));
        status = 1;
    } else {
        rill_log(RILL_LOG_INFO, "main", "%s stopped", app_name);
    }
    if (opts->after_stop)
        opts->after_stop(opts->ud, app);
    rill_app_destroy(app);
    rill_topology_unref(topo);
    restore_signals(&set, &old_mask);
    return status;
}
