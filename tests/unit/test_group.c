/* test_group.c: the classic group coordinator (impl/group/) and its __consumer_offsets records.
 *
 * Requests are built as structs, encoded with the generated codec at the version under test and
 * decoded again (as the broker would hand them over); every answer, at once or through the
 * owner, is encoded at its version and decoded again (so an answer a version cannot carry fails
 * here). The owner is a fake that records answers (each token answered exactly once) and
 * persists (completed, failed or refused when the test says); time is a number the test
 * advances. group_coordinator_invariants runs after every step. Covered: joining with the
 * initial delay, the leader's metadata, SyncGroup persisted then answered; a third member's
 * rebalance; session and rebalance timeouts; MEMBER_ID_REQUIRED; static members (rejoin
 * without a rebalance, FENCED_INSTANCE_ID); the fencing of commits from old generations and
 * removed members (the zombie of catalog G1); OffsetCommit persisted then fetched; persist
 * failures mapped as Kafka maps them; a log written by one coordinator loaded by another;
 * unload; Describe/List/Delete groups, OffsetDelete, offsets retention; limits; the record
 * formats at every version, Java's hashCode, and 1000 random and mutated records and batches. */
#include "test.h"

#include "../../impl/group/group_coordinator.h"
#include "../../impl/group/group_records.h"
#include "../../impl/log/record_batch.h"
#include "../../impl/protocol/errors_generated.h"

#define ANSWERS_MAX 4096u
#define PERSISTS_MAX 1024u
#define PARTITIONS 4u
#define SESSION_MS 10000
#define REBALANCE_MS 30000
#define DELAY_MS 3000

struct recorded_answer {
    u64 token;
    i16 api_key, version;
    bool at_once;
    u8 *bytes;
    u32 size;
};

struct recorded_persist {
    u32 partition;
    u64 token;
    u8 *batch;
    u32 size;
    bool done;
    i16 error;
};

/* The fake owner and the clock: one world per test. */
static struct {
    struct group_coordinator *c;
    struct group_coordinator_config config;
    u64 now;
    u64 next_token;
    struct recorded_answer answers[ANSWERS_MAX];
    u32 answer_count;
    struct recorded_persist persists[PERSISTS_MAX];
    u32 persist_count;
    bool refuse_persists;
} W;

static u8 frame_memory[1u << 20];
static u8 answer_memory[1u << 20];
static u8 request_memory[1u << 20];
static u8 response_memory[1u << 20];
static u8 decoded_memory[1u << 20];

static void record_answer(u64 token, i16 api_key, i16 version,
                          const union kafka_response *response, bool at_once)
{
    for (u32 i = 0; i < W.answer_count; i++) CHECK(W.answers[i].token != token);
    ASSERT(W.answer_count < ANSWERS_MAX);
    struct proto_writer writer;
    proto_writer_init(&writer, answer_memory, sizeof(answer_memory));
    enum proto_error encoded = kafka_response_encode(&writer, api_key, version, response);
    CHECK(encoded == PROTO_OK);
    struct recorded_answer *a = &W.answers[W.answer_count++];
    a->token = token;
    a->api_key = api_key;
    a->version = version;
    a->at_once = at_once;
    a->size = encoded == PROTO_OK ? writer.position : 0;
    a->bytes = malloc(MAX(a->size, 1u));
    ASSERT(a->bytes != NULL);
    memcpy(a->bytes, answer_memory, a->size);
}

static void owner_answer(void *context, u64 token, i16 api_key, i16 version,
                         const union kafka_response *response)
{
    (void)context;
    record_answer(token, api_key, version, response, false);
}

static bool owner_persist(void *context, u32 partition, u64 token, const u8 *batch, u32 size)
{
    (void)context;
    if (W.refuse_persists) return false;
    ASSERT(W.persist_count < PERSISTS_MAX);
    struct recorded_persist *p = &W.persists[W.persist_count++];
    p->partition = partition;
    p->token = token;
    p->batch = malloc(size);
    ASSERT(p->batch != NULL);
    memcpy(p->batch, batch, size);
    p->size = size;
    return true;
}

static void world_free(void)
{
    if (W.c != NULL) group_coordinator_destroy(W.c);
    for (u32 i = 0; i < W.answer_count; i++) free(W.answers[i].bytes);
    for (u32 i = 0; i < W.persist_count; i++) free(W.persists[i].batch);
    memset(&W, 0, sizeof(W));
}

static struct group_coordinator *coordinator_new(void)
{
    struct group_coordinator_owner owner = {NULL, owner_answer, owner_persist};
    struct group_coordinator *c = group_coordinator_create(&W.config, &owner);
    ASSERT(c != NULL);
    return c;
}

static void load_all(struct group_coordinator *c, i32 epoch)
{
    for (u32 p = 0; p < PARTITIONS; p++) {
        group_load_begin(c, p, epoch);
        group_load_end(c, p, W.now);
    }
    group_coordinator_invariants(c);
}

/* A fresh world whose coordinator leads every __consumer_offsets partition. */
static void world_new(void)
{
    world_free();
    W.config = (struct group_coordinator_config){
        .node_id = 1,
        .offsets_partitions = PARTITIONS,
        .initial_rebalance_delay_ns = DELAY_MS * NS_PER_MS,
        .min_session_timeout_ns = 6000 * NS_PER_MS,
        .max_session_timeout_ns = 1800000 * NS_PER_MS,
        .max_size = GROUP_MEMBERS_MAX,
        .offset_metadata_max_bytes = 4096,
        .offsets_retention_ns = 7 * 24 * 3600 * NS_PER_S,
        .offsets_retention_check_interval_ns = 0,
    };
    W.now = 1000 * NS_PER_S;
    W.next_token = 1;
    W.c = coordinator_new();
    load_all(W.c, 5);
}

/* Moves the clock, firing every deadline on the way at its instant (as the owner's timer
 * would). */
static void advance_ms(u64 ms)
{
    u64 target = W.now + ms * NS_PER_MS;
    for (;;) {
        u64 deadline = group_next_deadline(W.c);
        if (deadline > target) break;
        if (deadline > W.now) W.now = deadline;
        group_coordinator_tick(W.c, W.now);
        group_coordinator_invariants(W.c);
    }
    W.now = target;
    group_coordinator_tick(W.c, W.now);
    group_coordinator_invariants(W.c);
}

/* Completes every outstanding persist, in order, with error. */
static void persists_complete(i16 error)
{
    for (u32 i = 0; i < W.persist_count; i++) {
        if (W.persists[i].done) continue;
        W.persists[i].done = true;
        W.persists[i].error = error;
        group_persisted(W.c, W.persists[i].token, error, W.now);
        group_coordinator_invariants(W.c);
    }
}

static u32 persists_outstanding(void)
{
    u32 count = 0;
    for (u32 i = 0; i < W.persist_count; i++) count += !W.persists[i].done;
    return count;
}

/* ---- Requests: encoded and decoded at their version, then handed over ---- */

static const union kafka_request *request_roundtrip(i16 key, i16 version,
                                                    const union kafka_request *in)
{
    static union kafka_request out;
    struct proto_writer writer;
    proto_writer_init(&writer, frame_memory, sizeof(frame_memory));
    ASSERT(kafka_request_encode(&writer, key, version, in) == PROTO_OK);
    struct proto_reader reader;
    proto_reader_init(&reader, frame_memory, writer.position);
    struct proto_arena arena;
    proto_arena_init(&arena, request_memory, sizeof(request_memory));
    ASSERT(kafka_request_decode(&reader, key, version, &out, &arena) == PROTO_OK);
    ASSERT(reader.position == writer.position);
    return &out;
}

static enum group_outcome last_outcome;

static u64 call(i16 key, i16 version, const union kafka_request *in, const char *client)
{
    const union kafka_request *r = request_roundtrip(key, version, in);
    u64 token = W.next_token++;
    struct proto_arena arena;
    proto_arena_init(&arena, response_memory, sizeof(response_memory));
    union kafka_response response;
    memset(&response, 0, sizeof(response));
    struct group_coordinator *c = W.c;
    enum group_outcome outcome = GROUP_ANSWERED;
    switch (key) {
    case KAFKA_API_JOIN_GROUP:
        outcome = group_join(c, token, version, &r->JoinGroup, client, "/10.0.0.1", W.now,
                             &arena, &response);
        break;
    case KAFKA_API_SYNC_GROUP:
        outcome = group_sync(c, token, version, &r->SyncGroup, W.now, &arena, &response);
        break;
    case KAFKA_API_HEARTBEAT:
        outcome = group_heartbeat(c, token, version, &r->Heartbeat, W.now, &arena, &response);
        break;
    case KAFKA_API_LEAVE_GROUP:
        outcome = group_leave(c, token, version, &r->LeaveGroup, W.now, &arena, &response);
        break;
    case KAFKA_API_OFFSET_COMMIT:
        outcome = group_offset_commit(c, token, version, &r->OffsetCommit, W.now, &arena,
                                      &response);
        break;
    case KAFKA_API_OFFSET_FETCH:
        outcome = group_offset_fetch(c, token, version, &r->OffsetFetch, &arena, &response);
        break;
    case KAFKA_API_DESCRIBE_GROUPS:
        outcome = group_describe(c, token, version, &r->DescribeGroups, &arena, &response);
        break;
    case KAFKA_API_LIST_GROUPS:
        outcome = group_list(c, token, version, &r->ListGroups, &arena, &response);
        break;
    case KAFKA_API_DELETE_GROUPS:
        outcome = group_delete(c, token, version, &r->DeleteGroups, W.now, &arena, &response);
        break;
    case KAFKA_API_OFFSET_DELETE:
        outcome = group_offset_delete(c, token, version, &r->OffsetDelete, W.now, &arena,
                                      &response);
        break;
    default: ASSERT(false);
    }
    last_outcome = outcome;
    if (outcome == GROUP_ANSWERED) record_answer(token, key, version, &response, true);
    group_coordinator_invariants(c);
    return token;
}

/* The answer to a token, decoded (valid until the next call of got), or NULL. */
static const union kafka_response *got(u64 token)
{
    static union kafka_response response;
    for (u32 i = 0; i < W.answer_count; i++) {
        const struct recorded_answer *a = &W.answers[i];
        if (a->token != token) continue;
        struct proto_reader reader;
        proto_reader_init(&reader, a->bytes, a->size);
        struct proto_arena arena;
        proto_arena_init(&arena, decoded_memory, sizeof(decoded_memory));
        if (kafka_response_decode(&reader, a->api_key, a->version, &response, &arena) !=
            PROTO_OK) {
            return NULL;
        }
        return &response;
    }
    return NULL;
}

static bool answered(u64 token) { return got(token) != NULL; }

