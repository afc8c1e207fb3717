/* kafka_load.c: the Kafka load generator of `make bench`, built on librdkafka (the client kcat
 * and confluent-kafka use), so kbroker and librdkafka's own in-memory mock cluster are measured
 * by the same code. A tool, not core code: it reads the clock and uses threads and sockets.
 *
 * Usage: kafka_load MODE [options]
 *   produce    N messages of S bytes; prints throughput and the produce latency percentiles
 *   consume    reads a topic that `produce` filled, verifies it, prints throughput
 *   roundtrip  produce, then consume, in one process (the only way to read back from --mock)
 *   delete     deletes the topic (DeleteTopics), so a long benchmark does not fill the disk
 *   tcp        pumps bytes through a 127.0.0.1 TCP connection for --seconds, prints MB/s
 * Options: --bootstrap HOST:PORT | --mock, --topic NAME, --partitions P, --create,
 *   --messages N, --size S (>= 8), --acks -1|0|1, --linger-ms MS, --batch-size BYTES,
 *   --compression none|gzip|snappy|lz4|zstd, --seconds S (tcp), --timeout-s S (whole run),
 *   --debug CONTEXTS (librdkafka's debug property, for the producer and the consumer).
 *   Unset linger and batch size leave librdkafka's defaults.
 *
 * Output: one line per phase, "key=value" words, for kafka_bench.sh to pick apart:
 *   produce msgs=.. bytes=.. seconds=.. msgs_per_s=.. mb_per_s=.. p50_ms=.. p99_ms=.. ...
 *           (with --mock, server_cpu_s=..: the CPU time of the mock's thread while producing)
 *   consume msgs=.. bytes=.. seconds=.. msgs_per_s=.. mb_per_s=.. retained_from=..
 *   tcp bytes=.. seconds=.. mb_per_s=..
 * Exit status 0 only if every message was delivered (no delivery report with an error) and
 * everything read back matched: a benchmark that silently drops messages measures nothing.
 *
 * Payload of message i: its index as 8 little-endian bytes, then a fixed body of letters drawn
 * once from a fixed seed (compressible roughly like text, as in Kafka's producer-perf-test).
 * The consumer checks each message's size, body, index (in range, never seen before) and offset
 * (contiguous per partition), so a lost, duplicated, reordered or corrupted message fails.
 *
 * The mock keeps only the newest 5 MiB (or 100000 batches) of each partition in memory
 * (rdkafka_mock.c, rd_kafka_mock_partition_init), so reading back from --mock covers the
 * retained tail: the consumer starts at the low watermark, and still requires that the high
 * watermarks add up to every message produced. Against a broker the low watermark must be 0. */

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define INDEX_BYTES 8u
#define CONSUME_BATCH 4096
#define STALL_LIMIT_NS (15 * 1000000000LL)
#define TCP_CHUNK (256 * 1024)
#define MAX_PARTITIONS 1024
#define MB 1e6

struct options {
    const char *mode;
    const char *bootstrap;
    bool mock;
    const char *topic;
    int partitions;
    bool create;
    uint64_t messages;
    uint32_t size;
    const char *acks;
    const char *linger_ms;
    const char *batch_size;
    const char *compression;
    const char *debug;
    double seconds;
    int timeout_s;
};

/* What the delivery-report callback updates, reached through the handle's opaque. */
struct producer_run {
    uint64_t count;
    uint64_t *latency_ns; /* Per message: its enqueue time, replaced by its latency. */
    uint64_t delivered;
    uint64_t failed;
    int64_t last_report_ns;
    char first_error[256];
};

static _Noreturn void die(const char *format, ...) __attribute__((format(printf, 1, 2)));

