/*
 * main.h — the command line every compiled Rill app gets for free.
 *
 * rill_main() parses --bootstrap-servers, --application-id, --config key=value (repeatable),
 * --config-file, --threads, --describe, --dot and --help, builds the topology with build_fn, runs
 * the app until SIGINT or SIGTERM (a clean shutdown) or an error, and returns the process's exit
 * status. The app's name is its default application.id (--application-id or --config
 * application.id=... change it). rill_main_run() does the same with hooks: the app's listeners
 * and handlers, and a look at the app before it starts and after it stopped (its metrics). Call
 * either from main() on the main thread.
 */
#ifndef RILL_MAIN_H
#define RILL_MAIN_H

#include <rill/app.h>
#include <rill/dsl.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Builds the app's topology into topo using conf (already filled from the command line); returns
 * 0 or a negative code after writing the reason into errstr. */
typedef int (*rill_build_fn)(rill_topology_t *topo, rill_conf_t *conf, void *ud, char *errstr,
                             size_t errstr_size);

/* What a command line asked for besides configuration. */
typedef struct {
    bool describe, dot, help;
    int first_operand; /* index in argv of the first argument that is not an option */
} rill_main_args_t;

/* Parses rill_main()'s options from argv into conf and args, for apps that run their own way
 * on some command lines. Returns 0, or RILL_EINVAL (an unknown option or a malformed one) or
 * RILL_ECONFIG (a bad property) with the reason in errstr. */
RILL_EXTERN int rill_main_parse(int argc, char **argv, rill_conf_t *conf, rill_main_args_t *args,
                                char *errstr, size_t errstr_size);

/* Runs a compiled app named app_name (its default application.id); returns 0 after a clean
 * shutdown, 1 on an error, 2 on bad usage. rill_main_run() with only build_fn and ud. */
RILL_EXTERN int rill_main(int argc, char **argv, const char *app_name, rill_build_fn build_fn,
                          void *ud);

/* What rill_main_run() does besides rill_main()'s work. Every field but build may be 0/NULL; ud
 * is given to build and to every hook and listener below (the restore listener has its own). */
typedef struct {
    rill_build_fn build; /* builds the topology (required) */
    void *ud;
    /* rill_app_set_state_listener(); rill_main's own listener (which wakes it when the app
     * fails) runs first. @thread any */
    rill_state_listener_fn state_listener;
    /* rill_app_set_error_handler(): the message that put the app in ERROR. @thread any */
    rill_error_handler_fn error_handler;
    /* rill_app_set_restore_listener() (used when one of its callbacks is set). */
    rill_restore_listener_t restore_listener;
    /* rill_conf_set_exception_handler() for each kind whose entry is set (deserialization,
     * processing...), replacing the handler its property chooses. */
    rill_exception_handler_fn exception_handlers[RILL_ERROR_KINDS];
    /* Called with the app made, before it starts: keep app to read rill_app_metric() from any
     * thread while it runs (until after_stop returns). Returning non-zero ends the program with
     * status 1 before the app starts. */
    int (*before_start)(void *ud, rill_app_t *app);
    /* Called once the app has stopped (closed, or in ERROR), before it is freed: its metrics
     * keep their final values there. */
    void (*after_stop)(void *ud, rill_app_t *app);
} rill_main_opts_t;

/* Runs a compiled app named app_name (its default application.id) with opts (borrowed); returns
 * as rill_main(). */
RILL_EXTERN int rill_main_run(int argc, char **argv, const char *app_name,
                              const rill_main_opts_t *opts);

#ifdef __cplusplus
}
#endif
#endif
