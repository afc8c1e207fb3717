/* make_metadata_corpus.c: writes the seed corpus of fuzz_metadata_decode: one entry per record
 * type aimed at the fuzz target's base image (brokers 1..3 at epochs 0..2, topics "a" and "b"
 * whose uuids are all 1s and all 2s), one entry with every type, a foreign payload and a
 * snapshot. Run by tests/fuzz/run_fuzz.sh --seed-corpus. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../impl/metadata/metadata.h"

static const char *directory;
static u32 written;

static void write_file(const char *name, const u8 *bytes, u32 size)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", directory, name);
    FILE *file = fopen(path, "wb");
    if (file == NULL || fwrite(bytes, 1, size, file) != size || fclose(file) != 0) {
        fprintf(stderr, "make_metadata_corpus: cannot write %s\n", path);
        exit(1);
    }
    written++;
}

static u32 seeds(struct metadata_record *r)
{
    u32 n = 0;
    memset(r, 0, 16 * sizeof(*r));
    r[n].type = METADATA_REGISTER_BROKER;
    r[n].as.register_broker.broker_id = 4;
    snprintf(r[n].as.register_broker.rack, METADATA_RACK_MAX, "r1");
    snprintf(r[n].as.register_broker.host, METADATA_HOST_MAX, "h4");
    r[n++].as.register_broker.port = 9092;
    r[n].type = METADATA_UNREGISTER_BROKER;
    r[n++].as.unregister_broker = (struct metadata_broker_ref){3, 2};
    r[n].type = METADATA_FENCE_BROKER;
    r[n++].as.fence_broker = (struct metadata_broker_ref){1, 0};
    r[n].type = METADATA_UNFENCE_BROKER;
    r[n++].as.unfence_broker = (struct metadata_broker_ref){2, 1};
    r[n].type = METADATA_BROKER_REGISTRATION_CHANGE;
    r[n++].as.registration_change = (struct metadata_broker_registration_change){1, 0, 0, 1};
    r[n].type = METADATA_TOPIC;
    snprintf(r[n].as.topic.name, sizeof(r[n].as.topic.name), "c");
    memset(r[n++].as.topic.topic_id.bytes, 3, 16);
    r[n].type = METADATA_PARTITION;
    memset(r[n].as.partition.topic_id.bytes, 1, 16);
    r[n].as.partition.partition_id = 3;
    r[n].as.partition.replicas = (struct metadata_ids){{3, 1}, 2};
    r[n].as.partition.isr = (struct metadata_ids){{3}, 1};
    r[n++].as.partition.leader = 3;
    r[n].type = METADATA_PARTITION_CHANGE;
    memset(r[n].as.partition_change.topic_id.bytes, 2, 16);
    r[n].as.partition_change.partition_id = 1;
    r[n].as.partition_change.leader = 3;
    r[n].as.partition_change.isr_set = true;
    r[n++].as.partition_change.isr = (struct metadata_ids){{3, 2}, 2};
    r[n].type = METADATA_REMOVE_TOPIC;
    memset(r[n++].as.remove_topic.topic_id.bytes, 2, 16);
    r[n].type = METADATA_CONFIG;
    r[n].as.config.resource_type = METADATA_RESOURCE_TOPIC;
    snprintf(r[n].as.config.resource_name, sizeof(r[n].as.config.resource_name), "a");
    snprintf(r[n].as.config.name, sizeof(r[n].as.config.name), "cleanup.policy");
    snprintf(r[n].as.config.value, sizeof(r[n].as.config.value), "compact");
    n++;
    r[n].type = METADATA_CONFIG;
    r[n].as.config.resource_type = METADATA_RESOURCE_BROKER;
    snprintf(r[n].as.config.resource_name, sizeof(r[n].as.config.resource_name), "2");
    snprintf(r[n].as.config.name, sizeof(r[n].as.config.name), "retention.ms");
    r[n++].as.config.value_null = true;
    r[n].type = METADATA_PRODUCER_IDS;
    r[n++].as.producer_ids = (struct metadata_producer_ids){1, 0, 1000};
    r[n++].type = METADATA_NO_OP;
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_metadata_corpus DIRECTORY\n");
        return 2;
    }
    directory = argv[1];
    static struct metadata_record records[16];
    static u8 buffer[1u << 20];
    u32 count = seeds(records);
    char name[64];
    for (u32 i = 0; i < count; i++) {
        u32 size = metadata_encode(&records[i], 1, buffer, sizeof(buffer));
        if (size == 0) return 1;
        snprintf(name, sizeof(name), "entry-%02u-type-%02d", i, (int)records[i].type);
        write_file(name, buffer, size);
    }
    u32 size = metadata_encode(records, count, buffer, sizeof(buffer));
    if (size == 0) return 1;
    write_file("entry-every-type", buffer, size);
    write_file("foreign", (const u8 *)"append 17", 9);

    static struct metadata_image image;
    if (!metadata_image_init(&image)) return 1;
    for (u32 i = 0; i < count; i++) {
        if (records[i].type == METADATA_REMOVE_TOPIC) continue;
        (void)metadata_image_apply(&image, 10 + (i64)i, &records[i]);
    }
    /* Topic "c" (uuid all 3s) gets a partition, so the snapshot holds one. */
    struct metadata_record partition = records[6];
    memset(partition.as.partition.topic_id.bytes, 3, 16);
    partition.as.partition.partition_id = 0;
    if (!metadata_image_apply(&image, 10 + (i64)count, &partition)) return 1;
    metadata_image_applied(&image, 10 + (i64)count);
    if (image.topic_count != 1 || image.broker_count != 1) return 1;
    size = metadata_image_save(&image, buffer, sizeof(buffer));
    if (size == 0) return 1;
    write_file("snapshot", buffer, size);
    metadata_image_free(&image);
    printf("seed corpus: %u metadata inputs\n", written);
    return 0;
}
