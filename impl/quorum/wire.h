/* wire.h: the bytes the metadata quorum exchanges: Raft between voters, appends from clients.
 *
 * Frames are Kafka-style: a 4-byte big-endian size prefix, a request header (ApiKey i16,
 * ApiVersion i16, CorrelationId i32, ClientId nullable string) or a response header
 * (CorrelationId i32), then a body. The inter-controller messages use KRaft's api keys (Vote 52,
 * BeginQuorumEpoch 53, EndQuorumEpoch 54, Fetch 1) and carry KRaft's field names, but their
 * bodies use a compact fixed-order big-endian encoding of our own, one partition only.
 * FetchSnapshot (59) carries a snapshot in chunks (KIP-630), named by its SnapshotId (the
 * offset it ends at and the epoch of its last entry), which a Fetch response names when the
 * follower's position lies below the leader's log start. A later
 * issue replaces these bodies with a codec generated from the JSON schemas in
 * kafka-protocol/messages; the header is already Kafka's. The client append request uses an
 * internal api key (10000), clearly outside Kafka's range.
 *
 * Decoding never trusts the bytes: every length is bounded, every read is checked, and a
 * malformed frame yields WIRE_INVALID (the caller closes the connection and logs), never an
 * assertion and never an over-read.
 *
 * May depend on: base.h. */
#ifndef QUORUM_WIRE_H
#define QUORUM_WIRE_H

#include "../base.h"

enum quorum_api_key {
    QUORUM_API_FETCH = 1,
    QUORUM_API_VOTE = 52,
    QUORUM_API_BEGIN_QUORUM_EPOCH = 53,
    QUORUM_API_END_QUORUM_EPOCH = 54,
    QUORUM_API_FETCH_SNAPSHOT = 59,
    QUORUM_API_CLIENT_APPEND = 10000, /* Internal: outside Kafka's api key range. */
};

/* Kafka error codes used by the quorum. */
enum quorum_error {
    QUORUM_ERROR_NONE = 0,
    QUORUM_ERROR_NOT_LEADER_OR_FOLLOWER = 6,
    QUORUM_ERROR_REQUEST_TIMED_OUT = 7,   /* Client append: the outcome is unknown. */
    QUORUM_ERROR_MESSAGE_TOO_LARGE = 10,
    QUORUM_ERROR_KAFKA_STORAGE_ERROR = 56, /* Client append: the log is full (no snapshots). */
    QUORUM_ERROR_FENCED_LEADER_EPOCH = 74,
    QUORUM_ERROR_UNKNOWN_LEADER_EPOCH = 75,
    QUORUM_ERROR_THROTTLING_QUOTA_EXCEEDED = 89, /* Client append: back-pressure, not applied. */
    QUORUM_ERROR_SNAPSHOT_NOT_FOUND = 98,     /* FetchSnapshot: the leader has no such snapshot. */
    QUORUM_ERROR_POSITION_OUT_OF_RANGE = 99,  /* FetchSnapshot: position beyond its size. */
};

#define QUORUM_WIRE_VERSION 0
#define QUORUM_FRAME_SIZE_MAX (1024u * 1024u)
#define QUORUM_ENTRY_SIZE_MAX (60u * 1024u) /* Payload bytes of one log entry (one fetch). */
#define QUORUM_FETCH_BYTES_MAX (64u * 1024u) /* Record bytes in one fetch response. */
#define QUORUM_CLIENT_ID_MAX 64u
#define QUORUM_ENDPOINT_MAX 128u
#define QUORUM_SUCCESSORS_MAX 9u
#define QUORUM_SNAPSHOT_SIZE_MAX (4u * 1024u * 1024u) /* A snapshot file, header included. */
#define QUORUM_SNAPSHOT_CHUNK_MAX QUORUM_FETCH_BYTES_MAX /* Bytes in one FetchSnapshot answer. */
/* A record on the wire (and in the log file): Offset i64, Epoch i32, Size u32, Attributes u32,
 * Crc u32. Attributes bit 5 marks a control record (as in Kafka's batch attributes): the
 * leader-change entry a new leader writes; client values have attributes 0. */
#define QUORUM_RECORD_HEADER_SIZE 24u
#define QUORUM_RECORD_CONTROL (1u << 5)
/* Bit 6: an entry the leader's own state machine owner proposed (quorum_propose: the
 * controller's metadata records), not a client's append; the checkers tell them apart. */
#define QUORUM_RECORD_PROPOSED (1u << 6)

struct quorum_header {
    i16 ApiKey;
    i16 ApiVersion;
    i32 CorrelationId;
    char ClientId[QUORUM_CLIENT_ID_MAX]; /* Empty when null. */
};

struct quorum_vote_request {
    i32 CandidateEpoch;
    i32 CandidateId;
    i32 VoterId;
    i32 LastOffsetEpoch;
    i64 LastOffset; /* The candidate's log end offset. */
    bool PreVote;   /* KIP-996: asks whether a vote would be granted, changes no state. */
};
struct quorum_vote_response {
    i16 ErrorCode;
    i32 LeaderId; /* -1 when unknown. */
    i32 LeaderEpoch;
    bool VoteGranted;
};

