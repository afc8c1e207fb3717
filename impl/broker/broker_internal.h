/* broker_internal.h: what the broker's files share (broker.c: connections, slots, dispatch;
 * broker_topics.c: topics, their logs and the topics file; broker_metadata.c: Metadata and
 * CreateTopics; broker_data.c, broker_fetch.c: Produce, ListOffsets, Fetch; broker_admin.c:
 * DeleteTopics, CreatePartitions, DescribeCluster; broker_configs.c: topic configs,
 * DescribeConfigs, IncrementalAlterConfigs; broker_records.c: DeleteRecords,
 * OffsetForLeaderEpoch; broker_groups.c: FindCoordinator, the group APIs, __consumer_offsets).
 * Not for use outside impl/broker/.
 *
 * May depend on: broker.h, log/, protocol/. */
#ifndef BROKER_INTERNAL_H
#define BROKER_INTERNAL_H

#include "../log/partition_log.h"
#include "../metadata/metadata.h"
#include "../protocol/api_versions.h"
#include "../protocol/errors_generated.h"
#include "../protocol/header.h"
#include "broker.h"
#include "broker_metrics.h" /* struct broker_metrics. */
#include "broker_replication.h"

#define BROKER_TOPICS_MAX 64u
#define BROKER_PARTITIONS_MAX 64u     /* Per topic. */
#define BROKER_TOPIC_NAME_MAX 249u    /* Kafka's limit. */
/* Requests in service at once, over every connection. Parked ones (a long poll, acks=all
 * waiting for followers, a forwarded request) hold theirs, so it must be well above what a few
 * clients park at once: 4 froze every other connection behind three consumers' long polls. */
#define BROKER_SLOTS_MAX 32u
#define BROKER_CONNS_MAX 256u
#define BROKER_PARTS_MAX 256u         /* Partitions named by one request. */
#define BROKER_FRAME_SIZE_MAX (1024u * 1024u)
#define BROKER_DATA_SIZE_MAX (1024u * 1024u + 64u * 1024u) /* Fetch bytes per response. */
#define BROKER_ARENA_SIZE (64u * 1024u)
#define BROKER_OUT_SIZE (BROKER_DATA_SIZE_MAX + 256u * 1024u)
#define BROKER_SCRATCH_SIZE (512u * 1024u) /* Sync handlers: decoded arrays, response arrays. */
#define BROKER_TOPIC_NONE 0xffffu
#define BROKER_CLUSTER_ID "cairn-cluster-0001"
#define BROKER_LINK_BUFFER_SIZE (BROKER_FRAME_SIZE_MAX + 64u)
#define BROKER_FORWARD_TIMEOUT_NS (30ull * 1000u * 1000u * 1000u)

/* Owner user_data of log events: kind << 48 | slot << 32 | index. */
enum broker_event_kind {
    BROKER_EVENT_OPEN = 1,
    BROKER_EVENT_APPEND = 2,
    BROKER_EVENT_LIST = 3,
    BROKER_EVENT_READ = 4,
    BROKER_EVENT_CLOSE = 5,
    BROKER_EVENT_DELETE = 6, /* DeleteRecords. */
    BROKER_EVENT_MAINTENANCE = 7, /* Retention, compaction, flush (broker_maintenance.c). */
    BROKER_EVENT_REPLICA = 8,     /* A follower's append or truncation (broker_fetcher.c). */
    BROKER_EVENT_GROUP_APPEND = 9, /* A coordinator's batch (broker_groups.c; index: persist). */
    BROKER_EVENT_GROUP_READ = 10,  /* Loading __consumer_offsets (index: load generation). */
};
/* A file user_data is a log's own (io_tag BROKER_LOG_TAG | topic << 8 | partition), or bit 53
 * is set: */
/* Bit 53: removing the files of a deleted topic (broker_admin.c). */
#define BROKER_FILE_DELETE ((u64)1 << 53)
/* Bit 52: reading a __consumer_offsets range while loading it (broker_groups.c). */
#define BROKER_FILE_GROUP_LOAD ((u64)1 << 52)
#define BROKER_DELETE_NAMES_SIZE (64u * 1024u)
#define BROKER_LOG_TAG ((u32)(BROKER_FILE_TAG >> 32))

