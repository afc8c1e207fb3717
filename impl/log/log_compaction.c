/* log_compaction.c: the log cleaner for cleanup.policy=compact.
 *
 * Method (Kafka's LogCleaner, one pass over every closed segment; the active one is never
 * touched). (1) Map: scan the closed segments and record, for each key's 64-bit hash, the
 * latest offset that carries it, in a bounded open-addressing table; if the table fills, only
 * the segments mapped whole are cleaned. (2) Clean, segment by segment: write `<base>.log.cleaned`
 * with the records that survive (a record survives unless a later record has its key, or it is
 * a tombstone older than delete.retention.ms; records without a key and control batches always
 * survive), keeping every record's offset. A batch whose records all survive is copied byte for
 * byte; otherwise each run of consecutive surviving offsets becomes its own batch (recompressed
 * with the batch's codec), so no batch has holes in its offset deltas. (3) Build its indexes
 * with segment_add_batch, write `.index.cleaned` and `.timeindex.cleaned`, sync all three,
 * rename the indexes then the log to `.swap`, then each `.swap` over its final name; recovery
 * finishes or discards an interrupted swap (a `.log.cleaned` left means not committed).
 *
 * Invariants: offsets never change and stay increasing; for every key the latest record in the
 * closed segments survives; the segment keeps its base offset and its place.
 *
 * Tested by tests/unit/test_log_compaction.c: keys overwritten across segments, tombstones old
 * and young, compressed batches, control batches, a full key map, and crashes at every step of
 * a compaction followed by recovery. */
#include "log_internal.h"

#include <stdio.h>
#include <string.h>

#include "crc32c.h"

enum {
    LOG_COMPACT_PHASE_MAP = 1,
    LOG_COMPACT_PHASE_COPY,
};

#define LOG_COMPACT_RENAMES 6u

/* FNV-1a, then a final mix: deterministic and good enough to spread keys. Never 0. */
static u64 log_compact_hash(const u8 *key, i32 length)
{
    u64 hash = 0xCBF29CE484222325ull;
    for (i32 i = 0; i < length; i++) hash = (hash ^ key[i]) * 0x100000001B3ull;
    hash ^= hash >> 33;
    hash *= 0xFF51AFD7ED558CCDull;
    hash ^= hash >> 33;
    return hash == 0 ? 1 : hash;
}

/* The slot for hash (found or empty). Load is kept below 3/4, so the probe ends. */
static struct compaction_slot *log_compact_slot(struct partition_log *log, u64 hash)
{
    u32 mask = log->config.cleaner_map_slots - 1;
    for (u32 probe = 0; probe <= mask; probe++) {
        struct compaction_slot *slot = &log->cleaner_map[(hash + probe) & mask];
        if (slot->key_hash == hash || slot->key_hash == 0) return slot;
    }
    ASSERT(false && "cleaner map full");
    return NULL;
}

/* The records of a batch, decompressed into scratch if needed; false when they cannot be
 * looked at (compressed without scratch room). */
static bool log_compact_records(struct partition_log *log, const u8 *bytes, u64 batch_size,
                                const struct record_batch_header *header,
                                struct record_iterator *iterator)
{
    const u8 *records = bytes + RECORD_BATCH_HEADER_SIZE;
    u64 size = batch_size - RECORD_BATCH_HEADER_SIZE;
    if ((header->Attributes & RECORD_ATTRIBUTE_COMPRESSION_MASK) != 0) {
        if (log->scratch == NULL) return false;
        if (batch_records_decompress(bytes, batch_size, header, log->scratch, log->scratch_size,
                                     &size) != BATCH_OK) {
            return false;
        }
        records = log->scratch;
    }
    record_iterator_init(iterator, records, size, (u32)header->RecordCount);
    return true;
}

