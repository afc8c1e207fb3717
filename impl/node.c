/* node.c: one broker process: the composition of the subsystems it runs and their connections.
 *
 * A node runs the KRaft-style metadata quorum (impl/quorum), its metadata image
 * (impl/metadata: the quorum's state machine, fed every committed entry), the controller
 * (impl/controller, if process.roles has controller: active while its quorum leads) and the
 * broker (impl/broker: topics and logs as the image says, the Kafka APIs, and its link to the
 * active controller). It opens the controller listener (if a controller) and the client
 * listener, keeps one outgoing connection to every other voter (reconnecting with a jittered,
 * doubling backoff when one closes), accepts connections from peers and clients, and routes
 * every io event:
 *   - timers: [NODE_TIMER_QUORUM, +QUORUM_TIMERS) to the quorum, [NODE_TIMER_RECONNECT, +voters)
 *     to reconnection, [NODE_TIMER_BROKER, +BROKER_TIMERS) to the broker,
 *     [NODE_TIMER_CONTROLLER, +CONTROLLER_TIMERS) to the controller, NODE_TIMER_LINK to the
 *     broker's link, NODE_TIMER_GROUPS to the broker's group coordinator;
 *   - file completions: user_data bits 56..63 name the subsystem (1 = quorum, 2 = broker);
 *   - frames: by the connection's kind (outgoing to voter i, the broker's link or one of its
 *     replica fetchers, accepted controller, accepted client); on the controller listener the
 *     Raft api keys go to the quorum and the rest (BrokerRegistration, BrokerHeartbeat,
 *     forwarded admin requests...) to the controller; on the client listener, Kafka api keys
 *     (below 10000) go to the broker and the quorum's own client keys to the quorum. A
 *     malformed frame is logged and its connection closed.
 * After every event that reached the quorum, the node tells the broker who leads (its link
 * follows the active controller) and the controller whether it may be active.
 * Invariants: each io_conn appears at most once in the tables; an outgoing connection slot is
 * either idle (0), connecting, or connected. Tested by the simulator's runs (every scenario
 * drives nodes through crash, restart, partition and graceful stop). */
#include "node.h"

#include "broker/broker.h"
#include "controller/controller.h"
#include "metadata/metadata.h"
#include "quorum/quorum.h"
#include "quorum/wire.h"
#include "../model/history.h"

#include <stdlib.h>
#include <string.h>

#define NODE_TIMER_QUORUM 0u
#define NODE_TIMER_RECONNECT 8u
#define NODE_TIMER_BROKER 24u
#define NODE_TIMER_CONTROLLER 32u
#define NODE_TIMER_LINK (NODE_TIMER_CONTROLLER + CONTROLLER_TIMERS)
/* After every older id, which the simulator's trace records: runs without groups keep them. */
#define NODE_TIMER_GROUPS (NODE_TIMER_LINK + 1u)
#define NODE_CONNS_MAX 256u
#define NODE_FILE_TAG_QUORUM ((u64)1 << 56)
#define NODE_BACKOFF_MIN_NS (50 * NS_PER_MS)
#define NODE_BACKOFF_MAX_NS (1000 * NS_PER_MS)

_Static_assert(NODE_TIMER_QUORUM + QUORUM_TIMERS <= NODE_TIMER_RECONNECT, "timer ranges overlap");
_Static_assert(NODE_TIMER_RECONNECT + CONFIG_VOTERS_MAX <= NODE_TIMER_BROKER, "timers overlap");
_Static_assert(NODE_TIMER_BROKER + BROKER_TIMERS <= NODE_TIMER_CONTROLLER, "timers overlap");
_Static_assert(NODE_TIMER_LINK < IO_TIMERS_MAX, "too many timers");
_Static_assert(NODE_TIMER_GROUPS < IO_TIMERS_MAX, "too many timers");
_Static_assert(BROKER_FILE_TAG != NODE_FILE_TAG_QUORUM, "file tags collide");

enum node_tag {
    NODE_TAG_LISTEN_CONTROLLER = 1,
    NODE_TAG_LISTEN_CLIENT = 2,
    NODE_TAG_PEER = 0x100, /* + voter index */
};