static struct proto_string S(const char *text) { return proto_string_of(text); }

static bool string_is(struct proto_string s, const char *text)
{
    return proto_string_equal_cstr(s, text);
}

/* A ConsumerProtocolSubscription v0 naming the topics. */
static struct proto_bytes subscription(u8 *out, u32 capacity, const char *topic_a,
                                       const char *topic_b)
{
    struct proto_string topics[2] = {S(topic_a), S(topic_b != NULL ? topic_b : "")};
    struct kafka_consumer_protocol_subscription value;
    kafka_consumer_protocol_subscription_init(&value);
    value.Topics.items = topics;
    value.Topics.count = topic_b != NULL ? 2 : 1;
    struct proto_writer writer;
    proto_writer_init(&writer, out, capacity);
    proto_write_i16(&writer, 0);
    ASSERT(kafka_consumer_protocol_subscription_encode(&writer, 0, &value) == PROTO_OK);
    return (struct proto_bytes){out, (i32)writer.position};
}

/* ---- JoinGroup ---- */

struct join_args {
    const char *group;
    const char *member;   /* "" for a new one. */
    const char *instance; /* NULL: dynamic. */
    const char *client;
    i16 version;
    const char *protocol_type;
    const char *protocol;
    const char *topic;    /* The subscription. */
    i32 session_ms;
    i32 rebalance_ms;
};

static u64 join(struct join_args a)
{
    u8 metadata[256];
    struct kafka_join_group_request_protocol protocol = {
        .Name = S(a.protocol != NULL ? a.protocol : "range"),
        .Metadata = subscription(metadata, sizeof(metadata), a.topic != NULL ? a.topic : "t",
                                 NULL),
    };
    union kafka_request r;
    kafka_join_group_request_init(&r.JoinGroup);
    r.JoinGroup.GroupId = S(a.group);
    r.JoinGroup.SessionTimeoutMs = a.session_ms != 0 ? a.session_ms : SESSION_MS;
    r.JoinGroup.RebalanceTimeoutMs = a.rebalance_ms != 0 ? a.rebalance_ms : REBALANCE_MS;
    r.JoinGroup.MemberId = S(a.member != NULL ? a.member : "");
    r.JoinGroup.GroupInstanceId = a.instance != NULL ? S(a.instance) : PROTO_STRING_NULL;
    r.JoinGroup.ProtocolType = S(a.protocol_type != NULL ? a.protocol_type : "consumer");
    r.JoinGroup.Protocols.items = &protocol;
    r.JoinGroup.Protocols.count = 1;
    return call(KAFKA_API_JOIN_GROUP, a.version != 0 ? a.version : 5, &r,
                a.client != NULL ? a.client : "client");
}

static i16 join_error_of(u64 token)
{
    const union kafka_response *r = got(token);
    return r == NULL ? (i16)-999 : r->JoinGroup.ErrorCode;
}

/* Copies the member id of a JoinGroup answer. */
static void join_member_id(u64 token, char *out, u32 capacity)
{
    const union kafka_response *r = got(token);
    ASSERT(r != NULL);
    struct proto_string id = r->JoinGroup.MemberId;
    ASSERT(id.size >= 0 && (u32)id.size < capacity);
    memcpy(out, id.data, (size_t)id.size);
    out[id.size] = 0;
}

static i32 join_generation(u64 token)
{
    const union kafka_response *r = got(token);
    return r == NULL ? -999 : r->JoinGroup.GenerationId;
}

/* ---- SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch ---- */

static u64 sync(const char *group, const char *member, i32 generation, i16 version,
                const char *const *assigned_members, const char *const *assignments,
                u32 count)
{
    struct kafka_sync_group_request_assignment items[8];
    ASSERT(count <= 8);
    for (u32 i = 0; i < count; i++) {
        items[i].MemberId = S(assigned_members[i]);
        items[i].Assignment = (struct proto_bytes){(const u8 *)assignments[i],
                                                   (i32)strlen(assignments[i])};
    }
    union kafka_request r;
    kafka_sync_group_request_init(&r.SyncGroup);
    r.SyncGroup.GroupId = S(group);
    r.SyncGroup.GenerationId = generation;
    r.SyncGroup.MemberId = S(member);
    if (version >= 5) {
        r.SyncGroup.ProtocolType = S("consumer");
        r.SyncGroup.ProtocolName = S("range");
    }
    r.SyncGroup.Assignments.items = items;
    r.SyncGroup.Assignments.count = (i32)count;
    return call(KAFKA_API_SYNC_GROUP, version, &r, "client");
}

static i16 sync_error_of(u64 token)
{
    const union kafka_response *r = got(token);
    return r == NULL ? (i16)-999 : r->SyncGroup.ErrorCode;
}

static bool sync_assignment_is(u64 token, const char *expected)
{
    const union kafka_response *r = got(token);
    if (r == NULL || r->SyncGroup.ErrorCode != KAFKA_ERROR_NONE) return false;
    struct proto_bytes b = r->SyncGroup.Assignment;
    return b.size == (i32)strlen(expected) &&
           (b.size == 0 || memcmp(b.data, expected, (size_t)b.size) == 0);
}

static i16 heartbeat(const char *group, const char *member, const char *instance,
                     i32 generation, i16 version)
{
    union kafka_request r;
    kafka_heartbeat_request_init(&r.Heartbeat);
    r.Heartbeat.GroupId = S(group);
    r.Heartbeat.GenerationId = generation;
    r.Heartbeat.MemberId = S(member);
    r.Heartbeat.GroupInstanceId = instance != NULL ? S(instance) : PROTO_STRING_NULL;
    u64 token = call(KAFKA_API_HEARTBEAT, version, &r, "client");
    CHECK(last_outcome == GROUP_ANSWERED);
    const union kafka_response *response = got(token);
    return response == NULL ? (i16)-999 : response->Heartbeat.ErrorCode;
}

static u64 commit(const char *group, const char *member, const char *instance,
                  i32 generation, i16 version, const char *topic, i32 partition, i64 offset,
                  const char *metadata)
{
    struct kafka_offset_commit_request_partition p;
    kafka_offset_commit_request_partition_init(&p);
    p.PartitionIndex = partition;
    p.CommittedOffset = offset;
    p.CommittedLeaderEpoch = version >= 6 ? 7 : -1;
    p.CommittedMetadata = metadata != NULL ? S(metadata) : PROTO_STRING_NULL;
    struct kafka_offset_commit_request_topic t;
    kafka_offset_commit_request_topic_init(&t);
    t.Name = S(topic);
    t.Partitions.items = &p;
    t.Partitions.count = 1;
    union kafka_request r;
    kafka_offset_commit_request_init(&r.OffsetCommit);
    r.OffsetCommit.GroupId = S(group);
    r.OffsetCommit.GenerationIdOrMemberEpoch = generation;
    r.OffsetCommit.MemberId = S(member);
    if (version >= 7) {
        r.OffsetCommit.GroupInstanceId = instance != NULL ? S(instance) : PROTO_STRING_NULL;
    }
    r.OffsetCommit.Topics.items = &t;
    r.OffsetCommit.Topics.count = 1;
    return call(KAFKA_API_OFFSET_COMMIT, version, &r, "client");
}

static i16 commit_error_of(u64 token)
{
    const union kafka_response *r = got(token);
    if (r == NULL || r->OffsetCommit.Topics.count != 1 ||
        r->OffsetCommit.Topics.items[0].Partitions.count != 1) {
        return -999;
    }
    return r->OffsetCommit.Topics.items[0].Partitions.items[0].ErrorCode;
}

/* The committed offset of one partition as OffsetFetch answers it (-1: none); the error
 * (top-level at v2+, else the partition's) through *error. */
static i64 fetch_offset(const char *group, const char *topic, i32 partition, i16 version,
                        i16 *error)
{
    struct kafka_offset_fetch_request_topic t;
    kafka_offset_fetch_request_topic_init(&t);
    t.Name = S(topic);
    t.PartitionIndexes.items = &partition;
    t.PartitionIndexes.count = 1;
    union kafka_request r;
    kafka_offset_fetch_request_init(&r.OffsetFetch);
    r.OffsetFetch.GroupId = S(group);
    r.OffsetFetch.Topics.items = &t;
    r.OffsetFetch.Topics.count = 1;
    u64 token = call(KAFKA_API_OFFSET_FETCH, version, &r, "client");
    CHECK(last_outcome == GROUP_ANSWERED);
    const union kafka_response *response = got(token);
    ASSERT(response != NULL);
    const struct kafka_offset_fetch_response *f = &response->OffsetFetch;
    *error = version >= 2 ? f->ErrorCode : KAFKA_ERROR_NONE;
    if (f->Topics.count != 1 || f->Topics.items[0].Partitions.count != 1) return -999;
    const struct kafka_offset_fetch_response_partition *p = &f->Topics.items[0].Partitions.items[0];
    if (*error == KAFKA_ERROR_NONE) *error = p->ErrorCode;
    return p->CommittedOffset;
}

/* ---- Group summaries ---- */

static bool summary_of(const char *group, struct group_summary *out)
{
    for (u32 i = 0; group_coordinator_group(W.c, i, out); i++) {
        if (strcmp(out->group_id, group) == 0) return true;
    }
    return false;
}

static const char *state_of(const char *group)
{
    struct group_summary s;
    return summary_of(group, &s) ? s.state : "absent";
}

/* Two members joined, synced and Stable in generation 1: ids in a and b (a the leader). */
static void stable_pair(const char *group, char *a, char *b)
{
    u64 ja = join((struct join_args){.group = group, .client = "ca", .version = 3});
    u64 jb = join((struct join_args){.group = group, .client = "cb", .version = 3});
    ASSERT(!answered(ja) && !answered(jb));
    advance_ms(2 * DELAY_MS); /* The delay is extended once for the second. */
    join_member_id(ja, a, 64);
    join_member_id(jb, b, 64);
    ASSERT(join_generation(ja) == 1);
    const char *ids[2] = {a, b};
    const char *parts[2] = {"part-a", "part-b"};
    u64 sb = sync(group, b, 1, 3, NULL, NULL, 0);
    u64 sa = sync(group, a, 1, 3, ids, parts, 2);
    persists_complete(KAFKA_ERROR_NONE);
    ASSERT(sync_assignment_is(sa, "part-a") && sync_assignment_is(sb, "part-b"));
    ASSERT(strcmp(state_of(group), "Stable") == 0);
}

/* ======================================================================== */
/* Records                                                                  */
/* ======================================================================== */

