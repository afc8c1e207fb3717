/* test_scenario.c: the scenario language (sim/scenario.c) and swarm mode (sim/swarm.c).
 *
 * Every file in scenarios/ must parse (tests run from the repository root); each kind of
 * mistake must be reported at the right line and column; durations, ranges and units convert
 * exactly; swarm_expand is a pure function of (scenario, seed) whose drawn faults stay inside
 * the fault phase and come with their recoveries. The report code (sim/report.c) is exercised
 * on a made-up history: the summary's last line and the files of a report folder. */
#include "test.h"

#include "../../sim/report.h"
#include "../../sim/scenario.h"

#include <dirent.h>
#include <unistd.h>

static struct scenario *scenario_new(void)
{
    struct scenario *scenario = calloc(1, sizeof(*scenario));
    ASSERT(scenario != NULL);
    return scenario;
}

static const char base_text[] = "name t\n"
                                "datacenter dc1\n"
                                "node n1 dc1 voter\n"
                                "node n2 dc1 voter\n"
                                "node n3 dc1 voter\n"
                                "run 30s\n"
                                "check election-safety\n";

/* Parses base_text followed by extra; returns whether it parsed; error gets the message. */
static bool parse_with(const char *extra, struct scenario *scenario, char *error, u32 size)
{
    static char text[8192];
    snprintf(text, sizeof(text), "%s%s", base_text, extra);
    return scenario_parse("t.scn", text, scenario, error, size);
}

/* Expects extra (appended to the 7-line base) to fail at line:column with a message
 * containing fragment. */
static bool parse_fails_at(const char *extra, u32 line, u32 column, const char *fragment)
{
    struct scenario *scenario = scenario_new();
    char error[512];
    bool parsed = parse_with(extra, scenario, error, sizeof(error));
    free(scenario);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "t.scn:%u:%u: ", line, column);
    bool ok = !parsed && strncmp(error, prefix, strlen(prefix)) == 0 &&
              strstr(error, fragment) != NULL;
    if (!ok) {
        fprintf(stderr, "  want %s...%s, got: %s\n", prefix, fragment,
                parsed ? "(parsed)" : error);
    }
    return ok;
}

TEST(test_every_scenario_file_parses)
{
    DIR *dir = opendir("scenarios");
    REQUIRE(dir != NULL);
    u32 parsed = 0;
    struct scenario *scenario = scenario_new();
    for (struct dirent *entry = readdir(dir); entry != NULL; entry = readdir(dir)) {
        size_t length = strlen(entry->d_name);
        if (length < 5 || strcmp(entry->d_name + length - 4, ".scn") != 0) continue;
        char path[512], error[512];
        snprintf(path, sizeof(path), "scenarios/%s", entry->d_name);
        bool ok = scenario_load(path, scenario, error, sizeof(error));
        if (!ok) fprintf(stderr, "  %s\n", error);
        CHECK(ok);
        if (!ok) continue;
        CHECK(scenario->description[0] != '\0');
        CHECK(scenario->check_count > 0);
        /* The file's name is the scenario's name, so reports and commands line up. */
        CHECK(strncmp(entry->d_name, scenario->name, length - 4) == 0);
        parsed++;
    }
    closedir(dir);
    free(scenario);
    CHECK(parsed >= 9);
}

/* The example in scenarios/README.md is a real scenario: it must parse as written. */
TEST(test_readme_example_parses)
{
    FILE *file = fopen("scenarios/README.md", "rb");
    REQUIRE(file != NULL);
    static char readme[65536];
    size_t size = fread(readme, 1, sizeof(readme) - 1, file);
    fclose(file);
    readme[size] = '\0';
    char *example = strstr(readme, "## An example");
    REQUIRE(example != NULL);
    example = strstr(example, "```\n");
    REQUIRE(example != NULL);
    example += 4;
    char *end = strstr(example, "```");
    REQUIRE(end != NULL);
    *end = '\0';
    struct scenario *scenario = scenario_new();
    char error[512];
    bool ok = scenario_parse("README.md", example, scenario, error, sizeof(error));
    if (!ok) fprintf(stderr, "  %s\n", error);
    CHECK(ok);
    CHECK(strcmp(scenario->name, "example-crash-leader") == 0);
    free(scenario);
}

TEST(test_default_scenario_contents)
{
    struct scenario *scenario = scenario_new();
    char error[512];
    bool ok = scenario_load("scenarios/quorum-partition-leader.scn", scenario, error,
                            sizeof(error));
    if (!ok) fprintf(stderr, "  %s\n", error);
    REQUIRE(ok);
    CHECK(strcmp(scenario->name, "quorum-partition-leader") == 0);
    CHECK_EQ_U64(scenario->node_count, 5);
    CHECK_EQ_U64(scenario->nodes[0].id, 1);
    CHECK_EQ_U64(scenario->nodes[4].id, 5);
    CHECK(scenario->nodes[2].voter);
    CHECK_EQ_U64(scenario->workload.kind, WORKLOAD_QUORUM_APPEND);
    CHECK_EQ_U64(scenario->workload.client_count, 3);
    CHECK_EQ_U64(scenario->workload.interval_ns, 20 * NS_PER_MS);
    CHECK_EQ_U64(scenario->fault_count, 2);
    CHECK_EQ_U64(scenario->faults[0].kind, FAULT_ISOLATE);
    CHECK_EQ_U64(scenario->faults[0].target, TARGET_LEADER);
    CHECK(scenario->faults[0].must_take_effect);
    CHECK_EQ_U64(scenario->faults[0].at_ns, 5 * NS_PER_S);
    CHECK_EQ_U64(scenario->faults[1].kind, FAULT_HEAL);
    CHECK_EQ_U64(scenario->faults[1].target, TARGET_SETS); /* The whole network. */
    CHECK_EQ_U64(scenario->run_ns, 40 * NS_PER_S);
    CHECK_EQ_U64(scenario->heal_at_ns, 20 * NS_PER_S);
    CHECK_EQ_U64(scenario->check_count, 7);
    CHECK(strchr(scenario->description, '\n') != NULL); /* Several lines, joined. */
    free(scenario);
}