static _Noreturn void die(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("kafka_load: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    exit(1);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) die("clock_gettime: %s", strerror(errno));
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double seconds_between(int64_t start_ns, int64_t end_ns)
{
    return (double)(end_ns - start_ns) / 1e9;
}

/* CPU time of this process's threads named name (from /proc/self/task/<tid>/schedstat, in ns):
 * the mock cluster's own thread is "rdk:mock", so its cost can be set beside the broker's,
 * which kafka_bench.sh reads the same way. -1 if /proc does not tell. */
static int64_t threads_cpu_ns(const char *name)
{
    DIR *tasks = opendir("/proc/self/task");
    if (tasks == NULL) return -1;
    int64_t total = 0;
    bool found = false;
    for (struct dirent *entry = readdir(tasks); entry != NULL; entry = readdir(tasks)) {
        if (entry->d_name[0] == '.') continue;
        char path[PATH_MAX], comm[64] = {0};
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", entry->d_name);
        FILE *file = fopen(path, "r");
        if (file == NULL) continue; /* The thread ended meanwhile. */
        bool named = fgets(comm, sizeof(comm), file) != NULL;
        fclose(file);
        comm[strcspn(comm, "\n")] = '\0';
        if (!named || strcmp(comm, name) != 0) continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/schedstat", entry->d_name);
        file = fopen(path, "r");
        if (file == NULL) continue;
        long long on_cpu_ns = 0;
        if (fscanf(file, "%lld", &on_cpu_ns) == 1) {
            total += on_cpu_ns;
            found = true;
        }
        fclose(file);
    }
    closedir(tasks);
    return found ? total : -1;
}

/* ----- Payloads ----- */

/* The body every message shares after its index: letters from a fixed xorshift stream, so runs
 * compress alike and the consumer can rebuild it without being told. */
static uint8_t *payload_template(uint32_t size)
{
    uint8_t *body = malloc(size);
    if (body == NULL) die("out of memory for a %u-byte payload", size);
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (uint32_t i = 0; i < size; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        body[i] = (uint8_t)('a' + state % 26);
    }
    return body;
}

static void payload_set_index(uint8_t *payload, uint64_t index)
{
    for (unsigned i = 0; i < INDEX_BYTES; i++) payload[i] = (uint8_t)(index >> (8 * i));
}

static uint64_t payload_index(const uint8_t *payload)
{
    uint64_t index = 0;
    for (unsigned i = 0; i < INDEX_BYTES; i++) index |= (uint64_t)payload[i] << (8 * i);
    return index;
}

/* ----- Configuration ----- */

static void conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char error[512];
    if (rd_kafka_conf_set(conf, name, value, error, sizeof(error)) != RD_KAFKA_CONF_OK) {
        die("config %s=%s: %s", name, value, error);
    }
}

static rd_kafka_t *client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char error[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, error, sizeof(error));
    if (rk == NULL) die("rd_kafka_new: %s", error); /* On failure conf is still ours; exiting. */
    return rk;
}

/* The in-process mock cluster lives on a handle of its own, so the producer and the consumer
 * reach it over loopback TCP exactly as they reach kbroker. */
struct mock {
    rd_kafka_t *host;
    rd_kafka_mock_cluster_t *cluster;
};

static void mock_start(struct mock *mock, const struct options *options)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "log_level", "3");
    mock->host = client_new(RD_KAFKA_PRODUCER, conf);
    mock->cluster = rd_kafka_mock_cluster_new(mock->host, 1);
    if (mock->cluster == NULL) die("rd_kafka_mock_cluster_new failed");
    rd_kafka_resp_err_t err =
        rd_kafka_mock_topic_create(mock->cluster, options->topic, options->partitions, 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        die("mock topic %s: %s", options->topic, rd_kafka_err2str(err));
    }
}

static void mock_stop(struct mock *mock)
{
    rd_kafka_mock_cluster_destroy(mock->cluster);
    rd_kafka_destroy(mock->host);
}

/* CreateTopics through the admin API on a real broker. A topic that already exists is an error:
 * the count checks assume the run wrote everything in it. */
