/* broker_metadata.c: the Metadata handler (answered inside on_frame), from the metadata image.
 *
 * Metadata lists the unfenced brokers of the image (their advertised client endpoints and
 * racks), the cluster id, the active controller (the quorum's leader), and the asked topics
 * (all of them for a null list, or an empty v0 list) with, per partition, the image's leader,
 * leader epoch, replicas, ISR and offline replicas (replicas whose broker is fenced or gone).
 * A partition without a leader answers LEADER_NOT_AVAILABLE; one led here whose log is still
 * opening LEADER_NOT_AVAILABLE too, one whose log failed KAFKA_STORAGE_ERROR. An unknown topic
 * is auto-created when auto.create.topics.enable and the request allow it: the broker asks the
 * controller (a CreateTopics with the defaults, broker_link.c) and answers
 * LEADER_NOT_AVAILABLE, as Kafka does while it creates; clients ask again. Otherwise
 * UNKNOWN_TOPIC_OR_PARTITION. __consumer_offsets is listed with IsInternal, and asking for it
 * by name (allowed to create) asks the controller for it with the offsets.topic.* settings, as
 * FindCoordinator does (broker_groups.c).
 *
 * CreateTopics is not handled here any more: it is forwarded to the active controller.
 *
 * Tested by tests/unit/test_broker.c and tests/integration (kcat -L, the Python admin clients,
 * the 3-node cluster). */
#include "broker_internal.h"

#include <string.h>

static struct proto_string broker_nullable(const char *text)
{
    return text[0] != '\0' ? proto_string_of(text) : PROTO_STRING_NULL;
}

/* The error Metadata reports for a partition, and whether its leader is usable. */
static i16 broker_metadata_partition_error(const struct broker *broker,
                                           const struct metadata_partition *partition,
                                           const struct metadata_topic *entry, u32 p)
{
    if (partition->leader == METADATA_NO_LEADER) return KAFKA_ERROR_LEADER_NOT_AVAILABLE;
    if (partition->leader != (i32)broker->config.node_id) return KAFKA_ERROR_NONE;
    i32 index = broker_topic_find(broker, proto_string_of(entry->name));
    if (index < 0 || p >= broker->topics[index].partition_count) {
        return KAFKA_ERROR_LEADER_NOT_AVAILABLE; /* Not opened here yet. */
    }
    switch (broker->topics[index].states[p]) {
    case BROKER_PARTITION_OPEN: return KAFKA_ERROR_NONE;
    case BROKER_PARTITION_FAILED: return KAFKA_ERROR_KAFKA_STORAGE_ERROR;
    default: return KAFKA_ERROR_LEADER_NOT_AVAILABLE; /* Opening, stopping. */
    }
}

/* Replicas whose broker is fenced or no longer registered. */
static void broker_metadata_offline(const struct broker *broker,
                                    const struct metadata_partition *partition,
                                    struct kafka_metadata_response_partition *out,
                                    struct proto_arena *arena)
{
    out->OfflineReplicas.count = 0;
    i32 *offline = proto_arena_alloc(arena, METADATA_REPLICAS_MAX * sizeof(i32));
    if (offline == NULL) return;
    for (u32 r = 0; r < partition->replicas.count; r++) {
        const struct metadata_broker *replica =
            metadata_broker_find(broker->image, partition->replicas.ids[r]);
        if (replica == NULL || replica->fenced) offline[out->OfflineReplicas.count++] =
            partition->replicas.ids[r];
    }
    out->OfflineReplicas.items = offline;
}

/* Fills one topic's entry; partitions come from the response arena. */
static void broker_metadata_topic(struct broker *broker, const struct metadata_topic *entry,
                                  i16 version, struct kafka_metadata_response_topic *out,
                                  struct proto_arena *arena)
{
    out->Name = proto_string_of(entry->name);
    out->IsInternal = strcmp(entry->name, BROKER_OFFSETS_TOPIC) == 0;
    if (version >= 10) memcpy(out->TopicId.bytes, entry->id.bytes, sizeof(entry->id.bytes));
    struct kafka_metadata_response_partition *partitions =
        proto_arena_alloc(arena, (u64)MAX(entry->partition_count, 1u) * sizeof(*partitions));
    if (partitions == NULL) {
        /* A request naming the same topics over and over: the arena (sized for every topic
         * once, several times over) runs out; the rest are answered with a retriable error. */
        COVER(true);
        out->ErrorCode = KAFKA_ERROR_REQUEST_TIMED_OUT;
        out->Partitions.count = 0;
        return;
    }
    for (u32 p = 0; p < entry->partition_count; p++) {
        /* The views below point into the image, which no one changes during this call. */
        struct metadata_partition *partition = &entry->partitions[p];
        struct kafka_metadata_response_partition *result = &partitions[p];
        kafka_metadata_response_partition_init(result);
        result->PartitionIndex = (i32)p;
        result->LeaderId = partition->leader;
        if (version >= 7) result->LeaderEpoch = partition->leader_epoch;
        result->ReplicaNodes.items = partition->replicas.ids;
        result->ReplicaNodes.count = (i32)partition->replicas.count;
        result->IsrNodes.items = partition->isr.ids;
        result->IsrNodes.count = (i32)partition->isr.count;
        if (version >= 5) broker_metadata_offline(broker, partition, result, arena);
        result->ErrorCode = broker_metadata_partition_error(broker, partition, entry, p);
        if (result->ErrorCode == KAFKA_ERROR_LEADER_NOT_AVAILABLE) result->LeaderId = -1;
    }
    out->Partitions.items = partitions;
    out->Partitions.count = (i32)entry->partition_count;
}

