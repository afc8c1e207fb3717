/* broker_metrics.c: request metrics per Kafka API, kept in the deterministic core and rendered
 * in Prometheus' text exposition format (kbroker writes them to --metrics-file).
 *
 * Per api key: requests, bytes in (whole frames, size prefix included), bytes out (the answers
 * handed to io), requests that closed their connection (malformed: the bytes did not decode
 * or a handler refused them; unsupported: an api or version not advertised), and the latency
 * from the frame's arrival to its answer being handed to io (for acks=0 produces, to the
 * request's completion) as a histogram of log-spaced buckets with count, sum and max. Frames
 * too short to carry an api key count under api="unknown". Beside them: connections open and
 * closed as idle (broker_maintenance.c), and the maintenance work done on the logs.
 *
 * Error codes inside answers: every non-zero one an answer carries, at the top level or in a
 * topic or partition, counted per (api, code). The generated kafka_response_visit_errors walks
 * the response struct the broker has just encoded (no decoding, no allocation); answers sent
 * as bytes the broker did not encode (relayed from the controller, ApiVersions) are decoded
 * once more in the scratch arena, off the data path. An acks=0 produce has no answer, so its
 * errors are not counted.
 *
 * Nothing here acts on the world: recording is arithmetic on struct broker_metrics, rendering
 * writes into the caller's buffer. Readers outside the broker use broker_metrics.h (ksim's
 * report). Tested by tests/unit/test_broker.c (counts, error codes at every level, relayed
 * answers, quantiles, through the fake io) and tests/integration/kafka_kcat.sh (the file
 * kbroker writes). */
#include "broker_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Upper bounds of the latency buckets (the last one, +Inf, is implied), about three to a
 * decade from 100 us to 10 s, as text for the "le" label and in nanoseconds. */
static const char *const broker_latency_le[BROKER_LATENCY_BUCKETS - 1] = {
    "0.0001", "0.0003", "0.001", "0.003", "0.01", "0.03", "0.1", "0.3", "1", "3", "10",
};
const u64 broker_latency_bound_ns[BROKER_LATENCY_BUCKETS - 1] = {
    100000ull,    300000ull,    1000000ull,    3000000ull,     10000000ull,    30000000ull,
    100000000ull, 300000000ull, 1000000000ull, 3000000000ull, 10000000000ull,
};

static struct broker_api_metrics *broker_metrics_api(struct broker *broker, i32 api_key)
{
    u32 index = api_key >= 0 && api_key < KAFKA_API_KEY_COUNT ? (u32)api_key
                                                              : BROKER_METRICS_API_UNKNOWN;
    return &broker->metrics.apis[index];
}

void broker_metrics_request(struct broker *broker, i32 api_key, u32 frame_size)
{
    struct broker_api_metrics *api = broker_metrics_api(broker, api_key);
    api->requests++;
    api->bytes_in += (u64)frame_size + IO_FRAME_PREFIX_SIZE;
}

void broker_metrics_rejected(struct broker *broker, i32 api_key, bool unsupported)
{
    struct broker_api_metrics *api = broker_metrics_api(broker, api_key);
    if (unsupported) {
        api->closed_unsupported++;
    } else {
        api->closed_malformed++;
    }
}

void broker_metrics_sent(struct broker *broker, i32 api_key, u64 bytes)
{
    broker_metrics_api(broker, api_key)->bytes_out += bytes;
}

void broker_metrics_latency(struct broker *broker, i32 api_key, u64 latency_ns)
{
    struct broker_api_metrics *api = broker_metrics_api(broker, api_key);
    u32 bucket = 0;
    while (bucket < BROKER_LATENCY_BUCKETS - 1 && latency_ns > broker_latency_bound_ns[bucket]) {
        bucket++;
    }
    api->latency_buckets[bucket]++;
    api->latency_count++;
    api->latency_sum_ns += latency_ns;
    api->latency_max_ns = MAX(api->latency_max_ns, latency_ns);
}

struct broker_error_visit {
    struct broker_metrics *metrics;
    i16 api_key;
};

/* Counts one error code of an answer: a binary search of the sorted series, and an insertion
 * (rare: the first time a pair occurs). */
