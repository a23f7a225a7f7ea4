/*
 * avro_compat.c — Avro schema compatibility: the specification's schema-resolution rules for a
 * reader and a writer, and Confluent's compatibility levels on top.
 *
 * The pair check follows the specification's "Schema Resolution" section and reports as Avro's
 * own checker does (SchemaCompatibility in Avro's Java library), so its test cases port as
 * data: each issue has a kind, Avro's location in the reader ("/fields/1/type") and detail.
 * Choices, with reasons:
 * - Named types match when their unqualified names are equal or a reader alias is the writer's
 *   full name (Avro 1.10+, which Confluent uses: a namespace change alone is compatible).
 * - A writer enum symbol the reader lacks is fine when the reader enum has a default.
 * - Logical types are ignored: only the underlying types are compared, as Confluent does.
 * - A reader union must hold a branch that reads each writer branch; a failing branch's own
 *   issues are not reported, only the branch missing (trial checks are rolled back).
 * - Recursion: a (reader, writer) pair already being checked higher up is taken as compatible,
 *   so recursive records end; nothing else is cached (a rolled-back trial must not hide issues).
 */
#include "avro_int.h"
#include "compat_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct rill_compat_result {
    rill_compat_issue_t *issues;
    size_t count, cap;
};

typedef struct {
    const avro_node_t *reader, *writer;
} pair_t;

typedef struct {
    rill_compat_result_t *result;
    pair_t *stack;
    size_t depth, cap;
    avro_path_t path;
    bool failed; /* out of memory */
    /* How messages name the two schemas, and what the issues record of the check. */
    const char *reader_word, *writer_word;
    size_t previous_index;
    bool new_is_reader;
} checker_t;

static const char *const incompat_names[] = {
    [RILL_AVRO_READER_FIELD_MISSING_DEFAULT_VALUE] = "READER_FIELD_MISSING_DEFAULT_VALUE",
    [RILL_AVRO_TYPE_MISMATCH] = "TYPE_MISMATCH",
    [RILL_AVRO_MISSING_ENUM_SYMBOLS] = "MISSING_ENUM_SYMBOLS",
    [RILL_AVRO_MISSING_UNION_BRANCH] = "MISSING_UNION_BRANCH",
    [RILL_AVRO_NAME_MISMATCH] = "NAME_MISMATCH",
    [RILL_AVRO_FIXED_SIZE_MISMATCH] = "FIXED_SIZE_MISMATCH",
};

const char *rill_avro_incompat_name(rill_avro_incompat_t kind)
{
    return (unsigned)kind <= RILL_AVRO_FIXED_SIZE_MISMATCH ? incompat_names[kind] : NULL;
}

/* ---- compatibility levels (the vocabulary of every schema type's checks) ---- */

static const char *const level_names[] = {
    [RILL_COMPAT_NONE] = "NONE",
    [RILL_COMPAT_BACKWARD] = "BACKWARD",
    [RILL_COMPAT_BACKWARD_TRANSITIVE] = "BACKWARD_TRANSITIVE",
    [RILL_COMPAT_FORWARD] = "FORWARD",
    [RILL_COMPAT_FORWARD_TRANSITIVE] = "FORWARD_TRANSITIVE",
    [RILL_COMPAT_FULL] = "FULL",
    [RILL_COMPAT_FULL_TRANSITIVE] = "FULL_TRANSITIVE",
};

const char *rill_compat_level_name(rill_compat_level_t level)
{
    return (unsigned)level <= RILL_COMPAT_FULL_TRANSITIVE ? level_names[level] : NULL;
}

int rill_compat_level_parse(const char *name, rill_compat_level_t *level)
{
    if (!name || !level)
        return RILL_EINVAL;
    for (rill_compat_level_t l = RILL_COMPAT_NONE; l <= RILL_COMPAT_FULL_TRANSITIVE; l++)
        if (strcasecmp(name, level_names[l]) == 0) {
            *level = l;
            return 0;
        }
    return RILL_EINVAL;
}

/* ---- results ---- */

size_t rill_compat_result_count(const rill_compat_result_t *result)
{
    return result ? result->count : 0;
}

const rill_compat_issue_t *rill_compat_result_at(const rill_compat_result_t *result, size_t i)
{
    return result && i < result->count ? &result->issues[i] : NULL;
}

static void issue_free(rill_compat_issue_t *issue)
{
    rill_free((char *)issue->path);
    rill_free((char *)issue->detail);
    rill_free((char *)issue->message);
}

void rill__compat_result_truncate(rill_compat_result_t *result, size_t count)
{
    while (result->count > count)
        issue_free(&result->issues[--result->count]);
}

rill_compat_result_t *rill__compat_result_new(void)
{
    return rill_calloc(1, sizeof(rill_compat_result_t));
}

