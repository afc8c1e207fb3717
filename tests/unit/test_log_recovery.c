/* Tests for impl/log/log_recovery.c: after crashes, torn writes and corruption the log holds
 * exactly a prefix of what was appended, at least everything flushed, no batch that fails its
 * CRC, and indexes that agree with the .log (checked against an index computed here from the
 * file by Kafka's rule, and against the index files on disk). A truncate_fully interrupted by a
 * crash or an I/O error at any of its steps leaves the old log or the new empty one. */
#include "test.h"

#include "log_fake_io.h"

#define MODEL_BATCHES_MAX 2048u

/* What was appended and acknowledged, in order: the reference the recovered log must match. */
struct model {
    i64 base[MODEL_BATCHES_MAX];
    i64 last[MODEL_BATCHES_MAX];
    u32 crc[MODEL_BATCHES_MAX];
    u32 count;
    u32 first; /* Batches before it were deleted (DeleteRecords). */
};

static u8 batch_buffer[70 * 1024];

static void model_append(struct model *model, struct log_harness *h, u32 size)
{
    struct log_event event = harness_append(h, batch_buffer, size);
    ASSERT(event.result == LOG_OK);
    ASSERT(model->count < MODEL_BATCHES_MAX);
    model->base[model->count] = event.offset;
    model->last[model->count] = event.last_offset;
    model->crc[model->count] = load_u32_be(batch_buffer + RECORD_BATCH_CRC_OFFSET);
    model->count++;
}

static u32 random_batch(u64 *state, i64 timestamp)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    u32 records = 1 + (u32)(*state % 5);
    u32 value_size = (u32)((*state >> 8) % 900);
    return harness_batch(batch_buffer, sizeof(batch_buffer), timestamp, records, value_size,
                         (u32)(*state >> 32));
}

/* Reads the whole log back and checks it is exactly the first n model batches; returns n. */
static u32 verify_prefix(struct log_harness *h, const struct model *model)
{
    u32 n = 0;
    i64 offset = partition_log_start_offset(&h->log);
    while (n < model->count && model->base[n] < offset) n++;
    CHECK(n >= model->first); /* An acknowledged DeleteRecords stays done. */
    if (n < model->count) CHECK(model->base[n] == offset);
    for (u32 s = 0; getenv("VERBOSE") && s < h->log.segment_count; s++) {
        fprintf(stderr, "segment %lld..%lld size %llu\n", (long long)h->log.segments[s].base_offset,
                (long long)h->log.segments[s].next_offset,
                (unsigned long long)h->log.segments[s].size);
    }
    i64 end = partition_log_end_offset(&h->log);
    while (offset < end) {
        struct log_event read = harness_read(h, offset, 1 << 20, INT64_MAX);
        CHECK(read.result == LOG_OK);
        if (getenv("VERBOSE")) {
            fprintf(stderr, "read %lld -> %s pos %llu size %u first %lld next %lld\n",
                    (long long)offset, log_result_name(read.result),
                    (unsigned long long)read.range.position, read.range.size,
                    (long long)read.range.first_offset, (long long)read.range.next_offset);
        }
        if (read.result != LOG_OK || read.range.size == 0) break;
        const u8 *bytes = harness_range_bytes(h, &read.range);
        u64 position = 0;
        while (position < read.range.size) {
            struct record_batch_header header;
            enum batch_error error = batch_validate(bytes + position, read.range.size - position,
                                                    &header);
            CHECK(error == BATCH_OK);
            if (error != BATCH_OK || n >= model->count) return n;
            CHECK(header.BaseOffset == model->base[n]);
            CHECK(header.BaseOffset + header.LastOffsetDelta == model->last[n]);
            CHECK(header.Crc == model->crc[n]);
            position += (u64)header.BatchLength + RECORD_BATCH_LOG_OVERHEAD;
            n++;
        }
        offset = read.range.next_offset;
    }
    if (n > 0) CHECK(end == model->last[n - 1] + 1);
    if (n == 0) CHECK(end == 0);
    return n;
}

/* Recomputes each segment's offset index from its .log bytes by Kafka's rule (an entry for a
 * batch that starts more than index.interval.bytes after the last entry) and compares it with
 * the log's index and, for segments whose indexes are on disk, with the .index file. */