static void create_topic(const struct options *options)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", options->bootstrap);
    rd_kafka_t *rk = client_new(RD_KAFKA_PRODUCER, conf);
    char error[512];
    rd_kafka_NewTopic_t *topic =
        rd_kafka_NewTopic_new(options->topic, options->partitions, 1, error, sizeof(error));
    if (topic == NULL) die("NewTopic %s: %s", options->topic, error);
    rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *admin = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    if (rd_kafka_AdminOptions_set_request_timeout(admin, options->timeout_s * 1000, error,
                                                  sizeof(error)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        die("admin timeout: %s", error);
    }
    rd_kafka_CreateTopics(rk, &topic, 1, admin, queue);
    rd_kafka_event_t *event = rd_kafka_queue_poll(queue, options->timeout_s * 1000);
    if (event == NULL) die("CreateTopics %s: no answer", options->topic);
    if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        die("CreateTopics %s: %s", options->topic, rd_kafka_event_error_string(event));
    }
    const rd_kafka_CreateTopics_result_t *result = rd_kafka_event_CreateTopics_result(event);
    if (result == NULL) die("CreateTopics %s: unexpected event", options->topic);
    size_t count = 0;
    const rd_kafka_topic_result_t **topics = rd_kafka_CreateTopics_result_topics(result, &count);
    if (count != 1) die("CreateTopics %s: %zu results", options->topic, count);
    if (rd_kafka_topic_result_error(topics[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        die("CreateTopics %s: %s", options->topic, rd_kafka_topic_result_error_string(topics[0]));
    }
    rd_kafka_event_destroy(event);
    rd_kafka_AdminOptions_destroy(admin);
    rd_kafka_NewTopic_destroy(topic);
    rd_kafka_queue_destroy(queue);
    rd_kafka_destroy(rk);
}

static void delete_topic(const struct options *options)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", options->bootstrap);
    rd_kafka_t *rk = client_new(RD_KAFKA_PRODUCER, conf);
    rd_kafka_DeleteTopic_t *topic = rd_kafka_DeleteTopic_new(options->topic);
    rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopics(rk, &topic, 1, NULL, queue);
    rd_kafka_event_t *event = rd_kafka_queue_poll(queue, options->timeout_s * 1000);
    if (event == NULL) die("DeleteTopics %s: no answer", options->topic);
    if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        die("DeleteTopics %s: %s", options->topic, rd_kafka_event_error_string(event));
    }
    const rd_kafka_DeleteTopics_result_t *result = rd_kafka_event_DeleteTopics_result(event);
    if (result == NULL) die("DeleteTopics %s: unexpected event", options->topic);
    size_t count = 0;
    const rd_kafka_topic_result_t **topics = rd_kafka_DeleteTopics_result_topics(result, &count);
    if (count != 1) die("DeleteTopics %s: %zu results", options->topic, count);
    if (rd_kafka_topic_result_error(topics[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        die("DeleteTopics %s: %s", options->topic, rd_kafka_topic_result_error_string(topics[0]));
    }
    rd_kafka_event_destroy(event);
    rd_kafka_DeleteTopic_destroy(topic);
    rd_kafka_queue_destroy(queue);
    rd_kafka_destroy(rk);
}

/* Blocks until the client knows the topic's partitions and every one has a leader, so the
 * connection and metadata are set up before the clock starts (a topic just created has no
 * leader until its log is open, and librdkafka would only ask again a second later); returns
 * the partition count. */
static int topic_partitions(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int timeout_s)
{
    int64_t deadline = now_ns() + (int64_t)timeout_s * 1000000000LL;
    for (;;) {
        const struct rd_kafka_metadata *metadata = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &metadata, 5000);
        int partitions = -1;
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (metadata->topic_cnt == 1 && metadata->topics[0].err == 0) {
                const rd_kafka_metadata_topic_t *topic = &metadata->topics[0];
                partitions = topic->partition_cnt;
                for (int p = 0; p < topic->partition_cnt; p++) {
                    if (topic->partitions[p].err != 0 || topic->partitions[p].leader < 0) {
                        partitions = -1;
                    }
                }
            }
            rd_kafka_metadata_destroy(metadata);
        }
        if (partitions > 0) return partitions;
        if (now_ns() > deadline) {
            die("metadata for %s: %s", rd_kafka_topic_name(rkt),
                err ? rd_kafka_err2str(err) : "topic or its leaders not there");
        }
        usleep(100 * 1000);
    }
}

