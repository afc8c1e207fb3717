/* make_seed_corpus.c: writes the fuzz seed corpora. REQUESTS (tests/fuzz/corpus/): for every
 * generated request at its lowest and highest version, a request header plus a body filled by
 * the generated test fillers, plus the ApiVersions v3 request librdkafka sends. RESPONSES
 * (tests/fuzz/corpus_responses/): api key, version, then a filled response body. Deterministic:
 * running it again rewrites the same files. Test tooling, so it may write files.
 *
 * Usage (see run_fuzz.sh --seed-corpus): make_seed_corpus REQUESTS RESPONSES */
#include <stdio.h>
#include <stdlib.h>

#include "../../impl/protocol/header.h"
#include "../unit/test_protocol_fill.h"
#include "../unit/test_protocol_generated.h"

static u8 fill_memory[1 << 20];
static u8 frame[1 << 20];

static int write_seed(const char *directory, const char *name, i16 version, const u8 *bytes,
                      u32 size)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s-v%d", directory, name, version);
    FILE *file = fopen(path, "wb");
    if (file == NULL) return 1;
    size_t written = fwrite(bytes, 1, size, file);
    return fclose(file) != 0 || written != size;
}

/* Writes one seed: a request frame (header + body) or a response (key, version, body). */
static int write_message(const char *directory, const struct test_message *m, i16 version)
{
    void *message = calloc(1, m->size);
    if (message == NULL) return 1;
    struct test_fill fill;
    test_fill_init(&fill, (u64)m->api_key * 100 + (u64)version, fill_memory,
                   sizeof(fill_memory));
    m->fill(&fill, version, message);
    struct proto_writer writer;
    proto_writer_init(&writer, frame, sizeof(frame));
    int failed = 0;
    if (m->is_request) {
        struct proto_request_header header = {m->api_key, version, 1, proto_string_of("seed"),
                                              0};
        failed = proto_request_header_encode(&writer, &header) != PROTO_OK;
    } else {
        proto_write_i16(&writer, m->api_key);
        proto_write_i16(&writer, version);
    }
    failed = failed || m->encode(&writer, version, message) != PROTO_OK;
    free(message);
    if (failed) return 1;
    return write_seed(directory, m->name, version, frame, writer.position);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: make_seed_corpus REQUESTS_DIRECTORY RESPONSES_DIRECTORY\n");
        return 2;
    }
    int failures = 0;
    for (u32 i = 0; i < ARRAY_LEN(test_messages); i++) {
        const struct test_message *m = &test_messages[i];
        if (m->api_key < 0) continue;
        const char *directory = m->is_request ? argv[1] : argv[2];
        failures += write_message(directory, m, m->version_min);
        if (m->version_max != m->version_min) {
            failures += write_message(directory, m, m->version_max);
        }
    }
    static const u8 librdkafka[] = {
        0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x07, 'r', 'd', 'k', 'a', 'f',
        'k', 'a', 0x00, 0x0B, 'l', 'i', 'b', 'r', 'd', 'k', 'a', 'f', 'k', 'a', 0x06, '2', '.',
        '0', '.', '2', 0x00};
    failures += write_seed(argv[1], "librdkafka-ApiVersionsRequest", 3, librdkafka,
                           sizeof(librdkafka));
    return failures == 0 ? 0 : 1;
}
