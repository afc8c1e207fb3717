/* kafka_checkers.c: the invariants of the Kafka data path, judged from what clients reported.
 *
 * Producers report SEND (operation, partition, value checksum), then ACKED (offset), FAILED or
 * UNKNOWN; consumers report READ (partition, offset, checksum) and REREAD when they start a
 * partition again from its earliest offset (a new connection, an offset out of range). The
 * simulator reports each broker's durability settings (KAFKA_BROKER_CONFIG) and its crashes.
 *
 * A fact's crash generation is the number of crash faults recorded before its client's
 * connection was established (KAFKA_CONNECTED): an answer still in flight when the broker
 * crashed belongs to the life that sent it, though it arrives after the crash. A broker whose
 * log.flush.interval.messages is not 1 and whose partitions have no replica acknowledges
 * records that live only in its page cache; a crash loses them and later records reuse their
 * offsets. That loss is the documented consequence of Kafka's default flush policy, so the
 * checkers report it (passed, with a message saying how many records and why) instead of
 * failing; with flush every message, or without a crash in between, the same facts fail.
 *
 * Duplicates (kafka-no-duplicates, catalog I3): a producer that resends a value whose outcome
 * it does not know (RETRIED) may find the first attempt in the log too. Without idempotence
 * that is Kafka's at-least-once (labelled); an idempotent producer's SENDs carry
 * HISTORY_KAFKA_IDEMPOTENT, and its leaders must recognise the resent batch (producer id,
 * epoch, sequence) and write it once, answering with the first write's offset, so a second
 * copy fails the run, as it does kafka-acked-durable.
 *
 * Tested by tests/unit/test_model_kafka.c (crafted histories: each checker passes and fails). */
#include "kafka_checkers.h"
#include "replication_checkers.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kafka_fact {
    u64 partition;
    u64 offset;
    u64 checksum;
    u64 generation; /* Crashes before the client's connection it came over. */
    u64 crashes;    /* Crashes anywhere before it (with replicas, another broker's crash may be
                     * what a leader now serving it lost). */
    u32 node;
    u32 index;      /* History event index. */
};

#define KAFKA_CLIENTS_MAX 256u

/* The generation of each client's current connection, by client (node) id. */
struct kafka_generations {
    u32 node[KAFKA_CLIENTS_MAX];
    u64 generation[KAFKA_CLIENTS_MAX];
    u32 count;
};

static u64 *kafka_generation_slot(struct kafka_generations *table, u32 node)
{
    for (u32 i = 0; i < table->count; i++) {
        if (table->node[i] == node) return &table->generation[i];
    }
    ASSERT(table->count < KAFKA_CLIENTS_MAX);
    table->node[table->count] = node;
    table->generation[table->count] = 0;
    return &table->generation[table->count++];
}

/* What the brokers and producers were configured with, and what happened to the cluster,
 * as far as a lost acknowledged record is concerned. */
struct kafka_durability {
    bool any_broker;
    bool flush_all;     /* Every broker syncs every message (log.flush.interval.messages=1). */
    u64 replicas;       /* Replicas per partition (the smallest any broker reported). */
    u64 min_insync;     /* min.insync.replicas (the smallest any broker reported). */
    bool acks_leader;   /* Some record was sent with acks=1. */
    bool unclean;       /* An unclean election happened (model/replication_checkers.c). */
    u64 all_down;       /* Bit p: every replica of partition p was crashed at once. */
    u64 lost_everywhere; /* Bit p: every replica holding some of p's records lost them. */
    u64 sole_isr_lost;   /* Bit p: p's only in-sync replica lost some of them in a crash. */
};

static void kafka_durability_read(const struct history *history, struct kafka_durability *d)
{
    memset(d, 0, sizeof(*d));
    d->flush_all = true;
    d->replicas = UINT64_MAX;
    d->min_insync = UINT64_MAX;
    for (u32 i = 0; i < history->count; i++) {
        const struct history_event *event = &history->events[i];
        if (event->kind == HISTORY_KAFKA_BROKER_CONFIG) {
            d->any_broker = true;
            d->flush_all = d->flush_all && event->a == 1;
            d->replicas = MIN(d->replicas, event->b);
            d->min_insync = MIN(d->min_insync, event->d);
        }
        if (event->kind == HISTORY_KAFKA_SEND && (event->d & HISTORY_KAFKA_ACKS_LEADER) != 0) {
            d->acks_leader = true;
        }
    }
    if (!d->any_broker) d->flush_all = false;
    u32 unclean_event = 0;
    d->unclean = replication_history_unclean(history, &unclean_event);
    d->all_down = replication_history_all_down(history);
    d->lost_everywhere = replication_history_lost_everywhere(history);
    d->sole_isr_lost = replication_history_sole_isr_lost(history);
}

