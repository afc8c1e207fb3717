/* codec.c: bounds-checked Kafka wire primitives (big-endian integers, varints, classic and
 * compact strings, bytes and array counts, uuids) over a sticky-error reader and writer.
 *
 * Invariants: reader->position <= reader->size and writer->position <= writer->capacity always
 * hold; once error is set it never changes and positions stop moving. Every length read from
 * the wire is checked against the bytes that remain before it is used, a negative length other
 * than the null marker is invalid, a null where the version is not nullable is invalid, and an
 * array count must fit the remaining bytes at its element's minimum wire size, so a hostile
 * count cannot make a decoder loop or allocate far beyond the frame.
 *
 * Tested by tests/unit/test_protocol_codec.c (known encodings, limits, every truncation) and,
 * through the generated messages, by tests/unit/test_protocol_messages.c and the fuzz target
 * tests/fuzz/fuzz_request_decode.c. */
#include "codec.h"

#include <string.h>

const char *proto_error_name(enum proto_error error)
{
    switch (error) {
    case PROTO_OK: return "ok";
    case PROTO_ERROR_TRUNCATED: return "truncated";
    case PROTO_ERROR_INVALID: return "invalid";
    case PROTO_ERROR_ARENA_FULL: return "arena full";
    case PROTO_ERROR_TRAILING_BYTES: return "trailing bytes";
    case PROTO_ERROR_UNSUPPORTED_VERSION: return "unsupported version";
    case PROTO_ERROR_UNKNOWN_API: return "unknown api key";
    case PROTO_ERROR_FRAME_TOO_LARGE: return "frame too large";
    case PROTO_ERROR_NO_SPACE: return "no space";
    case PROTO_ERROR_UNREPRESENTABLE: return "unrepresentable";
    }
    return "unknown";
}

struct proto_string proto_string_of(const char *cstring)
{
    if (cstring == NULL) return PROTO_STRING_NULL;
    size_t size = strlen(cstring);
    ASSERT(size <= INT32_MAX);
    return (struct proto_string){cstring, (i32)size};
}

bool proto_string_equal(struct proto_string a, struct proto_string b)
{
    if (a.size != b.size) return false;
    if (a.size <= 0) return true;
    return memcmp(a.data, b.data, (size_t)a.size) == 0;
}

bool proto_string_equal_cstr(struct proto_string a, const char *cstring)
{
    return proto_string_equal(a, proto_string_of(cstring));
}

bool proto_bytes_equal(struct proto_bytes a, struct proto_bytes b)
{
    if (a.size != b.size) return false;
    if (a.size <= 0) return true;
    return memcmp(a.data, b.data, (size_t)a.size) == 0;
}

/* ===== Reader ===== */

void proto_reader_init(struct proto_reader *reader, const u8 *bytes, u32 size)
{
    ASSERT(bytes != NULL || size == 0);
    reader->bytes = bytes;
    reader->size = size;
    reader->position = 0;
    reader->error = PROTO_OK;
}

u32 proto_reader_remaining(const struct proto_reader *reader)
{
    ASSERT(reader->position <= reader->size);
    return reader->size - reader->position;
}

void proto_reader_fail(struct proto_reader *reader, enum proto_error error)
{
    ASSERT(error != PROTO_OK);
    if (reader->error == PROTO_OK) reader->error = error;
}

/* Returns a pointer to the next size bytes and consumes them, or NULL (and an error). */
static const u8 *reader_take_bytes(struct proto_reader *reader, u32 size)
{
    if (reader->error != PROTO_OK) return NULL;
    if (proto_reader_remaining(reader) < size) {
        proto_reader_fail(reader, PROTO_ERROR_TRUNCATED);
        return NULL;
    }
    const u8 *bytes = reader->bytes + reader->position;
    reader->position += size;
    ASSERT(reader->position <= reader->size);
    return bytes;
}

i8 proto_read_i8(struct proto_reader *reader)
{
    const u8 *p = reader_take_bytes(reader, 1);
    return p == NULL ? 0 : (i8)p[0];
}