/* ----- Produce ----- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *message, void *opaque)
{
    (void)rk;
    struct producer_run *run = opaque;
    int64_t now = now_ns();
    uint64_t index = (uint64_t)(uintptr_t)message->_private;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR || index >= run->count) {
        if (run->failed == 0) {
            snprintf(run->first_error, sizeof(run->first_error), "message %" PRIu64 ": %s",
                     index, index >= run->count ? "not one of ours"
                                                : rd_kafka_err2str(message->err));
        }
        run->failed++;
        return;
    }
    run->latency_ns[index] = (uint64_t)now - run->latency_ns[index];
    run->delivered++;
    run->last_report_ns = now;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile (per mille) of sorted samples, in milliseconds. */
static double percentile_ms(const uint64_t *sorted, uint64_t count, uint64_t per_mille)
{
    uint64_t rank = (count * per_mille + 999) / 1000; /* ceil(count * p) */
    if (rank < 1) rank = 1;
    if (rank > count) rank = count;
    return (double)sorted[rank - 1] / 1e6;
}

static void produce(const struct options *options, const char *bootstrap)
{
    struct producer_run run = {.count = options->messages};
    run.latency_ns = calloc(options->messages, sizeof(run.latency_ns[0]));
    if (run.latency_ns == NULL) die("out of memory for %" PRIu64 " samples", options->messages);

    char timeout_ms[32];
    snprintf(timeout_ms, sizeof(timeout_ms), "%d", options->timeout_s * 1000);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", bootstrap);
    conf_set(conf, "acks", options->acks);
    conf_set(conf, "compression.codec", options->compression);
    conf_set(conf, "message.timeout.ms", timeout_ms);
    /* No idempotence: kbroker has no producer ids yet. A resend after a timeout would leave a
     * duplicate, which the consumer's count and index checks report. */
    conf_set(conf, "enable.idempotence", "false");
    if (options->debug != NULL) conf_set(conf, "debug", options->debug);
    if (options->linger_ms != NULL) conf_set(conf, "linger.ms", options->linger_ms);
    if (options->batch_size != NULL) conf_set(conf, "batch.size", options->batch_size);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &run);
    rd_kafka_t *rk = client_new(RD_KAFKA_PRODUCER, conf);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, options->topic, NULL);
    if (rkt == NULL) die("topic %s: %s", options->topic, rd_kafka_err2str(rd_kafka_last_error()));
    (void)topic_partitions(rk, rkt, options->timeout_s);

    uint8_t *payload = payload_template(options->size);
    int64_t mock_cpu_start = options->mock ? threads_cpu_ns("rdk:mock") : -1;
    int64_t deadline = now_ns() + (int64_t)options->timeout_s * 1000000000LL;
    int64_t start = now_ns();
    for (uint64_t i = 0; i < options->messages; i++) {
        payload_set_index(payload, i);
        for (;;) {
            run.latency_ns[i] = (uint64_t)now_ns();
            if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, payload,
                                 options->size, NULL, 0, (void *)(uintptr_t)i) == 0) {
                break;
            }
            rd_kafka_resp_err_t err = rd_kafka_last_error();
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                die("produce message %" PRIu64 ": %s", i, rd_kafka_err2str(err));
            }
            /* The local queue is full: serve delivery reports until there is room. */
            rd_kafka_poll(rk, 1);
            if (now_ns() > deadline) die("produce: queue still full at the deadline");
        }
        rd_kafka_poll(rk, 0);
    }
    while (run.delivered + run.failed < options->messages) {
        rd_kafka_poll(rk, 10);
        if (now_ns() > deadline) {
            die("produce: %" PRIu64 " of %" PRIu64 " delivery reports by the deadline",
                run.delivered + run.failed, options->messages);
        }
    }
    rd_kafka_resp_err_t flushed = rd_kafka_flush(rk, 10000);
    if (flushed != RD_KAFKA_RESP_ERR_NO_ERROR) die("flush: %s", rd_kafka_err2str(flushed));
    if (run.failed > 0) {
        die("produce: %" PRIu64 " of %" PRIu64 " messages failed (first: %s)", run.failed,
            options->messages, run.first_error);
    }

    int64_t mock_cpu_end = options->mock ? threads_cpu_ns("rdk:mock") : -1;
    double seconds = seconds_between(start, run.last_report_ns);
    double bytes = (double)options->messages * options->size;
    qsort(run.latency_ns, options->messages, sizeof(run.latency_ns[0]), compare_u64);
    printf("produce msgs=%" PRIu64 " bytes=%.0f seconds=%.3f msgs_per_s=%.0f mb_per_s=%.2f "
           "p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f errors=0",
           options->messages, bytes, seconds, (double)options->messages / seconds,
           bytes / seconds / MB, percentile_ms(run.latency_ns, options->messages, 500),
           percentile_ms(run.latency_ns, options->messages, 990),
           percentile_ms(run.latency_ns, options->messages, 999),
           (double)run.latency_ns[options->messages - 1] / 1e6);
    if (mock_cpu_start >= 0 && mock_cpu_end >= mock_cpu_start) {
        printf(" server_cpu_s=%.3f", (double)(mock_cpu_end - mock_cpu_start) / 1e9);
    }
    printf("\n");
    fflush(stdout);
    free(payload);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(run.latency_ns);
}

