/* Tests for impl/log/crc32c.c: every path the CPU has (table, SSE4.2, PCLMULQDQ and AVX-512
 * VPCLMULQDQ folding), forced one at a time, against a bytewise reference written here from
 * the definition: every length to 2 KiB and long lengths to 2 MiB, at every alignment modulo
 * 64, each input ending exactly where its heap block ends so that AddressSanitizer sees any
 * read past it; and extends split at random points. Paths the CPU lacks are skipped with a
 * note. */
#include "test.h"

#include "../../impl/log/crc32c.h"

#define SHORT_MAX 2048u
#define ALIGNMENTS 64u

/* One byte at a time from a table built from the reflected polynomial: the definition. */
static u32 reference_table[256];

static void reference_init(void)
{
    for (u32 byte = 0; byte < 256; byte++) {
        u32 crc = byte;
        for (int bit = 0; bit < 8; bit++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
        reference_table[byte] = crc;
    }
}

/* The register (not yet complemented) after bytes, from the register crc. */
static u32 reference_register(u32 crc, const u8 *bytes, u64 size)
{
    for (u64 i = 0; i < size; i++) crc = (crc >> 8) ^ reference_table[(crc ^ bytes[i]) & 0xFF];
    return crc;
}

static u32 reference_extend(u32 crc, const u8 *bytes, u64 size)
{
    return ~reference_register(~crc, bytes, size);
}

static u64 prng_state = 0x243F6A8885A308D3u;

static u64 prng_next(void)
{
    prng_state ^= prng_state << 13;
    prng_state ^= prng_state >> 7;
    prng_state ^= prng_state << 17;
    return prng_state;
}

static u8 *random_bytes(u64 size)
{
    u8 *bytes = malloc(size);
    if (bytes == NULL) return NULL;
    for (u64 i = 0; i < size; i++) bytes[i] = (u8)(prng_next() >> 32);
    return bytes;
}

/* The paths this CPU can run; prints a note for each one it cannot. */
static u32 available_paths(enum crc32c_path *paths)
{
    u32 count = 0;
    for (u32 path = CRC32C_PATH_TABLE; path < CRC32C_PATH_COUNT; path++) {
        if (crc32c_path_available((enum crc32c_path)path)) {
            paths[count++] = (enum crc32c_path)path;
        } else {
            printf("  note: this CPU has no %s path; skipped\n",
                   crc32c_path_name((enum crc32c_path)path));
        }
    }
    return count;
}

static bool force(enum crc32c_path path)
{
    if (!crc32c_force_path(path)) return false;
    return crc32c_active_path() == path;
}

/* Copies master[0, alignment + size) into a heap block of exactly that size whose start is
 * 64-byte aligned, so the input (from alignment) ends at the block's end. */
static u8 *exact_copy(const u8 *master, u64 alignment, u64 size)
{
    void *block = NULL;
    if (posix_memalign(&block, 64, alignment + size == 0 ? 1 : alignment + size) != 0) {
        return NULL;
    }
    if (alignment + size > 0) memcpy(block, master, alignment + size);
    return block;
}

TEST(crc32c_check_values_on_every_path)
{
    reference_init();
    enum crc32c_path paths[CRC32C_PATH_COUNT];
    u32 count = available_paths(paths);
    REQUIRE(count >= 1 && paths[0] == CRC32C_PATH_TABLE);
    u8 zeros[32] = {0}, ones[32], counting[32];
    memset(ones, 0xFF, sizeof(ones));
    for (u32 i = 0; i < 32; i++) counting[i] = (u8)i;
    for (u32 i = 0; i < count; i++) {
        REQUIRE(force(paths[i]));
        CHECK_EQ_U64(crc32c((const u8 *)"123456789", 9), 0xE3069283u);
        CHECK_EQ_U64(crc32c(NULL, 0), 0);
        CHECK_EQ_U64(crc32c_extend(0x12345678u, NULL, 0), 0x12345678u);
        /* RFC 3720 B.4: 32 bytes of zeros, of 0xFF, and 0x00..0x1F. */
        CHECK_EQ_U64(crc32c(zeros, 32), 0x8A9136AAu);
        CHECK_EQ_U64(crc32c(ones, 32), 0x62A8AB43u);
        CHECK_EQ_U64(crc32c(counting, 32), 0x46DD794Eu);
    }
    CHECK_EQ_U64(reference_extend(0, (const u8 *)"123456789", 9), 0xE3069283u);
    REQUIRE(crc32c_force_path(CRC32C_PATH_AUTO));
    CHECK(crc32c_active_path() != CRC32C_PATH_AUTO);
    CHECK(crc32c_path_available(crc32c_active_path()));
}

/* Every length 0..SHORT_MAX at every alignment: the folding paths' four lanes, their 16-byte
 * steps and their last 0..15 bytes, and the thresholds between paths, all meet here. */
TEST(crc32c_every_short_length_and_alignment)
{
    reference_init();
    enum crc32c_path paths[CRC32C_PATH_COUNT];
    u32 count = available_paths(paths);
    u8 *master = random_bytes(ALIGNMENTS + SHORT_MAX);
    REQUIRE(master != NULL);
    u32 *expected = malloc((SHORT_MAX + 1) * sizeof(u32));
    REQUIRE(expected != NULL);
    u64 mismatches = 0;
    for (u64 alignment = 0; alignment < ALIGNMENTS; alignment++) {
        /* The reference for every length from this alignment, in one pass over the bytes. */
        u32 state = ~0u;
        for (u64 size = 0; size <= SHORT_MAX; size++) {
            expected[size] = ~state;
            if (size < SHORT_MAX) state = reference_register(state, master + alignment + size, 1);
        }
        for (u64 size = 0; size <= SHORT_MAX; size++) {
            u8 *block = exact_copy(master, alignment, size);
            REQUIRE(block != NULL);
            for (u32 i = 0; i < count; i++) {
                REQUIRE(force(paths[i]));
                u32 actual = crc32c(block + alignment, size);
                if (actual != expected[size] && mismatches++ < 10) {
                    fprintf(stderr, "  %s: length %" PRIu64 ", alignment %" PRIu64
                            ": %08x, expected %08x\n", crc32c_path_name(paths[i]), size,
                            alignment, actual, expected[size]);
                }
            }
            free(block);
        }
    }
    CHECK_EQ_U64(mismatches, 0);
    free(expected);
    free(master);
    REQUIRE(crc32c_force_path(CRC32C_PATH_AUTO));
}

/* Long inputs: the 256-byte and 8 KiB blocks of the three crc32 streams, many rounds of the
 * folding loops, and lengths just around their step sizes. */
TEST(crc32c_long_lengths_at_every_alignment)
{
    reference_init();
    enum crc32c_path paths[CRC32C_PATH_COUNT];
    u32 count = available_paths(paths);
    static const u64 lengths[] = {
        2049, 3 * 256 - 1, 3 * 256 + 1, 4095, 4096 + 64 + 16 + 9, 3 * 8192, 3 * 8192 + 255,
        65536 + 5, 262144 - 1, (1u << 20) + 7, (2u << 20) + 63,
    };
    u64 longest = 0;
    for (u32 i = 0; i < ARRAY_LEN(lengths); i++) longest = MAX(longest, lengths[i]);
    u8 *master = random_bytes(ALIGNMENTS + longest);
    REQUIRE(master != NULL);
    u64 mismatches = 0;
    for (u64 alignment = 0; alignment < ALIGNMENTS; alignment++) {
        for (u32 n = 0; n < ARRAY_LEN(lengths); n++) {
            u64 size = lengths[n];
            u32 expected = reference_extend(0, master + alignment, size);
            u8 *block = exact_copy(master, alignment, size);
            REQUIRE(block != NULL);
            for (u32 i = 0; i < count; i++) {
                REQUIRE(force(paths[i]));
                u32 actual = crc32c(block + alignment, size);
                if (actual != expected && mismatches++ < 10) {
                    fprintf(stderr, "  %s: length %" PRIu64 ", alignment %" PRIu64
                            ": %08x, expected %08x\n", crc32c_path_name(paths[i]), size,
                            alignment, actual, expected);
                }
            }
            free(block);
        }
    }
    CHECK_EQ_U64(mismatches, 0);
    free(master);
    REQUIRE(crc32c_force_path(CRC32C_PATH_AUTO));
}

/* Extending piece by piece, cut at random points (and with a path change at every cut), gives
 * the one-call CRC: the caller's CRC enters the folding paths correctly. */
TEST(crc32c_extend_split_at_random_points)
{
    reference_init();
    enum crc32c_path paths[CRC32C_PATH_COUNT];
    u32 count = available_paths(paths);
    u64 capacity = 300000;
    u8 *bytes = random_bytes(capacity);
    REQUIRE(bytes != NULL);
    for (u32 trial = 0; trial < 300; trial++) {
        u64 size = prng_next() % (trial % 4 == 0 ? capacity : 5000);
        u32 initial = (u32)prng_next();
        u32 expected = reference_extend(initial, bytes, size);
        for (u32 i = 0; i < count; i++) {
            REQUIRE(force(paths[i]));
            CHECK_EQ_U64(crc32c_extend(initial, bytes, size), expected);
            u32 crc = initial;
            u64 done = 0;
            u32 pieces = 1 + (u32)(prng_next() % 6);
            for (u32 piece = 0; piece < pieces; piece++) {
                u64 left = size - done;
                u64 take = piece + 1 == pieces || left == 0 ? left : prng_next() % (left + 1);
                REQUIRE(force(paths[(i + piece) % count]));
                crc = crc32c_extend(crc, bytes + done, take);
                done += take;
            }
            CHECK_EQ_U64(done, size);
            CHECK_EQ_U64(crc, expected);
        }
    }
    free(bytes);
    REQUIRE(crc32c_force_path(CRC32C_PATH_AUTO));
}

/* A path the CPU lacks cannot be forced and leaves the current one in place. */
TEST(crc32c_force_path_refuses_what_the_cpu_lacks)
{
    REQUIRE(crc32c_force_path(CRC32C_PATH_TABLE));
    for (u32 path = CRC32C_PATH_TABLE; path < CRC32C_PATH_COUNT; path++) {
        bool available = crc32c_path_available((enum crc32c_path)path);
        CHECK(crc32c_force_path((enum crc32c_path)path) == available);
        if (available) CHECK(crc32c_active_path() == (enum crc32c_path)path);
        REQUIRE(crc32c_force_path(CRC32C_PATH_TABLE));
        CHECK(crc32c_active_path() == CRC32C_PATH_TABLE);
    }
    REQUIRE(crc32c_force_path(CRC32C_PATH_AUTO));
}

static const struct test_case tests[] = {
    {"crc32c_check_values_on_every_path", crc32c_check_values_on_every_path},
    {"crc32c_every_short_length_and_alignment", crc32c_every_short_length_and_alignment},
    {"crc32c_long_lengths_at_every_alignment", crc32c_long_lengths_at_every_alignment},
    {"crc32c_extend_split_at_random_points", crc32c_extend_split_at_random_points},
    {"crc32c_force_path_refuses_what_the_cpu_lacks",
     crc32c_force_path_refuses_what_the_cpu_lacks},
};

TEST_MAIN(tests)
