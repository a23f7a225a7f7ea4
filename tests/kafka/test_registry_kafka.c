/*
 * rill-registry on a real Kafka cluster, as the issue asks: two instances on one topic (register
 * on one, read on the other: the follower forwards the write to the leader), the leader killed
 * (SIGKILL) and writes going on through the new leader, and a third instance rebuilt from the
 * topic alone, answering as the survivor does. Each instance runs in a child process (this binary
 * again), which says on a pipe which port it serves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../common/child_app.h"
#include "../common/http_client.h"
#include "../common/kafka_util.h"

#include <jansson.h>
#include <rill/registry.h>

static const char *bootstrap;
static char topic[64], group[64], log_path[256];

/* The child: a registry on argv's topic and group, until SIGTERM (or SIGKILL). */
static int child_main(int ready_fd, const char *boot, const char *t, const char *g)
{
    char err[512];
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    rill_set_log_cb(NULL, NULL, RILL_LOG_INFO);
    rill_registry_conf_t *conf = rill_registry_conf_new();
    const char *kv[][2] = {{"listeners", "http://127.0.0.1:0"},
                           {"kafkastore.bootstrap.servers", boot},
                           {"kafkastore.topic", t},
                           {"schema.registry.group.id", g},
                           {"kafkastore.topic.replication.factor", "1"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rill_registry_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err)) {
            fprintf(stderr, "child: %s\n", err);
            return 1;
        }
    rill_registry_t *reg = rill_registry_new(conf, err, sizeof err);
    if (!reg || rill_registry_start(reg, err, sizeof err)) {
        fprintf(stderr, "child: %s\n", err);
        return 1;
    }
    const char *url = rill_registry_url(reg);
    if (child_app_ready(ready_fd, atoll(strrchr(url, ':') + 1)))
        return 1;
    int sig;
    sigwait(&set, &sig);
    rill_registry_destroy(reg);
    return 0;
}

typedef struct {
    child_app_t child;
    char url[64];
} instance_t;

static instance_t start_instance(const char *label)
{
    instance_t in;
    const char *args[] = {bootstrap, topic, group, NULL};
    in.child = child_app_spawn(label, log_path, args);
    long long port = child_app_wait_running(&in.child);
    snprintf(in.url, sizeof in.url, "http://127.0.0.1:%lld", port);
    return in;
}

/* Returns whether the log says url leads (its last word on it). */
static bool leads(const char *url)
{
    FILE *f = fopen(log_path, "r");
    char line[1024], now[128], no_longer[128];
    snprintf(now, sizeof now, "%s is now the leader", url);
    snprintf(no_longer, sizeof no_longer, "%s is no longer the leader", url);
    bool lead = false;
    while (f && fgets(line, sizeof line, f)) {
        if (strstr(line, now))
            lead = true;
        else if (strstr(line, no_longer))
            lead = false;
    }
    if (f)
        fclose(f);
    return lead;
}

static char *schema_body(int n)
{
    char schema[256];
    snprintf(schema, sizeof schema,
             "{\"type\":\"record\",\"name\":\"Event%d\",\"fields\":[{\"name\":\"id\","
             "\"type\":\"long\"}]}",
             n);
    json_t *doc = json_pack("{s:s}", "schema", schema);
    char *body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return body;
}

/* Registers schema n in subject "s<n>" at url; returns its id, or -1 with the answer printed. */
static int register_at(const char *url, int n)
{
    char path[64];
    snprintf(path, sizeof path, "/subjects/s%d/versions", n);
    char *body = schema_body(n), *out = NULL;
    int status = http_call("POST", url, path, body, &out);
    json_t *doc = status == 200 ? json_loads(out, 0, NULL) : NULL;
    int id = doc ? (int)json_integer_value(json_object_get(doc, "id")) : -1;
    if (id < 0)
        print_message("POST %s%s: %d %s\n", url, path, status, out ? out : "");
    json_decref(doc);
    free(body);
    free(out);
    return id;
}

/* GET url+path, 200 expected: an instance answers a write once it has read it, the other ones
 * a few milliseconds later (their readers), so a 404 is asked again for up to 10 s. */
