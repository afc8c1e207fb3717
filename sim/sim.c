/* sim.c: sim_run(), one scenario with one seed, from world building to the checkers' verdict.
 *
 * Steps: copy the scenario (and let swarm mode draw its faults from the seed); build a world;
 * add one process per scenario node (a broker over impl/node.h, configured from generated
 * Kafka properties) and one per workload client (impl/quorum/client.h, or the Kafka producers
 * and consumers of impl/kafka_client/ for kafka-produce-consume); run, applying the fault
 * schedule in time order and healing everything at heal_at_ns; record the history through the
 * world's observer; judge it with the scenario's checkers from model/.
 *
 * Fault accounting: each applied fault gets a record that says whether it changed anything.
 * Some faults say so at once (a crash of a live node); others are judged later by a probe: a
 * cut is effective if some traffic stalled on a cut link before the network healed, a pause if
 * the node was held back from some event, a slow disk if some operation was slowed, read errors
 * if some read failed. A scripted fault marked must_take_effect that never took effect fails
 * the run, naming its scenario line.
 *
 * Determinism: wall time and peak memory are measured here and only stored in the result; they
 * never reach the trace or any decision. Tested by tests/unit/test_sim_run.c (determinism, the
 * history's simulator facts, TARGET_LEADER, a fault without effect failing the run) and end to
 * end by build/ksim runs of scenarios/ (tests/run_all.sh compares hashes across build variants). */
#include "sim.h"

#include "../impl/group/group_coordinator.h"
#include "../impl/node.h"
#include "../impl/kafka_client/kafka_client.h"
#include "../impl/quorum/client.h"
#include "world.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define SIM_NODE_PORT_CLIENT 9092u
#define SIM_NODE_PORT_CONTROLLER 9093u
#define SIM_PROPERTIES_MAX (8192u + SCENARIO_PROPERTIES_MAX)

enum sim_probe { SIM_PROBE_NONE, SIM_PROBE_NETWORK, SIM_PROBE_PAUSE, SIM_PROBE_COUNTER };

struct sim_fault_record {
    const struct scenario_fault *fault;
    u32 target; /* Process index, or UINT32_MAX for sets and whole-network faults. */
    enum sim_probe probe;
    const u64 *counter;
    u64 baseline;
    bool decided;
    bool effective;
};

struct sim_node {
    struct node_config config;
};

/* A partition's leader as of the newest metadata record (by place in the metadata log) any node
 * reported applying. */
struct sim_partition_leader {
    u64 topic;
    u32 index;
    u64 offset, record;
    i32 leader;
};

struct sim_run {
    struct scenario *scenario; /* Owned copy (swarm may have added faults). */
    struct world *world;
    struct sim_result *result;
    struct sim_node *nodes;
    struct quorum_client_config *clients;
    struct kafka_client_config *kafka_clients;
    u32 client_count;
    /* Latest quorum role each node reported, to resolve TARGET_LEADER. */
    u32 role[SCENARIO_NODES_MAX];
    u64 role_epoch[SCENARIO_NODES_MAX];
    u64 role_seq[SCENARIO_NODES_MAX];
    u64 observe_seq;
    /* Newest leader of each Kafka partition, to resolve TARGET_PARTITION_LEADER. */
    struct sim_partition_leader *partition_leaders;
    u32 partition_leader_count, partition_leader_capacity;
    /* __consumer_offsets, once a node applied its creation, to resolve
     * TARGET_GROUP_COORDINATOR. */
    bool offsets_topic_known;
    u64 offsets_topic;
    struct sim_fault_record *records;
    u32 record_count;
};

/* What the assertion hook prints: enough to replay the failing run. */
static struct {
    u64 seed;
    const char *path;
    const struct world *world;
} sim_assert_context;

static void sim_assert_printer(void)
{
    u64 now = sim_assert_context.world != NULL ? world_now_ns(sim_assert_context.world) : 0;
    fprintf(stderr, "  seed %" PRIu64 ", virtual time %" PRIu64 ".%09" PRIu64 " s\n",
            sim_assert_context.seed, now / NS_PER_S, now % NS_PER_S);
    fprintf(stderr, "  replay: build/ksim run %s --seed %" PRIu64 "\n",
            sim_assert_context.path != NULL ? sim_assert_context.path : "<scenario>",
            sim_assert_context.seed);
}

/* ===== Processes: broker nodes and workload clients ===== */

static void *sim_node_create(void *factory, struct io *io)
{
    struct sim_node *node = factory;
    return node_create(&node->config, io);
}

static void sim_node_destroy(void *factory, void *process)
{
    (void)factory;
    node_destroy(process);
}

static void *sim_client_create(void *factory, struct io *io)
{
    return quorum_client_create(factory, io);
}

static void sim_client_destroy(void *factory, void *process)
{
    (void)factory;
    quorum_client_destroy(process);
}

static void *sim_kafka_client_create(void *factory, struct io *io)
{
    return kafka_client_create(factory, io);
}

static void sim_kafka_client_destroy(void *factory, void *process)
{
    (void)factory;
    kafka_client_destroy(process);
}

