/* test_quorum_log.c: the quorum log file: recovery keeps exactly the valid prefix (a torn or
 * corrupt record and everything after it are cut), and the disk pipeline writes, syncs and
 * truncates in an order that keeps the file a prefix of memory. */
#include "test.h"

#include "../../impl/quorum/log.h"
#include "test_quorum_fake_io.h"

#define TAG ((u64)7 << 48)

/* Builds a log image of count records (epoch 1 for the first half, then 2). */
static u32 image_build(u8 *image, u32 capacity, u32 count, u32 *positions)
{
    u32 size = 0;
    for (u32 i = 0; i < count; i++) {
        u8 payload[32];
        memset(payload, (int)i, sizeof(payload));
        if (positions != NULL) positions[i] = size;
        size += quorum_record_encode(image + size, capacity - size, i, i < count / 2 ? 1 : 2, 0,
                                     payload, 10 + i);
    }
    return size;
}

static void scan_image(struct quorum_log *log, const u8 *image, u32 size, u64 *valid)
{
    memcpy(log->arena, image, size);
    *valid = quorum_log_scan(log, size);
}

TEST(scan_keeps_every_whole_record)
{
    static u8 image[4096];
    u32 size = image_build(image, sizeof(image), 6, NULL);
    struct fake_io *fake = fake_create(1);
    struct quorum_log log;
    quorum_log_init(&log, &fake->io, TAG);
    u64 valid = 0;
    scan_image(&log, image, size, &valid);
    CHECK_EQ_U64(valid, size);
    CHECK_EQ_U64(log.end, 6);
    CHECK_EQ_U64(quorum_log_last_epoch(&log), 2);
    quorum_log_free(&log);
    fake_destroy(fake);
}

TEST(scan_stops_exactly_at_a_torn_record)
{
    static u8 image[4096];
    u32 positions[6];
    u32 size = image_build(image, sizeof(image), 6, positions);
    /* Every cut inside record 4 keeps records 0..3 and nothing else. */
    for (u32 cut = positions[4]; cut < positions[5]; cut++) {
        struct fake_io *fake = fake_create(1);
        struct quorum_log log;
        quorum_log_init(&log, &fake->io, TAG);
        u64 valid = 0;
        scan_image(&log, image, cut, &valid);
        CHECK_EQ_U64(valid, positions[4]);
        CHECK_EQ_U64(log.end, 4);
        quorum_log_free(&log);
        fake_destroy(fake);
    }
    (void)size;
}

TEST(scan_stops_exactly_at_a_corrupt_record)
{
    static u8 image[4096];
    u32 positions[6];
    u32 size = image_build(image, sizeof(image), 6, positions);
    for (u32 byte = positions[2]; byte < positions[3]; byte++) {
        image[byte] ^= 0x10;
        struct fake_io *fake = fake_create(1);
        struct quorum_log log;
        quorum_log_init(&log, &fake->io, TAG);
        u64 valid = 0;
        scan_image(&log, image, size, &valid);
        CHECK_EQ_U64(valid, positions[2]);
        CHECK_EQ_U64(log.end, 2);
        quorum_log_free(&log);
        fake_destroy(fake);
        image[byte] ^= 0x10;
    }
}

TEST(scan_rejects_misnumbered_and_epoch_regressing_records)
{
    static u8 image[4096];
    u8 payload[4] = {1, 2, 3, 4};
    u32 size = 0;
    size += quorum_record_encode(image + size, sizeof(image) - size, 0, 3, 0, payload, 4);
    size += quorum_record_encode(image + size, sizeof(image) - size, 1, 2, 0, payload, 4);
    struct fake_io *fake = fake_create(1);
    struct quorum_log log;
    quorum_log_init(&log, &fake->io, TAG);
    u64 valid = 0;
    scan_image(&log, image, size, &valid);
    CHECK_EQ_U64(log.end, 1); /* Epoch 2 after epoch 3: not a log we could have written. */
    quorum_log_free(&log);
    size = quorum_record_encode(image, sizeof(image), 0, 1, 0, payload, 4);
    size += quorum_record_encode(image + size, sizeof(image) - size, 5, 1, 0, payload, 4);
    quorum_log_init(&log, &fake->io, TAG);
    scan_image(&log, image, size, &valid);
    CHECK_EQ_U64(log.end, 1); /* Offset 5 after offset 0. */
    quorum_log_free(&log);
    fake_destroy(fake);
}

/* Delivers pending completions to the log until none is left; returns the last event. */
static enum quorum_log_event drain(struct fake_io *fake, struct quorum_log *log)
{
    enum quorum_log_event last = LOG_EVENT_NONE;
    struct io_completion completion;
    while (fake_file_next(fake, &completion)) {
        enum quorum_log_event event = quorum_log_on_file(log, &completion);
        if (event != LOG_EVENT_NONE) last = event;
        quorum_log_pump(log);
    }
    return last;
}