void log_compact_start(struct partition_log *log)
{
    ASSERT(log->cleaner_map != NULL);
    memset(log->cleaner_map, 0, sizeof(struct compaction_slot) * log->config.cleaner_map_slots);
    log->op.compact_limit = log->segment_count - 1; /* Never the active segment. */
    if (log->op.compact_limit == 0) {
        log_op_finish(log, LOG_OK);
        return;
    }
    log->op.phase = LOG_COMPACT_PHASE_MAP;
    log->op.segment = 0;
    log->op.count = 0; /* Keys in the map. */
    log_scan_start(log, 0, 0, log->segments[0].size, true);
}

/* Map phase: remember each key's latest offset. Stops the cleanable range at this segment when
 * the map is full or a batch cannot be read. */
static bool log_compact_map_batch(struct partition_log *log,
                                  const struct record_batch_header *header, const u8 *bytes,
                                  u64 batch_size)
{
    if ((header->Attributes & RECORD_ATTRIBUTE_CONTROL) != 0) return true;
    struct record_iterator iterator;
    bool readable = log_compact_records(log, bytes, batch_size, header, &iterator);
    for (i32 i = 0; readable && i < header->RecordCount; i++) {
        struct record_view record;
        bool more = false;
        ASSERT(record_iterator_next(&iterator, &record, &more) == BATCH_OK); /* Validated. */
        if (record.Key == NULL) continue;
        if (log->op.count >= log->config.cleaner_map_slots / 4 * 3) {
            readable = false;
            break;
        }
        struct compaction_slot *slot =
            log_compact_slot(log, log_compact_hash(record.Key, record.KeyLength));
        if (slot->key_hash == 0) log->op.count++;
        slot->key_hash = log_compact_hash(record.Key, record.KeyLength);
        slot->offset = header->BaseOffset + record.OffsetDelta;
    }
    if (readable) return true;
    COVER(true);
    log->op.compact_limit = log->op.segment; /* Only segments mapped whole are cleaned. */
    log_compact_scan_done(log, LOG_SCAN_END);
    return false;
}

static bool log_compact_keep(struct partition_log *log, const struct record_view *record,
                             i64 offset, i64 timestamp)
{
    if (record->Key == NULL) return true;
    const struct compaction_slot *slot =
        log_compact_slot(log, log_compact_hash(record->Key, record->KeyLength));
    if (slot->key_hash != 0 && slot->offset > offset) return false; /* Superseded. */
    if (record->Value != NULL) return true;
    i64 now_ms = (i64)(io_wall_ns(log->io) / NS_PER_MS);
    return timestamp >= now_ms - log->config.delete_retention_ms; /* A young tombstone. */
}

/* Appends one record, re-encoded with new deltas, at *size; false if it does not fit. */
static bool log_compact_put_record(u8 *out, u64 capacity, u64 *size,
                                   const struct record_view *record, i64 timestamp_delta,
                                   i64 offset_delta)
{
    u8 body[64];
    u32 length = 1;
    body[0] = (u8)record->Attributes;
    length += varint_encode_i64(body + length, timestamp_delta);
    length += varint_encode_i64(body + length, offset_delta);
    length += varint_encode_i64(body + length, record->Key == NULL ? -1 : record->KeyLength);
    u32 key_size = record->Key == NULL ? 0 : (u32)record->KeyLength;
    u8 value_prefix[10], header_prefix[10];
    u32 value_prefix_size =
        varint_encode_i64(value_prefix, record->Value == NULL ? -1 : record->ValueLength);
    u32 value_size = record->Value == NULL ? 0 : (u32)record->ValueLength;
    u32 header_prefix_size = varint_encode_i64(header_prefix, record->HeaderCount);
    u64 body_size = (u64)length + key_size + value_prefix_size + value_size +
                    header_prefix_size + record->HeadersSize;
    u8 prefix[10];
    u32 prefix_size = varint_encode_i64(prefix, (i64)body_size);
    if (*size + prefix_size + body_size > capacity) return false;
    u8 *at = out + *size;
    memcpy(at, prefix, prefix_size), at += prefix_size;
    memcpy(at, body, length), at += length;
    if (key_size > 0) memcpy(at, record->Key, key_size), at += key_size;
    memcpy(at, value_prefix, value_prefix_size), at += value_prefix_size;
    if (value_size > 0) memcpy(at, record->Value, value_size), at += value_size;
    memcpy(at, header_prefix, header_prefix_size), at += header_prefix_size;
    if (record->HeadersSize > 0) memcpy(at, record->Headers, record->HeadersSize);
    *size += prefix_size + body_size;
    return true;
}