static void sim_text_add(char *text, u32 size, u32 *used, const char *format, ...)
    PRINTF_LIKE(4, 5);

static void sim_text_add(char *text, u32 size, u32 *used, const char *format, ...)
{
    ASSERT(*used < size);
    va_list arguments;
    va_start(arguments, format);
    int written = vsnprintf(text + *used, size - *used, format, arguments);
    va_end(arguments);
    ASSERT(written >= 0);
    ASSERT((u32)written < size - *used); /* The buffer is sized for the largest scenario. */
    *used += (u32)written;
}

/* A consumer group's coordinators: __consumer_offsets as replicated as the workload's topic
 * (the checkers judge a lost group record by that replication; scenario.c refuses an override),
 * few of its partitions (a run's one group needs one), a short wait for a new group's members
 * (Kafka's 3 s would only delay every run), and a minimum session timeout no longer than the
 * members'. The scenario's own property lines come after these and may change all but the
 * first. */
static void sim_group_properties(const struct scenario *scenario, char *text, u32 size,
                                 u32 *used)
{
    const struct scenario_workload *workload = &scenario->workload;
    if (workload->kind != WORKLOAD_KAFKA_PRODUCE_CONSUME || workload->group[0] == '\0') return;
    sim_text_add(text, size, used, "offsets.topic.replication.factor=%u\n",
                 workload->replication_factor);
    sim_text_add(text, size, used, "offsets.topic.num.partitions=4\n");
    sim_text_add(text, size, used, "group.initial.rebalance.delay.ms=500\n");
    u64 session_ms = workload->session_timeout_ns / NS_PER_MS;
    if (session_ms < 6000) {
        sim_text_add(text, size, used, "group.min.session.timeout.ms=%" PRIu64 "\n",
                     session_ms);
    }
}

/* The Kafka properties a user would write for this node (see sim/README.md). */
static void sim_node_properties(const struct scenario *scenario, u32 index, char *text, u32 size)
{
    const struct scenario_node *node = &scenario->nodes[index];
    u32 used = 0;
    sim_text_add(text, size, &used, "node.id=%u\n", node->id);
    sim_text_add(text, size, &used, "process.roles=%s\n",
                 node->voter ? "broker,controller" : "broker");
    sim_text_add(text, size, &used, "controller.quorum.voters=");
    bool first = true;
    for (u32 i = 0; i < scenario->node_count; i++) {
        if (!scenario->nodes[i].voter) continue;
        sim_text_add(text, size, &used, "%s%u@%s:%u", first ? "" : ",", scenario->nodes[i].id,
                     scenario->nodes[i].name, SIM_NODE_PORT_CONTROLLER);
        first = false;
    }
    sim_text_add(text, size, &used, "\nlisteners=PLAINTEXT://%s:%u", node->name,
                 SIM_NODE_PORT_CLIENT);
    /* Kafka refuses a controller listener on a broker-only node, so only voters get one. */
    if (node->voter) {
        sim_text_add(text, size, &used, ",CONTROLLER://%s:%u", node->name,
                     SIM_NODE_PORT_CONTROLLER);
    }
    sim_text_add(text, size, &used, "\ncontroller.listener.names=CONTROLLER\n");
    sim_text_add(text, size, &used, "broker.rack=%s\n",
                 scenario->datacenters[node->datacenter].name);
    sim_text_add(text, size, &used, "log.dirs=/data\n");
    sim_group_properties(scenario, text, size, &used);
    sim_text_add(text, size, &used, "%s", node->properties);
}

/* Parses every node's configuration; on an error, says which node and line in the result. */
static bool sim_configure_nodes(struct sim_run *run)
{
    const struct scenario *scenario = run->scenario;
    run->nodes = calloc(MAX(scenario->node_count, 1u), sizeof(struct sim_node));
    ASSERT(run->nodes != NULL);
    char *text = malloc(SIM_PROPERTIES_MAX);
    ASSERT(text != NULL);
    struct config_diagnostics *diagnostics = malloc(sizeof(*diagnostics));
    ASSERT(diagnostics != NULL);
    bool ok = true;
    for (u32 i = 0; i < scenario->node_count && ok; i++) {
        sim_node_properties(scenario, i, text, SIM_PROPERTIES_MAX);
        memset(diagnostics, 0, sizeof(*diagnostics));
        ok = config_parse(text, (u32)strlen(text), NULL, 0, &run->nodes[i].config, diagnostics);
        if (ok) continue;
        const char *message = "invalid configuration";
        u32 line = 0;
        for (u32 k = 0; k < MIN(diagnostics->count, CONFIG_DIAGNOSTICS_MAX); k++) {
            if (diagnostics->items[k].severity != CONFIG_ERROR) continue;
            message = diagnostics->items[k].message;
            line = diagnostics->items[k].line;
            break;
        }
        snprintf(run->result->fault_failure, sizeof(run->result->fault_failure),
                 "%.120s:%u: node %s: generated properties line %u: %.250s", scenario->path,
                 scenario->nodes[i].line, scenario->nodes[i].name, line, message);
    }
    free(diagnostics);
    free(text);
    return ok;
}

