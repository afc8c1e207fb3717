/* log_maintenance.c: flush and checkpoints, truncation, deleting from the start (DeleteRecords
 * and retention), closing, and the segment-file sub-machines they share.
 *
 * Ordering rules that keep a crash at any point recoverable:
 *   - A closed segment's index files are written and synced before the recovery point moves
 *     past it, so recovery may trust every index below the recovery point.
 *   - Checkpoints are written to `<name>.tmp`, synced, then renamed over the old file (rename is
 *     durable on completion): a crash leaves the old or the new text, never a mix.
 *   - Removing a segment removes its .log first: a crash in between leaves only index files,
 *     which recovery deletes as leftovers, never a .log whose data was meant to be gone.
 *   - Truncation removes later segments last-first, then truncates and syncs the .log, and only
 *     then lowers the checkpoints: a crash in between leaves a prefix that recovery rescans.
 *   - The log start checkpoint is written before the segments below it are removed.
 *   - Truncating fully (starting over at another offset) first creates a `.start-over` marker
 *     naming the new start: from then on an open empties the log and starts it there instead
 *     of recovering it. The marker goes only after the new empty segment and all the
 *     checkpoints are durable, so a crash anywhere yields the old log or the new one.
 *
 * Tested through the public API in tests/unit/test_log.c and test_log_recovery.c. */
#include "log_internal.h"

#include <stdio.h>
#include <string.h>

/* ===== Segment files ===== */

void log_segment_release(struct partition_log *log, struct segment *segment)
{
    for (u32 kind = 0; kind < SEGMENT_FILE_KIND_COUNT; kind++) {
        if (segment->files[kind] != 0) io_file_close(log->io, segment->files[kind]);
        segment->files[kind] = 0;
    }
    segment_free(segment);
}

void log_segment_files_create(struct partition_log *log)
{
    ASSERT(log->op.segment < log->segment_count);
    const struct segment *segment = &log->segments[log->op.segment];
    ASSERT(segment->size == 0);
    for (u32 kind = 0; kind < SEGMENT_FILE_KIND_COUNT; kind++) {
        if (segment->files[kind] != 0) continue;
        char path[IO_PATH_MAX];
        segment_path(path, sizeof(path), log->directory, segment->base_offset, kind);
        log->op.file_kind = kind;
        /* Truncate: a leftover of a crash may hold this name. */
        (void)log_issue_open(log, LOG_STEP_CREATE_FILE, path, IO_OPEN_CREATE | IO_OPEN_TRUNCATE);
        return;
    }
    log_op_continue(log);
}

static void log_segment_remove_next(struct partition_log *log)
{
    if (log->op.remove_kind == SEGMENT_FILE_KIND_COUNT) {
        log_op_continue(log);
        return;
    }
    char path[IO_PATH_MAX];
    segment_path(path, sizeof(path), log->directory, log->op.remove_base, log->op.remove_kind);
    (void)log_issue_remove(log, LOG_STEP_REMOVE_FILE, path);
}

void log_segment_files_remove(struct partition_log *log, i64 base_offset)
{
    ASSERT(base_offset >= 0);
    log->op.remove_base = base_offset;
    log->op.remove_kind = SEGMENT_FILE_LOG; /* First: see the ordering rules above. */
    log_segment_remove_next(log);
}

void log_file_truncate_synced(struct partition_log *log, io_file file, u64 size)
{
    ASSERT(file != 0);
    log->op.checkpoint_file = file;
    (void)log_issue_truncate(log, LOG_STEP_TRUNCATE_FILE, file, size);
}

/* ===== Flush ===== */

static void log_checkpoint_next(struct partition_log *log);
static void log_flush_next(struct partition_log *log);

void log_flush_start(struct partition_log *log, i64 target, u32 checkpoint_mask)
{
    ASSERT(checkpoint_mask <= LOG_CHECKPOINTS_ALL);
    log->op.flush_target = MIN(target, log_end_offset(log));
    log->op.checkpoint_mask = checkpoint_mask;
    log->op.segment = 0;
    log->op.file_kind = SEGMENT_FILE_LOG;
    log_flush_next(log);
}

