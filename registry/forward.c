/*
 * A follower's write goes to the leader as it came (method, path, query, body), and the leader's
 * answer goes back as it is. libcurl does the HTTP; the request is marked with a header so that
 * the leader never forwards it again (a leader that has just lost the lead answers 50004 instead
 * of bouncing it on).
 */
#include "registry_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *data;
    size_t len;
} sink_t;

static size_t take(char *ptr, size_t size, size_t n, void *ud)
{
    sink_t *s = ud;
    size_t add = size * n;
    char *grown = realloc(s->data, s->len + add + 1);
    if (!grown)
        return 0;
    memcpy(grown + s->len, ptr, add);
    s->len += add;
    grown[s->len] = 0;
    s->data = grown;
    return add;
}

int rill__forward(rill_registry_t *reg, const char *url, const reg_request_t *req,
                  const char *path_query, int *status, char **response, char *errstr,
                  size_t errstr_size)
{
    const char *method = req->method, *body = req->body;
    size_t body_len = req->body_len;
    CURL *curl = curl_easy_init();
    if (!curl) {
        snprintf(errstr, errstr_size, "out of memory");
        return RILL_EIO;
    }
    char target[2600];
    snprintf(target, sizeof target, "%s%s", url, path_query);
    sink_t s = {0};
    struct curl_slist *headers = NULL;
    headers = curl_slist_append(headers, "Content-Type: application/vnd.schemaregistry.v1+json");
    headers = curl_slist_append(headers, "X-Rill-Forwarded: true");
    if (req->authorization) { /* the client's credentials: the leader checks them too */
        char auth[1024];
        snprintf(auth, sizeof auth, "Authorization: %s", req->authorization);
        headers = curl_slist_append(headers, auth);
    }
    curl_easy_setopt(curl, CURLOPT_URL, target);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (body_len) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, take);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     rill__reg_conf_int(reg->conf, REG_CONF_TIMEOUT_MS) + 5000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(curl);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
        snprintf(errstr, errstr_size, "%s", curl_easy_strerror(rc));
        free(s.data);
        return RILL_EIO;
    }
    *status = (int)code;
    *response = s.data ? s.data : strdup("");
    return 0;
}
