/* quorum_checkers.c: the checkers that judge a history of the Raft metadata quorum.
 *
 * One replay walks the history in order and rebuilds what the nodes said about themselves:
 * each node's log (from APPENDED and TRUNCATED; a NODE_START empties it, and a restarted node
 * re-reports what it recovered with APPENDED d bit 1), the entries committed anywhere (from
 * COMMITTED), each node's role and epoch (from ROLE), who is alive (NODE_START, FAULT crash).
 * Each checker runs the replay and looks at one invariant as it goes; the first violation
 * stops it with a sentence naming the event, node, epoch and offset. The invariants are
 * explained for learners in model/README.md.
 *
 * Extensions of the observation fields used here (documented in model/README.md): APPENDED and
 * COMMITTED carry d bit 0 = control record (leader change, not a client value); APPENDED d
 * bit 1 = re-reported after recovery.
 *
 * Snapshots: a node that loads a snapshot ending at offset e (at a restart, or fetched from the
 * leader) reports SNAPSHOT; from then on its log holds the committed entries below e (the
 * replay fills them in from what was committed) and continues at e, and it knows offsets below
 * e committed and applied: its applied sequence resumes at e instead of 0. Every snapshot must
 * cover only committed offsets, end with the committed entry's epoch, and carry the digest the
 * replicas reached at e - 1 (applied-prefix checks that, so the digest chain is unbroken).
 *
 * Depends on model/history.h (and through it impl/base.h types) only. Tested by
 * tests/unit/test_model_checkers.c: crafted histories that break each invariant are caught,
 * good ones pass. */
#include "history.h"
#include "controller_checkers.h"
#include "kafka_checkers.h"
#include "group_checkers.h"
#include "replication_checkers.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum check_which {
    CHECK_ELECTION_SAFETY,
    CHECK_LOG_MATCHING,
    CHECK_LEADER_COMPLETENESS,
    CHECK_COMMITTED_DURABLE,
    CHECK_APPLIED_PREFIX,
    CHECK_CLIENT_ACKS,
    CHECK_LIVENESS,
    CHECK_UNAVAILABLE,
    CHECK_AVAILABLE,
    CHECK_SNAPSHOT_CATCH_UP,
};

#define MODEL_NONE UINT64_MAX

struct model_entry {
    u64 epoch;
    u64 checksum;
    u64 prefix; /* Hash of the whole log up to and including this entry. */
};

struct model_node {
    u32 id;
    bool voter;
    bool alive;
    bool role_known;
    u32 role;
    u64 epoch;
    u64 leader;
    struct model_entry *entries;
    u32 length;
    u32 capacity;
    u64 commit_next;
    u64 apply_next;
};

struct model_committed {
    bool set;
    bool control;
    bool digest_set;
    u64 epoch;
    u64 checksum;
    u64 commit_epoch; /* Lowest epoch a reporter was in when it said "committed". */
    u64 digest;
    u32 event;
    u32 digest_event;
};

/* An open-addressing table from a two-word key to a value; only ever looked up, never
 * iterated, so its layout cannot leak into any result. */
struct model_slot {
    bool used;
    u64 key_a, key_b;
    u64 value;
    u32 event;
};
struct model_table {
    struct model_slot *slots;
    u32 capacity;
    u32 count;
};

struct model_ack {
    u32 event;
    u32 client;
    u64 operation;
    u64 offset;
    u64 checksum;
};

struct model {
    const struct history *history;
    const struct check_params *params;
    enum check_which which;
    struct check_outcome *outcome;
    struct model_node *nodes;
    u32 node_count;
    struct model_committed *committed;
    u32 committed_capacity;
    u64 committed_end;
    struct model_table leaders;  /* epoch -> leader */
    struct model_table votes;    /* (node, epoch) -> candidate */
    struct model_table prefixes; /* (offset, epoch) -> prefix hash */
    struct model_table invoked;  /* (client, operation) -> checksum; (checksum, 0) -> 1 */
    struct model_table values;   /* (checksum, 1) -> offset committed; (checksum, 2) -> failed */
    struct model_ack *acks;
    u32 ack_count, ack_capacity;
    /* Liveness. */
    bool healed;
    u64 heal_ns, bound_ns, end_ns;
    bool agreement_seen;
    bool commit_after_heal;
    u64 reference_ns, reference_committed_end;
    bool reference_taken;
    bool window_commit;
    u32 window_event;
    u64 window_offset, window_ns;
    /* snapshot-catch-up: a node installed a fetched snapshot, then applied past it. */
    bool fetched_seen, caught_up;
    u32 fetched_node;
    u64 fetched_end;
};

/* ===== Small tools ===== */

