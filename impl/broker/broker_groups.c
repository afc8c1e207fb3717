/* broker_groups.c: the broker as a Kafka group coordinator. The coordinator's state machine is
 * impl/group/group_coordinator.h (no I/O of its own); this file gives it requests, time and
 * storage, and sends its answers.
 *
 * FindCoordinator (key type 0, a group): the coordinator of a group is the leader of partition
 * group_partition_of(group, offsets.topic.num.partitions) of __consumer_offsets, answered with
 * its advertised endpoint from the metadata image. While the topic does not exist the broker
 * asks the controller to create it (broker_link_create_offsets_topic: Kafka's offsets.topic.*
 * settings, cleanup.policy=compact) and answers COORDINATOR_NOT_AVAILABLE, as it does while the
 * partition has no leader; clients ask again. Key type 1 (a transactional id): transactions
 * are not built, so COORDINATOR_NOT_AVAILABLE, the answer InitProducerId gives a transactional
 * id too (broker_producer_ids.c). Any other key type: INVALID_REQUEST.
 *
 * The group APIs (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
 * DescribeGroups, ListGroups, DeleteGroups, OffsetDelete) are decoded in the scratch arena and
 * handed to the coordinator with a token. It answers at once (sent like any sync answer) or
 * parks the request (a JoinGroup waiting for its rebalance may wait minutes). A parked request
 * must not hold one of the BROKER_SLOTS_MAX request slots: four waiting members would stop the
 * broker. It waits in this file's table instead (token -> connection, api, version,
 * correlation id; the frame is not held, the coordinator copied what it keeps), and reading
 * stays paused on its connection (io_read_pause) until its answer leaves, so answers leave in
 * request order per connection; broker_pause_all leaves such connections paused. A connection
 * that closes cancels its parked token (group_coordinator_cancel).
 *
 * Persisting (the coordinator's owner.persist): the batch is copied into one of a few buffers
 * and appended to the __consumer_offsets partition as its leader (offsets assigned, the image's
 * leader epoch stamped, observed as HISTORY_REPLICA_APPENDED, exactly as Produce does), then
 * waits, like Produce with acks=-1, until the high watermark passes its last offset (success,
 * or NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR is below min.insync.replicas), leadership
 * moves (NOT_LEADER_OR_FOLLOWER) or offsets.commit.timeout.ms passes (REQUEST_TIMED_OUT); then
 * group_persisted. It is woken where the high watermark moves (broker_produce_wake calls
 * broker_groups_on_high_watermark), never by polling. An error found when the persist starts
 * (not the leader, ISR too small, log offline) is reported the same way, from the group timer
 * set to now, since the coordinator must not be re-entered from inside its own call.
 *
 * Loading: after every image change, log open and stop (broker_groups_reconcile), each
 * partition of __consumer_offsets that this broker serves as leader (broker_replica_leads, log
 * not offline) and that the coordinator has not loaded or started loading is loaded: one at a
 * time, group_load_begin, then the log from its start to its end read as whole batches
 * (partition_log_read gives a file range, read here into a buffer), each batch handed to
 * group_load_batch, then group_load_end. A partition no longer led here, or offline, or whose
 * topic is gone, is unloaded (group_unload). A load that fails (a read error) unloads and is
 * tried again GROUPS_LOAD_RETRY_NS later.
 *
 * Time: one node timer (broker_attach_group_timer) armed at the earliest of
 * group_next_deadline, the persists' commit timeouts, a persist outcome to report, and a load
 * retry; on firing it reports what is due and calls group_coordinator_tick. Nothing here runs,
 * arms or observes anything while no group API is used and __consumer_offsets does not exist,
 * so runs without groups are unchanged.
 *
 * Invariants: at most one parked request per connection; a parked request's connection has no
 * request slot; the coordinator is never re-entered (calls into it are counted, and persist
 * outcomes found during one wait for the timer); a persist buffer is held only while its append
 * is in flight; at most one load in flight. Tested by tests/unit/test_broker_groups.c. */
#include "broker_internal.h"

#include "../../model/history.h"
#include "../group/group_coordinator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROUPS_PERSISTS_MAX 64u
#define GROUPS_BUFFERS_SMALL 16u
#define GROUPS_BUFFER_SMALL_SIZE (64u * 1024u)
#define GROUPS_BUFFER_LARGE GROUPS_BUFFERS_SMALL /* The index of the one large buffer. */
#define GROUPS_BUFFERS (GROUPS_BUFFERS_SMALL + 1u)
#define GROUPS_BUFFER_NONE UINT32_MAX
#define GROUPS_LOAD_READ_BYTES (256u * 1024u)
#define GROUPS_LOAD_BUFFER_SIZE (GROUP_BATCH_MAX + 64u * 1024u)
#define GROUPS_LOAD_RETRY_NS (100u * NS_PER_MS)
#define GROUPS_TIMER_NONE UINT32_MAX
#define GROUPS_CLIENT_ID_MAX 256u

_Static_assert(CONFIG_OFFSETS_PARTITIONS_MAX == BROKER_PARTITIONS_MAX,
               "offsets.topic.num.partitions is bounded by a topic's partitions");
_Static_assert(CONFIG_OFFSETS_PARTITIONS_MAX <= GROUP_PARTITIONS_MAX,
               "the coordinator knows every offsets partition");
_Static_assert(GROUPS_BUFFER_SMALL_SIZE <= GROUP_BATCH_MAX, "the large buffer holds any batch");

