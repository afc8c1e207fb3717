/* log_recovery.c: opening a partition log, with recovery after an unclean shutdown.
 *
 * Method. (1) List the directory: every `<base>.log` is a segment; leftovers (index files
 * without a .log, `*.tmp`, `*.deleted`, `*.cleaned`, uncommitted `*.swap`) are removed, and a
 * committed compaction's `*.swap` files are renamed into place. (2) Read the
 * recovery point, log start and leader epoch checkpoints (missing or malformed: recover
 * everything, start at the first segment, no epochs). (3) Segments wholly below the segment
 * holding the last flushed offset (recovery point - 1) were closed and synced with their
 * indexes: load the index files, checking them as Kafka's sanity check does; a bad or missing
 * one is rebuilt. (4) That segment and all later ones are scanned batch by batch: framing,
 * magic, CRC-32C, records, offsets increasing and below the next segment. At the first bad or
 * torn batch the .log is truncated there (and synced) and every later segment is deleted;
 * indexes are rebuilt by the same code that appends (segment_add_batch), so they equal what
 * appends built; epochs the checkpoint missed are taken from the batches. (5) Flush everything,
 * write the checkpoints, and report LOG_EVENT_OPENED.
 *
 * A `<offset>.start-over` marker (a truncate_fully that committed and did not finish) replaces
 * steps (3)-(4): every segment is removed, an empty one created at that offset, the leader epoch
 * cache cleared, the checkpoints written, and only then the marker removed.
 *
 * After a clean shutdown (a `clean-shutdown` record agreeing with the recovery point), nothing
 * is scanned: the active segment's indexes were written by the close and its end is recorded.
 * The record is removed before anything can change, so a later crash scans again.
 *
 * Invariant: after recovery no batch that failed validation is reachable (everything at or
 * after it was cut), and the recovery point equals the log end offset.
 *
 * Tested by tests/unit/test_log_recovery.c (torn tails at every 512-byte boundary, flipped
 * bits, deleted and corrupted index files, garbage after the last batch, random crashes over
 * the fake io) and tests/unit/test_log_sim.c (random crashes on the simulated disk). */
#include "log_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const log_checkpoint_names[LOG_CHECKPOINT_KIND_COUNT] = {
    [LOG_CHECKPOINT_RECOVERY_POINT] = "recovery-point-offset-checkpoint",
    [LOG_CHECKPOINT_LOG_START] = "log-start-offset-checkpoint",
    [LOG_CHECKPOINT_EPOCHS] = "leader-epoch-checkpoint",
    [LOG_CHECKPOINT_PRODUCERS] = LOG_SNAPSHOT_SUFFIX, /* Named by offset: see its path. */
    [LOG_CHECKPOINT_CLEAN_SHUTDOWN] = "clean-shutdown",
};

enum {
    LOG_RECOVERY_PHASE_TRUNCATED = 1,
    LOG_RECOVERY_PHASE_REMOVING,
    LOG_RECOVERY_PHASE_CREATED,
    LOG_RECOVERY_PHASE_FLUSHED,
    LOG_RECOVERY_PHASE_EMPTYING,
    LOG_RECOVERY_PHASE_UNMARKED,
    LOG_RECOVERY_PHASE_PRODUCERS,
};

static void log_recovery_next_checkpoint(struct partition_log *log);
static void log_recovery_next_stale(struct partition_log *log);
static void log_recovery_next_swap(struct partition_log *log);
static void log_recovery_remove_last(struct partition_log *log);
static void log_recovery_finish_segments(struct partition_log *log);
static void log_recovery_next_segment(struct partition_log *log);

void log_recovery_start(struct partition_log *log)
{
    ASSERT(log->segment_count == 0);
    ASSERT(log->state == LOG_STATE_CREATED || log->state == LOG_STATE_OPENING);
    log->op.recover_from = -1;
    log->op.start_from = 0;
    log->op.clean_end = -1;
    log->op.start_over = -1;
    log->op.snapshot_offset = -1;
    (void)log_issue_list(log, LOG_STEP_OPEN_LIST);
}

static bool log_recovery_name_has_suffix(const char *name, const char *suffix)
{
    size_t length = strlen(name), suffix_length = strlen(suffix);
    return length >= suffix_length && strcmp(name + length - suffix_length, suffix) == 0;
}

