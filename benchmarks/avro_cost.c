/*
 * bench-avro-cost: the per-record cost of the Avro serde against the JSON serde on the same
 * logical records (8 fields: long, string, double, int, enum, boolean, nullable string, array of
 * two strings), for callgrind. N records are made first (Avro bytes in Confluent's wire format
 * through a mock:// registry, and JSON text); then only measured() is worth counting:
 *
 *   valgrind --tool=callgrind --toggle-collect=measured bench-avro-cost avro de 20000
 *
 * gives Ir / N as the instructions per record. Modes: de (deserialize), read (deserialize and
 * read the 8 fields), ser (build the record with the writer, then serialize), reser (serialize
 * a value read before: pass-through), resolve (deserialize with a reader schema: a field added
 * with a default, one dropped, one promoted), serx (ser with fields set by index), mixed (de of
 * records that alternate between two schema ids, as a topic in a schema migration holds). Each
 * record gets the arena reset, as a task does.
 */
#include <rill/serde.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *schema_json =
    "{\"type\":\"record\",\"name\":\"Order\",\"namespace\":\"bench\",\"fields\":["
    "{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"customer\",\"type\":\"string\"},"
    "{\"name\":\"amount\",\"type\":\"double\"},{\"name\":\"quantity\",\"type\":\"int\"},"
    "{\"name\":\"currency\",\"type\":{\"type\":\"enum\",\"name\":\"Currency\","
    "\"symbols\":[\"EUR\",\"USD\",\"GBP\"]}},{\"name\":\"paid\",\"type\":\"boolean\"},"
    "{\"name\":\"note\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"}}]}";

/* The reader schema of mode "resolve": quantity promoted to long, a field added with a default,
 * the note dropped. */
static const char *reader_json =
    "{\"type\":\"record\",\"name\":\"Order\",\"namespace\":\"bench\",\"fields\":["
    "{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"customer\",\"type\":\"string\"},"
    "{\"name\":\"amount\",\"type\":\"double\"},{\"name\":\"quantity\",\"type\":\"long\"},"
    "{\"name\":\"currency\",\"type\":{\"type\":\"enum\",\"name\":\"Currency\","
    "\"symbols\":[\"EUR\",\"USD\",\"GBP\"]}},{\"name\":\"paid\",\"type\":\"boolean\"},"
    "{\"name\":\"channel\",\"type\":\"string\",\"default\":\"web\"},"
    "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"}}]}";

static const char *currencies[] = {"EUR", "USD", "GBP"};

typedef struct {
    int64_t id;
    char customer[32];
    double amount;
    int quantity;
    const char *currency;
    bool paid;
} order_t;

static void make_order(order_t *o, int i)
{
    o->id = 1000000 + i;
    snprintf(o->customer, sizeof o->customer, "customer-%d@example.com", i % 997);
    o->amount = (i % 10000) / 4.0;
    o->quantity = 1 + i % 9;
    o->currency = currencies[i % 3];
    o->paid = i % 2;
}

/* The fields' paths: by name, and by index ("[i]": no field name is compared). */
static const char *const by_name[] = {"id",   "customer", "amount", "quantity", "currency",
                                      "paid", "note",     "tags",   "tags[0]",  "tags[1]"};
static const char *const by_index[] = {"[0]", "[1]", "[2]", "[3]",    "[4]",
                                       "[5]", "[6]", "[7]", "[7][0]", "[7][1]"};

static rill_buf_t build_avro(rill_arena_t *arena, const rill_avro_codec_t *schema, const order_t *o,
                             const char *const *f)
{
    rill_buf_t rec = rill_avro_record_new(arena, schema);
    void *r = (void *)rec.data;
    rill_avro_set_int(r, f[0], o->id);
    rill_avro_set_str(r, f[1], o->customer, strlen(o->customer));
    rill_avro_set_double(r, f[2], o->amount);
    rill_avro_set_int(r, f[3], o->quantity);
    rill_avro_set_str(r, f[4], o->currency, 3);
    rill_avro_set_bool(r, f[5], o->paid);
    rill_avro_set_str(r, f[6], "gift", 4);
    rill_avro_set_array(r, f[7], 2);
    rill_avro_set_str(r, f[8], "web", 3);
    rill_avro_set_str(r, f[9], "promo", 5);
    return rec;
}

