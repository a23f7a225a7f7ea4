/*
 * Reading the records a test driver wrote. Header-only; include after cmocka.h and
 * <rill/test_driver.h>.
 */
#ifndef RILL_TESTS_TEST_RECORDS_H
#define RILL_TESTS_TEST_RECORDS_H

#include <rill/test_driver.h>

#include <stdio.h>
#include <string.h>

/* Returns the value of header name of r as a string in buf (NULL when absent). */
static inline const char *header(const rill_test_record_t *r, const char *name, char *buf,
                                 size_t size)
{
    for (size_t i = 0; i < r->header_count; i++)
        if (strcmp(r->headers[i].name, name) == 0) {
            snprintf(buf, size, "%.*s", (int)r->headers[i].value.len,
                     (const char *)r->headers[i].value.data);
            return buf;
        }
    return NULL;
}

#endif
