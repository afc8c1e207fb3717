/* Tests for impl/log/partition_log.c through its public API, over the in-memory fake io of
 * log_fake_io.h: opening, offset assignment, reads of whole batches with byte and offset
 * limits, the sparse index, rolling (size, time, full index), ListOffsets, truncation,
 * truncating fully (starting over at another offset), DeleteRecords and retention, flush
 * policy, the leader epoch cache (and its repair by recovery), close and reopen, I/O errors
 * taking the log offline, back-pressure, and events never delivered re-entrantly. */
#include "test.h"

#include "log_fake_io.h"

static u8 batch_buffer[70 * 1024];

/* Appends count batches of records records of value_size bytes; timestamps 1000 * i. */
static void append_many(struct log_harness *h, u32 count, u32 records, u32 value_size)
{
    for (u32 i = 0; i < count; i++) {
        u32 size = harness_batch(batch_buffer, sizeof(batch_buffer), 1000 * (i64)i, records,
                                 value_size, i);
        struct log_event event = harness_append(h, batch_buffer, size);
        ASSERT(event.result == LOG_OK);
    }
}

/* Walks the whole batches of a range, checking CRCs and offsets; returns how many. */
static u32 check_range(struct log_harness *h, const struct log_range *range)
{
    const u8 *bytes = harness_range_bytes(h, range);
    u64 position = 0;
    u32 batches = 0;
    i64 expected = range->first_offset;
    while (position < range->size) {
        struct record_batch_header header;
        CHECK(batch_validate(bytes + position, range->size - position, &header) == BATCH_OK);
        if (batches == 0) CHECK(header.BaseOffset == range->first_offset);
        CHECK(header.BaseOffset == expected);
        expected = header.BaseOffset + header.LastOffsetDelta + 1;
        position += (u64)header.BatchLength + RECORD_BATCH_LOG_OVERHEAD;
        batches++;
        if (batches > 100000) break;
    }
    CHECK(position == range->size);
    CHECK(expected == range->next_offset);
    return batches;
}

TEST(open_empty_creates_first_segment_and_checkpoints)
{
    struct log_harness *h = harness_create(NULL, 1);
    char path[IO_PATH_MAX];
    CHECK(partition_log_end_offset(&h->log) == 0);
    CHECK(partition_log_start_offset(&h->log) == 0);
    CHECK(fake_io_file(h->fake, harness_path(path, 0, ".log")) != NULL);
    CHECK(fake_io_file(h->fake, harness_path(path, 0, ".index")) != NULL);
    CHECK(fake_io_file(h->fake, harness_path(path, 0, ".timeindex")) != NULL);
    struct fake_file *checkpoint = fake_io_file(h->fake, "t-0/recovery-point-offset-checkpoint");
    REQUIRE(checkpoint != NULL);
    CHECK(checkpoint->durable.size == strlen("0\n1\nt 0 0\n"));
    CHECK(memcmp(checkpoint->durable.bytes, "0\n1\nt 0 0\n", checkpoint->durable.size) == 0);
    CHECK(fake_io_file(h->fake, "t-0/leader-epoch-checkpoint") != NULL);
    harness_destroy(h);
}

TEST(append_assigns_offsets_and_keeps_crc)
{
    struct log_harness *h = harness_create(NULL, 2);
    u32 records[] = {5, 1, 3};
    i64 expected = 0;
    for (u32 i = 0; i < 3; i++) {
        u32 size = harness_batch(batch_buffer, sizeof(batch_buffer), 100, records[i], 10, i);
        struct log_event event = harness_append(h, batch_buffer, size);
        CHECK(event.result == LOG_OK);
        CHECK(event.offset == expected);
        CHECK(event.last_offset == expected + records[i] - 1);
        expected += records[i];
        CHECK(event.log_end_offset == expected);
    }
    CHECK(partition_log_end_offset(&h->log) == 9);
    struct log_event read = harness_read(h, 0, 1 << 20, INT64_MAX);
    CHECK(read.result == LOG_OK);
    CHECK_EQ_U64(check_range(h, &read.range), 3);
    CHECK(read.range.next_offset == 9);
    harness_destroy(h);
}

TEST(append_rejects_bad_batches_at_once)
{
    struct log_harness *h = harness_create(NULL, 3);
    u32 size = harness_batch(batch_buffer, sizeof(batch_buffer), 0, 3, 10, 1);
    batch_buffer[size - 1] ^= 1; /* CRC no longer matches. */
    CHECK(partition_log_append(&h->log, batch_buffer, size, -1, true, 9) ==
          LOG_ERR_INVALID_BATCH);
    batch_buffer[size - 1] ^= 1;
    CHECK(partition_log_append(&h->log, batch_buffer, size - 1, -1, true, 9) ==
          LOG_ERR_INVALID_BATCH);
    memcpy(batch_buffer + size, batch_buffer, size); /* Two batches in one append. */
    CHECK(partition_log_append(&h->log, batch_buffer, 2 * size, -1, true, 9) ==
          LOG_ERR_INVALID_BATCH);
    h->log.config.max_message_bytes = size - 1;
    CHECK(partition_log_append(&h->log, batch_buffer, size, -1, true, 9) == LOG_ERR_TOO_LARGE);
    CHECK(h->event_count == 1); /* Only OPENED: rejected requests have no event. */
    harness_destroy(h);
}

