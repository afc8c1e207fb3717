/* log_producers.c: the partition's idempotent producers (producer_state.h) kept in step with
 * the log: each append is checked (client) or recorded (replica), and the state is rebuilt
 * from the batch headers when the log opens or is truncated.
 *
 * The rebuild replays the headers of every segment, oldest first, through the scanner (one
 * read in flight, header-only reads). It reads the whole log's headers; snapshots, which
 * would bound it to the batches after the newest snapshot, are not written yet. */
#include "log_internal.h"

#include <stdio.h>
#include <string.h>

static void log_producers_next_segment(struct partition_log *log)
{
    while (log->op.producers_segment < log->segment_count &&
           log->segments[log->op.producers_segment].size == 0) {
        log->op.producers_segment++;
    }
    if (log->op.producers_segment == log->segment_count) {
        log->op.producers_scan = false;
        log_op_continue(log);
        return;
    }
    const struct segment *segment = &log->segments[log->op.producers_segment];
    log_scan_start(log, log->op.producers_segment, 0, segment->size, false);
}

void log_producers_rebuild(struct partition_log *log)
{
    ASSERT(log->op.active);
    producer_state_clear(&log->producers);
    log->op.producers_scan = true;
    log->op.producers_segment = 0;
    log->op.producers_limited = false;
    log_producers_next_segment(log);
}

bool log_producers_visit(struct partition_log *log, const struct record_batch_header *header)
{
    if (header->ProducerId < 0) return true;
    if (!producer_state_update(&log->producers, header, header->BaseOffset) &&
        !log->op.producers_limited) {
        log->op.producers_limited = true;
        io_log(log->io, IO_LOG_WARN,
               "log %s: more than %u producers: producer %lld and later new ones are not "
               "tracked (their retries may be written twice)", log->directory,
               log->producers.capacity_max, (long long)header->ProducerId);
    }
    return true;
}

void log_producers_scan_done(struct partition_log *log, enum log_scan_outcome outcome)
{
    if (outcome == LOG_SCAN_BAD) {
        /* Recovery already cut damage; a bad batch here is a read of a changed file. The
         * state stays as far as it got: deduplication is lost for the rest, not the log. */
        io_log(log->io, IO_LOG_WARN,
               "log %s: producer state rebuild stopped at segment %lld position %llu: %s",
               log->directory, (long long)log->segments[log->op.producers_segment].base_offset,
               (unsigned long long)log->op.scan.position, batch_error_name(log->op.scan.error));
        log->op.producers_segment = log->segment_count;
    } else {
        log->op.producers_segment++;
    }
    log_producers_next_segment(log);
}

enum log_result log_producers_check(struct partition_log *log,
                                    const struct record_batch_header *header)
{
    struct producer_batch duplicate;
    enum producer_check check = producer_state_check(&log->producers, header, &duplicate);
    switch (check) {
    case PRODUCER_CHECK_APPEND: return LOG_OK;
    case PRODUCER_CHECK_DUPLICATE:
        log->op.event.duplicate = true;
        log->op.event.offset = duplicate.first_offset;
        log->op.event.last_offset = duplicate.last_offset;
        return LOG_OK;
    case PRODUCER_CHECK_FENCED: return LOG_ERR_PRODUCER_FENCED;
    case PRODUCER_CHECK_OUT_OF_SEQUENCE: return LOG_ERR_OUT_OF_SEQUENCE;
    case PRODUCER_CHECK_FULL: return LOG_ERR_PRODUCERS_FULL;
    }
    ASSERT(false && "unknown producer check");
    return LOG_ERR_INVALID_BATCH;
}

void log_producers_appended(struct partition_log *log, const struct record_batch_header *header)
{
    if (header->ProducerId < 0) return;
    if (producer_state_update(&log->producers, header, header->BaseOffset)) return;
    /* A client append was checked (FULL refuses first), so only a replica's copy or a lack
     * of memory gets here: the batch is in the log, only its producer goes untracked. */
    io_log(log->io, IO_LOG_WARN, "log %s: producer %lld not tracked (%u producers known)",
           log->directory, (long long)header->ProducerId, log->producers.count);
}