static void sim_add_nodes(struct sim_run *run)
{
    const struct scenario *scenario = run->scenario;
    for (u32 i = 0; i < scenario->node_count; i++) {
        struct world_process_spec spec = {0};
        spec.name = scenario->nodes[i].name;
        spec.datacenter = scenario->nodes[i].datacenter;
        spec.id = scenario->nodes[i].id;
        spec.handler = &node_handler;
        spec.create = sim_node_create;
        spec.destroy = sim_node_destroy;
        spec.factory = &run->nodes[i];
        spec.start_ns = 0;
        u32 index = world_process_add(run->world, &spec);
        ASSERT(index == i); /* Node index i in the scenario is process index i. */
    }
}

/* Kafka producers (p1..) then consumers (c1..), in the first node's datacenter, each knowing
 * the client listeners of the first nodes as its bootstrap list. */
static void sim_add_kafka_clients(struct sim_run *run)
{
    const struct scenario *scenario = run->scenario;
    const struct scenario_workload *workload = &scenario->workload;
    ASSERT(scenario->node_count > 0);
    run->client_count = workload->producer_count + workload->consumer_count;
    run->kafka_clients = calloc(MAX(run->client_count, 1u), sizeof(*run->kafka_clients));
    ASSERT(run->kafka_clients != NULL);
    for (u32 i = 0; i < run->client_count; i++) {
        struct kafka_client_config *config = &run->kafka_clients[i];
        bool producer = i < workload->producer_count;
        bool group = !producer && workload->group[0] != '\0';
        config->role = producer ? KAFKA_CLIENT_PRODUCER
                       : group  ? KAFKA_CLIENT_GROUP_CONSUMER
                                : KAFKA_CLIENT_CONSUMER;
        config->client_id = SIM_CLIENT_ID_BASE + i + 1;
        for (u32 n = 0; n < scenario->node_count && n < KAFKA_CLIENT_BOOTSTRAP_MAX; n++) {
            snprintf(config->bootstrap[n], CONFIG_ENDPOINT_MAX, "%s:%u", scenario->nodes[n].name,
                     SIM_NODE_PORT_CLIENT);
            config->bootstrap_count++;
        }
        config->replication_factor = (i16)workload->replication_factor;
        snprintf(config->topic, sizeof(config->topic), "%s", workload->topic);
        config->partition_count = workload->partition_count;
        config->acks = (i16)workload->acks;
        config->interval_ns = workload->interval_ns;
        config->value_size = workload->value_size;
        config->request_timeout_ns = workload->request_timeout_ns;
        config->stop_ns = workload->stop_ns;
        config->idempotent = workload->idempotent;
        config->retry_unknown = workload->retries || workload->idempotent;
        config->delivery_timeout_ns = workload->delivery_timeout_ns;
        if (group) {
            ASSERT(strlen(workload->group) < sizeof(config->group));
            snprintf(config->group, sizeof(config->group), "%s", workload->group);
            config->assignor = workload->cooperative ? KAFKA_CLIENT_ASSIGNOR_COOPERATIVE_STICKY
                                                     : KAFKA_CLIENT_ASSIGNOR_RANGE;
            config->static_member = workload->static_members;
            config->session_timeout_ns = workload->session_timeout_ns;
            config->rebalance_timeout_ns = workload->rebalance_timeout_ns;
            config->heartbeat_interval_ns = workload->heartbeat_interval_ns;
            config->commit_interval_ns = workload->commit_interval_ns;
        }
        char name[SCENARIO_NAME_MAX];
        scenario_client_name(scenario, i, name, sizeof(name));
        struct world_process_spec spec = {0};
        spec.name = name;
        spec.datacenter = scenario->nodes[0].datacenter;
        spec.id = config->client_id;
        spec.handler = &kafka_client_handler;
        spec.create = sim_kafka_client_create;
        spec.destroy = sim_kafka_client_destroy;
        spec.factory = config;
        spec.start_ns = workload->start_ns;
        world_process_add(run->world, &spec);
    }
}

static void sim_add_clients(struct sim_run *run)
{
    const struct scenario *scenario = run->scenario;
    const struct scenario_workload *workload = &scenario->workload;
    if (workload->kind == WORKLOAD_NONE || workload->client_count == 0) return;
    if (workload->kind == WORKLOAD_KAFKA_PRODUCE_CONSUME) {
        sim_add_kafka_clients(run);
        return;
    }
    ASSERT(workload->kind == WORKLOAD_QUORUM_APPEND);
    ASSERT(scenario->node_count > 0);
    run->client_count = workload->client_count;
    run->clients = calloc(run->client_count, sizeof(*run->clients));
    ASSERT(run->clients != NULL);
    for (u32 i = 0; i < run->client_count; i++) {
        struct quorum_client_config *config = &run->clients[i];
        config->client_id = SIM_CLIENT_ID_BASE + i + 1;
        for (u32 n = 0; n < scenario->node_count && n < CONFIG_VOTERS_MAX; n++) {
            snprintf(config->endpoints[n], CONFIG_ENDPOINT_MAX, "%s:%u", scenario->nodes[n].name,
                     SIM_NODE_PORT_CLIENT);
            config->endpoint_count++;
        }
        config->interval_ns = workload->interval_ns;
        config->value_size = MAX(workload->value_size, 16u);
        config->request_timeout_ns = workload->request_timeout_ns;
        config->operations_max = 0;
        char name[SCENARIO_NAME_MAX];
        scenario_client_name(scenario, i, name, sizeof(name));
        struct world_process_spec spec = {0};
        spec.name = name;
        spec.datacenter = i % scenario->datacenter_count; /* Spread clients over the DCs. */
        spec.id = config->client_id;
        spec.handler = &quorum_client_handler;
        spec.create = sim_client_create;
        spec.destroy = sim_client_destroy;
        spec.factory = config;
        spec.start_ns = workload->start_ns;
        world_process_add(run->world, &spec);
    }
}

