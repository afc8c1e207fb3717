/* checkpoint.h: Kafka's small text checkpoint files, encoded and parsed without I/O.
 *
 * Every checkpoint file is "<version>\n<count>\n" followed by count entry lines, version 0:
 *   - recovery-point-offset-checkpoint, log-start-offset-checkpoint: "<topic> <partition>
 *     <offset>" per line (Kafka keeps one such file per log directory, for all partitions; a
 *     partition log here keeps its own, with its one entry, in its directory);
 *   - leader-epoch-checkpoint: "<epoch> <start offset>" per line, epochs increasing.
 * Parsing never trusts the text: anything malformed returns false (the caller treats the
 * checkpoint as missing, which is always safe: recovery then scans more).
 *
 * May depend on: base.h. */
#ifndef LOG_CHECKPOINT_H
#define LOG_CHECKPOINT_H

#include "../base.h"

#define CHECKPOINT_VERSION 0
#define CHECKPOINT_TOPIC_MAX 250u /* Kafka's longest topic name is 249 characters. */

struct epoch_entry {
    i32 epoch;
    i64 start_offset;
};

/* Writes a one-entry offset checkpoint; returns its size (0 if it does not fit). */
WARN_UNUSED u32 checkpoint_offset_encode(char *buffer, u32 capacity, const char *topic,
                                         i32 partition, i64 offset);
/* Finds topic/partition's offset in an offset checkpoint; false if malformed or absent. */
WARN_UNUSED bool checkpoint_offset_parse(const char *text, u32 size, const char *topic,
                                         i32 partition, i64 *offset);

WARN_UNUSED u32 checkpoint_epochs_encode(char *buffer, u32 capacity,
                                         const struct epoch_entry *entries, u32 count);
/* Parses a leader epoch checkpoint into entries (at most capacity); false if malformed, not
 * increasing, or too long. */
WARN_UNUSED bool checkpoint_epochs_parse(const char *text, u32 size, struct epoch_entry *entries,
                                         u32 capacity, u32 *count);

#endif
