/* log_read.c: Fetch and ListOffsets reads of a partition log.
 *
 * A read finds the segment holding the offset (binary search), the nearest indexed batch below
 * it (the offset index), then scans batch headers from there to the batch holding the offset.
 * It then jumps, by the index again, to the last indexed batch boundary within max_bytes and
 * below the offset limit, and scans on to the last whole batch that fits. The result is a file
 * range of whole batches (at least one, Kafka's minOneMessage), which the real runtime sends
 * with sendfile and the simulator from its disk model. ListOffsets by time uses the time index
 * to find where to start, then looks inside batches (decompressing if it has scratch room) for
 * the first record at or after the time.
 *
 * Invariants: a range starts and ends on batch boundaries, never crosses a segment, never holds
 * a batch whose last offset reaches the limit, and its first batch holds the requested offset
 * (or is the first batch after it, in a gap left by compaction or a follower's append).
 *
 * Tested by tests/unit/test_log.c (byte and offset limits, gaps, index jumps, ListOffsets) and
 * tests/unit/test_log_compression.c (a record inside a compressed batch). */
#include "log_internal.h"

#include <string.h>

/* ===== Read ===== */

enum { LOG_READ_PHASE_LOCATE = 1, LOG_READ_PHASE_EXTEND };

static i64 log_read_limit(const struct partition_log *log)
{
    return MIN(log->op.request.offset_limit, log_end_offset(log));
}

static void log_read_segment(struct partition_log *log, u32 index)
{
    const struct segment *segment = &log->segments[index];
    i64 offset = log->op.request.offset;
    u64 position = 0;
    if (offset >= segment->base_offset) {
        position = offset_index_lookup(&segment->index, segment->base_offset, offset);
    }
    log->op.segment = index;
    log->op.phase = LOG_READ_PHASE_LOCATE;
    log_scan_start(log, index, position, segment->size, false);
}

void log_read_start(struct partition_log *log)
{
    const struct log_request *request = &log->op.request;
    struct log_range *range = &log->op.event.range;
    range->first_offset = request->offset;
    range->next_offset = request->offset;
    if (request->offset < log->log_start_offset || request->offset > log_end_offset(log)) {
        log_op_finish(log, LOG_ERR_OUT_OF_RANGE);
        return;
    }
    if (request->offset >= log_read_limit(log)) {
        log_op_finish(log, LOG_OK);
        return;
    }
    log_read_segment(log, log_segment_find(log, request->offset));
}

/* Found the first batch: remember it, then jump by the index as far as max_bytes allows. */
static bool log_read_found(struct partition_log *log, const struct record_batch_header *header,
                           u64 batch_size)
{
    const struct segment *segment = &log->segments[log->op.segment];
    struct log_range *range = &log->op.event.range;
    u64 position = log->op.scan.position;
    i64 limit = log_read_limit(log);
    if (header->BaseOffset + header->LastOffsetDelta >= limit) {
        log_op_finish(log, LOG_OK); /* The first batch is not wholly below the limit. */
        return false;
    }
    range->file = segment->files[SEGMENT_FILE_LOG];
    range->position = position;
    range->size = (u32)batch_size;
    range->first_offset = header->BaseOffset;
    range->next_offset = header->BaseOffset + header->LastOffsetDelta + 1;
    log->op.phase = LOG_READ_PHASE_EXTEND;
    const struct offset_index_entry *entry = offset_index_floor_position(
        &segment->index, segment->base_offset, position + log->op.request.max_bytes, limit);
    if (entry != NULL && entry->position > position + batch_size) {
        /* Every batch before an indexed batch boundary within reach is whole and below it. */
        range->size = (u32)(entry->position - position);
        log->op.scan.position = entry->position;
        COVER(true);
    }
    return true;
}

bool log_read_visit(struct partition_log *log, const struct record_batch_header *header,
                           u64 batch_size)
{
    struct log_range *range = &log->op.event.range;
    i64 last_offset = header->BaseOffset + header->LastOffsetDelta;
    if (log->op.phase == LOG_READ_PHASE_LOCATE) {
        if (last_offset < log->op.request.offset) return true;
        return log_read_found(log, header, batch_size);
    }
    ASSERT(log->op.phase == LOG_READ_PHASE_EXTEND);
    u64 end = log->op.scan.position + batch_size;
    ASSERT(log->op.scan.position == range->position + range->size);
    if (last_offset >= log_read_limit(log) || end - range->position > log->op.request.max_bytes) {
        range->next_offset = header->BaseOffset;
        log_op_finish(log, LOG_OK);
        return false;
    }
    range->size = (u32)(end - range->position);
    range->next_offset = last_offset + 1;
    return true;
}