/* ----- Consume ----- */

struct partition_cursor {
    int64_t next_offset;
    int64_t end_offset;
    bool started;
};

struct consumer_check {
    const struct options *options;
    const uint8_t *body;
    uint8_t *seen; /* One bit per message index. */
    struct partition_cursor cursors[MAX_PARTITIONS];
    uint64_t received;
};

static void check_message(struct consumer_check *check, const rd_kafka_message_t *message)
{
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        die("consume [%d] offset %" PRId64 ": %s", message->partition, message->offset,
            rd_kafka_message_errstr(message));
    }
    if (message->partition < 0 || message->partition >= MAX_PARTITIONS) {
        die("consume: partition %d out of range", message->partition);
    }
    struct partition_cursor *cursor = &check->cursors[message->partition];
    if (message->offset != cursor->next_offset) {
        die("consume [%d]: offset %" PRId64 ", expected %" PRId64, message->partition,
            message->offset, cursor->next_offset);
    }
    if (message->offset >= cursor->end_offset) {
        die("consume [%d]: offset %" PRId64 " beyond the high watermark %" PRId64,
            message->partition, message->offset, cursor->end_offset);
    }
    cursor->next_offset++;
    if (message->len != check->options->size) {
        die("consume [%d] offset %" PRId64 ": %zu bytes, expected %u", message->partition,
            message->offset, message->len, check->options->size);
    }
    const uint8_t *payload = message->payload;
    uint64_t index = payload_index(payload);
    if (index >= check->options->messages) {
        die("consume [%d] offset %" PRId64 ": message index %" PRIu64 " out of range",
            message->partition, message->offset, index);
    }
    if (check->seen[index / 8] & (1u << (index % 8))) {
        die("consume [%d] offset %" PRId64 ": message %" PRIu64 " read twice",
            message->partition, message->offset, index);
    }
    check->seen[index / 8] |= (uint8_t)(1u << (index % 8));
    if (memcmp(payload + INDEX_BYTES, check->body + INDEX_BYTES,
               check->options->size - INDEX_BYTES) != 0) {
        die("consume [%d] offset %" PRId64 ": payload of message %" PRIu64 " differs",
            message->partition, message->offset, index);
    }
    check->received++;
}

