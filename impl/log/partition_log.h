/* partition_log.h: Kafka's segmented partition log, a state machine over the I/O interface.
 *
 * A partition log is the directory `<topic>-<partition>/` of segments (see segment.h) plus three
 * checkpoint files in Kafka's text formats (see checkpoint.h): `recovery-point-offset-checkpoint`
 * (below this offset everything is synced and indexed), `log-start-offset-checkpoint`
 * (DeleteRecords) and `leader-epoch-checkpoint` (epoch -> first offset).
 *
 * Use:
 *   partition_log_init()   allocate (no I/O);
 *   partition_log_open()   list, read checkpoints, recover (scan and CRC-check everything after
 *                          the recovery point, truncate a torn or corrupt tail, rebuild bad
 *                          indexes), then LOG_EVENT_OPENED;
 *   append / read / list_offset / flush / truncate_to / truncate_fully / delete_records /
 *   enforce_retention / compact / close: each returns LOG_OK when accepted, and later exactly
 *   one event with the request's user_data; anything else means rejected at once, no event.
 *   partition_log_drop() after a crash (memory only), partition_log_deinit() after a close.
 *   partition_log_on_file(): the owner passes every file completion whose user_data
 *   partition_log_owns() recognises (user_data = io_tag << 32 | sequence).
 *
 * Requests run one at a time in arrival order, each as a chain of file operations with at most
 * one in flight: simple to reason about, and an append is a single write in the common case.
 * Events are delivered only from partition_log_on_file(), never inside a request call (a request
 * that needs no I/O is completed after a cheap directory listing, so the owner never sees
 * re-entrancy). An event handler may submit new requests; it must not deinit the log.
 *
 * Durability follows Kafka: by default an append is not synced (replication is the durability);
 * flush.messages and flush.ms force syncs; a roll syncs the old segment before creating the new
 * one (so a crash never leaves a hole between segments), then flushes its indexes and moves the
 * recovery point. An I/O error takes the log offline (LOG_ERR_OFFLINE from then on) as Kafka
 * takes a log directory offline: the owner restarts it, and recovery repairs the files.
 *
 * Memory: everything is allocated by partition_log_init, except each segment's in-memory index
 * arrays (allocated when the segment is created or loaded, bounded by segment.index.bytes and
 * by what segment.bytes can use) and the compression libraries' short-lived contexts.
 *
 * May depend on: base.h, io.h, segment.h, checkpoint.h, compression.h, record_batch.h,
 * producer_state.h. */
#ifndef PARTITION_LOG_H
#define PARTITION_LOG_H

#include "../io.h"
#include "checkpoint.h"
#include "compression.h"
#include "producer_state.h"
#include "record_batch.h"
#include "segment.h"

#define PARTITION_LOG_EPOCHS_MAX 64u
#define PARTITION_LOG_STALE_MAX 16u
#define PARTITION_LOG_BUFFER_MIN (64u * 1024u)

/* ListOffsets special timestamps (Kafka's). */
#define LOG_TIMESTAMP_LATEST (-1)
#define LOG_TIMESTAMP_EARLIEST (-2)
#define LOG_TIMESTAMP_MAX (-3)

/* Topic-level settings, Kafka's names and defaults (log_config_defaults). */
struct log_config {
    u64 segment_bytes;         /* segment.bytes = 1 GiB (at most 2 GiB - 1, as in Kafka) */
    i64 segment_ms;            /* segment.ms = 7 days */
    u32 segment_index_bytes;   /* segment.index.bytes = 10 MiB */
    u32 index_interval_bytes;  /* index.interval.bytes = 4096 */
    u64 flush_messages;        /* flush.messages = never (INT64_MAX) */
    u64 flush_ms;              /* flush.ms = never (INT64_MAX) */
    i64 retention_ms;          /* retention.ms = 7 days; -1: unlimited */
    i64 retention_bytes;       /* retention.bytes = -1 (unlimited) */
    u32 max_message_bytes;     /* max.message.bytes = 1048588 */
    u32 segments_max;          /* Our bound on segments per partition (default 4096). */
    u32 requests_max;          /* Our bound on queued requests (default 256). */
    u32 cleanup_policy;        /* cleanup.policy: LOG_CLEANUP_* bits (default delete). */
    i64 delete_retention_ms;   /* delete.retention.ms = 1 day: tombstones kept this long. */
    u32 cleaner_map_slots;     /* Our bound on keys one compaction pass can track (default
                                * 65536 slots, 16 bytes each, allocated at init if compact). */
    i64 producer_id_expiration_ms; /* producer.id.expiration.ms = 1 day (a broker setting). */
    u32 producers_max;         /* Our bound on idempotent producers per partition (8192). */
};

