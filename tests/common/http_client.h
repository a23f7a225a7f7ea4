/*
 * A test's HTTP client (libcurl): one call per request, the status and the body back. For the
 * registry's tests. Header-only; include after cmocka.h.
 */
#ifndef RILL_TESTS_HTTP_CLIENT_H
#define RILL_TESTS_HTTP_CLIENT_H

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *data;
    size_t len;
} http_body_t;

static size_t http_take(char *ptr, size_t size, size_t n, void *ud)
{
    http_body_t *b = ud;
    char *grown = realloc(b->data, b->len + size * n + 1);
    if (!grown)
        return 0;
    memcpy(grown + b->len, ptr, size * n);
    b->len += size * n;
    grown[b->len] = 0;
    b->data = grown;
    return size * n;
}

/* Sends method url with body (NULL: none) and user:password (NULL: none); returns the status
 * (-1 when no answer came) and sets *out to the body (new, free()), or NULL. */
static inline int http_call_auth(const char *method, const char *url, const char *body,
                                 const char *userpwd, char **out)
{
    CURL *curl = curl_easy_init();
    http_body_t b = {0};
    struct curl_slist *h =
        curl_slist_append(NULL, "Content-Type: application/vnd.schemaregistry.v1+json");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    if (body)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    if (userpwd)
        curl_easy_setopt(curl, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_take);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    long code = -1;
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);
    if (out)
        *out = b.data;
    else
        free(b.data);
    return (int)code;
}

/* Sends method base+path with body; returns the status, the body in *out (new, free()). */
static inline int http_call(const char *method, const char *base, const char *path,
                            const char *body, char **out)
{
    char url[2048];
    snprintf(url, sizeof url, "%s%s", base, path);
    return http_call_auth(method, url, body, NULL, out);
}

#endif