static void log_recovery_add_stale(struct partition_log *log, const char *name)
{
    if (log->stale_count == PARTITION_LOG_STALE_MAX) return; /* The next open takes the rest. */
    int written = snprintf(log->stale[log->stale_count], IO_PATH_MAX, "%s/%s", log->directory,
                           name);
    if (written > 0 && (u32)written < IO_PATH_MAX) log->stale_count++;
}

static bool log_recovery_names_contain(const u8 *names, u32 size, u32 count, const char *wanted)
{
    u32 position = 0;
    for (u32 i = 0; i < count && position < size; i++) {
        const char *name = (const char *)names + position;
        u32 length = (u32)strnlen(name, size - position);
        if (position + length >= size) return false;
        if (strcmp(name, wanted) == 0) return true;
        position += length + 1;
    }
    return false;
}

/* A compaction's `<base>.<kind>.swap` is finished (renamed over the final name) when the
 * compaction committed, which is when no `<base>.log.cleaned` is left; else it is removed. */
static void log_recovery_add_swap(struct partition_log *log, const char *name, const u8 *names,
                                  u32 size, u32 count)
{
    char uncommitted[IO_PATH_MAX];
    int written = snprintf(uncommitted, sizeof(uncommitted), "%.20s.log.cleaned", name);
    bool committed = written > 0 && strlen(name) > SEGMENT_NAME_DIGITS &&
                     !log_recovery_names_contain(names, size, count, uncommitted);
    if (!committed) {
        log_recovery_add_stale(log, name);
        return;
    }
    if (log->swap_count == PARTITION_LOG_STALE_MAX) return; /* One commit leaves at most 3. */
    written = snprintf(log->swaps[log->swap_count], IO_PATH_MAX, "%s/%s", log->directory, name);
    if (written > 0 && (u32)written < IO_PATH_MAX) log->swap_count++;
}

/* A truncate_fully's marker: that start over is to be finished. One truncate_fully runs at a
 * time and removes its marker before it ends, so there is one; should there be more, the
 * highest offset wins (deterministically) and the others are leftovers. */
static void log_recovery_add_start_over(struct partition_log *log, const char *name,
                                        i64 offset)
{
    if (log->op.start_over < 0) {
        log->op.start_over = offset;
        return;
    }
    COVER(true);
    if (offset < log->op.start_over) {
        log_recovery_add_stale(log, name);
        return;
    }
    char path[IO_PATH_MAX];
    log_start_over_path(log, log->op.start_over, path);
    log_recovery_add_stale(log, path + strlen(log->directory) + 1);
    log->op.start_over = offset;
}

/* Producer snapshots: only the newest can be of use (if the clean shutdown names it). */
static void log_recovery_add_snapshot(struct partition_log *log, const char *name, i64 offset)
{
    if (offset < log->op.snapshot_offset) {
        log_recovery_add_stale(log, name);
        return;
    }
    if (log->op.snapshot_offset >= 0) {
        char path[IO_PATH_MAX];
        log_snapshot_path(log, log->op.snapshot_offset, false, path);
        log_recovery_add_stale(log, path + strlen(log->directory) + 1);
    }
    log->op.snapshot_offset = offset;
}

/* Inserts a segment for base_offset in order; false when segments_max is reached. */
static bool log_recovery_add_segment(struct partition_log *log, i64 base_offset)
{
    u32 at = log->segment_count;
    while (at > 0 && log->segments[at - 1].base_offset > base_offset) at--;
    if (at > 0 && log->segments[at - 1].base_offset == base_offset) return true;
    if (log->segment_count == log->config.segments_max) return false;
    memmove(&log->segments[at + 1], &log->segments[at],
            sizeof(struct segment) * (log->segment_count - at));
    if (!log_segment_init(log, &log->segments[at], base_offset)) {
        memmove(&log->segments[at], &log->segments[at + 1],
                sizeof(struct segment) * (log->segment_count - at));
        return false;
    }
    log->segment_count++;
    return true;
}

static bool log_recovery_has_segment(const struct partition_log *log, i64 base_offset)
{
    u32 index = log_segment_find(log, base_offset);
    return log->segment_count > 0 && log->segments[index].base_offset == base_offset;
}

