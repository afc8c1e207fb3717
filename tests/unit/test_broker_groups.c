/* test_broker_groups.c: the broker as a group coordinator (impl/broker/broker_groups.c over
 * impl/group/), driven with encoded requests over a fake io, as tests/unit/test_broker.c does:
 * in-memory files (tests/unit/log_fake_io.h), sends captured as frames, read pauses and timers
 * recorded; the test plays the node (it owns the metadata image and applies the controller's
 * records) and the controller (the forwarded CreateTopics is decided by the controller's own
 * code). Covered: FindCoordinator before __consumer_offsets exists (the creation with Kafka's
 * internal settings asked of the controller, COORDINATOR_NOT_AVAILABLE) and after (this broker,
 * its advertised endpoint), key type 1, Metadata's IsInternal; a JoinGroup / SyncGroup /
 * Heartbeat / OffsetCommit / OffsetFetch round whose records are persisted to the log (observed
 * as appended batches); five JoinGroups parked at once without taking request slots while a
 * Produce is served; a parked connection stays paused when back-pressure lifts and answers in
 * order; a closed connection cancels its parked request; a restart loads committed offsets
 * back from the log; a persist that the high watermark never passes times out; a leadership
 * moving away unloads the groups. */
#include "test.h"

#include "log_fake_io.h"

#include "../../impl/broker/broker.h"
#include "../../impl/controller/controller_decide.h"
#include "../../impl/group/group_coordinator.h"
#include "../../impl/metadata/metadata.h"
#include "../../impl/protocol/api_versions.h"
#include "../../impl/protocol/errors_generated.h"
#include "../../impl/protocol/header.h"
#include "../../model/history.h"

#define CAPTURED_MAX 256u
#define LINK_CONN 99u
#define LINK_TIMER 40u
#define GROUP_TIMER 41u
#define CAPTURE_SIZE (4u * 1024u * 1024u)
#define OFFSETS_PARTITIONS 4u
#define OFFSETS "__consumer_offsets"

struct captured {
    io_conn conn;
    u32 position;
    u32 size;
};

static u8 capture_bytes[CAPTURE_SIZE];
static u32 capture_used;
static struct captured captured[CAPTURED_MAX];
static u32 captured_count;
static u64 timer_deadline[IO_TIMERS_MAX];
static bool conn_paused[128];
static bool conn_closed[128];
static u32 appended_observed; /* HISTORY_REPLICA_APPENDED of __consumer_offsets batches. */
static u64 offsets_topic_hash;
static u64 appended_last_offset; /* Of the last one observed. */

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
    ASSERT(last->conn == conn);
    memcpy(capture_bytes + capture_used, bytes, size);
    capture_used += size;
    last->size += size;
    return IO_OK;
}

static enum io_result test_send_file(void *context, io_conn conn, io_file file, u64 offset,
                                     u32 size)
{
    struct fake_file *source = fake_file_of(context, file);
    ASSERT(source != NULL && offset + size <= source->current.size);
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
    if (tag == BROKER_FETCHER_CONN_TAG) return LINK_CONN - 1;
    ASSERT(strcmp(endpoint, "127.0.0.1:9093") == 0 && tag == BROKER_LINK_CONN_TAG);
    return LINK_CONN;
}

static void test_close(void *context, io_conn conn)
{
    (void)context;
    if (conn < ARRAY_LEN(conn_closed)) conn_closed[conn] = true;
}

static void test_observe(void *context, const struct io_observation *observation)
{
    (void)context;
    if (observation->kind == HISTORY_REPLICA_APPENDED && observation->a == offsets_topic_hash) {
        appended_observed++;
        appended_last_offset = observation->d;
    }
}

static struct io_vtable test_vtable;

struct world {
    struct fake_io *fake;
    struct broker *broker;
    struct node_config config;
    struct metadata_image image;
    i64 offset;
};

static void world_start(struct world *world)
{
    world->broker = broker_create(&world->config, &world->fake->io, 0);
    ASSERT(world->broker != NULL);
    broker_attach_metadata(world->broker, &world->image, LINK_TIMER);
    broker_attach_group_timer(world->broker, GROUP_TIMER);
    broker_start(world->broker);
    broker_on_metadata(world->broker);
}

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

static void world_register(struct world *world, i32 id, u16 port)
{
    struct metadata_record self = {.type = METADATA_REGISTER_BROKER};
    self.as.register_broker.broker_id = id;
    snprintf(self.as.register_broker.host, METADATA_HOST_MAX, "127.0.0.1");
    self.as.register_broker.port = port;
    world_apply(world, &self);
    struct metadata_record unfence = {.type = METADATA_UNFENCE_BROKER};
    unfence.as.unfence_broker.broker_id = id;
    unfence.as.unfence_broker.broker_epoch = world->offset;
    world_apply(world, &unfence);
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
    world->fake = fake_io_create(11);
    world->fake->io.vtable = &test_vtable;
    world->fake->now_ns = 1000u * NS_PER_MS;
    config_defaults(&world->config);
    world->config.node_id = 1;
    world->config.roles = CONFIG_ROLE_BROKER | CONFIG_ROLE_CONTROLLER;
    world->config.voters[0].id = 1;
    snprintf(world->config.voters[0].endpoint, CONFIG_ENDPOINT_MAX, "127.0.0.1:9093");
    world->config.voter_count = 1;
    snprintf(world->config.listeners[0].endpoint, CONFIG_ENDPOINT_MAX, "127.0.0.1:9092");
    world->config.log_segment_bytes = 1u << 20;
    world->config.offsets_topic_num_partitions = OFFSETS_PARTITIONS;
    world->config.offsets_topic_replication_factor = 1;
    world->config.group_initial_rebalance_delay_ms = 100;
    ASSERT(metadata_image_init(&world->image));
    world->offset = -1;
    world_register(world, 1, 9092);
    capture_used = 0;
    captured_count = 0;
    appended_observed = 0;
    offsets_topic_hash = 0;
    memset(timer_deadline, 0, sizeof(timer_deadline));
    memset(conn_paused, 0, sizeof(conn_paused));
    memset(conn_closed, 0, sizeof(conn_closed));
    world_start(world);
    world_run(world);
}

