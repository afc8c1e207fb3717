/* kafka_client.h: simulated Kafka producer and consumer clients that speak the real wire protocol.
 *
 * Both are state machines over io (one process each), encode requests and decode responses
 * with the generated codec (impl/protocol), and report what they did to the history
 * (model/history.h, kinds HISTORY_KAFKA_*), so the checkers in model/kafka_checkers.c can judge
 * the broker from the outside.
 *
 * Several brokers: the client knows a bootstrap list of client listeners. It asks any of them
 * for Metadata (the brokers' endpoints and each partition's leader), then sends each
 * partition's requests over a connection to its leader, one request at a time per connection.
 * NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION and a lost
 * connection make it ask for Metadata again (after a backoff), as Kafka's clients do.
 *
 * Producer: creates the topic once (CreateTopics; an existing topic is fine), learns the
 * leaders, then runs one operation at a time: one record per Produce (v9) to partition
 * (operation id mod partitions), with the configured acks, sent to that partition's leader.
 * Key and value derive from the client id and the operation id, so every value is unique and
 * its checksum (kafka_client_checksum) identifies it. Operations start once the topic's
 * metadata was seen; one whose partition has no leader waits (refreshing metadata) until its
 * deadline, when it definitely failed.
 * Consumer: whenever it starts reading a partition over a connection it has not read that
 * partition on before (a new connection, a new leader, OFFSET_OUT_OF_RANGE), it asks
 * ListOffsets (earliest) and reads the partition again from there (reported as
 * HISTORY_KAFKA_REREAD); it Fetches (v12) from each leader the partitions it leads, reporting
 * each record it decodes as HISTORY_KAFKA_READ.
 * Group consumer (kafka_client_group.c): a member of config.group in Kafka's classic protocol
 * (FindCoordinator, JoinGroup with MEMBER_ID_REQUIRED, SyncGroup, Heartbeat, OffsetFetch,
 * OffsetCommit) over a link of its own to the coordinator; the leader assigns with range
 * (eager: everything revoked before each rejoin) or cooperative-sticky (KIP-429: only moved
 * partitions revoked, then a second round). It reads its partitions as the consumer does, from
 * the committed offset or else the earliest, commits its positions every commit interval
 * (as the Java consumer's auto-commit does), and reports HISTORY_GROUP_* (model/history.h)
 * besides HISTORY_KAFKA_READ. The assignors and the ConsumerProtocol payloads are pure
 * functions in kafka_client_assign.h.
 *
 * May depend on: base.h, io.h, config.h, protocol/, log/record_batch.h, model/history.h. */
#ifndef KAFKA_CLIENT_H
#define KAFKA_CLIENT_H

#include "../config.h"
#include "../io.h"

#define KAFKA_CLIENT_TOPIC_MAX 64u
#define KAFKA_CLIENT_PARTITIONS_MAX 16u
#define KAFKA_CLIENT_BOOTSTRAP_MAX 9u

enum kafka_client_role {
    KAFKA_CLIENT_PRODUCER,
    KAFKA_CLIENT_CONSUMER,       /* Reads every partition (assign-only, no group). */
    KAFKA_CLIENT_GROUP_CONSUMER, /* A member of config.group: reads what the group assigns it. */
};

/* Group consumers: the assignor (and rebalance protocol) they offer. */
enum kafka_client_assignor {
    KAFKA_CLIENT_ASSIGNOR_RANGE,              /* "range", eager. */
    KAFKA_CLIENT_ASSIGNOR_COOPERATIVE_STICKY, /* "cooperative-sticky", KIP-429. */
};

#define KAFKA_CLIENT_GROUP_MAX 64u

struct kafka_client_config {
    enum kafka_client_role role;
    u32 client_id;
    /* Brokers' client listeners, "host:port", asked for Metadata in turn. */
    char bootstrap[KAFKA_CLIENT_BOOTSTRAP_MAX][CONFIG_ENDPOINT_MAX];
    u32 bootstrap_count;    /* 1..KAFKA_CLIENT_BOOTSTRAP_MAX */
    char topic[KAFKA_CLIENT_TOPIC_MAX];
    u32 partition_count;    /* 1..KAFKA_CLIENT_PARTITIONS_MAX */
    i16 replication_factor; /* Producer: of the topic it creates (>= 1). */
    i16 acks;               /* Producer: -1 (all), 1 or 0. */
    u64 interval_ns;        /* Producer: think time between sends. */
    u32 value_size;         /* Producer: bytes per value (>= 24, <= 1024). */
    u64 request_timeout_ns; /* Unanswered this long: outcome unknown, reconnect. */
    u64 stop_ns;            /* Producer: send nothing new from this virtual instant (0: never). */
    /* Producer: enable.idempotence. InitProducerId first (a new producer id each time the
     * client starts), then every batch carries the id, epoch and its partition's next
     * sequence; a value whose outcome is unknown (timeout, lost connection) or that got a
     * retriable error is sent again as the same batch until delivery_timeout_ns, so the
     * leader writes it once. */
    bool idempotent;
    /* Producer: resend a value whose outcome is unknown, as Kafka's producers do with
     * retries > 0 (without idempotence the first attempt may be in the log too: duplicates).
     * Implied by idempotent. */
    bool retry_unknown;
    u64 delivery_timeout_ns; /* delivery.timeout.ms: a value still unanswered this long after
                              * its first send is reported UNKNOWN (0: request_timeout_ns). */
    /* Group consumers (KAFKA_CLIENT_GROUP_CONSUMER). */
    char group[KAFKA_CLIENT_GROUP_MAX];   /* group.id */
    enum kafka_client_assignor assignor;
    bool static_member;          /* group.instance.id = "i<client id>" (KIP-345). */
    u64 session_timeout_ns;      /* session.timeout.ms */
    u64 rebalance_timeout_ns;    /* max.poll.interval.ms */
    u64 heartbeat_interval_ns;   /* heartbeat.interval.ms */
    u64 commit_interval_ns;      /* auto.commit.interval.ms: commits what it has read */
};

struct kafka_client;

struct kafka_client *kafka_client_create(const struct kafka_client_config *config,
                                         struct io *io);
void kafka_client_destroy(struct kafka_client *client);

/* 64-bit FNV-1a of a value: the checksum both clients report. */
u64 kafka_client_checksum(const u8 *bytes, u32 size);

extern const struct io_handler_vtable kafka_client_handler;

#endif
