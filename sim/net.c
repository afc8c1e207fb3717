/* net.c: TCP-like connections between simulated processes.
 *
 * Method: each send becomes a chunk appended to its direction with a delivery time that never
 * precedes the previous chunk's, so a stream stays ordered whatever the jitter. Only the head
 * chunk of a direction has an arrival event; when it arrives the next one is scheduled. At
 * arrival the link is checked: if it is cut, the direction stalls (the head and everything
 * behind it wait) and a timeout is armed; healing re-times the stalled chunks from the moment
 * of the heal. Arrived bytes go to the receiver's buffer (the kernel's socket buffer, which a
 * paused process does not drain); frames are cut from it by a separate process event, so a
 * paused or read-paused process receives nothing until it may.
 *
 * Invariants: a side's events reach its process in the order they happened on the wire; after
 * the process closes a side or is told it closed, no event reaches it for that side; a crashed
 * incarnation's sides never receive anything. Handles count upward per process and are never
 * reused. Tested by tests/unit/test_sim_net.c (ordering under jitter, refusal, partition stall
 * then heal, stall timeout, one-way cut, frame limit, crash reset, pause, read_pause). */
#include "net.h"

#include "world.h"

#include <stdlib.h>
#include <string.h>

#define NET_RECV_CAPACITY_MIN 4096u

void net_init(struct net *net)
{
    memset(net, 0, sizeof(*net));
    net->conn_capacity = 64;
    net->conns = calloc(net->conn_capacity, sizeof(struct net_conn *));
    ASSERT(net->conns != NULL);
    net->conn_count = 1; /* Id 0 means none. */
}

static void net_direction_clear(struct net_direction *dir)
{
    for (u32 guard = 0; dir->head != NULL; guard++) {
        ASSERT(guard < UINT32_MAX);
        struct net_chunk *next = dir->head->next;
        free(dir->head);
        dir->head = next;
    }
    dir->tail = NULL;
    dir->queued_bytes = 0;
    dir->generation++;
    dir->scheduled = false;
    dir->stalled = false;
    dir->stall_generation++;
}

static void net_side_release(struct net_side *side)
{
    if (side->delivering) return; /* The frame loop frees it after on_frame returns. */
    free(side->recv);
    side->recv = NULL;
    side->recv_size = 0;
    side->recv_capacity = 0;
}

void net_free(struct net *net)
{
    for (u32 id = 1; id < net->conn_count; id++) {
        struct net_conn *conn = net->conns[id];
        for (u32 i = 0; i < 2; i++) {
            net_direction_clear(&conn->dir[i]);
            conn->side[i].delivering = false;
            net_side_release(&conn->side[i]);
            free(conn->side[i].held);
        }
        free(conn);
    }
    free(net->conns);
    memset(net, 0, sizeof(*net));
}

/* One-way latency from one process to another: LAN inside a datacenter, WAN across. */
static u64 net_latency(struct world *world, u32 from, u32 to)
{
    const struct scenario *scenario = world->scenario;
    u32 dc_from = world->processes[from]->datacenter;
    u32 dc_to = world->processes[to]->datacenter;
    if (dc_from == dc_to) {
        const struct scenario_datacenter *dc = &scenario->datacenters[dc_from];
        return prng_range(&world->net_prng, dc->lan_latency_min_ns, dc->lan_latency_max_ns);
    }
    return prng_range(&world->net_prng, scenario->wan_latency_min_ns,
                      scenario->wan_latency_max_ns);
}

static u64 net_transmit_ns(const struct world *world, u32 size)
{
    u64 bandwidth = world->scenario->bandwidth_bytes_per_s;
    if (bandwidth == 0) return 0;
    return (u64)size * NS_PER_S / bandwidth;
}

static u32 net_process_of(const struct net_conn *conn, u32 side)
{
    return side == 0 ? conn->side[0].process : conn->target;
}

static struct net_conn *net_conn_get(struct world *world, u64 id)
{
    if (id == 0 || id >= world->net.conn_count) return NULL;
    return world->net.conns[id];
}