static void world_deinit(struct world *world)
{
    broker_destroy(world->broker);
    fake_io_destroy(world->fake);
    metadata_image_free(&world->image);
    fake_held_drop_all();
}

static void world_restart(struct world *world)
{
    broker_destroy(world->broker);
    fake_held_drop_all();
    memset(timer_deadline, 0, sizeof(timer_deadline));
    memset(conn_paused, 0, sizeof(conn_paused));
    world_start(world);
    world_run(world);
}

/* Fires the group timer at its deadline (moving the clock there); false when not armed. */
static bool group_timer_fire(struct world *world)
{
    if (timer_deadline[GROUP_TIMER] == 0) return false;
    world->fake->now_ns = MAX(world->fake->now_ns, timer_deadline[GROUP_TIMER]);
    timer_deadline[GROUP_TIMER] = 0;
    broker_groups_on_timer(world->broker);
    world_run(world);
    return true;
}

/* Moves the clock by ms, firing the group timer whenever it falls due on the way. */
static void world_wait(struct world *world, u64 ms)
{
    u64 until = world->fake->now_ns + ms * NS_PER_MS;
    for (u32 guard = 0; guard < 10000; guard++) {
        u64 due = timer_deadline[GROUP_TIMER];
        if (due == 0 || due > until) break;
        group_timer_fire(world);
    }
    world->fake->now_ns = MAX(world->fake->now_ns, until);
}

static struct metadata_uuid topic_id_of(const char *name)
{
    struct metadata_uuid id;
    u64 hash = 1469598103934665603ull;
    for (const char *c = name; *c != '\0'; c++) hash = (hash ^ (u8)*c) * 1099511628211ull;
    store_u64_be(id.bytes, hash);
    store_u64_be(id.bytes + 8, hash * 31u + 7u);
    return id;
}

/* A topic of this broker's (replicas as given, leader the first), its logs opened. */
static void world_topic_replicas(struct world *world, const char *name, u32 partitions,
                                 const i32 *replicas, u32 replica_count)
{
    struct metadata_record record = {.type = METADATA_TOPIC};
    snprintf(record.as.topic.name, sizeof(record.as.topic.name), "%s", name);
    record.as.topic.topic_id = topic_id_of(name);
    world_apply(world, &record);
    if (strcmp(name, OFFSETS) == 0) {
        offsets_topic_hash = history_topic_hash(record.as.topic.topic_id.bytes);
    }
    for (u32 p = 0; p < partitions; p++) {
        struct metadata_record part = {.type = METADATA_PARTITION};
        struct metadata_partition_record *r = &part.as.partition;
        r->topic_id = record.as.topic.topic_id;
        r->partition_id = (i32)p;
        for (u32 i = 0; i < replica_count; i++) r->replicas.ids[i] = replicas[i];
        r->replicas.count = replica_count;
        r->isr = r->replicas;
        r->leader = replicas[0];
        world_apply(world, &part);
    }
    broker_on_metadata(world->broker);
    world_run(world);
}

static void world_topic(struct world *world, const char *name, u32 partitions)
{
    i32 self = 1;
    world_topic_replicas(world, name, partitions, &self, 1);
}

static i32 correlation_next = 100;

static bool world_request(struct world *world, io_conn conn, i16 key, i16 version,
                          const union kafka_request *body)
{
    static u8 frame[1u << 20];
    struct proto_request_header header = {key, version, correlation_next++,
                                           proto_string_of("member"), 0};
    struct proto_writer writer;
    proto_writer_init(&writer, frame, sizeof(frame));
    ASSERT(proto_request_frame_encode(&writer, &header, body) == PROTO_OK);
    return broker_on_frame(world->broker, conn, frame + 4, writer.position - 4);
}

static u8 response_arena[1u << 20];

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

/* The index of the last frame captured on conn, or -1. */
static i32 last_on(io_conn conn)
{
    for (u32 i = captured_count; i > 0; i--) {
        if (captured[i - 1].conn == conn) return (i32)(i - 1);
    }
    return -1;
}

static u32 count_on(io_conn conn)
{
    u32 count = 0;
    for (u32 i = 0; i < captured_count; i++) count += captured[i].conn == conn;
    return count;
}

/* ===== Requests ===== */

static i16 find_coordinator(struct world *world, io_conn conn, i16 version, i8 key_type,
                            const char *key, struct kafka_find_coordinator_response *out)
{
    union kafka_request body;
    kafka_find_coordinator_request_init(&body.FindCoordinator);
    body.FindCoordinator.Key = proto_string_of(key);
    body.FindCoordinator.KeyType = key_type;
    ASSERT(world_request(world, conn, KAFKA_API_FIND_COORDINATOR, version, &body));
    union kafka_response response;
    i32 index = last_on(conn);
    ASSERT(index >= 0 && response_get((u32)index, KAFKA_API_FIND_COORDINATOR, version, &response));
    *out = response.FindCoordinator;
    return response.FindCoordinator.ErrorCode;
}

