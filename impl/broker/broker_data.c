/* broker_data.c: the handlers that wait for partition logs: Produce, ListOffsets and Fetch.
 *
 * Each runs in a request slot (broker.c). It first lists the partitions the request names
 * (slot->parts, in request order, each with its error or its work), issues log operations, and
 * answers when slot->pending is back to zero.
 *   - Produce: every record batch of a partition is framed and checked (magic 2) here, then
 *     appended with partition_log_append (which validates size and CRC, and records when it can,
 *     assigns offsets and stamps the image's leader epoch); the answer carries the first
 *     batch's base offset. Each batch in the log is observed (HISTORY_REPLICA_APPENDED, role
 *     leader, from the stamped header in the held frame). acks 0 gets no answer, acks 1 is
 *     answered once the local appends completed. acks -1 (broker_replication.h) is refused
 *     with NOT_ENOUGH_REPLICAS before any append when the image's ISR is smaller than
 *     min.insync.replicas; after the appends the slot parks (slot->parked, the slot's timer at
 *     TimeoutMs) until every partition's high watermark passes its last offset (then
 *     NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR is below min.insync.replicas, else success),
 *     its leadership moves (NOT_LEADER_OR_FOLLOWER) or the timeout (REQUEST_TIMED_OUT).
 *     broker_produce_wake looks at the BROKER_SLOTS_MAX slots when a high watermark moves.
 *     Batches are stored as they came, whatever their compression codec.
 *   - ListOffsets: earliest, and latest = the high watermark (the log end for a replica's
 *     ReplicaId >= 0), from the log's offsets; by timestamp (and max timestamp) through
 *     partition_log_list_offset, an offset found at or past that limit counting as none, as
 *     Kafka's lastFetchableOffset does.
 *   - Fetch (v4-v12, no sessions: SessionId 0) is in broker_fetch.c: file ranges from the
 *     logs, sent with io_send_file (zero copy); high watermark = last stable offset =
 *     broker_replica_high_watermark (no transactions yet); aborted transactions empty, long
 *     polling.
 * Invariants: a part is done exactly once per pass; slot->pending counts operations in flight;
 * slot->data_used <= BROKER_DATA_SIZE_MAX; a parked Produce has no operation in flight.
 *
 * Tested by tests/unit/test_broker.c and tests/integration/kafka_kcat.sh. */
#include "broker_internal.h"