/* The connection and side a process's handle names, or NULL for a foreign or stale handle. */
static struct net_conn *net_lookup(struct world_process *process, io_conn handle, u32 *side)
{
    if (handle == 0 || handle > process->conn_handle_count) return NULL;
    struct net_conn *conn = net_conn_get(process->world, process->conn_of_handle[handle - 1]);
    if (conn == NULL) return NULL;
    for (u32 i = 0; i < 2; i++) {
        struct net_side *candidate = &conn->side[i];
        if (candidate->handle == handle && candidate->process == process->index &&
            candidate->incarnation == process->incarnation) {
            *side = i;
            return conn;
        }
    }
    return NULL;
}

static io_conn net_handle_new(struct world_process *process, u32 conn_id)
{
    if (process->conn_handle_count == process->conn_handle_capacity) {
        u32 capacity = process->conn_handle_capacity == 0 ? 16 : process->conn_handle_capacity * 2;
        process->conn_of_handle = realloc(process->conn_of_handle, sizeof(u32) * capacity);
        ASSERT(process->conn_of_handle != NULL);
        process->conn_handle_capacity = capacity;
    }
    process->conn_of_handle[process->conn_handle_count++] = conn_id;
    io_conn handle = process->conn_handle_count;
    ASSERT(handle != 0);
    return handle;
}

static struct net_conn *net_conn_new(struct world *world)
{
    struct net *net = &world->net;
    if (net->conn_count == net->conn_capacity) {
        ASSERT(net->conn_capacity < (1u << 30));
        net->conn_capacity *= 2;
        net->conns = realloc(net->conns, sizeof(struct net_conn *) * net->conn_capacity);
        ASSERT(net->conns != NULL);
    }
    struct net_conn *conn = calloc(1, sizeof(*conn));
    ASSERT(conn != NULL);
    conn->id = net->conn_count++;
    net->conns[conn->id] = conn;
    return conn;
}

/* ===== Directions: chunks on the wire ===== */

static void net_direction_schedule(struct world *world, struct net_conn *conn, u32 d)
{
    struct net_direction *dir = &conn->dir[d];
    ASSERT(dir->head != NULL);
    ASSERT(!dir->stalled);
    ASSERT(!dir->scheduled);
    dir->scheduled = true;
    u64 at = MAX(dir->head->deliver_at_ns, world_now_ns(world));
    world_push(world, at, WORLD_EVENT_NET_ARRIVE, net_process_of(conn, 1 - d), d, conn->id,
               dir->generation);
}

static void net_direction_push(struct world *world, struct net_conn *conn, u32 d, u8 kind,
                               const u8 *bytes, u32 size)
{
    struct net_direction *dir = &conn->dir[d];
    ASSERT(!dir->finished);
    struct net_chunk *chunk = malloc(sizeof(*chunk) + size);
    ASSERT(chunk != NULL);
    chunk->next = NULL;
    chunk->kind = kind;
    chunk->size = size;
    if (size > 0) memcpy(chunk->bytes, bytes, size);
    u64 latency = net_latency(world, net_process_of(conn, d), net_process_of(conn, 1 - d));
    chunk->deliver_at_ns = MAX(dir->last_deliver_ns, world_now_ns(world) + latency) +
                           net_transmit_ns(world, size);
    dir->last_deliver_ns = chunk->deliver_at_ns;
    if (dir->tail == NULL) dir->head = chunk;
    else dir->tail->next = chunk;
    dir->tail = chunk;
    dir->queued_bytes += size;
    ASSERT(chunk->deliver_at_ns >= world_now_ns(world));
    ASSERT(dir->head != NULL && dir->tail == chunk);
    if (kind != NET_CHUNK_DATA) dir->finished = true;
    if (dir->stalled) {
        world->stats.messages_stalled++; /* Joins the queue behind a cut link. */
    } else if (!dir->scheduled) {
        net_direction_schedule(world, conn, d);
    }
}

/* Tells a side's process, through a process event at time_ns, that the connection closed. */
static void net_notify_closed(struct world *world, struct net_conn *conn, u32 s, u64 time_ns,
                              enum io_close_reason reason)
{
    struct net_side *side = &conn->side[s];
    ASSERT(side->state == NET_SIDE_CONNECTING || side->state == NET_SIDE_OPEN);
    side->state = NET_SIDE_CLOSING;
    world_push(world, time_ns, WORLD_EVENT_CONN, side->process, s, conn->id,
               (u64)IO_CONN_CLOSED | (u64)reason << 8);
}