/* ===== History and the quorum leader ===== */

static i32 sim_node_index_of_id(const struct scenario *scenario, u32 id)
{
    for (u32 i = 0; i < scenario->node_count; i++) {
        if (scenario->nodes[i].id == id) return (i32)i;
    }
    return -1;
}

static void sim_note_partition_leader(struct sim_run *run, const struct history_event *event,
                                      const u8 *data)
{
    struct history_partition_state state;
    if (event->data_size != sizeof(state) || event->d > UINT32_MAX) return;
    memcpy(&state, data, sizeof(state));
    struct sim_partition_leader *entry = NULL;
    for (u32 i = 0; i < run->partition_leader_count && entry == NULL; i++) {
        struct sim_partition_leader *known = &run->partition_leaders[i];
        if (known->topic == event->c && known->index == (u32)event->d) entry = known;
    }
    if (entry == NULL) {
        if (run->partition_leader_count == run->partition_leader_capacity) {
            u32 capacity = MAX(16u, run->partition_leader_capacity * 2);
            struct sim_partition_leader *grown =
                realloc(run->partition_leaders, capacity * sizeof(*grown));
            ASSERT(grown != NULL);
            run->partition_leaders = grown;
            run->partition_leader_capacity = capacity;
        }
        entry = &run->partition_leaders[run->partition_leader_count++];
        *entry = (struct sim_partition_leader){.topic = event->c, .index = (u32)event->d};
    } else if (event->a < entry->offset ||
               (event->a == entry->offset && event->b <= entry->record)) {
        return; /* Another node applying a record already seen, or an older one. */
    }
    entry->offset = event->a;
    entry->record = event->b;
    entry->leader = state.leader;
}

static void sim_observer(void *context, const struct history_event *event, const u8 *data)
{
    struct sim_run *run = context;
    /* Starts of workload clients are not node restarts; the history records nodes only. */
    bool node = sim_node_index_of_id(run->scenario, event->node) >= 0;
    if (event->kind == HISTORY_NODE_START && !node) return;
    history_append(&run->result->history, event, data, event->data_size);
    run->observe_seq++;
    i32 index = sim_node_index_of_id(run->scenario, event->node);
    if (index < 0) return;
    if (event->kind == HISTORY_METADATA_PARTITION) {
        sim_note_partition_leader(run, event, data);
        return;
    }
    static const char offsets_topic[] = "__consumer_offsets";
    if (event->kind == HISTORY_METADATA_TOPIC && event->data_size == sizeof(offsets_topic) - 1 &&
        memcmp(data, offsets_topic, event->data_size) == 0) {
        run->offsets_topic_known = true;
        run->offsets_topic = event->c;
        return;
    }
    if (event->kind == HISTORY_NODE_START) {
        run->role[index] = HISTORY_ROLE_UNATTACHED; /* A restarted node leads nothing yet. */
        return;
    }
    if (event->kind != HISTORY_QUORUM_ROLE) return;
    run->role[index] = (u32)event->b;
    run->role_epoch[index] = event->a;
    run->role_seq[index] = run->observe_seq;
}

/* Records a simulator fact (fault, heal, run end) in the history. */
static void sim_record(struct sim_run *run, u32 kind, u32 node, u64 a, u64 b, u64 c, u64 d)
{
    struct history_event event = {0};
    event.time_ns = world_now_ns(run->world);
    event.node = node;
    event.kind = kind;
    event.a = a;
    event.b = b;
    event.c = c;
    event.d = d;
    history_append(&run->result->history, &event, NULL, 0);
}

/* The live node that last said it leads, at the highest epoch; -1 if none. */
static i32 sim_leader(const struct sim_run *run)
{
    i32 best = -1;
    for (u32 i = 0; i < run->scenario->node_count; i++) {
        if (!run->world->processes[i]->alive) continue;
        if (run->role[i] != HISTORY_ROLE_LEADER) continue;
        bool better = best < 0 || run->role_epoch[i] > run->role_epoch[best] ||
                      (run->role_epoch[i] == run->role_epoch[best] &&
                       run->role_seq[i] > run->role_seq[best]);
        if (better) best = (i32)i;
    }
    if (best >= 0) ASSERT(run->role[best] == HISTORY_ROLE_LEADER);
    return best;
}

