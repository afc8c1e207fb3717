/* test_report.c: what ksim's report folder says about Kafka clients and consumer groups
 * (sim/report.c), from made-up histories: history.tsv names clients and describes group
 * events; report.md tells the generations, who owned what, and every fencing. */
#include "test.h"
#include "../../impl/protocol/errors_generated.h"
#include "../../sim/report.h"
#include "../../sim/scenario.h"

#include <unistd.h>

static void event_add(struct history *history, u64 time_ns, u32 node, u32 kind, u64 a, u64 b,
                      u64 c, u64 d)
{
    struct history_event event = {.time_ns = time_ns, .node = node, .kind = kind,
                                  .a = a, .b = b, .c = c, .d = d};
    history_append(history, &event, NULL, 0);
}

/* Reads a file of the report folder whole (NUL-terminated), then removes it. */
static char *take_file(const char *folder, const char *name)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/%s", folder, name);
    FILE *file = fopen(path, "rb");
    if (file == NULL) return NULL;
    char *text = calloc(1, 1 << 20);
    size_t size = text != NULL ? fread(text, 1, (1 << 20) - 1, file) : 0;
    if (text != NULL) text[size] = '\0';
    fclose(file);
    CHECK(unlink(path) == 0);
    return text;
}

/* Writes the report of result for the scenario file into a temporary folder; returns report.md
 * and history.tsv and removes the folder. */
static void render(const char *scenario_path, struct sim_result *result, char **report,
                   char **tsv)
{
    struct scenario *scenario = calloc(1, sizeof(*scenario));
    REQUIRE(scenario != NULL);
    char error[512];
    REQUIRE(scenario_load(scenario_path, scenario, error, sizeof(error)));
    char directory[] = "/tmp/ksim-report-groups-XXXXXX";
    REQUIRE(mkdtemp(directory) != NULL);
    char folder[1024];
    bool written = report_write(directory, scenario, result, "build/ksim", folder,
                                sizeof(folder), error, sizeof(error));
    if (!written) fprintf(stderr, "  %s\n", error);
    REQUIRE(written);
    *report = take_file(folder, "report.md");
    *tsv = take_file(folder, "history.tsv");
    free(take_file(folder, "timeline.dot"));
    free(take_file(folder, "timeline.svg")); /* Only where graphviz is. */
    CHECK(rmdir(folder) == 0);
    CHECK(rmdir(directory) == 0);
    free(scenario);
}

static void result_init(struct sim_result *result)
{
    memset(result, 0, sizeof(*result));
    history_init(&result->history);
    result->seed = 3;
    result->simulated_ns = 30 * NS_PER_S;
    result->passed = true;
}

/* kafka-single-broker-crash has 2 producers and 1 consumer: clients 1001, 1002 are p1, p2 and
 * 1003 is c1. A made-up group of c1 and a fourth client shows two generations and a zombie. */
