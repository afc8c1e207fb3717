/* crc32c.c: CRC-32C, computed by the fastest of four paths this CPU has, chosen at the first
 * call: carry-less multiply folding over AVX-512 registers (VPCLMULQDQ), the same over 128-bit
 * registers (PCLMULQDQ), the SSE4.2 crc32 instruction, or a table slicing 8 bytes at a time.
 *
 * Every path computes the same function, so the choice cannot affect determinism; the tables
 * and folding constants are computed from the reflected polynomial 0x82F63B78 the first time
 * they are needed (a pure function of a constant). tests/unit/test_crc32c.c forces each path
 * and compares it with a bytewise reference at every length to 2 KiB and every alignment;
 * tests/bench/crc32c_bench.c measures them. */
#include "crc32c.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

static u32 crc32c_extend_table(u32 crc, const u8 *bytes, u64 size)
{
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

#if defined(__x86_64__)
/* The SSE4.2 crc32 instruction computes the same CRC-32C 8 bytes at a time. Its latency is 3
 * cycles but it issues every cycle, so long inputs run three streams at once and join them by
 * "appending zeros" with a GF(2) operator, Mark Adler's method (crc32c.c, zlib licence ideas,
 * code written here). Appends validate every batch, so this shows in the log's throughput
 * (tests/bench/log_bench.sh). */
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

/* The last 0..7 bytes in at most three steps, not one per byte: each step waits for the last. */
__attribute__((target("sse4.2"))) static inline u32 crc32c_sse42_tail(u32 crc, const u8 *bytes,
                                                                     u64 size)
{
    ASSERT(size < 8);
    if (size & 4) {
        u32 word;
        __builtin_memcpy(&word, bytes, 4);
        crc = __builtin_ia32_crc32si(crc, word);
        bytes += 4;
    }
    if (size & 2) {
        u16 half;
        __builtin_memcpy(&half, bytes, 2);
        crc = __builtin_ia32_crc32hi(crc, half);
        bytes += 2;
    }
    if (size & 1) crc = __builtin_ia32_crc32qi(crc, *bytes);
    return crc;
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
    return ~crc32c_sse42_tail((u32)value, bytes, size);
}

/* Folding (Gopal et al., "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ",
 * Intel 2009; the method from the paper, the code written here).
 *
 * A CRC is the message M(x), times x^32, mod P(x). In the reflected bit order of CRC-32C the
 * first byte's low bit is M's highest coefficient, so a 128-bit lane loaded little-endian from
 * memory holds, in bit i, the coefficient of x^(127 - i) of its 16 bytes; its first 64-bit half
 * is the high-degree half. Since only M mod P matters, a lane A followed by d more bits of the
 * message can be replaced by A * x^d mod P added (XOR) into the lane d bits later:
 *     A * x^d = A_first * x^(64 + d) + A_second * x^d  ==  A_first * K1 + A_second * K2
 * with K1 = x^(d + 63) mod P and K2 = x^(d - 1) mod P, each product a 64 x 32-bit carry-less
 * multiply that fits in 96 bits, so in the lane. The exponents are one short because the
 * carry-less product of two reflected 64-bit values lands one bit low (bit k of the product is
 * the coefficient of x^(126 - k), the lane's bit k means x^(127 - k)), and a constant is kept
 * in the upper 32 bits of its 64-bit half (bit j means x^(63 - j), degrees 0..31). Several
 * lanes fold independently so the multiplier's latency overlaps; at the end the lanes fold
 * into one, the remaining whole 16-byte blocks fold into it one by one, and the crc32
 * instruction, starting from zero, reduces that lane and the last few bytes: that is exactly
 * the CRC of what was folded. The caller's CRC enters XORed into the first four bytes (a
 * register r before a message is the same as r XORed into the message's first 32 bits). */
struct crc32c_fold_pair {
    u64 first, second; /* multiply a lane's first and second 64-bit halves */
};

/* Each pair moves a lane forward by the number of bits in its name. */
static struct {
    struct crc32c_fold_pair by128, by256, by384, by512, by1024, by1536, by2048;
} crc32c_fold;
static bool crc32c_fold_ready;

/* x^n mod P in the CRC register's reflected order (bit i is the coefficient of x^(31 - i)):
 * multiplying by x is a right shift, and x^32 wraps around to P's lower terms. */
static u32 crc32c_x_power(u32 n)
{
    u32 power = 0x80000000u; /* x^0 */
    for (u32 i = 0; i < n; i++) power = (power >> 1) ^ (CRC32C_POLYNOMIAL & (0u - (power & 1)));
    return power;
}

static struct crc32c_fold_pair crc32c_fold_pair_for(u32 distance_bits)
{
    return (struct crc32c_fold_pair){
        .first = (u64)crc32c_x_power(distance_bits + 63) << 32,
        .second = (u64)crc32c_x_power(distance_bits - 1) << 32,
    };
}

static void crc32c_fold_prepare(void)
{
    if (crc32c_fold_ready) return;
    crc32c_fold.by128 = crc32c_fold_pair_for(128);   /* x^191, x^127: 16-byte steps, last lane */
    crc32c_fold.by256 = crc32c_fold_pair_for(256);   /* x^319, x^255: third lane from the end */
    crc32c_fold.by384 = crc32c_fold_pair_for(384);   /* x^447, x^383: fourth lane from the end */
    crc32c_fold.by512 = crc32c_fold_pair_for(512);   /* x^575, x^511: 64-byte steps */
    crc32c_fold.by1024 = crc32c_fold_pair_for(1024); /* x^1087, x^1023: 2nd register from end */
    crc32c_fold.by1536 = crc32c_fold_pair_for(1536); /* x^1599, x^1535: 3rd register from end */
    crc32c_fold.by2048 = crc32c_fold_pair_for(2048); /* x^2111, x^2047: 256-byte steps */
    crc32c_fold_ready = true;
}

/* The four lanes need 64 bytes. Measured on a Sapphire Rapids (tests/bench/crc32c_bench.c),
 * folding is already faster than the crc32 instruction at 64 bytes (about 1.1x; 2.5x at 256,
 * where the three streams of crc32 do not start yet); below, 16-byte folding gained under 10%,
 * not worth a third shape. From 64 to 255 bytes one 512-bit register is as fast as 128-bit
 * lanes. */
#define CRC32C_PCLMUL_MIN 64u
#define CRC32C_VPCLMUL_MIN 64u

#define CRC32C_PCLMUL_TARGET "pclmul,sse4.2"
#define CRC32C_VPCLMUL_TARGET "avx512f,avx512vl,vpclmulqdq,pclmul,sse4.2"

__attribute__((target(CRC32C_PCLMUL_TARGET))) static inline __m128i
crc32c_pair_128(struct crc32c_fold_pair pair)
{
    return _mm_set_epi64x((long long)pair.second, (long long)pair.first);
}

__attribute__((target(CRC32C_PCLMUL_TARGET))) static inline __m128i
crc32c_load_128(const u8 *bytes)
{
    return _mm_loadu_si128((const __m128i *)(const void *)bytes);
}

/* The lane multiplied by x^d mod P, for the d of constants (not yet reduced to 32 bits). */
__attribute__((target(CRC32C_PCLMUL_TARGET))) static inline __m128i
crc32c_fold_128(__m128i lane, __m128i constants)
{
    return _mm_xor_si128(_mm_clmulepi64_si128(lane, constants, 0x00),
                         _mm_clmulepi64_si128(lane, constants, 0x11));
}

/* Folds the whole 16-byte blocks left into lane, then reduces it and the last bytes with the
 * crc32 instruction; returns the finished CRC. */
__attribute__((target(CRC32C_PCLMUL_TARGET))) static inline u32
crc32c_fold_finish(__m128i lane, const u8 *bytes, u64 size)
{
    __m128i by128 = crc32c_pair_128(crc32c_fold.by128);
    for (; size >= 16; size -= 16, bytes += 16) {
        lane = _mm_xor_si128(crc32c_fold_128(lane, by128), crc32c_load_128(bytes));
    }
    u64 value = __builtin_ia32_crc32di(0, (u64)_mm_cvtsi128_si64(lane));
    value = __builtin_ia32_crc32di(value, (u64)_mm_extract_epi64(lane, 1));
    if (size >= 8) {
        value = __builtin_ia32_crc32di(value, crc32c_load64(bytes));
        bytes += 8;
        size -= 8;
    }
    return ~crc32c_sse42_tail((u32)value, bytes, size);
}

/* Four 128-bit lanes, 64 bytes a step, each folded 512 bits forward. */
__attribute__((target(CRC32C_PCLMUL_TARGET))) static u32 crc32c_extend_pclmul(u32 crc,
                                                                           const u8 *bytes,
                                                                           u64 size)
{
    if (size < CRC32C_PCLMUL_MIN) return crc32c_extend_sse42(crc, bytes, size);
    ASSERT(size >= 64);
    crc32c_fold_prepare();
    __m128i lane0 = _mm_xor_si128(crc32c_load_128(bytes), _mm_cvtsi32_si128((int)~crc));
    __m128i lane1 = crc32c_load_128(bytes + 16);
    __m128i lane2 = crc32c_load_128(bytes + 32);
    __m128i lane3 = crc32c_load_128(bytes + 48);
    bytes += 64;
    size -= 64;
    __m128i by512 = crc32c_pair_128(crc32c_fold.by512);
    for (; size >= 64; size -= 64, bytes += 64) {
        lane0 = _mm_xor_si128(crc32c_fold_128(lane0, by512), crc32c_load_128(bytes));
        lane1 = _mm_xor_si128(crc32c_fold_128(lane1, by512), crc32c_load_128(bytes + 16));
        lane2 = _mm_xor_si128(crc32c_fold_128(lane2, by512), crc32c_load_128(bytes + 32));
        lane3 = _mm_xor_si128(crc32c_fold_128(lane3, by512), crc32c_load_128(bytes + 48));
    }
    /* Lane i is followed by 3 - i lanes: fold each that far onto the last, independently. */
    __m128i lane = _mm_xor_si128(crc32c_fold_128(lane0, crc32c_pair_128(crc32c_fold.by384)),
                                 crc32c_fold_128(lane1, crc32c_pair_128(crc32c_fold.by256)));
    lane = _mm_xor_si128(lane, crc32c_fold_128(lane2, crc32c_pair_128(crc32c_fold.by128)));
    return crc32c_fold_finish(_mm_xor_si128(lane, lane3), bytes, size);
}

__attribute__((target(CRC32C_VPCLMUL_TARGET))) static inline __m512i
crc32c_pair_512(struct crc32c_fold_pair pair)
{
    return _mm512_broadcast_i32x4(crc32c_pair_128(pair));
}

__attribute__((target(CRC32C_VPCLMUL_TARGET))) static inline __m512i
crc32c_load_512(const u8 *bytes)
{
    return _mm512_loadu_si512((const void *)bytes);
}

/* Each of the four 128-bit lanes of lanes folded by constants, XORed with next. */
__attribute__((target(CRC32C_VPCLMUL_TARGET))) static inline __m512i
crc32c_fold_512(__m512i lanes, __m512i constants, __m512i next)
{
    return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(lanes, constants, 0x00),
                                     _mm512_clmulepi64_epi128(lanes, constants, 0x11), next,
                                     0x96 /* a ^ b ^ c */);
}

