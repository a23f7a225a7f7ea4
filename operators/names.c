/*
 * Names Kafka accepts: a topic's, a store's or a repartition's (Kafka's and Kafka Streams'
 * rules), checked as the topology is made, and the internal topics' full names, checked against
 * Kafka's length limit once the application id is known.
 */
#include "operators_int.h"

#include <stdio.h>
#include <string.h>

/* Kafka's rules for a topic name (o.a.k.common.internals.Topic) and Kafka Streams' for a store's
 * (Named): 1 to 249 characters of [a-zA-Z0-9._-], and not "." or "..". */
int rill__check_name(const char *name, char *why, size_t size)
{
    size_t n = strlen(name);
    if (n == 0) {
        snprintf(why, size, "the name is empty");
        return RILL_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '.' || c == '_' || c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
            (c >= 'A' && c <= 'Z'))
            continue;
        if (c >= ' ' && c < 0x7f)
            snprintf(why, size, "character '%c' at position %zu is not allowed", c, i);
        else
            snprintf(why, size, "byte 0x%02x at position %zu is not allowed", c, i);
        snprintf(why + strlen(why), size - strlen(why), " (use letters, digits, '.', '_' and '-')");
        return RILL_EINVAL;
    }
    if (n > RILL__MAX_NAME_LEN) {
        snprintf(why, size, "it is %zu characters long, more than Kafka's %d", n,
                 RILL__MAX_NAME_LEN);
        return RILL_EINVAL;
    }
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        snprintf(why, size, "'%s' is not allowed", name);
        return RILL_EINVAL;
    }
    return 0;
}

int rill__topology_check_name(rill_topology_t *topo, const char *what, const char *name,
                              const char *node)
{
    char why[200];
    if (!rill__check_name(name, why, sizeof why))
        return 0;
    return rill_topology_fail(topo, "%s%s%s: %s '%.*s%s' is not a valid Kafka name: %s",
                              node ? "node '" : "", node ? node : "", node ? "'" : "", what, 300,
                              name, strlen(name) > 300 ? "..." : "", why);
}

/* The longest internal topic the app would make must fit Kafka's limit: "<app>-<suffix>". */
static int check_internal_length(const char *app_id, const char *what, const char *name,
                                 const char *suffix, char *errstr, size_t errstr_size)
{
    size_t len = strlen(app_id) + 1 + strlen(name) + strlen(suffix);
    if (len <= RILL__MAX_NAME_LEN)
        return 0;
    if (errstr && errstr_size)
        snprintf(errstr, errstr_size,
                 "application.id '%.40s%s' (%zu characters) is too long for this "
                 "topology: %s '<application.id>-%.100s%s%s' would be %zu characters, more "
                 "than Kafka's %d; shorten the application id or that name",
                 app_id, strlen(app_id) > 40 ? "..." : "", strlen(app_id), what, name,
                 strlen(name) > 100 ? "..." : "", suffix, len, RILL__MAX_NAME_LEN);
    return RILL_ETOPOLOGY;
}

int rill__topology_check_names(const rill_topology_t *topo, const char *app_id, char *errstr,
                               size_t errstr_size)
{
    for (size_t i = 0; topo && i < topo->n; i++) {
        const node_t *node = topo->nodes[i];
        if (node->kind == NODE_SINK && node->internal && node->topic &&
            check_internal_length(app_id, "the internal topic", node->topic, "", errstr,
                                  errstr_size))
            return RILL_ETOPOLOGY;
    }
    for (size_t k = 0; topo && k < topo->nstores; k++) {
        const store_def_t *sd = &topo->stores[k];
        if (!sd->spec.no_logging && !sd->global &&
            check_internal_length(app_id, "the changelog topic", sd->spec.name, "-changelog",
                                  errstr, errstr_size))
            return RILL_ETOPOLOGY;
    }
    return 0;
}
