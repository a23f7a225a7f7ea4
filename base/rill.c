/*
 * The shared vocabulary of rill.h: error names, the allocator hook, logging, record headers and
 * the per-record arena. Includes nothing but its own header and the C library.
 */
#include <rill/rill.h>

#include <assert.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *rill_version(void)
{
    return RILL_VERSION_STRING;
}

const char *rill_strerror(int err)
{
    switch (err) {
#define RILL_ERR_MSG(name, code, msg)                                                              \
    case code:                                                                                     \
        return msg;
        RILL_ERRNO_MAP(RILL_ERR_MSG)
#undef RILL_ERR_MSG
    case 0:
        return "success";
    default:
        return "unknown error";
    }
}

const char *rill_err_name(int err)
{
    switch (err) {
#define RILL_ERR_NAME(name, code, msg)                                                             \
    case code:                                                                                     \
        return "RILL_" #name;
        RILL_ERRNO_MAP(RILL_ERR_NAME)
#undef RILL_ERR_NAME
    case 0:
        return "RILL_OK";
    default:
        return "RILL_EUNKNOWN";
    }
}

rill_buf_t rill_buf_str(const char *s)
{
    rill_buf_t b = {s, s ? strlen(s) : 0};
    return b;
}

/* Headers are a lazily filled cache: reading them is logically const. */
static const rill_headers_t *headers_ready(const rill_headers_t *headers)
{
    rill_headers_t *h = (rill_headers_t *)headers;
    if (h && h->load) {
        int (*load)(rill_headers_t *) = h->load;
        h->load = NULL;
        if (load(h) != 0) {
            h->items = NULL;
            h->count = 0;
        }
    }
    return headers;
}

size_t rill_headers_count(const rill_headers_t *headers)
{
    return headers ? headers_ready(headers)->count : 0;
}

const rill_header_t *rill_headers_at(const rill_headers_t *headers, size_t i)
{
    return i < rill_headers_count(headers) ? &headers->items[i] : NULL;
}

const rill_header_t *rill_record_header(const rill_record_t *rec, const char *name)
{
    size_t n = rec && name ? rill_headers_count(rec->headers) : 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(rec->headers->items[i].name, name) == 0)
            return &rec->headers->items[i];
    return NULL;
}

/* ---- Allocator hook ---- */

static void *(*hook_malloc)(size_t) = malloc;
static void *(*hook_realloc)(void *, size_t) = realloc;
static void (*hook_free)(void *) = free;

int rill_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                       void (*free_fn)(void *))
{
    if (!malloc_fn && !realloc_fn && !free_fn) {
        hook_malloc = malloc;
        hook_realloc = realloc;
        hook_free = free;
        return 0;
    }
    if (!malloc_fn || !realloc_fn || !free_fn)
        return RILL_EINVAL;
    hook_malloc = malloc_fn;
    hook_realloc = realloc_fn;
    hook_free = free_fn;
    return 0;
}

void *rill_malloc(size_t n)
{
    return hook_malloc(n ? n : 1);
}

void *rill_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = rill_malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *rill_realloc(void *p, size_t n)
{
    return hook_realloc(p, n ? n : 1);
}

void rill_free(void *p)
{
    if (p)
        hook_free(p);
}

char *rill_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = rill_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* ---- Logging ---- */

static rill_log_cb log_cb;
static void *log_opaque;
static rill_log_level_t log_max = RILL_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void rill_set_log_cb(rill_log_cb cb, void *opaque, rill_log_level_t max_level)
{
    log_cb = cb;
    log_opaque = opaque;
    log_max = max_level;
}

static const char *level_name(rill_log_level_t level)
{
    switch (level) {
    case RILL_LOG_ERROR:
        return "ERROR";
    case RILL_LOG_WARN:
        return "WARN";
    case RILL_LOG_NOTICE:
        return "NOTICE";
    case RILL_LOG_INFO:
        return "INFO";
    default:
        return "DEBUG";
    }
}

