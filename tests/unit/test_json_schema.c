/*
 * Unit tests for the JSON Schema validator (schema.h, schema/json_schema.c): the official
 * JSON-Schema-Test-Suite as Debian's json-schema-test-suite installs it (drafts 4, 6 and 7; the
 * runner puts the folder's "$schema" into each root schema, as the suite expects), then messages
 * (instance path and keyword), compile errors, and that a warm validation allocates nothing.
 *
 * RILL_JSON_SCHEMA_SUITE=<dir of the suite's tests/> also runs its draft2019-09 and draft2020-12
 * folders when present (a newer checkout than Debian's 2.0.0) and prints the figures.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <rill/schema.h>

#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/oom_alloc.h"

#define DEBIAN_SUITE "/usr/share/json-schema-test-suite/tests"

static atomic_long n_allocs;

static void *count_malloc(size_t n)
{
    atomic_fetch_add(&n_allocs, 1);
    return malloc(n);
}

static void *count_realloc(void *p, size_t n)
{
    atomic_fetch_add(&n_allocs, 1);
    return realloc(p, n);
}

typedef struct {
    int pass, fail, skip;
} tally_t;

/* Runs every test file of dir (not optional/, not refRemote.json: remote documents are not
 * supported) with "$schema" set to dialect; a schema that does not compile skips its tests. */
static tally_t run_suite(const char *dir, const char *dialect)
{
    tally_t t = {0, 0, 0};
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 5, ".json") || !strcmp(e->d_name, "refRemote.json"))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        json_error_t jerr;
        json_t *groups = json_load_file(path, JSON_ALLOW_NUL, &jerr);
        assert_non_null(groups);
        size_t gi, ti;
        json_t *g, *test;
        json_array_foreach(groups, gi, g)
        {
            json_t *sch = json_object_get(g, "schema");
            if (json_is_object(sch) && !json_object_get(sch, "$schema"))
                json_object_set_new(sch, "$schema", json_string(dialect));
            char *text = json_dumps(sch, JSON_ENCODE_ANY);
            char err[512];
            rill_json_schema_t *s = rill_json_schema_new(text, strlen(text), err, sizeof err);
            json_array_foreach(json_object_get(g, "tests"), ti, test)
            {
                if (!s) {
                    t.skip++;
                    continue;
                }
                char *data = json_dumps(json_object_get(test, "data"), JSON_ENCODE_ANY);
                char verr[512] = "";
                int rc = rill_json_schema_validate(s, data, strlen(data), verr, sizeof verr);
                int want = json_is_true(json_object_get(test, "valid"));
                assert_true(rc == 0 || rc == RILL_ESERDE);
                if ((rc == 0) == want) {
                    t.pass++;
                } else {
                    t.fail++;
                    printf("  FAIL %s: %s: %s (%s)\n", e->d_name,
                           json_string_value(json_object_get(g, "description")),
                           json_string_value(json_object_get(test, "description")), verr);
                }
                free(data);
            }
            rill_json_schema_destroy(s);
            free(text);
        }
        json_decref(groups);
    }
    closedir(d);
    printf("  %s (%s): %d passed, %d failed, %d skipped\n", dir, dialect, t.pass, t.fail, t.skip);
    return t;
}

/* Debian's suite 2.0.0. Every test passes but those of the groups that $ref the draft's
 * metaschema by its URL (definitions.json, ref.json's "remote ref"): 4 tests a draft. */
static void test_suite_draft4(void **state)
{
    tally_t t = run_suite(DEBIAN_SUITE "/draft4", "http://json-schema.org/draft-04/schema#");
    assert_int_equal(t.fail, 0);
    assert_true(t.pass >= 301);
    assert_true(t.skip <= 4);
}

static void test_suite_draft6(void **state)
{
    tally_t t = run_suite(DEBIAN_SUITE "/draft6", "http://json-schema.org/draft-06/schema#");
    assert_int_equal(t.fail, 0);
    assert_true(t.pass >= 386);
    assert_true(t.skip <= 4);
}

static void test_suite_draft7(void **state)
{
    tally_t t = run_suite(DEBIAN_SUITE "/draft7", "http://json-schema.org/draft-07/schema#");
    assert_int_equal(t.fail, 0);
    assert_true(t.pass >= 404);
    assert_true(t.skip <= 4);
}

