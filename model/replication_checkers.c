/* replication_checkers.c: the invariants of partition replication, judged from what replicas
 * reported about their logs (HISTORY_REPLICA_*), the metadata and the crash faults.
 *
 * One replay rebuilds, per partition (topic id hash, index):
 *   - each replica's log as a list of batches (base, last offset, leader epoch, CRC) from
 *     APPENDED, TRUNCATED and OPENED. A crashed broker's disk is unknown until its log opens
 *     again: until then the replica counts as still holding what it had (a crash keeps the
 *     synced part, and the checker does not guess which part that was);
 *   - the committed batches: whenever a replica announces a high watermark h as leader, the
 *     batches of its log below h are committed, and the first batch committed at an offset is
 *     the one every replica must agree on;
 *   - each replica's announced high watermarks, per life and leader epoch;
 *   - the partition's newest metadata state (leader, epochs, ISR, replicas), to tell clean
 *     elections from unclean ones and to judge the ISR after the heal.
 *
 * A committed batch may legitimately vanish in two ways, and both are reported as labelled
 * consequences rather than passes or failures: an unclean election (an override turned
 * unclean.leader.election.enable on, or the metadata elected a leader outside the ISR) makes a
 * replica that may miss committed batches the leader; and with flush.messages not 1 a crash
 * loses what sat in the page cache, so once every replica that held a committed batch lost it
 * in crashes (all replicas down at once is the usual way), it is gone and its offsets are
 * reused. A single replica losing its unsynced tail in a crash is not a loss: it fetches the
 * tail again from a replica that kept it. Unless every ISR member crashes or is fenced after
 * the batch was written, in whichever order, while one that lost it stays in the ISR lacking
 * it: Kafka keeps its last ISR members eligible to lead (KIP-841), so that loss is labelled too.
 *
 * Tested by tests/unit/test_model_replication.c (crafted histories: each checker passes a
 * correct one and fails a planted violation). */
#include "replication_checkers.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RC_FACTS: a replay for replication_history_*(), judging nothing. */
enum rc_which { RC_AGREE, RC_KEPT, RC_HW, RC_ISR, RC_FACTS };

struct rc_batch {
    i64 base, last;
    i32 epoch;
    u32 crc;
    u32 event; /* Where it was appended (in a replica's log) or committed. */
};

struct rc_batches { /* Sorted by base; ranges do not overlap. */
    struct rc_batch *items;
    u32 count, capacity;
};

struct rc_replica {
    u32 node;
    struct rc_batches log;
    i64 end;           /* Its log end offset (-1: never reported). */
    i64 verified_end;  /* Its batches below this were compared with the committed ones. */
    u64 opened_crashes; /* The node's crash count when this log last opened. */
    u32 opened_event;   /* When it last opened (0: at the start). */
    /* Its high watermark in this life (reset at NODE_START). */
    bool hw_known;
    i64 hw;
    i32 hw_epoch;
    u32 hw_role;
    u32 hw_event;
    /* The first committed batch it lost in a crash while some ISR member had neither crashed
     * nor been fenced since the batch was written: the loss becomes Kafka's own (KIP-841) if
     * every replica in the ISR from then on does, before this one gets the batch back. */
    bool loss_pending;
    i64 loss_base;
    u32 loss_event; /* Where this replica wrote the batch. */
    u64 loss_isr;   /* Every ISR member from the loss on. */
};

struct rc_leader_hw { /* The highest high watermark a leader announced in an epoch. */
    i32 epoch;
    i64 hw;
    u32 node;
    u32 event;
};

struct rc_partition {
    u64 topic;
    u32 index;
    struct rc_batches committed;
    i64 committed_end; /* The highest leader high watermark (-1: none). */
    struct rc_replica *replicas;
    u32 replica_count, replica_capacity;
    struct rc_leader_hw *leader_hws;
    u32 leader_hw_count, leader_hw_capacity;
    /* Why a committed batch may vanish. */
    bool unclean;
    u32 unclean_event;
    bool lost;      /* Every holder of committed batches at >= lost_from lost them in crashes. */
    i64 lost_from;
    u32 lost_event;
    /* A replica still in the ISR lost committed batches at >= sole_lost_from in a crash
     * (flush.messages not 1) after every ISR member had crashed since they were committed:
     * Kafka keeps its last ISR members eligible to lead (KIP-841). */
    bool sole_lost;
    i64 sole_lost_from;
    /* The newest metadata state (by place in the metadata log). */
    bool meta_known, removed;
    i64 meta_offset;
    u32 meta_record;
    struct history_partition_state meta;
};

struct rc_node {
    u32 id;
    bool alive;
    u64 crashes;
    u32 last_crash_event; /* Valid when crashes > 0. */
    /* The newest metadata record that fenced it (a session that expired, a new incarnation),
     * first reported at fenced_event: the controller then drops it from every ISR it can. */
    bool fenced;
    i64 fenced_offset;
    u32 fenced_record;
    u32 fenced_event;
    bool corrupted;       /* Its disk had sectors corrupted, last at corrupt_event. */
    u32 corrupt_event;
    u64 flush_messages; /* log.flush.interval.messages; 0: never reported (taken as not 1). */
};

struct rc_model {
    const struct history *history;
    const struct check_params *params;
    enum rc_which which;
    struct check_outcome *outcome;
    struct rc_partition *partitions; /* Sorted by (topic, index). */
    u32 partition_count, partition_capacity;
    struct rc_node *nodes; /* In order of first appearance. */
    u32 node_count, node_capacity;
    bool unclean_override;
    u32 unclean_override_event;
    /* What was judged, for the pass message. */
    u32 appends, truncations, crash_losses, hw_reports, committed_batches;
    u32 labelled;
    char labelled_first[300];
    /* ISR convergence. */
    bool healed;
    u64 heal_ns, bound_ns;
    bool converged_seen;
    u64 converged_ns;
    char not_converged[200];
};

