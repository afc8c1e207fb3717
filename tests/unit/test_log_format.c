/* The files a partition log writes, decoded by a reader written here from Kafka's documented
 * formats (https://kafka.apache.org/documentation/#recordbatch, #log), sharing no code with the
 * writer: not record_batch.c, not crc32c.c, not segment.c. It walks every .log batch and record,
 * checks CRC-32C (its own bitwise implementation), offsets and timestamps, then checks that
 * every .index entry (relative offset i32, position i32, big-endian) points at a batch boundary
 * whose last offset it names, and every .timeindex entry (timestamp i64, relative offset i32)
 * names an offset whose batch holds that largest timestamp so far, and the checkpoint texts. */
#include "test.h"

#include "log_fake_io.h"

/* ----- An independent reader ----- */

static u32 reader_crc32c(const u8 *bytes, u64 size)
{
    u32 crc = 0xFFFFFFFFu;
    for (u64 i = 0; i < size; i++) {
        crc ^= bytes[i];
        for (int bit = 0; bit < 8; bit++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
    }
    return ~crc;
}

static u64 reader_be(const u8 *p, u32 width)
{
    u64 value = 0;
    for (u32 i = 0; i < width; i++) value = value << 8 | p[i];
    return value;
}

/* Zigzag varint, as protobuf's sint64. */
static bool reader_varint(const u8 *bytes, u64 size, u64 *position, i64 *value)
{
    u64 raw = 0;
    for (u32 shift = 0; shift < 64; shift += 7) {
        if (*position >= size) return false;
        u8 byte = bytes[(*position)++];
        raw |= (u64)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) {
            *value = (i64)(raw >> 1) ^ -(i64)(raw & 1);
            return true;
        }
    }
    return false;
}

struct reader_batch {
    u64 position;
    u64 size;
    i64 base_offset;
    i64 last_offset;
    i64 max_timestamp;
};

/* Decodes one batch and all its records; returns false on anything malformed. */
static bool reader_batch(const u8 *bytes, u64 size, struct reader_batch *batch)
{
    if (size < 61) return false;
    i64 base_offset = (i64)reader_be(bytes, 8);
    i32 length = (i32)reader_be(bytes + 8, 4);
    if (length < 49 || (u64)length + 12 > size) return false;
    if (bytes[16] != 2) return false; /* magic */
    u32 crc = (u32)reader_be(bytes + 17, 4);
    if (crc != reader_crc32c(bytes + 21, (u64)length - 9)) return false;
    u16 attributes = (u16)reader_be(bytes + 21, 2);
    i32 last_delta = (i32)reader_be(bytes + 23, 4);
    i64 first_timestamp = (i64)reader_be(bytes + 27, 8);
    i64 max_timestamp = (i64)reader_be(bytes + 35, 8);
    i32 count = (i32)reader_be(bytes + 57, 4);
    if ((attributes & 7) != 0) return false; /* These tests write uncompressed batches. */
    u64 position = 61, end = (u64)length + 12;
    i64 seen_max = -1;
    for (i32 r = 0; r < count; r++) {
        i64 record_length = 0, timestamp_delta = 0, offset_delta = 0, key_length = 0;
        i64 value_length = 0, headers = 0;
        if (!reader_varint(bytes, end, &position, &record_length)) return false;
        u64 record_end = position + (u64)record_length;
        if (record_length < 0 || record_end > end) return false;
        position++; /* attributes */
        if (!reader_varint(bytes, record_end, &position, &timestamp_delta)) return false;
        if (!reader_varint(bytes, record_end, &position, &offset_delta)) return false;
        if (offset_delta != r) return false;
        if (!reader_varint(bytes, record_end, &position, &key_length)) return false;
        if (key_length > 0) position += (u64)key_length;
        if (!reader_varint(bytes, record_end, &position, &value_length)) return false;
        if (value_length > 0) position += (u64)value_length;
        if (!reader_varint(bytes, record_end, &position, &headers)) return false;
        if (headers != 0 || position != record_end) return false;
        seen_max = MAX(seen_max, first_timestamp + timestamp_delta);
    }
    if (position != end || last_delta != count - 1 || seen_max != max_timestamp) return false;
    batch->size = end;
    batch->base_offset = base_offset;
    batch->last_offset = base_offset + last_delta;
    batch->max_timestamp = max_timestamp;
    return true;
}

/* ----- The test ----- */

static u8 batch_buffer[70 * 1024];

static const struct fake_image *durable_file(struct log_harness *h, i64 base, const char *suffix)
{
    char path[IO_PATH_MAX];
    struct fake_file *file = fake_io_file(h->fake, harness_path(path, base, suffix));
    ASSERT(file != NULL);
    return &file->durable;
}