void log_read_scan_done(struct partition_log *log, enum log_scan_outcome outcome)
{
    if (outcome == LOG_SCAN_BAD) {
        io_log(log->io, IO_LOG_ERROR, "log %s: bad batch while reading segment %u: %s",
               log->directory, log->op.segment, batch_error_name(log->op.scan.error));
        log_op_finish(log, LOG_ERR_CORRUPT);
        return;
    }
    const struct segment *segment = &log->segments[log->op.segment];
    if (log->op.phase == LOG_READ_PHASE_EXTEND) {
        log->op.event.range.next_offset = MAX(log->op.event.range.next_offset,
                                              MIN(segment->next_offset, log_read_limit(log)));
        log_op_finish(log, LOG_OK);
        return;
    }
    /* The offset falls in a gap after this segment's last batch: the next segment has it. */
    if (log->op.segment + 1 < log->segment_count) {
        log_read_segment(log, log->op.segment + 1);
        return;
    }
    log_op_finish(log, LOG_OK);
}

/* ===== ListOffsets ===== */

static void log_list_segment(struct partition_log *log, u32 index)
{
    i64 timestamp = log->op.request.timestamp;
    for (; index < log->segment_count; index++) {
        const struct segment *segment = &log->segments[index];
        if (segment->max_timestamp < timestamp) continue;
        if (segment->next_offset <= log->log_start_offset) continue;
        i64 from = time_index_lookup(&segment->time, segment->base_offset, timestamp);
        from = MAX(from, log->log_start_offset);
        u64 position = 0;
        if (from >= segment->base_offset) {
            position = offset_index_lookup(&segment->index, segment->base_offset, from);
        }
        log->op.segment = index;
        log_scan_start(log, index, position, segment->size, true);
        return;
    }
    log->op.event.offset = -1; /* No record that late. */
    log_op_finish(log, LOG_OK);
}

void log_list_start(struct partition_log *log)
{
    i64 timestamp = log->op.request.timestamp;
    struct log_event *event = &log->op.event;
    if (timestamp == LOG_TIMESTAMP_EARLIEST) {
        event->offset = log->log_start_offset;
    } else if (timestamp == LOG_TIMESTAMP_LATEST) {
        event->offset = log_end_offset(log);
    } else if (timestamp == LOG_TIMESTAMP_MAX) {
        for (u32 i = 0; i < log->segment_count; i++) {
            const struct segment *segment = &log->segments[i];
            if (segment->max_timestamp > event->timestamp) {
                event->timestamp = segment->max_timestamp;
                event->offset = segment->offset_of_max_timestamp;
            }
        }
    } else if (timestamp < 0) {
        log_op_finish(log, LOG_ERR_OUT_OF_RANGE);
        return;
    } else {
        log_list_segment(log, 0);
        return;
    }
    log_op_finish(log, LOG_OK);
}

/* The first record at or after the target time in a batch whose MaxTimestamp reaches it. */
bool log_list_visit(struct partition_log *log, const struct record_batch_header *header,
                           const u8 *bytes, u64 batch_size)
{
    i64 timestamp = log->op.request.timestamp;
    i64 last_offset = header->BaseOffset + header->LastOffsetDelta;
    if (header->MaxTimestamp < timestamp || last_offset < log->log_start_offset) return true;
    struct log_event *event = &log->op.event;
    const u8 *records = bytes + RECORD_BATCH_HEADER_SIZE;
    u64 records_size = batch_size - RECORD_BATCH_HEADER_SIZE;
    bool readable = true;
    if ((header->Attributes & RECORD_ATTRIBUTE_COMPRESSION_MASK) != 0) {
        readable = log->scratch != NULL &&
                   batch_records_decompress(bytes, batch_size, header, log->scratch,
                                            log->scratch_size, &records_size) == BATCH_OK;
        records = log->scratch;
    }
    if (!readable || (header->Attributes & RECORD_ATTRIBUTE_LOG_APPEND_TIME) != 0) {
        /* The batch is the precision: records that cannot be looked at, or that share the
         * time the broker stamped on the batch. */
        event->offset = MAX(header->BaseOffset, log->log_start_offset);
        event->timestamp = header->MaxTimestamp;
        log_op_finish(log, LOG_OK);
        return false;
    }
    struct record_iterator iterator;
    record_iterator_init(&iterator, records, records_size, (u32)header->RecordCount);
    for (i32 i = 0; i < header->RecordCount; i++) {
        struct record_view record;
        bool more = false;
        /* The scanner validated the batch, so its records parse. */
        ASSERT(record_iterator_next(&iterator, &record, &more) == BATCH_OK);
        ASSERT(more);
        i64 offset = header->BaseOffset + record.OffsetDelta;
        i64 record_timestamp = header->BaseTimestamp + record.TimestampDelta;
        if (record_timestamp >= timestamp && offset >= log->log_start_offset) {
            event->offset = offset;
            event->timestamp = record_timestamp;
            log_op_finish(log, LOG_OK);
            return false;
        }
    }
    return true; /* MaxTimestamp overstated the records: look further. */
}

void log_list_scan_done(struct partition_log *log, enum log_scan_outcome outcome)
{
    if (outcome == LOG_SCAN_BAD) {
        log_op_finish(log, LOG_ERR_CORRUPT);
        return;
    }
    log_list_segment(log, log->op.segment + 1);
}