TEST(follower_append_keeps_offsets_and_rejects_going_back)
{
    struct log_harness *h = harness_create(NULL, 4);
    u32 size = harness_batch(batch_buffer, sizeof(batch_buffer), 0, 4, 10, 1);
    batch_set_base_offset(batch_buffer, 10); /* A gap, as after compaction on the leader. */
    REQUIRE(partition_log_append(&h->log, batch_buffer, size, -1, false, 5) == LOG_OK);
    struct log_event event = harness_wait(h);
    CHECK(event.result == LOG_OK);
    CHECK(event.offset == 10);
    CHECK(partition_log_end_offset(&h->log) == 14);
    batch_set_base_offset(batch_buffer, 12);
    REQUIRE(partition_log_append(&h->log, batch_buffer, size, -1, false, 5) == LOG_OK);
    event = harness_wait(h);
    CHECK(event.result == LOG_ERR_OUT_OF_ORDER);
    CHECK(partition_log_end_offset(&h->log) == 14);
    /* A read at an offset inside the gap starts at the next batch. */
    struct log_event read = harness_read(h, 3, 1 << 20, INT64_MAX);
    CHECK(read.result == LOG_OK);
    CHECK(read.range.first_offset == 10);
    harness_destroy(h);
}

TEST(read_returns_whole_batches_within_limits)
{
    struct log_harness *h = harness_create(NULL, 5);
    h->log.config.segment_bytes = 1 << 30;
    append_many(h, 40, 3, 50); /* 40 batches of 3 records. */
    u32 batch_size = harness_batch(batch_buffer, sizeof(batch_buffer), 0, 3, 50, 0);
    /* An offset inside a batch: the range starts at the batch holding it. */
    struct log_event read = harness_read(h, 31, 1 << 20, INT64_MAX);
    CHECK(read.range.first_offset == 30);
    CHECK_EQ_U64(check_range(h, &read.range), 30);
    CHECK(read.range.next_offset == 120);
    /* max_bytes smaller than a batch: still one whole batch (Kafka's minOneMessage). */
    read = harness_read(h, 60, 10, INT64_MAX);
    CHECK_EQ_U64(check_range(h, &read.range), 1);
    CHECK(read.range.first_offset == 60);
    CHECK(read.range.next_offset == 63);
    /* max_bytes for 2.5 batches: 2 batches. */
    read = harness_read(h, 3, batch_size * 5 / 2, INT64_MAX);
    CHECK_EQ_U64(check_range(h, &read.range), 2);
    CHECK(read.range.next_offset == 9);
    /* max_bytes far beyond the index interval uses the index to jump, same answer. */
    read = harness_read(h, 0, batch_size * 25, INT64_MAX);
    CHECK_EQ_U64(check_range(h, &read.range), 25);
    /* The offset limit (high watermark) stops before a batch not wholly below it. */
    read = harness_read(h, 0, 1 << 20, 50);
    CHECK(read.range.next_offset == 48);
    CHECK_EQ_U64(check_range(h, &read.range), 16);
    /* At the end: empty; beyond: out of range. */
    read = harness_read(h, 120, 1 << 20, INT64_MAX);
    CHECK(read.result == LOG_OK);
    CHECK(read.range.size == 0);
    read = harness_read(h, 121, 1 << 20, INT64_MAX);
    CHECK(read.result == LOG_ERR_OUT_OF_RANGE);
    harness_destroy(h);
}

TEST(index_entries_follow_the_interval)
{
    struct log_harness *h = harness_create(NULL, 6);
    h->log.config.segment_bytes = 1 << 30;
    for (u32 i = 0; i < 50; i++) {
        u32 size = harness_batch(batch_buffer, sizeof(batch_buffer), i, 2, 100, 7);
        harness_append(h, batch_buffer, size); /* All the same size. */
    }
    const struct segment *segment = &h->log.segments[0];
    u32 batch_size = harness_batch(batch_buffer, sizeof(batch_buffer), 0, 2, 100, 7);
    /* An entry whenever more than 1024 bytes were added since the last. */
    u32 per_entry = 1024 / batch_size + 1;
    CHECK(segment->index.count == 50 / per_entry - (50 % per_entry == 0 ? 1 : 0));
    for (u32 i = 0; i < segment->index.count; i++) {
        const struct offset_index_entry *entry = &segment->index.entries[i];
        CHECK(entry->position % batch_size == 0);
        CHECK(entry->relative_offset == (i32)((entry->position / batch_size) * 2 + 1));
        CHECK(entry->position == (i + 1) * per_entry * batch_size);
    }
    for (i64 offset = 0; offset < 100; offset++) {
        u64 position = offset_index_lookup(&segment->index, 0, offset);
        CHECK(position <= (u64)(offset / 2) * batch_size);
        CHECK((u64)(offset / 2) * batch_size - position <= 1024 + batch_size);
    }
    CHECK(segment->time.count >= 1);
    harness_destroy(h);
}

