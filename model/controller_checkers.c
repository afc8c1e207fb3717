/* controller_checkers.c: the checkers that judge the active controller's decisions.
 *
 * Every node reports each metadata record it applies that changes a partition or a broker
 * (HISTORY_METADATA_* in history.h), named by its place in the metadata log: (offset, record
 * index). All nodes apply the same log, so one replay merges their reports into one timeline
 * per partition and per broker, sorted by place; a report of a place already known must agree
 * with it. A node that installed a snapshot reports nothing for the records the snapshot
 * covered, so a timeline may miss states that no node applied record by record: a rule that
 * compares two states only judges them when they are consecutive (partition epochs one apart:
 * every change bumps the partition epoch by exactly one), and a state nobody reported is
 * never guessed.
 *
 * What each node's image holds at a moment is read from the timelines at the node's applied
 * offset (HISTORY_QUORUM_APPLIED, or a snapshot's end), which is what the convergence checker
 * judges. Every node is taken to be a broker as well (the simulator gives every node the
 * broker role), so every live node must end up registered and unfenced.
 *
 * Tested by tests/unit/test_model_controller.c: crafted histories that break each rule are
 * caught, good ones pass. */
#include "controller_checkers.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum cc_which { CC_EPOCHS, CC_CLEAN, CC_FENCED, CC_CONVERGES };

#define CC_RECORD_END UINT32_MAX /* A place after every record of an entry. */

struct cc_place {
    i64 offset;
    u32 record;
};

struct cc_point { /* One partition state, or its removal, at a place in the log. */
    struct cc_place place;
    bool removed;
    struct history_partition_state state;
    u32 event;
    u32 node;
};

struct cc_partition {
    u64 topic;
    u32 index;
    struct cc_point *points; /* Sorted by place. */
    u32 count, capacity;
};

struct cc_broker_point {
    struct cc_place place;
    u32 state; /* enum history_broker_state bits; 0: not registered. */
    u32 event;
};

struct cc_broker {
    u32 id;
    struct cc_broker_point *points; /* Sorted by place. */
    u32 count, capacity;
};

struct cc_topic {
    u64 hash;
    char name[64];
};

struct cc_node {
    u32 id;
    bool alive;
    i64 applied;             /* The last metadata offset its image holds (-1: none). */
    i64 applying;            /* Reported applied; its records are still being reported. */
    u64 applying_ns;
    struct cc_place reported; /* The last place it reported in this life. */
    bool reported_any;
};

struct cc_model {
    const struct history *history;
    const struct check_params *params;
    enum cc_which which;
    struct check_outcome *outcome;
    struct cc_partition *partitions; /* Sorted by (topic, index). */
    u32 partition_count, partition_capacity;
    struct cc_broker *brokers; /* Sorted by id. */
    u32 broker_count, broker_capacity;
    struct cc_topic *topics;
    u32 topic_count, topic_capacity;
    struct cc_node *nodes; /* In order of first appearance. */
    u32 node_count, node_capacity;
    bool unclean_static;
    struct cc_place *unclean; /* Places where an override turned unclean election on. */
    u32 unclean_count, unclean_capacity;
    i64 boundary_checked; /* Entries up to here were judged for fenced leaders. */
    /* What was judged, for the pass message. */
    u32 states, elections, elections_judged, boundaries;
    /* Convergence. */
    bool healed;
    u64 heal_ns, bound_ns;
    bool converged_seen;
    u64 converged_ns;
    char not_converged[200]; /* Why, at the last look inside the bound. */
};

/* ===== Small tools ===== */

static void *cc_grow(void *array, u32 *capacity, u32 needed, size_t element)
{
    if (needed <= *capacity) return array;
    u32 next = *capacity == 0 ? 16 : *capacity;
    while (next < needed) next *= 2;
    u8 *grown = realloc(array, (size_t)next * element);
    ASSERT(grown != NULL);
    memset(grown + (size_t)*capacity * element, 0, (size_t)(next - *capacity) * element);
    *capacity = next;
    return grown;
}

static int cc_place_compare(struct cc_place a, struct cc_place b)
{
    if (a.offset != b.offset) return a.offset < b.offset ? -1 : 1;
    if (a.record != b.record) return a.record < b.record ? -1 : 1;
    return 0;
}

