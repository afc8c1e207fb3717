/* test_log_producers.c: idempotent producers in the partition log (log_producers.c): a retried
 * batch is answered with its first offsets and not written again, sequences and epochs are
 * enforced, and the producer state survives a clean close (snapshot), a crash (replay),
 * truncation (rebuild), truncate_fully (forgotten) and retention (kept). */
#include "test.h"

#include "log_fake_io.h"
#include "../../impl/log/log_internal.h"

static u8 batch_buffer[16 * 1024];

/* A batch of records records from producer id/epoch starting at sequence. */
static u32 producer_batch(i64 producer_id, i16 epoch, i32 sequence, u32 records, u32 tag)
{
    struct batch_builder builder;
    batch_builder_init(&builder, batch_buffer, sizeof(batch_buffer), 0, 1000 + tag);
    batch_builder_producer(&builder, producer_id, epoch, sequence, false);
    u8 value[64];
    for (u32 i = 0; i < records; i++) {
        memset(value, (int)(tag + i), sizeof(value));
        batch_builder_add(&builder, 1000 + tag + i, NULL, -1, value, sizeof(value), NULL, 0);
    }
    u64 size = batch_builder_finish(&builder);
    ASSERT(size > 0);
    return (u32)size;
}

/* Appends as a client (offsets assigned) and waits for the APPENDED event. */
static struct log_event send(struct log_harness *h, i64 producer_id, i16 epoch, i32 sequence,
                             u32 records, u32 tag)
{
    u32 size = producer_batch(producer_id, epoch, sequence, records, tag);
    ASSERT(partition_log_append(&h->log, batch_buffer, size, -1, true, 2) == LOG_OK);
    struct log_event event = harness_wait(h);
    ASSERT(event.kind == LOG_EVENT_APPENDED);
    return event;
}

static void close_only(struct log_harness *h)
{
    ASSERT(partition_log_close(&h->log, 11) == LOG_OK);
    struct log_event event = harness_wait(h);
    ASSERT(event.kind == LOG_EVENT_CLOSED && event.result == LOG_OK);
    partition_log_deinit(&h->log);
    h->initialised = false;
}

static void reopen_clean(struct log_harness *h)
{
    close_only(h);
    ASSERT(harness_open(h));
}

TEST(a_retry_is_answered_with_the_first_offsets_and_not_written)
{
    struct log_harness *h = harness_create(NULL, 1);
    struct log_event first = send(h, 42, 0, 0, 3, 1);
    CHECK(first.result == LOG_OK && !first.duplicate);
    CHECK(first.offset == 0 && first.last_offset == 2);
    struct log_event plain = send(h, -1, -1, -1, 2, 2); /* Not idempotent: offsets 3-4. */
    CHECK(plain.result == LOG_OK && plain.offset == 3);
    struct log_event second = send(h, 42, 0, 3, 2, 3);
    CHECK(second.result == LOG_OK && !second.duplicate && second.offset == 5);
    u64 size = partition_log_size_bytes(&h->log);
    struct log_event retry = send(h, 42, 0, 0, 3, 1);
    CHECK(retry.result == LOG_OK && retry.duplicate);
    CHECK(retry.offset == 0 && retry.last_offset == 2);
    retry = send(h, 42, 0, 3, 2, 3);
    CHECK(retry.result == LOG_OK && retry.duplicate && retry.offset == 5);
    CHECK(partition_log_end_offset(&h->log) == 7);
    CHECK_EQ_U64(partition_log_size_bytes(&h->log), size);
    harness_destroy(h);
}

TEST(out_of_sequence_and_fenced_batches_are_refused_and_the_log_goes_on)
{
    struct log_config config;
    harness_config(&config);
    config.producers_max = 1;
    struct log_harness *h = harness_create(&config, 2);
    CHECK(send(h, 7, 3, 0, 2, 1).result == LOG_OK);
    struct log_event gap = send(h, 7, 3, 5, 1, 2);
    CHECK(gap.result == LOG_ERR_OUT_OF_SEQUENCE);
    struct log_event old = send(h, 7, 2, 2, 1, 3);
    CHECK(old.result == LOG_ERR_PRODUCER_FENCED);
    struct log_event next = send(h, 7, 3, 2, 1, 4);
    CHECK(next.result == LOG_OK && next.offset == 2);
    struct log_event bumped = send(h, 7, 4, 0, 1, 5);
    CHECK(bumped.result == LOG_OK && bumped.offset == 3);
    CHECK(partition_log_end_offset(&h->log) == 4);
    /* Full (producers_max is 1): a new producer is refused, the known one goes on. */
    CHECK(send(h, 8, 0, 0, 1, 6).result == LOG_ERR_PRODUCERS_FULL);
    CHECK(send(h, 7, 4, 1, 1, 7).result == LOG_OK);
    harness_destroy(h);
}