TEST(roll_on_segment_bytes_and_flush_behind)
{
    struct log_harness *h = harness_create(NULL, 7);
    append_many(h, 60, 4, 200); /* About 60 KB into 16 KB segments. */
    CHECK(h->log.segment_count >= 4);
    for (u32 i = 0; i < h->log.segment_count; i++) {
        const struct segment *segment = &h->log.segments[i];
        CHECK(segment->size <= h->log.config.segment_bytes);
        if (i > 0) CHECK(segment->base_offset == h->log.segments[i - 1].next_offset);
        if (i + 1 < h->log.segment_count) {
            CHECK(segment->closed);
            CHECK(segment->indexes_durable);
            CHECK(segment->log_synced);
        }
    }
    /* The roll flushed everything before the active segment. */
    CHECK(h->log.recovery_point == h->log.segments[h->log.segment_count - 1].base_offset);
    /* Every offset reads back from its own segment. */
    for (i64 offset = 0; offset < 240; offset += 7) {
        struct log_event read = harness_read(h, offset, 1, INT64_MAX);
        CHECK(read.result == LOG_OK);
        CHECK(read.range.first_offset == offset / 4 * 4);
        CHECK_EQ_U64(check_range(h, &read.range), 1);
    }
    harness_destroy(h);
}

TEST(roll_on_segment_ms_by_record_time)
{
    struct log_config config;
    harness_config(&config);
    config.segment_bytes = 1 << 30;
    config.segment_ms = 10000;
    struct log_harness *h = harness_create(&config, 8);
    for (u32 i = 0; i < 10; i++) {
        u32 size = harness_batch(batch_buffer, sizeof(batch_buffer), 4000 * (i64)i, 1, 10, i);
        harness_append(h, batch_buffer, size);
    }
    /* Timestamps 0..36000 with rolls when more than 10000 ms after a segment's first batch. */
    CHECK_EQ_U64(h->log.segment_count, 4);
    CHECK(h->log.segments[1].base_offset == 3);
    CHECK(h->log.segments[2].base_offset == 6);
    CHECK(h->log.segments[3].base_offset == 9);
    harness_destroy(h);
}

TEST(roll_when_index_is_full)
{
    struct log_config config;
    harness_config(&config);
    config.segment_bytes = 1 << 30;
    config.segment_index_bytes = 48; /* 6 offset entries, 4 time entries. */
    config.index_interval_bytes = 1;
    struct log_harness *h = harness_create(&config, 9);
    append_many(h, 20, 1, 10);
    CHECK(h->log.segment_count >= 4);
    for (u32 i = 0; i < h->log.segment_count; i++) {
        CHECK(h->log.segments[i].time.count <= 4);
        CHECK(h->log.segments[i].index.count <= 6);
    }
    struct log_event read = harness_read(h, 0, 1 << 20, INT64_MAX);
    CHECK(read.range.first_offset == 0);
    harness_destroy(h);
}

static struct log_event list_offset(struct log_harness *h, i64 timestamp)
{
    ASSERT(partition_log_list_offset(&h->log, timestamp, 4) == LOG_OK);
    struct log_event event = harness_wait(h);
    ASSERT(event.kind == LOG_EVENT_OFFSET_FOUND);
    return event;
}

TEST(list_offsets_earliest_latest_and_by_time)
{
    struct log_harness *h = harness_create(NULL, 10);
    /* Batch i holds 4 records with timestamps 1000 * i + 0..3. */
    append_many(h, 60, 4, 200);
    CHECK(list_offset(h, LOG_TIMESTAMP_EARLIEST).offset == 0);
    CHECK(list_offset(h, LOG_TIMESTAMP_LATEST).offset == 240);
    struct log_event max = list_offset(h, LOG_TIMESTAMP_MAX);
    CHECK(max.timestamp == 59003);
    CHECK(max.offset == 239);
    struct log_event event = list_offset(h, 0);
    CHECK(event.offset == 0);
    event = list_offset(h, 2002); /* Record 2 of batch 2. */
    CHECK(event.offset == 10);
    CHECK(event.timestamp == 2002);
    event = list_offset(h, 2004); /* Between batches: the first record of batch 3. */
    CHECK(event.offset == 12);
    CHECK(event.timestamp == 3000);
    for (i64 t = 0; t < 60000; t += 777) {
        event = list_offset(h, t);
        i64 batch = t / 1000, within = t % 1000;
        i64 expected = within <= 3 ? batch * 4 + within : (batch + 1) * 4;
        if (expected >= 240) expected = -1;
        CHECK(event.offset == expected);
    }
    CHECK(list_offset(h, 59004).offset == -1);
    harness_destroy(h);
}

TEST(truncate_to_drops_the_batch_holding_the_offset_and_later_segments)
{
    struct log_harness *h = harness_create(NULL, 11);
    append_many(h, 60, 4, 200);
    u32 segments_before = h->log.segment_count;
    REQUIRE(segments_before >= 4);
    i64 target = h->log.segments[1].base_offset + 6; /* Inside a batch of segment 1. */
    REQUIRE(partition_log_truncate_to(&h->log, target, 6) == LOG_OK);
    struct log_event event = harness_wait(h);
    CHECK(event.kind == LOG_EVENT_TRUNCATED);
    CHECK(event.result == LOG_OK);
    CHECK(event.offset == target - 2); /* The batch start: batches hold 4 records. */
    CHECK(partition_log_end_offset(&h->log) == target - 2);
    CHECK_EQ_U64(h->log.segment_count, 2);
    char path[IO_PATH_MAX];
    CHECK(fake_io_file(h->fake, harness_path(path, h->log.segments[1].base_offset, ".log")) !=
          NULL);
    struct fake_file *log_file = fake_io_file(h->fake, path);
    CHECK(log_file->durable.size == h->log.segments[1].size); /* Cut and synced. */
    /* Appends continue at the new end, in the same segment. */
    u32 size = harness_batch(batch_buffer, sizeof(batch_buffer), 0, 2, 10, 99);
    event = harness_append(h, batch_buffer, size);
    CHECK(event.offset == target - 2);
    struct log_event read = harness_read(h, 0, 1 << 20, INT64_MAX);
    CHECK(read.result == LOG_OK);
    /* Truncating at a segment base empties it. */
    i64 base = h->log.segments[1].base_offset;
    REQUIRE(partition_log_truncate_to(&h->log, base, 6) == LOG_OK);
    event = harness_wait(h);
    CHECK(event.offset == base);
    CHECK(h->log.segments[1].size == 0);
    harness_destroy(h);
}