TEST(test_durations_and_ranges)
{
    struct scenario *scenario = scenario_new();
    char error[512];
    bool ok = parse_with("disk-latency 1.5ms..2s\n"
                         "wan 250us\n"
                         "connection-timeout 2m\n"
                         "bandwidth 100MB/s\n"
                         "heal-at 20s\nliveness 9999ms\n"
                         "at 1.25s clock-jump n1 -2s\n"
                         "at 7ns clock-drift n2 -150ppm\n"
                         "at 3s disk-slow n3 10x\n"
                         "property n2 controller.quorum.election.timeout.ms=500\n",
                         scenario, error, sizeof(error));
    if (!ok) fprintf(stderr, "  %s\n", error);
    REQUIRE(ok);
    CHECK_EQ_U64(scenario->disk_latency_min_ns, 1500 * NS_PER_US);
    CHECK_EQ_U64(scenario->disk_latency_max_ns, 2 * NS_PER_S);
    CHECK_EQ_U64(scenario->wan_latency_min_ns, 250 * NS_PER_US);
    CHECK_EQ_U64(scenario->wan_latency_max_ns, 250 * NS_PER_US);
    CHECK_EQ_U64(scenario->connection_timeout_ns, 120 * NS_PER_S);
    CHECK_EQ_U64(scenario->bandwidth_bytes_per_s, 100 * 1000 * 1000);
    CHECK_EQ_U64(scenario->liveness_bound_ns, 9999 * NS_PER_MS);
    REQUIRE(scenario->fault_count == 3);
    /* Sorted by time: 7ns, 1.25s, 3s. */
    CHECK_EQ_U64(scenario->faults[0].at_ns, 7);
    CHECK(scenario->faults[0].amount == -150);
    CHECK_EQ_U64(scenario->faults[1].at_ns, 1250 * NS_PER_MS);
    CHECK(scenario->faults[1].amount == -2 * (i64)NS_PER_S);
    CHECK(scenario->faults[2].amount == 10);
    CHECK(strcmp(scenario->nodes[1].properties,
                 "controller.quorum.election.timeout.ms=500\n") == 0);
    free(scenario);
}

TEST(test_sets_and_all)
{
    struct scenario *scenario = scenario_new();
    char error[512];
    bool ok = parse_with("datacenter dc2\nnode n4 dc2 observer\n"
                         "at 1s partition n1,n2 | dc2, n3\n"
                         "at 2s cut n1 -> n2\n"
                         "at 3s partition n1\n"
                         "at 4s crash all\nat 5s restart all\n",
                         scenario, error, sizeof(error));
    if (!ok) fprintf(stderr, "  %s\n", error);
    REQUIRE(ok);
    REQUIRE(scenario->fault_count == 3 + 4 + 4);
    const struct scenario_fault *partition = &scenario->faults[0];
    CHECK_EQ_U64(partition->target, TARGET_SETS);
    CHECK(node_set_has(&partition->side_a, 0) && node_set_has(&partition->side_a, 1));
    CHECK(node_set_has(&partition->side_b, 2) && node_set_has(&partition->side_b, 3));
    CHECK(!node_set_has(&partition->side_b, 0));
    CHECK_EQ_U64(scenario->faults[1].kind, FAULT_CUT_ONE_WAY);
    CHECK(node_set_has(&scenario->faults[2].side_b, 3)); /* "partition n1": n1 against the rest. */
    CHECK(!scenario->nodes[3].voter);
    CHECK_EQ_U64(scenario->faults[3].kind, FAULT_CRASH);
    CHECK(scenario->faults[3].must_take_effect);
    CHECK_EQ_U64(scenario->faults[6].target_node, 3);
    CHECK_EQ_U64(scenario->faults[7].kind, FAULT_RESTART);
    CHECK(!scenario->faults[7].must_take_effect);
    free(scenario);
}

