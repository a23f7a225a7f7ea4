/*
 * Values as people write and read them, for the query server's URLs and answers (and tools):
 * text -> a serde's bytes, and a serde's bytes -> JSON. By the built-in serdes' names; a custom
 * serde's bytes come out as base64. Not for the hot path: it allocates. jansson escapes strings;
 * OpenSSL's libcrypto writes base64.
 */
#include "avro_int.h"

#include <rill/serde.h>

#include <jansson.h>
#include <openssl/evp.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *errstr, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *errstr, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, size, fmt, ap);
    va_end(ap);
    return RILL_EINVAL;
}

/* Which built-in serde serde is, by identity (a custom serde may take any name). */
static bool named(const rill_serde_t *serde, const char *name)
{
    if (!strcmp(name, "avro"))
        return rill__serde_is_avro(serde);
    if (!strcmp(name, "json-schema"))
        return rill__serde_is_json_schema(serde);
    const rill_serde_t *builtin = !strcmp(name, "bytes")    ? rill_serde_bytes()
                                  : !strcmp(name, "string") ? rill_serde_string()
                                  : !strcmp(name, "int32")  ? rill_serde_int32()
                                  : !strcmp(name, "int64")  ? rill_serde_int64()
                                  : !strcmp(name, "double") ? rill_serde_double()
                                  : !strcmp(name, "json")   ? rill_serde_json()
                                                            : NULL;
    return serde == builtin;
}

/* Parses text as a decimal integer in [lo, hi]. */
static int integer(const char *text, long long lo, long long hi, long long *v, const char *serde,
                   char *errstr, size_t size)
{
    char *end;
    errno = 0;
    *v = strtoll(text, &end, 10);
    /* Digits, with a minus sign at most: strtoll would take spaces and a plus sign. */
    bool digits = text[0] == '-' ? text[1] >= '0' && text[1] <= '9' : *text >= '0' && *text <= '9';
    if (!digits || *end || errno || *v < lo || *v > hi)
        return fail(errstr, size, "'%s' is not an integer the %s serde can hold", text, serde);
    return 0;
}

int rill_serde_from_text(const rill_serde_t *serde, const char *text, rill_bytes_t *out,
                         char *errstr, size_t errstr_size)
{
    const char *name = rill_serde_name(serde);
    bool is_null;
    char why[256];
    out->len = 0;
    if (named(serde, "bytes") || named(serde, "string"))
        return rill_serde_serialize(serde, (rill_buf_t){text, strlen(text)}, out, &is_null, errstr,
                                    errstr_size);
    if (named(serde, "int32") || named(serde, "int64")) {
        long long v;
        bool narrow = named(serde, "int32");
        if (integer(text, narrow ? INT32_MIN : INT64_MIN, narrow ? INT32_MAX : INT64_MAX, &v, name,
                    errstr, errstr_size))
            return RILL_EINVAL;
        int32_t v32 = (int32_t)v;
        int64_t v64 = v;
        rill_buf_t view = narrow ? (rill_buf_t){&v32, sizeof v32} : (rill_buf_t){&v64, sizeof v64};
        return rill_serde_serialize(serde, view, out, &is_null, errstr, errstr_size);
    }
    if (named(serde, "double")) {
        char *end;
        errno = 0;
        double d = strtod(text, &end);
        if (!*text || *end || isspace((unsigned char)text[0]) || errno == ERANGE)
            return fail(errstr, errstr_size, "'%s' is not a number a double can hold", text);
        return rill_serde_serialize(serde, (rill_buf_t){&d, sizeof d}, out, &is_null, errstr,
                                    errstr_size);
    }
    if (named(serde, "json")) {
        /* The json serde's bytes are JSON text: check it is JSON, then keep it as written. */
        rill_arena_t *arena = rill_arena_new(4096);
        rill_buf_t doc;
        if (!arena)
            return RILL_ENOMEM;
        int rc = rill_serde_deserialize(serde, (rill_buf_t){text, strlen(text)}, arena, &doc, why,
                                        sizeof why);
        rill_arena_destroy(arena);
        if (rc)
            return fail(errstr, errstr_size, "'%s' is not JSON: %s", text, why);
        return rill_bytes_append(out, text, strlen(text));
    }
    return fail(errstr, errstr_size,
                "the %s serde has no text form (bytes, string, int32, int64, double and json do)",
                name);
}

