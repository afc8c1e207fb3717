/* test_model_replication.c: crafted histories for the replication checkers
 * (model/replication_checkers.c) and the Kafka checkers' verdict with replicas
 * (model/kafka_checkers.c). Three brokers replicate one partition; a correct history (with a
 * leader crash that loses the leader's unsynced tail, a follower that truncates a divergent
 * uncommitted batch, and an ISR that shrinks and grows back) passes every checker; each checker
 * then fails on a history planted with the violation it guards against, and the losses that an
 * unclean election or page-cache crashes of every replica explain are labelled instead. */
#include "test.h"

#include "../../model/history.h"

#define MS (1000ull * 1000ull)
#define NEVER ((u64)INT64_MAX)
#define TOPIC 0x7777u
#define PRODUCER 1001u
#define CONSUMER 1002u
#define ALL3 0xeu /* Brokers 1, 2, 3. */

static struct history history;
static u64 clock_ns;
static u64 meta_offset;

static void ev_data(u32 node, u32 kind, u64 a, u64 b, u64 c, u64 d, const void *data, u32 size)
{
    clock_ns += MS;
    struct history_event event = {.time_ns = clock_ns, .node = node, .kind = kind,
                                  .a = a, .b = b, .c = c, .d = d};
    history_append(&history, &event, data, size);
}

static void ev(u32 node, u32 kind, u64 a, u64 b, u64 c, u64 d)
{
    ev_data(node, kind, a, b, c, d, NULL, 0);
}

/* The metadata: every broker applies the next entry, one partition record. */
static void meta(i32 leader, i32 leader_epoch, i32 partition_epoch, u64 isr)
{
    struct history_partition_state state = {.leader = leader, .leader_epoch = leader_epoch,
                                            .partition_epoch = partition_epoch, .isr = isr,
                                            .replicas = ALL3};
    meta_offset++;
    for (u32 node = 1; node <= 3; node++) {
        ev(node, HISTORY_QUORUM_APPLIED, meta_offset, 0, 0, 0);
        ev_data(node, HISTORY_METADATA_PARTITION, meta_offset, 0, TOPIC, 0, &state,
                sizeof(state));
    }
}

static void start_with(u64 flush_messages, u64 min_insync, u64 replicas)
{
    history_free(&history);
    history_init(&history);
    clock_ns = 0;
    meta_offset = 0;
    for (u32 node = 1; node <= 3; node++) {
        ev(node, HISTORY_KAFKA_BROKER_CONFIG, flush_messages, replicas, 0, min_insync);
    }
    for (u32 node = 1; node <= 3; node++) ev(node, HISTORY_NODE_START, 0, 0, 0, 0);
    meta(1, 0, 0, ALL3);
    for (u32 node = 1; node <= 3; node++) ev(node, HISTORY_REPLICA_OPENED, TOPIC, 0, 0, 0);
}

static void start(void) { start_with(NEVER, 2, 3); }

static void append(u32 node, u64 base, u64 last, i32 epoch, u32 crc, u32 role)
{
    struct history_replica_batch batch = {.leader_epoch = epoch, .crc = crc,
                                          .record_count = (u32)(last - base + 1), .role = role};
    ev_data(node, HISTORY_REPLICA_APPENDED, TOPIC, 0, base, last, &batch, sizeof(batch));
}

static void lead(u32 node, u64 base, u64 last, i32 epoch, u32 crc)
{
    append(node, base, last, epoch, crc, HISTORY_REPLICA_LEADER);
}

static void copy(u32 node, u64 base, u64 last, i32 epoch, u32 crc)
{
    append(node, base, last, epoch, crc, HISTORY_REPLICA_FOLLOWER);
}

static void hw(u32 node, u64 value, u32 epoch, u32 role)
{
    ev(node, HISTORY_REPLICA_HIGH_WATERMARK, TOPIC, 0, value, epoch | (u64)role << 32);
}

