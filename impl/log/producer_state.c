/* producer_state.c: idempotent producers' sequences per partition (see producer_state.h).
 *
 * The rules follow Kafka's ProducerAppendInfo and ProducerStateEntry: the duplicate check comes
 * first (same epoch, a retained batch with the same sequence range), then the epoch (older is
 * fenced), then the sequence (a new epoch starts at 0, the same epoch continues at last + 1). */
#include "producer_state.h"

#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

#define PRODUCER_STATE_INITIAL_CAPACITY 8u

const char *producer_check_name(enum producer_check check)
{
    switch (check) {
    case PRODUCER_CHECK_APPEND: return "append";
    case PRODUCER_CHECK_DUPLICATE: return "duplicate";
    case PRODUCER_CHECK_FENCED: return "fenced";
    case PRODUCER_CHECK_OUT_OF_SEQUENCE: return "out-of-sequence";
    case PRODUCER_CHECK_FULL: return "full";
    }
    return "?";
}

void producer_state_init(struct producer_state *state, u32 capacity_max)
{
    ASSERT(capacity_max >= 1);
    memset(state, 0, sizeof(*state));
    state->capacity_max = capacity_max;
}

void producer_state_deinit(struct producer_state *state)
{
    free(state->entries);
    state->entries = NULL;
    state->count = 0;
    state->capacity = 0;
}

void producer_state_clear(struct producer_state *state) { state->count = 0; }

/* Sequences wrap from INT32_MAX to 0 (Kafka's DefaultRecordBatch.incrementSequence). */
static i32 sequence_add(i32 sequence, i32 delta)
{
    ASSERT(sequence >= 0 && delta >= 0);
    if (sequence > INT32_MAX - delta) return delta - (INT32_MAX - sequence) - 1;
    return sequence + delta;
}

static i32 sequence_subtract(i32 sequence, i32 delta)
{
    ASSERT(sequence >= 0 && delta >= 0);
    if (sequence < delta) return INT32_MAX - (delta - sequence) + 1;
    return sequence - delta;
}

static bool sequence_follows(i32 last, i32 next)
{
    return (i64)next == (i64)last + 1 || (next == 0 && last == INT32_MAX);
}

static bool batch_is_control(const struct record_batch_header *header)
{
    return (header->Attributes & RECORD_ATTRIBUTE_CONTROL) != 0;
}

static bool batch_is_transactional(const struct record_batch_header *header)
{
    return (header->Attributes & RECORD_ATTRIBUTE_TRANSACTIONAL) != 0;
}

/* The position of producer_id, or where it would be inserted. */
static u32 producer_state_search(const struct producer_state *state, i64 producer_id,
                                 bool *found)
{
    u32 low = 0;
    u32 high = state->count;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        if (state->entries[middle].producer_id < producer_id) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    *found = low < state->count && state->entries[low].producer_id == producer_id;
    return low;
}

const struct producer_entry *producer_state_find(const struct producer_state *state,
                                                 i64 producer_id)
{
    bool found = false;
    u32 index = producer_state_search(state, producer_id, &found);
    return found ? &state->entries[index] : NULL;
}

static const struct producer_batch *entry_newest(const struct producer_entry *entry)
{
    return entry->batch_count == 0 ? NULL : &entry->batches[entry->batch_count - 1];
}

enum producer_check producer_state_check(const struct producer_state *state,
                                         const struct record_batch_header *header,
                                         struct producer_batch *duplicate)
{
    if (header->ProducerId < 0) return PRODUCER_CHECK_APPEND;
    const struct producer_entry *entry = producer_state_find(state, header->ProducerId);
    if (batch_is_control(header)) {
        /* Markers come from the coordinator, not the producer: only an older epoch is wrong. */
        if (entry != NULL && header->ProducerEpoch < entry->epoch) return PRODUCER_CHECK_FENCED;
        return PRODUCER_CHECK_APPEND;
    }
    if (header->BaseSequence < 0) return PRODUCER_CHECK_OUT_OF_SEQUENCE;
    if (entry == NULL) {
        return state->count >= state->capacity_max ? PRODUCER_CHECK_FULL : PRODUCER_CHECK_APPEND;
    }
    i32 last_sequence = sequence_add(header->BaseSequence, header->LastOffsetDelta);
    if (header->ProducerEpoch == entry->epoch) {
        for (u32 i = 0; i < entry->batch_count; i++) {
            const struct producer_batch *batch = &entry->batches[i];
            if (batch->first_sequence == header->BaseSequence &&
                batch->last_sequence == last_sequence) {
                if (duplicate != NULL) *duplicate = *batch;
                return PRODUCER_CHECK_DUPLICATE;
            }
        }
    }
    if (header->ProducerEpoch < entry->epoch) return PRODUCER_CHECK_FENCED;
    if (header->ProducerEpoch != entry->epoch) {
        /* A bumped epoch restarts the sequences; an entry without an epoch accepts anything. */
        bool ok = header->BaseSequence == 0 || entry->epoch == PRODUCER_NO_EPOCH;
        return ok ? PRODUCER_CHECK_APPEND : PRODUCER_CHECK_OUT_OF_SEQUENCE;
    }
    const struct producer_batch *newest = entry_newest(entry);
    i32 current = newest == NULL ? PRODUCER_NO_SEQUENCE : newest->last_sequence;
    if (current == PRODUCER_NO_SEQUENCE) {
        return header->BaseSequence == 0 ? PRODUCER_CHECK_APPEND
                                         : PRODUCER_CHECK_OUT_OF_SEQUENCE;
    }
    return sequence_follows(current, header->BaseSequence) ? PRODUCER_CHECK_APPEND
                                                           : PRODUCER_CHECK_OUT_OF_SEQUENCE;
}

