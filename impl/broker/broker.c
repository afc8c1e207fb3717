/* broker.c: Kafka requests on the client listener: decoding, dispatch by api key, request
 * slots, per-connection ordering and back-pressure, and routing of files and timers.
 *
 * Dispatch: proto_api_table (impl/protocol/api_versions.c) is the one table of api keys, version
 * ranges and implemented flags; broker_handlers below gives each implemented key its handler,
 * and broker_create asserts that the two agree key by key (implemented <=> handler), so
 * ApiVersions advertises exactly what is served. A request outside the advertised set closes
 * the connection, as Kafka does (ApiVersions answers with its v0-shaped fallback instead).
 *
 * Two handler shapes: a sync handler answers inside on_frame (ApiVersions, Metadata,
 * DescribeCluster, DescribeConfigs, OffsetForLeaderEpoch); an async one (Produce, ListOffsets,
 * Fetch, DeleteRecords, and the admin requests forwarded to the controller: CreateTopics,
 * DeleteTopics, ...) takes a request slot, which holds the frame (decoded views point into it),
 * pauses reading on the connection until the answer is sent (so answers leave in request
 * order), and is finished by log events, the controller's relayed answer or its slot's timer
 * (Fetch's long poll, a forwarded request's deadline). The group APIs are sync handlers whose
 * answer may come later: a request the group coordinator parks (broker_groups.c) takes no slot
 * but waits in that file's table with reading paused on its connection, which back-pressure's
 * resume leaves paused until its answer leaves.
 * Invariants: a connection has at most one slot; a slot with pending operations stays used even
 * if its connection closes (conn = 0), and its answer is then dropped; when no slot is free,
 * reading is paused on every connection seen, and resumed when one frees.
 *
 * Tested by tests/unit/test_broker.c (encoded requests through a fake io) and
 * tests/integration/kafka_kcat.sh (kcat against kbroker). */
#include "broker_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef bool (*broker_sync_handler)(struct broker *broker, io_conn conn,
                                    const struct proto_request_header *header,
                                    struct proto_reader *body);
typedef bool (*broker_async_handler)(struct broker *broker, struct broker_slot *slot);

struct broker_handler {
    broker_sync_handler sync;
    broker_async_handler async;
};

static bool broker_handle_api_versions(struct broker *broker, io_conn conn,
                                       const struct proto_request_header *header,
                                       struct proto_reader *body);

/* Every key marked implemented in proto_api_table, and no other, has a handler here. */
static const struct broker_handler broker_handlers[KAFKA_API_KEY_COUNT] = {
    [KAFKA_API_API_VERSIONS] = {broker_handle_api_versions, NULL},
    [KAFKA_API_METADATA] = {broker_handle_metadata, NULL},
    [KAFKA_API_CREATE_TOPICS] = {NULL, broker_start_forward},
    [KAFKA_API_PRODUCE] = {NULL, broker_start_produce},
    [KAFKA_API_LIST_OFFSETS] = {NULL, broker_start_list_offsets},
    [KAFKA_API_FETCH] = {NULL, broker_start_fetch},
    [KAFKA_API_DELETE_TOPICS] = {NULL, broker_start_forward},
    [KAFKA_API_CREATE_PARTITIONS] = {NULL, broker_start_forward},
    [KAFKA_API_ELECT_LEADERS] = {NULL, broker_start_forward},
    [KAFKA_API_ALTER_PARTITION_REASSIGNMENTS] = {NULL, broker_start_forward},
    [KAFKA_API_LIST_PARTITION_REASSIGNMENTS] = {NULL, broker_start_forward},
    [KAFKA_API_DESCRIBE_CLUSTER] = {broker_handle_describe_cluster, NULL},
    [KAFKA_API_DESCRIBE_CONFIGS] = {broker_handle_describe_configs, NULL},
    [KAFKA_API_INCREMENTAL_ALTER_CONFIGS] = {NULL, broker_start_forward},
    [KAFKA_API_DELETE_RECORDS] = {NULL, broker_start_delete_records},
    [KAFKA_API_OFFSET_FOR_LEADER_EPOCH] = {broker_handle_offset_for_leader_epoch, NULL},
    [KAFKA_API_FIND_COORDINATOR] = {broker_handle_find_coordinator, NULL},
    [KAFKA_API_INIT_PRODUCER_ID] = {broker_handle_init_producer_id, NULL},
    /* The coordinator answers at once or parks the request in broker_groups.c's own table. */
    [KAFKA_API_JOIN_GROUP] = {broker_handle_group_request, NULL},
    [KAFKA_API_SYNC_GROUP] = {broker_handle_group_request, NULL},
    [KAFKA_API_HEARTBEAT] = {broker_handle_group_request, NULL},
    [KAFKA_API_LEAVE_GROUP] = {broker_handle_group_request, NULL},
    [KAFKA_API_OFFSET_COMMIT] = {broker_handle_group_request, NULL},
    [KAFKA_API_OFFSET_FETCH] = {broker_handle_group_request, NULL},
    [KAFKA_API_DESCRIBE_GROUPS] = {broker_handle_group_request, NULL},
    [KAFKA_API_LIST_GROUPS] = {broker_handle_group_request, NULL},
    [KAFKA_API_DELETE_GROUPS] = {broker_handle_group_request, NULL},
    [KAFKA_API_OFFSET_DELETE] = {broker_handle_group_request, NULL},
};

