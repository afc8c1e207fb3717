/* broker_data.c: the handlers that wait for partition logs: Produce, ListOffsets and Fetch.
 *
 * Each runs in a request slot (broker.c). It first lists the partitions the request names
 * (slot->parts, in request order, each with its error or its work), issues log operations, and
 * answers when slot->pending is back to zero.
 *   - Produce: every record batch of a partition is framed and checked (magic 2) here, then
 *     appended with partition_log_append (which validates size and CRC, and records when it can,
 *     and assigns offsets); the answer carries the first batch's base offset. acks 0 gets no
 *     answer, acks 1 and -1 are answered once the local append completed (one node: the local
 *     log is the whole ISR). Batches are stored as they came, whatever their compression codec.
 *   - ListOffsets: earliest and latest (the high watermark) from the log's offsets, by
 *     timestamp (and max timestamp) through partition_log_list_offset.
 *   - Fetch (v4-v12, no sessions: SessionId 0) is in broker_fetch.c: file ranges from the
 *     logs, sent with io_send_file (zero copy); high watermark = last stable offset = log end
 *     (no replication, no transactions yet), except with flush.messages=1, where it is the
 *     durable end (broker_high_watermark); aborted transactions empty, long polling.
 * Invariants: a part is done exactly once per pass; slot->pending counts operations in flight;
 * slot->data_used <= BROKER_DATA_SIZE_MAX.
 *
 * Tested by tests/unit/test_broker.c and tests/integration/kafka_kcat.sh. */
#include "broker_internal.h"

#include <string.h>

static u32 broker_slot_index(const struct broker *broker, const struct broker_slot *slot)
{
    ASSERT(slot >= broker->slots && slot < broker->slots + BROKER_SLOTS_MAX);
    return (u32)(slot - broker->slots);
}

i16 broker_log_error(enum log_result result)
{
    switch (result) {
    case LOG_OK: return KAFKA_ERROR_NONE;
    case LOG_ERR_INVALID_BATCH: return KAFKA_ERROR_CORRUPT_MESSAGE;
    case LOG_ERR_TOO_LARGE: return KAFKA_ERROR_MESSAGE_TOO_LARGE;
    case LOG_ERR_OUT_OF_RANGE: return KAFKA_ERROR_OFFSET_OUT_OF_RANGE;
    case LOG_ERR_BUSY: return KAFKA_ERROR_REQUEST_TIMED_OUT;
    case LOG_ERR_IO: return KAFKA_ERROR_KAFKA_STORAGE_ERROR;
    case LOG_ERR_OFFLINE: return KAFKA_ERROR_KAFKA_STORAGE_ERROR;
    default: return KAFKA_ERROR_UNKNOWN_SERVER_ERROR;
    }
}

i64 broker_high_watermark(const struct partition_log *log)
{
    i64 end = partition_log_end_offset(log);
    /* flush.messages=1 promises that an acknowledged record survives a crash; a reader must
     * not see one a crash could still take back. The append's sync finishes before its event,
     * so the durable end is the end once no append is in flight. */
    if (log->config.flush_messages <= 1) return MIN(log->recovery_point, end);
    return end;
}

/* Adds one named partition to the slot; false when the request names too many. */
bool broker_part_add(struct broker *broker, struct broker_slot *slot, u32 request_topic,
                            struct proto_string name, i32 partition)
{
    if (slot->part_count == BROKER_PARTS_MAX) return false;
    struct broker_part *part = &slot->parts[slot->part_count++];
    memset(part, 0, sizeof(*part));
    part->request_topic = request_topic;
    part->partition = partition;
    part->offset = -1;
    part->timestamp = -1;
    i32 topic = broker_topic_find(broker, name);
    part->topic = topic < 0 ? BROKER_TOPIC_NONE : (u16)topic;
    if (topic < 0 || partition < 0 ||
        (u32)partition >= broker->topics[topic].partition_count) {
        part->error = KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
    } else if (broker->topics[topic].states[partition] == BROKER_PARTITION_FAILED) {
        part->error = KAFKA_ERROR_KAFKA_STORAGE_ERROR;
    } else if (!broker_partition_ready(broker, (u32)topic, partition)) {
        part->error = KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER;
    }
    part->done = part->error != KAFKA_ERROR_NONE;
    return true;
}

