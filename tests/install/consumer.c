/*
 * consumer.c — a program as a user of an installed Rill would write it: only the installed public
 * headers and library, nothing from the source tree. tests/install/run builds it through
 * pkg-config (shared and static) and through find_package(Rill), and runs it.
 *
 * It checks the version the library reports against the headers and against the version the
 * package reported (argv[1] from pkg-config, or RILL_PACKAGE_VERSION from find_package), builds
 * "in" -> filter -> "out", prints the topology description, pipes records through the test
 * driver and checks what reached "out"; then writes and reads a RocksDB store (C++ inside
 * librill, so the link must bring RocksDB and libstdc++).
 * Prints "consumer: ok" and exits 0 on success; prints the first failure and exits 1 otherwise.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <rill/rill.h>
#include <rill/serde.h>
#include <rill/statestore.h>
#include <rill/processor.h>
#include <rill/dsl.h>
#include <rill/app.h>
#include <rill/test_driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "consumer: %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* Keeps records whose value starts with "a". */
static bool value_starts_with_a(void *ud, const rill_record_t *rec)
{
    (void)ud;
    return rec->value.len > 0 && ((const char *)rec->value.data)[0] == 'a';
}

static bool buf_equals(rill_buf_t b, const char *s)
{
    return s ? b.data && b.len == strlen(s) && memcmp(b.data, s, b.len) == 0 : b.data == NULL;
}

int main(int argc, char **argv)
{
    char err[512] = "";

    /* The library linked at run time is the one the headers describe. */
    const char *version = rill_version();
    printf("rill_version() = %s, RILL_VERSION_STRING = %s\n", version, RILL_VERSION_STRING);
    CHECK(strcmp(version, RILL_VERSION_STRING) == 0, "library %s, headers %s", version,
          RILL_VERSION_STRING);
#ifdef RILL_PACKAGE_VERSION
    CHECK(strcmp(version, RILL_PACKAGE_VERSION) == 0, "library %s, CMake package %s", version,
          RILL_PACKAGE_VERSION);
#endif
    if (argc > 1)
        CHECK(strcmp(version, argv[1]) == 0, "library %s, pkg-config %s", version, argv[1]);
    CHECK(strcmp(rill_err_name(RILL_EINVAL), "RILL_EINVAL") == 0, "%s", rill_err_name(RILL_EINVAL));

    /* in -> filter -> out */
    rill_topology_t *topo = rill_topology_new();
    CHECK(topo != NULL, "rill_topology_new");
    rill_stream_t *in = rill_stream_from_topic(topo, "in", NULL);
    rill_stream_t *kept = rill_stream_filter(in, value_starts_with_a, NULL);
    CHECK(rill_stream_to(kept, "out", NULL) == 0, "rill_stream_to");
    CHECK(rill_topology_build(topo, err, sizeof err) == 0, "rill_topology_build: %s", err);

    char *desc = rill_topology_describe(topo);
    CHECK(desc != NULL, "rill_topology_describe");
    printf("%s", desc);
    CHECK(strstr(desc, "Sub-topology") && strstr(desc, "[in]") && strstr(desc, "(topic: out)"),
          "unexpected description");
    rill_free(desc);

    /* Records through the test driver, with string serdes. */
    rill_conf_t *conf = rill_conf_new();
    CHECK(conf != NULL, "rill_conf_new");
    CHECK(rill_conf_set(conf, "application.id", "install-consumer", err, sizeof err) == 0, "%s",
          err);
    CHECK(rill_conf_set(conf, "default.key.serde", "string", err, sizeof err) == 0, "%s", err);
    CHECK(rill_conf_set(conf, "default.value.serde", "string", err, sizeof err) == 0, "%s", err);
    rill_test_driver_t *td = rill_test_driver_new(topo, conf, 0, err, sizeof err);
    CHECK(td != NULL, "rill_test_driver_new: %s", err);

    static const struct {
        const char *key, *value;
        int64_t ts;
    } input[] = {
        {"k1", "apple", 10},
        {"k2", "banana", 20},
        {NULL, "avocado", 30},
        {"k4", "cherry", 40},
    };
    for (size_t i = 0; i < sizeof input / sizeof input[0]; i++)
        CHECK(rill_test_driver_pipe_str(td, "in", input[i].key, input[i].value, input[i].ts) == 0,
              "pipe %zu: %s", i, rill_test_driver_error(td));

    static const struct {
        const char *key, *value;
        int64_t ts;
    } expected[] = {{"k1", "apple", 10}, {NULL, "avocado", 30}};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        rill_test_record_t rec;
        CHECK(rill_test_driver_read(td, "out", &rec) == 0, "output record %zu missing", i);
        CHECK(buf_equals(rec.key, expected[i].key), "record %zu: key", i);
        CHECK(buf_equals(rec.value, expected[i].value), "record %zu: value '%.*s'", i,
              (int)rec.value.len, rec.value.data ? (const char *)rec.value.data : "");
        CHECK(rec.timestamp == expected[i].ts, "record %zu: timestamp %lld", i,
              (long long)rec.timestamp);
        printf("out: %s=%.*s @%lld\n", expected[i].key ? expected[i].key : "(null)",
               (int)rec.value.len, (const char *)rec.value.data, (long long)rec.timestamp);
    }
    CHECK(rill_test_driver_unread(td, "out") == 0, "%zu extra records on out",
          rill_test_driver_unread(td, "out"));
    CHECK(rill_test_driver_metric(td, "records-processed") == 4, "records-processed %lld",
          (long long)rill_test_driver_metric(td, "records-processed"));

    rill_test_driver_destroy(td);
    rill_conf_destroy(conf);
    rill_topology_unref(topo);

    /* A RocksDB store in a temporary directory. */
    char dir[] = "/tmp/rill-install-consumer.XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    rill_store_env_t *env = rill_store_env_new(8 << 20, err, sizeof err);
    CHECK(env != NULL, "rill_store_env_new: %s", err);
    rill_store_t *store = rill_store_open(RILL_STORE_ROCKSDB, env, dir, err, sizeof err);
    CHECK(store != NULL, "rill_store_open: %s", err);
    CHECK(rill_store_put(store, rill_buf_str("k"), rill_buf_str("v")) == 0, "put: %s",
          rill_store_error(store));
    rill_buf_t v;
    CHECK(rill_store_get(store, rill_buf_str("k"), &v) == 0 && buf_equals(v, "v"), "get: %s",
          rill_store_error(store));
    rill_store_close(store);
    rill_store_env_destroy(env);
    CHECK(rill_store_wipe(dir) == 0, "rill_store_wipe %s", dir);
    printf("store: k=v in RocksDB\n");

    printf("consumer: ok\n");
    return 0;
}