TEST(records_known_bytes)
{
    u8 buffer[64];
    u32 size = group_offset_key_encode(buffer, sizeof(buffer), 1, S("g"), S("t"), 3);
    const u8 key[] = {0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 3};
    CHECK(size == sizeof(key) && memcmp(buffer, key, sizeof(key)) == 0);
    size = group_metadata_key_encode(buffer, sizeof(buffer), S("ab"));
    const u8 group_key[] = {0, 2, 0, 2, 'a', 'b'};
    CHECK(size == sizeof(group_key) && memcmp(buffer, group_key, sizeof(group_key)) == 0);
    struct group_offset_value v3 = {.version = 3, .offset = 5, .leader_epoch = 2,
                                    .metadata = S("m"), .commit_timestamp = 9,
                                    .expire_timestamp = -1};
    size = group_offset_value_encode(buffer, sizeof(buffer), &v3);
    const u8 value[] = {0, 3, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 2, 0, 1, 'm',
                        0, 0, 0, 0, 0, 0, 0, 9};
    CHECK(size == sizeof(value) && memcmp(buffer, value, sizeof(value)) == 0);
    CHECK(group_offset_key_encode(buffer, 4, 1, S("g"), S("t"), 3) == 0); /* Too small. */
    CHECK(group_offset_key_encode(NULL, 0, 1, S("g"), S("t"), 3) == sizeof(key));
}

TEST(records_roundtrip_every_version)
{
    u8 buffer[4096];
    for (i16 key_version = 0; key_version <= 1; key_version++) {
        u32 size = group_offset_key_encode(buffer, sizeof(buffer), key_version, S("grp"),
                                           S("topic"), 42);
        struct group_record_key key;
        REQUIRE(group_record_key_decode(buffer, size, &key) == GROUP_RECORD_OK);
        CHECK(key.type == GROUP_RECORD_OFFSET_COMMIT && key.version == key_version);
        CHECK(string_is(key.group, "grp") && string_is(key.topic, "topic"));
        CHECK(key.partition == 42);
    }
    u32 size = group_metadata_key_encode(buffer, sizeof(buffer), S("grp"));
    struct group_record_key key;
    REQUIRE(group_record_key_decode(buffer, size, &key) == GROUP_RECORD_OK);
    CHECK(key.type == GROUP_RECORD_GROUP_METADATA && string_is(key.group, "grp"));
    for (i16 version = 0; version <= 3; version++) {
        struct group_offset_value in = {
            .version = version, .offset = 123456789012, .metadata = S("meta"),
            .commit_timestamp = 1700000000000, .leader_epoch = version >= 3 ? 9 : -1,
            .expire_timestamp = version == 1 ? 1800000000000 : -1,
        };
        size = group_offset_value_encode(buffer, sizeof(buffer), &in);
        struct group_offset_value out;
        REQUIRE(group_offset_value_decode(buffer, size, &out) == GROUP_RECORD_OK);
        CHECK(out.version == version && out.offset == in.offset);
        CHECK(out.leader_epoch == in.leader_epoch && string_is(out.metadata, "meta"));
        CHECK(out.commit_timestamp == in.commit_timestamp);
        CHECK(out.expire_timestamp == in.expire_timestamp);
        for (u32 cut = 0; cut < size; cut++) {
            CHECK(group_offset_value_decode(buffer, cut, &out) != GROUP_RECORD_OK);
        }
    }
    static u8 arena_memory[65536];
    for (i16 version = 0; version <= 3; version++) {
        struct group_member_value members[2] = {
            {S("m-1"), version >= 3 ? S("inst") : PROTO_STRING_NULL, S("c1"), S("/h1"),
             version >= 1 ? 30000 : -1, 10000, {(const u8 *)"sub", 3},
             {(const u8 *)"asg", 3}},
            {S("m-2"), PROTO_STRING_NULL, S("c2"), S("/h2"), version >= 1 ? 20000 : -1, 6000,
             {(const u8 *)"", 0}, {(const u8 *)"x", 1}},
        };
        struct group_metadata_value in = {
            .version = version, .protocol_type = S("consumer"), .generation = 7,
            .protocol = S("range"), .leader = S("m-1"),
            .current_state_timestamp = version >= 2 ? 555 : -1, .members = members,
            .member_count = 2,
        };
        size = group_metadata_value_encode(buffer, sizeof(buffer), &in);
        REQUIRE(size > 0);
        struct proto_arena arena;
        proto_arena_init(&arena, arena_memory, sizeof(arena_memory));
        struct group_metadata_value out;
        REQUIRE(group_metadata_value_decode(buffer, size, &out, &arena) == GROUP_RECORD_OK);
        CHECK(out.version == version && out.generation == 7 && out.member_count == 2);
        CHECK(string_is(out.protocol_type, "consumer") && string_is(out.protocol, "range"));
        CHECK(string_is(out.leader, "m-1"));
        CHECK(out.current_state_timestamp == in.current_state_timestamp);
        for (u32 i = 0; i < 2 && out.member_count == 2; i++) {
            CHECK(proto_string_equal(out.members[i].member_id, members[i].member_id));
            CHECK(proto_string_equal(out.members[i].group_instance_id,
                                     members[i].group_instance_id));
            CHECK(proto_string_equal(out.members[i].client_host, members[i].client_host));
            CHECK(out.members[i].rebalance_timeout == members[i].rebalance_timeout);
            CHECK(out.members[i].session_timeout == members[i].session_timeout);
            CHECK(proto_bytes_equal(out.members[i].subscription, members[i].subscription));
            CHECK(proto_bytes_equal(out.members[i].assignment, members[i].assignment));
        }
        for (u32 cut = 0; cut < size; cut++) {
            proto_arena_reset(&arena);
            CHECK(group_metadata_value_decode(buffer, cut, &out, &arena) != GROUP_RECORD_OK);
        }
    }
    /* A static member cannot be written before v3; unknown versions are reported. */
    struct group_member_value static_member = {S("m"), S("i"), S("c"), S("h"), 1, 1,
                                               {(const u8 *)"", 0}, {(const u8 *)"", 0}};
    struct group_metadata_value v2 = {.version = 2, .protocol_type = S("consumer"),
                                      .protocol = S("range"), .leader = S("m"),
                                      .members = &static_member, .member_count = 1};
    CHECK(group_metadata_value_encode(buffer, sizeof(buffer), &v2) == 0);
    const u8 v4[] = {0, 4, 0, 0};
    struct group_offset_value value;
    CHECK(group_offset_value_decode(v4, sizeof(v4), &value) == GROUP_RECORD_UNKNOWN_VERSION);
    const u8 key3[] = {0, 3, 0, 0};
    CHECK(group_record_key_decode(key3, sizeof(key3), &key) == GROUP_RECORD_UNKNOWN_VERSION);
}

static u64 rng_state = 0x9e3779b97f4a7c15ull;

static u64 rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A valid record (key, value) of a random kind, then mutated or not. */
static void random_record(u8 *key, u32 *key_size, u8 *value, i32 *value_size)
{
    u32 kind = (u32)(rng() % 3);
    char group[8] = "grp-";
    group[4] = (char)('a' + rng() % 4);
    group[5] = 0;
    if (kind == 0) {
        *key_size = group_offset_key_encode(key, 256, (i16)(rng() % 2), S(group), S("t"),
                                            (i32)(rng() % 4));
        struct group_offset_value v = {.version = (i16)(rng() % 4), .offset = (i64)(rng() % 100),
                                       .leader_epoch = -1, .metadata = S("m"),
                                       .commit_timestamp = 1, .expire_timestamp = -1};
        *value_size = rng() % 5 == 0 ? -1 : (i32)group_offset_value_encode(value, 1024, &v);
    } else {
        *key_size = group_metadata_key_encode(key, 256, S(group));
        struct group_member_value m = {S("m-1"), PROTO_STRING_NULL, S("c"), S("h"), 100, 6000,
                                       {(const u8 *)"s", 1}, {(const u8 *)"a", 1}};
        struct group_metadata_value v = {.version = (i16)(rng() % 4),
                                         .protocol_type = S("consumer"),
                                         .generation = (i32)(rng() % 5), .protocol = S("range"),
                                         .leader = S("m-1"), .members = &m,
                                         .member_count = (u32)(rng() % 2)};
        *value_size = rng() % 5 == 0 ? -1 : (i32)group_metadata_value_encode(value, 1024, &v);
    }
    u32 mutations = (u32)(rng() % 4);
    for (u32 i = 0; i < mutations; i++) {
        u8 *target = rng() % 2 == 0 || *value_size <= 0 ? key : value;
        u32 size = target == key ? *key_size : (u32)*value_size;
        if (size == 0) continue;
        switch (rng() % 3) {
        case 0: target[rng() % size] ^= (u8)(1u << (rng() % 8)); break;
        case 1: target[rng() % size] = (u8)rng(); break;
        default:
            if (target == key) *key_size = (u32)(rng() % (size + 1));
            else *value_size = (i32)(rng() % (size + 1));
        }
    }
}

TEST(records_fuzz_1000)
{
    static u8 arena_memory[1u << 16];
    u8 bytes[512];
    for (u32 round = 0; round < 1000; round++) {
        u32 size = (u32)(rng() % sizeof(bytes));
        for (u32 i = 0; i < size; i++) bytes[i] = (u8)rng();
        if (round % 2 == 0 && size >= 2) bytes[0] = 0, bytes[1] = (u8)(rng() % 4);
        struct group_record_key key;
        struct group_offset_value offset;
        struct group_metadata_value metadata;
        struct proto_arena arena;
        proto_arena_init(&arena, arena_memory, sizeof(arena_memory));
        if (group_record_key_decode(bytes, size, &key) == GROUP_RECORD_OK) {
            CHECK(key.type == GROUP_RECORD_OFFSET_COMMIT ||
                  key.type == GROUP_RECORD_GROUP_METADATA);
        }
        if (group_offset_value_decode(bytes, size, &offset) == GROUP_RECORD_OK) {
            /* Whatever decodes re-encodes to a prefix of what was read. */
            u8 again[600];
            u32 encoded = group_offset_value_encode(again, sizeof(again), &offset);
            CHECK(encoded > 0 && encoded <= size && memcmp(again, bytes, encoded) == 0);
        }
        if (group_metadata_value_decode(bytes, size, &metadata, &arena) == GROUP_RECORD_OK) {
            u8 again[600];
            u32 encoded = group_metadata_value_encode(again, sizeof(again), &metadata);
            CHECK(encoded > 0 && encoded <= size && memcmp(again, bytes, encoded) == 0);
        }
    }
}

