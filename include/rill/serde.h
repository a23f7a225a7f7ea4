/*
 * serde.h — serializers and deserializers between Kafka's bytes and the values operators see.
 *
 * A serde is an immutable, reference-counted object: built-in serdes are static and ignore
 * counting; rill_serde_new() makes a custom one. Deserialized values are views (rill_buf_t) whose
 * meaning is the serde's: bytes and string give the raw bytes (zero copy); int32, int64 and double
 * give a pointer to a native number in the record's arena; json gives a pointer to a JSON value
 * (an opaque rill_json_t in the arena, borrowed, released when the record is done) with len 1,
 * so a JSON value is never mistaken for a number. Read JSON values with rill_json_get_*(), edit
 * them with rill_json_set_*(), make new ones with a rill_json_writer_t or rill_json_pack().
 * Serdes may be used from any thread.
 */
#ifndef RILL_SERDE_H
#define RILL_SERDE_H

#include <rill/rill.h>
#include <rill/schema.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A growable byte buffer that a serializer appends to. The owner frees data with rill_free(). */
typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
} rill_bytes_t;

/* Appends len bytes to b, growing it; returns 0 or RILL_ENOMEM. */
RILL_EXTERN int rill_bytes_append(rill_bytes_t *b, const void *data, size_t len);
/* Frees b's memory and empties it. */
RILL_EXTERN void rill_bytes_free(rill_bytes_t *b);

/*
 * What a serde may know of the record whose key or value it reads or writes, for the serdes that
 * need more than the bytes: a schema registry's serde names its subject after the topic, a
 * CloudEvents serde reads and writes headers. Sources and sinks pass it; a state store passes
 * topic NULL. For serialize, headers holds the output record's headers on entry, and a serde may
 * set it to new ones made in arena (they replace the output's).
 */
typedef struct {
    const char *topic;             /* the record's topic; NULL for a state store's bytes */
    bool is_key;                   /* the key's serde, not the value's */
    const rill_headers_t *headers; /* the record's headers (NULL: none) */
    rill_arena_t *arena;           /* serialize: where new headers live */
} rill_serde_ctx_t;

/*
 * The operations of a serde. serialize appends the encoding of value to out (out is emptied by
 * the caller) and sets *is_null when the value is null (a tombstone). deserialize decodes bytes
 * (data NULL for a null) into *value, allocating in arena when it must; on failure it returns
 * RILL_ESERDE and writes the reason, with the byte position where it applies, into errstr.
 */
typedef struct rill_serde_ops {
    const char *name;
    int (*serialize)(void *state, rill_buf_t value, rill_bytes_t *out, bool *is_null, char *errstr,
                     size_t errstr_size);
    int (*deserialize)(void *state, rill_buf_t bytes, rill_arena_t *arena, rill_buf_t *value,
                       char *errstr, size_t errstr_size);
    void (*destroy)(void *state);
} rill_serde_ops;

/* The operations of a serde that needs its record (rill_serde_new_ctx): called instead of the
 * plain ones where the record is known (sources, sinks); the plain ones serve the rest. */
typedef struct rill_serde_ctx_ops {
    int (*serialize)(void *state, rill_serde_ctx_t *ctx, rill_buf_t value, rill_bytes_t *out,
                     bool *is_null, char *errstr, size_t errstr_size);
    int (*deserialize)(void *state, const rill_serde_ctx_t *ctx, rill_buf_t bytes,
                       rill_arena_t *arena, rill_buf_t *value, char *errstr, size_t errstr_size);
} rill_serde_ctx_ops;

typedef struct rill_serde rill_serde_t;

/* Returns a new custom serde (reference count 1) over ops and state, or NULL. ops is borrowed
 * and must outlive the serde; state is owned on success and released with ops->destroy. */
RILL_EXTERN rill_serde_t *rill_serde_new(const rill_serde_ops *ops, void *state);
/* rill_serde_new() for a serde that also has ctx_ops (borrowed, outliving the serde; either of
 * its functions may be NULL). */
RILL_EXTERN rill_serde_t *rill_serde_new_ctx(const rill_serde_ops *ops,
                                             const rill_serde_ctx_ops *ctx_ops, void *state);
/* Takes a reference on serde and returns it. NULL is fine. */
RILL_EXTERN rill_serde_t *rill_serde_ref(rill_serde_t *serde);
/* Drops a reference; the last one destroys the serde. NULL is fine. */
RILL_EXTERN void rill_serde_unref(rill_serde_t *serde);
/* Returns the serde's name ("string", "json", ...), borrowed. */
RILL_EXTERN const char *rill_serde_name(const rill_serde_t *serde);
/* Serializes value into out (emptied first); sets *is_null for a null. 0 or RILL_ESERDE. */
RILL_EXTERN int rill_serde_serialize(const rill_serde_t *serde, rill_buf_t value, rill_bytes_t *out,
                                     bool *is_null, char *errstr, size_t errstr_size);
