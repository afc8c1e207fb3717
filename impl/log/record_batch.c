/* record_batch.c: decode, validate and build Kafka record batches (format v2).
 *
 * The decoder is written for hostile input: every read is preceded by a bounds check against the
 * bytes that are actually there, every length is range-checked before it is used as a size, and
 * a varint longer than its type allows is malformed. Errors come back as enum batch_error; the
 * only ASSERTs guard the builder's own arithmetic and the callers' preconditions.
 *
 * The builder and the decoder are tested against each other (round trips with keys, values,
 * headers, nulls, timestamps) and the decoder alone against truncations, bit flips and a batch
 * assembled by hand from the documented layout, in tests/unit/test_record_batch.c. */
#include "record_batch.h"

#include <string.h>

#include "crc32c.h"

const char *batch_error_name(enum batch_error error)
{
    switch (error) {
    case BATCH_OK: return "ok";
    case BATCH_INCOMPLETE: return "incomplete batch";
    case BATCH_CORRUPT: return "CRC mismatch";
    case BATCH_INVALID: return "invalid batch";
    }
    return "unknown";
}

/* ===== Varints ===== */

u32 varint_decode_i64(const u8 *bytes, u64 size, i64 *value)
{
    u64 raw = 0;
    for (u32 i = 0; i < 10; i++) {
        if (i >= size) return 0;
        u8 byte = bytes[i];
        if (i == 9 && byte > 1) return 0; /* Would overflow 64 bits. */
        raw |= (u64)(byte & 0x7F) << (7 * i);
        if ((byte & 0x80) == 0) {
            *value = (i64)(raw >> 1) ^ -(i64)(raw & 1);
            return i + 1;
        }
    }
    return 0;
}

u32 varint_encode_i64(u8 *buffer, i64 value)
{
    u64 raw = ((u64)value << 1) ^ (u64)(value >> 63);
    u32 length = 0;
    while (raw >= 0x80) {
        buffer[length++] = (u8)(raw | 0x80);
        raw >>= 7;
    }
    buffer[length++] = (u8)raw;
    ASSERT(length <= 10);
    return length;
}

/* The record walk runs over every appended batch and was the largest cost of producing 100-byte
 * messages to kbroker (perf, under tests/bench/kafka_bench.sh): its readers are forced in line,
 * and the one- and two-byte varints that most lengths, deltas and counts take are decoded there,
 * the rest (and anything malformed) by varint_decode_i64, with the same results. */
#define RECORD_INLINE static inline __attribute__((always_inline))

/* Reads a zigzag varint of at most max_bytes bytes at *position, not past size. */
RECORD_INLINE bool varint_read(const u8 *bytes, u64 size, u64 *position, u32 max_bytes,
                               i64 *value)
{
    u64 at = *position;
    u64 raw = 0;
    u32 used = 0;
    if (at < size && bytes[at] < 0x80) {
        raw = bytes[at];
        used = 1;
    } else if (at + 2 <= size && bytes[at + 1] < 0x80) {
        raw = (u64)(bytes[at] & 0x7F) | (u64)bytes[at + 1] << 7;
        used = 2;
    } else {
        if (at > size) return false;
        used = varint_decode_i64(bytes + at, size - at, value);
        if (used == 0 || used > max_bytes) return false;
        *position = at + used;
        return true;
    }
    *value = (i64)(raw >> 1) ^ -(i64)(raw & 1);
    *position = at + used;
    return true;
}

/* Reads a zigzag varint that must fit in i32. */
RECORD_INLINE bool varint_read_i32(const u8 *bytes, u64 size, u64 *position, i32 *value)
{
    i64 wide = 0;
    if (!varint_read(bytes, size, position, 5, &wide)) return false;
    if (wide < INT32_MIN || wide > INT32_MAX) return false;
    *value = (i32)wide;
    return true;
}

RECORD_INLINE bool varint_read_i64(const u8 *bytes, u64 size, u64 *position, i64 *value)
{
    return varint_read(bytes, size, position, 10, value);
}

/* Reads a length-prefixed byte string (-1 = null). */
RECORD_INLINE bool bytes_read(const u8 *bytes, u64 size, u64 *position, const u8 **data,
                              i32 *length)
{
    if (!varint_read_i32(bytes, size, position, length)) return false;
    if (*length == -1) {
        *data = NULL;
        return true;
    }
    if (*length < 0 || (u64)*length > size - *position) return false;
    *data = bytes + *position;
    *position += (u64)*length;
    return true;
}

