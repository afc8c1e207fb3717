/* crc32c.c: CRC-32C, with the SSE4.2 instruction where the CPU has it, else table-driven,
 * slicing by 8 bytes at a time.
 *
 * The tables are computed from the reflected polynomial 0x82F63B78 the first time they are
 * needed. They are a pure function of a constant, so building them lazily cannot affect
 * determinism. Tested against the published check value ("123456789" -> 0xE3069283) and against
 * a bytewise reference over random inputs in tests/unit/test_record_batch.c. */
#include "crc32c.h"

#define CRC32C_POLYNOMIAL 0x82F63B78u

static u32 crc32c_table[8][256];
static bool crc32c_table_ready;

static void crc32c_table_build(void)
{
    for (u32 byte = 0; byte < 256; byte++) {
        u32 crc = byte;
        for (u32 bit = 0; bit < 8; bit++) crc = (crc >> 1) ^ (CRC32C_POLYNOMIAL & (0u - (crc & 1)));
        crc32c_table[0][byte] = crc;
    }
    for (u32 byte = 0; byte < 256; byte++) {
        for (u32 slice = 1; slice < 8; slice++) {
            u32 previous = crc32c_table[slice - 1][byte];
            crc32c_table[slice][byte] = (previous >> 8) ^ crc32c_table[0][previous & 0xFF];
        }
    }
    crc32c_table_ready = true;
}

#if defined(__x86_64__)
/* The SSE4.2 crc32 instruction computes the same CRC-32C 8 bytes at a time. Its latency is 3
 * cycles but it issues every cycle, so long inputs run three streams at once and join them by
 * "appending zeros" with a GF(2) operator, Mark Adler's method (crc32c.c, zlib licence ideas,
 * code written here). Appends validate every batch, so this shows in the log's throughput
 * (tests/bench/log_bench.sh). Same result, so determinism is untouched; test_record_batch.c and
 * test_log_segment.c compare it with a bytewise reference. */
#define CRC32C_LONG 8192u
#define CRC32C_SHORT 256u

static u32 crc32c_long_zeros[4][256];
static u32 crc32c_short_zeros[4][256];
static bool crc32c_zeros_ready;

static u32 crc32c_gf2_times(const u32 *matrix, u32 vector)
{
    u32 sum = 0;
    for (u32 row = 0; vector != 0; row++, vector >>= 1) {
        if (vector & 1) sum ^= matrix[row];
    }
    return sum;
}

static void crc32c_gf2_square(u32 *square, const u32 *matrix)
{
    for (u32 n = 0; n < 32; n++) square[n] = crc32c_gf2_times(matrix, matrix[n]);
}

/* Tables that apply length zero bytes to a CRC register. */
static void crc32c_zeros_build(u32 zeros[4][256], u64 length)
{
    u32 odd[32], even[32];
    odd[0] = CRC32C_POLYNOMIAL; /* The operator for one zero bit. */
    for (u32 n = 1; n < 32; n++) odd[n] = 1u << (n - 1);
    crc32c_gf2_square(even, odd); /* Two zero bits. */
    crc32c_gf2_square(odd, even); /* Four: odd now applies one zero nibble... */
    /* ...and each squaring doubles it: square per bit of length (in bytes, from 8 bits). */
    const u32 *op = odd;
    for (u32 guard = 0; guard < 64; guard++) {
        crc32c_gf2_square(even, odd);
        length >>= 1;
        op = even;
        if (length == 0) break;
        crc32c_gf2_square(odd, even);
        length >>= 1;
        op = odd;
        if (length == 0) break;
    }
    for (u32 n = 0; n < 256; n++) {
        zeros[0][n] = crc32c_gf2_times(op, n);
        zeros[1][n] = crc32c_gf2_times(op, n << 8);
        zeros[2][n] = crc32c_gf2_times(op, n << 16);
        zeros[3][n] = crc32c_gf2_times(op, n << 24);
    }
}

