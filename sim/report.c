/* report.c: the summary ksim prints and the report folder --report writes.
 *
 * Both are for a person learning distributed systems, so they say what happened in short plain
 * sentences: what the scenario teaches, the cluster, a timeline of faults, leader changes and
 * restarts, what the clients saw, each check's verdict and, on failure, how to replay it;
 * what each broker served (its request metrics at the end of the run).
 * Everything here reads the scenario and the result; nothing feeds back into a run, so reports
 * cannot break determinism. The layout of each output is described in reports/README.md.
 *
 * Invariants: the summary's last line is exactly "trace-hash: <16 lowercase hex digits>" (CI and
 * tests/sim/determinism.sh parse it); every text buffer write is bounded and truncates safely.
 * Tested by tests/unit/test_scenario.c (a made-up history rendered into a temporary folder)
 * and by tests/sim/cli.sh (the real thing). */
#include "report.h"

#include "../impl/protocol/errors_generated.h"
#include "../model/kafka_checkers.h" /* The retry and duplicate counts of the Kafka clients. */

#include <errno.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

extern char **environ;

#define REPORT_TIMELINE_MAX 400u /* Rows in report.md's timeline; history.tsv has them all. */
#define REPORT_DOT_EVENTS_MAX 120u /* Boxes in timeline.dot: more would not be readable. */
#define REPORT_NODE_IDS_MAX (SCENARIO_NODES_MAX + 1)

/* ===== Small text helpers ===== */

struct text {
    char *buffer;
    u32 size;
    u32 length;
};

static void text_add(struct text *text, const char *format, ...) PRINTF_LIKE(2, 3);

/* Appends, truncating at the buffer's end; the buffer is always NUL-terminated. */
static void text_add(struct text *text, const char *format, ...)
{
    ASSERT(text->size > 0);
    ASSERT(text->length < text->size);
    va_list args;
    va_start(args, format);
    int written = vsnprintf(text->buffer + text->length, text->size - text->length, format, args);
    va_end(args);
    if (written < 0) return;
    text->length = MIN(text->size - 1, text->length + (u32)written);
}

void report_format_duration(u64 ns, char *buffer, u32 size)
{
    ASSERT(size > 0);
    if (ns == 0) snprintf(buffer, size, "0s");
    else if (ns % NS_PER_S == 0) snprintf(buffer, size, "%" PRIu64 "s", ns / NS_PER_S);
    else if (ns >= NS_PER_S) {
        snprintf(buffer, size, "%" PRIu64 ".%03" PRIu64 "s", ns / NS_PER_S,
                 ns % NS_PER_S / NS_PER_MS);
    } else if (ns % NS_PER_MS == 0) snprintf(buffer, size, "%" PRIu64 "ms", ns / NS_PER_MS);
    else if (ns >= NS_PER_MS) {
        snprintf(buffer, size, "%" PRIu64 ".%03" PRIu64 "ms", ns / NS_PER_MS,
                 ns % NS_PER_MS / NS_PER_US);
    } else if (ns % NS_PER_US == 0) snprintf(buffer, size, "%" PRIu64 "us", ns / NS_PER_US);
    else snprintf(buffer, size, "%" PRIu64 "ns", ns);
}

/* Times in timelines always have three decimals, so a column of them lines up. */
static void format_time(u64 ns, char *buffer, u32 size)
{
    snprintf(buffer, size, "%" PRIu64 ".%03" PRIu64 "s", ns / NS_PER_S, ns % NS_PER_S / NS_PER_MS);
}

