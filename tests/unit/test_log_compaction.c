/* Tests for impl/log/log_compaction.c: after a compaction every closed segment holds, for each
 * key, only its latest record (the active segment untouched), offsets unchanged, old tombstones
 * gone and young ones kept, records without keys and control batches kept, compressed batches
 * rebuilt with their codec; the result survives a restart, and a crash at any step of a
 * compaction recovers to a log where every record is an original one and every key keeps its
 * latest value. */
#include "test.h"

#include "../../impl/log/compression.h"
#include "log_fake_io.h"

#define RECORDS_MAX 4096u

struct seen_record {
    i64 offset;
    char key[32];  /* "" for a null key. */
    char value[32]; /* "<null>" for a tombstone. */
};

struct seen {
    struct seen_record records[RECORDS_MAX];
    u32 count;
};

static u8 scratch[256 * 1024];
static u8 batch_buffer[70 * 1024];

static struct log_harness *compacting_harness(u64 seed)
{
    struct log_harness *h = calloc(1, sizeof(*h));
    h->fake = fake_io_create(seed);
    harness_config(&h->config);
    h->config.segment_bytes = 2048;
    h->config.index_interval_bytes = 256;
    h->config.cleanup_policy = LOG_CLEANUP_COMPACT;
    h->config.cleaner_map_slots = 1024;
    struct partition_log_params params = {
        .topic = "t", .partition = 0, .root = "", .config = h->config, .io_tag = 7,
        .on_event = harness_on_event, .owner = h, .scratch = scratch,
        .scratch_size = sizeof(scratch),
    };
    ASSERT(partition_log_init(&h->log, &h->fake->io, &params));
    h->initialised = true;
    ASSERT(partition_log_open(&h->log, 1) == LOG_OK);
    fake_io_run(h->fake, &h->log);
    ASSERT(h->event_count == 1 && h->events[0].result == LOG_OK);
    return h;
}

static bool reopen(struct log_harness *h, bool crash)
{
    if (crash) {
        fake_io_crash(h->fake, false);
        partition_log_drop(&h->log);
    } else {
        partition_log_deinit(&h->log);
    }
    struct partition_log_params params = {
        .topic = "t", .partition = 0, .root = "", .config = h->config, .io_tag = 7,
        .on_event = harness_on_event, .owner = h, .scratch = scratch,
        .scratch_size = sizeof(scratch),
    };
    ASSERT(partition_log_init(&h->log, &h->fake->io, &params));
    h->initialised = true;
    h->event_count = 0;
    ASSERT(partition_log_open(&h->log, 1) == LOG_OK);
    fake_io_run(h->fake, &h->log);
    return h->event_count == 1 && h->events[0].result == LOG_OK;
}

/* Appends a batch of count records: keys "key-<k>" for k in keys (-1: null key), values
 * "v<offset>" (or null where tombstone says), all at timestamp. */
static void append_records(struct log_harness *h, const i32 *keys, u32 count, i64 timestamp,
                           const bool *tombstone, enum record_compression codec)
{
    struct batch_builder builder;
    static u8 plain[8192];
    batch_builder_init(&builder, plain, sizeof(plain), 0, timestamp);
    i64 base = partition_log_end_offset(&h->log);
    for (u32 i = 0; i < count; i++) {
        char key[32], value[32];
        int key_length = snprintf(key, sizeof(key), "key-%d", keys[i]);
        int value_length = snprintf(value, sizeof(value), "v%lld", (long long)(base + i));
        bool null_value = tombstone != NULL && tombstone[i];
        batch_builder_add(&builder, timestamp, keys[i] < 0 ? NULL : (const u8 *)key,
                          key_length, null_value ? NULL : (const u8 *)value, value_length,
                          NULL, 0);
    }
    u64 size = batch_builder_finish(&builder);
    ASSERT(size > 0);
    if (codec != RECORD_COMPRESSION_NONE) {
        size = batch_compress(plain, size, codec, batch_buffer, sizeof(batch_buffer));
        ASSERT(size > 0);
    } else {
        memcpy(batch_buffer, plain, size);
    }
    struct log_event event = harness_append(h, batch_buffer, (u32)size);
    ASSERT(event.result == LOG_OK);
}