/* Why a crash may lose an acknowledged record of the partition (the end of a sentence starting
 * "because"), or NULL when the configuration promises it survives. */
static const char *kafka_loss_reason(const struct kafka_durability *d, u64 partition)
{
    if (!d->any_broker) return NULL;
    if (d->replicas <= 1) {
        return d->flush_all ? NULL : "flush.messages is not 1 and there is no replica";
    }
    if (d->unclean) {
        return "an unclean leader election made a replica outside the ISR the leader";
    }
    if (d->acks_leader) {
        return "the producer used acks=1: the leader acknowledged before any follower copied "
               "the record";
    }
    if (partition < 64 && ((d->lost_everywhere >> partition) & 1)) {
        return "every replica holding the records lost them, in crashes while flush.messages is "
               "not 1 or to corrupted disks (replica-committed-kept tells when)";
    }
    if (partition < 64 && ((d->sole_isr_lost >> partition) & 1)) {
        return "every in-sync replica crashed or was fenced and one that lost them (flush.messages "
               "is not 1, or a corrupted disk) stayed in the ISR and led: Kafka keeps its last ISR "
               "members eligible (KIP-841)";
    }
    if (d->flush_all) return NULL;
    if (d->min_insync <= 1) {
        return "min.insync.replicas is 1 and flush.messages is not 1: the ISR may shrink to the "
               "leader alone, whose crash loses its page cache";
    }
    if (partition < 64 && ((d->all_down >> partition) & 1)) {
        return "every replica of the partition crashed at once and flush.messages is not 1: "
               "the records lived in page caches only";
    }
    return NULL;
}

void kafka_history_loss_reasons(const struct history *history, const char **reasons, u32 count)
{
    struct kafka_durability durability;
    kafka_durability_read(history, &durability);
    for (u32 p = 0; p < count; p++) reasons[p] = kafka_loss_reason(&durability, p);
}

/* Whether a crash may explain the change between two facts. Without replicas a broker's
 * answers on a connection come from the process that accepted it, so the client's connection
 * dates them. With replicas a crash may doom a batch long before it shows: a replica that lost
 * it in a crash is elected later (after a pause or a partition fenced the ones holding it), and
 * the reason (kafka_loss_reason, from the replica checkers' per-partition findings) is what
 * ties the change to that crash; so any crash before the later fact counts. */
static bool kafka_crash_between(const struct kafka_durability *d, const struct kafka_fact *a,
                                const struct kafka_fact *b)
{
    if (d->replicas >= 2 && d->replicas != UINT64_MAX) return MAX(a->crashes, b->crashes) > 0;
    return a->generation != b->generation;
}

/* The reason the run promised no loss, for failure messages. */
static const char *kafka_promise(const struct kafka_durability *d)
{
    if (d->flush_all) return " although every message is flushed";
    return " although acks=all with replicas and min.insync.replicas >= 2 promise it survives "
           "one broker's crash";
}

/* Collects the facts of one kind (READ or ACKED) with their crash generation. */
static struct kafka_fact *kafka_collect(const struct history *history, u32 kind, u32 *count)
{
    struct kafka_fact *facts = calloc(MAX(history->count, 1u), sizeof(*facts));
    ASSERT(facts != NULL);
    struct kafka_generations *table = calloc(1, sizeof(*table));
    ASSERT(table != NULL);
    u64 crashes = 0;
    *count = 0;
    for (u32 i = 0; i < history->count; i++) {
        const struct history_event *event = &history->events[i];
        /* A corrupted disk loses data as a crash does (its log is cut when next opened). */
        if (event->kind == HISTORY_FAULT && (event->a == HISTORY_FAULT_CRASH ||
                                             event->a == HISTORY_FAULT_DISK_CORRUPT)) {
            crashes++;
        }
        if (event->kind == HISTORY_KAFKA_CONNECTED) {
            *kafka_generation_slot(table, event->node) = crashes;
        }
        if (event->kind != kind) continue;
        struct kafka_fact *fact = &facts[(*count)++];
        bool read = kind == HISTORY_KAFKA_READ;
        fact->partition = read ? event->a : event->b;
        fact->offset = read ? event->b : event->c;
        fact->checksum = read ? event->c : event->d;
        fact->generation = *kafka_generation_slot(table, event->node);
        fact->crashes = crashes;
        fact->node = event->node;
        fact->index = i;
    }
    free(table);
    return facts;
}

