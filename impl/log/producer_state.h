/* producer_state.h: what a partition remembers of each idempotent producer (Kafka's
 * ProducerStateManager), so that a retried batch is written once and a batch out of sequence is
 * refused (KIP-98).
 *
 * A batch with ProducerId >= 0 comes from an idempotent (or transactional) producer: per
 * producer id the partition keeps the newest epoch and the sequence ranges and offsets of the
 * last PRODUCER_BATCHES_RETAINED batches (Kafka's 5, which is why max.in.flight <= 5 is safe).
 * An append from a client (the leader) is checked first:
 *   - an epoch older than the producer's: PRODUCER_CHECK_FENCED (INVALID_PRODUCER_EPOCH, 47);
 *   - a newer epoch must start at sequence 0 (else OUT_OF_SEQUENCE), unless the producer had
 *     no epoch at all;
 *   - the same epoch: a batch whose (BaseSequence, last sequence) equals a retained batch's is
 *     PRODUCER_CHECK_DUPLICATE (answered with success and the first write's offsets); otherwise
 *     BaseSequence must be the last sequence + 1 (wrapping from INT32_MAX to 0), else
 *     PRODUCER_CHECK_OUT_OF_SEQUENCE (OUT_OF_ORDER_SEQUENCE_NUMBER, 45);
 *   - a producer the partition does not know (never seen, or expired) is accepted at any
 *     sequence, as Kafka does since KIP-360: its batches may all have been deleted by retention
 *     while the producer lived on.
 * A replicated append (a follower copying its leader) is not checked: it only updates the state,
 * so a follower that becomes leader deduplicates as its predecessor did.
 *
 * The state is rebuilt from the log: a snapshot (Kafka's `<20-digit offset>.snapshot` format,
 * below) taken at an offset, plus the batch headers from that offset on. A control batch
 * (transaction marker) ends the producer's open transaction and is not a sequence.
 *
 * Snapshot file (Kafka's ProducerStateManager format, version 1, big-endian):
 *   Version i16 | Crc u32 (CRC-32C of everything after it) | ProducerEntries array:
 *     count i32, then per entry: ProducerId i64 | Epoch i16 | LastSequence i32 |
 *     LastOffset i64 | OffsetDelta i32 | Timestamp i64 | CoordinatorEpoch i32 |
 *     CurrentTxnFirstOffset i64
 * Only each producer's newest batch survives a snapshot (as in Kafka), so after a restart a
 * retry of an older in-flight batch is refused as out of sequence rather than deduplicated.
 *
 * Pure: no I/O, no clock (callers pass times). Entries are kept sorted by producer id, so every
 * walk (snapshots, expiry) is in one deterministic order.
 *
 * May depend on: base.h, record_batch.h, crc32c.h. */
#ifndef PRODUCER_STATE_H
#define PRODUCER_STATE_H

#include "record_batch.h"

#define PRODUCER_BATCHES_RETAINED 5u
#define PRODUCER_SNAPSHOT_VERSION 1
#define PRODUCER_SNAPSHOT_HEADER_SIZE 10u /* Version, Crc, count. */
#define PRODUCER_SNAPSHOT_ENTRY_SIZE 46u
#define PRODUCER_NO_EPOCH (-1)
#define PRODUCER_NO_SEQUENCE (-1)

/* One retained batch of a producer. */
struct producer_batch {
    i32 first_sequence;
    i32 last_sequence;
    i64 first_offset;
    i64 last_offset;
    i64 max_timestamp;
};

struct producer_entry {
    i64 producer_id;
    i16 epoch;
    struct producer_batch batches[PRODUCER_BATCHES_RETAINED]; /* Oldest first. */
    u32 batch_count;
    i64 last_timestamp;           /* MaxTimestamp of its newest batch (expiry). */
    i32 coordinator_epoch;        /* Of its last transaction marker, or -1. */
    i64 current_txn_first_offset; /* First offset of its open transaction, or -1. */
};

struct producer_state {
    struct producer_entry *entries; /* Sorted by producer_id, count used of capacity. */
    u32 count;
    u32 capacity;
    u32 capacity_max; /* The bound on producers per partition (refuse beyond it). */
};

enum producer_check {
    PRODUCER_CHECK_APPEND,          /* In sequence (or not idempotent): write it. */
    PRODUCER_CHECK_DUPLICATE,       /* Already written: *duplicate holds where. */
    PRODUCER_CHECK_FENCED,          /* Older epoch: INVALID_PRODUCER_EPOCH. */
    PRODUCER_CHECK_OUT_OF_SEQUENCE, /* OUT_OF_ORDER_SEQUENCE_NUMBER. */
    PRODUCER_CHECK_FULL,            /* A new producer, and capacity_max are known already. */
};

const char *producer_check_name(enum producer_check check);

/* capacity_max >= 1. Allocates nothing yet (entries grow on first use). */
void producer_state_init(struct producer_state *state, u32 capacity_max);
void producer_state_deinit(struct producer_state *state);
/* Forgets every producer (a truncation rebuilds from a snapshot; truncate_fully starts over). */
void producer_state_clear(struct producer_state *state);

/* The check of a client append (see the top of this file). header is the batch's decoded
 * header; duplicate is filled for PRODUCER_CHECK_DUPLICATE. A batch with ProducerId < 0 is
 * always PRODUCER_CHECK_APPEND. Does not change the state. */
enum producer_check producer_state_check(const struct producer_state *state,
                                         const struct record_batch_header *header,
                                         struct producer_batch *duplicate);

/* Records a batch written at base_offset (its header's BaseOffset may not be set yet):
 * a client append after PRODUCER_CHECK_APPEND, or any replicated or replayed batch. Returns
 * false only when the state cannot grow (memory, or capacity_max): the caller must not append
 * (it refused beforehand with the check) or, when replaying, treats it as a limit. */
WARN_UNUSED bool producer_state_update(struct producer_state *state,
                                       const struct record_batch_header *header,
                                       i64 base_offset);

/* Forgets producers whose last_timestamp is older than now_ms - expiration_ms and that have
 * no open transaction (producer.id.expiration.ms). Returns how many it forgot. */
u32 producer_state_expire(struct producer_state *state, i64 now_ms, i64 expiration_ms);

/* The entry of producer_id, or NULL. */
const struct producer_entry *producer_state_find(const struct producer_state *state,
                                                 i64 producer_id);

/* Snapshot bytes: PRODUCER_SNAPSHOT_HEADER_SIZE + count * PRODUCER_SNAPSHOT_ENTRY_SIZE. */
u64 producer_state_snapshot_size(const struct producer_state *state);
/* Writes the snapshot into buffer (capacity >= snapshot_size); returns the size written. */
u64 producer_state_snapshot_encode(const struct producer_state *state, u8 *buffer,
                                   u64 capacity);
/* Replaces the state with a snapshot's entries. false (state left empty) when the bytes are
 * not a valid snapshot: wrong size, version or CRC, producer ids not strictly increasing, or
 * more than capacity_max entries. Never reads past size. */
WARN_UNUSED bool producer_state_snapshot_decode(struct producer_state *state, const u8 *bytes,
                                                u64 size);

void producer_state_invariants(const struct producer_state *state);

#endif