TEST(test_errors_name_line_and_column)
{
    /* Lines 1..7 are the base; extra text starts on line 8. */
    CHECK(parse_fails_at("bogus 1s\n", 8, 1, "unknown statement"));
    CHECK(parse_fails_at("at 5s crash n9\n", 8, 13, "unknown node 'n9'"));
    CHECK(parse_fails_at("node n4 dc7 voter\n", 8, 9, "unknown datacenter 'dc7'"));
    CHECK(parse_fails_at("node n1 dc1 voter\n", 8, 6, "already taken"));
    CHECK(parse_fails_at("node leader dc1 voter\n", 8, 6, "reserved"));
    CHECK(parse_fails_at("node n4 dc1 king\n", 8, 13, "'voter' or 'observer'"));
    CHECK(parse_fails_at("at 5 crash n1\n", 8, 4, "not a duration"));
    CHECK(parse_fails_at("at 5s crush n1\n", 8, 7, "unknown fault"));
    CHECK(parse_fails_at("at 31s crash n1\n", 8, 4, "not before the run ends"));
    CHECK(parse_fails_at("\n# comment\n  at 40s heal\n", 10, 6, "not before the run ends"));
    CHECK(parse_fails_at("heal-at 30s\n", 8, 9, "not before the run ends"));
    CHECK(parse_fails_at("heal-at 10s\nat 11s crash n1\n", 9, 4, "not before heal-at"));
    CHECK(parse_fails_at("heal-at 25s\nliveness 10s\n", 9, 10, "liveness bound"));
    CHECK(parse_fails_at("check election-safety bogus-check\n", 8, 23, "unknown check"));
    CHECK(parse_fails_at("check liveness\n", 8, 7, "needs 'heal-at"));
    CHECK(parse_fails_at("disk-latency 2ms..1ms\n", 8, 14, "ends before it starts"));
    CHECK(parse_fails_at("disk-latency 2ms..1xs\n", 8, 19, "not a duration"));
    CHECK(parse_fails_at("description \"open\n", 8, 13, "unterminated string"));
    CHECK(parse_fails_at("at 5s partition n1,n2 | n2\n", 8, 25, "both sides"));
    CHECK(parse_fails_at("at 5s partition n1,n1\n", 8, 20, "named twice"));
    CHECK(parse_fails_at("at 5s cut n1 | n2\n", 8, 14, "expected '->'"));
    CHECK(parse_fails_at("at 5s restart leader\n", 8, 15, "needs a node name"));
    CHECK(parse_fails_at("at 5s crash n1 extra\n", 8, 16, "unexpected 'extra'"));
    CHECK(parse_fails_at("at 5s clock-jump n1 30s\n", 8, 21, "signed duration"));
    CHECK(parse_fails_at("at 5s disk-slow n1 ten\n", 8, 20, "slowdown"));
    CHECK(parse_fails_at("workload quorum-append clients 0\n", 8, 32, "between 1 and"));
    CHECK(parse_fails_at("workload quorum-append speed 3\n", 8, 24, "unknown workload option"));
    CHECK(parse_fails_at("swarm until 35s\n", 8, 7, "before the run ends"));
    CHECK(parse_fails_at("expect unavailable 10s..40s\n", 8, 8, "after the run ends"));
    CHECK(parse_fails_at("bandwidth 100MB\n", 8, 11, "not a bandwidth"));
    CHECK(parse_fails_at("property n1 novalue\n", 8, 13, "key=value"));
    CHECK(parse_fails_at("property n2 node.id=7\n", 8, 13, "sets node.id itself"));
    CHECK(parse_fails_at("property n2 no.such.kafka.property=1\n", 8, 13, ""));
    CHECK(parse_fails_at("property n2 controller.quorum.election.timeout.ms=soon\n", 8, 13, ""));
    /* A near miss names what was probably meant. */
    CHECK(parse_fails_at("check lient-acks\n", 8, 7, "did you mean 'client-acks'?"));
    CHECK(parse_fails_at("at 5s isolat leader\n", 8, 7, "did you mean 'isolate'?"));
    CHECK(parse_fails_at("heal_at 5s\n", 8, 1, "did you mean 'heal-at'?"));
    CHECK(parse_fails_at("at 5s crash nn1\n", 8, 13, "did you mean 'n1'?"));
    CHECK(parse_fails_at("at 5s crash n5\n", 8, 13, "unknown node 'n5'"));
}

TEST(test_whole_file_errors)
{
    struct scenario *scenario = scenario_new();
    char error[512];
    CHECK(!scenario_parse("x.scn", "run 10s\ncheck election-safety\n", scenario, error,
                          sizeof(error)));
    CHECK(strstr(error, "x.scn:1:1: the scenario declares no node") != NULL);
    CHECK(!scenario_parse("x.scn", "datacenter d\nnode a d observer\nrun 1s\ncheck log-matching\n",
                          scenario, error, sizeof(error)));
    CHECK(strstr(error, "no node is a voter") != NULL);
    CHECK(!scenario_parse("x.scn", "datacenter d\nnode a d voter\ncheck log-matching\n", scenario,
                          error, sizeof(error)));
    CHECK(strstr(error, "missing 'run") != NULL);
    /* Too many voters for controller.quorum.voters. */
    char text[4096] = "datacenter d\n";
    for (u32 i = 0; i < 12; i++) {
        char line[64];
        snprintf(line, sizeof(line), "node v%u d voter\n", i);
        strcat(text, line);
    }
    strcat(text, "run 5s\ncheck log-matching\n");
    CHECK(!scenario_parse("x.scn", text, scenario, error, sizeof(error)));
    CHECK(strstr(error, "x.scn:13:1: too many voters") != NULL);
    /* A missing file is an error, never a crash. */
    CHECK(!scenario_load("scenarios/does-not-exist.scn", scenario, error, sizeof(error)));
    CHECK(strstr(error, "cannot open") != NULL);
    free(scenario);
}

