/* wire.c: encoding and decoding of the quorum's frames (see wire.h for the format).
 *
 * Invariants: encoders write exactly the fields decoders read, in the same order (paired by the
 * round-trip tests); decoders never read past the frame and reject trailing bytes; every
 * length field is bounded by a _MAX constant before it is used. Encoders assert room, because
 * every buffer is sized from the same constants (an overflow would be our bug, not the
 * world's).
 *
 * Tested by tests/unit/test_quorum_wire.c: round trips of every message, every truncation of
 * every message rejected, random garbage rejected without a crash under ASan/UBSan. */
#include "wire.h"

#include "../log/crc32c.h"

#include <string.h>

u64 quorum_value_checksum(const u8 *bytes, u32 size)
{
    ASSERT(bytes != NULL || size == 0);
    u64 hash = 0xcbf29ce484222325ull;
    for (u32 i = 0; i < size; i++) {
        hash ^= bytes[i];
        hash *= 0x100000001b3ull;
    }
    return hash;
}

/* ===== Writer and reader ===== */

void quorum_writer_init(struct quorum_writer *writer, u8 *buffer, u32 capacity)
{
    ASSERT(buffer != NULL);
    ASSERT(capacity >= 4u);
    writer->buffer = buffer;
    writer->size = 0;
    writer->capacity = capacity;
}

static u8 *writer_reserve(struct quorum_writer *writer, u32 size)
{
    ASSERT(writer->size <= writer->capacity);
    ASSERT(size <= writer->capacity - writer->size);
    u8 *target = writer->buffer + writer->size;
    writer->size += size;
    return target;
}

void quorum_put_u8(struct quorum_writer *writer, u8 value) { *writer_reserve(writer, 1) = value; }
void quorum_put_i16(struct quorum_writer *writer, i16 value)
{
    store_u16_be(writer_reserve(writer, 2), (u16)value);
}
void quorum_put_i32(struct quorum_writer *writer, i32 value)
{
    store_u32_be(writer_reserve(writer, 4), (u32)value);
}
void quorum_put_u32(struct quorum_writer *writer, u32 value)
{
    store_u32_be(writer_reserve(writer, 4), value);
}
void quorum_put_i64(struct quorum_writer *writer, i64 value)
{
    store_u64_be(writer_reserve(writer, 8), (u64)value);
}
void quorum_put_bytes(struct quorum_writer *writer, const u8 *bytes, u32 size)
{
    if (size == 0) return;
    memcpy(writer_reserve(writer, size), bytes, size);
}

static const u8 *reader_take(struct quorum_reader *reader, u32 size)
{
    ASSERT(reader->position <= reader->size);
    if (size > reader->size - reader->position) return NULL;
    const u8 *source = reader->bytes + reader->position;
    reader->position += size;
    return source;
}

bool quorum_get_u8(struct quorum_reader *reader, u8 *value)
{
    const u8 *p = reader_take(reader, 1);
    if (p == NULL) return false;
    *value = p[0];
    return true;
}
bool quorum_get_i16(struct quorum_reader *reader, i16 *value)
{
    const u8 *p = reader_take(reader, 2);
    if (p == NULL) return false;
    *value = (i16)load_u16_be(p);
    return true;
}
bool quorum_get_i32(struct quorum_reader *reader, i32 *value)
{
    const u8 *p = reader_take(reader, 4);
    if (p == NULL) return false;
    *value = (i32)load_u32_be(p);
    return true;
}
bool quorum_get_u32(struct quorum_reader *reader, u32 *value)
{
    const u8 *p = reader_take(reader, 4);
    if (p == NULL) return false;
    *value = load_u32_be(p);
    return true;
}
bool quorum_get_i64(struct quorum_reader *reader, i64 *value)
{
    const u8 *p = reader_take(reader, 8);
    if (p == NULL) return false;
    *value = (i64)load_u64_be(p);
    return true;
}

static bool get_bool(struct quorum_reader *reader, bool *value)
{
    u8 byte = 0;
    if (!quorum_get_u8(reader, &byte)) return false;
    if (byte > 1) return false;
    *value = byte == 1;
    return true;
}

