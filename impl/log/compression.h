/* compression.h: the record batch codecs Kafka uses, for the broker's few needs to look inside a
 * compressed batch (validating its records, finding a record by timestamp) and for simulated
 * producers and tests to make compressed batches.
 *
 * Codecs and the framing Kafka puts around them:
 *   - gzip: RFC 1952 gzip members (Java's GZIPOutputStream), via zlib;
 *   - snappy: the xerial "snappy-java" stream (magic 82 'SNAPPY' 00, version, compatible
 *     version, then blocks of [length i32 BE][raw snappy]), as Java producers write it; raw
 *     snappy without that header is accepted too (some clients send it), via libsnappy;
 *   - lz4: the standard LZ4 frame format (Kafka's KafkaLZ4Block*Stream for magic 2), via liblz4;
 *   - zstd: a zstd frame, possibly without its content size, via libzstd.
 * Batches are stored and served as they arrived; nothing here recompresses.
 *
 * The libraries allocate their own small contexts per call: the only allocation in impl/ after
 * initialisation, bounded and freed before returning. Output never exceeds the caller's
 * capacity: too much is COMPRESSION_TOO_LARGE, not a partial result.
 *
 * May depend on: base.h, record_batch.h, zlib, libsnappy, liblz4, libzstd. */
#ifndef LOG_COMPRESSION_H
#define LOG_COMPRESSION_H

#include "record_batch.h"

enum compression_result {
    COMPRESSION_OK = 0,
    COMPRESSION_CORRUPT,   /* The compressed bytes do not decode. */
    COMPRESSION_TOO_LARGE, /* The output does not fit the capacity given. */
    COMPRESSION_UNSUPPORTED,
};

const char *compression_result_name(enum compression_result result);

WARN_UNUSED enum compression_result compression_decompress(enum record_compression codec,
                                                           const u8 *input, u64 input_size,
                                                           u8 *output, u64 capacity,
                                                           u64 *output_size);
WARN_UNUSED enum compression_result compression_compress(enum record_compression codec,
                                                         const u8 *input, u64 input_size,
                                                         u8 *output, u64 capacity,
                                                         u64 *output_size);

/* Decompresses the records of a compressed batch (header already validated, CRC included) into
 * scratch and checks them as batch_validate checks uncompressed ones: RecordCount records that
 * parse, offset deltas 0..LastOffsetDelta in order, nothing after. *records_size is the
 * decompressed size. BATCH_INCOMPLETE when scratch is too small to tell. */
WARN_UNUSED enum batch_error batch_records_decompress(const u8 *batch, u64 batch_size,
                                                     const struct record_batch_header *header,
                                                     u8 *scratch, u64 scratch_capacity,
                                                     u64 *records_size);

/* Rewrites an uncompressed batch as one compressed with codec (attributes, length and CRC
 * updated, records compressed). Returns the new size, 0 if it does not fit. For producers. */
WARN_UNUSED u64 batch_compress(const u8 *batch, u64 batch_size, enum record_compression codec,
                               u8 *output, u64 capacity);

#endif
