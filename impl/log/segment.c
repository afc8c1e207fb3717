/* segment.c: a segment's offsets and its sparse offset and time indexes, in memory.
 *
 * Invariants (checked by segment_invariants after every change): offset index entries have
 * strictly increasing relative offsets and positions, every position is below the segment size
 * and every indexed offset below next_offset; time index entries have strictly increasing
 * timestamps and non-decreasing offsets; base_offset <= next_offset. Decoding index files never
 * trusts the bytes: a violation makes the decode fail (the caller rebuilds from the .log).
 *
 * segment_add_batch is the one place where indexes grow, used by append and by recovery alike,
 * so the indexes recovery rebuilds equal those appends built (tests/unit/test_log_segment.c and
 * the recovery tests in tests/unit/test_log_recovery.c check both, and decode the files with a
 * reader written from Kafka's documented format in tests/unit/test_log_format.c). */
#include "segment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const segment_suffixes[SEGMENT_FILE_KIND_COUNT] = {
    [SEGMENT_FILE_LOG] = ".log",
    [SEGMENT_FILE_INDEX] = ".index",
    [SEGMENT_FILE_TIME_INDEX] = ".timeindex",
};

bool segment_init(struct segment *segment, i64 base_offset, u32 index_bytes_max,
                  u32 entries_max)
{
    ASSERT(base_offset >= 0);
    ASSERT(index_bytes_max >= 4 * TIME_INDEX_ENTRY_SIZE);
    ASSERT(entries_max >= 1);
    memset(segment, 0, sizeof(*segment));
    segment->base_offset = base_offset;
    segment->next_offset = base_offset;
    segment->max_timestamp = -1;
    segment->offset_of_max_timestamp = -1;
    segment->rolling_timestamp = -1;
    /* Time entries come with offset entries, plus the final one at roll (and one spare). */
    segment->index.capacity = MIN(index_bytes_max / OFFSET_INDEX_ENTRY_SIZE, entries_max);
    segment->time.capacity = MIN(index_bytes_max / TIME_INDEX_ENTRY_SIZE, entries_max + 2);
    segment->index.entries = calloc(segment->index.capacity, sizeof(struct offset_index_entry));
    segment->time.entries = calloc(segment->time.capacity, sizeof(struct time_index_entry));
    if (segment->index.entries == NULL || segment->time.entries == NULL) {
        segment_free(segment);
        return false;
    }
    return true;
}

void segment_free(struct segment *segment)
{
    free(segment->index.entries);
    free(segment->time.entries);
    segment->index.entries = NULL;
    segment->time.entries = NULL;
    segment->index.count = 0;
    segment->time.count = 0;
}

void segment_path(char *path, u32 path_size, const char *directory, i64 base_offset,
                  enum segment_file_kind kind)
{
    ASSERT(kind < SEGMENT_FILE_KIND_COUNT);
    ASSERT(base_offset >= 0);
    int written = snprintf(path, path_size, "%s/%020lld%s", directory, (long long)base_offset,
                           segment_suffixes[kind]);
    ASSERT(written > 0 && (u32)written < path_size);
}

bool segment_name_offset(const char *name, const char *suffix, i64 *offset)
{
    u64 value = 0;
    for (u32 i = 0; i < SEGMENT_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9') return false;
        u64 digit = (u64)(name[i] - '0');
        if (value > ((u64)INT64_MAX - digit) / 10) return false; /* Would pass INT64_MAX. */
        value = value * 10 + digit;
    }
    if (strcmp(name + SEGMENT_NAME_DIGITS, suffix) != 0) return false;
    *offset = (i64)value;
    return true;
}

bool segment_name_parse(const char *name, i64 *base_offset, enum segment_file_kind *kind)
{
    for (u32 k = 0; k < SEGMENT_FILE_KIND_COUNT; k++) {
        if (segment_name_offset(name, segment_suffixes[k], base_offset)) {
            *kind = (enum segment_file_kind)k;
            return true;
        }
    }
    return false;
}

bool segment_index_full(const struct segment *segment)
{
    /* One offset entry and up to two time entries (one per batch, one final at roll). */
    return segment->index.count + 1 > segment->index.capacity ||
           segment->time.count + 2 > segment->time.capacity;
}

/* Adds a time entry if timestamp grew past the last one (Kafka's maybeAppend). */
static void time_index_maybe_append(struct segment *segment, i64 timestamp, i64 offset)
{
    struct time_index *time = &segment->time;
    if (timestamp < 0) return;
    if (time->count > 0 && timestamp <= time->entries[time->count - 1].timestamp) return;
    ASSERT(time->count < time->capacity);
    ASSERT(offset >= segment->base_offset);
    ASSERT(offset - segment->base_offset <= INT32_MAX);
    i32 relative = (i32)(offset - segment->base_offset);
    if (time->count > 0) ASSERT(relative >= time->entries[time->count - 1].relative_offset);
    time->entries[time->count].timestamp = timestamp;
    time->entries[time->count].relative_offset = relative;
    time->count++;
}