/* ===== Small tools ===== */

static void *rc_grow(void *array, u32 *capacity, u32 needed, size_t element)
{
    if (needed <= *capacity) return array;
    u32 next = *capacity == 0 ? 8 : *capacity;
    while (next < needed) next *= 2;
    u8 *grown = realloc(array, (size_t)next * element);
    ASSERT(grown != NULL);
    memset(grown + (size_t)*capacity * element, 0, (size_t)(next - *capacity) * element);
    *capacity = next;
    return grown;
}

static void rc_fail(struct rc_model *model, u32 event, const char *format, ...) PRINTF_LIKE(3, 4);
static void rc_fail(struct rc_model *model, u32 event, const char *format, ...)
{
    if (!model->outcome->passed) return; /* The first violation is the one reported. */
    model->outcome->passed = false;
    model->outcome->event_index = event;
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(model->outcome->message, sizeof(model->outcome->message), format, arguments);
    va_end(arguments);
}

static bool rc_has(u64 mask, i32 id) { return id >= 0 && id < 64 && ((mask >> id) & 1); }

static bool rc_same(const struct rc_batch *a, const struct rc_batch *b)
{
    return a->base == b->base && a->last == b->last && a->epoch == b->epoch && a->crc == b->crc;
}

/* The index of the first batch whose last offset is >= offset (count when none). */
static u32 rc_first_ending_at_or_after(const struct rc_batches *batches, i64 offset)
{
    u32 low = 0, high = batches->count;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        if (batches->items[middle].last < offset) low = middle + 1;
        else high = middle;
    }
    return low;
}

/* The batch holding offset, or NULL. */
static const struct rc_batch *rc_batch_at(const struct rc_batches *batches, i64 offset)
{
    u32 at = rc_first_ending_at_or_after(batches, offset);
    if (at == batches->count || batches->items[at].base > offset) return NULL;
    return &batches->items[at];
}

static void rc_batches_insert(struct rc_batches *batches, const struct rc_batch *batch)
{
    u32 at = rc_first_ending_at_or_after(batches, batch->base);
    ASSERT(at == batches->count || batches->items[at].base > batch->last);
    batches->items = rc_grow(batches->items, &batches->capacity, batches->count + 1,
                             sizeof(*batches->items));
    memmove(&batches->items[at + 1], &batches->items[at],
            (batches->count - at) * sizeof(*batches->items));
    batches->items[at] = *batch;
    batches->count++;
}

/* The committed batch overlapping batch's offsets that differs from it, or NULL; *overlaps
 * says whether any committed batch overlaps it. */
static const struct rc_batch *rc_committed_conflict(const struct rc_partition *p,
                                                    const struct rc_batch *batch, bool *overlaps)
{
    *overlaps = false;
    u32 at = rc_first_ending_at_or_after(&p->committed, batch->base);
    for (u32 i = at; i < p->committed.count && p->committed.items[i].base <= batch->last; i++) {
        *overlaps = true;
        if (!rc_same(&p->committed.items[i], batch)) return &p->committed.items[i];
    }
    return NULL;
}

/* Whether batch is the committed one at its offsets. */
static bool rc_is_committed(const struct rc_partition *p, const struct rc_batch *batch)
{
    const struct rc_batch *committed = rc_batch_at(&p->committed, batch->base);
    return committed != NULL && rc_same(committed, batch);
}

/* ===== Lookups ===== */

static struct rc_node *rc_node(struct rc_model *model, u32 id)
{
    for (u32 i = 0; i < model->node_count; i++) {
        if (model->nodes[i].id == id) return &model->nodes[i];
    }
    model->nodes = rc_grow(model->nodes, &model->node_capacity, model->node_count + 1,
                           sizeof(*model->nodes));
    struct rc_node *node = &model->nodes[model->node_count++];
    node->id = id;
    node->alive = true; /* A node that reports is running. */
    return node;
}

static bool rc_node_alive(const struct rc_model *model, i32 id)
{
    for (u32 i = 0; i < model->node_count; i++) {
        if ((i32)model->nodes[i].id == id) return model->nodes[i].alive;
    }
    return false;
}

static struct rc_partition *rc_partition(struct rc_model *model, u64 topic, u32 index)
{
    u32 low = 0, high = model->partition_count;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        const struct rc_partition *p = &model->partitions[middle];
        if (p->topic < topic || (p->topic == topic && p->index < index)) low = middle + 1;
        else high = middle;
    }
    if (low < model->partition_count && model->partitions[low].topic == topic &&
        model->partitions[low].index == index) {
        return &model->partitions[low];
    }
    model->partitions = rc_grow(model->partitions, &model->partition_capacity,
                                model->partition_count + 1, sizeof(*model->partitions));
    memmove(&model->partitions[low + 1], &model->partitions[low],
            (model->partition_count - low) * sizeof(*model->partitions));
    model->partition_count++;
    struct rc_partition *p = &model->partitions[low];
    memset(p, 0, sizeof(*p));
    p->topic = topic;
    p->index = index;
    p->committed_end = -1;
    return p;
}

static struct rc_replica *rc_replica(struct rc_model *model, struct rc_partition *p, u32 node)
{
    for (u32 i = 0; i < p->replica_count; i++) {
        if (p->replicas[i].node == node) return &p->replicas[i];
    }
    p->replicas = rc_grow(p->replicas, &p->replica_capacity, p->replica_count + 1,
                          sizeof(*p->replicas));
    struct rc_replica *replica = &p->replicas[p->replica_count++];
    replica->node = node;
    replica->end = -1;
    replica->opened_crashes = rc_node(model, node)->crashes;
    return replica;
}

