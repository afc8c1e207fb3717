/* segment.h: one segment of a partition log, in memory: its offsets, sizes and sparse indexes.
 *
 * A segment is three files named by its base offset (20 digits): `.log` (record batches v2, as
 * they arrived), `.index` (8-byte entries: relative offset i32, position u32, big-endian) and
 * `.timeindex` (12-byte entries: timestamp i64, relative offset i32, big-endian), Kafka's own
 * formats. The indexes are kept in memory (Kafka memory-maps them) and written to their files
 * when the segment is flushed; a segment whose index files are not known good is re-indexed
 * from its .log by recovery.
 *
 * Indexing follows Kafka's LogSegment exactly, so that an index rebuilt by recovery equals the
 * one built by appends: before a batch is added, if more than index.interval.bytes were added
 * since the last entry, an offset entry (the batch's last offset, its position) is written and
 * a time entry (the largest timestamp so far and the last offset of its batch) is written when
 * that timestamp grew. When the segment is rolled, a final time entry records its largest
 * timestamp.
 *
 * Everything here is pure (no I/O); partition_log.c does the files.
 *
 * May depend on: base.h, io.h (handles), record_batch.h. */
#ifndef LOG_SEGMENT_H
#define LOG_SEGMENT_H

#include "../io.h"
#include "record_batch.h"

#define SEGMENT_NAME_DIGITS 20u
#define OFFSET_INDEX_ENTRY_SIZE 8u
#define TIME_INDEX_ENTRY_SIZE 12u

enum segment_file_kind {
    SEGMENT_FILE_LOG,
    SEGMENT_FILE_INDEX,
    SEGMENT_FILE_TIME_INDEX,
    SEGMENT_FILE_KIND_COUNT,
};

struct offset_index_entry {
    i32 relative_offset; /* Last offset of the batch at position, minus the base offset. */
    u32 position;        /* Byte position of that batch in the .log. */
};

struct time_index_entry {
    i64 timestamp;       /* Largest timestamp in the segment up to this batch. */
    i32 relative_offset; /* Last offset of the batch holding that timestamp, minus the base. */
};

struct offset_index {
    struct offset_index_entry *entries;
    u32 count;
    u32 capacity;
};

struct time_index {
    struct time_index_entry *entries;
    u32 count;
    u32 capacity;
};

struct segment {
    i64 base_offset;
    i64 next_offset;    /* One past the last offset held; base_offset while empty. */
    u64 size;           /* Bytes of whole batches in the .log. */
    io_file files[SEGMENT_FILE_KIND_COUNT]; /* 0 while not open. */
    struct offset_index index;
    struct time_index time;
    i64 max_timestamp;          /* Largest batch MaxTimestamp; -1 while empty. */
    i64 offset_of_max_timestamp;
    i64 rolling_timestamp;      /* MaxTimestamp of the first batch (segment.ms); -1 if none. */
    bool indexes_durable;       /* The index files hold exactly the in-memory entries, synced. */
    bool log_synced;            /* Every byte of the .log is durable. */
    bool closed;                /* Rolled: no more appends. */
};

/* Allocates the in-memory indexes: index_bytes_max bytes worth of entries each (Kafka's
 * segment.index.bytes), but no more than entries_max offset entries (a segment cannot use more
 * than one per index.interval.bytes of its size). Returns false when memory cannot be had. */
WARN_UNUSED bool segment_init(struct segment *segment, i64 base_offset, u32 index_bytes_max,
                              u32 entries_max);
void segment_free(struct segment *segment);

/* Writes "<directory>/<20-digit base><suffix>" into path. */
void segment_path(char *path, u32 path_size, const char *directory, i64 base_offset,
                  enum segment_file_kind kind);
/* The offset of a name made of 20 digits and then exactly suffix; false for any other name. */
WARN_UNUSED bool segment_name_offset(const char *name, const char *suffix, i64 *offset);
/* Parses a file name ("00000000000000000042.index"); false when it is not a segment file. */
WARN_UNUSED bool segment_name_parse(const char *name, i64 *base_offset,
                                    enum segment_file_kind *kind);

/* True when one more batch could need index entries the indexes have no room for. */
bool segment_index_full(const struct segment *segment);

/* Accounts one whole batch written (or found by recovery) at position == segment->size. The
 * same function serves append and recovery, so both build identical indexes. */
void segment_add_batch(struct segment *segment, const struct record_batch_header *header,
                       u64 batch_size, u32 index_interval_bytes);

/* Rolling: adds the final time index entry (the segment's largest timestamp) and marks it
 * closed. */
void segment_close_for_appends(struct segment *segment);

/* Forgets everything at or after position (truncation); next_offset becomes next_offset. */
void segment_truncate(struct segment *segment, u64 position, i64 next_offset);

/* The position of the largest indexed batch whose last offset is <= offset (0 if none): the
 * batch holding offset starts at or after it. */
u64 offset_index_lookup(const struct offset_index *index, i64 base_offset, i64 offset);
/* The largest entry with position <= position_max and last offset < offset_limit, or NULL. */
const struct offset_index_entry *offset_index_floor_position(const struct offset_index *index,
                                                             i64 base_offset, u64 position_max,
                                                             i64 offset_limit);
/* The offset to start a timestamp search from: the entry with the largest timestamp <= target
 * gives its offset; base_offset when there is none. */
i64 time_index_lookup(const struct time_index *time, i64 base_offset, i64 timestamp);

/* Encodes entries [first, first+count) in Kafka's file format; returns bytes written. */
u64 offset_index_encode(const struct offset_index *index, u32 first, u32 count, u8 *buffer);
u64 time_index_encode(const struct time_index *time, u32 first, u32 count, u8 *buffer);

/* Appends decoded file entries to the in-memory index, checking them as Kafka's sanity check
 * does (increasing, within the segment). Returns false on a corrupt index (bad bytes from disk
 * are an operating error: the caller rebuilds the index from the .log). */
WARN_UNUSED bool offset_index_decode_append(struct offset_index *index, const u8 *bytes,
                                            u64 size, i64 base_offset, i64 next_offset,
                                            u64 segment_size);
WARN_UNUSED bool time_index_decode_append(struct time_index *time, const u8 *bytes, u64 size,
                                          i64 base_offset, i64 next_offset);

/* Checks the segment's internal invariants (ASSERTs). */
void segment_invariants(const struct segment *segment);

#endif
