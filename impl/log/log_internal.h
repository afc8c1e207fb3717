/* log_internal.h: what partition_log.c, log_recovery.c and log_maintenance.c share.
 *
 * The request machinery: every file operation a request issues goes through log_issue_*, which
 * stamps the user_data and records the step to resume at; a step that finishes a sub-machine
 * (scan, create or remove segment files, flush, checkpoints) calls log_op_continue(), which
 * resumes the op kind at its phase.
 *
 * May depend on: partition_log.h. */
#ifndef LOG_INTERNAL_H
#define LOG_INTERNAL_H

#include "partition_log.h"

enum log_step {
    LOG_STEP_NONE,
    LOG_STEP_NOP,
    LOG_STEP_SCAN_READ,
    LOG_STEP_OPEN_LIST,
    LOG_STEP_OPEN_CHECKPOINT_OPEN,
    LOG_STEP_OPEN_CHECKPOINT_READ,
    LOG_STEP_OPEN_STALE_REMOVE,
    LOG_STEP_OPEN_SEGMENT_FILE,
    LOG_STEP_OPEN_INDEX_READ,
    LOG_STEP_CREATE_FILE,
    LOG_STEP_REMOVE_FILE,
    LOG_STEP_TRUNCATE_FILE,
    LOG_STEP_TRUNCATE_SYNC,
    LOG_STEP_SYNC_CONTINUE,
    LOG_STEP_APPEND_WRITE,
    LOG_STEP_FLUSH_LOG_SYNC,
    LOG_STEP_FLUSH_INDEX_WRITE,
    LOG_STEP_FLUSH_INDEX_TRUNCATE,
    LOG_STEP_FLUSH_INDEX_SYNC,
    LOG_STEP_CHECKPOINT_OPEN,
    LOG_STEP_CHECKPOINT_WRITE,
    LOG_STEP_CHECKPOINT_SYNC,
    LOG_STEP_CHECKPOINT_RENAME,
    LOG_STEP_OPEN_SWAP_RENAME,
    LOG_STEP_OPEN_CLEAN_REMOVE,
    LOG_STEP_COMPACT_OPEN,
    LOG_STEP_COMPACT_WRITE,
    LOG_STEP_COMPACT_INDEX_WRITE,
    LOG_STEP_COMPACT_SYNC,
    LOG_STEP_COMPACT_RENAME,
    LOG_STEP_START_OVER_MARK,
    LOG_STEP_START_OVER_UNMARK,
    LOG_STEP_OPEN_SNAPSHOT_OPEN,
    LOG_STEP_OPEN_SNAPSHOT_READ,
};

enum log_checkpoint_kind {
    LOG_CHECKPOINT_RECOVERY_POINT,
    LOG_CHECKPOINT_LOG_START,
    LOG_CHECKPOINT_EPOCHS,
    /* A close's producer snapshot, `<20-digit log end>.snapshot` (producer_state.h): trusted
     * only when the clean shutdown record names the same end. */
    LOG_CHECKPOINT_PRODUCERS,
    LOG_CHECKPOINT_CLEAN_SHUTDOWN, /* Written last by a close: the log end, all indexed. */
    LOG_CHECKPOINT_KIND_COUNT,
};

extern const char *const log_checkpoint_names[LOG_CHECKPOINT_KIND_COUNT];

/* ----- partition_log.c: plumbing ----- */
bool log_issue_open(struct partition_log *log, enum log_step step, const char *path, u32 flags);
bool log_issue_read(struct partition_log *log, enum log_step step, io_file file, u64 offset,
                    u8 *buffer, u32 size);
bool log_issue_write(struct partition_log *log, enum log_step step, io_file file, u64 offset,
                     const u8 *bytes, u32 size);
bool log_issue_sync(struct partition_log *log, enum log_step step, io_file file);
bool log_issue_truncate(struct partition_log *log, enum log_step step, io_file file, u64 size);
bool log_issue_rename(struct partition_log *log, enum log_step step, const char *source,
                      const char *target);
bool log_issue_remove(struct partition_log *log, enum log_step step, const char *path);
bool log_issue_list(struct partition_log *log, enum log_step step);

/* Ends the current op with op.event (filled by the op) and starts the next request. */
void log_op_finish(struct partition_log *log, enum log_result result);
/* A file operation failed: the log goes offline, the op ends with LOG_ERR_IO. */
void log_op_fail_io(struct partition_log *log, const char *what, enum io_result result);
void log_op_continue(struct partition_log *log);
bool log_enqueue_internal(struct partition_log *log, const struct log_request *request);

void log_scan_start(struct partition_log *log, u32 segment, u64 position, u64 limit,
                    bool whole_batches);
/* Continues a paused scan at position (the buffered bytes are still good). */
void log_scan_resume(struct partition_log *log, u64 position);
void log_scan_on_read(struct partition_log *log, const struct io_completion *completion);

struct segment *log_active_segment(struct partition_log *log);
/* segment_init with the log's index sizes. */
WARN_UNUSED bool log_segment_init(const struct partition_log *log, struct segment *segment,
                                  i64 base_offset);
i64 log_end_offset(const struct partition_log *log);
/* The last segment with base offset <= offset (0 if none). */
u32 log_segment_find(const struct partition_log *log, i64 offset);
/* Records that epoch starts at start_offset if it is newer than the latest (Kafka's assign). */
void log_epochs_assign(struct partition_log *log, i32 epoch, i64 start_offset);
void log_epochs_truncate_from_end(struct partition_log *log, i64 end_offset);
void log_epochs_truncate_from_start(struct partition_log *log, i64 start_offset);