_Static_assert(BROKER_TOPICS_MAX <= 0x1000u, "topic index fits the io tag");
_Static_assert(BROKER_PARTITIONS_MAX <= 0x100u, "partition fits the io tag");

enum broker_partition_state {
    BROKER_PARTITION_OPENING,
    BROKER_PARTITION_OPEN,
    BROKER_PARTITION_FAILED,
    BROKER_PARTITION_CLOSED,  /* Closing or closed by a graceful stop. */
    BROKER_PARTITION_NOT_HOSTED, /* This broker is not one of its replicas: no log here. */
};

/* Topic-level configs a topic may override (broker_configs.c). */
enum broker_topic_config {
    BROKER_CONFIG_CLEANUP_POLICY,
    BROKER_CONFIG_DELETE_RETENTION_MS,
    BROKER_CONFIG_FLUSH_MESSAGES,
    BROKER_CONFIG_FLUSH_MS,
    BROKER_CONFIG_MAX_MESSAGE_BYTES,
    BROKER_CONFIG_RETENTION_BYTES,
    BROKER_CONFIG_RETENTION_MS,
    BROKER_CONFIG_SEGMENT_BYTES,
    BROKER_CONFIG_SEGMENT_MS,
    BROKER_CONFIG_MIN_INSYNC_REPLICAS, /* Not a log config: Produce acks=-1 reads it. */
    BROKER_TOPIC_CONFIGS
};

struct broker_topic {
    bool used;
    bool deleting; /* Deleted (not used): its files are being removed; name and count kept. */
    char name[BROKER_TOPIC_NAME_MAX + 1];
    struct proto_uuid id;
    u32 partition_count;
    struct partition_log *logs; /* partition_count, allocated at creation. */
    enum broker_partition_state *states;
    struct broker_replica *replicas; /* Replication state (broker_replication.h). */
    u32 overrides_set;                     /* Bit per enum broker_topic_config. */
    i64 overrides[BROKER_TOPIC_CONFIGS];   /* Valid where the bit is set. */
};

/* The broker's link to the active controller (broker_link.c): registration, heartbeats, and
 * the admin requests it forwards. */
enum broker_link_state {
    BROKER_LINK_UNREGISTERED,
    BROKER_LINK_REGISTERING,  /* BrokerRegistration sent, its answer awaited. */
    BROKER_LINK_REGISTERED,   /* Heartbeating with broker_epoch. */
};

struct broker_link {
    u32 timer;               /* The node's timer id for the link. */
    io_conn conn;            /* To the controller listener of connected_id; 0 when none. */
    bool connected;
    i32 connected_id;
    u64 backoff_ns;
    u64 retry_ns;            /* No connection attempt before this time. */
    i32 correlation_next;
    struct proto_uuid incarnation;
    enum broker_link_state state;
    i32 registration_correlation;
    i64 broker_epoch;
    bool heartbeat_inflight;
    i32 heartbeat_correlation;
    u64 heartbeat_due_ns;
    u64 heartbeat_sent_ns;
    bool fenced;             /* As the last heartbeat answer said. */
    bool want_shut_down;     /* A graceful stop asked for a controlled shutdown. */
    bool shut_down_granted;
    u64 reconcile_ns;        /* When to retry a reconciliation (reconcile_pending). */
    i32 create_correlation;  /* An auto-creation CreateTopics in flight, or -1. */
    bool create_internal;    /* ... and it creates __consumer_offsets (its answer is read). */
    i16 create_internal_error; /* The last error that creation got (logged when it changes). */
    u8 *buffer;              /* One outgoing frame. */
};

/* The follower's replica fetcher (broker_fetcher.c): one link per leader broker this broker
 * follows a partition of, one Fetch in flight on it, its answer held while it is applied. */
#define BROKER_FETCHER_LINKS_MAX 16u
#define BROKER_FETCHER_REQUEST_SIZE (64u * 1024u) /* One encoded Fetch request. */
#define BROKER_FETCHER_ARENA_SIZE (128u * 1024u)  /* One decoded Fetch answer. */