static void format_bytes(u64 bytes, char *buffer, u32 size)
{
    if (bytes >= 1024 * 1024) {
        snprintf(buffer, size, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
    } else {
        snprintf(buffer, size, "%.1f KiB", (double)bytes / 1024.0);
    }
}

/* The scenario's name for a node id, or "node N" for an id the scenario does not know. Node 0
 * is the simulator itself (faults, healing, the end of the run). */
static void node_name(const struct scenario *scenario, u64 id, char *buffer, u32 size)
{
    if (id == 0) {
        snprintf(buffer, size, "sim");
    } else if (id >= 1 && id <= scenario->node_count && scenario->nodes[id - 1].id == id) {
        snprintf(buffer, size, "%s", scenario->nodes[id - 1].name);
    } else if (id == UINT64_MAX || id == UINT32_MAX) {
        snprintf(buffer, size, "-");
    } else if (id > SIM_CLIENT_ID_BASE &&
               id <= SIM_CLIENT_ID_BASE + (u64)scenario->workload.client_count) {
        scenario_client_name(scenario, (u32)(id - SIM_CLIENT_ID_BASE - 1), buffer, size);
    } else {
        snprintf(buffer, size, "node %" PRIu64, id);
    }
}

/* ===== Vocabulary ===== */

struct kind_name {
    u32 kind;
    const char *name;
};

static const struct kind_name history_kind_names[] = {
    {HISTORY_FAULT, "FAULT"},
    {HISTORY_HEALED, "HEALED"},
    {HISTORY_NODE_START, "NODE_START"},
    {HISTORY_RUN_END, "RUN_END"},
    {HISTORY_QUORUM_ROLE, "QUORUM_ROLE"},
    {HISTORY_QUORUM_VOTED, "QUORUM_VOTED"},
    {HISTORY_QUORUM_APPENDED, "QUORUM_APPENDED"},
    {HISTORY_QUORUM_TRUNCATED, "QUORUM_TRUNCATED"},
    {HISTORY_QUORUM_COMMITTED, "QUORUM_COMMITTED"},
    {HISTORY_QUORUM_APPLIED, "QUORUM_APPLIED"},
    {HISTORY_QUORUM_SNAPSHOT, "QUORUM_SNAPSHOT"},
    {HISTORY_CLIENT_INVOKE, "CLIENT_INVOKE"},
    {HISTORY_CLIENT_OK, "CLIENT_OK"},
    {HISTORY_CLIENT_FAIL, "CLIENT_FAIL"},
    {HISTORY_CLIENT_UNKNOWN, "CLIENT_UNKNOWN"},
    {HISTORY_KAFKA_SEND, "KAFKA_SEND"},
    {HISTORY_KAFKA_ACKED, "KAFKA_ACKED"},
    {HISTORY_KAFKA_FAILED, "KAFKA_FAILED"},
    {HISTORY_KAFKA_UNKNOWN, "KAFKA_UNKNOWN"},
    {HISTORY_KAFKA_READ, "KAFKA_READ"},
    {HISTORY_KAFKA_REREAD, "KAFKA_REREAD"},
    {HISTORY_KAFKA_BROKER_CONFIG, "KAFKA_BROKER_CONFIG"},
    {HISTORY_KAFKA_CONNECTED, "KAFKA_CONNECTED"},
    {HISTORY_KAFKA_RETRIED, "KAFKA_RETRIED"},
    {HISTORY_KAFKA_PRODUCER_ID, "KAFKA_PRODUCER_ID"},
    {HISTORY_CONTROLLER_ACTIVE, "CONTROLLER_ACTIVE"},
    {HISTORY_CONTROLLER_DECISION, "CONTROLLER_DECISION"},
    {HISTORY_METADATA_PARTITION, "METADATA_PARTITION"},
    {HISTORY_METADATA_TOPIC_REMOVED, "METADATA_TOPIC_REMOVED"},
    {HISTORY_METADATA_BROKER, "METADATA_BROKER"},
    {HISTORY_METADATA_UNCLEAN, "METADATA_UNCLEAN"},
    {HISTORY_METADATA_TOPIC, "METADATA_TOPIC"},
    {HISTORY_REPLICA_OPENED, "REPLICA_OPENED"},
    {HISTORY_REPLICA_APPENDED, "REPLICA_APPENDED"},
    {HISTORY_REPLICA_TRUNCATED, "REPLICA_TRUNCATED"},
    {HISTORY_REPLICA_HIGH_WATERMARK, "REPLICA_HIGH_WATERMARK"},
    {HISTORY_GROUP_JOINED, "GROUP_JOINED"},
    {HISTORY_GROUP_ASSIGNED, "GROUP_ASSIGNED"},
    {HISTORY_GROUP_REVOKED, "GROUP_REVOKED"},
    {HISTORY_GROUP_COMMIT, "GROUP_COMMIT"},
    {HISTORY_GROUP_COMMITTED, "GROUP_COMMITTED"},
    {HISTORY_GROUP_COMMIT_FAILED, "GROUP_COMMIT_FAILED"},
    {HISTORY_GROUP_OFFSET_FETCHED, "GROUP_OFFSET_FETCHED"},
    {HISTORY_GROUP_POSITION, "GROUP_POSITION"},
};

static const char *history_kind_name(u32 kind)
{
    for (u32 i = 0; i < ARRAY_LEN(history_kind_names); i++) {
        if (history_kind_names[i].kind == kind) return history_kind_names[i].name;
    }
    return "UNKNOWN_KIND";
}

static const char *const role_names[] = {
    [HISTORY_ROLE_UNATTACHED] = "unattached", [HISTORY_ROLE_FOLLOWER] = "follower",
    [HISTORY_ROLE_PROSPECTIVE] = "prospective", [HISTORY_ROLE_CANDIDATE] = "candidate",
    [HISTORY_ROLE_LEADER] = "leader",         [HISTORY_ROLE_RESIGNED] = "resigned",
    [HISTORY_ROLE_OBSERVER] = "observer",
};

static const char *role_name(u64 role)
{
    return role < ARRAY_LEN(role_names) ? role_names[role] : "?";
}

static bool kind_is_client(u32 kind)
{
    return kind >= HISTORY_CLIENT_INVOKE && kind <= HISTORY_CLIENT_UNKNOWN;
}

/* ===== History statistics ===== */

void report_history_stats(const struct history *history, struct report_stats *stats)
{
    ASSERT(history != NULL && stats != NULL);
    memset(stats, 0, sizeof(*stats));
    bool started[REPORT_NODE_IDS_MAX] = {false};
    for (u32 i = 0; i < history->count; i++) {
        const struct history_event *event = &history->events[i];
        switch (event->kind) {
        case HISTORY_CLIENT_INVOKE: stats->client_invoked++; break;
        case HISTORY_CLIENT_OK: stats->client_ok++; break;
        case HISTORY_CLIENT_FAIL: stats->client_failed++; break;
        case HISTORY_CLIENT_UNKNOWN: stats->client_unknown++; break;
        case HISTORY_FAULT: stats->fault_events++; break;
        case HISTORY_QUORUM_COMMITTED:
            stats->committed_length = MAX(stats->committed_length, event->a + 1);
            break;
        case HISTORY_QUORUM_ROLE:
            if (event->b == HISTORY_ROLE_LEADER) stats->leader_changes++;
            break;
        case HISTORY_NODE_START:
            if (event->node < REPORT_NODE_IDS_MAX && !started[event->node]) {
                started[event->node] = true;
            } else {
                stats->restarts++;
            }
            break;
        default: break;
        }
    }
    ASSERT(stats->client_ok + stats->client_failed <= history->count);
}

/* ===== Describing faults and events ===== */

static void describe_set(const struct scenario *scenario, const struct node_set *set,
                         struct text *text)
{
    bool first = true;
    for (u32 i = 0; i < scenario->node_count; i++) {
        if (!node_set_has(set, i)) continue;
        text_add(text, "%s%s", first ? "" : ",", scenario->nodes[i].name);
        first = false;
    }
}

static void describe_target(const struct scenario *scenario, const struct scenario_fault *fault,
                            struct text *text)
{
    switch (fault->target) {
    case TARGET_LEADER: text_add(text, " leader"); break;
    case TARGET_RANDOM: text_add(text, " random"); break;
    case TARGET_PARTITION_LEADER: text_add(text, " partition-leader"); break;
    case TARGET_GROUP_COORDINATOR: text_add(text, " group-coordinator"); break;
    case TARGET_CLIENT: {
        char name[SCENARIO_NAME_MAX];
        scenario_client_name(scenario, fault->target_node, name, sizeof(name));
        text_add(text, " client %s", name);
        break;
    }
    case TARGET_NODE:
        ASSERT(fault->target_node < scenario->node_count);
        text_add(text, " %s", scenario->nodes[fault->target_node].name);
        break;
    case TARGET_SETS:
        text_add(text, " ");
        describe_set(scenario, &fault->side_a, text);
        text_add(text, fault->kind == FAULT_CUT_ONE_WAY ? " -> " : " | ");
        describe_set(scenario, &fault->side_b, text);
        break;
    }
}

void report_fault_describe(const struct scenario *scenario, const struct scenario_fault *fault,
                           char *buffer, u32 size)
{
    ASSERT(scenario != NULL && fault != NULL && size > 0);
    struct text text = {buffer, size, 0};
    buffer[0] = '\0';
    char at[32];
    report_format_duration(fault->at_ns, at, sizeof(at));
    text_add(&text, "at %s %s", at, fault_kind_name(fault->kind));
    if (fault->kind != FAULT_HEAL) describe_target(scenario, fault, &text);
    char amount[32];
    switch (fault->kind) {
    case FAULT_CLOCK_JUMP:
        report_format_duration((u64)(fault->amount < 0 ? -fault->amount : fault->amount), amount,
                               sizeof(amount));
        text_add(&text, " %c%s", fault->amount < 0 ? '-' : '+', amount);
        break;
    case FAULT_CLOCK_DRIFT: text_add(&text, " %+" PRIi64 "ppm", fault->amount); break;
    case FAULT_DISK_SLOW: text_add(&text, " %" PRIi64 "x", fault->amount); break;
    case FAULT_DISK_CORRUPT:
    case FAULT_DISK_READ_ERROR: text_add(&text, " %" PRIi64, fault->amount); break;
    default: break;
    }
}

/* Sentences for HISTORY_FAULT events, by enum history_fault; %s is the target node. */
static const char *const fault_sentences[] = {
    [HISTORY_FAULT_CRASH] = "%s crashed: its memory is gone, its disk stays",
    [HISTORY_FAULT_RESTART] = "%s restarted and recovers from its disk",
    [HISTORY_FAULT_PAUSE] = "%s froze (like a long garbage-collection pause)",
    [HISTORY_FAULT_RESUME] = "%s woke up from its pause",
    [HISTORY_FAULT_PARTITION] = "%s was cut off from the network",
    [HISTORY_FAULT_HEAL] = "the network healed",
    [HISTORY_FAULT_CLOCK] = "the wall clock of %s was disturbed",
    [HISTORY_FAULT_DISK] = "the disk of %s misbehaved",
    [HISTORY_FAULT_DISK_CORRUPT] = "stored sectors of %s were corrupted",
    [HISTORY_FAULT_CLIENT_CRASH] = "client %s crashed: it starts again with empty memory",
    [HISTORY_FAULT_CLIENT_RESTART] = "client %s started again",
};

/* The history's class for a scheduled fault kind (as sim/sim.c records it). */
static u32 fault_history_class(enum fault_kind kind)
{
    static const u32 classes[FAULT_KIND_COUNT] = {
        [FAULT_CRASH] = HISTORY_FAULT_CRASH,         [FAULT_RESTART] = HISTORY_FAULT_RESTART,
        [FAULT_PAUSE] = HISTORY_FAULT_PAUSE,         [FAULT_RESUME] = HISTORY_FAULT_RESUME,
        [FAULT_ISOLATE] = HISTORY_FAULT_PARTITION,   [FAULT_PARTITION] = HISTORY_FAULT_PARTITION,
        [FAULT_CUT_ONE_WAY] = HISTORY_FAULT_PARTITION, [FAULT_HEAL] = HISTORY_FAULT_HEAL,
        [FAULT_CLOCK_JUMP] = HISTORY_FAULT_CLOCK,    [FAULT_CLOCK_DRIFT] = HISTORY_FAULT_CLOCK,
        [FAULT_DISK_CORRUPT] = HISTORY_FAULT_DISK_CORRUPT,
        [FAULT_DISK_READ_ERROR] = HISTORY_FAULT_DISK,
        [FAULT_DISK_SLOW] = HISTORY_FAULT_DISK,
    };
    ASSERT(kind < FAULT_KIND_COUNT);
    return classes[kind];
}

/* The scheduled fault a HISTORY_FAULT event reports, found by time, class and target; NULL
 * when none matches (the history says less than the schedule, e.g. which clock fault). */
static const struct scenario_fault *fault_for_event(const struct scenario *scenario,
                                                    const struct history_event *event)
{
    for (u32 i = 0; i < scenario->fault_count; i++) {
        const struct scenario_fault *fault = &scenario->faults[i];
        if (fault->at_ns != event->time_ns) continue;
        if (fault_history_class(fault->kind) != event->a) continue;
        if (fault->target == TARGET_NODE && scenario->nodes[fault->target_node].id != event->b) {
            continue;
        }
        return fault;
    }
    return NULL;
}

/* Clock, disk and network faults said precisely, when the schedule tells which one it was. */
static bool describe_scheduled_fault(const struct scenario *scenario,
                                     const struct scenario_fault *fault, const char *target,
                                     struct text *text)
{
    char amount[32];
    u64 magnitude = (u64)(fault->amount < 0 ? -fault->amount : fault->amount);
    switch (fault->kind) {
    case FAULT_CLOCK_JUMP:
        report_format_duration(magnitude, amount, sizeof(amount));
        text_add(text, "the wall clock of %s jumped %s by %s", target,
                 fault->amount < 0 ? "back" : "forward", amount);
        return true;
    case FAULT_CLOCK_DRIFT:
        text_add(text, "the wall clock of %s now runs %s by %" PRIu64 " ppm", target,
                 fault->amount < 0 ? "slow" : "fast", magnitude);
        return true;
    case FAULT_DISK_CORRUPT:
        text_add(text, "%" PRIu64 " stored sectors of %s were corrupted", magnitude, target);
        return true;
    case FAULT_DISK_READ_ERROR:
        text_add(text, "the next %" PRIu64 " disk reads of %s will fail", magnitude, target);
        return true;
    case FAULT_DISK_SLOW:
        if (magnitude <= 1) text_add(text, "the disk of %s is back to its normal speed", target);
        else text_add(text, "the disk of %s became %" PRIu64 " times slower", target, magnitude);
        return true;
    case FAULT_PARTITION:
    case FAULT_CUT_ONE_WAY:
        text_add(text, fault->kind == FAULT_PARTITION ? "the network was split: "
                                                      : "messages stopped flowing one way: ");
        describe_set(scenario, &fault->side_a, text);
        text_add(text, fault->kind == FAULT_PARTITION ? " | " : " -> ");
        describe_set(scenario, &fault->side_b, text);
        return true;
    default: return false;
    }
}

static void describe_fault_event(const struct scenario *scenario,
                                 const struct history_event *event, struct text *text)
{
    char target[SCENARIO_NAME_MAX + 16];
    node_name(scenario, event->b, target, sizeof(target));
    bool network_wide = event->b == UINT64_MAX || event->b == UINT32_MAX;
    const struct scenario_fault *fault = fault_for_event(scenario, event);
    if (fault != NULL && describe_scheduled_fault(scenario, fault, target, text)) {
        /* Said precisely. */
    } else if (event->a == HISTORY_FAULT_PARTITION && network_wide) {
        text_add(text, "the network was split");
    } else if (event->a < ARRAY_LEN(fault_sentences) && fault_sentences[event->a] != NULL) {
        text_add(text, fault_sentences[event->a], target);
    } else {
        text_add(text, "fault %" PRIu64 " on %s", event->a, target);
    }
    bool recovery = event->a == HISTORY_FAULT_RESTART || event->a == HISTORY_FAULT_RESUME;
    if (event->d == 0) {
        text_add(text, recovery ? " (it was not stopped: no effect)" : " (no effect)");
    }
}

/* Per node id, what a timeline already said: it started once; a restart fault was told (so
 * the start that follows it need not be told again). */
#define NODE_STARTED 1u
#define NODE_RESTART_TOLD 2u
#define NODE_LEADING 4u

/* Leaders, those who stop leading, and candidates; other role changes are left out. */
static bool describe_role(const struct history_event *event, const char *name, u8 *node_state,
                          struct text *text)
{
    ASSERT(event->kind == HISTORY_QUORUM_ROLE);
    bool was_leading = false;
    if (event->node < REPORT_NODE_IDS_MAX) {
        was_leading = (node_state[event->node] & NODE_LEADING) != 0;
        node_state[event->node] &= (u8)~NODE_LEADING;
        if (event->b == HISTORY_ROLE_LEADER) node_state[event->node] |= NODE_LEADING;
    }
    if (event->b == HISTORY_ROLE_LEADER) {
        text_add(text, "%s became the leader of epoch %" PRIu64, name, event->a);
    } else if (was_leading) {
        text_add(text, "%s stopped leading (now %s in epoch %" PRIu64 ")", name,
                 role_name(event->b), event->a);
    } else if (event->b == HISTORY_ROLE_CANDIDATE) {
        text_add(text, "%s asks for votes to lead epoch %" PRIu64, name, event->a);
    } else {
        return false;
    }
    return true;
}

/* One sentence for a notable event; false for events a timeline leaves out. */
static bool describe_event(const struct scenario *scenario, const struct history_event *event,
                           u8 *node_state, struct text *text)
{
    char name[SCENARIO_NAME_MAX + 16], bound[32];
    node_name(scenario, event->node, name, sizeof(name));
    switch (event->kind) {
    case HISTORY_FAULT:
        /* "restart all" and "resume all" sweep every node; the ones that were running are
         * noise in a timeline. */
        if ((event->a == HISTORY_FAULT_RESTART || event->a == HISTORY_FAULT_RESUME) &&
            event->d == 0) {
            return false;
        }
        if (event->a == HISTORY_FAULT_RESTART && event->b < REPORT_NODE_IDS_MAX) {
            node_state[event->b] |= NODE_RESTART_TOLD;
        }
        describe_fault_event(scenario, event, text);
        return true;
    case HISTORY_HEALED:
        report_format_duration(event->a, bound, sizeof(bound));
        text_add(text, "every fault healed; the cluster has %s to converge", bound);
        return true;
    case HISTORY_NODE_START:
        if (event->node < REPORT_NODE_IDS_MAX) {
            u8 state = node_state[event->node];
            node_state[event->node] = NODE_STARTED; /* A restarted node leads nothing. */
            if ((state & NODE_STARTED) == 0 || (state & NODE_RESTART_TOLD) != 0) return false;
        }
        text_add(text, "%s started again (memory empty, disk as it was)", name);
        return true;
    case HISTORY_QUORUM_ROLE: return describe_role(event, name, node_state, text);
    case HISTORY_RUN_END: text_add(text, "the run ended"); return true;
    default: return false;
    }
}

/* ===== The summary ===== */

static void print_topology(FILE *out, const struct scenario *scenario)
{
    u32 voters = 0;
    for (u32 i = 0; i < scenario->node_count; i++) voters += scenario->nodes[i].voter ? 1 : 0;
    fprintf(out, "topology    %u node%s (%u voter%s, %u observer%s) in %u datacenter%s:",
            scenario->node_count, scenario->node_count == 1 ? "" : "s", voters,
            voters == 1 ? "" : "s", scenario->node_count - voters,
            scenario->node_count - voters == 1 ? "" : "s", scenario->datacenter_count,
            scenario->datacenter_count == 1 ? "" : "s");
    for (u32 d = 0; d < scenario->datacenter_count; d++) {
        fprintf(out, " %s{", scenario->datacenters[d].name);
        bool first = true;
        for (u32 i = 0; i < scenario->node_count; i++) {
            if (scenario->nodes[i].datacenter != d) continue;
            fprintf(out, "%s%s%s", first ? "" : " ", scenario->nodes[i].name,
                    scenario->nodes[i].voter ? "" : "(observer)");
            first = false;
        }
        fprintf(out, "}");
    }
    fprintf(out, "\n");
    const struct scenario_workload *workload = &scenario->workload;
    if (workload->kind == WORKLOAD_QUORUM_APPEND) {
        char interval[32], timeout[32], start[32];
        report_format_duration(workload->interval_ns, interval, sizeof(interval));
        report_format_duration(workload->request_timeout_ns, timeout, sizeof(timeout));
        report_format_duration(workload->start_ns, start, sizeof(start));
        fprintf(out, "workload    quorum-append: %u clients, a %u-byte value every %s each, "
                "timeout %s, from %s\n", workload->client_count, workload->value_size, interval,
                timeout, start);
    } else if (workload->kind == WORKLOAD_KAFKA_PRODUCE_CONSUME) {
        char interval[32], start[32], stop[32];
        report_format_duration(workload->interval_ns, interval, sizeof(interval));
        report_format_duration(workload->start_ns, start, sizeof(start));
        report_format_duration(workload->stop_ns, stop, sizeof(stop));
        const char *retrying = workload->idempotent ? ", idempotent"
                               : workload->retries  ? ", retrying without idempotence"
                                                    : "";
        fprintf(out, "workload    kafka-produce-consume: topic %s (%u partitions), %u producers "
                "(acks %d%s, a %u-byte value every %s each, from %s%s%s), %u consumers\n",
                workload->topic, workload->partition_count, workload->producer_count,
                workload->acks, retrying, workload->value_size, interval, start,
                workload->stop_ns != 0 ? " until " : "", workload->stop_ns != 0 ? stop : "",
                workload->consumer_count);
    } else {
        fprintf(out, "workload    none\n");
    }
}

/* The Kafka clients' counts, when the run had any. */
static void print_kafka_clients(FILE *out, const struct history *history)
{
    u64 counts[HISTORY_KAFKA_REREAD - HISTORY_KAFKA_SEND + 1] = {0};
    for (u32 i = 0; i < history->count; i++) {
        u32 kind = history->events[i].kind;
        if (kind >= HISTORY_KAFKA_SEND && kind <= HISTORY_KAFKA_REREAD) {
            counts[kind - HISTORY_KAFKA_SEND]++;
        }
    }
    if (counts[0] == 0 && counts[HISTORY_KAFKA_READ - HISTORY_KAFKA_SEND] == 0) return;
    fprintf(out, "kafka       %" PRIu64 " sends: %" PRIu64 " acked, %" PRIu64 " failed, %" PRIu64
            " unknown; %" PRIu64 " records read\n", counts[0],
            counts[HISTORY_KAFKA_ACKED - HISTORY_KAFKA_SEND],
            counts[HISTORY_KAFKA_FAILED - HISTORY_KAFKA_SEND],
            counts[HISTORY_KAFKA_UNKNOWN - HISTORY_KAFKA_SEND],
            counts[HISTORY_KAFKA_READ - HISTORY_KAFKA_SEND]);
    struct kafka_retry_counts retries;
    kafka_history_retry_counts(history, &retries);
    if (retries.retried == 0 && retries.duplicated == 0) return;
    fprintf(out, "            %u sends retried (%u by idempotent producers, %u of those "
            "deduplicated); %u values read at two offsets\n", retries.retried,
            retries.retried_idempotent, retries.deduplicated, retries.duplicated);
}

void report_print_scenario(FILE *out, const struct scenario *scenario)
{
    ASSERT(out != NULL && scenario != NULL);
    fprintf(out, "scenario    %s (%s)\n", scenario->name, scenario->path);
    const char *line = scenario->description;
    while (*line != '\0') {
        size_t length = strcspn(line, "\n");
        fprintf(out, "            %.*s\n", (int)length, line);
        line += length + (line[length] == '\n' ? 1 : 0);
    }
    print_topology(out, scenario);
    char run[32], heal[32], bound[32];
    report_format_duration(scenario->run_ns, run, sizeof(run));
    report_format_duration(scenario->heal_at_ns, heal, sizeof(heal));
    report_format_duration(scenario->liveness_bound_ns, bound, sizeof(bound));
    fprintf(out, "run         %s simulated", run);
    if (scenario->heal_at_ns != 0) {
        fprintf(out, "; every fault heals at %s, then %s to converge", heal, bound);
    }
    fprintf(out, "\n");
    u32 scripted = 0;
    for (u32 i = 0; i < scenario->fault_count; i++) scripted += scenario->faults[i].line != 0;
    fprintf(out, "faults      %u scheduled (%u scripted, %u drawn by the seed)%s\n",
            scenario->fault_count, scripted, scenario->fault_count - scripted,
            scenario->swarm.enabled ? ", swarm mode" : "");
}

void report_print_schedule(FILE *out, const struct scenario *scenario, u32 shown_max)
{
    ASSERT(out != NULL && scenario != NULL);
    for (u32 i = 0; i < scenario->fault_count; i++) {
        if (i == shown_max) {
            fprintf(out, "  ... and %u more\n", scenario->fault_count - shown_max);
            break;
        }
        char sentence[512];
        report_fault_describe(scenario, &scenario->faults[i], sentence, sizeof(sentence));
        if (scenario->faults[i].line != 0) {
            fprintf(out, "  %-50s (line %u)\n", sentence, scenario->faults[i].line);
        } else {
            fprintf(out, "  %-50s (seed)\n", sentence);
        }
    }
}

static void print_run_figures(FILE *out, const struct sim_result *result)
{
    char simulated[32], memory[32];
    report_format_duration(result->simulated_ns, simulated, sizeof(simulated));
    format_bytes(result->peak_memory_bytes, memory, sizeof(memory));
    double wall = result->wall_seconds > 0 ? result->wall_seconds : 1e-9;
    fprintf(out, "seed        %" PRIu64 "\n", result->seed);
    fprintf(out, "simulated   %s\n", simulated);
    fprintf(out, "events      %" PRIu64 "\n", result->events);
    fprintf(out, "wall time   %.3fs\n", result->wall_seconds);
    fprintf(out, "speed       %.0f events/s, %.1f simulated s per wall s\n",
            (double)result->events / wall, (double)result->simulated_ns / 1e9 / wall);
    fprintf(out, "peak memory %s\n", memory);
}

static void print_fault_table(FILE *out, const struct sim_fault_stats *faults)
{
    bool any = false;
    for (u32 kind = 0; kind < FAULT_KIND_COUNT; kind++) any = any || faults->fired[kind] > 0;
    if (!any) {
        fprintf(out, "\nfaults: none fired\n");
    } else {
        fprintf(out, "\n%-18s %7s %10s\n", "fault", "fired", "effective");
        for (u32 kind = 0; kind < FAULT_KIND_COUNT; kind++) {
            if (faults->fired[kind] == 0) continue;
            fprintf(out, "%-18s %7u %10u\n", fault_kind_name(kind), faults->fired[kind],
                    faults->effective[kind]);
        }
    }
    fprintf(out, "effects: %" PRIu64 " messages dropped, %" PRIu64 " connections broken, %" PRIu64
            " bytes lost to crash, %" PRIu64 " writes torn, %" PRIu64 " sectors corrupted, %" PRIu64
            " read errors\n", faults->messages_dropped, faults->connections_broken,
            faults->bytes_lost_to_crash, faults->writes_torn, faults->sectors_corrupted,
            faults->read_errors);
}

/* "history event #12 at 3.141s: n2 QUORUM_COMMITTED" for the event a failing check names. */
static void describe_event_position(const struct scenario *scenario, const struct history *history,
                                    u32 index, char *buffer, u32 size)
{
    if (index >= history->count) {
        snprintf(buffer, size, "history event #%u (past the end of the history)", index);
        return;
    }
    const struct history_event *event = &history->events[index];
    char time[32], name[SCENARIO_NAME_MAX + 16];
    format_time(event->time_ns, time, sizeof(time));
    if (kind_is_client(event->kind)) snprintf(name, sizeof(name), "client %u", event->node);
    else node_name(scenario, event->node, name, sizeof(name));
    snprintf(buffer, size, "history event #%u at t=%s: %s %s (a=%" PRIu64 " b=%" PRIu64 ")",
             index, time, name, history_kind_name(event->kind), event->a, event->b);
}

static void print_checks(FILE *out, const struct scenario *scenario,
                         const struct sim_result *result, const char *replay)
{
    fprintf(out, "\nchecks\n");
    for (u32 i = 0; i < result->outcome_count; i++) {
        const struct check_outcome *outcome = &result->outcomes[i];
        const char *name = result->outcome_names[i] != NULL ? result->outcome_names[i] : "?";
        fprintf(out, "%s %-20s %s\n", outcome->passed ? "PASS" : "FAIL", name, outcome->message);
        if (outcome->passed) continue;
        const struct checker *checker = model_checker_find(name);
        char position[256];
        describe_event_position(scenario, &result->history, outcome->event_index, position,
                                sizeof(position));
        fprintf(out, "     invariant: %s\n", checker != NULL ? checker->description : name);
        fprintf(out, "     broke at:  %s\n", position);
        fprintf(out, "     replay:    %s\n", replay);
    }
    if (result->fault_failure[0] != '\0') {
        fprintf(out, "FAIL %-20s %s\n     replay:    %s\n", "scripted-faults",
                result->fault_failure, replay);
    }
}

/* "leaders     n3 (epoch 1) at 1.298s, n2 (epoch 3) at 12.005s": who led when, in short. */
static void print_leaders(FILE *out, const struct scenario *scenario,
                          const struct history *history, u32 leader_changes)
{
    const u32 shown_max = 6;
    fprintf(out, "leaders     %u leader change%s%s", leader_changes, leader_changes == 1 ? "" : "s",
            leader_changes > 0 ? ": " : "\n");
    u32 shown = 0;
    for (u32 i = 0; i < history->count && shown < leader_changes; i++) {
        const struct history_event *event = &history->events[i];
        if (event->kind != HISTORY_QUORUM_ROLE || event->b != HISTORY_ROLE_LEADER) continue;
        if (shown == shown_max) {
            fprintf(out, ", ... (%u more)", leader_changes - shown_max);
            break;
        }
        char name[SCENARIO_NAME_MAX + 16], time[32];
        node_name(scenario, event->node, name, sizeof(name));
        format_time(event->time_ns, time, sizeof(time));
        fprintf(out, "%s%s (epoch %" PRIu64 ") at %s", shown == 0 ? "" : ", ", name, event->a,
                time);
        shown++;
    }
    if (leader_changes > 0) fprintf(out, "\n");
}

void report_replay_command(const char *program, const char *scenario_path, u64 seed,
                           char *buffer, u32 size)
{
    snprintf(buffer, size, "%s run %s --seed %" PRIu64 " --trace t.zst", program, scenario_path,
             seed);
}

void report_print_summary(FILE *out, const struct scenario *scenario,
                          const struct sim_result *result, const char *program,
                          const char *report_path)
{
    ASSERT(out != NULL && scenario != NULL && result != NULL && program != NULL);
    report_print_scenario(out, scenario);
    report_print_schedule(out, scenario, 20);
    print_run_figures(out, result);
    struct report_stats stats;
    report_history_stats(&result->history, &stats);
    fprintf(out, "history     %u events, %u restarts, committed log length %" PRIu64 "\n",
            result->history.count, stats.restarts, stats.committed_length);
    fprintf(out, "clients     %" PRIu64 " operations: %" PRIu64 " ok, %" PRIu64 " failed, %"
            PRIu64 " unknown\n", stats.client_invoked, stats.client_ok, stats.client_failed,
            stats.client_unknown);
    print_kafka_clients(out, &result->history);
    print_leaders(out, scenario, &result->history, stats.leader_changes);
    print_fault_table(out, &result->faults);
    char replay[1024];
    report_replay_command(program, scenario->path, result->seed, replay, sizeof(replay));
    print_checks(out, scenario, result, replay);
    u32 failed = 0;
    for (u32 i = 0; i < result->outcome_count; i++) failed += result->outcomes[i].passed ? 0 : 1;
    bool passed = failed == 0 && result->fault_failure[0] == '\0' && result->passed;
    fprintf(out, "\nresult      %s: %u of %u checks passed%s\n", passed ? "PASS" : "FAIL",
            result->outcome_count - failed, result->outcome_count,
            result->fault_failure[0] != '\0' ? "; a scripted fault never took effect" : "");
    if (report_path != NULL) fprintf(out, "report      %s/report.md\n", report_path);
    fprintf(out, "trace-hash: %016" PRIx64 "\n", result->trace_hash);
}

/* ===== The report folder ===== */

/* mkdir -p: creates each missing component of path. */
static bool make_directories(const char *path, char *error, u32 error_size)
{
    char partial[1024];
    u32 length = (u32)strlen(path);
    if (length == 0 || length >= sizeof(partial)) {
        snprintf(error, error_size, "report directory '%s': bad path", path);
        return false;
    }
    for (u32 i = 1; i <= length; i++) {
        if (path[i] != '/' && path[i] != '\0') continue;
        memcpy(partial, path, i);
        partial[i] = '\0';
        if (mkdir(partial, 0777) != 0 && errno != EEXIST) {
            snprintf(error, error_size, "cannot create %s: %s", partial, strerror(errno));
            return false;
        }
    }
    struct stat info;
    if (stat(path, &info) != 0 || !S_ISDIR(info.st_mode)) {
        snprintf(error, error_size, "%s is not a directory", path);
        return false;
    }
    return true;
}

static FILE *report_open(const char *folder, const char *file, char *error, u32 error_size)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/%s", folder, file);
    FILE *out = fopen(path, "w");
    if (out == NULL) snprintf(error, error_size, "cannot write %s: %s", path, strerror(errno));
    return out;
}

