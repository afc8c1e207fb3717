/* world.c: processes, the event loop, and the fault controls of the simulated world.
 *
 * The loop pops events in (time, seq) order. Process events (start, timer, disk completion,
 * connection event, frames) first pass the process gate: an event of an older incarnation is
 * dropped (a crash forgets everything in flight), and an event due while its process is paused
 * is held in the process's deferred list, to be re-queued in the same order at resume. Wire
 * events go to the network model whatever the processes are doing.
 *
 * Invariants: at most one handler runs at a time (world->running), and never inside an io
 * call; a process's incarnation only grows; a crashed process holds no connection, timer, file
 * handle or operation in flight. Tested by tests/unit/test_sim_*.c, which drive small test
 * processes through this API. */
#include "world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct world *world_create(const struct scenario *scenario, u64 seed)
{
    ASSERT(scenario->datacenter_count > 0);
    ASSERT(scenario->datacenter_count <= SCENARIO_DATACENTERS_MAX);
    struct world *world = calloc(1, sizeof(*world));
    ASSERT(world != NULL);
    world->scenario = scenario;
    world->seed = seed;
    sched_init(&world->sched);
    trace_init(&world->trace);
    world->trace.process_names = world->process_names;
    world->net_prng = prng_stream(seed, PRNG_STREAM_NETWORK);
    world->disk_prng = prng_stream(seed, PRNG_STREAM_DISK);
    world->fault_prng = prng_stream(seed, PRNG_STREAM_FAULTS);
    net_init(&world->net);
    return world;
}

static void world_process_drop_memory(struct world_process *process)
{
    if (process->instance == NULL) return;
    void *instance = process->instance;
    process->instance = NULL;
    process->destroy(process->factory, instance);
}

void world_destroy(struct world *world)
{
    for (u32 i = 0; i < world->process_count; i++) {
        struct world_process *process = world->processes[i];
        process->alive = false;
        process->incarnation++;
        world_process_drop_memory(process);
        io_sim_crash_disk(process); /* Frees operations in flight and handles. */
        disk_free(&process->disk);
        free(process->deferred);
        free(process->conn_of_handle);
        free(process->files);
        free(process);
    }
    net_free(&world->net);
    sched_free(&world->sched);
    free(world);
}

void world_set_observer(struct world *world, world_observer observer, void *context)
{
    world->observer = observer;
    world->observer_context = context;
}

void world_set_buggify(struct world *world, bool enabled) { world->buggify = enabled; }

void world_push(struct world *world, u64 time_ns, u32 kind, u32 process, u32 aux, u64 a, u64 b)
{
    ASSERT(process < world->process_count);
    struct sched_event event = {0};
    event.time_ns = time_ns;
    event.kind = kind;
    event.process = process;
    event.incarnation = world->processes[process]->incarnation;
    event.aux = aux;
    event.a = a;
    event.b = b;
    sched_push(&world->sched, &event);
}

void world_trace(struct world *world, u32 kind, u32 process, u64 a, u64 b, u64 c,
                 const char *text)
{
    trace_record(&world->trace, world_now_ns(world), kind, process, a, b, c, text);
}

i32 world_process_find(const struct world *world, const char *name)
{
    for (u32 i = 0; i < world->process_count; i++) {
        if (strcmp(world->processes[i]->name, name) == 0) return (i32)i;
    }
    return -1;
}

