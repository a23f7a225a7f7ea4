/*
 * CloudEvents in the DSL: the Kafka protocol binding's key mapping. The binding makes an event's
 * partitionkey extension the record's key; rill_stream_key_by_partitionkey() does that on
 * request, for records read from an unkeyed topic or about to be written to one.
 */
#include <rill/dsl.h>

#include <string.h>

static int partitionkey_as_key(void *ud, rill_context_t *ctx, const rill_record_t *rec,
                               rill_buf_t *out)
{
    (void)ud;
    if (!rec->value.data) { /* a tombstone has no event: its key stays */
        *out = rec->key;
        return 0;
    }
    if (rec->value.len != sizeof(rill_cloudevent_t))
        return rill_context_fail(ctx, RILL_EINVAL,
                                 "key by partitionkey: the value (%zu bytes) is not a CloudEvent "
                                 "(read the stream with rill_serde_cloudevents())",
                                 rec->value.len);
    const char *pk = rill_cloudevent_extension(rec->value.data, "partitionkey");
    *out = pk ? rill_buf_str(pk) : rec->key;
    return 0;
}

rill_stream_t *rill_stream_key_by_partitionkey(rill_stream_t *stream)
{
    return rill_stream_select_key(stream, partitionkey_as_key, NULL);
}