static void rc_free(struct rc_model *model)
{
    for (u32 i = 0; i < model->partition_count; i++) {
        struct rc_partition *p = &model->partitions[i];
        for (u32 r = 0; r < p->replica_count; r++) free(p->replicas[r].log.items);
        free(p->replicas);
        free(p->committed.items);
        free(p->leader_hws);
    }
    free(model->partitions);
    free(model->nodes);
}

/* ===== Verdicts ===== */

static const char *rc_excuse(const struct rc_model *model, const struct rc_partition *p,
                             i64 offset)
{
    if (p->unclean || model->unclean_override) {
        return "an unclean leader election made a replica that may miss committed batches the "
               "leader";
    }
    if (p->lost && offset >= p->lost_from) {
        return "every replica that held them lost them, in crashes while flush.messages is "
               "not 1 (Kafka keeps them in page caches only) or to corrupted disks";
    }
    if (p->sole_lost && offset >= p->sole_lost_from) {
        return "every in-sync replica crashed or was fenced after they were written and one "
               "that lost them (flush.messages is not 1, or a corrupted disk) stayed in the ISR: "
               "Kafka keeps its last ISR members eligible to lead (KIP-841; KIP-966 closes "
               "this)";
    }
    return NULL;
}

/* A committed batch at offset was lost or contradicted at event: labelled when an unclean
 * election or crash losses everywhere explain it, else the check fails with the message. */
static void rc_violation(struct rc_model *model, const struct rc_partition *p, i64 offset,
                         u32 event, const char *format, ...) PRINTF_LIKE(5, 6);
static void rc_violation(struct rc_model *model, const struct rc_partition *p, i64 offset,
                         u32 event, const char *format, ...)
{
    char what[400];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(what, sizeof(what), format, arguments);
    va_end(arguments);
    const char *excuse = rc_excuse(model, p, offset);
    if (excuse == NULL) {
        rc_fail(model, event, "%s", what);
        return;
    }
    if (model->labelled++ == 0) {
        snprintf(model->labelled_first, sizeof(model->labelled_first),
                 "partition %016" PRIx64 "-%u offset %" PRIi64 " at event %u, because %s",
                 p->topic, p->index, offset, event, excuse);
    }
}

/* ===== The crash-loss bookkeeping ===== */

/* The first committed offset the replica does not hold as committed (committed_end when it
 * holds them all). */
static i64 rc_held_end(const struct rc_partition *p, const struct rc_replica *replica)
{
    for (u32 i = 0; i < p->committed.count; i++) {
        const struct rc_batch *committed = &p->committed.items[i];
        const struct rc_batch *held = rc_batch_at(&replica->log, committed->base);
        if (held == NULL || !rc_same(held, committed)) return committed->base;
    }
    return p->committed_end;
}

/* After a replica lost committed batches in a crash: is some committed batch now held by no
 * replica at all? (A crashed replica whose log has not opened again still counts as holding
 * what it had.) */
static void rc_check_lost_everywhere(struct rc_partition *p, u32 event)
{
    i64 surviving = -1;
    for (u32 r = 0; r < p->replica_count; r++) {
        surviving = MAX(surviving, rc_held_end(p, &p->replicas[r]));
    }
    if (surviving < 0 || surviving >= p->committed_end) return;
    if (!p->lost || surviving < p->lost_from) {
        if (!p->lost) p->lost_event = event;
        p->lost = true;
        p->lost_from = surviving;
    }
}

/* True when node is in the partition's newest ISR and every member of members (and of that
 * ISR) crashed or was fenced after event: to the controller each of them went away, and KRaft
 * without ELR keeps the last one in the ISR, eligible to lead whatever its log lost. */
static bool rc_isr_all_gone_since(struct rc_model *model, const struct rc_partition *p,
                                     u32 node, u32 event, u64 members)
{
    if (!p->meta_known || p->removed || !rc_has(p->meta.isr, (i32)node)) return false;
    members |= p->meta.isr;
    for (u32 id = 0; id < 64; id++) {
        if (!rc_has(members, (i32)id)) continue;
        const struct rc_node *member = rc_node(model, id);
        bool crashed = member->crashes > 0 && member->last_crash_event > event;
        bool fenced = member->fenced && member->fenced_event > event;
        if (!crashed && !fenced) return false;
    }
    return true;
}

static void rc_sole_lost(struct rc_partition *p, i64 from)
{
    if (!p->sole_lost || from < p->sole_lost_from) {
        p->sole_lost = true;
        p->sole_lost_from = from;
    }
}

/* Whether the replica holds the committed batch at offset. */
static bool rc_holds_committed(const struct rc_partition *p, const struct rc_replica *replica,
                               i64 offset)
{
    const struct rc_batch *held = rc_batch_at(&replica->log, offset);
    return held != NULL && rc_is_committed(p, held);
}

/* A crash loss waits for the rest of the ISR to go away: the lossy replica learns nothing of
 * its loss and its partners may crash or be fenced later (out of the ISR then, and the replica
 * that lost the batch is the last one left, as in KIP-966's example). Called whenever a node
 * crashes or is fenced, or the partition's ISR changes. */