/* Writes the next chunk of op.segment's index op.file_kind from entry op.count, or truncates
 * the file to the entries once all are written. */
static void log_flush_index_write(struct partition_log *log)
{
    struct segment *segment = &log->segments[log->op.segment];
    bool offsets = log->op.file_kind == SEGMENT_FILE_INDEX;
    u32 entry_size = offsets ? OFFSET_INDEX_ENTRY_SIZE : TIME_INDEX_ENTRY_SIZE;
    u32 total = offsets ? segment->index.count : segment->time.count;
    io_file file = segment->files[log->op.file_kind];
    if (log->op.count == total) {
        (void)log_issue_truncate(log, LOG_STEP_FLUSH_INDEX_TRUNCATE, file,
                                 (u64)total * entry_size);
        return;
    }
    u32 count = MIN(total - log->op.count, log->buffer_capacity / entry_size);
    u64 size = offsets ? offset_index_encode(&segment->index, log->op.count, count, log->buffer)
                       : time_index_encode(&segment->time, log->op.count, count, log->buffer);
    u64 offset = (u64)log->op.count * entry_size;
    log->op.count += count;
    (void)log_issue_write(log, LOG_STEP_FLUSH_INDEX_WRITE, file, offset, log->buffer, (u32)size);
}

/* Finds the next thing to make durable below the flush target. */
static void log_flush_next(struct partition_log *log)
{
    for (; log->op.segment < log->segment_count; log->op.segment++) {
        struct segment *segment = &log->segments[log->op.segment];
        if (segment->base_offset >= log->op.flush_target) break;
        if (!segment->log_synced) {
            (void)log_issue_sync(log, LOG_STEP_FLUSH_LOG_SYNC, segment->files[SEGMENT_FILE_LOG]);
            return;
        }
        if ((segment->closed || log->clean_shutdown) && !segment->indexes_durable) {
            if (log->op.file_kind == SEGMENT_FILE_LOG) log->op.file_kind = SEGMENT_FILE_INDEX;
            log->op.count = 0;
            log_flush_index_write(log);
            return;
        }
        log->op.file_kind = SEGMENT_FILE_LOG;
    }
    if (log->op.flush_target > log->recovery_point) {
        log->recovery_point = log->op.flush_target;
    }
    if (log->op.flush_target >= log_end_offset(log)) log->messages_since_flush = 0;
    log_checkpoint_next(log);
}

static void log_flush_on_step(struct partition_log *log, enum log_step step)
{
    struct segment *segment = &log->segments[log->op.segment];
    switch (step) {
    case LOG_STEP_FLUSH_LOG_SYNC: segment->log_synced = true; break;
    case LOG_STEP_FLUSH_INDEX_WRITE: log_flush_index_write(log); return;
    case LOG_STEP_FLUSH_INDEX_TRUNCATE:
        (void)log_issue_sync(log, LOG_STEP_FLUSH_INDEX_SYNC, segment->files[log->op.file_kind]);
        return;
    case LOG_STEP_FLUSH_INDEX_SYNC:
        if (log->op.file_kind == SEGMENT_FILE_INDEX) {
            log->op.file_kind = SEGMENT_FILE_TIME_INDEX;
            log->op.count = 0;
            log_flush_index_write(log);
            return;
        }
        segment->indexes_durable = true;
        log->op.file_kind = SEGMENT_FILE_LOG;
        break;
    default: ASSERT(false && "not a flush step");
    }
    log_flush_next(log);
}

/* ===== Checkpoints ===== */

