/* test_kafka_client.c: the producer of impl/kafka_client/ driven through a fake io that plays
 * one broker, b1, leading every partition.
 *
 * The fake delivers connection events and timers from its own loop, captures every request
 * frame and answers CreateTopics and Metadata by itself; InitProducerId and Produce wait for
 * the test, which decodes them with the generated codec (and the batch with record_batch.h)
 * and answers as a broker would, or lets them time out, or breaks their connection.
 *
 * Covered: an idempotent producer's InitProducerId (retried after COORDINATOR_LOAD_IN_PROGRESS),
 * the producer id, epoch and per-partition sequences its batches carry; a timeout and a lost
 * connection resend the very same batch (RETRIED with REQUEST_TIMED_OUT / NETWORK_EXCEPTION)
 * until the delivery timeout, then UNKNOWN; OUT_OF_ORDER_SEQUENCE_NUMBER gets a new producer
 * id and resends as its sequence 0, unless an earlier attempt timed out (then the same batch
 * again); retries without idempotence carry no producer id; a
 * producer without retries still reports UNKNOWN at the first timeout. */
#include "test.h"

#include "kafka_client_fake_io.h"

#include "../../impl/kafka_client/kafka_client.h"
#include "../../impl/log/record_batch.h"
#include "../../impl/protocol/errors_generated.h"
#include "../../impl/protocol/header.h"
#include "../../model/history.h"

#define TOPIC "t"
#define TIMEOUT_NS (1 * NS_PER_S)

struct world {
    struct kc_fake fake; /* First: the io's context. */
    _Alignas(8) u8 arena_memory[64u * 1024u];
};

/* ===== Answers ===== */

static void answer_create_topics(struct world *world, struct fake_request *request)
{
    struct kafka_create_topics_response_creatable_topic_result topic;
    kafka_create_topics_response_creatable_topic_result_init(&topic);
    topic.Name = proto_string_of(TOPIC);
    union kafka_response response;
    kafka_create_topics_response_init(&response.CreateTopics);
    response.CreateTopics.Topics.items = &topic;
    response.CreateTopics.Topics.count = 1;
    kc_fake_deliver(&world->fake, request, &response);
}

static void answer_metadata(struct world *world, struct fake_request *request)
{
    struct kafka_metadata_response_broker broker;
    kafka_metadata_response_broker_init(&broker);
    broker.NodeId = 1;
    broker.Host = proto_string_of("b1");
    broker.Port = 9092;
    struct kafka_metadata_response_partition partitions[KAFKA_CLIENT_PARTITIONS_MAX];
    i32 replicas[1] = {1};
    for (u32 p = 0; p < world->fake.config.partition_count; p++) {
        kafka_metadata_response_partition_init(&partitions[p]);
        partitions[p].PartitionIndex = (i32)p;
        partitions[p].LeaderId = 1;
        partitions[p].ReplicaNodes.items = replicas;
        partitions[p].ReplicaNodes.count = 1;
        partitions[p].IsrNodes.items = replicas;
        partitions[p].IsrNodes.count = 1;
    }
    struct kafka_metadata_response_topic topic;
    kafka_metadata_response_topic_init(&topic);
    topic.Name = proto_string_of(TOPIC);
    topic.Partitions.items = partitions;
    topic.Partitions.count = (i32)world->fake.config.partition_count;
    union kafka_response response;
    kafka_metadata_response_init(&response.Metadata);
    response.Metadata.Brokers.items = &broker;
    response.Metadata.Brokers.count = 1;
    response.Metadata.Topics.items = &topic;
    response.Metadata.Topics.count = 1;
    kc_fake_deliver(&world->fake, request, &response);
}

