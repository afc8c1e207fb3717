/* codec.h: the Kafka wire primitives every generated encoder and decoder is built from.
 *
 * A reader walks untrusted bytes; a writer fills a caller's buffer; an arena hands out the memory
 * that decoded arrays need. Readers and writers keep a sticky error: the first failure is
 * recorded, every later read returns a zero value and moves nothing, every later write is
 * dropped. A decoder therefore reads field after field and checks the error once at the end,
 * and no read can ever go past the bytes that are there.
 *
 * Decoded strings and bytes point into the frame they were read from (not NUL-terminated);
 * decoded arrays live in the arena. Both live as long as the frame and the arena do.
 *
 * May depend on: impl/base.h. */
#ifndef PROTOCOL_CODEC_H
#define PROTOCOL_CODEC_H

#include "../base.h"

/* Why a decode or an encode failed. Bad bytes from a peer are operating errors, not bugs. */
enum proto_error {
    PROTO_OK = 0,
    PROTO_ERROR_TRUNCATED,           /* The bytes ended before the message did. */
    PROTO_ERROR_INVALID,             /* A length, count, varint or null the spec forbids. */
    PROTO_ERROR_ARENA_FULL,          /* Decoded arrays need more memory than the arena has. */
    PROTO_ERROR_TRAILING_BYTES,      /* Bytes left over after a complete message. */
    PROTO_ERROR_UNSUPPORTED_VERSION, /* A version outside the message's valid versions. */
    PROTO_ERROR_UNKNOWN_API,         /* An api key without a schema. */
    PROTO_ERROR_FRAME_TOO_LARGE,     /* A size prefix above the configured maximum. */
    PROTO_ERROR_NO_SPACE,            /* Encode: the output buffer is full. */
    PROTO_ERROR_UNREPRESENTABLE,     /* Encode: a value the chosen version cannot carry. */
};

const char *proto_error_name(enum proto_error error);

/* A string on the wire: size -1 is null. Not NUL-terminated. */
struct proto_string {
    const char *data;
    i32 size;
};

/* A byte string (also used for `records`): size -1 is null. */
struct proto_bytes {
    const u8 *data;
    i32 size;
};

struct proto_uuid {
    u8 bytes[16];
};

#define PROTO_STRING_NULL ((struct proto_string){NULL, -1})
#define PROTO_BYTES_NULL ((struct proto_bytes){NULL, -1})

/* A string view of a NUL-terminated C string (NULL gives the null string). */
struct proto_string proto_string_of(const char *cstring);
bool proto_string_equal(struct proto_string a, struct proto_string b);
bool proto_string_equal_cstr(struct proto_string a, const char *cstring);
bool proto_bytes_equal(struct proto_bytes a, struct proto_bytes b);

/* ===== Reader ===== */

struct proto_reader {
    const u8 *bytes;
    u32 size;
    u32 position;
    enum proto_error error; /* Sticky: the first failure. */
};

void proto_reader_init(struct proto_reader *reader, const u8 *bytes, u32 size);
u32 proto_reader_remaining(const struct proto_reader *reader);
/* Records an error unless one is already recorded. */
void proto_reader_fail(struct proto_reader *reader, enum proto_error error);

i8 proto_read_i8(struct proto_reader *reader);
i16 proto_read_i16(struct proto_reader *reader);
i32 proto_read_i32(struct proto_reader *reader);
i64 proto_read_i64(struct proto_reader *reader);
u16 proto_read_u16(struct proto_reader *reader);
u32 proto_read_u32(struct proto_reader *reader);
double proto_read_f64(struct proto_reader *reader);
bool proto_read_bool(struct proto_reader *reader);
struct proto_uuid proto_read_uuid(struct proto_reader *reader);
/* Unsigned varint (protobuf style) that must fit 32 bits. */
u32 proto_read_uvarint(struct proto_reader *reader);
/* Zig-zag signed varints, as in record batches. */
i32 proto_read_varint(struct proto_reader *reader);
i64 proto_read_varlong(struct proto_reader *reader);
/* Classic (int16 length) or compact (uvarint length + 1) string; null only if nullable. */
struct proto_string proto_read_string(struct proto_reader *reader, bool flexible, bool nullable);
/* Classic (int32 length) or compact bytes; null only if nullable. */
struct proto_bytes proto_read_bytes(struct proto_reader *reader, bool flexible, bool nullable);
/* An array count (-1 = null). Fails unless count * element_size_min fits in what remains. */
i32 proto_read_array_count(struct proto_reader *reader, bool flexible, bool nullable,
                           u32 element_size_min);
