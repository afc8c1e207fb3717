/* log.c: the quorum log's memory mirror, its recovery scan and its disk pipeline.
 *
 * Invariants (checked by quorum_log_invariants after every mutation):
 *   start <= synced_end <= write_end <= end; entries are dense from offset start, the first at
 *   byte 0, positions are contiguous (entry i+1 starts where entry i ends), epochs never
 *   decrease, bytes_end is where the last entry ends; at most one disk operation is in flight;
 *   while rewriting, write_end covers the copied range and nothing is truncated.
 * Recovery reads the whole file into the arena and keeps the longest prefix of whole records
 * whose CRC verifies, whose offsets count up from the first and whose epochs never decrease; the
 * rest
 * (a torn or corrupt tail) is truncated away before anything new is written. Recovered entries
 * count as durable only after a first sync (in production a process crash keeps unsynced bytes
 * in the page cache: they were never acknowledged, and must not be until synced).
 *
 * Tested by tests/unit/test_quorum_log.c (scan stops exactly at a torn or corrupt record,
 * pipeline ordering with a fake io), tests/unit/test_quorum_snapshot.c (compaction and reset,
 * a crash at every step of a rewrite) and by every simulated run (crashes tear tails). */
#include "log.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(QUORUM_RECORD_HEADER_SIZE + QUORUM_ENTRY_SIZE_MAX <= QUORUM_FETCH_BYTES_MAX,
               "a fetch response always fits one record");
_Static_assert(QUORUM_RECORD_HEADER_SIZE + QUORUM_ENTRY_SIZE_MAX <= QUORUM_LOG_WRITE_MAX,
               "a write always fits one record");

static void quorum_log_invariants(const struct quorum_log *log)
{
    ASSERT(log->start >= 0);
    ASSERT(log->start_epoch >= -1);
    ASSERT(log->start > 0 || log->start_epoch == 0);
    ASSERT(log->synced_end >= log->start);
    ASSERT(log->synced_end <= log->write_end);
    ASSERT(log->write_end <= log->end);
    ASSERT(log->end - log->start <= (i64)QUORUM_LOG_ENTRIES_MAX);
    ASSERT(log->bytes_end <= QUORUM_LOG_BYTES_MAX);
    if (log->end > log->start) {
        ASSERT(log->entries[0].position == 0);
        const struct quorum_log_entry *last = &log->entries[log->end - 1 - log->start];
        ASSERT(last->position + QUORUM_RECORD_HEADER_SIZE + last->size == log->bytes_end);
    } else {
        ASSERT(log->bytes_end == 0);
        ASSERT(log->start_epoch >= 0); /* An empty log knows the epoch it continues. */
    }
    if (log->compact_to != 0) {
        ASSERT(log->compact_to > log->start && log->compact_to <= log->end);
    }
    if (log->rewriting) {
        ASSERT(log->compact_to != 0);
        ASSERT(log->rewrite_end >= log->compact_to && log->rewrite_end <= log->write_end);
    }
}

void quorum_log_init(struct quorum_log *log, struct io *io, u64 user_data_tag)
{
    ASSERT((user_data_tag & 0xff) == 0);
    memset(log, 0, sizeof(*log));
    log->io = io;
    log->user_data_tag = user_data_tag;
    log->arena = calloc(1, QUORUM_LOG_BYTES_MAX);
    log->entries = calloc(QUORUM_LOG_ENTRIES_MAX, sizeof(struct quorum_log_entry));
    log->write_buffer = calloc(1, QUORUM_LOG_WRITE_MAX);
    ASSERT(log->arena != NULL);
    ASSERT(log->entries != NULL);
    ASSERT(log->write_buffer != NULL);
    quorum_log_invariants(log);
}

void quorum_log_free(struct quorum_log *log)
{
    free(log->arena);
    free(log->entries);
    free(log->write_buffer);
    memset(log, 0, sizeof(*log));
}

/* ===== Queries ===== */

const struct quorum_log_entry *quorum_log_entry(const struct quorum_log *log, i64 offset)
{
    ASSERT(offset >= log->start);
    ASSERT(offset < log->end);
    return &log->entries[offset - log->start];
}

