/* compression.c: gzip, snappy (xerial framing or raw), lz4 (frame) and zstd for record batches.
 *
 * Every decoder is fed bytes from the network or the disk: lengths are checked before use, the
 * output is bounded by the caller's capacity, and a library's error becomes
 * COMPRESSION_CORRUPT. batch_compress and batch_records_decompress are paired: the tests
 * round-trip every codec through both and through the partition log (tests/unit/
 * test_log_compression.c), and check the xerial framing against a stream assembled by hand. */
#include "compression.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "crc32c.h"

#define SNAPPY_XERIAL_HEADER_SIZE 16u
#define SNAPPY_XERIAL_BLOCK_SIZE (32u * 1024u) /* snappy-java's default block. */
static const u8 snappy_xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};

const char *compression_result_name(enum compression_result result)
{
    switch (result) {
    case COMPRESSION_OK: return "ok";
    case COMPRESSION_CORRUPT: return "corrupt compressed data";
    case COMPRESSION_TOO_LARGE: return "decompressed data too large";
    case COMPRESSION_UNSUPPORTED: return "unsupported codec";
    }
    return "unknown";
}

/* ===== gzip ===== */

static enum compression_result gzip_decompress(const u8 *input, u64 input_size, u8 *output,
                                               u64 capacity, u64 *output_size)
{
    z_stream stream;
    memset(&stream, 0, sizeof(stream));
    if (input_size > UINT32_MAX || capacity > UINT32_MAX) return COMPRESSION_TOO_LARGE;
    if (inflateInit2(&stream, 15 + 32) != Z_OK) return COMPRESSION_CORRUPT; /* gzip or zlib */
    stream.next_in = (Bytef *)input;
    stream.avail_in = (uInt)input_size;
    stream.next_out = output;
    stream.avail_out = (uInt)capacity;
    enum compression_result result = COMPRESSION_OK;
    /* Java may write several gzip members back to back; inflate them all. */
    for (u32 members = 0; members < 1024; members++) {
        int status = inflate(&stream, Z_FINISH);
        if (status == Z_STREAM_END && stream.avail_in > 0) {
            if (inflateReset(&stream) != Z_OK) break;
            continue;
        }
        if (status == Z_STREAM_END) break;
        result = (status == Z_BUF_ERROR && stream.avail_out == 0) ? COMPRESSION_TOO_LARGE
                                                                   : COMPRESSION_CORRUPT;
        break;
    }
    *output_size = stream.total_out;
    inflateEnd(&stream);
    return result;
}