TEST(delete_records_moves_the_start_and_deletes_whole_segments)
{
    struct log_harness *h = harness_create(NULL, 12);
    append_many(h, 60, 4, 200);
    REQUIRE(h->log.segment_count >= 4);
    u32 before = h->log.segment_count;
    i64 target = h->log.segments[2].base_offset + 3;
    REQUIRE(partition_log_delete_records(&h->log, target, 7) == LOG_OK);
    struct log_event event = harness_wait(h);
    CHECK(event.kind == LOG_EVENT_START_ADVANCED);
    CHECK(event.result == LOG_OK);
    CHECK_EQ_U64(event.segments_deleted, 2);
    CHECK(event.log_start_offset == target);
    CHECK_EQ_U64(h->log.segment_count, before - 2);
    char path[IO_PATH_MAX];
    CHECK(fake_io_file(h->fake, harness_path(path, 0, ".log")) == NULL);
    CHECK(fake_io_file(h->fake, harness_path(path, 0, ".index")) == NULL);
    CHECK(harness_read(h, target - 1, 100, INT64_MAX).result == LOG_ERR_OUT_OF_RANGE);
    CHECK(harness_read(h, target, 100, INT64_MAX).result == LOG_OK);
    CHECK(list_offset(h, LOG_TIMESTAMP_EARLIEST).offset == target);
    struct fake_file *checkpoint = fake_io_file(h->fake, "t-0/log-start-offset-checkpoint");
    REQUIRE(checkpoint != NULL);
    char expected[64];
    snprintf(expected, sizeof(expected), "0\n1\nt 0 %lld\n", (long long)target);
    CHECK(checkpoint->durable.size == strlen(expected));
    CHECK(memcmp(checkpoint->durable.bytes, expected, strlen(expected)) == 0);
    /* Beyond the end is refused; the active segment is never deleted. */
    REQUIRE(partition_log_delete_records(&h->log, 100000, 7) == LOG_OK);
    CHECK(harness_wait(h).result == LOG_ERR_OUT_OF_RANGE);
    i64 end = partition_log_end_offset(&h->log);
    REQUIRE(partition_log_delete_records(&h->log, end, 7) == LOG_OK);
    CHECK(harness_wait(h).result == LOG_OK);
    CHECK_EQ_U64(h->log.segment_count, 1);
    CHECK(partition_log_start_offset(&h->log) == end);
    harness_destroy(h);
}

/* Whether the durable text of a file is exactly text. */
static bool durable_is(struct log_harness *h, const char *path, const char *text)
{
    struct fake_file *file = fake_io_file(h->fake, path);
    return file != NULL && file->durable.size == strlen(text) &&
           memcmp(file->durable.bytes, text, file->durable.size) == 0;
}

/* The log is the empty one at offset: one segment there, nothing else on disk, checkpoints
 * saying so, no leader epoch, no marker left. */
static void check_started_over(struct log_harness *h, i64 offset, i64 old_first_base)
{
    char path[IO_PATH_MAX], text[64];
    CHECK(partition_log_start_offset(&h->log) == offset);
    CHECK(partition_log_end_offset(&h->log) == offset);
    CHECK_EQ_U64(h->log.segment_count, 1);
    CHECK(h->log.segments[0].base_offset == offset);
    CHECK(partition_log_latest_epoch(&h->log) == -1);
    CHECK(fake_io_file(h->fake, harness_path(path, offset, ".log")) != NULL);
    CHECK(fake_io_file(h->fake, harness_path(path, offset, ".index")) != NULL);
    CHECK(fake_io_file(h->fake, harness_path(path, offset, ".timeindex")) != NULL);
    if (old_first_base != offset) {
        CHECK(fake_io_file(h->fake, harness_path(path, old_first_base, ".log")) == NULL);
        CHECK(fake_io_file(h->fake, harness_path(path, old_first_base, ".index")) == NULL);
    }
    CHECK(fake_io_file(h->fake, harness_path(path, offset, ".start-over")) == NULL);
    snprintf(text, sizeof(text), "0\n1\nt 0 %lld\n", (long long)offset);
    CHECK(durable_is(h, "t-0/log-start-offset-checkpoint", text));
    CHECK(durable_is(h, "t-0/recovery-point-offset-checkpoint", text));
    CHECK(durable_is(h, "t-0/leader-epoch-checkpoint", "0\n0\n"));
}

