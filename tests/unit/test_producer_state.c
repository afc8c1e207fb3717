/* test_producer_state.c: the idempotent producers' state of a partition (producer_state.h):
 * every check outcome, updates, expiry, and Kafka's snapshot format (round trip and damage). */
#include "test.h"

#include "../../impl/log/crc32c.h"
#include "../../impl/log/producer_state.h"
#include "../../impl/prng.h"

static struct record_batch_header batch_of(i64 producer_id, i16 epoch, i32 sequence,
                                           i32 records)
{
    struct record_batch_header header;
    memset(&header, 0, sizeof(header));
    header.Magic = RECORD_BATCH_MAGIC;
    header.ProducerId = producer_id;
    header.ProducerEpoch = epoch;
    header.BaseSequence = sequence;
    header.RecordCount = records;
    header.LastOffsetDelta = records - 1;
    header.BaseTimestamp = 1000;
    header.MaxTimestamp = 1000 + (i64)sequence;
    return header;
}

/* Checks then records header at offset; returns the check. */
static enum producer_check append(struct producer_state *state,
                                  const struct record_batch_header *header, i64 offset)
{
    enum producer_check check = producer_state_check(state, header, NULL);
    if (check == PRODUCER_CHECK_APPEND) {
        bool updated = producer_state_update(state, header, offset);
        CHECK(updated);
    }
    producer_state_invariants(state);
    return check;
}

TEST(in_sequence_batches_append_and_others_are_refused)
{
    struct producer_state state;
    producer_state_init(&state, 16);
    struct record_batch_header first = batch_of(7, 0, 0, 3);
    CHECK(append(&state, &first, 0) == PRODUCER_CHECK_APPEND);
    struct record_batch_header next = batch_of(7, 0, 3, 2);
    CHECK(append(&state, &next, 3) == PRODUCER_CHECK_APPEND);
    struct record_batch_header gap = batch_of(7, 0, 6, 1);
    CHECK(append(&state, &gap, 5) == PRODUCER_CHECK_OUT_OF_SEQUENCE);
    struct record_batch_header overlap = batch_of(7, 0, 4, 1);
    CHECK(append(&state, &overlap, 5) == PRODUCER_CHECK_OUT_OF_SEQUENCE);
    struct record_batch_header no_sequence = batch_of(7, 0, -1, 1);
    CHECK(append(&state, &no_sequence, 5) == PRODUCER_CHECK_OUT_OF_SEQUENCE);
    struct record_batch_header plain = batch_of(-1, -1, -1, 4);
    CHECK(append(&state, &plain, 5) == PRODUCER_CHECK_APPEND);
    CHECK_EQ_U64(state.count, 1);
    const struct producer_entry *entry = producer_state_find(&state, 7);
    REQUIRE(entry != NULL);
    CHECK_EQ_U64(entry->batch_count, 2);
    CHECK_EQ_U64(entry->batches[1].last_sequence, 4);
    CHECK_EQ_U64(entry->batches[1].last_offset, 4);
    producer_state_deinit(&state);
}

TEST(each_of_the_five_retained_batches_is_a_duplicate_and_the_sixth_is_not)
{
    struct producer_state state;
    producer_state_init(&state, 16);
    i64 offset = 100;
    for (i32 b = 0; b < 6; b++) {
        struct record_batch_header header = batch_of(3, 2, b * 10, 10);
        CHECK(append(&state, &header, offset) == PRODUCER_CHECK_APPEND);
        offset += 10 + 1; /* Another producer's record between, so offsets differ. */
    }
    for (i32 b = 1; b < 6; b++) {
        struct record_batch_header retry = batch_of(3, 2, b * 10, 10);
        struct producer_batch where;
        CHECK(producer_state_check(&state, &retry, &where) == PRODUCER_CHECK_DUPLICATE);
        CHECK_EQ_U64(where.first_offset, 100 + b * 11);
        CHECK_EQ_U64(where.last_offset, 100 + b * 11 + 9);
    }
    struct record_batch_header oldest = batch_of(3, 2, 0, 10);
    CHECK(producer_state_check(&state, &oldest, NULL) == PRODUCER_CHECK_OUT_OF_SEQUENCE);
    /* The same first sequence with another length is no duplicate. */
    struct record_batch_header resized = batch_of(3, 2, 50, 5);
    CHECK(producer_state_check(&state, &resized, NULL) == PRODUCER_CHECK_OUT_OF_SEQUENCE);
    /* Nor is the same range from another epoch. */
    struct record_batch_header other_epoch = batch_of(3, 3, 50, 10);
    CHECK(producer_state_check(&state, &other_epoch, NULL) == PRODUCER_CHECK_OUT_OF_SEQUENCE);
    producer_state_deinit(&state);
}

