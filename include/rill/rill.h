/*
 * rill.h — the vocabulary every Rill layer shares: error codes, byte views, records and their
 * headers, the allocator hook, logging and the version.
 *
 * Ownership: a record handed to a callback is borrowed for the duration of that call, and so are
 * the views and headers it points to. Nothing here allocates except through the allocator hook.
 * Thread safety: everything in this header may be called from any thread, except
 * rill_set_allocator() and rill_set_log_cb(), which must be called before any other Rill function.
 */
#ifndef RILL_RILL_H
#define RILL_RILL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks a declaration as part of the API: librill is built with hidden visibility by default,
 * so librill.so exports exactly the functions declared with RILL_EXTERN (the list is checked
 * against include/rill/exports.txt by the "exports" test). */
#define RILL_EXTERN __attribute__((visibility("default")))

#define RILL_VERSION_MAJOR  0
#define RILL_VERSION_MINOR  1
#define RILL_VERSION_PATCH  0
#define RILL_VERSION_STRING "0.1.0"

/* Returns the version of the library linked at run time, as "MAJOR.MINOR.PATCH". */
RILL_EXTERN const char *rill_version(void);

/*
 * Error codes. Functions that can fail return 0 or one of these negative codes. The X-macro is the
 * single source of the enum, of rill_strerror() and of rill_err_name().
 */
#define RILL_ERRNO_MAP(X)                                                                          \
    X(EINVAL, -1, "invalid argument")                                                              \
    X(ENOMEM, -2, "out of memory")                                                                 \
    X(ECONFIG, -3, "invalid configuration")                                                        \
    X(ETOPOLOGY, -4, "invalid topology")                                                           \
    X(ESERDE, -5, "serialization or deserialization failed")                                       \
    X(EKAFKA, -6, "Kafka client error")                                                            \
    X(ETIMEDOUT, -7, "timed out")                                                                  \
    X(ESTATE, -8, "operation not allowed in the current state")                                    \
    X(ENOENT, -9, "no such entry")                                                                 \
    X(EEXIST, -10, "already exists")                                                               \
    X(EPROCESS, -11, "a processor reported an error")                                              \
    X(EIO, -12, "input/output error")                                                              \
    X(ECLOSED, -13, "already closed")                                                              \
    X(EUNKNOWN, -14, "unknown error")                                                              \
    X(EBUSY, -15, "in use elsewhere")

typedef enum {
#define RILL_ERR_ENUM(name, code, msg) RILL_##name = (code),
    RILL_ERRNO_MAP(RILL_ERR_ENUM)
#undef RILL_ERR_ENUM
} rill_errno_t;

/* Returns a static, human-readable description of error code err. */
RILL_EXTERN const char *rill_strerror(int err);
/* Returns the static symbolic name of error code err ("RILL_EINVAL"), or "RILL_EUNKNOWN". */
RILL_EXTERN const char *rill_err_name(int err);

/* A borrowed, immutable byte view. data may be NULL only when len is 0 (a null key or value). */
typedef struct {
    const void *data;
    size_t len;
} rill_buf_t;

/* Returns a view of the NUL-terminated string s, without its terminator. */
RILL_EXTERN rill_buf_t rill_buf_str(const char *s);

/* One record header: a name and a value view (the value may be null). */
typedef struct {
    const char *name;
    rill_buf_t value;
} rill_header_t;

/*
 * A record's headers. Records read from Kafka parse their headers only when something reads them
 * (a processor, or a sink forwarding them), so records a pipeline drops never pay for it. Read
 * them with rill_headers_count() and rill_headers_at(); make new ones with rill_arena_headers().
 * The fields are for drivers (the engine, the test driver): when load is set, the first reader
 * calls it to fill items and count.
 */
typedef struct rill_headers {
    const rill_header_t *items;
    size_t count;
    int (*load)(struct rill_headers *self);
} rill_headers_t;

/* Returns how many headers there are (0 for NULL); parses them first if needed. */
RILL_EXTERN size_t rill_headers_count(const rill_headers_t *headers);
/* Returns header i (borrowed), or NULL past the end. */
RILL_EXTERN const rill_header_t *rill_headers_at(const rill_headers_t *headers, size_t i);

/*
 * A record as operators see it. key and value are views whose meaning depends on the serde of the
 * stream (see serde.h): raw bytes for the bytes and string serdes, a pointer to a native
 * int32_t/int64_t/double for the number serdes, a pointer to a parsed JSON document for the JSON
 * serde. A view with data == NULL is a null key or value. topic, partition and offset say where the
 * record was read from (topic NULL and offset -1 for a record made by a processor).
 */
typedef struct {
    rill_buf_t key;
    rill_buf_t value;
    int64_t timestamp;             /* milliseconds since the epoch */
    const rill_headers_t *headers; /* NULL: none */
    const char *topic;
    int32_t partition;
    int64_t offset;
} rill_record_t;