const u8 *quorum_log_payload(const struct quorum_log *log, i64 offset)
{
    const struct quorum_log_entry *entry = quorum_log_entry(log, offset);
    return log->arena + entry->position + QUORUM_RECORD_HEADER_SIZE;
}

i32 quorum_log_epoch_at(const struct quorum_log *log, i64 offset)
{
    if (offset == log->start - 1) {
        ASSERT(log->start_epoch >= 0);
        return log->start_epoch;
    }
    return quorum_log_entry(log, offset)->epoch;
}

i32 quorum_log_last_epoch(const struct quorum_log *log)
{
    if (log->end == log->start) return log->start_epoch;
    return log->entries[log->end - 1 - log->start].epoch;
}

void quorum_log_end_for_epoch(const struct quorum_log *log, i32 epoch, i32 *epoch_found,
                              i64 *end_offset)
{
    /* Epochs never decrease, so the first entry with an epoch > epoch is found by bisection. */
    i64 count = log->end - log->start;
    i64 low = 0, high = count;
    while (low < high) {
        i64 middle = low + (high - low) / 2;
        if (log->entries[middle].epoch <= epoch) low = middle + 1;
        else high = middle;
    }
    ASSERT(low >= 0 && low <= count);
    *end_offset = log->start + low;
    if (low > 0) {
        *epoch_found = log->entries[low - 1].epoch;
    } else if (log->start == 0) {
        *epoch_found = 0;
    } else if (log->start_epoch >= 0 && log->start_epoch <= epoch) {
        *epoch_found = log->start_epoch;
    } else {
        *epoch_found = -1; /* Somewhere inside the snapshot: the log cannot say. */
    }
    ASSERT(*epoch_found <= epoch);
}

static u64 position_of(const struct quorum_log *log, i64 offset)
{
    ASSERT(offset >= log->start && offset <= log->end);
    return offset == log->end ? log->bytes_end : log->entries[offset - log->start].position;
}

u64 quorum_log_position(const struct quorum_log *log, i64 offset)
{
    return position_of(log, offset);
}

const u8 *quorum_log_records(const struct quorum_log *log, i64 from, u32 bytes_max, u32 *count,
                             u32 *size)
{
    ASSERT(from >= log->start && from <= log->end);
    u64 start = position_of(log, from);
    i64 until = from;
    while (until < log->end) {
        /* Entries are far smaller than bytes_max (static_assert below), so each response
         * carries at least one record when there is one. */
        if (position_of(log, until + 1) - start > bytes_max) break;
        until++;
    }
    *count = (u32)(until - from);
    *size = (u32)(position_of(log, until) - start);
    return log->arena + start;
}

bool quorum_log_has_room(const struct quorum_log *log, u32 size, bool control)
{
    u64 entries_limit = QUORUM_LOG_ENTRIES_MAX - (control ? 0 : QUORUM_LOG_RESERVE);
    u64 bytes_limit = QUORUM_LOG_BYTES_MAX - (control ? 0 : QUORUM_LOG_RESERVE * 1024u);
    if ((u64)(log->end - log->start) + 1 > entries_limit) return false;
    return log->bytes_end + QUORUM_RECORD_HEADER_SIZE + size <= bytes_limit;
}

/* ===== Mutations ===== */

static i64 log_push(struct quorum_log *log, i32 epoch, u32 attributes, u64 checksum, u32 size)
{
    ASSERT(log->recovered);
    i64 offset = log->end;
    struct quorum_log_entry *entry = &log->entries[offset - log->start];
    entry->position = log->bytes_end;
    entry->epoch = epoch;
    entry->size = size;
    entry->attributes = attributes;
    entry->checksum = checksum;
    log->bytes_end += QUORUM_RECORD_HEADER_SIZE + size;
    log->end++;
    quorum_log_invariants(log);
    return offset;
}

i64 quorum_log_append(struct quorum_log *log, i32 epoch, u32 attributes, const u8 *payload,
                      u32 size)
{
    ASSERT(epoch >= quorum_log_last_epoch(log));
    ASSERT(quorum_log_has_room(log, size, true));
    u32 written = quorum_record_encode(log->arena + log->bytes_end,
                                       (u32)MIN(QUORUM_LOG_BYTES_MAX - log->bytes_end,
                                                (u64)QUORUM_FRAME_SIZE_MAX),
                                       log->end, epoch, attributes, payload, size);
    ASSERT(written == QUORUM_RECORD_HEADER_SIZE + size);
    return log_push(log, epoch, attributes, quorum_value_checksum(payload, size), size);
}

