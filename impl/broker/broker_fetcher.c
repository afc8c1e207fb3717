/* broker_fetcher.c: the follower's side of replication (see broker_replication.h).
 *
 * A partition this broker follows (role FOLLOWER: a replica here, led by another broker in the
 * image) is copied from its leader by a fetcher link: one connection per leader broker, to the
 * client listener the image registers for it, carrying one Fetch v12 at a time that names
 * every followed partition of that leader (at most BROKER_PARTS_MAX, rotating when there are
 * more). Each partition asks from its log end (ReplicaId = this broker, LastFetchedEpoch = the
 * newest epoch in its log, CurrentLeaderEpoch = the image's). The answer's frame is held
 * (io_frame_hold), so its batches go from the receive buffer to the log without a copy, and
 * reading on the connection stops until every log operation the answer asked for completed:
 *   - records: each whole batch is appended as the leader wrote it (offsets and epochs kept),
 *     one at a time per partition (a later batch never lands after a failed one, which would
 *     leave a hole); a partial trailing batch and batches already in the log are skipped;
 *     then the follower high watermark becomes min(the leader's, own log end), never lower
 *     within the leader epoch, and the log start follows the leader's (as far as the high
 *     watermark) by partition_log_delete_records, which is how DeleteRecords and retention
 *     reach followers in Kafka;
 *   - DivergingEpoch (E, O): the log is cut where it stops agreeing with the leader's, by
 *     Kafka's rule (AbstractFetcherThread): with (E', O') the largest own epoch <= E and its
 *     end (E' = E, O' = the first own epoch's start when every own epoch is above E), the cut is
 *     min(O', O, log end) when E' = E, min(O', log end) when E' < E (an intermediate cut: the
 *     next fetch's LastFetchedEpoch is E' and the leader answers again), min(O, log end) when
 *     the log has no epochs. A cut that would not shorten the log backs off instead of looping;
 *   - OFFSET_OUT_OF_RANGE, as Kafka's handleOutOfRangeError: below the leader's log start, the
 *     log starts over empty at the leader's log start (partition_log_truncate_fully, Kafka's
 *     truncateFullyAndStartAt); above the leader's log end, the log is cut there, or starts
 *     over there when that is below its own log start (nothing of it is left to keep). The
 *     answer does not carry the leader's log end: its HighWatermark, never past it, stands in
 *     (the follower may then cut a little more than Kafka's would, and fetches it again);
 *   - any other error (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH,
 *     UNKNOWN_TOPIC_OR_PARTITION, ...): the partition waits replica.fetch.backoff.ms (the image
 *     usually moves meanwhile).
 * An answer touches a partition only if the image still names the leader and leader epoch its
 * request was built for, the role is still FOLLOWER and the topic is the same one (else it is
 * ignored: a partition that became leader is dropped from fetching at once). A log I/O error
 * takes the partition out (BROKER_PARTITION_FAILED, as the leader side does). Connections that
 * fail are retried after replica.fetch.backoff.ms; a Fetch unanswered for its wait plus 30 s
 * (Kafka's replica.socket.timeout.ms) closes its connection; a link whose leader leads nothing
 * this broker follows is closed.
 *
 * Observations: HISTORY_REPLICA_APPENDED per batch appended, HISTORY_REPLICA_TRUNCATED per cut
 * (new log end, the high watermark known before it; a high watermark above the new end is
 * lowered to it, as Kafka's log does), HISTORY_REPLICA_HIGH_WATERMARK when the follower's high
 * watermark moves (role follower).
 *
 * Invariants: a link with applying set holds exactly one frame (held_conn) and is not freed;
 * a partition's bit in fetcher.busy is set exactly while one of its answer's log operations is
 * in flight, and a busy partition is named by no new Fetch; at most one Fetch per link. Tested
 * by tests/unit/test_broker_fetcher.c. */
#include "broker_internal.h"

#include "../../model/history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FETCHER_VERSION 12
#define FETCHER_CLIENT_ID "cairn-replica-fetcher"
#define FETCHER_SOCKET_TIMEOUT_NS (30000ull * NS_PER_MS) /* replica.socket.timeout.ms */
#define FETCHER_FRAME_MAX BROKER_OUT_SIZE /* The leader's answers: ~1 MiB of records + heads. */

_Static_assert(BROKER_PARTITIONS_MAX <= 64u, "one busy bit per partition in a u64");
_Static_assert(BROKER_FETCHER_LINKS_MAX <= 0x10000u, "link index fits the event's slot bits");

static u64 fetcher_now(const struct broker *broker) { return io_now_ns(broker->io); }

static u64 fetcher_backoff_ns(const struct broker *broker)
{
    return broker->config.replica_fetch_backoff_ms * NS_PER_MS;
}

static u32 fetcher_link_index(const struct broker *broker, const struct broker_fetcher_link *link)
{
    return (u32)(link - broker->fetcher.links);
}

/* ===== Partitions ===== */

static bool fetcher_busy(const struct broker *broker, u32 topic, u32 partition)
{
    return (broker->fetcher.busy[topic] >> partition) & 1u;
}

static void fetcher_busy_set(struct broker *broker, u32 topic, u32 partition, bool busy)
{
    ASSERT(fetcher_busy(broker, topic, partition) != busy);
    if (busy) {
        broker->fetcher.busy[topic] |= (u64)1 << partition;
    } else {
        broker->fetcher.busy[topic] &= ~((u64)1 << partition);
    }
}