static void truncate_to(u32 node, u64 end)
{
    ev(node, HISTORY_REPLICA_TRUNCATED, TOPIC, 0, end, 0);
}

static void crash(u32 node) { ev(0, HISTORY_FAULT, HISTORY_FAULT_CRASH, node, 0, 1); }

/* The metadata fences broker (its session expired): every broker applies the record. */
static void fence(u32 broker)
{
    meta_offset++;
    for (u32 node = 1; node <= 3; node++) {
        ev(node, HISTORY_QUORUM_APPLIED, meta_offset, 0, 0, 0);
        ev(node, HISTORY_METADATA_BROKER, meta_offset, 0, broker,
           HISTORY_BROKER_REGISTERED | HISTORY_BROKER_FENCED);
    }
}

/* The node starts again and its log opens ending at end. */
static void restart(u32 node, u64 end)
{
    ev(node, HISTORY_NODE_START, 0, 0, 0, 0);
    ev(node, HISTORY_REPLICA_OPENED, TOPIC, 0, end, 0);
}

static bool run(const char *name, struct check_outcome *outcome)
{
    const struct checker *checker = model_checker_find(name);
    ASSERT(checker != NULL);
    struct check_params params = {.liveness_bound_ns = 100 * MS};
    memset(outcome, 0, sizeof(*outcome));
    checker->check(&history, &params, outcome);
    if (getenv("SHOW") != NULL) printf("  %s: %s\n", name, outcome->message);
    return outcome->passed;
}

static bool labelled(const struct check_outcome *outcome)
{
    return outcome->passed && strncmp(outcome->message, "LABELLED CONSEQUENCE", 20) == 0;
}

/* Leader 1 of epoch 0 commits offsets 0 and 1 on all three replicas. */
static void committed_prefix(void)
{
    lead(1, 0, 0, 0, 0xa0);
    copy(2, 0, 0, 0, 0xa0);
    copy(3, 0, 0, 0, 0xa0);
    lead(1, 1, 1, 0, 0xa1);
    copy(2, 1, 1, 0, 0xa1);
    copy(3, 1, 1, 0, 0xa1);
    hw(1, 2, 0, HISTORY_REPLICA_LEADER);
    hw(2, 2, 0, HISTORY_REPLICA_FOLLOWER);
    hw(3, 2, 0, HISTORY_REPLICA_FOLLOWER);
}

/* The correct run: broker 3 copies an uncommitted batch at offset 2, the leader crashes and
 * loses its unsynced offset 1, broker 2 leads epoch 1 with a different offset 2 and commits it,
 * broker 3 truncates its divergent batch and copies the new one, broker 1 returns and fetches
 * what it lost, and the ISR grows back after the heal. */
static void good_history(void)
{
    start();
    committed_prefix();
    lead(1, 2, 2, 0, 0xa2);
    copy(3, 2, 2, 0, 0xa2);
    crash(1);
    meta(2, 1, 1, 0xc);
    lead(2, 2, 3, 1, 0xb2);
    hw(2, 2, 1, HISTORY_REPLICA_LEADER);
    truncate_to(3, 2);
    copy(3, 2, 3, 1, 0xb2);
    hw(2, 4, 1, HISTORY_REPLICA_LEADER);
    hw(3, 4, 1, HISTORY_REPLICA_FOLLOWER);
    restart(1, 1);
    copy(1, 1, 1, 0, 0xa1);
    copy(1, 2, 3, 1, 0xb2);
    hw(1, 4, 1, HISTORY_REPLICA_FOLLOWER);
    ev(0, HISTORY_HEALED, 100 * MS, 0, 0, 0);
    meta(2, 1, 2, ALL3);
}

static const char *const all_checks[] = {"replica-committed-agree", "replica-committed-kept",
                                         "replica-hw-monotonic", "replica-isr-converges"};

