/* group_coordinator.h: Kafka's classic consumer-group coordinator (JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups, ListGroups, DeleteGroups,
 * OffsetDelete) as a state machine with no I/O of its own.
 *
 * One coordinator per broker serves the groups of every partition of __consumer_offsets this
 * broker leads. The broker (impl/broker/broker_groups.c) decodes requests with the generated
 * codec and hands them here with an opaque token naming the waiting request; the coordinator
 * answers at once (GROUP_ANSWERED, the response filled in the caller's arena), or later
 * (GROUP_PARKED: a JoinGroup waiting for the rebalance, a SyncGroup waiting for the leader's
 * assignment, anything waiting for its records to be written) through the owner's `answer`
 * callback with the same token. Every parked token is answered exactly once: by the protocol,
 * by `group_unload` (NOT_COORDINATOR) or by `group_coordinator_cancel` (the connection closed;
 * no callback then). Where Kafka would leave a parked request unanswered forever, this answers
 * it: a member's second JoinGroup or SyncGroup while its first is parked answers the first
 * REBALANCE_IN_PROGRESS, and a member removed with a parked request gets UNKNOWN_MEMBER_ID.
 *
 * State that must survive a coordinator failover (committed offsets, each group's generation,
 * protocol, leader and members with their assignments) is written as records of Kafka's own
 * __consumer_offsets formats (group_records.h): the coordinator hands the owner a whole record
 * batch to append to the group's partition (`persist`), and the owner calls `group_persisted`
 * once the batch is committed (the high watermark passed it) or failed. A new leader of that
 * partition replays it (group_load_*) before it serves its groups; until then they answer
 * COORDINATOR_LOAD_IN_PROGRESS.
 *
 * The group state machine is Kafka's: Empty -> PreparingRebalance -> CompletingRebalance ->
 * Stable (and Dead once deleted or unloaded). A rebalance starts when a member joins, leaves,
 * changes its subscription, or misses its session timeout; it ends when every known member has
 * rejoined or its rebalance timeout passed (members that did not rejoin are removed); a new,
 * empty group waits group.initial.rebalance.delay.ms for more members first (extended by that
 * delay per new member, up to the rebalance timeout). The generation increases by one each
 * time a rebalance completes. The leader (the first member to join, kept while it stays) gets
 * every member's metadata and sends the assignment in its SyncGroup; the coordinator persists
 * it, then gives every member its part. Heartbeat, SyncGroup and OffsetCommit from an unknown
 * member answer UNKNOWN_MEMBER_ID, from an older generation ILLEGAL_GENERATION, during a
 * rebalance REBALANCE_IN_PROGRESS (so members rejoin) - this is the fencing of catalog G1.
 * JoinGroup v4+ with an empty member id gets MEMBER_ID_REQUIRED and the id to use (KIP-394).
 * Static members (group.instance.id, KIP-345): a known instance rejoining with a new member id
 * replaces its old id without a rebalance when its protocols are unchanged; the old id is
 * fenced (FENCED_INSTANCE_ID). Cooperative rebalancing (KIP-429) needs nothing more from the
 * coordinator: of the protocols every member supports, each member votes for the first of its
 * own list and the most votes win (ties go to the earliest in the first member's list), and
 * members revoke and rejoin on their side.
 *
 * Determinism: no clock (now_ns is passed in), no randomness (Kafka's UUID in a member id is
 * replaced: ids are "<prefix>-<node id>-<leader epoch>-<counter>", the prefix being the group
 * instance id of a static member or else the client id (at most 255 bytes of it), the leader
 * epoch that of the group's __consumer_offsets partition when it was loaded, and the counter
 * one per partition; so an id is never handed out twice, even by a restarted coordinator);
 * groups and members are kept in arrays scanned in index order.
 *
 * Calls: the owner must not call the coordinator from inside `answer` or `persist` (it
 * ASSERTs so). A response answered at once, and one passed to `answer`, may point into the
 * coordinator's own memory (member ids, metadata, assignments): encode it before the next
 * call into the coordinator.
 *
 * May depend on: base.h, protocol/ (the generated request and response structs),
 * log/record_batch.h, group_records.h. */
