/* test.h: the unit-test harness, small enough to read in a minute.
 *
 * A test file defines functions with TEST(name), lists them in a TESTS table and ends with
 * TEST_MAIN(tests). CHECK records a failure and goes on; REQUIRE stops the current test.
 * Every binary ends with the line "N passed, M failed" and exits non-zero on any failure.
 * A test may be selected by name: build/debug/tests/test_x name. */
#ifndef TEST_H
#define TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../impl/base.h"

struct test_case {
    const char *name;
    void (*run)(void);
};

extern int test_failures_current;

#define TEST(name) static void name(void)

#define CHECK(condition)                                                               \
    do {                                                                               \
        if (!(condition)) {                                                            \
            fprintf(stderr, "  CHECK failed: %s (%s:%d)\n", #condition, __FILE__,      \
                    __LINE__);                                                         \
            test_failures_current++;                                                   \
        }                                                                              \
    } while (0)

#define CHECK_EQ_U64(actual, expected)                                                 \
    do {                                                                               \
        u64 actual_ = (u64)(actual), expected_ = (u64)(expected);                      \
        if (actual_ != expected_) {                                                    \
            fprintf(stderr, "  CHECK failed: %s == %s (%" PRIu64 " != %" PRIu64        \
                    ") (%s:%d)\n", #actual, #expected, actual_, expected_, __FILE__,   \
                    __LINE__);                                                         \
            test_failures_current++;                                                   \
        }                                                                              \
    } while (0)

#define REQUIRE(condition)                                                             \
    do {                                                                               \
        if (!(condition)) {                                                            \
            fprintf(stderr, "  REQUIRE failed: %s (%s:%d)\n", #condition, __FILE__,    \
                    __LINE__);                                                         \
            test_failures_current++;                                                   \
            return;                                                                    \
        }                                                                              \
    } while (0)

int test_failures_current = 0;

static inline int test_main(const struct test_case *tests, unsigned count, int argc,
                            char **argv)
{
    unsigned passed = 0, failed = 0;
    for (unsigned i = 0; i < count; i++) {
        if (argc > 1 && strcmp(argv[1], tests[i].name) != 0) continue;
        test_failures_current = 0;
        tests[i].run();
        if (test_failures_current == 0) {
            passed++;
            printf("ok   %s\n", tests[i].name);
        } else {
            failed++;
            printf("FAIL %s\n", tests[i].name);
        }
        fflush(stdout);
    }
    printf("%u passed, %u failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}

#define TEST_MAIN(tests)                                                               \
    int main(int argc, char **argv)                                                    \
    {                                                                                  \
        return test_main(tests, (unsigned)ARRAY_LEN(tests), argc, argv);               \
    }

#endif
