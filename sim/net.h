/* net.h: the simulated network, connection-oriented like TCP.
 *
 * A connection joins two processes; each direction is an ordered byte stream carried as chunks
 * (one per send) with a delivery time: deliver_at = max(previous deliver_at in that direction,
 * now + latency) + size / bandwidth, so jitter never reorders a stream. The receiver splits the
 * stream into frames by the 4-byte big-endian length prefix and enforces its frame size limit.
 *
 * Links between processes form a directed connectivity matrix (world.cut). A chunk that reaches
 * a cut link stalls, with everything behind it; when a direction stays stalled longer than the
 * scenario's connection_timeout_ns the connection breaks (both ends see CLOSED TIMEOUT); when
 * the link heals first, the stalled data flows again. A handshake across a cut link times out.
 * A crashed process's peers get CLOSED RESET after the latency, or time out across a cut.
 *
 * May depend on: impl/io.h, sim/sched.h; world.h for the process and world structs. */
#ifndef SIM_NET_H
#define SIM_NET_H

#include "../impl/io.h"
#include "sched.h"

struct world;
struct world_process;

enum net_chunk_kind { NET_CHUNK_DATA, NET_CHUNK_FIN, NET_CHUNK_RST };

struct net_chunk {
    struct net_chunk *next;
    u64 deliver_at_ns;
    u32 size;
    u8 kind; /* enum net_chunk_kind */
    u8 bytes[];
};

/* dir[i] of a connection carries bytes from side i to side 1 - i. */
struct net_direction {
    struct net_chunk *head;
    struct net_chunk *tail;
    u64 last_deliver_ns;
    u64 queued_bytes; /* Sent but not yet delivered (what send_queued reports). */
    u32 generation;   /* Bumped to invalidate a scheduled arrival. */
    bool scheduled;   /* An arrival event for head is queued. */
    bool stalled;     /* Head is held by a cut link. */
    bool finished;    /* A FIN or RST went through (or the connection broke). */
    u64 stalled_since_ns;
    u32 stall_generation;
};

enum net_side_state {
    NET_SIDE_NONE = 0,   /* Not established (acceptor before the handshake). */
    NET_SIDE_CONNECTING, /* Initiator before CONNECTED. */
    NET_SIDE_OPEN,
    NET_SIDE_CLOSING,    /* A CLOSED event is on its way to the process. */
    NET_SIDE_CLOSED,     /* The process closed it or was told it closed: no more events. */
};

struct net_side {
    u32 process;
    u32 incarnation;
    io_conn handle;
    u64 tag;
    u32 frame_size_max;
    enum net_side_state state;
    bool read_paused;
    bool frames_pending; /* A FRAMES event is queued. */
    bool delivering;     /* Inside on_frame: the receive buffer must stay. */
    u8 *held;            /* A copy of the frame the process holds (io.h frame_hold), or NULL. */
    u8 *recv;
    u32 recv_size;
    u32 recv_capacity;
};

struct net_conn {
    u32 id;
    u32 target; /* Process index of the acceptor. */
    u16 port;
    bool broken; /* Timed out, refused or reset: data sent now is dropped. */
    u64 connect_ns;
    struct net_side side[2]; /* side[0] connected, side[1] accepted. */
    struct net_direction dir[2];
};

struct net {
    struct net_conn **conns; /* By id; id 0 unused. */
    u32 conn_count;
    u32 conn_capacity;
    u64 frames_delivered;
};

void net_init(struct net *net);
void net_free(struct net *net);

enum io_result net_listen(struct world_process *process, const char *endpoint, u64 tag,
                          u32 frame_size_max);
io_conn net_connect(struct world_process *process, const char *endpoint, u64 tag,
                    u32 frame_size_max);
enum io_result net_send(struct world_process *process, io_conn conn, const u8 *bytes, u32 size);
u64 net_send_queued(struct world_process *process, io_conn conn);
void net_read_pause(struct world_process *process, io_conn conn, bool paused);
u8 *net_frame_hold(struct world_process *process, io_conn conn, const u8 *frame, u32 size);
void net_frame_release(struct world_process *process, io_conn conn);
void net_close(struct world_process *process, io_conn conn);

/* Wire events (SYN, ARRIVE, timeouts). */
void net_on_event(struct world *world, const struct sched_event *event);
/* Process events (CONN, FRAMES) once the process may receive them. */
void net_on_process_event(struct world_process *process, const struct sched_event *event);
/* The process crashed: its ends vanish and its peers are sent a reset. */
void net_crash(struct world_process *process);
/* Links changed: stalled directions whose link is up again flow. */
void net_links_changed(struct world *world);

#endif