/* ConsumerProtocolSubscription v0 of topic "t". */
static const u8 subscription[] = {0, 0, 0, 0, 0, 1, 0, 1, 't', 0xff, 0xff, 0xff, 0xff};

static void join_request(union kafka_request *body, struct kafka_join_group_request_protocol *p,
                         const char *group, const char *member_id)
{
    kafka_join_group_request_init(&body->JoinGroup);
    kafka_join_group_request_protocol_init(p);
    p->Name = proto_string_of("range");
    p->Metadata = (struct proto_bytes){subscription, (i32)sizeof(subscription)};
    body->JoinGroup.GroupId = proto_string_of(group);
    body->JoinGroup.SessionTimeoutMs = 10000;
    body->JoinGroup.RebalanceTimeoutMs = 30000;
    body->JoinGroup.MemberId = proto_string_of(member_id);
    body->JoinGroup.ProtocolType = proto_string_of("consumer");
    body->JoinGroup.Protocols.items = p;
    body->JoinGroup.Protocols.count = 1;
}

/* JoinGroup v3 (no MEMBER_ID_REQUIRED round): true when the broker took it. */
static bool join(struct world *world, io_conn conn, const char *group, const char *member_id)
{
    union kafka_request body;
    struct kafka_join_group_request_protocol protocol;
    join_request(&body, &protocol, group, member_id);
    return world_request(world, conn, KAFKA_API_JOIN_GROUP, 3, &body);
}

static char member_ids[8][128];

/* The JoinGroup answer last captured on conn (copied member id in member_ids[slot]). */
static bool join_answer(io_conn conn, u32 slot, struct kafka_join_group_response *out)
{
    i32 index = last_on(conn);
    union kafka_response response;
    if (index < 0 || !response_get((u32)index, KAFKA_API_JOIN_GROUP, 3, &response)) return false;
    *out = response.JoinGroup;
    snprintf(member_ids[slot], sizeof(member_ids[slot]), "%.*s",
             MAX(out->MemberId.size, 0), out->MemberId.size > 0 ? out->MemberId.data : "");
    return true;
}

static bool sync_group(struct world *world, io_conn conn, const char *group, i32 generation,
                       const char *member, const u8 *assignment, u32 size)
{
    union kafka_request body;
    struct kafka_sync_group_request_assignment a;
    kafka_sync_group_request_init(&body.SyncGroup);
    kafka_sync_group_request_assignment_init(&a);
    a.MemberId = proto_string_of(member);
    a.Assignment = (struct proto_bytes){assignment, (i32)size};
    body.SyncGroup.GroupId = proto_string_of(group);
    body.SyncGroup.GenerationId = generation;
    body.SyncGroup.MemberId = proto_string_of(member);
    body.SyncGroup.Assignments.items = &a;
    body.SyncGroup.Assignments.count = assignment != NULL ? 1 : 0;
    return world_request(world, conn, KAFKA_API_SYNC_GROUP, 3, &body);
}

static i16 heartbeat(struct world *world, io_conn conn, const char *group, i32 generation,
                     const char *member)
{
    union kafka_request body;
    kafka_heartbeat_request_init(&body.Heartbeat);
    body.Heartbeat.GroupId = proto_string_of(group);
    body.Heartbeat.GenerationId = generation;
    body.Heartbeat.MemberId = proto_string_of(member);
    ASSERT(world_request(world, conn, KAFKA_API_HEARTBEAT, 3, &body));
    union kafka_response response;
    i32 index = last_on(conn);
    ASSERT(index >= 0 && response_get((u32)index, KAFKA_API_HEARTBEAT, 3, &response));
    return response.Heartbeat.ErrorCode;
}

static bool offset_commit(struct world *world, io_conn conn, const char *group, i32 generation,
                          const char *member, i32 partition, i64 offset)
{
    union kafka_request body;
    struct kafka_offset_commit_request_topic t;
    struct kafka_offset_commit_request_partition p;
    kafka_offset_commit_request_init(&body.OffsetCommit);
    kafka_offset_commit_request_topic_init(&t);
    kafka_offset_commit_request_partition_init(&p);
    p.PartitionIndex = partition;
    p.CommittedOffset = offset;
    p.CommittedMetadata = proto_string_of("");
    t.Name = proto_string_of("t");
    t.Partitions.items = &p;
    t.Partitions.count = 1;
    body.OffsetCommit.GroupId = proto_string_of(group);
    body.OffsetCommit.GenerationIdOrMemberEpoch = generation;
    body.OffsetCommit.MemberId = proto_string_of(member);
    body.OffsetCommit.Topics.items = &t;
    body.OffsetCommit.Topics.count = 1;
    return world_request(world, conn, KAFKA_API_OFFSET_COMMIT, 7, &body);
}

/* The OffsetCommit answer last captured on conn: its partition's error, or -1000. */
static i32 offset_commit_answer(io_conn conn)
{
    i32 index = last_on(conn);
    union kafka_response response;
    if (index < 0 || !response_get((u32)index, KAFKA_API_OFFSET_COMMIT, 7, &response) ||
        response.OffsetCommit.Topics.count != 1 ||
        response.OffsetCommit.Topics.items[0].Partitions.count != 1) {
        return -1000;
    }
    return response.OffsetCommit.Topics.items[0].Partitions.items[0].ErrorCode;
}