TEST(a_replica_copy_updates_the_state_without_checks)
{
    struct log_harness *h = harness_create(NULL, 3);
    u32 size = producer_batch(9, 1, 10, 4, 1); /* Any sequence: the leader checked it. */
    batch_set_base_offset(batch_buffer, 0);
    REQUIRE(partition_log_append(&h->log, batch_buffer, size, 5, false, 4) == LOG_OK);
    CHECK(harness_wait(h).result == LOG_OK);
    /* Becoming leader, this replica deduplicates as its predecessor did. */
    struct log_event retry = send(h, 9, 1, 10, 4, 1);
    CHECK(retry.result == LOG_OK && retry.duplicate && retry.offset == 0);
    CHECK(send(h, 9, 1, 15, 1, 2).result == LOG_ERR_OUT_OF_SEQUENCE);
    CHECK(send(h, 9, 1, 14, 1, 2).result == LOG_OK);
    harness_destroy(h);
}

TEST(a_clean_close_snapshots_and_the_reopen_reads_no_segment)
{
    struct log_harness *h = harness_create(NULL, 4);
    for (i32 b = 0; b < 20; b++) CHECK(send(h, 100 + b % 4, 0, b / 4 * 3, 3, (u32)b).result == 0);
    reopen_clean(h);
    const struct producer_state *state = partition_log_producers(&h->log);
    CHECK_EQ_U64(state->count, 4);
    /* From the snapshot, not a replay: a snapshot keeps only each producer's newest batch. */
    const struct producer_entry *entry = producer_state_find(state, 101);
    REQUIRE(entry != NULL);
    CHECK_EQ_U64(entry->batch_count, 1);
    struct fake_file *snapshot = fake_io_file(h->fake, "t-0/00000000000000000060.snapshot");
    REQUIRE(snapshot != NULL);
    CHECK_EQ_U64(snapshot->durable.size,
                 PRODUCER_SNAPSHOT_HEADER_SIZE + 4 * PRODUCER_SNAPSHOT_ENTRY_SIZE);
    /* The newest batch of each producer is still known as such. */
    struct log_event retry = send(h, 103, 0, 12, 3, 19);
    CHECK(retry.result == LOG_OK && retry.duplicate && retry.offset == 57);
    CHECK(send(h, 101, 0, 16, 1, 20).result == LOG_ERR_OUT_OF_SEQUENCE);
    CHECK(send(h, 101, 0, 15, 1, 21).result == LOG_OK);
    harness_destroy(h);
}

TEST(a_crash_replays_the_batches_and_a_damaged_snapshot_is_not_trusted)
{
    struct log_harness *h = harness_create(NULL, 5);
    h->log.config.segment_bytes = 2048; /* Several segments to replay. */
    for (i32 b = 0; b < 30; b++) CHECK(send(h, 5 + b % 3, 2, b / 3 * 2, 2, (u32)b).result == 0);
    REQUIRE(partition_log_flush(&h->log, INT64_MAX, 6) == LOG_OK);
    CHECK(harness_wait(h).result == LOG_OK);
    REQUIRE(harness_crash_reopen(h, false));
    CHECK(partition_log_end_offset(&h->log) == 60);
    CHECK_EQ_U64(partition_log_producers(&h->log)->count, 3);
    struct log_event retry = send(h, 7, 2, 18, 2, 29);
    CHECK(retry.result == LOG_OK && retry.duplicate && retry.offset == 58);
    /* An older retained batch too: a replay keeps all five, unlike a snapshot. */
    retry = send(h, 7, 2, 14, 2, 23);
    CHECK(retry.result == LOG_OK && retry.duplicate && retry.offset == 46);
    /* A clean close, then the snapshot is damaged on disk: the open replays instead. */
    close_only(h);
    const char *path = "t-0/00000000000000000060.snapshot";
    REQUIRE(fake_io_file(h->fake, path) != NULL);
    fake_io_flip(h->fake, path, PRODUCER_SNAPSHOT_HEADER_SIZE + 3);
    REQUIRE(harness_open(h));
    CHECK_EQ_U64(partition_log_producers(&h->log)->count, 3);
    retry = send(h, 7, 2, 14, 2, 23); /* Only a replay knows this older batch. */
    CHECK(retry.result == LOG_OK && retry.duplicate && retry.offset == 46);
    harness_destroy(h);
}