/* A Kafka nullable string (i16 length, -1 = null) into a bounded, terminated buffer. */
static bool get_string(struct quorum_reader *reader, char *target, u32 capacity)
{
    ASSERT(capacity > 0);
    i16 length = 0;
    if (!quorum_get_i16(reader, &length)) return false;
    target[0] = '\0';
    if (length == -1) return true;
    if (length < 0) return false;
    if ((u32)length >= capacity) return false;
    const u8 *bytes = reader_take(reader, (u32)length);
    if (bytes == NULL) return false;
    if (memchr(bytes, '\0', (u32)length) != NULL) return false;
    memcpy(target, bytes, (u32)length);
    target[length] = '\0';
    return true;
}

static void put_string(struct quorum_writer *writer, const char *text)
{
    if (text == NULL || text[0] == '\0') {
        quorum_put_i16(writer, -1);
        return;
    }
    size_t length = strlen(text);
    ASSERT(length < 0x7fff);
    quorum_put_i16(writer, (i16)length);
    quorum_put_bytes(writer, (const u8 *)text, (u32)length);
}

static enum quorum_wire_result finish(const struct quorum_reader *reader, bool ok)
{
    if (!ok) return WIRE_INVALID;
    if (reader->position != reader->size) return WIRE_INVALID; /* Trailing bytes. */
    return WIRE_OK;
}

/* ===== Frames ===== */

void quorum_frame_request_begin(struct quorum_writer *writer, i16 api_key, i32 correlation_id,
                                const char *client_id)
{
    ASSERT(writer->size == 0);
    writer_reserve(writer, 4u);
    quorum_put_i16(writer, api_key);
    quorum_put_i16(writer, QUORUM_WIRE_VERSION);
    quorum_put_i32(writer, correlation_id);
    put_string(writer, client_id);
}

void quorum_frame_response_begin(struct quorum_writer *writer, i32 correlation_id)
{
    ASSERT(writer->size == 0);
    writer_reserve(writer, 4u);
    quorum_put_i32(writer, correlation_id);
}

u32 quorum_frame_end(struct quorum_writer *writer)
{
    ASSERT(writer->size >= 4u);
    ASSERT(writer->size <= QUORUM_FRAME_SIZE_MAX);
    store_u32_be(writer->buffer, writer->size - 4u);
    return writer->size;
}

enum quorum_wire_result quorum_decode_request_header(struct quorum_reader *reader,
                                                     struct quorum_header *header)
{
    memset(header, 0, sizeof(*header));
    if (!quorum_get_i16(reader, &header->ApiKey)) return WIRE_INVALID;
    if (!quorum_get_i16(reader, &header->ApiVersion)) return WIRE_INVALID;
    if (!quorum_get_i32(reader, &header->CorrelationId)) return WIRE_INVALID;
    if (!get_string(reader, header->ClientId, sizeof(header->ClientId))) return WIRE_INVALID;
    if (header->ApiVersion != QUORUM_WIRE_VERSION) return WIRE_INVALID;
    return WIRE_OK;
}

enum quorum_wire_result quorum_decode_response_header(struct quorum_reader *reader,
                                                      i32 *correlation_id)
{
    if (!quorum_get_i32(reader, correlation_id)) return WIRE_INVALID;
    return WIRE_OK;
}

/* ===== Vote ===== */

void quorum_encode_vote_request(struct quorum_writer *w, const struct quorum_vote_request *m)
{
    put_string(w, NULL); /* ClusterId: null until cluster ids exist. */
    quorum_put_i32(w, m->CandidateEpoch);
    quorum_put_i32(w, m->CandidateId);
    quorum_put_i32(w, m->VoterId);
    quorum_put_i32(w, m->LastOffsetEpoch);
    quorum_put_i64(w, m->LastOffset);
    quorum_put_u8(w, m->PreVote ? 1 : 0);
}

enum quorum_wire_result quorum_decode_vote_request(struct quorum_reader *r,
                                                   struct quorum_vote_request *m)
{
    char cluster_id[QUORUM_CLIENT_ID_MAX];
    memset(m, 0, sizeof(*m));
    bool ok = get_string(r, cluster_id, sizeof(cluster_id)) &&
              quorum_get_i32(r, &m->CandidateEpoch) && quorum_get_i32(r, &m->CandidateId) &&
              quorum_get_i32(r, &m->VoterId) && quorum_get_i32(r, &m->LastOffsetEpoch) &&
              quorum_get_i64(r, &m->LastOffset) && get_bool(r, &m->PreVote);
    if (ok && (m->CandidateEpoch < 0 || m->LastOffsetEpoch < 0 || m->LastOffset < 0)) ok = false;
    return finish(r, ok);
}