/* Builds, in cleaner_output, the batch holding records [first, first + count) of the batch at
 * bytes, with their offsets; recompressed with the batch's codec. Returns its size. */
static u32 log_compact_build_run(struct partition_log *log,
                                 const struct record_batch_header *header, const u8 *bytes,
                                 u64 batch_size, u32 first, u32 count, const u8 **out)
{
    u8 *plain = log->cleaner_output;
    u64 capacity = log->cleaner_output_size / 2;
    memcpy(plain, bytes, RECORD_BATCH_HEADER_SIZE);
    u64 size = RECORD_BATCH_HEADER_SIZE;
    struct record_iterator iterator;
    ASSERT(log_compact_records(log, bytes, batch_size, header, &iterator));
    i64 base_offset = -1, base_timestamp = 0, max_timestamp = -1;
    for (u32 i = 0; i < first + count; i++) {
        struct record_view record;
        bool more = false;
        ASSERT(record_iterator_next(&iterator, &record, &more) == BATCH_OK);
        if (i < first) continue;
        i64 offset = header->BaseOffset + record.OffsetDelta;
        i64 timestamp = header->BaseTimestamp + record.TimestampDelta;
        if (base_offset < 0) {
            base_offset = offset;
            base_timestamp = timestamp;
        }
        ASSERT(log_compact_put_record(plain, capacity, &size, &record, timestamp - base_timestamp,
                                      offset - base_offset)); /* Never larger than the input. */
        max_timestamp = MAX(max_timestamp, timestamp);
    }
    if (header->Attributes & RECORD_ATTRIBUTE_LOG_APPEND_TIME) max_timestamp = header->MaxTimestamp;
    store_u64_be(plain + 0, (u64)base_offset);
    store_u32_be(plain + RECORD_BATCH_LENGTH_OFFSET, (u32)(size - RECORD_BATCH_LOG_OVERHEAD));
    u16 codec = (u16)(header->Attributes & RECORD_ATTRIBUTE_COMPRESSION_MASK);
    store_u16_be(plain + 21, (u16)((u16)header->Attributes & ~RECORD_ATTRIBUTE_COMPRESSION_MASK));
    store_u32_be(plain + 23, count - 1);
    store_u64_be(plain + 27, (u64)base_timestamp);
    store_u64_be(plain + 35, (u64)max_timestamp);
    if (header->BaseSequence >= 0) {
        store_u32_be(plain + 53, (u32)(header->BaseSequence + (base_offset - header->BaseOffset)));
    }
    store_u32_be(plain + 57, count);
    store_u32_be(plain + RECORD_BATCH_CRC_OFFSET,
                 crc32c(plain + RECORD_BATCH_CRC_START, size - RECORD_BATCH_CRC_START));
    *out = plain;
    if (codec == RECORD_COMPRESSION_NONE) return (u32)size;
    u64 packed = batch_compress(plain, size, codec, plain + capacity, capacity);
    if (packed == 0) return (u32)size; /* Stays uncompressed: still a valid batch. */
    *out = plain + capacity;
    return (u32)packed;
}

/* Finds the next run of surviving records from op.compact_record on. Returns false when the
 * batch has no more; on the first look, counts what goes and says if everything stays. */
