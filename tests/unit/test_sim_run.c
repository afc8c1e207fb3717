/* test_sim_run.c: sim_run() end to end on small scenarios written inline: a run is a pure
 * function of (scenario, seed), the history carries the simulator's own facts (node starts,
 * faults, heal, run end), TARGET_LEADER hits the node that leads, and a scripted fault that never
 * takes effect fails the run naming its line. Uses the real nodes and clients from impl/. */
#include "test.h"

#include "../../sim/sim.h"

static const char *const scenario_text =
    "name unit\n"
    "datacenter dc1 lan 100us..300us\n"
    "connection-timeout 3s\n"
    "disk-latency 50us..2ms\n"
    "node n1 dc1 voter\n"
    "node n2 dc1 voter\n"
    "node n3 dc1 voter\n"
    "workload quorum-append clients 1 interval 50ms value-size 64 timeout 2s start 1s\n"
    "at 3s isolate leader\n"
    "at 4s heal\n"
    "run 8s\n"
    "heal-at 5s\n"
    "liveness 3s\n"
    "check election-safety\n";

static struct scenario *load(const char *text)
{
    struct scenario *scenario = calloc(1, sizeof(*scenario));
    char error[256];
    if (!scenario_parse("unit.scn", text, scenario, error, sizeof(error))) {
        fprintf(stderr, "  parse: %s\n", error);
        free(scenario);
        return NULL;
    }
    return scenario;
}

static u32 count_kind(const struct history *history, u32 kind)
{
    u32 count = 0;
    for (u32 i = 0; i < history->count; i++) count += history->events[i].kind == kind;
    return count;
}

TEST(same_seed_same_run_other_seed_other_run)
{
    struct scenario *scenario = load(scenario_text);
    REQUIRE(scenario != NULL);
    struct sim_options options = {.seed = 5};
    struct sim_result a, b, c;
    sim_run(scenario, &options, &a);
    sim_run(scenario, &options, &b);
    options.seed = 6;
    sim_run(scenario, &options, &c);
    CHECK_EQ_U64(a.trace_hash, b.trace_hash);
    CHECK_EQ_U64(a.events, b.events);
    CHECK_EQ_U64(a.history.count, b.history.count);
    CHECK(a.history.count == b.history.count &&
          memcmp(a.history.events, b.history.events,
                 sizeof(struct history_event) * a.history.count) == 0);
    CHECK(a.trace_hash != c.trace_hash);
    CHECK_EQ_U64(a.simulated_ns, 8 * NS_PER_S);
    CHECK(a.events > 1000);
    sim_result_free(&a);
    sim_result_free(&b);
    sim_result_free(&c);
    free(scenario);
}

TEST(history_records_starts_faults_heal_and_end)
{
    struct scenario *scenario = load(scenario_text);
    REQUIRE(scenario != NULL);
    struct sim_options options = {.seed = 9};
    struct sim_result result;
    sim_run(scenario, &options, &result);
    const struct history *history = &result.history;
    REQUIRE(history->count > 0);
    CHECK_EQ_U64(count_kind(history, HISTORY_NODE_START), 3); /* Nodes only, not clients. */
    CHECK_EQ_U64(count_kind(history, HISTORY_FAULT), 2);
    CHECK_EQ_U64(count_kind(history, HISTORY_HEALED), 1);
    CHECK_EQ_U64(history->events[history->count - 1].kind, HISTORY_RUN_END);
    for (u32 i = 1; i < history->count; i++) {
        CHECK(history->events[i].time_ns >= history->events[i - 1].time_ns);
    }
    /* The isolated node is the one that last said it led. */
    u64 leader = UINT64_MAX, isolated = UINT64_MAX - 1;
    for (u32 i = 0; i < history->count; i++) {
        const struct history_event *event = &history->events[i];
        if (event->kind == HISTORY_QUORUM_ROLE && event->b == HISTORY_ROLE_LEADER) {
            leader = event->node;
        }
        if (event->kind == HISTORY_FAULT && event->a == HISTORY_FAULT_PARTITION) {
            isolated = event->b;
            break;
        }
    }
    CHECK_EQ_U64(isolated, leader);
    CHECK_EQ_U64(result.faults.fired[FAULT_ISOLATE], 1);
    CHECK_EQ_U64(result.faults.effective[FAULT_ISOLATE], 1); /* Traffic to a leader stalls. */
    CHECK_EQ_U64(result.faults.fired[FAULT_HEAL], 1);
    CHECK(result.faults.messages_dropped > 0);
    CHECK_EQ_U64(result.fault_failure[0], 0);
    CHECK_EQ_U64(result.outcome_count, 1);
    sim_result_free(&result);
    free(scenario);
}

TEST(fault_without_effect_fails_the_run)
{
    const char *text =
        "name unit\n"
        "datacenter dc1 lan 100us..300us\n"
        "node n1 dc1 voter\n"
        "node n2 dc1 voter\n"
        "node n3 dc1 voter\n"
        "at 2s crash n1\n"
        "at 3s crash n1\n"
        "at 4s restart n1\n"
        "run 5s\n"
        "check election-safety\n";
    struct scenario *scenario = load(text);
    REQUIRE(scenario != NULL);
    struct sim_options options = {.seed = 1};
    struct sim_result result;
    int status = sim_run(scenario, &options, &result);
    CHECK_EQ_U64(status, 1);
    CHECK(!result.passed);
    CHECK_EQ_U64(result.faults.fired[FAULT_CRASH], 2);
    CHECK_EQ_U64(result.faults.effective[FAULT_CRASH], 1);
    CHECK_EQ_U64(result.faults.effective[FAULT_RESTART], 1);
    CHECK(strstr(result.fault_failure, "unit.scn:7:") != NULL); /* The second crash's line. */
    sim_result_free(&result);
    free(scenario);
}

static const struct test_case tests[] = {
    {"same_seed_same_run_other_seed_other_run", same_seed_same_run_other_seed_other_run},
    {"history_records_starts_faults_heal_and_end", history_records_starts_faults_heal_and_end},
    {"fault_without_effect_fails_the_run", fault_without_effect_fails_the_run},
};
TEST_MAIN(tests)