static void rc_settle_pending_losses(struct rc_model *model, struct rc_partition *p)
{
    for (u32 r = 0; r < p->replica_count; r++) {
        struct rc_replica *replica = &p->replicas[r];
        if (!replica->loss_pending) continue;
        if (rc_holds_committed(p, replica, replica->loss_base)) { /* Fetched it back. */
            replica->loss_pending = false;
            continue;
        }
        if (p->meta_known && !p->removed) replica->loss_isr |= p->meta.isr;
        if (rc_isr_all_gone_since(model, p, replica->node, replica->loss_event,
                                     replica->loss_isr)) {
            rc_sole_lost(p, replica->loss_base);
            replica->loss_pending = false;
        }
    }
}

/* Removes the replica's batches at or past end; each committed one is judged by how it went. */
enum rc_cut { RC_CUT_TRUNCATE, RC_CUT_OVERWRITE, RC_CUT_CRASH, RC_CUT_REOPEN };

static void rc_cut(struct rc_model *model, struct rc_partition *p, struct rc_replica *replica,
                   i64 end, enum rc_cut how, u32 index)
{
    u32 at = rc_first_ending_at_or_after(&replica->log, end);
    bool crash_lossy = false;
    const struct rc_node *node = rc_node(model, replica->node);
    /* A loss from an earlier crash that still waits for its excuse (the replica still lacks
     * that batch): this cut's losses replace it only from below. */
    bool earlier_loss_waits = replica->loss_pending &&
                              !rc_holds_committed(p, replica, replica->loss_base);
    bool loss_waits = false; /* The lowest unexcused loss is recorded. */
    for (u32 i = at; i < replica->log.count; i++) {
        const struct rc_batch *batch = &replica->log.items[i];
        if (!rc_is_committed(p, batch)) continue;
        /* Recovery cuts a log at the first corrupt batch: sectors corrupted since the log last
         * opened lose whatever follows them, whatever the flush policy. */
        bool corrupted = (how == RC_CUT_CRASH || how == RC_CUT_REOPEN) && node->corrupted &&
                         node->corrupt_event > replica->opened_event;
        if ((how == RC_CUT_CRASH && node->flush_messages != 1) || corrupted) {
            model->crash_losses++;
            crash_lossy = true;
            /* Since this replica wrote the batch: the leader counted its fetch, then lost
             * track of the crash while no controller could fence it. */
            if (rc_isr_all_gone_since(model, p, replica->node, batch->event, 0)) {
                rc_sole_lost(p, batch->base);
                continue;
            }
            /* Only the lowest loss still unexcused waits: written first, it is the easiest to
             * excuse, and it excuses every offset above it. */
            if (loss_waits) continue;
            loss_waits = earlier_loss_waits && replica->loss_base < batch->base;
            if (loss_waits) continue;
            u64 since = earlier_loss_waits ? replica->loss_isr : 0;
            loss_waits = true;
            replica->loss_pending = true;
            replica->loss_base = batch->base;
            replica->loss_event = batch->event;
            replica->loss_isr = since | (p->meta_known && !p->removed ? p->meta.isr : 0);
            continue;
        }
        if (model->which != RC_KEPT) continue;
        const char *why = how == RC_CUT_TRUNCATE
            ? "truncated its log to"
            : how == RC_CUT_OVERWRITE ? "appended over its log without truncating it, from"
            : how == RC_CUT_CRASH ? "came back from a crash with flush.messages=1 and its log "
                                    "ending at"
                                  : "reopened its log, without a crash, ending at";
        rc_violation(model, p, batch->base, index, "Event %u: broker %u %s offset %" PRIi64
                     " of partition %016" PRIx64 "-%u, cutting the committed batch at offsets %"
                     PRIi64 "..%" PRIi64 " (leader epoch %d, CRC %08x, committed at event %u, "
                     "below a high watermark a leader announced): a committed batch must stay "
                     "on every replica that holds it, or a later leader may lack it.", index,
                     replica->node, why, end, p->topic, p->index, batch->base, batch->last,
                     batch->epoch, batch->crc, rc_batch_at(&p->committed, batch->base)->event);
        break; /* One message per cut. */
    }
    replica->log.count = at;
    replica->end = end;
    replica->verified_end = MIN(replica->verified_end, end);
    if (crash_lossy) rc_check_lost_everywhere(p, index);
}

/* ===== Committed batches ===== */

/* The replica's batches in [verified_end, hw) must be the committed ones; as leader, the ones
 * not committed yet become committed. */
static void rc_verify_below(struct rc_model *model, struct rc_partition *p,
                            struct rc_replica *replica, i64 hw, bool leader, u32 index)
{
    u32 at = rc_first_ending_at_or_after(&replica->log, replica->verified_end);
    for (u32 i = at; i < replica->log.count && replica->log.items[i].base < hw; i++) {
        const struct rc_batch *batch = &replica->log.items[i];
        bool overlaps = false;
        const struct rc_batch *other = rc_committed_conflict(p, batch, &overlaps);
        if (other != NULL) {
            if (model->which == RC_AGREE) {
                rc_violation(model, p, batch->base, index, "Event %u: broker %u announced high "
                             "watermark %" PRIi64 " of partition %016" PRIx64 "-%u as %s, but "
                             "its log holds offsets %" PRIi64 "..%" PRIi64 " as leader epoch "
                             "%d, CRC %08x, where offsets %" PRIi64 "..%" PRIi64 " were "
                             "committed as leader epoch %d, CRC %08x (event %u): two different "
                             "batches committed at one offset, so consumers of different "
                             "leaders read different records.", index, replica->node, hw,
                             p->topic, p->index, leader ? "leader" : "follower", batch->base,
                             batch->last, batch->epoch, batch->crc, other->base, other->last,
                             other->epoch, other->crc, other->event);
            }
            continue;
        }
        if (overlaps || !leader) continue;
        struct rc_batch committed = *batch;
        committed.event = index;
        rc_batches_insert(&p->committed, &committed);
        model->committed_batches++;
    }
    replica->verified_end = MAX(replica->verified_end, hw);
}

