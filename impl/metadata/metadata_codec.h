/* metadata_codec.h: the byte encoding of one metadata record, shared by entries
 * (metadata_records.c) and snapshots (metadata_image.c). Internal to impl/metadata/.
 *
 * A record is: type (u8), record version (u8), then its fields in fixed widths, big-endian;
 * strings are a u8 length and that many bytes (no NUL inside); id lists a u8 count and i32s;
 * bools a byte 0 or 1. Fixed widths keep the encoding canonical: bytes that decode re-encode to
 * exactly themselves, which the fuzz target checks.
 *
 * May depend on: base.h, protocol/codec.h, metadata.h. */
#ifndef METADATA_CODEC_H
#define METADATA_CODEC_H

#include "../protocol/codec.h"
#include "metadata.h"

#define METADATA_RECORD_VERSION 0u
/* No record encodes larger (the largest, a Config record, is under 460 bytes). */
#define METADATA_RECORD_SIZE_MAX 512u
/* Entry header: magic, version, u16 record count. */
#define METADATA_ENTRY_HEADER_SIZE 4u

/* True when record can be encoded: a known type, strings terminated inside their arrays, lists
 * within METADATA_REPLICAS_MAX, flags and resource types in range. */
bool metadata_record_valid(const struct metadata_record *record);
/* Appends record (which must be valid) to writer; a full writer records its sticky error. */
void metadata_record_write(struct proto_writer *writer, const struct metadata_record *record);
/* Reads one record; false (and a reader error) when the bytes are not a valid record. The
 * record is zeroed first, so equal bytes always give byte-identical structs. */
bool metadata_record_read(struct proto_reader *reader, struct metadata_record *record);

#endif