static bool report_close(FILE *out, const char *folder, const char *file, char *error,
                         u32 error_size)
{
    bool failed = ferror(out) != 0;
    failed = fclose(out) != 0 || failed;
    if (failed) snprintf(error, error_size, "error writing %s/%s", folder, file);
    return !failed;
}

/* The fields packed into some events, in words, for history.tsv readers. */
/* "{0,2,5}": a partition bit mask as a set. */
static void describe_partitions(u64 mask, struct text *text)
{
    text_add(text, "{");
    bool first = true;
    for (u32 p = 0; p < 64; p++) {
        if ((mask >> p & 1) == 0) continue;
        text_add(text, first ? "%u" : ",%u", p);
        first = false;
    }
    text_add(text, "}");
}

/* A Kafka error code by name ("ILLEGAL_GENERATION"), or its number when unknown. */
static const char *error_name(u64 code)
{
    const char *name = code <= INT16_MAX ? kafka_error_name((i16)code) : NULL;
    return name != NULL ? name : "an unknown error";
}

static void describe_payload(const struct history *history, const struct history_event *event,
                             struct text *text)
{
    const u8 *data = event->data_size > 0 ? history->data + event->data_offset : NULL;
    const char *replica_role = (event->d >> 32) == HISTORY_REPLICA_LEADER ? "leader" : "follower";
    switch (event->kind) {
    case HISTORY_QUORUM_ROLE:
        text_add(text, "%s in epoch %" PRIu64, role_name(event->b), event->a);
        break;
    case HISTORY_METADATA_PARTITION: {
        struct history_partition_state state;
        if (data == NULL || event->data_size != sizeof(state)) break;
        memcpy(&state, data, sizeof(state));
        text_add(text, "leader %d epoch %d partition epoch %d isr 0x%" PRIx64
                 " replicas 0x%" PRIx64, state.leader, state.leader_epoch,
                 state.partition_epoch, state.isr, state.replicas);
        break;
    }
    case HISTORY_REPLICA_APPENDED: {
        struct history_replica_batch batch;
        if (data == NULL || event->data_size != sizeof(batch)) break;
        memcpy(&batch, data, sizeof(batch));
        text_add(text, "offsets %" PRIu64 "..%" PRIu64 " epoch %d crc %08x as %s", event->c,
                 event->d, batch.leader_epoch, batch.crc,
                 batch.role == HISTORY_REPLICA_LEADER ? "leader" : "follower");
        break;
    }
    case HISTORY_REPLICA_HIGH_WATERMARK:
        text_add(text, "high watermark %" PRIu64 " as %s of epoch %u", event->c, replica_role,
                 (u32)event->d);
        break;
    case HISTORY_REPLICA_OPENED:
        text_add(text, "log opened: end %" PRIu64 ", start %" PRIu64, event->c, event->d);
        break;
    case HISTORY_REPLICA_TRUNCATED:
        text_add(text, "log cut to end %" PRIu64 " (high watermark %" PRIu64 ")", event->c,
                 event->d);
        break;
    case HISTORY_KAFKA_SEND:
        if ((event->d & HISTORY_KAFKA_IDEMPOTENT) != 0) {
            text_add(text, "idempotent: its leader writes it once however often it is resent");
        }
        break;
    case HISTORY_KAFKA_RETRIED:
        /* REQUEST_TIMED_OUT: no answer in time; NETWORK_EXCEPTION: the connection was lost;
         * the sequence errors: resent under a new producer id. */
        text_add(text, "operation %" PRIu64 " sent again after %s", event->a,
                 error_name(event->c));
        break;
    case HISTORY_KAFKA_PRODUCER_ID:
        text_add(text, "producer id %" PRIu64 ", epoch %" PRIu64, event->a, event->b);
        break;
    case HISTORY_GROUP_JOINED:
        text_add(text, "joined generation %" PRIu64 " of %" PRIu64 " members%s, %s", event->a,
                 event->d, event->b != 0 ? " as its leader" : "",
                 event->c == HISTORY_GROUP_COOPERATIVE ? "cooperative" : "eager");
        break;
    case HISTORY_GROUP_ASSIGNED:
        text_add(text, "generation %" PRIu64 " assigns partitions ", event->a);
        describe_partitions(event->b, text);
        break;
    case HISTORY_GROUP_REVOKED:
        text_add(text, "gives up partitions ");
        describe_partitions(event->b, text);
        text_add(text, " of generation %" PRIu64, event->a);
        if (event->c != 0) text_add(text, ", fenced: %s", error_name(event->c));
        break;
    case HISTORY_GROUP_COMMIT:
    case HISTORY_GROUP_COMMITTED:
        text_add(text, "offset %" PRIu64 " of partition %" PRIu64 " in generation %" PRIu64,
                 event->c, event->b, event->a);
        break;
    case HISTORY_GROUP_COMMIT_FAILED:
        text_add(text, "offset %" PRIu64 " of partition %" PRIu64 " in generation %" PRIu64
                 ": %s", event->c, event->b, event->a,
                 event->d == 0xffff ? "outcome unknown" : error_name(event->d));
        break;
    case HISTORY_GROUP_OFFSET_FETCHED:
        if (event->c == UINT64_MAX) {
            text_add(text, "partition %" PRIu64 " has no committed offset", event->b);
        } else {
            text_add(text, "partition %" PRIu64 " committed at %" PRIu64, event->b, event->c);
        }
        break;
    case HISTORY_GROUP_POSITION:
        text_add(text, "reads partition %" PRIu64 " from offset %" PRIu64 " in generation %"
                 PRIu64, event->a, event->b, event->c);
        break;
    default: break;
    }
}