static enum compression_result gzip_compress(const u8 *input, u64 input_size, u8 *output,
                                             u64 capacity, u64 *output_size)
{
    z_stream stream;
    memset(&stream, 0, sizeof(stream));
    if (input_size > UINT32_MAX || capacity > UINT32_MAX) return COMPRESSION_TOO_LARGE;
    if (deflateInit2(&stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return COMPRESSION_UNSUPPORTED;
    }
    stream.next_in = (Bytef *)input;
    stream.avail_in = (uInt)input_size;
    stream.next_out = output;
    stream.avail_out = (uInt)capacity;
    int status = deflate(&stream, Z_FINISH);
    *output_size = stream.total_out;
    deflateEnd(&stream);
    return status == Z_STREAM_END ? COMPRESSION_OK : COMPRESSION_TOO_LARGE;
}

/* ===== snappy ===== */

static enum compression_result snappy_raw_decompress(const u8 *input, u64 input_size,
                                                     u8 *output, u64 capacity, u64 *written)
{
    size_t length = 0;
    if (snappy_uncompressed_length((const char *)input, input_size, &length) != SNAPPY_OK) {
        return COMPRESSION_CORRUPT;
    }
    if (length > capacity) return COMPRESSION_TOO_LARGE;
    if (snappy_uncompress((const char *)input, input_size, (char *)output, &length) !=
        SNAPPY_OK) {
        return COMPRESSION_CORRUPT;
    }
    *written = length;
    return COMPRESSION_OK;
}

static enum compression_result snappy_decompress(const u8 *input, u64 input_size, u8 *output,
                                                 u64 capacity, u64 *output_size)
{
    *output_size = 0;
    bool xerial = input_size >= SNAPPY_XERIAL_HEADER_SIZE &&
                  memcmp(input, snappy_xerial_magic, sizeof(snappy_xerial_magic)) == 0;
    if (!xerial) return snappy_raw_decompress(input, input_size, output, capacity, output_size);
    u64 position = SNAPPY_XERIAL_HEADER_SIZE;
    /* Each block is at least 5 bytes, so the loop is bounded by the input. */
    while (position < input_size) {
        if (input_size - position < 4) return COMPRESSION_CORRUPT;
        u64 block = load_u32_be(input + position);
        position += 4;
        if (block > input_size - position) return COMPRESSION_CORRUPT;
        u64 written = 0;
        enum compression_result result = snappy_raw_decompress(
            input + position, block, output + *output_size, capacity - *output_size, &written);
        if (result != COMPRESSION_OK) return result;
        *output_size += written;
        position += block;
    }
    return COMPRESSION_OK;
}

static enum compression_result snappy_compress_xerial(const u8 *input, u64 input_size,
                                                      u8 *output, u64 capacity,
                                                      u64 *output_size)
{
    if (capacity < SNAPPY_XERIAL_HEADER_SIZE) return COMPRESSION_TOO_LARGE;
    memcpy(output, snappy_xerial_magic, sizeof(snappy_xerial_magic));
    store_u32_be(output + 8, 1); /* version */
    store_u32_be(output + 12, 1); /* minimum compatible version */
    u64 size = SNAPPY_XERIAL_HEADER_SIZE;
    for (u64 done = 0; done < input_size; done += SNAPPY_XERIAL_BLOCK_SIZE) {
        u64 chunk = MIN((u64)SNAPPY_XERIAL_BLOCK_SIZE, input_size - done);
        if (capacity - size < 4 + snappy_max_compressed_length(chunk)) {
            return COMPRESSION_TOO_LARGE;
        }
        size_t length = capacity - size - 4;
        if (snappy_compress((const char *)input + done, chunk, (char *)output + size + 4,
                            &length) != SNAPPY_OK) {
            return COMPRESSION_TOO_LARGE;
        }
        store_u32_be(output + size, (u32)length);
        size += 4 + length;
    }
    *output_size = size;
    return COMPRESSION_OK;
}

/* ===== lz4 ===== */

static enum compression_result lz4_decompress(const u8 *input, u64 input_size, u8 *output,
                                              u64 capacity, u64 *output_size)
{
    LZ4F_dctx *context = NULL;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&context, LZ4F_VERSION))) {
        return COMPRESSION_UNSUPPORTED;
    }
    u64 in = 0, out = 0;
    enum compression_result result = COMPRESSION_CORRUPT;
    /* Each call consumes input or produces output, else the frame is bad or the output full. */
    for (u32 guard = 0; guard < 1u << 20; guard++) {
        size_t in_size = input_size - in, out_size = capacity - out;
        size_t hint = LZ4F_decompress(context, output + out, &out_size, input + in, &in_size,
                                      NULL);
        in += in_size;
        out += out_size;
        if (LZ4F_isError(hint)) break;
        if (hint == 0) {
            result = in == input_size ? COMPRESSION_OK : COMPRESSION_CORRUPT;
            break;
        }
        if (in_size == 0 && out_size == 0) {
            result = out == capacity ? COMPRESSION_TOO_LARGE : COMPRESSION_CORRUPT;
            break;
        }
    }
    LZ4F_freeDecompressionContext(context);
    *output_size = out;
    return result;
}

static enum compression_result lz4_compress(const u8 *input, u64 input_size, u8 *output,
                                            u64 capacity, u64 *output_size)
{
    LZ4F_preferences_t preferences;
    memset(&preferences, 0, sizeof(preferences));
    preferences.frameInfo.blockSizeID = LZ4F_max64KB; /* Kafka's block size. */
    preferences.frameInfo.blockMode = LZ4F_blockIndependent;
    if (capacity < LZ4F_compressFrameBound(input_size, &preferences)) {
        return COMPRESSION_TOO_LARGE;
    }
    size_t size = LZ4F_compressFrame(output, capacity, input, input_size, &preferences);
    if (LZ4F_isError(size)) return COMPRESSION_TOO_LARGE;
    *output_size = size;
    return COMPRESSION_OK;
}

/* ===== zstd ===== */

static enum compression_result zstd_decompress(const u8 *input, u64 input_size, u8 *output,
                                               u64 capacity, u64 *output_size)
{
    ZSTD_DCtx *context = ZSTD_createDCtx();
    if (context == NULL) return COMPRESSION_UNSUPPORTED;
    ZSTD_inBuffer in = {input, input_size, 0};
    ZSTD_outBuffer out = {output, capacity, 0};
    enum compression_result result = COMPRESSION_CORRUPT;
    for (u32 guard = 0; guard < 1u << 20; guard++) {
        size_t before_in = in.pos, before_out = out.pos;
        size_t status = ZSTD_decompressStream(context, &out, &in);
        if (ZSTD_isError(status)) break;
        if (status == 0 && in.pos == in.size) {
            result = COMPRESSION_OK;
            break;
        }
        if (in.pos == before_in && out.pos == before_out) {
            result = out.pos == out.size ? COMPRESSION_TOO_LARGE : COMPRESSION_CORRUPT;
            break;
        }
    }
    ZSTD_freeDCtx(context);
    *output_size = out.pos;
    return result;
}