static void consume(const struct options *options, const char *bootstrap)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", bootstrap);
    /* librdkafka's default; kbroker serves it with an empty aborted-transactions list. */
    conf_set(conf, "isolation.level", "read_committed");
    if (options->debug != NULL) conf_set(conf, "debug", options->debug);
    rd_kafka_t *rk = client_new(RD_KAFKA_CONSUMER, conf);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, options->topic, NULL);
    if (rkt == NULL) die("topic %s: %s", options->topic, rd_kafka_err2str(rd_kafka_last_error()));
    int partitions = topic_partitions(rk, rkt, options->timeout_s);
    if (partitions > MAX_PARTITIONS) die("%d partitions: at most %d", partitions, MAX_PARTITIONS);

    struct consumer_check *check = calloc(1, sizeof(*check));
    if (check == NULL) die("out of memory");
    check->options = options;
    check->body = payload_template(options->size);
    check->seen = calloc(options->messages / 8 + 1, 1);
    if (check->seen == NULL) die("out of memory for %" PRIu64 " bits", options->messages);

    uint64_t expected = 0;
    int64_t high_total = 0, low_total = 0;
    for (int p = 0; p < partitions; p++) {
        int64_t low = 0, high = 0;
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
            rk, options->topic, p, &low, &high, options->timeout_s * 1000);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            die("watermarks of [%d]: %s", p, rd_kafka_err2str(err));
        }
        if (low < 0 || high < low) die("watermarks of [%d]: %" PRId64 "..%" PRId64, p, low, high);
        if (low != 0 && !options->mock) {
            die("[%d] starts at offset %" PRId64 ": records before it are gone", p, low);
        }
        check->cursors[p] = (struct partition_cursor){.next_offset = low, .end_offset = high};
        expected += (uint64_t)(high - low);
        high_total += high;
        low_total += low;
    }
    if ((uint64_t)high_total != options->messages) {
        die("the topic holds offsets up to %" PRId64 " in all, %" PRIu64 " messages were sent",
            high_total, options->messages);
    }

    rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
    int64_t start = now_ns();
    for (int p = 0; p < partitions; p++) {
        if (check->cursors[p].end_offset == check->cursors[p].next_offset) continue;
        if (rd_kafka_consume_start_queue(rkt, p, check->cursors[p].next_offset, queue) != 0) {
            die("consume start [%d]: %s", p, rd_kafka_err2str(rd_kafka_last_error()));
        }
        check->cursors[p].started = true;
    }
    rd_kafka_message_t *batch[CONSUME_BATCH];
    int64_t last_progress = start, last_message = start;
    int64_t deadline = start + (int64_t)options->timeout_s * 1000000000LL;
    while (check->received < expected) {
        ssize_t count = rd_kafka_consume_batch_queue(queue, 100, batch, CONSUME_BATCH);
        if (count < 0) die("consume: %s", rd_kafka_err2str(rd_kafka_last_error()));
        int64_t now = now_ns();
        if (count > 0) last_progress = last_message = now;
        for (ssize_t i = 0; i < count; i++) {
            check_message(check, batch[i]);
            rd_kafka_message_destroy(batch[i]);
        }
        if (now - last_progress > STALL_LIMIT_NS || now > deadline) {
            die("consume: %" PRIu64 " of %" PRIu64 " messages, then nothing", check->received,
                expected);
        }
    }
    for (int p = 0; p < partitions; p++) {
        if (check->cursors[p].next_offset != check->cursors[p].end_offset) {
            die("consume [%d]: stopped at %" PRId64 " of %" PRId64, p,
                check->cursors[p].next_offset, check->cursors[p].end_offset);
        }
    }
    double seconds = seconds_between(start, last_message);
    double bytes = (double)check->received * options->size;
    printf("consume msgs=%" PRIu64 " bytes=%.0f seconds=%.3f msgs_per_s=%.0f mb_per_s=%.2f "
           "retained_from=%" PRId64 " verified=yes\n",
           check->received, bytes, seconds, (double)check->received / seconds,
           bytes / seconds / MB, low_total);
    fflush(stdout);

    for (int p = 0; p < partitions; p++) {
        if (check->cursors[p].started && rd_kafka_consume_stop(rkt, p) != 0) {
            die("consume stop [%d]: %s", p, rd_kafka_err2str(rd_kafka_last_error()));
        }
    }
    rd_kafka_queue_destroy(queue);
    free((void *)check->body);
    free(check->seen);
    free(check);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
}

