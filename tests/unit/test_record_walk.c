/* Tests for the record walk of impl/log/record_batch.c (batch_validate on uncompressed batches,
 * record_iterator_next), whose varint readers decode one- and two-byte forms in line: a
 * differential test against an independent bytewise reader written here from the format in
 * record_batch.h, over batches whose varints sit at every encoding boundary and over many
 * mutated copies of them (bytes flipped near varints, truncations, lying counts), each with a
 * CRC recomputed so that the walk itself is judged. */
#include "test.h"

#include "../../impl/log/crc32c.h"
#include "../../impl/log/record_batch.h"

#define WALK_BUFFER 65536u
#define WALK_MUTATIONS 20000u

static u64 walk_random_state = 0x243F6A8885A308D3ull;
static u64 walk_random(void)
{
    walk_random_state ^= walk_random_state << 13;
    walk_random_state ^= walk_random_state >> 7;
    walk_random_state ^= walk_random_state << 17;
    return walk_random_state;
}

/* ----- The reference: one byte at a time, every rule spelled out ----- */

/* A zigzag varint of at most max_bytes bytes, none at or past limit. */
static bool reference_varint(const u8 *bytes, u64 limit, u64 *position, u32 max_bytes,
                             i64 *value)
{
    u64 raw = 0;
    for (u32 i = 0; i < 10; i++) {
        if (*position + i >= limit) return false;
        u8 byte = bytes[*position + i];
        if (i == 9 && byte > 1) return false;
        raw |= (u64)(byte & 0x7F) << (7 * i);
        if ((byte & 0x80) == 0) {
            if (i + 1 > max_bytes) return false;
            *value = (i64)(raw >> 1) ^ -(i64)(raw & 1);
            *position += i + 1;
            return true;
        }
    }
    return false;
}

static bool reference_i32(const u8 *bytes, u64 limit, u64 *position, i64 *value)
{
    return reference_varint(bytes, limit, position, 5, value) && *value >= INT32_MIN &&
           *value <= INT32_MAX;
}

/* A length-prefixed string: -1 is null (refused when null_allowed is false). */
static bool reference_string(const u8 *bytes, u64 limit, u64 *position, bool null_allowed,
                             i64 *length)
{
    if (!reference_i32(bytes, limit, position, length)) return false;
    if (*length == -1) return null_allowed;
    if (*length < 0 || (u64)*length > limit - *position) return false;
    *position += (u64)*length;
    return true;
}

/* What each record's fields add up to, to compare a successful walk field by field. */
static u64 record_digest(u64 digest, i64 timestamp_delta, i64 key_length, i64 value_length,
                         i64 header_count)
{
    digest = digest * 31 + (u64)timestamp_delta;
    digest = digest * 31 + (u64)key_length;
    digest = digest * 31 + (u64)value_length;
    return digest * 31 + (u64)header_count;
}

static bool reference_walk(const u8 *records, u64 size, i32 count, i32 last_offset_delta,
                           u64 *digest)
{
    u64 position = 0;
    i32 expected_delta = 0;
    *digest = 0;
    for (i32 n = 0; n < count; n++) {
        i64 length = 0, timestamp_delta = 0, offset_delta = 0, key = 0, value = 0, headers = 0;
        if (!reference_i32(records, size, &position, &length)) return false;
        if (length < 1 || (u64)length > size - position) return false;
        u64 end = position + (u64)length;
        position++; /* Attributes. */
        if (!reference_varint(records, end, &position, 10, &timestamp_delta)) return false;
        if (!reference_i32(records, end, &position, &offset_delta)) return false;
        if (offset_delta != expected_delta) return false;
        if (!reference_string(records, end, &position, true, &key)) return false;
        if (!reference_string(records, end, &position, true, &value)) return false;
        if (!reference_i32(records, end, &position, &headers) || headers < 0) return false;
        if ((u64)headers > (end - position) / 2 + 1) return false;
        for (i64 h = 0; h < headers; h++) {
            i64 ignored = 0;
            if (!reference_string(records, end, &position, false, &ignored)) return false;
            if (!reference_string(records, end, &position, true, &ignored)) return false;
        }
        *digest = record_digest(*digest, timestamp_delta, key, value, headers);
        position = end;
        expected_delta++;
    }
    if (position != size) return false;
    return count == 0 || expected_delta - 1 == last_offset_delta;
}

