/* Tests for the generated Kafka message codecs (impl/protocol/messages_generated.c), driven by
 * the generated fillers and comparisons in test_protocol_generated.h, for every generated
 * message at every valid version:
 *  - round trips: fill (only fields present in the version; tagged fields sometimes), encode,
 *    decode, compare field by field (absent fields must come back as defaults), re-encode and
 *    require identical bytes;
 *  - every strict prefix of an encoding is rejected;
 *  - random garbage and bit-flipped encodings never crash, and whatever decodes re-encodes and
 *    decodes to the same value;
 *  - dispatch by api key, arena exhaustion, full output buffers, unrepresentable values;
 *  - the error-code visitors of the responses: every level in field order, version-aware,
 *    and a walk of every response at every version. */
#include "test.h"

#include "../../impl/protocol/errors_generated.h"
#include "test_protocol_fill.h"
#include "test_protocol_generated.h"

#define BUFFER_SIZE (1u << 20)
#define ARENA_SIZE (1u << 20)
#define SEEDS 6

static u8 buffer_first[BUFFER_SIZE];
static u8 buffer_second[BUFFER_SIZE];
static u8 fill_memory[ARENA_SIZE];
static u8 decode_memory[ARENA_SIZE];
static u8 redecode_memory[ARENA_SIZE];

/* Fills message at version from seed and encodes it into buffer_first; returns the size. */
static u32 encode_filled(const struct test_message *m, i16 version, u64 seed, void *message)
{
    struct test_fill fill;
    test_fill_init(&fill, seed, fill_memory, ARENA_SIZE);
    m->fill(&fill, version, message);
    struct proto_writer writer;
    proto_writer_init(&writer, buffer_first, BUFFER_SIZE);
    enum proto_error error = m->encode(&writer, version, message);
    if (error != PROTO_OK) {
        fprintf(stderr, "  %s v%d seed %" PRIu64 ": encode: %s\n", m->name, version, seed,
                proto_error_name(error));
    }
    ASSERT(error == PROTO_OK);
    return writer.position;
}

TEST(round_trip_every_message_every_version)
{
    u32 cases = 0;
    for (u32 index = 0; index < ARRAY_LEN(test_messages); index++) {
        const struct test_message *m = &test_messages[index];
        void *original = calloc(1, m->size), *decoded = calloc(1, m->size);
        REQUIRE(original != NULL && decoded != NULL);
        for (i16 version = m->version_min; version <= m->version_max; version++) {
            for (u64 seed = 0; seed < SEEDS; seed++) {
                u32 size = encode_filled(m, version, seed, original);
                struct proto_reader reader;
                struct proto_arena arena;
                proto_reader_init(&reader, buffer_first, size);
                proto_arena_init(&arena, decode_memory, ARENA_SIZE);
                enum proto_error error = m->decode(&reader, version, decoded, &arena);
                bool ok = error == PROTO_OK && reader.position == size &&
                          m->equal(original, decoded);
                struct proto_writer writer;
                proto_writer_init(&writer, buffer_second, BUFFER_SIZE);
                ok = ok && m->encode(&writer, version, decoded) == PROTO_OK &&
                     writer.position == size && memcmp(buffer_first, buffer_second, size) == 0;
                if (!ok) {
                    fprintf(stderr, "  %s v%d seed %" PRIu64 ": %s\n", m->name, version, seed,
                            proto_error_name(error));
                }
                CHECK(ok);
                cases++;
            }
        }
        free(original);
        free(decoded);
    }
    printf("     %u round trips over %u messages\n", cases, (u32)ARRAY_LEN(test_messages));
}

