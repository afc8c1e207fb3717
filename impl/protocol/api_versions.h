/* api_versions.h: which Kafka APIs the broker advertises, and the ApiVersions answer.
 *
 * proto_api_table lists, by api key, the version range the broker means to serve (from
 * kafka-protocol/api-versions.tsv, "recommended_advertise") and whether a handler exists yet.
 * ApiVersions advertises only implemented entries: an honest absence beats a stub.
 *
 * May depend on: impl/base.h, codec.h, header.h, messages_generated.h. */
#ifndef PROTOCOL_API_VERSIONS_H
#define PROTOCOL_API_VERSIONS_H

#include "header.h"
#include "messages_generated.h"

struct proto_api_support {
    i16 version_min;
    i16 version_max;
    bool implemented; /* Advertised (and served) only when true. */
};

/* Indexed by api key; keys left out are never advertised. */
extern const struct proto_api_support proto_api_table[KAFKA_API_KEY_COUNT];

/* Whether the table advertises api_key at api_version. */
bool proto_api_advertised(const struct proto_api_support *table, i16 api_key, i16 api_version);

/* Answers one ApiVersions request: writes a complete response frame (size prefix, response
 * header v0, body) to out. The body reader holds the request body (after the header).
 *  - a version the table does not advertise: error UNSUPPORTED_VERSION in a v0-shaped body
 *    listing the ApiVersions range (clients then retry lower);
 *  - v3+ with an invalid client software name or version: INVALID_REQUEST at that version;
 *  - otherwise every implemented api with its range (v3+ in the flexible form).
 * Returns an error only for a malformed body (the caller closes the connection, as Kafka does)
 * or when out is too small. Pure: no I/O. */
WARN_UNUSED enum proto_error proto_api_versions_respond(const struct proto_api_support *table,
                                                        const struct proto_request_header *header,
                                                        struct proto_reader *body,
                                                        struct proto_writer *out);

/* Kafka's rule for ClientSoftwareName/Version: [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])? */
bool proto_client_software_valid(struct proto_string value);

#endif