/* The leader this broker follows the partition from, or -1: the log is open, the role is
 * FOLLOWER and the image still names the leader and epoch the role was set for. */
static i32 fetcher_leader_of(const struct broker *broker, u32 topic, u32 partition)
{
    const struct broker_topic *entry = &broker->topics[topic];
    if (!entry->used || partition >= entry->partition_count) return -1;
    if (entry->states[partition] != BROKER_PARTITION_OPEN) return -1;
    const struct broker_replica *replica = &entry->replicas[partition];
    if (replica->role != BROKER_REPLICA_FOLLOWER) return -1;
    const struct metadata_partition *metadata =
        broker_partition_metadata(broker, topic, (i32)partition);
    if (metadata == NULL || metadata->leader != replica->leader_id ||
        metadata->leader_epoch != replica->leader_epoch) {
        return -1; /* The image moved and reconcile has not run yet. */
    }
    if (replica->leader_id < 0 || replica->leader_id == (i32)broker->config.node_id) return -1;
    return replica->leader_id;
}

/* Whether an answer may still act on the part: same topic, leader, epoch, still following. */
static bool fetcher_part_current(const struct broker *broker,
                                 const struct broker_fetcher_link *link,
                                 const struct broker_fetcher_part *part)
{
    const struct broker_topic *entry = &broker->topics[part->topic];
    if (!entry->used || memcmp(entry->id.bytes, part->topic_id.bytes, 16) != 0) return false;
    if (fetcher_leader_of(broker, part->topic, part->partition) != link->leader_id) return false;
    return entry->replicas[part->partition].leader_epoch == part->leader_epoch;
}

static struct broker_replica *fetcher_replica(struct broker *broker,
                                              const struct broker_fetcher_part *part)
{
    return &broker->topics[part->topic].replicas[part->partition];
}

static struct partition_log *fetcher_log(struct broker *broker,
                                         const struct broker_fetcher_part *part)
{
    return &broker->topics[part->topic].logs[part->partition];
}

static void fetcher_observe(struct broker *broker, const struct broker_fetcher_part *part,
                            u32 kind, u64 c, u64 d, const void *data, u32 data_size)
{
    struct io_observation observation = {
        .kind = kind,
        .a = history_topic_hash(broker->topics[part->topic].id.bytes),
        .b = part->partition,
        .c = c,
        .d = d,
        .data = data,
        .data_size = data_size,
    };
    io_observe(broker->io, &observation);
}

static void fetcher_observe_high_watermark(struct broker *broker,
                                           const struct broker_fetcher_part *part)
{
    const struct broker_replica *replica = fetcher_replica(broker, part);
    u64 epoch_and_role = (u64)(u32)replica->leader_epoch |
                         (u64)HISTORY_REPLICA_FOLLOWER << 32;
    fetcher_observe(broker, part, HISTORY_REPLICA_HIGH_WATERMARK,
                    (u64)replica->high_watermark, epoch_and_role, NULL, 0);
}

/* The partition waits replica.fetch.backoff.ms before it is fetched again. */
static void fetcher_part_back_off(struct broker *broker, struct broker_fetcher_part *part)
{
    fetcher_replica(broker, part)->retry_ns = fetcher_now(broker) + fetcher_backoff_ns(broker);
}

/* A log operation was refused or failed: an offline log takes the partition out, anything
 * else backs off (the next fetch asks again from the log as it is). */
static void fetcher_log_failed(struct broker *broker, struct broker_fetcher_part *part,
                               const char *what, enum log_result result)
{
    struct broker_topic *entry = &broker->topics[part->topic];
    bool offline = result == LOG_ERR_IO || result == LOG_ERR_OFFLINE ||
                   result == LOG_ERR_CORRUPT;
    io_log(broker->io, offline ? IO_LOG_ERROR : IO_LOG_WARN,
           "broker: follower %s of %s-%u failed: %s%s", what, entry->name, part->partition,
           log_result_name(result), offline ? "; the partition is offline" : "");
    if (offline && entry->states[part->partition] == BROKER_PARTITION_OPEN) {
        entry->states[part->partition] = BROKER_PARTITION_FAILED;
        broker_replica_reconcile(broker, part->topic, part->partition);
        broker->fetcher.reconcile_wanted = true; /* Its leader may lead nothing else here. */
        return;
    }
    fetcher_part_back_off(broker, part);
}

/* ===== Links and their connections ===== */

static struct broker_fetcher_link *fetcher_link_of_conn(struct broker *broker, io_conn conn)
{
    for (u32 i = 0; i < BROKER_FETCHER_LINKS_MAX && conn != 0; i++) {
        struct broker_fetcher_link *link = &broker->fetcher.links[i];
        if (link->used && link->conn == conn) return link;
    }
    return NULL;
}

static struct broker_fetcher_link *fetcher_link_of_leader(struct broker *broker, i32 leader)
{
    for (u32 i = 0; i < BROKER_FETCHER_LINKS_MAX; i++) {
        struct broker_fetcher_link *link = &broker->fetcher.links[i];
        if (link->used && link->leader_id == leader) return link;
    }
    return NULL;
}