static struct partition_log *broker_part_log(struct broker *broker,
                                             const struct broker_part *part)
{
    ASSERT(part->topic != BROKER_TOPIC_NONE);
    ASSERT(part->error == KAFKA_ERROR_NONE);
    return &broker->topics[part->topic].logs[part->partition];
}

/* ===== Produce ===== */

/* Frames the batches of one partition's records; KAFKA_ERROR_NONE when all are magic 2. */
static i16 broker_produce_check(const u8 *records, i32 size)
{
    if (records == NULL || size <= 0) return KAFKA_ERROR_CORRUPT_MESSAGE;
    u64 position = 0;
    for (u32 batches = 0; position < (u64)size; batches++) {
        u64 batch_size = 0;
        struct record_batch_header header;
        if (batch_size_peek(records + position, (u64)size - position, &batch_size) != BATCH_OK ||
            batch_size > (u64)size - position ||
            batch_header_decode(records + position, batch_size, &header) != BATCH_OK) {
            return KAFKA_ERROR_CORRUPT_MESSAGE;
        }
        position += batch_size;
        ASSERT(batches < (u32)size); /* Each batch takes bytes. */
    }
    return KAFKA_ERROR_NONE;
}

static void broker_produce_part(struct broker *broker, struct broker_slot *slot, u32 index,
                                u8 *records, i32 size)
{
    struct broker_part *part = &slot->parts[index];
    if (part->error == KAFKA_ERROR_NONE) part->error = broker_produce_check(records, size);
    if (part->error != KAFKA_ERROR_NONE) return;
    u64 position = 0;
    for (u32 batches = 0; position < (u64)size && batches < (u32)size; batches++) {
        u64 batch_size = 0;
        ASSERT(batch_size_peek(records + position, (u64)size - position, &batch_size) ==
               BATCH_OK);
        enum log_result result = partition_log_append(
            broker_part_log(broker, part), records + position, (u32)batch_size,
            broker_leader_epoch(broker, part->topic, part->partition), true,
            broker_event_data(BROKER_EVENT_APPEND, broker_slot_index(broker, slot), index));
        if (result != LOG_OK) {
            part->error = broker_log_error(result); /* Earlier batches stay appended. */
            return;
        }
        part->appends++;
        slot->pending++;
        position += batch_size;
    }
}

static void broker_produce_respond(struct broker *broker, struct broker_slot *slot)
{
    const struct kafka_produce_request *request = &slot->request.Produce;
    if (request->Acks == 0) {
        broker_slot_finish(broker, slot, NULL);
        return;
    }
    struct proto_arena decode, arena;
    broker_scratch_arenas(broker, &decode, &arena);
    u32 topic_count = (u32)MAX(request->TopicData.count, 0);
    struct kafka_produce_response_topic_produce *topics =
        proto_arena_alloc(&arena, (u64)MAX(topic_count, 1u) * sizeof(*topics));
    struct kafka_produce_response_partition_produce *partitions =
        proto_arena_alloc(&arena, (u64)MAX(slot->part_count, 1u) * sizeof(*partitions));
    /* Bounded: the request's topics fit the slot's 64 KiB decode arena and its partitions
     * BROKER_PARTS_MAX, so their answers fit the larger response arena. */
    ASSERT(topics != NULL && partitions != NULL);
    for (u32 t = 0; t < topic_count; t++) {
        kafka_produce_response_topic_produce_init(&topics[t]);
        topics[t].Name = request->TopicData.items[t].Name;
        topics[t].PartitionResponses.items = NULL;
        topics[t].PartitionResponses.count = 0;
    }
    for (u32 i = 0; i < slot->part_count; i++) {
        const struct broker_part *part = &slot->parts[i];
        struct kafka_produce_response_partition_produce *out = &partitions[i];
        kafka_produce_response_partition_produce_init(out);
        out->Index = part->partition;
        out->ErrorCode = part->error;
        out->BaseOffset = part->error == KAFKA_ERROR_NONE ? part->offset : -1;
        if (part->error == KAFKA_ERROR_NONE && slot->header.RequestApiVersion >= 5) {
            out->LogStartOffset = partition_log_start_offset(broker_part_log(broker, part));
        }
        struct kafka_produce_response_topic_produce *topic = &topics[part->request_topic];
        if (topic->PartitionResponses.count == 0) topic->PartitionResponses.items = out;
        topic->PartitionResponses.count++;
    }
    union kafka_response response;
    kafka_produce_response_init(&response.Produce);
    response.Produce.Responses.items = topics;
    response.Produce.Responses.count = (i32)topic_count;
    broker_slot_finish(broker, slot, &response);
}