#include "../../model/history.h"

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
    case LOG_ERR_PRODUCER_FENCED: return KAFKA_ERROR_INVALID_PRODUCER_EPOCH;
    case LOG_ERR_OUT_OF_SEQUENCE: return KAFKA_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    /* Our bound on producers per partition (Kafka has none): retriable, since expiry frees
     * room, and the log says why. */
    case LOG_ERR_PRODUCERS_FULL: return KAFKA_ERROR_REQUEST_TIMED_OUT;
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
    } else if (!broker_replica_leads(broker, (u32)topic, partition)) {
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

/* Frames the batches of one partition's records; KAFKA_ERROR_NONE when all are magic 2 and
 * an idempotent producer's batch comes alone (as Kafka requires: its sequence check is per
 * batch, and a retry must be the same batch) with a sequence. */
static i16 broker_produce_check(const u8 *records, i32 size)
{
    if (records == NULL || size <= 0) return KAFKA_ERROR_CORRUPT_MESSAGE;
    u64 position = 0;
    bool idempotent = false;
    for (u32 batches = 0; position < (u64)size; batches++) {
        u64 batch_size = 0;
        struct record_batch_header header;
        if (batch_size_peek(records + position, (u64)size - position, &batch_size) != BATCH_OK ||
            batch_size > (u64)size - position ||
            batch_header_decode(records + position, batch_size, &header) != BATCH_OK) {
            return KAFKA_ERROR_CORRUPT_MESSAGE;
        }
        if (header.ProducerId >= 0) {
            idempotent = true;
            /* Kafka's LogValidator: a producer id without a sequence cannot be checked. */
            if (header.BaseSequence < 0) return KAFKA_ERROR_INVALID_RECORD;
        }
        position += batch_size;
        if (idempotent && (batches > 0 || position < (u64)size)) {
            return KAFKA_ERROR_INVALID_RECORD;
        }
        ASSERT(batches < (u32)size); /* Each batch takes bytes. */
    }
    return KAFKA_ERROR_NONE;
}

/* error when the image's ISR of the part's partition is smaller than min.insync.replicas,
 * else KAFKA_ERROR_NONE (Kafka judges the committed ISR, not the maximal one). */
static i16 broker_produce_insync(const struct broker *broker, const struct broker_part *part,
                                 i16 error)
{
    const struct metadata_partition *metadata =
        broker_partition_metadata(broker, part->topic, part->partition);
    ASSERT(metadata != NULL); /* The part is ready. */
    return metadata->isr.count < broker_replica_min_insync(broker, part->topic) ? error
                                                                               : KAFKA_ERROR_NONE;
}

static void broker_produce_part(struct broker *broker, struct broker_slot *slot, u32 index,
                                u8 *records, i32 size)
{
    struct broker_part *part = &slot->parts[index];
    part->last_offset = -1;
    if (part->error == KAFKA_ERROR_NONE) part->error = broker_produce_check(records, size);
    if (part->error == KAFKA_ERROR_NONE && slot->request.Produce.Acks == -1) {
        part->error = broker_produce_insync(broker, part, KAFKA_ERROR_NOT_ENOUGH_REPLICAS);
        const struct metadata_partition *metadata =
            broker_partition_metadata(broker, part->topic, part->partition);
        part->isr_alone = metadata->isr.count == 1 &&
                          metadata->isr.ids[0] == (i32)broker->config.node_id;
    }
    if (part->error != KAFKA_ERROR_NONE) return;
    /* The records are a view into the held frame: the observation of each append reads its
     * stamped batch there. */
    ASSERT(records >= slot->frame && records + size <= slot->frame + slot->frame_size);
    part->batch_next = (u32)(records - slot->frame);
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
    if (slot->parked) {
        slot->parked = false;
        broker_slot_timer_cancel(broker, slot);
    }
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
        if (part->error_message != NULL && slot->header.RequestApiVersion >= 8) {
            out->ErrorMessage = proto_string_of(part->error_message);
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

/* acks=-1: settles each appended partition that can be (see the file comment); expired: the
 * request's time is up (or its answer is no longer wanted). True when every part is settled. */
static bool broker_produce_settle(struct broker *broker, struct broker_slot *slot, bool expired)
{
    ASSERT(slot->pending == 0);
    bool settled = true;
    for (u32 i = 0; i < slot->part_count; i++) {
        struct broker_part *part = &slot->parts[i];
        if (part->done) continue;
        ASSERT(part->appends == 0);
        const struct broker_replica *replica =
            part->error == KAFKA_ERROR_NONE
                ? &broker->topics[part->topic].replicas[part->partition]
                : NULL;
        if (replica == NULL) {
            /* Failed already. */
        } else if (!broker_replica_leads(broker, part->topic, part->partition) ||
                   replica->role != BROKER_REPLICA_LEADER) {
            /* Led elsewhere (or by no one) before the high watermark passed the batches: not
             * committed, unless this broker was the whole ISR when it appended them (as a lone
             * Kafka leader's append moves the high watermark with it; no other replica can
             * be elected cleanly without them). */
            if (!part->isr_alone) part->error = KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER;
        } else if (replica->high_watermark > part->last_offset) {
            part->error = broker_produce_insync(broker, part,
                                                KAFKA_ERROR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
        } else if (expired) {
            part->error = KAFKA_ERROR_REQUEST_TIMED_OUT;
        } else {
            settled = false;
            continue;
        }
        part->done = true;
    }
    return settled;
}

/* Every append of the request completed: answer, or wait for the high watermark. */
static void broker_produce_appended(struct broker *broker, struct broker_slot *slot)
{
    const struct kafka_produce_request *request = &slot->request.Produce;
    ASSERT(slot->pending == 0 && !slot->parked);
    if (request->Acks != -1 || broker_produce_settle(broker, slot, request->TimeoutMs <= 0)) {
        broker_produce_respond(broker, slot);
        return;
    }
    slot->parked = true;
    slot->deadline_ns = io_now_ns(broker->io) + (u64)request->TimeoutMs * NS_PER_MS;
    broker_slot_timer_set(broker, slot, slot->deadline_ns);
}

void broker_produce_on_timer(struct broker *broker, struct broker_slot *slot)
{
    ASSERT(slot->used && slot->parked && slot->header.RequestApiKey == KAFKA_API_PRODUCE);
    bool expired = slot->conn == 0 || io_now_ns(broker->io) >= slot->deadline_ns;
    if (broker_produce_settle(broker, slot, expired)) broker_produce_respond(broker, slot);
}

void broker_produce_wake(struct broker *broker, u32 topic, i32 partition)
{
    broker_groups_on_high_watermark(broker, topic, partition); /* Group persists wait too. */
    for (u32 s = 0; s < BROKER_SLOTS_MAX; s++) {
        struct broker_slot *slot = &broker->slots[s];
        if (!slot->used || !slot->parked || slot->header.RequestApiKey != KAFKA_API_PRODUCE) {
            continue;
        }
        bool concerned = false;
        for (u32 i = 0; i < slot->part_count && !concerned; i++) {
            const struct broker_part *part = &slot->parts[i];
            concerned = !part->done && part->topic == topic && part->partition == partition;
        }
        if (concerned && broker_produce_settle(broker, slot, false)) {
            broker_produce_respond(broker, slot);
        }
    }
}

/* HISTORY_REPLICA_APPENDED of the batch the event is about, read from its stamped header. */
static void broker_produce_observe(struct broker *broker, struct broker_slot *slot,
                                   struct broker_part *part, const struct log_event *event)
{
    const u8 *batch = slot->frame + part->batch_next;
    u32 room = slot->frame_size - part->batch_next;
    u64 size = 0;
    struct record_batch_header header;
    /* Framed and decoded before it was appended (broker_produce_check). */
    ASSERT(batch_size_peek(batch, room, &size) == BATCH_OK && size <= room);
    ASSERT(batch_header_decode(batch, size, &header) == BATCH_OK);
    part->batch_next += (u32)size;
    if (event->result != LOG_OK || event->duplicate) return; /* A duplicate wrote nothing. */
    struct history_replica_batch payload = {
        .leader_epoch = header.PartitionLeaderEpoch,
        .crc = header.Crc,
        .record_count = (u32)header.RecordCount,
        .role = HISTORY_REPLICA_LEADER,
    };
    struct io_observation observation = {
        .kind = HISTORY_REPLICA_APPENDED,
        .a = history_topic_hash(broker->topics[part->topic].id.bytes),
        .b = (u64)part->partition,
        .c = (u64)event->offset,
        .d = (u64)event->last_offset,
        .data = (const u8 *)&payload,
        .data_size = sizeof(payload),
    };
    io_observe(broker->io, &observation);
}

static void broker_produce_on_event(struct broker *broker, struct broker_slot *slot,
                                    struct broker_part *part, const struct log_event *event)
{
    ASSERT(event->kind == LOG_EVENT_APPENDED);
    ASSERT(part->appends > 0);
    part->appends--;
    broker_produce_observe(broker, slot, part, event);
    if (event->result == LOG_ERR_PRODUCERS_FULL) {
        /* Not the client's fault and not Kafka's (it has no such bound): the operator should
         * see it, and the client retries (REQUEST_TIMED_OUT) until expiry frees room. */
        part->error_message = "too many idempotent producers on this partition; retry later";
        io_log(broker->io, IO_LOG_WARN,
               "broker: %s-%d refuses a new producer: %u known, producer.id.expiration.ms "
               "frees room", broker->topics[part->topic].name, part->partition,
               partition_log_producers(&broker->topics[part->topic].logs[part->partition])
                   ->count);
    }
    if (event->result != LOG_OK) {
        part->error = broker_log_error(event->result);
    } else {
        if (part->offset < 0 || event->offset < part->offset) part->offset = event->offset;
        part->last_offset = MAX(part->last_offset, event->last_offset);
        broker_fetch_wake(broker, part->topic, part->partition);
    }
    if (slot->pending == 0) broker_produce_appended(broker, slot);
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

/* Kafka's lastFetchableOffset: the high watermark for a consumer, the log end for a replica
 * (ReplicaId >= 0: a debugging tool). */
static i64 broker_list_offsets_limit(struct broker *broker, const struct broker_slot *slot,
                                     const struct broker_part *part)
{
    if (slot->request.ListOffsets.ReplicaId >= 0) {
        return partition_log_end_offset(&broker->topics[part->topic].logs[part->partition]);
    }
    return broker_replica_high_watermark(broker, part->topic, (u32)part->partition);
}

static void broker_list_offsets_part(struct broker *broker, struct broker_slot *slot, u32 index,
                                     i64 timestamp)
{
    struct broker_part *part = &slot->parts[index];
    if (part->error != KAFKA_ERROR_NONE) return;
    struct partition_log *log = broker_part_log(broker, part);
    if (timestamp == LOG_TIMESTAMP_EARLIEST || timestamp == LOG_TIMESTAMP_LATEST) {
        part->offset = timestamp == LOG_TIMESTAMP_EARLIEST
                           ? partition_log_start_offset(log)
                           : broker_list_offsets_limit(broker, slot, part);
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
        bool ready = part->error == KAFKA_ERROR_NONE &&
                     broker_replica_leads(broker, part->topic, part->partition);
        if (part->error == KAFKA_ERROR_NONE && !ready) {
            part->error = KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER;
        } else if (ready && part->offset >= broker_list_offsets_limit(broker, slot, part)) {
            part->offset = -1; /* Not visible yet: as if there were none. */
            part->timestamp = -1;
        }
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
