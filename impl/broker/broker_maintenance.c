/* broker_maintenance.c: the broker's periodic work, on its own two timers (after the request
 * slots' ones): closing idle client connections, and the maintenance of the partition logs
 * (retention, compaction). Both run in the deterministic core, so ksim and kbroker behave alike.
 *
 * Idle connections (connections.max.idle.ms): every client connection the broker watches
 * (accepted on the client listener, or that sent a Kafka request) carries the time of its last
 * traffic: its acceptance, a request's arrival, an answer handed to io. One with no request in
 * service and no traffic for that long is closed, as Kafka's selector does. The sweep timer is
 * armed at the earliest moment a connection could become idle, and only while some connection
 * could: a broker without clients has no timer. While back-pressure pauses reading on every
 * connection, requests may be waiting unread in the sockets, so nothing is closed; the sweep
 * resumes when a slot frees.
 *
 * Log maintenance (log.retention.check.interval.ms): each period, one pass walks the open logs
 * in topic-slot then partition order (never pointer or hash order) and, for each, one operation
 * at a time: with a per-message flush policy, a flush if the durable end lags the log end (the
 * high watermark stops at the durable end then, see broker_high_watermark, and fetches parked
 * on the partition wake when it moves); partition_log_enforce_retention (the log itself knows
 * whether cleanup.policy has delete, and deletes the oldest segments past retention.ms and
 * retention.bytes, never the active one); then, for cleanup.policy=compact logs,
 * partition_log_compact. A period that finds the previous pass still walking skips. A log that
 * refuses an operation (busy, offline) is left for the next pass.
 *
 * Invariants: at most one maintenance operation in flight, on the log at the pass's cursor; a
 * watched connection with a request in service is never closed. Tested by
 * tests/unit/test_broker.c (idle closes, retention after the timer) and the integration tests
 * (tests/integration/kafka_kcat.sh). */
#include "broker_internal.h"

#include <string.h>

enum broker_maintenance_step {
    BROKER_MAINTENANCE_FLUSH,
    BROKER_MAINTENANCE_RETENTION,
    BROKER_MAINTENANCE_COMPACT,
    BROKER_MAINTENANCE_STEPS,
};

/* ===== Idle connections ===== */

static bool broker_conn_in_service(const struct broker *broker, io_conn conn)
{
    if (broker_groups_parked_on(broker, conn)) return true; /* A JoinGroup may wait minutes. */
    for (u32 i = 0; i < BROKER_SLOTS_MAX; i++) {
        if (broker->slots[i].used && broker->slots[i].conn == conn) return true;
    }
    return false;
}

static u64 broker_idle_ns(const struct broker *broker)
{
    return broker->config.connections_max_idle_ms * NS_PER_MS;
}

void broker_idle_arm(struct broker *broker)
{
    if (broker->idle_timer_armed || broker->stopping) return;
    u64 earliest = UINT64_MAX;
    for (u32 i = 0; i < BROKER_CONNS_MAX; i++) {
        io_conn conn = broker->conns[i];
        if (conn == 0 || broker_conn_in_service(broker, conn)) continue;
        earliest = MIN(earliest, broker->conn_active_ns[i]);
    }
    if (earliest == UINT64_MAX) return; /* Armed again by the next connection or answer. */
    u64 idle_ns = broker_idle_ns(broker);
    u64 deadline = earliest > UINT64_MAX - idle_ns ? UINT64_MAX : earliest + idle_ns;
    broker->idle_timer_armed = true;
    io_timer_set(broker->io, broker->timer_base + BROKER_TIMER_IDLE, deadline);
}

static void broker_idle_on_timer(struct broker *broker)
{
    broker->idle_timer_armed = false;
    if (broker->stopping || broker->conns_paused) return;
    u64 now_ns = io_now_ns(broker->io);
    u64 idle_ns = broker_idle_ns(broker);
    for (u32 i = 0; i < BROKER_CONNS_MAX; i++) {
        io_conn conn = broker->conns[i];
        if (conn == 0 || broker_conn_in_service(broker, conn)) continue;
        if (now_ns < broker->conn_active_ns[i] || now_ns - broker->conn_active_ns[i] < idle_ns) {
            continue;
        }
        io_log(broker->io, IO_LOG_INFO, "broker: closing connection %u, idle for %llu ms", conn,
               (unsigned long long)((now_ns - broker->conn_active_ns[i]) / NS_PER_MS));
        broker->metrics.connections_idle_closed++;
        broker_conn_close(broker, conn);
    }
    broker_idle_arm(broker);
}

/* ===== Log maintenance ===== */

/* Whether the flush policy is per message: the high watermark then waits for the sync. */
static bool broker_log_flushes_each_message(const struct partition_log *log)
{
    return log->config.flush_messages <= 1;
}

/* Issues the operation of the current step on the cursor's log; false when the step has
 * nothing to do or the log refused it. */
