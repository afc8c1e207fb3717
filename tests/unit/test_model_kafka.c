/* test_model_kafka.c: crafted histories for the Kafka checkers (model/kafka_checkers.c). A good
 * history passes all four; each checker is shown failing on the history that breaks its
 * invariant, and a loss after a crash is labelled (passed, with the reason) only when the
 * broker does not flush every message. */
#include "test.h"

#include "../../model/history.h"

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

static const struct test_case tests[] = {
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