TEST(good_history_passes_every_checker)
{
    good_history();
    struct check_outcome outcome;
    for (u32 i = 0; i < ARRAY_LEN(all_checks); i++) {
        CHECK(run(all_checks[i], &outcome));
        CHECK(!labelled(&outcome));
    }
    CHECK(run("replica-committed-kept", &outcome));
    CHECK(strstr(outcome.message, "1 copies of committed batches lost") != NULL);
}

TEST(agree_fails_on_another_batch_copied_at_a_committed_offset)
{
    start();
    committed_prefix();
    copy(3, 2, 2, 0, 0xa2);
    truncate_to(3, 2); /* Uncommitted offset 2 goes: fine. */
    struct check_outcome outcome;
    CHECK(run("replica-committed-agree", &outcome));
    copy(3, 1, 1, 0, 0xbad); /* But offset 1 is committed as 0xa1. */
    CHECK(run("replica-committed-kept", &outcome) == false); /* It cut 0xa1 first. */
    CHECK(!run("replica-committed-agree", &outcome));
    CHECK(strstr(outcome.message, "appended offsets 1..1") != NULL);
}

/* KIP-101 scenario 2 (every replica restarts without committed offset 1 and a new leader writes
 * another batch there), with flush.messages=1 on every broker: the crashes must not have lost
 * offset 1, so the new batch contradicts the committed one. */
TEST(agree_tolerates_a_deposed_leader_appending_in_its_old_epoch)
{
    start();
    committed_prefix();
    meta(2, 1, 1, 0xc);
    lead(2, 2, 2, 1, 0xb2);
    copy(3, 2, 2, 1, 0xb2);
    hw(2, 3, 1, HISTORY_REPLICA_LEADER);
    lead(1, 2, 2, 0, 0xa2); /* Broker 1 has not heard of epoch 1 yet. */
    struct check_outcome outcome;
    CHECK(run("replica-committed-agree", &outcome));
    truncate_to(1, 2);
    lead(1, 2, 2, 1, 0xa2); /* But a batch of the committed epoch there is a second leader. */
    CHECK(!run("replica-committed-agree", &outcome));
    CHECK(strstr(outcome.message, "broker 1 appended offsets 2..2") != NULL);
}

/* A follower with a stale image may copy the deposed leader's batch too; counting it below its
 * high watermark is what fails. */
TEST(agree_tolerates_a_zombie_leaders_follower_until_it_counts_the_batch)
{
    start();
    committed_prefix();
    meta(2, 1, 1, 0x6);
    lead(2, 2, 2, 1, 0xb2);
    hw(2, 3, 1, HISTORY_REPLICA_LEADER); /* Committed by the epoch-1 leader. */
    lead(1, 2, 2, 0, 0xa2);              /* Broker 1 has not heard of epoch 1 yet, */
    copy(3, 2, 2, 0, 0xa2);              /* nor has broker 3, which follows it. */
    struct check_outcome outcome;
    CHECK(run("replica-committed-agree", &outcome));
    hw(3, 3, 0, HISTORY_REPLICA_FOLLOWER); /* Counting it as committed is the violation. */
    CHECK(!run("replica-committed-agree", &outcome));
}

TEST(agree_fails_when_a_new_leader_commits_another_batch)
{
    start_with(1, 2, 3);
    committed_prefix();
    crash(1);
    crash(2);
    crash(3);
    restart(2, 1);
    restart(1, 1);
    restart(3, 1);
    meta(2, 1, 1, ALL3);
    lead(2, 1, 1, 1, 0xb1);
    hw(2, 2, 1, HISTORY_REPLICA_LEADER);
    struct check_outcome outcome;
    CHECK(!run("replica-committed-agree", &outcome));
    CHECK(strstr(outcome.message, "two different batches committed") != NULL ||
          strstr(outcome.message, "never hold another batch") != NULL);
    CHECK(!run("replica-committed-kept", &outcome));
    CHECK(strstr(outcome.message, "flush.messages=1") != NULL);
}

