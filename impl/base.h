/* base.h: the few definitions every file in the project shares.
 *
 * Explicit-size integer names, the always-on ASSERT (independent of NDEBUG: a corrupt internal
 * state must stop the process, in the simulator and in production alike), COVER for marking rare
 * paths so reports can list the ones a run never reached, and small helpers.
 *
 * May depend on: the C standard library headers only. */
#ifndef BASE_H
#define BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t i8;
typedef int16_t i16;
typedef int32_t i32;
typedef int64_t i64;

#define NS_PER_US ((u64)1000)
#define NS_PER_MS ((u64)1000 * 1000)
#define NS_PER_S ((u64)1000 * 1000 * 1000)

#define WARN_UNUSED __attribute__((warn_unused_result))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

_Noreturn void assert_fail(const char *condition, const char *file, int line);

/* Called by assert_fail before aborting, so the simulator can print the seed and the virtual
 * time that reproduce the failure. One hook per process: set it once at start-up. */
void assert_set_context_printer(void (*printer)(void));

#define ASSERT(condition) ((condition) ? (void)0 : assert_fail(#condition, __FILE__, __LINE__))

/* Coverage marks for rare paths (SQLite's testcase(), FoundationDB's CODE_PROBE). Each site is
 * placed in its own linker section so that cover_report() can also list the sites a run never
 * reached. The counters only record; they never influence a decision, so they cannot break
 * determinism. */
struct cover_site {
    const char *file;
    const char *condition;
    int line;
    u64 hits;
};

#define COVER(condition)                                                                  \
    do {                                                                                  \
        if (condition) {                                                                  \
            static struct cover_site cover_site_                                          \
                __attribute__((section("cover_sites"), used, aligned(8))) = {              \
                    __FILE__, #condition, __LINE__, 0};                                   \
            cover_site_.hits++;                                                           \
        }                                                                                 \
    } while (0)

/* Iterates over every COVER site linked into the binary, hit or not. */
u32 cover_site_count(void);
const struct cover_site *cover_site_get(u32 index);

/* Big-endian (network order, as Kafka uses) load/store helpers for codecs. */
static inline void store_u16_be(u8 *p, u16 v) { p[0] = (u8)(v >> 8); p[1] = (u8)v; }
static inline void store_u32_be(u8 *p, u32 v)
{
    p[0] = (u8)(v >> 24); p[1] = (u8)(v >> 16); p[2] = (u8)(v >> 8); p[3] = (u8)v;
}
static inline void store_u64_be(u8 *p, u64 v)
{
    store_u32_be(p, (u32)(v >> 32));
    store_u32_be(p + 4, (u32)v);
}
static inline u16 load_u16_be(const u8 *p) { return (u16)((u16)p[0] << 8 | p[1]); }
static inline u32 load_u32_be(const u8 *p)
{
    return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | (u32)p[3];
}
static inline u64 load_u64_be(const u8 *p)
{
    return (u64)load_u32_be(p) << 32 | load_u32_be(p + 4);
}

#endif
