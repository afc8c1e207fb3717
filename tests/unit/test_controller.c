/* test_controller.c: the controller's decisions, and its server half.
 *
 * The decisions are driven through the pure functions of impl/controller/controller_decide.h
 * over an image built only from the records earlier decisions returned: every record is
 * encoded and decoded as one entry and applied with metadata_image_apply (which must accept
 * it), the whole image is checked, and settling the new image must yield no record (every
 * decision leaves partitions settled). Every response is encoded at the request's version.
 *
 * The server half (impl/controller/controller.c) runs over the fake io of
 * test_quorum_fake_io.h and a fake quorum that records proposals; the test applies them when
 * it chooses, so it can hold an entry uncommitted, replace it, or take leadership away. */
#include "test.h"

#include "test_protocol_fill.h"
#include "test_protocol_generated.h"
#include "test_quorum_fake_io.h"

#include "../../impl/controller/controller.h"
#include "../../impl/controller/controller_decide.h"
#include "../../impl/controller/controller_internal.h"
#include "../../impl/protocol/errors_generated.h"
#include "../../model/history.h"

/* ===== A world: the image, built from decided records ===== */

static struct metadata_image image;
static bool image_ready;
static struct node_config config;
static i64 next_offset;
static struct metadata_record records[CONTROLLER_RECORDS_MAX];
static struct metadata_record settle_records[CONTROLLER_RECORDS_MAX];
static struct metadata_record decoded_records[CONTROLLER_RECORDS_MAX];
static struct controller_decision decision;
static u8 arena_memory[1u << 20];
static struct proto_arena arena;
static struct controller_decide_input in;
static u64 seed;
static u8 entry[METADATA_ENTRY_SIZE_MAX];
static bool check_settled = true;

static void world_reset(void)
{
    if (!image_ready) {
        ASSERT(metadata_image_init(&image));
        image_ready = true;
    }
    metadata_image_clear(&image);
    config_defaults(&config);
    next_offset = 1;
    check_settled = true;
}

/* Starts a decision: fresh records and response arena. */
static struct controller_decide_input *begin(void)
{
    proto_arena_init(&arena, arena_memory, sizeof(arena_memory));
    in = (struct controller_decide_input){&config, &image, ++seed, &arena};
    controller_decision_init(&decision, records);
    return &in;
}

/* Applies the decision as one entry; returns its offset. */
static i64 commit(void)
{
    i64 offset = next_offset;
    next_offset += 2; /* Gaps, as control records leave them. */
    u32 size = metadata_encode(records, decision.count, entry, sizeof(entry));
    CHECK(size > 0);
    u32 count = 0;
    CHECK(metadata_decode(entry, size, decoded_records, CONTROLLER_RECORDS_MAX, &count) ==
          METADATA_DECODED);
    CHECK_EQ_U64(count, decision.count);
    for (u32 i = 0; i < decision.count; i++) {
        bool applied = metadata_image_apply(&image, offset, &decoded_records[i]);
        if (!applied) fprintf(stderr, "  record %u (type %d) refused\n", i, records[i].type);
        CHECK(applied);
    }
    metadata_image_applied(&image, offset);
    metadata_image_check(&image);
    if (check_settled) {
        struct controller_decision settle;
        controller_decision_init(&settle, settle_records);
        struct controller_decide_input again = {&config, &image, 1, &arena};
        controller_decide_settle(&again, &settle);
        if (settle.count != 0) fprintf(stderr, "  not settled: %u records\n", settle.count);
        CHECK_EQ_U64(settle.count, 0);
    }
    decision.count = 0;
    return offset;
}

static u32 count_type(enum metadata_record_type type)
{
    u32 n = 0;
    for (u32 i = 0; i < decision.count; i++) n += records[i].type == type;
    return n;
}

/* Encodes a response at the request's version: every answer must be representable. */
static void check_encodes(i16 api_key, i16 version, const union kafka_response *response)
{
    static u8 out[1u << 20];
    struct proto_writer writer;
    proto_writer_init(&writer, out, sizeof(out));
    enum proto_error error = kafka_response_encode(&writer, api_key, version, response);
    if (error != PROTO_OK) {
        fprintf(stderr, "  api %d v%d: %s\n", api_key, version, proto_error_name(error));
    }
    CHECK(error == PROTO_OK);
}

/* ===== Brokers ===== */

static u8 incarnation_counter;
static struct kafka_broker_registration_request_listener listener;

static struct kafka_broker_registration_request registration(i32 id, const char *rack)
{
    struct kafka_broker_registration_request request;
    kafka_broker_registration_request_init(&request);
    request.BrokerId = id;
    request.ClusterId = proto_string_of("cairn");
    request.IncarnationId.bytes[0] = (u8)id;
    request.IncarnationId.bytes[1] = ++incarnation_counter;
    kafka_broker_registration_request_listener_init(&listener);
    listener.Name = proto_string_of("PLAINTEXT");
    listener.Host = proto_string_of("localhost");
    listener.Port = (u16)(9000 + id);
    request.Listeners.items = &listener;
    request.Listeners.count = 1;
    request.Rack = rack != NULL ? proto_string_of(rack) : PROTO_STRING_NULL;
    return request;
}

static struct kafka_broker_heartbeat_response beat(i32 id, i64 offset, bool want_fence,
                                                   bool want_shut_down)
{
    const struct metadata_broker *broker = metadata_broker_find(&image, id);
    struct kafka_broker_heartbeat_request request;
    kafka_broker_heartbeat_request_init(&request);
    request.BrokerId = id;
    request.BrokerEpoch = broker != NULL ? broker->epoch : 0;
    request.CurrentMetadataOffset = offset;
    request.WantFence = want_fence;
    request.WantShutDown = want_shut_down;
    struct kafka_broker_heartbeat_response response;
    CHECK(controller_decide_heartbeat(begin(), &decision, &request, &response));
    union kafka_response any = {.BrokerHeartbeat = response};
    check_encodes(KAFKA_API_BROKER_HEARTBEAT, 1, &any);
    return response;
}

/* Registers and unfences a broker; returns its epoch. */
static i64 add_broker(i32 id, const char *rack)
{
    struct kafka_broker_registration_request request = registration(id, rack);
    struct kafka_broker_registration_response response;
    CHECK(controller_decide_register(begin(), &decision, &request, &response));
    CHECK_EQ_U64(response.ErrorCode, KAFKA_ERROR_NONE);
    CHECK(decision.epoch_is_offset);
    i64 epoch = commit();
    const struct metadata_broker *broker = metadata_broker_find(&image, id);
    CHECK(broker != NULL && broker->epoch == epoch && broker->fenced);
    struct kafka_broker_heartbeat_response beat_response = beat(id, epoch, false, false);
    CHECK(!beat_response.IsFenced);
    CHECK_EQ_U64(count_type(METADATA_UNFENCE_BROKER), 1);
    commit();
    CHECK(!metadata_broker_find(&image, id)->fenced);
    return epoch;
}

/* ===== Topics ===== */

static struct kafka_create_topics_response_creatable_topic_result last_create;

static i16 create_topic_version(const char *name, i32 partitions, i16 replication, i16 version)
{
    struct kafka_create_topics_request_creatable_topic topic;
    kafka_create_topics_request_creatable_topic_init(&topic);
    topic.Name = proto_string_of(name);
    topic.NumPartitions = partitions;
    topic.ReplicationFactor = replication;
    struct kafka_create_topics_request request;
    kafka_create_topics_request_init(&request);
    request.Topics.items = &topic;
    request.Topics.count = 1;
    union kafka_response response;
    CHECK(controller_decide_create_topics(begin(), &decision, version, &request,
                                          &response.CreateTopics));
    check_encodes(KAFKA_API_CREATE_TOPICS, version, &response);
    last_create = response.CreateTopics.Topics.items[0];
    if (decision.count > 0) commit();
    return last_create.ErrorCode;
}

static i16 create_topic(const char *name, i32 partitions, i16 replication)
{
    return create_topic_version(name, partitions, replication, 7);
}

static const struct metadata_partition *partition_of(const char *name, u32 index)
{
    const struct metadata_topic *topic = metadata_topic_find(&image, name, (u32)strlen(name));
    if (topic == NULL || index >= topic->partition_count) return NULL;
    return &topic->partitions[index];
}

static struct metadata_ids ids_of(u32 count, const i32 *values)
{
    struct metadata_ids ids = {.count = count};
    memcpy(ids.ids, values, count * sizeof(i32));
    return ids;
}

static bool ids_are(const struct metadata_ids *ids, u32 count, const i32 *values)
{
    struct metadata_ids want = ids_of(count, values);
    return ids->count == want.count && !memcmp(ids->ids, want.ids, count * sizeof(i32));
}
#define IDS(...) (sizeof((i32[]){__VA_ARGS__}) / sizeof(i32)), ((const i32[]){__VA_ARGS__})

/* Creates topic name with exactly these replicas per partition (manual assignment). */
static void create_assigned(const char *name, u32 partitions, const struct metadata_ids *layout)
{
    static struct kafka_create_topics_request_creatable_replica_assignment assignments[64];
    for (u32 p = 0; p < partitions; p++) {
        kafka_create_topics_request_creatable_replica_assignment_init(&assignments[p]);
        assignments[p].PartitionIndex = (i32)p;
        assignments[p].BrokerIds.items = (i32 *)layout[p].ids;
        assignments[p].BrokerIds.count = (i32)layout[p].count;
    }
    struct kafka_create_topics_request_creatable_topic topic;
    kafka_create_topics_request_creatable_topic_init(&topic);
    topic.Name = proto_string_of(name);
    topic.NumPartitions = -1;
    topic.ReplicationFactor = -1;
    topic.Assignments.items = assignments;
    topic.Assignments.count = (i32)partitions;
    struct kafka_create_topics_request request;
    kafka_create_topics_request_init(&request);
    request.Topics.items = &topic;
    request.Topics.count = 1;
    struct kafka_create_topics_response response;
    CHECK(controller_decide_create_topics(begin(), &decision, 7, &request, &response));
    CHECK_EQ_U64(response.Topics.items[0].ErrorCode, KAFKA_ERROR_NONE);
    commit();
}

/* ===== Tests: brokers ===== */

TEST(registration_heartbeat_and_fencing)
{
    world_reset();
    struct kafka_broker_registration_request request = registration(1, "r1");
    struct kafka_broker_registration_response response;
    CHECK(controller_decide_register(begin(), &decision, &request, &response));
    CHECK_EQ_U64(count_type(METADATA_REGISTER_BROKER), 1);
    CHECK(records[0].as.register_broker.fenced);
    CHECK(!strcmp(records[0].as.register_broker.rack, "r1"));
    CHECK_EQ_U64(records[0].as.register_broker.port, 9001);
    i64 epoch = commit();
    /* Not caught up to its own registration: stays fenced, nothing to propose. */
    struct kafka_broker_heartbeat_response beat_response = beat(1, epoch - 1, false, false);
    CHECK(beat_response.IsFenced && !beat_response.IsCaughtUp);
    CHECK_EQ_U64(decision.count, 0);
    beat_response = beat(1, epoch, false, false);
    CHECK(!beat_response.IsFenced && beat_response.IsCaughtUp);
    CHECK_EQ_U64(count_type(METADATA_UNFENCE_BROKER), 1);
    commit();
    /* A retry of the same incarnation gets the same epoch, without a record. */
    CHECK(controller_decide_register(begin(), &decision, &request, &response));
    CHECK_EQ_U64(decision.count, 0);
    CHECK_EQ_U64(response.BrokerEpoch, epoch);
    /* A live, unfenced broker's heartbeat changes nothing. */
    beat_response = beat(1, epoch + 10, false, false);
    CHECK(!beat_response.IsFenced && !beat_response.ShouldShutDown);
    CHECK_EQ_U64(decision.count, 0);
    /* Stale and unknown. */
    struct kafka_broker_heartbeat_request stale;
    kafka_broker_heartbeat_request_init(&stale);
    stale.BrokerId = 1;
    stale.BrokerEpoch = epoch - 1;
    struct kafka_broker_heartbeat_response stale_response;
    CHECK(controller_decide_heartbeat(begin(), &decision, &stale, &stale_response));
    CHECK_EQ_U64(stale_response.ErrorCode, KAFKA_ERROR_STALE_BROKER_EPOCH);
    stale.BrokerId = 9;
    CHECK(controller_decide_heartbeat(begin(), &decision, &stale, &stale_response));
    CHECK_EQ_U64(stale_response.ErrorCode, KAFKA_ERROR_BROKER_ID_NOT_REGISTERED);
    /* A new incarnation: a new record, fenced again, a new epoch. */
    request = registration(1, "r1");
    CHECK(controller_decide_register(begin(), &decision, &request, &response));
    CHECK_EQ_U64(count_type(METADATA_REGISTER_BROKER), 1);
    i64 second = commit();
    CHECK(second > epoch);
    CHECK(metadata_broker_find(&image, 1)->fenced);
    CHECK_EQ_U64(metadata_broker_find(&image, 1)->epoch, second);
    /* want_fence keeps a fenced broker fenced; on an unfenced one it fences. */
    beat_response = beat(1, second, true, false);
    CHECK(beat_response.IsFenced);
    CHECK_EQ_U64(decision.count, 0);
    beat(1, second, false, false);
    commit();
    beat_response = beat(1, second, true, false);
    CHECK(beat_response.IsFenced);
    CHECK_EQ_U64(count_type(METADATA_FENCE_BROKER), 1);
    commit();
    CHECK(metadata_broker_find(&image, 1)->fenced);
    /* A fenced broker that wants to shut down may, at once. */
    beat_response = beat(1, second, false, true);
    CHECK(beat_response.ShouldShutDown);
    CHECK_EQ_U64(decision.count, 0);
    /* Bad registrations. */
    request = registration(2, "a-rack-name-that-is-far-too-long-for-the-image-to-hold-it-"
                              "as-it-is-given-here-in-full");
    CHECK(controller_decide_register(begin(), &decision, &request, &response));
    CHECK_EQ_U64(response.ErrorCode, KAFKA_ERROR_INVALID_REGISTRATION);
    CHECK_EQ_U64(decision.count, 0);
}