/* One thing that can happen now; false when nothing can. */
static bool world_step(struct world *world)
{
    for (io_conn conn = 1; conn <= world->fake.conn_count; conn++) {
        struct fake_conn *fake = &world->fake.conns[conn];
        if (!fake->announced && !fake->closed) {
            fake->announced = true;
            kafka_client_handler.on_conn(world->fake.client, conn, IO_CONN_CONNECTED, IO_CLOSE_NONE,
                                         0);
            return true;
        }
    }
    for (u32 i = 0; i < world->fake.request_count; i++) {
        struct fake_request *request = &world->fake.requests[i];
        if (request->answered) continue;
        if (world->fake.conns[request->conn].closed) {
            request->answered = true;
            continue;
        }
        if (request->api_key == KAFKA_API_CREATE_TOPICS) {
            answer_create_topics(world, request);
            return true;
        }
        if (request->api_key == KAFKA_API_METADATA) {
            answer_metadata(world, request);
            return true;
        }
    }
    for (u32 id = 0; id < IO_TIMERS_MAX; id++) {
        if (world->fake.armed[id] && world->fake.deadline[id] <= world->fake.now) {
            world->fake.armed[id] = false;
            kafka_client_handler.on_timer(world->fake.client, id);
            return true;
        }
    }
    return false;
}

static void world_settle(struct world *world)
{
    for (u32 guard = 0; world_step(world); guard++) ASSERT(guard < 100000u);
}

/* Runs until `ns` from now, moving the clock to each due timer in turn. */
static void world_run(struct world *world, u64 ns)
{
    u64 until = world->fake.now + ns;
    world_settle(world);
    for (;;) {
        u64 next = kc_fake_next_timer(&world->fake, until);
        world->fake.now = MAX(world->fake.now, next);
        world_settle(world);
        if (next >= until) return;
    }
}

static struct world *world_new(bool idempotent, bool retry_unknown, u32 partitions)
{
    struct world *world = calloc(1, sizeof(*world));
    ASSERT(world != NULL);
    kc_fake_init(&world->fake, 1 * NS_PER_S);
    struct kafka_client_config *config = &world->fake.config;
    config->role = KAFKA_CLIENT_PRODUCER;
    config->client_id = 1001;
    snprintf(config->bootstrap[0], CONFIG_ENDPOINT_MAX, "b1:9092");
    config->bootstrap_count = 1;
    snprintf(config->topic, sizeof(config->topic), TOPIC);
    config->partition_count = partitions;
    config->replication_factor = 1;
    config->acks = -1;
    config->interval_ns = 10 * NS_PER_MS;
    config->value_size = 32;
    config->request_timeout_ns = TIMEOUT_NS;
    config->idempotent = idempotent;
    config->retry_unknown = retry_unknown;
    config->delivery_timeout_ns = 5 * NS_PER_S;
    world->fake.client = kafka_client_create(config, &world->fake.io);
    ASSERT(world->fake.client != NULL);
    kafka_client_handler.on_start(world->fake.client);
    world_settle(world);
    return world;
}

static void world_free(struct world *world)
{
    kc_fake_deinit(&world->fake);
    free(world);
}

/* The newest unanswered request of api_key, or NULL. */
static struct fake_request *pending(struct world *world, i16 api_key)
{
    for (u32 i = world->fake.request_count; i-- > 0;) {
        struct fake_request *request = &world->fake.requests[i];
        if (!request->answered && request->api_key == api_key &&
            !world->fake.conns[request->conn].closed) {
            return request;
        }
    }
    return NULL;
}

static void answer_init_producer_id(struct world *world, struct fake_request *request, i16 error,
                                    i64 producer_id)
{
    union kafka_request body;
    struct proto_reader reader;
    proto_reader_init(&reader, request->frame, request->size);
    struct proto_request_header header;
    ASSERT(proto_request_header_decode(&reader, &header) == PROTO_OK);
    struct proto_arena arena;
    proto_arena_init(&arena, world->arena_memory, sizeof(world->arena_memory));
    ASSERT(kafka_request_decode(&reader, request->api_key, request->version, &body, &arena) ==
           PROTO_OK);
    CHECK(body.InitProducerId.TransactionalId.size < 0); /* Idempotence, no transactions. */
    union kafka_response response;
    kafka_init_producer_id_response_init(&response.InitProducerId);
    response.InitProducerId.ErrorCode = error;
    response.InitProducerId.ProducerId = error == 0 ? producer_id : -1;
    response.InitProducerId.ProducerEpoch = error == 0 ? 0 : -1;
    kc_fake_deliver(&world->fake, request, &response);
}