TEST(epochs_fence_older_and_restart_sequences_when_newer)
{
    struct producer_state state;
    producer_state_init(&state, 16);
    struct record_batch_header header = batch_of(9, 4, 0, 5);
    CHECK(append(&state, &header, 0) == PRODUCER_CHECK_APPEND);
    struct record_batch_header older = batch_of(9, 3, 5, 1);
    CHECK(append(&state, &older, 5) == PRODUCER_CHECK_FENCED);
    struct record_batch_header newer_mid = batch_of(9, 5, 5, 1);
    CHECK(append(&state, &newer_mid, 5) == PRODUCER_CHECK_OUT_OF_SEQUENCE);
    struct record_batch_header newer = batch_of(9, 5, 0, 2);
    CHECK(append(&state, &newer, 5) == PRODUCER_CHECK_APPEND);
    const struct producer_entry *entry = producer_state_find(&state, 9);
    REQUIRE(entry != NULL);
    CHECK_EQ_U64(entry->epoch, 5);
    CHECK_EQ_U64(entry->batch_count, 1);
    /* The old epoch's batches are forgotten: their retry is fenced, not a duplicate. */
    struct record_batch_header old_retry = batch_of(9, 4, 0, 5);
    CHECK(append(&state, &old_retry, 7) == PRODUCER_CHECK_FENCED);
    producer_state_deinit(&state);
}

TEST(an_unknown_producer_is_accepted_at_any_sequence)
{
    struct producer_state state;
    producer_state_init(&state, 16);
    struct record_batch_header late = batch_of(11, 0, 1234, 2);
    CHECK(append(&state, &late, 0) == PRODUCER_CHECK_APPEND);
    struct record_batch_header next = batch_of(11, 0, 1236, 1);
    CHECK(append(&state, &next, 2) == PRODUCER_CHECK_APPEND);
    producer_state_deinit(&state);
}

TEST(sequences_wrap_from_int32_max_to_zero)
{
    struct producer_state state;
    producer_state_init(&state, 16);
    struct record_batch_header high = batch_of(5, 0, INT32_MAX - 2, 3);
    CHECK(append(&state, &high, 0) == PRODUCER_CHECK_APPEND);
    const struct producer_entry *entry = producer_state_find(&state, 5);
    REQUIRE(entry != NULL);
    CHECK_EQ_U64(entry->batches[0].last_sequence, INT32_MAX);
    struct record_batch_header wrapping = batch_of(5, 0, 0, 4);
    CHECK(append(&state, &wrapping, 3) == PRODUCER_CHECK_APPEND);
    /* A batch that itself crosses the wrap ends at a small sequence. */
    struct record_batch_header crossing = batch_of(6, 0, INT32_MAX - 1, 4);
    CHECK(append(&state, &crossing, 7) == PRODUCER_CHECK_APPEND);
    entry = producer_state_find(&state, 6);
    REQUIRE(entry != NULL);
    CHECK_EQ_U64(entry->batches[0].last_sequence, 1);
    struct record_batch_header after = batch_of(6, 0, 2, 1);
    CHECK(append(&state, &after, 11) == PRODUCER_CHECK_APPEND);
    struct record_batch_header retry = batch_of(6, 0, INT32_MAX - 1, 4);
    CHECK(producer_state_check(&state, &retry, NULL) == PRODUCER_CHECK_DUPLICATE);
    producer_state_deinit(&state);
}