/* ===== Replaying the reports ===== */

static void on_opened(struct rc_model *model, u32 index, const struct history_event *event)
{
    struct rc_partition *p = rc_partition(model, event->a, (u32)event->b);
    struct rc_replica *replica = rc_replica(model, p, event->node);
    const struct rc_node *node = rc_node(model, event->node);
    i64 end = (i64)event->c, start = (i64)event->d;
    bool crashed = node->crashes != replica->opened_crashes;
    replica->opened_crashes = node->crashes;
    rc_cut(model, p, replica, end, crashed ? RC_CUT_CRASH : RC_CUT_REOPEN, index);
    replica->opened_event = index;
    /* Below the log start is gone by retention or DeleteRecords, not lost. */
    u32 kept_from = rc_first_ending_at_or_after(&replica->log, start);
    if (kept_from > 0) {
        memmove(replica->log.items, &replica->log.items[kept_from],
                (replica->log.count - kept_from) * sizeof(*replica->log.items));
        replica->log.count -= kept_from;
    }
}

static void on_appended(struct rc_model *model, u32 index, const struct history_event *event)
{
    struct history_replica_batch payload;
    if (event->data_size != sizeof(payload) || event->c > event->d || event->d > INT64_MAX) {
        rc_fail(model, index, "Event %u: broker %u reported an appended batch with offsets %"
                PRIu64 "..%" PRIu64 " and a %u-byte description (expected %zu bytes, base <= "
                "last).", index, event->node, event->c, event->d, event->data_size,
                sizeof(payload));
        return;
    }
    memcpy(&payload, model->history->data + event->data_offset, sizeof(payload));
    struct rc_partition *p = rc_partition(model, event->a, (u32)event->b);
    struct rc_replica *replica = rc_replica(model, p, event->node);
    struct rc_batch batch = {.base = (i64)event->c, .last = (i64)event->d,
                             .epoch = payload.leader_epoch, .crc = payload.crc, .event = index};
    model->appends++;
    /* A log that did not report opening since its broker crashed shows what the crash kept by
     * where it appends next. */
    bool reopened = replica->opened_crashes != rc_node(model, event->node)->crashes;
    replica->opened_crashes = rc_node(model, event->node)->crashes;
    if (replica->log.count > 0 && replica->log.items[replica->log.count - 1].last >= batch.base) {
        rc_cut(model, p, replica, batch.base, reopened ? RC_CUT_CRASH : RC_CUT_OVERWRITE, index);
    }
    bool overlaps = false;
    const struct rc_batch *other = rc_committed_conflict(p, &batch, &overlaps);
    /* A deposed leader that has not heard of the newer epoch may still append to its own log,
     * and a follower whose image is as stale may still copy from it (nothing of that epoch can
     * be committed past the newer one, and both truncate once they learn it; a follower that
     * counted it below its high watermark is caught there): only a batch of the committed
     * batch's epoch or a later one contradicts it. */
    bool zombie = other != NULL && batch.epoch < other->epoch;
    if (other != NULL && !zombie && model->which == RC_AGREE) {
        rc_violation(model, p, batch.base, index, "Event %u: broker %u appended offsets %" PRIi64
                     "..%" PRIi64 " of partition %016" PRIx64 "-%u as leader epoch %d, CRC %08x "
                     "(as %s), but offsets %" PRIi64 "..%" PRIi64 " were committed as leader "
                     "epoch %d, CRC %08x (event %u): a replica must never hold another batch "
                     "where one is committed.", index, event->node, batch.base, batch.last,
                     p->topic, p->index, batch.epoch, batch.crc,
                     payload.role == HISTORY_REPLICA_LEADER ? "leader" : "follower", other->base,
                     other->last, other->epoch, other->crc, other->event);
    }
    rc_batches_insert(&replica->log, &batch);
    replica->end = batch.last + 1;
}

static void on_truncated(struct rc_model *model, u32 index, const struct history_event *event)
{
    struct rc_partition *p = rc_partition(model, event->a, (u32)event->b);
    struct rc_replica *replica = rc_replica(model, p, event->node);
    model->truncations++;
    /* A log that did not report opening since its broker crashed: what the crash cut and what
     * the truncation cut cannot be told apart, so all of it counts as the crash's. */
    bool reopened = replica->opened_crashes != rc_node(model, event->node)->crashes;
    replica->opened_crashes = rc_node(model, event->node)->crashes;
    rc_cut(model, p, replica, (i64)event->c, reopened ? RC_CUT_CRASH : RC_CUT_TRUNCATE, index);
}

