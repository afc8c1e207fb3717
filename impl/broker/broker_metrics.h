/* broker_metrics.h: a broker's request metrics as data, for whoever reports them: kbroker
 * renders them as Prometheus text (broker_metrics_format in broker.h), ksim's run report reads
 * them at the end of a run (sim/report.c).
 *
 * Counted since the broker was created (a crash loses them, as a restarted process's counters
 * start again in Prometheus). Recording lives in broker_metrics.c and is called from the
 * broker's own files only; everything here is read-only.
 *
 * May depend on: base.h, protocol/. */
#ifndef BROKER_METRICS_H
#define BROKER_METRICS_H

#include "../protocol/messages_generated.h"

#define BROKER_LATENCY_BUCKETS 12u /* 11 bounds from 100 us to 10 s, then +Inf. */
#define BROKER_METRICS_API_UNKNOWN KAFKA_API_KEY_COUNT /* Frames without a readable api key. */
/* Distinct (api, error code) pairs counted; more go to errors_unrecorded. A broker answers
 * with a few codes per api, so this is far above what a cluster shows. */
#define BROKER_ERROR_SERIES_MAX 128u

/* Request metrics of one api key. */
struct broker_api_metrics {
    u64 requests;
    u64 bytes_in;
    u64 bytes_out;
    u64 closed_malformed;   /* The connection was closed: the request did not decode. */
    u64 closed_unsupported; /* ... an api or version not advertised. */
    u64 latency_count;
    u64 latency_sum_ns;
    u64 latency_max_ns;
    u64 latency_buckets[BROKER_LATENCY_BUCKETS]; /* Per bucket, not cumulative. */
};

/* How many answers of one api carried one error code (each occurrence counts: a Produce
 * answer with two partitions NOT_LEADER_OR_FOLLOWER counts 2). */
struct broker_error_count {
    i16 api_key;
    i16 error_code; /* Never 0. */
    u64 count;
};

struct broker_metrics {
    struct broker_api_metrics apis[BROKER_METRICS_API_UNKNOWN + 1];
    /* Sorted by (api_key, error_code), so every reader lists them in one order whatever the
     * order they first occurred in. */
    struct broker_error_count errors[BROKER_ERROR_SERIES_MAX];
    u32 error_series;
    u64 errors_unrecorded; /* Error codes met when errors was full. */
    u64 connections_idle_closed;
    u64 retention_checks;
    u64 retention_segments_deleted;
    u64 compactions;
    u64 compaction_records_removed;
    u64 maintenance_failures;
};

struct broker;

/* Upper bounds of the latency buckets (the last bucket, +Inf, has none). */
extern const u64 broker_latency_bound_ns[BROKER_LATENCY_BUCKETS - 1];

const struct broker_metrics *broker_metrics_get(const struct broker *broker);

/* The name an api index (a key, or BROKER_METRICS_API_UNKNOWN) has in the metrics: the
 * schema's ("Produce"), or "unknown". */
const char *broker_metrics_api_name(u32 index);

/* How often api_key's answers carried error_code (0 when never, or when not recorded). */
u64 broker_metrics_error_count(const struct broker_metrics *metrics, i16 api_key,
                               i16 error_code);

/* The latency below which per_mille/1000 of the api's timed requests finished, estimated from
 * its histogram as Prometheus' histogram_quantile does (linear inside the bucket that holds
 * the rank), and never above the longest latency seen. 0 when nothing was timed. */
u64 broker_metrics_latency_quantile_ns(const struct broker_api_metrics *api, u32 per_mille);

#endif
