/* record_batch.h: Kafka's record batch format v2 (magic 2), as stored in .log segments and sent
 * in Produce and Fetch.
 *
 * Layout (big-endian):
 *   BaseOffset i64 | BatchLength i32 | PartitionLeaderEpoch i32 | Magic i8 | Crc u32 |
 *   Attributes i16 | LastOffsetDelta i32 | BaseTimestamp i64 | MaxTimestamp i64 |
 *   ProducerId i64 | ProducerEpoch i16 | BaseSequence i32 | RecordCount i32 | Records...
 * BatchLength counts the bytes after itself. Crc is CRC-32C over Attributes..end, so the log can
 * assign BaseOffset and PartitionLeaderEpoch without recomputing it. Each record:
 *   Length varint | Attributes i8 | TimestampDelta varlong | OffsetDelta varint |
 *   KeyLength varint | Key | ValueLength varint | Value | HeaderCount varint |
 *   (HeaderKeyLength varint | HeaderKey | HeaderValueLength varint | HeaderValue)*
 * where varints are zigzag-encoded (as protobuf's sint32/sint64) and a length of -1 means null.
 *
 * Decoding never trusts the bytes: every length is checked against what is there, and errors
 * are returned, never asserted. Fields keep the spec's CamelCase names.
 *
 * May depend on: base.h, crc32c.h. */
#ifndef RECORD_BATCH_H
#define RECORD_BATCH_H

#include "../base.h"

#define RECORD_BATCH_HEADER_SIZE 61u
#define RECORD_BATCH_LENGTH_OFFSET 8u  /* Where BatchLength sits. */
#define RECORD_BATCH_EPOCH_OFFSET 12u  /* PartitionLeaderEpoch. */
#define RECORD_BATCH_MAGIC_OFFSET 16u
#define RECORD_BATCH_CRC_OFFSET 17u
#define RECORD_BATCH_CRC_START 21u     /* Attributes: the first byte the CRC covers. */
#define RECORD_BATCH_LOG_OVERHEAD 12u  /* BaseOffset + BatchLength, not counted in BatchLength. */
#define RECORD_BATCH_MAGIC 2

enum record_compression {
    RECORD_COMPRESSION_NONE = 0,
    RECORD_COMPRESSION_GZIP = 1,
    RECORD_COMPRESSION_SNAPPY = 2,
    RECORD_COMPRESSION_LZ4 = 3,
    RECORD_COMPRESSION_ZSTD = 4,
};

#define RECORD_ATTRIBUTE_COMPRESSION_MASK 0x07
#define RECORD_ATTRIBUTE_LOG_APPEND_TIME 0x08
#define RECORD_ATTRIBUTE_TRANSACTIONAL 0x10
#define RECORD_ATTRIBUTE_CONTROL 0x20
#define RECORD_ATTRIBUTE_DELETE_HORIZON 0x40

struct record_batch_header {
    i64 BaseOffset;
    i32 BatchLength;
    i32 PartitionLeaderEpoch;
    i8 Magic;
    u32 Crc;
    i16 Attributes;
    i32 LastOffsetDelta;
    i64 BaseTimestamp;
    i64 MaxTimestamp;
    i64 ProducerId;
    i16 ProducerEpoch;
    i32 BaseSequence;
    i32 RecordCount;
};

enum batch_error {
    BATCH_OK = 0,
    BATCH_INCOMPLETE, /* Fewer bytes than the batch claims: a torn tail or a partial fetch. */
    BATCH_CORRUPT,    /* The CRC does not match. */
    BATCH_INVALID,    /* Bad magic, impossible lengths, records that do not parse or count. */
};

const char *batch_error_name(enum batch_error error);

/* The total size of the batch starting at bytes (BatchLength + 12), once 12 bytes are there. */
WARN_UNUSED enum batch_error batch_size_peek(const u8 *bytes, u64 size, u64 *batch_size);