TEST(truncate_fully_starts_an_empty_log_past_the_end_or_below_the_start)
{
    struct log_harness *h = harness_create(NULL, 24);
    for (u32 i = 0; i < 40; i++) {
        u32 size = harness_batch(batch_buffer, sizeof(batch_buffer), 1000 * (i64)i, 4, 200, i);
        REQUIRE(partition_log_append(&h->log, batch_buffer, size, 1 + (i32)i / 10, true, 1) ==
                LOG_OK);
        REQUIRE(harness_wait(h).result == LOG_OK);
    }
    REQUIRE(h->log.segment_count >= 3);
    CHECK(partition_log_truncate_fully(&h->log, -1, 5) == LOG_ERR_OUT_OF_RANGE);
    CHECK_EQ_U64(h->event_count, 41); /* Refused at once: no event. */
    /* Past the end (a follower behind its leader's log start). */
    REQUIRE(partition_log_truncate_fully(&h->log, 1000, 5) == LOG_OK);
    CHECK_EQ_U64(h->event_count, 41); /* Never inside the call. */
    struct log_event event = harness_wait(h);
    CHECK(event.kind == LOG_EVENT_TRUNCATED);
    CHECK(event.result == LOG_OK);
    CHECK(event.user_data == 5);
    CHECK(event.offset == 1000 && event.log_start_offset == 1000 && event.log_end_offset == 1000);
    check_started_over(h, 1000, 0);
    CHECK(harness_read(h, 999, 100, INT64_MAX).result == LOG_ERR_OUT_OF_RANGE);
    /* The log goes on from there, and a reopen (clean, then after a crash) finds it. */
    u32 size = harness_batch(batch_buffer, sizeof(batch_buffer), 0, 3, 10, 77);
    REQUIRE(partition_log_append(&h->log, batch_buffer, size, 9, true, 1) == LOG_OK);
    event = harness_wait(h);
    CHECK(event.offset == 1000 && event.last_offset == 1002);
    CHECK(partition_log_latest_epoch(&h->log) == 9);
    REQUIRE(partition_log_close(&h->log, 1) == LOG_OK);
    REQUIRE(harness_wait(h).result == LOG_OK);
    partition_log_deinit(&h->log);
    h->initialised = false;
    REQUIRE(harness_open(h));
    CHECK(partition_log_start_offset(&h->log) == 1000);
    CHECK(partition_log_end_offset(&h->log) == 1003);
    REQUIRE(harness_crash_reopen(h, false));
    CHECK(partition_log_start_offset(&h->log) == 1000);
    CHECK(partition_log_end_offset(&h->log) >= 1000);
    /* Below the log start (a leader whose log ends below the follower's start). */
    REQUIRE(partition_log_truncate_fully(&h->log, 7, 6) == LOG_OK);
    event = harness_wait(h);
    CHECK(event.offset == 7 && event.result == LOG_OK);
    check_started_over(h, 7, 1000);
    /* A follower's copy lands at the leader's offsets. */
    size = harness_batch(batch_buffer, sizeof(batch_buffer), 0, 2, 10, 78);
    batch_set_base_offset(batch_buffer, 7);
    batch_set_leader_epoch(batch_buffer, 4);
    REQUIRE(partition_log_append(&h->log, batch_buffer, size, -1, false, 1) == LOG_OK);
    CHECK(harness_wait(h).offset == 7);
    CHECK(partition_log_end_offset(&h->log) == 9);
    /* Already the empty log asked for: done without touching the disk. */
    REQUIRE(partition_log_truncate_fully(&h->log, 9, 6) == LOG_OK);
    harness_wait(h);
    REQUIRE(partition_log_truncate_fully(&h->log, 9, 6) == LOG_OK);
    u64 operations = h->fake->operations;
    CHECK(harness_wait(h).result == LOG_OK);
    CHECK(h->fake->operations - operations <= 1); /* The deferring listing at most. */
    check_started_over(h, 9, 7);
    harness_destroy(h);
}

TEST(recovery_repairs_an_epoch_checkpoint_the_batches_contradict)
{
    struct log_harness *h = harness_create(NULL, 25);
    i32 epochs[] = {0, 0, 0, 2, 2};
    for (u32 i = 0; i < ARRAY_LEN(epochs); i++) {
        u32 size = harness_batch(batch_buffer, sizeof(batch_buffer), 0, 2, 10, i);
        REQUIRE(partition_log_append(&h->log, batch_buffer, size, epochs[i], true, 1) == LOG_OK);
        REQUIRE(harness_wait(h).result == LOG_OK);
    }
    REQUIRE(partition_log_flush(&h->log, INT64_MAX, 1) == LOG_OK);
    REQUIRE(harness_wait(h).result == LOG_OK);
    REQUIRE(durable_is(h, "t-0/leader-epoch-checkpoint", "0\n2\n0 0\n2 6\n"));
    /* One flipped bit turns "0 0" into "1 0": still a valid checkpoint, saying epoch 1 began at
     * offset 0 (as "8 0" did in the simulator's seed 1280 of the flushed swarm). A leader
     * answering fetches from that cache tells a follower whose last epoch is 0 that epoch 0
     * ended at 0: every follower cuts to 0, below committed batches, again and again. */
    struct fake_file *checkpoint = fake_io_file(h->fake, "t-0/leader-epoch-checkpoint");
    REQUIRE(checkpoint != NULL && checkpoint->durable.size > 4);
    checkpoint->durable.bytes[4] ^= 0x01;
    checkpoint->current.bytes[4] ^= 0x01;
    REQUIRE(harness_crash_reopen(h, false));
    /* Recovery scanned the batches, which are the truth: epochs 0 from 0 and 2 from 6. */
    CHECK_EQ_U64(h->log.epoch_count, 2);
    CHECK(partition_log_latest_epoch(&h->log) == 2);
    i32 found = -1;
    i64 end = -1;
    partition_log_epoch_end_offset(&h->log, 0, &found, &end);
    CHECK(found == 0 && end == 6);
    partition_log_epoch_end_offset(&h->log, 1, &found, &end);
    CHECK(found == 0 && end == 6);
    CHECK(durable_is(h, "t-0/leader-epoch-checkpoint", "0\n2\n0 0\n2 6\n"));
    harness_destroy(h);
}

