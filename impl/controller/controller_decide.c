/* controller_decide.c: the controller's decisions (see controller_decide.h for the rules).
 *
 * Structure: small helpers over broker id lists; `struct ctl`, one decision being built (the
 * records so far, and the broker state changes the decision makes before its elections, which
 * the image does not show yet); the partition settler (ISR filtering, reassignment
 * completion, leader election) that every decision touching partitions goes through; the
 * rack-aware placer; then one function per request or event, and the error responses.
 *
 * Invariants: records are emitted only when they change something and only when they fit
 * (a topic's records all or none); a decision never emits two records for one partition
 * except where the request names it twice; every record is valid against the image as the
 * earlier records of the same decision leave it (tests apply them to check). */
#include "controller_decide.h"

#include "../protocol/errors_generated.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A decision too large for one entry: the client retries (Kafka's answer to too many
 * mutations at once), and the controller keeps working through what fitted. */
#define CTL_ERROR_NO_ROOM KAFKA_ERROR_THROTTLING_QUOTA_EXCEEDED
#define CTL_RESOURCE_TOPIC 2
#define CTL_ELECTION_PREFERRED 0
#define CTL_ELECTION_UNCLEAN 1
#define CTL_OP_SET 0
#define CTL_OP_DELETE 1
#define CTL_OP_APPEND 2
#define CTL_OP_SUBTRACT 3

void controller_decision_init(struct controller_decision *decision,
                              struct metadata_record *records)
{
    ASSERT(records != NULL);
    memset(decision, 0, sizeof(*decision));
    decision->records = records;
}

/* ===== Broker id lists ===== */

static bool ids_equal(const struct metadata_ids *a, const struct metadata_ids *b)
{
    if (a->count != b->count) return false;
    for (u32 i = 0; i < a->count; i++) {
        if (a->ids[i] != b->ids[i]) return false;
    }
    return true;
}

static void ids_add(struct metadata_ids *ids, i32 id)
{
    ASSERT(ids->count < METADATA_REPLICAS_MAX);
    ids->ids[ids->count++] = id;
}

/* The members of a that are not in b, in a's order. */
static struct metadata_ids ids_minus(const struct metadata_ids *a, const struct metadata_ids *b)
{
    struct metadata_ids out = {.count = 0};
    for (u32 i = 0; i < a->count; i++) {
        if (!metadata_ids_contains(b, a->ids[i])) ids_add(&out, a->ids[i]);
    }
    return out;
}

static struct metadata_ids ids_intersect(const struct metadata_ids *a,
                                         const struct metadata_ids *b)
{
    struct metadata_ids out = {.count = 0};
    for (u32 i = 0; i < a->count; i++) {
        if (metadata_ids_contains(b, a->ids[i])) ids_add(&out, a->ids[i]);
    }
    return out;
}

static bool ids_subset(const struct metadata_ids *a, const struct metadata_ids *b)
{
    for (u32 i = 0; i < a->count; i++) {
        if (!metadata_ids_contains(b, a->ids[i])) return false;
    }
    return true;
}

/* Copies a request's broker list; false when it is empty, too long or repeats an id. */
static bool ids_from_request(const i32 *items, i32 count, struct metadata_ids *out)
{
    out->count = 0;
    if (count <= 0 || (u32)count > METADATA_REPLICAS_MAX) return false;
    for (i32 i = 0; i < count; i++) {
        if (items[i] < 0 || metadata_ids_contains(out, items[i])) return false;
        ids_add(out, items[i]);
    }
    return true;
}

static i32 *ids_to_array(struct proto_arena *arena, const struct metadata_ids *ids, bool *full)
{
    if (ids->count == 0) return NULL;
    i32 *items = proto_arena_alloc(arena, ids->count * sizeof(i32));
    if (items == NULL) {
        *full = true;
        return NULL;
    }
    memcpy(items, ids->ids, ids->count * sizeof(i32));
    return items;
}

static bool uuid_equal(const struct metadata_uuid *a, const struct proto_uuid *b)
{
    return memcmp(a->bytes, b->bytes, 16) == 0;
}

static struct proto_uuid uuid_out(const struct metadata_uuid *id)
{
    struct proto_uuid out;
    memcpy(out.bytes, id->bytes, 16);
    return out;
}

static bool name_is(struct proto_string name, const char *text)
{
    return name.size >= 0 && proto_string_equal_cstr(name, text);
}

/* ===== One decision being built ===== */

struct ctl {
    const struct controller_decide_input *in;
    const struct metadata_image *image;
    struct controller_decision *out;
    /* Brokers whose state this decision changes before it elects leaders. */
    i32 fencing, unfencing, shutting_down, leaving;
    u32 reserve; /* Records kept free for what the decision emits last. */
    bool full;   /* The response arena ran out. */
};

static void ctl_init(struct ctl *c, const struct controller_decide_input *in,
                     struct controller_decision *out)
{
    ASSERT(in->config != NULL && in->image != NULL);
    ASSERT(out->records != NULL && out->count <= CONTROLLER_RECORDS_MAX);
    *c = (struct ctl){.in = in, .image = in->image, .out = out, .fencing = -1,
                      .unfencing = -1, .shutting_down = -1, .leaving = -1};
}

static bool ctl_room(const struct ctl *c, u32 records)
{
    return c->out->count + records + c->reserve <= CONTROLLER_RECORDS_MAX;
}

static struct metadata_record *ctl_emit(struct ctl *c, enum metadata_record_type type)
{
    ASSERT(c->out->count < CONTROLLER_RECORDS_MAX);
    struct metadata_record *record = &c->out->records[c->out->count++];
    memset(record, 0, sizeof(*record));
    record->type = type;
    return record;
}

static void *ctl_alloc(struct ctl *c, u64 count, u64 size)
{
    if (count == 0) count = 1;
    void *memory = proto_arena_alloc(c->in->arena, count * size);
    if (memory == NULL) {
        c->full = true;
        return NULL;
    }
    memset(memory, 0, count * size);
    return memory;
}

static bool ctl_eligible(const struct ctl *c, i32 id)
{
    if (id < 0 || id == c->fencing || id == c->shutting_down || id == c->leaving) return false;
    const struct metadata_broker *broker = metadata_broker_find(c->image, id);
    if (broker == NULL || broker->in_controlled_shutdown) return false;
    return !broker->fenced || id == c->unfencing;
}

bool controller_broker_eligible(const struct metadata_image *image, i32 id)
{
    const struct metadata_broker *broker = metadata_broker_find(image, id);
    return broker != NULL && !broker->fenced && !broker->in_controlled_shutdown;
}

bool controller_broker_leads(const struct metadata_image *image, i32 id)
{
    for (u32 t = 0; t < image->topic_count; t++) {
        const struct metadata_topic *topic = &image->topics[t];
        for (u32 p = 0; p < topic->partition_count; p++) {
            if (topic->partitions[p].leader == id) return true;
        }
    }
    return false;
}

static bool ctl_unclean_allowed(const struct ctl *c, const struct metadata_topic *topic)
{
    const char *value = metadata_topic_config(topic, "unclean.leader.election.enable");
    if (value != NULL) return strcmp(value, "true") == 0;
    return c->in->config->unclean_leader_election_enable;
}

/* ===== Settling a partition ===== */

enum ctl_election {
    CTL_ELECT_KEEP,      /* Keep a leader that may still lead; elect only when it may not. */
    CTL_ELECT_PREFERRED, /* Move to the first replica when it may lead and is in sync. */
    CTL_ELECT_UNCLEAN,   /* As KEEP, allowing an out-of-sync leader whatever the config. */
};

struct ctl_target {
    struct metadata_ids replicas, isr, adding, removing;
    i32 leader;
};

static struct ctl_target ctl_target_of(const struct metadata_partition *partition)
{
    return (struct ctl_target){partition->replicas, partition->isr, partition->adding,
                               partition->removing, partition->leader};
}

/* A reassignment completes once every joining replica is in sync (and some in-sync replica
 * stays). */
static void ctl_complete_reassignment(struct ctl_target *t)
{
    if ((t->adding.count == 0 && t->removing.count == 0) || !ids_subset(&t->adding, &t->isr)) {
        return;
    }
    struct metadata_ids target = ids_minus(&t->replicas, &t->removing);
    struct metadata_ids isr = ids_minus(&t->isr, &t->removing);
    if (target.count == 0 || isr.count == 0) return;
    t->replicas = target;
    t->isr = isr;
    t->adding.count = 0;
    t->removing.count = 0;
}

static void ctl_settle(const struct ctl *c, const struct metadata_topic *topic,
                       struct ctl_target *t, enum ctl_election mode)
{
    /* The ISR keeps live replicas; its last member stays even when it cannot lead (KIP-841:
     * it holds the data an unclean election would lose). */
    struct metadata_ids in_replicas = ids_intersect(&t->isr, &t->replicas);
    struct metadata_ids live = {.count = 0};
    for (u32 i = 0; i < in_replicas.count; i++) {
        if (ctl_eligible(c, in_replicas.ids[i])) ids_add(&live, in_replicas.ids[i]);
    }
    if (live.count > 0) {
        t->isr = live;
    } else if (in_replicas.count > 0) {
        t->isr = in_replicas;
    }
    ctl_complete_reassignment(t);
    i32 preferred = t->replicas.count > 0 ? t->replicas.ids[0] : METADATA_NO_LEADER;
    if (mode == CTL_ELECT_PREFERRED && ctl_eligible(c, preferred) &&
        metadata_ids_contains(&t->isr, preferred)) {
        t->leader = preferred;
        return;
    }
#if defined(CONTROLLER_MUTATION) && CONTROLLER_MUTATION == 1
    /* A deliberately broken rule (tests/sim/mutations.sh): a fenced leader keeps leading. */
    if (t->leader >= 0 && metadata_ids_contains(&t->isr, t->leader)) return;
#endif
    if (t->leader >= 0 && ctl_eligible(c, t->leader) &&
        metadata_ids_contains(&t->isr, t->leader) &&
        metadata_ids_contains(&t->replicas, t->leader)) {
        return;
    }
    for (u32 i = 0; i < t->replicas.count; i++) {
        i32 id = t->replicas.ids[i];
        if (metadata_ids_contains(&t->isr, id) && ctl_eligible(c, id)) {
            t->leader = id;
            return;
        }
    }
    if (mode == CTL_ELECT_UNCLEAN || ctl_unclean_allowed(c, topic)) {
        for (u32 i = 0; i < t->replicas.count; i++) {
            i32 id = t->replicas.ids[i];
            if (ctl_eligible(c, id)) {
                t->leader = id;
                t->isr.count = 0;
                ids_add(&t->isr, id);
                /* The new ISR may complete a reassignment; the leader is never among the
                 * removed then (it would empty the ISR, which completion refuses). */
                ctl_complete_reassignment(t);
                ASSERT(metadata_ids_contains(&t->replicas, id));
                return;
            }
        }
    }
    t->leader = METADATA_NO_LEADER;
}

enum ctl_change { CTL_UNCHANGED, CTL_CHANGED, CTL_NO_ROOM };

