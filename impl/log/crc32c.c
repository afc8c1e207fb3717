/* crc32c.c: table-driven CRC-32C, slicing by 8 bytes at a time.
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

u32 crc32c_extend(u32 crc, const u8 *bytes, u64 size)
{
    if (!crc32c_table_ready) crc32c_table_build();
    ASSERT(size == 0 || bytes != NULL);
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