int rill__compat_result_add(rill_compat_result_t *result, const rill_compat_issue_t *issue)
{
    if (!rill__avro_grow(&result->issues, &result->cap, result->count, sizeof *result->issues))
        return RILL_ENOMEM;
    rill_compat_issue_t copy = *issue;
    copy.path = rill_strdup(issue->path);
    copy.detail = rill_strdup(issue->detail);
    copy.message = rill_strdup(issue->message);
    if (!copy.path || !copy.detail || !copy.message) {
        issue_free(&copy);
        return RILL_ENOMEM;
    }
    result->issues[result->count++] = copy;
    return 0;
}

void rill_compat_result_destroy(rill_compat_result_t *result)
{
    if (!result)
        return;
    rill__compat_result_truncate(result, 0);
    rill_free(result->issues);
    rill_free(result);
}

/* The sentence of a Confluent verbose message (our words; the error type names are Confluent's
 * and Avro's). */
static void describe(checker_t *c, avro_str_t *s, rill_avro_incompat_t kind, const char *path,
                     const char *detail)
{
    const char *r = c->reader_word, *w = c->writer_word;
    switch (kind) {
    case RILL_AVRO_READER_FIELD_MISSING_DEFAULT_VALUE:
        rill__avro_str_printf(s,
                              "The field '%s' at path '%s' in the %s schema has no default "
                              "value and is missing in the %s schema",
                              detail, path, r, w);
        break;
    case RILL_AVRO_TYPE_MISMATCH:
        rill__avro_str_printf(s,
                              "The type at path '%s' in the %s schema does not match the %s "
                              "schema's",
                              path, r, w);
        break;
    case RILL_AVRO_MISSING_ENUM_SYMBOLS:
        rill__avro_str_printf(s,
                              "The %s schema lacks the enum symbols %s of the %s schema at path "
                              "'%s' and its enum has no default",
                              r, detail, w, path);
        break;
    case RILL_AVRO_MISSING_UNION_BRANCH:
        rill__avro_str_printf(s,
                              "The %s schema's union at path '%s' has no branch that reads a "
                              "type of the %s schema",
                              r, path, w);
        break;
    case RILL_AVRO_NAME_MISMATCH:
        rill__avro_str_printf(s,
                              "The name at path '%s' in the %s schema matches neither the name "
                              "nor an alias of the %s schema's type",
                              path, r, w);
        break;
    case RILL_AVRO_FIXED_SIZE_MISMATCH:
        rill__avro_str_printf(s,
                              "The size of the fixed type at path '%s' differs between the %s "
                              "and the %s schema",
                              path, r, w);
        break;
    }
}