TEST(test_report_consumer_group)
{
    struct sim_result *result = calloc(1, sizeof(*result));
    REQUIRE(result != NULL);
    result_init(result);
    struct history *history = &result->history;
    const u32 c1 = SIM_CLIENT_ID_BASE + 3;
    event_add(history, 1 * NS_PER_S, 1, HISTORY_NODE_START, 0, 0, 0, 0);
    event_add(history, 2 * NS_PER_S, c1, HISTORY_GROUP_JOINED, 1, 1, HISTORY_GROUP_EAGER, 1);
    event_add(history, 2 * NS_PER_S + 5, c1, HISTORY_GROUP_ASSIGNED, 1, 0x7, 0, 0);
    event_add(history, 3 * NS_PER_S, c1, HISTORY_GROUP_COMMIT, 1, 2, 40, 0);
    event_add(history, 3 * NS_PER_S + 9, c1, HISTORY_GROUP_COMMITTED, 1, 2, 40, 0);
    event_add(history, 9 * NS_PER_S, c1, HISTORY_GROUP_ASSIGNED, 2, 0x5, 0, 0);
    event_add(history, 9 * NS_PER_S + 1, c1, HISTORY_GROUP_POSITION, 0, 17, 2, 0);
    event_add(history, 12 * NS_PER_S, c1, HISTORY_GROUP_COMMIT_FAILED, 2, 0, 18,
              KAFKA_ERROR_ILLEGAL_GENERATION);
    event_add(history, 12 * NS_PER_S + 1, c1, HISTORY_GROUP_REVOKED, 2, 0x5,
              KAFKA_ERROR_ILLEGAL_GENERATION, 0);
    event_add(history, 13 * NS_PER_S, c1, HISTORY_GROUP_COMMIT_FAILED, 3, 1, 5, 0xffff);
    event_add(history, 14 * NS_PER_S, c1, HISTORY_GROUP_OFFSET_FETCHED, 3, 1, UINT64_MAX, 0);
    event_add(history, 30 * NS_PER_S, 0, HISTORY_RUN_END, 0, 0, 0, 0);

    char *report = NULL, *tsv = NULL;
    render("scenarios/kafka-single-broker-crash.scn", result, &report, &tsv);
    REQUIRE(report != NULL && tsv != NULL);
    CHECK(strstr(report, "## The consumer group") != NULL);
    CHECK(strstr(report, "2 generations assigned") != NULL);
    CHECK(strstr(report, "1 acknowledged, 1 fenced, 0 failed otherwise, 1 with an unknown") !=
          NULL);
    CHECK(strstr(report, "| 1 | 2.000s | c1 {0,1,2} |") != NULL);
    CHECK(strstr(report, "| 2 | 9.000s | c1 {0,2} |") != NULL);
    CHECK(strstr(report, "its commit of offset 18 of partition 0 for generation 2 is refused: "
                         "ILLEGAL_GENERATION") != NULL);
    CHECK(strstr(report, "gives up partitions {0,2} of generation 2, fenced: "
                         "ILLEGAL_GENERATION") != NULL);
    CHECK(strstr(tsv, "\tc1\tGROUP_JOINED\t1\t1\t0\t1\tjoined generation 1 of 1 members as "
                      "its leader, eager\n") != NULL);
    CHECK(strstr(tsv, "\tc1\tGROUP_POSITION\t") != NULL);
    CHECK(strstr(tsv, "reads partition 0 from offset 17 in generation 2") != NULL);
    CHECK(strstr(tsv, "partition 1 has no committed offset") != NULL);
    CHECK(strstr(tsv, "offset 5 of partition 1 in generation 3: outcome unknown") != NULL);
    free(report);
    free(tsv);
    history_free(&result->history);
    free(result);
}

/* Without group events there is no group section; Kafka clients are still named. */
TEST(test_report_without_group)
{
    struct sim_result *result = calloc(1, sizeof(*result));
    REQUIRE(result != NULL);
    result_init(result);
    event_add(&result->history, 1 * NS_PER_S, SIM_CLIENT_ID_BASE + 1, HISTORY_KAFKA_SEND, 0, 1,
              77, 0);
    event_add(&result->history, 2 * NS_PER_S, SIM_CLIENT_ID_BASE + 2, HISTORY_KAFKA_RETRIED, 4,
              1, KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER, 0);
    char *report = NULL, *tsv = NULL;
    render("scenarios/kafka-single-broker-crash.scn", result, &report, &tsv);
    REQUIRE(report != NULL && tsv != NULL);
    CHECK(strstr(report, "consumer group") == NULL);
    CHECK(strstr(tsv, "\tp1\tKAFKA_SEND\t") != NULL);
    CHECK(strstr(tsv, "\tp2\tKAFKA_RETRIED\t") != NULL);
    free(report);
    free(tsv);
    history_free(&result->history);
    free(result);
}

/* An idempotent producer's id, its retries with their reasons, and the Kafka section's count
 * of retries, deduplicated batches and values written twice. */