TEST(retention_by_size_and_time_deletes_old_segments_never_the_active)
{
    struct log_harness *h = harness_create(NULL, 13);
    append_many(h, 60, 4, 200);
    u32 before = h->log.segment_count;
    REQUIRE(before >= 4);
    h->log.config.retention_ms = -1;
    h->log.config.retention_bytes = (i64)partition_log_size_bytes(&h->log) -
                                    (i64)h->log.segments[0].size;
    REQUIRE(partition_log_enforce_retention(&h->log, 8) == LOG_OK);
    struct log_event event = harness_wait(h);
    CHECK_EQ_U64(event.segments_deleted, 1);
    CHECK_EQ_U64(h->log.segment_count, before - 1);
    CHECK(partition_log_start_offset(&h->log) == h->log.segments[0].base_offset);
    /* Time: segments whose newest record is older than retention.ms go. Batch timestamps are
     * 0..59003 ms; "now" is far later, so all but the active one expire. */
    h->log.config.retention_bytes = -1;
    h->log.config.retention_ms = 1000;
    REQUIRE(partition_log_enforce_retention(&h->log, 8) == LOG_OK);
    event = harness_wait(h);
    CHECK_EQ_U64(h->log.segment_count, 1);
    CHECK(event.segments_deleted == before - 2);
    /* Nothing left to delete. */
    REQUIRE(partition_log_enforce_retention(&h->log, 8) == LOG_OK);
    CHECK(harness_wait(h).segments_deleted == 0);
    harness_destroy(h);
}

TEST(flush_messages_syncs_and_moves_the_recovery_point)
{
    struct log_config config;
    harness_config(&config);
    config.flush_messages = 3;
    struct log_harness *h = harness_create(&config, 14);
    u64 syncs = h->fake->syncs;
    append_many(h, 2, 1, 10);
    CHECK(h->fake->syncs == syncs);     /* Default: no sync per append. */
    CHECK(h->log.recovery_point == 0);
    append_many(h, 1, 1, 10);
    CHECK(h->fake->syncs == syncs + 1); /* The third message forces one. */
    CHECK(h->log.recovery_point == 3);
    /* An explicit flush writes the recovery point checkpoint. */
    append_many(h, 1, 1, 10);
    REQUIRE(partition_log_flush(&h->log, INT64_MAX, 9) == LOG_OK);
    struct log_event event = harness_wait(h);
    CHECK(event.kind == LOG_EVENT_FLUSHED);
    CHECK(event.recovery_point == 4);
    struct fake_file *checkpoint = fake_io_file(h->fake, "t-0/recovery-point-offset-checkpoint");
    CHECK(checkpoint->durable.size == strlen("0\n1\nt 0 4\n"));
    CHECK(memcmp(checkpoint->durable.bytes, "0\n1\nt 0 4\n", checkpoint->durable.size) == 0);
    harness_destroy(h);
}

TEST(flush_ms_on_tick)
{
    struct log_config config;
    harness_config(&config);
    config.flush_ms = 100;
    struct log_harness *h = harness_create(&config, 15);
    append_many(h, 3, 1, 10);
    partition_log_tick(&h->log);
    fake_io_run(h->fake, &h->log);
    CHECK(h->log.recovery_point == 0);
    h->fake->now_ns += 101 * NS_PER_MS;
    u32 events = h->event_count;
    partition_log_tick(&h->log);
    fake_io_run(h->fake, &h->log);
    CHECK(h->log.recovery_point == 3);
    CHECK(h->event_count == events); /* Internal: no event. */
    harness_destroy(h);
}

TEST(leader_epoch_cache_and_checkpoint)
{
    struct log_harness *h = harness_create(NULL, 16);
    i32 epochs[] = {1, 1, 2, 2, 5, 3};
    for (u32 i = 0; i < ARRAY_LEN(epochs); i++) {
        u32 size = harness_batch(batch_buffer, sizeof(batch_buffer), 0, 2, 10, i);
        REQUIRE(partition_log_append(&h->log, batch_buffer, size, epochs[i], true, 1) == LOG_OK);
        CHECK(harness_wait(h).result == LOG_OK);
    }
    /* The batch of epoch 3 after epoch 5 contradicts the entry for 5, which goes (Kafka's
     * assign: the batches are the truth; a leader never goes back, but a damaged checkpoint
     * can claim what the batches deny). */
    CHECK_EQ_U64(h->log.epoch_count, 3);
    CHECK(partition_log_latest_epoch(&h->log) == 3);
    i32 found = 0;
    i64 end = 0;
    partition_log_epoch_end_offset(&h->log, 1, &found, &end);
    CHECK(found == 1 && end == 4);
    partition_log_epoch_end_offset(&h->log, 2, &found, &end);
    CHECK(found == 2 && end == 10);
    partition_log_epoch_end_offset(&h->log, 5, &found, &end);
    CHECK(found == 3 && end == 12);
    partition_log_epoch_end_offset(&h->log, 0, &found, &end);
    CHECK(found == -1 && end == -1);
    CHECK(durable_is(h, "t-0/leader-epoch-checkpoint", "0\n3\n1 0\n2 4\n3 10\n"));
    /* Truncation drops epochs starting at or after the new end. */
    REQUIRE(partition_log_truncate_to(&h->log, 8, 1) == LOG_OK);
    harness_wait(h);
    CHECK(partition_log_latest_epoch(&h->log) == 2);
    /* They survive a restart. */
    REQUIRE(harness_crash_reopen(h, false));
    CHECK_EQ_U64(h->log.epoch_count, 2);
    CHECK(partition_log_latest_epoch(&h->log) == 2);
    /* Without the checkpoint, recovery finds them in the batches it scans. */
    fake_io_unlink(h->fake, "t-0/leader-epoch-checkpoint");
    REQUIRE(harness_crash_reopen(h, false));
    CHECK_EQ_U64(h->log.epoch_count, 2);
    partition_log_epoch_end_offset(&h->log, 1, &found, &end);
    CHECK(found == 1 && end == 4);
    harness_destroy(h);
}