static u64 segment_bytes_since_index(const struct segment *segment)
{
    if (segment->index.count == 0) return segment->size;
    u32 last_position = segment->index.entries[segment->index.count - 1].position;
    ASSERT(last_position < segment->size);
    return segment->size - last_position;
}

void segment_add_batch(struct segment *segment, const struct record_batch_header *header,
                       u64 batch_size, u32 index_interval_bytes)
{
    ASSERT(!segment->closed);
    ASSERT(!segment_index_full(segment));
    ASSERT(batch_size == (u64)header->BatchLength + RECORD_BATCH_LOG_OVERHEAD);
    ASSERT(header->BaseOffset >= segment->next_offset);
    i64 last_offset = header->BaseOffset + header->LastOffsetDelta;
    ASSERT(last_offset - segment->base_offset <= INT32_MAX);
    ASSERT(segment->size + batch_size <= UINT32_MAX);

    /* Kafka updates the largest timestamp first, so the time entry includes this batch. */
    if (header->MaxTimestamp > segment->max_timestamp) {
        segment->max_timestamp = header->MaxTimestamp;
        segment->offset_of_max_timestamp = last_offset;
    }
    if (segment_bytes_since_index(segment) > index_interval_bytes) {
        struct offset_index *index = &segment->index;
        index->entries[index->count].relative_offset = (i32)(last_offset - segment->base_offset);
        index->entries[index->count].position = (u32)segment->size;
        index->count++;
        time_index_maybe_append(segment, segment->max_timestamp,
                                segment->offset_of_max_timestamp);
    }
    if (segment->rolling_timestamp < 0) segment->rolling_timestamp = header->MaxTimestamp;
    segment->size += batch_size;
    segment->next_offset = last_offset + 1;
    segment->indexes_durable = false;
    segment->log_synced = false;
    segment_invariants(segment);
}

void segment_close_for_appends(struct segment *segment)
{
    ASSERT(!segment->closed);
    ASSERT(segment->time.count < segment->time.capacity);
    time_index_maybe_append(segment, segment->max_timestamp, segment->offset_of_max_timestamp);
    segment->closed = true;
    segment->indexes_durable = false;
    segment_invariants(segment);
}

void segment_truncate(struct segment *segment, u64 position, i64 next_offset)
{
    ASSERT(position <= segment->size);
    ASSERT(next_offset >= segment->base_offset);
    ASSERT(next_offset <= segment->next_offset);
    struct offset_index *index = &segment->index;
    while (index->count > 0 && index->entries[index->count - 1].position >= position) {
        index->count--;
    }
    struct time_index *time = &segment->time;
    while (time->count > 0 &&
           segment->base_offset + time->entries[time->count - 1].relative_offset >= next_offset) {
        time->count--;
    }
    segment->size = position;
    segment->next_offset = next_offset;
    /* As Kafka does, the largest timestamp falls back to what the time index still says. */
    segment->max_timestamp = -1;
    segment->offset_of_max_timestamp = -1;
    if (time->count > 0) {
        segment->max_timestamp = time->entries[time->count - 1].timestamp;
        segment->offset_of_max_timestamp =
            segment->base_offset + time->entries[time->count - 1].relative_offset;
    }
    if (position == 0) segment->rolling_timestamp = -1;
    segment->closed = false;
    segment->indexes_durable = false;
    segment->log_synced = false;
    segment_invariants(segment);
}

/* ===== Lookups ===== */

u64 offset_index_lookup(const struct offset_index *index, i64 base_offset, i64 offset)
{
    ASSERT(offset >= base_offset);
    /* Binary search for the last entry whose offset <= target. */
    u32 low = 0, high = index->count; /* Answer is in [low - 1, high). */
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        if (base_offset + index->entries[middle].relative_offset <= offset) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    if (low == 0) return 0;
    return index->entries[low - 1].position;
}

const struct offset_index_entry *offset_index_floor_position(const struct offset_index *index,
                                                             i64 base_offset, u64 position_max,
                                                             i64 offset_limit)
{
    u32 low = 0, high = index->count;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        const struct offset_index_entry *entry = &index->entries[middle];
        if (entry->position <= position_max &&
            base_offset + entry->relative_offset < offset_limit) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    return low == 0 ? NULL : &index->entries[low - 1];
}