static bool producer_state_reserve(struct producer_state *state)
{
    if (state->count < state->capacity) return true;
    if (state->count >= state->capacity_max) return false;
    u32 capacity = state->capacity == 0 ? PRODUCER_STATE_INITIAL_CAPACITY : state->capacity * 2;
    if (capacity > state->capacity_max) capacity = state->capacity_max;
    struct producer_entry *entries = realloc(state->entries, (size_t)capacity * sizeof(*entries));
    if (entries == NULL) return false;
    state->entries = entries;
    state->capacity = capacity;
    return true;
}

/* The entry of producer_id, inserted empty in sorted place when new; NULL when full. */
static struct producer_entry *producer_state_upsert(struct producer_state *state,
                                                    i64 producer_id)
{
    bool found = false;
    u32 index = producer_state_search(state, producer_id, &found);
    if (found) return &state->entries[index];
    if (!producer_state_reserve(state)) return NULL;
    memmove(&state->entries[index + 1], &state->entries[index],
            (size_t)(state->count - index) * sizeof(state->entries[0]));
    state->count++;
    struct producer_entry *entry = &state->entries[index];
    memset(entry, 0, sizeof(*entry));
    entry->producer_id = producer_id;
    entry->epoch = PRODUCER_NO_EPOCH;
    entry->last_timestamp = -1;
    entry->coordinator_epoch = -1;
    entry->current_txn_first_offset = -1;
    return entry;
}

static void entry_set_epoch(struct producer_entry *entry, i16 epoch)
{
    if (entry->epoch == epoch) return;
    entry->epoch = epoch;
    entry->batch_count = 0; /* Sequences of another epoch say nothing about this one. */
}

static void entry_add_batch(struct producer_entry *entry, const struct producer_batch *batch)
{
    if (entry->batch_count == PRODUCER_BATCHES_RETAINED) {
        memmove(&entry->batches[0], &entry->batches[1],
                (PRODUCER_BATCHES_RETAINED - 1) * sizeof(entry->batches[0]));
        entry->batch_count--;
    }
    entry->batches[entry->batch_count++] = *batch;
}

bool producer_state_update(struct producer_state *state, const struct record_batch_header *header,
                           i64 base_offset)
{
    ASSERT(base_offset >= 0);
    if (header->ProducerId < 0) return true;
    struct producer_entry *entry = producer_state_upsert(state, header->ProducerId);
    if (entry == NULL) return false;
    i64 last_offset = base_offset + header->LastOffsetDelta;
    if (batch_is_control(header)) {
        /* A transaction marker: ends the open transaction. Its coordinator epoch is in the
         * record's value, which the header does not carry; the caller may set it. */
        entry_set_epoch(entry, header->ProducerEpoch);
        entry->current_txn_first_offset = -1;
        entry->last_timestamp = header->MaxTimestamp;
        return true;
    }
    entry_set_epoch(entry, header->ProducerEpoch);
    if (header->BaseSequence >= 0) {
        struct producer_batch batch = {
            .first_sequence = header->BaseSequence,
            .last_sequence = sequence_add(header->BaseSequence, header->LastOffsetDelta),
            .first_offset = base_offset,
            .last_offset = last_offset,
            .max_timestamp = header->MaxTimestamp,
        };
        entry_add_batch(entry, &batch);
    }
    entry->last_timestamp = header->MaxTimestamp;
    if (batch_is_transactional(header) && entry->current_txn_first_offset < 0) {
        entry->current_txn_first_offset = base_offset;
    }
    return true;
}

u32 producer_state_expire(struct producer_state *state, i64 now_ms, i64 expiration_ms)
{
    u32 kept = 0;
    for (u32 i = 0; i < state->count; i++) {
        const struct producer_entry *entry = &state->entries[i];
        bool expired = entry->current_txn_first_offset < 0 &&
                       now_ms - entry->last_timestamp >= expiration_ms;
        if (!expired) state->entries[kept++] = *entry;
    }
    u32 forgotten = state->count - kept;
    state->count = kept;
    return forgotten;
}

/* ===== Snapshots ===== */

u64 producer_state_snapshot_size(const struct producer_state *state)
{
    return PRODUCER_SNAPSHOT_HEADER_SIZE + (u64)state->count * PRODUCER_SNAPSHOT_ENTRY_SIZE;
}