struct quorum_begin_epoch_request {
    i32 LeaderId;
    i32 LeaderEpoch;
    i32 VoterId;
    char LeaderEndpoint[QUORUM_ENDPOINT_MAX]; /* KRaft v1 LeaderEndpoints: the client one. */
};
struct quorum_end_epoch_request {
    i32 LeaderId;
    i32 LeaderEpoch;
    u32 successor_count;
    i32 PreferredSuccessors[QUORUM_SUCCESSORS_MAX];
};
/* Response to BeginQuorumEpoch and EndQuorumEpoch. */
struct quorum_epoch_response {
    i16 ErrorCode;
    i32 LeaderId;
    i32 LeaderEpoch;
};

/* KRaft's SnapshotId: the snapshot covers offsets < EndOffset; Epoch is its last entry's. */
struct quorum_snapshot_id {
    i64 EndOffset; /* -1: none. */
    i32 Epoch;     /* -1: none. */
};

struct quorum_fetch_request {
    i32 ReplicaId;
    i32 CurrentLeaderEpoch;
    i64 FetchOffset;
    i32 LastFetchedEpoch;
    i32 MaxBytes;
};
struct quorum_fetch_response {
    i16 ErrorCode;
    i32 LeaderId;
    i32 LeaderEpoch;
    i64 HighWatermark;
    i32 DivergingEpoch; /* -1 when the fetch position matched the leader's log. */
    i64 DivergingEndOffset;
    char LeaderEndpoint[QUORUM_ENDPOINT_MAX]; /* Fetch v16 NodeEndpoints: the leader's client
                                               * endpoint, "" if unknown. */
    /* Set (EndOffset >= 0) when the fetch position lies below the leader's log start: fetch
     * this snapshot first. No records then. */
    struct quorum_snapshot_id SnapshotId;
    u32 record_count;
    const u8 *records; /* record_count validated records (header + payload each). */
    u32 records_size;
};

struct quorum_fetch_snapshot_request {
    i32 ReplicaId;
    i32 MaxBytes;
    i32 CurrentLeaderEpoch;
    struct quorum_snapshot_id SnapshotId;
    i64 Position; /* Byte position within the snapshot. */
};
struct quorum_fetch_snapshot_response {
    i16 ErrorCode;
    i32 LeaderId; /* CurrentLeader */
    i32 LeaderEpoch;
    struct quorum_snapshot_id SnapshotId;
    i64 Size;     /* The whole snapshot's size in bytes. */
    i64 Position; /* Where chunk starts. */
    const u8 *chunk; /* UnalignedRecords: bytes [Position, Position + chunk_size). */
    u32 chunk_size;
};

struct quorum_append_request {
    const u8 *Value;
    u32 value_size;
};
struct quorum_append_response {
    i16 ErrorCode;
    i64 Offset;
    i32 LeaderId;
    char LeaderEndpoint[QUORUM_ENDPOINT_MAX]; /* Client endpoint of the leader, "" if unknown. */
};

/* One record decoded from a validated area. */
struct quorum_record {
    i64 Offset;
    i32 Epoch;
    u32 size;
    u32 Attributes;
    u32 crc;
    const u8 *payload;
};

enum quorum_wire_result { WIRE_OK = 0, WIRE_INVALID };

/* A writer over a caller's buffer. Overflow is a bug: callers size buffers from the _MAX
 * constants, so every put asserts room. */
struct quorum_writer {
    u8 *buffer;
    u32 size;
    u32 capacity;
};
/* A reader over untrusted bytes. Every get returns false instead of reading past the end. */
struct quorum_reader {
    const u8 *bytes;
    u32 size;
    u32 position;
};

void quorum_writer_init(struct quorum_writer *writer, u8 *buffer, u32 capacity);
void quorum_put_u8(struct quorum_writer *writer, u8 value);
void quorum_put_i16(struct quorum_writer *writer, i16 value);
void quorum_put_i32(struct quorum_writer *writer, i32 value);
void quorum_put_i64(struct quorum_writer *writer, i64 value);
void quorum_put_u32(struct quorum_writer *writer, u32 value);
void quorum_put_bytes(struct quorum_writer *writer, const u8 *bytes, u32 size);
WARN_UNUSED bool quorum_get_u8(struct quorum_reader *reader, u8 *value);
WARN_UNUSED bool quorum_get_i16(struct quorum_reader *reader, i16 *value);
WARN_UNUSED bool quorum_get_i32(struct quorum_reader *reader, i32 *value);
WARN_UNUSED bool quorum_get_i64(struct quorum_reader *reader, i64 *value);
WARN_UNUSED bool quorum_get_u32(struct quorum_reader *reader, u32 *value);