static struct broker_fetcher_link *fetcher_link_take(struct broker *broker, i32 leader)
{
    struct broker_fetcher_link *link = NULL;
    for (u32 i = 0; i < BROKER_FETCHER_LINKS_MAX && link == NULL; i++) {
        if (!broker->fetcher.links[i].used) link = &broker->fetcher.links[i];
    }
    if (link == NULL) {
        if (!broker->fetcher.links_full_logged) {
            io_log(broker->io, IO_LOG_WARN, "broker: more than %u leaders to follow; broker %d "
                   "waits for a free fetcher", BROKER_FETCHER_LINKS_MAX, leader);
        }
        broker->fetcher.links_full_logged = true;
        return NULL;
    }
    memset(link, 0, sizeof(*link));
    link->used = true;
    link->leader_id = leader;
    return link;
}

/* The connection is gone (closed by either side): the Fetch on it is forgotten, an answer
 * being applied is finished all the same; a new connection after the backoff. */
static void fetcher_link_lost(struct broker *broker, struct broker_fetcher_link *link)
{
    link->conn = 0;
    link->connected = false;
    link->in_flight = false;
    if (!link->applying) link->part_count = 0;
    link->retry_ns = fetcher_now(broker) + fetcher_backoff_ns(broker);
}

static void fetcher_link_close(struct broker *broker, struct broker_fetcher_link *link)
{
    if (link->conn == 0) return;
    io_close(broker->io, link->conn);
    fetcher_link_lost(broker, link);
}

/* A closed link no longer wanted gives its slot back (not while an answer is applied). */
static void fetcher_link_free_if_done(struct broker_fetcher_link *link)
{
    if (link->used && !link->wanted && link->conn == 0 && !link->applying) {
        link->used = false;
        link->part_count = 0;
    }
}

static void fetcher_connect(struct broker *broker, struct broker_fetcher_link *link)
{
    const struct metadata_broker *leader =
        broker->image != NULL ? metadata_broker_find(broker->image, link->leader_id) : NULL;
    char endpoint[METADATA_HOST_MAX + 16];
    int written = leader != NULL ? snprintf(endpoint, sizeof(endpoint), "%s:%d", leader->host,
                                            leader->port)
                                 : -1;
    if (written <= 0 || (size_t)written >= sizeof(endpoint)) {
        /* Not registered (yet), or an endpoint we cannot name: try again later. */
        link->retry_ns = fetcher_now(broker) + fetcher_backoff_ns(broker);
        return;
    }
    link->conn = io_connect(broker->io, endpoint, BROKER_FETCHER_CONN_TAG, FETCHER_FRAME_MAX);
    if (link->conn == 0) {
        io_log(broker->io, IO_LOG_WARN, "broker: cannot connect to leader %d at %s",
               link->leader_id, endpoint);
        fetcher_link_lost(broker, link);
    }
}

/* ===== The Fetch ===== */

static int fetcher_key_compare(const void *a, const void *b)
{
    u32 x = *(const u32 *)a, y = *(const u32 *)b;
    return x < y ? -1 : x > y;
}

/* Chooses the partitions the next Fetch names: followed from this link's leader, not backing
 * off, not busy; from next_key on, wrapping, at most BROKER_PARTS_MAX; sorted by key. Sets
 * wake_ns to the earliest end of a backoff among those skipped for it. */
static u32 fetcher_choose(struct broker *broker, struct broker_fetcher_link *link, u32 *keys)
{
    u64 now = fetcher_now(broker);
    u32 count = 0;
    link->wake_ns = UINT64_MAX;
    u32 start_topic = link->next_key >> 8, start_partition = link->next_key & 0xffu;
    /* Round 0 is the start topic from start_partition on, the last round it again up to it. */
    for (u32 round = 0; round <= BROKER_TOPICS_MAX && count < BROKER_PARTS_MAX; round++) {
        u32 topic = (start_topic + round) % BROKER_TOPICS_MAX;
        const struct broker_topic *entry = &broker->topics[topic];
        if (!entry->used) continue;
        u32 first = round == 0 ? start_partition : 0;
        u32 last = round == BROKER_TOPICS_MAX ? MIN(start_partition, entry->partition_count)
                                              : entry->partition_count;
        for (u32 partition = first; partition < last && count < BROKER_PARTS_MAX; partition++) {
            if (fetcher_leader_of(broker, topic, partition) != link->leader_id) continue;
            u64 retry_ns = entry->replicas[partition].retry_ns;
            if (retry_ns > now) {
                link->wake_ns = MIN(link->wake_ns, retry_ns);
                continue;
            }
            if (fetcher_busy(broker, topic, partition)) continue; /* Its event pumps again. */
            keys[count++] = topic << 8 | partition;
        }
    }
    if (count > 0) {
        u32 after = keys[count - 1] + 1;
        link->next_key = (after & 0xffu) >= BROKER_PARTITIONS_MAX
                             ? ((after >> 8) + 1) % BROKER_TOPICS_MAX << 8
                             : after;
    }
    qsort(keys, count, sizeof(*keys), fetcher_key_compare);
    return count;
}

