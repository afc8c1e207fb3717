/* group_checkers.c: the invariants of consumer groups, judged from what members reported.
 *
 * Members report JOINED and ASSIGNED per generation, REVOKED when they stop reading partitions,
 * COMMIT (sent) then COMMITTED or COMMIT_FAILED per partition, OFFSET_FETCHED (with the time
 * the fetch was sent) and POSITION (where they start reading), beside the KAFKA_READs of every
 * record they decode. The simulator reports the brokers' configuration (KAFKA_BROKER_CONFIG),
 * its faults (a client's crash is HISTORY_FAULT_CLIENT_CRASH, never a broker's) and HEALED.
 *
 * What the coordinator promises, and so what is judged: it answers SyncGroup only once the
 * generation's assignment is committed to __consumer_offsets, and an OffsetCommit only once the
 * offset is; a commit of an older generation than the group's is refused. So once a member was
 * told its assignment in generation g', a commit sent later in a generation below g' must never
 * be acknowledged, and an acknowledged offset must be what a later OffsetFetch sees (or
 * higher). Both records may still vanish when the configuration lets __consumer_offsets lose
 * committed records (its replication is the workload topic's; flush policy, acks and
 * min.insync.replicas as kafka_checkers.c explains): such findings are labelled, with the
 * reason, when a broker crashed (or a disk was corrupted) after the record was written.
 *
 * What is legitimate and never judged a violation: duplicates (after a rebalance a partition is
 * read again from the last committed offset: at least once); a zombie member reading and even
 * sending a commit after it was fenced (only an acknowledgement of it is wrong); an offset
 * fetch answered by a coordinator that was cut off or paused and does not know yet that it was
 * deposed (labelled: Kafka serves OffsetFetch from the coordinator's memory); a commit that
 * failed with an error raised after its record was appended (a timeout, NOT_COORDINATOR) taking
 * effect later, since the next coordinator loads whatever the log holds.
 *
 * Which __consumer_offsets partition holds the group is not in the history, so the facts about
 * lost records (replication_checkers.c, by partition index) count for the group when they hold
 * for any partition: a lenient excuse, never a false alarm.
 *
 * Tested by tests/unit/test_model_group.c (crafted histories: each checker passes and fails, each
 * label with and without its excuse). */
#include "group_checkers.h"
#include "kafka_checkers.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GC_NONE UINT32_MAX
#define GC_NO_OFFSET UINT64_MAX
#define GC_UNKNOWN_OUTCOME 0xffffu
#define GC_PARTITIONS_MAX 64u
#define GC_NODES_MAX 512u

/* Kafka errors with which a coordinator refuses an OffsetCommit before appending anything. */
#define GC_COORDINATOR_LOAD_IN_PROGRESS 14u
#define GC_ILLEGAL_GENERATION 22u
#define GC_UNKNOWN_MEMBER_ID 25u
#define GC_REBALANCE_IN_PROGRESS 27u
#define GC_FENCED_INSTANCE_ID 82u

/* ===== Facts every group checker uses ===== */

struct gc_generation { /* Where a generation first shows (JOINED or ASSIGNED). */
    u64 generation;
    u32 first;
};

struct gc_assigned {
    u64 generation;
    u64 partitions;
    u32 node;
    u32 index;
};

enum gc_outcome { GC_PENDING, GC_ACKED, GC_FAILED, GC_MAYBE };

struct gc_commit {
    u32 node;
    u64 generation, partition, offset;
    u32 sent;         /* COMMIT event (GC_NONE: the answer came without one). */
    u32 answered;     /* COMMITTED / COMMIT_FAILED event (GC_NONE: none by the end). */
    enum gc_outcome outcome;
    u64 sent_ns, answered_ns;
    u64 newest_assigned; /* The highest generation any member was assigned when it was sent. */
};

struct gc_facts {
    const struct history *history;
    /* Brokers, by the ids that reported their configuration. */
    u32 brokers[GC_NODES_MAX];
    u32 broker_count;
    /* Group members: nodes that reported a HISTORY_GROUP_* event. */
    u32 members[GC_NODES_MAX];
    u32 member_count;
    /* Events that may lose a broker's records: effective crashes and disk corruptions. */
    u32 *losses;
    u32 loss_count;
    /* Events that may leave a deposed coordinator answering: a broker cut off or paused. */
    u32 first_broker_isolation;
    /* Why the configuration lets a record of partition index p vanish (NULL: it does not). */
    const char *loss_reason[GC_PARTITIONS_MAX];
    const char *any_loss_reason;
    /* The liveness phase: HEALED at healed_ns (healed false: never), bound_ns to settle. */
    bool healed;
    u64 healed_ns, bound_ns;
    u32 healed_event;
    struct gc_generation *generations; /* Sorted by generation. */
    u32 generation_count;
    struct gc_assigned *assigned;      /* In history order. */
    u32 assigned_count;
};

