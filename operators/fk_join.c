/*
 * The foreign-key table-table join's processors (Kafka Streams' KIP-213, record for record):
 *
 * - SUBSCRIBE (SubscriptionSendProcessorSupplier): a left update (new, old) becomes one or two
 *   subscriptions keyed by the foreign key's bytes, each carrying an instruction, the murmur3
 *   hash of the new left value as serialized (none for a delete), the left key's bytes and the
 *   left record's partition.
 * - RECEIVE (SubscriptionReceiveProcessorSupplier): keeps or deletes the subscription in the
 *   subscription store under (foreign key, left key): a 4-byte big-endian length, the foreign
 *   key's bytes, the left key's bytes (CombinedKeySchema), so the right key's subscriptions are
 *   one prefix scan.
 * - SUBSCRIPTION (SubscriptionJoinProcessorSupplier): answers the subscription with the right
 *   row of its foreign key, as its instruction says.
 * - FOREIGN (ForeignTableJoinProcessorSupplier): a right update answers every subscription of its
 *   key with the new right value.
 * - RESOLVE (ResponseJoinProcessorSupplier): an answer whose hash is that of the left row now
 *   joins it (or deletes the result); an answer to a value the row no longer has is dropped and
 *   counted in records-skipped (Kafka Streams' dropped-records).
 *
 * The topics carry Kafka Streams' wire formats, so either can read the other's:
 *   subscription: version 1 (| 0x80 without a hash), instruction, [16-byte hash], left key bytes,
 *                 4-byte partition (SubscriptionWrapperSerde);
 *   response:     version 0 (| 0x80 without a hash), [16-byte hash], right value bytes (none:
 *                 null; so an empty right value reads as null there, as in Kafka Streams)
 *                 (SubscriptionResponseWrapperSerde).
 * The hash is MurmurHash3 x64 128 with Kafka Streams' seed (Murmur3.hash128), its two halves
 * big-endian: from Debian's libmurmurhash, the one file that includes it.
 */
#include "operators_int.h"

#include <murmurhash.h>
#include <string.h>

/* SubscriptionWrapper.Instruction's bytes. */
enum {
    DELETE_KEY_NO_PROPAGATE = 0,
    DELETE_KEY_AND_PROPAGATE = 1,
    PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE = 2,
    PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE = 3,
};

#define SUBSCRIPTION_VERSION 1 /* SubscriptionWrapper.CURRENT_VERSION */
#define RESPONSE_VERSION     0 /* SubscriptionResponseWrapper.CURRENT_VERSION */
#define NO_HASH              0x80
#define HASH_LEN             16
#define MURMUR3_SEED         104729 /* Murmur3.DEFAULT_SEED */

typedef struct {
    rill_fk_join_spec_t spec;
} fk_arg_t;

typedef struct {
    const rill_fk_join_spec_t *spec;
    const rill_serde_t *ks, *vs, *fks, *fvs;
    rill_kv_store_t *kv;
    rill_bytes_t kb, vb, fb, ob, wb; /* key, value, foreign key, old foreign key, wire */
    uint64_t skipped_logged;
} fk_state_t;

/* A subscription as read from the wire; views into it. */
typedef struct {
    uint8_t version, instruction;
    const uint8_t *hash; /* NULL: none */
    rill_buf_t key;      /* the left key's bytes */
    int32_t partition;   /* -1: not carried (version 0) */
} subscription_t;

void *rill_fk_join_arg_new(const rill_fk_join_spec_t *spec)
{
    if (!spec || spec->op < RILL_FKOP_SUBSCRIBE || spec->op > RILL_FKOP_RESOLVE)
        return NULL;
    fk_arg_t *a = rill_calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->spec = *spec;
    if (spec->store && !(a->spec.store = rill_strdup(spec->store))) {
        rill_free(a);
        return NULL;
    }
    rill_serde_ref(a->spec.key_serde);
    rill_serde_ref(a->spec.value_serde);
    rill_serde_ref(a->spec.foreign_key_serde);
    rill_serde_ref(a->spec.foreign_value_serde);
    return a;
}

