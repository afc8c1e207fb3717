/* test_model_checkers.c: crafted histories that break each quorum invariant are caught, and a
 * good history passes every checker. Each test can fail: it asserts the verdict both ways. */
#include "test.h"

#include "../../model/history.h"

#define MS (1000ull * 1000ull)
#define NONE UINT64_MAX

static struct history history;
static u64 clock_ns;

static void ev(u32 node, u32 kind, u64 a, u64 b, u64 c, u64 d)
{
    clock_ns += MS;
    struct history_event event = {.time_ns = clock_ns, .node = node, .kind = kind,
                                  .a = a, .b = b, .c = c, .d = d};
    history_append(&history, &event, NULL, 0);
}

static struct check_params params(void)
{
    struct check_params p = {.voter_count = 3, .liveness_bound_ns = 5000 * MS};
    return p;
}

static bool run(const char *name, struct check_outcome *outcome)
{
    const struct checker *checker = model_checker_find(name);
    ASSERT(checker != NULL);
    struct check_params p = params();
    checker->check(&history, &p, outcome);
    if (!outcome->passed && getenv("SHOW") != NULL) printf("  %s: %s\n", name, outcome->message);
    return outcome->passed;
}

static void append_all(u64 offset, u64 epoch, u64 checksum, u64 control)
{
    for (u32 node = 1; node <= 3; node++) {
        ev(node, HISTORY_QUORUM_APPENDED, offset, epoch, checksum, control);
    }
}

static void commit_all(u64 offset, u64 epoch, u64 checksum, u64 control, u64 digest)
{
    for (u32 node = 1; node <= 3; node++) {
        ev(node, HISTORY_QUORUM_COMMITTED, offset, epoch, checksum, control);
        ev(node, HISTORY_QUORUM_APPLIED, offset, 0, digest, 0);
    }
}

/* Three nodes start; node 1 leads epoch 1; two client values are committed and acknowledged. */
static void good_prefix(void)
{
    history_free(&history);
    history_init(&history);
    clock_ns = 0;
    for (u32 node = 1; node <= 3; node++) ev(node, HISTORY_NODE_START, 1, 0, 0, 0);
    ev(1, HISTORY_QUORUM_VOTED, 1, 1, 0, 0);
    ev(2, HISTORY_QUORUM_VOTED, 1, 1, 0, 0);
    ev(1, HISTORY_QUORUM_ROLE, 1, HISTORY_ROLE_LEADER, 1, 0);
    ev(2, HISTORY_QUORUM_ROLE, 1, HISTORY_ROLE_FOLLOWER, 1, 0);
    ev(3, HISTORY_QUORUM_ROLE, 1, HISTORY_ROLE_FOLLOWER, 1, 0);
    append_all(0, 1, 0xc0, 1);
    commit_all(0, 1, 0xc0, 1, 0xd0);
    ev(1001, HISTORY_CLIENT_INVOKE, 1, 0, 0xa1, 0);
    ev(1001, HISTORY_CLIENT_INVOKE, 2, 0, 0xa2, 0); /* (Sequential per client in real runs.) */
    append_all(1, 1, 0xa1, 0);
    append_all(2, 1, 0xa2, 0);
    commit_all(1, 1, 0xa1, 0, 0xd1);
    commit_all(2, 1, 0xa2, 0, 0xd2);
    ev(1001, HISTORY_CLIENT_OK, 1, 1, 0xa1, 0);
    ev(1001, HISTORY_CLIENT_OK, 2, 2, 0xa2, 0);
}

static void good_suffix(void)
{
    ev(0, HISTORY_HEALED, 5000 * MS, 0, 0, 0);
    ev(1001, HISTORY_CLIENT_INVOKE, 3, 0, 0xa3, 0);
    append_all(3, 1, 0xa3, 0);
    commit_all(3, 1, 0xa3, 0, 0xd3);
    ev(1001, HISTORY_CLIENT_OK, 3, 3, 0xa3, 0);
    ev(0, HISTORY_RUN_END, 0, 0, 0, 0);
}

