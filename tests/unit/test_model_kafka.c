/* test_model_kafka.c: crafted histories for the Kafka checkers (model/kafka_checkers.c). A good
 * history passes all four; each checker is shown failing on the history that breaks its
 * invariant, and a loss after a crash is labelled (passed, with the reason) only when the
 * broker does not flush every message. kafka-no-duplicates passes an idempotent retry written
 * once, labels a retried value of a producer without idempotence, and fails otherwise. */
#include "test.h"

#include "../../model/history.h"
#include "../../model/kafka_checkers.h"

#define MS (1000ull * 1000ull)
#define BROKER 1u
#define PRODUCER 1001u
#define CONSUMER 1002u
#define NEVER ((u64)INT64_MAX)

static struct history history;
static u64 clock_ns;

static void ev(u32 node, u32 kind, u64 a, u64 b, u64 c, u64 d)
{
    clock_ns += MS;
    struct history_event event = {.time_ns = clock_ns, .node = node, .kind = kind,
                                  .a = a, .b = b, .c = c, .d = d};
    history_append(&history, &event, NULL, 0);
}

static bool run(const char *name, struct check_outcome *outcome)
{
    const struct checker *checker = model_checker_find(name);
    ASSERT(checker != NULL);
    struct check_params params = {0};
    memset(outcome, 0, sizeof(*outcome));
    checker->check(&history, &params, outcome);
    if (getenv("SHOW") != NULL) printf("  %s: %s\n", name, outcome->message);
    return outcome->passed;
}

static void start(u64 flush_messages)
{
    history_free(&history);
    history_init(&history);
    clock_ns = 0;
    ev(BROKER, HISTORY_KAFKA_BROKER_CONFIG, flush_messages, 1, 0, 0);
    ev(PRODUCER, HISTORY_KAFKA_CONNECTED, 0, 0, 0, 0);
    ev(CONSUMER, HISTORY_KAFKA_CONNECTED, 1, 0, 0, 0);
    ev(CONSUMER, HISTORY_KAFKA_REREAD, 0, 0, 0, 0);
}

/* Operation op of the producer sends checksum to partition 0 and is acknowledged at offset. */
static void produce(u64 op, u64 checksum, u64 offset)
{
    ev(PRODUCER, HISTORY_KAFKA_SEND, op, 0, checksum, 0);
    ev(PRODUCER, HISTORY_KAFKA_ACKED, op, 0, offset, checksum);
}

static void read_record(u64 offset, u64 checksum)
{
    ev(CONSUMER, HISTORY_KAFKA_READ, 0, offset, checksum, 0);
}

/* The broker crashes and restarts; both clients reconnect; the consumer reads again. */
static void crash(void)
{
    ev(0, HISTORY_FAULT, HISTORY_FAULT_CRASH, BROKER, 0, 1);
    ev(BROKER, HISTORY_NODE_START, 0, 0, 0, 0);
    ev(PRODUCER, HISTORY_KAFKA_CONNECTED, 0, 0, 0, 0);
    ev(CONSUMER, HISTORY_KAFKA_CONNECTED, 1, 0, 0, 0);
    ev(CONSUMER, HISTORY_KAFKA_REREAD, 0, 0, 0, 0);
}

static const char *const all_checks[] = {"kafka-no-phantom-reads", "kafka-offset-unique",
                                         "kafka-order", "kafka-acked-durable"};

TEST(good_history_passes_every_checker)
{
    start(NEVER);
    produce(1, 0xa1, 0);
    produce(2, 0xa2, 1);
    read_record(0, 0xa1);
    read_record(1, 0xa2);
    struct check_outcome outcome;
    for (u32 i = 0; i < ARRAY_LEN(all_checks); i++) CHECK(run(all_checks[i], &outcome));
    CHECK(strstr(outcome.message, "LABELLED") == NULL);
    history_free(&history);
}

TEST(a_phantom_read_is_caught)
{
    start(NEVER);
    produce(1, 0xa1, 0);
    read_record(0, 0xa1);
    read_record(1, 0xbad);
    struct check_outcome outcome;
    CHECK(!run("kafka-no-phantom-reads", &outcome));
    CHECK_EQ_U64(outcome.event_index, history.count - 1);
    history_free(&history);
}

TEST(two_records_at_one_offset_are_caught)
{
    start(NEVER);
    produce(1, 0xa1, 0);
    produce(2, 0xa2, 0); /* The broker gave both the same offset, without any crash. */
    read_record(0, 0xa1);
    ev(CONSUMER, HISTORY_KAFKA_REREAD, 0, 0, 0, 0);
    read_record(0, 0xa2);
    struct check_outcome outcome;
    CHECK(!run("kafka-offset-unique", &outcome));
    CHECK(!run("kafka-order", &outcome));
    history_free(&history);
}