#define LOG_CLEANUP_DELETE 1u
#define LOG_CLEANUP_COMPACT 2u

void log_config_defaults(struct log_config *config);

enum log_result {
    LOG_OK = 0,
    LOG_ERR_BUSY,            /* The request queue is full: back off. */
    LOG_ERR_INVALID_BATCH,   /* Framing, magic, CRC or records are wrong (CORRUPT_MESSAGE). */
    LOG_ERR_TOO_LARGE,       /* Larger than max.message.bytes (MESSAGE_TOO_LARGE). */
    LOG_ERR_OUT_OF_ORDER,    /* A follower batch below the log end (OFFSET_OUT_OF_ORDER?). */
    LOG_ERR_OUT_OF_RANGE,    /* Offset outside [log start, log end] (OFFSET_OUT_OF_RANGE). */
    LOG_ERR_CORRUPT,         /* Bytes on disk are damaged where they must not be. */
    LOG_ERR_LIMIT,           /* segments_max reached, or a directory listing too large. */
    LOG_ERR_IO,              /* A file operation failed: the log is now offline. */
    LOG_ERR_OFFLINE,         /* The log failed earlier, or is closed or not open. */
    /* Idempotent producers (producer_state.h), in the APPENDED event of a client append: */
    LOG_ERR_PRODUCER_FENCED, /* An older producer epoch (INVALID_PRODUCER_EPOCH). */
    LOG_ERR_OUT_OF_SEQUENCE, /* A sequence gap (OUT_OF_ORDER_SEQUENCE_NUMBER). */
    LOG_ERR_PRODUCERS_FULL,  /* producers_max producers known already (a retriable refusal). */
};

const char *log_result_name(enum log_result result);

enum log_event_kind {
    LOG_EVENT_OPENED,
    LOG_EVENT_APPENDED,
    LOG_EVENT_READ,
    LOG_EVENT_OFFSET_FOUND,
    LOG_EVENT_FLUSHED,
    LOG_EVENT_TRUNCATED,
    LOG_EVENT_START_ADVANCED,
    LOG_EVENT_CLOSED,
    LOG_EVENT_COMPACTED,
};

/* Whole batches as a file range: send with io_send_file(file, position, size) or read it.
 * Valid until the next request that truncates or deletes segments completes. */
struct log_range {
    io_file file;     /* 0 when empty. */
    u64 position;
    u32 size;
    i64 first_offset; /* BaseOffset of the first batch. */
    i64 next_offset;  /* One past the last offset of the last batch. */
};

struct log_event {
    enum log_event_kind kind;
    enum log_result result;
    u64 user_data;
    i64 offset;      /* APPENDED: base offset; OFFSET_FOUND: the offset or -1; TRUNCATED: LEO. */
    i64 last_offset; /* APPENDED: last offset of the batch. */
    bool duplicate;  /* APPENDED, LOG_OK: an idempotent retry of a batch already in the log;
                      * offset and last_offset are where it was written the first time. */
    i64 timestamp;   /* OFFSET_FOUND: timestamp of the record found, -1 if unknown. */
    i64 log_start_offset;
    i64 log_end_offset;
    i64 recovery_point;
    u32 segments_deleted; /* START_ADVANCED. COMPACTED: segments rewritten. */
    u64 records_removed;  /* COMPACTED. */
    struct log_range range; /* READ. */
};

typedef void (*log_event_handler)(void *owner, const struct log_event *event);

enum log_state {
    LOG_STATE_CREATED,
    LOG_STATE_OPENING,
    LOG_STATE_OPEN,
    LOG_STATE_CLOSED,
    LOG_STATE_FAILED,
};