static u32 crc32c_shift(u32 zeros[4][256], u32 crc)
{
    return zeros[0][crc & 0xFF] ^ zeros[1][(crc >> 8) & 0xFF] ^ zeros[2][(crc >> 16) & 0xFF] ^
           zeros[3][crc >> 24];
}

static inline u64 crc32c_load64(const u8 *bytes)
{
    u64 word;
    __builtin_memcpy(&word, bytes, 8);
    return word;
}

/* Three interleaved streams of block bytes each, joined; returns the advanced register. */
__attribute__((target("sse4.2"))) static u64 crc32c_sse42_triple(u64 crc, const u8 *bytes,
                                                                 u32 block,
                                                                 u32 zeros[4][256])
{
    u64 crc1 = 0, crc2 = 0;
    for (u32 i = 0; i < block; i += 8) {
        crc = __builtin_ia32_crc32di(crc, crc32c_load64(bytes + i));
        crc1 = __builtin_ia32_crc32di(crc1, crc32c_load64(bytes + block + i));
        crc2 = __builtin_ia32_crc32di(crc2, crc32c_load64(bytes + 2 * block + i));
    }
    crc = crc32c_shift(zeros, (u32)crc) ^ (u32)crc1;
    return crc32c_shift(zeros, (u32)crc) ^ (u32)crc2;
}

__attribute__((target("sse4.2"))) static u32 crc32c_extend_sse42(u32 crc, const u8 *bytes,
                                                                 u64 size)
{
    if (!crc32c_zeros_ready) {
        crc32c_zeros_build(crc32c_long_zeros, CRC32C_LONG);
        crc32c_zeros_build(crc32c_short_zeros, CRC32C_SHORT);
        crc32c_zeros_ready = true;
    }
    u64 value = ~crc;
    for (; size >= 3 * CRC32C_LONG; size -= 3 * CRC32C_LONG, bytes += 3 * CRC32C_LONG) {
        value = crc32c_sse42_triple(value, bytes, CRC32C_LONG, crc32c_long_zeros);
    }
    for (; size >= 3 * CRC32C_SHORT; size -= 3 * CRC32C_SHORT, bytes += 3 * CRC32C_SHORT) {
        value = crc32c_sse42_triple(value, bytes, CRC32C_SHORT, crc32c_short_zeros);
    }
    for (; size >= 8; size -= 8, bytes += 8) {
        value = __builtin_ia32_crc32di(value, crc32c_load64(bytes));
    }
    u32 low = (u32)value;
    for (; size > 0; size--, bytes++) low = __builtin_ia32_crc32qi(low, *bytes);
    return ~low;
}
#endif

u32 crc32c_extend(u32 crc, const u8 *bytes, u64 size)
{
    ASSERT(size == 0 || bytes != NULL);
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2")) return crc32c_extend_sse42(crc, bytes, size);
#endif
    if (!crc32c_table_ready) crc32c_table_build();
    crc = ~crc;
    while (size >= 8) {
        u32 low = crc ^ ((u32)bytes[0] | (u32)bytes[1] << 8 | (u32)bytes[2] << 16 |
                         (u32)bytes[3] << 24);
        u32 high = (u32)bytes[4] | (u32)bytes[5] << 8 | (u32)bytes[6] << 16 | (u32)bytes[7] << 24;
        crc = crc32c_table[7][low & 0xFF] ^ crc32c_table[6][(low >> 8) & 0xFF] ^
              crc32c_table[5][(low >> 16) & 0xFF] ^ crc32c_table[4][low >> 24] ^
              crc32c_table[3][high & 0xFF] ^ crc32c_table[2][(high >> 8) & 0xFF] ^
              crc32c_table[1][(high >> 16) & 0xFF] ^ crc32c_table[0][high >> 24];
        bytes += 8;
        size -= 8;
    }
    while (size > 0) {
        crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *bytes) & 0xFF];
        bytes++;
        size--;
    }
    return ~crc;
}