/* Encodes checkpoint kind into the buffer; returns its size, 0 when nothing changed. */
static u32 log_checkpoint_encode(struct partition_log *log, enum log_checkpoint_kind kind)
{
    char *text = (char *)log->buffer;
    u32 size = 0;
    switch (kind) {
    case LOG_CHECKPOINT_RECOVERY_POINT:
        if (log->recovery_point == log->recovery_point_checkpointed) return 0;
        log->op.checkpoint_value = log->recovery_point;
        size = checkpoint_offset_encode(text, log->buffer_capacity, log->topic, log->partition,
                                        log->recovery_point);
        break;
    case LOG_CHECKPOINT_LOG_START:
        if (log->log_start_offset == log->log_start_checkpointed) return 0;
        log->op.checkpoint_value = log->log_start_offset;
        size = checkpoint_offset_encode(text, log->buffer_capacity, log->topic, log->partition,
                                        log->log_start_offset);
        break;
    case LOG_CHECKPOINT_EPOCHS:
        if (!log->epochs_dirty) return 0;
        size = checkpoint_epochs_encode(text, log->buffer_capacity, log->epochs,
                                        log->epoch_count);
        break;
    case LOG_CHECKPOINT_PRODUCERS:
        if (!log->clean_shutdown) return 0;
        return log_snapshot_encode(log);
    case LOG_CHECKPOINT_CLEAN_SHUTDOWN:
        if (!log->clean_shutdown) return 0;
        size = checkpoint_offset_encode(text, log->buffer_capacity, log->topic, log->partition,
                                        log_end_offset(log));
        break;
    default: ASSERT(false);
    }
    ASSERT(size > 0); /* The buffer is far larger than any checkpoint. */
    return size;
}

static void log_checkpoint_path(const struct partition_log *log, enum log_checkpoint_kind kind,
                                bool temporary, char *path)
{
    if (kind == LOG_CHECKPOINT_PRODUCERS) {
        log_snapshot_path(log, log_end_offset(log), temporary, path);
        return;
    }
    int written = snprintf(path, IO_PATH_MAX, "%s/%s%s", log->directory,
                           log_checkpoint_names[kind], temporary ? ".tmp" : "");
    ASSERT(written > 0 && (u32)written < IO_PATH_MAX);
}

static void log_checkpoint_next(struct partition_log *log)
{
    for (u32 kind = 0; kind < LOG_CHECKPOINT_KIND_COUNT; kind++) {
        if ((log->op.checkpoint_mask & (1u << kind)) == 0) continue;
        if (log_checkpoint_encode(log, kind) == 0) {
            log->op.checkpoint_mask &= ~(1u << kind);
            continue;
        }
        log->op.file_kind = kind;
        char path[IO_PATH_MAX];
        log_checkpoint_path(log, kind, true, path);
        (void)log_issue_open(log, LOG_STEP_CHECKPOINT_OPEN, path,
                             IO_OPEN_CREATE | IO_OPEN_TRUNCATE);
        return;
    }
    log->last_flush_ns = io_now_ns(log->io);
    log_op_continue(log);
}

static void log_checkpoint_on_step(struct partition_log *log, enum log_step step,
                                   const struct io_completion *c)
{
    enum log_checkpoint_kind kind = log->op.file_kind;
    char source[IO_PATH_MAX], target[IO_PATH_MAX];
    switch (step) {
    case LOG_STEP_CHECKPOINT_OPEN: {
        log->op.checkpoint_file = c->file;
        u32 size = log_checkpoint_encode(log, kind); /* Again: the buffer may have been used. */
        (void)log_issue_write(log, LOG_STEP_CHECKPOINT_WRITE, c->file, 0, log->buffer, size);
        return;
    }
    case LOG_STEP_CHECKPOINT_WRITE:
        (void)log_issue_sync(log, LOG_STEP_CHECKPOINT_SYNC, log->op.checkpoint_file);
        return;
    case LOG_STEP_CHECKPOINT_SYNC:
        io_file_close(log->io, log->op.checkpoint_file);
        log->op.checkpoint_file = 0;
        log_checkpoint_path(log, kind, true, source);
        log_checkpoint_path(log, kind, false, target);
        (void)log_issue_rename(log, LOG_STEP_CHECKPOINT_RENAME, source, target);
        return;
    case LOG_STEP_CHECKPOINT_RENAME:
        if (kind == LOG_CHECKPOINT_RECOVERY_POINT) {
            log->recovery_point_checkpointed = log->op.checkpoint_value;
        } else if (kind == LOG_CHECKPOINT_LOG_START) {
            log->log_start_checkpointed = log->op.checkpoint_value;
        } else if (kind == LOG_CHECKPOINT_EPOCHS) {
            log->epochs_dirty = false;
        }
        log->op.checkpoint_mask &= ~(1u << kind);
        log_checkpoint_next(log);
        return;
    default: ASSERT(false && "not a checkpoint step");
    }
}

