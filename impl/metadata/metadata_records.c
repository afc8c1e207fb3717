/* metadata_records.c: encoding and decoding of metadata records and entries.
 *
 * Decoding trusts nothing: every length is checked against both the bytes that remain and the
 * array it lands in, and anything encode would not produce (an unknown type or record version,
 * a bool that is not 0 or 1, a NUL inside a string, trailing bytes) is MALFORMED. Because the
 * encoding is fixed-width, whatever decodes re-encodes to the same bytes. */
#include "metadata_codec.h"

#include <string.h>

/* ===== Validity (what encode accepts and decode produces) ===== */

static bool string_terminated(const char *text, u32 capacity)
{
    return memchr(text, '\0', capacity) != NULL;
}

static bool ids_valid(const struct metadata_ids *ids)
{
    return ids->count <= METADATA_REPLICAS_MAX;
}

static bool tristate_valid(i8 value) { return value >= -1 && value <= 1; }

bool metadata_record_valid(const struct metadata_record *record)
{
    switch (record->type) {
    case METADATA_REGISTER_BROKER: {
        const struct metadata_register_broker *r = &record->as.register_broker;
        return string_terminated(r->rack, sizeof(r->rack)) &&
               string_terminated(r->host, sizeof(r->host));
    }
    case METADATA_UNREGISTER_BROKER:
    case METADATA_FENCE_BROKER:
    case METADATA_UNFENCE_BROKER:
    case METADATA_REMOVE_TOPIC:
    case METADATA_PRODUCER_IDS:
    case METADATA_NO_OP:
        return true;
    case METADATA_BROKER_REGISTRATION_CHANGE:
        return tristate_valid(record->as.registration_change.fenced) &&
               tristate_valid(record->as.registration_change.in_controlled_shutdown);
    case METADATA_TOPIC:
        return string_terminated(record->as.topic.name, sizeof(record->as.topic.name));
    case METADATA_PARTITION: {
        const struct metadata_partition_record *p = &record->as.partition;
        return ids_valid(&p->replicas) && ids_valid(&p->isr) && ids_valid(&p->removing) &&
               ids_valid(&p->adding);
    }
    case METADATA_PARTITION_CHANGE: {
        const struct metadata_partition_change *c = &record->as.partition_change;
        return (!c->isr_set || ids_valid(&c->isr)) &&
               (!c->replicas_set || ids_valid(&c->replicas)) &&
               (!c->removing_set || ids_valid(&c->removing)) &&
               (!c->adding_set || ids_valid(&c->adding));
    }
    case METADATA_CONFIG: {
        const struct metadata_config_record *c = &record->as.config;
        return (c->resource_type == METADATA_RESOURCE_TOPIC ||
                c->resource_type == METADATA_RESOURCE_BROKER) &&
               string_terminated(c->resource_name, sizeof(c->resource_name)) &&
               string_terminated(c->name, sizeof(c->name)) &&
               (c->value_null || string_terminated(c->value, sizeof(c->value)));
    }
    }
    return false;
}

/* ===== Writing ===== */

static void write_u8(struct proto_writer *writer, u8 value) { proto_write_raw(writer, &value, 1); }

static void write_string(struct proto_writer *writer, const char *text, u32 capacity)
{
    const char *end = memchr(text, '\0', capacity);
    ASSERT(end != NULL);
    u32 length = (u32)(end - text);
    ASSERT(length <= UINT8_MAX);
    write_u8(writer, (u8)length);
    proto_write_raw(writer, text, length);
}

static void write_uuid(struct proto_writer *writer, const struct metadata_uuid *uuid)
{
    proto_write_raw(writer, uuid->bytes, sizeof(uuid->bytes));
}

static void write_ids(struct proto_writer *writer, const struct metadata_ids *ids)
{
    ASSERT(ids->count <= METADATA_REPLICAS_MAX);
    write_u8(writer, (u8)ids->count);
    for (u32 i = 0; i < ids->count; i++) proto_write_i32(writer, ids->ids[i]);
}

static void write_broker_ref(struct proto_writer *writer, const struct metadata_broker_ref *ref)
{
    proto_write_i32(writer, ref->broker_id);
    proto_write_i64(writer, ref->broker_epoch);
}

/* Which optional lists a PartitionChange carries. */
enum {
    CHANGE_ISR = 1u << 0,
    CHANGE_REPLICAS = 1u << 1,
    CHANGE_REMOVING = 1u << 2,
    CHANGE_ADDING = 1u << 3,
    CHANGE_ALL = CHANGE_ISR | CHANGE_REPLICAS | CHANGE_REMOVING | CHANGE_ADDING,
};