struct broker *broker_create(const struct node_config *config, struct io *io, u32 timer_base)
{
    ASSERT(config != NULL && io != NULL);
    ASSERT(timer_base + BROKER_TIMERS <= IO_TIMERS_MAX);
    for (u32 key = 0; key < KAFKA_API_KEY_COUNT; key++) {
        bool handled = broker_handlers[key].sync != NULL || broker_handlers[key].async != NULL;
        ASSERT(handled == proto_api_table[key].implemented);
    }
    struct broker *broker = calloc(1, sizeof(*broker));
    if (broker == NULL) return NULL;
    broker->config = *config;
    broker->io = io;
    broker->timer_base = timer_base;
    broker->out = malloc(BROKER_OUT_SIZE);
    broker->link.buffer = malloc(BROKER_LINK_BUFFER_SIZE);
    broker->controller_id = -1;
    broker->producer_ids.correlation = -1;
    broker->scratch = malloc(BROKER_SCRATCH_SIZE);
    broker->delete_names = malloc(BROKER_DELETE_NAMES_SIZE);
    broker->delete_topic = BROKER_TOPIC_NONE;
    broker->groups = broker_groups_create(broker);
    bool ok = broker->out != NULL && broker->link.buffer != NULL && broker->scratch != NULL &&
              broker->delete_names != NULL && broker->groups != NULL;
    if (!ok) {
        broker_destroy(broker);
        return NULL;
    }
    return broker;
}

void broker_destroy(struct broker *broker)
{
    if (broker == NULL) return;
    for (u32 i = 0; i < BROKER_TOPICS_MAX; i++) {
        struct broker_topic *topic = &broker->topics[i];
        if (!topic->used) continue;
        for (u32 p = 0; p < topic->partition_count; p++) {
            if (topic->states[p] != BROKER_PARTITION_NOT_HOSTED) {
                partition_log_drop(&topic->logs[p]);
            }
        }
        free(topic->logs);
        free(topic->states);
        free(topic->replicas);
    }
    for (u32 i = 0; i < BROKER_SLOTS_MAX; i++) {
        free(broker->slots[i].data);
        free(broker->slots[i].arena_memory);
    }
    free(broker->out);
    free(broker->link.buffer);
    free(broker->scratch);
    free(broker->delete_names);
    broker_groups_destroy(broker->groups);
    free(broker);
}

void broker_attach_metadata(struct broker *broker, const struct metadata_image *image,
                            u32 link_timer)
{
    ASSERT(broker->image == NULL && image != NULL);
    broker->image = image;
    broker->link.timer = link_timer;
}

void broker_start(struct broker *broker)
{
    ASSERT(broker->image != NULL);
    broker_link_start(broker);
    broker_maintenance_start(broker);
}

void broker_stop(struct broker *broker)
{
    broker_link_stop(broker);
    broker->stopping = true;
    broker_topics_close(broker);
    broker_groups_reconcile(broker); /* Its groups unload: parked requests end now. */
}

i32 broker_frame_api_key(const u8 *frame, u32 size)
{
    if (size < 2) return -1;
    return (i16)load_u16_be(frame);
}

u64 broker_event_data(enum broker_event_kind kind, u32 slot, u32 index)
{
    ASSERT(slot < 0x10000u);
    return (u64)kind << 48 | (u64)slot << 32 | index;
}

