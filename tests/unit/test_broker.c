/* test_broker.c: the broker's Kafka handlers driven with encoded requests over a fake io. The
 * fake io is tests/unit/log_fake_io.h (in-memory files with durable images) with the network and
 * timers replaced here: sends are captured as response frames, read pauses and timers are
 * recorded. The test plays the node's part for the metadata: it owns the metadata image, applies
 * the records a controller would have committed (a topic, more partitions, a config, a removal)
 * and tells the broker, which opens, grows, reconfigures and deletes its logs to match. The
 * broker's link to the controller connects (io_connect) to conn LINK_CONN, whose frames are
 * captured like any other; the test answers as the controller. Requests are built with the
 * generated encoders, exactly as a client would send them; responses are decoded with the
 * generated decoders and checked field by field. Covered: ApiVersions lists exactly the
 * implemented APIs; Metadata from the image, auto- creation asked of the controller and
 * LEADER_NOT_AVAILABLE while logs open; admin requests forwarded to the controller byte for byte
 * and answered with the client's correlation id; Produce (offsets, acks 0/1/-1, unknown topics,
 * corrupt batches, bad acks); ListOffsets (earliest, latest, by timestamp); Fetch (records, high
 * watermark, long poll woken by a produce and ended by its timer); topics and records across a
 * restart; a topic removed from the image (logs and files gone once idle, a re-created topic
 * starts empty); partitions added in the image; DescribeCluster; DescribeConfigs (values,
 * sources, synonyms, overrides from ConfigRecords); DeleteRecords (low watermark) and
 * OffsetForLeaderEpoch; malformed and random frames never crash; DeleteTopics v6 by topic id
 * (forwarded, decided by the controller's rules, relayed); error codes inside answers counted
 * in the metrics per (api, error); InitProducerId with ids in blocks from the controller
 * (AllocateProducerIds decided by the controller's rules), and Produce of idempotent batches
 * (duplicates, sequence and epoch refusals, the producer bound, acks=all). */
#include "test.h"

#include "log_fake_io.h"

#include "../../impl/broker/broker.h"
#include "../../impl/broker/broker_internal.h" /* A log's producer bound, lowered. */
#include "../../impl/broker/broker_metrics.h"
#include "../../impl/controller/controller_decide.h"
#include "../../impl/metadata/metadata.h"
#include "../../impl/protocol/api_versions.h"
#include "../../impl/protocol/errors_generated.h"
#include "../../impl/protocol/header.h"
#include "../../model/history.h"

#define CAPTURED_MAX 64u
#define LINK_CONN 99u
#define LINK_TIMER 40u
#define CAPTURE_SIZE (2u * 1024u * 1024u)

struct captured {
    io_conn conn;
    u32 position; /* In capture_bytes. */
    u32 size;
};

static u8 capture_bytes[CAPTURE_SIZE];
static u32 capture_used;
static struct captured captured[CAPTURED_MAX];
static u32 captured_count;
static u64 timer_deadline[IO_TIMERS_MAX];
static bool conn_paused[16];

/* Appends bytes sent on conn: to the last frame while it is incomplete (a response sent in
 * pieces, memory and file ranges), else as a new frame. */
static enum io_result test_send(void *context, io_conn conn, const u8 *bytes, u32 size)
{
    (void)context;
    ASSERT(capture_used + size <= CAPTURE_SIZE);
    struct captured *last = captured_count > 0 ? &captured[captured_count - 1] : NULL;
    bool incomplete = last != NULL && (last->size < 4 ||
                      last->size < 4 + load_u32_be(capture_bytes + last->position));
    if (!incomplete) {
        ASSERT(captured_count < CAPTURED_MAX);
        last = &captured[captured_count++];
        *last = (struct captured){conn, capture_used, 0};
    }
    ASSERT(last->conn == conn); /* One answer at a time, whole. */
    memcpy(capture_bytes + capture_used, bytes, size);
    capture_used += size;
    last->size += size;
    return IO_OK;
}

static u64 files_sent_bytes;

static enum io_result test_send_file(void *context, io_conn conn, io_file file, u64 offset,
                                     u32 size)
{
    struct fake_file *source = fake_file_of(context, file);
    ASSERT(source != NULL);
    ASSERT(offset + size <= source->current.size);
    files_sent_bytes += size;
    return test_send(context, conn, source->current.bytes + offset, size);
}

static void test_timer_set(void *context, u32 id, u64 deadline)
{
    (void)context;
    timer_deadline[id] = deadline;
}

static void test_timer_cancel(void *context, u32 id)
{
    (void)context;
    timer_deadline[id] = 0;
}

static void test_read_pause(void *context, io_conn conn, bool paused)
{
    (void)context;
    if (conn < ARRAY_LEN(conn_paused)) conn_paused[conn] = paused;
}

static io_conn test_connect(void *context, const char *endpoint, u64 tag, u32 frame_size_max)
{
    (void)context;
    (void)frame_size_max;
    /* A follower's fetcher (test_broker_fetcher.c covers it) never hears it connected here. */
    if (tag == BROKER_FETCHER_CONN_TAG) return LINK_CONN - 1;
    ASSERT(strcmp(endpoint, "127.0.0.1:9093") == 0 && tag == BROKER_LINK_CONN_TAG);
    return LINK_CONN;
}

static bool conn_closed[128];

static void test_close(void *context, io_conn conn)
{
    (void)context;
    if (conn < ARRAY_LEN(conn_closed)) conn_closed[conn] = true;
}

/* Replica observations (model/history.h kinds 70..73): the last ones, kept for the checks. */
#define OBSERVED_MAX 256u
static struct io_observation observed[OBSERVED_MAX];
static struct history_replica_batch observed_batch[OBSERVED_MAX];
static u32 observed_count;

static void test_observe(void *context, const struct io_observation *observation)
{
    (void)context;
    if (observation->kind < HISTORY_REPLICA_OPENED ||
        observation->kind > HISTORY_REPLICA_HIGH_WATERMARK) {
        return;
    }
    if (observed_count == OBSERVED_MAX) observed_count = 0; /* Tests look at recent ones. */
    observed[observed_count] = *observation;
    memset(&observed_batch[observed_count], 0, sizeof(observed_batch[0]));
    if (observation->data_size == sizeof(observed_batch[0])) {
        memcpy(&observed_batch[observed_count], observation->data, sizeof(observed_batch[0]));
    }
    observed[observed_count].data = NULL;
    observed_count++;
}

static struct io_vtable test_vtable;

struct world {
    struct fake_io *fake;
    struct broker *broker;
    struct node_config config;
    struct metadata_image image; /* The node's, as the committed metadata log built it. */
    i64 offset;                  /* Of the last entry applied. */
};

static void world_start(struct world *world)
{
    world->broker = broker_create(&world->config, &world->fake->io, 0);
    ASSERT(world->broker != NULL);
    broker_attach_metadata(world->broker, &world->image, LINK_TIMER);
    broker_start(world->broker);
    broker_on_metadata(world->broker); /* As the node after replaying the metadata log. */
}

/* One committed entry of one record, as every node applies it. */
static void world_apply(struct world *world, const struct metadata_record *record)
{
    world->offset++;
    ASSERT(metadata_image_apply(&world->image, world->offset, record));
    metadata_image_applied(&world->image, world->offset);
}

static void world_run(struct world *world)
{
    for (u32 guard = 0; world->fake->queue_count > 0; guard++) {
        ASSERT(guard < 1000000u);
        struct io_completion completion = world->fake->queue[0];
        memmove(&world->fake->queue[0], &world->fake->queue[1],
                sizeof(completion) * (world->fake->queue_count - 1));
        world->fake->queue_count--;
        broker_on_file(world->broker, &completion);
    }
}

static void world_init(struct world *world)
{
    memset(world, 0, sizeof(*world));
    test_vtable = fake_vtable;
    test_vtable.send = test_send;
    test_vtable.send_file = test_send_file;
    test_vtable.timer_set = test_timer_set;
    test_vtable.timer_cancel = test_timer_cancel;
    test_vtable.read_pause = test_read_pause;
    test_vtable.connect = test_connect;
    test_vtable.close = test_close;
    test_vtable.observe = test_observe;
    observed_count = 0;
    world->fake = fake_io_create(7);
    world->fake->io.vtable = &test_vtable;
    config_defaults(&world->config);
    world->config.node_id = 1;
    world->config.roles = CONFIG_ROLE_BROKER | CONFIG_ROLE_CONTROLLER;
    world->config.voters[0].id = 1;
    snprintf(world->config.voters[0].endpoint, CONFIG_ENDPOINT_MAX, "127.0.0.1:9093");
    world->config.voter_count = 1;
    snprintf(world->config.listeners[0].endpoint, CONFIG_ENDPOINT_MAX, "127.0.0.1:9092");
    ASSERT(metadata_image_init(&world->image));
    world->offset = -1;
    struct metadata_record self = {.type = METADATA_REGISTER_BROKER};
    self.as.register_broker.broker_id = 1;
    snprintf(self.as.register_broker.host, METADATA_HOST_MAX, "127.0.0.1");
    self.as.register_broker.port = 9092;
    world_apply(world, &self);
    struct metadata_record unfence = {.type = METADATA_UNFENCE_BROKER};
    unfence.as.unfence_broker.broker_id = 1;
    unfence.as.unfence_broker.broker_epoch = world->offset;
    world_apply(world, &unfence);
    world->config.num_partitions = 1;
    world->config.auto_create_topics_enable = true;
    world->config.log_segment_bytes = 4096;
    capture_used = 0;
    captured_count = 0;
    memset(timer_deadline, 0, sizeof(timer_deadline));
    memset(conn_closed, 0, sizeof(conn_closed));
    world_start(world);
    world_run(world);
}

static void world_deinit(struct world *world)
{
    broker_destroy(world->broker);
    fake_io_destroy(world->fake);
    metadata_image_free(&world->image);
    fake_held_drop_all(); /* Gone with the process. */
}

/* ===== The controller's part: records applied to the image ===== */

static struct metadata_uuid topic_id_of(const char *name, u32 generation)
{
    struct metadata_uuid id;
    u64 hash = 1469598103934665603ull + generation;
    for (const char *c = name; *c != '\0'; c++) hash = (hash ^ (u8)*c) * 1099511628211ull;
    store_u64_be(id.bytes, hash);
    store_u64_be(id.bytes + 8, hash * 31u + 7u);
    return id;
}

static u32 topic_generation; /* A re-created topic gets a new id, as the controller draws. */

static void world_partition(struct world *world, struct metadata_uuid id, i32 partition)
{
    struct metadata_record record = {.type = METADATA_PARTITION};
    struct metadata_partition_record *p = &record.as.partition;
    p->topic_id = id;
    p->partition_id = partition;
    p->replicas.ids[0] = 1;
    p->replicas.count = 1;
    p->isr = p->replicas;
    p->leader = 1;
    world_apply(world, &record);
}

/* A topic led here (replica 1), its logs opened. */
static void world_topic(struct world *world, const char *name, i32 partitions)
{
    struct metadata_record record = {.type = METADATA_TOPIC};
    snprintf(record.as.topic.name, sizeof(record.as.topic.name), "%s", name);
    record.as.topic.topic_id = topic_id_of(name, topic_generation++);
    world_apply(world, &record);
    for (i32 p = 0; p < partitions; p++) world_partition(world, record.as.topic.topic_id, p);
    broker_on_metadata(world->broker);
    world_run(world);
}

static const struct metadata_topic *world_find(struct world *world, const char *name)
{
    const struct metadata_topic *topic = metadata_topic_find(&world->image, name,
                                                             (u32)strlen(name));
    ASSERT(topic != NULL);
    return topic;
}

static void world_grow(struct world *world, const char *name, i32 count)
{
    const struct metadata_topic *topic = world_find(world, name);
    struct metadata_uuid id = topic->id;
    for (i32 p = (i32)topic->partition_count; p < count; p++) world_partition(world, id, p);
    broker_on_metadata(world->broker);
    world_run(world);
}

static void world_remove(struct world *world, const char *name)
{
    struct metadata_record record = {.type = METADATA_REMOVE_TOPIC};
    record.as.remove_topic.topic_id = world_find(world, name)->id;
    world_apply(world, &record);
    broker_on_metadata(world->broker);
    world_run(world);
}

/* A topic config override set (value) or deleted (NULL). */
static void world_config(struct world *world, const char *topic, const char *name,
                         const char *value)
{
    struct metadata_record record = {.type = METADATA_CONFIG};
    struct metadata_config_record *config = &record.as.config;
    config->resource_type = METADATA_RESOURCE_TOPIC;
    snprintf(config->resource_name, sizeof(config->resource_name), "%s", topic);
    snprintf(config->name, sizeof(config->name), "%s", name);
    config->value_null = value == NULL;
    snprintf(config->value, sizeof(config->value), "%s", value == NULL ? "" : value);
    world_apply(world, &record);
    broker_on_metadata(world->broker);
    world_run(world);
}

static i32 correlation_next = 100;

/* Encodes one request and hands it to the broker; returns broker_on_frame's verdict. */
static bool world_request(struct world *world, io_conn conn, i16 key, i16 version,
                          const union kafka_request *body)
{
    static u8 frame[1u << 20];
    struct proto_request_header header = {key, version, correlation_next++,
                                           proto_string_of("test"), 0};
    struct proto_writer writer;
    proto_writer_init(&writer, frame, sizeof(frame));
    ASSERT(proto_request_frame_encode(&writer, &header, body) == PROTO_OK);
    return broker_on_frame(world->broker, conn, frame + 4, writer.position - 4);
}

static u8 response_arena[1u << 20];

/* Decodes captured response number index (key and version as sent). */
static bool response_get(u32 index, i16 key, i16 version, union kafka_response *response)
{
    if (index >= captured_count) return false;
    const u8 *bytes = capture_bytes + captured[index].position;
    struct proto_reader reader;
    proto_reader_init(&reader, bytes + 4, captured[index].size - 4);
    i32 correlation = 0;
    if (proto_response_header_decode(&reader, key, version, &correlation) != PROTO_OK) {
        return false;
    }
    struct proto_arena arena;
    proto_arena_init(&arena, response_arena, sizeof(response_arena));
    return kafka_response_decode(&reader, key, version, response, &arena) == PROTO_OK &&
           proto_reader_remaining(&reader) == 0;
}

/* ===== Request builders ===== */

static void metadata_request(union kafka_request *body, struct kafka_metadata_request_topic *t,
                             const char *name)
{
    kafka_metadata_request_init(&body->Metadata);
    kafka_metadata_request_topic_init(t);
    t->Name = proto_string_of(name);
    body->Metadata.Topics.items = t;
    body->Metadata.Topics.count = 1;
}

static u8 batch_buffer[8192];

static u32 build_batch(u32 records, i64 timestamp)
{
    struct batch_builder builder;
    batch_builder_init(&builder, batch_buffer, sizeof(batch_buffer), 0, timestamp);
    for (u32 i = 0; i < records; i++) {
        char value[32];
        int length = snprintf(value, sizeof(value), "value-%u", i);
        struct record_header_input header = {(const u8 *)"k", 1, (const u8 *)"v", 1};
        batch_builder_add(&builder, timestamp + i, (const u8 *)"key", 3, (const u8 *)value,
                          length, &header, 1);
    }
    return (u32)batch_builder_finish(&builder);
}

/* Produce of one batch (batch_buffer, size bytes) to topic/partition at version 9. */
static bool produce(struct world *world, io_conn conn, const char *topic, i32 partition,
                    i16 acks, u32 size)
{
    union kafka_request body;
    struct kafka_produce_request_topic_produce_data t;
    struct kafka_produce_request_partition_produce_data p;
    kafka_produce_request_init(&body.Produce);
    kafka_produce_request_topic_produce_data_init(&t);
    kafka_produce_request_partition_produce_data_init(&p);
    p.Index = partition;
    p.Records = (struct proto_bytes){batch_buffer, (i32)size};
    t.Name = proto_string_of(topic);
    t.PartitionData.items = &p;
    t.PartitionData.count = 1;
    body.Produce.Acks = acks;
    body.Produce.TimeoutMs = 1000;
    body.Produce.TopicData.items = &t;
    body.Produce.TopicData.count = 1;
    return world_request(world, conn, KAFKA_API_PRODUCE, 9, &body);
}

static bool fetch(struct world *world, io_conn conn, const char *topic, i32 partition,
                  i64 offset, i32 max_wait_ms)
{
    union kafka_request body;
    struct kafka_fetch_request_topic t;
    struct kafka_fetch_request_partition p;
    kafka_fetch_request_init(&body.Fetch);
    kafka_fetch_request_topic_init(&t);
    kafka_fetch_request_partition_init(&p);
    p.Partition = partition;
    p.FetchOffset = offset;
    p.PartitionMaxBytes = 1 << 20;
    t.Topic = proto_string_of(topic);
    t.Partitions.items = &p;
    t.Partitions.count = 1;
    body.Fetch.MaxWaitMs = max_wait_ms;
    body.Fetch.MinBytes = 1;
    body.Fetch.MaxBytes = 1 << 20;
    body.Fetch.Topics.items = &t;
    body.Fetch.Topics.count = 1;
    return world_request(world, conn, KAFKA_API_FETCH, 12, &body);
}

/* ListOffsets v7 of one partition: the offset found, or -100 - the error code. run: deliver
 * the log's completions before reading the answer (false: it must be answered at once). */
static i64 list_offset_in(struct world *world, const char *topic, i32 partition, i64 timestamp,
                          bool run)
{
    union kafka_request body;
    struct kafka_list_offsets_request_topic t;
    struct kafka_list_offsets_request_partition p;
    kafka_list_offsets_request_init(&body.ListOffsets);
    kafka_list_offsets_request_topic_init(&t);
    kafka_list_offsets_request_partition_init(&p);
    p.PartitionIndex = partition;
    p.Timestamp = timestamp;
    t.Name = proto_string_of(topic);
    t.Partitions.items = &p;
    t.Partitions.count = 1;
    body.ListOffsets.ReplicaId = -1;
    body.ListOffsets.Topics.items = &t;
    body.ListOffsets.Topics.count = 1;
    u32 before = captured_count;
    ASSERT(world_request(world, 3, KAFKA_API_LIST_OFFSETS, 7, &body));
    if (run) world_run(world);
    union kafka_response response;
    ASSERT(captured_count == before + 1);
    ASSERT(response_get(before, KAFKA_API_LIST_OFFSETS, 7, &response));
    ASSERT(response.ListOffsets.Topics.count == 1);
    const struct kafka_list_offsets_response_partition *out =
        &response.ListOffsets.Topics.items[0].Partitions.items[0];
    return out->ErrorCode != 0 ? -100 - out->ErrorCode : out->Offset;
}

static i64 list_offset(struct world *world, const char *topic, i32 partition, i64 timestamp)
{
    return list_offset_in(world, topic, partition, timestamp, true);
}

/* The controller created the topic: its records are applied, its logs open. */
static i16 create_topic(struct world *world, const char *name, i32 partitions)
{
    if (metadata_topic_find(&world->image, name, (u32)strlen(name)) != NULL) {
        return KAFKA_ERROR_TOPIC_ALREADY_EXISTS;
    }
    world_topic(world, name, partitions);
    return 0;
}

/* ===== Tests ===== */

