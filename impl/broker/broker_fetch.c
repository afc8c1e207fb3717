/* broker_fetch.c: the Fetch handler (v4-v12) and its long poll, answered with sendfile.
 *
 * A pass asks the slot's partitions one after the other: partition_log_read finds whole
 * batches from the fetch offset (at most PartitionMaxBytes and what remains of MaxBytes, at
 * least one batch) as a file range. No record byte is read: each partition's Records is given
 * to the encoder as a place in the slot->data address range, the writer splices it
 * (proto_writer_splice: the length prefix is written, the bytes skipped), and the answer goes
 * out as the encoded pieces with io_send and the file ranges with io_send_file between them
 * (zero copy: sendfile from the page cache in kbroker). After the pass, fewer than MinBytes
 * bytes and MaxWaitMs > 0 park the slot until its deadline (the slot's timer) or until the
 * partition moves for it: an append for a replica fetch, the high watermark for a consumer's.
 * A fetch offset at the log end reads nothing; one outside [log start, log end] is
 * OFFSET_OUT_OF_RANGE.
 *
 * Replication (broker_replication.h): every fetch is checked against the image's leader epoch
 * (CurrentLeaderEpoch older: FENCED_LEADER_EPOCH, newer: UNKNOWN_LEADER_EPOCH, -1: unchecked)
 * and, with LastFetchedEpoch >= 0, against the leader epoch cache (KIP-320: the fetcher's last
 * epoch and offset must be a prefix of this log, else the answer is DivergingEpoch and no
 * records, at once). A replica fetch (ReplicaId >= 0, from a broker among the partition's
 * replicas) reports its fetch offset to broker_replication.c and reads up to the log end;
 * a consumer's reads only below the high watermark. Answers carry HighWatermark = last stable
 * offset = broker_replica_high_watermark and LogStartOffset.
 *
 * Invariants: at most one log read in flight per slot (pending <= 1); a parked slot has no
 * operation in flight; next_part only grows within a pass. Ranges name bytes below the log end
 * when read, and those bytes stay there until the answer leaves: only the leader serves fetches
 * and a leader never truncates its log while it leads (only a follower cuts, for divergence),
 * and the moment this broker stops leading a partition, parked fetches of it answer at once,
 * a read that completes later and every new fetch find it not led and answer
 * NOT_LEADER_OR_FOLLOWER without its records, all before the fetcher could issue a truncation
 * (which waits for an answer from the new leader).
 *
 * Tested by tests/unit/test_broker.c (reads, long poll woken by a produce, timeout, replica
 * fetches moving the high watermark, divergence, epoch fencing) and
 * tests/integration/kafka_kcat.sh (kcat consumes what it produced). */
#include "broker_internal.h"

#include <string.h>

static u32 broker_fetch_slot_index(const struct broker *broker, const struct broker_slot *slot)
{
    ASSERT(slot >= broker->slots && slot < broker->slots + BROKER_SLOTS_MAX);
    return (u32)(slot - broker->slots);
}

static bool broker_fetch_by_replica(const struct broker_slot *slot)
{
    ASSERT(slot->header.RequestApiKey == KAFKA_API_FETCH);
    return slot->request.Fetch.ReplicaId >= 0;
}

static u32 broker_fetch_budget(const struct broker_slot *slot)
{
    i32 max_bytes = slot->request.Fetch.MaxBytes;
    u32 limit = max_bytes <= 0 ? 0 : MIN((u32)max_bytes, BROKER_DATA_SIZE_MAX);
    return slot->data_used >= limit ? 0 : limit - slot->data_used;
}

/* The part whose records were spliced at offset. */
static const struct broker_part *broker_fetch_spliced(const struct broker_slot *slot,
                                                      const struct proto_splice *splice)
{
    for (u32 i = 0; i < slot->part_count; i++) {
        const struct broker_part *part = &slot->parts[i];
        if (part->data_size > 0 && part->data_position == splice->offset) {
            ASSERT(part->data_size == splice->size);
            return part;
        }
    }
    ASSERT(false); /* Only Records values point into slot->data. */
    return NULL;
}