/* Appends the JSON text of a jansson value (a string or a number) to out. */
static int append_json(rill_bytes_t *out, json_t *v)
{
    if (!v)
        return RILL_ENOMEM;
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(v);
    if (!s)
        return RILL_ENOMEM;
    int rc = rill_bytes_append(out, s, strlen(s));
    free(s);
    return rc;
}

static int append_base64(rill_bytes_t *out, rill_buf_t bytes)
{
    size_t n = 4 * ((bytes.len + 2) / 3) + 1;
    char *b64 = rill_malloc(n);
    if (!b64)
        return RILL_ENOMEM;
    int len = EVP_EncodeBlock((unsigned char *)b64, bytes.data, (int)bytes.len);
    int rc = append_json(out, json_stringn(b64, (size_t)len));
    rill_free(b64);
    return rc;
}

/* rill_avro_format into a buffer that grows until the text fits (it cuts short otherwise). */
static int append_avro(rill_bytes_t *out, rill_buf_t value)
{
    for (size_t size = 4096; size <= (64u << 20); size *= 4) { /* then too big to answer */
        char *buf = rill_malloc(size);
        if (!buf)
            return RILL_ENOMEM;
        int rc = rill_avro_format(value.data, buf, size);
        size_t len = strlen(buf);
        if (!rc && len + 1 < size)
            rc = rill_bytes_append(out, buf, len);
        else if (!rc)
            rc = 1; /* it may have been cut: again, larger */
        rill_free(buf);
        if (rc <= 0)
            return rc;
    }
    return RILL_ENOMEM;
}

int rill_serde_to_json(const rill_serde_t *serde, rill_buf_t bytes, rill_bytes_t *out, char *errstr,
                       size_t errstr_size)
{
    if (!bytes.data)
        return rill_bytes_append(out, "null", 4);
    const char *name = rill_serde_name(serde);
    bool builtin = named(serde, "bytes") || named(serde, "string") || named(serde, "int32") ||
                   named(serde, "int64") || named(serde, "double") || named(serde, "json") ||
                   named(serde, "json-schema") || named(serde, "avro");
    if (!builtin) { /* a custom serde's bytes, as they are */
        int rc = append_base64(out, bytes);
        if (rc)
            snprintf(errstr, errstr_size, "a %s value as JSON: out of memory", name);
        return rc;
    }
    rill_arena_t *arena = rill_arena_new(4096);
    if (!arena)
        return RILL_ENOMEM;
    rill_buf_t v;
    char why[512];
    int rc = rill_serde_deserialize(serde, bytes, arena, &v, why, sizeof why);
    if (rc) {
        rill_arena_destroy(arena);
        snprintf(errstr, errstr_size, "the %s serde cannot read the stored bytes: %s", name, why);
        return rc;
    }
    size_t had = out->len;
    char num[64];
    if (named(serde, "bytes")) {
        rc = append_base64(out, v);
    } else if (named(serde, "string")) {
        rc = append_json(out, json_stringn(v.data, v.len));
    } else if (named(serde, "int32")) {
        rc = rill_bytes_append(
            out, num, (size_t)snprintf(num, sizeof num, "%" PRId32, *(const int32_t *)v.data));
    } else if (named(serde, "int64")) {
        rc = rill_bytes_append(
            out, num, (size_t)snprintf(num, sizeof num, "%" PRId64, *(const int64_t *)v.data));
    } else if (named(serde, "double")) {
        double d = *(const double *)v.data;
        if (isfinite(d))
            rc = rill_bytes_append(out, num, (size_t)snprintf(num, sizeof num, "%.17g", d));
        else /* JSON has no NaN or infinity */
            rc = append_json(out, json_string(isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity"));
    } else if (named(serde, "json")) {
        rc = rill_bytes_append(out, bytes.data, bytes.len); /* JSON text, as stored */
    } else if (named(serde, "json-schema")) {
        /* Confluent's wire header (5 bytes), then the JSON text, which deserialize checked. */
        rc = rill_bytes_append(out, (const uint8_t *)bytes.data + 5, bytes.len - 5);
    } else {
        rc = append_avro(out, v);
    }
    rill_arena_destroy(arena);
    if (rc) {
        out->len = had; /* no half value */
        snprintf(errstr, errstr_size, "a %s value as JSON: %s", name,
                 rc == RILL_ENOMEM ? "out of memory (or over 64 MB of text)" : rill_strerror(rc));
    }
    return rc;
}