i16 proto_read_i16(struct proto_reader *reader)
{
    const u8 *p = reader_take_bytes(reader, 2);
    return p == NULL ? 0 : (i16)load_u16_be(p);
}

i32 proto_read_i32(struct proto_reader *reader)
{
    const u8 *p = reader_take_bytes(reader, 4);
    return p == NULL ? 0 : (i32)load_u32_be(p);
}

i64 proto_read_i64(struct proto_reader *reader)
{
    const u8 *p = reader_take_bytes(reader, 8);
    return p == NULL ? 0 : (i64)load_u64_be(p);
}

u16 proto_read_u16(struct proto_reader *reader)
{
    const u8 *p = reader_take_bytes(reader, 2);
    return p == NULL ? 0 : load_u16_be(p);
}

u32 proto_read_u32(struct proto_reader *reader)
{
    const u8 *p = reader_take_bytes(reader, 4);
    return p == NULL ? 0 : load_u32_be(p);
}

double proto_read_f64(struct proto_reader *reader)
{
    const u8 *p = reader_take_bytes(reader, 8);
    if (p == NULL) return 0.0;
    u64 raw = load_u64_be(p);
    double value;
    memcpy(&value, &raw, sizeof(value));
    return value;
}

bool proto_read_bool(struct proto_reader *reader)
{
    const u8 *p = reader_take_bytes(reader, 1);
    return p != NULL && p[0] != 0; /* As Java: any non-zero byte is true. */
}

struct proto_uuid proto_read_uuid(struct proto_reader *reader)
{
    struct proto_uuid uuid = {{0}};
    const u8 *p = reader_take_bytes(reader, 16);
    if (p != NULL) memcpy(uuid.bytes, p, 16);
    return uuid;
}

/* A varint of at most 64 bits; at most max_bytes bytes long. */
static u64 reader_varint_raw(struct proto_reader *reader, u32 max_bytes)
{
    ASSERT(max_bytes >= 1 && max_bytes <= 10);
    u64 raw = 0;
    for (u32 i = 0; i < max_bytes; i++) {
        const u8 *p = reader_take_bytes(reader, 1);
        if (p == NULL) return 0;
        raw |= (u64)(p[0] & 0x7F) << (7 * i);
        if ((p[0] & 0x80) == 0) return raw;
    }
    proto_reader_fail(reader, PROTO_ERROR_INVALID); /* Too many continuation bytes. */
    return 0;
}

u32 proto_read_uvarint(struct proto_reader *reader)
{
    u64 raw = reader_varint_raw(reader, 5);
    if (raw > UINT32_MAX) {
        proto_reader_fail(reader, PROTO_ERROR_INVALID);
        return 0;
    }
    return (u32)raw;
}

i32 proto_read_varint(struct proto_reader *reader)
{
    u64 raw = reader_varint_raw(reader, 5);
    if (raw > UINT32_MAX) {
        proto_reader_fail(reader, PROTO_ERROR_INVALID);
        return 0;
    }
    u32 narrow = (u32)raw;
    return (i32)(narrow >> 1) ^ -(i32)(narrow & 1);
}

i64 proto_read_varlong(struct proto_reader *reader)
{
    u64 raw = reader_varint_raw(reader, 10);
    return (i64)(raw >> 1) ^ -(i64)(raw & 1);
}

/* Reads a length prefix: -1 for null (when allowed), otherwise a length that fits in what
 * remains. On any failure the error is recorded and -2 is returned. */
static i64 reader_length(struct proto_reader *reader, bool flexible, bool nullable, bool wide)
{
    i64 length;
    if (flexible) {
        length = (i64)proto_read_uvarint(reader) - 1;
    } else {
        length = wide ? proto_read_i32(reader) : proto_read_i16(reader);
    }
    if (reader->error != PROTO_OK) return -2;
    if (length == -1 && nullable) return -1;
    if (length < 0 || length > INT32_MAX) {
        proto_reader_fail(reader, PROTO_ERROR_INVALID);
        return -2;
    }
    if (length > proto_reader_remaining(reader)) {
        proto_reader_fail(reader, PROTO_ERROR_TRUNCATED);
        return -2;
    }
    return length;
}