/* Junk of every kind must give an error, never a crash (ASan/UBSan watch this). */
TEST(test_garbage_never_crashes)
{
    static const char *const inputs[] = {
        "", "\n\n\n", "at", "at 99999999999999999999s heal", "at 1.s heal", "at .5s heal",
        "run 1.0000000001ns", "description \"a\\", "node", "partition | ->", "check ,,,",
        "at 1s partition", "at 1s partition n1 |", "wan ..", "wan 1s..", "\"\"\"", "->->->",
        "at 1s clock-jump n1 +", "at 1s clock-drift n1 ppm", "at 1s disk-slow n1 x",
    };
    struct scenario *scenario = scenario_new();
    for (u32 i = 0; i < ARRAY_LEN(inputs); i++) {
        char error[256];
        char text[1024];
        snprintf(text, sizeof(text), "%s%s\n", base_text, inputs[i]);
        bool parsed = scenario_parse("g.scn", text, scenario, error, sizeof(error));
        if (!parsed) CHECK(strncmp(error, "g.scn:", 6) == 0);
        /* A tiny error buffer truncates but still terminates. */
        char small[8];
        if (scenario_parse("g.scn", inputs[i], scenario, small, sizeof(small))) CHECK(false);
        CHECK(strlen(small) < sizeof(small));
    }
    free(scenario);
}

static void swarm_scenario(struct scenario *scenario)
{
    char error[512];
    bool ok = scenario_load("scenarios/quorum-swarm.scn", scenario, error, sizeof(error));
    if (!ok) fprintf(stderr, "  %s\n", error);
    ASSERT(ok);
    ASSERT(scenario->swarm.enabled);
}

TEST(test_swarm_is_deterministic_per_seed)
{
    struct scenario *a = scenario_new(), *b = scenario_new();
    u32 differing = 0;
    for (u64 seed = 1; seed <= 50; seed++) {
        swarm_scenario(a);
        swarm_scenario(b);
        swarm_expand(a, seed);
        swarm_expand(b, seed);
        CHECK(memcmp(a, b, sizeof(*a)) == 0);
        swarm_scenario(b);
        swarm_expand(b, seed + 1000);
        if (a->fault_count != b->fault_count || a->heal_at_ns != b->heal_at_ns ||
            memcmp(a->faults, b->faults, sizeof(a->faults[0]) * a->fault_count) != 0) {
            differing++;
        }
    }
    CHECK(differing >= 45);
    free(a);
    free(b);
}

/* Every drawn fault is inside [0, heal_at) <= swarm until; stops have their recovery. */
TEST(test_swarm_faults_within_phase)
{
    struct scenario *scenario = scenario_new();
    u32 kinds_seen[FAULT_KIND_COUNT] = {0};
    u32 seeds_with_faults = 0;
    for (u64 seed = 1; seed <= 200; seed++) {
        swarm_scenario(scenario);
        u64 until = scenario->swarm.faults_until_ns;
        swarm_expand(scenario, seed);
        CHECK(scenario->heal_at_ns > 0 && scenario->heal_at_ns <= until);
        seeds_with_faults += scenario->fault_count > 0 ? 1 : 0;
        i32 stopped[SCENARIO_NODES_MAX] = {0};
        u32 network_open = 0;
        for (u32 i = 0; i < scenario->fault_count; i++) {
            const struct scenario_fault *fault = &scenario->faults[i];
            kinds_seen[fault->kind]++;
            CHECK(fault->at_ns < scenario->heal_at_ns);
            CHECK(!fault->must_take_effect);
            CHECK_EQ_U64(fault->line, 0);
            if (i > 0) CHECK(scenario->faults[i - 1].at_ns <= fault->at_ns);
            if (fault->target == TARGET_NODE) CHECK(fault->target_node < scenario->node_count);
            u32 node = fault->target_node;
            if (fault->kind == FAULT_CRASH || fault->kind == FAULT_PAUSE) {
                CHECK(stopped[node] == 0);
                stopped[node] = fault->kind == FAULT_CRASH ? 1 : 2;
            }
            if (fault->kind == FAULT_RESTART) { CHECK(stopped[node] == 1); stopped[node] = 0; }
            if (fault->kind == FAULT_RESUME) { CHECK(stopped[node] == 2); stopped[node] = 0; }
            bool network = fault->kind == FAULT_ISOLATE || fault->kind == FAULT_PARTITION ||
                           fault->kind == FAULT_CUT_ONE_WAY;
            if (network) { CHECK(network_open == 0); network_open = 1; }
            if (fault->kind == FAULT_HEAL) { CHECK(network_open == 1); network_open = 0; }
        }
        for (u32 n = 0; n < scenario->node_count; n++) CHECK(stopped[n] == 0);
        /* Damage to stored data stays on a minority of the voters. */
        struct node_set damaged = {{0}};
        u32 damaged_count = 0;
        for (u32 i = 0; i < scenario->fault_count; i++) {
            const struct scenario_fault *fault = &scenario->faults[i];
            if (fault->kind != FAULT_DISK_CORRUPT && fault->kind != FAULT_DISK_READ_ERROR) continue;
            if (node_set_has(&damaged, fault->target_node)) continue;
            node_set_add(&damaged, fault->target_node);
            damaged_count++;
        }
        CHECK(damaged_count <= 2); /* 5 voters: a majority of 3 stays intact. */
        CHECK(network_open == 0);
    }
    CHECK(seeds_with_faults >= 180); /* Nearly every seed draws some. */
    for (u32 kind = 0; kind < FAULT_KIND_COUNT; kind++) {
        if (kinds_seen[kind] == 0) fprintf(stderr, "  never drawn: %s\n", fault_kind_name(kind));
        CHECK(kinds_seen[kind] > 0);
    }
    free(scenario);
}

