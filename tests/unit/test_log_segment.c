/* Tests for impl/log/segment.c and impl/log/checkpoint.c, the pure parts of the log: file names,
 * index growth by Kafka's rule, lookups, index file encode/decode round trips and the decoder's
 * refusal of corrupt files, truncation, and the checkpoint text formats (round trips and
 * malformed inputs). */
#include "test.h"

#include "../../impl/log/checkpoint.h"
#include "../../impl/log/crc32c.h"
#include "../../impl/log/segment.h"

TEST(segment_file_names)
{
    char path[IO_PATH_MAX];
    segment_path(path, sizeof(path), "topic-3", 42, SEGMENT_FILE_INDEX);
    CHECK(strcmp(path, "topic-3/00000000000000000042.index") == 0);
    segment_path(path, sizeof(path), "t-0", INT64_MAX, SEGMENT_FILE_TIME_INDEX);
    CHECK(strcmp(path, "t-0/09223372036854775807.timeindex") == 0);
    i64 base = 0;
    enum segment_file_kind kind;
    CHECK(segment_name_parse("00000000000000000042.log", &base, &kind));
    CHECK(base == 42 && kind == SEGMENT_FILE_LOG);
    CHECK(segment_name_parse("00000000000000000007.timeindex", &base, &kind));
    CHECK(base == 7 && kind == SEGMENT_FILE_TIME_INDEX);
    CHECK(!segment_name_parse("0000000000000000042.log", &base, &kind));  /* 19 digits */
    CHECK(!segment_name_parse("00000000000000000042.log.deleted", &base, &kind));
    CHECK(!segment_name_parse("00000000000000000042.swap", &base, &kind));
    CHECK(!segment_name_parse("99999999999999999999.log", &base, &kind)); /* > INT64_MAX */
    CHECK(!segment_name_parse("leader-epoch-checkpoint", &base, &kind));
}

static struct record_batch_header header_of(i64 base, i32 records, i64 max_timestamp,
                                            u64 size)
{
    struct record_batch_header header = {0};
    header.BaseOffset = base;
    header.LastOffsetDelta = records - 1;
    header.RecordCount = records;
    header.MaxTimestamp = max_timestamp;
    header.BatchLength = (i32)(size - RECORD_BATCH_LOG_OVERHEAD);
    return header;
}

TEST(indexes_grow_by_kafkas_rule_and_look_up)
{
    struct segment segment;
    REQUIRE(segment_init(&segment, 100, 4096, 1000));
    /* 20 batches of 3 records, 300 bytes each, interval 1000: an entry for the batch that
     * starts more than 1000 bytes after the previous entry (batches 4, 8, 12, 16). */
    i64 timestamps[20];
    for (u32 i = 0; i < 20; i++) {
        timestamps[i] = (i % 5 == 3) ? 10 * (i64)i - 25 : 10 * (i64)i; /* Some go backwards. */
        struct record_batch_header header = header_of(100 + 3 * i, 3, timestamps[i], 300);
        segment_add_batch(&segment, &header, 300, 1000);
    }
    CHECK(segment.size == 6000);
    CHECK(segment.next_offset == 160);
    CHECK_EQ_U64(segment.index.count, 4);
    for (u32 e = 0; e < segment.index.count; e++) {
        CHECK(segment.index.entries[e].position == (e + 1) * 1200);
        CHECK(segment.index.entries[e].relative_offset == (i32)((e + 1) * 4 * 3 + 2));
    }
    CHECK(offset_index_lookup(&segment.index, 100, 100) == 0);
    CHECK(offset_index_lookup(&segment.index, 100, 113) == 0);   /* Entry 0 names 114. */
    CHECK(offset_index_lookup(&segment.index, 100, 114) == 1200);
    CHECK(offset_index_lookup(&segment.index, 100, 159) == 4800);
    const struct offset_index_entry *entry =
        offset_index_floor_position(&segment.index, 100, 3000, INT64_MAX);
    REQUIRE(entry != NULL);
    CHECK(entry->position == 2400);
    entry = offset_index_floor_position(&segment.index, 100, 6000, 130);
    REQUIRE(entry != NULL);
    CHECK(entry->position == 2400); /* Entry 2400 names 126 < 130; 3600 names 138. */
    CHECK(offset_index_floor_position(&segment.index, 100, 1000, INT64_MAX) == NULL);
    /* Time entries: the largest timestamp so far, only when it grew. */
    for (u32 e = 1; e < segment.time.count; e++) {
        CHECK(segment.time.entries[e].timestamp > segment.time.entries[e - 1].timestamp);
    }
    CHECK(time_index_lookup(&segment.time, 100, -5) == 100);
    i64 from = time_index_lookup(&segment.time, 100, 125);
    CHECK(from >= 100 && from <= 100 + 3 * 13);
    segment_close_for_appends(&segment);
    CHECK(segment.time.entries[segment.time.count - 1].timestamp == 190);
    segment_free(&segment);
}

