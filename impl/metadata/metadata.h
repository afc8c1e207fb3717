/* metadata.h: the cluster metadata as records, and the image they build.
 *
 * The active controller decides; a decision is a short list of metadata records appended to
 * the metadata log as ONE quorum entry (so a topic and its partitions appear together or not at
 * all). Every node applies committed entries, in offset order, to its metadata image: brokers
 * (registration, rack, endpoint, fenced, in controlled shutdown), topics (name, id, configs)
 * and partitions (replicas, ISR, leader, leader epoch, partition epoch, reassignment). The image
 * is what Metadata answers, what a broker hosts and leads, and what the controller decides
 * from. The records and their type numbers follow Kafka's KRaft metadata records
 * (RegisterBrokerRecord = 0, ...); the byte encoding of an entry is ours (the records never
 * leave the cluster).
 *
 * An entry's payload starts with METADATA_ENTRY_MAGIC; the quorum log may also hold payloads
 * that are not metadata (the quorum-append test workload's), which metadata_decode reports as
 * METADATA_FOREIGN and every node skips alike.
 *
 * Determinism: every array in the image is kept in a defined order (brokers by id, topics by
 * name, partitions by index, replicas in assignment order) and nothing depends on addresses.
 *
 * May depend on: base.h. */
#ifndef METADATA_H
#define METADATA_H

#include "../base.h"

#define METADATA_ENTRY_MAGIC 0xCAu
#define METADATA_ENTRY_VERSION 1u
#define METADATA_SNAPSHOT_VERSION 0x81u     /* Byte 1 of a snapshot: never a valid entry. */
#define METADATA_ENTRY_RECORDS_MAX 512u     /* Records in one entry. */
#define METADATA_ENTRY_SIZE_MAX (256u * 1024u)
#define METADATA_BROKERS_MAX 128u
#define METADATA_TOPICS_MAX 64u
#define METADATA_PARTITIONS_MAX 64u         /* Per topic. */
#define METADATA_REPLICAS_MAX 8u
#define METADATA_TOPIC_NAME_MAX 249u        /* Kafka's limit. */
#define METADATA_RACK_MAX 64u
#define METADATA_HOST_MAX 128u
#define METADATA_CONFIGS_MAX 16u            /* Overrides per topic. */
#define METADATA_CONFIG_NAME_MAX 64u
#define METADATA_CONFIG_VALUE_MAX 128u
#define METADATA_BROKER_CONFIGS_MAX 32u     /* Broker-resource overrides, all brokers. */
#define METADATA_BROKER_RESOURCE_MAX 12u    /* "" (cluster default) or a broker id. */
#define METADATA_NO_LEADER (-1)
#define METADATA_LEADER_UNCHANGED (-2)      /* PartitionChangeRecord: leader left as it is. */

/* Kafka's metadata record type numbers. */
enum metadata_record_type {
    METADATA_REGISTER_BROKER = 0,
    METADATA_UNREGISTER_BROKER = 1,
    METADATA_TOPIC = 2,
    METADATA_PARTITION = 3,
    METADATA_CONFIG = 4,
    METADATA_PARTITION_CHANGE = 5,
    METADATA_FENCE_BROKER = 7,
    METADATA_UNFENCE_BROKER = 8,
    METADATA_REMOVE_TOPIC = 9,
    METADATA_PRODUCER_IDS = 15,
    METADATA_BROKER_REGISTRATION_CHANGE = 17,
    METADATA_NO_OP = 20,
};

struct metadata_uuid {
    u8 bytes[16];
};

/* A list of broker ids (replicas, ISR, adding, removing), in the order it was given. */
struct metadata_ids {
    i32 ids[METADATA_REPLICAS_MAX];
    u32 count;
};

struct metadata_register_broker {
    i32 broker_id;
    i64 broker_epoch; /* Ignored by apply: a broker's epoch is the offset of this entry. */
    struct metadata_uuid incarnation_id;
    char rack[METADATA_RACK_MAX];            /* "" when broker.rack is unset. */
    char host[METADATA_HOST_MAX];            /* Its advertised client listener. */
    i32 port;
    bool fenced;                             /* Registered brokers start fenced. */
    bool in_controlled_shutdown;
};

