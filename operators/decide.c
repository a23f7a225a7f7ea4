/*
 * The decide processor (rill_stream_decide, docs/event-sourcing.md): the decider pattern of
 * event sourcing on one node. A command, keyed by its aggregate's id, is decided against the
 * aggregate's state; the events decided are folded into the state with evolve, forwarded to the
 * node's event children, and the outcome goes to the reply child.
 *
 * State. The node's key-value store holds, per aggregate, its version (the count of events
 * applied so far, 8 bytes big-endian, as a changelog carries it to any machine) and then the
 * user's state bytes. A new aggregate has version 0 and a null state.
 *
 * Order, and why. Per command: read the state; check the expected version; decide; fold every
 * event with evolve; only then write anything. So a decide or an evolve that fails leaves no
 * trace of the command (no event, no state, no reply) and the processing error handler decides
 * with nothing half done. Then the events go out (before the store's write: an event may be a
 * view of the stored state, which the store lends only until its next call), the new state is
 * written, and the reply goes out. Under exactly_once_v2 all of it commits in the task's
 * transaction with the command's offset.
 *
 * Hot path. Events are views held in an array the node keeps (grown only past its largest
 * decision so far); the new state value, the headers and the reply live in the record's arena.
 * A command reads the store once and writes it once (none when it decides no event).
 */
#include "operators_int.h"

#include <stdio.h>
#include <string.h>

enum { VERSION_LEN = 8 };

typedef struct {
    rill_decide_spec_t spec;
} decide_arg_t;

typedef struct {
    const rill_decide_spec_t *spec;
    const rill_serde_t *ks; /* NULL when the key's view is its bytes (bytes, string) */
    rill_kv_store_t *kv;
    int reply_at; /* the reply child's position among the node's children; -1: none */
    rill_bytes_t kb;
    rill_buf_t *events; /* the decision being made: events emitted so far */
    size_t cap;
    uint64_t skip_logged_at;
} decide_state_t;

struct rill_decision {
    decide_state_t *st;
    rill_arena_t *arena;
    uint64_t version;
    size_t n;
    bool rejected;
    rill_buf_t reason;
};

/* ---- the decision handle ---- */

int rill_decision_emit(rill_decision_t *d, rill_buf_t event)
{
    if (!d || !event.data)
        return RILL_EINVAL; /* a null event would be a tombstone in the event log */
    if (d->rejected)
        return RILL_ESTATE;
    decide_state_t *st = d->st;
    if (d->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 8;
        rill_buf_t *p = rill_realloc(st->events, cap * sizeof *p);
        if (!p)
            return RILL_ENOMEM;
        st->events = p;
        st->cap = cap;
    }
    st->events[d->n++] = event;
    return 0;
}

int rill_decision_reject(rill_decision_t *d, const char *reason)
{
    if (!d)
        return RILL_EINVAL;
    if (!reason)
        reason = "rejected";
    rill_buf_t copy = rill_arena_copy(d->arena, reason, strlen(reason));
    if (!copy.data)
        return RILL_ENOMEM;
    d->rejected = true;
    d->reason = copy;
    d->n = 0;
    return 0;
}

uint64_t rill_decision_version(const rill_decision_t *d)
{
    return d ? d->version : 0;
}

/* ---- args, init, close ---- */

/* Copies *s into *d; false when out of memory. */
static bool copy_str(const char **d, const char *s)
{
    *d = s ? rill_strdup(s) : NULL;
    return !s || *d;
}

void rill_decide_arg_free(void *p)
{
    decide_arg_t *a = p;
    if (!a)
        return;
    rill_free((char *)a->spec.store);
    rill_free((char *)a->spec.reply_node);
    rill_free((char *)a->spec.correlation_header);
    rill_free((char *)a->spec.expected_version_header);
    rill_serde_unref(a->spec.key_serde);
    rill_free(a);
}

