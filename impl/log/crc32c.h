/* crc32c.h: CRC-32C (Castagnoli), the checksum of Kafka's record batch format v2.
 *
 * May depend on: base.h. */
#ifndef CRC32C_H
#define CRC32C_H

#include "../base.h"

/* Extends crc (0 to start) over size bytes. crc32c_extend(0, "123456789", 9) == 0xE3069283. */
u32 crc32c_extend(u32 crc, const u8 *bytes, u64 size);

static inline u32 crc32c(const u8 *bytes, u64 size) { return crc32c_extend(0, bytes, size); }

#endif