void rill_fk_join_arg_free(void *p)
{
    fk_arg_t *a = p;
    if (!a)
        return;
    rill_free((char *)a->spec.store);
    rill_serde_unref(a->spec.key_serde);
    rill_serde_unref(a->spec.value_serde);
    rill_serde_unref(a->spec.foreign_key_serde);
    rill_serde_unref(a->spec.foreign_value_serde);
    rill_free(a);
}

int32_t rill_fk_join_response_partition(void *ud, const char *topic, const rill_record_t *rec,
                                        int32_t partition_count)
{
    (void)ud;
    (void)topic;
    return rec->partition >= 0 && rec->partition < partition_count ? rec->partition : -1;
}

/* ---- helpers ---- */

static uint32_t get_u32(const uint8_t *in)
{
    return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
}

/* Murmur3.hash128 of bytes, its two longs big-endian into out. */
static void hash128(rill_buf_t bytes, uint8_t out[HASH_LEN])
{
    uint64_t h[2];
    lmmh_x64_128(bytes.len ? bytes.data : "", (unsigned)bytes.len, MURMUR3_SEED, h);
    rill_encode_i64(out, (int64_t)h[0]);
    rill_encode_i64(out + 8, (int64_t)h[1]);
}

static bool same_bytes(rill_buf_t a, rill_buf_t b)
{
    if (!a.data || !b.data)
        return !a.data && !b.data;
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

static int store_failed(rill_context_t *ctx, const char *store, int rc)
{
    return rill_context_fail(ctx, rc, "cannot use store '%s': %s", store, rill_strerror(rc));
}

static int out_of_memory(rill_context_t *ctx)
{
    return rill_context_fail(ctx, RILL_ENOMEM, "out of memory");
}

/* A record the join drops: counted in records-skipped (Kafka Streams' dropped-records). */
static void drop(rill_context_t *ctx, fk_state_t *st, const rill_record_t *rec, const char *why)
{
    rill__op_skip(ctx, rec, why, &st->skipped_logged);
}

/* Reads a subscription's wire form; 0 or RILL_ESERDE after rill_context_fail(). */
static int subscription_read(rill_context_t *ctx, rill_buf_t v, subscription_t *s)
{
    const uint8_t *p = v.data;
    if (!p || v.len < 2)
        return rill_context_fail(ctx, RILL_ESERDE, "a subscription of %zu bytes is torn", v.len);
    s->version = p[0] & 0x7F;
    s->instruction = p[1];
    if (s->version > SUBSCRIPTION_VERSION)
        return rill_context_fail(ctx, RILL_ESERDE,
                                 "the subscription is of version %d, newer than this one reads",
                                 s->version);
    if (s->instruction > PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE)
        return rill_context_fail(ctx, RILL_ESERDE, "unknown subscription instruction %d",
                                 s->instruction);
    size_t at = 2, tail = s->version > 0 ? 4 : 0;
    s->hash = NULL;
    if (!(p[0] & NO_HASH)) {
        s->hash = p + at;
        at += HASH_LEN;
    }
    if (at + tail > v.len)
        return rill_context_fail(ctx, RILL_ESERDE, "a subscription of %zu bytes is torn", v.len);
    s->key = (rill_buf_t){p + at, v.len - at - tail};
    s->partition = tail ? (int32_t)get_u32(p + v.len - 4) : -1;
    return 0;
}

/* Writes a response (hash, right value's bytes) into st->wb; its view in *out. */
static int response_write(rill_context_t *ctx, fk_state_t *st, const uint8_t *hash,
                          rill_buf_t value, rill_buf_t *out)
{
    uint8_t head = RESPONSE_VERSION | (hash ? 0 : NO_HASH);
    st->wb.len = 0;
    if (rill_bytes_append(&st->wb, &head, 1) ||
        (hash && rill_bytes_append(&st->wb, hash, HASH_LEN)) ||
        (value.len && rill_bytes_append(&st->wb, value.data, value.len)))
        return out_of_memory(ctx);
    *out = (rill_buf_t){st->wb.data, st->wb.len};
    return 0;
}

/* Forwards a response to the left key whose bytes are key, for the left partition. */
static int respond(rill_context_t *ctx, const rill_record_t *in, rill_buf_t key, rill_buf_t value,
                   int64_t ts, int32_t partition)
{
    rill_record_t out = *in;
    out.key = key;
    out.value = value;
    out.timestamp = ts;
    out.partition = partition;
    return rill_context_forward(ctx, &out);
}

/* ---- init and close ---- */

static int fk_init(rill_context_t *ctx, void *arg, void **state)
{
    const rill_fk_join_spec_t *s = &((fk_arg_t *)arg)->spec;
    fk_state_t *st = rill_calloc(1, sizeof *st);
    if (!st)
        return RILL_ENOMEM;
    *state = st;
    st->spec = s;
    const rill_task_env_t *env = &ctx->task->env;
    st->ks = s->key_serde ? s->key_serde : env->default_key_serde;
    st->vs = s->value_serde ? s->value_serde : env->default_value_serde;
    st->fks = s->foreign_key_serde ? s->foreign_key_serde : env->default_key_serde;
    st->fvs = s->foreign_value_serde ? s->foreign_value_serde : env->default_value_serde;
    if (!st->ks || !st->vs || !st->fks || !st->fvs)
        return rill_context_fail(ctx, RILL_ECONFIG,
                                 "no %s serde for the foreign-key join: give the tables theirs or "
                                 "set a default",
                                 st->ks && st->fks ? "value" : "key");
    if (s->op == RILL_FKOP_SUBSCRIBE && !s->foreign_key)
        return rill_context_fail(ctx, RILL_ETOPOLOGY, "the foreign-key join has no key extractor");
    if (s->op == RILL_FKOP_RESOLVE && !s->joiner)
        return rill_context_fail(ctx, RILL_ETOPOLOGY, "the foreign-key join has no joiner");
    if (s->op != RILL_FKOP_SUBSCRIBE && !(st->kv = rill_context_kv_store(ctx, s->store)))
        return rill_context_fail(ctx, RILL_ETOPOLOGY, "store '%s' is not connected to it",
                                 s->store ? s->store : "(none)");
    return 0;
}

static void fk_close(rill_context_t *ctx, void *state)
{
    (void)ctx;
    fk_state_t *st = state;
    if (!st)
        return;
    rill_bytes_free(&st->kb);
    rill_bytes_free(&st->vb);
    rill_bytes_free(&st->fb);
    rill_bytes_free(&st->ob);
    rill_bytes_free(&st->wb);
    rill_free(st);
}

/* ---- SUBSCRIBE ---- */

/* The foreign key of a left value, serialized into b (a null view: none). */
static int foreign_key_of(rill_context_t *ctx, fk_state_t *st, const rill_record_t *rec,
                          rill_buf_t value, rill_bytes_t *b, rill_buf_t *out)
{
    rill_record_t r = *rec;
    r.value = value;
    rill_buf_t fk = {NULL, 0};
    int rc = st->spec->foreign_key(st->spec->foreign_key_ud, ctx, &r, &fk);
    if (rc)
        return rc;
    return rill__op_ser(ctx, st->fks, fk, b, out, "foreign key");
}

/* Forwards one subscription of the left key (bytes kbytes) to the foreign key fk. */
static int subscribe(rill_context_t *ctx, fk_state_t *st, const rill_record_t *rec, rill_buf_t fk,
                     rill_buf_t kbytes, const uint8_t *hash, uint8_t instruction)
{
    uint8_t head[2 + HASH_LEN], part[4];
    head[0] = SUBSCRIPTION_VERSION | (hash ? 0 : NO_HASH);
    head[1] = instruction;
    if (hash)
        memcpy(head + 2, hash, HASH_LEN);
    rill_encode_i32(part, rill_context_partition(ctx));
    st->wb.len = 0;
    if (rill_bytes_append(&st->wb, head, hash ? sizeof head : 2) ||
        (kbytes.len && rill_bytes_append(&st->wb, kbytes.data, kbytes.len)) ||
        rill_bytes_append(&st->wb, part, sizeof part))
        return out_of_memory(ctx);
    rill_record_t out = *rec;
    out.key = fk;
    out.value = (rill_buf_t){st->wb.data, st->wb.len};
    return rill_context_forward(ctx, &out);
}

static int subscribe_process(rill_context_t *ctx, fk_state_t *st, const rill_record_t *rec)
{
    if (!rec->key.data) {
        drop(ctx, st, rec, "a null key cannot join");
        return 0;
    }
    rill_buf_t new_v = rec->value, old_v = rill_context_old_value(ctx);
    if (!new_v.data && !old_v.data)
        return 0;
    rill_buf_t kbytes, vbytes, new_fk = {NULL, 0}, old_fk = {NULL, 0};
    uint8_t hash_buf[HASH_LEN], *hash = NULL;
    int rc;
    if ((rc = rill__op_ser(ctx, st->ks, rec->key, &st->kb, &kbytes, "key")))
        return rc;
    if (new_v.data) {
        if ((rc = rill__op_ser(ctx, st->vs, new_v, &st->vb, &vbytes, "value")))
            return rc;
        if (vbytes.data) {
            hash128(vbytes, hash_buf);
            hash = hash_buf;
        }
        if ((rc = foreign_key_of(ctx, st, rec, new_v, &st->fb, &new_fk)))
            return rc;
    }
    if (old_v.data && (rc = foreign_key_of(ctx, st, rec, old_v, &st->ob, &old_fk)))
        return rc;
    bool fk_changed = !same_bytes(new_fk, old_fk);
    if (st->spec->left_join) {
        /* Every left row has a result: a null foreign key subscribes too (to no right row). */
        if (old_fk.data && fk_changed &&
            (rc = subscribe(ctx, st, rec, old_fk, kbytes, hash, DELETE_KEY_NO_PROPAGATE)))
            return rc;
        return subscribe(ctx, st, rec, new_fk, kbytes, hash, PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE);
    }
    if (!new_v.data)
        return old_fk.data ? subscribe(ctx, st, rec, old_fk, kbytes, hash, DELETE_KEY_AND_PROPAGATE)
                           : 0;
    if (!new_fk.data) {
        /* The row no longer joins: its result (if any) goes. */
        drop(ctx, st, rec, "a null foreign key cannot join");
        return old_fk.data ? subscribe(ctx, st, rec, old_fk, kbytes, hash, DELETE_KEY_AND_PROPAGATE)
                           : 0;
    }
    if (!old_fk.data || !fk_changed)
        return subscribe(ctx, st, rec, new_fk, kbytes, hash, PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE);
    /* A new foreign key: unsubscribe from the old one silently; the new one's answer replaces
     * (or, without a right row, deletes) the old result. */
    if ((rc = subscribe(ctx, st, rec, old_fk, kbytes, hash, DELETE_KEY_NO_PROPAGATE)))
        return rc;
    return subscribe(ctx, st, rec, new_fk, kbytes, hash, PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE);
}

/* ---- RECEIVE and SUBSCRIPTION (the right side's subscription topic) ---- */

/* The subscription store's key of (foreign key, left key) into b; its prefix (length and
 * foreign key) alone when key is a null view. */
static int combined_key(rill_context_t *ctx, rill_bytes_t *b, rill_buf_t fk, rill_buf_t key,
                        rill_buf_t *out)
{
    uint8_t len[4];
    rill_encode_i32(len, (int32_t)fk.len);
    b->len = 0;
    if (rill_bytes_append(b, len, 4) || (fk.len && rill_bytes_append(b, fk.data, fk.len)) ||
        (key.len && rill_bytes_append(b, key.data, key.len)))
        return out_of_memory(ctx);
    *out = (rill_buf_t){b->data, b->len};
    return 0;
}

static int receive_process(rill_context_t *ctx, fk_state_t *st, const rill_record_t *rec)
{
    subscription_t s;
    int rc = subscription_read(ctx, rec->value, &s);
    if (rc)
        return rc;
    if (!rec->key.data) {
        /* Only a left join's subscription of a null foreign key: answered at once, kept nowhere. */
        if (s.instruction != PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE) {
            drop(ctx, st, rec, "a null foreign key cannot join");
            return 0;
        }
        return rill_context_forward(ctx, rec);
    }
    rill_buf_t ck;
    if ((rc = combined_key(ctx, &st->kb, rec->key, s.key, &ck)))
        return rc;
    bool unsubscribe =
        s.instruction == DELETE_KEY_AND_PROPAGATE || s.instruction == DELETE_KEY_NO_PROPAGATE;
    rc = rill_kv_put(st->kv, ck, unsubscribe ? (rill_buf_t){NULL, 0} : rec->value, rec->timestamp);
    if (rc)
        return store_failed(ctx, st->spec->store, rc);
    return rill_context_forward(ctx, rec);
}

static int subscription_process(rill_context_t *ctx, fk_state_t *st, const rill_record_t *rec)
{
    subscription_t s;
    int rc = subscription_read(ctx, rec->value, &s);
    if (rc)
        return rc;
    if (s.instruction == DELETE_KEY_NO_PROPAGATE)
        return 0;
    rill_buf_t right = {NULL, 0};
    int64_t ts = rec->timestamp, right_ts = 0;
    if (rec->key.data) {
        rc = rill_kv_get(st->kv, rec->key, &right, &right_ts);
        if (rc && rc != RILL_ENOENT)
            return store_failed(ctx, st->spec->store, rc);
        if (rc == RILL_ENOENT)
            right = (rill_buf_t){NULL, 0};
        else if (right_ts > ts)
            ts = right_ts;
    }
    if (s.instruction == PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE && !right.data)
        return 0;
    if (s.instruction == DELETE_KEY_AND_PROPAGATE)
        right = (rill_buf_t){NULL, 0};
    rill_buf_t resp;
    if ((rc = response_write(ctx, st, s.hash, right, &resp)))
        return rc;
    return respond(ctx, rec, s.key, resp, ts, s.partition);
}

/* ---- FOREIGN (the right table's updates) ---- */

static int foreign_process(rill_context_t *ctx, fk_state_t *st, const rill_record_t *rec)
{
    if (!rec->key.data) {
        drop(ctx, st, rec, "a null key cannot join");
        return 0;
    }
    rill_buf_t fk, prefix, value;
    int rc;
    if ((rc = rill__op_ser(ctx, st->fks, rec->key, &st->fb, &fk, "key")) ||
        (rc = rill__op_ser(ctx, st->fvs, rec->value, &st->vb, &value, "value")) ||
        (rc = combined_key(ctx, &st->kb, fk, (rill_buf_t){NULL, 0}, &prefix)))
        return rc;
    rill_store_iter_t *it = rill_kv_range(st->kv, &prefix, NULL, false);
    if (!it)
        return store_failed(ctx, st->spec->store, RILL_EIO);
    rill_buf_t k, stored, wire;
    while (!rc && rill_store_iter_next(it, &k, &stored)) {
        if (k.len < prefix.len || memcmp(k.data, prefix.data, prefix.len) != 0)
            break;
        subscription_t s;
        if (rill_stored_split(stored, &wire, NULL)) {
            rc = store_failed(ctx, st->spec->store, RILL_EIO);
            break;
        }
        if ((rc = subscription_read(ctx, wire, &s)))
            break;
        rill_buf_t key = {(const uint8_t *)k.data + prefix.len, k.len - prefix.len}, resp;
        if (!(rc = response_write(ctx, st, s.hash, value, &resp)))
            rc = respond(ctx, rec, key, resp, rec->timestamp, s.partition);
    }
    rill_store_iter_close(it);
    return rc;
}

/* ---- RESOLVE (the left side's response topic) ---- */

static int resolve_process(rill_context_t *ctx, fk_state_t *st, const rill_record_t *rec)
{
    const uint8_t *p = rec->value.data;
    if (!p || rec->value.len < 1 || !rec->key.data)
        return rill_context_fail(ctx, RILL_ESERDE, "a foreign-key join response is torn");
    if ((p[0] & 0x7F) != RESPONSE_VERSION)
        return rill_context_fail(ctx, RILL_ESERDE,
                                 "the foreign-key join response is of version %d, not %d",
                                 p[0] & 0x7F, RESPONSE_VERSION);
    size_t at = 1;
    const uint8_t *hash = NULL;
    if (!(p[0] & NO_HASH)) {
        if (rec->value.len < 1 + HASH_LEN)
            return rill_context_fail(ctx, RILL_ESERDE, "a foreign-key join response is torn");
        hash = p + 1;
        at += HASH_LEN;
    }
    rill_buf_t right_bytes = {NULL, 0};
    if (rec->value.len > at)
        right_bytes = (rill_buf_t){p + at, rec->value.len - at};
    rill_buf_t left_bytes;
    int rc = rill_kv_get(st->kv, rec->key, &left_bytes, NULL);
    if (rc && rc != RILL_ENOENT)
        return store_failed(ctx, st->spec->store, rc);
    bool have_left = rc == 0;
    uint8_t current[HASH_LEN];
    if (have_left)
        hash128(left_bytes, current);
    if (have_left != (hash != NULL) || (hash && memcmp(hash, current, HASH_LEN) != 0)) {
        /* The answer to a left value the row no longer has: a later answer is on its way. */
        drop(ctx, st, rec, "a stale foreign-key join response");
        return 0;
    }
    rill_buf_t key, left = {NULL, 0}, right = {NULL, 0}, result = {NULL, 0};
    if ((rc = rill__op_de(ctx, st->ks, rec->key, &key, "key")))
        return rc;
    if (right_bytes.data || (st->spec->left_join && have_left)) {
        if ((have_left && (rc = rill__op_de(ctx, st->vs, left_bytes, &left, "value"))) ||
            (right_bytes.data &&
             (rc = rill__op_de(ctx, st->fvs, right_bytes, &right, "foreign value"))) ||
            (rc = st->spec->joiner(st->spec->ud, ctx, key, left, right, &result)))
            return rc;
    }
    rill_record_t out = *rec;
    out.key = key;
    out.value = result;
    return rill_context_forward_change(ctx, &out, (rill_buf_t){NULL, 0});
}

/* The processors, by rill_fkop_t. */
static int (*const processes[])(rill_context_t *, fk_state_t *, const rill_record_t *) = {
    [RILL_FKOP_SUBSCRIBE] = subscribe_process,       [RILL_FKOP_RECEIVE] = receive_process,
    [RILL_FKOP_SUBSCRIPTION] = subscription_process, [RILL_FKOP_FOREIGN] = foreign_process,
    [RILL_FKOP_RESOLVE] = resolve_process,
};

static int fk_process(rill_context_t *ctx, void *state, const rill_record_t *rec)
{
    fk_state_t *st = state;
    return processes[st->spec->op](ctx, st, rec);
}

static const rill_processor_ops fk_ops = {fk_init, fk_process, fk_close};

const rill_processor_ops *rill_fk_join_ops(void)
{
    return &fk_ops;
}