/* Four 512-bit registers (sixteen 128-bit lanes), 256 bytes a step, each lane folded 2048
 * bits forward; then 64 bytes a step in one register. */
__attribute__((target(CRC32C_VPCLMUL_TARGET))) static u32 crc32c_extend_vpclmul(u32 crc,
                                                                             const u8 *bytes,
                                                                             u64 size)
{
    if (size < CRC32C_VPCLMUL_MIN) return crc32c_extend_sse42(crc, bytes, size);
    ASSERT(size >= 64);
    crc32c_fold_prepare();
    __m512i lanes = _mm512_xor_si512(crc32c_load_512(bytes),
                                     _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, (long long)(u32)~crc));
    __m512i by512 = crc32c_pair_512(crc32c_fold.by512);
    if (size >= 256) {
        __m512i lanes1 = crc32c_load_512(bytes + 64);
        __m512i lanes2 = crc32c_load_512(bytes + 128);
        __m512i lanes3 = crc32c_load_512(bytes + 192);
        bytes += 256;
        size -= 256;
        __m512i by2048 = crc32c_pair_512(crc32c_fold.by2048);
        for (; size >= 256; size -= 256, bytes += 256) {
            lanes = crc32c_fold_512(lanes, by2048, crc32c_load_512(bytes));
            lanes1 = crc32c_fold_512(lanes1, by2048, crc32c_load_512(bytes + 64));
            lanes2 = crc32c_fold_512(lanes2, by2048, crc32c_load_512(bytes + 128));
            lanes3 = crc32c_fold_512(lanes3, by2048, crc32c_load_512(bytes + 192));
        }
        /* Register i is followed by 3 - i registers: fold each that far, independently. */
        lanes = crc32c_fold_512(lanes, crc32c_pair_512(crc32c_fold.by1536), lanes3);
        lanes1 = crc32c_fold_512(lanes1, crc32c_pair_512(crc32c_fold.by1024), lanes);
        lanes = crc32c_fold_512(lanes2, by512, lanes1);
    } else {
        bytes += 64;
        size -= 64;
    }
    for (; size >= 64; size -= 64, bytes += 64) {
        lanes = crc32c_fold_512(lanes, by512, crc32c_load_512(bytes));
    }
    /* Lane i of the register is followed by 3 - i lanes; the last one is not moved (its
     * constants are zero, and it is added in unmultiplied). */
    struct crc32c_fold_pair by384 = crc32c_fold.by384, by256 = crc32c_fold.by256;
    struct crc32c_fold_pair by128 = crc32c_fold.by128;
    __m512i reduce = _mm512_set_epi64(0, 0, (long long)by128.second, (long long)by128.first,
                                      (long long)by256.second, (long long)by256.first,
                                      (long long)by384.second, (long long)by384.first);
    __m512i moved = _mm512_xor_si512(_mm512_clmulepi64_epi128(lanes, reduce, 0x00),
                                     _mm512_clmulepi64_epi128(lanes, reduce, 0x11));
    __m128i lane = _mm_xor_si128(_mm512_extracti32x4_epi32(moved, 0),
                                 _mm512_extracti32x4_epi32(moved, 1));
    lane = _mm_xor_si128(lane, _mm512_extracti32x4_epi32(moved, 2));
    lane = _mm_xor_si128(lane, _mm512_extracti32x4_epi32(lanes, 3));
    return crc32c_fold_finish(lane, bytes, size);
}
#endif