static rill_buf_t build_json(rill_arena_t *arena, const order_t *o)
{
    rill_json_writer_t w;
    rill_json_writer_init(&w, arena);
    rill_json_write_object(&w);
    rill_json_write_key(&w, "id");
    rill_json_write_int(&w, o->id);
    rill_json_write_key(&w, "customer");
    rill_json_write_str(&w, o->customer, strlen(o->customer));
    rill_json_write_key(&w, "amount");
    rill_json_write_double(&w, o->amount);
    rill_json_write_key(&w, "quantity");
    rill_json_write_int(&w, o->quantity);
    rill_json_write_key(&w, "currency");
    rill_json_write_str(&w, o->currency, 3);
    rill_json_write_key(&w, "paid");
    rill_json_write_bool(&w, o->paid);
    rill_json_write_key(&w, "note");
    rill_json_write_str(&w, "gift", 4);
    rill_json_write_key(&w, "tags");
    rill_json_write_array(&w);
    rill_json_write_str(&w, "web", 3);
    rill_json_write_str(&w, "promo", 5);
    rill_json_write_end(&w);
    rill_json_write_end(&w);
    return rill_json_writer_finish(&w);
}

/* Reads the 8 fields; returns a checksum so nothing is optimised away. */
static int64_t read_avro(const void *v)
{
    int64_t id = 0, q = 0;
    double amount = 0;
    bool paid = false;
    rill_buf_t c = {0}, note = {0}, tag = {0};
    rill_avro_get_int(v, "id", &id);
    rill_avro_get_str(v, "customer", &c);
    rill_avro_get_double(v, "amount", &amount);
    rill_avro_get_int(v, "quantity", &q);
    const char *cur = rill_avro_get_enum(v, "currency", NULL);
    rill_avro_get_bool(v, "paid", &paid);
    rill_avro_get_str(v, "note", &note);
    rill_avro_get_str(v, "tags[1]", &tag);
    return id + q + (int64_t)amount + paid + (int64_t)(c.len + note.len + tag.len) + cur[0];
}

static int64_t read_json(const void *v)
{
    int64_t id = 0, q = 0;
    double amount = 0;
    bool paid = false;
    rill_buf_t c = {0}, cur = {0}, note = {0}, tags = {0};
    rill_json_get_int(v, "id", &id);
    rill_json_get_str(v, "customer", &c);
    rill_json_get_double(v, "amount", &amount);
    rill_json_get_int(v, "quantity", &q);
    rill_json_get_str(v, "currency", &cur);
    rill_json_get_bool(v, "paid", &paid);
    rill_json_get_str(v, "note", &note);
    rill_json_get(v, "tags", &tags); /* the array as a value (no element getter in rill_json) */
    return id + q + (int64_t)amount + paid + (int64_t)(c.len + note.len + cur.len) +
           (tags.data != NULL);
}

typedef enum { DE, READ, SER, RESER, RESOLVE, SERX, MIXED } mode_t_;

typedef struct {
    bool avro;
    mode_t_ mode;
    int n;
    rill_serde_t *serde;
    const rill_avro_codec_t *schema;
    rill_bytes_t *inputs;
    order_t *orders;
    rill_arena_t *arena;
    rill_bytes_t out;
} bench_t;