static void cc_fail(struct cc_model *model, u32 event, const char *format, ...) PRINTF_LIKE(3, 4);
static void cc_fail(struct cc_model *model, u32 event, const char *format, ...)
{
    if (!model->outcome->passed) return; /* The first violation is the one reported. */
    model->outcome->passed = false;
    model->outcome->event_index = event;
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(model->outcome->message, sizeof(model->outcome->message), format, arguments);
    va_end(arguments);
}

static double cc_ms(u64 ns) { return (double)ns / 1e6; }

static bool cc_has(u64 mask, i32 id) { return id >= 0 && id < 64 && ((mask >> id) & 1); }

/* "t-3", or the topic's hash when its name was never reported. */
static const char *cc_partition_name(const struct cc_model *model, const struct cc_partition *p,
                                     char *buffer, u32 size)
{
    for (u32 i = 0; i < model->topic_count; i++) {
        if (model->topics[i].hash != p->topic) continue;
        snprintf(buffer, size, "%s-%u", model->topics[i].name, p->index);
        return buffer;
    }
    snprintf(buffer, size, "%016" PRIx64 "-%u", p->topic, p->index);
    return buffer;
}

/* ===== Lookups ===== */

static struct cc_node *cc_node(struct cc_model *model, u32 id)
{
    for (u32 i = 0; i < model->node_count; i++) {
        if (model->nodes[i].id == id) return &model->nodes[i];
    }
    model->nodes = cc_grow(model->nodes, &model->node_capacity, model->node_count + 1,
                           sizeof(*model->nodes));
    struct cc_node *node = &model->nodes[model->node_count++];
    node->id = id;
    node->alive = true;
    node->applied = -1;
    node->applying = -1;
    return node;
}

static struct cc_partition *cc_partition(struct cc_model *model, u64 topic, u32 index,
                                         bool insert)
{
    u32 low = 0, high = model->partition_count;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        const struct cc_partition *p = &model->partitions[middle];
        bool below = p->topic < topic || (p->topic == topic && p->index < index);
        if (below) low = middle + 1;
        else high = middle;
    }
    if (low < model->partition_count && model->partitions[low].topic == topic &&
        model->partitions[low].index == index) {
        return &model->partitions[low];
    }
    if (!insert) return NULL;
    model->partitions = cc_grow(model->partitions, &model->partition_capacity,
                                model->partition_count + 1, sizeof(*model->partitions));
    memmove(&model->partitions[low + 1], &model->partitions[low],
            (model->partition_count - low) * sizeof(*model->partitions));
    model->partition_count++;
    struct cc_partition *p = &model->partitions[low];
    memset(p, 0, sizeof(*p));
    p->topic = topic;
    p->index = index;
    return p;
}

static struct cc_broker *cc_broker(struct cc_model *model, u32 id, bool insert)
{
    u32 low = 0, high = model->broker_count;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        if (model->brokers[middle].id < id) low = middle + 1;
        else high = middle;
    }
    if (low < model->broker_count && model->brokers[low].id == id) return &model->brokers[low];
    if (!insert) return NULL;
    model->brokers = cc_grow(model->brokers, &model->broker_capacity, model->broker_count + 1,
                             sizeof(*model->brokers));
    memmove(&model->brokers[low + 1], &model->brokers[low],
            (model->broker_count - low) * sizeof(*model->brokers));
    model->broker_count++;
    struct cc_broker *broker = &model->brokers[low];
    memset(broker, 0, sizeof(*broker));
    broker->id = id;
    return broker;
}

/* The index of the first point of p at or after place (p->count when none). */
static u32 cc_point_search(const struct cc_partition *p, struct cc_place place)
{
    u32 low = 0, high = p->count;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        if (cc_place_compare(p->points[middle].place, place) < 0) low = middle + 1;
        else high = middle;
    }
    return low;
}

/* The partition's state at place (the last point at or before it), NULL when unknown. */
static const struct cc_point *cc_state_at(const struct cc_partition *p, struct cc_place place)
{
    u32 after = cc_point_search(p, place);
    if (after < p->count && cc_place_compare(p->points[after].place, place) == 0) {
        return &p->points[after];
    }
    return after == 0 ? NULL : &p->points[after - 1];
}