/* OffsetFetch v5 of topic "t" partition: the committed offset, or -1000 - the error. */
static i64 offset_fetch(struct world *world, io_conn conn, const char *group, i32 partition)
{
    union kafka_request body;
    struct kafka_offset_fetch_request_topic t;
    kafka_offset_fetch_request_init(&body.OffsetFetch);
    kafka_offset_fetch_request_topic_init(&t);
    t.Name = proto_string_of("t");
    t.PartitionIndexes.items = &partition;
    t.PartitionIndexes.count = 1;
    body.OffsetFetch.GroupId = proto_string_of(group);
    body.OffsetFetch.Topics.items = &t;
    body.OffsetFetch.Topics.count = 1;
    u32 before = captured_count;
    ASSERT(world_request(world, conn, KAFKA_API_OFFSET_FETCH, 5, &body));
    if (captured_count != before + 1) return -2000; /* Not answered at once. */
    union kafka_response response;
    ASSERT(response_get(before, KAFKA_API_OFFSET_FETCH, 5, &response));
    if (response.OffsetFetch.ErrorCode != 0) return -1000 - response.OffsetFetch.ErrorCode;
    ASSERT(response.OffsetFetch.Topics.count == 1);
    ASSERT(response.OffsetFetch.Topics.items[0].Partitions.count == 1);
    const struct kafka_offset_fetch_response_partition *p =
        &response.OffsetFetch.Topics.items[0].Partitions.items[0];
    if (p->ErrorCode != 0) return -1000 - p->ErrorCode;
    return p->CommittedOffset;
}

static u8 batch_buffer[4096];