u64 producer_state_snapshot_encode(const struct producer_state *state, u8 *buffer,
                                   u64 capacity)
{
    u64 size = producer_state_snapshot_size(state);
    ASSERT(capacity >= size);
    store_u16_be(buffer, (u16)PRODUCER_SNAPSHOT_VERSION);
    store_u32_be(buffer + 6, state->count);
    u8 *at = buffer + PRODUCER_SNAPSHOT_HEADER_SIZE;
    for (u32 i = 0; i < state->count; i++, at += PRODUCER_SNAPSHOT_ENTRY_SIZE) {
        const struct producer_entry *entry = &state->entries[i];
        const struct producer_batch *newest = entry_newest(entry);
        store_u64_be(at + 0, (u64)entry->producer_id);
        store_u16_be(at + 8, (u16)entry->epoch);
        store_u32_be(at + 10, (u32)(newest ? newest->last_sequence : PRODUCER_NO_SEQUENCE));
        store_u64_be(at + 14, (u64)(newest ? newest->last_offset : -1));
        store_u32_be(at + 22, (u32)(newest ? newest->last_offset - newest->first_offset : 0));
        store_u64_be(at + 26, (u64)entry->last_timestamp);
        store_u32_be(at + 34, (u32)entry->coordinator_epoch);
        store_u64_be(at + 38, (u64)entry->current_txn_first_offset);
    }
    /* The CRC covers everything after itself: the entry count and the entries. */
    store_u32_be(buffer + 2, crc32c(buffer + 6, size - 6));
    return size;
}

/* One snapshot entry into *entry; false when its fields contradict each other. */
static bool snapshot_entry_decode(const u8 *at, struct producer_entry *entry)
{
    memset(entry, 0, sizeof(*entry));
    entry->producer_id = (i64)load_u64_be(at + 0);
    entry->epoch = (i16)load_u16_be(at + 8);
    i32 last_sequence = (i32)load_u32_be(at + 10);
    i64 last_offset = (i64)load_u64_be(at + 14);
    i32 offset_delta = (i32)load_u32_be(at + 22);
    entry->last_timestamp = (i64)load_u64_be(at + 26);
    entry->coordinator_epoch = (i32)load_u32_be(at + 34);
    entry->current_txn_first_offset = (i64)load_u64_be(at + 38);
    if (entry->producer_id < 0 || entry->current_txn_first_offset < -1) return false;
    if (last_offset < 0) return true; /* A producer with no batch (only markers). */
    if (last_sequence < 0 || offset_delta < 0 || offset_delta > last_offset) return false;
    entry->batches[0] = (struct producer_batch){
        .first_sequence = sequence_subtract(last_sequence, offset_delta),
        .last_sequence = last_sequence,
        .first_offset = last_offset - offset_delta,
        .last_offset = last_offset,
        .max_timestamp = entry->last_timestamp,
    };
    entry->batch_count = 1;
    return true;
}

bool producer_state_snapshot_decode(struct producer_state *state, const u8 *bytes, u64 size)
{
    producer_state_clear(state);
    if (size < PRODUCER_SNAPSHOT_HEADER_SIZE) return false;
    if ((i16)load_u16_be(bytes) != PRODUCER_SNAPSHOT_VERSION) return false;
    i32 count = (i32)load_u32_be(bytes + 6);
    if (count < 0 || (u32)count > state->capacity_max) return false;
    if (size != PRODUCER_SNAPSHOT_HEADER_SIZE + (u64)count * PRODUCER_SNAPSHOT_ENTRY_SIZE) {
        return false;
    }
    if (crc32c(bytes + 6, size - 6) != load_u32_be(bytes + 2)) return false;
    const u8 *at = bytes + PRODUCER_SNAPSHOT_HEADER_SIZE;
    for (i32 i = 0; i < count; i++, at += PRODUCER_SNAPSHOT_ENTRY_SIZE) {
        struct producer_entry entry;
        bool sorted = state->count == 0 ||
                      (i64)load_u64_be(at) > state->entries[state->count - 1].producer_id;
        if (!sorted || !snapshot_entry_decode(at, &entry) || !producer_state_reserve(state)) {
            producer_state_clear(state);
            return false;
        }
        state->entries[state->count++] = entry;
    }
    return true;
}

void producer_state_invariants(const struct producer_state *state)
{
    ASSERT(state->count <= state->capacity);
    ASSERT(state->capacity <= state->capacity_max);
    for (u32 i = 0; i < state->count; i++) {
        const struct producer_entry *entry = &state->entries[i];
        ASSERT(entry->producer_id >= 0);
        ASSERT(i == 0 || state->entries[i - 1].producer_id < entry->producer_id);
        ASSERT(entry->batch_count <= PRODUCER_BATCHES_RETAINED);
        for (u32 b = 0; b < entry->batch_count; b++) {
            const struct producer_batch *batch = &entry->batches[b];
            ASSERT(batch->first_offset <= batch->last_offset);
            ASSERT(b == 0 || entry->batches[b - 1].last_offset < batch->first_offset);
        }
    }
}
