/* test_broker_fetcher.c: the follower's replica fetcher (impl/broker/broker_fetcher.c) over a
 * fake io. Files are tests/unit/log_fake_io.h's in-memory disk; the network is replaced here:
 * io_connect records the endpoint and hands out connection ids, sends are captured frame by
 * frame, held frames are copies that the test can see released, timers are recorded and fired
 * by hand, observations are captured. The test owns the metadata image (broker 2 is the
 * follower, broker 1 leads at epoch 3 unless a test moves it) and plays the leader: it decodes
 * every Fetch the fetcher sends with the generated decoder and answers with an encoded Fetch
 * v12 response built from batches it makes with its own offsets and epochs.
 * Covered: the connection (endpoint from the image, tag, frame limit) and every field of the
 * request; batches appended byte for byte with the leader's offsets and epochs, a partial
 * trailing batch skipped; the frame held until the appends complete; the follower high
 * watermark min(leader's, log end), never backwards; DivergingEpoch cuts (Kafka's three
 * cases), a cut with nothing to cut backs off; OFFSET_OUT_OF_RANGE below the leader's log start
 * starts the log over there (truncate fully), above the leader's end (its high watermark) cuts
 * there or, below the own log start, starts over there; answers for a stale epoch or after
 * becoming leader are ignored; errors back off; reconnect after a close and after a silent
 * leader; a log I/O error takes the partition out; malformed answers close the connection. */
#include "test.h"

#include "log_fake_io.h"

#include "../../impl/broker/broker.h"
#include "../../impl/broker/broker_internal.h"
#include "../../impl/metadata/metadata.h"
#include "../../impl/protocol/errors_generated.h"
#include "../../impl/protocol/header.h"
#include "../../model/history.h"

#define LINK_TIMER 40u
#define FETCHER_TIMER BROKER_TIMER_FETCHER /* The broker's timer base is 0. */
#define FIRST_CONN 50u
#define FRAMES_MAX 2048u
#define OBSERVED_MAX 256u
#define LEADER 1
#define FOLLOWER 2

/* ===== The network, timers and observations ===== */

struct frame {
    io_conn conn;
    u8 *bytes; /* With the size prefix. */
    u32 size;
};

static struct frame frames[FRAMES_MAX];
static u32 frame_count;
static u64 timer_deadline[IO_TIMERS_MAX];
static bool conn_closed[1024];
static bool conn_up[1024];
static io_conn next_conn;
static io_conn last_connect;
static char last_endpoint[128];
static u32 last_frame_limit;
static u32 connects;

struct observed {
    struct io_observation o;
    struct history_replica_batch batch;
};
static struct observed observed[OBSERVED_MAX];
static u32 observed_count;