/* Encodes the answer with the records spliced out, then sends it piece by piece. */
static void broker_fetch_send(struct broker *broker, struct broker_slot *slot,
                              const union kafka_response *response)
{
    struct proto_splice splices[BROKER_PARTS_MAX];
    struct proto_writer writer;
    proto_writer_init(&writer, broker->out, BROKER_OUT_SIZE);
    proto_writer_splice(&writer, slot->data, BROKER_DATA_SIZE_MAX, splices, BROKER_PARTS_MAX);
    enum proto_error error = proto_response_frame_encode(
        &writer, KAFKA_API_FETCH, slot->header.RequestApiVersion, slot->header.CorrelationId,
        response);
    ASSERT(error == PROTO_OK); /* Our own values, within the buffer's room. */
    io_conn conn = slot->conn;
    u32 cursor = 0;
    enum io_result result = IO_OK;
    for (u32 i = 0; i < writer.splice_count && result == IO_OK; i++) {
        const struct proto_splice *splice = &splices[i];
        const struct broker_part *part = broker_fetch_spliced(slot, splice);
        ASSERT(splice->position >= cursor);
        if (splice->position > cursor) {
            result = io_send(broker->io, conn, broker->out + cursor, splice->position - cursor);
        }
        if (result == IO_OK) {
            result = io_send_file(broker->io, conn, part->file, part->file_position,
                                  splice->size);
        }
        cursor = splice->position + splice->size;
    }
    if (result == IO_OK && writer.position > cursor) {
        result = io_send(broker->io, conn, broker->out + cursor, writer.position - cursor);
    }
    if (result != IO_OK) {
        io_log(broker->io, IO_LOG_WARN, "broker: cannot send a fetch answer (%s); closing",
               io_result_name(result));
        broker_conn_close(broker, conn);
        return;
    }
    broker_metrics_sent(broker, KAFKA_API_FETCH, writer.position);
    broker_metrics_answered(broker, KAFKA_API_FETCH, slot->header.RequestApiVersion, response);
}

static void broker_fetch_respond(struct broker *broker, struct broker_slot *slot)
{
    const struct kafka_fetch_request *request = &slot->request.Fetch;
    struct proto_arena decode, arena;
    broker_scratch_arenas(broker, &decode, &arena);
    u32 topic_count = (u32)MAX(request->Topics.count, 0);
    struct kafka_fetch_response_fetchable_topic *topics =
        proto_arena_alloc(&arena, (u64)MAX(topic_count, 1u) * sizeof(*topics));
    struct kafka_fetch_response_partition_data *partitions =
        proto_arena_alloc(&arena, (u64)MAX(slot->part_count, 1u) * sizeof(*partitions));
    ASSERT(topics != NULL && partitions != NULL);
    for (u32 t = 0; t < topic_count; t++) {
        kafka_fetch_response_fetchable_topic_init(&topics[t]);
        topics[t].Topic = request->Topics.items[t].Topic;
        topics[t].Partitions.count = 0;
    }
    for (u32 i = 0; i < slot->part_count; i++) {
        const struct broker_part *part = &slot->parts[i];
        struct kafka_fetch_response_partition_data *out = &partitions[i];
        kafka_fetch_response_partition_data_init(out);
        out->PartitionIndex = part->partition;
        out->ErrorCode = part->error;
        out->AbortedTransactions.count = 0;
        bool known = part->topic != BROKER_TOPIC_NONE &&
                     part->error != KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
        bool ready = known && broker_replica_leads(broker, part->topic, part->partition);
        /* Not led here since it was read (a parked fetch ended by the move): its ranges are
         * not sent (see the file comment); the next fetch learns NOT_LEADER_OR_FOLLOWER. */
        bool records = ready && out->ErrorCode == KAFKA_ERROR_NONE && part->data_size > 0;
        out->Records = (struct proto_bytes){slot->data + part->data_position,
                                            records ? (i32)part->data_size : 0};
        if (ready) {
            const struct partition_log *log = &broker->topics[part->topic].logs[part->partition];
            out->HighWatermark = broker_replica_high_watermark(broker, part->topic,
                                                               (u32)part->partition);
            out->LastStableOffset = out->HighWatermark;
            if (slot->header.RequestApiVersion >= 5) {
                out->LogStartOffset = partition_log_start_offset(log);
            }
            if (part->diverging_epoch >= 0) {
                out->DivergingEpoch.Epoch = part->diverging_epoch;
                out->DivergingEpoch.EndOffset = part->diverging_end;
            }
        } else {
            out->HighWatermark = -1;
        }
        struct kafka_fetch_response_fetchable_topic *topic = &topics[part->request_topic];
        if (topic->Partitions.count == 0) topic->Partitions.items = out;
        topic->Partitions.count++;
    }
    union kafka_response response;
    kafka_fetch_response_init(&response.Fetch);
    response.Fetch.SessionId = 0;
    response.Fetch.Responses.items = topics;
    response.Fetch.Responses.count = (i32)topic_count;
    if (slot->conn != 0) broker_fetch_send(broker, slot, &response);
    broker_slot_finish(broker, slot, NULL);
}

