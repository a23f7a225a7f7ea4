/*
 * Prometheus' text exposition format (version 0.0.4): a writer that appends families and their
 * samples to a growable buffer. A family is written once (# HELP, # TYPE), then all its samples;
 * label values are escaped as the format says (\\, \", \n). Errors (out of memory) are kept and
 * reported once by rill__prom_finish(). Used by the metrics scrape only, never per record. Private
 * to engine/.
 */
#ifndef RILL_ENGINE_PROMETHEUS_H
#define RILL_ENGINE_PROMETHEUS_H

#include "base/metric_cells.h"

#include <rill/serde.h>

typedef struct {
    rill_bytes_t *out;
    int err;
} prom_t;

/* Starts writing into out (appended to). */
void rill__prom_init(prom_t *p, rill_bytes_t *out);
/* Writes a family's header: type is "counter", "gauge" or "histogram". */
void rill__prom_family(prom_t *p, const char *name, const char *type, const char *help);
/* Writes a sample of family name: labels is key, value, ..., NULL (may be NULL: none). */
void rill__prom_sample(prom_t *p, const char *name, const char *const *labels, double value);
/* Writes an integer sample (a counter's exact value). */
void rill__prom_sample_u64(prom_t *p, const char *name, const char *const *labels, uint64_t value);
/* Writes histogram h (nanoseconds) as seconds: name_bucket{le=...} cumulative, name_sum and
 * name_count. */
void rill__prom_histogram(prom_t *p, const char *name, const char *const *labels, const hist_t *h);
/* Returns 0, or the first error a write met (RILL_ENOMEM). */
int rill__prom_finish(prom_t *p);

#endif