/* ===== Batch header ===== */

enum batch_error batch_size_peek(const u8 *bytes, u64 size, u64 *batch_size)
{
    if (size < RECORD_BATCH_LOG_OVERHEAD) return BATCH_INCOMPLETE;
    i32 length = (i32)load_u32_be(bytes + RECORD_BATCH_LENGTH_OFFSET);
    if (length < (i32)(RECORD_BATCH_HEADER_SIZE - RECORD_BATCH_LOG_OVERHEAD)) return BATCH_INVALID;
    *batch_size = (u64)length + RECORD_BATCH_LOG_OVERHEAD;
    return BATCH_OK;
}

enum batch_error batch_header_decode(const u8 *bytes, u64 size, struct record_batch_header *header)
{
    u64 batch_size = 0;
    enum batch_error error = batch_size_peek(bytes, size, &batch_size);
    if (error != BATCH_OK) return error;
    if (size < RECORD_BATCH_HEADER_SIZE) return BATCH_INCOMPLETE;
    header->BaseOffset = (i64)load_u64_be(bytes + 0);
    header->BatchLength = (i32)load_u32_be(bytes + 8);
    header->PartitionLeaderEpoch = (i32)load_u32_be(bytes + 12);
    header->Magic = (i8)bytes[16];
    header->Crc = load_u32_be(bytes + 17);
    header->Attributes = (i16)load_u16_be(bytes + 21);
    header->LastOffsetDelta = (i32)load_u32_be(bytes + 23);
    header->BaseTimestamp = (i64)load_u64_be(bytes + 27);
    header->MaxTimestamp = (i64)load_u64_be(bytes + 35);
    header->ProducerId = (i64)load_u64_be(bytes + 43);
    header->ProducerEpoch = (i16)load_u16_be(bytes + 51);
    header->BaseSequence = (i32)load_u32_be(bytes + 53);
    header->RecordCount = (i32)load_u32_be(bytes + 57);
    if (header->Magic != RECORD_BATCH_MAGIC) return BATCH_INVALID;
    if (header->BaseOffset < 0) return BATCH_INVALID;
    if (header->RecordCount < 0 || header->LastOffsetDelta < 0) return BATCH_INVALID;
    if (batch_size > size) return BATCH_INCOMPLETE;
    return BATCH_OK;
}

/* Parses the record at *position, which may not reach past size, and moves *position past it.
 * In line in batch_records_validate, which runs on every appended batch. */
RECORD_INLINE enum batch_error record_parse(const u8 *bytes, u64 size, u64 *position_io,
                                            struct record_view *record)
{
    u64 position = *position_io;
    i32 length = 0;
    if (!varint_read_i32(bytes, size, &position, &length)) return BATCH_INVALID;
    if (length < 1 || (u64)length > size - position) return BATCH_INVALID;
    u64 end = position + (u64)length; /* The record may not read past its own length. */
    record->Attributes = (i8)bytes[position++];
    if (!varint_read_i64(bytes, end, &position, &record->TimestampDelta)) return BATCH_INVALID;
    if (!varint_read_i32(bytes, end, &position, &record->OffsetDelta)) return BATCH_INVALID;
    if (!bytes_read(bytes, end, &position, &record->Key, &record->KeyLength)) return BATCH_INVALID;
    if (!bytes_read(bytes, end, &position, &record->Value, &record->ValueLength)) {
        return BATCH_INVALID;
    }
    if (!varint_read_i32(bytes, end, &position, &record->HeaderCount)) return BATCH_INVALID;
    if (record->HeaderCount < 0) return BATCH_INVALID;
    record->Headers = bytes + position;
    record->HeadersSize = (u32)(end - position);
    /* Each header takes at least two bytes, so a count beyond that is a lie. */
    if ((u64)record->HeaderCount > record->HeadersSize / 2 + 1) return BATCH_INVALID;
    *position_io = end;
    return BATCH_OK;
}

enum batch_error batch_records_validate(const u8 *records, u64 size,
                                        const struct record_batch_header *header)
{
    /* record_iterator_next's walk, with the record parsed in line. */
    u64 position = 0;
    i32 expected_delta = 0;
    for (i32 remaining = header->RecordCount; remaining > 0; remaining--) {
        struct record_view record;
        enum batch_error error = record_parse(records, size, &position, &record);
        if (error != BATCH_OK) return error;
        if (record.OffsetDelta != expected_delta) return BATCH_INVALID;
        u64 header_position = 0;
        for (i32 h = 0; h < record.HeaderCount; h++) {
            struct record_header_view view;
            error = record_header_next(&record, &header_position, &view);
            if (error != BATCH_OK) return error;
        }
        expected_delta++;
    }
    if (position != size) return BATCH_INVALID; /* Trailing bytes. */
    if (header->RecordCount > 0 && expected_delta - 1 != header->LastOffsetDelta) {
        return BATCH_INVALID;
    }
    return BATCH_OK;
}