TEST(index_files_round_trip_and_corruption_is_refused)
{
    struct segment segment, loaded;
    REQUIRE(segment_init(&segment, 1000, 4096, 1000));
    for (u32 i = 0; i < 40; i++) {
        struct record_batch_header header = header_of(1000 + 2 * i, 2, 5 * (i64)i, 500);
        segment_add_batch(&segment, &header, 500, 700);
    }
    segment_close_for_appends(&segment);
    u8 index_bytes[4096], time_bytes[4096];
    u64 index_size = offset_index_encode(&segment.index, 0, segment.index.count, index_bytes);
    u64 time_size = time_index_encode(&segment.time, 0, segment.time.count, time_bytes);
    CHECK(index_size == segment.index.count * 8u);
    CHECK(time_size == segment.time.count * 12u);
    /* Kafka's layout: big-endian relative offset then position. */
    CHECK(load_u32_be(index_bytes) == (u32)segment.index.entries[0].relative_offset);
    CHECK(load_u32_be(index_bytes + 4) == segment.index.entries[0].position);
    REQUIRE(segment_init(&loaded, 1000, 4096, 1000));
    /* Decoding in two chunks gives the same entries. */
    CHECK(offset_index_decode_append(&loaded.index, index_bytes, 16, 1000, 1080, 20000));
    CHECK(offset_index_decode_append(&loaded.index, index_bytes + 16, index_size - 16, 1000, 1080,
                                     20000));
    CHECK(time_index_decode_append(&loaded.time, time_bytes, time_size, 1000, 1080));
    CHECK_EQ_U64(loaded.index.count, segment.index.count);
    CHECK(memcmp(loaded.index.entries, segment.index.entries,
                 segment.index.count * sizeof(struct offset_index_entry)) == 0);
    CHECK_EQ_U64(loaded.time.count, segment.time.count);
    /* Every single-bit flip of the offset index is either refused or still increasing. */
    for (u64 bit = 0; bit < index_size * 8; bit++) {
        loaded.index.count = 0;
        index_bytes[bit / 8] ^= (u8)(1u << (bit % 8));
        if (offset_index_decode_append(&loaded.index, index_bytes, index_size, 1000, 1080,
                                       20000)) {
            for (u32 e = 1; e < loaded.index.count; e++) {
                CHECK(loaded.index.entries[e].position > loaded.index.entries[e - 1].position);
            }
        }
        index_bytes[bit / 8] ^= (u8)(1u << (bit % 8));
    }
    loaded.index.count = 0;
    CHECK(!offset_index_decode_append(&loaded.index, index_bytes, index_size - 1, 1000, 1080,
                                      20000));
    loaded.index.count = 0;
    CHECK(!offset_index_decode_append(&loaded.index, index_bytes, index_size, 1000, 1010,
                                      20000)); /* Offsets beyond the segment's end. */
    loaded.index.count = 0;
    CHECK(!offset_index_decode_append(&loaded.index, index_bytes, index_size, 1000, 1080, 1000));
    loaded.time.count = 0;
    CHECK(!time_index_decode_append(&loaded.time, time_bytes, time_size - 4, 1000, 1080));
    segment_free(&loaded);
    segment_free(&segment);
}

TEST(truncate_forgets_entries_at_and_after_the_cut)
{
    struct segment segment;
    REQUIRE(segment_init(&segment, 0, 4096, 1000));
    for (u32 i = 0; i < 30; i++) {
        struct record_batch_header header = header_of(i, 1, (i64)i, 400);
        segment_add_batch(&segment, &header, 400, 500);
    }
    u32 before = segment.index.count;
    segment_truncate(&segment, 4000, 10);
    CHECK(segment.size == 4000);
    CHECK(segment.next_offset == 10);
    CHECK(segment.index.count < before);
    for (u32 e = 0; e < segment.index.count; e++) CHECK(segment.index.entries[e].position < 4000);
    CHECK(segment.max_timestamp <= 9);
    /* Appending again continues the same rule. */
    struct record_batch_header header = header_of(10, 1, 50, 400);
    segment_add_batch(&segment, &header, 400, 500);
    CHECK(segment.next_offset == 11);
    segment_truncate(&segment, 0, 0);
    CHECK(segment.index.count == 0 && segment.time.count == 0 && segment.size == 0);
    segment_free(&segment);
}

