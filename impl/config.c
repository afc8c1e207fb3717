/* config.c: a node's configuration from Kafka-style properties text, without any I/O.
 *
 * What: config_parse() reads Java .properties text (key=value, key:value or "key value";
 * '#'/'!' comment lines; a backslash at the end of a line continues it; \t \n \r \f \\ and
 * \uXXXX escapes; surrounding whitespace trimmed, as Kafka's ConfigDef trims values), then
 * applies each --override "key=value", then runs the cross-field checks Kafka's KafkaConfig
 * runs for a KRaft node. Every property name Kafka 3.9 defines for a broker is known: the ones
 * this broker implements fill struct node_config, the rest are accepted with a warning "not
 * implemented yet", and any other name is an error that suggests the nearest real name.
 *
 * Invariants: the output depends only on the input (no clock, no environment, no allocation),
 * so the simulator and kbroker build identical configs from identical text. Every diagnostic
 * carries the 1-based line of the logical line where its property starts (0 for overrides).
 * The diagnostics array is bounded; error_count keeps counting after it is full.
 *
 * Tested by tests/unit/test_config.c (syntax, escapes, continuation, defaults, overrides, every
 * error path with its line number, the cross-field checks) and end to end by
 * tests/integration/kbroker_config.sh. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CONFIG_LOGICAL_LINE_MAX 8192u /* Bytes of one logical line after continuation. */
#define CONFIG_ITEM_MAX 512u          /* Bytes of one comma-separated list item. */
#define CONFIG_PROTOCOL_MAP_MAX 16u
#define CONFIG_PROPERTIES_MAX 64u     /* Properties the table may hold (one set flag each). */
#define CONFIG_INT_MAX 2147483647u    /* Kafka's INT properties are Java ints. */
#define CONFIG_LONG_MAX 9223372036854775807ull

/* Real Kafka 3.9 broker/controller property names this broker does not implement yet. They are
 * the names of AbstractKafkaConfig.CONFIG_DEF (server, KRaft, socket, replication, group, log,
 * cleaner, share, transaction, quorum, metrics, quota, security, delegation token, password
 * encoder, remote storage and ZooKeeper definitions), minus the ones implemented below. */