static json_t *get_json(const char *url, const char *path)
{
    char *out = NULL;
    int status = http_call("GET", url, path, NULL, &out);
    for (int i = 0; i < 100 && status == 404; i++) {
        free(out);
        usleep(100 * 1000);
        status = http_call("GET", url, path, NULL, &out);
    }
    if (status != 200)
        fail_msg("GET %s%s: %d %s", url, path, status, out ? out : "");
    json_t *doc = json_loads(out, JSON_DECODE_ANY, NULL);
    free(out);
    return doc;
}

static void test_two_instances_failover_and_rebuild(void **state)
{
    (void)state;
    if (!bootstrap)
        skip();
    snprintf(topic, sizeof topic, "_schemas-test-%d", (int)getpid());
    snprintf(group, sizeof group, "schema-registry-test-%d", (int)getpid());
    instance_t a = start_instance("a");
    instance_t b = start_instance("b");
    /* One of them leads, once the group has settled. */
    for (int i = 0; i < 300 && leads(a.url) == leads(b.url); i++)
        usleep(100 * 1000);
    assert_true(leads(a.url) != leads(b.url));
    instance_t *leader = leads(a.url) ? &a : &b, *follower = leads(a.url) ? &b : &a;
    print_message("leader %s, follower %s\n", leader->url, follower->url);

    /* Written on either (the follower forwards), read on both. */
    int ids[20] = {0};
    for (int n = 0; n < 10; n++) {
        ids[n] = register_at(n % 2 ? follower->url : leader->url, n);
        assert_true(ids[n] > 0);
    }
    for (int n = 0; n < 10; n++) {
        char path[64];
        snprintf(path, sizeof path, "/subjects/s%d/versions/latest", n);
        json_t *x = get_json(leader->url, path), *y = get_json(follower->url, path);
        assert_true(json_equal(x, y));
        assert_int_equal(json_integer_value(json_object_get(x, "id")), ids[n]);
        json_decref(x);
        json_decref(y);
    }
    /* The same schema registered through the follower again: the same id, no new version. */
    assert_int_equal(register_at(follower->url, 3), ids[3]);

    /* The leader dies; the survivor takes the lead after the session timeout, and writes go on
     * through it, with ids after the ones given. */
    child_app_kill(&leader->child);
    instance_t *survivor = follower;
    int id = -1;
    for (int i = 0; i < 60 && id < 0; i++) {
        id = register_at(survivor->url, 10);
        if (id < 0)
            sleep(1); /* until the group moves the lead: Kafka's session timeout */
    }
    assert_true(id > 0);
    for (int n = 0; n < 10; n++)
        assert_int_not_equal(id, ids[n]);
    assert_true(leads(survivor->url));
    for (int n = 11; n < 15; n++)
        assert_true(register_at(survivor->url, n) > 0);

    /* A new instance with only the topic answers as the survivor does. */
    instance_t c = start_instance("c");
    const char *paths[] = {"/subjects",
                           "/subjects/s0/versions",
                           "/subjects/s10/versions/1",
                           "/subjects/s14/versions/latest",
                           "/schemas/ids/1",
                           "/config"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        json_t *x = get_json(survivor->url, paths[i]), *y = get_json(c.url, paths[i]);
        if (!json_equal(x, y))
            fail_msg("GET %s differs on the rebuilt instance", paths[i]);
        json_decref(x);
        json_decref(y);
    }
    json_t *subjects = get_json(c.url, "/subjects");
    assert_int_equal(json_array_size(subjects), 15);
    json_decref(subjects);
    child_app_stop(&c.child);
    child_app_stop(&survivor->child);
}

int main(int argc, char **argv)
{
    if (argc >= 7 && strcmp(argv[1], "--child") == 0)
        return child_main(atoi(argv[3]), argv[4], argv[5], argv[6]);
    bootstrap = kafka_test_bootstrap("test_registry_kafka");
    const char *dir = getenv("RILL_TEST_LOG_DIR");
    snprintf(log_path, sizeof log_path, "%s/test_registry_kafka.%d.log", dir ? dir : "/tmp",
             (int)getpid());
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_instances_failover_and_rebuild),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