void metadata_record_write(struct proto_writer *writer, const struct metadata_record *record)
{
    ASSERT(metadata_record_valid(record));
    write_u8(writer, (u8)record->type);
    write_u8(writer, METADATA_RECORD_VERSION);
    switch (record->type) {
    case METADATA_REGISTER_BROKER: {
        const struct metadata_register_broker *r = &record->as.register_broker;
        proto_write_i32(writer, r->broker_id);
        proto_write_i64(writer, r->broker_epoch);
        write_uuid(writer, &r->incarnation_id);
        write_string(writer, r->rack, sizeof(r->rack));
        write_string(writer, r->host, sizeof(r->host));
        proto_write_i32(writer, r->port);
        write_u8(writer, r->fenced);
        write_u8(writer, r->in_controlled_shutdown);
        return;
    }
    case METADATA_UNREGISTER_BROKER:
        write_broker_ref(writer, &record->as.unregister_broker);
        return;
    case METADATA_FENCE_BROKER:
        write_broker_ref(writer, &record->as.fence_broker);
        return;
    case METADATA_UNFENCE_BROKER:
        write_broker_ref(writer, &record->as.unfence_broker);
        return;
    case METADATA_BROKER_REGISTRATION_CHANGE: {
        const struct metadata_broker_registration_change *c = &record->as.registration_change;
        proto_write_i32(writer, c->broker_id);
        proto_write_i64(writer, c->broker_epoch);
        proto_write_i8(writer, c->fenced);
        proto_write_i8(writer, c->in_controlled_shutdown);
        return;
    }
    case METADATA_TOPIC:
        write_string(writer, record->as.topic.name, sizeof(record->as.topic.name));
        write_uuid(writer, &record->as.topic.topic_id);
        return;
    case METADATA_PARTITION: {
        const struct metadata_partition_record *p = &record->as.partition;
        write_uuid(writer, &p->topic_id);
        proto_write_i32(writer, p->partition_id);
        write_ids(writer, &p->replicas);
        write_ids(writer, &p->isr);
        write_ids(writer, &p->removing);
        write_ids(writer, &p->adding);
        proto_write_i32(writer, p->leader);
        proto_write_i32(writer, p->leader_epoch);
        proto_write_i32(writer, p->partition_epoch);
        return;
    }
    case METADATA_PARTITION_CHANGE: {
        const struct metadata_partition_change *c = &record->as.partition_change;
        write_uuid(writer, &c->topic_id);
        proto_write_i32(writer, c->partition_id);
        proto_write_i32(writer, c->leader);
        u8 present = (u8)((c->isr_set ? CHANGE_ISR : 0) | (c->replicas_set ? CHANGE_REPLICAS : 0) |
                          (c->removing_set ? CHANGE_REMOVING : 0) |
                          (c->adding_set ? CHANGE_ADDING : 0));
        write_u8(writer, present);
        if (c->isr_set) write_ids(writer, &c->isr);
        if (c->replicas_set) write_ids(writer, &c->replicas);
        if (c->removing_set) write_ids(writer, &c->removing);
        if (c->adding_set) write_ids(writer, &c->adding);
        return;
    }
    case METADATA_REMOVE_TOPIC:
        write_uuid(writer, &record->as.remove_topic.topic_id);
        return;
    case METADATA_CONFIG: {
        const struct metadata_config_record *c = &record->as.config;
        proto_write_i8(writer, c->resource_type);
        write_string(writer, c->resource_name, sizeof(c->resource_name));
        write_string(writer, c->name, sizeof(c->name));
        write_u8(writer, c->value_null);
        if (!c->value_null) write_string(writer, c->value, sizeof(c->value));
        return;
    }
    case METADATA_PRODUCER_IDS: {
        const struct metadata_producer_ids *p = &record->as.producer_ids;
        proto_write_i32(writer, p->broker_id);
        proto_write_i64(writer, p->broker_epoch);
        proto_write_i64(writer, p->next_producer_id);
        return;
    }
    case METADATA_NO_OP:
        return;
    }
    ASSERT(false); /* metadata_record_valid admitted an unknown type. */
}

/* ===== Reading ===== */

static u8 read_u8(struct proto_reader *reader) { return (u8)proto_read_i8(reader); }

static bool read_flag(struct proto_reader *reader)
{
    u8 value = read_u8(reader);
    if (value > 1) proto_reader_fail(reader, PROTO_ERROR_INVALID);
    return value == 1;
}