/* Reads the whole log back, record by record. */
static void read_all(struct log_harness *h, struct seen *seen)
{
    static u8 records[256 * 1024];
    seen->count = 0;
    i64 offset = partition_log_start_offset(&h->log);
    for (u32 guard = 0; offset < partition_log_end_offset(&h->log) && guard < 10000; guard++) {
        struct log_event read = harness_read(h, offset, 1 << 20, INT64_MAX);
        ASSERT(read.result == LOG_OK);
        if (read.range.size == 0) break;
        const u8 *bytes = harness_range_bytes(h, &read.range);
        u64 position = 0;
        while (position < read.range.size) {
            struct record_batch_header header;
            ASSERT(batch_validate(bytes + position, read.range.size - position, &header) ==
                   BATCH_OK);
            u64 batch_size = (u64)header.BatchLength + RECORD_BATCH_LOG_OVERHEAD;
            const u8 *area = bytes + position + RECORD_BATCH_HEADER_SIZE;
            u64 area_size = batch_size - RECORD_BATCH_HEADER_SIZE;
            if (header.Attributes & RECORD_ATTRIBUTE_COMPRESSION_MASK) {
                ASSERT(batch_records_decompress(bytes + position, batch_size, &header, records,
                                                sizeof(records), &area_size) == BATCH_OK);
                area = records;
            }
            struct record_iterator iterator;
            record_iterator_init(&iterator, area, area_size, (u32)header.RecordCount);
            for (i32 r = 0; r < header.RecordCount; r++) {
                struct record_view record;
                bool more = false;
                ASSERT(record_iterator_next(&iterator, &record, &more) == BATCH_OK);
                ASSERT(seen->count < RECORDS_MAX);
                struct seen_record *out = &seen->records[seen->count++];
                out->offset = header.BaseOffset + record.OffsetDelta;
                snprintf(out->key, sizeof(out->key), "%.*s", record.Key ? record.KeyLength : 0,
                         record.Key ? (const char *)record.Key : "");
                snprintf(out->value, sizeof(out->value), "%.*s",
                         record.Value ? record.ValueLength : 6,
                         record.Value ? (const char *)record.Value : "<null>");
            }
            position += batch_size;
        }
        offset = read.range.next_offset;
    }
}

static struct log_event compact(struct log_harness *h)
{
    ASSERT(partition_log_compact(&h->log, 5) == LOG_OK);
    struct log_event event = harness_wait(h);
    ASSERT(event.kind == LOG_EVENT_COMPACTED);
    return event;
}

/* What compaction must leave: below the active segment's base, the latest record per key (and
 * every keyless record); from it on, everything. */
static void expected_after(const struct seen *before, i64 active_base, struct seen *expected)
{
    expected->count = 0;
    for (u32 i = 0; i < before->count; i++) {
        const struct seen_record *record = &before->records[i];
        bool keep = record->offset >= active_base || record->key[0] == '\0';
        if (!keep) {
            keep = true;
            for (u32 j = i + 1; j < before->count; j++) {
                if (before->records[j].offset < active_base &&
                    strcmp(before->records[j].key, record->key) == 0) {
                    keep = false;
                }
            }
        }
        if (keep) expected->records[expected->count++] = *record;
    }
}

static bool same(const struct seen *a, const struct seen *b)
{
    if (a->count != b->count) return false;
    for (u32 i = 0; i < a->count; i++) {
        if (a->records[i].offset != b->records[i].offset) return false;
        if (strcmp(a->records[i].key, b->records[i].key) != 0) return false;
        if (strcmp(a->records[i].value, b->records[i].value) != 0) return false;
    }
    return true;
}

static struct seen before, after, expected;

static void fill_keys(struct log_harness *h, u32 batches, enum record_compression codec)
{
    i64 now_ms = (i64)(h->fake->wall_ns / NS_PER_MS);
    for (u32 b = 0; b < batches; b++) {
        i32 keys[5];
        for (u32 i = 0; i < 5; i++) keys[i] = (i32)((b * 5 + i * 7) % 13);
        if (b % 7 == 3) keys[2] = -1; /* A record without a key. */
        append_records(h, keys, 5, now_ms, NULL,
                       b % 3 == 0 ? codec : RECORD_COMPRESSION_NONE);
    }
}