static void *grow(void *array, u32 *capacity, u32 needed, size_t element)
{
    if (needed <= *capacity) return array;
    u32 next = *capacity == 0 ? 64 : *capacity;
    while (next < needed) next *= 2;
    u8 *grown = realloc(array, (size_t)next * element);
    ASSERT(grown != NULL);
    memset(grown + (size_t)*capacity * element, 0, (size_t)(next - *capacity) * element);
    *capacity = next;
    return grown;
}

static u64 mix64(u64 x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static struct model_slot *table_find(struct model_table *table, u64 a, u64 b, bool insert);

/* The hash of a log prefix extended by one entry. */
static u64 prefix_extend(u64 previous, u64 epoch, u64 checksum)
{
    return mix64(previous ^ mix64(epoch * 0x9e3779b97f4a7c15ull ^ checksum));
}

static void table_grow(struct model_table *table)
{
    struct model_table old = *table;
    table->capacity = old.capacity == 0 ? 1024 : old.capacity * 2;
    table->slots = calloc(table->capacity, sizeof(struct model_slot));
    ASSERT(table->slots != NULL);
    table->count = 0;
    for (u32 i = 0; i < old.capacity; i++) {
        if (!old.slots[i].used) continue;
        struct model_slot *slot = table_find(table, old.slots[i].key_a, old.slots[i].key_b, true);
        slot->value = old.slots[i].value;
        slot->event = old.slots[i].event;
    }
    free(old.slots);
}

/* Returns the slot for (a, b): NULL when absent and not inserting; a fresh used slot (value
 * 0) when inserting an absent key. */
static struct model_slot *table_find(struct model_table *table, u64 a, u64 b, bool insert)
{
    if (insert && (table->count + 1) * 2 > table->capacity) table_grow(table);
    if (table->capacity == 0) return NULL;
    u32 mask = table->capacity - 1;
    u32 index = (u32)mix64(a * 0x9e3779b97f4a7c15ull ^ b) & mask;
    for (u32 probes = 0; probes < table->capacity; probes++) {
        struct model_slot *slot = &table->slots[index];
        if (slot->used && slot->key_a == a && slot->key_b == b) return slot;
        if (!slot->used) {
            if (!insert) return NULL;
            slot->used = true;
            slot->key_a = a;
            slot->key_b = b;
            table->count++;
            return slot;
        }
        index = (index + 1) & mask;
    }
    ASSERT(!insert); /* The table is never full: it grows at half load. */
    return NULL;
}

static void model_fail(struct model *model, u32 event, const char *format, ...)
    PRINTF_LIKE(3, 4);
static void model_fail(struct model *model, u32 event, const char *format, ...)
{
    if (!model->outcome->passed) return; /* The first violation is the one reported. */
    model->outcome->passed = false;
    model->outcome->event_index = event;
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(model->outcome->message, sizeof(model->outcome->message), format, arguments);
    va_end(arguments);
}

static struct model_node *node_get(struct model *model, u32 id)
{
    for (u32 i = 0; i < model->node_count; i++) {
        if (model->nodes[i].id == id) return &model->nodes[i];
    }
    model->nodes = realloc(model->nodes, sizeof(struct model_node) * (model->node_count + 1));
    ASSERT(model->nodes != NULL);
    struct model_node *node = &model->nodes[model->node_count++];
    memset(node, 0, sizeof(*node));
    node->id = id;
    node->alive = true;
    node->leader = MODEL_NONE;
    return node;
}

static struct model_committed *committed_at(struct model *model, u64 offset)
{
    ASSERT(offset < UINT32_MAX);
    model->committed = grow(model->committed, &model->committed_capacity, (u32)offset + 1,
                            sizeof(struct model_committed));
    return &model->committed[offset];
}

static double ms(u64 ns) { return (double)ns / 1e6; }

/* ===== Replaying the events ===== */

static void on_node_start(struct model *model, const struct history_event *event)
{
    struct model_node *node = node_get(model, event->node);
    node->alive = true;
    node->role_known = false;
    node->length = 0; /* Memory is gone; recovery re-reports the log it finds on disk. */
    node->commit_next = 0;
    node->apply_next = 0;
}

static void on_fault(struct model *model, const struct history_event *event)
{
    if (event->a != HISTORY_FAULT_CRASH || event->d == 0 || event->b > UINT32_MAX) return;
    node_get(model, (u32)event->b)->alive = false;
}

/* A leader of epoch e must hold every entry committed in an earlier epoch. */
static void check_completeness(struct model *model, u32 index, const struct model_node *node)
{
    for (u64 offset = 0; offset < model->committed_end; offset++) {
        const struct model_committed *entry = &model->committed[offset];
        if (!entry->set || entry->commit_epoch >= node->epoch) continue;
        bool held = offset < node->length && node->entries[offset].epoch == entry->epoch &&
                    node->entries[offset].checksum == entry->checksum;
        if (held) continue;
        model_fail(model, index, "Event %u: node %u became leader of epoch %llu without the "
                   "entry at offset %llu (epoch %llu), which was committed in epoch %llu "
                   "(event %u): a new leader must hold every committed entry, or committed "
                   "data can be overwritten.", index, node->id, (unsigned long long)node->epoch,
                   (unsigned long long)offset, (unsigned long long)entry->epoch,
                   (unsigned long long)entry->commit_epoch, entry->event);
        return;
    }
}

static void on_role(struct model *model, u32 index, const struct history_event *event)
{
    struct model_node *node = node_get(model, event->node);
    node->role_known = true;
    node->role = (u32)event->b;
    node->epoch = event->a;
    node->leader = event->c;
    if (event->b != HISTORY_ROLE_OBSERVER) node->voter = true;
    if (event->b != HISTORY_ROLE_LEADER) return;
    node->leader = node->id;
    struct model_slot *slot = table_find(&model->leaders, event->a, 0, true);
    if (slot->value != 0 && slot->value != (u64)node->id + 1 &&
        model->which == CHECK_ELECTION_SAFETY) {
        model_fail(model, index, "Event %u: node %u became leader of epoch %llu, but node %llu "
                   "already led epoch %llu (event %u): two leaders in one epoch can each commit "
                   "different entries at the same offset.", index, node->id,
                   (unsigned long long)event->a, (unsigned long long)(slot->value - 1),
                   (unsigned long long)event->a, slot->event);
    }
    if (slot->value == 0) {
        slot->value = (u64)node->id + 1;
        slot->event = index;
    }
    if (model->which == CHECK_LEADER_COMPLETENESS) check_completeness(model, index, node);
}

static void on_voted(struct model *model, u32 index, const struct history_event *event)
{
    struct model_slot *slot = table_find(&model->votes, event->node, event->a, true);
    if (slot->value != 0 && slot->value != event->b + 1 &&
        model->which == CHECK_ELECTION_SAFETY) {
        model_fail(model, index, "Event %u: node %u voted for node %llu in epoch %llu after "
                   "voting for node %llu in the same epoch (event %u): a vote must be durable "
                   "before it is granted, or a crash lets a voter vote twice.", index,
                   event->node, (unsigned long long)event->b, (unsigned long long)event->a,
                   (unsigned long long)(slot->value - 1), slot->event);
    }
    if (slot->value == 0) {
        slot->value = event->b + 1;
        slot->event = index;
    }
}

static void on_appended(struct model *model, u32 index, const struct history_event *event)
{
    struct model_node *node = node_get(model, event->node);
    if (event->a != node->length) {
        if (model->which == CHECK_LOG_MATCHING) {
            model_fail(model, index, "Event %u: node %u appended at offset %llu, but its log "
                       "ended at offset %u: a log grows one entry at a time, and shrinks only "
                       "by a reported truncation.", index, node->id,
                       (unsigned long long)event->a, node->length);
        }
        if (event->a > node->length) return;
        node->length = (u32)event->a;
    }
    ASSERT(event->a < UINT32_MAX);
    node->entries = grow(node->entries, &node->capacity, node->length + 1,
                         sizeof(struct model_entry));
    u64 previous = node->length == 0 ? 0 : node->entries[node->length - 1].prefix;
    struct model_entry *entry = &node->entries[node->length++];
    entry->epoch = event->b;
    entry->checksum = event->c;
    entry->prefix = prefix_extend(previous, event->b, event->c);
    struct model_slot *slot = table_find(&model->prefixes, event->a, event->b, true);
    if (slot->value == 0) {
        slot->value = entry->prefix | 1; /* Never 0, which marks a fresh slot. */
        slot->event = index;
    } else if (slot->value != (entry->prefix | 1) && model->which == CHECK_LOG_MATCHING) {
        model_fail(model, index, "Event %u: node %u holds an entry at offset %llu of epoch %llu "
                   "whose log up to there differs from the one another node reported at event "
                   "%u: two logs with the same offset and epoch must be identical up to it.",
                   index, node->id, (unsigned long long)event->a, (unsigned long long)event->b,
                   slot->event);
    }
}

/* The node's log loses [end, length): none of it may be a committed entry. */
static void check_removal(struct model *model, u32 index, const struct model_node *node, u64 end,
                          const char *how)
{
    for (u64 offset = end; offset < node->length && offset < model->committed_end; offset++) {
        const struct model_committed *entry = &model->committed[offset];
        const struct model_entry *held = &node->entries[offset];
        if (!entry->set || held->epoch != entry->epoch || held->checksum != entry->checksum) {
            continue;
        }
        if (model->which == CHECK_COMMITTED_DURABLE) {
            model_fail(model, index, "Event %u: node %u %s offset %llu, removing the entry at "
                       "offset %llu (epoch %llu) that was committed at event %u: a committed "
                       "entry must never be removed.", index, node->id, how,
                       (unsigned long long)end, (unsigned long long)offset,
                       (unsigned long long)entry->epoch, entry->event);
        }
        break;
    }
}

static void on_truncated(struct model *model, u32 index, const struct history_event *event)
{
    struct model_node *node = node_get(model, event->node);
    u64 end = MIN(event->a, (u64)node->length);
    check_removal(model, index, node, end, "truncated its log to");
    node->length = (u32)end;
    node->commit_next = MIN(node->commit_next, end);
    node->apply_next = MIN(node->apply_next, end);
}

static void check_commit_consistent(struct model *model, u32 index,
                                    const struct model_node *node,
                                    const struct history_event *event)
{
    u64 offset = event->a;
    bool held = offset < node->length && node->entries[offset].epoch == event->b &&
                node->entries[offset].checksum == event->c;
    if (!held && model->which == CHECK_LOG_MATCHING) {
        model_fail(model, index, "Event %u: node %u reported offset %llu (epoch %llu) "
                   "committed, but its log holds no such entry there: a node can only commit "
                   "what its log holds.", index, node->id, (unsigned long long)offset,
                   (unsigned long long)event->b);
    }
    const struct model_committed *entry = &model->committed[offset];
    bool same = entry->epoch == event->b && entry->checksum == event->c;
    if (entry->set && !same &&
        (model->which == CHECK_COMMITTED_DURABLE || model->which == CHECK_LOG_MATCHING)) {
        model_fail(model, index, "Event %u: node %u reported a different entry committed at "
                   "offset %llu (epoch %llu) than the one committed there at event %u (epoch "
                   "%llu): committed entries must be identical on every node.", index,
                   node->id, (unsigned long long)offset, (unsigned long long)event->b,
                   entry->event, (unsigned long long)entry->epoch);
    }
}

static void on_committed(struct model *model, u32 index, const struct history_event *event)
{
    struct model_node *node = node_get(model, event->node);
    u64 offset = event->a;
    if (offset != node->commit_next && model->which == CHECK_APPLIED_PREFIX) {
        model_fail(model, index, "Event %u: node %u reported offset %llu committed, but the "
                   "next offset it should commit is %llu: commits are reported once per entry, "
                   "in offset order.", index, node->id, (unsigned long long)offset,
                   (unsigned long long)node->commit_next);
    }
    struct model_committed *entry = committed_at(model, offset);
    check_commit_consistent(model, index, node, event);
    bool fresh = !entry->set;
    if (fresh) {
        entry->set = true;
        entry->epoch = event->b;
        entry->checksum = event->c;
        /* Control records and the controller's own proposals are no client's values. */
        entry->control = (event->d & (HISTORY_ENTRY_CONTROL | HISTORY_ENTRY_PROPOSED)) != 0;
        entry->event = index;
        entry->commit_epoch = node->epoch;
    }
    entry->commit_epoch = MIN(entry->commit_epoch, node->epoch);
    node->commit_next = offset + 1;
    if (offset >= model->committed_end) {
        model->committed_end = offset + 1;
        if (model->healed && event->time_ns > model->heal_ns &&
            event->time_ns <= model->heal_ns + model->bound_ns) {
            model->commit_after_heal = true;
        }
        u64 from = model->which == CHECK_UNAVAILABLE ? model->params->unavailable_from_ns
                                                     : model->params->available_from_ns;
        u64 to = model->which == CHECK_UNAVAILABLE ? model->params->unavailable_to_ns
                                                   : model->params->available_to_ns;
        if (model->which == CHECK_AVAILABLE) from += model->params->liveness_bound_ns;
        bool inside = model->which == CHECK_UNAVAILABLE
                          ? event->time_ns > from && event->time_ns < to
                          : event->time_ns >= from && event->time_ns <= to;
        if (inside && !model->window_commit) {
            model->window_commit = true;
            model->window_event = index;
            model->window_offset = offset;
            model->window_ns = event->time_ns;
        }
    }
}

static void on_applied(struct model *model, u32 index, const struct history_event *event)
{
    struct model_node *node = node_get(model, event->node);
    u64 offset = event->a;
    if (model->which == CHECK_SNAPSHOT_CATCH_UP && model->fetched_seen &&
        node->id == model->fetched_node && offset >= model->fetched_end) {
        model->caught_up = true;
    }
    if (model->which != CHECK_APPLIED_PREFIX) return;
    if (offset != node->apply_next || offset >= node->commit_next) {
        model_fail(model, index, "Event %u: node %u applied offset %llu, but it had applied the "
                   "offsets below %llu and knew the offsets below %llu committed: a node "
                   "applies exactly the committed log, in order, each entry once.", index, node->id,
                   (unsigned long long)offset, (unsigned long long)node->apply_next,
                   (unsigned long long)node->commit_next);
        return;
    }
    node->apply_next = offset + 1;
    struct model_committed *entry = committed_at(model, offset);
    if (!entry->digest_set) {
        entry->digest_set = true;
        entry->digest = event->c;
        entry->digest_event = index;
    } else if (entry->digest != event->c) {
        model_fail(model, index, "Event %u: node %u's state after applying offset %llu has "
                   "digest %016llx, but another node had %016llx there (event %u): replicas "
                   "applying the same log must reach the same state.", index, node->id,
                   (unsigned long long)offset, (unsigned long long)event->c,
                   (unsigned long long)entry->digest, entry->digest_event);
    }
}

/* The node reported a snapshot ending at a (its last entry of epoch b, digest c there). */
static void on_snapshot(struct model *model, u32 index, const struct history_event *event)
{
    struct model_node *node = node_get(model, event->node);
    u64 end = event->a;
    bool judge = model->which == CHECK_APPLIED_PREFIX;
    if (end == 0 || end >= UINT32_MAX) {
        if (judge) {
            model_fail(model, index, "Event %u: node %u reported a snapshot ending at offset "
                       "%llu: a snapshot covers at least one entry.", index, node->id,
                       (unsigned long long)end);
        }
        return;
    }
    struct model_committed *last = committed_at(model, end - 1); /* Room for [0, end). */
    for (u64 offset = 0; offset < end && judge; offset++) {
        if (model->committed[offset].set) continue;
        model_fail(model, index, "Event %u: node %u reported a snapshot ending at offset %llu, "
                   "but offset %llu was never committed: a snapshot holds only committed "
                   "state.", index, node->id, (unsigned long long)end,
                   (unsigned long long)offset);
        return;
    }
    if (judge) {
        if (last->epoch != event->b) {
            model_fail(model, index, "Event %u: node %u's snapshot ends at offset %llu with "
                       "epoch %llu, but the entry committed there has epoch %llu (event %u).",
                       index, node->id, (unsigned long long)end, (unsigned long long)event->b,
                       (unsigned long long)last->epoch, last->event);
        } else if (last->digest_set && last->digest != event->c) {
            model_fail(model, index, "Event %u: node %u's snapshot ending at offset %llu "
                       "carries state digest %016llx, but the replicas had %016llx after "
                       "applying offset %llu (event %u): a snapshot must be exactly the state "
                       "the committed log builds.", index, node->id, (unsigned long long)end,
                       (unsigned long long)event->c, (unsigned long long)last->digest,
                       (unsigned long long)(end - 1), last->digest_event);
        } else if (event->d == HISTORY_SNAPSHOT_TAKEN && end > node->apply_next) {
            model_fail(model, index, "Event %u: node %u took a snapshot ending at offset %llu "
                       "but had applied only the offsets below %llu.", index, node->id,
                       (unsigned long long)end, (unsigned long long)node->apply_next);
        }
    }
    if (!last->digest_set) {
        last->digest_set = true;
        last->digest = event->c;
        last->digest_event = index;
    }
    if (event->d == HISTORY_SNAPSHOT_TAKEN) return; /* Its log and state go on unchanged. */
    /* The node's state is now the snapshot's and its log restarts at end: below end it holds
     * what was committed, whatever it held beyond is gone (a fetched snapshot replaces the log). */
    check_removal(model, index, node, end, "installed a snapshot and restarted its log at");
    node->entries = grow(node->entries, &node->capacity, (u32)end, sizeof(struct model_entry));
    u64 previous = 0;
    for (u64 offset = 0; offset < end; offset++) {
        const struct model_committed *entry = &model->committed[offset];
        struct model_entry *held = &node->entries[offset];
        held->epoch = entry->epoch;
        held->checksum = entry->checksum;
        held->prefix = prefix_extend(previous, entry->epoch, entry->checksum);
        previous = held->prefix;
    }
    node->length = (u32)end;
    node->commit_next = end;
    node->apply_next = end;
    if (event->d == HISTORY_SNAPSHOT_FETCHED && !model->fetched_seen) {
        model->fetched_seen = true;
        model->fetched_node = node->id;
        model->fetched_end = end;
    }
}

static void finish_snapshot_catch_up(struct model *model)
{
    u32 last = model->history->count == 0 ? 0 : model->history->count - 1;
    if (!model->fetched_seen) {
        model_fail(model, last, "No node installed a snapshot fetched from the leader: the "
                   "scenario expects a node that fell behind the leader's log start to catch up "
                   "through FetchSnapshot.");
    } else if (!model->caught_up) {
        model_fail(model, last, "Node %u installed the leader's snapshot ending at offset %llu "
                   "but never applied an entry after it: it did not catch up.",
                   model->fetched_node, (unsigned long long)model->fetched_end);
    }
}

static void on_client(struct model *model, u32 index, const struct history_event *event)
{
    if (model->which != CHECK_CLIENT_ACKS) return;
    if (event->kind == HISTORY_CLIENT_INVOKE) {
        struct model_slot *slot = table_find(&model->invoked, event->node, event->a, true);
        slot->value = event->c;
        slot->event = index;
        table_find(&model->values, event->c, 0, true)->value = 1;
        return;
    }
    struct model_slot *slot = table_find(&model->invoked, event->node, event->a, false);
    if (slot == NULL) {
        model_fail(model, index, "Event %u: client %u reported an outcome for operation %llu, "
                   "which it never invoked.", index, event->node, (unsigned long long)event->a);
        return;
    }
    if (event->kind == HISTORY_CLIENT_FAIL) {
        table_find(&model->values, slot->value, 2, true)->value = index + 1;
    } else if (event->kind == HISTORY_CLIENT_OK) {
        model->acks = grow(model->acks, &model->ack_capacity, model->ack_count + 1,
                           sizeof(struct model_ack));
        model->acks[model->ack_count++] = (struct model_ack){
            .event = index, .client = event->node, .operation = event->a, .offset = event->b,
            .checksum = slot->value};
    }
}

/* ===== After the replay ===== */

static void finish_client_acks(struct model *model)
{
    for (u32 i = 0; i < model->ack_count; i++) {
        const struct model_ack *ack = &model->acks[i];
        const struct model_committed *entry =
            ack->offset < model->committed_end ? &model->committed[ack->offset] : NULL;
        if (entry != NULL && entry->set && entry->checksum == ack->checksum) continue;
        model_fail(model, ack->event, "Event %u: client %u was told operation %llu was "
                   "committed at offset %llu, but %s: an acknowledged write must be in the "
                   "committed log where the client was told.", ack->event, ack->client,
                   (unsigned long long)ack->operation, (unsigned long long)ack->offset,
                   entry == NULL || !entry->set ? "no node ever committed that offset"
                                                : "a different value was committed there");
        return;
    }
    for (u64 offset = 0; offset < model->committed_end; offset++) {
        const struct model_committed *entry = &model->committed[offset];
        if (!entry->set || entry->control) continue;
        const char *problem = NULL;
        if (table_find(&model->values, entry->checksum, 0, false) == NULL) {
            problem = "no client ever invoked that value";
        } else if (table_find(&model->values, entry->checksum, 2, false) != NULL) {
            problem = "the client was told the operation definitely failed";
        } else {
            struct model_slot *seen = table_find(&model->values, entry->checksum, 1, true);
            if (seen->value != 0) problem = "the same value was already committed earlier";
            seen->value = offset + 1;
        }
        if (problem == NULL) continue;
        model_fail(model, entry->event, "Event %u: a value was committed at offset %llu "
                   "(epoch %llu), but %s.", entry->event, (unsigned long long)offset,
                   (unsigned long long)entry->epoch, problem);
        return;
    }
}

static bool agreement(const struct model *model)
{
    for (u32 l = 0; l < model->node_count; l++) {
        const struct model_node *leader = &model->nodes[l];
        if (!leader->alive || !leader->role_known || leader->role != HISTORY_ROLE_LEADER) {
            continue;
        }
        bool all = true;
        for (u32 i = 0; i < model->node_count && all; i++) {
            const struct model_node *node = &model->nodes[i];
            if (!node->voter || !node->alive || node == leader) continue;
            all = node->role_known && node->role == HISTORY_ROLE_FOLLOWER &&
                  node->epoch == leader->epoch && node->leader == leader->id;
        }
        if (all) return true;
    }
    return false;
}

static void finish_liveness(struct model *model)
{
    u32 last = model->history->count == 0 ? 0 : model->history->count - 1;
    if (!model->healed) return; /* Nothing healed: nothing promised. */
    u64 bound_ms = model->bound_ns / NS_PER_MS;
    if (!model->agreement_seen) {
        model_fail(model, last, "Within %llu ms after the faults healed at %.3f ms, there was "
                   "never a moment when one live leader was followed by every live voter: the "
                   "cluster did not settle on a leader.", (unsigned long long)bound_ms,
                   ms(model->heal_ns));
        return;
    }
    if (!model->commit_after_heal) {
        model_fail(model, last, "Within %llu ms after the faults healed at %.3f ms, no new "
                   "entry was committed: the healed cluster made no progress.",
                   (unsigned long long)bound_ms, ms(model->heal_ns));
        return;
    }
    if (!model->reference_taken) model->reference_committed_end = model->committed_end;
    for (u32 i = 0; i < model->node_count; i++) {
        const struct model_node *node = &model->nodes[i];
        if (!node->voter || !node->alive || node->commit_next >= model->reference_committed_end) {
            continue;
        }
        model_fail(model, last, "At the end of the run, live voter %u knew offsets below %llu "
                   "committed, but offsets below %llu had been committed by %.3f ms: the live "
                   "voters did not converge on the committed log (bound %llu ms).", node->id,
                   (unsigned long long)node->commit_next,
                   (unsigned long long)model->reference_committed_end, ms(model->reference_ns),
                   (unsigned long long)bound_ms);
        return;
    }
}

static void finish_windows(struct model *model)
{
    const struct check_params *p = model->params;
    u32 last = model->history->count == 0 ? 0 : model->history->count - 1;
    if (model->which == CHECK_UNAVAILABLE) {
        if (p->unavailable_from_ns == 0 && p->unavailable_to_ns == 0) return;
        if (!model->window_commit) return;
        model_fail(model, model->window_event, "Event %u: offset %llu was committed at %.3f ms, "
                   "inside the window %.3f..%.3f ms where the cluster was expected to commit "
                   "nothing (no majority could be formed).", model->window_event,
                   (unsigned long long)model->window_offset, ms(model->window_ns),
                   ms(p->unavailable_from_ns), ms(p->unavailable_to_ns));
        return;
    }
    if (p->available_from_ns == 0 && p->available_to_ns == 0) return;
    if (model->window_commit) return;
    model_fail(model, last, "Nothing new was committed between %.3f ms and %.3f ms (the window "
               "%.3f..%.3f ms, allowing %llu ms to elect a leader), though a majority was "
               "expected to stay available.", ms(p->available_from_ns + p->liveness_bound_ns),
               ms(p->available_to_ns), ms(p->available_from_ns), ms(p->available_to_ns),
               (unsigned long long)(p->liveness_bound_ns / NS_PER_MS));
}

/* ===== The replay and the checker table ===== */

static void liveness_step(struct model *model, const struct history_event *event)
{
    if (!model->healed) return;
    if (!model->reference_taken && event->time_ns > model->reference_ns) {
        model->reference_taken = true;
        model->reference_committed_end = model->committed_end;
    }
}

static void liveness_after(struct model *model, const struct history_event *event)
{
    if (!model->healed || model->agreement_seen) return;
    if (event->time_ns > model->heal_ns + model->bound_ns) return;
    if (agreement(model)) model->agreement_seen = true;
}

static void on_healed(struct model *model, const struct history_event *event)
{
    model->healed = true;
    model->heal_ns = event->time_ns;
    model->bound_ns = model->params->liveness_bound_ns != 0 ? model->params->liveness_bound_ns
                                                            : event->a;
    u64 settle = model->heal_ns + model->bound_ns;
    u64 tail = model->end_ns > NS_PER_S ? model->end_ns - NS_PER_S : 0;
    model->reference_ns = MIN(MAX(settle, tail), model->end_ns);
    model->agreement_seen = false;
    model->commit_after_heal = false;
    model->reference_taken = false;
}

static void replay_event(struct model *model, u32 index, const struct history_event *event)
{
    switch (event->kind) {
    case HISTORY_NODE_START: on_node_start(model, event); break;
    case HISTORY_FAULT: on_fault(model, event); break;
    case HISTORY_HEALED: on_healed(model, event); break;
    case HISTORY_QUORUM_ROLE: on_role(model, index, event); break;
    case HISTORY_QUORUM_VOTED: on_voted(model, index, event); break;
    case HISTORY_QUORUM_APPENDED: on_appended(model, index, event); break;
    case HISTORY_QUORUM_TRUNCATED: on_truncated(model, index, event); break;
    case HISTORY_QUORUM_COMMITTED: on_committed(model, index, event); break;
    case HISTORY_QUORUM_APPLIED: on_applied(model, index, event); break;
    case HISTORY_QUORUM_SNAPSHOT: on_snapshot(model, index, event); break;
    case HISTORY_CLIENT_INVOKE:
    case HISTORY_CLIENT_OK:
    case HISTORY_CLIENT_FAIL:
    case HISTORY_CLIENT_UNKNOWN: on_client(model, index, event); break;
    default: break;
    }
}

static void model_free(struct model *model)
{
    for (u32 i = 0; i < model->node_count; i++) free(model->nodes[i].entries);
    free(model->nodes);
    free(model->committed);
    free(model->leaders.slots);
    free(model->votes.slots);
    free(model->prefixes.slots);
    free(model->invoked.slots);
    free(model->values.slots);
    free(model->acks);
}

static void replay(const struct history *history, const struct check_params *params,
                   enum check_which which, struct check_outcome *outcome)
{
    memset(outcome, 0, sizeof(*outcome));
    outcome->passed = true;
    struct model model;
    memset(&model, 0, sizeof(model));
    model.history = history;
    model.params = params;
    model.which = which;
    model.outcome = outcome;
    model.end_ns = history->count == 0 ? 0 : history->events[history->count - 1].time_ns;
    for (u32 i = 0; i < history->count && outcome->passed; i++) {
        const struct history_event *event = &history->events[i];
        if (event->kind == HISTORY_RUN_END) break;
        liveness_step(&model, event);
        replay_event(&model, i, event);
        liveness_after(&model, event);
    }
    if (outcome->passed && which == CHECK_CLIENT_ACKS) finish_client_acks(&model);
    if (outcome->passed && which == CHECK_LIVENESS) finish_liveness(&model);
    if (outcome->passed && (which == CHECK_UNAVAILABLE || which == CHECK_AVAILABLE)) {
        finish_windows(&model);
    }
    if (outcome->passed && which == CHECK_SNAPSHOT_CATCH_UP) finish_snapshot_catch_up(&model);
    if (outcome->passed) snprintf(outcome->message, sizeof(outcome->message), "ok");
    model_free(&model);
}

#define MODEL_CHECKER(function, which)                                                    \
    static void function(const struct history *history, const struct check_params *params,  \
                         struct check_outcome *outcome)                                   \
    {                                                                                     \
        replay(history, params, which, outcome);                                          \
    }
MODEL_CHECKER(check_election_safety, CHECK_ELECTION_SAFETY)
MODEL_CHECKER(check_log_matching, CHECK_LOG_MATCHING)
MODEL_CHECKER(check_leader_completeness, CHECK_LEADER_COMPLETENESS)
MODEL_CHECKER(check_committed_durable, CHECK_COMMITTED_DURABLE)
MODEL_CHECKER(check_applied_prefix, CHECK_APPLIED_PREFIX)
MODEL_CHECKER(check_client_acks, CHECK_CLIENT_ACKS)
MODEL_CHECKER(check_liveness, CHECK_LIVENESS)
MODEL_CHECKER(check_unavailable_window, CHECK_UNAVAILABLE)
MODEL_CHECKER(check_available_window, CHECK_AVAILABLE)
MODEL_CHECKER(check_snapshot_catch_up, CHECK_SNAPSHOT_CATCH_UP)

const struct checker model_checkers[] = {
    {"election-safety", "At most one leader per epoch, and at most one vote per voter per epoch.",
     check_election_safety},
    {"log-matching", "Logs with an entry of the same offset and epoch are identical up to it; "
     "nodes commit only what they hold.", check_log_matching},
    {"leader-completeness", "A new leader holds every entry committed in an earlier epoch.",
     check_leader_completeness},
    {"committed-durable", "A committed entry is never truncated away, nor replaced by another.",
     check_committed_durable},
    {"applied-prefix", "Each node applies exactly the committed log, in order, and replicas "
     "agree on the state after every offset.", check_applied_prefix},
    {"client-acks", "Every acknowledged value is committed where the client was told; every "
     "committed value was invoked once and never reported failed.", check_client_acks},
    {"liveness", "After the faults heal, the live voters settle on one leader, commit something "
     "new and converge on the committed log within the liveness bound.", check_liveness},
    {"unavailable-window", "Nothing new is committed inside the expected unavailability window.",
     check_unavailable_window},
    {"available-window", "Something new is committed inside the expected availability window.",
     check_available_window},
    {"snapshot-catch-up", "Some node installs a snapshot fetched from the leader (FetchSnapshot) "
     "and then applies entries after it.", check_snapshot_catch_up},
    KAFKA_CHECKER_ENTRIES,
    CONTROLLER_CHECKER_ENTRIES,
    REPLICATION_CHECKER_ENTRIES,
    GROUP_CHECKER_ENTRIES,
};
const u32 model_checker_count = (u32)ARRAY_LEN(model_checkers);

const struct checker *model_checker_find(const char *name)
{
    ASSERT(name != NULL);
    for (u32 i = 0; i < model_checker_count; i++) {
        if (strcmp(model_checkers[i].name, name) == 0) return &model_checkers[i];
    }
    return NULL;
}
