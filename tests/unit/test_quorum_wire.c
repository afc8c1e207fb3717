/* test_quorum_wire.c: the quorum's wire codec: every message round-trips, and every truncated
 * or corrupted frame is rejected without a crash (ASan/UBSan catch any over-read). */
#include "test.h"

#include "../../impl/log/crc32c.h"
#include "../../impl/quorum/wire.h"

static u8 buffer[QUORUM_FRAME_SIZE_MAX];

/* Strips the size prefix and the response header; returns a reader over the body. */
static struct quorum_reader body_of_response(const u8 *frame, u32 size, i32 *correlation_id)
{
    struct quorum_reader reader = {.bytes = frame + 4, .size = size - 4, .position = 0};
    ASSERT(load_u32_be(frame) == size - 4);
    ASSERT(quorum_decode_response_header(&reader, correlation_id) == WIRE_OK);
    return reader;
}

TEST(vote_round_trip)
{
    struct quorum_writer writer;
    quorum_writer_init(&writer, buffer, sizeof(buffer));
    quorum_frame_request_begin(&writer, QUORUM_API_VOTE, 77, "kraft");
    struct quorum_vote_request in = {.CandidateEpoch = 5, .CandidateId = 2, .VoterId = 3,
                                     .LastOffsetEpoch = 4, .LastOffset = 1234, .PreVote = true};
    quorum_encode_vote_request(&writer, &in);
    u32 size = quorum_frame_end(&writer);
    struct quorum_reader reader = {.bytes = buffer + 4, .size = size - 4, .position = 0};
    struct quorum_header header;
    REQUIRE(quorum_decode_request_header(&reader, &header) == WIRE_OK);
    CHECK_EQ_U64(header.ApiKey, QUORUM_API_VOTE);
    CHECK_EQ_U64(header.CorrelationId, 77);
    CHECK(strcmp(header.ClientId, "kraft") == 0);
    struct quorum_vote_request out;
    REQUIRE(quorum_decode_vote_request(&reader, &out) == WIRE_OK);
    CHECK_EQ_U64(out.CandidateEpoch, 5);
    CHECK_EQ_U64(out.CandidateId, 2);
    CHECK_EQ_U64(out.VoterId, 3);
    CHECK_EQ_U64(out.LastOffsetEpoch, 4);
    CHECK_EQ_U64(out.LastOffset, 1234);
    CHECK(out.PreVote);
}

TEST(vote_response_round_trip)
{
    struct quorum_writer writer;
    quorum_writer_init(&writer, buffer, sizeof(buffer));
    quorum_frame_response_begin(&writer, 9);
    struct quorum_vote_response in = {.ErrorCode = 0, .LeaderId = -1, .LeaderEpoch = 8,
                                      .VoteGranted = true};
    quorum_encode_vote_response(&writer, &in);
    u32 size = quorum_frame_end(&writer);
    i32 correlation_id = 0;
    struct quorum_reader reader = body_of_response(buffer, size, &correlation_id);
    struct quorum_vote_response out;
    REQUIRE(quorum_decode_vote_response(&reader, &out) == WIRE_OK);
    CHECK_EQ_U64(correlation_id, 9);
    CHECK(out.LeaderId == -1);
    CHECK_EQ_U64(out.LeaderEpoch, 8);
    CHECK(out.VoteGranted);
}

static u32 encode_fetch_response(u32 record_count)
{
    static u8 records[4096];
    u32 records_size = 0;
    for (u32 i = 0; i < record_count; i++) {
        u8 payload[10] = {(u8)i, 1, 2, 3, 4, 5, 6, 7, 8, 9};
        records_size += quorum_record_encode(records + records_size, sizeof(records) - records_size,
                                             40 + i, 3, i == 0 ? QUORUM_RECORD_CONTROL : 0,
                                             payload, sizeof(payload));
    }
    struct quorum_writer writer;
    quorum_writer_init(&writer, buffer, sizeof(buffer));
    quorum_frame_response_begin(&writer, 5);
    struct quorum_fetch_response in = {.ErrorCode = 0, .LeaderId = 1, .LeaderEpoch = 3,
        .HighWatermark = 41, .DivergingEpoch = -1, .DivergingEndOffset = -1,
        .SnapshotId = {-1, -1}, .record_count = record_count, .records = records,
        .records_size = records_size};
    quorum_encode_fetch_response(&writer, &in);
    return quorum_frame_end(&writer);
}