/* ----- The walk under test ----- */

static bool library_walk(const u8 *batch, u64 size, u64 *digest)
{
    struct record_batch_header header;
    if (batch_validate(batch, size, &header) != BATCH_OK) return false;
    struct record_iterator iterator;
    u64 batch_size = (u64)header.BatchLength + RECORD_BATCH_LOG_OVERHEAD;
    record_iterator_init(&iterator, batch + RECORD_BATCH_HEADER_SIZE,
                         batch_size - RECORD_BATCH_HEADER_SIZE, (u32)header.RecordCount);
    *digest = 0;
    for (;;) {
        struct record_view record;
        bool more = false;
        if (record_iterator_next(&iterator, &record, &more) != BATCH_OK) return false;
        if (!more) break;
        *digest = record_digest(*digest, record.TimestampDelta, record.KeyLength,
                                record.ValueLength, record.HeaderCount);
    }
    return true;
}

/* Both walks over a batch whose CRC is made right first; they must agree. */
static bool walks_agree(u8 *batch, u64 size, bool *valid)
{
    store_u32_be(batch + RECORD_BATCH_LENGTH_OFFSET, (u32)(size - RECORD_BATCH_LOG_OVERHEAD));
    store_u32_be(batch + RECORD_BATCH_CRC_OFFSET,
                 crc32c(batch + RECORD_BATCH_CRC_START, size - RECORD_BATCH_CRC_START));
    i32 count = (i32)load_u32_be(batch + 57);
    i32 last_offset_delta = (i32)load_u32_be(batch + 23);
    u64 reference_digest = 0, library_digest = 0;
    bool reference = count >= 0 && last_offset_delta >= 0 &&
                     reference_walk(batch + RECORD_BATCH_HEADER_SIZE,
                                    size - RECORD_BATCH_HEADER_SIZE, count, last_offset_delta,
                                    &reference_digest);
    bool library = library_walk(batch, size, &library_digest);
    *valid = library;
    return reference == library && (!library || reference_digest == library_digest);
}

/* Records whose lengths, deltas and counts cross the one-, two- and three-byte varint
 * boundaries (zigzag: 63/64, 8191/8192), with null and empty keys, null header values. */
static u64 build_boundary_batch(u8 *buffer, u64 capacity, u32 value_size_base,
                                u32 value_size_limit)
{
    static u8 payload[9000];
    for (u32 i = 0; i < sizeof(payload); i++) payload[i] = (u8)('a' + i % 26);
    static const u32 sizes[] = {0, 1, 50, 52, 53, 63, 64, 65, 120, 127, 128, 200, 8180, 8191};
    static const i64 timestamps[] = {0, 63, 64, -64, -65, 8191, 8192, -8193, 1000000, -1};
    struct batch_builder builder;
    batch_builder_init(&builder, buffer, capacity, 0, 1700000000000LL);
    struct record_header_input headers[2] = {
        {.key = (const u8 *)"k", .key_length = 1, .value = NULL, .value_length = -1},
        {.key = (const u8 *)"", .key_length = 0, .value = payload, .value_length = 70},
    };
    for (u32 i = 0; i < 40; i++) {
        u32 size = (sizes[i % ARRAY_LEN(sizes)] + value_size_base) % value_size_limit;
        i64 timestamp = 1700000000000LL + timestamps[i % ARRAY_LEN(timestamps)];
        const u8 *key = i % 3 == 0 ? NULL : payload;
        i32 key_length = i % 3 == 0 ? -1 : (i32)(i % 5 == 0 ? 0 : 60 + i % 8);
        batch_builder_add(&builder, timestamp, key, key_length, i % 7 == 0 ? NULL : payload,
                          i % 7 == 0 ? -1 : (i32)size, headers, i % 4 == 0 ? 2 : 0);
    }
    return batch_builder_finish(&builder);
}