static int kafka_u64_compare(const void *left, const void *right)
{
    u64 a = *(const u64 *)left, b = *(const u64 *)right;
    return a < b ? -1 : a > b;
}

void kafka_check_no_phantom_reads(const struct history *history, const struct check_params *params,
                                  struct check_outcome *outcome)
{
    (void)params;
    u64 *sent = calloc(MAX(history->count, 1u), sizeof(*sent));
    ASSERT(sent != NULL);
    u32 sent_count = 0, reads = 0;
    outcome->passed = true;
    for (u32 i = 0; i < history->count; i++) {
        const struct history_event *event = &history->events[i];
        if (event->kind == HISTORY_KAFKA_SEND) sent[sent_count++] = event->c;
    }
    qsort(sent, sent_count, sizeof(*sent), kafka_u64_compare);
    for (u32 i = 0; i < history->count && outcome->passed; i++) {
        const struct history_event *event = &history->events[i];
        if (event->kind != HISTORY_KAFKA_READ) continue;
        reads++;
        if (bsearch(&event->c, sent, sent_count, sizeof(*sent), kafka_u64_compare) != NULL) {
            continue;
        }
        outcome->passed = false;
        outcome->event_index = i;
        snprintf(outcome->message, sizeof(outcome->message),
                 "consumer %u read partition %" PRIu64 " offset %" PRIu64 " holding a record "
                 "(checksum %016" PRIx64 ") that no producer ever sent", event->node, event->a,
                 event->b, event->c);
    }
    if (outcome->passed) {
        snprintf(outcome->message, sizeof(outcome->message),
                 "%u reads, every one of a record some producer sent (%u sends)", reads,
                 sent_count);
    }
    free(sent);
}

