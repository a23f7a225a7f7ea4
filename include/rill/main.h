/*
 * main.h — the command line every compiled Rill app gets for free.
 *
 * rill_main() parses --bootstrap-servers, --application-id, --config key=value (repeatable),
 * --config-file, --threads, --describe, --dot and --help, builds the topology with build_fn, runs
 * the app until SIGINT or SIGTERM (a clean shutdown) or an error, and returns the process's exit
 * status. Call it from main() on the main thread.
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

/* Runs a compiled app; returns 0 after a clean shutdown, 1 on an error, 2 on bad usage. */
RILL_EXTERN int rill_main(int argc, char **argv, const char *app_name, rill_build_fn build_fn,
                          void *ud);

#ifdef __cplusplus
}
#endif
#endif