TEST(api_versions_lists_exactly_the_implemented_apis)
{
    struct world world;
    world_init(&world);
    union kafka_request body;
    kafka_api_versions_request_init(&body.ApiVersions);
    body.ApiVersions.ClientSoftwareName = proto_string_of("test");
    body.ApiVersions.ClientSoftwareVersion = proto_string_of("1.0");
    REQUIRE(world_request(&world, 1, KAFKA_API_API_VERSIONS, 3, &body));
    union kafka_response response;
    REQUIRE(response_get(0, KAFKA_API_API_VERSIONS, 0, &response) ||
            response_get(0, KAFKA_API_API_VERSIONS, 3, &response));
    i32 implemented = 0;
    for (i16 key = 0; key < KAFKA_API_KEY_COUNT; key++) {
        implemented += proto_api_table[key].implemented;
    }
    CHECK(response.ApiVersions.ApiKeys.count == implemented);
    CHECK(implemented == 28); /* 16, FindCoordinator, ten group APIs, InitProducerId. */
    world_deinit(&world);
}

/* Connects the broker's link to the controller (node 1, this one) and takes the
 * registration it sends; returns the captured frame index of the registration. */
static u32 world_link(struct world *world)
{
    broker_set_controller(world->broker, 1);
    broker_link_on_conn(world->broker, IO_CONN_CONNECTED);
    ASSERT(captured_count > 0 && captured[captured_count - 1].conn == LINK_CONN);
    return captured_count - 1;
}

/* The request frame captured at index (size prefix removed): its header and body reader. */
static void captured_request(u32 index, struct proto_request_header *header,
                             struct proto_reader *reader)
{
    const u8 *bytes = capture_bytes + captured[index].position;
    proto_reader_init(reader, bytes + 4, captured[index].size - 4);
    ASSERT(proto_request_header_decode(reader, header) == PROTO_OK);
}