#ifndef GROUP_COORDINATOR_H
#define GROUP_COORDINATOR_H

#include "../base.h"
#include "../protocol/codec.h"
#include "../protocol/messages_generated.h"

#define GROUP_ID_MAX 255u             /* Bytes of a group id (longer: INVALID_GROUP_ID). */
#define GROUP_MEMBERS_MAX 64u         /* Per group (more: GROUP_MAX_SIZE_REACHED). */
#define GROUP_PROTOCOLS_MAX 8u        /* Per member (more: INCONSISTENT_GROUP_PROTOCOL). */
#define GROUP_PROTOCOL_NAME_MAX 255u  /* Bytes of a protocol type or name (longer: the same). */
#define GROUP_TOPIC_NAME_MAX 249u     /* Kafka's longest topic name (a longer one committed:
                                       * UNKNOWN_TOPIC_OR_PARTITION). */
#define GROUP_METADATA_MAX (16u * 1024u)   /* Bytes of one member's protocol metadata (more:
                                            * INCONSISTENT_GROUP_PROTOCOL). */
#define GROUP_ASSIGNMENT_MAX (64u * 1024u) /* Bytes of one member's assignment (more: the
                                            * SyncGroup fails as Kafka's too large write does,
                                            * UNKNOWN_SERVER_ERROR to every member; so does a
                                            * GroupMetadata record over GROUP_BATCH_MAX). */
#define GROUP_OFFSETS_MAX 4096u       /* Committed (topic, partition) entries per group (more in
                                       * one commit: INVALID_COMMIT_OFFSET_SIZE for those). */
#define GROUP_PARTITIONS_MAX 256u     /* __consumer_offsets partitions this coordinator knows. */
#define GROUP_BATCH_MAX (1024u * 1024u) /* One persisted record batch. */
#define GROUP_GROUPS_MAX 1024u        /* Groups held (more: COORDINATOR_NOT_AVAILABLE). */
#define GROUP_PARKED_MAX 256u         /* Parked OffsetCommit/DeleteGroups/OffsetDelete requests
                                       * (more: COORDINATOR_NOT_AVAILABLE). */
#define GROUP_PERSISTS_MAX 512u       /* Batches in flight (more: fails as a full log would,
                                       * COORDINATOR_NOT_AVAILABLE). */

struct group_coordinator_config {
    i32 node_id;                      /* Part of generated member ids. */
    u32 offsets_partitions;           /* offsets.topic.num.partitions = 50 */
    u64 initial_rebalance_delay_ns;   /* group.initial.rebalance.delay.ms = 3000 */
    u64 min_session_timeout_ns;       /* group.min.session.timeout.ms = 6000 */
    u64 max_session_timeout_ns;       /* group.max.session.timeout.ms = 1800000 */
    u32 max_size;                     /* group.max.size (capped at GROUP_MEMBERS_MAX) */
    u32 offset_metadata_max_bytes;    /* offset.metadata.max.bytes = 4096 */
    u64 offsets_retention_ns;         /* offsets.retention.minutes = 10080 */
    /* offsets.retention.check.interval.ms = 600000 (0 means that default): how often expired
     * offsets (and Empty groups left without offsets) are looked for, as Kafka does. */
    u64 offsets_retention_check_interval_ns;
};

