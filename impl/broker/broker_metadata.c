/* broker_metadata.c: the Metadata and CreateTopics handlers (answered inside on_frame).
 *
 * Metadata lists this broker (its advertised client endpoint), the cluster id, itself as the
 * controller, and the asked topics (all of them for a null list, or an empty v0 list). Each
 * partition is led by this broker at epoch 0 with itself as the only replica; a partition whose
 * log is still opening answers LEADER_NOT_AVAILABLE (leader -1), one whose log failed
 * KAFKA_STORAGE_ERROR. An unknown topic is created with num.partitions when
 * auto.create.topics.enable and the request allow it (answered LEADER_NOT_AVAILABLE, as Kafka
 * does while it creates), otherwise UNKNOWN_TOPIC_OR_PARTITION.
 *
 * CreateTopics creates each topic (num.partitions when NumPartitions is -1; replication factor
 * -1 or 1 only: one node) with the topic configs it names (broker_configs.c), honours
 * validateOnly, and answers per topic. Creation is complete
 * when the answer leaves in the sense Kafka's is: the topic exists; its logs may still be
 * opening (Metadata says so).
 *
 * Tested by tests/unit/test_broker.c and tests/integration/kafka_kcat.sh (kcat -L). */
#include "broker_internal.h"

#include <string.h>

/* Fills one topic's entry; partitions come from the response arena. */
static void broker_metadata_topic(struct broker *broker, u32 index, i16 version,
                                  struct kafka_metadata_response_topic *out,
                                  struct proto_arena *arena)
{
    const struct broker_topic *topic = &broker->topics[index];
    ASSERT(topic->used);
    out->Name = proto_string_of(topic->name);
    if (version >= 10) out->TopicId = topic->id;
    struct kafka_metadata_response_partition *partitions =
        proto_arena_alloc(arena, (u64)topic->partition_count * sizeof(*partitions));
    if (partitions == NULL) {
        /* A request naming the same topics over and over: the arena (sized for every topic
         * once, several times over) runs out; the rest are answered with a retriable error. */
        COVER(true);
        out->ErrorCode = KAFKA_ERROR_REQUEST_TIMED_OUT;
        out->Partitions.count = 0;
        return;
    }
    for (u32 p = 0; p < topic->partition_count; p++) {
        struct kafka_metadata_response_partition *partition = &partitions[p];
        kafka_metadata_response_partition_init(partition);
        partition->PartitionIndex = (i32)p;
        if (version >= 7) partition->LeaderEpoch = 0;
        partition->ReplicaNodes.items = broker->self_id;
        partition->ReplicaNodes.count = 1;
        partition->IsrNodes.items = broker->self_id;
        partition->IsrNodes.count = 1;
        partition->OfflineReplicas.count = 0;
        partition->LeaderId = (i32)broker->config.node_id;
        if (topic->states[p] == BROKER_PARTITION_OPENING) {
            partition->ErrorCode = KAFKA_ERROR_LEADER_NOT_AVAILABLE;
            partition->LeaderId = -1;
        } else if (topic->states[p] == BROKER_PARTITION_FAILED) {
            partition->ErrorCode = KAFKA_ERROR_KAFKA_STORAGE_ERROR;
        } else if (topic->states[p] == BROKER_PARTITION_CLOSED) {
            partition->ErrorCode = KAFKA_ERROR_LEADER_NOT_AVAILABLE; /* Stopping. */
            partition->LeaderId = -1;
        }
    }
    out->Partitions.items = partitions;
    out->Partitions.count = (i32)topic->partition_count;
}