struct node_peer {
    io_conn conn;
    bool connected;
    u64 backoff_ns;
};

struct node_conn {
    io_conn conn; /* 0: free slot. */
    u64 tag;      /* The listener it was accepted on. */
};

struct node {
    struct node_config config;
    struct io *io;
    struct quorum *quorum;
    struct broker *broker;
    struct controller *controller; /* NULL unless process.roles has controller. */
    struct metadata_image image;   /* The committed metadata, applied entry by entry. */
    bool image_ready;
    struct metadata_record *records; /* Decoding one entry. */
    i32 leader_seen;               /* The quorum leader last handed to the broker. */
    struct node_peer peers[CONFIG_VOTERS_MAX];
    struct node_conn conns[NODE_CONNS_MAX];
    bool stopping;
};

/* ===== The metadata image: the quorum's state machine ===== */

static u64 node_ids_mask(const struct metadata_ids *ids, u32 *flags)
{
    u64 mask = 0;
    for (u32 i = 0; i < ids->count; i++) {
        if (ids->ids[i] >= 0 && ids->ids[i] < 64) mask |= (u64)1 << ids->ids[i];
        else *flags |= HISTORY_BROKER_IDS_OVERFLOW;
    }
    return mask;
}

/* Reports what an applied record did to a partition or a broker (model/history.h), so the
 * controller checkers can judge every decision from outside. */
static void node_observe_record(struct node *node, i64 offset, u32 index,
                                const struct metadata_record *record)
{
    struct io_observation seen = {.a = (u64)offset, .b = index};
    struct history_partition_state state = {0};
    const struct metadata_uuid *topic_id = NULL;
    i32 partition_id = -1, broker_id = -1;
    switch (record->type) {
    case METADATA_PARTITION:
        topic_id = &record->as.partition.topic_id;
        partition_id = record->as.partition.partition_id;
        break;
    case METADATA_PARTITION_CHANGE:
        topic_id = &record->as.partition_change.topic_id;
        partition_id = record->as.partition_change.partition_id;
        break;
    case METADATA_TOPIC:
        seen.kind = HISTORY_METADATA_TOPIC;
        seen.c = history_topic_hash(record->as.topic.topic_id.bytes);
        seen.data = (const u8 *)record->as.topic.name;
        seen.data_size = (u32)strlen(record->as.topic.name);
        break;
    case METADATA_REMOVE_TOPIC:
        seen.kind = HISTORY_METADATA_TOPIC_REMOVED;
        seen.c = history_topic_hash(record->as.remove_topic.topic_id.bytes);
        break;
    case METADATA_REGISTER_BROKER: broker_id = record->as.register_broker.broker_id; break;
    case METADATA_UNREGISTER_BROKER: broker_id = record->as.unregister_broker.broker_id; break;
    case METADATA_FENCE_BROKER: broker_id = record->as.fence_broker.broker_id; break;
    case METADATA_UNFENCE_BROKER: broker_id = record->as.unfence_broker.broker_id; break;
    case METADATA_BROKER_REGISTRATION_CHANGE:
        broker_id = record->as.registration_change.broker_id;
        break;
    case METADATA_CONFIG:
        if (strcmp(record->as.config.name, "unclean.leader.election.enable") != 0) return;
        seen.kind = HISTORY_METADATA_UNCLEAN;
        seen.c = !record->as.config.value_null && strcmp(record->as.config.value, "true") == 0;
        seen.d = (u64)record->as.config.resource_type;
        break;
    default: return;
    }
    if (topic_id != NULL) {
        const struct metadata_topic *topic = metadata_topic_find_id(&node->image, topic_id);
        if (topic == NULL || partition_id < 0 || (u32)partition_id >= topic->partition_count) {
            return;
        }
        const struct metadata_partition *partition = &topic->partitions[partition_id];
        state.leader = partition->leader;
        state.leader_epoch = partition->leader_epoch;
        state.partition_epoch = partition->partition_epoch;
        state.isr = node_ids_mask(&partition->isr, &state.flags);
        state.replicas = node_ids_mask(&partition->replicas, &state.flags);
        seen.kind = HISTORY_METADATA_PARTITION;
        seen.c = history_topic_hash(topic_id->bytes);
        seen.d = (u64)partition_id;
        seen.data = (const u8 *)&state;
        seen.data_size = sizeof(state);
    }
    if (broker_id >= 0) {
        const struct metadata_broker *broker = metadata_broker_find(&node->image, broker_id);
        seen.kind = HISTORY_METADATA_BROKER;
        seen.c = (u64)broker_id;
        seen.d = broker == NULL ? 0
                                : HISTORY_BROKER_REGISTERED |
                                      (broker->fenced ? HISTORY_BROKER_FENCED : 0) |
                                      (broker->in_controlled_shutdown
                                           ? HISTORY_BROKER_SHUTTING_DOWN : 0);
    }
    io_observe(node->io, &seen);
}

