/* test_model_controller.c: crafted histories for the controller checkers
 * (model/controller_checkers.c). A good history of three nodes applying the same metadata log
 * passes all four; each checker is shown failing on a history that breaks its rule (and the
 * neighbouring rules that must not fire, passing). */
#include "test.h"

#include "../../model/history.h"

#define MS (1000ull * 1000ull)
#define NODES 3u
#define TOPIC 0x70c1c0ull
#define NONE (-1)
#define REGISTERED_FENCED (HISTORY_BROKER_REGISTERED | HISTORY_BROKER_FENCED)
#define UNFENCED HISTORY_BROKER_REGISTERED

static struct history history;
static u64 clock_ns;
static u64 liveness_bound_ns;

static void ev_data(u32 node, u32 kind, u64 a, u64 b, u64 c, u64 d, const void *data, u32 size)
{
    clock_ns += MS;
    struct history_event event = {.time_ns = clock_ns, .node = node, .kind = kind,
                                  .a = a, .b = b, .c = c, .d = d, .data_size = size};
    history_append(&history, &event, data, size);
}

static void ev(u32 node, u32 kind, u64 a, u64 b, u64 c, u64 d)
{
    ev_data(node, kind, a, b, c, d, NULL, 0);
}

static bool run(const char *name, struct check_outcome *outcome)
{
    const struct checker *checker = model_checker_find(name);
    ASSERT(checker != NULL);
    struct check_params params = {.voter_count = NODES, .liveness_bound_ns = liveness_bound_ns};
    memset(outcome, 0, sizeof(*outcome));
    checker->check(&history, &params, outcome);
    if (getenv("SHOW") != NULL) printf("  %s: %s\n", name, outcome->message);
    return outcome->passed;
}

/* ===== One metadata entry, applied by the nodes that are told to ===== */

enum record_kind { R_BROKER, R_PARTITION, R_TOPIC, R_UNCLEAN };

struct record {
    enum record_kind kind;
    i32 id;           /* Broker id, or partition index. */
    u32 broker_state; /* R_BROKER */
    struct history_partition_state state;
};

static struct record entry_records[16];
static u32 entry_count;

static u64 mask(i32 a, i32 b, i32 c)
{
    u64 bits = 0;
    if (a >= 0) bits |= 1ull << a;
    if (b >= 0) bits |= 1ull << b;
    if (c >= 0) bits |= 1ull << c;
    return bits;
}

static void add_broker(i32 id, u32 state)
{
    entry_records[entry_count++] = (struct record){.kind = R_BROKER, .id = id,
                                                   .broker_state = state};
}

static void add_partition(i32 index, i32 leader, i32 leader_epoch, i32 partition_epoch, u64 isr,
                          u64 replicas)
{
    entry_records[entry_count++] = (struct record){
        .kind = R_PARTITION, .id = index,
        .state = {.leader = leader, .leader_epoch = leader_epoch,
                  .partition_epoch = partition_epoch, .isr = isr, .replicas = replicas}};
}

/* Node applies the staged entry at offset: APPLIED first, then its records (as node.c does). */
static void apply_on(u32 node, u64 offset)
{
    ev(node, HISTORY_QUORUM_APPLIED, offset, 0, 0, 0);
    for (u32 r = 0; r < entry_count; r++) {
        const struct record *record = &entry_records[r];
        switch (record->kind) {
        case R_BROKER:
            ev(node, HISTORY_METADATA_BROKER, offset, r, (u64)record->id, record->broker_state);
            break;
        case R_PARTITION:
            ev_data(node, HISTORY_METADATA_PARTITION, offset, r, TOPIC, (u64)record->id,
                    &record->state, sizeof(record->state));
            break;
        case R_TOPIC:
            ev_data(node, HISTORY_METADATA_TOPIC, offset, r, TOPIC, 0, "orders", 6);
            break;
        case R_UNCLEAN: ev(node, HISTORY_METADATA_UNCLEAN, offset, r, 1, 2); break;
        }
    }
}

static void apply_all(u64 offset)
{
    for (u32 node = 1; node <= NODES; node++) apply_on(node, offset);
    entry_count = 0;
}

/* Three nodes start; brokers 1..3 register (fenced), are unfenced, and a topic of two
 * partitions is created with replicas {1,2} and {2,3}. Offsets 0..2. */