TEST(acknowledgements_out_of_send_order_are_caught)
{
    start(1);
    produce(1, 0xa1, 5);
    produce(2, 0xa2, 3);
    read_record(3, 0xa2);
    read_record(5, 0xa1);
    struct check_outcome outcome;
    CHECK(!run("kafka-order", &outcome));
    CHECK(run("kafka-offset-unique", &outcome));
    history_free(&history);
}

TEST(a_lost_acknowledged_record_fails_when_every_message_is_flushed)
{
    start(1);
    produce(1, 0xa1, 0);
    produce(2, 0xa2, 1);
    read_record(0, 0xa1);
    read_record(1, 0xa2);
    crash();
    read_record(0, 0xa1); /* Offset 1 is gone after the crash. */
    struct check_outcome outcome;
    CHECK(!run("kafka-acked-durable", &outcome));
    CHECK(strstr(outcome.message, "1 of 2") != NULL);
    history_free(&history);
}

TEST(a_loss_without_a_crash_fails_even_with_the_default_flush_policy)
{
    start(NEVER);
    produce(1, 0xa1, 0);
    produce(2, 0xa2, 1);
    read_record(0, 0xa1);
    struct check_outcome outcome;
    CHECK(!run("kafka-acked-durable", &outcome));
    history_free(&history);
}

TEST(a_loss_after_a_crash_is_labelled_with_the_default_flush_policy)
{
    start(NEVER);
    produce(1, 0xa1, 0);
    produce(2, 0xa2, 1);
    read_record(0, 0xa1);
    read_record(1, 0xa2);
    crash();
    produce(3, 0xa3, 1); /* Offset 1 reused: 0xa2 was never synced. */
    read_record(0, 0xa1);
    read_record(1, 0xa3);
    struct check_outcome outcome;
    CHECK(run("kafka-acked-durable", &outcome));
    CHECK(strstr(outcome.message, "LABELLED CONSEQUENCE: 1 of 3") != NULL);
    CHECK(strstr(outcome.message, "flush.messages is not 1 and there is no replica") != NULL);
    CHECK(run("kafka-offset-unique", &outcome));
    CHECK(strstr(outcome.message, "LABELLED") != NULL);
    CHECK(run("kafka-order", &outcome));
    CHECK(strstr(outcome.message, "LABELLED") != NULL);
    /* The same facts with every message flushed are failures. */
    history.events[0].a = 1;
    CHECK(!run("kafka-acked-durable", &outcome));
    CHECK(!run("kafka-offset-unique", &outcome));
    CHECK(!run("kafka-order", &outcome));
    history_free(&history);
}

TEST(a_record_read_twice_in_the_last_pass_is_caught)
{
    start(1);
    produce(1, 0xa1, 0);
    read_record(0, 0xa1);
    read_record(1, 0xa1); /* Duplicated at another offset. */
    struct check_outcome outcome;
    CHECK(!run("kafka-acked-durable", &outcome));
    CHECK(run("kafka-no-phantom-reads", &outcome));
    history_free(&history);
}

/* A retry after NOT_LEADER_OR_FOLLOWER may leave the first attempt in the log too: a second
 * copy is then labelled, but only beside the copy at the acknowledged offset. */
TEST(a_duplicate_after_a_not_leader_retry_is_labelled)
{
    start(1);
    ev(PRODUCER, HISTORY_KAFKA_SEND, 1, 0, 0xa1, 0);
    ev(PRODUCER, HISTORY_KAFKA_RETRIED, 1, 0, 6, 0);
    ev(PRODUCER, HISTORY_KAFKA_ACKED, 1, 0, 1, 0xa1);
    read_record(0, 0xa1); /* The first attempt, appended before the leader was deposed. */
    read_record(1, 0xa1);
    struct check_outcome outcome;
    CHECK(run("kafka-acked-durable", &outcome));
    CHECK(strstr(outcome.message, "LABELLED CONSEQUENCE") != NULL);
    start(1);
    ev(PRODUCER, HISTORY_KAFKA_SEND, 1, 0, 0xa1, 0);
    ev(PRODUCER, HISTORY_KAFKA_RETRIED, 1, 0, 6, 0);
    ev(PRODUCER, HISTORY_KAFKA_ACKED, 1, 0, 1, 0xa1);
    read_record(0, 0xa1); /* Not at the acknowledged offset at all: still a failure. */
    CHECK(!run("kafka-acked-durable", &outcome));
    history_free(&history);
}

