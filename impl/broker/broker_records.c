/* broker_records.c: DeleteRecords and OffsetForLeaderEpoch.
 *
 * DeleteRecords (async, a request slot) asks each named partition's log to advance its log
 * start offset (partition_log_delete_records: whole segments below it go) and answers each
 * with the new low watermark. Offset -1 means the high watermark (the replicated one,
 * broker_replica_high_watermark); an offset above it is OFFSET_OUT_OF_RANGE, as in Kafka.
 * The answer is the leader's own log start: Kafka waits until every follower's log start
 * caught up (DelayedDeleteRecords), here followers follow at their next fetch (the answer's
 * LogStartOffset) and the low watermark answered does not wait for them.
 * OffsetForLeaderEpoch (sync) answers from each log's leader-epoch cache: the end offset of
 * the asked epoch and the largest epoch at or below it (an empty cache answers the current
 * leader epoch at the log end, see broker_epoch_partition).
 * A CurrentLeaderEpoch above the image's leader epoch is UNKNOWN_LEADER_EPOCH (this broker has
 * not caught up), below it FENCED_LEADER_EPOCH (the client's view is stale). As in Kafka, the
 * end offset of the latest epoch is the log end, not the high watermark (followers truncate
 * by it; a consumer's check compares it with offsets it already read below the high
 * watermark).
 *
 * Tested by tests/unit/test_broker.c. */
#include "broker_internal.h"

#include <string.h>

/* ===== DeleteRecords ===== */

static void broker_delete_records_respond(struct broker *broker, struct broker_slot *slot)
{
    const struct kafka_delete_records_request *request = &slot->request.DeleteRecords;
    struct proto_arena decode, arena;
    broker_scratch_arenas(broker, &decode, &arena);
    u32 topic_count = (u32)MAX(request->Topics.count, 0);
    struct kafka_delete_records_response_topic_result *topics =
        proto_arena_alloc(&arena, (u64)MAX(topic_count, 1u) * sizeof(*topics));
    struct kafka_delete_records_response_partition_result *partitions =
        proto_arena_alloc(&arena, (u64)MAX(slot->part_count, 1u) * sizeof(*partitions));
    ASSERT(topics != NULL && partitions != NULL);
    for (u32 t = 0; t < topic_count; t++) {
        kafka_delete_records_response_topic_result_init(&topics[t]);
        topics[t].Name = request->Topics.items[t].Name;
        topics[t].Partitions.count = 0;
    }
    for (u32 i = 0; i < slot->part_count; i++) {
        const struct broker_part *part = &slot->parts[i];
        struct kafka_delete_records_response_partition_result *out = &partitions[i];
        kafka_delete_records_response_partition_result_init(out);
        out->PartitionIndex = part->partition;
        out->ErrorCode = part->error;
        out->LowWatermark = part->error == KAFKA_ERROR_NONE ? part->offset : -1;
        struct kafka_delete_records_response_topic_result *topic = &topics[part->request_topic];
        if (topic->Partitions.count == 0) topic->Partitions.items = out;
        topic->Partitions.count++;
    }
    union kafka_response response;
    kafka_delete_records_response_init(&response.DeleteRecords);
    response.DeleteRecords.Topics.items = topics;
    response.DeleteRecords.Topics.count = (i32)topic_count;
    broker_slot_finish(broker, slot, &response);
}

static void broker_delete_records_part(struct broker *broker, struct broker_slot *slot,
                                       u32 index, i64 offset)
{
    struct broker_part *part = &slot->parts[index];
    if (part->error != KAFKA_ERROR_NONE) return;
    struct partition_log *log = &broker->topics[part->topic].logs[part->partition];
    i64 high_watermark = broker_replica_high_watermark(broker, part->topic, (u32)part->partition);
    if (offset == -1) offset = high_watermark;
    if (offset < 0 || offset > high_watermark) {
        part->error = KAFKA_ERROR_OFFSET_OUT_OF_RANGE;
        return;
    }
    if (offset <= partition_log_start_offset(log)) { /* Nothing to delete. */
        part->offset = partition_log_start_offset(log);
        return;
    }
    enum log_result result = partition_log_delete_records(
        log, offset, broker_event_data(BROKER_EVENT_DELETE, (u32)(slot - broker->slots), index));
    if (result != LOG_OK) {
        part->error = broker_log_error(result);
        return;
    }
    slot->pending++;
}

bool broker_start_delete_records(struct broker *broker, struct broker_slot *slot)
{
    struct kafka_delete_records_request *request = &slot->request.DeleteRecords;
    u64 parts = 0;
    for (i32 t = 0; t < request->Topics.count; t++) {
        parts += (u64)MAX(request->Topics.items[t].Partitions.count, 0);
    }
    if (parts > BROKER_PARTS_MAX) return false; /* Before any deletion is issued. */
    for (i32 t = 0; t < request->Topics.count; t++) {
        struct kafka_delete_records_request_topic *topic = &request->Topics.items[t];
        for (i32 p = 0; p < topic->Partitions.count; p++) {
            struct kafka_delete_records_request_partition *asked = &topic->Partitions.items[p];
            bool added = broker_part_add(broker, slot, (u32)t, topic->Name, asked->PartitionIndex);
            ASSERT(added); /* Counted above. */
            broker_delete_records_part(broker, slot, slot->part_count - 1, asked->Offset);
        }
    }
    if (slot->pending == 0) broker_delete_records_respond(broker, slot);
    return true;
}