TEST(session_expiry_moves_leaders_within_the_isr)
{
    world_reset();
    for (i32 id = 1; id <= 3; id++) add_broker(id, NULL);
    const struct metadata_ids layout[3] = {ids_of(IDS(1, 2, 3)), ids_of(IDS(1, 3, 2)),
                                           ids_of(IDS(2, 1, 3))};
    create_assigned("t", 3, layout);
    CHECK_EQ_U64(partition_of("t", 0)->leader, 1);
    controller_decide_expire(begin(), &decision, 1);
    CHECK_EQ_U64(count_type(METADATA_FENCE_BROKER), 1);
    CHECK_EQ_U64(count_type(METADATA_PARTITION_CHANGE), 3); /* 1 leaves every ISR. */
    commit();
    const struct metadata_partition *p0 = partition_of("t", 0), *p1 = partition_of("t", 1),
                                     *p2 = partition_of("t", 2);
    CHECK_EQ_U64(p0->leader, 2); /* Next in assignment order, in sync. */
    CHECK_EQ_U64(p1->leader, 3);
    CHECK_EQ_U64(p2->leader, 2); /* Was not led by 1: unchanged. */
    CHECK(ids_are(&p0->isr, IDS(2, 3)));
    CHECK(ids_are(&p2->isr, IDS(2, 3)));
    CHECK_EQ_U64(p0->leader_epoch, 1);
    CHECK_EQ_U64(p2->leader_epoch, 0);
    /* An expired broker that is fenced already: nothing more. */
    controller_decide_expire(begin(), &decision, 1);
    CHECK_EQ_U64(decision.count, 0);
}

TEST(last_isr_member_stays_and_no_unclean_election_unless_enabled)
{
    world_reset();
    for (i32 id = 1; id <= 2; id++) add_broker(id, NULL);
    const struct metadata_ids layout[1] = {ids_of(IDS(1, 2))};
    create_assigned("t", 1, layout);
    create_assigned("u", 1, layout);
    /* 2 falls out of sync (its leader shrinks the ISR), then 1 dies. */
    for (u32 t = 0; t < 2; t++) {
        const char *name = t == 0 ? "t" : "u";
        const struct metadata_topic *topic = metadata_topic_find(&image, name, 1);
        struct kafka_alter_partition_request_partition_data part;
        kafka_alter_partition_request_partition_data_init(&part);
        part.PartitionIndex = 0;
        part.LeaderEpoch = 0;
        part.PartitionEpoch = 0;
        i32 isr[] = {1};
        part.NewIsr.items = isr;
        part.NewIsr.count = 1;
        struct kafka_alter_partition_request_topic_data data;
        kafka_alter_partition_request_topic_data_init(&data);
        data.TopicId = (struct proto_uuid){{0}};
        memcpy(data.TopicId.bytes, topic->id.bytes, 16);
        data.Partitions.items = &part;
        data.Partitions.count = 1;
        struct kafka_alter_partition_request request;
        kafka_alter_partition_request_init(&request);
        request.BrokerId = 1;
        request.BrokerEpoch = metadata_broker_find(&image, 1)->epoch;
        request.Topics.items = &data;
        request.Topics.count = 1;
        struct kafka_alter_partition_response response;
        CHECK(controller_decide_alter_partition(begin(), &decision, 2, &request, &response));
        CHECK_EQ_U64(response.Topics.items[0].Partitions.items[0].ErrorCode, 0);
        commit();
    }
    /* Topic u allows unclean elections by override. */
    struct kafka_incremental_alter_configs_request_alterable_config set;
    kafka_incremental_alter_configs_request_alterable_config_init(&set);
    set.Name = proto_string_of("unclean.leader.election.enable");
    set.ConfigOperation = 0;
    set.Value = proto_string_of("TRUE");
    struct kafka_incremental_alter_configs_request_alter_configs_resource resource;
    kafka_incremental_alter_configs_request_alter_configs_resource_init(&resource);
    resource.ResourceType = 2;
    resource.ResourceName = proto_string_of("u");
    resource.Configs.items = &set;
    resource.Configs.count = 1;
    struct kafka_incremental_alter_configs_request alter;
    kafka_incremental_alter_configs_request_init(&alter);
    alter.Resources.items = &resource;
    alter.Resources.count = 1;
    struct kafka_incremental_alter_configs_response alter_response;
    CHECK(controller_decide_alter_configs(begin(), &decision, &alter, &alter_response));
    CHECK_EQ_U64(alter_response.Responses.items[0].ErrorCode, 0);
    commit();
    CHECK(!strcmp(metadata_topic_config(metadata_topic_find(&image, "u", 1),
                                        "unclean.leader.election.enable"), "true"));
    controller_decide_expire(begin(), &decision, 1);
    commit();
    const struct metadata_partition *t = partition_of("t", 0), *u = partition_of("u", 0);
    CHECK_EQ_U64(t->leader, (u64)(i64)METADATA_NO_LEADER);
    CHECK(ids_are(&t->isr, IDS(1))); /* The last member stays: it holds the data. */
    CHECK_EQ_U64(u->leader, 2);       /* Unclean, allowed by the topic. */
    CHECK(ids_are(&u->isr, IDS(2)));
    /* The broker config allows it too. */
    config.unclean_leader_election_enable = true;
    controller_decide_settle(begin(), &decision);
    CHECK_EQ_U64(decision.count, 1);
    commit();
    CHECK_EQ_U64(partition_of("t", 0)->leader, 2);
    /* 1 comes back and unfences: it is no longer in sync, so leadership stays with 2. */
    config.unclean_leader_election_enable = false;
    struct kafka_broker_registration_request again = registration(1, NULL);
    struct kafka_broker_registration_response again_response;
    CHECK(controller_decide_register(begin(), &decision, &again, &again_response));
    i64 epoch = commit();
    beat(1, epoch, false, false);
    commit();
    CHECK_EQ_U64(partition_of("t", 0)->leader, 2);
}

TEST(unfencing_elects_leaderless_partitions)
{
    world_reset();
    add_broker(1, NULL);
    add_broker(2, NULL);
    const struct metadata_ids layout[1] = {ids_of(IDS(1))};
    create_assigned("solo", 1, layout);
    controller_decide_expire(begin(), &decision, 1);
    commit();
    CHECK_EQ_U64(partition_of("solo", 0)->leader, (u64)(i64)METADATA_NO_LEADER);
    /* The same incarnation heartbeats again after a partition heals: unfenced, it leads. */
    struct kafka_broker_heartbeat_response response =
        beat(1, metadata_broker_find(&image, 1)->epoch, false, false);
    CHECK(!response.IsFenced);
    CHECK_EQ_U64(count_type(METADATA_PARTITION_CHANGE), 1);
    commit();
    CHECK_EQ_U64(partition_of("solo", 0)->leader, 1);
    CHECK_EQ_U64(partition_of("solo", 0)->leader_epoch, 2);
}

TEST(controlled_shutdown_drains_leaderships)
{
    world_reset();
    for (i32 id = 1; id <= 3; id++) add_broker(id, NULL);
    const struct metadata_ids layout[4] = {ids_of(IDS(1, 2, 3)), ids_of(IDS(2, 1, 3)),
                                           ids_of(IDS(1, 3)), ids_of(IDS(1))};
    create_assigned("t", 4, layout);
    i64 epoch = metadata_broker_find(&image, 1)->epoch;
    struct kafka_broker_heartbeat_response response = beat(1, epoch, false, true);
    CHECK(!response.ShouldShutDown && !response.IsFenced);
    CHECK_EQ_U64(count_type(METADATA_BROKER_REGISTRATION_CHANGE), 1);
    commit();
    CHECK(metadata_broker_find(&image, 1)->in_controlled_shutdown);
    CHECK(!controller_broker_leads(&image, 1));
    CHECK_EQ_U64(partition_of("t", 0)->leader, 2);
    CHECK(ids_are(&partition_of("t", 0)->isr, IDS(2, 3)));
    CHECK_EQ_U64(partition_of("t", 1)->leader, 2);
    CHECK(ids_are(&partition_of("t", 1)->isr, IDS(2, 3)));
    CHECK_EQ_U64(partition_of("t", 2)->leader, 3);
    /* Its only replica: leaderless, the ISR keeps it. */
    CHECK_EQ_U64(partition_of("t", 3)->leader, (u64)(i64)METADATA_NO_LEADER);
    CHECK(ids_are(&partition_of("t", 3)->isr, IDS(1)));
    /* It may stop once it has seen that entry. */
    response = beat(1, image.applied_offset - 1, false, true);
    CHECK(!response.ShouldShutDown);
    CHECK_EQ_U64(decision.count, 0);
    response = beat(1, image.applied_offset, false, true);
    CHECK(response.ShouldShutDown);
    CHECK_EQ_U64(decision.count, 0);
    /* A broker in controlled shutdown gets nothing new to lead. */
    CHECK_EQ_U64(create_topic("new", 6, 1), KAFKA_ERROR_NONE);
    for (u32 p = 0; p < 6; p++) CHECK(partition_of("new", p)->leader != 1);
}

TEST(unregister_moves_leaders_then_removes)
{
    world_reset();
    for (i32 id = 1; id <= 2; id++) add_broker(id, NULL);
    const struct metadata_ids layout[1] = {ids_of(IDS(1, 2))};
    create_assigned("t", 1, layout);
    CHECK_EQ_U64(controller_decide_unregister(begin(), &decision, 7),
                 KAFKA_ERROR_BROKER_ID_NOT_REGISTERED);
    CHECK_EQ_U64(controller_decide_unregister(begin(), &decision, 1), KAFKA_ERROR_NONE);
    CHECK_EQ_U64(records[decision.count - 1].type, METADATA_UNREGISTER_BROKER);
    commit();
    CHECK(metadata_broker_find(&image, 1) == NULL);
    CHECK_EQ_U64(partition_of("t", 0)->leader, 2);
}

/* ===== Tests: topics ===== */