u32 world_process_add(struct world *world, const struct world_process_spec *spec)
{
    ASSERT(world->process_count < WORLD_PROCESSES_MAX);
    ASSERT(spec->datacenter < world->scenario->datacenter_count);
    ASSERT(spec->handler != NULL);
    ASSERT(spec->create != NULL);
    ASSERT(strlen(spec->name) > 0 && strlen(spec->name) < SCENARIO_NAME_MAX);
    ASSERT(world_process_find(world, spec->name) < 0);
    struct world_process *process = calloc(1, sizeof(*process));
    ASSERT(process != NULL);
    u32 index = world->process_count++;
    process->world = world;
    process->index = index;
    snprintf(process->name, sizeof(process->name), "%s", spec->name);
    process->datacenter = spec->datacenter;
    process->id = spec->id;
    process->handler = spec->handler;
    process->create = spec->create;
    process->destroy = spec->destroy;
    process->factory = spec->factory;
    process->io.context = process;
    process->io.vtable = &io_sim_vtable;
    process->io.node_id = spec->id;
    process->disk_slow_multiplier = 1;
    disk_init(&process->disk);
    clock_init(&process->clock);
    process->random = prng_stream(world->seed, PRNG_STREAM_PROCESS_RANDOM + index);
    process->buggify = prng_stream(world->seed, PRNG_STREAM_PROCESS_BUGGIFY + index);
    process->disk_prng = prng_stream(world->seed, PRNG_STREAM_PROCESS_DISK + index);
    world->processes[index] = process;
    world->process_names[index] = process->name;
    world->trace.process_name_count = world->process_count;
    ASSERT(spec->start_ns >= world_now_ns(world));
    world_push(world, spec->start_ns, WORLD_EVENT_START, index, 0, 0, 0);
    return index;
}

/* ===== The event loop ===== */

static void world_start(struct world_process *process)
{
    struct world *world = process->world;
    ASSERT(!process->alive);
    ASSERT(process->instance == NULL);
    process->alive = true;
    process->starts++;
    world->running = process;
    process->instance = process->create(process->factory, &process->io);
    ASSERT(process->instance != NULL);
    world_trace(world, TRACE_START, process->index, process->incarnation, process->starts, 0,
                NULL);
    if (world->observer != NULL) {
        struct history_event event = {0};
        event.time_ns = world_now_ns(world);
        event.node = process->id;
        event.kind = HISTORY_NODE_START;
        event.a = process->starts;
        world->observer(world->observer_context, &event, NULL);
    }
    process->handler->on_start(process->instance);
    world->running = NULL;
}

static void world_timer_fire(struct world_process *process, const struct sched_event *event)
{
    u32 timer_id = event->aux;
    ASSERT(timer_id < IO_TIMERS_MAX);
    if (!process->timer_armed[timer_id]) return;
    if (process->timer_generation[timer_id] != (u32)event->a) return; /* Re-armed since. */
    process->timer_armed[timer_id] = false;
    world_trace(process->world, TRACE_TIMER, process->index, timer_id, 0, 0, NULL);
    process->world->running = process;
    process->handler->on_timer(process->instance, timer_id);
    process->world->running = NULL;
}

static void world_defer(struct world_process *process, const struct sched_event *event)
{
    if (process->deferred_count == process->deferred_capacity) {
        u32 capacity = process->deferred_capacity == 0 ? 64 : process->deferred_capacity * 2;
        process->deferred = realloc(process->deferred, sizeof(*process->deferred) * capacity);
        ASSERT(process->deferred != NULL);
        process->deferred_capacity = capacity;
    }
    process->deferred[process->deferred_count++] = *event;
    process->deferred_total++;
}

static void world_process_event(struct world *world, const struct sched_event *event)
{
    struct world_process *process = world->processes[event->process];
    if (event->incarnation != process->incarnation) return; /* Forgotten by a crash. */
    if (event->kind == WORLD_EVENT_START) {
        if (process->alive) return;
    } else if (!process->alive) {
        return;
    }
    if (process->paused) {
        world_defer(process, event);
        return;
    }
    switch (event->kind) {
    case WORLD_EVENT_START: world_start(process); break;
    case WORLD_EVENT_TIMER: world_timer_fire(process, event); break;
    case WORLD_EVENT_DISK: io_sim_on_disk_event(process, event); break;
    case WORLD_EVENT_CONN:
    case WORLD_EVENT_FRAMES: net_on_process_event(process, event); break;
    default: ASSERT(false);
    }
    ASSERT(world->running == NULL);
}