/* The live node leading the most partitions (ties: the lowest index); -1 if none leads any. */
static i32 sim_partition_leader(const struct sim_run *run)
{
    i32 best = -1;
    u32 best_count = 0;
    for (u32 i = 0; i < run->scenario->node_count; i++) {
        if (!run->world->processes[i]->alive) continue;
        u32 count = 0;
        for (u32 p = 0; p < run->partition_leader_count; p++) {
            count += run->partition_leaders[p].leader == (i32)run->scenario->nodes[i].id;
        }
        if (count > best_count) {
            best = (i32)i;
            best_count = count;
        }
    }
    return best;
}

/* The live node leading the group's __consumer_offsets partition (Kafka's
 * abs(groupId.hashCode()) % offsets.topic.num.partitions); -1 if none. */
static i32 sim_group_coordinator(const struct sim_run *run)
{
    const char *group = run->scenario->workload.group;
    if (!run->offsets_topic_known || group[0] == '\0') return -1;
    u32 partitions = run->nodes[0].config.offsets_topic_num_partitions;
    if (partitions == 0) return -1;
    u32 partition = group_partition_of(group, (u32)strlen(group), partitions);
    for (u32 p = 0; p < run->partition_leader_count; p++) {
        const struct sim_partition_leader *known = &run->partition_leaders[p];
        if (known->topic != run->offsets_topic || known->index != partition) continue;
        i32 index = known->leader > 0 ? sim_node_index_of_id(run->scenario, (u32)known->leader)
                                      : -1;
        if (index < 0 || !run->world->processes[index]->alive) return -1;
        return index;
    }
    return -1;
}

static i32 sim_fault_target(struct sim_run *run, const struct scenario_fault *fault)
{
    switch (fault->target) {
    case TARGET_NODE:
        ASSERT(fault->target_node < run->scenario->node_count);
        return (i32)fault->target_node;
    case TARGET_LEADER: return sim_leader(run);
    case TARGET_PARTITION_LEADER: return sim_partition_leader(run);
    case TARGET_RANDOM:
        ASSERT(run->scenario->node_count > 0);
        return (i32)prng_below(&run->world->fault_prng, run->scenario->node_count);
    case TARGET_SETS: return -1;
    case TARGET_GROUP_COORDINATOR: return sim_group_coordinator(run);
    case TARGET_CLIENT:
        ASSERT(run->scenario->node_count + fault->target_node < run->world->process_count);
        return (i32)(run->scenario->node_count + fault->target_node);
    }
    ASSERT(false);
    return -1;
}

static u32 sim_history_fault(enum fault_kind kind)
{
    switch (kind) {
    case FAULT_CRASH: return HISTORY_FAULT_CRASH;
    case FAULT_RESTART: return HISTORY_FAULT_RESTART;
    case FAULT_PAUSE: return HISTORY_FAULT_PAUSE;
    case FAULT_RESUME: return HISTORY_FAULT_RESUME;
    case FAULT_ISOLATE:
    case FAULT_PARTITION:
    case FAULT_CUT_ONE_WAY: return HISTORY_FAULT_PARTITION;
    case FAULT_HEAL: return HISTORY_FAULT_HEAL;
    case FAULT_CLOCK_JUMP:
    case FAULT_CLOCK_DRIFT: return HISTORY_FAULT_CLOCK;
    case FAULT_DISK_CORRUPT: return HISTORY_FAULT_DISK_CORRUPT;
    case FAULT_DISK_READ_ERROR:
    case FAULT_DISK_SLOW: return HISTORY_FAULT_DISK;
    case FAULT_KIND_COUNT: break;
    }
    ASSERT(false);
    return 0;
}

/* ===== Fault accounting ===== */

static void sim_decide(struct sim_run *run, struct sim_fault_record *record, bool effective)
{
    ASSERT(!record->decided);
    record->decided = true;
    record->effective = effective;
    if (effective) run->result->faults.effective[record->fault->kind]++;
}

/* Judges the undecided records with this probe (and target, unless UINT32_MAX: any). */
static void sim_decide_probes(struct sim_run *run, enum sim_probe probe, u32 target)
{
    for (u32 i = 0; i < run->record_count; i++) {
        struct sim_fault_record *record = &run->records[i];
        if (record->decided || record->probe != probe) continue;
        if (target != UINT32_MAX && record->target != target) continue;
        sim_decide(run, record, *record->counter > record->baseline);
    }
}

static struct sim_fault_record *sim_record_new(struct sim_run *run,
                                               const struct scenario_fault *fault, i32 target)
{
    ASSERT(run->record_count < run->scenario->fault_count);
    struct sim_fault_record *record = &run->records[run->record_count++];
    memset(record, 0, sizeof(*record));
    record->fault = fault;
    record->target = target < 0 ? UINT32_MAX : (u32)target;
    run->result->faults.fired[fault->kind]++;
    return record;
}

/* Arms a probe: the fault is effective if *counter grows before the probe is judged. */
static void sim_probe(struct sim_fault_record *record, enum sim_probe probe, const u64 *counter)
{
    record->probe = probe;
    record->counter = counter;
    record->baseline = *counter;
}