static bool log_compact_next_run(struct partition_log *log,
                                 const struct record_batch_header *header, const u8 *bytes,
                                 u64 batch_size, u32 *first, u32 *count, bool *whole)
{
    u32 total = (u32)header->RecordCount;
    struct record_iterator iterator;
    *whole = true;
    *first = total;
    *count = 0;
    bool readable = (header->Attributes & RECORD_ATTRIBUTE_CONTROL) == 0 &&
                    log_compact_records(log, bytes, batch_size, header, &iterator);
    if (!readable) return log->op.compact_record == 0; /* Kept whole, as it is. */
    for (u32 i = 0; i < total; i++) {
        struct record_view record;
        bool more = false;
        ASSERT(record_iterator_next(&iterator, &record, &more) == BATCH_OK);
        bool keep = log_compact_keep(log, &record, header->BaseOffset + record.OffsetDelta,
                                     header->BaseTimestamp + record.TimestampDelta);
        if (!keep) *whole = false;
        if (!keep && log->op.compact_record == 0) log->op.event.records_removed++;
        if (i < log->op.compact_record) continue;
        if (keep && *first == total) *first = i;
        if (keep && *first + *count == i) (*count)++;
    }
    if (*whole && log->op.compact_record == 0) return true;
    *whole = false;
    return *count > 0;
}

static bool log_compact_copy_batch(struct partition_log *log,
                                   const struct record_batch_header *header, const u8 *bytes,
                                   u64 batch_size)
{
    u32 first = 0, count = 0;
    bool whole = false;
    if (!log_compact_next_run(log, header, bytes, batch_size, &first, &count, &whole)) {
        log->op.compact_record = 0;
        return true; /* Nothing (more) survives: on to the next batch. */
    }
    if (segment_index_full(&log->op.cleaned)) {
        COVER(true); /* Never in practice: the cleaned segment is smaller. Leave it. */
        log->op.compact_limit = log->op.segment;
        log_compact_continue(log);
        return false;
    }
    if (whole) {
        log->op.compact_out = bytes; /* Byte for byte, compression and all. */
        log->op.compact_out_size = (u32)batch_size;
        log->op.compact_record = (u32)header->RecordCount;
    } else {
        log->op.compact_out_size = log_compact_build_run(log, header, bytes, batch_size, first,
                                                         count, &log->op.compact_out);
        log->op.compact_record = first + count;
    }
    (void)log_issue_write(log, LOG_STEP_COMPACT_WRITE, log->op.cleaned.files[SEGMENT_FILE_LOG],
                          log->op.cleaned.size, log->op.compact_out, log->op.compact_out_size);
    return false;
}

bool log_compact_visit(struct partition_log *log, const struct record_batch_header *header,
                       const u8 *bytes, u64 batch_size)
{
    if (log->op.phase == LOG_COMPACT_PHASE_MAP) {
        return log_compact_map_batch(log, header, bytes, batch_size);
    }
    ASSERT(log->op.phase == LOG_COMPACT_PHASE_COPY);
    return log_compact_copy_batch(log, header, bytes, batch_size);
}

static void log_compact_path(const struct partition_log *log, i64 base_offset,
                             enum segment_file_kind kind, const char *suffix, char *path)
{
    char plain[IO_PATH_MAX];
    segment_path(plain, sizeof(plain), log->directory, base_offset, kind);
    int written = snprintf(path, IO_PATH_MAX, "%s%s", plain, suffix);
    ASSERT(written > 0 && (u32)written < IO_PATH_MAX);
}

/* Opens the next `.cleaned` file of the segment being cleaned, or starts copying. */
static void log_compact_open_next(struct partition_log *log)
{
    struct segment *cleaned = &log->op.cleaned;
    for (u32 kind = 0; kind < SEGMENT_FILE_KIND_COUNT; kind++) {
        if (cleaned->files[kind] != 0) continue;
        char path[IO_PATH_MAX];
        log_compact_path(log, cleaned->base_offset, kind, ".cleaned", path);
        log->op.file_kind = kind;
        (void)log_issue_open(log, LOG_STEP_COMPACT_OPEN, path, IO_OPEN_CREATE | IO_OPEN_TRUNCATE);
        return;
    }
    log->op.compact_record = 0;
    const struct segment *segment = &log->segments[log->op.segment];
    log_scan_start(log, log->op.segment, 0, segment->size, true);
}

