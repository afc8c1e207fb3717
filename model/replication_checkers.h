/* replication_checkers.h: the checkers of partition replication (model/replication_checkers.c),
 * as entries of the one checker table model_checkers[] (defined in quorum_checkers.c, which
 * appends REPLICATION_CHECKER_ENTRIES to its own), and two facts about a history that the Kafka
 * checkers (kafka_checkers.c) use to decide whether a lost record is explained.
 *
 * They judge the HISTORY_REPLICA_* facts brokers report about their partition logs, with the
 * metadata (HISTORY_METADATA_*) and the simulator's crash faults.
 *
 * May depend on: history.h. */
#ifndef REPLICATION_CHECKERS_H
#define REPLICATION_CHECKERS_H

#include "history.h"

void replication_check_committed_agree(const struct history *history,
                                       const struct check_params *params,
                                       struct check_outcome *outcome);
void replication_check_committed_kept(const struct history *history,
                                      const struct check_params *params,
                                      struct check_outcome *outcome);
void replication_check_hw_monotonic(const struct history *history,
                                    const struct check_params *params,
                                    struct check_outcome *outcome);
void replication_check_isr_converges(const struct history *history,
                                     const struct check_params *params,
                                     struct check_outcome *outcome);

/* True when an unclean election happened: an unclean.leader.election.enable override was turned
 * on (HISTORY_METADATA_UNCLEAN), or the metadata elected a leader that was not in the ISR just
 * before. *event is where it was first seen. */
bool replication_history_unclean(const struct history *history, u32 *event);

/* Bit p set: at some moment every replica of a partition with index p (< 64; of any topic)
 * was crashed at once, as the metadata's replica sets and the crash faults tell. */
u64 replication_history_all_down(const struct history *history);

/* Bit p set: some committed batches of a partition with index p (< 64; of any topic) were
 * lost by every replica that held them, in crashes while flush.messages is not 1. */
u64 replication_history_lost_everywhere(const struct history *history);
/* Bit p: a replica of partition index p still in the ISR lost committed batches in a crash after
 * every ISR member crashed or was fenced (flush.messages not 1; Kafka keeps its last ISR
 * members, KIP-841). */
u64 replication_history_sole_isr_lost(const struct history *history);

#define REPLICATION_CHECKER_ENTRIES                                                           \
    {"replica-committed-agree", "Below a high watermark a leader announced, every replica "    \
     "holds the same batch (epoch, CRC, last offset) at each offset, and never copies or "     \
     "commits another there.", replication_check_committed_agree},                            \
    {"replica-committed-kept", "No replica cuts a committed batch from its log (truncation, "  \
     "or a crash of a broker that flushes every message); losses an unclean election or "      \
     "page-cache crashes of every holder explain are labelled.",                              \
     replication_check_committed_kept},                                                       \
    {"replica-hw-monotonic", "A leader's high watermark never decreases within its leader "    \
     "epoch, nor passes its log end; a follower's never exceeds what a leader announced.",     \
     replication_check_hw_monotonic},                                                         \
    {"replica-isr-converges", "After the faults heal, within the liveness bound every "        \
     "partition's ISR holds every live replica again, and so it stays to the end.",           \
     replication_check_isr_converges}

#endif