TEST(a_new_producer_beyond_capacity_max_is_refused_known_ones_go_on)
{
    struct producer_state state;
    producer_state_init(&state, 20);
    for (i64 id = 0; id < 20; id++) {
        struct record_batch_header header = batch_of(1000 - id * 7, 0, 0, 1);
        CHECK(append(&state, &header, id) == PRODUCER_CHECK_APPEND);
    }
    CHECK_EQ_U64(state.count, 20);
    struct record_batch_header stranger = batch_of(5000, 0, 0, 1);
    CHECK(append(&state, &stranger, 20) == PRODUCER_CHECK_FULL);
    CHECK(!producer_state_update(&state, &stranger, 20));
    struct record_batch_header known = batch_of(1000, 0, 1, 1);
    CHECK(append(&state, &known, 20) == PRODUCER_CHECK_APPEND);
    for (u32 i = 1; i < state.count; i++) {
        CHECK(state.entries[i - 1].producer_id < state.entries[i].producer_id);
    }
    producer_state_deinit(&state);
}

TEST(control_batches_end_the_transaction_and_are_not_sequences)
{
    struct producer_state state;
    producer_state_init(&state, 16);
    struct record_batch_header data = batch_of(21, 1, 0, 3);
    data.Attributes = RECORD_ATTRIBUTE_TRANSACTIONAL;
    CHECK(append(&state, &data, 40) == PRODUCER_CHECK_APPEND);
    const struct producer_entry *entry = producer_state_find(&state, 21);
    REQUIRE(entry != NULL);
    CHECK_EQ_U64(entry->current_txn_first_offset, 40);
    struct record_batch_header more = batch_of(21, 1, 3, 1);
    more.Attributes = RECORD_ATTRIBUTE_TRANSACTIONAL;
    CHECK(append(&state, &more, 50) == PRODUCER_CHECK_APPEND);
    CHECK_EQ_U64(producer_state_find(&state, 21)->current_txn_first_offset, 40);
    struct record_batch_header marker = batch_of(21, 1, -1, 1);
    marker.Attributes = RECORD_ATTRIBUTE_TRANSACTIONAL | RECORD_ATTRIBUTE_CONTROL;
    CHECK(append(&state, &marker, 51) == PRODUCER_CHECK_APPEND);
    entry = producer_state_find(&state, 21);
    CHECK_EQ_U64(entry->current_txn_first_offset, (u64)-1);
    CHECK_EQ_U64(entry->batch_count, 2);
    struct record_batch_header next = batch_of(21, 1, 4, 1);
    CHECK(append(&state, &next, 52) == PRODUCER_CHECK_APPEND);
    struct record_batch_header stale_marker = batch_of(21, 0, -1, 1);
    stale_marker.Attributes = RECORD_ATTRIBUTE_TRANSACTIONAL | RECORD_ATTRIBUTE_CONTROL;
    CHECK(producer_state_check(&state, &stale_marker, NULL) == PRODUCER_CHECK_FENCED);
    producer_state_deinit(&state);
}

TEST(expiry_forgets_idle_producers_but_not_open_transactions)
{
    struct producer_state state;
    producer_state_init(&state, 16);
    struct record_batch_header old = batch_of(1, 0, 0, 1);
    old.MaxTimestamp = 1000;
    struct record_batch_header open = batch_of(2, 0, 0, 1);
    open.MaxTimestamp = 1000;
    open.Attributes = RECORD_ATTRIBUTE_TRANSACTIONAL;
    struct record_batch_header recent = batch_of(3, 0, 0, 1);
    recent.MaxTimestamp = 9000;
    CHECK(append(&state, &old, 0) == PRODUCER_CHECK_APPEND);
    CHECK(append(&state, &open, 1) == PRODUCER_CHECK_APPEND);
    CHECK(append(&state, &recent, 2) == PRODUCER_CHECK_APPEND);
    CHECK_EQ_U64(producer_state_expire(&state, 5999, 5000), 0);
    CHECK_EQ_U64(producer_state_expire(&state, 6000, 5000), 1);
    CHECK(producer_state_find(&state, 1) == NULL);
    CHECK(producer_state_find(&state, 2) != NULL);
    CHECK(producer_state_find(&state, 3) != NULL);
    /* Forgotten, it is a stranger again: any sequence is accepted. */
    struct record_batch_header back = batch_of(1, 0, 77, 1);
    CHECK(append(&state, &back, 3) == PRODUCER_CHECK_APPEND);
    producer_state_deinit(&state);
}