static enum ctl_change ctl_emit_change(struct ctl *c, const struct metadata_topic *topic,
                                       u32 index, const struct ctl_target *t)
{
    ASSERT(index < topic->partition_count);
    const struct metadata_partition *p = &topic->partitions[index];
    bool leader = t->leader != p->leader;
    bool isr = !ids_equal(&t->isr, &p->isr);
    bool replicas = !ids_equal(&t->replicas, &p->replicas);
    bool adding = !ids_equal(&t->adding, &p->adding);
    bool removing = !ids_equal(&t->removing, &p->removing);
    if (!leader && !isr && !replicas && !adding && !removing) return CTL_UNCHANGED;
    if (!ctl_room(c, 1)) return CTL_NO_ROOM;
    ASSERT(t->replicas.count > 0);
    ASSERT(t->leader == METADATA_NO_LEADER || metadata_ids_contains(&t->isr, t->leader));
    struct metadata_partition_change *change =
        &ctl_emit(c, METADATA_PARTITION_CHANGE)->as.partition_change;
    change->topic_id = topic->id;
    change->partition_id = (i32)index;
    change->leader = leader ? t->leader : METADATA_LEADER_UNCHANGED;
    change->isr_set = isr;
    change->isr = t->isr;
    change->replicas_set = replicas;
    change->replicas = t->replicas;
    change->adding_set = adding;
    change->adding = t->adding;
    change->removing_set = removing;
    change->removing = t->removing;
    return CTL_CHANGED;
}

/* Settles every partition (topics by name, partitions by index) while records fit. */
static void ctl_settle_all(struct ctl *c, enum ctl_election mode)
{
    for (u32 i = 0; i < c->image->topic_count; i++) {
        const struct metadata_topic *topic = &c->image->topics[i];
        for (u32 p = 0; p < topic->partition_count; p++) {
            struct ctl_target t = ctl_target_of(&topic->partitions[p]);
            ctl_settle(c, topic, &t, mode);
            if (ctl_emit_change(c, topic, p, &t) == CTL_NO_ROOM) return;
        }
    }
}

/* ===== Placement ===== */

struct ctl_placer {
    i32 ids[METADATA_BROKERS_MAX]; /* Rack-alternated: one broker of each rack in turn. */
    const char *racks[METADATA_BROKERS_MAX];
    u32 count;
};

static int ctl_rack_compare(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Lists the eligible brokers rack by rack in turn (racks by name, brokers by id), so that
 * consecutive brokers sit on different racks while racks remain. */
static void ctl_placer_init(const struct metadata_image *image, struct ctl_placer *placer)
{
    const char *racks[METADATA_BROKERS_MAX];
    u32 rack_count = 0;
    for (u32 i = 0; i < image->broker_count; i++) {
        const struct metadata_broker *broker = &image->brokers[i];
        if (!controller_broker_eligible(image, broker->id)) continue;
        bool known = false;
        for (u32 r = 0; r < rack_count && !known; r++) known = !strcmp(racks[r], broker->rack);
        if (!known) racks[rack_count++] = broker->rack;
    }
    qsort(racks, rack_count, sizeof(racks[0]), ctl_rack_compare);
    placer->count = 0;
    for (u32 round = 0;; round++) {
        u32 added = 0;
        for (u32 r = 0; r < rack_count; r++) {
            u32 seen = 0;
            for (u32 i = 0; i < image->broker_count; i++) {
                const struct metadata_broker *broker = &image->brokers[i];
                if (!controller_broker_eligible(image, broker->id)) continue;
                if (strcmp(broker->rack, racks[r]) != 0) continue;
                if (seen++ != round) continue;
                placer->racks[placer->count] = broker->rack;
                placer->ids[placer->count++] = broker->id;
                added++;
            }
        }
        if (added == 0) break;
    }
}

static bool ctl_placer_rack_used(const struct ctl_placer *placer, const struct metadata_ids *ids,
                                 const char *rack)
{
    for (u32 i = 0; i < ids->count; i++) {
        for (u32 b = 0; b < placer->count; b++) {
            if (placer->ids[b] == ids->ids[i] && !strcmp(placer->racks[b], rack)) return true;
        }
    }
    return false;
}

static void ctl_place_partition(const struct ctl_placer *placer, u32 replication, u32 position,
                                u32 shift, struct metadata_ids *out)
{
    u32 n = placer->count;
    out->count = 0;
    ids_add(out, placer->ids[position % n]);
    while (out->count < replication) {
        i32 chosen = -1;
        /* First pass: a rack not used yet; second pass: any broker not chosen yet. */
        for (u32 pass = 0; pass < 2 && chosen < 0; pass++) {
            for (u32 k = 0; k < n && chosen < 0; k++) {
                u32 b = (position + 1 + shift + k) % n;
                if (metadata_ids_contains(out, placer->ids[b])) continue;
                if (pass == 0 && ctl_placer_rack_used(placer, out, placer->racks[b])) continue;
                chosen = placer->ids[b];
            }
        }
        ASSERT(chosen >= 0);
        ids_add(out, chosen);
    }
}

bool controller_place(const struct metadata_image *image, u32 partitions, u32 replication,
                      u32 start, struct metadata_ids *out)
{
    ASSERT(replication <= METADATA_REPLICAS_MAX);
    struct ctl_placer placer;
    ctl_placer_init(image, &placer);
    u32 n = placer.count;
    if (replication == 0 || n < replication) return false;
    for (u32 p = 0; p < partitions; p++) {
        /* Leaders stripe over the list; followers shift once per full stripe so that the
         * same brokers do not always follow the same leader. */
        u32 position = (start % n) + p;
        u32 shift = n > 1 ? ((start / n) + p / n) % (n - 1) : 0;
        ctl_place_partition(&placer, replication, position, shift, &out[p]);
    }
    return true;
}

/* ===== Topic configs ===== */

enum ctl_config_type { CTL_CONFIG_LIST, CTL_CONFIG_INT, CTL_CONFIG_LONG, CTL_CONFIG_BOOLEAN };

struct ctl_config_info {
    const char *name;
    enum ctl_config_type type;
    i64 min;
    const char *default_value;
};

/* The topic configs the broker's logs know (impl/broker/broker_configs.c), and the one the
 * controller itself reads. */
static const struct ctl_config_info ctl_configs[] = {
    {"cleanup.policy", CTL_CONFIG_LIST, 0, "delete"},
    {"delete.retention.ms", CTL_CONFIG_LONG, 0, "86400000"},
    {"flush.messages", CTL_CONFIG_LONG, 1, "9223372036854775807"},
    {"flush.ms", CTL_CONFIG_LONG, 0, "9223372036854775807"},
    {"max.message.bytes", CTL_CONFIG_INT, 0, "1048588"},
    {"min.insync.replicas", CTL_CONFIG_INT, 1, "1"}, /* Read by the leader (replication). */
    {"retention.bytes", CTL_CONFIG_LONG, -1, "-1"},
    {"retention.ms", CTL_CONFIG_LONG, -1, "604800000"},
    {"segment.bytes", CTL_CONFIG_INT, 14, "1073741824"},
    {"segment.ms", CTL_CONFIG_LONG, 1, "604800000"},
    {"unclean.leader.election.enable", CTL_CONFIG_BOOLEAN, 0, "false"},
};

static const struct ctl_config_info *ctl_config_find(struct proto_string name)
{
    for (u32 i = 0; i < ARRAY_LEN(ctl_configs); i++) {
        if (name_is(name, ctl_configs[i].name)) return &ctl_configs[i];
    }
    return NULL;
}

#define CTL_POLICY_DELETE 1u
#define CTL_POLICY_COMPACT 2u

/* cleanup.policy as bits; 0 when it is not a valid non-empty list. */
static u32 ctl_policy_parse(const char *text, u32 size)
{
    u32 bits = 0, start = 0;
    for (u32 i = 0; i <= size; i++) {
        if (i < size && text[i] != ',') continue;
        u32 length = i - start;
        const char *word = text + start;
        while (length > 0 && *word == ' ') word++, length--;
        while (length > 0 && word[length - 1] == ' ') length--;
        if (length == 6 && !memcmp(word, "delete", 6)) {
            bits |= CTL_POLICY_DELETE;
        } else if (length == 7 && !memcmp(word, "compact", 7)) {
            bits |= CTL_POLICY_COMPACT;
        } else {
            return 0;
        }
        start = i + 1;
    }
    return bits;
}

static void ctl_policy_format(u32 bits, char *out, u32 size)
{
    snprintf(out, size, "%s%s%s", (bits & CTL_POLICY_COMPACT) ? "compact" : "",
             bits == (CTL_POLICY_COMPACT | CTL_POLICY_DELETE) ? "," : "",
             (bits & CTL_POLICY_DELETE) ? "delete" : "");
}

/* Validates value for info and writes its canonical text; false when it is not valid. */
static bool ctl_config_value(const struct ctl_config_info *info, struct proto_string value,
                             char *out, u32 size)
{
    char text[METADATA_CONFIG_VALUE_MAX];
    if (value.size <= 0 || (u32)value.size >= sizeof(text)) return false;
    memcpy(text, value.data, (u32)value.size);
    text[value.size] = '\0';
    if (info->type == CTL_CONFIG_LIST) {
        u32 bits = ctl_policy_parse(text, (u32)value.size);
        if (bits == 0) return false;
        ctl_policy_format(bits, out, size);
        return true;
    }
    if (info->type == CTL_CONFIG_BOOLEAN) {
        if (strcasecmp(text, "true") != 0 && strcasecmp(text, "false") != 0) return false;
        snprintf(out, size, "%s", strcasecmp(text, "true") == 0 ? "true" : "false");
        return true;
    }
    char *end = NULL;
    errno = 0;
    long long parsed = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || parsed < info->min) return false;
    if (info->type == CTL_CONFIG_INT && parsed > INT32_MAX) return false;
    snprintf(out, size, "%lld", parsed);
    return true;
}

/* A topic's overrides as a small editable table. */
struct ctl_overrides {
    struct metadata_config items[METADATA_CONFIGS_MAX];
    bool set[METADATA_CONFIGS_MAX];
    u32 count;
};

static i32 ctl_overrides_find(const struct ctl_overrides *o, const char *name)
{
    for (u32 i = 0; i < o->count; i++) {
        if (!strcmp(o->items[i].name, name)) return (i32)i;
    }
    return -1;
}

static bool ctl_overrides_put(struct ctl_overrides *o, const char *name, const char *value)
{
    i32 at = ctl_overrides_find(o, name);
    if (at < 0) {
        if (o->count >= METADATA_CONFIGS_MAX) return false;
        at = (i32)o->count++;
        snprintf(o->items[at].name, sizeof(o->items[at].name), "%s", name);
    }
    snprintf(o->items[at].value, sizeof(o->items[at].value), "%s", value);
    o->set[at] = true;
    return true;
}