TEST(every_truncation_is_rejected)
{
    u64 prefixes = 0;
    for (u32 index = 0; index < ARRAY_LEN(test_messages); index++) {
        const struct test_message *m = &test_messages[index];
        void *original = calloc(1, m->size), *decoded = calloc(1, m->size);
        REQUIRE(original != NULL && decoded != NULL);
        for (i16 version = m->version_min; version <= m->version_max; version++) {
            u32 size = encode_filled(m, version, 1000 + (u64)version, original);
            for (u32 prefix = 0; prefix < size; prefix++) {
                struct proto_reader reader;
                struct proto_arena arena;
                proto_reader_init(&reader, buffer_first, prefix);
                proto_arena_init(&arena, decode_memory, ARENA_SIZE);
                enum proto_error error = m->decode(&reader, version, decoded, &arena);
                if (error == PROTO_OK) {
                    fprintf(stderr, "  %s v%d: prefix %u of %u accepted\n", m->name, version,
                            prefix, size);
                }
                CHECK(error != PROTO_OK);
                CHECK(reader.position <= prefix);
                prefixes++;
            }
        }
        free(original);
        free(decoded);
    }
    printf("     %" PRIu64 " truncated encodings rejected\n", prefixes);
}

/* Decodes bytes; if they decode, they must re-encode and decode to an equal value. */
static bool decode_is_stable(const struct test_message *m, i16 version, const u8 *bytes,
                             u32 size, void *decoded, void *redecoded)
{
    struct proto_reader reader;
    struct proto_arena arena;
    proto_reader_init(&reader, bytes, size);
    proto_arena_init(&arena, decode_memory, ARENA_SIZE);
    if (m->decode(&reader, version, decoded, &arena) != PROTO_OK) return true;
    ASSERT(reader.position <= size);
    struct proto_writer writer;
    proto_writer_init(&writer, buffer_second, BUFFER_SIZE);
    if (m->encode(&writer, version, decoded) != PROTO_OK) return false;
    proto_reader_init(&reader, buffer_second, writer.position);
    proto_arena_init(&arena, redecode_memory, ARENA_SIZE);
    if (m->decode(&reader, version, redecoded, &arena) != PROTO_OK) return false;
    return reader.position == writer.position && m->equal(decoded, redecoded);
}

static u64 garbage_state = 0x2545F4914F6CDD1Dull;
static u64 garbage_next(void)
{
    garbage_state ^= garbage_state << 13;
    garbage_state ^= garbage_state >> 7;
    garbage_state ^= garbage_state << 17;
    return garbage_state;
}

TEST(garbage_and_bit_flips_never_crash)
{
    static u8 garbage[512];
    u64 inputs = 0;
    for (u32 index = 0; index < ARRAY_LEN(test_messages); index++) {
        const struct test_message *m = &test_messages[index];
        void *a = calloc(1, m->size), *b = calloc(1, m->size), *c = calloc(1, m->size);
        REQUIRE(a != NULL && b != NULL && c != NULL);
        for (i16 version = m->version_min; version <= m->version_max; version++) {
            for (u32 round = 0; round < 64; round++) {
                u32 size = (u32)(garbage_next() % sizeof(garbage));
                for (u32 i = 0; i < size; i++) {
                    /* Small bytes make plausible lengths and counts more often. */
                    u64 r = garbage_next();
                    garbage[i] = (u8)(r % 3 == 0 ? r >> 8 : (r >> 8) % 4);
                }
                CHECK(decode_is_stable(m, version, garbage, size, b, c));
                inputs++;
            }
            u32 size = encode_filled(m, version, 77, a);
            for (u32 round = 0; round < 64 && size > 0; round++) {
                memcpy(buffer_second, buffer_first, size);
                u32 bit = (u32)(garbage_next() % ((u64)size * 8));
                buffer_first[bit / 8] ^= (u8)(1u << (bit % 8));
                static u8 mutated[BUFFER_SIZE];
                memcpy(mutated, buffer_first, size);
                memcpy(buffer_first, buffer_second, size);
                CHECK(decode_is_stable(m, version, mutated, size, b, c));
                inputs++;
            }
        }
        free(a);
        free(b);
        free(c);
    }
    printf("     %" PRIu64 " garbage and mutated inputs\n", inputs);
}