/* Two passes over the names: segments first, then files that belong to no segment. */
static bool log_recovery_parse_names(struct partition_log *log, const u8 *names, u32 size,
                                     u32 count)
{
    for (u32 pass = 0; pass < 2; pass++) {
        u32 position = 0;
        for (u32 i = 0; i < count && position < size; i++) {
            const char *name = (const char *)names + position;
            u32 length = (u32)strnlen(name, size - position);
            if (position + length >= size) break; /* Unterminated: ignore the rest. */
            position += length + 1;
            i64 base_offset = 0;
            enum segment_file_kind kind;
            bool segment_file = segment_name_parse(name, &base_offset, &kind);
            if (pass == 0) {
                if (!segment_file || kind != SEGMENT_FILE_LOG) continue;
                if (!log_recovery_add_segment(log, base_offset)) return false;
            } else if (segment_file && !log_recovery_has_segment(log, base_offset)) {
                log_recovery_add_stale(log, name);
            } else if (segment_name_offset(name, LOG_START_OVER_SUFFIX, &base_offset)) {
                log_recovery_add_start_over(log, name, base_offset);
            } else if (segment_name_offset(name, LOG_SNAPSHOT_SUFFIX, &base_offset)) {
                log_recovery_add_snapshot(log, name, base_offset);
            } else if (log_recovery_name_has_suffix(name, ".swap")) {
                log_recovery_add_swap(log, name, names, size, count);
            } else if (log_recovery_name_has_suffix(name, ".tmp") ||
                       log_recovery_name_has_suffix(name, ".deleted") ||
                       log_recovery_name_has_suffix(name, ".cleaned")) {
                log_recovery_add_stale(log, name);
            }
        }
    }
    return true;
}

static void log_recovery_on_list(struct partition_log *log, const struct io_completion *c)
{
    if (c->result != IO_OK && c->result != IO_ERR_NOT_FOUND) {
        log_op_fail_io(log, "list", c->result);
        return;
    }
    if (c->result == IO_OK && !log_recovery_parse_names(log, c->buffer, c->size, c->count)) {
        io_log(log->io, IO_LOG_ERROR, "log %s: more than %u segments", log->directory,
               log->config.segments_max);
        log->state = LOG_STATE_FAILED;
        log_op_finish(log, LOG_ERR_LIMIT);
        return;
    }
    log->op.file_kind = 0;
    log_recovery_next_checkpoint(log);
}

static void log_recovery_next_swap(struct partition_log *log)
{
    if (log->op.count == log->swap_count) {
        log->swap_count = 0;
        log->op.count = 0;
        log_recovery_next_stale(log);
        return;
    }
    const char *source = log->swaps[log->op.count];
    char target[IO_PATH_MAX];
    size_t length = strlen(source);
    ASSERT(length > 5 && length < IO_PATH_MAX);
    memcpy(target, source, length - 5); /* Without ".swap". */
    target[length - 5] = '\0';
    io_log(log->io, IO_LOG_INFO, "log %s: finishing the swap of %s", log->directory, target);
    (void)log_issue_rename(log, LOG_STEP_OPEN_SWAP_RENAME, source, target);
}

static void log_recovery_next_checkpoint(struct partition_log *log)
{
    if (log->op.file_kind == LOG_CHECKPOINT_PRODUCERS) log->op.file_kind++; /* Found by name. */
    if (log->op.file_kind == LOG_CHECKPOINT_KIND_COUNT) {
        log->op.count = 0;
        log_recovery_next_swap(log);
        return;
    }
    char path[IO_PATH_MAX];
    int written = snprintf(path, sizeof(path), "%s/%s", log->directory,
                           log_checkpoint_names[log->op.file_kind]);
    ASSERT(written > 0 && (u32)written < sizeof(path)); /* init keeps the directory short. */
    (void)log_issue_open(log, LOG_STEP_OPEN_CHECKPOINT_OPEN, path, 0);
}