/* Builds and sends the next Fetch if any partition is due (a failed send closes the link). */
static void fetcher_send(struct broker *broker, struct broker_fetcher_link *link)
{
    ASSERT(link->connected && !link->in_flight && !link->applying);
    u32 keys[BROKER_PARTS_MAX];
    u32 count = fetcher_choose(broker, link, keys);
    if (count == 0) return;
    struct kafka_fetch_request_partition partitions[BROKER_PARTS_MAX];
    struct kafka_fetch_request_topic topics[BROKER_PARTS_MAX];
    i32 topic_count = 0;
    link->part_count = 0;
    for (u32 i = 0; i < count; i++) {
        u32 topic = keys[i] >> 8, partition = keys[i] & 0xffu;
        struct broker_topic *entry = &broker->topics[topic];
        const struct partition_log *log = &entry->logs[partition];
        const struct broker_replica *replica = &entry->replicas[partition];
        struct broker_fetcher_part *part = &link->parts[link->part_count++];
        memset(part, 0, sizeof(*part));
        part->topic = (u16)topic;
        part->partition = (u16)partition;
        part->topic_id = entry->id;
        part->leader_epoch = replica->leader_epoch;
        part->fetch_offset = partition_log_end_offset(log);
        part->step = BROKER_FETCHER_ASKED;
        if (topic_count == 0 || i == 0 || keys[i - 1] >> 8 != topic) {
            struct kafka_fetch_request_topic *out = &topics[topic_count++];
            kafka_fetch_request_topic_init(out);
            out->Topic = proto_string_of(entry->name);
            out->Partitions.items = &partitions[i];
        }
        topics[topic_count - 1].Partitions.count++;
        struct kafka_fetch_request_partition *request = &partitions[i];
        kafka_fetch_request_partition_init(request);
        request->Partition = (i32)partition;
        request->CurrentLeaderEpoch = replica->leader_epoch;
        request->FetchOffset = part->fetch_offset;
        request->LastFetchedEpoch = partition_log_latest_epoch(log);
        request->LogStartOffset = partition_log_start_offset(log);
        request->PartitionMaxBytes = (i32)MIN(broker->config.replica_fetch_max_bytes,
                                              (u32)INT32_MAX);
    }
    union kafka_request body;
    struct kafka_fetch_request *fetch = &body.Fetch;
    kafka_fetch_request_init(fetch);
    fetch->ReplicaId = (i32)broker->config.node_id;
    fetch->MaxWaitMs = (i32)MIN(broker->config.replica_fetch_wait_max_ms, (u64)INT32_MAX);
    fetch->MinBytes = (i32)MIN(broker->config.replica_fetch_min_bytes, (u32)INT32_MAX);
    fetch->MaxBytes = (i32)MIN(broker->config.replica_fetch_response_max_bytes, (u32)INT32_MAX);
    fetch->IsolationLevel = 0;
    fetch->SessionId = 0;
    fetch->SessionEpoch = -1; /* Full fetches: no session. */
    fetch->Topics.items = topics;
    fetch->Topics.count = topic_count;
    broker->fetcher.correlation_next = (broker->fetcher.correlation_next + 1) & 0x7fffffff;
    struct proto_request_header header = {.RequestApiKey = KAFKA_API_FETCH,
                                          .RequestApiVersion = FETCHER_VERSION,
                                          .CorrelationId = broker->fetcher.correlation_next,
                                          .ClientId = proto_string_of(FETCHER_CLIENT_ID)};
    struct proto_writer writer;
    proto_writer_init(&writer, broker->fetcher.request, BROKER_FETCHER_REQUEST_SIZE);
    enum proto_error error = proto_request_frame_encode(&writer, &header, &body);
    /* 256 partitions of 64 topic names of 249 bytes fit: a failure is a bug. */
    ASSERT(error == PROTO_OK);
    if (io_send(broker->io, link->conn, broker->fetcher.request, writer.position) != IO_OK) {
        fetcher_link_close(broker, link);
        return;
    }
    link->in_flight = true;
    link->correlation = header.CorrelationId;
    link->deadline_ns = fetcher_now(broker) + broker->config.replica_fetch_wait_max_ms * NS_PER_MS +
                        FETCHER_SOCKET_TIMEOUT_NS;
}

/* Arms the fetcher's timer for the earliest thing a link waits for. */
static void fetcher_arm(struct broker *broker)
{
    u64 when = UINT64_MAX;
    for (u32 i = 0; i < BROKER_FETCHER_LINKS_MAX; i++) {
        const struct broker_fetcher_link *link = &broker->fetcher.links[i];
        if (!link->used) continue;
        if (link->in_flight) when = MIN(when, link->deadline_ns);
        if (link->wanted && link->conn == 0 && !link->applying) when = MIN(when, link->retry_ns);
        if (link->connected && !link->in_flight && !link->applying) {
            when = MIN(when, link->wake_ns);
        }
    }
    u32 timer = broker->timer_base + BROKER_TIMER_FETCHER;
    if (when == UINT64_MAX) {
        io_timer_cancel(broker->io, timer);
    } else {
        io_timer_set(broker->io, timer, MAX(when, fetcher_now(broker)));
    }
}

/* Moves a link forward: closes it if unwanted, connects, sends the next Fetch. */
static void fetcher_pump_link(struct broker *broker, struct broker_fetcher_link *link)
{
    if (!link->used) return;
    if (broker->stopping) link->wanted = false;
    if (!link->wanted) {
        fetcher_link_close(broker, link);
        fetcher_link_free_if_done(link);
        return;
    }
    u64 now = fetcher_now(broker);
    if (link->in_flight && now >= link->deadline_ns) {
        io_log(broker->io, IO_LOG_WARN, "broker: leader %d does not answer a replica fetch; "
               "reconnecting", link->leader_id);
        fetcher_link_close(broker, link);
    }
    if (link->conn == 0 && !link->applying && now >= link->retry_ns) fetcher_connect(broker, link);
    if (link->connected && !link->in_flight && !link->applying) fetcher_send(broker, link);
}

