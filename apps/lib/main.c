/*
 * rill_main(): the command line every compiled app gets. SIGINT and SIGTERM are blocked in every
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

static pthread_t main_thread;

static void on_state(void *ud, rill_state_t to, rill_state_t from)
{
    if (to == RILL_STATE_ERROR)
        pthread_kill(main_thread, SIGUSR1);
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
            "  --application-id ID        application.id (default: %s)\n"
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
    if (!topo || build_fn(topo, conf, ud, err, sizeof err) ||
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
    main_thread = pthread_self();
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    if (!app) {
        fprintf(stderr, "%s: %s\n", app_name, err);
        rill_topology_unref(topo);
        rill_conf_destroy(conf);
        restore_signals(&set, &old_mask);
        return 1;
    }
    rill_app_set_state_listener(app, on_state, NULL);
    int status = 0;
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
    rill_app_destroy(app);
    rill_topology_unref(topo);
    restore_signals(&set, &old_mask);
    return status;
}