TEST(test_swarm_keeps_scripted_faults)
{
    struct scenario *scenario = scenario_new();
    char error[512];
    bool ok = parse_with("swarm until 20s\nat 2s crash n1\nat 3s restart n1\n", scenario, error,
                         sizeof(error));
    if (!ok) fprintf(stderr, "  %s\n", error);
    REQUIRE(ok);
    swarm_expand(scenario, 42);
    u32 scripted = 0;
    for (u32 i = 0; i < scenario->fault_count; i++) {
        if (scenario->faults[i].must_take_effect) {
            scripted++;
            CHECK(scenario->faults[i].line >= 8);
        }
    }
    CHECK_EQ_U64(scripted, 2);
    CHECK(scenario->heal_at_ns <= 20 * NS_PER_S);
    free(scenario);
}

/* The smallest fault phases still give a valid schedule. */
TEST(test_swarm_tiny_phases)
{
    static const char *const untils[] = {"1ns", "2ns", "1us", "1ms", "999ms", "1s"};
    struct scenario *scenario = scenario_new();
    for (u32 i = 0; i < ARRAY_LEN(untils); i++) {
        char text[64], error[512];
        snprintf(text, sizeof(text), "swarm until %s\n", untils[i]);
        bool ok = parse_with(text, scenario, error, sizeof(error));
        if (!ok) fprintf(stderr, "  %s\n", error);
        REQUIRE(ok);
        u64 until = scenario->swarm.faults_until_ns;
        for (u64 seed = 0; seed < 20; seed++) {
            REQUIRE(parse_with(text, scenario, error, sizeof(error)));
            swarm_expand(scenario, seed);
            CHECK(scenario->heal_at_ns > 0 && scenario->heal_at_ns <= until);
            for (u32 f = 0; f < scenario->fault_count; f++) {
                CHECK(scenario->faults[f].at_ns < scenario->heal_at_ns);
            }
        }
    }
    free(scenario);
}

TEST(test_fault_kind_names)
{
    CHECK(strcmp(fault_kind_name(FAULT_CRASH), "crash") == 0);
    CHECK(strcmp(fault_kind_name(FAULT_CUT_ONE_WAY), "cut") == 0);
    CHECK(strcmp(fault_kind_name(FAULT_DISK_SLOW), "disk-slow") == 0);
    for (u32 kind = 0; kind < FAULT_KIND_COUNT; kind++) {
        CHECK(strcmp(fault_kind_name(kind), "?") != 0);
    }
}

/* report_fault_describe() writes scenario syntax: each described fault, drawn by the seed or
 * written in a file, parses back into the same fault (times to the millisecond shown). */
TEST(test_fault_descriptions_parse_back)
{
    struct scenario *expanded = scenario_new(), *parsed = scenario_new();
    static char text[16384];
    for (u64 seed = 1; seed <= 30; seed++) {
        swarm_scenario(expanded);
        swarm_expand(expanded, seed);
        for (u32 i = 0; i < expanded->fault_count; i++) {
            const struct scenario_fault *fault = &expanded->faults[i];
            char line[512], error[512];
            report_fault_describe(expanded, fault, line, sizeof(line));
            snprintf(text, sizeof(text), "datacenter dc1\ndatacenter dc2\ndatacenter dc3\n"
                     "node n1 dc1 voter\nnode n2 dc1 voter\nnode n3 dc2 voter\n"
                     "node n4 dc2 voter\nnode n5 dc3 voter\nrun 60s\ncheck log-matching\n%s\n",
                     line);
            bool ok = scenario_parse("round-trip.scn", text, parsed, error, sizeof(error));
            if (!ok) fprintf(stderr, "  '%s': %s\n", line, error);
            REQUIRE(ok);
            REQUIRE(parsed->fault_count == 1);
            const struct scenario_fault *back = &parsed->faults[0];
            CHECK_EQ_U64(back->at_ns / NS_PER_MS, fault->at_ns / NS_PER_MS);
            CHECK_EQ_U64(back->kind, fault->kind);
            CHECK_EQ_U64(back->target, fault->target);
            if (fault->kind == FAULT_CLOCK_JUMP) {
                CHECK(back->amount / (i64)NS_PER_MS == fault->amount / (i64)NS_PER_MS);
            } else {
                CHECK(back->amount == fault->amount);
            }
            if (fault->target == TARGET_NODE) CHECK_EQ_U64(back->target_node, fault->target_node);
            CHECK(memcmp(&back->side_a, &fault->side_a, sizeof(fault->side_a)) == 0);
            CHECK(memcmp(&back->side_b, &fault->side_b, sizeof(fault->side_b)) == 0);
        }
    }
    free(expanded);
    free(parsed);
}