static void verify_indexes(struct log_harness *h)
{
    for (u32 s = 0; s < h->log.segment_count; s++) {
        const struct segment *segment = &h->log.segments[s];
        char path[IO_PATH_MAX];
        struct fake_file *file = fake_io_file(h->fake,
                                              harness_path(path, segment->base_offset, ".log"));
        REQUIRE(file != NULL);
        CHECK(file->current.size == segment->size);
        u64 position = 0, last_entry = 0;
        u32 entries = 0;
        while (position < segment->size) {
            struct record_batch_header header;
            CHECK(batch_validate(file->current.bytes + position, segment->size - position,
                                 &header) == BATCH_OK);
            if (position - last_entry > h->log.config.index_interval_bytes) {
                REQUIRE(entries < segment->index.count);
                const struct offset_index_entry *entry = &segment->index.entries[entries];
                CHECK(entry->position == position);
                CHECK(segment->base_offset + entry->relative_offset ==
                      header.BaseOffset + header.LastOffsetDelta);
                entries++;
                last_entry = position;
            }
            position += (u64)header.BatchLength + RECORD_BATCH_LOG_OVERHEAD;
        }
        CHECK_EQ_U64(entries, segment->index.count);
        if (!segment->indexes_durable) continue;
        struct fake_file *index = fake_io_file(h->fake,
                                               harness_path(path, segment->base_offset, ".index"));
        REQUIRE(index != NULL);
        CHECK_EQ_U64(index->durable.size, (u64)segment->index.count * OFFSET_INDEX_ENTRY_SIZE);
        for (u32 i = 0; i < segment->index.count && i * 8 < index->durable.size; i++) {
            CHECK((i32)load_u32_be(index->durable.bytes + i * 8) ==
                  segment->index.entries[i].relative_offset);
            CHECK(load_u32_be(index->durable.bytes + i * 8 + 4) ==
                  segment->index.entries[i].position);
        }
    }
}

static struct log_config big_segments(void)
{
    struct log_config config;
    harness_config(&config);
    config.segment_bytes = 1 << 30;
    return config;
}

TEST(torn_tail_at_every_sector_boundary_truncates_to_the_last_whole_batch)
{
    struct log_config config = big_segments();
    struct log_harness *h = harness_create(&config, 1);
    struct model model = {0};
    u64 state = 77;
    for (u32 i = 0; i < 30; i++) model_append(&model, h, random_batch(&state, i));
    REQUIRE(partition_log_flush(&h->log, INT64_MAX, 1) == LOG_OK);
    harness_wait(h);
    u64 total = h->log.segments[0].size;
    u64 ends[31]; /* Where each batch ends. */
    ends[0] = 0;
    for (u32 i = 0; i < 30; i++) {
        struct log_event read = harness_read(h, model.base[i], 1, INT64_MAX);
        ends[i + 1] = read.range.position + read.range.size;
    }
    CHECK(ends[30] == total);
    harness_destroy(h);

    for (u64 cut = 0; cut <= total + 512; cut += 512) {
        u64 size = MIN(cut, total);
        h = harness_create(&config, 1);
        state = 77;
        struct model again = {0};
        for (u32 i = 0; i < 30; i++) model_append(&again, h, random_batch(&state, i));
        REQUIRE(partition_log_flush(&h->log, INT64_MAX, 1) == LOG_OK);
        harness_wait(h);
        char path[IO_PATH_MAX];
        fake_io_resize(h->fake, harness_path(path, 0, ".log"), size);
        REQUIRE(harness_crash_reopen(h, false));
        u32 whole = 0;
        while (whole < 30 && ends[whole + 1] <= size) whole++;
        CHECK_EQ_U64(verify_prefix(h, &model), whole);
        CHECK_EQ_U64(h->log.segments[0].size, ends[whole]);
        CHECK_EQ_U64(fake_io_file(h->fake, path)->durable.size, ends[whole]);
        verify_indexes(h);
        /* The log takes appends again where it stopped. */
        struct log_event event = harness_append(h, batch_buffer, random_batch(&state, 99));
        CHECK(event.offset == (whole == 0 ? 0 : model.last[whole - 1] + 1));
        harness_destroy(h);
    }
}

