/* kafka_client_internal.h: the client's state and the link machinery shared by kafka_client.c
 * (links, metadata, producer, consumer) and kafka_client_group.c (the group member). Not for
 * use outside impl/kafka_client/.
 *
 * May depend on: the same as kafka_client.h. */
#ifndef KAFKA_CLIENT_INTERNAL_H
#define KAFKA_CLIENT_INTERNAL_H

#include "kafka_client.h"

#include "../../model/history.h"
#include "../protocol/header.h"

/* Timers: 0 = next operation (producer), 1 = the operation's deadline (producer), 2 = the
 * pump's wake-up after a backoff or at a due heartbeat or commit, 8 + i = the deadline of link
 * i's request. */
enum kafka_client_timer { KC_TIMER_NEXT = 0, KC_TIMER_DEADLINE = 1, KC_TIMER_PUMP = 2,
                          KC_TIMER_LINK = 8 };
enum kafka_client_request {
    KC_NONE,
    KC_CREATE_TOPICS,
    KC_METADATA,
    KC_PRODUCE,
    KC_LIST_OFFSETS,
    KC_FETCH,
    KC_FIND_COORDINATOR,
    KC_JOIN_GROUP,
    KC_SYNC_GROUP,
    KC_HEARTBEAT,
    KC_OFFSET_COMMIT,
    KC_OFFSET_FETCH,
    KC_INIT_PRODUCER_ID,
    KC_REQUEST_KINDS,
};

#define KC_VERSION_CREATE_TOPICS 7
#define KC_VERSION_METADATA 12
#define KC_VERSION_PRODUCE 9
#define KC_VERSION_LIST_OFFSETS 7
#define KC_VERSION_FETCH 12
#define KC_VERSION_FIND_COORDINATOR 3
#define KC_VERSION_JOIN_GROUP 9
#define KC_VERSION_SYNC_GROUP 5
#define KC_VERSION_HEARTBEAT 4
#define KC_VERSION_OFFSET_COMMIT 8
#define KC_VERSION_OFFSET_FETCH 7
#define KC_VERSION_INIT_PRODUCER_ID 4

#define KC_LINKS_MAX 16u
#define KC_FRAME_MAX (1024u * 1024u)
#define KC_SEND_MAX (32u * 1024u)
#define KC_ARENA_SIZE (64u * 1024u)
#define KC_VALUE_MAX 1024u
#define KC_BACKOFF_NS (100 * NS_PER_MS)
#define KC_MEMBER_ID_MAX 128u /* Bytes of a member id this client keeps (longer: malformed). */
#define KC_GROUP_MEMBERS_MAX 64u
#define KC_PAYLOAD_MAX 256u   /* One member's subscription or assignment bytes. */

_Static_assert(KC_TIMER_LINK + KC_LINKS_MAX <= IO_TIMERS_MAX, "too many link timers");
_Static_assert(KAFKA_CLIENT_BOOTSTRAP_MAX < KC_LINKS_MAX, "no room for the coordinator link");
_Static_assert(KAFKA_CLIENT_PARTITIONS_MAX <= 32, "partition masks are 32 bits");

struct kc_link {
    char endpoint[CONFIG_ENDPOINT_MAX];
    i32 broker_id; /* -1 until Metadata names the broker at this endpoint. */
    io_conn conn;  /* 0: no connection. */
    bool connected;
    bool coordinator; /* The group coordinator's own link: group requests only. */
    enum kafka_client_request pending;
    i32 correlation_id;
    u32 partitions;    /* What the pending ListOffsets or Fetch asks about (bit per partition). */
    u64 not_before_ns; /* No new connection or request before this instant (a backoff). */
    u64 session;       /* Names the current connection (client-wide count, from 1). */
};

/* Where the group member is in Kafka's classic protocol. */
enum kc_group_phase {
    KCG_UNJOINED, /* A JoinGroup is due (after committing, and under eager, revoking). */
    KCG_JOINING,  /* JoinGroup in flight. */
    KCG_SYNCING,  /* Joined: SyncGroup due or in flight. */
    KCG_STABLE,   /* Synced: heartbeats, commits, reads what it was assigned. */
};