/* The pass is over: answer, or park for the long poll. */
static void broker_fetch_pass_done(struct broker *broker, struct broker_slot *slot)
{
    ASSERT(slot->pending == 0);
    const struct kafka_fetch_request *request = &slot->request.Fetch;
    u64 now_ns = io_now_ns(broker->io);
    if (slot->deadline_ns == 0) {
        slot->deadline_ns = now_ns + (u64)MAX(request->MaxWaitMs, 0) * NS_PER_MS;
    }
    bool enough = (i64)slot->data_used >= (i64)request->MinBytes;
    /* Answered at once, as Kafka does: a divergence (the fetcher must truncate first) and an
     * epoch mismatch (it must learn the image first). Other errors keep the long poll they
     * always had here (Kafka answers those at once too). */
    for (u32 i = 0; i < slot->part_count && !enough; i++) {
        const struct broker_part *part = &slot->parts[i];
        enough = part->diverging_epoch >= 0 || part->error == KAFKA_ERROR_FENCED_LEADER_EPOCH ||
                 part->error == KAFKA_ERROR_UNKNOWN_LEADER_EPOCH;
    }
    if (enough || slot->waited || slot->conn == 0 || now_ns >= slot->deadline_ns) {
        broker_fetch_respond(broker, slot);
        return;
    }
    slot->parked = true;
    broker_slot_timer_set(broker, slot, slot->deadline_ns);
}

/* Issues the read of the next partition that needs one, or ends the pass. */
static void broker_fetch_next(struct broker *broker, struct broker_slot *slot)
{
    ASSERT(slot->pending == 0);
    ASSERT(!slot->parked);
    for (; slot->next_part < slot->part_count; slot->next_part++) {
        struct broker_part *part = &slot->parts[slot->next_part];
        if (part->done) continue;
        if (!broker_replica_leads(broker, part->topic, part->partition)) {
            part->error = KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER;
            part->done = true;
            continue;
        }
        struct partition_log *log = &broker->topics[part->topic].logs[part->partition];
        i64 end = partition_log_end_offset(log);
        if (part->offset < partition_log_start_offset(log) || part->offset > end) {
            part->error = KAFKA_ERROR_OFFSET_OUT_OF_RANGE;
            part->done = true;
            continue;
        }
        /* A consumer gets only what is below the high watermark, even if a read queued behind
         * an append would find more; a follower copies everything there is. */
        i64 limit = broker_fetch_by_replica(slot)
                        ? end
                        : broker_replica_high_watermark(broker, part->topic,
                                                        (u32)part->partition);
        u32 budget = MIN(broker_fetch_budget(slot), part->max_bytes);
        if (part->offset >= limit || budget == 0) {
            part->done = true;
            continue;
        }
        enum log_result result = partition_log_read(
            log, part->offset, budget, limit,
            broker_event_data(BROKER_EVENT_READ, broker_fetch_slot_index(broker, slot),
                              slot->next_part));
        if (result == LOG_OK) {
            slot->pending++;
            return;
        }
        part->error = result == LOG_ERR_OUT_OF_RANGE ? KAFKA_ERROR_OFFSET_OUT_OF_RANGE
                                                     : KAFKA_ERROR_KAFKA_STORAGE_ERROR;
        part->done = true;
    }
    broker_fetch_pass_done(broker, slot);
}