/* Reads a string into text[capacity], NUL-terminated and zero-padded. */
static void read_string(struct proto_reader *reader, char *text, u32 capacity)
{
    memset(text, 0, capacity);
    u32 length = read_u8(reader);
    if (reader->error != PROTO_OK) return;
    if (length >= capacity) {
        proto_reader_fail(reader, PROTO_ERROR_INVALID);
        return;
    }
    struct proto_reader part = proto_reader_take(reader, length);
    if (reader->error != PROTO_OK || part.error != PROTO_OK) {
        proto_reader_fail(reader, PROTO_ERROR_TRUNCATED);
        return;
    }
    if (length == 0) return;
    ASSERT(part.size == length);
    if (memchr(part.bytes, '\0', length) != NULL) {
        proto_reader_fail(reader, PROTO_ERROR_INVALID);
        return;
    }
    memcpy(text, part.bytes, length);
}

static void read_uuid(struct proto_reader *reader, struct metadata_uuid *uuid)
{
    struct proto_uuid value = proto_read_uuid(reader);
    memcpy(uuid->bytes, value.bytes, sizeof(uuid->bytes));
}

static void read_ids(struct proto_reader *reader, struct metadata_ids *ids)
{
    memset(ids, 0, sizeof(*ids));
    u32 count = read_u8(reader);
    if (reader->error != PROTO_OK) return;
    if (count > METADATA_REPLICAS_MAX) {
        proto_reader_fail(reader, PROTO_ERROR_INVALID);
        return;
    }
    for (u32 i = 0; i < count; i++) ids->ids[i] = proto_read_i32(reader);
    if (reader->error == PROTO_OK) ids->count = count;
}

static void read_broker_ref(struct proto_reader *reader, struct metadata_broker_ref *ref)
{
    ref->broker_id = proto_read_i32(reader);
    ref->broker_epoch = proto_read_i64(reader);
}

static i8 read_tristate(struct proto_reader *reader)
{
    i8 value = proto_read_i8(reader);
    if (!tristate_valid(value)) proto_reader_fail(reader, PROTO_ERROR_INVALID);
    return value;
}

bool metadata_record_read(struct proto_reader *reader, struct metadata_record *record)
{
    memset(record, 0, sizeof(*record));
    u8 type = read_u8(reader);
    u8 version = read_u8(reader);
    if (reader->error != PROTO_OK) return false;
    if (version != METADATA_RECORD_VERSION) {
        proto_reader_fail(reader, PROTO_ERROR_UNSUPPORTED_VERSION);
        return false;
    }
    switch (type) {
    case METADATA_REGISTER_BROKER: {
        struct metadata_register_broker *r = &record->as.register_broker;
        r->broker_id = proto_read_i32(reader);
        r->broker_epoch = proto_read_i64(reader);
        read_uuid(reader, &r->incarnation_id);
        read_string(reader, r->rack, sizeof(r->rack));
        read_string(reader, r->host, sizeof(r->host));
        r->port = proto_read_i32(reader);
        r->fenced = read_flag(reader);
        r->in_controlled_shutdown = read_flag(reader);
        break;
    }
    case METADATA_UNREGISTER_BROKER:
        read_broker_ref(reader, &record->as.unregister_broker);
        break;
    case METADATA_FENCE_BROKER:
        read_broker_ref(reader, &record->as.fence_broker);
        break;
    case METADATA_UNFENCE_BROKER:
        read_broker_ref(reader, &record->as.unfence_broker);
        break;
    case METADATA_BROKER_REGISTRATION_CHANGE: {
        struct metadata_broker_registration_change *c = &record->as.registration_change;
        c->broker_id = proto_read_i32(reader);
        c->broker_epoch = proto_read_i64(reader);
        c->fenced = read_tristate(reader);
        c->in_controlled_shutdown = read_tristate(reader);
        break;
    }
    case METADATA_TOPIC:
        read_string(reader, record->as.topic.name, sizeof(record->as.topic.name));
        read_uuid(reader, &record->as.topic.topic_id);
        break;
    case METADATA_PARTITION: {
        struct metadata_partition_record *p = &record->as.partition;
        read_uuid(reader, &p->topic_id);
        p->partition_id = proto_read_i32(reader);
        read_ids(reader, &p->replicas);
        read_ids(reader, &p->isr);
        read_ids(reader, &p->removing);
        read_ids(reader, &p->adding);
        p->leader = proto_read_i32(reader);
        p->leader_epoch = proto_read_i32(reader);
        p->partition_epoch = proto_read_i32(reader);
        break;
    }
    case METADATA_PARTITION_CHANGE: {
        struct metadata_partition_change *c = &record->as.partition_change;
        read_uuid(reader, &c->topic_id);
        c->partition_id = proto_read_i32(reader);
        c->leader = proto_read_i32(reader);
        u8 present = read_u8(reader);
        if (reader->error != PROTO_OK) return false;
        if ((present & ~(u8)CHANGE_ALL) != 0) {
            proto_reader_fail(reader, PROTO_ERROR_INVALID);
            return false;
        }
        c->isr_set = (present & CHANGE_ISR) != 0;
        c->replicas_set = (present & CHANGE_REPLICAS) != 0;
        c->removing_set = (present & CHANGE_REMOVING) != 0;
        c->adding_set = (present & CHANGE_ADDING) != 0;
        if (c->isr_set) read_ids(reader, &c->isr);
        if (c->replicas_set) read_ids(reader, &c->replicas);
        if (c->removing_set) read_ids(reader, &c->removing);
        if (c->adding_set) read_ids(reader, &c->adding);
        break;
    }
    case METADATA_REMOVE_TOPIC:
        read_uuid(reader, &record->as.remove_topic.topic_id);
        break;
    case METADATA_CONFIG: {
        struct metadata_config_record *c = &record->as.config;
        c->resource_type = proto_read_i8(reader);
        if (reader->error == PROTO_OK && c->resource_type != METADATA_RESOURCE_TOPIC &&
            c->resource_type != METADATA_RESOURCE_BROKER) {
            proto_reader_fail(reader, PROTO_ERROR_INVALID);
        }
        read_string(reader, c->resource_name, sizeof(c->resource_name));
        read_string(reader, c->name, sizeof(c->name));
        c->value_null = read_flag(reader);
        if (!c->value_null) read_string(reader, c->value, sizeof(c->value));
        break;
    }
    case METADATA_PRODUCER_IDS: {
        struct metadata_producer_ids *p = &record->as.producer_ids;
        p->broker_id = proto_read_i32(reader);
        p->broker_epoch = proto_read_i64(reader);
        p->next_producer_id = proto_read_i64(reader);
        break;
    }
    case METADATA_NO_OP:
        break;
    default:
        proto_reader_fail(reader, PROTO_ERROR_INVALID);
        return false;
    }
    record->type = (enum metadata_record_type)type;
    if (reader->error != PROTO_OK) return false;
    ASSERT(metadata_record_valid(record));
    return true;
}