/* A replicated cluster (3 replicas, min.insync.replicas 2, every message flushed). */
static void start_replicated(void)
{
    start(1);
    history.events[0].b = 3;
    history.events[0].d = 2;
}

/* Operation op sends checksum to partition 0 (bits: HISTORY_KAFKA_IDEMPOTENT or 0), times
 * out once and is resent (RETRIED, REQUEST_TIMED_OUT), then acknowledged at offset. */
static void produce_retried(u64 op, u64 checksum, u64 bits, u64 offset)
{
    ev(PRODUCER, HISTORY_KAFKA_SEND, op, 0, checksum, bits);
    ev(PRODUCER, HISTORY_KAFKA_RETRIED, op, 0, 7, 0);
    ev(PRODUCER, HISTORY_KAFKA_ACKED, op, 0, offset, checksum);
}

/* A leader (BROKER) wrote offsets first..last of partition 0 of the workload topic. */
static void leader_appended(u64 first, u64 last)
{
    struct history_replica_batch batch = {.leader_epoch = 1, .crc = 7, .record_count = 1,
                                          .role = HISTORY_REPLICA_LEADER};
    clock_ns += MS;
    struct history_event event = {.time_ns = clock_ns, .node = BROKER,
                                  .kind = HISTORY_REPLICA_APPENDED, .a = 0x70, .b = 0,
                                  .c = first, .d = last};
    history_append(&history, &event, (const u8 *)&batch, sizeof(batch));
}

static const char *const duplicate_checks[] = {"kafka-no-duplicates", "kafka-acked-durable",
                                               "kafka-order", "kafka-offset-unique",
                                               "kafka-no-phantom-reads"};

/* An idempotent producer's retry that its leader deduplicated: one copy, acknowledged at the
 * first write's offset; every checker passes and the retry is counted as deduplicated. */
TEST(an_idempotent_retry_written_once_passes)
{
    start_replicated();
    ev(PRODUCER, HISTORY_KAFKA_PRODUCER_ID, 1000, 0, 0, 0);
    produce(1, 0xa1, 0);
    ev(PRODUCER, HISTORY_KAFKA_SEND, 2, 0, 0xa2, HISTORY_KAFKA_IDEMPOTENT);
    leader_appended(1, 1); /* The first attempt, whose answer was lost. */
    ev(PRODUCER, HISTORY_KAFKA_RETRIED, 2, 0, 7, 0);
    ev(PRODUCER, HISTORY_KAFKA_ACKED, 2, 0, 1, 0xa2); /* The duplicate's answer: offset 1. */
    produce_retried(3, 0xa3, HISTORY_KAFKA_IDEMPOTENT, 2);
    read_record(0, 0xa1);
    read_record(1, 0xa2);
    read_record(2, 0xa3);
    struct check_outcome outcome;
    for (u32 i = 0; i < ARRAY_LEN(duplicate_checks); i++) {
        CHECK(run(duplicate_checks[i], &outcome));
        CHECK(strstr(outcome.message, "LABELLED") == NULL);
    }
    CHECK(run("kafka-no-duplicates", &outcome));
    CHECK(strstr(outcome.message, "2 sends retried (2 by idempotent producers, 2 of those") !=
          NULL);
    struct kafka_retry_counts counts;
    kafka_history_retry_counts(&history, &counts);
    CHECK_EQ_U64(counts.retried, 2);
    CHECK_EQ_U64(counts.retried_idempotent, 2);
    CHECK_EQ_U64(counts.deduplicated, 2);
    CHECK_EQ_U64(counts.duplicated, 0);
    history_free(&history);
}

/* The retry of an idempotent producer written a second time: a leader bug. */
TEST(an_idempotent_value_written_twice_fails)
{
    start_replicated();
    ev(PRODUCER, HISTORY_KAFKA_PRODUCER_ID, 1000, 0, 0, 0);
    ev(PRODUCER, HISTORY_KAFKA_SEND, 1, 0, 0xa1, HISTORY_KAFKA_IDEMPOTENT);
    leader_appended(0, 0);
    ev(PRODUCER, HISTORY_KAFKA_RETRIED, 1, 0, 7, 0);
    leader_appended(1, 1);
    ev(PRODUCER, HISTORY_KAFKA_ACKED, 1, 0, 1, 0xa1);
    read_record(0, 0xa1);
    read_record(1, 0xa1);
    struct check_outcome outcome;
    CHECK(!run("kafka-no-duplicates", &outcome));
    CHECK_EQ_U64(outcome.event_index, history.count - 1);
    CHECK(strstr(outcome.message, "is idempotent") != NULL);
    CHECK(strstr(outcome.message, "offsets 0 and 1") != NULL);
    /* No label for an idempotent producer's retry: read twice is a failure here too. */
    CHECK(!run("kafka-acked-durable", &outcome));
    struct kafka_retry_counts counts;
    kafka_history_retry_counts(&history, &counts);
    CHECK_EQ_U64(counts.deduplicated, 0); /* A leader wrote it after the retry. */
    CHECK_EQ_U64(counts.duplicated, 1);
    history_free(&history);
}