/* Starts cleaning op.segment, or finishes when every cleanable segment is done. */
static void log_compact_clean_segment(struct partition_log *log)
{
    if (log->op.segment >= log->op.compact_limit) {
        log_op_finish(log, LOG_OK);
        return;
    }
    const struct segment *segment = &log->segments[log->op.segment];
    ASSERT(segment->closed);
    if (!log_segment_init(log, &log->op.cleaned, segment->base_offset)) {
        log_op_finish(log, LOG_ERR_LIMIT);
        return;
    }
    log_compact_open_next(log);
}

void log_compact_continue(struct partition_log *log)
{
    /* Cleaning stops early: the half-written segment is dropped when the op ends (its
     * .cleaned files are leftovers the next open removes); what was cleaned stays. */
    log_op_finish(log, LOG_OK);
}

void log_compact_scan_done(struct partition_log *log, enum log_scan_outcome outcome)
{
    if (outcome == LOG_SCAN_BAD) {
        io_log(log->io, IO_LOG_ERROR, "log %s: bad batch in segment %u while compacting: %s",
               log->directory, log->op.segment, batch_error_name(log->op.scan.error));
        log_op_finish(log, LOG_ERR_CORRUPT); /* The old segment stays as it is. */
        return;
    }
    if (log->op.phase == LOG_COMPACT_PHASE_MAP) {
        log->op.segment++;
        if (log->op.segment < log->op.compact_limit) {
            log_scan_start(log, log->op.segment, 0, log->segments[log->op.segment].size, true);
            return;
        }
        log->op.phase = LOG_COMPACT_PHASE_COPY;
        log->op.segment = 0;
        log_compact_clean_segment(log);
        return;
    }
    /* The cleaned segment is written: its indexes next, then syncs and renames. */
    segment_close_for_appends(&log->op.cleaned);
    log->op.file_kind = SEGMENT_FILE_INDEX;
    log->op.count = 0;
    log_compact_on_step(log, LOG_STEP_COMPACT_INDEX_WRITE, NULL);
}

/* Writes the next chunk of the cleaned segment's index op.file_kind from entry op.count. */
static void log_compact_index_write(struct partition_log *log)
{
    struct segment *cleaned = &log->op.cleaned;
    bool offsets = log->op.file_kind == SEGMENT_FILE_INDEX;
    u32 entry_size = offsets ? OFFSET_INDEX_ENTRY_SIZE : TIME_INDEX_ENTRY_SIZE;
    u32 total = offsets ? cleaned->index.count : cleaned->time.count;
    if (log->op.count == total && offsets) {
        log->op.file_kind = SEGMENT_FILE_TIME_INDEX;
        log->op.count = 0;
        log_compact_index_write(log);
        return;
    }
    if (log->op.count == total) {
        log->op.file_kind = SEGMENT_FILE_LOG;
        (void)log_issue_sync(log, LOG_STEP_COMPACT_SYNC, cleaned->files[SEGMENT_FILE_LOG]);
        return;
    }
    u32 count = MIN(total - log->op.count, log->buffer_capacity / entry_size);
    u64 size = offsets ? offset_index_encode(&cleaned->index, log->op.count, count, log->buffer)
                       : time_index_encode(&cleaned->time, log->op.count, count, log->buffer);
    u64 offset = (u64)log->op.count * entry_size;
    log->op.count += count;
    (void)log_issue_write(log, LOG_STEP_COMPACT_INDEX_WRITE, cleaned->files[log->op.file_kind],
                          offset, log->buffer, (u32)size);
}

/* The six renames that commit a cleaned segment: the log's `.cleaned` -> `.swap` is the
 * commit point (recovery finishes a swap only when no `.log.cleaned` is left). */