enum broker_fetcher_step {
    BROKER_FETCHER_ASKED,      /* Named by the Fetch in flight. */
    BROKER_FETCHER_APPENDING,  /* A batch of the answer is being appended. */
    BROKER_FETCHER_TRUNCATING, /* A divergence or an out-of-range answer cuts the log. */
    BROKER_FETCHER_ADVANCING,  /* The log start follows the leader's (delete_records). */
    BROKER_FETCHER_DONE,
};

/* One partition named by a fetcher's Fetch, and what its answer asks of the log. */
struct broker_fetcher_part {
    u16 topic;
    u16 partition;
    struct proto_uuid topic_id; /* The topic the request named: a slot may be reused. */
    i32 leader_epoch;           /* The image's when the request was built. */
    i64 fetch_offset;
    enum broker_fetcher_step step;
    u32 records_position;       /* Of the answer's records in the held frame. */
    u32 records_size;
    u32 records_done;           /* Bytes of them appended or skipped. */
    u32 batch_size;             /* APPENDING: the batch in the log's hands. */
    i64 leader_high_watermark;  /* -1 unknown. */
    i64 leader_log_start;       /* -1 unknown. */
    i64 high_watermark_before;  /* TRUNCATING: what the replica knew when it cut. */
};

struct broker_fetcher_link {
    bool used;
    i32 leader_id;
    bool wanted;          /* The leader leads a partition this broker follows. */
    io_conn conn;         /* To the leader's client listener; 0 when none. */
    bool connected;
    u64 retry_ns;         /* No connection attempt before this time. */
    u64 wake_ns;          /* Idle with every partition backing off: fetch again then. */
    bool in_flight;       /* A Fetch awaits its answer, */
    i32 correlation;
    u64 deadline_ns;      /* ... given up on at this time. */
    bool applying;        /* The answer's frame is held until its log operations complete. */
    io_conn held_conn;    /* Where it is held (conn may be closed and zeroed first). */
    u8 *held;
    u32 next_key;         /* topic << 8 | partition where the next Fetch starts (rotation). */
    struct broker_fetcher_part parts[BROKER_PARTS_MAX];
    u32 part_count;
};

struct broker_fetcher {
    struct broker_fetcher_link links[BROKER_FETCHER_LINKS_MAX];
    /* Bit per partition: a log operation of a fetcher's answer is in flight on its log (no
     * other link's answer may touch it until it completes). */
    u64 busy[BROKER_TOPICS_MAX];
    i32 correlation_next;
    bool links_full_logged;
    bool reconcile_wanted; /* A partition failed: which links are wanted may have changed. */
    u8 request[BROKER_FETCHER_REQUEST_SIZE];
    _Alignas(16) u8 arena[BROKER_FETCHER_ARENA_SIZE]; /* Decoded structs: aligned. */
};

/* One partition named by a request in service. */
struct broker_part {
    u32 request_topic;   /* Index of its topic in the request (responses keep that order). */
    u16 topic;           /* In broker->topics, or BROKER_TOPIC_NONE. */
    i32 partition;
    i16 error;
    bool done;
    i64 offset;          /* Produce: base offset. ListOffsets: found. Fetch: fetch offset. */
    i64 timestamp;       /* ListOffsets: asked, then found. */
    u32 max_bytes;       /* Fetch. */
    u32 data_position;   /* Fetch: the records' place in the slot->data address range. */
    u32 data_size;
    io_file file;        /* Fetch: the records are this file range, sent by io_send_file. */
    u64 file_position;
    u32 appends;         /* Produce: batches still being appended. */
    u32 batch_next;      /* Produce: where in slot->frame the batch of the next append event
                          * starts (its observation reads the stamped header there). */
    i64 last_offset;     /* Produce: the last offset appended (acks=-1 waits for the high
                          * watermark past it). */
    bool isr_alone;      /* Produce acks=-1: the image's ISR was this broker alone when the
                          * batches went to the log, so their appends commit them. */
    const char *error_message; /* Produce: why, when error alone does not say (static). */
    i32 diverging_epoch; /* Fetch: DivergingEpoch to answer (-1: none), ... */
    i64 diverging_end;   /* ... and its end offset. */
};

