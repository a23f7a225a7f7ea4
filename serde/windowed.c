/*
 * Windowed keys: the serdes Kafka Streams calls TimeWindowedSerde and SessionWindowedSerde, the
 * arena constructor of a rill_windowed_t view, and Windowed.toString's "[key@start/end]".
 *
 * The wire formats are Kafka Streams' (WindowKeySchema.toBinary and SessionKeySchema.toBinary),
 * so a windowed topic written by Rill reads back in Java and the other way round:
 *
 *   time window:     <inner key bytes> <start: 8 bytes big-endian>
 *   session window:  <inner key bytes> <end: 8 bytes big-endian> <start: 8 bytes big-endian>
 *
 * The timestamps are plain two's complement (not the sign-flipped encoding some stores use for
 * ordering). A time window's end is not on the wire: the deserializer adds the window size it was
 * made with, saturating at INT64_MAX as Kafka's timeWindowForSize does.
 *
 * A windowed serde is a custom serde (rill_serde_new) whose state holds its own copy of the ops
 * table, so the name "time-windowed(<inner>)" lives exactly as long as the serde. The state is
 * immutable once made and the inner serde is thread-safe, so a windowed serde may be used from any
 * thread at once. Deserializing allocates only in the arena (one rill_windowed_t, plus whatever
 * the inner serde needs); serializing appends straight into the caller's buffer.
 */
#include <rill/serde.h>

#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TIMESTAMP_SIZE 8

typedef struct {
    rill_serde_ops ops;  /* per serde: ops.name points at name below */
    rill_serde_t *inner; /* referenced, released by windowed_destroy */
    int64_t window_size; /* time windows: end = start + window_size; 0 for sessions */
    bool session;        /* session layout (end then start) rather than time (start) */
    char name[];         /* "time-windowed(<inner>)" or "session-windowed(<inner>)" */
} windowed_state_t;

static const rill_buf_t null_view = {NULL, 0};