void log_maintenance_on_step(struct partition_log *log, enum log_step step,
                             const struct io_completion *c)
{
    bool gone = (step == LOG_STEP_REMOVE_FILE || step == LOG_STEP_START_OVER_UNMARK) &&
                c->result == IO_ERR_NOT_FOUND;
    if (c->result != IO_OK && !gone) {
        log_op_fail_io(log, "file operation", c->result);
        return;
    }
    switch (step) {
    case LOG_STEP_CREATE_FILE:
        log->segments[log->op.segment].files[log->op.file_kind] = c->file;
        log_segment_files_create(log);
        return;
    case LOG_STEP_REMOVE_FILE:
        log->op.remove_kind++;
        log_segment_remove_next(log);
        return;
    case LOG_STEP_TRUNCATE_FILE:
        (void)log_issue_sync(log, LOG_STEP_TRUNCATE_SYNC, log->op.checkpoint_file);
        return;
    case LOG_STEP_START_OVER_MARK:
        io_file_close(log->io, c->file); /* Only its name matters. */
        log_op_continue(log);
        return;
    case LOG_STEP_TRUNCATE_SYNC:
    case LOG_STEP_START_OVER_UNMARK:
    case LOG_STEP_SYNC_CONTINUE: log_op_continue(log); return;
    case LOG_STEP_FLUSH_LOG_SYNC:
    case LOG_STEP_FLUSH_INDEX_WRITE:
    case LOG_STEP_FLUSH_INDEX_TRUNCATE:
    case LOG_STEP_FLUSH_INDEX_SYNC: log_flush_on_step(log, step); return;
    case LOG_STEP_CHECKPOINT_OPEN:
    case LOG_STEP_CHECKPOINT_WRITE:
    case LOG_STEP_CHECKPOINT_SYNC:
    case LOG_STEP_CHECKPOINT_RENAME: log_checkpoint_on_step(log, step, c); return;
    default: ASSERT(false && "not a maintenance step");
    }
}

/* ===== Flush, epoch checkpoint and close requests ===== */

void log_flush_op_start(struct partition_log *log)
{
    if (log->op.request.kind == LOG_OP_EPOCH_CHECKPOINT) {
        log_flush_start(log, -1, 1u << LOG_CHECKPOINT_EPOCHS);
        return;
    }
    log_flush_start(log, MAX(log->op.request.offset, 0), LOG_CHECKPOINTS_ALL);
}

void log_close_start(struct partition_log *log)
{
    /* A clean shutdown also writes the active segment's indexes and, last, a record of the log
     * end, so the next open need not scan the active segment (Kafka's clean shutdown file). */
    log->clean_shutdown = true;
    log->segments[log->segment_count - 1].indexes_durable = false;
    log_flush_start(log, log_end_offset(log), LOG_CHECKPOINTS_ALL);
}

void log_maintenance_continue(struct partition_log *log)
{
    if (log->op.request.kind == LOG_OP_CLOSE) {
        for (u32 i = 0; i < log->segment_count; i++) {
            struct segment *segment = &log->segments[i];
            for (u32 kind = 0; kind < SEGMENT_FILE_KIND_COUNT; kind++) {
                if (segment->files[kind] != 0) io_file_close(log->io, segment->files[kind]);
                segment->files[kind] = 0;
            }
        }
        log->state = LOG_STATE_CLOSED;
    }
    log_op_finish(log, LOG_OK);
}

/* ===== Truncation ===== */

enum {
    LOG_TRUNCATE_PHASE_REMOVING = 1,
    LOG_TRUNCATE_PHASE_TRUNCATED,
    LOG_TRUNCATE_PHASE_FLUSHED,
    LOG_TRUNCATE_PHASE_PRODUCERS,
};

void log_truncate_start(struct partition_log *log)
{
    i64 offset = log->op.request.offset;
    log->op.event.offset = log_end_offset(log);
    if (offset < log->log_start_offset) {
        log_op_finish(log, LOG_ERR_OUT_OF_RANGE);
        return;
    }
    if (offset >= log_end_offset(log)) {
        log_op_finish(log, LOG_OK);
        return;
    }
    log->op.segment = log_segment_find(log, offset);
    log->op.phase = LOG_TRUNCATE_PHASE_REMOVING;
    log_truncate_continue(log);
}

