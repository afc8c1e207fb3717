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
 * Tested by tests/unit/test_model_kafka.c (crafted histories: each checker passes and fails). */
#include "kafka_checkers.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kafka_fact {
    u64 partition;
    u64 offset;
    u64 checksum;
    u64 generation; /* Crashes before it. */
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

/* True when some broker acknowledges without syncing every message and has no replica. */
static bool kafka_lossy_config(const struct history *history)
{
    for (u32 i = 0; i < history->count; i++) {
        const struct history_event *event = &history->events[i];
        if (event->kind == HISTORY_KAFKA_BROKER_CONFIG && event->a != 1 && event->b <= 1) {
            return true;
        }
    }
    return false;
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
        if (event->kind == HISTORY_FAULT && event->a == HISTORY_FAULT_CRASH) crashes++;
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
    bool lossy = kafka_lossy_config(history);
    u32 reused = 0;
    outcome->passed = true;
    for (u32 i = 1; i < count && outcome->passed; i++) {
        const struct kafka_fact *a = &reads[i - 1], *b = &reads[i];
        if (a->partition != b->partition || a->offset != b->offset) continue;
        if (a->checksum == b->checksum) continue;
        if (lossy && a->generation != b->generation) {
            reused++;
            continue;
        }
        outcome->passed = false;
        outcome->event_index = b->index;
        snprintf(outcome->message, sizeof(outcome->message),
                 "partition %" PRIu64 " offset %" PRIu64 " was read holding two different records "
                 "(checksums %016" PRIx64 " at event %u and %016" PRIx64 ")%s", b->partition,
                 b->offset, a->checksum, a->index, b->checksum,
                 a->generation == b->generation ? " with no crash in between"
                                                : " although every message is flushed");
    }
    if (outcome->passed && reused > 0) {
        snprintf(outcome->message, sizeof(outcome->message),
                 "LABELLED CONSEQUENCE: %u offsets were read again holding another record after "
                 "a broker crash, because flush.messages is not 1 and there is no replica: the "
                 "crash lost unsynced records and the log reused their offsets", reused);
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
    bool lossy = kafka_lossy_config(history);
    u32 reordered = 0;
    outcome->passed = true;
    for (u32 i = 1; i < count && outcome->passed; i++) {
        const struct kafka_fact *a = &acks[i - 1], *b = &acks[i];
        if (a->node != b->node || a->partition != b->partition) continue;
        if (b->offset > a->offset) continue;
        if (lossy && a->generation != b->generation) {
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
                 "broker crash, because flush.messages is not 1 and there is no replica: the "
                 "crash lost acknowledged records and the log reused their offsets", reordered);
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

static void kafka_durable_verdict(const struct history *history, u32 lost, u32 acked,
                                  const struct kafka_fact *first, struct check_outcome *outcome)
{
    u32 crashes = 0;
    for (u32 i = 0; i < history->count; i++) {
        const struct history_event *event = &history->events[i];
        crashes += event->kind == HISTORY_FAULT && event->a == HISTORY_FAULT_CRASH;
    }
    if (lost == 0) {
        outcome->passed = true;
        snprintf(outcome->message, sizeof(outcome->message),
                 "all %u acknowledged records were read back exactly once at their offsets "
                 "(%u broker crashes)", acked, crashes);
    } else if (kafka_lossy_config(history) && crashes > 0) {
        outcome->passed = true;
        outcome->event_index = first->index;
        snprintf(outcome->message, sizeof(outcome->message),
                 "LABELLED CONSEQUENCE: %u of %u acknowledged records were lost in %u broker "
                 "crashes (first: producer %u, partition %" PRIu64 ", offset %" PRIu64 "), "
                 "because flush.messages is not 1 and there is no replica: acks=all meant only "
                 "the page cache of one broker", lost, acked, crashes, first->node,
                 first->partition, first->offset);
    } else {
        outcome->passed = false;
        outcome->event_index = first->index;
        snprintf(outcome->message, sizeof(outcome->message),
                 "%u of %u acknowledged records were not read back by the end of the run (first: "
                 "producer %u, partition %" PRIu64 ", offset %" PRIu64 ")%s", lost, acked,
                 first->node, first->partition, first->offset,
                 crashes == 0 ? " with no crash at all" : " although every message is flushed");
    }
}

void kafka_check_acked_durable(const struct history *history, const struct check_params *params,
                               struct check_outcome *outcome)
{
    (void)params;
    u32 read_count = 0, ack_count = 0, lost = 0;
    struct kafka_fact *reads = kafka_final_reads(history, &read_count);
    struct kafka_fact *acks = kafka_collect(history, HISTORY_KAFKA_ACKED, &ack_count);
    const struct kafka_fact *first_lost = NULL;
    outcome->passed = true;
    for (u32 i = 0; i < ack_count && outcome->passed; i++) {
        u32 best = 0;
        for (u32 r = 0; r < read_count; r++) { /* Each consumer once: reads sort by node. */
            if (r > 0 && reads[r].node == reads[r - 1].node) continue;
            u32 verdict = kafka_read_back(reads, read_count, reads[r].node, &acks[i]);
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
        }
    }
    if (outcome->passed && read_count == 0 && ack_count > 0) {
        snprintf(outcome->message, sizeof(outcome->message),
                 "no consumer read anything: %u acknowledged records unconfirmed", ack_count);
        outcome->passed = false;
        outcome->event_index = acks[0].index;
    } else if (outcome->passed) {
        kafka_durable_verdict(history, lost, ack_count, first_lost, outcome);
    }
    free(acks);
    free(reads);
}