/* The batch a Produce request carries (its bytes copied into batch) and its partition. */
static struct record_batch_header produce_batch(struct world *world,
                                                const struct fake_request *request, u8 *batch,
                                                u32 *batch_size, i32 *partition)
{
    union kafka_request body;
    struct proto_reader reader;
    proto_reader_init(&reader, request->frame, request->size);
    struct proto_request_header header;
    ASSERT(proto_request_header_decode(&reader, &header) == PROTO_OK);
    struct proto_arena arena;
    proto_arena_init(&arena, world->arena_memory, sizeof(world->arena_memory));
    ASSERT(kafka_request_decode(&reader, request->api_key, request->version, &body, &arena) ==
           PROTO_OK);
    ASSERT(body.Produce.TopicData.count == 1);
    const struct kafka_produce_request_partition_produce_data *data =
        &body.Produce.TopicData.items[0].PartitionData.items[0];
    ASSERT(data->Records.size > 0 && data->Records.size <= 2048);
    memcpy(batch, data->Records.data, (size_t)data->Records.size);
    *batch_size = (u32)data->Records.size;
    *partition = data->Index;
    struct record_batch_header decoded;
    ASSERT(batch_header_decode(batch, *batch_size, &decoded) == BATCH_OK);
    return decoded;
}

static void answer_produce(struct world *world, struct fake_request *request, i16 error,
                           i64 offset)
{
    u8 batch[2048];
    u32 size = 0;
    i32 partition = 0;
    (void)produce_batch(world, request, batch, &size, &partition);
    struct kafka_produce_response_partition_produce answer;
    kafka_produce_response_partition_produce_init(&answer);
    answer.Index = partition;
    answer.ErrorCode = error;
    answer.BaseOffset = error == 0 ? offset : -1;
    struct kafka_produce_response_topic_produce topic;
    kafka_produce_response_topic_produce_init(&topic);
    topic.Name = proto_string_of(TOPIC);
    topic.PartitionResponses.items = &answer;
    topic.PartitionResponses.count = 1;
    union kafka_response response;
    kafka_produce_response_init(&response.Produce);
    response.Produce.Responses.items = &topic;
    response.Produce.Responses.count = 1;
    kc_fake_deliver(&world->fake, request, &response);
}

/* Observations of kind, in order: how many, and the index-th one. */
static u32 observed(const struct world *world, u32 kind, u32 index,
                    struct io_observation *found)
{
    u32 count = 0;
    for (u32 i = 0; i < world->fake.observed_count; i++) {
        if (world->fake.observed[i].kind != kind) continue;
        if (count == index && found != NULL) *found = world->fake.observed[i];
        count++;
    }
    return count;
}

/* Runs until a Produce is pending (at most a few seconds of virtual time). */
static struct fake_request *next_produce(struct world *world)
{
    for (u32 i = 0; i < 400 && pending(world, KAFKA_API_PRODUCE) == NULL; i++) {
        world_run(world, 10 * NS_PER_MS);
    }
    return pending(world, KAFKA_API_PRODUCE);
}

/* ===== Tests ===== */