TEST(fetch_response_round_trip)
{
    u32 size = encode_fetch_response(3);
    i32 correlation_id = 0;
    struct quorum_reader reader = body_of_response(buffer, size, &correlation_id);
    struct quorum_fetch_response out;
    REQUIRE(quorum_decode_fetch_response(&reader, &out) == WIRE_OK);
    CHECK_EQ_U64(out.record_count, 3);
    CHECK_EQ_U64(out.HighWatermark, 41);
    struct quorum_record record;
    u32 consumed = 0;
    REQUIRE(quorum_record_decode(out.records, out.records_size, &record, &consumed) == WIRE_OK);
    CHECK_EQ_U64(record.Offset, 40);
    CHECK_EQ_U64(record.Epoch, 3);
    CHECK_EQ_U64(record.Attributes, QUORUM_RECORD_CONTROL);
    CHECK_EQ_U64(record.size, 10);
}

/* Every strict prefix of a valid body must be rejected (never over-read: ASan watches). */
TEST(fetch_response_every_truncation_rejected)
{
    u32 size = encode_fetch_response(3);
    u32 rejected = 0;
    for (u32 cut = 8; cut < size; cut++) {
        u8 *copy = malloc(cut); /* Exact size, so an over-read hits the redzone. */
        memcpy(copy, buffer, cut);
        struct quorum_reader reader = {.bytes = copy + 8, .size = cut - 8, .position = 0};
        struct quorum_fetch_response out;
        if (quorum_decode_fetch_response(&reader, &out) == WIRE_INVALID) rejected++;
        free(copy);
    }
    CHECK_EQ_U64(rejected, size - 8);
}

TEST(every_byte_flip_of_records_is_caught_or_harmless)
{
    u32 size = encode_fetch_response(2);
    u32 caught = 0;
    for (u32 i = 8 + 50; i < size; i++) { /* Inside the records area: CRC or framing. */
        buffer[i] ^= 0x40;
        struct quorum_reader reader = {.bytes = buffer + 8, .size = size - 8, .position = 0};
        struct quorum_fetch_response out;
        if (quorum_decode_fetch_response(&reader, &out) == WIRE_INVALID) caught++;
        buffer[i] ^= 0x40;
    }
    CHECK_EQ_U64(caught, size - 8 - 50);
}

TEST(garbage_never_crashes)
{
    u64 state = 0x12345678;
    for (u32 round = 0; round < 20000; round++) {
        u32 size = (u32)(state % 96);
        u8 *bytes = malloc(size + 1);
        for (u32 i = 0; i < size; i++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            bytes[i] = (u8)(state >> 56);
            if (round % 3 == 0 && i < 2) bytes[i] = 0; /* Plausible small lengths. */
        }
        struct quorum_reader reader = {.bytes = bytes, .size = size, .position = 0};
        u32 accepted = 0;
        struct quorum_header header;
        accepted += quorum_decode_request_header(&reader, &header) == WIRE_OK;
        struct quorum_vote_request vote;
        reader.position = 0;
        accepted += quorum_decode_vote_request(&reader, &vote) == WIRE_OK;
        struct quorum_fetch_response fetch;
        reader.position = 0;
        accepted += quorum_decode_fetch_response(&reader, &fetch) == WIRE_OK;
        struct quorum_end_epoch_request end;
        reader.position = 0;
        accepted += quorum_decode_end_epoch_request(&reader, &end) == WIRE_OK;
        struct quorum_append_response append;
        reader.position = 0;
        accepted += quorum_decode_append_response(&reader, &append) == WIRE_OK;
        struct quorum_append_request request;
        reader.position = 0;
        accepted += quorum_decode_append_request(&reader, &request) == WIRE_OK;
        struct quorum_fetch_snapshot_request snapshot_request;
        reader.position = 0;
        accepted += quorum_decode_fetch_snapshot_request(&reader, &snapshot_request) == WIRE_OK;
        struct quorum_fetch_snapshot_response snapshot_response;
        reader.position = 0;
        accepted += quorum_decode_fetch_snapshot_response(&reader, &snapshot_response) == WIRE_OK;
        CHECK(accepted <= 8);
        free(bytes);
        state = state * 6364136223846793005ull + 1442695040888963407ull;
    }
    CHECK(true);
}