i64 time_index_lookup(const struct time_index *time, i64 base_offset, i64 timestamp)
{
    u32 low = 0, high = time->count;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        if (time->entries[middle].timestamp <= timestamp) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    if (low == 0) return base_offset;
    return base_offset + time->entries[low - 1].relative_offset;
}

/* ===== File format ===== */

u64 offset_index_encode(const struct offset_index *index, u32 first, u32 count, u8 *buffer)
{
    ASSERT(first + count <= index->count);
    for (u32 i = 0; i < count; i++) {
        const struct offset_index_entry *entry = &index->entries[first + i];
        store_u32_be(buffer + i * OFFSET_INDEX_ENTRY_SIZE, (u32)entry->relative_offset);
        store_u32_be(buffer + i * OFFSET_INDEX_ENTRY_SIZE + 4, entry->position);
    }
    return (u64)count * OFFSET_INDEX_ENTRY_SIZE;
}

u64 time_index_encode(const struct time_index *time, u32 first, u32 count, u8 *buffer)
{
    ASSERT(first + count <= time->count);
    for (u32 i = 0; i < count; i++) {
        const struct time_index_entry *entry = &time->entries[first + i];
        store_u64_be(buffer + i * TIME_INDEX_ENTRY_SIZE, (u64)entry->timestamp);
        store_u32_be(buffer + i * TIME_INDEX_ENTRY_SIZE + 8, (u32)entry->relative_offset);
    }
    return (u64)count * TIME_INDEX_ENTRY_SIZE;
}

bool offset_index_decode_append(struct offset_index *index, const u8 *bytes, u64 size,
                                i64 base_offset, i64 next_offset, u64 segment_size)
{
    if (size % OFFSET_INDEX_ENTRY_SIZE != 0) return false;
    u64 count = size / OFFSET_INDEX_ENTRY_SIZE;
    if (count > index->capacity - index->count) return false;
    for (u64 i = 0; i < count; i++) {
        i32 relative = (i32)load_u32_be(bytes + i * OFFSET_INDEX_ENTRY_SIZE);
        u32 position = load_u32_be(bytes + i * OFFSET_INDEX_ENTRY_SIZE + 4);
        if (relative < 0 || base_offset + relative >= next_offset) return false;
        if (position >= segment_size) return false;
        if (index->count > 0) {
            const struct offset_index_entry *last = &index->entries[index->count - 1];
            if (relative <= last->relative_offset || position <= last->position) return false;
        }
        index->entries[index->count].relative_offset = relative;
        index->entries[index->count].position = position;
        index->count++;
    }
    return true;
}

bool time_index_decode_append(struct time_index *time, const u8 *bytes, u64 size,
                              i64 base_offset, i64 next_offset)
{
    if (size % TIME_INDEX_ENTRY_SIZE != 0) return false;
    u64 count = size / TIME_INDEX_ENTRY_SIZE;
    if (count > time->capacity - time->count) return false;
    for (u64 i = 0; i < count; i++) {
        i64 timestamp = (i64)load_u64_be(bytes + i * TIME_INDEX_ENTRY_SIZE);
        i32 relative = (i32)load_u32_be(bytes + i * TIME_INDEX_ENTRY_SIZE + 8);
        if (timestamp < 0 || relative < 0 || base_offset + relative >= next_offset) return false;
        if (time->count > 0) {
            const struct time_index_entry *last = &time->entries[time->count - 1];
            if (timestamp <= last->timestamp || relative < last->relative_offset) return false;
        }
        time->entries[time->count].timestamp = timestamp;
        time->entries[time->count].relative_offset = relative;
        time->count++;
    }
    return true;
}

void segment_invariants(const struct segment *segment)
{
    ASSERT(segment->base_offset >= 0);
    ASSERT(segment->base_offset <= segment->next_offset);
    ASSERT(segment->index.count <= segment->index.capacity);
    ASSERT(segment->time.count <= segment->time.capacity);
    if (segment->size == 0) ASSERT(segment->index.count == 0);
    if (segment->index.count > 0) {
        const struct offset_index_entry *last = &segment->index.entries[segment->index.count - 1];
        ASSERT(last->position < segment->size);
        ASSERT(segment->base_offset + last->relative_offset < segment->next_offset);
    }
    /* Pairwise order of the last two entries: checked at every add, so by induction all. */
    if (segment->index.count > 1) {
        const struct offset_index_entry *e = &segment->index.entries[segment->index.count - 2];
        ASSERT(e[0].relative_offset < e[1].relative_offset);
        ASSERT(e[0].position < e[1].position);
    }
    if (segment->time.count > 1) {
        const struct time_index_entry *t = &segment->time.entries[segment->time.count - 2];
        ASSERT(t[0].timestamp < t[1].timestamp);
        ASSERT(t[0].relative_offset <= t[1].relative_offset);
    }
}