static void log_recovery_parse_checkpoint(struct partition_log *log, const char *text, u32 size)
{
    bool parsed = false;
    switch (log->op.file_kind) {
    case LOG_CHECKPOINT_RECOVERY_POINT:
        parsed = checkpoint_offset_parse(text, size, log->topic, log->partition,
                                         &log->op.recover_from);
        if (parsed) log->recovery_point_checkpointed = log->op.recover_from;
        break;
    case LOG_CHECKPOINT_LOG_START:
        parsed = checkpoint_offset_parse(text, size, log->topic, log->partition,
                                         &log->op.start_from);
        if (parsed) log->log_start_checkpointed = log->op.start_from;
        break;
    case LOG_CHECKPOINT_EPOCHS:
        parsed = checkpoint_epochs_parse(text, size, log->epochs, PARTITION_LOG_EPOCHS_MAX,
                                         &log->epoch_count);
        if (!parsed) log->epoch_count = 0;
        break;
    case LOG_CHECKPOINT_CLEAN_SHUTDOWN:
        parsed = checkpoint_offset_parse(text, size, log->topic, log->partition,
                                         &log->op.clean_end);
        if (!parsed) log->op.clean_end = -1;
        break;
    case LOG_CHECKPOINT_PRODUCERS:
    default: ASSERT(false);
    }
    if (!parsed) {
        /* Safe to ignore: recovery scans everything and the epochs are rebuilt by appends. */
        io_log(log->io, IO_LOG_WARN, "log %s: ignoring malformed %s", log->directory,
               log_checkpoint_names[log->op.file_kind]);
        if (log->op.file_kind == LOG_CHECKPOINT_RECOVERY_POINT) log->op.recover_from = -1;
        if (log->op.file_kind == LOG_CHECKPOINT_LOG_START) log->op.start_from = 0;
    }
}

static void log_recovery_on_checkpoint(struct partition_log *log, enum log_step step,
                                       const struct io_completion *c)
{
    if (step == LOG_STEP_OPEN_CHECKPOINT_OPEN) {
        if (c->result == IO_ERR_NOT_FOUND) {
            log->op.file_kind++;
            log_recovery_next_checkpoint(log);
            return;
        }
        if (c->result != IO_OK) {
            log_op_fail_io(log, "open checkpoint", c->result);
            return;
        }
        log->op.checkpoint_file = c->file;
        u32 size = (u32)MIN(c->file_size, (u64)log->buffer_capacity - 1);
        (void)log_issue_read(log, LOG_STEP_OPEN_CHECKPOINT_READ, c->file, 0, log->buffer, size);
        return;
    }
    io_file_close(log->io, log->op.checkpoint_file);
    if (c->result != IO_OK) {
        log_op_fail_io(log, "read checkpoint", c->result);
        return;
    }
    log_recovery_parse_checkpoint(log, (const char *)log->buffer, c->size);
    log->op.file_kind++;
    log_recovery_next_checkpoint(log);
}

/* A clean shutdown's record is trusted only if it agrees with the recovery point and the last
 * segment; it is removed before anything can change, so a later crash scans again. */
static bool log_recovery_clean(const struct partition_log *log)
{
    if (log->op.clean_end < 0 || log->segment_count == 0) return false;
    if (log->op.clean_end != log->op.recover_from) return false;
    return log->op.clean_end >= log->segments[log->segment_count - 1].base_offset;
}

static void log_recovery_next_stale(struct partition_log *log)
{
    if (log->op.count == log->stale_count && log->op.clean_end >= 0 && !log->op.clean_removed) {
        char path[IO_PATH_MAX];
        int written = snprintf(path, sizeof(path), "%s/%s", log->directory,
                               log_checkpoint_names[LOG_CHECKPOINT_CLEAN_SHUTDOWN]);
        ASSERT(written > 0 && (u32)written < sizeof(path));
        (void)log_issue_remove(log, LOG_STEP_OPEN_CLEAN_REMOVE, path);
        return;
    }
    if (log->op.count == log->stale_count && log->op.start_over >= 0) {
        /* A truncate_fully committed and did not finish: finish it, whatever the segments and
         * checkpoints say (they may be the old log's, the new one's, or a mix). */
        log->stale_count = 0;
        io_log(log->io, IO_LOG_WARN, "log %s: finishing a start over at %lld: removing %u "
               "segments", log->directory, (long long)log->op.start_over, log->segment_count);
        log->op.start_from = log->op.start_over;
        log->epoch_count = 0;
        log->op.phase = LOG_RECOVERY_PHASE_EMPTYING;
        if (log->segment_count > 0) {
            log_recovery_remove_last(log);
        } else {
            log_recovery_finish_segments(log);
        }
        return;
    }
    if (log->op.count == log->stale_count) {
        log->stale_count = 0;
        i64 from = log->op.recover_from;
        /* The segment holding the last flushed offset and all later ones are scanned: when
         * the recovery point was written that segment may still have been the active one, so
         * its index files were not written even if it was rolled since. */
        log->op.recover_segment = from <= 0 ? 0 : log_segment_find(log, from - 1);
        if (log_recovery_clean(log)) log->op.recover_segment = log->segment_count;
        if (log->op.clean_end >= 0 && !log_recovery_clean(log)) log->op.clean_end = -1;
        log->op.segment = 0;
        log->op.file_kind = 0;
        log_recovery_next_segment(log);
        return;
    }
    io_log(log->io, IO_LOG_INFO, "log %s: removing leftover %s", log->directory,
           log->stale[log->op.count]);
    (void)log_issue_remove(log, LOG_STEP_OPEN_STALE_REMOVE, log->stale[log->op.count]);
}