/* Cuts op.segment at position, making next_offset its end, after the file is cut. */
static void log_truncate_segment(struct partition_log *log, u64 position, i64 next_offset)
{
    struct segment *segment = &log->segments[log->op.segment];
    log->op.position = position;
    log->op.flush_target = next_offset;
    log->op.phase = LOG_TRUNCATE_PHASE_TRUNCATED;
    if (position == segment->size) { /* Nothing to cut. */
        log_truncate_continue(log);
        return;
    }
    log_file_truncate_synced(log, segment->files[SEGMENT_FILE_LOG], position);
}

bool log_truncate_visit(struct partition_log *log, const struct record_batch_header *header,
                        u64 batch_size)
{
    (void)batch_size;
    i64 offset = log->op.request.offset;
    if (header->BaseOffset + header->LastOffsetDelta < offset) return true;
    /* The batch holding offset goes whole; past a gap (compaction) the end is offset itself. */
    log_truncate_segment(log, log->op.scan.position, MIN(header->BaseOffset, offset));
    return false;
}

void log_truncate_scan_done(struct partition_log *log, enum log_scan_outcome outcome)
{
    if (outcome == LOG_SCAN_BAD) {
        log_op_finish(log, LOG_ERR_CORRUPT);
        return;
    }
    const struct segment *segment = &log->segments[log->op.segment];
    /* The offset is in a gap after the last batch: nothing to cut, the end becomes offset. */
    log_truncate_segment(log, segment->size, MIN(segment->next_offset, log->op.request.offset));
}

/* After the segment is cut: settle offsets and lower the checkpoints. */
static void log_truncate_settle(struct partition_log *log)
{
    struct segment *segment = &log->segments[log->op.segment];
    ASSERT(log->op.segment + 1 == log->segment_count);
    segment_truncate(segment, log->op.position, log->op.flush_target);
    i64 end_offset = log_end_offset(log);
    log->recovery_point = MIN(log->recovery_point, end_offset);
    log->log_start_offset = MIN(log->log_start_offset, end_offset);
    log_epochs_truncate_from_end(log, end_offset);
    log->op.event.offset = end_offset;
    log->op.phase = LOG_TRUNCATE_PHASE_FLUSHED;
    log_flush_start(log, -1, LOG_CHECKPOINTS_ALL);
}

void log_truncate_continue(struct partition_log *log)
{
    switch (log->op.phase) {
    case LOG_TRUNCATE_PHASE_REMOVING: {
        if (log->segment_count > log->op.segment + 1) {
            struct segment *last = &log->segments[log->segment_count - 1];
            i64 base_offset = last->base_offset;
            log_segment_release(log, last);
            log->segment_count--;
            log_segment_files_remove(log, base_offset);
            return;
        }
        const struct segment *segment = &log->segments[log->op.segment];
        i64 offset = log->op.request.offset;
        if (offset <= segment->base_offset) {
            log_truncate_segment(log, 0, offset);
            return;
        }
        u64 position = offset_index_lookup(&segment->index, segment->base_offset, offset);
        log_scan_start(log, log->op.segment, position, segment->size, false);
        return;
    }
    case LOG_TRUNCATE_PHASE_TRUNCATED: log_truncate_settle(log); return;
    case LOG_TRUNCATE_PHASE_FLUSHED:
        /* Batches above the new end are gone: so must be what the producers remember of them
         * (a retry of one is a new append now, not a duplicate). */
        log->op.phase = LOG_TRUNCATE_PHASE_PRODUCERS;
        log_producers_rebuild(log);
        return;
    case LOG_TRUNCATE_PHASE_PRODUCERS: log_op_finish(log, LOG_OK); return;
    default: ASSERT(false && "unknown truncate phase");
    }
}

/* ===== Starting over: truncate fully ===== */