void *rill_decide_arg_new(const rill_decide_spec_t *spec)
{
    if (!spec)
        return NULL;
    decide_arg_t *a = rill_calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->spec = *spec;
    a->spec.key_serde = NULL;
    if (!copy_str(&a->spec.store, spec->store) ||
        !copy_str(&a->spec.reply_node, spec->reply_node) ||
        !copy_str(&a->spec.correlation_header, spec->correlation_header) ||
        !copy_str(&a->spec.expected_version_header, spec->expected_version_header)) {
        rill_decide_arg_free(a);
        return NULL;
    }
    a->spec.key_serde = rill_serde_ref(spec->key_serde);
    return a;
}

static void decide_close(rill_context_t *ctx, void *state)
{
    (void)ctx;
    decide_state_t *st = state;
    if (!st)
        return;
    rill_bytes_free(&st->kb);
    rill_free(st->events);
    rill_free(st);
}

/* Fills st for the node; 0 or a code after rill_context_fail(). */
static int init_state(rill_context_t *ctx, const rill_decide_spec_t *s, decide_state_t *st)
{
    st->spec = s;
    st->reply_at = -1;
    if (!s->decide || !s->evolve)
        return rill_context_fail(ctx, RILL_ETOPOLOGY, "its %s function is NULL",
                                 s->decide ? "evolve" : "decide");
    if (!s->store || !(st->kv = rill_context_kv_store(ctx, s->store)))
        return rill_context_fail(ctx, RILL_ETOPOLOGY, "key-value store '%s' is not connected to it",
                                 s->store ? s->store : "(none)");
    if (s->reply_node && (st->reply_at = rill__child_index(ctx->inst, s->reply_node)) < 0)
        return rill_context_fail(ctx, RILL_ETOPOLOGY, "it has no reply child '%s'", s->reply_node);
    st->ks = s->key_serde ? s->key_serde : ctx->task->env.default_key_serde;
    if (!st->ks)
        return rill_context_fail(ctx, RILL_ECONFIG,
                                 "no key serde for the keys of store '%s': give one or set a "
                                 "default",
                                 s->store);
    if (st->ks == rill_serde_bytes() || st->ks == rill_serde_string())
        st->ks = NULL; /* the key's view is its bytes: no call, no copy */
    return 0;
}

/* The task does not close a node whose init failed: a failed init frees what it made. */
static int decide_init(rill_context_t *ctx, void *arg, void **state)
{
    decide_state_t *st = rill_calloc(1, sizeof *st);
    if (!st)
        return RILL_ENOMEM;
    int rc = init_state(ctx, &((decide_arg_t *)arg)->spec, st);
    if (rc) {
        decide_close(ctx, st);
        return rc;
    }
    *state = st;
    return 0;
}

/* ---- per command ---- */

static uint64_t get_be64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static void put_be64(void *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
}

/* Parses a decimal version (1 to 20 digits, no sign, no space); false when b is not one. */
static bool parse_version(rill_buf_t b, uint64_t *out)
{
    const unsigned char *p = b.data;
    uint64_t v = 0;
    if (b.len == 0 || b.len > 20)
        return false;
    for (size_t i = 0; i < b.len; i++) {
        if (p[i] < '0' || p[i] > '9' || __builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(p[i] - '0'), &v))
            return false;
    }
    *out = v;
    return true;
}

/* The last header of rec called name, as Kafka's Headers.lastHeader() (a resend that adds a
 * header overrides the first), or NULL. */
static const rill_header_t *last_header(const rill_record_t *rec, const char *name)
{
    for (size_t i = rill_headers_count(rec->headers); i-- > 0;) {
        const rill_header_t *h = rill_headers_at(rec->headers, i);
        if (strcmp(h->name, name) == 0)
            return h;
    }
    return NULL;
}

/* Rejects the command when it carries an expected version other than the aggregate's. */
static int check_expected(const decide_state_t *st, const rill_record_t *rec, rill_decision_t *d)
{
    const rill_header_t *h = last_header(rec, st->spec->expected_version_header);
    if (!h || !h->value.data)
        return 0;
    char why[160];
    uint64_t want;
    if (!parse_version(h->value, &want))
        snprintf(why, sizeof why, "the %s header ('%.*s') is not a version (a decimal count)",
                 st->spec->expected_version_header, h->value.len > 40 ? 40 : (int)h->value.len,
                 (const char *)h->value.data);
    else if (want != d->version)
        snprintf(why, sizeof why, "expected version %llu, actual version %llu",
                 (unsigned long long)want, (unsigned long long)d->version);
    else
        return 0;
    return rill_decision_reject(d, why);
}