/* Applies a fault that names one process; returns whether it changed something at once. */
static bool sim_apply_to_process(struct sim_run *run, struct sim_fault_record *record, u32 target)
{
    struct world *world = run->world;
    struct world_process *process = world->processes[target];
    const struct scenario_fault *fault = record->fault;
    bool changed = false;
    switch (fault->kind) {
    case FAULT_CRASH: changed = world_crash(world, target); break;
    case FAULT_RESTART: changed = world_restart(world, target); break;
    case FAULT_PAUSE:
        changed = world_pause(world, target);
        if (changed) sim_probe(record, SIM_PROBE_PAUSE, &process->deferred_total);
        return changed;
    case FAULT_RESUME:
        changed = world_resume(world, target);
        sim_decide_probes(run, SIM_PROBE_PAUSE, target);
        break;
    case FAULT_ISOLATE:
        changed = world_isolate(world, target);
        if (changed) sim_probe(record, SIM_PROBE_NETWORK, &world->stats.messages_stalled);
        return changed;
    case FAULT_CLOCK_JUMP: changed = world_clock_jump(world, target, fault->amount); break;
    case FAULT_CLOCK_DRIFT: changed = world_clock_drift(world, target, fault->amount); break;
    case FAULT_DISK_CORRUPT:
        changed = world_disk_corrupt(world, target, (u32)MAX(fault->amount, 0)) > 0;
        break;
    case FAULT_DISK_READ_ERROR:
        changed = world_disk_read_errors(world, target, (u32)MAX(fault->amount, 0));
        if (changed) sim_probe(record, SIM_PROBE_COUNTER, &world->stats.read_errors);
        return changed;
    case FAULT_DISK_SLOW:
        changed = world_disk_slow(world, target, (u32)MAX(fault->amount, 1));
        if (changed && fault->amount > 1) {
            sim_probe(record, SIM_PROBE_COUNTER, &process->disk_ops_slowed);
            return changed;
        }
        break;
    default: ASSERT(false);
    }
    sim_decide(run, record, changed);
    return changed;
}

static void sim_apply_fault(struct sim_run *run, const struct scenario_fault *fault)
{
    struct world *world = run->world;
    i32 target = sim_fault_target(run, fault);
    struct sim_fault_record *record = sim_record_new(run, fault, target);
    bool changed = false;
    if (fault->kind == FAULT_HEAL) {
        changed = world_heal_network(world);
        sim_decide_probes(run, SIM_PROBE_NETWORK, UINT32_MAX);
        sim_decide(run, record, changed);
    } else if (fault->kind == FAULT_PARTITION || fault->kind == FAULT_CUT_ONE_WAY) {
        ASSERT(fault->target == TARGET_SETS);
        changed = world_partition(world, &fault->side_a, &fault->side_b,
                                  fault->kind == FAULT_CUT_ONE_WAY);
        if (changed) sim_probe(record, SIM_PROBE_NETWORK, &world->stats.messages_stalled);
        else sim_decide(run, record, false);
    } else if (target < 0) {
        /* No leader to aim at (an election is under way): nothing happens. */
        world_trace(world, TRACE_FAULT, 0, fault->kind, UINT32_MAX, 0, "fault without target");
        sim_decide(run, record, false);
    } else {
        changed = sim_apply_to_process(run, record, (u32)target);
    }
    u64 node = target < 0 ? UINT64_MAX : run->world->processes[target]->id;
    u32 class = sim_history_fault(fault->kind);
    /* A client's crash is no broker's: the broker checkers count crashes by class. */
    if (fault->target == TARGET_CLIENT && class == HISTORY_FAULT_CRASH) {
        class = HISTORY_FAULT_CLIENT_CRASH;
    }
    if (fault->target == TARGET_CLIENT && class == HISTORY_FAULT_RESTART) {
        class = HISTORY_FAULT_CLIENT_RESTART;
    }
    sim_record(run, HISTORY_FAULT, target < 0 ? 0 : (u32)node, class, node, (u64)fault->amount,
               changed);
}

/* heal_at_ns: every fault ends; the liveness phase starts. */
static void sim_heal_all(struct sim_run *run)
{
    struct world *world = run->world;
    world_heal_network(world);
    sim_decide_probes(run, SIM_PROBE_NETWORK, UINT32_MAX);
    for (u32 i = 0; i < world->process_count; i++) {
        struct world_process *process = world->processes[i];
        if (process->paused) {
            world_resume(world, i);
            sim_decide_probes(run, SIM_PROBE_PAUSE, i);
        }
        bool node = i < run->scenario->node_count;
        /* A client that has not started yet is not down: its own start is still to come. */
        if (!process->alive && (node || process->starts > 0) && world_restart(world, i) &&
            !node) {
            /* Nodes say they started (NODE_START); a client's start is not in the history. */
            sim_record(run, HISTORY_FAULT, process->id, HISTORY_FAULT_CLIENT_RESTART,
                       process->id, 0, 1);
        }
        if (process->clock.drift_ppm != 0) world_clock_drift(world, i, 0);
        if (process->disk_slow_multiplier != 1) world_disk_slow(world, i, 1);
        process->read_errors_pending = 0;
    }
    ASSERT(world->cut_count == 0);
    sim_record(run, HISTORY_HEALED, 0, run->scenario->liveness_bound_ns, 0, 0, 0);
}