static void on_high_watermark(struct rc_model *model, u32 index, const struct history_event *event)
{
    if (event->c > INT64_MAX) return; /* -1: not known yet. */
    struct rc_partition *p = rc_partition(model, event->a, (u32)event->b);
    struct rc_replica *replica = rc_replica(model, p, event->node);
    i64 hw = (i64)event->c;
    i32 epoch = (i32)(u32)event->d;
    u32 role = (u32)(event->d >> 32);
    bool leader = role == HISTORY_REPLICA_LEADER;
    model->hw_reports++;
    i64 log_end = replica->end;
    if (model->which == RC_HW) {
        if (replica->hw_known && replica->hw_role == role && replica->hw_epoch == epoch &&
            hw < replica->hw) {
            rc_fail(model, index, "Event %u: broker %u moved the high watermark of partition %016"
                    PRIx64 "-%u back from %" PRIi64 " (event %u) to %" PRIi64 " as %s of leader "
                    "epoch %d: a consumer may already have read below the old one, and what "
                    "it read must stay readable.", index, event->node, p->topic, p->index,
                    replica->hw, replica->hw_event, hw, leader ? "leader" : "follower", epoch);
        } else if (leader && log_end >= 0 && hw > log_end) {
            rc_fail(model, index, "Event %u: broker %u announced high watermark %" PRIi64 " of "
                    "partition %016" PRIx64 "-%u as leader of epoch %d while its log ends at %"
                    PRIi64 ": a leader cannot commit what it does not hold.", index, event->node,
                    hw, p->topic, p->index, epoch, log_end);
        } else if (!leader) {
            i64 announced = -1;
            for (u32 i = 0; i < p->leader_hw_count; i++) {
                if (p->leader_hws[i].epoch > epoch) continue;
                announced = MAX(announced, p->leader_hws[i].hw);
            }
            if (hw > MAX(announced, 0)) {
                rc_fail(model, index, "Event %u: broker %u, following leader epoch %d of "
                        "partition %016" PRIx64 "-%u, moved its high watermark to %" PRIi64
                        ", but no leader of that or an earlier epoch had announced more than %"
                        PRIi64 ": a follower learns the high watermark from its leader and may "
                        "not run ahead of it.", index, event->node, epoch, p->topic, p->index,
                        hw, announced);
            }
        }
    }
    replica->hw_known = true;
    replica->hw = hw;
    replica->hw_epoch = epoch;
    replica->hw_role = role;
    replica->hw_event = index;
    if (leader) {
        struct rc_leader_hw *entry = NULL;
        for (u32 i = 0; i < p->leader_hw_count && entry == NULL; i++) {
            if (p->leader_hws[i].epoch == epoch) entry = &p->leader_hws[i];
        }
        if (entry == NULL) {
            p->leader_hws = rc_grow(p->leader_hws, &p->leader_hw_capacity,
                                    p->leader_hw_count + 1, sizeof(*p->leader_hws));
            entry = &p->leader_hws[p->leader_hw_count++];
            entry->epoch = epoch;
            entry->hw = -1;
        }
        if (hw > entry->hw) {
            entry->hw = hw;
            entry->node = event->node;
            entry->event = index;
        }
    }
    rc_verify_below(model, p, replica, hw, leader, index);
    if (leader) p->committed_end = MAX(p->committed_end, hw);
}

/* A partition state after a metadata record: an election outside the ISR is unclean. */
static void on_partition_state(struct rc_model *model, u32 index, const struct history_event *event)
{
    struct history_partition_state state;
    if (event->data_size != sizeof(state) || event->d > UINT32_MAX) return;
    memcpy(&state, model->history->data + event->data_offset, sizeof(state));
    struct rc_partition *p = rc_partition(model, event->c, (u32)event->d);
    i64 offset = (i64)event->a;
    u32 record = (u32)event->b;
    if (p->meta_known && (offset < p->meta_offset ||
                          (offset == p->meta_offset && record <= p->meta_record))) {
        return; /* Another node applying a record already seen. */
    }
    bool consecutive = p->meta_known && !p->removed &&
                       state.partition_epoch == p->meta.partition_epoch + 1;
    bool overflow = ((state.flags | p->meta.flags) & HISTORY_BROKER_IDS_OVERFLOW) != 0;
    if (consecutive && !overflow && state.leader >= 0 &&
        state.leader_epoch > p->meta.leader_epoch && !rc_has(p->meta.isr, state.leader) &&
        !p->unclean) {
        p->unclean = true;
        p->unclean_event = index;
    }
    p->meta_known = true;
    p->removed = false;
    p->meta_offset = offset;
    p->meta_record = record;
    p->meta = state;
    rc_settle_pending_losses(model, p);
}

/* A broker's registration after a metadata record: a fence is the first report of the newest
 * record that fenced it (nodes applying an older record later say nothing new). */
static void on_broker_state(struct rc_model *model, u32 index, const struct history_event *event)
{
    if (event->c > UINT32_MAX || (event->d & HISTORY_BROKER_FENCED) == 0) return;
    struct rc_node *node = rc_node(model, (u32)event->c);
    i64 offset = (i64)event->a;
    u32 record = (u32)event->b;
    if (node->fenced && (offset < node->fenced_offset ||
                         (offset == node->fenced_offset && record <= node->fenced_record))) {
        return;
    }
    node->fenced = true;
    node->fenced_offset = offset;
    node->fenced_record = record;
    node->fenced_event = index;
    for (u32 i = 0; i < model->partition_count; i++) {
        rc_settle_pending_losses(model, &model->partitions[i]);
    }
}

static void on_topic_removed(struct rc_model *model, const struct history_event *event)
{
    for (u32 i = 0; i < model->partition_count; i++) {
        struct rc_partition *p = &model->partitions[i];
        if (p->topic != event->c || !p->meta_known) continue;
        if ((i64)event->a < p->meta_offset) continue;
        p->removed = true;
        p->meta_offset = (i64)event->a;
        p->meta_record = (u32)event->b;
    }
}

/* ===== ISR convergence ===== */

static bool rc_isr_full(const struct rc_model *model, char *reason, u32 size)
{
    for (u32 i = 0; i < model->partition_count; i++) {
        const struct rc_partition *p = &model->partitions[i];
        if (!p->meta_known || p->removed) continue;
        for (i32 id = 0; id < 64; id++) {
            if (!rc_has(p->meta.replicas, id) || !rc_node_alive(model, id)) continue;
            if (rc_has(p->meta.isr, id)) continue;
            snprintf(reason, size, "partition %016" PRIx64 "-%u had ISR mask %#" PRIx64 " "
                     "(leader %d, leader epoch %d, partition epoch %d) without live replica %d",
                     p->topic, p->index, p->meta.isr, p->meta.leader, p->meta.leader_epoch,
                     p->meta.partition_epoch, id);
            return false;
        }
    }
    return true;
}

