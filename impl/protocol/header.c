/* header.c: request/response header encode and decode, and size-prefixed framing.
 *
 * The header version is derived, never read: it follows from the api key and version (flexible
 * versions use request header v2 and response header v1; ControlledShutdown v0 uses request
 * header v0; ApiVersions responses always use response header v0). The ClientId keeps its
 * classic int16 length even in header v2, so an old broker can always read the header.
 *
 * Invariants: a decoded header either returns PROTO_OK with every field of its version read,
 * or an error, never a read past the frame. A frame's size prefix is checked against the
 * configured maximum before anything is buffered for it.
 *
 * Tested by tests/unit/test_protocol_codec.c (hand-built headers as librdkafka and
 * kafka-python send them, tagged fields, every truncation, framing limits, whole frames encoded
 * and read back) and by the fuzz target tests/fuzz/fuzz_request_decode.c. */
#include "header.h"

#include "messages_generated.h"

static bool request_is_flexible(const struct kafka_api_schema *schema, i16 api_version)
{
    return schema != NULL && schema->flexible_min >= 0 && api_version >= schema->flexible_min;
}

u8 proto_request_header_version(i16 api_key, i16 api_version)
{
    if (api_key == KAFKA_API_CONTROLLED_SHUTDOWN && api_version == 0) return 0;
    const struct kafka_api_schema *schema = kafka_api_schema_get(api_key);
    return request_is_flexible(schema, api_version) ? 2 : 1;
}

u8 proto_response_header_version(i16 api_key, i16 api_version)
{
    /* An old client must be able to read the broker's ApiVersions answer whatever it asked. */
    if (api_key == KAFKA_API_API_VERSIONS) return 0;
    const struct kafka_api_schema *schema = kafka_api_schema_get(api_key);
    return request_is_flexible(schema, api_version) ? 1 : 0;
}

enum proto_error proto_request_header_decode(struct proto_reader *reader,
                                             struct proto_request_header *header)
{
    ASSERT(reader->error == PROTO_OK);
    ASSERT(header != NULL);
    header->RequestApiKey = proto_read_i16(reader);
    header->RequestApiVersion = proto_read_i16(reader);
    header->CorrelationId = proto_read_i32(reader);
    header->ClientId = PROTO_STRING_NULL;
    header->header_version =
        proto_request_header_version(header->RequestApiKey, header->RequestApiVersion);
    if (reader->error != PROTO_OK) return reader->error;
    if (header->header_version == 0) return PROTO_OK;

    header->ClientId = proto_read_string(reader, false, true);
    if (reader->error != PROTO_OK) return reader->error;
    if (kafka_api_schema_get(header->RequestApiKey) == NULL) return PROTO_ERROR_UNKNOWN_API;
    if (header->header_version == 2) proto_read_tagged_fields_skip(reader);
    return reader->error;
}

enum proto_error proto_request_header_encode(struct proto_writer *writer,
                                             struct proto_request_header *header)
{
    ASSERT(header != NULL);
    header->header_version =
        proto_request_header_version(header->RequestApiKey, header->RequestApiVersion);
    proto_write_i16(writer, header->RequestApiKey);
    proto_write_i16(writer, header->RequestApiVersion);
    proto_write_i32(writer, header->CorrelationId);
    if (header->header_version >= 1) proto_write_string(writer, header->ClientId, false, true);
    if (header->header_version >= 2) proto_write_uvarint(writer, 0); /* No tagged fields. */
    ASSERT(header->header_version <= 2);
    return writer->error;
}

enum proto_error proto_response_header_decode(struct proto_reader *reader, i16 api_key,
                                              i16 api_version, i32 *correlation_id)
{
    ASSERT(correlation_id != NULL);
    *correlation_id = proto_read_i32(reader);
    if (proto_response_header_version(api_key, api_version) == 1) {
        proto_read_tagged_fields_skip(reader);
    }
    return reader->error;
}

enum proto_error proto_response_header_encode(struct proto_writer *writer, i16 api_key,
                                              i16 api_version, i32 correlation_id)
{
    u8 version = proto_response_header_version(api_key, api_version);
    ASSERT(version <= 1);
    proto_write_i32(writer, correlation_id);
    if (version == 1) proto_write_uvarint(writer, 0); /* No tagged fields. */
    return writer->error;
}

/* ===== Framing ===== */

enum proto_frame_status proto_frame_peek(const u8 *bytes, u32 available, u32 size_max,
                                         u32 *body_size)
{
    ASSERT(bytes != NULL || available == 0);
    ASSERT(body_size != NULL);
    *body_size = 0;
    if (available < PROTO_FRAME_PREFIX_SIZE) return PROTO_FRAME_INCOMPLETE;
    i32 size = (i32)load_u32_be(bytes);
    if (size < 0) return PROTO_FRAME_INVALID;
    if ((u32)size > size_max) return PROTO_FRAME_TOO_LARGE;
    if (available - PROTO_FRAME_PREFIX_SIZE < (u32)size) return PROTO_FRAME_INCOMPLETE;
    *body_size = (u32)size;
    return PROTO_FRAME_READY;
}

u32 proto_frame_begin(struct proto_writer *writer)
{
    u32 start = writer->position;
    proto_write_i32(writer, 0); /* Filled in by proto_frame_end. */
    return start;
}

void proto_frame_end(struct proto_writer *writer, u32 start)
{
    if (writer->error != PROTO_OK) return;
    ASSERT(writer->position >= start + PROTO_FRAME_PREFIX_SIZE);
    u32 size = writer->position - start - PROTO_FRAME_PREFIX_SIZE;
    ASSERT(size <= INT32_MAX);
    proto_write_i32_at(writer, start, (i32)size);
}

enum proto_error proto_request_frame_encode(struct proto_writer *writer,
                                            struct proto_request_header *header,
                                            const union kafka_request *body)
{
    ASSERT(header != NULL);
    ASSERT(body != NULL);
    u32 start = proto_frame_begin(writer);
    enum proto_error error = proto_request_header_encode(writer, header);
    if (error == PROTO_OK) {
        error = kafka_request_encode(writer, header->RequestApiKey, header->RequestApiVersion,
                                     body);
    }
    proto_frame_end(writer, start);
    return error;
}

enum proto_error proto_response_frame_encode(struct proto_writer *writer, i16 api_key,
                                             i16 api_version, i32 correlation_id,
                                             const union kafka_response *body)
{
    ASSERT(body != NULL);
    u32 start = proto_frame_begin(writer);
    enum proto_error error =
        proto_response_header_encode(writer, api_key, api_version, correlation_id);
    if (error == PROTO_OK) error = kafka_response_encode(writer, api_key, api_version, body);
    proto_frame_end(writer, start);
    ASSERT(error != PROTO_OK || writer->position >= start + PROTO_FRAME_PREFIX_SIZE);
    return error;
}