/* Deserializes bytes into *value (see the header comment for what a value is). 0 or RILL_ESERDE. */
RILL_EXTERN int rill_serde_deserialize(const rill_serde_t *serde, rill_buf_t bytes,
                                       rill_arena_t *arena, rill_buf_t *value, char *errstr,
                                       size_t errstr_size);
/* rill_serde_serialize() for a record ctx says (may be NULL): a serde may replace ctx->headers. */
RILL_EXTERN int rill_serde_serialize_ctx(const rill_serde_t *serde, rill_serde_ctx_t *ctx,
                                         rill_buf_t value, rill_bytes_t *out, bool *is_null,
                                         char *errstr, size_t errstr_size);
/* rill_serde_deserialize() for a record ctx says (may be NULL). */
RILL_EXTERN int rill_serde_deserialize_ctx(const rill_serde_t *serde, const rill_serde_ctx_t *ctx,
                                           rill_buf_t bytes, rill_arena_t *arena, rill_buf_t *value,
                                           char *errstr, size_t errstr_size);

/* Serializes text, a value written as people write it (a string or bytes as they are, an
 * integer or a double in decimal, JSON as JSON text), with serde into out (emptied first): for
 * the serdes bytes, string, int32, int64, double and json. 0, or RILL_EINVAL with the reason
 * (the text, the serde) in errstr. Not for the hot path (it may allocate). */
RILL_EXTERN int rill_serde_from_text(const rill_serde_t *serde, const char *text, rill_bytes_t *out,
                                     char *errstr, size_t errstr_size);
/* Appends bytes, serialized with serde (data NULL: a null), to out as JSON: a string, a number
 * (a double that is not finite as the string "NaN" or "Infinity"), JSON and JSON Schema values
 * as their text, Avro values in Avro's JSON encoding without union wrappers, bytes and a custom
 * serde's bytes as a base64 string. 0, RILL_ESERDE (the bytes do not read: why in errstr) or
 * RILL_ENOMEM. Not for the hot path. */
RILL_EXTERN int rill_serde_to_json(const rill_serde_t *serde, rill_buf_t bytes, rill_bytes_t *out,
                                   char *errstr, size_t errstr_size);

/*
 * Windowed keys. A windowed aggregation's output key is a view of a rill_windowed_t (len is
 * sizeof(rill_windowed_t)): the inner key as its own serde decoded it, and the window's bounds.
 * Time windows cover [start, end); session windows [start, end] (both ends inclusive).
 */
typedef struct {
    rill_buf_t key;
    int64_t start;
    int64_t end;
} rill_windowed_t;

/* Returns a new serde of time-windowed keys over inner (referenced): the inner key's bytes then
 * the start as 8 bytes big-endian, as Kafka Streams' TimeWindowedSerde writes them; end is start
 * + window_size_ms when read back. NULL on bad arguments or out of memory. */
RILL_EXTERN rill_serde_t *rill_serde_time_windowed(rill_serde_t *inner, int64_t window_size_ms);
/* Returns a new serde of session-windowed keys over inner: the inner key's bytes, then end and
 * start (8 bytes big-endian each), as Kafka Streams' SessionWindowedSerde writes them. */
RILL_EXTERN rill_serde_t *rill_serde_session_windowed(rill_serde_t *inner);
/* Returns a view of a new rill_windowed_t in arena holding key, start and end. */
RILL_EXTERN rill_buf_t rill_arena_windowed(rill_arena_t *arena, rill_buf_t key, int64_t start,
                                           int64_t end);
/* Prints a windowed key as Kafka Streams' Windowed.toString does, "[key@start/end]", into buf
 * (always NUL-terminated); the inner key is printed with inner's rules (strings as text, numbers
 * in decimal, JSON compact, other bytes as hex). Returns the length it needed, like snprintf. */
RILL_EXTERN int rill_windowed_format(const rill_windowed_t *w, const rill_serde_t *inner, char *buf,
                                     size_t size);

/*
 * CloudEvents 1.0 in Kafka records (the spec's Kafka protocol binding). A value is a view of a
 * rill_cloudevent_t (len is its size): the attributes as C strings (NULL when absent), the
 * extensions (other attributes, as name and string value), and the data as the data serde
 * decoded it. The serde reads both modes (structured: content-type application/cloudevents+json
 * and the event as JSON; binary: ce_ headers and the data as the value) and writes the one it
 * was made with; an event without id, source, type or specversion 1.0 is refused, naming the
 * attribute. Binary mode is written only by a sink (its attributes become headers).
 */