/* ===== Segments ===== */

static void log_recovery_load_index(struct partition_log *log);

static void log_recovery_next_segment(struct partition_log *log)
{
    if (log->op.segment == log->segment_count) {
        log_recovery_finish_segments(log);
        return;
    }
    struct segment *segment = &log->segments[log->op.segment];
    ASSERT(log->op.file_kind < SEGMENT_FILE_KIND_COUNT);
    char path[IO_PATH_MAX];
    segment_path(path, sizeof(path), log->directory, segment->base_offset, log->op.file_kind);
    /* Below the recovery point an index file must exist (else it is rebuilt); it is created
     * when missing, once that was noticed. */
    u32 flags = 0;
    if (log->op.file_kind != SEGMENT_FILE_LOG &&
        (log->op.segment >= log->op.recover_segment || log->op.index_missing)) {
        flags = IO_OPEN_CREATE;
    }
    (void)log_issue_open(log, LOG_STEP_OPEN_SEGMENT_FILE, path, flags);
}

/* Scans the whole .log of op.segment, rebuilding its indexes. */
static void log_recovery_scan(struct partition_log *log)
{
    struct segment *segment = &log->segments[log->op.segment];
    /* A segment written under other settings (a larger segment.bytes, a smaller interval) may
     * need more index entries than new segments get: size the index for the file. */
    u64 needed = log->op.file_sizes[SEGMENT_FILE_LOG] / log->config.index_interval_bytes + 2;
    if (needed > segment->index.capacity && needed < UINT32_MAX / 2) {
        COVER(true);
        io_file files[SEGMENT_FILE_KIND_COUNT];
        memcpy(files, segment->files, sizeof(files));
        segment_free(segment);
        bool allocated = segment_init(segment, segment->base_offset, UINT32_MAX / 2, (u32)needed);
        memcpy(segment->files, files, sizeof(files));
        if (!allocated) {
            log->state = LOG_STATE_FAILED;
            log_op_finish(log, LOG_ERR_LIMIT);
            return;
        }
    }
    segment->index.count = 0;
    segment->time.count = 0;
    segment->size = 0;
    segment->next_offset = segment->base_offset;
    segment->max_timestamp = -1;
    segment->offset_of_max_timestamp = -1;
    segment->rolling_timestamp = -1;
    segment->closed = false;
    segment->indexes_durable = false;
    segment->log_synced = false;
    log_scan_start(log, log->op.segment, 0, log->op.file_sizes[SEGMENT_FILE_LOG], true);
}

static void log_recovery_on_segment_file(struct partition_log *log, const struct io_completion *c)
{
    struct segment *segment = &log->segments[log->op.segment];
    if (c->result == IO_ERR_NOT_FOUND && log->op.file_kind != SEGMENT_FILE_LOG &&
        !log->op.index_missing) {
        io_log(log->io, IO_LOG_WARN, "log %s: segment %lld lost an index file: rebuilding",
               log->directory, (long long)segment->base_offset);
        log->op.index_missing = true;
        log_recovery_next_segment(log); /* Again, creating it. */
        return;
    }
    if (c->result != IO_OK) {
        log_op_fail_io(log, "open segment file", c->result);
        return;
    }
    segment->files[log->op.file_kind] = c->file;
    log->op.file_sizes[log->op.file_kind] = c->file_size;
    log->op.file_kind++;
    if (log->op.file_kind < SEGMENT_FILE_KIND_COUNT) {
        log_recovery_next_segment(log);
        return;
    }
    if (log->op.segment >= log->op.recover_segment || log->op.index_missing) {
        log->op.index_missing = false;
        log_recovery_scan(log);
        return;
    }
    log->op.file_kind = SEGMENT_FILE_INDEX;
    log->op.position = 0;
    log_recovery_load_index(log);
}

/* Reads the next chunk of op.segment's index file op.file_kind (a multiple of both entry
 * sizes), or finishes the segment when both are loaded. */