static bool produce(struct world *world, io_conn conn, const char *topic, i16 acks)
{
    struct batch_builder builder;
    batch_builder_init(&builder, batch_buffer, sizeof(batch_buffer), 0, 1000);
    batch_builder_add(&builder, 1000, (const u8 *)"k", 1, (const u8 *)"v", 1, NULL, 0);
    u32 size = (u32)batch_builder_finish(&builder);
    union kafka_request body;
    struct kafka_produce_request_topic_produce_data t;
    struct kafka_produce_request_partition_produce_data p;
    kafka_produce_request_init(&body.Produce);
    kafka_produce_request_topic_produce_data_init(&t);
    kafka_produce_request_partition_produce_data_init(&p);
    p.Index = 0;
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

static bool fetch_parked(struct world *world, io_conn conn, const char *topic)
{
    union kafka_request body;
    struct kafka_fetch_request_topic t;
    struct kafka_fetch_request_partition p;
    kafka_fetch_request_init(&body.Fetch);
    kafka_fetch_request_topic_init(&t);
    kafka_fetch_request_partition_init(&p);
    p.Partition = 0;
    p.FetchOffset = 0; /* The log end of an empty log: the long poll waits. */
    p.PartitionMaxBytes = 1 << 20;
    t.Topic = proto_string_of(topic);
    t.Partitions.items = &p;
    t.Partitions.count = 1;
    body.Fetch.MaxWaitMs = 500;
    body.Fetch.MinBytes = 1;
    body.Fetch.MaxBytes = 1 << 20;
    body.Fetch.Topics.items = &t;
    body.Fetch.Topics.count = 1;
    return world_request(world, conn, KAFKA_API_FETCH, 12, &body);
}

/* A group of one member joined and synced on conn: its generation (member in member_ids[0]). */
static i32 group_of_one(struct world *world, io_conn conn, const char *group)
{
    ASSERT(join(world, conn, group, ""));
    for (u32 i = 0; i < 10 && last_on(conn) < 0; i++) group_timer_fire(world);
    struct kafka_join_group_response joined;
    ASSERT(join_answer(conn, 0, &joined) && joined.ErrorCode == 0);
    static const u8 assignment[] = {0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 0,
                                    0xff, 0xff, 0xff, 0xff};
    u32 before = count_on(conn);
    ASSERT(sync_group(world, conn, group, joined.GenerationId, member_ids[0], assignment,
                      sizeof(assignment)));
    world_run(world);
    for (u32 i = 0; i < 10 && count_on(conn) == before; i++) group_timer_fire(world);
    union kafka_response response;
    ASSERT(response_get((u32)last_on(conn), KAFKA_API_SYNC_GROUP, 3, &response));
    ASSERT(response.SyncGroup.ErrorCode == 0);
    return joined.GenerationId;
}

/* ===== The controller's part ===== */

static u32 world_link(struct world *world)
{
    broker_set_controller(world->broker, 1);
    broker_link_on_conn(world->broker, IO_CONN_CONNECTED);
    ASSERT(captured_count > 0 && captured[captured_count - 1].conn == LINK_CONN);
    return captured_count - 1;
}

static void captured_request(u32 index, struct proto_request_header *header,
                             struct proto_reader *reader)
{
    const u8 *bytes = capture_bytes + captured[index].position;
    proto_reader_init(reader, bytes + 4, captured[index].size - 4);
    ASSERT(proto_request_header_decode(reader, header) == PROTO_OK);
}

/* The controller decides the request captured at index with its own code; the broker gets its
 * answer and the node's image its records. */
static void controller_decides(struct world *world, u32 index)
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

/* ===== Tests ===== */

TEST(find_coordinator_asks_for_the_offsets_topic_then_names_its_leader)
{
    struct world world;
    world_init(&world);
    world_link(&world);
    struct kafka_find_coordinator_response found;
    u32 before = captured_count;
    CHECK(find_coordinator(&world, 1, 2, 0, "g1", &found) ==
          KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE);
    CHECK(found.NodeId == -1);
    /* The creation went to the controller first, with Kafka's internal-topic settings. */
    REQUIRE(captured_count == before + 2 && captured[before].conn == LINK_CONN);
    u32 create_index = before;
    struct proto_request_header header;
    struct proto_reader reader;
    captured_request(before, &header, &reader);
    REQUIRE(header.RequestApiKey == KAFKA_API_CREATE_TOPICS);
    static u8 arena_memory[4096];
    struct proto_arena arena;
    proto_arena_init(&arena, arena_memory, sizeof(arena_memory));
    struct kafka_create_topics_request create;
    REQUIRE(kafka_create_topics_request_decode(&reader, header.RequestApiVersion, &create,
                                               &arena) == PROTO_OK);
    REQUIRE(create.Topics.count == 1);
    const struct kafka_create_topics_request_creatable_topic *topic = &create.Topics.items[0];
    CHECK(proto_string_equal_cstr(topic->Name, OFFSETS));
    CHECK(topic->NumPartitions == (i32)OFFSETS_PARTITIONS);
    CHECK(topic->ReplicationFactor == 1);
    bool compact = false, segment = false;
    for (i32 i = 0; i < topic->Configs.count; i++) {
        const struct kafka_create_topics_request_creatable_topic_config *c =
            &topic->Configs.items[i];
        compact = compact || (proto_string_equal_cstr(c->Name, "cleanup.policy") &&
                              proto_string_equal_cstr(c->Value, "compact"));
        segment = segment || (proto_string_equal_cstr(c->Name, "segment.bytes") &&
                              proto_string_equal_cstr(c->Value, "104857600"));
    }
    CHECK(compact && segment);
    /* One creation in flight: asking again does not send another. */
    before = captured_count;
    CHECK(find_coordinator(&world, 1, 2, 0, "g1", &found) ==
          KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE);
    CHECK(captured_count == before + 1);
    /* The controller creates it; its logs open here and load. */
    controller_decides(&world, create_index);
    const struct metadata_topic *offsets = metadata_topic_find(&world.image, OFFSETS,
                                                               (u32)strlen(OFFSETS));
    REQUIRE(offsets != NULL);
    CHECK(offsets->partition_count == OFFSETS_PARTITIONS);
    for (u32 p = 0; p < OFFSETS_PARTITIONS; p++) {
        CHECK(group_partition_state(broker_group_coordinator(world.broker), p) ==
              GROUP_PARTITION_LOADED);
    }
    for (i16 version = 0; version <= 3; version++) {
        CHECK(find_coordinator(&world, 2, version, 0, "g1", &found) == KAFKA_ERROR_NONE);
        CHECK(found.NodeId == 1);
        CHECK(proto_string_equal_cstr(found.Host, "127.0.0.1"));
        CHECK(found.Port == 9092);
    }
    /* Transactions are not served: no transaction coordinator (retriable, as while loading). */
    CHECK(find_coordinator(&world, 2, 3, 1, "txn", &found) ==
          KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE);
    CHECK(found.NodeId == -1);
    CHECK(find_coordinator(&world, 2, 3, 2, "what", &found) == KAFKA_ERROR_INVALID_REQUEST);
    /* Metadata names it an internal topic. */
    union kafka_request body;
    kafka_metadata_request_init(&body.Metadata);
    body.Metadata.Topics.count = -1;
    before = captured_count;
    REQUIRE(world_request(&world, 3, KAFKA_API_METADATA, 9, &body));
    union kafka_response response;
    REQUIRE(response_get(before, KAFKA_API_METADATA, 9, &response));
    bool internal = false;
    for (i32 i = 0; i < response.Metadata.Topics.count; i++) {
        const struct kafka_metadata_response_topic *t = &response.Metadata.Topics.items[i];
        if (proto_string_equal_cstr(t->Name, OFFSETS)) internal = t->IsInternal;
    }
    CHECK(internal);
    world_deinit(&world);
}

/* Another broker leads the group's partition: FindCoordinator names it. */
TEST(find_coordinator_names_another_leader)
{
    struct world world;
    world_init(&world);
    world_register(&world, 2, 9192);
    i32 replicas[] = {2, 1};
    world_topic_replicas(&world, OFFSETS, OFFSETS_PARTITIONS, replicas, 2);
    struct kafka_find_coordinator_response found;
    CHECK(find_coordinator(&world, 1, 1, 0, "g1", &found) == KAFKA_ERROR_NONE);
    CHECK(found.NodeId == 2 && found.Port == 9192);
    /* Not led here: the group's requests answer NOT_COORDINATOR. */
    CHECK(heartbeat(&world, 1, "g1", 1, "m") == KAFKA_ERROR_NOT_COORDINATOR);
    world_deinit(&world);
}

TEST(join_sync_heartbeat_commit_fetch_persisted_to_the_log)
{
    struct world world;
    world_init(&world);
    world_topic(&world, OFFSETS, OFFSETS_PARTITIONS);
    world_topic(&world, "t", 2);
    u32 group_partition = group_partition_of("g1", 2, OFFSETS_PARTITIONS);
    const struct metadata_topic *offsets = metadata_topic_find(&world.image, OFFSETS,
                                                               (u32)strlen(OFFSETS));
    REQUIRE(offsets != NULL);
    /* The JoinGroup waits for the initial rebalance delay, parked, its connection paused. */
    u32 before = captured_count;
    REQUIRE(join(&world, 1, "g1", ""));
    CHECK(captured_count == before);
    CHECK(conn_paused[1]);
    CHECK(timer_deadline[GROUP_TIMER] != 0);
    world_wait(&world, 5000);
    REQUIRE(captured_count == before + 1);
    CHECK(!conn_paused[1]);
    struct kafka_join_group_response joined;
    REQUIRE(join_answer(1, 0, &joined));
    CHECK(joined.ErrorCode == 0);
    CHECK(joined.GenerationId == 1);
    CHECK(proto_string_equal_cstr(joined.Leader, member_ids[0]));
    CHECK(joined.Members.count == 1);
    /* SyncGroup: the assignment is written to the group's partition before it is answered. */
    static const u8 assignment[] = {0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 2, 0, 0, 0, 0,
                                    0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff};
    u32 appended_before = appended_observed;
    before = captured_count;
    REQUIRE(sync_group(&world, 1, "g1", joined.GenerationId, member_ids[0], assignment,
                       sizeof(assignment)));
    u64 sent_ns = world.fake->now_ns;
    world_run(&world);
    /* Answered as the append completes (a lone replica's high watermark follows its log end),
     * not at a timer. */
    REQUIRE(captured_count == before + 1);
    CHECK(world.fake->now_ns == sent_ns);
    union kafka_response response;
    REQUIRE(response_get(before, KAFKA_API_SYNC_GROUP, 3, &response));
    CHECK(response.SyncGroup.ErrorCode == 0);
    CHECK(response.SyncGroup.Assignment.size == (i32)sizeof(assignment));
    CHECK(appended_observed > appended_before);
    CHECK(heartbeat(&world, 1, "g1", joined.GenerationId, member_ids[0]) == 0);
    /* OffsetCommit answers once its record is committed (the high watermark passed it). */
    appended_before = appended_observed;
    before = captured_count;
    REQUIRE(offset_commit(&world, 1, "g1", joined.GenerationId, member_ids[0], 1, 42));
    CHECK(captured_count == before); /* Parked until its record is committed. */
    world_run(&world);
    REQUIRE(captured_count == before + 1);
    CHECK(offset_commit_answer(1) == 0);
    CHECK(appended_observed == appended_before + 1);
    CHECK(offset_fetch(&world, 2, "g1", 1) == 42);
    CHECK(offset_fetch(&world, 2, "g1", 0) == -1); /* Never committed. */
    CHECK(offset_fetch(&world, 2, "other", 1) == -1);
    /* The records are in the group's partition of the log. */
    (void)offsets;
    CHECK(group_partition < OFFSETS_PARTITIONS);
    struct group_summary summary;
    REQUIRE(group_coordinator_group(broker_group_coordinator(world.broker), 0, &summary));
    CHECK(strcmp(summary.group_id, "g1") == 0);
    CHECK(strcmp(summary.state, "Stable") == 0);
    CHECK(summary.partition == group_partition);
    CHECK(summary.offsets == 1);
    group_coordinator_invariants(broker_group_coordinator(world.broker));
    world_deinit(&world);
}

/* Five members wait in JoinGroup at once: none takes a request slot, so a Produce on another
 * connection is still served; the rebalance then answers all five. */
TEST(parked_joins_take_no_request_slot)
{
    struct world world;
    world_init(&world);
    world_topic(&world, OFFSETS, OFFSETS_PARTITIONS);
    world_topic(&world, "t", 1);
    u32 before = captured_count;
    for (io_conn conn = 1; conn <= 5; conn++) REQUIRE(join(&world, conn, "g5", ""));
    CHECK(captured_count == before);
    for (io_conn conn = 1; conn <= 5; conn++) CHECK(conn_paused[conn]);
    REQUIRE(produce(&world, 9, "t", 1));
    world_run(&world);
    REQUIRE(captured_count == before + 1 && captured[before].conn == 9);
    union kafka_response response;
    REQUIRE(response_get(before, KAFKA_API_PRODUCE, 9, &response));
    CHECK(response.Produce.Responses.items[0].PartitionResponses.items[0].ErrorCode == 0);
    CHECK(!conn_paused[9]);
    world_wait(&world, 35000);
    u32 leaders = 0;
    for (io_conn conn = 1; conn <= 5; conn++) {
        struct kafka_join_group_response joined;
        REQUIRE(join_answer(conn, conn, &joined));
        CHECK(joined.ErrorCode == 0);
        CHECK(joined.GenerationId == 1);
        leaders += joined.Members.count == 5;
        CHECK(!conn_paused[conn]);
    }
    CHECK(leaders == 1); /* Only the leader gets every member's metadata. */
    world_deinit(&world);
}

/* A parked request's connection stays paused when back-pressure lifts (a slot frees), and its
 * answer leaves before anything it sends next. */
TEST(parked_connection_stays_paused_and_answers_in_order)
{
    struct world world;
    world_init(&world);
    world_topic(&world, OFFSETS, OFFSETS_PARTITIONS);
    world_topic(&world, "t", 1);
    u32 before = captured_count;
    REQUIRE(join(&world, 1, "g", ""));
    CHECK(conn_paused[1]);
    /* Four long polls take every slot: reading pauses everywhere. */
    for (io_conn conn = 5; conn <= 8; conn++) REQUIRE(fetch_parked(&world, conn, "t"));
    world_run(&world);
    CHECK(captured_count == before);
    CHECK(conn_paused[1]);
    /* A long poll ends: its slot frees and reading resumes, but not on the parked one. */
    REQUIRE(timer_deadline[0] != 0);
    world.fake->now_ns = MAX(world.fake->now_ns, timer_deadline[0]);
    timer_deadline[0] = 0;
    broker_on_timer(world.broker, 0);
    world_run(&world);
    CHECK(count_on(5) == 1);
    CHECK(conn_paused[1]);
    CHECK(count_on(1) == 0);
    world_wait(&world, 5000);
    CHECK(count_on(1) == 1);
    CHECK(!conn_paused[1]);
    struct kafka_join_group_response joined;
    REQUIRE(join_answer(1, 0, &joined));
    CHECK(joined.ErrorCode == 0);
    /* Its next request is answered after it. */
    CHECK(heartbeat(&world, 1, "g", joined.GenerationId, member_ids[0]) ==
          KAFKA_ERROR_NONE);
    CHECK(count_on(1) == 2);
    world_deinit(&world);
}

/* A connection that closes while its JoinGroup waits cancels it: nothing is sent on it. */
TEST(closed_connection_cancels_its_parked_request)
{
    struct world world;
    world_init(&world);
    world_topic(&world, OFFSETS, OFFSETS_PARTITIONS);
    REQUIRE(join(&world, 1, "g", ""));
    REQUIRE(join(&world, 2, "g", ""));
    CHECK(conn_paused[1] && conn_paused[2]);
    broker_conn_closed(world.broker, 1);
    world_wait(&world, 35000);
    CHECK(count_on(1) == 0);
    CHECK(count_on(2) == 1);
    struct kafka_join_group_response joined;
    REQUIRE(join_answer(2, 0, &joined));
    CHECK(joined.ErrorCode == 0);
    group_coordinator_invariants(broker_group_coordinator(world.broker));
    world_deinit(&world);
}

/* Committed offsets survive a restart: the new broker loads them from __consumer_offsets. */
TEST(restart_loads_committed_offsets)
{
    struct world world;
    world_init(&world);
    world_topic(&world, OFFSETS, OFFSETS_PARTITIONS);
    world_topic(&world, "t", 2);
    i32 generation = group_of_one(&world, 1, "keep");
    u32 before = captured_count;
    REQUIRE(offset_commit(&world, 1, "keep", generation, member_ids[0], 0, 7));
    world_run(&world);
    for (u32 i = 0; i < 10 && captured_count == before; i++) group_timer_fire(&world);
    CHECK(offset_commit_answer(1) == 0);
    before = captured_count;
    REQUIRE(offset_commit(&world, 1, "keep", generation, member_ids[0], 0, 9));
    world_run(&world);
    for (u32 i = 0; i < 10 && captured_count == before; i++) group_timer_fire(&world);
    CHECK(offset_commit_answer(1) == 0);
    CHECK(offset_fetch(&world, 2, "keep", 0) == 9);
    world_restart(&world);
    for (u32 p = 0; p < OFFSETS_PARTITIONS; p++) {
        CHECK(group_partition_state(broker_group_coordinator(world.broker), p) ==
              GROUP_PARTITION_LOADED);
    }
    CHECK(offset_fetch(&world, 3, "keep", 0) == 9);
    CHECK(offset_fetch(&world, 3, "keep", 1) == -1);
    group_coordinator_invariants(broker_group_coordinator(world.broker));
    world_deinit(&world);
}

/* This broker's current registration reaches the image (the link's BrokerRegistration, with
 * the incarnation id it drew, applied as the controller would): only then does it lead a
 * partition with other replicas (broker_replication.h). */
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
}