TEST(latest_record_per_key_survives_offsets_kept)
{
    struct log_harness *h = compacting_harness(1);
    fill_keys(h, 60, RECORD_COMPRESSION_NONE);
    REQUIRE(h->log.segment_count >= 4);
    read_all(h, &before);
    i64 active_base = h->log.segments[h->log.segment_count - 1].base_offset;
    u64 size_before = partition_log_size_bytes(&h->log);
    struct log_event event = compact(h);
    CHECK(event.result == LOG_OK);
    CHECK_EQ_U64(event.segments_deleted, h->log.segment_count - 1);
    read_all(h, &after);
    expected_after(&before, active_base, &expected);
    CHECK(same(&after, &expected));
    CHECK_EQ_U64(event.records_removed, before.count - after.count);
    CHECK(partition_log_size_bytes(&h->log) < size_before);
    CHECK(partition_log_end_offset(&h->log) == before.records[before.count - 1].offset + 1);
    /* Compacting again changes nothing; the result survives a restart and a crash. */
    CHECK(compact(h).records_removed == 0);
    REQUIRE(reopen(h, false));
    read_all(h, &after);
    CHECK(same(&after, &expected));
    REQUIRE(reopen(h, true));
    read_all(h, &after);
    CHECK(same(&after, &expected));
    /* Appends go on after compacted segments. */
    i32 keys[1] = {1};
    append_records(h, keys, 1, 0, NULL, RECORD_COMPRESSION_NONE);
    CHECK(h->events[h->event_count - 1].offset == before.records[before.count - 1].offset + 1);
    harness_destroy(h);
}

TEST(compressed_batches_are_rebuilt_with_their_codec)
{
    static const enum record_compression codecs[] = {
        RECORD_COMPRESSION_GZIP, RECORD_COMPRESSION_SNAPPY, RECORD_COMPRESSION_LZ4,
        RECORD_COMPRESSION_ZSTD,
    };
    for (u32 c = 0; c < ARRAY_LEN(codecs); c++) {
        struct log_harness *h = compacting_harness(2 + c);
        fill_keys(h, 60, codecs[c]);
        read_all(h, &before);
        i64 active_base = h->log.segments[h->log.segment_count - 1].base_offset;
        CHECK(compact(h).result == LOG_OK);
        read_all(h, &after);
        expected_after(&before, active_base, &expected);
        CHECK(same(&after, &expected));
        /* Some rebuilt batch still carries the codec. */
        u32 compressed = 0;
        struct log_event read = harness_read(h, 0, 1 << 20, INT64_MAX);
        const u8 *bytes = harness_range_bytes(h, &read.range);
        for (u64 position = 0; position < read.range.size;) {
            struct record_batch_header header;
            REQUIRE(batch_validate(bytes + position, read.range.size - position, &header) ==
                    BATCH_OK);
            compressed += (header.Attributes & RECORD_ATTRIBUTE_COMPRESSION_MASK) ==
                          (i16)codecs[c];
            position += (u64)header.BatchLength + RECORD_BATCH_LOG_OVERHEAD;
        }
        CHECK(compressed > 0);
        harness_destroy(h);
    }
}