/* Where a segment loaded from its index files ends: the next segment's base, or for the last
 * one (loaded only after a clean shutdown) the log end the shutdown recorded. */
static i64 log_recovery_loaded_end(const struct partition_log *log)
{
    if (log->op.segment + 1 < log->segment_count) {
        return log->segments[log->op.segment + 1].base_offset;
    }
    ASSERT(log->op.clean_end >= log->segments[log->op.segment].base_offset);
    return log->op.clean_end;
}

static u32 log_recovery_index_chunk(const struct partition_log *log, u64 file_size)
{
    /* 24 bytes hold a whole number of entries of either index. */
    u32 chunk = log->buffer_capacity / 24 * 24;
    ASSERT(log->op.position <= file_size);
    return (u32)MIN((u64)chunk, file_size - log->op.position);
}

static void log_recovery_load_index(struct partition_log *log)
{
    struct segment *segment = &log->segments[log->op.segment];
    u64 file_size = log->op.file_sizes[log->op.file_kind];
    if (log->op.position == file_size) {
        if (log->op.file_kind == SEGMENT_FILE_INDEX) {
            log->op.file_kind = SEGMENT_FILE_TIME_INDEX;
            log->op.position = 0;
            log_recovery_load_index(log);
            return;
        }
        /* A closed, synced segment: its end is where the next one begins (or, for the active
         * one after a clean shutdown, the recorded log end). */
        bool last_segment = log->op.segment + 1 == log->segment_count;
        segment->size = log->op.file_sizes[SEGMENT_FILE_LOG];
        segment->next_offset = log_recovery_loaded_end(log);
        if (segment->time.count > 0) {
            const struct time_index_entry *last = &segment->time.entries[segment->time.count - 1];
            segment->max_timestamp = last->timestamp;
            segment->offset_of_max_timestamp = segment->base_offset + last->relative_offset;
        }
        segment->closed = !last_segment;
        segment->indexes_durable = true;
        segment->log_synced = true;
        segment_invariants(segment);
        log->op.segment++;
        log->op.file_kind = 0;
        log_recovery_next_segment(log);
        return;
    }
    u32 size = log_recovery_index_chunk(log, file_size);
    (void)log_issue_read(log, LOG_STEP_OPEN_INDEX_READ, segment->files[log->op.file_kind],
                         log->op.position, log->buffer, size);
}

static void log_recovery_on_index_read(struct partition_log *log, const struct io_completion *c)
{
    struct segment *segment = &log->segments[log->op.segment];
    if (c->result != IO_OK) {
        log_op_fail_io(log, "read index", c->result);
        return;
    }
    u64 file_size = log->op.file_sizes[log->op.file_kind];
    u64 expected = log_recovery_index_chunk(log, file_size);
    i64 next_base = log_recovery_loaded_end(log);
    bool good = c->size > 0 && c->size == expected;
    if (good && log->op.file_kind == SEGMENT_FILE_INDEX) {
        good = offset_index_decode_append(&segment->index, log->buffer, c->size,
                                          segment->base_offset, next_base,
                                          log->op.file_sizes[SEGMENT_FILE_LOG]);
    } else if (good) {
        good = time_index_decode_append(&segment->time, log->buffer, c->size,
                                        segment->base_offset, next_base);
    }
    if (!good) {
        io_log(log->io, IO_LOG_WARN, "log %s: corrupt index of segment %lld: rebuilding",
               log->directory, (long long)segment->base_offset);
        COVER(true);
        log_recovery_scan(log);
        return;
    }
    log->op.position += c->size;
    log_recovery_load_index(log);
}

