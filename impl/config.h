/* config.h: a node's configuration, read from a Kafka-style properties file.
 *
 * Both worlds build a node from the same properties text: kbroker reads the file a Kafka user
 * wrote (plus --override key=value), and the simulator writes one per simulated node from the
 * scenario. Property names are Kafka's own (node.id, process.roles, listeners, ...). A property
 * Kafka does not have is an error; a real Kafka property this broker does not implement yet is
 * accepted with a warning; an invalid value is an error. Parsing is pure (no I/O).
 *
 * May depend on: base.h. */
#ifndef CONFIG_H
#define CONFIG_H

#include "base.h"

#define CONFIG_VOTERS_MAX 9u
#define CONFIG_LISTENERS_MAX 8u
#define CONFIG_NAME_MAX 64u
#define CONFIG_ENDPOINT_MAX 128u
#define CONFIG_PATH_MAX 256u
#define CONFIG_DIAGNOSTICS_MAX 64u
#define CONFIG_OFFSETS_PARTITIONS_MAX 64u /* A topic's partitions here (BROKER_PARTITIONS_MAX). */

enum config_role {
    CONFIG_ROLE_BROKER = 1u << 0,
    CONFIG_ROLE_CONTROLLER = 1u << 1,
};

struct config_voter {
    u32 id;
    char endpoint[CONFIG_ENDPOINT_MAX]; /* "host:port" */
};

struct config_listener {
    char name[CONFIG_NAME_MAX];         /* "PLAINTEXT", "CONTROLLER", ... */
    char endpoint[CONFIG_ENDPOINT_MAX]; /* "host:port"; host may be empty or 0.0.0.0 */
};

struct node_config {
    u32 node_id;                                     /* node.id */
    u32 roles;                                       /* process.roles, enum config_role bits */
    struct config_voter voters[CONFIG_VOTERS_MAX];   /* controller.quorum.voters */
    u32 voter_count;
    struct config_listener listeners[CONFIG_LISTENERS_MAX]; /* listeners */
    u32 listener_count;
    struct config_listener advertised[CONFIG_LISTENERS_MAX]; /* advertised.listeners */
    u32 advertised_count;
    char controller_listener_name[CONFIG_NAME_MAX]; /* controller.listener.names (first) */
    char rack[CONFIG_NAME_MAX];                      /* broker.rack */
    char log_dir[CONFIG_PATH_MAX];                   /* log.dirs (first) */
    u32 socket_request_max_bytes;                    /* socket.request.max.bytes */
    u64 connections_max_idle_ms;                     /* connections.max.idle.ms */
    u32 num_partitions;                              /* num.partitions = 1 */
    bool auto_create_topics_enable;                  /* auto.create.topics.enable = true */
    u64 log_segment_bytes;                           /* log.segment.bytes = 1 GiB */
    u64 log_flush_interval_messages; /* log.flush.interval.messages = never (INT64_MAX) */
    u64 producer_id_expiration_ms;   /* producer.id.expiration.ms = 1 day */

    /* KRaft quorum timing (Kafka's defaults). */
    u64 quorum_election_timeout_ms;      /* controller.quorum.election.timeout.ms = 1000 */
    u64 quorum_election_backoff_max_ms;  /* controller.quorum.election.backoff.max.ms = 1000 */
    u64 quorum_fetch_timeout_ms;         /* controller.quorum.fetch.timeout.ms = 2000 */
    u64 quorum_request_timeout_ms;       /* controller.quorum.request.timeout.ms = 2000 */
    u64 broker_heartbeat_interval_ms;    /* broker.heartbeat.interval.ms = 2000 */
    u64 broker_session_timeout_ms;       /* broker.session.timeout.ms = 9000 */
    /* The controller's decisions and the metadata log. */
    bool unclean_leader_election_enable;  /* unclean.leader.election.enable = false */
    u32 default_replication_factor;       /* default.replication.factor = 1 */
    u64 replica_lag_time_max_ms;          /* replica.lag.time.max.ms = 30000 */
    /* Replication (impl/broker/broker_replication.h). */
    u32 min_insync_replicas;              /* min.insync.replicas = 1 */
    u64 replica_fetch_wait_max_ms;        /* replica.fetch.wait.max.ms = 500 */
    u32 replica_fetch_min_bytes;          /* replica.fetch.min.bytes = 1 */
    u32 replica_fetch_max_bytes;          /* replica.fetch.max.bytes = 1 MiB (per partition) */
    u32 replica_fetch_response_max_bytes; /* replica.fetch.response.max.bytes = 10 MiB */
    u64 replica_fetch_backoff_ms;         /* replica.fetch.backoff.ms = 1000 */
    bool auto_leader_rebalance_enable;    /* auto.leader.rebalance.enable = true */
    u64 leader_imbalance_check_interval_seconds; /* leader.imbalance.check.interval.seconds = 300 */
    u64 metadata_snapshot_bytes; /* metadata.log.max.record.bytes.between.snapshots = 20 MiB */
    u64 log_retention_check_interval_ms;  /* log.retention.check.interval.ms = 300000 */
    /* Consumer groups (impl/group/, impl/broker/broker_groups.c), Kafka's defaults. */
    u32 offsets_topic_num_partitions;     /* offsets.topic.num.partitions = 50 (at most 64) */
    u32 offsets_topic_replication_factor; /* offsets.topic.replication.factor = 3 */
    u64 offsets_topic_segment_bytes;      /* offsets.topic.segment.bytes = 100 MiB */
    u64 offsets_retention_minutes;        /* offsets.retention.minutes = 10080 (7 days) */
    u64 offsets_commit_timeout_ms;        /* offsets.commit.timeout.ms = 5000 */
    u32 offset_metadata_max_bytes;        /* offset.metadata.max.bytes = 4096 */
    u64 group_initial_rebalance_delay_ms; /* group.initial.rebalance.delay.ms = 3000 */
    u64 group_min_session_timeout_ms;     /* group.min.session.timeout.ms = 6000 */
    u64 group_max_session_timeout_ms;     /* group.max.session.timeout.ms = 1800000 */
    u32 group_max_size;                   /* group.max.size = 2147483647 */
};

enum config_severity { CONFIG_WARNING, CONFIG_ERROR };

struct config_diagnostic {
    enum config_severity severity;
    u32 line; /* 1-based line in the properties text; 0 for an --override. */
    char message[256];
};

struct config_diagnostics {
    struct config_diagnostic items[CONFIG_DIAGNOSTICS_MAX];
    u32 count;
    u32 error_count;
};

/* Fills config with Kafka's defaults. */
void config_defaults(struct node_config *config);

/* Parses properties text (key=value lines, '#' and '!' comments, Java .properties escapes)
 * and then each "key=value" override, on top of the defaults. Returns true when there is no
 * error; warnings do not fail. Cross-field checks (a controller must appear in the voters,
 * controller.listener.names must name a listener, ...) are errors too. */
WARN_UNUSED bool config_parse(const char *text, u32 text_size, const char *const *overrides,
                              u32 override_count, struct node_config *config,
                              struct config_diagnostics *diagnostics);

/* The listener whose name is the controller listener, or NULL. */
const struct config_listener *config_controller_listener(const struct node_config *config);
/* The first listener that is not the controller listener (the client listener), or NULL. */
const struct config_listener *config_client_listener(const struct node_config *config);

#endif