/* The path in use; AUTO until the first call chooses. Every path computes the same function,
 * so this choice changes only the speed. */
static enum crc32c_path crc32c_path_current;

bool crc32c_path_available(enum crc32c_path path)
{
    ASSERT(path < CRC32C_PATH_COUNT);
    switch (path) {
    case CRC32C_PATH_AUTO:
    case CRC32C_PATH_TABLE: return true;
#if defined(__x86_64__)
    case CRC32C_PATH_SSE42: return __builtin_cpu_supports("sse4.2");
    case CRC32C_PATH_PCLMUL:
        return __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul");
    case CRC32C_PATH_VPCLMUL:
        /* avx512f also means the operating system saves the 512-bit registers. */
        return __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul") &&
               __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("vpclmulqdq");
#endif
    default: return false;
    }
}

static enum crc32c_path crc32c_path_best(void)
{
    if (crc32c_path_available(CRC32C_PATH_VPCLMUL)) return CRC32C_PATH_VPCLMUL;
    if (crc32c_path_available(CRC32C_PATH_PCLMUL)) return CRC32C_PATH_PCLMUL;
    if (crc32c_path_available(CRC32C_PATH_SSE42)) return CRC32C_PATH_SSE42;
    return CRC32C_PATH_TABLE;
}