struct metadata_broker_ref {                 /* Unregister, fence, unfence. */
    i32 broker_id;
    i64 broker_epoch;
};

struct metadata_broker_registration_change {
    i32 broker_id;
    i64 broker_epoch;
    i8 fenced;                               /* -1 unchanged, 0 unfenced, 1 fenced. */
    i8 in_controlled_shutdown;               /* -1 unchanged, 0 no, 1 yes. */
};

struct metadata_topic_record {
    char name[METADATA_TOPIC_NAME_MAX + 1];
    struct metadata_uuid topic_id;
};

struct metadata_partition_record {
    struct metadata_uuid topic_id;
    i32 partition_id;
    struct metadata_ids replicas;
    struct metadata_ids isr;
    struct metadata_ids removing;            /* Reassignment: replicas leaving. */
    struct metadata_ids adding;              /* Reassignment: replicas joining. */
    i32 leader;
    i32 leader_epoch;
    i32 partition_epoch;
};

/* Applying a change bumps partition_epoch; it bumps leader_epoch when the leader changes (a
 * leader given equal to the current one is a change too: Kafka re-elects to fence). */
struct metadata_partition_change {
    struct metadata_uuid topic_id;
    i32 partition_id;
    i32 leader;                              /* METADATA_LEADER_UNCHANGED, NO_LEADER or an id */
    bool isr_set;      struct metadata_ids isr;
    bool replicas_set; struct metadata_ids replicas;
    bool removing_set; struct metadata_ids removing;
    bool adding_set;   struct metadata_ids adding;
};

struct metadata_remove_topic {
    struct metadata_uuid topic_id;
};

enum metadata_config_resource { METADATA_RESOURCE_TOPIC = 2, METADATA_RESOURCE_BROKER = 4 };

struct metadata_config_record {
    i8 resource_type;                        /* enum metadata_config_resource */
    char resource_name[METADATA_TOPIC_NAME_MAX + 1];
    char name[METADATA_CONFIG_NAME_MAX];
    bool value_null;                         /* true: the override is deleted. */
    char value[METADATA_CONFIG_VALUE_MAX];
};

struct metadata_producer_ids {
    i32 broker_id;
    i64 broker_epoch;
    i64 next_producer_id;                    /* The first id not yet handed out. */
};

struct metadata_record {
    enum metadata_record_type type;
    union {
        struct metadata_register_broker register_broker;
        struct metadata_broker_ref unregister_broker;
        struct metadata_broker_ref fence_broker;
        struct metadata_broker_ref unfence_broker;
        struct metadata_broker_registration_change registration_change;
        struct metadata_topic_record topic;
        struct metadata_partition_record partition;
        struct metadata_partition_change partition_change;
        struct metadata_remove_topic remove_topic;
        struct metadata_config_record config;
        struct metadata_producer_ids producer_ids;
    } as;
};

/* ===== Entries: encode and decode ===== */

/* Encodes count records into buffer as one entry. Returns the size, or 0 if capacity is too
 * small or a record is invalid (ASSERTs on programming errors such as a count over the max). */
u32 metadata_encode(const struct metadata_record *records, u32 count, u8 *buffer, u32 capacity);

enum metadata_decode_result {
    METADATA_DECODED,
    METADATA_FOREIGN,   /* Not a metadata entry (no magic): skip it. */
    METADATA_MALFORMED, /* Starts like one but is damaged or too large: a bug or corruption. */
};
/* Decodes an entry into records[0..*count). Never reads outside payload[0..size). */
enum metadata_decode_result metadata_decode(const u8 *payload, u32 size,
                                            struct metadata_record *records, u32 capacity,
                                            u32 *count);

/* ===== The image ===== */

struct metadata_broker {
    i32 id;
    i64 epoch;
    struct metadata_uuid incarnation_id;
    char rack[METADATA_RACK_MAX];
    char host[METADATA_HOST_MAX];
    i32 port;
    bool fenced;
    bool in_controlled_shutdown;
};