typedef struct {
    const char *specversion, *id, *source, *type; /* required */
    const char *subject, *time, *dataschema, *datacontenttype;
    const rill_header_t *extensions; /* name (without ce_) and value, NUL-terminated */
    size_t extension_count;
    rill_buf_t data; /* as the data serde reads it; a null view: no data */
} rill_cloudevent_t;

typedef enum { RILL_CLOUDEVENTS_BINARY, RILL_CLOUDEVENTS_STRUCTURED } rill_cloudevents_mode_t;

/* Returns a new CloudEvents serde over data (referenced), writing mode; NULL on bad arguments. */
RILL_EXTERN rill_serde_t *rill_serde_cloudevents(rill_serde_t *data, rill_cloudevents_mode_t mode);
/* Returns the value of extension name of ev (partitionkey, traceparent...), or NULL. */
RILL_EXTERN const char *rill_cloudevent_extension(const rill_cloudevent_t *ev, const char *name);

/* Built-in serdes: static, borrowed, never freed. */
RILL_EXTERN rill_serde_t *rill_serde_bytes(void);
/* UTF-8 text; deserialize checks the encoding and names the first bad byte. */
RILL_EXTERN rill_serde_t *rill_serde_string(void);
/* 4-byte big-endian two's complement, as Kafka's IntegerSerializer. */
RILL_EXTERN rill_serde_t *rill_serde_int32(void);
/* 8-byte big-endian two's complement, as Kafka's LongSerializer. */
RILL_EXTERN rill_serde_t *rill_serde_int64(void);
/* 8-byte big-endian IEEE 754, as Kafka's DoubleSerializer. */
RILL_EXTERN rill_serde_t *rill_serde_double(void);
/* JSON text, validated when read; the value is a rill_json_t * (see rill_json_*). */
RILL_EXTERN rill_serde_t *rill_serde_json(void);
/* Returns the built-in serde called name ("bytes", "string", "int32", "int64", "double",
 * "json"), or NULL. */
RILL_EXTERN rill_serde_t *rill_serde_by_name(const char *name);

/* Reads the native int32 of a value made by the int32 serde (0 for a null). */
static inline int32_t rill_value_i32(rill_buf_t v)
{
    int32_t x = 0;
    if (v.data && v.len == sizeof x)
        memcpy(&x, v.data, sizeof x);
    return x;
}
/* Reads the native int64 of a value made by the int64 serde (0 for a null). */
static inline int64_t rill_value_i64(rill_buf_t v)
{
    int64_t x = 0;
    if (v.data && v.len == sizeof x)
        memcpy(&x, v.data, sizeof x);
    return x;
}
/* Reads the native double of a value made by the double serde (0 for a null). */
static inline double rill_value_double(rill_buf_t v)
{
    double x = 0;
    if (v.data && v.len == sizeof x)
        memcpy(&x, v.data, sizeof x);
    return x;
}

/* Encodes v as the int32 serde's 4 big-endian bytes into out. */
RILL_EXTERN void rill_encode_i32(uint8_t out[4], int32_t v);
/* Encodes v as the int64 serde's 8 big-endian bytes into out. */
RILL_EXTERN void rill_encode_i64(uint8_t out[8], int64_t v);
/* Decodes 8 big-endian bytes into an int64. */
RILL_EXTERN int64_t rill_decode_i64(const uint8_t in[8]);

/*
 * JSON values. A JSON value is a view {rill_json_t *, 1} made by the json serde, a writer, an
 * edit or rill_json_pack(); it lives in the arena it was made in and is valid until that
 * arena's reset. It holds the value's JSON text and, once a member is read, an index of its
 * top-level members (made on first use; values of the json serde have it from the parse), so a
 * read is a scan of the member names and no tree is built. Reading caches into the value, so a
 * value belongs to one thread. Getters take the view's data (NULL is fine: no members) and
 * return borrowed pointers or copies; nothing here takes ownership. When a key occurs twice the
 * last one counts, as in jansson and Jackson.
 */
typedef struct rill_json rill_json_t;

/* The type of a JSON value. A number is an INTEGER when written without fraction or exponent
 * and it fits in int64; any other number is a REAL. */
typedef enum {
    RILL_JSON_NULL,
    RILL_JSON_FALSE,
    RILL_JSON_TRUE,
    RILL_JSON_INTEGER,
    RILL_JSON_REAL,
    RILL_JSON_STRING,
    RILL_JSON_ARRAY,
    RILL_JSON_OBJECT,
} rill_json_type_t;

/* Parses len bytes of JSON text (any value, not only objects) into *out, a value in arena (the
 * text is copied). Returns 0, RILL_ESERDE with the byte offset, line and column of the error in
 * errstr, RILL_ENOMEM or RILL_EINVAL. This is what the json serde's deserialize does. */