/* ===== The run ===== */

/* Fault indexes sorted by time, ties in file order (a stable insertion sort). */
static u32 *sim_fault_order(const struct scenario *scenario)
{
    u32 *order = malloc(sizeof(u32) * MAX(scenario->fault_count, 1u));
    ASSERT(order != NULL);
    for (u32 i = 0; i < scenario->fault_count; i++) {
        u32 j = i;
        while (j > 0 && scenario->faults[order[j - 1]].at_ns > scenario->faults[i].at_ns) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    return order;
}

static void sim_run_schedule(struct sim_run *run)
{
    const struct scenario *scenario = run->scenario;
    u32 *order = sim_fault_order(scenario);
    u32 next = 0;
    bool healed = scenario->heal_at_ns == 0 || scenario->heal_at_ns > scenario->run_ns;
    /* Bounded: every round applies a fault, heals, or ends the run. */
    for (u32 round = 0; round <= scenario->fault_count + 1; round++) {
        u64 target_ns = scenario->run_ns;
        bool fault_due = next < scenario->fault_count &&
                         scenario->faults[order[next]].at_ns <= target_ns;
        if (fault_due) target_ns = scenario->faults[order[next]].at_ns;
        if (!healed && scenario->heal_at_ns < target_ns) {
            fault_due = false;
            target_ns = scenario->heal_at_ns;
        }
        world_run_until(run->world, target_ns);
        if (fault_due) {
            sim_apply_fault(run, &scenario->faults[order[next++]]);
        } else if (!healed && scenario->heal_at_ns == target_ns) {
            sim_heal_all(run);
            healed = true;
        } else {
            break;
        }
    }
    ASSERT(world_now_ns(run->world) == scenario->run_ns);
    free(order);
}

/* Undecided probes are judged at the end; a required fault that did nothing fails the run. */
static void sim_faults_finish(struct sim_run *run)
{
    sim_decide_probes(run, SIM_PROBE_NETWORK, UINT32_MAX);
    sim_decide_probes(run, SIM_PROBE_PAUSE, UINT32_MAX);
    sim_decide_probes(run, SIM_PROBE_COUNTER, UINT32_MAX);
    struct world_stats stats;
    struct disk_stats disk;
    world_fault_counters(run->world, &stats, &disk);
    struct sim_fault_stats *faults = &run->result->faults;
    faults->messages_dropped = stats.messages_stalled;
    faults->connections_broken = stats.connections_broken;
    faults->read_errors = stats.read_errors;
    faults->bytes_lost_to_crash = disk.bytes_lost_to_crash;
    faults->writes_torn = disk.writes_torn;
    faults->sectors_corrupted = disk.sectors_corrupted;
    for (u32 i = 0; i < run->record_count; i++) {
        const struct sim_fault_record *record = &run->records[i];
        ASSERT(record->decided);
        if (record->effective || !record->fault->must_take_effect) continue;
        if (run->result->fault_failure[0] != '\0') break;
        snprintf(run->result->fault_failure, sizeof(run->result->fault_failure),
                 "%.300s:%u: fault '%s' at %" PRIu64 " ms never took effect", run->scenario->path,
                 record->fault->line, fault_kind_name(record->fault->kind),
                 record->fault->at_ns / NS_PER_MS);
    }
    /* A required fault that never fired (beyond run_ns, say) did not take effect either. */
    u32 fired = 0;
    for (u32 i = 0; i < run->scenario->fault_count; i++) {
        const struct scenario_fault *fault = &run->scenario->faults[i];
        if (fault->at_ns <= run->scenario->run_ns) fired++;
        else if (fault->must_take_effect && run->result->fault_failure[0] == '\0') {
            snprintf(run->result->fault_failure, sizeof(run->result->fault_failure),
                     "%.300s:%u: fault '%s' is scheduled after the end of the run",
                     run->scenario->path, fault->line, fault_kind_name(fault->kind));
        }
    }
    ASSERT(fired == run->record_count);
}

static void sim_checks(struct sim_run *run)
{
    const struct scenario *scenario = run->scenario;
    struct sim_result *result = run->result;
    struct check_params params = {0};
    for (u32 i = 0; i < scenario->node_count; i++) params.voter_count += scenario->nodes[i].voter;
    params.liveness_bound_ns = scenario->liveness_bound_ns;
    params.unavailable_from_ns = scenario->unavailable_from_ns;
    params.unavailable_to_ns = scenario->unavailable_to_ns;
    params.available_from_ns = scenario->available_from_ns;
    params.available_to_ns = scenario->available_to_ns;
    for (u32 i = 0; i < scenario->check_count && i < SIM_OUTCOMES_MAX; i++) {
        struct check_outcome *outcome = &result->outcomes[result->outcome_count];
        memset(outcome, 0, sizeof(*outcome));
        const struct checker *checker = model_checker_find(scenario->checks[i]);
        if (checker == NULL) {
            result->outcome_names[result->outcome_count++] = "unknown-check";
            snprintf(outcome->message, sizeof(outcome->message), "no checker named '%s'",
                     scenario->checks[i]);
            continue;
        }
        checker->check(&result->history, &params, outcome);
        result->outcome_names[result->outcome_count++] = checker->name;
    }
}

static double sim_wall_seconds(void)
{
    struct timespec now;
    int rc = clock_gettime(CLOCK_MONOTONIC, &now);
    ASSERT(rc == 0);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static u64 sim_peak_memory_bytes(void)
{
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
    return (u64)usage.ru_maxrss * 1024; /* Linux reports kilobytes. */
}

/* Builds the world and its processes; false (with a message) on a configuration error. */
static bool sim_build(struct sim_run *run, const struct sim_options *options)
{
    run->world = world_create(run->scenario, options->seed);
    sim_assert_context.world = run->world;
    run->world->trace.verbose = options->verbose;
    if (options->trace_path != NULL && !trace_open_file(&run->world->trace, options->trace_path)) {
        fprintf(stderr, "ksim: cannot write trace %s; running without it\n", options->trace_path);
    }
    world_set_observer(run->world, sim_observer, run);
    /* Swarm runs also let the code's buggify sites fire, in half of the seeds. */
    if (run->scenario->swarm.enabled) {
        world_set_buggify(run->world, prng_chance(&run->world->fault_prng, 1, 2));
    }
    run->records = calloc(MAX(run->scenario->fault_count, 1u), sizeof(*run->records));
    ASSERT(run->records != NULL);
    if (!sim_configure_nodes(run)) return false;
    sim_add_nodes(run);
    sim_add_clients(run);
    /* The Kafka checkers judge losses against each broker's durability settings. */
    for (u32 i = 0; i < run->scenario->node_count; i++) {
        if (run->scenario->workload.kind != WORKLOAD_KAFKA_PRODUCE_CONSUME) break;
        sim_record(run, HISTORY_KAFKA_BROKER_CONFIG, run->scenario->nodes[i].id,
                   run->nodes[i].config.log_flush_interval_messages,
                   run->scenario->workload.replication_factor,
                   run->nodes[i].config.unclean_leader_election_enable,
                   run->nodes[i].config.min_insync_replicas);
    }
    return true;
}

/* Copies each node's broker metrics at the end of the run: read only, after the last event,
 * so the run and its trace hash are the same whether anyone reads them. */
static void sim_collect_metrics(struct sim_run *run)
{
    struct sim_result *result = run->result;
    u32 count = run->scenario->node_count;
    result->node_metrics = calloc(MAX(count, 1u), sizeof(*result->node_metrics));
    ASSERT(result->node_metrics != NULL);
    result->node_metrics_count = count;
    for (u32 i = 0; i < count; i++) {
        const struct world_process *process = run->world->processes[i];
        if (!process->alive || process->instance == NULL) continue;
        result->node_metrics[i].up = true;
        result->node_metrics[i].metrics = *broker_metrics_get(node_broker(process->instance));
    }
}

static void sim_teardown(struct sim_run *run)
{
    sim_assert_context.world = NULL;
    if (run->world != NULL) {
        if (!trace_close(&run->world->trace)) fprintf(stderr, "ksim: trace write failed\n");
        world_destroy(run->world);
    }
    free(run->records);
    free(run->clients);
    free(run->kafka_clients);
    free(run->partition_leaders);
    free(run->nodes);
    free(run->scenario);
}

int sim_run(const struct scenario *scenario, const struct sim_options *options,
            struct sim_result *result)
{
    double wall_start = sim_wall_seconds();
    memset(result, 0, sizeof(*result));
    history_init(&result->history);
    result->seed = options->seed;
    struct sim_run run = {0};
    run.result = result;
    run.scenario = malloc(sizeof(*run.scenario));
    ASSERT(run.scenario != NULL);
    memcpy(run.scenario, scenario, sizeof(*scenario));
    if (run.scenario->swarm.enabled) swarm_expand(run.scenario, options->seed);
    ASSERT(run.scenario->fault_count <= SCENARIO_FAULTS_MAX);
    sim_assert_context.seed = options->seed;
    sim_assert_context.path = scenario->path;
    assert_set_context_printer(sim_assert_printer);

    if (sim_build(&run, options)) {
        sim_run_schedule(&run);
        sim_record(&run, HISTORY_RUN_END, 0, 0, 0, 0, 0);
        world_trace(run.world, TRACE_FAULT, 0, 0, 0, 0, "run end");
        sim_faults_finish(&run);
        result->trace_hash = run.world->trace.hash;
        result->events = run.world->sched.popped;
        result->simulated_ns = world_now_ns(run.world);
        sim_checks(&run);
        sim_collect_metrics(&run);
    }
    result->passed = result->fault_failure[0] == '\0';
    for (u32 i = 0; i < result->outcome_count; i++) {
        if (!result->outcomes[i].passed) result->passed = false;
    }
    sim_teardown(&run);
    result->wall_seconds = sim_wall_seconds() - wall_start;
    result->peak_memory_bytes = sim_peak_memory_bytes();
    return result->passed ? 0 : 1;
}

void sim_result_free(struct sim_result *result)
{
    history_free(&result->history);
    free(result->node_metrics);
    result->node_metrics = NULL;
    result->node_metrics_count = 0;
}