static int64_t __attribute__((noinline)) measured(bench_t *b)
{
    int64_t sum = 0;
    char err[256];
    bool is_null;
    for (int i = 0; i < b->n; i++) {
        rill_arena_reset(b->arena);
        rill_buf_t v = {0};
        const rill_bytes_t *in = &b->inputs[i];
        if (b->mode == SERX) {
            v = build_avro(b->arena, b->schema, &b->orders[i], by_index);
        } else if (b->mode == SER) {
            v = b->avro ? build_avro(b->arena, b->schema, &b->orders[i], by_name)
                        : build_json(b->arena, &b->orders[i]);
        } else if (rill_serde_deserialize(b->serde, (rill_buf_t){in->data, in->len}, b->arena, &v,
                                          err, sizeof err)) {
            fprintf(stderr, "deserialize: %s\n", err);
            exit(1);
        }
        if (b->mode == READ)
            sum += b->avro ? read_avro(v.data) : read_json(v.data);
        if (b->mode == SER || b->mode == SERX || b->mode == RESER) {
            if (rill_serde_serialize(b->serde, v, &b->out, &is_null, err, sizeof err)) {
                fprintf(stderr, "serialize: %s\n", err);
                exit(1);
            }
            sum += (int64_t)b->out.len;
        }
    }
    return sum;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "avro") && strcmp(argv[1], "json"))) {
        fprintf(stderr, "usage: bench-avro-cost avro|json de|read|ser|reser N\n");
        return 2;
    }
    static const char *const modes[] = {"de", "read", "ser", "reser", "resolve", "serx", "mixed"};
    bench_t b = {.avro = !strcmp(argv[1], "avro"), .mode = DE, .n = atoi(argv[3])};
    while (b.mode <= MIXED && strcmp(modes[b.mode], argv[2]))
        b.mode++;
    if (b.mode > MIXED || b.n < 1 || (b.mode >= RESOLVE && !b.avro)) {
        fprintf(stderr, "bench-avro-cost: mode is de, read, ser, reser or resolve, serx, mixed "
                        "(avro); N at least 1\n");
        return 2;
    }
    char err[256];
    const char *conf[] = {"schema.registry.url", "mock://", "topic", "orders", "schema",
                          schema_json,           NULL};
    rill_registry_client_t *registry = rill_registry_client_new("mock://", NULL, err, sizeof err);
    rill_serde_t *avro = rill_serde_avro_new(conf, registry, err, sizeof err);
    if (!avro) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    b.serde = b.avro ? avro : rill_serde_json();
    rill_serde_t *resolving = NULL, *second = NULL;
    b.schema = rill_serde_avro_codec(avro);
    const rill_avro_codec_t *second_schema = NULL;
    if (b.mode == MIXED) {
        /* The same fields in another text (a doc added): another id in the same subject. */
        char json2[2048];
        snprintf(json2, sizeof json2, "{\"doc\":\"v2\",%s", schema_json + 1);
        const char *conf2[] = {
            "schema.registry.url", "mock://", "topic", "orders", "schema", json2, NULL};
        if (!(second = rill_serde_avro_new(conf2, registry, err, sizeof err))) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        second_schema = rill_serde_avro_codec(second);
    }
    b.arena = rill_arena_new(4096);
    b.orders = calloc((size_t)b.n, sizeof *b.orders);
    b.inputs = calloc((size_t)b.n, sizeof *b.inputs);
    for (int i = 0; i < b.n; i++) {
        make_order(&b.orders[i], i);
        rill_arena_reset(b.arena);
        bool odd = second && i % 2;
        rill_buf_t v =
            b.avro ? build_avro(b.arena, odd ? second_schema : b.schema, &b.orders[i], by_name)
                   : build_json(b.arena, &b.orders[i]);
        bool is_null;
        if (rill_serde_serialize(odd ? second : b.serde, v, &b.inputs[i], &is_null, err,
                                 sizeof err)) {
            fprintf(stderr, "serialize: %s\n", err);
            return 1;
        }
    }
    if (b.mode == RESOLVE) {
        const char *rconf[] = {"schema.registry.url", "mock://", "reader.schema", reader_json,
                               NULL};
        /* The same registry: the writer's id is known to it. */
        resolving = rill_serde_avro_new(rconf, registry, err, sizeof err);
        if (!resolving) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        b.serde = resolving;
    }
    /* One record first, outside the count: the arena and the out buffer grow to size. */
    int n = b.n;
    b.n = 1;
    measured(&b);
    b.n = n;
    int64_t sum = measured(&b);
    printf("%s %s %d records: %zu bytes each (the last), checksum %lld\n", argv[1], argv[2], b.n,
           b.inputs[b.n - 1].len, (long long)sum);
    for (int i = 0; i < b.n; i++)
        rill_bytes_free(&b.inputs[i]);
    free(b.inputs);
    free(b.orders);
    rill_bytes_free(&b.out);
    rill_arena_destroy(b.arena);
    rill_serde_unref(resolving);
    rill_serde_unref(second);
    rill_serde_unref(avro);
    rill_registry_client_unref(registry);
    return 0;
}