TEST(test_report_durations)
{
    char text[32];
    report_format_duration(0, text, sizeof(text));
    CHECK(strcmp(text, "0s") == 0);
    report_format_duration(5 * NS_PER_S, text, sizeof(text));
    CHECK(strcmp(text, "5s") == 0);
    report_format_duration(150 * NS_PER_MS, text, sizeof(text));
    CHECK(strcmp(text, "150ms") == 0);
    report_format_duration(1250 * NS_PER_MS, text, sizeof(text));
    CHECK(strcmp(text, "1.250s") == 0);
    report_format_duration(300 * NS_PER_US, text, sizeof(text));
    CHECK(strcmp(text, "300us") == 0);
    report_format_duration(7, text, sizeof(text));
    CHECK(strcmp(text, "7ns") == 0);
}

static void event_add(struct history *history, u64 time_ns, u32 node, u32 kind, u64 a, u64 b,
                      u64 c, u64 d)
{
    struct history_event event = {.time_ns = time_ns, .node = node, .kind = kind,
                                  .a = a, .b = b, .c = c, .d = d};
    history_append(history, &event, NULL, 0);
}

/* A run that elected n1, lost it to an isolation, elected n2, and failed one check. */
static void made_up_result(struct sim_result *result)
{
    memset(result, 0, sizeof(*result));
    history_init(&result->history);
    struct history *history = &result->history;
    for (u32 id = 1; id <= 5; id++) event_add(history, 0, id, HISTORY_NODE_START, 0, 0, 0, 0);
    event_add(history, 1200 * NS_PER_MS, 1, HISTORY_QUORUM_ROLE, 1, HISTORY_ROLE_LEADER, 1, 0);
    event_add(history, 2 * NS_PER_S, 7, HISTORY_CLIENT_INVOKE, 1, 0, 99, 0);
    event_add(history, 2 * NS_PER_S + 1, 1, HISTORY_QUORUM_COMMITTED, 0, 1, 99, 0);
    event_add(history, 2 * NS_PER_S + 2, 7, HISTORY_CLIENT_OK, 1, 0, 99, 0);
    event_add(history, 5 * NS_PER_S, 1, HISTORY_FAULT, HISTORY_FAULT_PARTITION, 1, 0, 1);
    event_add(history, 6 * NS_PER_S, 7, HISTORY_CLIENT_INVOKE, 2, 0, 98, 0);
    event_add(history, 6500 * NS_PER_MS, 2, HISTORY_QUORUM_ROLE, 2, HISTORY_ROLE_LEADER, 2, 0);
    event_add(history, 8 * NS_PER_S, 7, HISTORY_CLIENT_UNKNOWN, 2, 7, 0, 0);
    event_add(history, 15 * NS_PER_S, 0, HISTORY_FAULT, HISTORY_FAULT_HEAL, UINT64_MAX, 0, 1);
    event_add(history, 20 * NS_PER_S, 0, HISTORY_HEALED, 10 * NS_PER_S, 0, 0, 0);
    event_add(history, 40 * NS_PER_S, 0, HISTORY_RUN_END, 0, 0, 0, 0);
    result->seed = 7;
    result->trace_hash = 0x00c0ffee12345678ull;
    result->events = 1000;
    result->simulated_ns = 40 * NS_PER_S;
    result->wall_seconds = 0.25;
    result->faults.fired[FAULT_ISOLATE] = 1;
    result->faults.effective[FAULT_ISOLATE] = 1;
    result->outcome_count = 2;
    result->outcome_names[0] = "election-safety";
    result->outcomes[0].passed = true;
    result->outcome_names[1] = "log-matching";
    result->outcomes[1].event_index = 8;
    snprintf(result->outcomes[1].message, sizeof(result->outcomes[1].message), "made up");
}