/* A newer checkout, when given. Known to fail: a custom metaschema without the validation
 * vocabulary (vocabularies are not read from metaschemas). */
static void test_suite_newer(void **state)
{
    const char *dir = getenv("RILL_JSON_SCHEMA_SUITE");
    if (!dir) {
        skip();
    }
    static const char *const drafts[][2] = {
        {"draft2019-09", "https://json-schema.org/draft/2019-09/schema"},
        {"draft2020-12", "https://json-schema.org/draft/2020-12/schema"}};
    for (size_t i = 0; i < 2; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, drafts[i][0]);
        tally_t t = run_suite(path, drafts[i][1]);
        assert_true(t.fail <= 1);
        assert_true(t.pass >= 1220);
    }
}

static rill_json_schema_t *compile(const char *text)
{
    char err[256] = "";
    rill_json_schema_t *s = rill_json_schema_new(text, strlen(text), err, sizeof err);
    if (!s)
        fail_msg("compile: %s", err);
    return s;
}

static const char order_schema[] =
    "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
    "\"required\":[\"id\",\"items\"],\"additionalProperties\":false,"
    "\"properties\":{\"id\":{\"type\":\"string\",\"pattern\":\"^o-[0-9]+$\"},"
    "\"items\":{\"type\":\"array\",\"minItems\":1,\"items\":{\"$ref\":\"#/$defs/item\"}},"
    "\"note\":{\"type\":\"string\",\"maxLength\":3}},"
    "\"$defs\":{\"item\":{\"type\":\"object\",\"required\":[\"sku\",\"price\"],"
    "\"properties\":{\"sku\":{\"type\":\"string\"},\"price\":{\"type\":\"number\","
    "\"minimum\":0}}}}}";