struct broker_slot {
    bool used;
    io_conn conn;        /* 0 once the connection closed: the answer is dropped. */
    struct proto_request_header header;
    union kafka_request request; /* Views into frame. */
    struct proto_arena arena;
    u8 *arena_memory;
    /* The request frame, held in the bytes it arrived in (io_frame_hold) until the slot is
     * finished, so a produced batch goes from the socket's buffer to the log with no copy. */
    u8 *frame;
    u32 frame_size;
    io_conn frame_conn;  /* Where the frame is held: slot->conn may be zeroed (closed) first. */
    u8 *data;            /* Fetch: an address range standing for the records' file ranges
                          * (never written: the encoder splices them, see broker_fetch.c). */
    u32 data_used;
    struct broker_part parts[BROKER_PARTS_MAX];
    u32 part_count;
    u32 pending;         /* Log or file operations still to complete. */
    u32 next_part;       /* Fetch: the next partition to read. */
    bool parked;         /* Fetch: waiting for min_bytes or max_wait. Produce acks=-1: waiting
                          * for the high watermark until deadline_ns (the slot's timer). */
    bool waited;         /* Fetch: the long poll ran; answer with what there is. */
    u64 arrival_ns;      /* When the request's frame arrived (latency metrics). */
    u64 deadline_ns;     /* Fetch: when the long poll ends (0: not started). Forwarded:
                          * when the controller's answer is given up on. */
    u64 timer_ns;        /* When its deadline wakes it (0: none): the slots share the timer
                          * BROKER_TIMER_SLOTS, armed at the earliest (broker_slot_timer_set). */
    bool forwarding;     /* The frame goes to the active controller as it is. */
    bool forward_sent;   /* ... and is on the current link connection. */
    i32 forward_correlation;
};

/* One pass of log maintenance over the open logs (broker_maintenance.c). */
struct broker_maintenance {
    bool running;
    bool in_flight; /* An operation on the cursor's log awaits its event. */
    u32 topic;      /* The cursor: topic slot, partition, step. */
    u32 partition;
    u32 step;
};

typedef void (*broker_close_observer)(void *owner, io_conn conn);

/* Producer ids for InitProducerId (broker_producer_ids.c): [next, end) is being handed out,
 * [spare_start, spare_end) is the block fetched ahead. */
struct broker_producer_ids {
    i64 next, end;
    i64 spare_start, spare_end;
    i32 correlation; /* An AllocateProducerIds in flight on the controller link, or -1. */
};

struct broker {
    struct node_config config;
    struct io *io;
    u32 timer_base;
    struct broker_topic topics[BROKER_TOPICS_MAX];
    u32 topic_count;
    struct broker_slot slots[BROKER_SLOTS_MAX];
    io_conn conns[BROKER_CONNS_MAX]; /* Connections seen, for back-pressure. */
    bool conns_paused;
    u8 *out; /* One response is encoded here, then copied by io_send. */
    u8 *scratch; /* Arena memory of one sync handler (and of an async one's response). */
    const struct metadata_image *image; /* The node's; topics and leaders come from it. */
    i32 controller_id; /* The active controller as the quorum names it; -1 unknown. */
    struct broker_producer_ids producer_ids;
    struct broker_link link;
    bool reconcile_pending; /* A deleted topic's logs were busy: reconcile again soon. */
    bool stopping;
    /* Removing a deleted topic's files: one topic, one partition, one file at a time. */
    u32 delete_topic;     /* BROKER_TOPIC_NONE when idle. */
    u32 delete_partition;
    u8 *delete_names;     /* A partition directory's listing. */
    u32 delete_position;  /* The next name in delete_names. */
    u32 delete_size;
    /* Connections.max.idle.ms: the last traffic of each watched connection (by conns index). */
    u64 conn_active_ns[BROKER_CONNS_MAX];
    bool idle_timer_armed;
    broker_close_observer close_observer; /* Told of every close the broker decides. */
    void *close_observer_owner;
    struct broker_maintenance maintenance;
    struct broker_metrics metrics;
    struct broker_fetcher fetcher; /* The follower's side of replication. */
    bool replication_timer_armed;  /* BROKER_TIMER_REPLICATION (broker_replication.c). */
    u64 slot_timer_ns;             /* BROKER_TIMER_SLOTS is armed for then (0: not armed). */
    struct broker_groups *groups;  /* The group coordinator's side (broker_groups.c). */
};