TEST(load_fuzz_batches_1000)
{
    world_new();
    static u8 batch[1u << 16];
    for (u32 round = 0; round < 1000; round++) {
        u32 partition = (u32)(rng() % PARTITIONS);
        group_load_begin(W.c, partition, (i32)round);
        for (u32 b = 0; b < 3; b++) {
            struct batch_builder builder;
            batch_builder_init(&builder, batch, sizeof(batch), 0, 1);
            u32 records = 1 + (u32)(rng() % 8);
            for (u32 r = 0; r < records; r++) {
                u8 key[256], value[1024];
                u32 key_size = 0;
                i32 value_size = 0;
                random_record(key, &key_size, value, &value_size);
                batch_builder_add(&builder, 1, key, (i32)key_size,
                                  value_size < 0 ? NULL : value, value_size, NULL, 0);
            }
            u64 size = batch_builder_finish(&builder);
            REQUIRE(size > 0);
            if (rng() % 4 == 0) batch[rng() % size] ^= 0x20; /* Often a CRC failure. */
            group_load_batch(W.c, partition, batch, (u32)(size - rng() % 3));
            group_coordinator_invariants(W.c);
        }
        group_load_end(W.c, partition, W.now);
        group_coordinator_invariants(W.c);
    }
    CHECK(group_coordinator_records_skipped(W.c) > 0);
    world_free();
}

TEST(partition_of_java_hash)
{
    /* Expected values from Java's String.hashCode, abs, % 50 (Kafka's partitionFor). */
    CHECK(group_partition_of("my-group", 8, 50) == 12);
    CHECK(group_partition_of("group", 5, 50) == 47);
    CHECK(group_partition_of("console-consumer-12345", 22, 50) == 6);
    CHECK(group_partition_of("gr\xc3\xbcppe", 7, 50) == 12);        /* U+00FC */
    CHECK(group_partition_of("g\xf0\x9f\x98\x80", 5, 50) == 32);   /* A surrogate pair. */
    CHECK(group_partition_of("", 0, 50) == 0);
    /* Invalid UTF-8 hashes its bytes as Latin-1: "\xff" is 255. */
    CHECK(group_partition_of("\xff", 1, 50) == 255 % 50);
}

/* ======================================================================== */
/* Joining, syncing, rebalancing                                            */
/* ======================================================================== */

TEST(two_members_join_sync)
{
    world_new();
    /* v5: new members learn their id first (KIP-394). */
    u64 first = join((struct join_args){.group = "g", .client = "ca"});
    CHECK(last_outcome == GROUP_ANSWERED);
    CHECK(join_error_of(first) == KAFKA_ERROR_MEMBER_ID_REQUIRED);
    char a[64], b[64];
    join_member_id(first, a, sizeof(a));
    CHECK(strcmp(a, "ca-1-5-1") == 0);
    u64 ja = join((struct join_args){.group = "g", .member = a, .client = "ca"});
    CHECK(last_outcome == GROUP_PARKED);
    u64 second = join((struct join_args){.group = "g", .client = "cb", .version = 7});
    join_member_id(second, b, sizeof(b));
    u64 jb = join((struct join_args){.group = "g", .member = b, .client = "cb", .version = 7});
    CHECK(strcmp(state_of("g"), "PreparingRebalance") == 0);
    /* The initial delay holds the group for more members. */
    advance_ms(DELAY_MS - 1);
    CHECK(!answered(ja) && !answered(jb));
    CHECK(group_next_deadline(W.c) == W.now + NS_PER_MS);
    /* b arrived during the delay: it is extended once more (up to the rebalance timeout). */
    advance_ms(1);
    CHECK(!answered(ja) && !answered(jb));
    advance_ms(DELAY_MS);
    REQUIRE(answered(ja) && answered(jb));
    const union kafka_response *r = got(ja);
    CHECK(r->JoinGroup.ErrorCode == KAFKA_ERROR_NONE && r->JoinGroup.GenerationId == 1);
    CHECK(string_is(r->JoinGroup.Leader, a) && string_is(r->JoinGroup.ProtocolName, "range"));
    CHECK(r->JoinGroup.Members.count == 2);
    if (r->JoinGroup.Members.count == 2) {
        CHECK(string_is(r->JoinGroup.Members.items[0].MemberId, a));
        CHECK(string_is(r->JoinGroup.Members.items[1].MemberId, b));
        CHECK(r->JoinGroup.Members.items[1].Metadata.size > 2); /* The subscription. */
    }
    r = got(jb);
    CHECK(r->JoinGroup.Members.count == 0 && string_is(r->JoinGroup.Leader, a));
    CHECK(string_is(r->JoinGroup.ProtocolType, "consumer")); /* v7+ */
    CHECK(strcmp(state_of("g"), "CompletingRebalance") == 0);
    /* The follower's SyncGroup waits for the leader's assignment... */
    u64 sb = sync("g", b, 1, 5, NULL, NULL, 0);
    CHECK(last_outcome == GROUP_PARKED);
    const char *ids[2] = {a, b};
    const char *parts[2] = {"part-a", "part-b"};
    u64 sa = sync("g", a, 1, 5, ids, parts, 2);
    CHECK(last_outcome == GROUP_PARKED);
    /* ... which is persisted first: nobody is answered before the batch commits. */
    REQUIRE(W.persist_count == 1);
    CHECK(W.persists[0].partition == group_partition_of("g", 1, PARTITIONS));
    CHECK(!answered(sa) && !answered(sb));
    struct record_batch_header header;
    CHECK(batch_validate(W.persists[0].batch, W.persists[0].size, &header) == BATCH_OK);
    CHECK(header.RecordCount == 1);
    persists_complete(KAFKA_ERROR_NONE);
    CHECK(sync_assignment_is(sa, "part-a") && sync_assignment_is(sb, "part-b"));
    r = got(sa);
    CHECK(string_is(r->SyncGroup.ProtocolName, "range")); /* v5 */
    CHECK(strcmp(state_of("g"), "Stable") == 0);
    CHECK(heartbeat("g", a, NULL, 1, 4) == KAFKA_ERROR_NONE);
    /* SyncGroup again when Stable: the current assignment at once. */
    u64 again = sync("g", b, 1, 3, NULL, NULL, 0);
    CHECK(last_outcome == GROUP_ANSWERED && sync_assignment_is(again, "part-b"));
    world_free();
}

TEST(third_member_rebalances)
{
    world_new();
    char a[64], b[64], c[64];
    stable_pair("g", a, b);
    u64 jc = join((struct join_args){.group = "g", .client = "cc", .version = 3});
    CHECK(last_outcome == GROUP_PARKED);
    CHECK(strcmp(state_of("g"), "PreparingRebalance") == 0);
    CHECK(heartbeat("g", a, NULL, 1, 2) == KAFKA_ERROR_REBALANCE_IN_PROGRESS);
    CHECK(heartbeat("g", b, NULL, 1, 0) == KAFKA_ERROR_REBALANCE_IN_PROGRESS);
    u64 sa = sync("g", a, 1, 2, NULL, NULL, 0);
    CHECK(sync_error_of(sa) == KAFKA_ERROR_REBALANCE_IN_PROGRESS);
    u64 ja = join((struct join_args){.group = "g", .member = a, .client = "ca", .version = 3});
    CHECK(!answered(ja) && !answered(jc));
    u64 jb = join((struct join_args){.group = "g", .member = b, .client = "cb", .version = 3});
    /* The last to rejoin completes the rebalance, its own answer included. */
    CHECK(last_outcome == GROUP_ANSWERED);
    CHECK(join_generation(ja) == 2 && join_generation(jb) == 2 && join_generation(jc) == 2);
    const union kafka_response *r = got(ja);
    CHECK(r->JoinGroup.Members.count == 3 && string_is(r->JoinGroup.Leader, a));
    join_member_id(jc, c, sizeof(c));
    CHECK(strncmp(c, "cc-1-5-", 7) == 0);
    CHECK(heartbeat("g", b, NULL, 1, 1) == KAFKA_ERROR_ILLEGAL_GENERATION);
    CHECK(heartbeat("g", c, NULL, 2, 1) == KAFKA_ERROR_NONE);
    world_free();
}

TEST(session_timeout_removes_silent_member)
{
    world_new();
    char a[64], b[64];
    stable_pair("g", a, b);
    for (u32 i = 0; i < 3; i++) {
        advance_ms(3000);
        CHECK(heartbeat("g", a, NULL, 1, 3) == KAFKA_ERROR_NONE);
    }
    advance_ms(3000);
    /* b said nothing for 12 s > its 10 s session: gone, and the group rebalances. */
    struct group_summary s;
    REQUIRE(summary_of("g", &s));
    CHECK(s.members == 1 && strcmp(s.state, "PreparingRebalance") == 0);
    CHECK(heartbeat("g", b, NULL, 1, 3) == KAFKA_ERROR_UNKNOWN_MEMBER_ID);
    CHECK(heartbeat("g", a, NULL, 1, 3) == KAFKA_ERROR_REBALANCE_IN_PROGRESS);
    u64 ja = join((struct join_args){.group = "g", .member = a, .client = "ca", .version = 3});
    CHECK(last_outcome == GROUP_ANSWERED && join_generation(ja) == 2);
    world_free();
}

TEST(rebalance_timeout_removes_member_that_did_not_rejoin)
{
    world_new();
    char a[64], b[64];
    stable_pair("g", a, b);
    /* The leader rejoining starts a rebalance; b heartbeats but never rejoins. */
    u64 ja = join((struct join_args){.group = "g", .member = a, .client = "ca", .version = 3});
    CHECK(last_outcome == GROUP_PARKED);
    for (u32 t = 0; t < REBALANCE_MS / 5000 - 1; t++) {
        advance_ms(5000);
        CHECK(heartbeat("g", b, NULL, 1, 3) == KAFKA_ERROR_REBALANCE_IN_PROGRESS);
    }
    CHECK(!answered(ja));
    advance_ms(5000);
    REQUIRE(answered(ja));
    CHECK(join_generation(ja) == 2);
    const union kafka_response *r = got(ja);
    CHECK(r->JoinGroup.Members.count == 1 && string_is(r->JoinGroup.Leader, a));
    CHECK(heartbeat("g", b, NULL, 1, 3) == KAFKA_ERROR_UNKNOWN_MEMBER_ID);
    world_free();
}

TEST(leader_that_does_not_rejoin_is_replaced)
{
    world_new();
    char a[64], b[64];
    stable_pair("g", a, b);
    /* A follower rejoining unchanged is just told the generation again... */
    u64 same = join((struct join_args){.group = "g", .member = b, .client = "cb", .version = 3});
    CHECK(last_outcome == GROUP_ANSWERED && join_generation(same) == 1);
    /* ... a changed subscription starts a rebalance, which the silent leader misses. */
    u64 jb = join((struct join_args){.group = "g", .member = b, .client = "cb", .version = 3,
                                     .topic = "t2"});
    CHECK(last_outcome == GROUP_PARKED);
    advance_ms(REBALANCE_MS);
    REQUIRE(answered(jb));
    const union kafka_response *r = got(jb);
    CHECK(r->JoinGroup.GenerationId == 2 && string_is(r->JoinGroup.Leader, b));
    CHECK(r->JoinGroup.Members.count == 1);
    world_free();
}