/* Checks one closed segment's three files; returns the next offset after it. */
static i64 check_segment(struct log_harness *h, i64 base, i64 expected_offset)
{
    static struct reader_batch batches[4096];
    const struct fake_image *log = durable_file(h, base, ".log");
    u32 count = 0;
    u64 position = 0;
    i64 offset = expected_offset;
    while (position < log->size && count < 4096) {
        struct reader_batch *batch = &batches[count];
        CHECK(reader_batch(log->bytes + position, log->size - position, batch));
        if (test_failures_current > 0) return -1;
        batch->position = position;
        CHECK(batch->base_offset == offset); /* Contiguous, assigned by the log. */
        if (count == 0) CHECK(batch->base_offset == base);
        offset = batch->last_offset + 1;
        position += batch->size;
        count++;
    }
    CHECK(position == log->size);
    const struct fake_image *index = durable_file(h, base, ".index");
    CHECK(index->size % 8 == 0);
    u32 b = 0;
    for (u64 e = 0; e + 8 <= index->size; e += 8) {
        i32 relative = (i32)reader_be(index->bytes + e, 4);
        u32 at = (u32)reader_be(index->bytes + e + 4, 4);
        while (b < count && batches[b].position < at) b++;
        CHECK(b < count);
        if (b >= count) return -1;
        CHECK(batches[b].position == at);
        CHECK(base + relative == batches[b].last_offset);
    }
    CHECK(index->size >= 8); /* These segments are far larger than the interval. */
    const struct fake_image *time = durable_file(h, base, ".timeindex");
    CHECK(time->size % 12 == 0);
    CHECK(time->size >= 12);
    i64 previous = -1;
    for (u64 e = 0; e + 12 <= time->size; e += 12) {
        i64 timestamp = (i64)reader_be(time->bytes + e, 8);
        i32 relative = (i32)reader_be(time->bytes + e + 8, 4);
        CHECK(timestamp > previous);
        previous = timestamp;
        i64 largest = -1;
        bool found = false;
        for (u32 i = 0; i < count && batches[i].base_offset <= base + relative; i++) {
            largest = MAX(largest, batches[i].max_timestamp);
            if (batches[i].last_offset == base + relative) found = true;
        }
        CHECK(found);
        CHECK(largest == timestamp);
    }
    /* The last time entry is the segment's largest timestamp (written when it rolled). */
    i64 largest = -1;
    for (u32 i = 0; i < count; i++) largest = MAX(largest, batches[i].max_timestamp);
    CHECK(previous == largest);
    return offset;
}

TEST(segment_files_decode_with_an_independent_reader)
{
    struct log_harness *h = harness_create(NULL, 1);
    u64 state = 5;
    for (u32 i = 0; i < 120; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        u32 records = 1 + (u32)(state >> 60);
        i64 timestamp = 1000 * (i64)i - (i64)((state >> 40) % 3000); /* Not monotonic. */
        u32 size = harness_batch(batch_buffer, sizeof(batch_buffer), MAX(timestamp, 0), records,
                                 (u32)((state >> 20) % 500), i);
        harness_append(h, batch_buffer, size);
    }
    REQUIRE(partition_log_flush(&h->log, INT64_MAX, 1) == LOG_OK);
    harness_wait(h);
    REQUIRE(h->log.segment_count >= 4);
    i64 offset = 0;
    for (u32 s = 0; s + 1 < h->log.segment_count && test_failures_current == 0; s++) {
        offset = check_segment(h, h->log.segments[s].base_offset, offset);
        CHECK(offset == h->log.segments[s + 1].base_offset);
    }
    harness_destroy(h);
}

TEST(checkpoint_files_have_kafkas_text_format)
{
    struct log_harness *h = harness_create(NULL, 2);
    for (u32 i = 0; i < 3; i++) {
        u32 size = harness_batch(batch_buffer, sizeof(batch_buffer), 0, 2, 10, i);
        REQUIRE(partition_log_append(&h->log, batch_buffer, size, 3 + (i32)i, true, 1) == LOG_OK);
        harness_wait(h);
    }
    REQUIRE(partition_log_delete_records(&h->log, 1, 1) == LOG_OK);
    harness_wait(h);
    REQUIRE(partition_log_flush(&h->log, INT64_MAX, 1) == LOG_OK);
    harness_wait(h);
    struct {
        const char *name;
        const char *text;
    } expected[] = {
        {"t-0/recovery-point-offset-checkpoint", "0\n1\nt 0 6\n"},
        {"t-0/log-start-offset-checkpoint", "0\n1\nt 0 1\n"},
        {"t-0/leader-epoch-checkpoint", "0\n3\n3 1\n4 2\n5 4\n"},
    };
    for (u32 i = 0; i < ARRAY_LEN(expected); i++) {
        struct fake_file *file = fake_io_file(h->fake, expected[i].name);
        REQUIRE(file != NULL);
        CHECK_EQ_U64(file->durable.size, strlen(expected[i].text));
        CHECK(memcmp(file->durable.bytes, expected[i].text, file->durable.size) == 0);
    }
    harness_destroy(h);
}

static const struct test_case tests[] = {
    {"segment_files_decode_with_an_independent_reader",
     segment_files_decode_with_an_independent_reader},
    {"checkpoint_files_have_kafkas_text_format", checkpoint_files_have_kafkas_text_format},
};

TEST_MAIN(tests)