/* A committed entry: metadata records go into the image (every node applies the same entries
 * in the same order, so images agree), then the controller and the broker react. */
static void node_apply(void *context, i64 offset, i32 epoch, const u8 *payload, u32 size,
                       bool control)
{
    struct node *node = context;
    u32 count = 0;
    enum metadata_decode_result decoded = METADATA_FOREIGN;
    if (!control) {
        decoded = metadata_decode(payload, size, node->records, METADATA_ENTRY_RECORDS_MAX,
                                  &count);
    }
    if (decoded == METADATA_MALFORMED) {
        io_log(node->io, IO_LOG_ERROR, "node: metadata entry %lld is malformed; skipped",
               (long long)offset);
    }
    for (u32 i = 0; i < count && decoded == METADATA_DECODED; i++) {
        if (!metadata_image_apply(&node->image, offset, &node->records[i])) {
            io_log(node->io, IO_LOG_WARN, "node: metadata record %u (type %d) of entry %lld "
                   "does not apply; skipped", i, (int)node->records[i].type, (long long)offset);
        } else {
            node_observe_record(node, offset, i, &node->records[i]);
        }
    }
    metadata_image_applied(&node->image, offset);
    if (node->controller != NULL) controller_on_applied(node->controller, offset, epoch, control);
    if (decoded == METADATA_DECODED && count > 0) broker_on_metadata(node->broker);
}

static u32 node_save_snapshot(void *context, u8 *buffer, u32 capacity)
{
    struct node *node = context;
    return metadata_image_save(&node->image, buffer, capacity);
}

static bool node_load_snapshot(void *context, const u8 *data, u32 size)
{
    struct node *node = context;
    bool ok = metadata_image_load(&node->image, data, size);
    broker_on_metadata(node->broker);
    return ok;
}

/* After every event the quorum saw: the broker follows the leader (the active controller), the
 * controller learns whether it is active. */
static void node_quorum_changed(struct node *node)
{
    struct quorum_status status;
    quorum_status(node->quorum, &status);
    if ((node->config.roles & CONFIG_ROLE_BROKER) && status.leader_id != node->leader_seen) {
        node->leader_seen = status.leader_id;
        broker_set_controller(node->broker, status.leader_id);
    }
    if (node->controller != NULL) controller_on_quorum_change(node->controller);
}

/* The Raft requests a voter's controller listener serves; the rest go to the controller. */
static bool node_is_quorum_api(i32 api_key)
{
    return api_key == QUORUM_API_FETCH || api_key == QUORUM_API_VOTE ||
           api_key == QUORUM_API_BEGIN_QUORUM_EPOCH || api_key == QUORUM_API_END_QUORUM_EPOCH ||
           api_key == 55 /* DescribeQuorum */ || api_key == 59 /* FetchSnapshot */;
}

static void node_conn_forget(void *process, io_conn conn);

