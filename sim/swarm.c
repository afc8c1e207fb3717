/* swarm.c: swarm mode, where the seed writes the fault schedule.
 *
 * Swarm testing (Groce et al., "Swarm Testing", ISSTA 2012) runs each seed with a different
 * *mix* of faults rather than every fault at once: a run with only pauses and clock jumps can
 * reach states that a run drowning in crashes never does. So the seed first decides which
 * fault kinds are on and how often each fires, then draws the events, then picks where the
 * fault phase ends (at most "swarm until") and sets heal_at_ns there if the file did not.
 *
 * Invariants of the drawn schedule: every drawn fault fires strictly before the end of the
 * fault phase; a crashed node is restarted and a paused node resumed before that end; a node
 * is never crashed or paused while already down; network faults do not overlap (each is
 * followed by a heal before the next one starts); a slowed disk gets its speed back; stored
 * data is damaged (corruption, read errors) only on observers and a minority of voters. Drawn
 * faults have must_take_effect = false and line = 0. The result is sorted by time, stably, so
 * scripted faults at the same instant keep their place.
 *
 * Determinism: a pure function of (scenario, seed), using its own splitmix64 stream (no
 * shared state), mixed with the scenario name so two scenarios do not share one schedule.
 * Tested by tests/unit/test_scenario.c: same seed => same schedule, different seeds differ,
 * every drawn fault lies inside the phase. */
#include "scenario.h"

#include "../impl/prng.h"

#include <string.h>

struct swarm_rng {
    u64 state;
};

/* splitmix64 (Steele, Lea, Flood 2014), with the shared finaliser from impl/prng.h: small,
 * fast, good enough to pick faults. */
static u64 swarm_next(struct swarm_rng *rng)
{
    rng->state += 0x9e3779b97f4a7c15ull;
    return prng_mix64(rng->state);
}

/* Uniform in [min, max]; the modulo bias is irrelevant for choosing faults. */
static u64 swarm_between(struct swarm_rng *rng, u64 min, u64 max)
{
    ASSERT(min <= max);
    if (max - min == UINT64_MAX) return swarm_next(rng);
    return min + swarm_next(rng) % (max - min + 1);
}

/* True with probability percent / 100. */
static bool swarm_chance(struct swarm_rng *rng, u32 percent)
{
    ASSERT(percent <= 100);
    return swarm_next(rng) % 100 < percent;
}

/* The fault families the seed switches on or off, each with its chance of being on. */
enum swarm_family {
    FAMILY_CRASH,        /* crash then restart */
    FAMILY_PAUSE,        /* pause then resume */
    FAMILY_ISOLATE,      /* isolate (a node or the leader) then heal */
    FAMILY_PARTITION,    /* a random split, or a split by datacenter, then heal */
    FAMILY_CUT,          /* a one-way cut then heal */
    FAMILY_CLOCK_JUMP,
    FAMILY_CLOCK_DRIFT,
    FAMILY_DISK_CORRUPT,
    FAMILY_DISK_READ_ERROR,
    FAMILY_DISK_SLOW,    /* slow, then back to 1x */
    FAMILY_COUNT,
};

static const u32 family_on_percent[FAMILY_COUNT] = {
    [FAMILY_CRASH] = 50,       [FAMILY_PAUSE] = 40,        [FAMILY_ISOLATE] = 50,
    [FAMILY_PARTITION] = 50,   [FAMILY_CUT] = 30,          [FAMILY_CLOCK_JUMP] = 30,
    [FAMILY_CLOCK_DRIFT] = 30, [FAMILY_DISK_CORRUPT] = 20, [FAMILY_DISK_READ_ERROR] = 20,
    [FAMILY_DISK_SLOW] = 30,
};

struct swarm {
    struct scenario *scenario;
    struct swarm_rng rng;
    u64 start_ns;                          /* First instant a fault may fire. */
    u64 end_ns;                            /* The fault phase ends here (exclusive). */
    u64 busy_until_ns[SCENARIO_NODES_MAX]; /* A node is crashed or paused until then. */
    u64 network_busy_until_ns;
    u64 disk_slow_until_ns[SCENARIO_NODES_MAX];
    /* Nodes whose stored data the seed may damage (corruption, read errors): every observer and
     * a minority of the voters, so that a majority always keeps an intact copy of each
     * committed entry. Losing data that no replica still holds is not a bug a checker should
     * report (TigerBeetle's ClusterFaultAtlas keeps faults recoverable the same way). */
    u32 damageable[SCENARIO_NODES_MAX];
    u32 damageable_count;
};

