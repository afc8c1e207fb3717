/* history.h: the vocabulary of a run's history, shared by those who report and those who judge.
 *
 * impl/ reports facts about itself through io_observe() with the kinds below; simulated clients
 * report what they invoked and what came back; the simulator itself records the faults it
 * injected. The result is a history: a time-ordered array of events that the checkers in model/
 * judge without looking inside any node. The same checkers can judge a history recorded from
 * the production binary.
 *
 * May depend on: impl/base.h (types only). Nothing here may depend on sim/ or impl/ internals. */
#ifndef HISTORY_H
#define HISTORY_H

#include "../impl/base.h"

/* Observation kinds. Field meanings are listed per kind; unused fields are zero. */
enum history_kind {
    HISTORY_NONE = 0,

    /* ----- Reported by the simulator ----- */
    HISTORY_FAULT = 1,      /* a=enum history_fault, b=target node or -1, c=amount, d=effect. */
    HISTORY_HEALED = 2,     /* Every fault healed; the liveness phase starts now. a=bound_ns. */
    HISTORY_NODE_START = 3, /* The process started or restarted (memory empty, disk kept). */
    HISTORY_RUN_END = 4,    /* The run ended. */

    /* ----- Reported by the Raft metadata quorum (impl/quorum) ----- */
    /* Role changes: a=epoch, b=enum history_quorum_role, c=leader id known (or -1 as u64). */
    HISTORY_QUORUM_ROLE = 10,
    /* The node's durable vote was written and synced: a=epoch, b=candidate id. */
    HISTORY_QUORUM_VOTED = 11,
    /* The node appended an entry to its log: a=offset, b=entry epoch, c=entry checksum,
     * d=flags (HISTORY_ENTRY_CONTROL, HISTORY_ENTRY_RECOVERED). After a restart a node
     * re-reports its recovered log with HISTORY_ENTRY_RECOVERED, so checkers can rebuild each
     * node's log from its HISTORY_NODE_START on. */
    HISTORY_QUORUM_APPENDED = 12,
    /* The node truncated its log: a=new end offset (entries at >= a are gone). */
    HISTORY_QUORUM_TRUNCATED = 13,
    /* The node learned that the entry is committed: a=offset, b=entry epoch, c=checksum,
     * d=flags (HISTORY_ENTRY_CONTROL).
     * Reported once per entry per node, in offset order, as the high watermark moves. */
    HISTORY_QUORUM_COMMITTED = 14,
    /* The node applied the committed entry to its state machine: a=offset, c=state digest. */
    HISTORY_QUORUM_APPLIED = 15,
    /* The node installed a snapshot covering offsets < a (epoch b of the last entry).
     * c=the node's state digest after applying offset a - 1 (the digest chain continues from
     * it), d=enum history_snapshot_source. RECOVERED and FETCHED replace the node's state and
     * log: it knows offsets < a committed and applied, and its log continues at a (a fetched
     * snapshot drops whatever the log held). TAKEN changes neither. */
    HISTORY_QUORUM_SNAPSHOT = 16,

    /* ----- Reported by clients (simulated or real) ----- */
    /* An operation was invoked: a=operation id (unique per client), c=value checksum. */
    HISTORY_CLIENT_INVOKE = 30,
    /* It succeeded: a=operation id, b=offset it was committed at, c=value checksum. */
    HISTORY_CLIENT_OK = 31,
    /* It definitely failed (never applied, e.g. never sent): a=operation id, b=error code. */
    HISTORY_CLIENT_FAIL = 32,
    /* Its outcome is unknown (timeout, connection lost): a=operation id, b=error code. */
    HISTORY_CLIENT_UNKNOWN = 33,