struct node *node_create(const struct node_config *config, struct io *io)
{
    ASSERT(config != NULL && io != NULL);
    struct node *node = calloc(1, sizeof(*node));
    if (node == NULL) return NULL;
    node->config = *config;
    node->io = io;
    node->leader_seen = -1;
    node->quorum = quorum_create(&node->config, io, NODE_TIMER_QUORUM, NODE_FILE_TAG_QUORUM);
    node->broker = broker_create(&node->config, io, NODE_TIMER_BROKER);
    node->records = calloc(METADATA_ENTRY_RECORDS_MAX, sizeof(*node->records));
    node->image_ready = metadata_image_init(&node->image);
    if (node->quorum != NULL && (config->roles & CONFIG_ROLE_CONTROLLER)) {
        node->controller = controller_create(&node->config, io, node->quorum, &node->image,
                                             NODE_TIMER_CONTROLLER);
    }
    bool controller_ok = node->controller != NULL || !(config->roles & CONFIG_ROLE_CONTROLLER);
    if (node->quorum == NULL || node->broker == NULL || node->records == NULL ||
        !node->image_ready || !controller_ok) {
        node_destroy(node);
        return NULL;
    }
    broker_attach_metadata(node->broker, &node->image, NODE_TIMER_LINK);
    broker_attach_group_timer(node->broker, NODE_TIMER_GROUPS);
    broker_set_close_observer(node->broker, node_conn_forget, node);
    struct quorum_state_machine machine = {.context = node,
                                           .apply = node_apply,
                                           .save_snapshot = node_save_snapshot,
                                           .load_snapshot = node_load_snapshot};
    quorum_set_state_machine(node->quorum, &machine);
    return node;
}

struct broker *node_broker(struct node *node) { return node->broker; }

void node_destroy(struct node *node)
{
    if (node == NULL) return;
    controller_destroy(node->controller);
    quorum_destroy(node->quorum);
    broker_destroy(node->broker);
    if (node->image_ready) metadata_image_free(&node->image);
    free(node->records);
    free(node);
}

static bool is_self(const struct node *node, u32 index)
{
    return node->config.voters[index].id == node->config.node_id;
}

static void peer_connect(struct node *node, u32 index)
{
    ASSERT(index < node->config.voter_count);
    ASSERT(node->peers[index].conn == 0);
    if (node->stopping) return;
    io_conn conn = io_connect(node->io, node->config.voters[index].endpoint,
                              NODE_TAG_PEER + index, QUORUM_FRAME_SIZE_MAX);
    if (conn == 0) {
        io_log(node->io, IO_LOG_ERROR, "node: malformed voter endpoint %s",
               node->config.voters[index].endpoint);
        return;
    }
    node->peers[index].conn = conn;
    node->peers[index].connected = false;
}

static void peer_schedule_reconnect(struct node *node, u32 index)
{
    struct node_peer *peer = &node->peers[index];
    peer->backoff_ns = peer->backoff_ns == 0 ? NODE_BACKOFF_MIN_NS
                                             : MIN(peer->backoff_ns * 2, NODE_BACKOFF_MAX_NS);
    u64 jitter = io_random_below(node->io, peer->backoff_ns / 2 + 1);
    io_timer_set(node->io, NODE_TIMER_RECONNECT + index,
                 io_now_ns(node->io) + peer->backoff_ns / 2 + jitter);
}

static void listen_on(struct node *node, const struct config_listener *listener, u64 tag)
{
    u32 frame_max = MIN(node->config.socket_request_max_bytes, QUORUM_FRAME_SIZE_MAX);
    if (frame_max == 0) frame_max = QUORUM_FRAME_SIZE_MAX;
    enum io_result result = io_listen(node->io, listener->endpoint, tag, frame_max);
    if (result != IO_OK) {
        io_log(node->io, IO_LOG_ERROR, "node: cannot listen on %s (%s): %s", listener->endpoint,
               listener->name, io_result_name(result));
    }
}

static void node_on_start(void *process)
{
    struct node *node = process;
    const struct config_listener *controller = config_controller_listener(&node->config);
    const struct config_listener *client = config_client_listener(&node->config);
    if ((node->config.roles & CONFIG_ROLE_CONTROLLER) && controller != NULL) {
        listen_on(node, controller, NODE_TAG_LISTEN_CONTROLLER);
    }
    if (client != NULL) listen_on(node, client, NODE_TAG_LISTEN_CLIENT);
    quorum_start(node->quorum);
    broker_start(node->broker);
    node_quorum_changed(node);
    for (u32 i = 0; i < node->config.voter_count; i++) {
        if (!is_self(node, i)) peer_connect(node, i);
    }
}