static bool gc_contains(const u32 *ids, u32 count, u64 id)
{
    for (u32 i = 0; i < count; i++) {
        if (ids[i] == id) return true;
    }
    return false;
}

static void gc_add(u32 *ids, u32 *count, u32 id)
{
    if (gc_contains(ids, *count, id)) return;
    ASSERT(*count < GC_NODES_MAX);
    ids[(*count)++] = id;
}

static bool gc_is_group_kind(u32 kind)
{
    return kind >= HISTORY_GROUP_JOINED && kind <= HISTORY_GROUP_POSITION;
}

static int gc_generation_order(const void *left, const void *right)
{
    const struct gc_generation *a = left, *b = right;
    if (a->generation != b->generation) return a->generation < b->generation ? -1 : 1;
    return a->first < b->first ? -1 : a->first > b->first;
}

static void gc_facts_read(const struct history *history, const struct check_params *params,
                          struct gc_facts *facts)
{
    memset(facts, 0, sizeof(*facts));
    facts->history = history;
    facts->first_broker_isolation = GC_NONE;
    facts->healed_event = GC_NONE;
    u32 capacity = MAX(history->count, 1u);
    facts->losses = calloc(capacity, sizeof(*facts->losses));
    facts->generations = calloc(capacity, sizeof(*facts->generations));
    facts->assigned = calloc(capacity, sizeof(*facts->assigned));
    ASSERT(facts->losses != NULL && facts->generations != NULL && facts->assigned != NULL);
    for (u32 i = 0; i < history->count; i++) {
        const struct history_event *event = &history->events[i];
        if (event->kind == HISTORY_KAFKA_BROKER_CONFIG) {
            gc_add(facts->brokers, &facts->broker_count, event->node);
        }
        if (gc_is_group_kind(event->kind)) {
            gc_add(facts->members, &facts->member_count, event->node);
        }
        if (event->kind == HISTORY_GROUP_JOINED || event->kind == HISTORY_GROUP_ASSIGNED) {
            facts->generations[facts->generation_count++] =
                (struct gc_generation){.generation = event->a, .first = i};
        }
        if (event->kind == HISTORY_GROUP_ASSIGNED) {
            facts->assigned[facts->assigned_count++] = (struct gc_assigned){
                .generation = event->a, .partitions = event->b, .node = event->node, .index = i};
        }
        if (event->kind == HISTORY_HEALED && !facts->healed) {
            facts->healed = true;
            facts->healed_ns = event->time_ns;
            facts->healed_event = i;
            facts->bound_ns = params->liveness_bound_ns != 0 ? params->liveness_bound_ns
                                                             : event->a;
        }
    }
    /* Brokers are known only now: fault events may come before their configuration. */
    for (u32 i = 0; i < history->count; i++) {
        const struct history_event *event = &history->events[i];
        if (event->kind != HISTORY_FAULT || event->d == 0) continue;
        if (event->a == HISTORY_FAULT_CRASH || event->a == HISTORY_FAULT_DISK_CORRUPT) {
            facts->losses[facts->loss_count++] = i;
        }
        bool network_wide = event->b == UINT64_MAX || event->b == UINT32_MAX;
        bool broker = network_wide || gc_contains(facts->brokers, facts->broker_count, event->b);
        if (broker && (event->a == HISTORY_FAULT_PARTITION || event->a == HISTORY_FAULT_PAUSE) &&
            facts->first_broker_isolation == GC_NONE) {
            facts->first_broker_isolation = i;
        }
    }
    qsort(facts->generations, facts->generation_count, sizeof(*facts->generations),
          gc_generation_order);
    kafka_history_loss_reasons(history, facts->loss_reason, GC_PARTITIONS_MAX);
    for (u32 p = 0; p < GC_PARTITIONS_MAX && facts->any_loss_reason == NULL; p++) {
        facts->any_loss_reason = facts->loss_reason[p];
    }
}

static void gc_facts_free(struct gc_facts *facts)
{
    free(facts->losses);
    free(facts->generations);
    free(facts->assigned);
}

/* The first event of generation g (GC_NONE: it never showed). A generation's record is written
 * after its leader joined, so a crash before this cannot have lost it. */
static u32 gc_generation_start(const struct gc_facts *facts, u64 generation)
{
    u32 low = 0, high = facts->generation_count;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        if (facts->generations[middle].generation < generation) low = middle + 1;
        else high = middle;
    }
    if (low == facts->generation_count || facts->generations[low].generation != generation) {
        return GC_NONE;
    }
    return facts->generations[low].first;
}

/* The first crash or disk corruption strictly between two events (GC_NONE: none). */
static u32 gc_loss_between(const struct gc_facts *facts, u32 after, u32 before)
{
    for (u32 i = 0; i < facts->loss_count; i++) {
        if (facts->losses[i] > after && facts->losses[i] < before) return facts->losses[i];
    }
    return GC_NONE;
}

static void gc_fail(struct check_outcome *outcome, u32 event, const char *format, ...)
    PRINTF_LIKE(3, 4);