static void start_cluster(void)
{
    history_free(&history);
    history_init(&history);
    clock_ns = 0;
    liveness_bound_ns = 0;
    for (u32 node = 1; node <= NODES; node++) ev(node, HISTORY_NODE_START, 0, 0, 0, 0);
    for (i32 id = 1; id <= 3; id++) add_broker(id, REGISTERED_FENCED);
    apply_all(0);
    for (i32 id = 1; id <= 3; id++) add_broker(id, UNFENCED);
    apply_all(1);
    entry_records[entry_count++] = (struct record){.kind = R_TOPIC};
    add_partition(0, 1, 0, 0, mask(1, 2, NONE), mask(1, 2, NONE));
    add_partition(1, 2, 0, 0, mask(2, 3, NONE), mask(2, 3, NONE));
    apply_all(2);
}

static void heal(u64 bound_ms)
{
    liveness_bound_ns = bound_ms * MS;
    ev(0, HISTORY_HEALED, liveness_bound_ns, 0, 0, 0);
}

static const char *const all_checkers[] = {"controller-leader-epochs",
                                           "controller-clean-election",
                                           "controller-no-fenced-leader",
                                           "controller-converges"};

TEST(good_history_passes_every_checker)
{
    start_cluster();
    heal(5000);
    /* Broker 1's session expires: fenced, and partition 0 moves to 2 in the same decision. */
    add_broker(1, REGISTERED_FENCED);
    add_partition(0, 2, 1, 1, mask(2, NONE, NONE), mask(1, 2, NONE));
    apply_all(3);
    /* It comes back: unfenced, rejoins the ISR, and the preferred replica leads again. */
    add_broker(1, UNFENCED);
    add_partition(0, 2, 1, 2, mask(2, 1, NONE), mask(1, 2, NONE));
    apply_all(4);
    add_partition(0, 1, 2, 3, mask(2, 1, NONE), mask(1, 2, NONE));
    apply_all(5);
    struct check_outcome outcome;
    for (u32 i = 0; i < ARRAY_LEN(all_checkers); i++) CHECK(run(all_checkers[i], &outcome));
    run("controller-clean-election", &outcome);
    CHECK(strstr(outcome.message, "4 elections, 2 with the state before known") != NULL);
    history_free(&history);
}

TEST(a_leader_change_within_one_leader_epoch_is_caught)
{
    start_cluster();
    add_partition(0, 2, 0, 1, mask(1, 2, NONE), mask(1, 2, NONE)); /* Epoch not bumped. */
    apply_all(3);
    struct check_outcome outcome;
    CHECK(!run("controller-leader-epochs", &outcome));
    CHECK(strstr(outcome.message, "within one leader epoch") != NULL);
    history_free(&history);
}

TEST(epochs_going_back_are_caught)
{
    start_cluster();
    add_partition(0, 1, 3, 3, mask(1, 2, NONE), mask(1, 2, NONE));
    apply_all(3);
    add_partition(0, 1, 2, 4, mask(1, 2, NONE), mask(1, 2, NONE)); /* Leader epoch back. */
    apply_all(4);
    struct check_outcome outcome;
    CHECK(!run("controller-leader-epochs", &outcome));
    CHECK(strstr(outcome.message, "went backwards") != NULL);
    start_cluster();
    add_partition(0, 1, 1, 0, mask(1, 2, NONE), mask(1, 2, NONE)); /* Partition epoch kept. */
    apply_all(3);
    CHECK(!run("controller-leader-epochs", &outcome));
    CHECK(strstr(outcome.message, "did not grow") != NULL);
    history_free(&history);
}

TEST(nodes_that_apply_one_record_differently_are_caught)
{
    start_cluster();
    add_partition(0, 2, 1, 1, mask(1, 2, NONE), mask(1, 2, NONE));
    apply_on(1, 3);
    apply_on(2, 3);
    entry_records[0].state.leader = 1; /* Node 3 builds another image from the same log. */
    apply_on(3, 3);
    entry_count = 0;
    struct check_outcome outcome;
    CHECK(!run("controller-leader-epochs", &outcome));
    CHECK(strstr(outcome.message, "same record") != NULL);
    history_free(&history);
}

TEST(a_leader_outside_its_isr_is_caught)
{
    start_cluster();
    add_partition(1, 2, 1, 1, mask(3, NONE, NONE), mask(2, 3, NONE));
    apply_all(3);
    struct check_outcome outcome;
    CHECK(!run("controller-leader-epochs", &outcome));
    CHECK(strstr(outcome.message, "partition orders-1") != NULL);
    history_free(&history);
}