static void node_on_timer(void *process, u32 timer_id)
{
    struct node *node = process;
    if (timer_id < NODE_TIMER_QUORUM + QUORUM_TIMERS) {
        quorum_on_timer(node->quorum, timer_id);
        node_quorum_changed(node);
        return;
    }
    if (timer_id >= NODE_TIMER_CONTROLLER && timer_id < NODE_TIMER_CONTROLLER + CONTROLLER_TIMERS) {
        if (node->controller != NULL) controller_on_timer(node->controller, timer_id);
        return;
    }
    if (timer_id == NODE_TIMER_LINK) {
        broker_link_on_timer(node->broker);
        return;
    }
    if (timer_id == NODE_TIMER_GROUPS) {
        broker_groups_on_timer(node->broker);
        return;
    }
    if (timer_id >= NODE_TIMER_BROKER && timer_id < NODE_TIMER_BROKER + BROKER_TIMERS) {
        broker_on_timer(node->broker, timer_id);
        return;
    }
    if (timer_id >= NODE_TIMER_RECONNECT && timer_id < NODE_TIMER_RECONNECT + CONFIG_VOTERS_MAX) {
        u32 index = timer_id - NODE_TIMER_RECONNECT;
        if (index < node->config.voter_count && node->peers[index].conn == 0) {
            peer_connect(node, index);
        }
    }
}

static struct node_conn *conn_find(struct node *node, io_conn conn)
{
    for (u32 i = 0; i < NODE_CONNS_MAX; i++) {
        if (node->conns[i].conn == conn) return &node->conns[i];
    }
    return NULL;
}

static i32 peer_find(const struct node *node, io_conn conn)
{
    for (u32 i = 0; i < node->config.voter_count; i++) {
        if (node->peers[i].conn == conn) return (i32)i;
    }
    return -1;
}

static void on_accepted(struct node *node, io_conn conn, u64 tag)
{
    ASSERT(conn_find(node, conn) == NULL);
    struct node_conn *slot = conn_find(node, 0);
    if (slot == NULL) {
        io_log(node->io, IO_LOG_WARN, "node: connection table full; refusing a connection");
        io_close(node->io, conn);
        return;
    }
    slot->conn = conn;
    slot->tag = tag;
    /* Watched for connections.max.idle.ms from now on, even if it never speaks. */
    if (tag == NODE_TAG_LISTEN_CLIENT) broker_conn_opened(node->broker, conn);
}

/* The broker closed a client connection on its own (idle, a failed send): forget it too. */
static void node_conn_forget(void *process, io_conn conn)
{
    struct node *node = process;
    struct node_conn *slot = conn_find(node, conn);
    if (slot == NULL) return;
    quorum_conn_closed(node->quorum, conn);
    if (node->controller != NULL) controller_conn_closed(node->controller, conn);
    slot->conn = 0;
}

static void peer_lost(struct node *node, u32 index)
{
    bool was_connected = node->peers[index].connected;
    node->peers[index].conn = 0;
    node->peers[index].connected = false;
    if (was_connected) quorum_peer_closed(node->quorum, index);
    peer_schedule_reconnect(node, index);
}

static void node_on_conn(void *process, io_conn conn, enum io_conn_event event,
                         enum io_close_reason reason, u64 tag)
{
    struct node *node = process;
    (void)reason;
    if (event == IO_CONN_ACCEPTED) {
        on_accepted(node, conn, tag);
        return;
    }
    if (broker_fetcher_owns(node->broker, conn)) {
        broker_fetcher_on_conn(node->broker, conn, event);
        return;
    }
    if (conn == broker_link_conn(node->broker)) {
        broker_link_on_conn(node->broker, event);
        return;
    }
    i32 index = peer_find(node, conn);
    if (index >= 0) {
        if (event == IO_CONN_CONNECTED) {
            node->peers[index].connected = true;
            node->peers[index].backoff_ns = 0;
            quorum_peer_connected(node->quorum, (u32)index, conn);
        } else {
            peer_lost(node, (u32)index);
        }
        node_quorum_changed(node);
        return;
    }
    struct node_conn *slot = conn_find(node, conn);
    if (slot != NULL && event == IO_CONN_CLOSED) {
        quorum_conn_closed(node->quorum, conn);
        broker_conn_closed(node->broker, conn);
        if (node->controller != NULL) controller_conn_closed(node->controller, conn);
        slot->conn = 0;
    }
}