/* The entry for one asked name: known, being created, or an error. Names to auto-create are
 * collected in create[]. */
static void broker_metadata_named(struct broker *broker, struct proto_string name,
                                  bool allow_create, i16 version,
                                  struct kafka_metadata_response_topic *out,
                                  struct proto_arena *arena, struct proto_string *create,
                                  u32 *create_count)
{
    kafka_metadata_response_topic_init(out);
    out->Name = name;
    if (name.size < 0) { /* Asked by topic id (v10+): ids are not looked up yet. */
        if (version < 12) out->Name = proto_string_of(""); /* Not nullable before v12. */
        out->ErrorCode = KAFKA_ERROR_UNKNOWN_TOPIC_ID;
        return;
    }
    const struct metadata_topic *entry =
        broker->image == NULL ? NULL
                              : metadata_topic_find(broker->image, name.data, (u32)name.size);
    if (entry != NULL && entry->partition_count > 0) {
        broker_metadata_topic(broker, entry, version, out, arena);
        return;
    }
    if (!allow_create) {
        out->ErrorCode = KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    if (!broker_topic_name_valid(name)) {
        out->ErrorCode = KAFKA_ERROR_INVALID_TOPIC_EXCEPTION;
        return;
    }
    COVER(true);
    out->ErrorCode = KAFKA_ERROR_LEADER_NOT_AVAILABLE;
    if (proto_string_equal_cstr(name, BROKER_OFFSETS_TOPIC)) {
        broker_link_create_offsets_topic(broker); /* Kafka's settings for its internal topic. */
        return;
    }
    create[(*create_count)++] = name;
}

/* The unfenced brokers of the image. */
static struct kafka_metadata_response_broker *broker_metadata_brokers(struct broker *broker,
                                                                      i16 version,
                                                                      struct proto_arena *arena,
                                                                      u32 *count)
{
    const struct metadata_image *image = broker->image;
    u32 total = image == NULL ? 0 : image->broker_count;
    struct kafka_metadata_response_broker *brokers =
        proto_arena_alloc(arena, (u64)MAX(total, 1u) * sizeof(*brokers));
    *count = 0;
    if (brokers == NULL) return NULL;
    for (u32 i = 0; i < total; i++) {
        const struct metadata_broker *entry = &image->brokers[i];
        if (entry->fenced) continue;
        struct kafka_metadata_response_broker *out = &brokers[(*count)++];
        kafka_metadata_response_broker_init(out);
        out->NodeId = entry->id;
        out->Host = proto_string_of(entry->host);
        out->Port = entry->port;
        if (version >= 1) out->Rack = broker_nullable(entry->rack);
    }
    return brokers;
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
    union kafka_response response;
    kafka_metadata_response_init(&response.Metadata);
    u32 broker_count = 0;
    struct kafka_metadata_response_broker *brokers =
        broker_metadata_brokers(broker, version, &arena, &broker_count);
    if (brokers == NULL) return false;
    response.Metadata.Brokers.items = brokers;
    response.Metadata.Brokers.count = (i32)broker_count;
    if (version >= 2) response.Metadata.ClusterId = proto_string_of(BROKER_CLUSTER_ID);
    if (version >= 1) response.Metadata.ControllerId = broker->controller_id;
    const struct metadata_image *image = broker->image;
    bool all = request.Topics.count < 0 || (version == 0 && request.Topics.count == 0);
    u32 count = all ? (image == NULL ? 0 : image->topic_count) : (u32)request.Topics.count;
    struct kafka_metadata_response_topic *topics =
        proto_arena_alloc(&arena, (u64)MAX(count, 1u) * sizeof(*topics));
    struct proto_string *create =
        proto_arena_alloc(&arena, (u64)MAX(count, 1u) * sizeof(*create));
    if (topics == NULL || create == NULL) return false; /* More names than the arena holds. */
    bool allow_create = broker->config.auto_create_topics_enable &&
                        (version < 4 || request.AllowAutoTopicCreation);
    u32 filled = 0, create_count = 0;
    for (u32 i = 0; i < count && all; i++) {
        kafka_metadata_response_topic_init(&topics[filled]);
        broker_metadata_topic(broker, &image->topics[i], version, &topics[filled++], &arena);
    }
    for (u32 i = 0; i < count && !all; i++) {
        broker_metadata_named(broker, request.Topics.items[i].Name, allow_create, version,
                              &topics[filled++], &arena, create, &create_count);
    }
    ASSERT(filled == count);
    if (create_count > 0) broker_link_auto_create(broker, create, create_count);
    response.Metadata.Topics.items = topics;
    response.Metadata.Topics.count = (i32)count;
    broker_send_response(broker, conn, header, &response);
    return true;
}