/* A request the coordinator parked, waiting for its answer. */
struct groups_parked {
    bool used;
    bool in_call;  /* Its coordinator call has not returned yet, */
    bool answered; /* ... and the answer was already sent during it. */
    bool cancelled; /* Its connection closed during another coordinator call: cancel it after. */
    u64 token;
    io_conn conn;  /* 0 once the connection closed during its call. */
    i16 api_key;
    i16 version;
    i32 correlation;
    u64 arrival_ns;
};

enum groups_persist_state {
    GROUPS_PERSIST_FREE,
    GROUPS_PERSIST_APPENDING, /* The append is in the log's hands (its buffer held). */
    GROUPS_PERSIST_WAITING,   /* Appended: waiting for the high watermark. */
    GROUPS_PERSIST_DONE,      /* The outcome (error) is to be reported. */
};

struct groups_persist {
    enum groups_persist_state state;
    u64 token;
    u32 partition;       /* Of __consumer_offsets. */
    u16 topic;           /* Its index in broker->topics. */
    struct proto_uuid topic_id;
    i64 last_offset;
    u64 deadline_ns;     /* offsets.commit.timeout.ms after it started. */
    i16 error;           /* DONE. */
    u32 buffer;          /* APPENDING: the buffer holding the batch, */
    u32 size;            /* ... and its size. */
};

struct groups_load {
    bool active;
    bool reading;        /* A log read or file read is in flight for it. */
    u32 partition;
    u16 topic;
    struct proto_uuid topic_id;
    i64 next_offset;     /* The next offset to hand over. */
    i64 range_next;      /* One past the last offset of the range being read, */
    u32 range_size;      /* ... and its bytes (what the file read asks for, at most). */
    u32 generation;      /* Names the load in event and file user_data: stale ones are dropped. */
    u64 retry_ns;        /* A failed load: no new one before this time (0: none). */
};

struct broker_groups {
    struct broker *broker;
    struct group_coordinator *coordinator;
    u32 timer;
    bool timer_armed;
    u64 timer_deadline;
    u64 token_next;
    u32 calling; /* Depth of calls into the coordinator. */
    struct groups_parked parked[BROKER_CONNS_MAX];
    struct groups_persist persists[GROUPS_PERSISTS_MAX];
    u8 *buffers[GROUPS_BUFFERS];
    bool buffer_used[GROUPS_BUFFERS];
    struct groups_load load;
    u8 *load_buffer;
};

static u64 groups_now(const struct broker *broker) { return io_now_ns(broker->io); }

static u32 groups_partitions(const struct broker *broker)
{
    return MIN(broker->config.offsets_topic_num_partitions, GROUP_PARTITIONS_MAX);
}

/* ===== Time ===== */

/* Arms the group timer at the earliest thing due, or cancels it when nothing is. */
static void groups_arm(struct broker *broker)
{
    struct broker_groups *groups = broker->groups;
    u64 now = groups_now(broker);
    u64 deadline = group_next_deadline(groups->coordinator);
    for (u32 i = 0; i < GROUPS_PERSISTS_MAX; i++) {
        const struct groups_persist *persist = &groups->persists[i];
        if (persist->state == GROUPS_PERSIST_DONE) deadline = MIN(deadline, now);
        if (persist->state == GROUPS_PERSIST_WAITING) {
            deadline = MIN(deadline, persist->deadline_ns);
        }
    }
    if (!groups->load.active && groups->load.retry_ns != 0) {
        deadline = MIN(deadline, groups->load.retry_ns);
    }
    if (deadline == UINT64_MAX) {
        if (groups->timer_armed) io_timer_cancel(broker->io, groups->timer);
        groups->timer_armed = false;
        return;
    }
    deadline = MAX(deadline, now);
    if (groups->timer_armed && groups->timer_deadline == deadline) return;
    ASSERT(groups->timer != GROUPS_TIMER_NONE); /* Attached by the node before any group work. */
    io_timer_set(broker->io, groups->timer, deadline);
    groups->timer_armed = true;
    groups->timer_deadline = deadline;
}

/* ===== Parked requests ===== */

static struct groups_parked *groups_parked_find(struct broker_groups *groups, u64 token)
{
    for (u32 i = 0; i < BROKER_CONNS_MAX; i++) {
        if (groups->parked[i].used && groups->parked[i].token == token) return &groups->parked[i];
    }
    return NULL;
}

bool broker_groups_parked_on(const struct broker *broker, io_conn conn)
{
    const struct broker_groups *groups = broker->groups;
    if (groups == NULL || conn == 0) return false;
    for (u32 i = 0; i < BROKER_CONNS_MAX; i++) {
        const struct groups_parked *parked = &groups->parked[i];
        if (parked->used && !parked->in_call && parked->conn == conn) return true;
    }
    return false;
}