static void rc_isr_step(struct rc_model *model, u64 time_ns)
{
    if (model->which != RC_ISR || !model->healed || model->converged_seen) return;
    if (time_ns > model->heal_ns + model->bound_ns) return;
    if (rc_isr_full(model, model->not_converged, sizeof(model->not_converged))) {
        model->converged_seen = true;
        model->converged_ns = time_ns;
    }
}

static void rc_isr_finish(struct rc_model *model)
{
    u32 last = model->history->count == 0 ? 0 : model->history->count - 1;
    struct check_outcome *outcome = model->outcome;
    if (!model->healed) {
        snprintf(outcome->message, sizeof(outcome->message),
                 "nothing healed, so nothing was promised");
        return;
    }
    u64 bound_ms = model->bound_ns / NS_PER_MS;
    if (!model->converged_seen) {
        rc_fail(model, last, "Within %" PRIu64 " ms after the faults healed at %.3f ms, some "
                "ISR never held every live replica again: at the last look, %s. A follower "
                "that is alive and fetching catches up, and its leader must add it back.",
                bound_ms, (double)model->heal_ns / 1e6,
                model->not_converged[0] != '\0' ? model->not_converged : "nothing was seen");
        return;
    }
    char reason[200];
    if (!rc_isr_full(model, reason, sizeof(reason))) {
        rc_fail(model, last, "Every ISR held every live replica %.3f ms after the heal, but at "
                "the end of the run %s: with no fault left, the ISR must stay full.",
                (double)(model->converged_ns - model->heal_ns) / 1e6, reason);
        return;
    }
    u32 partitions = 0;
    for (u32 i = 0; i < model->partition_count; i++) {
        partitions += model->partitions[i].meta_known && !model->partitions[i].removed;
    }
    snprintf(outcome->message, sizeof(outcome->message),
             "%u partitions had every live replica in their ISR %.3f ms after the heal (bound %"
             PRIu64 " ms), and still at the end", partitions,
             (double)(model->converged_ns - model->heal_ns) / 1e6, bound_ms);
}

/* ===== The replay ===== */

static void rc_replay_event(struct rc_model *model, u32 index, const struct history_event *event)
{
    switch (event->kind) {
    case HISTORY_NODE_START: {
        struct rc_node *node = rc_node(model, event->node);
        node->alive = true;
        for (u32 i = 0; i < model->partition_count; i++) { /* Its memory is gone. */
            struct rc_partition *p = &model->partitions[i];
            for (u32 r = 0; r < p->replica_count; r++) {
                if (p->replicas[r].node == event->node) p->replicas[r].hw_known = false;
            }
        }
        break;
    }
    case HISTORY_FAULT:
        if (event->a == HISTORY_FAULT_CRASH && event->d != 0 && event->b <= UINT32_MAX) {
            struct rc_node *node = rc_node(model, (u32)event->b);
            node->alive = false;
            node->crashes++;
            node->last_crash_event = index;
            for (u32 i = 0; i < model->partition_count; i++) {
                rc_settle_pending_losses(model, &model->partitions[i]);
            }
        }
        if (event->a == HISTORY_FAULT_DISK_CORRUPT && event->d != 0 && event->b <= UINT32_MAX) {
            struct rc_node *node = rc_node(model, (u32)event->b);
            node->corrupted = true;
            node->corrupt_event = index;
        }
        break;
    case HISTORY_KAFKA_BROKER_CONFIG: rc_node(model, event->node)->flush_messages = event->a; break;
    case HISTORY_HEALED:
        model->healed = true;
        model->heal_ns = event->time_ns;
        model->bound_ns = model->params->liveness_bound_ns != 0 ? model->params->liveness_bound_ns
                                                                : event->a;
        break;
    case HISTORY_METADATA_UNCLEAN:
        if (event->c != 0 && !model->unclean_override) {
            model->unclean_override = true;
            model->unclean_override_event = index;
        }
        break;
    case HISTORY_METADATA_PARTITION: on_partition_state(model, index, event); break;
    case HISTORY_METADATA_BROKER: on_broker_state(model, index, event); break;
    case HISTORY_METADATA_TOPIC_REMOVED: on_topic_removed(model, event); break;
    case HISTORY_REPLICA_OPENED: on_opened(model, index, event); break;
    case HISTORY_REPLICA_APPENDED: on_appended(model, index, event); break;
    case HISTORY_REPLICA_TRUNCATED: on_truncated(model, index, event); break;
    case HISTORY_REPLICA_HIGH_WATERMARK: on_high_watermark(model, index, event); break;
    default: break;
    }
    bool isr_relevant = event->kind == HISTORY_NODE_START || event->kind == HISTORY_FAULT ||
                        event->kind == HISTORY_HEALED ||
                        event->kind == HISTORY_METADATA_PARTITION ||
                        event->kind == HISTORY_METADATA_TOPIC_REMOVED;
    if (isr_relevant) rc_isr_step(model, event->time_ns);
}