void broker_scratch_arenas(struct broker *broker, struct proto_arena *decode,
                           struct proto_arena *response)
{
    proto_arena_init(decode, broker->scratch, BROKER_ARENA_SIZE);
    proto_arena_init(response, broker->scratch + BROKER_ARENA_SIZE,
                     BROKER_SCRATCH_SIZE - BROKER_ARENA_SIZE);
}

void broker_advertised(const struct broker *broker, char *host, u32 host_size, i32 *port)
{
    const struct config_listener *client = config_client_listener(&broker->config);
    ASSERT(client != NULL); /* Frames arrive only on the client listener. */
    const char *endpoint = client->endpoint;
    for (u32 i = 0; i < broker->config.advertised_count; i++) {
        if (strcmp(broker->config.advertised[i].name, client->name) == 0) {
            endpoint = broker->config.advertised[i].endpoint;
        }
    }
    u16 parsed = 0;
    if (!io_endpoint_parse(endpoint, host, host_size, &parsed)) host[0] = '\0';
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0) snprintf(host, host_size, "localhost");
    *port = parsed;
}

/* ===== Connections and back-pressure ===== */

/* Watches conn (if it is not yet) and records traffic on it now (connections.max.idle.ms). */
static void broker_conn_remember(struct broker *broker, io_conn conn)
{
    u32 index = BROKER_CONNS_MAX;
    for (u32 i = 0; i < BROKER_CONNS_MAX && index == BROKER_CONNS_MAX; i++) {
        if (broker->conns[i] == conn) index = i;
    }
    for (u32 i = 0; i < BROKER_CONNS_MAX && index == BROKER_CONNS_MAX; i++) {
        if (broker->conns[i] == 0) index = i;
    }
    ASSERT(index < BROKER_CONNS_MAX); /* The node accepts at most as many. */
    broker->conns[index] = conn;
    broker->conn_active_ns[index] = io_now_ns(broker->io);
    broker_idle_arm(broker);
}

/* Traffic on a watched connection (an answer left): its idle time starts again. */
static void broker_conn_touch(struct broker *broker, io_conn conn)
{
    for (u32 i = 0; i < BROKER_CONNS_MAX && conn != 0; i++) {
        if (broker->conns[i] == conn) broker->conn_active_ns[i] = io_now_ns(broker->io);
    }
    broker_idle_arm(broker); /* A freed slot may leave a connection to watch. */
}

void broker_conn_opened(struct broker *broker, io_conn conn)
{
    ASSERT(conn != 0);
    broker_conn_remember(broker, conn);
    /* Accepted while every slot is busy: it waits like the others. */
    if (broker->conns_paused) io_read_pause(broker->io, conn, true);
}

void broker_conn_foreign(struct broker *broker, io_conn conn)
{
    ASSERT(conn != 0);
    for (u32 i = 0; i < BROKER_CONNS_MAX; i++) {
        if (broker->conns[i] == conn) broker->conns[i] = 0;
    }
}

void broker_set_close_observer(struct broker *broker,
                               void (*observer)(void *owner, io_conn conn), void *owner)
{
    broker->close_observer = observer;
    broker->close_observer_owner = owner;
}

void broker_conn_close(struct broker *broker, io_conn conn)
{
    ASSERT(conn != 0);
    io_close(broker->io, conn);
    broker_conn_closed(broker, conn);
    if (broker->close_observer != NULL) broker->close_observer(broker->close_observer_owner, conn);
}

static struct broker_slot *broker_slot_of_conn(struct broker *broker, io_conn conn)
{
    for (u32 i = 0; i < BROKER_SLOTS_MAX; i++) {
        if (broker->slots[i].used && broker->slots[i].conn == conn) return &broker->slots[i];
    }
    return NULL;
}

static struct broker_slot *broker_slot_free(struct broker *broker)
{
    for (u32 i = 0; i < BROKER_SLOTS_MAX; i++) {
        if (!broker->slots[i].used) return &broker->slots[i];
    }
    return NULL;
}

/* Pauses or resumes reading on every connection that has no request in service (a parked
 * group request is one: its connection stays paused until its answer leaves). */
static void broker_pause_all(struct broker *broker, bool paused)
{
    broker->conns_paused = paused;
    for (u32 i = 0; i < BROKER_CONNS_MAX; i++) {
        io_conn conn = broker->conns[i];
        if (conn == 0 || broker_slot_of_conn(broker, conn) != NULL) continue;
        if (broker_groups_parked_on(broker, conn)) continue;
        io_read_pause(broker->io, conn, paused);
    }
}

