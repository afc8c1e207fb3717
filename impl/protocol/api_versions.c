/* api_versions.c: the table of advertised APIs and the ApiVersions request handler.
 *
 * The table is the one place that says which APIs and versions the broker serves; ranges come
 * from kafka-protocol/api-versions.tsv ("recommended_advertise"), chosen so that librdkafka
 * (kcat, confluent-kafka-python), kafka-python and kafkajs negotiate working versions. An entry
 * is advertised only once its handler exists (implemented = true): today ApiVersions, Metadata,
 * CreateTopics, Produce, ListOffsets, Fetch, DeleteTopics, CreatePartitions, DescribeCluster,
 * DescribeConfigs, IncrementalAlterConfigs, DeleteRecords and OffsetForLeaderEpoch (handlers
 * in impl/broker/), FindCoordinator and the classic consumer-group APIs (JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups, ListGroups, DeleteGroups,
 * OffsetDelete: impl/broker/broker_groups.c over impl/group/).
 * Keys the tsv says never to advertise (WriteTxnMarkers, KIP-848, telemetry) are left out.
 * DeleteTopics goes past the tsv's advice (v5) to v6: it is forwarded to the controller, which
 * resolves topic ids against the metadata image, and the answer is relayed as it is.
 *
 * The handler is pure: request bytes in, response frame out. Invariants: the response header
 * is always v0; an unsupported version is answered in the v0 shape with error 35 and the
 * ApiVersions range, whatever the body holds (the body is not parsed, as in Kafka).
 *
 * Tested by tests/unit/test_protocol_codec.c: every version 0-3, the fallback for v4 and for
 * absurd versions, the v3 request librdkafka sends, invalid software names, malformed bodies. */
#include "api_versions.h"

#include "errors_generated.h"

const struct proto_api_support proto_api_table[KAFKA_API_KEY_COUNT] = {
    [KAFKA_API_PRODUCE] = {3, 11, true},
    [KAFKA_API_FETCH] = {4, 12, true},
    [KAFKA_API_LIST_OFFSETS] = {1, 7, true},
    [KAFKA_API_METADATA] = {0, 12, true},
    [KAFKA_API_OFFSET_COMMIT] = {2, 9, true},
    [KAFKA_API_OFFSET_FETCH] = {1, 7, true},
    [KAFKA_API_FIND_COORDINATOR] = {0, 3, true},
    [KAFKA_API_JOIN_GROUP] = {2, 9, true},
    [KAFKA_API_HEARTBEAT] = {0, 4, true},
    [KAFKA_API_LEAVE_GROUP] = {0, 5, true},
    [KAFKA_API_SYNC_GROUP] = {0, 5, true},
    [KAFKA_API_DESCRIBE_GROUPS] = {0, 5, true},
    [KAFKA_API_LIST_GROUPS] = {0, 5, true},
    [KAFKA_API_SASL_HANDSHAKE] = {0, 1, false},
    [KAFKA_API_API_VERSIONS] = {0, 3, true},
    [KAFKA_API_CREATE_TOPICS] = {2, 7, true},
    [KAFKA_API_DELETE_TOPICS] = {1, 6, true},    /* Forwarded; v6 names topics by id too. */
    [KAFKA_API_DELETE_RECORDS] = {0, 2, true},
    [KAFKA_API_INIT_PRODUCER_ID] = {0, 5, true},
    [KAFKA_API_OFFSET_FOR_LEADER_EPOCH] = {2, 4, true},
    [KAFKA_API_ADD_PARTITIONS_TO_TXN] = {0, 3, false},
    [KAFKA_API_ADD_OFFSETS_TO_TXN] = {0, 4, false},
    [KAFKA_API_END_TXN] = {0, 4, false},
    [KAFKA_API_TXN_OFFSET_COMMIT] = {0, 4, false},
    [KAFKA_API_DESCRIBE_ACLS] = {1, 3, false},   /* Optional. */
    [KAFKA_API_CREATE_ACLS] = {1, 3, false},     /* Optional. */
    [KAFKA_API_DELETE_ACLS] = {1, 3, false},     /* Optional. */
    [KAFKA_API_DESCRIBE_CONFIGS] = {1, 4, true},
    [KAFKA_API_ALTER_CONFIGS] = {0, 2, false},
    [KAFKA_API_SASL_AUTHENTICATE] = {0, 2, false},
    [KAFKA_API_CREATE_PARTITIONS] = {0, 3, true},
    [KAFKA_API_DELETE_GROUPS] = {0, 2, true},
    [KAFKA_API_ELECT_LEADERS] = {0, 2, true},    /* Forwarded to the controller. */
    [KAFKA_API_INCREMENTAL_ALTER_CONFIGS] = {0, 1, true},
    [KAFKA_API_ALTER_PARTITION_REASSIGNMENTS] = {0, 0, true}, /* Forwarded. */
    [KAFKA_API_LIST_PARTITION_REASSIGNMENTS] = {0, 0, true},  /* Forwarded. */
    [KAFKA_API_OFFSET_DELETE] = {0, 0, true},
    [KAFKA_API_DESCRIBE_USER_SCRAM_CREDENTIALS] = {0, 0, false}, /* Optional. */
    [KAFKA_API_ALTER_USER_SCRAM_CREDENTIALS] = {0, 0, false},    /* Optional. */
    [KAFKA_API_DESCRIBE_CLUSTER] = {0, 1, true},      /* Optional. */
    [KAFKA_API_DESCRIBE_PRODUCERS] = {0, 0, false},   /* Optional. */
    [KAFKA_API_DESCRIBE_TRANSACTIONS] = {0, 0, false}, /* Optional. */
    [KAFKA_API_LIST_TRANSACTIONS] = {0, 1, false},    /* Optional. */
    [KAFKA_API_DESCRIBE_TOPIC_PARTITIONS] = {0, 0, false}, /* Optional. */
};