/* history.tsv: one line per event, with a header; values that are -1 print as -1. */
static void write_history_tsv(FILE *out, const struct scenario *scenario,
                              const struct history *history)
{
    fprintf(out, "index\ttime_ns\ttime\tnode\tkind\ta\tb\tc\td\twhat\n");
    u8 node_state[REPORT_NODE_IDS_MAX] = {0};
    for (u32 i = 0; i < history->count; i++) {
        const struct history_event *event = &history->events[i];
        char time[32], name[SCENARIO_NAME_MAX + 16], what[256];
        struct text text = {what, sizeof(what), 0};
        what[0] = '\0';
        format_time(event->time_ns, time, sizeof(time));
        if (kind_is_client(event->kind)) snprintf(name, sizeof(name), "client-%u", event->node);
        else node_name(scenario, event->node, name, sizeof(name));
        if (!describe_event(scenario, event, node_state, &text)) {
            describe_payload(history, event, &text);
        }
        fprintf(out, "%u\t%" PRIu64 "\t%s\t%s\t%s", i, event->time_ns, time, name,
                history_kind_name(event->kind));
        const u64 values[4] = {event->a, event->b, event->c, event->d};
        for (u32 v = 0; v < 4; v++) {
            if (values[v] == UINT64_MAX) fprintf(out, "\t-1");
            else fprintf(out, "\t%" PRIu64, values[v]);
        }
        fprintf(out, "\t%s\n", what);
    }
}