enum batch_error batch_validate(const u8 *bytes, u64 size, struct record_batch_header *header)
{
    enum batch_error error = batch_header_decode(bytes, size, header);
    if (error != BATCH_OK) return error;
    u64 batch_size = (u64)header->BatchLength + RECORD_BATCH_LOG_OVERHEAD;
    ASSERT(batch_size <= size);
    u32 crc = crc32c(bytes + RECORD_BATCH_CRC_START, batch_size - RECORD_BATCH_CRC_START);
    if (crc != header->Crc) return BATCH_CORRUPT;
    if (header->RecordCount == 0) return BATCH_INVALID;
    if ((header->Attributes & RECORD_ATTRIBUTE_COMPRESSION_MASK) > RECORD_COMPRESSION_ZSTD) {
        return BATCH_INVALID;
    }
    if ((header->Attributes & RECORD_ATTRIBUTE_COMPRESSION_MASK) != RECORD_COMPRESSION_NONE) {
        return BATCH_OK; /* Records are checked after decompression, by the caller. */
    }
    return batch_records_validate(bytes + RECORD_BATCH_HEADER_SIZE,
                                  batch_size - RECORD_BATCH_HEADER_SIZE, header);
}

void batch_set_base_offset(u8 *bytes, i64 base_offset)
{
    ASSERT(base_offset >= 0);
    store_u64_be(bytes, (u64)base_offset);
}

void batch_set_leader_epoch(u8 *bytes, i32 leader_epoch)
{
    store_u32_be(bytes + RECORD_BATCH_EPOCH_OFFSET, (u32)leader_epoch);
}

/* ===== Records ===== */

void record_iterator_init(struct record_iterator *iterator, const u8 *records, u64 size,
                          u32 record_count)
{
    iterator->bytes = records;
    iterator->size = size;
    iterator->position = 0;
    iterator->remaining = record_count;
}

enum batch_error record_iterator_next(struct record_iterator *iterator,
                                      struct record_view *record, bool *more)
{
    ASSERT(iterator->position <= iterator->size);
    if (iterator->remaining == 0) {
        *more = false;
        return BATCH_OK;
    }
    memset(record, 0, sizeof(*record));
    enum batch_error error = record_parse(iterator->bytes, iterator->size, &iterator->position,
                                          record);
    if (error != BATCH_OK) return error;
    iterator->remaining--;
    *more = true;
    return BATCH_OK;
}

enum batch_error record_header_next(const struct record_view *record, u64 *position,
                                    struct record_header_view *header)
{
    const u8 *bytes = record->Headers;
    u64 size = record->HeadersSize;
    if (!bytes_read(bytes, size, position, &header->Key, &header->KeyLength)) {
        return BATCH_INVALID;
    }
    if (header->Key == NULL) return BATCH_INVALID; /* Header keys are never null. */
    if (!bytes_read(bytes, size, position, &header->Value, &header->ValueLength)) {
        return BATCH_INVALID;
    }
    return BATCH_OK;
}

/* ===== Builder ===== */

void batch_builder_init(struct batch_builder *builder, u8 *buffer, u64 capacity,
                        i64 base_offset, i64 base_timestamp)
{
    ASSERT(base_offset >= 0);
    memset(builder, 0, sizeof(*builder));
    builder->buffer = buffer;
    builder->capacity = capacity;
    builder->size = RECORD_BATCH_HEADER_SIZE;
    builder->failed = capacity < RECORD_BATCH_HEADER_SIZE;
    builder->header.BaseOffset = base_offset;
    builder->header.Magic = RECORD_BATCH_MAGIC;
    builder->header.BaseTimestamp = base_timestamp;
    builder->header.MaxTimestamp = base_timestamp;
    builder->header.ProducerId = -1;
    builder->header.ProducerEpoch = -1;
    builder->header.BaseSequence = -1;
    builder->header.PartitionLeaderEpoch = -1;
}