TEST(test_report_summary_and_folder)
{
    struct scenario *scenario = scenario_new();
    char error[512];
    REQUIRE(scenario_load("scenarios/quorum-partition-leader.scn", scenario, error,
                          sizeof(error)));
    struct sim_result *result = calloc(1, sizeof(*result));
    REQUIRE(result != NULL);
    made_up_result(result);

    char *summary = NULL;
    size_t summary_size = 0;
    FILE *out = open_memstream(&summary, &summary_size);
    REQUIRE(out != NULL);
    report_print_summary(out, scenario, result, "build/ksim", NULL);
    fclose(out);
    CHECK(strstr(summary, "FAIL log-matching") != NULL);
    CHECK(strstr(summary, "build/ksim run scenarios/quorum-partition-leader.scn --seed 7 "
                          "--trace t.zst") != NULL);
    const char *last = summary + summary_size - strlen("trace-hash: 00c0ffee12345678\n");
    CHECK(strcmp(last, "trace-hash: 00c0ffee12345678\n") == 0);
    free(summary);

    char directory[] = "/tmp/ksim-report-test-XXXXXX";
    REQUIRE(mkdtemp(directory) != NULL);
    char folder[1024];
    bool written = report_write(directory, scenario, result, "build/ksim", folder,
                                sizeof(folder), error, sizeof(error));
    if (!written) fprintf(stderr, "  %s\n", error);
    CHECK(written);
    static const char *const files[] = {"report.md", "history.tsv", "timeline.dot",
                                        "timeline.svg"};
    for (u32 i = 0; i < ARRAY_LEN(files); i++) {
        char path[1200];
        snprintf(path, sizeof(path), "%s/%s", folder, files[i]);
        FILE *file = fopen(path, "rb");
        bool exists = file != NULL;
        if (i == 0 && file != NULL) {
            static char text[65536];
            size_t size = fread(text, 1, sizeof(text) - 1, file);
            text[size] = '\0';
            CHECK(strstr(text, "n2 became the leader of epoch 2") != NULL);
            CHECK(strstr(text, "n1 was cut off from the network") != NULL);
            CHECK(strstr(text, "1 have an unknown outcome") != NULL);
            CHECK(strstr(text, "**FAIL**") != NULL);
        }
        if (file != NULL) fclose(file);
        /* timeline.svg exists only where graphviz does; the rest always. */
        if (i < 3) CHECK(exists);
        if (exists) CHECK(unlink(path) == 0);
    }
    CHECK(rmdir(folder) == 0);
    CHECK(rmdir(directory) == 0);
    history_free(&result->history);
    free(result);
    free(scenario);
}

TEST(test_kafka_workload)
{
    struct scenario *scenario = scenario_new();
    char error[512];
    bool ok = parse_with("workload kafka-produce-consume topic orders partitions 3 producers 2 "
                         "consumers 1 acks 1 interval 5ms value-size 32 stop 20s\n",
                         scenario, error, sizeof(error));
    if (!ok) fprintf(stderr, "  %s\n", error);
    REQUIRE(ok);
    const struct scenario_workload *workload = &scenario->workload;
    CHECK_EQ_U64(workload->kind, WORKLOAD_KAFKA_PRODUCE_CONSUME);
    CHECK(strcmp(workload->topic, "orders") == 0);
    CHECK_EQ_U64(workload->partition_count, 3);
    CHECK_EQ_U64(workload->producer_count, 2);
    CHECK_EQ_U64(workload->consumer_count, 1);
    CHECK_EQ_U64(workload->client_count, 3);
    CHECK_EQ_U64((u64)(i64)workload->acks, 1);
    CHECK_EQ_U64(workload->interval_ns, 5 * NS_PER_MS);
    CHECK_EQ_U64(workload->stop_ns, 20 * NS_PER_S);
    free(scenario);
    CHECK(parse_fails_at("workload kafka-produce-consume acks 2\n", 8, 37, "acks must be"));
    CHECK(parse_fails_at("workload kafka-produce-consume partitions 17\n", 8, 43, "between"));
    CHECK(parse_fails_at("workload kafka-produce-consume value-size 16\n", 8, 10, "24..1024"));
    CHECK(parse_fails_at("workload kafka-append\n", 8, 10, "kafka-produce-consume"));
}

/* Retrying and idempotent producers: what each option implies, and what Kafka refuses. */
TEST(test_retrying_producers)
{
    struct scenario *scenario = scenario_new();
    char error[512];
    bool ok = parse_with("workload kafka-produce-consume idempotent timeout 1s\n", scenario, error,
                         sizeof(error));
    if (!ok) fprintf(stderr, "  %s\n", error);
    REQUIRE(ok);
    const struct scenario_workload *workload = &scenario->workload;
    CHECK(workload->idempotent && !workload->retries);
    CHECK_EQ_U64((u64)(i64)workload->acks, (u64)(i64)-1);
    CHECK_EQ_U64(workload->delivery_timeout_ns, 30 * NS_PER_S);
    memset(scenario, 0, sizeof(*scenario));
    ok = parse_with("workload kafka-produce-consume retries acks 1 delivery-timeout 4.5s\n",
                    scenario, error, sizeof(error));
    if (!ok) fprintf(stderr, "  %s\n", error);
    REQUIRE(ok);
    CHECK(workload->retries && !workload->idempotent);
    CHECK_EQ_U64((u64)(i64)workload->acks, 1);
    CHECK_EQ_U64(workload->delivery_timeout_ns, 4500 * NS_PER_MS);
    memset(scenario, 0, sizeof(*scenario));
    ok = parse_with("workload kafka-produce-consume\n", scenario, error, sizeof(error));
    REQUIRE(ok);
    CHECK(!workload->retries && !workload->idempotent);
    CHECK_EQ_U64(workload->delivery_timeout_ns, 0);
    free(scenario);
    CHECK(parse_fails_at("workload kafka-produce-consume idempotent acks 1\n", 8, 10,
                         "need acks all"));
    CHECK(parse_fails_at("workload kafka-produce-consume acks 0 idempotent\n", 8, 10,
                         "need acks all"));
    CHECK(parse_fails_at("workload kafka-produce-consume delivery-timeout 5s\n", 8, 32,
                         "needs retries or idempotent"));
    CHECK(parse_fails_at("workload kafka-produce-consume retries timeout 3s delivery-timeout 2s\n",
                         8, 51, "at least the request timeout"));
    CHECK(parse_fails_at("workload kafka-produce-consume retries delivery-timeout 0s\n", 8, 40,
                         "must be positive"));
    CHECK(parse_fails_at("workload kafka-produce-consume retries delivery-timeout soon\n", 8, 57,
                         "not a duration"));
}