TEST(applying_the_log_twice_without_a_restart_is_caught_and_after_one_is_fine)
{
    start_cluster();
    add_broker(1, UNFENCED);
    apply_on(2, 1); /* Node 2 applies offset 1 again in the same life. */
    entry_count = 0;
    struct check_outcome outcome;
    CHECK(!run("controller-leader-epochs", &outcome));
    start_cluster();
    ev(2, HISTORY_NODE_START, 0, 0, 0, 0); /* A restart: the node applies the log again. */
    for (i32 id = 1; id <= 3; id++) add_broker(id, REGISTERED_FENCED);
    apply_on(2, 0);
    entry_count = 0;
    CHECK(run("controller-leader-epochs", &outcome));
    history_free(&history);
}

/* Partition 1 (ISR {2,3}) loses its leader; broker 1, not in the ISR, is elected. */
static void unclean_election(void)
{
    start_cluster();
    add_broker(2, REGISTERED_FENCED);
    add_partition(1, 1, 1, 1, mask(1, NONE, NONE), mask(2, 3, 1));
    apply_all(3);
}

TEST(an_election_outside_the_isr_is_caught_unless_unclean_election_is_enabled)
{
    unclean_election();
    struct check_outcome outcome;
    CHECK(!run("controller-clean-election", &outcome));
    CHECK(strstr(outcome.message, "did not hold it") != NULL);
    CHECK(run("controller-leader-epochs", &outcome)); /* Epochs and ISR are fine. */
    /* Enabled in the brokers' configuration. */
    unclean_election();
    ev(1, HISTORY_KAFKA_BROKER_CONFIG, 1, 1, 1, 0);
    CHECK(run("controller-clean-election", &outcome));
    /* Enabled by a config record in the log before the election. */
    start_cluster();
    entry_records[entry_count++] = (struct record){.kind = R_UNCLEAN};
    apply_all(3);
    add_broker(2, REGISTERED_FENCED);
    add_partition(1, 1, 1, 1, mask(1, NONE, NONE), mask(2, 3, 1));
    apply_all(4);
    CHECK(run("controller-clean-election", &outcome));
    history_free(&history);
}

TEST(an_election_after_unreported_changes_is_not_judged)
{
    start_cluster();
    /* Partition epochs 1..3 happened inside a snapshot nobody applied record by record. */
    add_partition(1, 1, 4, 4, mask(1, NONE, NONE), mask(2, 3, 1));
    apply_all(7);
    struct check_outcome outcome;
    CHECK(run("controller-clean-election", &outcome));
    CHECK(strstr(outcome.message, "0 with the state before known") != NULL);
    history_free(&history);
}

TEST(electing_a_fenced_broker_is_caught)
{
    start_cluster();
    add_broker(1, REGISTERED_FENCED);
    add_partition(0, 2, 1, 1, mask(1, 2, NONE), mask(1, 2, NONE));
    apply_all(3);
    add_partition(0, 1, 2, 2, mask(1, 2, NONE), mask(1, 2, NONE)); /* 1 is fenced. */
    apply_all(4);
    struct check_outcome outcome;
    CHECK(!run("controller-no-fenced-leader", &outcome));
    CHECK(strstr(outcome.message, "elected broker 1") != NULL);
    CHECK(run("controller-clean-election", &outcome));
    history_free(&history);
}

TEST(a_fenced_broker_that_keeps_its_leadership_is_caught)
{
    start_cluster();
    add_broker(1, REGISTERED_FENCED); /* Partition 0 is left led by broker 1. */
    apply_all(3);
    struct check_outcome outcome;
    CHECK(!run("controller-no-fenced-leader", &outcome));
    CHECK(strstr(outcome.message, "still leads partition") != NULL);
    /* Leaderless (the ISR's last member stays) is what Kafka does, and passes. */
    start_cluster();
    add_broker(1, REGISTERED_FENCED);
    add_partition(0, NONE, 1, 1, mask(1, NONE, NONE), mask(1, 2, NONE));
    apply_all(3);
    CHECK(run("controller-no-fenced-leader", &outcome));
    CHECK(run("controller-leader-epochs", &outcome));
    history_free(&history);
}