static bool broker_maintenance_issue(struct broker *broker, struct partition_log *log)
{
    struct broker_maintenance *m = &broker->maintenance;
    u64 data = broker_event_data(BROKER_EVENT_MAINTENANCE, 0, m->topic << 8 | m->partition);
    enum log_result result = LOG_OK;
    switch (m->step) {
    case BROKER_MAINTENANCE_FLUSH:
        if (!broker_log_flushes_each_message(log) ||
            log->recovery_point >= partition_log_end_offset(log)) {
            return false;
        }
        result = partition_log_flush(log, partition_log_end_offset(log), data);
        break;
    case BROKER_MAINTENANCE_RETENTION:
        result = partition_log_enforce_retention(log, data);
        if (result == LOG_OK) broker->metrics.retention_checks++;
        break;
    case BROKER_MAINTENANCE_COMPACT:
        /* A log opened before compaction was turned on has no cleaner map until it reopens. */
        if (!(log->config.cleanup_policy & LOG_CLEANUP_COMPACT) || log->cleaner_map == NULL) {
            return false;
        }
        result = partition_log_compact(log, data);
        if (result == LOG_OK) broker->metrics.compactions++;
        break;
    default: ASSERT(false && "unknown maintenance step");
    }
    if (result == LOG_OK) return true;
    broker->metrics.maintenance_failures++;
    io_log(broker->io, IO_LOG_WARN, "broker: maintenance of %s-%u: %s",
           broker->topics[m->topic].name, m->partition, log_result_name(result));
    return false;
}

/* Moves the cursor on to the next step, partition or topic, issuing the next operation; ends
 * the pass after the last log. */
static void broker_maintenance_next(struct broker *broker)
{
    struct broker_maintenance *m = &broker->maintenance;
    ASSERT(m->running && !m->in_flight);
    while (m->topic < BROKER_TOPICS_MAX && !broker->stopping) {
        struct broker_topic *topic = &broker->topics[m->topic];
        if (!topic->used || m->partition >= topic->partition_count) {
            m->topic++;
            m->partition = 0;
            m->step = 0;
            continue;
        }
        if (m->step >= BROKER_MAINTENANCE_STEPS ||
            topic->states[m->partition] != BROKER_PARTITION_OPEN) {
            m->partition++;
            m->step = 0;
            continue;
        }
        struct partition_log *log = &topic->logs[m->partition];
        if (m->step == BROKER_MAINTENANCE_FLUSH) partition_log_tick(log); /* flush.ms */
        bool issued = broker_maintenance_issue(broker, log);
        m->step++;
        if (issued) {
            m->in_flight = true;
            return;
        }
    }
    m->running = false;
}

static void broker_maintenance_arm(struct broker *broker)
{
    u64 interval_ns = broker->config.log_retention_check_interval_ms * NS_PER_MS;
    io_timer_set(broker->io, broker->timer_base + BROKER_TIMER_MAINTENANCE,
                 io_now_ns(broker->io) + interval_ns);
}

void broker_maintenance_start(struct broker *broker)
{
    memset(&broker->maintenance, 0, sizeof(broker->maintenance));
    broker_maintenance_arm(broker);
}

static void broker_maintenance_on_timer(struct broker *broker)
{
    if (broker->stopping) return;
    broker_maintenance_arm(broker);
    struct broker_maintenance *m = &broker->maintenance;
    if (m->running && m->in_flight) {
        /* A log closed or dropped with our operation queued never answers: give up on it. */
        const struct broker_topic *topic = &broker->topics[m->topic];
        bool open = topic->used && m->partition < topic->partition_count &&
                    topic->states[m->partition] == BROKER_PARTITION_OPEN;
        if (!open) m->running = m->in_flight = false;
    }
    if (m->running) return; /* The last pass is still walking: this period is skipped. */
    m->running = true;
    m->topic = 0;
    m->partition = 0;
    m->step = 0;
    broker_maintenance_next(broker);
}

void broker_maintenance_on_event(struct broker *broker, const struct log_event *event)
{
    struct broker_maintenance *m = &broker->maintenance;
    if (!m->in_flight || (u32)event->user_data != (m->topic << 8 | m->partition)) {
        COVER(true); /* The answer of an operation given up on (see the timer). */
        return;
    }
    ASSERT(m->running);
    m->in_flight = false;
    const struct broker_topic *topic = &broker->topics[m->topic];
    if (event->result != LOG_OK) {
        broker->metrics.maintenance_failures++;
        io_log(broker->io, IO_LOG_WARN, "broker: maintenance of %s-%u failed: %s", topic->name,
               m->partition, log_result_name(event->result));
    } else if (event->kind == LOG_EVENT_FLUSHED) {
        /* The durable end moved: the high watermark with it, for fetches waiting on it. */
        broker_fetch_wake(broker, m->topic, (i32)m->partition);
    } else if (event->kind == LOG_EVENT_START_ADVANCED) {
        broker->metrics.retention_segments_deleted += event->segments_deleted;
        if (event->segments_deleted > 0) {
            io_log(broker->io, IO_LOG_INFO,
                   "broker: retention deleted %u segments of %s-%u; log start now %lld",
                   event->segments_deleted, topic->name, m->partition,
                   (long long)event->log_start_offset);
        }
    } else {
        ASSERT(event->kind == LOG_EVENT_COMPACTED);
        broker->metrics.compaction_records_removed += event->records_removed;
    }
    broker_maintenance_next(broker);
}

/* ===== The timers ===== */

void broker_periodic_on_timer(struct broker *broker, u32 index)
{
    if (index == BROKER_TIMER_IDLE) {
        broker_idle_on_timer(broker);
        return;
    }
    ASSERT(index == BROKER_TIMER_MAINTENANCE);
    broker_maintenance_on_timer(broker);
}