static bool net_side_live(const struct net_side *side)
{
    return side->state == NET_SIDE_CONNECTING || side->state == NET_SIDE_OPEN;
}

/* The connection is over for the network: both live sides hear reason, queued data is gone. */
static void net_break(struct world *world, struct net_conn *conn, enum io_close_reason reason)
{
    conn->broken = true;
    for (u32 s = 0; s < 2; s++) {
        if (net_side_live(&conn->side[s])) {
            net_notify_closed(world, conn, s, world_now_ns(world), reason);
        }
        net_direction_clear(&conn->dir[s]);
        conn->dir[s].finished = true;
    }
    char text[64];
    snprintf(text, sizeof(text), "conn %u broken reason %u", conn->id, (u32)reason);
    world_trace(world, TRACE_NET, conn->side[0].process, conn->id, reason, 0, text);
}

/* ===== Calls from a process ===== */

enum io_result net_listen(struct world_process *process, const char *endpoint, u64 tag,
                          u32 frame_size_max)
{
    char host[SCENARIO_NAME_MAX];
    u16 port = 0;
    if (!io_endpoint_parse(endpoint, host, sizeof(host), &port)) return IO_ERR_INVALID;
    bool ours = host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 ||
                strcmp(host, process->name) == 0;
    if (!ours) return IO_ERR_INVALID;
    for (u32 i = 0; i < process->listener_count; i++) {
        if (process->listeners[i].port == port) return IO_ERR_EXISTS;
    }
    if (process->listener_count == WORLD_LISTENERS_MAX) return IO_ERR_LIMIT;
    struct world_listener *listener = &process->listeners[process->listener_count++];
    ASSERT(process->listener_count <= WORLD_LISTENERS_MAX);
    listener->port = port;
    listener->tag = tag;
    listener->frame_size_max = frame_size_max;
    return IO_OK;
}

io_conn net_connect(struct world_process *process, const char *endpoint, u64 tag,
                    u32 frame_size_max)
{
    struct world *world = process->world;
    char host[SCENARIO_NAME_MAX];
    u16 port = 0;
    if (!io_endpoint_parse(endpoint, host, sizeof(host), &port)) return 0;
    i32 target = world_process_find(world, host);
    struct net_conn *conn = net_conn_new(world);
    conn->port = port;
    conn->connect_ns = world_now_ns(world);
    struct net_side *side = &conn->side[0];
    side->process = process->index;
    side->incarnation = process->incarnation;
    side->handle = net_handle_new(process, conn->id);
    side->tag = tag;
    side->frame_size_max = frame_size_max;
    side->state = NET_SIDE_CONNECTING;
    if (target < 0) {
        /* No such host: refused after a local round trip, like a failed resolution. */
        conn->target = process->index;
        conn->broken = true;
        u64 latency = net_latency(world, process->index, process->index);
        net_notify_closed(world, conn, 0, world_now_ns(world) + latency, IO_CLOSE_REFUSED);
        return side->handle;
    }
    conn->target = (u32)target;
    conn->side[1].process = (u32)target;
    u64 latency = net_latency(world, process->index, (u32)target);
    /* Data sent before CONNECTED travels behind the handshake. */
    conn->dir[0].last_deliver_ns = world_now_ns(world) + latency;
    world_push(world, world_now_ns(world) + latency, WORLD_EVENT_NET_SYN, (u32)target, 0,
               conn->id, 0);
    ASSERT(side->handle != 0);
    return side->handle;
}

enum io_result net_send(struct world_process *process, io_conn handle, const u8 *bytes, u32 size)
{
    u32 s = 0;
    struct net_conn *conn = net_lookup(process, handle, &s);
    if (conn == NULL) return IO_ERR_CLOSED;
    struct net_side *side = &conn->side[s];
    if (side->state == NET_SIDE_CLOSED) return IO_ERR_CLOSED;
    ASSERT(side->state != NET_SIDE_NONE);
    /* A broken connection the process has not heard about yet swallows data, as a socket
     * whose RST is still in flight does. */
    if (conn->broken || conn->dir[s].finished || size == 0) return IO_OK;
    net_direction_push(process->world, conn, s, NET_CHUNK_DATA, bytes, size);
    return IO_OK;
}