/* Fills a few segments and flushes; returns the model. */
static struct log_harness *filled(struct model *model, u64 seed, u32 batches)
{
    struct log_harness *h = harness_create(NULL, seed);
    u64 state = seed * 7 + 1;
    for (u32 i = 0; i < batches; i++) model_append(model, h, random_batch(&state, i));
    ASSERT(partition_log_flush(&h->log, INT64_MAX, 1) == LOG_OK);
    harness_wait(h);
    return h;
}

TEST(corrupt_batch_in_the_middle_truncates_there_and_drops_later_segments)
{
    struct model model = {0};
    struct log_harness *h = filled(&model, 2, 80);
    REQUIRE(h->log.segment_count >= 4);
    /* Pick a batch in the middle of segment 1 and flip a bit in its records. */
    i64 victim_offset = h->log.segments[1].base_offset;
    u32 victim = 0;
    while (model.base[victim] < victim_offset) victim++;
    victim += 2;
    struct log_event read = harness_read(h, model.base[victim], 1, INT64_MAX);
    char path[IO_PATH_MAX];
    harness_path(path, h->log.segments[1].base_offset, ".log");
    fake_io_flip(h->fake, path, read.range.position + read.range.size - 3);
    i64 later = h->log.segments[2].base_offset;
    /* Without a recovery point checkpoint every segment is scanned. */
    fake_io_unlink(h->fake, "t-0/recovery-point-offset-checkpoint");
    REQUIRE(harness_crash_reopen(h, false));
    CHECK_EQ_U64(verify_prefix(h, &model), victim);
    CHECK(partition_log_end_offset(&h->log) == model.base[victim]);
    CHECK_EQ_U64(h->log.segment_count, 2);
    CHECK(fake_io_file(h->fake, harness_path(path, later, ".log")) == NULL);
    CHECK(fake_io_file(h->fake, harness_path(path, later, ".index")) == NULL);
    verify_indexes(h);
    harness_destroy(h);
}

/* Flips a bit at byte `at` of the batch `from_end` batches before the last (in the active
 * segment, after the recovery point), crashes, and requires recovery to cut right there. */
static void flip_in_active_segment_cuts_there(u64 seed, u32 from_end, u32 at)
{
    struct model model = {0};
    struct log_harness *h = filled(&model, seed, 80);
    u32 last = h->log.segment_count - 1;
    u32 victim = model.count - from_end;
    REQUIRE(model.base[victim] > h->log.segments[last].base_offset);
    struct log_event read = harness_read(h, model.base[victim], 1, INT64_MAX);
    char path[IO_PATH_MAX];
    harness_path(path, h->log.segments[last].base_offset, ".log");
    fake_io_flip(h->fake, path, read.range.position + at);
    REQUIRE(harness_crash_reopen(h, false));
    CHECK_EQ_U64(verify_prefix(h, &model), victim);
    CHECK(partition_log_end_offset(&h->log) == model.base[victim]);
    verify_indexes(h);
    harness_destroy(h);
}

TEST(corrupt_batch_after_the_recovery_point_is_found_without_help)
{
    flip_in_active_segment_cuts_there(3, 3, RECORD_BATCH_CRC_OFFSET);
}

/* The CRC does not cover BaseOffset: a bit flipped there must still cut the log, or the batch
 * would come back at offsets it was never written at (and a truncation would leave a hole).
 * Byte 6 holds bits 8..15: the flip moves this batch (at an offset below 4096) 4096 forward. */
TEST(flipped_base_offset_truncates_there)
{
    flip_in_active_segment_cuts_there(4, 4, 6);
}

TEST(garbage_after_the_last_batch_is_cut)
{
    struct model model = {0};
    struct log_harness *h = filled(&model, 4, 10);
    char path[IO_PATH_MAX];
    harness_path(path, h->log.segments[h->log.segment_count - 1].base_offset, ".log");
    u64 size = fake_io_file(h->fake, path)->durable.size;
    fake_io_resize(h->fake, path, size + 4000); /* Zeros, as a file system may leave. */
    REQUIRE(harness_crash_reopen(h, false));
    CHECK_EQ_U64(verify_prefix(h, &model), 10);
    CHECK_EQ_U64(fake_io_file(h->fake, path)->durable.size, size);
    harness_destroy(h);
}