static const char *const all_checkers[] = {
    "election-safety", "log-matching", "leader-completeness", "committed-durable",
    "applied-prefix", "client-acks", "liveness", "unavailable-window", "available-window",
};

TEST(good_history_passes_every_checker)
{
    good_prefix();
    good_suffix();
    for (u32 i = 0; i < ARRAY_LEN(all_checkers); i++) {
        struct check_outcome outcome;
        bool passed = run(all_checkers[i], &outcome);
        if (!passed) fprintf(stderr, "  %s: %s\n", all_checkers[i], outcome.message);
        CHECK(passed);
    }
    CHECK(model_checker_find("no-such-checker") == NULL);
}

TEST(two_leaders_in_one_epoch_are_caught)
{
    good_prefix();
    ev(2, HISTORY_QUORUM_ROLE, 1, HISTORY_ROLE_LEADER, 2, 0);
    good_suffix();
    struct check_outcome outcome;
    CHECK(!run("election-safety", &outcome));
    CHECK(strstr(outcome.message, "two leaders in one epoch") != NULL);
    CHECK(strstr(outcome.message, "node 2") != NULL);
    /* A leader of the next epoch is fine. */
    good_prefix();
    ev(2, HISTORY_QUORUM_ROLE, 2, HISTORY_ROLE_LEADER, 2, 0);
    CHECK(run("election-safety", &outcome));
}

TEST(a_double_vote_is_caught)
{
    good_prefix();
    ev(2, HISTORY_QUORUM_VOTED, 1, 3, 0, 0);
    struct check_outcome outcome;
    CHECK(!run("election-safety", &outcome));
    CHECK(strstr(outcome.message, "voted for node 3 in epoch 1") != NULL);
}

TEST(diverging_logs_at_the_same_offset_and_epoch_are_caught)
{
    good_prefix();
    ev(1, HISTORY_QUORUM_APPENDED, 3, 1, 0xb1, 0);
    ev(2, HISTORY_QUORUM_APPENDED, 3, 1, 0xb2, 0);
    struct check_outcome outcome;
    CHECK(!run("log-matching", &outcome));
    CHECK(strstr(outcome.message, "offset 3 of epoch 1") != NULL);
    /* A gap in a log is caught too. */
    good_prefix();
    ev(3, HISTORY_QUORUM_APPENDED, 7, 1, 0xb1, 0);
    CHECK(!run("log-matching", &outcome));
}

TEST(a_leader_missing_a_committed_entry_is_caught)
{
    good_prefix();
    ev(3, HISTORY_QUORUM_TRUNCATED, 2, 0, 0, 0); /* Node 3 loses offset 2... */
    ev(3, HISTORY_QUORUM_ROLE, 2, HISTORY_ROLE_LEADER, 3, 0); /* ...and leads epoch 2. */
    struct check_outcome outcome;
    CHECK(!run("leader-completeness", &outcome));
    CHECK(strstr(outcome.message, "offset 2") != NULL);
    CHECK(strstr(outcome.message, "epoch 2") != NULL);
    good_prefix();
    ev(3, HISTORY_QUORUM_ROLE, 2, HISTORY_ROLE_LEADER, 3, 0);
    CHECK(run("leader-completeness", &outcome));
}

TEST(truncating_or_replacing_a_committed_entry_is_caught)
{
    good_prefix();
    ev(2, HISTORY_QUORUM_TRUNCATED, 1, 0, 0, 0);
    struct check_outcome outcome;
    CHECK(!run("committed-durable", &outcome));
    CHECK(strstr(outcome.message, "offset 1") != NULL);
    good_prefix();
    ev(2, HISTORY_QUORUM_TRUNCATED, 3, 0, 0, 0); /* Nothing committed there: fine. */
    CHECK(run("committed-durable", &outcome));
    good_prefix();
    ev(2, HISTORY_NODE_START, 2, 0, 0, 0);
    for (u64 o = 0; o < 2; o++) ev(2, HISTORY_QUORUM_APPENDED, o, 1, o == 0 ? 0xc0 : 0xa1, 2);
    ev(2, HISTORY_QUORUM_APPENDED, 2, 2, 0xee, 0);
    ev(2, HISTORY_QUORUM_COMMITTED, 0, 1, 0xc0, 1);
    ev(2, HISTORY_QUORUM_COMMITTED, 1, 1, 0xa1, 0);
    ev(2, HISTORY_QUORUM_COMMITTED, 2, 2, 0xee, 0);
    CHECK(!run("committed-durable", &outcome));
    CHECK(strstr(outcome.message, "different entry committed at offset 2") != NULL);
}