/* ----- Loopback TCP reference ----- */

struct tcp_writer {
    int fd;
    int64_t stop_at_ns;
};

static void *tcp_write_until(void *argument)
{
    struct tcp_writer *writer = argument;
    static uint8_t chunk[TCP_CHUNK];
    memset(chunk, 'x', sizeof(chunk));
    while (now_ns() < writer->stop_at_ns) {
        size_t done = 0;
        while (done < sizeof(chunk)) {
            ssize_t n = write(writer->fd, chunk + done, sizeof(chunk) - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) die("tcp write: %s", strerror(errno));
            done += (size_t)n;
        }
    }
    if (close(writer->fd) != 0) die("tcp close: %s", strerror(errno));
    return NULL;
}

/* One stream over 127.0.0.1, a writer thread and this reader: what one client connection to a
 * broker on this machine could move at best. */
static void tcp_reference(double seconds)
{
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0) die("socket: %s", strerror(errno));
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (bind(listener, (struct sockaddr *)&address, sizeof(address)) != 0 ||
        listen(listener, 1) != 0 ||
        getsockname(listener, (struct sockaddr *)&address, &length) != 0) {
        die("tcp listen: %s", strerror(errno));
    }
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (client < 0) die("socket: %s", strerror(errno));
    if (connect(client, (struct sockaddr *)&address, sizeof(address)) != 0) {
        die("tcp connect: %s", strerror(errno));
    }
    int server = accept(listener, NULL, NULL);
    if (server < 0) die("tcp accept: %s", strerror(errno));
    if (close(listener) != 0) die("close: %s", strerror(errno));

    int64_t start = now_ns();
    struct tcp_writer writer = {
        .fd = client, .stop_at_ns = start + (int64_t)(seconds * 1e9)};
    pthread_t thread;
    if (pthread_create(&thread, NULL, tcp_write_until, &writer) != 0) die("pthread_create");
    static uint8_t buffer[TCP_CHUNK];
    uint64_t total = 0;
    for (;;) {
        ssize_t n = read(server, buffer, sizeof(buffer));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("tcp read: %s", strerror(errno));
        if (n == 0) break;
        total += (uint64_t)n;
    }
    int64_t end = now_ns();
    if (pthread_join(thread, NULL) != 0) die("pthread_join");
    if (close(server) != 0) die("close: %s", strerror(errno));
    double elapsed = seconds_between(start, end);
    printf("tcp bytes=%" PRIu64 " seconds=%.3f mb_per_s=%.1f\n", total, elapsed,
           (double)total / elapsed / MB);
}

/* ----- Command line ----- */

static _Noreturn void usage(void)
{
    fprintf(stderr,
            "usage: kafka_load produce|consume|roundtrip|delete|tcp\n"
            "  [--bootstrap HOST:PORT | --mock]\n"
            "  [--topic NAME] [--partitions P] [--create] [--messages N] [--size S]\n"
            "  [--acks -1|0|1] [--linger-ms MS] [--batch-size BYTES]\n"
            "  [--compression none|gzip|snappy|lz4|zstd] [--seconds S] [--timeout-s S]\n"
            "  [--debug LIBRDKAFKA_DEBUG_CONTEXTS]\n");
    exit(2);
}

static uint64_t parse_count(const char *flag, const char *text, uint64_t low, uint64_t high)
{
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || value < low ||
        value > high) {
        fprintf(stderr, "kafka_load: %s wants a whole number in %" PRIu64 "..%" PRIu64
                ", not \"%s\"\n", flag, low, high, text);
        exit(2);
    }
    return value;
}

static bool one_of(const char *text, const char *const *choices, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(text, choices[i]) == 0) return true;
    }
    return false;
}

