/*
 * The schema registry client: Confluent Schema Registry's REST API over libcurl (the one file in
 * Rill that includes curl), with jansson for the JSON bodies. Every answer is cached: schema
 * texts by id, ids (and versions) by (subject, schema text), so a process asks once per schema
 * and the serdes never per record. Entries are never evicted: registries hold few schemas, and
 * the texts handed out are borrowed until the client is freed, which a cache with eviction
 * could not promise.
 *
 * One mutex guards the cache and the curl handle: calls happen on the serdes' first use of a
 * schema, never on the hot path, so serialising them costs nothing that matters. "mock://" makes
 * a client that answers from its cache alone and assigns ids itself (as Confluent's mock://
 * scheme does for tests).
 */
#include "avro_int.h"

#include <curl/curl.h>
#include <jansson.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define CONTENT_TYPE "application/vnd.schemaregistry.v1+json"
#define set_err      rill__serde_err

typedef struct by_id {
    int32_t id;
    char *text;
    struct by_id *next;
} by_id_t;

typedef struct by_subject {
    char *subject;
    char *text;
    int32_t id, version; /* version -1: not known (registered through the REST API) */
    struct by_subject *next;
} by_subject_t;

/* A schema id the registry said it does not know (40403), remembered for MISS_TTL_MS so a run
 * of records carrying it goes to the deserialization handler without a request each. */
#define MISSES      16
#define MISS_TTL_MS 10000
typedef struct {
    int32_t id;
    int64_t until_ms; /* monotonic; 0: a free slot */
    char why[256];
} miss_t;

struct rill_registry_client {
    atomic_uint refs;
    char *url; /* without a trailing '/' */
    char *user_info;
    bool mock;
    pthread_mutex_t lock;
    CURL *curl;
    atomic_uint_fast64_t requests;
    by_id_t *ids;
    by_subject_t *subjects;
    int32_t mock_next_id;
    miss_t misses[MISSES];
    size_t next_miss;
};

/* The remembered answer for id (with the lock held), or NULL. */
static const miss_t *find_miss(rill_registry_client_t *r, int32_t id)
{
    int64_t now = rill_monotonic_ms();
    for (size_t i = 0; i < MISSES; i++)
        if (r->misses[i].until_ms > now && r->misses[i].id == id)
            return &r->misses[i];
    return NULL;
}