static enum compression_result zstd_compress_frame(const u8 *input, u64 input_size, u8 *output,
                                                   u64 capacity, u64 *output_size)
{
    size_t size = ZSTD_compress(output, capacity, input, input_size, 3);
    if (ZSTD_isError(size)) return COMPRESSION_TOO_LARGE;
    *output_size = size;
    return COMPRESSION_OK;
}

/* ===== Dispatch ===== */

enum compression_result compression_decompress(enum record_compression codec, const u8 *input,
                                               u64 input_size, u8 *output, u64 capacity,
                                               u64 *output_size)
{
    *output_size = 0;
    switch (codec) {
    case RECORD_COMPRESSION_GZIP:
        return gzip_decompress(input, input_size, output, capacity, output_size);
    case RECORD_COMPRESSION_SNAPPY:
        return snappy_decompress(input, input_size, output, capacity, output_size);
    case RECORD_COMPRESSION_LZ4:
        return lz4_decompress(input, input_size, output, capacity, output_size);
    case RECORD_COMPRESSION_ZSTD:
        return zstd_decompress(input, input_size, output, capacity, output_size);
    case RECORD_COMPRESSION_NONE: break;
    }
    return COMPRESSION_UNSUPPORTED;
}

enum compression_result compression_compress(enum record_compression codec, const u8 *input,
                                             u64 input_size, u8 *output, u64 capacity,
                                             u64 *output_size)
{
    *output_size = 0;
    switch (codec) {
    case RECORD_COMPRESSION_GZIP:
        return gzip_compress(input, input_size, output, capacity, output_size);
    case RECORD_COMPRESSION_SNAPPY:
        return snappy_compress_xerial(input, input_size, output, capacity, output_size);
    case RECORD_COMPRESSION_LZ4:
        return lz4_compress(input, input_size, output, capacity, output_size);
    case RECORD_COMPRESSION_ZSTD:
        return zstd_compress_frame(input, input_size, output, capacity, output_size);
    case RECORD_COMPRESSION_NONE: break;
    }
    return COMPRESSION_UNSUPPORTED;
}

/* ===== Batches ===== */

enum batch_error batch_records_decompress(const u8 *batch, u64 batch_size,
                                          const struct record_batch_header *header, u8 *scratch,
                                          u64 scratch_capacity, u64 *records_size)
{
    ASSERT(batch_size >= RECORD_BATCH_HEADER_SIZE);
    enum record_compression codec = header->Attributes & RECORD_ATTRIBUTE_COMPRESSION_MASK;
    u64 size = 0;
    enum compression_result result = compression_decompress(
        codec, batch + RECORD_BATCH_HEADER_SIZE, batch_size - RECORD_BATCH_HEADER_SIZE, scratch,
        scratch_capacity, &size);
    if (result == COMPRESSION_TOO_LARGE) return BATCH_INCOMPLETE;
    if (result != COMPRESSION_OK) return BATCH_INVALID;
    /* The same rule as for records in the clear (fuzz_record_batch found a compressed batch
     * whose LastOffsetDelta lied, or whose record headers did not parse, accepted here). */
    enum batch_error error = batch_records_validate(scratch, size, header);
    if (error != BATCH_OK) return error;
    *records_size = size;
    return BATCH_OK;
}

u64 batch_compress(const u8 *batch, u64 batch_size, enum record_compression codec, u8 *output,
                   u64 capacity)
{
    struct record_batch_header header;
    ASSERT(batch_validate(batch, batch_size, &header) == BATCH_OK);
    ASSERT((header.Attributes & RECORD_ATTRIBUTE_COMPRESSION_MASK) == RECORD_COMPRESSION_NONE);
    ASSERT(codec != RECORD_COMPRESSION_NONE);
    if (capacity < RECORD_BATCH_HEADER_SIZE) return 0;
    u64 records_size = 0;
    if (compression_compress(codec, batch + RECORD_BATCH_HEADER_SIZE,
                             batch_size - RECORD_BATCH_HEADER_SIZE,
                             output + RECORD_BATCH_HEADER_SIZE,
                             capacity - RECORD_BATCH_HEADER_SIZE, &records_size) !=
        COMPRESSION_OK) {
        return 0;
    }
    u64 size = RECORD_BATCH_HEADER_SIZE + records_size;
    if (size - RECORD_BATCH_LOG_OVERHEAD > INT32_MAX) return 0;
    memcpy(output, batch, RECORD_BATCH_HEADER_SIZE);
    store_u32_be(output + RECORD_BATCH_LENGTH_OFFSET, (u32)(size - RECORD_BATCH_LOG_OVERHEAD));
    u16 attributes = (u16)((header.Attributes & ~RECORD_ATTRIBUTE_COMPRESSION_MASK) | codec);
    store_u16_be(output + RECORD_BATCH_CRC_START, attributes);
    store_u32_be(output + RECORD_BATCH_CRC_OFFSET,
                 crc32c(output + RECORD_BATCH_CRC_START, size - RECORD_BATCH_CRC_START));
    return size;
}