TEST(applying_out_of_order_or_diverging_state_is_caught)
{
    good_prefix();
    ev(3, HISTORY_NODE_START, 2, 0, 0, 0);
    ev(3, HISTORY_QUORUM_APPENDED, 0, 1, 0xc0, 3);
    ev(3, HISTORY_QUORUM_COMMITTED, 0, 1, 0xc0, 1);
    ev(3, HISTORY_QUORUM_APPLIED, 0, 0, 0xd0, 0);
    struct check_outcome outcome;
    CHECK(run("applied-prefix", &outcome)); /* A restart re-applies from the start. */
    ev(3, HISTORY_QUORUM_APPLIED, 1, 0, 0xd1, 0); /* Not committed on node 3 yet. */
    CHECK(!run("applied-prefix", &outcome));
    good_prefix();
    ev(1, HISTORY_QUORUM_APPENDED, 3, 1, 0xa3, 0);
    ev(1, HISTORY_QUORUM_COMMITTED, 3, 1, 0xa3, 0);
    ev(1, HISTORY_QUORUM_APPLIED, 3, 0, 0xd3, 0);
    ev(2, HISTORY_QUORUM_APPENDED, 3, 1, 0xa3, 0);
    ev(2, HISTORY_QUORUM_COMMITTED, 3, 1, 0xa3, 0);
    ev(2, HISTORY_QUORUM_APPLIED, 3, 0, 0xdead, 0);
    CHECK(!run("applied-prefix", &outcome));
    CHECK(strstr(outcome.message, "digest") != NULL);
}

TEST(client_promises_are_checked)
{
    struct check_outcome outcome;
    good_prefix();
    ev(1001, HISTORY_CLIENT_INVOKE, 3, 0, 0xa3, 0);
    ev(1001, HISTORY_CLIENT_OK, 3, 9, 0xa3, 0); /* Offset 9 is never committed. */
    CHECK(!run("client-acks", &outcome));
    CHECK(strstr(outcome.message, "offset 9") != NULL);
    good_prefix();
    append_all(3, 1, 0xbad, 0);
    commit_all(3, 1, 0xbad, 0, 0xd3); /* Nobody invoked 0xbad. */
    CHECK(!run("client-acks", &outcome));
    CHECK(strstr(outcome.message, "never invoked") != NULL ||
          strstr(outcome.message, "no client ever invoked") != NULL);
    good_prefix();
    ev(1001, HISTORY_CLIENT_INVOKE, 3, 0, 0xa3, 0);
    ev(1001, HISTORY_CLIENT_FAIL, 3, 89, 0, 0);
    append_all(3, 1, 0xa3, 0);
    commit_all(3, 1, 0xa3, 0, 0xd3); /* Told "failed", yet committed. */
    CHECK(!run("client-acks", &outcome));
    CHECK(strstr(outcome.message, "definitely failed") != NULL);
    good_prefix();
    ev(1001, HISTORY_CLIENT_INVOKE, 3, 0, 0xa3, 0);
    ev(1001, HISTORY_CLIENT_UNKNOWN, 3, 7, 0, 0);
    append_all(3, 1, 0xa3, 0);
    commit_all(3, 1, 0xa3, 0, 0xd3); /* Unknown may be committed. */
    CHECK(run("client-acks", &outcome));
}