/* ===== timeline.dot ===== */

/* The row of the timeline an event belongs to: 0 for the network and the whole cluster, else
 * 1 + the node's index. */
static u32 timeline_row(const struct scenario *scenario, const struct history_event *event)
{
    u64 id = event->kind == HISTORY_FAULT ? event->b : event->node;
    if (event->kind == HISTORY_HEALED || event->kind == HISTORY_RUN_END) return 0;
    if (event->kind == HISTORY_FAULT && event->a == HISTORY_FAULT_HEAL) return 0;
    if (id >= 1 && id <= scenario->node_count) return (u32)id;
    return 0;
}

static const char *timeline_color(const struct history_event *event)
{
    if (event->kind == HISTORY_QUORUM_ROLE) {
        return event->b == HISTORY_ROLE_LEADER ? "#cfe2f3" : "#fff2cc"; /* Blue, yellow. */
    }
    if (event->kind == HISTORY_NODE_START) return "#fce5cd";  /* Restarts: orange. */
    if (event->kind == HISTORY_HEALED) return "#d9ead3";      /* Healing: green. */
    if (event->kind == HISTORY_FAULT && (event->a == HISTORY_FAULT_HEAL ||
                                         event->a == HISTORY_FAULT_RESTART ||
                                         event->a == HISTORY_FAULT_RESUME)) return "#d9ead3";
    if (event->kind == HISTORY_FAULT) return "#f4cccc";       /* Faults: red. */
    return "#eeeeee";
}

/* Writes a sentence as a dot label, broken into lines of about 24 characters with dot's "\n"
 * escape, so that boxes stay narrow; a double quote would end the label, so it becomes '. */
static void dot_label(FILE *out, const char *text)
{
    u32 line_length = 0;
    for (const char *c = text; *c != '\0'; c++) {
        if (*c == ' ' && line_length >= 24) {
            fputs("\\n", out);
            line_length = 0;
            continue;
        }
        fputc(*c == '"' ? '\'' : *c, out);
        line_length++;
    }
}

/* A new column on the time axis, chained to the previous one. */
static void write_timeline_column(FILE *out, u32 column, u64 time_ns)
{
    char time[32];
    format_time(time_ns, time, sizeof(time));
    fprintf(out, "  node [shape=plaintext, style=\"\"];\n  c%u [label=\"%s\"];\n", column, time);
    if (column == 0) fprintf(out, "  axis -> c0 [color=gray];\n");
    else fprintf(out, "  c%u -> c%u [color=gray];\n", column - 1, column);
    fprintf(out, "  node [shape=box, style=\"rounded,filled\"];\n");
}