void log_start_over_path(const struct partition_log *log, i64 offset, char *path)
{
    ASSERT(offset >= 0);
    int written = snprintf(path, IO_PATH_MAX, "%s/%020lld%s", log->directory, (long long)offset,
                           LOG_START_OVER_SUFFIX);
    ASSERT(written > 0 && (u32)written < IO_PATH_MAX);
}

void log_start_over_mark(struct partition_log *log, i64 offset)
{
    char path[IO_PATH_MAX];
    log_start_over_path(log, offset, path);
    /* Creating a name is durable when it completes (io.h): this is the commit point. */
    (void)log_issue_open(log, LOG_STEP_START_OVER_MARK, path, IO_OPEN_CREATE);
}

void log_start_over_unmark(struct partition_log *log, i64 offset)
{
    char path[IO_PATH_MAX];
    log_start_over_path(log, offset, path);
    (void)log_issue_remove(log, LOG_STEP_START_OVER_UNMARK, path);
}

enum {
    LOG_START_OVER_PHASE_MARKED = 1,
    LOG_START_OVER_PHASE_REMOVING,
    LOG_START_OVER_PHASE_REPLACED,
    LOG_START_OVER_PHASE_CREATED,
    LOG_START_OVER_PHASE_FLUSHED,
    LOG_START_OVER_PHASE_UNMARKED,
};

void log_truncate_fully_start(struct partition_log *log)
{
    i64 new_start = log->op.request.offset;
    ASSERT(new_start >= 0);
    log->op.event.offset = new_start;
    const struct segment *first = &log->segments[0];
    if (log->segment_count == 1 && first->size == 0 && first->base_offset == new_start &&
        log->log_start_offset == new_start && log->epoch_count == 0) {
        log_op_finish(log, LOG_OK); /* Already the empty log it asks for. */
        return;
    }
    log->op.phase = LOG_START_OVER_PHASE_MARKED;
    log_start_over_mark(log, new_start);
}

/* The first segment, the last old one left, becomes the new empty one in place, so the log is
 * never without a segment; from here on the log in memory is the new one. */
static void log_truncate_fully_replace(struct partition_log *log)
{
    ASSERT(log->segment_count == 1);
    i64 new_start = log->op.request.offset;
    struct segment *first = &log->segments[0];
    i64 old_base = first->base_offset;
    log_segment_release(log, first);
    if (!log_segment_init(log, first, new_start)) {
        /* No memory for the new segment's indexes: the marker stays, the next open finishes. */
        log->segment_count = 0;
        log->state = LOG_STATE_FAILED;
        log_op_finish(log, LOG_ERR_LIMIT);
        return;
    }
    log->log_start_offset = new_start;
    log->recovery_point = new_start;
    log->messages_since_flush = 0;
    log->epoch_count = 0; /* Kafka clears the leader epoch cache too. */
    producer_state_clear(&log->producers);
    log->epochs_dirty = true;
    log->op.segment = 0;
    log->op.phase = LOG_START_OVER_PHASE_REPLACED;
    if (old_base != new_start) {
        log_segment_files_remove(log, old_base);
        return;
    }
    log_truncate_fully_continue(log); /* Same names: creating them empties them. */
}

void log_truncate_fully_continue(struct partition_log *log)
{
    i64 new_start = log->op.request.offset;
    switch (log->op.phase) {
    case LOG_START_OVER_PHASE_MARKED:
    case LOG_START_OVER_PHASE_REMOVING:
        log->op.phase = LOG_START_OVER_PHASE_REMOVING;
        if (log->segment_count > 1) {
            /* Last first, as truncate_to does; queries meanwhile see a shorter log. */
            struct segment *last = &log->segments[log->segment_count - 1];
            i64 base_offset = last->base_offset;
            log_segment_release(log, last);
            log->segment_count--;
            log->log_start_offset = MIN(log->log_start_offset, log_end_offset(log));
            log->recovery_point = MIN(log->recovery_point, log_end_offset(log));
            log_segment_files_remove(log, base_offset);
            return;
        }
        log_truncate_fully_replace(log);
        return;
    case LOG_START_OVER_PHASE_REPLACED:
        log->op.phase = LOG_START_OVER_PHASE_CREATED;
        log_segment_files_create(log);
        return;
    case LOG_START_OVER_PHASE_CREATED:
        log->op.phase = LOG_START_OVER_PHASE_FLUSHED;
        log_flush_start(log, new_start, LOG_CHECKPOINTS_ALL);
        return;
    case LOG_START_OVER_PHASE_FLUSHED:
        /* Only now may an open trust the segments again. */
        log->op.phase = LOG_START_OVER_PHASE_UNMARKED;
        log_start_over_unmark(log, new_start);
        return;
    case LOG_START_OVER_PHASE_UNMARKED: log_op_finish(log, LOG_OK); return;
    default: ASSERT(false && "unknown start-over phase");
    }
}