void batch_builder_producer(struct batch_builder *builder, i64 producer_id, i16 producer_epoch,
                            i32 base_sequence, bool transactional)
{
    builder->header.ProducerId = producer_id;
    builder->header.ProducerEpoch = producer_epoch;
    builder->header.BaseSequence = base_sequence;
    if (transactional) builder->header.Attributes |= RECORD_ATTRIBUTE_TRANSACTIONAL;
}

/* Appends raw bytes if they fit; otherwise marks the builder failed. */
static void builder_put(struct batch_builder *builder, const void *bytes, u64 size)
{
    if (builder->failed || size > builder->capacity - builder->size) {
        builder->failed = true;
        return;
    }
    if (size > 0) memcpy(builder->buffer + builder->size, bytes, size);
    builder->size += size;
}

static void builder_put_varint(struct batch_builder *builder, i64 value)
{
    u8 encoded[10];
    builder_put(builder, encoded, varint_encode_i64(encoded, value));
}

static void builder_put_bytes(struct batch_builder *builder, const u8 *bytes, i32 length)
{
    if (bytes == NULL) {
        builder_put_varint(builder, -1);
        return;
    }
    ASSERT(length >= 0);
    builder_put_varint(builder, length);
    builder_put(builder, bytes, (u64)length);
}

void batch_builder_add(struct batch_builder *builder, i64 timestamp, const u8 *key,
                       i32 key_length, const u8 *value, i32 value_length,
                       const struct record_header_input *headers, u32 header_count)
{
    ASSERT(header_count == 0 || headers != NULL);
    i32 offset_delta = builder->header.RecordCount;
    /* The body is encoded after a worst-case length gap, then moved down once its size is known. */
    u64 length_at = builder->size;
    builder_put(builder, (u8[10]){0}, 10);
    u64 body_at = builder->size;
    builder_put(builder, (u8[1]){0}, 1); /* Record attributes: unused, zero. */
    builder_put_varint(builder, timestamp - builder->header.BaseTimestamp);
    builder_put_varint(builder, offset_delta);
    builder_put_bytes(builder, key, key_length);
    builder_put_bytes(builder, value, value_length);
    builder_put_varint(builder, (i64)header_count);
    for (u32 h = 0; h < header_count; h++) {
        builder_put_bytes(builder, headers[h].key, headers[h].key_length);
        builder_put_bytes(builder, headers[h].value, headers[h].value_length);
    }
    if (builder->failed) return;
    u64 body_size = builder->size - body_at;
    u8 prefix[10];
    u32 prefix_size = varint_encode_i64(prefix, (i64)body_size);
    memmove(builder->buffer + length_at + prefix_size, builder->buffer + body_at, body_size);
    memcpy(builder->buffer + length_at, prefix, prefix_size);
    builder->size = length_at + prefix_size + body_size;
    builder->header.RecordCount++;
    builder->header.LastOffsetDelta = offset_delta;
    if (timestamp > builder->header.MaxTimestamp) builder->header.MaxTimestamp = timestamp;
}

u64 batch_builder_finish(struct batch_builder *builder)
{
    if (builder->failed || builder->header.RecordCount == 0) return 0;
    const struct record_batch_header *h = &builder->header;
    u8 *b = builder->buffer;
    ASSERT(builder->size >= RECORD_BATCH_HEADER_SIZE);
    ASSERT(builder->size - RECORD_BATCH_LOG_OVERHEAD <= (u64)INT32_MAX);
    store_u64_be(b + 0, (u64)h->BaseOffset);
    store_u32_be(b + 8, (u32)(builder->size - RECORD_BATCH_LOG_OVERHEAD));
    store_u32_be(b + 12, (u32)h->PartitionLeaderEpoch);
    b[16] = (u8)h->Magic;
    store_u16_be(b + 21, (u16)h->Attributes);
    store_u32_be(b + 23, (u32)h->LastOffsetDelta);
    store_u64_be(b + 27, (u64)h->BaseTimestamp);
    store_u64_be(b + 35, (u64)h->MaxTimestamp);
    store_u64_be(b + 43, (u64)h->ProducerId);
    store_u16_be(b + 51, (u16)h->ProducerEpoch);
    store_u32_be(b + 53, (u32)h->BaseSequence);
    store_u32_be(b + 57, (u32)h->RecordCount);
    u32 crc = crc32c(b + RECORD_BATCH_CRC_START, builder->size - RECORD_BATCH_CRC_START);
    store_u32_be(b + RECORD_BATCH_CRC_OFFSET, crc);
    builder->header.Crc = crc;
    builder->header.BatchLength = (i32)(builder->size - RECORD_BATCH_LOG_OVERHEAD);
    return builder->size;
}