TEST(a_cluster_that_does_not_settle_after_the_heal_is_caught)
{
    struct check_outcome outcome;
    /* Broker 3 stays fenced. */
    start_cluster();
    add_broker(3, REGISTERED_FENCED);
    add_partition(1, 2, 0, 1, mask(2, NONE, NONE), mask(2, 3, NONE));
    apply_all(3);
    heal(1000);
    clock_ns += 2000 * MS;
    ev(0, HISTORY_RUN_END, 0, 0, 0, 0);
    CHECK(!run("controller-converges", &outcome));
    CHECK(strstr(outcome.message, "live broker 3 was fenced") != NULL);
    /* A partition with live replicas but no leader. */
    start_cluster();
    add_partition(1, NONE, 1, 1, mask(2, NONE, NONE), mask(2, 3, NONE));
    apply_all(3);
    heal(1000);
    CHECK(!run("controller-converges", &outcome));
    CHECK(strstr(outcome.message, "no leader") != NULL);
    /* Settled in time, but node 3 restarted and never applied the log again. */
    start_cluster();
    heal(1000);
    ev(3, HISTORY_NODE_START, 0, 0, 0, 0);
    CHECK(!run("controller-converges", &outcome));
    CHECK(strstr(outcome.message, "at the end of the run") != NULL);
    /* The same node recovers a snapshot holding offsets below 3: settled again. */
    ev(3, HISTORY_QUORUM_SNAPSHOT, 3, 1, 0, HISTORY_SNAPSHOT_RECOVERED);
    CHECK(run("controller-converges", &outcome));
    /* A crashed broker is not expected to be registered: only live ones are. */
    start_cluster();
    ev(0, HISTORY_FAULT, HISTORY_FAULT_CRASH, 3, 0, 1);
    add_broker(3, REGISTERED_FENCED);
    add_partition(1, 2, 0, 1, mask(2, NONE, NONE), mask(2, 3, NONE));
    apply_on(1, 3);
    apply_on(2, 3);
    entry_count = 0;
    heal(1000);
    CHECK(run("controller-converges", &outcome));
    history_free(&history);
}

TEST(settling_late_or_never_healing)
{
    struct check_outcome outcome;
    /* Nothing healed: nothing promised. */
    start_cluster();
    CHECK(run("controller-converges", &outcome));
    CHECK(strstr(outcome.message, "nothing was promised") != NULL);
    /* Broker 3 is unfenced only after the bound. */
    start_cluster();
    add_broker(3, REGISTERED_FENCED);
    apply_all(3);
    heal(100);
    clock_ns += 500 * MS;
    add_broker(3, UNFENCED);
    apply_all(4);
    CHECK(!run("controller-converges", &outcome));
    CHECK(strstr(outcome.message, "never settled") != NULL);
    /* Within the bound it passes. */
    liveness_bound_ns = 1000 * MS;
    CHECK(run("controller-converges", &outcome));
    history_free(&history);
}

static const struct test_case tests[] = {
    {"good_history_passes_every_checker", good_history_passes_every_checker},
    {"a_leader_change_within_one_leader_epoch_is_caught",
     a_leader_change_within_one_leader_epoch_is_caught},
    {"epochs_going_back_are_caught", epochs_going_back_are_caught},
    {"nodes_that_apply_one_record_differently_are_caught",
     nodes_that_apply_one_record_differently_are_caught},
    {"a_leader_outside_its_isr_is_caught", a_leader_outside_its_isr_is_caught},
    {"applying_the_log_twice_without_a_restart_is_caught_and_after_one_is_fine",
     applying_the_log_twice_without_a_restart_is_caught_and_after_one_is_fine},
    {"an_election_outside_the_isr_is_caught_unless_unclean_election_is_enabled",
     an_election_outside_the_isr_is_caught_unless_unclean_election_is_enabled},
    {"an_election_after_unreported_changes_is_not_judged",
     an_election_after_unreported_changes_is_not_judged},
    {"electing_a_fenced_broker_is_caught", electing_a_fenced_broker_is_caught},
    {"a_fenced_broker_that_keeps_its_leadership_is_caught",
     a_fenced_broker_that_keeps_its_leadership_is_caught},
    {"a_cluster_that_does_not_settle_after_the_heal_is_caught",
     a_cluster_that_does_not_settle_after_the_heal_is_caught},
    {"settling_late_or_never_healing", settling_late_or_never_healing},
};
TEST_MAIN(tests)