TEST(the_same_loss_is_labelled_when_every_replica_lost_its_page_cache)
{
    start();
    committed_prefix();
    crash(1);
    crash(2);
    crash(3);
    restart(2, 1);
    restart(1, 1);
    restart(3, 1);
    meta(2, 1, 1, ALL3);
    lead(2, 1, 1, 1, 0xb1);
    hw(2, 2, 1, HISTORY_REPLICA_LEADER);
    struct check_outcome outcome;
    CHECK(labelled((run("replica-committed-agree", &outcome), &outcome)));
    CHECK(strstr(outcome.message, "lost them, in crashes") != NULL);
    CHECK(run("replica-committed-kept", &outcome));
}

TEST(a_single_replica_losing_its_page_cache_is_no_loss_but_its_truncation_is)
{
    start();
    committed_prefix();
    crash(1);
    restart(1, 1); /* Offset 1 lost here, still on 2 and 3. */
    struct check_outcome outcome;
    CHECK(run("replica-committed-kept", &outcome));
    CHECK(!labelled(&outcome));
    truncate_to(2, 1); /* A truncation below the committed end, with no excuse. */
    CHECK(!run("replica-committed-kept", &outcome));
    CHECK(strstr(outcome.message, "broker 2 truncated its log to offset 1") != NULL);
}

/* Every ISR member crashes after the commit; one that lost the batch in its page cache stays in
 * the ISR (the last members do) and leads: labelled. The same with a member that never crashed
 * left in the ISR is a failure (the controller should have elected that one). */
TEST(a_loss_by_an_isr_member_after_every_member_crashed_is_labelled)
{
    start();
    committed_prefix();
    meta(1, 0, 1, 0x6); /* ISR {1, 2}: broker 3 fell out. */
    crash(1);
    crash(2);
    restart(2, 1); /* Lost offset 1 (unsynced). */
    meta(2, 1, 2, 0x4);
    lead(2, 1, 1, 1, 0xb1);
    hw(2, 2, 1, HISTORY_REPLICA_LEADER);
    struct check_outcome outcome;
    CHECK(labelled((run("replica-committed-agree", &outcome), &outcome)));
    CHECK(strstr(outcome.message, "every in-sync replica crashed") != NULL);

    start();
    committed_prefix();
    meta(1, 0, 1, 0x6);
    crash(2); /* Broker 1 never crashes, yet broker 2 leads without the batch. */
    restart(2, 1);
    meta(2, 1, 2, 0x6);
    lead(2, 1, 1, 1, 0xb1);
    hw(2, 2, 1, HISTORY_REPLICA_LEADER);
    CHECK(!run("replica-committed-agree", &outcome));
}

/* The same loss when the lossy member comes back before its partner goes away (seed 5 of
 * kafka-replication-swarm): broker 1 loses offset 1 in a crash, with no controller to notice;
 * broker 2 crashes later keeping the batch (variant 3: its session expires in a pause), is
 * fenced out of the ISR, and broker 1, the last member, leads without it (seed 197). Labelled
 * once broker 2 goes. Not when broker 1 fetched the batch back before that, nor when a member
 * that never crashed nor was fenced was in the ISR since the loss (variant 2: broker 3,
 * dropped before broker 2's crash). */