/* Columns are distinct times; each row chains its events left to right. */
static void write_timeline_dot(FILE *out, const struct scenario *scenario,
                               const struct history *history)
{
    fprintf(out, "digraph timeline {\n  graph [rankdir=LR, nodesep=0.2, ranksep=0.25, "
            "fontname=\"Helvetica\", labelloc=t, label=\"%s: faults, elections, leaders and "
            "restarts over time\"];\n  node [fontname=\"Helvetica\", fontsize=10];\n"
            "  edge [arrowhead=none];\n", scenario->name);
    fprintf(out, "  node [shape=plaintext];\n  axis [label=\"time\"];\n"
            "  row0 [label=\"network\"];\n");
    for (u32 i = 0; i < scenario->node_count; i++) {
        fprintf(out, "  row%u [label=\"%s\"];\n", i + 1, scenario->nodes[i].name);
    }
    fprintf(out, "  { rank=same; axis;");
    for (u32 i = 0; i <= scenario->node_count; i++) fprintf(out, " row%u;", i);
    fprintf(out, " }\n  node [shape=box, style=\"rounded,filled\"];\n");

    u32 last_in_row[SCENARIO_NODES_MAX + 1];
    for (u32 i = 0; i <= scenario->node_count; i++) last_in_row[i] = UINT32_MAX;
    u8 node_state[REPORT_NODE_IDS_MAX] = {0};
    u64 column_time = UINT64_MAX;
    u32 columns = 0, boxes = 0;
    for (u32 i = 0; i < history->count && boxes < REPORT_DOT_EVENTS_MAX; i++) {
        const struct history_event *event = &history->events[i];
        char what[256];
        struct text text = {what, sizeof(what), 0};
        what[0] = '\0';
        if (!describe_event(scenario, event, node_state, &text)) continue;
        u64 millis = event->time_ns / NS_PER_MS;
        if (millis != column_time) {
            write_timeline_column(out, columns++, event->time_ns);
            column_time = millis;
        }
        u32 row = timeline_row(scenario, event);
        fprintf(out, "  e%u [label=\"", i);
        dot_label(out, what);
        fprintf(out, "\", fillcolor=\"%s\"];\n  { rank=same; c%u; e%u; }\n",
                timeline_color(event), columns - 1, i);
        if (last_in_row[row] == UINT32_MAX) {
            fprintf(out, "  row%u -> e%u [style=dotted, weight=10];\n", row, i);
        } else {
            fprintf(out, "  e%u -> e%u [color=\"#999999\", weight=10];\n", last_in_row[row], i);
        }
        last_in_row[row] = i;
        boxes++;
    }
    fprintf(out, "}\n");
}

/* ===== report.md ===== */

/* Prints text for a Markdown table cell: a '|' would end the cell, and a newline the row. */
static void md_cell(FILE *out, const char *text)
{
    for (const char *c = text; *c != '\0'; c++) {
        if (*c == '|') fputs("\\|", out);
        else if (*c == '\n') fputc(' ', out);
        else fputc(*c, out);
    }
}

static void md_cluster(FILE *out, const struct scenario *scenario)
{
    u32 voters = 0;
    for (u32 i = 0; i < scenario->node_count; i++) voters += scenario->nodes[i].voter ? 1 : 0;
    fprintf(out, "## The cluster\n\n%u nodes: %u voters in the metadata quorum (a majority is %u) "
            "and %u observers.\n\n", scenario->node_count, voters, voters / 2 + 1,
            scenario->node_count - voters);
    for (u32 d = 0; d < scenario->datacenter_count; d++) {
        const struct scenario_datacenter *datacenter = &scenario->datacenters[d];
        char low[32], high[32];
        report_format_duration(datacenter->lan_latency_min_ns, low, sizeof(low));
        report_format_duration(datacenter->lan_latency_max_ns, high, sizeof(high));
        fprintf(out, "- Datacenter **%s** (latency %s to %s inside it):", datacenter->name, low,
                high);
        for (u32 i = 0; i < scenario->node_count; i++) {
            const struct scenario_node *node = &scenario->nodes[i];
            if (node->datacenter != d) continue;
            fprintf(out, " %s (id %u, %s)", node->name, node->id,
                    node->voter ? "voter" : "observer");
        }
        fprintf(out, "\n");
    }
    char low[32], high[32], timeout[32];
    report_format_duration(scenario->wan_latency_min_ns, low, sizeof(low));
    report_format_duration(scenario->wan_latency_max_ns, high, sizeof(high));
    report_format_duration(scenario->connection_timeout_ns, timeout, sizeof(timeout));
    if (scenario->datacenter_count > 1) {
        fprintf(out, "- Between datacenters a message takes %s to %s.\n", low, high);
    }
    fprintf(out, "- A connection that stalls for %s breaks.\n", timeout);
    report_format_duration(scenario->disk_latency_min_ns, low, sizeof(low));
    report_format_duration(scenario->disk_latency_max_ns, high, sizeof(high));
    fprintf(out, "- A disk operation takes %s to %s.\n", low, high);
    const struct scenario_workload *workload = &scenario->workload;
    if (workload->kind == WORKLOAD_QUORUM_APPEND) {
        char interval[32], start[32];
        report_format_duration(workload->interval_ns, interval, sizeof(interval));
        report_format_duration(workload->start_ns, start, sizeof(start));
        fprintf(out, "- From %s on, %u clients each append a %u-byte value to the replicated log "
                "every %s, through whichever node leads.\n", start, workload->client_count,
                workload->value_size, interval);
    }
    fprintf(out, "\n");
}

static void md_schedule(FILE *out, const struct scenario *scenario)
{
    char run[32], heal[32], bound[32];
    report_format_duration(scenario->run_ns, run, sizeof(run));
    report_format_duration(scenario->heal_at_ns, heal, sizeof(heal));
    report_format_duration(scenario->liveness_bound_ns, bound, sizeof(bound));
    fprintf(out, "## The fault schedule\n\nThe run lasts %s of simulated time.", run);
    if (scenario->heal_at_ns != 0) {
        fprintf(out, " At %s every fault heals; from then on the cluster has %s to recover.", heal,
                bound);
    }
    if (scenario->swarm.enabled) {
        fprintf(out, " This is a swarm run: the seed chose which kinds of faults happen and "
                "when.");
    }
    fprintf(out, "\n\n");
    if (scenario->fault_count == 0) fprintf(out, "No fault was scheduled.\n\n");
    for (u32 i = 0; i < scenario->fault_count; i++) {
        char sentence[512];
        report_fault_describe(scenario, &scenario->faults[i], sentence, sizeof(sentence));
        if (scenario->faults[i].line != 0) {
            fprintf(out, "- `%s` (line %u)\n", sentence, scenario->faults[i].line);
        } else {
            fprintf(out, "- `%s` (drawn by the seed)\n", sentence);
        }
    }
    fprintf(out, "\n");
}

static void md_timeline(FILE *out, const struct scenario *scenario, const struct history *history,
                        bool have_svg)
{
    fprintf(out, "## What happened\n\nFaults, elections, leader changes and restarts, in order. "
            "Every event of the run is in `history.tsv`.\n\n");
    if (have_svg) fprintf(out, "![timeline](timeline.svg)\n\n");
    fprintf(out, "| time | what happened |\n|---:|---|\n");
    u8 node_state[REPORT_NODE_IDS_MAX] = {0};
    u32 rows = 0, left_out = 0;
    for (u32 i = 0; i < history->count; i++) {
        char what[256], time[32];
        struct text text = {what, sizeof(what), 0};
        what[0] = '\0';
        if (!describe_event(scenario, &history->events[i], node_state, &text)) continue;
        if (rows == REPORT_TIMELINE_MAX) { left_out++; continue; }
        format_time(history->events[i].time_ns, time, sizeof(time));
        fprintf(out, "| %s | ", time);
        md_cell(out, what);
        fprintf(out, " |\n");
        rows++;
    }
    if (rows == 0) fprintf(out, "| | nothing notable happened |\n");
    if (left_out > 0) fprintf(out, "\n%u more such events are in `history.tsv`.\n", left_out);
    fprintf(out, "\n");
}

static void md_clients(FILE *out, const struct report_stats *stats)
{
    u64 finished = stats->client_ok + stats->client_failed + stats->client_unknown;
    u64 pending = stats->client_invoked > finished ? stats->client_invoked - finished : 0;
    fprintf(out, "## What the clients saw\n\n"
            "- %" PRIu64 " operations were started.\n"
            "- %" PRIu64 " succeeded: the value is committed and must never be lost.\n"
            "- %" PRIu64 " failed: the value was definitely not written.\n"
            "- %" PRIu64 " have an unknown outcome (a timeout or a lost connection): the value "
            "may or may not have been written, and the checkers accept either.\n"
            "- %" PRIu64 " were still waiting for an answer when the run ended.\n"
            "- The committed log holds %" PRIu64 " entries; the leader changed %u times; nodes "
            "restarted %u times.\n\n", stats->client_invoked, stats->client_ok,
            stats->client_failed, stats->client_unknown, pending, stats->committed_length,
            stats->leader_changes, stats->restarts);
}

/* What the Kafka producers and consumers saw, when the run had any. */
static void md_kafka(FILE *out, const struct history *history)
{
    u64 sends = 0, acked = 0, failed = 0, unknown = 0, reads = 0;
    for (u32 i = 0; i < history->count; i++) {
        u32 kind = history->events[i].kind;
        sends += kind == HISTORY_KAFKA_SEND;
        acked += kind == HISTORY_KAFKA_ACKED;
        failed += kind == HISTORY_KAFKA_FAILED;
        unknown += kind == HISTORY_KAFKA_UNKNOWN;
        reads += kind == HISTORY_KAFKA_READ;
    }
    if (sends == 0 && reads == 0) return;
    struct kafka_retry_counts retries;
    kafka_history_retry_counts(history, &retries);
    fprintf(out, "## What the Kafka clients saw\n\n"
            "- Producers sent %" PRIu64 " records: %" PRIu64 " acknowledged, %" PRIu64 " failed "
            "(definitely not written), %" PRIu64 " with an unknown outcome; consumers read %"
            PRIu64 " records.\n", sends, acked, failed, unknown, reads);
    fprintf(out, "- Producers retried %u sends whose first attempt may have reached the log "
            "(%u by idempotent producers, whose leaders recognised %u resent batches and "
            "answered with the first write's offset: deduplicated; %u new producer ids after a "
            "refused sequence); %u values were read at two offsets of their partition (written "
            "twice: at least once, the price of retries without enable.idempotence).\n\n",
            retries.retried, retries.retried_idempotent, retries.deduplicated,
            retries.new_producer_ids, retries.duplicated);
}