/* The broker's state at place (strictly before it when strict); false when unknown. */
static bool cc_broker_at(const struct cc_model *model, i32 id, struct cc_place place, bool strict,
                         const struct cc_broker_point **point)
{
    *point = NULL;
    if (id < 0) return false;
    const struct cc_broker *broker = NULL;
    for (u32 i = 0; i < model->broker_count && broker == NULL; i++) {
        if (model->brokers[i].id == (u32)id) broker = &model->brokers[i];
    }
    if (broker == NULL) return false;
    for (u32 i = broker->count; i > 0; i--) {
        int order = cc_place_compare(broker->points[i - 1].place, place);
        if (order < 0 || (order == 0 && !strict)) {
            *point = &broker->points[i - 1];
            return true;
        }
    }
    return false;
}

static bool cc_unclean_at(const struct cc_model *model, struct cc_place place)
{
    if (model->unclean_static) return true;
    for (u32 i = 0; i < model->unclean_count; i++) {
        if (cc_place_compare(model->unclean[i], place) <= 0) return true;
    }
    return false;
}

/* ===== Rules on partition states ===== */

static bool cc_same_state(const struct cc_point *a, const struct cc_point *b)
{
    if (a->removed != b->removed) return false;
    if (a->removed) return true;
    const struct history_partition_state *x = &a->state, *y = &b->state;
    return x->leader == y->leader && x->leader_epoch == y->leader_epoch &&
           x->partition_epoch == y->partition_epoch && x->isr == y->isr &&
           x->replicas == y->replicas && x->flags == y->flags;
}

/* An election: a state whose leader epoch moved past before's (or the partition's first). */
static bool cc_is_election(const struct cc_point *before, const struct cc_point *after)
{
    if (after->removed || after->state.leader < 0) return false;
    if (before == NULL) return after->state.partition_epoch == 0;
    return !before->removed && after->state.leader_epoch > before->state.leader_epoch;
}

static void cc_judge_single(struct cc_model *model, const struct cc_partition *p,
                            const struct cc_point *point)
{
    if (model->which != CC_EPOCHS || point->removed) return;
    const struct history_partition_state *s = &point->state;
    if (s->leader < 0 || cc_has(s->isr, s->leader) || (s->flags & HISTORY_BROKER_IDS_OVERFLOW)) {
        return;
    }
    char name[96];
    cc_fail(model, point->event, "Event %u: node %u applied offset %" PRIi64 " record %u, "
            "which makes broker %d the leader of partition %s (leader epoch %d) while its ISR "
            "(mask %#" PRIx64 ") does not hold it: a leader must be in sync, or it can serve "
            "a log missing acknowledged records.", point->event, point->node,
            point->place.offset, point->place.record, s->leader,
            cc_partition_name(model, p, name, sizeof(name)), s->leader_epoch, s->isr);
}

static void cc_judge_epochs(struct cc_model *model, const struct cc_partition *p,
                            const struct cc_point *a, const struct cc_point *b)
{
    const struct history_partition_state *x = &a->state, *y = &b->state;
    const char *broken = NULL;
    if (y->partition_epoch <= x->partition_epoch) {
        broken = "the partition epoch did not grow (every change must bump it, so a stale "
                 "AlterPartition can be refused)";
    } else if (y->leader_epoch < x->leader_epoch) {
        broken = "the leader epoch went backwards (a deposed leader could be accepted again)";
    } else if (y->leader != x->leader && y->leader_epoch == x->leader_epoch) {
        broken = "the leader changed within one leader epoch (two leaders would share it, and "
                 "followers could not tell them apart)";
    }
    if (broken == NULL) return;
    char name[96];
    u32 event = MAX(a->event, b->event);
    cc_fail(model, event, "Event %u: partition %s went from leader %d, leader epoch %d, "
            "partition epoch %d (offset %" PRIi64 " record %u, event %u) to leader %d, leader "
            "epoch %d, partition epoch %d (offset %" PRIi64 " record %u, event %u): %s.",
            event, cc_partition_name(model, p, name, sizeof(name)), x->leader, x->leader_epoch,
            x->partition_epoch, a->place.offset, a->place.record, a->event, y->leader,
            y->leader_epoch, y->partition_epoch, b->place.offset, b->place.record, b->event,
            broken);
}