TEST(recovery_cuts_the_torn_tail_then_syncs)
{
    static u8 image[4096];
    u32 positions[6];
    u32 size = image_build(image, sizeof(image), 6, positions);
    struct fake_io *fake = fake_create(1);
    fake_file_preset(fake, QUORUM_LOG_PATH, image, positions[5] + 7); /* Torn record 5. */
    struct quorum_log log;
    quorum_log_init(&log, &fake->io, TAG);
    quorum_log_open(&log);
    struct io_completion completion;
    REQUIRE(fake_file_next(fake, &completion));
    CHECK(quorum_log_on_file(&log, &completion) == LOG_EVENT_NONE); /* Opened: reading. */
    REQUIRE(fake_file_next(fake, &completion));
    CHECK(quorum_log_on_file(&log, &completion) == LOG_EVENT_RECOVERED);
    CHECK_EQ_U64(log.end, 5);
    CHECK_EQ_U64(log.synced_end, 0); /* Not durable until synced once. */
    quorum_log_pump(&log);
    REQUIRE(fake->pending_count == 1);
    CHECK(fake->pending[0].op == IO_FILE_TRUNCATE);
    CHECK_EQ_U64(fake->pending[0].offset, positions[5]);
    CHECK(drain(fake, &log) == LOG_EVENT_SYNCED);
    CHECK_EQ_U64(log.synced_end, 5);
    CHECK_EQ_U64(fake->files[0].durable_size, positions[5]);
    quorum_log_free(&log);
    fake_destroy(fake);
    (void)size;
}

TEST(truncation_during_a_write_is_cut_before_rewriting)
{
    struct fake_io *fake = fake_create(1);
    struct quorum_log log;
    quorum_log_init(&log, &fake->io, TAG);
    quorum_log_open(&log);
    CHECK(drain(fake, &log) == LOG_EVENT_RECOVERED);
    u8 payload[8] = {0};
    for (u32 i = 0; i < 4; i++) quorum_log_append(&log, 1, 0, payload, sizeof(payload));
    quorum_log_pump(&log);
    REQUIRE(fake->pending_count == 1 && fake->pending[0].op == IO_FILE_WRITE);
    /* The leader says entries 2 and 3 diverge while they are being written. */
    quorum_log_truncate(&log, 2);
    payload[0] = 9;
    quorum_log_append(&log, 2, 0, payload, sizeof(payload));
    CHECK_EQ_U64(log.write_end, 2);
    struct io_completion completion;
    REQUIRE(fake_file_next(fake, &completion));
    CHECK(quorum_log_on_file(&log, &completion) == LOG_EVENT_NONE);
    quorum_log_pump(&log);
    REQUIRE(fake->pending_count == 1);
    CHECK(fake->pending[0].op == IO_FILE_TRUNCATE); /* The stale tail goes first. */
    CHECK(drain(fake, &log) == LOG_EVENT_SYNCED);
    CHECK_EQ_U64(log.synced_end, 3);
    /* The durable file now scans to exactly the in-memory log. */
    struct quorum_log check;
    quorum_log_init(&check, &fake->io, TAG);
    memcpy(check.arena, fake->files[0].durable, fake->files[0].durable_size);
    CHECK_EQ_U64(quorum_log_scan(&check, fake->files[0].durable_size), log.bytes_end);
    CHECK_EQ_U64(check.end, 3);
    CHECK_EQ_U64(quorum_log_epoch_at(&check, 2), 2);
    quorum_log_free(&check);
    quorum_log_free(&log);
    fake_destroy(fake);
}

TEST(end_for_epoch_matches_kraft)
{
    struct fake_io *fake = fake_create(1);
    struct quorum_log log;
    quorum_log_init(&log, &fake->io, TAG);
    quorum_log_open(&log);
    CHECK(drain(fake, &log) == LOG_EVENT_RECOVERED);
    u8 payload[1] = {0};
    i32 epochs[] = {1, 1, 3, 3, 3, 5};
    for (u32 i = 0; i < ARRAY_LEN(epochs); i++) quorum_log_append(&log, epochs[i], 0, payload, 1);
    i32 epoch = 0;
    i64 end = 0;
    quorum_log_end_for_epoch(&log, 0, &epoch, &end);
    CHECK(epoch == 0 && end == 0);
    quorum_log_end_for_epoch(&log, 1, &epoch, &end);
    CHECK(epoch == 1 && end == 2);
    quorum_log_end_for_epoch(&log, 2, &epoch, &end);
    CHECK(epoch == 1 && end == 2);
    quorum_log_end_for_epoch(&log, 4, &epoch, &end);
    CHECK(epoch == 3 && end == 5);
    quorum_log_end_for_epoch(&log, 9, &epoch, &end);
    CHECK(epoch == 5 && end == 6);
    quorum_log_free(&log);
    fake_destroy(fake);
}

static const struct test_case tests[] = {
    {"scan_keeps_every_whole_record", scan_keeps_every_whole_record},
    {"scan_stops_exactly_at_a_torn_record", scan_stops_exactly_at_a_torn_record},
    {"scan_stops_exactly_at_a_corrupt_record", scan_stops_exactly_at_a_corrupt_record},
    {"scan_rejects_misnumbered_and_epoch_regressing_records",
     scan_rejects_misnumbered_and_epoch_regressing_records},
    {"recovery_cuts_the_torn_tail_then_syncs", recovery_cuts_the_torn_tail_then_syncs},
    {"truncation_during_a_write_is_cut_before_rewriting",
     truncation_during_a_write_is_cut_before_rewriting},
    {"end_for_epoch_matches_kraft", end_for_epoch_matches_kraft},
};
TEST_MAIN(tests)