TEST(liveness_needs_a_leader_progress_and_convergence)
{
    struct check_outcome outcome;
    good_prefix();
    ev(0, HISTORY_HEALED, 5000 * MS, 0, 0, 0);
    ev(1, HISTORY_QUORUM_ROLE, 2, HISTORY_ROLE_PROSPECTIVE, NONE, 0);
    ev(2, HISTORY_QUORUM_ROLE, 2, HISTORY_ROLE_PROSPECTIVE, NONE, 0);
    ev(3, HISTORY_QUORUM_ROLE, 2, HISTORY_ROLE_PROSPECTIVE, NONE, 0);
    clock_ns += 6000 * MS;
    ev(0, HISTORY_RUN_END, 0, 0, 0, 0);
    CHECK(!run("liveness", &outcome));
    CHECK(strstr(outcome.message, "5000 ms") != NULL);
    good_prefix();
    ev(0, HISTORY_HEALED, 5000 * MS, 0, 0, 0);
    clock_ns += 6000 * MS;
    ev(0, HISTORY_RUN_END, 0, 0, 0, 0);
    CHECK(!run("liveness", &outcome)); /* A leader, but nothing new committed. */
    CHECK(strstr(outcome.message, "no new entry") != NULL);
    good_prefix();
    ev(0, HISTORY_HEALED, 5000 * MS, 0, 0, 0);
    append_all(3, 1, 0xa3, 0);
    ev(1, HISTORY_QUORUM_COMMITTED, 3, 1, 0xa3, 0); /* Node 1 only: 2 and 3 never learn. */
    clock_ns += 6000 * MS;
    ev(0, HISTORY_RUN_END, 0, 0, 0, 0);
    CHECK(!run("liveness", &outcome));
    CHECK(strstr(outcome.message, "converge") != NULL);
}

TEST(availability_windows_are_checked)
{
    struct check_outcome outcome;
    good_prefix(); /* Commits at 10..40 ms. */
    good_suffix();
    const struct checker *unavailable = model_checker_find("unavailable-window");
    const struct checker *available = model_checker_find("available-window");
    struct check_params p = params();
    p.unavailable_from_ns = 1 * MS;
    p.unavailable_to_ns = 1000 * MS;
    unavailable->check(&history, &p, &outcome);
    CHECK(!outcome.passed);
    p.unavailable_from_ns = 2000 * MS;
    p.unavailable_to_ns = 3000 * MS;
    unavailable->check(&history, &p, &outcome);
    CHECK(outcome.passed);
    p.liveness_bound_ns = 1 * MS;
    p.available_from_ns = 1000 * MS;
    p.available_to_ns = 3000 * MS;
    available->check(&history, &p, &outcome);
    CHECK(!outcome.passed);
    p.available_from_ns = 1 * MS;
    p.available_to_ns = 3000 * MS;
    available->check(&history, &p, &outcome);
    CHECK(outcome.passed);
    history_free(&history);
}

static const struct test_case tests[] = {
    {"good_history_passes_every_checker", good_history_passes_every_checker},
    {"two_leaders_in_one_epoch_are_caught", two_leaders_in_one_epoch_are_caught},
    {"a_double_vote_is_caught", a_double_vote_is_caught},
    {"diverging_logs_at_the_same_offset_and_epoch_are_caught",
     diverging_logs_at_the_same_offset_and_epoch_are_caught},
    {"a_leader_missing_a_committed_entry_is_caught", a_leader_missing_a_committed_entry_is_caught},
    {"truncating_or_replacing_a_committed_entry_is_caught",
     truncating_or_replacing_a_committed_entry_is_caught},
    {"applying_out_of_order_or_diverging_state_is_caught",
     applying_out_of_order_or_diverging_state_is_caught},
    {"client_promises_are_checked", client_promises_are_checked},
    {"liveness_needs_a_leader_progress_and_convergence",
     liveness_needs_a_leader_progress_and_convergence},
    {"availability_windows_are_checked", availability_windows_are_checked},
};
TEST_MAIN(tests)