/* The marker before a nullable struct: true when a struct follows. */
bool proto_read_struct_present(struct proto_reader *reader, bool nullable);
/* Takes the next size bytes as a reader of their own (a tagged field's value). */
struct proto_reader proto_reader_take(struct proto_reader *reader, u32 size);
/* Skips a whole tagged-field section (the struct has no tagged field this code knows). */
void proto_read_tagged_fields_skip(struct proto_reader *reader);
/* Folds a taken reader back: its error, and (if exact) an error for unread bytes. */
void proto_reader_merge(struct proto_reader *reader, const struct proto_reader *part, bool exact);

/* ===== Arena ===== */

struct proto_arena {
    u8 *memory;
    u32 capacity;
    u32 used;
};

void proto_arena_init(struct proto_arena *arena, void *memory, u32 capacity);
void proto_arena_reset(struct proto_arena *arena);
/* size bytes aligned to 8, or NULL when the arena cannot hold them. */
void *proto_arena_alloc(struct proto_arena *arena, u64 size);
/* count elements for a decoded array (NULL when count <= 0); records ARENA_FULL on the reader. */
void *proto_read_array_items(struct proto_reader *reader, struct proto_arena *arena, i32 count,
                             u32 element_size);

/* ===== Writer ===== */

/* A spliced bytes value: its length prefix is in the output, its size bytes at position are
 * not (the caller sends them from elsewhere, e.g. a file range by sendfile). */
struct proto_splice {
    u32 position; /* In the output, where the bytes belong. */
    u32 offset;   /* Of the value's data from the splice base. */
    u32 size;
};

/* A writer with buffer NULL only counts: it measures an encoding without storing it. */
struct proto_writer {
    u8 *buffer;
    u32 capacity;
    u32 position;
    enum proto_error error; /* Sticky: the first failure. */
    /* Optional splicing (proto_writer_splice): off when splices is NULL. */
    const u8 *splice_base;
    u32 splice_size;
    struct proto_splice *splices;
    u32 splice_count;
    u32 splice_capacity;
};

void proto_writer_init(struct proto_writer *writer, u8 *buffer, u32 capacity);
/* From now on, a non-empty bytes value whose data lies inside [base, base + size) is not
 * copied: the writer records a proto_splice and skips over its bytes (their room in the buffer
 * is left unwritten). More than capacity splices is PROTO_ERROR_NO_SPACE. */
void proto_writer_splice(struct proto_writer *writer, const u8 *base, u32 size,
                         struct proto_splice *splices, u32 capacity);
void proto_writer_init_counter(struct proto_writer *writer);
void proto_writer_fail(struct proto_writer *writer, enum proto_error error);

void proto_write_raw(struct proto_writer *writer, const void *bytes, u32 size);
void proto_write_i8(struct proto_writer *writer, i8 value);
void proto_write_i16(struct proto_writer *writer, i16 value);
void proto_write_i32(struct proto_writer *writer, i32 value);
void proto_write_i64(struct proto_writer *writer, i64 value);
void proto_write_u16(struct proto_writer *writer, u16 value);
void proto_write_u32(struct proto_writer *writer, u32 value);
void proto_write_f64(struct proto_writer *writer, double value);
void proto_write_bool(struct proto_writer *writer, bool value);
void proto_write_uuid(struct proto_writer *writer, struct proto_uuid value);
bool proto_uuid_is_zero(struct proto_uuid value);
void proto_write_uvarint(struct proto_writer *writer, u32 value);
void proto_write_varint(struct proto_writer *writer, i32 value);
void proto_write_varlong(struct proto_writer *writer, i64 value);
/* A null value where the version is not nullable, or a classic string above 32767 bytes,
 * records PROTO_ERROR_UNREPRESENTABLE. */
void proto_write_string(struct proto_writer *writer, struct proto_string value, bool flexible,
                        bool nullable);
void proto_write_bytes(struct proto_writer *writer, struct proto_bytes value, bool flexible,
                       bool nullable);
void proto_write_array_count(struct proto_writer *writer, i32 count, bool flexible,
                             bool nullable);
/* Bytes an unsigned varint takes. */
u32 proto_uvarint_size(u32 value);

/* Overwrites 4 bytes already written at position (a size prefix filled in afterwards). */
void proto_write_i32_at(struct proto_writer *writer, u32 position, i32 value);

#endif