/* The coordinator's answer to a parked request (owner.answer). */
static void groups_answer(void *context, u64 token, i16 api_key, i16 version,
                          const union kafka_response *response)
{
    struct broker *broker = context;
    struct groups_parked *parked = groups_parked_find(broker->groups, token);
    if (parked != NULL && parked->cancelled) {
        memset(parked, 0, sizeof(*parked)); /* Answered before its cancel could be told. */
        return;
    }
    if (parked == NULL) {
        /* The contract answers a token once and never after its cancel. */
        io_log(broker->io, IO_LOG_ERROR, "broker: an answer for unknown group token %llu",
               (unsigned long long)token);
        ASSERT(false);
        return;
    }
    ASSERT(parked->api_key == api_key && parked->version == version);
    struct proto_request_header header = {.RequestApiKey = api_key,
                                          .RequestApiVersion = version,
                                          .CorrelationId = parked->correlation,
                                          .ClientId = PROTO_STRING_NULL};
    io_conn conn = parked->conn;
    u64 arrival_ns = parked->arrival_ns;
    bool in_call = parked->in_call;
    /* Forgotten before sending: a failed send closes the connection, which must not cancel a
     * token being answered. */
    if (in_call) {
        parked->answered = true;
    } else {
        memset(parked, 0, sizeof(*parked));
    }
    if (conn == 0) return;
    broker_send_response(broker, conn, &header, response);
    broker_metrics_latency(broker, api_key, groups_now(broker) - arrival_ns);
    if (!in_call) broker_conn_answered(broker, conn);
}

void broker_groups_conn_closed(struct broker *broker, io_conn conn)
{
    struct broker_groups *groups = broker->groups;
    if (groups == NULL) return;
    for (u32 i = 0; i < BROKER_CONNS_MAX; i++) {
        struct groups_parked *parked = &groups->parked[i];
        if (!parked->used || parked->conn != conn) continue;
        parked->conn = 0;
        if (parked->in_call) continue; /* Its handler cancels it once the coordinator returns. */
        if (groups->calling > 0) {
            /* A failed send inside a coordinator call: never re-enter it, cancel after. */
            parked->cancelled = true;
            continue;
        }
        u64 token = parked->token;
        memset(parked, 0, sizeof(*parked));
        group_coordinator_cancel(groups->coordinator, token);
    }
}

/* ===== Persisting ===== */

static bool groups_topic_is(const struct broker *broker, u32 topic, struct proto_uuid id)
{
    const struct broker_topic *entry = &broker->topics[topic];
    return entry->used && memcmp(entry->id.bytes, id.bytes, sizeof(id.bytes)) == 0;
}

/* The index of __consumer_offsets in broker->topics, or -1. */
static i32 groups_topic(const struct broker *broker)
{
    return broker_topic_find(broker, proto_string_of(BROKER_OFFSETS_TOPIC));
}

/* This broker serves the partition as its leader, with a log that is not offline. */
static bool groups_leads(const struct broker *broker, i32 topic, u32 partition)
{
    if (topic < 0 || partition >= broker->topics[topic].partition_count) return false;
    return broker_replica_leads(broker, (u32)topic, (i32)partition) &&
           !broker_partition_offline(broker, (u32)topic, partition);
}

static u32 groups_buffer_take(struct broker_groups *groups, u32 size)
{
    if (size <= GROUPS_BUFFER_SMALL_SIZE) {
        for (u32 i = 0; i < GROUPS_BUFFERS_SMALL; i++) {
            if (!groups->buffer_used[i]) {
                groups->buffer_used[i] = true;
                return i;
            }
        }
    }
    if (size <= GROUP_BATCH_MAX && !groups->buffer_used[GROUPS_BUFFER_LARGE]) {
        groups->buffer_used[GROUPS_BUFFER_LARGE] = true;
        return GROUPS_BUFFER_LARGE;
    }
    return GROUPS_BUFFER_NONE;
}

static void groups_persist_fail(struct groups_persist *persist, i16 error)
{
    ASSERT(error != KAFKA_ERROR_NONE);
    persist->state = GROUPS_PERSIST_DONE;
    persist->error = error;
}

/* owner.persist: see the file comment. False only when no entry or buffer is free. */
static bool groups_persist(void *context, u32 partition, u64 persist_token, const u8 *batch,
                           u32 size)
{
    struct broker *broker = context;
    struct broker_groups *groups = broker->groups;
    struct groups_persist *persist = NULL;
    for (u32 i = 0; i < GROUPS_PERSISTS_MAX && persist == NULL; i++) {
        if (groups->persists[i].state == GROUPS_PERSIST_FREE) persist = &groups->persists[i];
    }
    u32 buffer = persist != NULL ? groups_buffer_take(groups, size) : GROUPS_BUFFER_NONE;
    if (buffer == GROUPS_BUFFER_NONE) {
        io_log(broker->io, IO_LOG_WARN, "broker: no room to persist %u bytes of group records",
               size);
        return false;
    }
    memset(persist, 0, sizeof(*persist));
    persist->token = persist_token;
    persist->partition = partition;
    persist->buffer = GROUPS_BUFFER_NONE;
    persist->last_offset = -1;
    persist->deadline_ns =
        groups_now(broker) + broker->config.offsets_commit_timeout_ms * NS_PER_MS;
    i32 topic = groups_topic(broker);
    if (!groups_leads(broker, topic, partition)) {
        groups->buffer_used[buffer] = false;
        groups_persist_fail(persist, KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER);
        return true;
    }
    const struct metadata_partition *metadata =
        broker_partition_metadata(broker, (u32)topic, (i32)partition);
    ASSERT(metadata != NULL); /* Led here. */
    if (metadata->isr.count < broker_replica_min_insync(broker, (u32)topic)) {
        groups->buffer_used[buffer] = false;
        groups_persist_fail(persist, KAFKA_ERROR_NOT_ENOUGH_REPLICAS);
        return true;
    }
    persist->topic = (u16)topic;
    persist->topic_id = broker->topics[topic].id;
    persist->buffer = buffer;
    persist->size = size;
    memcpy(groups->buffers[buffer], batch, size);
    u32 index = (u32)(persist - groups->persists);
    /* The log reads the batch from the buffer until its append event. */
    enum log_result result = partition_log_append(
        &broker->topics[topic].logs[partition], groups->buffers[buffer], size,
        broker_leader_epoch(broker, (u32)topic, (i32)partition), true,
        broker_event_data(BROKER_EVENT_GROUP_APPEND, 0, index));
    if (result != LOG_OK) {
        groups->buffer_used[buffer] = false;
        persist->buffer = GROUPS_BUFFER_NONE;
        groups_persist_fail(persist, broker_log_error(result));
        return true;
    }
    persist->state = GROUPS_PERSIST_APPENDING;
    return true;
}