enum log_op_kind {
    LOG_OP_NONE,
    LOG_OP_OPEN,
    LOG_OP_APPEND,
    LOG_OP_READ,
    LOG_OP_LIST_OFFSET,
    LOG_OP_FLUSH,
    LOG_OP_TRUNCATE,
    LOG_OP_DELETE_PREFIX, /* DeleteRecords and retention. */
    LOG_OP_EPOCH_CHECKPOINT,
    LOG_OP_CLOSE,
    LOG_OP_COMPACT,
    LOG_OP_TRUNCATE_FULLY, /* A follower starting over at another offset. */
};

struct log_request {
    enum log_op_kind kind;
    u64 user_data;
    bool internal; /* Issued by the log itself: no event to the owner. */
    u8 *batch;     /* APPEND: the caller's buffer, kept valid until the event. */
    u32 batch_size;
    i32 leader_epoch;    /* APPEND: >= 0 stamps the batch (leader); -1 keeps it (follower). */
    bool assign_offsets; /* APPEND: leader appends get offsets from the log. */
    i64 offset;          /* READ, FLUSH, TRUNCATE, DELETE_PREFIX targets. */
    i64 offset_limit;    /* READ: only batches wholly below (high watermark). */
    u32 max_bytes;       /* READ. */
    i64 timestamp;       /* LIST_OFFSET. */
    bool retention;      /* DELETE_PREFIX: compute the target from retention settings. */
};

enum log_scan_outcome { LOG_SCAN_END, LOG_SCAN_BAD };

struct compaction_slot {
    u64 key_hash; /* 0: empty. */
    i64 offset;
};

/* Walks the batches of one segment file through the shared buffer. */
struct log_scan {
    u32 segment;
    u64 position;        /* The next batch boundary. */
    u64 limit;           /* Bytes of the file that may hold batches. */
    u64 buffer_position; /* File position of buffer[0]. */
    u32 buffer_size;     /* Valid bytes in the buffer. */
    bool whole_batches;  /* Validate whole batches (recovery, timestamps), not just headers. */
    enum batch_error error; /* LOG_SCAN_BAD: why. */
};

/* The request being worked on. Fields are shared by the op kinds as their comments say. */
struct log_op {
    struct log_request request;
    bool active;
    u32 step;
    u32 segment;        /* Cursor over segments. */
    u32 file_kind;      /* Cursor over a segment's files or the checkpoints. */
    u64 position;       /* Cursor inside a file. */
    u32 count;          /* Cursor over entries or names. */
    u64 file_sizes[SEGMENT_FILE_KIND_COUNT]; /* OPEN: sizes reported by open. */
    struct log_scan scan;
    struct log_event event;  /* Being filled for the owner. */
    u32 phase;               /* Where the op resumes when a sub-machine finishes. */
    u32 phase_after_flush;   /* Phase to resume after a flush sub-machine. */
    bool write_checkpoints;
    i64 flush_target;
    u32 checkpoint_mask;     /* Checkpoints still to write. */
    i64 recover_from;        /* OPEN: recovery point read from the checkpoint. */
    u32 recover_segment;     /* OPEN: segments from this one on are scanned. */
    bool index_missing;      /* OPEN: an index file of this segment did not exist. */
    i64 clean_end;           /* OPEN: the log end a clean shutdown recorded, or -1. */
    bool clean_removed;      /* OPEN: that record is gone (before anything can change). */
    i64 start_from;          /* OPEN: log start offset read from the checkpoint. */
    i64 start_over;          /* OPEN: a truncate_fully to finish (its marker's offset), or -1. */
    bool deferred;           /* A no-I/O completion waits for the nop listing. */
    i64 checkpoint_value;    /* The offset a checkpoint being written records. */
    io_file checkpoint_file; /* The temporary checkpoint file, or a checkpoint being read. */
    i64 remove_base;         /* The segment whose files are being removed. */
    u32 remove_kind;
    u32 compact_limit;       /* COMPACT: segments below this one are cleaned. */
    u32 compact_record;      /* COMPACT: next record of the current batch to consider. */
    struct segment cleaned;  /* COMPACT: the segment being written. */
    const u8 *compact_out;   /* COMPACT: the batch being written to it. */
    u32 compact_out_size;
    bool producers_scan;     /* The scan replays headers into the producer state. */
    bool producers_limited;  /* That replay met more producers than producers_max. */
    u32 producers_segment;   /* Its cursor over segments. */
    i64 snapshot_offset;     /* OPEN: the newest producer snapshot found, or -1. */
};