bool proto_api_advertised(const struct proto_api_support *table, i16 api_key, i16 api_version)
{
    ASSERT(table != NULL);
    if (api_key < 0 || api_key >= KAFKA_API_KEY_COUNT) return false;
    const struct proto_api_support *entry = &table[api_key];
    if (!entry->implemented) return false;
    ASSERT(entry->version_min <= entry->version_max);
    return api_version >= entry->version_min && api_version <= entry->version_max;
}

static bool software_char_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool proto_client_software_valid(struct proto_string value)
{
    if (value.size <= 0) return false;
    if (!software_char_alnum(value.data[0])) return false;
    if (!software_char_alnum(value.data[value.size - 1])) return false;
    for (i32 i = 1; i < value.size - 1; i++) {
        char c = value.data[i];
        if (!software_char_alnum(c) && c != '-' && c != '.') return false;
    }
    return true;
}

/* Writes one response frame with the given body at version. */
static enum proto_error api_versions_frame(const struct proto_request_header *header,
                                           i16 version,
                                           const struct kafka_api_versions_response *response,
                                           struct proto_writer *out)
{
    ASSERT(header->RequestApiKey == KAFKA_API_API_VERSIONS);
    ASSERT(proto_response_header_version(KAFKA_API_API_VERSIONS, version) == 0);
    u32 start = proto_frame_begin(out);
    enum proto_error error = proto_response_header_encode(out, KAFKA_API_API_VERSIONS, version,
                                                          header->CorrelationId);
    if (error == PROTO_OK) error = kafka_api_versions_response_encode(out, version, response);
    proto_frame_end(out, start);
    return error;
}

enum proto_error proto_api_versions_respond(const struct proto_api_support *table,
                                            const struct proto_request_header *header,
                                            struct proto_reader *body,
                                            struct proto_writer *out)
{
    ASSERT(table != NULL);
    ASSERT(header->RequestApiKey == KAFKA_API_API_VERSIONS);
    const struct proto_api_support *own = &table[KAFKA_API_API_VERSIONS];
    ASSERT(own->implemented);
    struct kafka_api_versions_response_version keys[KAFKA_API_KEY_COUNT];
    struct kafka_api_versions_response response;
    kafka_api_versions_response_init(&response);
    response.ApiKeys.items = keys;

    i16 version = header->RequestApiVersion;
    if (!proto_api_advertised(table, KAFKA_API_API_VERSIONS, version)) {
        COVER(version > own->version_max);
        keys[0] = (struct kafka_api_versions_response_version){
            KAFKA_API_API_VERSIONS, own->version_min, own->version_max};
        response.ErrorCode = KAFKA_ERROR_UNSUPPORTED_VERSION;
        response.ApiKeys.count = 1;
        return api_versions_frame(header, 0, &response, out);
    }

    struct kafka_api_versions_request request;
    struct proto_arena arena;
    proto_arena_init(&arena, NULL, 0); /* The request has no arrays. */
    enum proto_error error = kafka_api_versions_request_decode(body, version, &request, &arena);
    if (error != PROTO_OK) return error;
    if (version >= 3 && (!proto_client_software_valid(request.ClientSoftwareName) ||
                         !proto_client_software_valid(request.ClientSoftwareVersion))) {
        response.ErrorCode = KAFKA_ERROR_INVALID_REQUEST;
        return api_versions_frame(header, version, &response, out);
    }

    i32 count = 0;
    for (i16 key = 0; key < KAFKA_API_KEY_COUNT; key++) {
        if (!table[key].implemented) continue;
        ASSERT(count < KAFKA_API_KEY_COUNT);
        keys[count++] = (struct kafka_api_versions_response_version){
            key, table[key].version_min, table[key].version_max};
    }
    ASSERT(count >= 1); /* ApiVersions itself. */
    response.ApiKeys.count = count;
    return api_versions_frame(header, version, &response, out);
}