static void fetcher_pump(struct broker *broker)
{
    for (u32 i = 0; i < BROKER_FETCHER_LINKS_MAX; i++) {
        fetcher_pump_link(broker, &broker->fetcher.links[i]);
    }
    fetcher_arm(broker);
}

/* ===== Applying an answer ===== */

/* The follower high watermark: min(the leader's, own log end), never lower in the epoch. */
static void fetcher_part_high_watermark(struct broker *broker, struct broker_fetcher_part *part)
{
    if (part->leader_high_watermark < 0) return;
    struct broker_replica *replica = fetcher_replica(broker, part);
    i64 high_watermark = MIN(part->leader_high_watermark,
                             partition_log_end_offset(fetcher_log(broker, part)));
    if (high_watermark <= replica->high_watermark) return;
    replica->high_watermark = high_watermark;
    fetcher_observe_high_watermark(broker, part);
}

/* Issues a log operation for the part; false if the log refused it (handled here). */
static bool fetcher_part_issue(struct broker *broker, struct broker_fetcher_part *part,
                               enum broker_fetcher_step step, enum log_result result,
                               const char *what)
{
    if (result != LOG_OK) {
        fetcher_log_failed(broker, part, what, result);
        return false;
    }
    part->step = step;
    fetcher_busy_set(broker, part->topic, part->partition, true);
    return true;
}

static u64 fetcher_event_data(const struct broker *broker, const struct broker_fetcher_link *link,
                              const struct broker_fetcher_part *part)
{
    return broker_event_data(BROKER_EVENT_REPLICA, fetcher_link_index(broker, link),
                             (u32)part->topic << 8 | part->partition);
}

/* Appends the next whole batch of the part's records that the log does not hold yet; true
 * if one is in the log's hands. */
static bool fetcher_part_append_next(struct broker *broker, struct broker_fetcher_link *link,
                                     struct broker_fetcher_part *part)
{
    struct partition_log *log = fetcher_log(broker, part);
    i64 log_end = partition_log_end_offset(log);
    while (part->records_done < part->records_size) {
        u8 *bytes = link->held + part->records_position + part->records_done;
        u32 remaining = part->records_size - part->records_done;
        u64 batch_size = 0;
        struct record_batch_header header;
        enum batch_error error = batch_size_peek(bytes, remaining, &batch_size);
        if (error == BATCH_OK && batch_size > remaining) error = BATCH_INCOMPLETE;
        if (error == BATCH_OK) error = batch_header_decode(bytes, batch_size, &header);
        if (error == BATCH_INCOMPLETE) return false; /* The leader's size limit cut it. */
        if (error != BATCH_OK) {
            io_log(broker->io, IO_LOG_WARN, "broker: leader %d sent a bad batch for %s-%u: %s",
                   link->leader_id, broker->topics[part->topic].name, part->partition,
                   batch_error_name(error));
            fetcher_part_back_off(broker, part);
            return false;
        }
        if (header.BaseOffset + header.LastOffsetDelta < log_end) {
            part->records_done += (u32)batch_size; /* Held already (asked mid-batch). */
            continue;
        }
        part->batch_size = (u32)batch_size;
        enum log_result result = partition_log_append(log, bytes, (u32)batch_size, -1, false,
                                                      fetcher_event_data(broker, link, part));
        return fetcher_part_issue(broker, part, BROKER_FETCHER_APPENDING, result,
                                  "append");
    }
    return false;
}

/* After the appends: the high watermark, then the log start the leader's allows. */
static bool fetcher_part_follow_start(struct broker *broker, struct broker_fetcher_link *link,
                                      struct broker_fetcher_part *part)
{
    fetcher_part_high_watermark(broker, part);
    struct partition_log *log = fetcher_log(broker, part);
    i64 high_watermark = fetcher_replica(broker, part)->high_watermark;
    if (part->leader_log_start < 0 || high_watermark < 0) return false;
    i64 target = MIN(part->leader_log_start, high_watermark);
    if (target <= partition_log_start_offset(log)) return false;
    enum log_result result = partition_log_delete_records(log, target,
                                                          fetcher_event_data(broker, link, part));
    return fetcher_part_issue(broker, part, BROKER_FETCHER_ADVANCING, result,
                              "log start advance");
}

/* Starts the log over, empty, at new_start; false when nothing is in flight. */
static bool fetcher_part_truncate_fully(struct broker *broker, struct broker_fetcher_link *link,
                                        struct broker_fetcher_part *part, i64 new_start)
{
    part->high_watermark_before = fetcher_replica(broker, part)->high_watermark;
    enum log_result result = partition_log_truncate_fully(fetcher_log(broker, part), new_start,
                                                          fetcher_event_data(broker, link, part));
    return fetcher_part_issue(broker, part, BROKER_FETCHER_TRUNCATING, result, "truncation");
}