    /* ----- Reported by simulated Kafka clients (impl/kafka_client) and about brokers ----- */
    /* A producer sent a record: a=operation id (unique per producer), b=partition,
     * c=value checksum (kafka_client_checksum), d=bits: HISTORY_KAFKA_ACKS_LEADER when sent with
     * acks=1 (0: acks=all or acks=0). A retry of the same operation after an error that means
     * "not appended" is not reported again. */
    HISTORY_KAFKA_SEND = 40,
    /* The broker acknowledged it: a=operation id, b=partition, c=offset, d=value checksum. */
    HISTORY_KAFKA_ACKED = 41,
    /* It was definitely not appended (never sent, or a non-retriable error): a=operation id,
     * b=partition, c=Kafka error code. */
    HISTORY_KAFKA_FAILED = 42,
    /* Its outcome is unknown (timeout, connection lost, acks=0): a=operation id, b=partition,
     * c=Kafka error code (0 for acks=0). */
    HISTORY_KAFKA_UNKNOWN = 43,
    /* A consumer decoded a record: a=partition, b=offset, c=value checksum. */
    HISTORY_KAFKA_READ = 44,
    /* A consumer starts reading partition a again from offset b (a new connection, or an
     * offset out of range): its earlier reads of a describe an older state of the log. */
    HISTORY_KAFKA_REREAD = 45,
    /* Reported by the simulator at the start, per broker node: the durability settings the
     * node was configured with. a=log.flush.interval.messages (INT64_MAX: never),
     * b=replicas per partition (the workload topic's replication factor),
     * c=unclean.leader.election.enable (1 true, 0 false), d=min.insync.replicas. */
    HISTORY_KAFKA_BROKER_CONFIG = 46,
    /* A Kafka client's new connection to the broker is established (a=0 producer, 1
     * consumer; b=the broker id it was opened to, or UINT64_MAX for a bootstrap address
     * whose id the client does not know yet). Every answer on it comes from the broker
     * process that accepted it, so checkers date what the client reports after it by the
     * crashes before this event. */
    HISTORY_KAFKA_CONNECTED = 47,
    /* The producer sends the same value again after NOT_LEADER_OR_FOLLOWER (a=operation id,
     * b=partition, c=the error). A replicated leader also answers that when it lost leadership
     * while the append waited for its followers, so the first attempt may be in the log too:
     * without idempotence Kafka's producers may write a record twice (at least once). */
    HISTORY_KAFKA_RETRIED = 48,
    /* An idempotent producer (enable.idempotence) got its producer id from InitProducerId:
     * a=producer id, b=producer epoch. Its SENDs after this carry HISTORY_KAFKA_IDEMPOTENT,
     * and its retries (RETRIED, also after a timeout or a lost connection) resend the same
     * batch: producer id, epoch and sequence, which the leader deduplicates. */
    HISTORY_KAFKA_PRODUCER_ID = 49,

    /* ----- Reported by the active controller (impl/controller) ----- */
    /* The node's controller became active: a=quorum epoch, b=offset of its leader-change
     * record (every decision from then on is made from an image holding it). */
    HISTORY_CONTROLLER_ACTIVE = 50,
    /* The controller proposed a decision as one entry: a=offset, b=epoch, c=what (a Kafka api
     * key, or 1000 settle, 1001 session expiry, 1002 preferred-leader check), d=records. */
    HISTORY_CONTROLLER_DECISION = 51,

    /* ----- Reported by every node as it applies committed metadata (impl/node.c) ----- */
    /* Each names the record it follows by (a=metadata log offset, b=record index in that
     * entry), so reports of one entry by different nodes can be matched; the checkers in
     * model/controller_checkers.c judge them. */
    /* A partition's state after a PartitionRecord or PartitionChangeRecord: c=topic id hash
     * (history_topic_hash), d=partition index, payload struct history_partition_state. */
    HISTORY_METADATA_PARTITION = 60,
    /* A topic was removed: c=topic id hash. Its partitions are gone from the image. */
    HISTORY_METADATA_TOPIC_REMOVED = 61,
    /* A broker's registration changed (registered, fenced, unfenced, controlled shutdown,
     * unregistered): c=broker id, d=its state after the record (enum history_broker_state
     * bits; 0: not registered). */
    HISTORY_METADATA_BROKER = 62,
    /* unclean.leader.election.enable was overridden: c=1 true / 0 false or deleted,
     * d=resource type (2 topic, 4 broker). */
    HISTORY_METADATA_UNCLEAN = 63,
    /* A topic was created: c=topic id hash, payload its name (for readable messages). */
    HISTORY_METADATA_TOPIC = 64,

    /* ----- Reported by brokers about their partition replicas (impl/broker, replication) --- */
    /* Each names the partition by a=history_topic_hash(topic id), b=partition index; the
     * checkers in model/replication_checkers.c judge them. */
    /* The replica's log opened (a start or a restart, after recovery): c=log end offset,
     * d=log start offset. Whatever it held at or past c before a crash is gone. */
    HISTORY_REPLICA_OPENED = 70,
    /* A batch is in the replica's log (appended as leader, or copied as follower): c=base
     * offset, d=last offset, payload struct history_replica_batch. */
    HISTORY_REPLICA_APPENDED = 71,
    /* The replica cut its log: c=its new log end offset, d=the high watermark it knew then. */
    HISTORY_REPLICA_TRUNCATED = 72,
    /* The replica's high watermark moved to c: d=leader epoch | role << 32 (enum
     * history_replica_role). */
    HISTORY_REPLICA_HIGH_WATERMARK = 73,