void quorum_encode_vote_response(struct quorum_writer *w, const struct quorum_vote_response *m)
{
    quorum_put_i16(w, m->ErrorCode);
    quorum_put_i32(w, m->LeaderId);
    quorum_put_i32(w, m->LeaderEpoch);
    quorum_put_u8(w, m->VoteGranted ? 1 : 0);
}

enum quorum_wire_result quorum_decode_vote_response(struct quorum_reader *r,
                                                    struct quorum_vote_response *m)
{
    memset(m, 0, sizeof(*m));
    bool ok = quorum_get_i16(r, &m->ErrorCode) && quorum_get_i32(r, &m->LeaderId) &&
              quorum_get_i32(r, &m->LeaderEpoch) && get_bool(r, &m->VoteGranted);
    if (ok && m->LeaderEpoch < 0) ok = false;
    return finish(r, ok);
}

/* ===== BeginQuorumEpoch, EndQuorumEpoch ===== */

void quorum_encode_begin_epoch_request(struct quorum_writer *w,
                                       const struct quorum_begin_epoch_request *m)
{
    put_string(w, NULL);
    quorum_put_i32(w, m->LeaderId);
    quorum_put_i32(w, m->LeaderEpoch);
    quorum_put_i32(w, m->VoterId);
    put_string(w, m->LeaderEndpoint);
}

enum quorum_wire_result quorum_decode_begin_epoch_request(struct quorum_reader *r,
                                                          struct quorum_begin_epoch_request *m)
{
    char cluster_id[QUORUM_CLIENT_ID_MAX];
    memset(m, 0, sizeof(*m));
    bool ok = get_string(r, cluster_id, sizeof(cluster_id)) && quorum_get_i32(r, &m->LeaderId) &&
              quorum_get_i32(r, &m->LeaderEpoch) && quorum_get_i32(r, &m->VoterId) &&
              get_string(r, m->LeaderEndpoint, sizeof(m->LeaderEndpoint));
    if (ok && (m->LeaderEpoch < 0 || m->LeaderId < 0)) ok = false;
    return finish(r, ok);
}

void quorum_encode_end_epoch_request(struct quorum_writer *w,
                                     const struct quorum_end_epoch_request *m)
{
    ASSERT(m->successor_count <= QUORUM_SUCCESSORS_MAX);
    put_string(w, NULL);
    quorum_put_i32(w, m->LeaderId);
    quorum_put_i32(w, m->LeaderEpoch);
    quorum_put_u32(w, m->successor_count);
    for (u32 i = 0; i < m->successor_count; i++) quorum_put_i32(w, m->PreferredSuccessors[i]);
}

enum quorum_wire_result quorum_decode_end_epoch_request(struct quorum_reader *r,
                                                        struct quorum_end_epoch_request *m)
{
    char cluster_id[QUORUM_CLIENT_ID_MAX];
    memset(m, 0, sizeof(*m));
    bool ok = get_string(r, cluster_id, sizeof(cluster_id)) && quorum_get_i32(r, &m->LeaderId) &&
              quorum_get_i32(r, &m->LeaderEpoch) && quorum_get_u32(r, &m->successor_count);
    if (ok && m->successor_count > QUORUM_SUCCESSORS_MAX) ok = false;
    for (u32 i = 0; ok && i < m->successor_count; i++) {
        ok = quorum_get_i32(r, &m->PreferredSuccessors[i]);
    }
    if (ok && (m->LeaderEpoch < 0 || m->LeaderId < 0)) ok = false;
    return finish(r, ok);
}

void quorum_encode_epoch_response(struct quorum_writer *w, const struct quorum_epoch_response *m)
{
    quorum_put_i16(w, m->ErrorCode);
    quorum_put_i32(w, m->LeaderId);
    quorum_put_i32(w, m->LeaderEpoch);
}

enum quorum_wire_result quorum_decode_epoch_response(struct quorum_reader *r,
                                                     struct quorum_epoch_response *m)
{
    memset(m, 0, sizeof(*m));
    bool ok = quorum_get_i16(r, &m->ErrorCode) && quorum_get_i32(r, &m->LeaderId) &&
              quorum_get_i32(r, &m->LeaderEpoch);
    if (ok && m->LeaderEpoch < 0) ok = false;
    return finish(r, ok);
}

/* ===== Fetch ===== */