/* Cuts the log at target (below its end); false when nothing is in flight. */
static bool fetcher_part_truncate(struct broker *broker, struct broker_fetcher_link *link,
                                  struct broker_fetcher_part *part, i64 target)
{
    struct partition_log *log = fetcher_log(broker, part);
    target = MAX(target, partition_log_start_offset(log));
    if (target >= partition_log_end_offset(log)) return false;
    part->high_watermark_before = fetcher_replica(broker, part)->high_watermark;
    enum log_result result = partition_log_truncate_to(log, target,
                                                       fetcher_event_data(broker, link, part));
    return fetcher_part_issue(broker, part, BROKER_FETCHER_TRUNCATING, result,
                              "truncation");
}

/* Kafka's follower rule for a DivergingEpoch answer (see the file comment). */
static bool fetcher_part_diverged(struct broker *broker, struct broker_fetcher_link *link,
                                  struct broker_fetcher_part *part,
                                  const struct kafka_fetch_response_epoch_end_offset *diverging)
{
    const struct partition_log *log = fetcher_log(broker, part);
    i64 log_end = partition_log_end_offset(log);
    i64 target = MIN(diverging->EndOffset, log_end);
    if (diverging->Epoch >= 0) {
        i32 own_epoch = -1;
        i64 own_end = -1;
        partition_log_epoch_end_offset(log, diverging->Epoch, &own_epoch, &own_end);
        if (own_epoch < 0 && log->epoch_count > 0) {
            /* Every own epoch is above the leader's: nothing from the first one on agrees. */
            own_epoch = diverging->Epoch;
            own_end = log->epochs[0].start_offset;
        }
        if (own_epoch == diverging->Epoch) {
            target = MIN(MIN(own_end, diverging->EndOffset), log_end);
        } else if (own_epoch >= 0) {
            target = MIN(own_end, log_end);
        }
    }
    if (fetcher_part_truncate(broker, link, part, target)) return true;
    if (fetcher_busy(broker, part->topic, part->partition) ||
        broker->topics[part->topic].states[part->partition] != BROKER_PARTITION_OPEN) {
        return false; /* Refused: already handled. */
    }
    io_log(broker->io, IO_LOG_WARN, "broker: %s-%u diverges from leader %d at epoch %d end %lld "
           "but its log (end %lld) has nothing to cut; backing off",
           broker->topics[part->topic].name, part->partition, link->leader_id,
           diverging->Epoch, (long long)diverging->EndOffset, (long long)log_end);
    fetcher_part_back_off(broker, part);
    return false;
}

static bool fetcher_part_out_of_range(struct broker *broker, struct broker_fetcher_link *link,
                                      struct broker_fetcher_part *part,
                                      const struct kafka_fetch_response_partition_data *data)
{
    const struct partition_log *log = fetcher_log(broker, part);
    const char *name = broker->topics[part->topic].name;
    if (data->LogStartOffset >= 0 && part->fetch_offset < data->LogStartOffset) {
        /* The leader no longer holds what comes next: start over at its log start. */
        io_log(broker->io, IO_LOG_INFO, "broker: %s-%u (log end %lld) starts over at leader "
               "%d's log start %lld", name, part->partition, (long long)part->fetch_offset,
               link->leader_id, (long long)data->LogStartOffset);
        return fetcher_part_truncate_fully(broker, link, part, data->LogStartOffset);
    }
    i64 leader_end = data->HighWatermark; /* See the file comment. */
    if (leader_end >= 0 && leader_end < partition_log_start_offset(log)) {
        io_log(broker->io, IO_LOG_INFO, "broker: %s-%u (log start %lld) starts over at leader "
               "%d's high watermark %lld", name, part->partition,
               (long long)partition_log_start_offset(log), link->leader_id,
               (long long)leader_end);
        return fetcher_part_truncate_fully(broker, link, part, leader_end);
    }
    if (leader_end >= 0 && leader_end < partition_log_end_offset(log)) {
        return fetcher_part_truncate(broker, link, part, leader_end);
    }
    fetcher_part_back_off(broker, part);
    return false;
}

/* Starts what one partition's answer asks for; false when nothing is left in flight. */
static bool fetcher_part_answer(struct broker *broker, struct broker_fetcher_link *link,
                                struct broker_fetcher_part *part,
                                const struct kafka_fetch_response_partition_data *data)
{
    ASSERT(part->step == BROKER_FETCHER_ASKED);
    part->step = BROKER_FETCHER_DONE;
    if (!fetcher_part_current(broker, link, part)) return false; /* A stale answer. */
    if (data->ErrorCode == KAFKA_ERROR_OFFSET_OUT_OF_RANGE) {
        return fetcher_part_out_of_range(broker, link, part, data);
    }
    if (data->ErrorCode != KAFKA_ERROR_NONE) {
        io_log(broker->io, IO_LOG_INFO, "broker: leader %d answers %s for %s-%u; backing off",
               link->leader_id, kafka_error_name(data->ErrorCode),
               broker->topics[part->topic].name, part->partition);
        fetcher_part_back_off(broker, part);
        return false;
    }
    if (data->DivergingEpoch.EndOffset >= 0) {
        return fetcher_part_diverged(broker, link, part, &data->DivergingEpoch);
    }
    part->leader_high_watermark = data->HighWatermark;
    part->leader_log_start = data->LogStartOffset;
    if (data->Records.size > 0) {
        part->records_position = (u32)(data->Records.data - link->held);
        part->records_size = (u32)data->Records.size;
        if (fetcher_part_append_next(broker, link, part)) return true;
    }
    return fetcher_part_follow_start(broker, link, part);
}