/* Group options, 'client NAME' and 'group-coordinator' targets (sim/scenario.c). */
TEST(test_group_workload_and_client_targets)
{
    struct scenario *scenario = scenario_new();
    char error[512];
    bool ok = parse_with("workload kafka-produce-consume producers 2 consumers 3 group g1 "
                         "assignor cooperative-sticky static-members session-timeout 9s "
                         "heartbeat 2s commit 500ms rebalance-timeout 20s\n"
                         "at 5s crash client c2\nat 6s restart client c2\n"
                         "at 7s pause client p1\nat 8s crash group-coordinator\n",
                         scenario, error, sizeof(error));
    if (!ok) fprintf(stderr, "  %s\n", error);
    REQUIRE(ok);
    const struct scenario_workload *workload = &scenario->workload;
    CHECK(strcmp(workload->group, "g1") == 0);
    CHECK(workload->cooperative && workload->static_members);
    CHECK_EQ_U64(workload->session_timeout_ns, 9 * NS_PER_S);
    CHECK_EQ_U64(workload->heartbeat_interval_ns, 2 * NS_PER_S);
    CHECK_EQ_U64(workload->commit_interval_ns, 500 * NS_PER_MS);
    CHECK_EQ_U64(workload->rebalance_timeout_ns, 20 * NS_PER_S);
    REQUIRE(scenario->fault_count == 4);
    CHECK_EQ_U64(scenario->faults[0].target, TARGET_CLIENT);
    CHECK_EQ_U64(scenario->faults[0].target_node, 3); /* p1 p2 c1 c2 */
    CHECK_EQ_U64(scenario->faults[2].target_node, 0);
    CHECK_EQ_U64(scenario->faults[3].target, TARGET_GROUP_COORDINATOR);
    char name[SCENARIO_NAME_MAX];
    scenario_client_name(scenario, 3, name, sizeof(name));
    CHECK(strcmp(name, "c2") == 0);
    char described[256];
    report_fault_describe(scenario, &scenario->faults[0], described, sizeof(described));
    CHECK(strstr(described, "crash client c2") != NULL);
    free(scenario);
    CHECK(parse_fails_at("workload kafka-produce-consume assignor range\n", 8, 32,
                         "need 'group NAME'"));
    CHECK(parse_fails_at("workload kafka-produce-consume group g assignor fair\n", 8, 49,
                         "range or cooperative-sticky"));
    CHECK(parse_fails_at("workload kafka-produce-consume group g heartbeat 6s\n", 8, 40,
                         "shorter than the session"));
    CHECK(parse_fails_at("workload kafka-produce-consume consumers 0 group g\n", 8, 10,
                         "needs consumers"));
    CHECK(parse_fails_at("at 5s crash client c1\n", 8, 20, "declare the workload"));
    CHECK(parse_fails_at("workload kafka-produce-consume\nat 5s crash client c2\n", 9, 20,
                         "unknown client 'c2'"));
    CHECK(parse_fails_at("workload kafka-produce-consume\nat 5s clock-jump client c1 +1s\n", 9,
                         25, "can only crash"));
    CHECK(parse_fails_at("workload kafka-produce-consume\nat 5s crash group-coordinator\n", 9,
                         13, "needs a workload with 'group NAME'"));
    CHECK(parse_fails_at("property n1 offsets.topic.replication.factor=1\n"
                         "workload kafka-produce-consume group g\n", 9, 10,
                         "offsets.topic.replication.factor"));
    CHECK(parse_fails_at("node client dc1 voter\n", 8, 6, "reserved"));
}

static const struct test_case tests[] = {
    {"test_every_scenario_file_parses", test_every_scenario_file_parses},
    {"test_kafka_workload", test_kafka_workload},
    {"test_retrying_producers", test_retrying_producers},
    {"test_group_workload_and_client_targets", test_group_workload_and_client_targets},
    {"test_readme_example_parses", test_readme_example_parses},
    {"test_default_scenario_contents", test_default_scenario_contents},
    {"test_durations_and_ranges", test_durations_and_ranges},
    {"test_sets_and_all", test_sets_and_all},
    {"test_errors_name_line_and_column", test_errors_name_line_and_column},
    {"test_whole_file_errors", test_whole_file_errors},
    {"test_garbage_never_crashes", test_garbage_never_crashes},
    {"test_swarm_is_deterministic_per_seed", test_swarm_is_deterministic_per_seed},
    {"test_swarm_faults_within_phase", test_swarm_faults_within_phase},
    {"test_swarm_keeps_scripted_faults", test_swarm_keeps_scripted_faults},
    {"test_swarm_tiny_phases", test_swarm_tiny_phases},
    {"test_fault_kind_names", test_fault_kind_names},
    {"test_fault_descriptions_parse_back", test_fault_descriptions_parse_back},
    {"test_report_durations", test_report_durations},
    {"test_report_summary_and_folder", test_report_summary_and_folder},
};

TEST_MAIN(tests)