RILL_EXTERN int rill_json_parse(rill_arena_t *arena, const void *text, size_t len, rill_buf_t *out,
                                char *errstr, size_t errstr_size);
/* Returns the type of JSON value doc, or a negative code (RILL_EINVAL for NULL). */
RILL_EXTERN int rill_json_type(const void *doc);
/* Returns a view of doc's JSON text as it was made (a parsed value's input, with its
 * whitespace; an edited value's text before the edit), borrowed from doc's arena. */
RILL_EXTERN rill_buf_t rill_json_text(const void *doc);
/* Returns the string member key of JSON object doc, NUL-terminated in doc's arena (made once),
 * or NULL when absent or not a string. */
RILL_EXTERN const char *rill_json_get_string(const void *doc, const char *key);
/* Sets *out to a view of the string member key of doc, unescaped: zero copy when the text has
 * no escapes in it, else unescaped once into doc's arena. 0, RILL_ENOENT or RILL_EINVAL. */
RILL_EXTERN int rill_json_get_str(const void *doc, const char *key, rill_buf_t *out);
/* Returns the integer member key of doc in *out: 0, or RILL_ENOENT when absent or not a number. */
RILL_EXTERN int rill_json_get_int(const void *doc, const char *key, int64_t *out);
/* Returns the number member key of doc in *out (integer or real): 0 or RILL_ENOENT. */
RILL_EXTERN int rill_json_get_double(const void *doc, const char *key, double *out);
/* Returns the boolean member key of doc in *out: 0, or RILL_ENOENT when absent or not a bool. */
RILL_EXTERN int rill_json_get_bool(const void *doc, const char *key, bool *out);
/* Sets *out to the member key of doc as a JSON value of its own (any type; objects can be read
 * with these getters), made in doc's arena. 0, RILL_ENOENT, RILL_ENOMEM or RILL_EINVAL. */
RILL_EXTERN int rill_json_get(const void *doc, const char *key, rill_buf_t *out);
/* Returns how many members JSON object doc has (0 for any other value). */
RILL_EXTERN size_t rill_json_member_count(const void *doc);
/* Sets *key to the name of member i of object doc (as written, escapes kept, borrowed) and
 * *value to its value (a value of its own in doc's arena). 0, RILL_ENOENT past the end,
 * RILL_ENOMEM or RILL_EINVAL. */
RILL_EXTERN int rill_json_member_at(const void *doc, size_t i, rill_buf_t *key, rill_buf_t *value);
/* Writes doc as compact JSON text into buf (NUL-terminated; cut short with "..." when it does
 * not fit). Returns 0 or a negative code. */
RILL_EXTERN int rill_json_format(const void *doc, char *buf, size_t size);
/* Returns the JSON text of len bytes indented by two spaces (members in their order), a new
 * string (rill_free), or NULL when it is not JSON (or out of memory). */
RILL_EXTERN char *rill_json_pretty(const void *text, size_t len);

/*
 * Edits. Each returns a new value in arena: doc (unchanged, still valid) with member key's value
 * replaced where it stands, or added at the end when doc has no such member; the rest of doc's
 * text is shared, not copied. A null view when doc is not an object or memory runs out.
 */
/* doc with member key set to the integer v. */
RILL_EXTERN rill_buf_t rill_json_set_int(rill_arena_t *arena, const void *doc, const char *key,
                                         int64_t v);
/* doc with member key set to the string s of len bytes (escaped as the writer does). */
RILL_EXTERN rill_buf_t rill_json_set_str(rill_arena_t *arena, const void *doc, const char *key,
                                         const char *s, size_t len);
/* doc with member key set to the JSON value value (a view as the json serde makes). */
RILL_EXTERN rill_buf_t rill_json_set(rill_arena_t *arena, const void *doc, const char *key,
                                     rill_buf_t value);

/*
 * A writer: builds compact JSON text straight into an arena, no tree. Put it on the stack,
 * rill_json_writer_init(), then write values; inside an object, each value follows its key.
 * Commas and colons are the writer's. Errors (out of memory, a misplaced call) are kept and
 * reported once by rill_json_writer_finish(). The fields are private.
 */
typedef struct {
    rill_arena_t *arena;
    char *buf;
    size_t len, cap;
    uint64_t objects; /* bit i: the container at depth i + 1 is an object */
    int depth;
    bool comma; /* the next key or element needs a comma first */
    int err;
} rill_json_writer_t;