/* broker.c */
struct broker_slot *broker_slot_take(struct broker *broker, io_conn conn, const u8 *frame,
                                     u32 size, const struct proto_request_header *header);
void broker_slot_finish(struct broker *broker, struct broker_slot *slot,
                        const union kafka_response *response);
/* The slot's deadline (a long poll's end, acks=all's timeout, a forwarded request's): its
 * handler runs then, unless cancelled or set again first. */
void broker_slot_timer_set(struct broker *broker, struct broker_slot *slot, u64 deadline_ns);
void broker_slot_timer_cancel(struct broker *broker, struct broker_slot *slot);
void broker_send_response(struct broker *broker, io_conn conn,
                          const struct proto_request_header *header,
                          const union kafka_response *response);
u64 broker_event_data(enum broker_event_kind kind, u32 slot, u32 index);

void broker_scratch_arenas(struct broker *broker, struct proto_arena *decode,
                           struct proto_arena *response);
/* The advertised host and port of the client listener. */
void broker_advertised(const struct broker *broker, char *host, u32 host_size, i32 *port);

/* broker_topics.c */
i32 broker_topic_find(const struct broker *broker, struct proto_string name);
bool broker_topic_name_valid(struct proto_string name);
void broker_on_log_event(void *owner, const struct log_event *event);
void broker_topics_close(struct broker *broker);
/* Open here and led by this broker in the metadata image. */
bool broker_partition_ready(const struct broker *broker, u32 topic, i32 partition);
/* The image's entry for partition p of the broker's topic index (NULL if gone). */
const struct metadata_partition *broker_partition_metadata(const struct broker *broker,
                                                           u32 index, i32 partition);
/* The image's leader epoch of the partition (0 when unknown). */
i32 broker_leader_epoch(const struct broker *broker, u32 index, i32 partition);
bool broker_topic_deleting(const struct broker *broker, struct proto_string name);
/* An I/O error took the partition's log offline (or its open failed). */
bool broker_partition_offline(const struct broker *broker, u32 topic, u32 partition);
/* Nothing is in flight on the partition's log (requests in service may still name it). */
bool broker_partition_idle(const struct broker *broker, u32 topic, u32 partition);
/* Reopens (recovers) every offline log that is idle (BROKER_TIMER_REPLICATION). */
void broker_partitions_restart_offline(struct broker *broker);
void broker_partition_start(struct broker *broker, u32 index, u32 p);
bool broker_topic_grow(struct broker *broker, u32 index, u32 count);
/* Overrides from the image's config list of a topic (unknown names are skipped). */
void broker_topic_overrides(const struct metadata_topic *topic, u32 *set, i64 *overrides);
/* Applies changed overrides to the topic's open logs (broker_configs.c). */
void broker_topic_apply_overrides(struct broker *broker, u32 index, u32 set,
                                  const i64 *overrides);

/* broker_link.c */
bool broker_start_forward(struct broker *broker, struct broker_slot *slot);
void broker_forward_on_timer(struct broker *broker, struct broker_slot *slot);
/* Asks the controller to create these topics with the defaults (auto-creation). */
void broker_link_auto_create(struct broker *broker, const struct proto_string *names,
                             u32 count);
void broker_link_start(struct broker *broker);
void broker_link_stop(struct broker *broker);
/* The link timer fires within delay_ns (for a retry of the reconciliation). */
void broker_link_wake(struct broker *broker, u64 delay_ns);
/* Sends a request of the broker's own to the active controller: its correlation id, or -1
 * when the link is not connected and registered (or the send failed). The answer comes back
 * through broker_link_on_frame (AlterPartition: broker_replication_on_alter_answer). */