/* Appends one drawn fault if there is room for it and its follow-up (room_for counts both). */
static struct scenario_fault *swarm_add(struct swarm *swarm, u64 at_ns, enum fault_kind kind,
                                        u32 room_for)
{
    struct scenario *scenario = swarm->scenario;
    ASSERT(at_ns >= swarm->start_ns && at_ns < swarm->end_ns);
    if (scenario->fault_count + room_for > SCENARIO_FAULTS_MAX) return NULL;
    struct scenario_fault *fault = &scenario->faults[scenario->fault_count++];
    memset(fault, 0, sizeof(*fault));
    fault->at_ns = at_ns;
    fault->kind = kind;
    fault->target = TARGET_NODE;
    fault->must_take_effect = false;
    fault->line = 0;
    return fault;
}

/* A node that is up at at_ns, or -1 if every node is down then. */
static i32 swarm_node_up(struct swarm *swarm, u64 at_ns)
{
    u32 count = swarm->scenario->node_count;
    u32 first = (u32)swarm_between(&swarm->rng, 0, count - 1);
    for (u32 k = 0; k < count; k++) {
        u32 node = (first + k) % count;
        if (swarm->busy_until_ns[node] <= at_ns) return (i32)node;
    }
    return -1;
}

/* How long a crash, pause or partition lasts: a short blip to several election timeouts,
 * always ending before the phase does so that the recovery is part of the schedule. */
static u64 swarm_duration_end(struct swarm *swarm, u64 at_ns)
{
    u64 duration = swarm_between(&swarm->rng, 100 * NS_PER_MS, 8 * NS_PER_S);
    u64 end = at_ns + duration;
    if (end >= swarm->end_ns) end = swarm->end_ns - 1;
    ASSERT(end >= at_ns);
    return end;
}

/* Crash then restart, or pause then resume, one node. */
static void swarm_stop(struct swarm *swarm, u64 at_ns, bool crash)
{
    i32 node = swarm_node_up(swarm, at_ns);
    if (node < 0) return;
    u64 back_ns = swarm_duration_end(swarm, at_ns);
    struct scenario_fault *stop = swarm_add(swarm, at_ns, crash ? FAULT_CRASH : FAULT_PAUSE, 2);
    if (stop == NULL) return;
    stop->target_node = (u32)node;
    enum fault_kind back_kind = crash ? FAULT_RESTART : FAULT_RESUME;
    struct scenario_fault *back = swarm_add(swarm, back_ns, back_kind, 1);
    ASSERT(back != NULL);
    back->target_node = (u32)node;
    swarm->busy_until_ns[node] = back_ns + 1;
}

/* Splits the nodes in two non-empty sides, by datacenter when there are several and the seed
 * says so (the split that matters most in multi-datacenter deployments). */
static void swarm_split(struct swarm *swarm, struct scenario_fault *fault)
{
    const struct scenario *scenario = swarm->scenario;
    ASSERT(scenario->node_count >= 2);
    bool by_datacenter = scenario->datacenter_count > 1 && swarm_chance(&swarm->rng, 50);
    u32 chosen_datacenter = (u32)swarm_between(&swarm->rng, 0, scenario->datacenter_count - 1);
    u32 forced_a = (u32)swarm_between(&swarm->rng, 0, scenario->node_count - 1);
    u32 forced_b = (forced_a + 1 + (u32)swarm_between(&swarm->rng, 0, scenario->node_count - 2)) %
                   scenario->node_count;
    for (u32 i = 0; i < scenario->node_count; i++) {
        bool side_a = by_datacenter ? scenario->nodes[i].datacenter == chosen_datacenter
                                    : swarm_chance(&swarm->rng, 50);
        if (!by_datacenter && i == forced_a) side_a = true;
        if (!by_datacenter && i == forced_b) side_a = false;
        node_set_add(side_a ? &fault->side_a : &fault->side_b, i);
    }
    ASSERT(forced_a != forced_b);
}

static bool node_set_is_empty(const struct node_set *set)
{
    for (u32 i = 0; i < ARRAY_LEN(set->bits); i++) {
        if (set->bits[i] != 0) return false;
    }
    return true;
}