TEST(offset_checkpoints_round_trip_and_reject_malformed_text)
{
    char text[512];
    u32 size = checkpoint_offset_encode(text, sizeof(text), "orders", 7, 123456789012345);
    CHECK(size == strlen("0\n1\norders 7 123456789012345\n"));
    CHECK(memcmp(text, "0\n1\norders 7 123456789012345\n", size) == 0);
    i64 offset = 0;
    CHECK(checkpoint_offset_parse(text, size, "orders", 7, &offset));
    CHECK(offset == 123456789012345);
    CHECK(!checkpoint_offset_parse(text, size, "orders", 8, &offset));
    const char *many = "0\n3\na 0 5\norders 7 9\nb 1 6\n";
    CHECK(checkpoint_offset_parse(many, (u32)strlen(many), "orders", 7, &offset));
    CHECK(offset == 9);
    const char *bad[] = {
        "", "0\n", "1\n1\norders 7 9\n", "0\n2\norders 7 9\n", "0\n1\norders 7 9",
        "0\n1\norders 7 x9\n", "0\n1\norders 7\n", "0\n1\norders 7 9 1\n", "0\n-1\n",
        "0\n1\norders 7 9\nextra\n",
    };
    for (u32 i = 0; i < ARRAY_LEN(bad); i++) {
        CHECK(!checkpoint_offset_parse(bad[i], (u32)strlen(bad[i]), "orders", 7, &offset));
    }
    CHECK(checkpoint_offset_encode(text, 8, "orders", 7, 1) == 0); /* Does not fit. */
}

TEST(epoch_checkpoints_round_trip_and_reject_malformed_text)
{
    struct epoch_entry entries[3] = {{0, 0}, {4, 100}, {9, 100}};
    char text[256];
    u32 size = checkpoint_epochs_encode(text, sizeof(text), entries, 3);
    CHECK(size == strlen("0\n3\n0 0\n4 100\n9 100\n"));
    CHECK(memcmp(text, "0\n3\n0 0\n4 100\n9 100\n", size) == 0);
    struct epoch_entry parsed[4];
    u32 count = 0;
    CHECK(checkpoint_epochs_parse(text, size, parsed, 4, &count));
    CHECK(count == 3 && parsed[2].epoch == 9 && parsed[2].start_offset == 100);
    CHECK(!checkpoint_epochs_parse(text, size, parsed, 2, &count)); /* Too many. */
    const char *bad[] = {
        "0\n2\n4 100\n3 200\n", "0\n2\n4 100\n5 50\n", "0\n1\n-1 0\n", "0\n1\n1 -5\n",
        "0\n1\n1\n", "0\n1\n1 2 3\n", "0\n1\n99999999999 0\n",
    };
    for (u32 i = 0; i < ARRAY_LEN(bad); i++) {
        CHECK(!checkpoint_epochs_parse(bad[i], (u32)strlen(bad[i]), parsed, 4, &count));
    }
    CHECK(checkpoint_epochs_parse("0\n0\n", 4, parsed, 4, &count));
    CHECK(count == 0);
}

static u32 crc32c_bitwise(const u8 *bytes, u64 size)
{
    u32 crc = 0xFFFFFFFFu;
    for (u64 i = 0; i < size; i++) {
        crc ^= bytes[i];
        for (int bit = 0; bit < 8; bit++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
    }
    return ~crc;
}

/* Long inputs take the three-stream paths of the hardware CRC; any length and alignment must
 * give the bytewise answer, and extending in pieces must equal one pass. */
TEST(crc32c_long_inputs_match_the_bytewise_reference)
{
    static u8 bytes[100000];
    u64 state = 12345;
    for (u32 i = 0; i < sizeof(bytes); i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        bytes[i] = (u8)(state >> 56);
    }
    u64 sizes[] = {0, 7, 767, 768, 769, 24575, 24576, 24577, 65536, 99990};
    for (u32 s = 0; s < ARRAY_LEN(sizes); s++) {
        for (u32 shift = 0; shift < 9; shift += 4) {
            u64 size = MIN(sizes[s], sizeof(bytes) - shift);
            u32 expected = crc32c_bitwise(bytes + shift, size);
            CHECK_EQ_U64(crc32c(bytes + shift, size), expected);
            u64 split = size / 3;
            CHECK_EQ_U64(crc32c_extend(crc32c(bytes + shift, split), bytes + shift + split,
                                       size - split),
                         expected);
        }
    }
}

static const struct test_case tests[] = {
    {"crc32c_long_inputs_match_the_bytewise_reference",
     crc32c_long_inputs_match_the_bytewise_reference},
    {"segment_file_names", segment_file_names},
    {"indexes_grow_by_kafkas_rule_and_look_up", indexes_grow_by_kafkas_rule_and_look_up},
    {"index_files_round_trip_and_corruption_is_refused",
     index_files_round_trip_and_corruption_is_refused},
    {"truncate_forgets_entries_at_and_after_the_cut",
     truncate_forgets_entries_at_and_after_the_cut},
    {"offset_checkpoints_round_trip_and_reject_malformed_text",
     offset_checkpoints_round_trip_and_reject_malformed_text},
    {"epoch_checkpoints_round_trip_and_reject_malformed_text",
     epoch_checkpoints_round_trip_and_reject_malformed_text},
};

TEST_MAIN(tests)