i32 broker_link_request(struct broker *broker, i16 api_key, i16 version,
                        const union kafka_request *body);

/* broker_configs.c */
void broker_topic_log_config(const struct broker *broker, const struct broker_topic *topic,
                             struct log_config *config);
i32 broker_topic_config_find(const char *name, u32 size);
bool broker_topic_config_parse(u32 id, const char *text, u32 size, i64 *value);
void broker_topic_config_format(u32 id, i64 value, char *text, u32 size);
const char *broker_topic_config_name(u32 id);
bool broker_handle_describe_configs(struct broker *broker, io_conn conn,
                                    const struct proto_request_header *header,
                                    struct proto_reader *body);

/* broker_records.c */
bool broker_start_delete_records(struct broker *broker, struct broker_slot *slot);
void broker_delete_records_on_event(struct broker *broker, struct broker_slot *slot,
                                    struct broker_part *part, const struct log_event *event);
bool broker_handle_offset_for_leader_epoch(struct broker *broker, io_conn conn,
                                           const struct proto_request_header *header,
                                           struct proto_reader *body);

/* broker_admin.c */
/* Deletes the topic's logs once idle and starts removing its files; false while busy. */
bool broker_topic_delete_when_idle(struct broker *broker, u32 index);
bool broker_handle_describe_cluster(struct broker *broker, io_conn conn,
                                    const struct proto_request_header *header,
                                    struct proto_reader *body);
void broker_delete_on_file(struct broker *broker, const struct io_completion *completion);

/* broker_metadata.c */
bool broker_handle_metadata(struct broker *broker, io_conn conn,
                            const struct proto_request_header *header,
                            struct proto_reader *body);

/* broker_data.c, broker_fetch.c */
i16 broker_log_error(enum log_result result);
bool broker_part_add(struct broker *broker, struct broker_slot *slot, u32 request_topic,
                     struct proto_string name, i32 partition);
bool broker_start_produce(struct broker *broker, struct broker_slot *slot);
bool broker_start_list_offsets(struct broker *broker, struct broker_slot *slot);
bool broker_start_fetch(struct broker *broker, struct broker_slot *slot);
void broker_data_on_event(struct broker *broker, struct broker_slot *slot,
                          enum broker_event_kind kind, u32 index, const struct log_event *event);
void broker_fetch_on_log_read(struct broker *broker, struct broker_slot *slot,
                              struct broker_part *part, const struct log_event *event);
/* A parked slot's deadline passed, or it must end now (its connection closed, a partition's
 * leadership moved): Fetch answers with what it has, Produce re-examines what it waits for. */
void broker_fetch_on_timer(struct broker *broker, struct broker_slot *slot);
/* The partition's log grew or became durable (an append or a flush completed). */
void broker_fetch_wake(struct broker *broker, u32 topic, i32 partition);
/* Parked fetches naming the partition start a new pass: replica fetches when the log grew,
 * consumer fetches when the high watermark moved. */
void broker_fetch_wake_parked(struct broker *broker, u32 topic, i32 partition, bool grew,
                              bool high_watermark_moved);
/* Produce requests waiting (acks=-1) on the partition look again: answered once each of their
 * partitions is past the high watermark, led elsewhere, or timed out. */
void broker_produce_wake(struct broker *broker, u32 topic, i32 partition);
void broker_produce_on_timer(struct broker *broker, struct broker_slot *slot);
/* This log's own part of the high watermark: its log end, or with a per-message flush policy
 * its durable end (the leader's high watermark is the minimum of it and the ISR's ends:
 * broker_replica_high_watermark). */
i64 broker_high_watermark(const struct partition_log *log);

/* broker.c: a close the broker decides (idle, a failed send): io, bookkeeping, the owner. */
void broker_conn_close(struct broker *broker, io_conn conn);
/* broker.c: a parked request's answer left (broker_groups.c): its connection's idle time
 * starts again and reading resumes on it (unless back-pressure pauses every connection). */
void broker_conn_answered(struct broker *broker, io_conn conn);