/* ===== Deleting from the start: DeleteRecords and retention ===== */

enum { LOG_DELETE_PHASE_CHECKPOINTED = 1, LOG_DELETE_PHASE_REMOVING };

/* How many oldest segments retention allows to delete (never the active one). */
static u32 log_retention_deletable(const struct partition_log *log)
{
    u32 last = log->segment_count - 1;
    u32 by_time = 0, by_size = 0, by_start = 0;
    bool delete_policy = (log->config.cleanup_policy & LOG_CLEANUP_DELETE) != 0;
    if (delete_policy && log->config.retention_ms >= 0) {
        i64 now_ms = (i64)(io_wall_ns(log->io) / NS_PER_MS);
        while (by_time < last &&
               log->segments[by_time].max_timestamp < now_ms - log->config.retention_ms) {
            by_time++;
        }
    }
    if (delete_policy && log->config.retention_bytes >= 0) {
        i64 excess = (i64)partition_log_size_bytes(log) - log->config.retention_bytes;
        while (by_size < last && excess >= (i64)log->segments[by_size].size) {
            excess -= (i64)log->segments[by_size].size;
            by_size++;
        }
    }
    while (by_start < last && log->segments[by_start + 1].base_offset <= log->log_start_offset) {
        by_start++;
    }
    return MAX(MAX(by_time, by_size), by_start);
}

void log_delete_prefix_start(struct partition_log *log)
{
    const struct log_request *request = &log->op.request;
    i64 start_offset = log->log_start_offset;
    if (request->retention) {
        u32 deletable = log_retention_deletable(log);
        if (deletable == 0) {
            log_op_finish(log, LOG_OK);
            return;
        }
        start_offset = MAX(start_offset, log->segments[deletable].base_offset);
    } else {
        if (request->offset > log_end_offset(log) || request->offset < 0) {
            log_op_finish(log, LOG_ERR_OUT_OF_RANGE);
            return;
        }
        start_offset = MAX(start_offset, request->offset);
    }
    log->log_start_offset = start_offset;
    log_epochs_truncate_from_start(log, start_offset);
    log->op.phase = LOG_DELETE_PHASE_CHECKPOINTED;
    log_flush_start(log, -1, (1u << LOG_CHECKPOINT_LOG_START) | (1u << LOG_CHECKPOINT_EPOCHS));
}

void log_delete_prefix_continue(struct partition_log *log)
{
    if (log->op.phase == LOG_DELETE_PHASE_REMOVING) {
        /* The first segment's files are gone: forget it. */
        log_segment_release(log, &log->segments[0]);
        memmove(&log->segments[0], &log->segments[1],
                sizeof(struct segment) * (log->segment_count - 1));
        log->segment_count--;
        memset(&log->segments[log->segment_count], 0, sizeof(struct segment));
        log->op.event.segments_deleted++;
    }
    ASSERT(log->segment_count > 0);
    if (log->segment_count > 1 && log->segments[1].base_offset <= log->log_start_offset) {
        log->op.phase = LOG_DELETE_PHASE_REMOVING;
        /* Close the handles now; memory goes when the files are gone. */
        struct segment *first = &log->segments[0];
        for (u32 kind = 0; kind < SEGMENT_FILE_KIND_COUNT; kind++) {
            if (first->files[kind] != 0) io_file_close(log->io, first->files[kind]);
            first->files[kind] = 0;
        }
        log_segment_files_remove(log, first->base_offset);
        return;
    }
    log->op.event.offset = log->log_start_offset;
    log_op_finish(log, LOG_OK);
}