bool crc32c_force_path(enum crc32c_path path)
{
    if (!crc32c_path_available(path)) return false;
    crc32c_path_current = path == CRC32C_PATH_AUTO ? crc32c_path_best() : path;
    return true;
}

enum crc32c_path crc32c_active_path(void)
{
    if (crc32c_path_current == CRC32C_PATH_AUTO) crc32c_path_current = crc32c_path_best();
    return crc32c_path_current;
}

const char *crc32c_path_name(enum crc32c_path path)
{
    ASSERT(path < CRC32C_PATH_COUNT);
    static const char *const names[CRC32C_PATH_COUNT] = {
        [CRC32C_PATH_AUTO] = "auto",     [CRC32C_PATH_TABLE] = "table",
        [CRC32C_PATH_SSE42] = "sse4.2",  [CRC32C_PATH_PCLMUL] = "pclmul",
        [CRC32C_PATH_VPCLMUL] = "vpclmul",
    };
    return names[path];
}

u32 crc32c_extend(u32 crc, const u8 *bytes, u64 size)
{
    ASSERT(size == 0 || bytes != NULL);
    switch (crc32c_active_path()) {
#if defined(__x86_64__)
    case CRC32C_PATH_SSE42: return crc32c_extend_sse42(crc, bytes, size);
    case CRC32C_PATH_PCLMUL: return crc32c_extend_pclmul(crc, bytes, size);
    case CRC32C_PATH_VPCLMUL: return crc32c_extend_vpclmul(crc, bytes, size);
#endif
    case CRC32C_PATH_TABLE: return crc32c_extend_table(crc, bytes, size);
    default: break;
    }
    assert_fail("a CRC-32C path this build has", __FILE__, __LINE__);
}