static struct options parse_options(int argc, char **argv)
{
    if (argc < 2) usage();
    struct options options = {
        .mode = argv[1], .topic = "cairn-bench", .partitions = 1, .messages = 100000,
        .size = 100, .acks = "-1", .compression = "none", .seconds = 1.0, .timeout_s = 120};
    for (int i = 2; i < argc; i++) {
        const char *flag = argv[i];
        if (strcmp(flag, "--mock") == 0) { options.mock = true; continue; }
        if (strcmp(flag, "--create") == 0) { options.create = true; continue; }
        if (i + 1 >= argc) usage();
        const char *value = argv[++i];
        if (strcmp(flag, "--bootstrap") == 0) {
            options.bootstrap = value;
        } else if (strcmp(flag, "--topic") == 0) {
            options.topic = value;
        } else if (strcmp(flag, "--partitions") == 0) {
            options.partitions = (int)parse_count(flag, value, 1, MAX_PARTITIONS);
        } else if (strcmp(flag, "--messages") == 0) {
            options.messages = parse_count(flag, value, 1, 1000000000);
        } else if (strcmp(flag, "--size") == 0) {
            options.size = (uint32_t)parse_count(flag, value, INDEX_BYTES, 100000000);
        } else if (strcmp(flag, "--acks") == 0) {
            static const char *const acks[] = {"-1", "0", "1", "all"};
            if (!one_of(value, acks, sizeof(acks) / sizeof(acks[0]))) usage();
            options.acks = value;
        } else if (strcmp(flag, "--linger-ms") == 0) {
            (void)parse_count(flag, value, 0, 900000);
            options.linger_ms = value;
        } else if (strcmp(flag, "--batch-size") == 0) {
            (void)parse_count(flag, value, 1, 2147483647);
            options.batch_size = value;
        } else if (strcmp(flag, "--compression") == 0) {
            static const char *const codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};
            if (!one_of(value, codecs, sizeof(codecs) / sizeof(codecs[0]))) usage();
            options.compression = value;
        } else if (strcmp(flag, "--debug") == 0) {
            options.debug = value;
        } else if (strcmp(flag, "--seconds") == 0) {
            options.seconds = (double)parse_count(flag, value, 1, 3600);
        } else if (strcmp(flag, "--timeout-s") == 0) {
            options.timeout_s = (int)parse_count(flag, value, 1, 86400);
        } else {
            usage();
        }
    }
    bool kafka_mode = strcmp(options.mode, "produce") == 0 ||
                      strcmp(options.mode, "consume") == 0 ||
                      strcmp(options.mode, "roundtrip") == 0 ||
                      strcmp(options.mode, "delete") == 0;
    if (!kafka_mode && strcmp(options.mode, "tcp") != 0) usage();
    if (kafka_mode && (options.bootstrap != NULL) == options.mock) {
        fprintf(stderr, "kafka_load: give exactly one of --bootstrap and --mock\n");
        exit(2);
    }
    if (options.mock && (strcmp(options.mode, "consume") == 0 ||
                         strcmp(options.mode, "delete") == 0)) {
        fprintf(stderr, "kafka_load: the mock lives in this process: use roundtrip\n");
        exit(2);
    }
    return options;
}

int main(int argc, char **argv)
{
    struct options options = parse_options(argc, argv);
    if (strcmp(options.mode, "tcp") == 0) {
        tcp_reference(options.seconds);
        return 0;
    }
    if (strcmp(options.mode, "delete") == 0) {
        delete_topic(&options);
        return 0;
    }
    struct mock mock = {0};
    const char *bootstrap = options.bootstrap;
    if (options.mock) {
        mock_start(&mock, &options);
        bootstrap = rd_kafka_mock_cluster_bootstraps(mock.cluster);
    } else if (options.create) {
        create_topic(&options);
    }
    if (strcmp(options.mode, "consume") != 0) produce(&options, bootstrap);
    if (strcmp(options.mode, "produce") != 0) consume(&options, bootstrap);
    if (options.mock) mock_stop(&mock);
    return 0;
}