i64 quorum_log_append_record(struct quorum_log *log, const struct quorum_record *record)
{
    ASSERT(record->Offset == log->end);
    return quorum_log_append(log, record->Epoch, record->Attributes, record->payload,
                             record->size);
}

void quorum_log_truncate(struct quorum_log *log, i64 end)
{
    ASSERT(end >= log->start);
    ASSERT(end <= log->end);
    if (end == log->end) return;
    ASSERT(!log->rewriting); /* The copy reads the arena: the owner does not fetch meanwhile. */
    /* A compaction target lies below the commit point, which a correct leader never has us
     * cut; a broken build (QUORUM_MUTATION) might, and must not break the log's invariants. */
    if (log->compact_to > end) log->compact_to = 0;
    log->bytes_end = position_of(log, end);
    log->end = end;
    if (log->write_end > end) {
        log->write_end = end;
        log->truncate_needed = true; /* The file holds bytes past end: cut them first. */
    }
    if (log->synced_end > end) log->synced_end = end;
    quorum_log_invariants(log);
}

void quorum_log_reset(struct quorum_log *log, i64 start, i32 start_epoch)
{
    ASSERT(log->recovered);
    ASSERT(!log->rewriting);
    ASSERT(start >= 0 && (start == 0) == (start_epoch == 0) && start_epoch >= 0);
    log->start = log->end = log->write_end = log->synced_end = start;
    log->start_epoch = start_epoch;
    log->bytes_end = 0;
    log->compact_to = 0;
    log->truncate_needed = true; /* Whatever the file held goes before anything new is written. */
    quorum_log_invariants(log);
}

void quorum_log_compact(struct quorum_log *log, i64 to)
{
    ASSERT(log->recovered);
    ASSERT(to >= log->start && to <= log->end);
    if (to <= log->start || to <= log->compact_to || log->rewriting) return;
    log->compact_to = to;
    quorum_log_invariants(log);
}

bool quorum_log_compacting(const struct quorum_log *log) { return log->compact_to != 0; }

/* ===== Recovery ===== */

u64 quorum_log_scan(struct quorum_log *log, u64 size)
{
    ASSERT(size <= QUORUM_LOG_BYTES_MAX);
    ASSERT(log->end == 0 && log->start == 0);
    log->recovered = true; /* Scanning is recovering: entries may be pushed from here on. */
    u64 position = 0;
    i32 epoch_previous = 0;
    while (position < size && log->end < (i64)QUORUM_LOG_ENTRIES_MAX) {
        struct quorum_record record;
        u32 consumed = 0;
        u64 left = size - position;
        u32 available = (u32)MIN(left, (u64)QUORUM_FRAME_SIZE_MAX);
        if (quorum_record_decode(log->arena + position, available, &record, &consumed) !=
            WIRE_OK) {
            break; /* Torn or corrupt: the valid log ends here. */
        }
        if (position == 0 && record.Offset > 0) {
            /* A compacted file: it continues a snapshot whose last epoch the owner knows. */
            log->start = log->end = log->synced_end = log->write_end = record.Offset;
            log->start_epoch = -1;
        }
        if (record.Offset != log->end || record.Epoch < epoch_previous) break;
        epoch_previous = record.Epoch;
        log_push(log, record.Epoch, record.Attributes,
                 quorum_value_checksum(record.payload, record.size), record.size);
        position += consumed;
    }
    ASSERT(position == log->bytes_end);
    ASSERT(position <= size);
    return position;
}