void broker_conn_answered(struct broker *broker, io_conn conn)
{
    ASSERT(conn != 0);
    bool watched = false;
    for (u32 i = 0; i < BROKER_CONNS_MAX && !watched; i++) watched = broker->conns[i] == conn;
    /* Closed since (a failed send): nothing to resume. */
    if (watched && !broker->conns_paused) io_read_pause(broker->io, conn, false);
    broker_conn_touch(broker, conn);
}

void broker_conn_closed(struct broker *broker, io_conn conn)
{
    ASSERT(conn != 0);
    for (u32 i = 0; i < BROKER_CONNS_MAX; i++) {
        if (broker->conns[i] == conn) broker->conns[i] = 0;
    }
    broker_groups_conn_closed(broker, conn); /* A parked request is cancelled. */
    struct broker_slot *slot = broker_slot_of_conn(broker, conn);
    if (slot == NULL) return;
    slot->conn = 0; /* Operations in flight finish; the answer is dropped. */
    if (slot->parked) broker_fetch_on_timer(broker, slot);
}

/* ===== Slots ===== */

/* Arms BROKER_TIMER_SLOTS at the earliest slot deadline (or cancels it when there is none).
 * One timer for every slot keeps the slot count free of the node's timer budget. */
static void broker_slot_timer_arm(struct broker *broker)
{
    u64 earliest = 0;
    for (u32 i = 0; i < BROKER_SLOTS_MAX; i++) {
        u64 when = broker->slots[i].timer_ns;
        if (when != 0 && (earliest == 0 || when < earliest)) earliest = when;
    }
    if (earliest == broker->slot_timer_ns) return;
    if (earliest == 0) {
        io_timer_cancel(broker->io, broker->timer_base + BROKER_TIMER_SLOTS);
    } else {
        io_timer_set(broker->io, broker->timer_base + BROKER_TIMER_SLOTS, earliest);
    }
    broker->slot_timer_ns = earliest;
}

void broker_slot_timer_set(struct broker *broker, struct broker_slot *slot, u64 deadline_ns)
{
    ASSERT(slot->used);
    slot->timer_ns = MAX(deadline_ns, 1); /* 0 means none. */
    broker_slot_timer_arm(broker);
}

void broker_slot_timer_cancel(struct broker *broker, struct broker_slot *slot)
{
    if (slot->timer_ns == 0) return;
    slot->timer_ns = 0;
    broker_slot_timer_arm(broker);
}

struct broker_slot *broker_slot_take(struct broker *broker, io_conn conn, const u8 *frame,
                                     u32 size, const struct proto_request_header *header)
{
    ASSERT(broker_slot_of_conn(broker, conn) == NULL);
    struct broker_slot *slot = broker_slot_free(broker);
    if (slot == NULL) return NULL;
    /* A slot's memory comes with its first use and stays: a node that never has many requests
     * in service at once (most simulated ones) never pays for all its slots. */
    if (slot->arena_memory == NULL) slot->arena_memory = malloc(BROKER_ARENA_SIZE);
    if (slot->data == NULL) slot->data = malloc(BROKER_DATA_SIZE_MAX);
    if (slot->arena_memory == NULL || slot->data == NULL) return NULL;
    slot->used = true;
    slot->conn = conn;
    slot->header = *header;
    /* Holding also stops reading on the connection until the slot is finished. */
    slot->frame = io_frame_hold(broker->io, conn, frame, size);
    ASSERT(slot->frame != NULL);
    slot->frame_size = size;
    slot->frame_conn = conn;
    slot->data_used = 0;
    slot->part_count = 0;
    slot->pending = 0;
    slot->next_part = 0;
    slot->parked = false;
    slot->waited = false;
    slot->arrival_ns = io_now_ns(broker->io);
    slot->forwarding = false;
    slot->forward_sent = false;
    proto_arena_init(&slot->arena, slot->arena_memory, BROKER_ARENA_SIZE);
    if (broker_slot_free(broker) == NULL) broker_pause_all(broker, true);
    return slot;
}

/* Sends the answer (unless response is NULL: acks=0, or the connection is gone) and frees the
 * slot, resuming reading on its connection. */