static enum io_result test_send(void *context, io_conn conn, const u8 *bytes, u32 size)
{
    (void)context;
    ASSERT(frame_count < FRAMES_MAX);
    struct frame *frame = &frames[frame_count++];
    frame->conn = conn;
    frame->bytes = malloc(size);
    ASSERT(frame->bytes != NULL);
    memcpy(frame->bytes, bytes, size);
    frame->size = size;
    return IO_OK;
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

static io_conn test_connect(void *context, const char *endpoint, u64 tag, u32 frame_size_max)
{
    (void)context;
    ASSERT(tag == BROKER_FETCHER_CONN_TAG); /* The controller link is never started here. */
    snprintf(last_endpoint, sizeof(last_endpoint), "%s", endpoint);
    last_frame_limit = frame_size_max;
    last_connect = next_conn++;
    connects++;
    return last_connect;
}

static void test_close(void *context, io_conn conn)
{
    (void)context;
    ASSERT(conn < ARRAY_LEN(conn_closed));
    conn_closed[conn] = true;
}

static void test_observe(void *context, const struct io_observation *o)
{
    (void)context;
    ASSERT(observed_count < OBSERVED_MAX);
    struct observed *entry = &observed[observed_count++];
    memset(entry, 0, sizeof(*entry));
    entry->o = *o;
    entry->o.data = NULL;
    if (o->data_size == sizeof(entry->batch)) memcpy(&entry->batch, o->data, o->data_size);
}

static struct io_vtable test_vtable;

/* ===== The world: one follower broker, its image, its disk ===== */

struct world {
    struct fake_io *fake;
    struct broker *broker;
    struct node_config config;
    struct metadata_image image;
    i64 offset;
    struct metadata_uuid topic_id;
};

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

static void world_register(struct world *world, i32 id, const char *host)
{
    struct metadata_record record = {.type = METADATA_REGISTER_BROKER};
    record.as.register_broker.broker_id = id;
    snprintf(record.as.register_broker.host, METADATA_HOST_MAX, "%s", host);
    record.as.register_broker.port = 9092;
    world_apply(world, &record);
    struct metadata_record unfence = {.type = METADATA_UNFENCE_BROKER};
    unfence.as.unfence_broker.broker_id = id;
    unfence.as.unfence_broker.broker_epoch = world->offset;
    world_apply(world, &unfence);
}

/* Topic "t" of partitions replicated on brokers 1 and 2, led by 1 at leader_epoch. */
static void world_topic(struct world *world, i32 partitions, i32 leader_epoch)
{
    struct metadata_record topic = {.type = METADATA_TOPIC};
    snprintf(topic.as.topic.name, sizeof(topic.as.topic.name), "t");
    memset(world->topic_id.bytes, 0x5a, sizeof(world->topic_id.bytes));
    topic.as.topic.topic_id = world->topic_id;
    world_apply(world, &topic);
    for (i32 p = 0; p < partitions; p++) {
        struct metadata_record record = {.type = METADATA_PARTITION};
        struct metadata_partition_record *partition = &record.as.partition;
        partition->topic_id = world->topic_id;
        partition->partition_id = p;
        partition->replicas.ids[0] = LEADER;
        partition->replicas.ids[1] = FOLLOWER;
        partition->replicas.count = 2;
        partition->isr = partition->replicas;
        partition->leader = LEADER;
        partition->leader_epoch = leader_epoch;
        world_apply(world, &record);
    }
    broker_on_metadata(world->broker);
    world_run(world);
}

/* The controller moves partition p's leadership (the leader epoch goes up by one). */
static void world_elect(struct world *world, i32 partition, i32 leader)
{
    struct metadata_record record = {.type = METADATA_PARTITION_CHANGE};
    struct metadata_partition_change *change = &record.as.partition_change;
    change->topic_id = world->topic_id;
    change->partition_id = partition;
    change->leader = leader;
    world_apply(world, &record);
    broker_on_metadata(world->broker);
    world_run(world);
}

static void world_init(struct world *world, i32 partitions, i32 leader_epoch)
{
    memset(world, 0, sizeof(*world));
    test_vtable = fake_vtable;
    test_vtable.send = test_send;
    test_vtable.timer_set = test_timer_set;
    test_vtable.timer_cancel = test_timer_cancel;
    test_vtable.connect = test_connect;
    test_vtable.close = test_close;
    test_vtable.observe = test_observe;
    world->fake = fake_io_create(11);
    world->fake->io.vtable = &test_vtable;
    config_defaults(&world->config);
    world->config.node_id = FOLLOWER;
    world->config.roles = CONFIG_ROLE_BROKER;
    world->config.voters[0].id = 1;
    snprintf(world->config.voters[0].endpoint, CONFIG_ENDPOINT_MAX, "10.0.0.1:9093");
    world->config.voter_count = 1;
    snprintf(world->config.listeners[0].endpoint, CONFIG_ENDPOINT_MAX, "10.0.0.2:9092");
    /* Not Kafka's defaults, so the request shows they come from the configuration. */
    world->config.replica_fetch_wait_max_ms = 250;
    world->config.replica_fetch_min_bytes = 7;
    world->config.replica_fetch_max_bytes = 300000;
    world->config.replica_fetch_response_max_bytes = 900000;
    world->config.replica_fetch_backoff_ms = 40;
    ASSERT(metadata_image_init(&world->image));
    world->offset = -1;
    world_register(world, LEADER, "10.0.0.1");
    world_register(world, FOLLOWER, "10.0.0.2");
    frame_count = 0;
    observed_count = 0;
    connects = 0;
    next_conn = FIRST_CONN;
    last_connect = 0;
    memset(timer_deadline, 0, sizeof(timer_deadline));
    memset(conn_closed, 0, sizeof(conn_closed));
    memset(conn_up, 0, sizeof(conn_up));
    world->broker = broker_create(&world->config, &world->fake->io, 0);
    ASSERT(world->broker != NULL);
    broker_attach_metadata(world->broker, &world->image, LINK_TIMER);
    broker_start(world->broker);
    broker_on_metadata(world->broker);
    world_run(world);
    world_topic(world, partitions, leader_epoch);
}

static void world_deinit(struct world *world)
{
    broker_destroy(world->broker);
    fake_io_destroy(world->fake);
    metadata_image_free(&world->image);
    fake_held_drop_all(); /* Gone with the process. */
    for (u32 i = 0; i < frame_count; i++) free(frames[i].bytes);
    frame_count = 0;
}

static struct partition_log *world_log(struct world *world, u32 partition)
{
    return &world->broker->topics[0].logs[partition];
}

static struct broker_replica *world_replica(struct world *world, u32 partition)
{
    return &world->broker->topics[0].replicas[partition];
}

/* Fires the fetcher's timer at its deadline (time moves there). */
static void world_fire(struct world *world)
{
    ASSERT(timer_deadline[FETCHER_TIMER] != 0);
    world->fake->now_ns = MAX(world->fake->now_ns, timer_deadline[FETCHER_TIMER]);
    timer_deadline[FETCHER_TIMER] = 0;
    broker_on_timer(world->broker, FETCHER_TIMER);
    world_run(world);
}

static void world_connected(struct world *world, io_conn conn)
{
    ASSERT(broker_fetcher_owns(world->broker, conn));
    conn_up[conn] = true;
    broker_fetcher_on_conn(world->broker, conn, IO_CONN_CONNECTED);
    world_run(world);
}

/* ===== The leader's part ===== */

static u8 request_arena[1u << 20];

struct fetch_seen {
    struct proto_request_header header;
    struct kafka_fetch_request request;
    io_conn conn;
};

/* Decodes the frame sent last; false if there is none or it is not a whole Fetch v12. */
static bool fetch_last(struct fetch_seen *seen)
{
    if (frame_count == 0) return false;
    const struct frame *frame = &frames[frame_count - 1];
    if (frame->size < 4 || load_u32_be(frame->bytes) != frame->size - 4) return false;
    struct proto_reader reader;
    proto_reader_init(&reader, frame->bytes + 4, frame->size - 4);
    struct proto_arena arena;
    proto_arena_init(&arena, request_arena, sizeof(request_arena));
    union kafka_request body;
    if (proto_request_header_decode(&reader, &seen->header) != PROTO_OK) return false;
    if (seen->header.RequestApiKey != KAFKA_API_FETCH) return false;
    if (kafka_request_decode(&reader, KAFKA_API_FETCH, seen->header.RequestApiVersion, &body,
                             &arena) != PROTO_OK ||
        proto_reader_remaining(&reader) != 0) {
        return false;
    }
    seen->request = body.Fetch;
    seen->conn = frame->conn;
    return true;
}

static const struct kafka_fetch_request_partition *fetch_partition(const struct fetch_seen *seen,
                                                                   i32 partition)
{
    for (i32 t = 0; t < seen->request.Topics.count; t++) {
        const struct kafka_fetch_request_topic *topic = &seen->request.Topics.items[t];
        for (i32 i = 0; i < topic->Partitions.count; i++) {
            if (topic->Partitions.items[i].Partition == partition) {
                return &topic->Partitions.items[i];
            }
        }
    }
    return NULL;
}

/* The leader's records: batches appended to one buffer with the leader's offsets and epochs. */
struct records {
    u8 bytes[16384];
    u32 size;
};

static void records_add(struct records *records, i64 base_offset, u32 count, i32 epoch)
{
    struct batch_builder builder;
    batch_builder_init(&builder, records->bytes + records->size,
                       sizeof(records->bytes) - records->size, base_offset, 1000 + base_offset);
    for (u32 i = 0; i < count; i++) {
        char value[32];
        int length = snprintf(value, sizeof(value), "record-%lld", (long long)base_offset + i);
        batch_builder_add(&builder, 1000 + base_offset + i, (const u8 *)"k", 1,
                          (const u8 *)value, length, NULL, 0);
    }
    u64 size = batch_builder_finish(&builder);
    ASSERT(size > 0);
    batch_set_leader_epoch(records->bytes + records->size, epoch);
    records->size += (u32)size;
}

struct answer {
    i32 partition;
    i16 error;
    i64 high_watermark;
    i64 log_start;
    i32 diverging_epoch; /* -1 with diverging_end -1: none. */
    i64 diverging_end;
    const u8 *records;
    u32 records_size;
};

static struct answer answer_of(i32 partition, i64 high_watermark)
{
    return (struct answer){.partition = partition, .high_watermark = high_watermark,
                           .log_start = 0, .diverging_epoch = -1, .diverging_end = -1};
}

/* The leader answers the Fetch it saw with these partitions, on the Fetch's connection. */
static void leader_answers(struct world *world, const struct fetch_seen *seen,
                           const struct answer *answers, u32 count)
{
    struct kafka_fetch_response_partition_data data[8];
    ASSERT(count <= ARRAY_LEN(data));
    for (u32 i = 0; i < count; i++) {
        kafka_fetch_response_partition_data_init(&data[i]);
        data[i].PartitionIndex = answers[i].partition;
        data[i].ErrorCode = answers[i].error;
        data[i].HighWatermark = answers[i].high_watermark;
        data[i].LastStableOffset = answers[i].high_watermark;
        data[i].LogStartOffset = answers[i].log_start;
        data[i].DivergingEpoch.Epoch = answers[i].diverging_epoch;
        data[i].DivergingEpoch.EndOffset = answers[i].diverging_end;
        data[i].Records = answers[i].records_size > 0
                              ? (struct proto_bytes){answers[i].records,
                                                     (i32)answers[i].records_size}
                              : PROTO_BYTES_NULL;
    }
    struct kafka_fetch_response_fetchable_topic topic;
    kafka_fetch_response_fetchable_topic_init(&topic);
    topic.Topic = proto_string_of("t");
    topic.Partitions.items = data;
    topic.Partitions.count = (i32)count;
    union kafka_response body;
    kafka_fetch_response_init(&body.Fetch);
    body.Fetch.Responses.items = &topic;
    body.Fetch.Responses.count = 1;
    static u8 frame[1u << 17];
    struct proto_writer writer;
    proto_writer_init(&writer, frame, sizeof(frame));
    ASSERT(proto_response_frame_encode(&writer, KAFKA_API_FETCH, 12, seen->header.CorrelationId,
                                       &body) == PROTO_OK);
    broker_fetcher_on_frame(world->broker, seen->conn, frame + 4, writer.position - 4);
}

/* The fetcher of a fresh world connected and sent its first Fetch. */
static bool world_first_fetch(struct world *world, struct fetch_seen *seen)
{
    if (connects != 1) return false;
    world_connected(world, last_connect);
    return fetch_last(seen);
}

/* Brings the fetcher back to a Fetch in flight (other than the one answered last): connects,
 * fires backoff timers. */
static bool world_outstanding_fetch(struct world *world, struct fetch_seen *seen, i32 answered)
{
    for (u32 step = 0; step < 8; step++) {
        if (fetch_last(seen) && seen->header.CorrelationId != answered &&
            broker_fetcher_owns(world->broker, seen->conn)) {
            return true;
        }
        if (broker_fetcher_owns(world->broker, last_connect) && !conn_up[last_connect]) {
            world_connected(world, last_connect);
            continue;
        }
        if (timer_deadline[FETCHER_TIMER] == 0) return false;
        world_fire(world);
    }
    return false;
}

static u32 observed_of(u32 kind, u32 from)
{
    u32 count = 0;
    for (u32 i = from; i < observed_count; i++) count += observed[i].o.kind == kind;
    return count;
}

static const struct observed *observed_nth(u32 kind, u32 n)
{
    for (u32 i = 0; i < observed_count; i++) {
        if (observed[i].o.kind != kind) continue;
        if (n-- == 0) return &observed[i];
    }
    return NULL;
}

/* ===== Tests ===== */

TEST(the_fetch_names_every_field_from_config_image_and_log)
{
    struct world world;
    world_init(&world, 2, 3);
    CHECK_EQ_U64(connects, 1);
    CHECK(strcmp(last_endpoint, "10.0.0.1:9092") == 0); /* The leader's client listener. */
    CHECK(last_frame_limit >= BROKER_DATA_SIZE_MAX + 64u * 1024u);
    CHECK(broker_fetcher_owns(world.broker, last_connect));
    CHECK(!broker_fetcher_owns(world.broker, last_connect + 1));
    CHECK_EQ_U64(frame_count, 0); /* Nothing before the connection is up. */
    struct fetch_seen seen;
    REQUIRE(world_first_fetch(&world, &seen));
    CHECK_EQ_U64(frame_count, 1);
    CHECK(seen.conn == last_connect);
    CHECK_EQ_U64(seen.header.RequestApiVersion, 12);
    CHECK(proto_string_equal_cstr(seen.header.ClientId, "cairn-replica-fetcher"));
    const struct kafka_fetch_request *request = &seen.request;
    CHECK_EQ_U64(request->ReplicaId, FOLLOWER);
    CHECK_EQ_U64(request->MaxWaitMs, 250);
    CHECK_EQ_U64(request->MinBytes, 7);
    CHECK_EQ_U64(request->MaxBytes, 900000);
    CHECK_EQ_U64(request->IsolationLevel, 0);
    CHECK_EQ_U64(request->SessionId, 0);
    CHECK(request->SessionEpoch == -1);
    CHECK_EQ_U64(request->ForgottenTopicsData.count, 0);
    REQUIRE(request->Topics.count == 1);
    CHECK(proto_string_equal_cstr(request->Topics.items[0].Topic, "t"));
    REQUIRE(request->Topics.items[0].Partitions.count == 2);
    for (i32 p = 0; p < 2; p++) {
        const struct kafka_fetch_request_partition *partition = fetch_partition(&seen, p);
        REQUIRE(partition != NULL);
        CHECK_EQ_U64(partition->CurrentLeaderEpoch, 3);
        CHECK_EQ_U64(partition->FetchOffset, 0);
        CHECK(partition->LastFetchedEpoch == -1);
        CHECK_EQ_U64(partition->LogStartOffset, 0);
        CHECK_EQ_U64(partition->PartitionMaxBytes, 300000);
    }
    /* One Fetch at a time: another pump sends nothing. */
    broker_fetcher_reconcile(world.broker);
    CHECK_EQ_U64(frame_count, 1);
    world_deinit(&world);
}

TEST(batches_are_appended_with_the_leaders_offsets_and_epochs_while_the_frame_is_held)
{
    struct world world;
    world_init(&world, 1, 3);
    struct fetch_seen seen;
    REQUIRE(world_first_fetch(&world, &seen));
    static struct records records;
    records.size = 0;
    records_add(&records, 0, 3, 2);
    records_add(&records, 3, 2, 3);
    u32 whole = records.size;
    records_add(&records, 5, 4, 3);
    struct answer answer = answer_of(0, 4);
    answer.records = records.bytes;
    answer.records_size = whole + 30; /* The leader's size limit cut the third batch. */
    u32 observed_before = observed_count;
    leader_answers(&world, &seen, &answer, 1);
    CHECK(fake_held[seen.conn] != NULL); /* Held while the appends are in the log's hands. */
    CHECK_EQ_U64(frame_count, 1);        /* No next Fetch before they complete. */
    world_run(&world);
    CHECK(fake_held[seen.conn] == NULL);
    struct partition_log *log = world_log(&world, 0);
    CHECK_EQ_U64(partition_log_end_offset(log), 5);
    CHECK_EQ_U64(partition_log_latest_epoch(log), 3);
    i32 epoch = -1;
    i64 end = -1;
    partition_log_epoch_end_offset(log, 2, &epoch, &end);
    CHECK(epoch == 2 && end == 3);
    /* The segment holds exactly the leader's bytes: offsets and epochs kept. */
    struct fake_file *segment = fake_io_file(world.fake, "t-0/00000000000000000000.log");
    REQUIRE(segment != NULL);
    CHECK_EQ_U64(segment->current.size, whole);
    CHECK(segment->current.size == whole &&
          memcmp(segment->current.bytes, records.bytes, whole) == 0);
    CHECK_EQ_U64(observed_of(HISTORY_REPLICA_APPENDED, observed_before), 2);
    const struct observed *first = observed_nth(HISTORY_REPLICA_APPENDED, 0);
    const struct observed *second = observed_nth(HISTORY_REPLICA_APPENDED, 1);
    REQUIRE(first != NULL && second != NULL);
    CHECK_EQ_U64(first->o.a, history_topic_hash(world.topic_id.bytes));
    CHECK_EQ_U64(first->o.b, 0);
    CHECK(first->o.c == 0 && first->o.d == 2);
    CHECK(second->o.c == 3 && second->o.d == 4);
    CHECK_EQ_U64(first->batch.leader_epoch, 2);
    CHECK_EQ_U64(second->batch.leader_epoch, 3);
    CHECK_EQ_U64(first->batch.record_count, 3);
    CHECK_EQ_U64(first->batch.role, HISTORY_REPLICA_FOLLOWER);
    CHECK_EQ_U64(first->batch.crc, load_u32_be(records.bytes + RECORD_BATCH_CRC_OFFSET));
    /* High watermark = min(leader's 4, log end 5). */
    CHECK_EQ_U64(world_replica(&world, 0)->high_watermark, 4);
    const struct observed *moved = observed_nth(HISTORY_REPLICA_HIGH_WATERMARK, 0);
    REQUIRE(moved != NULL);
    CHECK_EQ_U64(moved->o.c, 4);
    CHECK_EQ_U64(moved->o.d, 3u | (u64)HISTORY_REPLICA_FOLLOWER << 32);
    /* The next Fetch asks from the new log end with the newest epoch. */
    struct fetch_seen next;
    REQUIRE(frame_count == 2 && fetch_last(&next));
    const struct kafka_fetch_request_partition *partition = fetch_partition(&next, 0);
    REQUIRE(partition != NULL);
    CHECK_EQ_U64(partition->FetchOffset, 5);
    CHECK_EQ_U64(partition->LastFetchedEpoch, 3);
    /* The leader's high watermark is past our log end: ours stops at the end. */
    struct answer empty = answer_of(0, 9);
    leader_answers(&world, &next, &empty, 1);
    world_run(&world);
    CHECK_EQ_U64(world_replica(&world, 0)->high_watermark, 5);
    CHECK(fake_held[next.conn] == NULL);
    /* A lower leader high watermark (a leader that restarted) never moves ours back. */
    REQUIRE(frame_count == 3 && fetch_last(&next));
    u32 moves = observed_of(HISTORY_REPLICA_HIGH_WATERMARK, 0);
    struct answer lower = answer_of(0, 2);
    leader_answers(&world, &next, &lower, 1);
    world_run(&world);
    CHECK_EQ_U64(world_replica(&world, 0)->high_watermark, 5);
    CHECK_EQ_U64(observed_of(HISTORY_REPLICA_HIGH_WATERMARK, 0), moves);
    world_deinit(&world);
}

/* Gives partition 0 of a fresh world the leader's batches [0..2 epoch 1][3..4 epoch 2]. */
static bool world_with_two_epochs(struct world *world, struct fetch_seen *next)
{
    struct fetch_seen seen;
    if (!world_first_fetch(world, &seen)) return false;
    static struct records records;
    records.size = 0;
    records_add(&records, 0, 3, 1);
    records_add(&records, 3, 2, 2);
    struct answer answer = answer_of(0, 3);
    answer.records = records.bytes;
    answer.records_size = records.size;
    leader_answers(world, &seen, &answer, 1);
    world_run(world);
    return partition_log_end_offset(world_log(world, 0)) == 5 && fetch_last(next);
}

TEST(diverging_epoch_truncates_then_fetches_again)
{
    struct world world;
    world_init(&world, 1, 2);
    struct fetch_seen next;
    REQUIRE(world_with_two_epochs(&world, &next));
    CHECK_EQ_U64(world_replica(&world, 0)->high_watermark, 3);
    /* The leader's epoch 1 ended at 3 as ours did: cut at 3. */
    struct answer diverging = answer_of(0, 3);
    diverging.diverging_epoch = 1;
    diverging.diverging_end = 3;
    u32 before = observed_count;
    u32 frames_before = frame_count;
    leader_answers(&world, &next, &diverging, 1);
    world_run(&world);
    CHECK_EQ_U64(partition_log_end_offset(world_log(&world, 0)), 3);
    CHECK_EQ_U64(partition_log_latest_epoch(world_log(&world, 0)), 1);
    CHECK_EQ_U64(observed_of(HISTORY_REPLICA_TRUNCATED, before), 1);
    const struct observed *cut = observed_nth(HISTORY_REPLICA_TRUNCATED, 0);
    REQUIRE(cut != NULL);
    CHECK(cut->o.c == 3 && cut->o.d == 3);
    CHECK(fake_held[next.conn] == NULL);
    REQUIRE(frame_count == frames_before + 1 && fetch_last(&next));
    const struct kafka_fetch_request_partition *partition = fetch_partition(&next, 0);
    REQUIRE(partition != NULL);
    CHECK_EQ_U64(partition->FetchOffset, 3);
    CHECK_EQ_U64(partition->LastFetchedEpoch, 1);
    /* The leader ended epoch 1 at 2 (its log differs inside it): cut at 2. */
    diverging.diverging_end = 2;
    leader_answers(&world, &next, &diverging, 1);
    world_run(&world);
    CHECK_EQ_U64(partition_log_end_offset(world_log(&world, 0)), 0); /* The batch holding 2. */
    /* The high watermark follows the cut down (Kafka's log bounds it by the log end). */
    CHECK_EQ_U64(world_replica(&world, 0)->high_watermark, 0);
    const struct observed *second = observed_nth(HISTORY_REPLICA_TRUNCATED, 1);
    REQUIRE(second != NULL);
    CHECK(second->o.c == 0 && second->o.d == 3);
    world_deinit(&world);
}

TEST(diverging_epoch_cases_kafkas_rule)
{
    /* The leader knows no epoch 1: its largest <= 1 is 0, which we do not have: everything we
     * hold is above it, so the log is cut to its first epoch's start. */
    struct world world;
    world_init(&world, 1, 2);
    struct fetch_seen next;
    REQUIRE(world_with_two_epochs(&world, &next));
    struct answer diverging = answer_of(0, 3);
    diverging.diverging_epoch = 0;
    diverging.diverging_end = 4;
    leader_answers(&world, &next, &diverging, 1);
    world_run(&world);
    CHECK_EQ_U64(partition_log_end_offset(world_log(&world, 0)), 0);
    world_deinit(&world);

    /* An intermediate cut: our epochs are 1 (from 0) and 3 (from 3); the leader names its
     * epoch 2, which we never had: we cut where our epoch 1 ends (3) and ask again with
     * LastFetchedEpoch 1. */
    world_init(&world, 1, 4);
    struct fetch_seen seen;
    REQUIRE(world_first_fetch(&world, &seen));
    static struct records records;
    records.size = 0;
    records_add(&records, 0, 3, 1);
    records_add(&records, 3, 2, 3);
    struct answer answer = answer_of(0, 0);
    answer.records = records.bytes;
    answer.records_size = records.size;
    leader_answers(&world, &seen, &answer, 1);
    world_run(&world);
    REQUIRE(partition_log_end_offset(world_log(&world, 0)) == 5 && fetch_last(&next));
    diverging = answer_of(0, 0);
    diverging.diverging_epoch = 2; /* We never had epoch 2: our largest below is 1, ends at 3. */
    diverging.diverging_end = 5;
    leader_answers(&world, &next, &diverging, 1);
    world_run(&world);
    CHECK_EQ_U64(partition_log_end_offset(world_log(&world, 0)), 3);
    REQUIRE(fetch_last(&next));
    CHECK_EQ_U64(fetch_partition(&next, 0)->LastFetchedEpoch, 1);
    CHECK_EQ_U64(fetch_partition(&next, 0)->FetchOffset, 3);
    /* A divergence that would cut nothing backs off instead of asking again at once. */
    diverging.diverging_epoch = 1;
    diverging.diverging_end = 7;
    u32 frames_before = frame_count;
    leader_answers(&world, &next, &diverging, 1);
    world_run(&world);
    CHECK_EQ_U64(partition_log_end_offset(world_log(&world, 0)), 3);
    CHECK_EQ_U64(frame_count, frames_before);
    CHECK(timer_deadline[FETCHER_TIMER] == world.fake->now_ns + 40 * NS_PER_MS);
    world_fire(&world);
    CHECK_EQ_U64(frame_count, frames_before + 1);
    world_deinit(&world);
}

TEST(answers_for_a_stale_epoch_or_after_becoming_leader_are_ignored)
{
    struct world world;
    world_init(&world, 1, 3);
    struct fetch_seen seen;
    REQUIRE(world_first_fetch(&world, &seen));
    /* The controller re-elects broker 1 (epoch 4) while the Fetch is out. */
    world_elect(&world, 0, LEADER);
    CHECK_EQ_U64(world_replica(&world, 0)->leader_epoch, 4);
    static struct records records;
    records.size = 0;
    records_add(&records, 0, 2, 3);
    struct answer answer = answer_of(0, 2);
    answer.records = records.bytes;
    answer.records_size = records.size;
    u32 before = observed_count;
    leader_answers(&world, &seen, &answer, 1);
    world_run(&world);
    CHECK_EQ_U64(partition_log_end_offset(world_log(&world, 0)), 0);
    CHECK_EQ_U64(observed_of(HISTORY_REPLICA_APPENDED, before), 0);
    CHECK(world_replica(&world, 0)->high_watermark <= 0); /* Not the stale answer's 2. */
    CHECK(fake_held[seen.conn] == NULL);
    struct fetch_seen next;
    REQUIRE(fetch_last(&next));
    CHECK_EQ_U64(fetch_partition(&next, 0)->CurrentLeaderEpoch, 4);
    /* Now this broker becomes the leader: the answer in flight is ignored and the fetcher
     * connection goes (the leader it served leads nothing we follow). A broker leads a
     * replicated partition only once the image shows its own registration (R1's rule for a
     * restarted broker, broker_replication.h): applied here first. */
    struct metadata_record self = {.type = METADATA_REGISTER_BROKER};
    self.as.register_broker.broker_id = FOLLOWER;
    memcpy(self.as.register_broker.incarnation_id.bytes, world.broker->link.incarnation.bytes,
           16);
    snprintf(self.as.register_broker.host, METADATA_HOST_MAX, "10.0.0.2");
    self.as.register_broker.port = 9092;
    world_apply(&world, &self);
    struct metadata_record unfence = {.type = METADATA_UNFENCE_BROKER};
    unfence.as.unfence_broker.broker_id = FOLLOWER;
    unfence.as.unfence_broker.broker_epoch = world.offset;
    world_apply(&world, &unfence);
    world_elect(&world, 0, FOLLOWER);
    CHECK(world_replica(&world, 0)->role == BROKER_REPLICA_LEADER);
    CHECK(conn_closed[next.conn]);
    CHECK(!broker_fetcher_owns(world.broker, next.conn));
    CHECK(timer_deadline[FETCHER_TIMER] == 0);
    CHECK_EQ_U64(partition_log_end_offset(world_log(&world, 0)), 0);
    world_deinit(&world);
}

TEST(errors_back_off_for_replica_fetch_backoff_ms)
{
    static const i16 errors[] = {KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER,
                                 KAFKA_ERROR_FENCED_LEADER_EPOCH,
                                 KAFKA_ERROR_UNKNOWN_LEADER_EPOCH,
                                 KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION};
    for (u32 e = 0; e < ARRAY_LEN(errors); e++) {
        struct world world;
        world_init(&world, 2, 3);
        struct fetch_seen seen;
        REQUIRE(world_first_fetch(&world, &seen));
        /* Partition 1 fails, partition 0 goes on alone. */
        struct answer answers[2] = {answer_of(0, 0), answer_of(1, -1)};
        answers[1].error = errors[e];
        u64 now = world.fake->now_ns;
        leader_answers(&world, &seen, answers, 2);
        world_run(&world);
        struct fetch_seen next;
        REQUIRE(frame_count == 2 && fetch_last(&next));
        CHECK(fetch_partition(&next, 0) != NULL);
        CHECK(fetch_partition(&next, 1) == NULL);
        CHECK(world_replica(&world, 1)->retry_ns == now + 40 * NS_PER_MS);
        /* Both fail now (partition 0 a little later): nothing is fetched until partition 1's
         * backoff ends. */
        world.fake->now_ns += 5 * NS_PER_MS;
        answers[0].error = errors[e];
        struct answer only = answers[0];
        leader_answers(&world, &next, &only, 1);
        world_run(&world);
        CHECK_EQ_U64(frame_count, 2);
        CHECK(timer_deadline[FETCHER_TIMER] == now + 40 * NS_PER_MS);
        world_fire(&world);
        REQUIRE(frame_count == 3 && fetch_last(&next));
        CHECK(fetch_partition(&next, 1) != NULL);
        CHECK(fetch_partition(&next, 0) == NULL); /* Its own backoff started later. */
        world_deinit(&world);
    }
}

TEST(reconnects_after_a_close_and_after_a_silent_leader)
{
    struct world world;
    world_init(&world, 1, 3);
    struct fetch_seen seen;
    REQUIRE(world_first_fetch(&world, &seen));
    u64 now = world.fake->now_ns;
    broker_fetcher_on_conn(world.broker, seen.conn, IO_CONN_CLOSED);
    CHECK(!broker_fetcher_owns(world.broker, seen.conn));
    CHECK(timer_deadline[FETCHER_TIMER] == now + 40 * NS_PER_MS);
    CHECK_EQ_U64(connects, 1);
    world_fire(&world);
    CHECK_EQ_U64(connects, 2);
    CHECK(last_connect != seen.conn);
    /* Refused: again after the backoff. */
    io_conn refused = last_connect;
    broker_fetcher_on_conn(world.broker, refused, IO_CONN_CLOSED);
    world_fire(&world);
    CHECK_EQ_U64(connects, 3);
    world_connected(&world, last_connect);
    struct fetch_seen next;
    REQUIRE(fetch_last(&next));
    CHECK(next.conn == last_connect);
    /* A leader that never answers: given up after the wait plus 30 s. */
    CHECK(timer_deadline[FETCHER_TIMER] ==
          world.fake->now_ns + 250 * NS_PER_MS + 30000 * NS_PER_MS);
    world_fire(&world);
    CHECK(conn_closed[next.conn]);
    world_fire(&world);
    CHECK_EQ_U64(connects, 4);
    world_deinit(&world);
}

TEST(a_close_while_appending_finishes_the_appends_then_reconnects)
{
    struct world world;
    world_init(&world, 1, 3);
    struct fetch_seen seen;
    REQUIRE(world_first_fetch(&world, &seen));
    static struct records records;
    records.size = 0;
    records_add(&records, 0, 2, 3);
    records_add(&records, 2, 2, 3);
    struct answer answer = answer_of(0, 4);
    answer.records = records.bytes;
    answer.records_size = records.size;
    leader_answers(&world, &seen, &answer, 1);
    REQUIRE(fake_held[seen.conn] != NULL);
    broker_fetcher_on_conn(world.broker, seen.conn, IO_CONN_CLOSED);
    CHECK(fake_held[seen.conn] != NULL); /* The batches still point into it. */
    world_run(&world);
    CHECK(fake_held[seen.conn] == NULL);
    CHECK_EQ_U64(partition_log_end_offset(world_log(&world, 0)), 4);
    CHECK_EQ_U64(world_replica(&world, 0)->high_watermark, 4);
    CHECK_EQ_U64(connects, 1);
    world_fire(&world);
    CHECK_EQ_U64(connects, 2);
    world_connected(&world, last_connect);
    struct fetch_seen next;
    REQUIRE(fetch_last(&next));
    CHECK_EQ_U64(fetch_partition(&next, 0)->FetchOffset, 4);
    world_deinit(&world);
}

/* Whether the partition's log is the empty one starting at offset, with no leader epochs and no
 * file left of the old segments. */
static bool world_log_empty_at(struct world *world, u32 partition, i64 offset)
{
    const struct partition_log *log = world_log(world, partition);
    char path[IO_PATH_MAX + 32]; /* The directory and a 20-digit name. */
    snprintf(path, sizeof(path), "%s/%020d.log", log->directory, 0);
    bool old_gone = offset == 0 || fake_io_file(world->fake, path) == NULL;
    snprintf(path, sizeof(path), "%s/%020lld.start-over", log->directory, (long long)offset);
    return partition_log_end_offset(log) == offset && partition_log_start_offset(log) == offset &&
           log->segment_count == 1 && log->epoch_count == 0 && old_gone &&
           fake_io_file(world->fake, path) == NULL;
}

TEST(out_of_range_below_the_leaders_log_start_starts_over_there)
{
    struct world world;
    world_init(&world, 1, 3);
    struct fetch_seen next;
    REQUIRE(world_with_two_epochs(&world, &next));
    u32 before = observed_count;
    struct answer out = answer_of(0, 120);
    out.error = KAFKA_ERROR_OFFSET_OUT_OF_RANGE;
    out.log_start = 100;
    leader_answers(&world, &next, &out, 1);
    world_run(&world);
    /* Kafka's truncateFullyAndStartAt: nothing of the old log, an empty one at 100. */
    CHECK(world_log_empty_at(&world, 0, 100));
    CHECK_EQ_U64(observed_of(HISTORY_REPLICA_TRUNCATED, before), 1);
    const struct observed *cut = observed_nth(HISTORY_REPLICA_TRUNCATED, 0);
    REQUIRE(cut != NULL);
    CHECK(cut->o.c == 100 && cut->o.d == 3);
    REQUIRE(fetch_last(&next));
    CHECK_EQ_U64(fetch_partition(&next, 0)->FetchOffset, 100);
    CHECK(fetch_partition(&next, 0)->LastFetchedEpoch == -1);
    CHECK_EQ_U64(fetch_partition(&next, 0)->LogStartOffset, 100);
    static struct records records;
    records.size = 0;
    records_add(&records, 100, 2, 3);
    struct answer answer = answer_of(0, 102);
    answer.log_start = 100;
    answer.records = records.bytes;
    answer.records_size = records.size;
    leader_answers(&world, &next, &answer, 1);
    world_run(&world);
    struct partition_log *log = world_log(&world, 0);
    CHECK_EQ_U64(partition_log_end_offset(log), 102);
    CHECK_EQ_U64(partition_log_start_offset(log), 100);
    CHECK_EQ_U64(partition_log_latest_epoch(log), 3);
    CHECK_EQ_U64(world_replica(&world, 0)->high_watermark, 102);
    REQUIRE(fetch_last(&next));
    CHECK_EQ_U64(fetch_partition(&next, 0)->FetchOffset, 102);
    CHECK_EQ_U64(fetch_partition(&next, 0)->LogStartOffset, 100);
    world_deinit(&world);
}

TEST(out_of_range_above_the_leaders_end_cuts_there_or_starts_over_below_the_log_start)
{
    struct world world;
    world_init(&world, 1, 3);
    struct fetch_seen next;
    REQUIRE(world_with_two_epochs(&world, &next));
    /* The leader's end (its high watermark stands in) inside the log: an ordinary cut. */
    struct answer out = answer_of(0, 4);
    out.error = KAFKA_ERROR_OFFSET_OUT_OF_RANGE;
    leader_answers(&world, &next, &out, 1);
    world_run(&world);
    struct partition_log *log = world_log(&world, 0);
    CHECK_EQ_U64(partition_log_end_offset(log), 3); /* The batch holding 4 went whole. */
    CHECK_EQ_U64(partition_log_start_offset(log), 0);
    CHECK_EQ_U64(partition_log_latest_epoch(log), 1);
    REQUIRE(fetch_last(&next));
    /* The log start follows the leader's to 3 (the follower's high watermark)... */
    struct answer follow = answer_of(0, 3);
    follow.log_start = 3;
    leader_answers(&world, &next, &follow, 1);
    world_run(&world);
    REQUIRE(partition_log_start_offset(log) == 3 && partition_log_end_offset(log) == 3);
    REQUIRE(fetch_last(&next));
    CHECK_EQ_U64(fetch_partition(&next, 0)->FetchOffset, 3);
    /* ... then a new leader whose log ends at 1 (the simulator's seed 1123 of the swarm): a
     * cut cannot go below the log start, so the log starts over at 1, or it would never
     * catch up again. */
    u32 before = observed_count;
    out = answer_of(0, 1);
    out.error = KAFKA_ERROR_OFFSET_OUT_OF_RANGE;
    leader_answers(&world, &next, &out, 1);
    world_run(&world);
    CHECK(world_log_empty_at(&world, 0, 1));
    CHECK_EQ_U64(observed_of(HISTORY_REPLICA_TRUNCATED, before), 1);
    CHECK_EQ_U64(world_replica(&world, 0)->high_watermark, 1); /* Lowered to the new end. */
    REQUIRE(fetch_last(&next));
    CHECK_EQ_U64(fetch_partition(&next, 0)->FetchOffset, 1);
    static struct records records;
    records.size = 0;
    records_add(&records, 1, 3, 4);
    struct answer answer = answer_of(0, 4);
    answer.log_start = 0;
    answer.records = records.bytes;
    answer.records_size = records.size;
    leader_answers(&world, &next, &answer, 1);
    world_run(&world);
    CHECK_EQ_U64(partition_log_end_offset(log), 4);
    CHECK_EQ_U64(partition_log_start_offset(log), 1);
    CHECK_EQ_U64(world_replica(&world, 0)->high_watermark, 4);
    /* An unknown high watermark says nothing about the leader's end: back off. */
    REQUIRE(fetch_last(&next));
    before = observed_count;
    out = answer_of(0, -1);
    out.error = KAFKA_ERROR_OFFSET_OUT_OF_RANGE;
    out.log_start = -1;
    leader_answers(&world, &next, &out, 1);
    world_run(&world);
    CHECK_EQ_U64(partition_log_end_offset(log), 4);
    CHECK_EQ_U64(observed_of(HISTORY_REPLICA_TRUNCATED, before), 0);
    CHECK(world_replica(&world, 0)->retry_ns > world.fake->now_ns);
    world_deinit(&world);
}

TEST(the_log_start_follows_the_leaders)
{
    struct world world;
    world_init(&world, 1, 2);
    struct fetch_seen next;
    REQUIRE(world_with_two_epochs(&world, &next));
    struct answer answer = answer_of(0, 5);
    answer.log_start = 3;
    leader_answers(&world, &next, &answer, 1);
    world_run(&world);
    CHECK_EQ_U64(partition_log_start_offset(world_log(&world, 0)), 3);
    REQUIRE(fetch_last(&next));
    /* Never past the follower's high watermark (5: the leader's 4 does not lower it). */
    answer = answer_of(0, 4);
    answer.log_start = 7;
    leader_answers(&world, &next, &answer, 1);
    world_run(&world);
    CHECK_EQ_U64(partition_log_start_offset(world_log(&world, 0)), 5);
    CHECK_EQ_U64(world_replica(&world, 0)->high_watermark, 5);
    world_deinit(&world);
}

TEST(a_log_io_error_takes_the_partition_out)
{
    struct world world;
    world_init(&world, 1, 3);
    struct fetch_seen seen;
    REQUIRE(world_first_fetch(&world, &seen));
    static struct records records;
    records.size = 0;
    records_add(&records, 0, 2, 3);
    struct answer answer = answer_of(0, 2);
    answer.records = records.bytes;
    answer.records_size = records.size;
    world.fake->fail_at = world.fake->operations + 1;
    world.fake->fail_count = 1000;
    world.fake->fail_result = IO_ERR_IO;
    leader_answers(&world, &seen, &answer, 1);
    world_run(&world);
    world.fake->fail_at = 0;
    CHECK(world.broker->topics[0].states[0] == BROKER_PARTITION_FAILED);
    CHECK(world_replica(&world, 0)->role == BROKER_REPLICA_NONE);
    CHECK(fake_held[seen.conn] == NULL);
    CHECK(conn_closed[seen.conn]); /* Nothing left to follow from that leader. */
    CHECK_EQ_U64(observed_of(HISTORY_REPLICA_APPENDED, 0), 0);
    world_deinit(&world);
}

TEST(malformed_or_unexpected_answers_close_the_connection)
{
    struct world world;
    world_init(&world, 1, 3);
    struct fetch_seen seen;
    REQUIRE(world_first_fetch(&world, &seen));
    /* A frame with the right correlation id and garbage after it. */
    u8 garbage[64];
    memset(garbage, 0xff, sizeof(garbage));
    store_u32_be(garbage, (u32)seen.header.CorrelationId);
    broker_fetcher_on_frame(world.broker, seen.conn, garbage, sizeof(garbage));
    CHECK(conn_closed[seen.conn]);
    CHECK(fake_held[seen.conn] == NULL);
    world_fire(&world);
    world_connected(&world, last_connect);
    REQUIRE(fetch_last(&seen));
    /* An answer to another correlation id. */
    u8 stray[8] = {0};
    store_u32_be(stray, (u32)seen.header.CorrelationId + 1);
    broker_fetcher_on_frame(world.broker, seen.conn, stray, sizeof(stray));
    CHECK(conn_closed[seen.conn]);
    /* Truncated and flipped versions of a real answer never crash, and the fetcher always
     * comes back to a Fetch in flight. */
    static struct records records;
    records.size = 0;
    records_add(&records, 0, 2, 3);
    i32 answered = seen.header.CorrelationId;
    for (u32 round = 0; round < 300; round++) {
        REQUIRE(world_outstanding_fetch(&world, &seen, answered));
        struct kafka_fetch_response_partition_data data;
        kafka_fetch_response_partition_data_init(&data);
        data.HighWatermark = 2;
        data.Records = (struct proto_bytes){records.bytes, (i32)records.size};
        struct kafka_fetch_response_fetchable_topic topic;
        kafka_fetch_response_fetchable_topic_init(&topic);
        topic.Topic = proto_string_of("t");
        topic.Partitions.items = &data;
        topic.Partitions.count = 1;
        union kafka_response body;
        kafka_fetch_response_init(&body.Fetch);
        body.Fetch.Responses.items = &topic;
        body.Fetch.Responses.count = 1;
        static u8 frame[1u << 14];
        struct proto_writer writer;
        proto_writer_init(&writer, frame, sizeof(frame));
        REQUIRE(proto_response_frame_encode(&writer, KAFKA_API_FETCH, 12,
                                            seen.header.CorrelationId, &body) == PROTO_OK);
        u32 size = writer.position - 4;
        u32 flip = 4 + round * 7919u % (size - 4); /* After the correlation id. */
        frame[4 + flip] ^= (u8)(1u + round % 255u);
        if (round % 3 == 0) size = 4 + round % (size - 4);
        answered = seen.header.CorrelationId;
        broker_fetcher_on_frame(world.broker, seen.conn, frame + 4, size);
        world_run(&world);
        CHECK(fake_held[seen.conn] == NULL);
        if (world.broker->topics[0].states[0] != BROKER_PARTITION_OPEN) break;
    }
    world_deinit(&world);
}

static const struct test_case tests[] = {
    {"the_fetch_names_every_field_from_config_image_and_log",
     the_fetch_names_every_field_from_config_image_and_log},
    {"batches_are_appended_with_the_leaders_offsets_and_epochs_while_the_frame_is_held",
     batches_are_appended_with_the_leaders_offsets_and_epochs_while_the_frame_is_held},
    {"diverging_epoch_truncates_then_fetches_again", diverging_epoch_truncates_then_fetches_again},
    {"diverging_epoch_cases_kafkas_rule", diverging_epoch_cases_kafkas_rule},
    {"answers_for_a_stale_epoch_or_after_becoming_leader_are_ignored",
     answers_for_a_stale_epoch_or_after_becoming_leader_are_ignored},
    {"errors_back_off_for_replica_fetch_backoff_ms", errors_back_off_for_replica_fetch_backoff_ms},
    {"reconnects_after_a_close_and_after_a_silent_leader",
     reconnects_after_a_close_and_after_a_silent_leader},
    {"a_close_while_appending_finishes_the_appends_then_reconnects",
     a_close_while_appending_finishes_the_appends_then_reconnects},
    {"out_of_range_below_the_leaders_log_start_starts_over_there",
     out_of_range_below_the_leaders_log_start_starts_over_there},
    {"out_of_range_above_the_leaders_end_cuts_there_or_starts_over_below_the_log_start",
     out_of_range_above_the_leaders_end_cuts_there_or_starts_over_below_the_log_start},
    {"the_log_start_follows_the_leaders", the_log_start_follows_the_leaders},
    {"a_log_io_error_takes_the_partition_out", a_log_io_error_takes_the_partition_out},
    {"malformed_or_unexpected_answers_close_the_connection",
     malformed_or_unexpected_answers_close_the_connection},
};

TEST_MAIN(tests)