void world_run_until(struct world *world, u64 time_ns)
{
    ASSERT(time_ns >= world_now_ns(world));
    ASSERT(world->running == NULL);
    /* The simulation's one unbounded loop: it ends when no event is due before time_ns. */
    u64 next_ns = 0;
    while (sched_peek_time(&world->sched, &next_ns) && next_ns <= time_ns) {
        struct sched_event event;
        bool popped = sched_pop(&world->sched, &event);
        ASSERT(popped);
        if (event.kind <= WORLD_EVENT_PROCESS_LAST) {
            world_process_event(world, &event);
        } else {
            net_on_event(world, &event);
        }
    }
    sched_advance(&world->sched, time_ns);
}

/* ===== Faults ===== */

static void world_trace_fault(struct world *world, u32 process, u32 what, i64 amount,
                              const char *text)
{
    world_trace(world, TRACE_FAULT, process, what, process, (u64)amount, text);
}

bool world_crash(struct world *world, u32 index)
{
    ASSERT(index < world->process_count);
    ASSERT(world->running == NULL);
    struct world_process *process = world->processes[index];
    if (!process->alive) {
        process->incarnation++; /* A pending first start is cancelled too: it stays down. */
        world_trace_fault(world, index, FAULT_CRASH, 0, "crash (already down)");
        return false;
    }
    net_crash(process); /* Before the incarnation moves on: it finds the old sides. */
    process->alive = false;
    process->paused = false;
    process->incarnation++;
    process->deferred_count = 0;
    memset(process->timer_armed, 0, sizeof(process->timer_armed));
    world_process_drop_memory(process);
    io_sim_crash_disk(process);
    disk_crash(&process->disk, &process->disk_prng);
    world_trace_fault(world, index, FAULT_CRASH, 0, "crash");
    ASSERT(process->instance == NULL);
    ASSERT(process->listener_count == 0);
    return true;
}

bool world_restart(struct world *world, u32 index)
{
    ASSERT(index < world->process_count);
    struct world_process *process = world->processes[index];
    if (process->alive) {
        world_trace_fault(world, index, FAULT_RESTART, 0, "restart (already up)");
        return false;
    }
    process->incarnation++;
    world_push(world, world_now_ns(world), WORLD_EVENT_START, index, 0, 0, 0);
    world_trace_fault(world, index, FAULT_RESTART, 0, "restart");
    return true;
}

bool world_pause(struct world *world, u32 index)
{
    ASSERT(index < world->process_count);
    struct world_process *process = world->processes[index];
    bool effective = process->alive && !process->paused;
    if (effective) process->paused = true;
    world_trace_fault(world, index, FAULT_PAUSE, effective, "pause");
    return effective;
}

bool world_resume(struct world *world, u32 index)
{
    ASSERT(index < world->process_count);
    struct world_process *process = world->processes[index];
    if (!process->paused) {
        world_trace_fault(world, index, FAULT_RESUME, 0, "resume (not paused)");
        return false;
    }
    process->paused = false;
    /* Re-queue what waited, in the order it was due; it runs before anything newer. */
    for (u32 i = 0; i < process->deferred_count; i++) {
        struct sched_event event = process->deferred[i];
        event.time_ns = world_now_ns(world);
        sched_push(&world->sched, &event);
    }
    world_trace_fault(world, index, FAULT_RESUME, process->deferred_count, "resume");
    process->deferred_count = 0;
    return true;
}

bool world_link_set(struct world *world, u32 from, u32 to, bool cut)
{
    ASSERT(from < world->process_count);
    ASSERT(to < world->process_count);
    bool was = world->cut[from][to] != 0;
    if (was == cut) return false;
    world->cut[from][to] = cut ? 1 : 0;
    if (cut) world->cut_count++;
    else world->cut_count--;
    if (!cut) net_links_changed(world);
    return true;
}