static void node_on_frame(void *process, io_conn conn, const u8 *frame, u32 size)
{
    struct node *node = process;
    if (broker_fetcher_owns(node->broker, conn)) {
        broker_fetcher_on_frame(node->broker, conn, frame, size);
        return;
    }
    if (conn == broker_link_conn(node->broker)) {
        if (!broker_link_on_frame(node->broker, frame, size)) {
            io_log(node->io, IO_LOG_WARN, "node: malformed answer from the controller; closing");
            io_close(node->io, conn);
            broker_link_on_conn(node->broker, IO_CONN_CLOSED);
        }
        return;
    }
    i32 index = peer_find(node, conn);
    if (index >= 0) {
        if (!quorum_on_response(node->quorum, (u32)index, frame, size)) {
            io_log(node->io, IO_LOG_WARN, "node: malformed response from voter %u; closing",
                   node->config.voters[index].id);
            io_close(node->io, conn);
            peer_lost(node, (u32)index);
        }
        node_quorum_changed(node);
        return;
    }
    struct node_conn *slot = conn_find(node, conn);
    if (slot == NULL) return;
    /* On the client listener, Kafka api keys go to the broker, the quorum's own (10000+) to
     * the quorum. */
    i32 api_key = broker_frame_api_key(frame, size);
    bool kafka = slot->tag == NODE_TAG_LISTEN_CLIENT && api_key >= 0 &&
                 api_key < BROKER_API_KEY_INTERNAL_MIN;
    bool ok;
    bool to_quorum = false; /* Only the quorum's own traffic can change who leads. */
    if (kafka) {
        ok = broker_on_frame(node->broker, conn, frame, size);
    } else if (slot->tag == NODE_TAG_LISTEN_CONTROLLER && !node_is_quorum_api(api_key)) {
        ok = node->controller != NULL &&
             controller_on_request(node->controller, conn, frame, size);
    } else if (slot->tag == NODE_TAG_LISTEN_CONTROLLER) {
        to_quorum = true;
        ok = quorum_on_request(node->quorum, conn, frame, size);
    } else {
        broker_conn_foreign(node->broker, conn); /* The quorum's client: not the broker's. */
        to_quorum = true;
        ok = quorum_on_client_request(node->quorum, conn, frame, size);
    }
    if (!ok) {
        io_log(node->io, IO_LOG_WARN, "node: malformed request (%u bytes); closing", size);
        io_close(node->io, conn);
        quorum_conn_closed(node->quorum, conn);
        broker_conn_closed(node->broker, conn);
        if (node->controller != NULL) controller_conn_closed(node->controller, conn);
        slot->conn = 0;
    }
    if (to_quorum) node_quorum_changed(node);
}

static void node_on_file(void *process, const struct io_completion *completion)
{
    struct node *node = process;
    u64 subsystem = completion->user_data & ((u64)0xff << 56);
    if (subsystem == NODE_FILE_TAG_QUORUM) {
        quorum_on_file(node->quorum, completion);
        node_quorum_changed(node);
        return;
    }
    if (subsystem == BROKER_FILE_TAG) {
        broker_on_file(node->broker, completion);
        return;
    }
    io_log(node->io, IO_LOG_ERROR, "node: file completion for no subsystem (%llx)",
           (unsigned long long)completion->user_data);
}

static void node_on_stop(void *process)
{
    struct node *node = process;
    broker_stop(node->broker); /* First: its last heartbeat asks for a controlled shutdown. */
    quorum_stop(node->quorum);
    node->stopping = true;
}

const struct io_handler_vtable node_handler = {
    .on_start = node_on_start,
    .on_timer = node_on_timer,
    .on_conn = node_on_conn,
    .on_frame = node_on_frame,
    .on_file = node_on_file,
    .on_stop = node_on_stop,
};