TEST(bad_or_missing_index_files_below_the_recovery_point_are_rebuilt)
{
    struct model model = {0};
    struct log_harness *h = filled(&model, 5, 80);
    REQUIRE(h->log.segment_count >= 3);
    REQUIRE(h->log.segments[0].index.count >= 2);
    u32 entries0 = h->log.segments[0].index.count;
    u32 entries1 = h->log.segments[1].index.count;
    char path[IO_PATH_MAX];
    /* Segment 0: entries out of order. Segment 1: its index file is gone. */
    fake_io_flip(h->fake, harness_path(path, 0, ".index"), 8 + 3);
    fake_io_unlink(h->fake, harness_path(path, h->log.segments[1].base_offset, ".index"));
    REQUIRE(harness_crash_reopen(h, false));
    CHECK_EQ_U64(verify_prefix(h, &model), model.count);
    CHECK_EQ_U64(h->log.segments[0].index.count, entries0);
    CHECK_EQ_U64(h->log.segments[1].index.count, entries1);
    verify_indexes(h); /* In memory and, after the open's flush, on disk. */
    harness_destroy(h);
}

TEST(leftovers_are_removed_and_bad_checkpoints_ignored)
{
    struct model model = {0};
    struct log_harness *h = filled(&model, 6, 30);
    struct fake_io *fake = h->fake;
    u64 user = 1;
    (void)user;
    /* Plant files as a crash could leave them. */
    fake_file_open(fake, "t-0/00000000000099999999.index", IO_OPEN_CREATE, 0);
    fake_file_open(fake, "t-0/recovery-point-offset-checkpoint.tmp", IO_OPEN_CREATE, 0);
    fake_file_open(fake, "t-0/00000000000000000000.log.deleted", IO_OPEN_CREATE, 0);
    fake->queue_count = 0; /* Those completions belong to nobody. */
    struct fake_file *checkpoint = fake_io_file(fake, "t-0/recovery-point-offset-checkpoint");
    REQUIRE(checkpoint != NULL);
    memcpy(checkpoint->durable.bytes, "0\n1\nt 0 x", 9); /* Malformed: recover everything. */
    REQUIRE(harness_crash_reopen(h, false));
    CHECK(fake_io_file(fake, "t-0/00000000000099999999.index") == NULL);
    CHECK(fake_io_file(fake, "t-0/recovery-point-offset-checkpoint.tmp") == NULL);
    CHECK(fake_io_file(fake, "t-0/00000000000000000000.log.deleted") == NULL);
    CHECK_EQ_U64(verify_prefix(h, &model), model.count);
    verify_indexes(h);
    harness_destroy(h);
}

TEST(segments_written_under_other_settings_recover_whole)
{
    struct log_config config = big_segments();
    config.segment_index_bytes = 64 * 1024;
    config.index_interval_bytes = 1;
    struct log_harness *h = harness_create(&config, 8);
    struct model model = {0};
    for (u32 i = 0; i < 1500; i++) {
        model_append(&model, h, harness_batch(batch_buffer, sizeof(batch_buffer), i, 1, 10, i));
    }
    REQUIRE(h->log.segment_count == 1);
    REQUIRE(h->log.segments[0].index.count > 1000);
    REQUIRE(partition_log_flush(&h->log, INT64_MAX, 1) == LOG_OK);
    harness_wait(h);
    /* Reopen with a smaller index than the segment needs: recovery sizes it for the file. */
    h->config.segment_index_bytes = 4096;
    REQUIRE(harness_crash_reopen(h, false));
    CHECK_EQ_U64(verify_prefix(h, &model), 1500);
    CHECK(h->log.segments[0].index.count > 1000);
    verify_indexes(h);
    harness_destroy(h);
}

/* Random appends, flushes, truncations and crashes, some in the middle of an operation. After
 * each restart: a prefix of the model, at least up to the last acknowledged flush, indexes
 * agreeing with the files. */