/* ===== Entries ===== */

u32 metadata_encode(const struct metadata_record *records, u32 count, u8 *buffer, u32 capacity)
{
    ASSERT(count <= METADATA_ENTRY_RECORDS_MAX);
    ASSERT(records != NULL || count == 0);
    ASSERT(buffer != NULL || capacity == 0);
    for (u32 i = 0; i < count; i++) {
        if (!metadata_record_valid(&records[i])) return 0;
    }
    /* An entry decode would call too large is never produced. */
    struct proto_writer writer;
    proto_writer_init(&writer, buffer, MIN(capacity, METADATA_ENTRY_SIZE_MAX));
    write_u8(&writer, METADATA_ENTRY_MAGIC);
    write_u8(&writer, METADATA_ENTRY_VERSION);
    proto_write_u16(&writer, (u16)count);
    for (u32 i = 0; i < count; i++) metadata_record_write(&writer, &records[i]);
    if (writer.error != PROTO_OK) return 0;
    ASSERT(writer.position >= METADATA_ENTRY_HEADER_SIZE);
    return writer.position;
}

enum metadata_decode_result metadata_decode(const u8 *payload, u32 size,
                                            struct metadata_record *records, u32 capacity,
                                            u32 *count)
{
    ASSERT(payload != NULL || size == 0);
    ASSERT(records != NULL || capacity == 0);
    ASSERT(count != NULL);
    *count = 0;
    if (size == 0 || payload[0] != METADATA_ENTRY_MAGIC) return METADATA_FOREIGN;
    if (size < METADATA_ENTRY_HEADER_SIZE || size > METADATA_ENTRY_SIZE_MAX ||
        payload[1] != METADATA_ENTRY_VERSION) {
        return METADATA_MALFORMED;
    }
    u32 record_count = load_u16_be(payload + 2);
    if (record_count > METADATA_ENTRY_RECORDS_MAX || record_count > capacity) {
        return METADATA_MALFORMED;
    }
    struct proto_reader reader;
    proto_reader_init(&reader, payload + METADATA_ENTRY_HEADER_SIZE,
                      size - METADATA_ENTRY_HEADER_SIZE);
    for (u32 i = 0; i < record_count; i++) {
        if (!metadata_record_read(&reader, &records[i])) return METADATA_MALFORMED;
    }
    if (proto_reader_remaining(&reader) != 0) return METADATA_MALFORMED;
    *count = record_count;
    return METADATA_DECODED;
}
