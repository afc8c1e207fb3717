/* scenario.h: a parsed scenario: topology, workload, fault schedule, run length and checks.
 *
 * Scenario files (scenarios/NAME.scn) are a small line-oriented language, documented in
 * scenarios/README.md; scenario_parse() turns one into this struct or reports file:line:column.
 * The simulator only ever reads this struct; swarm mode fills faults[] from the seed before a
 * run (sim/swarm.c), so a swarm run is an ordinary scripted run afterwards.
 *
 * May depend on: impl/base.h. */
#ifndef SCENARIO_H
#define SCENARIO_H

#include "../impl/base.h"

#define SCENARIO_NAME_MAX 64u
#define SCENARIO_TEXT_MAX 1024u
#define SCENARIO_DATACENTERS_MAX 8u
#define SCENARIO_NODES_MAX 128u
#define SCENARIO_FAULTS_MAX 512u
#define SCENARIO_CHECKS_MAX 32u
#define SCENARIO_PROPERTIES_MAX 2048u

/* A set of nodes by index into scenario.nodes. */
struct node_set {
    u64 bits[SCENARIO_NODES_MAX / 64];
};

static inline void node_set_add(struct node_set *set, u32 index)
{
    ASSERT(index < SCENARIO_NODES_MAX);
    set->bits[index / 64] |= (u64)1 << (index % 64);
}
static inline bool node_set_has(const struct node_set *set, u32 index)
{
    ASSERT(index < SCENARIO_NODES_MAX);
    return (set->bits[index / 64] >> (index % 64)) & 1;
}

struct scenario_datacenter {
    char name[SCENARIO_NAME_MAX];
    u64 lan_latency_min_ns; /* One-way latency between two nodes of this datacenter. */
    u64 lan_latency_max_ns;
};

struct scenario_node {
    char name[SCENARIO_NAME_MAX]; /* Also its host name on the simulated network. */
    u32 id;                       /* node.id */
    u32 datacenter;               /* Index into datacenters. */
    bool voter;                   /* In controller.quorum.voters. */
    char properties[SCENARIO_PROPERTIES_MAX]; /* Extra "key=value\n" lines for this node. */
    u32 line;
};

enum workload_kind {
    WORKLOAD_NONE = 0,
    WORKLOAD_QUORUM_APPEND, /* Clients append values to the metadata log through the leader. */
    WORKLOAD_KAFKA_PRODUCE_CONSUME, /* Kafka producers and consumers of one topic. */
};

struct scenario_workload {
    enum workload_kind kind;
    u32 client_count;
    u64 interval_ns;        /* Think time between a client's operations. */
    u32 value_size;
    u64 request_timeout_ns;
    u64 start_ns;           /* Clients start at this virtual time. */
    /* kafka-produce-consume only (client_count = producers + consumers). */
    char topic[SCENARIO_NAME_MAX];
    u32 partition_count;
    u32 producer_count;
    u32 consumer_count;
    i32 acks;               /* -1 (all), 0 or 1. */
    u32 replication_factor; /* Of the topic the producers create (1..node count). */
    u64 stop_ns;            /* Producers send nothing new from this time (0: never). */
    /* Producers: enable.idempotence (implies retries and acks all); retries without it
     * (a value whose outcome is unknown is sent again: duplicates are possible); how long a
     * value is retried after its first send (delivery.timeout.ms; 30s unless given). */
    bool idempotent;
    bool retries;
    u64 delivery_timeout_ns;
    /* Consumer groups: with a group name the consumers are members of that group (classic
     * protocol) instead of reading every partition; the rest only matters then. */
    char group[SCENARIO_NAME_MAX];      /* "" : no group. */
    bool cooperative;                   /* cooperative-sticky (KIP-429) instead of range. */
    bool static_members;                /* group.instance.id per consumer (KIP-345). */
    u64 session_timeout_ns;             /* session.timeout.ms */
    u64 rebalance_timeout_ns;           /* max.poll.interval.ms */
    u64 heartbeat_interval_ns;          /* heartbeat.interval.ms */
    u64 commit_interval_ns;             /* auto.commit.interval.ms */
};

enum fault_kind {
    FAULT_CRASH,       /* Process dies; unsynced disk bytes are lost (maybe a torn tail). */
    FAULT_RESTART,     /* A crashed process starts again and recovers from its disk. */
    FAULT_PAUSE,       /* The process freezes: no events delivered; time moves on. */
    FAULT_RESUME,
    FAULT_ISOLATE,     /* Cut every link to and from the target. */
    FAULT_PARTITION,   /* Cut every link between side_a and side_b (both directions). */
    FAULT_CUT_ONE_WAY, /* Cut links from side_a to side_b only. */
    FAULT_HEAL,        /* Restore every link (network faults only). */
    FAULT_CLOCK_JUMP,  /* Wall clock of the target jumps by amount ns (may be negative). */
    FAULT_CLOCK_DRIFT, /* Wall clock of the target drifts by amount parts per million. */
    FAULT_DISK_CORRUPT,    /* Flip bits in amount random durable sectors of the target. */
    FAULT_DISK_READ_ERROR, /* The next amount reads on the target fail with IO_ERR_IO. */
    FAULT_DISK_SLOW,       /* Disk latency of the target multiplied by amount. */
    FAULT_KIND_COUNT,
};