static const char *const config_unimplemented[] = {
    "alter.config.policy.class.name", "alter.log.dirs.replication.quota.window.num",
    "alter.log.dirs.replication.quota.window.size.seconds", "authorizer.class.name",
    "background.threads", "broker.id", "broker.id.generation.enable",
    "client.quota.callback.class", "compression.gzip.level", "compression.lz4.level",
    "compression.type", "compression.zstd.level", "connection.failed.authentication.delay.ms",
    "connections.max.reauth.ms", "control.plane.listener.name", "controlled.shutdown.enable",
    "controlled.shutdown.max.retries", "controlled.shutdown.retry.backoff.ms",
    "controller.quorum.append.linger.ms", "controller.quorum.bootstrap.servers",
    "controller.quorum.retry.backoff.ms", "controller.quota.window.num",
    "controller.quota.window.size.seconds", "controller.socket.timeout.ms",
    "create.topic.policy.class.name", "delegation.token.expiry.check.interval.ms",
    "delegation.token.expiry.time.ms", "delegation.token.max.lifetime.ms",
    "delegation.token.secret.key", "delete.records.purgatory.purge.interval.requests",
    "delete.topic.enable", "early.start.listeners", "eligible.leader.replicas.enable",
    "fetch.max.bytes", "fetch.purgatory.purge.interval.requests",
    "follower.replication.throttled.rate", "group.consumer.assignors",
    "group.consumer.heartbeat.interval.ms", "group.consumer.max.heartbeat.interval.ms",
    "group.consumer.max.session.timeout.ms", "group.consumer.max.size",
    "group.consumer.migration.policy", "group.consumer.min.heartbeat.interval.ms",
    "group.consumer.min.session.timeout.ms", "group.consumer.session.timeout.ms",
    "group.coordinator.append.linger.ms", "group.coordinator.new.enable",
    "group.coordinator.rebalance.protocols", "group.coordinator.threads",
    "group.share.delivery.count.limit", "group.share.enable",
    "group.share.heartbeat.interval.ms", "group.share.max.groups",
    "group.share.max.heartbeat.interval.ms", "group.share.max.record.lock.duration.ms",
    "group.share.max.session.timeout.ms", "group.share.max.size",
    "group.share.min.heartbeat.interval.ms", "group.share.min.record.lock.duration.ms",
    "group.share.min.session.timeout.ms", "group.share.partition.max.record.locks",
    "group.share.record.lock.duration.ms", "group.share.session.timeout.ms",
    "initial.broker.registration.timeout.ms", "inter.broker.listener.name",
    "inter.broker.protocol.version", "kafka.metrics.polling.interval.secs",
    "kafka.metrics.reporters", "leader.imbalance.per.broker.percentage",
    "leader.replication.throttled.rate", "log.cleaner.backoff.ms",
    "log.cleaner.dedupe.buffer.size", "log.cleaner.delete.retention.ms", "log.cleaner.enable",
    "log.cleaner.io.buffer.load.factor", "log.cleaner.io.buffer.size",
    "log.cleaner.io.max.bytes.per.second", "log.cleaner.max.compaction.lag.ms",
    "log.cleaner.min.cleanable.ratio", "log.cleaner.min.compaction.lag.ms", "log.cleaner.threads",
    "log.cleanup.policy", "log.dir.failure.timeout.ms", "log.flush.interval.ms",
    "log.flush.offset.checkpoint.interval.ms", "log.flush.scheduler.interval.ms",
    "log.flush.start.offset.checkpoint.interval.ms", "log.index.interval.bytes",
    "log.index.size.max.bytes", "log.initial.task.delay.ms", "log.local.retention.bytes",
    "log.local.retention.ms", "log.message.downconversion.enable", "log.message.format.version",
    "log.message.timestamp.after.max.ms", "log.message.timestamp.before.max.ms",
    "log.message.timestamp.difference.max.ms", "log.message.timestamp.type", "log.preallocate",
    "log.retention.bytes", "log.retention.hours", "log.retention.minutes", "log.retention.ms",
    "log.roll.hours", "log.roll.jitter.hours", "log.roll.jitter.ms", "log.roll.ms",
    "log.segment.bytes", "log.segment.delete.delay.ms", "max.connection.creation.rate",
    "max.connections", "max.connections.per.ip", "max.connections.per.ip.overrides",
    "max.incremental.fetch.session.cache.slots", "max.request.partition.size.limit",
    "message.max.bytes", "metadata.log.dir", "metadata.log.max.snapshot.interval.ms",
    "metadata.log.segment.bytes", "metadata.log.segment.min.bytes", "metadata.log.segment.ms",
    "metadata.max.idle.interval.ms", "metadata.max.retention.bytes", "metadata.max.retention.ms",
    "metric.reporters", "metrics.num.samples", "metrics.recording.level",
    "metrics.sample.window.ms", "num.io.threads", "num.network.threads",
    "num.partitions", "num.recovery.threads.per.data.dir", "num.replica.alter.log.dirs.threads",
    "num.replica.fetchers", "offsets.load.buffer.size", "offsets.retention.check.interval.ms",
    "offsets.topic.compression.codec",
    "password.encoder.cipher.algorithm", "password.encoder.iterations",
    "password.encoder.key.length", "password.encoder.keyfactory.algorithm",
    "password.encoder.old.secret", "password.encoder.secret", "principal.builder.class",
    "producer.id.expiration.check.interval.ms", "producer.id.expiration.ms",
    "producer.purgatory.purge.interval.requests", "queued.max.request.bytes",
    "queued.max.requests", "quota.window.num", "quota.window.size.seconds",
    "remote.fetch.max.wait.ms", "remote.list.offsets.request.timeout.ms",
    "remote.log.index.file.cache.total.size.bytes", "remote.log.manager.copier.thread.pool.size",
    "remote.log.manager.copy.max.bytes.per.second", "remote.log.manager.copy.quota.window.num",
    "remote.log.manager.copy.quota.window.size.seconds",
    "remote.log.manager.expiration.thread.pool.size",
    "remote.log.manager.fetch.max.bytes.per.second", "remote.log.manager.fetch.quota.window.num",
    "remote.log.manager.fetch.quota.window.size.seconds", "remote.log.manager.task.interval.ms",
    "remote.log.manager.task.retry.backoff.max.ms", "remote.log.manager.task.retry.backoff.ms",
    "remote.log.manager.task.retry.jitter", "remote.log.manager.thread.pool.size",
    "remote.log.metadata.custom.metadata.max.bytes", "remote.log.metadata.manager.class.name",
    "remote.log.metadata.manager.class.path", "remote.log.metadata.manager.impl.prefix",
    "remote.log.metadata.manager.listener.name", "remote.log.reader.max.pending.tasks",
    "remote.log.reader.threads", "remote.log.storage.manager.class.name",
    "remote.log.storage.manager.class.path", "remote.log.storage.manager.impl.prefix",
    "remote.log.storage.system.enable", "replica.alter.log.dirs.io.max.bytes.per.second",
    "replica.high.watermark.checkpoint.interval.ms", "replica.selector.class",
    "replica.socket.receive.buffer.bytes", "replica.socket.timeout.ms",
    "replication.quota.window.num", "replication.quota.window.size.seconds", "request.timeout.ms",
    "reserved.broker.max.id", "sasl.client.callback.handler.class", "sasl.enabled.mechanisms",
    "sasl.jaas.config", "sasl.kerberos.kinit.cmd", "sasl.kerberos.min.time.before.relogin",
    "sasl.kerberos.principal.to.local.rules", "sasl.kerberos.service.name",
    "sasl.kerberos.ticket.renew.jitter", "sasl.kerberos.ticket.renew.window.factor",
    "sasl.login.callback.handler.class", "sasl.login.class", "sasl.login.connect.timeout.ms",
    "sasl.login.read.timeout.ms", "sasl.login.refresh.buffer.seconds",
    "sasl.login.refresh.min.period.seconds", "sasl.login.refresh.window.factor",
    "sasl.login.refresh.window.jitter", "sasl.login.retry.backoff.max.ms",
    "sasl.login.retry.backoff.ms", "sasl.mechanism.controller.protocol",
    "sasl.mechanism.inter.broker.protocol", "sasl.oauthbearer.clock.skew.seconds",
    "sasl.oauthbearer.expected.audience", "sasl.oauthbearer.expected.issuer",
    "sasl.oauthbearer.jwks.endpoint.refresh.ms",
    "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms",
    "sasl.oauthbearer.jwks.endpoint.retry.backoff.ms", "sasl.oauthbearer.jwks.endpoint.url",
    "sasl.oauthbearer.scope.claim.name", "sasl.oauthbearer.sub.claim.name",
    "sasl.oauthbearer.token.endpoint.url", "sasl.server.callback.handler.class",
    "sasl.server.max.receive.size", "security.inter.broker.protocol", "security.providers",
    "server.max.startup.time.ms", "share.coordinator.append.linger.ms",
    "share.coordinator.load.buffer.size", "share.coordinator.snapshot.update.records.per.snapshot",
    "share.coordinator.state.topic.compression.codec", "share.coordinator.state.topic.min.isr",
    "share.coordinator.state.topic.num.partitions",
    "share.coordinator.state.topic.replication.factor",
    "share.coordinator.state.topic.segment.bytes", "share.coordinator.threads",
    "share.coordinator.write.timeout.ms", "share.fetch.max.fetch.records",
    "share.fetch.purgatory.purge.interval.requests", "socket.connection.setup.timeout.max.ms",
    "socket.connection.setup.timeout.ms", "socket.listen.backlog.size",
    "socket.receive.buffer.bytes", "socket.send.buffer.bytes", "ssl.allow.dn.changes",
    "ssl.allow.san.changes", "ssl.cipher.suites", "ssl.client.auth", "ssl.enabled.protocols",
    "ssl.endpoint.identification.algorithm", "ssl.engine.factory.class", "ssl.key.password",
    "ssl.keymanager.algorithm", "ssl.keystore.certificate.chain", "ssl.keystore.key",
    "ssl.keystore.location", "ssl.keystore.password", "ssl.keystore.type",
    "ssl.principal.mapping.rules", "ssl.protocol", "ssl.provider",
    "ssl.secure.random.implementation", "ssl.trustmanager.algorithm",
    "ssl.truststore.certificates", "ssl.truststore.location", "ssl.truststore.password",
    "ssl.truststore.type", "telemetry.max.bytes",
    "transaction.abort.timed.out.transaction.cleanup.interval.ms", "transaction.max.timeout.ms",
    "transaction.partition.verification.enable",
    "transaction.remove.expired.transaction.cleanup.interval.ms",
    "transaction.state.log.load.buffer.size", "transaction.state.log.min.isr",
    "transaction.state.log.num.partitions", "transaction.state.log.replication.factor",
    "transaction.state.log.segment.bytes", "transactional.id.expiration.ms",
    "unclean.leader.election.interval.ms", "unstable.api.versions.enable",
    "unstable.feature.versions.enable", "zookeeper.clientCnxnSocket", "zookeeper.connect",
    "zookeeper.connection.timeout.ms", "zookeeper.max.in.flight.requests",
    "zookeeper.metadata.migration.enable", "zookeeper.metadata.migration.min.batch.size",
    "zookeeper.session.timeout.ms", "zookeeper.set.acl", "zookeeper.ssl.cipher.suites",
    "zookeeper.ssl.client.enable", "zookeeper.ssl.crl.enable", "zookeeper.ssl.enabled.protocols",
    "zookeeper.ssl.endpoint.identification.algorithm", "zookeeper.ssl.keystore.location",
    "zookeeper.ssl.keystore.password", "zookeeper.ssl.keystore.type", "zookeeper.ssl.ocsp.enable",
    "zookeeper.ssl.protocol", "zookeeper.ssl.truststore.location",
    "zookeeper.ssl.truststore.password", "zookeeper.ssl.truststore.type",
};

/* ===== Parse state and diagnostics ===== */

struct config_protocol_entry {
    char name[CONFIG_NAME_MAX];
    char protocol[CONFIG_NAME_MAX];
};

struct config_state {
    struct node_config *config;
    struct config_diagnostics *diagnostics;
    u32 line;                 /* Line of the property being applied; 0 for overrides. */
    /* Where each implemented property was last set (0: never). */
    u32 property_line[CONFIG_PROPERTIES_MAX];
    bool property_set[CONFIG_PROPERTIES_MAX];
    struct config_protocol_entry protocols[CONFIG_PROTOCOL_MAP_MAX];
    u32 protocol_count;
    u32 controller_name_count; /* controller.listener.names entries (only the first is used). */
};

static void config_diag(struct config_state *state, enum config_severity severity,
                        const char *format, ...) PRINTF_LIKE(3, 4);

static void config_diag(struct config_state *state, enum config_severity severity,
                        const char *format, ...)
{
    struct config_diagnostics *diagnostics = state->diagnostics;
    ASSERT(diagnostics->count <= CONFIG_DIAGNOSTICS_MAX);
    if (severity == CONFIG_ERROR) diagnostics->error_count++;
    if (diagnostics->count == CONFIG_DIAGNOSTICS_MAX) return; /* Bounded: keep counting only. */
    struct config_diagnostic *item = &diagnostics->items[diagnostics->count++];
    item->severity = severity;
    item->line = state->line;
    va_list arguments;
    va_start(arguments, format);
    int written = vsnprintf(item->message, sizeof(item->message), format, arguments);
    va_end(arguments);
    ASSERT(written >= 0);
}

/* ===== Small pure helpers ===== */