static void crash_loop(u64 seed)
{
    struct log_config config;
    harness_config(&config);
    config.segment_bytes = 8 * 1024;
    struct log_harness *h = harness_create(&config, seed);
    static struct model model;
    memset(&model, 0, sizeof(model));
    u64 state = seed * 0x2545F4914F6CDD1Dull + 3;
    i64 flushed = 0;
    for (u32 round = 0; round < 6; round++) {
        u32 steps = 5 + (u32)(state % 40);
        for (u32 step = 0; step < steps && model.count + 1 < MODEL_BATCHES_MAX; step++) {
            u32 size = random_batch(&state, round * 100000 + step);
            if (state % 13 == 0) {
                REQUIRE(partition_log_flush(&h->log, INT64_MAX, 1) == LOG_OK);
                flushed = harness_wait(h).recovery_point;
            } else if (state % 31 == 0 && model.count > model.first + 2) {
                u32 first = model.first + (u32)(state % (model.count - model.first));
                REQUIRE(partition_log_delete_records(&h->log, model.base[first], 1) == LOG_OK);
                CHECK(harness_wait(h).result == LOG_OK);
                model.first = first;
            } else if (state % 29 == 0 && model.count > model.first + 2) {
                u32 keep = model.first + (u32)(state % (model.count - model.first));
                REQUIRE(partition_log_truncate_to(&h->log, model.base[keep], 1) == LOG_OK);
                harness_wait(h);
                model.count = keep;
                flushed = MIN(flushed, model.count == 0 ? 0 : model.last[keep - 1] + 1);
            } else {
                model_append(&model, h, size);
            }
        }
        /* Sometimes crash with an append in flight: its write may or may not survive. */
        bool in_flight = state % 3 == 0;
        if (in_flight) {
            u32 size = random_batch(&state, round);
            REQUIRE(partition_log_append(&h->log, batch_buffer, size, -1, true, 1) == LOG_OK);
        }
        if (!in_flight && state % 5 == 0) {
            /* A clean shutdown, then sometimes a crash soon after the clean reopen. */
            REQUIRE(partition_log_close(&h->log, 1) == LOG_OK);
            CHECK(harness_wait(h).result == LOG_OK);
            flushed = model.count == 0 ? 0 : model.last[model.count - 1] + 1;
            partition_log_deinit(&h->log);
            h->initialised = false;
            REQUIRE(harness_open(h));
            CHECK(partition_log_end_offset(&h->log) == flushed);
        }
        REQUIRE(harness_crash_reopen(h, true));
        i64 end = partition_log_end_offset(&h->log);
        CHECK(end >= flushed);
        if (in_flight && end > (model.count == 0 ? 0 : model.last[model.count - 1] + 1)) {
            /* The in-flight batch survived whole: it belongs to the history. */
            struct record_batch_header header;
            ASSERT(batch_header_decode(batch_buffer, sizeof(batch_buffer), &header) == BATCH_OK);
            model.base[model.count] = end - 1 - header.LastOffsetDelta;
            model.last[model.count] = end - 1;
            model.crc[model.count] = header.Crc;
            model.count++;
        }
        u32 kept = verify_prefix(h, &model);
        if (test_failures_current > 0) {
            fprintf(stderr, "  end %lld kept %u model %u in_flight %d flushed %lld\n",
                    (long long)end, kept, model.count, in_flight, (long long)flushed);
        }
        CHECK(kept <= model.count);
        model.count = kept;
        verify_indexes(h);
        flushed = partition_log_end_offset(&h->log); /* Recovery flushed everything. */
        if (test_failures_current > 0) {
            fprintf(stderr, "  seed %llu round %u\n", (unsigned long long)seed, round);
            break;
        }
    }
    harness_destroy(h);
}

TEST(random_crashes_keep_a_prefix_with_everything_flushed)
{
    /* LOG_CRASH_SEEDS=n runs more seeds. */
    u64 seeds = getenv("LOG_CRASH_SEEDS") != NULL ? strtoull(getenv("LOG_CRASH_SEEDS"), NULL, 10)
                                                  : 60;
    u64 first = getenv("LOG_CRASH_FIRST") ? strtoull(getenv("LOG_CRASH_FIRST"), NULL, 10) : 1;
    for (u64 seed = first; seed <= seeds && test_failures_current == 0; seed++) {
        crash_loop(seed);
    }
}

/* ===== Truncating fully, interrupted anywhere ===== */

/* What a log holds, to tell the old log from the new empty one. */
struct log_shape {
    i64 start, end;
    u32 epoch_count;
    struct epoch_entry epochs[PARTITION_LOG_EPOCHS_MAX];
    u32 batches;
    u32 crc_of_crcs; /* CRC-32C over every batch's CRC, in order. */
};

