/*
 * The Prometheus text exposition writer (prometheus.h).
 */
#include "prometheus.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void rill__prom_init(prom_t *p, rill_bytes_t *out)
{
    p->out = out;
    p->err = 0;
}

static void put(prom_t *p, const char *s, size_t len)
{
    if (!p->err && rill_bytes_append(p->out, s, len))
        p->err = RILL_ENOMEM;
}

static void puts_(prom_t *p, const char *s)
{
    put(p, s, strlen(s));
}

void rill__prom_family(prom_t *p, const char *name, const char *type, const char *help)
{
    puts_(p, "# HELP ");
    puts_(p, name);
    put(p, " ", 1);
    for (const char *c = help; *c; c++) /* HELP escapes \ and newlines */
        if (*c == '\\')
            put(p, "\\\\", 2);
        else if (*c == '\n')
            put(p, "\\n", 2);
        else
            put(p, c, 1);
    puts_(p, "\n# TYPE ");
    puts_(p, name);
    put(p, " ", 1);
    puts_(p, type);
    put(p, "\n", 1);
}

/* name{k="v",...[,extra_k="extra_v"]} */
static void series(prom_t *p, const char *name, const char *suffix, const char *const *labels,
                   const char *extra_k, const char *extra_v)
{
    puts_(p, name);
    puts_(p, suffix);
    bool any = (labels && labels[0]) || extra_k;
    if (!any)
        return;
    put(p, "{", 1);
    bool first = true;
    for (size_t i = 0; labels && labels[i]; i += 2) {
        if (!first)
            put(p, ",", 1);
        first = false;
        puts_(p, labels[i]);
        put(p, "=\"", 2);
        for (const char *c = labels[i + 1] ? labels[i + 1] : ""; *c; c++)
            if (*c == '\\')
                put(p, "\\\\", 2);
            else if (*c == '"')
                put(p, "\\\"", 2);
            else if (*c == '\n')
                put(p, "\\n", 2);
            else
                put(p, c, 1);
        put(p, "\"", 1);
    }
    if (extra_k) {
        if (!first)
            put(p, ",", 1);
        puts_(p, extra_k);
        put(p, "=\"", 2);
        puts_(p, extra_v);
        put(p, "\"", 1);
    }
    put(p, "}", 1);
}

void rill__prom_sample(prom_t *p, const char *name, const char *const *labels, double value)
{
    series(p, name, "", labels, NULL, NULL);
    char buf[64];
    put(p, buf, (size_t)snprintf(buf, sizeof buf, " %.17g\n", value));
}

void rill__prom_sample_u64(prom_t *p, const char *name, const char *const *labels, uint64_t value)
{
    series(p, name, "", labels, NULL, NULL);
    char buf[32];
    put(p, buf, (size_t)snprintf(buf, sizeof buf, " %" PRIu64 "\n", value));
}

void rill__prom_histogram(prom_t *p, const char *name, const char *const *labels, const hist_t *h)
{
    uint64_t cumulative = 0;
    char le[32], buf[64];
    for (int i = 0; i <= HIST_BUCKETS; i++) {
        cumulative += cell_get(&h->bucket[i]);
        if (i < HIST_BUCKETS)
            snprintf(le, sizeof le, "%.9g", (double)((uint64_t)1 << (i + HIST_FIRST_LOG2)) / 1e9);
        else
            snprintf(le, sizeof le, "+Inf");
        series(p, name, "_bucket", labels, "le", le);
        put(p, buf, (size_t)snprintf(buf, sizeof buf, " %" PRIu64 "\n", cumulative));
    }
    series(p, name, "_sum", labels, NULL, NULL);
    put(p, buf, (size_t)snprintf(buf, sizeof buf, " %.9f\n", hist_sum_s(h)));
    series(p, name, "_count", labels, NULL, NULL);
    put(p, buf, (size_t)snprintf(buf, sizeof buf, " %" PRIu64 "\n", cumulative));
}

int rill__prom_finish(prom_t *p)
{
    return p->err;
}