static void log_compact_rename(struct partition_log *log)
{
    static const struct {
        enum segment_file_kind kind;
        const char *source;
        const char *target;
    } renames[LOG_COMPACT_RENAMES] = {
        {SEGMENT_FILE_INDEX, ".cleaned", ".swap"},  {SEGMENT_FILE_TIME_INDEX, ".cleaned", ".swap"},
        {SEGMENT_FILE_LOG, ".cleaned", ".swap"},    {SEGMENT_FILE_LOG, ".swap", ""},
        {SEGMENT_FILE_INDEX, ".swap", ""},          {SEGMENT_FILE_TIME_INDEX, ".swap", ""},
    };
    ASSERT(log->op.count < LOG_COMPACT_RENAMES);
    char source[IO_PATH_MAX], target[IO_PATH_MAX];
    i64 base_offset = log->op.cleaned.base_offset;
    log_compact_path(log, base_offset, renames[log->op.count].kind, renames[log->op.count].source,
                     source);
    log_compact_path(log, base_offset, renames[log->op.count].kind, renames[log->op.count].target,
                     target);
    (void)log_issue_rename(log, LOG_STEP_COMPACT_RENAME, source, target);
}

/* The cleaned files are now the segment's: its handles and indexes replace the old ones. */
static void log_compact_swap(struct partition_log *log)
{
    struct segment *segment = &log->segments[log->op.segment];
    struct segment *cleaned = &log->op.cleaned;
    ASSERT(cleaned->base_offset == segment->base_offset);
    ASSERT(cleaned->size <= segment->size);
    cleaned->next_offset = segment->next_offset; /* Offsets keep their places. */
    cleaned->closed = true;
    cleaned->indexes_durable = true;
    cleaned->log_synced = true;
    log_segment_release(log, segment);
    *segment = *cleaned;
    memset(cleaned, 0, sizeof(*cleaned));
    segment_invariants(segment);
    log->op.event.segments_deleted++;
    log->op.segment++;
    log_compact_clean_segment(log);
}

void log_compact_on_step(struct partition_log *log, enum log_step step,
                         const struct io_completion *c)
{
    if (c != NULL && c->result != IO_OK) {
        log_op_fail_io(log, "compaction", c->result);
        return;
    }
    struct segment *cleaned = &log->op.cleaned;
    switch (step) {
    case LOG_STEP_COMPACT_OPEN:
        cleaned->files[log->op.file_kind] = c->file;
        log_compact_open_next(log);
        return;
    case LOG_STEP_COMPACT_WRITE: {
        if (c->size != log->op.compact_out_size) {
            log_op_fail_io(log, "short compaction write", IO_ERR_IO);
            return;
        }
        struct record_batch_header header;
        ASSERT(batch_header_decode(log->op.compact_out, log->op.compact_out_size, &header) ==
               BATCH_OK);
        segment_add_batch(cleaned, &header, log->op.compact_out_size,
                          log->config.index_interval_bytes);
        /* Back to the same batch: the visitor writes its next run or moves on. */
        log_scan_resume(log, log->op.scan.position);
        return;
    }
    case LOG_STEP_COMPACT_INDEX_WRITE: log_compact_index_write(log); return;
    case LOG_STEP_COMPACT_SYNC:
        if (log->op.file_kind + 1 < SEGMENT_FILE_KIND_COUNT) {
            log->op.file_kind++;
            (void)log_issue_sync(log, LOG_STEP_COMPACT_SYNC, cleaned->files[log->op.file_kind]);
            return;
        }
        log->op.count = 0;
        log_compact_rename(log);
        return;
    case LOG_STEP_COMPACT_RENAME:
        log->op.count++;
        if (log->op.count < LOG_COMPACT_RENAMES) {
            log_compact_rename(log);
            return;
        }
        log_compact_swap(log);
        return;
    default: ASSERT(false && "not a compaction step");
    }
}