void rill_log(rill_log_level_t level, const char *component, const char *fmt, ...)
{
    if (level > log_max)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (log_cb) {
        log_cb(log_opaque, level, component, msg);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    /* One fprintf per line under a lock, so lines from several threads never interleave. */
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "%02d:%02d:%02d.%03ld %-6s [%s] %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000, level_name(level), component, msg);
    pthread_mutex_unlock(&log_lock);
}

/* ---- Clocks ---- */

int64_t rill_wall_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rill_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Arena ----
 *
 * A bump allocator over one chunk. When a record needs more than the chunk holds, overflow
 * blocks are taken from the heap and, at the next reset, the chunk is regrown to the high-water
 * mark so the following records fit again: after the first large record there is no allocation.
 * Deferred functions live in the arena's own memory.
 */
typedef struct arena_block {
    struct arena_block *next;
} arena_block_t;

typedef struct arena_defer {
    void (*fn)(void *);
    void *p;
    struct arena_defer *next;
} arena_defer_t;

struct rill_arena {
    unsigned char *chunk;
    size_t size, used;
    size_t high_water; /* bytes asked for since the last reset, overflow included */
    arena_block_t *overflow;
    arena_defer_t *defers;
};

#define ARENA_ALIGN 16

rill_arena_t *rill_arena_new(size_t chunk_size)
{
    rill_arena_t *arena = rill_calloc(1, sizeof *arena);
    if (!arena)
        return NULL;
    arena->size = chunk_size ? chunk_size : 4096;
    arena->chunk = rill_malloc(arena->size);
    if (!arena->chunk) {
        rill_free(arena);
        return NULL;
    }
    return arena;
}

static void arena_release(rill_arena_t *arena)
{
    /* Deferred functions run newest first, like destructors. */
    while (arena->defers) {
        arena_defer_t *d = arena->defers;
        arena->defers = d->next;
        d->fn(d->p);
    }
    while (arena->overflow) {
        arena_block_t *b = arena->overflow;
        arena->overflow = b->next;
        rill_free(b);
    }
}

void rill_arena_destroy(rill_arena_t *arena)
{
    if (!arena)
        return;
    arena_release(arena);
    rill_free(arena->chunk);
    rill_free(arena);
}

void rill_arena_reset(rill_arena_t *arena)
{
    bool overflowed = arena->overflow != NULL;
    arena_release(arena);
    if (overflowed && arena->high_water > arena->size) {
        size_t size = arena->size;
        while (size < arena->high_water)
            size *= 2;
        unsigned char *chunk = rill_malloc(size);
        if (chunk) {
            rill_free(arena->chunk);
            arena->chunk = chunk;
            arena->size = size;
        }
    }
    arena->used = 0;
    arena->high_water = 0;
}

void *rill_arena_alloc(rill_arena_t *arena, size_t n)
{
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < n)
        return NULL;
    arena->high_water += need;
    if (arena->size - arena->used >= need) {
        void *p = arena->chunk + arena->used;
        arena->used += need;
        return p;
    }
    /* Overflow block: header padded to the alignment, then the payload. */
    arena_block_t *b = rill_malloc(ARENA_ALIGN + need);
    if (!b)
        return NULL;
    b->next = arena->overflow;
    arena->overflow = b;
    return (unsigned char *)b + ARENA_ALIGN;
}

int rill_arena_defer(rill_arena_t *arena, void (*fn)(void *), void *p)
{
    arena_defer_t *d = rill_arena_alloc(arena, sizeof *d);
    if (!d)
        return RILL_ENOMEM;
    d->fn = fn;
    d->p = p;
    d->next = arena->defers;
    arena->defers = d;
    return 0;
}

rill_buf_t rill_arena_copy(rill_arena_t *arena, const void *data, size_t len)
{
    rill_buf_t out = {NULL, 0};
    if (!data)
        return out;
    unsigned char *p = rill_arena_alloc(arena, len + 1);
    if (!p)
        return out;
    memcpy(p, data, len);
    p[len] = 0;
    out.data = p;
    out.len = len;
    return out;
}

rill_buf_t rill_arena_printf(rill_arena_t *arena, const char *fmt, ...)
{
    rill_buf_t out = {NULL, 0};
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return out;
    char *p = rill_arena_alloc(arena, (size_t)n + 1);
    if (!p)
        return out;
    if ((size_t)n < sizeof small) {
        memcpy(p, small, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    out.data = p;
    out.len = (size_t)n;
    return out;
}

const rill_headers_t *rill_arena_headers(rill_arena_t *arena, const rill_header_t *items,
                                         size_t count)
{
    rill_headers_t *h = rill_arena_alloc(arena, sizeof *h + count * sizeof *items);
    if (!h)
        return NULL;
    rill_header_t *copy = (rill_header_t *)(h + 1);
    if (count)
        memcpy(copy, items, count * sizeof *items);
    h->items = copy;
    h->count = count;
    h->load = NULL;
    return h;
}

#define ARENA_NUMBER(fn, type)                                                                     \
    rill_buf_t fn(rill_arena_t *arena, type v)                                                     \
    {                                                                                              \
        rill_buf_t out = {NULL, 0};                                                                \
        type *p = rill_arena_alloc(arena, sizeof v);                                               \
        if (p) {                                                                                   \
            *p = v;                                                                                \
            out.data = p;                                                                          \
            out.len = sizeof v;                                                                    \
        }                                                                                          \
        return out;                                                                                \
    }
ARENA_NUMBER(rill_arena_i32, int32_t)
ARENA_NUMBER(rill_arena_i64, int64_t)
ARENA_NUMBER(rill_arena_double, double)
