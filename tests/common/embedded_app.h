/*
 * An app on the embedded cluster for integration tests: string keys and values, commits every
 * 200 ms, its stores under a test's state directory. Include after cmocka.h.
 */
#ifndef RILL_TESTS_EMBEDDED_APP_H
#define RILL_TESTS_EMBEDDED_APP_H

#include <rill/app.h>

#include <time.h>

/* Sets key to value in conf; the test fails if conf refuses it. */
static inline void embedded_set(rill_conf_t *conf, const char *key, const char *value)
{
    char err[256];
    if (rill_conf_set(conf, key, value, err, sizeof err))
        fail_msg("%s=%s: %s", key, value, err);
}

/* Returns a new configuration of an app named app_id, with the NULL-terminated (key, value)
 * pairs of extra set after the defaults. */
static inline rill_conf_t *embedded_conf(const char *app_id, const char *state_dir,
                                         const char *const *extra)
{
    rill_conf_t *conf = rill_conf_new();
    embedded_set(conf, "application.id", app_id);
    embedded_set(conf, "default.key.serde", "string");
    embedded_set(conf, "default.value.serde", "string");
    embedded_set(conf, "commit.interval.ms", "200");
    embedded_set(conf, "state.dir", state_dir);
    for (size_t i = 0; extra && extra[i]; i += 2)
        embedded_set(conf, extra[i], extra[i + 1]);
    return conf;
}

/* Returns a new app of topo named app_id, with the NULL-terminated (key, value) pairs of extra
 * set after the defaults; the test fails if it cannot be made. */
static inline rill_app_t *embedded_app_new(rill_topology_t *topo, const char *app_id,
                                           const char *state_dir, const char *const *extra)
{
    rill_conf_t *conf = embedded_conf(app_id, state_dir, extra);
    char err[512];
    rill_app_t *app = rill_app_new(topo, conf, err, sizeof err);
    if (!app)
        fail_msg("rill_app_new: %s", err);
    return app;
}

/* Waits (up to 60 s, else the test fails) until app's metric name reaches want. */
static inline void embedded_wait_metric(rill_app_t *app, const char *name, int64_t want)
{
    for (int waited = 0; rill_app_metric(app, name) < want; waited += 20) {
        if (waited > 60000)
            fail_msg("%s stayed at %lld, below %lld", name, (long long)rill_app_metric(app, name),
                     (long long)want);
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
}

#endif
