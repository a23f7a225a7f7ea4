/*
 * The registry's configuration: one table of keys (REG_CONF_KEYS in registry_int.h) with their
 * defaults and words, checked when set; "kafkastore.<key>" keys that are not in the table go to
 * the store's Kafka clients as librdkafka keys (security.protocol, sasl.*, ssl.*...).
 */
#include "registry_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name, *def, *doc;
} keys[REG_CONF_COUNT] = {
#define REG_CONF_ROW(id, name, def, doc) {name, def, doc},
    REG_CONF_KEYS(REG_CONF_ROW)
#undef REG_CONF_ROW
};

rill_registry_conf_t *rill_registry_conf_new(void)
{
    return rill_calloc(1, sizeof(rill_registry_conf_t));
}

void rill_registry_conf_destroy(rill_registry_conf_t *conf)
{
    if (!conf)
        return;
    for (int i = 0; i < REG_CONF_COUNT; i++)
        rill_free(conf->values[i]);
    for (size_t i = 0; i < conf->nkafka * 2; i++)
        rill_free(conf->kafka[i]);
    rill_free(conf->kafka);
    rill_free(conf);
}

const char *rill__reg_conf(const rill_registry_conf_t *conf, int id)
{
    return conf->values[id] ? conf->values[id] : keys[id].def;
}

long rill__reg_conf_int(const rill_registry_conf_t *conf, int id)
{
    return strtol(rill__reg_conf(conf, id), NULL, 10);
}

static bool is_bool(const char *v)
{
    return strcmp(v, "true") == 0 || strcmp(v, "false") == 0;
}

static bool is_level(const char *v)
{
#define REG_LEVEL_IS(l)                                                                            \
    if (strcasecmp(v, #l) == 0)                                                                    \
        return true;
    REG_LEVELS(REG_LEVEL_IS)
#undef REG_LEVEL_IS
    return false;
}

/* Checks value for key id; returns NULL or what is wrong. */
static const char *check(int id, const char *value)
{
    char *end;
    switch (id) {
    case REG_CONF_LISTENERS:
        if (strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0)
            return "expected http://host:port or https://host:port";
        if (!strrchr(value, ':') || strrchr(value, ':') < strstr(value, "//"))
            return "expected a port (http://host:port)";
        return NULL;
    case REG_CONF_REPLICATION:
    case REG_CONF_TIMEOUT_MS:
    case REG_CONF_INIT_TIMEOUT_MS:
        errno = 0;
        long n = strtol(value, &end, 10);
        if (errno || *end || end == value || n < 1 || n > 86400000)
            return "expected a positive integer";
        return NULL;
    case REG_CONF_ELIGIBLE:
        return is_bool(value) ? NULL : "expected true or false";
    case REG_CONF_COMPATIBILITY:
        return is_level(value) ? NULL
                               : "expected NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, "
                                 "FORWARD_TRANSITIVE, FULL or FULL_TRANSITIVE";
    case REG_CONF_AUTH_METHOD:
        return strcasecmp(value, "NONE") == 0 || strcasecmp(value, "BASIC") == 0
                   ? NULL
                   : "expected NONE or BASIC";
    case REG_CONF_TOPIC:
    case REG_CONF_GROUP_ID:
        return value[0] ? NULL : "must not be empty";
    default:
        return NULL;
    }
}

int rill_registry_conf_set(rill_registry_conf_t *conf, const char *key, const char *value,
                           char *errstr, size_t errstr_size)
{
    if (!conf || !key || !value) {
        snprintf(errstr, errstr_size, "rill_registry_conf_set: NULL argument");
        return RILL_EINVAL;
    }
    for (int i = 0; i < REG_CONF_COUNT; i++) {
        if (strcmp(keys[i].name, key) != 0)
            continue;
        const char *why = check(i, value);
        if (why) {
            snprintf(errstr, errstr_size, "%s=%s: %s", key, value, why);
            return RILL_ECONFIG;
        }
        char *copy = rill_strdup(value);
        if (!copy)
            return RILL_ENOMEM;
        if (i == REG_CONF_COMPATIBILITY)
            for (char *p = copy; *p; p++)
                *p = (char)toupper((unsigned char)*p);
        rill_free(conf->values[i]);
        conf->values[i] = copy;
        return 0;
    }
    if (strncmp(key, "kafkastore.", 11) == 0 && key[11]) {
        char **grown = rill_realloc(conf->kafka, (conf->nkafka + 1) * 2 * sizeof *grown);
        if (!grown)
            return RILL_ENOMEM;
        conf->kafka = grown;
        grown[conf->nkafka * 2] = rill_strdup(key + 11);
        grown[conf->nkafka * 2 + 1] = rill_strdup(value);
        conf->nkafka++;
        if (!grown[conf->nkafka * 2 - 2] || !grown[conf->nkafka * 2 - 1])
            return RILL_ENOMEM;
        return 0;
    }
    snprintf(errstr, errstr_size,
             "%s: unknown configuration key (rill-registry --help lists them; librdkafka keys "
             "for the store's clients take the prefix kafkastore.)",
             key);
    return RILL_ECONFIG;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

int rill_registry_conf_load(rill_registry_conf_t *conf, const char *path, char *errstr,
                            size_t errstr_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return RILL_EIO;
    }
    char line[4096];
    int n = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        n++;
        char *s = trim(line);
        if (!*s || *s == '#' || *s == '!')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(errstr, errstr_size, "%s:%d: expected key=value, got \"%.100s\"", path, n, s);
            rc = RILL_ECONFIG;
            break;
        }
        *eq = 0;
        char why[400];
        rc = rill_registry_conf_set(conf, trim(s), trim(eq + 1), why, sizeof why);
        if (rc)
            snprintf(errstr, errstr_size, "%s:%d: %s", path, n, why);
    }
    if (!rc && ferror(f)) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        rc = RILL_EIO;
    }
    fclose(f);
    return rc;
}

void rill_registry_conf_describe(void (*out)(void *ud, const char *line), void *ud)
{
    char line[512];
    for (int i = 0; i < REG_CONF_COUNT; i++) {
        snprintf(line, sizeof line, "  %-38s %s (default: %s)", keys[i].name, keys[i].doc,
                 keys[i].def[0] ? keys[i].def : "none");
        out(ud, line);
    }
    out(ud, "  kafkastore.<librdkafka key>            passed to the store's Kafka clients "
            "(security.protocol, sasl.*, ssl.*...)");
}