u64 net_send_queued(struct world_process *process, io_conn handle)
{
    u32 s = 0;
    struct net_conn *conn = net_lookup(process, handle, &s);
    if (conn == NULL) return 0;
    return conn->dir[s].queued_bytes;
}

/* Schedules the delivery of buffered frames once nothing stops the side from reading. */
static void net_frames_resume(struct world_process *process, struct net_conn *conn, u32 s)
{
    struct net_side *side = &conn->side[s];
    if (side->read_paused || side->held != NULL || side->recv_size == 0) return;
    if (side->frames_pending || side->delivering) return;
    side->frames_pending = true;
    world_push(process->world, world_now_ns(process->world), WORLD_EVENT_FRAMES, process->index,
               s, conn->id, 0);
}

void net_read_pause(struct world_process *process, io_conn handle, bool paused)
{
    u32 s = 0;
    struct net_conn *conn = net_lookup(process, handle, &s);
    if (conn == NULL) return;
    struct net_side *side = &conn->side[s];
    side->read_paused = paused;
    net_frames_resume(process, conn, s);
}

/* A copy, not the receive buffer: bytes arriving while the frame is held grow that buffer and
 * may move it, as a real socket's buffer is not ours to pin. The copy is the simulator's price
 * for the same promise the real runtime keeps in place. */
u8 *net_frame_hold(struct world_process *process, io_conn handle, const u8 *frame, u32 size)
{
    u32 s = 0;
    struct net_conn *conn = net_lookup(process, handle, &s);
    ASSERT(conn != NULL);
    struct net_side *side = &conn->side[s];
    ASSERT(side->delivering && side->held == NULL); /* Only inside on_frame, once. */
    ASSERT(frame >= side->recv && frame + size <= side->recv + side->recv_size);
    side->held = malloc(MAX(size, 1u));
    ASSERT(side->held != NULL);
    memcpy(side->held, frame, size);
    return side->held;
}

void net_frame_release(struct world_process *process, io_conn handle)
{
    u32 s = 0;
    struct net_conn *conn = net_lookup(process, handle, &s);
    ASSERT(conn != NULL && conn->side[s].held != NULL); /* A release without a hold: a bug. */
    free(conn->side[s].held);
    conn->side[s].held = NULL;
    net_frames_resume(process, conn, s);
}

/* The side's process goes away from the connection; the peer hears kind (FIN or RST). */
static void net_side_leave(struct world *world, struct net_conn *conn, u32 s, u8 kind)
{
    struct net_side *side = &conn->side[s];
    side->state = NET_SIDE_CLOSED;
    net_side_release(side);
    struct net_side *peer = &conn->side[1 - s];
    bool peer_there = peer->state != NET_SIDE_NONE && peer->state != NET_SIDE_CLOSED;
    if (peer_there && !conn->broken && !conn->dir[s].finished) {
        net_direction_push(world, conn, s, kind, NULL, 0);
    }
}

void net_close(struct world_process *process, io_conn handle)
{
    u32 s = 0;
    struct net_conn *conn = net_lookup(process, handle, &s);
    if (conn == NULL || conn->side[s].state == NET_SIDE_CLOSED) return;
    net_side_leave(process->world, conn, s, NET_CHUNK_FIN);
    ASSERT(conn->side[s].state == NET_SIDE_CLOSED);
}

void net_crash(struct world_process *process)
{
    struct world *world = process->world;
    for (u32 id = 1; id < world->net.conn_count; id++) {
        struct net_conn *conn = world->net.conns[id];
        for (u32 s = 0; s < 2; s++) {
            struct net_side *side = &conn->side[s];
            if (side->process != process->index || side->incarnation != process->incarnation) {
                continue;
            }
            free(side->held); /* The process's memory is gone, its holds with it. */
            side->held = NULL;
            if (side->state == NET_SIDE_NONE || side->state == NET_SIDE_CLOSED) continue;
            side->delivering = false;
            net_side_leave(world, conn, s, NET_CHUNK_RST); /* kill -9 makes the kernel reset. */
        }
    }
    process->listener_count = 0;
}

/* ===== Wire events ===== */