TEST(dispatch_by_api_key)
{
    static union kafka_request request;
    static union kafka_response response;
    u32 dispatched = 0;
    for (u32 index = 0; index < ARRAY_LEN(test_messages); index++) {
        const struct test_message *m = &test_messages[index];
        if (m->api_key < 0) continue;
        void *message = calloc(1, m->size);
        REQUIRE(message != NULL);
        u32 size = encode_filled(m, m->version_max, 5, message);
        struct proto_reader reader;
        struct proto_arena arena;
        proto_reader_init(&reader, buffer_first, size);
        proto_arena_init(&arena, decode_memory, ARENA_SIZE);
        enum proto_error error = m->is_request
            ? kafka_request_decode(&reader, m->api_key, m->version_max, &request, &arena)
            : kafka_response_decode(&reader, m->api_key, m->version_max, &response, &arena);
        CHECK(error == PROTO_OK);
        CHECK(m->equal(message, m->is_request ? (void *)&request : (void *)&response));
        struct proto_writer writer;
        proto_writer_init(&writer, buffer_second, BUFFER_SIZE);
        error = m->is_request
            ? kafka_request_encode(&writer, m->api_key, m->version_max, &request)
            : kafka_response_encode(&writer, m->api_key, m->version_max, &response);
        CHECK(error == PROTO_OK && writer.position == size);
        CHECK(memcmp(buffer_first, buffer_second, size) == 0);
        const struct kafka_api_schema *schema = kafka_api_schema_get(m->api_key);
        REQUIRE(schema != NULL);
        CHECK(schema->generated);
        CHECK(schema->version_min == m->version_min && schema->version_max == m->version_max);
        free(message);
        dispatched++;
    }
    CHECK(dispatched >= 2 * 39);
    struct proto_reader reader;
    struct proto_arena arena;
    proto_reader_init(&reader, buffer_first, 0);
    proto_arena_init(&arena, decode_memory, ARENA_SIZE);
    CHECK(kafka_request_decode(&reader, KAFKA_API_LEADER_AND_ISR, 0, &request, &arena) ==
          PROTO_ERROR_UNKNOWN_API);
    CHECK(kafka_request_decode(&reader, 9999, 0, &request, &arena) == PROTO_ERROR_UNKNOWN_API);
    CHECK(kafka_api_schema_get(-1) == NULL);
    CHECK(kafka_api_schema_get(KAFKA_API_KEY_COUNT) == NULL);
    CHECK(kafka_api_schema_get(KAFKA_API_LEADER_AND_ISR)->generated == false);
}

TEST(versions_outside_the_schema_are_rejected)
{
    struct kafka_metadata_request request;
    kafka_metadata_request_init(&request);
    struct proto_writer writer;
    proto_writer_init(&writer, buffer_first, BUFFER_SIZE);
    CHECK(kafka_metadata_request_encode(&writer, 13, &request) ==
          PROTO_ERROR_UNSUPPORTED_VERSION);
    CHECK(kafka_metadata_request_encode(&writer, -1, &request) ==
          PROTO_ERROR_UNSUPPORTED_VERSION);
    struct proto_reader reader;
    struct proto_arena arena;
    proto_reader_init(&reader, buffer_first, 0);
    proto_arena_init(&arena, decode_memory, ARENA_SIZE);
    CHECK(kafka_metadata_request_decode(&reader, 13, &request, &arena) ==
          PROTO_ERROR_UNSUPPORTED_VERSION);
}

TEST(arena_exhaustion_is_an_error)
{
    /* A Metadata v1 request naming 3 topics: the array needs more than 8 bytes of arena. */
    static const u8 bytes[] = {0, 0, 0, 3, 0, 1, 'a', 0, 1, 'b', 0, 1, 'c'};
    static u8 tiny[8];
    struct kafka_metadata_request request;
    struct proto_reader reader;
    struct proto_arena arena;
    proto_reader_init(&reader, bytes, sizeof(bytes));
    proto_arena_init(&arena, tiny, sizeof(tiny));
    CHECK(kafka_metadata_request_decode(&reader, 1, &request, &arena) == PROTO_ERROR_ARENA_FULL);
    proto_reader_init(&reader, bytes, sizeof(bytes));
    proto_arena_init(&arena, decode_memory, ARENA_SIZE);
    REQUIRE(kafka_metadata_request_decode(&reader, 1, &request, &arena) == PROTO_OK);
    REQUIRE(request.Topics.count == 3);
    CHECK(proto_string_equal_cstr(request.Topics.items[2].Name, "c"));
    /* A count far beyond the bytes is refused before any allocation. */
    static const u8 huge[] = {0x7F, 0xFF, 0xFF, 0xFF, 0, 1, 'a'};
    proto_reader_init(&reader, huge, sizeof(huge));
    proto_arena_init(&arena, decode_memory, ARENA_SIZE);
    CHECK(kafka_metadata_request_decode(&reader, 1, &request, &arena) ==
          PROTO_ERROR_TRUNCATED);
    CHECK(arena.used == 0);
}

