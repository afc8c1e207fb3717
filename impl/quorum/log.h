/* log.h: the quorum's replicated log: an in-memory mirror of one append-only file, and the
 * disk pipeline that makes it durable.
 *
 * The file "quorum/log" is a sequence of records (wire.h: Offset, Epoch, Size, Attributes, Crc,
 * payload) with dense offsets from the log's start (0, or the end of a snapshot that covers
 * everything below). Memory holds the same bytes (the arena, whose byte 0 is the file's byte 0)
 * plus an index of entries, so fetches are served from memory. Disk operations go one after
 * another (truncate, then write, then sync), which keeps reasoning simple: the file is always a
 * prefix of what memory held when the operation was issued. synced_end says how far the file is
 * known durable.
 *
 * Compaction (after a snapshot is durable) drops the prefix below a new start, on disk too:
 * the kept records are copied to "quorum/log.new", which is synced and renamed over
 * "quorum/log"; only when the rename completes does memory drop the prefix. A crash before the
 * rename leaves the old file (the snapshot covers its prefix; recovery keeps what lies above),
 * after it the new one. While the copy runs the log may only grow (no truncation).
 *
 * Bounded: QUORUM_LOG_ENTRIES_MAX entries, QUORUM_LOG_BYTES_MAX bytes held at once. A full log
 * rejects client appends and keeps QUORUM_LOG_RESERVE entries for leader-change records so
 * elections always succeed; snapshots and compaction make room again.
 *
 * May depend on: base.h, io.h, quorum/wire.h. */
#ifndef QUORUM_LOG_H
#define QUORUM_LOG_H

#include "../io.h"
#include "wire.h"

#define QUORUM_LOG_ENTRIES_MAX 65536u
#define QUORUM_LOG_BYTES_MAX (8u * 1024u * 1024u)
#define QUORUM_LOG_RESERVE 1024u /* Entries (and KiB) kept free for leader-change records. */
#define QUORUM_LOG_WRITE_MAX (256u * 1024u)
#define QUORUM_LOG_READ_CHUNK (256u * 1024u)
#define QUORUM_LOG_PATH "quorum/log"
#define QUORUM_LOG_NEW_PATH "quorum/log.new"

struct quorum_log_entry {
    u64 position; /* Byte position of the record in the file (and the arena). */
    i32 epoch;
    u32 size;     /* Payload bytes. */
    u32 attributes;
    u64 checksum; /* quorum_value_checksum of the payload. */
};

enum quorum_log_op { LOG_OP_NONE, LOG_OP_OPEN, LOG_OP_READ, LOG_OP_TRUNCATE, LOG_OP_WRITE,
                     LOG_OP_SYNC, LOG_OP_REWRITE_OPEN, LOG_OP_REWRITE_WRITE, LOG_OP_REWRITE_SYNC,
                     LOG_OP_REWRITE_RENAME };

/* What a completion meant to the owner. */
enum quorum_log_event {
    LOG_EVENT_NONE,      /* Nothing the owner must react to. */
    LOG_EVENT_RECOVERED, /* The file was read and scanned; the log is usable. */
    LOG_EVENT_SYNCED,    /* synced_end advanced. */
    LOG_EVENT_COMPACTED, /* The prefix below the compaction target is gone, on disk too. */
    LOG_EVENT_ERROR,     /* An I/O error: call quorum_log_retry() after a backoff. */
};

struct quorum_log {
    struct io *io;
    u64 user_data_tag; /* OR-ed into every request's user_data; low byte = enum quorum_log_op. */
    io_file file;
    bool recovered;
    bool failed;

    u8 *arena; /* Mirror of the file's valid bytes. */
    u64 bytes_end;
    struct quorum_log_entry *entries; /* entries[i] is offset start + i. */
    i64 start;       /* Offset of the first entry held; a snapshot covers what lies below. */
    i32 start_epoch; /* Epoch of the entry at start - 1: 0 when start is 0, -1 when unknown
                      * (a recovered file whose first record is not a snapshot's end). */
    i64 end;         /* Offset one past the last entry. */

    /* The disk pipeline: [start, synced_end) durable, [synced_end, write_end) written and
     * awaiting a sync, [write_end, end) only in memory. */
    enum quorum_log_op op;
    i64 write_end;
    i64 synced_end;
    i64 sync_target;
    bool truncate_needed;
    u8 *write_buffer; /* Stable while a write is in flight. */