static const struct world_listener *net_listener_find(const struct world_process *process,
                                                      u16 port)
{
    for (u32 i = 0; i < process->listener_count; i++) {
        if (process->listeners[i].port == port) return &process->listeners[i];
    }
    return NULL;
}

static void net_on_syn(struct world *world, struct net_conn *conn)
{
    struct net_side *side = &conn->side[0];
    u32 from = side->process, to = conn->target;
    if (side->state != NET_SIDE_CONNECTING) {
        conn->broken = true; /* The initiator gave up or died before the handshake landed. */
        net_direction_clear(&conn->dir[0]);
        return;
    }
    if (world->cut[from][to] || world->cut[to][from]) {
        world->stats.messages_stalled++;
        u64 deadline_ns = conn->connect_ns + world->scenario->connection_timeout_ns;
        u64 at = MAX(world_now_ns(world), deadline_ns);
        world_push(world, at, WORLD_EVENT_NET_CONNECT_TIMEOUT, from, 0, conn->id, 0);
        return;
    }
    struct world_process *target = world->processes[to];
    const struct world_listener *listener = target->alive ? net_listener_find(target, conn->port)
                                                          : NULL;
    u64 back_ns = world_now_ns(world) + net_latency(world, to, from);
    if (listener == NULL) {
        conn->broken = true;
        net_direction_clear(&conn->dir[0]);
        net_notify_closed(world, conn, 0, back_ns, IO_CLOSE_REFUSED);
        return;
    }
    struct net_side *accepted = &conn->side[1];
    accepted->process = to;
    accepted->incarnation = target->incarnation;
    accepted->handle = net_handle_new(target, conn->id);
    accepted->tag = listener->tag;
    accepted->frame_size_max = listener->frame_size_max;
    accepted->state = NET_SIDE_OPEN;
    ASSERT(accepted->handle != 0);
    ASSERT(!conn->broken);
    world_push(world, world_now_ns(world), WORLD_EVENT_CONN, to, 1, conn->id,
               IO_CONN_ACCEPTED);
    world_push(world, back_ns, WORLD_EVENT_CONN, from, 0, conn->id, IO_CONN_CONNECTED);
    conn->dir[1].last_deliver_ns = back_ns; /* The acceptor's data follows the SYN-ACK. */
}

static void net_recv_append(struct net_side *side, const u8 *bytes, u32 size)
{
    ASSERT(!side->delivering);
    if (side->recv_size + size > side->recv_capacity) {
        u32 capacity = MAX(side->recv_capacity, NET_RECV_CAPACITY_MIN);
        while (capacity < side->recv_size + size) {
            ASSERT(capacity < (1u << 31));
            capacity *= 2;
        }
        side->recv = realloc(side->recv, capacity);
        ASSERT(side->recv != NULL);
        side->recv_capacity = capacity;
    }
    memcpy(side->recv + side->recv_size, bytes, size);
    side->recv_size += size;
    ASSERT(side->recv_size <= side->recv_capacity);
}

/* A chunk crossed the link: the receiving side's kernel takes it. */
static void net_receive(struct world *world, struct net_conn *conn, u32 r,
                        const struct net_chunk *chunk)
{
    struct net_side *side = &conn->side[r];
    bool receiving = side->state == NET_SIDE_CONNECTING || side->state == NET_SIDE_OPEN;
    if (!receiving) return; /* Nobody there any more: the bytes vanish. */
    if (chunk->kind != NET_CHUNK_DATA) {
        net_notify_closed(world, conn, r, world_now_ns(world), IO_CLOSE_RESET);
        return;
    }
    net_recv_append(side, chunk->bytes, chunk->size);
    if (!side->frames_pending) {
        side->frames_pending = true;
        world_push(world, world_now_ns(world), WORLD_EVENT_FRAMES, side->process, r, conn->id, 0);
    }
}