/* Starts a frame: reserves the size prefix and writes the request header. */
void quorum_frame_request_begin(struct quorum_writer *writer, i16 api_key, i32 correlation_id,
                                const char *client_id);
void quorum_frame_response_begin(struct quorum_writer *writer, i32 correlation_id);
/* Fills in the size prefix; returns the whole frame size (prefix included). */
u32 quorum_frame_end(struct quorum_writer *writer);

/* Body encoders: append to a begun frame. */
void quorum_encode_vote_request(struct quorum_writer *w, const struct quorum_vote_request *m);
void quorum_encode_vote_response(struct quorum_writer *w, const struct quorum_vote_response *m);
void quorum_encode_begin_epoch_request(struct quorum_writer *w,
                                       const struct quorum_begin_epoch_request *m);
void quorum_encode_end_epoch_request(struct quorum_writer *w,
                                     const struct quorum_end_epoch_request *m);
void quorum_encode_epoch_response(struct quorum_writer *w, const struct quorum_epoch_response *m);
void quorum_encode_fetch_request(struct quorum_writer *w, const struct quorum_fetch_request *m);
/* Writes the fetch response fields; records (already in wire form) are copied after them. */
void quorum_encode_fetch_response(struct quorum_writer *w, const struct quorum_fetch_response *m);
void quorum_encode_fetch_snapshot_request(struct quorum_writer *w,
                                          const struct quorum_fetch_snapshot_request *m);
void quorum_encode_fetch_snapshot_response(struct quorum_writer *w,
                                           const struct quorum_fetch_snapshot_response *m);
void quorum_encode_append_request(struct quorum_writer *w,
                                  const struct quorum_append_request *m);
void quorum_encode_append_response(struct quorum_writer *w,
                                   const struct quorum_append_response *m);

/* Frame decoders (the frame excludes the size prefix, as io delivers it). The body decoders
 * reject trailing bytes, so a frame is exactly one message. */
WARN_UNUSED enum quorum_wire_result quorum_decode_request_header(struct quorum_reader *reader,
                                                                 struct quorum_header *header);
WARN_UNUSED enum quorum_wire_result quorum_decode_response_header(struct quorum_reader *reader,
                                                                  i32 *correlation_id);
WARN_UNUSED enum quorum_wire_result quorum_decode_vote_request(struct quorum_reader *r,
                                                               struct quorum_vote_request *m);
WARN_UNUSED enum quorum_wire_result quorum_decode_vote_response(struct quorum_reader *r,
                                                                struct quorum_vote_response *m);
WARN_UNUSED enum quorum_wire_result
quorum_decode_begin_epoch_request(struct quorum_reader *r, struct quorum_begin_epoch_request *m);
WARN_UNUSED enum quorum_wire_result
quorum_decode_end_epoch_request(struct quorum_reader *r, struct quorum_end_epoch_request *m);
WARN_UNUSED enum quorum_wire_result quorum_decode_epoch_response(struct quorum_reader *r,
                                                                 struct quorum_epoch_response *m);
WARN_UNUSED enum quorum_wire_result quorum_decode_fetch_request(struct quorum_reader *r,
                                                                struct quorum_fetch_request *m);
WARN_UNUSED enum quorum_wire_result quorum_decode_fetch_response(struct quorum_reader *r,
                                                                 struct quorum_fetch_response *m);
WARN_UNUSED enum quorum_wire_result
quorum_decode_fetch_snapshot_request(struct quorum_reader *r,
                                     struct quorum_fetch_snapshot_request *m);
/* Rejects a chunk that does not lie inside [0, Size) or exceeds QUORUM_SNAPSHOT_CHUNK_MAX, and a
 * Size above QUORUM_SNAPSHOT_SIZE_MAX. */
WARN_UNUSED enum quorum_wire_result
quorum_decode_fetch_snapshot_response(struct quorum_reader *r,
                                      struct quorum_fetch_snapshot_response *m);
WARN_UNUSED enum quorum_wire_result quorum_decode_append_request(struct quorum_reader *r,
                                                                 struct quorum_append_request *m);
WARN_UNUSED enum quorum_wire_result
quorum_decode_append_response(struct quorum_reader *r, struct quorum_append_response *m);

/* Records: the same bytes on the wire and in the log file. The CRC32C covers the header
 * fields before it and the payload. */
u32 quorum_record_encode(u8 *target, u32 capacity, i64 offset, i32 epoch, u32 attributes,
                         const u8 *payload, u32 size);
/* Parses one record at the start of bytes. Returns WIRE_INVALID on short input, a bad size or
 * a bad CRC. On success *consumed is header + payload. */
WARN_UNUSED enum quorum_wire_result quorum_record_decode(const u8 *bytes, u32 size,
                                                         struct quorum_record *record,
                                                         u32 *consumed);

/* The 64-bit checksum of a value (an entry's payload) that clients, nodes and the history
 * share: FNV-1a, so model/ can recompute it without linking impl/. */
u64 quorum_value_checksum(const u8 *bytes, u32 size);

#endif