bool log_recovery_visit(struct partition_log *log, const struct record_batch_header *header,
                        u64 batch_size)
{
    struct segment *segment = &log->segments[log->op.segment];
    i64 last_offset = header->BaseOffset + header->LastOffsetDelta;
    /* The CRC does not cover BaseOffset, so a flipped bit there passes it. Without compaction
     * every writer keeps a segment gapless: the leader assigns log-end offsets, a follower's
     * append below the log end is refused and its leader's log has no gaps either, a roll or a
     * truncate_fully starts the segment at the next offset. So a jump is damage: cut there and
     * let replication refetch, rather than keep a batch whose offsets a later truncation would
     * turn into a hole (kafka-replication-swarm-flushed seed 174). Compaction leaves real gaps,
     * so there offsets must only grow. (A topic switched from compact to delete keeps its old
     * gaps, but only in cleaned segments, which are synced and below the recovery point, so
     * never scanned; a follower's unsynced tail copied from a compacted leader would be cut
     * and fetched again.) */
    bool gapless = (log->config.cleanup_policy & LOG_CLEANUP_COMPACT) == 0;
    bool in_order = gapless ? header->BaseOffset == segment->next_offset
                            : header->BaseOffset >= segment->next_offset;
    bool fits = in_order &&
                last_offset - segment->base_offset <= INT32_MAX && !segment_index_full(segment);
    if (log->op.segment + 1 < log->segment_count) {
        fits = fits && last_offset < log->segments[log->op.segment + 1].base_offset;
    }
    if (!fits) {
        /* Offsets out of order or beyond the next segment: as bad as a CRC failure. */
        log->op.scan.error = BATCH_INVALID;
        log_recovery_scan_done(log, LOG_SCAN_BAD);
        return false;
    }
    segment_add_batch(segment, header, batch_size, log->config.index_interval_bytes);
    /* As Kafka's recovery does: epochs the checkpoint missed come back from the batches. */
    log_epochs_assign(log, header->PartitionLeaderEpoch, header->BaseOffset);
    return true;
}

void log_recovery_scan_done(struct partition_log *log, enum log_scan_outcome outcome)
{
    struct segment *segment = &log->segments[log->op.segment];
    if (outcome == LOG_SCAN_END) {
        if (log->op.segment + 1 < log->segment_count) segment_close_for_appends(segment);
        log->op.segment++;
        log->op.file_kind = 0;
        log_recovery_next_segment(log);
        return;
    }
    u64 position = log->op.scan.position;
    ASSERT(position == segment->size);
    io_log(log->io, IO_LOG_WARN,
           "log %s: %s at position %llu of segment %lld: truncating, dropping %u later segments",
           log->directory, batch_error_name(log->op.scan.error), (unsigned long long)position,
           (long long)segment->base_offset, log->segment_count - log->op.segment - 1);
    COVER(log->op.scan.error == BATCH_CORRUPT);
    COVER(log->op.scan.error == BATCH_INCOMPLETE);
    log->op.phase = LOG_RECOVERY_PHASE_TRUNCATED;
    log_file_truncate_synced(log, segment->files[SEGMENT_FILE_LOG], position);
}

/* Forgets the last segment and removes its files; then log_recovery_continue. */
static void log_recovery_remove_last(struct partition_log *log)
{
    ASSERT(log->segment_count > 0);
    struct segment *last = &log->segments[log->segment_count - 1];
    i64 base_offset = last->base_offset;
    log_segment_release(log, last);
    log->segment_count--;
    log_segment_files_remove(log, base_offset);
}

/* Removes the segments after op.segment, the last one first, so a crash leaves a prefix. */
static void log_recovery_remove_later(struct partition_log *log)
{
    if (log->segment_count == log->op.segment + 1) {
        log->op.segment++;
        log_recovery_finish_segments(log);
        return;
    }
    log->op.phase = LOG_RECOVERY_PHASE_REMOVING;
    log_recovery_remove_last(log);
}

/* Every segment is loaded or recovered: settle the offsets, then flush and checkpoint. */
static void log_recovery_finish_segments(struct partition_log *log)
{
    if (log->segment_count == 0) {
        i64 base_offset = MAX(log->op.start_from, 0);
        if (!log_segment_init(log, &log->segments[0], base_offset)) {
            log->state = LOG_STATE_FAILED;
            log_op_finish(log, LOG_ERR_LIMIT);
            return;
        }
        log->segment_count = 1;
        log->op.segment = 0;
        log->op.phase = LOG_RECOVERY_PHASE_CREATED;
        log_segment_files_create(log);
        return;
    }
    i64 end_offset = log_end_offset(log);
    if (log->op.start_from > end_offset) {
        /* Records were deleted (DeleteRecords) up to past what survived the crash: start empty
         * at the log start rather than hand out deleted offsets again (Kafka's
         * truncateFullyAndStartAt). */
        COVER(true);
        io_log(log->io, IO_LOG_WARN, "log %s: log start %lld is past the end %lld: emptying",
               log->directory, (long long)log->op.start_from, (long long)end_offset);
        log->op.phase = LOG_RECOVERY_PHASE_EMPTYING;
        log_recovery_remove_last(log);
        return;
    }
    log->log_start_offset = MIN(MAX(log->op.start_from, log->segments[0].base_offset), end_offset);
    log_epochs_truncate_from_end(log, end_offset);
    log_epochs_truncate_from_start(log, log->log_start_offset);
    log->recovery_point = MIN(MAX(log->op.recover_from, 0), end_offset);
    log->recovery_point = MAX(log->recovery_point, log->segments[0].base_offset);
    log->recovery_point = MIN(log->recovery_point, end_offset);
    log->epochs_dirty = true;
    log->op.phase = LOG_RECOVERY_PHASE_FLUSHED;
    log_flush_start(log, end_offset, LOG_CHECKPOINTS_ALL);
}