/* Starts an empty writer whose text will live in arena. */
RILL_EXTERN void rill_json_writer_init(rill_json_writer_t *w, rill_arena_t *arena);
/* Opens an object. */
RILL_EXTERN void rill_json_write_object(rill_json_writer_t *w);
/* Opens an array. */
RILL_EXTERN void rill_json_write_array(rill_json_writer_t *w);
/* Closes the innermost open object or array. */
RILL_EXTERN void rill_json_write_end(rill_json_writer_t *w);
/* Writes an object member's key (a C string, escaped as needed); its value comes next. */
RILL_EXTERN void rill_json_write_key(rill_json_writer_t *w, const char *key);
/* Writes an integer. */
RILL_EXTERN void rill_json_write_int(rill_json_writer_t *w, int64_t v);
/* Writes a real in the shortest form that reads back the same (NaN and infinities fail). */
RILL_EXTERN void rill_json_write_double(rill_json_writer_t *w, double v);
/* Writes len bytes of UTF-8 as a JSON string: '"', '\\' and control characters escaped. */
RILL_EXTERN void rill_json_write_str(rill_json_writer_t *w, const char *s, size_t len);
/* Writes true or false. */
RILL_EXTERN void rill_json_write_bool(rill_json_writer_t *w, bool v);
/* Writes null. */
RILL_EXTERN void rill_json_write_null(rill_json_writer_t *w);
/* Writes the JSON value value (a view as the json serde makes), compact. */
RILL_EXTERN void rill_json_write_value(rill_json_writer_t *w, rill_buf_t value);
/* Ends the writing: returns the JSON value written (a view as the json serde makes, in the
 * writer's arena), or a null view when a call failed or an object or array is still open. */
RILL_EXTERN rill_buf_t rill_json_writer_finish(rill_json_writer_t *w);

/* Returns a view of a new JSON value made from fmt (jansson's json_pack format), in arena, or a
 * null view on failure (logged, naming fmt). Slower than a writer: for values made by hand. */
RILL_EXTERN rill_buf_t rill_json_pack(rill_arena_t *arena, const char *fmt, ...);

/*
 * ---- Avro (serde/avro_*.c) and the schema registry client (serde/registry_client.c) ----
 *
 * The Avro serde speaks Confluent's wire format: byte 0 is the magic 0, bytes 1-4 the schema id
 * (big-endian), then the Avro binary body. A deserialized value is a view {rill_avro_value_t *,
 * 2} (len 2 marks an Avro value, as len 1 marks a JSON one) of a tree in the record's arena:
 * strings, bytes and fixed point into the input bytes (zero copy), unions are resolved to
 * their branch. Read it with rill_avro_get_*() by path: field names separated by '.', a map's
 * key in place of a field name, "[n]" after a segment for the n-th element of an array or map
 * or the n-th field of a record ("address.zip", "lines[2].sku", "attrs.color", "[0]": by index,
 * no name is compared); NULL or "" is the value itself. Build a value to
 * serialize with rill_avro_record_new() and the rill_avro_set_*() calls, which check each value
 * against the schema. Values are borrowed from their arena and belong to one thread; schemas and
 * the registry client may be shared by threads.
 */
typedef struct rill_avro_codec rill_avro_codec_t;
typedef struct rill_avro_value rill_avro_value_t;
typedef struct rill_registry_client rill_registry_client_t;

/* The Avro types: rill_avro_type_t, from <rill/schema.h>. */

/* Parses len bytes of an Avro schema's JSON (avro-c's parser) into a new schema (reference
 * count 1), or NULL with the reason in errstr. */
RILL_EXTERN rill_avro_codec_t *rill_avro_codec_new(const char *json, size_t len, char *errstr,
                                                   size_t errstr_size);
/* Takes a reference on schema and returns it (NULL is fine). @thread any */
RILL_EXTERN rill_avro_codec_t *rill_avro_codec_ref(rill_avro_codec_t *schema);
/* Drops a reference; the last one frees the schema (NULL is fine). @thread any */
RILL_EXTERN void rill_avro_codec_unref(rill_avro_codec_t *schema);
/* Returns the full name of the schema's top type ("com.acme.Order"; "long" for a primitive),
 * borrowed from the schema. */
RILL_EXTERN const char *rill_avro_codec_name(const rill_avro_codec_t *schema);
/* Returns the schema's JSON text as it was given, borrowed from the schema. */
RILL_EXTERN const char *rill_avro_codec_text(const rill_avro_codec_t *schema);

/* Returns the value at path under v (see above), borrowed, or NULL when there is none. */
RILL_EXTERN const rill_avro_value_t *rill_avro_get(const void *v, const char *path);
/* Returns the type of the value at path (rill_avro_type_t), or RILL_ENOENT / RILL_EINVAL. */
RILL_EXTERN int rill_avro_type(const void *v, const char *path);
/* Returns the union branch index that the value at path was written with, or -1 when it is not
 * a union's; RILL_ENOENT when there is no such value. */