/* A partition of the group member. */
enum kc_group_partition {
    KCG_PARTITION_NONE,         /* Not owned. */
    KCG_PARTITION_OFFSET_FETCH, /* Owned: its committed offset is asked of the coordinator. */
    KCG_PARTITION_LIST,         /* Owned: no usable offset; ListOffsets earliest first. */
    KCG_PARTITION_READY,        /* Owned and read from its position. */
    KCG_PARTITION_REVOKING,     /* Given up: no more reads; its position is committed first. */
};

struct kc_group {
    enum kc_group_phase phase;
    i32 coordinator_link; /* -1: unknown (FindCoordinator first). */
    u64 find_not_before_ns;
    u64 join_not_before_ns;
    u64 offset_fetch_not_before_ns;
    char member_id[KC_MEMBER_ID_MAX];
    u32 member_id_size;
    char instance_id[24]; /* "i<client id>" for a static member, else empty. */
    i32 generation;       /* -1: none. */
    bool leader;
    enum history_group_protocol protocol;
    bool join_prepared;   /* This rejoin's commit (and eager revocation) was started. */
    u32 owned;            /* Partitions it owns, including those being revoked. */
    i32 owned_generation; /* The generation whose assignment gave it what it owns. */
    u32 positioned;       /* Owned partitions whose position is valid (POSITION reported). */
    u32 revoking;         /* Owned partitions being given up (KCG_PARTITION_REVOKING). */
    i32 revoke_generation; /* The generation whose assignment gave them. */
    bool revoke_commit_sent;
    bool rejoin_after_revoke; /* Cooperative: the revocation is followed by a rejoin. */
    enum kc_group_partition partition[KAFKA_CLIENT_PARTITIONS_MAX];
    u64 heartbeat_at_ns;
    bool heartbeat_passed_over; /* A commit went while the heartbeat was due: it goes next. */
    u64 commit_at_ns;
    /* The OffsetCommit in flight. */
    u32 commit_mask;
    i32 commit_generation;
    i64 commit_offset[KAFKA_CLIENT_PARTITIONS_MAX];
    /* The OffsetFetch in flight. */
    u32 offset_fetch_asked;
    u32 offset_fetch_mask; /* Of those asked, the ones still waiting for it. */
    i32 offset_fetch_generation;
    u64 offset_fetch_sent_ns;
    /* The leader's assignment, sent in its SyncGroup. */
    u32 sync_count;
    char sync_member[KC_GROUP_MEMBERS_MAX][KC_MEMBER_ID_MAX];
    u32 sync_member_size[KC_GROUP_MEMBERS_MAX];
    u32 sync_mask[KC_GROUP_MEMBERS_MAX];
    u8 payload[KC_GROUP_MEMBERS_MAX][KC_PAYLOAD_MAX];
    _Alignas(8) u8 decode_memory[16u * 1024u];
};