bool world_isolate(struct world *world, u32 index)
{
    ASSERT(index < world->process_count);
    bool changed = false;
    for (u32 other = 0; other < world->process_count; other++) {
        if (other == index) continue;
        changed |= world_link_set(world, index, other, true);
        changed |= world_link_set(world, other, index, true);
    }
    world_trace_fault(world, index, FAULT_ISOLATE, changed, "isolate");
    return changed;
}

bool world_partition(struct world *world, const struct node_set *side_a,
                     const struct node_set *side_b, bool one_way)
{
    bool changed = false;
    u32 count = MIN(world->process_count, SCENARIO_NODES_MAX);
    for (u32 a = 0; a < count; a++) {
        if (!node_set_has(side_a, a)) continue;
        for (u32 b = 0; b < count; b++) {
            if (!node_set_has(side_b, b) || a == b) continue;
            changed |= world_link_set(world, a, b, true);
            if (!one_way) changed |= world_link_set(world, b, a, true);
        }
    }
    world_trace_fault(world, 0, one_way ? FAULT_CUT_ONE_WAY : FAULT_PARTITION, changed,
                      one_way ? "cut one way" : "partition");
    return changed;
}

bool world_heal_network(struct world *world)
{
    bool changed = world->cut_count > 0;
    memset(world->cut, 0, sizeof(world->cut));
    world->cut_count = 0;
    net_links_changed(world);
    world_trace_fault(world, 0, FAULT_HEAL, changed, "heal");
    return changed;
}

bool world_clock_jump(struct world *world, u32 index, i64 amount_ns)
{
    ASSERT(index < world->process_count);
    struct world_process *process = world->processes[index];
    clock_jump(&process->clock, world_now_ns(world), amount_ns);
    world_trace_fault(world, index, FAULT_CLOCK_JUMP, amount_ns, "clock jump");
    return amount_ns != 0;
}

bool world_clock_drift(struct world *world, u32 index, i64 drift_ppm)
{
    ASSERT(index < world->process_count);
    struct world_process *process = world->processes[index];
    bool changed = process->clock.drift_ppm != drift_ppm;
    clock_set_drift(&process->clock, world_now_ns(world), drift_ppm);
    world_trace_fault(world, index, FAULT_CLOCK_DRIFT, drift_ppm, "clock drift");
    return changed;
}

u32 world_disk_corrupt(struct world *world, u32 index, u32 sectors)
{
    ASSERT(index < world->process_count);
    struct world_process *process = world->processes[index];
    u32 hit = disk_corrupt(&process->disk, &process->disk_prng, sectors);
    world_trace_fault(world, index, FAULT_DISK_CORRUPT, hit, "disk corrupt");
    ASSERT(hit <= sectors);
    return hit;
}

bool world_disk_read_errors(struct world *world, u32 index, u32 count)
{
    ASSERT(index < world->process_count);
    struct world_process *process = world->processes[index];
    process->read_errors_pending += count;
    world_trace_fault(world, index, FAULT_DISK_READ_ERROR, count, "disk read errors");
    return count > 0;
}

bool world_disk_slow(struct world *world, u32 index, u32 multiplier)
{
    ASSERT(index < world->process_count);
    struct world_process *process = world->processes[index];
    u32 value = multiplier == 0 ? 1 : multiplier;
    bool changed = process->disk_slow_multiplier != value;
    process->disk_slow_multiplier = value;
    world_trace_fault(world, index, FAULT_DISK_SLOW, value, "disk slow");
    return changed;
}

void world_fault_counters(const struct world *world, struct world_stats *stats,
                          struct disk_stats *disk)
{
    *stats = world->stats;
    memset(disk, 0, sizeof(*disk));
    for (u32 i = 0; i < world->process_count; i++) {
        const struct disk_stats *each = &world->processes[i]->disk.stats;
        disk->bytes_lost_to_crash += each->bytes_lost_to_crash;
        disk->writes_torn += each->writes_torn;
        disk->sectors_corrupted += each->sectors_corrupted;
    }
}