RILL_EXTERN int rill_avro_branch(const void *v, const char *path);
/* Reads an int or long at path into *out: 0, or RILL_ENOENT when absent or of another type. */
RILL_EXTERN int rill_avro_get_int(const void *v, const char *path, int64_t *out);
/* Reads a float, double, int or long at path into *out: 0 or RILL_ENOENT. */
RILL_EXTERN int rill_avro_get_double(const void *v, const char *path, double *out);
/* Reads a boolean at path into *out: 0 or RILL_ENOENT. */
RILL_EXTERN int rill_avro_get_bool(const void *v, const char *path, bool *out);
/* Sets *out to a view of the string, bytes or fixed at path (zero copy: into the record's
 * bytes), or of an enum's symbol (borrowed from the schema): 0 or RILL_ENOENT. */
RILL_EXTERN int rill_avro_get_str(const void *v, const char *path, rill_buf_t *out);
/* Reads the enum at path: its symbol's index into *index (may be NULL) and returns the symbol,
 * NUL-terminated and borrowed from the schema; NULL when absent or not an enum. */
RILL_EXTERN const char *rill_avro_get_enum(const void *v, const char *path, int *index);
/* Returns 1 when the value at path is null, 0 when it is something else, RILL_ENOENT. */
RILL_EXTERN int rill_avro_is_null(const void *v, const char *path);
/* Sets *n to the number of elements of the array, entries of the map or fields of the record
 * at path: 0 or RILL_ENOENT. */
RILL_EXTERN int rill_avro_len(const void *v, const char *path, size_t *n);
/* Returns the i-th element of array v, value of map v or field of record v, or NULL. */
RILL_EXTERN const rill_avro_value_t *rill_avro_at(const void *v, size_t i);
/* Sets *key to the i-th key of map v (or the i-th field name of record v), borrowed: 0,
 * RILL_ENOENT. */
RILL_EXTERN int rill_avro_key_at(const void *v, size_t i, rill_buf_t *key);

/* Returns a view of a new, empty record of schema (a record schema) in arena, to fill with the
 * rill_avro_set_*() calls and serialize; the schema is borrowed and must outlive the arena's
 * contents. A null view when schema is not a record or memory runs out. */
RILL_EXTERN rill_buf_t rill_avro_record_new(rill_arena_t *arena, const rill_avro_codec_t *schema);
/* The setters: each sets the value at path under record (a view's data, made by
 * rill_avro_record_new() or the serde) and checks it against the schema; a union takes the
 * first branch that accepts the value. Nested records are made as their path is first set; a
 * field left unset is written as its schema default, or null when its union has a null branch.
 * Return 0, RILL_ENOENT (no such field), RILL_ESERDE (wrong type or out of range: the message,
 * naming the field's path, is kept in the record and given by rill_avro_error() and by
 * serialize) or RILL_ENOMEM. */
/* Sets an int or long (range checked), or a float or double, to v. */
RILL_EXTERN int rill_avro_set_int(void *record, const char *path, int64_t v);
/* Sets a float or double to v. */
RILL_EXTERN int rill_avro_set_double(void *record, const char *path, double v);
/* Sets a boolean to v. */
RILL_EXTERN int rill_avro_set_bool(void *record, const char *path, bool v);
/* Sets a string, bytes, fixed (len must be its size) or enum (s must be a symbol) to len bytes
 * of s, not copied: they must outlive the arena's contents. */
RILL_EXTERN int rill_avro_set_str(void *record, const char *path, const void *s, size_t len);
/* Sets the value at path to null (a null, or a union's null branch). */
RILL_EXTERN int rill_avro_set_null(void *record, const char *path);
/* Makes the value at path an empty record (picking a union's record branch). */
RILL_EXTERN int rill_avro_set_record(void *record, const char *path);
/* Makes the value at path an array of n unset elements, set next as "path[i]". */
RILL_EXTERN int rill_avro_set_array(void *record, const char *path, size_t n);
/* Makes the value at path a map of n entries, whose keys are set with rill_avro_set_key() and
 * whose values as "path[i]". */
RILL_EXTERN int rill_avro_set_map(void *record, const char *path, size_t n);
/* Sets the key of the map entry at path ("path[i]") to len bytes of key (not copied). */
RILL_EXTERN int rill_avro_set_key(void *record, const char *path, const char *key, size_t len);
/* Returns the first error a setter met on record, borrowed, or NULL. */
RILL_EXTERN const char *rill_avro_error(const void *record);
/* Writes v as JSON text (Avro's JSON encoding without union wrappers) into buf, NUL-terminated
 * and cut short with "..." when it does not fit; returns 0 or a negative code. For logs and
 * tests, not the hot path. */
RILL_EXTERN int rill_avro_format(const void *v, char *buf, size_t size);

