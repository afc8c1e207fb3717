/* Tests for the hand-written protocol support in impl/protocol/: the wire primitives (codec.c)
 * against known encodings and hostile lengths, request/response headers and framing
 * (header.c) with byte sequences built by hand from the spec (the ApiVersions v3 request as
 * librdkafka sends it, a Metadata v1 request as kafka-python sends it, a flexible header with
 * tagged fields), the ApiVersions handler and table (api_versions.c), the generated error
 * codes, and every request/response class of kafka-python 2.0.2 (an independent encoder; see
 * test_protocol_kafka_python.py): each must decode and re-encode to the same bytes, except
 * seven where kafka-python departs from Kafka's schema, which must be refused. */
#include "test.h"

#include "../../impl/protocol/api_versions.h"
#include "../../impl/protocol/codec.h"
#include "../../impl/protocol/errors_generated.h"
#include "../../impl/protocol/header.h"
#include "../../impl/protocol/messages_generated.h"
#include "test_protocol_kafka_python.h"

static u8 arena_memory[1 << 16];

static struct proto_reader reader_of(const u8 *bytes, u32 size)
{
    struct proto_reader reader;
    proto_reader_init(&reader, bytes, size);
    return reader;
}

TEST(unsigned_varints_known_encodings)
{
    static const struct {
        u32 value;
        u8 bytes[5];
        u32 size;
    } cases[] = {
        {0, {0x00}, 1},
        {1, {0x01}, 1},
        {127, {0x7F}, 1},
        {128, {0x80, 0x01}, 2},
        {300, {0xAC, 0x02}, 2},
        {16384, {0x80, 0x80, 0x01}, 3},
        {UINT32_MAX, {0xFF, 0xFF, 0xFF, 0xFF, 0x0F}, 5},
    };
    for (u32 i = 0; i < ARRAY_LEN(cases); i++) {
        u8 out[8];
        struct proto_writer writer;
        proto_writer_init(&writer, out, sizeof(out));
        proto_write_uvarint(&writer, cases[i].value);
        CHECK_EQ_U64(writer.position, cases[i].size);
        CHECK(memcmp(out, cases[i].bytes, cases[i].size) == 0);
        CHECK_EQ_U64(proto_uvarint_size(cases[i].value), cases[i].size);
        struct proto_reader reader = reader_of(cases[i].bytes, cases[i].size);
        CHECK_EQ_U64(proto_read_uvarint(&reader), cases[i].value);
        CHECK(reader.error == PROTO_OK && reader.position == cases[i].size);
    }
    /* Six bytes, or a fifth byte above 0x0F, do not fit 32 bits. */
    static const u8 too_long[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    struct proto_reader reader = reader_of(too_long, sizeof(too_long));
    (void)proto_read_uvarint(&reader);
    CHECK(reader.error == PROTO_ERROR_INVALID);
    static const u8 too_big[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x1F};
    reader = reader_of(too_big, sizeof(too_big));
    (void)proto_read_uvarint(&reader);
    CHECK(reader.error == PROTO_ERROR_INVALID);
    static const u8 cut[] = {0x80, 0x80};
    reader = reader_of(cut, sizeof(cut));
    CHECK_EQ_U64(proto_read_uvarint(&reader), 0);
    CHECK(reader.error == PROTO_ERROR_TRUNCATED);
}

TEST(zigzag_varints_round_trip)
{
    static const i64 values[] = {0, -1, 1, -64, 63, 64, INT32_MIN, INT32_MAX, INT64_MIN,
                                 INT64_MAX};
    u8 out[16];
    for (u32 i = 0; i < ARRAY_LEN(values); i++) {
        struct proto_writer writer;
        proto_writer_init(&writer, out, sizeof(out));
        proto_write_varlong(&writer, values[i]);
        struct proto_reader reader = reader_of(out, writer.position);
        CHECK(proto_read_varlong(&reader) == values[i]);
        CHECK(reader.error == PROTO_OK && reader.position == writer.position);
        if (values[i] < INT32_MIN || values[i] > INT32_MAX) continue;
        proto_writer_init(&writer, out, sizeof(out));
        proto_write_varint(&writer, (i32)values[i]);
        reader = reader_of(out, writer.position);
        CHECK(proto_read_varint(&reader) == values[i]);
    }
    struct proto_writer writer;
    proto_writer_init(&writer, out, sizeof(out));
    proto_write_varint(&writer, -1);
    CHECK(writer.position == 1 && out[0] == 0x01);
}

TEST(integers_are_big_endian)
{
    u8 out[32];
    struct proto_writer writer;
    proto_writer_init(&writer, out, sizeof(out));
    proto_write_i16(&writer, 0x0102);
    proto_write_i32(&writer, -2);
    proto_write_i64(&writer, 0x0102030405060708);
    proto_write_f64(&writer, 1.5);
    static const u8 expected[] = {1, 2, 0xFF, 0xFF, 0xFF, 0xFE, 1, 2, 3, 4, 5, 6, 7, 8,
                                  0x3F, 0xF8, 0, 0, 0, 0, 0, 0};
    REQUIRE(writer.position == sizeof(expected));
    CHECK(memcmp(out, expected, sizeof(expected)) == 0);
    struct proto_reader reader = reader_of(out, writer.position);
    CHECK(proto_read_i16(&reader) == 0x0102);
    CHECK(proto_read_i32(&reader) == -2);
    CHECK(proto_read_i64(&reader) == 0x0102030405060708);
    CHECK(proto_read_f64(&reader) == 1.5);
    CHECK(proto_read_i8(&reader) == 0 && reader.error == PROTO_ERROR_TRUNCATED);
    CHECK(reader.position == writer.position); /* The failed read moved nothing. */
    CHECK(proto_read_i32(&reader) == 0);       /* Sticky: later reads return zero. */
}

TEST(strings_classic_and_compact)
{
    /* Classic: int16 length, -1 null. */
    static const u8 classic[] = {0x00, 0x03, 'a', 'b', 'c', 0xFF, 0xFF};
    struct proto_reader reader = reader_of(classic, sizeof(classic));
    CHECK(proto_string_equal_cstr(proto_read_string(&reader, false, false), "abc"));
    CHECK(proto_read_string(&reader, false, true).size == -1);
    CHECK(reader.error == PROTO_OK);
    reader = reader_of(classic + 5, 2);
    (void)proto_read_string(&reader, false, false); /* Null where not nullable. */
    CHECK(reader.error == PROTO_ERROR_INVALID);
    static const u8 minus_two[] = {0xFF, 0xFE};
    reader = reader_of(minus_two, 2);
    (void)proto_read_string(&reader, false, true);
    CHECK(reader.error == PROTO_ERROR_INVALID);
    static const u8 too_long[] = {0x00, 0x05, 'a', 'b'};
    reader = reader_of(too_long, sizeof(too_long));
    (void)proto_read_string(&reader, false, false);
    CHECK(reader.error == PROTO_ERROR_TRUNCATED);
    /* Compact: uvarint length + 1, 0 = null, 1 = empty. */
    static const u8 compact[] = {0x04, 'x', 'y', 'z', 0x01, 0x00};
    reader = reader_of(compact, sizeof(compact));
    CHECK(proto_string_equal_cstr(proto_read_string(&reader, true, false), "xyz"));
    CHECK(proto_read_string(&reader, true, false).size == 0);
    CHECK(proto_read_string(&reader, true, true).size == -1);
    CHECK(reader.error == PROTO_OK && reader.position == sizeof(compact));
    /* Bytes: int32 length; a length beyond the frame is refused before use. */
    static const u8 bytes[] = {0x7F, 0xFF, 0xFF, 0xFF, 1, 2};
    reader = reader_of(bytes, sizeof(bytes));
    CHECK(proto_read_bytes(&reader, false, false).size == 0);
    CHECK(reader.error == PROTO_ERROR_TRUNCATED);
    /* Writing a classic string longer than int16 is unrepresentable. */
    static char long_text[40000];
    memset(long_text, 'a', sizeof(long_text));
    struct proto_writer writer;
    proto_writer_init_counter(&writer);
    proto_write_string(&writer, (struct proto_string){long_text, 40000}, false, false);
    CHECK(writer.error == PROTO_ERROR_UNREPRESENTABLE);
    proto_writer_init_counter(&writer);
    proto_write_string(&writer, (struct proto_string){long_text, 40000}, true, false);
    CHECK(writer.error == PROTO_OK && writer.position == 3 + 40000);
}

TEST(array_counts_are_bounded_by_the_bytes)
{
    static const u8 counts[] = {0x00, 0x00, 0x00, 0x02, 0xAA, 0xBB, 0xCC, 0xDD};
    struct proto_reader reader = reader_of(counts, sizeof(counts));
    CHECK(proto_read_array_count(&reader, false, false, 2) == 2);
    reader = reader_of(counts, sizeof(counts));
    CHECK(proto_read_array_count(&reader, false, false, 3) == 0); /* 2 x 3 > 4 remaining. */
    CHECK(reader.error == PROTO_ERROR_TRUNCATED);
    static const u8 minus_two[] = {0xFF, 0xFF, 0xFF, 0xFE};
    reader = reader_of(minus_two, 4);
    (void)proto_read_array_count(&reader, false, true, 1);
    CHECK(reader.error == PROTO_ERROR_INVALID);
    static const u8 compact_null[] = {0x00};
    reader = reader_of(compact_null, 1);
    CHECK(proto_read_array_count(&reader, true, true, 1) == -1);
    reader = reader_of(compact_null, 1);
    (void)proto_read_array_count(&reader, true, false, 1);
    CHECK(reader.error == PROTO_ERROR_INVALID);
}

TEST(arena_is_bounded_and_aligned)
{
    u8 memory[64];
    struct proto_arena arena;
    proto_arena_init(&arena, memory, sizeof(memory));
    u8 *a = proto_arena_alloc(&arena, 3);
    u8 *b = proto_arena_alloc(&arena, 8);
    CHECK(a == memory && b == memory + 8);
    CHECK(proto_arena_alloc(&arena, 49) == NULL);
    CHECK(proto_arena_alloc(&arena, 48) != NULL);
    CHECK(proto_arena_alloc(&arena, UINT64_MAX) == NULL);
    proto_arena_reset(&arena);
    CHECK(arena.used == 0);
}

/* The ApiVersions v3 request librdkafka 2.0.2 sends first (header v2, compact strings): built
 * from the spec, and identical to the bytes captured from `kcat -L` on this machine. */
static const u8 librdkafka_api_versions_v3[] = {
    0x00, 0x12,             /* ApiKey 18 */
    0x00, 0x03,             /* ApiVersion 3 */
    0x00, 0x00, 0x00, 0x01, /* CorrelationId 1 */
    0x00, 0x07, 'r', 'd', 'k', 'a', 'f', 'k', 'a', /* ClientId, classic string */
    0x00,                   /* Header tagged fields: none */
    0x0B, 'l', 'i', 'b', 'r', 'd', 'k', 'a', 'f', 'k', 'a', /* ClientSoftwareName */
    0x06, '2', '.', '0', '.', '2', /* ClientSoftwareVersion */
    0x00,                   /* Body tagged fields: none */
};

TEST(request_header_v2_as_librdkafka_sends_it)
{
    struct proto_reader reader =
        reader_of(librdkafka_api_versions_v3, sizeof(librdkafka_api_versions_v3));
    struct proto_request_header header;
    REQUIRE(proto_request_header_decode(&reader, &header) == PROTO_OK);
    CHECK(header.RequestApiKey == KAFKA_API_API_VERSIONS);
    CHECK(header.RequestApiVersion == 3);
    CHECK(header.CorrelationId == 1);
    CHECK(header.header_version == 2);
    CHECK(proto_string_equal_cstr(header.ClientId, "rdkafka"));
    struct kafka_api_versions_request body;
    struct proto_arena arena;
    proto_arena_init(&arena, arena_memory, sizeof(arena_memory));
    REQUIRE(kafka_api_versions_request_decode(&reader, 3, &body, &arena) == PROTO_OK);
    CHECK(reader.position == sizeof(librdkafka_api_versions_v3));
    CHECK(proto_string_equal_cstr(body.ClientSoftwareName, "librdkafka"));
    CHECK(proto_string_equal_cstr(body.ClientSoftwareVersion, "2.0.2"));
    /* Encoding the same values gives the same bytes. */
    u8 out[64];
    struct proto_writer writer;
    proto_writer_init(&writer, out, sizeof(out));
    REQUIRE(proto_request_header_encode(&writer, &header) == PROTO_OK);
    REQUIRE(kafka_api_versions_request_encode(&writer, 3, &body) == PROTO_OK);
    CHECK(writer.position == sizeof(librdkafka_api_versions_v3));
    CHECK(memcmp(out, librdkafka_api_versions_v3, sizeof(librdkafka_api_versions_v3)) == 0);
}

TEST(metadata_v1_request_as_kafka_python_sends_it)
{
    static const u8 bytes[] = {
        0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x07, /* Metadata v1, correlation 7 */
        0x00, 0x0C, 'k', 'a', 'f', 'k', 'a', '-', 'p', 'y', 't', 'h', 'o', 'n',
        0x00, 0x00, 0x00, 0x02,            /* Topics: 2 */
        0x00, 0x03, 'f', 'o', 'o',
        0x00, 0x03, 'b', 'a', 'r',
    };
    struct proto_reader reader = reader_of(bytes, sizeof(bytes));
    struct proto_request_header header;
    REQUIRE(proto_request_header_decode(&reader, &header) == PROTO_OK);
    CHECK(header.header_version == 1 && header.CorrelationId == 7);
    CHECK(proto_string_equal_cstr(header.ClientId, "kafka-python"));
    union kafka_request request;
    struct proto_arena arena;
    proto_arena_init(&arena, arena_memory, sizeof(arena_memory));
    REQUIRE(kafka_request_decode(&reader, 3, 1, &request, &arena) == PROTO_OK);
    CHECK(reader.position == sizeof(bytes));
    REQUIRE(request.Metadata.Topics.count == 2);
    CHECK(proto_string_equal_cstr(request.Metadata.Topics.items[0].Name, "foo"));
    CHECK(proto_string_equal_cstr(request.Metadata.Topics.items[1].Name, "bar"));
    CHECK(request.Metadata.AllowAutoTopicCreation); /* Absent before v4: the default. */
    /* Null topics ("all topics") are -1 from v1 on, and refused in v0. */
    static const u8 null_topics[] = {0xFF, 0xFF, 0xFF, 0xFF};
    reader = reader_of(null_topics, 4);
    REQUIRE(kafka_request_decode(&reader, 3, 1, &request, &arena) == PROTO_OK);
    CHECK(request.Metadata.Topics.count == -1);
    reader = reader_of(null_topics, 4);
    CHECK(kafka_request_decode(&reader, 3, 0, &request, &arena) == PROTO_ERROR_INVALID);
}

TEST(flexible_header_skips_unknown_tagged_fields)
{
    static const u8 bytes[] = {
        0x00, 0x03, 0x00, 0x09, 0x00, 0x00, 0x01, 0x00, /* Metadata v9, correlation 256 */
        0xFF, 0xFF,                                     /* ClientId null */
        0x02,                                           /* Two tagged fields */
        0x05, 0x02, 0xAB, 0xCD,                         /* tag 5, 2 bytes */
        0x7F, 0x00,                                     /* tag 127, 0 bytes */
        0x02,                                           /* Topics: compact, 1 topic */
        0x02, 't', 0x00,                                /* Name "t", no tagged fields */
        0x00,                                           /* AllowAutoTopicCreation false */
        0x01,                                           /* IncludeClusterAuthorizedOps */
        0x00,                                           /* IncludeTopicAuthorizedOps */
        0x01, 0x09, 0x01, 0x33,                         /* Unknown body tag 9 */
    };
    struct proto_reader reader = reader_of(bytes, sizeof(bytes));
    struct proto_request_header header;
    REQUIRE(proto_request_header_decode(&reader, &header) == PROTO_OK);
    CHECK(header.header_version == 2 && header.CorrelationId == 256);
    CHECK(header.ClientId.size == -1);
    struct kafka_metadata_request request;
    struct proto_arena arena;
    proto_arena_init(&arena, arena_memory, sizeof(arena_memory));
    REQUIRE(kafka_metadata_request_decode(&reader, 9, &request, &arena) == PROTO_OK);
    CHECK(reader.position == sizeof(bytes));
    REQUIRE(request.Topics.count == 1);
    CHECK(proto_string_equal_cstr(request.Topics.items[0].Name, "t"));
    CHECK(!request.AllowAutoTopicCreation);
    CHECK(request.IncludeClusterAuthorizedOperations);
    for (u32 size = 0; size < sizeof(bytes); size++) {
        reader = reader_of(bytes, size);
        enum proto_error error = proto_request_header_decode(&reader, &header);
        if (error == PROTO_OK) error = kafka_metadata_request_decode(&reader, 9, &request, &arena);
        CHECK(error != PROTO_OK);
    }
}

TEST(header_versions_follow_flexibility)
{
    CHECK(proto_request_header_version(KAFKA_API_METADATA, 8) == 1);
    CHECK(proto_request_header_version(KAFKA_API_METADATA, 9) == 2);
    CHECK(proto_request_header_version(KAFKA_API_API_VERSIONS, 3) == 2);
    CHECK(proto_request_header_version(KAFKA_API_API_VERSIONS, 7) == 2); /* Unknown, flexible. */
    CHECK(proto_request_header_version(KAFKA_API_CONTROLLED_SHUTDOWN, 0) == 0);
    CHECK(proto_request_header_version(KAFKA_API_SASL_HANDSHAKE, 1) == 1);
    CHECK(proto_response_header_version(KAFKA_API_API_VERSIONS, 3) == 0);
    CHECK(proto_response_header_version(KAFKA_API_FETCH, 12) == 1);
    CHECK(proto_response_header_version(KAFKA_API_FETCH, 11) == 0);
    CHECK(proto_response_header_version(9999, 0) == 0);
    /* An unknown api key still yields the correlation id. */
    static const u8 unknown[] = {0x27, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2A, 0xFF, 0xFF};
    struct proto_reader reader = reader_of(unknown, sizeof(unknown));
    struct proto_request_header header;
    CHECK(proto_request_header_decode(&reader, &header) == PROTO_ERROR_UNKNOWN_API);
    CHECK(header.CorrelationId == 42 && header.RequestApiKey == 10000);
    /* Response header v1 carries a tagged section; v0 does not. */
    u8 out[16];
    struct proto_writer writer;
    proto_writer_init(&writer, out, sizeof(out));
    REQUIRE(proto_response_header_encode(&writer, KAFKA_API_FETCH, 12, 5) == PROTO_OK);
    CHECK(writer.position == 5 && out[4] == 0);
    i32 correlation_id = 0;
    reader = reader_of(out, writer.position);
    CHECK(proto_response_header_decode(&reader, KAFKA_API_FETCH, 12, &correlation_id) ==
          PROTO_OK);
    CHECK(correlation_id == 5 && reader.position == 5);
}

TEST(framing_limits)
{
    u32 body_size = 0;
    static const u8 frame[] = {0x00, 0x00, 0x00, 0x02, 0xAA, 0xBB, 0xCC};
    CHECK(proto_frame_peek(frame, 3, 100, &body_size) == PROTO_FRAME_INCOMPLETE);
    CHECK(proto_frame_peek(frame, 5, 100, &body_size) == PROTO_FRAME_INCOMPLETE);
    CHECK(proto_frame_peek(frame, 7, 100, &body_size) == PROTO_FRAME_READY);
    CHECK(body_size == 2);
    CHECK(proto_frame_peek(frame, 7, 1, &body_size) == PROTO_FRAME_TOO_LARGE);
    static const u8 negative[] = {0x80, 0x00, 0x00, 0x00};
    CHECK(proto_frame_peek(negative, 4, PROTO_REQUEST_SIZE_MAX_DEFAULT, &body_size) ==
          PROTO_FRAME_INVALID);
    static const u8 huge[] = {0x7F, 0x00, 0x00, 0x00};
    CHECK(proto_frame_peek(huge, 4, PROTO_REQUEST_SIZE_MAX_DEFAULT, &body_size) ==
          PROTO_FRAME_TOO_LARGE);
    u8 out[16];
    struct proto_writer writer;
    proto_writer_init(&writer, out, sizeof(out));
    u32 start = proto_frame_begin(&writer);
    proto_write_i16(&writer, 7);
    proto_frame_end(&writer, start);
    CHECK(writer.position == 6 && load_u32_be(out) == 2);
    proto_writer_init(&writer, out, 2); /* No room even for the prefix: an error, no crash. */
    start = proto_frame_begin(&writer);
    proto_frame_end(&writer, start);
    CHECK(writer.error == PROTO_ERROR_NO_SPACE);
}

/* A table advertising ApiVersions only: the exact bytes below do not move as APIs are added. */
static const struct proto_api_support api_table_only_api_versions[KAFKA_API_KEY_COUNT] = {
    [KAFKA_API_API_VERSIONS] = {0, 3, true},
};

/* How many keys proto_api_table advertises. */
static i32 api_table_implemented_count(void)
{
    i32 count = 0;
    for (i16 key = 0; key < KAFKA_API_KEY_COUNT; key++) count += proto_api_table[key].implemented;
    return count;
}

/* Runs the ApiVersions handler on a request of version with body; decodes the frame. */
static enum proto_error api_versions_call(i16 version, const u8 *body, u32 body_size,
                                          i16 response_version,
                                          struct kafka_api_versions_response *response)
{
    static u8 out[4096];
    struct proto_request_header header = {KAFKA_API_API_VERSIONS, version, 99,
                                          PROTO_STRING_NULL, 0};
    struct proto_reader reader = reader_of(body, body_size);
    struct proto_writer writer;
    proto_writer_init(&writer, out, sizeof(out));
    enum proto_error error = proto_api_versions_respond(proto_api_table, &header, &reader, &writer);
    if (error != PROTO_OK) return error;
    u32 frame_size = 0;
    ASSERT(proto_frame_peek(out, writer.position, 4096, &frame_size) == PROTO_FRAME_READY);
    ASSERT(frame_size + 4 == writer.position);
    reader = reader_of(out + 4, frame_size);
    i32 correlation_id = 0;
    ASSERT(proto_response_header_decode(&reader, KAFKA_API_API_VERSIONS, response_version,
                                        &correlation_id) == PROTO_OK);
    ASSERT(correlation_id == 99);
    struct proto_arena arena;
    proto_arena_init(&arena, arena_memory, sizeof(arena_memory));
    error = kafka_api_versions_response_decode(&reader, response_version, response, &arena);
    ASSERT(error != PROTO_OK || reader.position == frame_size);
    return error;
}

TEST(api_versions_every_supported_version)
{
    static const u8 empty[1];
    struct kafka_api_versions_response response;
    for (i16 version = 0; version <= 2; version++) {
        REQUIRE(api_versions_call(version, empty, 0, version, &response) == PROTO_OK);
        CHECK(response.ErrorCode == 0);
        /* Exactly what is implemented, in api-key order, with the table's ranges. */
        REQUIRE(response.ApiKeys.count == api_table_implemented_count());
        i16 previous = -1;
        for (i32 i = 0; i < response.ApiKeys.count; i++) {
            const struct kafka_api_versions_response_version *entry = &response.ApiKeys.items[i];
            REQUIRE(entry->ApiKey > previous && entry->ApiKey < KAFKA_API_KEY_COUNT);
            previous = entry->ApiKey;
            CHECK(proto_api_table[entry->ApiKey].implemented);
            CHECK(entry->MinVersion == proto_api_table[entry->ApiKey].version_min);
            CHECK(entry->MaxVersion == proto_api_table[entry->ApiKey].version_max);
        }
    }
    const u8 *body = librdkafka_api_versions_v3 + 18; /* After the 18-byte header. */
    u32 body_size = (u32)sizeof(librdkafka_api_versions_v3) - 18;
    REQUIRE(api_versions_call(3, body, body_size, 3, &response) == PROTO_OK);
    CHECK(response.ErrorCode == 0 && response.ApiKeys.count == api_table_implemented_count());
    CHECK(response.FinalizedFeaturesEpoch == -1);
}

TEST(api_versions_v3_response_bytes)
{
    static u8 out[256];
    struct proto_request_header header = {KAFKA_API_API_VERSIONS, 3, 1, PROTO_STRING_NULL, 2};
    const u8 *body = librdkafka_api_versions_v3 + 18;
    struct proto_reader reader = reader_of(body, (u32)sizeof(librdkafka_api_versions_v3) - 18);
    struct proto_writer writer;
    proto_writer_init(&writer, out, sizeof(out));
    REQUIRE(proto_api_versions_respond(api_table_only_api_versions, &header, &reader, &writer) ==
            PROTO_OK);
    static const u8 expected[] = {
        0x00, 0x00, 0x00, 0x13, /* Size 19 */
        0x00, 0x00, 0x00, 0x01, /* CorrelationId; header v0 even at v3 (no tagged fields) */
        0x00, 0x00,             /* ErrorCode */
        0x02,                   /* ApiKeys: compact, 1 entry */
        0x00, 0x12, 0x00, 0x00, 0x00, 0x03, 0x00, /* ApiVersions 0-3, no tagged fields */
        0x00, 0x00, 0x00, 0x00, /* ThrottleTimeMs */
        0x00,                   /* No tagged fields */
    };
    CHECK(writer.position == sizeof(expected));
    CHECK(memcmp(out, expected, sizeof(expected)) == 0);
}

TEST(api_versions_unsupported_version_gets_v0_fallback)
{
    static const u8 garbage[] = {0xFF, 0xFE, 0x01};
    i16 versions[] = {4, 5, 127, INT16_MAX, -1};
    for (u32 i = 0; i < ARRAY_LEN(versions); i++) {
        struct kafka_api_versions_response response;
        /* The body is not parsed: whatever it is, the answer is the v0-shaped error. */
        REQUIRE(api_versions_call(versions[i], garbage, sizeof(garbage), 0, &response) ==
                PROTO_OK);
        CHECK(response.ErrorCode == KAFKA_ERROR_UNSUPPORTED_VERSION);
        REQUIRE(response.ApiKeys.count == 1);
        CHECK(response.ApiKeys.items[0].ApiKey == KAFKA_API_API_VERSIONS);
        CHECK(response.ApiKeys.items[0].MinVersion == 0);
        CHECK(response.ApiKeys.items[0].MaxVersion == 3);
    }
}

TEST(api_versions_invalid_software_name_and_malformed_body)
{
    static const u8 bad_name[] = {0x04, '-', 'a', 'b', 0x02, '1', 0x00};
    struct kafka_api_versions_response response;
    REQUIRE(api_versions_call(3, bad_name, sizeof(bad_name), 3, &response) == PROTO_OK);
    CHECK(response.ErrorCode == KAFKA_ERROR_INVALID_REQUEST);
    CHECK(response.ApiKeys.count == 0);
    static const u8 truncated[] = {0x0B, 'l', 'i', 'b'};
    CHECK(api_versions_call(3, truncated, sizeof(truncated), 3, &response) ==
          PROTO_ERROR_TRUNCATED);
    CHECK(proto_client_software_valid(proto_string_of("librdkafka")));
    CHECK(proto_client_software_valid(proto_string_of("2.0.2-RC1")));
    CHECK(proto_client_software_valid(proto_string_of("x")));
    CHECK(!proto_client_software_valid(proto_string_of("")));
    CHECK(!proto_client_software_valid(proto_string_of("a b")));
    CHECK(!proto_client_software_valid(proto_string_of("abc.")));
    CHECK(!proto_client_software_valid(PROTO_STRING_NULL));
}

TEST(api_table_matches_the_schemas)
{
    u32 listed = 0;
    for (i16 key = 0; key < KAFKA_API_KEY_COUNT; key++) {
        const struct proto_api_support *entry = &proto_api_table[key];
        if (entry->version_max == 0 && entry->version_min == 0 && !entry->implemented &&
            key != KAFKA_API_OFFSET_DELETE && key != KAFKA_API_ALTER_PARTITION_REASSIGNMENTS &&
            key != KAFKA_API_LIST_PARTITION_REASSIGNMENTS &&
            key != KAFKA_API_DESCRIBE_USER_SCRAM_CREDENTIALS &&
            key != KAFKA_API_ALTER_USER_SCRAM_CREDENTIALS &&
            key != KAFKA_API_DESCRIBE_PRODUCERS && key != KAFKA_API_DESCRIBE_TRANSACTIONS &&
            key != KAFKA_API_DESCRIBE_TOPIC_PARTITIONS) {
            continue;
        }
        listed++;
        const struct kafka_api_schema *schema = kafka_api_schema_get(key);
        REQUIRE(schema != NULL);
        CHECK(entry->version_min <= entry->version_max);
        CHECK(entry->version_min >= schema->version_min);
        CHECK(entry->version_max <= schema->version_max);
        CHECK(schema->generated); /* Every advertisable api has its codec. */
    }
    CHECK(listed == 44);
    CHECK(proto_api_advertised(proto_api_table, KAFKA_API_API_VERSIONS, 3));
    CHECK(!proto_api_advertised(proto_api_table, KAFKA_API_API_VERSIONS, 4));
    CHECK(proto_api_advertised(proto_api_table, KAFKA_API_PRODUCE, 7));
    CHECK(!proto_api_advertised(proto_api_table, KAFKA_API_PRODUCE, 2)); /* Below the range. */
    CHECK(proto_api_advertised(proto_api_table, KAFKA_API_JOIN_GROUP, 5));
    CHECK(proto_api_advertised(proto_api_table, KAFKA_API_INIT_PRODUCER_ID, 5));
    CHECK(!proto_api_advertised(proto_api_table, KAFKA_API_END_TXN, 0)); /* Not yet. */
    CHECK(!proto_api_advertised(proto_api_table, KAFKA_API_WRITE_TXN_MARKERS, 0));
    CHECK(!proto_api_advertised(proto_api_table, -1, 0));
}

TEST(error_codes_generated_from_the_table)
{
    CHECK(KAFKA_ERROR_NONE == 0);
    CHECK(KAFKA_ERROR_UNKNOWN_SERVER_ERROR == -1);
    CHECK(KAFKA_ERROR_UNSUPPORTED_VERSION == 35);
    CHECK(KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER == 6);
    CHECK(strcmp(kafka_error_name(3), "UNKNOWN_TOPIC_OR_PARTITION") == 0);
    CHECK(kafka_error_retriable(KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER));
    CHECK(!kafka_error_retriable(KAFKA_ERROR_UNSUPPORTED_VERSION));
    CHECK(kafka_error_name(-2) == NULL);
    CHECK(kafka_error_name(30000) == NULL);
    u32 named = 0;
    for (i32 code = KAFKA_ERROR_CODE_MIN; code <= KAFKA_ERROR_CODE_MAX; code++) {
        if (kafka_error_name((i16)code) != NULL) named++;
    }
    CHECK(named == 128);
}

/* Requests and a response encoded by kafka-python 2.0.2 (an independent implementation):
 * each decodes completely and re-encodes to the same bytes. */
static const struct {
    i16 api_key;
    i16 version;
    bool is_request;
    const char *hex;
} kafka_python_encodings[] = {
    {KAFKA_API_METADATA, 4, true, "000000020005616c70686100046265746100"},
    {KAFKA_API_PRODUCE, 3, true,
     "ffffffff00007530000000010001740000000100000002000000075245434f524453"},
    {KAFKA_API_FETCH, 4, true,
     "ffffffff000001f4000000010010000001000000010001740000000100000000000000000000002a0001"
     "0000"},
    {KAFKA_API_JOIN_GROUP, 2, true,
     "00016700002710000493e000000008636f6e73756d657200000001000572616e6765000000020001"},
    {KAFKA_API_JOIN_GROUP, 2, false,
     "00000000000000000003000572616e676500026d3100026d310000000100026d310000000100"},
    {KAFKA_API_OFFSET_COMMIT, 2, true,
     "0001670000000300026d31ffffffffffffffff000000010001740000000100000000000000000000006400"
     "046d657461"},
};

static u32 hex_decode(const char *hex, u8 *out, u32 capacity)
{
    u32 size = (u32)strlen(hex) / 2;
    ASSERT(size <= capacity);
    for (u32 i = 0; i < size; i++) {
        unsigned value = 0;
        ASSERT(sscanf(hex + 2 * i, "%2x", &value) == 1);
        out[i] = (u8)value;
    }
    return size;
}

TEST(bytes_from_kafka_python_round_trip)
{
    static u8 bytes[256], again[256];
    static union kafka_request request;
    static union kafka_response response;
    for (u32 i = 0; i < ARRAY_LEN(kafka_python_encodings); i++) {
        u32 size = hex_decode(kafka_python_encodings[i].hex, bytes, sizeof(bytes));
        i16 key = kafka_python_encodings[i].api_key;
        i16 version = kafka_python_encodings[i].version;
        bool is_request = kafka_python_encodings[i].is_request;
        struct proto_reader reader = reader_of(bytes, size);
        struct proto_arena arena;
        proto_arena_init(&arena, arena_memory, sizeof(arena_memory));
        enum proto_error error = is_request
            ? kafka_request_decode(&reader, key, version, &request, &arena)
            : kafka_response_decode(&reader, key, version, &response, &arena);
        CHECK(error == PROTO_OK);
        CHECK(reader.position == size);
        if (!is_request) { /* Decoded strings point into bytes: check before it is reused. */
            CHECK(proto_string_equal_cstr(response.JoinGroup.ProtocolName, "range"));
            CHECK(response.JoinGroup.GenerationId == 3);
        }
        struct proto_writer writer;
        proto_writer_init(&writer, again, sizeof(again));
        error = is_request ? kafka_request_encode(&writer, key, version, &request)
                           : kafka_response_encode(&writer, key, version, &response);
        CHECK(error == PROTO_OK && writer.position == size);
        CHECK(memcmp(bytes, again, size) == 0);
    }
    /* Spot checks of the decoded values (the last request decoded: OffsetCommit v2). */
    CHECK(proto_string_equal_cstr(request.OffsetCommit.GroupId, "g"));
    CHECK(request.OffsetCommit.GenerationIdOrMemberEpoch == 3);
    CHECK(request.OffsetCommit.RetentionTimeMs == -1);
    REQUIRE(request.OffsetCommit.Topics.count == 1);
    REQUIRE(request.OffsetCommit.Topics.items[0].Partitions.count == 1);
    CHECK(request.OffsetCommit.Topics.items[0].Partitions.items[0].CommittedOffset == 100);
    CHECK(proto_string_equal_cstr(
        request.OffsetCommit.Topics.items[0].Partitions.items[0].CommittedMetadata, "meta"));
}

TEST(every_kafka_python_encoding_round_trips)
{
    static u8 bytes[4096], again[4096];
    static union kafka_request request;
    static union kafka_response response;
    u32 checked = 0, skipped = 0;
    for (u32 i = 0; i < ARRAY_LEN(kafka_python_vectors); i++) {
        u32 size = hex_decode(kafka_python_vectors[i].hex, bytes, sizeof(bytes));
        i16 key = kafka_python_vectors[i].api_key;
        i16 version = kafka_python_vectors[i].version;
        bool is_request = kafka_python_vectors[i].is_request;
        struct proto_reader reader = reader_of(bytes, size);
        struct proto_arena arena;
        proto_arena_init(&arena, arena_memory, sizeof(arena_memory));
        enum proto_error error = is_request
            ? kafka_request_decode(&reader, key, version, &request, &arena)
            : kafka_response_decode(&reader, key, version, &response, &arena);
        struct proto_writer writer;
        proto_writer_init(&writer, again, sizeof(again));
        if (error == PROTO_OK) {
            error = is_request ? kafka_request_encode(&writer, key, version, &request)
                               : kafka_response_encode(&writer, key, version, &response);
        }
        bool same = error == PROTO_OK && reader.position == size && writer.position == size &&
                    memcmp(bytes, again, size) == 0;
        if (kafka_python_vectors[i].kafka_python_bug != NULL) {
            CHECK(!same); /* Bytes that are not the Kafka message must not pass as it. */
            skipped++;
            continue;
        }
        if (!same) {
            fprintf(stderr, "  %s: %s, read %u of %u, wrote %u\n", kafka_python_vectors[i].name,
                    proto_error_name(error), reader.position, size, writer.position);
        }
        CHECK(same);
        checked++;
    }
    printf("     %u kafka-python encodings round-tripped, %u known kafka-python deviations "
           "refused\n", checked, skipped);
    CHECK(checked >= 150);
}

TEST(whole_frames_encode_and_read_back)
{
    static u8 out[512];
    static union kafka_request request;
    static union kafka_response response;
    kafka_metadata_request_init(&request.Metadata);
    struct kafka_metadata_request_topic topic;
    kafka_metadata_request_topic_init(&topic);
    topic.Name = proto_string_of("orders");
    request.Metadata.Topics.items = &topic;
    request.Metadata.Topics.count = 1;
    struct proto_request_header header = {KAFKA_API_METADATA, 12, 77, proto_string_of("sim"), 0};
    struct proto_writer writer;
    proto_writer_init(&writer, out, sizeof(out));
    REQUIRE(proto_request_frame_encode(&writer, &header, &request) == PROTO_OK);
    CHECK(header.header_version == 2);
    u32 body_size = 0;
    REQUIRE(proto_frame_peek(out, writer.position, 1024, &body_size) == PROTO_FRAME_READY);
    CHECK(body_size + 4 == writer.position);
    struct proto_reader reader = reader_of(out + 4, body_size);
    struct proto_request_header decoded;
    REQUIRE(proto_request_header_decode(&reader, &decoded) == PROTO_OK);
    CHECK(decoded.CorrelationId == 77 && proto_string_equal_cstr(decoded.ClientId, "sim"));
    struct proto_arena arena;
    proto_arena_init(&arena, arena_memory, sizeof(arena_memory));
    static union kafka_request again;
    REQUIRE(kafka_request_decode(&reader, KAFKA_API_METADATA, 12, &again, &arena) == PROTO_OK);
    CHECK(reader.position == body_size);
    REQUIRE(again.Metadata.Topics.count == 1);
    CHECK(proto_string_equal_cstr(again.Metadata.Topics.items[0].Name, "orders"));

    kafka_heartbeat_response_init(&response.Heartbeat);
    response.Heartbeat.ErrorCode = KAFKA_ERROR_REBALANCE_IN_PROGRESS;
    proto_writer_init(&writer, out, sizeof(out));
    REQUIRE(proto_response_frame_encode(&writer, KAFKA_API_HEARTBEAT, 4, 9, &response) ==
            PROTO_OK);
    static const u8 expected[] = {0, 0, 0, 12, 0, 0, 0, 9, 0, /* v1 header: tagged section */
                                  0, 0, 0, 0, 0, 27, 0};     /* throttle, error 27, tags */
    CHECK(writer.position == sizeof(expected));
    CHECK(memcmp(out, expected, sizeof(expected)) == 0);
    proto_writer_init(&writer, out, 10);
    CHECK(proto_response_frame_encode(&writer, KAFKA_API_HEARTBEAT, 4, 9, &response) ==
          PROTO_ERROR_NO_SPACE);
}

/* Splicing: bytes values inside the splice range are skipped and recorded; putting them back
 * at the recorded positions gives exactly the ordinary encoding. Others are copied. */
TEST(writer_splices_bytes_in_range)
{
    static u8 base[64], plain[512], spliced[512];
    for (u32 i = 0; i < sizeof(base); i++) base[i] = (u8)(0xA0 + i);
    static const u8 other[3] = {1, 2, 3};
    struct kafka_fetch_response_partition_data partitions[3];
    for (u32 i = 0; i < 3; i++) {
        kafka_fetch_response_partition_data_init(&partitions[i]);
        partitions[i].PartitionIndex = (i32)i;
        partitions[i].AbortedTransactions.count = 0;
    }
    partitions[0].Records = (struct proto_bytes){base + 4, 10};
    partitions[1].Records = (struct proto_bytes){other, 3}; /* Outside: copied. */
    partitions[2].Records = (struct proto_bytes){base + 40, 24}; /* Up to the range's end. */
    struct kafka_fetch_response_fetchable_topic topic;
    kafka_fetch_response_fetchable_topic_init(&topic);
    topic.Topic = proto_string_of("t");
    topic.Partitions.items = partitions;
    topic.Partitions.count = 3;
    union kafka_response response;
    kafka_fetch_response_init(&response.Fetch);
    response.Fetch.Responses.items = &topic;
    response.Fetch.Responses.count = 1;
    for (i16 version = 4; version <= 12; version += 8) {
        struct proto_writer a, b;
        proto_writer_init(&a, plain, sizeof(plain));
        proto_writer_init(&b, spliced, sizeof(spliced));
        struct proto_splice splices[4];
        proto_writer_splice(&b, base, sizeof(base), splices, 4);
        REQUIRE(proto_response_frame_encode(&a, KAFKA_API_FETCH, version, 5, &response) ==
                PROTO_OK);
        REQUIRE(proto_response_frame_encode(&b, KAFKA_API_FETCH, version, 5, &response) ==
                PROTO_OK);
        REQUIRE(a.position == b.position);
        REQUIRE(b.splice_count == 2);
        CHECK(splices[0].offset == 4 && splices[0].size == 10);
        CHECK(splices[1].offset == 40 && splices[1].size == 24);
        for (u32 i = 0; i < b.splice_count; i++) {
            memcpy(spliced + splices[i].position, base + splices[i].offset, splices[i].size);
        }
        CHECK(memcmp(plain, spliced, a.position) == 0);
        struct proto_writer c; /* Too few splice slots: a clean NO_SPACE. */
        proto_writer_init(&c, spliced, sizeof(spliced));
        proto_writer_splice(&c, base, sizeof(base), splices, 1);
        CHECK(proto_response_frame_encode(&c, KAFKA_API_FETCH, version, 5, &response) ==
              PROTO_ERROR_NO_SPACE);
    }
}

static const struct test_case tests[] = {
    {"writer_splices_bytes_in_range", writer_splices_bytes_in_range},
    {"unsigned_varints_known_encodings", unsigned_varints_known_encodings},
    {"zigzag_varints_round_trip", zigzag_varints_round_trip},
    {"integers_are_big_endian", integers_are_big_endian},
    {"strings_classic_and_compact", strings_classic_and_compact},
    {"array_counts_are_bounded_by_the_bytes", array_counts_are_bounded_by_the_bytes},
    {"arena_is_bounded_and_aligned", arena_is_bounded_and_aligned},
    {"request_header_v2_as_librdkafka_sends_it", request_header_v2_as_librdkafka_sends_it},
    {"metadata_v1_request_as_kafka_python_sends_it", metadata_v1_request_as_kafka_python_sends_it},
    {"flexible_header_skips_unknown_tagged_fields", flexible_header_skips_unknown_tagged_fields},
    {"header_versions_follow_flexibility", header_versions_follow_flexibility},
    {"framing_limits", framing_limits},
    {"whole_frames_encode_and_read_back", whole_frames_encode_and_read_back},
    {"api_versions_every_supported_version", api_versions_every_supported_version},
    {"api_versions_v3_response_bytes", api_versions_v3_response_bytes},
    {"api_versions_unsupported_version_gets_v0_fallback",
     api_versions_unsupported_version_gets_v0_fallback},
    {"api_versions_invalid_software_name_and_malformed_body",
     api_versions_invalid_software_name_and_malformed_body},
    {"api_table_matches_the_schemas", api_table_matches_the_schemas},
    {"error_codes_generated_from_the_table", error_codes_generated_from_the_table},
    {"bytes_from_kafka_python_round_trip", bytes_from_kafka_python_round_trip},
    {"every_kafka_python_encoding_round_trips", every_kafka_python_encoding_round_trips},
};

TEST_MAIN(tests)