struct partition_log {
    struct io *io;
    struct log_config config;
    char topic[CHECKPOINT_TOPIC_MAX];
    i32 partition;
    char directory[IO_PATH_MAX];
    u32 io_tag;
    log_event_handler on_event;
    void *owner;
    enum log_state state;

    struct segment *segments; /* Sorted by base offset; the last is the active one. */
    u32 segment_count;
    i64 log_start_offset;
    i64 recovery_point;             /* Everything below is synced (and indexed if closed). */
    i64 recovery_point_checkpointed;
    i64 log_start_checkpointed;
    u64 messages_since_flush;
    u64 last_flush_ns;

    struct producer_state producers; /* Idempotent producers, as of the last applied append. */
    u64 producers_expired_ns;        /* When expiry last ran (io_now_ns), 0: never. */

    struct epoch_entry epochs[PARTITION_LOG_EPOCHS_MAX];
    u32 epoch_count;
    bool epochs_dirty;
    bool clean_shutdown; /* Closing: index the active segment too, then say so on disk. */

    char stale[PARTITION_LOG_STALE_MAX][IO_PATH_MAX]; /* OPEN: leftovers to remove. */
    u32 stale_count;
    char swaps[PARTITION_LOG_STALE_MAX][IO_PATH_MAX]; /* OPEN: committed compactions to finish. */
    u32 swap_count;

    u8 *buffer; /* Scans, listings, index files, checkpoint text: one user at a time. */
    u8 *scratch; /* Decompression room, see partition_log_params (not owned). */
    u32 scratch_size;
    struct compaction_slot *cleaner_map; /* Key hash -> latest offset (compact policy only). */
    u8 *cleaner_output;                  /* A rewritten batch, uncompressed then compressed. */
    u32 cleaner_output_size;
    u32 buffer_capacity;

    struct log_request *requests; /* Ring of requests_max + internal slack. */
    u32 request_capacity;
    u32 request_head;
    u32 request_count;
    struct log_op op;
    u32 io_sequence;
    bool io_in_flight;
    bool in_call; /* Inside a request call: completions must be deferred. */
};

struct partition_log_params {
    const char *topic;
    i32 partition;
    const char *root;  /* Directory holding partition directories; "" for the data root. */
    struct log_config config;
    u32 io_tag;        /* Unique among this process's users of file user_data. */
    log_event_handler on_event;
    void *owner;
    /* Optional, may be shared by every log of a process (used only within one call): room to
     * decompress a batch's records, to validate compressed appends and to find a record by
     * timestamp inside a compressed batch. NULL: compressed batches are checked by CRC only. */
    u8 *scratch;
    u32 scratch_size;
};

/* Allocates everything; false when memory cannot be had. No I/O. */
WARN_UNUSED bool partition_log_init(struct partition_log *log, struct io *io,
                                    const struct partition_log_params *params);
/* Closes open files (immediate) and frees memory. */
void partition_log_deinit(struct partition_log *log);
/* The process crashed: frees memory without touching io (its handles are already gone). */
void partition_log_drop(struct partition_log *log);

bool partition_log_owns(const struct partition_log *log, u64 user_data);
void partition_log_on_file(struct partition_log *log, const struct io_completion *completion);

WARN_UNUSED enum log_result partition_log_open(struct partition_log *log, u64 user_data);
/* Appends one batch (validated here: LOG_ERR_INVALID_BATCH / LOG_ERR_TOO_LARGE at once; a
 * compressed batch's records too, when the log has scratch room).
 * A client append (assign_offsets) of a batch with ProducerId >= 0 is checked against the
 * producer state when the request runs, in order after the appends queued before it: a
 * duplicate completes without writing (event: LOG_OK, duplicate, the first write's offsets);
 * a fenced or out-of-sequence batch completes with LOG_ERR_PRODUCER_FENCED /
 * LOG_ERR_OUT_OF_SEQUENCE / LOG_ERR_PRODUCERS_FULL in the event (the log stays online).
 * A replicated append (!assign_offsets) updates the producer state without checks.
 * The producer state is snapshotted (`<20-digit offset>.snapshot`, producer_state.h) when a
 * segment rolls and at close, and rebuilt at open, truncation and truncate_fully from the
 * newest snapshot at or below the log end plus the batches after it; snapshots go with the
 * segments retention or DeleteRecords remove, but the producers stay known until
 * producer.id.expiration.ms (KAFKA-7190), checked by partition_log_tick with the io clock. */