/*
 * The Avro serde. conf is a NULL-terminated array of key, value strings, named as Confluent's
 * serializers name them:
 *   schema.registry.url      the registry's base URL; "mock://" for an in-process registry
 *   basic.auth.user.info     "user:password" for HTTP basic auth
 *   auto.register.schemas    true (default): serialize registers the writer schema
 *   use.latest.version       false (default): true serializes with the subject's latest schema
 *   subject.name.strategy    TopicNameStrategy (default: "<topic>-key" or "<topic>-value"),
 *                            RecordNameStrategy ("<full name>"), TopicRecordNameStrategy
 *                            ("<topic>-<full name>"); Confluent's Java class names work too
 * and Rill's own: schema (the writer schema's JSON, needed to serialize unless
 * use.latest.version), topic and is.key (for the topic strategies: a serde is made for one topic
 * and side), reader.schema (values are read as this schema by the Avro specification's
 * resolution rules: fields matched by name or alias, defaults for missing ones, promotions, enum
 * defaults; a writer schema it cannot read fails each record naming the field). registry, when not
 * NULL, is used (referenced) instead of one made from the URL, so serdes share its cache. Returns a
 * new serde, or NULL with the culprit named in errstr. Serialize takes a view made by
 * rill_avro_record_new() or by this or another Avro serde (written with its own schema, registered
 * in this serde's subject); deserialize looks the writer schema up by id once and caches it, so
 * a known id costs no request (an unknown one is asked for again on each record).
 */
RILL_EXTERN rill_serde_t *rill_serde_avro_new(const char *const *conf,
                                              rill_registry_client_t *registry, char *errstr,
                                              size_t errstr_size);
/*
 * The JSON Schema serde: JSON values (the json serde's, read with rill_json_*) in Confluent's
 * JSON Schema wire format (magic 0, the schema id, the JSON text). conf as the Avro serde's
 * (schema.registry.url, basic.auth.user.info, auto.register.schemas, use.latest.version, topic,
 * is.key; the subject is "<topic>-key" or "<topic>-value", the topic the sink's), and schema:
 * the JSON Schema values are written with (validated against it; registered once per topic).
 * Reading validates each document against its writer's schema, fetched by id once. A document
 * that does not validate fails naming the schema id, the instance path and the keyword.
 */
RILL_EXTERN rill_serde_t *rill_serde_json_schema_new(const char *const *conf,
                                                     rill_registry_client_t *registry, char *errstr,
                                                     size_t errstr_size);
/* Returns the writer schema of an Avro serde (fetched on first use with use.latest.version),
 * borrowed from the serde, or NULL when it has none or serde is not an Avro serde. */
RILL_EXTERN const rill_avro_codec_t *rill_serde_avro_codec(const rill_serde_t *serde);

/*
 * The schema registry client: Confluent Schema Registry's REST API over libcurl, with a cache by
 * id and by (subject, schema text) so a schema costs one request per process. Schema texts it
 * returns are borrowed from the client and live as long as it. All calls may block on the
 * network (never call them per record: the serdes cache); the client is reference counted and
 * may be used from any thread (one request at a time).
 */
/* Returns a new client (reference count 1) for the registry at url ("http(s)://host:port", or
 * "mock://" for an in-process registry that assigns ids itself, for tests), with basic auth
 * when user_info ("user:password") is not NULL; NULL with the reason in errstr. */
RILL_EXTERN rill_registry_client_t *rill_registry_client_new(const char *url, const char *user_info,
                                                             char *errstr, size_t errstr_size);
/* Takes a reference on registry and returns it (NULL is fine). @thread any */
RILL_EXTERN rill_registry_client_t *rill_registry_client_ref(rill_registry_client_t *registry);
/* Drops a reference; the last one frees the client (NULL is fine). @thread any */
RILL_EXTERN void rill_registry_client_unref(rill_registry_client_t *registry);
/* Sets *schema to the text of schema id (GET /schemas/ids/{id}), borrowed. 0, RILL_ENOENT
 * (40403), RILL_EIO (transport or server error), RILL_ESERDE; errstr says which. @thread any */
RILL_EXTERN int rill_registry_client_schema(rill_registry_client_t *registry, int32_t id,
                                            const char **schema, char *errstr, size_t errstr_size);
/* Registers schema under subject (POST /subjects/{s}/versions) and sets *id. 0 or a negative
 * code with the registry's error_code and message in errstr. @thread any */
RILL_EXTERN int rill_registry_client_register(rill_registry_client_t *registry, const char *subject,
                                              const char *schema, int32_t *id, char *errstr,
                                              size_t errstr_size);