static bool config_is_space(char c) { return c == ' ' || c == '\t' || c == '\f'; }

/* Copies text[0, length) into out without surrounding whitespace. False if it does not fit. */
static bool config_copy_trimmed(const char *text, size_t length, char *out, size_t out_size)
{
    ASSERT(out_size > 0);
    while (length > 0 && (config_is_space(text[0]) || text[0] == '\r' || text[0] == '\n')) {
        text++;
        length--;
    }
    while (length > 0 && (config_is_space(text[length - 1]) || text[length - 1] == '\r' ||
                          text[length - 1] == '\n')) {
        length--;
    }
    if (length >= out_size) return false;
    memmove(out, text, length); /* May overlap when trimming in place. */
    out[length] = '\0';
    return true;
}

/* Parses an unsigned decimal integer (an optional '+', digits only). False when not a number
 * or when it exceeds maximum. A leading '-' parses as "out of range" for the caller to say. */
static bool config_u64_parse(const char *text, u64 maximum, u64 *value, bool *out_of_range)
{
    *out_of_range = false;
    *value = 0;
    if (*text == '-' && text[1] >= '0' && text[1] <= '9') {
        *out_of_range = true;
        return false;
    }
    if (*text == '+') text++;
    if (*text == '\0') return false;
    for (u32 i = 0; text[i] != '\0'; i++) {
        if (i >= 20) { *out_of_range = true; return false; } /* Bounded: more than u64 holds. */
        if (text[i] < '0' || text[i] > '9') return false;
        u64 digit = (u64)(text[i] - '0');
        if (*value > (maximum - digit) / 10) { *out_of_range = true; return false; }
        *value = *value * 10 + digit;
    }
    ASSERT(*value <= maximum);
    return true;
}

/* Reads the next comma-separated item at *cursor into item, trimmed. Empty items (a trailing
 * comma) are skipped. Returns false at the end of the list or when an item is too long (then
 * *too_long is set). */
static bool config_list_next(const char **cursor, char *item, u32 item_size, bool *too_long)
{
    *too_long = false;
    for (u32 guard = 0; guard < CONFIG_LOGICAL_LINE_MAX; guard++) {
        const char *start = *cursor;
        if (*start == '\0') return false;
        const char *comma = strchr(start, ',');
        size_t length = comma != NULL ? (size_t)(comma - start) : strlen(start);
        *cursor = comma != NULL ? comma + 1 : start + length;
        if (!config_copy_trimmed(start, length, item, item_size)) {
            *too_long = true;
            return false;
        }
        if (item[0] != '\0') return true;
    }
    return false;
}

/* Validates "host:port" (host may be a name, an IPv4 address, "[v6]" or, when host_optional,
 * empty) and copies it to out. Port 0 is accepted only when port_zero_ok (ephemeral). */
static bool config_endpoint_parse(const char *text, bool host_optional, bool port_zero_ok,
                                  char *out, u32 out_size)
{
    const char *colon = strrchr(text, ':');
    if (colon == NULL) return false;
    size_t host_length = (size_t)(colon - text);
    if (host_length == 0 && !host_optional) return false;
    bool bracketed = host_length > 0 && text[0] == '[';
    if (bracketed && (host_length < 3 || text[host_length - 1] != ']')) return false;
    for (size_t i = 0; i < host_length; i++) {
        char c = text[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_' || (bracketed && (c == ':' || c == '[' ||
                  c == ']' || c == '%'));
        if (!ok) return false;
    }
    u64 port = 0;
    bool out_of_range = false;
    if (colon[1] == '+' || !config_u64_parse(colon + 1, 65535, &port, &out_of_range)) return false;
    if (port == 0 && !port_zero_ok) return false;
    if (strlen(text) >= out_size) return false;
    memcpy(out, text, strlen(text) + 1);
    return true;
}

static void config_uppercase(char *text)
{
    for (u32 i = 0; text[i] != '\0'; i++) {
        if (text[i] >= 'a' && text[i] <= 'z') text[i] = (char)(text[i] - 'a' + 'A');
    }
}

