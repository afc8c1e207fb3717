/* node.c: one broker process: the composition of the subsystems it runs and their connections.
 *
 * Today a node runs the KRaft-style metadata quorum (impl/quorum). It opens the controller
 * listener (if process.roles has controller) and the client listener, keeps one outgoing
 * connection to every other voter (reconnecting with a jittered, doubling backoff when one
 * closes), accepts connections from peers and clients, and routes every io event:
 *   - timers: [NODE_TIMER_QUORUM, +QUORUM_TIMERS) to the quorum, [NODE_TIMER_RECONNECT, +voters)
 *     to reconnection, [NODE_TIMER_BROKER, +BROKER_TIMERS) to the broker;
 *   - file completions: user_data bits 56..63 name the subsystem (1 = quorum, 2 = broker);
 *   - frames: by the connection's kind (outgoing to voter i, accepted controller, accepted
 *     client); on the client listener, Kafka api keys (below 10000) go to the broker
 *     (impl/broker) and the quorum's own client keys to the quorum. A malformed frame is logged
 *     and its connection closed.
 * Invariants: each io_conn appears at most once in the tables; an outgoing connection slot is
 * either idle (0), connecting, or connected. Tested by the simulator's runs (every scenario
 * drives nodes through crash, restart, partition and graceful stop). */
#include "node.h"

#include "broker/broker.h"
#include "quorum/quorum.h"
#include "quorum/wire.h"

#include <stdlib.h>
#include <string.h>

#define NODE_TIMER_QUORUM 0u
#define NODE_TIMER_RECONNECT 8u
#define NODE_TIMER_BROKER 24u
#define NODE_CONNS_MAX 256u
#define NODE_FILE_TAG_QUORUM ((u64)1 << 56)
#define NODE_BACKOFF_MIN_NS (50 * NS_PER_MS)
#define NODE_BACKOFF_MAX_NS (1000 * NS_PER_MS)

_Static_assert(NODE_TIMER_QUORUM + QUORUM_TIMERS <= NODE_TIMER_RECONNECT, "timer ranges overlap");
_Static_assert(NODE_TIMER_RECONNECT + CONFIG_VOTERS_MAX <= NODE_TIMER_BROKER, "timers overlap");
_Static_assert(NODE_TIMER_BROKER + BROKER_TIMERS <= IO_TIMERS_MAX, "too many timers");
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
    struct node_peer peers[CONFIG_VOTERS_MAX];
    struct node_conn conns[NODE_CONNS_MAX];
    bool stopping;
};

struct node *node_create(const struct node_config *config, struct io *io)
{
    ASSERT(config != NULL && io != NULL);
    struct node *node = calloc(1, sizeof(*node));
    if (node == NULL) return NULL;
    node->config = *config;
    node->io = io;
    node->quorum = quorum_create(&node->config, io, NODE_TIMER_QUORUM, NODE_FILE_TAG_QUORUM);
    node->broker = broker_create(&node->config, io, NODE_TIMER_BROKER);
    if (node->quorum == NULL || node->broker == NULL) {
        quorum_destroy(node->quorum);
        broker_destroy(node->broker);
        free(node);
        return NULL;
    }
    return node;
}

void node_destroy(struct node *node)
{
    if (node == NULL) return;
    quorum_destroy(node->quorum);
    broker_destroy(node->broker);
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
    for (u32 i = 0; i < node->config.voter_count; i++) {
        if (!is_self(node, i)) peer_connect(node, i);
    }
}

static void node_on_timer(void *process, u32 timer_id)
{
    struct node *node = process;
    if (timer_id < NODE_TIMER_QUORUM + QUORUM_TIMERS) {
        quorum_on_timer(node->quorum, timer_id);
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
    i32 index = peer_find(node, conn);
    if (index >= 0) {
        if (event == IO_CONN_CONNECTED) {
            node->peers[index].connected = true;
            node->peers[index].backoff_ns = 0;
            quorum_peer_connected(node->quorum, (u32)index, conn);
        } else {
            peer_lost(node, (u32)index);
        }
        return;
    }
    struct node_conn *slot = conn_find(node, conn);
    if (slot != NULL && event == IO_CONN_CLOSED) {
        quorum_conn_closed(node->quorum, conn);
        broker_conn_closed(node->broker, conn);
        slot->conn = 0;
    }
}

static void node_on_frame(void *process, io_conn conn, const u8 *frame, u32 size)
{
    struct node *node = process;
    i32 index = peer_find(node, conn);
    if (index >= 0) {
        if (!quorum_on_response(node->quorum, (u32)index, frame, size)) {
            io_log(node->io, IO_LOG_WARN, "node: malformed response from voter %u; closing",
                   node->config.voters[index].id);
            io_close(node->io, conn);
            peer_lost(node, (u32)index);
        }
        return;
    }
    struct node_conn *slot = conn_find(node, conn);
    if (slot == NULL) return;
    /* On the client listener, Kafka api keys go to the broker, the quorum's own (10000+) to
     * the quorum. */
    i32 api_key = broker_frame_api_key(frame, size);
    bool kafka = slot->tag == NODE_TAG_LISTEN_CLIENT && api_key >= 0 &&
                 api_key < BROKER_API_KEY_INTERNAL_MIN;
    bool ok = kafka ? broker_on_frame(node->broker, conn, frame, size)
              : slot->tag == NODE_TAG_LISTEN_CONTROLLER
                  ? quorum_on_request(node->quorum, conn, frame, size)
                  : quorum_on_client_request(node->quorum, conn, frame, size);
    if (!ok) {
        io_log(node->io, IO_LOG_WARN, "node: malformed request (%u bytes); closing", size);
        io_close(node->io, conn);
        quorum_conn_closed(node->quorum, conn);
        broker_conn_closed(node->broker, conn);
        slot->conn = 0;
    }
}

static void node_on_file(void *process, const struct io_completion *completion)
{
    struct node *node = process;
    u64 subsystem = completion->user_data & ((u64)0xff << 56);
    if (subsystem == NODE_FILE_TAG_QUORUM) {
        quorum_on_file(node->quorum, completion);
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
    quorum_stop(node->quorum);
    broker_stop(node->broker);
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