TEST(member_id_required_and_old_versions)
{
    world_new();
    u64 t = join((struct join_args){.group = "g", .client = "cl", .version = 4});
    CHECK(join_error_of(t) == KAFKA_ERROR_MEMBER_ID_REQUIRED);
    char id[64];
    join_member_id(t, id, sizeof(id));
    CHECK(strcmp(id, "cl-1-5-1") == 0);
    /* The pending id is held until its session timeout. */
    advance_ms(SESSION_MS);
    u64 late = join((struct join_args){.group = "g", .member = id, .client = "cl", .version = 4});
    CHECK(join_error_of(late) == KAFKA_ERROR_UNKNOWN_MEMBER_ID);
    /* v2/v3 join without an id at once; JoinGroup with a made-up id to a new group fails. */
    u64 v3 = join((struct join_args){.group = "g", .client = "cl", .version = 3});
    CHECK(last_outcome == GROUP_PARKED);
    u64 made_up = join((struct join_args){.group = "other", .member = "x", .version = 3});
    CHECK(join_error_of(made_up) == KAFKA_ERROR_UNKNOWN_MEMBER_ID);
    advance_ms(DELAY_MS);
    CHECK(join_generation(v3) == 1);
    world_free();
}

TEST(initial_delay_extends_per_new_member)
{
    world_new();
    u64 ja = join((struct join_args){.group = "g", .client = "ca", .version = 3});
    advance_ms(2000);
    u64 jb = join((struct join_args){.group = "g", .client = "cb", .version = 3});
    advance_ms(1000); /* The first delay ends; a member arrived: one more delay. */
    CHECK(!answered(ja) && !answered(jb));
    advance_ms(DELAY_MS);
    CHECK(join_generation(ja) == 1 && join_generation(jb) == 1);
    world_free();
}

TEST(static_member_rejoins_without_rebalance)
{
    world_new();
    u64 j1 = join((struct join_args){.group = "s", .instance = "i1", .client = "c1"});
    CHECK(last_outcome == GROUP_PARKED); /* Static members skip MEMBER_ID_REQUIRED. */
    u64 j2 = join((struct join_args){.group = "s", .instance = "i2", .client = "c2"});
    advance_ms(2 * DELAY_MS); /* The delay is extended once for the second. */
    char m1[64], m2[64];
    join_member_id(j1, m1, sizeof(m1));
    join_member_id(j2, m2, sizeof(m2));
    CHECK(strncmp(m1, "i1-1-5-", 7) == 0);
    const char *ids[2] = {m1, m2};
    const char *parts[2] = {"p1", "p2"};
    (void)sync("s", m2, 1, 3, NULL, NULL, 0);
    (void)sync("s", m1, 1, 3, ids, parts, 2);
    persists_complete(KAFKA_ERROR_NONE);
    REQUIRE(strcmp(state_of("s"), "Stable") == 0);
    /* i2 restarts: unknown member id, same instance and protocols. */
    u64 again = join((struct join_args){.group = "s", .instance = "i2", .client = "c2"});
    CHECK(last_outcome == GROUP_PARKED);
    CHECK(persists_outstanding() == 1); /* The new id goes to the log first. */
    persists_complete(KAFKA_ERROR_NONE);
    REQUIRE(answered(again));
    char fresh[64];
    join_member_id(again, fresh, sizeof(fresh));
    CHECK(strcmp(fresh, m2) != 0 && join_generation(again) == 1);
    CHECK(strcmp(state_of("s"), "Stable") == 0);
    /* The old id is fenced everywhere. */
    CHECK(heartbeat("s", m2, "i2", 1, 3) == KAFKA_ERROR_FENCED_INSTANCE_ID);
    CHECK(commit_error_of(commit("s", m2, "i2", 1, 7, "t", 0, 5, NULL)) ==
          KAFKA_ERROR_FENCED_INSTANCE_ID);
    u64 old_join = join((struct join_args){.group = "s", .member = m2, .instance = "i2"});
    CHECK(join_error_of(old_join) == KAFKA_ERROR_FENCED_INSTANCE_ID);
    CHECK(heartbeat("s", fresh, "i2", 1, 3) == KAFKA_ERROR_NONE);
    u64 s2 = sync("s", fresh, 1, 3, NULL, NULL, 0);
    CHECK(sync_assignment_is(s2, "p2")); /* It keeps its assignment. */
    /* A static member's session ending removes it like any other. */
    advance_ms(SESSION_MS - 1000);
    CHECK(heartbeat("s", fresh, "i2", 1, 3) == KAFKA_ERROR_NONE);
    advance_ms(2000);
    struct group_summary summary;
    CHECK(summary_of("s", &summary) && summary.members == 1);
    CHECK(strcmp(summary.state, "PreparingRebalance") == 0);
    world_free();
}

TEST(static_member_parked_join_is_fenced)
{
    world_new();
    u64 j1 = join((struct join_args){.group = "s", .instance = "i1", .client = "c1"});
    /* The same instance joins again before the first is answered: the first is fenced. */
    u64 j2 = join((struct join_args){.group = "s", .instance = "i1", .client = "c1"});
    CHECK(join_error_of(j1) == KAFKA_ERROR_FENCED_INSTANCE_ID);
    advance_ms(DELAY_MS);
    CHECK(join_generation(j2) == 1);
    world_free();
}

TEST(zombie_commits_are_fenced)
{
    world_new();
    char a[64], b[64];
    stable_pair("g", a, b);
    u64 ok = commit("g", a, NULL, 1, 8, "t", 0, 10, "");
    persists_complete(KAFKA_ERROR_NONE);
    CHECK(commit_error_of(ok) == KAFKA_ERROR_NONE);
    /* b stalls (a long GC pause): its session ends and the group moves on without it. */
    for (u32 i = 0; i < 4; i++) {
        advance_ms(3000);
        (void)heartbeat("g", a, NULL, 1, 3);
    }
    u64 ja = join((struct join_args){.group = "g", .member = a, .client = "ca", .version = 3});
    CHECK(join_generation(ja) == 2);
    /* The zombie's commits are refused: it is no longer a member... */
    CHECK(commit_error_of(commit("g", b, NULL, 1, 8, "t", 1, 99, NULL)) ==
          KAFKA_ERROR_UNKNOWN_MEMBER_ID);
    /* ... and a member of an older generation is refused too; the current one must wait
     * for the generation's assignment. */
    CHECK(commit_error_of(commit("g", a, NULL, 1, 8, "t", 1, 99, NULL)) ==
          KAFKA_ERROR_ILLEGAL_GENERATION);
    CHECK(commit_error_of(commit("g", a, NULL, 2, 8, "t", 1, 99, NULL)) ==
          KAFKA_ERROR_REBALANCE_IN_PROGRESS);
    const char *ids[1] = {a};
    const char *parts[1] = {"all"};
    (void)sync("g", a, 2, 3, ids, parts, 1);
    persists_complete(KAFKA_ERROR_NONE);
    CHECK(commit_error_of(commit("g", a, NULL, 1, 8, "t", 1, 99, NULL)) ==
          KAFKA_ERROR_ILLEGAL_GENERATION);
    CHECK(commit_error_of(commit("g", a, NULL, 2, 8, "t", 1, 99, NULL)) == -999); /* Parked. */
    persists_complete(KAFKA_ERROR_NONE);
    /* A standalone commit into a group with members is refused. */
    CHECK(commit_error_of(commit("g", "", NULL, -1, 8, "t", 1, 5, NULL)) ==
          KAFKA_ERROR_UNKNOWN_MEMBER_ID);
    /* A generation for a group that does not exist. */
    CHECK(commit_error_of(commit("nope", "m", NULL, 3, 8, "t", 1, 5, NULL)) ==
          KAFKA_ERROR_ILLEGAL_GENERATION);
    CHECK(commit_error_of(commit("nope", "m", NULL, 3, 9, "t", 1, 5, NULL)) ==
          KAFKA_ERROR_GROUP_ID_NOT_FOUND);
    i16 error = 0;
    CHECK(fetch_offset("g", "t", 1, 7, &error) == 99 && error == KAFKA_ERROR_NONE);
    world_free();
}

/* ======================================================================== */
/* Offsets                                                                  */
/* ======================================================================== */

TEST(offset_commit_persisted_then_fetched)
{
    world_new();
    i16 error = 0;
    CHECK(fetch_offset("solo", "t", 0, 7, &error) == -1 && error == KAFKA_ERROR_NONE);
    CHECK(fetch_offset("solo", "t", 0, 1, &error) == -1 && error == KAFKA_ERROR_NONE);
    /* A standalone commit (generation -1, no member) into a group that does not exist. */
    u64 c1 = commit("solo", "", NULL, -1, 2, "t", 0, 42, "meta");
    CHECK(last_outcome == GROUP_PARKED);
    CHECK(fetch_offset("solo", "t", 0, 7, &error) == -1); /* Not committed yet. */
    persists_complete(KAFKA_ERROR_NONE);
    CHECK(commit_error_of(c1) == KAFKA_ERROR_NONE);
    CHECK(fetch_offset("solo", "t", 0, 7, &error) == 42 && error == KAFKA_ERROR_NONE);
    CHECK(fetch_offset("solo", "t", 0, 1, &error) == 42);
    CHECK(fetch_offset("solo", "t", 1, 5, &error) == -1);
    u64 c2 = commit("solo", "", NULL, -1, 9, "u", 3, 7, NULL);
    persists_complete(KAFKA_ERROR_NONE);
    CHECK(commit_error_of(c2) == KAFKA_ERROR_NONE);
    /* Null topics: everything, by topic. */
    union kafka_request r;
    kafka_offset_fetch_request_init(&r.OffsetFetch);
    r.OffsetFetch.GroupId = S("solo");
    r.OffsetFetch.Topics.count = -1;
    u64 all = call(KAFKA_API_OFFSET_FETCH, 7, &r, "c");
    const union kafka_response *f = got(all);
    REQUIRE(f != NULL && f->OffsetFetch.Topics.count == 2);
    CHECK(string_is(f->OffsetFetch.Topics.items[0].Name, "t"));
    CHECK(f->OffsetFetch.Topics.items[0].Partitions.items[0].CommittedOffset == 42);
    CHECK(string_is(f->OffsetFetch.Topics.items[0].Partitions.items[0].Metadata, "meta"));
    CHECK(f->OffsetFetch.Topics.items[1].Partitions.items[0].CommittedLeaderEpoch == 7);
    /* Metadata over offset.metadata.max.bytes: that partition only. */
    char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    u64 too_big = commit("solo", "", NULL, -1, 8, "t", 0, 1, big);
    CHECK(last_outcome == GROUP_ANSWERED);
    CHECK(commit_error_of(too_big) == KAFKA_ERROR_OFFSET_METADATA_TOO_LARGE);
    world_free();
}