bool quorum_log_damage_beyond(const struct quorum_log *log, u64 valid, u64 size)
{
    ASSERT(valid <= size && size <= QUORUM_LOG_BYTES_MAX);
    i32 epoch_last = quorum_log_last_epoch(log);
    for (u64 position = valid + 1; position + QUORUM_RECORD_HEADER_SIZE <= size; position++) {
        const u8 *header = log->arena + position;
        i64 offset = (i64)load_u64_be(header);
        i32 epoch = (i32)load_u32_be(header + 8);
        /* Cheap filters first; the CRC is computed only for plausible headers. With nothing
         * valid at all, the file may have held a compacted log of any start. */
        if (log->end > 0 &&
            (offset <= log->end || offset > log->end + (i64)(size / QUORUM_RECORD_HEADER_SIZE))) {
            continue;
        }
        if (offset < 0) continue;
        if (epoch < epoch_last || epoch <= 0) continue;
        struct quorum_record record;
        u32 consumed = 0;
        u32 available = (u32)MIN(size - position, (u64)QUORUM_FRAME_SIZE_MAX);
        if (quorum_record_decode(header, available, &record, &consumed) == WIRE_OK) return true;
    }
    return false;
}

static void log_read_next(struct quorum_log *log)
{
    u64 limit = MIN(log->file_size, (u64)QUORUM_LOG_BYTES_MAX);
    ASSERT(log->read_position < limit);
    u32 chunk = (u32)MIN(limit - log->read_position, (u64)QUORUM_LOG_READ_CHUNK);
    enum io_result result = io_file_read(log->io, log->file, log->read_position,
                                         log->arena + log->read_position, chunk,
                                         log->user_data_tag | LOG_OP_READ);
    if (result != IO_OK) {
        log->failed = true;
        return;
    }
    log->op = LOG_OP_READ;
}

/* The whole image is in the arena (or the file ended early): scan it and set the pipeline so
 * the first operations cut the bad tail and sync what was recovered. */
static enum quorum_log_event log_recover_finish(struct quorum_log *log)
{
    u64 valid = quorum_log_scan(log, log->read_position);
    log->recovered = true;
    log->truncated_bytes = log->file_size - valid;
    log->write_end = log->end;
    log->synced_end = log->start;
    log->truncate_needed = valid != log->file_size;
    log->damaged = quorum_log_damage_beyond(log, valid, log->read_position);
    memset(log->arena + valid, 0, (size_t)(log->read_position - valid));
    if (log->damaged) {
        io_log(log->io, IO_LOG_WARN, "quorum log: corruption at offset %lld with valid records "
               "after it: synced entries were lost", (long long)log->end);
    }
    if (log->truncate_needed) {
        io_log(log->io, IO_LOG_WARN, "quorum log: cut %llu bytes of torn or corrupt tail at "
               "offset %lld", (unsigned long long)log->truncated_bytes, (long long)log->end);
    }
    quorum_log_invariants(log);
    return LOG_EVENT_RECOVERED;
}

void quorum_log_open(struct quorum_log *log)
{
    ASSERT(log->op == LOG_OP_NONE);
    ASSERT(!log->recovered);
    enum io_result result = io_file_open(log->io, QUORUM_LOG_PATH, IO_OPEN_CREATE,
                                         log->user_data_tag | LOG_OP_OPEN);
    if (result != IO_OK) {
        log->failed = true;
        return;
    }
    log->op = LOG_OP_OPEN;
}

void quorum_log_retry(struct quorum_log *log)
{
    if (!log->failed || log->op != LOG_OP_NONE) return;
    log->failed = false;
    if (log->file == 0) {
        quorum_log_open(log);
    } else if (!log->recovered) {
        log_read_next(log);
    } else {
        quorum_log_pump(log);
    }
}

static enum quorum_log_event log_on_read(struct quorum_log *log, const struct io_completion *c)
{
    if (c->result != IO_OK) {
        log->failed = true;
        return LOG_EVENT_ERROR;
    }
    log->read_position += c->size;
    u64 limit = MIN(log->file_size, (u64)QUORUM_LOG_BYTES_MAX);
    if (c->size > 0 && log->read_position < limit) {
        log_read_next(log);
        return log->failed ? LOG_EVENT_ERROR : LOG_EVENT_NONE;
    }
    return log_recover_finish(log);
}

/* ===== Compaction: the kept suffix is copied to a new file that replaces the old ===== */

static void rewrite_fail(struct quorum_log *log, const char *what, enum io_result result)
{
    io_log(log->io, IO_LOG_WARN, "quorum log: compaction %s failed: %s", what,
           io_result_name(result));
    log->failed = true; /* quorum_log_retry starts the copy over. */
    log->rewriting = false;
    if (log->rewrite_file != 0) io_file_close(log->io, log->rewrite_file);
    log->rewrite_file = 0;
}