TEST(lengths_are_bounded)
{
    /* An append claiming more than QUORUM_ENTRY_SIZE_MAX bytes is rejected before any read. */
    u8 bytes[8];
    store_u32_be(bytes, QUORUM_ENTRY_SIZE_MAX + 1);
    struct quorum_reader reader = {.bytes = bytes, .size = sizeof(bytes), .position = 0};
    struct quorum_append_request request;
    CHECK(quorum_decode_append_request(&reader, &request) == WIRE_INVALID);
    /* A client id longer than its buffer is rejected. */
    u8 header[10 + 200] = {0, 1, 0, 0, 0, 0, 0, 1};
    store_u16_be(header + 8, 200);
    memset(header + 10, 'a', 200);
    struct quorum_reader header_reader = {.bytes = header, .size = sizeof(header), .position = 0};
    struct quorum_header decoded;
    CHECK(quorum_decode_request_header(&header_reader, &decoded) == WIRE_INVALID);
    /* Trailing bytes after a valid body are rejected. */
    u8 trailing[14] = {0};
    struct quorum_reader epoch_reader = {.bytes = trailing, .size = 11, .position = 0};
    struct quorum_epoch_response epoch;
    CHECK(quorum_decode_epoch_response(&epoch_reader, &epoch) == WIRE_INVALID);
    epoch_reader = (struct quorum_reader){.bytes = trailing, .size = 10, .position = 0};
    CHECK(quorum_decode_epoch_response(&epoch_reader, &epoch) == WIRE_OK);
}

TEST(append_round_trip)
{
    struct quorum_writer writer;
    quorum_writer_init(&writer, buffer, sizeof(buffer));
    quorum_frame_response_begin(&writer, 3);
    struct quorum_append_response in = {.ErrorCode = QUORUM_ERROR_NOT_LEADER_OR_FOLLOWER,
                                        .Offset = -1, .LeaderId = 2};
    strcpy(in.LeaderEndpoint, "n2:9092");
    quorum_encode_append_response(&writer, &in);
    u32 size = quorum_frame_end(&writer);
    i32 correlation_id = 0;
    struct quorum_reader reader = body_of_response(buffer, size, &correlation_id);
    struct quorum_append_response out;
    REQUIRE(quorum_decode_append_response(&reader, &out) == WIRE_OK);
    CHECK_EQ_U64(out.ErrorCode, QUORUM_ERROR_NOT_LEADER_OR_FOLLOWER);
    CHECK(strcmp(out.LeaderEndpoint, "n2:9092") == 0);
    CHECK(out.Offset == -1);
}

TEST(crc32c_known_value)
{
    /* The standard CRC32C check value of "123456789". */
    CHECK_EQ_U64(crc32c_extend(0, (const u8 *)"123456789", 9), 0xe3069283u);
}

/* ===== FetchSnapshot and the Fetch response's SnapshotId ===== */

TEST(fetch_response_names_a_snapshot)
{
    struct quorum_writer writer;
    quorum_writer_init(&writer, buffer, sizeof(buffer));
    quorum_frame_response_begin(&writer, 6);
    struct quorum_fetch_response in = {.LeaderId = 1, .LeaderEpoch = 4, .HighWatermark = 900,
        .DivergingEpoch = -1, .DivergingEndOffset = -1, .SnapshotId = {812, 3}};
    quorum_encode_fetch_response(&writer, &in);
    u32 size = quorum_frame_end(&writer);
    i32 correlation_id = 0;
    struct quorum_reader reader = body_of_response(buffer, size, &correlation_id);
    struct quorum_fetch_response out;
    REQUIRE(quorum_decode_fetch_response(&reader, &out) == WIRE_OK);
    CHECK_EQ_U64(out.SnapshotId.EndOffset, 812);
    CHECK_EQ_U64(out.SnapshotId.Epoch, 3);
    CHECK_EQ_U64(out.record_count, 0);
    /* A snapshot id is none (-1, -1) or real (both positive), never half of each. */
    const i64 bad_ends[] = {0, -2, 812, -1};
    const i32 bad_epochs[] = {3, 3, 0, 3};
    for (u32 i = 0; i < 4; i++) {
        quorum_writer_init(&writer, buffer, sizeof(buffer));
        quorum_frame_response_begin(&writer, 6);
        in.SnapshotId = (struct quorum_snapshot_id){bad_ends[i], bad_epochs[i]};
        quorum_encode_fetch_response(&writer, &in);
        size = quorum_frame_end(&writer);
        reader = body_of_response(buffer, size, &correlation_id);
        CHECK(quorum_decode_fetch_response(&reader, &out) == WIRE_INVALID);
    }
}