static void cc_judge_clean(struct cc_model *model, const struct cc_partition *p,
                           const struct cc_point *a, const struct cc_point *b)
{
    const struct history_partition_state *x = &a->state, *y = &b->state;
    if (y->partition_epoch != x->partition_epoch + 1) return; /* Not consecutive: unknown. */
    model->elections_judged++;
    if (cc_has(x->isr, y->leader) || ((x->flags | y->flags) & HISTORY_BROKER_IDS_OVERFLOW)) {
        return;
    }
    if (cc_unclean_at(model, b->place)) return;
    char name[96];
    u32 event = MAX(a->event, b->event);
    cc_fail(model, event, "Event %u: partition %s elected broker %d leader (leader epoch %d, "
            "offset %" PRIi64 " record %u), but the ISR just before (mask %#" PRIx64 ", "
            "partition epoch %d, event %u) did not hold it, and unclean.leader.election.enable "
            "is off: a replica outside the ISR may lack acknowledged records, so electing it "
            "loses them.", event, cc_partition_name(model, p, name, sizeof(name)), y->leader,
            y->leader_epoch, b->place.offset, b->place.record, x->isr, x->partition_epoch,
            a->event);
}

static void cc_judge_fenced_election(struct cc_model *model, const struct cc_partition *p,
                                     const struct cc_point *b)
{
    const struct cc_broker_point *broker = NULL;
    if (!cc_broker_at(model, b->state.leader, b->place, true, &broker)) return;
    model->elections_judged++;
    bool usable = (broker->state & HISTORY_BROKER_REGISTERED) &&
                  !(broker->state & HISTORY_BROKER_FENCED);
    if (usable) return;
    char name[96];
    cc_fail(model, b->event, "Event %u: partition %s elected broker %d leader (leader epoch %d, "
            "offset %" PRIi64 " record %u) while that broker was %s (since offset %" PRIi64
            ", event %u): a fenced broker has lost its session with the controller and may be "
            "dead or cut off, so it must not be handed leadership.", b->event,
            cc_partition_name(model, p, name, sizeof(name)), b->state.leader,
            b->state.leader_epoch, b->place.offset, b->place.record,
            (broker->state & HISTORY_BROKER_REGISTERED) ? "fenced" : "not registered",
            broker->place.offset, broker->event);
}

/* Judges two neighbouring points of the timeline (a before b). */
static void cc_judge_pair(struct cc_model *model, const struct cc_partition *p,
                          const struct cc_point *a, const struct cc_point *b)
{
    if (b->removed) return;
    if (a != NULL && a->removed) {
        if (model->which == CC_EPOCHS) {
            char name[96];
            cc_fail(model, b->event, "Event %u: partition %s has a state at offset %" PRIi64
                    " although its topic was removed at offset %" PRIi64 " (event %u): a "
                    "removed topic's id is never reused.", b->event,
                    cc_partition_name(model, p, name, sizeof(name)), b->place.offset,
                    a->place.offset, a->event);
        }
        return;
    }
    bool election = cc_is_election(a, b);
    if (model->which == CC_EPOCHS && a != NULL) cc_judge_epochs(model, p, a, b);
    if (model->which == CC_CLEAN && election && a != NULL) cc_judge_clean(model, p, a, b);
    if (model->which == CC_FENCED && election) cc_judge_fenced_election(model, p, b);
}

/* ===== Replaying the reports ===== */

/* Each node applies the log once, in order, within one life. */
static void cc_node_reported(struct cc_model *model, u32 index, const struct history_event *event)
{
    struct cc_node *node = cc_node(model, event->node);
    struct cc_place place = {(i64)event->a, (u32)event->b};
    if (node->reported_any && cc_place_compare(place, node->reported) <= 0 &&
        model->which == CC_EPOCHS) {
        cc_fail(model, index, "Event %u: node %u applied offset %" PRIi64 " record %u after "
                "offset %" PRIi64 " record %u, without restarting: each node applies the "
                "metadata log once and in order, or its epochs would go back.", index,
                node->id, place.offset, place.record, node->reported.offset,
                node->reported.record);
    }
    node->reported = place;
    node->reported_any = true;
}