TEST(close_then_reopen_loads_indexes_without_scanning)
{
    struct log_harness *h = harness_create(NULL, 17);
    append_many(h, 60, 4, 200);
    u32 segments = h->log.segment_count;
    u32 index_counts[64], time_counts[64];
    REQUIRE(segments < 64);
    for (u32 i = 0; i < segments; i++) {
        index_counts[i] = h->log.segments[i].index.count;
        time_counts[i] = h->log.segments[i].time.count;
    }
    /* The active segment's in-memory indexes are what a clean reopen must find on disk. */
    REQUIRE(partition_log_close(&h->log, 11) == LOG_OK);
    struct log_event event = harness_wait(h);
    CHECK(event.kind == LOG_EVENT_CLOSED);
    CHECK(event.recovery_point == 240);
    CHECK(partition_log_append(&h->log, batch_buffer, 100, -1, true, 1) != LOG_OK);
    partition_log_deinit(&h->log);
    h->initialised = false;
    u64 operations = h->fake->operations;
    REQUIRE(harness_open(h));
    CHECK(partition_log_end_offset(&h->log) == 240);
    CHECK_EQ_U64(h->log.segment_count, segments);
    for (u32 i = 0; i < segments; i++) {
        CHECK_EQ_U64(h->log.segments[i].index.count, index_counts[i]);
        CHECK_EQ_U64(h->log.segments[i].time.count, time_counts[i]);
    }
    /* Nothing was scanned, not even the active segment (the clean shutdown record said where it
     * ends): per segment 3 opens and 2 index reads, plus a few fixed operations. */
    CHECK(h->fake->operations - operations <= 5 * segments + 16);
    CHECK(!h->log.segments[segments - 1].closed);
    CHECK(fake_io_file(h->fake, "t-0/clean-shutdown") == NULL); /* Used up. */
    /* The log goes on; a crash now recovers by scanning again. */
    append_many(h, 5, 4, 200);
    CHECK(partition_log_end_offset(&h->log) == 260);
    struct log_event read = harness_read(h, 250, 1, INT64_MAX);
    CHECK(read.result == LOG_OK && read.range.first_offset == 248);
    REQUIRE(harness_crash_reopen(h, false));
    CHECK(partition_log_end_offset(&h->log) >= 240);
    harness_destroy(h);
}

TEST(io_error_takes_the_log_offline)
{
    struct log_harness *h = harness_create(NULL, 18);
    append_many(h, 2, 1, 10);
    h->fake->fail_at = h->fake->operations + 1;
    h->fake->fail_result = IO_ERR_NO_SPACE;
    u32 size = harness_batch(batch_buffer, sizeof(batch_buffer), 0, 1, 10, 1);
    REQUIRE(partition_log_append(&h->log, batch_buffer, size, -1, true, 1) == LOG_OK);
    struct log_event event = harness_wait(h);
    CHECK(event.result == LOG_ERR_IO);
    CHECK(partition_log_append(&h->log, batch_buffer, size, -1, true, 1) == LOG_ERR_OFFLINE);
    CHECK(partition_log_read(&h->log, 0, 100, INT64_MAX, 1) == LOG_ERR_OFFLINE);
    /* A restart recovers what was written. */
    h->fake->fail_at = 0;
    REQUIRE(harness_crash_reopen(h, true));
    CHECK(partition_log_end_offset(&h->log) <= 2);
    harness_destroy(h);
}

TEST(rejected_issue_inside_a_call_returns_an_error_without_event)
{
    struct log_harness *h = harness_create(NULL, 19);
    h->fake->fail_at = h->fake->operations + 1;
    h->fake->fail_result = IO_ERR_LIMIT;
    h->fake->fail_sync_reject = true;
    u32 size = harness_batch(batch_buffer, sizeof(batch_buffer), 0, 1, 10, 1);
    /* The write is refused at once: the error comes as an event, after the call returns. */
    CHECK(partition_log_append(&h->log, batch_buffer, size, -1, true, 1) == LOG_OK);
    CHECK_EQ_U64(h->event_count, 1);
    fake_io_run(h->fake, &h->log);
    REQUIRE(h->event_count == 2);
    CHECK(h->events[1].result == LOG_ERR_IO);
    CHECK(partition_log_read(&h->log, 0, 1, INT64_MAX, 1) == LOG_ERR_OFFLINE);
    harness_destroy(h);
    /* When even the deferring listing is refused, the call itself reports the error. */
    h = harness_create(NULL, 19);
    h->fake->fail_at = h->fake->operations + 1;
    h->fake->fail_count = 2;
    h->fake->fail_result = IO_ERR_LIMIT;
    h->fake->fail_sync_reject = true;
    CHECK(partition_log_append(&h->log, batch_buffer, size, -1, true, 1) == LOG_ERR_IO);
    fake_io_run(h->fake, &h->log);
    CHECK_EQ_U64(h->event_count, 1);
    harness_destroy(h);
}

