/*
 * The change serde (rill_serde_change, processor.h): a table's regrouped update as a group-by
 * repartitions it: the inner serde's bytes of the value, then a flag byte saying whether the
 * update adds the value or takes it back.
 */
#include "operators_int.h"

#include <stdio.h>

static int change_serialize(void *state, rill_buf_t value, rill_bytes_t *out, bool *is_null,
                            char *errstr, size_t errstr_size)
{
    if (value.len != sizeof(rill_change_t)) {
        snprintf(errstr, errstr_size,
                 "a table change view must be a rill_change_t (%zu bytes), "
                 "not %zu bytes",
                 sizeof(rill_change_t), value.len);
        return RILL_ESERDE;
    }
    const rill_change_t *c = value.data;
    bool null = false;
    int rc =
        c->value.data ? rill_serde_serialize(state, c->value, out, &null, errstr, errstr_size) : 0;
    if (rc)
        return rc;
    uint8_t flag = c->subtract;
    *is_null = false;
    return rill_bytes_append(out, &flag, 1);
}

static int change_deserialize(void *state, rill_buf_t bytes, rill_arena_t *arena, rill_buf_t *value,
                              char *errstr, size_t errstr_size)
{
    if (!bytes.data) {
        *value = (rill_buf_t){NULL, 0};
        return 0;
    }
    if (bytes.len < 1) {
        snprintf(errstr, errstr_size, "a table change needs at least its flag byte, got 0 bytes");
        return RILL_ESERDE;
    }
    rill_change_t *c = rill_arena_alloc(arena, sizeof *c);
    if (!c)
        return RILL_ENOMEM;
    const uint8_t *p = bytes.data;
    c->subtract = p[bytes.len - 1] != 0;
    int rc = rill_serde_deserialize(state, (rill_buf_t){p, bytes.len - 1}, arena, &c->value, errstr,
                                    errstr_size);
    if (rc)
        return rc;
    *value = (rill_buf_t){c, sizeof *c};
    return 0;
}

static void change_destroy(void *state)
{
    rill_serde_unref(state);
}

static const rill_serde_ops change_ops = {.name = "change",
                                          .serialize = change_serialize,
                                          .deserialize = change_deserialize,
                                          .destroy = change_destroy};

rill_serde_t *rill_serde_change(rill_serde_t *inner)
{
    if (!inner)
        return NULL;
    rill_serde_t *s = rill_serde_new(&change_ops, rill_serde_ref(inner));
    if (!s)
        rill_serde_unref(inner);
    return s;
}