static void cc_add_point(struct cc_model *model, u32 index, struct cc_partition *p,
                         const struct cc_point *point)
{
    u32 at = cc_point_search(p, point->place);
    if (at < p->count && cc_place_compare(p->points[at].place, point->place) == 0) {
        const struct cc_point *known = &p->points[at];
        if (!cc_same_state(known, point) && model->which == CC_EPOCHS) {
            char name[96];
            cc_fail(model, index, "Event %u: node %u applied offset %" PRIi64 " record %u to "
                    "partition %s as leader %d, leader epoch %d, partition epoch %d, ISR %#"
                    PRIx64 ", but node %u had applied the same record as leader %d, leader "
                    "epoch %d, partition epoch %d, ISR %#" PRIx64 " (event %u): every node "
                    "must build the same image from the same log.", index, point->node,
                    point->place.offset, point->place.record,
                    cc_partition_name(model, p, name, sizeof(name)), point->state.leader,
                    point->state.leader_epoch, point->state.partition_epoch, point->state.isr,
                    known->node, known->state.leader, known->state.leader_epoch,
                    known->state.partition_epoch, known->state.isr, known->event);
        }
        return;
    }
    p->points = cc_grow(p->points, &p->capacity, p->count + 1, sizeof(*p->points));
    memmove(&p->points[at + 1], &p->points[at], (p->count - at) * sizeof(*p->points));
    p->points[at] = *point;
    p->count++;
    model->states++;
    const struct cc_point *added = &p->points[at];
    const struct cc_point *before = at > 0 ? &p->points[at - 1] : NULL;
    const struct cc_point *after = at + 1 < p->count ? &p->points[at + 1] : NULL;
    if (cc_is_election(before, added)) model->elections++;
    cc_judge_single(model, p, added);
    cc_judge_pair(model, p, before, added);
    if (after != NULL) cc_judge_pair(model, p, added, after);
}

static void on_partition(struct cc_model *model, u32 index, const struct history_event *event)
{
    struct history_partition_state state;
    if (event->data_size != sizeof(state) || event->d > UINT32_MAX) {
        cc_fail(model, index, "Event %u: node %u reported a partition state of %u bytes; "
                "expected %zu.", index, event->node, event->data_size, sizeof(state));
        return;
    }
    memcpy(&state, model->history->data + event->data_offset, sizeof(state));
    cc_node_reported(model, index, event);
    struct cc_partition *p = cc_partition(model, event->c, (u32)event->d, true);
    struct cc_point point = {.place = {(i64)event->a, (u32)event->b}, .state = state,
                             .event = index, .node = event->node};
    cc_add_point(model, index, p, &point);
}

static void on_topic_removed(struct cc_model *model, u32 index, const struct history_event *event)
{
    cc_node_reported(model, index, event);
    for (u32 i = 0; i < model->partition_count; i++) {
        struct cc_partition *p = &model->partitions[i];
        if (p->topic != event->c) continue;
        struct cc_point point = {.place = {(i64)event->a, (u32)event->b}, .removed = true,
                                 .event = index, .node = event->node};
        cc_add_point(model, index, p, &point);
    }
}

static void on_topic(struct cc_model *model, u32 index, const struct history_event *event)
{
    cc_node_reported(model, index, event);
    for (u32 i = 0; i < model->topic_count; i++) {
        if (model->topics[i].hash == event->c) return;
    }
    model->topics = cc_grow(model->topics, &model->topic_capacity, model->topic_count + 1,
                            sizeof(*model->topics));
    struct cc_topic *topic = &model->topics[model->topic_count++];
    topic->hash = event->c;
    u32 size = MIN(event->data_size, (u32)sizeof(topic->name) - 1);
    memcpy(topic->name, model->history->data + event->data_offset, size);
    topic->name[size] = '\0';
}

static void on_broker(struct cc_model *model, u32 index, const struct history_event *event)
{
    cc_node_reported(model, index, event);
    if (event->c > INT32_MAX) return;
    struct cc_broker *broker = cc_broker(model, (u32)event->c, true);
    struct cc_broker_point point = {.place = {(i64)event->a, (u32)event->b},
                                    .state = (u32)event->d, .event = index};
    u32 at = broker->count;
    while (at > 0 && cc_place_compare(broker->points[at - 1].place, point.place) > 0) at--;
    if (at > 0 && cc_place_compare(broker->points[at - 1].place, point.place) == 0) {
        const struct cc_broker_point *known = &broker->points[at - 1];
        if (known->state != point.state && model->which == CC_EPOCHS) {
            cc_fail(model, index, "Event %u: node %u applied offset %" PRIi64 " record %u to "
                    "broker %" PRIu64 " as state %#x, but another node had it as %#x (event "
                    "%u): every node must build the same image from the same log.", index,
                    event->node, point.place.offset, point.place.record, event->c,
                    point.state, known->state, known->event);
        }
        return;
    }
    broker->points = cc_grow(broker->points, &broker->capacity, broker->count + 1,
                             sizeof(*broker->points));
    memmove(&broker->points[at + 1], &broker->points[at],
            (broker->count - at) * sizeof(*broker->points));
    broker->points[at] = point;
    broker->count++;
}