/* The answer is applied when every part is done: the frame goes back, the next Fetch goes. */
static void fetcher_answer_finish_if_done(struct broker *broker, struct broker_fetcher_link *link)
{
    ASSERT(link->applying);
    for (u32 i = 0; i < link->part_count; i++) {
        if (link->parts[i].step != BROKER_FETCHER_DONE) return;
    }
    io_frame_release(broker->io, link->held_conn);
    link->applying = false;
    link->held = NULL;
    link->held_conn = 0;
    link->part_count = 0;
    fetcher_link_free_if_done(link);
}

/* A log operation of the part completed: the next one, or the part is done. */
static void fetcher_part_on_event(struct broker *broker, struct broker_fetcher_link *link,
                                  struct broker_fetcher_part *part, const struct log_event *event)
{
    fetcher_busy_set(broker, part->topic, part->partition, false);
    enum broker_fetcher_step step = part->step;
    part->step = BROKER_FETCHER_DONE;
    struct broker_topic *entry = &broker->topics[part->topic];
    bool open = entry->states[part->partition] == BROKER_PARTITION_OPEN;
    if (event->result != LOG_OK) {
        const char *what = step == BROKER_FETCHER_APPENDING    ? "append"
                           : step == BROKER_FETCHER_TRUNCATING ? "truncation"
                                                               : "log start advance";
        if (open) fetcher_log_failed(broker, part, what, event->result);
        return;
    }
    if (step == BROKER_FETCHER_APPENDING) {
        ASSERT(event->kind == LOG_EVENT_APPENDED);
        const u8 *batch = link->held + part->records_position + part->records_done;
        struct record_batch_header header;
        ASSERT(batch_header_decode(batch, part->batch_size, &header) == BATCH_OK);
        struct history_replica_batch payload = {
            .leader_epoch = header.PartitionLeaderEpoch,
            .crc = header.Crc,
            .record_count = (u32)header.RecordCount,
            .role = HISTORY_REPLICA_FOLLOWER,
        };
        fetcher_observe(broker, part, HISTORY_REPLICA_APPENDED, (u64)event->offset,
                        (u64)event->last_offset, &payload, sizeof(payload));
        part->records_done += part->batch_size;
        /* Leadership may have moved meanwhile: the rest of the answer is no longer ours. */
        if (!fetcher_part_current(broker, link, part)) return;
        if (fetcher_part_append_next(broker, link, part)) return;
        (void)fetcher_part_follow_start(broker, link, part);
        return;
    }
    if (step == BROKER_FETCHER_TRUNCATING) {
        ASSERT(event->kind == LOG_EVENT_TRUNCATED);
        i64 log_end = event->log_end_offset;
        fetcher_observe(broker, part, HISTORY_REPLICA_TRUNCATED, (u64)log_end,
                        (u64)part->high_watermark_before, NULL, 0);
        struct broker_replica *replica = fetcher_replica(broker, part);
        if (fetcher_part_current(broker, link, part) && replica->high_watermark > log_end) {
            replica->high_watermark = log_end;
            fetcher_observe_high_watermark(broker, part);
        }
        return;
    }
    ASSERT(step == BROKER_FETCHER_ADVANCING && event->kind == LOG_EVENT_START_ADVANCED);
}

/* After an answer or a log event: links follow the roles again if one changed, else move. */
static void fetcher_settle(struct broker *broker)
{
    if (broker->fetcher.reconcile_wanted) {
        broker_fetcher_reconcile(broker);
    } else {
        fetcher_pump(broker);
    }
}

/* ===== From the node and the broker ===== */

bool broker_fetcher_owns(const struct broker *broker, io_conn conn)
{
    for (u32 i = 0; i < BROKER_FETCHER_LINKS_MAX && conn != 0; i++) {
        const struct broker_fetcher_link *link = &broker->fetcher.links[i];
        if (link->used && link->conn == conn) return true;
    }
    return false;
}

void broker_fetcher_on_conn(struct broker *broker, io_conn conn, enum io_conn_event event)
{
    struct broker_fetcher_link *link = fetcher_link_of_conn(broker, conn);
    ASSERT(link != NULL);
    if (event == IO_CONN_CONNECTED) {
        link->connected = true;
    } else {
        io_log(broker->io, IO_LOG_INFO, "broker: fetcher connection to leader %d closed",
               link->leader_id);
        fetcher_link_lost(broker, link);
        fetcher_link_free_if_done(link);
    }
    fetcher_pump(broker);
}

/* A malformed or unexpected answer: the connection goes, as a Kafka client's would. */
static void fetcher_on_bad_answer(struct broker *broker, struct broker_fetcher_link *link,
                                  const char *why)
{
    io_log(broker->io, IO_LOG_WARN, "broker: %s from leader %d; closing", why, link->leader_id);
    fetcher_link_close(broker, link);
    fetcher_pump(broker);
}

static struct broker_fetcher_part *fetcher_part_find(struct broker_fetcher_link *link,
                                                     struct broker *broker,
                                                     struct proto_string topic, i32 partition)
{
    for (u32 i = 0; i < link->part_count; i++) {
        struct broker_fetcher_part *part = &link->parts[i];
        if (part->partition != partition || part->step != BROKER_FETCHER_ASKED) continue;
        if (proto_string_equal_cstr(topic, broker->topics[part->topic].name)) return part;
    }
    return NULL;
}

