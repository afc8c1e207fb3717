/* crc32c.h: CRC-32C (Castagnoli), the checksum of Kafka's record batch format v2.
 *
 * May depend on: base.h. */
#ifndef CRC32C_H
#define CRC32C_H

#include "../base.h"

/* Extends crc (0 to start) over size bytes. crc32c_extend(0, "123456789", 9) == 0xE3069283. */
u32 crc32c_extend(u32 crc, const u8 *bytes, u64 size);

static inline u32 crc32c(const u8 *bytes, u64 size) { return crc32c_extend(0, bytes, size); }

/* Tests and benchmarks only: the implementations crc32c_extend can use. Every path gives the
 * same result; the process picks the fastest one its CPU has (CRC32C_PATH_AUTO). */
enum crc32c_path {
    CRC32C_PATH_AUTO = 0,
    CRC32C_PATH_TABLE,   /* portable: slicing by 8 bytes */
    CRC32C_PATH_SSE42,   /* the crc32 instruction, three streams */
    CRC32C_PATH_PCLMUL,  /* carry-less multiply folding, 4 x 128-bit lanes */
    CRC32C_PATH_VPCLMUL, /* AVX-512 carry-less multiply folding, 4 x 512-bit lanes */
    CRC32C_PATH_COUNT,
};

/* Tests and benchmarks only. Whether this CPU can run path (AUTO: always). */
bool crc32c_path_available(enum crc32c_path path);
/* Tests and benchmarks only. Makes crc32c_extend use path from now on (AUTO: the automatic
 * choice again); false, and nothing changes, when the CPU lacks it. */
bool crc32c_force_path(enum crc32c_path path);
/* Tests and benchmarks only. The path crc32c_extend uses now (never AUTO). */
enum crc32c_path crc32c_active_path(void);
const char *crc32c_path_name(enum crc32c_path path);

#endif