static void on_unclean(struct cc_model *model, u32 index, const struct history_event *event)
{
    cc_node_reported(model, index, event);
    if (event->c == 0) return;
    model->unclean = cc_grow(model->unclean, &model->unclean_capacity, model->unclean_count + 1,
                             sizeof(*model->unclean));
    model->unclean[model->unclean_count++] = (struct cc_place){(i64)event->a, (u32)event->b};
}

/* After every entry (the first time any node applies it): no fenced broker still leads. */
static void cc_judge_boundary(struct cc_model *model, u32 index, i64 offset)
{
    if (offset <= model->boundary_checked) return;
    model->boundary_checked = offset;
    if (model->which != CC_FENCED) return;
    model->boundaries++;
    struct cc_place end = {offset, CC_RECORD_END};
    for (u32 i = 0; i < model->partition_count; i++) {
        const struct cc_partition *p = &model->partitions[i];
        const struct cc_point *point = cc_state_at(p, end);
        if (point == NULL || point->removed || point->state.leader < 0) continue;
        const struct cc_broker_point *broker = NULL;
        if (!cc_broker_at(model, point->state.leader, end, false, &broker)) continue;
        if ((broker->state & HISTORY_BROKER_REGISTERED) &&
            !(broker->state & HISTORY_BROKER_FENCED)) {
            continue;
        }
        char name[96];
        cc_fail(model, index, "Event %u: after the metadata entry at offset %" PRIi64 ", broker "
                "%d still leads partition %s (leader epoch %d, set at offset %" PRIi64 ") "
                "although it is %s since offset %" PRIi64 " (event %u): the decision that "
                "fences a broker must also move its leaderships, or leave the partition "
                "without a leader, so that no client keeps writing to a broker the cluster "
                "has given up on.", index, offset, point->state.leader,
                cc_partition_name(model, p, name, sizeof(name)), point->state.leader_epoch,
                point->place.offset,
                (broker->state & HISTORY_BROKER_REGISTERED) ? "fenced" : "not registered",
                broker->place.offset, broker->event);
        return;
    }
}

/* ===== Convergence ===== */

static bool cc_node_alive(const struct cc_model *model, i32 id)
{
    for (u32 i = 0; i < model->node_count; i++) {
        if ((i32)model->nodes[i].id == id) return model->nodes[i].alive;
    }
    return false;
}

/* Whether every live node's image shows the settled cluster; if not, why (into reason). */
static bool cc_converged(const struct cc_model *model, char *reason, u32 size)
{
    u32 live = 0;
    for (u32 n = 0; n < model->node_count; n++) {
        const struct cc_node *node = &model->nodes[n];
        if (!node->alive) continue;
        live++;
        if (node->applied < 0) {
            snprintf(reason, size, "live node %u had applied no metadata", node->id);
            return false;
        }
        struct cc_place at = {node->applied, CC_RECORD_END};
        for (u32 b = 0; b < model->node_count; b++) {
            const struct cc_node *broker = &model->nodes[b];
            if (!broker->alive) continue;
            const struct cc_broker_point *point = NULL;
            bool known = cc_broker_at(model, (i32)broker->id, at, false, &point);
            const char *problem = NULL;
            if (!known || !(point->state & HISTORY_BROKER_REGISTERED)) problem = "not registered";
            else if (point->state & HISTORY_BROKER_FENCED) problem = "fenced";
            else if (point->state & HISTORY_BROKER_SHUTTING_DOWN) problem = "shutting down";
            if (problem == NULL) continue;
            snprintf(reason, size, "live broker %u was %s in node %u's image (through offset %"
                     PRIi64 ")", broker->id, problem, node->id, node->applied);
            return false;
        }
        for (u32 i = 0; i < model->partition_count; i++) {
            const struct cc_partition *p = &model->partitions[i];
            const struct cc_point *point = cc_state_at(p, at);
            if (point == NULL || point->removed) continue;
            bool live_replica = false;
            for (i32 id = 0; id < 64 && !live_replica; id++) {
                live_replica = cc_has(point->state.replicas, id) && cc_node_alive(model, id);
            }
            if (!live_replica) continue;
            if (point->state.leader >= 0 && cc_node_alive(model, point->state.leader)) continue;
            char name[96];
            snprintf(reason, size, "partition %s had %s in node %u's image (through offset %"
                     PRIi64 ") although a replica is live",
                     cc_partition_name(model, p, name, sizeof(name)),
                     point->state.leader < 0 ? "no leader" : "a dead leader", node->id,
                     node->applied);
            return false;
        }
    }
    if (live == 0) snprintf(reason, size, "no node was alive");
    return live > 0;
}