void broker_slot_finish(struct broker *broker, struct broker_slot *slot,
                        const union kafka_response *response)
{
    ASSERT(slot->used);
    ASSERT(slot->pending == 0);
    io_conn conn = slot->conn;
    if (conn != 0 && response != NULL) {
        broker_send_response(broker, conn, &slot->header, response);
    }
    if (conn != 0) {
        broker_metrics_latency(broker, slot->header.RequestApiKey,
                               io_now_ns(broker->io) - slot->arrival_ns);
    }
    broker_slot_timer_cancel(broker, slot);
    slot->used = false;
    slot->conn = 0;
    io_frame_release(broker->io, slot->frame_conn); /* Owed even when the connection closed. */
    slot->frame = NULL;
    slot->frame_conn = 0;
    if (broker->conns_paused) broker_pause_all(broker, false);
    broker_conn_touch(broker, conn);
}

void broker_send_response(struct broker *broker, io_conn conn,
                          const struct proto_request_header *header,
                          const union kafka_response *response)
{
    struct proto_writer writer;
    proto_writer_init(&writer, broker->out, BROKER_OUT_SIZE);
    enum proto_error error =
        proto_response_frame_encode(&writer, header->RequestApiKey, header->RequestApiVersion,
                                    header->CorrelationId, response);
    /* Every response is built from values this broker chose: failing to encode one is a bug,
     * except running out of room, which the size limits make impossible. */
    if (error != PROTO_OK) {
        io_log(broker->io, IO_LOG_ERROR, "broker: api %d v%d response: %s",
               header->RequestApiKey, header->RequestApiVersion, proto_error_name(error));
    }
    ASSERT(error == PROTO_OK);
    enum io_result result = io_send(broker->io, conn, broker->out, writer.position);
    if (result != IO_OK) {
        io_log(broker->io, IO_LOG_WARN, "broker: cannot send a response (%s); closing",
               io_result_name(result));
        broker_conn_close(broker, conn);
        return;
    }
    broker_metrics_sent(broker, header->RequestApiKey, writer.position);
    broker_metrics_answered(broker, header->RequestApiKey, header->RequestApiVersion, response);
}

/* ===== Dispatch ===== */

static bool broker_handle_api_versions(struct broker *broker, io_conn conn,
                                       const struct proto_request_header *header,
                                       struct proto_reader *body)
{
    struct proto_writer writer;
    proto_writer_init(&writer, broker->out, BROKER_OUT_SIZE);
    if (proto_api_versions_respond(proto_api_table, header, body, &writer) != PROTO_OK) {
        return false;
    }
    if (io_send(broker->io, conn, broker->out, writer.position) != IO_OK) return false;
    broker_metrics_sent_frame(broker, header, broker->out, writer.position);
    return true;
}

static bool broker_frame_serve(struct broker *broker, io_conn conn, const u8 *frame, u32 size);

/* Answered inside broker_on_frame (no request slot). */
static bool broker_frame_sync(i32 key)
{
    return key == KAFKA_API_API_VERSIONS ||
           (key >= 0 && key < KAFKA_API_KEY_COUNT && broker_handlers[key].sync != NULL);
}

/* The request metrics around serving a frame: arrival, rejection, latency of sync answers
 * (async ones are timed when their slot finishes). */
bool broker_on_frame(struct broker *broker, io_conn conn, const u8 *frame, u32 size)
{
    ASSERT(conn != 0);
    u64 arrival_ns = io_now_ns(broker->io);
    i32 key = broker_frame_api_key(frame, size);
    broker_metrics_request(broker, key, size);
    bool ok = broker_frame_serve(broker, conn, frame, size);
    if (!ok) {
        i16 version = size >= 4 ? (i16)load_u16_be(frame + 2) : -1;
        bool unsupported = key >= 0 && key != KAFKA_API_API_VERSIONS && size >= 4 &&
                           !proto_api_advertised(proto_api_table, (i16)key, version);
        broker_metrics_rejected(broker, key, unsupported);
    } else if (broker_frame_sync(key) && !broker_groups_parked_on(broker, conn)) {
        /* A parked group request is timed when its answer leaves (broker_groups.c). */
        broker_metrics_latency(broker, key, io_now_ns(broker->io) - arrival_ns);
    }
    return ok;
}