/* Appends JSON-escaped s to out (room for 6 bytes per byte of s); returns the end. */
static char *json_escape(char *out, rill_buf_t s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = s.data;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            *out++ = '\\';
            *out++ = (char)c;
        } else if (c < 0x20) {
            memcpy(out, "\\u00", 4);
            out[4] = hex[c >> 4];
            out[5] = hex[c & 15];
            out += 6;
        } else {
            *out++ = (char)c;
        }
    }
    return out;
}

/* Writes v in decimal at p; returns the end. */
static char *put_decimal(char *p, uint64_t v)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = digits[--n];
    return p;
}

/* Copies the literal s (without its NUL) to p; returns the end. */
#define PUT_LITERAL(p, s) (memcpy((p), (s), sizeof(s) - 1), (p) + sizeof(s) - 1)

/* The reply's value, in the arena (a null view when out of memory). Written by hand: printf
 * took about 900 instructions of a command's 2,600 in the node. */
static rill_buf_t reply_value(rill_arena_t *arena, const rill_decision_t *d, uint64_t version)
{
    size_t cap = 96 + (d->rejected ? d->reason.len * 6 : 20);
    char *buf = rill_arena_alloc(arena, cap), *p = buf;
    if (!buf)
        return (rill_buf_t){NULL, 0};
    if (d->rejected)
        p = PUT_LITERAL(p, "{\"status\":\"rejected\",\"version\":");
    else
        p = PUT_LITERAL(p, "{\"status\":\"accepted\",\"version\":");
    p = put_decimal(p, version);
    if (d->rejected) {
        p = PUT_LITERAL(p, ",\"reason\":\"");
        p = json_escape(p, d->reason);
        p = PUT_LITERAL(p, "\"}");
    } else {
        p = PUT_LITERAL(p, ",\"events\":");
        p = put_decimal(p, d->n);
        p = PUT_LITERAL(p, "}");
    }
    return (rill_buf_t){buf, (size_t)(p - buf)};
}

/* Folds the decision's events into state; the new stored value (version, then state) goes in
 * *value, in the arena. 0 or a code after rill_context_fail(). */
static int fold(rill_context_t *ctx, decide_state_t *st, const rill_decision_t *d, rill_buf_t state,
                rill_buf_t *value)
{
    const rill_decide_spec_t *s = st->spec;
    for (size_t i = 0; i < d->n; i++) {
        rill_buf_t next = {NULL, 0};
        int rc = s->evolve(s->ud, ctx, state, st->events[i], &next);
        if (rc)
            return rc;
        state = next;
    }
    uint8_t *v = rill_arena_alloc(rill_context_arena(ctx), VERSION_LEN + state.len);
    if (!v)
        return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    put_be64(v, d->version + d->n);
    if (state.len)
        memcpy(v + VERSION_LEN, state.data, state.len);
    *value = (rill_buf_t){v, VERSION_LEN + state.len};
    return 0;
}

/* Reads the aggregate of kbytes into d->version and *state (a null view for a new one). */
static int read_state(rill_context_t *ctx, decide_state_t *st, rill_buf_t kbytes,
                      rill_decision_t *d, rill_buf_t *state)
{
    rill_buf_t stored;
    int rc = rill_kv_get(st->kv, kbytes, &stored, NULL);
    *state = (rill_buf_t){NULL, 0};
    if (rc == RILL_ENOENT)
        return 0;
    if (rc)
        return rill_context_fail(ctx, rc, "cannot read store '%s': %s", st->spec->store,
                                 rill_strerror(rc));
    if (stored.len < VERSION_LEN)
        return rill_context_fail(ctx, RILL_ESERDE,
                                 "the state in store '%s' is %zu bytes, shorter than its "
                                 "version",
                                 st->spec->store, stored.len);
    d->version = get_be64(stored.data);
    *state = (rill_buf_t){(const uint8_t *)stored.data + VERSION_LEN, stored.len - VERSION_LEN};
    return 0;
}