static void cc_converge_step(struct cc_model *model, u64 time_ns)
{
    if (model->which != CC_CONVERGES || !model->healed || model->converged_seen) return;
    if (time_ns > model->heal_ns + model->bound_ns) return;
    if (cc_converged(model, model->not_converged, sizeof(model->not_converged))) {
        model->converged_seen = true;
        model->converged_ns = time_ns;
    }
}

static void cc_finish_converges(struct cc_model *model)
{
    u32 last = model->history->count == 0 ? 0 : model->history->count - 1;
    if (!model->healed) {
        snprintf(model->outcome->message, sizeof(model->outcome->message),
                 "nothing healed, so nothing was promised");
        return;
    }
    u64 bound_ms = model->bound_ns / NS_PER_MS;
    if (!model->converged_seen) {
        cc_fail(model, last, "Within %" PRIu64 " ms after the faults healed at %.3f ms, the "
                "cluster's metadata never settled: at the last look, %s. After a heal the "
                "controller must register and unfence every live broker and give every "
                "partition with a live replica a leader.", bound_ms, cc_ms(model->heal_ns),
                model->not_converged[0] != '\0' ? model->not_converged : "nothing was seen");
        return;
    }
    char reason[200];
    if (!cc_converged(model, reason, sizeof(reason))) {
        cc_fail(model, last, "The metadata settled %.3f ms after the heal, but at the end of "
                "the run %s: with no fault left, a settled cluster must stay settled.",
                cc_ms(model->converged_ns - model->heal_ns), reason);
        return;
    }
    u32 live = 0;
    for (u32 i = 0; i < model->node_count; i++) live += model->nodes[i].alive;
    snprintf(model->outcome->message, sizeof(model->outcome->message),
             "settled %.3f ms after the heal (bound %" PRIu64 " ms) and stayed so: %u live "
             "brokers registered and unfenced, every partition with a live replica led, in "
             "every live node's image", cc_ms(model->converged_ns - model->heal_ns), bound_ms,
             live);
}

/* ===== The replay ===== */

static bool cc_is_metadata(u32 kind)
{
    return kind >= HISTORY_METADATA_PARTITION && kind <= HISTORY_METADATA_TOPIC;
}

/* A node reports HISTORY_QUORUM_APPLIED for an entry, then the entry's records; its first
 * other event (or the end) shows the entry whole: the node's image now holds it, and the
 * state after the entry can be judged. event is NULL at the end of the history. */
static void cc_finish_applying(struct cc_model *model, u32 index,
                               const struct history_event *event)
{
    for (u32 i = 0; i < model->node_count; i++) {
        struct cc_node *node = &model->nodes[i];
        if (node->applying < 0) continue;
        if (event != NULL && event->node == node->id && cc_is_metadata(event->kind) &&
            (i64)event->a == node->applying) {
            continue;
        }
        i64 offset = node->applying;
        node->applying = -1;
        /* Judged as of the moment it applied the entry. */
        node->applied = MAX(node->applied, offset);
        cc_judge_boundary(model, index, offset);
        cc_converge_step(model, node->applying_ns);
    }
}