static void shape_of(struct log_harness *h, struct log_shape *shape)
{
    memset(shape, 0, sizeof(*shape));
    shape->start = partition_log_start_offset(&h->log);
    shape->end = partition_log_end_offset(&h->log);
    shape->epoch_count = h->log.epoch_count;
    memcpy(shape->epochs, h->log.epochs, sizeof(shape->epochs[0]) * h->log.epoch_count);
    i64 offset = shape->start;
    while (offset < shape->end) {
        struct log_event read = harness_read(h, offset, 1 << 20, INT64_MAX);
        CHECK(read.result == LOG_OK);
        if (read.result != LOG_OK || read.range.size == 0) return;
        const u8 *bytes = harness_range_bytes(h, &read.range);
        for (u64 position = 0; position < read.range.size;) {
            struct record_batch_header header;
            CHECK(batch_validate(bytes + position, read.range.size - position, &header) ==
                  BATCH_OK);
            u8 crc[4];
            store_u32_be(crc, header.Crc);
            shape->crc_of_crcs = crc32c_extend(shape->crc_of_crcs, crc, sizeof(crc));
            shape->batches++;
            position += (u64)header.BatchLength + RECORD_BATCH_LOG_OVERHEAD;
        }
        offset = read.range.next_offset;
    }
}

static bool shape_equal(const struct log_shape *a, const struct log_shape *b)
{
    return a->start == b->start && a->end == b->end && a->epoch_count == b->epoch_count &&
           memcmp(a->epochs, b->epochs, sizeof(a->epochs[0]) * a->epoch_count) == 0 &&
           a->batches == b->batches && a->crc_of_crcs == b->crc_of_crcs;
}

/* Delivers at most steps completions. */
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

/* Three segments and more, epochs 1..4, the log start inside the second segment, all flushed. */
static struct log_harness *start_over_harness(void)
{
    struct log_config config;
    harness_config(&config);
    config.segment_bytes = 4096;
    struct log_harness *h = harness_create(&config, 31);
    for (u32 i = 0; i < 24; i++) {
        u32 size = harness_batch(batch_buffer, sizeof(batch_buffer), 1000 * (i64)i, 3, 300, i);
        ASSERT(partition_log_append(&h->log, batch_buffer, size, 1 + (i32)i / 6, true, 1) ==
               LOG_OK);
        ASSERT(harness_wait(h).result == LOG_OK);
    }
    ASSERT(h->log.segment_count >= 4);
    ASSERT(partition_log_delete_records(&h->log, h->log.segments[1].base_offset + 4, 1) ==
           LOG_OK);
    ASSERT(harness_wait(h).result == LOG_OK);
    ASSERT(partition_log_flush(&h->log, INT64_MAX, 1) == LOG_OK);
    ASSERT(harness_wait(h).result == LOG_OK);
    return h;
}

/* Whether any start-over marker is left on the disk. */
static bool marker_left(const struct log_harness *h)
{
    for (u32 f = 0; f < h->fake->file_count; f++) {
        const struct fake_file *file = &h->fake->files[f];
        size_t length = strlen(file->path);
        if (file->used && file->linked && length > 11 &&
            strcmp(file->path + length - 11, ".start-over") == 0) {
            return true;
        }
    }
    return false;
}

/* ends: 0 a crash (keeping no unsynced byte), 1 a crash keeping some, 2 an I/O error at that
 * step (the log goes offline) and a reopen without a crash. */
