/* test_kafka_client_group.c: the group consumer of impl/kafka_client/ driven through a fake io
 * that plays one or two brokers.
 *
 * The fake delivers connection events and timers from its own loop (never inside an io call),
 * captures every request frame the client sends and answers the data-path ones by itself
 * (Metadata: broker b1 leads every partition; FindCoordinator: the scripted coordinator;
 * ListOffsets: each partition's log start; Fetch: the records of an in-memory log, or an empty
 * answer once its 100 ms long poll ran out). Group requests (JoinGroup, SyncGroup, Heartbeat,
 * OffsetCommit, OffsetFetch) wait for the test, which decodes them with the generated codec,
 * checks them and answers as a coordinator would. The history the client reports
 * (HISTORY_GROUP_*, HISTORY_KAFKA_READ) is recorded and checked in order.
 *
 * Covered: the assignors as pure functions over many member and partition counts (range:
 * Kafka's split; cooperative-sticky: never gives a claimed partition to another member in the
 * same round, keeps owned partitions up to the share, converges to a balanced assignment in
 * one more round); the ConsumerProtocol payloads (round trips, newer versions, truncations);
 * the MEMBER_ID_REQUIRED dance and a static member's instance id; the leader's SyncGroup;
 * OffsetFetch then the committed offset or the earliest; commits of every position at each
 * interval, their answers, errors and timeouts; eager revocation (commit, REVOKED, then JoinGroup);
 * cooperative revocation of only the moved partitions and the second round; fencing by
 * Heartbeat, by OffsetCommit after a pause (the zombie's stale commit); a coordinator that
 * moves; malformed answers. */
#include "test.h"

#include "kafka_client_fake_io.h"

#include "../../impl/kafka_client/kafka_client.h"
#include "../../impl/kafka_client/kafka_client_assign.h"
#include "../../impl/log/record_batch.h"
#include "../../impl/protocol/errors_generated.h"
#include "../../impl/protocol/header.h"
#include "../../model/history.h"

#define LOG_PARTITIONS 16u
#define LONG_POLL_NS (100 * NS_PER_MS)
#define TOPIC "orders"
#define GROUP "g"

struct world {
    struct kc_fake fake; /* First: the io's context. */
    /* The brokers' part. */
    u32 log_records[LOG_PARTITIONS]; /* Records at offsets 0..n-1. */
    char coordinator[CONFIG_ENDPOINT_MAX];
    i32 coordinator_id;
    i16 find_error;
    bool manual_heartbeats; /* Else every Heartbeat is answered at once with no error. */
    _Alignas(8) u8 arena_memory[256u * 1024u];
    u8 batch_buffer[64u * 1024u];
};

/* ===== Answers ===== */