static void md_checks(FILE *out, const struct scenario *scenario, const struct sim_result *result)
{
    fprintf(out, "## The checks\n\nEach check reads the history and judges one promise.\n\n"
            "| check | verdict | the promise | what the check says |\n|---|---|---|---|\n");
    for (u32 i = 0; i < result->outcome_count; i++) {
        const struct check_outcome *outcome = &result->outcomes[i];
        const char *name = result->outcome_names[i] != NULL ? result->outcome_names[i] : "?";
        const struct checker *checker = model_checker_find(name);
        fprintf(out, "| %s | %s | ", name, outcome->passed ? "PASS" : "**FAIL**");
        md_cell(out, checker != NULL ? checker->description : "");
        fprintf(out, " | ");
        md_cell(out, outcome->message);
        fprintf(out, " |\n");
    }
    if (result->fault_failure[0] != '\0') {
        fprintf(out, "| scripted faults | **FAIL** | every scripted fault takes effect | ");
        md_cell(out, result->fault_failure);
        fprintf(out, " |\n");
    }
    for (u32 i = 0; i < result->outcome_count; i++) {
        if (result->outcomes[i].passed) continue;
        char position[256];
        describe_event_position(scenario, &result->history, result->outcomes[i].event_index,
                                position, sizeof(position));
        fprintf(out, "\n**%s** broke at %s (line %u of `history.tsv`, counting the header).\n",
                result->outcome_names[i] != NULL ? result->outcome_names[i] : "?", position,
                result->outcomes[i].event_index + 2);
    }
    fprintf(out, "\n");
}

static void md_faults(FILE *out, const struct sim_fault_stats *faults)
{
    fprintf(out, "## Fault accounting\n\nA fault is *effective* when it changed something (a "
            "crash of a node that was already down is not).\n\n| fault | fired | effective |\n"
            "|---|---:|---:|\n");
    for (u32 kind = 0; kind < FAULT_KIND_COUNT; kind++) {
        if (faults->fired[kind] == 0) continue;
        fprintf(out, "| %s | %u | %u |\n", fault_kind_name(kind), faults->fired[kind],
                faults->effective[kind]);
    }
    fprintf(out, "\nMessages dropped: %" PRIu64 ". Connections broken: %" PRIu64 ". Unsynced "
            "bytes lost to crashes: %" PRIu64 ". Writes torn: %" PRIu64 ". Sectors corrupted: %"
            PRIu64 ". Read errors: %" PRIu64 ".\n\n", faults->messages_dropped,
            faults->connections_broken, faults->bytes_lost_to_crash, faults->writes_torn,
            faults->sectors_corrupted, faults->read_errors);
}

/* A latency estimate to the microsecond: the histogram is no finer than that. */
static void format_latency(u64 ns, char *buffer, u32 size)
{
    u64 rounded = ns < NS_PER_US ? ns : (ns + NS_PER_US / 2) / NS_PER_US * NS_PER_US;
    report_format_duration(rounded, buffer, size);
}

/* When the node last started (its metrics count from there), or 0 for its first start. */
static u64 node_last_start_ns(const struct history *history, u64 node_id, u32 *starts)
{
    u64 last = 0;
    *starts = 0;
    for (u32 i = 0; i < history->count; i++) {
        const struct history_event *event = &history->events[i];
        if (event->kind != HISTORY_NODE_START || event->node != node_id) continue;
        (*starts)++;
        last = event->time_ns;
    }
    return last;
}

/* One node's table: a row per api that received something, in api-key order. */
static void md_broker_node(FILE *out, const struct scenario_node *node,
                           const struct history *history,
                           const struct sim_node_metrics *node_metrics)
{
    if (!node_metrics->up) {
        fprintf(out, "**%s** was down when the run ended: its metrics went with its memory.\n\n",
                node->name);
        return;
    }
    const struct broker_metrics *metrics = &node_metrics->metrics;
    u64 requests = 0, errors = 0;
    for (u32 i = 0; i <= BROKER_METRICS_API_UNKNOWN; i++) requests += metrics->apis[i].requests;
    for (u32 i = 0; i < metrics->error_series; i++) errors += metrics->errors[i].count;
    u32 starts = 0;
    u64 since = node_last_start_ns(history, node->id, &starts);
    char since_text[32];
    format_time(since, since_text, sizeof(since_text));
    fprintf(out, "**%s**%s%s%s: %" PRIu64 " request%s, %" PRIu64 " error code%s in answers.\n\n",
            node->name, starts > 1 ? " (counting since its restart at " : "",
            starts > 1 ? since_text : "", starts > 1 ? ")" : "", requests,
            requests == 1 ? "" : "s", errors, errors == 1 ? "" : "s");
    if (requests == 0) return;
    fprintf(out, "| api | requests | errors in answers | connections closed | p50 | p99 | max |\n"
            "|---|---:|---|---:|---:|---:|---:|\n");
    for (u32 i = 0; i <= BROKER_METRICS_API_UNKNOWN; i++) {
        const struct broker_api_metrics *api = &metrics->apis[i];
        if (api->requests == 0) continue;
        fprintf(out, "| %s | %" PRIu64 " | ", broker_metrics_api_name(i), api->requests);
        u32 listed = 0;
        for (u32 e = 0; e < metrics->error_series; e++) {
            const struct broker_error_count *entry = &metrics->errors[e];
            if ((u32)entry->api_key != i) continue;
            const char *name = kafka_error_name(entry->error_code);
            if (name != NULL) {
                fprintf(out, "%s%s %" PRIu64, listed > 0 ? ", " : "", name, entry->count);
            } else {
                fprintf(out, "%scode %d: %" PRIu64, listed > 0 ? ", " : "", entry->error_code,
                        entry->count);
            }
            listed++;
        }
        if (listed == 0) fprintf(out, "none");
        char p50[32], p99[32], max[32];
        format_latency(broker_metrics_latency_quantile_ns(api, 500), p50, sizeof(p50));
        format_latency(broker_metrics_latency_quantile_ns(api, 990), p99, sizeof(p99));
        format_latency(api->latency_max_ns, max, sizeof(max));
        fprintf(out, " | %" PRIu64 " | %s | %s | %s |\n",
                api->closed_malformed + api->closed_unsupported, p50, p99, max);
    }
    if (metrics->errors_unrecorded > 0) {
        fprintf(out, "\n%" PRIu64 " more error codes were not told apart by api and code (the "
                "broker keeps %u such counters).\n", metrics->errors_unrecorded,
                BROKER_ERROR_SERIES_MAX);
    }
    fprintf(out, "\n");
}

static void md_brokers(FILE *out, const struct scenario *scenario,
                       const struct sim_result *result)
{
    if (result->node_metrics == NULL) return; /* The run did not get going. */
    ASSERT(result->node_metrics_count == scenario->node_count);
    fprintf(out, "## What the brokers served\n\nEach node's Kafka request metrics when the run "
            "ended: the numbers `kbroker --metrics-file` writes in Prometheus format. They count "
            "from the node's last start (a crash loses them, as a restarted process's counters "
            "start again). *Errors in answers* counts each error code an answer carried, at "
            "the top or for a topic or partition. *Connections closed*: requests that did not "
            "decode or asked for an api or version not served. Latency is simulated time from "
            "a request's arrival to its answer handed to the network; p50 and p99 are "
            "estimated from the latency histogram (buckets from 100us to 10s, three per "
            "decade) as Prometheus' `histogram_quantile` does, and never exceed the max.\n\n");
    for (u32 i = 0; i < scenario->node_count; i++) {
        md_broker_node(out, &scenario->nodes[i], &result->history, &result->node_metrics[i]);
    }
}

/* ===== The consumer group ===== */

#define REPORT_GENERATIONS_MAX 48u
#define REPORT_GROUP_MEMBERS_MAX 16u
#define REPORT_FENCINGS_MAX 40u

struct report_generation {
    u64 generation;
    u64 first_ns;
    u32 member_count;
    u64 members[REPORT_GROUP_MEMBERS_MAX];
    u64 partitions[REPORT_GROUP_MEMBERS_MAX];
};

static bool is_fencing_error(u64 code)
{
    return code == KAFKA_ERROR_ILLEGAL_GENERATION || code == KAFKA_ERROR_UNKNOWN_MEMBER_ID ||
           code == KAFKA_ERROR_REBALANCE_IN_PROGRESS || code == KAFKA_ERROR_FENCED_INSTANCE_ID;
}

/* Generations in the order they were first assigned, who got which partitions, and every time
 * a member learnt it had been fenced: how the group moved ownership, and how it stopped a
 * member that fell behind from writing over its successor's progress. */