struct proto_string proto_read_string(struct proto_reader *reader, bool flexible, bool nullable)
{
    i64 length = reader_length(reader, flexible, nullable, false);
    if (length == -1) return PROTO_STRING_NULL;
    if (length < 0) return (struct proto_string){NULL, 0};
    const u8 *p = reader_take_bytes(reader, (u32)length);
    ASSERT(p != NULL);
    return (struct proto_string){(const char *)p, (i32)length};
}

struct proto_bytes proto_read_bytes(struct proto_reader *reader, bool flexible, bool nullable)
{
    i64 length = reader_length(reader, flexible, nullable, true);
    if (length == -1) return PROTO_BYTES_NULL;
    if (length < 0) return (struct proto_bytes){NULL, 0};
    const u8 *p = reader_take_bytes(reader, (u32)length);
    ASSERT(p != NULL);
    return (struct proto_bytes){p, (i32)length};
}

i32 proto_read_array_count(struct proto_reader *reader, bool flexible, bool nullable,
                           u32 element_size_min)
{
    i64 count = flexible ? (i64)proto_read_uvarint(reader) - 1 : proto_read_i32(reader);
    if (reader->error != PROTO_OK) return 0;
    if (count == -1 && nullable) return -1;
    if (count < 0 || count > INT32_MAX) {
        proto_reader_fail(reader, PROTO_ERROR_INVALID);
        return 0;
    }
    if ((u64)count * element_size_min > proto_reader_remaining(reader)) {
        proto_reader_fail(reader, PROTO_ERROR_TRUNCATED);
        return 0;
    }
    return (i32)count;
}

bool proto_read_struct_present(struct proto_reader *reader, bool nullable)
{
    i8 marker = proto_read_i8(reader);
    if (reader->error != PROTO_OK) return false;
    if (marker == 1) return true;
    if (marker != -1 || !nullable) proto_reader_fail(reader, PROTO_ERROR_INVALID);
    return false;
}

struct proto_reader proto_reader_take(struct proto_reader *reader, u32 size)
{
    struct proto_reader part;
    const u8 *p = reader_take_bytes(reader, size);
    proto_reader_init(&part, p, p == NULL ? 0 : size);
    if (p == NULL) part.error = reader->error;
    return part;
}

void proto_read_tagged_fields_skip(struct proto_reader *reader)
{
    u32 count = proto_read_uvarint(reader);
    /* Each field takes at least two bytes, so the loop ends with the bytes or with an error. */
    for (u32 i = 0; i < count && reader->error == PROTO_OK; i++) {
        (void)proto_read_uvarint(reader); /* The tag. */
        u32 size = proto_read_uvarint(reader);
        (void)reader_take_bytes(reader, size);
    }
}

void proto_reader_merge(struct proto_reader *reader, const struct proto_reader *part, bool exact)
{
    ASSERT(part->position <= part->size);
    if (part->error != PROTO_OK) {
        proto_reader_fail(reader, part->error);
    } else if (exact && part->position != part->size) {
        proto_reader_fail(reader, PROTO_ERROR_INVALID);
    }
}

/* ===== Arena ===== */

void proto_arena_init(struct proto_arena *arena, void *memory, u32 capacity)
{
    ASSERT(memory != NULL || capacity == 0);
    arena->memory = memory;
    arena->capacity = capacity;
    arena->used = 0;
}

void proto_arena_reset(struct proto_arena *arena)
{
    ASSERT(arena->used <= arena->capacity);
    arena->used = 0;
}

void *proto_arena_alloc(struct proto_arena *arena, u64 size)
{
    ASSERT(arena->used <= arena->capacity);
    u64 start = ((u64)arena->used + 7) & ~(u64)7;
    if (arena->memory == NULL || start > arena->capacity || size > arena->capacity - start) {
        return NULL;
    }
    arena->used = (u32)(start + size);
    ASSERT(arena->used <= arena->capacity);
    return arena->memory + start;
}