void broker_delete_records_on_event(struct broker *broker, struct broker_slot *slot,
                                    struct broker_part *part, const struct log_event *event)
{
    ASSERT(event->kind == LOG_EVENT_START_ADVANCED);
    part->error = broker_log_error(event->result);
    part->offset = partition_log_start_offset(&broker->topics[part->topic].logs[part->partition]);
    if (slot->pending == 0) broker_delete_records_respond(broker, slot);
}

/* ===== OffsetForLeaderEpoch ===== */

static void broker_epoch_partition(
    struct broker *broker, struct proto_string topic_name,
    const struct kafka_offset_for_leader_epoch_request_partition *asked,
    struct kafka_offset_for_leader_epoch_response_epoch_end_offset *out)
{
    kafka_offset_for_leader_epoch_response_epoch_end_offset_init(out);
    out->Partition = asked->Partition;
    i32 topic = broker_topic_find(broker, topic_name);
    if (topic < 0 || asked->Partition < 0 ||
        (u32)asked->Partition >= broker->topics[topic].partition_count) {
        out->ErrorCode = KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
    } else if (!broker_replica_leads(broker, (u32)topic, asked->Partition)) {
        out->ErrorCode = KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER;
    } else if (asked->CurrentLeaderEpoch > broker_leader_epoch(broker, (u32)topic,
                                                               asked->Partition)) {
        out->ErrorCode = KAFKA_ERROR_UNKNOWN_LEADER_EPOCH;
    } else if (asked->CurrentLeaderEpoch >= 0 &&
               asked->CurrentLeaderEpoch < broker_leader_epoch(broker, (u32)topic,
                                                               asked->Partition)) {
        out->ErrorCode = KAFKA_ERROR_FENCED_LEADER_EPOCH;
    } else {
        const struct partition_log *log = &broker->topics[topic].logs[asked->Partition];
        partition_log_epoch_end_offset(log, asked->LeaderEpoch, &out->LeaderEpoch,
                                       &out->EndOffset);
        if (out->LeaderEpoch < 0 && asked->LeaderEpoch >= 0) {
            /* Nothing in the cache (nothing written, or all of it deleted): this node has led
             * at epoch 0 since the partition began, as Kafka's leader records in its cache on
             * election, so epoch 0 ends at the log end. */
            out->LeaderEpoch = broker_leader_epoch(broker, (u32)topic, asked->Partition);
            out->EndOffset = partition_log_end_offset(log);
        }
    }
}

bool broker_handle_offset_for_leader_epoch(struct broker *broker, io_conn conn,
                                           const struct proto_request_header *header,
                                           struct proto_reader *body)
{
    struct proto_arena decode, arena;
    broker_scratch_arenas(broker, &decode, &arena);
    struct kafka_offset_for_leader_epoch_request request;
    if (kafka_offset_for_leader_epoch_request_decode(body, header->RequestApiVersion, &request,
                                                     &decode) != PROTO_OK) {
        return false;
    }
    u32 count = (u32)MAX(request.Topics.count, 0);
    struct kafka_offset_for_leader_epoch_response_topic_result *topics =
        proto_arena_alloc(&arena, (u64)MAX(count, 1u) * sizeof(*topics));
    if (topics == NULL) return false;
    for (u32 t = 0; t < count; t++) {
        const struct kafka_offset_for_leader_epoch_request_topic *asked = &request.Topics.items[t];
        kafka_offset_for_leader_epoch_response_topic_result_init(&topics[t]);
        topics[t].Topic = asked->Topic;
        u32 partitions = (u32)MAX(asked->Partitions.count, 0);
        struct kafka_offset_for_leader_epoch_response_epoch_end_offset *out =
            proto_arena_alloc(&arena, (u64)MAX(partitions, 1u) * sizeof(*out));
        if (out == NULL) return false; /* Far more partitions than exist: not a client. */
        for (u32 p = 0; p < partitions; p++) {
            broker_epoch_partition(broker, asked->Topic, &asked->Partitions.items[p], &out[p]);
        }
        topics[t].Partitions.items = out;
        topics[t].Partitions.count = (i32)partitions;
    }
    union kafka_response response;
    kafka_offset_for_leader_epoch_response_init(&response.OffsetForLeaderEpoch);
    response.OffsetForLeaderEpoch.Topics.items = topics;
    response.OffsetForLeaderEpoch.Topics.count = (i32)count;
    broker_send_response(broker, conn, header, &response);
    return true;
}