const char *fault_kind_name(enum fault_kind kind);

enum fault_target_kind {
    TARGET_NODE,   /* A fixed node: target_node. */
    TARGET_LEADER, /* Whichever node leads the quorum when the fault fires. */
    TARGET_RANDOM, /* A node drawn from the seed when the fault fires. */
    TARGET_SETS,   /* side_a / side_b (partitions and cuts). */
    /* The live node leading the most Kafka partitions in the newest metadata a node applied
     * (ties: the first node); none when no live node leads any. */
    TARGET_PARTITION_LEADER,
    /* A workload client: target_node is its index among the clients, in the order the
     * simulator adds them (Kafka producers p1.. then consumers c1..; quorum clients c1..). Its
     * process index is node_count + target_node. */
    TARGET_CLIENT,
    /* The live node leading the workload group's partition of __consumer_offsets in the newest
     * metadata a node applied (its coordinator); none when that partition has no live leader. */
    TARGET_GROUP_COORDINATOR,
};

struct scenario_fault {
    u64 at_ns;
    enum fault_kind kind;
    enum fault_target_kind target;
    u32 target_node;          /* Index into nodes, for TARGET_NODE. */
    struct node_set side_a;   /* For TARGET_SETS. */
    struct node_set side_b;
    i64 amount;
    bool must_take_effect;    /* Scripted faults must; swarm faults need not. */
    u32 line;                 /* Source line, for messages; 0 when drawn by swarm. */
};

struct scenario_swarm {
    bool enabled;
    u64 faults_until_ns; /* Upper bound for the seed-chosen end of the fault phase. */
};

struct scenario {
    char path[256];
    char name[SCENARIO_NAME_MAX];
    char description[SCENARIO_TEXT_MAX]; /* What it teaches; printed in reports. */

    struct scenario_datacenter datacenters[SCENARIO_DATACENTERS_MAX];
    u32 datacenter_count;
    u64 wan_latency_min_ns; /* One-way latency between datacenters. */
    u64 wan_latency_max_ns;
    u64 bandwidth_bytes_per_s; /* Per link; 0 = unlimited. */
    u64 connection_timeout_ns; /* A stalled connection breaks after this long. */

    u64 disk_latency_min_ns;
    u64 disk_latency_max_ns;

    struct scenario_node nodes[SCENARIO_NODES_MAX];
    u32 node_count;

    struct scenario_workload workload;

    struct scenario_fault faults[SCENARIO_FAULTS_MAX];
    u32 fault_count;
    struct scenario_swarm swarm;

    u64 run_ns;            /* Total simulated time. */
    u64 heal_at_ns;        /* When every fault heals and liveness is judged (0: never). */
    u64 liveness_bound_ns; /* Convergence must happen within this after heal_at_ns. */

    /* Optional expectations about availability while faults are active (0..0: none):
     * "expect unavailable 10s..30s": nothing new may be committed in the window (e.g. a quorum
     * split evenly must stop rather than split its brain);
     * "expect available 10s..30s": new entries must still be committed in the window, allowing
     * liveness_bound_ns for a new leader (e.g. a 3-datacenter quorum that lost one). */
    u64 unavailable_from_ns, unavailable_to_ns;
    u64 available_from_ns, available_to_ns;

    char checks[SCENARIO_CHECKS_MAX][SCENARIO_NAME_MAX];
    u32 check_count;
};

/* The host name of workload client `index` ("p2", "c1"), as the simulator names it. */
void scenario_client_name(const struct scenario *scenario, u32 index, char *name, u32 size);

/* Parses text (the contents of path) into scenario. On error returns false and writes
 * "path:line:column: message" into error. */
WARN_UNUSED bool scenario_parse(const char *path, const char *text, struct scenario *scenario,
                                char *error, u32 error_size);

/* Reads and parses a file. */
WARN_UNUSED bool scenario_load(const char *path, struct scenario *scenario, char *error,
                               u32 error_size);

/* Sorts faults by time, stably: faults at the same time keep their order in the array. */
void scenario_faults_sort(struct scenario *scenario);

/* Swarm mode: draws the fault schedule (which kinds are on, how often, and heal_at_ns) from the
 * seed, appending to scenario->faults. Deterministic in (scenario, seed). */
void swarm_expand(struct scenario *scenario, u64 seed);

#endif