bool broker_start_produce(struct broker *broker, struct broker_slot *slot)
{
    struct kafka_produce_request *request = &slot->request.Produce;
    u64 parts = 0;
    for (i32 t = 0; t < request->TopicData.count; t++) {
        parts += (u64)MAX(request->TopicData.items[t].PartitionData.count, 0);
    }
    if (parts > BROKER_PARTS_MAX) return false; /* Before any append is issued. */
    bool acks_valid = request->Acks == 0 || request->Acks == 1 || request->Acks == -1;
    for (i32 t = 0; t < request->TopicData.count; t++) {
        struct kafka_produce_request_topic_produce_data *topic = &request->TopicData.items[t];
        for (i32 p = 0; p < topic->PartitionData.count; p++) {
            struct kafka_produce_request_partition_produce_data *data =
                &topic->PartitionData.items[p];
            bool added = broker_part_add(broker, slot, (u32)t, topic->Name, data->Index);
            ASSERT(added); /* Counted above. */
            u32 index = slot->part_count - 1;
            if (!acks_valid) {
                slot->parts[index].error = KAFKA_ERROR_INVALID_REQUIRED_ACKS;
                continue;
            }
            /* Views into slot->frame, held bytes that are ours to write: the log stamps them. */
            broker_produce_part(broker, slot, index, (u8 *)data->Records.data,
                                data->Records.size);
        }
    }
    if (slot->pending == 0) broker_produce_respond(broker, slot);
    return true;
}

static void broker_produce_on_event(struct broker *broker, struct broker_slot *slot,
                                    struct broker_part *part, const struct log_event *event)
{
    ASSERT(event->kind == LOG_EVENT_APPENDED);
    ASSERT(part->appends > 0);
    part->appends--;
    if (event->result != LOG_OK) {
        part->error = broker_log_error(event->result);
    } else {
        if (part->offset < 0 || event->offset < part->offset) part->offset = event->offset;
        broker_fetch_wake(broker, part->topic, part->partition);
    }
    if (slot->pending == 0) broker_produce_respond(broker, slot);
}

/* ===== ListOffsets ===== */

static void broker_list_offsets_respond(struct broker *broker, struct broker_slot *slot)
{
    const struct kafka_list_offsets_request *request = &slot->request.ListOffsets;
    struct proto_arena decode, arena;
    broker_scratch_arenas(broker, &decode, &arena);
    u32 topic_count = (u32)MAX(request->Topics.count, 0);
    struct kafka_list_offsets_response_topic *topics =
        proto_arena_alloc(&arena, (u64)MAX(topic_count, 1u) * sizeof(*topics));
    struct kafka_list_offsets_response_partition *partitions =
        proto_arena_alloc(&arena, (u64)MAX(slot->part_count, 1u) * sizeof(*partitions));
    ASSERT(topics != NULL && partitions != NULL);
    for (u32 t = 0; t < topic_count; t++) {
        kafka_list_offsets_response_topic_init(&topics[t]);
        topics[t].Name = request->Topics.items[t].Name;
        topics[t].Partitions.count = 0;
    }
    for (u32 i = 0; i < slot->part_count; i++) {
        const struct broker_part *part = &slot->parts[i];
        struct kafka_list_offsets_response_partition *out = &partitions[i];
        kafka_list_offsets_response_partition_init(out);
        out->PartitionIndex = part->partition;
        out->ErrorCode = part->error;
        if (part->error == KAFKA_ERROR_NONE) {
            out->Offset = part->offset;
            out->Timestamp = part->timestamp;
            if (slot->header.RequestApiVersion >= 4) {
                out->LeaderEpoch = broker_leader_epoch(broker, part->topic, part->partition);
            }
        }
        struct kafka_list_offsets_response_topic *topic = &topics[part->request_topic];
        if (topic->Partitions.count == 0) topic->Partitions.items = out;
        topic->Partitions.count++;
    }
    union kafka_response response;
    kafka_list_offsets_response_init(&response.ListOffsets);
    response.ListOffsets.Topics.items = topics;
    response.ListOffsets.Topics.count = (i32)topic_count;
    broker_slot_finish(broker, slot, &response);
}