/* A network fault, then a heal before the next one may start. */
static void swarm_network(struct swarm *swarm, u64 at_ns, enum swarm_family family)
{
    const struct scenario *scenario = swarm->scenario;
    if (at_ns < swarm->network_busy_until_ns || scenario->node_count < 2) return;
    u64 heal_ns = swarm_duration_end(swarm, at_ns);
    enum fault_kind kind = family == FAMILY_ISOLATE     ? FAULT_ISOLATE
                           : family == FAMILY_PARTITION ? FAULT_PARTITION
                                                        : FAULT_CUT_ONE_WAY;
    struct scenario_fault *fault = swarm_add(swarm, at_ns, kind, 2);
    if (fault == NULL) return;
    if (kind == FAULT_ISOLATE) {
        bool leader = swarm_chance(&swarm->rng, 50);
        fault->target = leader ? TARGET_LEADER : TARGET_NODE;
        fault->target_node = leader ? 0 : (u32)swarm_between(&swarm->rng, 0,
                                                             scenario->node_count - 1);
    } else {
        fault->target = TARGET_SETS;
        swarm_split(swarm, fault);
        if (node_set_is_empty(&fault->side_a) || node_set_is_empty(&fault->side_b)) {
            swarm->scenario->fault_count--; /* One datacenter holds every node: no split. */
            return;
        }
    }
    struct scenario_fault *heal = swarm_add(swarm, heal_ns, FAULT_HEAL, 1);
    ASSERT(heal != NULL);
    heal->target = TARGET_SETS; /* The whole network, as the parser writes it. */
    swarm->network_busy_until_ns = heal_ns + 1;
}

/* Clock and disk faults on one node: amounts drawn in ranges that hurt without being absurd. */
/* Chooses the damageable nodes: all observers, and (voters - 1) / 2 voters picked by the seed. */
static void swarm_choose_damageable(struct swarm *swarm)
{
    const struct scenario *scenario = swarm->scenario;
    u32 voters[SCENARIO_NODES_MAX];
    u32 voter_count = 0;
    for (u32 i = 0; i < scenario->node_count; i++) {
        if (scenario->nodes[i].voter) voters[voter_count++] = i;
        else swarm->damageable[swarm->damageable_count++] = i;
    }
    u32 minority = voter_count > 0 ? (voter_count - 1) / 2 : 0;
    for (u32 k = 0; k < minority; k++) {
        /* Partial Fisher-Yates: the first k entries are a uniform sample. */
        u32 pick = k + (u32)swarm_between(&swarm->rng, 0, voter_count - 1 - k);
        u32 chosen = voters[pick];
        voters[pick] = voters[k];
        voters[k] = chosen;
        swarm->damageable[swarm->damageable_count++] = chosen;
    }
    ASSERT(swarm->damageable_count <= scenario->node_count);
}

static void swarm_node_fault(struct swarm *swarm, u64 at_ns, enum swarm_family family)
{
    struct swarm_rng *rng = &swarm->rng;
    u32 node = (u32)swarm_between(rng, 0, swarm->scenario->node_count - 1);
    bool damages = family == FAMILY_DISK_CORRUPT || family == FAMILY_DISK_READ_ERROR;
    if (damages) {
        if (swarm->damageable_count == 0) return; /* One or two voters: no minority to spare. */
        node = swarm->damageable[swarm_between(rng, 0, swarm->damageable_count - 1)];
    }
    enum fault_kind kind = family == FAMILY_CLOCK_JUMP        ? FAULT_CLOCK_JUMP
                           : family == FAMILY_CLOCK_DRIFT     ? FAULT_CLOCK_DRIFT
                           : family == FAMILY_DISK_CORRUPT    ? FAULT_DISK_CORRUPT
                           : family == FAMILY_DISK_READ_ERROR ? FAULT_DISK_READ_ERROR
                                                              : FAULT_DISK_SLOW;
    if (kind == FAULT_DISK_SLOW && swarm->disk_slow_until_ns[node] > at_ns) return;
    struct scenario_fault *fault = swarm_add(swarm, at_ns, kind, kind == FAULT_DISK_SLOW ? 2 : 1);
    if (fault == NULL) return;
    fault->target_node = node;
    i64 sign = swarm_chance(rng, 50) ? 1 : -1;
    switch (kind) {
    case FAULT_CLOCK_JUMP:
        fault->amount = sign * (i64)swarm_between(rng, NS_PER_MS, 60 * NS_PER_S);
        break;
    case FAULT_CLOCK_DRIFT: fault->amount = sign * (i64)swarm_between(rng, 1, 500); break;
    case FAULT_DISK_CORRUPT: fault->amount = (i64)swarm_between(rng, 1, 4); break;
    case FAULT_DISK_READ_ERROR: fault->amount = (i64)swarm_between(rng, 1, 8); break;
    default: {
        ASSERT(kind == FAULT_DISK_SLOW);
        fault->amount = (i64)swarm_between(rng, 2, 50);
        u64 restore_ns = swarm_duration_end(swarm, at_ns);
        struct scenario_fault *restore = swarm_add(swarm, restore_ns, FAULT_DISK_SLOW, 1);
        ASSERT(restore != NULL);
        restore->target_node = node;
        restore->amount = 1;
        swarm->disk_slow_until_ns[node] = restore_ns + 1;
    }
    }
}

