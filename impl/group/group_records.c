/* group_records.c: encoding and decoding of Kafka's __consumer_offsets records (see the
 * header for the layouts). Built on the protocol codec's sticky-error reader and writer, so
 * every read is bounded by the bytes that are there. */
#include "group_records.h"

#include <string.h>

/* Smallest wire size of one member of a GroupMetadataValue at a version: three or four
 * strings (2 bytes each when empty), the int32 timeouts and two int32 bytes lengths. */
static u32 member_size_min(i16 version)
{
    u32 size = 2 + 2 + 2 + 4 + 4 + 4;
    if (version >= 1) size += 4;
    if (version >= 3) size += 2;
    return size;
}

const char *group_record_error_name(enum group_record_error error)
{
    switch (error) {
    case GROUP_RECORD_OK: return "ok";
    case GROUP_RECORD_TRUNCATED: return "truncated";
    case GROUP_RECORD_INVALID: return "invalid";
    case GROUP_RECORD_UNKNOWN_VERSION: return "unknown version";
    case GROUP_RECORD_NO_SPACE: return "no space";
    }
    return "?";
}

static enum group_record_error from_proto(enum proto_error error)
{
    switch (error) {
    case PROTO_OK: return GROUP_RECORD_OK;
    case PROTO_ERROR_TRUNCATED: return GROUP_RECORD_TRUNCATED;
    case PROTO_ERROR_ARENA_FULL:
    case PROTO_ERROR_NO_SPACE: return GROUP_RECORD_NO_SPACE;
    default: return GROUP_RECORD_INVALID;
    }
}

enum group_record_error group_record_key_decode(const u8 *bytes, u32 size,
                                                struct group_record_key *key)
{
    ASSERT(key != NULL);
    memset(key, 0, sizeof(*key));
    if (bytes == NULL) return GROUP_RECORD_INVALID; /* A null key: not a group record. */
    struct proto_reader reader;
    proto_reader_init(&reader, bytes, size);
    key->version = proto_read_i16(&reader);
    if (reader.error != PROTO_OK) return from_proto(reader.error);
    if (key->version == 0 || key->version == 1) {
        key->type = GROUP_RECORD_OFFSET_COMMIT;
        key->group = proto_read_string(&reader, false, false);
        key->topic = proto_read_string(&reader, false, false);
        key->partition = proto_read_i32(&reader);
    } else if (key->version == 2) {
        key->type = GROUP_RECORD_GROUP_METADATA;
        key->group = proto_read_string(&reader, false, false);
    } else {
        return GROUP_RECORD_UNKNOWN_VERSION;
    }
    return from_proto(reader.error);
}

enum group_record_error group_offset_value_decode(const u8 *bytes, u32 size,
                                                  struct group_offset_value *value)
{
    ASSERT(value != NULL);
    memset(value, 0, sizeof(*value));
    if (bytes == NULL) return GROUP_RECORD_INVALID;
    struct proto_reader reader;
    proto_reader_init(&reader, bytes, size);
    value->version = proto_read_i16(&reader);
    if (reader.error != PROTO_OK) return from_proto(reader.error);
    if (value->version < 0 || value->version > GROUP_VALUE_VERSION_MAX) {
        return GROUP_RECORD_UNKNOWN_VERSION;
    }
    value->leader_epoch = -1;
    value->expire_timestamp = -1;
    value->offset = proto_read_i64(&reader);
    if (value->version >= 3) value->leader_epoch = proto_read_i32(&reader);
    value->metadata = proto_read_string(&reader, false, false);
    value->commit_timestamp = proto_read_i64(&reader);
    if (value->version == 1) value->expire_timestamp = proto_read_i64(&reader);
    return from_proto(reader.error);
}