/* ----- log_read.c ----- */
void log_read_start(struct partition_log *log);
bool log_read_visit(struct partition_log *log, const struct record_batch_header *header,
                    u64 batch_size);
void log_read_scan_done(struct partition_log *log, enum log_scan_outcome outcome);
void log_list_start(struct partition_log *log);
bool log_list_visit(struct partition_log *log, const struct record_batch_header *header,
                    const u8 *bytes, u64 batch_size);
void log_list_scan_done(struct partition_log *log, enum log_scan_outcome outcome);

/* ----- log_recovery.c ----- */
void log_recovery_start(struct partition_log *log);
void log_recovery_on_step(struct partition_log *log, enum log_step step,
                          const struct io_completion *completion);
bool log_recovery_visit(struct partition_log *log, const struct record_batch_header *header,
                        u64 batch_size);
void log_recovery_scan_done(struct partition_log *log, enum log_scan_outcome outcome);
void log_recovery_continue(struct partition_log *log);

/* ----- log_maintenance.c ----- */
/* Opens (creating, truncating) the files of segment op.segment; then log_op_continue. */
void log_segment_files_create(struct partition_log *log);
/* Removes the three files of the segment with base_offset; then log_op_continue. */
void log_segment_files_remove(struct partition_log *log, i64 base_offset);
/* Truncates file to size and syncs it; then log_op_continue. */
void log_file_truncate_synced(struct partition_log *log, io_file file, u64 size);
/* Syncs segments below target, writes closed segments' indexes, moves the recovery point,
 * then writes the checkpoints whose bits are in checkpoint_mask; then log_op_continue. */
void log_flush_start(struct partition_log *log, i64 target, u32 checkpoint_mask);
void log_maintenance_on_step(struct partition_log *log, enum log_step step,
                             const struct io_completion *completion);
void log_truncate_start(struct partition_log *log);
bool log_truncate_visit(struct partition_log *log, const struct record_batch_header *header,
                        u64 batch_size);
void log_truncate_scan_done(struct partition_log *log, enum log_scan_outcome outcome);
void log_truncate_continue(struct partition_log *log);
/* truncate_fully's marker, `<20-digit offset>.start-over` (segment_name_offset reads it). */
#define LOG_START_OVER_SUFFIX ".start-over"
void log_start_over_path(const struct partition_log *log, i64 offset, char *path);
/* Creates (durably) or removes the marker for offset; then log_op_continue. */
void log_start_over_mark(struct partition_log *log, i64 offset);
void log_start_over_unmark(struct partition_log *log, i64 offset);
void log_truncate_fully_start(struct partition_log *log);
void log_truncate_fully_continue(struct partition_log *log);
void log_delete_prefix_start(struct partition_log *log);
void log_delete_prefix_continue(struct partition_log *log);
void log_flush_op_start(struct partition_log *log);
void log_close_start(struct partition_log *log);
void log_maintenance_continue(struct partition_log *log);
/* Closes a segment's files and frees its memory. */
void log_segment_release(struct partition_log *log, struct segment *segment);

/* ----- log_producers.c ----- */
/* Kafka's producer.id.expiration.check.interval.ms. */
#define LOG_PRODUCERS_EXPIRE_INTERVAL_NS (600ull * NS_PER_S)
#define LOG_SNAPSHOT_SUFFIX ".snapshot"
void log_snapshot_path(const struct partition_log *log, i64 offset, bool temporary, char *path);
/* Encodes the producer snapshot into the buffer; 0 when it does not fit. */
u32 log_snapshot_encode(struct partition_log *log);
/* Loads the producers: from op.snapshot_offset's snapshot when the open found a clean
 * shutdown at that offset, else by replaying every batch header; then log_op_continue. */
void log_producers_load(struct partition_log *log);
void log_producers_on_snapshot(struct partition_log *log, enum log_step step,
                               const struct io_completion *completion);
/* Forgets the producers and replays every batch header of the log; then log_op_continue. */
void log_producers_rebuild(struct partition_log *log);
bool log_producers_visit(struct partition_log *log, const struct record_batch_header *header);
void log_producers_scan_done(struct partition_log *log, enum log_scan_outcome outcome);
/* The producer check of a client append: LOG_OK to write it (op.event.duplicate set: it is
 * a retry, op.event holds the first write's offsets), or the refusal. */
enum log_result log_producers_check(struct partition_log *log,
                                    const struct record_batch_header *header);
/* Records a batch now in the log (header.BaseOffset set). */
void log_producers_appended(struct partition_log *log, const struct record_batch_header *header);
/* Forgets producers idle past producer.id.expiration.ms (at most once per interval). */
void log_producers_expire(struct partition_log *log);

/* ----- log_compaction.c ----- */
void log_compact_start(struct partition_log *log);
bool log_compact_visit(struct partition_log *log, const struct record_batch_header *header,
                       const u8 *bytes, u64 batch_size);
void log_compact_scan_done(struct partition_log *log, enum log_scan_outcome outcome);
void log_compact_continue(struct partition_log *log);
void log_compact_on_step(struct partition_log *log, enum log_step step,
                         const struct io_completion *completion);

#define LOG_CHECKPOINTS_ALL ((1u << LOG_CHECKPOINT_KIND_COUNT) - 1)

#endif