static void swarm_family_event(struct swarm *swarm, u64 at_ns, enum swarm_family family)
{
    switch (family) {
    case FAMILY_CRASH: swarm_stop(swarm, at_ns, true); break;
    case FAMILY_PAUSE: swarm_stop(swarm, at_ns, false); break;
    case FAMILY_ISOLATE:
    case FAMILY_PARTITION:
    case FAMILY_CUT: swarm_network(swarm, at_ns, family); break;
    default: swarm_node_fault(swarm, at_ns, family); break;
    }
}

/* Walks the phase in time order: at each step the next event of every enabled family is
 * compared and the earliest fires, so families interleave as independent Poisson-like streams
 * and node/network bookkeeping sees events in time order. */
static void swarm_draw(struct swarm *swarm, const bool *on, const u64 *mean_gap_ns)
{
    u64 next_ns[FAMILY_COUNT];
    for (u32 f = 0; f < FAMILY_COUNT; f++) {
        next_ns[f] = swarm->start_ns + swarm_between(&swarm->rng, 0, 2 * mean_gap_ns[f]);
    }
    for (u32 step = 0; step < SCENARIO_FAULTS_MAX; step++) {
        u32 earliest = FAMILY_COUNT;
        for (u32 f = 0; f < FAMILY_COUNT; f++) {
            if (on[f] && (earliest == FAMILY_COUNT || next_ns[f] < next_ns[earliest])) earliest = f;
        }
        ASSERT(earliest < FAMILY_COUNT);
        if (next_ns[earliest] >= swarm->end_ns) return;
        swarm_family_event(swarm, next_ns[earliest], (enum swarm_family)earliest);
        u64 mean = mean_gap_ns[earliest];
        u64 gap = swarm_between(&swarm->rng, mean / 2, mean * 3 / 2);
        next_ns[earliest] += MAX(gap, NS_PER_MS);
    }
}

void swarm_expand(struct scenario *scenario, u64 seed)
{
    ASSERT(scenario != NULL);
    if (!scenario->swarm.enabled) return;
    ASSERT(scenario->node_count > 0);
    ASSERT(scenario->swarm.faults_until_ns > 0);
    struct swarm swarm;
    memset(&swarm, 0, sizeof(swarm));
    swarm.scenario = scenario;
    u64 name_hash = 0xcbf29ce484222325ull; /* FNV-1a, so scenarios do not share schedules. */
    for (const char *c = scenario->name; *c != '\0'; c++) {
        name_hash = (name_hash ^ (u8)*c) * 0x100000001b3ull;
    }
    swarm.rng.state = seed ^ name_hash;

    /* Faults start once the cluster had a chance to form (the workload's start, or 1 s). */
    u64 until = scenario->swarm.faults_until_ns;
    u64 start = scenario->workload.kind != WORKLOAD_NONE ? scenario->workload.start_ns : NS_PER_S;
    swarm.start_ns = MIN(start, until / 2);
    u64 range = until - swarm.start_ns;
    ASSERT(range >= 1);
    swarm.end_ns = swarm.start_ns + swarm_between(&swarm.rng, MAX(range / 2, 1), range);
    ASSERT(swarm.end_ns > swarm.start_ns && swarm.end_ns <= until);

    swarm_choose_damageable(&swarm);
    bool on[FAMILY_COUNT];
    u64 mean_gap_ns[FAMILY_COUNT];
    bool any = false;
    for (u32 f = 0; f < FAMILY_COUNT; f++) {
        on[f] = swarm_chance(&swarm.rng, family_on_percent[f]);
        mean_gap_ns[f] = swarm_between(&swarm.rng, 500 * NS_PER_MS, 10 * NS_PER_S);
        any = any || on[f];
    }
    if (!any) on[swarm_between(&swarm.rng, 0, FAMILY_COUNT - 1)] = true;

    u32 scripted = scenario->fault_count;
    swarm_draw(&swarm, on, mean_gap_ns);
    for (u32 i = scripted; i < scenario->fault_count; i++) {
        ASSERT(scenario->faults[i].at_ns < swarm.end_ns);
        ASSERT(!scenario->faults[i].must_take_effect);
    }
    if (scenario->heal_at_ns == 0) scenario->heal_at_ns = swarm.end_ns;
    ASSERT(scenario->heal_at_ns >= swarm.end_ns);
    scenario_faults_sort(scenario); /* Scripted faults come first; the sort is stable. */
}