TEST(persist_failures_are_mapped)
{
    static const i16 cases[][2] = {
        {KAFKA_ERROR_NOT_ENOUGH_REPLICAS, KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE},
        {KAFKA_ERROR_REQUEST_TIMED_OUT, KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE},
        {KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER, KAFKA_ERROR_NOT_COORDINATOR},
        {KAFKA_ERROR_KAFKA_STORAGE_ERROR, KAFKA_ERROR_NOT_COORDINATOR},
        {KAFKA_ERROR_MESSAGE_TOO_LARGE, KAFKA_ERROR_UNKNOWN_SERVER_ERROR},
        {KAFKA_ERROR_RECORD_LIST_TOO_LARGE, KAFKA_ERROR_UNKNOWN_SERVER_ERROR},
    };
    for (u32 i = 0; i < ARRAY_LEN(cases); i++) {
        world_new();
        u64 t = commit("solo", "", NULL, -1, 8, "t", 0, 42, NULL);
        persists_complete(cases[i][0]);
        CHECK(commit_error_of(t) == cases[i][1]);
        i16 error = 0;
        CHECK(fetch_offset("solo", "t", 0, 7, &error) == -1); /* Never applied. */
        world_free();
    }
    /* A persist that cannot start fails at once, answered in the same call. */
    world_new();
    W.refuse_persists = true;
    u64 t = commit("solo", "", NULL, -1, 8, "t", 0, 42, NULL);
    CHECK(last_outcome == GROUP_ANSWERED);
    CHECK(commit_error_of(t) == KAFKA_ERROR_NOT_COORDINATOR);
    W.refuse_persists = false;
    /* The leader's assignment failing: every member told, and the group rebalances. */
    u64 ja = join((struct join_args){.group = "g", .client = "ca", .version = 3});
    u64 jb = join((struct join_args){.group = "g", .client = "cb", .version = 3});
    advance_ms(2 * DELAY_MS); /* The delay is extended once for the second. */
    char a[64], b[64];
    join_member_id(ja, a, sizeof(a));
    join_member_id(jb, b, sizeof(b));
    u64 sb = sync("g", b, 1, 3, NULL, NULL, 0);
    u64 sa = sync("g", a, 1, 3, NULL, NULL, 0);
    persists_complete(KAFKA_ERROR_NOT_ENOUGH_REPLICAS);
    CHECK(sync_error_of(sa) == KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE);
    CHECK(sync_error_of(sb) == KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE);
    CHECK(strcmp(state_of("g"), "PreparingRebalance") == 0);
    world_free();
}

/* Every batch persisted successfully so far, replayed into a fresh coordinator. */
static struct group_coordinator *reload(void)
{
    struct group_coordinator *fresh = coordinator_new();
    for (u32 p = 0; p < PARTITIONS; p++) {
        group_load_begin(fresh, p, 6);
        for (u32 i = 0; i < W.persist_count; i++) {
            const struct recorded_persist *r = &W.persists[i];
            if (r->partition != p || !r->done || r->error != KAFKA_ERROR_NONE) continue;
            group_load_batch(fresh, p, r->batch, r->size);
        }
        CHECK(group_partition_state(fresh, p) == GROUP_PARTITION_LOADING);
        group_load_end(fresh, p, W.now);
    }
    group_coordinator_invariants(fresh);
    CHECK(group_coordinator_records_skipped(fresh) == 0);
    return fresh;
}

TEST(load_round_trip)
{
    world_new();
    char a[64], b[64];
    stable_pair("g", a, b);
    (void)commit("g", a, NULL, 1, 8, "t", 0, 100, "x");
    (void)commit("g", b, NULL, 1, 5, "t", 1, 200, NULL);
    (void)commit("solo", "", NULL, -1, 8, "u", 0, 7, NULL);
    persists_complete(KAFKA_ERROR_NONE);
    struct group_coordinator *old = W.c;
    W.c = reload();
    struct group_summary s;
    REQUIRE(summary_of("g", &s));
    CHECK(strcmp(s.state, "Stable") == 0 && s.generation == 1 && s.members == 2);
    CHECK(s.offsets == 2);
    i16 error = 0;
    CHECK(fetch_offset("g", "t", 0, 7, &error) == 100);
    CHECK(fetch_offset("g", "t", 1, 7, &error) == 200);
    CHECK(fetch_offset("solo", "u", 0, 7, &error) == 7);
    /* The members are back, with their assignments, and may carry on. */
    CHECK(heartbeat("g", a, NULL, 1, 3) == KAFKA_ERROR_NONE);
    u64 sb = sync("g", b, 1, 3, NULL, NULL, 0);
    CHECK(sync_assignment_is(sb, "part-b"));
    union kafka_request r;
    kafka_describe_groups_request_init(&r.DescribeGroups);
    struct proto_string ids[1] = {S("g")};
    r.DescribeGroups.Groups.items = ids;
    r.DescribeGroups.Groups.count = 1;
    const union kafka_response *d = got(call(KAFKA_API_DESCRIBE_GROUPS, 5, &r, "c"));
    REQUIRE(d != NULL && d->DescribeGroups.Groups.count == 1);
    const struct kafka_describe_groups_response_described_group *dg =
        &d->DescribeGroups.Groups.items[0];
    CHECK(string_is(dg->GroupState, "Stable") && string_is(dg->ProtocolData, "range"));
    REQUIRE(dg->Members.count == 2);
    CHECK(string_is(dg->Members.items[0].MemberId, a));
    CHECK(string_is(dg->Members.items[0].ClientId, "ca"));
    CHECK(dg->Members.items[0].MemberAssignment.size == 6);
    /* A member that is silent after the load leaves after its session timeout. */
    advance_ms(SESSION_MS / 2);
    CHECK(heartbeat("g", a, NULL, 1, 3) == KAFKA_ERROR_NONE);
    advance_ms(SESSION_MS / 2 + 1);
    CHECK(summary_of("g", &s) && s.members == 1);
    CHECK(strcmp(s.state, "PreparingRebalance") == 0);
    /* New member ids of the new coordinator carry the new epoch: never an old one. */
    u64 t = join((struct join_args){.group = "h", .client = "ca"});
    char id[64];
    join_member_id(t, id, sizeof(id));
    CHECK(strcmp(id, "ca-1-6-1") == 0);
    group_coordinator_destroy(old);
    world_free();
}

TEST(unload_answers_not_coordinator)
{
    world_new();
    u64 ja = join((struct join_args){.group = "g", .client = "ca", .version = 3});
    u64 pending_commit = commit("g2", "", NULL, -1, 8, "t", 0, 1, NULL);
    u32 p = group_partition_of("g", 1, PARTITIONS);
    u32 p2 = group_partition_of("g2", 2, PARTITIONS);
    group_unload(W.c, p);
    group_coordinator_invariants(W.c);
    CHECK(join_error_of(ja) == KAFKA_ERROR_NOT_COORDINATOR);
    if (p2 == p) {
        CHECK(commit_error_of(pending_commit) == KAFKA_ERROR_NOT_COORDINATOR);
    } else {
        group_unload(W.c, p2);
        CHECK(commit_error_of(pending_commit) == KAFKA_ERROR_NOT_COORDINATOR);
    }
    persists_complete(KAFKA_ERROR_NONE); /* Ignored: answered already. */
    CHECK(group_partition_state(W.c, p) == GROUP_PARTITION_NONE);
    u64 again = join((struct join_args){.group = "g", .client = "ca", .version = 3});
    CHECK(join_error_of(again) == KAFKA_ERROR_NOT_COORDINATOR);
    group_load_begin(W.c, p, 9);
    u64 loading = join((struct join_args){.group = "g", .client = "ca", .version = 3});
    CHECK(join_error_of(loading) == KAFKA_ERROR_COORDINATOR_LOAD_IN_PROGRESS);
    CHECK(heartbeat("g", "m", NULL, 1, 3) == KAFKA_ERROR_NONE); /* Kafka: blindly. */
    group_load_end(W.c, p, W.now);
    group_coordinator_invariants(W.c);
    world_free();
}

TEST(cancelled_tokens_are_not_answered)
{
    world_new();
    u64 ja = join((struct join_args){.group = "g", .client = "ca", .version = 3});
    u64 jb = join((struct join_args){.group = "g", .client = "cb", .version = 3});
    group_coordinator_cancel(W.c, ja);
    group_coordinator_invariants(W.c);
    advance_ms(2 * DELAY_MS); /* The delay is extended once for the second. */
    CHECK(!answered(ja) && join_generation(jb) == 1);
    struct group_summary s;
    CHECK(summary_of("g", &s) && s.members == 2); /* It stays until its session ends. */
    char b[64];
    join_member_id(jb, b, sizeof(b));
    advance_ms(SESSION_MS / 2);
    CHECK(heartbeat("g", b, NULL, 1, 3) == KAFKA_ERROR_NONE);
    advance_ms(SESSION_MS / 2 + 1);
    CHECK(summary_of("g", &s) && s.members == 1);
    u64 c = commit("x", "", NULL, -1, 8, "t", 0, 1, NULL);
    group_coordinator_cancel(W.c, c);
    persists_complete(KAFKA_ERROR_NONE);
    CHECK(!answered(c));
    i16 error = 0;
    CHECK(fetch_offset("x", "t", 0, 7, &error) == 1); /* Committed all the same. */
    world_free();
}

/* ======================================================================== */
/* Describe, List, Leave, Delete, OffsetDelete, retention, limits            */
/* ======================================================================== */

static u64 list(i16 version, const char *state, const char *type)
{
    struct proto_string states[1] = {S(state != NULL ? state : "")};
    struct proto_string types[1] = {S(type != NULL ? type : "")};
    union kafka_request r;
    kafka_list_groups_request_init(&r.ListGroups);
    if (state != NULL) {
        r.ListGroups.StatesFilter.items = states;
        r.ListGroups.StatesFilter.count = 1;
    }
    if (type != NULL) {
        r.ListGroups.TypesFilter.items = types;
        r.ListGroups.TypesFilter.count = 1;
    }
    return call(KAFKA_API_LIST_GROUPS, version, &r, "c");
}

static i32 listed_count(u64 token)
{
    const union kafka_response *r = got(token);
    return r == NULL ? -1 : r->ListGroups.Groups.count;
}