/* What the coordinator asks of its owner (the broker, or a test). */
struct group_coordinator_owner {
    void *context;
    /* A parked request's answer: api_key/version are the request's; the response (and
     * everything it points to) is valid only during the call. */
    void (*answer)(void *context, u64 token, i16 api_key, i16 version,
                   const union kafka_response *response);
    /* Append this record batch (offsets and leader epoch to be assigned by the log) to
     * partition `partition` of __consumer_offsets, as its leader, waiting for the high
     * watermark to pass it (acks=all with min.insync.replicas). Returns false when that cannot
     * start (not the leader, log offline): the coordinator then fails what waited on it as
     * group_persisted with NOT_LEADER_OR_FOLLOWER would (NOT_COORDINATOR to the clients). The
     * batch is valid only during the call: copy it. */
    bool (*persist)(void *context, u32 partition, u64 persist_token, const u8 *batch, u32 size);
};

enum group_outcome {
    GROUP_ANSWERED, /* The response is filled (in the arena the caller passed). */
    GROUP_PARKED,   /* The answer comes later through owner.answer with the same token. */
};

struct group_coordinator;

/* Allocates the coordinator (no groups yet); NULL without memory. */
struct group_coordinator *group_coordinator_create(const struct group_coordinator_config *config,
                                                   const struct group_coordinator_owner *owner);
void group_coordinator_destroy(struct group_coordinator *coordinator);

/* The __consumer_offsets partition that holds a group: Kafka's
 * abs(groupId.hashCode()) % partitions, hashCode being Java's String.hashCode over the UTF-16
 * code units of the id (UTF-8 decoded; invalid UTF-8 hashes its bytes as Latin-1). */
u32 group_partition_of(const char *group_id, u32 size, u32 partitions);

/* ---- Leadership of __consumer_offsets partitions (from the metadata image) ---- */

/* This broker now leads `partition` (at leader_epoch): its groups load. Until
 * group_load_end, requests for them answer COORDINATOR_LOAD_IN_PROGRESS. */
void group_load_begin(struct group_coordinator *coordinator, u32 partition, i32 leader_epoch);
/* One batch of the partition's log, in offset order, from its log start to its log end (as
 * read by partition_log_read). Control and aborted-transaction batches are skipped; a record
 * this coordinator cannot parse is skipped and counted (never a crash). */
void group_load_batch(struct group_coordinator *coordinator, u32 partition, const u8 *batch,
                      u32 size);
/* The whole log was read: its groups are served from now (members restored from a
 * GroupMetadata record start their session timeouts at now_ns). */
void group_load_end(struct group_coordinator *coordinator, u32 partition, u64 now_ns);
/* Leadership moved away (or the log went offline): its groups are dropped, their parked
 * requests answered NOT_COORDINATOR, persists in flight ignored when they complete. */
void group_unload(struct group_coordinator *coordinator, u32 partition);
/* Loaded (served here), loading, or neither. */
enum group_partition_state { GROUP_PARTITION_NONE, GROUP_PARTITION_LOADING,
                             GROUP_PARTITION_LOADED };
enum group_partition_state group_partition_state(const struct group_coordinator *coordinator,
                                                 u32 partition);

/* ---- Requests ----
 * Each takes the decoded request at its version and the arena where an at-once response is
 * built (response->member of the api). A request naming a group whose partition is not loaded
 * here answers NOT_COORDINATOR (COORDINATOR_LOAD_IN_PROGRESS while loading), per group or per
 * the whole request as the api's response has room for. */
enum group_outcome group_join(struct group_coordinator *coordinator, u64 token, i16 version,
                              const struct kafka_join_group_request *request,
                              const char *client_id, const char *client_host, u64 now_ns,
                              struct proto_arena *arena, union kafka_response *response);
enum group_outcome group_sync(struct group_coordinator *coordinator, u64 token, i16 version,
                              const struct kafka_sync_group_request *request, u64 now_ns,
                              struct proto_arena *arena, union kafka_response *response);
enum group_outcome group_heartbeat(struct group_coordinator *coordinator, u64 token, i16 version,
                                   const struct kafka_heartbeat_request *request, u64 now_ns,
                                   struct proto_arena *arena, union kafka_response *response);