TEST(truncation_forgets_what_it_removed)
{
    struct log_harness *h = harness_create(NULL, 6);
    for (i32 b = 0; b < 6; b++) CHECK(send(h, 50, 0, b * 2, 2, (u32)b).result == LOG_OK);
    REQUIRE(partition_log_truncate_to(&h->log, 8, 7) == LOG_OK);
    CHECK(harness_wait(h).result == LOG_OK);
    CHECK(partition_log_end_offset(&h->log) == 8);
    /* The batch at 8-9 is gone: its resend is a new append at 8, not a duplicate. */
    struct log_event again = send(h, 50, 0, 8, 2, 4);
    CHECK(again.result == LOG_OK && !again.duplicate && again.offset == 8);
    struct log_event kept = send(h, 50, 0, 6, 2, 3);
    CHECK(kept.result == LOG_OK && kept.duplicate && kept.offset == 6);
    REQUIRE(partition_log_truncate_fully(&h->log, 100, 8) == LOG_OK);
    CHECK(harness_wait(h).result == LOG_OK);
    CHECK_EQ_U64(partition_log_producers(&h->log)->count, 0);
    struct log_event fresh = send(h, 50, 0, 6, 2, 3);
    CHECK(fresh.result == LOG_OK && !fresh.duplicate && fresh.offset == 100);
    harness_destroy(h);
}

TEST(retention_keeps_producers_known_and_expiry_forgets_them)
{
    struct log_harness *h = harness_create(NULL, 7);
    h->log.config.segment_bytes = 300; /* Two batches per segment. */
    for (i32 b = 0; b < 12; b++) CHECK(send(h, 60, 1, b, 1, (u32)b).result == LOG_OK);
    REQUIRE(h->log.segment_count > 3);
    REQUIRE(partition_log_delete_records(&h->log, 11, 9) == LOG_OK);
    CHECK(harness_wait(h).result == LOG_OK);
    CHECK(partition_log_start_offset(&h->log) == 11);
    CHECK(send(h, 60, 1, 13, 1, 13).result == LOG_ERR_OUT_OF_SEQUENCE);
    CHECK(send(h, 60, 1, 12, 1, 12).result == LOG_OK);
    /* Idle past producer.id.expiration.ms: forgotten, so any sequence is taken again. */
    h->log.config.producer_id_expiration_ms = 5000;
    h->fake->wall_ns = (u64)(1000 + 12 + 5000) * NS_PER_MS;
    h->fake->now_ns += LOG_PRODUCERS_EXPIRE_INTERVAL_NS;
    partition_log_tick(&h->log);
    CHECK_EQ_U64(partition_log_producers(&h->log)->count, 0);
    CHECK(send(h, 60, 1, 40, 1, 14).result == LOG_OK);
    harness_destroy(h);
}

static const struct test_case tests[] = {
    {"a_retry_is_answered_with_the_first_offsets_and_not_written",
     a_retry_is_answered_with_the_first_offsets_and_not_written},
    {"out_of_sequence_and_fenced_batches_are_refused_and_the_log_goes_on",
     out_of_sequence_and_fenced_batches_are_refused_and_the_log_goes_on},
    {"a_replica_copy_updates_the_state_without_checks",
     a_replica_copy_updates_the_state_without_checks},
    {"a_clean_close_snapshots_and_the_reopen_reads_no_segment",
     a_clean_close_snapshots_and_the_reopen_reads_no_segment},
    {"a_crash_replays_the_batches_and_a_damaged_snapshot_is_not_trusted",
     a_crash_replays_the_batches_and_a_damaged_snapshot_is_not_trusted},
    {"truncation_forgets_what_it_removed", truncation_forgets_what_it_removed},
    {"retention_keeps_producers_known_and_expiry_forgets_them",
     retention_keeps_producers_known_and_expiry_forgets_them},
};

TEST_MAIN(tests)