static void md_groups(FILE *out, const struct scenario *scenario, const struct history *history)
{
    struct report_generation generations[REPORT_GENERATIONS_MAX];
    u32 generation_count = 0, generations_total = 0;
    u64 joins = 0, committed = 0, commit_failed = 0, commit_fenced = 0, commit_unknown = 0;
    for (u32 i = 0; i < history->count; i++) {
        const struct history_event *event = &history->events[i];
        switch (event->kind) {
        case HISTORY_GROUP_JOINED: joins++; break;
        case HISTORY_GROUP_COMMITTED: committed++; break;
        case HISTORY_GROUP_COMMIT_FAILED:
            if (event->d == 0xffff) commit_unknown++;
            else if (is_fencing_error(event->d)) commit_fenced++;
            else commit_failed++;
            break;
        case HISTORY_GROUP_ASSIGNED: {
            struct report_generation *found = NULL;
            for (u32 g = 0; g < generation_count; g++) {
                if (generations[g].generation == event->a) found = &generations[g];
            }
            if (found == NULL) {
                generations_total++;
                if (generation_count == REPORT_GENERATIONS_MAX) break;
                found = &generations[generation_count++];
                memset(found, 0, sizeof(*found));
                found->generation = event->a;
                found->first_ns = event->time_ns;
            }
            if (found->member_count < REPORT_GROUP_MEMBERS_MAX) {
                found->members[found->member_count] = event->node;
                found->partitions[found->member_count] = event->b;
                found->member_count++;
            }
            break;
        }
        default: break;
        }
    }
    if (joins == 0) return;
    fprintf(out, "## The consumer group\n\nA generation is one assignment of the topic's "
            "partitions to the group's members, made by the group's leader and stored by the "
            "coordinator before any member gets its part. In one generation a partition has "
            "at most one owner; a member that missed a rebalance (paused, cut off) still "
            "believes in its old generation, and the coordinator must refuse its commits "
            "(ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID): that refusal is *fencing*.\n\n"
            "- %" PRIu64 " JoinGroup answers, %u generations assigned.\n"
            "- Offset commits: %" PRIu64 " acknowledged, %" PRIu64 " fenced, %" PRIu64
            " failed otherwise, %" PRIu64 " with an unknown outcome.\n\n", joins,
            generations_total, committed, commit_fenced, commit_failed, commit_unknown);
    if (generation_count > 0) {
        fprintf(out, "| generation | first assigned | members and their partitions |\n"
                "|---|---|---|\n");
    }
    for (u32 g = 0; g < generation_count; g++) {
        const struct report_generation *generation = &generations[g];
        char time[32], cell[1024];
        format_time(generation->first_ns, time, sizeof(time));
        struct text text = {cell, sizeof(cell), 0};
        cell[0] = '\0';
        for (u32 m = 0; m < generation->member_count; m++) {
            char name[SCENARIO_NAME_MAX + 16];
            node_name(scenario, generation->members[m], name, sizeof(name));
            text_add(&text, "%s%s ", m == 0 ? "" : ", ", name);
            describe_partitions(generation->partitions[m], &text);
        }
        fprintf(out, "| %" PRIu64 " | %s | ", generation->generation, time);
        md_cell(out, cell);
        fprintf(out, " |\n");
    }
    if (generations_total > generation_count) {
        fprintf(out, "\n(%u more generations are in history.tsv.)\n", generations_total -
                generation_count);
    }
    u32 fencings = 0;
    for (u32 i = 0; i < history->count; i++) {
        const struct history_event *event = &history->events[i];
        bool fenced = (event->kind == HISTORY_GROUP_REVOKED && event->c != 0) ||
                      (event->kind == HISTORY_GROUP_COMMIT_FAILED && is_fencing_error(event->d));
        if (!fenced) continue;
        if (fencings == 0) fprintf(out, "\nWhen members learnt they were fenced:\n\n");
        if (++fencings > REPORT_FENCINGS_MAX) continue;
        char time[32], name[SCENARIO_NAME_MAX + 16], what[256];
        struct text text = {what, sizeof(what), 0};
        what[0] = '\0';
        format_time(event->time_ns, time, sizeof(time));
        node_name(scenario, event->node, name, sizeof(name));
        if (event->kind == HISTORY_GROUP_REVOKED) {
            describe_payload(history, event, &text);
        } else {
            text_add(&text, "its commit of offset %" PRIu64 " of partition %" PRIu64
                     " for generation %" PRIu64 " is refused: %s", event->c, event->b, event->a,
                     error_name(event->d));
        }
        fprintf(out, "- %s %s: %s\n", time, name, what);
    }
    if (fencings > REPORT_FENCINGS_MAX) {
        fprintf(out, "- ... and %u more (history.tsv has them all).\n",
                fencings - REPORT_FENCINGS_MAX);
    }
    fprintf(out, "\n");
}

static void md_run(FILE *out, const struct scenario *scenario, const struct sim_result *result,
                   const char *program, const char *render_note)
{
    char simulated[32], memory[32], replay[1024];
    report_format_duration(result->simulated_ns, simulated, sizeof(simulated));
    format_bytes(result->peak_memory_bytes, memory, sizeof(memory));
    report_replay_command(program, scenario->path, result->seed, replay, sizeof(replay));
    double wall = result->wall_seconds > 0 ? result->wall_seconds : 1e-9;
    fprintf(out, "## The run\n\n- Seed %" PRIu64 ", %s simulated in %.3f s of wall time (%.1f "
            "simulated seconds per second), %" PRIu64 " events, peak memory %s.\n"
            "- Trace hash `%016" PRIx64 "`: the same seed and binary always give the same "
            "hash.\n\n## Replay\n\nTo run it again, with the full trace of every event:\n\n"
            "```\n%s\n```\n\nFiles here: `report.md` (this page), `history.tsv` (every history "
            "event, one per line), `timeline.dot`%s.\n", result->seed, simulated,
            result->wall_seconds, (double)result->simulated_ns / 1e9 / wall, result->events,
            memory, result->trace_hash, replay, render_note);
}

static void write_report_md(FILE *out, const struct scenario *scenario,
                            const struct sim_result *result, const char *program,
                            bool have_svg, const char *render_note)
{
    u32 failed = 0;
    for (u32 i = 0; i < result->outcome_count; i++) failed += result->outcomes[i].passed ? 0 : 1;
    bool passed = failed == 0 && result->fault_failure[0] == '\0' && result->passed;
    fprintf(out, "# %s, seed %" PRIu64 "\n\n**%s**: %s\n\n## What this scenario teaches\n\n",
            scenario->name, result->seed, passed ? "PASS" : "FAIL",
            passed ? "every check passed." : "at least one promise was broken; see the checks.");
    const char *line = scenario->description;
    while (*line != '\0') {
        size_t length = strcspn(line, "\n");
        fprintf(out, "%.*s\n", (int)length, line);
        line += length + (line[length] == '\n' ? 1 : 0);
    }
    fprintf(out, "\n");
    md_cluster(out, scenario);
    md_schedule(out, scenario);
    md_timeline(out, scenario, &result->history, have_svg);
    struct report_stats stats;
    report_history_stats(&result->history, &stats);
    md_clients(out, &stats);
    md_kafka(out, &result->history);
    md_checks(out, scenario, result);
    md_faults(out, &result->faults);
    md_groups(out, scenario, &result->history);
    md_brokers(out, scenario, result);
    md_run(out, scenario, result, program, render_note);
}

/* ===== Rendering and the folder ===== */

/* Runs `dot -Tsvg` on the timeline. Returns a note for report.md: empty when the SVG exists. */
static void render_svg(const char *folder, char *note, u32 note_size)
{
    char dot_path[1200], svg_path[1200];
    snprintf(dot_path, sizeof(dot_path), "%s/timeline.dot", folder);
    snprintf(svg_path, sizeof(svg_path), "%s/timeline.svg", folder);
    char *const argv[] = {"dot", "-Tsvg", dot_path, "-o", svg_path, NULL};
    pid_t pid = 0;
    int spawned = posix_spawnp(&pid, "dot", NULL, NULL, argv, environ);
    if (spawned != 0) {
        snprintf(note, note_size, " (graphviz `dot` is not available: %s; timeline.svg was "
                 "not drawn)", strerror(spawned));
        return;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            snprintf(note, note_size, " (waiting for dot failed: %s)", strerror(errno));
            return;
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(note, note_size, " (dot failed to draw timeline.svg, status %d)", status);
        return;
    }
    snprintf(note, note_size, " and `timeline.svg` (the timeline, drawn by graphviz)");
}

bool report_write(const char *directory, const struct scenario *scenario,
                  const struct sim_result *result, const char *program, char *path,
                  u32 path_size, char *error, u32 error_size)
{
    ASSERT(directory != NULL && scenario != NULL && result != NULL);
    ASSERT(path != NULL && path_size > 0 && error != NULL && error_size > 0);
    int length = snprintf(path, path_size, "%s/%s-seed%" PRIu64, directory, scenario->name,
                          result->seed);
    if (length < 0 || (u32)length >= path_size) {
        snprintf(error, error_size, "report directory path too long");
        return false;
    }
    if (!make_directories(path, error, error_size)) return false;

    FILE *out = report_open(path, "history.tsv", error, error_size);
    if (out == NULL) return false;
    write_history_tsv(out, scenario, &result->history);
    if (!report_close(out, path, "history.tsv", error, error_size)) return false;

    out = report_open(path, "timeline.dot", error, error_size);
    if (out == NULL) return false;
    write_timeline_dot(out, scenario, &result->history);
    if (!report_close(out, path, "timeline.dot", error, error_size)) return false;

    char note[256] = "";
    render_svg(path, note, sizeof(note));
    bool have_svg = strstr(note, "graphviz)") != NULL;

    out = report_open(path, "report.md", error, error_size);
    if (out == NULL) return false;
    write_report_md(out, scenario, result, program, have_svg, note);
    return report_close(out, path, "report.md", error, error_size);
}