void *proto_read_array_items(struct proto_reader *reader, struct proto_arena *arena, i32 count,
                             u32 element_size)
{
    ASSERT(element_size > 0);
    if (count <= 0 || reader->error != PROTO_OK) return NULL;
    void *items = proto_arena_alloc(arena, (u64)count * element_size);
    if (items == NULL) proto_reader_fail(reader, PROTO_ERROR_ARENA_FULL);
    else memset(items, 0, (size_t)count * element_size);
    return items;
}

/* ===== Writer ===== */

void proto_writer_init(struct proto_writer *writer, u8 *buffer, u32 capacity)
{
    ASSERT(buffer != NULL || capacity == 0);
    writer->buffer = buffer;
    writer->capacity = capacity;
    writer->position = 0;
    writer->error = PROTO_OK;
    writer->splice_base = NULL;
    writer->splice_size = 0;
    writer->splices = NULL;
    writer->splice_count = 0;
    writer->splice_capacity = 0;
}

void proto_writer_splice(struct proto_writer *writer, const u8 *base, u32 size,
                         struct proto_splice *splices, u32 capacity)
{
    ASSERT(base != NULL && splices != NULL);
    ASSERT(writer->splice_count == 0);
    writer->splice_base = base;
    writer->splice_size = size;
    writer->splices = splices;
    writer->splice_capacity = capacity;
}

/* Records value as a splice when splicing is on and its data lies in the splice range. */
static bool writer_splice_bytes(struct proto_writer *writer, struct proto_bytes value)
{
    if (writer->splices == NULL || value.size <= 0) return false;
    uintptr_t base = (uintptr_t)writer->splice_base, data = (uintptr_t)value.data;
    if (data < base || data - base > writer->splice_size ||
        (u64)(data - base) + (u64)value.size > writer->splice_size) {
        return false;
    }
    if (writer->error != PROTO_OK) return true;
    if (writer->splice_count == writer->splice_capacity ||
        writer->capacity - writer->position < (u32)value.size) {
        proto_writer_fail(writer, PROTO_ERROR_NO_SPACE);
        return true;
    }
    writer->splices[writer->splice_count++] = (struct proto_splice){
        writer->position, (u32)(data - base), (u32)value.size};
    writer->position += (u32)value.size;
    return true;
}

void proto_writer_init_counter(struct proto_writer *writer)
{
    writer->buffer = NULL;
    writer->capacity = UINT32_MAX;
    writer->position = 0;
    writer->error = PROTO_OK;
    writer->splice_base = NULL;
    writer->splice_size = 0;
    writer->splices = NULL;
    writer->splice_count = 0;
    writer->splice_capacity = 0;
}

void proto_writer_fail(struct proto_writer *writer, enum proto_error error)
{
    ASSERT(error != PROTO_OK);
    if (writer->error == PROTO_OK) writer->error = error;
}

void proto_write_raw(struct proto_writer *writer, const void *bytes, u32 size)
{
    ASSERT(writer->position <= writer->capacity);
    ASSERT(bytes != NULL || size == 0);
    if (writer->error != PROTO_OK) return;
    if (writer->capacity - writer->position < size) {
        proto_writer_fail(writer, PROTO_ERROR_NO_SPACE);
        return;
    }
    if (writer->buffer != NULL && size > 0) memcpy(writer->buffer + writer->position, bytes, size);
    writer->position += size;
}

void proto_write_i8(struct proto_writer *writer, i8 value)
{
    u8 byte = (u8)value;
    proto_write_raw(writer, &byte, 1);
}

void proto_write_i16(struct proto_writer *writer, i16 value)
{
    u8 bytes[2];
    store_u16_be(bytes, (u16)value);
    proto_write_raw(writer, bytes, 2);
}