TEST(fetch_snapshot_request_round_trip_and_truncations)
{
    struct quorum_writer writer;
    quorum_writer_init(&writer, buffer, sizeof(buffer));
    quorum_frame_request_begin(&writer, QUORUM_API_FETCH_SNAPSHOT, 9, "kraft");
    struct quorum_fetch_snapshot_request in = {.ReplicaId = 3, .MaxBytes = 65536,
        .CurrentLeaderEpoch = 7, .SnapshotId = {4096, 6}, .Position = 131072};
    quorum_encode_fetch_snapshot_request(&writer, &in);
    u32 size = quorum_frame_end(&writer);
    struct quorum_reader reader = {.bytes = buffer + 4, .size = size - 4, .position = 0};
    struct quorum_header header;
    REQUIRE(quorum_decode_request_header(&reader, &header) == WIRE_OK);
    CHECK_EQ_U64(header.ApiKey, QUORUM_API_FETCH_SNAPSHOT);
    u32 body = reader.position;
    struct quorum_fetch_snapshot_request out;
    REQUIRE(quorum_decode_fetch_snapshot_request(&reader, &out) == WIRE_OK);
    CHECK_EQ_U64(out.ReplicaId, 3);
    CHECK_EQ_U64(out.MaxBytes, 65536);
    CHECK_EQ_U64(out.CurrentLeaderEpoch, 7);
    CHECK_EQ_U64(out.SnapshotId.EndOffset, 4096);
    CHECK_EQ_U64(out.SnapshotId.Epoch, 6);
    CHECK_EQ_U64(out.Position, 131072);
    for (u32 cut = 0; cut < size - 4 - body; cut++) {
        u8 *copy = malloc(cut + 1); /* Exact size (+1 for cut 0): an over-read hits ASan. */
        memcpy(copy, buffer + 4 + body, cut);
        struct quorum_reader short_reader = {.bytes = copy, .size = cut, .position = 0};
        CHECK(quorum_decode_fetch_snapshot_request(&short_reader, &out) == WIRE_INVALID);
        free(copy);
    }
    /* No snapshot named, or a negative position or size limit: rejected. */
    const struct quorum_fetch_snapshot_request bad[] = {
        {.ReplicaId = 3, .MaxBytes = 10, .CurrentLeaderEpoch = 1, .SnapshotId = {-1, -1}},
        {.ReplicaId = 3, .MaxBytes = 10, .CurrentLeaderEpoch = 1, .SnapshotId = {5, 1},
         .Position = -1},
        {.ReplicaId = 3, .MaxBytes = 0, .CurrentLeaderEpoch = 1, .SnapshotId = {5, 1}},
    };
    for (u32 i = 0; i < ARRAY_LEN(bad); i++) {
        quorum_writer_init(&writer, buffer, sizeof(buffer));
        quorum_frame_request_begin(&writer, QUORUM_API_FETCH_SNAPSHOT, 9, "kraft");
        quorum_encode_fetch_snapshot_request(&writer, &bad[i]);
        size = quorum_frame_end(&writer);
        reader = (struct quorum_reader){.bytes = buffer + 4, .size = size - 4, .position = 0};
        REQUIRE(quorum_decode_request_header(&reader, &header) == WIRE_OK);
        CHECK(quorum_decode_fetch_snapshot_request(&reader, &out) == WIRE_INVALID);
    }
}

static u32 encode_fetch_snapshot_response(i64 size_total, i64 position, const u8 *chunk,
                                          u32 chunk_size)
{
    struct quorum_writer writer;
    quorum_writer_init(&writer, buffer, sizeof(buffer));
    quorum_frame_response_begin(&writer, 8);
    struct quorum_fetch_snapshot_response in = {.ErrorCode = 0, .LeaderId = 1,
        .LeaderEpoch = 7, .SnapshotId = {4096, 6}, .Size = size_total, .Position = position,
        .chunk = chunk, .chunk_size = chunk_size};
    quorum_encode_fetch_snapshot_response(&writer, &in);
    return quorum_frame_end(&writer);
}