/* KIP-320: whether (last_fetched_epoch, fetch_offset) is not a prefix of this log; if so, the
 * largest epoch <= last_fetched_epoch this log has and where it ends here. */
static bool broker_fetch_diverges(const struct partition_log *log, i32 last_fetched_epoch,
                                  i64 fetch_offset, i32 *epoch, i64 *end_offset)
{
    ASSERT(last_fetched_epoch >= 0);
    partition_log_epoch_end_offset(log, last_fetched_epoch, epoch, end_offset);
    if (*epoch < 0) {
        /* Older than every epoch here (or none is left): Kafka's epoch cache answers the asked
         * epoch ending where this log's first epoch starts (its end when it has none). */
        *epoch = last_fetched_epoch;
        *end_offset = log->epoch_count > 0 ? log->epochs[0].start_offset
                                           : partition_log_end_offset(log);
    }
    return *epoch < last_fetched_epoch || *end_offset < fetch_offset;
}

/* The replication checks of one partition the fetch names (before any read). */
static void broker_fetch_check(struct broker *broker, struct broker_slot *slot,
                               struct broker_part *part,
                               const struct kafka_fetch_request_partition *asked)
{
    if (part->error != KAFKA_ERROR_NONE) return;
    u32 topic = part->topic, partition = (u32)part->partition;
    const struct broker_replica *replica = &broker->topics[topic].replicas[partition];
    const struct metadata_partition *metadata =
        broker_partition_metadata(broker, topic, part->partition);
    ASSERT(metadata != NULL); /* Ready: the image names this broker the leader. */
    if (replica->role != BROKER_REPLICA_LEADER || replica->leader_epoch != metadata->leader_epoch) {
        part->error = KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER; /* The role has not caught up yet. */
    } else if (asked->CurrentLeaderEpoch >= 0 &&
               asked->CurrentLeaderEpoch < metadata->leader_epoch) {
        part->error = KAFKA_ERROR_FENCED_LEADER_EPOCH;
    } else if (asked->CurrentLeaderEpoch > metadata->leader_epoch) {
        part->error = KAFKA_ERROR_UNKNOWN_LEADER_EPOCH;
    } else if (broker_fetch_by_replica(slot) &&
               (slot->request.Fetch.ReplicaId == (i32)broker->config.node_id ||
                !metadata_ids_contains(&metadata->replicas, slot->request.Fetch.ReplicaId))) {
        part->error = KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER; /* Kafka: "not a replica". */
    }
    if (part->error != KAFKA_ERROR_NONE) {
        part->done = true;
        return;
    }
    struct partition_log *log = &broker->topics[topic].logs[partition];
    if (asked->LastFetchedEpoch >= 0 &&
        broker_fetch_diverges(log, asked->LastFetchedEpoch, asked->FetchOffset,
                              &part->diverging_epoch, &part->diverging_end)) {
        part->done = true; /* No records: the fetcher truncates, then asks again. */
        return;
    }
    part->diverging_epoch = -1;
    part->diverging_end = -1;
    bool in_range = asked->FetchOffset >= partition_log_start_offset(log) &&
                    asked->FetchOffset <= partition_log_end_offset(log);
    if (broker_fetch_by_replica(slot) && in_range) {
        /* May move the high watermark, and answer other requests waiting on it. */
        broker_replica_follower_fetched(broker, topic, partition, slot->request.Fetch.ReplicaId,
                                        asked->FetchOffset);
    }
}