static i16 delete_group(const char *group, i16 version, bool *parked)
{
    struct proto_string names[1] = {S(group)};
    union kafka_request r;
    kafka_delete_groups_request_init(&r.DeleteGroups);
    r.DeleteGroups.GroupsNames.items = names;
    r.DeleteGroups.GroupsNames.count = 1;
    u64 token = call(KAFKA_API_DELETE_GROUPS, version, &r, "c");
    *parked = last_outcome == GROUP_PARKED;
    persists_complete(KAFKA_ERROR_NONE);
    const union kafka_response *d = got(token);
    if (d == NULL || d->DeleteGroups.Results.count != 1) return -999;
    return d->DeleteGroups.Results.items[0].ErrorCode;
}

TEST(describe_list_leave_delete)
{
    world_new();
    char a[64], b[64];
    stable_pair("g", a, b);
    (void)commit("g", a, NULL, 1, 8, "t", 0, 5, NULL);
    (void)commit("solo", "", NULL, -1, 8, "t", 0, 5, NULL);
    persists_complete(KAFKA_ERROR_NONE);
    CHECK(listed_count(list(0, NULL, NULL)) == 2);
    CHECK(listed_count(list(4, "stable", NULL)) == 1);
    CHECK(listed_count(list(4, "Empty", NULL)) == 1);
    CHECK(listed_count(list(5, NULL, "classic")) == 2);
    CHECK(listed_count(list(5, NULL, "consumer")) == 0);
    const union kafka_response *l = got(list(4, "Stable", NULL));
    REQUIRE(l != NULL && l->ListGroups.Groups.count == 1);
    CHECK(string_is(l->ListGroups.Groups.items[0].GroupId, "g"));
    CHECK(string_is(l->ListGroups.Groups.items[0].ProtocolType, "consumer"));
    /* Describe an unknown group: Dead, no error. */
    union kafka_request r;
    kafka_describe_groups_request_init(&r.DescribeGroups);
    struct proto_string ids[2] = {S("g"), S("unknown")};
    r.DescribeGroups.Groups.items = ids;
    r.DescribeGroups.Groups.count = 2;
    const union kafka_response *d = got(call(KAFKA_API_DESCRIBE_GROUPS, 3, &r, "c"));
    REQUIRE(d != NULL && d->DescribeGroups.Groups.count == 2);
    CHECK(d->DescribeGroups.Groups.items[0].Members.count == 2);
    CHECK(d->DescribeGroups.Groups.items[0].AuthorizedOperations == INT32_MIN);
    CHECK(string_is(d->DescribeGroups.Groups.items[1].GroupState, "Dead"));
    CHECK(d->DescribeGroups.Groups.items[1].ErrorCode == KAFKA_ERROR_NONE);
    bool parked = false;
    CHECK(delete_group("g", 2, &parked) == KAFKA_ERROR_NON_EMPTY_GROUP);
    CHECK(delete_group("unknown", 0, &parked) == KAFKA_ERROR_GROUP_ID_NOT_FOUND);
    /* LeaveGroup v3: a batch, with an unknown member refused on its own. */
    struct kafka_leave_group_request_member_identity who[3];
    for (u32 i = 0; i < 3; i++) kafka_leave_group_request_member_identity_init(&who[i]);
    who[0].MemberId = S(a);
    who[1].MemberId = S("nobody");
    who[2].MemberId = S(b);
    kafka_leave_group_request_init(&r.LeaveGroup);
    r.LeaveGroup.GroupId = S("g");
    r.LeaveGroup.Members.items = who;
    r.LeaveGroup.Members.count = 3;
    const union kafka_response *left = got(call(KAFKA_API_LEAVE_GROUP, 3, &r, "c"));
    REQUIRE(left != NULL && left->LeaveGroup.Members.count == 3);
    CHECK(left->LeaveGroup.Members.items[0].ErrorCode == KAFKA_ERROR_NONE);
    CHECK(left->LeaveGroup.Members.items[1].ErrorCode == KAFKA_ERROR_UNKNOWN_MEMBER_ID);
    CHECK(left->LeaveGroup.Members.items[2].ErrorCode == KAFKA_ERROR_NONE);
    /* Everyone left: the group completes an empty generation (persisted) and is Empty. */
    CHECK(strcmp(state_of("g"), "Empty") == 0);
    struct group_summary s;
    CHECK(summary_of("g", &s) && s.generation == 2);
    persists_complete(KAFKA_ERROR_NONE);
    CHECK(delete_group("g", 2, &parked) == KAFKA_ERROR_NONE && parked);
    CHECK(strcmp(state_of("g"), "absent") == 0);
    i16 error = 0;
    CHECK(fetch_offset("g", "t", 0, 7, &error) == -1);
    /* The tombstones load too: the group stays deleted. */
    struct group_coordinator *old = W.c;
    W.c = reload();
    CHECK(strcmp(state_of("g"), "absent") == 0 && strcmp(state_of("solo"), "Empty") == 0);
    group_coordinator_destroy(old);
    world_free();
}

TEST(leave_group_v0)
{
    world_new();
    char a[64], b[64];
    stable_pair("g", a, b);
    union kafka_request r;
    kafka_leave_group_request_init(&r.LeaveGroup);
    r.LeaveGroup.GroupId = S("g");
    r.LeaveGroup.MemberId = S("nobody");
    const union kafka_response *left = got(call(KAFKA_API_LEAVE_GROUP, 0, &r, "c"));
    CHECK(left != NULL && left->LeaveGroup.ErrorCode == KAFKA_ERROR_UNKNOWN_MEMBER_ID);
    r.LeaveGroup.MemberId = S(b);
    left = got(call(KAFKA_API_LEAVE_GROUP, 1, &r, "c"));
    CHECK(left != NULL && left->LeaveGroup.ErrorCode == KAFKA_ERROR_NONE);
    CHECK(strcmp(state_of("g"), "PreparingRebalance") == 0);
    world_free();
}

TEST(offset_delete)
{
    world_new();
    char a[64], b[64];
    stable_pair("g", a, b); /* Both subscribe to topic "t". */
    (void)commit("g", a, NULL, 1, 8, "t", 0, 5, NULL);
    (void)commit("g", a, NULL, 1, 8, "old", 0, 6, NULL);
    persists_complete(KAFKA_ERROR_NONE);
    struct kafka_offset_delete_request_partition p0 = {0};
    struct kafka_offset_delete_request_topic topics[2];
    topics[0].Name = S("t");
    topics[1].Name = S("old");
    for (u32 i = 0; i < 2; i++) {
        topics[i].Partitions.items = &p0;
        topics[i].Partitions.count = 1;
    }
    union kafka_request r;
    kafka_offset_delete_request_init(&r.OffsetDelete);
    r.OffsetDelete.GroupId = S("g");
    r.OffsetDelete.Topics.items = topics;
    r.OffsetDelete.Topics.count = 2;
    u64 token = call(KAFKA_API_OFFSET_DELETE, 0, &r, "c");
    CHECK(last_outcome == GROUP_PARKED);
    persists_complete(KAFKA_ERROR_NONE);
    const union kafka_response *d = got(token);
    REQUIRE(d != NULL && d->OffsetDelete.ErrorCode == KAFKA_ERROR_NONE);
    REQUIRE(d->OffsetDelete.Topics.count == 2);
    CHECK(d->OffsetDelete.Topics.items[0].Partitions.items[0].ErrorCode ==
          KAFKA_ERROR_GROUP_SUBSCRIBED_TO_TOPIC);
    CHECK(d->OffsetDelete.Topics.items[1].Partitions.items[0].ErrorCode == KAFKA_ERROR_NONE);
    i16 error = 0;
    CHECK(fetch_offset("g", "t", 0, 7, &error) == 5);
    CHECK(fetch_offset("g", "old", 0, 7, &error) == -1);
    r.OffsetDelete.GroupId = S("missing");
    d = got(call(KAFKA_API_OFFSET_DELETE, 0, &r, "c"));
    CHECK(d != NULL && d->OffsetDelete.ErrorCode == KAFKA_ERROR_GROUP_ID_NOT_FOUND);
    world_free();
}

TEST(offsets_retention)
{
    world_new();
    W.config.offsets_retention_ns = 20 * 60 * NS_PER_S;
    group_coordinator_destroy(W.c);
    W.c = coordinator_new();
    load_all(W.c, 5);
    (void)commit("solo", "", NULL, -1, 8, "t", 0, 5, NULL);
    persists_complete(KAFKA_ERROR_NONE);
    u64 retention_ms = W.config.offsets_retention_ns / NS_PER_MS;
    /* Checked every 10 minutes; nothing before the retention passed. */
    advance_ms(retention_ms - 600000);
    CHECK(persists_outstanding() == 0);
    advance_ms(600000);
    CHECK(persists_outstanding() == 1); /* The offset's and the group's tombstones. */
    CHECK(strcmp(state_of("solo"), "Dead") == 0);
    persists_complete(KAFKA_ERROR_NONE);
    CHECK(strcmp(state_of("solo"), "absent") == 0);
    CHECK(group_next_deadline(W.c) == W.now + 600000 * NS_PER_MS);
    /* A group with members keeps the offsets of topics it subscribes to. */
    char a[64], b[64];
    stable_pair("g", a, b);
    (void)commit("g", a, NULL, 1, 8, "t", 0, 5, NULL);
    (void)commit("g", a, NULL, 1, 8, "gone", 0, 5, NULL);
    persists_complete(KAFKA_ERROR_NONE);
    for (u64 t = 0; t < retention_ms + 600000; t += 3000) {
        W.now += 3000 * NS_PER_MS;
        CHECK(heartbeat("g", a, NULL, 1, 3) == KAFKA_ERROR_NONE);
        CHECK(heartbeat("g", b, NULL, 1, 3) == KAFKA_ERROR_NONE);
        if (t % 600000 < 3000) advance_ms(0);
        persists_complete(KAFKA_ERROR_NONE);
    }
    i16 error = 0;
    CHECK(fetch_offset("g", "t", 0, 7, &error) == 5);
    CHECK(fetch_offset("g", "gone", 0, 7, &error) == -1);
    world_free();
}