static void net_stall(struct world *world, struct net_conn *conn, u32 d)
{
    struct net_direction *dir = &conn->dir[d];
    ASSERT(!dir->stalled);
    dir->stalled = true;
    dir->stalled_since_ns = world_now_ns(world);
    dir->stall_generation++;
    for (const struct net_chunk *chunk = dir->head; chunk != NULL; chunk = chunk->next) {
        world->stats.messages_stalled++;
    }
    world_push(world, world_now_ns(world) + world->scenario->connection_timeout_ns,
               WORLD_EVENT_NET_STALL_TIMEOUT, net_process_of(conn, d), d, conn->id,
               dir->stall_generation);
    world_trace(world, TRACE_NET, net_process_of(conn, d), conn->id, d, dir->queued_bytes,
                "stalled");
}

static void net_on_arrive(struct world *world, struct net_conn *conn, u32 d, u64 generation)
{
    struct net_direction *dir = &conn->dir[d];
    if (generation != dir->generation || !dir->scheduled) return;
    dir->scheduled = false;
    ASSERT(dir->head != NULL);
    if (world->cut[net_process_of(conn, d)][net_process_of(conn, 1 - d)]) {
        net_stall(world, conn, d);
        return;
    }
    struct net_chunk *chunk = dir->head;
    ASSERT(chunk->deliver_at_ns <= world_now_ns(world)); /* Never early. */
    dir->head = chunk->next;
    if (dir->head == NULL) dir->tail = NULL;
    ASSERT(dir->queued_bytes >= chunk->size);
    dir->queued_bytes -= chunk->size;
    net_receive(world, conn, 1 - d, chunk);
    free(chunk);
    if (dir->head != NULL) net_direction_schedule(world, conn, d);
}

void net_on_event(struct world *world, const struct sched_event *event)
{
    struct net_conn *conn = net_conn_get(world, event->a);
    ASSERT(conn != NULL);
    switch (event->kind) {
    case WORLD_EVENT_NET_SYN: net_on_syn(world, conn); break;
    case WORLD_EVENT_NET_ARRIVE: net_on_arrive(world, conn, event->aux, event->b); break;
    case WORLD_EVENT_NET_STALL_TIMEOUT: {
        struct net_direction *dir = &conn->dir[event->aux];
        if (!dir->stalled || dir->stall_generation != (u32)event->b) break;
        world->stats.connections_broken++;
        net_break(world, conn, IO_CLOSE_TIMEOUT);
        break;
    }
    case WORLD_EVENT_NET_CONNECT_TIMEOUT:
        if (conn->side[0].state != NET_SIDE_CONNECTING) break;
        if (conn->side[1].state != NET_SIDE_NONE) break; /* Handshake completed meanwhile. */
        world->stats.connections_broken++;
        net_break(world, conn, IO_CLOSE_TIMEOUT);
        break;
    default: ASSERT(false);
    }
}

void net_links_changed(struct world *world)
{
    u64 now = world_now_ns(world);
    for (u32 id = 1; id < world->net.conn_count; id++) {
        struct net_conn *conn = world->net.conns[id];
        for (u32 d = 0; d < 2; d++) {
            struct net_direction *dir = &conn->dir[d];
            u32 from = net_process_of(conn, d), to = net_process_of(conn, 1 - d);
            if (!dir->stalled || world->cut[from][to]) continue;
            /* Retransmission after the heal: the queue flows again, in order. */
            dir->stalled = false;
            dir->stall_generation++;
            u64 last = now;
            for (struct net_chunk *chunk = dir->head; chunk != NULL; chunk = chunk->next) {
                chunk->deliver_at_ns = MAX(last, now + net_latency(world, from, to)) +
                                       net_transmit_ns(world, chunk->size);
                last = chunk->deliver_at_ns;
            }
            dir->last_deliver_ns = MAX(dir->last_deliver_ns, last);
            dir->generation++;
            dir->scheduled = false;
            if (dir->head != NULL) net_direction_schedule(world, conn, d);
            ASSERT(!dir->stalled);
        }
    }
}

/* ===== Process events ===== */

static void net_call_on_conn(struct world_process *process, struct net_side *side,
                             enum io_conn_event event, enum io_close_reason reason)
{
    world_trace(process->world, TRACE_CONN, process->index, side->handle, event, reason, NULL);
    process->world->running = process;
    process->handler->on_conn(process->instance, side->handle, event, reason, side->tag);
    process->world->running = NULL;
}