static void broker_metrics_count_error(void *context, i16 error_code)
{
    struct broker_error_visit *visit = context;
    struct broker_metrics *metrics = visit->metrics;
    ASSERT(error_code != 0);
    ASSERT(metrics->error_series <= BROKER_ERROR_SERIES_MAX);
    u32 low = 0, high = metrics->error_series;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        const struct broker_error_count *entry = &metrics->errors[middle];
        bool before = entry->api_key < visit->api_key ||
                      (entry->api_key == visit->api_key && entry->error_code < error_code);
        if (before) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    struct broker_error_count *entry = &metrics->errors[low];
    if (low < metrics->error_series && entry->api_key == visit->api_key &&
        entry->error_code == error_code) {
        entry->count++;
        return;
    }
    if (metrics->error_series == BROKER_ERROR_SERIES_MAX) {
        metrics->errors_unrecorded++;
        return;
    }
    memmove(entry + 1, entry, (metrics->error_series - low) * sizeof(*entry));
    *entry = (struct broker_error_count){visit->api_key, error_code, 1};
    metrics->error_series++;
}

void broker_metrics_answered(struct broker *broker, i16 api_key, i16 version,
                             const union kafka_response *response)
{
    ASSERT(response != NULL && api_key >= 0 && api_key < KAFKA_API_KEY_COUNT);
    struct broker_error_visit visit = {&broker->metrics, api_key};
    kafka_response_visit_errors(api_key, version, response, broker_metrics_count_error, &visit);
}

void broker_metrics_sent_frame(struct broker *broker, const struct proto_request_header *request,
                               const u8 *bytes, u32 size)
{
    i16 key = request->RequestApiKey;
    broker_metrics_sent(broker, key, size);
    if (size < IO_FRAME_PREFIX_SIZE) return;
    /* ApiVersions answers a version it does not serve in the v0 shape; every other answer
     * sent here is of an advertised version. */
    i16 version = request->RequestApiVersion;
    if (!proto_api_advertised(proto_api_table, key, version)) version = 0;
    struct proto_reader reader;
    proto_reader_init(&reader, bytes + IO_FRAME_PREFIX_SIZE, size - IO_FRAME_PREFIX_SIZE);
    i32 correlation = 0;
    if (proto_response_header_decode(&reader, key, version, &correlation) != PROTO_OK) return;
    /* The scratch arena is free: ApiVersions does not use it, and relayed answers arrive
     * outside any handler. */
    struct proto_arena decode;
    proto_arena_init(&decode, broker->scratch, BROKER_SCRATCH_SIZE);
    union kafka_response response;
    /* An answer that does not decode (or does not fit the arena) has its bytes counted only:
     * the metrics describe what was sent, they do not judge it. */
    if (kafka_response_decode(&reader, key, version, &response, &decode) != PROTO_OK) return;
    broker_metrics_answered(broker, key, version, &response);
}

/* ===== Read by reporters ===== */

const struct broker_metrics *broker_metrics_get(const struct broker *broker)
{
    ASSERT(broker != NULL);
    return &broker->metrics;
}

u64 broker_metrics_error_count(const struct broker_metrics *metrics, i16 api_key,
                               i16 error_code)
{
    for (u32 i = 0; i < metrics->error_series; i++) {
        const struct broker_error_count *entry = &metrics->errors[i];
        if (entry->api_key == api_key && entry->error_code == error_code) return entry->count;
    }
    return 0;
}

u64 broker_metrics_latency_quantile_ns(const struct broker_api_metrics *api, u32 per_mille)
{
    ASSERT(per_mille <= 1000);
    if (api->latency_count == 0) return 0;
    /* Prometheus' rank: the fraction of the count, reached inside the first bucket whose
     * cumulative count attains it. Scaled by 1000 to stay in integers. */
    u64 rank = (u64)per_mille * api->latency_count;
    u64 before = 0;
    u32 bucket = 0;
    while (bucket < BROKER_LATENCY_BUCKETS - 1 &&
           (before + api->latency_buckets[bucket]) * 1000u < rank) {
        before += api->latency_buckets[bucket];
        bucket++;
    }
    u64 in_bucket = api->latency_buckets[bucket];
    u64 lower = bucket == 0 ? 0 : broker_latency_bound_ns[bucket - 1];
    u64 upper = bucket < BROKER_LATENCY_BUCKETS - 1 ? broker_latency_bound_ns[bucket]
                                                    : MAX(api->latency_max_ns, lower);
    u64 estimate = lower;
    if (in_bucket > 0 && rank > before * 1000u) {
        double fraction = (double)(rank - before * 1000u) / ((double)in_bucket * 1000.0);
        estimate = lower + (u64)((double)(upper - lower) * MIN(fraction, 1.0));
    }
    return MIN(estimate, api->latency_max_ns);
}