static bool ctl_emit_config(struct ctl *c, const char *topic, const char *name,
                            const char *value)
{
    if (!ctl_room(c, 1)) return false;
    struct metadata_config_record *record = &ctl_emit(c, METADATA_CONFIG)->as.config;
    record->resource_type = METADATA_RESOURCE_TOPIC;
    snprintf(record->resource_name, sizeof(record->resource_name), "%s", topic);
    snprintf(record->name, sizeof(record->name), "%s", name);
    record->value_null = value == NULL;
    if (value != NULL) snprintf(record->value, sizeof(record->value), "%s", value);
    return true;
}

/* ===== Topic names and ids ===== */

bool controller_topic_name_valid(struct proto_string name)
{
    if (name.size <= 0 || (u32)name.size > METADATA_TOPIC_NAME_MAX) return false;
    if (name_is(name, ".") || name_is(name, "..")) return false;
    for (i32 i = 0; i < name.size; i++) {
        char ch = name.data[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        if (!ok) return false;
    }
    return true;
}

/* Kafka refuses names that differ only in '.' versus '_' (metric names would collide). */
static bool ctl_names_collide(const char *a, struct proto_string b)
{
    if (strlen(a) != (size_t)b.size) return false;
    for (i32 i = 0; i < b.size; i++) {
        char x = a[i] == '.' ? '_' : a[i];
        char y = b.data[i] == '.' ? '_' : b.data[i];
        if (x != y) return false;
    }
    return true;
}

static const struct metadata_topic *ctl_topic(const struct ctl *c, struct proto_string name)
{
    if (name.size <= 0) return NULL;
    return metadata_topic_find(c->image, name.data, (u32)name.size);
}

static u64 ctl_mix(u64 x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static bool ctl_topic_id_taken(const struct ctl *c, const struct metadata_uuid *id)
{
    static const struct metadata_uuid reserved_metadata_topic = {{[15] = 1}};
    static const struct metadata_uuid zero = {{0}};
    if (!memcmp(id, &zero, 16) || !memcmp(id, &reserved_metadata_topic, 16)) return true;
    if (metadata_topic_find_id(c->image, id) != NULL) return true;
    for (u32 i = 0; i < c->out->count; i++) {
        const struct metadata_record *record = &c->out->records[i];
        if (record->type == METADATA_TOPIC && !memcmp(&record->as.topic.topic_id, id, 16)) {
            return true;
        }
    }
    return false;
}

static struct metadata_uuid ctl_topic_id(const struct ctl *c, u64 salt)
{
    struct metadata_uuid id;
    for (u64 attempt = 0;; attempt++) {
        u64 high = ctl_mix(c->in->seed ^ ctl_mix(salt * 2 + attempt * 0x100000001b3ull));
        u64 low = ctl_mix(high ^ 0x5851f42d4c957f2dull);
        store_u64_be(id.bytes, high);
        store_u64_be(id.bytes + 8, low);
        id.bytes[6] = (u8)((id.bytes[6] & 0x0f) | 0x40); /* A version-4 uuid, as Kafka's. */
        id.bytes[8] = (u8)((id.bytes[8] & 0x3f) | 0x80);
        if (!ctl_topic_id_taken(c, &id)) return id;
    }
}

static u32 ctl_start_of(const struct metadata_uuid *id) { return (u32)load_u64_be(id->bytes); }

/* Appends a new partition's record: ISR = the eligible replicas, leader = the first of them. */
static void ctl_emit_new_partition(struct ctl *c, const struct metadata_uuid *topic_id,
                                   u32 index, const struct metadata_ids *replicas)
{
    struct metadata_partition_record *record = &ctl_emit(c, METADATA_PARTITION)->as.partition;
    record->topic_id = *topic_id;
    record->partition_id = (i32)index;
    record->replicas = *replicas;
    for (u32 i = 0; i < replicas->count; i++) {
        if (ctl_eligible(c, replicas->ids[i])) ids_add(&record->isr, replicas->ids[i]);
    }
    ASSERT(record->isr.count > 0);
    record->leader = record->isr.ids[0];
}

/* A manual assignment is usable when every broker is registered and one can lead. */
static i16 ctl_manual_assignment(const struct ctl *c, const i32 *items, i32 count,
                                 struct metadata_ids *out, struct proto_string *message)
{
    if (!ids_from_request(items, count, out)) {
        *message = proto_string_of("a replica list must name 1 to 8 distinct brokers");
        return KAFKA_ERROR_INVALID_REPLICA_ASSIGNMENT;
    }
    bool can_lead = false;
    for (u32 i = 0; i < out->count; i++) {
        if (metadata_broker_find(c->image, out->ids[i]) == NULL) {
            *message = proto_string_of("the assignment names a broker that is not registered");
            return KAFKA_ERROR_INVALID_REPLICA_ASSIGNMENT;
        }
        can_lead = can_lead || ctl_eligible(c, out->ids[i]);
    }
    if (!can_lead) {
        *message = proto_string_of("every assigned broker is fenced or shutting down");
        return KAFKA_ERROR_INVALID_REPLICA_ASSIGNMENT;
    }
    return KAFKA_ERROR_NONE;
}

/* ===== BrokerRegistration, BrokerHeartbeat, UnregisterBroker, session expiry ===== */

bool controller_decide_register(const struct controller_decide_input *in,
                                struct controller_decision *out,
                                const struct kafka_broker_registration_request *request,
                                struct kafka_broker_registration_response *response)
{
    struct ctl c;
    ctl_init(&c, in, out);
    kafka_broker_registration_response_init(response);
    i32 id = request->BrokerId;
    const struct metadata_broker *existing = metadata_broker_find(c.image, id);
    if (existing != NULL && uuid_equal(&existing->incarnation_id, &request->IncarnationId)) {
        response->BrokerEpoch = existing->epoch; /* A retry of the same registration. */
        return true;
    }
    const struct kafka_broker_registration_request_listener *listener =
        request->Listeners.count > 0 ? &request->Listeners.items[0] : NULL;
    bool valid = id >= 0 && (existing != NULL || c.image->broker_count < METADATA_BROKERS_MAX) &&
                 request->Rack.size < (i32)METADATA_RACK_MAX &&
                 (listener == NULL || (listener->Host.size >= 0 &&
                                       listener->Host.size < (i32)METADATA_HOST_MAX));
    if (!valid || !ctl_room(&c, 1)) {
        response->ErrorCode = KAFKA_ERROR_INVALID_REGISTRATION;
        return true;
    }
    struct metadata_register_broker *record =
        &ctl_emit(&c, METADATA_REGISTER_BROKER)->as.register_broker;
    record->broker_id = id;
    record->broker_epoch = -1;
    memcpy(record->incarnation_id.bytes, request->IncarnationId.bytes, 16);
    if (request->Rack.size > 0) memcpy(record->rack, request->Rack.data, (u32)request->Rack.size);
    if (listener != NULL) {
        if (listener->Host.size > 0) {
            memcpy(record->host, listener->Host.data, (u32)listener->Host.size);
        }
        record->port = listener->Port;
    }
    record->fenced = true;
    /* A new incarnation starts fenced: whatever the old one led moves now. */
    c.fencing = id;
    ctl_settle_all(&c, CTL_ELECT_KEEP);
    out->epoch_is_offset = true;
    return true;
}

static void ctl_emit_broker_ref(struct ctl *c, enum metadata_record_type type,
                                const struct metadata_broker *broker)
{
    struct metadata_record *record = ctl_emit(c, type);
    struct metadata_broker_ref ref = {broker->id, broker->epoch};
    if (type == METADATA_FENCE_BROKER) record->as.fence_broker = ref;
    if (type == METADATA_UNFENCE_BROKER) record->as.unfence_broker = ref;
    if (type == METADATA_UNREGISTER_BROKER) record->as.unregister_broker = ref;
}

static void ctl_fence(struct ctl *c, const struct metadata_broker *broker)
{
    ASSERT(!broker->fenced);
    ctl_emit_broker_ref(c, METADATA_FENCE_BROKER, broker);
    c->fencing = broker->id;
    ctl_settle_all(c, CTL_ELECT_KEEP);
}

bool controller_decide_heartbeat(const struct controller_decide_input *in,
                                 struct controller_decision *out,
                                 const struct kafka_broker_heartbeat_request *request,
                                 struct kafka_broker_heartbeat_response *response)
{
    struct ctl c;
    ctl_init(&c, in, out);
    kafka_broker_heartbeat_response_init(response);
    const struct metadata_broker *broker = metadata_broker_find(c.image, request->BrokerId);
    if (broker == NULL) {
        response->ErrorCode = KAFKA_ERROR_BROKER_ID_NOT_REGISTERED;
        return true;
    }
    if (broker->epoch != request->BrokerEpoch) {
        response->ErrorCode = KAFKA_ERROR_STALE_BROKER_EPOCH;
        return true;
    }
    /* Caught up: it has applied its own registration, so it knows every decision made
     * before it could be given anything to lead. */
    bool caught_up = request->CurrentMetadataOffset >= broker->epoch;
    response->IsCaughtUp = caught_up;
    if (broker->fenced) {
        response->IsFenced = true;
        if (request->WantShutDown || broker->in_controlled_shutdown) {
            response->ShouldShutDown = request->WantShutDown;
        } else if (!request->WantFence && caught_up) {
            ctl_emit_broker_ref(&c, METADATA_UNFENCE_BROKER, broker);
            c.unfencing = broker->id;
            ctl_settle_all(&c, CTL_ELECT_KEEP);
            response->IsFenced = false;
        }
        return true;
    }
    response->IsFenced = false;
    if (broker->in_controlled_shutdown) {
        if (controller_broker_leads(c.image, broker->id)) {
            c.shutting_down = broker->id; /* What an earlier full decision left over. */
            ctl_settle_all(&c, CTL_ELECT_KEEP);
        } else {
            /* Once it has seen the entries that took its leaderships away. */
            response->ShouldShutDown = request->CurrentMetadataOffset >= c.image->applied_offset;
        }
        return true;
    }
    if (request->WantFence) {
        ctl_fence(&c, broker);
        response->IsFenced = true;
    } else if (request->WantShutDown) {
        struct metadata_broker_registration_change *change =
            &ctl_emit(&c, METADATA_BROKER_REGISTRATION_CHANGE)->as.registration_change;
        *change = (struct metadata_broker_registration_change){broker->id, broker->epoch, -1, 1};
        c.shutting_down = broker->id;
        ctl_settle_all(&c, CTL_ELECT_KEEP);
    }
    return true;
}

i16 controller_decide_unregister(const struct controller_decide_input *in,
                                 struct controller_decision *out, i32 broker_id)
{
    struct ctl c;
    ctl_init(&c, in, out);
    const struct metadata_broker *broker = metadata_broker_find(c.image, broker_id);
    if (broker == NULL) return KAFKA_ERROR_BROKER_ID_NOT_REGISTERED;
    c.leaving = broker_id;
    c.reserve = 1;
    ctl_settle_all(&c, CTL_ELECT_KEEP);
    c.reserve = 0;
    ctl_emit_broker_ref(&c, METADATA_UNREGISTER_BROKER, broker);
    return KAFKA_ERROR_NONE;
}

void controller_decide_expire(const struct controller_decide_input *in,
                              struct controller_decision *out, i32 broker_id)
{
    struct ctl c;
    ctl_init(&c, in, out);
    const struct metadata_broker *broker = metadata_broker_find(c.image, broker_id);
    if (broker == NULL || broker->fenced) return;
    ctl_fence(&c, broker);
}

void controller_decide_preferred(const struct controller_decide_input *in,
                                 struct controller_decision *out)
{
    struct ctl c;
    ctl_init(&c, in, out);
    ctl_settle_all(&c, CTL_ELECT_PREFERRED);
}

void controller_decide_settle(const struct controller_decide_input *in,
                              struct controller_decision *out)
{
    struct ctl c;
    ctl_init(&c, in, out);
    ctl_settle_all(&c, CTL_ELECT_KEEP);
}

/* ===== CreateTopics ===== */

static i16 ctl_create_configs(
    const struct kafka_create_topics_request_creatable_topic *topic,
    struct ctl_overrides *overrides, struct proto_string *message)
{
    overrides->count = 0;
    for (i32 i = 0; i < topic->Configs.count; i++) {
        const struct kafka_create_topics_request_creatable_topic_config *config =
            &topic->Configs.items[i];
        const struct ctl_config_info *info = ctl_config_find(config->Name);
        if (info == NULL) {
            *message = proto_string_of("not a topic config this cluster knows");
            return KAFKA_ERROR_INVALID_CONFIG;
        }
        if (config->Value.size < 0) continue; /* Null: the default. */
        char value[METADATA_CONFIG_VALUE_MAX];
        if (!ctl_config_value(info, config->Value, value, sizeof(value))) {
            *message = proto_string_of("invalid config value");
            return KAFKA_ERROR_INVALID_CONFIG;
        }
        if (!ctl_overrides_put(overrides, info->name, value)) {
            *message = proto_string_of("too many config overrides");
            return KAFKA_ERROR_INVALID_CONFIG;
        }
    }
    return KAFKA_ERROR_NONE;
}

static bool ctl_request_names_twice(const struct kafka_create_topics_request *request, i32 index)
{
    for (i32 j = 0; j < request->Topics.count; j++) {
        if (j != index && proto_string_equal(request->Topics.items[j].Name,
                                             request->Topics.items[index].Name)) {
            return true;
        }
    }
    return false;
}

static bool ctl_name_taken(const struct ctl *c, struct proto_string name, bool *collides)
{
    *collides = false;
    for (u32 i = 0; i < c->image->topic_count; i++) {
        const char *existing = c->image->topics[i].name;
        if (name_is(name, existing)) return true;
        *collides = *collides || ctl_names_collide(existing, name);
    }
    for (u32 i = 0; i < c->out->count; i++) {
        const struct metadata_record *record = &c->out->records[i];
        if (record->type != METADATA_TOPIC) continue;
        if (name_is(name, record->as.topic.name)) return true;
        *collides = *collides || ctl_names_collide(record->as.topic.name, name);
    }
    return false;
}

static u32 ctl_topics_created(const struct ctl *c)
{
    u32 count = 0;
    for (u32 i = 0; i < c->out->count; i++) count += c->out->records[i].type == METADATA_TOPIC;
    return count;
}

struct ctl_new_topic {
    struct metadata_ids assignment[METADATA_PARTITIONS_MAX];
    u32 partitions;
    u32 replication;
    struct ctl_overrides overrides;
    struct metadata_uuid id;
};

/* Validates one topic and works out its layout; KAFKA_ERROR_NONE when it can be created. */
static i16 ctl_create_check(struct ctl *c, const struct kafka_create_topics_request *request,
                            i32 index, struct ctl_new_topic *t, struct proto_string *message)
{
    const struct kafka_create_topics_request_creatable_topic *topic = &request->Topics.items[index];
    if (!controller_topic_name_valid(topic->Name)) {
        *message = proto_string_of("a topic name is 1 to 249 of [a-zA-Z0-9._-], not . or ..");
        return KAFKA_ERROR_INVALID_TOPIC_EXCEPTION;
    }
    if (ctl_request_names_twice(request, index)) {
        *message = proto_string_of("the request names this topic more than once");
        return KAFKA_ERROR_INVALID_REQUEST;
    }
    bool collides = false;
    if (ctl_name_taken(c, topic->Name, &collides)) {
        *message = proto_string_of("the topic already exists");
        return KAFKA_ERROR_TOPIC_ALREADY_EXISTS;
    }
    if (collides) {
        *message = proto_string_of("the name collides with a topic's ('.' and '_' are alike)");
        return KAFKA_ERROR_INVALID_TOPIC_EXCEPTION;
    }
    if (topic->Assignments.count > 0) {
        if (topic->NumPartitions != -1 || topic->ReplicationFactor != -1) {
            *message = proto_string_of("give either assignments or partitions and replicas");
            return KAFKA_ERROR_INVALID_REQUEST;
        }
        if ((u32)topic->Assignments.count > METADATA_PARTITIONS_MAX) {
            *message = proto_string_of("a topic has at most 64 partitions here");
            return KAFKA_ERROR_INVALID_PARTITIONS;
        }
        t->partitions = (u32)topic->Assignments.count;
        bool seen[METADATA_PARTITIONS_MAX] = {false};
        for (i32 i = 0; i < topic->Assignments.count; i++) {
            const struct kafka_create_topics_request_creatable_replica_assignment *a =
                &topic->Assignments.items[i];
            if (a->PartitionIndex < 0 || (u32)a->PartitionIndex >= t->partitions ||
                seen[a->PartitionIndex]) {
                *message = proto_string_of("partition indexes must be 0 to count-1, once each");
                return KAFKA_ERROR_INVALID_REPLICA_ASSIGNMENT;
            }
            seen[a->PartitionIndex] = true;
            i16 error = ctl_manual_assignment(c, a->BrokerIds.items, a->BrokerIds.count,
                                              &t->assignment[a->PartitionIndex], message);
            if (error != KAFKA_ERROR_NONE) return error;
        }
        t->replication = t->assignment[0].count;
    } else {
        i32 partitions = topic->NumPartitions == -1 ? (i32)c->in->config->num_partitions
                                                    : topic->NumPartitions;
        i32 replication = topic->ReplicationFactor == -1
                              ? (i32)c->in->config->default_replication_factor
                              : topic->ReplicationFactor;
        if (partitions < 1 || (u32)partitions > METADATA_PARTITIONS_MAX) {
            *message = proto_string_of("partitions must be 1 to 64");
            return KAFKA_ERROR_INVALID_PARTITIONS;
        }
        if (replication < 1 || (u32)replication > METADATA_REPLICAS_MAX) {
            *message = proto_string_of("replication factor must be 1 to 8");
            return KAFKA_ERROR_INVALID_REPLICATION_FACTOR;
        }
        t->partitions = (u32)partitions;
        t->replication = (u32)replication;
    }
    i16 error = ctl_create_configs(topic, &t->overrides, message);
    if (error != KAFKA_ERROR_NONE) return error;
    if (c->image->topic_count + ctl_topics_created(c) >= METADATA_TOPICS_MAX) {
        *message = proto_string_of("the cluster holds at most 64 topics");
        return KAFKA_ERROR_POLICY_VIOLATION;
    }
    t->id = ctl_topic_id(c, (u64)index);
    if (topic->Assignments.count <= 0 &&
        !controller_place(c->image, t->partitions, t->replication, ctl_start_of(&t->id),
                          t->assignment)) {
        *message = proto_string_of("fewer unfenced brokers than the replication factor");
        return KAFKA_ERROR_INVALID_REPLICATION_FACTOR;
    }
    if (!ctl_room(c, 1 + t->overrides.count + t->partitions)) {
        *message = proto_string_of("too many changes for one metadata entry; retry");
        return CTL_ERROR_NO_ROOM;
    }
    return KAFKA_ERROR_NONE;
}

static void ctl_create_emit(struct ctl *c, struct proto_string name,
                            const struct ctl_new_topic *t)
{
    struct metadata_topic_record *topic = &ctl_emit(c, METADATA_TOPIC)->as.topic;
    memcpy(topic->name, name.data, (u32)name.size);
    topic->topic_id = t->id;
    for (u32 i = 0; i < t->overrides.count; i++) {
        bool ok = ctl_emit_config(c, topic->name, t->overrides.items[i].name,
                                  t->overrides.items[i].value);
        ASSERT(ok); /* Room was checked for all of them. */
    }
    for (u32 p = 0; p < t->partitions; p++) ctl_emit_new_partition(c, &t->id, p, &t->assignment[p]);
}

bool controller_decide_create_topics(const struct controller_decide_input *in,
                                     struct controller_decision *out, i16 version,
                                     const struct kafka_create_topics_request *request,
                                     struct kafka_create_topics_response *response)
{
    struct ctl c;
    ctl_init(&c, in, out);
    kafka_create_topics_response_init(response);
    u32 count = (u32)MAX(request->Topics.count, 0);
    struct kafka_create_topics_response_creatable_topic_result *results =
        ctl_alloc(&c, count, sizeof(*results));
    struct ctl_new_topic layout;
    struct ctl_new_topic *t = &layout;
    if (results == NULL) return false;
    for (u32 i = 0; i < count; i++) {
        const struct kafka_create_topics_request_creatable_topic *topic = &request->Topics.items[i];
        struct kafka_create_topics_response_creatable_topic_result *result = &results[i];
        kafka_create_topics_response_creatable_topic_result_init(result);
        result->Name = topic->Name;
        memset(t, 0, sizeof(*t));
        struct proto_string message = PROTO_STRING_NULL;
        result->ErrorCode = ctl_create_check(&c, request, (i32)i, t, &message);
        if (version >= 1) result->ErrorMessage = message;
        if (result->ErrorCode != KAFKA_ERROR_NONE) continue;
        if (version >= 5) {
            result->NumPartitions = (i32)t->partitions;
            result->ReplicationFactor = (i16)t->replication;
            result->Configs.count = 0;
        }
        if (request->validateOnly) continue;
        ctl_create_emit(&c, topic->Name, t);
        if (version >= 7) result->TopicId = uuid_out(&t->id);
    }
    response->Topics.items = results;
    response->Topics.count = (i32)count;
    return !c.full;
}

/* ===== DeleteTopics ===== */

bool controller_decide_delete_topics(const struct controller_decide_input *in,
                                     struct controller_decision *out, i16 version,
                                     const struct kafka_delete_topics_request *request,
                                     struct kafka_delete_topics_response *response)
{
    struct ctl c;
    ctl_init(&c, in, out);
    kafka_delete_topics_response_init(response);
    bool by_state = version >= 6;
    u32 count = (u32)MAX(by_state ? request->Topics.count : request->TopicNames.count, 0);
    struct kafka_delete_topics_response_deletable_topic_result *results =
        ctl_alloc(&c, count, sizeof(*results));
    const struct metadata_topic **found = ctl_alloc(&c, count, sizeof(*found));
    if (results == NULL || found == NULL) return false;
    for (u32 i = 0; i < count; i++) {
        struct kafka_delete_topics_response_deletable_topic_result *result = &results[i];
        kafka_delete_topics_response_deletable_topic_result_init(result);
        struct proto_string name = by_state ? request->Topics.items[i].Name
                                            : request->TopicNames.items[i];
        result->Name = name;
        if (by_state) {
            const struct proto_uuid *id = &request->Topics.items[i].TopicId;
            bool has_id = !proto_uuid_is_zero(*id);
            if (has_id == (name.size >= 0)) {
                result->ErrorCode = KAFKA_ERROR_INVALID_REQUEST;
                result->ErrorMessage = proto_string_of("give a topic's name or its id");
                continue;
            }
            result->TopicId = *id;
            if (has_id) {
                struct metadata_uuid key;
                memcpy(key.bytes, id->bytes, 16);
                found[i] = metadata_topic_find_id(c.image, &key);
                if (found[i] == NULL) result->ErrorCode = KAFKA_ERROR_UNKNOWN_TOPIC_ID;
                continue;
            }
        }
        found[i] = ctl_topic(&c, name);
        if (found[i] == NULL) result->ErrorCode = KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    for (u32 i = 0; i < count; i++) {
        struct kafka_delete_topics_response_deletable_topic_result *result = &results[i];
        if (found[i] == NULL) continue;
        bool twice = false;
        for (u32 j = 0; j < count; j++) twice = twice || (j != i && found[j] == found[i]);
        if (twice) {
            result->ErrorCode = KAFKA_ERROR_INVALID_REQUEST;
            if (version >= 5) result->ErrorMessage = proto_string_of("named more than once");
            continue;
        }
        if (by_state) {
            result->Name = proto_string_of(found[i]->name);
            result->TopicId = uuid_out(&found[i]->id);
        }
        if (!ctl_room(&c, 1)) {
            result->ErrorCode = CTL_ERROR_NO_ROOM;
            continue;
        }
        ctl_emit(&c, METADATA_REMOVE_TOPIC)->as.remove_topic.topic_id = found[i]->id;
    }
    response->Responses.items = results;
    response->Responses.count = (i32)count;
    return !c.full;
}

/* ===== CreatePartitions ===== */

static i16 ctl_create_partitions_one(struct ctl *c,
                                     const struct kafka_create_partitions_request *request,
                                     u32 index, struct proto_string *message)
{
    const struct kafka_create_partitions_request_topic *asked = &request->Topics.items[index];
    for (i32 j = 0; j < request->Topics.count; j++) {
        if ((u32)j != index && proto_string_equal(request->Topics.items[j].Name, asked->Name)) {
            *message = proto_string_of("the request names this topic more than once");
            return KAFKA_ERROR_INVALID_REQUEST;
        }
    }
    const struct metadata_topic *topic = ctl_topic(c, asked->Name);
    if (topic == NULL) return KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
    u32 current = topic->partition_count;
    if (asked->Count < 0 || (u32)asked->Count <= current) {
        *message = proto_string_of((u32)MAX(asked->Count, 0) == current
                                       ? "the topic already has that many partitions"
                                       : "partitions can only be added");
        return KAFKA_ERROR_INVALID_PARTITIONS;
    }
    if ((u32)asked->Count > METADATA_PARTITIONS_MAX) {
        *message = proto_string_of("a topic has at most 64 partitions here");
        return KAFKA_ERROR_INVALID_PARTITIONS;
    }
    ASSERT(current > 0);
    u32 added = (u32)asked->Count - current;
    u32 replication = topic->partitions[0].replicas.count;
    struct metadata_ids assignment[METADATA_PARTITIONS_MAX];
    if (asked->Assignments.count >= 0) {
        if ((u32)asked->Assignments.count != added) {
            *message = proto_string_of("give one assignment per new partition");
            return KAFKA_ERROR_INVALID_REPLICA_ASSIGNMENT;
        }
        for (u32 i = 0; i < added; i++) {
            const struct kafka_create_partitions_request_assignment *a =
                &asked->Assignments.items[i];
            i16 error = ctl_manual_assignment(c, a->BrokerIds.items, a->BrokerIds.count,
                                              &assignment[i], message);
            if (error != KAFKA_ERROR_NONE) return error;
            if (assignment[i].count != replication) {
                *message = proto_string_of("the replication factor must stay the same");
                return KAFKA_ERROR_INVALID_REPLICA_ASSIGNMENT;
            }
        }
    } else if (!controller_place(c->image, added, replication,
                                 ctl_start_of(&topic->id) + current, assignment)) {
        *message = proto_string_of("fewer unfenced brokers than the replication factor");
        return KAFKA_ERROR_INVALID_REPLICATION_FACTOR;
    }
    if (!ctl_room(c, added)) {
        *message = proto_string_of("too many changes for one metadata entry; retry");
        return CTL_ERROR_NO_ROOM;
    }
    if (request->ValidateOnly) return KAFKA_ERROR_NONE;
    for (u32 i = 0; i < added; i++) {
        ctl_emit_new_partition(c, &topic->id, current + i, &assignment[i]);
    }
    return KAFKA_ERROR_NONE;
}

bool controller_decide_create_partitions(const struct controller_decide_input *in,
                                         struct controller_decision *out,
                                         const struct kafka_create_partitions_request *request,
                                         struct kafka_create_partitions_response *response)
{
    struct ctl c;
    ctl_init(&c, in, out);
    kafka_create_partitions_response_init(response);
    u32 count = (u32)MAX(request->Topics.count, 0);
    struct kafka_create_partitions_response_topic_result *results =
        ctl_alloc(&c, count, sizeof(*results));
    if (results == NULL) return false;
    for (u32 i = 0; i < count; i++) {
        kafka_create_partitions_response_topic_result_init(&results[i]);
        results[i].Name = request->Topics.items[i].Name;
        results[i].ErrorCode = ctl_create_partitions_one(&c, request, i, &results[i].ErrorMessage);
    }
    response->Results.items = results;
    response->Results.count = (i32)count;
    return !c.full;
}

/* ===== AlterPartition ===== */

static i16 ctl_alter_partition_one(struct ctl *c, i16 version, i32 broker_id,
                                   const struct metadata_topic *topic,
                                   const struct kafka_alter_partition_request_partition_data *asked,
                                   struct kafka_alter_partition_response_partition_data *result)
{
    if (asked->PartitionIndex < 0 || (u32)asked->PartitionIndex >= topic->partition_count) {
        return KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    u32 index = (u32)asked->PartitionIndex;
    const struct metadata_partition *p = &topic->partitions[index];
    if (asked->LeaderEpoch > p->leader_epoch) return KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER;
    if (asked->LeaderEpoch < p->leader_epoch) return KAFKA_ERROR_FENCED_LEADER_EPOCH;
    if (broker_id != p->leader) return KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER;
    if (asked->PartitionEpoch != p->partition_epoch) return KAFKA_ERROR_INVALID_UPDATE_VERSION;
    struct ctl_target t = ctl_target_of(p);
    t.isr.count = 0;
    i32 members = version >= 3 ? asked->NewIsrWithEpochs.count : asked->NewIsr.count;
    if (members <= 0 || (u32)members > METADATA_REPLICAS_MAX) return KAFKA_ERROR_INVALID_REQUEST;
    for (i32 i = 0; i < members; i++) {
        i32 id = version >= 3 ? asked->NewIsrWithEpochs.items[i].BrokerId : asked->NewIsr.items[i];
        if (metadata_ids_contains(&t.isr, id)) return KAFKA_ERROR_INVALID_REQUEST;
        if (!metadata_ids_contains(&p->replicas, id) || !ctl_eligible(c, id)) {
            return KAFKA_ERROR_INELIGIBLE_REPLICA;
        }
        if (version >= 3) {
            i64 epoch = asked->NewIsrWithEpochs.items[i].BrokerEpoch;
            if (epoch != -1 && epoch != metadata_broker_find(c->image, id)->epoch) {
                return KAFKA_ERROR_INELIGIBLE_REPLICA; /* A member from before its restart. */
            }
        }
        ids_add(&t.isr, id);
    }
    if (!metadata_ids_contains(&t.isr, broker_id)) return KAFKA_ERROR_INVALID_REQUEST;
    ctl_settle(c, topic, &t, CTL_ELECT_KEEP);
    enum ctl_change change = ctl_emit_change(c, topic, index, &t);
    if (change == CTL_NO_ROOM) return CTL_ERROR_NO_ROOM;
    bool changed = change == CTL_CHANGED;
    bool new_leader = t.leader != p->leader;
    bool full = false;
    result->LeaderId = t.leader;
    result->LeaderEpoch = p->leader_epoch + (new_leader ? 1 : 0);
    result->Isr.items = ids_to_array(c->in->arena, &t.isr, &full);
    result->Isr.count = (i32)t.isr.count;
    result->PartitionEpoch = p->partition_epoch + (changed ? 1 : 0);
    c->full = c->full || full;
    /* Completing a reassignment may move leadership away from the requester: it must learn
     * the new state before it tries again. */
    if (new_leader) return version > 1 ? KAFKA_ERROR_NEW_LEADER_ELECTED
                                       : KAFKA_ERROR_FENCED_LEADER_EPOCH;
    return KAFKA_ERROR_NONE;
}

bool controller_decide_alter_partition(const struct controller_decide_input *in,
                                       struct controller_decision *out, i16 version,
                                       const struct kafka_alter_partition_request *request,
                                       struct kafka_alter_partition_response *response)
{
    struct ctl c;
    ctl_init(&c, in, out);
    kafka_alter_partition_response_init(response);
    const struct metadata_broker *broker = metadata_broker_find(c.image, request->BrokerId);
    if (broker == NULL || broker->epoch != request->BrokerEpoch) {
        response->ErrorCode = KAFKA_ERROR_STALE_BROKER_EPOCH;
        return true;
    }
    u32 topics = (u32)MAX(request->Topics.count, 0);
    struct kafka_alter_partition_response_topic_data *results =
        ctl_alloc(&c, topics, sizeof(*results));
    if (results == NULL) return false;
    for (u32 i = 0; i < topics; i++) {
        const struct kafka_alter_partition_request_topic_data *asked = &request->Topics.items[i];
        struct kafka_alter_partition_response_topic_data *result = &results[i];
        kafka_alter_partition_response_topic_data_init(result);
        const struct metadata_topic *topic;
        if (version >= 2) {
            result->TopicId = asked->TopicId;
            struct metadata_uuid key;
            memcpy(key.bytes, asked->TopicId.bytes, 16);
            topic = metadata_topic_find_id(c.image, &key);
        } else {
            result->TopicName = asked->TopicName;
            topic = ctl_topic(&c, asked->TopicName);
        }
        u32 count = (u32)MAX(asked->Partitions.count, 0);
        struct kafka_alter_partition_response_partition_data *parts =
            ctl_alloc(&c, count, sizeof(*parts));
        if (parts == NULL) return false;
        for (u32 k = 0; k < count; k++) {
            kafka_alter_partition_response_partition_data_init(&parts[k]);
            parts[k].PartitionIndex = asked->Partitions.items[k].PartitionIndex;
            if (topic == NULL) {
                parts[k].ErrorCode = version >= 2 ? KAFKA_ERROR_UNKNOWN_TOPIC_ID
                                                  : KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            parts[k].ErrorCode = ctl_alter_partition_one(&c, version, request->BrokerId, topic,
                                                         &asked->Partitions.items[k], &parts[k]);
        }
        result->Partitions.items = parts;
        result->Partitions.count = (i32)count;
    }
    response->Topics.items = results;
    response->Topics.count = (i32)topics;
    return !c.full;
}

/* ===== ElectLeaders ===== */

static i16 ctl_elect_one(struct ctl *c, i8 type, const struct metadata_topic *topic, i32 index)
{
    if (topic == NULL || index < 0 || (u32)index >= topic->partition_count) {
        return KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    const struct metadata_partition *p = &topic->partitions[index];
    struct ctl_target t = ctl_target_of(p);
    if (type == CTL_ELECTION_PREFERRED) {
        i32 preferred = p->replicas.ids[0];
        if (p->leader == preferred) return KAFKA_ERROR_ELECTION_NOT_NEEDED;
        if (!ctl_eligible(c, preferred) || !metadata_ids_contains(&p->isr, preferred)) {
            return KAFKA_ERROR_PREFERRED_LEADER_NOT_AVAILABLE;
        }
        ctl_settle(c, topic, &t, CTL_ELECT_PREFERRED);
    } else {
        if (p->leader != METADATA_NO_LEADER) return KAFKA_ERROR_ELECTION_NOT_NEEDED;
        ctl_settle(c, topic, &t, CTL_ELECT_UNCLEAN);
        if (t.leader == METADATA_NO_LEADER) return KAFKA_ERROR_ELIGIBLE_LEADERS_NOT_AVAILABLE;
    }
    return ctl_emit_change(c, topic, (u32)index, &t) == CTL_NO_ROOM ? CTL_ERROR_NO_ROOM
                                                                    : KAFKA_ERROR_NONE;
}

static struct proto_string ctl_elect_message(i16 error)
{
    switch (error) {
    case KAFKA_ERROR_ELECTION_NOT_NEEDED: return proto_string_of("the leader is already there");
    case KAFKA_ERROR_PREFERRED_LEADER_NOT_AVAILABLE:
        return proto_string_of("the preferred replica is not live and in sync");
    case KAFKA_ERROR_ELIGIBLE_LEADERS_NOT_AVAILABLE:
        return proto_string_of("no replica is live");
    case KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION: return proto_string_of("no such partition");
    default: return PROTO_STRING_NULL;
    }
}

bool controller_decide_elect_leaders(const struct controller_decide_input *in,
                                     struct controller_decision *out, i16 version,
                                     const struct kafka_elect_leaders_request *request,
                                     struct kafka_elect_leaders_response *response)
{
    struct ctl c;
    ctl_init(&c, in, out);
    kafka_elect_leaders_response_init(response);
    i8 type = version >= 1 ? request->ElectionType : CTL_ELECTION_PREFERRED;
    if (type != CTL_ELECTION_PREFERRED && type != CTL_ELECTION_UNCLEAN) {
        response->ErrorCode = KAFKA_ERROR_INVALID_REQUEST;
        return true;
    }
    bool all = request->TopicPartitions.count < 0;
    u32 topics = all ? c.image->topic_count : (u32)request->TopicPartitions.count;
    struct kafka_elect_leaders_response_replica_election_result *results =
        ctl_alloc(&c, topics, sizeof(*results));
    if (results == NULL) return false;
    u32 filled = 0;
    for (u32 i = 0; i < topics; i++) {
        const struct metadata_topic *topic =
            all ? &c.image->topics[i] : ctl_topic(&c, request->TopicPartitions.items[i].Topic);
        u32 count = all ? topic->partition_count
                        : (u32)MAX(request->TopicPartitions.items[i].Partitions.count, 0);
        struct kafka_elect_leaders_response_partition_result *parts =
            ctl_alloc(&c, count, sizeof(*parts));
        if (parts == NULL) return false;
        u32 listed = 0;
        for (u32 k = 0; k < count; k++) {
            i32 index = all ? (i32)k : request->TopicPartitions.items[i].Partitions.items[k];
            i16 error = ctl_elect_one(&c, type, topic, index);
            /* Asked for everything: only the partitions an election concerned are listed. */
            if (all && error == KAFKA_ERROR_ELECTION_NOT_NEEDED) continue;
            kafka_elect_leaders_response_partition_result_init(&parts[listed]);
            parts[listed].PartitionId = index;
            parts[listed].ErrorCode = error;
            parts[listed].ErrorMessage = ctl_elect_message(error);
            listed++;
        }
        if (all && listed == 0) continue;
        struct kafka_elect_leaders_response_replica_election_result *result = &results[filled++];
        kafka_elect_leaders_response_replica_election_result_init(result);
        result->Topic = all ? proto_string_of(topic->name)
                            : request->TopicPartitions.items[i].Topic;
        result->PartitionResult.items = parts;
        result->PartitionResult.count = (i32)listed;
    }
    response->ReplicaElectionResults.items = results;
    response->ReplicaElectionResults.count = (i32)filled;
    return !c.full;
}

/* ===== IncrementalAlterConfigs (topics) ===== */

static i16 ctl_alter_config_one(
    const struct kafka_incremental_alter_configs_request_alterable_config *alter,
    struct ctl_overrides *o, struct proto_string *message)
{
    const struct ctl_config_info *info = ctl_config_find(alter->Name);
    if (info == NULL) {
        *message = proto_string_of("not a topic config this cluster knows");
        return KAFKA_ERROR_INVALID_CONFIG;
    }
    i32 at = ctl_overrides_find(o, info->name);
    i8 op = alter->ConfigOperation;
    if (op == CTL_OP_DELETE) {
        if (at >= 0) o->set[at] = false;
        return KAFKA_ERROR_NONE;
    }
    if (op != CTL_OP_SET && op != CTL_OP_APPEND && op != CTL_OP_SUBTRACT) {
        *message = proto_string_of("unknown operation");
        return KAFKA_ERROR_INVALID_REQUEST;
    }
    char value[METADATA_CONFIG_VALUE_MAX];
    if (!ctl_config_value(info, alter->Value, value, sizeof(value))) {
        *message = proto_string_of("invalid value");
        return KAFKA_ERROR_INVALID_CONFIG;
    }
    if (op != CTL_OP_SET) {
        if (info->type != CTL_CONFIG_LIST) {
            *message = proto_string_of("APPEND and SUBTRACT apply to list configs only");
            return KAFKA_ERROR_INVALID_CONFIG;
        }
        const char *now = at >= 0 && o->set[at] ? o->items[at].value : info->default_value;
        u32 current = ctl_policy_parse(now, (u32)strlen(now));
        u32 given = ctl_policy_parse(value, (u32)strlen(value));
        u32 bits = op == CTL_OP_APPEND ? (current | given) : (current & ~given);
        if (bits == 0) {
            *message = proto_string_of("cleanup.policy cannot be empty");
            return KAFKA_ERROR_INVALID_CONFIG;
        }
        ctl_policy_format(bits, value, sizeof(value));
    }
    if (!ctl_overrides_put(o, info->name, value)) {
        *message = proto_string_of("too many config overrides");
        return KAFKA_ERROR_INVALID_CONFIG;
    }
    return KAFKA_ERROR_NONE;
}

static i16 ctl_alter_resource(
    struct ctl *c, bool validate_only,
    const struct kafka_incremental_alter_configs_request *request, u32 index,
    struct proto_string *message)
{
    const struct kafka_incremental_alter_configs_request_alter_configs_resource *asked =
        &request->Resources.items[index];
    if (asked->ResourceType != CTL_RESOURCE_TOPIC) {
        *message = proto_string_of("only topic configs can be altered here");
        return KAFKA_ERROR_INVALID_REQUEST;
    }
    for (i32 j = 0; j < request->Resources.count; j++) {
        const struct kafka_incremental_alter_configs_request_alter_configs_resource *other =
            &request->Resources.items[j];
        if ((u32)j != index && other->ResourceType == asked->ResourceType &&
            proto_string_equal(other->ResourceName, asked->ResourceName)) {
            *message = proto_string_of("the request names this resource more than once");
            return KAFKA_ERROR_INVALID_REQUEST;
        }
    }
    const struct metadata_topic *topic = ctl_topic(c, asked->ResourceName);
    if (topic == NULL) return KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
    struct ctl_overrides o = {.count = topic->config_count};
    for (u32 i = 0; i < topic->config_count; i++) {
        o.items[i] = topic->configs[i];
        o.set[i] = true;
    }
    for (i32 i = 0; i < asked->Configs.count; i++) {
        i16 error = ctl_alter_config_one(&asked->Configs.items[i], &o, message);
        if (error != KAFKA_ERROR_NONE) return error; /* All of a resource's or none. */
    }
    u32 changes = 0;
    for (u32 i = 0; i < o.count; i++) {
        const char *before = metadata_topic_config(topic, o.items[i].name);
        changes += o.set[i] ? (before == NULL || strcmp(before, o.items[i].value) != 0)
                            : before != NULL;
    }
    if (!ctl_room(c, changes)) {
        *message = proto_string_of("too many changes for one metadata entry; retry");
        return CTL_ERROR_NO_ROOM;
    }
    if (validate_only) return KAFKA_ERROR_NONE;
    for (u32 i = 0; i < o.count; i++) {
        const char *before = metadata_topic_config(topic, o.items[i].name);
        if (o.set[i] && (before == NULL || strcmp(before, o.items[i].value) != 0)) {
            ctl_emit_config(c, topic->name, o.items[i].name, o.items[i].value);
        } else if (!o.set[i] && before != NULL) {
            ctl_emit_config(c, topic->name, o.items[i].name, NULL);
        }
    }
    return KAFKA_ERROR_NONE;
}

bool controller_decide_alter_configs(
    const struct controller_decide_input *in, struct controller_decision *out,
    const struct kafka_incremental_alter_configs_request *request,
    struct kafka_incremental_alter_configs_response *response)
{
    struct ctl c;
    ctl_init(&c, in, out);
    kafka_incremental_alter_configs_response_init(response);
    u32 count = (u32)MAX(request->Resources.count, 0);
    struct kafka_incremental_alter_configs_response_alter_configs_resource *results =
        ctl_alloc(&c, count, sizeof(*results));
    if (results == NULL) return false;
    for (u32 i = 0; i < count; i++) {
        struct kafka_incremental_alter_configs_response_alter_configs_resource *result =
            &results[i];
        kafka_incremental_alter_configs_response_alter_configs_resource_init(result);
        result->ResourceType = request->Resources.items[i].ResourceType;
        result->ResourceName = request->Resources.items[i].ResourceName;
        result->ErrorCode = ctl_alter_resource(&c, request->ValidateOnly, request, i,
                                               &result->ErrorMessage);
    }
    response->Responses.items = results;
    response->Responses.count = (i32)count;
    return !c.full;
}

/* ===== AlterPartitionReassignments, ListPartitionReassignments ===== */

static i16 ctl_reassign_one(
    struct ctl *c, const struct metadata_topic *topic,
    const struct kafka_alter_partition_reassignments_request_reassignable_partition *asked,
    struct proto_string *message)
{
    if (topic == NULL || asked->PartitionIndex < 0 ||
        (u32)asked->PartitionIndex >= topic->partition_count) {
        return KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    u32 index = (u32)asked->PartitionIndex;
    const struct metadata_partition *p = &topic->partitions[index];
    bool ongoing = p->adding.count > 0 || p->removing.count > 0;
    struct metadata_ids original = ids_minus(&p->replicas, &p->adding);
    struct ctl_target t = ctl_target_of(p);
    if (asked->Replicas.count < 0) {
        if (!ongoing) return KAFKA_ERROR_NO_REASSIGNMENT_IN_PROGRESS;
        /* Back to the original replicas; if only joining replicas were in sync, the first
         * original one that can lead takes over (unclean, as Kafka's reverter does). */
        t.replicas = original;
        t.isr = ids_minus(&p->isr, &p->adding);
        if (t.isr.count == 0) {
            i32 chosen = original.ids[0];
            for (u32 i = original.count; i > 0; i--) {
                if (ctl_eligible(c, original.ids[i - 1])) chosen = original.ids[i - 1];
            }
            ids_add(&t.isr, chosen);
        }
        t.adding.count = 0;
        t.removing.count = 0;
    } else {
        struct metadata_ids target;
        if (!ids_from_request(asked->Replicas.items, asked->Replicas.count, &target)) {
            *message = proto_string_of("a replica list must name 1 to 8 distinct brokers");
            return KAFKA_ERROR_INVALID_REPLICA_ASSIGNMENT;
        }
        for (u32 i = 0; i < target.count; i++) {
            if (metadata_broker_find(c->image, target.ids[i]) == NULL) {
                *message = proto_string_of("the target names a broker that is not registered");
                return KAFKA_ERROR_INVALID_REPLICA_ASSIGNMENT;
            }
        }
        /* KRaft's way: replicas = target + original-not-in-target, until the joining ones
         * are in sync. */
        struct metadata_ids leaving = ids_minus(&original, &target);
        if (target.count + leaving.count > METADATA_REPLICAS_MAX) {
            *message = proto_string_of("at most 8 replicas during a reassignment");
            return KAFKA_ERROR_INVALID_REPLICA_ASSIGNMENT;
        }
        t.replicas = target;
        for (u32 i = 0; i < leaving.count; i++) ids_add(&t.replicas, leaving.ids[i]);
        t.adding = ids_minus(&target, &original);
        t.removing = leaving;
        t.isr = ids_intersect(&p->isr, &t.replicas);
        if (t.isr.count == 0) {
            *message = proto_string_of("no in-sync replica would remain; cancel first");
            return KAFKA_ERROR_INVALID_REPLICA_ASSIGNMENT;
        }
    }
    ctl_settle(c, topic, &t, CTL_ELECT_KEEP);
    return ctl_emit_change(c, topic, index, &t) == CTL_NO_ROOM ? CTL_ERROR_NO_ROOM
                                                               : KAFKA_ERROR_NONE;
}

bool controller_decide_alter_reassignments(
    const struct controller_decide_input *in, struct controller_decision *out,
    const struct kafka_alter_partition_reassignments_request *request,
    struct kafka_alter_partition_reassignments_response *response)
{
    struct ctl c;
    ctl_init(&c, in, out);
    kafka_alter_partition_reassignments_response_init(response);
    u32 topics = (u32)MAX(request->Topics.count, 0);
    struct kafka_alter_partition_reassignments_response_reassignable_topic *results =
        ctl_alloc(&c, topics, sizeof(*results));
    if (results == NULL) return false;
    for (u32 i = 0; i < topics; i++) {
        const struct kafka_alter_partition_reassignments_request_reassignable_topic *asked =
            &request->Topics.items[i];
        const struct metadata_topic *topic = ctl_topic(&c, asked->Name);
        u32 count = (u32)MAX(asked->Partitions.count, 0);
        struct kafka_alter_partition_reassignments_response_reassignable_partition *parts =
            ctl_alloc(&c, count, sizeof(*parts));
        if (parts == NULL) return false;
        for (u32 k = 0; k < count; k++) {
            kafka_alter_partition_reassignments_response_reassignable_partition_init(&parts[k]);
            parts[k].PartitionIndex = asked->Partitions.items[k].PartitionIndex;
            parts[k].ErrorCode = ctl_reassign_one(&c, topic, &asked->Partitions.items[k],
                                                  &parts[k].ErrorMessage);
        }
        kafka_alter_partition_reassignments_response_reassignable_topic_init(&results[i]);
        results[i].Name = asked->Name;
        results[i].Partitions.items = parts;
        results[i].Partitions.count = (i32)count;
    }
    response->Responses.items = results;
    response->Responses.count = (i32)topics;
    return !c.full;
}

static bool ctl_list_partition(
    struct proto_arena *arena, const struct metadata_partition *p, i32 index,
    struct kafka_list_partition_reassignments_response_ongoing_partition_reassignment *out,
    bool *full)
{
    if (p->adding.count == 0 && p->removing.count == 0) return false;
    kafka_list_partition_reassignments_response_ongoing_partition_reassignment_init(out);
    out->PartitionIndex = index;
    out->Replicas.items = ids_to_array(arena, &p->replicas, full);
    out->Replicas.count = (i32)p->replicas.count;
    out->AddingReplicas.items = ids_to_array(arena, &p->adding, full);
    out->AddingReplicas.count = (i32)p->adding.count;
    out->RemovingReplicas.items = ids_to_array(arena, &p->removing, full);
    out->RemovingReplicas.count = (i32)p->removing.count;
    return true;
}

bool controller_decide_list_reassignments(
    const struct controller_decide_input *in,
    const struct kafka_list_partition_reassignments_request *request,
    struct kafka_list_partition_reassignments_response *response)
{
    struct metadata_record unused;
    struct controller_decision none;
    controller_decision_init(&none, &unused);
    struct ctl c;
    ctl_init(&c, in, &none);
    kafka_list_partition_reassignments_response_init(response);
    bool all = request->Topics.count < 0;
    u32 topics = all ? c.image->topic_count : (u32)request->Topics.count;
    struct kafka_list_partition_reassignments_response_ongoing_topic_reassignment *results =
        ctl_alloc(&c, topics, sizeof(*results));
    if (results == NULL) return false;
    u32 filled = 0;
    for (u32 i = 0; i < topics; i++) {
        const struct metadata_topic *topic =
            all ? &c.image->topics[i] : ctl_topic(&c, request->Topics.items[i].Name);
        if (topic == NULL) continue; /* Only ongoing reassignments are listed. */
        u32 count = all ? topic->partition_count
                        : (u32)MAX(request->Topics.items[i].PartitionIndexes.count, 0);
        struct kafka_list_partition_reassignments_response_ongoing_partition_reassignment
            *parts = ctl_alloc(&c, count, sizeof(*parts));
        if (parts == NULL) return false;
        u32 listed = 0;
        for (u32 k = 0; k < count; k++) {
            i32 index = all ? (i32)k : request->Topics.items[i].PartitionIndexes.items[k];
            if (index < 0 || (u32)index >= topic->partition_count) continue;
            listed += ctl_list_partition(in->arena, &topic->partitions[index], index,
                                         &parts[listed], &c.full);
        }
        if (listed == 0) continue;
        kafka_list_partition_reassignments_response_ongoing_topic_reassignment_init(
            &results[filled]);
        results[filled].Name = proto_string_of(topic->name);
        results[filled].Partitions.items = parts;
        results[filled].Partitions.count = (i32)listed;
        filled++;
    }
    response->Topics.items = results;
    response->Topics.count = (i32)filled;
    ASSERT(none.count == 0);
    return !c.full;
}

/* ===== Dispatch and error responses ===== */

bool controller_serves(i16 api_key)
{
    switch (api_key) {
    case KAFKA_API_BROKER_REGISTRATION:
    case KAFKA_API_BROKER_HEARTBEAT:
    case KAFKA_API_UNREGISTER_BROKER:
    case KAFKA_API_ALTER_PARTITION:
    case KAFKA_API_CREATE_TOPICS:
    case KAFKA_API_DELETE_TOPICS:
    case KAFKA_API_CREATE_PARTITIONS:
    case KAFKA_API_ELECT_LEADERS:
    case KAFKA_API_INCREMENTAL_ALTER_CONFIGS:
    case KAFKA_API_ALTER_PARTITION_REASSIGNMENTS:
    case KAFKA_API_LIST_PARTITION_REASSIGNMENTS:
    case KAFKA_API_ALLOCATE_PRODUCER_IDS: return true;
    default: return false;
    }
}

/* KRaft's ProducerIdControlManager: a registered broker of the current epoch gets the next
 * block of ids; the block is its own once the record that moves next_producer_id commits, so
 * ids never repeat, not even across a controller failover. As Kafka's checkBrokerEpoch, an
 * unregistered broker is a stale epoch too; a fenced one of the current epoch is served (it
 * may be catching up while its producers wait). */
static bool controller_decide_allocate_producer_ids(
    const struct controller_decide_input *in, struct controller_decision *out,
    const struct kafka_allocate_producer_ids_request *request,
    struct kafka_allocate_producer_ids_response *response)
{
    struct ctl c;
    ctl_init(&c, in, out);
    kafka_allocate_producer_ids_response_init(response);
    const struct metadata_broker *broker = metadata_broker_find(c.image, request->BrokerId);
    if (broker == NULL || broker->epoch != request->BrokerEpoch) {
        response->ErrorCode = KAFKA_ERROR_STALE_BROKER_EPOCH;
        return true;
    }
    i64 start = c.image->next_producer_id;
    if (start > INT64_MAX - CONTROLLER_PRODUCER_ID_BLOCK) {
        response->ErrorCode = KAFKA_ERROR_UNKNOWN_SERVER_ERROR;
        return true;
    }
    struct metadata_producer_ids *ids = &ctl_emit(&c, METADATA_PRODUCER_IDS)->as.producer_ids;
    *ids = (struct metadata_producer_ids){broker->id, broker->epoch,
                                          start + CONTROLLER_PRODUCER_ID_BLOCK};
    response->ProducerIdStart = start;
    response->ProducerIdLen = CONTROLLER_PRODUCER_ID_BLOCK;
    return true;
}

bool controller_decide_request(const struct controller_decide_input *in,
                               struct controller_decision *out, i16 api_key, i16 version,
                               const union kafka_request *request,
                               union kafka_response *response)
{
    switch (api_key) {
    case KAFKA_API_BROKER_REGISTRATION:
        return controller_decide_register(in, out, &request->BrokerRegistration,
                                          &response->BrokerRegistration);
    case KAFKA_API_BROKER_HEARTBEAT:
        return controller_decide_heartbeat(in, out, &request->BrokerHeartbeat,
                                           &response->BrokerHeartbeat);
    case KAFKA_API_ALTER_PARTITION:
        return controller_decide_alter_partition(in, out, version, &request->AlterPartition,
                                                 &response->AlterPartition);
    case KAFKA_API_CREATE_TOPICS:
        return controller_decide_create_topics(in, out, version, &request->CreateTopics,
                                               &response->CreateTopics);
    case KAFKA_API_DELETE_TOPICS:
        return controller_decide_delete_topics(in, out, version, &request->DeleteTopics,
                                               &response->DeleteTopics);
    case KAFKA_API_CREATE_PARTITIONS:
        return controller_decide_create_partitions(in, out, &request->CreatePartitions,
                                                   &response->CreatePartitions);
    case KAFKA_API_ELECT_LEADERS:
        return controller_decide_elect_leaders(in, out, version, &request->ElectLeaders,
                                               &response->ElectLeaders);
    case KAFKA_API_INCREMENTAL_ALTER_CONFIGS:
        return controller_decide_alter_configs(in, out, &request->IncrementalAlterConfigs,
                                               &response->IncrementalAlterConfigs);
    case KAFKA_API_ALTER_PARTITION_REASSIGNMENTS:
        return controller_decide_alter_reassignments(in, out,
                                                     &request->AlterPartitionReassignments,
                                                     &response->AlterPartitionReassignments);
    case KAFKA_API_LIST_PARTITION_REASSIGNMENTS:
        return controller_decide_list_reassignments(in, &request->ListPartitionReassignments,
                                                    &response->ListPartitionReassignments);
    case KAFKA_API_ALLOCATE_PRODUCER_IDS:
        return controller_decide_allocate_producer_ids(in, out, &request->AllocateProducerIds,
                                                       &response->AllocateProducerIds);
    default: ASSERT(!"an api key the controller does not decide"); return false;
    }
}

#define CTL_ALLOC(arena, count, type) ((type *)ctl_zeroed((arena), (count), sizeof(type)))

static void *ctl_zeroed(struct proto_arena *arena, i32 count, u64 size)
{
    void *memory = proto_arena_alloc(arena, (u64)MAX(count, 1) * size);
    if (memory != NULL) memset(memory, 0, (u64)MAX(count, 1) * size);
    return memory;
}

static bool ctl_error_elect(i16 version, const struct kafka_elect_leaders_request *request,
                            i16 error, struct proto_arena *arena,
                            struct kafka_elect_leaders_response *response)
{
    kafka_elect_leaders_response_init(response);
    if (version >= 1) response->ErrorCode = error;
    i32 topics = MAX(request->TopicPartitions.count, 0);
    struct kafka_elect_leaders_response_replica_election_result *results =
        CTL_ALLOC(arena, topics, struct kafka_elect_leaders_response_replica_election_result);
    if (results == NULL) return false;
    for (i32 i = 0; i < topics; i++) {
        const struct kafka_elect_leaders_request_topic_partitions *asked =
            &request->TopicPartitions.items[i];
        kafka_elect_leaders_response_replica_election_result_init(&results[i]);
        results[i].Topic = asked->Topic;
        i32 count = MAX(asked->Partitions.count, 0);
        struct kafka_elect_leaders_response_partition_result *parts =
            CTL_ALLOC(arena, count, struct kafka_elect_leaders_response_partition_result);
        if (parts == NULL) return false;
        for (i32 k = 0; k < count; k++) {
            kafka_elect_leaders_response_partition_result_init(&parts[k]);
            parts[k].PartitionId = asked->Partitions.items[k];
            parts[k].ErrorCode = error;
        }
        results[i].PartitionResult.items = parts;
        results[i].PartitionResult.count = count;
    }
    response->ReplicaElectionResults.items = results;
    response->ReplicaElectionResults.count = topics;
    return true;
}

static bool ctl_error_reassign(
    const struct kafka_alter_partition_reassignments_request *request, i16 error,
    struct proto_arena *arena, struct kafka_alter_partition_reassignments_response *response)
{
    kafka_alter_partition_reassignments_response_init(response);
    response->ErrorCode = error;
    i32 topics = MAX(request->Topics.count, 0);
    struct kafka_alter_partition_reassignments_response_reassignable_topic *results = CTL_ALLOC(
        arena, topics, struct kafka_alter_partition_reassignments_response_reassignable_topic);
    if (results == NULL) return false;
    for (i32 i = 0; i < topics; i++) {
        const struct kafka_alter_partition_reassignments_request_reassignable_topic *asked =
            &request->Topics.items[i];
        kafka_alter_partition_reassignments_response_reassignable_topic_init(&results[i]);
        results[i].Name = asked->Name;
        i32 count = MAX(asked->Partitions.count, 0);
        struct kafka_alter_partition_reassignments_response_reassignable_partition *parts =
            CTL_ALLOC(arena, count,
                      struct kafka_alter_partition_reassignments_response_reassignable_partition);
        if (parts == NULL) return false;
        for (i32 k = 0; k < count; k++) {
            kafka_alter_partition_reassignments_response_reassignable_partition_init(&parts[k]);
            parts[k].PartitionIndex = asked->Partitions.items[k].PartitionIndex;
            parts[k].ErrorCode = error;
        }
        results[i].Partitions.items = parts;
        results[i].Partitions.count = count;
    }
    response->Responses.items = results;
    response->Responses.count = topics;
    return true;
}

static bool ctl_error_create_topics(const struct kafka_create_topics_request *request,
                                    i16 error, struct proto_arena *arena,
                                    struct kafka_create_topics_response *response)
{
    kafka_create_topics_response_init(response);
    i32 count = MAX(request->Topics.count, 0);
    struct kafka_create_topics_response_creatable_topic_result *results =
        CTL_ALLOC(arena, count, struct kafka_create_topics_response_creatable_topic_result);
    if (results == NULL) return false;
    for (i32 i = 0; i < count; i++) {
        kafka_create_topics_response_creatable_topic_result_init(&results[i]);
        results[i].Name = request->Topics.items[i].Name;
        results[i].ErrorCode = error;
    }
    response->Topics.items = results;
    response->Topics.count = count;
    return true;
}

static bool ctl_error_delete_topics(i16 version, const struct kafka_delete_topics_request *request,
                                    i16 error, struct proto_arena *arena,
                                    struct kafka_delete_topics_response *response)
{
    kafka_delete_topics_response_init(response);
    i32 count = MAX(version >= 6 ? request->Topics.count : request->TopicNames.count, 0);
    struct kafka_delete_topics_response_deletable_topic_result *results =
        CTL_ALLOC(arena, count, struct kafka_delete_topics_response_deletable_topic_result);
    if (results == NULL) return false;
    for (i32 i = 0; i < count; i++) {
        kafka_delete_topics_response_deletable_topic_result_init(&results[i]);
        if (version >= 6) {
            results[i].Name = request->Topics.items[i].Name;
            results[i].TopicId = request->Topics.items[i].TopicId;
        } else {
            results[i].Name = request->TopicNames.items[i];
        }
        results[i].ErrorCode = error;
    }
    response->Responses.items = results;
    response->Responses.count = count;
    return true;
}

static bool ctl_error_create_partitions(const struct kafka_create_partitions_request *request,
                                        i16 error, struct proto_arena *arena,
                                        struct kafka_create_partitions_response *response)
{
    kafka_create_partitions_response_init(response);
    i32 count = MAX(request->Topics.count, 0);
    struct kafka_create_partitions_response_topic_result *results =
        CTL_ALLOC(arena, count, struct kafka_create_partitions_response_topic_result);
    if (results == NULL) return false;
    for (i32 i = 0; i < count; i++) {
        kafka_create_partitions_response_topic_result_init(&results[i]);
        results[i].Name = request->Topics.items[i].Name;
        results[i].ErrorCode = error;
    }
    response->Results.items = results;
    response->Results.count = count;
    return true;
}

static bool ctl_error_alter_configs(const struct kafka_incremental_alter_configs_request *request,
                                    i16 error, struct proto_arena *arena,
                                    struct kafka_incremental_alter_configs_response *response)
{
    kafka_incremental_alter_configs_response_init(response);
    i32 count = MAX(request->Resources.count, 0);
    struct kafka_incremental_alter_configs_response_alter_configs_resource *results = CTL_ALLOC(
        arena, count, struct kafka_incremental_alter_configs_response_alter_configs_resource);
    if (results == NULL) return false;
    for (i32 i = 0; i < count; i++) {
        kafka_incremental_alter_configs_response_alter_configs_resource_init(&results[i]);
        results[i].ResourceType = request->Resources.items[i].ResourceType;
        results[i].ResourceName = request->Resources.items[i].ResourceName;
        results[i].ErrorCode = error;
    }
    response->Responses.items = results;
    response->Responses.count = count;
    return true;
}

bool controller_error_response(i16 api_key, i16 version, const union kafka_request *request,
                               i16 error, struct proto_arena *arena,
                               union kafka_response *response)
{
    switch (api_key) {
    case KAFKA_API_BROKER_REGISTRATION:
        kafka_broker_registration_response_init(&response->BrokerRegistration);
        response->BrokerRegistration.ErrorCode = error;
        return true;
    case KAFKA_API_BROKER_HEARTBEAT:
        kafka_broker_heartbeat_response_init(&response->BrokerHeartbeat);
        response->BrokerHeartbeat.ErrorCode = error;
        return true;
    case KAFKA_API_ALTER_PARTITION:
        kafka_alter_partition_response_init(&response->AlterPartition);
        response->AlterPartition.ErrorCode = error;
        return true;
    case KAFKA_API_ALLOCATE_PRODUCER_IDS:
        kafka_allocate_producer_ids_response_init(&response->AllocateProducerIds);
        response->AllocateProducerIds.ErrorCode = error;
        return true;
    case KAFKA_API_LIST_PARTITION_REASSIGNMENTS:
        kafka_list_partition_reassignments_response_init(&response->ListPartitionReassignments);
        response->ListPartitionReassignments.ErrorCode = error;
        return true;
    case KAFKA_API_CREATE_TOPICS:
        return ctl_error_create_topics(&request->CreateTopics, error, arena,
                                       &response->CreateTopics);
    case KAFKA_API_DELETE_TOPICS:
        return ctl_error_delete_topics(version, &request->DeleteTopics, error, arena,
                                       &response->DeleteTopics);
    case KAFKA_API_CREATE_PARTITIONS:
        return ctl_error_create_partitions(&request->CreatePartitions, error, arena,
                                           &response->CreatePartitions);
    case KAFKA_API_ELECT_LEADERS:
        return ctl_error_elect(version, &request->ElectLeaders, error, arena,
                               &response->ElectLeaders);
    case KAFKA_API_INCREMENTAL_ALTER_CONFIGS:
        return ctl_error_alter_configs(&request->IncrementalAlterConfigs, error, arena,
                                       &response->IncrementalAlterConfigs);
    case KAFKA_API_ALTER_PARTITION_REASSIGNMENTS:
        return ctl_error_reassign(&request->AlterPartitionReassignments, error, arena,
                                  &response->AlterPartitionReassignments);
    default: ASSERT(!"an api key the controller does not answer"); return false;
    }
}