TEST(create_topics_validation)
{
    world_reset();
    for (i32 id = 1; id <= 3; id++) add_broker(id, NULL);
    char long_name[300];
    memset(long_name, 'a', sizeof(long_name));
    long_name[250] = '\0';
    CHECK_EQ_U64(create_topic(long_name, 1, 1), KAFKA_ERROR_INVALID_TOPIC_EXCEPTION);
    long_name[249] = '\0';
    CHECK_EQ_U64(create_topic(long_name, 1, 1), KAFKA_ERROR_NONE);
    CHECK_EQ_U64(create_topic(".", 1, 1), KAFKA_ERROR_INVALID_TOPIC_EXCEPTION);
    CHECK_EQ_U64(create_topic("..", 1, 1), KAFKA_ERROR_INVALID_TOPIC_EXCEPTION);
    CHECK_EQ_U64(create_topic("a/b", 1, 1), KAFKA_ERROR_INVALID_TOPIC_EXCEPTION);
    CHECK_EQ_U64(create_topic("", 1, 1), KAFKA_ERROR_INVALID_TOPIC_EXCEPTION);
    CHECK_EQ_U64(create_topic("a.b", 2, 2), KAFKA_ERROR_NONE);
    CHECK_EQ_U64(last_create.NumPartitions, 2);
    CHECK_EQ_U64(last_create.ReplicationFactor, 2);
    const struct metadata_topic *ab = metadata_topic_find(&image, "a.b", 3);
    REQUIRE(ab != NULL);
    CHECK(!memcmp(last_create.TopicId.bytes, ab->id.bytes, 16));
    CHECK_EQ_U64(create_topic("a.b", 2, 2), KAFKA_ERROR_TOPIC_ALREADY_EXISTS);
    CHECK_EQ_U64(create_topic("a_b", 2, 2), KAFKA_ERROR_INVALID_TOPIC_EXCEPTION);
    CHECK_EQ_U64(create_topic("p", 0, 1), KAFKA_ERROR_INVALID_PARTITIONS);
    CHECK_EQ_U64(create_topic("p", -2, 1), KAFKA_ERROR_INVALID_PARTITIONS);
    CHECK_EQ_U64(create_topic("p", 65, 1), KAFKA_ERROR_INVALID_PARTITIONS);
    CHECK_EQ_U64(create_topic("p", 1, 0), KAFKA_ERROR_INVALID_REPLICATION_FACTOR);
    CHECK_EQ_U64(create_topic("p", 1, 4), KAFKA_ERROR_INVALID_REPLICATION_FACTOR);
    /* -1: num.partitions and default.replication.factor. */
    config.num_partitions = 5;
    config.default_replication_factor = 3;
    CHECK_EQ_U64(create_topic("defaults", -1, -1), KAFKA_ERROR_NONE);
    const struct metadata_topic *defaults = metadata_topic_find(&image, "defaults", 8);
    REQUIRE(defaults != NULL);
    CHECK_EQ_U64(defaults->partition_count, 5);
    CHECK_EQ_U64(defaults->partitions[0].replicas.count, 3);
    CHECK_EQ_U64(defaults->partitions[0].isr.count, 3);
    CHECK_EQ_U64(defaults->partitions[0].leader, defaults->partitions[0].replicas.ids[0]);
    /* Every version answers in its own shape. */
    for (i16 version = 0; version <= 7; version++) {
        char name[16];
        snprintf(name, sizeof(name), "v%d", version);
        CHECK_EQ_U64(create_topic_version(name, 1, 1, version), KAFKA_ERROR_NONE);
    }
    /* A fenced broker does not count towards the replication factor. */
    controller_decide_expire(begin(), &decision, 3);
    commit();
    CHECK_EQ_U64(create_topic("three", 1, 3), KAFKA_ERROR_INVALID_REPLICATION_FACTOR);
}

TEST(create_topics_configs_duplicates_validate_only_and_assignments)
{
    world_reset();
    for (i32 id = 1; id <= 3; id++) add_broker(id, NULL);
    struct kafka_create_topics_request_creatable_topic_config configs[3];
    for (u32 i = 0; i < 3; i++) {
        kafka_create_topics_request_creatable_topic_config_init(&configs[i]);
    }
    configs[0].Name = proto_string_of("retention.ms");
    configs[0].Value = proto_string_of("1000");
    configs[1].Name = proto_string_of("cleanup.policy");
    configs[1].Value = proto_string_of("delete,compact");
    configs[2].Name = proto_string_of("segment.bytes");
    configs[2].Value = PROTO_STRING_NULL; /* The default: no override. */
    struct kafka_create_topics_request_creatable_topic topics[4];
    for (u32 i = 0; i < 4; i++) {
        kafka_create_topics_request_creatable_topic_init(&topics[i]);
        topics[i].NumPartitions = 2;
        topics[i].ReplicationFactor = 2;
    }
    topics[0].Name = proto_string_of("configured");
    topics[0].Configs.items = configs;
    topics[0].Configs.count = 3;
    topics[1].Name = proto_string_of("twice");
    topics[2].Name = proto_string_of("twice");
    topics[3].Name = proto_string_of("plain");
    struct kafka_create_topics_request request;
    kafka_create_topics_request_init(&request);
    request.Topics.items = topics;
    request.Topics.count = 4;
    request.validateOnly = true;
    union kafka_response response;
    CHECK(controller_decide_create_topics(begin(), &decision, 5, &request,
                                          &response.CreateTopics));
    CHECK_EQ_U64(decision.count, 0);
    CHECK_EQ_U64(response.CreateTopics.Topics.items[0].ErrorCode, KAFKA_ERROR_NONE);
    CHECK_EQ_U64(response.CreateTopics.Topics.items[1].ErrorCode, KAFKA_ERROR_INVALID_REQUEST);
    CHECK_EQ_U64(response.CreateTopics.Topics.items[2].ErrorCode, KAFKA_ERROR_INVALID_REQUEST);
    CHECK_EQ_U64(response.CreateTopics.Topics.items[3].ErrorCode, KAFKA_ERROR_NONE);
    check_encodes(KAFKA_API_CREATE_TOPICS, 5, &response);
    request.validateOnly = false;
    CHECK(controller_decide_create_topics(begin(), &decision, 5, &request,
                                          &response.CreateTopics));
    CHECK_EQ_U64(count_type(METADATA_TOPIC), 2); /* Atomically in one entry. */
    CHECK_EQ_U64(count_type(METADATA_CONFIG), 2);
    commit();
    const struct metadata_topic *topic = metadata_topic_find(&image, "configured", 10);
    REQUIRE(topic != NULL);
    CHECK(!strcmp(metadata_topic_config(topic, "cleanup.policy"), "compact,delete"));
    CHECK(!strcmp(metadata_topic_config(topic, "retention.ms"), "1000"));
    CHECK(metadata_topic_config(topic, "segment.bytes") == NULL);
    /* Unknown configs and bad values. */
    configs[0].Name = proto_string_of("no.such.config");
    topics[0].Name = proto_string_of("bad");
    request.Topics.count = 1;
    CHECK(controller_decide_create_topics(begin(), &decision, 5, &request,
                                          &response.CreateTopics));
    CHECK_EQ_U64(response.CreateTopics.Topics.items[0].ErrorCode, KAFKA_ERROR_INVALID_CONFIG);
    configs[0].Name = proto_string_of("segment.bytes");
    configs[0].Value = proto_string_of("13");
    CHECK(controller_decide_create_topics(begin(), &decision, 5, &request,
                                          &response.CreateTopics));
    CHECK_EQ_U64(response.CreateTopics.Topics.items[0].ErrorCode, KAFKA_ERROR_INVALID_CONFIG);
    CHECK_EQ_U64(decision.count, 0);
    /* Manual assignments: unknown brokers, gaps, repeats refused; a good one is kept. */
    const struct metadata_ids bad[2] = {ids_of(IDS(1, 9)), ids_of(IDS(2, 2))};
    struct kafka_create_topics_request_creatable_replica_assignment assignments[2];
    for (u32 p = 0; p < 2; p++) {
        kafka_create_topics_request_creatable_replica_assignment_init(&assignments[p]);
        assignments[p].PartitionIndex = (i32)p;
        assignments[p].BrokerIds.items = (i32 *)bad[p].ids;
        assignments[p].BrokerIds.count = (i32)bad[p].count;
    }
    topics[0].Name = proto_string_of("manual");
    topics[0].Configs.count = 0;
    topics[0].Assignments.items = assignments;
    topics[0].Assignments.count = 2;
    CHECK(controller_decide_create_topics(begin(), &decision, 5, &request,
                                          &response.CreateTopics));
    CHECK_EQ_U64(response.CreateTopics.Topics.items[0].ErrorCode, KAFKA_ERROR_INVALID_REQUEST);
    topics[0].NumPartitions = -1;
    topics[0].ReplicationFactor = -1;
    CHECK(controller_decide_create_topics(begin(), &decision, 5, &request,
                                          &response.CreateTopics));
    CHECK_EQ_U64(response.CreateTopics.Topics.items[0].ErrorCode,
                 KAFKA_ERROR_INVALID_REPLICA_ASSIGNMENT);
    const struct metadata_ids good[2] = {ids_of(IDS(3, 1)), ids_of(IDS(2, 3))};
    for (u32 p = 0; p < 2; p++) {
        assignments[p].BrokerIds.items = (i32 *)good[p].ids;
        assignments[p].BrokerIds.count = (i32)good[p].count;
    }
    assignments[1].PartitionIndex = 3;
    CHECK(controller_decide_create_topics(begin(), &decision, 5, &request,
                                          &response.CreateTopics));
    CHECK_EQ_U64(response.CreateTopics.Topics.items[0].ErrorCode,
                 KAFKA_ERROR_INVALID_REPLICA_ASSIGNMENT);
    assignments[1].PartitionIndex = 1;
    CHECK(controller_decide_create_topics(begin(), &decision, 5, &request,
                                          &response.CreateTopics));
    CHECK_EQ_U64(response.CreateTopics.Topics.items[0].ErrorCode, KAFKA_ERROR_NONE);
    commit();
    CHECK(ids_are(&partition_of("manual", 0)->replicas, IDS(3, 1)));
    CHECK_EQ_U64(partition_of("manual", 0)->leader, 3);
    CHECK(ids_are(&partition_of("manual", 1)->replicas, IDS(2, 3)));
}

TEST(create_topics_limits)
{
    world_reset();
    add_broker(1, NULL);
    char name[16];
    for (u32 i = 0; i < METADATA_TOPICS_MAX; i++) {
        snprintf(name, sizeof(name), "t%u", i);
        CHECK_EQ_U64(create_topic(name, 64, 1), KAFKA_ERROR_NONE);
    }
    CHECK_EQ_U64(create_topic("one-more", 1, 1), KAFKA_ERROR_POLICY_VIOLATION);
    /* Deleting them all at once fits one entry (64 records). */
    struct proto_string names[METADATA_TOPICS_MAX];
    char stored[METADATA_TOPICS_MAX][16];
    for (u32 i = 0; i < METADATA_TOPICS_MAX; i++) {
        snprintf(stored[i], sizeof(stored[i]), "t%u", i);
        names[i] = proto_string_of(stored[i]);
    }
    struct kafka_delete_topics_request request;
    kafka_delete_topics_request_init(&request);
    request.TopicNames.items = names;
    request.TopicNames.count = METADATA_TOPICS_MAX;
    struct kafka_delete_topics_response response;
    CHECK(controller_decide_delete_topics(begin(), &decision, 4, &request, &response));
    CHECK_EQ_U64(count_type(METADATA_REMOVE_TOPIC), METADATA_TOPICS_MAX);
    commit();
    CHECK_EQ_U64(image.topic_count, 0);
}

/* Builds brokers on racks and checks placement properties over many topic shapes. */
TEST(rack_aware_placement_properties)
{
    u32 shapes = 0;
    for (u32 brokers = 1; brokers <= 12; brokers++) {
        for (u32 racks = 1; racks <= MIN(brokers, 4u); racks++) {
            for (u32 uneven = 0; uneven < 2; uneven++) {
                world_reset();
                char rack_names[12][8];
                u32 on_rack[12] = {0};
                for (u32 b = 0; b < brokers; b++) {
                    /* Uneven: the first rack takes half the brokers. */
                    u32 r = uneven && b < brokers / 2 ? 0 : b % racks;
                    on_rack[b] = r;
                    snprintf(rack_names[b], sizeof(rack_names[b]), "rack%u", r);
                    add_broker((i32)(b + 10), rack_names[b]);
                }
                u32 distinct_racks = 0;
                for (u32 r = 0; r < racks; r++) {
                    bool used = false;
                    for (u32 b = 0; b < brokers; b++) used = used || on_rack[b] == r;
                    distinct_racks += used;
                }
                for (u32 rf = 1; rf <= MIN(brokers, 8u); rf++) {
                    for (u32 partitions = 1; partitions <= 64; partitions += 9) {
                        for (u32 start = 0; start < 3; start++) {
                            struct metadata_ids out[64];
                            REQUIRE(controller_place(&image, partitions, rf, start * 7919u,
                                                     out));
                            shapes++;
                            u32 leaders[12] = {0}, replicas[12] = {0};
                            for (u32 p = 0; p < partitions; p++) {
                                CHECK_EQ_U64(out[p].count, rf);
                                bool rack_seen[4] = {false};
                                u32 racks_used = 0;
                                for (u32 i = 0; i < rf; i++) {
                                    u32 b = (u32)(out[p].ids[i] - 10);
                                    REQUIRE(b < brokers);
                                    for (u32 j = 0; j < i; j++) {
                                        CHECK(out[p].ids[j] != out[p].ids[i]);
                                    }
                                    racks_used += !rack_seen[on_rack[b]];
                                    rack_seen[on_rack[b]] = true;
                                    replicas[b]++;
                                    if (i == 0) leaders[b]++;
                                }
                                CHECK_EQ_U64(racks_used, MIN(rf, distinct_racks));
                            }
                            u32 lo = UINT32_MAX, hi = 0, rlo = UINT32_MAX, rhi = 0;
                            for (u32 b = 0; b < brokers; b++) {
                                lo = MIN(lo, leaders[b]);
                                hi = MAX(hi, leaders[b]);
                                rlo = MIN(rlo, replicas[b]);
                                rhi = MAX(rhi, replicas[b]);
                            }
                            CHECK(hi - lo <= 1);
                            /* Even racks: replicas spread too (a stripe of rf per partition,
                             * so within rf of each other). */
                            if (!uneven && brokers % racks == 0) CHECK(rhi - rlo <= rf);
                        }
                    }
                }
                /* Too few brokers. */
                struct metadata_ids out[1];
                CHECK(!controller_place(&image, 1, brokers + 1 <= 8 ? brokers + 1 : 8, 0, out) ||
                      brokers >= 8);
            }
        }
    }
    CHECK(shapes > 1000);
    printf("     %u placements checked\n", shapes);
}