    /* ----- Reported by simulated group consumers (impl/kafka_client, groups) ----- */
    /* Each names the group member by the event's node (the client id); partitions are those of
     * the workload topic, as a bit mask (bit p = partition p). Judged by model/group_checkers.c.
     * The member's JoinGroup completed: a=generation, b=1 when it is the group's leader,
     * c=enum history_group_protocol chosen, d=members in the generation. */
    HISTORY_GROUP_JOINED = 80,
    /* SyncGroup gave the member its assignment: a=generation, b=partitions assigned. The
     * coordinator answers SyncGroup only once the generation's assignment is committed to
     * __consumer_offsets, so every ASSIGNED generation was persisted. */
    HISTORY_GROUP_ASSIGNED = 81,
    /* The member stops reading these partitions (it gave them up before rejoining: all of them
     * under the eager protocol, only the moved ones under the cooperative one; or it learnt
     * it is no longer a member): a=generation it owned them in, b=partitions, c=Kafka error
     * that fenced it (0 when it gave them up itself). */
    HISTORY_GROUP_REVOKED = 82,
    /* OffsetCommit sent for one partition: a=generation, b=partition, c=offset (the next
     * offset to read, as Kafka commits). */
    HISTORY_GROUP_COMMIT = 83,
    /* ... acknowledged with no error: a=generation, b=partition, c=offset. */
    HISTORY_GROUP_COMMITTED = 84,
    /* ... answered with an error, or its answer never came (d=0xffff: unknown outcome):
     * a=generation, b=partition, c=offset, d=Kafka error code. */
    HISTORY_GROUP_COMMIT_FAILED = 85,
    /* OffsetFetch answered for one partition: a=generation the member fetched for, b=partition,
     * c=committed offset (-1 as UINT64_MAX: none), d=virtual time the request was sent. */
    HISTORY_GROUP_OFFSET_FETCHED = 86,
    /* The member starts reading partition a at offset b (its committed offset, or the earliest
     * when none), in generation c. */
    HISTORY_GROUP_POSITION = 87,
};

/* The c field of HISTORY_GROUP_JOINED. */
enum history_group_protocol {
    HISTORY_GROUP_EAGER = 0,       /* "range": every member revokes everything at a rebalance. */
    HISTORY_GROUP_COOPERATIVE = 1, /* "cooperative-sticky" (KIP-429): only moved partitions. */
};

/* The payload of HISTORY_REPLICA_APPENDED: which batch it was, the same on every replica that
 * holds it (the CRC covers the records, not the offsets). */
struct history_replica_batch {
    i32 leader_epoch; /* The batch's PartitionLeaderEpoch. */
    u32 crc;          /* The batch's CRC-32C field. */
    u32 record_count;
    u32 role;         /* enum history_replica_role of the replica that appended it. */
};

/* The d field of HISTORY_KAFKA_SEND. */
#define HISTORY_KAFKA_ACKS_LEADER 1u
#define HISTORY_KAFKA_IDEMPOTENT 2u /* Sent by an idempotent producer (with a producer id). */

enum history_replica_role {
    HISTORY_REPLICA_LEADER = 1,
    HISTORY_REPLICA_FOLLOWER = 2,
};

/* The payload of HISTORY_METADATA_PARTITION. Broker ids >= 64 do not fit the masks; a node
 * reports them as HISTORY_BROKER_IDS_OVERFLOW in flags. */
struct history_partition_state {
    i32 leader; /* -1: no leader. */
    i32 leader_epoch;
    i32 partition_epoch;
    u32 flags;    /* HISTORY_BROKER_IDS_OVERFLOW */
    u64 isr;      /* Bit i: broker i is in the ISR. */
    u64 replicas; /* Bit i: broker i is a replica. */
};
#define HISTORY_BROKER_IDS_OVERFLOW 1u

enum history_broker_state {
    HISTORY_BROKER_REGISTERED = 1u << 0,
    HISTORY_BROKER_FENCED = 1u << 1,
    HISTORY_BROKER_SHUTTING_DOWN = 1u << 2, /* In controlled shutdown. */
};