enum group_record_error group_metadata_value_decode(const u8 *bytes, u32 size,
                                                    struct group_metadata_value *value,
                                                    struct proto_arena *arena)
{
    ASSERT(value != NULL && arena != NULL);
    memset(value, 0, sizeof(*value));
    if (bytes == NULL) return GROUP_RECORD_INVALID;
    struct proto_reader reader;
    proto_reader_init(&reader, bytes, size);
    i16 version = proto_read_i16(&reader);
    if (reader.error != PROTO_OK) return from_proto(reader.error);
    if (version < 0 || version > GROUP_VALUE_VERSION_MAX) return GROUP_RECORD_UNKNOWN_VERSION;
    value->version = version;
    value->current_state_timestamp = -1;
    value->protocol_type = proto_read_string(&reader, false, false);
    value->generation = proto_read_i32(&reader);
    value->protocol = proto_read_string(&reader, false, true);
    value->leader = proto_read_string(&reader, false, true);
    if (version >= 2) value->current_state_timestamp = proto_read_i64(&reader);
    i32 count = proto_read_array_count(&reader, false, false, member_size_min(version));
    value->members = proto_read_array_items(&reader, arena, count,
                                            sizeof(struct group_member_value));
    for (i32 i = 0; i < count && reader.error == PROTO_OK; i++) {
        struct group_member_value *member = &value->members[i];
        member->member_id = proto_read_string(&reader, false, false);
        member->group_instance_id = PROTO_STRING_NULL;
        if (version >= 3) member->group_instance_id = proto_read_string(&reader, false, true);
        member->client_id = proto_read_string(&reader, false, false);
        member->client_host = proto_read_string(&reader, false, false);
        member->rebalance_timeout = -1;
        if (version >= 1) member->rebalance_timeout = proto_read_i32(&reader);
        member->session_timeout = proto_read_i32(&reader);
        member->subscription = proto_read_bytes(&reader, false, false);
        member->assignment = proto_read_bytes(&reader, false, false);
    }
    if (reader.error != PROTO_OK) {
        value->members = NULL;
        return from_proto(reader.error);
    }
    value->member_count = (u32)count;
    return GROUP_RECORD_OK;
}

static void writer_begin(struct proto_writer *writer, u8 *buffer, u32 capacity)
{
    if (buffer == NULL) {
        ASSERT(capacity == 0);
        proto_writer_init_counter(writer);
    } else {
        proto_writer_init(writer, buffer, capacity);
    }
}

static u32 writer_finish(const struct proto_writer *writer)
{
    return writer->error == PROTO_OK ? writer->position : 0;
}

u32 group_offset_key_encode(u8 *buffer, u32 capacity, i16 version, struct proto_string group,
                            struct proto_string topic, i32 partition)
{
    ASSERT(version == 0 || version == 1);
    struct proto_writer writer;
    writer_begin(&writer, buffer, capacity);
    proto_write_i16(&writer, version);
    proto_write_string(&writer, group, false, false);
    proto_write_string(&writer, topic, false, false);
    proto_write_i32(&writer, partition);
    return writer_finish(&writer);
}

u32 group_metadata_key_encode(u8 *buffer, u32 capacity, struct proto_string group)
{
    struct proto_writer writer;
    writer_begin(&writer, buffer, capacity);
    proto_write_i16(&writer, GROUP_METADATA_KEY_VERSION);
    proto_write_string(&writer, group, false, false);
    return writer_finish(&writer);
}

u32 group_offset_value_encode(u8 *buffer, u32 capacity, const struct group_offset_value *value)
{
    ASSERT(value->version >= 0 && value->version <= GROUP_VALUE_VERSION_MAX);
    struct proto_writer writer;
    writer_begin(&writer, buffer, capacity);
    proto_write_i16(&writer, value->version);
    proto_write_i64(&writer, value->offset);
    if (value->version >= 3) proto_write_i32(&writer, value->leader_epoch);
    proto_write_string(&writer, value->metadata, false, false);
    proto_write_i64(&writer, value->commit_timestamp);
    if (value->version == 1) proto_write_i64(&writer, value->expire_timestamp);
    return writer_finish(&writer);
}

u32 group_metadata_value_encode(u8 *buffer, u32 capacity, const struct group_metadata_value *value)
{
    i16 version = value->version;
    ASSERT(version >= 0 && version <= GROUP_VALUE_VERSION_MAX);
    ASSERT(value->member_count <= INT32_MAX);
    struct proto_writer writer;
    writer_begin(&writer, buffer, capacity);
    proto_write_i16(&writer, version);
    proto_write_string(&writer, value->protocol_type, false, false);
    proto_write_i32(&writer, value->generation);
    proto_write_string(&writer, value->protocol, false, true);
    proto_write_string(&writer, value->leader, false, true);
    if (version >= 2) proto_write_i64(&writer, value->current_state_timestamp);
    proto_write_array_count(&writer, (i32)value->member_count, false, false);
    for (u32 i = 0; i < value->member_count; i++) {
        const struct group_member_value *member = &value->members[i];
        proto_write_string(&writer, member->member_id, false, false);
        if (version >= 3) {
            proto_write_string(&writer, member->group_instance_id, false, true);
        } else if (member->group_instance_id.size >= 0) {
            proto_writer_fail(&writer, PROTO_ERROR_UNREPRESENTABLE); /* Static: v3+ only. */
        }
        proto_write_string(&writer, member->client_id, false, false);
        proto_write_string(&writer, member->client_host, false, false);
        if (version >= 1) proto_write_i32(&writer, member->rebalance_timeout);
        proto_write_i32(&writer, member->session_timeout);
        proto_write_bytes(&writer, member->subscription, false, false);
        proto_write_bytes(&writer, member->assignment, false, false);
    }
    return writer_finish(&writer);
}