WARN_UNUSED enum log_result partition_log_append(struct partition_log *log, u8 *batch,
                                                 u32 size, i32 leader_epoch,
                                                 bool assign_offsets, u64 user_data);
/* Whole batches from the one holding offset, about max_bytes (at least one batch), only
 * batches whose last offset is below offset_limit (INT64_MAX: up to the log end). */
WARN_UNUSED enum log_result partition_log_read(struct partition_log *log, i64 offset,
                                               u32 max_bytes, i64 offset_limit, u64 user_data);
/* ListOffsets: LOG_TIMESTAMP_EARLIEST / LATEST / MAX, or the first offset whose timestamp is
 * >= timestamp (-1 when none). */
WARN_UNUSED enum log_result partition_log_list_offset(struct partition_log *log, i64 timestamp,
                                                      u64 user_data);
/* Syncs everything below offset (clamped to the log end), moves and checkpoints the recovery
 * point. */
WARN_UNUSED enum log_result partition_log_flush(struct partition_log *log, i64 offset,
                                                u64 user_data);
/* Drops every batch from the one holding offset on (follower divergence). */
WARN_UNUSED enum log_result partition_log_truncate_to(struct partition_log *log, i64 offset,
                                                      u64 user_data);
/* Kafka's truncateFullyAndStartAt: every segment goes and the log starts over empty at
 * new_start (which may lie below the log start or past the log end), with an empty leader epoch
 * cache; LOG_EVENT_TRUNCATED with offset = new_start. A follower uses it when its leader's log
 * and its own no longer overlap. Crash-safe as one step: an empty `<new_start>.start-over`
 * file is created first, and while it exists every open finishes the job instead of
 * recovering the old segments; it is removed once the new log and its checkpoints are durable.
 * LOG_ERR_OUT_OF_RANGE at once for a negative new_start. */
WARN_UNUSED enum log_result partition_log_truncate_fully(struct partition_log *log, i64 new_start,
                                                         u64 user_data);
/* DeleteRecords: the log start offset becomes offset; whole segments below it go. */
WARN_UNUSED enum log_result partition_log_delete_records(struct partition_log *log, i64 offset,
                                                         u64 user_data);
/* Deletes the oldest segments past retention.ms / retention.bytes (never the active one). */
WARN_UNUSED enum log_result partition_log_enforce_retention(struct partition_log *log,
                                                            u64 user_data);
/* cleanup.policy=compact: keeps the latest record per key in every closed segment (never the
 * active one), drops tombstones older than delete.retention.ms, keeps offsets. Segments are
 * rewritten one at a time through `.cleaned` and `.swap` files, as Kafka does. */
WARN_UNUSED enum log_result partition_log_compact(struct partition_log *log, u64 user_data);
/* Flushes everything, writes the checkpoints, closes the files. */
WARN_UNUSED enum log_result partition_log_close(struct partition_log *log, u64 user_data);
/* Call periodically: starts the flush.ms flush when due. */
void partition_log_tick(struct partition_log *log);

i64 partition_log_end_offset(const struct partition_log *log);
i64 partition_log_start_offset(const struct partition_log *log);
u64 partition_log_size_bytes(const struct partition_log *log);
/* The latest epoch in the leader epoch cache, or -1. */
i32 partition_log_latest_epoch(const struct partition_log *log);
/* OffsetsForLeaderEpoch: the end offset of epoch (the start of the next larger epoch, or the
 * log end) and the largest epoch <= epoch; (-1, -1) when unknown. */
void partition_log_epoch_end_offset(const struct partition_log *log, i32 epoch, i32 *epoch_found,
                                    i64 *end_offset);
/* The idempotent producers this partition knows (DescribeProducers, tests). */
const struct producer_state *partition_log_producers(const struct partition_log *log);
void partition_log_invariants(const struct partition_log *log);

#endif