static void add_miss(rill_registry_client_t *r, int32_t id, const char *why)
{
    miss_t *m = &r->misses[r->next_miss++ % MISSES];
    m->id = id;
    m->until_ms = rill_monotonic_ms() + MISS_TTL_MS;
    snprintf(m->why, sizeof m->why, "%s", why);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void init_curl(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *rill__registry_url(const rill_registry_client_t *registry)
{
    return registry ? registry->url : "(none)";
}

rill_registry_client_t *rill_registry_client_new(const char *url, const char *user_info,
                                                 char *errstr, size_t errstr_size)
{
    if (!url || !*url) {
        set_err(errstr, errstr_size, "schema registry: schema.registry.url is empty");
        return NULL;
    }
    bool mock = !strncmp(url, "mock://", 7);
    if (!mock && strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
        set_err(errstr, errstr_size,
                "schema registry: schema.registry.url \"%s\" is not http://, https:// or "
                "mock://",
                url);
        return NULL;
    }
    rill_registry_client_t *r = rill_calloc(1, sizeof *r);
    if (!r) {
        set_err(errstr, errstr_size, "schema registry: out of memory");
        return NULL;
    }
    atomic_init(&r->refs, 1);
    atomic_init(&r->requests, 0);
    pthread_mutex_init(&r->lock, NULL);
    r->mock = mock;
    /* Confluent's clients take a comma-separated list of URLs; this client uses the first. */
    size_t len = strcspn(url, ",");
    while (!mock && len && url[len - 1] == '/')
        len--;
    r->url = rill_malloc(len + 1);
    if (r->url) {
        memcpy(r->url, url, len);
        r->url[len] = 0;
    }
    r->user_info = user_info ? rill_strdup(user_info) : NULL;
    if (!r->url || (user_info && !r->user_info)) {
        set_err(errstr, errstr_size, "schema registry: out of memory");
        rill_registry_client_unref(r);
        return NULL;
    }
    if (!mock) {
        pthread_once(&curl_once, init_curl);
        if (curl_init_rc != CURLE_OK || !(r->curl = curl_easy_init())) {
            set_err(errstr, errstr_size, "schema registry: libcurl failed to start");
            rill_registry_client_unref(r);
            return NULL;
        }
    }
    return r;
}

rill_registry_client_t *rill_registry_client_ref(rill_registry_client_t *registry)
{
    if (registry)
        atomic_fetch_add_explicit(&registry->refs, 1, memory_order_relaxed);
    return registry;
}

void rill_registry_client_unref(rill_registry_client_t *registry)
{
    if (!registry || atomic_fetch_sub_explicit(&registry->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (by_id_t *e = registry->ids, *next; e; e = next) {
        next = e->next;
        rill_free(e->text);
        rill_free(e);
    }
    for (by_subject_t *e = registry->subjects, *next; e; e = next) {
        next = e->next;
        rill_free(e->subject);
        rill_free(e->text);
        rill_free(e);
    }
    if (registry->curl)
        curl_easy_cleanup(registry->curl);
    pthread_mutex_destroy(&registry->lock);
    rill_free(registry->url);
    rill_free(registry->user_info);
    rill_free(registry);
}

uint64_t rill_registry_client_requests(const rill_registry_client_t *registry)
{
    return registry ? atomic_load(&((rill_registry_client_t *)registry)->requests) : 0;
}

/* ---- The cache (called with the lock held) ---- */

static by_id_t *find_id(rill_registry_client_t *r, int32_t id)
{
    by_id_t *e = r->ids;
    while (e && e->id != id)
        e = e->next;
    return e;
}

static by_id_t *find_text(rill_registry_client_t *r, const char *text)
{
    by_id_t *e = r->ids;
    while (e && strcmp(e->text, text))
        e = e->next;
    return e;
}

/* Remembers id's text; returns the cached text (borrowed by callers) or NULL. */
static const char *add_id(rill_registry_client_t *r, int32_t id, const char *text)
{
    by_id_t *e = find_id(r, id);
    if (e)
        return e->text;
    if (!(e = rill_malloc(sizeof *e)))
        return NULL;
    if (!(e->text = rill_strdup(text))) {
        rill_free(e);
        return NULL;
    }
    e->id = id;
    e->next = r->ids;
    r->ids = e;
    return e->text;
}

static by_subject_t *find_subject(rill_registry_client_t *r, const char *subject, const char *text)
{
    by_subject_t *e = r->subjects;
    while (e && (strcmp(e->subject, subject) || (text && strcmp(e->text, text))))
        e = e->next;
    return e;
}

static int add_subject(rill_registry_client_t *r, const char *subject, const char *text, int32_t id,
                       int32_t version)
{
    by_subject_t *e = find_subject(r, subject, text);
    if (e) {
        if (version >= 0)
            e->version = version;
        return 0;
    }
    if (!(e = rill_calloc(1, sizeof *e)))
        return RILL_ENOMEM;
    e->subject = rill_strdup(subject);
    e->text = rill_strdup(text);
    if (!e->subject || !e->text) {
        rill_free(e->subject);
        rill_free(e->text);
        rill_free(e);
        return RILL_ENOMEM;
    }
    e->id = id;
    e->version = version;
    e->next = r->subjects;
    r->subjects = e;
    return add_id(r, id, text) ? 0 : RILL_ENOMEM;
}

/* ---- HTTP ---- */

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    return rill_bytes_append(user, data, size * n) ? 0 : size * n;
}

/* Maps a registry error to a Rill code: not found (404xx) is RILL_ENOENT, a server error or
 * no answer RILL_EIO, anything else (an invalid or incompatible schema) RILL_ESERDE. */
static int code_of(long status)
{
    if (status == 404)
        return RILL_ENOENT;
    if (status >= 500 || status == 0)
        return RILL_EIO;
    return RILL_ESERDE;
}

/*
 * Sends one request (body NULL: a GET) and parses the answer into *out (new reference). A
 * non-2xx status becomes an error naming the request, the status and the registry's error_code
 * and message.
 */
static int request(rill_registry_client_t *r, const char *method, const char *path,
                   const char *body, json_t **out, char *errstr, size_t errstr_size)
{
    char url[2048];
    snprintf(url, sizeof url, "%s%s", r->url, path);
    rill_bytes_t answer = {0};
    char curl_err[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    headers = curl_slist_append(headers, "Accept: " CONTENT_TYPE ", application/json");
    if (body)
        headers = curl_slist_append(headers, "Content-Type: " CONTENT_TYPE);
    CURL *c = r->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    if (r->user_info) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERPWD, r->user_info);
    }
    atomic_fetch_add(&r->requests, 1);
    CURLcode cc = curl_easy_perform(c);
    curl_slist_free_all(headers);
    long status = 0;
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK) {
        set_err(errstr, errstr_size, "%s %s%s: %s", method, r->url, path,
                curl_err[0] ? curl_err : curl_easy_strerror(cc));
        rill_bytes_free(&answer);
        return RILL_EIO;
    }
    json_error_t jerr;
    json_t *doc = answer.len ? json_loadb((const char *)answer.data, answer.len, 0, &jerr) : NULL;
    if (status < 200 || status > 299) {
        json_int_t code = json_integer_value(json_object_get(doc, "error_code"));
        const char *msg = json_string_value(json_object_get(doc, "message"));
        if (msg)
            set_err(errstr, errstr_size, "%s %s: HTTP %ld, error_code %lld: %s", method, path,
                    status, (long long)code, msg);
        else
            set_err(errstr, errstr_size, "%s %s: HTTP %ld: %.*s", method, path, status,
                    (int)(answer.len < 200 ? answer.len : 200),
                    answer.data ? (const char *)answer.data : "");
        json_decref(doc);
        rill_bytes_free(&answer);
        return code_of(status);
    }
    if (!doc) {
        set_err(errstr, errstr_size, "%s %s: the answer is not JSON (%s)", method, path,
                answer.len ? jerr.text : "empty");
        rill_bytes_free(&answer);
        return RILL_EIO;
    }
    rill_bytes_free(&answer);
    *out = doc;
    return 0;
}

/* "/subjects/<escaped subject><tail>" into buf. */
static int subject_path(rill_registry_client_t *r, const char *subject, const char *tail, char *buf,
                        size_t size)
{
    char *esc = curl_easy_escape(r->curl, subject, 0);
    if (!esc)
        return RILL_ENOMEM;
    snprintf(buf, size, "/subjects/%s%s", esc, tail);
    curl_free(esc);
    return 0;
}

static char *schema_body(const char *schema, const char *type)
{
    json_t *body = json_pack("{s:s}", "schema", schema);
    if (body && strcmp(type, "AVRO") != 0) /* AVRO is the default, and not named */
        json_object_set_new(body, "schemaType", json_string(type));
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    return text;
}

static bool get_int32(json_t *doc, const char *key, int32_t *out)
{
    json_t *v = json_object_get(doc, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX)
        return false;
    *out = (int32_t)json_integer_value(v);
    return true;
}

/*
 * POSTs {"schema": schema} to /subjects/{subject}<tail> and reads the answer's id and, when
 * version is not NULL, its version (the lookup's answer has one, the register's not).
 */
static int post_schema(rill_registry_client_t *r, const char *subject, const char *tail,
                       const char *type, const char *schema, int32_t *id, int32_t *version,
                       char *errstr, size_t errstr_size)
{
    char path[1024];
    char *body = schema_body(schema, type);
    json_t *doc = NULL;
    int rc;
    if (!body || subject_path(r, subject, tail, path, sizeof path))
        rc = RILL_ENOMEM;
    else if (!(rc = request(r, "POST", path, body, &doc, errstr, errstr_size)) &&
             (!get_int32(doc, "id", id) || (version && !get_int32(doc, "version", version)))) {
        set_err(errstr, errstr_size, "POST %s: no \"id\"%s in the answer", path,
                version ? " or \"version\"" : "");
        rc = RILL_EIO;
    }
    json_decref(doc);
    free(body); /* jansson's allocator */
    return rc;
}

/* ---- The API ---- */

int rill_registry_client_schema(rill_registry_client_t *r, int32_t id, const char **schema,
                                char *errstr, size_t errstr_size)
{
    return rill_registry_client_schema_of_type(r, id, "AVRO", schema, errstr, errstr_size);
}

int rill_registry_client_schema_of_type(rill_registry_client_t *r, int32_t id, const char *want,
                                        const char **schema, char *errstr, size_t errstr_size)
{
    if (!r || !schema)
        return RILL_EINVAL;
    pthread_mutex_lock(&r->lock);
    by_id_t *e = find_id(r, id);
    const miss_t *miss = e ? NULL : find_miss(r, id);
    int rc = 0;
    if (e) {
        *schema = e->text;
    } else if (r->mock) {
        set_err(errstr, errstr_size, "error_code 40403: Schema %d not found", id);
        rc = RILL_ENOENT;
    } else if (miss) {
        set_err(errstr, errstr_size, "%s (asked less than %d s ago)", miss->why,
                MISS_TTL_MS / 1000);
        rc = RILL_ENOENT;
    } else {
        char path[64];
        json_t *doc = NULL;
        snprintf(path, sizeof path, "/schemas/ids/%d", id);
        char why[256] = "";
        if ((rc = request(r, "GET", path, NULL, &doc, why, sizeof why)) == RILL_ENOENT)
            add_miss(r, id, why);
        if (rc)
            set_err(errstr, errstr_size, "%s", why);
        else {
            const char *text = json_string_value(json_object_get(doc, "schema"));
            const char *type = json_string_value(json_object_get(doc, "schemaType"));
            if (!text) {
                set_err(errstr, errstr_size, "GET %s: no \"schema\" in the answer", path);
                rc = RILL_EIO;
            } else if (strcmp(type ? type : "AVRO", want ? want : "AVRO")) {
                set_err(errstr, errstr_size, "GET %s: schema %d is %s, not %s", path, id,
                        type ? type : "AVRO", want ? want : "AVRO");
                rc = RILL_ESERDE;
            } else if (!(*schema = add_id(r, id, text))) {
                rc = RILL_ENOMEM;
            }
        }
        json_decref(doc);
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

/* Registers in the mock: the same text gets the same id in every subject, as Confluent's. */
static int mock_register(rill_registry_client_t *r, const char *subject, const char *schema,
                         int32_t *id)
{
    by_id_t *same = find_text(r, schema);
    int32_t version = 1;
    for (by_subject_t *e = r->subjects; e; e = e->next)
        if (!strcmp(e->subject, subject) && e->version >= version)
            version = e->version + 1;
    *id = same ? same->id : ++r->mock_next_id;
    return add_subject(r, subject, schema, *id, version);
}

int rill_registry_client_register(rill_registry_client_t *r, const char *subject,
                                  const char *schema, int32_t *id, char *errstr, size_t errstr_size)
{
    return rill_registry_client_register_type(r, subject, "AVRO", schema, id, errstr, errstr_size);
}

int rill_registry_client_register_type(rill_registry_client_t *r, const char *subject,
                                       const char *type, const char *schema, int32_t *id,
                                       char *errstr, size_t errstr_size)
{
    if (!r || !subject || !schema || !id)
        return RILL_EINVAL;
    pthread_mutex_lock(&r->lock);
    by_subject_t *e = find_subject(r, subject, schema);
    int rc = 0;
    if (e) {
        *id = e->id;
    } else if (r->mock) {
        rc = mock_register(r, subject, schema, id);
    } else if (!(rc = post_schema(r, subject, "/versions", type ? type : "AVRO", schema, id, NULL,
                                  errstr, errstr_size))) {
        rc = add_subject(r, subject, schema, *id, -1);
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

int rill_registry_client_lookup(rill_registry_client_t *r, const char *subject, const char *schema,
                                int32_t *id, int32_t *version, char *errstr, size_t errstr_size)
{
    return rill_registry_client_lookup_type(r, subject, "AVRO", schema, id, version, errstr,
                                            errstr_size);
}

int rill_registry_client_lookup_type(rill_registry_client_t *r, const char *subject,
                                     const char *type, const char *schema, int32_t *id,
                                     int32_t *version, char *errstr, size_t errstr_size)
{
    if (!r || !subject || !schema)
        return RILL_EINVAL;
    pthread_mutex_lock(&r->lock);
    by_subject_t *e = find_subject(r, subject, schema);
    int rc = 0;
    int32_t got_id = 0, got_version = -1;
    if (e && e->version >= 0) {
        got_id = e->id;
        got_version = e->version;
    } else if (r->mock) {
        bool known = find_subject(r, subject, NULL) != NULL;
        set_err(errstr, errstr_size, "error_code %d: %s not found", known ? 40403 : 40401,
                known ? "Schema" : "Subject");
        rc = RILL_ENOENT;
    } else if (!(rc = post_schema(r, subject, "", type ? type : "AVRO", schema, &got_id,
                                  &got_version, errstr, errstr_size))) {
        rc = add_subject(r, subject, schema, got_id, got_version);
    }
    pthread_mutex_unlock(&r->lock);
    if (!rc && id)
        *id = got_id;
    if (!rc && version)
        *version = got_version;
    return rc;
}

int rill_registry_client_latest(rill_registry_client_t *r, const char *subject, int32_t *id,
                                int32_t *version, const char **schema, char *errstr,
                                size_t errstr_size)
{
    if (!r || !subject)
        return RILL_EINVAL;
    pthread_mutex_lock(&r->lock);
    int rc = 0;
    int32_t got_id = 0, got_version = -1;
    const char *text = NULL;
    if (r->mock) {
        by_subject_t *best = NULL;
        for (by_subject_t *e = r->subjects; e; e = e->next)
            if (!strcmp(e->subject, subject) && (!best || e->version > best->version))
                best = e;
        if (best) {
            got_id = best->id;
            got_version = best->version;
            text = find_id(r, best->id)->text;
        } else {
            set_err(errstr, errstr_size, "error_code 40401: Subject '%s' not found", subject);
            rc = RILL_ENOENT;
        }
    } else {
        char path[1024];
        json_t *doc = NULL;
        if (subject_path(r, subject, "/versions/latest", path, sizeof path))
            rc = RILL_ENOMEM;
        else if (!(rc = request(r, "GET", path, NULL, &doc, errstr, errstr_size))) {
            const char *s = json_string_value(json_object_get(doc, "schema"));
            if (!s || !get_int32(doc, "id", &got_id) || !get_int32(doc, "version", &got_version)) {
                set_err(errstr, errstr_size, "GET %s: no \"schema\", \"id\" or \"version\"", path);
                rc = RILL_EIO;
            } else if ((rc = add_subject(r, subject, s, got_id, got_version))) {
                rc = RILL_ENOMEM;
            } else {
                text = find_id(r, got_id)->text;
            }
        }
        json_decref(doc);
    }
    pthread_mutex_unlock(&r->lock);
    if (!rc) {
        if (id)
            *id = got_id;
        if (version)
            *version = got_version;
        if (schema)
            *schema = text;
    }
    return rc;
}

/* Finds the version that schema id has in subject: the cache, else GET
 * /schemas/ids/{id}/versions (and the schema's text, when not cached, to remember it by). */
int rill_registry_client_version_of(rill_registry_client_t *r, const char *subject, int32_t id,
                                    int32_t *version, char *errstr, size_t errstr_size)
{
    if (!r || !subject || !version)
        return RILL_EINVAL;
    pthread_mutex_lock(&r->lock);
    int rc = 0;
    int32_t got = -1;
    for (by_subject_t *e = r->subjects; e && got < 0; e = e->next)
        if (e->id == id && e->version >= 0 && !strcmp(e->subject, subject))
            got = e->version;
    by_id_t *known = got < 0 ? find_id(r, id) : NULL;
    if (got >= 0) {
        /* cached */
    } else if (r->mock) {
        set_err(errstr, errstr_size, "error_code 40403: Schema %d not found in subject '%s'", id,
                subject);
        rc = RILL_ENOENT;
    } else {
        char path[64];
        json_t *doc = NULL, *text_doc = NULL;
        snprintf(path, sizeof path, "/schemas/ids/%d/versions", id);
        if (!(rc = request(r, "GET", path, NULL, &doc, errstr, errstr_size))) {
            size_t i;
            json_t *sv;
            json_array_foreach(doc, i, sv)
            {
                const char *s = json_string_value(json_object_get(sv, "subject"));
                if (s && !strcmp(s, subject) && get_int32(sv, "version", &got))
                    break;
                got = -1;
            }
            if (got < 0) {
                set_err(errstr, errstr_size, "GET %s: schema %d has no version in subject '%s'",
                        path, id, subject);
                rc = RILL_ENOENT;
            }
        }
        const char *text = known ? known->text : NULL;
        if (!rc && !text) {
            char tpath[64];
            snprintf(tpath, sizeof tpath, "/schemas/ids/%d", id);
            if (!(rc = request(r, "GET", tpath, NULL, &text_doc, errstr, errstr_size)) &&
                !(text = json_string_value(json_object_get(text_doc, "schema")))) {
                set_err(errstr, errstr_size, "GET %s: no \"schema\" in the answer", tpath);
                rc = RILL_EIO;
            }
        }
        if (!rc)
            rc = add_subject(r, subject, text, id, got);
        json_decref(doc);
        json_decref(text_doc);
    }
    pthread_mutex_unlock(&r->lock);
    if (!rc)
        *version = got;
    return rc;
}

/* ---- What the registry serdes share ---- */

static int conf_bool(const char *what, const char *key, const char *v, bool *out, char *errstr,
                     size_t errstr_size)
{
    if (strcmp(v, "true") && strcmp(v, "false")) {
        set_err(errstr, errstr_size, "%s: %s must be true or false, not \"%s\"", what, key, v);
        return RILL_ECONFIG;
    }
    *out = strcmp(v, "true") == 0;
    return 0;
}

int rill__registry_serde_conf(const char *what, const char *const *conf, bool with_reader,
                              rill__registry_serde_conf_t *out, char *errstr, size_t errstr_size)
{
    memset(out, 0, sizeof *out);
    out->auto_register = true;
    for (size_t i = 0; conf && conf[i]; i += 2) {
        const char *k = conf[i], *v = conf[i + 1];
        int rc = 0;
        if (!v) {
            set_err(errstr, errstr_size, "%s: %s has no value", what, k);
            rc = RILL_ECONFIG;
        } else if (!strcmp(k, "schema.registry.url")) {
            out->url = v;
        } else if (!strcmp(k, "basic.auth.user.info")) {
            out->user_info = v;
        } else if (!strcmp(k, "auto.register.schemas")) {
            rc = conf_bool(what, k, v, &out->auto_register, errstr, errstr_size);
        } else if (!strcmp(k, "use.latest.version")) {
            rc = conf_bool(what, k, v, &out->use_latest, errstr, errstr_size);
        } else if (!strcmp(k, "is.key")) {
            rc = conf_bool(what, k, v, &out->is_key, errstr, errstr_size);
        } else if (!strcmp(k, "topic")) {
            out->topic = v;
        } else if (!strcmp(k, "schema")) {
            out->schema = v;
        } else if (with_reader && !strcmp(k, "reader.schema")) {
            out->reader_schema = v;
        } else if (with_reader && !strcmp(k, "subject.name.strategy")) {
            out->strategy = v;
        } else {
            set_err(errstr, errstr_size, "%s: unknown configuration key \"%s\"", what, k);
            rc = RILL_ECONFIG;
        }
        if (rc)
            return rc;
    }
    return 0;
}

rill_registry_client_t *rill__registry_serde_client(const char *what,
                                                    const rill__registry_serde_conf_t *conf,
                                                    rill_registry_client_t *registry, char *errstr,
                                                    size_t errstr_size)
{
    if (registry)
        return rill_registry_client_ref(registry);
    if (!conf->url) {
        set_err(errstr, errstr_size, "%s: schema.registry.url is required", what);
        return NULL;
    }
    return rill_registry_client_new(conf->url, conf->user_info, errstr, errstr_size);
}