TEST(fetch_snapshot_response_round_trip_and_bounds)
{
    static u8 chunk[QUORUM_SNAPSHOT_CHUNK_MAX];
    for (u32 i = 0; i < sizeof(chunk); i++) chunk[i] = (u8)(i * 7);
    u32 size = encode_fetch_snapshot_response(200000, 65536, chunk, sizeof(chunk));
    i32 correlation_id = 0;
    struct quorum_reader reader = body_of_response(buffer, size, &correlation_id);
    struct quorum_fetch_snapshot_response out;
    REQUIRE(quorum_decode_fetch_snapshot_response(&reader, &out) == WIRE_OK);
    CHECK_EQ_U64(correlation_id, 8);
    CHECK_EQ_U64(out.Size, 200000);
    CHECK_EQ_U64(out.Position, 65536);
    CHECK_EQ_U64(out.SnapshotId.EndOffset, 4096);
    CHECK_EQ_U64(out.SnapshotId.Epoch, 6);
    CHECK_EQ_U64(out.LeaderEpoch, 7);
    REQUIRE(out.chunk_size == sizeof(chunk));
    CHECK(memcmp(out.chunk, chunk, sizeof(chunk)) == 0);
    /* Every truncation is rejected without an over-read. */
    for (u32 cut = 8; cut < size; cut += cut < 200 ? 1 : 997) {
        u8 *copy = malloc(cut);
        memcpy(copy, buffer, cut);
        struct quorum_reader short_reader = {.bytes = copy + 8, .size = cut - 8};
        CHECK(quorum_decode_fetch_snapshot_response(&short_reader, &out) == WIRE_INVALID);
        free(copy);
    }
    /* A chunk reaching past the snapshot's size, a size above the limit, a position past the
     * end: rejected. The last chunk ending exactly at the size is fine. */
    size = encode_fetch_snapshot_response(65536 + 100, 200, chunk, sizeof(chunk));
    reader = body_of_response(buffer, size, &correlation_id);
    CHECK(quorum_decode_fetch_snapshot_response(&reader, &out) == WIRE_INVALID);
    size = encode_fetch_snapshot_response((i64)QUORUM_SNAPSHOT_SIZE_MAX + 1, 0, chunk, 10);
    reader = body_of_response(buffer, size, &correlation_id);
    CHECK(quorum_decode_fetch_snapshot_response(&reader, &out) == WIRE_INVALID);
    size = encode_fetch_snapshot_response(100, 101, chunk, 0);
    reader = body_of_response(buffer, size, &correlation_id);
    CHECK(quorum_decode_fetch_snapshot_response(&reader, &out) == WIRE_INVALID);
    size = encode_fetch_snapshot_response(65536 + 100, 100, chunk, sizeof(chunk));
    reader = body_of_response(buffer, size, &correlation_id);
    CHECK(quorum_decode_fetch_snapshot_response(&reader, &out) == WIRE_OK);
}

static const struct test_case tests[] = {
    {"fetch_response_names_a_snapshot", fetch_response_names_a_snapshot},
    {"fetch_snapshot_request_round_trip_and_truncations",
     fetch_snapshot_request_round_trip_and_truncations},
    {"fetch_snapshot_response_round_trip_and_bounds",
     fetch_snapshot_response_round_trip_and_bounds},
    {"vote_round_trip", vote_round_trip},
    {"vote_response_round_trip", vote_response_round_trip},
    {"fetch_response_round_trip", fetch_response_round_trip},
    {"fetch_response_every_truncation_rejected", fetch_response_every_truncation_rejected},
    {"every_byte_flip_of_records_is_caught_or_harmless",
     every_byte_flip_of_records_is_caught_or_harmless},
    {"garbage_never_crashes", garbage_never_crashes},
    {"lengths_are_bounded", lengths_are_bounded},
    {"append_round_trip", append_round_trip},
    {"crc32c_known_value", crc32c_known_value},
};
TEST_MAIN(tests)