TEST(tombstones_go_after_delete_retention_and_control_batches_stay)
{
    struct log_harness *h = compacting_harness(7);
    i64 now_ms = (i64)(h->fake->wall_ns / NS_PER_MS);
    i32 keys[2] = {1, 2};
    append_records(h, keys, 2, now_ms, NULL, RECORD_COMPRESSION_NONE);
    bool tombstones[2] = {true, true};
    /* key-1 deleted long ago, key-2 deleted just now. */
    i32 one[1] = {1}, two[1] = {2};
    append_records(h, one, 1, now_ms - 2 * h->config.delete_retention_ms, tombstones,
                   RECORD_COMPRESSION_NONE);
    append_records(h, two, 1, now_ms, tombstones, RECORD_COMPRESSION_NONE);
    /* A control batch (a transaction marker) with key-2's key. */
    struct batch_builder builder;
    batch_builder_init(&builder, batch_buffer, sizeof(batch_buffer), 0, now_ms);
    batch_builder_producer(&builder, 9, 0, -1, true);
    u8 marker_key[4] = {0, 0, 0, 1}, marker_value[6] = {0, 0, 0, 0, 0, 0};
    batch_builder_add(&builder, now_ms, marker_key, 4, marker_value, 6, NULL, 0);
    u64 size = batch_builder_finish(&builder);
    batch_buffer[RECORD_BATCH_CRC_START + 1] |= RECORD_ATTRIBUTE_CONTROL;
    store_u32_be(batch_buffer + RECORD_BATCH_CRC_OFFSET,
                 crc32c(batch_buffer + RECORD_BATCH_CRC_START, size - RECORD_BATCH_CRC_START));
    harness_append(h, batch_buffer, (u32)size);
    i64 control_offset = partition_log_end_offset(&h->log) - 1;
    for (u32 b = 0; b < 30; b++) { /* Other keys, to roll past all of it. */
        i32 other[4] = {(i32)(100 + b % 5), 200, (i32)(300 + b), 200};
        append_records(h, other, 4, now_ms, NULL, RECORD_COMPRESSION_NONE);
    }
    REQUIRE(h->log.segments[0].next_offset > control_offset);
    CHECK(compact(h).result == LOG_OK);
    read_all(h, &after);
    bool seen_offsets[8] = {false};
    for (u32 i = 0; i < after.count; i++) {
        if (after.records[i].offset < 8) seen_offsets[after.records[i].offset] = true;
    }
    CHECK(!seen_offsets[0]);                /* key-1, superseded by its tombstone */
    CHECK(!seen_offsets[1]);                /* key-2, likewise */
    CHECK(!seen_offsets[2]);                /* the old tombstone is gone */
    CHECK(seen_offsets[3]);                 /* the young one stays */
    CHECK(seen_offsets[control_offset]);    /* the control batch stays */
    harness_destroy(h);
}

TEST(a_full_key_map_cleans_only_what_it_mapped)
{
    struct log_harness *h = compacting_harness(8);
    h->log.config.cleaner_map_slots = 16; /* Room for 12 keys. */
    /* Many distinct keys: the map fills in the first segments. */
    i64 now_ms = (i64)(h->fake->wall_ns / NS_PER_MS);
    for (u32 b = 0; b < 40; b++) {
        i32 keys[3] = {(i32)(b % 4), (i32)(100 + b), (i32)(b % 4)};
        append_records(h, keys, 3, now_ms, NULL, RECORD_COMPRESSION_NONE);
    }
    read_all(h, &before);
    struct log_event event = compact(h);
    CHECK(event.result == LOG_OK);
    CHECK(event.segments_deleted < h->log.segment_count - 1);
    read_all(h, &after);
    /* Whatever was cleaned, every record left is an original and no key lost its latest. */
    for (u32 i = 0; i < after.count; i++) {
        bool original = false;
        for (u32 j = 0; j < before.count; j++) {
            original |= before.records[j].offset == after.records[i].offset &&
                        strcmp(before.records[j].value, after.records[i].value) == 0;
        }
        CHECK(original);
    }
    harness_destroy(h);
}

TEST(truncating_into_a_compacted_gap_ends_the_log_there)
{
    struct log_harness *h = compacting_harness(10);
    fill_keys(h, 60, RECORD_COMPRESSION_NONE);
    compact(h);
    read_all(h, &after);
    /* Find an offset removed by compaction in the second segment. */
    i64 gap = -1;
    for (u32 i = 1; i < after.count && gap < 0; i++) {
        if (after.records[i].offset > after.records[i - 1].offset + 1 &&
            after.records[i - 1].offset >= h->log.segments[1].base_offset) {
            gap = after.records[i - 1].offset + 1;
        }
    }
    REQUIRE(gap > 0);
    REQUIRE(partition_log_truncate_to(&h->log, gap, 1) == LOG_OK);
    struct log_event event = harness_wait(h);
    CHECK(event.result == LOG_OK);
    CHECK(event.offset == gap);
    CHECK(partition_log_end_offset(&h->log) == gap);
    i32 keys[1] = {1};
    append_records(h, keys, 1, 0, NULL, RECORD_COMPRESSION_NONE);
    CHECK(h->events[h->event_count - 1].offset == gap); /* The next offset is the gap's. */
    REQUIRE(reopen(h, true));
    CHECK(partition_log_end_offset(&h->log) == gap); /* The unflushed append is lost. */
    harness_destroy(h);
}

