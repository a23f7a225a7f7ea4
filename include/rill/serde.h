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

#ifdef __cplusplus
}
#endif
#endif