void proto_write_i32(struct proto_writer *writer, i32 value)
{
    u8 bytes[4];
    store_u32_be(bytes, (u32)value);
    proto_write_raw(writer, bytes, 4);
}

void proto_write_i64(struct proto_writer *writer, i64 value)
{
    u8 bytes[8];
    store_u64_be(bytes, (u64)value);
    proto_write_raw(writer, bytes, 8);
}

void proto_write_u16(struct proto_writer *writer, u16 value)
{
    proto_write_i16(writer, (i16)value);
}

void proto_write_u32(struct proto_writer *writer, u32 value)
{
    proto_write_i32(writer, (i32)value);
}

void proto_write_f64(struct proto_writer *writer, double value)
{
    u64 raw;
    memcpy(&raw, &value, sizeof(raw));
    proto_write_i64(writer, (i64)raw);
}

void proto_write_bool(struct proto_writer *writer, bool value) { proto_write_i8(writer, value); }

bool proto_uuid_is_zero(struct proto_uuid value)
{
    for (u32 i = 0; i < 16; i++) {
        if (value.bytes[i] != 0) return false;
    }
    return true;
}

void proto_write_uuid(struct proto_writer *writer, struct proto_uuid value)
{
    proto_write_raw(writer, value.bytes, 16);
}

static void writer_varint_raw(struct proto_writer *writer, u64 raw)
{
    u8 bytes[10];
    u32 length = 0;
    while (raw >= 0x80) {
        bytes[length++] = (u8)(raw | 0x80);
        raw >>= 7;
    }
    bytes[length++] = (u8)raw;
    ASSERT(length <= 10);
    proto_write_raw(writer, bytes, length);
}

void proto_write_uvarint(struct proto_writer *writer, u32 value)
{
    writer_varint_raw(writer, value);
}

void proto_write_varint(struct proto_writer *writer, i32 value)
{
    writer_varint_raw(writer, ((u32)value << 1) ^ (u32)(value >> 31));
}

void proto_write_varlong(struct proto_writer *writer, i64 value)
{
    writer_varint_raw(writer, ((u64)value << 1) ^ (u64)(value >> 63));
}

u32 proto_uvarint_size(u32 value)
{
    u32 size = 1;
    while (value >= 0x80) {
        value >>= 7;
        size++;
    }
    ASSERT(size <= 5);
    return size;
}

/* Writes a length prefix (-1 = null); classic strings have an int16 prefix (wide = false). */
static void writer_length(struct proto_writer *writer, i32 length, bool flexible, bool nullable,
                          bool wide)
{
    if (length < -1 || (length == -1 && !nullable) || (!wide && !flexible && length > INT16_MAX)) {
        proto_writer_fail(writer, PROTO_ERROR_UNREPRESENTABLE);
        return;
    }
    if (flexible) proto_write_uvarint(writer, (u32)(length + 1));
    else if (wide) proto_write_i32(writer, length);
    else proto_write_i16(writer, (i16)length);
}

void proto_write_string(struct proto_writer *writer, struct proto_string value, bool flexible,
                        bool nullable)
{
    writer_length(writer, value.size, flexible, nullable, false);
    if (value.size > 0) proto_write_raw(writer, value.data, (u32)value.size);
}

void proto_write_bytes(struct proto_writer *writer, struct proto_bytes value, bool flexible,
                       bool nullable)
{
    writer_length(writer, value.size, flexible, nullable, true);
    if (writer_splice_bytes(writer, value)) return;
    if (value.size > 0) proto_write_raw(writer, value.data, (u32)value.size);
}

void proto_write_array_count(struct proto_writer *writer, i32 count, bool flexible,
                             bool nullable)
{
    writer_length(writer, count, flexible, nullable, true);
}

void proto_write_i32_at(struct proto_writer *writer, u32 position, i32 value)
{
    if (writer->error != PROTO_OK) return; /* The reservation itself may have failed. */
    ASSERT(position <= writer->position);
    ASSERT(writer->position - position >= 4);
    if (writer->buffer != NULL) store_u32_be(writer->buffer + position, (u32)value);
}
