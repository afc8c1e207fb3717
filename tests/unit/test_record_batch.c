/* Tests for impl/log/crc32c.c and impl/log/record_batch.c: the checksum against its published
 * check value and a bytewise reference, zigzag varints, builder/decoder round trips, a batch
 * assembled by hand from the documented layout, and hostile inputs (every truncation, every
 * single-bit flip) that must be rejected without a crash. */
#include "test.h"

#include "../../impl/log/crc32c.h"
#include "../../impl/log/record_batch.h"

static u32 crc32c_reference(const u8 *bytes, u64 size)
{
    u32 crc = 0xFFFFFFFFu;
    for (u64 i = 0; i < size; i++) {
        crc ^= bytes[i];
        for (int bit = 0; bit < 8; bit++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
    }
    return ~crc;
}

static u64 test_random_state = 0x9E3779B97F4A7C15ull;
static u64 test_random(void)
{
    test_random_state ^= test_random_state << 13;
    test_random_state ^= test_random_state >> 7;
    test_random_state ^= test_random_state << 17;
    return test_random_state;
}

TEST(crc32c_check_value)
{
    CHECK_EQ_U64(crc32c((const u8 *)"123456789", 9), 0xE3069283u);
    CHECK_EQ_U64(crc32c(NULL, 0), 0);
    u8 zeros[32] = {0};
    CHECK_EQ_U64(crc32c(zeros, 32), 0x8A9136AAu); /* RFC 3720 B.4: 32 bytes of zeros. */
    u8 ones[32];
    memset(ones, 0xFF, sizeof(ones));
    CHECK_EQ_U64(crc32c(ones, 32), 0x62A8AB43u); /* RFC 3720 B.4: 32 bytes of 0xFF. */
}

TEST(crc32c_matches_reference_and_extends)
{
    u8 buffer[1000];
    for (u32 i = 0; i < sizeof(buffer); i++) buffer[i] = (u8)test_random();
    for (u32 size = 0; size < sizeof(buffer); size += 37) {
        CHECK_EQ_U64(crc32c(buffer, size), crc32c_reference(buffer, size));
        u32 split = size / 3;
        CHECK_EQ_U64(crc32c_extend(crc32c(buffer, split), buffer + split, size - split),
                     crc32c(buffer, size));
    }
}

TEST(varint_known_encodings_and_round_trip)
{
    u8 buffer[10];
    CHECK_EQ_U64(varint_encode_i64(buffer, 0), 1);
    CHECK_EQ_U64(buffer[0], 0x00);
    CHECK_EQ_U64(varint_encode_i64(buffer, -1), 1);
    CHECK_EQ_U64(buffer[0], 0x01);
    CHECK_EQ_U64(varint_encode_i64(buffer, 1), 1);
    CHECK_EQ_U64(buffer[0], 0x02);
    CHECK_EQ_U64(varint_encode_i64(buffer, 64), 2);
    CHECK(buffer[0] == 0x80 && buffer[1] == 0x01);
    i64 values[] = {0, 1, -1, 63, -64, 64, 300, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
    for (u32 i = 0; i < ARRAY_LEN(values); i++) {
        u32 length = varint_encode_i64(buffer, values[i]);
        i64 decoded = 0;
        CHECK_EQ_U64(varint_decode_i64(buffer, length, &decoded), length);
        CHECK(decoded == values[i]);
        CHECK_EQ_U64(varint_decode_i64(buffer, length - 1, &decoded), 0); /* Truncated. */
    }
    u8 too_long[11];
    memset(too_long, 0xFF, sizeof(too_long));
    i64 ignored = 0;
    CHECK_EQ_U64(varint_decode_i64(too_long, sizeof(too_long), &ignored), 0);
}

/* Builds a batch of three records with keys, a null key, a null value and headers. */
static u64 build_sample(u8 *buffer, u64 capacity)
{
    struct batch_builder builder;
    batch_builder_init(&builder, buffer, capacity, 0, 1700000000000);
    struct record_header_input headers[2] = {
        {(const u8 *)"trace", 5, (const u8 *)"abc", 3},
        {(const u8 *)"empty", 5, NULL, -1},
    };
    batch_builder_add(&builder, 1700000000000, (const u8 *)"k1", 2, (const u8 *)"v1", 2, NULL, 0);
    batch_builder_add(&builder, 1700000000005, NULL, -1, (const u8 *)"v2", 2, headers, 2);
    batch_builder_add(&builder, 1700000000003, (const u8 *)"k3", 2, NULL, -1, NULL, 0);
    return batch_builder_finish(&builder);
}

TEST(batch_round_trip)
{
    u8 buffer[512];
    u64 size = build_sample(buffer, sizeof(buffer));
    REQUIRE(size > RECORD_BATCH_HEADER_SIZE);
    struct record_batch_header header;
    REQUIRE(batch_validate(buffer, size, &header) == BATCH_OK);
    CHECK_EQ_U64(header.RecordCount, 3);
    CHECK_EQ_U64(header.LastOffsetDelta, 2);
    CHECK(header.MaxTimestamp == 1700000000005);
    CHECK(header.ProducerId == -1);
    CHECK_EQ_U64((u64)header.BatchLength + 12, size);

    struct record_iterator iterator;
    record_iterator_init(&iterator, buffer + RECORD_BATCH_HEADER_SIZE,
                         size - RECORD_BATCH_HEADER_SIZE, 3);
    struct record_view record;
    bool more = false;
    REQUIRE(record_iterator_next(&iterator, &record, &more) == BATCH_OK && more);
    CHECK(record.KeyLength == 2 && memcmp(record.Key, "k1", 2) == 0);
    CHECK(record.ValueLength == 2 && memcmp(record.Value, "v1", 2) == 0);
    REQUIRE(record_iterator_next(&iterator, &record, &more) == BATCH_OK && more);
    CHECK(record.Key == NULL && record.KeyLength == -1);
    CHECK(record.TimestampDelta == 5 && record.OffsetDelta == 1);
    REQUIRE(record.HeaderCount == 2);
    u64 position = 0;
    struct record_header_view h;
    REQUIRE(record_header_next(&record, &position, &h) == BATCH_OK);
    CHECK(h.KeyLength == 5 && memcmp(h.Key, "trace", 5) == 0 && h.ValueLength == 3);
    REQUIRE(record_header_next(&record, &position, &h) == BATCH_OK);
    CHECK(h.Value == NULL && h.ValueLength == -1);
    REQUIRE(record_iterator_next(&iterator, &record, &more) == BATCH_OK && more);
    CHECK(record.Value == NULL && record.TimestampDelta == 3);
    REQUIRE(record_iterator_next(&iterator, &record, &more) == BATCH_OK);
    CHECK(!more);
}

TEST(offset_and_epoch_assignment_keep_crc)
{
    u8 buffer[512];
    u64 size = build_sample(buffer, sizeof(buffer));
    batch_set_base_offset(buffer, 123456789);
    batch_set_leader_epoch(buffer, 42);
    struct record_batch_header header;
    REQUIRE(batch_validate(buffer, size, &header) == BATCH_OK);
    CHECK(header.BaseOffset == 123456789);
    CHECK(header.PartitionLeaderEpoch == 42);
}

/* One record, "k" -> "hello", assembled from the documented layout without the builder. */
TEST(hand_assembled_batch_decodes)
{
    u8 b[128] = {0};
    u8 record[] = {0x00, 0x00, 0x00, 0x02, 'k', 0x0A, 'h', 'e', 'l', 'l', 'o', 0x00};
    /* attributes, timestampDelta 0, offsetDelta 0, keyLength 1 (zigzag 2), key,
     * valueLength 5 (zigzag 10), value, headerCount 0 */
    u32 records_at = 61;
    b[records_at] = (u8)(sizeof(record) * 2); /* Record length, zigzag. */
    memcpy(b + records_at + 1, record, sizeof(record));
    u32 size = records_at + 1 + (u32)sizeof(record);
    store_u64_be(b + 0, 7);
    store_u32_be(b + 8, size - 12);
    store_u32_be(b + 12, 3);
    b[16] = 2;
    store_u32_be(b + 23, 0);
    store_u64_be(b + 27, 1000);
    store_u64_be(b + 35, 1000);
    store_u64_be(b + 43, (u64)-1);
    store_u16_be(b + 51, 0xFFFF);
    store_u32_be(b + 53, 0xFFFFFFFFu);
    store_u32_be(b + 57, 1);
    store_u32_be(b + 17, crc32c_reference(b + 21, size - 21));
    struct record_batch_header header;
    REQUIRE(batch_validate(b, size, &header) == BATCH_OK);
    CHECK(header.BaseOffset == 7 && header.PartitionLeaderEpoch == 3);
    CHECK(header.ProducerEpoch == -1 && header.BaseSequence == -1);
    struct record_iterator iterator;
    record_iterator_init(&iterator, b + 61, size - 61, 1);
    struct record_view view;
    bool more = false;
    REQUIRE(record_iterator_next(&iterator, &view, &more) == BATCH_OK && more);
    CHECK(view.ValueLength == 5 && memcmp(view.Value, "hello", 5) == 0);
}

TEST(every_truncation_and_bit_flip_is_rejected)
{
    u8 buffer[512];
    u64 size = build_sample(buffer, sizeof(buffer));
    struct record_batch_header header;
    for (u64 cut = 0; cut < size; cut++) {
        enum batch_error error = batch_validate(buffer, cut, &header);
        CHECK(error == BATCH_INCOMPLETE || error == BATCH_INVALID);
    }
    for (u64 bit = RECORD_BATCH_CRC_START * 8; bit < size * 8; bit++) {
        buffer[bit / 8] ^= (u8)(1u << (bit % 8));
        CHECK(batch_validate(buffer, size, &header) != BATCH_OK);
        buffer[bit / 8] ^= (u8)(1u << (bit % 8));
    }
    CHECK(batch_validate(buffer, size, &header) == BATCH_OK);
}

TEST(random_garbage_never_crashes)
{
    u8 buffer[256];
    struct record_batch_header header;
    u32 accepted = 0;
    for (u32 round = 0; round < 20000; round++) {
        u64 size = test_random() % sizeof(buffer);
        for (u64 i = 0; i < size; i++) buffer[i] = (u8)test_random();
        if (size >= 17) buffer[16] = 2; /* Get past the magic check sometimes. */
        if (batch_validate(buffer, size, &header) == BATCH_OK) accepted++;
    }
    CHECK_EQ_U64(accepted, 0); /* A random CRC matching is a 1 in 4 billion event. */
}

TEST(builder_reports_overflow)
{
    u8 buffer[70];
    struct batch_builder builder;
    batch_builder_init(&builder, buffer, sizeof(buffer), 0, 0);
    u8 value[100] = {0};
    batch_builder_add(&builder, 0, NULL, -1, value, sizeof(value), NULL, 0);
    CHECK_EQ_U64(batch_builder_finish(&builder), 0);
}

static const struct test_case tests[] = {
    {"crc32c_check_value", crc32c_check_value},
    {"crc32c_matches_reference_and_extends", crc32c_matches_reference_and_extends},
    {"varint_known_encodings_and_round_trip", varint_known_encodings_and_round_trip},
    {"batch_round_trip", batch_round_trip},
    {"offset_and_epoch_assignment_keep_crc", offset_and_epoch_assignment_keep_crc},
    {"hand_assembled_batch_decodes", hand_assembled_batch_decodes},
    {"every_truncation_and_bit_flip_is_rejected", every_truncation_and_bit_flip_is_rejected},
    {"random_garbage_never_crashes", random_garbage_never_crashes},
    {"builder_reports_overflow", builder_reports_overflow},
};

TEST_MAIN(tests)