static bool config_listener_name_valid(const char *name)
{
    if (name[0] == '\0') return false;
    for (u32 i = 0; name[i] != '\0'; i++) {
        char c = name[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

/* ===== Implemented properties ===== */

struct config_property;
typedef void (*config_apply_fn)(struct config_state *state, const struct config_property *property,
                                const char *value);

struct config_property {
    const char *name;
    config_apply_fn apply;
    size_t offset;         /* Field in struct node_config (numbers and text). */
    u32 size;              /* Field size for text; 4 or 8 for numbers. */
    u64 minimum, maximum;  /* Inclusive range for numbers. */
};

static void config_apply_number(struct config_state *state,
                                const struct config_property *property, const char *value)
{
    ASSERT(property->size == sizeof(u32) || property->size == sizeof(u64));
    ASSERT(property->minimum <= property->maximum);
    u64 number = 0;
    bool out_of_range = false;
    if (!config_u64_parse(value, property->maximum, &number, &out_of_range) && !out_of_range) {
        config_diag(state, CONFIG_ERROR, "invalid value '%s' for %s: expected an integer",
                    value, property->name);
        return;
    }
    if (out_of_range || number < property->minimum) {
        config_diag(state, CONFIG_ERROR,
                    "value %s for %s is out of range [%llu, %llu]", value, property->name,
                    (unsigned long long)property->minimum,
                    (unsigned long long)property->maximum);
        return;
    }
    u8 *field = (u8 *)state->config + property->offset;
    if (property->size == sizeof(u32)) {
        u32 narrow = (u32)number;
        memcpy(field, &narrow, sizeof(narrow));
    } else {
        memcpy(field, &number, sizeof(number));
    }
}

/* A Java-style boolean ("true"/"false", any case). */
static void config_apply_bool(struct config_state *state, const struct config_property *property,
                              const char *value)
{
    ASSERT(property->size == sizeof(bool));
    bool parsed;
    if (strcasecmp(value, "true") == 0) {
        parsed = true;
    } else if (strcasecmp(value, "false") == 0) {
        parsed = false;
    } else {
        config_diag(state, CONFIG_ERROR, "invalid value '%s' for %s: expected true or false",
                    value, property->name);
        return;
    }
    memcpy((u8 *)state->config + property->offset, &parsed, sizeof(parsed));
}

static void config_apply_text(struct config_state *state, const struct config_property *property,
                              const char *value)
{
    ASSERT(property->size > 0);
    if (strlen(value) >= property->size) {
        config_diag(state, CONFIG_ERROR, "value for %s is too long (at most %u bytes)",
                    property->name, property->size - 1);
        return;
    }
    memcpy((u8 *)state->config + property->offset, value, strlen(value) + 1);
}

static void config_apply_roles(struct config_state *state, const struct config_property *property,
                               const char *value)
{
    u32 roles = 0;
    char item[CONFIG_ITEM_MAX];
    bool too_long = false;
    const char *cursor = value;
    while (config_list_next(&cursor, item, sizeof(item), &too_long)) {
        u32 role = strcmp(item, "broker") == 0       ? CONFIG_ROLE_BROKER
                   : strcmp(item, "controller") == 0 ? CONFIG_ROLE_CONTROLLER
                                                     : 0;
        if (role == 0) {
            config_diag(state, CONFIG_ERROR,
                        "%s: unknown role '%s' (expected broker, controller or both)",
                        property->name, item);
            return;
        }
        if (roles & role) {
            config_diag(state, CONFIG_ERROR, "%s: role '%s' is listed twice", property->name,
                        item);
            return;
        }
        roles |= role;
    }
    if (too_long || roles == 0) {
        config_diag(state, CONFIG_ERROR, "%s must be broker, controller or broker,controller",
                    property->name);
        return;
    }
    state->config->roles = roles;
}

/* One "id@host:port" entry of controller.quorum.voters. */
static bool config_voter_parse(const char *item, struct config_voter *voter)
{
    const char *at = strchr(item, '@');
    if (at == NULL || at == item) return false;
    char digits[16];
    if (!config_copy_trimmed(item, (size_t)(at - item), digits, sizeof(digits))) return false;
    u64 id = 0;
    bool out_of_range = false;
    if (!config_u64_parse(digits, CONFIG_INT_MAX, &id, &out_of_range)) return false;
    voter->id = (u32)id;
    return config_endpoint_parse(at + 1, false, false, voter->endpoint,
                                 sizeof(voter->endpoint));
}

static void config_apply_voters(struct config_state *state,
                                const struct config_property *property, const char *value)
{
    struct node_config *config = state->config;
    struct config_voter voters[CONFIG_VOTERS_MAX];
    u32 count = 0;
    char item[CONFIG_ITEM_MAX];
    bool too_long = false;
    const char *cursor = value;
    while (config_list_next(&cursor, item, sizeof(item), &too_long)) {
        if (count == CONFIG_VOTERS_MAX) {
            config_diag(state, CONFIG_ERROR, "%s: more than %u voters", property->name,
                        CONFIG_VOTERS_MAX);
            return;
        }
        if (!config_voter_parse(item, &voters[count])) {
            config_diag(state, CONFIG_ERROR, "%s: malformed voter '%s' (expected id@host:port)",
                        property->name, item);
            return;
        }
        for (u32 i = 0; i < count; i++) {
            if (voters[i].id != voters[count].id) continue;
            config_diag(state, CONFIG_ERROR, "%s: voter id %u is listed twice", property->name,
                        voters[count].id);
            return;
        }
        count++;
    }
    if (too_long || count == 0) {
        config_diag(state, CONFIG_ERROR, "%s must list the voters as id@host:port,...",
                    property->name);
        return;
    }
    memcpy(config->voters, voters, sizeof(voters[0]) * count);
    config->voter_count = count;
}

/* One "NAME://host:port" entry; the name is upper-cased as Kafka normalises listener names. */
static bool config_listener_parse(const char *item, bool host_optional,
                                  struct config_listener *listener)
{
    const char *separator = strstr(item, "://");
    if (separator == NULL) return false;
    if (!config_copy_trimmed(item, (size_t)(separator - item), listener->name,
                             sizeof(listener->name))) {
        return false;
    }
    config_uppercase(listener->name);
    if (!config_listener_name_valid(listener->name)) return false;
    return config_endpoint_parse(separator + 3, host_optional, true, listener->endpoint,
                                 sizeof(listener->endpoint));
}

static void config_listeners_parse(struct config_state *state, const char *name,
                                   const char *value, bool advertised,
                                   struct config_listener *out, u32 *out_count)
{
    struct config_listener listeners[CONFIG_LISTENERS_MAX];
    u32 count = 0;
    char item[CONFIG_ITEM_MAX];
    bool too_long = false;
    const char *cursor = value;
    while (config_list_next(&cursor, item, sizeof(item), &too_long)) {
        if (count == CONFIG_LISTENERS_MAX) {
            config_diag(state, CONFIG_ERROR, "%s: more than %u listeners", name,
                        CONFIG_LISTENERS_MAX);
            return;
        }
        if (!config_listener_parse(item, !advertised, &listeners[count])) {
            config_diag(state, CONFIG_ERROR, "%s: malformed listener '%s' (expected "
                        "NAME://host:port)", name, item);
            return;
        }
        for (u32 i = 0; i < count; i++) {
            if (strcmp(listeners[i].name, listeners[count].name) != 0) continue;
            config_diag(state, CONFIG_ERROR, "%s: listener name %s is used twice", name,
                        listeners[count].name);
            return;
        }
        count++;
    }
    if (too_long || count == 0) {
        config_diag(state, CONFIG_ERROR, "%s must list NAME://host:port,...", name);
        return;
    }
    memcpy(out, listeners, sizeof(listeners[0]) * count);
    *out_count = count;
}

static void config_apply_listeners(struct config_state *state,
                                   const struct config_property *property, const char *value)
{
    config_listeners_parse(state, property->name, value, false, state->config->listeners,
                           &state->config->listener_count);
}

static void config_apply_advertised(struct config_state *state,
                                    const struct config_property *property, const char *value)
{
    config_listeners_parse(state, property->name, value, true, state->config->advertised,
                           &state->config->advertised_count);
}

static void config_apply_controller_names(struct config_state *state,
                                          const struct config_property *property,
                                          const char *value)
{
    char item[CONFIG_ITEM_MAX];
    bool too_long = false;
    const char *cursor = value;
    u32 count = 0;
    while (config_list_next(&cursor, item, sizeof(item), &too_long)) {
        config_uppercase(item);
        if (!config_listener_name_valid(item) || strlen(item) >= CONFIG_NAME_MAX) {
            config_diag(state, CONFIG_ERROR, "%s: invalid listener name '%s'", property->name,
                        item);
            return;
        }
        if (count == 0) memcpy(state->config->controller_listener_name, item, strlen(item) + 1);
        count++;
    }
    if (too_long || count == 0) {
        config_diag(state, CONFIG_ERROR, "%s must name at least one listener", property->name);
        return;
    }
    if (count > 1) {
        config_diag(state, CONFIG_WARNING, "%s: only the first name (%s) is used; several "
                    "controller listeners are not implemented yet", property->name,
                    state->config->controller_listener_name);
    }
    state->controller_name_count = count;
}

static const char *const config_protocols[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};

static void config_apply_protocol_map(struct config_state *state,
                                      const struct config_property *property, const char *value)
{
    char item[CONFIG_ITEM_MAX];
    bool too_long = false;
    const char *cursor = value;
    state->protocol_count = 0;
    while (config_list_next(&cursor, item, sizeof(item), &too_long)) {
        struct config_protocol_entry entry;
        const char *colon = strchr(item, ':');
        bool ok = colon != NULL && state->protocol_count < CONFIG_PROTOCOL_MAP_MAX &&
                  config_copy_trimmed(item, (size_t)(colon - item), entry.name,
                                      sizeof(entry.name)) &&
                  config_copy_trimmed(colon + 1, strlen(colon + 1), entry.protocol,
                                      sizeof(entry.protocol));
        if (ok) {
            config_uppercase(entry.name);
            config_uppercase(entry.protocol);
            ok = config_listener_name_valid(entry.name);
        }
        bool known = false;
        for (u32 i = 0; ok && i < ARRAY_LEN(config_protocols); i++) {
            known = known || strcmp(entry.protocol, config_protocols[i]) == 0;
        }
        if (!ok || !known) {
            config_diag(state, CONFIG_ERROR, "%s: malformed entry '%s' (expected NAME:PROTOCOL "
                        "with PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)", property->name, item);
            return;
        }
        if (strcmp(entry.protocol, "PLAINTEXT") != 0) {
            config_diag(state, CONFIG_WARNING, "%s: security protocol %s for %s is not "
                        "implemented yet; the listener speaks PLAINTEXT", property->name,
                        entry.protocol, entry.name);
        }
        state->protocols[state->protocol_count++] = entry;
    }
    if (too_long) config_diag(state, CONFIG_ERROR, "%s: entry too long", property->name);
}

static void config_apply_log_dirs(struct config_state *state,
                                  const struct config_property *property, const char *value)
{
    char item[CONFIG_ITEM_MAX];
    bool too_long = false;
    const char *cursor = value;
    u32 count = 0;
    while (config_list_next(&cursor, item, sizeof(item), &too_long)) {
        if (count == 0) {
            if (strlen(item) >= CONFIG_PATH_MAX) {
                config_diag(state, CONFIG_ERROR, "%s: path too long (at most %u bytes)",
                            property->name, CONFIG_PATH_MAX - 1);
                return;
            }
            memcpy(state->config->log_dir, item, strlen(item) + 1);
        }
        count++;
    }
    if (too_long || count == 0) {
        config_diag(state, CONFIG_ERROR, "%s must name a directory", property->name);
        return;
    }
    if (count > 1) {
        config_diag(state, CONFIG_WARNING, "%s: only the first directory (%s) is used; several "
                    "log directories are not implemented yet", property->name,
                    state->config->log_dir);
    }
}

static void config_apply_log_dir(struct config_state *state,
                                 const struct config_property *property, const char *value);

#define CONFIG_NUMBER(name, field, minimum, maximum)                                          \
    {name, config_apply_number, offsetof(struct node_config, field),                          \
     (u32)sizeof(((struct node_config *)0)->field), minimum, maximum}
#define CONFIG_TEXT(name, field)                                                              \
    {name, config_apply_text, offsetof(struct node_config, field),                            \
     (u32)sizeof(((struct node_config *)0)->field), 0, 0}
#define CONFIG_SPECIAL(name, apply) {name, apply, 0, 0, 0, 0}

/* The properties this broker implements, with Kafka's ranges. */
static const struct config_property config_properties[] = {
    CONFIG_NUMBER("node.id", node_id, 0, CONFIG_INT_MAX),
    CONFIG_SPECIAL("process.roles", config_apply_roles),
    CONFIG_SPECIAL("controller.quorum.voters", config_apply_voters),
    CONFIG_SPECIAL("listeners", config_apply_listeners),
    CONFIG_SPECIAL("advertised.listeners", config_apply_advertised),
    CONFIG_SPECIAL("controller.listener.names", config_apply_controller_names),
    CONFIG_SPECIAL("listener.security.protocol.map", config_apply_protocol_map),
    CONFIG_TEXT("broker.rack", rack),
    CONFIG_SPECIAL("log.dirs", config_apply_log_dirs),
    CONFIG_SPECIAL("log.dir", config_apply_log_dir),
    CONFIG_NUMBER("socket.request.max.bytes", socket_request_max_bytes, 1, CONFIG_INT_MAX),
    CONFIG_NUMBER("connections.max.idle.ms", connections_max_idle_ms, 1, CONFIG_LONG_MAX),
    CONFIG_NUMBER("num.partitions", num_partitions, 1, CONFIG_INT_MAX),
    {"auto.create.topics.enable", config_apply_bool, offsetof(struct node_config,
     auto_create_topics_enable), (u32)sizeof(bool), 0, 0},
    /* Kafka's range: at least 14 bytes (a record batch header overhead), at most 2 GiB - 1. */
    CONFIG_NUMBER("log.segment.bytes", log_segment_bytes, 14, CONFIG_INT_MAX),
    CONFIG_NUMBER("log.flush.interval.messages", log_flush_interval_messages, 1,
                  CONFIG_LONG_MAX),
    CONFIG_NUMBER("producer.id.expiration.ms", producer_id_expiration_ms, 1, CONFIG_INT_MAX),
    CONFIG_NUMBER("controller.quorum.election.timeout.ms", quorum_election_timeout_ms, 1,
                  CONFIG_INT_MAX),
    CONFIG_NUMBER("controller.quorum.election.backoff.max.ms", quorum_election_backoff_max_ms,
                  1, CONFIG_INT_MAX),
    CONFIG_NUMBER("controller.quorum.fetch.timeout.ms", quorum_fetch_timeout_ms, 1,
                  CONFIG_INT_MAX),
    CONFIG_NUMBER("controller.quorum.request.timeout.ms", quorum_request_timeout_ms, 1,
                  CONFIG_INT_MAX),
    CONFIG_NUMBER("broker.heartbeat.interval.ms", broker_heartbeat_interval_ms, 1,
                  CONFIG_INT_MAX),
    CONFIG_NUMBER("broker.session.timeout.ms", broker_session_timeout_ms, 1, CONFIG_INT_MAX),
    {"unclean.leader.election.enable", config_apply_bool, offsetof(struct node_config,
     unclean_leader_election_enable), (u32)sizeof(bool), 0, 0},
    CONFIG_NUMBER("default.replication.factor", default_replication_factor, 1, CONFIG_INT_MAX),
    CONFIG_NUMBER("replica.lag.time.max.ms", replica_lag_time_max_ms, 1, CONFIG_LONG_MAX),
    CONFIG_NUMBER("min.insync.replicas", min_insync_replicas, 1, CONFIG_INT_MAX),
    CONFIG_NUMBER("replica.fetch.wait.max.ms", replica_fetch_wait_max_ms, 0, CONFIG_INT_MAX),
    CONFIG_NUMBER("replica.fetch.min.bytes", replica_fetch_min_bytes, 1, CONFIG_INT_MAX),
    CONFIG_NUMBER("replica.fetch.max.bytes", replica_fetch_max_bytes, 0, CONFIG_INT_MAX),
    CONFIG_NUMBER("replica.fetch.response.max.bytes", replica_fetch_response_max_bytes, 0,
                  CONFIG_INT_MAX),
    CONFIG_NUMBER("replica.fetch.backoff.ms", replica_fetch_backoff_ms, 0, CONFIG_INT_MAX),
    {"auto.leader.rebalance.enable", config_apply_bool, offsetof(struct node_config,
     auto_leader_rebalance_enable), (u32)sizeof(bool), 0, 0},
    CONFIG_NUMBER("leader.imbalance.check.interval.seconds",
                  leader_imbalance_check_interval_seconds, 1, CONFIG_LONG_MAX),
    CONFIG_NUMBER("metadata.log.max.record.bytes.between.snapshots", metadata_snapshot_bytes, 1,
                  CONFIG_LONG_MAX),
    CONFIG_NUMBER("log.retention.check.interval.ms", log_retention_check_interval_ms, 1,
                  CONFIG_LONG_MAX),
    /* Consumer groups. The offsets topic's partitions are at most a topic's here (64). */
    CONFIG_NUMBER("offsets.topic.num.partitions", offsets_topic_num_partitions, 1,
                  CONFIG_OFFSETS_PARTITIONS_MAX),
    CONFIG_NUMBER("offsets.topic.replication.factor", offsets_topic_replication_factor, 1,
                  32767),
    CONFIG_NUMBER("offsets.topic.segment.bytes", offsets_topic_segment_bytes, 1, CONFIG_INT_MAX),
    CONFIG_NUMBER("offsets.retention.minutes", offsets_retention_minutes, 1, CONFIG_INT_MAX),
    CONFIG_NUMBER("offsets.commit.timeout.ms", offsets_commit_timeout_ms, 1, CONFIG_INT_MAX),
    CONFIG_NUMBER("offset.metadata.max.bytes", offset_metadata_max_bytes, 0, CONFIG_INT_MAX),
    CONFIG_NUMBER("group.initial.rebalance.delay.ms", group_initial_rebalance_delay_ms, 0,
                  CONFIG_INT_MAX),
    CONFIG_NUMBER("group.min.session.timeout.ms", group_min_session_timeout_ms, 0,
                  CONFIG_INT_MAX),
    CONFIG_NUMBER("group.max.session.timeout.ms", group_max_session_timeout_ms, 0,
                  CONFIG_INT_MAX),
    CONFIG_NUMBER("group.max.size", group_max_size, 1, CONFIG_INT_MAX),
};

enum {
    CONFIG_PROPERTY_COUNT = (int)ARRAY_LEN(config_properties),
    CONFIG_INDEX_NODE_ID = 0,
    CONFIG_INDEX_ROLES = 1,
    CONFIG_INDEX_VOTERS = 2,
    CONFIG_INDEX_LISTENERS = 3,
    CONFIG_INDEX_ADVERTISED = 4,
    CONFIG_INDEX_CONTROLLER_NAMES = 5,
    CONFIG_INDEX_PROTOCOL_MAP = 6,
    CONFIG_INDEX_LOG_DIRS = 8,
};
_Static_assert(ARRAY_LEN(config_properties) <= CONFIG_PROPERTIES_MAX, "property_set holds them");

/* log.dirs wins over log.dir, whichever comes first (Kafka's rule). */
static void config_apply_log_dir(struct config_state *state,
                                 const struct config_property *property, const char *value)
{
    ASSERT(strcmp(config_properties[CONFIG_INDEX_LOG_DIRS].name, "log.dirs") == 0);
    if (state->property_set[CONFIG_INDEX_LOG_DIRS]) return;
    config_apply_log_dirs(state, property, value);
}

/* ===== Names: lookup and "did you mean" ===== */

static i32 config_property_find(const char *key)
{
    for (u32 i = 0; i < ARRAY_LEN(config_properties); i++) {
        if (strcmp(config_properties[i].name, key) == 0) return (i32)i;
    }
    return -1;
}

static bool config_unimplemented_find(const char *key)
{
    for (u32 i = 0; i < ARRAY_LEN(config_unimplemented); i++) {
        if (strcmp(config_unimplemented[i], key) == 0) return true;
    }
    return false;
}

/* Levenshtein distance between two short strings (both at most CONFIG_NAME_MAX bytes). */
static u32 config_edit_distance(const char *a, const char *b)
{
    u32 a_length = (u32)strlen(a), b_length = (u32)strlen(b);
    ASSERT(a_length < CONFIG_NAME_MAX);
    ASSERT(b_length < CONFIG_NAME_MAX);
    u32 row[CONFIG_NAME_MAX];
    for (u32 j = 0; j <= b_length; j++) row[j] = j;
    for (u32 i = 1; i <= a_length; i++) {
        u32 diagonal = row[0];
        row[0] = i;
        for (u32 j = 1; j <= b_length; j++) {
            u32 above = row[j];
            u32 cost = a[i - 1] == b[j - 1] ? 0 : 1;
            row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), diagonal + cost);
            diagonal = above;
        }
    }
    return row[b_length];
}

/* The known name nearest to key, or NULL when nothing is close enough to be a typo. */
static const char *config_suggest(const char *key)
{
    if (strlen(key) >= CONFIG_NAME_MAX) return NULL;
    u32 limit = 2 + (u32)strlen(key) / 6;
    const char *best = NULL;
    u32 best_distance = limit + 1;
    u32 total = (u32)(ARRAY_LEN(config_properties) + ARRAY_LEN(config_unimplemented));
    for (u32 i = 0; i < total; i++) {
        const char *name = i < ARRAY_LEN(config_properties)
                               ? config_properties[i].name
                               : config_unimplemented[i - ARRAY_LEN(config_properties)];
        if (strlen(name) >= CONFIG_NAME_MAX) continue;
        u32 distance = config_edit_distance(key, name);
        if (distance < best_distance) {
            best_distance = distance;
            best = name;
        }
    }
    return best;
}

/* Applies one key/value pair (from the file or an override). */
static void config_property_apply(struct config_state *state, const char *key,
                                  const char *value)
{
    i32 index = config_property_find(key);
    if (index >= 0) {
        const struct config_property *property = &config_properties[index];
        if (state->line != 0 && state->property_line[index] != 0) {
            config_diag(state, CONFIG_WARNING, "%s is set again (line %u); the last value wins",
                        key, state->property_line[index]);
        }
        state->property_line[index] = state->line;
        u32 errors_before = state->diagnostics->error_count;
        property->apply(state, property, value);
        if (state->diagnostics->error_count == errors_before) state->property_set[index] = true;
        return;
    }
    if (config_unimplemented_find(key) || strncmp(key, "listener.name.", 14) == 0) {
        config_diag(state, CONFIG_WARNING, "%s is a Kafka property this broker does not "
                    "implement yet; ignored", key);
        return;
    }
    const char *suggestion = config_suggest(key);
    if (suggestion != NULL) {
        config_diag(state, CONFIG_ERROR, "unknown property '%s' (did you mean %s?)", key,
                    suggestion);
    } else {
        config_diag(state, CONFIG_ERROR, "unknown property '%s'", key);
    }
}

/* ===== Java .properties syntax ===== */

enum config_line_result { CONFIG_LINE_OK, CONFIG_LINE_END, CONFIG_LINE_TOO_LONG, CONFIG_LINE_NUL };

struct config_reader {
    const char *text;
    u32 size;
    u32 position;
    u32 line; /* 1-based line of text[position]. */
};

/* Consumes one line terminator (\n, \r or \r\n) at the reader's position. */
static void config_reader_newline(struct config_reader *reader)
{
    ASSERT(reader->position < reader->size);
    char c = reader->text[reader->position++];
    ASSERT(c == '\n' || c == '\r');
    if (c == '\r' && reader->position < reader->size && reader->text[reader->position] == '\n') {
        reader->position++;
    }
    reader->line++;
}

static void config_reader_skip_space(struct config_reader *reader)
{
    while (reader->position < reader->size && config_is_space(reader->text[reader->position])) {
        reader->position++;
    }
}

/* Reads the next logical line, raw (escapes kept, continuations joined), skipping blank and
 * comment lines. *first_line is the line where it starts. Every loop consumes input, so the
 * loops are bounded by the text size. */
static enum config_line_result config_line_next(struct config_reader *reader, char *line,
                                                u32 line_size, u32 *length, u32 *first_line)
{
    *length = 0;
    for (;;) { /* Bounded: each pass consumes at least one byte or returns. */
        config_reader_skip_space(reader);
        if (reader->position >= reader->size) return CONFIG_LINE_END;
        char c = reader->text[reader->position];
        if (c == '\n' || c == '\r') { config_reader_newline(reader); continue; }
        if (c != '#' && c != '!') break;
        while (reader->position < reader->size && reader->text[reader->position] != '\n' &&
               reader->text[reader->position] != '\r') {
            reader->position++;
        }
    }
    *first_line = reader->line;
    while (reader->position < reader->size) {
        char c = reader->text[reader->position];
        if (c == '\0') return CONFIG_LINE_NUL;
        if (c != '\n' && c != '\r') {
            if (*length + 1 >= line_size) return CONFIG_LINE_TOO_LONG;
            line[(*length)++] = c;
            reader->position++;
            continue;
        }
        u32 backslashes = 0;
        while (backslashes < *length && line[*length - 1 - backslashes] == '\\') backslashes++;
        config_reader_newline(reader);
        if (backslashes % 2 == 0) break;
        (*length)--; /* The continuation backslash is not part of the value. */
        config_reader_skip_space(reader);
    }
    line[*length] = '\0';
    return CONFIG_LINE_OK;
}

static i32 config_hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes Java escapes in source[0, length) into out (UTF-8). False on a malformed \uXXXX, a
 * NUL character, or when the result does not fit. */
static bool config_unescape(const char *source, u32 length, char *out, u32 out_size)
{
    u32 written = 0;
    for (u32 i = 0; i < length; i++) {
        if (written + 4 >= out_size) return false;
        char c = source[i];
        if (c != '\\' || i + 1 == length) { out[written++] = c; continue; }
        c = source[++i];
        if (c != 'u') {
            out[written++] = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r'
                           : c == 'f' ? '\f' : c;
            continue;
        }
        u32 code = 0;
        for (u32 k = 0; k < 4; k++) {
            i32 digit = i + 1 < length ? config_hex_digit(source[i + 1]) : -1;
            if (digit < 0) return false;
            code = code * 16 + (u32)digit;
            i++;
        }
        if (code == 0) return false;
        if (code < 0x80) {
            out[written++] = (char)code;
        } else if (code < 0x800) {
            out[written++] = (char)(0xC0 | (code >> 6));
            out[written++] = (char)(0x80 | (code & 0x3F));
        } else {
            out[written++] = (char)(0xE0 | (code >> 12));
            out[written++] = (char)(0x80 | ((code >> 6) & 0x3F));
            out[written++] = (char)(0x80 | (code & 0x3F));
        }
    }
    out[written] = '\0';
    return true;
}

/* Splits a raw logical line into key and value as java.util.Properties does: the key ends at
 * the first unescaped '=', ':' or whitespace; whitespace and one separator follow. */
static void config_line_split(const char *line, u32 length, u32 *key_length, u32 *value_start)
{
    *key_length = 0;
    *value_start = length;
    bool separator = false, escaped = false;
    for (; *key_length < length; (*key_length)++) {
        char c = line[*key_length];
        if ((c == '=' || c == ':') && !escaped) {
            *value_start = *key_length + 1;
            separator = true;
            break;
        }
        if (config_is_space(c) && !escaped) { *value_start = *key_length + 1; break; }
        escaped = c == '\\' ? !escaped : false;
    }
    for (; *value_start < length; (*value_start)++) {
        char c = line[*value_start];
        if (config_is_space(c)) continue;
        if (!separator && (c == '=' || c == ':')) { separator = true; continue; }
        break;
    }
    ASSERT(*key_length <= *value_start || *value_start == length);
}

/* Decodes and applies one logical line. */
static void config_line_apply(struct config_state *state, const char *line, u32 length)
{
    char key_raw[CONFIG_LOGICAL_LINE_MAX];
    char value_raw[CONFIG_LOGICAL_LINE_MAX];
    u32 key_length = 0, value_start = 0;
    config_line_split(line, length, &key_length, &value_start);
    if (!config_unescape(line, key_length, key_raw, sizeof(key_raw)) ||
        !config_unescape(line + value_start, length - value_start, value_raw,
                         sizeof(value_raw))) {
        config_diag(state, CONFIG_ERROR, "malformed \\uXXXX escape or \\u0000 in this line");
        return;
    }
    char key[CONFIG_ITEM_MAX];
    if (!config_copy_trimmed(key_raw, strlen(key_raw), key, sizeof(key)) || key[0] == '\0') {
        config_diag(state, CONFIG_ERROR, "missing or overlong property name");
        return;
    }
    /* Trimming in place always fits: the result is never longer than the input. */
    bool fits = config_copy_trimmed(value_raw, strlen(value_raw), value_raw, sizeof(value_raw));
    ASSERT(fits);
    config_property_apply(state, key, value_raw);
}

/* ===== Cross-field checks (KafkaConfig's validation for a KRaft node) ===== */

static void config_check_at(struct config_state *state, u32 index)
{
    ASSERT(index < ARRAY_LEN(config_properties));
    state->line = state->property_line[index];
}

static bool config_check_required(struct config_state *state)
{
    static const struct { u32 index; const char *why; } required[] = {
        {CONFIG_INDEX_ROLES, "this broker runs in KRaft mode only"},
        {CONFIG_INDEX_NODE_ID, "every KRaft node needs an id"},
        {CONFIG_INDEX_VOTERS, "dynamic quorums (controller.quorum.bootstrap.servers) are not "
                              "implemented yet"},
        {CONFIG_INDEX_CONTROLLER_NAMES, "KRaft needs the name of the controller listener"},
    };
    bool ok = true;
    state->line = 0;
    for (u32 i = 0; i < ARRAY_LEN(required); i++) {
        if (state->property_set[required[i].index]) continue;
        if (state->property_line[required[i].index] != 0) { ok = false; continue; } /* Invalid. */
        config_diag(state, CONFIG_ERROR, "%s is required (%s)",
                    config_properties[required[i].index].name, required[i].why);
        ok = false;
    }
    return ok;
}

static bool config_voters_contain(const struct node_config *config, u32 node_id)
{
    for (u32 i = 0; i < config->voter_count; i++) {
        if (config->voters[i].id == node_id) return true;
    }
    return false;
}

static void config_check_roles(struct config_state *state)
{
    const struct node_config *config = state->config;
    bool voter = config_voters_contain(config, config->node_id);
    config_check_at(state, CONFIG_INDEX_NODE_ID);
    if ((config->roles & CONFIG_ROLE_CONTROLLER) && !voter) {
        config_diag(state, CONFIG_ERROR, "node.id %u is not in controller.quorum.voters: a "
                    "controller must be one of the voters", config->node_id);
    }
    if (config->roles == CONFIG_ROLE_BROKER && voter) {
        config_diag(state, CONFIG_ERROR, "node.id %u is in controller.quorum.voters but "
                    "process.roles is broker only: add controller or remove it from the voters",
                    config->node_id);
    }
    const struct config_listener *controller = config_controller_listener(config);
    config_check_at(state, CONFIG_INDEX_CONTROLLER_NAMES);
    if ((config->roles & CONFIG_ROLE_CONTROLLER) && controller == NULL) {
        config_diag(state, CONFIG_ERROR, "controller.listener.names: %s is not one of the "
                    "listeners", config->controller_listener_name);
    }
    if (config->roles == CONFIG_ROLE_BROKER && controller != NULL) {
        config_diag(state, CONFIG_ERROR, "controller.listener.names: %s must not be in "
                    "listeners when process.roles is broker only",
                    config->controller_listener_name);
    }
    config_check_at(state, CONFIG_INDEX_LISTENERS);
    if ((config->roles & CONFIG_ROLE_BROKER) && config_client_listener(config) == NULL) {
        config_diag(state, CONFIG_ERROR, "listeners: a broker needs a listener other than the "
                    "controller listener %s", config->controller_listener_name);
    }
    if (config->roles == CONFIG_ROLE_CONTROLLER && config->listener_count > 1) {
        config_diag(state, CONFIG_ERROR, "listeners: a controller-only node may only have the "
                    "controller listener %s", config->controller_listener_name);
    }
}

static bool config_host_wildcard(const char *endpoint)
{
    return endpoint[0] == ':' || strncmp(endpoint, "0.0.0.0:", 8) == 0 ||
           strncmp(endpoint, "[::]:", 5) == 0;
}

/* Two listeners may not bind the same port unless both name different, specific hosts. */
static void config_check_ports(struct config_state *state)
{
    const struct node_config *config = state->config;
    config_check_at(state, CONFIG_INDEX_LISTENERS);
    for (u32 i = 0; i < config->listener_count; i++) {
        for (u32 j = i + 1; j < config->listener_count; j++) {
            const char *a = config->listeners[i].endpoint, *b = config->listeners[j].endpoint;
            const char *port_a = strrchr(a, ':'), *port_b = strrchr(b, ':');
            ASSERT(port_a != NULL && port_b != NULL);
            if (strcmp(port_a, port_b) != 0 || strcmp(port_a, ":0") == 0) continue;
            bool same_host = (port_a - a == port_b - b) && strncmp(a, b, (size_t)(port_a - a)) == 0;
            if (!same_host && !config_host_wildcard(a) && !config_host_wildcard(b)) continue;
            config_diag(state, CONFIG_ERROR, "listeners: %s and %s use the same port %s",
                        config->listeners[i].name, config->listeners[j].name, port_a + 1);
        }
    }
}

/* Every listener needs a security protocol; only PLAINTEXT is spoken. */
static void config_check_protocols(struct config_state *state)
{
    const struct node_config *config = state->config;
    bool explicit_map = state->property_set[CONFIG_INDEX_PROTOCOL_MAP];
    config_check_at(state, explicit_map ? CONFIG_INDEX_PROTOCOL_MAP : CONFIG_INDEX_LISTENERS);
    for (u32 i = 0; i < config->listener_count; i++) {
        const char *name = config->listeners[i].name;
        bool found = false;
        for (u32 k = 0; k < state->protocol_count; k++) {
            found = found || strcmp(state->protocols[k].name, name) == 0;
        }
        bool is_protocol = false;
        for (u32 k = 0; !explicit_map && k < ARRAY_LEN(config_protocols); k++) {
            is_protocol = is_protocol || strcmp(config_protocols[k], name) == 0;
        }
        if (!explicit_map && is_protocol && strcmp(name, "PLAINTEXT") != 0) {
            config_diag(state, CONFIG_WARNING, "listener %s: security protocol %s is not "
                        "implemented yet; the listener speaks PLAINTEXT", name, name);
        }
        bool controller = strcmp(name, config->controller_listener_name) == 0;
        if (found || is_protocol || (controller && !explicit_map)) continue;
        config_diag(state, CONFIG_ERROR, "listener %s has no security protocol: add %s:PLAINTEXT "
                    "to listener.security.protocol.map", name, name);
    }
}

static void config_check_advertised(struct config_state *state)
{
    struct node_config *config = state->config;
    if (!state->property_set[CONFIG_INDEX_ADVERTISED]) {
        /* Kafka's default: advertise what we listen on. */
        memcpy(config->advertised, config->listeners,
               sizeof(config->listeners[0]) * config->listener_count);
        config->advertised_count = config->listener_count;
        return;
    }
    config_check_at(state, CONFIG_INDEX_ADVERTISED);
    for (u32 i = 0; i < config->advertised_count; i++) {
        const struct config_listener *advertised = &config->advertised[i];
        bool found = false;
        for (u32 k = 0; k < config->listener_count; k++) {
            found = found || strcmp(config->listeners[k].name, advertised->name) == 0;
        }
        if (!found) {
            config_diag(state, CONFIG_ERROR, "advertised.listeners: %s is not one of the "
                        "listeners", advertised->name);
        }
        if (config_host_wildcard(advertised->endpoint)) {
            config_diag(state, CONFIG_ERROR, "advertised.listeners: %s advertises the "
                        "wildcard address %s", advertised->name, advertised->endpoint);
        }
    }
}

static void config_check_timing(struct config_state *state)
{
    const struct node_config *config = state->config;
    state->line = 0;
    if (config->broker_heartbeat_interval_ms >= config->broker_session_timeout_ms) {
        config_diag(state, CONFIG_ERROR, "broker.heartbeat.interval.ms (%llu) must be less than "
                    "broker.session.timeout.ms (%llu)",
                    (unsigned long long)config->broker_heartbeat_interval_ms,
                    (unsigned long long)config->broker_session_timeout_ms);
    }
}

static void config_check(struct config_state *state)
{
    if (!config_check_required(state)) return;
    config_check_roles(state);
    config_check_ports(state);
    config_check_protocols(state);
    config_check_advertised(state);
    config_check_timing(state);
}

/* ===== Public entry points ===== */

void config_defaults(struct node_config *config)
{
    memset(config, 0, sizeof(*config));
    config->roles = 0; /* process.roles is required: KRaft mode only. */
    memcpy(config->listeners[0].name, "PLAINTEXT", sizeof("PLAINTEXT"));
    memcpy(config->listeners[0].endpoint, ":9092", sizeof(":9092"));
    config->listener_count = 1;
    memcpy(config->log_dir, "/tmp/kraft-combined-logs", sizeof("/tmp/kraft-combined-logs"));
    config->socket_request_max_bytes = 104857600;
    config->connections_max_idle_ms = 600000;
    config->num_partitions = 1;
    config->auto_create_topics_enable = true;
    config->log_segment_bytes = 1073741824;
    config->log_flush_interval_messages = (u64)INT64_MAX;
    config->producer_id_expiration_ms = 86400000;
    config->quorum_election_timeout_ms = 1000;
    config->quorum_election_backoff_max_ms = 1000;
    config->quorum_fetch_timeout_ms = 2000;
    config->quorum_request_timeout_ms = 2000;
    config->broker_heartbeat_interval_ms = 2000;
    config->broker_session_timeout_ms = 9000;
    config->unclean_leader_election_enable = false;
    config->default_replication_factor = 1;
    config->replica_lag_time_max_ms = 30000;
    config->min_insync_replicas = 1;
    config->replica_fetch_wait_max_ms = 500;
    config->replica_fetch_min_bytes = 1;
    config->replica_fetch_max_bytes = 1048576;
    config->replica_fetch_response_max_bytes = 10485760;
    config->replica_fetch_backoff_ms = 1000;
    config->auto_leader_rebalance_enable = true;
    config->leader_imbalance_check_interval_seconds = 300;
    config->metadata_snapshot_bytes = 20971520;
    config->log_retention_check_interval_ms = 300000;
    config->offsets_topic_num_partitions = 50;
    config->offsets_topic_replication_factor = 3;
    config->offsets_topic_segment_bytes = 104857600;
    config->offsets_retention_minutes = 10080;
    config->offsets_commit_timeout_ms = 5000;
    config->offset_metadata_max_bytes = 4096;
    config->group_initial_rebalance_delay_ms = 3000;
    config->group_min_session_timeout_ms = 6000;
    config->group_max_session_timeout_ms = 1800000;
    config->group_max_size = CONFIG_INT_MAX;
}

static void config_text_parse(struct config_state *state, const char *text, u32 text_size)
{
    struct config_reader reader = {.text = text, .size = text_size, .position = 0, .line = 1};
    char line[CONFIG_LOGICAL_LINE_MAX];
    for (;;) { /* Bounded: each logical line consumes input. */
        u32 length = 0, first_line = 0;
        enum config_line_result result =
            config_line_next(&reader, line, sizeof(line), &length, &first_line);
        if (result == CONFIG_LINE_END) return;
        state->line = first_line;
        if (result == CONFIG_LINE_OK) {
            config_line_apply(state, line, length);
            continue;
        }
        if (result == CONFIG_LINE_NUL) {
            config_diag(state, CONFIG_ERROR, "NUL byte in the properties text");
        } else {
            config_diag(state, CONFIG_ERROR, "line longer than %u bytes", CONFIG_LOGICAL_LINE_MAX);
        }
        return; /* The rest of the text cannot be read reliably. */
    }
}

bool config_parse(const char *text, u32 text_size, const char *const *overrides,
                  u32 override_count, struct node_config *config,
                  struct config_diagnostics *diagnostics)
{
    ASSERT(text != NULL || text_size == 0);
    ASSERT(override_count == 0 || overrides != NULL);
    struct config_state state;
    memset(&state, 0, sizeof(state));
    memset(diagnostics, 0, sizeof(*diagnostics));
    config_defaults(config);
    state.config = config;
    state.diagnostics = diagnostics;
    if (text_size > 0) config_text_parse(&state, text, text_size);
    for (u32 i = 0; i < override_count; i++) {
        state.line = 0;
        const char *equals = strchr(overrides[i], '=');
        char key[CONFIG_ITEM_MAX], value[CONFIG_LOGICAL_LINE_MAX];
        if (equals == NULL ||
            !config_copy_trimmed(overrides[i], (size_t)(equals - overrides[i]), key,
                                 sizeof(key)) ||
            !config_copy_trimmed(equals + 1, strlen(equals + 1), value, sizeof(value)) ||
            key[0] == '\0') {
            config_diag(&state, CONFIG_ERROR, "override '%s' is not key=value", overrides[i]);
            continue;
        }
        config_property_apply(&state, key, value);
    }
    if (diagnostics->error_count == 0) config_check(&state);
    ASSERT(diagnostics->count <= CONFIG_DIAGNOSTICS_MAX);
    return diagnostics->error_count == 0;
}

const struct config_listener *config_controller_listener(const struct node_config *config)
{
    ASSERT(config->listener_count <= CONFIG_LISTENERS_MAX);
    if (config->controller_listener_name[0] == '\0') return NULL;
    for (u32 i = 0; i < config->listener_count; i++) {
        if (strcmp(config->listeners[i].name, config->controller_listener_name) == 0) {
            return &config->listeners[i];
        }
    }
    return NULL;
}

const struct config_listener *config_client_listener(const struct node_config *config)
{
    ASSERT(config->listener_count <= CONFIG_LISTENERS_MAX);
    for (u32 i = 0; i < config->listener_count; i++) {
        if (strcmp(config->listeners[i].name, config->controller_listener_name) != 0) {
            return &config->listeners[i];
        }
    }
    return NULL;
}