TEST(encoding_into_a_full_buffer_is_an_error)
{
    for (u32 index = 0; index < ARRAY_LEN(test_messages); index++) {
        const struct test_message *m = &test_messages[index];
        void *message = calloc(1, m->size);
        REQUIRE(message != NULL);
        u32 size = encode_filled(m, m->version_max, 9, message);
        for (u32 capacity = 0; capacity < size; capacity += 1 + size / 16) {
            struct proto_writer writer;
            proto_writer_init(&writer, buffer_second, capacity);
            CHECK(m->encode(&writer, m->version_max, message) == PROTO_ERROR_NO_SPACE);
            CHECK(writer.position <= capacity);
        }
        free(message);
    }
}

TEST(unrepresentable_values_are_refused)
{
    struct proto_writer writer;
    /* Null topics (all topics) only exist from Metadata v1. */
    struct kafka_metadata_request metadata;
    kafka_metadata_request_init(&metadata);
    metadata.Topics.count = -1;
    proto_writer_init(&writer, buffer_first, BUFFER_SIZE);
    CHECK(kafka_metadata_request_encode(&writer, 0, &metadata) == PROTO_ERROR_UNREPRESENTABLE);
    proto_writer_init(&writer, buffer_first, BUFFER_SIZE);
    CHECK(kafka_metadata_request_encode(&writer, 1, &metadata) == PROTO_OK);
    /* A non-ignorable field set in a version without it (Fetch SessionId is v7+). */
    struct kafka_fetch_response fetch;
    kafka_fetch_response_init(&fetch);
    fetch.SessionId = 5;
    proto_writer_init(&writer, buffer_first, BUFFER_SIZE);
    CHECK(kafka_fetch_response_encode(&writer, 6, &fetch) == PROTO_ERROR_UNREPRESENTABLE);
    proto_writer_init(&writer, buffer_first, BUFFER_SIZE);
    CHECK(kafka_fetch_response_encode(&writer, 7, &fetch) == PROTO_OK);
    /* An ignorable one is dropped (ThrottleTimeMs is v1+). */
    fetch.SessionId = 0;
    fetch.ThrottleTimeMs = 100;
    proto_writer_init(&writer, buffer_first, BUFFER_SIZE);
    CHECK(kafka_fetch_response_encode(&writer, 0, &fetch) == PROTO_OK);
    /* A null string where the version is not nullable. */
    struct kafka_find_coordinator_request find;
    kafka_find_coordinator_request_init(&find);
    find.Key = PROTO_STRING_NULL;
    proto_writer_init(&writer, buffer_first, BUFFER_SIZE);
    CHECK(kafka_find_coordinator_request_encode(&writer, 0, &find) ==
          PROTO_ERROR_UNREPRESENTABLE);
}

TEST(defaults_come_from_the_schema)
{
    struct kafka_fetch_response_partition_data partition;
    kafka_fetch_response_partition_data_init(&partition);
    CHECK(partition.LastStableOffset == -1);
    CHECK(partition.LogStartOffset == -1);
    CHECK(partition.PreferredReadReplica == -1);
    CHECK(partition.CurrentLeader.LeaderId == -1);
    CHECK(partition.Records.size == 0);
    struct kafka_metadata_request metadata;
    kafka_metadata_request_init(&metadata);
    CHECK(metadata.AllowAutoTopicCreation == true);
    struct kafka_fetch_request fetch;
    kafka_fetch_request_init(&fetch);
    CHECK(fetch.ReplicaId == -1);
    CHECK(fetch.MaxBytes == 0x7fffffff);
    CHECK(fetch.SessionEpoch == -1);
    CHECK(fetch.ClusterId.size == -1);
}