TEST(metadata_auto_creates_through_the_controller_and_reports_leader_once_open)
{
    struct world world;
    world_init(&world);
    u32 registration = world_link(&world);
    struct proto_request_header header;
    struct proto_reader reader;
    captured_request(registration, &header, &reader);
    CHECK(header.RequestApiKey == KAFKA_API_BROKER_REGISTRATION);
    union kafka_request body;
    struct kafka_metadata_request_topic topic;
    metadata_request(&body, &topic, "alpha");
    u32 before = captured_count;
    REQUIRE(world_request(&world, 1, KAFKA_API_METADATA, 12, &body));
    /* The broker asks the controller to create it (a CreateTopics with the defaults)... */
    REQUIRE(captured_count == before + 2);
    CHECK(captured[before].conn == LINK_CONN);
    captured_request(before, &header, &reader);
    CHECK(header.RequestApiKey == KAFKA_API_CREATE_TOPICS);
    union kafka_request create;
    static u8 arena_memory[4096];
    struct proto_arena arena;
    proto_arena_init(&arena, arena_memory, sizeof(arena_memory));
    REQUIRE(kafka_create_topics_request_decode(&reader, header.RequestApiVersion,
                                               &create.CreateTopics, &arena) == PROTO_OK);
    REQUIRE(create.CreateTopics.Topics.count == 1);
    CHECK(proto_string_equal_cstr(create.CreateTopics.Topics.items[0].Name, "alpha"));
    CHECK(create.CreateTopics.Topics.items[0].NumPartitions == -1);
    /* ... and answers the client that the leader is not available yet, as Kafka does. */
    union kafka_response response;
    REQUIRE(response_get(before + 1, KAFKA_API_METADATA, 12, &response));
    REQUIRE(response.Metadata.Topics.count == 1);
    CHECK(response.Metadata.Topics.items[0].ErrorCode == KAFKA_ERROR_LEADER_NOT_AVAILABLE);
    CHECK(response.Metadata.Brokers.count == 1 && response.Metadata.Brokers.items[0].NodeId == 1);
    CHECK(response.Metadata.ControllerId == 1);
    /* The controller's records arrive: leader 1 once the log has opened. */
    world_topic(&world, "alpha", 1);
    before = captured_count;
    REQUIRE(world_request(&world, 1, KAFKA_API_METADATA, 1, &body)); /* An old version too. */
    REQUIRE(response_get(before, KAFKA_API_METADATA, 1, &response));
    REQUIRE(response.Metadata.Topics.count == 1);
    const struct kafka_metadata_response_topic *t = &response.Metadata.Topics.items[0];
    CHECK(t->ErrorCode == 0);
    REQUIRE(t->Partitions.count == 1);
    CHECK(t->Partitions.items[0].ErrorCode == 0);
    CHECK(t->Partitions.items[0].LeaderId == 1);
    CHECK(t->Partitions.items[0].IsrNodes.count == 1);
    world.config.auto_create_topics_enable = false;
    broker_destroy(world.broker);
    world_start(&world);
    world_run(&world);
    metadata_request(&body, &topic, "beta");
    before = captured_count;
    REQUIRE(world_request(&world, 1, KAFKA_API_METADATA, 12, &body));
    REQUIRE(response_get(before, KAFKA_API_METADATA, 12, &response));
    CHECK(response.Metadata.Topics.items[0].ErrorCode ==
          KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    world_deinit(&world);
}

/* A partition led by another broker (or by none) is not served here. */
static void world_self_current(struct world *world);

TEST(metadata_names_other_leaders_and_this_broker_refuses_their_partitions)
{
    struct world world;
    world_init(&world);
    world_self_current(&world); /* Else it would not lead a partition with other replicas. */
    struct metadata_record other = {.type = METADATA_REGISTER_BROKER};
    other.as.register_broker.broker_id = 2;
    snprintf(other.as.register_broker.host, METADATA_HOST_MAX, "10.0.0.2");
    snprintf(other.as.register_broker.rack, METADATA_RACK_MAX, "b");
    other.as.register_broker.port = 9092;
    world_apply(&world, &other);
    struct metadata_record unfence = {.type = METADATA_UNFENCE_BROKER};
    unfence.as.unfence_broker.broker_id = 2;
    unfence.as.unfence_broker.broker_epoch = world.offset;
    world_apply(&world, &unfence);
    struct metadata_record topic = {.type = METADATA_TOPIC};
    snprintf(topic.as.topic.name, sizeof(topic.as.topic.name), "shared");
    topic.as.topic.topic_id = topic_id_of("shared", 0);
    world_apply(&world, &topic);
    for (i32 p = 0; p < 2; p++) {
        struct metadata_record record = {.type = METADATA_PARTITION};
        struct metadata_partition_record *part = &record.as.partition;
        part->topic_id = topic.as.topic.topic_id;
        part->partition_id = p;
        part->replicas.ids[0] = p == 0 ? 1 : 2;
        part->replicas.ids[1] = p == 0 ? 2 : 1;
        part->replicas.count = 2;
        part->isr = part->replicas;
        part->leader = part->replicas.ids[0];
        part->leader_epoch = 3;
        world_apply(&world, &record);
    }
    broker_on_metadata(world.broker);
    world_run(&world);
    union kafka_request body;
    struct kafka_metadata_request_topic request_topic;
    metadata_request(&body, &request_topic, "shared");
    u32 before = captured_count;
    REQUIRE(world_request(&world, 1, KAFKA_API_METADATA, 12, &body));
    union kafka_response response;
    REQUIRE(response_get(before, KAFKA_API_METADATA, 12, &response));
    CHECK(response.Metadata.Brokers.count == 2);
    REQUIRE(response.Metadata.Topics.count == 1);
    const struct kafka_metadata_response_topic *t = &response.Metadata.Topics.items[0];
    REQUIRE(t->Partitions.count == 2);
    CHECK(t->Partitions.items[0].LeaderId == 1 && t->Partitions.items[1].LeaderId == 2);
    CHECK(t->Partitions.items[1].LeaderEpoch == 3 && t->Partitions.items[1].ErrorCode == 0);
    CHECK(t->Partitions.items[1].ReplicaNodes.count == 2);
    CHECK(list_offset(&world, "shared", 0, -1) == 0);
    CHECK(list_offset(&world, "shared", 1, -1) == -100 - KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER);
    /* Broker 2 is fenced: it leaves the brokers list and shows as an offline replica. */
    struct metadata_record fence = {.type = METADATA_FENCE_BROKER};
    fence.as.fence_broker.broker_id = 2;
    fence.as.fence_broker.broker_epoch = metadata_broker_find(&world.image, 2)->epoch;
    world_apply(&world, &fence);
    before = captured_count;
    REQUIRE(world_request(&world, 1, KAFKA_API_METADATA, 12, &body));
    REQUIRE(response_get(before, KAFKA_API_METADATA, 12, &response));
    CHECK(response.Metadata.Brokers.count == 1);
    t = &response.Metadata.Topics.items[0];
    CHECK(t->Partitions.items[0].OfflineReplicas.count == 1);
    world_deinit(&world);
}

/* Admin requests go to the active controller byte for byte (only the correlation id is the
 * link's), and its answer reaches the client with the client's correlation id; meanwhile the
 * client's connection is paused (answers stay in request order). */
TEST(admin_requests_are_forwarded_to_the_controller)
{
    struct world world;
    world_init(&world);
    world_link(&world);
    union kafka_request body;
    struct kafka_create_topics_request_creatable_topic t;
    kafka_create_topics_request_init(&body.CreateTopics);
    kafka_create_topics_request_creatable_topic_init(&t);
    t.Name = proto_string_of("orders");
    t.NumPartitions = 3;
    t.ReplicationFactor = 1;
    body.CreateTopics.Topics.items = &t;
    body.CreateTopics.Topics.count = 1;
    u32 before = captured_count;
    i32 client_correlation = correlation_next;
    REQUIRE(world_request(&world, 4, KAFKA_API_CREATE_TOPICS, 7, &body));
    REQUIRE(captured_count == before + 1);
    CHECK(captured[before].conn == LINK_CONN);
    CHECK(fake_held[4] != NULL); /* No more reading from the client until it is answered. */
    struct proto_request_header header;
    struct proto_reader reader;
    captured_request(before, &header, &reader);
    CHECK(header.RequestApiKey == KAFKA_API_CREATE_TOPICS && header.RequestApiVersion == 7);
    CHECK(header.CorrelationId != client_correlation);
    CHECK(proto_string_equal_cstr(header.ClientId, "test"));
    /* The controller's answer, with the link's correlation id. */
    union kafka_response response;
    struct kafka_create_topics_response_creatable_topic_result result;
    kafka_create_topics_response_init(&response.CreateTopics);
    kafka_create_topics_response_creatable_topic_result_init(&result);
    result.Name = proto_string_of("orders");
    result.ErrorCode = KAFKA_ERROR_TOPIC_ALREADY_EXISTS;
    response.CreateTopics.Topics.items = &result;
    response.CreateTopics.Topics.count = 1;
    static u8 answer[4096];
    struct proto_writer writer;
    proto_writer_init(&writer, answer, sizeof(answer));
    REQUIRE(proto_response_frame_encode(&writer, KAFKA_API_CREATE_TOPICS, 7,
                                        header.CorrelationId, &response) == PROTO_OK);
    REQUIRE(broker_link_on_frame(world.broker, answer + 4, writer.position - 4));
    REQUIRE(captured_count == before + 2);
    CHECK(captured[before + 1].conn == 4);
    CHECK(fake_held[4] == NULL);
    CHECK(load_u32_be(capture_bytes + captured[before + 1].position + 4) ==
          (u32)client_correlation);
    union kafka_response relayed;
    REQUIRE(response_get(before + 1, KAFKA_API_CREATE_TOPICS, 7, &relayed));
    CHECK(relayed.CreateTopics.Topics.items[0].ErrorCode == KAFKA_ERROR_TOPIC_ALREADY_EXISTS);
    /* Without a controller, the request waits; after the deadline the client's connection
     * closes (its client retries, as after any broken connection). */
    broker_set_controller(world.broker, -1);
    before = captured_count;
    REQUIRE(world_request(&world, 5, KAFKA_API_CREATE_TOPICS, 7, &body));
    CHECK(captured_count == before);
    world.fake->now_ns += 31ull * 1000u * 1000u * 1000u;
    for (u32 timer = 0; timer < BROKER_TIMERS; timer++) {
        if (timer_deadline[timer] == 0 || timer_deadline[timer] > world.fake->now_ns) continue;
        timer_deadline[timer] = 0;
        broker_on_timer(world.broker, timer);
    }
    CHECK(conn_closed[5]);
    CHECK(captured_count == before);
    world_deinit(&world);
}

TEST(produce_assigns_offsets_and_fetch_returns_them)
{
    struct world world;
    world_init(&world);
    REQUIRE(create_topic(&world, "events", 2) == 0);
    u32 before = captured_count;
    u32 size = build_batch(3, 1700000000000);
    REQUIRE(produce(&world, 1, "events", 1, -1, size));
    CHECK(fake_held[1] != NULL); /* Answers in order: no more reading until this one is done. */
    world_run(&world);
    CHECK(fake_held[1] == NULL);
    size = build_batch(2, 1700000001000);
    REQUIRE(produce(&world, 1, "events", 1, 1, size));
    world_run(&world);
    union kafka_response response;
    REQUIRE(captured_count == before + 2);
    REQUIRE(response_get(before, KAFKA_API_PRODUCE, 9, &response));
    CHECK(response.Produce.Responses.items[0].PartitionResponses.items[0].ErrorCode == 0);
    CHECK(response.Produce.Responses.items[0].PartitionResponses.items[0].BaseOffset == 0);
    REQUIRE(response_get(before + 1, KAFKA_API_PRODUCE, 9, &response));
    CHECK(response.Produce.Responses.items[0].PartitionResponses.items[0].BaseOffset == 3);
    CHECK(list_offset(&world, "events", 1, -2) == 0);
    CHECK(list_offset(&world, "events", 1, -1) == 5);
    CHECK(list_offset(&world, "events", 1, 1700000001000) == 3);
    CHECK(list_offset(&world, "events", 0, -1) == 0);

    before = captured_count;
    REQUIRE(fetch(&world, 2, "events", 1, 0, 0));
    world_run(&world);
    REQUIRE(response_get(before, KAFKA_API_FETCH, 12, &response));
    const struct kafka_fetch_response_partition_data *data =
        &response.Fetch.Responses.items[0].Partitions.items[0];
    CHECK(data->ErrorCode == 0);
    CHECK(data->HighWatermark == 5 && data->LastStableOffset == 5);
    CHECK(data->AbortedTransactions.count == 0);
    REQUIRE(data->Records.size > 0);
    CHECK(files_sent_bytes >= (u64)data->Records.size); /* Zero copy: spliced from the file. */
    struct record_batch_header header;
    REQUIRE(batch_validate(data->Records.data, (u64)data->Records.size, &header) == BATCH_OK);
    CHECK(header.BaseOffset == 0 && header.RecordCount == 3);
    u64 first = 0;
    REQUIRE(batch_size_peek(data->Records.data, (u64)data->Records.size, &first) == BATCH_OK);
    REQUIRE(batch_validate(data->Records.data + first, (u64)data->Records.size - first,
                           &header) == BATCH_OK);
    CHECK(header.BaseOffset == 3 && header.RecordCount == 2);

    before = captured_count;
    REQUIRE(fetch(&world, 2, "events", 1, 9, 0));
    world_run(&world);
    REQUIRE(response_get(before, KAFKA_API_FETCH, 12, &response));
    CHECK(response.Fetch.Responses.items[0].Partitions.items[0].ErrorCode ==
          KAFKA_ERROR_OFFSET_OUT_OF_RANGE);
    world_deinit(&world);
}

TEST(produce_errors_and_acks_zero)
{
    struct world world;
    world_init(&world);
    REQUIRE(create_topic(&world, "t", 1) == 0);
    union kafka_response response;
    u32 size = build_batch(1, 1000);
    u32 before = captured_count;
    REQUIRE(produce(&world, 1, "missing", 0, 1, size));
    REQUIRE(response_get(before, KAFKA_API_PRODUCE, 9, &response));
    CHECK(response.Produce.Responses.items[0].PartitionResponses.items[0].ErrorCode ==
          KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    REQUIRE(produce(&world, 1, "t", 0, 2, size));
    REQUIRE(response_get(before + 1, KAFKA_API_PRODUCE, 9, &response));
    CHECK(response.Produce.Responses.items[0].PartitionResponses.items[0].ErrorCode ==
          KAFKA_ERROR_INVALID_REQUIRED_ACKS);
    batch_buffer[size - 1] ^= 0x55; /* Breaks the CRC. */
    REQUIRE(produce(&world, 1, "t", 0, 1, size));
    world_run(&world);
    REQUIRE(response_get(before + 2, KAFKA_API_PRODUCE, 9, &response));
    CHECK(response.Produce.Responses.items[0].PartitionResponses.items[0].ErrorCode ==
          KAFKA_ERROR_CORRUPT_MESSAGE);
    size = build_batch(4, 1000);
    REQUIRE(produce(&world, 1, "t", 0, 0, size));
    world_run(&world);
    CHECK(captured_count == before + 3); /* acks=0: no answer... */
    CHECK(list_offset(&world, "t", 0, -1) == 4); /* ...but appended. */
    world_deinit(&world);
}

/* A request naming more partitions than a slot holds is refused whole, before any append. */
TEST(produce_with_too_many_partitions_is_refused)
{
    struct world world;
    world_init(&world);
    REQUIRE(create_topic(&world, "t", 1) == 0);
    u32 size = build_batch(1, 1000);
    u32 before = captured_count;
    static struct kafka_produce_request_partition_produce_data many[300];
    for (u32 i = 0; i < ARRAY_LEN(many); i++) {
        kafka_produce_request_partition_produce_data_init(&many[i]);
        many[i].Records = (struct proto_bytes){batch_buffer, (i32)size};
    }
    union kafka_request body;
    struct kafka_produce_request_topic_produce_data t;
    kafka_produce_request_init(&body.Produce);
    kafka_produce_request_topic_produce_data_init(&t);
    t.Name = proto_string_of("t");
    t.PartitionData.items = many;
    t.PartitionData.count = (i32)ARRAY_LEN(many); /* Above BROKER_PARTS_MAX: refused whole. */
    body.Produce.Acks = 1;
    body.Produce.TopicData.items = &t;
    body.Produce.TopicData.count = 1;
    CHECK(!world_request(&world, 1, KAFKA_API_PRODUCE, 9, &body));
    world_run(&world);
    CHECK(captured_count == before);
    CHECK(list_offset(&world, "t", 0, -1) == 0); /* Nothing appended. */
    world_deinit(&world);
}

TEST(fetch_long_poll_woken_by_produce_and_ended_by_timer)
{
    struct world world;
    world_init(&world);
    REQUIRE(create_topic(&world, "poll", 1) == 0);
    u32 before = captured_count;
    REQUIRE(fetch(&world, 2, "poll", 0, 0, 500));
    world_run(&world);
    CHECK(captured_count == before); /* Parked: nothing to read yet. */
    u32 timer = 0;
    while (timer < BROKER_TIMERS && timer_deadline[timer] == 0) timer++;
    REQUIRE(timer < BROKER_TIMERS);
    CHECK(timer_deadline[timer] == world.fake->now_ns + 500 * NS_PER_MS);
    u32 size = build_batch(2, 1000);
    REQUIRE(produce(&world, 1, "poll", 0, -1, size));
    world_run(&world);
    REQUIRE(captured_count == before + 2); /* The produce and the woken fetch. */
    union kafka_response response;
    bool found = false;
    for (u32 i = before; i < captured_count; i++) {
        if (captured[i].conn != 2) continue;
        REQUIRE(response_get(i, KAFKA_API_FETCH, 12, &response));
        CHECK(response.Fetch.Responses.items[0].Partitions.items[0].Records.size == (i32)size);
        found = true;
    }
    CHECK(found);
    CHECK(timer_deadline[timer] == 0);

    before = captured_count;
    REQUIRE(fetch(&world, 2, "poll", 0, 2, 500));
    world_run(&world);
    CHECK(captured_count == before);
    world.fake->now_ns += 500 * NS_PER_MS;
    broker_on_timer(world.broker, timer);
    REQUIRE(captured_count == before + 1);
    REQUIRE(response_get(before, KAFKA_API_FETCH, 12, &response));
    CHECK(response.Fetch.Responses.items[0].Partitions.items[0].ErrorCode == 0);
    CHECK(response.Fetch.Responses.items[0].Partitions.items[0].Records.size == 0);
    CHECK(response.Fetch.Responses.items[0].Partitions.items[0].HighWatermark == 2);

    REQUIRE(fetch(&world, 5, "poll", 0, 2, 500)); /* Closed while parked: no answer. */
    broker_conn_closed(world.broker, 5);
    CHECK(captured_count == before + 1);
    world_deinit(&world);
}

TEST(topics_and_records_survive_a_restart)
{
    struct world world;
    world_init(&world);
    REQUIRE(create_topic(&world, "durable", 2) == 0);
    u32 size = build_batch(3, 1000);
    REQUIRE(produce(&world, 1, "durable", 1, -1, size));
    world_run(&world);
    broker_destroy(world.broker); /* Like a crash: the next open recovers the tail. */
    world_start(&world);
    world_run(&world);
    CHECK(list_offset(&world, "durable", 1, -1) == 3);
    broker_stop(world.broker); /* Graceful: the logs close cleanly. */
    world_run(&world);
    struct fake_file *clean = fake_io_file(world.fake, "durable-1/clean-shutdown");
    CHECK(clean != NULL && clean->linked);
    CHECK(list_offset(&world, "durable", 1, -1) ==
          -100 - KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER); /* Stopping: not served. */
    broker_destroy(world.broker);
    world_start(&world);
    world_run(&world);
    CHECK(list_offset(&world, "durable", 1, -1) == 3);
    CHECK(list_offset(&world, "durable", 0, -1) == 0);
    world_deinit(&world);
}

/* ===== Admin APIs ===== */

static bool file_linked(struct world *world, const char *path)
{
    struct fake_file *file = fake_io_file(world->fake, path);
    return file != NULL && file->linked;
}

/* Runs the link timer's reconciliation retries (busy logs) until settled. */
static void world_settle(struct world *world)
{
    for (u32 round = 0; round < 100 && timer_deadline[LINK_TIMER] != 0; round++) {
        world->fake->now_ns = MAX(world->fake->now_ns, timer_deadline[LINK_TIMER]);
        timer_deadline[LINK_TIMER] = 0;
        broker_link_on_timer(world->broker);
        world_run(world);
    }
}

TEST(topic_removed_from_the_metadata_loses_its_logs_and_files)
{
    struct world world;
    world_init(&world);
    world.config.auto_create_topics_enable = false;
    REQUIRE(create_topic(&world, "gone", 2) == 0);
    REQUIRE(create_topic(&world, "kept", 1) == 0);
    u32 size = build_batch(3, 1000);
    REQUIRE(produce(&world, 1, "gone", 0, -1, size));
    world_run(&world);
    CHECK(file_linked(&world, "gone-0/00000000000000000000.log"));
    /* A parked fetch names the topic: its long poll ends (it answers), then the topic goes. */
    u32 before = captured_count;
    REQUIRE(fetch(&world, 2, "gone", 1, 0, 500));
    CHECK(captured_count == before);
    world_remove(&world, "gone");
    world_settle(&world);
    union kafka_response response;
    REQUIRE(response_get(before, KAFKA_API_FETCH, 12, &response));
    CHECK(response.Fetch.Responses.items[0].Partitions.items[0].ErrorCode == 0);
    CHECK(!file_linked(&world, "gone-0/00000000000000000000.log"));
    CHECK(!file_linked(&world, "gone-1/00000000000000000000.log"));
    CHECK(file_linked(&world, "kept-0/00000000000000000000.log"));
    CHECK(list_offset(&world, "gone", 0, -1) == -100 - KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    broker_destroy(world.broker);
    world_start(&world);
    world_run(&world);
    CHECK(list_offset(&world, "gone", 0, -1) == -100 - KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    CHECK(list_offset(&world, "kept", 0, -1) == 0);
    CHECK(create_topic(&world, "gone", 1) == 0); /* Re-created with a new id: empty. */
    CHECK(list_offset(&world, "gone", 0, -1) == 0);
    /* A topic whose logs are still opening: the deletion waits for them, then goes. */
    struct metadata_record young = {.type = METADATA_TOPIC};
    snprintf(young.as.topic.name, sizeof(young.as.topic.name), "young");
    young.as.topic.topic_id = topic_id_of("young", topic_generation++);
    world_apply(&world, &young);
    world_partition(&world, young.as.topic.topic_id, 0);
    broker_on_metadata(world.broker); /* Opening: no world_run yet. */
    world_remove(&world, "young");
    world_settle(&world);
    CHECK(list_offset(&world, "young", 0, -1) ==
          -100 - KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    CHECK(!file_linked(&world, "young-0/00000000000000000000.log"));
    world_deinit(&world);
}

TEST(partitions_added_in_the_metadata_open_here)
{
    struct world world;
    world_init(&world);
    world.config.auto_create_topics_enable = false;
    REQUIRE(create_topic(&world, "grow", 1) == 0);
    u32 size = build_batch(3, 1000);
    REQUIRE(produce(&world, 1, "grow", 0, -1, size));
    world_run(&world);
    world_grow(&world, "grow", 3);
    CHECK(list_offset(&world, "grow", 0, -1) == 3);
    CHECK(list_offset(&world, "grow", 2, -1) == 0);
    REQUIRE(produce(&world, 1, "grow", 2, -1, size));
    world_run(&world);
    CHECK(list_offset(&world, "grow", 2, -1) == 3);
    broker_destroy(world.broker);
    world_start(&world);
    world_run(&world);
    CHECK(list_offset(&world, "grow", 0, -1) == 3);
    CHECK(list_offset(&world, "grow", 2, -1) == 3);
    CHECK(list_offset(&world, "grow", 3, -1) == -100 - KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    world_deinit(&world);
}

TEST(describe_cluster_names_the_active_controller)
{
    struct world world;
    world_init(&world);
    broker_set_controller(world.broker, 1);
    for (i16 version = 0; version <= 1; version++) {
        union kafka_request body;
        kafka_describe_cluster_request_init(&body.DescribeCluster);
        u32 before = captured_count;
        REQUIRE(world_request(&world, 6, KAFKA_API_DESCRIBE_CLUSTER, version, &body));
        union kafka_response response;
        REQUIRE(response_get(before, KAFKA_API_DESCRIBE_CLUSTER, version, &response));
        const struct kafka_describe_cluster_response *out = &response.DescribeCluster;
        CHECK(out->ErrorCode == 0);
        CHECK(out->ControllerId == 1);
        CHECK(proto_string_equal_cstr(out->ClusterId, "cairn-cluster-0001"));
        REQUIRE(out->Brokers.count == 1);
        CHECK(out->Brokers.items[0].BrokerId == 1);
        CHECK(proto_string_equal_cstr(out->Brokers.items[0].Host, "127.0.0.1"));
    }
    union kafka_request body;
    kafka_describe_cluster_request_init(&body.DescribeCluster);
    body.DescribeCluster.EndpointType = 2; /* Controllers. */
    u32 before = captured_count;
    REQUIRE(world_request(&world, 6, KAFKA_API_DESCRIBE_CLUSTER, 1, &body));
    union kafka_response response;
    REQUIRE(response_get(before, KAFKA_API_DESCRIBE_CLUSTER, 1, &response));
    CHECK(response.DescribeCluster.ErrorCode == KAFKA_ERROR_UNSUPPORTED_ENDPOINT_TYPE);
    CHECK(response.DescribeCluster.Brokers.count == 0);
    world_deinit(&world);
}

/* DescribeConfigs v4 of one resource (with synonyms); returns its result. */
static const struct kafka_describe_configs_response_result *
describe_configs(struct world *world, i8 type, const char *name, union kafka_response *response)
{
    union kafka_request body;
    struct kafka_describe_configs_request_resource r;
    kafka_describe_configs_request_init(&body.DescribeConfigs);
    kafka_describe_configs_request_resource_init(&r);
    r.ResourceType = type;
    r.ResourceName = proto_string_of(name);
    r.ConfigurationKeys.count = -1;
    body.DescribeConfigs.Resources.items = &r;
    body.DescribeConfigs.Resources.count = 1;
    body.DescribeConfigs.IncludeSynonyms = true;
    u32 before = captured_count;
    ASSERT(world_request(world, 5, KAFKA_API_DESCRIBE_CONFIGS, 4, &body));
    ASSERT(response_get(before, KAFKA_API_DESCRIBE_CONFIGS, 4, response));
    ASSERT(response->DescribeConfigs.Results.count == 1);
    return &response->DescribeConfigs.Results.items[0];
}

static const struct kafka_describe_configs_response_resource_result *
config_entry(const struct kafka_describe_configs_response_result *result, const char *name)
{
    for (i32 i = 0; i < result->Configs.count; i++) {
        if (proto_string_equal_cstr(result->Configs.items[i].Name, name)) {
            return &result->Configs.items[i];
        }
    }
    return NULL;
}

static bool config_is(const struct kafka_describe_configs_response_result *result,
                      const char *name, const char *value, i8 source)
{
    const struct kafka_describe_configs_response_resource_result *entry =
        config_entry(result, name);
    return entry != NULL && proto_string_equal_cstr(entry->Value, value) &&
           entry->ConfigSource == source;
}

TEST(describe_configs_and_overrides_from_the_metadata)
{
    struct world world;
    world_init(&world); /* log.segment.bytes = 4096: a static broker config. */
    REQUIRE(create_topic(&world, "conf", 1) == 0);
    union kafka_response response;
    const struct kafka_describe_configs_response_result *result =
        describe_configs(&world, 2, "conf", &response);
    CHECK(result->ErrorCode == 0);
    CHECK(config_is(result, "retention.ms", "604800000", 5));
    CHECK(config_is(result, "retention.bytes", "-1", 5));
    CHECK(config_is(result, "cleanup.policy", "delete", 5));
    CHECK(config_is(result, "segment.bytes", "4096", 4));
    const struct kafka_describe_configs_response_resource_result *entry =
        config_entry(result, "segment.bytes");
    REQUIRE(entry != NULL && entry->Synonyms.count == 1);
    CHECK(proto_string_equal_cstr(entry->Synonyms.items[0].Name, "log.segment.bytes"));
    result = describe_configs(&world, 2, "absent", &response);
    CHECK(result->ErrorCode == KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    result = describe_configs(&world, 4, "1", &response);
    CHECK(result->ErrorCode == 0);
    CHECK(config_is(result, "log.segment.bytes", "4096", 4));
    CHECK(config_is(result, "num.partitions", "1", 5));
    CHECK(config_entry(result, "log.segment.bytes")->ReadOnly);
    CHECK(describe_configs(&world, 4, "2", &response)->ErrorCode == KAFKA_ERROR_INVALID_REQUEST);
    /* ConfigRecords committed by the controller: overrides, also in the open logs. */
    world_config(&world, "conf", "retention.ms", "3600000");
    world_config(&world, "conf", "cleanup.policy", "compact,delete");
    world_config(&world, "conf", "segment.bytes", "8192");
    result = describe_configs(&world, 2, "conf", &response);
    CHECK(config_is(result, "retention.ms", "3600000", 1));
    CHECK(config_is(result, "cleanup.policy", "compact,delete", 1));
    CHECK(config_is(result, "segment.bytes", "8192", 1));
    entry = config_entry(result, "retention.ms");
    REQUIRE(entry != NULL && entry->Synonyms.count == 2);
    CHECK(entry->Synonyms.items[0].Source == 1 && entry->Synonyms.items[1].Source == 5);
    /* Overrides survive a restart (the image is rebuilt from the log); a deleted one returns
     * to the broker's value. */
    broker_destroy(world.broker);
    world_start(&world);
    world_run(&world);
    result = describe_configs(&world, 2, "conf", &response);
    CHECK(config_is(result, "retention.ms", "3600000", 1));
    CHECK(config_is(result, "cleanup.policy", "compact,delete", 1));
    world_config(&world, "conf", "retention.ms", NULL);
    result = describe_configs(&world, 2, "conf", &response);
    CHECK(config_is(result, "retention.ms", "604800000", 5));
    CHECK(config_is(result, "segment.bytes", "8192", 1));
    world_deinit(&world);
}

/* DeleteRecords v2 of one partition up to offset: the error, and the low watermark. */
static i16 delete_records(struct world *world, const char *topic, i32 partition, i64 offset,
                          i64 *low_watermark)
{
    union kafka_request body;
    struct kafka_delete_records_request_topic t;
    struct kafka_delete_records_request_partition p;
    kafka_delete_records_request_init(&body.DeleteRecords);
    kafka_delete_records_request_topic_init(&t);
    kafka_delete_records_request_partition_init(&p);
    p.PartitionIndex = partition;
    p.Offset = offset;
    t.Name = proto_string_of(topic);
    t.Partitions.items = &p;
    t.Partitions.count = 1;
    body.DeleteRecords.Topics.items = &t;
    body.DeleteRecords.Topics.count = 1;
    body.DeleteRecords.TimeoutMs = 1000;
    u32 before = captured_count;
    ASSERT(world_request(world, 6, KAFKA_API_DELETE_RECORDS, 2, &body));
    world_run(world);
    union kafka_response response;
    ASSERT(captured_count == before + 1);
    ASSERT(response_get(before, KAFKA_API_DELETE_RECORDS, 2, &response));
    ASSERT(response.DeleteRecords.Topics.count == 1);
    const struct kafka_delete_records_response_partition_result *out =
        &response.DeleteRecords.Topics.items[0].Partitions.items[0];
    *low_watermark = out->LowWatermark;
    return out->ErrorCode;
}

/* OffsetForLeaderEpoch v4 of one partition: the error, the epoch found and its end offset. */
static i16 epoch_end(struct world *world, const char *topic, i32 partition, i32 current,
                     i32 epoch, i32 *epoch_found, i64 *end_offset)
{
    union kafka_request body;
    struct kafka_offset_for_leader_epoch_request_topic t;
    struct kafka_offset_for_leader_epoch_request_partition p;
    kafka_offset_for_leader_epoch_request_init(&body.OffsetForLeaderEpoch);
    kafka_offset_for_leader_epoch_request_topic_init(&t);
    kafka_offset_for_leader_epoch_request_partition_init(&p);
    p.Partition = partition;
    p.CurrentLeaderEpoch = current;
    p.LeaderEpoch = epoch;
    t.Topic = proto_string_of(topic);
    t.Partitions.items = &p;
    t.Partitions.count = 1;
    body.OffsetForLeaderEpoch.Topics.items = &t;
    body.OffsetForLeaderEpoch.Topics.count = 1;
    u32 before = captured_count;
    ASSERT(world_request(world, 6, KAFKA_API_OFFSET_FOR_LEADER_EPOCH, 4, &body));
    union kafka_response response;
    ASSERT(response_get(before, KAFKA_API_OFFSET_FOR_LEADER_EPOCH, 4, &response));
    const struct kafka_offset_for_leader_epoch_response_epoch_end_offset *out =
        &response.OffsetForLeaderEpoch.Topics.items[0].Partitions.items[0];
    *epoch_found = out->LeaderEpoch;
    *end_offset = out->EndOffset;
    return out->ErrorCode;
}

TEST(delete_records_and_offset_for_leader_epoch)
{
    struct world world;
    world_init(&world);
    REQUIRE(create_topic(&world, "trim", 2) == 0);
    for (u32 i = 0; i < 3; i++) {
        u32 size = build_batch(3, 1000 + i);
        REQUIRE(produce(&world, 1, "trim", 0, -1, size));
        world_run(&world);
    }
    i64 low = 0;
    CHECK(delete_records(&world, "trim", 0, 4, &low) == 0 && low == 4);
    CHECK(list_offset(&world, "trim", 0, -2) == 4);
    CHECK(delete_records(&world, "trim", 0, 2, &low) == 0 && low == 4); /* Never backwards. */
    CHECK(delete_records(&world, "trim", 0, 10, &low) == KAFKA_ERROR_OFFSET_OUT_OF_RANGE);
    CHECK(delete_records(&world, "trim", 2, 1, &low) == KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    i32 found = 0;
    i64 end = 0;
    CHECK(epoch_end(&world, "trim", 0, 0, 0, &found, &end) == 0);
    CHECK(found == 0 && end == 9);
    CHECK(epoch_end(&world, "trim", 0, -1, 3, &found, &end) == 0);
    CHECK(found == 0 && end == 9); /* The largest epoch at or below 3. */
    CHECK(delete_records(&world, "trim", 0, -1, &low) == 0 && low == 9);
    CHECK(list_offset(&world, "trim", 0, -2) == 9);
    CHECK(list_offset(&world, "trim", 0, -1) == 9);
    broker_destroy(world.broker); /* The log start offset is durable. */
    world_start(&world);
    world_run(&world);
    CHECK(list_offset(&world, "trim", 0, -2) == 9);
    CHECK(epoch_end(&world, "trim", 0, 0, 0, &found, &end) == 0);
    CHECK(found == 0 && end == 9); /* All deleted: epoch 0 still ends at the log end. */
    CHECK(epoch_end(&world, "trim", 1, -1, 0, &found, &end) == 0);
    CHECK(found == 0 && end == 0); /* Nothing written: led at epoch 0 from offset 0. */
    CHECK(epoch_end(&world, "trim", 1, -1, -1, &found, &end) == 0);
    CHECK(found == -1 && end == -1);
    CHECK(epoch_end(&world, "trim", 0, 1, 0, &found, &end) == KAFKA_ERROR_UNKNOWN_LEADER_EPOCH);
    CHECK(epoch_end(&world, "none", 0, -1, 0, &found, &end) ==
          KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    world_deinit(&world);
}

TEST(malformed_and_random_frames_close_never_crash)
{
    struct world world;
    world_init(&world);
    static const u8 short_frame[] = {0x00};
    CHECK(!broker_on_frame(world.broker, 1, short_frame, sizeof(short_frame)));
    static const u8 old_produce[] = {0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff};
    CHECK(!broker_on_frame(world.broker, 1, old_produce, sizeof(old_produce)));
    u8 frame[256];
    u64 state = 12345;
    for (u32 round = 0; round < 20000; round++) {
        u32 size = 4 + (u32)(state % 200);
        for (u32 i = 0; i < size; i++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            frame[i] = (u8)(state >> 56);
        }
        i16 keys[] = {0, 1, 2, 3, 18, 19};
        store_u16_be(frame, (u16)keys[round % ARRAY_LEN(keys)]);
        store_u16_be(frame + 2, (u16)(state % 14));
        io_conn conn = 8 + round % 4;
        bool kept = broker_on_frame(world.broker, conn, frame, size);
        COVER(kept);
        world_run(&world);
        broker_conn_closed(world.broker, conn);
        capture_used = 0;
        captured_count = 0;
    }
    world_deinit(&world);
}

/* Encodes a valid Produce, Metadata or Fetch request (by round) into frame; returns its size. */
static u32 encode_valid_request(u32 round, u8 *frame, u32 capacity)
{
    u32 size = build_batch(1 + round % 3, 1000);
    struct proto_request_header header = {KAFKA_API_PRODUCE, 9, 1, PROTO_STRING_NULL, 0};
    union kafka_request body;
    struct kafka_produce_request_topic_produce_data t;
    struct kafka_produce_request_partition_produce_data p;
    struct kafka_metadata_request_topic topic;
    struct kafka_fetch_request_topic ft;
    struct kafka_fetch_request_partition fp;
    if (round % 3 == 0) {
        kafka_produce_request_init(&body.Produce);
        kafka_produce_request_topic_produce_data_init(&t);
        kafka_produce_request_partition_produce_data_init(&p);
        p.Index = (i32)(round % 2);
        p.Records = (struct proto_bytes){batch_buffer, (i32)size};
        t.Name = proto_string_of("flip");
        t.PartitionData.items = &p;
        t.PartitionData.count = 1;
        body.Produce.Acks = -1;
        body.Produce.TopicData.items = &t;
        body.Produce.TopicData.count = 1;
    } else if (round % 3 == 1) {
        header.RequestApiKey = KAFKA_API_METADATA;
        metadata_request(&body, &topic, "flip");
    } else {
        header.RequestApiKey = KAFKA_API_FETCH;
        header.RequestApiVersion = 12;
        kafka_fetch_request_init(&body.Fetch);
        kafka_fetch_request_topic_init(&ft);
        kafka_fetch_request_partition_init(&fp);
        fp.PartitionMaxBytes = 4096;
        ft.Topic = proto_string_of("flip");
        ft.Partitions.items = &fp;
        ft.Partitions.count = 1;
        body.Fetch.Topics.items = &ft;
        body.Fetch.Topics.count = 1;
        body.Fetch.MaxBytes = 4096;
    }
    struct proto_writer writer;
    proto_writer_init(&writer, frame, capacity);
    ASSERT(proto_request_frame_encode(&writer, &header, &body) == PROTO_OK);
    return writer.position;
}

/* Valid requests of the served apis with bytes flipped: whatever decodes is answered, the
 * rest closes the connection; nothing crashes. Also Metadata by topic id at v10. */
TEST(flipped_valid_requests_never_crash)
{
    struct world world;
    world_init(&world);
    REQUIRE(create_topic(&world, "flip", 2) == 0);
    union kafka_request body;
    struct kafka_metadata_request_topic topic;
    metadata_request(&body, &topic, "flip");
    topic.Name = PROTO_STRING_NULL; /* By id, v10+: not nullable in the v10/v11 answer. */
    REQUIRE(world_request(&world, 1, KAFKA_API_METADATA, 10, &body));
    union kafka_response response;
    REQUIRE(response_get(captured_count - 1, KAFKA_API_METADATA, 10, &response));
    CHECK(response.Metadata.Topics.items[0].ErrorCode == KAFKA_ERROR_UNKNOWN_TOPIC_ID);
    static u8 frame[16384];
    u64 state = 99;
    for (u32 round = 0; round < 6000; round++) {
        u32 size = encode_valid_request(round, frame, sizeof(frame));
        for (u32 flips = 0; flips < 1 + round % 3; flips++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            u32 at = 4 + (u32)((state >> 33) % (size - 4));
            frame[at] ^= (u8)(1u << ((state >> 20) % 8));
        }
        io_conn conn = 20 + round % 4;
        bool kept = broker_on_frame(world.broker, conn, frame + 4, size - 4);
        COVER(kept);
        world_run(&world);
        broker_conn_closed(world.broker, conn);
        capture_used = 0;
        captured_count = 0;
    }
    world_deinit(&world);
}

/* One valid admin request (by round), encoded into frame; returns its size. */
static u32 encode_admin_request(u32 round, u8 *frame, u32 capacity)
{
    static const i16 keys[] = {KAFKA_API_DESCRIBE_CONFIGS, KAFKA_API_INCREMENTAL_ALTER_CONFIGS,
                               KAFKA_API_CREATE_PARTITIONS, KAFKA_API_DELETE_RECORDS,
                               KAFKA_API_OFFSET_FOR_LEADER_EPOCH, KAFKA_API_DESCRIBE_CLUSTER,
                               KAFKA_API_DELETE_TOPICS};
    static const i16 versions[] = {4, 1, 3, 2, 4, 1, 5};
    u32 which = round % ARRAY_LEN(keys);
    struct proto_request_header header = {keys[which], versions[which], 1, PROTO_STRING_NULL, 0};
    union kafka_request body;
    memset(&body, 0, sizeof(body));
    struct proto_string name = proto_string_of(round % 2 ? "flip" : "other");
    struct kafka_describe_configs_request_resource dr = {2, name, {NULL, -1}};
    struct kafka_incremental_alter_configs_request_alterable_config ac = {
        proto_string_of("retention.ms"), 0, proto_string_of("1000")};
    struct kafka_incremental_alter_configs_request_alter_configs_resource ar = {2, name, {&ac, 1}};
    struct kafka_create_partitions_request_topic ct = {name, 3, {NULL, -1}};
    struct kafka_delete_records_request_partition rp = {0, 1};
    struct kafka_delete_records_request_topic rt = {name, {&rp, 1}};
    struct kafka_offset_for_leader_epoch_request_partition ep = {0, -1, 0};
    struct kafka_offset_for_leader_epoch_request_topic et = {name, {&ep, 1}};
    struct proto_string names[1] = {name};
    switch (which) {
    case 0: body.DescribeConfigs.Resources.items = &dr; body.DescribeConfigs.Resources.count = 1;
        break;
    case 1: body.IncrementalAlterConfigs.Resources.items = &ar;
        body.IncrementalAlterConfigs.Resources.count = 1;
        break;
    case 2: body.CreatePartitions.Topics.items = &ct; body.CreatePartitions.Topics.count = 1;
        break;
    case 3: body.DeleteRecords.Topics.items = &rt; body.DeleteRecords.Topics.count = 1; break;
    case 4: body.OffsetForLeaderEpoch.Topics.items = &et;
        body.OffsetForLeaderEpoch.Topics.count = 1;
        break;
    case 5: kafka_describe_cluster_request_init(&body.DescribeCluster); break;
    default: body.DeleteTopics.TopicNames.items = names; body.DeleteTopics.TopicNames.count = 1;
        break;
    }
    struct proto_writer writer;
    proto_writer_init(&writer, frame, capacity);
    ASSERT(proto_request_frame_encode(&writer, &header, &body) == PROTO_OK);
    return writer.position;
}

/* The admin requests with bytes flipped: answered or closed, never a crash. */
TEST(flipped_admin_requests_never_crash)
{
    struct world world;
    world_init(&world);
    REQUIRE(create_topic(&world, "flip", 2) == 0);
    static u8 frame[16384];
    u64 state = 7;
    for (u32 round = 0; round < 4000; round++) {
        u32 size = encode_admin_request(round, frame, sizeof(frame));
        for (u32 flips = 0; flips < round % 3; flips++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            u32 at = 4 + (u32)((state >> 33) % (size - 4));
            frame[at] ^= (u8)(1u << ((state >> 20) % 8));
        }
        io_conn conn = 20 + round % 4;
        bool kept = broker_on_frame(world.broker, conn, frame + 4, size - 4);
        COVER(kept);
        world_run(&world);
        for (u32 t = 0; t < BROKER_TIMERS; t++) {
            if (timer_deadline[t] == 0) continue;
            world.fake->now_ns = MAX(world.fake->now_ns, timer_deadline[t]);
            timer_deadline[t] = 0;
            broker_on_timer(world.broker, t);
        }
        world_run(&world);
        broker_conn_closed(world.broker, conn);
        capture_used = 0;
        captured_count = 0;
        if (round % 97 == 0 && create_topic(&world, "flip", 2) == 0) world_run(&world);
        capture_used = 0;
        captured_count = 0;
    }
    world_deinit(&world);
}

/* ===== Idle connections, metrics, log maintenance, durable high watermark ===== */

/* Restarts the broker with changed properties (the logs reopen from the fake disk). */
static void world_restart(struct world *world)
{
    broker_destroy(world->broker);
    memset(timer_deadline, 0, sizeof(timer_deadline));
    world_start(world);
    world_run(world);
}

/* Fires broker timer index (of BROKER_TIMERS) at its deadline, moving the clock there. */
static void world_fire(struct world *world, u32 index)
{
    ASSERT(timer_deadline[index] != 0);
    world->fake->now_ns = MAX(world->fake->now_ns, timer_deadline[index]);
    timer_deadline[index] = 0;
    broker_on_timer(world->broker, index);
    world_run(world);
}

/* Parked requests hold their slots, so there must be many more than a few clients park at
 * once: twelve long polls on twelve connections leave room for a Produce on another, and the
 * one slot timer wakes each poll at its own deadline, earliest first. */
TEST(many_parked_long_polls_leave_slots_for_others)
{
    struct world world;
    world_init(&world);
    REQUIRE(create_topic(&world, "quiet", 1) == 0);
    REQUIRE(create_topic(&world, "busy", 1) == 0);
    u32 before = captured_count;
    const u32 polls = 12;
    for (u32 i = 0; i < polls; i++) {
        REQUIRE(fetch(&world, 2 + i, "quiet", 0, 0, (i32)(100 + 10 * (polls - i))));
    }
    world_run(&world);
    CHECK(captured_count == before); /* All parked. */
    CHECK(timer_deadline[BROKER_TIMER_SLOTS] == world.fake->now_ns + 110 * NS_PER_MS);
    u64 start_ns = world.fake->now_ns;
    REQUIRE(produce(&world, 1, "busy", 0, 1, build_batch(1, 1000)));
    world_run(&world);
    REQUIRE(captured_count == before + 1);
    CHECK(captured[before].conn == 1);
    for (u32 k = 0; k < polls; k++) {
        /* Polls end in reverse order of their connections: the last asked for the least. */
        u64 deadline = timer_deadline[BROKER_TIMER_SLOTS];
        CHECK(deadline == start_ns + (110 + 10 * k) * NS_PER_MS);
        world_fire(&world, BROKER_TIMER_SLOTS);
        REQUIRE(captured_count == before + 2 + k);
        CHECK(captured[before + 1 + k].conn == 2 + polls - 1 - k);
    }
    CHECK(timer_deadline[BROKER_TIMER_SLOTS] == 0); /* Nothing parked: not armed. */
    world_deinit(&world);
}

static u32 observed_closes[8];
static u32 observed_close_count;

static void observe_close(void *owner, io_conn conn)
{
    ASSERT(owner == &observed_close_count);
    ASSERT(observed_close_count < ARRAY_LEN(observed_closes));
    observed_closes[observed_close_count++] = conn;
}

static bool metadata_request_on(struct world *world, io_conn conn)
{
    union kafka_request body;
    struct kafka_metadata_request_topic topic;
    metadata_request(&body, &topic, "none");
    body.Metadata.AllowAutoTopicCreation = false;
    return world_request(world, conn, KAFKA_API_METADATA, 12, &body);
}

TEST(idle_connections_close_after_connections_max_idle_ms)
{
    struct world world;
    world_init(&world);
    world.config.connections_max_idle_ms = 500;
    world.config.auto_create_topics_enable = false;
    world_restart(&world);
    REQUIRE(create_topic(&world, "idle", 1) == 0);
    observed_close_count = 0;
    broker_set_close_observer(world.broker, observe_close, &observed_close_count);
    u32 idle = BROKER_TIMER_IDLE;
    CHECK(timer_deadline[idle] == 0); /* No connection: nothing to watch. */
    u64 start = world.fake->now_ns;
    broker_conn_opened(world.broker, 5);  /* Accepted, never speaks. */
    broker_conn_opened(world.broker, 8);  /* Turns out to be the quorum's client. */
    broker_conn_foreign(world.broker, 8);
    REQUIRE(metadata_request_on(&world, 6));
    CHECK(timer_deadline[idle] == start + 500 * NS_PER_MS);
    world.fake->now_ns = start + 300 * NS_PER_MS;
    REQUIRE(metadata_request_on(&world, 6)); /* Conn 6 keeps talking. */
    REQUIRE(fetch(&world, 7, "idle", 0, 0, 5000)); /* Conn 7 waits in a long poll. */
    world_run(&world);
    world_fire(&world, idle);
    CHECK(conn_closed[5]);
    CHECK(!conn_closed[6] && !conn_closed[7] && !conn_closed[8]);
    REQUIRE(observed_close_count == 1);
    CHECK(observed_closes[0] == 5);
    /* Armed again for conn 6, idle since 300 ms; conn 7 is in service, not watched. */
    CHECK(timer_deadline[idle] == start + 800 * NS_PER_MS);
    world_fire(&world, idle);
    CHECK(conn_closed[6] && !conn_closed[7]);
    CHECK(timer_deadline[idle] == 0); /* Only conn 7 is left, and it is in service. */
    u32 slot_timer = 0;
    while (slot_timer < idle && timer_deadline[slot_timer] == 0) slot_timer++;
    REQUIRE(slot_timer < idle);
    u32 before = captured_count;
    world_fire(&world, slot_timer); /* The long poll ends: the answer is traffic. */
    CHECK(captured_count == before + 1);
    CHECK(timer_deadline[idle] == world.fake->now_ns + 500 * NS_PER_MS);
    world_fire(&world, idle);
    CHECK(conn_closed[7] && !conn_closed[8]);
    REQUIRE(observed_close_count == 3);
    CHECK(observed_closes[1] == 6 && observed_closes[2] == 7);
    static char text[256 * 1024];
    REQUIRE(broker_metrics_format(world.broker, text, sizeof(text)) > 0);
    CHECK(strstr(text, "\ncairn_broker_connections_idle_closed_total 3\n") != NULL);
    CHECK(strstr(text, "\ncairn_broker_connections 0\n") != NULL);
    world_deinit(&world);
}

/* The value of one sample line "<series> <value>" of the metrics text, or -1. */
static i64 metric_value(const char *text, const char *series)
{
    size_t length = strlen(series);
    for (const char *line = text; line != NULL && *line != '\0';) {
        if (strncmp(line, series, length) == 0 && line[length] == ' ') {
            return strtoll(line + length + 1, NULL, 10);
        }
        line = strchr(line, '\n');
        if (line != NULL) line++;
    }
    return -1;
}

TEST(metrics_count_requests_bytes_rejections_and_latency)
{
    struct world world;
    world_init(&world);
    REQUIRE(create_topic(&world, "measured", 1) == 0);
    static char text[256 * 1024];
    REQUIRE(broker_metrics_format(world.broker, text, sizeof(text)) > 0);
    CHECK(metric_value(text, "cairn_broker_requests_total{api=\"Produce\"}") == 0);
    CHECK(strstr(text, "# TYPE cairn_broker_request_latency_seconds histogram\n") != NULL);

    u32 before = captured_count;
    u32 size = build_batch(3, 1000);
    REQUIRE(produce(&world, 1, "measured", 0, -1, size));
    world_run(&world);
    REQUIRE(captured_count == before + 1);
    u32 produce_out = captured[before].size;
    REQUIRE(metadata_request_on(&world, 1));
    REQUIRE(metadata_request_on(&world, 1));
    u32 metadata_out = captured[before + 1].size + captured[before + 2].size;
    /* A long poll answered after 200 ms. */
    before = captured_count;
    REQUIRE(fetch(&world, 2, "measured", 0, 3, 200));
    world_run(&world);
    u32 slot_timer = 0;
    while (slot_timer < BROKER_TIMER_IDLE && timer_deadline[slot_timer] == 0) {
        slot_timer++;
    }
    REQUIRE(slot_timer < BROKER_TIMER_IDLE);
    world_fire(&world, slot_timer);
    REQUIRE(captured_count == before + 1);
    u32 fetch_out = captured[before].size;
    /* Rejected: a produce whose body does not decode, an api not served, a 1-byte frame. */
    u8 garbage[12] = {0, KAFKA_API_PRODUCE, 0, 9, 0, 0, 0, 1, 0xff, 0xff, 0x7f, 0x7f};
    CHECK(!broker_on_frame(world.broker, 3, garbage, sizeof(garbage)));
    u8 unserved[10] = {0, 26 /* EndTxn: not served */, 0, 1, 0, 0, 0, 1, 0, 0};
    CHECK(!broker_on_frame(world.broker, 4, unserved, sizeof(unserved)));
    CHECK(!broker_on_frame(world.broker, 5, garbage, 1));

    REQUIRE(broker_metrics_format(world.broker, text, sizeof(text)) > 0);
    CHECK(metric_value(text, "cairn_broker_requests_total{api=\"Produce\"}") == 2);
    CHECK(metric_value(text, "cairn_broker_requests_total{api=\"Metadata\"}") == 2);
    CHECK(metric_value(text, "cairn_broker_requests_total{api=\"Fetch\"}") == 1);
    CHECK(metric_value(text, "cairn_broker_requests_total{api=\"EndTxn\"}") == 1);
    CHECK(metric_value(text, "cairn_broker_requests_total{api=\"unknown\"}") == 1);
    CHECK(metric_value(text, "cairn_broker_request_bytes_total{api=\"unknown\"}") == 5);
    CHECK(metric_value(text, "cairn_broker_response_bytes_total{api=\"Produce\"}") ==
          produce_out);
    CHECK(metric_value(text, "cairn_broker_response_bytes_total{api=\"Metadata\"}") ==
          metadata_out);
    CHECK(metric_value(text, "cairn_broker_response_bytes_total{api=\"Fetch\"}") == fetch_out);
    CHECK(metric_value(text, "cairn_broker_requests_rejected_total"
                             "{api=\"Produce\",reason=\"malformed\"}") == 1);
    CHECK(metric_value(text, "cairn_broker_requests_rejected_total"
                             "{api=\"EndTxn\",reason=\"unsupported\"}") == 1);
    CHECK(metric_value(text, "cairn_broker_requests_rejected_total"
                             "{api=\"unknown\",reason=\"malformed\"}") == 1);
    /* The fetch waited 200 ms: between the 0.1 and 0.3 bounds; the rest took no time. */
    CHECK(metric_value(text, "cairn_broker_request_latency_seconds_bucket"
                             "{api=\"Fetch\",le=\"0.1\"}") == 0);
    CHECK(metric_value(text, "cairn_broker_request_latency_seconds_bucket"
                             "{api=\"Fetch\",le=\"0.3\"}") == 1);
    CHECK(metric_value(text, "cairn_broker_request_latency_seconds_bucket"
                             "{api=\"Fetch\",le=\"+Inf\"}") == 1);
    CHECK(metric_value(text, "cairn_broker_request_latency_seconds_count{api=\"Fetch\"}") == 1);
    CHECK(strstr(text, "cairn_broker_request_latency_seconds_sum{api=\"Fetch\"} 0.200000000\n") !=
          NULL);
    CHECK(strstr(text, "cairn_broker_request_latency_max_seconds{api=\"Fetch\"} 0.200000000\n") !=
          NULL);
    CHECK(metric_value(text, "cairn_broker_request_latency_seconds_bucket"
                             "{api=\"Metadata\",le=\"0.0001\"}") == 2);
    /* One produce was answered; the malformed one closed before it had a latency. */
    CHECK(metric_value(text, "cairn_broker_request_latency_seconds_count{api=\"Produce\"}") == 1);
    CHECK(broker_metrics_format(world.broker, text, 64) == 0); /* Too small: refused whole. */
    world_deinit(&world);
}

/* A topic whose configs are set before its logs open (compaction needs that). */
static void world_topic_configured(struct world *world, const char *name, const char *config,
                                   const char *value)
{
    struct metadata_record record = {.type = METADATA_TOPIC};
    snprintf(record.as.topic.name, sizeof(record.as.topic.name), "%s", name);
    record.as.topic.topic_id = topic_id_of(name, topic_generation++);
    world_apply(world, &record);
    struct metadata_record override = {.type = METADATA_CONFIG};
    override.as.config.resource_type = METADATA_RESOURCE_TOPIC;
    snprintf(override.as.config.resource_name, sizeof(override.as.config.resource_name), "%s",
             name);
    snprintf(override.as.config.name, sizeof(override.as.config.name), "%s", config);
    snprintf(override.as.config.value, sizeof(override.as.config.value), "%s", value);
    world_apply(world, &override);
    world_partition(world, record.as.topic.topic_id, 0);
    broker_on_metadata(world->broker);
    world_run(world);
}

TEST(retention_and_compaction_run_on_the_maintenance_timer)
{
    struct world world;
    world_init(&world);
    world.config.log_retention_check_interval_ms = 1000;
    world.config.auto_create_topics_enable = false;
    world_restart(&world);
    u32 maintenance = BROKER_TIMER_MAINTENANCE;
    CHECK(timer_deadline[maintenance] == world.fake->now_ns + 1000 * NS_PER_MS);
    world_topic_configured(&world, "short", "retention.bytes", "100");
    world_topic_configured(&world, "keyed", "cleanup.policy", "compact");
    REQUIRE(create_topic(&world, "kept", 1) == 0);
    /* Segments of 4096 bytes: 12 batches of 20 records fill several. */
    for (u32 i = 0; i < 12; i++) {
        u32 size = build_batch(20, 1700000000000 + i * 100);
        REQUIRE(produce(&world, 1, "short", 0, -1, size));
        world_run(&world);
        REQUIRE(produce(&world, 1, "keyed", 0, -1, size));
        world_run(&world);
        REQUIRE(produce(&world, 1, "kept", 0, -1, size));
        world_run(&world);
    }
    CHECK(list_offset(&world, "short", 0, -2) == 0);
    CHECK(list_offset(&world, "short", 0, -1) == 240);
    world_fire(&world, maintenance);
    i64 earliest = list_offset(&world, "short", 0, -2);
    CHECK(earliest > 0 && earliest < 240); /* The old segments went, the active one stays. */
    CHECK(list_offset(&world, "short", 0, -1) == 240);
    CHECK(list_offset(&world, "kept", 0, -2) == 0); /* Default retention: 7 days, no bytes. */
    CHECK(!file_linked(&world, "short-0/00000000000000000000.log"));
    CHECK(file_linked(&world, "kept-0/00000000000000000000.log"));
    CHECK(timer_deadline[maintenance] == world.fake->now_ns + 1000 * NS_PER_MS); /* Again. */
    static char text[256 * 1024];
    REQUIRE(broker_metrics_format(world.broker, text, sizeof(text)) > 0);
    CHECK(metric_value(text, "cairn_broker_log_retention_checks_total") == 3);
    CHECK(metric_value(text, "cairn_broker_log_segments_deleted_total") > 0);
    CHECK(metric_value(text, "cairn_broker_log_compactions_total") == 1);
    /* Every record of "keyed" has the key "key": the closed segments keep none of them, the
     * newest record of the key being in the active segment. */
    CHECK(metric_value(text, "cairn_broker_log_compaction_records_removed_total") > 100);
    CHECK(list_offset(&world, "keyed", 0, -1) == 240); /* Offsets are kept. */
    world_deinit(&world);
}

TEST(deleted_topics_leave_no_directories)
{
    struct world world;
    world_init(&world);
    world.config.auto_create_topics_enable = false;
    REQUIRE(create_topic(&world, "swept", 2) == 0);
    REQUIRE(create_topic(&world, "stays", 1) == 0);
    u32 size = build_batch(3, 1000);
    REQUIRE(produce(&world, 1, "swept", 1, -1, size));
    world_run(&world);
    CHECK(world.fake->directories_removed == 0);
    world_remove(&world, "swept");
    world_settle(&world);
    CHECK(!file_linked(&world, "swept-1/00000000000000000000.log"));
    /* Both partition directories, each once emptied (the fake refuses a non-empty one). */
    CHECK(world.fake->directories_removed == 2);
    CHECK(file_linked(&world, "stays-0/00000000000000000000.log"));
    world_deinit(&world);
}

/* ListOffsets latest answered at once (no log operation), without running the fake. */
static i64 latest_now(struct world *world, const char *topic)
{
    return list_offset_in(world, topic, 0, LOG_TIMESTAMP_LATEST, false);
}

/* Delivers completions one at a time until the write of a size-byte batch completed. */
static bool world_until_batch_written(struct world *world, u32 size)
{
    for (u32 guard = 0; guard < 1000 && world->fake->queue_count > 0; guard++) {
        struct io_completion completion = world->fake->queue[0];
        memmove(&world->fake->queue[0], &world->fake->queue[1],
                sizeof(completion) * (world->fake->queue_count - 1));
        world->fake->queue_count--;
        broker_on_file(world->broker, &completion);
        if (completion.op == IO_FILE_WRITE && completion.size == size) return true;
    }
    return false;
}

/* The high watermark between an append's write and its sync, with flush.messages=1 (the
 * durable end) and with Kafka's default policy (the log end). */
static void high_watermark_case(bool flush_each_message)
{
    struct world world;
    world_init(&world);
    world.config.log_flush_interval_messages = flush_each_message ? 1 : (u64)INT64_MAX;
    world_restart(&world);
    REQUIRE(create_topic(&world, "synced", 1) == 0);
    u32 size = build_batch(3, 1000);
    REQUIRE(produce(&world, 1, "synced", 0, -1, size));
    world_run(&world);
    u32 before = captured_count;
    REQUIRE(fetch(&world, 2, "synced", 0, 3, 1000)); /* Parked at the end. */
    world_run(&world);
    REQUIRE(captured_count == before);
    size = build_batch(2, 2000);
    REQUIRE(produce(&world, 1, "synced", 0, -1, size));
    REQUIRE(world_until_batch_written(&world, size)); /* Written, not yet synced. */
    before = captured_count;
    CHECK(latest_now(&world, "synced") == (flush_each_message ? 3 : 5));
    union kafka_response response;
    if (flush_each_message) {
        /* A fetch now sees nothing past the durable end, and the parked one sleeps on. */
        REQUIRE(fetch(&world, 4, "synced", 0, 3, 0));
        REQUIRE(captured_count == before + 2);
        REQUIRE(response_get(before + 1, KAFKA_API_FETCH, 12, &response));
        const struct kafka_fetch_response_partition_data *out =
            &response.Fetch.Responses.items[0].Partitions.items[0];
        CHECK(out->HighWatermark == 3 && out->LastStableOffset == 3);
        CHECK(out->Records.size == 0);
    }
    before = captured_count;
    world_run(&world); /* The sync completes: the produce is answered, the fetch wakes. */
    CHECK(latest_now(&world, "synced") == 5);
    bool woken = false;
    for (u32 i = before; i < captured_count; i++) {
        if (captured[i].conn != 2) continue;
        REQUIRE(response_get(i, KAFKA_API_FETCH, 12, &response));
        const struct kafka_fetch_response_partition_data *out =
            &response.Fetch.Responses.items[0].Partitions.items[0];
        CHECK(out->HighWatermark == 5);
        CHECK(out->Records.size == (i32)size);
        woken = true;
    }
    CHECK(woken);
    world_deinit(&world);
}

TEST(high_watermark_is_the_durable_end_with_flush_messages_1)
{
    high_watermark_case(true);
    high_watermark_case(false);
}

/* ===== DeleteTopics v6 and errors in the metrics ===== */

/* The controller's part for the request the broker forwarded (captured at index): decided by
 * the controller's own rules against the test's image, answered on the link with the link's
 * correlation id, and its records applied as the committed entry every node applies (the
 * order of the last two is the race of a real cluster; either way the broker relays the
 * answer as it is). */
static void controller_decides_and_applies(struct world *world, u32 index)
{
    struct proto_request_header header;
    struct proto_reader reader;
    captured_request(index, &header, &reader);
    static u8 arena_memory[1u << 16];
    struct proto_arena arena;
    proto_arena_init(&arena, arena_memory, sizeof(arena_memory));
    union kafka_request request;
    ASSERT(kafka_request_decode(&reader, header.RequestApiKey, header.RequestApiVersion, &request,
                                &arena) == PROTO_OK);
    static struct metadata_record records[CONTROLLER_RECORDS_MAX];
    struct controller_decision decision;
    controller_decision_init(&decision, records);
    struct controller_decide_input in = {&world->config, &world->image, 7, &arena};
    union kafka_response response;
    ASSERT(controller_decide_request(&in, &decision, header.RequestApiKey,
                                     header.RequestApiVersion, &request, &response));
    static u8 answer[1u << 16];
    struct proto_writer writer;
    proto_writer_init(&writer, answer, sizeof(answer));
    ASSERT(proto_response_frame_encode(&writer, header.RequestApiKey, header.RequestApiVersion,
                                       header.CorrelationId, &response) == PROTO_OK);
    ASSERT(broker_link_on_frame(world->broker, answer + 4, writer.position - 4));
    for (u32 i = 0; i < decision.count; i++) world_apply(world, &records[i]);
    broker_on_metadata(world->broker);
    world_run(world);
}

static void controller_decides(struct world *world, u32 index)
{
    controller_decides_and_applies(world, index);
    world_settle(world);
}

/* DeleteTopics v6 names topics by id: forwarded as sent, the controller resolves the id
 * (an unknown one is UNKNOWN_TOPIC_ID), its answer reaches the client naming the topic, and
 * this broker drops the topic's logs and files once the removal is in its image. */
TEST(delete_topics_v6_by_topic_id)
{
    struct world world;
    world_init(&world);
    CHECK(proto_api_advertised(proto_api_table, KAFKA_API_DELETE_TOPICS, 6));
    world_link(&world);
    REQUIRE(create_topic(&world, "doomed", 2) == 0);
    REQUIRE(create_topic(&world, "kept", 1) == 0);
    u32 size = build_batch(2, 1000);
    REQUIRE(produce(&world, 1, "doomed", 1, -1, size));
    world_run(&world);
    CHECK(file_linked(&world, "doomed-1/00000000000000000000.log"));
    struct metadata_uuid doomed = world_find(&world, "doomed")->id;

    struct kafka_delete_topics_request_topic_state states[2];
    for (u32 i = 0; i < 2; i++) kafka_delete_topics_request_topic_state_init(&states[i]);
    memcpy(states[0].TopicId.bytes, doomed.bytes, 16);
    memcpy(states[1].TopicId.bytes, doomed.bytes, 16);
    states[1].TopicId.bytes[15] ^= 0x55; /* No topic has this id. */
    union kafka_request body;
    kafka_delete_topics_request_init(&body.DeleteTopics);
    body.DeleteTopics.Topics.items = states;
    body.DeleteTopics.Topics.count = 2;
    body.DeleteTopics.TimeoutMs = 5000;
    u32 before = captured_count;
    REQUIRE(world_request(&world, 4, KAFKA_API_DELETE_TOPICS, 6, &body));
    REQUIRE(captured_count == before + 1 && captured[before].conn == LINK_CONN);
    struct proto_request_header header;
    struct proto_reader reader;
    captured_request(before, &header, &reader);
    CHECK(header.RequestApiKey == KAFKA_API_DELETE_TOPICS && header.RequestApiVersion == 6);
    controller_decides(&world, before);

    REQUIRE(captured_count == before + 2 && captured[before + 1].conn == 4);
    union kafka_response response;
    REQUIRE(response_get(before + 1, KAFKA_API_DELETE_TOPICS, 6, &response));
    REQUIRE(response.DeleteTopics.Responses.count == 2);
    const struct kafka_delete_topics_response_deletable_topic_result *results =
        response.DeleteTopics.Responses.items;
    CHECK(results[0].ErrorCode == KAFKA_ERROR_NONE);
    CHECK(proto_string_equal_cstr(results[0].Name, "doomed"));
    CHECK(memcmp(results[0].TopicId.bytes, doomed.bytes, 16) == 0);
    CHECK(results[1].ErrorCode == KAFKA_ERROR_UNKNOWN_TOPIC_ID);
    CHECK(metadata_topic_find(&world.image, "doomed", 6) == NULL);
    CHECK(!file_linked(&world, "doomed-1/00000000000000000000.log"));
    CHECK(file_linked(&world, "kept-0/00000000000000000000.log"));
    CHECK(list_offset(&world, "doomed", 0, -1) ==
          -100 - KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    /* The relayed answer is in the metrics: its bytes and its error. */
    static char text[256 * 1024];
    REQUIRE(broker_metrics_format(world.broker, text, sizeof(text)) > 0);
    CHECK(metric_value(text, "cairn_broker_response_bytes_total{api=\"DeleteTopics\"}") ==
          captured[before + 1].size);
    CHECK(metric_value(text, "cairn_broker_response_errors_total"
                             "{api=\"DeleteTopics\",error=\"UNKNOWN_TOPIC_ID\"}") == 1);
    world_deinit(&world);
}

/* Every non-zero error code of an answer counts once per occurrence, at any level: Metadata
 * with a topic-level error and two partition-level ones, a Produce answered per partition,
 * ApiVersions' v0-shaped refusal; answers without errors add nothing. The Prometheus text lists
 * each (api, error) pair in api-key order. */
TEST(metrics_count_error_codes_inside_answers)
{
    struct world world;
    world_init(&world);
    REQUIRE(create_topic(&world, "fine", 1) == 0);
    struct metadata_record topic = {.type = METADATA_TOPIC};
    snprintf(topic.as.topic.name, sizeof(topic.as.topic.name), "leaderless");
    topic.as.topic.topic_id = topic_id_of("leaderless", topic_generation++);
    world_apply(&world, &topic);
    for (i32 p = 0; p < 2; p++) {
        struct metadata_record record = {.type = METADATA_PARTITION};
        record.as.partition.topic_id = topic.as.topic.topic_id;
        record.as.partition.partition_id = p;
        record.as.partition.replicas.ids[0] = 1;
        record.as.partition.replicas.count = 1;
        record.as.partition.leader = METADATA_NO_LEADER;
        world_apply(&world, &record);
    }
    broker_on_metadata(world.broker);
    world_run(&world);

    struct kafka_metadata_request_topic named[2];
    for (u32 i = 0; i < 2; i++) kafka_metadata_request_topic_init(&named[i]);
    named[0].Name = proto_string_of("leaderless");
    named[1].Name = proto_string_of("nowhere");
    union kafka_request body;
    kafka_metadata_request_init(&body.Metadata);
    body.Metadata.Topics.items = named;
    body.Metadata.Topics.count = 2;
    body.Metadata.AllowAutoTopicCreation = false;
    u32 before = captured_count;
    REQUIRE(world_request(&world, 1, KAFKA_API_METADATA, 12, &body));
    union kafka_response response;
    REQUIRE(response_get(before, KAFKA_API_METADATA, 12, &response));
    REQUIRE(response.Metadata.Topics.count == 2);
    CHECK(response.Metadata.Topics.items[0].Partitions.items[1].ErrorCode ==
          KAFKA_ERROR_LEADER_NOT_AVAILABLE);
    CHECK(response.Metadata.Topics.items[1].ErrorCode ==
          KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION);

    u32 size = build_batch(1, 1000);
    REQUIRE(produce(&world, 1, "fine", 0, -1, size)); /* No error: counts nothing. */
    world_run(&world);
    before = captured_count;
    REQUIRE(produce(&world, 1, "leaderless", 0, -1, size));
    world_run(&world);
    REQUIRE(response_get(before, KAFKA_API_PRODUCE, 9, &response));
    CHECK(response.Produce.Responses.items[0].PartitionResponses.items[0].ErrorCode ==
          KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER);
    /* ApiVersions at a version it does not serve (header v2, body not read). */
    u8 api_versions_v9[] = {0, KAFKA_API_API_VERSIONS, 0, 9, 0, 0, 0, 42, 0, 1, 't', 0};
    REQUIRE(broker_on_frame(world.broker, 2, api_versions_v9, sizeof(api_versions_v9)));

    const struct broker_metrics *metrics = broker_metrics_get(world.broker);
    CHECK(metrics->error_series == 4);
    CHECK(broker_metrics_error_count(metrics, KAFKA_API_METADATA,
                                     KAFKA_ERROR_LEADER_NOT_AVAILABLE) == 2);
    CHECK(broker_metrics_error_count(metrics, KAFKA_API_METADATA,
                                     KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION) == 1);
    CHECK(broker_metrics_error_count(metrics, KAFKA_API_PRODUCE,
                                     KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER) == 1);
    CHECK(broker_metrics_error_count(metrics, KAFKA_API_API_VERSIONS,
                                     KAFKA_ERROR_UNSUPPORTED_VERSION) == 1);
    static char text[256 * 1024];
    REQUIRE(broker_metrics_format(world.broker, text, sizeof(text)) > 0);
    const char *produce_line = "cairn_broker_response_errors_total"
                               "{api=\"Produce\",error=\"NOT_LEADER_OR_FOLLOWER\"}";
    const char *unknown_line = "cairn_broker_response_errors_total"
                               "{api=\"Metadata\",error=\"UNKNOWN_TOPIC_OR_PARTITION\"}";
    const char *leader_line = "cairn_broker_response_errors_total"
                              "{api=\"Metadata\",error=\"LEADER_NOT_AVAILABLE\"}";
    const char *versions_line = "cairn_broker_response_errors_total"
                                "{api=\"ApiVersions\",error=\"UNSUPPORTED_VERSION\"}";
    CHECK(metric_value(text, produce_line) == 1);
    CHECK(metric_value(text, unknown_line) == 1);
    CHECK(metric_value(text, leader_line) == 2);
    CHECK(metric_value(text, versions_line) == 1);
    CHECK(metric_value(text, "cairn_broker_response_errors_unrecorded_total") == 0);
    CHECK(strstr(text, "# TYPE cairn_broker_response_errors_total counter\n") != NULL);
    /* Sorted by api key (Produce 0, Metadata 3, ApiVersions 18), then by code (3, then 5). */
    const char *positions[] = {strstr(text, produce_line), strstr(text, unknown_line),
                               strstr(text, leader_line), strstr(text, versions_line)};
    for (u32 i = 0; i < ARRAY_LEN(positions); i++) REQUIRE(positions[i] != NULL);
    CHECK(positions[0] < positions[1] && positions[1] < positions[2] &&
          positions[2] < positions[3]);
    world_deinit(&world);
}

/* Quantiles from the histogram as histogram_quantile computes them, capped by the max. */
TEST(latency_quantiles_interpolate_inside_buckets)
{
    struct broker_api_metrics api;
    memset(&api, 0, sizeof(api));
    CHECK(broker_metrics_latency_quantile_ns(&api, 500) == 0); /* Nothing timed. */
    api.latency_buckets[2] = 10; /* (300 us, 1 ms] */
    api.latency_count = 10;
    api.latency_max_ns = 900000;
    CHECK(broker_metrics_latency_quantile_ns(&api, 500) == 650000);
    CHECK(broker_metrics_latency_quantile_ns(&api, 990) == 900000); /* 993 us, over the max. */
    api.latency_buckets[0] = 10; /* Ten answered at once (a sync handler in ksim). */
    api.latency_count = 20;
    CHECK(broker_metrics_latency_quantile_ns(&api, 500) == 100000); /* The rank is the 10th. */
    CHECK(broker_metrics_latency_quantile_ns(&api, 250) == 50000);
    api.latency_buckets[BROKER_LATENCY_BUCKETS - 1] = 20; /* Beyond 10 s: up to the max. */
    api.latency_count = 40;
    api.latency_max_ns = 30000000000ull;
    CHECK(broker_metrics_latency_quantile_ns(&api, 1000) == 30000000000ull);
    CHECK(broker_metrics_latency_quantile_ns(&api, 750) == 20000000000ull);
}

/* ===== Replication: the leader's side (broker_replication.h) ===== */

#define REPLICA_2_CONN 5u
#define REPLICA_3_CONN 6u
#define BROKER_SLOTS_COUNT BROKER_TIMER_IDLE /* Timers 0..3: one per request slot. */

/* This broker's current registration reaches the image, as after a restart once the
 * controller committed it: the link connects, its BrokerRegistration (with the incarnation id
 * this broker drew) is applied as a RegisterBroker and an UnfenceBroker record, and answered.
 * Before that, a restarted broker leads no partition with other replicas. */
static void world_self_current(struct world *world)
{
    u32 index = world_link(world);
    struct proto_request_header header;
    struct proto_reader reader;
    captured_request(index, &header, &reader);
    ASSERT(header.RequestApiKey == KAFKA_API_BROKER_REGISTRATION);
    static u8 arena_memory[4096];
    struct proto_arena arena;
    proto_arena_init(&arena, arena_memory, sizeof(arena_memory));
    struct kafka_broker_registration_request request;
    ASSERT(kafka_broker_registration_request_decode(&reader, header.RequestApiVersion, &request,
                                                    &arena) == PROTO_OK);
    struct metadata_record record = {.type = METADATA_REGISTER_BROKER};
    record.as.register_broker.broker_id = 1;
    memcpy(record.as.register_broker.incarnation_id.bytes, request.IncarnationId.bytes, 16);
    snprintf(record.as.register_broker.host, METADATA_HOST_MAX, "127.0.0.1");
    record.as.register_broker.port = 9092;
    world_apply(world, &record);
    struct metadata_record unfence = {.type = METADATA_UNFENCE_BROKER};
    unfence.as.unfence_broker.broker_id = 1;
    unfence.as.unfence_broker.broker_epoch = world->offset;
    world_apply(world, &unfence);
    broker_on_metadata(world->broker);
    world_run(world);
    union kafka_response response;
    kafka_broker_registration_response_init(&response.BrokerRegistration);
    response.BrokerRegistration.BrokerEpoch = metadata_broker_find(&world->image, 1)->epoch;
    static u8 answer[256];
    struct proto_writer writer;
    proto_writer_init(&writer, answer, sizeof(answer));
    ASSERT(proto_response_frame_encode(&writer, header.RequestApiKey, header.RequestApiVersion,
                                       header.CorrelationId, &response) == PROTO_OK);
    ASSERT(broker_link_on_frame(world->broker, answer + 4, writer.position - 4));
}

/* Broker id registered and unfenced in the image. */
static void world_broker(struct world *world, i32 id)
{
    struct metadata_record record = {.type = METADATA_REGISTER_BROKER};
    record.as.register_broker.broker_id = id;
    snprintf(record.as.register_broker.host, METADATA_HOST_MAX, "10.0.0.%d", id);
    record.as.register_broker.port = 9092;
    world_apply(world, &record);
    struct metadata_record unfence = {.type = METADATA_UNFENCE_BROKER};
    unfence.as.unfence_broker.broker_id = id;
    unfence.as.unfence_broker.broker_epoch = world->offset;
    world_apply(world, &unfence);
}

/* A one-partition topic on brokers 1, 2, 3 led here at leader epoch 0, ISR its first isr. */
static void world_replicated(struct world *world, const char *name, u32 isr)
{
    static const u8 unset[16];
    if (memcmp(metadata_broker_find(&world->image, 1)->incarnation_id.bytes, unset, 16) == 0) {
        world_self_current(world);
    }
    if (metadata_broker_find(&world->image, 2) == NULL) world_broker(world, 2);
    if (metadata_broker_find(&world->image, 3) == NULL) world_broker(world, 3);
    struct metadata_record topic = {.type = METADATA_TOPIC};
    snprintf(topic.as.topic.name, sizeof(topic.as.topic.name), "%s", name);
    topic.as.topic.topic_id = topic_id_of(name, topic_generation++);
    world_apply(world, &topic);
    struct metadata_record record = {.type = METADATA_PARTITION};
    struct metadata_partition_record *p = &record.as.partition;
    p->topic_id = topic.as.topic.topic_id;
    p->partition_id = 0;
    p->replicas = (struct metadata_ids){{1, 2, 3}, 3};
    p->isr = (struct metadata_ids){{1, 2, 3}, isr};
    p->leader = 1;
    world_apply(world, &record);
    broker_on_metadata(world->broker);
    world_run(world);
}

/* A PartitionChangeRecord of partition 0: a leader (or METADATA_LEADER_UNCHANGED; the same
 * leader again bumps the leader epoch) and, when isr_count > 0, a new ISR. */
static void world_change(struct world *world, const char *name, i32 leader, const i32 *isr,
                         u32 isr_count)
{
    struct metadata_record record = {.type = METADATA_PARTITION_CHANGE};
    struct metadata_partition_change *change = &record.as.partition_change;
    change->topic_id = world_find(world, name)->id;
    change->partition_id = 0;
    change->leader = leader;
    change->isr_set = isr_count > 0;
    for (u32 i = 0; i < isr_count; i++) change->isr.ids[i] = isr[i];
    change->isr.count = isr_count;
    world_apply(world, &record);
    broker_on_metadata(world->broker);
    world_run(world);
}

/* The first frame captured on conn at or after index from, or UINT32_MAX. */
static u32 answer_on(io_conn conn, u32 from)
{
    for (u32 i = from; i < captured_count; i++) {
        if (captured[i].conn == conn) return i;
    }
    return UINT32_MAX;
}

/* Fetch v12 of partition 0 as broker replica_id (-1: a consumer), sent on conn. */
static void replica_fetch(struct world *world, io_conn conn, const char *topic, i32 replica_id,
                          i64 offset, i32 current_epoch, i32 last_epoch, i32 max_wait_ms)
{
    union kafka_request body;
    struct kafka_fetch_request_topic t;
    struct kafka_fetch_request_partition p;
    kafka_fetch_request_init(&body.Fetch);
    kafka_fetch_request_topic_init(&t);
    kafka_fetch_request_partition_init(&p);
    p.Partition = 0;
    p.FetchOffset = offset;
    p.CurrentLeaderEpoch = current_epoch;
    p.LastFetchedEpoch = last_epoch;
    p.PartitionMaxBytes = 1 << 20;
    t.Topic = proto_string_of(topic);
    t.Partitions.items = &p;
    t.Partitions.count = 1;
    body.Fetch.ReplicaId = replica_id;
    body.Fetch.MaxWaitMs = max_wait_ms;
    body.Fetch.MinBytes = 1;
    body.Fetch.MaxBytes = 1 << 20;
    body.Fetch.Topics.items = &t;
    body.Fetch.Topics.count = 1;
    ASSERT(world_request(world, conn, KAFKA_API_FETCH, 12, &body));
    world_run(world);
}

static struct kafka_fetch_response_partition_data fetched;

/* The Fetch answer on conn from index from on (into fetched); false when there is none. */
static bool fetch_answered(io_conn conn, u32 from)
{
    u32 index = answer_on(conn, from);
    union kafka_response response;
    if (index == UINT32_MAX || !response_get(index, KAFKA_API_FETCH, 12, &response)) {
        return false;
    }
    ASSERT(response.Fetch.Responses.count == 1);
    ASSERT(response.Fetch.Responses.items[0].Partitions.count == 1);
    fetched = response.Fetch.Responses.items[0].Partitions.items[0];
    return true;
}

/* The Produce answer of partition 0 on conn from index from on: its error code, base offset in
 * *base_offset; -1 when there is no answer. */
static i32 produce_answered(io_conn conn, u32 from, i64 *base_offset)
{
    u32 index = answer_on(conn, from);
    union kafka_response response;
    if (index == UINT32_MAX || !response_get(index, KAFKA_API_PRODUCE, 9, &response)) return -1;
    const struct kafka_produce_response_partition_produce *out =
        &response.Produce.Responses.items[0].PartitionResponses.items[0];
    if (base_offset != NULL) *base_offset = out->BaseOffset;
    return out->ErrorCode;
}

/* The high watermark of the last leader HIGH_WATERMARK observation, or -2 when none. */
static i64 observed_high_watermark(void)
{
    for (u32 i = observed_count; i > 0; i--) {
        const struct io_observation *o = &observed[i - 1];
        if (o->kind == HISTORY_REPLICA_HIGH_WATERMARK) {
            ASSERT(o->d >> 32 == HISTORY_REPLICA_LEADER);
            return (i64)o->c;
        }
    }
    return -2;
}

/* A follower's fetch moves the high watermark only once every ISR member fetched past an
 * offset; consumers never see above it (Fetch, ListOffsets); a parked consumer fetch wakes when
 * the high watermark moves, not on an append; a parked replica fetch wakes on an append. */
TEST(replica_fetches_move_the_high_watermark_over_the_isr)
{
    struct world world;
    world_init(&world);
    world_replicated(&world, "rep", 3);
    u32 first = build_batch(2, 1000); /* Offsets 0..1. */
    REQUIRE(produce(&world, 1, "rep", 0, 1, first));
    world_run(&world);
    u32 second = build_batch(1, 2000); /* Offset 2. */
    REQUIRE(produce(&world, 1, "rep", 0, 1, second));
    world_run(&world);
    /* Each append is observed with its stamped header. */
    REQUIRE(observed_count >= 2);
    const struct io_observation *appended = &observed[observed_count - 1];
    CHECK(appended->kind == HISTORY_REPLICA_APPENDED && appended->c == 2 && appended->d == 2);
    CHECK(observed_batch[observed_count - 1].record_count == 1);
    CHECK(observed_batch[observed_count - 1].role == HISTORY_REPLICA_LEADER);
    CHECK(observed_batch[observed_count - 1].crc == load_u32_be(batch_buffer + 17));
    CHECK(observed_high_watermark() == 0);
    CHECK(list_offset(&world, "rep", 0, LOG_TIMESTAMP_LATEST) == 0);
    u32 before = captured_count;
    replica_fetch(&world, 2, "rep", -1, 0, -1, -1, 0);
    REQUIRE(fetch_answered(2, before));
    CHECK(fetched.ErrorCode == 0 && fetched.HighWatermark == 0 && fetched.Records.size == 0);
    /* Broker 2 copies everything (up to the log end, not the high watermark). */
    before = captured_count;
    replica_fetch(&world, REPLICA_2_CONN, "rep", 2, 0, 0, -1, 0);
    REQUIRE(fetch_answered(REPLICA_2_CONN, before));
    CHECK(fetched.ErrorCode == 0 && fetched.HighWatermark == 0);
    CHECK(fetched.Records.size == (i32)(first + second));
    CHECK(fetched.LogStartOffset == 0);
    before = captured_count;
    replica_fetch(&world, REPLICA_2_CONN, "rep", 2, 3, 0, 0, 0);
    REQUIRE(fetch_answered(REPLICA_2_CONN, before));
    CHECK(fetched.HighWatermark == 0); /* Broker 3 has not fetched. */
    CHECK(list_offset(&world, "rep", 0, LOG_TIMESTAMP_LATEST) == 0);
    /* Broker 3 has offsets 0..1: the high watermark is 2, and only the first batch is out. */
    before = captured_count;
    replica_fetch(&world, REPLICA_3_CONN, "rep", 3, 2, 0, 0, 0);
    REQUIRE(fetch_answered(REPLICA_3_CONN, before));
    CHECK(fetched.HighWatermark == 2 && fetched.Records.size == (i32)second);
    CHECK(observed_high_watermark() == 2);
    CHECK(list_offset(&world, "rep", 0, LOG_TIMESTAMP_LATEST) == 2);
    before = captured_count;
    replica_fetch(&world, 2, "rep", -1, 0, 0, -1, 0);
    REQUIRE(fetch_answered(2, before));
    CHECK(fetched.HighWatermark == 2 && fetched.LastStableOffset == 2);
    CHECK(fetched.Records.size == (i32)first);
    /* A consumer parked at the high watermark: an append alone does not wake it... */
    before = captured_count;
    replica_fetch(&world, 2, "rep", -1, 2, 0, -1, 1000);
    CHECK(answer_on(2, before) == UINT32_MAX);
    u32 third = build_batch(1, 3000); /* Offset 3. */
    REQUIRE(produce(&world, 1, "rep", 0, 1, third));
    world_run(&world);
    CHECK(answer_on(2, before) == UINT32_MAX);
    /* ... the high watermark moving does, with what is now below it. */
    u32 replica_before = captured_count;
    replica_fetch(&world, REPLICA_3_CONN, "rep", 3, 3, 0, 0, 0);
    REQUIRE(fetch_answered(REPLICA_3_CONN, replica_before));
    CHECK(fetched.HighWatermark == 3 && fetched.Records.size == (i32)third);
    CHECK(answer_on(2, before) != UINT32_MAX);
    REQUIRE(fetch_answered(2, before));
    CHECK(fetched.HighWatermark == 3 && fetched.Records.size == (i32)second);
    /* A replica fetch parked at the log end wakes on the next append. */
    before = captured_count;
    replica_fetch(&world, REPLICA_3_CONN, "rep", 3, 4, 0, 0, 1000);
    CHECK(answer_on(REPLICA_3_CONN, before) == UINT32_MAX);
    u32 fourth = build_batch(2, 4000); /* Offsets 4..5. */
    REQUIRE(produce(&world, 1, "rep", 0, 1, fourth));
    world_run(&world);
    REQUIRE(fetch_answered(REPLICA_3_CONN, before));
    CHECK(fetched.ErrorCode == 0 && fetched.Records.size == (i32)fourth);
    CHECK(fetched.HighWatermark == 3); /* Broker 2 is still at 3. */
    /* Above the leader's log end: out of range, and not taken as broker 2's position. */
    before = captured_count;
    replica_fetch(&world, REPLICA_2_CONN, "rep", 2, 7, 0, -1, 0);
    REQUIRE(fetch_answered(REPLICA_2_CONN, before));
    CHECK(fetched.ErrorCode == KAFKA_ERROR_OFFSET_OUT_OF_RANGE);
    CHECK(list_offset(&world, "rep", 0, LOG_TIMESTAMP_LATEST) == 3);
    /* The high watermark only grew, one observation per move. */
    i64 last = -1;
    for (u32 i = 0; i < observed_count; i++) {
        if (observed[i].kind != HISTORY_REPLICA_HIGH_WATERMARK) continue;
        CHECK((i64)observed[i].c > last || (last == -1 && observed[i].c == 0));
        last = (i64)observed[i].c;
    }
    CHECK(last == 3);
    world_deinit(&world);
}

/* Produce with acks=-1 waits for the ISR: answered after the follower's fetch, timed out,
 * refused before the append with too small an ISR, failed after it when the ISR shrank, and
 * NOT_LEADER_OR_FOLLOWER when leadership moves first. */
TEST(produce_acks_all_waits_for_the_high_watermark)
{
    struct world world;
    world_init(&world);
    world_replicated(&world, "all", 2); /* ISR {1, 2}. */
    u32 size = build_batch(3, 1000); /* Offsets 0..2. */
    u32 before = captured_count;
    REQUIRE(produce(&world, 1, "all", 0, -1, size));
    world_run(&world);
    CHECK(produce_answered(1, before, NULL) == -1);
    replica_fetch(&world, REPLICA_2_CONN, "all", 2, 0, 0, -1, 0);
    CHECK(produce_answered(1, before, NULL) == -1); /* Broker 2 holds nothing yet. */
    replica_fetch(&world, REPLICA_2_CONN, "all", 2, 3, 0, 0, 0);
    i64 base = -1;
    CHECK(produce_answered(1, before, &base) == KAFKA_ERROR_NONE && base == 0);
    /* No follower fetch: REQUEST_TIMED_OUT at TimeoutMs (the slot's timer). */
    before = captured_count;
    REQUIRE(produce(&world, 1, "all", 0, -1, size)); /* Offsets 3..5. */
    world_run(&world);
    CHECK(produce_answered(1, before, NULL) == -1);
    u32 slot_timer = BROKER_SLOTS_COUNT;
    for (u32 i = 0; i < BROKER_SLOTS_COUNT; i++) {
        if (timer_deadline[i] != 0) slot_timer = i;
    }
    REQUIRE(slot_timer < BROKER_SLOTS_COUNT);
    CHECK(timer_deadline[slot_timer] == world.fake->now_ns + 1000 * NS_PER_MS);
    world_fire(&world, slot_timer);
    CHECK(produce_answered(1, before, NULL) == KAFKA_ERROR_REQUEST_TIMED_OUT);
    /* min.insync.replicas=3 with an ISR of 2: refused, nothing appended. */
    world_config(&world, "all", "min.insync.replicas", "3");
    before = captured_count;
    REQUIRE(produce(&world, 1, "all", 0, -1, size));
    world_run(&world);
    CHECK(produce_answered(1, before, NULL) == KAFKA_ERROR_NOT_ENOUGH_REPLICAS);
    before = captured_count;
    REQUIRE(produce(&world, 1, "all", 0, 1, size)); /* acks=1 does not ask. */
    world_run(&world);
    CHECK(produce_answered(1, before, &base) == KAFKA_ERROR_NONE && base == 6);
    /* min.insync.replicas=2: the ISR shrinks to {1} while the answer waits. */
    world_config(&world, "all", "min.insync.replicas", "2");
    before = captured_count;
    REQUIRE(produce(&world, 1, "all", 0, -1, size)); /* Offsets 9..11. */
    world_run(&world);
    CHECK(produce_answered(1, before, NULL) == -1);
    const i32 alone[] = {1};
    world_change(&world, "all", METADATA_LEADER_UNCHANGED, alone, 1);
    CHECK(produce_answered(1, before, NULL) == KAFKA_ERROR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
    CHECK(list_offset(&world, "all", 0, LOG_TIMESTAMP_LATEST) == 12); /* Alone in the ISR. */
    /* Leadership moves to broker 2 while the answer waits. */
    const i32 both[] = {1, 2};
    world_change(&world, "all", METADATA_LEADER_UNCHANGED, both, 2);
    before = captured_count;
    REQUIRE(produce(&world, 1, "all", 0, -1, size));
    world_run(&world);
    CHECK(produce_answered(1, before, NULL) == -1);
    world_change(&world, "all", 2, NULL, 0);
    CHECK(produce_answered(1, before, NULL) == KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER);
    before = captured_count;
    REQUIRE(produce(&world, 1, "all", 0, -1, size));
    world_run(&world);
    CHECK(produce_answered(1, before, NULL) == KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER);
    world_deinit(&world);
}

/* CurrentLeaderEpoch fences stale and unknown epochs; a fetcher that is not a replica is
 * refused; LastFetchedEpoch that is not a prefix of the leader's log gets DivergingEpoch (the
 * largest epoch <= it and its end here) and no records, without waiting. */
TEST(fetch_checks_leader_epochs_and_divergence)
{
    struct world world;
    world_init(&world);
    world_replicated(&world, "div", 2);
    u32 size = build_batch(3, 1000);
    REQUIRE(produce(&world, 1, "div", 0, 1, size)); /* Epoch 0: offsets 0..2. */
    world_run(&world);
    world_change(&world, "div", 1, NULL, 0);        /* Broker 1 again, epoch 1. */
    REQUIRE(produce(&world, 1, "div", 0, 1, size)); /* Epoch 1: offsets 3..5. */
    world_run(&world);
    u32 before = captured_count;
    replica_fetch(&world, REPLICA_2_CONN, "div", 2, 3, 0, 0, 500);
    REQUIRE(fetch_answered(REPLICA_2_CONN, before));
    CHECK(fetched.ErrorCode == KAFKA_ERROR_FENCED_LEADER_EPOCH);
    before = captured_count;
    replica_fetch(&world, REPLICA_2_CONN, "div", 2, 3, 2, 0, 500);
    REQUIRE(fetch_answered(REPLICA_2_CONN, before));
    CHECK(fetched.ErrorCode == KAFKA_ERROR_UNKNOWN_LEADER_EPOCH);
    before = captured_count;
    replica_fetch(&world, 2, "div", -1, 0, 0, -1, 0); /* A consumer at a stale epoch too. */
    REQUIRE(fetch_answered(2, before));
    CHECK(fetched.ErrorCode == KAFKA_ERROR_FENCED_LEADER_EPOCH);
    before = captured_count;
    replica_fetch(&world, REPLICA_2_CONN, "div", 7, 0, 1, -1, 0); /* Not a replica. */
    REQUIRE(fetch_answered(REPLICA_2_CONN, before));
    CHECK(fetched.ErrorCode == KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER);
    /* Broker 2 wrote offsets 3..4 at epoch 0 (a leader of epoch 0 it followed lost them). */
    before = captured_count;
    replica_fetch(&world, REPLICA_2_CONN, "div", 2, 5, 1, 0, 500);
    REQUIRE(fetch_answered(REPLICA_2_CONN, before));
    CHECK(fetched.ErrorCode == 0 && fetched.Records.size == 0);
    CHECK(fetched.DivergingEpoch.Epoch == 0 && fetched.DivergingEpoch.EndOffset == 3);
    CHECK(fetched.HighWatermark == 0); /* Its position was not taken. */
    /* At epoch 0's end it agrees: records from there, and the high watermark moves. */
    before = captured_count;
    replica_fetch(&world, REPLICA_2_CONN, "div", 2, 3, 1, 0, 500);
    REQUIRE(fetch_answered(REPLICA_2_CONN, before));
    CHECK(fetched.ErrorCode == 0 && fetched.Records.size == (i32)size);
    CHECK(fetched.DivergingEpoch.Epoch == -1 && fetched.HighWatermark == 3);
    /* An epoch newer than any here (a leader that never reached the image): the latest one. */
    before = captured_count;
    replica_fetch(&world, REPLICA_2_CONN, "div", 2, 7, 1, 4, 500);
    REQUIRE(fetch_answered(REPLICA_2_CONN, before));
    CHECK(fetched.DivergingEpoch.Epoch == 1 && fetched.DivergingEpoch.EndOffset == 6);
    /* An epoch older than every one here (the log's first epoch is 0): none diverges at 0. */
    before = captured_count;
    replica_fetch(&world, REPLICA_2_CONN, "div", 2, 6, 1, 1, 0);
    REQUIRE(fetch_answered(REPLICA_2_CONN, before));
    CHECK(fetched.ErrorCode == 0 && fetched.DivergingEpoch.Epoch == -1);
    CHECK(fetched.HighWatermark == 6);
    world_deinit(&world);
}

/* The link connected and registered with the controller (the answer carries the image's
 * broker epoch); a registration survives a reconnection (the link heartbeats on). */
static void world_registered(struct world *world)
{
    u32 index = world_link(world);
    struct proto_request_header header;
    struct proto_reader reader;
    captured_request(index, &header, &reader);
    if (header.RequestApiKey != KAFKA_API_BROKER_REGISTRATION) {
        ASSERT(header.RequestApiKey == KAFKA_API_BROKER_HEARTBEAT);
        return;
    }
    union kafka_response response;
    kafka_broker_registration_response_init(&response.BrokerRegistration);
    response.BrokerRegistration.BrokerEpoch = metadata_broker_find(&world->image, 1)->epoch;
    static u8 answer[256];
    struct proto_writer writer;
    proto_writer_init(&writer, answer, sizeof(answer));
    ASSERT(proto_response_frame_encode(&writer, header.RequestApiKey, header.RequestApiVersion,
                                       header.CorrelationId, &response) == PROTO_OK);
    ASSERT(broker_link_on_frame(world->broker, answer + 4, writer.position - 4));
}

/* The AlterPartition request captured on the link at or after from (decoded into *request,
 * views into a static arena), or UINT32_MAX. */
static u32 alter_partition_sent(u32 from, struct proto_request_header *header,
                                struct kafka_alter_partition_request *request)
{
    static u8 arena_memory[1u << 14];
    for (u32 i = from; i < captured_count; i++) {
        if (captured[i].conn != LINK_CONN) continue;
        struct proto_reader reader;
        captured_request(i, header, &reader);
        if (header->RequestApiKey != KAFKA_API_ALTER_PARTITION) continue;
        struct proto_arena arena;
        proto_arena_init(&arena, arena_memory, sizeof(arena_memory));
        ASSERT(kafka_alter_partition_request_decode(&reader, header->RequestApiVersion, request,
                                                    &arena) == PROTO_OK);
        ASSERT(proto_reader_remaining(&reader) == 0);
        return i;
    }
    return UINT32_MAX;
}

static bool isr_is(const struct metadata_ids *isr, const i32 *ids, u32 count)
{
    if (isr->count != count) return false;
    for (u32 i = 0; i < count; i++) {
        if (isr->ids[i] != ids[i]) return false;
    }
    return true;
}

/* A follower that does not fetch within replica.lag.time.max.ms leaves the ISR through an
 * AlterPartition (its bytes decoded and decided by the controller's own rules); the high
 * watermark then moves without it; once it catches up it is added back at once. */
TEST(lagging_follower_leaves_the_isr_and_returns)
{
    struct world world;
    world_init(&world);
    world.config.replica_lag_time_max_ms = 10000;
    world_restart(&world);
    world_replicated(&world, "lag", 3); /* Registers the link too. */
    u32 size = build_batch(3, 1000);
    REQUIRE(produce(&world, 1, "lag", 0, 1, size));
    world_run(&world);
    u64 start = world.fake->now_ns;
    REQUIRE(timer_deadline[BROKER_TIMER_REPLICATION] == start + 5000 * NS_PER_MS);
    u32 before = captured_count;
    struct proto_request_header header;
    struct kafka_alter_partition_request request;
    /* Broker 2 keeps up; broker 3 never fetches. At 5 s and 10 s it is not yet too late. */
    for (u32 round = 0; round < 2; round++) {
        replica_fetch(&world, REPLICA_2_CONN, "lag", 2, 3, 0, 0, 0);
        world_fire(&world, BROKER_TIMER_REPLICATION);
        CHECK(alter_partition_sent(before, &header, &request) == UINT32_MAX);
    }
    CHECK(world.fake->now_ns == start + 10000 * NS_PER_MS);
    CHECK(list_offset(&world, "lag", 0, LOG_TIMESTAMP_LATEST) == 0);
    replica_fetch(&world, REPLICA_2_CONN, "lag", 2, 3, 0, 0, 0);
    world_fire(&world, BROKER_TIMER_REPLICATION); /* 15 s: broker 3 goes. */
    u32 alter = alter_partition_sent(before, &header, &request);
    REQUIRE(alter != UINT32_MAX);
    const struct metadata_partition *partition = &world_find(&world, "lag")->partitions[0];
    CHECK(header.RequestApiVersion == 3);
    CHECK(request.BrokerId == 1);
    CHECK(request.BrokerEpoch == metadata_broker_find(&world.image, 1)->epoch);
    REQUIRE(request.Topics.count == 1 && request.Topics.items[0].Partitions.count == 1);
    CHECK(memcmp(request.Topics.items[0].TopicId.bytes, world_find(&world, "lag")->id.bytes,
                 16) == 0);
    const struct kafka_alter_partition_request_partition_data *asked =
        &request.Topics.items[0].Partitions.items[0];
    CHECK(asked->PartitionIndex == 0 && asked->LeaderEpoch == partition->leader_epoch);
    CHECK(asked->PartitionEpoch == partition->partition_epoch);
    REQUIRE(asked->NewIsrWithEpochs.count == 2);
    CHECK(asked->NewIsrWithEpochs.items[0].BrokerId == 1);
    CHECK(asked->NewIsrWithEpochs.items[1].BrokerId == 2);
    CHECK(asked->NewIsrWithEpochs.items[1].BrokerEpoch ==
          metadata_broker_find(&world.image, 2)->epoch);
    /* One in flight: the next check asks nothing more. */
    replica_fetch(&world, REPLICA_2_CONN, "lag", 2, 3, 0, 0, 0);
    world_fire(&world, BROKER_TIMER_REPLICATION);
    CHECK(alter_partition_sent(alter + 1, &header, &request) == UINT32_MAX);
    /* The controller decides; once the image shows it, the high watermark leaves broker 3. */
    controller_decides_and_applies(&world, alter);
    partition = &world_find(&world, "lag")->partitions[0];
    const i32 shrunk[] = {1, 2};
    CHECK(isr_is(&partition->isr, shrunk, 2));
    CHECK(list_offset(&world, "lag", 0, LOG_TIMESTAMP_LATEST) == 3);
    /* Broker 3 starts fetching: behind the high watermark it stays out... */
    before = captured_count;
    replica_fetch(&world, REPLICA_3_CONN, "lag", 3, 0, 0, -1, 0);
    CHECK(alter_partition_sent(before, &header, &request) == UINT32_MAX);
    /* ... caught up, it is asked back at once. */
    replica_fetch(&world, REPLICA_3_CONN, "lag", 3, 3, 0, 0, 0);
    alter = alter_partition_sent(before, &header, &request);
    REQUIRE(alter != UINT32_MAX);
    asked = &request.Topics.items[0].Partitions.items[0];
    CHECK(asked->PartitionEpoch == partition->partition_epoch);
    REQUIRE(asked->NewIsrWithEpochs.count == 3);
    CHECK(asked->NewIsrWithEpochs.items[2].BrokerId == 3);
    /* While asked for, broker 3 already holds back the high watermark (KIP-497). */
    u32 more = build_batch(1, 2000); /* Offset 3. */
    REQUIRE(produce(&world, 1, "lag", 0, 1, more));
    world_run(&world);
    replica_fetch(&world, REPLICA_2_CONN, "lag", 2, 4, 0, 0, 0);
    CHECK(list_offset(&world, "lag", 0, LOG_TIMESTAMP_LATEST) == 3);
    controller_decides_and_applies(&world, alter);
    partition = &world_find(&world, "lag")->partitions[0];
    const i32 whole[] = {1, 2, 3};
    CHECK(isr_is(&partition->isr, whole, 3));
    replica_fetch(&world, REPLICA_3_CONN, "lag", 3, 4, 0, 0, 0);
    CHECK(list_offset(&world, "lag", 0, LOG_TIMESTAMP_LATEST) == 4);
    /* A lost link gives the request in flight up; the next check asks again. */
    world_change(&world, "lag", METADATA_LEADER_UNCHANGED, shrunk, 2); /* As if by another. */
    before = captured_count;
    replica_fetch(&world, REPLICA_3_CONN, "lag", 3, 4, 0, 0, 0);
    alter = alter_partition_sent(before, &header, &request);
    REQUIRE(alter != UINT32_MAX);
    broker_link_on_conn(world.broker, IO_CONN_CLOSED);
    REQUIRE(timer_deadline[LINK_TIMER] != 0); /* Reconnects after a backoff. */
    world.fake->now_ns = MAX(world.fake->now_ns, timer_deadline[LINK_TIMER]);
    broker_link_on_timer(world.broker);
    world_registered(&world);
    before = captured_count;
    world_fire(&world, BROKER_TIMER_REPLICATION);
    alter = alter_partition_sent(before, &header, &request);
    REQUIRE(alter != UINT32_MAX);
    CHECK(request.Topics.items[0].Partitions.items[0].NewIsrWithEpochs.count == 3);
    world_deinit(&world);
}


/* A restarted broker whose image still names it the leader of a replicated partition (its new
 * registration, which moves that leadership, is not applied yet) serves nothing of it: it
 * would append at offsets the others committed while it was down. A partition with one replica
 * is served as before. */
TEST(restarted_leader_waits_for_its_registration)
{
    struct world world;
    world_init(&world);
    world_replicated(&world, "shared3", 3);
    REQUIRE(create_topic(&world, "alone", 1) == 0);
    u32 size = build_batch(2, 1000);
    u32 before = captured_count;
    REQUIRE(produce(&world, 1, "shared3", 0, 1, size));
    world_run(&world);
    CHECK(produce_answered(1, before, NULL) == KAFKA_ERROR_NONE);
    world_restart(&world); /* A new incarnation; the image is the one from before. */
    before = captured_count;
    REQUIRE(produce(&world, 1, "shared3", 0, 1, size));
    world_run(&world);
    CHECK(produce_answered(1, before, NULL) == KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER);
    CHECK(list_offset(&world, "shared3", 0, LOG_TIMESTAMP_LATEST) ==
          -100 - KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER);
    before = captured_count;
    replica_fetch(&world, REPLICA_2_CONN, "shared3", 2, 0, 0, -1, 0);
    REQUIRE(fetch_answered(REPLICA_2_CONN, before));
    CHECK(fetched.ErrorCode == KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER && fetched.Records.size == 0);
    before = captured_count;
    REQUIRE(produce(&world, 1, "alone", 0, 1, size));
    world_run(&world);
    CHECK(produce_answered(1, before, NULL) == KAFKA_ERROR_NONE);
    /* Its registration applied (here the leadership stays): it leads again. */
    world_self_current(&world);
    before = captured_count;
    REQUIRE(produce(&world, 1, "shared3", 0, 1, size));
    world_run(&world);
    i64 base = -1;
    CHECK(produce_answered(1, before, &base) == KAFKA_ERROR_NONE && base == 2);
    world_deinit(&world);
}

/* ===== Idempotent producers ===== */

/* InitProducerId on conn 1 (transactional_id NULL: none); its answer, which must be at once. */
static struct kafka_init_producer_id_response init_producer_id(struct world *world,
                                                               i16 version,
                                                               const char *transactional_id,
                                                               i64 producer_id, i16 epoch)
{
    union kafka_request body;
    kafka_init_producer_id_request_init(&body.InitProducerId);
    body.InitProducerId.TransactionalId =
        transactional_id != NULL ? proto_string_of(transactional_id) : PROTO_STRING_NULL;
    body.InitProducerId.TransactionTimeoutMs = 60000;
    body.InitProducerId.ProducerId = producer_id;
    body.InitProducerId.ProducerEpoch = epoch;
    u32 before = captured_count;
    ASSERT(world_request(world, 1, KAFKA_API_INIT_PRODUCER_ID, version, &body));
    u32 index = answer_on(1, before);
    union kafka_response response;
    ASSERT(index != UINT32_MAX);
    ASSERT(response_get(index, KAFKA_API_INIT_PRODUCER_ID, version, &response));
    return response.InitProducerId;
}

/* The AllocateProducerIds the broker sent on its link at or after from (its BrokerId and
 * BrokerEpoch in *request), or UINT32_MAX. */
static u32 allocate_sent(u32 from, struct kafka_allocate_producer_ids_request *request)
{
    for (u32 i = from; i < captured_count; i++) {
        if (captured[i].conn != LINK_CONN) continue;
        struct proto_request_header header;
        struct proto_reader reader;
        captured_request(i, &header, &reader);
        if (header.RequestApiKey != KAFKA_API_ALLOCATE_PRODUCER_IDS) continue;
        static u8 arena_memory[256];
        struct proto_arena arena;
        proto_arena_init(&arena, arena_memory, sizeof(arena_memory));
        ASSERT(kafka_allocate_producer_ids_request_decode(&reader, header.RequestApiVersion,
                                                          request, &arena) == PROTO_OK);
        ASSERT(proto_reader_remaining(&reader) == 0);
        return i;
    }
    return UINT32_MAX;
}

/* Captured frames are dropped (the buffers are small beside a thousand answers). */
static void captures_forget(void)
{
    captured_count = 0;
    capture_used = 0;
}

/* The first InitProducerId asks the active controller for a block and answers
 * COORDINATOR_LOAD_IN_PROGRESS until it comes (one request in flight, however many ask); the
 * block, decided by the controller's own rules and committed, gives consecutive ids at epoch
 * 0 to every version, whatever producer id a v3+ request carries; the next block is asked for
 * once 90% is used and follows without a gap; a transactional id is COORDINATOR_NOT_AVAILABLE
 * and an id without an epoch INVALID_REQUEST, neither using an id. */
TEST(init_producer_id_hands_out_ids_from_controller_blocks)
{
    struct world world;
    world_init(&world);
    struct kafka_init_producer_id_response answer = init_producer_id(&world, 4, NULL, -1, -1);
    /* Not registered with the controller yet: nothing to ask on. */
    CHECK(answer.ErrorCode == KAFKA_ERROR_COORDINATOR_LOAD_IN_PROGRESS);
    CHECK(answer.ProducerId == -1 && answer.ProducerEpoch == -1);
    world_registered(&world);
    u32 before = captured_count;
    answer = init_producer_id(&world, 4, NULL, -1, -1);
    CHECK(answer.ErrorCode == KAFKA_ERROR_COORDINATOR_LOAD_IN_PROGRESS);
    CHECK(answer.ProducerId == -1);
    struct kafka_allocate_producer_ids_request asked;
    u32 ask = allocate_sent(before, &asked);
    REQUIRE(ask != UINT32_MAX);
    CHECK(asked.BrokerId == 1);
    CHECK(asked.BrokerEpoch == metadata_broker_find(&world.image, 1)->epoch);
    before = captured_count;
    CHECK(init_producer_id(&world, 0, NULL, -1, -1).ErrorCode ==
          KAFKA_ERROR_COORDINATOR_LOAD_IN_PROGRESS);
    CHECK(allocate_sent(before, &asked) == UINT32_MAX); /* One in flight is enough. */
    controller_decides_and_applies(&world, ask);
    CHECK(world.image.next_producer_id == CONTROLLER_PRODUCER_ID_BLOCK);
    u32 asks = 0;
    for (i64 expected = 0; expected < 1100; expected++) {
        captures_forget();
        i16 version = (i16)(expected % 6);
        /* A v3+ request may carry an id and epoch: without a transactional id a new id. */
        i64 carried = version >= 3 ? expected + 5000 : -1;
        answer = init_producer_id(&world, version, NULL, carried, version >= 3 ? 3 : -1);
        CHECK(answer.ErrorCode == KAFKA_ERROR_NONE);
        CHECK(answer.ProducerId == expected && answer.ProducerEpoch == 0);
        ask = allocate_sent(0, &asked);
        if (ask == UINT32_MAX) continue;
        /* After 900 of the 1000 (CONTROLLER_PRODUCER_ID_BLOCK) ids: the next block. */
        CHECK(expected == 899);
        asks++;
        controller_decides_and_applies(&world, ask);
    }
    CHECK(asks == 1);
    CHECK(world.image.next_producer_id == 2 * CONTROLLER_PRODUCER_ID_BLOCK);
    captures_forget();
    answer = init_producer_id(&world, 4, "txn", -1, -1);
    CHECK(answer.ErrorCode == KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE && answer.ProducerId == -1);
    answer = init_producer_id(&world, 3, NULL, 7, -1);
    CHECK(answer.ErrorCode == KAFKA_ERROR_INVALID_REQUEST && answer.ProducerId == -1);
    answer = init_producer_id(&world, 2, NULL, -1, -1);
    CHECK(answer.ErrorCode == KAFKA_ERROR_NONE && answer.ProducerId == 1100);
    world_deinit(&world);
}

/* The test answers the AllocateProducerIds captured at index itself (as no controller would). */
static void allocate_answer(struct world *world, u32 index, i16 error, i64 start, i32 length)
{
    struct proto_request_header header;
    struct proto_reader reader;
    captured_request(index, &header, &reader);
    union kafka_response response;
    kafka_allocate_producer_ids_response_init(&response.AllocateProducerIds);
    response.AllocateProducerIds.ErrorCode = error;
    response.AllocateProducerIds.ProducerIdStart = start;
    response.AllocateProducerIds.ProducerIdLen = length;
    static u8 frame[256];
    struct proto_writer writer;
    proto_writer_init(&writer, frame, sizeof(frame));
    ASSERT(proto_response_frame_encode(&writer, header.RequestApiKey, header.RequestApiVersion,
                                       header.CorrelationId, &response) == PROTO_OK);
    ASSERT(broker_link_on_frame(world->broker, frame + 4, writer.position - 4));
}

/* InitProducerId without an id at hand: COORDINATOR_LOAD_IN_PROGRESS, and the index of the
 * AllocateProducerIds it sent (UINT32_MAX: none). */
static u32 init_producer_id_waits(struct world *world)
{
    u32 before = captured_count;
    struct kafka_init_producer_id_response answer = init_producer_id(world, 4, NULL, -1, -1);
    CHECK(answer.ErrorCode == KAFKA_ERROR_COORDINATOR_LOAD_IN_PROGRESS);
    CHECK(answer.ProducerId == -1 && answer.ProducerEpoch == -1);
    struct kafka_allocate_producer_ids_request asked;
    return allocate_sent(before, &asked);
}

/* The controller's refusal, or a block that is malformed or not past the ids already held,
 * leaves the broker without ids until the next InitProducerId asks again; a link lost with the
 * ask in flight asks again on the new connection, and the block of the lost ask (committed,
 * never heard of) is skipped: ids never repeat. */
TEST(init_producer_id_asks_again_after_a_refusal_or_a_lost_link)
{
    struct world world;
    world_init(&world);
    world_registered(&world);
    u32 ask = init_producer_id_waits(&world);
    REQUIRE(ask != UINT32_MAX);
    /* Refused (as an older incarnation's epoch would be): the block it names is not taken. */
    allocate_answer(&world, ask, KAFKA_ERROR_STALE_BROKER_EPOCH, 0, 1000);
    ask = init_producer_id_waits(&world);
    REQUIRE(ask != UINT32_MAX);
    allocate_answer(&world, ask, KAFKA_ERROR_NONE, -1000, 1000);
    u32 lost_ask = init_producer_id_waits(&world);
    REQUIRE(lost_ask != UINT32_MAX);
    /* The link drops before the answer: the ask is given up; reconnected, the next asks. */
    broker_link_on_conn(world.broker, IO_CONN_CLOSED);
    CHECK(init_producer_id_waits(&world) == UINT32_MAX);
    world.fake->now_ns += 2 * NS_PER_S; /* Past the link's reconnect backoff. */
    broker_link_on_timer(world.broker);
    broker_link_on_conn(world.broker, IO_CONN_CONNECTED);
    ask = init_producer_id_waits(&world);
    REQUIRE(ask != UINT32_MAX);
    /* The controller committed the lost ask's block; its answer, late, is not taken. */
    controller_decides_and_applies(&world, lost_ask);
    CHECK(init_producer_id_waits(&world) == UINT32_MAX); /* The new ask is in flight. */
    controller_decides_and_applies(&world, ask);
    /* [1000, 2000): 900 ids, then the prefetch is answered with a block already held. */
    ask = UINT32_MAX;
    for (i64 expected = CONTROLLER_PRODUCER_ID_BLOCK; expected < 1900; expected++) {
        captures_forget();
        struct kafka_init_producer_id_response answer =
            init_producer_id(&world, 4, NULL, -1, -1);
        CHECK(answer.ErrorCode == KAFKA_ERROR_NONE && answer.ProducerId == expected);
        struct kafka_allocate_producer_ids_request asked;
        ask = allocate_sent(0, &asked);
    }
    REQUIRE(ask != UINT32_MAX);
    allocate_answer(&world, ask, KAFKA_ERROR_NONE, CONTROLLER_PRODUCER_ID_BLOCK, 1000);
    /* Not taken: the next id asks again (once), and the last 100 are handed out. */
    u32 asks = 0;
    for (i64 expected = 1900; expected < 2 * CONTROLLER_PRODUCER_ID_BLOCK; expected++) {
        captures_forget();
        CHECK(init_producer_id(&world, 4, NULL, -1, -1).ProducerId == expected);
        struct kafka_allocate_producer_ids_request asked;
        u32 sent = allocate_sent(0, &asked);
        if (sent == UINT32_MAX) continue;
        CHECK(expected == 1900);
        asks++;
        controller_decides_and_applies(&world, sent);
    }
    CHECK(asks == 1);
    struct kafka_init_producer_id_response answer = init_producer_id(&world, 4, NULL, -1, -1);
    CHECK(answer.ErrorCode == KAFKA_ERROR_NONE);
    CHECK(answer.ProducerId == 2 * CONTROLLER_PRODUCER_ID_BLOCK);
    world_deinit(&world);
}

/* One idempotent batch in batch_buffer: producer id, epoch, first sequence, records. */
static u32 build_idempotent_batch(i64 producer_id, i16 epoch, i32 sequence, u32 records)
{
    struct batch_builder builder;
    batch_builder_init(&builder, batch_buffer, sizeof(batch_buffer), 0, 1000);
    batch_builder_producer(&builder, producer_id, epoch, sequence, false);
    for (u32 i = 0; i < records; i++) {
        char value[32];
        int length = snprintf(value, sizeof(value), "idempotent-%d", sequence + (i32)i);
        batch_builder_add(&builder, 1000 + i, NULL, -1, (const u8 *)value, length, NULL, 0);
    }
    return (u32)batch_builder_finish(&builder);
}

/* The Produce answer (v9) of partition 0 on conn 1 after before; its error code, base offset
 * in *base and error message in *message. */
static i32 produce_answer(u32 before, i64 *base, struct proto_string *message)
{
    u32 index = answer_on(1, before);
    union kafka_response response;
    if (index == UINT32_MAX || !response_get(index, KAFKA_API_PRODUCE, 9, &response)) return -1;
    const struct kafka_produce_response_partition_produce *out =
        &response.Produce.Responses.items[0].PartitionResponses.items[0];
    *base = out->BaseOffset;
    *message = out->ErrorMessage;
    return out->ErrorCode;
}

/* Produce of an idempotent batch with acks=1: the log's producer checks reach the client as
 * Kafka's error codes (a retry is answered with the first write's offset and writes nothing,
 * a gap is OUT_OF_ORDER_SEQUENCE_NUMBER, an older epoch INVALID_PRODUCER_EPOCH, a producer
 * beyond the partition's bound a retriable REQUEST_TIMED_OUT that says why); an idempotent
 * batch must come alone and with a sequence (INVALID_RECORD). */
TEST(produce_maps_the_logs_producer_checks)
{
    struct world world;
    world_init(&world);
    world_topic(&world, "idem", 1);
    i64 base = -1;
    struct proto_string message;
    u32 size = build_idempotent_batch(42, 0, 0, 3);
    u32 before = captured_count;
    REQUIRE(produce(&world, 1, "idem", 0, 1, size));
    world_run(&world);
    CHECK(produce_answer(before, &base, &message) == KAFKA_ERROR_NONE && base == 0);
    size = build_idempotent_batch(42, 0, 3, 2);
    before = captured_count;
    REQUIRE(produce(&world, 1, "idem", 0, 1, size));
    world_run(&world);
    CHECK(produce_answer(before, &base, &message) == KAFKA_ERROR_NONE && base == 3);
    /* Both retried: answered where they were written, nothing new in the log. */
    for (u32 round = 0; round < 2; round++) {
        size = build_idempotent_batch(42, 0, round == 0 ? 0 : 3, round == 0 ? 3 : 2);
        before = captured_count;
        REQUIRE(produce(&world, 1, "idem", 0, 1, size));
        world_run(&world);
        CHECK(produce_answer(before, &base, &message) == KAFKA_ERROR_NONE);
        CHECK(base == (round == 0 ? 0 : 3));
        CHECK(list_offset(&world, "idem", 0, LOG_TIMESTAMP_LATEST) == 5);
    }
    size = build_idempotent_batch(42, 0, 9, 1); /* Sequence 5 expected. */
    before = captured_count;
    REQUIRE(produce(&world, 1, "idem", 0, 1, size));
    world_run(&world);
    CHECK(produce_answer(before, &base, &message) == KAFKA_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    CHECK(base == -1);
    size = build_idempotent_batch(42, 1, 0, 1); /* A new epoch starts at 0. */
    before = captured_count;
    REQUIRE(produce(&world, 1, "idem", 0, 1, size));
    world_run(&world);
    CHECK(produce_answer(before, &base, &message) == KAFKA_ERROR_NONE && base == 5);
    size = build_idempotent_batch(42, 0, 5, 1);
    before = captured_count;
    REQUIRE(produce(&world, 1, "idem", 0, 1, size));
    world_run(&world);
    CHECK(produce_answer(before, &base, &message) == KAFKA_ERROR_INVALID_PRODUCER_EPOCH);
    CHECK(list_offset(&world, "idem", 0, LOG_TIMESTAMP_LATEST) == 6);
    /* Two batches in one partition's records, the second idempotent; a producer id without a
     * sequence: INVALID_RECORD, nothing appended. */
    u32 first = build_batch(1, 1000);
    static u8 two[sizeof(batch_buffer)];
    memcpy(two, batch_buffer, first);
    size = build_idempotent_batch(42, 1, 1, 1);
    REQUIRE(first + size <= sizeof(two));
    memcpy(two + first, batch_buffer, size);
    memcpy(batch_buffer, two, first + size);
    before = captured_count;
    REQUIRE(produce(&world, 1, "idem", 0, 1, first + size));
    world_run(&world);
    CHECK(produce_answer(before, &base, &message) == KAFKA_ERROR_INVALID_RECORD);
    size = build_idempotent_batch(43, 0, -1, 1);
    before = captured_count;
    REQUIRE(produce(&world, 1, "idem", 0, 1, size));
    world_run(&world);
    CHECK(produce_answer(before, &base, &message) == KAFKA_ERROR_INVALID_RECORD);
    CHECK(list_offset(&world, "idem", 0, LOG_TIMESTAMP_LATEST) == 6);
    /* The partition's bound on producers (8192), lowered to one in a fresh log so that it is
     * reached: a new producer is refused with a retriable error and a reason; the known one
     * goes on. */
    world_topic(&world, "idem-full", 1);
    u32 topic = (u32)broker_topic_find(world.broker, proto_string_of("idem-full"));
    struct producer_state *producers = &world.broker->topics[topic].logs[0].producers;
    REQUIRE(producers->capacity == 0);
    producers->capacity_max = 1;
    size = build_idempotent_batch(44, 0, 0, 1);
    before = captured_count;
    REQUIRE(produce(&world, 1, "idem-full", 0, 1, size));
    world_run(&world);
    CHECK(produce_answer(before, &base, &message) == KAFKA_ERROR_NONE && base == 0);
    CHECK(message.size < 0); /* Null: nothing to explain. */
    size = build_idempotent_batch(45, 0, 0, 1);
    before = captured_count;
    REQUIRE(produce(&world, 1, "idem-full", 0, 1, size));
    world_run(&world);
    CHECK(produce_answer(before, &base, &message) == KAFKA_ERROR_REQUEST_TIMED_OUT);
    CHECK(message.size > 0 && memmem(message.data, (size_t)message.size, "producers",
                                     strlen("producers")) != NULL);
    size = build_idempotent_batch(44, 0, 1, 1);
    before = captured_count;
    REQUIRE(produce(&world, 1, "idem-full", 0, 1, size));
    world_run(&world);
    CHECK(produce_answer(before, &base, &message) == KAFKA_ERROR_NONE && base == 1);
    world_deinit(&world);
}

/* acks=all: a retry of a batch still waiting for its followers is a duplicate, and it too is
 * answered only once the high watermark passes the batch (as the first attempt is). */
TEST(produce_duplicate_with_acks_all_waits_for_the_high_watermark)
{
    struct world world;
    world_init(&world);
    world_replicated(&world, "idem-all", 2); /* ISR {1, 2}. */
    u32 size = build_idempotent_batch(7, 0, 0, 3);
    u32 before = captured_count;
    REQUIRE(produce(&world, 1, "idem-all", 0, -1, size));
    world_run(&world);
    CHECK(produce_answered(1, before, NULL) == -1);
    u32 retry = captured_count;
    REQUIRE(produce(&world, 2, "idem-all", 0, -1, size)); /* The producer's retry. */
    world_run(&world);
    CHECK(produce_answered(2, retry, NULL) == -1);
    CHECK(list_offset(&world, "idem-all", 0, LOG_TIMESTAMP_LATEST) == 0); /* Not committed. */
    replica_fetch(&world, REPLICA_2_CONN, "idem-all", 2, 0, 0, -1, 0);
    CHECK(produce_answered(2, retry, NULL) == -1);
    replica_fetch(&world, REPLICA_2_CONN, "idem-all", 2, 3, 0, 0, 0);
    i64 base = -1;
    CHECK(produce_answered(1, before, &base) == KAFKA_ERROR_NONE && base == 0);
    base = -1;
    CHECK(produce_answered(2, retry, &base) == KAFKA_ERROR_NONE && base == 0);
    /* Once committed, a late retry is answered at once with the same offset. */
    retry = captured_count;
    REQUIRE(produce(&world, 2, "idem-all", 0, -1, size));
    world_run(&world);
    base = -1;
    CHECK(produce_answered(2, retry, &base) == KAFKA_ERROR_NONE && base == 0);
    CHECK(list_offset(&world, "idem-all", 0, LOG_TIMESTAMP_LATEST) == 3);
    world_deinit(&world);
}

static const struct test_case tests[] = {
    {"flipped_valid_requests_never_crash", flipped_valid_requests_never_crash},
    {"flipped_admin_requests_never_crash", flipped_admin_requests_never_crash},
    {"api_versions_lists_exactly_the_implemented_apis",
     api_versions_lists_exactly_the_implemented_apis},
    {"metadata_auto_creates_through_the_controller_and_reports_leader_once_open",
     metadata_auto_creates_through_the_controller_and_reports_leader_once_open},
    {"metadata_names_other_leaders_and_this_broker_refuses_their_partitions",
     metadata_names_other_leaders_and_this_broker_refuses_their_partitions},
    {"admin_requests_are_forwarded_to_the_controller",
     admin_requests_are_forwarded_to_the_controller},
    {"produce_assigns_offsets_and_fetch_returns_them",
     produce_assigns_offsets_and_fetch_returns_them},
    {"produce_errors_and_acks_zero", produce_errors_and_acks_zero},
    {"produce_with_too_many_partitions_is_refused", produce_with_too_many_partitions_is_refused},
    {"many_parked_long_polls_leave_slots_for_others",
     many_parked_long_polls_leave_slots_for_others},
    {"fetch_long_poll_woken_by_produce_and_ended_by_timer",
     fetch_long_poll_woken_by_produce_and_ended_by_timer},
    {"topics_and_records_survive_a_restart", topics_and_records_survive_a_restart},
    {"topic_removed_from_the_metadata_loses_its_logs_and_files",
     topic_removed_from_the_metadata_loses_its_logs_and_files},
    {"partitions_added_in_the_metadata_open_here", partitions_added_in_the_metadata_open_here},
    {"describe_cluster_names_the_active_controller",
     describe_cluster_names_the_active_controller},
    {"describe_configs_and_overrides_from_the_metadata",
     describe_configs_and_overrides_from_the_metadata},
    {"delete_records_and_offset_for_leader_epoch", delete_records_and_offset_for_leader_epoch},
    {"malformed_and_random_frames_close_never_crash",
     malformed_and_random_frames_close_never_crash},
    {"idle_connections_close_after_connections_max_idle_ms",
     idle_connections_close_after_connections_max_idle_ms},
    {"metrics_count_requests_bytes_rejections_and_latency",
     metrics_count_requests_bytes_rejections_and_latency},
    {"retention_and_compaction_run_on_the_maintenance_timer",
     retention_and_compaction_run_on_the_maintenance_timer},
    {"deleted_topics_leave_no_directories", deleted_topics_leave_no_directories},
    {"high_watermark_is_the_durable_end_with_flush_messages_1",
     high_watermark_is_the_durable_end_with_flush_messages_1},
    {"delete_topics_v6_by_topic_id", delete_topics_v6_by_topic_id},
    {"metrics_count_error_codes_inside_answers", metrics_count_error_codes_inside_answers},
    {"latency_quantiles_interpolate_inside_buckets",
     latency_quantiles_interpolate_inside_buckets},
    {"replica_fetches_move_the_high_watermark_over_the_isr",
     replica_fetches_move_the_high_watermark_over_the_isr},
    {"produce_acks_all_waits_for_the_high_watermark",
     produce_acks_all_waits_for_the_high_watermark},
    {"fetch_checks_leader_epochs_and_divergence", fetch_checks_leader_epochs_and_divergence},
    {"lagging_follower_leaves_the_isr_and_returns", lagging_follower_leaves_the_isr_and_returns},
    {"restarted_leader_waits_for_its_registration", restarted_leader_waits_for_its_registration},
    {"init_producer_id_hands_out_ids_from_controller_blocks",
     init_producer_id_hands_out_ids_from_controller_blocks},
    {"init_producer_id_asks_again_after_a_refusal_or_a_lost_link",
     init_producer_id_asks_again_after_a_refusal_or_a_lost_link},
    {"produce_maps_the_logs_producer_checks", produce_maps_the_logs_producer_checks},
    {"produce_duplicate_with_acks_all_waits_for_the_high_watermark",
     produce_duplicate_with_acks_all_waits_for_the_high_watermark},
};

TEST_MAIN(tests)