/* A SnapshotId is either none (-1, -1) or a real one (EndOffset > 0, Epoch > 0): a snapshot
 * covers at least one entry, and entries have epochs >= 1. */
static bool get_snapshot_id(struct quorum_reader *r, struct quorum_snapshot_id *id)
{
    if (!quorum_get_i64(r, &id->EndOffset) || !quorum_get_i32(r, &id->Epoch)) return false;
    if (id->EndOffset == -1 && id->Epoch == -1) return true;
    return id->EndOffset > 0 && id->Epoch > 0;
}

void quorum_encode_fetch_request(struct quorum_writer *w, const struct quorum_fetch_request *m)
{
    put_string(w, NULL);
    quorum_put_i32(w, m->ReplicaId);
    quorum_put_i32(w, m->CurrentLeaderEpoch);
    quorum_put_i64(w, m->FetchOffset);
    quorum_put_i32(w, m->LastFetchedEpoch);
    quorum_put_i32(w, m->MaxBytes);
}

enum quorum_wire_result quorum_decode_fetch_request(struct quorum_reader *r,
                                                    struct quorum_fetch_request *m)
{
    char cluster_id[QUORUM_CLIENT_ID_MAX];
    memset(m, 0, sizeof(*m));
    bool ok = get_string(r, cluster_id, sizeof(cluster_id)) &&
              quorum_get_i32(r, &m->ReplicaId) && quorum_get_i32(r, &m->CurrentLeaderEpoch) &&
              quorum_get_i64(r, &m->FetchOffset) && quorum_get_i32(r, &m->LastFetchedEpoch) &&
              quorum_get_i32(r, &m->MaxBytes);
    if (ok && (m->ReplicaId < 0 || m->FetchOffset < 0 || m->LastFetchedEpoch < 0)) ok = false;
    if (ok && (m->CurrentLeaderEpoch < 0 || m->MaxBytes < 0)) ok = false;
    return finish(r, ok);
}

void quorum_encode_fetch_response(struct quorum_writer *w, const struct quorum_fetch_response *m)
{
    ASSERT(m->records_size <= QUORUM_FETCH_BYTES_MAX);
    quorum_put_i16(w, m->ErrorCode);
    quorum_put_i32(w, m->LeaderId);
    quorum_put_i32(w, m->LeaderEpoch);
    quorum_put_i64(w, m->HighWatermark);
    quorum_put_i32(w, m->DivergingEpoch);
    quorum_put_i64(w, m->DivergingEndOffset);
    put_string(w, m->LeaderEndpoint);
    quorum_put_i64(w, m->SnapshotId.EndOffset);
    quorum_put_i32(w, m->SnapshotId.Epoch);
    quorum_put_u32(w, m->record_count);
    quorum_put_u32(w, m->records_size);
    quorum_put_bytes(w, m->records, m->records_size);
}

/* Validates every record (framing, CRC, consecutive offsets, non-decreasing epochs), so the
 * quorum can later walk them with quorum_record_decode knowing each one is whole. */
static bool records_valid(const u8 *bytes, u32 size, u32 count)
{
    u32 position = 0;
    i64 offset_previous = -1;
    i32 epoch_previous = 0;
    for (u32 i = 0; i < count; i++) {
        struct quorum_record record;
        u32 consumed = 0;
        if (quorum_record_decode(bytes + position, size - position, &record, &consumed) !=
            WIRE_OK) {
            return false;
        }
        if (offset_previous >= 0 && record.Offset != offset_previous + 1) return false;
        if (record.Epoch < epoch_previous) return false;
        offset_previous = record.Offset;
        epoch_previous = record.Epoch;
        position += consumed;
        ASSERT(position <= size);
    }
    return position == size;
}

