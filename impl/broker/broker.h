/* broker.h: the Kafka-facing side of a node: topics, their partition logs, and the handlers of
 * the Kafka APIs clients send on the client listener.
 *
 * The node hands the broker every frame whose api key is a Kafka one (below 10000; the quorum's
 * internal client keys are 10000+), every file completion tagged BROKER_FILE_TAG, the timers in
 * [timer_base, timer_base + BROKER_TIMERS) and every closed connection. Requests are served one
 * at a time per connection, in order: while a request waits for the log (Produce, ListOffsets,
 * Fetch), the broker holds its frame (io_frame_hold), which stops reading on its connection,
 * so responses leave in request order.
 * A bounded pool of request slots carries the requests in service; when it is empty, reading
 * pauses on every client connection until a slot frees (back-pressure, never growth).
 *
 * Which APIs are served is proto_api_table (impl/protocol/api_versions.c): one table by api key
 * with version ranges and an implemented flag; the handler table in broker.c has the same keys.
 *
 * Topics, partitions, their leaders and the brokers come from the node's metadata image (the
 * KRaft metadata log, decided by the active controller); admin requests that change them are
 * forwarded to the controller (broker_link.c). Partitions are replicated Kafka's way
 * (broker_replication.h): the leader serves clients and its followers fetch from it.
 *
 * May depend on: base.h, io.h, config.h, log/, protocol/. */
#ifndef BROKER_H
#define BROKER_H

#include "../config.h"
#include "../io.h"
#include "../metadata/metadata.h"

#define BROKER_FILE_TAG ((u64)2 << 56) /* File user_data bits 56..63 of the broker. */
/* Timer indices (from timer_base): 0 the request slots' deadlines (a long poll, an acks=all
 * timeout, a forwarded request's; one timer at the earliest), 1..3 unused, then the sweep of
 * idle connections, the log maintenance (retention, compaction), the leader's ISR check and
 * the follower's fetcher (reconnects, backoff). */
#define BROKER_TIMER_SLOTS 0u
#define BROKER_TIMER_IDLE 4u
#define BROKER_TIMER_MAINTENANCE 5u
#define BROKER_TIMER_REPLICATION 6u
#define BROKER_TIMER_FETCHER 7u
#define BROKER_TIMERS 8u
/* The group coordinator's timer is not in this range: it is a node timer of its own, handed
 * over by broker_attach_group_timer, so that the ids above (which the simulator's trace
 * records) keep their numbers. */
#define BROKER_API_KEY_INTERNAL_MIN 10000 /* Keys from here on belong to the quorum. */
#define BROKER_LINK_CONN_TAG 0x300u      /* io_connect tag of the link to the controller. */
#define BROKER_FETCHER_CONN_TAG 0x301u   /* io_connect tag of a fetcher's link to a leader. */

struct broker;

/* Allocates the broker (request slots, buffers); topics are allocated when created. */
struct broker *broker_create(const struct node_config *config, struct io *io, u32 timer_base);
/* Frees memory without touching io (a crash or the end of the process). */
void broker_destroy(struct broker *broker);

/* The node's metadata image (topics, leaders, brokers come from it) and the node timer the
 * broker's link to the controller uses. Called once, before broker_start. */
void broker_attach_metadata(struct broker *broker, const struct metadata_image *image,
                            u32 link_timer);
/* The image changed (an entry was applied, or a snapshot loaded): open, grow, reconfigure and
 * delete topics to match it. */
void broker_on_metadata(struct broker *broker);
/* The node timer of the group coordinator (session and rebalance timeouts, persists' commit
 * timeouts); its firing is broker_groups_on_timer. Called once, before broker_start. */
void broker_attach_group_timer(struct broker *broker, u32 timer);
void broker_groups_on_timer(struct broker *broker);
/* The broker's group coordinator (impl/group/group_coordinator.h), for tests and reports. */
struct group_coordinator;
const struct group_coordinator *broker_group_coordinator(const struct broker *broker);
/* The active controller as the quorum names it (-1 unknown): the link follows it. */
void broker_set_controller(struct broker *broker, i32 controller_id);
/* The link to the active controller (broker_link.c): its connection (0 when none), its events,
 * its frames (false: malformed, the node closes it) and its timer. */
io_conn broker_link_conn(const struct broker *broker);
void broker_link_on_conn(struct broker *broker, enum io_conn_event event);
WARN_UNUSED bool broker_link_on_frame(struct broker *broker, const u8 *frame, u32 size);
void broker_link_on_timer(struct broker *broker);

/* Replica fetcher connections (broker_fetcher.c), the broker's own outgoing connections to
 * partition leaders: the node routes their events and frames here. */
bool broker_fetcher_owns(const struct broker *broker, io_conn conn);
void broker_fetcher_on_conn(struct broker *broker, io_conn conn, enum io_conn_event event);
void broker_fetcher_on_frame(struct broker *broker, io_conn conn, const u8 *frame, u32 size);

/* Starts the link to the controller; logs open as the metadata image names them. */
void broker_start(struct broker *broker);
void broker_stop(struct broker *broker);

/* The api key of a request frame (its first two bytes), or -1 when too short. */
i32 broker_frame_api_key(const u8 *frame, u32 size);

/* One Kafka request frame (size prefix removed). Returns false when the connection must be
 * closed (malformed bytes, an unknown api, a version outside the advertised range). */
WARN_UNUSED bool broker_on_frame(struct broker *broker, io_conn conn, const u8 *frame, u32 size);
void broker_on_file(struct broker *broker, const struct io_completion *completion);
void broker_on_timer(struct broker *broker, u32 timer_id);
void broker_conn_closed(struct broker *broker, io_conn conn);

/* A connection accepted on the client listener: watched from now on, so that one that never
 * speaks is closed after connections.max.idle.ms too. */
void broker_conn_opened(struct broker *broker, io_conn conn);
/* The connection carries another subsystem's requests (the quorum's own client keys): not the
 * broker's to watch or pause. */
void broker_conn_foreign(struct broker *broker, io_conn conn);
/* Told of every connection the broker closes on its own (idle, or an answer that could not be
 * sent), since io reports no CLOSED event for a close its user asked for. */
void broker_set_close_observer(struct broker *broker,
                               void (*observer)(void *owner, io_conn conn), void *owner);

/* The request metrics (per api: requests, bytes in and out, rejected requests, latency
 * histogram; connections; log maintenance) in Prometheus' text exposition format. Returns the
 * bytes written, or 0 when they do not fit in size. */
u32 broker_metrics_format(const struct broker *broker, char *text, u32 size);

#endif
