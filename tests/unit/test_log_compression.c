/* Tests for impl/log/compression.c and its use by the partition log: every codec round-trips,
 * decoders refuse damaged input and never write past the capacity, the xerial snappy framing
 * matches a stream assembled here by hand (and raw snappy is accepted), compressed batches keep
 * a valid CRC and their records, and the log validates compressed appends, serves them as they
 * arrived, and finds a record by timestamp inside one. */
#include "test.h"

#include <snappy-c.h>

#include "../../impl/log/compression.h"
#include "log_fake_io.h"

static const enum record_compression codecs[] = {
    RECORD_COMPRESSION_GZIP, RECORD_COMPRESSION_SNAPPY, RECORD_COMPRESSION_LZ4,
    RECORD_COMPRESSION_ZSTD,
};

static u8 input[200000], packed[220000], unpacked[200000];

static void fill_input(u64 size, u32 seed)
{
    u64 state = seed * 0x9E3779B97F4A7C15ull + 1;
    for (u64 i = 0; i < size; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        /* Half repetitive, half noise: compressible but not trivially. */
        input[i] = (i / 64) % 2 == 0 ? (u8)(i % 7) : (u8)state;
    }
}

TEST(every_codec_round_trips)
{
    u64 sizes[] = {0, 1, 100, 4096, 70000, 200000};
    for (u32 c = 0; c < ARRAY_LEN(codecs); c++) {
        for (u32 s = 0; s < ARRAY_LEN(sizes); s++) {
            fill_input(sizes[s], c * 10 + s);
            u64 packed_size = 0, unpacked_size = 0;
            REQUIRE(compression_compress(codecs[c], input, sizes[s], packed, sizeof(packed),
                                         &packed_size) == COMPRESSION_OK);
            CHECK(compression_decompress(codecs[c], packed, packed_size, unpacked,
                                         sizeof(unpacked), &unpacked_size) == COMPRESSION_OK);
            CHECK_EQ_U64(unpacked_size, sizes[s]);
            CHECK(memcmp(unpacked, input, sizes[s]) == 0);
            if (sizes[s] > 1000) {
                /* One byte too little room: refused, never overrun. */
                CHECK(compression_decompress(codecs[c], packed, packed_size, unpacked,
                                             sizes[s] - 1, &unpacked_size) ==
                      COMPRESSION_TOO_LARGE);
            }
        }
    }
    CHECK(compression_compress(RECORD_COMPRESSION_NONE, input, 10, packed, sizeof(packed),
                               &(u64){0}) == COMPRESSION_UNSUPPORTED);
}

TEST(damaged_input_is_refused_without_harm)
{
    for (u32 c = 0; c < ARRAY_LEN(codecs); c++) {
        fill_input(5000, 7 + c);
        u64 packed_size = 0, unpacked_size = 0;
        REQUIRE(compression_compress(codecs[c], input, 5000, packed, sizeof(packed),
                                     &packed_size) == COMPRESSION_OK);
        u32 refused = 0;
        for (u64 cut = 0; cut < packed_size; cut += 1 + packed_size / 50) {
            enum compression_result result = compression_decompress(
                codecs[c], packed, cut, unpacked, sizeof(unpacked), &unpacked_size);
            if (result != COMPRESSION_OK) refused++;
            CHECK(unpacked_size <= sizeof(unpacked));
        }
        CHECK(refused > 0);
        for (u64 at = 0; at < packed_size; at += 1 + packed_size / 200) {
            packed[at] ^= 0x5A;
            enum compression_result result = compression_decompress(
                codecs[c], packed, packed_size, unpacked, 6000, &unpacked_size);
            CHECK(unpacked_size <= 6000);
            (void)result; /* Some flips land in literals and decode; none may crash. */
            packed[at] ^= 0x5A;
        }
    }
}