enum quorum_wire_result quorum_decode_fetch_response(struct quorum_reader *r,
                                                     struct quorum_fetch_response *m)
{
    memset(m, 0, sizeof(*m));
    bool ok = quorum_get_i16(r, &m->ErrorCode) && quorum_get_i32(r, &m->LeaderId) &&
              quorum_get_i32(r, &m->LeaderEpoch) && quorum_get_i64(r, &m->HighWatermark) &&
              quorum_get_i32(r, &m->DivergingEpoch) &&
              quorum_get_i64(r, &m->DivergingEndOffset) &&
              get_string(r, m->LeaderEndpoint, sizeof(m->LeaderEndpoint)) &&
              get_snapshot_id(r, &m->SnapshotId) &&
              quorum_get_u32(r, &m->record_count) && quorum_get_u32(r, &m->records_size);
    if (!ok) return WIRE_INVALID;
    if (m->SnapshotId.EndOffset >= 0 && m->record_count > 0) return WIRE_INVALID;
    if (m->LeaderEpoch < 0 || m->HighWatermark < 0) return WIRE_INVALID;
    if (m->DivergingEpoch < -1) return WIRE_INVALID;
    if (m->DivergingEpoch >= 0 && m->DivergingEndOffset < 0) return WIRE_INVALID;
    if (m->records_size > QUORUM_FETCH_BYTES_MAX) return WIRE_INVALID;
    if (m->record_count > m->records_size / QUORUM_RECORD_HEADER_SIZE) return WIRE_INVALID;
    m->records = reader_take(r, m->records_size);
    if (m->records == NULL) return WIRE_INVALID;
    if (!records_valid(m->records, m->records_size, m->record_count)) return WIRE_INVALID;
    return finish(r, true);
}

/* ===== FetchSnapshot ===== */

void quorum_encode_fetch_snapshot_request(struct quorum_writer *w,
                                          const struct quorum_fetch_snapshot_request *m)
{
    put_string(w, NULL);
    quorum_put_i32(w, m->ReplicaId);
    quorum_put_i32(w, m->MaxBytes);
    quorum_put_i32(w, m->CurrentLeaderEpoch);
    quorum_put_i64(w, m->SnapshotId.EndOffset);
    quorum_put_i32(w, m->SnapshotId.Epoch);
    quorum_put_i64(w, m->Position);
}

enum quorum_wire_result quorum_decode_fetch_snapshot_request(
    struct quorum_reader *r, struct quorum_fetch_snapshot_request *m)
{
    char cluster_id[QUORUM_CLIENT_ID_MAX];
    memset(m, 0, sizeof(*m));
    bool ok = get_string(r, cluster_id, sizeof(cluster_id)) &&
              quorum_get_i32(r, &m->ReplicaId) && quorum_get_i32(r, &m->MaxBytes) &&
              quorum_get_i32(r, &m->CurrentLeaderEpoch) && get_snapshot_id(r, &m->SnapshotId) &&
              quorum_get_i64(r, &m->Position);
    if (ok && (m->ReplicaId < 0 || m->MaxBytes <= 0 || m->CurrentLeaderEpoch < 0)) ok = false;
    if (ok && (m->SnapshotId.EndOffset < 0 || m->Position < 0)) ok = false;
    return finish(r, ok);
}

void quorum_encode_fetch_snapshot_response(struct quorum_writer *w,
                                           const struct quorum_fetch_snapshot_response *m)
{
    ASSERT(m->chunk_size <= QUORUM_SNAPSHOT_CHUNK_MAX);
    quorum_put_i16(w, m->ErrorCode);
    quorum_put_i32(w, m->LeaderId);
    quorum_put_i32(w, m->LeaderEpoch);
    quorum_put_i64(w, m->SnapshotId.EndOffset);
    quorum_put_i32(w, m->SnapshotId.Epoch);
    quorum_put_i64(w, m->Size);
    quorum_put_i64(w, m->Position);
    quorum_put_u32(w, m->chunk_size);
    quorum_put_bytes(w, m->chunk, m->chunk_size);
}

enum quorum_wire_result quorum_decode_fetch_snapshot_response(
    struct quorum_reader *r, struct quorum_fetch_snapshot_response *m)
{
    memset(m, 0, sizeof(*m));
    bool ok = quorum_get_i16(r, &m->ErrorCode) && quorum_get_i32(r, &m->LeaderId) &&
              quorum_get_i32(r, &m->LeaderEpoch) && get_snapshot_id(r, &m->SnapshotId) &&
              quorum_get_i64(r, &m->Size) && quorum_get_i64(r, &m->Position) &&
              quorum_get_u32(r, &m->chunk_size);
    if (!ok || m->LeaderEpoch < 0) return WIRE_INVALID;
    if (m->Size < 0 || m->Size > (i64)QUORUM_SNAPSHOT_SIZE_MAX) return WIRE_INVALID;
    if (m->Position < 0 || m->Position > m->Size) return WIRE_INVALID;
    if (m->chunk_size > QUORUM_SNAPSHOT_CHUNK_MAX) return WIRE_INVALID;
    if ((i64)m->chunk_size > m->Size - m->Position) return WIRE_INVALID;
    m->chunk = reader_take(r, m->chunk_size);
    return finish(r, m->chunk != NULL);
}