/* A state of a few producers, one of them without batches (only a marker). */
static void state_sample(struct producer_state *state)
{
    producer_state_init(state, 64);
    for (i64 id = 0; id < 6; id++) {
        for (i32 b = 0; b < 3; b++) {
            struct record_batch_header header = batch_of(id * 100 + 1, (i16)id, b * 4, 4);
            header.MaxTimestamp = 5000 + id;
            bool updated = producer_state_update(state, &header, id * 1000 + b * 10);
            CHECK(updated);
        }
    }
    struct record_batch_header marker = batch_of(999, 2, -1, 1);
    marker.Attributes = RECORD_ATTRIBUTE_CONTROL | RECORD_ATTRIBUTE_TRANSACTIONAL;
    bool updated = producer_state_update(state, &marker, 7000);
    CHECK(updated);
}

TEST(snapshot_round_trip_keeps_each_producers_newest_batch)
{
    struct producer_state state;
    state_sample(&state);
    u64 size = producer_state_snapshot_size(&state);
    CHECK_EQ_U64(size, PRODUCER_SNAPSHOT_HEADER_SIZE + 7 * PRODUCER_SNAPSHOT_ENTRY_SIZE);
    u8 *bytes = malloc(size);
    REQUIRE(bytes != NULL);
    CHECK_EQ_U64(producer_state_snapshot_encode(&state, bytes, size), size);
    CHECK_EQ_U64(load_u16_be(bytes), 1);
    CHECK_EQ_U64(load_u32_be(bytes + 2), crc32c(bytes + 6, size - 6));
    struct producer_state loaded;
    producer_state_init(&loaded, 64);
    REQUIRE(producer_state_snapshot_decode(&loaded, bytes, size));
    producer_state_invariants(&loaded);
    CHECK_EQ_U64(loaded.count, state.count);
    for (u32 i = 0; i < loaded.count; i++) {
        const struct producer_entry *a = &state.entries[i];
        const struct producer_entry *b = &loaded.entries[i];
        CHECK(a->producer_id == b->producer_id && a->epoch == b->epoch);
        CHECK(a->last_timestamp == b->last_timestamp);
        CHECK(a->current_txn_first_offset == b->current_txn_first_offset);
        if (a->batch_count == 0) {
            CHECK_EQ_U64(b->batch_count, 0);
            continue;
        }
        REQUIRE(b->batch_count == 1);
        CHECK(memcmp(&a->batches[a->batch_count - 1], &b->batches[0],
                     sizeof(b->batches[0])) == 0);
    }
    /* The newest batch is still a duplicate after the reload; the next sequence appends. */
    struct record_batch_header retry = batch_of(201, 2, 8, 4);
    CHECK(producer_state_check(&loaded, &retry, NULL) == PRODUCER_CHECK_DUPLICATE);
    struct record_batch_header next = batch_of(201, 2, 12, 1);
    CHECK(producer_state_check(&loaded, &next, NULL) == PRODUCER_CHECK_APPEND);
    /* Encoding the loaded state gives the same bytes. */
    u8 *again = malloc(size);
    REQUIRE(again != NULL);
    CHECK_EQ_U64(producer_state_snapshot_encode(&loaded, again, size), size);
    CHECK(memcmp(bytes, again, size) == 0);
    free(again);
    free(bytes);
    producer_state_deinit(&loaded);
    producer_state_deinit(&state);
}