static void gc_fail(struct check_outcome *outcome, u32 event, const char *format, ...)
{
    if (!outcome->passed) return; /* The first violation is the one reported. */
    outcome->passed = false;
    outcome->event_index = event;
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(outcome->message, sizeof(outcome->message), format, arguments);
    va_end(arguments);
}

static void gc_pass(struct check_outcome *outcome, const char *format, ...) PRINTF_LIKE(2, 3);
static void gc_pass(struct check_outcome *outcome, const char *format, ...)
{
    if (!outcome->passed) return;
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(outcome->message, sizeof(outcome->message), format, arguments);
    va_end(arguments);
}

/* ===== Commits: each send matched with its answer ===== */

struct gc_commit_key {
    u32 node;
    u64 generation, partition, offset;
    u32 index;  /* The event. */
    u32 commit; /* Into the commit array (sends), or the outcome (answers). */
};

static int gc_key_order(const void *left, const void *right)
{
    const struct gc_commit_key *a = left, *b = right;
    if (a->node != b->node) return a->node < b->node ? -1 : 1;
    if (a->generation != b->generation) return a->generation < b->generation ? -1 : 1;
    if (a->partition != b->partition) return a->partition < b->partition ? -1 : 1;
    if (a->offset != b->offset) return a->offset < b->offset ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

static int gc_key_compare_without_index(const struct gc_commit_key *a,
                                        const struct gc_commit_key *b)
{
    struct gc_commit_key a_key = *a, b_key = *b;
    a_key.index = b_key.index = 0;
    return gc_key_order(&a_key, &b_key);
}

static int gc_commit_by_sent(const void *left, const void *right)
{
    const struct gc_commit *a = left, *b = right;
    u32 a_at = a->sent != GC_NONE ? a->sent : a->answered;
    u32 b_at = b->sent != GC_NONE ? b->sent : b->answered;
    return a_at < b_at ? -1 : a_at > b_at;
}

/* Whether a failed commit's record may still be in the log: only refusals decided before the
 * append are certain. */
static enum gc_outcome gc_failure_outcome(u64 error)
{
    switch (error) {
    case GC_COORDINATOR_LOAD_IN_PROGRESS:
    case GC_ILLEGAL_GENERATION:
    case GC_UNKNOWN_MEMBER_ID:
    case GC_REBALANCE_IN_PROGRESS:
    case GC_FENCED_INSTANCE_ID: return GC_FAILED;
    default: return GC_MAYBE;
    }
}

/* Every commit, sorted by when it was sent; answers are matched to the earliest unanswered send
 * of the same (member, generation, partition, offset): one request at a time per coordinator
 * link, so they come back in order. An answer without a send is kept with sent = GC_NONE. */
static struct gc_commit *gc_commits(const struct history *history, u32 *count)
{
    u32 capacity = MAX(history->count, 1u);
    struct gc_commit_key *sends = calloc(capacity, sizeof(*sends));
    struct gc_commit_key *answers = calloc(capacity, sizeof(*answers));
    struct gc_commit *commits = calloc(capacity, sizeof(*commits));
    ASSERT(sends != NULL && answers != NULL && commits != NULL);
    u32 send_count = 0, answer_count = 0;
    *count = 0;
    u64 newest_assigned = 0;
    for (u32 i = 0; i < history->count; i++) {
        const struct history_event *event = &history->events[i];
        struct gc_commit_key key = {.node = event->node, .generation = event->a,
                                    .partition = event->b, .offset = event->c, .index = i};
        if (event->kind == HISTORY_GROUP_ASSIGNED) newest_assigned = MAX(newest_assigned, event->a);
        if (event->kind == HISTORY_GROUP_COMMIT) {
            key.commit = *count;
            sends[send_count++] = key;
            commits[(*count)++] = (struct gc_commit){
                .node = event->node, .generation = event->a, .partition = event->b,
                .offset = event->c, .sent = i, .answered = GC_NONE, .outcome = GC_PENDING,
                .sent_ns = event->time_ns, .newest_assigned = newest_assigned};
        } else if (event->kind == HISTORY_GROUP_COMMITTED) {
            key.commit = GC_ACKED;
            answers[answer_count++] = key;
        } else if (event->kind == HISTORY_GROUP_COMMIT_FAILED) {
            key.commit = event->d == GC_UNKNOWN_OUTCOME ? GC_MAYBE : gc_failure_outcome(event->d);
            answers[answer_count++] = key;
        }
    }
    qsort(sends, send_count, sizeof(*sends), gc_key_order);
    qsort(answers, answer_count, sizeof(*answers), gc_key_order);
    u32 s = 0;
    for (u32 a = 0; a < answer_count; a++) {
        const struct gc_commit_key *answer = &answers[a];
        const struct history_event *event = &history->events[answer->index];
        /* Sends of smaller keys, or of this key but already answered, are skipped. */
        while (s < send_count && (gc_key_compare_without_index(&sends[s], answer) < 0 ||
                                  (gc_key_compare_without_index(&sends[s], answer) == 0 &&
                                   commits[sends[s].commit].outcome != GC_PENDING))) {
            s++;
        }
        bool matched = s < send_count && gc_key_compare_without_index(&sends[s], answer) == 0 &&
                       sends[s].index < answer->index;
        struct gc_commit *commit = NULL;
        if (matched) {
            commit = &commits[sends[s++].commit];
        } else {
            commit = &commits[(*count)++];
            *commit = (struct gc_commit){.node = answer->node, .generation = answer->generation,
                                         .partition = answer->partition,
                                         .offset = answer->offset, .sent = GC_NONE,
                                         .sent_ns = event->time_ns};
        }
        commit->answered = answer->index;
        commit->answered_ns = event->time_ns;
        commit->outcome = (enum gc_outcome)answer->commit;
    }
    qsort(commits, *count, sizeof(*commits), gc_commit_by_sent);
    free(sends);
    free(answers);
    return commits;
}

/* ===== group-single-owner ===== */

static int gc_assigned_by_generation(const void *left, const void *right)
{
    const struct gc_assigned *a = left, *b = right;
    if (a->generation != b->generation) return a->generation < b->generation ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

void group_check_single_owner(const struct history *history, const struct check_params *params,
                              struct check_outcome *outcome)
{
    struct gc_facts facts;
    gc_facts_read(history, params, &facts);
    struct gc_assigned *sorted = calloc(MAX(facts.assigned_count, 1u), sizeof(*sorted));
    ASSERT(sorted != NULL);
    memcpy(sorted, facts.assigned, facts.assigned_count * sizeof(*sorted));
    qsort(sorted, facts.assigned_count, sizeof(*sorted), gc_assigned_by_generation);
    outcome->passed = true;
    u32 generations = 0, labelled = 0, first_labelled = GC_NONE;
    for (u32 i = 0; i < facts.assigned_count && outcome->passed; i++) {
        const struct gc_assigned *later = &sorted[i];
        if (i == 0 || sorted[i - 1].generation != later->generation) generations++;
        for (u32 k = i; k > 0 && sorted[k - 1].generation == later->generation; k--) {
            const struct gc_assigned *earlier = &sorted[k - 1];
            u64 both = earlier->partitions & later->partitions;
            /* A member told its assignment twice (a static member back from a restart) is
             * still one owner. */
            if (earlier->node == later->node || both == 0) continue;
            u32 start = gc_generation_start(&facts, later->generation);
            u32 loss = gc_loss_between(&facts, start, later->index);
            if (facts.any_loss_reason != NULL && loss != GC_NONE) {
                if (labelled++ == 0) first_labelled = later->index;
                continue;
            }
            gc_fail(outcome, later->index,
                    "generation %" PRIu64 " assigned partitions (mask %#" PRIx64 ") to both "
                    "member %u (event %u) and member %u: two owners in one generation%s",
                    later->generation, both, earlier->node, earlier->index, later->node,
                    loss == GC_NONE ? "" : ", although the configuration keeps the group's "
                                           "records through a crash");
            break;
        }
    }
    if (labelled > 0) {
        gc_pass(outcome, "LABELLED CONSEQUENCE: %u assignments (first at event %u) shared "
                "partitions with another member's of the same generation after a broker crash, "
                "because %s: the coordinator lost the generation's record and handed its number "
                "out again", labelled, first_labelled, facts.any_loss_reason);
    } else {
        gc_pass(outcome, "%u assignments over %u generations; no partition had two owners in "
                "one generation", facts.assigned_count, generations);
    }
    free(sorted);
    gc_facts_free(&facts);
}

/* ===== group-fenced-commits ===== */

/* The first event of the oldest generation above `generation` assigned before event `before`. */
static u32 gc_newer_generation_start(const struct gc_facts *facts, u64 generation, u32 before)
{
    u64 oldest_newer = UINT64_MAX;
    for (u32 i = 0; i < facts->assigned_count && facts->assigned[i].index < before; i++) {
        if (facts->assigned[i].generation > generation) {
            oldest_newer = MIN(oldest_newer, facts->assigned[i].generation);
        }
    }
    ASSERT(oldest_newer != UINT64_MAX);
    return gc_generation_start(facts, oldest_newer);
}

void group_check_fenced_commits(const struct history *history, const struct check_params *params,
                                struct check_outcome *outcome)
{
    struct gc_facts facts;
    gc_facts_read(history, params, &facts);
    u32 count = 0;
    struct gc_commit *commits = gc_commits(history, &count);
    outcome->passed = true;
    u32 acked = 0, stale_sent = 0, labelled = 0, first_labelled = GC_NONE;
    for (u32 i = 0; i < count && outcome->passed; i++) {
        const struct gc_commit *commit = &commits[i];
        if (commit->sent == GC_NONE) {
            gc_fail(outcome, commit->answered, "member %u reported an answer to a commit of "
                    "partition %" PRIu64 " offset %" PRIu64 " in generation %" PRIu64 " it never "
                    "reported sending", commit->node, commit->partition, commit->offset,
                    commit->generation);
            break;
        }
        /* Generation -1 is a commit from outside the group's protocol (an empty group). */
        if (commit->generation > INT32_MAX) continue;
        bool stale = commit->newest_assigned > commit->generation;
        stale_sent += stale;
        if (commit->outcome != GC_ACKED) continue;
        acked++;
        if (!stale) continue;
        u32 start = gc_newer_generation_start(&facts, commit->generation, commit->sent);
        u32 loss = gc_loss_between(&facts, start, commit->answered);
        if (facts.any_loss_reason != NULL && loss != GC_NONE) {
            if (labelled++ == 0) first_labelled = commit->answered;
            continue;
        }
        gc_fail(outcome, commit->answered,
                "member %u's commit of partition %" PRIu64 " offset %" PRIu64 " in generation "
                "%" PRIu64 " was acknowledged, but it was sent (event %u) after generation "
                "%" PRIu64 " had been assigned (its first event %u): the coordinator should have "
                "fenced it (ILLEGAL_GENERATION)%s", commit->node, commit->partition,
                commit->offset, commit->generation, commit->sent, commit->newest_assigned, start,
                loss == GC_NONE ? "" : ", and the configuration keeps the group's records "
                                       "through the crash in between");
    }
    if (labelled > 0) {
        gc_pass(outcome, "LABELLED CONSEQUENCE: %u commits of an older generation were "
                "acknowledged after a newer one was assigned (first at event %u), after a "
                "broker crash, because %s: the newer generation's record was lost", labelled,
                first_labelled, facts.any_loss_reason);
    } else {
        gc_pass(outcome, "%u acknowledged commits, none of a generation older than one already "
                "assigned (%u stale commits were sent and refused or left unanswered)", acked,
                stale_sent);
    }
    free(commits);
    gc_facts_free(&facts);
}

/* ===== group-commit-durable ===== */

/* Whether commit `later` may have been applied after commit `earlier` and before an offset
 * fetch answered at event `fetched`: it may have landed (acknowledged, or an unknown outcome),
 * was sent before the answer, and was not answered before `earlier` was sent. */
static bool gc_may_land_after(const struct gc_commit *later, const struct gc_commit *earlier,
                              u32 fetched)
{
    if (later->outcome == GC_FAILED) return false;
    u32 sent = later->sent != GC_NONE ? later->sent : later->answered;
    if (sent > fetched) return false;
    return later->answered == GC_NONE || later->answered > earlier->sent;
}

void group_check_commit_durable(const struct history *history, const struct check_params *params,
                                struct check_outcome *outcome)
{
    struct gc_facts facts;
    gc_facts_read(history, params, &facts);
    u32 count = 0;
    struct gc_commit *commits = gc_commits(history, &count);
    outcome->passed = true;
    u32 fetches = 0, compared = 0, lost = 0, stale_coordinator = 0, first_label = GC_NONE;
    for (u32 f = 0; f < history->count && outcome->passed; f++) {
        const struct history_event *fetch = &history->events[f];
        if (fetch->kind != HISTORY_GROUP_OFFSET_FETCHED) continue;
        fetches++;
        u64 sent_ns = fetch->d, value = fetch->c;
        for (u32 i = 0; i < count && outcome->passed; i++) {
            const struct gc_commit *commit = &commits[i];
            /* Acknowledged strictly before the fetch was sent (same instant: order unknown). */
            if (commit->outcome != GC_ACKED || commit->partition != fetch->b ||
                commit->answered_ns >= sent_ns || commit->answered > f) {
                continue;
            }
            compared++;
            if (value != GC_NO_OFFSET && value >= commit->offset) continue;
            bool explained = false;
            for (u32 k = 0; k < count && !explained && value != GC_NO_OFFSET; k++) {
                const struct gc_commit *other = &commits[k];
                explained = other->partition == fetch->b && other->offset == value &&
                            gc_may_land_after(other, commit, f);
            }
            if (explained) continue;
            u32 loss = gc_loss_between(&facts, commit->answered, f);
            if (facts.any_loss_reason != NULL && loss != GC_NONE) {
                if (lost++ == 0 && first_label == GC_NONE) first_label = f;
                continue;
            }
            bool isolation = facts.first_broker_isolation < f &&
                             (!facts.healed || sent_ns <= facts.healed_ns + facts.bound_ns);
            if (isolation) {
                if (stale_coordinator++ == 0 && first_label == GC_NONE) first_label = f;
                continue;
            }
            char seen[32];
            if (value == GC_NO_OFFSET) snprintf(seen, sizeof(seen), "no committed offset");
            else snprintf(seen, sizeof(seen), "offset %" PRIu64, value);
            gc_fail(outcome, f,
                    "member %u's offset fetch of partition %" PRIu64 " (sent at %.3f ms) "
                    "returned %s, but member %u's commit of offset %" PRIu64 " had been "
                    "acknowledged before (event %u), and no commit that may have landed after it "
                    "holds that value%s", fetch->node, fetch->b, (double)sent_ns / 1e6, seen,
                    commit->node,
                    commit->offset, commit->answered,
                    loss == GC_NONE ? "" : "; the configuration keeps the group's records "
                                           "through the crash in between");
        }
    }
    if (lost + stale_coordinator > 0) {
        char because[400] = "";
        if (lost > 0) {
            snprintf(because, sizeof(because), "%u after a broker crash because %s", lost,
                     facts.any_loss_reason);
        }
        if (stale_coordinator > 0) {
            size_t used = strlen(because);
            snprintf(because + used, sizeof(because) - used, "%s%u while a broker was cut off "
                     "or paused: a deposed coordinator that does not know it yet answers "
                     "OffsetFetch from its memory", lost > 0 ? "; " : "", stale_coordinator);
        }
        gc_pass(outcome, "LABELLED CONSEQUENCE: offset fetches returned less than an "
                "acknowledged commit (first at event %u): %s", first_label, because);
    } else {
        gc_pass(outcome, "%u offset fetches, each returning at least every offset acknowledged "
                "before it was sent (%u comparisons)", fetches, compared);
    }
    free(commits);
    gc_facts_free(&facts);
}

/* ===== group-at-least-once ===== */

struct gc_read {
    u64 partition, checksum;
};

static int gc_read_order(const void *left, const void *right)
{
    const struct gc_read *a = left, *b = right;
    if (a->partition != b->partition) return a->partition < b->partition ? -1 : 1;
    return a->checksum < b->checksum ? -1 : a->checksum > b->checksum;
}

/* Every acknowledged record was read by some member, or its loss is labelled. */
static void gc_every_record_read(const struct gc_facts *facts, struct check_outcome *outcome,
                                 u32 *acked_out, u32 *lost_out, u32 *first_lost_out)
{
    const struct history *history = facts->history;
    struct gc_read *reads = calloc(MAX(history->count, 1u), sizeof(*reads));
    ASSERT(reads != NULL);
    u32 read_count = 0, acked = 0, lost = 0, first_lost = GC_NONE;
    bool crashed = facts->loss_count > 0;
    for (u32 i = 0; i < history->count; i++) {
        const struct history_event *event = &history->events[i];
        if (event->kind == HISTORY_KAFKA_READ &&
            gc_contains(facts->members, facts->member_count, event->node)) {
            reads[read_count++] = (struct gc_read){.partition = event->a, .checksum = event->c};
        }
    }
    qsort(reads, read_count, sizeof(*reads), gc_read_order);
    for (u32 i = 0; i < history->count && outcome->passed; i++) {
        const struct history_event *event = &history->events[i];
        if (event->kind != HISTORY_KAFKA_ACKED) continue;
        acked++;
        struct gc_read key = {.partition = event->b, .checksum = event->d};
        if (bsearch(&key, reads, read_count, sizeof(*reads), gc_read_order) != NULL) continue;
        const char *reason = event->b < GC_PARTITIONS_MAX ? facts->loss_reason[event->b] : NULL;
        if (reason != NULL && crashed) {
            if (lost++ == 0) first_lost = i;
            continue;
        }
        gc_fail(outcome, i, "producer %u's record acknowledged at partition %" PRIu64 " offset "
                "%" PRIu64 " was never read by any group member (%u members)%s", event->node,
                event->b, event->c, facts->member_count,
                crashed ? "; the configuration keeps acknowledged records through a crash" : "");
    }
    free(reads);
    *acked_out = acked;
    *lost_out = lost;
    *first_lost_out = first_lost;
}

/* Bit p of the partitions the group must cover: every partition any generation assigned or any
 * producer sent to. */
static u64 gc_partitions(const struct gc_facts *facts)
{
    u64 partitions = 0;
    for (u32 i = 0; i < facts->assigned_count; i++) partitions |= facts->assigned[i].partitions;
    for (u32 i = 0; i < facts->history->count; i++) {
        const struct history_event *event = &facts->history->events[i];
        if (event->kind == HISTORY_KAFKA_SEND && event->b < 64) partitions |= 1ull << event->b;
    }
    return partitions;
}

static u32 gc_first_assigned(const struct gc_facts *facts, u64 generation)
{
    for (u32 i = 0; i < facts->assigned_count; i++) {
        if (facts->assigned[i].generation == generation) return facts->assigned[i].index;
    }
    ASSERT(false);
    return GC_NONE;
}

/* The group's last generation assigns every partition to a member that kept it to the end, and
 * it was reached within the liveness bound after HEALED. */
static void gc_group_settled(const struct gc_facts *facts, struct check_outcome *outcome,
                             u64 *generation_out)
{
    const struct history *history = facts->history;
    if (facts->assigned_count == 0) {
        gc_fail(outcome, history->count > 0 ? history->count - 1 : 0,
                "the group never assigned anything (%u members reported)", facts->member_count);
        return;
    }
    u64 last = 0;
    u32 last_assigned = 0;
    for (u32 i = 0; i < facts->assigned_count; i++) last = MAX(last, facts->assigned[i].generation);
    u64 covered = 0;
    for (u32 i = 0; i < facts->assigned_count; i++) {
        const struct gc_assigned *assigned = &facts->assigned[i];
        if (assigned->generation != last) continue;
        last_assigned = MAX(last_assigned, assigned->index);
        u64 kept = assigned->partitions;
        for (u32 k = assigned->index + 1; k < history->count; k++) {
            const struct history_event *event = &history->events[k];
            if (event->kind == HISTORY_GROUP_REVOKED && event->node == assigned->node &&
                event->a >= last) {
                kept &= ~event->b;
            }
            if (event->kind == HISTORY_FAULT && event->a == HISTORY_FAULT_CLIENT_CRASH &&
                event->b == assigned->node && event->d != 0) {
                kept = 0;
            }
        }
        covered |= kept;
    }
    *generation_out = last;
    u64 missing = gc_partitions(facts) & ~covered;
    if (missing != 0) {
        gc_fail(outcome, last_assigned, "the group ended in generation %" PRIu64 " without an "
                "owner for partitions (mask %#" PRIx64 "): it did not settle after the faults",
                last, missing);
        return;
    }
    /* Reached when its first member was told its part (a static member rejoining later is
     * told the same generation again, without a rebalance). */
    u32 reached = gc_first_assigned(facts, last);
    const struct history_event *settled = &history->events[reached];
    if (facts->healed && settled->time_ns > facts->healed_ns + facts->bound_ns) {
        gc_fail(outcome, reached, "the group reached its last generation %" PRIu64 " at %"
                PRIu64 " ms, more than the liveness bound (%" PRIu64 " ms) after the faults "
                "healed at %" PRIu64 " ms", last, settled->time_ns / 1000000,
                facts->bound_ns / 1000000, facts->healed_ns / 1000000);
    }
}

void group_check_at_least_once(const struct history *history, const struct check_params *params,
                               struct check_outcome *outcome)
{
    struct gc_facts facts;
    gc_facts_read(history, params, &facts);
    outcome->passed = true;
    u32 acked = 0, lost = 0, first_lost = GC_NONE;
    u64 generation = 0;
    gc_every_record_read(&facts, outcome, &acked, &lost, &first_lost);
    if (outcome->passed) gc_group_settled(&facts, outcome, &generation);
    if (lost > 0) {
        gc_pass(outcome, "LABELLED CONSEQUENCE: %u of %u acknowledged records were never read "
                "by the group (first at event %u), after a broker crash, because %s; the group "
                "settled in generation %" PRIu64, lost, acked, first_lost,
                facts.loss_reason[history->events[first_lost].b], generation);
    } else {
        gc_pass(outcome, "all %u acknowledged records were read by the group's %u members; it "
                "settled in generation %" PRIu64 " with every partition owned", acked,
                facts.member_count, generation);
    }
    gc_facts_free(&facts);
}

/* ===== group-no-skip ===== */

struct gc_position { /* A member's reading of one partition. */
    bool started;
    u64 next; /* The offset it reads next. */
    u32 started_event;
};

static u32 gc_member_index(const struct gc_facts *facts, u64 node)
{
    for (u32 i = 0; i < facts->member_count; i++) {
        if (facts->members[i] == node) return i;
    }
    return GC_NONE;
}

/* Where a member starts (POSITION) or restarts (REREAD: the log listed again after an offset
 * out of range) reading a partition: never beyond what some member read, unless the partition
 * lost records in a way the configuration allows (its log may then start later). */
static void gc_start(const struct gc_facts *facts, const u64 *reached, u32 index,
                     struct gc_position *position, u32 *labelled, struct check_outcome *outcome)
{
    const struct history_event *event = &facts->history->events[index];
    u64 partition = event->a, offset = event->b;
    ASSERT(partition < GC_PARTITIONS_MAX);
    if (offset > reached[partition]) {
        if (facts->loss_reason[partition] != NULL && facts->loss_count > 0) {
            (*labelled)++;
        } else {
            gc_fail(outcome, index, "member %u starts partition %" PRIu64 " at offset %" PRIu64
                    ", beyond anything a member had read (up to %" PRIu64 "): the offsets in "
                    "between would be skipped", event->node, partition, offset,
                    reached[partition]);
        }
    }
    *position = (struct gc_position){.started = true, .next = offset, .started_event = index};
}

void group_check_no_skip(const struct history *history, const struct check_params *params,
                         struct check_outcome *outcome)
{
    struct gc_facts facts;
    gc_facts_read(history, params, &facts);
    /* positions[member * GC_PARTITIONS_MAX + partition] */
    struct gc_position *positions =
        calloc(MAX(facts.member_count, 1u) * GC_PARTITIONS_MAX, sizeof(*positions));
    ASSERT(positions != NULL);
    u64 reached[GC_PARTITIONS_MAX] = {0}; /* The highest offset + 1 any member read. */
    u32 starts = 0, reads = 0, commits = 0, labelled = 0;
    outcome->passed = true;
    for (u32 i = 0; i < history->count && outcome->passed; i++) {
        const struct history_event *event = &history->events[i];
        if (event->kind == HISTORY_FAULT && event->a == HISTORY_FAULT_CLIENT_CRASH) {
            u32 member = gc_member_index(&facts, event->b);
            if (member == GC_NONE) continue;
            memset(&positions[member * GC_PARTITIONS_MAX], 0,
                   GC_PARTITIONS_MAX * sizeof(*positions));
            continue;
        }
        bool judged = event->kind == HISTORY_GROUP_POSITION ||
                      event->kind == HISTORY_KAFKA_REREAD || event->kind == HISTORY_KAFKA_READ ||
                      event->kind == HISTORY_GROUP_COMMIT;
        if (!judged) continue;
        u32 member = gc_member_index(&facts, event->node);
        u64 partition = event->kind == HISTORY_GROUP_COMMIT ? event->b : event->a;
        if (member == GC_NONE || partition >= GC_PARTITIONS_MAX) continue;
        struct gc_position *position = &positions[member * GC_PARTITIONS_MAX + partition];
        if (event->kind == HISTORY_GROUP_POSITION || event->kind == HISTORY_KAFKA_REREAD) {
            starts++;
            gc_start(&facts, reached, i, position, &labelled, outcome);
        } else if (event->kind == HISTORY_KAFKA_READ) {
            reads++;
            u64 offset = event->b;
            reached[partition] = MAX(reached[partition], offset + 1);
            if (!position->started) continue;
            if (offset > position->next) {
                gc_fail(outcome, i, "member %u read partition %" PRIu64 " offset %" PRIu64
                        " when its next offset was %" PRIu64 ": it skipped %" PRIu64 " records "
                        "(it started at event %u)", event->node, partition, offset,
                        position->next, offset - position->next, position->started_event);
            }
            if (offset == position->next) position->next++;
        } else {
            commits++;
            if (!position->started) {
                gc_fail(outcome, i, "member %u commits partition %" PRIu64 " offset %" PRIu64
                        " in generation %" PRIu64 " without having started reading it",
                        event->node, partition, event->c, event->a);
            } else if (event->c > position->next) {
                gc_fail(outcome, i, "member %u commits partition %" PRIu64 " offset %" PRIu64
                        " in generation %" PRIu64 " but has read it only up to offset %" PRIu64
                        ": whoever starts from this commit skips the records in between",
                        event->node, partition, event->c, event->a, position->next);
            }
        }
    }
    if (labelled > 0) {
        gc_pass(outcome, "LABELLED CONSEQUENCE: %u starts were beyond anything read, after "
                "losses the configuration allows (%s): the partition's log lost records and "
                "started later; otherwise %u reads and %u commits without a gap", labelled,
                facts.any_loss_reason, reads, commits);
    } else {
        gc_pass(outcome, "%u starts, %u reads and %u commits by %u members: no gap, no commit "
                "beyond what was read", starts, reads, commits, facts.member_count);
    }
    free(positions);
    gc_facts_free(&facts);
}

/* ===== group-no-rebalance ===== */

void group_check_no_rebalance(const struct history *history, const struct check_params *params,
                              struct check_outcome *outcome)
{
    struct gc_facts facts;
    gc_facts_read(history, params, &facts);
    outcome->passed = true;
    /* The first generation every member joined (JOINED d: the members in the generation). */
    u64 full = UINT64_MAX;
    u32 full_event = GC_NONE;
    for (u32 i = 0; i < history->count && full == UINT64_MAX; i++) {
        const struct history_event *event = &history->events[i];
        if (event->kind == HISTORY_GROUP_JOINED && event->d >= facts.member_count) {
            full = event->a;
            full_event = i;
        }
    }
    for (u32 i = 0; i < facts.assigned_count && full != UINT64_MAX; i++) {
        const struct gc_assigned *assigned = &facts.assigned[i];
        if (assigned->generation <= full) continue;
        gc_fail(outcome, assigned->index, "member %u was assigned generation %" PRIu64 ", after "
                "all %u members had joined generation %" PRIu64 " (event %u): the group "
                "rebalanced", assigned->node, assigned->generation, facts.member_count, full,
                full_event);
        break;
    }
    if (full == UINT64_MAX) {
        gc_fail(outcome, history->count > 0 ? history->count - 1 : 0, "no generation ever "
                "held all %u members", facts.member_count);
    }
    gc_pass(outcome, "all %u members joined generation %" PRIu64 " and the group never "
            "rebalanced again", facts.member_count, full);
    gc_facts_free(&facts);
}