/* A waiting persist's outcome, if it has one now (as Produce acks=-1 settles a partition). */
static void groups_persist_settle(struct broker *broker, struct groups_persist *persist,
                                  u64 now)
{
    ASSERT(persist->state == GROUPS_PERSIST_WAITING);
    u32 topic = persist->topic;
    bool leads = groups_topic_is(broker, topic, persist->topic_id) &&
                 groups_leads(broker, (i32)topic, persist->partition) &&
                 broker->topics[topic].replicas[persist->partition].role == BROKER_REPLICA_LEADER;
    if (!leads) {
        groups_persist_fail(persist, KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER);
        return;
    }
    const struct broker_replica *replica = &broker->topics[topic].replicas[persist->partition];
    if (replica->high_watermark > persist->last_offset) {
        const struct metadata_partition *metadata =
            broker_partition_metadata(broker, topic, (i32)persist->partition);
        ASSERT(metadata != NULL);
        persist->state = GROUPS_PERSIST_DONE;
        persist->error = metadata->isr.count < broker_replica_min_insync(broker, topic)
                             ? KAFKA_ERROR_NOT_ENOUGH_REPLICAS_AFTER_APPEND
                             : KAFKA_ERROR_NONE;
        return;
    }
    if (now >= persist->deadline_ns) groups_persist_fail(persist, KAFKA_ERROR_REQUEST_TIMED_OUT);
}

/* Reports every persist outcome that is known (not from inside a coordinator call: then the
 * timer reports them). The coordinator may persist again meanwhile; each pass frees one. */
static void groups_report(struct broker *broker)
{
    struct broker_groups *groups = broker->groups;
    if (groups->calling > 0) return;
    /* Bounded: each pass cancels or reports at least one, and what the coordinator starts
     * meanwhile is bounded by the tables. */
    for (u32 guard = 0; guard <= (GROUPS_PERSISTS_MAX + BROKER_CONNS_MAX) * 4u; guard++) {
        struct groups_parked *cancelled = NULL;
        for (u32 i = 0; i < BROKER_CONNS_MAX && cancelled == NULL; i++) {
            if (groups->parked[i].used && groups->parked[i].cancelled) {
                cancelled = &groups->parked[i];
            }
        }
        if (cancelled != NULL) {
            u64 token = cancelled->token;
            memset(cancelled, 0, sizeof(*cancelled));
            group_coordinator_cancel(groups->coordinator, token);
            continue;
        }
        struct groups_persist *done = NULL;
        for (u32 i = 0; i < GROUPS_PERSISTS_MAX && done == NULL; i++) {
            if (groups->persists[i].state == GROUPS_PERSIST_DONE) done = &groups->persists[i];
        }
        if (done == NULL) break;
        u64 token = done->token;
        i16 error = done->error;
        memset(done, 0, sizeof(*done));
        groups->calling++;
        group_persisted(groups->coordinator, token, error, groups_now(broker));
        groups->calling--;
    }
    groups_arm(broker);
}

void broker_groups_on_high_watermark(struct broker *broker, u32 topic, i32 partition)
{
    struct broker_groups *groups = broker->groups;
    bool found = false;
    u64 now = groups_now(broker);
    for (u32 i = 0; i < GROUPS_PERSISTS_MAX; i++) {
        struct groups_persist *persist = &groups->persists[i];
        if (persist->state != GROUPS_PERSIST_WAITING || persist->topic != topic ||
            persist->partition != (u32)partition) {
            continue;
        }
        groups_persist_settle(broker, persist, now);
        found = true;
    }
    if (found) groups_report(broker);
}

/* HISTORY_REPLICA_APPENDED of a coordinator batch, from its stamped header (as Produce). */
static void groups_observe_append(struct broker *broker, const struct groups_persist *persist,
                                  const struct log_event *event)
{
    const u8 *batch = broker->groups->buffers[persist->buffer];
    struct record_batch_header header;
    u64 size = 0;
    ASSERT(batch_size_peek(batch, persist->size, &size) == BATCH_OK);
    ASSERT(batch_header_decode(batch, size, &header) == BATCH_OK); /* The log accepted it. */
    struct history_replica_batch payload = {
        .leader_epoch = header.PartitionLeaderEpoch,
        .crc = header.Crc,
        .record_count = (u32)header.RecordCount,
        .role = HISTORY_REPLICA_LEADER,
    };
    struct io_observation observation = {
        .kind = HISTORY_REPLICA_APPENDED,
        .a = history_topic_hash(persist->topic_id.bytes),
        .b = persist->partition,
        .c = (u64)event->offset,
        .d = (u64)event->last_offset,
        .data = (const u8 *)&payload,
        .data_size = sizeof(payload),
    };
    io_observe(broker->io, &observation);
}