static void report(checker_t *c, rill_avro_incompat_t kind, const char *suffix, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

/* Adds an issue at the current path (with suffix appended, as "/name"). */
static void report(checker_t *c, rill_avro_incompat_t kind, const char *suffix, const char *fmt,
                   ...)
{
    if (c->failed)
        return;
    char detail[1024], path[sizeof c->path.buf + 16];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    snprintf(path, sizeof path, "%s%s", c->path.buf, suffix);
    if (!path[0])
        snprintf(path, sizeof path, "/");
    avro_str_t msg = {0};
    rill__avro_str_printf(&msg, "{errorType:'%s', description:'", incompat_names[kind]);
    describe(c, &msg, kind, path, detail);
    rill__avro_str_printf(&msg, "', additionalInfo:'%s'}", detail);
    rill_compat_issue_t issue = {
        .kind = (int)kind,
        .error_type = incompat_names[kind],
        .path = path,
        .detail = detail,
        .message = msg.s,
        .previous_index = c->previous_index,
        .new_is_reader = c->new_is_reader,
    };
    if (msg.failed || rill__compat_result_add(c->result, &issue) != 0)
        c->failed = true;
    rill_free(msg.s);
}

#define path_push(c, ...)  rill__avro_path_push(&(c)->path, __VA_ARGS__)
#define path_pop(c, saved) rill__avro_path_pop(&(c)->path, saved)

/* ---- the rules ---- */

static void check(checker_t *c, const avro_node_t *reader, const avro_node_t *writer);

/* Runs check() without keeping what it reports; returns whether it found nothing. */
static bool trial(checker_t *c, const avro_node_t *reader, const avro_node_t *writer)
{
    size_t before = c->result->count;
    check(c, reader, writer);
    bool ok = c->result->count == before;
    rill__compat_result_truncate(c->result, before);
    return ok;
}

static void check_name(checker_t *c, const avro_node_t *reader, const avro_node_t *writer)
{
    if (!rill__avro_names_match(reader, writer))
        report(c, RILL_AVRO_NAME_MISMATCH, "/name", "expected: %s", writer->fullname);
}

/* The writer field a reader field reads: by name, then by the reader field's aliases. */
static const avro_field_t *writer_field(const avro_node_t *writer, const avro_field_t *rf)
{
    for (size_t i = 0; i < writer->field_count; i++)
        if (strcmp(writer->fields[i].name, rf->name) == 0)
            return &writer->fields[i];
    for (size_t a = 0; a < rf->alias_count; a++)
        for (size_t i = 0; i < writer->field_count; i++)
            if (strcmp(writer->fields[i].name, rf->aliases[a]) == 0)
                return &writer->fields[i];
    return NULL;
}

static void check_record(checker_t *c, const avro_node_t *reader, const avro_node_t *writer)
{
    check_name(c, reader, writer);
    for (size_t i = 0; i < reader->field_count; i++) {
        const avro_field_t *rf = &reader->fields[i];
        const avro_field_t *wf = writer_field(writer, rf);
        size_t saved = path_push(c, "/fields/%zu", i);
        if (!wf) {
            if (!rf->def)
                report(c, RILL_AVRO_READER_FIELD_MISSING_DEFAULT_VALUE, "", "%s", rf->name);
        } else {
            size_t t = path_push(c, "/type");
            check(c, rf->type, wf->type);
            path_pop(c, t);
        }
        path_pop(c, saved);
    }
}

static bool has_symbol(const avro_node_t *e, const char *s)
{
    for (size_t i = 0; i < e->symbol_count; i++)
        if (strcmp(e->symbols[i], s) == 0)
            return true;
    return false;
}

static int cmp_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void check_enum(checker_t *c, const avro_node_t *reader, const avro_node_t *writer)
{
    check_name(c, reader, writer);
    if (reader->enum_default)
        return; /* an unknown writer symbol reads as the default */
    const char **missing = rill_malloc((writer->symbol_count + 1) * sizeof *missing);
    if (!missing) {
        c->failed = true;
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < writer->symbol_count; i++)
        if (!has_symbol(reader, writer->symbols[i]))
            missing[n++] = writer->symbols[i];
    if (n) {
        /* Avro lists them sorted, "[C, D]". */
        qsort(missing, n, sizeof *missing, cmp_strings);
        avro_str_t list = {0};
        rill__avro_str_cstr(&list, "[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                rill__avro_str_cstr(&list, ", ");
            rill__avro_str_cstr(&list, missing[i]);
        }
        rill__avro_str_cstr(&list, "]");
        if (list.failed)
            c->failed = true;
        else
            report(c, RILL_AVRO_MISSING_ENUM_SYMBOLS, "/symbols", "%s", list.s);
        rill_free(list.s);
    }
    rill_free(missing);
}

/* Whether a reader of primitive type r reads a writer of primitive type w (promotions). */
static bool promotes(rill_avro_type_t r, rill_avro_type_t w)
{
    switch (r) {
    case RILL_AVRO_LONG:
        return w == RILL_AVRO_INT;
    case RILL_AVRO_FLOAT:
        return w == RILL_AVRO_INT || w == RILL_AVRO_LONG;
    case RILL_AVRO_DOUBLE:
        return w == RILL_AVRO_INT || w == RILL_AVRO_LONG || w == RILL_AVRO_FLOAT;
    case RILL_AVRO_BYTES:
        return w == RILL_AVRO_STRING;
    case RILL_AVRO_STRING:
        return w == RILL_AVRO_BYTES;
    default:
        return false;
    }
}

static void check_same_type(checker_t *c, const avro_node_t *reader, const avro_node_t *writer)
{
    char wname[16];
    size_t saved;
    switch (reader->type) {
    case RILL_AVRO_ARRAY:
    case RILL_AVRO_MAP:
        saved = path_push(c, reader->type == RILL_AVRO_ARRAY ? "/items" : "/values");
        check(c, reader->items, writer->items);
        path_pop(c, saved);
        return;
    case RILL_AVRO_FIXED:
        check_name(c, reader, writer);
        if (reader->size != writer->size)
            report(c, RILL_AVRO_FIXED_SIZE_MISMATCH, "/size", "expected: %zu, found: %zu",
                   writer->size, reader->size);
        return;
    case RILL_AVRO_ENUM:
        check_enum(c, reader, writer);
        return;
    case RILL_AVRO_RECORD:
        check_record(c, reader, writer);
        return;
    case RILL_AVRO_UNION:
        /* Each writer branch must be read by some reader branch. */
        for (size_t i = 0; i < writer->branch_count; i++) {
            saved = path_push(c, "/%zu", i);
            if (!trial(c, reader, writer->branches[i]))
                report(c, RILL_AVRO_MISSING_UNION_BRANCH, "",
                       "reader union lacking writer type: %s",
                       rill__avro_type_upper(writer->branches[i]->type, wname));
            path_pop(c, saved);
        }
        return;
    default:
        return; /* primitives of one type; logical types are ignored */
    }
}

static void check(checker_t *c, const avro_node_t *reader, const avro_node_t *writer)
{
    char rname[16], wname[16];
    if (c->failed)
        return;
    for (size_t i = 0; i < c->depth; i++)
        if (c->stack[i].reader == reader && c->stack[i].writer == writer)
            return; /* already being checked further up: recursion */
    if (!rill__avro_grow(&c->stack, &c->cap, c->depth, sizeof *c->stack)) {
        c->failed = true;
        return;
    }
    c->stack[c->depth++] = (pair_t){reader, writer};

    if (reader->type == writer->type) {
        check_same_type(c, reader, writer);
    } else if (writer->type == RILL_AVRO_UNION) {
        /* Every branch the writer may have written must be readable. */
        for (size_t i = 0; i < writer->branch_count; i++)
            check(c, reader, writer->branches[i]);
    } else if (reader->type == RILL_AVRO_UNION) {
        bool found = false;
        for (size_t i = 0; i < reader->branch_count && !found; i++)
            found = trial(c, reader->branches[i], writer);
        if (!found)
            report(c, RILL_AVRO_MISSING_UNION_BRANCH, "", "reader union lacking writer type: %s",
                   rill__avro_type_upper(writer->type, wname));
    } else if (!promotes(reader->type, writer->type)) {
        report(
            c, RILL_AVRO_TYPE_MISMATCH, "", "reader type: %s not compatible with writer type: %s",
            rill__avro_type_upper(reader->type, rname), rill__avro_type_upper(writer->type, wname));
    }
    c->depth--;
}

/* Checks one pair into result. */
static int check_pair(checker_t *c, const rill_avro_schema_t *reader,
                      const rill_avro_schema_t *writer)
{
    c->path.len = 0;
    c->path.buf[0] = 0;
    c->depth = 0;
    check(c, reader->top, writer->top);
    return c->failed ? RILL_ENOMEM : 0;
}

int rill_avro_compatible(const rill_avro_schema_t *reader, const rill_avro_schema_t *writer,
                         rill_compat_result_t **result)
{
    if (!reader || !writer || !result)
        return RILL_EINVAL;
    checker_t c = {
        .result = rill__compat_result_new(), .reader_word = "reader", .writer_word = "writer"};
    if (!c.result)
        return RILL_ENOMEM;
    int rc = check_pair(&c, reader, writer);
    rill_free(c.stack);
    if (rc) {
        rill_compat_result_destroy(c.result);
        return rc;
    }
    *result = c.result;
    return 0;
}

int rill_compat_check_avro(rill_compat_level_t level, const rill_avro_schema_t *new_schema,
                           const rill_avro_schema_t *const *previous, size_t count,
                           rill_compat_result_t **result)
{
    if (!new_schema || (count && !previous) || !result || !rill_compat_level_name(level))
        return RILL_EINVAL;
    for (size_t i = 0; i < count; i++)
        if (!previous[i])
            return RILL_EINVAL;
    bool backward = level == RILL_COMPAT_BACKWARD || level == RILL_COMPAT_BACKWARD_TRANSITIVE ||
                    level == RILL_COMPAT_FULL || level == RILL_COMPAT_FULL_TRANSITIVE;
    bool forward = level == RILL_COMPAT_FORWARD || level == RILL_COMPAT_FORWARD_TRANSITIVE ||
                   level == RILL_COMPAT_FULL || level == RILL_COMPAT_FULL_TRANSITIVE;
    bool transitive = level == RILL_COMPAT_BACKWARD_TRANSITIVE ||
                      level == RILL_COMPAT_FORWARD_TRANSITIVE ||
                      level == RILL_COMPAT_FULL_TRANSITIVE;
    checker_t c = {.result = rill__compat_result_new()};
    if (!c.result)
        return RILL_ENOMEM;
    int rc = 0;
    /* The latest version first, as Confluent reports: its issues are the likeliest news. */
    size_t first = transitive || count == 0 ? 0 : count - 1;
    for (size_t i = count; rc == 0 && i > first; i--) {
        const rill_avro_schema_t *old = previous[i - 1];
        c.previous_index = i - 1;
        if (backward && rc == 0) {
            c.reader_word = "new";
            c.writer_word = "old";
            c.new_is_reader = true;
            rc = check_pair(&c, new_schema, old);
        }
        if (forward && rc == 0) {
            c.reader_word = "old";
            c.writer_word = "new";
            c.new_is_reader = false;
            rc = check_pair(&c, old, new_schema);
        }
    }
    rill_free(c.stack);
    if (rc) {
        rill_compat_result_destroy(c.result);
        return rc;
    }
    *result = c.result;
    return 0;
}
