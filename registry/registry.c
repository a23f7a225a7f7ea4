/*
 * The registry's lifecycle: the store is opened (the topic read to its end), then HTTP is served
 * (so the URL, with the port the system chose, is known), then the instance joins the leader
 * election under that URL. Stop undoes it in the other order.
 */
#include "registry_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

rill_registry_t *rill_registry_new(rill_registry_conf_t *conf, char *errstr, size_t errstr_size)
{
    if (!conf) {
        snprintf(errstr, errstr_size, "rill_registry_new: no configuration");
        return NULL;
    }
    rill_registry_t *reg = rill_calloc(1, sizeof *reg);
    if (!reg || rill__state_init(&reg->state)) {
        rill_free(reg);
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&reg->lock, NULL);
    pthread_mutex_init(&reg->write_lock, NULL);
    reg->conf = conf;
    return reg;
}

/* The URL other instances reach this one at: host.name, or the listener's host (loopback for a
 * wildcard one), with the port served. */
static void advertise(rill_registry_t *reg)
{
    const char *scheme = strncmp(reg->url, "https://", 8) == 0 ? "https" : "http";
    const char *hp = reg->url + strlen(scheme) + 3;
    const char *colon = strrchr(hp, ':');
    const char *host = rill__reg_conf(reg->conf, REG_CONF_HOST_NAME);
    char listener_host[200];
    snprintf(listener_host, sizeof listener_host, "%.*s", (int)(colon - hp), hp);
    if (!host[0])
        host = strcmp(listener_host, "0.0.0.0") == 0 ? "127.0.0.1" : listener_host;
    snprintf(reg->advertised, sizeof reg->advertised, "%s://%s%s", scheme, host, colon);
}

int rill_registry_start(rill_registry_t *reg, char *errstr, size_t errstr_size)
{
    if (!reg)
        return RILL_EINVAL;
    if (atomic_load(&reg->started)) {
        snprintf(errstr, errstr_size, "the registry is already started");
        return RILL_ESTATE;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!(reg->store = rill__reg_store_open(reg, errstr, errstr_size)))
        return RILL_EKAFKA;
    if (!(reg->http = rill__http_start(reg, reg->url, sizeof reg->url, errstr, errstr_size))) {
        rill_registry_stop(reg);
        return RILL_EIO;
    }
    advertise(reg);
    if (!(reg->election = rill__election_start(reg, errstr, errstr_size))) {
        rill_registry_stop(reg);
        return RILL_EKAFKA;
    }
    atomic_store(&reg->started, true);
    rill_log(RILL_LOG_NOTICE, "registry", "serving %s (store: topic '%s' on %s)", reg->url,
             rill__reg_conf(reg->conf, REG_CONF_TOPIC), rill__reg_store_bootstrap(reg->store));
    return 0;
}

const char *rill_registry_url(const rill_registry_t *reg)
{
    return reg ? reg->url : "";
}

bool rill_registry_is_leader(const rill_registry_t *reg)
{
    return reg && rill__election_leader(reg->election);
}

const char *rill_registry_bootstrap_servers(const rill_registry_t *reg)
{
    return reg && reg->store ? rill__reg_store_bootstrap(reg->store) : "";
}

void rill_registry_stop(rill_registry_t *reg)
{
    if (!reg)
        return;
    /* HTTP first: libmicrohttpd waits for its connections' threads, which use the election
     * and the store. */
    rill__http_stop(reg->http);
    reg->http = NULL;
    rill__election_stop(reg->election);
    reg->election = NULL;
    rill__reg_store_close(reg->store);
    reg->store = NULL;
    atomic_store(&reg->started, false);
}

void rill_registry_destroy(rill_registry_t *reg)
{
    if (!reg)
        return;
    rill_registry_stop(reg);
    rill__state_free(&reg->state);
    rill_registry_conf_destroy(reg->conf);
    pthread_mutex_destroy(&reg->lock);
    pthread_mutex_destroy(&reg->write_lock);
    rill_free(reg);
}