/* Without idempotence a retried value may be in the log twice: labelled, not failed; the same
 * copy of a value that was never retried fails. */
TEST(a_retried_value_without_idempotence_is_labelled)
{
    start_replicated();
    produce(1, 0xa1, 0);
    produce_retried(2, 0xa2, 0, 2);
    produce_retried(3, 0xa3, 0, 4);
    read_record(0, 0xa1);
    read_record(1, 0xa2); /* The first attempts, whose answers were lost. */
    read_record(2, 0xa2);
    read_record(3, 0xa3);
    read_record(4, 0xa3);
    struct check_outcome outcome;
    CHECK(run("kafka-no-duplicates", &outcome));
    CHECK(strstr(outcome.message, "LABELLED CONSEQUENCE: 2 records written twice because their "
                                  "producers retried without enable.idempotence") != NULL);
    CHECK(run("kafka-acked-durable", &outcome));
    CHECK(strstr(outcome.message, "LABELLED CONSEQUENCE: 2 of them") != NULL);
    CHECK(run("kafka-order", &outcome));
    /* A second copy of the value that was never retried. */
    read_record(5, 0xa1);
    CHECK(!run("kafka-no-duplicates", &outcome));
    CHECK(strstr(outcome.message, "never retried") != NULL);
    history_free(&history);
}

/* Only each consumer's last pass counts: a value read before a REREAD and again after it at
 * another offset (the log was cut and rewritten) is no duplicate; re-fetching one offset is
 * none either. */
TEST(duplicates_are_judged_on_the_last_pass)
{
    start_replicated();
    ev(PRODUCER, HISTORY_KAFKA_SEND, 1, 0, 0xa1, HISTORY_KAFKA_IDEMPOTENT);
    ev(PRODUCER, HISTORY_KAFKA_UNKNOWN, 1, 0, 7, 0);
    read_record(3, 0xa1);
    ev(CONSUMER, HISTORY_KAFKA_REREAD, 0, 0, 0, 0);
    read_record(0, 0xa1);
    read_record(0, 0xa1);
    struct check_outcome outcome;
    CHECK(run("kafka-no-duplicates", &outcome));
    read_record(1, 0xbad); /* Never sent, read twice: not labelled either. */
    read_record(2, 0xbad);
    CHECK(!run("kafka-no-duplicates", &outcome));
    CHECK(strstr(outcome.message, "no producer ever sent it") != NULL);
    history_free(&history);
}

static const struct test_case tests[] = {
    {"an_idempotent_retry_written_once_passes", an_idempotent_retry_written_once_passes},
    {"an_idempotent_value_written_twice_fails", an_idempotent_value_written_twice_fails},
    {"a_retried_value_without_idempotence_is_labelled",
     a_retried_value_without_idempotence_is_labelled},
    {"duplicates_are_judged_on_the_last_pass", duplicates_are_judged_on_the_last_pass},
    {"a_duplicate_after_a_not_leader_retry_is_labelled",
     a_duplicate_after_a_not_leader_retry_is_labelled},
    {"good_history_passes_every_checker", good_history_passes_every_checker},
    {"a_phantom_read_is_caught", a_phantom_read_is_caught},
    {"two_records_at_one_offset_are_caught", two_records_at_one_offset_are_caught},
    {"acknowledgements_out_of_send_order_are_caught",
     acknowledgements_out_of_send_order_are_caught},
    {"a_lost_acknowledged_record_fails_when_every_message_is_flushed",
     a_lost_acknowledged_record_fails_when_every_message_is_flushed},
    {"a_loss_without_a_crash_fails_even_with_the_default_flush_policy",
     a_loss_without_a_crash_fails_even_with_the_default_flush_policy},
    {"a_loss_after_a_crash_is_labelled_with_the_default_flush_policy",
     a_loss_after_a_crash_is_labelled_with_the_default_flush_policy},
    {"a_record_read_twice_in_the_last_pass_is_caught",
     a_record_read_twice_in_the_last_pass_is_caught},
};
TEST_MAIN(tests)