static void groups_on_appended(struct broker *broker, u32 index, const struct log_event *event)
{
    struct broker_groups *groups = broker->groups;
    ASSERT(index < GROUPS_PERSISTS_MAX);
    struct groups_persist *persist = &groups->persists[index];
    ASSERT(persist->state == GROUPS_PERSIST_APPENDING && event->kind == LOG_EVENT_APPENDED);
    if (event->result == LOG_OK) groups_observe_append(broker, persist, event);
    groups->buffer_used[persist->buffer] = false;
    persist->buffer = GROUPS_BUFFER_NONE;
    if (event->result != LOG_OK) {
        groups_persist_fail(persist, broker_log_error(event->result));
        broker_groups_reconcile(broker); /* An offline log unloads its groups. */
        groups_report(broker);
        return;
    }
    persist->last_offset = event->last_offset;
    persist->state = GROUPS_PERSIST_WAITING;
    /* Followers' parked fetches wake, and the high watermark may move at once (a lone
     * replica's does), which settles this persist through broker_groups_on_high_watermark. */
    broker_fetch_wake(broker, persist->topic, (i32)persist->partition);
    if (persist->state == GROUPS_PERSIST_WAITING) {
        groups_persist_settle(broker, persist, groups_now(broker));
    }
    groups_report(broker);
}

/* ===== Loading ===== */

static void groups_load_finish(struct broker *broker)
{
    struct broker_groups *groups = broker->groups;
    groups->load.active = false;
    groups->load.reading = false;
    groups->load.generation++; /* Anything still in flight for it is stale. */
}

/* A load that cannot go on: its partition unloads and loading is tried again later. */
static void groups_load_fail(struct broker *broker, const char *why)
{
    struct broker_groups *groups = broker->groups;
    ASSERT(groups->load.active);
    u32 partition = groups->load.partition;
    io_log(broker->io, IO_LOG_WARN, "broker: loading %s-%u failed (%s); retrying",
           BROKER_OFFSETS_TOPIC, partition, why);
    groups_load_finish(broker);
    groups->load.retry_ns = groups_now(broker) + GROUPS_LOAD_RETRY_NS;
    groups->calling++;
    group_unload(groups->coordinator, partition);
    groups->calling--;
}

static void groups_load_step(struct broker *broker);

static void groups_load_start(struct broker *broker, u32 topic, u32 partition)
{
    struct broker_groups *groups = broker->groups;
    struct groups_load *load = &groups->load;
    ASSERT(!load->active);
    load->active = true;
    load->reading = false;
    load->partition = partition;
    load->topic = (u16)topic;
    load->topic_id = broker->topics[topic].id;
    load->next_offset = partition_log_start_offset(&broker->topics[topic].logs[partition]);
    load->retry_ns = 0;
    io_log(broker->io, IO_LOG_INFO, "broker: loading the groups of %s-%u", BROKER_OFFSETS_TOPIC,
           partition);
    groups->calling++;
    group_load_begin(groups->coordinator, partition,
                     broker_leader_epoch(broker, topic, (i32)partition));
    groups->calling--;
    groups_load_step(broker);
}

/* Reads on from load.next_offset, or ends the load at the log end. */
static void groups_load_step(struct broker *broker)
{
    struct broker_groups *groups = broker->groups;
    struct groups_load *load = &groups->load;
    ASSERT(load->active && !load->reading);
    if (!groups_topic_is(broker, load->topic, load->topic_id) ||
        !groups_leads(broker, load->topic, load->partition)) {
        groups_load_fail(broker, "no longer led here");
        return;
    }
    struct partition_log *log = &broker->topics[load->topic].logs[load->partition];
    load->next_offset = MAX(load->next_offset, partition_log_start_offset(log));
    if (load->next_offset >= partition_log_end_offset(log)) {
        u32 partition = load->partition;
        groups_load_finish(broker);
        groups->calling++;
        group_load_end(groups->coordinator, partition, groups_now(broker));
        groups->calling--;
        io_log(broker->io, IO_LOG_INFO, "broker: the groups of %s-%u are loaded",
               BROKER_OFFSETS_TOPIC, partition);
        broker_groups_reconcile(broker); /* The next partition to load, if any. */
        return;
    }
    enum log_result result =
        partition_log_read(log, load->next_offset, GROUPS_LOAD_READ_BYTES, INT64_MAX,
                           broker_event_data(BROKER_EVENT_GROUP_READ, 0, load->generation));
    if (result != LOG_OK) {
        groups_load_fail(broker, log_result_name(result));
        return;
    }
    load->reading = true;
}

static void groups_on_read(struct broker *broker, u32 generation, const struct log_event *event)
{
    struct broker_groups *groups = broker->groups;
    struct groups_load *load = &groups->load;
    ASSERT(event->kind == LOG_EVENT_READ);
    if (!load->active || generation != load->generation) return; /* A load given up. */
    ASSERT(load->reading);
    load->reading = false;
    if (event->result != LOG_OK) {
        groups_load_fail(broker, log_result_name(event->result));
        return;
    }
    const struct log_range *range = &event->range;
    if (range->size == 0 || range->file == 0 || range->next_offset <= load->next_offset) {
        /* Nothing more below the log end (the end moved back under the load). */
        load->next_offset = MAX(load->next_offset, partition_log_end_offset(
            &broker->topics[load->topic].logs[load->partition]));
        groups_load_step(broker);
        return;
    }
    load->range_next = range->next_offset;
    u32 size = MIN(range->size, GROUPS_LOAD_BUFFER_SIZE);
    load->range_size = size;
    enum io_result result = io_file_read(broker->io, range->file, range->position,
                                         groups->load_buffer, size,
                                         BROKER_FILE_TAG | BROKER_FILE_GROUP_LOAD | generation);
    if (result != IO_OK) {
        groups_load_fail(broker, io_result_name(result));
        return;
    }
    load->reading = true;
}

