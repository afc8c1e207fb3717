/* group_records.h: Kafka's own __consumer_offsets record formats, byte for byte, so that a log
 * written by Cairn reads as Kafka's and the other way round.
 *
 * Each record of the partition log carries a key and a value, both starting with an int16
 * version; the key's version names the record type:
 *   - key version 0 or 1: OffsetCommitKey   group string, topic string, partition i32
 *     value OffsetCommitValue, version 0..3:
 *       v0, v2: offset i64, metadata string, commitTimestamp i64
 *       v1:     offset i64, metadata string, commitTimestamp i64, expireTimestamp i64
 *       v3:     offset i64, leaderEpoch i32, metadata string, commitTimestamp i64
 *   - key version 2: GroupMetadataKey   group string
 *     value GroupMetadataValue, version 0..3: protocolType string, generation i32,
 *       protocol nullable string, leader nullable string, (v2+) currentStateTimestamp i64,
 *       members array of: memberId string, (v3+) groupInstanceId nullable string,
 *       clientId string, clientHost string, (v1+) rebalanceTimeout i32, sessionTimeout i32,
 *       subscription bytes, assignment bytes.
 *   A null value (a tombstone) deletes the offset or the group.
 * All non-flexible: int16 string lengths (-1 = null), int32 bytes lengths and array counts,
 * big-endian. Kafka 3.x writes key version 1 and value version 3 (value version 1 for an
 * offset with an explicit expiry); newer value versions (4+, flexible) and key versions above
 * 2 (the new consumer protocol's records) are reported as GROUP_RECORD_UNKNOWN_VERSION so a
 * loader can skip them.
 *
 * Decoding never trusts the bytes: every length is checked against what is there, and decoded
 * strings and bytes point into the input (not NUL-terminated). Bytes after the last field are
 * ignored, as Kafka's readers ignore them.
 *
 * May depend on: base.h, protocol/codec.h (its reader, writer and arena). */
#ifndef GROUP_RECORDS_H
#define GROUP_RECORDS_H

#include "../base.h"
#include "../protocol/codec.h"

enum group_record_type {
    GROUP_RECORD_OFFSET_COMMIT = 1,
    GROUP_RECORD_GROUP_METADATA = 2,
};

enum group_record_error {
    GROUP_RECORD_OK = 0,
    GROUP_RECORD_TRUNCATED,       /* The bytes end inside a field. */
    GROUP_RECORD_INVALID,         /* A negative length other than null, a null where none is. */
    GROUP_RECORD_UNKNOWN_VERSION, /* A version this code does not read (a newer Kafka's). */
    GROUP_RECORD_NO_SPACE,        /* Encode: the buffer is too small; decode: the arena is. */
};

const char *group_record_error_name(enum group_record_error error);

struct group_record_key {
    enum group_record_type type;
    i16 version;
    struct proto_string group;
    struct proto_string topic; /* Offset commits only. */
    i32 partition;             /* Offset commits only. */
};

struct group_offset_value {
    i16 version;
    i64 offset;
    i32 leader_epoch;          /* -1 when the version has none (before v3). */
    struct proto_string metadata;
    i64 commit_timestamp;      /* Milliseconds. */
    i64 expire_timestamp;      /* Milliseconds; -1 except in v1. */
};

struct group_member_value {
    struct proto_string member_id;
    struct proto_string group_instance_id; /* Null before v3, or for a dynamic member. */
    struct proto_string client_id;
    struct proto_string client_host;
    i32 rebalance_timeout;     /* Milliseconds; -1 when the version has none (v0). */
    i32 session_timeout;       /* Milliseconds. */
    struct proto_bytes subscription;
    struct proto_bytes assignment;
};

struct group_metadata_value {
    i16 version;
    struct proto_string protocol_type;
    i32 generation;
    struct proto_string protocol; /* Nullable. */
    struct proto_string leader;   /* Nullable. */
    i64 current_state_timestamp;  /* Milliseconds; -1 when the version has none (v0, v1). */
    struct group_member_value *members;
    u32 member_count;
};

/* The newest versions this code writes, as Kafka 3.x does. */
#define GROUP_OFFSET_KEY_VERSION 1
#define GROUP_OFFSET_VALUE_VERSION 3
#define GROUP_OFFSET_VALUE_VERSION_EXPIRING 1 /* The only one with an expireTimestamp. */
#define GROUP_METADATA_KEY_VERSION 2
#define GROUP_METADATA_VALUE_VERSION 3
#define GROUP_VALUE_VERSION_MAX 3

/* ---- Decoding (untrusted bytes) ---- */
WARN_UNUSED enum group_record_error group_record_key_decode(const u8 *bytes, u32 size,
                                                            struct group_record_key *key);
WARN_UNUSED enum group_record_error group_offset_value_decode(const u8 *bytes, u32 size,
                                                              struct group_offset_value *value);
/* The members array comes from arena. */
WARN_UNUSED enum group_record_error group_metadata_value_decode(
        const u8 *bytes, u32 size, struct group_metadata_value *value, struct proto_arena *arena);

/* ---- Encoding ----
 * Each writes at the version given (key: 0..2 as the type allows; value: the value's own
 * version field, 0..3) and returns the encoded size, or 0 when it does not fit the buffer or
 * a field cannot be represented (a string over 32767 bytes, a null where the version has
 * none). A NULL buffer with capacity 0 only measures. */
u32 group_offset_key_encode(u8 *buffer, u32 capacity, i16 version, struct proto_string group,
                            struct proto_string topic, i32 partition);
u32 group_metadata_key_encode(u8 *buffer, u32 capacity, struct proto_string group);
u32 group_offset_value_encode(u8 *buffer, u32 capacity, const struct group_offset_value *value);
u32 group_metadata_value_encode(u8 *buffer, u32 capacity,
                                const struct group_metadata_value *value);

#endif