/* ===== Client append ===== */

void quorum_encode_append_request(struct quorum_writer *w, const struct quorum_append_request *m)
{
    ASSERT(m->value_size <= QUORUM_ENTRY_SIZE_MAX);
    quorum_put_u32(w, m->value_size);
    quorum_put_bytes(w, m->Value, m->value_size);
}

enum quorum_wire_result quorum_decode_append_request(struct quorum_reader *r,
                                                     struct quorum_append_request *m)
{
    memset(m, 0, sizeof(*m));
    if (!quorum_get_u32(r, &m->value_size)) return WIRE_INVALID;
    if (m->value_size == 0 || m->value_size > QUORUM_ENTRY_SIZE_MAX) return WIRE_INVALID;
    m->Value = reader_take(r, m->value_size);
    return finish(r, m->Value != NULL);
}

void quorum_encode_append_response(struct quorum_writer *w,
                                   const struct quorum_append_response *m)
{
    quorum_put_i16(w, m->ErrorCode);
    quorum_put_i64(w, m->Offset);
    quorum_put_i32(w, m->LeaderId);
    put_string(w, m->LeaderEndpoint);
}

enum quorum_wire_result quorum_decode_append_response(struct quorum_reader *r,
                                                      struct quorum_append_response *m)
{
    memset(m, 0, sizeof(*m));
    bool ok = quorum_get_i16(r, &m->ErrorCode) && quorum_get_i64(r, &m->Offset) &&
              quorum_get_i32(r, &m->LeaderId) &&
              get_string(r, m->LeaderEndpoint, sizeof(m->LeaderEndpoint));
    return finish(r, ok);
}

/* ===== Records ===== */

static u32 record_crc(const u8 *header, const u8 *payload, u32 size)
{
    u32 crc = crc32c_extend(0, header, 20); /* Offset, Epoch, Size, Attributes. */
    return crc32c_extend(crc, payload, size);
}

u32 quorum_record_encode(u8 *target, u32 capacity, i64 offset, i32 epoch, u32 attributes,
                         const u8 *payload, u32 size)
{
    ASSERT(offset >= 0);
    ASSERT(epoch > 0);
    ASSERT(size <= QUORUM_ENTRY_SIZE_MAX);
    ASSERT(capacity >= QUORUM_RECORD_HEADER_SIZE + size);
    store_u64_be(target, (u64)offset);
    store_u32_be(target + 8, (u32)epoch);
    store_u32_be(target + 12, size);
    store_u32_be(target + 16, attributes);
    if (size > 0) memcpy(target + QUORUM_RECORD_HEADER_SIZE, payload, size);
    store_u32_be(target + 20, record_crc(target, target + QUORUM_RECORD_HEADER_SIZE, size));
    return QUORUM_RECORD_HEADER_SIZE + size;
}

enum quorum_wire_result quorum_record_decode(const u8 *bytes, u32 size,
                                             struct quorum_record *record, u32 *consumed)
{
    memset(record, 0, sizeof(*record));
    if (size < QUORUM_RECORD_HEADER_SIZE) return WIRE_INVALID;
    record->Offset = (i64)load_u64_be(bytes);
    record->Epoch = (i32)load_u32_be(bytes + 8);
    record->size = load_u32_be(bytes + 12);
    record->Attributes = load_u32_be(bytes + 16);
    record->crc = load_u32_be(bytes + 20);
    if (record->Offset < 0 || record->Epoch <= 0) return WIRE_INVALID;
    if (record->size > QUORUM_ENTRY_SIZE_MAX) return WIRE_INVALID;
    if ((record->Attributes & ~(QUORUM_RECORD_CONTROL | QUORUM_RECORD_PROPOSED)) != 0) {
        return WIRE_INVALID;
    }
    if (record->size > size - QUORUM_RECORD_HEADER_SIZE) return WIRE_INVALID;
    record->payload = bytes + QUORUM_RECORD_HEADER_SIZE;
    if (record_crc(bytes, record->payload, record->size) != record->crc) return WIRE_INVALID;
    *consumed = QUORUM_RECORD_HEADER_SIZE + record->size;
    return WIRE_OK;
}
