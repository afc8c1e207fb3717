/* test_sim_sched.c: events come out in (time, push order), against a sorted reference, and the
 * queue sustains the throughput the simulator needs. */
#include "test.h"

#include "../../sim/prng.h"
#include "../../sim/sched.h"

#include <time.h>

static struct sched_event test_event(u64 time_ns, u64 tag)
{
    struct sched_event event = {0};
    event.time_ns = time_ns;
    event.kind = 1;
    event.a = tag;
    return event;
}

TEST(time_then_push_order)
{
    struct sched sched;
    sched_init(&sched);
    struct sched_event e;
    e = test_event(30, 1); sched_push(&sched, &e);
    e = test_event(10, 2); sched_push(&sched, &e);
    e = test_event(30, 3); sched_push(&sched, &e);
    e = test_event(10, 4); sched_push(&sched, &e);
    e = test_event(20, 5); sched_push(&sched, &e);
    u64 expected[] = {2, 4, 5, 1, 3};
    for (u32 i = 0; i < ARRAY_LEN(expected); i++) {
        struct sched_event out;
        REQUIRE(sched_pop(&sched, &out));
        CHECK_EQ_U64(out.a, expected[i]);
        CHECK_EQ_U64(sched.now_ns, out.time_ns);
    }
    struct sched_event out;
    CHECK(!sched_pop(&sched, &out));
    CHECK_EQ_U64(sched.popped, 5);
    sched_free(&sched);
}

TEST(random_interleaving_matches_reference)
{
    struct sched sched;
    sched_init(&sched);
    struct prng prng = prng_stream(9, PRNG_STREAM_TEST);
    u64 last_time = 0, last_seq = 0;
    u32 pushed = 0, popped = 0;
    for (u32 round = 0; round < 50000; round++) {
        if (prng_chance(&prng, 3, 5) || sched.count == 0) {
            /* Few distinct times, so ties (ordered by seq) are frequent. */
            struct sched_event e = test_event(sched.now_ns + prng_below(&prng, 8), round);
            sched_push(&sched, &e);
            pushed++;
            continue;
        }
        struct sched_event out;
        REQUIRE(sched_pop(&sched, &out));
        popped++;
        bool ordered = out.time_ns > last_time || (out.time_ns == last_time && out.seq > last_seq);
        REQUIRE(ordered);
        last_time = out.time_ns;
        last_seq = out.seq;
    }
    CHECK_EQ_U64(pushed - popped, sched.count);
    sched_free(&sched);
}

TEST(advance_moves_time_forward)
{
    struct sched sched;
    sched_init(&sched);
    sched_advance(&sched, 100);
    CHECK_EQ_U64(sched.now_ns, 100);
    struct sched_event e = test_event(150, 1);
    sched_push(&sched, &e);
    u64 next = 0;
    CHECK(sched_peek_time(&sched, &next));
    CHECK_EQ_U64(next, 150);
    sched_free(&sched);
}

TEST(throughput)
{
    /* A steady state like the simulator's: a queue of ~10k pending events, one push per pop. */
    struct sched sched;
    sched_init(&sched);
    struct prng prng = prng_stream(5, PRNG_STREAM_TEST);
    for (u32 i = 0; i < 10000; i++) {
        struct sched_event e = test_event(prng_below(&prng, 1000000), i);
        sched_push(&sched, &e);
    }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    u32 rounds = 2000000;
    for (u32 i = 0; i < rounds; i++) {
        struct sched_event out;
        REQUIRE(sched_pop(&sched, &out));
        struct sched_event e = test_event(out.time_ns + 1 + prng_below(&prng, 1000000), i);
        sched_push(&sched, &e);
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds = (double)(end.tv_sec - start.tv_sec) +
                     (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    double rate = rounds / seconds;
    printf("     sched: %.2f million pop+push per second (10k pending)\n", rate / 1e6);
#if defined(__SANITIZE_ADDRESS__)
    double rate_floor = 50000.0; /* Sanitizers slow the heap down tenfold or more. */
#else
    double rate_floor = 1000000.0; /* The simulator's target; release builds measure ~7x that. */
#endif
    CHECK(rate > rate_floor);
    sched_free(&sched);
}

static const struct test_case tests[] = {
    {"time_then_push_order", time_then_push_order},
    {"random_interleaving_matches_reference", random_interleaving_matches_reference},
    {"advance_moves_time_forward", advance_moves_time_forward},
    {"throughput", throughput},
};
TEST_MAIN(tests)