/* Each failure names the instance path and the keyword. */
static void test_messages(void **state)
{
    rill_json_schema_t *s = compile(order_schema);
    static const struct {
        const char *doc;
        const char *msg;
    } cases[] = {
        {"{\"id\":\"o-1\",\"items\":[{\"sku\":\"a\",\"price\":1},{\"sku\":\"b\",\"price\":2},"
         "{\"sku\":\"c\",\"price\":3},{\"sku\":\"d\",\"price\":-4}]}",
         "/items/3/price: \"minimum\" failed: -4 is less than 0"},
        {"{\"id\":\"o-1\"}", "(root): \"required\" failed: property \"items\" is missing"},
        {"{\"id\":\"x\",\"items\":[]}", "/id: \"pattern\" failed: does not match"},
        {"{\"id\":\"o-1\",\"items\":[]}", "/items: \"minItems\" failed: 0 items, fewer than 1"},
        {"{\"id\":\"o-1\",\"items\":[{\"sku\":1,\"price\":1}]}",
         "/items/0/sku: \"type\" failed: integer is not allowed"},
        {"{\"id\":\"o-1\",\"items\":[{\"price\":1}],\"x\":1}",
         "/items/0: \"required\" failed: property \"sku\" is missing"},
        {"{\"id\":\"o-1\",\"items\":[{\"sku\":\"a\",\"price\":1}],\"x/y~\":1}",
         "/x~1y~0: \"additionalProperties\" failed: property not allowed"},
        {"{\"id\":\"o-1\",\"items\":[{\"sku\":\"a\",\"price\":1}],\"note\":\"\\u00e9\\u00e9\\u00e9"
         "\\u00e9\"}",
         "/note: \"maxLength\" failed: 4 characters, more than 3"},
        {"[]", "(root): \"type\" failed: array is not allowed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[256] = "";
        int rc = rill_json_schema_validate(s, cases[i].doc, strlen(cases[i].doc), err, sizeof err);
        assert_int_equal(rc, RILL_ESERDE);
        assert_string_equal(err, cases[i].msg);
    }
    const char *ok =
        "{\"id\":\"o-12\",\"items\":[{\"sku\":\"a\",\"price\":0.5}],\"note\":\"\\u00e9\"}";
    assert_int_equal(rill_json_schema_validate(s, ok, strlen(ok), NULL, 0), 0);
    rill_json_schema_destroy(s);
}

/* Inside anyOf, not and contains a branch's failure is not the answer; the combinator is. */
static void test_message_of_combinators(void **state)
{
    rill_json_schema_t *s = compile("{\"properties\":{\"a\":{\"anyOf\":[{\"type\":\"string\"},"
                                    "{\"minimum\":5}]},\"b\":{\"not\":{\"type\":\"null\"}},"
                                    "\"c\":{\"contains\":{\"const\":1}}}}");
    static const char *const docs[][2] = {
        {"{\"a\":1}", "/a: \"anyOf\" failed: no subschema matches"},
        {"{\"b\":null}", "/b: \"not\" failed: the value matches the negated schema"},
        {"{\"c\":[2,3]}", "/c: \"contains\" failed: 0 matching items, fewer than 1"},
    };
    for (size_t i = 0; i < 3; i++) {
        char err[256] = "";
        assert_int_equal(
            rill_json_schema_validate(s, docs[i][0], strlen(docs[i][0]), err, sizeof err),
            RILL_ESERDE);
        assert_string_equal(err, docs[i][1]);
    }
    rill_json_schema_destroy(s);
}

static void test_bad_input(void **state)
{
    rill_json_schema_t *s = compile("true");
    char err[256];
    static const char *const bad[] = {
        "", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"\\x\"", "\"\xff\"", "nul", "[1] 2", "\"a\nb\"",
        /* past the tokenizer's eight-byte steps */
        "\"abcdefghij\x01\"", "\"abcdefghijk\\q\"", "\"abcdefghijklmnop\xc3\"",
        "\"abcdefghijklmnopqrs", "\"abcdefghijklmnop\xed\xa0\x80\""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        assert_int_equal(rill_json_schema_validate(s, bad[i], strlen(bad[i]), err, sizeof err),
                         RILL_ESERDE);
        assert_non_null(strstr(err, "invalid JSON at byte"));
    }
    assert_int_equal(rill_json_schema_validate(NULL, "1", 1, err, sizeof err), RILL_EINVAL);
    assert_int_equal(rill_json_schema_validate(s, NULL, 1, err, sizeof err), RILL_EINVAL);
    /* long strings with escapes and UTF-8 between eight-byte steps count characters right */
    rill_json_schema_t *len20 = compile("{\"minLength\":20,\"maxLength\":20}");
    static const char *const twenty[] = {"\"abcdefghij\\u00e9klmnopqrs\"",
                                         "\"abcdefghijklmnopq\xc3\xa9\\\"s\"",
                                         "\"\xe2\x82\xac\xe2\x82\xac"
                                         "abcdefghijklmnopqr\""};
    for (size_t i = 0; i < 3; i++)
        if (rill_json_schema_validate(len20, twenty[i], strlen(twenty[i]), err, sizeof err))
            fail_msg("%s: %s", twenty[i], err);
    rill_json_schema_destroy(len20);
    /* the text need not be NUL-terminated: a number at the very end of the buffer */
    char num[3] = {'1', '2', '3'};
    assert_int_equal(rill_json_schema_validate(s, num, 2, err, sizeof err), 0);
    rill_json_schema_destroy(s);
}

static void test_compile_errors(void **state)
{
    static const char *const cases[][2] = {
        {"{", "schema is not JSON"},
        {"[1]", "schema at #: a schema must be an object or a boolean"},
        {"{\"type\":\"text\"}", "schema at #/type: unknown type \"text\""},
        {"{\"properties\":{\"a\":{\"pattern\":\"(\"}}}",
         "schema at #/properties/a/pattern: bad regular expression"},
        {"{\"$ref\":\"https://example.com/other.json\"}",
         "references to other documents are not supported"},
        {"{\"$ref\":\"#/$defs/missing\"}", "cannot resolve \"rill:/schema.json#/$defs/missing\""},
        {"{\"minLength\":-1}", "schema at #/minLength: must be a non-negative integer"},
        {"{\"multipleOf\":0}", "schema at #/multipleOf: must be greater than 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[256] = "";
        assert_null(rill_json_schema_new(cases[i][0], strlen(cases[i][0]), err, sizeof err));
        if (!strstr(err, cases[i][1]))
            fail_msg("%s: got \"%s\"", cases[i][0], err);
    }
    assert_null(rill_json_schema_new(NULL, 0, NULL, 0));
    /* a schema nested too deep for the stack is refused; an instance nested 300 deep validates
     * against a recursive schema, and one nested 600 deep is refused by the tokenizer */
    char deep[4096] = "", err[256];
    for (int i = 0; i < 300; i++)
        strcat(deep, "{\"items\":");
    strcat(deep, "true");
    for (int i = 0; i < 300; i++)
        strcat(deep, "}");
    assert_null(rill_json_schema_new(deep, strlen(deep), err, sizeof err));
    assert_non_null(strstr(err, "subschemas nested deeper than 200"));
    const char *rec_text = "{\"items\":{\"$ref\":\"#\"}}";
    rill_json_schema_t *rec = rill_json_schema_new(rec_text, strlen(rec_text), err, sizeof err);
    assert_non_null(rec);
    memset(deep, '[', 300);
    memset(deep + 300, ']', 300);
    assert_int_equal(rill_json_schema_validate(rec, deep, 600, err, sizeof err), 0);
    memset(deep, '[', 600);
    memset(deep + 600, ']', 600);
    assert_int_equal(rill_json_schema_validate(rec, deep, 1200, err, sizeof err), RILL_ESERDE);
    assert_non_null(strstr(err, "nesting too deep"));
    rill_json_schema_destroy(rec);
    rill_json_schema_destroy(NULL);
}

/* unevaluatedProperties sees what allOf's branches evaluated; unevaluatedItems what prefixItems
 * and contains did. */
static void test_unevaluated(void **state)
{
    rill_json_schema_t *s =
        compile("{\"allOf\":[{\"properties\":{\"a\":{\"type\":\"integer\"}}}],"
                "\"unevaluatedProperties\":false,"
                "\"properties\":{\"b\":true,\"l\":{\"prefixItems\":[{\"type\":\"string\"}],"
                "\"contains\":{\"type\":\"boolean\"},\"unevaluatedItems\":false}}}");
    static const char *const docs[][2] = {
        {"{\"a\":1,\"l\":[\"x\",true,false]}", ""},
        {"{\"a\":1,\"c\":2}", "/c: \"unevaluatedProperties\" failed: not allowed"},
        {"{\"l\":[\"x\",true,3]}", "/l/2: \"unevaluatedItems\" failed: not allowed"},
    };
    for (size_t i = 0; i < 3; i++) {
        char err[256] = "";
        int rc = rill_json_schema_validate(s, docs[i][0], strlen(docs[i][0]), err, sizeof err);
        assert_int_equal(rc, docs[i][1][0] ? RILL_ESERDE : 0);
        assert_string_equal(err, docs[i][1]);
    }
    rill_json_schema_destroy(s);
}

/* ECMA-262's long General_Category names, which PCRE2 knows only by their short ones. */
static void test_unicode_properties(void **state)
{
    rill_json_schema_t *s = compile("{\"properties\":{\"a\":{\"pattern\":\"^\\\\p{Letter}+$\"},"
                                    "\"b\":{\"pattern\":\"^\\\\p{gc=Decimal_Number}\\\\P{Lu}$\"},"
                                    "\"c\":{\"pattern\":\"^\\\\\\\\p{Letter}$\"}}}");
    static const struct {
        const char *doc;
        int valid;
    } cases[] = {
        {"{\"a\":\"h\u00e9llo\"}", 1},
        {"{\"a\":\"h3\"}", 0},
        {"{\"b\":\"7x\"}", 1},
        {"{\"b\":\"7X\"}", 0},
        {"{\"c\":\"\\\\p{Letter}\"}", 1}, /* an escaped backslash: literal text */
        {"{\"c\":\"x\"}", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[256] = "";
        int rc = rill_json_schema_validate(s, cases[i].doc, strlen(cases[i].doc), err, sizeof err);
        if ((rc == 0) != cases[i].valid)
            fail_msg("%s: %s", cases[i].doc, err);
    }
    rill_json_schema_destroy(s);
}

/* $dynamicRef follows the dynamic scope: a strict tree extends a tree whose children refer to
 * "#node", and the strict root's anchor wins, so children are strict too. */
static void test_dynamic_ref(void **state)
{
    rill_json_schema_t *s = compile(
        "{\"$id\":\"https://example.com/strict-tree\",\"$dynamicAnchor\":\"node\","
        "\"$ref\":\"tree\",\"unevaluatedProperties\":false,"
        "\"$defs\":{\"tree\":{\"$id\":\"tree\",\"$dynamicAnchor\":\"node\",\"type\":\"object\","
        "\"properties\":{\"data\":true,\"children\":{\"type\":\"array\","
        "\"items\":{\"$dynamicRef\":\"#node\"}}}}}}");
    char err[256] = "";
    const char *ok = "{\"data\":1,\"children\":[{\"data\":2,\"children\":[]}]}";
    const char *bad = "{\"children\":[{\"daat\":1}]}";
    assert_int_equal(rill_json_schema_validate(s, ok, strlen(ok), err, sizeof err), 0);
    assert_int_equal(rill_json_schema_validate(s, bad, strlen(bad), err, sizeof err), RILL_ESERDE);
    assert_string_equal(err, "/children/0/daat: \"unevaluatedProperties\" failed: not allowed");
    rill_json_schema_destroy(s);
}

/* A recursive schema compiles to a cycle and validates nested data. */
static void test_recursive(void **state)
{
    rill_json_schema_t *s =
        compile("{\"$id\":\"https://example.com/tree\",\"type\":\"object\","
                "\"properties\":{\"v\":{\"type\":\"integer\"},"
                "\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"tree\"}}}}");
    const char *ok = "{\"v\":1,\"kids\":[{\"v\":2,\"kids\":[{\"v\":3}]}]}";
    const char *bad = "{\"v\":1,\"kids\":[{\"v\":2,\"kids\":[{\"v\":3.5}]}]}";
    char err[256];
    assert_int_equal(rill_json_schema_validate(s, ok, strlen(ok), err, sizeof err), 0);
    assert_int_equal(rill_json_schema_validate(s, bad, strlen(bad), err, sizeof err), RILL_ESERDE);
    assert_string_equal(err, "/kids/0/kids/0/v: \"type\" failed: number is not allowed");
    rill_json_schema_destroy(s);
    /* a schema that recurses on the same instance is stopped, not a stack overflow */
    s = compile("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/a\"}},\"$ref\":\"#/$defs/a\"}");
    assert_int_equal(rill_json_schema_validate(s, "1", 1, err, sizeof err), RILL_ESERDE);
    rill_json_schema_destroy(s);
}

/* The hot path: once the thread's scratch has grown, a validation allocates nothing. */
static void test_no_allocation_when_warm(void **state)
{
    assert_int_equal(rill_set_allocator(count_malloc, count_realloc, free), 0);
    rill_json_schema_t *s = compile(order_schema);
    const char *doc = "{\"id\":\"o-12\",\"items\":[{\"sku\":\"a\\u0041\",\"price\":0.5},"
                      "{\"sku\":\"b\",\"price\":7}],\"note\":\"ok\"}";
    char err[256];
    assert_int_equal(rill_json_schema_validate(s, doc, strlen(doc), err, sizeof err), 0);
    long before = atomic_load(&n_allocs);
    for (int i = 0; i < 100; i++)
        assert_int_equal(rill_json_schema_validate(s, doc, strlen(doc), err, sizeof err), 0);
    assert_int_equal(atomic_load(&n_allocs), before);
    rill_json_schema_destroy(s);
    /* nor does a number too long for the fast path and the stack copy, inside a document */
    s = compile("{\"items\":{\"minimum\":1}}");
    char longnum[200] = "[1.";
    memset(longnum + 3, '5', 150);
    strcpy(longnum + 153, "e-2,2]");
    assert_int_equal(rill_json_schema_validate(s, longnum, strlen(longnum), err, sizeof err),
                     RILL_ESERDE);
    before = atomic_load(&n_allocs);
    assert_int_equal(rill_json_schema_validate(s, longnum, strlen(longnum), err, sizeof err),
                     RILL_ESERDE);
    assert_int_equal(atomic_load(&n_allocs), before);
    assert_string_equal(err, "/0: \"minimum\" failed: 0.0155556 is less than 1");
    rill_json_schema_destroy(s);
    rill_set_allocator(NULL, NULL, NULL);
}

typedef struct {
    const rill_json_schema_t *schema;
    const char *doc;
    int rc;
    int rounds;
    char err[256];
} job_t;

static void *validate_job(void *arg)
{
    job_t *job = arg;
    for (int i = 0; i < job->rounds; i++) {
        int rc = rill_json_schema_validate(job->schema, job->doc, strlen(job->doc), job->err,
                                           sizeof job->err);
        if (i && rc != job->rc)
            job->rc = 99; /* the same document must give the same answer every time */
        else
            job->rc = rc;
    }
    return NULL;
}

/* Out of memory at every allocation of a compile, then of a first validation on a new thread
 * (whose scratch is new): an error, never a crash, and nothing leaks (valgrind, LSan). */
static void test_out_of_memory(void **state)
{
    const char *doc = "{\"id\":\"o-12\",\"items\":[{\"sku\":\"a\\u0041\",\"price\":0.5}],"
                      "\"note\":\"\\u00e9\"}";
    assert_int_equal(rill_set_allocator(oom_malloc, oom_realloc, free), 0);
    rill_json_schema_t *s = NULL;
    long compiles, validations;
    for (compiles = 0; !s; compiles++) {
        countdown = compiles;
        failures = 0;
        char err[256] = "";
        s = rill_json_schema_new(order_schema, strlen(order_schema), err, sizeof err);
        assert_true(s ? failures == 0 : strstr(err, "out of memory") != NULL);
    }
    for (validations = 0;; validations++) {
        job_t job = {.schema = s, .doc = doc, .rounds = 1};
        pthread_t th;
        countdown = validations;
        failures = 0;
        assert_int_equal(pthread_create(&th, NULL, validate_job, &job), 0);
        pthread_join(th, NULL);
        if (!failures) {
            assert_int_equal(job.rc, 0);
            break;
        }
        assert_int_equal(job.rc, RILL_ENOMEM);
        assert_string_equal(job.err, "out of memory");
    }
    countdown = -1;
    rill_json_schema_destroy(s);
    rill_set_allocator(NULL, NULL, NULL);
    printf("  out of memory at each of the %ld allocations of a compile and the %ld of a first "
           "validation: clean\n",
           compiles - 1, validations);
    assert_true(compiles > 20);
    assert_true(validations >= 3); /* scratch, tokens, an unescaped string */
}

/* One schema, four threads validating at once, each with its own scratch. */
static void test_threads(void **state)
{
    rill_json_schema_t *s = compile(order_schema);
    job_t jobs[4] = {
        {.schema = s, .doc = "{\"id\":\"o-1\",\"items\":[{\"sku\":\"a\",\"price\":1}]}"},
        {.schema = s, .doc = "{\"id\":\"o-1\",\"items\":[{\"sku\":\"a\",\"price\":-1}]}"},
        {.schema = s, .doc = "{\"id\":\"bad\",\"items\":[{\"sku\":\"a\",\"price\":1}]}"},
        {.schema = s, .doc = "{\"id\":\"o-2\",\"items\":[{\"sku\":\"\\u0062\",\"price\":2}]}"},
    };
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i].rounds = 2000;
        assert_int_equal(pthread_create(&th[i], NULL, validate_job, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(jobs[0].rc, 0);
    assert_int_equal(jobs[1].rc, RILL_ESERDE);
    assert_string_equal(jobs[1].err, "/items/0/price: \"minimum\" failed: -1 is less than 0");
    assert_int_equal(jobs[2].rc, RILL_ESERDE);
    assert_string_equal(jobs[2].err, "/id: \"pattern\" failed: does not match");
    assert_int_equal(jobs[3].rc, 0);
    rill_json_schema_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite_draft4),
        cmocka_unit_test(test_suite_draft6),
        cmocka_unit_test(test_suite_draft7),
        cmocka_unit_test(test_suite_newer),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_message_of_combinators),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_unevaluated),
        cmocka_unit_test(test_unicode_properties),
        cmocka_unit_test(test_dynamic_ref),
        cmocka_unit_test(test_recursive),
        cmocka_unit_test(test_no_allocation_when_warm),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