/* ===== Prometheus text ===== */

struct broker_text {
    char *text;
    u32 size;
    u32 used;
    bool truncated;
};

static void broker_text_put(struct broker_text *out, const char *format, ...) PRINTF_LIKE(2, 3);

static void broker_text_put(struct broker_text *out, const char *format, ...)
{
    if (out->truncated) return;
    va_list arguments;
    va_start(arguments, format);
    int written = vsnprintf(out->text + out->used, out->size - out->used, format, arguments);
    va_end(arguments);
    if (written < 0 || (u32)written >= out->size - out->used) {
        out->truncated = true;
        return;
    }
    out->used += (u32)written;
}

const char *broker_metrics_api_name(u32 index)
{
    if (index == BROKER_METRICS_API_UNKNOWN) return "unknown";
    const struct kafka_api_schema *schema = kafka_api_schema_get((i16)index);
    return schema != NULL ? schema->name : "unknown";
}

/* Served APIs always (zeros say "nothing yet"), others once something arrived for them. */
static bool broker_metrics_listed(const struct broker *broker, u32 index)
{
    if (index < KAFKA_API_KEY_COUNT && proto_api_table[index].implemented) return true;
    const struct broker_api_metrics *api = &broker->metrics.apis[index];
    return api->requests > 0 || api->closed_malformed > 0 || api->closed_unsupported > 0;
}

/* Seconds with nanosecond precision, without floating point. */
static void broker_text_seconds(struct broker_text *out, u64 ns)
{
    broker_text_put(out, "%llu.%09llu", (unsigned long long)(ns / NS_PER_S),
                    (unsigned long long)(ns % NS_PER_S));
}

