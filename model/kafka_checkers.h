/* kafka_checkers.h: the checkers of the Kafka data path (model/kafka_checkers.c), as entries of
 * the one checker table model_checkers[] (defined in quorum_checkers.c, which appends
 * KAFKA_CHECKER_ENTRIES to its own).
 *
 * May depend on: history.h. */
#ifndef KAFKA_CHECKERS_H
#define KAFKA_CHECKERS_H

#include "history.h"

void kafka_check_no_phantom_reads(const struct history *history, const struct check_params *params,
                                  struct check_outcome *outcome);
void kafka_check_offset_unique(const struct history *history, const struct check_params *params,
                               struct check_outcome *outcome);
void kafka_check_order(const struct history *history, const struct check_params *params,
                       struct check_outcome *outcome);
void kafka_check_acked_durable(const struct history *history, const struct check_params *params,
                               struct check_outcome *outcome);

/* kafka-no-duplicates (catalog I3): no value is at two offsets of a partition in a consumer's
 * last pass over it; a value of a producer without idempotence that retried it is labelled. */
void kafka_check_no_duplicates(const struct history *history, const struct check_params *params,
                               struct check_outcome *outcome);

/* What retries did in a run, for reports. */
struct kafka_retry_counts {
    u32 retried;            /* Sends resent at least once (HISTORY_KAFKA_RETRIED). */
    u32 retried_idempotent; /* Of those, by idempotent producers. */
    u32 deduplicated;       /* Idempotent retries acknowledged at an offset no leader wrote after
                             * the retry: the leader recognised the batch and wrote nothing. */
    u32 new_producer_ids;   /* Producer ids an idempotent producer got after its first. */
    u32 duplicated;         /* Values read at two offsets of their partition. */
};

void kafka_history_retry_counts(const struct history *history, struct kafka_retry_counts *counts);

/* Why the history's configuration and faults may lose an acknowledged record of a partition
 * with index p < count (any topic; the end of a sentence starting "because"), or NULL when they
 * promise to keep it: the reasons kafka-acked-durable labels losses with, for the group
 * checkers (model/group_checkers.c). */
void kafka_history_loss_reasons(const struct history *history, const char **reasons, u32 count);

#define KAFKA_CHECKER_ENTRIES                                                                 \
    {"kafka-no-phantom-reads", "Every record a consumer read was sent by a producer.",          \
     kafka_check_no_phantom_reads},                                                           \
    {"kafka-offset-unique", "No offset of a partition is read with two different records "     \
     "(unless a crash of a broker that does not flush every message lost the first).",        \
     kafka_check_offset_unique},                                                              \
    {"kafka-order", "Per producer and partition, acknowledged records get increasing offsets "  \
     "in send order.", kafka_check_order},                                                    \
    {"kafka-acked-durable", "Every acknowledged record is read back exactly once, at its "      \
     "offset, by the end of the run; losses a lossy flush policy allows are labelled.",       \
     kafka_check_acked_durable},                                                              \
    {"kafka-no-duplicates", "No value is at two offsets of its partition (retries of a "       \
     "producer without idempotence are labelled: at least once).", kafka_check_no_duplicates}

#endif
