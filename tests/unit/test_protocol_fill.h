/* test_protocol_fill.h: deterministic values for the generated message fillers
 * (test_protocol_generated.h), and the uniform per-message entry points the tests loop over.
 *
 * Values come from a seeded splitmix64 stream, so a failing case is reproduced by its message,
 * version and seed. Arrays are taken from a bounded arena; running out of it is a bug in the
 * test, so it stops the test binary. */
#ifndef TEST_PROTOCOL_FILL_H
#define TEST_PROTOCOL_FILL_H

#include <string.h>

#include "../../impl/protocol/codec.h"
#include "../../impl/protocol/messages_generated.h"

struct test_fill {
    u64 state;
    struct proto_arena arena;
};

typedef void (*test_fill_fn)(struct test_fill *fill, i16 version, void *message);
typedef bool (*test_equal_fn)(const void *a, const void *b);
typedef enum proto_error (*test_encode_fn)(struct proto_writer *writer, i16 version,
                                           const void *message);
typedef enum proto_error (*test_decode_fn)(struct proto_reader *reader, i16 version,
                                           void *message, struct proto_arena *arena);

struct test_message {
    const char *name;
    i16 api_key; /* -1 for non-RPC structures. */
    bool is_request;
    i16 version_min;
    i16 version_max;
    size_t size;
    test_fill_fn fill;
    test_equal_fn equal;
    test_encode_fn encode;
    test_decode_fn decode;
};

static inline void test_fill_init(struct test_fill *fill, u64 seed, void *memory, u32 capacity)
{
    fill->state = seed * 0x9E3779B97F4A7C15ull + 1;
    proto_arena_init(&fill->arena, memory, capacity);
}

static inline u64 test_fill_next(struct test_fill *fill)
{
    u64 z = (fill->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static const char test_fill_text[] =
    "topic-0 The quick brown fox jumps over the lazy dog; 0123456789 abcdefghijklmnopqrstuvwxyz "
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ and a long tail so that some strings need two-byte varints ....";

static inline struct proto_string test_fill_string(struct test_fill *fill, bool nullable)
{
    u64 pick = test_fill_next(fill);
    if (nullable && pick % 5 == 0) return PROTO_STRING_NULL;
    u32 size = (u32)(pick >> 8) % 4 == 0 ? (u32)(pick >> 16) % (sizeof(test_fill_text) - 1)
                                         : (u32)(pick >> 16) % 12;
    return (struct proto_string){test_fill_text, (i32)size};
}

static inline struct proto_bytes test_fill_bytes(struct test_fill *fill, bool nullable)
{
    struct proto_string text = test_fill_string(fill, nullable);
    return (struct proto_bytes){(const u8 *)text.data, text.size};
}

static inline struct proto_uuid test_fill_uuid(struct test_fill *fill)
{
    struct proto_uuid uuid;
    u64 high = test_fill_next(fill), low = test_fill_next(fill);
    store_u64_be(uuid.bytes, high);
    store_u64_be(uuid.bytes + 8, low);
    return uuid;
}

static inline i32 test_fill_count(struct test_fill *fill, bool nullable)
{
    u64 pick = test_fill_next(fill);
    if (nullable && pick % 6 == 0) return -1;
    return (i32)((pick >> 8) % 4);
}

static inline void *test_fill_alloc(struct test_fill *fill, i32 count, size_t size)
{
    if (count <= 0) return NULL;
    void *items = proto_arena_alloc(&fill->arena, (u64)count * size);
    ASSERT(items != NULL); /* The test's arena is too small: a test bug. */
    memset(items, 0, (size_t)count * size);
    return items;
}

#endif