bool broker_start_fetch(struct broker *broker, struct broker_slot *slot)
{
    struct kafka_fetch_request *request = &slot->request.Fetch;
    slot->deadline_ns = 0;
    for (i32 t = 0; t < request->Topics.count; t++) {
        struct kafka_fetch_request_topic *topic = &request->Topics.items[t];
        for (i32 p = 0; p < topic->Partitions.count; p++) {
            struct kafka_fetch_request_partition *asked = &topic->Partitions.items[p];
            if (!broker_part_add(broker, slot, (u32)t, topic->Topic, asked->Partition)) {
                return false;
            }
            struct broker_part *part = &slot->parts[slot->part_count - 1];
            part->offset = asked->FetchOffset;
            part->max_bytes = asked->PartitionMaxBytes <= 0 ? 0 : (u32)asked->PartitionMaxBytes;
            part->diverging_epoch = -1;
            part->diverging_end = -1;
        }
    }
    /* After every part is listed: a refusal above must not leave a follower's fetch offset
     * recorded for a request that is never served. */
    u32 index = 0;
    for (i32 t = 0; t < request->Topics.count; t++) {
        struct kafka_fetch_request_topic *topic = &request->Topics.items[t];
        for (i32 p = 0; p < topic->Partitions.count; p++) {
            broker_fetch_check(broker, slot, &slot->parts[index++], &topic->Partitions.items[p]);
        }
    }
    ASSERT(index == slot->part_count);
    broker_fetch_next(broker, slot);
    return true;
}

void broker_fetch_on_log_read(struct broker *broker, struct broker_slot *slot,
                              struct broker_part *part, const struct log_event *event)
{
    ASSERT(event->kind == LOG_EVENT_READ);
    ASSERT(slot->pending == 0);
    ASSERT((u32)(part - slot->parts) == slot->next_part);
    u32 space = BROKER_DATA_SIZE_MAX - slot->data_used;
    /* At least one batch, as Kafka sends; one larger than the room left is cut (clients drop
     * a partial batch at the end of a fetch and fetch it again). */
    u32 size = MIN(event->range.size, space);
    if (event->result != LOG_OK) {
        part->error = broker_log_error(event->result);
    } else if (size > 0) {
        ASSERT(event->range.file != 0);
        part->file = event->range.file;
        part->file_position = event->range.position;
        part->data_position = slot->data_used;
        part->data_size = size;
        slot->data_used += size;
    }
    part->done = true;
    slot->next_part++;
    broker_fetch_next(broker, slot);
}

void broker_fetch_on_timer(struct broker *broker, struct broker_slot *slot)
{
    ASSERT(slot->used && slot->parked);
    if (slot->header.RequestApiKey == KAFKA_API_PRODUCE) {
        broker_produce_on_timer(broker, slot);
        return;
    }
    broker_slot_timer_cancel(broker, slot);
    slot->parked = false;
    slot->waited = true;
    broker_fetch_pass_done(broker, slot);
}

void broker_fetch_wake(struct broker *broker, u32 topic, i32 partition)
{
    ASSERT(partition >= 0);
    broker_replica_on_log_progress(broker, topic, (u32)partition);
}

void broker_fetch_wake_parked(struct broker *broker, u32 topic, i32 partition, bool grew,
                              bool high_watermark_moved)
{
    for (u32 i = 0; i < BROKER_SLOTS_MAX; i++) {
        struct broker_slot *slot = &broker->slots[i];
        if (!slot->used || !slot->parked || slot->header.RequestApiKey != KAFKA_API_FETCH) {
            continue;
        }
        if (!(broker_fetch_by_replica(slot) ? grew : high_watermark_moved)) continue;
        bool concerned = false;
        for (u32 p = 0; p < slot->part_count && !concerned; p++) {
            concerned = slot->parts[p].topic == topic && slot->parts[p].partition == partition;
        }
        if (!concerned) continue;
        broker_slot_timer_cancel(broker, slot);
        slot->parked = false;
        slot->data_used = 0;
        slot->next_part = 0;
        for (u32 p = 0; p < slot->part_count; p++) {
            struct broker_part *part = &slot->parts[p];
            part->data_size = 0;
            part->data_position = 0;
            part->done = part->error != KAFKA_ERROR_NONE;
        }
        broker_fetch_next(broker, slot);
    }
}