/* A failure once some of a command's events went out (a node downstream of the events, or the
 * store's write): the processing error handler must not continue past it, which would leave
 * events in the log that the state lacks, and the next command would reuse their versions. It
 * fails with a code that is not a processing error, so the task stops (under exactly_once_v2
 * its transaction aborts: nothing of the command stays). */
static int after_events(rill_context_t *ctx, decide_state_t *st, const rill_record_t *rec,
                        size_t at, size_t n, int rc)
{
    return rill_context_fail(ctx, RILL_ESTATE,
                             "the command at topic '%s' partition %d offset %lld failed (%s) at "
                             "its event %zu of %zu, after events went out; stopping rather than "
                             "let store '%s' and the event topic disagree",
                             rec->topic ? rec->topic : "(none)", rec->partition,
                             (long long)rec->offset, rill_err_name(rc), at, n, st->spec->store);
}

static int decide_process(rill_context_t *ctx, void *state, const rill_record_t *rec)
{
    decide_state_t *st = state;
    const rill_decide_spec_t *s = st->spec;
    node_inst_t *inst = ctx->inst;
    if (!rec->key.data) {
        rill__op_skip(ctx, rec, "its key (the aggregate's id) is null", &st->skip_logged_at);
        if (st->reply_at < 0)
            return 0;
        /* Its caller waits for an answer: a rejection, with its correlation id. */
        rill_decision_t nd = {st,   rill_context_arena(ctx),
                              0,    0,
                              true, rill_buf_str("its key (the aggregate's id) is null")};
        rill_record_t out = *rec;
        const rill_header_t *corr = last_header(rec, s->correlation_header);
        out.headers = corr ? rill_arena_headers(nd.arena, corr, 1) : NULL;
        out.value = reply_value(nd.arena, &nd, 0);
        if (!out.value.data || (corr && !out.headers))
            return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
        return rill__forward_one(inst->children[st->reply_at], &out);
    }
    rill_buf_t kbytes = rec->key, current, value;
    int rc = st->ks ? rill__op_ser(ctx, st->ks, rec->key, &st->kb, &kbytes, "key") : 0;
    rill_decision_t d = {st, rill_context_arena(ctx), 0, 0, false, {NULL, 0}};
    if (rc || (rc = read_state(ctx, st, kbytes, &d, &current)))
        return rc;
    if ((rc = check_expected(st, rec, &d)))
        return rill_context_fail(ctx, rc, "out of memory");
    if (!d.rejected && (rc = s->decide(s->ud, ctx, rec, current, &d)))
        return rc;
    if (d.n && (rc = fold(ctx, st, &d, current, &value)))
        return rc;

    /* Events and reply carry the command's correlation header, and no other. */
    rill_record_t out = *rec;
    const rill_header_t *corr = last_header(rec, s->correlation_header);
    out.headers = corr ? rill_arena_headers(d.arena, corr, 1) : NULL;
    if (corr && !out.headers)
        return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    bool sent = false; /* an event went out to a child */
    for (size_t i = 0; i < d.n; i++) {
        out.value = st->events[i];
        for (size_t c = 0; c < inst->nchildren; c++) {
            if ((int)c == st->reply_at)
                continue;
            if ((rc = rill__forward_one(inst->children[c], &out)))
                return sent ? after_events(ctx, st, rec, i + 1, d.n, rc) : rc;
            sent = true;
        }
    }
    if (d.n && (rc = rill_kv_put(st->kv, kbytes, value, rec->timestamp)))
        return after_events(ctx, st, rec, d.n, d.n, rc);
    if (st->reply_at < 0)
        return 0;
    out.value = reply_value(d.arena, &d, d.version + d.n);
    if (!out.value.data)
        return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
    return rill__forward_one(inst->children[st->reply_at], &out);
}

static const rill_processor_ops decide_ops = {decide_init, decide_process, decide_close};

const rill_processor_ops *rill_decide_ops(void)
{
    return &decide_ops;
}