/* The entry for one asked name: known, created now, or an error. */
static void broker_metadata_named(struct broker *broker, struct proto_string name,
                                  bool allow_create, i16 version,
                                  struct kafka_metadata_response_topic *out,
                                  struct proto_arena *arena)
{
    kafka_metadata_response_topic_init(out);
    out->Name = name;
    if (name.size < 0) { /* Asked by topic id (v10+): ids are not looked up yet. */
        if (version < 12) out->Name = proto_string_of(""); /* Not nullable before v12. */
        out->ErrorCode = KAFKA_ERROR_UNKNOWN_TOPIC_ID;
        return;
    }
    i32 index = broker_topic_find(broker, name);
    if (index >= 0) {
        broker_metadata_topic(broker, (u32)index, version, out, arena);
        return;
    }
    if (!allow_create) {
        out->ErrorCode = KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    i64 overrides[BROKER_TOPIC_CONFIGS] = {0};
    i16 error = broker_topic_create(broker, name, (i32)broker->config.num_partitions, true, 0,
                                    overrides);
    COVER(error == KAFKA_ERROR_NONE);
    out->ErrorCode = error == KAFKA_ERROR_NONE ? KAFKA_ERROR_LEADER_NOT_AVAILABLE : error;
}

static struct kafka_metadata_response_broker broker_metadata_self(struct broker *broker,
                                                                  i16 version, char *host,
                                                                  u32 host_size)
{
    struct kafka_metadata_response_broker self;
    kafka_metadata_response_broker_init(&self);
    self.NodeId = (i32)broker->config.node_id;
    broker_advertised(broker, host, host_size, &self.Port);
    self.Host = proto_string_of(host);
    if (version >= 1 && broker->config.rack[0] != '\0') {
        self.Rack = proto_string_of(broker->config.rack);
    }
    return self;
}

bool broker_handle_metadata(struct broker *broker, io_conn conn,
                            const struct proto_request_header *header,
                            struct proto_reader *body)
{
    i16 version = header->RequestApiVersion;
    struct proto_arena decode, arena;
    broker_scratch_arenas(broker, &decode, &arena);
    struct kafka_metadata_request request;
    if (kafka_metadata_request_decode(body, version, &request, &decode) != PROTO_OK) {
        return false;
    }
    broker->self_id[0] = (i32)broker->config.node_id;
    union kafka_response response;
    kafka_metadata_response_init(&response.Metadata);
    char host[CONFIG_ENDPOINT_MAX];
    struct kafka_metadata_response_broker self =
        broker_metadata_self(broker, version, host, sizeof(host));
    response.Metadata.Brokers.items = &self;
    response.Metadata.Brokers.count = 1;
    if (version >= 2) response.Metadata.ClusterId = proto_string_of(BROKER_CLUSTER_ID);
    if (version >= 1) response.Metadata.ControllerId = (i32)broker->config.node_id;
    bool all = request.Topics.count < 0 || (version == 0 && request.Topics.count == 0);
    u32 count = all ? broker->topic_count : (u32)request.Topics.count;
    struct kafka_metadata_response_topic *topics =
        proto_arena_alloc(&arena, (u64)MAX(count, 1u) * sizeof(*topics));
    if (topics == NULL) return false; /* More names than the arena holds: refuse. */
    bool allow_create = broker->config.auto_create_topics_enable &&
                        (version < 4 || request.AllowAutoTopicCreation);
    u32 filled = 0;
    for (u32 i = 0; i < BROKER_TOPICS_MAX && all; i++) {
        if (!broker->topics[i].used) continue;
        kafka_metadata_response_topic_init(&topics[filled]);
        broker_metadata_topic(broker, i, version, &topics[filled++], &arena);
    }
    for (u32 i = 0; i < count && !all; i++) {
        broker_metadata_named(broker, request.Topics.items[i].Name, allow_create, version,
                              &topics[filled++], &arena);
    }
    ASSERT(filled == count);
    response.Metadata.Topics.items = topics;
    response.Metadata.Topics.count = (i32)count;
    broker_send_response(broker, conn, header, &response);
    return true;
}

/* One CreatableTopic: validates, then creates unless validate_only. */
static i16 broker_create_one(struct broker *broker,
                             const struct kafka_create_topics_request_creatable_topic *topic,
                             bool validate_only, struct proto_string *message)
{
    if (topic->Assignments.count > 0) {
        *message = proto_string_of("manual replica assignments are not supported yet");
        return KAFKA_ERROR_INVALID_REQUEST;
    }
    if (topic->ReplicationFactor != -1 && topic->ReplicationFactor != 1) {
        *message = proto_string_of("a single node holds one replica");
        return KAFKA_ERROR_INVALID_REPLICATION_FACTOR;
    }
    i32 partitions = topic->NumPartitions == -1 ? (i32)broker->config.num_partitions
                                                : topic->NumPartitions;
    if (!broker_topic_name_valid(topic->Name)) return KAFKA_ERROR_INVALID_TOPIC_EXCEPTION;
    if (broker_topic_find(broker, topic->Name) >= 0) return KAFKA_ERROR_TOPIC_ALREADY_EXISTS;
    if (partitions < 1 || (u32)partitions > BROKER_PARTITIONS_MAX) {
        return KAFKA_ERROR_INVALID_PARTITIONS;
    }
    u32 set = 0;
    i64 overrides[BROKER_TOPIC_CONFIGS] = {0};
    i16 error = broker_create_configs(topic, &set, overrides, message);
    if (error != KAFKA_ERROR_NONE || validate_only) return error;
    return broker_topic_create(broker, topic->Name, partitions, true, set, overrides);
}

bool broker_handle_create_topics(struct broker *broker, io_conn conn,
                                 const struct proto_request_header *header,
                                 struct proto_reader *body)
{
    i16 version = header->RequestApiVersion;
    struct proto_arena decode, arena;
    broker_scratch_arenas(broker, &decode, &arena);
    struct kafka_create_topics_request request;
    if (kafka_create_topics_request_decode(body, version, &request, &decode) != PROTO_OK) {
        return false;
    }
    u32 count = (u32)MAX(request.Topics.count, 0);
    struct kafka_create_topics_response_creatable_topic_result *results =
        proto_arena_alloc(&arena, (u64)MAX(count, 1u) * sizeof(*results));
    if (results == NULL) return false;
    for (u32 i = 0; i < count; i++) {
        const struct kafka_create_topics_request_creatable_topic *topic =
            &request.Topics.items[i];
        struct kafka_create_topics_response_creatable_topic_result *result = &results[i];
        kafka_create_topics_response_creatable_topic_result_init(result);
        result->Name = topic->Name;
        struct proto_string message = PROTO_STRING_NULL;
        result->ErrorCode = broker_create_one(broker, topic, request.validateOnly, &message);
        if (version >= 1) result->ErrorMessage = message;
        i32 index = broker_topic_find(broker, topic->Name);
        if (result->ErrorCode == KAFKA_ERROR_NONE && version >= 5) {
            result->NumPartitions = index >= 0 ? (i32)broker->topics[index].partition_count
                                               : (topic->NumPartitions == -1
                                                      ? (i32)broker->config.num_partitions
                                                      : topic->NumPartitions);
            result->ReplicationFactor = 1;
            result->Configs.count = 0;
        }
        if (result->ErrorCode == KAFKA_ERROR_NONE && version >= 7 && index >= 0) {
            result->TopicId = broker->topics[index].id;
        }
    }
    union kafka_response response;
    kafka_create_topics_response_init(&response.CreateTopics);
    response.CreateTopics.Topics.items = results;
    response.CreateTopics.Topics.count = (i32)count;
    broker_send_response(broker, conn, header, &response);
    return true;
}