TEST(a_loss_before_the_other_isr_members_crash_is_labelled_when_they_do)
{
    struct check_outcome outcome;
    for (u32 variant = 0; variant < 4; variant++) {
        start();
        committed_prefix();
        meta(1, 0, 1, variant == 2 ? ALL3 : 0x6);
        crash(1);
        restart(1, 1); /* Lost offset 1; broker 2 still holds it and has not crashed. */
        if (variant == 1) copy(1, 1, 1, 0, 0xa1);
        if (variant == 2) meta(1, 0, 2, 0x6); /* Broker 3 leaves the ISR, never crashing. */
        if (variant == 3) {
            fence(2);
        } else {
            crash(2);
            restart(2, 2); /* Kept offset 1. */
        }
        meta(1, 0, 3, 0x2);  /* Broker 2, fenced, leaves the ISR. */
        meta(-1, 1, 4, 0x2); /* Broker 1 re-registers: fenced, the ISR's last member. */
        meta(1, 2, 5, 0x2);  /* Unfenced: leads. */
        if (variant != 1) truncate_to(1, 1);
        lead(1, 1, 1, 2, 0xb1);
        hw(1, 2, 2, HISTORY_REPLICA_LEADER);
        truncate_to(2, 1);
        copy(2, 1, 1, 2, 0xb1);
        bool agree = run("replica-committed-agree", &outcome);
        if (variant == 0 || variant == 3) {
            CHECK(labelled(&outcome));
            CHECK(strstr(outcome.message, "every in-sync replica crashed") != NULL);
            CHECK(labelled((run("replica-committed-kept", &outcome), &outcome)));
        } else {
            CHECK(!agree);
            CHECK(!run("replica-committed-kept", &outcome));
        }
    }
}

/* A broker that does not report its log opening after a crash: its next append shows where the
 * crash cut it, which is a page-cache loss, not an overwrite. */
TEST(an_append_after_an_unreported_reopen_counts_as_the_crash)
{
    start();
    committed_prefix();
    crash(3);
    ev(3, HISTORY_NODE_START, 0, 0, 0, 0);
    copy(3, 1, 1, 0, 0xa1);
    struct check_outcome outcome;
    CHECK(run("replica-committed-kept", &outcome));
    CHECK(run("replica-committed-agree", &outcome));
    copy(2, 1, 1, 0, 0xa1); /* Broker 2 did not crash: that is an overwrite. */
    CHECK(!run("replica-committed-kept", &outcome));
    CHECK(strstr(outcome.message, "without truncating") != NULL);
}

TEST(kept_fails_when_a_follower_truncates_committed_data)
{
    start();
    committed_prefix();
    meta(3, 1, 1, ALL3);
    truncate_to(2, 0); /* KIP-101 scenario 1: truncating to a stale high watermark. */
    struct check_outcome outcome;
    CHECK(!run("replica-committed-kept", &outcome));
    CHECK(outcome.event_index == history.count - 1);
    CHECK(run("replica-committed-agree", &outcome));
}

TEST(kept_labels_a_loss_after_an_unclean_election)
{
    start();
    committed_prefix();
    meta(1, 0, 1, 0x2); /* The ISR shrinks to broker 1... */
    meta(3, 1, 2, 0x8); /* ...yet broker 3 is elected: unclean. */
    truncate_to(1, 1);
    struct check_outcome outcome;
    CHECK(run("replica-committed-kept", &outcome));
    CHECK(labelled(&outcome));
    CHECK(strstr(outcome.message, "unclean") != NULL);
}

TEST(hw_fails_when_a_leader_moves_it_back)
{
    start();
    committed_prefix();
    struct check_outcome outcome;
    CHECK(run("replica-hw-monotonic", &outcome));
    hw(1, 1, 0, HISTORY_REPLICA_LEADER);
    CHECK(!run("replica-hw-monotonic", &outcome));
    CHECK(strstr(outcome.message, "back from 2") != NULL);
}

TEST(hw_may_restart_lower_in_a_new_life_but_not_pass_the_log_end)
{
    start();
    committed_prefix();
    crash(1);
    restart(1, 2);
    hw(1, 1, 0, HISTORY_REPLICA_LEADER); /* A new life: its memory is gone. */
    struct check_outcome outcome;
    CHECK(run("replica-hw-monotonic", &outcome));
    hw(1, 3, 0, HISTORY_REPLICA_LEADER);
    CHECK(!run("replica-hw-monotonic", &outcome));
    CHECK(strstr(outcome.message, "log ends at 2") != NULL);
}