TEST(idempotent_producer_gets_an_id_then_numbers_its_batches)
{
    struct world *world = world_new(true, false, 2);
    world_run(world, 50 * NS_PER_MS);
    CHECK(pending(world, KAFKA_API_PRODUCE) == NULL); /* Nothing goes before the id. */
    struct fake_request *init = pending(world, KAFKA_API_INIT_PRODUCER_ID);
    REQUIRE(init != NULL);
    CHECK_EQ_U64(init->version, 4);
    answer_init_producer_id(world, init, KAFKA_ERROR_COORDINATOR_LOAD_IN_PROGRESS, -1);
    world_run(world, 50 * NS_PER_MS);
    CHECK(pending(world, KAFKA_API_INIT_PRODUCER_ID) == NULL); /* Backing off. */
    world_run(world, 100 * NS_PER_MS);
    init = pending(world, KAFKA_API_INIT_PRODUCER_ID);
    REQUIRE(init != NULL);
    answer_init_producer_id(world, init, 0, 42);
    struct io_observation event;
    REQUIRE(observed(world, HISTORY_KAFKA_PRODUCER_ID, 0, &event) == 1);
    CHECK_EQ_U64(event.a, 42);
    CHECK_EQ_U64(event.b, 0);
    /* Operations 1, 2, 3 go to partitions 1, 0, 1: sequences 0, 0, 1. */
    const i32 expected_partition[3] = {1, 0, 1}, expected_sequence[3] = {0, 0, 1};
    for (u32 op = 0; op < 3; op++) {
        struct fake_request *produce = next_produce(world);
        REQUIRE(produce != NULL);
        u8 batch[2048];
        u32 size = 0;
        i32 partition = -1;
        struct record_batch_header header = produce_batch(world, produce, batch, &size,
                                                          &partition);
        CHECK_EQ_U64((u64)partition, (u64)expected_partition[op]);
        CHECK_EQ_U64((u64)header.ProducerId, 42);
        CHECK_EQ_U64((u64)header.ProducerEpoch, 0);
        CHECK_EQ_U64((u64)header.BaseSequence, (u64)expected_sequence[op]);
        answer_produce(world, produce, 0, (i64)op);
    }
    CHECK_EQ_U64(observed(world, HISTORY_KAFKA_ACKED, 0, NULL), 3);
    CHECK_EQ_U64(observed(world, HISTORY_KAFKA_SEND, 0, &event), 3);
    CHECK_EQ_U64(event.d, HISTORY_KAFKA_IDEMPOTENT);
    CHECK_EQ_U64(observed(world, HISTORY_KAFKA_RETRIED, 0, NULL), 0);
    world_free(world);
}

/* A timeout and a lost connection resend the batch byte for byte; the duplicate's answer
 * (the first write's offset) acknowledges it once. */
TEST(an_unknown_outcome_resends_the_same_batch)
{
    struct world *world = world_new(true, false, 1);
    world_run(world, 10 * NS_PER_MS);
    answer_init_producer_id(world, pending(world, KAFKA_API_INIT_PRODUCER_ID), 0, 7);
    struct fake_request *produce = next_produce(world);
    REQUIRE(produce != NULL);
    u8 first[2048], again[2048];
    u32 first_size = 0, again_size = 0;
    i32 partition = 0;
    (void)produce_batch(world, produce, first, &first_size, &partition);
    world_run(world, TIMEOUT_NS); /* Unanswered: the link times out. */
    struct io_observation event;
    REQUIRE(observed(world, HISTORY_KAFKA_RETRIED, 0, &event) == 1);
    CHECK_EQ_U64(event.a, 1);
    CHECK_EQ_U64(event.c, KAFKA_ERROR_REQUEST_TIMED_OUT);
    CHECK(world->fake.conns[produce->conn].closed);
    produce = next_produce(world);
    REQUIRE(produce != NULL);
    (void)produce_batch(world, produce, again, &again_size, &partition);
    CHECK(again_size == first_size && memcmp(first, again, first_size) == 0);
    /* The broker's connection breaks while the resend is in flight. */
    world->fake.conns[produce->conn].closed = true;
    kafka_client_handler.on_conn(world->fake.client, produce->conn, IO_CONN_CLOSED,
                                 IO_CLOSE_RESET, 0);
    REQUIRE(observed(world, HISTORY_KAFKA_RETRIED, 1, &event) == 2);
    CHECK_EQ_U64(event.c, KAFKA_ERROR_NETWORK_EXCEPTION);
    produce = next_produce(world);
    REQUIRE(produce != NULL);
    (void)produce_batch(world, produce, again, &again_size, &partition);
    CHECK(again_size == first_size && memcmp(first, again, first_size) == 0);
    answer_produce(world, produce, 0, 0);
    REQUIRE(observed(world, HISTORY_KAFKA_ACKED, 0, &event) == 1);
    CHECK_EQ_U64(event.c, 0);
    CHECK_EQ_U64(observed(world, HISTORY_KAFKA_UNKNOWN, 0, NULL), 0);
    /* The next value takes the next sequence. */
    produce = next_produce(world);
    REQUIRE(produce != NULL);
    struct record_batch_header header = produce_batch(world, produce, again, &again_size,
                                                      &partition);
    CHECK_EQ_U64((u64)header.BaseSequence, 1);
    world_free(world);
}