/* One counter family: a line per listed api. */
static void broker_text_counter(struct broker_text *out, const struct broker *broker,
                                const char *name, const char *help, size_t field)
{
    broker_text_put(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (u32 i = 0; i <= BROKER_METRICS_API_UNKNOWN; i++) {
        if (!broker_metrics_listed(broker, i)) continue;
        const u8 *api = (const u8 *)&broker->metrics.apis[i];
        u64 value = 0;
        memcpy(&value, api + field, sizeof(value));
        broker_text_put(out, "%s{api=\"%s\"} %llu\n", name, broker_metrics_api_name(i),
                        (unsigned long long)value);
    }
}

static void broker_text_latency(struct broker_text *out, const struct broker *broker)
{
    const char *name = "cairn_broker_request_latency_seconds";
    broker_text_put(out,
                    "# HELP %s Time from a request's arrival to its answer handed to the "
                    "network.\n# TYPE %s histogram\n",
                    name, name);
    for (u32 i = 0; i <= BROKER_METRICS_API_UNKNOWN; i++) {
        if (!broker_metrics_listed(broker, i)) continue;
        const struct broker_api_metrics *api = &broker->metrics.apis[i];
        const char *api_name = broker_metrics_api_name(i);
        u64 cumulative = 0;
        for (u32 b = 0; b < BROKER_LATENCY_BUCKETS; b++) {
            cumulative += api->latency_buckets[b];
            const char *le = b < BROKER_LATENCY_BUCKETS - 1 ? broker_latency_le[b] : "+Inf";
            broker_text_put(out, "%s_bucket{api=\"%s\",le=\"%s\"} %llu\n", name, api_name, le,
                            (unsigned long long)cumulative);
        }
        ASSERT(cumulative == api->latency_count);
        broker_text_put(out, "%s_sum{api=\"%s\"} ", name, api_name);
        broker_text_seconds(out, api->latency_sum_ns);
        broker_text_put(out, "\n%s_count{api=\"%s\"} %llu\n", name, api_name,
                        (unsigned long long)api->latency_count);
    }
    const char *max = "cairn_broker_request_latency_max_seconds";
    broker_text_put(out, "# HELP %s The longest request latency seen.\n# TYPE %s gauge\n", max,
                    max);
    for (u32 i = 0; i <= BROKER_METRICS_API_UNKNOWN; i++) {
        if (!broker_metrics_listed(broker, i)) continue;
        broker_text_put(out, "%s{api=\"%s\"} ", max, broker_metrics_api_name(i));
        broker_text_seconds(out, broker->metrics.apis[i].latency_max_ns);
        broker_text_put(out, "\n");
    }
}

static void broker_text_single(struct broker_text *out, const char *name, const char *type,
                               const char *help, u64 value)
{
    broker_text_put(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
                    (unsigned long long)value);
}

static void broker_text_errors(struct broker_text *out, const struct broker_metrics *metrics)
{
    const char *name = "cairn_broker_response_errors_total";
    broker_text_put(out,
                    "# HELP %s Error codes inside answers sent (top level, topic or partition), "
                    "by api and error.\n# TYPE %s counter\n",
                    name, name);
    for (u32 i = 0; i < metrics->error_series; i++) {
        const struct broker_error_count *entry = &metrics->errors[i];
        const char *error = kafka_error_name(entry->error_code);
        broker_text_put(out, "%s{api=\"%s\",error=\"", name,
                        broker_metrics_api_name((u32)entry->api_key));
        if (error != NULL) {
            broker_text_put(out, "%s", error);
        } else {
            broker_text_put(out, "CODE_%d", entry->error_code); /* Not in Kafka's table. */
        }
        broker_text_put(out, "\"} %llu\n", (unsigned long long)entry->count);
    }
    broker_text_single(out, "cairn_broker_response_errors_unrecorded_total", "counter",
                       "Error codes inside answers not counted by api and error (too many "
                       "distinct pairs).",
                       metrics->errors_unrecorded);
}

u32 broker_metrics_format(const struct broker *broker, char *text, u32 size)
{
    ASSERT(text != NULL && size > 0);
    struct broker_text out = {text, size, 0, false};
    broker_text_counter(&out, broker, "cairn_broker_requests_total",
                        "Kafka requests received, by api.",
                        offsetof(struct broker_api_metrics, requests));
    broker_text_counter(&out, broker, "cairn_broker_request_bytes_total",
                        "Bytes of request frames received, size prefix included.",
                        offsetof(struct broker_api_metrics, bytes_in));
    broker_text_counter(&out, broker, "cairn_broker_response_bytes_total",
                        "Bytes of answers handed to the network.",
                        offsetof(struct broker_api_metrics, bytes_out));
    const char *rejected = "cairn_broker_requests_rejected_total";
    broker_text_put(&out,
                    "# HELP %s Requests that closed their connection: bytes that do not "
                    "decode, or an api or version not served.\n# TYPE %s counter\n",
                    rejected, rejected);
    for (u32 i = 0; i <= BROKER_METRICS_API_UNKNOWN; i++) {
        if (!broker_metrics_listed(broker, i)) continue;
        const struct broker_api_metrics *api = &broker->metrics.apis[i];
        const char *api_name = broker_metrics_api_name(i);
        broker_text_put(&out, "%s{api=\"%s\",reason=\"malformed\"} %llu\n", rejected, api_name,
                        (unsigned long long)api->closed_malformed);
        broker_text_put(&out, "%s{api=\"%s\",reason=\"unsupported\"} %llu\n", rejected,
                        api_name, (unsigned long long)api->closed_unsupported);
    }
    broker_text_latency(&out, broker);
    broker_text_errors(&out, &broker->metrics);
    u32 open = 0;
    for (u32 i = 0; i < BROKER_CONNS_MAX; i++) open += broker->conns[i] != 0;
    const struct broker_metrics *metrics = &broker->metrics;
    broker_text_single(&out, "cairn_broker_connections", "gauge",
                       "Client connections open.", open);
    broker_text_single(&out, "cairn_broker_connections_idle_closed_total", "counter",
                       "Connections closed after connections.max.idle.ms without traffic.",
                       metrics->connections_idle_closed);
    broker_text_single(&out, "cairn_broker_log_retention_checks_total", "counter",
                       "Retention checks of a partition log.", metrics->retention_checks);
    broker_text_single(&out, "cairn_broker_log_segments_deleted_total", "counter",
                       "Segments deleted by retention.", metrics->retention_segments_deleted);
    broker_text_single(&out, "cairn_broker_log_compactions_total", "counter",
                       "Compaction passes over a partition log.", metrics->compactions);
    broker_text_single(&out, "cairn_broker_log_compaction_records_removed_total", "counter",
                       "Records removed by compaction.", metrics->compaction_records_removed);
    broker_text_single(&out, "cairn_broker_log_maintenance_failures_total", "counter",
                       "Maintenance operations a log refused or failed.",
                       metrics->maintenance_failures);
    return out.truncated ? 0 : out.used;
}