void log_producers_expire(struct partition_log *log)
{
    u64 now_ns = io_now_ns(log->io);
    if (log->producers_expired_ns != 0 &&
        now_ns - log->producers_expired_ns < LOG_PRODUCERS_EXPIRE_INTERVAL_NS) {
        return;
    }
    log->producers_expired_ns = now_ns;
    i64 now_ms = (i64)(io_wall_ns(log->io) / NS_PER_MS);
    u32 forgotten = producer_state_expire(&log->producers, now_ms,
                                          log->config.producer_id_expiration_ms);
    if (forgotten > 0) {
        io_log(log->io, IO_LOG_INFO, "log %s: %u idle producers expired", log->directory,
               forgotten);
    }
}

/* ===== Snapshots ===== */

void log_snapshot_path(const struct partition_log *log, i64 offset, bool temporary, char *path)
{
    ASSERT(offset >= 0);
    int written = snprintf(path, IO_PATH_MAX, "%s/%020lld%s%s", log->directory, (long long)offset,
                           LOG_SNAPSHOT_SUFFIX, temporary ? ".tmp" : "");
    ASSERT(written > 0 && (u32)written < IO_PATH_MAX);
}

u32 log_snapshot_encode(struct partition_log *log)
{
    u64 size = producer_state_snapshot_size(&log->producers);
    if (size > log->buffer_capacity) {
        io_log(log->io, IO_LOG_WARN, "log %s: %u producers do not fit a snapshot; the next open "
               "replays the log", log->directory, log->producers.count);
        return 0;
    }
    return (u32)producer_state_snapshot_encode(&log->producers, log->buffer,
                                               log->buffer_capacity);
}

void log_producers_load(struct partition_log *log)
{
    bool usable = log->op.clean_end >= 0 && log->op.snapshot_offset == log->op.clean_end &&
                  log->op.clean_end == log_end_offset(log);
    if (!usable) {
        log_producers_rebuild(log);
        return;
    }
    char path[IO_PATH_MAX];
    log_snapshot_path(log, log->op.snapshot_offset, false, path);
    (void)log_issue_open(log, LOG_STEP_OPEN_SNAPSHOT_OPEN, path, 0);
}

void log_producers_on_snapshot(struct partition_log *log, enum log_step step,
                               const struct io_completion *c)
{
    if (step == LOG_STEP_OPEN_SNAPSHOT_OPEN) {
        if (c->result == IO_ERR_NOT_FOUND) {
            log_producers_rebuild(log);
            return;
        }
        if (c->result != IO_OK) {
            log_op_fail_io(log, "open producer snapshot", c->result);
            return;
        }
        log->op.checkpoint_file = c->file;
        if (c->file_size > log->buffer_capacity) {
            io_file_close(log->io, c->file);
            io_log(log->io, IO_LOG_WARN, "log %s: producer snapshot of %llu bytes is too large: "
                   "replaying the log", log->directory, (unsigned long long)c->file_size);
            log_producers_rebuild(log);
            return;
        }
        (void)log_issue_read(log, LOG_STEP_OPEN_SNAPSHOT_READ, c->file, 0, log->buffer,
                             (u32)c->file_size);
        return;
    }
    ASSERT(step == LOG_STEP_OPEN_SNAPSHOT_READ);
    io_file_close(log->io, log->op.checkpoint_file);
    log->op.checkpoint_file = 0;
    if (c->result != IO_OK) {
        log_op_fail_io(log, "read producer snapshot", c->result);
        return;
    }
    if (!producer_state_snapshot_decode(&log->producers, log->buffer, c->size)) {
        io_log(log->io, IO_LOG_WARN, "log %s: producer snapshot at %lld is damaged: replaying "
               "the log", log->directory, (long long)log->op.snapshot_offset);
        log_producers_rebuild(log);
        return;
    }
    log_op_continue(log);
}