struct kafka_client {
    struct kafka_client_config config;
    struct io *io;
    struct kc_link links[KC_LINKS_MAX];
    u32 link_count;
    u32 bootstrap_next; /* Where the next bootstrap connection goes. */
    u32 metadata_next;  /* Where the next Metadata request goes. */
    i32 correlation_next;
    u64 session_next;
    u64 pump_at_ns; /* The armed wake-up (0: none). */
    /* Metadata. */
    bool topic_created; /* Producer: CreateTopics answered (created, or it already existed). */
    bool metadata_seen; /* The topic's partitions were seen once: operations may start. */
    bool metadata_wanted;
    u64 metadata_not_before_ns;
    i32 leader_link[KAFKA_CLIENT_PARTITIONS_MAX]; /* -1: no leader known. */
    /* Producer. */
    u64 operation_next;
    bool active;
    bool sent;
    u64 operation_id;
    u32 partition;
    u64 checksum;
    u8 key[32];
    u32 key_size;
    u8 value[KC_VALUE_MAX];
    /* The operation's first request left the client (a resend may then duplicate it). */
    bool attempted;
    /* An attempt's outcome was unknown (or maybe appended): the batch may be in a log. */
    bool unresolved;
    u64 resend_not_before_ns; /* A resend waits for this (and the metadata asked before it). */
    u64 first_sent_ns;
    /* The operation's batch: built at its first send and, when the producer retries, resent
     * byte for byte (same producer id, epoch and sequence) until a new producer id replaces
     * it. 0: not built. */
    u64 batch_size;
    i64 batch_producer_id;
    i32 batch_sequence;
    /* Idempotent producer: its producer id (-1: InitProducerId is due before any send), and
     * per partition the sequence its next new batch gets. */
    i64 producer_id;
    i16 producer_epoch;
    u64 producer_id_not_before_ns;
    i32 next_sequence[KAFKA_CLIENT_PARTITIONS_MAX];
    /* Consumer. */
    i64 position[KAFKA_CLIENT_PARTITIONS_MAX];
    u64 positioned_on[KAFKA_CLIENT_PARTITIONS_MAX]; /* A link session; 0: list it first. */
    /* Group consumer. */
    struct kc_group group;
    u8 send_buffer[KC_SEND_MAX];
    u8 batch[KC_VALUE_MAX + 256];
    _Alignas(8) u8 arena_memory[KC_ARENA_SIZE];
};

/* ---- kafka_client.c: links ---- */
void kc_observe(struct kafka_client *client, u32 kind, u64 a, u64 b, u64 c, u64 d);
struct proto_string kc_string(const char *text);
void kc_wake(struct kafka_client *client, u64 at_ns);
void kc_link_backoff(struct kafka_client *client, u32 index);
void kc_connect(struct kafka_client *client, u32 index);
/* Encodes and sends one request on a connected idle link; false when it could not be sent
 * (the caller then treats the link as lost). Arms the link's request timeout. */
WARN_UNUSED bool kc_send(struct kafka_client *client, u32 index, enum kafka_client_request kind,
                         i16 api_key, i16 version, const union kafka_request *body);
void kc_link_lost(struct kafka_client *client, u32 index, i16 error);
/* An idle connected link other than the coordinator's for a one-off request (Metadata,
 * CreateTopics, FindCoordinator); -1 when none (a bootstrap connection may have started). */
i32 kc_setup_link(struct kafka_client *client);
/* The link of an endpoint (the coordinator's own, or the one for everything else), added if
 * new; -1 when the table is full of links in use. */
i32 kc_link_of(struct kafka_client *client, const char *endpoint, bool coordinator);
bool kc_any_pending(const struct kafka_client *client, enum kafka_client_request kind);
/* The partitions (bit mask) of the topic. */
u32 kc_all_partitions(const struct kafka_client *client);
/* Forgets partitions in what pending ListOffsets and Fetch requests asked: their answers will
 * not move these partitions' positions. */
void kc_forget_partitions(struct kafka_client *client, u32 mask);

/* ---- kafka_client_group.c: the group member ---- */
void kc_group_init(struct kafka_client *client);
void kc_group_pump(struct kafka_client *client);
/* Partitions the consumer reads: ListOffsets for those LIST, Fetch for those READY. */
u32 kc_group_listable(const struct kafka_client *client);
u32 kc_group_readable(const struct kafka_client *client);
/* ListOffsets (earliest) answered for an owned partition waiting for it. */
void kc_group_positioned(struct kafka_client *client, u32 p, i64 offset);
/* The broker no longer has the partition's position: start from the earliest again. */
void kc_group_out_of_range(struct kafka_client *client, u32 p);
void kc_group_dispatch(struct kafka_client *client, u32 index, enum kafka_client_request kind,
                       const union kafka_response *response);
/* The link carrying a group request (or the coordinator's link) failed. */
void kc_group_link_lost(struct kafka_client *client, u32 index,
                        enum kafka_client_request pending, i16 error);

#endif