static void answer_metadata(struct world *world, struct fake_request *request)
{
    struct kafka_metadata_response_broker brokers[2];
    kafka_metadata_response_broker_init(&brokers[0]);
    brokers[0].NodeId = 1;
    brokers[0].Host = proto_string_of("b1");
    brokers[0].Port = 9092;
    kafka_metadata_response_broker_init(&brokers[1]);
    brokers[1].NodeId = 2;
    brokers[1].Host = proto_string_of("b2");
    brokers[1].Port = 9092;
    struct kafka_metadata_response_partition partitions[LOG_PARTITIONS];
    i32 replicas[1] = {1};
    for (u32 p = 0; p < world->fake.config.partition_count; p++) {
        kafka_metadata_response_partition_init(&partitions[p]);
        partitions[p].PartitionIndex = (i32)p;
        partitions[p].LeaderId = 1;
        partitions[p].LeaderEpoch = 0;
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
    response.Metadata.Brokers.items = brokers;
    response.Metadata.Brokers.count = 2;
    response.Metadata.Topics.items = &topic;
    response.Metadata.Topics.count = 1;
    kc_fake_deliver(&world->fake, request, &response);
}

static void answer_find_coordinator(struct world *world, struct fake_request *request)
{
    union kafka_response response;
    kafka_find_coordinator_response_init(&response.FindCoordinator);
    response.FindCoordinator.ErrorCode = world->find_error;
    response.FindCoordinator.NodeId = world->find_error == 0 ? world->coordinator_id : -1;
    char host[CONFIG_ENDPOINT_MAX];
    snprintf(host, sizeof(host), "%s", world->coordinator);
    *strchr(host, ':') = '\0';
    response.FindCoordinator.Host = proto_string_of(world->find_error == 0 ? host : "");
    response.FindCoordinator.Port = world->find_error == 0 ? 9092 : -1;
    kc_fake_deliver(&world->fake, request, &response);
}

/* Decodes a captured request (arrays in the world's arena, valid until the next decode). */
static void request_decode(struct world *world, const struct fake_request *request,
                           union kafka_request *body)
{
    struct proto_reader reader;
    proto_reader_init(&reader, request->frame, request->size);
    struct proto_request_header header;
    ASSERT(proto_request_header_decode(&reader, &header) == PROTO_OK);
    struct proto_arena arena;
    proto_arena_init(&arena, world->arena_memory, sizeof(world->arena_memory));
    ASSERT(kafka_request_decode(&reader, request->api_key, request->version, body, &arena) ==
           PROTO_OK);
}

static void answer_list_offsets(struct world *world, struct fake_request *request)
{
    union kafka_request body;
    request_decode(world, request, &body);
    ASSERT(body.ListOffsets.Topics.count == 1);
    const struct kafka_list_offsets_request_topic *asked = &body.ListOffsets.Topics.items[0];
    struct kafka_list_offsets_response_partition partitions[LOG_PARTITIONS];
    for (i32 i = 0; i < asked->Partitions.count; i++) {
        kafka_list_offsets_response_partition_init(&partitions[i]);
        partitions[i].PartitionIndex = asked->Partitions.items[i].PartitionIndex;
        partitions[i].Offset = 0; /* Every log starts at 0. */
    }
    struct kafka_list_offsets_response_topic topic;
    kafka_list_offsets_response_topic_init(&topic);
    topic.Name = proto_string_of(TOPIC);
    topic.Partitions.items = partitions;
    topic.Partitions.count = asked->Partitions.count;
    union kafka_response response;
    kafka_list_offsets_response_init(&response.ListOffsets);
    response.ListOffsets.Topics.items = &topic;
    response.ListOffsets.Topics.count = 1;
    kc_fake_deliver(&world->fake, request, &response);
}

static u64 value_checksum(u32 p, u32 offset)
{
    char value[32];
    int written = snprintf(value, sizeof(value), "v%u-%u", p, offset);
    return kafka_client_checksum((const u8 *)value, (u32)written);
}

/* Answers a Fetch when it has records for it or its long poll ran out; false when held. */
static bool answer_fetch(struct world *world, struct fake_request *request)
{
    union kafka_request body;
    request_decode(world, request, &body);
    ASSERT(body.Fetch.Topics.count == 1);
    const struct kafka_fetch_request_topic *asked = &body.Fetch.Topics.items[0];
    bool any = false;
    for (i32 i = 0; i < asked->Partitions.count; i++) {
        const struct kafka_fetch_request_partition *partition = &asked->Partitions.items[i];
        any = any || partition->FetchOffset < world->log_records[partition->Partition];
    }
    if (!any && world->fake.now < request->sent_ns + LONG_POLL_NS) return false;
    struct kafka_fetch_response_partition_data partitions[LOG_PARTITIONS];
    u64 used = 0;
    for (i32 i = 0; i < asked->Partitions.count; i++) {
        const struct kafka_fetch_request_partition *partition = &asked->Partitions.items[i];
        u32 p = (u32)partition->Partition;
        kafka_fetch_response_partition_data_init(&partitions[i]);
        partitions[i].PartitionIndex = (i32)p;
        partitions[i].HighWatermark = world->log_records[p];
        partitions[i].Records.data = NULL;
        partitions[i].Records.size = 0;
        if (partition->FetchOffset >= world->log_records[p]) continue;
        struct batch_builder builder;
        u8 *batch = world->batch_buffer + used;
        batch_builder_init(&builder, batch, sizeof(world->batch_buffer) - used,
                           partition->FetchOffset, 0);
        for (u32 o = (u32)partition->FetchOffset; o < world->log_records[p]; o++) {
            char value[32];
            int written = snprintf(value, sizeof(value), "v%u-%u", p, o);
            batch_builder_add(&builder, 0, NULL, 0, (const u8 *)value, written, NULL, 0);
        }
        u64 size = batch_builder_finish(&builder);
        ASSERT(size > 0);
        partitions[i].Records.data = batch;
        partitions[i].Records.size = (i32)size;
        used += size;
    }
    struct kafka_fetch_response_fetchable_topic topic;
    kafka_fetch_response_fetchable_topic_init(&topic);
    topic.Topic = proto_string_of(TOPIC);
    topic.Partitions.items = partitions;
    topic.Partitions.count = asked->Partitions.count;
    union kafka_response response;
    kafka_fetch_response_init(&response.Fetch);
    response.Fetch.Responses.items = &topic;
    response.Fetch.Responses.count = 1;
    kc_fake_deliver(&world->fake, request, &response);
    return true;
}

static void answer_heartbeat(struct world *world, struct fake_request *request, i16 error);

static bool is_group_api(i16 api_key)
{
    return api_key == KAFKA_API_JOIN_GROUP || api_key == KAFKA_API_SYNC_GROUP ||
           api_key == KAFKA_API_HEARTBEAT || api_key == KAFKA_API_OFFSET_COMMIT ||
           api_key == KAFKA_API_OFFSET_FETCH;
}

/* One thing that can happen now; false when nothing can. */
static bool world_step(struct world *world)
{
    for (io_conn conn = 1; conn <= world->fake.conn_count; conn++) {
        struct fake_conn *fake = &world->fake.conns[conn];
        if (fake->connected && !fake->announced && !fake->closed) {
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
        switch (request->api_key) {
        case KAFKA_API_METADATA: answer_metadata(world, request); return true;
        case KAFKA_API_FIND_COORDINATOR: answer_find_coordinator(world, request); return true;
        case KAFKA_API_LIST_OFFSETS: answer_list_offsets(world, request); return true;
        case KAFKA_API_FETCH:
            if (answer_fetch(world, request)) return true;
            break;
        case KAFKA_API_HEARTBEAT:
            if (world->manual_heartbeats) break;
            answer_heartbeat(world, request, 0);
            return true;
        default: ASSERT(is_group_api(request->api_key)); break;
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

/* Runs until `ns` from now, moving the clock to each due timer and long-poll end in turn. */
static void world_run(struct world *world, u64 ns)
{
    u64 until = world->fake.now + ns;
    world_settle(world);
    for (;;) {
        u64 next = kc_fake_next_timer(&world->fake, until);
        for (u32 i = 0; i < world->fake.request_count; i++) {
            const struct fake_request *request = &world->fake.requests[i];
            if (!request->answered && request->api_key == KAFKA_API_FETCH) {
                next = MIN(next, request->sent_ns + LONG_POLL_NS);
            }
        }
        if (next > world->fake.now) world->fake.now = next;
        world_settle(world);
        if (world->fake.now >= until) return;
    }
}

/* The oldest unanswered group request of api_key, or NULL. */
static struct fake_request *world_pending(struct world *world, i16 api_key)
{
    for (u32 i = 0; i < world->fake.request_count; i++) {
        struct fake_request *request = &world->fake.requests[i];
        if (!request->answered && request->api_key == api_key &&
            !world->fake.conns[request->conn].closed) {
            return request;
        }
    }
    return NULL;
}

/* Any group request waiting for the test. */
static struct fake_request *world_pending_group(struct world *world)
{
    for (u32 i = 0; i < world->fake.request_count; i++) {
        struct fake_request *request = &world->fake.requests[i];
        if (!request->answered && is_group_api(request->api_key) &&
            !world->fake.conns[request->conn].closed) {
            return request;
        }
    }
    return NULL;
}

static u32 observed_mark(const struct world *world) { return world->fake.observed_count; }

/* The index of the first observation of kind at or after from, or UINT32_MAX. */
static u32 observed_find(const struct world *world, u32 from, u32 kind)
{
    for (u32 i = from; i < world->fake.observed_count; i++) {
        if (world->fake.observed[i].kind == kind) return i;
    }
    return UINT32_MAX;
}

static u32 observed_count_of(const struct world *world, u32 from, u32 kind)
{
    u32 count = 0;
    for (u32 i = from; i < world->fake.observed_count; i++) {
        count += world->fake.observed[i].kind == kind;
    }
    return count;
}

static struct world *world_create(enum kafka_client_assignor assignor, bool static_member,
                                  u32 partitions)
{
    struct world *world = calloc(1, sizeof(*world));
    ASSERT(world != NULL);
    kc_fake_init(&world->fake, NS_PER_S);
    snprintf(world->coordinator, sizeof(world->coordinator), "b1:9092");
    world->coordinator_id = 1;
    struct kafka_client_config *config = &world->fake.config;
    config->role = KAFKA_CLIENT_GROUP_CONSUMER;
    config->client_id = 1001;
    snprintf(config->bootstrap[0], CONFIG_ENDPOINT_MAX, "b1:9092");
    config->bootstrap_count = 1;
    snprintf(config->topic, sizeof(config->topic), TOPIC);
    config->partition_count = partitions;
    config->replication_factor = 1;
    config->acks = -1;
    config->interval_ns = 10 * NS_PER_MS;
    config->value_size = 64;
    config->request_timeout_ns = 5 * NS_PER_S;
    snprintf(config->group, sizeof(config->group), GROUP);
    config->assignor = assignor;
    config->static_member = static_member;
    config->session_timeout_ns = 10 * NS_PER_S;
    config->rebalance_timeout_ns = 20 * NS_PER_S;
    config->heartbeat_interval_ns = 3 * NS_PER_S;
    config->commit_interval_ns = 1 * NS_PER_S;
    world->fake.client = kafka_client_create(config, &world->fake.io);
    ASSERT(world->fake.client != NULL);
    kafka_client_handler.on_start(world->fake.client);
    return world;
}

static void world_destroy(struct world *world)
{
    kc_fake_deinit(&world->fake);
    free(world);
}

/* ===== The coordinator's part ===== */

static struct proto_string string_of(struct proto_string value, char *out, u32 size)
{
    ASSERT(value.size >= 0 && (u32)value.size < size);
    memcpy(out, value.data, (size_t)value.size);
    out[value.size] = '\0';
    return (struct proto_string){out, value.size};
}

struct join_seen {
    char member_id[128];
    char instance_id[32]; /* "" when null. */
    char protocol[32];
    u32 owned;
    bool subscribed;
    u8 metadata[256];
    u32 metadata_size;
};

/* Takes the pending JoinGroup and reads it. */
static struct fake_request *take_join(struct world *world, struct join_seen *seen)
{
    struct fake_request *request = world_pending(world, KAFKA_API_JOIN_GROUP);
    if (request == NULL) return NULL;
    union kafka_request body;
    request_decode(world, request, &body);
    const struct kafka_join_group_request *join = &body.JoinGroup;
    ASSERT(request->version == 9);
    ASSERT(proto_string_equal_cstr(join->GroupId, GROUP));
    ASSERT(proto_string_equal_cstr(join->ProtocolType, "consumer"));
    ASSERT(join->SessionTimeoutMs == 10000 && join->RebalanceTimeoutMs == 20000);
    ASSERT(join->Protocols.count == 1);
    memset(seen, 0, sizeof(*seen));
    string_of(join->MemberId, seen->member_id, sizeof(seen->member_id));
    if (join->GroupInstanceId.size >= 0) {
        string_of(join->GroupInstanceId, seen->instance_id, sizeof(seen->instance_id));
    }
    string_of(join->Protocols.items[0].Name, seen->protocol, sizeof(seen->protocol));
    const struct proto_bytes metadata = join->Protocols.items[0].Metadata;
    ASSERT(metadata.size > 0 && (u32)metadata.size <= sizeof(seen->metadata));
    memcpy(seen->metadata, metadata.data, (size_t)metadata.size);
    seen->metadata_size = (u32)metadata.size;
    _Alignas(8) u8 memory[4096];
    struct proto_arena arena;
    proto_arena_init(&arena, memory, sizeof(memory));
    ASSERT(kafka_client_subscription_decode(metadata.data, (u32)metadata.size, TOPIC,
                                            world->fake.config.partition_count, &arena,
                                            &seen->subscribed, &seen->owned));
    ASSERT(load_u16_be(metadata.data) == 1); /* v1: owned partitions included. */
    return request;
}

static void answer_join_error(struct world *world, struct fake_request *request, i16 error,
                              const char *member_id)
{
    union kafka_response response;
    kafka_join_group_response_init(&response.JoinGroup);
    response.JoinGroup.ErrorCode = error;
    response.JoinGroup.MemberId = proto_string_of(member_id);
    response.JoinGroup.Leader = proto_string_of("");
    response.JoinGroup.ProtocolName = PROTO_STRING_NULL;
    kc_fake_deliver(&world->fake, request, &response);
}

/* A successful JoinGroup: the member with id member_id in generation; when leader, the
 * members (and their metadata) the leader assigns to. */
static void answer_join(struct world *world, struct fake_request *request, const char *member_id,
                        i32 generation, const char *leader, const char *protocol,
                        const struct kafka_join_group_response_member *members, u32 count)
{
    union kafka_response response;
    kafka_join_group_response_init(&response.JoinGroup);
    response.JoinGroup.GenerationId = generation;
    response.JoinGroup.ProtocolType = proto_string_of("consumer");
    response.JoinGroup.ProtocolName = proto_string_of(protocol);
    response.JoinGroup.Leader = proto_string_of(leader);
    response.JoinGroup.MemberId = proto_string_of(member_id);
    response.JoinGroup.Members.items = (struct kafka_join_group_response_member *)members;
    response.JoinGroup.Members.count = (i32)count;
    kc_fake_deliver(&world->fake, request, &response);
}

static void answer_sync(struct world *world, struct fake_request *request, i16 error, u32 mask)
{
    u8 assignment[256];
    u32 size = kafka_client_assignment_encode(assignment, sizeof(assignment), TOPIC, mask);
    ASSERT(size > 0);
    union kafka_response response;
    kafka_sync_group_response_init(&response.SyncGroup);
    response.SyncGroup.ErrorCode = error;
    response.SyncGroup.Assignment.data = assignment;
    response.SyncGroup.Assignment.size = error == 0 ? (i32)size : 0;
    kc_fake_deliver(&world->fake, request, &response);
}

static void answer_heartbeat(struct world *world, struct fake_request *request, i16 error)
{
    union kafka_response response;
    kafka_heartbeat_response_init(&response.Heartbeat);
    response.Heartbeat.ErrorCode = error;
    kc_fake_deliver(&world->fake, request, &response);
}

struct commit_seen {
    i32 generation;
    char member_id[128];
    char instance_id[32];
    u32 mask;
    i64 offset[LOG_PARTITIONS];
};

static void read_commit(struct world *world, const struct fake_request *request,
                        struct commit_seen *seen)
{
    union kafka_request body;
    request_decode(world, request, &body);
    const struct kafka_offset_commit_request *commit = &body.OffsetCommit;
    ASSERT(request->version == 8);
    ASSERT(proto_string_equal_cstr(commit->GroupId, GROUP));
    memset(seen, 0, sizeof(*seen));
    seen->generation = commit->GenerationIdOrMemberEpoch;
    string_of(commit->MemberId, seen->member_id, sizeof(seen->member_id));
    if (commit->GroupInstanceId.size >= 0) {
        string_of(commit->GroupInstanceId, seen->instance_id, sizeof(seen->instance_id));
    }
    ASSERT(commit->Topics.count == 1);
    ASSERT(proto_string_equal_cstr(commit->Topics.items[0].Name, TOPIC));
    for (i32 i = 0; i < commit->Topics.items[0].Partitions.count; i++) {
        const struct kafka_offset_commit_request_partition *partition =
            &commit->Topics.items[0].Partitions.items[i];
        seen->mask |= 1u << partition->PartitionIndex;
        seen->offset[partition->PartitionIndex] = partition->CommittedOffset;
    }
}

static void answer_commit(struct world *world, struct fake_request *request, i16 error)
{
    struct commit_seen seen;
    read_commit(world, request, &seen);
    struct kafka_offset_commit_response_partition partitions[LOG_PARTITIONS];
    u32 count = 0;
    for (u32 p = 0; p < LOG_PARTITIONS; p++) {
        if (!((seen.mask >> p) & 1)) continue;
        kafka_offset_commit_response_partition_init(&partitions[count]);
        partitions[count].PartitionIndex = (i32)p;
        partitions[count++].ErrorCode = error;
    }
    struct kafka_offset_commit_response_topic topic;
    kafka_offset_commit_response_topic_init(&topic);
    topic.Name = proto_string_of(TOPIC);
    topic.Partitions.items = partitions;
    topic.Partitions.count = (i32)count;
    union kafka_response response;
    kafka_offset_commit_response_init(&response.OffsetCommit);
    response.OffsetCommit.Topics.items = &topic;
    response.OffsetCommit.Topics.count = 1;
    kc_fake_deliver(&world->fake, request, &response);
}

/* committed[p] for each partition asked (-1: none). */
static u32 answer_offset_fetch(struct world *world, struct fake_request *request,
                               const i64 *committed)
{
    union kafka_request body;
    request_decode(world, request, &body);
    ASSERT(request->version == 7);
    ASSERT(body.OffsetFetch.Topics.count == 1);
    const struct kafka_offset_fetch_request_topic *asked = &body.OffsetFetch.Topics.items[0];
    struct kafka_offset_fetch_response_partition partitions[LOG_PARTITIONS];
    u32 mask = 0;
    for (i32 i = 0; i < asked->PartitionIndexes.count; i++) {
        i32 p = asked->PartitionIndexes.items[i];
        mask |= 1u << p;
        kafka_offset_fetch_response_partition_init(&partitions[i]);
        partitions[i].PartitionIndex = p;
        partitions[i].CommittedOffset = committed[p];
        partitions[i].Metadata = proto_string_of("");
    }
    struct kafka_offset_fetch_response_topic topic;
    kafka_offset_fetch_response_topic_init(&topic);
    topic.Name = proto_string_of(TOPIC);
    topic.Partitions.items = partitions;
    topic.Partitions.count = asked->PartitionIndexes.count;
    union kafka_response response;
    kafka_offset_fetch_response_init(&response.OffsetFetch);
    response.OffsetFetch.Topics.items = &topic;
    response.OffsetFetch.Topics.count = 1;
    kc_fake_deliver(&world->fake, request, &response);
    return mask;
}

/* Brings a fresh member to Stable as the group's only member (it leads), owning every
 * partition, each read from the committed offsets given (-1: none, the earliest). */
static void join_alone(struct world *world, const char *member_id, i32 generation,
                       const i64 *committed)
{
    world_run(world, 10 * NS_PER_MS);
    struct join_seen seen;
    struct fake_request *join = take_join(world, &seen);
    ASSERT(join != NULL);
    if (seen.member_id[0] == '\0') {
        answer_join_error(world, join, KAFKA_ERROR_MEMBER_ID_REQUIRED, member_id);
        world_run(world, 0);
        join = take_join(world, &seen);
        ASSERT(join != NULL);
    }
    ASSERT(strcmp(seen.member_id, member_id) == 0);
    struct kafka_join_group_response_member member;
    kafka_join_group_response_member_init(&member);
    member.MemberId = proto_string_of(member_id);
    member.GroupInstanceId = seen.instance_id[0] != '\0' ? proto_string_of(seen.instance_id)
                                                         : PROTO_STRING_NULL;
    member.Metadata.data = seen.metadata;
    member.Metadata.size = (i32)seen.metadata_size;
    answer_join(world, join, member_id, generation, member_id, seen.protocol, &member, 1);
    world_run(world, 0);
    struct fake_request *sync = world_pending(world, KAFKA_API_SYNC_GROUP);
    ASSERT(sync != NULL);
    u32 all = (1u << world->fake.config.partition_count) - 1;
    answer_sync(world, sync, 0, all);
    world_run(world, 0);
    struct fake_request *fetch = world_pending(world, KAFKA_API_OFFSET_FETCH);
    ASSERT(fetch != NULL);
    ASSERT(answer_offset_fetch(world, fetch, committed) == all);
    world_run(world, 0);
}

static const i64 no_commits[LOG_PARTITIONS] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                               -1, -1, -1, -1, -1, -1, -1, -1};

/* ===== Assignors ===== */

static u64 test_random(u64 *state)
{
    u64 x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

static u32 bits(u32 mask)
{
    u32 count = 0;
    for (; mask != 0; mask &= mask - 1) count++;
    return count;
}

static char member_names[KAFKA_CLIENT_ASSIGN_MEMBERS_MAX][16];

static void members_init(struct kafka_client_assign_member *members, u32 count, u64 *state)
{
    for (u32 i = 0; i < count; i++) {
        /* Names in a shuffled order, so index order is not member order. */
        snprintf(member_names[i], sizeof(member_names[i]), "m%02u-%u",
                 (u32)(test_random(state) % 100), i);
        members[i].member_id = proto_string_of(member_names[i]);
        members[i].instance_id = PROTO_STRING_NULL;
        members[i].subscribed = true;
        members[i].owned = 0;
    }
}

TEST(range_splits_like_kafka)
{
    u64 state = 12345;
    for (u32 n = 1; n <= 12; n++) {
        for (u32 partitions = 1; partitions <= 16; partitions++) {
            struct kafka_client_assign_member members[KAFKA_CLIENT_ASSIGN_MEMBERS_MAX];
            members_init(members, n, &state);
            u32 assigned[KAFKA_CLIENT_ASSIGN_MEMBERS_MAX];
            kafka_client_assign_range(members, n, partitions, assigned);
            /* In member order: consecutive ranges, the first (partitions mod n) one larger. */
            u32 order[KAFKA_CLIENT_ASSIGN_MEMBERS_MAX];
            for (u32 i = 0; i < n; i++) order[i] = i;
            for (u32 i = 1; i < n; i++) {
                for (u32 k = i; k > 0 && kafka_client_member_compare(&members[order[k]],
                                                                     &members[order[k - 1]]) < 0;
                     k--) {
                    u32 t = order[k];
                    order[k] = order[k - 1];
                    order[k - 1] = t;
                }
            }
            u32 next = 0, union_mask = 0;
            for (u32 k = 0; k < n; k++) {
                u32 expected_size = partitions / n + (k < partitions % n ? 1u : 0u);
                u32 mask = assigned[order[k]];
                CHECK_EQ_U64(bits(mask), expected_size);
                u32 expected = 0;
                for (u32 p = next; p < next + expected_size; p++) expected |= 1u << p;
                CHECK_EQ_U64(mask, expected);
                CHECK((union_mask & mask) == 0);
                union_mask |= mask;
                next += expected_size;
            }
            CHECK_EQ_U64(union_mask, (1ull << partitions) - 1);
        }
    }
    /* Kafka's example: 2 members, 3 partitions: [0,1] and [2]. */
    struct kafka_client_assign_member two[2];
    members_init(two, 2, &state);
    two[0].member_id = proto_string_of("b");
    two[1].member_id = proto_string_of("a");
    u32 assigned[2];
    kafka_client_assign_range(two, 2, 3, assigned);
    CHECK_EQ_U64(assigned[1], 0x3);
    CHECK_EQ_U64(assigned[0], 0x4);
    /* Static members sort by instance id, before dynamic ones; unsubscribed get nothing. */
    struct kafka_client_assign_member three[3];
    members_init(three, 3, &state);
    three[0].member_id = proto_string_of("a");
    three[1].member_id = proto_string_of("z");
    three[1].instance_id = proto_string_of("i2");
    three[2].member_id = proto_string_of("y");
    three[2].instance_id = proto_string_of("i1");
    u32 assigned3[3];
    kafka_client_assign_range(three, 3, 3, assigned3);
    CHECK_EQ_U64(assigned3[2], 0x1);
    CHECK_EQ_U64(assigned3[1], 0x2);
    CHECK_EQ_U64(assigned3[0], 0x4);
    three[1].subscribed = false;
    kafka_client_assign_range(three, 3, 4, assigned3);
    CHECK_EQ_U64(assigned3[1], 0);
    CHECK_EQ_U64(assigned3[2], 0x3);
    CHECK_EQ_U64(assigned3[0], 0xc);
}

/* One cooperative round's rules, then the follow-up round: everything assigned, balanced. */
static void cooperative_check(struct kafka_client_assign_member *members, u32 n, u32 partitions)
{
    u32 all = (u32)((1ull << partitions) - 1);
    u32 assigned[KAFKA_CLIENT_ASSIGN_MEMBERS_MAX];
    kafka_client_assign_cooperative_sticky(members, n, partitions, assigned);
    u32 claimed = 0, contested = 0;
    for (u32 i = 0; i < n; i++) {
        contested |= claimed & members[i].owned & all;
        claimed |= members[i].owned & all;
    }
    u32 union_mask = 0;
    u32 floor_share = partitions / n, ceil_share = floor_share + (partitions % n != 0);
    for (u32 i = 0; i < n; i++) {
        CHECK((union_mask & assigned[i]) == 0); /* At most one owner per partition. */
        union_mask |= assigned[i];
        CHECK((assigned[i] & ~all) == 0);
        CHECK(bits(assigned[i]) <= ceil_share);
        /* Never what another member still owns (KIP-429). */
        CHECK((assigned[i] & claimed & ~members[i].owned) == 0);
        CHECK((assigned[i] & contested) == 0);
        /* Sticky: keeps its valid owned partitions up to its share. */
        u32 valid = members[i].owned & all & ~contested;
        CHECK(bits(assigned[i] & valid) >= MIN(bits(valid), floor_share));
    }
    /* Unclaimed partitions are all given out at once. */
    CHECK((all & ~claimed & ~union_mask) == 0);
    /* The owners revoke what they were not given; the second round completes it. */
    for (u32 i = 0; i < n; i++) members[i].owned = assigned[i];
    u32 second[KAFKA_CLIENT_ASSIGN_MEMBERS_MAX];
    kafka_client_assign_cooperative_sticky(members, n, partitions, second);
    u32 second_union = 0;
    for (u32 i = 0; i < n; i++) {
        CHECK((second_union & second[i]) == 0);
        second_union |= second[i];
        CHECK(bits(second[i]) == floor_share || bits(second[i]) == ceil_share);
        CHECK((assigned[i] & ~second[i]) == 0); /* Nothing moves in the second round. */
    }
    CHECK_EQ_U64(second_union, all);
    /* And it stays. */
    for (u32 i = 0; i < n; i++) members[i].owned = second[i];
    u32 third[KAFKA_CLIENT_ASSIGN_MEMBERS_MAX];
    kafka_client_assign_cooperative_sticky(members, n, partitions, third);
    for (u32 i = 0; i < n; i++) CHECK_EQ_U64(third[i], second[i]);
}

TEST(cooperative_sticky_rounds)
{
    u64 state = 777;
    for (u32 n = 1; n <= 12; n++) {
        for (u32 partitions = 1; partitions <= 16; partitions++) {
            for (u32 trial = 0; trial < 20; trial++) {
                struct kafka_client_assign_member members[KAFKA_CLIENT_ASSIGN_MEMBERS_MAX];
                members_init(members, n, &state);
                /* Owned sets as a previous generation (or a bigger group) left them; some
                 * overlapping, some naming partitions the topic no longer has. */
                for (u32 p = 0; p < partitions + 2; p++) {
                    u64 draw = test_random(&state);
                    if (draw % 4 == 0) continue;
                    members[draw / 4 % n].owned |= 1u << p;
                    if (draw % 17 == 0) members[draw / 64 % n].owned |= 1u << p;
                }
                cooperative_check(members, n, partitions);
            }
        }
    }
}

TEST(cooperative_sticky_moves_only_the_surplus)
{
    /* A alone owned 0..5; B joins: A keeps 3 (lowest), 3..5 are left out this round. */
    struct kafka_client_assign_member members[2];
    u64 state = 1;
    members_init(members, 2, &state);
    members[0].member_id = proto_string_of("a");
    members[1].member_id = proto_string_of("b");
    members[0].owned = 0x3f;
    u32 assigned[2];
    kafka_client_assign_cooperative_sticky(members, 2, 6, assigned);
    CHECK_EQ_U64(assigned[0], 0x07);
    CHECK_EQ_U64(assigned[1], 0);
    members[0].owned = assigned[0];
    kafka_client_assign_cooperative_sticky(members, 2, 6, assigned);
    CHECK_EQ_U64(assigned[0], 0x07);
    CHECK_EQ_U64(assigned[1], 0x38);
    /* A member that leaves: its partitions are free and go at once. */
    members[0].owned = 0x07;
    members[1].subscribed = false;
    members[1].owned = 0;
    kafka_client_assign_cooperative_sticky(members, 2, 6, assigned);
    CHECK_EQ_U64(assigned[0], 0x3f);
    /* Two claim one partition: neither gets it in this round. */
    members[1].subscribed = true;
    members[0].owned = 0x03;
    members[1].owned = 0x06;
    kafka_client_assign_cooperative_sticky(members, 2, 4, assigned);
    CHECK((assigned[0] & 0x2) == 0 && (assigned[1] & 0x2) == 0);
    CHECK_EQ_U64(assigned[0] | assigned[1], 0xd);
}

TEST(consumer_protocol_payloads)
{
    u8 bytes[256];
    _Alignas(8) u8 memory[4096];
    struct proto_arena arena;
    u32 size = kafka_client_subscription_encode(bytes, sizeof(bytes), TOPIC, 0x8005);
    REQUIRE(size > 0);
    CHECK_EQ_U64(load_u16_be(bytes), 1);
    bool subscribed = false;
    u32 owned = 0;
    proto_arena_init(&arena, memory, sizeof(memory));
    CHECK(kafka_client_subscription_decode(bytes, size, TOPIC, 16, &arena, &subscribed, &owned));
    CHECK(subscribed);
    CHECK_EQ_U64(owned, 0x8005);
    proto_arena_init(&arena, memory, sizeof(memory));
    CHECK(kafka_client_subscription_decode(bytes, size, TOPIC, 4, &arena, &subscribed, &owned));
    CHECK_EQ_U64(owned, 0x5); /* Partitions the topic does not have are dropped. */
    proto_arena_init(&arena, memory, sizeof(memory));
    CHECK(kafka_client_subscription_decode(bytes, size, "other", 16, &arena, &subscribed,
                                           &owned));
    CHECK(!subscribed && owned == 0);
    for (u32 cut = 0; cut < size; cut++) { /* Every truncation is refused, never over-read. */
        proto_arena_init(&arena, memory, sizeof(memory));
        CHECK(!kafka_client_subscription_decode(bytes, cut, TOPIC, 16, &arena, &subscribed,
                                                &owned));
    }
    /* A newer version (v3, as Kafka 3.x sends: generation and rack) and a future one. */
    struct proto_string topic = proto_string_of(TOPIC);
    i32 list[2] = {1, 2};
    struct kafka_consumer_protocol_subscription_topic_partition owned_topic;
    kafka_consumer_protocol_subscription_topic_partition_init(&owned_topic);
    owned_topic.Topic = topic;
    owned_topic.Partitions.items = list;
    owned_topic.Partitions.count = 2;
    struct kafka_consumer_protocol_subscription subscription;
    kafka_consumer_protocol_subscription_init(&subscription);
    subscription.Topics.items = &topic;
    subscription.Topics.count = 1;
    subscription.UserData = PROTO_BYTES_NULL;
    subscription.OwnedPartitions.items = &owned_topic;
    subscription.OwnedPartitions.count = 1;
    subscription.GenerationId = 4;
    subscription.RackId = proto_string_of("rack-a");
    for (i16 version = 3; version <= 4; version++) {
        struct proto_writer writer;
        proto_writer_init(&writer, bytes, sizeof(bytes));
        proto_write_i16(&writer, version);
        REQUIRE(kafka_consumer_protocol_subscription_encode(&writer, 3, &subscription) ==
                PROTO_OK);
        proto_arena_init(&arena, memory, sizeof(memory));
        CHECK(kafka_client_subscription_decode(bytes, writer.position, TOPIC, 16, &arena,
                                               &subscribed, &owned));
        CHECK(subscribed && owned == 0x6);
    }
    store_u16_be(bytes, 0xffff); /* A negative version. */
    proto_arena_init(&arena, memory, sizeof(memory));
    CHECK(!kafka_client_subscription_decode(bytes, size, TOPIC, 16, &arena, &subscribed, &owned));

    size = kafka_client_assignment_encode(bytes, sizeof(bytes), TOPIC, 0x0102);
    REQUIRE(size > 0);
    u32 mask = 0;
    proto_arena_init(&arena, memory, sizeof(memory));
    CHECK(kafka_client_assignment_decode(bytes, size, TOPIC, 16, &arena, &mask));
    CHECK_EQ_U64(mask, 0x0102);
    for (u32 cut = 1; cut < size; cut++) {
        proto_arena_init(&arena, memory, sizeof(memory));
        CHECK(!kafka_client_assignment_decode(bytes, cut, TOPIC, 16, &arena, &mask));
    }
    proto_arena_init(&arena, memory, sizeof(memory));
    CHECK(kafka_client_assignment_decode(bytes, 0, TOPIC, 16, &arena, &mask));
    CHECK_EQ_U64(mask, 0); /* Empty bytes: nothing assigned. */
    size = kafka_client_assignment_encode(bytes, sizeof(bytes), TOPIC, 0);
    proto_arena_init(&arena, memory, sizeof(memory));
    CHECK(kafka_client_assignment_decode(bytes, size, TOPIC, 16, &arena, &mask));
    CHECK_EQ_U64(mask, 0);
    CHECK_EQ_U64(kafka_client_assignment_encode(bytes, 4, TOPIC, 0x1), 0); /* Too small. */
}

/* ===== The member ===== */

TEST(member_id_required_then_reads_from_committed_or_earliest)
{
    struct world *world = world_create(KAFKA_CLIENT_ASSIGNOR_RANGE, true, 2);
    world->log_records[0] = 8;
    world->log_records[1] = 3;
    world_run(world, 10 * NS_PER_MS);
    CHECK(world_pending(world, KAFKA_API_FIND_COORDINATOR) == NULL); /* Answered. */
    struct join_seen seen;
    struct fake_request *join = take_join(world, &seen);
    REQUIRE(join != NULL);
    CHECK(strcmp(seen.member_id, "") == 0);
    CHECK(strcmp(seen.instance_id, "i1001") == 0);
    CHECK(strcmp(seen.protocol, "range") == 0);
    CHECK(seen.subscribed && seen.owned == 0);
    /* The coordinator's link is its own: not the one Metadata went over. */
    io_conn metadata_conn = 0;
    for (u32 i = 0; i < world->fake.request_count; i++) {
        if (world->fake.requests[i].api_key == KAFKA_API_METADATA) {
            metadata_conn = world->fake.requests[i].conn;
        }
    }
    CHECK(metadata_conn != 0 && join->conn != metadata_conn);
    answer_join_error(world, join, KAFKA_ERROR_MEMBER_ID_REQUIRED, "1001-1");
    world_run(world, 0);
    CHECK(observed_find(world, 0, HISTORY_GROUP_JOINED) == UINT32_MAX);
    join = take_join(world, &seen);
    REQUIRE(join != NULL);
    CHECK(strcmp(seen.member_id, "1001-1") == 0);
    CHECK(strcmp(seen.instance_id, "i1001") == 0);
    /* It leads a group of two: it assigns both (range over member ids). */
    struct kafka_join_group_response_member members[2];
    kafka_join_group_response_member_init(&members[0]);
    members[0].MemberId = proto_string_of("1002-1");
    members[0].GroupInstanceId = proto_string_of("i1002");
    u8 other[256];
    u32 other_size = kafka_client_subscription_encode(other, sizeof(other), TOPIC, 0);
    members[0].Metadata.data = other;
    members[0].Metadata.size = (i32)other_size;
    kafka_join_group_response_member_init(&members[1]);
    members[1].MemberId = proto_string_of("1001-1");
    members[1].GroupInstanceId = proto_string_of("i1001");
    members[1].Metadata.data = seen.metadata;
    members[1].Metadata.size = (i32)seen.metadata_size;
    u32 mark = observed_mark(world);
    answer_join(world, join, "1001-1", 3, "1001-1", "range", members, 2);
    world_run(world, 0);
    u32 joined = observed_find(world, mark, HISTORY_GROUP_JOINED);
    REQUIRE(joined != UINT32_MAX);
    CHECK_EQ_U64(world->fake.observed[joined].a, 3);
    CHECK_EQ_U64(world->fake.observed[joined].b, 1);
    CHECK_EQ_U64(world->fake.observed[joined].c, HISTORY_GROUP_EAGER);
    CHECK_EQ_U64(world->fake.observed[joined].d, 2);
    struct fake_request *sync = world_pending(world, KAFKA_API_SYNC_GROUP);
    REQUIRE(sync != NULL);
    union kafka_request body;
    request_decode(world, sync, &body);
    CHECK(sync->version == 5);
    CHECK(body.SyncGroup.GenerationId == 3);
    CHECK(proto_string_equal_cstr(body.SyncGroup.MemberId, "1001-1"));
    CHECK(proto_string_equal_cstr(body.SyncGroup.GroupInstanceId, "i1001"));
    CHECK(proto_string_equal_cstr(body.SyncGroup.ProtocolName, "range"));
    REQUIRE(body.SyncGroup.Assignments.count == 2);
    u32 given[2] = {0, 0};
    for (u32 i = 0; i < 2; i++) {
        const struct kafka_sync_group_request_assignment *a = &body.SyncGroup.Assignments.items[i];
        _Alignas(8) u8 memory[1024];
        struct proto_arena arena;
        proto_arena_init(&arena, memory, sizeof(memory));
        u32 mask = 0;
        CHECK(kafka_client_assignment_decode(a->Assignment.data, (u32)a->Assignment.size, TOPIC,
                                             2, &arena, &mask));
        given[proto_string_equal_cstr(a->MemberId, "1001-1") ? 0 : 1] = mask;
    }
    CHECK_EQ_U64(given[0], 0x1); /* Static members sort by instance id: i1001 first. */
    CHECK_EQ_U64(given[1], 0x2);
    answer_sync(world, sync, 0, 0x3); /* The coordinator's word counts: it reads both. */
    world_run(world, 0);
    u32 assigned = observed_find(world, mark, HISTORY_GROUP_ASSIGNED);
    REQUIRE(assigned != UINT32_MAX);
    CHECK_EQ_U64(world->fake.observed[assigned].a, 3);
    CHECK_EQ_U64(world->fake.observed[assigned].b, 0x3);
    CHECK(observed_find(world, mark, HISTORY_KAFKA_READ) == UINT32_MAX); /* Not positioned. */
    struct fake_request *fetch = world_pending(world, KAFKA_API_OFFSET_FETCH);
    REQUIRE(fetch != NULL);
    u64 fetch_sent = fetch->sent_ns;
    world->fake.now += 5 * NS_PER_MS; /* The answer comes later than the request went. */
    i64 committed[LOG_PARTITIONS] = {5, -1};
    CHECK_EQ_U64(answer_offset_fetch(world, fetch, committed), 0x3);
    world_run(world, 50 * NS_PER_MS);
    u32 fetched = observed_find(world, mark, HISTORY_GROUP_OFFSET_FETCHED);
    REQUIRE(fetched != UINT32_MAX);
    CHECK_EQ_U64(world->fake.observed[fetched].a, 3);
    CHECK_EQ_U64(world->fake.observed[fetched].b, 0);
    CHECK_EQ_U64(world->fake.observed[fetched].c, 5);
    CHECK_EQ_U64(world->fake.observed[fetched].d, fetch_sent);
    fetched = observed_find(world, fetched + 1, HISTORY_GROUP_OFFSET_FETCHED);
    REQUIRE(fetched != UINT32_MAX);
    CHECK_EQ_U64(world->fake.observed[fetched].b, 1);
    CHECK_EQ_U64(world->fake.observed[fetched].c, UINT64_MAX);
    /* p0 from its committed offset 5, p1 from the earliest (ListOffsets). */
    u32 position = observed_find(world, mark, HISTORY_GROUP_POSITION);
    REQUIRE(position != UINT32_MAX);
    CHECK_EQ_U64(world->fake.observed[position].a, 0);
    CHECK_EQ_U64(world->fake.observed[position].b, 5);
    CHECK_EQ_U64(world->fake.observed[position].c, 3);
    position = observed_find(world, position + 1, HISTORY_GROUP_POSITION);
    REQUIRE(position != UINT32_MAX);
    CHECK_EQ_U64(world->fake.observed[position].a, 1);
    CHECK_EQ_U64(world->fake.observed[position].b, 0);
    /* Reads: p0 offsets 5..7, p1 offsets 0..2, each once, with the record's checksum. */
    u32 reads[2] = {0, 0};
    for (u32 i = mark; i < world->fake.observed_count; i++) {
        const struct io_observation *o = &world->fake.observed[i];
        if (o->kind != HISTORY_KAFKA_READ) continue;
        CHECK(o->a < 2);
        CHECK_EQ_U64(o->b, (o->a == 0 ? 5u : 0u) + reads[o->a]);
        CHECK_EQ_U64(o->c, value_checksum((u32)o->a, (u32)o->b));
        reads[o->a]++;
    }
    CHECK_EQ_U64(reads[0], 3);
    CHECK_EQ_U64(reads[1], 3);
    world_destroy(world);
}

TEST(static_leader_skips_the_assignment_when_told)
{
    struct world *world = world_create(KAFKA_CLIENT_ASSIGNOR_RANGE, true, 2);
    world_run(world, 10 * NS_PER_MS);
    struct join_seen seen;
    struct fake_request *join = take_join(world, &seen);
    REQUIRE(join != NULL);
    CHECK(strcmp(seen.instance_id, "i1001") == 0);
    /* A known instance back with no member id: its new id at once, no MEMBER_ID_REQUIRED. */
    struct kafka_join_group_response_member member;
    kafka_join_group_response_member_init(&member);
    member.MemberId = proto_string_of("1001-7");
    member.GroupInstanceId = proto_string_of("i1001");
    member.Metadata.data = seen.metadata;
    member.Metadata.size = (i32)seen.metadata_size;
    union kafka_response response;
    kafka_join_group_response_init(&response.JoinGroup);
    response.JoinGroup.GenerationId = 5;
    response.JoinGroup.ProtocolType = proto_string_of("consumer");
    response.JoinGroup.ProtocolName = proto_string_of("range");
    response.JoinGroup.Leader = proto_string_of("1001-7");
    response.JoinGroup.SkipAssignment = true;
    response.JoinGroup.MemberId = proto_string_of("1001-7");
    response.JoinGroup.Members.items = &member;
    response.JoinGroup.Members.count = 1;
    kc_fake_deliver(&world->fake, join, &response);
    world_run(world, 0);
    struct fake_request *sync = world_pending(world, KAFKA_API_SYNC_GROUP);
    REQUIRE(sync != NULL);
    union kafka_request body;
    request_decode(world, sync, &body);
    CHECK(body.SyncGroup.Assignments.count == 0);
    CHECK(proto_string_equal_cstr(body.SyncGroup.MemberId, "1001-7"));
    answer_sync(world, sync, 0, 0x2);
    world_run(world, 0);
    u32 assigned = observed_find(world, 0, HISTORY_GROUP_ASSIGNED);
    REQUIRE(assigned != UINT32_MAX);
    CHECK_EQ_U64(world->fake.observed[assigned].a, 5);
    CHECK_EQ_U64(world->fake.observed[assigned].b, 0x2);
    world_destroy(world);
}

TEST(commits_positions_and_reports_outcomes)
{
    struct world *world = world_create(KAFKA_CLIENT_ASSIGNOR_RANGE, false, 2);
    world->log_records[0] = 4;
    join_alone(world, "m1", 1, no_commits);
    world_run(world, 100 * NS_PER_MS);
    CHECK_EQ_U64(observed_count_of(world, 0, HISTORY_KAFKA_READ), 4);
    /* At the commit interval: p0 moved to 4 and p1 sits at 0 with nothing committed yet. */
    world_run(world, NS_PER_S);
    struct fake_request *commit = world_pending(world, KAFKA_API_OFFSET_COMMIT);
    REQUIRE(commit != NULL);
    struct commit_seen seen;
    read_commit(world, commit, &seen);
    CHECK(seen.generation == 1);
    CHECK(strcmp(seen.member_id, "m1") == 0);
    CHECK(seen.instance_id[0] == '\0');
    CHECK_EQ_U64(seen.mask, 0x3);
    CHECK_EQ_U64(seen.offset[0], 4);
    CHECK_EQ_U64(seen.offset[1], 0);
    u32 mark = observed_mark(world);
    CHECK_EQ_U64(observed_count_of(world, 0, HISTORY_GROUP_COMMIT), 2);
    answer_commit(world, commit, 0);
    world_run(world, 0);
    CHECK_EQ_U64(observed_count_of(world, mark, HISTORY_GROUP_COMMITTED), 2);
    u32 committed = observed_find(world, mark, HISTORY_GROUP_COMMITTED);
    CHECK_EQ_U64(world->fake.observed[committed].a, 1);
    CHECK_EQ_U64(world->fake.observed[committed].b, 0);
    CHECK_EQ_U64(world->fake.observed[committed].c, 4);
    /* Nothing moved: every interval commits the same positions again (as the Java consumer's
     * auto-commit does), and the heartbeats still go. */
    mark = observed_mark(world);
    u32 requests = world->fake.request_count;
    for (u32 i = 0; i < 4; i++) {
        world_run(world, NS_PER_S);
        commit = world_pending(world, KAFKA_API_OFFSET_COMMIT);
        REQUIRE(commit != NULL);
        read_commit(world, commit, &seen);
        CHECK_EQ_U64(seen.mask, 0x3);
        CHECK_EQ_U64(seen.offset[0], 4);
        CHECK_EQ_U64(seen.offset[1], 0);
        answer_commit(world, commit, 0);
    }
    u32 heartbeats = 0;
    for (u32 i = requests; i < world->fake.request_count; i++) {
        heartbeats += world->fake.requests[i].api_key == KAFKA_API_HEARTBEAT;
    }
    CHECK(heartbeats >= 1);
    CHECK_EQ_U64(observed_count_of(world, mark, HISTORY_GROUP_COMMIT), 8);
    CHECK_EQ_U64(observed_count_of(world, mark, HISTORY_GROUP_COMMITTED), 8);
    /* New records: committed; an error answer is COMMIT_FAILED with its code. */
    world->log_records[0] = 6;
    world_run(world, NS_PER_S);
    commit = world_pending(world, KAFKA_API_OFFSET_COMMIT);
    REQUIRE(commit != NULL);
    read_commit(world, commit, &seen);
    CHECK_EQ_U64(seen.mask, 0x3);
    CHECK_EQ_U64(seen.offset[0], 6);
    mark = observed_mark(world);
    answer_commit(world, commit, KAFKA_ERROR_COORDINATOR_LOAD_IN_PROGRESS);
    world_run(world, 0);
    u32 failed = observed_find(world, mark, HISTORY_GROUP_COMMIT_FAILED);
    REQUIRE(failed != UINT32_MAX);
    CHECK_EQ_U64(world->fake.observed[failed].c, 6);
    CHECK_EQ_U64(world->fake.observed[failed].d, KAFKA_ERROR_COORDINATOR_LOAD_IN_PROGRESS);
    /* Retried at the next interval; this time the answer never comes: unknown outcome. */
    world_run(world, NS_PER_S);
    commit = world_pending(world, KAFKA_API_OFFSET_COMMIT);
    REQUIRE(commit != NULL);
    mark = observed_mark(world);
    world_run(world, 6 * NS_PER_S); /* Past the request timeout. */
    failed = observed_find(world, mark, HISTORY_GROUP_COMMIT_FAILED);
    REQUIRE(failed != UINT32_MAX);
    CHECK_EQ_U64(world->fake.observed[failed].d, 0xffff);
    CHECK(world->fake.conns[commit->conn].closed); /* The coordinator is looked up again. */
    CHECK(observed_find(world, mark, HISTORY_GROUP_REVOKED) == UINT32_MAX); /* Still owns. */
    world_destroy(world);
}

TEST(eager_commits_then_revokes_everything_before_joining)
{
    struct world *world = world_create(KAFKA_CLIENT_ASSIGNOR_RANGE, false, 3);
    world->manual_heartbeats = true;
    world->log_records[1] = 2;
    join_alone(world, "m1", 1, no_commits);
    world_run(world, 200 * NS_PER_MS);
    /* The coordinator says a rebalance started. */
    world_run(world, 3 * NS_PER_S);
    struct fake_request *commit = world_pending(world, KAFKA_API_OFFSET_COMMIT);
    if (commit != NULL) { /* The interval's commit came first. */
        answer_commit(world, commit, 0);
        world_run(world, 0);
    }
    world->log_records[1] = 5;
    world_run(world, 200 * NS_PER_MS);
    struct fake_request *heartbeat = world_pending(world, KAFKA_API_HEARTBEAT);
    while (heartbeat == NULL) {
        world_run(world, NS_PER_S);
        commit = world_pending(world, KAFKA_API_OFFSET_COMMIT);
        if (commit != NULL) answer_commit(world, commit, 0);
        heartbeat = world_pending(world, KAFKA_API_HEARTBEAT);
    }
    world->log_records[1] = 7; /* Read before the answer arrives: committed too. */
    world_run(world, 150 * NS_PER_MS);
    u32 mark = observed_mark(world);
    answer_heartbeat(world, heartbeat, KAFKA_ERROR_REBALANCE_IN_PROGRESS);
    world_run(world, 0);
    /* Commit first (of what it read), then revoke everything, then join. */
    CHECK(world_pending(world, KAFKA_API_JOIN_GROUP) == NULL);
    commit = world_pending(world, KAFKA_API_OFFSET_COMMIT);
    REQUIRE(commit != NULL);
    struct commit_seen seen;
    read_commit(world, commit, &seen);
    CHECK_EQ_U64(seen.mask, 0x7);
    CHECK_EQ_U64(seen.offset[0], 0);
    CHECK_EQ_U64(seen.offset[1], 7);
    CHECK(observed_find(world, mark, HISTORY_GROUP_REVOKED) == UINT32_MAX);
    u32 reads_before = observed_count_of(world, 0, HISTORY_KAFKA_READ);
    world->log_records[1] = 9; /* Given up: no more reads while the commit is out. */
    world_run(world, 300 * NS_PER_MS);
    CHECK_EQ_U64(observed_count_of(world, 0, HISTORY_KAFKA_READ), reads_before);
    answer_commit(world, commit, 0);
    world_run(world, 0);
    u32 committed = observed_find(world, mark, HISTORY_GROUP_COMMITTED);
    u32 revoked = observed_find(world, mark, HISTORY_GROUP_REVOKED);
    REQUIRE(committed != UINT32_MAX && revoked != UINT32_MAX);
    CHECK(committed < revoked);
    CHECK_EQ_U64(world->fake.observed[revoked].a, 1);
    CHECK_EQ_U64(world->fake.observed[revoked].b, 0x7);
    CHECK_EQ_U64(world->fake.observed[revoked].c, 0);
    struct join_seen joined;
    struct fake_request *join = take_join(world, &joined);
    REQUIRE(join != NULL);
    CHECK(strcmp(joined.member_id, "m1") == 0);
    CHECK_EQ_U64(joined.owned, 0);
    world_destroy(world);
}

/* A follower's JoinGroup and SyncGroup (no assignment to make). */
static void rejoin_as_follower(struct world *world, i32 generation, u32 assignment,
                               struct join_seen *seen)
{
    struct fake_request *join = take_join(world, seen);
    ASSERT(join != NULL);
    answer_join(world, join, seen->member_id, generation, "leader", seen->protocol, NULL, 0);
    world_run(world, 0);
    struct fake_request *sync = world_pending(world, KAFKA_API_SYNC_GROUP);
    ASSERT(sync != NULL);
    union kafka_request body;
    request_decode(world, sync, &body);
    ASSERT(body.SyncGroup.Assignments.count == 0);
    ASSERT(body.SyncGroup.GenerationId == generation);
    answer_sync(world, sync, 0, assignment);
    world_run(world, 0);
}

TEST(cooperative_revokes_only_moved_partitions_then_rejoins)
{
    struct world *world = world_create(KAFKA_CLIENT_ASSIGNOR_COOPERATIVE_STICKY, false, 4);
    world->manual_heartbeats = true;
    for (u32 p = 0; p < 4; p++) world->log_records[p] = 2;
    join_alone(world, "m1", 1, no_commits);
    world_run(world, 200 * NS_PER_MS);
    CHECK_EQ_U64(observed_count_of(world, 0, HISTORY_KAFKA_READ), 8);
    struct fake_request *request = NULL;
    while ((request = world_pending_group(world)) == NULL ||
           request->api_key != KAFKA_API_HEARTBEAT) {
        if (request != NULL) answer_commit(world, request, 0);
        world_run(world, 500 * NS_PER_MS);
    }
    for (u32 p = 0; p < 4; p++) world->log_records[p] = 3;
    world_run(world, 150 * NS_PER_MS);
    u32 mark = observed_mark(world);
    answer_heartbeat(world, request, KAFKA_ERROR_REBALANCE_IN_PROGRESS);
    world_run(world, 0);
    /* It commits what it read and keeps its partitions (and reading them) while it joins. */
    struct fake_request *commit = world_pending(world, KAFKA_API_OFFSET_COMMIT);
    REQUIRE(commit != NULL);
    answer_commit(world, commit, 0);
    world_run(world, 0);
    CHECK(observed_find(world, mark, HISTORY_GROUP_REVOKED) == UINT32_MAX);
    struct join_seen seen;
    world->log_records[0] = 4;
    world_run(world, 150 * NS_PER_MS);
    CHECK(observed_count_of(world, mark, HISTORY_KAFKA_READ) >= 1);
    /* Generation 2 gives it 0 and 1: 2 and 3 move, so it revokes them (after their commit). */
    struct fake_request *join = take_join(world, &seen);
    REQUIRE(join != NULL);
    CHECK(strcmp(seen.protocol, "cooperative-sticky") == 0);
    CHECK_EQ_U64(seen.owned, 0xf);
    answer_join(world, join, "m1", 2, "leader", "cooperative-sticky", NULL, 0);
    world_run(world, 0);
    u32 joined = observed_find(world, mark, HISTORY_GROUP_JOINED);
    REQUIRE(joined != UINT32_MAX);
    CHECK_EQ_U64(world->fake.observed[joined].b, 0);
    CHECK_EQ_U64(world->fake.observed[joined].c, HISTORY_GROUP_COOPERATIVE);
    world->log_records[2] = 5; /* p2 moved after the commit: committed before it is revoked. */
    world_run(world, 150 * NS_PER_MS);
    struct fake_request *sync = world_pending(world, KAFKA_API_SYNC_GROUP);
    REQUIRE(sync != NULL);
    answer_sync(world, sync, 0, 0x3);
    world_run(world, 0);
    commit = world_pending(world, KAFKA_API_OFFSET_COMMIT);
    REQUIRE(commit != NULL);
    struct commit_seen committed;
    read_commit(world, commit, &committed);
    CHECK_EQ_U64(committed.mask, 0xc); /* Only the revoked ones. */
    CHECK_EQ_U64(committed.offset[2], 5);
    CHECK_EQ_U64(committed.offset[3], 3);
    CHECK(committed.generation == 2);
    answer_commit(world, commit, 0);
    world_run(world, 0);
    u32 assigned = observed_find(world, mark, HISTORY_GROUP_ASSIGNED);
    u32 revoked = observed_find(world, mark, HISTORY_GROUP_REVOKED);
    REQUIRE(assigned != UINT32_MAX && revoked != UINT32_MAX);
    CHECK(assigned < revoked);
    CHECK_EQ_U64(world->fake.observed[revoked].a, 1);
    CHECK_EQ_U64(world->fake.observed[revoked].b, 0xc);
    CHECK_EQ_U64(world->fake.observed[revoked].c, 0);
    /* The second round: it rejoins at once (committing what it read of 0 and 1 first), owning
     * 0 and 1, without fetching their offsets again. */
    CHECK(world_pending(world, KAFKA_API_OFFSET_FETCH) == NULL);
    u32 mark2 = observed_mark(world);
    world->log_records[0] = 6;
    world->log_records[3] = 9;
    world_run(world, 150 * NS_PER_MS);
    for (u32 i = mark2; i < world->fake.observed_count; i++) {
        const struct io_observation *event = &world->fake.observed[i];
        if (event->kind == HISTORY_KAFKA_READ) CHECK(event->a < 2);
    }
    CHECK(observed_count_of(world, mark2, HISTORY_KAFKA_READ) >= 1);
    mark2 = observed_mark(world);
    commit = world_pending(world, KAFKA_API_OFFSET_COMMIT);
    REQUIRE(commit != NULL);
    read_commit(world, commit, &committed);
    CHECK_EQ_U64(committed.mask, 0x3);
    CHECK_EQ_U64(committed.offset[0], 6);
    answer_commit(world, commit, 0);
    world_run(world, 0);
    rejoin_as_follower(world, 3, 0x3, &seen);
    CHECK_EQ_U64(seen.owned, 0x3);
    CHECK(observed_find(world, mark2, HISTORY_GROUP_REVOKED) == UINT32_MAX);
    CHECK(world_pending(world, KAFKA_API_OFFSET_FETCH) == NULL);
    world_destroy(world);
}

TEST(fencing_errors_lose_partitions_and_rejoin)
{
    static const i16 errors[] = {KAFKA_ERROR_UNKNOWN_MEMBER_ID, KAFKA_ERROR_ILLEGAL_GENERATION,
                                 KAFKA_ERROR_FENCED_INSTANCE_ID};
    for (u32 e = 0; e < ARRAY_LEN(errors); e++) {
        struct world *world = world_create(KAFKA_CLIENT_ASSIGNOR_COOPERATIVE_STICKY, true, 2);
        world->manual_heartbeats = true;
        world->log_records[0] = 3;
        join_alone(world, "m1", 4, no_commits);
        struct fake_request *request = NULL;
        while ((request = world_pending_group(world)) == NULL ||
               request->api_key != KAFKA_API_HEARTBEAT) {
            if (request != NULL) answer_commit(world, request, 0);
            world_run(world, 500 * NS_PER_MS);
        }
        world->log_records[0] = 5;
        world_run(world, 150 * NS_PER_MS);
        u32 mark = observed_mark(world);
        answer_heartbeat(world, request, errors[e]);
        world_run(world, 0);
        /* Lost at once, without a commit (it is someone else's now). */
        u32 revoked = observed_find(world, mark, HISTORY_GROUP_REVOKED);
        REQUIRE(revoked != UINT32_MAX);
        CHECK_EQ_U64(world->fake.observed[revoked].a, 4);
        CHECK_EQ_U64(world->fake.observed[revoked].b, 0x3);
        CHECK_EQ_U64(world->fake.observed[revoked].c, (u16)errors[e]);
        CHECK(observed_find(world, mark, HISTORY_GROUP_COMMIT) == UINT32_MAX);
        CHECK(world_pending(world, KAFKA_API_OFFSET_COMMIT) == NULL);
        struct join_seen seen;
        struct fake_request *join = take_join(world, &seen);
        REQUIRE(join != NULL);
        bool keeps_id = errors[e] == KAFKA_ERROR_ILLEGAL_GENERATION;
        CHECK(strcmp(seen.member_id, keeps_id ? "m1" : "") == 0);
        CHECK(strcmp(seen.instance_id, "i1001") == 0);
        CHECK_EQ_U64(seen.owned, 0);
        u32 reads = observed_count_of(world, 0, HISTORY_KAFKA_READ);
        world->log_records[0] = 7;
        world_run(world, 300 * NS_PER_MS);
        CHECK_EQ_U64(observed_count_of(world, 0, HISTORY_KAFKA_READ), reads);
        world_destroy(world);
    }
}

TEST(zombie_sends_its_stale_commit_after_a_pause)
{
    struct world *world = world_create(KAFKA_CLIENT_ASSIGNOR_RANGE, false, 1);
    world->manual_heartbeats = true; /* The coordinator fenced it: no heartbeat passes. */
    world->log_records[0] = 2;
    join_alone(world, "m1", 1, no_commits);
    world_run(world, 100 * NS_PER_MS);
    struct fake_request *commit = NULL;
    while ((commit = world_pending(world, KAFKA_API_OFFSET_COMMIT)) == NULL) {
        world_run(world, 100 * NS_PER_MS);
    }
    answer_commit(world, commit, 0); /* Everything it read is committed. */
    world_run(world, 100 * NS_PER_MS);
    /* Frozen for 30 s (past the session timeout): every timer is overdue when it wakes up, and
     * it has read nothing since its last commit. */
    world->fake.now += 30 * NS_PER_S;
    u32 mark = observed_mark(world);
    world_settle(world);
    /* Its first group request is the commit of what it read, in its old generation. */
    struct fake_request *first = world_pending_group(world);
    REQUIRE(first != NULL);
    REQUIRE(first->api_key == KAFKA_API_OFFSET_COMMIT);
    struct commit_seen seen;
    read_commit(world, first, &seen);
    CHECK(seen.generation == 1);
    CHECK_EQ_U64(seen.offset[0], 2);
    answer_commit(world, first, KAFKA_ERROR_ILLEGAL_GENERATION);
    world_run(world, 0);
    u32 sent = observed_find(world, mark, HISTORY_GROUP_COMMIT);
    u32 failed = observed_find(world, mark, HISTORY_GROUP_COMMIT_FAILED);
    u32 revoked = observed_find(world, mark, HISTORY_GROUP_REVOKED);
    REQUIRE(sent != UINT32_MAX && failed != UINT32_MAX && revoked != UINT32_MAX);
    CHECK(sent < failed && failed < revoked);
    CHECK_EQ_U64(world->fake.observed[failed].d, KAFKA_ERROR_ILLEGAL_GENERATION);
    CHECK_EQ_U64(world->fake.observed[revoked].c, KAFKA_ERROR_ILLEGAL_GENERATION);
    CHECK_EQ_U64(observed_count_of(world, mark, HISTORY_GROUP_COMMIT), 1); /* Only once. */
    struct join_seen joined;
    CHECK(take_join(world, &joined) != NULL);
    world_destroy(world);
}

TEST(coordinator_moves_and_the_member_keeps_its_generation)
{
    struct world *world = world_create(KAFKA_CLIENT_ASSIGNOR_RANGE, false, 2);
    world->manual_heartbeats = true;
    join_alone(world, "m1", 2, no_commits);
    struct fake_request *heartbeat = NULL;
    while ((heartbeat = world_pending(world, KAFKA_API_HEARTBEAT)) == NULL) {
        struct fake_request *commit = world_pending(world, KAFKA_API_OFFSET_COMMIT);
        if (commit != NULL) answer_commit(world, commit, 0);
        world_run(world, 500 * NS_PER_MS);
    }
    io_conn old_conn = heartbeat->conn;
    snprintf(world->coordinator, sizeof(world->coordinator), "b2:9092");
    world->coordinator_id = 2;
    world->find_error = KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE; /* At first. */
    u32 mark = observed_mark(world);
    answer_heartbeat(world, heartbeat, KAFKA_ERROR_NOT_COORDINATOR);
    world_run(world, 0);
    CHECK(world->fake.conns[old_conn].closed);
    world_run(world, 300 * NS_PER_MS);
    world->find_error = 0;
    heartbeat = NULL;
    for (u32 i = 0; i < 20 && heartbeat == NULL; i++) {
        world_run(world, 500 * NS_PER_MS);
        struct fake_request *commit = world_pending(world, KAFKA_API_OFFSET_COMMIT);
        if (commit != NULL) answer_commit(world, commit, 0);
        heartbeat = world_pending(world, KAFKA_API_HEARTBEAT);
    }
    REQUIRE(heartbeat != NULL);
    CHECK(strcmp(world->fake.conns[heartbeat->conn].endpoint, "b2:9092") == 0);
    union kafka_request body;
    request_decode(world, heartbeat, &body);
    CHECK(body.Heartbeat.GenerationId == 2);
    CHECK(proto_string_equal_cstr(body.Heartbeat.MemberId, "m1"));
    CHECK(observed_find(world, mark, HISTORY_GROUP_REVOKED) == UINT32_MAX);
    CHECK(world_pending(world, KAFKA_API_JOIN_GROUP) == NULL);
    world_destroy(world);
}

TEST(malformed_answers_close_the_link_and_the_member_rejoins)
{
    struct world *world = world_create(KAFKA_CLIENT_ASSIGNOR_COOPERATIVE_STICKY, false, 2);
    world_run(world, 10 * NS_PER_MS);
    u64 state = 99;
    u32 closed = 0;
    for (u32 round = 0; round < 50; round++) {
        struct fake_request *request = world_pending_group(world);
        if (request == NULL) {
            world_run(world, 500 * NS_PER_MS);
            continue;
        }
        u8 garbage[64];
        store_u32_be(garbage, (u32)request->correlation_id); /* Past the header, noise. */
        u32 size = 4 + (u32)(test_random(&state) % (sizeof(garbage) - 4));
        for (u32 i = 4; i < size; i++) garbage[i] = (u8)test_random(&state);
        request->answered = true;
        kafka_client_handler.on_frame(world->fake.client, request->conn, garbage, size);
        closed += world->fake.conns[request->conn].closed; /* Noise may happen to decode. */
        world_run(world, 500 * NS_PER_MS);
    }
    CHECK(closed >= 25);
    /* It still tries to join (and joins when answered properly). */
    world_run(world, NS_PER_S);
    join_alone(world, "m9", 1, no_commits);
    CHECK(observed_find(world, 0, HISTORY_GROUP_ASSIGNED) != UINT32_MAX);
    world_destroy(world);
}

static const struct test_case tests[] = {
    {"range_splits_like_kafka", range_splits_like_kafka},
    {"cooperative_sticky_rounds", cooperative_sticky_rounds},
    {"cooperative_sticky_moves_only_the_surplus", cooperative_sticky_moves_only_the_surplus},
    {"consumer_protocol_payloads", consumer_protocol_payloads},
    {"member_id_required_then_reads_from_committed_or_earliest",
     member_id_required_then_reads_from_committed_or_earliest},
    {"static_leader_skips_the_assignment_when_told", static_leader_skips_the_assignment_when_told},
    {"commits_positions_and_reports_outcomes", commits_positions_and_reports_outcomes},
    {"eager_commits_then_revokes_everything_before_joining",
     eager_commits_then_revokes_everything_before_joining},
    {"cooperative_revokes_only_moved_partitions_then_rejoins",
     cooperative_revokes_only_moved_partitions_then_rejoins},
    {"fencing_errors_lose_partitions_and_rejoin", fencing_errors_lose_partitions_and_rejoin},
    {"zombie_sends_its_stale_commit_after_a_pause", zombie_sends_its_stale_commit_after_a_pause},
    {"coordinator_moves_and_the_member_keeps_its_generation",
     coordinator_moves_and_the_member_keeps_its_generation},
    {"malformed_answers_close_the_link_and_the_member_rejoins",
     malformed_answers_close_the_link_and_the_member_rejoins},
};

TEST_MAIN(tests)