static void log_recovery_opened(struct partition_log *log)
{
    ASSERT(log->recovery_point == log_end_offset(log));
    log->state = LOG_STATE_OPEN;
    log->last_flush_ns = io_now_ns(log->io);
    log->messages_since_flush = 0;
    io_log(log->io, IO_LOG_INFO, "log %s: open, %u segments, offsets [%lld, %lld)",
           log->directory, log->segment_count, (long long)log->log_start_offset,
           (long long)log_end_offset(log));
    log_op_finish(log, LOG_OK);
}

void log_recovery_continue(struct partition_log *log)
{
    switch (log->op.phase) {
    case LOG_RECOVERY_PHASE_TRUNCATED:
    case LOG_RECOVERY_PHASE_REMOVING: log_recovery_remove_later(log); return;
    case LOG_RECOVERY_PHASE_CREATED: log_recovery_finish_segments(log); return;
    case LOG_RECOVERY_PHASE_EMPTYING:
        if (log->segment_count > 0) {
            log_recovery_remove_last(log);
            return;
        }
        log_recovery_finish_segments(log); /* Creates the segment at the log start. */
        return;
    case LOG_RECOVERY_PHASE_FLUSHED:
        if (log->op.start_over >= 0) {
            /* The new log and its checkpoints are durable: the marker may go. */
            log->op.phase = LOG_RECOVERY_PHASE_UNMARKED;
            log_start_over_unmark(log, log->op.start_over);
            return;
        }
        log->op.phase = LOG_RECOVERY_PHASE_PRODUCERS;
        log_producers_load(log);
        return;
    case LOG_RECOVERY_PHASE_UNMARKED:
        log->op.phase = LOG_RECOVERY_PHASE_PRODUCERS;
        log_producers_load(log);
        return;
    case LOG_RECOVERY_PHASE_PRODUCERS: log_recovery_opened(log); return;
    default: ASSERT(false && "unknown recovery phase");
    }
}

void log_recovery_on_step(struct partition_log *log, enum log_step step,
                          const struct io_completion *completion)
{
    switch (step) {
    case LOG_STEP_OPEN_LIST: log_recovery_on_list(log, completion); return;
    case LOG_STEP_OPEN_CHECKPOINT_OPEN:
    case LOG_STEP_OPEN_CHECKPOINT_READ: log_recovery_on_checkpoint(log, step, completion); return;
    case LOG_STEP_OPEN_CLEAN_REMOVE:
        if (completion->result != IO_OK && completion->result != IO_ERR_NOT_FOUND) {
            log_op_fail_io(log, "remove clean shutdown record", completion->result);
            return;
        }
        log->op.clean_removed = true;
        log_recovery_next_stale(log);
        return;
    case LOG_STEP_OPEN_STALE_REMOVE:
        if (completion->result != IO_OK && completion->result != IO_ERR_NOT_FOUND) {
            log_op_fail_io(log, "remove leftover", completion->result);
            return;
        }
        log->op.count++;
        log_recovery_next_stale(log);
        return;
    case LOG_STEP_OPEN_SWAP_RENAME:
        if (completion->result != IO_OK && completion->result != IO_ERR_NOT_FOUND) {
            log_op_fail_io(log, "finish swap", completion->result);
            return;
        }
        log->op.count++;
        log_recovery_next_swap(log);
        return;
    case LOG_STEP_OPEN_SEGMENT_FILE: log_recovery_on_segment_file(log, completion); return;
    case LOG_STEP_OPEN_INDEX_READ: log_recovery_on_index_read(log, completion); return;
    case LOG_STEP_OPEN_SNAPSHOT_OPEN:
    case LOG_STEP_OPEN_SNAPSHOT_READ: log_producers_on_snapshot(log, step, completion); return;
    default: ASSERT(false && "not a recovery step");
    }
}