/* Runs at most steps completions. */
static void run_steps(struct log_harness *h, u32 steps)
{
    for (u32 i = 0; i < steps && h->fake->queue_count > 0; i++) {
        struct io_completion completion = h->fake->queue[0];
        memmove(&h->fake->queue[0], &h->fake->queue[1],
                sizeof(h->fake->queue[0]) * (h->fake->queue_count - 1));
        h->fake->queue_count--;
        partition_log_on_file(&h->log, &completion);
    }
}

TEST(a_crash_at_any_step_of_a_compaction_recovers)
{
    u32 total_steps = 0;
    {
        struct log_harness *h = compacting_harness(9);
        fill_keys(h, 40, RECORD_COMPRESSION_LZ4);
        u64 operations = h->fake->operations;
        compact(h);
        total_steps = (u32)(h->fake->operations - operations);
        harness_destroy(h);
    }
    REQUIRE(total_steps > 20);
    u32 swaps_left = 0, cleaned_left = 0; /* The crashes must hit both sides of the commit. */
    for (u32 steps = 0; steps < total_steps; steps += 1 + total_steps / 150) {
        for (u32 keep = 0; keep < 2; keep++) {
            struct log_harness *h = compacting_harness(9);
            fill_keys(h, 40, RECORD_COMPRESSION_LZ4);
            REQUIRE(partition_log_flush(&h->log, INT64_MAX, 1) == LOG_OK);
            harness_wait(h);
            read_all(h, &before);
            REQUIRE(partition_log_compact(&h->log, 5) == LOG_OK);
            run_steps(h, steps);
            fake_io_crash(h->fake, keep == 1);
            for (u32 f = 0; f < h->fake->file_count; f++) {
                const struct fake_file *file = &h->fake->files[f];
                if (!file->used || !file->linked) continue;
                size_t length = strlen(file->path);
                swaps_left += length > 5 && strcmp(file->path + length - 5, ".swap") == 0;
                cleaned_left += length > 8 && strcmp(file->path + length - 8, ".cleaned") == 0;
            }
            partition_log_drop(&h->log);
            h->initialised = false;
            REQUIRE(reopen(h, false));
            read_all(h, &after);
            /* Every record an original, in order; every key keeps its latest value. */
            u32 j = 0;
            for (u32 i = 0; i < after.count; i++) {
                while (j < before.count && before.records[j].offset < after.records[i].offset) {
                    j++;
                }
                CHECK(j < before.count && before.records[j].offset == after.records[i].offset &&
                      strcmp(before.records[j].value, after.records[i].value) == 0);
            }
            for (u32 k = 0; k < before.count; k++) {
                bool latest = true;
                for (u32 m = k + 1; m < before.count; m++) {
                    latest &= strcmp(before.records[m].key, before.records[k].key) != 0;
                }
                if (!latest) continue;
                bool found = false;
                for (u32 i = 0; i < after.count; i++) {
                    found |= after.records[i].offset == before.records[k].offset;
                }
                CHECK(found);
            }
            if (test_failures_current > 0) {
                fprintf(stderr, "  crash after %u steps (keep %u)\n", steps, keep);
                harness_destroy(h);
                return;
            }
            harness_destroy(h);
        }
    }
    CHECK(swaps_left > 0);
    CHECK(cleaned_left > 0);
}

static const struct test_case tests[] = {
    {"latest_record_per_key_survives_offsets_kept", latest_record_per_key_survives_offsets_kept},
    {"compressed_batches_are_rebuilt_with_their_codec",
     compressed_batches_are_rebuilt_with_their_codec},
    {"tombstones_go_after_delete_retention_and_control_batches_stay",
     tombstones_go_after_delete_retention_and_control_batches_stay},
    {"a_full_key_map_cleans_only_what_it_mapped", a_full_key_map_cleans_only_what_it_mapped},
    {"truncating_into_a_compacted_gap_ends_the_log_there",
     truncating_into_a_compacted_gap_ends_the_log_there},
    {"a_crash_at_any_step_of_a_compaction_recovers", a_crash_at_any_step_of_a_compaction_recovers},
};

TEST_MAIN(tests)