/* A persist the high watermark never passes (a follower in the ISR that never fetches) ends
 * after offsets.commit.timeout.ms: the SyncGroup waiting on it is answered with an error. */
TEST(persist_times_out_without_the_followers)
{
    struct world world;
    world_init(&world);
    world.config.offsets_commit_timeout_ms = 500;
    world_restart(&world);
    world_self_current(&world);
    world_register(&world, 2, 9192);
    i32 replicas[] = {1, 2};
    world_topic_replicas(&world, OFFSETS, OFFSETS_PARTITIONS, replicas, 2);
    for (u32 p = 0; p < OFFSETS_PARTITIONS; p++) {
        CHECK(group_partition_state(broker_group_coordinator(world.broker), p) ==
              GROUP_PARTITION_LOADED);
    }
    REQUIRE(join(&world, 1, "slow", ""));
    world_wait(&world, 5000);
    struct kafka_join_group_response joined;
    REQUIRE(join_answer(1, 0, &joined));
    REQUIRE(joined.ErrorCode == 0);
    static const u8 assignment[] = {0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    u32 appended_before = appended_observed;
    u32 before = count_on(1);
    REQUIRE(sync_group(&world, 1, "slow", joined.GenerationId, member_ids[0], assignment,
                       sizeof(assignment)));
    world_run(&world);
    CHECK(appended_observed == appended_before + 1);
    world_wait(&world, 400);
    CHECK(count_on(1) == before); /* The follower has not fetched it: not committed. */
    world_wait(&world, 200);
    REQUIRE(count_on(1) == before + 1);
    union kafka_response response;
    REQUIRE(response_get((u32)last_on(1), KAFKA_API_SYNC_GROUP, 3, &response));
    CHECK(response.SyncGroup.ErrorCode != KAFKA_ERROR_NONE);
    CHECK(!conn_paused[1]);
    group_coordinator_invariants(broker_group_coordinator(world.broker));
    world_deinit(&world);
}

/* The same persist, answered the moment the follower's fetch shows it has the batch: the high
 * watermark moves on that fetch, and the parked SyncGroup is answered with no time passing. */
TEST(persist_answers_once_the_follower_has_it)
{
    struct world world;
    world_init(&world);
    world_self_current(&world);
    world_register(&world, 2, 9192);
    i32 replicas[] = {1, 2};
    world_topic_replicas(&world, OFFSETS, OFFSETS_PARTITIONS, replicas, 2);
    REQUIRE(join(&world, 1, "quick", ""));
    world_wait(&world, 5000);
    struct kafka_join_group_response joined;
    REQUIRE(join_answer(1, 0, &joined));
    REQUIRE(joined.ErrorCode == 0);
    static const u8 assignment[] = {0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    u32 before = count_on(1);
    u32 appended_before = appended_observed;
    REQUIRE(sync_group(&world, 1, "quick", joined.GenerationId, member_ids[0], assignment,
                       sizeof(assignment)));
    world_run(&world);
    REQUIRE(appended_observed == appended_before + 1);
    CHECK(count_on(1) == before);
    /* Follower 2 fetches at the leader's log end: it has the batch. */
    union kafka_request body;
    struct kafka_fetch_request_topic t;
    struct kafka_fetch_request_partition p;
    kafka_fetch_request_init(&body.Fetch);
    kafka_fetch_request_topic_init(&t);
    kafka_fetch_request_partition_init(&p);
    p.Partition = (i32)group_partition_of("quick", 5, OFFSETS_PARTITIONS);
    p.FetchOffset = (i64)appended_last_offset + 1;
    p.CurrentLeaderEpoch = 0;
    p.LastFetchedEpoch = 0;
    p.PartitionMaxBytes = 1 << 20;
    t.Topic = proto_string_of(OFFSETS);
    t.Partitions.items = &p;
    t.Partitions.count = 1;
    body.Fetch.ReplicaId = 2;
    body.Fetch.MaxWaitMs = 0;
    body.Fetch.MinBytes = 1;
    body.Fetch.MaxBytes = 1 << 20;
    body.Fetch.Topics.items = &t;
    body.Fetch.Topics.count = 1;
    u64 now = world.fake->now_ns;
    REQUIRE(world_request(&world, 7, KAFKA_API_FETCH, 12, &body));
    world_run(&world);
    CHECK(world.fake->now_ns == now);
    REQUIRE(count_on(1) == before + 1);
    union kafka_response response;
    REQUIRE(response_get((u32)last_on(1), KAFKA_API_SYNC_GROUP, 3, &response));
    CHECK(response.SyncGroup.ErrorCode == KAFKA_ERROR_NONE);
    group_coordinator_invariants(broker_group_coordinator(world.broker));
    world_deinit(&world);
}

/* Leadership of the group's partition moves away: its groups unload (a parked JoinGroup is
 * answered NOT_COORDINATOR) and the group's requests answer NOT_COORDINATOR. */
TEST(leadership_moving_away_unloads)
{
    struct world world;
    world_init(&world);
    world_register(&world, 2, 9192);
    world_topic(&world, OFFSETS, OFFSETS_PARTITIONS);
    u32 partition = group_partition_of("moving", 6, OFFSETS_PARTITIONS);
    REQUIRE(join(&world, 1, "moving", ""));
    CHECK(count_on(1) == 0);
    const struct metadata_topic *topic = metadata_topic_find(&world.image, OFFSETS,
                                                             (u32)strlen(OFFSETS));
    REQUIRE(topic != NULL);
    struct metadata_record change = {.type = METADATA_PARTITION_CHANGE};
    change.as.partition_change.topic_id = topic->id;
    change.as.partition_change.partition_id = (i32)partition;
    change.as.partition_change.leader = METADATA_NO_LEADER;
    world_apply(&world, &change);
    broker_on_metadata(world.broker);
    world_run(&world);
    CHECK(group_partition_state(broker_group_coordinator(world.broker), partition) ==
          GROUP_PARTITION_NONE);
    REQUIRE(count_on(1) == 1);
    struct kafka_join_group_response joined;
    REQUIRE(join_answer(1, 0, &joined));
    CHECK(joined.ErrorCode == KAFKA_ERROR_NOT_COORDINATOR);
    CHECK(!conn_paused[1]);
    CHECK(heartbeat(&world, 1, "moving", 1, "m") == KAFKA_ERROR_NOT_COORDINATOR);
    group_coordinator_invariants(broker_group_coordinator(world.broker));
    world_deinit(&world);
}

static const struct test_case tests[] = {
    {"find_coordinator_asks_for_the_offsets_topic_then_names_its_leader",
     find_coordinator_asks_for_the_offsets_topic_then_names_its_leader},
    {"find_coordinator_names_another_leader", find_coordinator_names_another_leader},
    {"join_sync_heartbeat_commit_fetch_persisted_to_the_log",
     join_sync_heartbeat_commit_fetch_persisted_to_the_log},
    {"parked_joins_take_no_request_slot", parked_joins_take_no_request_slot},
    {"parked_connection_stays_paused_and_answers_in_order",
     parked_connection_stays_paused_and_answers_in_order},
    {"closed_connection_cancels_its_parked_request", closed_connection_cancels_its_parked_request},
    {"restart_loads_committed_offsets", restart_loads_committed_offsets},
    {"persist_times_out_without_the_followers", persist_times_out_without_the_followers},
    {"persist_answers_once_the_follower_has_it", persist_answers_once_the_follower_has_it},
    {"leadership_moving_away_unloads", leadership_moving_away_unloads},
};

TEST_MAIN(tests)