TEST(limits_and_validation)
{
    world_new();
    W.config.max_size = 2;
    group_coordinator_destroy(W.c);
    W.c = coordinator_new();
    load_all(W.c, 5);
    char a[64], b[64];
    stable_pair("g", a, b);
    u64 third = join((struct join_args){.group = "g", .client = "cc", .version = 3});
    CHECK(join_error_of(third) == KAFKA_ERROR_GROUP_MAX_SIZE_REACHED);
    u64 bad_session = join((struct join_args){.group = "g", .session_ms = 10, .version = 3});
    CHECK(join_error_of(bad_session) == KAFKA_ERROR_INVALID_SESSION_TIMEOUT);
    u64 other_type = join((struct join_args){.group = "g", .member = a, .version = 3,
                                             .protocol_type = "connect"});
    CHECK(join_error_of(other_type) == KAFKA_ERROR_INCONSISTENT_GROUP_PROTOCOL);
    u64 other_protocol = join((struct join_args){.group = "g", .member = a, .version = 3,
                                                 .protocol = "roundrobin"});
    CHECK(join_error_of(other_protocol) == KAFKA_ERROR_INCONSISTENT_GROUP_PROTOCOL);
    char long_id[300];
    memset(long_id, 'g', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = 0;
    u64 long_group = join((struct join_args){.group = long_id, .version = 3});
    CHECK(join_error_of(long_group) == KAFKA_ERROR_INVALID_GROUP_ID);
    u64 empty_group = join((struct join_args){.group = "", .version = 3});
    CHECK(join_error_of(empty_group) == KAFKA_ERROR_INVALID_GROUP_ID);
    /* Too many protocols. */
    struct kafka_join_group_request_protocol protocols[GROUP_PROTOCOLS_MAX + 1];
    char names[GROUP_PROTOCOLS_MAX + 1][8];
    for (u32 i = 0; i <= GROUP_PROTOCOLS_MAX; i++) {
        names[i][0] = 'p';
        names[i][1] = (char)('a' + i);
        names[i][2] = 0;
        protocols[i].Name = S(names[i]);
        protocols[i].Metadata = (struct proto_bytes){(const u8 *)"", 0};
    }
    union kafka_request r;
    kafka_join_group_request_init(&r.JoinGroup);
    r.JoinGroup.GroupId = S("h");
    r.JoinGroup.SessionTimeoutMs = SESSION_MS;
    r.JoinGroup.RebalanceTimeoutMs = REBALANCE_MS;
    r.JoinGroup.ProtocolType = S("consumer");
    r.JoinGroup.Protocols.items = protocols;
    r.JoinGroup.Protocols.count = GROUP_PROTOCOLS_MAX + 1;
    CHECK(join_error_of(call(KAFKA_API_JOIN_GROUP, 3, &r, "c")) ==
          KAFKA_ERROR_INCONSISTENT_GROUP_PROTOCOL);
    /* SyncGroup v5 with another protocol name. */
    union kafka_request s;
    kafka_sync_group_request_init(&s.SyncGroup);
    s.SyncGroup.GroupId = S("g");
    s.SyncGroup.GenerationId = 1;
    s.SyncGroup.MemberId = S(a);
    s.SyncGroup.ProtocolType = S("consumer");
    s.SyncGroup.ProtocolName = S("roundrobin");
    CHECK(sync_error_of(call(KAFKA_API_SYNC_GROUP, 5, &s, "c")) ==
          KAFKA_ERROR_INCONSISTENT_GROUP_PROTOCOL);
    CHECK(heartbeat("nope", a, NULL, 1, 3) == KAFKA_ERROR_UNKNOWN_MEMBER_ID);
    CHECK(heartbeat("", a, NULL, 1, 3) == KAFKA_ERROR_INVALID_GROUP_ID);
    world_free();
}

TEST(protocol_vote)
{
    world_new();
    /* a prefers "sticky" then "range", b and c prefer "range": range wins 2 to 1. */
    const char *preferences[3][2] = {{"sticky", "range"}, {"range", "sticky"},
                                     {"range", "sticky"}};
    u64 tokens[3];
    for (u32 m = 0; m < 3; m++) {
        struct kafka_join_group_request_protocol protocols[2];
        for (u32 i = 0; i < 2; i++) {
            protocols[i].Name = S(preferences[m][i]);
            protocols[i].Metadata = (struct proto_bytes){(const u8 *)"md", 2};
        }
        union kafka_request r;
        kafka_join_group_request_init(&r.JoinGroup);
        r.JoinGroup.GroupId = S("v");
        r.JoinGroup.SessionTimeoutMs = SESSION_MS;
        r.JoinGroup.RebalanceTimeoutMs = REBALANCE_MS;
        r.JoinGroup.MemberId = S("");
        r.JoinGroup.ProtocolType = S("consumer");
        r.JoinGroup.Protocols.items = protocols;
        r.JoinGroup.Protocols.count = 2;
        tokens[m] = call(KAFKA_API_JOIN_GROUP, 2, &r, "c");
    }
    advance_ms(2 * DELAY_MS); /* The delay is extended once for the second. */
    const union kafka_response *j = got(tokens[0]);
    REQUIRE(j != NULL);
    CHECK(string_is(j->JoinGroup.ProtocolName, "range"));
    world_free();
}


TEST(sync_never_sent_removes_member)
{
    world_new();
    u64 ja = join((struct join_args){.group = "g", .client = "ca", .version = 3});
    u64 jb = join((struct join_args){.group = "g", .client = "cb", .version = 3});
    advance_ms(2 * DELAY_MS);
    char a[64], b[64];
    join_member_id(ja, a, sizeof(a));
    join_member_id(jb, b, sizeof(b));
    /* b heartbeats but never sends SyncGroup: after the rebalance timeout it is removed. */
    for (u32 t = 0; t < REBALANCE_MS / 5000 - 1; t++) {
        advance_ms(5000);
        CHECK(heartbeat("g", a, NULL, 1, 3) == KAFKA_ERROR_NONE);
        CHECK(heartbeat("g", b, NULL, 1, 3) == KAFKA_ERROR_NONE);
    }
    u64 sa = sync("g", a, 1, 3, NULL, NULL, 0);
    persists_complete(KAFKA_ERROR_NONE);
    CHECK(sync_error_of(sa) == KAFKA_ERROR_NONE && strcmp(state_of("g"), "Stable") == 0);
    advance_ms(5000);
    struct group_summary s;
    CHECK(summary_of("g", &s) && s.members == 1);
    CHECK(strcmp(s.state, "PreparingRebalance") == 0);
    CHECK(heartbeat("g", b, NULL, 1, 3) == KAFKA_ERROR_UNKNOWN_MEMBER_ID);
    world_free();
}

TEST(unload_answers_parked_and_superseded_sync)
{
    world_new();
    u64 ja = join((struct join_args){.group = "g", .client = "ca", .version = 3});
    u64 jb = join((struct join_args){.group = "g", .client = "cb", .version = 3});
    advance_ms(2 * DELAY_MS);
    char a[64], b[64];
    join_member_id(ja, a, sizeof(a));
    join_member_id(jb, b, sizeof(b));
    u64 sb = sync("g", b, 1, 3, NULL, NULL, 0);
    u64 sb2 = sync("g", b, 1, 3, NULL, NULL, 0); /* Supersedes the first. */
    CHECK(sync_error_of(sb) == KAFKA_ERROR_REBALANCE_IN_PROGRESS && !answered(sb2));
    u64 sa = sync("g", a, 1, 3, NULL, NULL, 0);
    CHECK(persists_outstanding() == 1);
    group_unload(W.c, group_partition_of("g", 1, PARTITIONS));
    group_coordinator_invariants(W.c);
    CHECK(sync_error_of(sa) == KAFKA_ERROR_NOT_COORDINATOR);
    CHECK(sync_error_of(sb2) == KAFKA_ERROR_NOT_COORDINATOR);
    persists_complete(KAFKA_ERROR_NONE); /* Too late: ignored. */
    CHECK(strcmp(state_of("g"), "absent") == 0);
    world_free();
}

TEST(delete_groups_persist_failure)
{
    world_new();
    (void)commit("solo", "", NULL, -1, 8, "t", 0, 5, NULL);
    persists_complete(KAFKA_ERROR_NONE);
    struct proto_string names[2] = {S("solo"), S("nope")};
    union kafka_request r;
    kafka_delete_groups_request_init(&r.DeleteGroups);
    r.DeleteGroups.GroupsNames.items = names;
    r.DeleteGroups.GroupsNames.count = 2;
    u64 token = call(KAFKA_API_DELETE_GROUPS, 1, &r, "c");
    CHECK(last_outcome == GROUP_PARKED);
    CHECK(strcmp(state_of("solo"), "Dead") == 0);
    persists_complete(KAFKA_ERROR_REQUEST_TIMED_OUT);
    const union kafka_response *d = got(token);
    REQUIRE(d != NULL && d->DeleteGroups.Results.count == 2);
    CHECK(d->DeleteGroups.Results.items[0].ErrorCode == KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE);
    CHECK(d->DeleteGroups.Results.items[1].ErrorCode == KAFKA_ERROR_GROUP_ID_NOT_FOUND);
    world_free();
}

static const struct test_case tests[] = {
    {"records_known_bytes", records_known_bytes},
    {"records_roundtrip_every_version", records_roundtrip_every_version},
    {"records_fuzz_1000", records_fuzz_1000},
    {"load_fuzz_batches_1000", load_fuzz_batches_1000},
    {"partition_of_java_hash", partition_of_java_hash},
    {"two_members_join_sync", two_members_join_sync},
    {"third_member_rebalances", third_member_rebalances},
    {"session_timeout_removes_silent_member", session_timeout_removes_silent_member},
    {"rebalance_timeout_removes_member_that_did_not_rejoin",
     rebalance_timeout_removes_member_that_did_not_rejoin},
    {"leader_that_does_not_rejoin_is_replaced", leader_that_does_not_rejoin_is_replaced},
    {"member_id_required_and_old_versions", member_id_required_and_old_versions},
    {"initial_delay_extends_per_new_member", initial_delay_extends_per_new_member},
    {"static_member_rejoins_without_rebalance", static_member_rejoins_without_rebalance},
    {"static_member_parked_join_is_fenced", static_member_parked_join_is_fenced},
    {"zombie_commits_are_fenced", zombie_commits_are_fenced},
    {"offset_commit_persisted_then_fetched", offset_commit_persisted_then_fetched},
    {"persist_failures_are_mapped", persist_failures_are_mapped},
    {"load_round_trip", load_round_trip},
    {"unload_answers_not_coordinator", unload_answers_not_coordinator},
    {"cancelled_tokens_are_not_answered", cancelled_tokens_are_not_answered},
    {"describe_list_leave_delete", describe_list_leave_delete},
    {"leave_group_v0", leave_group_v0},
    {"offset_delete", offset_delete},
    {"offsets_retention", offsets_retention},
    {"limits_and_validation", limits_and_validation},
    {"protocol_vote", protocol_vote},
    {"sync_never_sent_removes_member", sync_never_sent_removes_member},
    {"unload_answers_parked_and_superseded_sync",
     unload_answers_parked_and_superseded_sync},
    {"delete_groups_persist_failure", delete_groups_persist_failure},
};

TEST_MAIN(tests)