void broker_fetcher_on_frame(struct broker *broker, io_conn conn, const u8 *frame, u32 size)
{
    struct broker_fetcher_link *link = fetcher_link_of_conn(broker, conn);
    ASSERT(link != NULL);
    if (!link->in_flight || size < 4 || (i32)load_u32_be(frame) != link->correlation) {
        fetcher_on_bad_answer(broker, link, "an answer to no replica fetch");
        return;
    }
    ASSERT(!link->applying);
    link->in_flight = false;
    u8 *held = io_frame_hold(broker->io, conn, frame, size);
    struct proto_reader reader;
    proto_reader_init(&reader, held, size);
    i32 correlation = 0;
    struct proto_arena arena;
    proto_arena_init(&arena, broker->fetcher.arena, BROKER_FETCHER_ARENA_SIZE);
    union kafka_response response;
    bool ok = proto_response_header_decode(&reader, KAFKA_API_FETCH, FETCHER_VERSION,
                                           &correlation) == PROTO_OK &&
              kafka_response_decode(&reader, KAFKA_API_FETCH, FETCHER_VERSION, &response,
                                    &arena) == PROTO_OK &&
              proto_reader_remaining(&reader) == 0;
    if (!ok) {
        io_frame_release(broker->io, conn);
        fetcher_on_bad_answer(broker, link, "a malformed replica fetch answer");
        return;
    }
    link->applying = true;
    link->held = held;
    link->held_conn = conn;
    const struct kafka_fetch_response *fetch = &response.Fetch;
    if (fetch->ErrorCode != KAFKA_ERROR_NONE) {
        io_log(broker->io, IO_LOG_INFO, "broker: leader %d answers a replica fetch with %s",
               link->leader_id, kafka_error_name(fetch->ErrorCode));
    }
    for (i32 t = 0; t < fetch->Responses.count && fetch->ErrorCode == KAFKA_ERROR_NONE; t++) {
        const struct kafka_fetch_response_fetchable_topic *topic = &fetch->Responses.items[t];
        for (i32 i = 0; i < topic->Partitions.count; i++) {
            const struct kafka_fetch_response_partition_data *data = &topic->Partitions.items[i];
            struct broker_fetcher_part *part =
                fetcher_part_find(link, broker, topic->Topic, data->PartitionIndex);
            if (part == NULL) continue; /* Not asked, or named twice: ignored. */
            (void)fetcher_part_answer(broker, link, part, data);
        }
    }
    /* Partitions the answer left out (or a top-level error) wait for the backoff. */
    for (u32 i = 0; i < link->part_count; i++) {
        struct broker_fetcher_part *part = &link->parts[i];
        if (part->step != BROKER_FETCHER_ASKED) continue;
        part->step = BROKER_FETCHER_DONE;
        if (fetcher_part_current(broker, link, part)) fetcher_part_back_off(broker, part);
    }
    fetcher_answer_finish_if_done(broker, link);
    fetcher_settle(broker);
}

void broker_fetcher_on_log_event(struct broker *broker, u32 topic, u32 partition,
                                 const struct log_event *event)
{
    u32 index = (u32)(event->user_data >> 32) & 0xffffu;
    ASSERT(index < BROKER_FETCHER_LINKS_MAX);
    struct broker_fetcher_link *link = &broker->fetcher.links[index];
    ASSERT(link->used && link->applying);
    struct broker_fetcher_part *part = NULL;
    for (u32 i = 0; i < link->part_count && part == NULL; i++) {
        struct broker_fetcher_part *candidate = &link->parts[i];
        bool in_flight = candidate->step == BROKER_FETCHER_APPENDING ||
                         candidate->step == BROKER_FETCHER_TRUNCATING ||
                         candidate->step == BROKER_FETCHER_ADVANCING;
        if (in_flight && candidate->topic == topic && candidate->partition == partition) {
            part = candidate;
        }
    }
    ASSERT(part != NULL); /* Each operation is issued by exactly one part, and evented once. */
    fetcher_part_on_event(broker, link, part, event);
    fetcher_answer_finish_if_done(broker, link);
    fetcher_settle(broker);
}

void broker_fetcher_reconcile(struct broker *broker)
{
    struct broker_fetcher *fetcher = &broker->fetcher;
    fetcher->reconcile_wanted = false;
    for (u32 i = 0; i < BROKER_FETCHER_LINKS_MAX; i++) fetcher->links[i].wanted = false;
    for (u32 t = 0; t < BROKER_TOPICS_MAX && !broker->stopping; t++) {
        const struct broker_topic *entry = &broker->topics[t];
        if (!entry->used) continue;
        for (u32 p = 0; p < entry->partition_count; p++) {
            i32 leader = fetcher_leader_of(broker, t, p);
            if (leader < 0) continue;
            struct broker_fetcher_link *link = fetcher_link_of_leader(broker, leader);
            if (link == NULL) link = fetcher_link_take(broker, leader);
            if (link != NULL) link->wanted = true;
        }
    }
    fetcher_pump(broker);
}

void broker_fetcher_on_timer(struct broker *broker) { fetcher_pump(broker); }