TEST(topic_ids_and_leaders_spread_across_topics)
{
    world_reset();
    for (i32 id = 1; id <= 4; id++) add_broker(id, id <= 2 ? "a" : "b");
    u32 leaders[5] = {0};
    for (u32 t = 0; t < 8; t++) {
        char name[8];
        snprintf(name, sizeof(name), "t%u", t);
        CHECK_EQ_U64(create_topic(name, 4, 2), KAFKA_ERROR_NONE);
        const struct metadata_topic *topic = metadata_topic_find(&image, name, (u32)strlen(name));
        REQUIRE(topic != NULL);
        CHECK_EQ_U64((topic->id.bytes[6] >> 4), 4); /* Version-4 uuid. */
        for (u32 p = 0; p < 4; p++) {
            leaders[topic->partitions[p].leader]++;
            const struct metadata_ids *r = &topic->partitions[p].replicas;
            CHECK((r->ids[0] <= 2) != (r->ids[1] <= 2)); /* One replica per rack. */
        }
    }
    for (u32 b = 1; b <= 4; b++) CHECK_EQ_U64(leaders[b], 8);
}

TEST(delete_topics_by_name_and_id)
{
    world_reset();
    add_broker(1, NULL);
    CHECK_EQ_U64(create_topic("a", 1, 1), KAFKA_ERROR_NONE);
    CHECK_EQ_U64(create_topic("b", 1, 1), KAFKA_ERROR_NONE);
    CHECK_EQ_U64(create_topic("c", 1, 1), KAFKA_ERROR_NONE);
    struct proto_string names[3] = {proto_string_of("a"), proto_string_of("zz"),
                                    proto_string_of("a")};
    union kafka_request request;
    kafka_delete_topics_request_init(&request.DeleteTopics);
    request.DeleteTopics.TopicNames.items = names;
    request.DeleteTopics.TopicNames.count = 3;
    union kafka_response response;
    CHECK(controller_decide_delete_topics(begin(), &decision, 5, &request.DeleteTopics,
                                          &response.DeleteTopics));
    check_encodes(KAFKA_API_DELETE_TOPICS, 5, &response);
    CHECK_EQ_U64(response.DeleteTopics.Responses.items[0].ErrorCode, KAFKA_ERROR_INVALID_REQUEST);
    CHECK_EQ_U64(response.DeleteTopics.Responses.items[1].ErrorCode,
                 KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    CHECK_EQ_U64(decision.count, 0);
    request.DeleteTopics.TopicNames.count = 1;
    CHECK(controller_decide_delete_topics(begin(), &decision, 5, &request.DeleteTopics,
                                          &response.DeleteTopics));
    CHECK_EQ_U64(response.DeleteTopics.Responses.items[0].ErrorCode, KAFKA_ERROR_NONE);
    commit();
    CHECK(metadata_topic_find(&image, "a", 1) == NULL);
    /* v6: by id (the answer names it), by name, unknown id, neither. */
    struct kafka_delete_topics_request_topic_state states[4];
    for (u32 i = 0; i < 4; i++) kafka_delete_topics_request_topic_state_init(&states[i]);
    memcpy(states[0].TopicId.bytes, metadata_topic_find(&image, "b", 1)->id.bytes, 16);
    states[1].Name = proto_string_of("c");
    states[2].TopicId.bytes[3] = 7;
    kafka_delete_topics_request_init(&request.DeleteTopics);
    request.DeleteTopics.Topics.items = states;
    request.DeleteTopics.Topics.count = 4;
    CHECK(controller_decide_delete_topics(begin(), &decision, 6, &request.DeleteTopics,
                                          &response.DeleteTopics));
    check_encodes(KAFKA_API_DELETE_TOPICS, 6, &response);
    const struct kafka_delete_topics_response_deletable_topic_result *r =
        response.DeleteTopics.Responses.items;
    CHECK_EQ_U64(r[0].ErrorCode, KAFKA_ERROR_NONE);
    CHECK(proto_string_equal_cstr(r[0].Name, "b"));
    CHECK_EQ_U64(r[1].ErrorCode, KAFKA_ERROR_NONE);
    CHECK_EQ_U64(r[2].ErrorCode, KAFKA_ERROR_UNKNOWN_TOPIC_ID);
    CHECK_EQ_U64(r[3].ErrorCode, KAFKA_ERROR_INVALID_REQUEST);
    CHECK_EQ_U64(count_type(METADATA_REMOVE_TOPIC), 2);
    commit();
    CHECK_EQ_U64(image.topic_count, 0);
}

TEST(create_partitions)
{
    world_reset();
    for (i32 id = 1; id <= 3; id++) add_broker(id, NULL);
    CHECK_EQ_U64(create_topic("t", 2, 2), KAFKA_ERROR_NONE);
    struct kafka_create_partitions_request_topic topic;
    kafka_create_partitions_request_topic_init(&topic);
    topic.Name = proto_string_of("t");
    topic.Count = 2;
    topic.Assignments.count = -1;
    union kafka_request request;
    kafka_create_partitions_request_init(&request.CreatePartitions);
    request.CreatePartitions.Topics.items = &topic;
    request.CreatePartitions.Topics.count = 1;
    union kafka_response response;
    struct kafka_create_partitions_response *r = &response.CreatePartitions;
    CHECK(controller_decide_create_partitions(begin(), &decision, &request.CreatePartitions, r));
    CHECK_EQ_U64(r->Results.items[0].ErrorCode, KAFKA_ERROR_INVALID_PARTITIONS);
    topic.Count = 1;
    CHECK(controller_decide_create_partitions(begin(), &decision, &request.CreatePartitions, r));
    CHECK_EQ_U64(r->Results.items[0].ErrorCode, KAFKA_ERROR_INVALID_PARTITIONS);
    topic.Count = 5;
    request.CreatePartitions.ValidateOnly = true;
    CHECK(controller_decide_create_partitions(begin(), &decision, &request.CreatePartitions, r));
    CHECK_EQ_U64(r->Results.items[0].ErrorCode, KAFKA_ERROR_NONE);
    CHECK_EQ_U64(decision.count, 0);
    request.CreatePartitions.ValidateOnly = false;
    CHECK(controller_decide_create_partitions(begin(), &decision, &request.CreatePartitions, r));
    check_encodes(KAFKA_API_CREATE_PARTITIONS, 3, &response);
    CHECK_EQ_U64(count_type(METADATA_PARTITION), 3);
    commit();
    const struct metadata_topic *t = metadata_topic_find(&image, "t", 1);
    CHECK_EQ_U64(t->partition_count, 5);
    for (u32 p = 0; p < 5; p++) CHECK_EQ_U64(t->partitions[p].replicas.count, 2);
    /* Manual: the replication factor must match. */
    i32 three[] = {1, 2, 3};
    struct kafka_create_partitions_request_assignment assignment = {{three, 3}};
    topic.Count = 6;
    topic.Assignments.items = &assignment;
    topic.Assignments.count = 1;
    CHECK(controller_decide_create_partitions(begin(), &decision, &request.CreatePartitions, r));
    CHECK_EQ_U64(r->Results.items[0].ErrorCode, KAFKA_ERROR_INVALID_REPLICA_ASSIGNMENT);
    assignment.BrokerIds.count = 2;
    CHECK(controller_decide_create_partitions(begin(), &decision, &request.CreatePartitions, r));
    CHECK_EQ_U64(r->Results.items[0].ErrorCode, KAFKA_ERROR_NONE);
    commit();
    CHECK(ids_are(&partition_of("t", 5)->replicas, IDS(1, 2)));
    topic.Name = proto_string_of("nope");
    CHECK(controller_decide_create_partitions(begin(), &decision, &request.CreatePartitions, r));
    CHECK_EQ_U64(r->Results.items[0].ErrorCode, KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
}

TEST(incremental_alter_configs)
{
    world_reset();
    add_broker(1, NULL);
    CHECK_EQ_U64(create_topic("t", 1, 1), KAFKA_ERROR_NONE);
    struct kafka_incremental_alter_configs_request_alterable_config ops[3];
    for (u32 i = 0; i < 3; i++) {
        kafka_incremental_alter_configs_request_alterable_config_init(&ops[i]);
    }
    ops[0].Name = proto_string_of("cleanup.policy");
    ops[0].ConfigOperation = 2; /* APPEND to the default "delete". */
    ops[0].Value = proto_string_of("compact");
    ops[1].Name = proto_string_of("retention.ms");
    ops[1].ConfigOperation = 0;
    ops[1].Value = proto_string_of("0050");
    ops[2].Name = proto_string_of("max.message.bytes");
    ops[2].ConfigOperation = 1; /* DELETE of an absent override: nothing. */
    struct kafka_incremental_alter_configs_request_alter_configs_resource resources[2];
    for (u32 i = 0; i < 2; i++) {
        kafka_incremental_alter_configs_request_alter_configs_resource_init(&resources[i]);
    }
    resources[0].ResourceType = 2;
    resources[0].ResourceName = proto_string_of("t");
    resources[0].Configs.items = ops;
    resources[0].Configs.count = 3;
    resources[1].ResourceType = 4;
    resources[1].ResourceName = proto_string_of("1");
    union kafka_request request;
    kafka_incremental_alter_configs_request_init(&request.IncrementalAlterConfigs);
    request.IncrementalAlterConfigs.Resources.items = resources;
    request.IncrementalAlterConfigs.Resources.count = 2;
    union kafka_response response;
    struct kafka_incremental_alter_configs_response *r = &response.IncrementalAlterConfigs;
    request.IncrementalAlterConfigs.ValidateOnly = true;
    CHECK(controller_decide_alter_configs(begin(), &decision, &request.IncrementalAlterConfigs,
                                          r));
    CHECK_EQ_U64(r->Responses.items[0].ErrorCode, KAFKA_ERROR_NONE);
    CHECK_EQ_U64(r->Responses.items[1].ErrorCode, KAFKA_ERROR_INVALID_REQUEST);
    CHECK_EQ_U64(decision.count, 0);
    request.IncrementalAlterConfigs.ValidateOnly = false;
    CHECK(controller_decide_alter_configs(begin(), &decision, &request.IncrementalAlterConfigs,
                                          r));
    check_encodes(KAFKA_API_INCREMENTAL_ALTER_CONFIGS, 1, &response);
    CHECK_EQ_U64(decision.count, 2);
    commit();
    const struct metadata_topic *t = metadata_topic_find(&image, "t", 1);
    CHECK(!strcmp(metadata_topic_config(t, "cleanup.policy"), "compact,delete"));
    CHECK(!strcmp(metadata_topic_config(t, "retention.ms"), "50"));
    /* SUBTRACT, DELETE; all or none of a resource's. */
    ops[0].ConfigOperation = 3;
    ops[0].Value = proto_string_of("delete");
    ops[1].ConfigOperation = 1;
    ops[2].Name = proto_string_of("segment.ms");
    ops[2].ConfigOperation = 0;
    ops[2].Value = proto_string_of("0");
    request.IncrementalAlterConfigs.Resources.count = 1;
    CHECK(controller_decide_alter_configs(begin(), &decision, &request.IncrementalAlterConfigs,
                                          r));
    CHECK_EQ_U64(r->Responses.items[0].ErrorCode, KAFKA_ERROR_INVALID_CONFIG);
    CHECK_EQ_U64(decision.count, 0);
    ops[2].Value = proto_string_of("1");
    CHECK(controller_decide_alter_configs(begin(), &decision, &request.IncrementalAlterConfigs,
                                          r));
    CHECK_EQ_U64(r->Responses.items[0].ErrorCode, KAFKA_ERROR_NONE);
    commit();
    t = metadata_topic_find(&image, "t", 1);
    CHECK(!strcmp(metadata_topic_config(t, "cleanup.policy"), "compact"));
    CHECK(metadata_topic_config(t, "retention.ms") == NULL);
    /* Subtracting the last policy, unknown names, APPEND on a non-list, unknown topic. */
    ops[0].Value = proto_string_of("compact");
    request.IncrementalAlterConfigs.Resources.items[0].Configs.count = 1;
    CHECK(controller_decide_alter_configs(begin(), &decision, &request.IncrementalAlterConfigs,
                                          r));
    CHECK_EQ_U64(r->Responses.items[0].ErrorCode, KAFKA_ERROR_INVALID_CONFIG);
    ops[0].Name = proto_string_of("retention.ms");
    ops[0].ConfigOperation = 2;
    ops[0].Value = proto_string_of("5");
    CHECK(controller_decide_alter_configs(begin(), &decision, &request.IncrementalAlterConfigs,
                                          r));
    CHECK_EQ_U64(r->Responses.items[0].ErrorCode, KAFKA_ERROR_INVALID_CONFIG);
    ops[0].Name = proto_string_of("bogus");
    CHECK(controller_decide_alter_configs(begin(), &decision, &request.IncrementalAlterConfigs,
                                          r));
    CHECK_EQ_U64(r->Responses.items[0].ErrorCode, KAFKA_ERROR_INVALID_CONFIG);
    resources[0].ResourceName = proto_string_of("none");
    CHECK(controller_decide_alter_configs(begin(), &decision, &request.IncrementalAlterConfigs,
                                          r));
    CHECK_EQ_U64(r->Responses.items[0].ErrorCode, KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
}

/* ===== Tests: AlterPartition ===== */

static struct kafka_alter_partition_response_partition_data last_alter;
static i32 stale_member = -1; /* Its broker epoch in NewIsrWithEpochs is one too old. */

/* AlterPartition for t-0 as broker `from`; returns the partition's error code (or the
 * top-level one when set). */
static i16 alter_isr(i16 version, i32 from, i64 broker_epoch, i32 leader_epoch,
                     i32 partition_epoch, u32 count, const i32 *isr, const char *topic_name)
{
    const struct metadata_topic *topic = metadata_topic_find(&image, "t", 1);
    struct kafka_alter_partition_request_broker_state states[8];
    struct kafka_alter_partition_request_partition_data part;
    kafka_alter_partition_request_partition_data_init(&part);
    part.PartitionIndex = 0;
    part.LeaderEpoch = leader_epoch;
    part.PartitionEpoch = partition_epoch;
    part.NewIsr.items = (i32 *)isr;
    part.NewIsr.count = (i32)count;
    for (u32 i = 0; i < count; i++) {
        states[i].BrokerId = isr[i];
        states[i].BrokerEpoch = metadata_broker_find(&image, isr[i]) != NULL
                                    ? metadata_broker_find(&image, isr[i])->epoch : -1;
        if (isr[i] == stale_member) states[i].BrokerEpoch--;
    }
    part.NewIsrWithEpochs.items = states;
    part.NewIsrWithEpochs.count = (i32)count;
    if (version < 3) part.NewIsrWithEpochs.count = 0;
    else part.NewIsr.count = 0;
    struct kafka_alter_partition_request_topic_data data;
    kafka_alter_partition_request_topic_data_init(&data);
    if (version >= 2) {
        if (topic_name == NULL) memcpy(data.TopicId.bytes, topic->id.bytes, 16);
        else data.TopicId.bytes[0] = 0x55;
    } else {
        data.TopicName = proto_string_of(topic_name != NULL ? topic_name : "t");
    }
    data.Partitions.items = &part;
    data.Partitions.count = 1;
    struct kafka_alter_partition_request request;
    kafka_alter_partition_request_init(&request);
    request.BrokerId = from;
    request.BrokerEpoch = broker_epoch;
    request.Topics.items = &data;
    request.Topics.count = 1;
    union kafka_response response;
    CHECK(controller_decide_alter_partition(begin(), &decision, version, &request,
                                            &response.AlterPartition));
    check_encodes(KAFKA_API_ALTER_PARTITION, version, &response);
    if (response.AlterPartition.ErrorCode != 0) return response.AlterPartition.ErrorCode;
    last_alter = response.AlterPartition.Topics.items[0].Partitions.items[0];
    return last_alter.ErrorCode;
}

TEST(alter_partition_fencing)
{
    world_reset();
    for (i32 id = 1; id <= 4; id++) add_broker(id, NULL);
    const struct metadata_ids layout[1] = {ids_of(IDS(1, 2, 3))};
    create_assigned("t", 1, layout);
    i64 e1 = metadata_broker_find(&image, 1)->epoch;
    i64 e2 = metadata_broker_find(&image, 2)->epoch;
    CHECK_EQ_U64(alter_isr(3, 1, e1 - 1, 0, 0, IDS(1, 2), NULL), KAFKA_ERROR_STALE_BROKER_EPOCH);
    CHECK_EQ_U64(alter_isr(3, 1, e1, 1, 0, IDS(1, 2), NULL), KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER);
    CHECK_EQ_U64(alter_isr(3, 2, e2, 0, 0, IDS(1, 2), NULL), KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER);
    CHECK_EQ_U64(alter_isr(3, 1, e1, 0, 5, IDS(1, 2), NULL), KAFKA_ERROR_INVALID_UPDATE_VERSION);
    CHECK_EQ_U64(alter_isr(3, 1, e1, 0, 0, IDS(1, 4), NULL), KAFKA_ERROR_INELIGIBLE_REPLICA);
    CHECK_EQ_U64(alter_isr(3, 1, e1, 0, 0, IDS(1, 1), NULL), KAFKA_ERROR_INVALID_REQUEST);
    CHECK_EQ_U64(alter_isr(3, 1, e1, 0, 0, IDS(2, 3), NULL), KAFKA_ERROR_INVALID_REQUEST);
    CHECK_EQ_U64(alter_isr(3, 1, e1, 0, 0, IDS(1), "x"), KAFKA_ERROR_UNKNOWN_TOPIC_ID);
    CHECK_EQ_U64(alter_isr(1, 1, e1, 0, 0, IDS(1), "x"),
                 KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    CHECK_EQ_U64(decision.count, 0);
    /* Shrink: partition epoch moves, leader epoch does not. */
    CHECK_EQ_U64(alter_isr(3, 1, e1, 0, 0, IDS(1, 2), NULL), KAFKA_ERROR_NONE);
    CHECK_EQ_U64(last_alter.PartitionEpoch, 1);
    CHECK_EQ_U64(last_alter.LeaderEpoch, 0);
    commit();
    CHECK(ids_are(&partition_of("t", 0)->isr, IDS(1, 2)));
    CHECK_EQ_U64(partition_of("t", 0)->partition_epoch, 1);
    /* A stale partition epoch is refused now. */
    CHECK_EQ_U64(alter_isr(3, 1, e1, 0, 0, IDS(1, 2, 3), NULL),
                 KAFKA_ERROR_INVALID_UPDATE_VERSION);
    /* v0: by name; expand back. */
    CHECK_EQ_U64(alter_isr(0, 1, e1, 0, 1, IDS(1, 2, 3), NULL), KAFKA_ERROR_NONE);
    commit();
    CHECK(ids_are(&partition_of("t", 0)->isr, IDS(1, 2, 3)));
    /* A fenced member is ineligible. */
    controller_decide_expire(begin(), &decision, 3);
    commit();
    const struct metadata_partition *p = partition_of("t", 0);
    CHECK(ids_are(&p->isr, IDS(1, 2)));
    CHECK_EQ_U64(alter_isr(3, 1, e1, p->leader_epoch, p->partition_epoch, IDS(1, 2, 3), NULL),
                 KAFKA_ERROR_INELIGIBLE_REPLICA);
    /* A member's broker epoch from before its restart is ineligible (v3). */
    struct kafka_broker_registration_request again = registration(2, NULL);
    struct kafka_broker_registration_response again_response;
    CHECK(controller_decide_register(begin(), &decision, &again, &again_response));
    commit();
    beat(2, image.applied_offset, false, false);
    commit();
    p = partition_of("t", 0);
    CHECK(ids_are(&p->isr, IDS(1)));
    /* An older leader epoch is fenced. */
    CHECK_EQ_U64(p->leader, 1);
    CHECK_EQ_U64(alter_isr(3, 1, e1, p->leader_epoch - 1, p->partition_epoch, IDS(1), NULL),
                 KAFKA_ERROR_FENCED_LEADER_EPOCH);
    stale_member = 2;
    CHECK_EQ_U64(alter_isr(3, 1, e1, p->leader_epoch, p->partition_epoch, IDS(1, 2), NULL),
                 KAFKA_ERROR_INELIGIBLE_REPLICA);
    stale_member = -1;
    CHECK_EQ_U64(alter_isr(3, 1, e1, p->leader_epoch, p->partition_epoch, IDS(1, 2), NULL),
                 KAFKA_ERROR_NONE);
    commit();
}

TEST(alter_partition_leader_epoch_fencing)
{
    world_reset();
    for (i32 id = 1; id <= 2; id++) add_broker(id, NULL);
    const struct metadata_ids layout[1] = {ids_of(IDS(1, 2))};
    create_assigned("t", 1, layout);
    i64 e1 = metadata_broker_find(&image, 1)->epoch;
    i64 e2 = metadata_broker_find(&image, 2)->epoch;
    controller_decide_expire(begin(), &decision, 1);
    commit();
    CHECK_EQ_U64(partition_of("t", 0)->leader, 2);
    CHECK_EQ_U64(partition_of("t", 0)->leader_epoch, 1);
    /* The deposed leader's request carries the old leader epoch. */
    CHECK_EQ_U64(alter_isr(3, 1, e1, 0, 1, IDS(1, 2), NULL), KAFKA_ERROR_FENCED_LEADER_EPOCH);
    CHECK_EQ_U64(alter_isr(3, 2, e2, 1, 1, IDS(2), NULL), KAFKA_ERROR_NONE);
    CHECK_EQ_U64(decision.count, 0); /* The ISR is [2] already. */
}

/* ===== Tests: reassignment and elections ===== */

static i16 reassign(const char *topic_name, i32 partition, u32 count, const i32 *replicas,
                    bool cancel)
{
    struct kafka_alter_partition_reassignments_request_reassignable_partition part;
    kafka_alter_partition_reassignments_request_reassignable_partition_init(&part);
    part.PartitionIndex = partition;
    part.Replicas.items = (i32 *)replicas;
    part.Replicas.count = cancel ? -1 : (i32)count;
    struct kafka_alter_partition_reassignments_request_reassignable_topic topic;
    kafka_alter_partition_reassignments_request_reassignable_topic_init(&topic);
    topic.Name = proto_string_of(topic_name);
    topic.Partitions.items = &part;
    topic.Partitions.count = 1;
    struct kafka_alter_partition_reassignments_request request;
    kafka_alter_partition_reassignments_request_init(&request);
    request.Topics.items = &topic;
    request.Topics.count = 1;
    union kafka_response response;
    CHECK(controller_decide_alter_reassignments(begin(), &decision, &request,
                                                &response.AlterPartitionReassignments));
    check_encodes(KAFKA_API_ALTER_PARTITION_REASSIGNMENTS, 0, &response);
    return response.AlterPartitionReassignments.Responses.items[0].Partitions.items[0].ErrorCode;
}

static u32 list_ongoing(void)
{
    union kafka_request request;
    kafka_list_partition_reassignments_request_init(&request.ListPartitionReassignments);
    request.ListPartitionReassignments.Topics.count = -1;
    union kafka_response response;
    CHECK(controller_decide_list_reassignments(begin(), &request.ListPartitionReassignments,
                                               &response.ListPartitionReassignments));
    check_encodes(KAFKA_API_LIST_PARTITION_REASSIGNMENTS, 0, &response);
    u32 count = 0;
    for (i32 t = 0; t < response.ListPartitionReassignments.Topics.count; t++) {
        count += (u32)response.ListPartitionReassignments.Topics.items[t].Partitions.count;
    }
    return count;
}

TEST(reassignment_start_complete_cancel)
{
    world_reset();
    for (i32 id = 1; id <= 5; id++) add_broker(id, NULL);
    const struct metadata_ids layout[2] = {ids_of(IDS(1, 2, 3)), ids_of(IDS(1, 2, 3))};
    create_assigned("t", 2, layout);
    CHECK_EQ_U64(reassign("t", 0, IDS(4, 5, 1), true), KAFKA_ERROR_NO_REASSIGNMENT_IN_PROGRESS);
    CHECK_EQ_U64(reassign("t", 0, IDS(4, 9, 1), false), KAFKA_ERROR_INVALID_REPLICA_ASSIGNMENT);
    CHECK_EQ_U64(reassign("t", 0, IDS(4, 4), false), KAFKA_ERROR_INVALID_REPLICA_ASSIGNMENT);
    CHECK_EQ_U64(reassign("t", 7, IDS(4), false), KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    CHECK_EQ_U64(reassign("x", 0, IDS(4), false), KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    CHECK_EQ_U64(list_ongoing(), 0);
    /* Start: replicas = target + original not in target. */
    CHECK_EQ_U64(reassign("t", 0, IDS(4, 5, 1), false), KAFKA_ERROR_NONE);
    commit();
    const struct metadata_partition *p = partition_of("t", 0);
    CHECK(ids_are(&p->replicas, IDS(4, 5, 1, 2, 3)));
    CHECK(ids_are(&p->adding, IDS(4, 5)));
    CHECK(ids_are(&p->removing, IDS(2, 3)));
    CHECK(ids_are(&p->isr, IDS(1, 2, 3)));
    CHECK_EQ_U64(p->leader, 1);
    CHECK_EQ_U64(list_ongoing(), 1);
    /* 4 joins: not complete yet. */
    i64 e1 = metadata_broker_find(&image, 1)->epoch;
    CHECK_EQ_U64(alter_isr(3, 1, e1, p->leader_epoch, p->partition_epoch, IDS(1, 2, 3, 4), NULL),
                 KAFKA_ERROR_NONE);
    commit();
    CHECK_EQ_U64(partition_of("t", 0)->adding.count, 2);
    /* 5 joins: complete. */
    p = partition_of("t", 0);
    CHECK_EQ_U64(alter_isr(3, 1, e1, p->leader_epoch, p->partition_epoch,
                           IDS(1, 2, 3, 4, 5), NULL), KAFKA_ERROR_NONE);
    commit();
    p = partition_of("t", 0);
    CHECK(ids_are(&p->replicas, IDS(4, 5, 1)));
    CHECK(ids_are(&p->isr, IDS(1, 4, 5)));
    CHECK_EQ_U64(p->adding.count + p->removing.count, 0);
    CHECK_EQ_U64(p->leader, 1);
    CHECK_EQ_U64(list_ongoing(), 0);
    /* Moving away from the leader: completion re-elects, the old leader is told. */
    CHECK_EQ_U64(reassign("t", 1, IDS(4, 5), false), KAFKA_ERROR_NONE);
    commit();
    p = partition_of("t", 1);
    CHECK(ids_are(&p->replicas, IDS(4, 5, 1, 2, 3)));
    CHECK_EQ_U64(p->leader, 1);
    /* Cancel: back to the original replicas. */
    CHECK_EQ_U64(reassign("t", 1, IDS(0), true), KAFKA_ERROR_NONE);
    commit();
    p = partition_of("t", 1);
    CHECK(ids_are(&p->replicas, IDS(1, 2, 3)));
    CHECK(ids_are(&p->isr, IDS(1, 2, 3)));
    CHECK_EQ_U64(p->adding.count + p->removing.count, 0);
    /* A pure shrink completes at once, electing a new leader when the old one leaves. */
    CHECK_EQ_U64(reassign("t", 1, IDS(3, 2), false), KAFKA_ERROR_NONE);
    commit();
    p = partition_of("t", 1);
    CHECK(ids_are(&p->replicas, IDS(3, 2)));
    CHECK(ids_are(&p->isr, IDS(2, 3)));
    CHECK_EQ_U64(p->leader, 3);
    CHECK_EQ_U64(list_ongoing(), 0);
}

TEST(reassignment_completion_moves_leadership_with_new_leader_elected)
{
    world_reset();
    for (i32 id = 1; id <= 3; id++) add_broker(id, NULL);
    const struct metadata_ids layout[1] = {ids_of(IDS(1))};
    create_assigned("t", 1, layout);
    CHECK_EQ_U64(reassign("t", 0, IDS(2, 3), false), KAFKA_ERROR_NONE);
    commit();
    const struct metadata_partition *p = partition_of("t", 0);
    CHECK(ids_are(&p->replicas, IDS(2, 3, 1)));
    i64 e1 = metadata_broker_find(&image, 1)->epoch;
    /* v1: the deposed requester hears FENCED_LEADER_EPOCH; v2+: NEW_LEADER_ELECTED. */
    CHECK_EQ_U64(alter_isr(1, 1, e1, 0, p->partition_epoch, IDS(1, 2, 3), NULL),
                 KAFKA_ERROR_FENCED_LEADER_EPOCH);
    CHECK_EQ_U64(alter_isr(2, 1, e1, 0, p->partition_epoch, IDS(1, 2, 3), NULL),
                 KAFKA_ERROR_NEW_LEADER_ELECTED);
    CHECK_EQ_U64(last_alter.LeaderId, 2);
    CHECK_EQ_U64(last_alter.LeaderEpoch, 1);
    commit();
    p = partition_of("t", 0);
    CHECK(ids_are(&p->replicas, IDS(2, 3)));
    CHECK(ids_are(&p->isr, IDS(2, 3)));
    CHECK_EQ_U64(p->leader, 2);
    CHECK_EQ_U64(p->leader_epoch, 1);
}

static struct kafka_elect_leaders_response elect(i8 type, const char *topic_name, i32 partition,
                                                 bool all)
{
    struct kafka_elect_leaders_request_topic_partitions tp;
    kafka_elect_leaders_request_topic_partitions_init(&tp);
    tp.Topic = proto_string_of(topic_name);
    tp.Partitions.items = &partition;
    tp.Partitions.count = 1;
    struct kafka_elect_leaders_request request;
    kafka_elect_leaders_request_init(&request);
    request.ElectionType = type;
    request.TopicPartitions.items = &tp;
    request.TopicPartitions.count = all ? -1 : 1;
    union kafka_response response;
    CHECK(controller_decide_elect_leaders(begin(), &decision, 2, &request,
                                          &response.ElectLeaders));
    check_encodes(KAFKA_API_ELECT_LEADERS, 2, &response);
    return response.ElectLeaders;
}

static i16 elect_one(i8 type, const char *topic_name, i32 partition)
{
    struct kafka_elect_leaders_response r = elect(type, topic_name, partition, false);
    return r.ReplicaElectionResults.items[0].PartitionResult.items[0].ErrorCode;
}

TEST(elect_leaders_preferred_and_unclean)
{
    world_reset();
    for (i32 id = 1; id <= 3; id++) add_broker(id, NULL);
    const struct metadata_ids layout[2] = {ids_of(IDS(1, 2)), ids_of(IDS(3))};
    create_assigned("t", 2, layout);
    CHECK_EQ_U64(elect_one(0, "t", 0), KAFKA_ERROR_ELECTION_NOT_NEEDED);
    CHECK_EQ_U64(elect_one(0, "t", 9), KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    CHECK_EQ_U64(elect_one(0, "zz", 0), KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION);
    /* 1 fails and comes back (same incarnation): 2 leads, 1 is not in sync. */
    controller_decide_expire(begin(), &decision, 1);
    commit();
    CHECK_EQ_U64(partition_of("t", 0)->leader, 2);
    CHECK_EQ_U64(elect_one(0, "t", 0), KAFKA_ERROR_PREFERRED_LEADER_NOT_AVAILABLE);
    beat(1, image.applied_offset, false, false);
    commit();
    CHECK_EQ_U64(elect_one(0, "t", 0), KAFKA_ERROR_PREFERRED_LEADER_NOT_AVAILABLE);
    /* The leader lets 1 back into the ISR: now the preferred election moves it. */
    const struct metadata_partition *p = partition_of("t", 0);
    CHECK_EQ_U64(alter_isr(3, 2, metadata_broker_find(&image, 2)->epoch, p->leader_epoch,
                           p->partition_epoch, IDS(2, 1), NULL), KAFKA_ERROR_NONE);
    commit();
    /* The periodic check does what ElectLeaders would. */
    controller_decide_preferred(begin(), &decision);
    CHECK_EQ_U64(decision.count, 1);
    decision.count = 0;
    struct kafka_elect_leaders_response all = elect(0, "t", 0, true);
    CHECK_EQ_U64(all.ReplicaElectionResults.count, 1); /* Only the partition that moved. */
    CHECK_EQ_U64(all.ReplicaElectionResults.items[0].PartitionResult.count, 1);
    commit();
    CHECK_EQ_U64(partition_of("t", 0)->leader, 1);
    controller_decide_preferred(begin(), &decision);
    CHECK_EQ_U64(decision.count, 0);
    /* Unclean (type 1): t-1's only replica dies: no eligible leader; it returns, leads. */
    CHECK_EQ_U64(elect_one(1, "t", 1), KAFKA_ERROR_ELECTION_NOT_NEEDED);
    controller_decide_expire(begin(), &decision, 3);
    commit();
    CHECK_EQ_U64(elect_one(1, "t", 1), KAFKA_ERROR_ELIGIBLE_LEADERS_NOT_AVAILABLE);
    /* An out-of-sync replica is elected by an unclean election. */
    CHECK_EQ_U64(reassign("t", 1, IDS(2, 3), false), KAFKA_ERROR_NONE);
    commit();
    CHECK_EQ_U64(partition_of("t", 1)->leader, (u64)(i64)METADATA_NO_LEADER);
    CHECK_EQ_U64(elect_one(1, "t", 1), KAFKA_ERROR_NONE);
    commit();
    CHECK_EQ_U64(partition_of("t", 1)->leader, 2);
    CHECK(ids_are(&partition_of("t", 1)->isr, IDS(2)));
    /* A bad election type. */
    struct kafka_elect_leaders_request request;
    kafka_elect_leaders_request_init(&request);
    request.ElectionType = 7;
    struct kafka_elect_leaders_response response;
    CHECK(controller_decide_elect_leaders(begin(), &decision, 1, &request, &response));
    CHECK_EQ_U64(response.ErrorCode, KAFKA_ERROR_INVALID_REQUEST);
}

/* ===== Random requests of every version: decided cleanly ===== */

/* Requests filled with the codec tests' deterministic filler (names like "t", "topic-0", any
 * ids and counts), decoded from their own encoding as the controller would receive them, are
 * decided against a populated image: the response encodes at that version, the records apply
 * and leave a settled image, and the NOT_CONTROLLER answer encodes too. */
TEST(random_requests_decide_cleanly)
{
    static u8 fill_memory[1u << 20];
    static u8 bytes[1u << 20];
    u32 decided = 0, with_records = 0;
    for (u32 m = 0; m < ARRAY_LEN(test_messages); m++) {
        const struct test_message *message = &test_messages[m];
        if (!message->is_request || !controller_serves(message->api_key)) continue;
        world_reset();
        for (i32 id = 1; id <= 4; id++) add_broker(id, id % 2 ? "a" : "b");
        const char *names[] = {"t", "to", "top", "topic", "topic-0"};
        for (u32 i = 0; i < ARRAY_LEN(names); i++) {
            CHECK_EQ_U64(create_topic(names[i], 3, 2), KAFKA_ERROR_NONE);
        }
        for (i16 v = message->version_min; v <= message->version_max; v++) {
            for (u64 s = 0; s < 40; s++) {
                struct test_fill fill;
                test_fill_init(&fill, s * 131 + (u64)v, fill_memory, sizeof(fill_memory));
                union kafka_request filled;
                memset(&filled, 0, sizeof(filled));
                message->fill(&fill, v, &filled);
                struct proto_writer writer;
                proto_writer_init(&writer, bytes, sizeof(bytes));
                if (message->encode(&writer, v, &filled) != PROTO_OK) continue;
                struct proto_reader reader;
                proto_reader_init(&reader, bytes, writer.position);
                static u8 decode_memory[1u << 20];
                struct proto_arena decode_arena;
                proto_arena_init(&decode_arena, decode_memory, sizeof(decode_memory));
                union kafka_request request;
                REQUIRE(kafka_request_decode(&reader, message->api_key, v, &request,
                                             &decode_arena) == PROTO_OK);
                union kafka_response response;
                REQUIRE(controller_decide_request(begin(), &decision, message->api_key, v,
                                                  &request, &response));
                check_encodes(message->api_key, v, &response);
                decided++;
                with_records += decision.count > 0;
                if (decision.count > 0) commit();
                proto_arena_init(&arena, arena_memory, sizeof(arena_memory));
                CHECK(controller_error_response(message->api_key, v, &request,
                                                KAFKA_ERROR_NOT_CONTROLLER, &arena, &response));
                check_encodes(message->api_key, v, &response);
            }
        }
    }
    CHECK(decided > 1000);
    CHECK(with_records > 0);
    printf("     %u random requests decided, %u with records\n", decided, with_records);
    CHECK(!controller_serves(KAFKA_API_PRODUCE));
    CHECK(controller_topic_name_valid(proto_string_of("a-b_c.D9")));
    CHECK(!controller_topic_name_valid(proto_string_of("a b")));
}

/* ===== The server half: a fake quorum ===== */

#define FAKE_PROPOSALS_MAX 64

struct fake_quorum {
    u32 role;
    i32 epoch;
    i64 epoch_start;
    i64 next_offset;
    u8 *payloads[FAKE_PROPOSALS_MAX];
    u32 sizes[FAKE_PROPOSALS_MAX];
    i64 offsets[FAKE_PROPOSALS_MAX];
    u32 count;
    bool refuse;
};

static i64 fake_propose(void *context, const u8 *payload, u32 size)
{
    struct fake_quorum *q = context;
    if (q->role != HISTORY_ROLE_LEADER || q->refuse) return -1;
    ASSERT(q->count < FAKE_PROPOSALS_MAX);
    q->payloads[q->count] = malloc(size);
    memcpy(q->payloads[q->count], payload, size);
    q->sizes[q->count] = size;
    q->offsets[q->count] = q->next_offset++;
    return q->offsets[q->count++];
}

static void fake_status(void *context, struct quorum_status *status)
{
    struct fake_quorum *q = context;
    memset(status, 0, sizeof(*status));
    status->role = q->role;
    status->epoch = q->epoch;
    status->epoch_start_offset = q->epoch_start;
    status->log_end = q->next_offset;
}

struct server {
    struct fake_io *fake;
    struct fake_quorum quorum;
    struct controller *controller;
    u32 seen_sends;
};

static struct server server;

static void server_start(void)
{
    world_reset();
    memset(&server, 0, sizeof(server));
    server.fake = fake_create(1);
    config.broker_session_timeout_ms = 9000;
    config.auto_leader_rebalance_enable = true;
    server.controller = controller_create(&config, &server.fake->io, NULL, &image, 8);
    ASSERT(server.controller != NULL);
    struct controller_quorum_ops ops = {&server.quorum, fake_propose, fake_status};
    controller_set_quorum_ops(server.controller, &ops);
    server.quorum.role = HISTORY_ROLE_FOLLOWER;
    server.quorum.next_offset = 1;
}

static void server_stop(void)
{
    controller_destroy(server.controller);
    for (u32 i = 0; i < server.quorum.count; i++) free(server.quorum.payloads[i]);
    fake_destroy(server.fake);
}

/* Becomes leader in epoch; its leader-change record sits at the next offset. */
static void server_lead(i32 epoch)
{
    server.quorum.role = HISTORY_ROLE_LEADER;
    server.quorum.epoch = epoch;
    server.quorum.epoch_start = server.quorum.next_offset++;
    controller_on_quorum_change(server.controller);
}

/* The node applies a proposal (or the leader-change record) the way node.c does. */
static void server_apply_proposal(u32 index, i32 epoch)
{
    u32 count = 0;
    CHECK(metadata_decode(server.quorum.payloads[index], server.quorum.sizes[index],
                          decoded_records, CONTROLLER_RECORDS_MAX, &count) == METADATA_DECODED);
    i64 offset = server.quorum.offsets[index];
    for (u32 i = 0; i < count; i++) {
        CHECK(metadata_image_apply(&image, offset, &decoded_records[i]));
    }
    metadata_image_applied(&image, offset);
    controller_on_applied(server.controller, offset, epoch, false);
}

static u32 request_frame(i16 key, i16 version, i32 correlation, const union kafka_request *body,
                         u8 *out, u32 capacity)
{
    struct proto_request_header header = {.RequestApiKey = key, .RequestApiVersion = version,
                                          .CorrelationId = correlation,
                                          .ClientId = proto_string_of("test")};
    struct proto_writer writer;
    proto_writer_init(&writer, out, capacity);
    CHECK(proto_request_frame_encode(&writer, &header, body) == PROTO_OK);
    return writer.position;
}

static bool server_send(io_conn conn, i16 key, i16 version, i32 correlation,
                        const union kafka_request *body)
{
    static u8 frame[1u << 16];
    u32 size = request_frame(key, version, correlation, body, frame, sizeof(frame));
    return controller_on_request(server.controller, conn, frame + 4, size - 4);
}

/* Decodes the next answer sent; false when there is none. */
static bool server_answer(i16 key, i16 version, i32 *correlation, union kafka_response *out,
                          io_conn *conn)
{
    if (server.seen_sends >= server.fake->send_count) return false;
    struct fake_send *send = &server.fake->sends[server.seen_sends++];
    *conn = send->conn;
    struct proto_reader reader;
    proto_reader_init(&reader, send->bytes + 4, send->size - 4);
    CHECK(proto_response_header_decode(&reader, key, version, correlation) == PROTO_OK);
    proto_arena_init(&arena, arena_memory, sizeof(arena_memory));
    CHECK(kafka_response_decode(&reader, key, version, out, &arena) == PROTO_OK);
    return true;
}

static union kafka_request create_request(const char *name)
{
    static struct kafka_create_topics_request_creatable_topic topic;
    kafka_create_topics_request_creatable_topic_init(&topic);
    topic.Name = proto_string_of(name);
    topic.NumPartitions = 1;
    topic.ReplicationFactor = 1;
    union kafka_request request;
    kafka_create_topics_request_init(&request.CreateTopics);
    request.CreateTopics.Topics.items = &topic;
    request.CreateTopics.Topics.count = 1;
    return request;
}

TEST(server_not_controller_until_its_leader_change_is_applied)
{
    server_start();
    union kafka_request request = create_request("t");
    union kafka_response response;
    i32 correlation = 0;
    io_conn conn = 0;
    CHECK(server_send(5, KAFKA_API_CREATE_TOPICS, 7, 11, &request));
    REQUIRE(server_answer(KAFKA_API_CREATE_TOPICS, 7, &correlation, &response, &conn));
    CHECK_EQ_U64(correlation, 11);
    CHECK_EQ_U64(conn, 5);
    CHECK_EQ_U64(response.CreateTopics.Topics.items[0].ErrorCode, KAFKA_ERROR_NOT_CONTROLLER);
    server_lead(3);
    CHECK(!controller_active(server.controller)); /* Its leader change is not applied yet. */
    CHECK(server_send(5, KAFKA_API_CREATE_TOPICS, 7, 12, &request));
    REQUIRE(server_answer(KAFKA_API_CREATE_TOPICS, 7, &correlation, &response, &conn));
    CHECK_EQ_U64(response.CreateTopics.Topics.items[0].ErrorCode, KAFKA_ERROR_NOT_CONTROLLER);
    controller_on_applied(server.controller, server.quorum.epoch_start, 3, true);
    CHECK(controller_active(server.controller));
    CHECK_EQ_U64(fake_count_observations(server.fake, HISTORY_CONTROLLER_ACTIVE), 1);
    /* Malformed frames and apis not served here close the connection. */
    u8 junk[3] = {0, 19, 0};
    CHECK(!controller_on_request(server.controller, 5, junk, sizeof(junk)));
    union kafka_request metadata;
    kafka_metadata_request_init(&metadata.Metadata);
    CHECK(!server_send(5, KAFKA_API_METADATA, 9, 13, &metadata));
    server_stop();
}

TEST(server_answer_held_until_applied_in_its_epoch)
{
    server_start();
    server_lead(1);
    controller_on_applied(server.controller, server.quorum.epoch_start, 1, true);
    REQUIRE(controller_active(server.controller));
    /* A broker registers: the answer waits for the entry. */
    union kafka_request request;
    request.BrokerRegistration = registration(1, NULL);
    CHECK(server_send(6, KAFKA_API_BROKER_REGISTRATION, 2, 21, &request));
    CHECK_EQ_U64(server.fake->send_count, 0);
    REQUIRE(server.quorum.count == 1);
    CHECK_EQ_U64(fake_count_observations(server.fake, HISTORY_CONTROLLER_DECISION), 1);
    /* Another registration needs records: it waits in the queue. A heartbeat of an unknown
     * broker and a refused CreateTopics need none: answered at once. */
    union kafka_request second;
    second.BrokerRegistration = registration(2, NULL);
    CHECK(server_send(7, KAFKA_API_BROKER_REGISTRATION, 2, 22, &second));
    union kafka_request heartbeat;
    kafka_broker_heartbeat_request_init(&heartbeat.BrokerHeartbeat);
    heartbeat.BrokerHeartbeat.BrokerId = 4;
    CHECK(server_send(8, KAFKA_API_BROKER_HEARTBEAT, 1, 23, &heartbeat));
    union kafka_request create = create_request("t");
    CHECK(server_send(9, KAFKA_API_CREATE_TOPICS, 7, 26, &create));
    CHECK_EQ_U64(server.quorum.count, 1);
    union kafka_response response;
    i32 correlation = 0;
    io_conn conn = 0;
    REQUIRE(server_answer(KAFKA_API_BROKER_HEARTBEAT, 1, &correlation, &response, &conn));
    CHECK_EQ_U64(correlation, 23);
    CHECK_EQ_U64(response.BrokerHeartbeat.ErrorCode, KAFKA_ERROR_BROKER_ID_NOT_REGISTERED);
    REQUIRE(server_answer(KAFKA_API_CREATE_TOPICS, 7, &correlation, &response, &conn));
    CHECK_EQ_U64(correlation, 26);
    CHECK_EQ_U64(response.CreateTopics.Topics.items[0].ErrorCode,
                 KAFKA_ERROR_INVALID_REPLICATION_FACTOR);
    /* Applied: the registration is answered with its offset as epoch; the queued one is
     * decided and proposed, and answered once its own entry applies. */
    server_apply_proposal(0, 1);
    REQUIRE(server_answer(KAFKA_API_BROKER_REGISTRATION, 2, &correlation, &response, &conn));
    CHECK_EQ_U64(correlation, 21);
    CHECK_EQ_U64(conn, 6);
    CHECK_EQ_U64(response.BrokerRegistration.ErrorCode, KAFKA_ERROR_NONE);
    CHECK_EQ_U64(response.BrokerRegistration.BrokerEpoch, server.quorum.offsets[0]);
    REQUIRE(server.quorum.count == 2);
    CHECK(!server_answer(KAFKA_API_BROKER_REGISTRATION, 2, &correlation, &response, &conn));
    server_apply_proposal(1, 1);
    REQUIRE(server_answer(KAFKA_API_BROKER_REGISTRATION, 2, &correlation, &response, &conn));
    CHECK_EQ_U64(correlation, 22);
    CHECK_EQ_U64(conn, 7);
    CHECK_EQ_U64(response.BrokerRegistration.BrokerEpoch, server.quorum.offsets[1]);
    /* The broker catches up: unfenced once that entry applies. */
    heartbeat.BrokerHeartbeat.BrokerId = 1;
    heartbeat.BrokerHeartbeat.BrokerEpoch = server.quorum.offsets[0];
    heartbeat.BrokerHeartbeat.CurrentMetadataOffset = server.quorum.offsets[0];
    CHECK(server_send(6, KAFKA_API_BROKER_HEARTBEAT, 1, 24, &heartbeat));
    REQUIRE(server.quorum.count == 3);
    CHECK(!server_answer(KAFKA_API_BROKER_HEARTBEAT, 1, &correlation, &response, &conn));
    server_apply_proposal(2, 1);
    REQUIRE(server_answer(KAFKA_API_BROKER_HEARTBEAT, 1, &correlation, &response, &conn));
    CHECK_EQ_U64(correlation, 24);
    CHECK(!response.BrokerHeartbeat.IsFenced);
    /* A create whose offset holds another epoch's entry: NOT_CONTROLLER. */
    CHECK(server_send(9, KAFKA_API_CREATE_TOPICS, 7, 25, &create));
    REQUIRE(server.quorum.count == 4);
    controller_on_applied(server.controller, server.quorum.offsets[3], 2, false);
    REQUIRE(server_answer(KAFKA_API_CREATE_TOPICS, 7, &correlation, &response, &conn));
    CHECK_EQ_U64(correlation, 25);
    CHECK_EQ_U64(response.CreateTopics.Topics.items[0].ErrorCode, KAFKA_ERROR_NOT_CONTROLLER);
    server_stop();
}

TEST(server_leadership_loss_answers_held_and_queued)
{
    server_start();
    server_lead(1);
    controller_on_applied(server.controller, server.quorum.epoch_start, 1, true);
    union kafka_request request;
    request.BrokerRegistration = registration(1, NULL);
    CHECK(server_send(6, KAFKA_API_BROKER_REGISTRATION, 0, 31, &request));
    request.BrokerRegistration = registration(2, NULL);
    CHECK(server_send(7, KAFKA_API_BROKER_REGISTRATION, 0, 32, &request));
    CHECK_EQ_U64(server.quorum.count, 1);
    server.quorum.role = HISTORY_ROLE_FOLLOWER;
    controller_on_quorum_change(server.controller);
    CHECK(!controller_active(server.controller));
    union kafka_response response;
    i32 correlation = 0;
    io_conn conn = 0;
    for (i32 expected = 31; expected <= 32; expected++) {
        REQUIRE(server_answer(KAFKA_API_BROKER_REGISTRATION, 0, &correlation, &response, &conn));
        CHECK_EQ_U64(correlation, expected);
        CHECK_EQ_U64(response.BrokerRegistration.ErrorCode, KAFKA_ERROR_NOT_CONTROLLER);
    }
    /* The entry commits later under the new leader: nothing more is sent. */
    server_apply_proposal(0, 1);
    CHECK(!server_answer(KAFKA_API_BROKER_REGISTRATION, 0, &correlation, &response, &conn));
    server_stop();
}

TEST(server_session_expiry_fences_and_timers)
{
    server_start();
    server_lead(1);
    controller_on_applied(server.controller, server.quorum.epoch_start, 1, true);
    union kafka_request request;
    request.BrokerRegistration = registration(1, NULL);
    CHECK(server_send(6, KAFKA_API_BROKER_REGISTRATION, 0, 41, &request));
    server_apply_proposal(0, 1);
    union kafka_request heartbeat;
    kafka_broker_heartbeat_request_init(&heartbeat.BrokerHeartbeat);
    heartbeat.BrokerHeartbeat.BrokerId = 1;
    heartbeat.BrokerHeartbeat.BrokerEpoch = server.quorum.offsets[0];
    heartbeat.BrokerHeartbeat.CurrentMetadataOffset = server.quorum.offsets[0];
    CHECK(server_send(6, KAFKA_API_BROKER_HEARTBEAT, 0, 42, &heartbeat));
    server_apply_proposal(1, 1);
    REQUIRE(!metadata_broker_find(&image, 1)->fenced);
    /* The session timer is armed; heartbeats keep it alive. */
    u32 timer = 8 + 0;
    REQUIRE(server.fake->timer_armed[timer]);
    CHECK(server.fake->timer_armed[8 + 1]); /* The preferred-leader check. */
    server.fake->now_ns += 5 * NS_PER_S;
    CHECK(server_send(6, KAFKA_API_BROKER_HEARTBEAT, 0, 43, &heartbeat));
    server.fake->now_ns += 5 * NS_PER_S;
    controller_on_timer(server.controller, timer);
    CHECK_EQ_U64(server.quorum.count, 2); /* 5 s since the last heartbeat: nothing. */
    /* A decision in flight (a topic) when the session expires: the expiry waits for it, and
     * the timer does not spin meanwhile. */
    union kafka_request create = create_request("t");
    CHECK(server_send(7, KAFKA_API_CREATE_TOPICS, 7, 44, &create));
    REQUIRE(server.quorum.count == 3);
    server.fake->now_ns += 5 * NS_PER_S;
    CHECK(server.fake->timer_deadline[timer] <= server.fake->now_ns);
    controller_on_timer(server.controller, timer);
    CHECK_EQ_U64(server.quorum.count, 3);
    CHECK(server.fake->timer_deadline[timer] >= server.fake->now_ns + 900 * NS_PER_MS);
    server_apply_proposal(2, 1);
    REQUIRE(server.quorum.count == 4);
    const struct io_observation *decision_seen =
        fake_last_observation(server.fake, HISTORY_CONTROLLER_DECISION);
    REQUIRE(decision_seen != NULL);
    CHECK_EQ_U64(decision_seen->c, 1001);
    server_apply_proposal(3, 1);
    CHECK(metadata_broker_find(&image, 1)->fenced);
    CHECK_EQ_U64(partition_of("t", 0)->leader, (u64)(i64)METADATA_NO_LEADER);
    /* The preferred-leader timer decides nothing here, and re-arms. */
    controller_on_timer(server.controller, 8 + 1);
    CHECK_EQ_U64(server.quorum.count, 4);
    CHECK(server.fake->timer_armed[8 + 1]);
    server_stop();
}

TEST(server_unregister_and_api_versions)
{
    server_start();
    server_lead(1);
    controller_on_applied(server.controller, server.quorum.epoch_start, 1, true);
    /* UnregisterBroker has no generated codec: flexible header v2, then BrokerId. */
    u8 frame[64];
    struct proto_writer writer;
    proto_writer_init(&writer, frame, sizeof(frame));
    struct proto_request_header header = {.RequestApiKey = KAFKA_API_UNREGISTER_BROKER,
                                          .CorrelationId = 51,
                                          .ClientId = proto_string_of("t")};
    CHECK(proto_request_header_encode(&writer, &header) == PROTO_OK);
    proto_write_i32(&writer, 3);
    proto_write_uvarint(&writer, 0);
    CHECK(controller_on_request(server.controller, 9, frame, writer.position));
    REQUIRE(server.fake->send_count == 1);
    struct proto_reader reader;
    proto_reader_init(&reader, server.fake->sends[0].bytes + 4, server.fake->sends[0].size - 4);
    i32 correlation = 0;
    CHECK(proto_response_header_decode(&reader, KAFKA_API_UNREGISTER_BROKER, 0, &correlation) ==
          PROTO_OK);
    CHECK_EQ_U64(correlation, 51);
    CHECK_EQ_U64(proto_read_i32(&reader), 0);
    CHECK_EQ_U64(proto_read_i16(&reader), KAFKA_ERROR_BROKER_ID_NOT_REGISTERED);
    struct proto_string message = proto_read_string(&reader, true, true);
    CHECK(message.size == -1);
    proto_read_tagged_fields_skip(&reader);
    CHECK(reader.error == PROTO_OK && proto_reader_remaining(&reader) == 0);
    /* ApiVersions lists the controller's apis. */
    union kafka_request versions;
    kafka_api_versions_request_init(&versions.ApiVersions);
    CHECK(server_send(9, KAFKA_API_API_VERSIONS, 0, 52, &versions));
    REQUIRE(server.fake->send_count == 2);
    union kafka_response response;
    io_conn conn = 0;
    server.seen_sends = 1;
    REQUIRE(server_answer(KAFKA_API_API_VERSIONS, 0, &correlation, &response, &conn));
    bool registration_listed = false, produce_listed = false;
    for (i32 i = 0; i < response.ApiVersions.ApiKeys.count; i++) {
        i16 key = response.ApiVersions.ApiKeys.items[i].ApiKey;
        registration_listed |= key == KAFKA_API_BROKER_REGISTRATION;
        produce_listed |= key == KAFKA_API_PRODUCE;
    }
    CHECK(registration_listed && !produce_listed);
    server_stop();
}

/* ===== Producer ids ===== */

static struct kafka_allocate_producer_ids_response allocate_ids(i32 id, i64 epoch)
{
    union kafka_request request;
    kafka_allocate_producer_ids_request_init(&request.AllocateProducerIds);
    request.AllocateProducerIds.BrokerId = id;
    request.AllocateProducerIds.BrokerEpoch = epoch;
    union kafka_response response;
    CHECK(controller_decide_request(begin(), &decision, KAFKA_API_ALLOCATE_PRODUCER_IDS, 0,
                                    &request, &response));
    check_encodes(KAFKA_API_ALLOCATE_PRODUCER_IDS, 0, &response);
    return response.AllocateProducerIds;
}

TEST(producer_id_blocks_are_consecutive_committed_and_never_repeat)
{
    world_reset();
    i64 epoch1 = add_broker(1, NULL);
    i64 epoch2 = add_broker(2, NULL);
    CHECK(controller_serves(KAFKA_API_ALLOCATE_PRODUCER_IDS));
    struct kafka_allocate_producer_ids_response block = allocate_ids(1, epoch1);
    CHECK_EQ_U64(block.ErrorCode, KAFKA_ERROR_NONE);
    CHECK_EQ_U64(block.ProducerIdStart, 0);
    CHECK_EQ_U64(block.ProducerIdLen, CONTROLLER_PRODUCER_ID_BLOCK);
    REQUIRE(decision.count == 1 && records[0].type == METADATA_PRODUCER_IDS);
    CHECK_EQ_U64(records[0].as.producer_ids.next_producer_id, CONTROLLER_PRODUCER_ID_BLOCK);
    /* Not committed (the controller failed over before): the next decision starts there
     * again, and the first answer was never sent (answers leave after the commit). */
    decision.count = 0;
    block = allocate_ids(2, epoch2);
    CHECK_EQ_U64(block.ProducerIdStart, 0);
    commit();
    CHECK_EQ_U64(image.next_producer_id, CONTROLLER_PRODUCER_ID_BLOCK);
    block = allocate_ids(1, epoch1);
    CHECK_EQ_U64(block.ProducerIdStart, CONTROLLER_PRODUCER_ID_BLOCK);
    commit();
    CHECK_EQ_U64(image.next_producer_id, 2 * CONTROLLER_PRODUCER_ID_BLOCK);
    /* A fenced broker of the current epoch is served, as by Kafka's checkBrokerEpoch. */
    beat(2, 0, true, false);
    commit();
    REQUIRE(metadata_broker_find(&image, 2)->fenced);
    block = allocate_ids(2, epoch2);
    CHECK_EQ_U64(block.ErrorCode, KAFKA_ERROR_NONE);
    CHECK_EQ_U64(block.ProducerIdStart, 2 * CONTROLLER_PRODUCER_ID_BLOCK);
    commit();
    /* A stale epoch or an unknown broker gets nothing and moves nothing. */
    block = allocate_ids(1, epoch1 + 1);
    CHECK_EQ_U64(block.ErrorCode, KAFKA_ERROR_STALE_BROKER_EPOCH);
    CHECK_EQ_U64(decision.count, 0);
    block = allocate_ids(7, 1); /* Kafka's checkBrokerEpoch: unregistered is stale too. */
    CHECK_EQ_U64(block.ErrorCode, KAFKA_ERROR_STALE_BROKER_EPOCH);
    CHECK_EQ_U64(decision.count, 0);
    /* An inactive controller answers NOT_CONTROLLER; the broker asks again later. */
    union kafka_request request;
    kafka_allocate_producer_ids_request_init(&request.AllocateProducerIds);
    union kafka_response failed;
    CHECK(controller_error_response(KAFKA_API_ALLOCATE_PRODUCER_IDS, 0, &request,
                                    KAFKA_ERROR_NOT_CONTROLLER, &arena, &failed));
    CHECK_EQ_U64(failed.AllocateProducerIds.ErrorCode, KAFKA_ERROR_NOT_CONTROLLER);
}

static const struct test_case tests[] = {
    {"producer_id_blocks_are_consecutive_committed_and_never_repeat",
     producer_id_blocks_are_consecutive_committed_and_never_repeat},
    {"registration_heartbeat_and_fencing", registration_heartbeat_and_fencing},
    {"session_expiry_moves_leaders_within_the_isr", session_expiry_moves_leaders_within_the_isr},
    {"last_isr_member_stays_and_no_unclean_election_unless_enabled",
     last_isr_member_stays_and_no_unclean_election_unless_enabled},
    {"unfencing_elects_leaderless_partitions", unfencing_elects_leaderless_partitions},
    {"controlled_shutdown_drains_leaderships", controlled_shutdown_drains_leaderships},
    {"unregister_moves_leaders_then_removes", unregister_moves_leaders_then_removes},
    {"create_topics_validation", create_topics_validation},
    {"create_topics_configs_duplicates_validate_only_and_assignments",
     create_topics_configs_duplicates_validate_only_and_assignments},
    {"create_topics_limits", create_topics_limits},
    {"rack_aware_placement_properties", rack_aware_placement_properties},
    {"topic_ids_and_leaders_spread_across_topics", topic_ids_and_leaders_spread_across_topics},
    {"delete_topics_by_name_and_id", delete_topics_by_name_and_id},
    {"create_partitions", create_partitions},
    {"incremental_alter_configs", incremental_alter_configs},
    {"alter_partition_fencing", alter_partition_fencing},
    {"alter_partition_leader_epoch_fencing", alter_partition_leader_epoch_fencing},
    {"reassignment_start_complete_cancel", reassignment_start_complete_cancel},
    {"reassignment_completion_moves_leadership_with_new_leader_elected",
     reassignment_completion_moves_leadership_with_new_leader_elected},
    {"elect_leaders_preferred_and_unclean", elect_leaders_preferred_and_unclean},
    {"random_requests_decide_cleanly", random_requests_decide_cleanly},
    {"server_not_controller_until_its_leader_change_is_applied",
     server_not_controller_until_its_leader_change_is_applied},
    {"server_answer_held_until_applied_in_its_epoch",
     server_answer_held_until_applied_in_its_epoch},
    {"server_leadership_loss_answers_held_and_queued",
     server_leadership_loss_answers_held_and_queued},
    {"server_session_expiry_fences_and_timers", server_session_expiry_fences_and_timers},
    {"server_unregister_and_api_versions", server_unregister_and_api_versions},
};

TEST_MAIN(tests)