TEST(hw_fails_when_a_follower_runs_ahead_of_its_leader)
{
    start();
    lead(1, 0, 1, 0, 0xa0);
    copy(2, 0, 1, 0, 0xa0);
    hw(1, 1, 0, HISTORY_REPLICA_LEADER);
    hw(2, 1, 0, HISTORY_REPLICA_FOLLOWER);
    struct check_outcome outcome;
    CHECK(run("replica-hw-monotonic", &outcome));
    hw(2, 2, 0, HISTORY_REPLICA_FOLLOWER);
    CHECK(!run("replica-hw-monotonic", &outcome));
    CHECK(strstr(outcome.message, "run ahead") != NULL);
}

TEST(isr_fails_when_a_live_replica_never_returns)
{
    start();
    committed_prefix();
    meta(1, 0, 1, 0x6); /* Broker 3 dropped. */
    ev(0, HISTORY_HEALED, 100 * MS, 0, 0, 0);
    struct check_outcome outcome;
    CHECK(!run("replica-isr-converges", &outcome));
    CHECK(strstr(outcome.message, "without live replica 3") != NULL);
    meta(1, 0, 2, ALL3); /* In time: 6 events of 1 ms after the heal. */
    CHECK(run("replica-isr-converges", &outcome));
}

TEST(isr_does_not_wait_for_a_crashed_replica)
{
    start();
    committed_prefix();
    crash(3);
    meta(1, 0, 1, 0x6);
    ev(0, HISTORY_HEALED, 100 * MS, 0, 0, 0);
    struct check_outcome outcome;
    CHECK(run("replica-isr-converges", &outcome));
    restart(3, 2);
    CHECK(!run("replica-isr-converges", &outcome));
}

/* ===== The Kafka checkers with replicas ===== */

static void kafka_loss(u64 send_flags)
{
    ev(PRODUCER, HISTORY_KAFKA_CONNECTED, 0, 0, 0, 0);
    ev(CONSUMER, HISTORY_KAFKA_CONNECTED, 1, 0, 0, 0);
    ev(CONSUMER, HISTORY_KAFKA_REREAD, 0, 0, 0, 0);
    ev(PRODUCER, HISTORY_KAFKA_SEND, 1, 0, 0xc1, send_flags);
    ev(PRODUCER, HISTORY_KAFKA_ACKED, 1, 0, 0, 0xc1);
    ev(PRODUCER, HISTORY_KAFKA_SEND, 2, 0, 0xc2, send_flags);
    ev(PRODUCER, HISTORY_KAFKA_ACKED, 2, 0, 1, 0xc2);
    crash(1);
    ev(1, HISTORY_NODE_START, 0, 0, 0, 0);
    ev(CONSUMER, HISTORY_KAFKA_CONNECTED, 1, 0, 0, 0);
    ev(CONSUMER, HISTORY_KAFKA_REREAD, 0, 0, 0, 0);
    ev(CONSUMER, HISTORY_KAFKA_READ, 0, 0, 0xc1, 0); /* Offset 1 never read back. */
}

TEST(kafka_loss_with_replicas_and_min_insync_2_fails)
{
    start();
    kafka_loss(0);
    struct check_outcome outcome;
    CHECK(!run("kafka-acked-durable", &outcome));
    CHECK(strstr(outcome.message, "min.insync.replicas >= 2") != NULL);
}

TEST(kafka_loss_without_replicas_stays_labelled)
{
    start_with(NEVER, 1, 1);
    kafka_loss(0);
    struct check_outcome outcome;
    CHECK(run("kafka-acked-durable", &outcome));
    CHECK(labelled(&outcome));
    CHECK(strstr(outcome.message, "there is no replica") != NULL);
}