/* Hands the whole batches of bytes to the coordinator; next_offset moves past each. True when
 * the bytes were whole batches to their end. */
static bool groups_load_batches(struct broker *broker, const u8 *bytes, u32 size)
{
    struct broker_groups *groups = broker->groups;
    struct groups_load *load = &groups->load;
    u64 position = 0;
    while (position < size) {
        u64 batch_size = 0;
        enum batch_error peek = batch_size_peek(bytes + position, size - position, &batch_size);
        if (peek == BATCH_OK && batch_size > size - position) peek = BATCH_INCOMPLETE;
        if (peek == BATCH_INCOMPLETE && position == 0 && size >= 27u) {
            /* A batch larger than the buffer: skipped whole, by its header's offsets
             * (BaseOffset at 0, LastOffsetDelta at 23). */
            i64 last = (i64)load_u64_be(bytes) + (i32)load_u32_be(bytes + 23);
            io_log(broker->io, IO_LOG_WARN, "broker: %s-%u: a batch too large to load at %lld",
                   BROKER_OFFSETS_TOPIC, load->partition, (long long)load_u64_be(bytes));
            load->next_offset = MAX(load->next_offset, last + 1);
            return false;
        }
        if (peek == BATCH_INCOMPLETE) return false; /* Read again from its start. */
        struct record_batch_header header;
        if (peek != BATCH_OK ||
            batch_header_decode(bytes + position, batch_size, &header) != BATCH_OK) {
            /* The log checked its batches; bytes that still do not frame end this range. */
            io_log(broker->io, IO_LOG_WARN, "broker: %s-%u: unreadable batch bytes skipped",
                   BROKER_OFFSETS_TOPIC, load->partition);
            load->next_offset = MAX(load->next_offset, load->range_next);
            return false;
        }
        i64 last = header.BaseOffset + header.LastOffsetDelta;
        if (last >= load->next_offset) {
            groups->calling++;
            group_load_batch(groups->coordinator, load->partition, bytes + position,
                             (u32)batch_size);
            groups->calling--;
            load->next_offset = last + 1;
        }
        position += batch_size;
    }
    return true;
}

void broker_groups_on_file(struct broker *broker, const struct io_completion *completion)
{
    struct broker_groups *groups = broker->groups;
    struct groups_load *load = &groups->load;
    u32 generation = (u32)completion->user_data;
    if (!load->active || generation != load->generation) return; /* A load given up. */
    ASSERT(load->reading && completion->op == IO_FILE_READ);
    load->reading = false;
    if (completion->result != IO_OK) {
        groups_load_fail(broker, io_result_name(completion->result));
    } else {
        i64 before = load->next_offset;
        bool whole = groups_load_batches(broker, completion->buffer, completion->size);
        if (whole && completion->size == load->range_size) {
            /* Every batch of the range was seen (those below next_offset were loaded). */
            load->next_offset = MAX(load->next_offset, load->range_next);
        }
        if (load->next_offset == before) {
            groups_load_fail(broker, "no progress");
        } else {
            groups_load_step(broker);
        }
    }
    groups_report(broker);
}

void broker_groups_on_log_event(struct broker *broker, enum broker_event_kind kind, u32 index,
                                const struct log_event *event)
{
    if (kind == BROKER_EVENT_GROUP_APPEND) {
        groups_on_appended(broker, index, event);
        return;
    }
    ASSERT(kind == BROKER_EVENT_GROUP_READ);
    groups_on_read(broker, index, event);
    groups_report(broker);
}

void broker_groups_reconcile(struct broker *broker)
{
    struct broker_groups *groups = broker->groups;
    if (groups == NULL) return;
    ASSERT(groups->calling == 0);
    i32 topic = groups_topic(broker);
    u32 partitions = groups_partitions(broker);
    for (u32 p = 0; p < partitions; p++) {
        if (group_partition_state(groups->coordinator, p) == GROUP_PARTITION_NONE) continue;
        bool current = topic >= 0 && (!groups->load.active || groups->load.partition != p ||
                                      groups_topic_is(broker, (u32)topic, groups->load.topic_id));
        if (current && groups_leads(broker, topic, p)) continue;
        if (groups->load.active && groups->load.partition == p) groups_load_finish(broker);
        io_log(broker->io, IO_LOG_INFO, "broker: the groups of %s-%u unload",
               BROKER_OFFSETS_TOPIC, p);
        groups->calling++;
        group_unload(groups->coordinator, p);
        groups->calling--;
    }
    bool may_load = !groups->load.active && !broker->stopping &&
                    groups_now(broker) >= groups->load.retry_ns;
    for (u32 p = 0; p < partitions && may_load && topic >= 0; p++) {
        if (group_partition_state(groups->coordinator, p) != GROUP_PARTITION_NONE ||
            !groups_leads(broker, topic, p)) {
            continue;
        }
        groups_load_start(broker, (u32)topic, p);
        break;
    }
    groups_report(broker);
}

