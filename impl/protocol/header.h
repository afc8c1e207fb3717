/* header.h: Kafka request and response headers, and the 4-byte size-prefixed framing.
 *
 * Request header versions: v0 (ApiKey, ApiVersion, CorrelationId; only ControlledShutdown v0),
 * v1 (+ ClientId, a classic nullable string) and v2 (v1 + a tagged-field section), chosen by
 * whether the request's version is flexible. Response header v0 is CorrelationId, v1 adds a
 * tagged-field section, except that ApiVersions responses always use v0 so that any client can
 * read them.
 *
 * May depend on: impl/base.h, codec.h, messages_generated.h. */
#ifndef PROTOCOL_HEADER_H
#define PROTOCOL_HEADER_H

#include "codec.h"
#include "messages_generated.h"

/* socket.request.max.bytes default in Kafka: 100 MiB. */
#define PROTO_REQUEST_SIZE_MAX_DEFAULT (100u * 1024u * 1024u)
#define PROTO_FRAME_PREFIX_SIZE 4u

struct proto_request_header {
    i16 RequestApiKey;
    i16 RequestApiVersion;
    i32 CorrelationId;
    struct proto_string ClientId; /* Null in header v0 or when the client sends null. */
    u8 header_version;            /* 0, 1 or 2: what was (or will be) on the wire. */
};

/* Header versions for a request/response of api_key at api_version. Unknown keys get v1/v0. */
u8 proto_request_header_version(i16 api_key, i16 api_version);
u8 proto_response_header_version(i16 api_key, i16 api_version);

/* Decodes a request header from the start of a frame (size prefix already removed). For an api
 * key without a schema, the v1 part is decoded and PROTO_ERROR_UNKNOWN_API returned, so the
 * caller still knows the correlation id. */
WARN_UNUSED enum proto_error proto_request_header_decode(struct proto_reader *reader,
                                                         struct proto_request_header *header);
/* Writes the header in the version its api key and version call for (header_version is set). */
WARN_UNUSED enum proto_error proto_request_header_encode(struct proto_writer *writer,
                                                         struct proto_request_header *header);

WARN_UNUSED enum proto_error proto_response_header_decode(struct proto_reader *reader,
                                                          i16 api_key, i16 api_version,
                                                          i32 *correlation_id);
WARN_UNUSED enum proto_error proto_response_header_encode(struct proto_writer *writer,
                                                          i16 api_key, i16 api_version,
                                                          i32 correlation_id);

/* ===== Framing ===== */

enum proto_frame_status {
    PROTO_FRAME_INCOMPLETE, /* Fewer bytes than the prefix announces: read more. */
    PROTO_FRAME_READY,      /* A whole frame is there. */
    PROTO_FRAME_TOO_LARGE,  /* Above the limit: close the connection (Kafka does). */
    PROTO_FRAME_INVALID,    /* A negative size: close the connection. */
};

/* Looks at the start of a receive buffer. On READY, *body_size is the frame's size without the
 * prefix, and the frame occupies PROTO_FRAME_PREFIX_SIZE + *body_size bytes. */
enum proto_frame_status proto_frame_peek(const u8 *bytes, u32 available, u32 size_max,
                                         u32 *body_size);

/* Reserves the size prefix; returns its position for proto_frame_end. */
u32 proto_frame_begin(struct proto_writer *writer);
/* Fills in the size prefix reserved at start (a no-op once the writer has failed). */
void proto_frame_end(struct proto_writer *writer, u32 start);

/* One complete request frame: size prefix, header (its version derived and recorded), body. */
WARN_UNUSED enum proto_error proto_request_frame_encode(struct proto_writer *writer,
                                                        struct proto_request_header *header,
                                                        const union kafka_request *body);
/* One complete response frame: size prefix, response header, body. */
WARN_UNUSED enum proto_error proto_response_frame_encode(struct proto_writer *writer,
                                                         i16 api_key, i16 api_version,
                                                         i32 correlation_id,
                                                         const union kafka_response *body);

#endif
