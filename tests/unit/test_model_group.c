/* test_model_group.c: crafted histories for the consumer-group checkers
 * (model/group_checkers.c). Each checker passes a correct history (with the legitimate oddities
 * of Kafka's groups: commits in flight across a rebalance, zombies refused, duplicates) and
 * fails the history that breaks its rule; each labelled loss is shown passing with its excuse
 * (a broker crash while __consumer_offsets may lose committed records) and failing without it
 * (the same crash with every message flushed, or no crash at all). */
#include "test.h"

#include "../../model/history.h"

#define MS (1000ull * 1000ull)
#define BROKER 1u
#define PRODUCER 1001u
#define A 1011u /* Group members. */
#define B 1012u
#define NEVER ((u64)INT64_MAX)
#define NONE UINT64_MAX
#define ILLEGAL_GENERATION 22u
#define REQUEST_TIMED_OUT 7u
#define UNKNOWN_OUTCOME 0xffffu

static struct history history;
static u64 clock_ns;

static u32 ev(u32 node, u32 kind, u64 a, u64 b, u64 c, u64 d)
{
    clock_ns += MS;
    struct history_event event = {.time_ns = clock_ns, .node = node, .kind = kind,
                                  .a = a, .b = b, .c = c, .d = d};
    history_append(&history, &event, NULL, 0);
    return history.count - 1;
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

static bool labelled(const struct check_outcome *outcome)
{
    return outcome->passed && strstr(outcome->message, "LABELLED") != NULL;
}

/* One broker whose partitions have `replicas` replicas, flushing every `flush` messages, with
 * min.insync.replicas 2 (1 when unreplicated). */
static void start(u64 flush, u64 replicas)
{
    history_free(&history);
    history_init(&history);
    clock_ns = 0;
    ev(BROKER, HISTORY_KAFKA_BROKER_CONFIG, flush, replicas, 0, replicas > 1 ? 2 : 1);
}

static void lossy(void) { start(NEVER, 1); }    /* Kafka's default flush, no replica. */
static void flushed(void) { start(1, 1); }      /* Every message synced: a crash loses nothing. */

static void crash_broker(void)
{
    ev(0, HISTORY_FAULT, HISTORY_FAULT_CRASH, BROKER, 0, 1);
    ev(BROKER, HISTORY_NODE_START, 0, 0, 0, 0);
}

static u32 assigned(u32 member, u64 generation, u64 partitions)
{
    ev(member, HISTORY_GROUP_JOINED, generation, member == A, HISTORY_GROUP_EAGER, 2);
    return ev(member, HISTORY_GROUP_ASSIGNED, generation, partitions, 0, 0);
}

static u32 commit(u32 member, u64 generation, u64 partition, u64 offset)
{
    return ev(member, HISTORY_GROUP_COMMIT, generation, partition, offset, 0);
}

static u32 committed(u32 member, u64 generation, u64 partition, u64 offset)
{
    return ev(member, HISTORY_GROUP_COMMITTED, generation, partition, offset, 0);
}

static u32 commit_failed(u32 member, u64 generation, u64 partition, u64 offset, u64 error)
{
    return ev(member, HISTORY_GROUP_COMMIT_FAILED, generation, partition, offset, error);
}

/* An offset fetch sent now and answered a millisecond later with `offset`. */
static u32 fetched(u32 member, u64 generation, u64 partition, u64 offset)
{
    return ev(member, HISTORY_GROUP_OFFSET_FETCHED, generation, partition, offset,
              clock_ns + 1);
}

static u32 position(u32 member, u64 partition, u64 offset, u64 generation)
{
    return ev(member, HISTORY_GROUP_POSITION, partition, offset, generation, 0);
}

static u32 read_record(u32 member, u64 partition, u64 offset)
{
    return ev(member, HISTORY_KAFKA_READ, partition, offset, 0xc0 + partition * 100 + offset, 0);
}

static void produce(u64 op, u64 partition, u64 offset)
{
    ev(PRODUCER, HISTORY_KAFKA_SEND, op, partition, 0xc0 + partition * 100 + offset, 0);
    ev(PRODUCER, HISTORY_KAFKA_ACKED, op, partition, offset, 0xc0 + partition * 100 + offset);
}

/* ===== group-single-owner ===== */

TEST(single_owner_passes_disjoint_generations)
{
    flushed();
    assigned(A, 1, 0x3);
    assigned(B, 1, 0xc);
    assigned(A, 2, 0x1);
    assigned(B, 2, 0xe);
    assigned(A, 2, 0x1); /* A static member back from a restart, told its part again. */
    struct check_outcome outcome;
    CHECK(run("group-single-owner", &outcome));
    CHECK(!labelled(&outcome));
    history_free(&history);
}

TEST(single_owner_fails_two_owners_in_one_generation)
{
    flushed();
    assigned(A, 1, 0x3);
    u32 second = assigned(B, 1, 0x2);
    struct check_outcome outcome;
    CHECK(!run("group-single-owner", &outcome));
    CHECK_EQ_U64(outcome.event_index, second);
    /* Owning a partition in different generations is a rebalance, not two owners. */
    flushed();
    assigned(A, 1, 0x3);
    assigned(B, 2, 0x3);
    CHECK(run("group-single-owner", &outcome));
    history_free(&history);
}

/* The coordinator lost generation 1's record in a crash and handed number 1 out again. */
static void generation_reused(void (*configure)(void), bool crash)
{
    configure();
    assigned(A, 1, 0x3);
    if (crash) crash_broker();
    assigned(B, 1, 0x3);
}

TEST(single_owner_labels_a_generation_reused_after_a_lossy_crash)
{
    struct check_outcome outcome;
    generation_reused(lossy, true);
    CHECK(run("group-single-owner", &outcome));
    CHECK(labelled(&outcome));
    generation_reused(flushed, true); /* Without the excuse: nothing was lost. */
    CHECK(!run("group-single-owner", &outcome));
    generation_reused(lossy, false);
    CHECK(!run("group-single-owner", &outcome));
    history_free(&history);
}

/* ===== group-fenced-commits ===== */

TEST(fenced_commits_pass_in_flight_and_refused_commits)
{
    flushed();
    assigned(A, 1, 0x1);
    commit(A, 1, 0, 10);      /* Sent in generation 1... */
    assigned(B, 2, 0x1);      /* ...the rebalance completes meanwhile... */
    committed(A, 1, 0, 10);   /* ...and its answer arrives late: it was on time. */
    commit(A, 1, 0, 12);      /* The zombie's stale commit is sent and refused. */
    commit_failed(A, 1, 0, 12, ILLEGAL_GENERATION);
    commit(A, 1, 0, 13);      /* Another is never answered. */
    commit(B, 2, 0, 10);
    committed(B, 2, 0, 10);
    struct check_outcome outcome;
    CHECK(run("group-fenced-commits", &outcome));
    CHECK(!labelled(&outcome));
    history_free(&history);
}

TEST(fenced_commits_fail_a_stale_commit_acknowledged)
{
    flushed();
    assigned(A, 1, 0x1);
    assigned(B, 2, 0x1);
    commit(A, 1, 0, 12);
    u32 ack = committed(A, 1, 0, 12);
    struct check_outcome outcome;
    CHECK(!run("group-fenced-commits", &outcome));
    CHECK_EQ_U64(outcome.event_index, ack);
    CHECK(strstr(outcome.message, "ILLEGAL_GENERATION") != NULL);
    history_free(&history);
}

TEST(fenced_commits_fail_an_answer_never_sent)
{
    flushed();
    assigned(A, 1, 0x1);
    committed(A, 1, 0, 3);
    struct check_outcome outcome;
    CHECK(!run("group-fenced-commits", &outcome));
    history_free(&history);
}

static void stale_commit_after(void (*configure)(void), bool crash)
{
    configure();
    assigned(A, 1, 0x1);
    assigned(B, 2, 0x1);
    if (crash) crash_broker(); /* Generation 2's record may be gone with it. */
    commit(A, 1, 0, 12);
    committed(A, 1, 0, 12);
}

TEST(fenced_commits_label_a_lost_generation)
{
    struct check_outcome outcome;
    stale_commit_after(lossy, true);
    CHECK(run("group-fenced-commits", &outcome));
    CHECK(labelled(&outcome));
    stale_commit_after(flushed, true);
    CHECK(!run("group-fenced-commits", &outcome));
    stale_commit_after(lossy, false);
    CHECK(!run("group-fenced-commits", &outcome));
    history_free(&history);
}

/* ===== group-commit-durable ===== */

TEST(commit_durable_passes_what_was_acknowledged_or_more)
{
    flushed();
    assigned(A, 1, 0x1);
    commit(A, 1, 0, 10);
    fetched(B, 1, 0, NONE); /* Sent before the acknowledgement: either answer is right. */
    committed(A, 1, 0, 10);
    fetched(B, 2, 0, 10);
    commit(A, 1, 0, 14);
    committed(A, 1, 0, 14);
    fetched(B, 2, 0, 20); /* More than acknowledged: an unknown commit may have landed. */
    struct check_outcome outcome;
    CHECK(run("group-commit-durable", &outcome));
    CHECK(!labelled(&outcome));
    history_free(&history);
}

TEST(commit_durable_fails_a_lower_or_missing_offset)
{
    struct check_outcome outcome;
    flushed();
    assigned(A, 1, 0x1);
    commit(A, 1, 0, 10);
    committed(A, 1, 0, 10);
    u32 fetch = fetched(B, 2, 0, 4);
    CHECK(!run("group-commit-durable", &outcome));
    CHECK_EQ_U64(outcome.event_index, fetch);
    flushed();
    assigned(A, 1, 0x1);
    commit(A, 1, 0, 10);
    committed(A, 1, 0, 10);
    fetched(B, 2, 0, NONE);
    CHECK(!run("group-commit-durable", &outcome));
    history_free(&history);
}

TEST(commit_durable_accepts_a_lower_commit_that_may_have_landed_later)
{
    struct check_outcome outcome;
    /* A commit of 4 timed out; it may have been appended and applied after the commit of 10
     * (the next coordinator loads whatever the log holds). */
    flushed();
    assigned(A, 1, 0x1);
    commit(A, 1, 0, 4);
    commit(B, 1, 0, 10);
    committed(B, 1, 0, 10);
    commit_failed(A, 1, 0, 4, REQUEST_TIMED_OUT);
    fetched(B, 2, 0, 4);
    CHECK(run("group-commit-durable", &outcome));
    /* Refused outright (ILLEGAL_GENERATION): it never landed, so it explains nothing. */
    flushed();
    assigned(A, 1, 0x1);
    commit(A, 1, 0, 4);
    commit(B, 1, 0, 10);
    committed(B, 1, 0, 10);
    commit_failed(A, 1, 0, 4, ILLEGAL_GENERATION);
    fetched(B, 2, 0, 4);
    CHECK(!run("group-commit-durable", &outcome));
    /* Acknowledged before the commit of 10 was even sent: it landed first. */
    flushed();
    assigned(A, 1, 0x1);
    commit(A, 1, 0, 4);
    committed(A, 1, 0, 4);
    commit(B, 1, 0, 10);
    committed(B, 1, 0, 10);
    fetched(B, 2, 0, 4);
    CHECK(!run("group-commit-durable", &outcome));
    /* An unknown outcome sent after the fetch was answered cannot explain it either. */
    flushed();
    assigned(A, 1, 0x1);
    commit(B, 1, 0, 10);
    committed(B, 1, 0, 10);
    fetched(B, 2, 0, 4);
    commit(A, 1, 0, 4);
    commit_failed(A, 1, 0, 4, UNKNOWN_OUTCOME);
    CHECK(!run("group-commit-durable", &outcome));
    history_free(&history);
}

static void offset_lost(void (*configure)(void), bool crash)
{
    configure();
    assigned(A, 1, 0x1);
    commit(A, 1, 0, 10);
    committed(A, 1, 0, 10);
    if (crash) crash_broker();
    fetched(B, 2, 0, NONE);
}

TEST(commit_durable_labels_an_offset_lost_in_a_lossy_crash)
{
    struct check_outcome outcome;
    offset_lost(lossy, true);
    CHECK(run("group-commit-durable", &outcome));
    CHECK(labelled(&outcome));
    offset_lost(flushed, true);
    CHECK(!run("group-commit-durable", &outcome));
    offset_lost(lossy, false);
    CHECK(!run("group-commit-durable", &outcome));
    history_free(&history);
}

/* A broker is cut off (a partition naming it), so a deposed coordinator may answer from its
 * memory; after the heal and the liveness bound it must know better. */
static void stale_coordinator(bool cut_off, bool after_bound)
{
    flushed();
    if (cut_off) ev(0, HISTORY_FAULT, HISTORY_FAULT_PARTITION, BROKER, 0, 1);
    assigned(A, 1, 0x1);
    commit(A, 1, 0, 10);
    committed(A, 1, 0, 10);
    ev(0, HISTORY_HEALED, 5 * MS, 0, 0, 0);
    if (after_bound) clock_ns += 10 * MS;
    fetched(B, 2, 0, 6);
}

TEST(commit_durable_labels_a_deposed_coordinator_until_the_bound)
{
    struct check_outcome outcome;
    stale_coordinator(true, false);
    CHECK(run("group-commit-durable", &outcome));
    CHECK(labelled(&outcome));
    stale_coordinator(false, false);
    CHECK(!run("group-commit-durable", &outcome));
    stale_coordinator(true, true);
    CHECK(!run("group-commit-durable", &outcome));
    /* A client cut off is no coordinator. */
    flushed();
    ev(0, HISTORY_FAULT, HISTORY_FAULT_PARTITION, A, 0, 1);
    assigned(A, 1, 0x1);
    commit(A, 1, 0, 10);
    committed(A, 1, 0, 10);
    fetched(B, 2, 0, 6);
    CHECK(!run("group-commit-durable", &outcome));
    history_free(&history);
}

/* ===== group-at-least-once ===== */

/* Two partitions, two records each; A owns 0 and B owns 1 in generation 2. */
static void two_partitions(void (*configure)(void))
{
    configure();
    assigned(A, 1, 0x3);
    produce(1, 0, 0);
    produce(2, 1, 0);
    produce(3, 0, 1);
    produce(4, 1, 1);
    read_record(A, 0, 0);
    read_record(A, 1, 0);
    assigned(A, 2, 0x1);
    assigned(B, 2, 0x2);
    read_record(A, 0, 1);
    read_record(B, 1, 0); /* Read again after the rebalance: at least once. */
}

TEST(at_least_once_passes_when_everything_is_read_and_the_group_settles)
{
    two_partitions(flushed);
    read_record(B, 1, 1);
    struct check_outcome outcome;
    CHECK(run("group-at-least-once", &outcome));
    CHECK(!labelled(&outcome));
    history_free(&history);
}

TEST(at_least_once_fails_an_unread_record)
{
    two_partitions(flushed);
    struct check_outcome outcome;
    CHECK(!run("group-at-least-once", &outcome));
    CHECK(strstr(outcome.message, "never read") != NULL);
    /* Labelled when a crash of a broker that may lose acknowledged records came first. */
    two_partitions(lossy);
    crash_broker();
    CHECK(run("group-at-least-once", &outcome));
    CHECK(labelled(&outcome));
    two_partitions(flushed);
    crash_broker();
    CHECK(!run("group-at-least-once", &outcome));
    history_free(&history);
}

TEST(at_least_once_fails_a_group_that_does_not_settle)
{
    struct check_outcome outcome;
    /* The last generation leaves partition 1 without an owner. */
    two_partitions(flushed);
    read_record(B, 1, 1);
    assigned(A, 3, 0x1);
    CHECK(!run("group-at-least-once", &outcome));
    /* B gives partition 1 up (a cooperative revocation) and no generation follows. */
    two_partitions(flushed);
    read_record(B, 1, 1);
    ev(B, HISTORY_GROUP_REVOKED, 2, 0x2, 0, 0);
    CHECK(!run("group-at-least-once", &outcome));
    /* B crashes and no rebalance follows. */
    two_partitions(flushed);
    read_record(B, 1, 1);
    ev(0, HISTORY_FAULT, HISTORY_FAULT_CLIENT_CRASH, B, 0, 1);
    CHECK(!run("group-at-least-once", &outcome));
    history_free(&history);
}

TEST(at_least_once_judges_the_settling_time)
{
    struct check_outcome outcome;
    for (u32 late = 0; late <= 1; late++) {
        flushed();
        produce(1, 0, 0);
        read_record(A, 0, 0);
        ev(0, HISTORY_HEALED, 5 * MS, 0, 0, 0);
        if (late) clock_ns += 10 * MS;
        assigned(A, 1, 0x1);
        assigned(A, 1, 0x1); /* Told again much later: the generation was reached before. */
        clock_ns += 100 * MS;
        assigned(A, 1, 0x1);
        CHECK(run("group-at-least-once", &outcome) == (late == 0));
    }
    history_free(&history);
}

/* ===== group-no-skip ===== */

TEST(no_skip_passes_gapless_reads_and_commits_of_what_was_read)
{
    flushed();
    assigned(A, 1, 0x1);
    position(A, 0, 0, 1);
    read_record(A, 0, 0);
    read_record(A, 0, 1);
    read_record(A, 0, 2);
    commit(A, 1, 0, 3);
    read_record(A, 0, 3);
    assigned(B, 2, 0x1);
    position(B, 0, 3, 2); /* From the committed offset: offset 3 is read twice. */
    read_record(B, 0, 3);
    read_record(B, 0, 3); /* Fetched again (a retry): no gap. */
    read_record(B, 0, 4);
    commit(B, 2, 0, 5);
    read_record(A, 0, 4); /* The zombie reads on before it learns it was fenced. */
    struct check_outcome outcome;
    CHECK(run("group-no-skip", &outcome));
    CHECK(!labelled(&outcome));
    history_free(&history);
}

TEST(no_skip_fails_a_gap_a_commit_ahead_and_a_start_ahead)
{
    struct check_outcome outcome;
    flushed();
    position(A, 0, 0, 1);
    read_record(A, 0, 0);
    u32 gap = read_record(A, 0, 2);
    CHECK(!run("group-no-skip", &outcome));
    CHECK_EQ_U64(outcome.event_index, gap);

    flushed();
    position(A, 0, 0, 1);
    read_record(A, 0, 0);
    u32 ahead = commit(A, 1, 0, 5);
    CHECK(!run("group-no-skip", &outcome));
    CHECK_EQ_U64(outcome.event_index, ahead);

    flushed();
    position(A, 0, 0, 1);
    read_record(A, 0, 0);
    u32 start_ahead = position(B, 0, 7, 2);
    CHECK(!run("group-no-skip", &outcome));
    CHECK_EQ_U64(outcome.event_index, start_ahead);

    flushed();
    commit(A, 1, 0, 0); /* Never started reading partition 0. */
    CHECK(!run("group-no-skip", &outcome));

    /* A restarted member has forgotten where it was: it must start again before committing. */
    flushed();
    position(A, 0, 0, 1);
    read_record(A, 0, 0);
    ev(0, HISTORY_FAULT, HISTORY_FAULT_CLIENT_CRASH, A, 0, 1);
    commit(A, 1, 0, 1);
    CHECK(!run("group-no-skip", &outcome));
    history_free(&history);
}

static void start_beyond_after(void (*configure)(void), bool crash)
{
    configure();
    position(A, 0, 0, 1);
    read_record(A, 0, 0);
    if (crash) crash_broker(); /* The log may have lost its head and start later. */
    ev(A, HISTORY_KAFKA_REREAD, 0, 6, 0, 0);
    read_record(A, 0, 6);
}

TEST(no_skip_labels_a_log_that_starts_later_after_a_lossy_crash)
{
    struct check_outcome outcome;
    start_beyond_after(lossy, true);
    CHECK(run("group-no-skip", &outcome));
    CHECK(labelled(&outcome));
    start_beyond_after(flushed, true);
    CHECK(!run("group-no-skip", &outcome));
    start_beyond_after(lossy, false);
    CHECK(!run("group-no-skip", &outcome));
    history_free(&history);
}

/* ===== group-no-rebalance ===== */

static void joined(u32 member, u64 generation, u64 members)
{
    ev(member, HISTORY_GROUP_JOINED, generation, member == A, HISTORY_GROUP_EAGER, members);
    ev(member, HISTORY_GROUP_ASSIGNED, generation, member == A ? 0x1 : 0x2, 0, 0);
}

TEST(no_rebalance_passes_a_static_restart_and_fails_a_new_generation)
{
    struct check_outcome outcome;
    flushed();
    joined(A, 1, 1); /* A alone first: the group is not complete yet. */
    joined(A, 2, 2);
    joined(B, 2, 2);
    ev(0, HISTORY_FAULT, HISTORY_FAULT_CLIENT_CRASH, B, 0, 1);
    joined(B, 2, 2); /* B back under its instance id: the same generation. */
    CHECK(run("group-no-rebalance", &outcome));
    u32 third = 0;
    flushed();
    joined(A, 1, 2);
    joined(B, 1, 2);
    joined(A, 2, 2);
    third = history.count - 1;
    CHECK(!run("group-no-rebalance", &outcome));
    CHECK_EQ_U64(outcome.event_index, third);
    flushed();
    joined(A, 1, 1); /* B never joins alongside A. */
    ev(B, HISTORY_GROUP_COMMIT, 1, 1, 0, 0);
    CHECK(!run("group-no-rebalance", &outcome));
    history_free(&history);
}

TEST(group_checkers_are_registered)
{
    static const char *const names[] = {"group-single-owner", "group-fenced-commits",
                                        "group-commit-durable", "group-at-least-once",
                                        "group-no-skip", "group-no-rebalance"};
    for (u32 i = 0; i < ARRAY_LEN(names); i++) CHECK(model_checker_find(names[i]) != NULL);
}

static const struct test_case tests[] = {
    {"single_owner_passes_disjoint_generations", single_owner_passes_disjoint_generations},
    {"single_owner_fails_two_owners_in_one_generation",
     single_owner_fails_two_owners_in_one_generation},
    {"single_owner_labels_a_generation_reused_after_a_lossy_crash",
     single_owner_labels_a_generation_reused_after_a_lossy_crash},
    {"fenced_commits_pass_in_flight_and_refused_commits",
     fenced_commits_pass_in_flight_and_refused_commits},
    {"fenced_commits_fail_a_stale_commit_acknowledged",
     fenced_commits_fail_a_stale_commit_acknowledged},
    {"fenced_commits_fail_an_answer_never_sent", fenced_commits_fail_an_answer_never_sent},
    {"fenced_commits_label_a_lost_generation", fenced_commits_label_a_lost_generation},
    {"commit_durable_passes_what_was_acknowledged_or_more",
     commit_durable_passes_what_was_acknowledged_or_more},
    {"commit_durable_fails_a_lower_or_missing_offset",
     commit_durable_fails_a_lower_or_missing_offset},
    {"commit_durable_accepts_a_lower_commit_that_may_have_landed_later",
     commit_durable_accepts_a_lower_commit_that_may_have_landed_later},
    {"commit_durable_labels_an_offset_lost_in_a_lossy_crash",
     commit_durable_labels_an_offset_lost_in_a_lossy_crash},
    {"commit_durable_labels_a_deposed_coordinator_until_the_bound",
     commit_durable_labels_a_deposed_coordinator_until_the_bound},
    {"at_least_once_passes_when_everything_is_read_and_the_group_settles",
     at_least_once_passes_when_everything_is_read_and_the_group_settles},
    {"at_least_once_fails_an_unread_record", at_least_once_fails_an_unread_record},
    {"at_least_once_fails_a_group_that_does_not_settle",
     at_least_once_fails_a_group_that_does_not_settle},
    {"at_least_once_judges_the_settling_time", at_least_once_judges_the_settling_time},
    {"no_skip_passes_gapless_reads_and_commits_of_what_was_read",
     no_skip_passes_gapless_reads_and_commits_of_what_was_read},
    {"no_skip_fails_a_gap_a_commit_ahead_and_a_start_ahead",
     no_skip_fails_a_gap_a_commit_ahead_and_a_start_ahead},
    {"no_skip_labels_a_log_that_starts_later_after_a_lossy_crash",
     no_skip_labels_a_log_that_starts_later_after_a_lossy_crash},
    {"no_rebalance_passes_a_static_restart_and_fails_a_new_generation",
     no_rebalance_passes_a_static_restart_and_fails_a_new_generation},
    {"group_checkers_are_registered", group_checkers_are_registered},
};
TEST_MAIN(tests)
