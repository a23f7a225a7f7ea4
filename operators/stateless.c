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
    int child; /* the child's node index in the topology */
} branch_t;

typedef struct op_arg {
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
    rill_free(arg->branches);
    rill_free(arg);
}

int rill_op_branch_add(void *p, rill_predicate_fn pred, void *ud, int child)
{
    op_arg_t *arg = p;
    branch_t *b = rill_realloc(arg->branches, (arg->nbranches + 1) * sizeof *b);
    if (!b)
        return RILL_ENOMEM;
    arg->branches = b;
    b[arg->nbranches++] = (branch_t){pred, ud, child};
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

/* A processor's per-task state: its arg (the functions, immutable and shared by tasks) and, for
 * a branch, where each branch's child sits among this instance's children, resolved once here. */
typedef struct {
    const op_arg_t *arg;
    int position[];
} op_state_t;

static int op_init(rill_context_t *ctx, void *p, void **state)
{
    const op_arg_t *arg = p;
    size_t n = arg->op == RILL_OP_BRANCH ? arg->nbranches : 0;
    op_state_t *st = rill_malloc(sizeof *st + n * sizeof(int));
    if (!st)
        return RILL_ENOMEM;
    st->arg = arg;
    for (size_t i = 0; i < n; i++) {
        st->position[i] = -1;
        for (size_t c = 0; c < ctx->inst->nchildren; c++)
            if (ctx->inst->children[c]->index == arg->branches[i].child)
                st->position[i] = (int)c;
        if (st->position[i] < 0) {
            rill_free(st);
            return rill_context_fail(ctx, RILL_ETOPOLOGY, "branch %zu has no child node %d", i,
                                     arg->branches[i].child);
        }
    }
    *state = st;
    return 0;
}

static void op_close(rill_context_t *ctx, void *state)
{
    rill_free(state);
}

static int op_process(rill_context_t *ctx, void *state, const rill_record_t *rec)
{
    const op_state_t *st = state;
    const op_arg_t *arg = st->arg;
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
                return rill__forward_one(ctx->inst->children[st->position[i]], rec);
        }
        return 0;
    }
    return rill_context_fail(ctx, RILL_EINVAL, "unknown built-in operation %d", (int)arg->op);
}

static const rill_processor_ops op_ops = {op_init, op_process, op_close};

const rill_processor_ops *rill_op_ops(rill_op_t op)
{
    (void)op;
    return &op_ops;
}