static void broker_list_offsets_part(struct broker *broker, struct broker_slot *slot, u32 index,
                                     i64 timestamp)
{
    struct broker_part *part = &slot->parts[index];
    if (part->error != KAFKA_ERROR_NONE) return;
    struct partition_log *log = broker_part_log(broker, part);
    if (timestamp == LOG_TIMESTAMP_EARLIEST || timestamp == LOG_TIMESTAMP_LATEST) {
        part->offset = timestamp == LOG_TIMESTAMP_EARLIEST ? partition_log_start_offset(log)
                                                           : broker_high_watermark(log);
        part->timestamp = -1;
        return;
    }
    if (timestamp < LOG_TIMESTAMP_MAX) {
        part->error = KAFKA_ERROR_INVALID_REQUEST; /* Tiered storage and others: not here. */
        return;
    }
    enum log_result result = partition_log_list_offset(
        log, timestamp,
        broker_event_data(BROKER_EVENT_LIST, broker_slot_index(broker, slot), index));
    if (result != LOG_OK) {
        part->error = broker_log_error(result);
        return;
    }
    slot->pending++;
}

bool broker_start_list_offsets(struct broker *broker, struct broker_slot *slot)
{
    struct kafka_list_offsets_request *request = &slot->request.ListOffsets;
    u64 parts = 0;
    for (i32 t = 0; t < request->Topics.count; t++) {
        parts += (u64)MAX(request->Topics.items[t].Partitions.count, 0);
    }
    if (parts > BROKER_PARTS_MAX) return false; /* Before any lookup is issued. */
    for (i32 t = 0; t < request->Topics.count; t++) {
        struct kafka_list_offsets_request_topic *topic = &request->Topics.items[t];
        for (i32 p = 0; p < topic->Partitions.count; p++) {
            struct kafka_list_offsets_request_partition *asked = &topic->Partitions.items[p];
            bool added = broker_part_add(broker, slot, (u32)t, topic->Name, asked->PartitionIndex);
            ASSERT(added); /* Counted above. */
            broker_list_offsets_part(broker, slot, slot->part_count - 1, asked->Timestamp);
        }
    }
    if (slot->pending == 0) broker_list_offsets_respond(broker, slot);
    return true;
}

/* ===== Events from the logs ===== */

void broker_data_on_event(struct broker *broker, struct broker_slot *slot,
                          enum broker_event_kind kind, u32 index, const struct log_event *event)
{
    if (kind == BROKER_EVENT_MAINTENANCE) { /* Not a request's: the slot is a placeholder. */
        broker_maintenance_on_event(broker, event);
        return;
    }
    ASSERT(slot->used);
    ASSERT(index < slot->part_count);
    ASSERT(slot->pending > 0);
    struct broker_part *part = &slot->parts[index];
    slot->pending--;
    if (kind == BROKER_EVENT_APPEND) {
        broker_produce_on_event(broker, slot, part, event);
        return;
    }
    if (kind == BROKER_EVENT_LIST) {
        ASSERT(event->kind == LOG_EVENT_OFFSET_FOUND);
        part->error = broker_log_error(event->result);
        part->offset = event->offset;
        part->timestamp = event->timestamp;
        if (slot->pending == 0) broker_list_offsets_respond(broker, slot);
        return;
    }
    if (kind == BROKER_EVENT_DELETE) {
        broker_delete_records_on_event(broker, slot, part, event);
        return;
    }
    ASSERT(kind == BROKER_EVENT_READ);
    broker_fetch_on_log_read(broker, slot, part, event);
}