/* Resent until delivery.timeout.ms after the first send, then UNKNOWN. */
TEST(the_delivery_timeout_ends_the_retries)
{
    struct world *world = world_new(true, false, 1);
    world_run(world, 10 * NS_PER_MS);
    answer_init_producer_id(world, pending(world, KAFKA_API_INIT_PRODUCER_ID), 0, 7);
    REQUIRE(next_produce(world) != NULL);
    u64 first_sent = world->fake.now;
    while (observed(world, HISTORY_KAFKA_UNKNOWN, 0, NULL) == 0 &&
           world->fake.now < first_sent + 10 * NS_PER_S) {
        world_run(world, 10 * NS_PER_MS);
    }
    struct io_observation event;
    REQUIRE(observed(world, HISTORY_KAFKA_UNKNOWN, 0, &event) == 1);
    CHECK_EQ_U64(event.c, KAFKA_ERROR_REQUEST_TIMED_OUT);
    CHECK(world->fake.now >= first_sent + 5 * NS_PER_S &&
          world->fake.now <= first_sent + 5 * NS_PER_S + 20 * NS_PER_MS);
    u32 retries = observed(world, HISTORY_KAFKA_RETRIED, 0, NULL);
    CHECK(retries >= 3 && retries <= 5); /* One per timeout (1s) plus backoffs, within 5s. */
    world_free(world);
}