/* Looks schema up under subject (POST /subjects/{s}): sets *id and *version (either may be
 * NULL). 0, RILL_ENOENT (40401 subject, 40403 schema not found) or another code. @thread any */
RILL_EXTERN int rill_registry_client_lookup(rill_registry_client_t *registry, const char *subject,
                                            const char *schema, int32_t *id, int32_t *version,
                                            char *errstr, size_t errstr_size);
/* Fetches subject's latest version (GET /subjects/{s}/versions/latest): *id, *version (may be
 * NULL) and *schema (borrowed). Not cached: each call is a request. @thread any */
RILL_EXTERN int rill_registry_client_latest(rill_registry_client_t *registry, const char *subject,
                                            int32_t *id, int32_t *version, const char **schema,
                                            char *errstr, size_t errstr_size);
/* rill_registry_client_schema() for a schema of type ("AVRO", "JSON"): another type is
 * RILL_ESERDE, naming both. @thread any */
RILL_EXTERN int rill_registry_client_schema_of_type(rill_registry_client_t *registry, int32_t id,
                                                    const char *type, const char **schema,
                                                    char *errstr, size_t errstr_size);
/* rill_registry_client_register() of a schema of type ("AVRO", "JSON"). @thread any */
RILL_EXTERN int rill_registry_client_register_type(rill_registry_client_t *registry,
                                                   const char *subject, const char *type,
                                                   const char *schema, int32_t *id, char *errstr,
                                                   size_t errstr_size);
/* rill_registry_client_lookup() of a schema of type ("AVRO", "JSON"). @thread any */
RILL_EXTERN int rill_registry_client_lookup_type(rill_registry_client_t *registry,
                                                 const char *subject, const char *type,
                                                 const char *schema, int32_t *id, int32_t *version,
                                                 char *errstr, size_t errstr_size);
/* Sets *version to the version that schema id has in subject (GET /schemas/ids/{id}/versions,
 * cached). 0, RILL_ENOENT (id unknown or not in subject) or another code. @thread any */
RILL_EXTERN int rill_registry_client_version_of(rill_registry_client_t *registry,
                                                const char *subject, int32_t id, int32_t *version,
                                                char *errstr, size_t errstr_size);
/* Returns how many HTTP requests the client has made (for tests and metrics). @thread any */
RILL_EXTERN uint64_t rill_registry_client_requests(const rill_registry_client_t *registry);

/*
 * Upcasting (docs/schemas.md, "Upcasters"): a serde over an inner one that reads values written
 * with any version of their schema and hands processors one shape, the current version's.
 * Versions count from 1. An upcaster maps a value of version v, as the inner serde decoded it,
 * to a value of version v + 1 made in arena; a record of version v goes through the upcasters
 * of v, v + 1, ... up to current. A record's version is, by the option set (exactly one):
 *   registry        the version its writer schema has in subject (the Confluent wire format's
 *                   schema id, looked up once per id and then cached without a lock);
 *   version_header  the decimal value of that header (default_version when absent, if not 0);
 *   version_of      a function of the caller's.
 * A version newer than current, older than the oldest upcaster's, or unknown fails the record
 * naming its version and topic, so the deserialization handler (and the dead letter queue)
 * gets it. Serialize writes with the inner serde, unchanged: values are of the current version.
 */
typedef int (*rill_upcast_fn)(void *ud, rill_arena_t *arena, rill_buf_t value, rill_buf_t *out,
                              char *errstr, size_t errstr_size);
/* Sets *version to the version of the record of bytes (ctx may be NULL); 0 or an error code. */
typedef int (*rill_version_fn)(void *ud, const rill_serde_ctx_t *ctx, rill_buf_t bytes,
                               int32_t *version, char *errstr, size_t errstr_size);

typedef struct {
    int32_t from; /* maps values of this version to version from + 1 */
    rill_upcast_fn fn;
    void *ud;
} rill_upcaster_t;

typedef struct {
    int32_t current;                  /* the version processors see (>= 1) */
    const rill_upcaster_t *upcasters; /* one per version below current, any order; copied */
    size_t upcaster_count;
    rill_registry_client_t *registry; /* referenced */
    const char *subject;              /* with registry; NULL: "<topic>-value" ("-key" for keys) */
    const char *version_header;       /* copied */
    int32_t default_version;          /* with version_header: a record without it; 0: fails */
    rill_version_fn version_of;
    void *version_ud;
} rill_upcast_opts_t;

/* Returns a new upcasting serde over inner (referenced), or NULL with the culprit in errstr (a
 * missing or doubled upcaster, no version source or two). */
RILL_EXTERN rill_serde_t *rill_serde_upcasting(rill_serde_t *inner, const rill_upcast_opts_t *opts,
                                               char *errstr, size_t errstr_size);

#ifdef __cplusplus
}
#endif
#endif