TEST(test_report_retries_and_duplicates)
{
    struct sim_result *result = calloc(1, sizeof(*result));
    REQUIRE(result != NULL);
    result_init(result);
    struct history *history = &result->history;
    const u32 p1 = SIM_CLIENT_ID_BASE + 1, p2 = SIM_CLIENT_ID_BASE + 2;
    const u32 c1 = SIM_CLIENT_ID_BASE + 3;
    event_add(history, 1 * NS_PER_S, p1, HISTORY_KAFKA_PRODUCER_ID, 4000, 0, 0, 0);
    event_add(history, 2 * NS_PER_S, p1, HISTORY_KAFKA_SEND, 1, 0, 0xa1,
              HISTORY_KAFKA_IDEMPOTENT);
    event_add(history, 3 * NS_PER_S, p1, HISTORY_KAFKA_RETRIED, 1, 0,
              KAFKA_ERROR_REQUEST_TIMED_OUT, 0);
    event_add(history, 4 * NS_PER_S, p1, HISTORY_KAFKA_ACKED, 1, 0, 0, 0xa1);
    event_add(history, 5 * NS_PER_S, p1, HISTORY_KAFKA_PRODUCER_ID, 4001, 0, 0, 0);
    event_add(history, 6 * NS_PER_S, p2, HISTORY_KAFKA_SEND, 1, 0, 0xb1, 0);
    event_add(history, 7 * NS_PER_S, p2, HISTORY_KAFKA_RETRIED, 1, 0,
              KAFKA_ERROR_NETWORK_EXCEPTION, 0);
    event_add(history, 8 * NS_PER_S, p2, HISTORY_KAFKA_ACKED, 1, 0, 2, 0xb1);
    event_add(history, 9 * NS_PER_S, c1, HISTORY_KAFKA_REREAD, 0, 0, 0, 0);
    event_add(history, 9 * NS_PER_S + 1, c1, HISTORY_KAFKA_READ, 0, 0, 0xa1, 0);
    event_add(history, 9 * NS_PER_S + 2, c1, HISTORY_KAFKA_READ, 0, 1, 0xb1, 0);
    event_add(history, 9 * NS_PER_S + 3, c1, HISTORY_KAFKA_READ, 0, 2, 0xb1, 0);
    event_add(history, 30 * NS_PER_S, 0, HISTORY_RUN_END, 0, 0, 0, 0);
    char *report = NULL, *tsv = NULL;
    render("scenarios/kafka-single-broker-crash.scn", result, &report, &tsv);
    REQUIRE(report != NULL && tsv != NULL);
    CHECK(strstr(report, "## What the Kafka clients saw") != NULL);
    CHECK(strstr(report, "Producers sent 2 records: 2 acknowledged, 0 failed") != NULL);
    CHECK(strstr(report, "Producers retried 2 sends whose first attempt may have reached the "
                         "log (1 by idempotent producers, whose leaders recognised 1 resent "
                         "batches") != NULL);
    CHECK(strstr(report, "1 new producer ids after a refused sequence); 1 values were read at "
                         "two offsets") != NULL);
    CHECK(strstr(tsv, "\tp1\tKAFKA_PRODUCER_ID\t4000\t0\t0\t0\tproducer id 4000, epoch 0\n") !=
          NULL);
    CHECK(strstr(tsv, "operation 1 sent again after REQUEST_TIMED_OUT") != NULL);
    CHECK(strstr(tsv, "operation 1 sent again after NETWORK_EXCEPTION") != NULL);
    CHECK(strstr(tsv, "\tp1\tKAFKA_SEND\t1\t0\t161\t2\tidempotent") != NULL);
    free(report);
    free(tsv);
    char *summary = NULL;
    size_t summary_size = 0;
    FILE *out = open_memstream(&summary, &summary_size);
    REQUIRE(out != NULL);
    struct scenario *scenario = calloc(1, sizeof(*scenario));
    REQUIRE(scenario != NULL);
    char error[512];
    REQUIRE(scenario_load("scenarios/kafka-single-broker-crash.scn", scenario, error,
                          sizeof(error)));
    report_print_summary(out, scenario, result, "build/ksim", NULL);
    fclose(out);
    CHECK(strstr(summary, "2 sends retried (1 by idempotent producers, 1 of those "
                          "deduplicated); 1 values read at two offsets") != NULL);
    free(summary);
    free(scenario);
    history_free(&result->history);
    free(result);
}

static const struct test_case tests[] = {
    {"test_report_retries_and_duplicates", test_report_retries_and_duplicates},
    {"test_report_consumer_group", test_report_consumer_group},
    {"test_report_without_group", test_report_without_group},
};

TEST_MAIN(tests)