/* OUT_OF_ORDER_SEQUENCE_NUMBER: a new producer id, and the batch again as its sequence 0. */
TEST(a_refused_sequence_gets_a_new_producer_id)
{
    struct world *world = world_new(true, false, 1);
    world_run(world, 10 * NS_PER_MS);
    answer_init_producer_id(world, pending(world, KAFKA_API_INIT_PRODUCER_ID), 0, 7);
    answer_produce(world, next_produce(world), 0, 0);
    struct fake_request *produce = next_produce(world);
    REQUIRE(produce != NULL);
    answer_produce(world, produce, KAFKA_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER, -1);
    struct io_observation event;
    REQUIRE(observed(world, HISTORY_KAFKA_RETRIED, 0, &event) == 1);
    CHECK_EQ_U64(event.c, KAFKA_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    world_run(world, 200 * NS_PER_MS);
    CHECK(pending(world, KAFKA_API_PRODUCE) == NULL);
    struct fake_request *init = pending(world, KAFKA_API_INIT_PRODUCER_ID);
    REQUIRE(init != NULL);
    answer_init_producer_id(world, init, 0, 8);
    CHECK_EQ_U64(observed(world, HISTORY_KAFKA_PRODUCER_ID, 0, NULL), 2);
    produce = next_produce(world);
    REQUIRE(produce != NULL);
    u8 batch[2048];
    u32 size = 0;
    i32 partition = 0;
    struct record_batch_header header = produce_batch(world, produce, batch, &size, &partition);
    CHECK_EQ_U64((u64)header.ProducerId, 8);
    CHECK_EQ_U64((u64)header.BaseSequence, 0);
    answer_produce(world, produce, 0, 1);
    REQUIRE(observed(world, HISTORY_KAFKA_ACKED, 1, &event) == 2);
    CHECK_EQ_U64(event.a, 2); /* The same operation, acknowledged once. */
    /* After a timeout the first attempt may be in the real leader's log: a refusal (from a
     * deposed leader, say) resends the batch unchanged, under the same producer id. */
    produce = next_produce(world);
    REQUIRE(produce != NULL);
    u8 first[2048];
    u32 first_size = 0;
    (void)produce_batch(world, produce, first, &first_size, &partition);
    world_run(world, TIMEOUT_NS);
    produce = next_produce(world);
    REQUIRE(produce != NULL);
    answer_produce(world, produce, KAFKA_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER, -1);
    REQUIRE(observed(world, HISTORY_KAFKA_RETRIED, 2, &event) == 3);
    CHECK_EQ_U64(event.c, KAFKA_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    produce = next_produce(world);
    REQUIRE(produce != NULL);
    CHECK(pending(world, KAFKA_API_INIT_PRODUCER_ID) == NULL);
    CHECK_EQ_U64(observed(world, HISTORY_KAFKA_PRODUCER_ID, 0, NULL), 2);
    header = produce_batch(world, produce, batch, &size, &partition);
    CHECK(size == first_size && memcmp(batch, first, size) == 0);
    CHECK_EQ_U64((u64)header.ProducerId, 8);
    CHECK_EQ_U64((u64)header.BaseSequence, 1);
    world_free(world);
}

/* retries without idempotence: the same value again, with no producer id (duplicates are
 * possible); without retries the first timeout is UNKNOWN, as it always was. */
TEST(retries_without_idempotence_and_no_retries)
{
    struct world *world = world_new(false, true, 1);
    struct fake_request *produce = next_produce(world);
    REQUIRE(produce != NULL);
    CHECK(pending(world, KAFKA_API_INIT_PRODUCER_ID) == NULL);
    u8 batch[2048];
    u32 size = 0;
    i32 partition = 0;
    struct record_batch_header header = produce_batch(world, produce, batch, &size, &partition);
    CHECK(header.ProducerId == -1 && header.BaseSequence == -1);
    world_run(world, TIMEOUT_NS);
    CHECK_EQ_U64(observed(world, HISTORY_KAFKA_RETRIED, 0, NULL), 1);
    answer_produce(world, next_produce(world), 0, 3);
    CHECK_EQ_U64(observed(world, HISTORY_KAFKA_ACKED, 0, NULL), 1);
    struct io_observation event;
    REQUIRE(observed(world, HISTORY_KAFKA_SEND, 0, &event) >= 1);
    CHECK_EQ_U64(event.d, 0);
    world_free(world);

    world = world_new(false, false, 1);
    REQUIRE(next_produce(world) != NULL);
    world_run(world, TIMEOUT_NS);
    CHECK_EQ_U64(observed(world, HISTORY_KAFKA_RETRIED, 0, NULL), 0);
    REQUIRE(observed(world, HISTORY_KAFKA_UNKNOWN, 0, &event) == 1);
    CHECK_EQ_U64(event.c, KAFKA_ERROR_REQUEST_TIMED_OUT);
    world_free(world);
}

static const struct test_case tests[] = {
    {"idempotent_producer_gets_an_id_then_numbers_its_batches",
     idempotent_producer_gets_an_id_then_numbers_its_batches},
    {"an_unknown_outcome_resends_the_same_batch", an_unknown_outcome_resends_the_same_batch},
    {"the_delivery_timeout_ends_the_retries", the_delivery_timeout_ends_the_retries},
    {"a_refused_sequence_gets_a_new_producer_id", a_refused_sequence_gets_a_new_producer_id},
    {"retries_without_idempotence_and_no_retries", retries_without_idempotence_and_no_retries},
};

TEST_MAIN(tests)
