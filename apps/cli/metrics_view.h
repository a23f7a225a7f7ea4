/*
 * `rill metrics` (apps/cli/metrics_view.c): a live view of a running app's /metrics. Part of the
 * rill tool only.
 */
#ifndef RILL_APPS_CLI_METRICS_VIEW_H
#define RILL_APPS_CLI_METRICS_VIEW_H

#include <stdbool.h>

/* Shows the app serving metrics at connect ("host:port" or a URL) every interval_s seconds until
 * Ctrl-C, or once (two scrapes interval_s apart, for the rates). Returns the exit status. */
int rill__cli_metrics(const char *connect, double interval_s, bool once);

#endif