TEST(damaged_snapshots_are_refused_and_never_over_read)
{
    struct producer_state state;
    state_sample(&state);
    u64 size = producer_state_snapshot_size(&state);
    u8 *good = malloc(size);
    REQUIRE(good != NULL);
    CHECK_EQ_U64(producer_state_snapshot_encode(&state, good, size), size);
    struct producer_state loaded;
    producer_state_init(&loaded, 64);
    for (u64 cut = 0; cut < size; cut++) {
        /* A heap copy of exactly cut bytes, so ASan sees any read past it. */
        u8 *part = malloc(cut == 0 ? 1 : cut);
        REQUIRE(part != NULL);
        memcpy(part, good, cut);
        CHECK(!producer_state_snapshot_decode(&loaded, part, cut));
        CHECK_EQ_U64(loaded.count, 0);
        free(part);
    }
    struct prng prng = prng_stream(42, 1);
    u8 *mutated = malloc(size);
    REQUIRE(mutated != NULL);
    for (u32 round = 0; round < 1000; round++) {
        memcpy(mutated, good, size);
        u32 flips = (u32)prng_range(&prng, 1, 4);
        for (u32 f = 0; f < flips; f++) {
            mutated[prng_below(&prng, size)] ^= (u8)(1u << prng_below(&prng, 8));
        }
        if (memcmp(mutated, good, size) == 0) continue;
        bool crc_ok = crc32c(mutated + 6, size - 6) == load_u32_be(mutated + 2);
        bool accepted = producer_state_snapshot_decode(&loaded, mutated, size);
        if (!crc_ok) CHECK(!accepted);
        if (accepted) producer_state_invariants(&loaded);
    }
    /* Well formed and correctly summed, but unsorted: refused. */
    memcpy(mutated, good, size);
    u8 *first = mutated + PRODUCER_SNAPSHOT_HEADER_SIZE;
    u8 *second = first + PRODUCER_SNAPSHOT_ENTRY_SIZE;
    u8 swap[PRODUCER_SNAPSHOT_ENTRY_SIZE];
    memcpy(swap, first, sizeof(swap));
    memcpy(first, second, sizeof(swap));
    memcpy(second, swap, sizeof(swap));
    store_u32_be(mutated + 2, crc32c(mutated + 6, size - 6));
    CHECK(!producer_state_snapshot_decode(&loaded, mutated, size));
    /* More entries than this partition may hold: refused. */
    struct producer_state small;
    producer_state_init(&small, 3);
    CHECK(!producer_state_snapshot_decode(&small, good, size));
    /* A wrong version: refused. */
    memcpy(mutated, good, size);
    store_u16_be(mutated, 2);
    CHECK(!producer_state_snapshot_decode(&loaded, mutated, size));
    CHECK(producer_state_snapshot_decode(&loaded, good, size));
    producer_state_deinit(&small);
    free(mutated);
    free(good);
    producer_state_deinit(&loaded);
    producer_state_deinit(&state);
}

static const struct test_case tests[] = {
    {"in_sequence_batches_append_and_others_are_refused",
     in_sequence_batches_append_and_others_are_refused},
    {"each_of_the_five_retained_batches_is_a_duplicate_and_the_sixth_is_not",
     each_of_the_five_retained_batches_is_a_duplicate_and_the_sixth_is_not},
    {"epochs_fence_older_and_restart_sequences_when_newer",
     epochs_fence_older_and_restart_sequences_when_newer},
    {"an_unknown_producer_is_accepted_at_any_sequence",
     an_unknown_producer_is_accepted_at_any_sequence},
    {"sequences_wrap_from_int32_max_to_zero", sequences_wrap_from_int32_max_to_zero},
    {"a_new_producer_beyond_capacity_max_is_refused_known_ones_go_on",
     a_new_producer_beyond_capacity_max_is_refused_known_ones_go_on},
    {"control_batches_end_the_transaction_and_are_not_sequences",
     control_batches_end_the_transaction_and_are_not_sequences},
    {"expiry_forgets_idle_producers_but_not_open_transactions",
     expiry_forgets_idle_producers_but_not_open_transactions},
    {"snapshot_round_trip_keeps_each_producers_newest_batch",
     snapshot_round_trip_keeps_each_producers_newest_batch},
    {"damaged_snapshots_are_refused_and_never_over_read",
     damaged_snapshots_are_refused_and_never_over_read},
};

TEST_MAIN(tests)