TEST(kafka_loss_is_labelled_for_acks_1_min_insync_1_unclean_or_all_down)
{
    struct check_outcome outcome;
    start();
    kafka_loss(HISTORY_KAFKA_ACKS_LEADER);
    CHECK(labelled((run("kafka-acked-durable", &outcome), &outcome)));
    CHECK(strstr(outcome.message, "acks=1") != NULL);

    start_with(NEVER, 1, 3);
    kafka_loss(0);
    CHECK(labelled((run("kafka-acked-durable", &outcome), &outcome)));
    CHECK(strstr(outcome.message, "min.insync.replicas is 1") != NULL);

    start_with(1, 1, 3); /* Every message flushed: min.insync.replicas=1 explains nothing. */
    kafka_loss(0);
    CHECK(!run("kafka-acked-durable", &outcome));

    start();
    meta(1, 0, 1, 0x2);
    meta(3, 1, 2, 0x8);
    kafka_loss(0);
    CHECK(labelled((run("kafka-acked-durable", &outcome), &outcome)));
    CHECK(strstr(outcome.message, "unclean") != NULL);

    start();
    crash(2);
    crash(3);
    kafka_loss(0); /* Crashes broker 1 while 2 and 3 are down. */
    CHECK(labelled((run("kafka-acked-durable", &outcome), &outcome)));
    CHECK(strstr(outcome.message, "every replica of the partition crashed") != NULL);
}

static const struct test_case tests[] = {
    {"agree_tolerates_a_zombie_leaders_follower_until_it_counts_the_batch",
     agree_tolerates_a_zombie_leaders_follower_until_it_counts_the_batch},
    {"a_loss_by_an_isr_member_after_every_member_crashed_is_labelled",
     a_loss_by_an_isr_member_after_every_member_crashed_is_labelled},
    {"a_loss_before_the_other_isr_members_crash_is_labelled_when_they_do",
     a_loss_before_the_other_isr_members_crash_is_labelled_when_they_do},
    {"good_history_passes_every_checker", good_history_passes_every_checker},
    {"agree_fails_on_another_batch_copied_at_a_committed_offset",
     agree_fails_on_another_batch_copied_at_a_committed_offset},
    {"agree_tolerates_a_deposed_leader_appending_in_its_old_epoch",
     agree_tolerates_a_deposed_leader_appending_in_its_old_epoch},
    {"agree_fails_when_a_new_leader_commits_another_batch",
     agree_fails_when_a_new_leader_commits_another_batch},
    {"the_same_loss_is_labelled_when_every_replica_lost_its_page_cache",
     the_same_loss_is_labelled_when_every_replica_lost_its_page_cache},
    {"a_single_replica_losing_its_page_cache_is_no_loss_but_its_truncation_is",
     a_single_replica_losing_its_page_cache_is_no_loss_but_its_truncation_is},
    {"an_append_after_an_unreported_reopen_counts_as_the_crash",
     an_append_after_an_unreported_reopen_counts_as_the_crash},
    {"kept_fails_when_a_follower_truncates_committed_data",
     kept_fails_when_a_follower_truncates_committed_data},
    {"kept_labels_a_loss_after_an_unclean_election", kept_labels_a_loss_after_an_unclean_election},
    {"hw_fails_when_a_leader_moves_it_back", hw_fails_when_a_leader_moves_it_back},
    {"hw_may_restart_lower_in_a_new_life_but_not_pass_the_log_end",
     hw_may_restart_lower_in_a_new_life_but_not_pass_the_log_end},
    {"hw_fails_when_a_follower_runs_ahead_of_its_leader",
     hw_fails_when_a_follower_runs_ahead_of_its_leader},
    {"isr_fails_when_a_live_replica_never_returns", isr_fails_when_a_live_replica_never_returns},
    {"isr_does_not_wait_for_a_crashed_replica", isr_does_not_wait_for_a_crashed_replica},
    {"kafka_loss_with_replicas_and_min_insync_2_fails",
     kafka_loss_with_replicas_and_min_insync_2_fails},
    {"kafka_loss_without_replicas_stays_labelled", kafka_loss_without_replicas_stays_labelled},
    {"kafka_loss_is_labelled_for_acks_1_min_insync_1_unclean_or_all_down",
     kafka_loss_is_labelled_for_acks_1_min_insync_1_unclean_or_all_down},
};

TEST_MAIN(tests)