/* The error codes a visit saw, in order. */
struct visited_errors {
    i16 codes[64];
    u32 count;
    u32 total; /* Including those past codes[]. */
};

static void record_error(void *context, i16 error_code)
{
    struct visited_errors *visited = context;
    if (visited->count < ARRAY_LEN(visited->codes)) visited->codes[visited->count++] = error_code;
    visited->total++;
}

/* Fetch: the top-level code (v7+) and each partition's, zeros skipped, in field order; below
 * v7 the top-level field is not on the wire, so it is not visited even if set. CreateTopics:
 * a topic's code and its tagged TopicConfigErrorCode (v5+). Metadata: through the dispatch. */
TEST(error_visitors_see_every_level_in_order)
{
    struct kafka_fetch_response_partition_data partitions[3];
    for (u32 i = 0; i < 3; i++) kafka_fetch_response_partition_data_init(&partitions[i]);
    partitions[0].ErrorCode = KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER;
    partitions[2].ErrorCode = KAFKA_ERROR_OFFSET_OUT_OF_RANGE;
    struct kafka_fetch_response_fetchable_topic topics[2];
    for (u32 i = 0; i < 2; i++) kafka_fetch_response_fetchable_topic_init(&topics[i]);
    topics[0].Partitions.items = partitions;
    topics[0].Partitions.count = 2;
    topics[1].Partitions.items = partitions + 2;
    topics[1].Partitions.count = 1;
    struct kafka_fetch_response fetch;
    kafka_fetch_response_init(&fetch);
    fetch.ErrorCode = KAFKA_ERROR_FETCH_SESSION_ID_NOT_FOUND;
    fetch.Responses.items = topics;
    fetch.Responses.count = 2;
    struct visited_errors visited = {0};
    kafka_fetch_response_visit_errors(&fetch, 12, record_error, &visited);
    REQUIRE(visited.total == 3);
    CHECK(visited.codes[0] == KAFKA_ERROR_FETCH_SESSION_ID_NOT_FOUND);
    CHECK(visited.codes[1] == KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER);
    CHECK(visited.codes[2] == KAFKA_ERROR_OFFSET_OUT_OF_RANGE);
    visited = (struct visited_errors){0};
    kafka_fetch_response_visit_errors(&fetch, 6, record_error, &visited);
    CHECK(visited.total == 2 && visited.codes[0] == KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER);

    struct kafka_create_topics_response_creatable_topic_result created;
    kafka_create_topics_response_creatable_topic_result_init(&created);
    created.ErrorCode = KAFKA_ERROR_INVALID_CONFIG;
    created.TopicConfigErrorCode = KAFKA_ERROR_TOPIC_AUTHORIZATION_FAILED;
    union kafka_response response;
    kafka_create_topics_response_init(&response.CreateTopics);
    response.CreateTopics.Topics.items = &created;
    response.CreateTopics.Topics.count = 1;
    visited = (struct visited_errors){0};
    kafka_response_visit_errors(KAFKA_API_CREATE_TOPICS, 7, &response, record_error, &visited);
    CHECK(visited.total == 2 && visited.codes[1] == KAFKA_ERROR_TOPIC_AUTHORIZATION_FAILED);
    visited = (struct visited_errors){0};
    kafka_response_visit_errors(KAFKA_API_CREATE_TOPICS, 4, &response, record_error, &visited);
    CHECK(visited.total == 1 && visited.codes[0] == KAFKA_ERROR_INVALID_CONFIG);

    struct kafka_metadata_response_partition partition;
    kafka_metadata_response_partition_init(&partition);
    partition.ErrorCode = KAFKA_ERROR_LEADER_NOT_AVAILABLE;
    struct kafka_metadata_response_topic topic;
    kafka_metadata_response_topic_init(&topic);
    topic.ErrorCode = KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
    topic.Partitions.items = &partition;
    topic.Partitions.count = 1;
    kafka_metadata_response_init(&response.Metadata);
    response.Metadata.Topics.items = &topic;
    response.Metadata.Topics.count = 1;
    visited = (struct visited_errors){0};
    kafka_response_visit_errors(KAFKA_API_METADATA, 12, &response, record_error, &visited);
    CHECK(visited.total == 2 && visited.codes[0] == KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION &&
          visited.codes[1] == KAFKA_ERROR_LEADER_NOT_AVAILABLE);
    visited = (struct visited_errors){0};
    kafka_response_visit_errors(KAFKA_API_LEADER_AND_ISR, 0, &response, record_error, &visited);
    CHECK(visited.total == 0); /* No codec: nothing to walk. */
}

