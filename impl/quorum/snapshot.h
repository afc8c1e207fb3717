/* snapshot.h: the quorum's snapshot file (KRaft's, KIP-630): the state machine's state as of
 * an offset, so the log below that offset can be dropped.
 *
 * Format of "quorum/snapshot", big-endian: a 40-byte header {magic u32 "KQSN", version u32,
 * EndOffset i64 (the snapshot covers offsets < EndOffset), Epoch i32 (of the entry at
 * EndOffset - 1), data size u32, digest u64 (the quorum's running digest after applying
 * EndOffset - 1, so the applied-digest chain continues across the snapshot), data crc32c u32,
 * header crc32c u32 (over the 36 bytes before it)}, then the state machine's bytes. The same
 * bytes travel in FetchSnapshot chunks, so a follower verifies exactly what the leader wrote.
 *
 * Durability: a snapshot is written whole to "quorum/snapshot.tmp" (opened with truncation),
 * synced, then renamed over "quorum/snapshot" (a rename is durable when it completes). A crash
 * at any point leaves either the previous snapshot or the new one, never a mix; a stale tmp file
 * is ignored and overwritten by the next write. Recovery reads "quorum/snapshot" whole and
 * validates both checksums; bytes that fail are corruption (reported as damaged).
 *
 * Two buffers: current (the durable snapshot, which a leader serves to followers) and scratch
 * (a snapshot being written, or being downloaded from the leader). When scratch becomes durable
 * the two swap. One operation is in flight at a time.
 *
 * May depend on: base.h, io.h, quorum/wire.h (size limits), log/crc32c.h. */
#ifndef QUORUM_SNAPSHOT_H
#define QUORUM_SNAPSHOT_H

#include "../io.h"
#include "wire.h"

#define QUORUM_SNAPSHOT_PATH "quorum/snapshot"
#define QUORUM_SNAPSHOT_TMP_PATH "quorum/snapshot.tmp"
#define QUORUM_SNAPSHOT_HEADER_SIZE 40u
#define QUORUM_SNAPSHOT_IO_CHUNK (256u * 1024u) /* Bytes per read or write. */

struct quorum_snapshot_header {
    i64 end_offset;
    i32 last_epoch;
    u32 data_size;
    u64 digest;
};

/* Pure codec. encode writes the header for data (already at image + HEADER_SIZE) and returns
 * the image size. validate checks every field and both checksums of an untrusted image. */
u32 quorum_snapshot_encode(u8 *image, const struct quorum_snapshot_header *header);
WARN_UNUSED bool quorum_snapshot_validate(const u8 *image, u64 size,
                                          struct quorum_snapshot_header *header);

enum quorum_snapshot_op { SNAPSHOT_OP_NONE, SNAPSHOT_OP_OPEN, SNAPSHOT_OP_READ,
                          SNAPSHOT_OP_TMP_OPEN, SNAPSHOT_OP_WRITE, SNAPSHOT_OP_SYNC,
                          SNAPSHOT_OP_RENAME };
enum quorum_snapshot_event {
    SNAPSHOT_EVENT_NONE,
    SNAPSHOT_EVENT_RECOVERED, /* Recovery read the file: current holds it, if it was valid. */
    SNAPSHOT_EVENT_DURABLE,   /* The scratch image was renamed into place and is now current. */
    SNAPSHOT_EVENT_ERROR,     /* An I/O error: call quorum_snapshot_retry() after a backoff. */
};

struct quorum_snapshot_store {
    struct io *io;
    u64 user_data_tag;
    enum quorum_snapshot_op op;
    bool recovered;
    bool failed;
    bool damaged; /* Recovery found a snapshot file that is not a valid snapshot. */

    u8 *current; /* The durable snapshot image (valid when has_current). */
    u32 current_size;
    bool has_current;
    struct quorum_snapshot_header current_header;

    u8 *scratch; /* Being written (writing) or filled by the owner (a download). */
    u32 scratch_size;
    bool writing; /* scratch is on its way to disk: do not touch it. */
    io_file file; /* The file being read (recovery) or the tmp file being written. */
    u32 position; /* Bytes read or written so far. */
    u64 file_size;
};

void quorum_snapshot_init(struct quorum_snapshot_store *store, struct io *io, u64 user_data_tag);
void quorum_snapshot_free(struct quorum_snapshot_store *store);

/* Starts recovery; completes with SNAPSHOT_EVENT_RECOVERED. */
void quorum_snapshot_open(struct quorum_snapshot_store *store);
/* Makes the image in scratch[0, size) durable; completes with SNAPSHOT_EVENT_DURABLE. The image
 * must validate. */
void quorum_snapshot_write(struct quorum_snapshot_store *store, u32 size);
enum quorum_snapshot_event quorum_snapshot_on_file(struct quorum_snapshot_store *store,
                                                   const struct io_completion *completion);
void quorum_snapshot_retry(struct quorum_snapshot_store *store);

#endif
