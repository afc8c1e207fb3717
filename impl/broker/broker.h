/* broker.h: the Kafka-facing side of a node: topics, their partition logs, and the handlers of
 * the Kafka APIs clients send on the client listener.
 *
 * The node hands the broker every frame whose api key is a Kafka one (below 10000; the quorum's
 * internal client keys are 10000+), every file completion tagged BROKER_FILE_TAG, the timers in
 * [timer_base, timer_base + BROKER_TIMERS) and every closed connection. Requests are served one
 * at a time per connection, in order: while a request waits for the log (Produce, ListOffsets,
 * Fetch), the broker pauses reading on its connection, so responses leave in request order.
 * A bounded pool of request slots carries the requests in service; when it is empty, reading
 * pauses on every client connection until a slot frees (back-pressure, never growth).
 *
 * Which APIs are served is proto_api_table (impl/protocol/api_versions.c): one table by api key
 * with version ranges and an implemented flag; the handler table in broker.c has the same keys.
 *
 * Single node for now: this broker leads every partition, the high watermark is the log end,
 * and topics are recorded in a small durable file in the data directory (see broker.c).
 *
 * May depend on: base.h, io.h, config.h, log/, protocol/. */
#ifndef BROKER_H
#define BROKER_H

#include "../config.h"
#include "../io.h"

#define BROKER_FILE_TAG ((u64)2 << 56) /* File user_data bits 56..63 of the broker. */
#define BROKER_TIMERS 4u               /* One long-poll timer per request slot. */
#define BROKER_API_KEY_INTERNAL_MIN 10000 /* Keys from here on belong to the quorum. */

struct broker;

/* Allocates the broker (request slots, buffers); topics are allocated when created. */
struct broker *broker_create(const struct node_config *config, struct io *io, u32 timer_base);
/* Frees memory without touching io (a crash or the end of the process). */
void broker_destroy(struct broker *broker);

/* Reads the topics file and opens every partition log it lists. */
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

#endif