static bool broker_frame_serve(struct broker *broker, io_conn conn, const u8 *frame, u32 size)
{
    ASSERT(broker_slot_of_conn(broker, conn) == NULL); /* Reading is paused while busy. */
    ASSERT(!broker_groups_parked_on(broker, conn));
    broker_conn_remember(broker, conn);
    struct proto_reader reader;
    proto_reader_init(&reader, frame, size);
    struct proto_request_header header;
    if (proto_request_header_decode(&reader, &header) != PROTO_OK) return false;
    i16 key = header.RequestApiKey;
    if (key == KAFKA_API_API_VERSIONS) {
        return broker_handle_api_versions(broker, conn, &header, &reader);
    }
    if (!proto_api_advertised(proto_api_table, key, header.RequestApiVersion)) {
        io_log(broker->io, IO_LOG_WARN, "broker: api %d v%d is not served; closing", key,
               header.RequestApiVersion);
        return false;
    }
    const struct broker_handler *handler = &broker_handlers[key];
    if (handler->sync != NULL) return handler->sync(broker, conn, &header, &reader);
    ASSERT(handler->async != NULL);
    struct broker_slot *slot = broker_slot_take(broker, conn, frame, size, &header);
    if (slot == NULL) {
        io_log(broker->io, IO_LOG_WARN, "broker: no request slot for %u bytes; closing", size);
        return false;
    }
    /* Decode the body again from the held bytes, so every view outlives this call. */
    proto_reader_init(&reader, slot->frame, slot->frame_size);
    if (proto_request_header_decode(&reader, &header) != PROTO_OK ||
        kafka_request_decode(&reader, key, header.RequestApiVersion, &slot->request,
                             &slot->arena) != PROTO_OK) {
        slot->conn = 0;
        broker_slot_finish(broker, slot, NULL);
        return false;
    }
    if (!handler->async(broker, slot)) {
        /* Refused before any log operation was issued (the handlers check their bounds
         * first), so the slot is free again at once. */
        ASSERT(slot->pending == 0);
        slot->conn = 0;
        broker_slot_finish(broker, slot, NULL);
        return false;
    }
    return true;
}

/* ===== Files and timers ===== */

void broker_on_file(struct broker *broker, const struct io_completion *completion)
{
    u64 user_data = completion->user_data;
    ASSERT((user_data & ((u64)0xff << 56)) == BROKER_FILE_TAG);
    if (user_data & BROKER_FILE_DELETE) {
        broker_delete_on_file(broker, completion);
        return;
    }
    if (user_data & BROKER_FILE_GROUP_LOAD) {
        broker_groups_on_file(broker, completion);
        return;
    }
    u32 io_tag = (u32)(user_data >> 32);
    u32 topic = (io_tag >> 8) & 0xfffu;
    u32 partition = io_tag & 0xffu;
    if (topic >= BROKER_TOPICS_MAX || !broker->topics[topic].used ||
        partition >= broker->topics[topic].partition_count) {
        io_log(broker->io, IO_LOG_ERROR, "broker: stray file completion %llx",
               (unsigned long long)user_data);
        return;
    }
    struct partition_log *log = &broker->topics[topic].logs[partition];
    ASSERT(partition_log_owns(log, user_data));
    partition_log_on_file(log, completion);
}

void broker_on_timer(struct broker *broker, u32 timer_id)
{
    ASSERT(timer_id >= broker->timer_base);
    u32 index = timer_id - broker->timer_base;
    ASSERT(index < BROKER_TIMERS);
    if (index == BROKER_TIMER_REPLICATION) {
        broker_replication_on_timer(broker);
        return;
    }
    if (index == BROKER_TIMER_FETCHER) {
        broker_fetcher_on_timer(broker);
        return;
    }
    if (index != BROKER_TIMER_SLOTS) {
        ASSERT(index >= BROKER_TIMER_IDLE);
        broker_periodic_on_timer(broker, index);
        return;
    }
    broker->slot_timer_ns = 0;
    u64 now = io_now_ns(broker->io);
    for (u32 i = 0; i < BROKER_SLOTS_MAX; i++) {
        struct broker_slot *slot = &broker->slots[i];
        if (slot->timer_ns == 0 || slot->timer_ns > now) continue;
        slot->timer_ns = 0;
        if (!slot->used) continue;
        if (slot->forwarding) {
            broker_forward_on_timer(broker, slot);
        } else if (slot->parked) {
            broker_fetch_on_timer(broker, slot);
        }
    }
    broker_slot_timer_arm(broker);
}
