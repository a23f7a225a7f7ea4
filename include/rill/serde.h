/*
 * serde.h — serializers and deserializers between Kafka's bytes and the values operators see.
 *
 * A serde is an immutable, reference-counted object: built-in serdes are static and ignore
 * counting; rill_serde_new() makes a custom one. Deserialized values are views (rill_buf_t) whose
 * meaning is the serde's: bytes and string give the raw bytes (zero copy); int32, int64 and double
 * give a pointer to a native number in the record's arena; json gives a pointer to a parsed
 * document (a jansson json_t, borrowed, released when the record is done) with len 1, so a JSON
 * view is never mistaken for a number. Make JSON values with rill_json_pack(). Serdes may be used
 * from any thread.
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

typedef struct rill_serde rill_serde_t;

/* Returns a new custom serde (reference count 1) over ops and state, or NULL. ops is borrowed
 * and must outlive the serde; state is owned on success and released with ops->destroy. */
RILL_EXTERN rill_serde_t *rill_serde_new(const rill_serde_ops *ops, void *state);
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
/* JSON text parsed with jansson; the value is a json_t * (see rill_json_*). */
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
 * JSON values without a jansson type in this header: a JSON value is a void * that is a json_t *.
 * Getters return borrowed pointers or copies; rill_json_* never take ownership unless they say so.
 */
/* Returns the string member key of JSON object doc, or NULL when absent or not a string. */
RILL_EXTERN const char *rill_json_get_string(const void *doc, const char *key);
/* Returns the integer member key of doc in *out: 0, or RILL_ENOENT when absent or not a number. */
RILL_EXTERN int rill_json_get_int(const void *doc, const char *key, int64_t *out);
/* Returns the number member key of doc in *out (integer or real): 0 or RILL_ENOENT. */
RILL_EXTERN int rill_json_get_double(const void *doc, const char *key, double *out);
/* Writes doc as compact JSON text into buf (NUL-terminated; cut short with "..." when it does
 * not fit). Returns 0 or a negative code. */
RILL_EXTERN int rill_json_format(const void *doc, char *buf, size_t size);
/* Returns a view of a new JSON document parsed from fmt (jansson's json_pack format), owned by
 * arena (released at its reset), or a null view on failure. */
RILL_EXTERN rill_buf_t rill_json_pack(rill_arena_t *arena, const char *fmt, ...);

#ifdef __cplusplus
}
#endif
#endif