/* The 64-bit name of a 16-byte topic id in metadata observations: FNV-1a of its bytes. */
static inline u64 history_topic_hash(const u8 id[16])
{
    u64 hash = 0xcbf29ce484222325ull;
    for (u32 i = 0; i < 16; i++) {
        hash ^= id[i];
        hash *= 0x100000001b3ull;
    }
    return hash;
}

/* Flags in the d field of HISTORY_QUORUM_APPENDED / COMMITTED. */
enum history_entry_flags {
    HISTORY_ENTRY_CONTROL = 1u << 0,   /* A control record (the leader-change entry). */
    HISTORY_ENTRY_RECOVERED = 1u << 1, /* Re-reported from disk after a restart. */
    HISTORY_ENTRY_PROPOSED = 1u << 2,  /* Proposed by the leader's controller, not a client. */
};

/* The d field of HISTORY_QUORUM_SNAPSHOT: where the snapshot came from. */
enum history_snapshot_source {
    HISTORY_SNAPSHOT_TAKEN = 0,     /* Written from the node's own state (now durable). */
    HISTORY_SNAPSHOT_RECOVERED = 1, /* Loaded from disk at a restart. */
    HISTORY_SNAPSHOT_FETCHED = 2,   /* Downloaded from the leader (FetchSnapshot), installed. */
};

enum history_quorum_role {
    HISTORY_ROLE_UNATTACHED = 0,
    HISTORY_ROLE_FOLLOWER = 1,
    HISTORY_ROLE_PROSPECTIVE = 2, /* Pre-vote phase. */
    HISTORY_ROLE_CANDIDATE = 3,
    HISTORY_ROLE_LEADER = 4,
    HISTORY_ROLE_RESIGNED = 5,
    HISTORY_ROLE_OBSERVER = 6, /* A broker that is not a voter. */
};

enum history_fault {
    HISTORY_FAULT_CRASH = 1,
    HISTORY_FAULT_RESTART = 2,
    HISTORY_FAULT_PAUSE = 3,
    HISTORY_FAULT_RESUME = 4,
    HISTORY_FAULT_PARTITION = 5,
    HISTORY_FAULT_HEAL = 6,
    HISTORY_FAULT_CLOCK = 7,
    HISTORY_FAULT_DISK = 8,         /* Slow disk, read errors. */
    HISTORY_FAULT_DISK_CORRUPT = 9, /* Stored sectors corrupted: recovery may cut what follows. */
    /* A workload client (b = its client id) died / started again with empty memory. Apart from
     * the brokers' crashes, so that no broker checker mistakes it for one. A client's pause,
     * resume and isolation use the classes above, with b = its client id. */
    HISTORY_FAULT_CLIENT_CRASH = 10,
    HISTORY_FAULT_CLIENT_RESTART = 11,
};

struct history_event {
    u64 time_ns;  /* Virtual time in the simulator; monotonic time in production. */
    u32 node;     /* Reporting process (node id, or client id for clients). */
    u32 kind;     /* enum history_kind. */
    u64 a, b, c, d;
    u32 data_offset; /* Into history.data, when data_size > 0. */
    u32 data_size;
};

/* A history owns its arrays; they grow while a run records. */
struct history {
    struct history_event *events;
    u32 count;
    u32 capacity;
    u8 *data;
    u32 data_size;
    u32 data_capacity;
};

void history_init(struct history *history);
void history_free(struct history *history);
void history_append(struct history *history, const struct history_event *event, const u8 *data,
                    u32 data_size);

/* ===== Checkers ===== */

/* What a checker says about a history. A failing check names the invariant, the event where it
 * broke, and a sentence a person can read. */
struct check_outcome {
    bool passed;
    u32 event_index; /* The history event at which the violation was detected. */
    char message[512];
};

/* Parameters a checker needs from the scenario, not from the history. */
struct check_params {
    u32 voter_count;
    u64 liveness_bound_ns; /* How long after HISTORY_HEALED the cluster may take to converge. */
    /* Windows from the scenario's "expect" lines (0..0: not requested). */
    u64 unavailable_from_ns, unavailable_to_ns;
    u64 available_from_ns, available_to_ns;
};

struct checker {
    const char *name;        /* As written in scenario files: "election-safety". */
    const char *description; /* One sentence for reports. */
    void (*check)(const struct history *history, const struct check_params *params,
                  struct check_outcome *outcome);
};

/* Every checker model/ offers, in a fixed order. Looked up by name from scenario files. */
extern const struct checker model_checkers[];
extern const u32 model_checker_count;
const struct checker *model_checker_find(const char *name);

#endif