/* Returns the first header of rec called name, or NULL. The result is borrowed from rec. */
RILL_EXTERN const rill_header_t *rill_record_header(const rill_record_t *rec, const char *name);

/*
 * The allocator hook: every allocation Rill itself makes goes through these three functions, so
 * tests can count allocations or fail the Nth one. Set it before any other call; NULL arguments
 * restore the C library's functions. Returns RILL_EINVAL when only some are NULL.
 */
RILL_EXTERN int rill_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                                   void (*free_fn)(void *));
/* Allocates n bytes through the hook; returns NULL on failure. */
RILL_EXTERN void *rill_malloc(size_t n);
/* Allocates n zeroed elements of size bytes through the hook; NULL on failure or overflow. */
RILL_EXTERN void *rill_calloc(size_t n, size_t size);
/* Resizes p through the hook; returns NULL on failure and leaves p untouched. */
RILL_EXTERN void *rill_realloc(void *p, size_t n);
/* Frees p (NULL is fine) through the hook. */
RILL_EXTERN void rill_free(void *p);
/* Returns a new copy of s made through the hook, or NULL. */
RILL_EXTERN char *rill_strdup(const char *s);

/*
 * A scratch arena: memory that lives until the end of one input record's processing, when the
 * task resets it. Operators and serdes put the values they make here, so the hot path never calls
 * malloc once the arena has grown to the largest record's needs.
 */
typedef struct rill_arena rill_arena_t;

/* Returns a new arena whose first chunk holds chunk_size bytes, or NULL. */
RILL_EXTERN rill_arena_t *rill_arena_new(size_t chunk_size);
/* Frees the arena and runs its deferred functions. NULL is fine. */
RILL_EXTERN void rill_arena_destroy(rill_arena_t *arena);
/* Runs the deferred functions and forgets every allocation, keeping the memory for reuse. */
RILL_EXTERN void rill_arena_reset(rill_arena_t *arena);
/* Returns n bytes aligned for any type, valid until the next reset, or NULL. */
RILL_EXTERN void *rill_arena_alloc(rill_arena_t *arena, size_t n);
/* Runs fn(p) at the next reset or destroy (to release a value the arena does not own). */
RILL_EXTERN int rill_arena_defer(rill_arena_t *arena, void (*fn)(void *), void *p);
/* Returns a view of a copy of len bytes of data in the arena (data NULL gives a null view). */
RILL_EXTERN rill_buf_t rill_arena_copy(rill_arena_t *arena, const void *data, size_t len);
/* Returns a view of the formatted text (without NUL, though one follows it) in the arena. */
RILL_EXTERN rill_buf_t rill_arena_printf(rill_arena_t *arena, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Returns headers holding a copy of the count entries of items (the names and values are not
 * copied: they must live as long as the arena's contents), or NULL. */
RILL_EXTERN const rill_headers_t *rill_arena_headers(rill_arena_t *arena,
                                                     const rill_header_t *items, size_t count);
/* Returns a view of a native int32_t holding v, as the int32 serde represents values. */
RILL_EXTERN rill_buf_t rill_arena_i32(rill_arena_t *arena, int32_t v);
/* Returns a view of a native int64_t holding v, as the int64 serde represents values. */
RILL_EXTERN rill_buf_t rill_arena_i64(rill_arena_t *arena, int64_t v);
/* Returns a view of a native double holding v, as the double serde represents values. */
RILL_EXTERN rill_buf_t rill_arena_double(rill_arena_t *arena, double v);

/* Log levels, syslog-like. NOTICE is for the few lines a user must see even when only warnings
 * are wanted (that the app runs on the embedded, in-memory cluster). */
typedef enum {
    RILL_LOG_ERROR = 3,
    RILL_LOG_WARN = 4,
    RILL_LOG_NOTICE = 5,
    RILL_LOG_INFO = 6,
    RILL_LOG_DEBUG = 7,
} rill_log_level_t;

/* A log sink. @thread any: it is called from stream threads and must be thread-safe. */
typedef void (*rill_log_cb)(void *opaque, rill_log_level_t level, const char *component,
                            const char *msg);

/* Logs one line through the configured sink; component names the part of Rill that speaks. */
RILL_EXTERN void rill_log(rill_log_level_t level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Routes Rill's log lines to cb (NULL restores the default: stderr) and drops lines above
 * max_level. Set it before starting apps.
 */
RILL_EXTERN void rill_set_log_cb(rill_log_cb cb, void *opaque, rill_log_level_t max_level);

/* Returns the wall clock (CLOCK_REALTIME) in milliseconds since the epoch: for record times. */
RILL_EXTERN int64_t rill_wall_clock_ms(void);
/* Returns the monotonic clock (CLOCK_MONOTONIC) in milliseconds: for timeouts and durations. */
RILL_EXTERN int64_t rill_monotonic_ms(void);

#ifdef __cplusplus
}
#endif
#endif