/* Every response at every version, filled with random values, encoded and decoded: the visit
 * walks every nested array and struct of the decoded value without reading past it (ASan),
 * sees at most one code per two bytes of the encoding (an error code is an int16 on the
 * wire), and sees the same codes after a second encode and decode. */
TEST(error_visitors_walk_every_response)
{
    static union kafka_response first, second;
    u32 visits = 0;
    for (u32 index = 0; index < ARRAY_LEN(test_messages); index++) {
        const struct test_message *m = &test_messages[index];
        if (m->api_key < 0 || m->is_request) continue;
        void *message = calloc(1, m->size);
        REQUIRE(message != NULL);
        for (i16 version = m->version_min; version <= m->version_max; version++) {
            for (u64 seed = 0; seed < SEEDS; seed++) {
                u32 size = encode_filled(m, version, seed, message);
                struct proto_reader reader;
                struct proto_arena arena;
                proto_reader_init(&reader, buffer_first, size);
                proto_arena_init(&arena, decode_memory, ARENA_SIZE);
                REQUIRE(kafka_response_decode(&reader, m->api_key, version, &first, &arena) ==
                        PROTO_OK);
                struct visited_errors a = {0}, b = {0};
                kafka_response_visit_errors(m->api_key, version, &first, record_error, &a);
                CHECK(a.total <= size / 2);
                struct proto_writer writer;
                proto_writer_init(&writer, buffer_second, BUFFER_SIZE);
                REQUIRE(kafka_response_encode(&writer, m->api_key, version, &first) ==
                        PROTO_OK);
                proto_reader_init(&reader, buffer_second, writer.position);
                proto_arena_init(&arena, redecode_memory, ARENA_SIZE);
                REQUIRE(kafka_response_decode(&reader, m->api_key, version, &second, &arena) ==
                        PROTO_OK);
                kafka_response_visit_errors(m->api_key, version, &second, record_error, &b);
                CHECK(a.total == b.total && a.count == b.count &&
                      memcmp(a.codes, b.codes, a.count * sizeof(a.codes[0])) == 0);
                visits += a.total;
            }
        }
        free(message);
    }
    CHECK(visits > 1000); /* The fillers set error codes: the walk found them. */
    printf("     %u error codes visited\n", visits);
}

static const struct test_case tests[] = {
    {"error_visitors_see_every_level_in_order", error_visitors_see_every_level_in_order},
    {"error_visitors_walk_every_response", error_visitors_walk_every_response},
    {"round_trip_every_message_every_version", round_trip_every_message_every_version},
    {"every_truncation_is_rejected", every_truncation_is_rejected},
    {"garbage_and_bit_flips_never_crash", garbage_and_bit_flips_never_crash},
    {"dispatch_by_api_key", dispatch_by_api_key},
    {"versions_outside_the_schema_are_rejected", versions_outside_the_schema_are_rejected},
    {"arena_exhaustion_is_an_error", arena_exhaustion_is_an_error},
    {"encoding_into_a_full_buffer_is_an_error", encoding_into_a_full_buffer_is_an_error},
    {"unrepresentable_values_are_refused", unrepresentable_values_are_refused},
    {"defaults_come_from_the_schema", defaults_come_from_the_schema},
};

TEST_MAIN(tests)