TEST(boundary_batches_walk_alike)
{
    static u8 batch[WALK_BUFFER * 8];
    for (u32 base = 0; base < 3; base++) {
        u64 size = build_boundary_batch(batch, sizeof(batch), base * 4000, 8192);
        REQUIRE(size > 0);
        bool valid = false;
        CHECK(walks_agree(batch, size, &valid));
        CHECK(valid);
    }
}

/* Many records: offset deltas past 8191 take three bytes. */
TEST(long_batch_walks_alike)
{
    static u8 batch[WALK_BUFFER * 8];
    struct batch_builder builder;
    batch_builder_init(&builder, batch, sizeof(batch), 0, 5);
    u8 value[20] = {0};
    for (u32 i = 0; i < 10000; i++) {
        batch_builder_add(&builder, 5 + i, NULL, -1, value, 20, NULL, 0);
    }
    u64 size = batch_builder_finish(&builder);
    REQUIRE(size > 0);
    bool valid = false;
    CHECK(walks_agree(batch, size, &valid));
    CHECK(valid);
}

/* Mutated copies: bytes replaced by varint-ish values, truncations, extensions, lying counts.
 * Most become invalid; the walks must agree on every one, and some must stay valid (so the
 * comparison is not only of rejections). */
TEST(mutated_batches_walk_alike)
{
    static u8 original[WALK_BUFFER], batch[WALK_BUFFER];
    static const u8 interesting[] = {0x00, 0x01, 0x02, 0x7E, 0x7F, 0x80, 0x81, 0xFE, 0xFF};
    u64 size = build_boundary_batch(original, WALK_BUFFER, 0, 300);
    REQUIRE(size > RECORD_BATCH_HEADER_SIZE);
    u32 valid_count = 0, disagreements = 0;
    for (u32 round = 0; round < WALK_MUTATIONS; round++) {
        memcpy(batch, original, size);
        u64 mutated_size = size;
        u64 records = size - RECORD_BATCH_HEADER_SIZE;
        u32 changes = 1 + (u32)(walk_random() % 3);
        for (u32 c = 0; c < changes; c++) {
            u64 at = RECORD_BATCH_HEADER_SIZE + walk_random() % records;
            switch (walk_random() % 6) {
            case 0: batch[at] = (u8)walk_random(); break;
            case 1: batch[at] = interesting[walk_random() % ARRAY_LEN(interesting)]; break;
            case 2: batch[at] ^= (u8)(1u << (walk_random() % 8)); break;
            case 3: mutated_size = at; break; /* Truncated. */
            case 4: { /* RecordCount or LastOffsetDelta off by a little. */
                u8 *field = batch + (walk_random() % 2 ? 57 : 23);
                store_u32_be(field, (u32)((i32)load_u32_be(field) + (i32)(walk_random() % 3) - 1));
                break;
            }
            default: /* Trailing bytes. */
                mutated_size = MIN(size + 1 + walk_random() % 4, (u64)WALK_BUFFER);
                break;
            }
        }
        if (mutated_size < RECORD_BATCH_HEADER_SIZE) mutated_size = RECORD_BATCH_HEADER_SIZE;
        bool valid = false;
        if (!walks_agree(batch, mutated_size, &valid)) {
            if (disagreements++ < 5) fprintf(stderr, "  round %u disagrees\n", round);
        }
        valid_count += valid;
    }
    CHECK_EQ_U64(disagreements, 0);
    CHECK(valid_count > 0);
    CHECK(valid_count < WALK_MUTATIONS);
}

static const struct test_case tests[] = {
    {"boundary_batches_walk_alike", boundary_batches_walk_alike},
    {"long_batch_walks_alike", long_batch_walks_alike},
    {"mutated_batches_walk_alike", mutated_batches_walk_alike},
};

TEST_MAIN(tests)
