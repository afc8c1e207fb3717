/* kafka_client.h: simulated Kafka producer and consumer clients that speak the real wire protocol.
 *
 * Both are state machines over io (one process each), encode requests and decode responses
 * with the generated codec (impl/protocol), and report what they did to the history
 * (model/history.h, kinds HISTORY_KAFKA_*), so the checkers in model/kafka_checkers.c can judge
 * the broker from the outside.
 *
 * Producer: on each new connection it sends CreateTopics (an existing topic is fine) and
 * Metadata (v12; every partition must have a leader among the listed brokers), then one
 * Produce (v9) at a time, one record per batch, to partition (operation id mod partitions),
 * with the configured acks. Key and value derive from the client id and the operation id, so
 * every value is unique and its checksum (kafka_client_checksum) identifies it.
 * Consumer: on each new connection it asks ListOffsets (earliest) for every partition and reads
 * every partition again from there (reported as HISTORY_KAFKA_REREAD), then Fetches (v12) from
 * its positions, reporting each record it decodes as HISTORY_KAFKA_READ.
 *
 * May depend on: base.h, io.h, config.h, protocol/, log/record_batch.h, model/history.h. */
#ifndef KAFKA_CLIENT_H
#define KAFKA_CLIENT_H

#include "../config.h"
#include "../io.h"

#define KAFKA_CLIENT_TOPIC_MAX 64u
#define KAFKA_CLIENT_PARTITIONS_MAX 16u

enum kafka_client_role { KAFKA_CLIENT_PRODUCER, KAFKA_CLIENT_CONSUMER };

struct kafka_client_config {
    enum kafka_client_role role;
    u32 client_id;
    char endpoint[CONFIG_ENDPOINT_MAX]; /* The broker's client listener, "host:port". */
    char topic[KAFKA_CLIENT_TOPIC_MAX];
    u32 partition_count;    /* 1..KAFKA_CLIENT_PARTITIONS_MAX */
    i16 acks;               /* Producer: -1 (all), 1 or 0. */
    u64 interval_ns;        /* Producer: think time between sends. */
    u32 value_size;         /* Producer: bytes per value (>= 24, <= 1024). */
    u64 request_timeout_ns; /* Unanswered this long: outcome unknown, reconnect. */
    u64 stop_ns;            /* Producer: send nothing new from this virtual instant (0: never). */
};

struct kafka_client;

struct kafka_client *kafka_client_create(const struct kafka_client_config *config,
                                         struct io *io);
void kafka_client_destroy(struct kafka_client *client);

/* 64-bit FNV-1a of a value: the checksum both clients report. */
u64 kafka_client_checksum(const u8 *bytes, u32 size);

extern const struct io_handler_vtable kafka_client_handler;

#endif