static void rewrite_begin(struct quorum_log *log)
{
    ASSERT(log->compact_to > log->start);
    ASSERT(log->synced_end == log->write_end && log->write_end >= log->compact_to);
    enum io_result result = io_file_open(log->io, QUORUM_LOG_NEW_PATH,
                                         IO_OPEN_CREATE | IO_OPEN_TRUNCATE,
                                         log->user_data_tag | LOG_OP_REWRITE_OPEN);
    if (result != IO_OK) {
        rewrite_fail(log, "open", result);
        return;
    }
    log->op = LOG_OP_REWRITE_OPEN;
    log->rewriting = true;
    log->rewrite_end = log->write_end;
    log->rewrite_position = 0;
}

/* The next step of the copy: a chunk of [compact_to, rewrite_end), or the sync. */
static void rewrite_step(struct quorum_log *log)
{
    u64 base = position_of(log, log->compact_to);
    u64 size = position_of(log, log->rewrite_end) - base;
    enum io_result result = IO_OK;
    if (log->rewrite_position < size) {
        u32 chunk = (u32)MIN(size - log->rewrite_position, (u64)QUORUM_LOG_WRITE_MAX);
        memcpy(log->write_buffer, log->arena + base + log->rewrite_position, chunk);
        result = io_file_write(log->io, log->rewrite_file, log->rewrite_position,
                               log->write_buffer, chunk,
                               log->user_data_tag | LOG_OP_REWRITE_WRITE);
        if (result == IO_OK) log->op = LOG_OP_REWRITE_WRITE;
    } else {
        result = io_file_sync(log->io, log->rewrite_file,
                              log->user_data_tag | LOG_OP_REWRITE_SYNC);
        if (result == IO_OK) log->op = LOG_OP_REWRITE_SYNC;
    }
    if (result != IO_OK) rewrite_fail(log, "write", result);
}

/* The new file is in place: memory drops the prefix so that it mirrors the new file again. */
static void rewrite_finish(struct quorum_log *log)
{
    i64 to = log->compact_to;
    i64 dropped = to - log->start;
    u64 shift = position_of(log, to);
    i32 epoch_before = quorum_log_epoch_at(log, to - 1);
    io_file_close(log->io, log->file);
    log->file = log->rewrite_file;
    log->rewrite_file = 0;
    i64 kept = log->end - to;
    memmove(log->arena, log->arena + shift, (size_t)(log->bytes_end - shift));
    memset(log->arena + (log->bytes_end - shift), 0, (size_t)shift);
    memmove(log->entries, log->entries + dropped, (size_t)kept * sizeof(log->entries[0]));
    for (i64 i = 0; i < kept; i++) log->entries[i].position -= shift;
    log->bytes_end -= shift;
    log->start = to;
    log->start_epoch = epoch_before;
    log->compact_to = 0;
    log->rewriting = false;
    quorum_log_invariants(log);
}

static enum quorum_log_event rewrite_on_file(struct quorum_log *log, enum quorum_log_op op,
                                             const struct io_completion *completion)
{
    ASSERT(log->rewriting);
    if (completion->result != IO_OK) {
        if (op == LOG_OP_REWRITE_OPEN) log->rewrite_file = 0;
        rewrite_fail(log, "step", completion->result);
        return LOG_EVENT_ERROR;
    }
    switch (op) {
    case LOG_OP_REWRITE_OPEN:
        log->rewrite_file = completion->file;
        rewrite_step(log);
        break;
    case LOG_OP_REWRITE_WRITE:
        log->rewrite_position += completion->size;
        rewrite_step(log);
        break;
    case LOG_OP_REWRITE_SYNC: {
        /* Whole and durable: only now may it replace the old file. */
        enum io_result result = io_file_rename(log->io, QUORUM_LOG_NEW_PATH, QUORUM_LOG_PATH,
                                               log->user_data_tag | LOG_OP_REWRITE_RENAME);
        if (result == IO_OK) log->op = LOG_OP_REWRITE_RENAME;
        else rewrite_fail(log, "rename", result);
        break;
    }
    case LOG_OP_REWRITE_RENAME:
        rewrite_finish(log);
        return LOG_EVENT_COMPACTED;
    default: ASSERT(false); break;
    }
    return log->failed ? LOG_EVENT_ERROR : LOG_EVENT_NONE;
}