TEST(snappy_xerial_framing_by_hand_and_raw_snappy)
{
    fill_input(50000, 3);
    /* magic, version 1, compatible 1, then two blocks: [0, 30000) and [30000, 50000). */
    static const u8 header[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
    memcpy(packed, header, 16);
    u64 size = 16;
    u64 splits[3] = {0, 30000, 50000};
    for (u32 b = 0; b < 2; b++) {
        size_t length = sizeof(packed) - size - 4;
        REQUIRE(snappy_compress((const char *)input + splits[b], splits[b + 1] - splits[b],
                                (char *)packed + size + 4, &length) == SNAPPY_OK);
        store_u32_be(packed + size, (u32)length);
        size += 4 + length;
    }
    u64 unpacked_size = 0;
    CHECK(compression_decompress(RECORD_COMPRESSION_SNAPPY, packed, size, unpacked,
                                 sizeof(unpacked), &unpacked_size) == COMPRESSION_OK);
    CHECK_EQ_U64(unpacked_size, 50000);
    CHECK(memcmp(unpacked, input, 50000) == 0);
    /* A block length running past the end is corrupt. */
    store_u32_be(packed + 16, 1u << 30);
    CHECK(compression_decompress(RECORD_COMPRESSION_SNAPPY, packed, size, unpacked,
                                 sizeof(unpacked), &unpacked_size) == COMPRESSION_CORRUPT);
    /* Raw snappy, as some clients send it. */
    size_t length = sizeof(packed);
    REQUIRE(snappy_compress((const char *)input, 50000, (char *)packed, &length) == SNAPPY_OK);
    CHECK(compression_decompress(RECORD_COMPRESSION_SNAPPY, packed, length, unpacked,
                                 sizeof(unpacked), &unpacked_size) == COMPRESSION_OK);
    CHECK(memcmp(unpacked, input, 50000) == 0);
}

static u8 plain[70000], compressed[80000];

TEST(compressed_batches_keep_crc_and_records)
{
    for (u32 c = 0; c < ARRAY_LEN(codecs); c++) {
        u32 size = harness_batch(plain, sizeof(plain), 5000, 40, 300, c);
        u64 packed_size = batch_compress(plain, size, codecs[c], compressed, sizeof(compressed));
        REQUIRE(packed_size > 0);
        CHECK(packed_size < size);
        struct record_batch_header header;
        REQUIRE(batch_validate(compressed, packed_size, &header) == BATCH_OK); /* CRC holds. */
        CHECK((header.Attributes & RECORD_ATTRIBUTE_COMPRESSION_MASK) == (i16)codecs[c]);
        CHECK(header.RecordCount == 40);
        u64 records_size = 0;
        CHECK(batch_records_decompress(compressed, packed_size, &header, unpacked,
                                       sizeof(unpacked), &records_size) == BATCH_OK);
        CHECK_EQ_U64(records_size, size - RECORD_BATCH_HEADER_SIZE);
        CHECK(memcmp(unpacked, plain + RECORD_BATCH_HEADER_SIZE, records_size) == 0);
        CHECK(batch_records_decompress(compressed, packed_size, &header, unpacked, 100,
                                       &records_size) == BATCH_INCOMPLETE);
        /* A count that does not match the records is invalid. */
        header.RecordCount = 39;
        CHECK(batch_records_decompress(compressed, packed_size, &header, unpacked,
                                       sizeof(unpacked), &records_size) == BATCH_INVALID);
    }
}

static u8 scratch[256 * 1024];

static struct log_harness *harness_with_scratch(u64 seed)
{
    struct log_harness *h = calloc(1, sizeof(*h));
    h->fake = fake_io_create(seed);
    harness_config(&h->config);
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

TEST(log_validates_serves_and_searches_compressed_batches)
{
    struct log_harness *h = harness_with_scratch(1);
    u64 sizes[4];
    for (u32 c = 0; c < ARRAY_LEN(codecs); c++) {
        /* Batch c: 10 records, timestamps 1000 * c + 0..9. */
        u32 size = harness_batch(plain, sizeof(plain), 1000 * (i64)c, 10, 200, c);
        sizes[c] = batch_compress(plain, size, codecs[c], compressed, sizeof(compressed));
        REQUIRE(sizes[c] > 0);
        struct log_event event = harness_append(h, compressed, (u32)sizes[c]);
        CHECK(event.result == LOG_OK);
        CHECK(event.offset == 10 * (i64)c);
    }
    /* Served byte for byte as stored, compressed. */
    struct log_event read = harness_read(h, 0, 1 << 20, INT64_MAX);
    CHECK_EQ_U64(read.range.size, sizes[0] + sizes[1] + sizes[2] + sizes[3]);
    const u8 *bytes = harness_range_bytes(h, &read.range);
    struct record_batch_header header;
    CHECK(batch_validate(bytes + sizes[0], read.range.size - sizes[0], &header) == BATCH_OK);
    CHECK(header.BaseOffset == 10);
    /* ListOffsets finds the exact record inside a compressed batch. */
    REQUIRE(partition_log_list_offset(&h->log, 2003, 1) == LOG_OK);
    struct log_event found = harness_wait(h);
    CHECK(found.offset == 23);
    CHECK(found.timestamp == 2003);
    /* Compressed batches whose CRC is right but whose contents are not records, or not even
     * a whole compressed stream, are refused. */
    u32 size = harness_batch(plain, sizeof(plain), 0, 10, 200, 9);
    fill_input(size - RECORD_BATCH_HEADER_SIZE, 99);
    memcpy(plain + RECORD_BATCH_HEADER_SIZE, input, size - RECORD_BATCH_HEADER_SIZE);
    store_u32_be(plain + RECORD_BATCH_CRC_OFFSET,
                 crc32c(plain + RECORD_BATCH_CRC_START, size - RECORD_BATCH_CRC_START));
    u64 garbage = 0;
    REQUIRE(compression_compress(RECORD_COMPRESSION_LZ4, input, size - RECORD_BATCH_HEADER_SIZE,
                                 compressed + RECORD_BATCH_HEADER_SIZE,
                                 sizeof(compressed) - RECORD_BATCH_HEADER_SIZE,
                                 &garbage) == COMPRESSION_OK);
    memcpy(compressed, plain, RECORD_BATCH_HEADER_SIZE);
    for (u32 variant = 0; variant < 2; variant++) {
        u64 packed_size = RECORD_BATCH_HEADER_SIZE + garbage - (variant == 1 ? 7 : 0);
        store_u16_be(compressed + RECORD_BATCH_CRC_START, RECORD_COMPRESSION_LZ4);
        store_u32_be(compressed + RECORD_BATCH_LENGTH_OFFSET,
                     (u32)(packed_size - RECORD_BATCH_LOG_OVERHEAD));
        store_u32_be(compressed + RECORD_BATCH_CRC_OFFSET,
                     crc32c(compressed + RECORD_BATCH_CRC_START,
                            packed_size - RECORD_BATCH_CRC_START));
        REQUIRE(batch_validate(compressed, packed_size, &header) == BATCH_OK);
        CHECK(partition_log_append(&h->log, compressed, (u32)packed_size, -1, true, 1) ==
              LOG_ERR_INVALID_BATCH);
    }
    harness_destroy(h);
}

TEST(without_scratch_compressed_batches_are_checked_by_crc_only)
{
    struct log_harness *h = harness_create(NULL, 2);
    u32 size = harness_batch(plain, sizeof(plain), 0, 10, 200, 1);
    u64 packed_size = batch_compress(plain, size, RECORD_COMPRESSION_ZSTD, compressed,
                                     sizeof(compressed));
    CHECK(harness_append(h, compressed, (u32)packed_size).result == LOG_OK);
    REQUIRE(partition_log_list_offset(&h->log, 5, 1) == LOG_OK);
    CHECK(harness_wait(h).offset == 0); /* The batch is the precision. */
    harness_destroy(h);
}

static const struct test_case tests[] = {
    {"every_codec_round_trips", every_codec_round_trips},
    {"damaged_input_is_refused_without_harm", damaged_input_is_refused_without_harm},
    {"snappy_xerial_framing_by_hand_and_raw_snappy", snappy_xerial_framing_by_hand_and_raw_snappy},
    {"compressed_batches_keep_crc_and_records", compressed_batches_keep_crc_and_records},
    {"log_validates_serves_and_searches_compressed_batches",
     log_validates_serves_and_searches_compressed_batches},
    {"without_scratch_compressed_batches_are_checked_by_crc_only",
     without_scratch_compressed_batches_are_checked_by_crc_only},
};

TEST_MAIN(tests)
