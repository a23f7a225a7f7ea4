/*
 * The built-in stateless processors: filter, map, flat_map and their kin, peek, foreach, pass
 * (merge and branch outputs) and branch (split). Each is a small process function over an arg
 * holding the user's function; none allocates per record.
 */
#include "operators_int.h"

#include <string.h>

typedef struct branch {
    rill_predicate_fn pred; /* NULL: the default branch */
    void *ud;
    char *child;
} branch_t;

typedef struct {
    rill_op_t op;
    void (*fn)(void);
    void *ud;
    branch_t *branches;
    size_t nbranches;
} op_arg_t;

struct rill_emitter {
    rill_context_t *ctx;
    const rill_record_t *in;
    bool values_only;
};

void *rill_op_arg_new(rill_op_t op, void (*fn)(void), void *ud)
{
    op_arg_t *arg = rill_calloc(1, sizeof *arg);
    if (arg) {
        arg->op = op;
        arg->fn = fn;
        arg->ud = ud;
    }
    return arg;
}

void rill_op_arg_free(void *p)
{
    op_arg_t *arg = p;
    if (!arg)
        return;
    for (size_t i = 0; i < arg->nbranches; i++)
        rill_free(arg->branches[i].child);
    rill_free(arg->branches);
    rill_free(arg);
}

int rill_op_branch_add(void *p, rill_predicate_fn pred, void *ud, const char *child)
{
    op_arg_t *arg = p;
    branch_t *b = rill_realloc(arg->branches, (arg->nbranches + 1) * sizeof *b);
    if (!b)
        return RILL_ENOMEM;
    arg->branches = b;
    b[arg->nbranches] = (branch_t){pred, ud, rill_strdup(child)};
    if (!b[arg->nbranches].child)
        return RILL_ENOMEM;
    arg->nbranches++;
    return 0;
}

int rill_emit(rill_emitter_t *out, rill_buf_t key, rill_buf_t value)
{
    rill_record_t rec = *out->in;
    if (!out->values_only)
        rec.key = key;
    rec.value = value;
    return rill_context_forward(out->ctx, &rec);
}

/* The state of a processor is its arg: the functions are immutable and shared by tasks. */
static int op_init(rill_context_t *ctx, void *arg, void **state)
{
    *state = arg;
    return 0;
}

static int op_process(rill_context_t *ctx, void *state, const rill_record_t *rec)
{
    const op_arg_t *arg = state;
    rill_record_t out;
    int rc;
    switch (arg->op) {
    case RILL_OP_FILTER:
    case RILL_OP_FILTER_NOT: {
        bool pass = ((rill_predicate_fn)arg->fn)(arg->ud, rec);
        if (pass == (arg->op == RILL_OP_FILTER))
            return rill_context_forward(ctx, rec);
        return 0;
    }
    case RILL_OP_MAP:
        out = *rec;
        if ((rc = ((rill_map_fn)arg->fn)(arg->ud, ctx, rec, &out.key, &out.value)))
            return rc;
        return rill_context_forward(ctx, &out);
    case RILL_OP_MAP_VALUES:
        out = *rec;
        if ((rc = ((rill_map_one_fn)arg->fn)(arg->ud, ctx, rec, &out.value)))
            return rc;
        return rill_context_forward(ctx, &out);
    case RILL_OP_SELECT_KEY:
        out = *rec;
        if ((rc = ((rill_map_one_fn)arg->fn)(arg->ud, ctx, rec, &out.key)))
            return rc;
        return rill_context_forward(ctx, &out);
    case RILL_OP_FLAT_MAP:
    case RILL_OP_FLAT_MAP_VALUES: {
        rill_emitter_t em = {ctx, rec, arg->op == RILL_OP_FLAT_MAP_VALUES};
        return ((rill_flat_map_fn)arg->fn)(arg->ud, ctx, rec, &em);
    }
    case RILL_OP_PEEK:
        ((rill_action_fn)arg->fn)(arg->ud, rec);
        return rill_context_forward(ctx, rec);
    case RILL_OP_FOREACH:
        ((rill_action_fn)arg->fn)(arg->ud, rec);
        return 0;
    case RILL_OP_PASS:
        return rill_context_forward(ctx, rec);
    case RILL_OP_BRANCH:
        /* The first branch whose predicate holds takes the record; the default takes the rest. */
        for (size_t i = 0; i < arg->nbranches; i++) {
            const branch_t *b = &arg->branches[i];
            if (!b->pred || b->pred(b->ud, rec))
                return rill_context_forward_to(ctx, b->child, rec);
        }
        return 0;
    }
    return rill_context_fail(ctx, RILL_EINVAL, "unknown built-in operation %d", (int)arg->op);
}

static const rill_processor_ops op_ops = {op_init, op_process, NULL};

const rill_processor_ops *rill_op_ops(rill_op_t op)
{
    (void)op;
    return &op_ops;
}