TEST(queue_applies_back_pressure_and_keeps_order)
{
    struct log_config config;
    harness_config(&config);
    config.requests_max = 3;
    struct log_harness *h = harness_create(&config, 20);
    static u8 batches[5][256];
    u32 sizes[5];
    for (u32 i = 0; i < 5; i++) sizes[i] = harness_batch(batches[i], 256, 0, 1, 10, i);
    /* One runs at once, three wait, the fifth is refused. */
    for (u32 i = 0; i < 4; i++) {
        CHECK(partition_log_append(&h->log, batches[i], sizes[i], -1, true, 100 + i) == LOG_OK);
    }
    CHECK(partition_log_append(&h->log, batches[4], sizes[4], -1, true, 104) == LOG_ERR_BUSY);
    fake_io_run(h->fake, &h->log);
    REQUIRE(h->event_count == 5);
    for (u32 i = 0; i < 4; i++) {
        CHECK(h->events[1 + i].user_data == 100 + i);
        CHECK(h->events[1 + i].offset == (i64)i);
    }
    harness_destroy(h);
}

/* An owner that appends the next batch from inside the event handler. */
static struct log_harness *chain_harness;
static u32 chain_remaining;
static u8 chain_batch[256];
static u32 chain_size;
static void chain_on_event(void *owner, const struct log_event *event)
{
    harness_on_event(owner, event);
    if (event->kind != LOG_EVENT_APPENDED || chain_remaining == 0) return;
    chain_remaining--;
    ASSERT(partition_log_append(&chain_harness->log, chain_batch, chain_size, -1, true, 1) ==
           LOG_OK);
}

TEST(handlers_may_submit_requests)
{
    struct log_harness *h = harness_create(NULL, 21);
    chain_harness = h;
    chain_remaining = 50;
    h->log.on_event = chain_on_event;
    chain_size = harness_batch(chain_batch, sizeof(chain_batch), 0, 2, 10, 1);
    REQUIRE(partition_log_append(&h->log, chain_batch, chain_size, -1, true, 1) == LOG_OK);
    fake_io_run(h->fake, &h->log);
    CHECK(partition_log_end_offset(&h->log) == 102);
    CHECK_EQ_U64(h->event_count, 52);
    harness_destroy(h);
}

static const struct test_case tests[] = {
    {"open_empty_creates_first_segment_and_checkpoints",
     open_empty_creates_first_segment_and_checkpoints},
    {"append_assigns_offsets_and_keeps_crc", append_assigns_offsets_and_keeps_crc},
    {"append_rejects_bad_batches_at_once", append_rejects_bad_batches_at_once},
    {"follower_append_keeps_offsets_and_rejects_going_back",
     follower_append_keeps_offsets_and_rejects_going_back},
    {"read_returns_whole_batches_within_limits", read_returns_whole_batches_within_limits},
    {"index_entries_follow_the_interval", index_entries_follow_the_interval},
    {"roll_on_segment_bytes_and_flush_behind", roll_on_segment_bytes_and_flush_behind},
    {"roll_on_segment_ms_by_record_time", roll_on_segment_ms_by_record_time},
    {"roll_when_index_is_full", roll_when_index_is_full},
    {"list_offsets_earliest_latest_and_by_time", list_offsets_earliest_latest_and_by_time},
    {"truncate_to_drops_the_batch_holding_the_offset_and_later_segments",
     truncate_to_drops_the_batch_holding_the_offset_and_later_segments},
    {"delete_records_moves_the_start_and_deletes_whole_segments",
     delete_records_moves_the_start_and_deletes_whole_segments},
    {"truncate_fully_starts_an_empty_log_past_the_end_or_below_the_start",
     truncate_fully_starts_an_empty_log_past_the_end_or_below_the_start},
    {"recovery_repairs_an_epoch_checkpoint_the_batches_contradict",
     recovery_repairs_an_epoch_checkpoint_the_batches_contradict},
    {"retention_by_size_and_time_deletes_old_segments_never_the_active",
     retention_by_size_and_time_deletes_old_segments_never_the_active},
    {"flush_messages_syncs_and_moves_the_recovery_point",
     flush_messages_syncs_and_moves_the_recovery_point},
    {"flush_ms_on_tick", flush_ms_on_tick},
    {"leader_epoch_cache_and_checkpoint", leader_epoch_cache_and_checkpoint},
    {"close_then_reopen_loads_indexes_without_scanning",
     close_then_reopen_loads_indexes_without_scanning},
    {"io_error_takes_the_log_offline", io_error_takes_the_log_offline},
    {"rejected_issue_inside_a_call_returns_an_error_without_event",
     rejected_issue_inside_a_call_returns_an_error_without_event},
    {"queue_applies_back_pressure_and_keeps_order", queue_applies_back_pressure_and_keeps_order},
    {"handlers_may_submit_requests", handlers_may_submit_requests},
};

TEST_MAIN(tests)