static void cc_replay_event(struct cc_model *model, u32 index, const struct history_event *event)
{
    switch (event->kind) {
    case HISTORY_NODE_START: {
        struct cc_node *node = cc_node(model, event->node);
        node->alive = true;
        node->applied = -1;
        node->applying = -1;
        node->reported_any = false;
        break;
    }
    case HISTORY_FAULT:
        if (event->a == HISTORY_FAULT_CRASH && event->d != 0 && event->b <= UINT32_MAX) {
            cc_node(model, (u32)event->b)->alive = false;
        }
        break;
    case HISTORY_HEALED:
        model->healed = true;
        model->heal_ns = event->time_ns;
        model->bound_ns = model->params->liveness_bound_ns != 0
                              ? model->params->liveness_bound_ns : event->a;
        model->converged_seen = false;
        break;
    case HISTORY_QUORUM_APPLIED:
        /* Reported just before the node applies the entry: its records follow. */
    {
        struct cc_node *node = cc_node(model, event->node);
        node->applying = (i64)event->a;
        node->applying_ns = event->time_ns;
        break;
    }
    case HISTORY_QUORUM_SNAPSHOT:
        if (event->d == HISTORY_SNAPSHOT_RECOVERED || event->d == HISTORY_SNAPSHOT_FETCHED) {
            struct cc_node *node = cc_node(model, event->node);
            node->applied = MAX(node->applied, (i64)event->a - 1);
            struct cc_place end = {(i64)event->a - 1, CC_RECORD_END};
            if (!node->reported_any || cc_place_compare(node->reported, end) < 0) {
                node->reported = end;
                node->reported_any = true;
            }
        }
        break;
    case HISTORY_METADATA_PARTITION: on_partition(model, index, event); break;
    case HISTORY_METADATA_TOPIC_REMOVED: on_topic_removed(model, index, event); break;
    case HISTORY_METADATA_BROKER: on_broker(model, index, event); break;
    case HISTORY_METADATA_UNCLEAN: on_unclean(model, index, event); break;
    case HISTORY_METADATA_TOPIC: on_topic(model, index, event); break;
    default: return;
    }
    cc_converge_step(model, event->time_ns);
}

static void cc_model_free(struct cc_model *model)
{
    for (u32 i = 0; i < model->partition_count; i++) free(model->partitions[i].points);
    for (u32 i = 0; i < model->broker_count; i++) free(model->brokers[i].points);
    free(model->partitions);
    free(model->brokers);
    free(model->topics);
    free(model->nodes);
    free(model->unclean);
}

static void cc_pass_message(struct cc_model *model)
{
    char *message = model->outcome->message;
    u32 size = sizeof(model->outcome->message);
    switch (model->which) {
    case CC_EPOCHS:
        snprintf(message, size, "%u partition states of %u partitions from %u nodes: epochs "
                 "only grew, every node agreed, every leader was in its ISR", model->states,
                 model->partition_count, model->node_count);
        break;
    case CC_CLEAN:
        snprintf(message, size, "%u elections, %u with the state before known: every new "
                 "leader came from the ISR%s", model->elections, model->elections_judged,
                 model->unclean_static || model->unclean_count > 0
                     ? " or unclean election was enabled" : "");
        break;
    case CC_FENCED:
        snprintf(message, size, "%u elections with the broker's state known chose registered, "
                 "unfenced brokers; after each of %u entries no fenced broker led",
                 model->elections_judged, model->boundaries);
        break;
    case CC_CONVERGES: cc_finish_converges(model); break;
    }
}

static void cc_replay(const struct history *history, const struct check_params *params,
                      enum cc_which which, struct check_outcome *outcome)
{
    memset(outcome, 0, sizeof(*outcome));
    outcome->passed = true;
    struct cc_model model;
    memset(&model, 0, sizeof(model));
    model.history = history;
    model.params = params;
    model.which = which;
    model.outcome = outcome;
    model.boundary_checked = -1;
    /* The brokers' static configuration holds for the whole run, whenever it was reported. */
    for (u32 i = 0; i < history->count; i++) {
        const struct history_event *event = &history->events[i];
        if (event->kind == HISTORY_KAFKA_BROKER_CONFIG && event->c != 0) {
            model.unclean_static = true;
        }
    }
    for (u32 i = 0; i < history->count && outcome->passed; i++) {
        const struct history_event *event = &history->events[i];
        if (event->kind == HISTORY_RUN_END) break;
        cc_finish_applying(&model, i, event);
        cc_replay_event(&model, i, event);
    }
    cc_finish_applying(&model, history->count == 0 ? 0 : history->count - 1, NULL);
    if (outcome->passed) cc_pass_message(&model);
    cc_model_free(&model);
}

void controller_check_leader_epochs(const struct history *history,
                                    const struct check_params *params,
                                    struct check_outcome *outcome)
{
    cc_replay(history, params, CC_EPOCHS, outcome);
}

void controller_check_clean_election(const struct history *history,
                                     const struct check_params *params,
                                     struct check_outcome *outcome)
{
    cc_replay(history, params, CC_CLEAN, outcome);
}

void controller_check_no_fenced_leader(const struct history *history,
                                       const struct check_params *params,
                                       struct check_outcome *outcome)
{
    cc_replay(history, params, CC_FENCED, outcome);
}

void controller_check_converges(const struct history *history, const struct check_params *params,
                                struct check_outcome *outcome)
{
    cc_replay(history, params, CC_CONVERGES, outcome);
}