static void rc_pass_message(struct rc_model *model)
{
    struct check_outcome *outcome = model->outcome;
    if (!outcome->passed || model->which == RC_ISR) return;
    u32 partitions = 0;
    for (u32 i = 0; i < model->partition_count; i++) {
        partitions += model->partitions[i].replica_count > 0;
    }
    if (model->labelled > 0) {
        snprintf(outcome->message, sizeof(outcome->message),
                 "LABELLED CONSEQUENCE: %u committed batches were lost or replaced (first: %s); "
                 "otherwise %u partitions, %u committed batches kept and agreed on",
                 model->labelled, model->labelled_first, partitions, model->committed_batches);
        return;
    }
    if (model->which == RC_HW) {
        snprintf(outcome->message, sizeof(outcome->message),
                 "%u high watermark reports over %u partitions: leaders' never went back within "
                 "an epoch nor passed their log end, followers' never ran ahead of a leader's",
                 model->hw_reports, partitions);
        return;
    }
    snprintf(outcome->message, sizeof(outcome->message),
             "%u partitions: %u batches committed, %u appends and %u truncations checked; every "
             "replica holding a committed offset held the committed batch, and none cut one "
             "(%u copies of committed batches lost in page-cache crashes of single replicas "
             "were fetched again or still held elsewhere)", partitions, model->committed_batches,
             model->appends, model->truncations, model->crash_losses);
}

static void rc_replay(const struct history *history, const struct check_params *params,
                      enum rc_which which, struct check_outcome *outcome)
{
    struct rc_model model = {.history = history, .params = params, .which = which,
                             .outcome = outcome};
    outcome->passed = true;
    outcome->event_index = 0;
    outcome->message[0] = '\0';
    for (u32 i = 0; i < history->count && outcome->passed; i++) {
        rc_replay_event(&model, i, &history->events[i]);
    }
    if (which == RC_ISR && outcome->passed) rc_isr_finish(&model);
    rc_pass_message(&model);
    rc_free(&model);
}

void replication_check_committed_agree(const struct history *history,
                                       const struct check_params *params,
                                       struct check_outcome *outcome)
{
    rc_replay(history, params, RC_AGREE, outcome);
}

void replication_check_committed_kept(const struct history *history,
                                      const struct check_params *params,
                                      struct check_outcome *outcome)
{
    rc_replay(history, params, RC_KEPT, outcome);
}

void replication_check_hw_monotonic(const struct history *history,
                                    const struct check_params *params,
                                    struct check_outcome *outcome)
{
    rc_replay(history, params, RC_HW, outcome);
}

void replication_check_isr_converges(const struct history *history,
                                     const struct check_params *params,
                                     struct check_outcome *outcome)
{
    rc_replay(history, params, RC_ISR, outcome);
}

/* ===== Facts for the Kafka checkers ===== */

bool replication_history_unclean(const struct history *history, u32 *event)
{
    struct check_outcome outcome = {0};
    struct check_params params = {0};
    struct rc_model model = {.history = history, .params = &params, .which = RC_FACTS,
                             .outcome = &outcome};
    outcome.passed = true;
    bool unclean = false;
    for (u32 i = 0; i < history->count && !unclean; i++) {
        const struct history_event *e = &history->events[i];
        if (e->kind == HISTORY_METADATA_UNCLEAN) {
            unclean = e->c != 0;
        } else if (e->kind == HISTORY_METADATA_PARTITION) {
            on_partition_state(&model, i, e);
            for (u32 p = 0; p < model.partition_count && !unclean; p++) {
                unclean = model.partitions[p].unclean;
            }
        } else if (e->kind == HISTORY_METADATA_TOPIC_REMOVED) {
            on_topic_removed(&model, e);
        }
        if (unclean) *event = i;
    }
    rc_free(&model);
    return unclean;
}

static u64 replication_history_losses(const struct history *history, bool sole);

u64 replication_history_lost_everywhere(const struct history *history)
{
    return replication_history_losses(history, false);
}

u64 replication_history_sole_isr_lost(const struct history *history)
{
    return replication_history_losses(history, true);
}

static u64 replication_history_losses(const struct history *history, bool sole)
{
    struct check_outcome outcome = {0};
    struct check_params params = {0};
    struct rc_model model = {.history = history, .params = &params, .which = RC_FACTS,
                             .outcome = &outcome};
    outcome.passed = true;
    for (u32 i = 0; i < history->count; i++) rc_replay_event(&model, i, &history->events[i]);
    u64 lost = 0;
    for (u32 i = 0; i < model.partition_count; i++) {
        const struct rc_partition *p = &model.partitions[i];
        bool counted = sole ? p->sole_lost : p->lost;
        if (counted && p->index < 64) lost |= 1ull << p->index;
    }
    rc_free(&model);
    return lost;
}

u64 replication_history_all_down(const struct history *history)
{
    /* The replica set of each partition index, from the newest metadata seen so far. */
    u64 replicas[64] = {0};
    u64 down = 0; /* Bit n: node n is crashed. */
    u64 result = 0;
    for (u32 i = 0; i < history->count; i++) {
        const struct history_event *e = &history->events[i];
        if (e->kind == HISTORY_METADATA_PARTITION && e->d < 64 &&
            e->data_size == sizeof(struct history_partition_state)) {
            struct history_partition_state state;
            memcpy(&state, history->data + e->data_offset, sizeof(state));
            replicas[e->d] = state.replicas;
        } else if (e->kind == HISTORY_FAULT && e->a == HISTORY_FAULT_CRASH && e->d != 0 &&
                   e->b < 64) {
            down |= 1ull << e->b;
            for (u32 p = 0; p < 64; p++) {
                if (replicas[p] != 0 && (replicas[p] & ~down) == 0) result |= 1ull << p;
            }
        } else if (e->kind == HISTORY_NODE_START && e->node < 64) {
            down &= ~(1ull << e->node);
        }
    }
    return result;
}