/* ===== The disk pipeline ===== */

enum quorum_log_event quorum_log_on_file(struct quorum_log *log,
                                         const struct io_completion *completion)
{
    ASSERT((completion->user_data & 0xff) == (u64)log->op);
    enum quorum_log_op op = log->op;
    log->op = LOG_OP_NONE;
    if (op == LOG_OP_OPEN) {
        if (completion->result != IO_OK) {
            log->failed = true;
            return LOG_EVENT_ERROR;
        }
        log->file = completion->file;
        log->file_size = completion->file_size;
        if (log->file_size == 0) return log_recover_finish(log);
        log_read_next(log);
        return log->failed ? LOG_EVENT_ERROR : LOG_EVENT_NONE;
    }
    if (op == LOG_OP_READ) return log_on_read(log, completion);
    if (op >= LOG_OP_REWRITE_OPEN) return rewrite_on_file(log, op, completion);
    if (completion->result != IO_OK) {
        /* Whatever was in flight may or may not have reached the disk: rewrite from the last
         * durable point, cutting first. */
        io_log(log->io, IO_LOG_WARN, "quorum log: %s failed: %s", op == LOG_OP_SYNC ? "sync" :
               "write", io_result_name(completion->result));
        log->write_end = log->synced_end;
        log->truncate_needed = true;
        log->failed = true;
        quorum_log_invariants(log);
        return LOG_EVENT_ERROR;
    }
    if (op == LOG_OP_SYNC) {
        i64 durable = MIN(log->sync_target, log->write_end);
        if (durable > log->synced_end) log->synced_end = durable;
        quorum_log_invariants(log);
        return LOG_EVENT_SYNCED;
    }
    return LOG_EVENT_NONE;
}

/* Writes [write_end, k) for the largest k whose bytes fit in one write. */
static void log_issue_write(struct quorum_log *log)
{
    i64 from = log->write_end;
    u64 start = position_of(log, from);
    i64 until = from + 1;
    while (until < log->end && position_of(log, until + 1) - start <= QUORUM_LOG_WRITE_MAX) {
        until++;
    }
    u64 size = position_of(log, until) - start;
    ASSERT(size <= QUORUM_LOG_WRITE_MAX);
    ASSERT(size > 0);
    memcpy(log->write_buffer, log->arena + start, (size_t)size);
    enum io_result result = io_file_write(log->io, log->file, start, log->write_buffer,
                                          (u32)size, log->user_data_tag | LOG_OP_WRITE);
    if (result != IO_OK) {
        log->failed = true;
        return;
    }
    log->op = LOG_OP_WRITE;
    log->write_end = until;
}

void quorum_log_pump(struct quorum_log *log)
{
    if (!log->recovered || log->failed || log->hold || log->op != LOG_OP_NONE) return;
    ASSERT(!log->rewriting); /* Every rewrite step issues the next one, or fails. */
    enum io_result result = IO_OK;
    bool compact = log->compact_to != 0 && !log->truncate_needed;
    if (compact && log->synced_end == log->write_end && log->write_end >= log->compact_to) {
        rewrite_begin(log);
    } else if (compact && log->synced_end < log->write_end) {
        /* The copy starts from a synced file: sync before writing more. */
        result = io_file_sync(log->io, log->file, log->user_data_tag | LOG_OP_SYNC);
        if (result == IO_OK) {
            log->op = LOG_OP_SYNC;
            log->sync_target = log->write_end;
        }
    } else if (log->truncate_needed) {
        result = io_file_truncate(log->io, log->file, position_of(log, log->write_end),
                                  log->user_data_tag | LOG_OP_TRUNCATE);
        if (result == IO_OK) {
            log->op = LOG_OP_TRUNCATE;
            log->truncate_needed = false;
        }
    } else if (log->write_end < log->end) {
        log_issue_write(log);
    } else if (log->synced_end < log->write_end) {
        result = io_file_sync(log->io, log->file, log->user_data_tag | LOG_OP_SYNC);
        if (result == IO_OK) {
            log->op = LOG_OP_SYNC;
            log->sync_target = log->write_end;
        }
    }
    if (result != IO_OK) log->failed = true;
    quorum_log_invariants(log);
}