/* ===== The group timer ===== */

void broker_attach_group_timer(struct broker *broker, u32 timer)
{
    ASSERT(timer < IO_TIMERS_MAX);
    broker->groups->timer = timer;
}

void broker_groups_on_timer(struct broker *broker)
{
    struct broker_groups *groups = broker->groups;
    groups->timer_armed = false;
    u64 now = groups_now(broker);
    for (u32 i = 0; i < GROUPS_PERSISTS_MAX; i++) {
        struct groups_persist *persist = &groups->persists[i];
        if (persist->state == GROUPS_PERSIST_WAITING) groups_persist_settle(broker, persist, now);
    }
    groups_report(broker);
    if (!groups->load.active && groups->load.retry_ns != 0 && now >= groups->load.retry_ns) {
        groups->load.retry_ns = 0;
        broker_groups_reconcile(broker);
    }
    groups->calling++;
    group_coordinator_tick(groups->coordinator, now);
    groups->calling--;
    groups_report(broker); /* Also arms the timer again. */
}

const struct group_coordinator *broker_group_coordinator(const struct broker *broker)
{
    return broker->groups->coordinator;
}

/* ===== FindCoordinator ===== */

/* The coordinator of a group: the leader of its __consumer_offsets partition. */
static i16 groups_coordinator_of(struct broker *broker, struct proto_string key, i32 *node_id,
                                 struct proto_string *host, i32 *port)
{
    const struct metadata_topic *topic =
        broker->image == NULL ? NULL
                              : metadata_topic_find(broker->image, BROKER_OFFSETS_TOPIC,
                                                    (u32)strlen(BROKER_OFFSETS_TOPIC));
    if (topic == NULL || topic->partition_count == 0) {
        if (!broker->stopping) broker_link_create_offsets_topic(broker);
        return KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE;
    }
    u32 partition = group_partition_of(key.size > 0 ? key.data : "", (u32)MAX(key.size, 0),
                                       groups_partitions(broker));
    if (partition >= topic->partition_count) return KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE;
    i32 leader = topic->partitions[partition].leader;
    const struct metadata_broker *entry =
        leader < 0 ? NULL : metadata_broker_find(broker->image, leader);
    if (entry == NULL || entry->fenced) return KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE;
    *node_id = leader;
    *host = proto_string_of(entry->host); /* The image is not changed during this call. */
    *port = entry->port;
    return KAFKA_ERROR_NONE;
}

bool broker_handle_find_coordinator(struct broker *broker, io_conn conn,
                                    const struct proto_request_header *header,
                                    struct proto_reader *body)
{
    i16 version = header->RequestApiVersion;
    struct proto_arena decode, arena;
    broker_scratch_arenas(broker, &decode, &arena);
    struct kafka_find_coordinator_request request;
    if (kafka_find_coordinator_request_decode(body, version, &request, &decode) != PROTO_OK) {
        return false;
    }
    i8 key_type = version >= 1 ? request.KeyType : 0;
    i32 node_id = -1, port = -1;
    struct proto_string host = proto_string_of("");
    struct proto_string message = PROTO_STRING_NULL;
    i16 error = KAFKA_ERROR_NONE;
    if (key_type == 1) {
        error = KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE;
        message = proto_string_of("transactions are not supported by this broker");
    } else if (key_type != 0) {
        error = KAFKA_ERROR_INVALID_REQUEST;
        message = proto_string_of("unknown coordinator key type");
    } else {
        error = groups_coordinator_of(broker, request.Key, &node_id, &host, &port);
    }
    if (error != KAFKA_ERROR_NONE) {
        node_id = -1;
        port = -1;
        host = proto_string_of("");
    }
    union kafka_response response;
    kafka_find_coordinator_response_init(&response.FindCoordinator);
    response.FindCoordinator.ErrorCode = error;
    if (version >= 1) response.FindCoordinator.ErrorMessage = message;
    response.FindCoordinator.NodeId = node_id;
    response.FindCoordinator.Host = host;
    response.FindCoordinator.Port = port;
    broker_send_response(broker, conn, header, &response);
    return true;
}

/* ===== The group APIs ===== */

static enum group_outcome groups_call(struct broker *broker, u64 token,
                                      const struct proto_request_header *header,
                                      const union kafka_request *request,
                                      struct proto_arena *arena, union kafka_response *response)
{
    struct group_coordinator *coordinator = broker->groups->coordinator;
    i16 version = header->RequestApiVersion;
    u64 now = groups_now(broker);
    switch (header->RequestApiKey) {
    case KAFKA_API_JOIN_GROUP: {
        char client_id[GROUPS_CLIENT_ID_MAX];
        struct proto_string id = header->ClientId;
        snprintf(client_id, sizeof(client_id), "%.*s", id.size > 0 ? id.size : 0,
                 id.size > 0 ? id.data : "");
        /* io names no peer address, so members are described without a host. */
        return group_join(coordinator, token, version, &request->JoinGroup, client_id, "", now,
                          arena, response);
    }
    case KAFKA_API_SYNC_GROUP:
        return group_sync(coordinator, token, version, &request->SyncGroup, now, arena,
                          response);
    case KAFKA_API_HEARTBEAT:
        return group_heartbeat(coordinator, token, version, &request->Heartbeat, now, arena,
                               response);
    case KAFKA_API_LEAVE_GROUP:
        return group_leave(coordinator, token, version, &request->LeaveGroup, now, arena,
                           response);
    case KAFKA_API_OFFSET_COMMIT:
        return group_offset_commit(coordinator, token, version, &request->OffsetCommit, now,
                                   arena, response);
    case KAFKA_API_OFFSET_FETCH:
        return group_offset_fetch(coordinator, token, version, &request->OffsetFetch, arena,
                                  response);
    case KAFKA_API_DESCRIBE_GROUPS:
        return group_describe(coordinator, token, version, &request->DescribeGroups, arena,
                              response);
    case KAFKA_API_LIST_GROUPS:
        return group_list(coordinator, token, version, &request->ListGroups, arena, response);
    case KAFKA_API_DELETE_GROUPS:
        return group_delete(coordinator, token, version, &request->DeleteGroups, now, arena,
                            response);
    case KAFKA_API_OFFSET_DELETE:
        return group_offset_delete(coordinator, token, version, &request->OffsetDelete, now,
                                   arena, response);
    default:
        ASSERT(false); /* broker_handlers routes only these here. */
        return GROUP_ANSWERED;
    }
}