static int kafka_fact_by_offset(const void *left, const void *right)
{
    const struct kafka_fact *a = left, *b = right;
    if (a->partition != b->partition) return a->partition < b->partition ? -1 : 1;
    if (a->offset != b->offset) return a->offset < b->offset ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

void kafka_check_offset_unique(const struct history *history, const struct check_params *params,
                               struct check_outcome *outcome)
{
    (void)params;
    u32 count = 0;
    struct kafka_fact *reads = kafka_collect(history, HISTORY_KAFKA_READ, &count);
    qsort(reads, count, sizeof(*reads), kafka_fact_by_offset);
    struct kafka_durability durability;
    kafka_durability_read(history, &durability);
    const char *labelled = NULL;
    u32 reused = 0;
    outcome->passed = true;
    for (u32 i = 1; i < count && outcome->passed; i++) {
        const struct kafka_fact *a = &reads[i - 1], *b = &reads[i];
        if (a->partition != b->partition || a->offset != b->offset) continue;
        if (a->checksum == b->checksum) continue;
        const char *reason = kafka_loss_reason(&durability, b->partition);
        bool crash_between = kafka_crash_between(&durability, a, b);
        if (reason != NULL && crash_between) {
            if (labelled == NULL) labelled = reason;
            reused++;
            continue;
        }
        outcome->passed = false;
        outcome->event_index = b->index;
        snprintf(outcome->message, sizeof(outcome->message),
                 "partition %" PRIu64 " offset %" PRIu64 " was read holding two different records "
                 "(checksums %016" PRIx64 " at event %u and %016" PRIx64 ")%s", b->partition,
                 b->offset, a->checksum, a->index, b->checksum,
                 !crash_between ? " with no crash in between" : kafka_promise(&durability));
    }
    if (outcome->passed && reused > 0) {
        snprintf(outcome->message, sizeof(outcome->message),
                 "LABELLED CONSEQUENCE: %u offsets were read again holding another record after "
                 "a broker crash, because %s: the crash lost records and the log reused their "
                 "offsets", reused, labelled);
    } else if (outcome->passed) {
        snprintf(outcome->message, sizeof(outcome->message),
                 "%u reads; no offset held two different records", count);
    }
    free(reads);
}

static int kafka_fact_by_producer(const void *left, const void *right)
{
    const struct kafka_fact *a = left, *b = right;
    if (a->node != b->node) return a->node < b->node ? -1 : 1;
    if (a->partition != b->partition) return a->partition < b->partition ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

void kafka_check_order(const struct history *history, const struct check_params *params,
                       struct check_outcome *outcome)
{
    (void)params;
    u32 count = 0;
    struct kafka_fact *acks = kafka_collect(history, HISTORY_KAFKA_ACKED, &count);
    qsort(acks, count, sizeof(*acks), kafka_fact_by_producer);
    struct kafka_durability durability;
    kafka_durability_read(history, &durability);
    const char *labelled = NULL;
    u32 reordered = 0;
    outcome->passed = true;
    for (u32 i = 1; i < count && outcome->passed; i++) {
        const struct kafka_fact *a = &acks[i - 1], *b = &acks[i];
        if (a->node != b->node || a->partition != b->partition) continue;
        if (b->offset > a->offset) continue;
        const char *reason = kafka_loss_reason(&durability, b->partition);
        bool crash_between = kafka_crash_between(&durability, a, b);
        if (reason != NULL && crash_between) {
            if (labelled == NULL) labelled = reason;
            reordered++;
            continue;
        }
        outcome->passed = false;
        outcome->event_index = b->index;
        snprintf(outcome->message, sizeof(outcome->message),
                 "producer %u, partition %" PRIu64 ": a record sent later was acknowledged at "
                 "offset %" PRIu64 ", not after the earlier one's offset %" PRIu64 " (event %u)",
                 b->node, b->partition, b->offset, a->offset, a->index);
    }
    if (outcome->passed && reordered > 0) {
        snprintf(outcome->message, sizeof(outcome->message),
                 "LABELLED CONSEQUENCE: %u acknowledgements went back in offset order after a "
                 "broker crash, because %s: the crash lost acknowledged records and the log "
                 "reused their offsets", reordered, labelled);
    } else if (outcome->passed) {
        snprintf(outcome->message, sizeof(outcome->message),
                 "%u acknowledgements, in send order per producer and partition", count);
    }
    free(acks);
}

static int kafka_fact_by_checksum(const void *left, const void *right)
{
    const struct kafka_fact *a = left, *b = right;
    if (a->node != b->node) return a->node < b->node ? -1 : 1;
    if (a->partition != b->partition) return a->partition < b->partition ? -1 : 1;
    if (a->checksum != b->checksum) return a->checksum < b->checksum ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Each consumer's last pass over each partition: its reads after its last REREAD of it. */
static struct kafka_fact *kafka_final_reads(const struct history *history, u32 *count)
{
    u32 all = 0;
    struct kafka_fact *reads = kafka_collect(history, HISTORY_KAFKA_READ, &all);
    *count = 0;
    for (u32 i = 0; i < all; i++) {
        bool later_reread = false;
        for (u32 k = reads[i].index + 1; k < history->count && !later_reread; k++) {
            const struct history_event *event = &history->events[k];
            later_reread = event->kind == HISTORY_KAFKA_REREAD && event->node == reads[i].node &&
                           event->a == reads[i].partition;
        }
        if (!later_reread) reads[(*count)++] = reads[i];
    }
    qsort(reads, *count, sizeof(*reads), kafka_fact_by_checksum);
    return reads;
}

/* How a consumer's last pass holds an acknowledged record: 0 = not at all, 1 = once at its
 * offset, 2 = elsewhere or more than once. */
static u32 kafka_read_back(const struct kafka_fact *reads, u32 count, u32 consumer,
                           const struct kafka_fact *ack)
{
    struct kafka_fact key = {.node = consumer, .partition = ack->partition,
                             .checksum = ack->checksum, .index = 0};
    u32 low = 0, high = count;
    while (low < high) { /* The first read not below key. */
        u32 middle = low + (high - low) / 2;
        if (kafka_fact_by_checksum(&reads[middle], &key) < 0) low = middle + 1;
        else high = middle;
    }
    u32 matches = 0;
    bool at_offset = false;
    for (u32 i = low; i < count && reads[i].node == consumer &&
                      reads[i].partition == ack->partition && reads[i].checksum == ack->checksum;
         i++) {
        if (matches > 0 && reads[i].offset == reads[i - 1].offset) continue; /* Re-fetched. */
        matches++;
        at_offset = reads[i].offset == ack->offset;
    }
    if (matches == 0) return 0;
    return matches == 1 && at_offset ? 1 : 2;
}

/* lost records of acked, the first of them first_lost; unexplained the first whose partition
 * the configuration promised to keep (NULL: every loss is explained, by reason). */
static void kafka_durable_verdict(const struct history *history, u32 lost, u32 acked,
                                  const struct kafka_fact *first_lost,
                                  const struct kafka_fact *unexplained, const char *reason,
                                  const struct kafka_durability *durability, bool duplicates,
                                  struct check_outcome *outcome)
{
    u32 crashes = 0;
    for (u32 i = 0; i < history->count; i++) {
        const struct history_event *event = &history->events[i];
        crashes += event->kind == HISTORY_FAULT && event->a == HISTORY_FAULT_CRASH;
    }
    if (lost == 0) {
        outcome->passed = true;
        snprintf(outcome->message, sizeof(outcome->message),
                 "all %u acknowledged records were read back %sat their offsets "
                 "(%u broker crashes)", acked, duplicates ? "" : "exactly once ", crashes);
    } else if (unexplained == NULL && crashes > 0) {
        outcome->passed = true;
        outcome->event_index = first_lost->index;
        snprintf(outcome->message, sizeof(outcome->message),
                 "LABELLED CONSEQUENCE: %u of %u acknowledged records were lost in %u broker "
                 "crashes (first: producer %u, partition %" PRIu64 ", offset %" PRIu64 "), "
                 "because %s", lost, acked, crashes, first_lost->node, first_lost->partition,
                 first_lost->offset, reason);
    } else {
        const struct kafka_fact *first = unexplained != NULL ? unexplained : first_lost;
        outcome->passed = false;
        outcome->event_index = first->index;
        snprintf(outcome->message, sizeof(outcome->message),
                 "%u of %u acknowledged records were not read back by the end of the run (first "
                 "unexplained: producer %u, partition %" PRIu64 ", offset %" PRIu64 ")%s", lost,
                 acked, first->node, first->partition, first->offset,
                 crashes == 0 ? " with no crash at all" : kafka_promise(durability));
    }
}

/* True when the producer sent the acknowledged record's operation again after an answer that
 * does not prove the first attempt missed the log (HISTORY_KAFKA_RETRIED), without
 * idempotence: an idempotent producer's retry is the same batch, which its leader must
 * write once. */
static bool kafka_retried(const struct history *history, const struct kafka_fact *ack)
{
    const struct history_event *acked = &history->events[ack->index];
    bool retried = false;
    for (u32 i = 0; i < ack->index; i++) {
        const struct history_event *event = &history->events[i];
        if (event->node != acked->node || event->a != acked->a) continue;
        if (event->kind == HISTORY_KAFKA_SEND && (event->d & HISTORY_KAFKA_IDEMPOTENT) != 0) {
            return false;
        }
        retried = retried || event->kind == HISTORY_KAFKA_RETRIED;
    }
    return retried;
}

/* True when the consumer read the acknowledged record at its offset (among other places). */
static bool kafka_read_at_offset(const struct kafka_fact *reads, u32 count, u32 consumer,
                                 const struct kafka_fact *ack)
{
    for (u32 i = 0; i < count; i++) {
        if (reads[i].node == consumer && reads[i].partition == ack->partition &&
            reads[i].checksum == ack->checksum && reads[i].offset == ack->offset) {
            return true;
        }
    }
    return false;
}

void kafka_check_acked_durable(const struct history *history, const struct check_params *params,
                               struct check_outcome *outcome)
{
    (void)params;
    u32 read_count = 0, ack_count = 0, lost = 0, duplicated = 0;
    struct kafka_fact *reads = kafka_final_reads(history, &read_count);
    struct kafka_fact *acks = kafka_collect(history, HISTORY_KAFKA_ACKED, &ack_count);
    const struct kafka_fact *first_lost = NULL, *unexplained = NULL;
    const char *reason = NULL;
    struct kafka_durability durability;
    kafka_durability_read(history, &durability);
    outcome->passed = true;
    for (u32 i = 0; i < ack_count && outcome->passed; i++) {
        u32 best = 0;
        for (u32 r = 0; r < read_count; r++) { /* Each consumer once: reads sort by node. */
            if (r > 0 && reads[r].node == reads[r - 1].node) continue;
            u32 verdict = kafka_read_back(reads, read_count, reads[r].node, &acks[i]);
            if (verdict == 2 && kafka_read_at_offset(reads, read_count, reads[r].node, &acks[i]) &&
                kafka_retried(history, &acks[i])) {
                duplicated++; /* At least once: the retry's twin is in the log too. */
                verdict = 1;
            }
            if (verdict == 2) {
                outcome->passed = false;
                outcome->event_index = acks[i].index;
                snprintf(outcome->message, sizeof(outcome->message),
                         "the record producer %u had acknowledged at partition %" PRIu64
                         " offset %" PRIu64 " was read back by consumer %u at another offset or "
                         "more than once", acks[i].node, acks[i].partition, acks[i].offset,
                         reads[r].node);
                break;
            }
            best = MAX(best, verdict);
        }
        if (best == 0 && outcome->passed) {
            lost++;
            if (first_lost == NULL) first_lost = &acks[i];
            const char *why = kafka_loss_reason(&durability, acks[i].partition);
            if (why == NULL && unexplained == NULL) unexplained = &acks[i];
            if (why != NULL && reason == NULL) reason = why;
        }
    }
    if (outcome->passed && read_count == 0 && ack_count > 0) {
        snprintf(outcome->message, sizeof(outcome->message),
                 "no consumer read anything: %u acknowledged records unconfirmed", ack_count);
        outcome->passed = false;
        outcome->event_index = acks[0].index;
    } else if (outcome->passed) {
        kafka_durable_verdict(history, lost, ack_count, first_lost, unexplained, reason,
                              &durability, duplicated > 0, outcome);
        size_t used = strlen(outcome->message);
        if (outcome->passed && duplicated > 0 && used < sizeof(outcome->message)) {
            snprintf(outcome->message + used, sizeof(outcome->message) - used,
                     "; LABELLED CONSEQUENCE: %u of them were also read at a second offset, "
                     "because the producer retried without enable.idempotence after an answer "
                     "that does not prove the first attempt missed the log (a timeout, a lost "
                     "connection, or NOT_LEADER_OR_FOLLOWER from a leader deposed while the "
                     "append waited for its followers): at least once", duplicated);
        }
    }
    free(acks);
    free(reads);
}

/* ===== Duplicates (catalog I3) ===== */

/* What the history says of one sent value. */
struct kafka_send_fact {
    u64 checksum;
    u64 operation;
    u32 node;
    bool idempotent;
    bool retried;
};

static int kafka_send_by_checksum(const void *left, const void *right)
{
    const struct kafka_send_fact *a = left, *b = right;
    if (a->checksum != b->checksum) return a->checksum < b->checksum ? -1 : 1;
    if (a->node != b->node) return a->node < b->node ? -1 : 1;
    return a->operation < b->operation ? -1 : a->operation > b->operation;
}

struct kafka_operation_key {
    u32 node;
    u64 operation;
};

static int kafka_operation_compare(const void *left, const void *right)
{
    const struct kafka_operation_key *a = left, *b = right;
    if (a->node != b->node) return a->node < b->node ? -1 : 1;
    return a->operation < b->operation ? -1 : a->operation > b->operation;
}

/* Every SEND, sorted by checksum, each marked retried when its producer reported RETRIED for
 * its operation. */
static struct kafka_send_fact *kafka_sends(const struct history *history, u32 *count)
{
    struct kafka_send_fact *sends = calloc(MAX(history->count, 1u), sizeof(*sends));
    struct kafka_operation_key *retried = calloc(MAX(history->count, 1u), sizeof(*retried));
    ASSERT(sends != NULL && retried != NULL);
    u32 retried_count = 0;
    *count = 0;
    for (u32 i = 0; i < history->count; i++) {
        const struct history_event *event = &history->events[i];
        if (event->kind == HISTORY_KAFKA_SEND) {
            sends[(*count)++] = (struct kafka_send_fact){
                .checksum = event->c, .operation = event->a, .node = event->node,
                .idempotent = (event->d & HISTORY_KAFKA_IDEMPOTENT) != 0};
        } else if (event->kind == HISTORY_KAFKA_RETRIED) {
            retried[retried_count++] = (struct kafka_operation_key){event->node, event->a};
        }
    }
    qsort(retried, retried_count, sizeof(*retried), kafka_operation_compare);
    for (u32 i = 0; i < *count; i++) {
        struct kafka_operation_key key = {sends[i].node, sends[i].operation};
        sends[i].retried = bsearch(&key, retried, retried_count, sizeof(*retried),
                                   kafka_operation_compare) != NULL;
    }
    qsort(sends, *count, sizeof(*sends), kafka_send_by_checksum);
    free(retried);
    return sends;
}

static const struct kafka_send_fact *kafka_send_find(const struct kafka_send_fact *sends,
                                                     u32 count, u64 checksum)
{
    u32 low = 0, high = count;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        if (sends[middle].checksum < checksum) low = middle + 1;
        else high = middle;
    }
    return low < count && sends[low].checksum == checksum ? &sends[low] : NULL;
}

/* A value some consumer's last pass over its partition read at two offsets. */
struct kafka_duplicate {
    u64 partition;
    u64 checksum;
    u64 first_offset;
    u64 second_offset;
    u32 index; /* The history event of the read at the second offset. */
};

static int kafka_duplicate_compare(const void *left, const void *right)
{
    const struct kafka_duplicate *a = left, *b = right;
    if (a->partition != b->partition) return a->partition < b->partition ? -1 : 1;
    if (a->checksum != b->checksum) return a->checksum < b->checksum ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* The values read at two offsets, each once (the earliest such read of any consumer), in
 * (partition, checksum) order. The last pass of each consumer (kafka_final_reads) stands for
 * the partition's final log, as kafka-acked-durable judges it. */
static struct kafka_duplicate *kafka_duplicates(const struct history *history, u32 *count)
{
    u32 read_count = 0;
    struct kafka_fact *reads = kafka_final_reads(history, &read_count);
    struct kafka_duplicate *found = calloc(MAX(read_count, 1u), sizeof(*found));
    ASSERT(found != NULL);
    u32 found_count = 0;
    for (u32 start = 0; start < read_count;) {
        u32 end = start + 1;
        while (end < read_count && reads[end].node == reads[start].node &&
               reads[end].partition == reads[start].partition &&
               reads[end].checksum == reads[start].checksum) {
            end++;
        }
        /* Reads sort by event index within the group: the first at another offset than the
         * first read is the second copy (a re-fetch of one offset is no copy). */
        for (u32 i = start + 1; i < end; i++) {
            if (reads[i].offset == reads[start].offset) continue;
            found[found_count++] = (struct kafka_duplicate){
                .partition = reads[start].partition, .checksum = reads[start].checksum,
                .first_offset = MIN(reads[start].offset, reads[i].offset),
                .second_offset = MAX(reads[start].offset, reads[i].offset),
                .index = reads[i].index};
            break;
        }
        start = end;
    }
    qsort(found, found_count, sizeof(*found), kafka_duplicate_compare);
    u32 unique = 0;
    for (u32 i = 0; i < found_count; i++) {
        if (unique > 0 && found[unique - 1].partition == found[i].partition &&
            found[unique - 1].checksum == found[i].checksum) {
            continue;
        }
        found[unique++] = found[i];
    }
    free(reads);
    *count = unique;
    return found;
}

/* True when the topic named by a METADATA_TOPIC event is an internal one (__consumer_offsets):
 * its appends are not the workload's. */
static bool kafka_internal_topic(const struct history *history, u64 topic_hash)
{
    for (u32 i = 0; i < history->count; i++) {
        const struct history_event *event = &history->events[i];
        if (event->kind != HISTORY_METADATA_TOPIC || event->c != topic_hash) continue;
        return event->data_size >= 2 && history->data[event->data_offset] == '_' &&
               history->data[event->data_offset + 1] == '_';
    }
    return false;
}

/* True when no leader wrote a batch holding offset of partition between the events after and
 * before: the leader answered the retry with what it had written earlier. */
static bool kafka_no_leader_append(const struct history *history, u64 partition, u64 offset,
                                   u32 after, u32 before)
{
    for (u32 i = after + 1; i < before; i++) {
        const struct history_event *event = &history->events[i];
        if (event->kind != HISTORY_REPLICA_APPENDED || event->b != partition) continue;
        if (offset < event->c || offset > event->d) continue;
        struct history_replica_batch batch;
        if (event->data_size != sizeof(batch)) continue;
        memcpy(&batch, history->data + event->data_offset, sizeof(batch));
        if (batch.role != HISTORY_REPLICA_LEADER) continue;
        if (kafka_internal_topic(history, event->a)) continue;
        return false;
    }
    return true;
}

void kafka_history_retry_counts(const struct history *history, struct kafka_retry_counts *counts)
{
    memset(counts, 0, sizeof(*counts));
    u32 send_count = 0;
    struct kafka_send_fact *sends = kafka_sends(history, &send_count);
    for (u32 i = 0; i < send_count; i++) {
        counts->retried += sends[i].retried;
        counts->retried_idempotent += sends[i].retried && sends[i].idempotent;
    }
    /* Per idempotent retried operation: its last RETRIED, then its ACKED. */
    for (u32 k = 0; k < history->count; k++) {
        const struct history_event *acked = &history->events[k];
        if (acked->kind != HISTORY_KAFKA_ACKED) continue;
        const struct kafka_send_fact *send = kafka_send_find(sends, send_count, acked->d);
        if (send == NULL || !send->idempotent || !send->retried) continue;
        u32 last_retry = UINT32_MAX;
        for (u32 i = k; i-- > 0;) {
            const struct history_event *event = &history->events[i];
            if (event->kind == HISTORY_KAFKA_RETRIED && event->node == acked->node &&
                event->a == acked->a) {
                last_retry = i;
                break;
            }
        }
        if (last_retry == UINT32_MAX) continue;
        if (kafka_no_leader_append(history, acked->b, acked->c, last_retry, k)) {
            counts->deduplicated++;
        }
    }
    u32 duplicate_count = 0;
    free(kafka_duplicates(history, &duplicate_count));
    counts->duplicated = duplicate_count;
    u32 seen[KAFKA_CLIENTS_MAX];
    u32 seen_count = 0;
    for (u32 i = 0; i < history->count; i++) {
        const struct history_event *event = &history->events[i];
        if (event->kind != HISTORY_KAFKA_PRODUCER_ID) continue;
        bool again = false;
        for (u32 s = 0; s < seen_count && !again; s++) again = seen[s] == event->node;
        if (again) counts->new_producer_ids++;
        else if (seen_count < KAFKA_CLIENTS_MAX) seen[seen_count++] = event->node;
    }
    free(sends);
}

void kafka_check_no_duplicates(const struct history *history, const struct check_params *params,
                               struct check_outcome *outcome)
{
    (void)params;
    u32 send_count = 0, duplicate_count = 0, labelled = 0;
    struct kafka_send_fact *sends = kafka_sends(history, &send_count);
    struct kafka_duplicate *duplicates = kafka_duplicates(history, &duplicate_count);
    outcome->passed = true;
    for (u32 i = 0; i < duplicate_count && outcome->passed; i++) {
        const struct kafka_duplicate *twice = &duplicates[i];
        const struct kafka_send_fact *send = kafka_send_find(sends, send_count, twice->checksum);
        if (send != NULL && !send->idempotent && send->retried) {
            labelled++; /* At least once: the retry's twin is in the log too. */
            continue;
        }
        outcome->passed = false;
        outcome->event_index = twice->index;
        int written = snprintf(outcome->message, sizeof(outcome->message),
                               "partition %" PRIu64 " holds one value (checksum %016" PRIx64
                               ") at offsets %" PRIu64 " and %" PRIu64 ": ", twice->partition,
                               twice->checksum, twice->first_offset, twice->second_offset);
        ASSERT(written > 0 && (u32)written < sizeof(outcome->message));
        char *rest = outcome->message + written;
        u32 room = (u32)sizeof(outcome->message) - (u32)written;
        if (send == NULL) {
            snprintf(rest, room, "no producer ever sent it");
        } else if (send->idempotent) {
            snprintf(rest, room, "producer %u (operation %" PRIu64 ") is idempotent, so its "
                     "leaders must have written its %s batch once", send->node, send->operation,
                     send->retried ? "retried" : "(never retried)");
        } else {
            snprintf(rest, room, "producer %u sent it once (operation %" PRIu64 ") and never "
                     "retried it", send->node, send->operation);
        }
    }
    if (outcome->passed) {
        struct kafka_retry_counts counts;
        kafka_history_retry_counts(history, &counts);
        if (labelled > 0) {
            snprintf(outcome->message, sizeof(outcome->message),
                     "LABELLED CONSEQUENCE: %u records written twice because their producers "
                     "retried without enable.idempotence (at least once); %u sends retried",
                     labelled, counts.retried);
        } else {
            snprintf(outcome->message, sizeof(outcome->message),
                     "no value read at two offsets; %u sends retried (%u by idempotent "
                     "producers, %u of those acknowledged with the offset their leader had "
                     "written before the retry: deduplicated)", counts.retried,
                     counts.retried_idempotent, counts.deduplicated);
        }
    }
    free(duplicates);
    free(sends);
}