/* Decodes the fixed header. Checks sizes and magic, not the CRC. */
WARN_UNUSED enum batch_error batch_header_decode(const u8 *bytes, u64 size,
                                                 struct record_batch_header *header);

/* Full validation of one batch at the start of bytes: header, CRC, and (when uncompressed) that
 * the records parse, number RecordCount, and carry offset deltas 0..LastOffsetDelta in order. */
WARN_UNUSED enum batch_error batch_validate(const u8 *bytes, u64 size,
                                            struct record_batch_header *header);
/* The records area of a batch (uncompressed, or decompressed from a compressed one) against
 * its header: RecordCount records that parse, headers included, offset deltas 0..LastOffsetDelta
 * in order, nothing after. batch_validate applies it to uncompressed batches. */
WARN_UNUSED enum batch_error batch_records_validate(const u8 *records, u64 size,
                                                    const struct record_batch_header *header);

/* Rewrites BaseOffset / PartitionLeaderEpoch in place (outside the CRC, as the log does). */
void batch_set_base_offset(u8 *bytes, i64 base_offset);
void batch_set_leader_epoch(u8 *bytes, i32 leader_epoch);

/* ----- Records ----- */

struct record_view {
    i8 Attributes;
    i64 TimestampDelta;
    i32 OffsetDelta;
    const u8 *Key; /* NULL when null. */
    i32 KeyLength; /* -1 when null. */
    const u8 *Value;
    i32 ValueLength;
    i32 HeaderCount;
    const u8 *Headers; /* The encoded headers, HeadersSize bytes. */
    u32 HeadersSize;
};

struct record_header_view {
    const u8 *Key;
    i32 KeyLength;
    const u8 *Value; /* NULL when null. */
    i32 ValueLength;
};

/* Walks the records of an uncompressed batch (or a decompressed records area). */
struct record_iterator {
    const u8 *bytes;
    u64 size;
    u64 position;
    u32 remaining;
};

void record_iterator_init(struct record_iterator *iterator, const u8 *records, u64 size,
                          u32 record_count);
/* BATCH_OK with *more = false after the last record. */
WARN_UNUSED enum batch_error record_iterator_next(struct record_iterator *iterator,
                                                  struct record_view *record, bool *more);
/* Walks one record's headers; index < record->HeaderCount, in order. */
WARN_UNUSED enum batch_error record_header_next(const struct record_view *record, u64 *position,
                                                struct record_header_view *header);

/* ----- Building batches (producers in the simulator, tests, control batches) ----- */

struct batch_builder {
    u8 *buffer;
    u64 capacity;
    u64 size;
    struct record_batch_header header;
    bool failed; /* The buffer was too small; finish() reports it. */
};

struct record_header_input {
    const u8 *key;
    i32 key_length;
    const u8 *value; /* NULL for a null header value. */
    i32 value_length;
};

void batch_builder_init(struct batch_builder *builder, u8 *buffer, u64 capacity,
                        i64 base_offset, i64 base_timestamp);
/* Producer fields; defaults are -1 / -1 / -1 (no idempotence). */
void batch_builder_producer(struct batch_builder *builder, i64 producer_id, i16 producer_epoch,
                            i32 base_sequence, bool transactional);
/* key/value NULL means null. */
void batch_builder_add(struct batch_builder *builder, i64 timestamp, const u8 *key,
                       i32 key_length, const u8 *value, i32 value_length,
                       const struct record_header_input *headers, u32 header_count);
/* Writes lengths and CRC; returns the batch size, or 0 if it did not fit or had no record. */
WARN_UNUSED u64 batch_builder_finish(struct batch_builder *builder);

/* ----- Varints (zigzag), exposed for codecs and tests ----- */

/* Returns bytes consumed (1..10), or 0 when malformed or truncated. */
WARN_UNUSED u32 varint_decode_i64(const u8 *bytes, u64 size, i64 *value);
/* Returns bytes written (1..10); buffer must hold 10. */
u32 varint_encode_i64(u8 *buffer, i64 value);

#endif
