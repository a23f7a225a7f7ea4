/*
 * A bank account as an event-sourced aggregate, for the tests of rill_stream_decide. Commands
 * (string values): "deposit:<n>", "withdraw:<n>" (no overdraft), "double:<n>" (two deposits of n
 * in one decision), "fail" (decide fails), "bogus" (emits a deposit and an event evolve refuses).
 * Events: "deposited:<n>", "withdrew:<n>". The state: the balance, an int64 in native byte order.
 * Include after cmocka.h.
 */
#ifndef RILL_TESTS_BANK_H
#define RILL_TESTS_BANK_H

#include <rill/dsl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The balance of a state (0 for a new account). */
static inline int64_t bank_balance(rill_buf_t state)
{
    int64_t b = 0;
    if (state.len == sizeof b)
        memcpy(&b, state.data, sizeof b);
    return b;
}

/* Whether v is "<verb>:<n>"; n into *n. */
static inline bool bank_parse(rill_buf_t v, const char *verb, int64_t *n)
{
    char buf[64];
    size_t len = strlen(verb);
    if (!v.data || v.len >= sizeof buf || v.len <= len + 1 || memcmp(v.data, verb, len) != 0 ||
        ((const char *)v.data)[len] != ':')
        return false;
    memcpy(buf, v.data, v.len);
    buf[v.len] = 0;
    char *end;
    *n = strtoll(buf + len + 1, &end, 10);
    return *end == 0;
}

static inline int bank_decide(void *ud, rill_context_t *ctx, const rill_record_t *cmd,
                              rill_buf_t state, rill_decision_t *out)
{
    (void)ud;
    rill_arena_t *a = rill_context_arena(ctx);
    int64_t n, balance = bank_balance(state);
    if (bank_parse(cmd->value, "deposit", &n)) {
        if (n <= 0)
            return rill_decision_reject(out, "a deposit must be positive");
        return rill_decision_emit(out, rill_arena_printf(a, "deposited:%lld", (long long)n));
    }
    if (bank_parse(cmd->value, "withdraw", &n)) {
        if (n > balance)
            return rill_decision_reject(
                out, rill_arena_printf(a, "insufficient funds: balance %lld, withdrawal %lld",
                                       (long long)balance, (long long)n)
                         .data);
        return rill_decision_emit(out, rill_arena_printf(a, "withdrew:%lld", (long long)n));
    }
    if (bank_parse(cmd->value, "double", &n)) {
        rill_buf_t e = rill_arena_printf(a, "deposited:%lld", (long long)n);
        int rc = rill_decision_emit(out, e);
        return rc ? rc : rill_decision_emit(out, e);
    }
    if (cmd->value.len == 4 && memcmp(cmd->value.data, "fail", 4) == 0)
        return rill_context_fail(ctx, RILL_EPROCESS, "the bank cannot decide 'fail'");
    if (cmd->value.len == 5 && memcmp(cmd->value.data, "bogus", 5) == 0) {
        int rc = rill_decision_emit(out, rill_buf_str("deposited:1"));
        return rc ? rc : rill_decision_emit(out, rill_buf_str("bogus"));
    }
    return rill_decision_reject(out, "unknown command");
}

static inline int bank_evolve(void *ud, rill_context_t *ctx, rill_buf_t state, rill_buf_t event,
                              rill_buf_t *out)
{
    (void)ud;
    int64_t n, balance = bank_balance(state);
    if (bank_parse(event, "deposited", &n))
        balance += n;
    else if (bank_parse(event, "withdrew", &n))
        balance -= n;
    else
        return rill_context_fail(ctx, RILL_EPROCESS, "the bank cannot apply '%.*s'", (int)event.len,
                                 (const char *)event.data);
    *out = rill_arena_copy(rill_context_arena(ctx), &balance, sizeof balance);
    return out->data ? 0 : RILL_ENOMEM;
}

/* A random deposit, withdrawal (up to 200, so some overdraw) or double into value. */
static inline void bank_random_command(char *value, size_t size)
{
    int kind = rand() % 3;
    long long n = 1 + rand() % 100;
    if (kind == 0)
        snprintf(value, size, "deposit:%lld", n);
    else if (kind == 1)
        snprintf(value, size, "withdraw:%lld", 2 * n);
    else
        snprintf(value, size, "double:%lld", n / 4);
}

/* An account as the tests model it, apart from Rill. */
typedef struct {
    int64_t balance;
    uint64_t version;
} bank_account_t;

/* Applies command (as bank_random_command makes them) to the model; the reply it gets into
 * want. Returns how many events it makes, or -1 when it is rejected. */
static inline int bank_model(bank_account_t *a, const char *command, char *want, size_t size)
{
    int64_t n;
    rill_buf_t c = rill_buf_str(command);
    int events = 1;
    if (bank_parse(c, "deposit", &n) && n > 0) {
        a->balance += n;
    } else if (bank_parse(c, "withdraw", &n) && n <= a->balance) {
        a->balance -= n;
    } else if (bank_parse(c, "double", &n)) {
        a->balance += 2 * n;
        events = 2;
    } else if (bank_parse(c, "withdraw", &n)) {
        snprintf(want, size,
                 "{\"status\":\"rejected\",\"version\":%llu,\"reason\":\"insufficient funds: "
                 "balance %lld, withdrawal %lld\"}",
                 (unsigned long long)a->version, (long long)a->balance, (long long)n);
        return -1;
    } else {
        fail_msg("the model knows no command '%s'", command);
    }
    a->version += (uint64_t)events;
    snprintf(want, size, "{\"status\":\"accepted\",\"version\":%llu,\"events\":%d}",
             (unsigned long long)a->version, events);
    return events;
}

/* Applies an event of the event topic to an account folded from it; false for an unknown one. */
static inline bool bank_fold(bank_account_t *a, rill_buf_t event)
{
    int64_t n;
    if (bank_parse(event, "deposited", &n))
        a->balance += n;
    else if (bank_parse(event, "withdrew", &n))
        a->balance -= n;
    else
        return false;
    a->version++;
    return true;
}

#endif