bool broker_handle_group_request(struct broker *broker, io_conn conn,
                                 const struct proto_request_header *header,
                                 struct proto_reader *body)
{
    struct broker_groups *groups = broker->groups;
    ASSERT(groups->calling == 0);
    struct proto_arena decode, arena;
    broker_scratch_arenas(broker, &decode, &arena);
    union kafka_request request;
    if (kafka_request_decode(body, header->RequestApiKey, header->RequestApiVersion, &request,
                             &decode) != PROTO_OK) {
        return false;
    }
    /* Registered before the call: the coordinator may answer it before it returns. */
    struct groups_parked *parked = NULL;
    for (u32 i = 0; i < BROKER_CONNS_MAX && parked == NULL; i++) {
        if (!groups->parked[i].used) parked = &groups->parked[i];
    }
    ASSERT(parked != NULL); /* One per connection at most, and the node has no more. */
    u64 token = ++groups->token_next;
    *parked = (struct groups_parked){.used = true,
                                     .in_call = true,
                                     .token = token,
                                     .conn = conn,
                                     .api_key = header->RequestApiKey,
                                     .version = header->RequestApiVersion,
                                     .correlation = header->CorrelationId,
                                     .arrival_ns = groups_now(broker)};
    union kafka_response response;
    memset(&response, 0, sizeof(response));
    groups->calling++;
    enum group_outcome outcome = groups_call(broker, token, header, &request, &arena, &response);
    groups->calling--;
    io_conn still = parked->conn;
    bool answered = parked->answered;
    if (outcome == GROUP_ANSWERED || answered) {
        ASSERT(!(outcome == GROUP_ANSWERED && answered)); /* Answered exactly once. */
        memset(parked, 0, sizeof(*parked));
        if (outcome == GROUP_ANSWERED && still != 0) {
            broker_send_response(broker, conn, header, &response);
        }
    } else if (still == 0) {
        memset(parked, 0, sizeof(*parked)); /* Closed while it was being parked. */
        group_coordinator_cancel(groups->coordinator, token);
    } else {
        parked->in_call = false;
        io_read_pause(broker->io, conn, true); /* Until its answer leaves, in order. */
    }
    groups_report(broker); /* Persist outcomes found during the call; arms the timer. */
    return true;
}

/* ===== Life ===== */

struct broker_groups *broker_groups_create(struct broker *broker)
{
    struct broker_groups *groups = calloc(1, sizeof(*groups));
    if (groups == NULL) return NULL;
    groups->broker = broker;
    groups->timer = GROUPS_TIMER_NONE;
    const struct node_config *config = &broker->config;
    struct group_coordinator_config coordinator_config = {
        .node_id = (i32)config->node_id,
        .offsets_partitions = groups_partitions(broker),
        .initial_rebalance_delay_ns = config->group_initial_rebalance_delay_ms * NS_PER_MS,
        .min_session_timeout_ns = config->group_min_session_timeout_ms * NS_PER_MS,
        .max_session_timeout_ns = config->group_max_session_timeout_ms * NS_PER_MS,
        .max_size = MIN(config->group_max_size, GROUP_MEMBERS_MAX),
        .offset_metadata_max_bytes = config->offset_metadata_max_bytes,
        .offsets_retention_ns = config->offsets_retention_minutes * 60u * 1000u * NS_PER_MS,
    };
    struct group_coordinator_owner owner = {
        .context = broker, .answer = groups_answer, .persist = groups_persist};
    groups->coordinator = group_coordinator_create(&coordinator_config, &owner);
    groups->load_buffer = malloc(GROUPS_LOAD_BUFFER_SIZE);
    bool ok = groups->coordinator != NULL && groups->load_buffer != NULL;
    for (u32 i = 0; i < GROUPS_BUFFERS && ok; i++) {
        groups->buffers[i] =
            malloc(i == GROUPS_BUFFER_LARGE ? GROUP_BATCH_MAX : GROUPS_BUFFER_SMALL_SIZE);
        ok = groups->buffers[i] != NULL;
    }
    if (!ok) {
        broker_groups_destroy(groups);
        return NULL;
    }
    return groups;
}

void broker_groups_destroy(struct broker_groups *groups)
{
    if (groups == NULL) return;
    group_coordinator_destroy(groups->coordinator);
    for (u32 i = 0; i < GROUPS_BUFFERS; i++) free(groups->buffers[i]);
    free(groups->load_buffer);
    free(groups);
}