/* broker_groups.c: the consumer-group coordinator (impl/group/) inside the broker:
 * FindCoordinator, the group APIs, and __consumer_offsets as the coordinator's storage
 * (persisting its batches as the partition's leader, loading a partition it comes to lead).
 * A request the coordinator parks (a JoinGroup waiting for its rebalance, an OffsetCommit
 * waiting for its records to commit) takes no request slot: it waits in a table of its own
 * (token -> connection, request header) with reading paused on its connection, so answers
 * still leave in request order. */
#define BROKER_OFFSETS_TOPIC "__consumer_offsets"
struct broker_groups;
struct broker_groups *broker_groups_create(struct broker *broker);
void broker_groups_destroy(struct broker_groups *groups);
/* Sync handlers (broker_handlers): FindCoordinator, and every group API. */
/* ----- broker_producer_ids.c ----- */
bool broker_handle_init_producer_id(struct broker *broker, io_conn conn,
                                    const struct proto_request_header *header,
                                    struct proto_reader *body);
bool broker_producer_ids_awaits(const struct broker *broker, i32 correlation);
/* The controller's answer (reader after the correlation id), or NULL: the link was lost. */
void broker_producer_ids_on_answer(struct broker *broker, struct proto_reader *reader);

bool broker_handle_find_coordinator(struct broker *broker, io_conn conn,
                                    const struct proto_request_header *header,
                                    struct proto_reader *body);
bool broker_handle_group_request(struct broker *broker, io_conn conn,
                                 const struct proto_request_header *header,
                                 struct proto_reader *body);
/* A request of this connection waits parked (reading on it stays paused until answered). */
bool broker_groups_parked_on(const struct broker *broker, io_conn conn);
void broker_groups_conn_closed(struct broker *broker, io_conn conn);
/* Leadership, logs or topics changed: unload the __consumer_offsets partitions no longer led
 * here (or offline), load the ones newly led. */
void broker_groups_reconcile(struct broker *broker);
/* The partition's high watermark moved or its leadership changed (broker_produce_wake):
 * persists waiting on it look again. */
void broker_groups_on_high_watermark(struct broker *broker, u32 topic, i32 partition);
/* Log events of kinds BROKER_EVENT_GROUP_APPEND and BROKER_EVENT_GROUP_READ. */
void broker_groups_on_log_event(struct broker *broker, enum broker_event_kind kind, u32 index,
                                const struct log_event *event);
/* File completions tagged BROKER_FILE_GROUP_LOAD. */
void broker_groups_on_file(struct broker *broker, const struct io_completion *completion);

/* broker_link.c: asks the controller to create __consumer_offsets (offsets.topic.* settings,
 * cleanup.policy=compact), unless a creation is already in flight. */
void broker_link_create_offsets_topic(struct broker *broker);

/* broker_maintenance.c: the idle sweep and log maintenance (timers BROKER_TIMER_IDLE and
 * BROKER_TIMER_MAINTENANCE). broker_idle_arm is called whenever a connection's traffic or
 * service changes; it arms the sweep if it is not armed. */
void broker_idle_arm(struct broker *broker);
void broker_maintenance_start(struct broker *broker);
void broker_maintenance_on_event(struct broker *broker, const struct log_event *event);
void broker_periodic_on_timer(struct broker *broker, u32 index);

/* broker_metrics.c */
void broker_metrics_request(struct broker *broker, i32 api_key, u32 frame_size);
void broker_metrics_rejected(struct broker *broker, i32 api_key, bool unsupported);
void broker_metrics_sent(struct broker *broker, i32 api_key, u64 bytes);
void broker_metrics_latency(struct broker *broker, i32 api_key, u64 latency_ns);
/* The error codes inside an answer the broker encoded from response (once per answer sent). */
void broker_metrics_answered(struct broker *broker, i16 api_key, i16 version,
                             const union kafka_response *response);
/* An answer sent as bytes (size prefix included) the broker did not encode from a struct
 * (relayed from the controller, ApiVersions): bytes out, and the error codes it carries. */
void broker_metrics_sent_frame(struct broker *broker, const struct proto_request_header *request,
                               const u8 *bytes, u32 size);

#endif