/* Writes a message into the caller's errstr, which may be NULL or of size 0. */
static void __attribute__((format(printf, 3, 4)))
set_err(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    if (!errstr || !errstr_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
}

/* ---- The serde operations ---- */

/*
 * Appends the inner key's encoding, then the window's timestamps. The caller
 * (rill_serde_serialize) has emptied out, which is what lets the inner serde write into the same
 * buffer through rill_serde_serialize (which empties it again): no second buffer, no copy.
 * Like Kafka's serializers, a time window's end is not written; a null inner key is refused
 * because Kafka Streams cannot read it back either (its toBinary needs the key's bytes).
 */
static int windowed_serialize(void *state, rill_buf_t value, rill_bytes_t *out, bool *is_null,
                              char *errstr, size_t errstr_size)
{
    const windowed_state_t *st = state;
    if (!value.data) {
        *is_null = true;
        return 0;
    }
    if (value.len != sizeof(rill_windowed_t)) {
        set_err(errstr, errstr_size,
                "%s value must be a rill_windowed_t view (%zu bytes, see rill_arena_windowed), got "
                "%zu bytes",
                st->ops.name, sizeof(rill_windowed_t), value.len);
        return RILL_ESERDE;
    }
    rill_windowed_t w;
    memcpy(&w, value.data, sizeof w);
    if (!w.key.data) {
        set_err(errstr, errstr_size, "%s cannot serialize a null inner key", st->ops.name);
        return RILL_ESERDE;
    }
    if (st->session && w.end < w.start) {
        set_err(errstr, errstr_size,
                "%s: session window ends (%" PRId64 ") before it starts (%" PRId64 ")",
                st->ops.name, w.end, w.start);
        return RILL_ESERDE;
    }

    assert(out->len == 0);
    char inner_err[256];
    bool inner_null = false;
    int rc = rill_serde_serialize(st->inner, w.key, out, &inner_null, inner_err, sizeof inner_err);
    if (rc) {
        set_err(errstr, errstr_size, "%s inner key: %s", st->ops.name, inner_err);
        return rc;
    }
    if (inner_null) {
        set_err(errstr, errstr_size, "%s: the inner serde made a null of the key", st->ops.name);
        return RILL_ESERDE;
    }

    uint8_t wire[2 * TIMESTAMP_SIZE];
    size_t n = 0;
    if (st->session) {
        rill_encode_i64(wire, w.end);
        n += TIMESTAMP_SIZE;
    }
    rill_encode_i64(wire + n, w.start);
    n += TIMESTAMP_SIZE;
    rc = rill_bytes_append(out, wire, n);
    if (rc)
        set_err(errstr, errstr_size, "%s serializer: out of memory", st->ops.name);
    return rc;
}

/*
 * Splits off the timestamps at the end, hands the bytes before them to the inner serde (a
 * non-null view even when empty, as Kafka hands its deserializer an empty array) and builds the
 * rill_windowed_t in the arena. The inner key starts at byte 0, so the byte positions in the
 * inner serde's messages are positions in the windowed key too.
 */
static int windowed_deserialize(void *state, rill_buf_t bytes, rill_arena_t *arena,
                                rill_buf_t *value, char *errstr, size_t errstr_size)
{
    const windowed_state_t *st = state;
    if (!bytes.data)
        return 0;
    size_t suffix = st->session ? 2 * TIMESTAMP_SIZE : TIMESTAMP_SIZE;
    if (bytes.len < suffix) {
        set_err(errstr, errstr_size,
                "%s key has %zu bytes; at least %zu are needed (the inner key, then the window's "
                "%s)",
                st->ops.name, bytes.len, suffix,
                st->session ? "8-byte end and 8-byte start" : "8-byte start");
        return RILL_ESERDE;
    }
    if (!arena) {
        set_err(errstr, errstr_size, "%s deserializer needs an arena", st->ops.name);
        return RILL_EINVAL;
    }
    const uint8_t *p = bytes.data;
    size_t key_len = bytes.len - suffix;
    int64_t start = rill_decode_i64(p + bytes.len - TIMESTAMP_SIZE);
    int64_t end;
    if (st->session) {
        end = rill_decode_i64(p + key_len);
        /* Kafka's SessionWindow refuses this too; it can only be corruption or another format. */
        if (end < start) {
            set_err(errstr, errstr_size,
                    "%s: session window end %" PRId64 " (byte %zu) is before its start %" PRId64,
                    st->ops.name, end, key_len, start);
            return RILL_ESERDE;
        }
    } else {
        end = start > INT64_MAX - st->window_size ? INT64_MAX : start + st->window_size;
    }

    rill_buf_t key_bytes = {p, key_len};
    rill_buf_t key;
    char inner_err[256];
    int rc = rill_serde_deserialize(st->inner, key_bytes, arena, &key, inner_err, sizeof inner_err);
    if (rc) {
        set_err(errstr, errstr_size, "%s inner key: %s", st->ops.name, inner_err);
        return rc;
    }
    rill_buf_t made = rill_arena_windowed(arena, key, start, end);
    if (!made.data) {
        set_err(errstr, errstr_size, "%s deserializer: out of memory", st->ops.name);
        return RILL_ENOMEM;
    }
    *value = made;
    return 0;
}

/* Called by rill_serde_unref with the last reference. The ops table it was reached through lives
 * in this state; rill_serde_unref no longer touches it once destroy is called. */
static void windowed_destroy(void *state)
{
    windowed_state_t *st = state;
    rill_serde_unref(st->inner);
    rill_free(st);
}

/* Makes the serde: the state (ops, name and all) in one allocation; inner is referenced only once
 * the serde exists, so a failure leaves its count as it was. */
static rill_serde_t *windowed_new(rill_serde_t *inner, bool session, int64_t window_size)
{
    const char *prefix = session ? "session-windowed(" : "time-windowed(";
    const char *inner_name = rill_serde_name(inner);
    size_t name_len = strlen(prefix) + strlen(inner_name) + 1;
    windowed_state_t *st = rill_malloc(sizeof *st + name_len + 1);
    if (!st)
        return NULL;
    snprintf(st->name, name_len + 1, "%s%s)", prefix, inner_name);
    st->ops.name = st->name;
    st->ops.serialize = windowed_serialize;
    st->ops.deserialize = windowed_deserialize;
    st->ops.destroy = windowed_destroy;
    st->inner = inner;
    st->window_size = window_size;
    st->session = session;
    rill_serde_t *serde = rill_serde_new(&st->ops, st);
    if (!serde) {
        rill_free(st);
        return NULL;
    }
    rill_serde_ref(inner);
    return serde;
}

/* Kafka refuses windows of size 0 or less (TimeWindows.ofSizeWithNoGrace), so do we. */
rill_serde_t *rill_serde_time_windowed(rill_serde_t *inner, int64_t window_size_ms)
{
    if (!inner || window_size_ms <= 0)
        return NULL;
    return windowed_new(inner, false, window_size_ms);
}

rill_serde_t *rill_serde_session_windowed(rill_serde_t *inner)
{
    if (!inner)
        return NULL;
    return windowed_new(inner, true, 0);
}

/* The key is not copied: like any view in a record it must live as long as the arena's contents
 * (a JSON key is a pointer to a document, so there is nothing one could copy generically). */
rill_buf_t rill_arena_windowed(rill_arena_t *arena, rill_buf_t key, int64_t start, int64_t end)
{
    if (!arena || (!key.data && key.len))
        return null_view;
    rill_windowed_t *w = rill_arena_alloc(arena, sizeof *w);
    if (!w)
        return null_view;
    w->key = key;
    w->start = start;
    w->end = end;
    rill_buf_t made = {w, sizeof *w};
    return made;
}

/* ---- Printing ---- */

/* snprintf-style output: counts every byte asked for, keeps what fits before the NUL. */
typedef struct {
    char *buf;
    size_t size;
    size_t len;
} fmt_out_t;

static void put(fmt_out_t *o, const void *data, size_t n)
{
    if (n == 0)
        return; /* data may be NULL then */
    if (o->len < o->size) {
        size_t room = o->size - 1 - o->len;
        memcpy(o->buf + o->len, data, n < room ? n : room);
    }
    o->len += n;
}

static void put_str(fmt_out_t *o, const char *s)
{
    put(o, s, strlen(s));
}

/* True when s is valid UTF-8 without control characters (C0, DEL or C1), i.e. safe to print. */
static bool printable(rill_buf_t s)
{
    rill_buf_t ignored;
    /* The string serde validates UTF-8 without copying or allocating; it needs no arena. */
    if (rill_serde_deserialize(rill_serde_string(), s, NULL, &ignored, NULL, 0) != 0)
        return false;
    const uint8_t *p = s.data;
    for (size_t i = 0; i < s.len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            return false;
        /* U+0080..U+009F are encoded c2 80..c2 9f. */
        if (p[i] == 0xc2 && i + 1 < s.len && p[i + 1] <= 0x9f)
            return false;
    }
    return true;
}

/* Prints bytes as text when printable, else as "0x" and two lowercase hex digits a byte. */
static void put_bytes(fmt_out_t *o, rill_buf_t b)
{
    if (printable(b)) {
        put(o, b.data, b.len);
        return;
    }
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = b.data;
    char chunk[64];
    size_t n = 0;
    put_str(o, "0x");
    for (size_t i = 0; i < b.len; i++) {
        chunk[n++] = digits[p[i] >> 4];
        chunk[n++] = digits[p[i] & 0xf];
        if (n == sizeof chunk) {
            put(o, chunk, n);
            n = 0;
        }
    }
    put(o, chunk, n);
}

/*
 * Prints the inner key by its serde's meaning. Built-in views are read directly; JSON and custom
 * serdes are serialized with the inner serde (a custom view's layout is private to its serde, its
 * wire bytes are not), which is the one allocation here. Returns 0 or a negative code.
 */
static int put_key(fmt_out_t *o, rill_buf_t key, const rill_serde_t *inner)
{
    char num[64];
    if (!key.data) {
        put_str(o, "null");
        return 0;
    }
    if (inner == rill_serde_string()) {
        put(o, key.data, key.len);
        return 0;
    }
    if (inner == rill_serde_int32() && key.len == sizeof(int32_t)) {
        snprintf(num, sizeof num, "%" PRId32, rill_value_i32(key));
        put_str(o, num);
        return 0;
    }
    if (inner == rill_serde_int64() && key.len == sizeof(int64_t)) {
        snprintf(num, sizeof num, "%" PRId64, rill_value_i64(key));
        put_str(o, num);
        return 0;
    }
    if (inner == rill_serde_double() && key.len == sizeof(double)) {
        snprintf(num, sizeof num, "%g", rill_value_double(key));
        put_str(o, num);
        return 0;
    }
    if (!inner || inner == rill_serde_bytes() || inner == rill_serde_int32() ||
        inner == rill_serde_int64() || inner == rill_serde_double()) {
        /* bytes, no serde, or a number view of the wrong size: show what is there. */
        put_bytes(o, key);
        return 0;
    }
    rill_bytes_t wire = {0};
    bool is_null = false;
    int rc = rill_serde_serialize(inner, key, &wire, &is_null, NULL, 0);
    if (rc == 0) {
        rill_buf_t text = {wire.data, wire.len};
        if (is_null)
            put_str(o, "null");
        else if (inner == rill_serde_json())
            put(o, text.data, text.len); /* compact JSON text, as rill_json_format writes it */
        else
            put_bytes(o, text);
    }
    rill_bytes_free(&wire);
    return rc;
}

/* On failure (the inner serde cannot serialize the key, or out of memory) buf holds "" and the
 * result is the negative code, as snprintf returns a negative value on error. */
int rill_windowed_format(const rill_windowed_t *w, const rill_serde_t *inner, char *buf,
                         size_t size)
{
    if (!w || (!buf && size))
        return RILL_EINVAL;
    fmt_out_t o = {buf, size, 0};
    put_str(&o, "[");
    int rc = put_key(&o, w->key, inner);
    if (rc) {
        if (size)
            buf[0] = '\0';
        return rc;
    }
    char bounds[64];
    snprintf(bounds, sizeof bounds, "@%" PRId64 "/%" PRId64 "]", w->start, w->end);
    put_str(&o, bounds);
    if (size)
        buf[o.len < size ? o.len : size - 1] = '\0';
    /* A key over 2 GiB cannot have its length returned as an int. */
    return o.len > INT_MAX ? RILL_EINVAL : (int)o.len;
}