static void start_over_interrupted(u32 target_kind, u32 steps, u32 ends, u32 *old_seen,
                                   u32 *new_seen)
{
    struct log_harness *h = start_over_harness();
    struct log_shape before, after, again;
    shape_of(h, &before);
    i64 first_base = h->log.segments[0].base_offset;
    i64 target = target_kind == 0   ? before.start - 2     /* Below the start, in a segment. */
                 : target_kind == 1 ? first_base - 3       /* Below every segment. */
                                    : before.end + 50;     /* Past the end. */
    REQUIRE(target >= 0);
    /* A read queued first, so that the earliest crashes come before the marker exists. */
    REQUIRE(partition_log_read(&h->log, before.start, 100, INT64_MAX, 1) == LOG_OK);
    if (ends == 2) {
        h->fake->fail_at = h->fake->operations + steps + 1;
        h->fake->fail_result = IO_ERR_IO;
    }
    REQUIRE(partition_log_truncate_fully(&h->log, target, 9) == LOG_OK);
    if (ends == 2) {
        fake_io_run(h->fake, &h->log);
        h->fake->fail_at = 0;
        partition_log_deinit(&h->log);
        h->initialised = false;
        REQUIRE(harness_open(h));
    } else {
        run_steps(h, steps);
        REQUIRE(harness_crash_reopen(h, ends == 1));
    }
    shape_of(h, &after);
    bool is_old = shape_equal(&after, &before);
    bool is_new = after.start == target && after.end == target && after.epoch_count == 0 &&
                  after.batches == 0 && h->log.segment_count == 1;
    CHECK(is_old || is_new);
    CHECK(!marker_left(h));
    *old_seen += is_old;
    *new_seen += is_new;
    /* Stable: another crash finds the same, and the log goes on at its end. */
    REQUIRE(harness_crash_reopen(h, false));
    shape_of(h, &again);
    CHECK(shape_equal(&again, &after));
    u32 size = harness_batch(batch_buffer, sizeof(batch_buffer), 0, 2, 10, 5);
    CHECK(harness_append(h, batch_buffer, size).offset == after.end);
    if (test_failures_current > 0) {
        fprintf(stderr, "  target %lld (kind %u), %u steps, end %u: start %lld end %lld, "
                "%u batches\n", (long long)target, target_kind, steps, ends,
                (long long)after.start, (long long)after.end, after.batches);
    }
    harness_destroy(h);
}

TEST(truncate_fully_interrupted_at_any_step_leaves_the_old_log_or_the_new_one)
{
    u32 total_steps = 0;
    {
        struct log_harness *h = start_over_harness();
        u64 operations = h->fake->operations;
        REQUIRE(partition_log_truncate_fully(&h->log, 0, 1) == LOG_OK);
        CHECK(harness_wait(h).result == LOG_OK);
        total_steps = (u32)(h->fake->operations - operations) + 4; /* And the read's. */
        harness_destroy(h);
    }
    REQUIRE(total_steps > 15);
    for (u32 kind = 0; kind < 3 && test_failures_current == 0; kind++) {
        u32 old_seen = 0, new_seen = 0;
        for (u32 steps = 0; steps <= total_steps && test_failures_current == 0; steps++) {
            for (u32 ends = 0; ends < 3; ends++) {
                start_over_interrupted(kind, steps, ends, &old_seen, &new_seen);
            }
        }
        /* The crashes hit both sides of the marker. */
        CHECK(old_seen > 0);
        CHECK(new_seen > 0);
    }
}

static const struct test_case tests[] = {
    {"torn_tail_at_every_sector_boundary_truncates_to_the_last_whole_batch",
     torn_tail_at_every_sector_boundary_truncates_to_the_last_whole_batch},
    {"corrupt_batch_in_the_middle_truncates_there_and_drops_later_segments",
     corrupt_batch_in_the_middle_truncates_there_and_drops_later_segments},
    {"corrupt_batch_after_the_recovery_point_is_found_without_help",
     corrupt_batch_after_the_recovery_point_is_found_without_help},
    {"flipped_base_offset_truncates_there", flipped_base_offset_truncates_there},
    {"garbage_after_the_last_batch_is_cut", garbage_after_the_last_batch_is_cut},
    {"bad_or_missing_index_files_below_the_recovery_point_are_rebuilt",
     bad_or_missing_index_files_below_the_recovery_point_are_rebuilt},
    {"leftovers_are_removed_and_bad_checkpoints_ignored",
     leftovers_are_removed_and_bad_checkpoints_ignored},
    {"segments_written_under_other_settings_recover_whole",
     segments_written_under_other_settings_recover_whole},
    {"random_crashes_keep_a_prefix_with_everything_flushed",
     random_crashes_keep_a_prefix_with_everything_flushed},
    {"truncate_fully_interrupted_at_any_step_leaves_the_old_log_or_the_new_one",
     truncate_fully_interrupted_at_any_step_leaves_the_old_log_or_the_new_one},
};

TEST_MAIN(tests)
