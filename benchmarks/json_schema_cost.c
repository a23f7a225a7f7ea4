/*
 * bench-json-schema-cost: the cost of one JSON Schema validation (schema/json_schema.c) of a
 * small event (8 fields: strings with a pattern and an enum, integers, a number with bounds, a
 * nested object, an array of unique strings), for callgrind. Only validate_all() is worth
 * counting:
 *
 *   valgrind --tool=callgrind --toggle-collect=validate_all bench-json-schema-cost 20000
 *
 * gives Ir / N as the instructions per validation, tokenizing included.
 */
#include <rill/schema.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char schema_text[] =
    "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
    "\"required\":[\"id\",\"type\",\"ts\",\"user\",\"amount\"],\"additionalProperties\":false,"
    "\"properties\":{"
    "\"id\":{\"type\":\"string\",\"pattern\":\"^[0-9a-f]{8}-[0-9a-f]{4}$\"},"
    "\"type\":{\"enum\":[\"created\",\"paid\",\"shipped\",\"cancelled\"]},"
    "\"ts\":{\"type\":\"integer\",\"minimum\":0},"
    "\"user\":{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{"
    "\"id\":{\"type\":\"integer\"},\"country\":{\"type\":\"string\",\"minLength\":2,"
    "\"maxLength\":2}}},"
    "\"amount\":{\"type\":\"number\",\"exclusiveMinimum\":0,\"maximum\":1000000},"
    "\"currency\":{\"type\":\"string\",\"enum\":[\"EUR\",\"USD\",\"GBP\"]},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"uniqueItems\":true,"
    "\"maxItems\":8},"
    "\"note\":{\"type\":[\"string\",\"null\"],\"maxLength\":200}}}";

static const char event[] =
    "{\"id\":\"3f2a9c1b-77de\",\"type\":\"paid\",\"ts\":1764633600000,"
    "\"user\":{\"id\":4711,\"country\":\"DE\"},\"amount\":129.95,\"currency\":\"EUR\","
    "\"tags\":[\"web\",\"promo\",\"first\"],\"note\":null}";

static int __attribute__((noinline)) validate_all(const rill_json_schema_t *s, long n)
{
    char err[256];
    int bad = 0;
    for (long i = 0; i < n; i++)
        bad += rill_json_schema_validate(s, event, sizeof event - 1, err, sizeof err) != 0;
    return bad;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    char err[256];
    rill_json_schema_t *s =
        rill_json_schema_new(schema_text, sizeof schema_text - 1, err, sizeof err);
    if (!s) {
        fprintf(stderr, "bench-json-schema-cost: %s\n", err);
        return 1;
    }
    validate_all(s, 1); /* the thread's scratch grows here */
    int bad = validate_all(s, n);
    printf("%ld validations, %d invalid\n", n, bad);
    rill_json_schema_destroy(s);
    return bad != 0;
}