enum group_outcome group_leave(struct group_coordinator *coordinator, u64 token, i16 version,
                               const struct kafka_leave_group_request *request, u64 now_ns,
                               struct proto_arena *arena, union kafka_response *response);
/* Parked until its records are committed. */
enum group_outcome group_offset_commit(struct group_coordinator *coordinator, u64 token,
                                       i16 version,
                                       const struct kafka_offset_commit_request *request,
                                       u64 now_ns, struct proto_arena *arena,
                                       union kafka_response *response);
enum group_outcome group_offset_fetch(struct group_coordinator *coordinator, u64 token,
                                      i16 version,
                                      const struct kafka_offset_fetch_request *request,
                                      struct proto_arena *arena, union kafka_response *response);
enum group_outcome group_describe(struct group_coordinator *coordinator, u64 token, i16 version,
                                  const struct kafka_describe_groups_request *request,
                                  struct proto_arena *arena, union kafka_response *response);
/* Groups of the loaded partitions (v4+ filtered by state, v5+ by type). */
enum group_outcome group_list(struct group_coordinator *coordinator, u64 token, i16 version,
                              const struct kafka_list_groups_request *request,
                              struct proto_arena *arena, union kafka_response *response);
/* Parked until the tombstones are committed (NON_EMPTY_GROUP for a group with members). */
enum group_outcome group_delete(struct group_coordinator *coordinator, u64 token, i16 version,
                                const struct kafka_delete_groups_request *request, u64 now_ns,
                                struct proto_arena *arena, union kafka_response *response);
enum group_outcome group_offset_delete(struct group_coordinator *coordinator, u64 token,
                                       i16 version,
                                       const struct kafka_offset_delete_request *request,
                                       u64 now_ns, struct proto_arena *arena,
                                       union kafka_response *response);

/* A parked request will never be answered to anyone (its connection closed): forget the token
 * (no callback). A JoinGroup's member stays until its session times out, as in Kafka. */
void group_coordinator_cancel(struct group_coordinator *coordinator, u64 token);

/* The owner's persist completed: error 0 once the high watermark passed the batch, else the
 * Kafka error of the append (NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT,
 * KAFKA_STORAGE_ERROR, ...), mapped as Kafka does for the waiting requests (NOT_COORDINATOR,
 * COORDINATOR_NOT_AVAILABLE, UNKNOWN_SERVER_ERROR). */
void group_persisted(struct group_coordinator *coordinator, u64 persist_token, i16 error,
                     u64 now_ns);

/* ---- Time ---- */
/* The earliest instant something is due (session timeouts, rebalance timeouts, the initial
 * delay, offsets retention), or UINT64_MAX when nothing is. */
u64 group_next_deadline(const struct group_coordinator *coordinator);
/* Does whatever is due at now_ns (removing expired members, completing rebalances, expiring
 * offsets); may answer parked requests and persist records. */
void group_coordinator_tick(struct group_coordinator *coordinator, u64 now_ns);

/* ---- Introspection (tests, metrics, ksim's report) ---- */
struct group_summary {
    char group_id[GROUP_ID_MAX + 1];
    const char *state; /* "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead" */
    i32 generation;
    u32 members;
    u32 offsets;
    u32 partition;
};
/* The i-th group held (index order); false past the last. */
bool group_coordinator_group(const struct group_coordinator *coordinator, u32 i,
                             struct group_summary *summary);
/* Records of loaded batches that were skipped: unparseable, of an unknown version, of a group
 * that belongs to another partition, or beyond a limit of this header (also whole batches that
 * fail their CRC, are compressed or transactional: Cairn never writes those). */
u64 group_coordinator_records_skipped(const struct group_coordinator *coordinator);
/* Checks every invariant of every group (ASSERTs): a member in at most one group, the leader
 * is a member, generation >= 0, no parked token twice, Stable => every member has an
 * assignment, ... Called by tests after every step. */
void group_coordinator_invariants(const struct group_coordinator *coordinator);

#endif