    /* Compaction: drop [start, compact_to) by rewriting [compact_to, rewrite_end) to a new
     * file. compact_to is 0 when none is pending. */
    i64 compact_to;
    bool rewriting;    /* The copy has begun: no truncation until it completes. */
    io_file rewrite_file;
    i64 rewrite_end;
    u64 rewrite_position; /* Bytes of the new file written. */

    /* Recovery. */
    u64 file_size;
    u64 read_position;
    u64 truncated_bytes; /* Bytes of torn or corrupt tail cut at recovery (for tests, logs). */
    bool hold;    /* No disk operation may start (the owner must first record something). */
    bool damaged; /* A whole valid record lay beyond the cut: synced data was corrupted, not
                   * merely an unsynced tail torn, so acknowledged entries may be lost. */
};

void quorum_log_init(struct quorum_log *log, struct io *io, u64 user_data_tag);
void quorum_log_free(struct quorum_log *log);

/* Starts recovery: open, read, scan. Completes with LOG_EVENT_RECOVERED. */
void quorum_log_open(struct quorum_log *log);
enum quorum_log_event quorum_log_on_file(struct quorum_log *log,
                                         const struct io_completion *completion);
void quorum_log_retry(struct quorum_log *log);

/* Scans a file image already in the arena, building the index. Returns the length of the valid
 * prefix: scanning stops at the first torn, corrupt, misnumbered or epoch-decreasing record.
 * The first record's offset becomes the log's start. */
u64 quorum_log_scan(struct quorum_log *log, u64 size);

/* After a scan that stopped at valid < size: does a whole valid record with a later offset
 * follow somewhere? Then the cut removed synced data (corruption), not only a torn tail. */
bool quorum_log_damage_beyond(const struct quorum_log *log, u64 valid, u64 size);

bool quorum_log_has_room(const struct quorum_log *log, u32 size, bool control);
/* Appends in memory; returns the new entry's offset. The disk follows via quorum_log_pump. */
i64 quorum_log_append(struct quorum_log *log, i32 epoch, u32 attributes, const u8 *payload,
                      u32 size);
/* Appends a record received from the leader (already validated by the codec). */
i64 quorum_log_append_record(struct quorum_log *log, const struct quorum_record *record);
/* Drops entries at offsets >= end (end >= start; not while rewriting). */
void quorum_log_truncate(struct quorum_log *log, i64 end);
/* Empties the log and restarts it at start (a snapshot's end, whose last entry has
 * start_epoch): memory at once, the file (cut to nothing) through the pipeline. */
void quorum_log_reset(struct quorum_log *log, i64 start, i32 start_epoch);
/* Asks for the prefix below to to be dropped, in memory and on disk (LOG_EVENT_COMPACTED). */
void quorum_log_compact(struct quorum_log *log, i64 to);
bool quorum_log_compacting(const struct quorum_log *log); /* Pending or under way. */
/* Issues the next disk operation if none is in flight. */
void quorum_log_pump(struct quorum_log *log);

i32 quorum_log_last_epoch(const struct quorum_log *log);
/* The epoch of the entry at offset, in [start, end), or start - 1 when start_epoch is known. */
i32 quorum_log_epoch_at(const struct quorum_log *log, i64 offset);
const struct quorum_log_entry *quorum_log_entry(const struct quorum_log *log, i64 offset);
const u8 *quorum_log_payload(const struct quorum_log *log, i64 offset);
/* KRaft's endOffsetForEpoch: the largest epoch <= epoch present in the log, and the offset one
 * past its last entry. {0, 0} when no entry has an epoch <= epoch and the log starts at 0;
 * {start_epoch, start} when only the entry before start qualifies; {-1, start} when the answer
 * lies below the log's start (inside the snapshot). */
void quorum_log_end_for_epoch(const struct quorum_log *log, i32 epoch, i32 *epoch_found,
                              i64 *end_offset);
/* Byte position of offset's record in the file (bytes_end for end): bytes held below it. */
u64 quorum_log_position(const struct quorum_log *log, i64 offset);
/* Record bytes of [from, ...) up to bytes_max (at least one record if any), from >= start. */
const u8 *quorum_log_records(const struct quorum_log *log, i64 from, u32 bytes_max, u32 *count,
                             u32 *size);

#endif