static void net_on_conn_event(struct world_process *process, struct net_conn *conn, u32 s,
                              u64 word)
{
    struct net_side *side = &conn->side[s];
    enum io_conn_event event = (enum io_conn_event)(word & 0xff);
    enum io_close_reason reason = (enum io_close_reason)(word >> 8);
    switch (event) {
    case IO_CONN_ACCEPTED:
        if (side->state != NET_SIDE_OPEN && side->state != NET_SIDE_CLOSING) return;
        net_call_on_conn(process, side, event, reason);
        return;
    case IO_CONN_CONNECTED:
        if (side->state != NET_SIDE_CONNECTING) return;
        side->state = NET_SIDE_OPEN;
        net_call_on_conn(process, side, event, reason);
        if (side->state == NET_SIDE_OPEN && side->recv_size > 0 && !side->frames_pending) {
            side->frames_pending = true;
            world_push(process->world, world_now_ns(process->world), WORLD_EVENT_FRAMES,
                       process->index, s, conn->id, 0);
        }
        return;
    case IO_CONN_CLOSED:
        if (side->state == NET_SIDE_CLOSED) return;
        side->state = NET_SIDE_CLOSED;
        net_side_release(side);
        net_call_on_conn(process, side, event, reason);
        return;
    }
    ASSERT(false);
}

/* The frame at the head of the buffer is larger than the side accepts: close both ways. */
static void net_frame_limit(struct world_process *process, struct net_conn *conn, u32 s)
{
    struct net_side *side = &conn->side[s];
    net_side_leave(process->world, conn, s, NET_CHUNK_RST);
    ASSERT(side->state == NET_SIDE_CLOSED);
    net_call_on_conn(process, side, IO_CONN_CLOSED, IO_CLOSE_FRAME_LIMIT);
}

static void net_deliver_frames(struct world_process *process, struct net_conn *conn, u32 s)
{
    struct net_side *side = &conn->side[s];
    ASSERT(side->state == NET_SIDE_OPEN || side->state == NET_SIDE_CLOSING);
    ASSERT(!side->delivering);
    u32 limit = side->frame_size_max == 0 ? UINT32_MAX : side->frame_size_max;
    u32 offset = 0;
    /* Bounded: every round consumes a whole frame from a buffer that nothing refills here. */
    while (!side->read_paused && side->held == NULL &&
           side->recv_size - offset >= IO_FRAME_PREFIX_SIZE) {
        u32 length = load_u32_be(side->recv + offset);
        if (length > limit) {
            net_frame_limit(process, conn, s);
            return;
        }
        if (side->recv_size - offset - IO_FRAME_PREFIX_SIZE < length) break;
        const u8 *frame = side->recv + offset + IO_FRAME_PREFIX_SIZE;
        world_trace(process->world, TRACE_FRAME, process->index, side->handle, length,
                    trace_hash_bytes(frame, length), NULL);
        process->world->net.frames_delivered++;
        side->delivering = true;
        process->world->running = process;
        process->handler->on_frame(process->instance, side->handle, frame, length);
        process->world->running = NULL;
        side->delivering = false;
        offset += IO_FRAME_PREFIX_SIZE + length;
        if (side->state == NET_SIDE_CLOSED) {
            net_side_release(side); /* Closed inside on_frame; the buffer can go now. */
            return;
        }
    }
    ASSERT(offset <= side->recv_size);
    if (offset > 0) {
        memmove(side->recv, side->recv + offset, side->recv_size - offset);
        side->recv_size -= offset;
    }
}

void net_on_process_event(struct world_process *process, const struct sched_event *event)
{
    struct net_conn *conn = net_conn_get(process->world, event->a);
    ASSERT(conn != NULL);
    ASSERT(event->aux < 2);
    struct net_side *side = &conn->side[event->aux];
    ASSERT(side->process == process->index);
    if (side->incarnation != process->incarnation) return;
    if (event->kind == WORLD_EVENT_CONN) {
        net_on_conn_event(process, conn, event->aux, event->b);
        return;
    }
    ASSERT(event->kind == WORLD_EVENT_FRAMES);
    side->frames_pending = false;
    /* Frames that arrived before a close are still read, as a socket drains before EOF. */
    if (side->state != NET_SIDE_OPEN && side->state != NET_SIDE_CLOSING) return;
    net_deliver_frames(process, conn, event->aux);
}