struct metadata_partition {
    struct metadata_ids replicas;
    struct metadata_ids isr;
    struct metadata_ids removing;
    struct metadata_ids adding;
    i32 leader;
    i32 leader_epoch;
    i32 partition_epoch;
};

struct metadata_config {
    char name[METADATA_CONFIG_NAME_MAX];
    char value[METADATA_CONFIG_VALUE_MAX];
};

struct metadata_topic {
    char name[METADATA_TOPIC_NAME_MAX + 1];
    struct metadata_uuid id;
    u32 partition_count;
    struct metadata_partition *partitions;  /* METADATA_PARTITIONS_MAX, allocated with the
                                              * topic slot by metadata_image_init. */
    struct metadata_config configs[METADATA_CONFIGS_MAX]; /* Sorted by name. */
    u32 config_count;
};

/* A broker-resource config override: resource_name "" is the cluster-wide default, else the
 * decimal id of one broker (as Kafka's ConfigRecord names it). */
struct metadata_broker_config {
    char resource_name[METADATA_BROKER_RESOURCE_MAX];
    struct metadata_config config;
};

struct metadata_image {
    struct metadata_broker brokers[METADATA_BROKERS_MAX]; /* Sorted by id. */
    u32 broker_count;
    struct metadata_topic topics[METADATA_TOPICS_MAX];    /* Sorted by name. */
    u32 topic_count;
    /* Sorted by (resource_name, name). */
    struct metadata_broker_config broker_configs[METADATA_BROKER_CONFIGS_MAX];
    u32 broker_config_count;
    i64 next_producer_id;
    i64 applied_offset;  /* The last entry applied (-1: none). */
    u64 digest;          /* Order-sensitive digest of every applied record (for checkers). */
};

/* Allocates the partition arrays; the image starts empty (applied_offset -1). */
WARN_UNUSED bool metadata_image_init(struct metadata_image *image);
void metadata_image_free(struct metadata_image *image);
void metadata_image_clear(struct metadata_image *image); /* Empty, keeping the memory. */

/* Applies one record of the entry at offset. Returns false (and leaves the image as it was)
 * when the record does not fit the image: an unknown topic id, a partition beyond the count, a
 * stale broker epoch, a table full. Every node rejects the same records, so images stay equal;
 * the controller never proposes such records (a test asserts that). */
bool metadata_image_apply(struct metadata_image *image, i64 offset,
                          const struct metadata_record *record);
/* Marks the entry at offset applied (after its records); offsets only grow. */
void metadata_image_applied(struct metadata_image *image, i64 offset);
/* ASSERTs every invariant of the whole image (apply checks only what a record touched). */
void metadata_image_check(const struct metadata_image *image);

/* Lookups: NULL / -1 when absent. */
const struct metadata_broker *metadata_broker_find(const struct metadata_image *image, i32 id);
const struct metadata_topic *metadata_topic_find(const struct metadata_image *image,
                                                 const char *name, u32 name_size);
const struct metadata_topic *metadata_topic_find_id(const struct metadata_image *image,
                                                    const struct metadata_uuid *id);
const char *metadata_topic_config(const struct metadata_topic *topic, const char *name);
/* A broker-resource override: resource_name "" for the cluster default or a broker id. */
const char *metadata_broker_config(const struct metadata_image *image, const char *resource_name,
                                   const char *name);
bool metadata_ids_contains(const struct metadata_ids *ids, i32 id);

/* ===== Snapshots ===== */

/* The image as a byte string (records that rebuild it, plus applied_offset and digest).
 * Returns the size, or 0 if capacity is too small. metadata_image_snapshot_size gives an upper
 * bound. */
u32 metadata_image_snapshot_size(const struct metadata_image *image);
u32 metadata_image_save(const struct metadata_image *image, u8 *buffer, u32 capacity);
/* Replaces the image with a snapshot's. Returns false on malformed bytes (image cleared). */
WARN_UNUSED bool metadata_image_load(struct metadata_image *image, const u8 *data, u32 size);

#endif
